/* fuzz_lang_bytecode: ir_decode, the parser of the contract bytecode that
 * every node runs on every deploy transaction (vm/lang/bytecode.c,
 * docs/contract-language.md §6).
 *
 * Input: the bytes of one bytecode. Seeds in corpus/fuzz_lang_bytecode are
 * valid encodings (a small contract, every op, arrays, int64-edge ranges).
 * Checks: no crash or leak (sanitizers); a refused input reports a
 * contract-language error with a sentence and leaves the circuit freed; an
 * accepted input is canonical (re-encoding gives exactly the input bytes,
 * and ir_finish changes nothing), and it evaluates, with every input at
 * the in-range value nearest 0, and analyses (depth, stats, flows) without
 * a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t near_zero(int64_t lo, int64_t hi) { return lo > 0 ? lo : hi < 0 ? hi : 0; }

static void same_bytes(const ir_circuit *c, const uint8_t *data, size_t size) {
  uint8_t *out;
  size_t n;
  if (ir_encode(c, &out, &n) != CX_OK) abort();
  if (n != size || memcmp(out, data, size) != 0) abort();
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ir_circuit c;
  char err[256] = "";
  cx_err e = ir_decode(data, size, &c, err, sizeof err);
  if (e != CX_OK) {
    if (e != CX_E_LANG_BYTECODE && e != CX_E_LANG_RANGE && e != CX_E_LANG_LIMIT && e != CX_E_NOMEM) abort();
    if (!err[0]) abort();
    if (c.nodes || c.ports || c.nnodes || c.nports) abort(); /* freed on error */
    return 0;
  }
  if (c.ht) abort();
  same_bytes(&c, data, size);

  int64_t *in = calloc(c.n_input + 1, sizeof *in), *param = calloc(c.n_param + 1, sizeof *param);
  int64_t *arg = calloc(c.n_arg + 1, sizeof *arg), *out = calloc(c.n_output + 1, sizeof *out);
  uint32_t *depth = malloc((c.nnodes + 1) * sizeof *depth);
  if (!in || !param || !arg || !out || !depth) abort();
  for (size_t i = 0; i < c.nports; i++) {
    const ir_port *p = &c.ports[i];
    int64_t *v = p->kind == IR_PORT_INPUT ? in : p->kind == IR_PORT_PARAM ? param
               : p->kind == IR_PORT_ARG   ? arg : NULL;
    if (!v) continue;
    for (uint32_t k = 0; k < ir_port_elems(p); k++) v[p->first + k] = near_zero(p->lo, p->hi);
  }
  if (ir_eval(&c, in, param, arg, out) != CX_OK) abort();
  uint32_t layers = ir_depth(&c, depth);
  ir_stats st;
  ir_stats_get(&c, &st);
  if (st.layers != layers || st.nodes != c.nnodes) abort();
  uint64_t mask[IR_MAX_PORTS / 64];
  for (size_t i = 0; i < c.nports; i++)
    if (c.ports[i].kind == IR_PORT_OUT_PUBLIC || c.ports[i].kind == IR_PORT_OUT_PRIVATE)
      ir_flows(&c, i, mask);

  /* A decoded circuit is already canonical: finishing it is a no-op. */
  if (ir_finish(&c) != CX_OK) abort();
  same_bytes(&c, data, size);

  free(in);
  free(param);
  free(arg);
  free(out);
  free(depth);
  ir_free(&c);
  return 0;
}
