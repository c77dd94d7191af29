/* fuzz_sync_msg: sync_decode, the parser of every NET_MSG_SYNC payload a
 * member sends (node/sync.c; layout in node/node_internal.h: STATUS, GET,
 * BLOCKS with (block, certificate) pairs).
 *
 * Input: the payload as received. Seeds in corpus/fuzz_sync_msg are real
 * messages: a STATUS (height and base), a GET, and BLOCKS batches of 0, 1 and 2 entries
 * carrying the blocks and certificates of corpus/fuzz_block_decode.
 * Checks: no crash or leak (sanitizers); a refusal names what and why; the
 * kind is one of the three (0 only when version or kind did not decode);
 * an accepted message re-encodes to exactly the input (trailing bytes are
 * refused); for BLOCKS the count is within SYNC_MAX_BLOCKS, nblocks ==
 * count on acceptance (< count on a refusal, except "trailing bytes"),
 * every range lies inside the input within its cap, the decoded entries
 * re-encode to a prefix of the input; block_peek and cert_decode run on
 * every range (a decoded certificate re-encodes to exactly its range). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "codec.h"
#include "error.h"
#include "node_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sync_wire g_w; /* ~2 KiB, reused */
static cx_cert g_cert;

static int inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size) {
  return p >= data && n <= size && p - data <= (ptrdiff_t)(size - n);
}

static void check_entry(const uint8_t *bp, size_t bl, const uint8_t *cp, size_t cl,
                        const uint8_t *data, size_t size) {
  if (bl > CX_BLOCK_MAX_BYTES || cl > SYNC_CERT_MAX) abort();
  if (!inside(bp, bl, data, size) || !inside(cp, cl, data, size)) abort();
  if (cp < bp + bl) abort(); /* in order */
  /* what sync_apply_blocks does next with them */
  cx_block_header h;
  cx_hash bh;
  cx_err e = block_peek(bp, bl, &h, &bh);
  if (e != CX_OK && strcmp(cx_err_name(e), "unknown_error") == 0) abort();
  e = cert_decode(cp, cl, &g_cert);
  if (e == CX_OK) {
    uint8_t *out;
    size_t len;
    if (cert_encode(&g_cert, &out, &len) != CX_OK) abort();
    if (len != cl || memcmp(out, cp, cl) != 0) abort();
    free(out);
  } else if (strcmp(cx_err_name(e), "unknown_error") == 0) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sync_wire *w = &g_w;
  node_refusal r = {NULL, NULL};
  cx_err e = sync_decode(data, size, w, &r);
  if (e != CX_OK && (!r.what || !r.why)) abort();
  if (e != CX_OK && strcmp(cx_err_name(e), "unknown_error") == 0) abort();
  if (w->kind > SYNC_BLOCKS || (w->kind == 0 && e == CX_OK)) abort();
  if (w->kind != SYNC_BLOCKS && (w->count || w->nblocks)) abort();

  cx_enc enc;
  enc_init(&enc);
  enc_u8(&enc, SYNC_WIRE_VERSION);
  enc_u8(&enc, w->kind);
  switch (w->kind) {
    case SYNC_STATUS:
      enc_varint(&enc, w->height);
      enc_varint(&enc, w->base);
      break;
    case SYNC_GET:
      enc_varint(&enc, w->from);
      enc_varint(&enc, w->max);
      break;
    case SYNC_BLOCKS:
      if (w->count > SYNC_MAX_BLOCKS || w->nblocks > w->count) abort();
      if (e == CX_OK && w->nblocks != w->count) abort();
      /* all entries decoded yet refused: only for bytes after the last one */
      if (e != CX_OK && w->count && w->nblocks == w->count && strcmp(r.why, "trailing bytes") != 0)
        abort();
      enc_varint(&enc, w->count);
      for (size_t i = 0; i < w->nblocks; i++) {
        check_entry(w->b[i].block, w->b[i].block_len, w->b[i].cert, w->b[i].cert_len, data, size);
        enc_bytes(&enc, w->b[i].block, w->b[i].block_len);
        enc_bytes(&enc, w->b[i].cert, w->b[i].cert_len);
      }
      break;
    default:
      break;
  }
  if (enc_finish(&enc) != CX_OK) abort();
  if (e == CX_OK) {
    /* every kind: exactly the input (trailing bytes are refused) */
    if (enc.len != size) abort();
    if (memcmp(enc.buf, data, enc.len) != 0) abort();
  } else if (w->kind == SYNC_BLOCKS && w->count) {
    /* the entries decoded before the malformed one are a prefix too */
    if (enc.len > size || memcmp(enc.buf, data, enc.len) != 0) abort();
  }
  enc_free(&enc);
  return 0;
}
