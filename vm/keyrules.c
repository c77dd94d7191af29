/* keyrules: the rules of consortium keys (docs/keys.md §3, §4, and §10's
 * resharing) over one key in memory. Every check on the DKG's messages is
 * dkg.h's public one (dkg_round1_verify, dkg_complaint_verify, and in
 * reshare mode dkg_reshare_check_deal, dkg_reshare_complaint_verify,
 * dkg_reshare_public) and every group operation libsodium's or frost.h's:
 * nothing here does curve arithmetic of its own.
 *
 * A rule checks everything before it changes anything, so a rejected
 * transaction leaves the key as it was (the auditor replays only what the
 * chain applied, and the vm stores the key back only when applied). */
#include "keyrules.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "dkg.h"
#include "frost.h"

/* The record's version byte. 2 since resharing (mode, last_epoch and the
 * old set); a version-1 record from before is refused, not guessed at. */
#define VM_KEY_REC_VERSION 2

static uint64_t bit(size_t i) { return (uint64_t)1 << i; }


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

int vm_key_old_party(const vm_key *k, const cx_pubkey *key) {
  for (uint32_t i = 0; k->reshare && i < k->n_old && i < CX_MAX_VALIDATORS; i++)
    if (memcmp(k->old_parties[i].b, key->b, 32) == 0) return (int)i;
  return -1;
}

/* The dealers' index space: the parties, or in reshare mode the old ones. */
static uint32_t dealers_n(const vm_key *k) { return k->reshare ? k->n_old : k->n; }

/* Deals QUAL needs: t, or in reshare mode t_old (any t_old of the old
 * shares determine the secret; fewer say nothing about it). */
static size_t deals_needed(const vm_key *k) { return k->reshare ? k->t_old : k->t; }

/* S: the t_old lowest OLD ids of qual, ascending (docs/keys.md §10). */
static void s_of(vm_key *k) {
  k->n_s = 0;
  for (uint32_t i = 0; i < k->n_old && k->n_s < k->t_old; i++)
    if (k->qual & bit(i)) k->s_ids[k->n_s++] = (uint16_t)(i + 1);
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
  if (!params_ok(kc, nval, nmembers) || (prev && prev->last_epoch == UINT32_MAX)) {
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
  out->epoch = prev ? prev->last_epoch + 1 : 0;
  out->last_epoch = out->epoch;
  out->n = (uint32_t)nval;
  for (size_t i = 0; i < nval; i++) {
    out->parties[i] = validators[i].key;
    memcpy(out->enc[i], validators[i].enc_key, 32);
  }
  tx_key_context(chain_id, out->name, out->epoch, out->t, out->parties, out->n, out->context);
  out->created_height = height;
  return CX_OK;
}

/* ---- key_reshare (§10) ---- */

/* The new threshold t' for n' parties (§2): results n' - f', beacon
 * max(2, f' + 1); a custody key keeps its t where it fits, min(t, n'),
 * and at least max(2, f' + 1). */
static uint8_t reshare_t(uint8_t purpose, uint8_t t, uint32_t n) {
  uint32_t f = key_f(n), lo = f + 1 < 2 ? 2 : f + 1, v;
  if (purpose == CX_KEY_PURPOSE_RESULTS)
    v = n - f;
  else if (purpose == CX_KEY_PURPOSE_BEACON)
    v = lo;
  else
    v = t < n ? t : n;
  return (uint8_t)(v < lo ? lo : v);
}

#define REJECT(code)  \
  do {                \
    *rej = (code);    \
    return CX_OK;     \
  } while (0)

cx_err vm_key_reshare(const cx_hash *chain_id, const vm_key *old, const cx_tx_key_reshare *kr,
                      const cx_member *validators, size_t nval, int sender_is_validator,
                      const cx_member *members, size_t nmembers, uint64_t height, vm_key *out, cx_err *rej) {
  *rej = CX_OK;
  if (!old || !memchr(kr->name, 0, CX_KEY_NAME_MAX + 1) || strcmp(kr->name, old->name) != 0)
    REJECT(CX_E_KEY_UNKNOWN);
  if (!sender_is_validator) REJECT(CX_E_NOT_VALIDATOR);
  if (old->phase != VM_KEY_READY || kr->epoch != old->epoch) REJECT(CX_E_KEY_CLOSED);
  if (nval < 2 || nval > CX_MAX_VALIDATORS || old->last_epoch == UINT32_MAX) REJECT(CX_E_BAD_KEY_PARAMS);
  /* Nothing to do when the parties are the validators already. */
  int same = nval == old->n;
  for (size_t i = 0; same && i < nval; i++) same = memcmp(old->parties[i].b, validators[i].key.b, 32) == 0;
  if (same) REJECT(CX_E_BAD_KEY_PARAMS);
  /* The old parties still members: only they are waited for, and fewer
   * than t of them cannot make the secret again. */
  uint64_t live = 0;
  for (uint32_t i = 0; i < old->n; i++)
    for (size_t m = 0; m < nmembers; m++)
      if (memcmp(old->parties[i].b, members[m].key.b, 32) == 0) live |= bit(i);
  if ((size_t)__builtin_popcountll(live) < old->t) REJECT(CX_E_BAD_KEY_PARAMS);

  vm_key_init(out);
  strcpy(out->name, old->name);
  out->purpose = old->purpose;
  out->k = old->k;
  out->t = reshare_t(old->purpose, old->t, (uint32_t)nval);
  out->phase = VM_KEY_DEALING;
  out->epoch = out->last_epoch = old->last_epoch + 1;
  out->n = (uint32_t)nval;
  for (size_t i = 0; i < nval; i++) {
    out->parties[i] = validators[i].key;
    memcpy(out->enc[i], validators[i].enc_key, 32);
  }
  tx_key_context(chain_id, out->name, out->epoch, out->t, out->parties, out->n, out->context);
  out->created_height = height;
  out->reshare = 1;
  out->from_epoch = old->epoch;
  out->n_old = old->n;
  out->t_old = old->t;
  memcpy(out->old_parties, old->parties, sizeof out->old_parties);
  memcpy(out->old_pk_shares, old->pk_shares, sizeof out->old_pk_shares);
  out->old_members = live;
  memcpy(out->group_pk, old->group_pk, 32);
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
  if ((size_t)__builtin_popcountll(k->dealt) < deals_needed(k)) {
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

/* Reshare mode (§10): with S = the t_old lowest ids of qual, the public
 * side of the redistribution (dkg_reshare_public): D_0 = sum over S of
 * lambda_i C_i0 must be the group key again (every C_i0 = Y_i was checked
 * at the deal, so only a bug makes it differ: then *ok = 0, FAILED), and
 * the new verification shares Y'_j. dkg_reshare_public refusing (an
 * identity share, 2^-252) is FAILED too; a stored deal that no longer
 * decodes is CX_E_CORRUPT. */
static cx_err reshare_key(vm_key *k, uint64_t qual, uint8_t pk_shares[CX_MAX_VALIDATORS][32], int *ok) {
  uint16_t ids[CX_MAX_VALIDATORS];
  const dkg_round1_msg *ptr[CX_MAX_VALIDATORS];
  frost_element gpk, ys[CX_MAX_VALIDATORS];
  size_t ns = 0;
  cx_err e = CX_OK;
  *ok = 0;
  dkg_round1_msg *r1 = malloc((size_t)k->t_old * sizeof *r1);
  if (!r1) return CX_E_NOMEM;
  for (uint32_t i = 0; i < k->n_old && ns < k->t_old; i++) {
    if (!(qual & bit(i))) continue;
    if (dkg_round1_decode(k->round1[i], k->round1_len[i], &r1[ns], NULL, 0) != CX_OK || r1[ns].t != k->t) {
      e = CX_E_CORRUPT;
      goto out;
    }
    ids[ns] = (uint16_t)(i + 1);
    ptr[ns] = &r1[ns];
    ns++;
  }
  if (ns < k->t_old) goto out;
  if (dkg_reshare_public(k->t_old, ids, ptr, k->t, (uint16_t)k->n, &gpk, ys) != CX_OK ||
      sodium_memcmp(gpk.b, k->group_pk, 32) != 0)
    goto out;
  for (uint32_t j = 0; j < k->n; j++) memcpy(pk_shares[j], ys[j].b, 32);
  *ok = 1;
out:
  free(r1);
  return e;
}

/* VERIFYING ends: every complaint still unanswered disqualifies its dealer
 * (GJKR 1(d)); QUAL = the dealers not disqualified; READY with the group
 * key when |QUAL| >= t (reshare mode: t_old, and the group key unchanged),
 * else FAILED. */
static cx_err end_verifying(vm_key *k, uint64_t height) {
  uint64_t disq = k->disq;
  uint8_t gpk[32] = {0}, shares[CX_MAX_VALIDATORS][32] = {{0}}; /* written when ok */
  int ok = 0;
  for (size_t i = 0; i < k->ncomplaints; i++)
    if (pending(k, &k->complaints[i])) disq |= bit(k->complaints[i].dealer);
  uint64_t qual = k->dealt & ~disq;
  if ((size_t)__builtin_popcountll(qual) >= deals_needed(k)) {
    cx_err e = k->reshare ? reshare_key(k, qual, shares, &ok) : group_key(k, qual, gpk, shares, &ok);
    if (e) return e;
    if (k->reshare) memcpy(gpk, k->group_pk, 32);
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
  if (k->reshare) s_of(k);
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

/* ---- the rules (§3; reshare mode §10) ---- */

/* DEALING ends on its own when every party has dealt; in reshare mode when
 * every old party that was still a member at key_reshare has (a removed
 * one may deal until then, and is not waited for). */
static int dealing_done(const vm_key *k) {
  if (k->reshare) return (k->dealt & k->old_members) == k->old_members;
  return k->dealt == all_bits(k->n);
}

/* A deal's round one, checked: DKG mode, dkg_round1_verify under the key's
 * context; reshare mode, dkg_reshare_check_deal, which also holds its C_0
 * to the dealer's old verification share Y_i (what keeps the group key). */
static int round1_ok(const vm_key *k, int me, const cx_tx_key_deal *d) {
  dkg_round1_msg m;
  if (dkg_round1_decode(d->round1, d->round1_len, &m, NULL, 0) != CX_OK) return 0;
  if (m.dealer != (uint16_t)(me + 1) || m.t != k->t) return 0;
  if (!k->reshare) return dkg_round1_verify(k->context, (uint16_t)k->n, k->t, &m, NULL, 0) == CX_OK;
  frost_element y;
  memcpy(y.b, k->old_pk_shares[me], 32);
  return dkg_reshare_check_deal(k->context, k->t, &m, &y, NULL, 0) == CX_OK;
}

static cx_err apply_deal(vm_key *k, const cx_tx_key_deal *d, const cx_pubkey *sender, uint64_t height,
                         cx_err *rej) {
  /* The dealers: the parties, or in reshare mode the old parties. */
  int me = k->reshare ? vm_key_old_party(k, sender) : vm_key_party(k, sender);
  if (me < 0) REJECT(CX_E_NOT_KEY_PARTY);
  if (k->phase != VM_KEY_DEALING || d->epoch != k->epoch) REJECT(CX_E_KEY_CLOSED);
  if (k->dealt & bit((size_t)me)) REJECT(CX_E_DEAL_EXISTS);
  /* n slots: a sealed share for every other party and none for itself; in
   * reshare mode one for every new party, none empty (an old party that is
   * also new receives its own, at its new id) */
  if (d->n != k->n || !d->sealed || !d->round1 || d->round1_len == 0 || d->round1_len > CX_KEY_ROUND1_MAX)
    REJECT(CX_E_BAD_DEAL);
  for (uint32_t j = 0; j < k->n; j++)
    if (!d->sealed_present[j] != (!k->reshare && j == (uint32_t)me)) REJECT(CX_E_BAD_DEAL);
  if (!round1_ok(k, me, d)) REJECT(CX_E_BAD_DEAL);

  size_t slen = (size_t)k->n * CX_KEY_SEALED_LEN;
  uint8_t *r1 = malloc(d->round1_len), *sl = malloc(slen);
  if (!r1 || !sl) {
    free(r1);
    free(sl);
    return CX_E_NOMEM;
  }
  memcpy(r1, d->round1, d->round1_len);
  memcpy(sl, d->sealed, slen);
  if (!k->reshare) memset(sl + (size_t)me * CX_KEY_SEALED_LEN, 0, CX_KEY_SEALED_LEN);
  k->round1[me] = r1;
  k->round1_len[me] = d->round1_len;
  k->sealed[me] = sl;
  k->dealt |= bit((size_t)me);
  if (dealing_done(k)) end_dealing(k, height);
  return CX_OK;
}

/* One complaint of party me's verdict, decoded and judged: the complainer
 * is the sender, the dealer has dealt and comes after *prev (dealers
 * strictly increasing), and the complaint proves something
 * (dkg_complaint_verify with no answer says the dealer is at fault: a
 * BAD_SHARE whose disclosed share passes the commitments proves nothing).
 * Reshare mode: the dealer is an OLD id and the complainer a NEW one, so
 * they may be equal (dkg_reshare_complaint_decode), and the commitments are
 * evaluated at the new id (dkg_reshare_complaint_verify). */
static int complaint_ok(const vm_key *k, int me, const uint8_t *b, size_t len, uint16_t *prev,
                        dkg_complaint *c) {
  dkg_round1_msg r1;
  int fault = 0;
  if (len == 0 || len > CX_KEY_COMPLAINT_MAX) return 0;
  cx_err e = k->reshare ? dkg_reshare_complaint_decode(b, len, c, NULL, 0) : dkg_complaint_decode(b, len, c, NULL, 0);
  if (e != CX_OK) return 0;
  if (c->complainer != (uint16_t)(me + 1) || c->dealer == 0 || c->dealer > dealers_n(k) || c->dealer <= *prev)
    return 0;
  *prev = c->dealer;
  size_t i = c->dealer - 1u;
  if (!(k->dealt & bit(i))) return 0;
  if (dkg_round1_decode(k->round1[i], k->round1_len[i], &r1, NULL, 0) != CX_OK) return 0;
  e = k->reshare ? dkg_reshare_complaint_verify(k->t, &r1, c, NULL, &fault, NULL, 0)
                 : dkg_complaint_verify((uint16_t)k->n, k->t, &r1, c, NULL, &fault, NULL, 0);
  return e == CX_OK && fault;
}

/* Verdicts come from the parties (reshare mode: the new ones). */
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

/* Answers come from the accused dealer (reshare mode: an old party). */
static cx_err apply_answer(vm_key *k, const cx_tx_key_answer *a, const cx_pubkey *sender, uint64_t height,
                           cx_err *rej) {
  if (k->phase != VM_KEY_VERIFYING || a->epoch != k->epoch) REJECT(CX_E_KEY_CLOSED);
  /* Which complaint: the sender's as dealer, by the complainer the answer
   * names (its bytes 3..4, dkg.h's layout), before the answer is judged. */
  int me = k->reshare ? vm_key_old_party(k, sender) : vm_key_party(k, sender);
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
  cx_err e = k->reshare ? dkg_reshare_answer_decode(a->answer, CX_KEY_ANSWER_LEN, &ans, NULL, 0)
                        : dkg_answer_decode(a->answer, CX_KEY_ANSWER_LEN, &ans, NULL, 0);
  if (e != CX_OK || ans.dealer != (uint16_t)(me + 1)) REJECT(CX_E_BAD_COMPLAINT);
  /* The complaint and the deal were checked when recorded. */
  e = k->reshare ? dkg_reshare_complaint_decode(x->complaint, x->complaint_len, &c, NULL, 0)
                 : dkg_complaint_decode(x->complaint, x->complaint_len, &c, NULL, 0);
  if (e == CX_OK) e = dkg_round1_decode(k->round1[me], k->round1_len[me], &r1, NULL, 0);
  if (e == CX_OK)
    e = k->reshare ? dkg_reshare_complaint_verify(k->t, &r1, &c, &ans, &fault, NULL, 0)
                   : dkg_complaint_verify((uint16_t)k->n, k->t, &r1, &c, &ans, &fault, NULL, 0);
  if (e != CX_OK) return CX_E_CORRUPT;

  memcpy(x->answer, a->answer, CX_KEY_ANSWER_LEN);
  x->state = fault ? 2 : 1;
  if (fault) k->disq |= bit((size_t)me);
  return verifying_check(k, height);
}

/* Votes come from the parties (reshare mode: the new ones, f of the new n). */
static cx_err apply_advance(vm_key *k, const cx_tx_key_advance *a, const cx_pubkey *sender, uint64_t height,
                            cx_err *rej) {
  int me = vm_key_party(k, sender);
  if (me < 0) REJECT(CX_E_NOT_KEY_PARTY);
  if (a->epoch != k->epoch || a->phase != k->phase) REJECT(CX_E_KEY_CLOSED);
  if (k->votes & bit((size_t)me)) REJECT(CX_E_ALREADY_VOTED);
  k->votes |= bit((size_t)me);
  /* f + 1 votes: at least one honest party's timeout has passed (§4). */
  if ((size_t)__builtin_popcountll(k->votes) < key_f(k->n) + 1) return CX_OK;
  if (k->phase == VM_KEY_DEALING) {
    end_dealing(k, height);
    return CX_OK;
  }
  return end_verifying(k, height);
}

cx_err vm_key_apply(vm_key *k, const cx_tx *tx, uint64_t height, cx_err *rej) {
  *rej = CX_OK;
  const char *name = tx_key_name(tx);
  if (!name || tx->type == TX_KEY_CREATE || tx->type == TX_KEY_RESHARE)
    return CX_E_INVALID_ARG; /* key_create, key_reshare: their own functions */
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
 * u8 2 | str name | u8 purpose | u8 t | u8 k | u8 phase | varint epoch |
 * varint last_epoch | u8 mode (0 DKG, 1 reshare) | varint n |
 * n x (party[32] | enc[32]) | context[32] | varint created_height |
 * varint ended_height |
 * reshare: varint from_epoch | varint n_old | u8 t_old |
 *   n_old x (old_party[32] | old_pk_share[32]) | varint old_members |
 *   group_pk[32] |
 * varint dealt | varint verdict | varint votes | varint disq |
 * for each dealer in dealt, ascending: bytes round1 | sealed[n x 85] |
 * varint ncomplaints | each: u8 dealer | u8 complainer | u8 reason |
 * u8 state | bytes complaint | answer[37] (state != 0) |
 * READY: varint qual | DKG: group_pk[32] | n x pk_share[32].
 * (Dealers, dealt, disq and qual over the old parties in reshare mode; S is
 * not stored: it is qual's t_old lowest ids.) */

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
  enc_varint(&e, k->last_epoch);
  enc_u8(&e, k->reshare);
  enc_varint(&e, k->n);
  for (uint32_t i = 0; i < k->n; i++) {
    enc_fixed(&e, k->parties[i].b, 32);
    enc_fixed(&e, k->enc[i], 32);
  }
  enc_fixed(&e, k->context, 32);
  enc_varint(&e, k->created_height);
  enc_varint(&e, k->ended_height);
  if (k->reshare) {
    enc_varint(&e, k->from_epoch);
    enc_varint(&e, k->n_old);
    enc_u8(&e, k->t_old);
    for (uint32_t i = 0; i < k->n_old; i++) {
      enc_fixed(&e, k->old_parties[i].b, 32);
      enc_fixed(&e, k->old_pk_shares[i], 32);
    }
    enc_varint(&e, k->old_members);
    enc_fixed(&e, k->group_pk, 32);
  }
  enc_varint(&e, k->dealt);
  enc_varint(&e, k->verdict);
  enc_varint(&e, k->votes);
  enc_varint(&e, k->disq);
  for (uint32_t i = 0; i < dealers_n(k); i++) {
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
    if (!k->reshare) enc_fixed(&e, k->group_pk, 32);
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

/* A bitmap over n parties. */
static int bitmap_dec(cx_dec *d, uint64_t *v, uint32_t n) {
  if (dec_varint(d, v)) return -1;
  if (*v & ~all_bits(n)) return dec_fail(d, CX_E_NONCANONICAL);
  return 0;
}

static int complaints_dec(cx_dec *d, vm_key *k) {
  uint64_t n;
  uint32_t dn = dealers_n(k);
  /* at most one complaint per (dealer, complainer) pair; in reshare mode
   * a dealer and a complainer may be the same number (two sets) */
  if (dec_varint_max(d, &n, k->reshare ? (uint64_t)dn * k->n : (uint64_t)k->n * (k->n - 1))) return -1;
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
    if (c->dealer >= dn || c->complainer >= k->n || (!k->reshare && c->dealer == c->complainer) || bl == 0 ||
        !(k->dealt & bit(c->dealer)))
      return dec_fail(d, CX_E_NONCANONICAL);
    memcpy(c->complaint, b, bl);
    c->complaint_len = (uint8_t)bl;
    if (c->state && dec_fixed(d, c->answer, CX_KEY_ANSWER_LEN)) return -1;
  }
  return 0;
}

/* The old set of a reshare-mode record: from_epoch before epoch, 2 <= t_old
 * <= n_old <= 64, at least t_old old parties still members. */
static int old_set_dec(cx_dec *d, vm_key *k) {
  uint64_t ep, n;
  if (dec_varint_max(d, &ep, UINT32_MAX)) return -1;
  if (ep >= k->epoch) return dec_fail(d, CX_E_NONCANONICAL);
  k->from_epoch = (uint32_t)ep;
  if (dec_varint_max(d, &n, CX_MAX_VALIDATORS) || dec_u8(d, &k->t_old)) return -1;
  k->n_old = (uint32_t)n;
  if (k->n_old < 2 || k->t_old < 2 || k->t_old > k->n_old) return dec_fail(d, CX_E_NONCANONICAL);
  for (uint32_t i = 0; i < k->n_old; i++)
    if (dec_fixed(d, k->old_parties[i].b, 32) || dec_fixed(d, k->old_pk_shares[i], 32)) return -1;
  if (bitmap_dec(d, &k->old_members, k->n_old)) return -1;
  if ((size_t)__builtin_popcountll(k->old_members) < k->t_old) return dec_fail(d, CX_E_NONCANONICAL);
  return dec_fixed(d, k->group_pk, 32);
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
  if (dec_enum(d, &k->phase, VM_KEY_DEALING, VM_KEY_FAILED) || dec_varint_max(d, &ep, UINT32_MAX)) return -1;
  k->epoch = (uint32_t)ep;
  /* last_epoch passes epoch only in a READY record put back after a FAILED
   * reshare */
  if (dec_varint_max(d, &ep, UINT32_MAX)) return -1;
  k->last_epoch = (uint32_t)ep;
  if (k->last_epoch < k->epoch || (k->last_epoch != k->epoch && k->phase != VM_KEY_READY))
    return dec_fail(d, CX_E_NONCANONICAL);
  if (dec_enum(d, &k->reshare, 0, 1) || dec_varint_max(d, &n, CX_MAX_VALIDATORS)) return -1;
  k->n = (uint32_t)n;
  if (k->n < 2 || k->t < 2 || k->t > k->n) return dec_fail(d, CX_E_NONCANONICAL);
  for (uint32_t i = 0; i < k->n; i++)
    if (dec_fixed(d, k->parties[i].b, 32) || dec_fixed(d, k->enc[i], 32)) return -1;
  if (dec_fixed(d, k->context, 32) || dec_varint(d, &k->created_height) || dec_varint(d, &k->ended_height))
    return -1;
  if (k->reshare && old_set_dec(d, k)) return -1;
  uint32_t dn = dealers_n(k);
  if (bitmap_dec(d, &k->dealt, dn) || bitmap_dec(d, &k->verdict, k->n) || bitmap_dec(d, &k->votes, k->n) ||
      bitmap_dec(d, &k->disq, dn))
    return -1;
  int ended = k->phase == VM_KEY_READY || k->phase == VM_KEY_FAILED;
  if (ended != (k->ended_height != 0)) return dec_fail(d, CX_E_NONCANONICAL);
  size_t slen = (size_t)k->n * CX_KEY_SEALED_LEN;
  for (uint32_t i = 0; i < dn; i++) {
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
  if (bitmap_dec(d, &k->qual, dn) || (!k->reshare && dec_fixed(d, k->group_pk, 32))) return -1;
  if ((k->qual & ~k->dealt) || (size_t)__builtin_popcountll(k->qual) < deals_needed(k)) return dec_fail(d, CX_E_NONCANONICAL);
  for (uint32_t j = 0; j < k->n; j++)
    if (dec_fixed(d, k->pk_shares[j], 32)) return -1;
  if (k->reshare) s_of(k);
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

/* Signatures that verified, remembered by BLAKE2b(group key || signature ||
 * message): the results of one batch carry one FROST signature over one
 * message (docs/calls.md §4, FROST_BATCH), and every node checks it for
 * each of them, at admission and again in the block. A hit stands for a
 * check that passed on the same bytes (verification is a pure function),
 * so no answer changes; a failure is never kept. The consensus and RPC
 * threads share it: one mutex, a few hundred nanoseconds against a
 * verification's ~100 microseconds. */
#define VERIFIED_SLOTS 128
static struct {
  pthread_mutex_t mu;
  uint8_t d[VERIFIED_SLOTS][32];
  unsigned next;
} verified = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void verified_digest(const vm_key *k, const uint8_t *msg, size_t len, const cx_sig *sig, uint8_t d[32]) {
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, k->group_pk, 32);
  crypto_generichash_update(&h, sig->b, 64);
  crypto_generichash_update(&h, msg, len); /* last: the fixed-size parts before it make the input unambiguous */
  crypto_generichash_final(&h, d, 32);
}

cx_err vm_key_verify(const vm_key *k, const uint8_t *msg, size_t len, const cx_sig *sig) {
  uint8_t d[32];
  verified_digest(k, msg, len, sig, d);
  int hit = 0;
  pthread_mutex_lock(&verified.mu);
  for (unsigned i = 0; i < VERIFIED_SLOTS && !hit; i++) hit = memcmp(verified.d[i], d, 32) == 0;
  pthread_mutex_unlock(&verified.mu);
  if (hit) return CX_OK;
  frost_element pk;
  frost_sig fs;
  memcpy(pk.b, k->group_pk, 32);
  memcpy(fs.b, sig->b, 64);
  if (frost_verify(&pk, msg, len, &fs, NULL, 0) != CX_OK) return CX_E_BAD_SIG;
  pthread_mutex_lock(&verified.mu);
  memcpy(verified.d[verified.next], d, 32);
  verified.next = (verified.next + 1) % VERIFIED_SLOTS;
  pthread_mutex_unlock(&verified.mu);
  return CX_OK;
}
