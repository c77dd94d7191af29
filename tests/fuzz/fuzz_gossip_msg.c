/* fuzz_gossip_msg: gossip_decode, the parser of every NET_MSG_TX payload a
 * member sends (node/gossip.c; layout in node/gossip.h: u8 version | varint
 * count | count x bytes tx).
 *
 * Input: the payload as received. Seeds in corpus/fuzz_gossip_msg are real
 * batches of the transactions of corpus/fuzz_tx_decode: one transaction,
 * three of different types, and every seed transaction at once.
 * Checks: no crash or leak (sanitizers); a refusal names what and why and
 * delimits nothing (count 0); an accepted payload has 1..GOSSIP_MAX_TXS
 * entries, each of 1..CX_TX_MAX_BYTES bytes lying inside the input, one
 * after the other, and re-encodes to exactly the input (nothing trails);
 * tx_decode runs on every entry, as admission does next. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "error.h"
#include "gossip.h"
#include "tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gossip_wire g_w; /* 64 KiB, reused */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gossip_wire *w = &g_w;
  node_refusal r = {NULL, NULL};
  w->count = 12345;
  cx_err e = gossip_decode(data, size, w, &r);
  if (e != CX_OK) {
    if (!r.what || !r.why || w->count != 0) abort();
    if (strcmp(cx_err_name(e), "unknown_error") == 0) abort();
    return 0;
  }
  if (w->count == 0 || w->count > GOSSIP_MAX_TXS) abort();
  cx_enc enc;
  enc_init(&enc);
  enc_u8(&enc, GOSSIP_WIRE_VERSION);
  enc_varint(&enc, w->count);
  const uint8_t *next = NULL;
  for (size_t i = 0; i < w->count; i++) {
    const uint8_t *p = w->tx[i].p;
    size_t len = w->tx[i].len;
    if (len == 0 || len > CX_TX_MAX_BYTES) abort();
    if (p < data || p - data > (ptrdiff_t)(size - len)) abort();
    if (next && p <= next) abort(); /* in order, after the previous one and its length */
    next = p + len - 1;
    enc_bytes(&enc, p, len);
    /* what admission does next with each entry */
    cx_tx tx;
    size_t off = 0;
    cx_err te = tx_decode(p, len, &tx, &off);
    if (te == CX_OK) tx_clear(&tx);
    else if (strcmp(cx_err_name(te), "unknown_error") == 0 || off > len) abort();
  }
  if (enc_finish(&enc) != CX_OK) abort();
  if (enc.len != size || memcmp(enc.buf, data, size) != 0) abort();
  enc_free(&enc);
  return 0;
}
