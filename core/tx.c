#include "tx.h"

#include "merkle.h"

#include <stdlib.h>
#include <string.h>

static void mev_free_parts(cx_tx_mpc_evidence *v);

void tx_init(cx_tx *tx) { memset(tx, 0, sizeof *tx); }

void tx_clear(cx_tx *tx) {
  if (tx->type == TX_CONTRACT_DEPLOY) {
    free(tx->u.deploy.source);
    free(tx->u.deploy.bytecode);
  } else if (tx->type == TX_CALL) {
    free(tx->u.call.args);
    free(tx->u.call.blobs);
    free(tx->u.call.commit);
  } else if (tx->type == TX_CALL_RESULT) {
    cx_tx_call_result *r = &tx->u.result;
    for (size_t i = 0; r->sigs && i < r->nsig; i++) free(r->sigs[i].blob);
    free(r->sigs);
    free(r->out);
  } else if (tx->type == TX_MPC_EVIDENCE) {
    mev_free_parts(&tx->u.mev);
  } else if (tx->type == TX_KEY_DEAL) {
    free(tx->u.kdeal.round1);
    free(tx->u.kdeal.sealed);
  } else if (tx->type == TX_SIGN_REQUEST) {
    free(tx->u.sreq.msg);
  }
  memset(tx, 0, sizeof *tx);
}

/* Replaces an owned buffer of a deploy with a copy of (p, len). */
static cx_err set_owned(cx_tx *tx, uint8_t **buf, size_t *buflen, const void *p, size_t len, size_t max) {
  CX_ASSERT(tx->type == TX_CONTRACT_DEPLOY);
  if (len > max) return CX_E_TOO_LONG;
  uint8_t *b = malloc(len ? len : 1);
  if (!b) return CX_E_NOMEM;
  if (len) memcpy(b, p, len);
  free(*buf);
  *buf = b;
  *buflen = len;
  return CX_OK;
}

cx_err tx_set_source(cx_tx *tx, const void *src, size_t len) {
  return set_owned(tx, &tx->u.deploy.source, &tx->u.deploy.source_len, src, len, CX_SOURCE_MAX);
}

cx_err tx_set_bytecode(cx_tx *tx, const void *bc, size_t len) {
  return set_owned(tx, &tx->u.deploy.bytecode, &tx->u.deploy.bytecode_len, bc, len, CX_BYTECODE_MAX);
}

/* ---- calls ---- */

size_t tx_call_blob_len(size_t count) {
  /* mpc/client.h: sealed-box overhead + context + salt + (count + 1)
   * field elements of 16 bytes (the values, then the mask). */
  if (count == 0 || count > CX_CALL_MAX_VALUES) return 0;
  return 48 + 32 + 32 + (count + 1) * 16;
}

cx_err tx_call_set_args(cx_tx *tx, const int64_t *args, size_t n) {
  CX_ASSERT(tx->type == TX_CALL);
  if (n > CX_CALL_MAX_ARGS) return CX_E_TOO_LONG;
  int64_t *a = NULL;
  if (n) {
    a = malloc(n * sizeof *a);
    if (!a) return CX_E_NOMEM;
    memcpy(a, args, n * sizeof *a);
  }
  free(tx->u.call.args);
  tx->u.call.args = a;
  tx->u.call.nargs = n;
  return CX_OK;
}

cx_err tx_call_set_dealing(cx_tx *tx, uint32_t nparties, size_t count, const uint8_t *blobs,
                           size_t blob_len, const cx_hash *commit) {
  CX_ASSERT(tx->type == TX_CALL);
  cx_tx_call *c = &tx->u.call;
  if (nparties > CX_MAX_VALIDATORS || count > CX_CALL_MAX_VALUES || blob_len > CX_TX_MAX_BYTES)
    return CX_E_TOO_LONG;
  if ((nparties == 0) != (count == 0)) return CX_E_INVALID_ARG;
  uint8_t *b = NULL;
  cx_hash *cm = NULL;
  if (nparties) {
    size_t total = nparties * blob_len;
    b = malloc(total ? total : 1);
    cm = malloc(nparties * sizeof *cm);
    if (!b || !cm) {
      free(b);
      free(cm);
      return CX_E_NOMEM;
    }
    if (total) memcpy(b, blobs, total);
    memcpy(cm, commit, nparties * sizeof *cm);
  }
  free(c->blobs);
  free(c->commit);
  c->blobs = b;
  c->commit = cm;
  c->nparties = nparties;
  c->count = count;
  c->blob_len = nparties ? blob_len : 0;
  return CX_OK;
}

void tx_call_context(const cx_hash *chain_id, const cx_pubkey *sender, uint64_t nonce,
                     const cx_hash *contract, uint8_t out[32]) {
  uint8_t be[8];
  for (int i = 0; i < 8; i++) be[i] = (uint8_t)(nonce >> (56 - 8 * i));
  hash_ctx c;
  cx_hash h;
  hash_ctx_init(&c, CX_TAG_CALL);
  hash_ctx_update(&c, chain_id->b, 32);
  hash_ctx_update(&c, sender->b, 32);
  hash_ctx_update(&c, be, 8);
  hash_ctx_update(&c, contract->b, 32);
  hash_ctx_final(&c, &h);
  memcpy(out, h.b, 32);
}

/* Args are zigzag varints (codec.h): one encoding per value. */
static void call_enc(cx_enc *e, const cx_tx_call *c) {
  enc_fixed(e, c->contract.b, 32);
  enc_fixed(e, c->did.b, 32);
  enc_fixed(e, c->consent.b, 32);
  enc_varint(e, c->nargs);
  for (size_t i = 0; i < c->nargs; i++) enc_varint(e, zigzag_enc(c->args[i]));
  enc_varint(e, c->nparties);
  enc_varint(e, c->count);
  for (uint32_t i = 0; i < c->nparties; i++) enc_bytes(e, c->blobs + (size_t)i * c->blob_len, c->blob_len);
  for (uint32_t i = 0; i < c->nparties; i++) enc_fixed(e, c->commit[i].b, 32);
}

static int call_dec(cx_dec *d, cx_tx_call *c) {
  uint64_t n, np, cnt;
  if (dec_fixed(d, c->contract.b, 32) || dec_fixed(d, c->did.b, 32) || dec_fixed(d, c->consent.b, 32) ||
      dec_varint_max(d, &n, CX_CALL_MAX_ARGS))
    return -1;
  /* Each arg takes at least one byte: a count the input cannot hold is
   * refused before anything is allocated for it. */
  if (n > d->len - d->off) return dec_fail(d, CX_E_TRUNCATED);
  if (n) {
    c->args = malloc((size_t)n * sizeof *c->args);
    if (!c->args) return dec_fail(d, CX_E_NOMEM);
  }
  c->nargs = (size_t)n;
  for (size_t i = 0; i < c->nargs; i++) {
    uint64_t u;
    if (dec_varint(d, &u)) return -1;
    c->args[i] = zigzag_dec(u);
  }
  if (dec_varint_max(d, &np, CX_MAX_VALIDATORS)) return -1;
  size_t at = d->off;
  if (dec_varint_max(d, &cnt, CX_CALL_MAX_VALUES)) return -1;
  if ((np == 0) != (cnt == 0)) {
    d->off = at;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  c->nparties = (uint32_t)np;
  c->count = (size_t)cnt;
  if (np == 0) return 0;
  c->blob_len = tx_call_blob_len(c->count);
  if (np * (c->blob_len + 32) > d->len - d->off) return dec_fail(d, CX_E_TRUNCATED);
  c->blobs = malloc((size_t)np * c->blob_len);
  c->commit = malloc((size_t)np * sizeof *c->commit);
  if (!c->blobs || !c->commit) return dec_fail(d, CX_E_NOMEM);
  for (uint32_t i = 0; i < c->nparties; i++) {
    const uint8_t *b;
    size_t bl;
    at = d->off;
    if (dec_bytes(d, &b, &bl, CX_TX_MAX_BYTES)) return -1;
    if (bl != c->blob_len) {
      d->off = at;
      return dec_fail(d, bl < c->blob_len ? CX_E_TRUNCATED : CX_E_TRAILING);
    }
    memcpy(c->blobs + (size_t)i * c->blob_len, b, bl);
  }
  for (uint32_t i = 0; i < c->nparties; i++)
    if (dec_fixed(d, c->commit[i].b, 32)) return -1;
  return 0;
}

/* ---- call results (docs/calls.md §3, §4) ---- */

cx_err tx_result_alloc(cx_tx *tx, size_t nout, size_t nsig) {
  CX_ASSERT(tx->type == TX_CALL_RESULT);
  cx_tx_call_result *r = &tx->u.result;
  if (nout > CX_RESULT_MAX_OUTPUTS || nsig > CX_MAX_VALIDATORS) return CX_E_TOO_LONG;
  cx_result_output *o = nout ? calloc(nout, sizeof *o) : NULL;
  cx_result_sig *s = nsig ? calloc(nsig, sizeof *s) : NULL;
  if ((nout && !o) || (nsig && !s)) {
    free(o);
    free(s);
    return CX_E_NOMEM;
  }
  for (size_t i = 0; r->sigs && i < r->nsig; i++) free(r->sigs[i].blob);
  free(r->sigs);
  free(r->out);
  r->out = o;
  r->nout = nout;
  r->sigs = s;
  r->nsig = nsig;
  return CX_OK;
}

cx_err tx_result_set_blob(cx_tx *tx, size_t i, const uint8_t *blob, size_t len) {
  CX_ASSERT(tx->type == TX_CALL_RESULT);
  cx_tx_call_result *r = &tx->u.result;
  if (i >= r->nsig) return CX_E_INVALID_ARG;
  if (len > CX_RESULT_BLOB_MAX) return CX_E_TOO_LONG;
  uint8_t *b = NULL;
  if (len) {
    b = malloc(len);
    if (!b) return CX_E_NOMEM;
    memcpy(b, blob, len);
  }
  free(r->sigs[i].blob);
  r->sigs[i].blob = b;
  r->sigs[i].blob_len = len;
  return CX_OK;
}

/* The DONE fields (inputs, outputs, transcript) go into the encoding and,
 * byte for byte, into the result statement (calls.md §3): one writer for
 * both, so the two cannot drift apart. Exactly one of e and h is set. */
typedef struct {
  cx_enc *e;
  hash_ctx *h;
} rsink;

static void rs_fixed(rsink *s, const void *p, size_t n) {
  if (s->e)
    enc_fixed(s->e, p, n);
  else
    hash_ctx_update(s->h, p, n);
}

static void rs_varint(rsink *s, uint64_t v) {
  uint8_t b[CX_VARINT_MAX];
  rs_fixed(s, b, varint_put(b, v));
}

static void rs_str(rsink *s, const char *str) { /* as enc_str: varint len | bytes */
  size_t n = strlen(str);
  rs_varint(s, n);
  rs_fixed(s, str, n);
}

static void result_done_body(rsink *s, const cx_tx_call_result *r) {
  CX_ASSERT(r->nin <= CX_DOMAINS_MAX && (r->out || !r->nout));
  rs_varint(s, r->nin);
  for (size_t i = 0; i < r->nin; i++) {
    rs_str(s, r->in[i].domain);
    rs_fixed(s, r->in[i].root.b, 32);
    rs_varint(s, r->in[i].count);
    rs_fixed(s, r->in[i].leaf.b, 32);
  }
  rs_varint(s, r->nout);
  for (size_t i = 0; i < r->nout; i++) {
    const cx_result_output *o = &r->out[i];
    rs_fixed(s, &o->priv, 1); /* written as given: a bad flag is the decoder's to refuse */
    if (o->priv)
      rs_fixed(s, o->masked, 16);
    else
      rs_varint(s, zigzag_enc(o->value));
  }
  rs_fixed(s, r->transcript.b, 32);
}

static void result_enc(cx_enc *e, const cx_tx_call_result *r) {
  rsink s = {e, NULL};
  enc_fixed(e, r->call.b, 32);
  enc_u8(e, r->status);
  if (r->status == CX_CALL_DONE) {
    result_done_body(&s, r);
  } else if (r->status == CX_CALL_ABORTED) {
    enc_varint(e, zigzag_enc(r->code));
    enc_str(e, r->reason);
  }
  /* The proof (docs/calls.md §4): a result built in memory with proof 0
   * is a QUORUM one. */
  if (r->proof == CX_RESULT_PROOF_FROST || r->proof == CX_RESULT_PROOF_FROST_BATCH) {
    enc_u8(e, r->proof);
    enc_varint(e, r->key_epoch);
    enc_fixed(e, r->frost.b, 64);
    if (r->proof == CX_RESULT_PROOF_FROST_BATCH) {
      enc_u8(e, r->batch_n);
      enc_u8(e, r->batch_idx);
      enc_u8(e, r->batch_npath);
      for (size_t i = 0; i < r->batch_npath && i < CX_RESULT_BATCH_DEPTH; i++) enc_fixed(e, r->batch_path[i].b, 32);
    }
    enc_varint(e, r->nsig);
    for (size_t i = 0; i < r->nsig; i++) {
      enc_u8(e, r->sigs[i].party);
      enc_bytes(e, r->sigs[i].blob, r->sigs[i].blob_len);
    }
    return;
  }
  enc_u8(e, r->proof ? r->proof : CX_RESULT_PROOF_QUORUM); /* written as given: a bad one is the decoder's */
  enc_varint(e, r->nsig);
  for (size_t i = 0; i < r->nsig; i++) {
    enc_u8(e, r->sigs[i].party);
    enc_bytes(e, r->sigs[i].blob, r->sigs[i].blob_len);
    enc_fixed(e, r->sigs[i].sig.b, 64);
  }
}

/* A masked private output is a canonical element of GF(2^127 - 1),
 * little-endian: below 2^127 (top bit of byte 15 clear) and not p itself.
 * This is mpc/field.h's fe_decode check, written out because core does not
 * link the mpc module (the unit tests check that the two agree). */
static int fe_bytes_canonical(const uint8_t b[16]) {
  if (b[15] & 0x80) return 0;
  if (b[15] != 0x7f) return 1;
  for (int i = 0; i < 15; i++)
    if (b[i] != 0xff) return 1;
  return 0; /* exactly p */
}

static int result_inputs_dec(cx_dec *d, cx_tx_call_result *r) {
  uint64_t n;
  if (dec_varint_max(d, &n, CX_DOMAINS_MAX)) return -1;
  r->nin = (size_t)n;
  for (size_t i = 0; i < r->nin; i++) {
    cx_result_input *in = &r->in[i];
    size_t at = d->off;
    if (dec_str(d, in->domain, CX_DOMAIN_MAX, STR_IDENT)) return -1;
    /* The contract's domains are a sorted set (lang_domains): one order. */
    if (i > 0 && strcmp(r->in[i - 1].domain, in->domain) >= 0) {
      d->off = at;
      return dec_fail(d, CX_E_UNSORTED);
    }
    if (dec_fixed(d, in->root.b, 32) || dec_varint(d, &in->count) || dec_fixed(d, in->leaf.b, 32))
      return -1;
  }
  return 0;
}

static int result_outputs_dec(cx_dec *d, cx_tx_call_result *r) {
  uint64_t n;
  if (dec_varint_max(d, &n, CX_RESULT_MAX_OUTPUTS)) return -1;
  /* Each output takes at least 2 bytes (flag, one-byte value): a count the
   * input cannot hold is refused before anything is allocated for it. */
  if (n > (d->len - d->off) / 2) return dec_fail(d, CX_E_TRUNCATED);
  if (n) {
    r->out = calloc((size_t)n, sizeof *r->out);
    if (!r->out) return dec_fail(d, CX_E_NOMEM);
  }
  r->nout = (size_t)n;
  for (size_t i = 0; i < r->nout; i++) {
    cx_result_output *o = &r->out[i];
    if (dec_enum(d, &o->priv, 0, 1)) return -1;
    if (o->priv) {
      size_t at = d->off;
      if (dec_fixed(d, o->masked, 16)) return -1;
      if (!fe_bytes_canonical(o->masked)) {
        d->off = at;
        return dec_fail(d, CX_E_NONCANONICAL);
      }
    } else {
      uint64_t u;
      if (dec_varint(d, &u)) return -1;
      o->value = zigzag_dec(u);
    }
  }
  return 0;
}

#define RESULT_SIG_MIN (1 + 1 + 64) /* party, empty blob, sig */
#define RESULT_BLOB_MIN (1 + 1)     /* FROST: party, empty blob */

/* The party entries of either proof: QUORUM (with_sig) 1..64 of
 * (party | blob | sig), FROST 0..64 of (party | blob). */
static int result_sigs_dec(cx_dec *d, cx_tx_call_result *r, int with_sig) {
  uint64_t n;
  size_t at = d->off;
  if (dec_varint_max(d, &n, CX_MAX_VALIDATORS)) return -1;
  /* A QUORUM result nobody signed says nothing: 1..64 signatures. A FROST
   * result may carry no blob (no private output to deliver). */
  if (n == 0 && with_sig) {
    d->off = at;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  if (n == 0) return 0;
  if (n > (d->len - d->off) / (with_sig ? RESULT_SIG_MIN : RESULT_BLOB_MIN))
    return dec_fail(d, CX_E_TRUNCATED);
  r->sigs = calloc((size_t)n, sizeof *r->sigs);
  if (!r->sigs) return dec_fail(d, CX_E_NOMEM);
  r->nsig = (size_t)n;
  for (size_t i = 0; i < r->nsig; i++) {
    cx_result_sig *s = &r->sigs[i];
    const uint8_t *b;
    size_t bl;
    at = d->off;
    if (dec_u8(d, &s->party)) return -1;
    /* Party indexes are a set (one signature per party), and a party is
     * one of at most CX_MAX_VALIDATORS. */
    if (i > 0 && s->party <= r->sigs[i - 1].party) {
      d->off = at;
      return dec_fail(d, CX_E_UNSORTED);
    }
    if (s->party >= CX_MAX_VALIDATORS) {
      d->off = at;
      return dec_fail(d, CX_E_TOO_LONG);
    }
    if (dec_bytes(d, &b, &bl, CX_RESULT_BLOB_MAX)) return -1;
    if (bl) {
      s->blob = malloc(bl);
      if (!s->blob) return dec_fail(d, CX_E_NOMEM);
      memcpy(s->blob, b, bl);
    }
    s->blob_len = bl;
    if (with_sig && dec_fixed(d, s->sig.b, 64)) return -1;
  }
  return 0;
}

static int result_proof_dec(cx_dec *d, cx_tx_call_result *r) {
  uint64_t ep;
  if (dec_enum(d, &r->proof, CX_RESULT_PROOF_QUORUM, CX_RESULT_PROOF_FROST_BATCH)) return -1;
  if (r->proof == CX_RESULT_PROOF_QUORUM) return result_sigs_dec(d, r, 1);
  if (dec_varint_max(d, &ep, UINT32_MAX) || dec_fixed(d, r->frost.b, 64)) return -1;
  r->key_epoch = (uint32_t)ep;
  if (r->proof == CX_RESULT_PROOF_FROST_BATCH) {
    /* The tree's shape is the rule's to check (bad_signature); the
     * decoder only bounds it, so nothing is read past a batch's size. */
    if (dec_enum(d, &r->batch_n, 2, CX_RESULT_BATCH_MAX) || dec_enum(d, &r->batch_idx, 0, r->batch_n - 1) ||
        dec_enum(d, &r->batch_npath, 0, CX_RESULT_BATCH_DEPTH))
      return -1;
    for (size_t i = 0; i < r->batch_npath; i++)
      if (dec_fixed(d, r->batch_path[i].b, 32)) return -1;
  }
  return result_sigs_dec(d, r, 0);
}

static int result_dec(cx_dec *d, cx_tx_call_result *r) {
  if (dec_fixed(d, r->call.b, 32) || dec_enum(d, &r->status, CX_CALL_DONE, CX_CALL_ABORTED)) return -1;
  if (r->status == CX_CALL_DONE) {
    if (result_inputs_dec(d, r) || result_outputs_dec(d, r) || dec_fixed(d, r->transcript.b, 32))
      return -1;
  } else {
    uint64_t u;
    /* A cx_err is an int32: the zigzag images of INT32_MIN..INT32_MAX are
     * exactly 0..UINT32_MAX. */
    if (dec_varint_max(d, &u, UINT32_MAX)) return -1;
    r->code = (int32_t)zigzag_dec(u);
    if (dec_str(d, r->reason, CX_RESULT_REASON_MAX, STR_UTF8)) return -1;
  }
  return result_proof_dec(d, r);
}

void tx_result_statement(const cx_hash *chain_id, const cx_tx_call_result *r, const cx_hash *contract,
                         const cx_hash *consent, const cx_hash *did, cx_hash *out) {
  hash_ctx h;
  rsink s = {NULL, &h};
  hash_ctx_init(&h, CX_TAG_RESULT);
  hash_ctx_update(&h, chain_id->b, 32);
  hash_ctx_update(&h, r->call.b, 32);
  hash_ctx_update(&h, contract->b, 32);
  hash_ctx_update(&h, consent->b, 32);
  hash_ctx_update(&h, did->b, 32);
  hash_ctx_update(&h, &r->status, 1);
  /* The reason is the submitter's words, not the quorum's: not signed. */
  if (r->status == CX_CALL_DONE)
    result_done_body(&s, r);
  else if (r->status == CX_CALL_ABORTED)
    rs_varint(&s, zigzag_enc(r->code));
  hash_ctx_final(&h, out);
}

void tx_result_sig_msg(const cx_hash *statement, const uint8_t *blob, size_t blob_len, cx_hash *out) {
  hash_ctx h;
  hash_ctx_init(&h, CX_TAG_RESULT_SIG);
  hash_ctx_update(&h, statement->b, 32);
  if (blob_len) hash_ctx_update(&h, blob, blob_len);
  hash_ctx_final(&h, out);
}

void tx_result_frost_msg(const cx_hash *statement, const cx_tx_call_result *r, uint8_t out[64]) {
  hash_ctx h;
  cx_hash blobs;
  uint8_t vb[CX_VARINT_MAX];
  hash_ctx_init(&h, CX_TAG_RESULT_BLOBS);
  hash_ctx_update(&h, vb, varint_put(vb, r->nsig));
  for (size_t i = 0; i < r->nsig; i++) {
    const cx_result_sig *s = &r->sigs[i];
    hash_ctx_update(&h, &s->party, 1);
    hash_ctx_update(&h, vb, varint_put(vb, s->blob_len));
    if (s->blob_len) hash_ctx_update(&h, s->blob, s->blob_len);
  }
  hash_ctx_final(&h, &blobs);
  memcpy(out, statement->b, 32);
  memcpy(out + 32, blobs.b, 32);
}

void tx_result_batch_leaf(const uint8_t frost_msg[64], cx_hash *leaf) {
  hash_tagged(CX_TAG_RESULT_LEAF, frost_msg, 64, leaf);
}

void tx_result_batch_msg(const cx_hash *root, size_t n, uint8_t out[32]) {
  CX_ASSERT(n >= 2 && n <= CX_RESULT_BATCH_MAX);
  uint8_t b[33];
  cx_hash h;
  b[0] = (uint8_t)n;
  memcpy(b + 1, root->b, 32);
  hash_tagged(CX_TAG_RESULT_BATCH, b, sizeof b, &h);
  memcpy(out, h.b, 32);
}

size_t tx_result_signed_msg(const cx_hash *statement, const cx_tx_call_result *r, uint8_t out[64]) {
  if (r->proof != CX_RESULT_PROOF_FROST && r->proof != CX_RESULT_PROOF_FROST_BATCH) return 0;
  tx_result_frost_msg(statement, r, out);
  if (r->proof == CX_RESULT_PROOF_FROST) return 64;
  cx_hash leaf, root;
  tx_result_batch_leaf(out, &leaf);
  if (r->batch_n < 2 || r->batch_n > CX_RESULT_BATCH_MAX || r->batch_npath > CX_RESULT_BATCH_DEPTH ||
      !merkle_climb(&leaf, r->batch_idx, r->batch_n, r->batch_path, r->batch_npath, &root))
    return 0;
  tx_result_batch_msg(&root, r->batch_n, out);
  return 32;
}

/* ---- consortium keys (docs/keys.md §3) ---- */

cx_err tx_key_deal_set(cx_tx *tx, const uint8_t *round1, size_t len, uint32_t n) {
  CX_ASSERT(tx->type == TX_KEY_DEAL);
  cx_tx_key_deal *k = &tx->u.kdeal;
  if (len > CX_KEY_ROUND1_MAX || n > CX_MAX_VALIDATORS) return CX_E_TOO_LONG;
  if (len == 0 || n == 0) return CX_E_INVALID_ARG;
  uint8_t *r1 = malloc(len), *sl = calloc(n, CX_KEY_SEALED_LEN);
  if (!r1 || !sl) {
    free(r1);
    free(sl);
    return CX_E_NOMEM;
  }
  memcpy(r1, round1, len);
  free(k->round1);
  free(k->sealed);
  k->round1 = r1;
  k->round1_len = len;
  k->sealed = sl;
  k->n = n;
  memset(k->sealed_present, 0, sizeof k->sealed_present);
  return CX_OK;
}

cx_err tx_key_deal_set_slot(cx_tx *tx, uint32_t j, const uint8_t sealed[CX_KEY_SEALED_LEN]) {
  CX_ASSERT(tx->type == TX_KEY_DEAL);
  cx_tx_key_deal *k = &tx->u.kdeal;
  if (!k->sealed || j >= k->n) return CX_E_INVALID_ARG;
  memcpy(k->sealed + (size_t)j * CX_KEY_SEALED_LEN, sealed, CX_KEY_SEALED_LEN);
  k->sealed_present[j] = 1;
  return CX_OK;
}

void tx_key_context(const cx_hash *chain_id, const char *name, uint32_t epoch, uint8_t t,
                    const cx_pubkey *parties, uint32_t n, uint8_t out[32]) {
  hash_ctx h;
  cx_hash r;
  uint8_t vb[CX_VARINT_MAX];
  size_t nl = strlen(name);
  hash_ctx_init(&h, CX_TAG_KEY);
  hash_ctx_update(&h, chain_id->b, 32);
  hash_ctx_update(&h, vb, varint_put(vb, nl)); /* str name: varint len | bytes */
  hash_ctx_update(&h, name, nl);
  hash_ctx_update(&h, vb, varint_put(vb, epoch));
  hash_ctx_update(&h, &t, 1);
  hash_ctx_update(&h, vb, varint_put(vb, n));
  for (uint32_t i = 0; i < n; i++) hash_ctx_update(&h, parties[i].b, 32);
  hash_ctx_final(&h, &r);
  memcpy(out, r.b, 32);
}

/* Written as given: a bad field is the decoder's to refuse. */
static void key_enc(cx_enc *e, const cx_tx *tx) {
  switch (tx->type) {
    case TX_KEY_CREATE:
      enc_str(e, tx->u.kcreate.name);
      enc_u8(e, tx->u.kcreate.purpose);
      enc_u8(e, tx->u.kcreate.t);
      enc_u8(e, tx->u.kcreate.k);
      break;
    case TX_KEY_DEAL: {
      const cx_tx_key_deal *k = &tx->u.kdeal;
      enc_str(e, k->name);
      enc_varint(e, k->epoch);
      enc_bytes(e, k->round1, k->round1_len);
      enc_varint(e, k->n);
      for (uint32_t j = 0; j < k->n; j++)
        enc_bytes(e, k->sealed + (size_t)j * CX_KEY_SEALED_LEN, k->sealed_present[j] ? CX_KEY_SEALED_LEN : 0);
      break;
    }
    case TX_KEY_VERDICT: {
      const cx_tx_key_verdict *k = &tx->u.kverdict;
      enc_str(e, k->name);
      enc_varint(e, k->epoch);
      enc_varint(e, k->k);
      for (uint32_t i = 0; i < k->k && i < CX_MAX_VALIDATORS; i++)
        enc_bytes(e, k->complaint[i], k->complaint_len[i]);
      break;
    }
    case TX_KEY_ANSWER:
      enc_str(e, tx->u.kanswer.name);
      enc_varint(e, tx->u.kanswer.epoch);
      enc_bytes(e, tx->u.kanswer.answer, CX_KEY_ANSWER_LEN);
      break;
    case TX_KEY_ADVANCE:
      enc_str(e, tx->u.kadvance.name);
      enc_varint(e, tx->u.kadvance.epoch);
      enc_u8(e, tx->u.kadvance.phase);
      break;
    case TX_KEY_RESHARE:
      enc_str(e, tx->u.kreshare.name);
      enc_varint(e, tx->u.kreshare.epoch);
      break;
  }
}

/* str name (STR_IDENT, 1..16) | varint epoch (u32): the head of every body
 * but key_create's. */
static int key_head_dec(cx_dec *d, char name[CX_KEY_NAME_MAX + 1], uint32_t *epoch) {
  uint64_t ep;
  if (dec_str(d, name, CX_KEY_NAME_MAX, STR_IDENT) || dec_varint_max(d, &ep, UINT32_MAX)) return -1;
  *epoch = (uint32_t)ep;
  return 0;
}

/* bytes of lo..hi bytes: CX_E_TOO_LONG over hi (before reading),
 * CX_E_TRUNCATED under lo; *p borrowed. */
static int bytes_range_dec(cx_dec *d, const uint8_t **p, size_t *n, size_t lo, size_t hi) {
  size_t at = d->off;
  if (dec_bytes(d, p, n, hi)) return -1;
  if (*n < lo) {
    d->off = at;
    return dec_fail(d, CX_E_TRUNCATED);
  }
  return 0;
}

static int key_deal_dec(cx_dec *d, cx_tx_key_deal *k) {
  const uint8_t *b;
  size_t bl, at;
  uint64_t n;
  if (key_head_dec(d, k->name, &k->epoch) || bytes_range_dec(d, &b, &bl, 1, CX_KEY_ROUND1_MAX)) return -1;
  if (!(k->round1 = malloc(bl))) return dec_fail(d, CX_E_NOMEM);
  memcpy(k->round1, b, bl);
  k->round1_len = bl;
  at = d->off;
  if (dec_varint_max(d, &n, CX_MAX_VALIDATORS)) return -1;
  if (n == 0) { /* a key has parties: at least the dealer */
    d->off = at;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  /* Each slot takes at least its length byte: a count the input cannot
   * hold is refused before anything is allocated. */
  if (n > d->len - d->off) return dec_fail(d, CX_E_TRUNCATED);
  if (!(k->sealed = calloc((size_t)n, CX_KEY_SEALED_LEN))) return dec_fail(d, CX_E_NOMEM);
  k->n = (uint32_t)n;
  for (uint32_t j = 0; j < k->n; j++) {
    at = d->off;
    if (dec_bytes(d, &b, &bl, CX_KEY_SEALED_LEN)) return -1;
    if (bl == 0) continue;
    if (bl != CX_KEY_SEALED_LEN) { /* empty or one whole sealed share */
      d->off = at;
      return dec_fail(d, CX_E_TRUNCATED);
    }
    memcpy(k->sealed + (size_t)j * CX_KEY_SEALED_LEN, b, bl);
    k->sealed_present[j] = 1;
  }
  return 0;
}

static int key_verdict_dec(cx_dec *d, cx_tx_key_verdict *k) {
  const uint8_t *b;
  size_t bl;
  uint64_t n;
  if (key_head_dec(d, k->name, &k->epoch) || dec_varint_max(d, &n, CX_MAX_VALIDATORS)) return -1;
  k->k = (uint32_t)n;
  for (uint32_t i = 0; i < k->k; i++) {
    if (bytes_range_dec(d, &b, &bl, 1, CX_KEY_COMPLAINT_MAX)) return -1;
    memcpy(k->complaint[i], b, bl);
    k->complaint_len[i] = (uint8_t)bl;
  }
  return 0;
}

static int key_dec(cx_dec *d, cx_tx *tx) {
  const uint8_t *b;
  size_t bl;
  switch (tx->type) {
    case TX_KEY_CREATE:
      return dec_str(d, tx->u.kcreate.name, CX_KEY_NAME_MAX, STR_IDENT) ||
                     dec_enum(d, &tx->u.kcreate.purpose, CX_KEY_PURPOSE_RESULTS, CX_KEY_PURPOSE_CUSTODY) ||
                     dec_u8(d, &tx->u.kcreate.t) || dec_u8(d, &tx->u.kcreate.k)
                 ? -1
                 : 0;
    case TX_KEY_DEAL:
      return key_deal_dec(d, &tx->u.kdeal);
    case TX_KEY_VERDICT:
      return key_verdict_dec(d, &tx->u.kverdict);
    case TX_KEY_ANSWER:
      if (key_head_dec(d, tx->u.kanswer.name, &tx->u.kanswer.epoch) ||
          bytes_range_dec(d, &b, &bl, CX_KEY_ANSWER_LEN, CX_KEY_ANSWER_LEN))
        return -1;
      memcpy(tx->u.kanswer.answer, b, bl);
      return 0;
    case TX_KEY_ADVANCE:
      return key_head_dec(d, tx->u.kadvance.name, &tx->u.kadvance.epoch) ||
                     dec_enum(d, &tx->u.kadvance.phase, CX_KEY_PHASE_DEALING, CX_KEY_PHASE_VERIFYING)
                 ? -1
                 : 0;
    case TX_KEY_RESHARE:
      return key_head_dec(d, tx->u.kreshare.name, &tx->u.kreshare.epoch);
  }
  return dec_fail(d, CX_E_BAD_ENUM);
}

/* ---- custody signing (docs/keys.md §9, docs/transactions.md §3.17) ---- */

cx_err tx_sign_request_set(cx_tx *tx, const uint8_t *msg, size_t len) {
  CX_ASSERT(tx->type == TX_SIGN_REQUEST);
  if (len > CX_SIGN_MSG_MAX) return CX_E_TOO_LONG;
  if (len == 0 || !msg) return CX_E_INVALID_ARG;
  uint8_t *m = malloc(len);
  if (!m) return CX_E_NOMEM;
  memcpy(m, msg, len);
  free(tx->u.sreq.msg);
  tx->u.sreq.msg = m;
  tx->u.sreq.msg_len = len;
  return CX_OK;
}

/* Written as given: a bad field is the decoder's to refuse. */
static void sign_enc(cx_enc *e, const cx_tx *tx) {
  switch (tx->type) {
    case TX_SIGN_REQUEST:
      enc_str(e, tx->u.sreq.key);
      enc_bytes(e, tx->u.sreq.msg, tx->u.sreq.msg_len);
      break;
    case TX_SIGN_APPROVE:
      enc_fixed(e, tx->u.sapprove.request.b, 32);
      break;
    case TX_SIGN_RESULT:
      enc_fixed(e, tx->u.sres.request.b, 32);
      enc_fixed(e, tx->u.sres.sig.b, 64);
      break;
  }
}

/* sign_request: str key (IDENT, 1..16) | bytes msg (1..CX_SIGN_MSG_MAX:
 * too_long over, before anything is read; truncated when empty).
 * sign_approve: request[32]. sign_result: request[32] | sig[64]. */
static int sign_dec(cx_dec *d, cx_tx *tx) {
  const uint8_t *b;
  size_t bl;
  switch (tx->type) {
    case TX_SIGN_REQUEST:
      if (dec_str(d, tx->u.sreq.key, CX_KEY_NAME_MAX, STR_IDENT) ||
          bytes_range_dec(d, &b, &bl, 1, CX_SIGN_MSG_MAX))
        return -1;
      if (!(tx->u.sreq.msg = malloc(bl))) return dec_fail(d, CX_E_NOMEM);
      memcpy(tx->u.sreq.msg, b, bl);
      tx->u.sreq.msg_len = bl;
      return 0;
    case TX_SIGN_APPROVE:
      return dec_fixed(d, tx->u.sapprove.request.b, 32);
    case TX_SIGN_RESULT:
      return dec_fixed(d, tx->u.sres.request.b, 32) || dec_fixed(d, tx->u.sres.sig.b, 64) ? -1 : 0;
  }
  return dec_fail(d, CX_E_BAD_ENUM);
}

/* ---- MPC evidence (docs/transactions.md §3.15) ---- */

void tx_call_session_id(const cx_hash *chain_id, const cx_hash *call, uint8_t kind, uint8_t out[32]) {
  static const char *const what[] = {[CX_MPC_SESSION_PREP] = "prep", [CX_MPC_SESSION_BITS] = "bits",
                                     [CX_MPC_SESSION_ONLINE] = "online"};
  CX_ASSERT(kind >= CX_MPC_SESSION_PREP && kind <= CX_MPC_SESSION_ONLINE);
  hash_ctx h;
  cx_hash r;
  hash_ctx_init(&h, CX_TAG_MPC_CALL);
  hash_ctx_update(&h, what[kind], strlen(what[kind]));
  hash_ctx_update(&h, chain_id->b, 32);
  hash_ctx_update(&h, call->b, 32);
  hash_ctx_final(&h, &r);
  memcpy(out, r.b, 32);
}

/* Frees the messages and aux of an evidence body. */
static void mev_free_parts(cx_tx_mpc_evidence *v) {
  for (size_t i = 0; v->msg && i < v->count; i++) free(v->msg[i]);
  free(v->msg);
  free(v->len);
  free(v->aux);
  v->msg = NULL;
  v->len = NULL;
  v->aux = NULL;
  v->count = v->aux_len = 0;
}

cx_err tx_mpc_evidence_set(cx_tx *tx, const uint8_t *const *msg, const size_t *len, size_t count,
                           const uint8_t *aux, size_t aux_len) {
  CX_ASSERT(tx->type == TX_MPC_EVIDENCE);
  if (count == 0 || !msg || !len) return CX_E_INVALID_ARG;
  if (count > CX_MEV_MAX_MSGS || aux_len > CX_MEV_AUX_MAX) return CX_E_TOO_LONG;
  for (size_t i = 0; i < count; i++)
    if (len[i] > CX_MEV_MSG_MAX) return CX_E_TOO_LONG;
  cx_tx_mpc_evidence v = {0};
  v.msg = calloc(count, sizeof *v.msg);
  v.len = calloc(count, sizeof *v.len);
  v.count = count;
  int bad = !v.msg || !v.len;
  for (size_t i = 0; !bad && i < count; i++) {
    v.msg[i] = malloc(len[i] ? len[i] : 1);
    bad = !v.msg[i];
    if (!bad && len[i]) memcpy(v.msg[i], msg[i], len[i]);
    v.len[i] = len[i];
  }
  if (!bad && aux_len) {
    v.aux = malloc(aux_len);
    bad = !v.aux;
    if (!bad) memcpy(v.aux, aux, aux_len);
  }
  if (bad) {
    mev_free_parts(&v);
    return CX_E_NOMEM;
  }
  v.aux_len = aux_len;
  mev_free_parts(&tx->u.mev);
  tx->u.mev.msg = v.msg;
  tx->u.mev.len = v.len;
  tx->u.mev.count = v.count;
  tx->u.mev.aux = v.aux;
  tx->u.mev.aux_len = v.aux_len;
  return CX_OK;
}

static void mev_enc(cx_enc *e, const cx_tx_mpc_evidence *v) {
  /* Written as given: a bad field is the decoder's to refuse. */
  enc_fixed(e, v->call.b, 32);
  enc_u8(e, v->session);
  enc_u8(e, v->ev_type);
  enc_u8(e, v->culprit);
  enc_varint(e, v->item);
  enc_varint(e, v->count);
  for (size_t i = 0; i < v->count; i++) enc_bytes(e, v->msg[i], v->len[i]);
  enc_bytes(e, v->aux, v->aux_len);
}

/* mpc.h: only a wrong share's element index and a client check's slot are
 * items; only a client check has public data besides its messages. */
static int mev_has_item(uint8_t type) { return type == CX_MEV_WRONG_SHARE || type == CX_MEV_CLIENT; }

static int mev_dec(cx_dec *d, cx_tx_mpc_evidence *v) {
  uint64_t n;
  const uint8_t *b;
  size_t bl, at;
  if (dec_fixed(d, v->call.b, 32) || dec_enum(d, &v->session, CX_MPC_SESSION_PREP, CX_MPC_SESSION_ONLINE) ||
      dec_enum(d, &v->ev_type, 1, CX_MEV_TYPE_MAX))
    return -1;
  at = d->off;
  if (dec_u8(d, &v->culprit)) return -1;
  if (v->culprit >= CX_MAX_VALIDATORS) { /* a party is one of at most CX_MAX_VALIDATORS */
    d->off = at;
    return dec_fail(d, CX_E_TOO_LONG);
  }
  at = d->off;
  if (dec_varint(d, &v->item)) return -1;
  if (v->item && !mev_has_item(v->ev_type)) {
    d->off = at;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  at = d->off;
  if (dec_varint_max(d, &n, CX_MEV_MAX_MSGS)) return -1;
  if (n == 0) { /* no message proves nothing */
    d->off = at;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  /* Each message takes a length byte and at least CX_MEV_MSG_MIN bytes: a
   * count the input cannot hold is refused before anything is allocated. */
  if (n > (d->len - d->off) / (1 + CX_MEV_MSG_MIN)) return dec_fail(d, CX_E_TRUNCATED);
  v->msg = calloc((size_t)n, sizeof *v->msg);
  v->len = calloc((size_t)n, sizeof *v->len);
  if (!v->msg || !v->len) return dec_fail(d, CX_E_NOMEM);
  v->count = (size_t)n;
  for (size_t i = 0; i < v->count; i++) {
    at = d->off;
    if (dec_bytes(d, &b, &bl, CX_MEV_MSG_MAX)) return -1;
    if (bl < CX_MEV_MSG_MIN) { /* shorter than an engine header and its signature */
      d->off = at;
      return dec_fail(d, CX_E_TRUNCATED);
    }
    if (!(v->msg[i] = malloc(bl))) return dec_fail(d, CX_E_NOMEM);
    memcpy(v->msg[i], b, bl);
    v->len[i] = bl;
  }
  at = d->off;
  if (dec_bytes(d, &b, &bl, CX_MEV_AUX_MAX)) return -1;
  if (bl && v->ev_type != CX_MEV_CLIENT) {
    d->off = at;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  if (bl) {
    if (!(v->aux = malloc(bl))) return dec_fail(d, CX_E_NOMEM);
    memcpy(v->aux, b, bl);
  }
  v->aux_len = bl;
  return 0;
}

/* ---- names ---- */

static const char *const type_names[] = {
    [TX_MEMBER_PROPOSE] = "member_propose",   [TX_MEMBER_APPROVE] = "member_approve",
    [TX_ID_REGISTER] = "identity_register",   [TX_ID_ATTEST] = "identity_attest",
    [TX_ID_ROTATE] = "identity_rotate",       [TX_ID_REVOKE] = "identity_revoke",
    [TX_CONSENT_GRANT] = "consent_grant",     [TX_CONSENT_REVOKE] = "consent_revoke",
    [TX_CONTRACT_DEPLOY] = "contract_deploy", [TX_CONTRACT_APPROVE] = "contract_approve",
    [TX_CONTRACT_RETIRE] = "contract_retire", [TX_EVIDENCE] = "evidence",
    [TX_MPC_EVIDENCE] = "mpc_evidence",
    [TX_CALL] = "call",                       [TX_CALL_RESULT] = "call_result",
    [TX_VAULT_ANCHOR] = "vault_anchor",
    [TX_KEY_CREATE] = "key_create",           [TX_KEY_DEAL] = "key_deal",
    [TX_KEY_VERDICT] = "key_verdict",         [TX_KEY_ANSWER] = "key_answer",
    [TX_KEY_ADVANCE] = "key_advance",
    [TX_SIGN_REQUEST] = "sign_request",       [TX_SIGN_APPROVE] = "sign_approve",
    [TX_SIGN_RESULT] = "sign_result",       [TX_KEY_RESHARE] = "key_reshare",
    [TX_COMMAND] = "command",
};
#define NTYPES (sizeof type_names / sizeof type_names[0])

static int type_known(int t) { return t > 0 && (size_t)t < NTYPES && type_names[t]; }

const char *tx_type_name(int type) { return type_known(type) ? type_names[type] : "unknown"; }

static int parse_in(const char *const *names, size_t n, const char *s) {
  if (!s) return -1;
  for (size_t i = 0; i < n; i++)
    if (names[i] && strcmp(names[i], s) == 0) return (int)i;
  return -1;
}

int tx_type_parse(const char *s) { return parse_in(type_names, NTYPES, s); }

static const char *const role_names[] = {NULL, "bureau", "insurer", "auditor", "regulator"};
const char *role_name(int r) { return r >= ROLE_BUREAU && r <= ROLE_REGULATOR ? role_names[r] : "unknown"; }
int role_parse(const char *s) { return parse_in(role_names, 5, s); }

static const char *const level_names[] = {NULL, "EA5-", "EA5+"};
const char *level_name(int l) { return l >= LEVEL_EA5_MINUS && l <= LEVEL_EA5_PLUS ? level_names[l] : "unknown"; }
int level_parse(const char *s) { return parse_in(level_names, 3, s); }

static const char *const gov_names[] = {NULL, "add", "remove", "rekey"};
const char *gov_action_name(int a) { return a >= GOV_ADD && a <= GOV_REKEY ? gov_names[a] : "unknown"; }
int gov_action_parse(const char *s) { return parse_in(gov_names, 4, s); }

/* ---- domain sets ---- */

cx_err domain_set_add(cx_domain_set *s, const char *name) {
  if (!str_valid(name, CX_DOMAIN_MAX, STR_IDENT)) return CX_E_BAD_STRING;
  size_t i = 0;
  while (i < s->n && strcmp(s->d[i].name, name) < 0) i++;
  if (i < s->n && strcmp(s->d[i].name, name) == 0) return CX_E_EXISTS;
  if (s->n >= CX_DOMAINS_MAX) return CX_E_FULL;
  memmove(&s->d[i + 1], &s->d[i], (s->n - i) * sizeof s->d[0]);
  strcpy(s->d[i].name, name);
  s->n++;
  return CX_OK;
}

int domain_set_has(const cx_domain_set *s, const char *name) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->d[i].name, name) == 0) return 1;
  return 0;
}

int domain_set_eq(const cx_domain_set *a, const cx_domain_set *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->d[i].name, b->d[i].name) != 0) return 0;
  return 1;
}

cx_err domain_set_parse(const char *csv, cx_domain_set *out) {
  memset(out, 0, sizeof *out);
  if (!csv || !*csv) return CX_OK;
  const char *p = csv;
  for (;;) {
    const char *c = strchr(p, ',');
    size_t n = c ? (size_t)(c - p) : strlen(p);
    char name[CX_DOMAIN_MAX + 1];
    if (n == 0 || n > CX_DOMAIN_MAX) return n ? CX_E_TOO_LONG : CX_E_BAD_STRING;
    memcpy(name, p, n);
    name[n] = 0;
    cx_err e = domain_set_add(out, name);
    if (e) return e;
    if (!c) return CX_OK;
    p = c + 1;
  }
}

void domain_set_enc(cx_enc *e, const cx_domain_set *s) {
  enc_varint(e, s->n);
  for (size_t i = 0; i < s->n; i++) enc_str(e, s->d[i].name);
}

int domain_set_dec(cx_dec *d, cx_domain_set *s) {
  uint64_t n;
  memset(s, 0, sizeof *s);
  if (dec_varint_max(d, &n, CX_DOMAINS_MAX)) return -1;
  for (size_t i = 0; i < n; i++) {
    size_t at = d->off;
    if (dec_str(d, s->d[i].name, CX_DOMAIN_MAX, STR_IDENT)) return -1;
    if (i > 0 && strcmp(s->d[i - 1].name, s->d[i].name) >= 0) {
      d->off = at;
      return dec_fail(d, CX_E_UNSORTED);
    }
  }
  s->n = (uint8_t)n;
  return 0;
}

/* ---- members ---- */

void member_enc(cx_enc *e, const cx_member *m) {
  enc_str(e, m->name);
  enc_u8(e, m->role);
  enc_fixed(e, m->key.b, 32);
  enc_fixed(e, m->enc_key, 32);
  enc_bool(e, m->validator);
  enc_str(e, m->address);
  domain_set_enc(e, &m->domains);
}

int member_dec(cx_dec *d, cx_member *m) {
  int v;
  memset(m, 0, sizeof *m);
  if (dec_str(d, m->name, CX_NAME_MAX, STR_IDENT) ||
      dec_enum(d, &m->role, ROLE_BUREAU, ROLE_REGULATOR) || dec_fixed(d, m->key.b, 32) ||
      dec_fixed(d, m->enc_key, 32) || dec_bool(d, &v))
    return -1;
  m->validator = (uint8_t)v;
  size_t at = d->off;
  if (dec_str(d, m->address, CX_ADDR_MAX, STR_ADDR)) return -1;
  /* One encoding per meaning: an address only for validators (required). */
  if ((m->validator && !m->address[0]) || (!m->validator && m->address[0])) {
    d->off = at;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  at = d->off;
  if (domain_set_dec(d, &m->domains)) return -1;
  if (m->role != ROLE_BUREAU && m->domains.n) {
    d->off = at;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  return 0;
}

/* ---- evidence ---- */

static int half_dec(cx_dec *d, uint8_t msg_type, cx_cs_signed *h) {
  uint64_t pol;
  size_t at = d->off;
  /* pol_round + 1 <= UINT32_MAX: round UINT32_MAX is not a round (bft.h). */
  if (dec_varint_max(d, &pol, UINT32_MAX)) return -1;
  if (msg_type != CX_CS_PROPOSAL && pol != 0) {
    d->off = at;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  h->pol_round = (uint32_t)pol - 1u; /* 0 -> CX_CS_NIL_ROUND */
  return dec_fixed(d, h->block_hash.b, 32) || dec_fixed(d, h->sig.b, 64) ? -1 : 0;
}

/* What a validator signed in a half: the digest's inputs besides
 * (chain, height, round), i.e. the half without its signature. */
static int same_content(uint8_t msg_type, const cx_cs_signed *a, const cx_cs_signed *b) {
  return hash_eq(&a->block_hash, &b->block_hash) &&
         (msg_type != CX_CS_PROPOSAL || a->pol_round == b->pol_round);
}

/* The encoding of a half (half_enc) into a buffer; returns its length. */
#define HALF_MAX (5 + 32 + 64)
static size_t half_bytes(uint8_t msg_type, const cx_cs_signed *h, uint8_t out[HALF_MAX]) {
  uint32_t v = msg_type == CX_CS_PROPOSAL ? (uint32_t)(h->pol_round + 1u) : 0;
  size_t n = varint_put(out, v);
  memcpy(out + n, h->block_hash.b, 32);
  memcpy(out + n + 32, h->sig.b, 64);
  return n + 96;
}

/* Bytewise order of two encoded halves (shorter first on a common prefix).
 * Different contents are told apart before the signatures: varints are
 * prefix-free, so this orders by (varint pol_round+1 | block_hash). */
static int bytes_cmp(const uint8_t *a, size_t la, const uint8_t *b, size_t lb) {
  int c = memcmp(a, b, la < lb ? la : lb);
  return c ? c : (la > lb) - (la < lb);
}

static void half_enc(cx_enc *e, uint8_t msg_type, const cx_cs_signed *h) {
  uint8_t buf[HALF_MAX];
  enc_fixed(e, buf, half_bytes(msg_type, h, buf));
}

static int half_cmp(uint8_t msg_type, const cx_cs_signed *a, const cx_cs_signed *b) {
  uint8_t ea[HALF_MAX], eb[HALF_MAX];
  size_t la = half_bytes(msg_type, a, ea), lb = half_bytes(msg_type, b, eb);
  return bytes_cmp(ea, la, eb, lb);
}

cx_err tx_evidence_check(const cx_tx_evidence *ev) {
  if (ev->msg_type < CX_CS_PROPOSAL || ev->msg_type > CX_CS_PRECOMMIT) return CX_E_BAD_ENUM;
  if (ev->round == UINT32_MAX) return CX_E_TOO_LONG;
  if (same_content(ev->msg_type, &ev->half[0], &ev->half[1])) return CX_E_NOT_CONFLICTING;
  if (half_cmp(ev->msg_type, &ev->half[0], &ev->half[1]) > 0) return CX_E_NONCANONICAL;
  return CX_OK;
}

int tx_evidence_order(cx_tx_evidence *ev) {
  CX_ASSERT(ev->msg_type >= CX_CS_PROPOSAL && ev->msg_type <= CX_CS_PRECOMMIT);
  if (same_content(ev->msg_type, &ev->half[0], &ev->half[1])) return 0;
  if (half_cmp(ev->msg_type, &ev->half[0], &ev->half[1]) > 0) {
    cx_cs_signed t = ev->half[0];
    ev->half[0] = ev->half[1];
    ev->half[1] = t;
  }
  return 1;
}

void evidence_enc(cx_enc *e, const cx_tx_evidence *ev) {
  /* Written as given: a bad msg_type or order is the decoder's to refuse. */
  enc_fixed(e, ev->accused.b, 32);
  enc_u8(e, ev->msg_type);
  enc_varint(e, ev->height);
  enc_varint(e, ev->round);
  half_enc(e, ev->msg_type, &ev->half[0]);
  half_enc(e, ev->msg_type, &ev->half[1]);
}

int evidence_dec(cx_dec *d, cx_tx_evidence *ev) {
  uint64_t round;
  if (dec_fixed(d, ev->accused.b, 32) ||
      dec_enum(d, &ev->msg_type, CX_CS_PROPOSAL, CX_CS_PRECOMMIT) ||
      dec_varint(d, &ev->height) || dec_varint_max(d, &round, UINT32_MAX - 1))
    return -1;
  ev->round = (uint32_t)round;
  size_t a = d->off;
  if (half_dec(d, ev->msg_type, &ev->half[0])) return -1;
  size_t b = d->off;
  if (half_dec(d, ev->msg_type, &ev->half[1])) return -1;
  /* Two signatures of one message are no equivocation (BIP340 signing is
   * randomised: re-signing gives another signature). */
  if (same_content(ev->msg_type, &ev->half[0], &ev->half[1])) {
    d->off = b;
    return dec_fail(d, CX_E_NOT_CONFLICTING);
  }
  /* The halves are a set of two, ascending: the bytes decoded are the
   * encodings. */
  if (bytes_cmp(d->p + a, b - a, d->p + b, d->off - b) > 0) {
    d->off = a;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  return 0;
}

/* ---- transactions ---- */

static void body_enc(cx_enc *e, const cx_tx *tx) {
  const cx_member *m;
  switch (tx->type) {
    case TX_MEMBER_PROPOSE:
      m = &tx->u.propose.member;
      enc_u8(e, tx->u.propose.action);
      if (tx->u.propose.action == GOV_ADD) {
        member_enc(e, m);
      } else if (tx->u.propose.action == GOV_REMOVE) {
        enc_str(e, m->name);
      } else {
        enc_str(e, m->name);
        enc_fixed(e, m->key.b, 32);
        enc_fixed(e, m->enc_key, 32);
      }
      enc_varint(e, tx->u.propose.expires);
      break;
    case TX_MEMBER_APPROVE:
      enc_fixed(e, tx->u.approve.proposal.b, 32);
      break;
    case TX_ID_REGISTER:
      enc_fixed(e, tx->u.reg.did.b, 32);
      break;
    case TX_ID_ATTEST:
      enc_fixed(e, tx->u.attest.did.b, 32);
      enc_u8(e, tx->u.attest.level);
      break;
    case TX_ID_ROTATE:
      enc_fixed(e, tx->u.rotate.did.b, 32);
      enc_fixed(e, tx->u.rotate.new_key.b, 32);
      break;
    case TX_ID_REVOKE:
      enc_fixed(e, tx->u.revoke.did.b, 32);
      break;
    case TX_CONSENT_GRANT: {
      const cx_tx_consent_grant *g = &tx->u.grant;
      enc_fixed(e, g->did.b, 32);
      enc_str(e, g->insurer);
      domain_set_enc(e, &g->domains);
      enc_fixed(e, g->contract.b, 32);
      enc_str(e, g->purpose);
      enc_varint(e, g->expires);
      enc_varint(e, g->quota);
      enc_fixed(e, g->evidence.b, 32);
      break;
    }
    case TX_CONSENT_REVOKE:
      enc_fixed(e, tx->u.crevoke.consent.b, 32);
      break;
    case TX_CONTRACT_DEPLOY:
      enc_str(e, tx->u.deploy.name);
      domain_set_enc(e, &tx->u.deploy.domains);
      enc_bytes(e, tx->u.deploy.source, tx->u.deploy.source_len);
      enc_bytes(e, tx->u.deploy.bytecode, tx->u.deploy.bytecode_len);
      break;
    case TX_CONTRACT_APPROVE:
    case TX_CONTRACT_RETIRE:
      enc_fixed(e, tx->u.cref.contract.b, 32);
      break;
    case TX_EVIDENCE:
      evidence_enc(e, &tx->u.evidence);
      break;
    case TX_MPC_EVIDENCE:
      mev_enc(e, &tx->u.mev);
      break;
    case TX_CALL:
      call_enc(e, &tx->u.call);
      break;
    case TX_CALL_RESULT:
      result_enc(e, &tx->u.result);
      break;
    case TX_VAULT_ANCHOR:
      enc_str(e, tx->u.anchor.domain);
      enc_fixed(e, tx->u.anchor.root.b, 32);
      enc_varint(e, tx->u.anchor.count);
      break;
    case TX_KEY_CREATE:
    case TX_KEY_DEAL:
    case TX_KEY_VERDICT:
    case TX_KEY_ANSWER:
    case TX_KEY_ADVANCE:
    case TX_KEY_RESHARE:
      key_enc(e, tx);
      break;
    case TX_SIGN_REQUEST:
    case TX_SIGN_APPROVE:
    case TX_SIGN_RESULT:
      sign_enc(e, tx);
      break;
    default:
      CX_ASSERT(!"tx_encode: unknown type");
  }
}

void tx_command_encode(const uint8_t payload[CX_COMMAND_PAYLOAD], uint8_t out[CX_COMMAND_BYTES]) {
  out[0] = CX_TX_VERSION;
  out[1] = TX_COMMAND;
  memcpy(out + 2, payload, CX_COMMAND_PAYLOAD);
}

cx_err tx_encode(const cx_tx *tx, int with_sig, uint8_t **out, size_t *len) {
  if (tx->type == TX_COMMAND) { /* no envelope: docs/transactions.md "Commands" */
    if (!(*out = malloc(CX_COMMAND_BYTES))) return CX_E_NOMEM;
    tx_command_encode(tx->u.cmd.payload, *out);
    *len = CX_COMMAND_BYTES;
    return CX_OK;
  }
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, CX_TX_VERSION);
  enc_u8(&e, tx->type);
  enc_fixed(&e, tx->chain_id.b, 32);
  enc_fixed(&e, tx->sender.b, 32);
  enc_varint(&e, tx->nonce);
  body_enc(&e, tx);
  if (with_sig) enc_fixed(&e, tx->sig.b, 64);
  cx_err err = enc_finish(&e);
  if (err) {
    enc_free(&e);
    return err;
  }
  if (e.len > CX_TX_MAX_BYTES) {
    enc_free(&e);
    return CX_E_TX_TOO_BIG;
  }
  *out = enc_take(&e, len);
  return CX_OK;
}

static int body_dec(cx_dec *d, cx_tx *tx) {
  switch (tx->type) {
    case TX_MEMBER_PROPOSE: {
      cx_tx_member_propose *p = &tx->u.propose;
      if (dec_enum(d, &p->action, GOV_ADD, GOV_REKEY)) return -1;
      if (p->action == GOV_ADD) {
        if (member_dec(d, &p->member)) return -1;
      } else if (p->action == GOV_REMOVE) {
        if (dec_str(d, p->member.name, CX_NAME_MAX, STR_IDENT)) return -1;
      } else {
        if (dec_str(d, p->member.name, CX_NAME_MAX, STR_IDENT) ||
            dec_fixed(d, p->member.key.b, 32) || dec_fixed(d, p->member.enc_key, 32))
          return -1;
      }
      return dec_varint(d, &p->expires);
    }
    case TX_MEMBER_APPROVE:
      return dec_fixed(d, tx->u.approve.proposal.b, 32);
    case TX_ID_REGISTER:
      return dec_fixed(d, tx->u.reg.did.b, 32);
    case TX_ID_ATTEST:
      if (dec_fixed(d, tx->u.attest.did.b, 32)) return -1;
      return dec_enum(d, &tx->u.attest.level, LEVEL_EA5_MINUS, LEVEL_EA5_PLUS);
    case TX_ID_ROTATE:
      if (dec_fixed(d, tx->u.rotate.did.b, 32)) return -1;
      return dec_fixed(d, tx->u.rotate.new_key.b, 32);
    case TX_ID_REVOKE:
      return dec_fixed(d, tx->u.revoke.did.b, 32);
    case TX_CONSENT_GRANT: {
      cx_tx_consent_grant *g = &tx->u.grant;
      uint64_t q;
      if (dec_fixed(d, g->did.b, 32) || dec_str(d, g->insurer, CX_NAME_MAX, STR_IDENT) ||
          domain_set_dec(d, &g->domains) || dec_fixed(d, g->contract.b, 32) ||
          dec_str(d, g->purpose, CX_PURPOSE_MAX, STR_UTF8) || dec_varint(d, &g->expires) ||
          dec_varint_max(d, &q, UINT32_MAX) || dec_fixed(d, g->evidence.b, 32))
        return -1;
      g->quota = (uint32_t)q;
      return 0;
    }
    case TX_CONSENT_REVOKE:
      return dec_fixed(d, tx->u.crevoke.consent.b, 32);
    case TX_CONTRACT_DEPLOY: {
      cx_tx_contract_deploy *c = &tx->u.deploy;
      const uint8_t *src;
      size_t n;
      if (dec_str(d, c->name, CX_NAME_MAX, STR_IDENT) || domain_set_dec(d, &c->domains))
        return -1;
      size_t at = d->off;
      if (dec_bytes(d, &src, &n, CX_SOURCE_MAX)) return -1;
      if (!text_valid(src, n, STR_TEXT)) {
        d->off = at;
        return dec_fail(d, CX_E_BAD_STRING);
      }
      c->source = malloc(n ? n : 1);
      if (!c->source) return dec_fail(d, CX_E_NOMEM);
      memcpy(c->source, src, n);
      c->source_len = n;
      /* The bytecode is checked by the deploy rule, which compiles the
       * source (vm/rules_contract.c); here only its size. */
      if (dec_bytes(d, &src, &n, CX_BYTECODE_MAX)) return -1;
      if (n == 0) return dec_fail(d, CX_E_LANG_BYTECODE);
      c->bytecode = malloc(n);
      if (!c->bytecode) return dec_fail(d, CX_E_NOMEM);
      memcpy(c->bytecode, src, n);
      c->bytecode_len = n;
      return 0;
    }
    case TX_CONTRACT_APPROVE:
    case TX_CONTRACT_RETIRE:
      return dec_fixed(d, tx->u.cref.contract.b, 32);
    case TX_EVIDENCE:
      return evidence_dec(d, &tx->u.evidence);
    case TX_MPC_EVIDENCE:
      return mev_dec(d, &tx->u.mev);
    case TX_CALL:
      return call_dec(d, &tx->u.call);
    case TX_CALL_RESULT:
      return result_dec(d, &tx->u.result);
    case TX_VAULT_ANCHOR: {
      cx_tx_vault_anchor *a = &tx->u.anchor;
      if (dec_str(d, a->domain, CX_DOMAIN_MAX, STR_IDENT) || dec_fixed(d, a->root.b, 32)) return -1;
      return dec_varint(d, &a->count);
    }
    case TX_KEY_CREATE:
    case TX_KEY_DEAL:
    case TX_KEY_VERDICT:
    case TX_KEY_ANSWER:
    case TX_KEY_ADVANCE:
    case TX_KEY_RESHARE:
      return key_dec(d, tx);
    case TX_SIGN_REQUEST:
    case TX_SIGN_APPROVE:
    case TX_SIGN_RESULT:
      return sign_dec(d, tx);
  }
  return dec_fail(d, CX_E_BAD_ENUM);
}

cx_err tx_decode(const uint8_t *buf, size_t len, cx_tx *tx, size_t *err_off) {
  cx_dec d;
  uint8_t version;
  tx_init(tx);
  if (len > CX_TX_MAX_BYTES) {
    if (err_off) *err_off = 0;
    return CX_E_TX_TOO_BIG;
  }
  dec_init(&d, buf, len);
  if (dec_u8(&d, &version)) goto out;
  if (version != CX_TX_VERSION) {
    d.off = 0;
    dec_fail(&d, CX_E_BAD_VERSION);
    goto out;
  }
  if (dec_u8(&d, &tx->type)) goto out;
  if (!type_known(tx->type)) {
    d.off = 1;
    dec_fail(&d, CX_E_BAD_ENUM);
    goto out;
  }
  if (tx->type == TX_COMMAND) { /* the payload and nothing else: 34 bytes exactly */
    if (dec_fixed(&d, tx->u.cmd.payload, CX_COMMAND_PAYLOAD)) goto out;
    dec_finish(&d);
    goto out;
  }
  if (dec_fixed(&d, tx->chain_id.b, 32) || dec_fixed(&d, tx->sender.b, 32) ||
      dec_varint(&d, &tx->nonce) || body_dec(&d, tx) || dec_fixed(&d, tx->sig.b, 64))
    goto out;
  dec_finish(&d);
out:
  if (d.err) {
    if (err_off) *err_off = d.err_off;
    tx_clear(tx);
  }
  return d.err;
}

cx_err tx_sighash(const cx_tx *tx, cx_hash *out) {
  uint8_t *buf;
  size_t len;
  if (tx->type == TX_COMMAND) return CX_E_INVALID_ARG; /* nothing is signed */
  cx_err e = tx_encode(tx, 0, &buf, &len);
  if (e) return e;
  hash_tagged(CX_TAG_TX_SIG, buf, len, out);
  free(buf);
  return CX_OK;
}

void tx_id_of_bytes(const uint8_t *enc_tx, size_t len, cx_hash *out) {
  hash_tagged(CX_TAG_TX, enc_tx, len, out);
}

cx_err tx_sign(cx_tx *tx, const cx_seckey *k) {
  cx_hash h;
  key_public(k, &tx->sender);
  cx_err e = tx_sighash(tx, &h);
  if (e) return e;
  return key_sign32(k, h.b, NULL, &tx->sig);
}

cx_err tx_verify_sig(const cx_tx *tx) {
  cx_hash h;
  if (tx->type == TX_COMMAND) return CX_E_BAD_SIG;
  cx_err e = tx_sighash(tx, &h);
  if (e) return e;
  return sig_verify(&tx->sender, h.b, 32, &tx->sig) ? CX_OK : CX_E_BAD_SIG;
}

cx_err tx_verify_sig_raw(const cx_tx *tx, const uint8_t *raw, size_t len) {
  if (tx->type == TX_COMMAND) return CX_E_BAD_SIG; /* has none (and is 34 bytes) */
  CX_ASSERT(len > 64 && memcmp(raw + len - 64, tx->sig.b, 64) == 0);
  cx_hash h;
  hash_tagged(CX_TAG_TX_SIG, raw, len - 64, &h);
  return sig_verify(&tx->sender, h.b, 32, &tx->sig) ? CX_OK : CX_E_BAD_SIG;
}

cx_err did_derive(const uint8_t *salt, size_t salt_len, const char *national_id, cx_hash *out) {
  if (salt_len == 0 || salt_len > CX_SALT_MAX || !national_id || !*national_id)
    return CX_E_INVALID_ARG;
  uint8_t l = (uint8_t)salt_len;
  hash_ctx c;
  hash_ctx_init(&c, CX_TAG_DID);
  hash_ctx_update(&c, &l, 1);
  hash_ctx_update(&c, salt, salt_len);
  hash_ctx_update(&c, national_id, strlen(national_id));
  hash_ctx_final(&c, out);
  return CX_OK;
}

const char *tx_key_name(const cx_tx *tx) {
  switch (tx->type) {
    case TX_KEY_CREATE: return tx->u.kcreate.name;
    case TX_KEY_DEAL: return tx->u.kdeal.name;
    case TX_KEY_VERDICT: return tx->u.kverdict.name;
    case TX_KEY_ANSWER: return tx->u.kanswer.name;
    case TX_KEY_ADVANCE: return tx->u.kadvance.name;
    case TX_KEY_RESHARE: return tx->u.kreshare.name;
    default: return NULL;
  }
}
