/* Private results and the in-process consortium of the MPC engine:
 * MPC_OP_OUTPUT_SHARE (mpc/program.c, mpc/online.c), reconstruction by a
 * reader (mpc_reconstruct, mpc/reconstruct.c) and mpc_local (mpc/local.c).
 *
 * OUTPUT_SHARE runs on the harness (mpc_harness.h), which can watch the
 * sessions between deliveries and crash a party; mpc_local runs real prep,
 * bits and online sessions end to end. Every result is compared with plain
 * integer arithmetic on the same inputs. */
#include <check.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"
#include "mpc.h"
#include "mpc_harness.h"
#include "shamir.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------- */

static fe rnd_fe(void) {
  fe x = ((fe)tu_rand() << 64 | tu_rand()) & FE_P;
  return x == FE_P ? 0 : x;
}

static int64_t rnd_range(int64_t lo, int64_t hi) {
  return lo + (int64_t)(tu_rand() % (uint64_t)(hi - lo + 1));
}

static void emit(mpc_program *p, uint16_t op, uint32_t d, uint32_t a, uint32_t b, uint64_t imm) {
  mpc_ins in = {.op = op, .d = d, .a = a, .b = b, .imm = imm};
  mpc_prog_emit(p, &in);
}

static void output_share(mpc_program *p, uint32_t a, uint64_t slot) {
  emit(p, MPC_OP_OUTPUT_SHARE, 0, a, 0, slot);
}

/* Dealer-made material into the harness pools (these tests are about
 * OUTPUT_SHARE, not about prep). */
static void fill_rands(mh *h, size_t count) {
  fe *v = malloc(count * sizeof *v);
  fe **sh = calloc(h->n, sizeof *sh);
  ck_assert_ptr_nonnull(v);
  ck_assert_ptr_nonnull(sh);
  for (uint32_t i = 0; i < h->n; i++) ck_assert_ptr_nonnull(sh[i] = malloc(count * sizeof(fe)));
  for (size_t k = 0; k < count; k++) v[k] = rnd_fe();
  mh_share(h, v, count, sh);
  for (uint32_t i = 0; i < h->n; i++) {
    ck_assert_int_eq(mpc_pool_put_rands(h->pools[i], sh[i], count), CX_OK);
    free(sh[i]);
  }
  free(sh);
  free(v);
}

/* ---- OUTPUT_SHARE: the static check and the cost ----------------------- */

START_TEST(test_share_check) {
  char err[200];
  /* A slot used twice is refused, named at its second use. */
  mpc_program *p = mpc_prog_new();
  uint32_t r = mpc_rand(p, 2);
  output_share(p, r, 5);
  output_share(p, r, 5);
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_E_MPC_PROGRAM);
  ck_assert_ptr_nonnull(strstr(err, "instruction 2 (OUTPUT_SHARE): share slot 5 is already used"));
  mpc_prog_free(p);
  /* Share slots are apart from OUTPUT slots: slot 5 of each is fine. */
  p = mpc_prog_new();
  r = mpc_rand(p, 2);
  output_share(p, r, 5);
  mpc_output(p, r, 5);
  output_share(p, r, 6);
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_OK);
  /* No round and no material of its own. */
  mpc_prog_cost c;
  mpc_prog_cost_get(p, &c);
  ck_assert_uint_eq(c.rands, 2);
  ck_assert_uint_eq(c.triples, 0);
  ck_assert_uint_eq(c.bits, 0);
  ck_assert_uint_eq(c.rounds, 1); /* the OUTPUT's */
  mpc_prog_free(p);
  p = mpc_prog_new();
  r = mpc_rand(p, 3);
  output_share(p, r, 0);
  mpc_prog_cost_get(p, &c);
  ck_assert_uint_eq(c.rounds, 0);
  ck_assert_uint_eq(c.rands, 3);
  mpc_prog_free(p);
  /* A slot that mpc_session_output_share could not name. */
  p = mpc_prog_new();
  output_share(p, mpc_rand(p, 1), (uint64_t)UINT32_MAX + 1);
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_E_MPC_PROGRAM);
  ck_assert_ptr_nonnull(strstr(err, "over 2^32 - 1"));
  mpc_prog_free(p);
  /* A register never written. */
  p = mpc_prog_new();
  uint32_t x = mpc_sreg(p);
  output_share(p, x, 0);
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_E_MPC_PROGRAM);
  ck_assert_ptr_nonnull(strstr(err, "OUTPUT_SHARE"));
  ck_assert_ptr_nonnull(strstr(err, "before it is written"));
  mpc_prog_free(p);
}
END_TEST

/* ---- OUTPUT_SHARE on the harness --------------------------------------- */

typedef struct {
  mpc_session **sess;
  uint32_t n;
  int early; /* a running session released shares */
  uint64_t seen;
} watch;

/* Called at every delivery: no session may release shares before it is
 * done. */
static int watch_hook(void *ctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload,
                      size_t *len) {
  watch *w = ctx;
  for (uint32_t i = 0; i < w->n; i++) {
    if (!w->sess[i]) continue;
    const fe *sh = NULL;
    size_t got = mpc_session_output_share(w->sess[i], 0, &sh);
    if (mpc_session_status(w->sess[i])->state != MPC_DONE && (got || sh)) w->early = 1;
  }
  w->seen++;
  return 0;
}

/* The program: x dealt by party 0; z = x * x; share-output x (slot 0) and
 * r (slot 1) before the multiplication, output z + r. */
static mpc_program *share_prog(uint32_t len) {
  mpc_program *p = mpc_prog_new();
  uint32_t x = mpc_input(p, 0, 0, len);
  uint32_t r = mpc_rand(p, len);
  output_share(p, x, 0);
  output_share(p, r, 1);
  uint32_t z = mpc_mul(p, x, x);
  mpc_output(p, mpc_add(p, z, r), 0);
  return p;
}

static void share_run(uint32_t n, uint32_t t) {
  enum { L = 5 };
  mh *h = mh_new(n, t, tu_rand(), 64);
  ck_assert_ptr_nonnull(h);
  fill_rands(h, 2 * L);
  /* triples from a prep session (the harness runs it) */
  ck_assert_uint_eq(mh_prep(h, L, 1, NULL), n);
  mpc_program *p = share_prog(L);
  fe xs[L];
  int64_t xi[L];
  for (int k = 0; k < L; k++) {
    xi[k] = rnd_range(-1000000, 1000000);
    xs[k] = fe_from_i64(xi[k]);
  }
  const fe *in0[1] = {xs};
  size_t len0[1] = {L};
  const fe *const *inputs[MPC_MAX_N] = {in0};
  const size_t *lens[MPC_MAX_N] = {len0};
  mpc_session *sess[MPC_MAX_N] = {0};
  watch w = {.sess = sess, .n = n};
  h->tamper = watch_hook;
  h->tamper_ctx = &w;
  ck_assert_uint_eq(mh_online(h, p, inputs, lens, sess), n);
  h->tamper = NULL;
  ck_assert_int_eq(w.early, 0);
  ck_assert_uint_gt(w.seen, 0);
  /* Reconstruct x and r from every party's shares; z + r - r == x^2. */
  const fe *sx[MPC_MAX_N], *sr[MPC_MAX_N];
  for (uint32_t i = 0; i < n; i++) {
    ck_assert_uint_eq(mpc_session_output_share(sess[i], 0, &sx[i]), L);
    ck_assert_uint_eq(mpc_session_output_share(sess[i], 1, &sr[i]), L);
    ck_assert_uint_eq(mpc_session_output_share(sess[i], 2, NULL), 0); /* no such slot */
  }
  fe x[L], r[L];
  uint64_t bad = 1;
  ck_assert_int_eq(mpc_reconstruct(n, t, sx, L, x, &bad), CX_OK);
  ck_assert_uint_eq(bad, 0);
  ck_assert_int_eq(mpc_reconstruct(n, t, sr, L, r, &bad), CX_OK);
  const fe *zr = NULL;
  ck_assert_uint_eq(mpc_session_output(sess[0], 0, &zr), L);
  for (int k = 0; k < L; k++) {
    ck_assert(x[k] == xs[k]);
    ck_assert_int_eq(fe_to_i64(fe_sub(zr[k], r[k])), xi[k] * xi[k]);
  }
  for (uint32_t i = 0; i < n; i++) mpc_session_free(sess[i]);
  mpc_prog_free(p);
  mh_free(h);
}

START_TEST(test_share_released_when_done) {
  share_run(4, 1);
  share_run(7, 2);
}
END_TEST

/* A session that aborts never releases its shares. */
START_TEST(test_share_not_released_on_abort) {
  enum { L = 3 };
  mh *h = mh_new(4, 1, tu_rand(), 64);
  ck_assert_ptr_nonnull(h);
  fill_rands(h, 2 * L);
  ck_assert_uint_eq(mh_prep(h, L, 1, NULL), 4);
  mpc_program *p = share_prog(L);
  fe xs[L] = {1, 2, 3};
  const fe *in0[1] = {xs};
  size_t len0[1] = {L};
  const fe *const *inputs[MPC_MAX_N] = {in0};
  const size_t *lens[MPC_MAX_N] = {len0};
  mpc_session *sess[MPC_MAX_N] = {0};
  h->crash_round[3] = 3; /* after the input group: the MUL round times out */
  ck_assert_uint_eq(mh_online(h, p, inputs, lens, sess), 0);
  for (uint32_t i = 0; i < 3; i++) {
    ck_assert_int_eq(mpc_session_status(sess[i])->state, MPC_ABORTED);
    const fe *sh = (const fe *)1;
    ck_assert_uint_eq(mpc_session_output_share(sess[i], 0, &sh), 0);
    ck_assert_ptr_null(sh);
  }
  for (uint32_t i = 0; i < 4; i++) mpc_session_free(sess[i]);
  /* Not an online session, or NULL. */
  ck_assert_uint_eq(mpc_session_output_share(NULL, 0, NULL), 0);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* ---- mpc_reconstruct ---------------------------------------------------- */

/* Shares of vals[0..len) among n parties, degree t: sh[i] party i's. */
static fe **deal(uint32_t n, uint32_t t, const fe *vals, size_t len) {
  mpc_shamir s;
  ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
  fe **sh = calloc(n, sizeof *sh);
  ck_assert_ptr_nonnull(sh);
  for (uint32_t i = 0; i < n; i++) ck_assert_ptr_nonnull(sh[i] = malloc(len * sizeof(fe)));
  fe coef[MPC_MAX_N], y[MPC_MAX_N];
  for (size_t k = 0; k < len; k++) {
    for (uint32_t c = 0; c < t; c++) coef[c] = rnd_fe();
    shamir_share(&s, vals[k], t, coef, y);
    for (uint32_t i = 0; i < n; i++) sh[i][k] = y[i];
  }
  shamir_free(&s);
  return sh;
}

static void undeal(fe **sh, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) free(sh[i]);
  free(sh);
}

/* A random set of exactly c parties of n, avoiding `avoid`. */
static uint64_t pick(uint32_t n, uint32_t c, uint64_t avoid) {
  uint64_t m = 0;
  while ((uint32_t)__builtin_popcountll(m) < c) {
    uint32_t j = (uint32_t)(tu_rand() % n);
    if (!(avoid >> j & 1)) m |= (uint64_t)1 << j;
  }
  return m;
}

static void reconstruct_case(uint32_t n, uint32_t t) {
  enum { L = 40 };
  fe vals[L], out[L];
  for (int k = 0; k < L; k++) vals[k] = k % 5 == 0 ? (fe)k : rnd_fe();
  fe **sh = deal(n, t, vals, L);
  const fe *v[MPC_MAX_N];
  uint64_t bad = 99;
  for (uint32_t i = 0; i < n; i++) v[i] = sh[i];
  /* all honest */
  ck_assert_int_eq(mpc_reconstruct(n, t, v, L, out, &bad), CX_OK);
  ck_assert_uint_eq(bad, 0);
  ck_assert(memcmp(out, vals, sizeof vals) == 0);
  /* t liars, each wrong in some items: corrected and named */
  uint64_t liars = pick(n, t, 0);
  fe **w = deal(n, t, vals, L); /* a private copy to corrupt */
  for (uint32_t i = 0; i < n; i++) memcpy(w[i], sh[i], L * sizeof(fe));
  for (uint32_t j = 0; j < n; j++)
    if (liars >> j & 1) {
      w[j][tu_rand() % L] = fe_add(w[j][0], 1 + (fe)(tu_rand() % 1000)); /* at least one wrong */
      for (int k = 0; k < L; k++)
        if (tu_rand() % 3 == 0) w[j][k] = rnd_fe();
    }
  /* a liar whose shares all happen to be right is not named: recompute */
  uint64_t really = 0;
  for (uint32_t j = 0; j < n; j++)
    if (memcmp(w[j], sh[j], L * sizeof(fe)) != 0) really |= (uint64_t)1 << j;
  ck_assert_uint_eq(really, liars);
  for (uint32_t i = 0; i < n; i++) v[i] = w[i];
  ck_assert_int_eq(mpc_reconstruct(n, t, v, L, out, &bad), CX_OK);
  ck_assert_uint_eq(bad, liars);
  ck_assert(memcmp(out, vals, sizeof vals) == 0);
  /* t + 1 liars in one item: refused, and nothing is left in out */
  if (t + 1 < n) {
    for (uint32_t i = 0; i < n; i++) memcpy(w[i], sh[i], L * sizeof(fe));
    uint64_t more = pick(n, t + 1, 0);
    for (uint32_t j = 0; j < n; j++)
      if (more >> j & 1) w[j][7] = rnd_fe();
    for (uint32_t i = 0; i < n; i++) v[i] = w[i];
    ck_assert_int_eq(mpc_reconstruct(n, t, v, L, out, &bad), CX_E_MPC_CHECK_FAILED);
    for (int k = 0; k < L; k++) ck_assert(out[k] == 0);
  }
  /* absent parties are erasures: up to n - t - 1 - 2e of them with e liars */
  for (uint32_t e = 0; e <= t; e++) {
    uint32_t absent = n - t - 1 - 2 * e;
    for (uint32_t i = 0; i < n; i++) memcpy(w[i], sh[i], L * sizeof(fe));
    uint64_t gone = pick(n, absent, 0), lie = pick(n, e, gone);
    for (uint32_t i = 0; i < n; i++) {
      v[i] = gone >> i & 1 ? NULL : w[i];
      if (lie >> i & 1) w[i][tu_rand() % L] = rnd_fe() | 1; /* wrong unless it hits the right value */
    }
    uint64_t wrong = 0;
    for (uint32_t i = 0; i < n; i++)
      if (v[i] && memcmp(w[i], sh[i], L * sizeof(fe)) != 0) wrong |= (uint64_t)1 << i;
    ck_assert_int_eq(mpc_reconstruct(n, t, v, L, out, &bad), CX_OK);
    ck_assert_uint_eq(bad, wrong);
    ck_assert(memcmp(out, vals, sizeof vals) == 0);
    /* one more liar, all wrong in one item, is one too many; it is only
     * detectable while some redundancy is left (e >= 1: with e = 0 the
     * t + 1 points present fit some polynomial whatever they are) */
    if (e >= 1 && e < t) {
      uint64_t extra = pick(n, 1, gone | lie);
      for (uint32_t i = 0; i < n; i++)
        if ((extra | lie) >> i & 1) w[i][3] = rnd_fe();
      ck_assert_int_eq(mpc_reconstruct(n, t, v, L, out, &bad), CX_E_MPC_CHECK_FAILED);
    }
  }
  /* too many absent */
  for (uint32_t i = 0; i < n; i++) v[i] = i < n - t ? NULL : sh[i];
  ck_assert_int_eq(mpc_reconstruct(n, t, v, L, out, &bad), CX_E_MPC_CHECK_FAILED);
  /* a non-canonical share is wrong as a whole: an erasure, and named */
  if (t > 0) {
    for (uint32_t i = 0; i < n; i++) {
      memcpy(w[i], sh[i], L * sizeof(fe));
      v[i] = w[i];
    }
    w[1][5] = FE_P;
    ck_assert_int_eq(mpc_reconstruct(n, t, v, L, out, &bad), CX_OK);
    ck_assert_uint_eq(bad, 2);
    ck_assert(memcmp(out, vals, sizeof vals) == 0);
  }
  undeal(w, n);
  undeal(sh, n);
}

START_TEST(test_reconstruct) {
  reconstruct_case(1, 0);
  reconstruct_case(4, 1);
  reconstruct_case(5, 1);
  reconstruct_case(7, 2);
  reconstruct_case(10, 3);
  /* bad arguments */
  fe out[1];
  const fe *v[4] = {0};
  ck_assert_int_eq(mpc_reconstruct(4, 2, v, 1, out, NULL), CX_E_INVALID_ARG); /* n < 3t + 1 */
  ck_assert_int_eq(mpc_reconstruct(0, 0, v, 1, out, NULL), CX_E_INVALID_ARG);
  ck_assert_int_eq(mpc_reconstruct(4, 1, NULL, 1, out, NULL), CX_E_INVALID_ARG);
  ck_assert_int_eq(mpc_reconstruct(4, 1, v, 0, NULL, NULL), CX_OK);
}
END_TEST

/* ---- mpc_local ---------------------------------------------------------- */

/* The program of the consortium tests, with L elements per vector:
 *   a: dealt by party 0 (slot 0), b: dealt by party n - 1 (slot 1), c: a
 *   client's (client slot 0);
 *   out 0 = a * c + b, out 1 = [a < b], out 2 = a + r with r's shares in
 *   share slot 0 (a private a), out 3 = [a == c]. */
enum { LL = 6 };

static mpc_program *local_prog(uint32_t n) {
  mpc_program *p = mpc_prog_new();
  uint32_t a = mpc_input(p, 0, 0, LL);
  uint32_t b = mpc_input(p, n - 1, 1, LL);
  uint32_t c = mpc_input_client(p, 0, LL);
  mpc_output(p, mpc_add(p, mpc_mul(p, a, c), b), 0);
  mpc_output(p, mpc_lt(p, a, b, 32), 1);
  uint32_t r = mpc_rand(p, LL);
  output_share(p, r, 0);
  mpc_output(p, mpc_add(p, a, r), 2);
  mpc_output(p, mpc_eq(p, a, c, 32), 3);
  return p;
}

typedef struct {
  int64_t a[LL], b[LL], c[LL];
} local_in;

static void local_in_rand(local_in *x) {
  for (int k = 0; k < LL; k++) {
    x->a[k] = rnd_range(-100000, 100000);
    x->b[k] = k % 3 == 0 ? x->a[k] : rnd_range(-100000, 100000);
    x->c[k] = k % 2 == 0 ? x->a[k] : rnd_range(-100000, 100000);
  }
}

/* Runs local_prog on l with x; checks the outputs against plain
 * arithmetic; returns the opened masked value and r's shares in
 * masked[LL], shares (party-major, n * LL). */
static void local_check(mpc_local *l, uint32_t n, const local_in *x, fe *masked, fe *shares) {
  mpc_program *p = local_prog(n);
  fe a[LL], b[LL], c[LL];
  for (int k = 0; k < LL; k++) {
    a[k] = fe_from_i64(x->a[k]);
    b[k] = fe_from_i64(x->b[k]);
    c[k] = fe_from_i64(x->c[k]);
  }
  mpc_local_input in[2] = {{.slot = 0, .dealer = 0, .vals = a, .len = LL},
                           {.slot = 1, .dealer = n - 1, .vals = b, .len = LL}};
  mpc_local_client_input cin[1] = {{.slot = 0, .vals = c, .len = LL}};
  mpc_prog_cost cost;
  mpc_prog_cost_get(p, &cost);
  char err[256];
  cx_err pe = mpc_local_prepare(l, &cost, err, sizeof err);
  ck_assert_msg(pe == CX_OK, "%s", err);
  mpc_status st;
  uint64_t bytes = 0;
  cx_err e = mpc_local_run(l, p, in, 2, cin, 1, &st, &bytes, err, sizeof err);
  ck_assert_msg(e == CX_OK, "n = %u: %s (%s)", n, err, cx_err_str(e));
  ck_assert_int_eq(st.state, MPC_DONE);
  ck_assert_uint_eq(st.rounds, cost.rounds);
  if (n > 1) ck_assert_uint_gt(bytes, 0);
  const fe *v;
  ck_assert_uint_eq(mpc_local_output(l, 0, &v), LL);
  for (int k = 0; k < LL; k++) ck_assert_int_eq(fe_to_i64(v[k]), x->a[k] * x->c[k] + x->b[k]);
  ck_assert_uint_eq(mpc_local_output(l, 1, &v), LL);
  for (int k = 0; k < LL; k++) ck_assert_int_eq(fe_to_i64(v[k]), x->a[k] < x->b[k]);
  ck_assert_uint_eq(mpc_local_output(l, 3, &v), LL);
  for (int k = 0; k < LL; k++) ck_assert_int_eq(fe_to_i64(v[k]), x->a[k] == x->c[k]);
  /* the private a: reconstruct r as the reader does */
  ck_assert_uint_eq(mpc_local_output(l, 2, &v), LL);
  memcpy(masked, v, LL * sizeof *v);
  const fe *sh[MPC_MAX_N];
  for (uint32_t i = 0; i < n; i++) {
    ck_assert_uint_eq(mpc_local_output_share(l, i, 0, &sh[i]), LL);
    memcpy(shares + (size_t)i * LL, sh[i], LL * sizeof(fe));
  }
  ck_assert_uint_eq(mpc_local_output_share(l, n, 0, NULL), 0);
  ck_assert_uint_eq(mpc_local_output_share(l, 0, 1, NULL), 0);
  fe r[LL];
  uint64_t bad = 1;
  ck_assert_int_eq(mpc_reconstruct(n, (n - 1) / 3, sh, LL, r, &bad), CX_OK);
  ck_assert_uint_eq(bad, 0);
  for (int k = 0; k < LL; k++) {
    ck_assert_int_eq(fe_to_i64(fe_sub(masked[k], r[k])), x->a[k]);
    ck_assert(masked[k] != a[k]); /* what everyone sees is a + r, not a */
  }
  mpc_prog_free(p);
}

static void local_case(uint32_t n) {
  uint8_t seed[32];
  tu_randbytes(seed, sizeof seed);
  local_in x;
  local_in_rand(&x);
  fe *m1 = malloc(LL * sizeof(fe)), *m2 = malloc(LL * sizeof(fe));
  fe *s1 = malloc((size_t)n * LL * sizeof(fe)), *s2 = malloc((size_t)n * LL * sizeof(fe));
  ck_assert(m1 && m2 && s1 && s2);
  mpc_local *l = NULL;
  ck_assert_int_eq(mpc_local_new(n, seed, 4096, &l), CX_OK);
  local_check(l, n, &x, m1, s1);
  if (n > 1) ck_assert_uint_gt(mpc_local_prep_bytes(l), 0);
  /* a second run on the same consortium: other inputs, still right */
  local_in y;
  local_in_rand(&y);
  local_check(l, n, &y, m2, s2);
  mpc_local_free(l);
  /* the same seed gives the same run, bit for bit */
  ck_assert_int_eq(mpc_local_new(n, seed, 4096, &l), CX_OK);
  local_check(l, n, &x, m2, s2);
  ck_assert(memcmp(m1, m2, LL * sizeof(fe)) == 0);
  ck_assert(memcmp(s1, s2, (size_t)n * LL * sizeof(fe)) == 0);
  mpc_local_free(l);
  /* another seed: the same results, another mask */
  seed[0] ^= 1;
  ck_assert_int_eq(mpc_local_new(n, seed, 4096, &l), CX_OK);
  local_check(l, n, &x, m2, s2);
  ck_assert(memcmp(m1, m2, LL * sizeof(fe)) != 0);
  mpc_local_free(l);
  /* fresh randomness */
  ck_assert_int_eq(mpc_local_new(n, NULL, 4096, &l), CX_OK);
  local_check(l, n, &x, m2, s2);
  mpc_local_free(l);
  free(m1);
  free(m2);
  free(s1);
  free(s2);
}

START_TEST(test_local_n1) { local_case(1); }
END_TEST
START_TEST(test_local_n3) { local_case(3); }
END_TEST
START_TEST(test_local_n4) { local_case(4); }
END_TEST
START_TEST(test_local_n7) { local_case(7); }
END_TEST

/* Material short of what the program needs: a clean error, nothing taken,
 * and the consortium still works once it has prepared enough. */
START_TEST(test_local_pool_empty) {
  mpc_local *l = NULL;
  ck_assert_int_eq(mpc_local_new(4, NULL, 4096, &l), CX_OK);
  mpc_program *p = local_prog(4);
  mpc_prog_cost cost;
  mpc_prog_cost_get(p, &cost);
  char err[256] = "";
  mpc_prog_cost less = cost;
  less.triples--;
  ck_assert_int_eq(mpc_local_prepare(l, &less, err, sizeof err), CX_OK);
  fe a[LL] = {0}, c[LL] = {0};
  mpc_local_input in[2] = {{.slot = 0, .dealer = 0, .vals = a, .len = LL},
                           {.slot = 1, .dealer = 3, .vals = a, .len = LL}};
  mpc_local_client_input cin[1] = {{.slot = 0, .vals = c, .len = LL}};
  ck_assert_int_eq(mpc_local_run(l, p, in, 2, cin, 1, NULL, NULL, err, sizeof err), CX_E_MPC_POOL_EMPTY);
  ck_assert_ptr_nonnull(strstr(err, "triples"));
  ck_assert_uint_eq(mpc_local_output(l, 0, NULL), 0);
  /* top up: one more triple is enough */
  ck_assert_int_eq(mpc_local_prepare(l, &cost, err, sizeof err), CX_OK);
  ck_assert_msg(mpc_local_run(l, p, in, 2, cin, 1, NULL, NULL, err, sizeof err) == CX_OK, "%s", err);
  /* the run took exactly its cost: nothing is left for a second one */
  ck_assert_int_eq(mpc_local_run(l, p, in, 2, cin, 1, NULL, NULL, err, sizeof err), CX_E_MPC_POOL_EMPTY);
  /* a prepare over the pool's cap */
  ck_assert_int_eq(mpc_local_prepare(l, &(mpc_prog_cost){.triples = 5000}, err, sizeof err), CX_E_FULL);
  mpc_prog_free(p);
  mpc_local_free(l);
}
END_TEST

/* Misuse that the consortium refuses with a sentence. */
START_TEST(test_local_bad_args) {
  mpc_local *l = NULL;
  ck_assert_int_eq(mpc_local_new(0, NULL, 16, &l), CX_E_INVALID_ARG);
  ck_assert_int_eq(mpc_local_new(65, NULL, 16, &l), CX_E_INVALID_ARG);
  ck_assert_int_eq(mpc_local_new(4, NULL, 64, &l), CX_OK);
  char err[256];
  mpc_program *p = mpc_prog_new();
  uint32_t a = mpc_input(p, 1, 0, 2);
  mpc_output(p, a, 0);
  ck_assert_int_eq(mpc_local_prepare(l, &(mpc_prog_cost){.rands = 2}, err, sizeof err), CX_OK);
  fe v[2] = {5, 6};
  /* the dealer is not a party */
  mpc_local_input bad = {.slot = 0, .dealer = 9, .vals = v, .len = 2};
  ck_assert_int_eq(mpc_local_run(l, p, &bad, 1, NULL, 0, NULL, NULL, err, sizeof err), CX_E_INVALID_ARG);
  /* a slot the program does not have */
  bad = (mpc_local_input){.slot = 3, .dealer = 1, .vals = v, .len = 2};
  ck_assert_int_eq(mpc_local_run(l, p, &bad, 1, NULL, 0, NULL, NULL, err, sizeof err), CX_E_INVALID_ARG);
  /* the input never given: the dealer's session does not start */
  cx_err e = mpc_local_run(l, p, NULL, 0, NULL, 0, NULL, NULL, err, sizeof err);
  ck_assert_int_eq(e, CX_E_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(err, "party 1"));
  /* a value outside the field */
  v[0] = FE_P;
  bad = (mpc_local_input){.slot = 0, .dealer = 1, .vals = v, .len = 2};
  ck_assert_int_eq(mpc_local_run(l, p, &bad, 1, NULL, 0, NULL, NULL, err, sizeof err), CX_E_INVALID_ARG);
  /* the refusals took nothing from the pools */
  v[0] = 5;
  mpc_status st;
  ck_assert_msg(mpc_local_run(l, p, &bad, 1, NULL, 0, &st, NULL, err, sizeof err) == CX_OK, "%s", err);
  const fe *o;
  ck_assert_uint_eq(mpc_local_output(l, 0, &o), 2);
  ck_assert(o[0] == 5 && o[1] == 6);
  ck_assert_uint_eq(st.rounds, 4);
  /* a program that does not check */
  mpc_program *q = mpc_prog_new();
  mpc_output(q, mpc_sreg(q), 0);
  ck_assert_int_eq(mpc_local_run(l, q, NULL, 0, NULL, 0, NULL, NULL, err, sizeof err), CX_E_MPC_PROGRAM);
  mpc_prog_free(q);
  mpc_prog_free(p);
  mpc_local_free(l);
  mpc_local_free(NULL);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("mpc_local");
  TCase *tc = tcase_create("share");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_share_check);
  tcase_add_test(tc, test_share_released_when_done);
  tcase_add_test(tc, test_share_not_released_on_abort);
  tcase_add_test(tc, test_reconstruct);
  suite_add_tcase(s, tc);
  TCase *tl = tcase_create("local");
  tcase_set_timeout(tl, 240);
  tcase_add_test(tl, test_local_n1);
  tcase_add_test(tl, test_local_n3);
  tcase_add_test(tl, test_local_n4);
  tcase_add_test(tl, test_local_n7);
  tcase_add_test(tl, test_local_pool_empty);
  tcase_add_test(tl, test_local_bad_args);
  suite_add_tcase(s, tl);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
