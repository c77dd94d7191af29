/* DKG for the FROST group key: FROST paper KeyGen (Komlo-Goldberg 2020,
 * Figure 1) with GJKR-style complaints and public answers (see dkg.h,
 * docs/threshold.md "DKG"). Curve arithmetic is libsodium's; the VSS check is
 * frost.h's (frost_vss_verify, frost_vss_public_share). */
#include "dkg.h"
#include "group.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

#define CTX_LEN (sizeof FROST_CONTEXT - 1)
#define POK_TAG "dkg"

/* A complaint slot per (dealer, complainer): public data, plain heap. */
enum { SLOT_NONE = 0, SLOT_PENDING, SLOT_ANSWERED_GOOD, SLOT_ANSWERED_BAD };

typedef struct {
  uint8_t state;
  dkg_complaint c;
  frost_scalar answer; /* the revealed share, once answered */
} slot;

/* Why a dealer is out (0: it is not). */
enum { DQ_NONE = 0, DQ_BAD_POK, DQ_BAD_ANSWER, DQ_NO_ANSWER };

/* Everything secret, in one sodium_malloc'd block. */
typedef struct {
  frost_scalar coef[DKG_MAX_PARTIES]; /* a_me,0 .. a_me,t-1 */
  frost_scalar pok_nonce;
  frost_scalar recv[DKG_MAX_PARTIES]; /* recv[i-1] = f_i(me) once have_share */
} secrets;

struct dkg {
  uint16_t n, t, me;
  uint8_t context[DKG_CONTEXT_LEN];
  int made_r1, finished;
  secrets *sec;
  dkg_round1_msg *r1; /* r1[i-1], valid when have_r1[i-1] (public: heap) */
  uint8_t have_r1[DKG_MAX_PARTIES];
  uint8_t have_share[DKG_MAX_PARTIES];
  uint8_t dq[DKG_MAX_PARTIES];
  slot *slots; /* slots[(dealer-1)*n + (complainer-1)] */
};

/* Group helpers and poly_eval: group.h. */

/* ---- the proof of knowledge (FROST paper Figure 1, round 1 steps 2, 5) ---- */

/* c = H(contextString || "dkg" || context || id || C0 || R), reduced mod L. */
/* 2 <= t <= n <= DKG_MAX_PARTIES (frost.h's threshold convention). */
static int params_ok(uint16_t n, uint16_t t) { return t >= 2 && n >= t && n <= DKG_MAX_PARTIES; }

static void pok_challenge(const uint8_t context[DKG_CONTEXT_LEN], uint16_t id,
                          const frost_element *c0, const frost_element *R, frost_scalar *out) {
  crypto_hash_sha512_state st;
  uint8_t d[64];
  frost_scalar ids;
  frost_id_scalar(id, &ids);
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, (const uint8_t *)FROST_CONTEXT, CTX_LEN);
  crypto_hash_sha512_update(&st, (const uint8_t *)POK_TAG, sizeof POK_TAG - 1);
  crypto_hash_sha512_update(&st, context, DKG_CONTEXT_LEN);
  crypto_hash_sha512_update(&st, ids.b, 32);
  crypto_hash_sha512_update(&st, c0->b, 32);
  crypto_hash_sha512_update(&st, R->b, 32);
  crypto_hash_sha512_final(&st, d);
  crypto_core_ristretto255_scalar_reduce(out->b, d);
}

/* Elements valid and not the identity, mu canonical, ids and t in range. */
static cx_err check_round1_form(uint16_t n, uint16_t t, const dkg_round1_msg *m, char *err,
                                size_t errlen) {
  if (m->dealer == 0 || m->dealer > n)
    return cx_errf(err, errlen, CX_E_MPC_SENDER, "round-one dealer %u is not in 1..%u", m->dealer,
                   n);
  if (m->t != t)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "dealer %u committed to %u coefficients, not %u",
                   m->dealer, m->t, t);
  for (size_t k = 0; k < t; k++) {
    cx_err e = frost_element_check(m->commit[k].b);
    if (e)
      return cx_errf(err, errlen, e, "dealer %u: commitment %zu is not a valid non-identity element",
                     m->dealer, k);
  }
  cx_err e = frost_element_check(m->R.b);
  if (e) return cx_errf(err, errlen, e, "dealer %u: proof R is not a valid non-identity element",
                        m->dealer);
  if (!frost_scalar_canonical(m->mu.b))
    return cx_errf(err, errlen, CX_E_NONCANONICAL, "dealer %u: proof mu is not below L", m->dealer);
  return CX_OK;
}

cx_err dkg_round1_verify(const uint8_t context[DKG_CONTEXT_LEN], uint16_t n, uint16_t t,
                         const dkg_round1_msg *m, char *err, size_t errlen) {
  if (!params_ok(n, t))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "need 2 <= t <= n <= %d (t %u, n %u)",
                   DKG_MAX_PARTIES, t, n);
  cx_err e = check_round1_form(n, t, m, err, errlen);
  if (e) return e;
  /* R == G * mu - C0 * c */
  frost_scalar c;
  frost_element gm, cc, want;
  pok_challenge(context, m->dealer, &m->commit[0], &m->R, &c);
  mul_base(&m->mu, &gm);
  mul(&c, &m->commit[0], &cc);
  sub(&gm, &cc, &want);
  if (sodium_memcmp(want.b, m->R.b, 32) != 0)
    return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                   "dealer %u's proof of knowledge of its secret does not verify", m->dealer);
  return CX_OK;
}

/* ---- session ---- */

static slot *slot_at(dkg *d, uint16_t dealer, uint16_t complainer) {
  return &d->slots[(size_t)(dealer - 1) * d->n + (complainer - 1)];
}

/* The seed stream: t coefficients then the proof nonce, 64 bytes each,
 * reduced mod L (uniform to 2^-256). */
static cx_err derive_secrets(dkg *d, const uint8_t seed[32]) {
  size_t len = ((size_t)d->t + 1) * 64;
  uint8_t *buf = sodium_malloc(len);
  if (!buf) return CX_E_NOMEM;
  randombytes_buf_deterministic(buf, len, seed);
  cx_err e = CX_OK;
  for (size_t k = 0; k < d->t; k++) {
    crypto_core_ristretto255_scalar_reduce(d->sec->coef[k].b, buf + 64 * k);
    /* A zero coefficient would commit to the identity, which decoders refuse. */
    if (is_zero32(d->sec->coef[k].b)) e = CX_E_CRYPTO;
  }
  crypto_core_ristretto255_scalar_reduce(d->sec->pok_nonce.b, buf + 64 * d->t);
  if (is_zero32(d->sec->pok_nonce.b)) e = CX_E_CRYPTO;
  sodium_free(buf);
  return e;
}

cx_err dkg_new(uint16_t n, uint16_t t, uint16_t my_id, const uint8_t context[DKG_CONTEXT_LEN],
               const uint8_t *seed, dkg **out, char *err, size_t errlen) {
  *out = NULL;
  if (!params_ok(n, t))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "need 2 <= t <= n <= %d (t %u, n %u)",
                   DKG_MAX_PARTIES, t, n);
  if (my_id == 0 || my_id > n)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "party %u is not in 1..%u", my_id, n);
  th_init();
  dkg *d = calloc(1, sizeof *d);
  if (!d) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  d->n = n;
  d->t = t;
  d->me = my_id;
  memcpy(d->context, context, DKG_CONTEXT_LEN);
  d->sec = sodium_malloc(sizeof *d->sec);
  d->r1 = calloc(n, sizeof *d->r1);
  d->slots = calloc((size_t)n * n, sizeof *d->slots);
  if (!d->sec || !d->r1 || !d->slots) {
    dkg_free(d);
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  }
  sodium_memzero(d->sec, sizeof *d->sec);
  uint8_t fresh[32];
  cx_err e;
  if (seed) {
    e = derive_secrets(d, seed);
  } else {
    /* Fresh randomness through the same path; a zero scalar (2^-252) retries. */
    do {
      randombytes_buf(fresh, sizeof fresh);
      e = derive_secrets(d, fresh);
    } while (e == CX_E_CRYPTO);
    sodium_memzero(fresh, sizeof fresh);
  }
  if (e) {
    dkg_free(d);
    return cx_errf(err, errlen, e, "cannot derive the dealer's secrets from the seed");
  }
  *out = d;
  return CX_OK;
}

void dkg_free(dkg *d) {
  if (!d) return;
  if (d->sec) sodium_free(d->sec); /* sodium_free wipes before unmapping */
  free(d->r1);
  free(d->slots);
  free(d);
}

static cx_err check_open(const dkg *d, char *err, size_t errlen) {
  if (d->finished)
    return cx_errf(err, errlen, CX_E_MPC_STATE, "the DKG session is already finished");
  return CX_OK;
}

cx_err dkg_round1(dkg *d, dkg_round1_msg *out) {
  cx_err e = check_open(d, NULL, 0);
  if (e) return e;
  memset(out, 0, sizeof *out);
  out->dealer = d->me;
  out->t = d->t;
  for (size_t k = 0; k < d->t; k++) mul_base(&d->sec->coef[k], &out->commit[k]);
  /* Schnorr proof of knowledge of a_me,0: R = G * k, mu = k + a_me,0 * c. */
  frost_scalar c, ac;
  mul_base(&d->sec->pok_nonce, &out->R);
  pok_challenge(d->context, d->me, &out->commit[0], &out->R, &c);
  crypto_core_ristretto255_scalar_mul(ac.b, d->sec->coef[0].b, c.b);
  crypto_core_ristretto255_scalar_add(out->mu.b, d->sec->pok_nonce.b, ac.b);
  sodium_memzero(&ac, sizeof ac);
  d->r1[d->me - 1] = *out;
  d->have_r1[d->me - 1] = 1;
  d->made_r1 = 1;
  return CX_OK;
}

cx_err dkg_round2(dkg *d, dkg_share *shares, char *err, size_t errlen) {
  cx_err e = check_open(d, err, errlen);
  if (e) return e;
  if (!d->made_r1)
    return cx_errf(err, errlen, CX_E_MPC_ROUND, "round two before this party's round one");
  for (uint16_t j = 1; j <= d->n; j++) {
    dkg_share *s = &shares[j - 1];
    sodium_memzero(s, sizeof *s);
    if (j == d->me) continue;
    s->dealer = d->me;
    s->recipient = j;
    poly_eval(d->sec->coef, d->t, j, &s->value);
  }
  return CX_OK;
}

cx_err dkg_recv_round1(dkg *d, const dkg_round1_msg *m, char *err, size_t errlen) {
  cx_err e = check_open(d, err, errlen);
  if (e) return e;
  if ((e = check_round1_form(d->n, d->t, m, err, errlen))) return e;
  size_t i = m->dealer - 1;
  if (d->have_r1[i]) {
    /* Compare the meaningful part only (commitments beyond t are unused). */
    const dkg_round1_msg *old = &d->r1[i];
    int same = memcmp(old->commit, m->commit, 32u * d->t) == 0 &&
               memcmp(old->R.b, m->R.b, 32) == 0 && memcmp(old->mu.b, m->mu.b, 32) == 0;
    if (same) return CX_OK;
    return cx_errf(err, errlen, CX_E_MPC_EQUIVOCATION,
                   "dealer %u sent a second, different round-one message", m->dealer);
  }
  d->r1[i] = *m;
  d->have_r1[i] = 1;
  e = dkg_round1_verify(d->context, d->n, d->t, m, err, errlen);
  if (e == CX_E_MPC_CHECK_FAILED) d->dq[i] = DQ_BAD_POK;
  return e;
}

/* Records complainer's complaint (pending) unless one is there: CX_OK for an
 * identical one, CX_E_MPC_EQUIVOCATION for a different one. */
static cx_err record_complaint(dkg *d, const dkg_complaint *c, char *err, size_t errlen) {
  slot *s = slot_at(d, c->dealer, c->complainer);
  if (s->state != SLOT_NONE) {
    if (s->c.reason == c->reason && memcmp(s->c.share.b, c->share.b, 32) == 0) return CX_OK;
    return cx_errf(err, errlen, CX_E_MPC_EQUIVOCATION,
                   "party %u already made a different complaint against dealer %u", c->complainer,
                   c->dealer);
  }
  s->c = *c;
  s->state = SLOT_PENDING;
  return CX_OK;
}

cx_err dkg_recv_share(dkg *d, const dkg_share *s, dkg_complaint *complaint, int *complained,
                      char *err, size_t errlen) {
  if (complained) *complained = 0;
  cx_err e = check_open(d, err, errlen);
  if (e) return e;
  if (s->dealer == 0 || s->dealer > d->n || s->dealer == d->me)
    return cx_errf(err, errlen, CX_E_MPC_SENDER, "share from dealer %u: not another party in 1..%u",
                   s->dealer, d->n);
  if (s->recipient != d->me)
    return cx_errf(err, errlen, CX_E_MPC_SENDER, "share for party %u, not for this party (%u)",
                   s->recipient, d->me);
  size_t i = s->dealer - 1;
  if (!d->have_r1[i])
    return cx_errf(err, errlen, CX_E_MPC_ROUND,
                   "share from dealer %u before its round-one message", s->dealer);
  if (d->dq[i]) return CX_OK;
  e = frost_vss_verify(d->me, &s->value, d->r1[i].commit, d->t);
  if (e == CX_OK) {
    d->sec->recv[i] = s->value;
    d->have_share[i] = 1;
    return CX_OK;
  }
  if (e != CX_E_MPC_CHECK_FAILED && e != CX_E_NONCANONICAL) return e;
  /* The share is wrong: complain, disclosing it (a share that is not even a
   * scalar cannot be disclosed: it counts as none). */
  dkg_complaint c;
  memset(&c, 0, sizeof c);
  c.dealer = s->dealer;
  c.complainer = d->me;
  if (e == CX_E_NONCANONICAL) {
    c.reason = DKG_COMPLAINT_NO_SHARE;
  } else {
    c.reason = DKG_COMPLAINT_BAD_SHARE;
    c.share = s->value;
  }
  cx_err r = record_complaint(d, &c, err, errlen);
  if (r) return r;
  if (complaint) *complaint = c;
  if (complained) *complained = 1;
  return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                 "dealer %u's share does not match its commitments: complaint made", s->dealer);
}

cx_err dkg_complain(dkg *d, uint16_t dealer, dkg_complaint *out, char *err, size_t errlen) {
  cx_err e = check_open(d, err, errlen);
  if (e) return e;
  if (dealer == 0 || dealer > d->n || dealer == d->me)
    return cx_errf(err, errlen, CX_E_MPC_SENDER, "dealer %u is not another party in 1..%u", dealer,
                   d->n);
  if (d->have_share[dealer - 1] || slot_at(d, dealer, d->me)->state != SLOT_NONE)
    return cx_errf(err, errlen, CX_E_EXISTS,
                   "already holding a valid share from dealer %u or a complaint against it", dealer);
  memset(out, 0, sizeof *out);
  out->dealer = dealer;
  out->complainer = d->me;
  out->reason = DKG_COMPLAINT_NO_SHARE;
  return record_complaint(d, out, err, errlen);
}

/* Ids in range and distinct, reason known, the share field as the reason
 * wants it. */
static cx_err check_complaint_form(uint16_t n, const dkg_complaint *c, char *err, size_t errlen) {
  if (c->dealer == 0 || c->dealer > n || c->complainer == 0 || c->complainer > n)
    return cx_errf(err, errlen, CX_E_MPC_SENDER, "complaint: dealer %u or complainer %u not in 1..%u",
                   c->dealer, c->complainer, n);
  if (c->dealer == c->complainer)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "party %u complains against itself", c->dealer);
  if (c->reason == DKG_COMPLAINT_NO_SHARE) {
    if (!is_zero32(c->share.b))
      return cx_errf(err, errlen, CX_E_NONCANONICAL, "a no-share complaint carries a share");
  } else if (c->reason == DKG_COMPLAINT_BAD_SHARE) {
    if (!frost_scalar_canonical(c->share.b))
      return cx_errf(err, errlen, CX_E_NONCANONICAL, "complaint: disclosed share is not below L");
  } else {
    return cx_errf(err, errlen, CX_E_BAD_ENUM, "complaint reason %u is unknown", c->reason);
  }
  return CX_OK;
}

/* A BAD_SHARE complaint whose disclosed share matches the commitments. */
static int complaint_unfounded(const dkg_complaint *c, const frost_element *commit, uint16_t t) {
  return c->reason == DKG_COMPLAINT_BAD_SHARE &&
         frost_vss_verify(c->complainer, &c->share, commit, t) == CX_OK;
}

cx_err dkg_recv_complaint(dkg *d, const dkg_complaint *c, char *err, size_t errlen) {
  cx_err e = check_open(d, err, errlen);
  if (e) return e;
  if ((e = check_complaint_form(d->n, c, err, errlen))) return e;
  size_t i = c->dealer - 1;
  if (!d->have_r1[i])
    return cx_errf(err, errlen, CX_E_MPC_ROUND,
                   "complaint against dealer %u before its round-one message", c->dealer);
  if (complaint_unfounded(c, d->r1[i].commit, d->t))
    return cx_errf(err, errlen, CX_E_BAD_EVIDENCE,
                   "party %u's complaint against dealer %u discloses a share that matches the "
                   "commitments",
                   c->complainer, c->dealer);
  if (d->dq[i]) return CX_OK;
  return record_complaint(d, c, err, errlen);
}

cx_err dkg_answer_make(dkg *d, const dkg_complaint *c, dkg_answer *out, char *err, size_t errlen) {
  cx_err e = check_open(d, err, errlen);
  if (e) return e;
  if (c->dealer != d->me)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "complaint is against dealer %u, not this party",
                   c->dealer);
  if (c->complainer == 0 || c->complainer > d->n || c->complainer == d->me)
    return cx_errf(err, errlen, CX_E_MPC_SENDER, "complainer %u is not another party in 1..%u",
                   c->complainer, d->n);
  memset(out, 0, sizeof *out);
  out->dealer = d->me;
  out->complainer = c->complainer;
  poly_eval(d->sec->coef, d->t, c->complainer, &out->share);
  return CX_OK;
}

cx_err dkg_recv_answer(dkg *d, const dkg_answer *a, char *err, size_t errlen) {
  cx_err e = check_open(d, err, errlen);
  if (e) return e;
  if (a->dealer == 0 || a->dealer > d->n || a->complainer == 0 || a->complainer > d->n ||
      a->dealer == a->complainer)
    return cx_errf(err, errlen, CX_E_MPC_SENDER, "answer: dealer %u, complainer %u do not fit 1..%u",
                   a->dealer, a->complainer, d->n);
  if (!frost_scalar_canonical(a->share.b))
    return cx_errf(err, errlen, CX_E_NONCANONICAL, "dealer %u's answer: share is not below L",
                   a->dealer);
  size_t i = a->dealer - 1;
  if (d->dq[i] == DQ_BAD_POK) return CX_OK;
  slot *s = slot_at(d, a->dealer, a->complainer);
  if (s->state == SLOT_NONE)
    return cx_errf(err, errlen, CX_E_NOT_FOUND, "answer of dealer %u to no complaint of party %u",
                   a->dealer, a->complainer);
  if (s->state != SLOT_PENDING) {
    if (memcmp(s->answer.b, a->share.b, 32) == 0)
      return s->state == SLOT_ANSWERED_GOOD
                 ? CX_OK
                 : cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                           "dealer %u's answer to party %u was already found bad", a->dealer,
                           a->complainer);
    return cx_errf(err, errlen, CX_E_MPC_EQUIVOCATION,
                   "dealer %u already answered party %u's complaint differently", a->dealer,
                   a->complainer);
  }
  s->answer = a->share;
  if (frost_vss_verify(a->complainer, &a->share, d->r1[i].commit, d->t) != CX_OK) {
    s->state = SLOT_ANSWERED_BAD;
    d->dq[i] = DQ_BAD_ANSWER;
    return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                   "dealer %u's public answer to party %u does not match its commitments: "
                   "disqualified",
                   a->dealer, a->complainer);
  }
  s->state = SLOT_ANSWERED_GOOD;
  /* GJKR 1(d): the complainer takes the publicly revealed share. */
  if (a->complainer == d->me) {
    d->sec->recv[i] = a->share;
    d->have_share[i] = 1;
  }
  return CX_OK;
}

int dkg_disqualified(const dkg *d, uint16_t dealer) {
  if (dealer == 0 || dealer > d->n) return 0;
  return d->dq[dealer - 1] != DQ_NONE;
}

/* Every pending complaint past the deadline disqualifies its dealer. */
static void close_complaints(dkg *d) {
  for (uint16_t i = 1; i <= d->n; i++)
    for (uint16_t j = 1; j <= d->n; j++)
      if (slot_at(d, i, j)->state == SLOT_PENDING && !d->dq[i - 1]) d->dq[i - 1] = DQ_NO_ANSWER;
}

cx_err dkg_finish(dkg *d, dkg_result *res, frost_scalar *signing_share, char *err, size_t errlen) {
  cx_err e = check_open(d, err, errlen);
  if (e) return e;
  close_complaints(d);
  memset(res, 0, sizeof *res);
  res->n = d->n;
  res->t = d->t;
  for (uint16_t i = 1; i <= d->n; i++)
    if (d->have_r1[i - 1] && !d->dq[i - 1]) res->qual[res->nqual++] = i;
  if (res->nqual < d->t)
    return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                   "only %u qualified dealers, fewer than the threshold %u", res->nqual, d->t);
  for (size_t k = 0; k < res->nqual; k++) {
    uint16_t i = res->qual[k];
    if (i != d->me && !d->have_share[i - 1])
      return cx_errf(err, errlen, CX_E_MPC_STATE,
                     "no valid share from qualified dealer %u and no complaint against it", i);
  }
  /* s_me = sum f_i(me); Y = sum C_i[0]; Y_j = sum of the commitment
   * polynomials at j (FROST paper Figure 1, round 2 steps 3, 4). */
  frost_scalar s = {{0}}, own;
  frost_element y = {{0}}, pj;
  for (size_t k = 0; k < res->nqual; k++) {
    uint16_t i = res->qual[k];
    if (i == d->me) {
      poly_eval(d->sec->coef, d->t, d->me, &own);
      crypto_core_ristretto255_scalar_add(s.b, s.b, own.b);
    } else {
      crypto_core_ristretto255_scalar_add(s.b, s.b, d->sec->recv[i - 1].b);
    }
    add(&y, &d->r1[i - 1].commit[0], &y);
  }
  sodium_memzero(&own, sizeof own);
  /* D_m = sum over QUAL of C_i[m]: the commitments of the sum polynomial,
   * so each Y_j is one evaluation (not one per dealer). D may hold the
   * identity (all zero), a valid ristretto255 point. */
  frost_element D[DKG_MAX_PARTIES];
  memset(D, 0, sizeof D);
  for (size_t k = 0; k < res->nqual; k++)
    for (uint16_t m = 0; m < d->t; m++) add(&D[m], &d->r1[res->qual[k] - 1].commit[m], &D[m]);
  for (uint16_t j = 1; j <= d->n; j++) CX_ASSERT(frost_vss_public_share(D, d->t, j, &res->pk_shares[j - 1]) == CX_OK);
  res->group_pk = y;
  /* An identity key or share (probability 2^-252) cannot be serialized. */
  int bad = frost_element_check(y.b) != CX_OK || is_zero32(s.b);
  for (uint16_t j = 1; j <= d->n; j++) bad |= frost_element_check(res->pk_shares[j - 1].b) != CX_OK;
  mul_base(&s, &pj);
  if (!bad && memcmp(pj.b, res->pk_shares[d->me - 1].b, 32) != 0) bad = 2;
  if (bad) {
    sodium_memzero(&s, sizeof s);
    return cx_errf(err, errlen, bad == 2 ? CX_E_INTERNAL : CX_E_CRYPTO,
                   "the signing share does not match its public share");
  }
  *signing_share = s;
  sodium_memzero(&s, sizeof s);
  d->finished = 1;
  return CX_OK;
}

/* ---- public complaint check ---- */

/* The verdict on a complaint whose pieces are well formed (the callers
 * checked their forms): judged at the complainer's id, which in a
 * resharing is its new id (docs/keys.md §10). */
static cx_err judge_complaint(uint16_t t, const dkg_round1_msg *r1, const dkg_complaint *c, const dkg_answer *a,
                              int *dealer_at_fault, char *err, size_t errlen) {
  if (c->dealer != r1->dealer)
    return cx_errf(err, errlen, CX_E_INVALID_ARG,
                   "complaint is against dealer %u, the round-one message is dealer %u's", c->dealer,
                   r1->dealer);
  if (complaint_unfounded(c, r1->commit, t)) {
    cx_errf(err, errlen, CX_OK, "the complaint's disclosed share matches dealer %u's commitments",
            c->dealer);
    return CX_OK;
  }
  if (!a) {
    *dealer_at_fault = 1;
    cx_errf(err, errlen, CX_OK, "dealer %u did not answer party %u's complaint", c->dealer,
            c->complainer);
    return CX_OK;
  }
  if (a->dealer != c->dealer || a->complainer != c->complainer)
    return cx_errf(err, errlen, CX_E_INVALID_ARG,
                   "the answer (dealer %u, complainer %u) is not to this complaint", a->dealer,
                   a->complainer);
  cx_err e = frost_vss_verify(c->complainer, &a->share, r1->commit, t);
  if (e != CX_OK && e != CX_E_MPC_CHECK_FAILED && e != CX_E_NONCANONICAL) return e;
  *dealer_at_fault = e != CX_OK;
  cx_errf(err, errlen, CX_OK, "dealer %u's answer %s its commitments", c->dealer,
          e == CX_OK ? "matches" : "does not match");
  return CX_OK;
}

cx_err dkg_complaint_verify(uint16_t n, uint16_t t, const dkg_round1_msg *r1, const dkg_complaint *c,
                            const dkg_answer *a, int *dealer_at_fault, char *err, size_t errlen) {
  *dealer_at_fault = 0;
  if (!params_ok(n, t))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "need 2 <= t <= n <= %d (t %u, n %u)",
                   DKG_MAX_PARTIES, t, n);
  cx_err e = check_round1_form(n, t, r1, err, errlen);
  if (!e) e = check_complaint_form(n, c, err, errlen);
  if (e) return e;
  return judge_complaint(t, r1, c, a, dealer_at_fault, err, errlen);
}

/* ---- encodings ---- */


/* Exact length: shorter is truncated, longer has trailing bytes. */
static cx_err want_len(size_t len, size_t want, const char *what, char *err, size_t errlen) {
  if (len < want)
    return cx_errf(err, errlen, CX_E_TRUNCATED, "%s: %zu bytes, want %zu", what, len, want);
  if (len > want)
    return cx_errf(err, errlen, CX_E_TRAILING, "%s: %zu bytes, want %zu", what, len, want);
  return CX_OK;
}

/* kind || be16 a || be16 b, a and b non-zero and distinct. */
static cx_err get_header(const uint8_t *in, size_t len, uint8_t kind, const char *what,
                         uint16_t *a, uint16_t *b, char *err, size_t errlen) {
  if (len < 5) return cx_errf(err, errlen, CX_E_TRUNCATED, "%s: %zu bytes", what, len);
  if (in[0] != kind)
    return cx_errf(err, errlen, CX_E_BAD_ENUM, "%s: kind %u, want %u", what, in[0], kind);
  *a = get_be16(in + 1);
  *b = get_be16(in + 3);
  return CX_OK;
}

static cx_err get_scalar(const uint8_t *p, frost_scalar *out, const char *what, char *err,
                         size_t errlen) {
  if (!frost_scalar_canonical(p))
    return cx_errf(err, errlen, CX_E_NONCANONICAL, "%s is not a canonical scalar (>= L)", what);
  memcpy(out->b, p, 32);
  return CX_OK;
}

static cx_err get_element(const uint8_t *p, frost_element *out, const char *what, size_t k,
                          char *err, size_t errlen) {
  cx_err e = frost_element_check(p);
  if (e == CX_E_NONCANONICAL)
    return cx_errf(err, errlen, e, "%s %zu is not a canonical ristretto255 encoding", what, k);
  if (e) return cx_errf(err, errlen, e, "%s %zu is the identity element", what, k);
  memcpy(out->b, p, 32);
  return CX_OK;
}

/* Identifiers of a (dealer, recipient/complainer) pair: never 0; equal
 * only in a resharing (reshare = 1), where they index different sets. */
static cx_err check_pair(uint16_t a, uint16_t b, int reshare, const char *what, char *err, size_t errlen) {
  if (a == 0 || b == 0)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s: identifier 0", what);
  if (a == b && !reshare)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s: party %u on both ends", what, a);
  return CX_OK;
}

size_t dkg_round1_encode(const dkg_round1_msg *m, uint8_t *out) {
  CX_ASSERT(m->t >= 2 && m->t <= DKG_MAX_PARTIES);
  uint8_t *p = out;
  *p++ = DKG_KIND_ROUND1;
  put_be16(p, m->dealer);
  put_be16(p + 2, m->t);
  p += 4;
  for (size_t k = 0; k < m->t; k++, p += 32) memcpy(p, m->commit[k].b, 32);
  memcpy(p, m->R.b, 32);
  memcpy(p + 32, m->mu.b, 32);
  return (size_t)(p + 64 - out);
}

cx_err dkg_round1_decode(const uint8_t *in, size_t len, dkg_round1_msg *m, char *err,
                         size_t errlen) {
  uint16_t dealer = 0, t = 0;
  cx_err e = get_header(in, len, DKG_KIND_ROUND1, "round-one message", &dealer, &t, err, errlen);
  if (e) return e;
  if (dealer == 0) return cx_errf(err, errlen, CX_E_INVALID_ARG, "round-one message: dealer 0");
  if (t > DKG_MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_TOO_LONG, "round-one message: t %u over the cap %d", t,
                   DKG_MAX_PARTIES);
  if (t < 2) return cx_errf(err, errlen, CX_E_INVALID_ARG, "round-one message: t %u below 2", t);
  if ((e = want_len(len, DKG_ROUND1_LEN(t), "round-one message", err, errlen))) return e;
  memset(m, 0, sizeof *m);
  m->dealer = dealer;
  m->t = t;
  const uint8_t *p = in + 5;
  for (size_t k = 0; k < t; k++, p += 32)
    if ((e = get_element(p, &m->commit[k], "commitment", k, err, errlen))) return e;
  if ((e = get_element(p, &m->R, "proof R", 0, err, errlen))) return e;
  return get_scalar(p + 32, &m->mu, "proof mu", err, errlen);
}

size_t dkg_share_encode(const dkg_share *s, uint8_t out[DKG_SHARE_LEN]) {
  out[0] = DKG_KIND_SHARE;
  put_be16(out + 1, s->dealer);
  put_be16(out + 3, s->recipient);
  memcpy(out + 5, s->value.b, 32);
  return DKG_SHARE_LEN;
}

static cx_err share_decode(const uint8_t *in, size_t len, int reshare, dkg_share *s, char *err, size_t errlen) {
  uint16_t a = 0, b = 0;
  cx_err e = get_header(in, len, DKG_KIND_SHARE, "share", &a, &b, err, errlen);
  if (!e) e = check_pair(a, b, reshare, "share", err, errlen);
  if (!e) e = want_len(len, DKG_SHARE_LEN, "share", err, errlen);
  if (e) return e;
  s->dealer = a;
  s->recipient = b;
  return get_scalar(in + 5, &s->value, "share value", err, errlen);
}

cx_err dkg_share_decode(const uint8_t *in, size_t len, dkg_share *s, char *err, size_t errlen) {
  return share_decode(in, len, 0, s, err, errlen);
}

size_t dkg_complaint_encode(const dkg_complaint *c, uint8_t out[DKG_COMPLAINT_MAX_LEN]) {
  CX_ASSERT(c->reason == DKG_COMPLAINT_BAD_SHARE || c->reason == DKG_COMPLAINT_NO_SHARE);
  out[0] = DKG_KIND_COMPLAINT;
  put_be16(out + 1, c->dealer);
  put_be16(out + 3, c->complainer);
  out[5] = c->reason;
  if (c->reason == DKG_COMPLAINT_NO_SHARE) return 6;
  memcpy(out + 6, c->share.b, 32);
  return 38;
}

static cx_err complaint_decode(const uint8_t *in, size_t len, int reshare, dkg_complaint *c, char *err,
                               size_t errlen) {
  uint16_t a = 0, b = 0;
  cx_err e = get_header(in, len, DKG_KIND_COMPLAINT, "complaint", &a, &b, err, errlen);
  if (!e) e = check_pair(a, b, reshare, "complaint", err, errlen);
  if (e) return e;
  if (len < 6) return cx_errf(err, errlen, CX_E_TRUNCATED, "complaint: no reason byte");
  memset(c, 0, sizeof *c);
  c->dealer = a;
  c->complainer = b;
  c->reason = in[5];
  if (c->reason == DKG_COMPLAINT_NO_SHARE) return want_len(len, 6, "complaint", err, errlen);
  if (c->reason != DKG_COMPLAINT_BAD_SHARE)
    return cx_errf(err, errlen, CX_E_BAD_ENUM, "complaint reason %u is unknown", c->reason);
  if ((e = want_len(len, 38, "complaint", err, errlen))) return e;
  return get_scalar(in + 6, &c->share, "complaint's disclosed share", err, errlen);
}

cx_err dkg_complaint_decode(const uint8_t *in, size_t len, dkg_complaint *c, char *err,
                            size_t errlen) {
  return complaint_decode(in, len, 0, c, err, errlen);
}

size_t dkg_answer_encode(const dkg_answer *a, uint8_t out[DKG_ANSWER_LEN]) {
  out[0] = DKG_KIND_ANSWER;
  put_be16(out + 1, a->dealer);
  put_be16(out + 3, a->complainer);
  memcpy(out + 5, a->share.b, 32);
  return DKG_ANSWER_LEN;
}

static cx_err answer_decode(const uint8_t *in, size_t len, int reshare, dkg_answer *a, char *err, size_t errlen) {
  uint16_t x = 0, y = 0;
  cx_err e = get_header(in, len, DKG_KIND_ANSWER, "answer", &x, &y, err, errlen);
  if (!e) e = check_pair(x, y, reshare, "answer", err, errlen);
  if (!e) e = want_len(len, DKG_ANSWER_LEN, "answer", err, errlen);
  if (e) return e;
  a->dealer = x;
  a->complainer = y;
  return get_scalar(in + 5, &a->share, "answer's revealed share", err, errlen);
}

cx_err dkg_answer_decode(const uint8_t *in, size_t len, dkg_answer *a, char *err, size_t errlen) {
  return answer_decode(in, len, 0, a, err, errlen);
}

/* ---- resharing (docs/keys.md §10, docs/threshold.md "Resharing") ----
 * Dealer ids index the old party set, recipient and complainer ids the new
 * one: nothing below refuses them being equal. */

#define RESHARE_COEF_TAG "reshare-coef"
#define RESHARE_NONCE_TAG "reshare-nonce"

/* SHA-512(contextString || tag || seed || context || be16 dealer || be16 t ||
 * old_share [|| be16 k]) reduced mod L. The tags differ from RFC 9591's and
 * from "dkg", and the two inputs differ in length, so coefficient and nonce
 * streams never meet. Everything the deal depends on is hashed in: a seed
 * reused in another run (context) or with another share gives unrelated
 * coefficients (a_1.. reused under two constant terms give t_new - 1
 * recipients in each run 2(t_new - 1) equations in t_new + 1 unknowns: both
 * secrets once t_new >= 3), and a nonce repeats only with the same
 * challenge inputs, so it never signs two challenges. */
static void reshare_scalar(const char *tag, const uint8_t seed[32],
                           const uint8_t context[DKG_CONTEXT_LEN], uint16_t dealer, uint16_t t,
                           const frost_scalar *old_share, const uint16_t *k, frost_scalar *out) {
  crypto_hash_sha512_state st;
  uint8_t d[64], be[2];
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, (const uint8_t *)FROST_CONTEXT, CTX_LEN);
  crypto_hash_sha512_update(&st, (const uint8_t *)tag, strlen(tag));
  crypto_hash_sha512_update(&st, seed, 32);
  crypto_hash_sha512_update(&st, context, DKG_CONTEXT_LEN);
  put_be16(be, dealer);
  crypto_hash_sha512_update(&st, be, 2);
  put_be16(be, t);
  crypto_hash_sha512_update(&st, be, 2);
  crypto_hash_sha512_update(&st, old_share->b, 32);
  if (k) {
    put_be16(be, *k);
    crypto_hash_sha512_update(&st, be, 2);
  }
  crypto_hash_sha512_final(&st, d);
  crypto_core_ristretto255_scalar_reduce(out->b, d);
  sodium_memzero(&st, sizeof st);
  sodium_memzero(d, sizeof d);
}

/* g's coefficients into coef[0..t) (coef[0] = old_share) and, if nonce is
 * not NULL, the proof nonce. A zero coefficient would commit to the
 * identity, which every decoder refuses: CX_E_CRYPTO (2^-252). */
static cx_err reshare_poly(const uint8_t context[DKG_CONTEXT_LEN], uint16_t t, uint16_t dealer,
                           const frost_scalar *old_share, const uint8_t seed[32],
                           frost_scalar *coef, frost_scalar *nonce) {
  cx_err e = CX_OK;
  coef[0] = *old_share;
  for (uint16_t k = 1; k < t; k++) {
    reshare_scalar(RESHARE_COEF_TAG, seed, context, dealer, t, old_share, &k, &coef[k]);
    if (is_zero32(coef[k].b)) e = CX_E_CRYPTO;
  }
  if (nonce) {
    reshare_scalar(RESHARE_NONCE_TAG, seed, context, dealer, t, old_share, NULL, nonce);
    if (is_zero32(nonce->b)) e = CX_E_CRYPTO;
  }
  return e;
}

static cx_err check_old_share(const frost_scalar *s) {
  return frost_scalar_canonical(s->b) && !is_zero32(s->b) ? CX_OK : CX_E_INVALID_ARG;
}

/* Secret scratch: t coefficients and the nonce, sodium_malloc'd. */
typedef struct {
  frost_scalar coef[DKG_MAX_PARTIES];
  frost_scalar nonce;
} reshare_secrets;

cx_err dkg_reshare_deal(const uint8_t context[DKG_CONTEXT_LEN], uint16_t n_new, uint16_t t_new,
                        uint16_t dealer_id, const frost_scalar *old_share, const uint8_t seed[32],
                        dkg_round1_msg *r1, dkg_share *shares, char *err, size_t errlen) {
  if (!params_ok(n_new, t_new))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "need 2 <= t' <= n' <= %d (t' %u, n' %u)",
                   DKG_MAX_PARTIES, t_new, n_new);
  if (dealer_id == 0 || dealer_id > DKG_MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "dealer %u is not in 1..%d", dealer_id,
                   DKG_MAX_PARTIES);
  if (check_old_share(old_share))
    return cx_errf(err, errlen, CX_E_INVALID_ARG,
                   "dealer %u's old share is zero or not a canonical scalar", dealer_id);
  th_init();
  reshare_secrets *sec = sodium_malloc(sizeof *sec);
  if (!sec) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  cx_err e = reshare_poly(context, t_new, dealer_id, old_share, seed, sec->coef, &sec->nonce);
  if (e) {
    sodium_free(sec);
    return cx_errf(err, errlen, e, "cannot derive dealer %u's polynomial from the seed", dealer_id);
  }
  /* Round one as the DKG's (dkg_round1): commitments, then the Schnorr proof
   * of knowledge of g(0) = old_share under (context, dealer_id). */
  memset(r1, 0, sizeof *r1);
  r1->dealer = dealer_id;
  r1->t = t_new;
  for (size_t k = 0; k < t_new; k++) mul_base(&sec->coef[k], &r1->commit[k]);
  frost_scalar c, ac;
  mul_base(&sec->nonce, &r1->R);
  pok_challenge(context, dealer_id, &r1->commit[0], &r1->R, &c);
  crypto_core_ristretto255_scalar_mul(ac.b, sec->coef[0].b, c.b);
  crypto_core_ristretto255_scalar_add(r1->mu.b, sec->nonce.b, ac.b);
  sodium_memzero(&ac, sizeof ac);
  /* Every new party's share, the dealer's own new id included. */
  for (uint16_t j = 1; j <= n_new; j++) {
    dkg_share *s = &shares[j - 1];
    sodium_memzero(s, sizeof *s);
    s->dealer = dealer_id;
    s->recipient = j;
    poly_eval(sec->coef, t_new, j, &s->value);
  }
  sodium_free(sec); /* wipes */
  return CX_OK;
}

cx_err dkg_reshare_check_deal(const uint8_t context[DKG_CONTEXT_LEN], uint16_t t_new,
                              const dkg_round1_msg *r1, const frost_element *old_pk_share,
                              char *err, size_t errlen) {
  if (t_new < 2 || t_new > DKG_MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "t' %u is not in 2..%d", t_new, DKG_MAX_PARTIES);
  /* n = the cap: the dealer is an old id, its range is the caller's check
   * (it chose old_pk_share by that id); t_new <= n_new is the caller's too. */
  cx_err e = dkg_round1_verify(context, DKG_MAX_PARTIES, t_new, r1, err, errlen);
  if (e) return e;
  if (memcmp(r1->commit[0].b, old_pk_share->b, 32) != 0)
    return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                   "dealer %u's deal does not commit to its old verification share (C_0 != Y_%u)",
                   r1->dealer, r1->dealer);
  return CX_OK;
}

cx_err dkg_reshare_share_check(uint16_t recipient_new_id, const dkg_share *s,
                               const dkg_round1_msg *r1) {
  if (recipient_new_id == 0 || r1->t < 2 || r1->t > DKG_MAX_PARTIES) return CX_E_INVALID_ARG;
  if (s->recipient != recipient_new_id || s->dealer != r1->dealer) return CX_E_MPC_SENDER;
  return frost_vss_verify(recipient_new_id, &s->value, r1->commit, r1->t);
}

/* S: t_old non-zero ids, strictly ascending. */
static cx_err check_dealer_set(uint16_t t_old, const uint16_t *ids) {
  if (t_old < 2 || t_old > DKG_MAX_PARTIES) return CX_E_INVALID_ARG;
  for (size_t k = 0; k < t_old; k++) {
    if (ids[k] == 0) return CX_E_INVALID_ARG;
    if (k > 0 && ids[k] <= ids[k - 1]) return CX_E_UNSORTED;
  }
  return CX_OK;
}

cx_err dkg_reshare_combine(uint16_t t_old, const uint16_t *dealer_ids, const frost_scalar *values,
                           frost_scalar *new_share) {
  cx_err e = check_dealer_set(t_old, dealer_ids);
  if (e) return e;
  for (size_t k = 0; k < t_old; k++)
    if (!frost_scalar_canonical(values[k].b)) return CX_E_NONCANONICAL;
  /* s'_me = sum lambda_i g_i(me) (Desmedt-Jajodia): the lambda_i-weighted
   * sum of polynomials through s_i at 0 goes through sum lambda_i s_i = s. */
  frost_scalar acc = {{0}}, lam, term;
  for (size_t k = 0; k < t_old; k++) {
    /* Cannot fail: the ids were checked above. */
    if ((e = frost_lagrange(dealer_ids[k], dealer_ids, t_old, &lam))) break;
    crypto_core_ristretto255_scalar_mul(term.b, lam.b, values[k].b);
    crypto_core_ristretto255_scalar_add(acc.b, acc.b, term.b);
  }
  sodium_memzero(&term, sizeof term);
  if (!e && is_zero32(acc.b)) e = CX_E_CRYPTO;
  if (!e) *new_share = acc;
  sodium_memzero(&acc, sizeof acc);
  return e;
}

cx_err dkg_reshare_public(uint16_t t_old, const uint16_t *dealer_ids,
                          const dkg_round1_msg *const *r1, uint16_t t_new, uint16_t n_new,
                          frost_element *group_pk, frost_element *pk_shares) {
  cx_err e = check_dealer_set(t_old, dealer_ids);
  if (e) return e;
  if (!params_ok(n_new, t_new)) return CX_E_INVALID_ARG;
  for (size_t k = 0; k < t_old; k++)
    if (r1[k]->dealer != dealer_ids[k] ||
        check_round1_form(DKG_MAX_PARTIES, t_new, r1[k], NULL, 0) != CX_OK)
      return CX_E_INVALID_ARG;
  th_init();
  /* D_k = sum_{i in S} lambda_i C_ik: the commitments of the combined
   * polynomial sum lambda_i g_i. */
  frost_element D[DKG_MAX_PARTIES], term;
  memset(D, 0, sizeof D);
  for (size_t k = 0; k < t_old; k++) {
    frost_scalar lam;
    /* Cannot fail (distinct non-zero ids); chain data must not panic the vm. */
    if ((e = frost_lagrange(dealer_ids[k], dealer_ids, t_old, &lam))) return e;
    for (size_t m = 0; m < t_new; m++) {
      mul(&lam, &r1[k]->commit[m], &term);
      add(&D[m], &term, &D[m]);
    }
  }
  *group_pk = D[0];
  int bad = frost_element_check(D[0].b) != CX_OK;
  for (uint16_t j = 1; j <= n_new; j++) {
    /* D may hold the identity (all zero): a valid ristretto255 point. */
    if ((e = frost_vss_public_share(D, t_new, j, &pk_shares[j - 1]))) return e;
    bad |= frost_element_check(pk_shares[j - 1].b) != CX_OK;
  }
  return bad ? CX_E_CRYPTO : CX_OK;
}

/* check_complaint_form without the dealer != complainer rule; ids within
 * the cap only (the caller knows the old and new sets). */
static cx_err check_reshare_complaint_form(const dkg_complaint *c, char *err, size_t errlen) {
  if (c->dealer == 0 || c->dealer > DKG_MAX_PARTIES || c->complainer == 0 ||
      c->complainer > DKG_MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_MPC_SENDER,
                   "complaint: dealer %u or complainer %u not in 1..%d", c->dealer,
                   c->complainer, DKG_MAX_PARTIES);
  if (c->reason == DKG_COMPLAINT_NO_SHARE) {
    if (!is_zero32(c->share.b))
      return cx_errf(err, errlen, CX_E_NONCANONICAL, "a no-share complaint carries a share");
  } else if (c->reason == DKG_COMPLAINT_BAD_SHARE) {
    if (!frost_scalar_canonical(c->share.b))
      return cx_errf(err, errlen, CX_E_NONCANONICAL, "complaint: disclosed share is not below L");
  } else {
    return cx_errf(err, errlen, CX_E_BAD_ENUM, "complaint reason %u is unknown", c->reason);
  }
  return CX_OK;
}

cx_err dkg_reshare_complaint_verify(uint16_t t_new, const dkg_round1_msg *r1,
                                    const dkg_complaint *c, const dkg_answer *a,
                                    int *dealer_at_fault, char *err, size_t errlen) {
  *dealer_at_fault = 0;
  if (t_new < 2 || t_new > DKG_MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "t' %u is not in 2..%d", t_new, DKG_MAX_PARTIES);
  cx_err e = check_round1_form(DKG_MAX_PARTIES, t_new, r1, err, errlen);
  if (!e) e = check_reshare_complaint_form(c, err, errlen);
  if (e) return e;
  return judge_complaint(t_new, r1, c, a, dealer_at_fault, err, errlen);
}

cx_err dkg_reshare_answer(const uint8_t context[DKG_CONTEXT_LEN], uint16_t n_new, uint16_t t_new,
                          uint16_t dealer_id, const frost_scalar *old_share,
                          const uint8_t seed[32], const dkg_complaint *c, dkg_answer *out) {
  if (!params_ok(n_new, t_new) || dealer_id == 0 || dealer_id > DKG_MAX_PARTIES ||
      check_old_share(old_share) || c->dealer != dealer_id)
    return CX_E_INVALID_ARG;
  if (c->complainer == 0 || c->complainer > n_new) return CX_E_MPC_SENDER;
  th_init();
  reshare_secrets *sec = sodium_malloc(sizeof *sec);
  if (!sec) return CX_E_NOMEM;
  cx_err e = reshare_poly(context, t_new, dealer_id, old_share, seed, sec->coef, NULL);
  if (!e) {
    memset(out, 0, sizeof *out);
    out->dealer = dealer_id;
    out->complainer = c->complainer;
    poly_eval(sec->coef, t_new, c->complainer, &out->share);
  }
  sodium_free(sec);
  return e;
}

/* The reshare decoders: dkg_*_decode's checks, but old and new ids may
 * coincide (check_pair's reshare flag). */
cx_err dkg_reshare_complaint_decode(const uint8_t *in, size_t len, dkg_complaint *c, char *err,
                                    size_t errlen) {
  return complaint_decode(in, len, 1, c, err, errlen);
}

cx_err dkg_reshare_answer_decode(const uint8_t *in, size_t len, dkg_answer *a, char *err,
                                 size_t errlen) {
  return answer_decode(in, len, 1, a, err, errlen);
}

cx_err dkg_reshare_share_decode(const uint8_t *in, size_t len, dkg_share *s, char *err,
                                size_t errlen) {
  return share_decode(in, len, 1, s, err, errlen);
}
