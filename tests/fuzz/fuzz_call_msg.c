/* fuzz_call_msg: call_wire_decode, the parser of every NET_MSG_CALL payload a
 * member sends (node/call_service.c; layout in node/node_internal.h: an MPC
 * engine message, a bureau's input commitment, a party's result signature,
 * several of these in one MULTI;
 * docs/calls.md §2).
 *
 * Input: the payload as received. Seeds in corpus/fuzz_call_msg are one
 * message of each kind (multi: a COMMIT and a SIG in one MULTI).
 * Checks: no crash or leak (sanitizers); a refusal names what and why and
 * is a known code; an accepted message has a known kind, its ranges lie
 * inside the input within their caps, its strings are NUL-terminated within
 * their caps, and it re-encodes to exactly the input (nothing may follow). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "error.h"
#include "node_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size) {
  return p >= data && n <= size && p - data <= (ptrdiff_t)(size - n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  call_wire w;
  node_refusal r = {NULL, NULL};
  cx_err e = call_wire_decode(data, size, &w, &r);
  if (e != CX_OK) {
    if (!r.what || !r.why || strcmp(cx_err_name(e), "unknown_error") == 0) abort();
    return 0;
  }
  if (w.kind < CALL_MPC || w.kind > CALL_MULTI || size < CALL_WIRE_HDR) abort();
  if (memcmp(w.call.b, data + 2, 32) != 0) abort();
  cx_enc enc;
  enc_init(&enc);
  enc_u8(&enc, CALL_WIRE_VERSION);
  enc_u8(&enc, w.kind);
  enc_fixed(&enc, w.call.b, 32);
  if (w.kind == CALL_MULTI) {
    /* each message it carries decodes alone, none is a MULTI, the first
     * names the header's call, and they are all there is */
    if (w.mk < 2 || w.mk > CALL_MULTI_MAX || !inside(w.ments, w.ments_len, data, size)) abort();
    enc_u8(&enc, (uint8_t)w.mk);
    size_t off = 0, k = 0, ml;
    const uint8_t *m;
    while (call_wire_next(&w, &off, &m, &ml)) {
      call_wire in;
      if (!inside(m, ml, data, size) || call_wire_decode(m, ml, &in, NULL) != CX_OK || in.kind == CALL_MULTI) abort();
      if (k == 0 && memcmp(in.call.b, w.call.b, 32) != 0) abort();
      uint8_t l4[4];
      put_be32(l4, (uint32_t)ml);
      enc_fixed(&enc, l4, 4);
      enc_fixed(&enc, m, ml);
      k++;
    }
    if (k != w.mk) abort();
  } else if (w.kind == CALL_MPC) {
    if (!inside(w.mpc, w.mpc_len, data, size) || w.mpc_len < 34) abort();
    enc_fixed(&enc, w.mpc, w.mpc_len);
  } else if (w.kind == CALL_COMMIT) {
    if (memchr(w.domain, 0, sizeof w.domain) == NULL) abort();
    enc_str(&enc, w.domain);
    enc_fixed(&enc, w.root.b, 32);
    uint8_t cnt[8];
    put_be64(cnt, w.count);
    enc_fixed(&enc, cnt, 8);
    enc_fixed(&enc, w.leaf.b, 32);
  } else if (w.kind == CALL_FPROP) {
    if (w.fk == 0 || w.fk > CALL_FPROP_MAX || !inside(w.fents, w.fk * CALL_FPROP_ENT, data, size)) abort();
    if (memcmp(w.fents, w.call.b, 32) != 0) abort();
    for (size_t i = 0; i < w.fk; i++) {
      if (!get_be64(w.fents + i * CALL_FPROP_ENT + 32)) abort();
      for (size_t q = 0; q < i; q++)
        if (memcmp(w.fents + i * CALL_FPROP_ENT, w.fents + q * CALL_FPROP_ENT, 32) == 0) abort();
    }
    enc_u8(&enc, (uint8_t)w.fk);
    enc_fixed(&enc, w.fents, w.fk * CALL_FPROP_ENT);
  } else if (w.kind == CALL_TSIGN) {
    if (!inside(w.ts, w.ts_len, data, size) || w.ts_len < CALL_TSIGN_MIN || w.ts_len > CALL_TSIGN_MAX) abort();
    enc_fixed(&enc, w.ts, w.ts_len);
  } else {
    if (w.status != 2 && w.status != 3) abort();
    if (w.blob_len > CX_RESULT_BLOB_MAX || (w.blob_len && !inside(w.blob, w.blob_len, data, size))) abort();
    if (memchr(w.reason, 0, sizeof w.reason) == NULL) abort();
    enc_u8(&enc, w.status);
    enc_fixed(&enc, w.statement.b, 32);
    enc_bytes(&enc, w.blob, w.blob_len);
    enc_fixed(&enc, w.sig.b, 64);
    enc_str(&enc, w.reason);
  }
  if (enc_finish(&enc) != CX_OK) abort();
  if (enc.len != size || memcmp(enc.buf, data, size) != 0) abort();
  enc_free(&enc);
  return 0;
}
