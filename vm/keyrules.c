/* keyrules: the rules of consortium keys (docs/keys.md §3, §4) over one key
 * in memory. Every check on the DKG's messages is dkg.h's public one
 * (dkg_round1_verify, dkg_complaint_verify) and every group operation
 * libsodium's or frost.h's: nothing here does curve arithmetic of its own.
 *
 * A rule checks everything before it changes anything, so a rejected
 * transaction leaves the key as it was (the auditor replays only what the
 * chain applied, and the vm stores the key back only when applied). */
#include "keyrules.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "dkg.h"
#include "frost.h"

#define VM_KEY_REC_VERSION 1 /* = VM_REC_VERSION: the vm stores this encoding as is */

static uint64_t bit(size_t i) { return (uint64_t)1 << i; }

static size_t popcount(uint64_t x) {
  size_t c = 0;
  for (; x; x &= x - 1) c++;
  return c;
}

/* All n parties. */
static uint64_t all_bits(uint32_t n) { return n >= 64 ? UINT64_MAX : bit(n) - 1; }

/* f = floor((n - 1) / 3): the faults tolerated (§2). */
static uint32_t key_f(uint32_t n) { return n ? (n - 1) / 3 : 0; }

void vm_key_init(vm_key *k) { memset(k, 0, sizeof *k); }

void vm_key_clear(vm_key *k) {
  for (size_t i = 0; i < CX_MAX_VALIDATORS; i++) {
    free(k->round1[i]);
    free(k->sealed[i]);
  }
  free(k->complaints);
  memset(k, 0, sizeof *k);
}

int vm_key_party(const vm_key *k, const cx_pubkey *key) {
  for (uint32_t i = 0; i < k->n && i < CX_MAX_VALIDATORS; i++)
    if (memcmp(k->parties[i].b, key->b, 32) == 0) return (int)i;
  return -1;
}

/* ---- key_create (§2, §3) ---- */

/* A name the struct holds terminated and that is an identifier. */
static int name_ok(const char name[CX_KEY_NAME_MAX + 1]) {
  return memchr(name, 0, CX_KEY_NAME_MAX + 1) && str_valid(name, CX_KEY_NAME_MAX, STR_IDENT);
}

/* Name, purpose and threshold as §2 says, for n parties; the policy k as
 * §9 says, for nmembers members: none for results and beacon, 1..members
 * (and at most VM_KEY_K_MAX) for a custody key. */
static int params_ok(const cx_tx_key_create *kc, size_t n, size_t nmembers) {
  if (!name_ok(kc->name) || n < 2 || n > CX_MAX_VALIDATORS) return 0;
  int results = strcmp(kc->name, "results") == 0, beacon = strcmp(kc->name, "beacon") == 0;
  uint32_t f = key_f((uint32_t)n), lo = f + 1 < 2 ? 2 : f + 1;
  switch (kc->purpose) {
    case CX_KEY_PURPOSE_RESULTS:
      return results && kc->t == n - f && kc->k == 0;
    case CX_KEY_PURPOSE_BEACON:
      return beacon && kc->t == lo && kc->k == 0;
    case CX_KEY_PURPOSE_CUSTODY:
      return !results && !beacon && kc->t >= lo && kc->t <= n && kc->k >= 1 && kc->k <= nmembers &&
             kc->k <= VM_KEY_K_MAX;
    default:
      return 0;
  }
}

cx_err vm_key_create(const cx_hash *chain_id, const cx_tx_key_create *kc, const cx_member *validators,
                     size_t nval, size_t nmembers, int sender_is_validator, int sender_is_member,
                     const vm_key *prev, uint64_t height, vm_key *out, cx_err *rej) {
  *rej = CX_OK;
  if (!params_ok(kc, nval, nmembers) || (prev && prev->epoch == UINT32_MAX)) {
    *rej = CX_E_BAD_KEY_PARAMS;
    return CX_OK;
  }
  /* The results and beacon keys serve the consensus group itself: only a
   * validator starts them. A custody key any member may ask for. */
  if (kc->purpose != CX_KEY_PURPOSE_CUSTODY && !sender_is_validator) {
    *rej = CX_E_NOT_VALIDATOR;
    return CX_OK;
  }
  if (kc->purpose == CX_KEY_PURPOSE_CUSTODY && !sender_is_member) {
    *rej = CX_E_NOT_MEMBER;
    return CX_OK;
  }
  vm_key_init(out);
  strcpy(out->name, kc->name);
  out->purpose = kc->purpose;
  out->t = kc->t;
  out->k = kc->k;
  out->phase = VM_KEY_DEALING;
  out->epoch = prev ? prev->epoch + 1 : 0;
  out->n = (uint32_t)nval;
  for (size_t i = 0; i < nval; i++) {
    out->parties[i] = validators[i].key;
    memcpy(out->enc[i], validators[i].enc_key, 32);
  }
  tx_key_context(chain_id, out->name, out->epoch, out->t, out->parties, out->n, out->context);
  out->created_height = height;
  return CX_OK;
}

/* ---- phase ends (§4) ---- */

/* A complaint still waiting for its answer: one against a dealer already
 * out needs none. */
static int pending(const vm_key *k, const vm_key_complaint *c) {
  return c->state == 0 && !(k->disq & bit(c->dealer));
}

static void end_dealing(vm_key *k, uint64_t height) {
  k->votes = 0;
  if (popcount(k->dealt) < k->t) {
    k->phase = VM_KEY_FAILED;
    k->ended_height = height;
  } else {
    k->phase = VM_KEY_VERIFYING;
  }
}

/* Y = sum over QUAL of C_i0 and Y_j = sum over QUAL of C_i(j): the QUAL
 * dealers' commitments are summed coefficient by coefficient (D_k = sum of
 * C_ik) and the sum polynomial evaluated at each j with frost.h's
 * frost_vss_public_share (by linearity, the same as summing each dealer's
 * evaluation, at n instead of n x |QUAL| evaluations). A partial sum may be
 * the identity (32 zero bytes, which libsodium takes as input): that is only
 * refused for the group key itself (*ok = 0), which a FROST signature cannot
 * use. CX_E_CORRUPT when a stored deal no longer decodes. */
static cx_err group_key(const vm_key *k, uint64_t qual, uint8_t group_pk[32],
                        uint8_t pk_shares[CX_MAX_VALIDATORS][32], int *ok) {
  dkg_round1_msg m;
  frost_element D[DKG_MAX_PARTIES];
  int first = 1;
  *ok = 0;
  memset(D, 0, sizeof D);
  for (uint32_t i = 0; i < k->n; i++) {
    if (!(qual & bit(i))) continue;
    if (dkg_round1_decode(k->round1[i], k->round1_len[i], &m, NULL, 0) != CX_OK || m.t != k->t)
      return CX_E_CORRUPT;
    for (size_t c = 0; c < k->t; c++) {
      if (first)
        D[c] = m.commit[c];
      else if (crypto_core_ristretto255_add(D[c].b, D[c].b, m.commit[c].b) != 0)
        return CX_E_CORRUPT;
    }
    first = 0;
  }
  if (first || sodium_is_zero(D[0].b, 32)) return CX_OK;
  memcpy(group_pk, D[0].b, 32);
  for (uint32_t j = 0; j < k->n; j++) {
    frost_element y;
    if (frost_vss_public_share(D, k->t, (uint16_t)(j + 1), &y) != CX_OK) return CX_E_CORRUPT;
    memcpy(pk_shares[j], y.b, 32);
  }
  *ok = 1;
  return CX_OK;
}

/* VERIFYING ends: every complaint still unanswered disqualifies its dealer
 * (GJKR 1(d)); QUAL = the dealers not disqualified; READY with the group
 * key when |QUAL| >= t, else FAILED. */
static cx_err end_verifying(vm_key *k, uint64_t height) {
  uint64_t disq = k->disq;
  uint8_t gpk[32], shares[CX_MAX_VALIDATORS][32];
  int ok = 0;
  for (size_t i = 0; i < k->ncomplaints; i++)
    if (pending(k, &k->complaints[i])) disq |= bit(k->complaints[i].dealer);
  uint64_t qual = k->dealt & ~disq;
  if (popcount(qual) >= k->t) {
    cx_err e = group_key(k, qual, gpk, shares, &ok);
    if (e) return e;
  }
  k->disq = disq;
  k->votes = 0;
  k->ended_height = height;
  if (!ok) {
    k->phase = VM_KEY_FAILED;
    return CX_OK;
  }
  k->phase = VM_KEY_READY;
  k->qual = qual;
  memcpy(k->group_pk, gpk, 32);
  memcpy(k->pk_shares, shares, sizeof shares);
  return CX_OK;
}

/* VERIFYING also ends on its own when every party has given its verdict
 * and no complaint waits for an answer. */
static cx_err verifying_check(vm_key *k, uint64_t height) {
  if (k->verdict != all_bits(k->n)) return CX_OK;
  for (size_t i = 0; i < k->ncomplaints; i++)
    if (pending(k, &k->complaints[i])) return CX_OK;
  return end_verifying(k, height);
}

/* ---- the rules (§3) ---- */

#define REJECT(code)  \
  do {                \
    *rej = (code);    \
    return CX_OK;     \
  } while (0)

static cx_err apply_deal(vm_key *k, const cx_tx_key_deal *d, const cx_pubkey *sender, uint64_t height,
                         cx_err *rej) {
  int me = vm_key_party(k, sender);
  if (me < 0) REJECT(CX_E_NOT_KEY_PARTY);
  if (k->phase != VM_KEY_DEALING || d->epoch != k->epoch) REJECT(CX_E_KEY_CLOSED);
  if (k->dealt & bit((size_t)me)) REJECT(CX_E_DEAL_EXISTS);
  /* n slots, one sealed share for every other party and none for itself */
  if (d->n != k->n || !d->sealed || !d->round1 || d->round1_len == 0 || d->round1_len > CX_KEY_ROUND1_MAX)
    REJECT(CX_E_BAD_DEAL);
  for (uint32_t j = 0; j < k->n; j++)
    if (!d->sealed_present[j] != (j == (uint32_t)me)) REJECT(CX_E_BAD_DEAL);
  /* round one: the sender's, for this threshold, its proof of knowledge
   * bound to this run's context */
  dkg_round1_msg m;
  if (dkg_round1_decode(d->round1, d->round1_len, &m, NULL, 0) != CX_OK) REJECT(CX_E_BAD_DEAL);
  if (m.dealer != (uint16_t)(me + 1) || m.t != k->t) REJECT(CX_E_BAD_DEAL);
  if (dkg_round1_verify(k->context, (uint16_t)k->n, k->t, &m, NULL, 0) != CX_OK) REJECT(CX_E_BAD_DEAL);

  size_t slen = (size_t)k->n * CX_KEY_SEALED_LEN;
  uint8_t *r1 = malloc(d->round1_len), *sl = malloc(slen);
  if (!r1 || !sl) {
    free(r1);
    free(sl);
    return CX_E_NOMEM;
  }
  memcpy(r1, d->round1, d->round1_len);
  memcpy(sl, d->sealed, slen);
  memset(sl + (size_t)me * CX_KEY_SEALED_LEN, 0, CX_KEY_SEALED_LEN);
  k->round1[me] = r1;
  k->round1_len[me] = d->round1_len;
  k->sealed[me] = sl;
  k->dealt |= bit((size_t)me);
  if (k->dealt == all_bits(k->n)) end_dealing(k, height);
  return CX_OK;
}

/* One complaint of party me's verdict, decoded and judged: the complainer
 * is the sender, the dealer has dealt and comes after *prev (dealers
 * strictly increasing), and the complaint proves something
 * (dkg_complaint_verify with no answer says the dealer is at fault: a
 * BAD_SHARE whose disclosed share passes the commitments proves nothing). */
static int complaint_ok(const vm_key *k, int me, const uint8_t *b, size_t len, uint16_t *prev,
                        dkg_complaint *c) {
  dkg_round1_msg r1;
  int fault = 0;
  if (len == 0 || len > CX_KEY_COMPLAINT_MAX) return 0;
  if (dkg_complaint_decode(b, len, c, NULL, 0) != CX_OK) return 0;
  if (c->complainer != (uint16_t)(me + 1) || c->dealer == 0 || c->dealer > k->n || c->dealer <= *prev)
    return 0;
  *prev = c->dealer;
  size_t i = c->dealer - 1u;
  if (!(k->dealt & bit(i))) return 0;
  if (dkg_round1_decode(k->round1[i], k->round1_len[i], &r1, NULL, 0) != CX_OK) return 0;
  if (dkg_complaint_verify((uint16_t)k->n, k->t, &r1, c, NULL, &fault, NULL, 0) != CX_OK) return 0;
  return fault;
}

static cx_err apply_verdict(vm_key *k, const cx_tx_key_verdict *v, const cx_pubkey *sender, uint64_t height,
                            cx_err *rej) {
  int me = vm_key_party(k, sender);
  if (me < 0) REJECT(CX_E_NOT_KEY_PARTY);
  if (k->phase != VM_KEY_VERIFYING || v->epoch != k->epoch) REJECT(CX_E_KEY_CLOSED);
  if (k->verdict & bit((size_t)me)) REJECT(CX_E_VERDICT_EXISTS);
  if (v->k > CX_MAX_VALIDATORS) REJECT(CX_E_BAD_COMPLAINT);
  dkg_complaint c[CX_MAX_VALIDATORS];
  uint16_t prev = 0;
  for (uint32_t i = 0; i < v->k; i++)
    if (!complaint_ok(k, me, v->complaint[i], v->complaint_len[i], &prev, &c[i])) REJECT(CX_E_BAD_COMPLAINT);

  if (v->k) {
    vm_key_complaint *nc = realloc(k->complaints, (k->ncomplaints + v->k) * sizeof *nc);
    if (!nc) return CX_E_NOMEM;
    k->complaints = nc;
    for (uint32_t i = 0; i < v->k; i++) {
      vm_key_complaint *x = &k->complaints[k->ncomplaints++];
      memset(x, 0, sizeof *x);
      x->dealer = (uint8_t)(c[i].dealer - 1);
      x->complainer = (uint8_t)me;
      x->reason = c[i].reason;
      memcpy(x->complaint, v->complaint[i], v->complaint_len[i]);
      x->complaint_len = v->complaint_len[i];
    }
  }
  k->verdict |= bit((size_t)me);
  return verifying_check(k, height);
}

static cx_err apply_answer(vm_key *k, const cx_tx_key_answer *a, const cx_pubkey *sender, uint64_t height,
                           cx_err *rej) {
  if (k->phase != VM_KEY_VERIFYING || a->epoch != k->epoch) REJECT(CX_E_KEY_CLOSED);
  /* Which complaint: the sender's as dealer, by the complainer the answer
   * names (its bytes 3..4, dkg.h's layout), before the answer is judged. */
  int me = vm_key_party(k, sender);
  uint16_t who = (uint16_t)(a->answer[3] << 8 | a->answer[4]);
  vm_key_complaint *x = NULL;
  for (size_t i = 0; me >= 0 && i < k->ncomplaints; i++) {
    vm_key_complaint *y = &k->complaints[i];
    if (y->dealer == (uint8_t)me && (uint16_t)(y->complainer + 1) == who && pending(k, y)) x = y;
  }
  if (!x) REJECT(CX_E_NO_COMPLAINT);
  dkg_answer ans;
  dkg_complaint c;
  dkg_round1_msg r1;
  int fault = 0;
  if (dkg_answer_decode(a->answer, CX_KEY_ANSWER_LEN, &ans, NULL, 0) != CX_OK ||
      ans.dealer != (uint16_t)(me + 1))
    REJECT(CX_E_BAD_COMPLAINT);
  /* The complaint and the deal were checked when recorded. */
  if (dkg_complaint_decode(x->complaint, x->complaint_len, &c, NULL, 0) != CX_OK ||
      dkg_round1_decode(k->round1[me], k->round1_len[me], &r1, NULL, 0) != CX_OK ||
      dkg_complaint_verify((uint16_t)k->n, k->t, &r1, &c, &ans, &fault, NULL, 0) != CX_OK)
    return CX_E_CORRUPT;

  memcpy(x->answer, a->answer, CX_KEY_ANSWER_LEN);
  x->state = fault ? 2 : 1;
  if (fault) k->disq |= bit((size_t)me);
  return verifying_check(k, height);
}

static cx_err apply_advance(vm_key *k, const cx_tx_key_advance *a, const cx_pubkey *sender, uint64_t height,
                            cx_err *rej) {
  int me = vm_key_party(k, sender);
  if (me < 0) REJECT(CX_E_NOT_KEY_PARTY);
  if (a->epoch != k->epoch || a->phase != k->phase) REJECT(CX_E_KEY_CLOSED);
  if (k->votes & bit((size_t)me)) REJECT(CX_E_ALREADY_VOTED);
  k->votes |= bit((size_t)me);
  /* f + 1 votes: at least one honest party's timeout has passed (§4). */
  if (popcount(k->votes) < key_f(k->n) + 1) return CX_OK;
  if (k->phase == VM_KEY_DEALING) {
    end_dealing(k, height);
    return CX_OK;
  }
  return end_verifying(k, height);
}

cx_err vm_key_apply(vm_key *k, const cx_tx *tx, uint64_t height, cx_err *rej) {
  *rej = CX_OK;
  const char *name;
  switch (tx->type) {
    case TX_KEY_DEAL: name = tx->u.kdeal.name; break;
    case TX_KEY_VERDICT: name = tx->u.kverdict.name; break;
    case TX_KEY_ANSWER: name = tx->u.kanswer.name; break;
    case TX_KEY_ADVANCE: name = tx->u.kadvance.name; break;
    default: return CX_E_INVALID_ARG;
  }
  /* A transaction about another key (an auditor's replay gone wrong). */
  if (!memchr(name, 0, CX_KEY_NAME_MAX + 1) || strcmp(name, k->name) != 0) REJECT(CX_E_KEY_UNKNOWN);
  switch (tx->type) {
    case TX_KEY_DEAL: return apply_deal(k, &tx->u.kdeal, &tx->sender, height, rej);
    case TX_KEY_VERDICT: return apply_verdict(k, &tx->u.kverdict, &tx->sender, height, rej);
    case TX_KEY_ANSWER: return apply_answer(k, &tx->u.kanswer, &tx->sender, height, rej);
    default: return apply_advance(k, &tx->u.kadvance, &tx->sender, height, rej);
  }
}

/* ---- encoding ----
 * u8 1 | str name | u8 purpose | u8 t | u8 k | u8 phase | varint epoch | varint n |
 * n x (party[32] | enc[32]) | context[32] | varint created_height |
 * varint ended_height | varint dealt | varint verdict | varint votes |
 * varint disq | for each dealer in dealt, ascending: bytes round1 |
 * sealed[n x 85] | varint ncomplaints | each: u8 dealer | u8 complainer |
 * u8 reason | u8 state | bytes complaint | answer[37] (state != 0) |
 * READY: varint qual | group_pk[32] | n x pk_share[32]. */

cx_err vm_key_encode(const vm_key *k, uint8_t **out, size_t *len) {
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, VM_KEY_REC_VERSION);
  enc_str(&e, k->name);
  enc_u8(&e, k->purpose);
  enc_u8(&e, k->t);
  enc_u8(&e, k->k);
  enc_u8(&e, k->phase);
  enc_varint(&e, k->epoch);
  enc_varint(&e, k->n);
  for (uint32_t i = 0; i < k->n; i++) {
    enc_fixed(&e, k->parties[i].b, 32);
    enc_fixed(&e, k->enc[i], 32);
  }
  enc_fixed(&e, k->context, 32);
  enc_varint(&e, k->created_height);
  enc_varint(&e, k->ended_height);
  enc_varint(&e, k->dealt);
  enc_varint(&e, k->verdict);
  enc_varint(&e, k->votes);
  enc_varint(&e, k->disq);
  for (uint32_t i = 0; i < k->n; i++) {
    if (!(k->dealt & bit(i))) continue;
    enc_bytes(&e, k->round1[i], k->round1_len[i]);
    enc_fixed(&e, k->sealed[i], (size_t)k->n * CX_KEY_SEALED_LEN);
  }
  enc_varint(&e, k->ncomplaints);
  for (size_t i = 0; i < k->ncomplaints; i++) {
    const vm_key_complaint *c = &k->complaints[i];
    enc_u8(&e, c->dealer);
    enc_u8(&e, c->complainer);
    enc_u8(&e, c->reason);
    enc_u8(&e, c->state);
    enc_bytes(&e, c->complaint, c->complaint_len);
    if (c->state) enc_fixed(&e, c->answer, CX_KEY_ANSWER_LEN);
  }
  if (k->phase == VM_KEY_READY) {
    enc_varint(&e, k->qual);
    enc_fixed(&e, k->group_pk, 32);
    for (uint32_t j = 0; j < k->n; j++) enc_fixed(&e, k->pk_shares[j], 32);
  }
  cx_err err = enc_finish(&e);
  if (err) {
    enc_free(&e);
    return err;
  }
  *out = enc_take(&e, len);
  return CX_OK;
}

/* A bitmap over the n parties. */
static int bitmap_dec(cx_dec *d, uint64_t *v, uint32_t n) {
  if (dec_varint(d, v)) return -1;
  if (*v & ~all_bits(n)) return dec_fail(d, CX_E_NONCANONICAL);
  return 0;
}

static int complaints_dec(cx_dec *d, vm_key *k) {
  uint64_t n;
  /* at most one complaint per (dealer, complainer) pair */
  if (dec_varint_max(d, &n, (uint64_t)k->n * (k->n - 1))) return -1;
  if (n > (d->len - d->off) / 6) return dec_fail(d, CX_E_TRUNCATED);
  if (n && !(k->complaints = calloc((size_t)n, sizeof *k->complaints))) return dec_fail(d, CX_E_NOMEM);
  k->ncomplaints = (size_t)n;
  for (size_t i = 0; i < k->ncomplaints; i++) {
    vm_key_complaint *c = &k->complaints[i];
    const uint8_t *b;
    size_t bl;
    if (dec_u8(d, &c->dealer) || dec_u8(d, &c->complainer) ||
        dec_enum(d, &c->reason, DKG_COMPLAINT_BAD_SHARE, DKG_COMPLAINT_NO_SHARE) || dec_enum(d, &c->state, 0, 2) ||
        dec_bytes(d, &b, &bl, CX_KEY_COMPLAINT_MAX))
      return -1;
    if (c->dealer >= k->n || c->complainer >= k->n || c->dealer == c->complainer || bl == 0 ||
        !(k->dealt & bit(c->dealer)))
      return dec_fail(d, CX_E_NONCANONICAL);
    memcpy(c->complaint, b, bl);
    c->complaint_len = (uint8_t)bl;
    if (c->state && dec_fixed(d, c->answer, CX_KEY_ANSWER_LEN)) return -1;
  }
  return 0;
}

static int key_dec(cx_dec *d, vm_key *k) {
  uint8_t ver;
  uint64_t ep, n;
  if (dec_u8(d, &ver)) return -1;
  if (ver != VM_KEY_REC_VERSION) return dec_fail(d, CX_E_BAD_VERSION);
  if (dec_str(d, k->name, CX_KEY_NAME_MAX, STR_IDENT) ||
      dec_enum(d, &k->purpose, CX_KEY_PURPOSE_RESULTS, CX_KEY_PURPOSE_CUSTODY) || dec_u8(d, &k->t))
    return -1;
  size_t at = d->off;
  if (dec_u8(d, &k->k)) return -1;
  /* a policy only for custody keys, and one key_create allows (§9) */
  if (k->purpose == CX_KEY_PURPOSE_CUSTODY ? k->k < 1 || k->k > VM_KEY_K_MAX : k->k != 0) {
    d->off = at;
    return dec_fail(d, CX_E_NONCANONICAL);
  }
  if (dec_enum(d, &k->phase, VM_KEY_DEALING, VM_KEY_FAILED) || dec_varint_max(d, &ep, UINT32_MAX) ||
      dec_varint_max(d, &n, CX_MAX_VALIDATORS))
    return -1;
  k->epoch = (uint32_t)ep;
  k->n = (uint32_t)n;
  if (k->n < 2 || k->t < 2 || k->t > k->n) return dec_fail(d, CX_E_NONCANONICAL);
  for (uint32_t i = 0; i < k->n; i++)
    if (dec_fixed(d, k->parties[i].b, 32) || dec_fixed(d, k->enc[i], 32)) return -1;
  if (dec_fixed(d, k->context, 32) || dec_varint(d, &k->created_height) || dec_varint(d, &k->ended_height) ||
      bitmap_dec(d, &k->dealt, k->n) || bitmap_dec(d, &k->verdict, k->n) || bitmap_dec(d, &k->votes, k->n) ||
      bitmap_dec(d, &k->disq, k->n))
    return -1;
  int ended = k->phase == VM_KEY_READY || k->phase == VM_KEY_FAILED;
  if (ended != (k->ended_height != 0)) return dec_fail(d, CX_E_NONCANONICAL);
  size_t slen = (size_t)k->n * CX_KEY_SEALED_LEN;
  for (uint32_t i = 0; i < k->n; i++) {
    const uint8_t *b;
    size_t bl;
    if (!(k->dealt & bit(i))) continue;
    if (dec_bytes(d, &b, &bl, CX_KEY_ROUND1_MAX)) return -1;
    if (bl == 0) return dec_fail(d, CX_E_TRUNCATED);
    if (slen > d->len - d->off) return dec_fail(d, CX_E_TRUNCATED);
    if (!(k->round1[i] = malloc(bl)) || !(k->sealed[i] = malloc(slen))) return dec_fail(d, CX_E_NOMEM);
    memcpy(k->round1[i], b, bl);
    k->round1_len[i] = bl;
    if (dec_fixed(d, k->sealed[i], slen)) return -1;
  }
  if (complaints_dec(d, k)) return -1;
  if (k->phase != VM_KEY_READY) return 0;
  if (bitmap_dec(d, &k->qual, k->n) || dec_fixed(d, k->group_pk, 32)) return -1;
  if ((k->qual & ~k->dealt) || popcount(k->qual) < k->t) return dec_fail(d, CX_E_NONCANONICAL);
  for (uint32_t j = 0; j < k->n; j++)
    if (dec_fixed(d, k->pk_shares[j], 32)) return -1;
  return 0;
}

cx_err vm_key_decode(const uint8_t *in, size_t len, vm_key *k) {
  cx_dec d;
  vm_key_init(k);
  dec_init(&d, in, len);
  key_dec(&d, k);
  cx_err e = dec_finish(&d);
  if (e) vm_key_clear(k);
  return e;
}
