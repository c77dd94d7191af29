/* Unit tests for mpc/threshold/dkg.h: the FROST-paper KeyGen with
 * complaints. Whole runs of n parties in one process, every message through
 * its encoding; the resulting shares sign with frost.h. Faults: a bad share
 * with a bad, missing or good public answer, false complaints, a bad proof of
 * knowledge, an absent dealer. Resharing (docs/keys.md §10) of a DKG key to
 * new party sets. Parties' seeds come from tu_randbytes, so a failing run
 * replays with CUSTOS_SEED. */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "dkg.h"
#include "frost.h"
#include "testutil.h"

#define MAXP 8

/* L, the group order, little-endian (a scalar encoding that is not canonical). */
static const uint8_t L_LE[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                 0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

static void add_one(frost_scalar *s) {
  frost_scalar one = {{1}};
  crypto_core_ristretto255_scalar_add(s->b, s->b, one.b);
}

/* A run: parameters, faults to inject, and what came out. */
typedef struct {
  uint16_t n, t;
  uint8_t ctx[32];
  uint8_t seed[MAXP][32];
  /* faults */
  uint16_t absent;            /* dealer that sends nothing at all */
  uint16_t bad_pok;            /* dealer whose proof's mu is altered */
  uint16_t bad_dealer, victim; /* bad_dealer sends f(victim) + 1 */
  int answer_mode;            /* 0 honest answer, 1 a wrong answer, 2 none */
  /* outputs */
  dkg *p[MAXP];
  dkg_round1_msg r1[MAXP];
  int ncomplaints, nanswers;
  dkg_complaint complaint[4];
  dkg_answer answer[4];
  dkg_result res[MAXP];
  frost_scalar *sk; /* sodium_malloc'd, n */
} run;

static void run_init(run *r, uint16_t n, uint16_t t) {
  memset(r, 0, sizeof *r);
  r->n = n;
  r->t = t;
  tu_randbytes(r->ctx, sizeof r->ctx);
  for (int i = 0; i < MAXP; i++) tu_randbytes(r->seed[i], 32);
  r->sk = sodium_allocarray(n, sizeof *r->sk);
  ck_assert_ptr_nonnull(r->sk);
}

static void run_free(run *r) {
  for (int i = 0; i < r->n; i++) dkg_free(r->p[i]);
  sodium_free(r->sk);
}

/* Round one for every present dealer; every party receives every message
 * through its encoding. */
static void do_round1(run *r) {
  char err[256];
  for (uint16_t i = 1; i <= r->n; i++) {
    ck_assert_int_eq(dkg_new(r->n, r->t, i, r->ctx, r->seed[i - 1], &r->p[i - 1], err, sizeof err),
                     CX_OK);
    if (i == r->absent) continue;
    dkg_round1_msg m;
    ck_assert_int_eq(dkg_round1(r->p[i - 1], &m), CX_OK);
    if (i == r->bad_pok) add_one(&m.mu);
    uint8_t buf[DKG_ROUND1_MAX_LEN], again[DKG_ROUND1_MAX_LEN];
    size_t len = dkg_round1_encode(&m, buf);
    ck_assert_uint_eq(len, DKG_ROUND1_LEN(r->t));
    ck_assert_int_eq(dkg_round1_decode(buf, len, &r->r1[i - 1], err, sizeof err), CX_OK);
    ck_assert_uint_eq(dkg_round1_encode(&r->r1[i - 1], again), len);
    ck_assert(memcmp(buf, again, len) == 0);
  }
  for (uint16_t j = 1; j <= r->n; j++)
    for (uint16_t i = 1; i <= r->n; i++) {
      if (i == r->absent) continue;
      /* The bad dealer's own state kept its true message: it is fed the
       * altered one only by others. */
      if (i == j && i == r->bad_pok) continue;
      cx_err e = dkg_recv_round1(r->p[j - 1], &r->r1[i - 1], err, sizeof err);
      if (i == r->bad_pok) {
        ck_assert_int_eq(e, CX_E_MPC_CHECK_FAILED);
        ck_assert_ptr_nonnull(strstr(err, "proof of knowledge"));
        ck_assert(dkg_disqualified(r->p[j - 1], i));
      } else {
        ck_assert_msg(e == CX_OK, "party %u on dealer %u's round one: %s", j, i, err);
      }
    }
}

/* Round two: shares through their encoding; complaints collected. */
static void do_round2(run *r) {
  char err[256];
  dkg_share *sh = sodium_allocarray(r->n, sizeof *sh);
  ck_assert_ptr_nonnull(sh);
  for (uint16_t i = 1; i <= r->n; i++) {
    if (i == r->absent) continue;
    ck_assert_int_eq(dkg_round2(r->p[i - 1], sh, err, sizeof err), CX_OK);
    for (uint16_t j = 1; j <= r->n; j++) {
      if (j == i) continue;
      if (i == r->bad_dealer && j == r->victim) add_one(&sh[j - 1].value);
      uint8_t buf[DKG_SHARE_LEN];
      dkg_share got;
      ck_assert_uint_eq(dkg_share_encode(&sh[j - 1], buf), DKG_SHARE_LEN);
      ck_assert_int_eq(dkg_share_decode(buf, sizeof buf, &got, err, sizeof err), CX_OK);
      dkg_complaint c;
      int complained = -1;
      cx_err e = dkg_recv_share(r->p[j - 1], &got, &c, &complained, err, sizeof err);
      if (i == r->bad_dealer && j == r->victim && i != r->bad_pok) {
        ck_assert_int_eq(e, CX_E_MPC_CHECK_FAILED);
        ck_assert_int_eq(complained, 1);
        ck_assert_int_eq(c.reason, DKG_COMPLAINT_BAD_SHARE);
        ck_assert_uint_eq(c.dealer, i);
        ck_assert_uint_eq(c.complainer, j);
        r->complaint[r->ncomplaints++] = c;
      } else {
        ck_assert_msg(e == CX_OK, "party %u on dealer %u's share: %s", j, i, err);
        ck_assert_int_eq(complained, 0);
      }
      sodium_memzero(&got, sizeof got);
    }
  }
  sodium_free(sh);
}

/* Every complaint to every party (through its encoding), answers likewise. */
static void do_complaints(run *r) {
  char err[256];
  for (int k = 0; k < r->ncomplaints; k++) {
    uint8_t buf[DKG_COMPLAINT_MAX_LEN];
    dkg_complaint c;
    size_t len = dkg_complaint_encode(&r->complaint[k], buf);
    ck_assert_int_eq(dkg_complaint_decode(buf, len, &c, err, sizeof err), CX_OK);
    for (uint16_t j = 1; j <= r->n; j++)
      ck_assert_int_eq(dkg_recv_complaint(r->p[j - 1], &c, err, sizeof err), CX_OK);
    if (r->answer_mode == 2) continue;
    dkg_answer a;
    ck_assert_int_eq(dkg_answer_make(r->p[c.dealer - 1], &c, &a, err, sizeof err), CX_OK);
    if (r->answer_mode == 1) add_one(&a.share);
    uint8_t abuf[DKG_ANSWER_LEN];
    ck_assert_uint_eq(dkg_answer_encode(&a, abuf), DKG_ANSWER_LEN);
    ck_assert_int_eq(dkg_answer_decode(abuf, sizeof abuf, &r->answer[r->nanswers], err, sizeof err),
                     CX_OK);
    for (uint16_t j = 1; j <= r->n; j++) {
      cx_err e = dkg_recv_answer(r->p[j - 1], &r->answer[r->nanswers], err, sizeof err);
      ck_assert_int_eq(e, r->answer_mode == 1 ? CX_E_MPC_CHECK_FAILED : CX_OK);
    }
    r->nanswers++;
  }
}

/* Finish everywhere; every party agrees on QUAL, Y and the public shares,
 * and G * s_j == Y_j. */
static void do_finish(run *r) {
  char err[256];
  for (uint16_t j = 1; j <= r->n; j++) {
    cx_err e = dkg_finish(r->p[j - 1], &r->res[j - 1], &r->sk[j - 1], err, sizeof err);
    ck_assert_msg(e == CX_OK, "party %u finish: %s", j, err);
    frost_element pk;
    ck_assert_int_eq(frost_public_share(&r->sk[j - 1], &pk), CX_OK);
    ck_assert(memcmp(pk.b, r->res[j - 1].pk_shares[j - 1].b, 32) == 0);
  }
  /* The bad-proof dealer's own state kept its true message: it is the
   * cheater, so agreement is among the others. */
  uint16_t ref = r->bad_pok == 1 ? 2 : 1;
  for (uint16_t j = 1; j <= r->n; j++) {
    if (j == r->bad_pok || j == ref) continue;
    const dkg_result *a = &r->res[ref - 1], *b = &r->res[j - 1];
    ck_assert_uint_eq(a->nqual, b->nqual);
    ck_assert(memcmp(a->qual, b->qual, a->nqual * sizeof a->qual[0]) == 0);
    ck_assert(memcmp(a->group_pk.b, b->group_pk.b, 32) == 0);
    ck_assert(memcmp(a->pk_shares, b->pk_shares, r->n * sizeof a->pk_shares[0]) == 0);
  }
  /* Y is the sum of QUAL's constant-term commitments. */
  frost_element y;
  memset(y.b, 0, 32);
  const dkg_result *a = &r->res[ref - 1];
  for (size_t k = 0; k < a->nqual; k++)
    ck_assert_int_eq(crypto_core_ristretto255_add(y.b, y.b, r->r1[a->qual[k] - 1].commit[0].b), 0);
  ck_assert(memcmp(y.b, a->group_pk.b, 32) == 0);
}

static void run_all(run *r) {
  do_round1(r);
  do_round2(r);
  do_complaints(r);
  do_finish(r);
}

static int in_qual(const dkg_result *res, uint16_t id) {
  for (size_t k = 0; k < res->nqual; k++)
    if (res->qual[k] == id) return 1;
  return 0;
}

/* FROST signing by the parties in mask (bit i-1 for id i) with the DKG's
 * shares; the checked aggregate uses the DKG's public shares. Returns the
 * verify result under Y. */
static cx_err sign_with(const run *r, unsigned mask, const uint8_t *msg, size_t mlen) {
  frost_commitment list[MAXP];
  frost_nonces *nonces = sodium_allocarray(MAXP, sizeof *nonces);
  frost_scalar z[MAXP];
  frost_element pk[MAXP];
  uint16_t culprits[MAXP];
  size_t n = 0, nc = 0;
  char err[256];
  const dkg_result *res = &r->res[0];
  for (uint16_t i = 1; i <= r->n; i++) {
    if (!(mask & (1u << (i - 1)))) continue;
    ck_assert_int_eq(frost_commit(i, &r->sk[i - 1], NULL, NULL, &nonces[n], &list[n]), CX_OK);
    pk[n++] = res->pk_shares[i - 1];
  }
  for (size_t k = 0; k < n; k++)
    ck_assert_int_eq(frost_sign(list[k].id, &r->sk[list[k].id - 1], &res->group_pk, &nonces[k], msg,
                                mlen, list, n, &z[k], err, sizeof err),
                     CX_OK);
  frost_sig sig;
  cx_err e = frost_aggregate_checked(list, n, msg, mlen, &res->group_pk, z, pk, &sig, culprits, &nc,
                                     err, sizeof err);
  ck_assert_msg(e == CX_OK, "aggregate: %s", err);
  sodium_free(nonces);
  return frost_verify(&res->group_pk, msg, mlen, &sig, err, sizeof err);
}

/* Every set of >= t parties signs; sets of t - 1 give a signature that does
 * not verify (they interpolate the wrong secret). */
static void check_signing(const run *r) {
  uint8_t msg[32];
  tu_randbytes(msg, sizeof msg);
  int ok = 0;
  for (unsigned mask = 1; mask < (1u << r->n); mask++) {
    int size = __builtin_popcount(mask);
    if (size == r->t - 1 && size > 0) {
      ck_assert_int_eq(sign_with(r, mask, msg, sizeof msg), CX_E_BAD_SIG);
    } else if (size >= r->t && (size == r->t || size == r->n)) {
      ck_assert_msg(sign_with(r, mask, msg, sizeof msg) == CX_OK, "signers 0x%x", mask);
      ok++;
    }
  }
  ck_assert_int_gt(ok, 0);
}

static void honest(uint16_t n, uint16_t t) {
  run r;
  run_init(&r, n, t);
  run_all(&r);
  ck_assert_int_eq(r.ncomplaints, 0);
  ck_assert_uint_eq(r.res[0].nqual, n);
  check_signing(&r);
  run_free(&r);
}

START_TEST(honest_n2_t2) { honest(2, 2); }
END_TEST

START_TEST(honest_n4_t2) { honest(4, 2); }
END_TEST

START_TEST(honest_n7_t3) { honest(7, 3); }
END_TEST

START_TEST(honest_n5_t5) { honest(5, 5); }
END_TEST

/* The same seeds give the same key: the seed is the only randomness. */
START_TEST(seeded_runs_repeat) {
  run a, b;
  run_init(&a, 4, 2);
  run_init(&b, 4, 2);
  memcpy(b.ctx, a.ctx, 32);
  memcpy(b.seed, a.seed, sizeof a.seed);
  run_all(&a);
  run_all(&b);
  ck_assert(memcmp(a.res[0].group_pk.b, b.res[0].group_pk.b, 32) == 0);
  ck_assert(memcmp(a.sk, b.sk, 4 * sizeof *a.sk) == 0);
  run_free(&a);
  run_free(&b);
}
END_TEST

/* A bad share, then a public answer that is also bad: every party
 * disqualifies the dealer; the complaint and answer convict it publicly. */
START_TEST(bad_share_bad_answer) {
  run r;
  run_init(&r, 4, 2);
  r.bad_dealer = 2;
  r.victim = 3;
  r.answer_mode = 1;
  run_all(&r);
  ck_assert_int_eq(r.ncomplaints, 1);
  for (uint16_t j = 1; j <= 4; j++) {
    ck_assert(dkg_disqualified(r.p[j - 1], 2));
    ck_assert(!in_qual(&r.res[j - 1], 2));
  }
  ck_assert_uint_eq(r.res[0].nqual, 3);
  int fault = -1;
  char err[256];
  ck_assert_int_eq(dkg_complaint_verify(4, 2, &r.r1[1], &r.complaint[0], &r.answer[0], &fault, err,
                                        sizeof err),
                   CX_OK);
  ck_assert_int_eq(fault, 1);
  ck_assert_int_eq(
      dkg_complaint_verify(4, 2, &r.r1[1], &r.complaint[0], NULL, &fault, err, sizeof err), CX_OK);
  ck_assert_int_eq(fault, 1);
  /* Evidence that does not fit together gives no verdict. */
  ck_assert_int_ne(
      dkg_complaint_verify(4, 2, &r.r1[0], &r.complaint[0], &r.answer[0], &fault, err, sizeof err),
      CX_OK);
  ck_assert_int_ne(
      dkg_complaint_verify(4, 3, &r.r1[1], &r.complaint[0], &r.answer[0], &fault, err, sizeof err),
      CX_OK);
  check_signing(&r);
  run_free(&r);
}
END_TEST

/* No answer by the deadline (dkg_finish): disqualified too. */
START_TEST(bad_share_no_answer) {
  run r;
  run_init(&r, 7, 3);
  r.bad_dealer = 5;
  r.victim = 1;
  r.answer_mode = 2;
  do_round1(&r);
  do_round2(&r);
  do_complaints(&r);
  /* Before the deadline nobody has disqualified it: only finish does. */
  for (uint16_t j = 1; j <= 7; j++) ck_assert(!dkg_disqualified(r.p[j - 1], 5));
  do_finish(&r);
  for (uint16_t j = 1; j <= 7; j++) ck_assert(!in_qual(&r.res[j - 1], 5));
  ck_assert_uint_eq(r.res[0].nqual, 6);
  int fault = -1;
  ck_assert_int_eq(dkg_complaint_verify(7, 3, &r.r1[4], &r.complaint[0], NULL, &fault, NULL, 0),
                   CX_OK);
  ck_assert_int_eq(fault, 1);
  check_signing(&r);
  run_free(&r);
}
END_TEST

/* A bad share but a good public answer: the dealer stays, the victim takes
 * the revealed share and signs with everyone else. */
START_TEST(bad_share_good_answer) {
  run r;
  run_init(&r, 4, 2);
  r.bad_dealer = 1;
  r.victim = 4;
  r.answer_mode = 0;
  run_all(&r);
  ck_assert_int_eq(r.ncomplaints, 1);
  ck_assert_uint_eq(r.res[0].nqual, 4);
  for (uint16_t j = 1; j <= 4; j++) ck_assert(!dkg_disqualified(r.p[j - 1], 1));
  int fault = -1;
  char err[256];
  ck_assert_int_eq(dkg_complaint_verify(4, 2, &r.r1[0], &r.complaint[0], &r.answer[0], &fault, err,
                                        sizeof err),
                   CX_OK);
  ck_assert_int_eq(fault, 0);
  ck_assert_ptr_nonnull(strstr(err, "matches"));
  check_signing(&r);
  run_free(&r);
}
END_TEST

/* A complainer is not trusted blindly. */
START_TEST(false_complaints) {
  run r;
  run_init(&r, 4, 2);
  do_round1(&r);
  do_round2(&r);
  char err[256];
  int fault = -1;
  /* Party 3 got a good share from 2 and discloses it: the complaint proves
   * nothing, every party refuses it, and the verifier says not guilty even
   * without an answer. */
  dkg_share sh[4];
  ck_assert_int_eq(dkg_round2(r.p[1], sh, err, sizeof err), CX_OK);
  dkg_complaint c = {.dealer = 2, .complainer = 3, .reason = DKG_COMPLAINT_BAD_SHARE};
  c.share = sh[2].value;
  for (uint16_t j = 1; j <= 4; j++)
    ck_assert_int_eq(dkg_recv_complaint(r.p[j - 1], &c, err, sizeof err), CX_E_BAD_EVIDENCE);
  ck_assert_int_eq(dkg_complaint_verify(4, 2, &r.r1[1], &c, NULL, &fault, err, sizeof err), CX_OK);
  ck_assert_int_eq(fault, 0);
  /* Disclosing a wrong value instead: recorded, the dealer answers with the
   * true share, and it is cleared. */
  add_one(&c.share);
  dkg_answer a;
  for (uint16_t j = 1; j <= 4; j++)
    ck_assert_int_eq(dkg_recv_complaint(r.p[j - 1], &c, err, sizeof err), CX_OK);
  ck_assert_int_eq(dkg_answer_make(r.p[1], &c, &a, err, sizeof err), CX_OK);
  ck_assert(memcmp(a.share.b, sh[2].value.b, 32) == 0);
  for (uint16_t j = 1; j <= 4; j++)
    ck_assert_int_eq(dkg_recv_answer(r.p[j - 1], &a, err, sizeof err), CX_OK);
  ck_assert_int_eq(dkg_complaint_verify(4, 2, &r.r1[1], &c, &a, &fault, err, sizeof err), CX_OK);
  ck_assert_int_eq(fault, 0);
  /* The same pair complaining differently: equivocation, refused. */
  dkg_complaint c2 = {.dealer = 2, .complainer = 3, .reason = DKG_COMPLAINT_NO_SHARE};
  ck_assert_int_eq(dkg_recv_complaint(r.p[0], &c2, err, sizeof err), CX_E_MPC_EQUIVOCATION);
  /* A no-share complaint by party 4 against 1 (false: it holds the share):
   * its own state refuses to make it, others record it, 1 answers. */
  dkg_complaint c3;
  ck_assert_int_eq(dkg_complain(r.p[3], 1, &c3, err, sizeof err), CX_E_EXISTS);
  c3 = (dkg_complaint){.dealer = 1, .complainer = 4, .reason = DKG_COMPLAINT_NO_SHARE};
  for (uint16_t j = 1; j <= 4; j++)
    ck_assert_int_eq(dkg_recv_complaint(r.p[j - 1], &c3, err, sizeof err), CX_OK);
  ck_assert_int_eq(dkg_complaint_verify(4, 2, &r.r1[0], &c3, NULL, &fault, err, sizeof err), CX_OK);
  ck_assert_int_eq(fault, 1); /* until answered */
  ck_assert_int_eq(dkg_answer_make(r.p[0], &c3, &a, err, sizeof err), CX_OK);
  for (uint16_t j = 1; j <= 4; j++)
    ck_assert_int_eq(dkg_recv_answer(r.p[j - 1], &a, err, sizeof err), CX_OK);
  ck_assert_int_eq(dkg_complaint_verify(4, 2, &r.r1[0], &c3, &a, &fault, err, sizeof err), CX_OK);
  ck_assert_int_eq(fault, 0);
  /* A second, different answer to an answered complaint is refused. */
  add_one(&a.share);
  ck_assert_int_eq(dkg_recv_answer(r.p[2], &a, err, sizeof err), CX_E_MPC_EQUIVOCATION);
  /* An answer to no complaint. */
  dkg_answer stray = {.dealer = 3, .complainer = 1};
  ck_assert_int_eq(dkg_recv_answer(r.p[0], &stray, err, sizeof err), CX_E_NOT_FOUND);
  do_finish(&r);
  ck_assert_uint_eq(r.res[0].nqual, 4);
  check_signing(&r);
  frost_wipe(sh, sizeof sh);
  run_free(&r);
}
END_TEST

/* A bad proof of knowledge: disqualified at round one by everyone; the
 * proof is bound to the context and the dealer's identifier. */
START_TEST(bad_pok) {
  run r;
  run_init(&r, 4, 2);
  r.bad_pok = 2;
  run_all(&r);
  char err[256];
  ck_assert_int_eq(dkg_round1_verify(r.ctx, 4, 2, &r.r1[1], err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert_int_eq(dkg_round1_verify(r.ctx, 4, 2, &r.r1[0], err, sizeof err), CX_OK);
  for (uint16_t j = 1; j <= 4; j++) ck_assert(!in_qual(&r.res[j - 1], 2) || j == 2);
  /* Party 2's own view kept its true message, so it alone would count itself:
   * the others agree without it. */
  for (uint16_t j = 1; j <= 4; j++)
    if (j != 2) ck_assert_uint_eq(r.res[j - 1].nqual, 3);
  /* A valid message under another context, or relabelled as another
   * dealer's (a copied key), fails. */
  uint8_t other[32];
  memcpy(other, r.ctx, 32);
  other[0] ^= 1;
  ck_assert_int_eq(dkg_round1_verify(other, 4, 2, &r.r1[0], err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  dkg_round1_msg copy = r.r1[0];
  copy.dealer = 3;
  ck_assert_int_eq(dkg_round1_verify(r.ctx, 4, 2, &copy, err, sizeof err), CX_E_MPC_CHECK_FAILED);
  /* Wrong t or dealer for the run. */
  ck_assert_int_eq(dkg_round1_verify(r.ctx, 4, 3, &r.r1[0], err, sizeof err), CX_E_INVALID_ARG);
  copy.dealer = 5;
  ck_assert_int_eq(dkg_round1_verify(r.ctx, 4, 2, &copy, err, sizeof err), CX_E_MPC_SENDER);
  run_free(&r);
}
END_TEST

/* Signing after a bad-PoK run, among the parties that agree (1, 3, 4). */
START_TEST(bad_pok_signs) {
  run r;
  run_init(&r, 4, 2);
  r.bad_pok = 4;
  do_round1(&r);
  do_round2(&r);
  do_complaints(&r);
  char err[256];
  for (uint16_t j = 1; j <= 4; j++)
    ck_assert_int_eq(dkg_finish(r.p[j - 1], &r.res[j - 1], &r.sk[j - 1], err, sizeof err), CX_OK);
  ck_assert_uint_eq(r.res[0].nqual, 3);
  uint8_t msg[] = "custos dkg";
  ck_assert_int_eq(sign_with(&r, 0x3, msg, sizeof msg), CX_OK); /* 1, 2 */
  ck_assert_int_eq(sign_with(&r, 0x5, msg, sizeof msg), CX_OK); /* 1, 3 */
  ck_assert_int_eq(sign_with(&r, 0x6, msg, sizeof msg), CX_OK); /* 2, 3 */
  run_free(&r);
}
END_TEST

/* The group key does not depend on a disqualified (or absent) dealer: with
 * the honest parties' seeds fixed, it is the same whatever the cheater drew,
 * and the same as if the cheater had sent nothing. */
START_TEST(key_independent_of_cheater) {
  run a, b, c, h;
  run_init(&a, 4, 2);
  run_init(&b, 4, 2);
  run_init(&c, 4, 2);
  run_init(&h, 4, 2);
  run *all[4] = {&a, &b, &c, &h};
  for (int k = 1; k < 4; k++) {
    memcpy(all[k]->ctx, a.ctx, 32);
    for (int i = 0; i < 4; i++)
      if (i != 1) memcpy(all[k]->seed[i], a.seed[i], 32);
  }
  a.bad_dealer = b.bad_dealer = 2;
  a.victim = b.victim = 1;
  a.answer_mode = 1;
  b.answer_mode = 2;
  c.absent = 2;
  run_all(&a);
  run_all(&b);
  run_all(&c);
  run_all(&h);
  ck_assert(memcmp(a.res[0].group_pk.b, b.res[0].group_pk.b, 32) == 0);
  ck_assert(memcmp(a.res[0].group_pk.b, c.res[0].group_pk.b, 32) == 0);
  ck_assert(memcmp(a.res[0].pk_shares, c.res[0].pk_shares, 4 * sizeof(frost_element)) == 0);
  for (int j = 0; j < 4; j++) ck_assert(memcmp(a.sk[j].b, c.sk[j].b, 32) == 0);
  /* With dealer 2 honest the key differs: its contribution would count. */
  ck_assert(memcmp(a.res[0].group_pk.b, h.res[0].group_pk.b, 32) != 0);
  ck_assert_uint_eq(h.res[0].nqual, 4);
  for (int k = 0; k < 4; k++) run_free(all[k]);
}
END_TEST

/* State-machine misuse and ordering. */
START_TEST(state_rules) {
  char err[256];
  uint8_t ctx[32] = {0};
  dkg *d = NULL;
  ck_assert_int_eq(dkg_new(4, 1, 1, ctx, NULL, &d, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_new(3, 4, 1, ctx, NULL, &d, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_new(4, 2, 5, ctx, NULL, &d, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_new(DKG_MAX_PARTIES + 1, 2, 1, ctx, NULL, &d, err, sizeof err),
                   CX_E_INVALID_ARG);
  ck_assert_ptr_null(d);

  run r;
  run_init(&r, 4, 2);
  for (uint16_t i = 1; i <= 4; i++) {
    ck_assert_int_eq(dkg_new(4, 2, i, r.ctx, NULL, &r.p[i - 1], err, sizeof err), CX_OK);
    ck_assert_int_eq(dkg_round1(r.p[i - 1], &r.r1[i - 1]), CX_OK);
  }
  dkg_share *sh = sodium_allocarray(4, sizeof *sh);
  /* Round two of a party that has not made round one; a share before its
   * dealer's round-one message. */
  dkg *fresh = NULL;
  ck_assert_int_eq(dkg_new(4, 2, 1, r.ctx, NULL, &fresh, err, sizeof err), CX_OK);
  ck_assert_int_eq(dkg_round2(fresh, sh, err, sizeof err), CX_E_MPC_ROUND);
  dkg_free(fresh);
  ck_assert_int_eq(dkg_round2(r.p[0], sh, err, sizeof err), CX_OK);
  ck_assert(sodium_is_zero(sh[0].value.b, 32));
  ck_assert_int_eq(dkg_recv_share(r.p[1], &sh[1], NULL, NULL, err, sizeof err), CX_E_MPC_ROUND);
  /* Wrong recipient, self-dealt. */
  for (uint16_t j = 1; j <= 4; j++)
    for (uint16_t i = 1; i <= 4; i++)
      ck_assert_int_eq(dkg_recv_round1(r.p[j - 1], &r.r1[i - 1], err, sizeof err), CX_OK);
  ck_assert_int_eq(dkg_recv_share(r.p[2], &sh[1], NULL, NULL, err, sizeof err), CX_E_MPC_SENDER);
  /* A second, different round-one message from a dealer. */
  dkg_round1_msg eq = r.r1[0];
  eq.commit[1] = r.r1[1].commit[1];
  ck_assert_int_eq(dkg_recv_round1(r.p[1], &eq, err, sizeof err), CX_E_MPC_EQUIVOCATION);
  /* A share that is not a scalar: complained about as no share. */
  dkg_share junk = sh[1];
  memcpy(junk.value.b, L_LE, 32);
  dkg_complaint c;
  int complained = 0;
  ck_assert_int_eq(dkg_recv_share(r.p[1], &junk, &c, &complained, err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert_int_eq(complained, 1);
  ck_assert_int_eq(c.reason, DKG_COMPLAINT_NO_SHARE);
  /* Finishing while missing shares from dealers not complained about. */
  dkg_result res;
  frost_scalar *s = sodium_malloc(sizeof *s);
  ck_assert_int_eq(dkg_finish(r.p[2], &res, s, err, sizeof err), CX_E_MPC_STATE);
  ck_assert_ptr_nonnull(strstr(err, "no valid share"));
  /* Party 3 complains about 1, 2, 4 (none came); they answer; it finishes. */
  for (uint16_t i = 1; i <= 4; i++) {
    if (i == 3) continue;
    ck_assert_int_eq(dkg_complain(r.p[2], i, &c, err, sizeof err), CX_OK);
    ck_assert_int_eq(dkg_complain(r.p[2], i, &c, err, sizeof err), CX_E_EXISTS);
    ck_assert_int_eq(dkg_recv_complaint(r.p[2], &c, err, sizeof err), CX_OK); /* own copy */
    dkg_answer a;
    ck_assert_int_eq(dkg_answer_make(r.p[i - 1], &c, &a, err, sizeof err), CX_OK);
    ck_assert_int_eq(dkg_answer_make(r.p[2], &c, &a, err, sizeof err), CX_E_INVALID_ARG);
    ck_assert_int_eq(dkg_answer_make(r.p[i - 1], &c, &a, err, sizeof err), CX_OK);
    ck_assert_int_eq(dkg_recv_answer(r.p[2], &a, err, sizeof err), CX_OK);
  }
  ck_assert_int_eq(dkg_finish(r.p[2], &res, s, err, sizeof err), CX_OK);
  ck_assert_uint_eq(res.nqual, 4);
  ck_assert_int_eq(dkg_finish(r.p[2], &res, s, err, sizeof err), CX_E_MPC_STATE);
  ck_assert_int_eq(dkg_recv_round1(r.p[2], &r.r1[0], err, sizeof err), CX_E_MPC_STATE);
  sodium_free(s);
  sodium_free(sh);
  run_free(&r);
}
END_TEST

/* Fewer than t qualified dealers: no key. */
START_TEST(too_few_qualified) {
  run r;
  run_init(&r, 3, 3);
  r.bad_pok = 1;
  do_round1(&r);
  do_round2(&r);
  char err[256];
  ck_assert_int_eq(dkg_finish(r.p[1], &r.res[1], &r.sk[1], err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert_ptr_nonnull(strstr(err, "fewer than the threshold"));
  run_free(&r);
}
END_TEST

/* Strict decoders. */
START_TEST(encodings) {
  run r;
  run_init(&r, 4, 2);
  do_round1(&r);
  char err[256];
  uint8_t buf[DKG_ROUND1_MAX_LEN + 1], x[DKG_ROUND1_MAX_LEN + 1];
  dkg_round1_msg m;
  size_t len = dkg_round1_encode(&r.r1[0], buf);
  ck_assert_uint_eq(len, 5 + 2 * 32 + 64);
#define R1(mut, want)                                                   \
  do {                                                                  \
    memcpy(x, buf, len);                                                \
    size_t l = len;                                                     \
    mut;                                                                \
    ck_assert_int_eq(dkg_round1_decode(x, l, &m, err, sizeof err), want); \
  } while (0)
  R1((void)0, CX_OK);
  R1(x[0] = DKG_KIND_SHARE, CX_E_BAD_ENUM);
  R1(l = 4, CX_E_TRUNCATED);
  R1(l = len - 1, CX_E_TRUNCATED);
  R1((x[len] = 0, l = len + 1), CX_E_TRAILING);
  R1((x[1] = 0, x[2] = 0), CX_E_INVALID_ARG);                /* dealer 0 */
  R1((x[3] = 0, x[4] = 1), CX_E_INVALID_ARG);                /* t = 1 */
  R1((x[3] = 0, x[4] = 3), CX_E_TRUNCATED);                  /* t = 3, two sent */
  R1((x[3] = 0xff, x[4] = 0xff), CX_E_TOO_LONG);             /* t over the cap */
  R1(memset(x + 5, 0, 32), CX_E_BAD_KEY);                    /* identity C0 */
  R1(memset(x + 37, 0xff, 32), CX_E_NONCANONICAL);           /* C1 not an encoding */
  R1(memset(x + 69, 0, 32), CX_E_BAD_KEY);                   /* identity R */
  R1(memcpy(x + 101, L_LE, 32), CX_E_NONCANONICAL);          /* mu = L */
  R1(x[69] ^= 1, CX_E_NONCANONICAL);                         /* R off its encoding */
#undef R1
  /* Shares. */
  dkg_share s = {.dealer = 1, .recipient = 2}, so;
  s.value.b[0] = 7;
  uint8_t sb[DKG_SHARE_LEN + 1];
  ck_assert_uint_eq(dkg_share_encode(&s, sb), DKG_SHARE_LEN);
  ck_assert_int_eq(dkg_share_decode(sb, DKG_SHARE_LEN, &so, err, sizeof err), CX_OK);
  ck_assert(so.dealer == 1 && so.recipient == 2 && so.value.b[0] == 7);
  ck_assert_int_eq(dkg_share_decode(sb, DKG_SHARE_LEN - 1, &so, err, sizeof err), CX_E_TRUNCATED);
  sb[DKG_SHARE_LEN] = 0;
  ck_assert_int_eq(dkg_share_decode(sb, DKG_SHARE_LEN + 1, &so, err, sizeof err), CX_E_TRAILING);
  memcpy(sb + 5, L_LE, 32);
  ck_assert_int_eq(dkg_share_decode(sb, DKG_SHARE_LEN, &so, err, sizeof err), CX_E_NONCANONICAL);
  s.recipient = 1;
  dkg_share_encode(&s, sb);
  ck_assert_int_eq(dkg_share_decode(sb, DKG_SHARE_LEN, &so, err, sizeof err), CX_E_INVALID_ARG);
  sb[0] = DKG_KIND_ANSWER;
  ck_assert_int_eq(dkg_share_decode(sb, DKG_SHARE_LEN, &so, err, sizeof err), CX_E_BAD_ENUM);
  /* Complaints. */
  dkg_complaint c = {.dealer = 3, .complainer = 1, .reason = DKG_COMPLAINT_NO_SHARE}, co;
  uint8_t cb[DKG_COMPLAINT_MAX_LEN + 1];
  ck_assert_uint_eq(dkg_complaint_encode(&c, cb), 6);
  ck_assert_int_eq(dkg_complaint_decode(cb, 6, &co, err, sizeof err), CX_OK);
  ck_assert(co.reason == DKG_COMPLAINT_NO_SHARE && sodium_is_zero(co.share.b, 32));
  ck_assert_int_eq(dkg_complaint_decode(cb, 7, &co, err, sizeof err), CX_E_TRAILING);
  ck_assert_int_eq(dkg_complaint_decode(cb, 5, &co, err, sizeof err), CX_E_TRUNCATED);
  cb[5] = 9;
  ck_assert_int_eq(dkg_complaint_decode(cb, 6, &co, err, sizeof err), CX_E_BAD_ENUM);
  c.reason = DKG_COMPLAINT_BAD_SHARE;
  c.share.b[0] = 1;
  ck_assert_uint_eq(dkg_complaint_encode(&c, cb), DKG_COMPLAINT_MAX_LEN);
  ck_assert_int_eq(dkg_complaint_decode(cb, DKG_COMPLAINT_MAX_LEN, &co, err, sizeof err), CX_OK);
  ck_assert(memcmp(&co.share, &c.share, 32) == 0);
  ck_assert_int_eq(dkg_complaint_decode(cb, DKG_COMPLAINT_MAX_LEN - 1, &co, err, sizeof err),
                   CX_E_TRUNCATED);
  memcpy(cb + 6, L_LE, 32);
  ck_assert_int_eq(dkg_complaint_decode(cb, DKG_COMPLAINT_MAX_LEN, &co, err, sizeof err),
                   CX_E_NONCANONICAL);
  cb[3] = 0;
  cb[4] = 3; /* complainer == dealer */
  ck_assert_int_eq(dkg_complaint_decode(cb, DKG_COMPLAINT_MAX_LEN, &co, err, sizeof err),
                   CX_E_INVALID_ARG);
  /* A no-share complaint carrying a share is refused by the state machine. */
  c.reason = DKG_COMPLAINT_NO_SHARE;
  ck_assert_int_eq(dkg_recv_complaint(r.p[0], &c, err, sizeof err), CX_E_NONCANONICAL);
  /* Answers. */
  dkg_answer a = {.dealer = 2, .complainer = 4}, ao;
  a.share.b[31] = 0x0f;
  uint8_t ab[DKG_ANSWER_LEN + 1];
  ck_assert_uint_eq(dkg_answer_encode(&a, ab), DKG_ANSWER_LEN);
  ck_assert_int_eq(dkg_answer_decode(ab, DKG_ANSWER_LEN, &ao, err, sizeof err), CX_OK);
  ck_assert(memcmp(&ao.share, &a.share, 32) == 0 && ao.dealer == 2 && ao.complainer == 4);
  ck_assert_int_eq(dkg_answer_decode(ab, DKG_ANSWER_LEN + 1, &ao, err, sizeof err), CX_E_TRAILING);
  memcpy(ab + 5, L_LE, 32);
  ck_assert_int_eq(dkg_answer_decode(ab, DKG_ANSWER_LEN, &ao, err, sizeof err), CX_E_NONCANONICAL);
  ab[0] = DKG_KIND_COMPLAINT;
  ck_assert_int_eq(dkg_answer_decode(ab, DKG_ANSWER_LEN, &ao, err, sizeof err), CX_E_BAD_ENUM);
  run_free(&r);
}
END_TEST

/* ---- resharing (docs/keys.md §10, docs/threshold.md "Resharing") ----
 * A DKG key (n, t) = (4, 3) from the run helpers above is reshared to new
 * party sets; every deal, share, complaint and answer goes through its
 * encoding. */

/* A key: ids 1..n, shares sk[id-1] (sodium_malloc'd), Y_j, Y. */
typedef struct {
  uint16_t n, t;
  frost_scalar *sk;
  frost_element pk[MAXP];
  frost_element group_pk;
  int owned;
} keyset;

static void keyset_from_run(keyset *k, const run *r) {
  memset(k, 0, sizeof *k);
  k->n = r->n;
  k->t = r->t;
  k->sk = r->sk;
  memcpy(k->pk, r->res[0].pk_shares, sizeof k->pk);
  k->group_pk = r->res[0].group_pk;
}

static void keyset_free(keyset *k) {
  if (k->owned) sodium_free(k->sk);
}

/* One resharing of an old key to (n2, t2). */
typedef struct {
  uint16_t n2, t2;
  uint8_t ctx[32];
  uint8_t seed[MAXP][32];
  dkg_round1_msg r1[MAXP]; /* old dealer i's deal at [i-1] */
  dkg_share *g;            /* G_AT(d, i, j) = g_i(j), sodium_malloc'd */
} deals;

#define G_AT(d, i, j) (&(d)->g[((size_t)(i) - 1) * MAXP + ((size_t)(j) - 1)])

/* Every old party not in down (bit i-1 for id i) deals; each deal passes the
 * chain's check against its Y_i, each share its recipient's check at the
 * new id. */
static void deal_all(deals *d, const keyset *old, uint16_t n2, uint16_t t2, unsigned down) {
  char err[256];
  memset(d, 0, sizeof *d);
  d->n2 = n2;
  d->t2 = t2;
  tu_randbytes(d->ctx, sizeof d->ctx);
  for (int i = 0; i < MAXP; i++) tu_randbytes(d->seed[i], 32);
  d->g = sodium_allocarray((size_t)MAXP * MAXP, sizeof *d->g);
  dkg_share *sh = sodium_allocarray(n2, sizeof *sh);
  ck_assert_ptr_nonnull(d->g);
  ck_assert_ptr_nonnull(sh);
  uint16_t nmax = old->n > n2 ? old->n : n2;
  for (uint16_t i = 1; i <= old->n; i++) {
    if (down & (1u << (i - 1))) continue;
    dkg_round1_msg m;
    cx_err e = dkg_reshare_deal(d->ctx, n2, t2, i, &old->sk[i - 1], d->seed[i - 1], &m, sh, err,
                                sizeof err);
    ck_assert_msg(e == CX_OK, "dealer %u: %s", i, err);
    uint8_t buf[DKG_ROUND1_MAX_LEN];
    size_t len = dkg_round1_encode(&m, buf);
    ck_assert_uint_eq(len, DKG_ROUND1_LEN(t2));
    ck_assert_int_eq(dkg_round1_decode(buf, len, &d->r1[i - 1], err, sizeof err), CX_OK);
    ck_assert(memcmp(d->r1[i - 1].commit[0].b, old->pk[i - 1].b, 32) == 0);
    /* A DKG round one for n = max(n_old, n_new), and the chain's check. */
    ck_assert_int_eq(dkg_round1_verify(d->ctx, nmax, t2, &d->r1[i - 1], err, sizeof err), CX_OK);
    ck_assert_int_eq(
        dkg_reshare_check_deal(d->ctx, t2, &d->r1[i - 1], &old->pk[i - 1], err, sizeof err), CX_OK);
    for (uint16_t j = 1; j <= n2; j++) {
      uint8_t sb[DKG_SHARE_LEN];
      ck_assert_uint_eq(sh[j - 1].dealer, i);
      ck_assert_uint_eq(sh[j - 1].recipient, j);
      ck_assert_uint_eq(dkg_share_encode(&sh[j - 1], sb), DKG_SHARE_LEN);
      ck_assert_int_eq(dkg_reshare_share_decode(sb, sizeof sb, G_AT(d, i, j), err, sizeof err),
                       CX_OK);
      if (i == j) { /* old id i == new id j: the DKG decoder refuses it */
        dkg_share x;
        ck_assert_int_eq(dkg_share_decode(sb, sizeof sb, &x, err, sizeof err), CX_E_INVALID_ARG);
      }
      ck_assert_int_eq(dkg_reshare_share_check(j, G_AT(d, i, j), &d->r1[i - 1]), CX_OK);
    }
  }
  sodium_free(sh);
}

static void deals_free(deals *d) { sodium_free(d->g); }

/* The new key from S's deals: public side and every new party's share,
 * which must match its Y'_j. */
static void combine_new(const deals *d, uint16_t t_old, const uint16_t *S, keyset *out) {
  memset(out, 0, sizeof *out);
  out->n = d->n2;
  out->t = d->t2;
  out->owned = 1;
  out->sk = sodium_allocarray(d->n2, sizeof *out->sk);
  frost_scalar *vals = sodium_allocarray(MAXP, sizeof *vals);
  ck_assert_ptr_nonnull(out->sk);
  ck_assert_ptr_nonnull(vals);
  const dkg_round1_msg *r1[MAXP];
  for (size_t k = 0; k < t_old; k++) r1[k] = &d->r1[S[k] - 1];
  ck_assert_int_eq(dkg_reshare_public(t_old, S, r1, d->t2, d->n2, &out->group_pk, out->pk), CX_OK);
  for (uint16_t j = 1; j <= d->n2; j++) {
    for (size_t k = 0; k < t_old; k++) vals[k] = G_AT(d, S[k], j)->value;
    ck_assert_int_eq(dkg_reshare_combine(t_old, S, vals, &out->sk[j - 1]), CX_OK);
    frost_element y;
    ck_assert_int_eq(frost_public_share(&out->sk[j - 1], &y), CX_OK);
    ck_assert_msg(memcmp(y.b, out->pk[j - 1].b, 32) == 0, "new party %u's share is not Y'_%u", j,
                  j);
  }
  sodium_free(vals);
}

/* FROST signing by the ids in mask (bit id-1) with shares sk[id-1] under
 * group_pk. With pk, the checked aggregate against pk[id-1], whose refusal
 * is returned (its first culprit in *culprit); without, the plain one.
 * Otherwise frost_verify's result. */
static cx_err sign_keys(const frost_element *group_pk, const frost_scalar *sk,
                        const frost_element *pk, unsigned mask, uint16_t *culprit) {
  static const uint8_t msg[] = "custos reshare";
  frost_commitment list[MAXP];
  frost_nonces *nonces = sodium_allocarray(MAXP, sizeof *nonces);
  frost_scalar z[MAXP];
  frost_element pks[MAXP];
  uint16_t culprits[MAXP];
  size_t n = 0, nc = 0;
  char err[256];
  ck_assert_ptr_nonnull(nonces);
  for (uint16_t id = 1; id <= MAXP; id++) {
    if (!(mask & (1u << (id - 1)))) continue;
    ck_assert_int_eq(frost_commit(id, &sk[id - 1], NULL, NULL, &nonces[n], &list[n]), CX_OK);
    if (pk) pks[n] = pk[id - 1];
    n++;
  }
  for (size_t k = 0; k < n; k++)
    ck_assert_int_eq(frost_sign(list[k].id, &sk[list[k].id - 1], group_pk, &nonces[k], msg,
                                sizeof msg, list, n, &z[k], err, sizeof err),
                     CX_OK);
  frost_sig sig;
  cx_err e;
  if (pk) {
    e = frost_aggregate_checked(list, n, msg, sizeof msg, group_pk, z, pks, &sig, culprits, &nc,
                                err, sizeof err);
    if (e == CX_E_FROST_BAD_SHARE && culprit && nc > 0) *culprit = culprits[0];
  } else {
    e = frost_aggregate(list, n, msg, sizeof msg, group_pk, z, &sig, err, sizeof err);
  }
  sodium_free(nonces);
  if (e) return e;
  return frost_verify(group_pk, msg, sizeof msg, &sig, err, sizeof err);
}

static unsigned first_ids(uint16_t k) { return (1u << k) - 1; }

/* Under the OLD group key Y: every t'-subset of the new key signs (checked
 * against the Y'_j), all n' do, every (t' - 1)-subset does not. */
static void check_new_signing(const keyset *k, const frost_element *Y) {
  int ok = 0;
  for (unsigned mask = 1; mask < (1u << k->n); mask++) {
    int size = __builtin_popcount(mask);
    if (size == k->t || size == k->n) {
      ck_assert_msg(sign_keys(Y, k->sk, k->pk, mask, NULL) == CX_OK, "new signers 0x%x", mask);
      ok++;
    } else if (size == k->t - 1) {
      ck_assert_int_eq(sign_keys(Y, k->sk, NULL, mask, NULL), CX_E_BAD_SIG);
    }
  }
  ck_assert_int_gt(ok, 0);
}

/* Old shares are useless for the new key: none matches a Y'_j, and a
 * signing set mixing them with new shares fails (named by the checked
 * aggregate). */
static void check_old_useless(const keyset *old, const keyset *nw) {
  for (uint16_t i = 1; i <= old->n; i++) {
    frost_element y;
    ck_assert_int_eq(frost_public_share(&old->sk[i - 1], &y), CX_OK);
    for (uint16_t j = 1; j <= nw->n; j++) ck_assert(memcmp(y.b, nw->pk[j - 1].b, 32) != 0);
  }
  frost_scalar *mix = sodium_allocarray(MAXP, sizeof *mix);
  ck_assert_ptr_nonnull(mix);
  /* New ids 1..t' with id 1 holding old party 1's share. */
  memcpy(mix, nw->sk, nw->n * sizeof *mix);
  mix[0] = old->sk[0];
  unsigned mask = first_ids(nw->t);
  uint16_t culprit = 0;
  ck_assert_int_eq(sign_keys(&nw->group_pk, mix, NULL, mask, NULL), CX_E_BAD_SIG);
  ck_assert_int_eq(sign_keys(&nw->group_pk, mix, nw->pk, mask, &culprit), CX_E_FROST_BAD_SHARE);
  ck_assert_uint_eq(culprit, 1);
  /* Old ids 1..t with id 2 holding new party 2's share. */
  memcpy(mix, old->sk, old->n * sizeof *mix);
  mix[1] = nw->sk[1];
  ck_assert_int_eq(sign_keys(&old->group_pk, mix, NULL, first_ids(old->t), NULL), CX_E_BAD_SIG);
  sodium_free(mix);
}

/* A (4, 3) DKG reshared to (n2, t2) by all four old parties: S = the three
 * lowest ids, and also S = {2, 3, 4}; both keep the group key. */
static void reshare_shape(uint16_t n2, uint16_t t2) {
  run r;
  run_init(&r, 4, 3);
  run_all(&r);
  keyset old, nw, nw2;
  keyset_from_run(&old, &r);
  deals d;
  deal_all(&d, &old, n2, t2, 0);
  static const uint16_t S[] = {1, 2, 3}, S2[] = {2, 3, 4};
  combine_new(&d, 3, S, &nw);
  ck_assert(memcmp(nw.group_pk.b, old.group_pk.b, 32) == 0);
  check_new_signing(&nw, &old.group_pk);
  check_old_useless(&old, &nw);
  combine_new(&d, 3, S2, &nw2);
  ck_assert(memcmp(nw2.group_pk.b, old.group_pk.b, 32) == 0);
  ck_assert_int_eq(sign_keys(&old.group_pk, nw2.sk, nw2.pk, first_ids(t2), NULL), CX_OK);
  keyset_free(&nw);
  keyset_free(&nw2);
  deals_free(&d);
  run_free(&r);
}

START_TEST(reshare_add_member) { reshare_shape(5, 4); }
END_TEST

START_TEST(reshare_remove_member) { reshare_shape(3, 3); }
END_TEST

START_TEST(reshare_grow) { reshare_shape(7, 5); }
END_TEST

/* Epoch e -> e + 1 -> e + 2: a reshared key reshares again, same Y. */
START_TEST(reshare_twice) {
  run r;
  run_init(&r, 4, 3);
  run_all(&r);
  keyset old, mid, last;
  keyset_from_run(&old, &r);
  deals d1, d2;
  deal_all(&d1, &old, 5, 4, 0);
  static const uint16_t S1[] = {1, 2, 4}, S2[] = {2, 3, 4, 5};
  combine_new(&d1, 3, S1, &mid);
  deal_all(&d2, &mid, 4, 3, 0x1 /* new party 1 down */);
  combine_new(&d2, 4, S2, &last);
  ck_assert(memcmp(last.group_pk.b, old.group_pk.b, 32) == 0);
  check_new_signing(&last, &old.group_pk);
  check_old_useless(&mid, &last);
  keyset_free(&mid);
  keyset_free(&last);
  deals_free(&d1);
  deals_free(&d2);
  run_free(&r);
}
END_TEST

/* One old party down: the other t_old = 3 suffice. */
START_TEST(reshare_one_old_down) {
  run r;
  run_init(&r, 4, 3);
  run_all(&r);
  keyset old, nw;
  keyset_from_run(&old, &r);
  deals d;
  deal_all(&d, &old, 5, 4, 1u << 1 /* old party 2 */);
  static const uint16_t S[] = {1, 3, 4};
  combine_new(&d, 3, S, &nw);
  ck_assert(memcmp(nw.group_pk.b, old.group_pk.b, 32) == 0);
  check_new_signing(&nw, &old.group_pk);
  keyset_free(&nw);
  deals_free(&d);
  run_free(&r);
}
END_TEST

/* Two old parties down: t_old - 1 deals interpolate the wrong secret (the
 * public side shows another key; shares made so do not sign under Y), and
 * combine refuses a malformed S. */
START_TEST(reshare_too_few_dealers) {
  run r;
  run_init(&r, 4, 3);
  run_all(&r);
  keyset old, nw;
  keyset_from_run(&old, &r);
  deals d;
  deal_all(&d, &old, 5, 4, (1u << 1) | (1u << 3));
  static const uint16_t S[] = {1, 3};
  combine_new(&d, 2, S, &nw);
  ck_assert(memcmp(nw.group_pk.b, old.group_pk.b, 32) != 0);
  ck_assert_int_eq(sign_keys(&old.group_pk, nw.sk, NULL, first_ids(4), NULL), CX_E_BAD_SIG);
  /* Refusals: t_old < 2, unsorted, repeated, id 0, non-scalar value. */
  frost_scalar *v = sodium_allocarray(3, sizeof *v), *out = sodium_malloc(sizeof *out);
  ck_assert_ptr_nonnull(v);
  ck_assert_ptr_nonnull(out);
  for (int k = 0; k < 3; k++) v[k] = G_AT(&d, 1, 1)->value;
  static const uint16_t one[] = {1}, unsorted[] = {3, 1, 2}, rep[] = {1, 1, 3}, zero[] = {0, 1, 3},
                        ok[] = {1, 2, 3};
  ck_assert_int_eq(dkg_reshare_combine(1, one, v, out), CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_reshare_combine(3, unsorted, v, out), CX_E_UNSORTED);
  ck_assert_int_eq(dkg_reshare_combine(3, rep, v, out), CX_E_UNSORTED);
  ck_assert_int_eq(dkg_reshare_combine(3, zero, v, out), CX_E_INVALID_ARG);
  memcpy(v[2].b, L_LE, 32);
  ck_assert_int_eq(dkg_reshare_combine(3, ok, v, out), CX_E_NONCANONICAL);
  /* The public side: the deals must be S's, in order, with t'. */
  frost_element y, pks[MAXP];
  const dkg_round1_msg *swapped[] = {&d.r1[2], &d.r1[0]}, *right[] = {&d.r1[0], &d.r1[2]};
  ck_assert_int_eq(dkg_reshare_public(2, S, swapped, 4, 5, &y, pks), CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_reshare_public(2, S, right, 3, 5, &y, pks), CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_reshare_public(2, S, right, 4, 3, &y, pks), CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_reshare_public(1, S, right, 4, 5, &y, pks), CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_reshare_public(2, S, right, 4, 5, &y, pks), CX_OK);
  sodium_free(v);
  sodium_free(out);
  keyset_free(&nw);
  deals_free(&d);
  run_free(&r);
}
END_TEST

/* A dealer dealing another value than its old share: its proof of
 * knowledge still verifies (it knows what it dealt), but C_0 != Y_i, and
 * that check is what keeps the group key. */
START_TEST(reshare_wrong_old_share) {
  run r;
  run_init(&r, 4, 3);
  run_all(&r);
  keyset old, nw;
  keyset_from_run(&old, &r);
  deals d;
  deal_all(&d, &old, 5, 4, 0);
  char err[256];
  frost_scalar *wrong = sodium_malloc(sizeof *wrong);
  dkg_share *sh = sodium_allocarray(5, sizeof *sh);
  ck_assert_ptr_nonnull(wrong);
  ck_assert_ptr_nonnull(sh);
  *wrong = old.sk[1];
  add_one(wrong);
  dkg_round1_msg m;
  ck_assert_int_eq(dkg_reshare_deal(d.ctx, 5, 4, 2, wrong, d.seed[1], &m, sh, err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(dkg_round1_verify(d.ctx, 5, 4, &m, err, sizeof err), CX_OK);
  ck_assert_int_eq(dkg_reshare_check_deal(d.ctx, 4, &m, &old.pk[1], err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert_ptr_nonnull(strstr(err, "dealer 2"));
  /* Honest deals checked against another party's Y, relabelled as another
   * dealer's, under another context, or with another t'. */
  ck_assert_int_eq(dkg_reshare_check_deal(d.ctx, 4, &d.r1[0], &old.pk[1], err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  dkg_round1_msg copy = d.r1[0];
  copy.dealer = 2;
  ck_assert_int_eq(dkg_reshare_check_deal(d.ctx, 4, &copy, &old.pk[0], err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert_ptr_nonnull(strstr(err, "proof of knowledge"));
  uint8_t other[32];
  memcpy(other, d.ctx, 32);
  other[31] ^= 1;
  ck_assert_int_eq(dkg_reshare_check_deal(other, 4, &d.r1[0], &old.pk[0], err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert_int_eq(dkg_reshare_check_deal(d.ctx, 3, &d.r1[0], &old.pk[0], err, sizeof err),
                   CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_reshare_check_deal(d.ctx, 1, &d.r1[0], &old.pk[0], err, sizeof err),
                   CX_E_INVALID_ARG);
  /* Had the wrong deal been taken, its shares are consistent with it, and
   * the key would have moved. */
  d.r1[1] = m;
  for (uint16_t j = 1; j <= 5; j++) {
    *G_AT(&d, 2, j) = sh[j - 1];
    ck_assert_int_eq(dkg_reshare_share_check(j, &sh[j - 1], &m), CX_OK);
  }
  static const uint16_t S[] = {1, 2, 3};
  combine_new(&d, 3, S, &nw);
  ck_assert(memcmp(nw.group_pk.b, old.group_pk.b, 32) != 0);
  sodium_free(wrong);
  sodium_free(sh);
  keyset_free(&nw);
  deals_free(&d);
  run_free(&r);
}
END_TEST

/* A corrupted g_2(2) (old dealer 2 to new party 2: the same id on both
 * ends): the share check fails, the complaint convicts the dealer until it
 * answers, a good answer clears it and gives the complainer its share. */
START_TEST(reshare_bad_share_complaint) {
  run r;
  run_init(&r, 4, 3);
  run_all(&r);
  keyset old, nw;
  keyset_from_run(&old, &r);
  deals d;
  deal_all(&d, &old, 5, 4, 0);
  static const uint16_t S[] = {1, 2, 3};
  combine_new(&d, 3, S, &nw);
  char err[256];
  int fault = -1;
  dkg_share bad = *G_AT(&d, 2, 2);
  add_one(&bad.value);
  ck_assert_int_eq(dkg_reshare_share_check(2, &bad, &d.r1[1]), CX_E_MPC_CHECK_FAILED);
  /* Ids that do not fit: another recipient, another dealer's deal, id 0. */
  ck_assert_int_eq(dkg_reshare_share_check(3, G_AT(&d, 2, 2), &d.r1[1]), CX_E_MPC_SENDER);
  ck_assert_int_eq(dkg_reshare_share_check(2, G_AT(&d, 2, 2), &d.r1[0]), CX_E_MPC_SENDER);
  ck_assert_int_eq(dkg_reshare_share_check(0, G_AT(&d, 2, 2), &d.r1[1]), CX_E_INVALID_ARG);
  /* A share the dealer sent to old id 2 would fail at new id 3: checks are
   * at the recipient's new id. */
  dkg_share moved = *G_AT(&d, 2, 2);
  moved.recipient = 3;
  ck_assert_int_eq(dkg_reshare_share_check(3, &moved, &d.r1[1]), CX_E_MPC_CHECK_FAILED);

  dkg_complaint c = {.dealer = 2, .complainer = 2, .reason = DKG_COMPLAINT_BAD_SHARE}, cd;
  c.share = bad.value;
  uint8_t cb[DKG_COMPLAINT_MAX_LEN];
  size_t clen = dkg_complaint_encode(&c, cb);
  ck_assert_int_eq(dkg_complaint_decode(cb, clen, &cd, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_reshare_complaint_decode(cb, clen, &cd, err, sizeof err), CX_OK);
  ck_assert(cd.dealer == 2 && cd.complainer == 2 && cd.reason == DKG_COMPLAINT_BAD_SHARE);
  ck_assert(memcmp(cd.share.b, bad.value.b, 32) == 0);
  ck_assert_int_eq(dkg_reshare_complaint_verify(4, &d.r1[1], &cd, NULL, &fault, err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(fault, 1);
  /* The dealer's answer, re-derived from its seed. */
  dkg_answer a, ad;
  ck_assert_int_eq(dkg_reshare_answer(d.ctx, 5, 4, 2, &old.sk[1], d.seed[1], &cd, &a), CX_OK);
  ck_assert(a.dealer == 2 && a.complainer == 2);
  ck_assert(memcmp(a.share.b, G_AT(&d, 2, 2)->value.b, 32) == 0);
  uint8_t ab[DKG_ANSWER_LEN];
  ck_assert_uint_eq(dkg_answer_encode(&a, ab), DKG_ANSWER_LEN);
  ck_assert_int_eq(dkg_answer_decode(ab, sizeof ab, &ad, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_reshare_answer_decode(ab, sizeof ab, &ad, err, sizeof err), CX_OK);
  fault = -1;
  ck_assert_int_eq(dkg_reshare_complaint_verify(4, &d.r1[1], &cd, &ad, &fault, err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(fault, 0);
  ck_assert_ptr_nonnull(strstr(err, "matches"));
  /* The complainer takes the revealed share: the same new share. */
  dkg_share took = {.dealer = 2, .recipient = 2, .value = ad.share};
  ck_assert_int_eq(dkg_reshare_share_check(2, &took, &d.r1[1]), CX_OK);
  frost_scalar *vals = sodium_allocarray(3, sizeof *vals), *s2 = sodium_malloc(sizeof *s2);
  ck_assert_ptr_nonnull(vals);
  ck_assert_ptr_nonnull(s2);
  vals[0] = G_AT(&d, 1, 2)->value;
  vals[1] = ad.share;
  vals[2] = G_AT(&d, 3, 2)->value;
  ck_assert_int_eq(dkg_reshare_combine(3, S, vals, s2), CX_OK);
  ck_assert(memcmp(s2->b, nw.sk[1].b, 32) == 0);
  /* A wrong answer convicts. */
  dkg_answer wa = ad;
  add_one(&wa.share);
  ck_assert_int_eq(dkg_reshare_complaint_verify(4, &d.r1[1], &cd, &wa, &fault, err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(fault, 1);
  /* A complaint disclosing the true share proves nothing, even unanswered. */
  dkg_complaint f = cd;
  f.share = G_AT(&d, 2, 2)->value;
  ck_assert_int_eq(dkg_reshare_complaint_verify(4, &d.r1[1], &f, NULL, &fault, err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(fault, 0);
  /* Pieces that do not fit: no verdict. */
  ck_assert_int_ne(dkg_reshare_complaint_verify(4, &d.r1[0], &cd, &ad, &fault, err, sizeof err),
                   CX_OK);
  ck_assert_int_ne(dkg_reshare_complaint_verify(3, &d.r1[1], &cd, &ad, &fault, err, sizeof err),
                   CX_OK);
  dkg_answer other = ad;
  other.complainer = 4;
  ck_assert_int_eq(dkg_reshare_complaint_verify(4, &d.r1[1], &cd, &other, &fault, err, sizeof err),
                   CX_E_INVALID_ARG);
  /* A no-share complaint by new party 5 against old dealer 3: the dealer's
   * fault until its answer (g_3(5), at new id 5) clears it. */
  dkg_complaint ns = {.dealer = 3, .complainer = 5, .reason = DKG_COMPLAINT_NO_SHARE};
  clen = dkg_complaint_encode(&ns, cb);
  ck_assert_int_eq(dkg_reshare_complaint_decode(cb, clen, &cd, err, sizeof err), CX_OK);
  ck_assert_int_eq(dkg_reshare_complaint_verify(4, &d.r1[2], &cd, NULL, &fault, err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(fault, 1);
  ck_assert_int_eq(dkg_reshare_answer(d.ctx, 5, 4, 3, &old.sk[2], d.seed[2], &cd, &a), CX_OK);
  ck_assert(memcmp(a.share.b, G_AT(&d, 3, 5)->value.b, 32) == 0);
  ck_assert_int_eq(dkg_reshare_complaint_verify(4, &d.r1[2], &cd, &a, &fault, err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(fault, 0);
  /* Answer refusals: a complaint against another dealer, a complainer
   * outside the new set. */
  ck_assert_int_eq(dkg_reshare_answer(d.ctx, 5, 4, 2, &old.sk[1], d.seed[1], &cd, &a),
                   CX_E_INVALID_ARG);
  cd.complainer = 6;
  ck_assert_int_eq(dkg_reshare_answer(d.ctx, 5, 4, 3, &old.sk[2], d.seed[2], &cd, &a),
                   CX_E_MPC_SENDER);
  sodium_free(vals);
  sodium_free(s2);
  keyset_free(&nw);
  deals_free(&d);
  run_free(&r);
}
END_TEST

/* The seed is the only randomness: the same seed deals the same polynomial
 * and proof; another seed, context or dealer id deals another. */
START_TEST(reshare_deterministic) {
  char err[256];
  uint8_t ctx[32], seed[32], seed2[32];
  tu_randbytes(ctx, sizeof ctx);
  tu_randbytes(seed, sizeof seed);
  tu_randbytes(seed2, sizeof seed2);
  frost_scalar *s = sodium_malloc(sizeof *s);
  dkg_share *a = sodium_allocarray(5, sizeof *a), *b = sodium_allocarray(5, sizeof *b);
  ck_assert_ptr_nonnull(s);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  tu_randbytes(s->b, 32);
  s->b[31] &= 0x0f;
  dkg_round1_msg m1, m2;
  ck_assert_int_eq(dkg_reshare_deal(ctx, 5, 4, 3, s, seed, &m1, a, err, sizeof err), CX_OK);
  ck_assert_int_eq(dkg_reshare_deal(ctx, 5, 4, 3, s, seed, &m2, b, err, sizeof err), CX_OK);
  ck_assert(memcmp(&m1, &m2, sizeof m1) == 0);
  ck_assert(memcmp(a, b, 5 * sizeof *a) == 0);
  /* The answer maker re-derives the same g. */
  for (uint16_t j = 1; j <= 5; j++) {
    dkg_complaint c = {.dealer = 3, .complainer = j, .reason = DKG_COMPLAINT_NO_SHARE};
    dkg_answer ans;
    ck_assert_int_eq(dkg_reshare_answer(ctx, 5, 4, 3, s, seed, &c, &ans), CX_OK);
    ck_assert(memcmp(ans.share.b, a[j - 1].value.b, 32) == 0);
  }
  /* Another seed, context, dealer id: same C_0, other coefficients and R. */
  ck_assert_int_eq(dkg_reshare_deal(ctx, 5, 4, 3, s, seed2, &m2, b, err, sizeof err), CX_OK);
  ck_assert(memcmp(m1.commit[0].b, m2.commit[0].b, 32) == 0);
  ck_assert(memcmp(m1.commit[1].b, m2.commit[1].b, 32) != 0);
  ck_assert(memcmp(m1.R.b, m2.R.b, 32) != 0);
  uint8_t ctx2[32];
  memcpy(ctx2, ctx, 32);
  ctx2[0] ^= 1;
  ck_assert_int_eq(dkg_reshare_deal(ctx2, 5, 4, 3, s, seed, &m2, b, err, sizeof err), CX_OK);
  ck_assert(memcmp(m1.commit[1].b, m2.commit[1].b, 32) != 0);
  ck_assert(memcmp(m1.R.b, m2.R.b, 32) != 0);
  ck_assert_int_eq(dkg_reshare_deal(ctx, 5, 4, 4, s, seed, &m2, b, err, sizeof err), CX_OK);
  ck_assert(memcmp(m1.commit[1].b, m2.commit[1].b, 32) != 0);
  /* n' changes only how many shares: the same polynomial. */
  ck_assert_int_eq(dkg_reshare_deal(ctx, 4, 4, 3, s, seed, &m2, b, err, sizeof err), CX_OK);
  ck_assert(memcmp(&m1, &m2, sizeof m1) == 0);
  ck_assert(memcmp(a, b, 4 * sizeof *a) == 0);
  /* Refused parameters. */
  ck_assert_int_eq(dkg_reshare_deal(ctx, 5, 1, 3, s, seed, &m2, b, err, sizeof err),
                   CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_reshare_deal(ctx, 3, 4, 3, s, seed, &m2, b, err, sizeof err),
                   CX_E_INVALID_ARG);
  ck_assert_int_eq(
      dkg_reshare_deal(ctx, DKG_MAX_PARTIES + 1, 4, 3, s, seed, &m2, b, err, sizeof err),
      CX_E_INVALID_ARG);
  ck_assert_int_eq(dkg_reshare_deal(ctx, 5, 4, 0, s, seed, &m2, b, err, sizeof err),
                   CX_E_INVALID_ARG);
  memcpy(s->b, L_LE, 32);
  ck_assert_int_eq(dkg_reshare_deal(ctx, 5, 4, 3, s, seed, &m2, b, err, sizeof err),
                   CX_E_INVALID_ARG);
  memset(s->b, 0, 32);
  ck_assert_int_eq(dkg_reshare_deal(ctx, 5, 4, 3, s, seed, &m2, b, err, sizeof err),
                   CX_E_INVALID_ARG);
  sodium_free(s);
  sodium_free(a);
  sodium_free(b);
}
END_TEST

/* The reshare decoders are as strict as the DKG's, the same id on both
 * ends aside. */
START_TEST(reshare_encodings) {
  char err[256];
  dkg_complaint c = {.dealer = 4, .complainer = 4, .reason = DKG_COMPLAINT_BAD_SHARE}, co;
  c.share.b[0] = 9;
  uint8_t cb[DKG_COMPLAINT_MAX_LEN + 1];
  ck_assert_uint_eq(dkg_complaint_encode(&c, cb), DKG_COMPLAINT_MAX_LEN);
  ck_assert_int_eq(dkg_reshare_complaint_decode(cb, DKG_COMPLAINT_MAX_LEN, &co, err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(
      dkg_reshare_complaint_decode(cb, DKG_COMPLAINT_MAX_LEN - 1, &co, err, sizeof err),
      CX_E_TRUNCATED);
  cb[DKG_COMPLAINT_MAX_LEN] = 0;
  ck_assert_int_eq(
      dkg_reshare_complaint_decode(cb, DKG_COMPLAINT_MAX_LEN + 1, &co, err, sizeof err),
      CX_E_TRAILING);
  memcpy(cb + 6, L_LE, 32);
  ck_assert_int_eq(dkg_reshare_complaint_decode(cb, DKG_COMPLAINT_MAX_LEN, &co, err, sizeof err),
                   CX_E_NONCANONICAL);
  cb[5] = 7;
  ck_assert_int_eq(dkg_reshare_complaint_decode(cb, DKG_COMPLAINT_MAX_LEN, &co, err, sizeof err),
                   CX_E_BAD_ENUM);
  cb[5] = DKG_COMPLAINT_NO_SHARE;
  ck_assert_int_eq(dkg_reshare_complaint_decode(cb, 6, &co, err, sizeof err), CX_OK);
  ck_assert_int_eq(dkg_reshare_complaint_decode(cb, 5, &co, err, sizeof err), CX_E_TRUNCATED);
  ck_assert_int_eq(dkg_reshare_complaint_decode(cb, 7, &co, err, sizeof err), CX_E_TRAILING);
  cb[3] = cb[4] = 0;
  ck_assert_int_eq(dkg_reshare_complaint_decode(cb, 6, &co, err, sizeof err), CX_E_INVALID_ARG);
  cb[0] = DKG_KIND_ANSWER;
  ck_assert_int_eq(dkg_reshare_complaint_decode(cb, 6, &co, err, sizeof err), CX_E_BAD_ENUM);

  dkg_answer a = {.dealer = 1, .complainer = 1}, ao;
  a.share.b[0] = 5;
  uint8_t ab[DKG_ANSWER_LEN + 1];
  ck_assert_uint_eq(dkg_answer_encode(&a, ab), DKG_ANSWER_LEN);
  ck_assert_int_eq(dkg_reshare_answer_decode(ab, DKG_ANSWER_LEN, &ao, err, sizeof err), CX_OK);
  ck_assert(ao.dealer == 1 && ao.complainer == 1 && ao.share.b[0] == 5);
  ab[DKG_ANSWER_LEN] = 0;
  ck_assert_int_eq(dkg_reshare_answer_decode(ab, DKG_ANSWER_LEN + 1, &ao, err, sizeof err),
                   CX_E_TRAILING);
  ck_assert_int_eq(dkg_reshare_answer_decode(ab, DKG_ANSWER_LEN - 1, &ao, err, sizeof err),
                   CX_E_TRUNCATED);
  memcpy(ab + 5, L_LE, 32);
  ck_assert_int_eq(dkg_reshare_answer_decode(ab, DKG_ANSWER_LEN, &ao, err, sizeof err),
                   CX_E_NONCANONICAL);
  ab[1] = ab[2] = 0;
  ck_assert_int_eq(dkg_reshare_answer_decode(ab, DKG_ANSWER_LEN, &ao, err, sizeof err),
                   CX_E_INVALID_ARG);
  ab[0] = DKG_KIND_SHARE;
  ck_assert_int_eq(dkg_reshare_answer_decode(ab, DKG_ANSWER_LEN, &ao, err, sizeof err),
                   CX_E_BAD_ENUM);

  dkg_share s = {.dealer = 2, .recipient = 2}, so;
  s.value.b[0] = 3;
  uint8_t sb[DKG_SHARE_LEN + 1];
  ck_assert_uint_eq(dkg_share_encode(&s, sb), DKG_SHARE_LEN);
  ck_assert_int_eq(dkg_reshare_share_decode(sb, DKG_SHARE_LEN, &so, err, sizeof err), CX_OK);
  ck_assert(so.dealer == 2 && so.recipient == 2 && so.value.b[0] == 3);
  sb[DKG_SHARE_LEN] = 0;
  ck_assert_int_eq(dkg_reshare_share_decode(sb, DKG_SHARE_LEN + 1, &so, err, sizeof err),
                   CX_E_TRAILING);
  ck_assert_int_eq(dkg_reshare_share_decode(sb, DKG_SHARE_LEN - 1, &so, err, sizeof err),
                   CX_E_TRUNCATED);
  memcpy(sb + 5, L_LE, 32);
  ck_assert_int_eq(dkg_reshare_share_decode(sb, DKG_SHARE_LEN, &so, err, sizeof err),
                   CX_E_NONCANONICAL);
  sb[3] = sb[4] = 0;
  ck_assert_int_eq(dkg_reshare_share_decode(sb, DKG_SHARE_LEN, &so, err, sizeof err),
                   CX_E_INVALID_ARG);
  sb[0] = DKG_KIND_COMPLAINT;
  ck_assert_int_eq(dkg_reshare_share_decode(sb, DKG_SHARE_LEN, &so, err, sizeof err),
                   CX_E_BAD_ENUM);
}
END_TEST

static Suite *dkg_suite(void) {
  Suite *s = suite_create("dkg");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, honest_n2_t2);
  tcase_add_test(tc, honest_n4_t2);
  tcase_add_test(tc, honest_n7_t3);
  tcase_add_test(tc, honest_n5_t5);
  tcase_add_test(tc, seeded_runs_repeat);
  tcase_add_test(tc, bad_share_bad_answer);
  tcase_add_test(tc, bad_share_no_answer);
  tcase_add_test(tc, bad_share_good_answer);
  tcase_add_test(tc, false_complaints);
  tcase_add_test(tc, bad_pok);
  tcase_add_test(tc, bad_pok_signs);
  tcase_add_test(tc, key_independent_of_cheater);
  tcase_add_test(tc, state_rules);
  tcase_add_test(tc, too_few_qualified);
  tcase_add_test(tc, encodings);
  suite_add_tcase(s, tc);
  TCase *rs = tcase_create("reshare");
  tcase_set_timeout(rs, 120);
  tcase_add_test(rs, reshare_add_member);
  tcase_add_test(rs, reshare_remove_member);
  tcase_add_test(rs, reshare_grow);
  tcase_add_test(rs, reshare_twice);
  tcase_add_test(rs, reshare_one_old_down);
  tcase_add_test(rs, reshare_too_few_dealers);
  tcase_add_test(rs, reshare_wrong_old_share);
  tcase_add_test(rs, reshare_bad_share_complaint);
  tcase_add_test(rs, reshare_deterministic);
  tcase_add_test(rs, reshare_encodings);
  suite_add_tcase(s, rs);
  return s;
}

int main(void) {
  if (sodium_init() < 0) return 1;
  tu_seed();
  return tu_run(dkg_suite());
}
