#include "block.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "tx.h"

void block_init(cx_block *b) { memset(b, 0, sizeof *b); }

void block_clear(cx_block *b) {
  for (size_t i = 0; i < b->ntx; i++) free(b->txs[i]);
  free(b->txs);
  free(b->tx_len);
  memset(b, 0, sizeof *b);
}

cx_err block_add_tx(cx_block *b, const uint8_t *tx, size_t len) {
  if (b->ntx >= CX_BLOCK_MAX_TXS) return CX_E_FULL;
  uint8_t **t = realloc(b->txs, (b->ntx + 1) * sizeof *t);
  if (!t) return CX_E_NOMEM;
  b->txs = t;
  size_t *l = realloc(b->tx_len, (b->ntx + 1) * sizeof *l);
  if (!l) return CX_E_NOMEM;
  b->tx_len = l;
  uint8_t *c = malloc(len ? len : 1);
  if (!c) return CX_E_NOMEM;
  memcpy(c, tx, len);
  b->txs[b->ntx] = c;
  b->tx_len[b->ntx] = len;
  b->ntx++;
  return CX_OK;
}

static void header_enc(cx_enc *e, const cx_block_header *h) {
  enc_u8(e, CX_BLOCK_VERSION);
  enc_fixed(e, h->chain_id.b, 32);
  enc_varint(e, h->height);
  enc_fixed(e, h->parent.b, 32);
  enc_varint(e, h->time_ms);
  enc_fixed(e, h->proposer.b, 32);
  enc_varint(e, h->view);
  enc_fixed(e, h->tx_root.b, 32);
  enc_fixed(e, h->receipts_root.b, 32);
  enc_fixed(e, h->state_root.b, 32);
}

static int header_dec(cx_dec *d, cx_block_header *h) {
  uint8_t v;
  if (dec_u8(d, &v)) return -1;
  if (v != CX_BLOCK_VERSION) {
    d->off--;
    return dec_fail(d, CX_E_BAD_VERSION);
  }
  return dec_fixed(d, h->chain_id.b, 32) || dec_varint(d, &h->height) ||
                 dec_fixed(d, h->parent.b, 32) || dec_varint(d, &h->time_ms) ||
                 dec_fixed(d, h->proposer.b, 32) || dec_varint(d, &h->view) ||
                 dec_fixed(d, h->tx_root.b, 32) || dec_fixed(d, h->receipts_root.b, 32) ||
                 dec_fixed(d, h->state_root.b, 32)
             ? -1
             : 0;
}

void block_header_encode(const cx_block_header *h, uint8_t **out, size_t *len) {
  cx_enc e;
  enc_init(&e);
  header_enc(&e, h);
  CX_ASSERT(enc_finish(&e) == CX_OK); /* only fails on out of memory */
  *out = enc_take(&e, len);
}

void block_hash(const cx_block_header *h, cx_hash *out) {
  /* Header is small and fixed-shape: encode on the stack-free path. */
  uint8_t *buf;
  size_t len;
  block_header_encode(h, &buf, &len);
  hash_tagged(CX_TAG_BLOCK, buf, len, out);
  free(buf);
}

cx_err block_encode(const cx_block *b, uint8_t **out, size_t *len) {
  cx_enc e;
  enc_init(&e);
  header_enc(&e, &b->h);
  enc_varint(&e, b->ntx);
  for (size_t i = 0; i < b->ntx; i++) enc_bytes(&e, b->txs[i], b->tx_len[i]);
  cx_err err = enc_finish(&e);
  if (!err && e.len > CX_BLOCK_MAX_BYTES) err = CX_E_TOO_LONG;
  if (err) {
    enc_free(&e);
    return err;
  }
  *out = enc_take(&e, len);
  return CX_OK;
}

cx_err block_decode(const uint8_t *buf, size_t len, cx_block *b) {
  cx_dec d;
  uint64_t n;
  block_init(b);
  if (len > CX_BLOCK_MAX_BYTES) return CX_E_TOO_LONG;
  dec_init(&d, buf, len);
  if (header_dec(&d, &b->h) || dec_varint_max(&d, &n, CX_BLOCK_MAX_TXS)) goto out;
  for (uint64_t i = 0; i < n; i++) {
    const uint8_t *p;
    size_t l;
    if (dec_bytes(&d, &p, &l, CX_TX_MAX_BYTES)) goto out;
    cx_err e = block_add_tx(b, p, l);
    if (e) {
      dec_fail(&d, e);
      goto out;
    }
  }
  dec_finish(&d);
out:
  if (d.err) block_clear(b);
  return d.err;
}

cx_err block_peek(const uint8_t *buf, size_t len, cx_block_header *h, cx_hash *hash) {
  cx_dec d;
  dec_init(&d, buf, len);
  if (header_dec(&d, h)) return d.err;
  hash_tagged(CX_TAG_BLOCK, buf, d.off, hash);
  return CX_OK;
}

cx_err block_tx_at(const uint8_t *buf, size_t len, size_t idx, const uint8_t **tx,
                   size_t *txlen) {
  cx_dec d;
  cx_block_header h;
  uint64_t n;
  dec_init(&d, buf, len);
  if (header_dec(&d, &h) || dec_varint_max(&d, &n, CX_BLOCK_MAX_TXS)) return d.err;
  if (idx >= n) return CX_E_NOT_FOUND;
  for (size_t i = 0; i <= idx; i++)
    if (dec_bytes(&d, tx, txlen, CX_TX_MAX_BYTES)) return d.err;
  return CX_OK;
}

void receipt_leaf(const cx_hash *txid, int32_t code, cx_hash *out) {
  uint8_t buf[36];
  memcpy(buf, txid->b, 32);
  uint32_t c = (uint32_t)code;
  buf[32] = (uint8_t)(c >> 24);
  buf[33] = (uint8_t)(c >> 16);
  buf[34] = (uint8_t)(c >> 8);
  buf[35] = (uint8_t)c;
  hash_tagged(CX_TAG_RECEIPT, buf, sizeof buf, out);
}

void vote_message(const cx_hash *chain_id, uint64_t height, uint64_t view,
                  const cx_hash *block_hash, cx_hash *out) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, chain_id->b, 32);
  enc_varint(&e, height);
  enc_varint(&e, view);
  enc_fixed(&e, block_hash->b, 32);
  CX_ASSERT(enc_finish(&e) == CX_OK);
  hash_tagged(CX_TAG_VOTE, e.buf, e.len, out);
  enc_free(&e);
}

void cs_msg_digest(const cx_hash *chain_id, uint8_t type, uint64_t height, uint32_t round,
                   uint32_t pol_round, const cx_hash *block_hash, uint8_t out[32]) {
  cx_hash h;
  if (type == CX_CS_PRECOMMIT) {
    /* Precommits are the commit certificate's votes (bft.h). */
    vote_message(chain_id, height, round, block_hash, &h);
  } else {
    CX_ASSERT(type == CX_CS_PROPOSAL || type == CX_CS_PREVOTE);
    /* On a stack buffer: this runs for every consensus message signed or
     * checked. */
    uint8_t b[32 + 3 * CX_VARINT_MAX + 32];
    size_t n = 32;
    memcpy(b, chain_id->b, 32);
    n += varint_put(b + n, height);
    n += varint_put(b + n, round);
    /* nil (UINT32_MAX) + 1 wraps to 0 in uint32: "no round" is 0 on the wire. */
    if (type == CX_CS_PROPOSAL) n += varint_put(b + n, (uint32_t)(pol_round + 1u));
    memcpy(b + n, block_hash->b, 32);
    n += 32;
    hash_tagged(type == CX_CS_PROPOSAL ? CX_TAG_CS_PROPOSAL : CX_TAG_CS_PREVOTE, b, n, &h);
  }
  memcpy(out, h.b, 32);
}

cx_err cert_encode(const cx_cert *c, uint8_t **out, size_t *len) {
  cx_enc e;
  enc_init(&e);
  enc_varint(&e, c->height);
  enc_varint(&e, c->view);
  enc_fixed(&e, c->block_hash.b, 32);
  enc_varint(&e, c->nvotes);
  for (size_t i = 0; i < c->nvotes; i++) {
    enc_varint(&e, c->votes[i].signer);
    enc_fixed(&e, c->votes[i].sig.b, 64);
  }
  cx_err err = enc_finish(&e);
  if (err) {
    enc_free(&e);
    return err;
  }
  *out = enc_take(&e, len);
  return CX_OK;
}

cx_err cert_decode(const uint8_t *buf, size_t len, cx_cert *c) {
  cx_dec d;
  uint64_t n, s;
  memset(c, 0, sizeof *c);
  dec_init(&d, buf, len);
  if (dec_varint(&d, &c->height) || dec_varint(&d, &c->view) ||
      dec_fixed(&d, c->block_hash.b, 32) || dec_varint_max(&d, &n, CX_MAX_VALIDATORS))
    goto out;
  for (size_t i = 0; i < n; i++) {
    size_t at = d.off;
    if (dec_varint_max(&d, &s, CX_MAX_VALIDATORS - 1)) goto out;
    if (i > 0 && s <= c->votes[i - 1].signer) {
      d.off = at;
      dec_fail(&d, CX_E_UNSORTED);
      goto out;
    }
    c->votes[i].signer = (uint16_t)s;
    if (dec_fixed(&d, c->votes[i].sig.b, 64)) goto out;
  }
  c->nvotes = (uint16_t)n;
  dec_finish(&d);
out:
  return d.err;
}

cx_err cert_verify(const cx_cert *c, const cx_hash *chain_id, uint64_t height,
                   const cx_hash *block_hash, const cx_pubkey *validators, size_t nval) {
  if (c->height != height || !hash_eq(&c->block_hash, block_hash) || nval == 0 ||
      nval > CX_MAX_VALIDATORS)
    return CX_E_BAD_CERT;
  cx_hash msg;
  vote_message(chain_id, c->height, c->view, &c->block_hash, &msg);
  unsigned good = 0;
  int last = -1;
  for (size_t i = 0; i < c->nvotes; i++) {
    const cx_vote_sig *v = &c->votes[i];
    if (v->signer >= nval || (int)v->signer <= last) return CX_E_BAD_CERT;
    last = v->signer;
    if (!sig_verify(&validators[v->signer], msg.b, 32, &v->sig)) return CX_E_BAD_CERT;
    good++;
  }
  return good >= quorum_size((unsigned)nval) ? CX_OK : CX_E_BAD_CERT;
}
