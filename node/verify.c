/* verify: an auditor's check of a call's result from the genesis alone
 * (docs/calls.md §7). Pure: bytes in, a report out; nothing here asks the
 * node anything, so nothing the node says is believed unchecked. */
#include "verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frost.h"
#include "keyrules.h"
#include "memstate.h"
#include "tx.h"

/* A validator set as the verifier follows it (docs/calls.md §7
 * "Validator-set changes"): the validators in signer order (by name, as
 * vm_validators and commit certificates order them; docs/calls.md §1:
 * party i is the i-th of them), with their enc keys, in force at every
 * place of the chain after the governance transaction at (h, i) and up to
 * the next change. Set 0 is the genesis's (h = i = 0). */
typedef struct {
  uint64_t h, i;
  size_t n;
  cx_pubkey keys[CX_MAX_VALIDATORS];
  uint8_t enc[CX_MAX_VALIDATORS][32];
  char names[CX_MAX_VALIDATORS][CX_NAME_MAX + 1];
} vset;

/* What every check is made against: the genesis, its chain id, and the
 * sets the governance replay derived (sets[0] the genesis's). When the
 * replay stopped on a transaction that did not check, the sets are known
 * only up to the last one that did (known_h, known_i): a place after it
 * has no known set. */
typedef struct {
  const vm_genesis *g;
  cx_hash chain_id;
  vset *sets;
  size_t nsets, cap;
  size_t ngov;      /* governance transactions replayed */
  int complete;     /* 1: the whole list replayed */
  uint64_t known_h, known_i;
} vctx;

/* A set from the members the vm lists (vm_validators: sorted by name). */
static void set_fill(vset *s, const cx_member *m, size_t n) {
  s->n = n;
  for (size_t i = 0; i < n; i++) {
    s->keys[i] = m[i].key;
    memcpy(s->enc[i], m[i].enc_key, 32);
    snprintf(s->names[i], sizeof s->names[i], "%s", m[i].name);
  }
}

static int set_same(const vset *a, const vset *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (memcmp(a->keys[i].b, b->keys[i].b, 32) || memcmp(a->enc[i], b->enc[i], 32) ||
        strcmp(a->names[i], b->names[i]))
      return 0;
  return 1;
}

/* Appends a set (after the governance transaction at (h, i)); 0 when out
 * of memory. */
static int set_push(vctx *v, const vset *s) {
  if (v->nsets == v->cap) {
    size_t cap = v->cap ? v->cap * 2 : 4;
    vset *n = realloc(v->sets, cap * sizeof *n);
    if (!n) return 0;
    v->sets = n;
    v->cap = cap;
  }
  v->sets[v->nsets++] = *s;
  return 1;
}

/* The genesis validators in signer order: set 0. */
static int vctx_init(vctx *v, const vm_genesis *g) {
  memset(v, 0, sizeof *v);
  v->g = g;
  vm_genesis_hash(g, &v->chain_id);
  v->complete = 1;
  vset *s = calloc(1, sizeof *s);
  if (!s) return 0;
  for (size_t i = 0; i < g->nmembers && s->n < CX_MAX_VALIDATORS; i++) {
    const cx_member *m = &g->members[i];
    if (!m->validator) continue;
    size_t j = s->n++;
    for (; j > 0 && strcmp(s->names[j - 1], m->name) > 0; j--) { /* insertion: at most 64 */
      memcpy(s->names[j], s->names[j - 1], sizeof s->names[j]);
      s->keys[j] = s->keys[j - 1];
      memcpy(s->enc[j], s->enc[j - 1], 32);
    }
    snprintf(s->names[j], sizeof s->names[j], "%s", m->name);
    s->keys[j] = m->key;
    memcpy(s->enc[j], m->enc_key, 32);
  }
  int ok = set_push(v, s);
  free(s);
  return ok;
}

static void vctx_free(vctx *v) { free(v->sets); }

/* (height, index) of a and b in commit order: 1 if a is strictly before b. */
static int before(uint64_t ha, uint64_t ia, uint64_t hb, uint64_t ib) { return ha < hb || (ha == hb && ia < ib); }

/* The set in force at place (h, i): after every governance transaction
 * committed strictly before it. A block's certificate is checked with the
 * set at (height, 0): the changes of blocks below it (docs/calls.md §7);
 * a call's parties with the set at its own place (the call rule reads the
 * validators when it runs, after the transactions before it in its block).
 * NULL when the replay stopped before that place. */
static const vset *set_at(const vctx *v, uint64_t h, uint64_t i) {
  if (!v->complete && before(v->known_h, v->known_i, h, i)) return NULL;
  size_t k = v->nsets;
  while (k > 1 && !before(v->sets[k - 1].h, v->sets[k - 1].i, h, i)) k--;
  return &v->sets[k - 1];
}

/* "4 genesis validators" or "5 validators in force at height 21". */
static void set_desc(const vctx *v, const vset *s, uint64_t h, char *buf, size_t len) {
  if (s == &v->sets[0])
    snprintf(buf, len, "%zu genesis validators", s->n);
  else
    snprintf(buf, len, "%zu validators in force at height %llu", s->n, (unsigned long long)h);
}

/* The genesis member holding key, or NULL. */
static const cx_member *member_by_key(const vm_genesis *g, const cx_pubkey *key) {
  for (size_t i = 0; i < g->nmembers; i++)
    if (memcmp(g->members[i].key.b, key->b, 32) == 0) return &g->members[i];
  return NULL;
}

static int set_has(const vset *s, const cx_pubkey *key) {
  for (size_t i = 0; i < s->n; i++)
    if (memcmp(s->keys[i].b, key->b, 32) == 0) return 1;
  return 0;
}

/* First 16 hex digits of a hash: enough to tell hashes apart in a sentence. */
typedef struct {
  char s[17];
} short_hex;
static short_hex shx(const cx_hash *h) {
  short_hex o;
  hex_encode(h->b, 8, o.s);
  return o;
}

/* "hrss" for a genesis member, "welfare (a validator admitted by
 * governance)" for a key some later set holds, else "key 3f2a... (not a
 * genesis member)". */
static void who(const vctx *v, const cx_pubkey *key, char *buf, size_t len) {
  const cx_member *m = member_by_key(v->g, key);
  if (m) {
    snprintf(buf, len, "%s", m->name);
    return;
  }
  for (size_t k = v->nsets; k-- > 1;)
    for (size_t i = 0; i < v->sets[k].n; i++)
      if (memcmp(v->sets[k].keys[i].b, key->b, 32) == 0) {
        snprintf(buf, len, "%s (a validator by governance)", v->sets[k].names[i]);
        return;
      }
  char hex[17];
  hex_encode(key->b, 8, hex);
  snprintf(buf, len, "key %s... (not a genesis member)", hex);
}

static verify_check *add(verify_report *r, const char *name) {
  CX_ASSERT(r->n < VERIFY_MAX_CHECKS);
  verify_check *c = &r->c[r->n++];
  c->name = name;
  c->ok = 0;
  c->detail[0] = 0;
  return c;
}

__attribute__((format(printf, 2, 3))) static int pass(verify_check *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->detail, sizeof c->detail, fmt, ap);
  va_end(ap);
  c->ok = 1;
  return 1;
}

__attribute__((format(printf, 2, 3))) static int fail(verify_check *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->detail, sizeof c->detail, fmt, ap);
  va_end(ap);
  c->ok = 0;
  return 0;
}

/* The kinds of transaction tx_check accepts besides one type. */
enum { KIND_KEY = -1, KIND_GOV = -2 };

static int kind_ok(int kind, uint8_t type) {
  if (kind == KIND_KEY) return (type >= TX_KEY_CREATE && type <= TX_KEY_ADVANCE) || type == TX_KEY_RESHARE;
  if (kind == KIND_GOV) return type == TX_MEMBER_PROPOSE || type == TX_MEMBER_APPROVE;
  return type == kind;
}

static const char *kind_name(int kind) {
  return kind == KIND_KEY ? "consortium key's" : kind == KIND_GOV ? "governance (member_propose or member_approve)"
                                                                  : tx_type_name((uint8_t)kind);
}

/* The transaction id names, from bytes the node sent: the txid recomputed
 * from them, a canonical decoding of the expected type (or kind), its
 * sender's signature and the genesis chain id. On success *tx holds it (the
 * caller clears it); on failure it is cleared. */
static int tx_check(const vctx *v, const verify_tx *t, const cx_hash *id, int type, cx_tx *tx, verify_check *c) {
  tx_init(tx);
  if (!t->raw) return fail(c, "%s", t->why ? t->why : "the node gave no transaction");
  cx_hash got;
  size_t off = 0;
  tx_id_of_bytes(t->raw, t->raw_len, &got);
  if (!hash_eq(&got, id))
    return fail(c, "the bytes the node sent hash to txid %s..., not %s...", shx(&got).s, shx(id).s);
  cx_err e = tx_decode(t->raw, t->raw_len, tx, &off);
  if (e) return fail(c, "the transaction does not decode: %s at byte %zu", cx_err_name(e), off);
  if (!kind_ok(type, tx->type)) {
    fail(c, "a %s transaction, not a %s", tx_type_name(tx->type), kind_name(type));
    tx_clear(tx);
    return 0;
  }
  if (!hash_eq(&tx->chain_id, &v->chain_id)) {
    fail(c, "signed for chain %s..., the genesis is chain %s...", shx(&tx->chain_id).s, shx(&v->chain_id).s);
    tx_clear(tx);
    return 0;
  }
  if (tx_verify_sig_raw(tx, t->raw, t->raw_len) != CX_OK) {
    fail(c, "its sender's signature does not verify");
    tx_clear(tx);
    return 0;
  }
  return 1;
}

/* The certificate of block h (hash bh) against the set in force there. */
static void cert_check(const vctx *v, const cx_block_header *h, const cx_hash *bh, const cx_cert *cert,
                       verify_check *block) {
  unsigned long long height = (unsigned long long)h->height;
  const vset *s = set_at(v, h->height, 0);
  char set[96];
  if (!s) {
    fail(block,
         "block %llu: the validators in force there are not known: the governance replay stopped after block "
         "%llu (see validators)",
         height, (unsigned long long)v->known_h);
    return;
  }
  set_desc(v, s, h->height, set, sizeof set);
  if (cert_verify(cert, &v->chain_id, h->height, bh, s->keys, s->n) != CX_OK)
    fail(block,
         "block %llu: the certificate does not verify against the %s (%zu governance transactions replayed): a "
         "governance transaction the node left out or reordered (member_history), or a forged certificate",
         height, set, v->ngov);
  else
    pass(block, "block %llu (%s...) certified by %u of the %s (quorum %u)", height, shx(bh).s, (unsigned)cert->nvotes,
         set, quorum_size((unsigned)s->n));
}

/* Block and inclusion of one transaction (docs/calls.md §7, 1 and 2). */
static void proof_check(const vctx *v, const cx_hash *txid, const verify_tx *t, verify_check *block,
                        verify_check *incl, uint64_t *height) {
  cx_block_header h;
  cx_hash bh;
  cx_cert cert;
  *height = 0;
  if (!t->has_proof) {
    const char *why = t->proof_why ? t->proof_why : "the node gave no proof";
    fail(block, "%s", why);
    fail(incl, "%s", why);
    return;
  }
  if (!t->header || block_peek(t->header, t->header_len, &h, &bh) != CX_OK) {
    fail(block, "the block header does not decode");
    fail(incl, "no block header to check the paths against");
    return;
  }
  /* The hash covers the decoded prefix only: the header must be exactly
   * its canonical encoding, or trailing bytes would ride along unhashed. */
  uint8_t *enc = NULL;
  size_t enc_len = 0;
  block_header_encode(&h, &enc, &enc_len);
  int canonical = enc && enc_len == t->header_len && memcmp(enc, t->header, enc_len) == 0;
  free(enc);
  if (!canonical) {
    fail(block, "the block header is not canonical");
    fail(incl, "no block header to check the paths against");
    return;
  }
  *height = h.height;
  if (!hash_eq(&h.chain_id, &v->chain_id))
    fail(block, "block %llu is of chain %s..., the genesis is chain %s...", (unsigned long long)h.height,
         shx(&h.chain_id).s, shx(&v->chain_id).s);
  else if (!t->cert || cert_decode(t->cert, t->cert_len, &cert) != CX_OK)
    fail(block, "block %llu: the commit certificate does not decode", (unsigned long long)h.height);
  else if (cert.height != h.height || !hash_eq(&cert.block_hash, &bh))
    fail(block, "the certificate is for block %llu (%s...), the header is block %llu (%s...)",
         (unsigned long long)cert.height, shx(&cert.block_hash).s, (unsigned long long)h.height, shx(&bh).s);
  else
    cert_check(v, &h, &bh, &cert, block);

  if (t->ntx == 0 || t->ntx > CX_BLOCK_MAX_TXS || t->index >= t->ntx) {
    fail(incl, "index %llu of %llu transactions is not a place in a block", (unsigned long long)t->index,
         (unsigned long long)t->ntx);
    return;
  }
  if (t->tx_path_len > MERKLE_MAX_DEPTH || t->receipt_path_len > MERKLE_MAX_DEPTH ||
      !merkle_verify(txid, t->index, t->ntx, t->tx_path, t->tx_path_len, &h.tx_root)) {
    fail(incl, "txid %s... is not in the tx_root of block %llu (the audit path does not verify)", shx(txid).s,
         (unsigned long long)h.height);
    return;
  }
  /* Code 0 is the only receipt that counts: the node's claimed code is used
   * only to say why, when it proves a rejection. */
  cx_hash leaf;
  receipt_leaf(txid, CX_OK, &leaf);
  if (merkle_verify(&leaf, t->index, t->ntx, t->receipt_path, t->receipt_path_len, &h.receipts_root)) {
    pass(incl, "transaction %llu of %llu in block %llu (tx_root); receipt ok (receipts_root)",
         (unsigned long long)t->index, (unsigned long long)t->ntx, (unsigned long long)h.height);
    return;
  }
  receipt_leaf(txid, t->code, &leaf);
  if (t->code != CX_OK &&
      merkle_verify(&leaf, t->index, t->ntx, t->receipt_path, t->receipt_path_len, &h.receipts_root))
    fail(incl, "the receipt in block %llu is %s (code %d): the chain rejected the transaction",
         (unsigned long long)h.height, cx_err_name(t->code), (int)t->code);
  else
    fail(incl, "no ok receipt for txid %s... in the receipts_root of block %llu", shx(txid).s,
         (unsigned long long)h.height);
}

/* ---- the governance replay (docs/calls.md §7 "Validator-set changes") ---- */

/* Appends to buf (of len bytes, *l used so far), truncating. */
__attribute__((format(printf, 4, 5))) static void appendf(char *buf, size_t len, size_t *l, const char *fmt, ...) {
  if (*l >= len) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf + *l, len - *l, fmt, ap);
  va_end(ap);
  *l = k < 0 ? len : *l + (size_t)k < len ? *l + (size_t)k : len;
}

/* What changed from set a to set b, by name: "+echo", "-bravo",
 * "charlie rekeyed", "delta new enc key". */
static void set_diff(const vset *a, const vset *b, char *buf, size_t len) {
  size_t l = 0;
  buf[0] = 0;
  for (size_t i = 0; i < b->n; i++) {
    size_t j = 0;
    while (j < a->n && strcmp(a->names[j], b->names[i]) != 0) j++;
    const char *sep = l ? ", " : "";
    if (j == a->n)
      appendf(buf, len, &l, "%s+%s", sep, b->names[i]);
    else if (memcmp(a->keys[j].b, b->keys[i].b, 32) != 0)
      appendf(buf, len, &l, "%s%s rekeyed", sep, b->names[i]);
    else if (memcmp(a->enc[j], b->enc[i], 32) != 0)
      appendf(buf, len, &l, "%s%s new enc key", sep, b->names[i]);
  }
  for (size_t j = 0; j < a->n; j++) {
    size_t i = 0;
    while (i < b->n && strcmp(a->names[j], b->names[i]) != 0) i++;
    if (i == b->n) appendf(buf, len, &l, "%s-%s", l ? ", " : "", a->names[j]);
  }
}

/* Governance transaction k: bytes, sender, chain, its block certified by
 * the set in force there (derived from the transactions before it), its
 * inclusion with an ok receipt, and its place after the one before; then
 * applied to the scratch state, where the chain's ok receipt must be the
 * rules' verdict too. On success the set after it is pushed when it
 * changed. 0 (c says why) when it does not check. */
static int gov_one(vctx *v, const verify_input *in, size_t k, const vm_state *st, cx_member *vals,
                   verify_check *c) {
  const cx_hash *id = &in->govtx_ids[k];
  const verify_tx *t = &in->govtx[k];
  verify_check tc, b, incl;
  cx_tx tx;
  uint64_t h = 0;
  if (!tx_check(v, t, id, KIND_GOV, &tx, &tc))
    return fail(c, "governance transaction %zu (%s...): %s", k, shx(id).s, tc.detail);
  proof_check(v, id, t, &b, &incl, &h);
  int ok = 0;
  cx_err rec = CX_OK, e = CX_OK;
  if (!b.ok || !incl.ok)
    fail(c, "governance transaction %zu (%s...): %s", k, shx(id).s, !b.ok ? b.detail : incl.detail);
  else if (k && !before(v->known_h, v->known_i, h, t->index))
    fail(c, "governance transaction %zu (block %llu) is not after the one before it in chain order", k,
         (unsigned long long)h);
  else if ((e = vm_apply_governance(st, &v->chain_id, &tx, id, h, &rec)) != CX_OK)
    fail(c, "governance transaction %zu (%s...) cannot be replayed: %s", k, shx(id).s, cx_err_name(e));
  else if (rec != CX_OK)
    /* The chain said ok: the rules, on the state the listed transactions
     * make, say otherwise. The list is not the chain's. */
    fail(c,
         "governance transaction %zu (%s, block %llu) is refused by the rules on replay: %s, though the chain "
         "accepted it: a governance transaction left out or out of order",
         k, tx_type_name(tx.type), (unsigned long long)h, cx_err_name(rec));
  else
    ok = 1;
  tx_clear(&tx);
  if (!ok) return 0;
  size_t n = 0;
  vset *s = malloc(sizeof *s);
  if (!s) return fail(c, "out of memory");
  if ((e = vm_validators(st, vals, CX_MAX_VALIDATORS, &n)) != CX_OK) {
    free(s);
    return fail(c, "governance transaction %zu: the replayed validators cannot be read: %s", k, cx_err_name(e));
  }
  set_fill(s, vals, n);
  s->h = h;
  s->i = t->index;
  int pushed = set_same(s, &v->sets[v->nsets - 1]) || set_push(v, s);
  free(s);
  if (!pushed) return fail(c, "out of memory");
  v->known_h = h;
  v->known_i = t->index;
  v->ngov = k + 1;
  return 1;
}

/* The validators check: the governance transactions the node listed
 * (member_history), replayed from the genesis over a scratch state
 * (vm_apply_governance), each proven against the set in force at its
 * block. The sets it derives are the ones every later check uses; when it
 * stops, places after the last transaction that checked have no set. */
static void gov_replay(vctx *v, const verify_input *in, verify_check *c) {
  if (in->ngovtx > VERIFY_MAX_GOVTX) {
    v->complete = 0;
    fail(c, "the node lists %zu governance transactions, more than this verifier's bound of %d", in->ngovtx,
         VERIFY_MAX_GOVTX);
    return;
  }
  if (!in->ngovtx) {
    /* Sound either way: a set change the node does not list makes the
     * blocks after it fail their certificate checks. */
    if (in->govtx_why)
      pass(c, "the %zu genesis validators assumed throughout: the node gave no governance transactions (%s); a "
              "block after a validator-set change fails its certificate check", v->sets[0].n, in->govtx_why);
    else
      pass(c, "the %zu genesis validators throughout: the node lists no governance transaction", v->sets[0].n);
    return;
  }
  vm_memstate *m = vm_memstate_new();
  cx_member *vals = calloc(CX_MAX_VALIDATORS, sizeof *vals);
  vm_state st = vm_memstate_state(m);
  cx_err e = !m || !vals ? CX_E_NOMEM : vm_genesis_apply(&st, v->g);
  if (m) vm_memstate_forget(m);
  if (e) {
    v->complete = 0;
    fail(c, "the genesis cannot be applied to a scratch state: %s", cx_err_name(e));
  } else {
    for (size_t k = 0; k < in->ngovtx; k++) {
      if (!gov_one(v, in, k, &st, vals, c)) {
        v->complete = 0;
        break;
      }
      vm_memstate_forget(m);
    }
  }
  if (v->complete) {
    char what[VERIFY_DETAIL_MAX] = "", diff[400];
    size_t l = 0;
    for (size_t k = 1; k < v->nsets; k++) {
      set_diff(&v->sets[k - 1], &v->sets[k], diff, sizeof diff);
      appendf(what, sizeof what, &l, "; from height %llu: %zu (%s)", (unsigned long long)v->sets[k].h + 1,
              v->sets[k].n, diff);
    }
    pass(c,
         "%zu governance transactions replayed from the genesis, each certified by the validators then in "
         "force, included with an ok receipt, in chain order: %zu genesis validators%s",
         in->ngovtx, v->sets[0].n, v->nsets > 1 ? what : "; the set never changed");
  }
  free(vals);
  vm_memstate_free(m);
}

void verify_tx_proof(const vm_genesis *g, const cx_hash *txid, const verify_tx *t, verify_check *block,
                     verify_check *incl, uint64_t *height) {
  vctx v;
  if (!vctx_init(&v, g)) {
    *height = 0;
    fail(block, "out of memory");
    fail(incl, "out of memory");
    return;
  }
  proof_check(&v, txid, t, block, incl, height);
  vctx_free(&v);
}

/* A set as members, in signer order (vm_key_create's input: keys and enc
 * keys). */
static size_t set_members(const vset *s, cx_member *out) {
  for (size_t i = 0; i < s->n; i++) {
    memset(&out[i], 0, sizeof out[i]);
    snprintf(out[i].name, sizeof out[i].name, "%s", s->names[i]);
    out[i].key = s->keys[i];
    memcpy(out[i].enc_key, s->enc[i], 32);
    out[i].validator = 1;
  }
  return s->n;
}

/* A FROST-mode result (docs/keys.md §6, §8): the `results` key is learned
 * by replaying its transactions, each checked like the call's (bytes,
 * sender, chain, block certified by the validators then in force,
 * inclusion, ok receipt) and in chain order before the result, through the
 * chain's own rules (vm/keyrules.h); then the one signature is checked
 * against its group key. The transactions are epoch 0's, the DKG among the
 * validators in force at the key's creation (the governance replay's set
 * at its place): a result of any epoch is checked against that group key,
 * which every later epoch keeps (a reshare must give it again, and a key
 * READY once is never re-created: docs/keys.md §10). */
static void frost_check(const vctx *v, const verify_input *in, const cx_hash *st, const cx_tx_call_result *r,
                        uint64_t hr, uint64_t ir, verify_report *out, verify_check *c) {
  if (!in->nkeytx) {
    fail(c, "a FROST result, and the node listed no transaction of the results key (key_get results)");
    return;
  }
  vm_key *k = malloc(sizeof *k);
  cx_member *vals = calloc(CX_MAX_VALIDATORS, sizeof *vals);
  if (!k || !vals) {
    free(k);
    free(vals);
    fail(c, "out of memory");
    return;
  }
  vm_key_init(k);
  const vset *parties = NULL; /* the set at the creation's place */
  uint64_t ph = 0, pi = 0;
  int ok = 1;
  for (size_t i = 0; i < in->nkeytx && ok; i++) {
    verify_check t, b, incl;
    cx_tx tx;
    uint64_t h = 0, idx = in->keytx[i].index;
    if (!tx_check(v, &in->keytx[i], &in->keytx_ids[i], KIND_KEY, &tx, &t)) {
      ok = fail(c, "key transaction %zu (%s...): %s", i, shx(&in->keytx_ids[i]).s, t.detail);
      break;
    }
    proof_check(v, &in->keytx_ids[i], &in->keytx[i], &b, &incl, &h);
    cx_err rej = CX_OK;
    if (!b.ok || !incl.ok) {
      ok = fail(c, "key transaction %zu (%s...): %s", i, shx(&in->keytx_ids[i]).s, !b.ok ? b.detail : incl.detail);
    } else if (i && !before(ph, pi, h, idx)) {
      ok = fail(c, "key transaction %zu is not after the one before it in chain order", i);
    } else if (!before(h, idx, hr, ir)) {
      ok = fail(c, "key transaction %zu was committed after the result", i);
    } else if (i == 0) {
      char set[96];
      if (tx.type != TX_KEY_CREATE || strcmp(tx.u.kcreate.name, "results") != 0) {
        ok = fail(c, "the first key transaction is not the creation of the results key");
      } else if (!(parties = set_at(v, h, idx))) {
        ok = fail(c, "the validators in force at the results key's creation (block %llu) are not known: the "
                     "governance replay stopped (see validators)", (unsigned long long)h);
      } else {
        size_t nval = set_members(parties, vals);
        /* The rule for the results key depends only on the validators in
         * force and whether the sender is one of them (membership and the
         * member count matter to custody keys only). */
        int is_val = set_has(parties, &tx.sender);
        set_desc(v, parties, h, set, sizeof set);
        if (vm_key_create(&v->chain_id, &tx.u.kcreate, vals, nval, v->g->nmembers, is_val,
                          is_val || member_by_key(v->g, &tx.sender), NULL, h, k, &rej) != CX_OK ||
            rej)
          /* The chain accepted it (ok receipt, checked above): the chain's
           * validators then were not the ones the replay derived. */
          ok = fail(c,
                    "the results key's creation is refused by the rules with the %s as its parties: %s, though the "
                    "chain accepted it: a governance transaction the node left out (member_history)",
                    set, cx_err_name(rej));
      }
    } else {
      /* a key_create or key_reshare after the first: invalid_argument */
      cx_err e = vm_key_apply(k, &tx, h, &rej);
      if (e || rej)
        ok = fail(c, "key transaction %zu (%s) is refused by the rules: %s", i, tx_type_name(tx.type),
                  cx_err_name(e ? e : rej));
    }
    ph = h;
    pi = idx;
    tx_clear(&tx);
  }
  if (ok && k->phase != VM_KEY_READY)
    ok = fail(c, "replaying the results key's %zu transactions does not end READY", in->nkeytx);
  if (ok) {
    uint8_t msg[64];
    frost_element pk;
    frost_sig sig;
    memcpy(pk.b, k->group_pk, 32);
    memcpy(sig.b, r->frost.b, 64);
    size_t mlen = tx_result_signed_msg(st, r, msg);
    char batch[96] = "";
    if (r->proof == CX_RESULT_PROOF_FROST_BATCH)
      snprintf(batch, sizeof batch, ", over the root of a batch of %u results (this one leaf %u, its path checked)",
               (unsigned)r->batch_n, (unsigned)r->batch_idx);
    char qual[CX_MAX_VALIDATORS * (CX_NAME_MAX + 2) + 1] = "", gpk[17], ep[96] = "";
    size_t l = 0;
    for (size_t i = 0; i < parties->n; i++)
      if (k->qual >> i & 1) appendf(qual, sizeof qual, &l, "%s%s", l ? ", " : "", parties->names[i]);
    hex_encode(k->group_pk, 8, gpk);
    if (r->key_epoch)
      snprintf(ep, sizeof ep, "; signed at epoch %u: the DKG is epoch 0's, the group key every reshare keeps",
               (unsigned)r->key_epoch);
    if (!mlen)
      fail(c, "the result's batch path does not fit a tree of %u leaves at leaf %u", (unsigned)r->batch_n,
           (unsigned)r->batch_idx);
    else if (frost_verify(&pk, msg, mlen, &sig, NULL, 0) != CX_OK)
      fail(c, "the FROST signature does not verify over the statement %s...%s under the results key %s...%s",
           shx(st).s, batch, gpk, ep);
    else if ((out->frost = 1))
      pass(c, "%s; statement %s... signed once by the results key %s...%s (FROST, %u of %u parties; key made by a "
              "DKG of %zu transactions replayed from their proofs; qualified dealers %s)%s",
           r->status == CX_CALL_DONE ? "done" : "aborted", shx(st).s, gpk, batch, (unsigned)k->t, (unsigned)k->n,
           in->nkeytx, qual, ep);
  }
  vm_key_clear(k);
  free(k);
  free(vals);
}

/* The quorum's signatures over the statement (docs/calls.md §3, §4 rules
 * 5 and 6), against the call's parties: the validators in force at the
 * call's place (hc, ic), as the call rule read them when it ran. */
static void mpc_check(const vctx *vc, const cx_tx *call, const cx_tx *res, uint64_t hc, uint64_t ic, uint64_t hr,
                      verify_report *out, verify_check *c) {
  const cx_tx_call *cl = &call->u.call;
  const cx_tx_call_result *r = &res->u.result;
  cx_hash st, msg;
  tx_result_statement(&vc->chain_id, r, &cl->contract, &cl->consent, &cl->did, &st);
  /* hc = 0: the call's block did not decode (reported there); with no
   * change the parties are the genesis validators wherever it is. */
  const vset *v = hc || vc->nsets == 1 ? set_at(vc, hc, ic) : NULL;
  if (!v) {
    if (!hc)
      fail(c, "needs the call's block (see above): its parties are the validators in force there");
    else
      fail(c, "the validators in force at the call's place (block %llu) are not known: the governance replay "
              "stopped (see validators)", (unsigned long long)hc);
    return;
  }
  char set[96];
  set_desc(vc, v, hc, set, sizeof set);
  size_t n = v->n, t = (n - 1) / 3, need = 2 * t + 1;
  if (cl->nparties && cl->nparties != n) {
    fail(c, "the call was dealt to %u parties, not to the %s: a governance transaction the node left out "
            "(member_history), or a call the chain refused", (unsigned)cl->nparties, set);
    return;
  }
  char names[CX_MAX_VALIDATORS * (CX_NAME_MAX + 2) + 1] = "";
  out->nsigners = 0;
  for (size_t i = 0; i < r->nsig; i++) {
    const cx_result_sig *s = &r->sigs[i];
    if (s->party >= n) {
      fail(c, "party %u signed, the parties are the %s: a forged result, or a governance transaction the node "
              "left out (member_history)", (unsigned)s->party, set);
      out->nsigners = 0;
      return;
    }
    tx_result_sig_msg(&st, s->blob, s->blob_len, &msg);
    if (!sig_verify(&v->keys[s->party], msg.b, 32, &s->sig)) {
      fail(c, "the signature of party %u (%s) does not verify over the statement %s...: a forged result, or "
              "parties that differ from the %s (a governance transaction the node left out)",
           (unsigned)s->party, v->names[s->party], shx(&st).s, set);
      out->nsigners = 0;
      return;
    }
    snprintf(out->signers[out->nsigners++], CX_NAME_MAX + 1, "%s", v->names[s->party]);
    size_t l = strlen(names);
    snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", v->names[s->party]);
  }
  /* tx_decode keeps the parties strictly increasing: no party counts twice. */
  /* An expiry needs one party, VM_CALL_EXPIRY_BLOCKS after the call (the rule's). */
  int expiry = r->status == CX_CALL_ABORTED && r->code == CX_E_EXPIRED && out->nsigners >= 1 && hr > hc &&
               hr - hc > VM_CALL_EXPIRY_BLOCKS;
  if (out->nsigners < need && !expiry) {
    fail(c, "%zu valid signatures, 2t+1 = %zu of %zu parties needed", out->nsigners, need, n);
    return;
  }
  if (out->nsigners < need) {
    pass(c, "expired: pending from block %llu to %llu (over %d blocks), aborted by %s alone (the rule allows one "
            "party then; nothing was computed)", (unsigned long long)hc, (unsigned long long)hr,
         VM_CALL_EXPIRY_BLOCKS, names);
    return;
  }
  char what[300];
  if (r->status == CX_CALL_DONE)
    snprintf(what, sizeof what, "done (%zu outputs, %zu inputs' commitments)", r->nout, r->nin);
  else
    snprintf(what, sizeof what, "aborted: %s (code %d; the reason is the submitter's, not signed)",
             cx_err_name(r->code), (int)r->code);
  pass(c, "%s; statement %s... signed by %s (%zu of %zu parties, 2t+1 = %zu%s)", what, shx(&st).s, names,
       out->nsigners, n, need, v == &vc->sets[0] ? "" : "; the validators in force at the call");
}

/* The grant the call names (docs/calls.md §7, 4): same subject, insurer
 * and contract. Liveness at the call's height is the call rule's, proven
 * by the call's ok receipt. */
static void consent_check(const vctx *v, const verify_input *in, const cx_tx *call, verify_check *c) {
  const vm_genesis *g = v->g;
  cx_tx grant;
  const cx_tx_call *cl = &call->u.call;
  if (!tx_check(v, &in->consent, &cl->consent, TX_CONSENT_GRANT, &grant, c)) return;
  const cx_tx_consent_grant *gr = &grant.u.grant;
  const cx_member *ins = member_by_key(g, &call->sender);
  char by[64];
  who(v, &grant.sender, by, sizeof by);
  if (!hash_eq(&gr->did, &cl->did))
    fail(c, "the grant is for subject %s..., the call for %s...", shx(&gr->did).s, shx(&cl->did).s);
  else if (!hash_eq(&gr->contract, &cl->contract))
    fail(c, "the grant is for contract %s..., the call is of %s...", shx(&gr->contract).s, shx(&cl->contract).s);
  else if (!ins)
    fail(c, "the caller's key is not a genesis member: its member name is not verifiable from genesis alone");
  else if (strcmp(gr->insurer, ins->name) != 0)
    fail(c, "the grant names insurer %s, the call was made by %s", gr->insurer, ins->name);
  else
    pass(c, "grant %s... signed by %s: subject %s..., insurer %s, contract %s..., expires at height %llu, "
            "quota %u; the call's ok receipt shows it was live at the call's height",
         shx(&cl->consent).s, by, shx(&gr->did).s, gr->insurer, shx(&gr->contract).s, (unsigned long long)gr->expires,
         (unsigned)gr->quota);
  tx_clear(&grant);
}

/* The genesis bureau owning domain d, or NULL. */
static const cx_member *owner_of(const vm_genesis *g, const char *d) {
  for (size_t i = 0; i < g->nmembers; i++)
    if (g->members[i].role == ROLE_BUREAU && domain_set_has(&g->members[i].domains, d)) return &g->members[i];
  return NULL;
}

/* The anchoring the node named for (domain, root), or NULL. */
static const verify_anchor *anchor_for(const verify_input *in, const cx_result_input *ri) {
  for (size_t i = 0; i < in->nanchors && i < CX_DOMAINS_MAX; i++)
    if (strcmp(in->anchors[i].domain, ri->domain) == 0 && hash_eq(&in->anchors[i].root, &ri->root))
      return &in->anchors[i];
  return NULL;
}

/* One input snapshot: its anchoring transaction is the domain's genesis
 * owner's, for this root and count, committed (certificate, inclusion, ok
 * receipt) before the result at (hr, ir). On success a summary goes to
 * what; on failure the reason goes to c. */
static int anchor_one(const vctx *v, const verify_input *in, const cx_result_input *ri, uint64_t hr, uint64_t ir,
                      char *what, size_t wl, verify_check *c) {
  const vm_genesis *g = v->g;
  const verify_anchor *a = anchor_for(in, ri);
  const char *d = ri->domain;
  if (!a || (!a->has_anchor && !a->why))
    return fail(c, "domain %s root %s... is not anchored on chain", d, shx(&ri->root).s);
  if (!a->has_anchor) return fail(c, "domain %s root %s...: no anchoring to check: %s", d, shx(&ri->root).s, a->why);
  verify_check t, b;
  cx_tx tx;
  if (!tx_check(v, &a->tx, &a->txid, TX_VAULT_ANCHOR, &tx, &t))
    return fail(c, "domain %s: the anchoring transaction %s...: %s", d, shx(&a->txid).s, t.detail);
  const cx_tx_vault_anchor *an = &tx.u.anchor;
  const cx_member *owner = owner_of(g, d);
  char by[64];
  who(v, &tx.sender, by, sizeof by);
  int ok = 0;
  if (strcmp(an->domain, d) != 0 || !hash_eq(&an->root, &ri->root))
    fail(c, "domain %s: the transaction the node names anchors domain %s root %s..., not root %s...", d, an->domain,
         shx(&an->root).s, shx(&ri->root).s);
  else if (an->count != ri->count)
    fail(c, "domain %s root %s...: anchored with %llu records, the result names %llu", d, shx(&ri->root).s,
         (unsigned long long)an->count, (unsigned long long)ri->count);
  else if (!owner)
    fail(c, "domain %s: no genesis bureau owns it: its owner is not verifiable from genesis alone", d);
  else if (memcmp(owner->key.b, tx.sender.b, 32) != 0)
    fail(c, "domain %s: anchored by %s, the domain's owner in the genesis is %s", d, by, owner->name);
  else
    ok = 1;
  tx_clear(&tx);
  if (!ok) return 0;
  uint64_t ha = 0;
  proof_check(v, &a->txid, &a->tx, &b, &t, &ha);
  if (!b.ok) return fail(c, "domain %s: the anchoring's block: %s", d, b.detail);
  if (!t.ok) return fail(c, "domain %s: the anchoring's inclusion: %s", d, t.detail);
  /* hr = 0: the result's own place did not verify (reported there). */
  if (hr && !before(ha, a->tx.index, hr, ir))
    return fail(c, "domain %s root %s... was anchored in block %llu, not before the result (block %llu)", d,
                shx(&ri->root).s, (unsigned long long)ha, (unsigned long long)hr);
  snprintf(what, wl, "%s root %s... (%llu records) anchored by %s in block %llu", d, shx(&ri->root).s,
           (unsigned long long)ri->count, owner->name, (unsigned long long)ha);
  return 1;
}

/* Every input snapshot of a DONE result anchored by its domain's owner
 * (docs/vault.md "Anchoring"; issue 7: results name the snapshot they used). */
static void snapshot_check(const vctx *v, const verify_input *in, const cx_tx *res, uint64_t hr, verify_check *c) {
  const cx_tx_call_result *r = &res->u.result;
  char all[VERIFY_DETAIL_MAX] = "", one[200];
  if (r->status != CX_CALL_DONE) {
    pass(c, "the result is aborted: it names no snapshot");
    return;
  }
  if (r->nin == 0) {
    pass(c, "the result names no input snapshot");
    return;
  }
  for (size_t i = 0; i < r->nin; i++) {
    if (!anchor_one(v, in, &r->in[i], hr, in->result.index, one, sizeof one, c)) return;
    size_t l = strlen(all);
    snprintf(all + l, sizeof all - l, "%s%s", l ? "; " : "", one);
  }
  pass(c, "%s", all);
}

void verify_result(const vm_genesis *g, const verify_input *in, verify_report *out) {
  vctx v;
  cx_tx call, res;
  uint64_t hc = 0, hr = 0, hg = 0;
  memset(out, 0, sizeof *out);

  /* 0. the validator sets, from the genesis and the governance
   * transactions (docs/calls.md §7 "Validator-set changes") */
  verify_check *vc = add(out, "validators");
  if (!vctx_init(&v, g)) {
    static const char *const rest[] = {"call",         "result",           "call block", "call inclusion",
                                       "result block", "result inclusion", "mpc",        "consent",
                                       "consent block", "consent inclusion", "snapshot"};
    fail(vc, "out of memory");
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) fail(add(out, rest[i]), "out of memory");
    return;
  }
  gov_replay(&v, in, vc);

  /* 1. the call */
  verify_check *cc = add(out, "call");
  int call_ok = tx_check(&v, &in->call, &in->call_id, TX_CALL, &call, cc);
  if (call_ok) {
    char by[64];
    who(&v, &call.sender, by, sizeof by);
    pass(cc, "txid recomputed; a call of contract %s... for subject %s... under consent %s..., signed by %s",
         shx(&call.u.call.contract).s, shx(&call.u.call.did).s, shx(&call.u.call.consent).s, by);
  }

  /* 2. the result */
  verify_check *rc = add(out, "result");
  int res_ok = 0;
  tx_init(&res);
  if (!in->has_result) {
    fail(rc, "%s", in->result.why ? in->result.why : "the node names no result");
  } else if (tx_check(&v, &in->result, &in->result_id, TX_CALL_RESULT, &res, rc)) {
    if (!hash_eq(&res.u.result.call, &in->call_id)) {
      fail(rc, "the result names call %s..., not this one", shx(&res.u.result.call).s);
    } else {
      char by[64];
      who(&v, &res.sender, by, sizeof by);
      res_ok = pass(rc, "txid %s... recomputed; a %s result of this call, submitted by %s", shx(&in->result_id).s,
                    res.u.result.status == CX_CALL_DONE ? "done" : "aborted", by);
      out->status = res.u.result.status;
    }
  }

  /* 3. blocks and inclusion of both */
  verify_check *cb = add(out, "call block"), *ci = add(out, "call inclusion");
  proof_check(&v, &in->call_id, &in->call, cb, ci, &hc);
  verify_check *rb = add(out, "result block"), *ri = add(out, "result inclusion");
  if (in->has_result) {
    proof_check(&v, &in->result_id, &in->result, rb, ri, &hr);
    /* A result can only close a call committed before it (the rule's
     * call_unknown); a fragment saying otherwise is not one chain. */
    if (ri->ok && ci->ok && !before(hc, in->call.index, hr, in->result.index))
      fail(ri, "the result (block %llu) is not committed after its call (block %llu)", (unsigned long long)hr,
           (unsigned long long)hc);
  } else {
    fail(rb, "no result to check");
    fail(ri, "no result to check");
  }

  /* 4. proof of MPC */
  verify_check *mc = add(out, "mpc");
  if (!call_ok || !res_ok)
    fail(mc, "needs the call and the result transactions (see above)");
  else if (res.u.result.proof == CX_RESULT_PROOF_FROST || res.u.result.proof == CX_RESULT_PROOF_FROST_BATCH) {
    cx_hash st;
    const cx_tx_call *cl = &call.u.call;
    tx_result_statement(&v.chain_id, &res.u.result, &cl->contract, &cl->consent, &cl->did, &st);
    /* No check of the call's parties here: the group key is the same at
     * every epoch (docs/keys.md §10), so a result signed after the
     * validator set changed verifies against it too. */
    if (!ri->ok)
      fail(mc, "needs the result's block and inclusion (see above): the key must be committed before it");
    else
      frost_check(&v, in, &st, &res.u.result, hr, in->result.index, out, mc);
  } else
    mpc_check(&v, &call, &res, hc, in->call.index, hr, out, mc);

  /* 5. consent */
  verify_check *gc = add(out, "consent"), *gb = add(out, "consent block"), *gi = add(out, "consent inclusion");
  if (!call_ok) {
    fail(gc, "needs the call transaction (see above)");
    fail(gb, "needs the call transaction (see above)");
    fail(gi, "needs the call transaction (see above)");
  } else {
    consent_check(&v, in, &call, gc);
    proof_check(&v, &call.u.call.consent, &in->consent, gb, gi, &hg);
    if (gi->ok && ci->ok && !before(hg, in->consent.index, hc, in->call.index))
      fail(gi, "the grant (block %llu) is not committed before the call (block %llu)", (unsigned long long)hg,
           (unsigned long long)hc);
  }

  /* 6. the input snapshots */
  verify_check *sc = add(out, "snapshot");
  if (!res_ok)
    fail(sc, "needs the result transaction (see above)");
  else
    snapshot_check(&v, in, &res, ri->ok ? hr : 0, sc);

  out->all_ok = 1;
  for (size_t i = 0; i < out->n; i++) out->all_ok &= out->c[i].ok;
  tx_clear(&call);
  tx_clear(&res);
  vctx_free(&v);
}

const verify_check *verify_find(const verify_report *r, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->c[i].name, name) == 0) return &r->c[i];
  return NULL;
}

/* ---- reading the node's answers ---- */

/* Hex field k of o into a malloc'd buffer of at most cap bytes. */
static int json_bytes(const cJSON *o, const char *k, size_t cap, uint8_t **out, size_t *len) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  *out = NULL;
  *len = 0;
  if (!cJSON_IsString(v)) return -1;
  size_t n = strlen(v->valuestring) / 2;
  if (n > cap || !(*out = malloc(n ? n : 1))) return -1;
  if (hex_decode_var(v->valuestring, *out, n, len) != CX_OK) {
    free(*out);
    *out = NULL;
    return -1;
  }
  return 0;
}

static int json_u64(const cJSON *o, const char *k, uint64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 9007199254740992.0)) return -1;
  *out = (uint64_t)v->valuedouble;
  return (double)*out == v->valuedouble ? 0 : -1;
}

static int json_path(const cJSON *o, const char *k, cx_hash *path, size_t *len) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k), *e;
  *len = 0;
  if (!cJSON_IsArray(a)) return -1;
  cJSON_ArrayForEach(e, a) {
    if (*len == MERKLE_MAX_DEPTH || !cJSON_IsString(e) || hex_decode(e->valuestring, path[*len].b, 32)) return -1;
    (*len)++;
  }
  return 0;
}

void verify_tx_from_json(const cJSON *tx_get, const char *tx_why, const cJSON *proof, const char *proof_why,
                         verify_tx_buf *b, verify_tx *t) {
  memset(b, 0, sizeof *b);
  memset(t, 0, sizeof *t);
  t->why = b->why;
  t->proof_why = b->proof_why;
  if (!tx_get)
    snprintf(b->why, sizeof b->why, "%s", tx_why ? tx_why : "the node gave no transaction");
  else if (json_bytes(tx_get, "raw", CX_TX_MAX_BYTES, &b->raw, &t->raw_len))
    snprintf(b->why, sizeof b->why, "tx_get: the answer has no valid \"raw\" (the signed encoding)");
  t->raw = b->raw;
  if (!proof) {
    snprintf(b->proof_why, sizeof b->proof_why, "%s", proof_why ? proof_why : "the node gave no proof");
    return;
  }
  const cJSON *cj = cJSON_GetObjectItemCaseSensitive(proof, "code");
  const char *bad = json_u64(proof, "index", &t->index)                              ? "index"
                    : json_u64(proof, "ntx", &t->ntx)                                ? "ntx"
                    : !cJSON_IsNumber(cj) || !(cj->valuedouble >= INT32_MIN && cj->valuedouble <= INT32_MAX)
                        ? "code"
                    : json_bytes(proof, "header", 1024, &b->header, &t->header_len)  ? "header"
                    : json_bytes(proof, "cert", 64 * 1024, &b->cert, &t->cert_len)   ? "cert"
                    : json_path(proof, "tx_path", b->tx_path, &t->tx_path_len)       ? "tx_path"
                    : json_path(proof, "receipt_path", b->receipt_path, &t->receipt_path_len) ? "receipt_path"
                                                                                     : NULL;
  if (bad) {
    snprintf(b->proof_why, sizeof b->proof_why, "tx_proof: the answer's \"%s\" is missing or malformed", bad);
    return;
  }
  t->code = (int32_t)cj->valuedouble;
  t->header = b->header;
  t->cert = b->cert;
  t->tx_path = b->tx_path;
  t->receipt_path = b->receipt_path;
  t->has_proof = 1;
}

void verify_tx_buf_free(verify_tx_buf *b) {
  free(b->raw);
  free(b->header);
  free(b->cert);
  memset(b, 0, sizeof *b);
}
