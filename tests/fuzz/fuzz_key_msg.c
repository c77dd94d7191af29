/* fuzz_key_msg: key_wire_decode, the parser of every NET_MSG_KEY payload a
 * member sends (node/key_service.c; layout in node/node_internal.h: a
 * beacon share of a height under a key epoch, or a custody signing
 * message; docs/keys.md §7, §9).
 *
 * Input: the payload as received. Seeds in corpus/fuzz_key_msg are one
 * message of each kind.
 * Checks: no crash or leak (sanitizers); a refusal names what and why and
 * is a known code; an accepted message has a known kind, its ranges lie
 * inside the input within their caps, and it re-encodes to exactly the
 * input (nothing may follow). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"
#include "codec.h"
#include "error.h"
#include "node_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size) {
  return p >= data && n <= size && p - data <= (ptrdiff_t)(size - n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  key_wire w;
  node_refusal r = {NULL, NULL};
  cx_err e = key_wire_decode(data, size, &w, &r);
  if (e != CX_OK) {
    if (!r.what || !r.why || strcmp(cx_err_name(e), "unknown_error") == 0) abort();
    return 0;
  }
  uint8_t *out = malloc(size ? size : 1);
  if (!out) abort();
  size_t n = 0;
  out[n++] = KEY_WIRE_VERSION;
  out[n++] = w.kind;
  if (w.kind == KEY_BEACON_SHARE) {
    if (w.height == 0 || size != 2 + 8 + 4 + BEACON_SHARE_LEN) abort();
    put_be64(out + n, w.height);
    n += 8;
    put_be32(out + n, w.epoch);
    n += 4;
    n += beacon_share_encode(&w.share, out + n);
  } else if (w.kind == KEY_TSIGN) {
    if (!inside(w.ts, w.ts_len, data, size) || w.ts_len < KEY_TSIGN_MIN || w.ts_len > KEY_TSIGN_MAX) abort();
    memcpy(out + n, w.request.b, 32);
    n += 32;
    memcpy(out + n, w.ts, w.ts_len);
    n += w.ts_len;
  } else {
    abort();
  }
  if (n != size || memcmp(out, data, size) != 0) abort();
  free(out);
  return 0;
}
