/* Unit tests for mpc/prep.c: preprocessing batches, the agreement on their
 * verdicts and the audit (docs/mpc-prep.md).
 *
 * Every batch runs on the in-process harness (mpc_harness.h): n real
 * sessions, a seeded network and clock. Material is checked from the
 * outside: the pool shares of the parties concerned are reconstructed with
 * Shamir and the triples multiplied in the clear. Cheating is the harness's
 * tamper hook rewriting one party's payload (re-signed with its key) at
 * every message site; the property checked is the engine's promise: the
 * honest parties all end in the same state — all done with the same batch,
 * or all aborted naming the tamperer with evidence a third party accepts,
 * or all timed out with the tamperer unresponsive — never naming an honest
 * party, and no pool keeps material of a batch that did not pass. */
#include <check.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mpc.h"
#include "mpc_harness.h"
#include "session_internal.h"
#include "shamir.h"
#include "testutil.h"
#include "wire.h"

#define POOL_CAP 4096
#define SMALL_T 8 /* the exhaustive tamper matrix: small batches */
#define SMALL_R 4
#define R_MULT 1
#define R_OPEN 2 /* dealer mode only */
/* A round where POS_FIRST / POS_LAST fails the batch for everyone: omega
 * with dealers, the products under PRSS. */
#define R_FAIL (g_prss ? R_MULT : R_OPEN)
/* The verdict round: 3 in both modes (round 2 is OPEN with dealers, KING
 * under PRSS). */
#define R_VERDICT 3u
#define R_KING 2 /* PRSS only */
#define LINK_ROUND0 0xf0000000u /* relay links (docs/mpc-prep.md "Echo messages") */
#define DEFAULT_CHUNK (MPC_MAX_PAYLOAD - 8)

/* prep.c's test seams: audit blob bytes per audit round; dealer mode at
 * every n. */
extern size_t mpc_prep_audit_chunk;
extern int mpc_prep_dealers;
extern int mpc_prep_lying_king;

/* The mode of the test case running (its fixture sets both), and the size
 * of the harness last made (the tamper hook needs the round-1 prefix). */
static int g_prss;
static uint32_t g_n, g_t;
static unsigned g_fired0; /* round-0 tampers that fired (PRSS: some have nothing to change) */

static uint64_t binom(uint32_t n, uint32_t k) {
  uint64_t c = 1;
  for (uint32_t i = 1; i <= k; i++) c = c * (n - k + i) / i;
  return c;
}
/* The engine's own rule (the fixture set the seam for the mode). */
static int prss_at(uint32_t n, uint32_t t) { return mpc_prep_prss(n, t); }

static uint32_t audit0(uint32_t t) { return R_VERDICT + 1 + t; }
static uint64_t all_of(uint32_t n) { return n == 64 ? UINT64_MAX : (1ull << n) - 1; }

/* ---- helpers ----------------------------------------------------------- */

static mh *new_harness(uint32_t n, uint32_t t) {
  g_n = n;
  g_t = t;
  mh *h = mh_new(n, t, tu_rand(), POOL_CAP);
  ck_assert_ptr_nonnull(h);
  return h;
}

/* The value of item k from the shares v[i][k] of the parties in mask: they
 * must lie on one polynomial of degree t. */
static fe open_item(const mh *h, const mpc_shamir *sh, uint64_t mask, fe *const *v, size_t k) {
  fe y[MPC_MAX_N] = {0}, s = 0;
  uint64_t err = 0;
  for (uint32_t i = 0; i < h->n; i++)
    if ((mask >> i) & 1) y[i] = v[i][k];
  ck_assert_msg(shamir_bw_decode(sh, y, mask, h->t, 0, &s, &err) == 0,
                "item %zu is not a degree-t sharing across the parties", k);
  return s;
}

/* Takes T triples and R rands from the pools of the parties in mask and
 * checks them from the outside: every pool has exactly that much, each item
 * is a consistent degree-t sharing across those parties, and a * b = c. So
 * the parties hold shares of one and the same batch. a_out (if not NULL)
 * gets the T reconstructed a values. */
static void check_material_of(mh *h, uint64_t mask, size_t T, size_t R, fe *a_out) {
  uint32_t n = h->n;
  int all = mask == all_of(n);
  mpc_shamir sh;
  ck_assert_int_eq(shamir_init(&sh, n, h->t), CX_OK);
  fe *a[MPC_MAX_N] = {0}, *b[MPC_MAX_N] = {0}, *c[MPC_MAX_N] = {0}, *r[MPC_MAX_N] = {0};
  for (uint32_t i = 0; i < n; i++) {
    if (!((mask >> i) & 1)) continue;
    mpc_pool_level lv;
    mpc_pool_level_get(h->pools[i], &lv);
    ck_assert_msg(lv.triples == T && lv.rands == R, "party %u's pool holds %zu triples, %zu rands", i,
                  lv.triples, lv.rands);
    a[i] = calloc(T + 1, sizeof(fe));
    b[i] = calloc(T + 1, sizeof(fe));
    c[i] = calloc(T + 1, sizeof(fe));
    r[i] = calloc(R + 1, sizeof(fe));
    if (T) ck_assert_int_eq(mpc_pool_take_triples(h->pools[i], T, a[i], b[i], c[i]), CX_OK);
    if (R) ck_assert_int_eq(mpc_pool_take_rands(h->pools[i], R, r[i]), CX_OK);
  }
  fe *va = calloc(T + 1, sizeof(fe)), *vb = calloc(T + 1, sizeof(fe)),
     *vc = calloc(T + 1, sizeof(fe));
  size_t bad = 0;
  if (all && T) {
    ck_assert_int_eq(shamir_check(&sh, h->t, (const fe *const *)a, T, va, &bad), 0);
    ck_assert_int_eq(shamir_check(&sh, h->t, (const fe *const *)b, T, vb, &bad), 0);
    ck_assert_int_eq(shamir_check(&sh, h->t, (const fe *const *)c, T, vc, &bad), 0);
  }
  for (size_t k = 0; k < T; k++) {
    if (!all) {
      va[k] = open_item(h, &sh, mask, a, k);
      vb[k] = open_item(h, &sh, mask, b, k);
      vc[k] = open_item(h, &sh, mask, c, k);
    }
    ck_assert_msg(fe_mul(va[k], vb[k]) == vc[k], "triple %zu: a*b != c", k);
  }
  /* Not a constant sharing: the items differ. */
  if (T > 1) ck_assert_msg(va[0] != va[1] || vb[0] != vb[1], "triples repeat");
  if (R && all) {
    fe *vr = calloc(R, sizeof(fe));
    ck_assert_int_eq(shamir_check(&sh, h->t, (const fe *const *)r, R, vr, &bad), 0);
    free(vr);
  }
  for (size_t k = 0; k < R && !all; k++) (void)open_item(h, &sh, mask, r, k);
  if (a_out) memcpy(a_out, va, T * sizeof(fe));
  for (uint32_t i = 0; i < n; i++) {
    free(a[i]);
    free(b[i]);
    free(c[i]);
    free(r[i]);
  }
  free(va);
  free(vb);
  free(vc);
  shamir_free(&sh);
}

static void check_material(mh *h, size_t T, size_t R, fe *a_out) {
  check_material_of(h, all_of(h->n), T, R, a_out);
}

static void pools_empty(mh *h, uint64_t skip, const char *ctx) {
  for (uint32_t i = 0; i < h->n; i++) {
    if ((skip >> i) & 1) continue;
    mpc_pool_level lv;
    mpc_pool_level_get(h->pools[i], &lv);
    ck_assert_msg(lv.triples == 0 && lv.rands == 0 && lv.made_triples == 0 && lv.made_rands == 0,
                  "%s: party %u's pool got material of a failed batch", ctx, i);
  }
}

/* Creates the n prep sessions of one batch (not started). */
static void new_sessions(mh *h, size_t T, size_t R, mpc_session **sess) {
  for (uint32_t i = 0; i < h->n; i++) {
    mpc_session_config cfg;
    mh_config(h, i, &cfg);
    ck_assert_int_eq(mpc_session_prep(&cfg, T, R, 0, 0, h->pools[i], &sess[i]), CX_OK);
    sodium_memzero(&cfg, sizeof cfg);
  }
  mh_next_session(h);
}

static void free_sessions(mh *h, mpc_session **sess) {
  for (uint32_t i = 0; i < h->n; i++) {
    mpc_session_free(sess[i]);
    sess[i] = NULL;
  }
}

/* Runs with a hook; sess gets the finished sessions. */
static void run_hooked(mh *h, size_t T, size_t R, mh_tamper_fn fn, void *ctx, mpc_session **sess) {
  h->tamper = fn;
  h->tamper_ctx = ctx;
  new_sessions(h, T, R, sess);
  mh_run(h, sess);
  h->tamper = NULL;
  h->tamper_ctx = NULL;
}

/* The evidence of an honest party's abort, checked with the public keys
 * alone, and a few forgeries of it that must not check. */
static void check_evidence(mh *h, const mpc_session *s, uint32_t cheater, int forge,
                           const char *ctx) {
  const mpc_evidence *ev = mpc_session_evidence(s);
  ck_assert_msg(ev->type != MPC_EV_NONE, "%s: no evidence", ctx);
  ck_assert_msg(ev->culprit == (int32_t)cheater, "%s: evidence names %d", ctx, ev->culprit);
  cx_err e = mpc_evidence_verify(h->n, h->t, h->pks, ev);
  ck_assert_msg(e == CX_OK, "%s: evidence (type %d, %zu messages) does not verify: %s", ctx, ev->type,
                ev->count, cx_err_name(e));
  if (!forge) return;
  /* Blaming someone else with the same messages. */
  mpc_evidence f = *ev;
  f.culprit = (int32_t)((cheater + 1) % h->n);
  ck_assert_msg(mpc_evidence_verify(h->n, h->t, h->pks, &f) != CX_OK, "%s: evidence moved to %d",
                ctx, f.culprit);
  /* One changed byte in each message (its signature then fails). */
  uint8_t **msgs = calloc(ev->count, sizeof *msgs);
  size_t *lens = calloc(ev->count, sizeof *lens);
  for (size_t i = 0; i < ev->count; i++) {
    uint8_t *copy = malloc(ev->len[i]);
    memcpy(copy, ev->msg[i], ev->len[i]);
    copy[MPC_MSG_HDR] ^= 1;
    for (size_t k = 0; k < ev->count; k++) {
      msgs[k] = k == i ? copy : ev->msg[k];
      lens[k] = ev->len[k];
    }
    f = *ev;
    f.msg = msgs;
    f.len = lens;
    ck_assert_msg(mpc_evidence_verify(h->n, h->t, h->pks, &f) != CX_OK,
                  "%s: evidence with message %zu modified verifies", ctx, i);
    free(copy);
  }
  /* Without its last message. */
  if (ev->count > 1) {
    f = *ev;
    f.count--;
    ck_assert_msg(mpc_evidence_verify(h->n, h->t, h->pks, &f) != CX_OK,
                  "%s: evidence without its last message verifies", ctx);
  }
  free(msgs);
  free(lens);
}

/* ---- outcomes ---------------------------------------------------------- */

typedef enum {
  OUT_NAMED,   /* every honest party aborted naming the cheater, with evidence */
  OUT_DONE,    /* every honest party done, with one and the same batch */
  OUT_TIMEOUT, /* every honest party timed out, the cheater unresponsive */
} outcome;

static const char *out_name(outcome o) {
  return o == OUT_NAMED ? "named" : o == OUT_DONE ? "done" : "timeout";
}

/* Checks that every honest party (not in cheaters) reached `want`, and the
 * pools: the batch in every honest pool (identical: reconstructed across
 * them) or in none. The cheaters' sessions ran honest code on untampered
 * inputs: they may name nobody or a cheater, never an honest party. */
static void expect_outcome(mh *h, mpc_session **sess, uint64_t cheaters, uint32_t named, outcome want,
                           size_t T, size_t R, int forge, const char *ctx) {
  uint32_t n = h->n;
  int forged = 0;
  for (uint32_t i = 0; i < n; i++) {
    const mpc_status *st = mpc_session_status(sess[i]);
    if ((cheaters >> i) & 1) {
      ck_assert_msg(st->culprit == -1 || ((cheaters >> st->culprit) & 1),
                    "%s: cheater %u's session names honest %d", ctx, i, st->culprit);
      continue;
    }
    switch (want) {
    case OUT_NAMED:
      ck_assert_msg(st->state == MPC_ABORTED && st->culprit == (int32_t)named,
                    "%s: party %u: state %d culprit %d (%s: %s), want %s", ctx, i, st->state,
                    st->culprit, cx_err_name(st->err), st->reason, out_name(want));
      ck_assert_msg(st->err == CX_E_MPC_CHECK_FAILED || st->err == CX_E_MPC_MALFORMED ||
                        st->err == CX_E_MPC_EQUIVOCATION,
                    "%s: party %u err %s", ctx, i, cx_err_name(st->err));
      check_evidence(h, sess[i], named, forge && !forged, ctx);
      forged = 1;
      break;
    case OUT_DONE:
      ck_assert_msg(st->state == MPC_DONE, "%s: party %u: state %d (%s: %s), want done", ctx, i,
                    st->state, cx_err_name(st->err), st->reason);
      break;
    case OUT_TIMEOUT:
      ck_assert_msg(st->state == MPC_ABORTED && st->err == CX_E_MPC_TIMEOUT && st->culprit == -1,
                    "%s: party %u: state %d culprit %d (%s: %s), want timeout", ctx, i, st->state,
                    st->culprit, cx_err_name(st->err), st->reason);
      ck_assert_msg(st->unresponsive && (st->unresponsive & ~cheaters) == 0,
                    "%s: party %u: unresponsive %llx", ctx, i, (unsigned long long)st->unresponsive);
      break;
    }
  }
  if (want == OUT_DONE)
    check_material_of(h, all_of(n) & ~cheaters, T, R, NULL);
  else
    pools_empty(h, cheaters, ctx);
}

/* ---- honest batches ---------------------------------------------------- */

static void honest_batch(uint32_t n, uint32_t t, size_t T, size_t R) {
  mh *h = new_harness(n, t);
  mpc_status st[MPC_MAX_N];
  ck_assert_uint_eq(mh_prep(h, T, R, st), n);
  for (uint32_t i = 0; i < n; i++) {
    ck_assert_int_eq(st[i].state, MPC_DONE);
    ck_assert_int_eq(st[i].err, CX_OK);
    ck_assert_int_eq(st[i].culprit, -1);
    /* rounds 0..V and t echo rounds: no audit */
    ck_assert_uint_eq(st[i].rounds, 4 + t);
    ck_assert_uint_gt(st[i].msgs_sent, 0);
  }
  check_material(h, T, R, NULL);
  mh_free(h);
}

START_TEST(test_prep_n4) { honest_batch(4, 1, 40, 17); }
END_TEST

START_TEST(test_prep_n7) { honest_batch(7, 2, 30, 11); }
END_TEST

/* Sizes at the edges of the layout: no triples (no double sharings), no
 * rands, a single triple, one party's worth of outputs; no echo round at
 * all (t = 0). */
START_TEST(test_prep_edge_sizes) {
  honest_batch(4, 1, 0, 5);
  honest_batch(4, 1, 3, 0);
  honest_batch(7, 2, 1, 1);
  honest_batch(7, 2, 2, 0);
  honest_batch(5, 1, 7, 3); /* n > 3t + 1 */
  honest_batch(3, 0, 4, 2); /* t = 0: the verdict round decides */
}
END_TEST

START_TEST(test_prep_batches_differ) {
  mh *h = new_harness(4, 1);
  fe a1[16], a2[16];
  ck_assert_uint_eq(mh_prep(h, 16, 0, NULL), 4);
  check_material(h, 16, 0, a1);
  ck_assert_uint_eq(mh_prep(h, 16, 0, NULL), 4);
  check_material(h, 16, 0, a2);
  size_t same = 0;
  for (size_t k = 0; k < 16; k++) same += a1[k] == a2[k];
  ck_assert_uint_eq(same, 0);
  /* Two batches in a row accumulate FIFO: levels add up. */
  ck_assert_uint_eq(mh_prep(h, 5, 2, NULL), 4);
  ck_assert_uint_eq(mh_prep(h, 6, 3, NULL), 4);
  check_material(h, 11, 5, NULL);
  mh_free(h);
}
END_TEST

/* The same harness seed gives the same batch: the protocol is a
 * deterministic function of the seeds (what the audit relies on). */
START_TEST(test_prep_deterministic) {
  uint64_t seed = tu_rand();
  fe a[2][8];
  for (int k = 0; k < 2; k++) {
    mh *h = mh_new(4, 1, seed, POOL_CAP);
    ck_assert_uint_eq(mh_prep(h, 8, 2, NULL), 4);
    check_material(h, 8, 2, a[k]);
    mh_free(h);
  }
  ck_assert(memcmp(a[0], a[1], sizeof a[0]) == 0);
}
END_TEST

/* ---- arguments and limits ---------------------------------------------- */

/* Largest T (R fixed) or R (T = 0) that mpc_session_prep accepts: the
 * round-0 deal must fit MPC_MAX_PAYLOAD. A pool of capacity 1 turns every
 * accepted size into CX_E_FULL, so the boundary is where CX_E_INVALID_ARG
 * starts. */
static size_t max_items(mh *h, size_t fixed, int vary_rands) {
  mpc_pool *pool = NULL;
  ck_assert_int_eq(mpc_pool_new(1, 1, 1, 1, &pool), CX_OK);
  mpc_session_config cfg;
  mh_config(h, 0, &cfg);
  size_t lo = 1, hi = (size_t)1 << 24;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    mpc_session *s = NULL;
    cx_err e = vary_rands ? mpc_session_prep(&cfg, fixed, mid, 0, 0, pool, &s)
                          : mpc_session_prep(&cfg, mid, fixed, 0, 0, pool, &s);
    ck_assert_ptr_null(s);
    ck_assert(e == CX_E_FULL || e == CX_E_INVALID_ARG);
    if (e == CX_E_FULL)
      lo = mid;
    else
      hi = mid;
  }
  mpc_pool_free(pool);
  return lo;
}
static size_t max_triples(mh *h, size_t R) { return max_items(h, R, 0); }
static size_t max_rands(mh *h) { return max_items(h, 0, 1); }

/* W = ceil((2T + R + 1) / m) + 2 ceil((T + 1) / m) shares per recipient
 * in the round-0 deal (32 + 16 W bytes; no double sharings when T = 0);
 * the round-1 products are 32 + 16 T bytes. */
static int batch_fits(uint32_t n, uint32_t t, uint64_t T, uint64_t R) {
  uint64_t m = n - t, W = (2 * T + R + 1 + m - 1) / m + (T ? 2 * ((T + 1 + m - 1) / m) : 0);
  return 32 + 16 * W <= MPC_MAX_PAYLOAD && 32 + 16 * T <= MPC_MAX_PAYLOAD;
}

START_TEST(test_prep_limits) {
  mh *h = new_harness(4, 1);
  mpc_session_config cfg;
  mh_config(h, 0, &cfg);
  mpc_session *s = (mpc_session *)1;
  ck_assert_int_eq(mpc_session_prep(&cfg, 0, 0, 0, 0, h->pools[0], &s), CX_E_INVALID_ARG);
  ck_assert_ptr_null(s);
  ck_assert_int_eq(mpc_session_prep(&cfg, 1, 0, 0, 0, NULL, &s), CX_E_INVALID_ARG);
  ck_assert_int_eq(mpc_session_prep(NULL, 1, 0, 0, 0, h->pools[0], &s), CX_E_INVALID_ARG);
  ck_assert_int_eq(mpc_session_prep(&cfg, (size_t)1 << 40, 0, 0, 0, h->pools[0], &s), CX_E_INVALID_ARG);
  ck_assert_int_eq(mpc_session_prep(&cfg, 0, (size_t)1 << 40, 0, 0, h->pools[0], &s), CX_E_INVALID_ARG);
  ck_assert_int_eq(mpc_session_prep(&cfg, SIZE_MAX, SIZE_MAX, 0, 0, h->pools[0], &s), CX_E_INVALID_ARG);
  mpc_session_config bad = cfg;
  bad.t = 2; /* n = 4 < 3t + 1 */
  ck_assert_int_eq(mpc_session_prep(&bad, 1, 0, 0, 0, h->pools[0], &s), CX_E_INVALID_ARG);
  bad = cfg;
  bad.me = 4;
  ck_assert_int_eq(mpc_session_prep(&bad, 1, 0, 0, 0, h->pools[0], &s), CX_E_INVALID_ARG);
  /* The documented maxima (docs/mpc-prep.md "Limits"): exactly where the
   * deal or the products stop fitting, whatever the audit's size. */
  size_t max4 = max_triples(h, 0);
  ck_assert_uint_eq(max4, 294908);
  ck_assert(batch_fits(4, 1, max4, 0) && !batch_fits(4, 1, max4 + 1, 0));
  ck_assert_uint_eq(max_triples(h, 1000), 294659);
  ck_assert_uint_eq(max_rands(h), 1179641);
  mh_free(h);
  h = new_harness(7, 2);
  size_t max7 = max_triples(h, 0);
  ck_assert_uint_eq(max7, 393214);
  ck_assert(batch_fits(7, 2, max7, 0) && !batch_fits(7, 2, max7 + 1, 0));
  ck_assert_uint_eq(max_triples(h, 1000), 393214);
  ck_assert_uint_eq(max_rands(h), 1966069);
  mh_free(h);
  /* Just under and over the bound for n = 4. */
  h = new_harness(4, 1);
  mpc_pool *pool = NULL;
  ck_assert_int_eq(mpc_pool_new(max4, 0, 0, 0, &pool), CX_OK);
  mh_config(h, 0, &cfg);
  ck_assert_int_eq(mpc_session_prep(&cfg, max4, 0, 0, 0, pool, &s), CX_OK);
  mpc_session_free(s);
  ck_assert_int_eq(mpc_session_prep(&cfg, max4 + 1, 0, 0, 0, pool, &s), CX_E_INVALID_ARG);
  mpc_pool_free(pool);
  mh_free(h);
}
END_TEST

START_TEST(test_prep_pool_full) {
  mh *h = mh_new(4, 1, tu_rand(), 10);
  ck_assert_ptr_nonnull(h);
  mpc_session_config cfg;
  mh_config(h, 0, &cfg);
  mpc_session *s = NULL;
  ck_assert_int_eq(mpc_session_prep(&cfg, 11, 0, 0, 0, h->pools[0], &s), CX_E_FULL);
  ck_assert_int_eq(mpc_session_prep(&cfg, 1, 11, 0, 0, h->pools[0], &s), CX_E_FULL);
  ck_assert_ptr_null(s);
  /* Room at creation, gone by the end (another batch filled the pool):
   * every party aborts with CX_E_FULL, nobody named, nothing added. */
  mpc_session *sess[MPC_MAX_N] = {0};
  new_sessions(h, 6, 2, sess);
  fe z[5] = {0};
  for (uint32_t i = 0; i < 4; i++)
    ck_assert_int_eq(mpc_pool_put_triples(h->pools[i], z, z, z, 5), CX_OK);
  ck_assert_uint_eq(mh_run(h, sess), 0);
  for (uint32_t i = 0; i < 4; i++) {
    const mpc_status *st = mpc_session_status(sess[i]);
    ck_assert_int_eq(st->state, MPC_ABORTED);
    ck_assert_int_eq(st->err, CX_E_FULL);
    ck_assert_int_eq(st->culprit, -1);
    mpc_pool_level lv;
    mpc_pool_level_get(h->pools[i], &lv);
    ck_assert_uint_eq(lv.triples, 5);
    ck_assert_uint_eq(lv.rands, 0);
  }
  free_sessions(h, sess);
  /* Exactly full is fine. */
  ck_assert_uint_eq(mh_prep(h, 5, 10, NULL), 4);
  mh_free(h);
}
END_TEST

/* ---- tampering --------------------------------------------------------- */

typedef enum {
  POS_COIN,       /* rounds 0/1: first byte of the commitment / opening */
  POS_FIRST,      /* first field element (+1) */
  POS_LAST,       /* last field element (+1) */
  POS_RCOL,       /* round 0: first random sharing whose outputs are all r / blind */
  POS_VERDICT,    /* round 3: the ok byte flipped */
  POS_HASH,       /* round 3: a transcript hash byte */
  POS_GROW,       /* one element too many (malformed) */
  POS_SHORT,      /* one byte too few (malformed) */
  POS_NONCANON,   /* first element set to p (malformed) */
  POS_BYTE2,      /* round 3: ok byte = 2 (not ok; provably malformed) */
  POS_ECHO_SIG,   /* echo: a byte of the first relayed chain (its signature fails) */
  POS_ECHO_JUNK,  /* echo: one more item, 8 zero bytes */
  POS_ECHO_COUNT, /* echo: item count 2^32 - 1 */
  POS_SEED,       /* audit chunk 0: a byte of the published seed */
  POS_EMBED,      /* audit chunk 0: a payload byte of the first embedded message */
  POS_L_BIG,      /* audit chunk 0: declared length + 5 chunks */
  POS_L_SMALL,    /* audit chunk 0: declared length - 1 chunk */
  POS_L_HUGE,     /* audit chunk 0: a length no party can have */
  POS_PIECE,      /* audit chunk k > 0: one byte more */
  POS_KEY,        /* PRSS round 0: a byte of the first key */
  POS_DIGEST,     /* PRSS round 1: a byte of the first key digest */
  POS_W,          /* PRSS round 3: the verdict's share of w (+1) */
} tamper_pos;

static const char *pos_name(int p) {
  static const char *names[] = {"coin",   "first",    "last",       "rcol",       "verdict",
                                "hash",   "grow",     "short",      "noncanon",   "byte2",
                                "echosig", "echojunk", "echocount", "seed",       "embed",
                                "lbig",   "lsmall",   "lhuge",      "piece",      "key",
                                "digest", "w"};
  return names[p];
}

typedef struct {
  uint32_t cheater, round, target; /* target: one recipient, or MPC_TO_ALL for every one */
  tamper_pos pos;
} tamper_rule;

typedef struct {
  tamper_rule rule[2];
  size_t nrules;
  uint32_t hits;
  uint32_t m; /* n - t (POS_RCOL) */
} tamper_ctx;

/* Bytes before the first field element: the coin commitment / opening with
 * dealers; under PRSS none in round 0 (keys, no elements) and the key
 * digests in round 1. */
static size_t elem_prefix(uint32_t round) {
  if (!prss_at(g_n, g_t)) return round <= 1 ? 32 : 0;
  return round == 1 ? 32 * binom(g_n - 1, g_t) : 0;
}

static void bump_elem(uint8_t *p) {
  fe x;
  ck_assert_int_eq(fe_decode(p, &x), 0);
  fe_encode(fe_add(x, 1), p);
}

static void put64(uint8_t *b, uint64_t v) {
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint64_t get64(const uint8_t *b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | b[i];
  return v;
}
static void put32(uint8_t *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (24 - 8 * i));
}
static uint32_t get32(const uint8_t *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t chunk_size(void) {
  return mpc_prep_audit_chunk < 64 ? 64 : mpc_prep_audit_chunk;
}

static int tamper_hook(void *vctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload,
                       size_t *len) {
  tamper_ctx *ctx = vctx;
  for (size_t i = 0; i < ctx->nrules; i++) {
    const tamper_rule *r = &ctx->rule[i];
    if (from != r->cheater || m->round != r->round || (r->target != MPC_TO_ALL && to != r->target))
      continue;
    size_t l = m->len, pre = elem_prefix(m->round);
    int keys = prss_at(g_n, g_t) && m->round == 0; /* a payload of keys, no elements */
    uint8_t *p = malloc(l + FE_BYTES + 1);
    ck_assert_ptr_nonnull(p);
    memcpy(p, m->payload, l);
    if (keys && r->pos != POS_KEY && r->pos != POS_GROW && r->pos != POS_SHORT) goto skip;
    switch (r->pos) {
    case POS_COIN: p[0] ^= 1; break;
    case POS_FIRST:
      if (l < pre + FE_BYTES) goto skip;
      bump_elem(p + pre);
      break;
    case POS_LAST:
      if (l < pre + FE_BYTES) goto skip;
      bump_elem(p + l - FE_BYTES);
      break;
    case POS_RCOL: {
      /* Column ceil(2T / m): its m outputs are among r[0..R), blind and
       * unused ones, so only the omega check sees it (T = SMALL_T,
       * R = SMALL_R). */
      size_t mm = ctx->m, col = (2 * SMALL_T + mm - 1) / mm;
      bump_elem(p + pre + col * FE_BYTES);
      break;
    }
    case POS_VERDICT: p[0] ^= 1; break;
    case POS_HASH: p[1 + 31] ^= 0x80; break;
    case POS_GROW:
      memset(p + l, 0, FE_BYTES);
      l += FE_BYTES;
      break;
    case POS_SHORT:
      if (l == 0) goto skip; /* a PRSS party that deals no key to this one */
      l -= 1;
      break;
    case POS_KEY:
      if (l < 32) goto skip;
      p[5] ^= 1;
      break;
    case POS_DIGEST:
      if (pre < 32) goto skip;
      p[7] ^= 1;
      break;
    case POS_NONCANON: fe_encode(FE_P, p + pre); break;
    case POS_W:
      if (l != 33 + FE_BYTES) goto skip;
      bump_elem(p + 33);
      break;
    case POS_BYTE2: p[0] = 2; break;
    case POS_ECHO_SIG:
      if (l < 8 + MPC_MSG_HDR + 1 || get32(p) == 0) goto skip;
      p[8 + MPC_MSG_HDR] ^= 1;
      break;
    case POS_ECHO_JUNK:
      put32(p, get32(p) + 1);
      put32(p + l, 8);
      memset(p + l + 4, 0, 8);
      l += 12;
      break;
    case POS_ECHO_COUNT: put32(p, UINT32_MAX); break;
    case POS_SEED: p[8 + 16] ^= 1; break;
    case POS_EMBED: p[8 + 56 + 4 + MPC_MSG_HDR + 1] ^= 1; break; /* after T, R, seed, B */
    case POS_L_BIG: put64(p, get64(p) + 5 * chunk_size()); break;
    case POS_L_SMALL: put64(p, get64(p) - chunk_size()); break;
    case POS_L_HUGE: put64(p, 1ull << 62); break;
    case POS_PIECE:
      p[l] = 0;
      l += 1;
      break;
    }
    ctx->hits++;
    *payload = p;
    *len = l;
    return 1;
  skip:
    free(p);
  }
  return 0;
}

/* Runs one batch with the given rules; sess gets the finished sessions. */
static void run_tampered(mh *h, size_t T, size_t R, tamper_ctx *ctx, mpc_session **sess) {
  run_hooked(h, T, R, tamper_hook, ctx, sess);
}

/* ---- cheating at every message site ------------------------------------ */

typedef struct {
  uint32_t round;
  tamper_pos pos;
} site;

static const site k_sites[] = {
    {0, POS_COIN},     {0, POS_FIRST},    {0, POS_LAST},      {0, POS_RCOL},
    {1, POS_COIN},     {1, POS_FIRST},    {1, POS_LAST},      {2, POS_FIRST},
    {2, POS_LAST},     {3, POS_VERDICT},  {3, POS_HASH},      {3, POS_SHORT},
    {3, POS_BYTE2},    {4, POS_ECHO_SIG}, {4, POS_ECHO_JUNK}, {4, POS_ECHO_COUNT},
};

/* What the engine promises for a tamper (docs/mpc-prep.md "Verdict
 * agreement"): before the verdict, every honest party ends in the audit and
 * names the cheater. A verdict changed for one recipient is two signed
 * verdicts that every honest party extracts: all name the equivocation; a
 * verdict of the wrong shape to one recipient counts as nothing sent to it,
 * the relays bring the real one: all accept. A verdict changed for everyone
 * sends every honest party to the audit, where the cheater's own session
 * (honest code, untampered inputs: it accepted) never shows up: all time
 * out. Echo messages: a broken chain is ignored: all accept. */
static outcome site_outcome(uint32_t t, uint32_t round, tamper_pos pos, int to_all) {
  if (round < R_VERDICT) return OUT_NAMED;
  if (round == R_VERDICT) return to_all ? OUT_TIMEOUT : pos == POS_SHORT ? OUT_DONE : OUT_NAMED;
  return round < audit0(t) ? OUT_DONE : OUT_NAMED;
}

/* One tampered batch; checks the outcome at every honest party. */
static void tamper_case(uint32_t n, uint32_t t, uint32_t cheater, uint32_t round, tamper_pos pos,
                        uint32_t target, int forge) {
  char ctx[96];
  snprintf(ctx, sizeof ctx, "n=%u cheater %u round %u %s to %s%u", n, cheater, round, pos_name(pos),
           target == MPC_TO_ALL ? "all " : "", target == MPC_TO_ALL ? 0 : target);
  mh *h = new_harness(n, t);
  tamper_ctx tc = {.rule = {{cheater, round, target, pos}}, .nrules = 1, .m = n - t};
  mpc_session *sess[MPC_MAX_N] = {0};
  run_tampered(h, SMALL_T, SMALL_R, &tc, sess);
  /* Under PRSS a party may deal no key to a recipient: nothing to tamper
   * with in round 0, and the batch passes. */
  int idle = tc.hits == 0 && prss_at(n, t) && round == 0;
  ck_assert_msg(tc.hits > 0 || idle, "%s: the tamper never fired", ctx);
  g_fired0 += round == 0 && tc.hits > 0;
  outcome want = idle ? OUT_DONE : site_outcome(t, round, pos, target == MPC_TO_ALL);
  expect_outcome(h, sess, 1ull << cheater, cheater, want, SMALL_T, SMALL_R, forge, ctx);
  if (round == R_VERDICT && want == OUT_NAMED)
    for (uint32_t i = 0; i < n; i++) {
      if (i == cheater) continue;
      ck_assert_int_eq(mpc_session_status(sess[i])->err, CX_E_MPC_EQUIVOCATION);
      ck_assert_int_eq(mpc_session_evidence(sess[i])->type, MPC_EV_EQUIVOCATION);
    }
  free_sessions(h, sess);
  mh_free(h);
}

/* n = 4: every site x every sender x (one recipient, all recipients). */
START_TEST(test_prep_tamper_matrix) {
  uint32_t n = 4;
  for (size_t k = 0; k < sizeof k_sites / sizeof k_sites[0]; k++)
    for (uint32_t c = 0; c < n; c++) {
      tamper_case(n, 1, c, k_sites[k].round, k_sites[k].pos, (c + 1 + (uint32_t)k % 3) % n, c == 0);
      tamper_case(n, 1, c, k_sites[k].round, k_sites[k].pos, MPC_TO_ALL, 0);
    }
}
END_TEST

/* n = 7: every site, two senders, one recipient and all; both echo rounds. */
START_TEST(test_prep_tamper_n7) {
  uint32_t n = 7;
  for (size_t k = 0; k < sizeof k_sites / sizeof k_sites[0]; k++) {
    uint32_t c = (uint32_t)(k * 3) % n;
    tamper_case(n, 2, c, k_sites[k].round, k_sites[k].pos, (c + 4) % n, k == 0);
    tamper_case(n, 2, (c + 5) % n, k_sites[k].round, k_sites[k].pos, MPC_TO_ALL, 0);
  }
  /* The last echo round (honest echo messages are empty there). */
  tamper_case(n, 2, 3, R_VERDICT + 2, POS_ECHO_JUNK, 1, 0);
  tamper_case(n, 2, 6, R_VERDICT + 2, POS_ECHO_COUNT, MPC_TO_ALL, 0);
}
END_TEST

/* ---- malformed payloads ------------------------------------------------ */

/* A malformed payload makes its recipient vote fail; every honest party
 * goes to the audit. The recipient names the sender with the message itself
 * when that is provable to a third party (wrong for every batch size), the
 * others — and the recipient when it is not provable — by the replay. */
static void malformed_case(uint32_t round, tamper_pos pos, uint32_t target, int provable) {
  char ctx[64];
  snprintf(ctx, sizeof ctx, "round %u %s to %d", round, pos_name(pos),
           target == MPC_TO_ALL ? -1 : (int)target);
  mh *h = new_harness(4, 1);
  uint32_t cheater = g_prss ? 0 : 2; /* under PRSS, party 0 deals keys to every other */
  tamper_ctx tc = {.rule = {{cheater, round, target, pos}}, .nrules = 1};
  mpc_session *sess[MPC_MAX_N] = {0};
  run_tampered(h, SMALL_T, SMALL_R, &tc, sess);
  ck_assert_uint_gt(tc.hits, 0);
  outcome want = round == R_VERDICT && pos == POS_SHORT && target != MPC_TO_ALL ? OUT_DONE : OUT_NAMED;
  expect_outcome(h, sess, 1ull << cheater, cheater, want, SMALL_T, SMALL_R, 0, ctx);
  if (round < R_VERDICT) {
    for (uint32_t i = 0; i < 4; i++) {
      if (i == cheater) continue;
      int got = target == MPC_TO_ALL || i == target;
      const mpc_status *st = mpc_session_status(sess[i]);
      const mpc_evidence *ev = mpc_session_evidence(sess[i]);
      int own = got && provable;
      ck_assert_msg(st->err == (own ? CX_E_MPC_MALFORMED : CX_E_MPC_CHECK_FAILED), "%s: party %u: %s",
                    ctx, i, cx_err_name(st->err));
      ck_assert_int_eq(ev->type, own ? MPC_EV_MALFORMED : MPC_EV_AUDIT);
      if (own) {
        ck_assert_uint_eq(ev->count, 1);
        mpc_evidence f = *ev;
        f.culprit = 1;
        ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &f), CX_OK);
      }
    }
  }
  free_sessions(h, sess);
  mh_free(h);
}

START_TEST(test_prep_malformed) {
  /* Wrong lengths in every round; a third party, which does not know the
   * batch size, can prove those that are wrong for every size. */
  malformed_case(0, POS_SHORT, 0, 1);
  malformed_case(0, POS_GROW, 0, 0);
  malformed_case(R_MULT, POS_SHORT, 0, 1);
  malformed_case(R_MULT, POS_GROW, 0, 0);
  malformed_case(R_OPEN, POS_SHORT, 0, 1);
  malformed_case(R_OPEN, POS_GROW, 0, 1);
  /* Right length, bad content. */
  malformed_case(0, POS_NONCANON, 0, 1);
  malformed_case(R_MULT, POS_NONCANON, 0, 1);
  malformed_case(R_OPEN, POS_NONCANON, 0, 1);
  /* To everyone: every honest party has its own proof. */
  malformed_case(R_OPEN, POS_SHORT, MPC_TO_ALL, 1);
  malformed_case(R_MULT, POS_GROW, MPC_TO_ALL, 0);
  /* A verdict of the wrong shape counts as none: the relays bring the
   * real one to its recipient. A verdict byte of 2 is a second verdict. */
  malformed_case(R_VERDICT, POS_SHORT, 0, 0);
  malformed_case(R_VERDICT, POS_BYTE2, 0, 1);
}
END_TEST

/* ---- the audit itself -------------------------------------------------- */

/* A cheater that sends a wrong share in round 2 (so the batch fails and
 * its own session, which saw nothing, follows the others into the audit)
 * and then lies in its audit: a wrong seed is caught by the replay; an
 * embedded message it changed no longer verifies, so its audit does not
 * parse and its signed chunks are the proof. */
START_TEST(test_prep_audit_lies) {
  for (int lie = 0; lie < 2; lie++) {
    mh *h = new_harness(4, 1);
    uint32_t cheater = 1;
    tamper_ctx tc = {.rule = {{cheater, R_FAIL, MPC_TO_ALL, POS_FIRST},
                              {cheater, audit0(1), MPC_TO_ALL, lie ? POS_EMBED : POS_SEED}},
                     .nrules = 2};
    mpc_session *sess[MPC_MAX_N] = {0};
    run_tampered(h, SMALL_T, SMALL_R, &tc, sess);
    expect_outcome(h, sess, 1ull << cheater, cheater, OUT_NAMED, SMALL_T, SMALL_R, 1, "audit lies");
    for (uint32_t i = 0; i < 4; i++) {
      if (i == cheater) continue;
      const mpc_status *st = mpc_session_status(sess[i]);
      ck_assert_int_eq(st->err, lie ? CX_E_MPC_MALFORMED : CX_E_MPC_CHECK_FAILED);
      const mpc_evidence *ev = mpc_session_evidence(sess[i]);
      ck_assert_int_eq(ev->type, MPC_EV_AUDIT);
      ck_assert_uint_eq(ev->count, lie ? 1 : 2); /* one chunk (+ the unexplained message) */
      ck_assert_int_eq(prep_audit_verify(4, 1, h->pks, ev), CX_OK);
    }
    free_sessions(h, sess);
    mh_free(h);
  }
}
END_TEST

/* A cheater that makes the batch fail and then does not publish its audit
 * (or stops half-way through a many-chunk one): every honest party is in
 * the audit, times out with the cheater unresponsive, and no pool changes. */
START_TEST(test_prep_audit_refused) {
  size_t chunks[2] = {DEFAULT_CHUNK, 256};
  for (int k = 0; k < 2; k++) {
    mpc_prep_audit_chunk = chunks[k];
    struct {
      uint32_t n, t, cheater;
    } cases[] = {{4, 1, 1}, {7, 2, 5}};
    for (size_t c = 0; c < 2; c++) {
      uint32_t n = cases[c].n, t = cases[c].t, cheater = cases[c].cheater;
      mh *h = new_harness(n, t);
      h->crash_round[cheater] = audit0(t) + (k ? 2 : 0);
      tamper_ctx tc = {.rule = {{cheater, R_FAIL, MPC_TO_ALL, POS_FIRST}}, .nrules = 1};
      mpc_session *sess[MPC_MAX_N] = {0};
      run_tampered(h, SMALL_T, SMALL_R, &tc, sess);
      expect_outcome(h, sess, 1ull << cheater, cheater, OUT_TIMEOUT, SMALL_T, SMALL_R, 0, "refused");
      for (uint32_t i = 0; i < n; i++)
        if (i != cheater) ck_assert_uint_eq(sess[i]->round, h->crash_round[cheater]);
      free_sessions(h, sess);
      mh_free(h);
    }
  }
  mpc_prep_audit_chunk = DEFAULT_CHUNK;
}
END_TEST

/* Many-chunk audits (a small chunk size stands in for a batch far above
 * what one message holds): the cheater is named, and its evidence — every
 * chunk of its audit and the message its replay does not produce —
 * verifies; a lying chunk or a lying length is harmless. */
static void lenient(mh *h, mpc_session **sess, uint32_t cheater, const char *ctx) {
  for (uint32_t i = 0; i < h->n; i++) {
    if (i == cheater) continue;
    const mpc_status *st = mpc_session_status(sess[i]);
    ck_assert_msg(st->state == MPC_ABORTED, "%s: party %u state %d", ctx, i, st->state);
    if (st->culprit == -1) {
      ck_assert_msg(st->err == CX_E_MPC_TIMEOUT && st->unresponsive, "%s: party %u: %s", ctx, i,
                    cx_err_name(st->err));
      continue;
    }
    ck_assert_msg(st->culprit == (int32_t)cheater, "%s: party %u names %d", ctx, i, st->culprit);
    check_evidence(h, sess[i], cheater, 0, ctx);
  }
  pools_empty(h, 1ull << cheater, ctx);
}

static void chunk_case(uint32_t n, uint32_t t, uint32_t cheater, tamper_pos lie, uint32_t lie_round,
                       uint32_t lie_to, int strict) {
  char ctx[64];
  snprintf(ctx, sizeof ctx, "n=%u chunks, lie %s", n, lie == POS_FIRST ? "none" : pos_name(lie));
  mh *h = new_harness(n, t);
  tamper_ctx tc = {.rule = {{cheater, R_FAIL, MPC_TO_ALL, POS_FIRST}, {cheater, lie_round, lie_to, lie}},
                   .nrules = lie == POS_FIRST ? 1 : 2};
  mpc_session *sess[MPC_MAX_N] = {0};
  run_tampered(h, SMALL_T, SMALL_R, &tc, sess);
  if (tc.nrules == 2) ck_assert_msg(tc.hits > 1, "%s: the lie never fired", ctx);
  if (!strict) {
    lenient(h, sess, cheater, ctx);
  } else {
    expect_outcome(h, sess, 1ull << cheater, cheater, OUT_NAMED, SMALL_T, SMALL_R, 1, ctx);
    for (uint32_t i = 0; i < n; i++) {
      if (i == cheater) continue;
      const mpc_evidence *ev = mpc_session_evidence(sess[i]);
      ck_assert_int_eq(ev->type, MPC_EV_AUDIT);
      if (lie == POS_FIRST) { /* every chunk, then the message */
        ck_assert_uint_ge(ev->count, 4);
        ck_assert_uint_gt(mpc_session_status(sess[i])->rounds, audit0(t) + 3);
      } else { /* named in the round the lying chunk arrived, by chunks 0..k */
        ck_assert_uint_eq(mpc_session_status(sess[i])->rounds, lie_round);
        ck_assert_uint_eq(ev->count, lie_round - audit0(t) + 1);
        ck_assert_int_eq(mpc_session_status(sess[i])->err, CX_E_MPC_MALFORMED);
      }
    }
  }
  free_sessions(h, sess);
  mh_free(h);
}

START_TEST(test_prep_audit_chunks) {
  mpc_prep_audit_chunk = 256;
  uint32_t a4 = audit0(1);
  chunk_case(4, 1, 1, POS_FIRST, 0, 0, 1);
  chunk_case(7, 2, 4, POS_FIRST, 0, 0, 1);
  /* A piece of the wrong size, or a length no party can have: proven by
   * the liar's own chunks as soon as they arrive. */
  chunk_case(4, 1, 1, POS_PIECE, a4 + 2, MPC_TO_ALL, 1);
  chunk_case(4, 1, 2, POS_L_HUGE, a4, MPC_TO_ALL, 1);
  /* A possible but false length: the pieces contradict it, or the blob it
   * delimits does not parse, or the liar must send the rounds it declared
   * (a refusal otherwise). */
  chunk_case(4, 1, 3, POS_L_SMALL, a4, MPC_TO_ALL, 0);
  chunk_case(4, 1, 0, POS_L_BIG, a4, MPC_TO_ALL, 0);
  /* To one recipient only: it names the liar; the others name it by the
   * replay or time out (the recipient may stop before them). */
  chunk_case(4, 1, 1, POS_PIECE, a4 + 1, 2, 0);
  chunk_case(4, 1, 1, POS_L_HUGE, a4, 3, 0);
  mpc_prep_audit_chunk = DEFAULT_CHUNK;
}
END_TEST

/* ---- agreement on the verdicts (Dolev–Strong) --------------------------- */

/* Two cheaters, n = 7 (t = 2): party `j` signs a second verdict and party
 * `relayer` adds it, in a chain of its own making, to its echo message of
 * `round` to party `to` only. */
typedef enum {
  CH_ONE,      /* one link, signed by the relayer */
  CH_REPEAT,   /* two links, both signed by the relayer */
  CH_BY_ORIGIN /* one link, signed by j itself */
} chain_mode;

typedef struct {
  mh *h;
  uint32_t j, relayer, to, round;
  chain_mode mode;
  uint32_t hits;
} chain_ctx;

static uint8_t *sign_msg(mh *h, uint32_t from, const uint8_t session[32], uint32_t round,
                         const uint8_t *payload, size_t len, size_t *outlen) {
  uint8_t *out = NULL;
  ck_assert_int_eq(mpc_msg_encode(h->keys[from], MPC_KIND_PREP, session, round, (uint8_t)from,
                                  MPC_TO_ALL, payload, len, &out, outlen),
                   CX_OK);
  return out;
}

static int chain_hook(void *vctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload,
                      size_t *len) {
  chain_ctx *c = vctx;
  if (from != c->relayer || to != c->to || m->round != c->round) return 0;
  uint8_t vp[33 + FE_BYTES] = {0}; /* "fail", with a zero hash (and w = 0 under PRSS) */
  size_t vl, l1, l2;
  uint8_t *v = sign_msg(c->h, c->j, m->session, R_VERDICT, vp, g_prss ? sizeof vp : 33, &vl);
  uint32_t signer = c->mode == CH_BY_ORIGIN ? c->j : c->relayer;
  uint8_t *item = sign_msg(c->h, signer, m->session, LINK_ROUND0 + 2 * c->j + 1, v, vl, &l1);
  if (c->mode == CH_REPEAT) {
    uint8_t *outer = sign_msg(c->h, c->relayer, m->session, LINK_ROUND0 + 2 * c->j, item, l1, &l2);
    free(item);
    item = outer;
    l1 = l2;
  }
  uint8_t *p = malloc(m->len + 4 + l1);
  ck_assert_ptr_nonnull(p);
  memcpy(p, m->payload, m->len);
  put32(p, get32(p) + 1);
  put32(p + m->len, (uint32_t)l1);
  memcpy(p + m->len + 4, item, l1);
  *payload = p;
  *len = m->len + 4 + l1;
  free(v);
  free(item);
  c->hits++;
  return 1;
}

static void chain_case(uint32_t round, chain_mode mode, outcome want) {
  char ctx[64];
  snprintf(ctx, sizeof ctx, "chain round %u mode %d", round, mode);
  mh *h = new_harness(7, 2);
  chain_ctx c = {.h = h, .j = 1, .relayer = 2, .to = 0, .round = round, .mode = mode};
  mpc_session *sess[MPC_MAX_N] = {0};
  run_hooked(h, SMALL_T, SMALL_R, chain_hook, &c, sess);
  ck_assert_uint_eq(c.hits, 1);
  expect_outcome(h, sess, (1ull << 1) | (1ull << 2), 1, want, SMALL_T, SMALL_R, want == OUT_NAMED, ctx);
  if (want == OUT_NAMED)
    for (uint32_t i = 0; i < 7; i++)
      if (i != 1 && i != 2) ck_assert_int_eq(mpc_session_status(sess[i])->err, CX_E_MPC_EQUIVOCATION);
  free_sessions(h, sess);
  mh_free(h);
}

START_TEST(test_prep_agreement) {
  /* Echo round 1, to party 0 only: party 0 extracts the second verdict
   * (one relayer besides its signer) and relays it in echo round 2, where
   * every other honest party extracts it through two relayers (2, then 0).
   * Everyone names party 1. */
  chain_case(R_VERDICT + 1, CH_ONE, OUT_NAMED);
  /* The same chain only in the last echo round: one relayer is too few
   * there (t = 2 are needed, one of them then honest), so party 0 ignores
   * it — the others could not have got it — and everyone accepts. */
  chain_case(R_VERDICT + 2, CH_ONE, OUT_DONE);
  /* Two links, but the same relayer twice; a link by the verdict's own
   * signer: neither is a chain of distinct relayers. */
  chain_case(R_VERDICT + 2, CH_REPEAT, OUT_DONE);
  chain_case(R_VERDICT + 1, CH_BY_ORIGIN, OUT_DONE);
}
END_TEST

/* ---- evidence ------------------------------------------------------------ */

/* Audit evidence against a message the replay does reproduce proves
 * nothing; coin evidence with a matching opening proves nothing. */
START_TEST(test_prep_evidence_no_proof) {
  mh *h = new_harness(4, 1);
  uint32_t cheater = 3;
  tamper_ctx tc = {.rule = {{cheater, 0, 0, POS_COIN}}, .nrules = 1};
  mpc_session *sess[MPC_MAX_N] = {0};
  run_tampered(h, SMALL_T, SMALL_R, &tc, sess);
  /* Party 0 got the bad commitment: coin evidence. Party 1: audit. */
  const mpc_evidence *coin = mpc_session_evidence(sess[0]), *aud = mpc_session_evidence(sess[1]);
  ck_assert_int_eq(coin->type, MPC_EV_COIN);
  ck_assert_int_eq(aud->type, MPC_EV_AUDIT);
  ck_assert_uint_eq(aud->count, 2);
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, coin), CX_OK);
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, aud), CX_OK);
  /* The cheater's honest messages: its round-1 and round-2 messages to
   * party 1, from party 1's inbox. */
  for (uint32_t r = R_MULT; r <= R_OPEN; r++) {
    const mpc_msg *good = mpc_inbox_get(sess[1]->inbox, r, cheater);
    ck_assert_ptr_nonnull(good);
    uint8_t *msgs[2] = {aud->msg[0], (uint8_t *)good->raw};
    size_t lens[2] = {aud->len[0], good->raw_len};
    mpc_evidence f = *aud;
    f.msg = msgs;
    f.len = lens;
    ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &f), CX_E_MPC_CHECK_FAILED);
    /* Swapped order: the chunks come first. */
    uint8_t *sw[2] = {msgs[1], msgs[0]};
    size_t swl[2] = {lens[1], lens[0]};
    f.msg = sw;
    f.len = swl;
    ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &f), CX_OK);
  }
  /* The audit alone proves nothing: it parses. */
  mpc_evidence f = *aud;
  f.count = 1;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &f), CX_E_MPC_CHECK_FAILED);
  /* Coin evidence made of the cheater's commitment and opening to party 1,
   * which match. */
  const mpc_msg *c0 = mpc_inbox_get(sess[1]->inbox, 0, cheater),
                *c1 = mpc_inbox_get(sess[1]->inbox, 1, cheater);
  uint8_t *cm[2] = {(uint8_t *)c0->raw, (uint8_t *)c1->raw};
  size_t cl[2] = {c0->raw_len, c1->raw_len};
  f = *coin;
  f.msg = cm;
  f.len = cl;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &f), CX_E_MPC_CHECK_FAILED);
  /* The real commitment to party 0 with the matching opening to party 1
   * still proves it (an honest dealer commits once for everyone). */
  uint8_t *mix[2] = {coin->msg[0], (uint8_t *)c1->raw};
  size_t mixl[2] = {coin->len[0], c1->raw_len};
  f.msg = mix;
  f.len = mixl;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &f), CX_OK);
  /* Wrong counts and types. */
  f = *coin;
  f.count = 1;
  ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &f), CX_OK);
  f = *aud;
  f.type = MPC_EV_COIN;
  ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &f), CX_OK);
  free_sessions(h, sess);
  mh_free(h);
}
END_TEST

/* Every honest message in a batch that went through agreement and a
 * many-chunk audit: none can be passed off as malformed, as a coin cheat,
 * as an audit mismatch, and no two of one honest party's messages (relay
 * links included) as an equivocation. */
static void collect_links(const mpc_msg *echo, uint8_t **links, size_t *lens, size_t *cnt) {
  uint32_t count = get32(echo->payload);
  size_t off = 4;
  for (uint32_t i = 0; i < count; i++) {
    size_t l = get32(echo->payload + off);
    links[*cnt] = (uint8_t *)echo->payload + off + 4;
    lens[(*cnt)++] = l;
    off += 4 + l;
  }
  ck_assert_uint_eq(off, echo->len);
}

START_TEST(test_prep_no_framing) {
  mpc_prep_audit_chunk = 512;
  mh *h = new_harness(4, 1);
  uint32_t cheater = 0, a0 = audit0(1);
  tamper_ctx tc = {.rule = {{cheater, R_FAIL, MPC_TO_ALL, POS_FIRST}}, .nrules = 1};
  mpc_session *sess[MPC_MAX_N] = {0};
  run_tampered(h, SMALL_T, SMALL_R, &tc, sess);
  uint32_t checked = 0, nchunks = 0;
  while (mpc_inbox_get(sess[1]->inbox, a0 + nchunks, 2)) nchunks++;
  ck_assert_uint_ge(nchunks, 3);
  for (uint32_t holder = 1; holder < 4; holder++)
    for (uint32_t j = 1; j < 4; j++) {
      if (j == holder) continue;
      /* j's audit chunks as the holder got them. */
      uint8_t *ev_msgs[64];
      size_t ev_lens[64];
      ck_assert_uint_lt(nchunks, 63);
      for (uint32_t k = 0; k < nchunks; k++) {
        const mpc_msg *c = mpc_inbox_get(sess[holder]->inbox, a0 + k, j);
        ck_assert_ptr_nonnull(c);
        ev_msgs[k] = (uint8_t *)c->raw;
        ev_lens[k] = c->raw_len;
      }
      mpc_evidence aud = {.type = MPC_EV_AUDIT, .culprit = (int32_t)j, .msg = ev_msgs, .len = ev_lens};
      aud.count = nchunks;
      ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &aud), CX_E_MPC_CHECK_FAILED);
      aud.count = nchunks - 1; /* incomplete */
      ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &aud), CX_OK);
      for (uint32_t r = 0; r < a0 + nchunks; r++) {
        const mpc_msg *m = mpc_inbox_get(sess[holder]->inbox, r, j);
        ck_assert_msg(m != NULL, "party %u has no round-%u message of %u", holder, r, j);
        uint8_t *msgs[2] = {(uint8_t *)m->raw, (uint8_t *)m->raw};
        size_t lens[2] = {m->raw_len, m->raw_len};
        mpc_evidence ev = {
            .type = MPC_EV_MALFORMED, .culprit = (int32_t)j, .count = 1, .msg = msgs, .len = lens};
        ck_assert_msg(mpc_evidence_verify(4, 1, h->pks, &ev) != CX_OK, "round %u of %u: malformed",
                      r, j);
        ev.type = MPC_EV_COIN;
        ev.count = 2;
        ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &ev), CX_OK);
        ev.type = MPC_EV_EQUIVOCATION;
        ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &ev), CX_OK);
        if (r < R_VERDICT + 1) { /* its chunks with each of its messages */
          ev_msgs[nchunks] = (uint8_t *)m->raw;
          ev_lens[nchunks] = m->raw_len;
          aud.count = nchunks + 1;
          ck_assert_msg(mpc_evidence_verify(4, 1, h->pks, &aud) == CX_E_MPC_CHECK_FAILED,
                        "round %u of %u: audit", r, j);
        }
        checked++;
      }
      /* Its relay links (echo round 1): neither malformed nor, in any
       * pair or with its echo message, an equivocation. */
      const mpc_msg *echo = mpc_inbox_get(sess[holder]->inbox, R_VERDICT + 1, j);
      uint8_t *links[8];
      size_t llen[8], nl = 0;
      collect_links(echo, links, llen, &nl);
      ck_assert_uint_eq(nl, 3); /* the three other parties' verdicts */
      links[nl] = (uint8_t *)echo->raw;
      llen[nl] = echo->raw_len;
      for (size_t a = 0; a < nl; a++) {
        mpc_evidence ev = {.type = MPC_EV_MALFORMED, .culprit = (int32_t)j, .count = 1, .msg = &links[a],
                           .len = &llen[a]};
        ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &ev), CX_OK);
        for (size_t b = a + 1; b <= nl; b++) {
          uint8_t *pair[2] = {links[a], links[b]};
          size_t pl[2] = {llen[a], llen[b]};
          mpc_evidence eq = {
              .type = MPC_EV_EQUIVOCATION, .culprit = (int32_t)j, .count = 2, .msg = pair, .len = pl};
          ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &eq), CX_OK);
        }
      }
    }
  ck_assert_uint_eq(checked, 3 * 2 * (a0 + nchunks));
  free_sessions(h, sess);
  mh_free(h);
  mpc_prep_audit_chunk = DEFAULT_CHUNK;
}
END_TEST
/* ---- cheats that keep every sharing consistent --------------------------- */

/* Two corrupt parties at n = 7 (t = 2) shift their round-1 shares of
 * product 0 by the values at their points of a degree-2t polynomial g with
 * g(0) = delta, as consistent a shift as t parties can make. It cannot
 * pass: the n - t = 2t + 1 honest shares fix the product's polynomial, and
 * g vanishes at all of them only if it is 0. Every honest party votes fail
 * and the audit names the lower cheater. */
typedef struct {
  uint64_t cheaters;
  uint32_t hits;
} shift_ctx;

static int shift_hook(void *vctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload,
                      size_t *len) {
  shift_ctx *c = vctx;
  (void)to;
  if (!((c->cheaters >> from) & 1) || m->round != R_MULT) return 0;
  uint8_t *p = malloc(m->len);
  ck_assert_ptr_nonnull(p);
  memcpy(p, m->payload, m->len);
  /* g(x) = delta + x^4 (any polynomial of degree 2t = 4 with g(0) = delta). */
  fe x = fe_from_u64(from + 1), x2 = fe_mul(x, x), g = fe_add(999, fe_mul(x2, x2)), u;
  size_t pre = elem_prefix(R_MULT);
  ck_assert_int_eq(fe_decode(p + pre, &u), 0);
  fe_encode(fe_add(u, g), p + pre);
  c->hits++;
  *payload = p;
  *len = m->len;
  return 1;
}

/* Every honest party aborted naming `cheater`, with evidence, pools empty. */
static void expect_named(mh *h, mpc_session **sess, uint32_t cheater, const char *ctx) {
  for (uint32_t i = 0; i < h->n; i++) {
    if (i == cheater) continue;
    const mpc_status *st = mpc_session_status(sess[i]);
    ck_assert_msg(st->state == MPC_ABORTED, "%s: party %u state %d", ctx, i, st->state);
    ck_assert_int_eq(st->err, CX_E_MPC_CHECK_FAILED);
    ck_assert_int_eq(st->culprit, (int32_t)cheater);
    check_evidence(h, sess[i], cheater, 0, ctx);
  }
  pools_empty(h, 1ull << cheater, ctx);
}

START_TEST(test_prep_product_shift) {
  mh *h = new_harness(7, 2);
  shift_ctx c = {.cheaters = (1ull << 2) | (1ull << 5)};
  mpc_session *sess[MPC_MAX_N] = {0};
  run_hooked(h, SMALL_T, SMALL_R, shift_hook, &c, sess);
  ck_assert_uint_ge(c.hits, 2);
  expect_outcome(h, sess, c.cheaters, 2, OUT_NAMED, SMALL_T, SMALL_R, 0, "product shift");
  free_sessions(h, sess);
  mh_free(h);
}
END_TEST

/* A dealer whose "double sharing" shares different values with degree t
 * and degree 2t: s and s + eps, each a consistent polynomial (the shift of
 * the degree-2t half vanishes at the dealer's own point, so even its own
 * product shares agree). Every product's n shares lie on one polynomial of
 * degree 2t and omega opens fine; c = ab - (extracted eps) would be wrong,
 * and only zeta (secret s - S, which must be 0) catches it. */
typedef struct {
  uint32_t cheater;
  size_t col; /* element index of the degree-2t half of double sharing 0 */
  fe eps;
  uint32_t hits;
} dbl_ctx;

static int dbl_hook(void *vctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload,
                    size_t *len) {
  dbl_ctx *d = vctx;
  if (from != d->cheater || m->round != 0) return 0;
  uint8_t *p = malloc(m->len);
  ck_assert_ptr_nonnull(p);
  memcpy(p, m->payload, m->len);
  /* g(x) = eps (1 - x / alpha_c), alpha = index + 1: g(0) = eps, g(alpha_c) = 0. */
  fe ac = fe_from_u64(d->cheater + 1), aj = fe_from_u64(to + 1);
  fe g = fe_mul(d->eps, fe_sub(1, fe_mul(aj, fe_inv(ac))));
  uint8_t *e = p + 32 + d->col * FE_BYTES;
  fe v;
  ck_assert_int_eq(fe_decode(e, &v), 0);
  fe_encode(fe_add(v, g), e);
  d->hits++;
  *payload = p;
  *len = m->len;
  return 1;
}

START_TEST(test_prep_double_secret) {
  struct {
    uint32_t n, t, cheater;
  } cases[] = {{4, 1, 1}, {7, 2, 5}};
  for (size_t i = 0; i < 2; i++) {
    uint32_t n = cases[i].n, t = cases[i].t, m = n - t;
    size_t ut = (2 * SMALL_T + SMALL_R + 1 + m - 1) / m, ud = (SMALL_T + 1 + m - 1) / m;
    dbl_ctx d = {.cheater = cases[i].cheater, .col = ut + ud, .eps = 777};
    mh *h = new_harness(n, t);
    mpc_session *sess[MPC_MAX_N] = {0};
    new_sessions(h, SMALL_T, SMALL_R, sess);
    h->tamper = dbl_hook;
    h->tamper_ctx = &d;
    mh_run(h, sess);
    h->tamper = NULL;
    ck_assert_uint_eq(d.hits, n - 1);
    expect_named(h, sess, d.cheater, "double sharing");
    free_sessions(h, sess);
    mh_free(h);
  }
}
END_TEST


/* ---- crashes ----------------------------------------------------------- */

/* A crash in rounds 0-2 or in the verdict round: every honest party times
 * out naming nobody, the dead party unresponsive, no pool changed (from
 * the verdict round on, in the audit: a missing verdict is no acceptance,
 * and the audit needs everyone). A crash in an echo round, after the dead
 * party's verdict went to everyone: Dolev–Strong gives every honest party
 * that verdict, and all accept the same batch. */
static void crash_case(uint32_t n, uint32_t t, uint32_t r, uint32_t dead) {
  mh *h = new_harness(n, t);
  h->crash_round[dead] = r;
  mpc_session *sess[MPC_MAX_N] = {0};
  new_sessions(h, SMALL_T, SMALL_R, sess);
  /* The crashed party itself may still finish (round-r messages that
   * reached it early complete its round): only the others are checked. */
  (void)mh_run(h, sess);
  mpc_status st[MPC_MAX_N];
  for (uint32_t i = 0; i < n; i++) st[i] = *mpc_session_status(sess[i]);
  if (r > R_VERDICT) {
    char ctx[48];
    snprintf(ctx, sizeof ctx, "n=%u crash at %u", n, r);
    expect_outcome(h, sess, 1ull << dead, dead, OUT_DONE, SMALL_T, SMALL_R, 0, ctx);
    for (uint32_t i = 0; i < n; i++)
      if (i != dead) ck_assert_uint_eq(st[i].unresponsive, 1ull << dead);
    free_sessions(h, sess);
    mh_free(h);
    return;
  }
  for (uint32_t i = 0; i < n; i++) {
    if (i == dead) continue;
    if (r == R_VERDICT) ck_assert_uint_eq(sess[i]->round, audit0(t));
    ck_assert_msg(st[i].state == MPC_ABORTED, "n=%u crash at %u: party %u state %d", n, r, i,
                  st[i].state);
    ck_assert_msg(st[i].err == CX_E_MPC_TIMEOUT, "n=%u crash at %u: party %u: %s", n, r, i,
                  cx_err_name(st[i].err));
    ck_assert_int_eq(st[i].culprit, -1);
    ck_assert_msg(st[i].unresponsive == (1ull << dead), "n=%u crash at %u: unresponsive %llx", n, r,
                  (unsigned long long)st[i].unresponsive);
  }
  pools_empty(h, 1ull << dead, "crash");
  free_sessions(h, sess);
  mh_free(h);
}

/* Every round up to the last echo round. */
START_TEST(test_prep_crash) {
  for (uint32_t r = 0; r <= R_VERDICT + 1; r++) crash_case(4, 1, r, r % 4);
  crash_case(7, 2, R_VERDICT, 1);
  crash_case(7, 2, R_VERDICT + 1, 3);
  crash_case(7, 2, R_VERDICT + 2, 5);
  crash_case(3, 0, R_VERDICT, 2); /* t = 0: the verdict round is the only one */
}
END_TEST

/* ---- deadlines: withholding in rounds 5 .. 5 + t ------------------------- */

/* The harness can only crash a party (drop all its messages from a round
 * on); withholding from SOME recipients needs a network that drops single
 * deliveries, so these tests run their own delivery loop over the same
 * harness (keys, pools, configs): seeded random order, a fake clock that
 * jumps past the round timeout when nothing is in flight. At each jump the
 * parties notice their deadline one after the other, in random order, and
 * what the first ones send is delivered before the next one notices: a
 * party that proceeded sends its next round to parties still in the
 * previous one (the one-round-ahead case of session_internal.h). */
typedef struct {
  uint32_t from, round;
  uint64_t to; /* recipients it is withheld from */
} drop_rule;

typedef struct {
  uint32_t from, to;
  uint8_t *buf;
  size_t len;
} dflight;

typedef struct {
  mh *h;
  mpc_session **sess;
  const drop_rule *drop;
  size_t ndrop;
  tamper_ctx *tamper; /* NULL: none */
  dflight *v;
  size_t n, cap;
  uint64_t rng;
  uint32_t dropped, refused; /* refused: messages a running session turned down */
} dnet;

static uint64_t dnet_next(dnet *d) {
  d->rng ^= d->rng << 13;
  d->rng ^= d->rng >> 7;
  d->rng ^= d->rng << 17;
  return d->rng;
}

static void dnet_push(dnet *d, uint32_t from, uint32_t to, uint32_t round, const uint8_t *buf,
                      size_t len) {
  for (size_t k = 0; k < d->ndrop; k++)
    if (d->drop[k].from == from && d->drop[k].round == round && ((d->drop[k].to >> to) & 1)) {
      d->dropped++;
      return;
    }
  if (d->n == d->cap) {
    d->cap = d->cap ? 2 * d->cap : 64;
    d->v = realloc(d->v, d->cap * sizeof *d->v);
    ck_assert_ptr_nonnull(d->v);
  }
  uint8_t *copy = malloc(len);
  ck_assert_ptr_nonnull(copy);
  memcpy(copy, buf, len);
  d->v[d->n++] = (dflight){.from = from, .to = to, .buf = copy, .len = len};
}

static void dnet_collect(dnet *d, uint32_t from, mpc_outbox *o) {
  for (size_t k = 0; k < o->n; k++) {
    mpc_msg m;
    ck_assert_int_eq(mpc_msg_decode(o->v[k].buf, o->v[k].len, &m), CX_OK);
    for (uint32_t j = 0; j < d->h->n; j++)
      if (j != from && (o->v[k].to == MPC_TO_ALL || o->v[k].to == j))
        dnet_push(d, from, j, m.round, o->v[k].buf, o->v[k].len);
  }
  mpc_outbox_clear(o);
}

static void dnet_deliver(dnet *d, size_t k, mpc_outbox *o) {
  dflight f = d->v[k];
  d->v[k] = d->v[--d->n];
  mpc_session *s = d->sess[f.to];
  mpc_msg m;
  if (d->tamper && mpc_msg_decode(f.buf, f.len, &m) == CX_OK) {
    uint8_t *payload = NULL, *buf = NULL;
    size_t len = 0, blen = 0;
    if (tamper_hook(d->tamper, f.from, f.to, &m, &payload, &len)) {
      ck_assert_int_eq(mpc_msg_encode(d->h->keys[f.from], m.kind, m.session, m.round, m.from, m.to,
                                      payload, len, &buf, &blen),
                       CX_OK);
      free(payload);
      free(f.buf);
      f.buf = buf;
      f.len = blen;
    }
  }
  if (mpc_session_status(s)->state == MPC_RUNNING) {
    cx_err e = mpc_session_recv(s, f.buf, f.len, d->h->now_ms, o);
    if (e != CX_OK && e != CX_E_MPC_STATE) d->refused++;
    dnet_collect(d, f.to, o);
  }
  free(f.buf);
}

static void dnet_flush(dnet *d, mpc_outbox *o) {
  while (d->n) dnet_deliver(d, (size_t)(dnet_next(d) % d->n), o);
}

static void run_dropping(mh *h, mpc_session **sess, const drop_rule *drop, size_t ndrop,
                         tamper_ctx *tc, dnet *d) {
  memset(d, 0, sizeof *d);
  *d = (dnet){.h = h, .sess = sess, .drop = drop, .ndrop = ndrop, .tamper = tc, .rng = tu_rand() | 1};
  mpc_outbox o = {0};
  for (uint32_t i = 0; i < h->n; i++) {
    ck_assert_int_eq(mpc_session_start(sess[i], h->now_ms, &o), CX_OK);
    dnet_collect(d, i, &o);
  }
  for (uint32_t steps = 0;; steps++) {
    ck_assert_uint_lt(steps, 1000);
    dnet_flush(d, &o);
    uint32_t order[MPC_MAX_N], running = 0;
    for (uint32_t i = 0; i < h->n; i++)
      if (mpc_session_status(sess[i])->state == MPC_RUNNING) order[running++] = i;
    if (!running) break;
    for (uint32_t k = running; k > 1; k--) { /* shuffle: who notices its deadline first */
      uint32_t r = (uint32_t)(dnet_next(d) % k), x = order[k - 1];
      order[k - 1] = order[r];
      order[r] = x;
    }
    h->now_ms += sess[0]->cfg.round_timeout_ms + 1;
    for (uint32_t k = 0; k < running; k++) {
      mpc_session_tick(sess[order[k]], h->now_ms, &o);
      dnet_collect(d, order[k], &o);
      dnet_flush(d, &o);
    }
  }
  free(d->v);
  mpc_outbox_free(&o);
}

/* Every honest party (not in cheaters) in one and the same state: all done
 * with one batch (identical pools, reconstructed across them), or all
 * timed out in the audit naming nobody with only cheaters unresponsive and
 * no pool changed, or all naming `named` with evidence that verifies. */
static void expect_agreed(mh *h, mpc_session **sess, uint64_t cheaters, outcome want, uint32_t named,
                          const char *ctx) {
  expect_outcome(h, sess, cheaters, named, want, SMALL_T, SMALL_R, 0, ctx);
  for (uint32_t i = 0; i < h->n; i++) {
    if ((cheaters >> i) & 1) continue;
    const mpc_status *st = mpc_session_status(sess[i]);
    ck_assert_msg((st->unresponsive & ~cheaters) == 0, "%s: party %u lists an honest party unresponsive",
                  ctx, i);
    if (want == OUT_TIMEOUT) /* in the audit, which needs everyone */
      ck_assert_msg(sess[i]->round == audit0(h->t), "%s: party %u timed out in round %u", ctx, i,
                    sess[i]->round);
  }
}

static void drop_case(uint32_t n, uint32_t t, uint64_t cheaters, const drop_rule *drop, size_t ndrop,
                      tamper_ctx *tc, outcome want, uint32_t named, const char *ctx) {
  mh *h = new_harness(n, t);
  mpc_session *sess[MPC_MAX_N] = {0};
  new_sessions(h, SMALL_T, SMALL_R, sess);
  dnet d;
  run_dropping(h, sess, drop, ndrop, tc, &d);
  ck_assert_msg(d.dropped > 0, "%s: nothing was withheld", ctx);
  /* Nobody ever ran two rounds ahead of a party still running, and no
   * message arrived after its round had ended: nothing was refused. */
  ck_assert_msg(d.refused == 0, "%s: %u messages refused", ctx, d.refused);
  expect_agreed(h, sess, cheaters, want, named, ctx);
  free_sessions(h, sess);
  mh_free(h);
}

#define BIT(i) (1ull << (i))
#define E1 (R_VERDICT + 1) /* echo rounds */
#define E2 (R_VERDICT + 2)

START_TEST(test_prep_withhold) {
  /* n = 4 (t = 1, echo round 4 is the last). The verdict withheld from one
   * or two honest parties: they get it relayed in echo round 1 (depth 1),
   * so all accept. */
  drop_rule v1[] = {{2, R_VERDICT, BIT(0)}}, v2[] = {{1, R_VERDICT, BIT(0) | BIT(3)}};
  drop_case(4, 1, BIT(2), v1, 1, NULL, OUT_DONE, 0, "n=4 verdict withheld from one");
  drop_case(4, 1, BIT(1), v2, 1, NULL, OUT_DONE, 0, "n=4 verdict withheld from two");
  /* The last echo message withheld from one or two honest parties (the
   * case that used to leave some accepting and the others timed out). */
  drop_rule e1[] = {{3, E1, BIT(1)}}, e2[] = {{0, E1, BIT(1) | BIT(2)}};
  drop_case(4, 1, BIT(3), e1, 1, NULL, OUT_DONE, 0, "n=4 last echo withheld from one");
  drop_case(4, 1, BIT(0), e2, 1, NULL, OUT_DONE, 0, "n=4 last echo withheld from two");
  /* Both at once: the verdict sent to party 1 only and the last echo
   * message to nobody. Party 1 relays it: all accept. */
  drop_rule ve[] = {{2, R_VERDICT, BIT(0) | BIT(3)}, {2, E1, BIT(0) | BIT(1) | BIT(3)}};
  drop_case(4, 1, BIT(2), ve, 2, NULL, OUT_DONE, 0, "n=4 verdict to one, echo to none");
  /* The verdict withheld from every honest party: nobody honest extracts
   * it, all go to the audit, where the withholder's session (it has every
   * verdict: it accepted) never shows up: all time out naming nobody. */
  drop_rule vall[] = {{1, R_VERDICT, BIT(0) | BIT(2) | BIT(3)}};
  drop_case(4, 1, BIT(1), vall, 1, NULL, OUT_TIMEOUT, 0, "n=4 verdict to none");
  /* n = 7 (t = 2, echo rounds 4 and 5). Party 1's verdict goes only to its
   * accomplice 4, which relays it in echo round 1 to party 0 only; party 0
   * relays it in the last echo round (two relayers): all extract it, all
   * accept. */
  drop_rule a[] = {{1, R_VERDICT, all_of(7) & ~BIT(4)}, {4, E1, all_of(7) & ~BIT(0)}};
  drop_case(7, 2, BIT(1) | BIT(4), a, 2, NULL, OUT_DONE, 0, "n=7 verdict through an accomplice");
  /* The accomplice relays it to nobody: nobody honest has it; all audit
   * and time out (the withholder accepted). */
  drop_rule b[] = {{1, R_VERDICT, all_of(7) & ~BIT(4)}, {4, E1, all_of(7)}};
  drop_case(7, 2, BIT(1) | BIT(4), b, 2, NULL, OUT_TIMEOUT, 0, "n=7 verdict to an accomplice only");
  /* Both cheaters withhold their last echo messages from some honest
   * parties, and one its verdict from two. */
  drop_rule c[] = {{3, R_VERDICT, BIT(0) | BIT(5)}, {3, E2, BIT(0) | BIT(2)}, {6, E2, BIT(5)}};
  drop_case(7, 2, BIT(3) | BIT(6), c, 3, NULL, OUT_DONE, 0, "n=7 last echoes withheld");
}
END_TEST

/* A batch that fails (a wrong share in round 2) with a verdict missing at
 * some parties: everyone goes to the audit with a blob whose missing
 * verdict is empty, and everyone names the cheater, the evidence (its own
 * blob, which lacks an honest party's verdict) verifying. */
START_TEST(test_prep_withhold_audit) {
  uint32_t cheater = 2;
  tamper_ctx tc = {.rule = {{cheater, R_FAIL, MPC_TO_ALL, POS_FIRST}}, .nrules = 1};
  drop_rule d[] = {{cheater, R_VERDICT, BIT(0)}, {1, R_VERDICT, BIT(cheater)}};
  drop_case(4, 1, BIT(cheater), d, 2, &tc, OUT_NAMED, cheater, "n=4 audit, verdicts missing");
  tamper_ctx tc7 = {.rule = {{5, R_FAIL, MPC_TO_ALL, POS_LAST}}, .nrules = 1};
  drop_rule d7[] = {{5, R_VERDICT, BIT(0) | BIT(1)}, {5, E2, BIT(2)}, {3, R_VERDICT, BIT(5)}};
  drop_case(7, 2, BIT(5), d7, 3, &tc7, OUT_NAMED, 5, "n=7 audit, verdicts missing");
}
END_TEST

/* ---- beyond one message ------------------------------------------------- */

/* A batch whose audit does not fit one message (from about 56 000 triples
 * at n = 4; the audit was split when the limit was 30 235): it is made and
 * checked like any other, and when it fails, the audit spans several rounds at the real
 * chunk size and still names the cheater with evidence that verifies. */
START_TEST(test_prep_big) {
  size_t T = 60000, R = 100;
  mh *h = mh_new(4, 1, tu_rand(), T);
  ck_assert_ptr_nonnull(h);
  ck_assert_uint_eq(mh_prep(h, T, R, NULL), 4);
  check_material(h, T, R, NULL);
  mh_free(h);
  h = mh_new(4, 1, tu_rand(), T);
  uint32_t cheater = 2;
  tamper_ctx tc = {.rule = {{cheater, R_FAIL, MPC_TO_ALL, POS_LAST}}, .nrules = 1};
  mpc_session *sess[MPC_MAX_N] = {0};
  run_tampered(h, T, R, &tc, sess);
  expect_outcome(h, sess, 1ull << cheater, cheater, OUT_NAMED, T, R, 0, "big");
  for (uint32_t i = 0; i < 4; i++) {
    if (i == cheater) continue;
    const mpc_evidence *ev = mpc_session_evidence(sess[i]);
    ck_assert_int_eq(ev->type, MPC_EV_AUDIT);
    ck_assert_uint_eq(ev->count, 3); /* two chunks and the message */
    /* Rounds 0 .. audit0 completed; the judgement came in the second audit round. */
    ck_assert_uint_eq(mpc_session_status(sess[i])->rounds, audit0(1) + 1);
  }
  free_sessions(h, sess);
  mh_free(h);
}
END_TEST

/* ---- PRSS mode (n <= 9) --------------------------------------------------- */

/* Which mode a size gets: PRSS while a party is in at most 28 key sets
 * (n = 9, t = 2 is the last), dealers from n = 10 (84 sets). The rounds
 * tell them apart: a passing batch takes 3 + t under PRSS, 4 + t with
 * dealers (honest_batch checks). */
START_TEST(test_prss_sizes) {
  honest_batch(9, 2, 20, 7);
  honest_batch(10, 3, 5, 3);
  honest_batch(8, 2, 6, 2);
}
END_TEST

/* A PRSS batch of 60,000 triples: material made in tiles of 256 (the last
 * one partial) is the same sharing at every party. */
START_TEST(test_prss_big) {
  size_t T = 60000, R = 300;
  mh *h = mh_new(4, 1, tu_rand(), T);
  ck_assert_ptr_nonnull(h);
  g_n = 4;
  g_t = 1;
  ck_assert_uint_eq(mh_prep(h, T, R, NULL), 4);
  check_material(h, T, R, NULL);
  mh_free(h);
}
END_TEST

/* PRSS needs no deal, so only the products bound a batch: 32 K + 16
 * ceil(T / n) bytes in round 1 to the last king (K = C(n - 1, t) digests),
 * and R only by the common cap on any count. */
static int prss_fits(uint32_t n, uint32_t t, uint64_t T) {
  return 32 * binom(n - 1, t) + 16 * ((T + n - 1) / n) <= MPC_MAX_PAYLOAD;
}

START_TEST(test_prss_limits) {
  mh *h = new_harness(4, 1);
  size_t max4 = max_triples(h, 0);
  ck_assert_uint_eq(max4, 1572840);
  ck_assert(prss_fits(4, 1, max4) && !prss_fits(4, 1, max4 + 1));
  ck_assert_uint_eq(max_triples(h, 100000), 1572840);
  ck_assert_uint_eq(max_rands(h), MPC_MAX_PAYLOAD);
  mh_free(h);
  h = new_harness(7, 2);
  size_t max7 = max_triples(h, 0);
  ck_assert_uint_eq(max7, 2752302);
  ck_assert(prss_fits(7, 2, max7) && !prss_fits(7, 2, max7 + 1));
  mh_free(h);
}
END_TEST

/* The sites of a PRSS batch: a key changed (its recipient's digest then
 * differs from the other members'), the message of keys one element too
 * long or one byte short (provably malformed: its length is fixed by n, t,
 * sender and recipient), a digest changed, a product share changed (the
 * king sees it), an opened value of a king changed (for one recipient the
 * transcripts differ; for all, w shows it), the check share w changed, and
 * the verdict and echo sites of the dealer mode. */
static const site k_prss_sites[] = {
    {0, POS_KEY},      {0, POS_GROW},      {0, POS_SHORT},      {1, POS_DIGEST},
    {1, POS_FIRST},    {1, POS_LAST},      {2, POS_FIRST},      {2, POS_LAST},
    {3, POS_VERDICT},  {3, POS_HASH},      {3, POS_W},          {3, POS_SHORT},
    {3, POS_BYTE2},    {4, POS_ECHO_SIG},  {4, POS_ECHO_JUNK},  {4, POS_ECHO_COUNT},
};
#define PRSS_SITES (sizeof k_prss_sites / sizeof k_prss_sites[0])

START_TEST(test_prss_tamper_matrix) {
  uint32_t n = 4;
  g_fired0 = 0;
  for (size_t k = 0; k < PRSS_SITES; k++)
    for (uint32_t c = 0; c < n; c++) {
      tamper_case(n, 1, c, k_prss_sites[k].round, k_prss_sites[k].pos, (c + 1 + (uint32_t)k % 3) % n,
                  c == 0);
      tamper_case(n, 1, c, k_prss_sites[k].round, k_prss_sites[k].pos, MPC_TO_ALL, 0);
    }
  /* Parties 0 and 1 deal keys at n = 4; 2 and 3 deal none (their round-0
   * messages are empty: only POS_GROW fires). */
  ck_assert_uint_ge(g_fired0, 12);
}
END_TEST

START_TEST(test_prss_tamper_n7) {
  uint32_t n = 7;
  for (size_t k = 0; k < PRSS_SITES; k++) {
    uint32_t c = (uint32_t)(k * 3) % n;
    tamper_case(n, 2, c, k_prss_sites[k].round, k_prss_sites[k].pos, (c + 4) % n, k == 0);
    tamper_case(n, 2, (c + 5) % n, k_prss_sites[k].round, k_prss_sites[k].pos, MPC_TO_ALL, 0);
  }
  /* Keys from the busiest dealer (party 0 deals every set it is in). */
  tamper_case(n, 2, 0, 0, POS_KEY, 6, 1);
  tamper_case(n, 2, 0, 0, POS_KEY, MPC_TO_ALL, 0);
  tamper_case(n, 2, 3, R_VERDICT + 2, POS_ECHO_JUNK, 1, 0);
}
END_TEST

START_TEST(test_prss_malformed) {
  malformed_case(0, POS_SHORT, 1, 1);
  malformed_case(0, POS_GROW, 1, 1);
  malformed_case(R_MULT, POS_SHORT, 1, 1);
  malformed_case(R_MULT, POS_GROW, 1, 0); /* fits a batch one triple larger */
  malformed_case(R_MULT, POS_NONCANON, 1, 1);
  malformed_case(R_MULT, POS_SHORT, MPC_TO_ALL, 1);
  malformed_case(0, POS_GROW, MPC_TO_ALL, 1);
  /* A king's opened values: whole canonical elements, any count. */
  malformed_case(R_KING, POS_SHORT, 1, 1);
  malformed_case(R_KING, POS_GROW, 1, 0);
  malformed_case(R_KING, POS_NONCANON, MPC_TO_ALL, 1);
  malformed_case(R_VERDICT, POS_SHORT, 1, 0);
  malformed_case(R_VERDICT, POS_BYTE2, 1, 1);
}
END_TEST

/* A king that opens a wrong value to everyone and keeps it itself, so
 * that every transcript agrees: the kings' check w fails at every party,
 * the audit's replay of the king names it. Mutation-checked: without the
 * check every party accepts the wrong triple. */
START_TEST(test_prss_lying_king) {
  for (uint32_t n = 4; n <= 7; n += 3) {
    uint32_t t = (n - 1) / 3;
    for (uint32_t king = 0; king < n; king += n - 1) {
      char ctx[64];
      snprintf(ctx, sizeof ctx, "n=%u lying king %u", n, king);
      mh *h = new_harness(n, t);
      mpc_session *sess[MPC_MAX_N] = {0};
      mpc_prep_lying_king = (int)king;
      run_hooked(h, SMALL_T, SMALL_R, NULL, NULL, sess);
      mpc_prep_lying_king = -1;
      expect_outcome(h, sess, 1ull << king, king, OUT_NAMED, SMALL_T, SMALL_R, king == 0, ctx);
      for (uint32_t i = 0; i < n; i++)
        if (i != king) ck_assert_int_eq(mpc_session_evidence(sess[i])->type, MPC_EV_AUDIT);
      free_sessions(h, sess);
      mh_free(h);
    }
  }
}
END_TEST

/* Coin evidence does not exist under PRSS: a verifier refuses it even when
 * its two messages are a real round-0 and round-1 message that "mismatch". */
START_TEST(test_prss_no_coin) {
  mh *h = new_harness(4, 1);
  mpc_session *sess[MPC_MAX_N] = {0};
  tamper_ctx tc = {.rule = {{0, R_MULT, MPC_TO_ALL, POS_FIRST}}, .nrules = 1};
  run_tampered(h, SMALL_T, SMALL_R, &tc, sess);
  expect_outcome(h, sess, 1, 0, OUT_NAMED, SMALL_T, SMALL_R, 0, "no coin");
  const mpc_msg *c0 = mpc_inbox_get(sess[1]->inbox, 0, 0), *c1 = mpc_inbox_get(sess[1]->inbox, 1, 0);
  ck_assert_ptr_nonnull(c0);
  ck_assert_ptr_nonnull(c1);
  uint8_t *cm[2] = {(uint8_t *)c0->raw, (uint8_t *)c1->raw};
  size_t cl[2] = {c0->raw_len, c1->raw_len};
  mpc_evidence f = {.type = MPC_EV_COIN, .culprit = 0, .count = 2, .msg = cm, .len = cl};
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &f), CX_E_INVALID_ARG);
  free_sessions(h, sess);
  mh_free(h);
}
END_TEST

/* A batch of randoms only: no product can notice a split key, only the
 * digests do. A dealer that gives one member another key (so that the
 * members' shares of every r lie on no common polynomial) is named. */
START_TEST(test_prss_split_key_rands) {
  uint32_t targets[] = {1, 2, 3, MPC_TO_ALL};
  for (size_t k = 0; k < 4; k++) {
    mh *h = new_harness(4, 1);
    tamper_ctx tc = {.rule = {{0, 0, targets[k], POS_KEY}}, .nrules = 1};
    mpc_session *sess[MPC_MAX_N] = {0};
    run_tampered(h, 0, SMALL_R, &tc, sess);
    ck_assert_uint_gt(tc.hits, 0);
    expect_outcome(h, sess, 1, 0, OUT_NAMED, 0, SMALL_R, k == 0, "split key, randoms only");
    free_sessions(h, sess);
    mh_free(h);
  }
}
END_TEST

/* The products are opened masked (CDI05's zero sharing): party i's round-1
 * share is a_i b_i - s_i - z_i with z a degree-2t sharing of 0 that is not
 * 0, so the opened polynomial is uniform given ab - s. Without z, the
 * shares would be a(x) b(x) - s(x), which leaks. Read from the outside: z_i
 * = a_i b_i - (c_i - U) - u_i must be a consistent degree-2t sharing of 0,
 * of degree above t (not the product of the sharings). */
/* The polynomial through (xs[i], ys[i]), i < m, at x (Lagrange). */
static fe lagrange_at(const fe *xs, const fe *ys, uint32_t m, fe x) {
  fe v = 0;
  for (uint32_t i = 0; i < m; i++) {
    fe num = 1, den = 1;
    for (uint32_t l = 0; l < m; l++) {
      if (l == i) continue;
      num = fe_mul(num, fe_sub(x, xs[l]));
      den = fe_mul(den, fe_sub(xs[i], xs[l]));
    }
    v = fe_add(v, fe_mul(ys[i], fe_mul(num, fe_inv(den))));
  }
  return v;
}

static void masked_case(uint32_t n, uint32_t t) {
  enum { TT = 12 };
  mh *h = new_harness(n, t);
  mpc_session *sess[MPC_MAX_N] = {0};
  new_sessions(h, TT, 0, sess);
  ck_assert_uint_eq(mh_run(h, sess), n);
  mpc_shamir sh;
  ck_assert_int_eq(shamir_init(&sh, n, t), CX_OK);
  fe a[MPC_MAX_N][TT], b[MPC_MAX_N][TT], c[MPC_MAX_N][TT], u[MPC_MAX_N][TT];
  size_t pre = elem_prefix(R_MULT);
  for (uint32_t i = 0; i < n; i++)
    ck_assert_int_eq(mpc_pool_take_triples(h->pools[i], TT, a[i], b[i], c[i]), CX_OK);
  /* Product k's shares went to its king only, which sent none of its own:
   * that one is the degree-2t polynomial through the others' at its
   * alpha, and the king's round-2 value must be the polynomial at 0. */
  for (uint32_t kg = 0; kg < n; kg++) {
    size_t lo = TT * kg / n, hi = TT * (kg + 1) / n;
    for (uint32_t i = 0; i < n; i++) {
      if (i == kg) continue;
      const mpc_msg *m = mpc_inbox_get(sess[kg]->inbox, R_MULT, i);
      ck_assert_ptr_nonnull(m);
      ck_assert_uint_eq(m->len, pre + (hi - lo) * FE_BYTES);
      for (size_t k = lo; k < hi; k++)
        ck_assert_int_eq(fe_decode(m->payload + pre + (k - lo) * FE_BYTES, &u[i][k]), 0);
    }
    for (size_t k = lo; k < hi; k++) {
      fe xs[MPC_MAX_N], ys[MPC_MAX_N];
      uint32_t m = 0;
      for (uint32_t i = 0; i < n && m < 2 * t + 1; i++)
        if (i != kg) xs[m] = sh.alpha[i], ys[m++] = u[i][k];
      u[kg][k] = lagrange_at(xs, ys, m, sh.alpha[kg]);
    }
    const mpc_msg *m2 = mpc_inbox_get(sess[(kg + 1) % n]->inbox, R_KING, kg);
    ck_assert_ptr_nonnull(m2);
    ck_assert_uint_eq(m2->len, (hi - lo) * FE_BYTES);
    for (size_t k = lo; k < hi; k++) {
      fe Uk, xs[MPC_MAX_N], ys[MPC_MAX_N];
      for (uint32_t i = 0; i < n; i++) xs[i] = sh.alpha[i], ys[i] = u[i][k];
      ck_assert_int_eq(fe_decode(m2->payload + (k - lo) * FE_BYTES, &Uk), 0);
      ck_assert(Uk == lagrange_at(xs, ys, 2 * t + 1, 0));
    }
  }
  for (size_t k = 0; k < TT; k++) {
    fe col[MPC_MAX_N], z[MPC_MAX_N], U = 0, zs = 0;
    const fe *pu[MPC_MAX_N], *pz[MPC_MAX_N];
    size_t bad = 0;
    for (uint32_t i = 0; i < n; i++) {
      col[i] = u[i][k];
      pu[i] = &col[i];
    }
    ck_assert_int_eq(shamir_check(&sh, 2 * t, pu, 1, &U, &bad), 0);
    for (uint32_t i = 0; i < n; i++) {
      z[i] = fe_sub(fe_sub(fe_mul(a[i][k], b[i][k]), fe_sub(c[i][k], U)), u[i][k]);
      pz[i] = &z[i];
    }
    ck_assert_int_eq(shamir_check(&sh, 2 * t, pz, 1, &zs, &bad), 0);
    ck_assert_msg(zs == 0, "product %zu: the mask's secret is not 0", k);
    ck_assert_msg(shamir_check(&sh, t, pz, 1, &zs, &bad) != 0, "product %zu: no degree-2t mask", k);
  }
  shamir_free(&sh);
  free_sessions(h, sess);
  mh_free(h);
}

START_TEST(test_prss_masked) {
  masked_case(4, 1);
  masked_case(7, 2);
}
END_TEST

/* ---- PRSS bits ------------------------------------------------------------ */

/* Takes B bits from every pool: each is a consistent degree-t sharing of 0
 * or 1, and both values occur. */
static void check_bits(mh *h, size_t B) {
  uint32_t n = h->n;
  mpc_shamir sh;
  ck_assert_int_eq(shamir_init(&sh, n, h->t), CX_OK);
  fe *v[MPC_MAX_N] = {0}, *val = calloc(B, sizeof(fe));
  for (uint32_t i = 0; i < n; i++) {
    mpc_pool_level lv;
    mpc_pool_level_get(h->pools[i], &lv);
    ck_assert_uint_eq(lv.bits, B);
    v[i] = calloc(B, sizeof(fe));
    ck_assert_int_eq(mpc_pool_take_bits(h->pools[i], B, v[i]), CX_OK);
  }
  size_t bad = 0, ones = 0;
  ck_assert_int_eq(shamir_check(&sh, h->t, (const fe *const *)v, B, val, &bad), 0);
  for (size_t k = 0; k < B; k++) {
    ck_assert_msg(val[k] <= 1, "bit %zu is not a bit", k);
    ones += (size_t)val[k];
  }
  ck_assert_uint_gt(ones, 0);
  ck_assert_uint_lt(ones, B);
  for (uint32_t i = 0; i < n; i++) free(v[i]);
  free(val);
  shamir_free(&sh);
}

/* Bits in a batch with triples and randoms, and alone: r from the keys,
 * r^2 opened (masked) with the products, b = (r / sqrt(r^2) + 1) / 2. */
static void bits_case(uint32_t n, uint32_t t, size_t T, size_t R, size_t B) {
  mh *h = new_harness(n, t);
  mpc_session *sess[MPC_MAX_N] = {0};
  for (uint32_t i = 0; i < n; i++) {
    mpc_session_config cfg;
    mh_config(h, i, &cfg);
    ck_assert_int_eq(mpc_session_prep(&cfg, T, R, B, 0, h->pools[i], &sess[i]), CX_OK);
  }
  mh_next_session(h);
  ck_assert_uint_eq(mh_run(h, sess), n);
  for (uint32_t i = 0; i < n; i++) ck_assert_uint_eq(mpc_session_status(sess[i])->rounds, 4 + t);
  free_sessions(h, sess);
  check_bits(h, B);
  check_material(h, T, R, NULL);
  mh_free(h);
}

START_TEST(test_prss_bits) {
  bits_case(4, 1, 20, 5, 300);
  bits_case(4, 1, 0, 0, 513); /* a partial last tile */
  bits_case(7, 2, 3, 0, 100);
  bits_case(3, 0, 0, 2, 40);
  /* mpc_session_bits is such a batch under PRSS */
  mh *h = new_harness(4, 1);
  ck_assert_uint_eq(mh_bits(h, 64, NULL), 4);
  check_bits(h, 64);
  mh_free(h);
}
END_TEST

/* run_tampered for a batch of B bits and I ints alone (PRSS): one at every
 * party under tc's rules, run to its end (sessions left in sess); the
 * rules must have hit. */
static void run_tampered_bi(mh *h, tamper_ctx *tc, size_t B, size_t I, mpc_session **sess) {
  h->tamper = tamper_hook;
  h->tamper_ctx = tc;
  for (uint32_t i = 0; i < h->n; i++) {
    mpc_session_config cfg;
    mh_config(h, i, &cfg);
    ck_assert_int_eq(mpc_session_prep(&cfg, 0, 0, B, I, h->pools[i], &sess[i]), CX_OK);
  }
  mh_next_session(h);
  mh_run(h, sess);
  h->tamper = NULL;
  ck_assert_uint_gt(tc->hits, 0);
}

/* A wrong share of a square (the last element of round 1) is caught like a
 * wrong product share; a split key in a bits-only batch too. */
START_TEST(test_prss_bits_tamper) {
  for (int k = 0; k < 3; k++) {
    mh *h = new_harness(4, 1);
    uint32_t cheater = k == 2 ? 0 : (uint32_t)k; /* party 0 deals keys to everyone */
    tamper_ctx tc = {.rule = {{cheater, k == 2 ? 0 : R_MULT, k == 1 ? 2 : MPC_TO_ALL, k == 2 ? POS_KEY : POS_LAST}},
                     .nrules = 1};
    mpc_session *sess[MPC_MAX_N] = {0};
    run_tampered_bi(h, &tc, 40, 0, sess);
    expect_outcome(h, sess, 1ull << cheater, cheater, OUT_NAMED, 0, 0, k == 0, "bits tamper");
    for (uint32_t i = 0; i < 4; i++) {
      mpc_pool_level lv;
      mpc_pool_level_get(h->pools[i], &lv);
      if (i != cheater) ck_assert_uint_eq(lv.bits, 0);
    }
    free_sessions(h, sess);
    mh_free(h);
  }
}
END_TEST

/* Ints (mpc.h) send nothing, so only the keys can be wrong: a key split by
 * its dealer in an ints-only batch is caught by the digests and its dealer
 * named by the audit (whose blob header carries I), and no honest pool
 * takes the batch. An honest ints batch is a consistent degree-t sharing
 * of values below C(n, t) 2^kappa (test_mpc_online t_ints opens them). */
START_TEST(test_prss_ints) {
  mh *h = new_harness(4, 1);
  tamper_ctx tc = {.rule = {{0, 0, MPC_TO_ALL, POS_KEY}}, .nrules = 1};
  mpc_session *sess[MPC_MAX_N] = {0};
  run_tampered_bi(h, &tc, 0, 40, sess);
  expect_outcome(h, sess, 1ull, 0, OUT_NAMED, 0, 0, 0, "ints key tamper");
  for (uint32_t i = 1; i < 4; i++) {
    mpc_pool_level lv;
    mpc_pool_level_get(h->pools[i], &lv);
    ck_assert_uint_eq(lv.ints, 0);
  }
  free_sessions(h, sess);
  /* honest, with triples: every party's ints lie on one degree-t polynomial */
  ck_assert_uint_eq(mh_prep_ints(h, 5, 0, 300, NULL), 4);
  mpc_shamir sh;
  ck_assert_int_eq(shamir_init(&sh, 4, 1), CX_OK);
  fe *v[MPC_MAX_N] = {0}, val[300];
  for (uint32_t i = 0; i < 4; i++) {
    v[i] = calloc(300, sizeof(fe));
    ck_assert_int_eq(mpc_pool_take_ints(h->pools[i], 300, v[i]), CX_OK);
  }
  size_t bad = 0;
  ck_assert_int_eq(shamir_check(&sh, 1, (const fe *const *)v, 300, val, &bad), 0);
  for (size_t k = 0; k < 300; k++) ck_assert(val[k] < ((fe)4 << MPC_KAPPA)); /* C(4, 1) = 4 sets */
  for (uint32_t i = 0; i < 4; i++) free(v[i]);
  shamir_free(&sh);
  check_material(h, 5, 0, NULL);
  mh_free(h);
}
END_TEST

/* Bits in a prep batch exist only under PRSS; T + B share round 1's limit:
 * the last king's range, ceil((T + B) / n) items. */
START_TEST(test_prss_bits_limits) {
  mh *h = new_harness(4, 1);
  /* a king's range of at most 393,210 = (MPC_MAX_PAYLOAD - 32 K) / 16 items */
  ck_assert(mpc_prep_fits(4, 1, 0, 0, 1572840) && !mpc_prep_fits(4, 1, 0, 0, 1572841));
  ck_assert(mpc_prep_fits(4, 1, 200000, 7, 1372840) && !mpc_prep_fits(4, 1, 200000, 7, 1372841));
  ck_assert(!mpc_prep_fits(10, 3, 0, 0, 1)); /* dealers at n = 10 */
  ck_assert(mpc_prep_prss(9, 2) && !mpc_prep_prss(10, 3));
  mpc_prep_dealers = 1;
  mpc_session_config cfg;
  mh_config(h, 0, &cfg);
  mpc_session *s = (mpc_session *)1;
  ck_assert_int_eq(mpc_session_prep(&cfg, 1, 1, 1, 0, h->pools[0], &s), CX_E_INVALID_ARG);
  ck_assert_ptr_null(s);
  s = (mpc_session *)1;
  ck_assert_int_eq(mpc_session_prep(&cfg, 1, 1, 0, 1, h->pools[0], &s), CX_E_INVALID_ARG); /* ints too */
  ck_assert_ptr_null(s);
  mpc_prep_dealers = 0;
  mh_free(h);
}
END_TEST

static void mode_dealers(void) {
  mpc_prep_dealers = 1;
  g_prss = 0;
}
static void mode_prss(void) {
  mpc_prep_dealers = 0;
  g_prss = 1;
}
static void mode_reset(void) { mpc_prep_dealers = 0; }

static Suite *suite(void) {
  Suite *s = suite_create("mpc_prep");
  /* Dealer extraction, forced at every n (its own mode from n = 10). */
  TCase *tc = tcase_create("dealers");
  tcase_add_checked_fixture(tc, mode_dealers, mode_reset);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_prep_n4);
  tcase_add_test(tc, test_prep_n7);
  tcase_add_test(tc, test_prep_edge_sizes);
  tcase_add_test(tc, test_prep_batches_differ);
  tcase_add_test(tc, test_prep_deterministic);
  tcase_add_test(tc, test_prep_limits);
  tcase_add_test(tc, test_prep_pool_full);
  tcase_add_test(tc, test_prep_tamper_matrix);
  tcase_add_test(tc, test_prep_tamper_n7);
  tcase_add_test(tc, test_prep_malformed);
  tcase_add_test(tc, test_prep_audit_lies);
  tcase_add_test(tc, test_prep_audit_refused);
  tcase_add_test(tc, test_prep_audit_chunks);
  tcase_add_test(tc, test_prep_agreement);
  tcase_add_test(tc, test_prep_evidence_no_proof);
  tcase_add_test(tc, test_prep_no_framing);
  tcase_add_test(tc, test_prep_product_shift);
  tcase_add_test(tc, test_prep_double_secret);
  tcase_add_test(tc, test_prep_crash);
  tcase_add_test(tc, test_prep_withhold);
  tcase_add_test(tc, test_prep_withhold_audit);
  tcase_add_test(tc, test_prep_big);
  suite_add_tcase(s, tc);
  /* PRSS (the mode of n <= 9): the tests that hold in both modes, and its
   * own sites, sizes and limits. */
  TCase *tp = tcase_create("prss");
  tcase_add_checked_fixture(tp, mode_prss, mode_reset);
  tcase_set_timeout(tp, 120);
  tcase_add_test(tp, test_prep_n4);
  tcase_add_test(tp, test_prep_n7);
  tcase_add_test(tp, test_prep_edge_sizes);
  tcase_add_test(tp, test_prep_batches_differ);
  tcase_add_test(tp, test_prep_deterministic);
  tcase_add_test(tp, test_prep_pool_full);
  tcase_add_test(tp, test_prss_sizes);
  tcase_add_test(tp, test_prss_big);
  tcase_add_test(tp, test_prss_limits);
  tcase_add_test(tp, test_prss_tamper_matrix);
  tcase_add_test(tp, test_prss_tamper_n7);
  tcase_add_test(tp, test_prss_malformed);
  tcase_add_test(tp, test_prss_no_coin);
  tcase_add_test(tp, test_prss_lying_king);
  tcase_add_test(tp, test_prss_split_key_rands);
  tcase_add_test(tp, test_prss_masked);
  tcase_add_test(tp, test_prss_bits);
  tcase_add_test(tp, test_prss_bits_tamper);
  tcase_add_test(tp, test_prss_ints);
  tcase_add_test(tp, test_prss_bits_limits);
  tcase_add_test(tp, test_prep_audit_lies);
  tcase_add_test(tp, test_prep_audit_refused);
  tcase_add_test(tp, test_prep_audit_chunks);
  tcase_add_test(tp, test_prep_agreement);
  tcase_add_test(tp, test_prep_no_framing);
  tcase_add_test(tp, test_prep_product_shift);
  tcase_add_test(tp, test_prep_crash);
  tcase_add_test(tp, test_prep_withhold);
  tcase_add_test(tp, test_prep_withhold_audit);
  suite_add_tcase(s, tp);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
