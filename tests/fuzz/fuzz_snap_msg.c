/* fuzz_snap_msg: ss_decode, the parser of every NET_MSG_SNAP payload a
 * member sends (node/statesync.c; layout in node/statesync.h: OFFER_REQ,
 * OFFER, MANIFEST_REQ, MANIFEST, CHUNK_REQ, CHUNK, GONE).
 *
 * Input: the payload as received. Seeds in corpus/fuzz_snap_msg are real
 * messages of every kind (the manifest carries the block and certificate of
 * corpus/fuzz_block_decode; a chunk with empty and 300-byte values).
 * Checks: no crash or leak (sanitizers); a refusal names what and why; the
 * kind is one of the seven (0 only when version or kind did not decode); an
 * accepted message re-encodes with the ss_enc_* functions to exactly the
 * input; every range lies inside the input within its cap; a CHUNK's
 * entries iterate to exactly count entries covering entries_len bytes;
 * block_peek and cert_decode run on a manifest's ranges (a decoded
 * certificate re-encodes to exactly its range), the state-key bucket on
 * every chunk key. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "codec.h"
#include "error.h"
#include "statesync.h"
#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ss_wire g_w; /* ~8 KiB, reused */
static cx_cert g_cert;

static int inside(const uint8_t *p, size_t n, const uint8_t *data, size_t size) {
  return p >= data && n <= size && p - data <= (ptrdiff_t)(size - n);
}

static void check_manifest(const ss_wire *w, const uint8_t *data, size_t size) {
  if (w->block_len > CX_BLOCK_MAX_BYTES || w->cert_len > SS_CERT_MAX) abort();
  if (!inside(w->block, w->block_len, data, size) || !inside(w->cert, w->cert_len, data, size)) abort();
  cx_block_header h;
  cx_hash bh;
  cx_err e = block_peek(w->block, w->block_len, &h, &bh);
  if (e != CX_OK && strcmp(cx_err_name(e), "unknown_error") == 0) abort();
  e = cert_decode(w->cert, w->cert_len, &g_cert);
  if (e == CX_OK) {
    uint8_t *out;
    size_t len;
    if (cert_encode(&g_cert, &out, &len) != CX_OK) abort();
    if (len != w->cert_len || memcmp(out, w->cert, len) != 0) abort();
    free(out);
  } else if (strcmp(cx_err_name(e), "unknown_error") == 0) {
    abort();
  }
}

/* The body of a CHUNK re-encoded from its iterated entries. */
static void chunk_body(const ss_wire *w, const uint8_t *data, size_t size, cx_enc *body) {
  if (!inside(w->entries, w->entries_len, data, size)) abort();
  ss_iter it;
  const uint8_t *k, *v;
  size_t kl, vl;
  uint64_t n = 0;
  ss_iter_init(&it, w);
  while (ss_iter_next(&it, &k, &kl, &v, &vl)) {
    if (kl > STORE_KEY_MAX || vl > STORE_VALUE_MAX) abort();
    if (!inside(k, kl, w->entries, w->entries_len) || !inside(v, vl, w->entries, w->entries_len))
      abort();
    (void)store_key_bucket(k, kl); /* what the client does next */
    enc_bytes(body, k, kl);
    enc_bytes(body, v, vl);
    n++;
  }
  if (n != w->count) abort();
  if (enc_finish(body) != CX_OK || body->len != w->entries_len) abort();
  if (body->len && memcmp(body->buf, w->entries, body->len) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ss_wire *w = &g_w;
  ss_refusal r = {NULL, NULL};
  cx_err e = ss_decode(data, size, w, &r);
  if (e != CX_OK && (!r.what || !r.why)) abort();
  if (e != CX_OK && strcmp(cx_err_name(e), "unknown_error") == 0) abort();
  if (w->kind > SS_GONE || (w->kind == 0 && e == CX_OK)) abort();
  if (e != CX_OK) {
    if (w->entries || w->entries_len) abort(); /* nothing of a refused chunk is usable */
    return 0;
  }
  if (w->chunk >= SS_CHUNKS) abort();
  cx_enc enc, body;
  enc_init(&enc);
  enc_init(&body);
  switch (w->kind) {
    case SS_OFFER_REQ:
      ss_enc_offer_req(&enc);
      break;
    case SS_OFFER:
      if (w->has && w->height == 0) abort();
      ss_enc_offer(&enc, w->has, w->height, &w->block_hash, &w->state_root);
      break;
    case SS_MANIFEST_REQ:
      ss_enc_manifest_req(&enc, w->height);
      break;
    case SS_MANIFEST:
      check_manifest(w, data, size);
      ss_enc_manifest(&enc, w->height, w->block, w->block_len, w->cert, w->cert_len, w->subtrees);
      break;
    case SS_CHUNK_REQ:
      if (w->has_after && (w->after_len > STORE_KEY_MAX || !inside(w->after, w->after_len, data, size)))
        abort();
      ss_enc_chunk_req(&enc, w->height, w->chunk, w->has_after, w->after, w->after_len);
      break;
    case SS_CHUNK:
      if (size > SS_PAGE_MAX || w->count > SS_PAGE_ENTRIES_MAX) abort();
      chunk_body(w, data, size, &body);
      ss_enc_chunk(&enc, w->height, w->chunk, w->more, w->count, body.buf, body.len);
      break;
    case SS_GONE:
      ss_enc_gone(&enc, w->height);
      break;
    default:
      abort();
  }
  if (enc_finish(&enc) != CX_OK) abort();
  if (enc.len != size || memcmp(enc.buf, data, size) != 0) abort(); /* exactly the input */
  enc_free(&enc);
  enc_free(&body);
  return 0;
}
