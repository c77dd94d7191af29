/* fuzz_lang_compile: lang_compile, the compiler every node runs on the
 * source of every contract_deploy transaction (docs/contract-language.md).
 *
 * Input: the bytes of a contract source. Seeds in corpus/fuzz_lang_compile
 * are the samples of configs/contracts and one contract using every
 * construct.
 * Checks: no crash, leak or hang (sanitizers, the replay's time limit); a
 * refusal is a language error (lang_syntax .. lang_limit) or out of memory,
 * with a one-line message and nothing allocated; an accepted source gives
 * bytecode that decodes to the same id, and on all-lo inputs the reference
 * interpreter, the circuit and the decoded circuit give equal outputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lang_contract *c = (lang_contract *)&c; /* must come back NULL on error */
  lang_diag d;
  cx_err e = lang_compile((const char *)data, size, &c, &d);
  if (e != CX_OK) {
    if (c != NULL) abort();
    if (!((e >= CX_E_LANG_SYNTAX && e <= CX_E_LANG_LIMIT) || e == CX_E_NOMEM)) abort();
    if (d.code != e || !memchr(d.msg, 0, sizeof d.msg) || !d.msg[0] || strchr(d.msg, '\n')) abort();
    if (d.line == 0 && d.col != 0) abort();
    return 0;
  }

  size_t bl;
  const uint8_t *bc = lang_bytecode(c, &bl);
  lang_contract *dc;
  char err[256];
  if (lang_decode(bc, bl, &dc, err, sizeof err) != CX_OK) abort();
  cx_hash h1, h2;
  lang_id(c, &h1);
  lang_id(dc, &h2);
  if (!hash_eq(&h1, &h2)) abort();

  lang_values *v = lang_values_new(c), *w = lang_values_new(dc);
  if (!v || !w) abort();
  for (size_t i = 0; i < lang_nports(c); i++) {
    lang_port p;
    lang_port_get(c, i, &p);
    if (p.kind > LANG_ARG) continue;
    uint32_t n = p.len ? p.len : 1;
    int64_t *vals = malloc(n * sizeof *vals);
    if (!vals) abort();
    for (uint32_t k = 0; k < n; k++) vals[k] = p.lo;
    if (lang_values_set(v, p.name, vals, n, err, sizeof err) != CX_OK) abort();
    if (lang_values_set(w, p.name, vals, n, err, sizeof err) != CX_OK) abort();
    free(vals);
  }
  size_t no = lang_outputs_len(c);
  int64_t *o1 = calloc(no + 1, sizeof *o1), *o2 = calloc(no + 1, sizeof *o2),
          *o3 = calloc(no + 1, sizeof *o3);
  if (!o1 || !o2 || !o3) abort();
  if (lang_run_reference(c, v, o1, err, sizeof err) != CX_OK) abort();
  if (lang_run_circuit(c, v, o2, err, sizeof err) != CX_OK) abort();
  if (lang_run_circuit(dc, w, o3, err, sizeof err) != CX_OK) abort();
  if (memcmp(o1, o2, no * sizeof *o1) != 0 || memcmp(o2, o3, no * sizeof *o1) != 0) abort();
  char *js = lang_outputs_json(c, o1);
  if (!js) abort();
  free(js);
  free(o1);
  free(o2);
  free(o3);
  lang_values_free(v);
  lang_values_free(w);
  lang_free(dc);
  lang_free(c);
  return 0;
}
