/* The online phase of the MPC engine (mpc/online.c, mpc/program.c) and the
 * session framework (mpc/session.c), through the in-process harness.
 *
 * Material comes from dealer-made triples, randoms and bits (mh_share +
 * mpc_pool_put_*): these tests are about the online protocol, the prep
 * protocol has its own suite. Every result is compared with plain field
 * arithmetic on the same inputs; every cheat is made by a real party
 * (re-signed with its key) at a real message site. */
#include <check.h>
#include <math.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "field.h"
#include "hash.h"
#include "mpc.h"
#include "mpc_harness.h"
#include "session_internal.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------- */

static fe rnd_fe(void) {
  fe x = ((fe)tu_rand() << 64 | tu_rand()) & FE_P;
  return x == FE_P ? 0 : x;
}

/* Random signed 64-bit values with the edge cases mixed in. */
static int64_t rnd_i64(void) {
  static const int64_t edge[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1};
  uint64_t r = tu_rand();
  if (r % 8 == 0) return edge[(r >> 8) % (sizeof edge / sizeof edge[0])];
  if (r % 8 == 1) return (int64_t)(tu_rand() % 2001) - 1000;
  return (int64_t)tu_rand();
}

static fe **party_bufs(uint32_t n, size_t count) {
  fe **b = calloc(n, sizeof *b);
  ck_assert_ptr_nonnull(b);
  for (uint32_t i = 0; i < n; i++) {
    b[i] = calloc(count ? count : 1, sizeof(fe));
    ck_assert_ptr_nonnull(b[i]);
  }
  return b;
}

static void party_bufs_free(fe **b, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) free(b[i]);
  free(b);
}

/* Dealer-made material straight into every party's pool. */
/* Material dealt by the test (mh_share): triples, rands, bits and bounded
 * random integers (uniform on MPC_KAPPA + MPC_INT_SLACK bits, the widest a
 * PRSS int can be). */
static void fill4(mh *h, size_t triples, size_t rands, size_t bits, size_t ints) {
  uint32_t n = h->n;
  size_t m = triples > rands ? triples : rands;
  if (bits > m) m = bits;
  if (ints > m) m = ints;
  fe *va = malloc((m + 1) * sizeof(fe)), *vb = malloc((m + 1) * sizeof(fe)), *vc = malloc((m + 1) * sizeof(fe));
  fe **A = party_bufs(n, m), **B = party_bufs(n, m), **C = party_bufs(n, m);
  for (size_t k = 0; k < triples; k++) {
    va[k] = rnd_fe();
    vb[k] = rnd_fe();
    vc[k] = fe_mul(va[k], vb[k]);
  }
  mh_share(h, va, triples, A);
  mh_share(h, vb, triples, B);
  mh_share(h, vc, triples, C);
  for (uint32_t i = 0; i < n; i++)
    ck_assert_int_eq(mpc_pool_put_triples(h->pools[i], A[i], B[i], C[i], triples), CX_OK);
  for (size_t k = 0; k < rands; k++) va[k] = rnd_fe();
  mh_share(h, va, rands, A);
  for (uint32_t i = 0; i < n; i++) ck_assert_int_eq(mpc_pool_put_rands(h->pools[i], A[i], rands), CX_OK);
  for (size_t k = 0; k < bits; k++) va[k] = tu_rand() & 1;
  mh_share(h, va, bits, A);
  for (uint32_t i = 0; i < n; i++) ck_assert_int_eq(mpc_pool_put_bits(h->pools[i], A[i], bits), CX_OK);
  for (size_t k = 0; k < ints; k++) va[k] = rnd_fe() & ((((fe)1) << (MPC_KAPPA + MPC_INT_SLACK)) - 1);
  mh_share(h, va, ints, A);
  for (uint32_t i = 0; i < n; i++) ck_assert_int_eq(mpc_pool_put_ints(h->pools[i], A[i], ints), CX_OK);
  party_bufs_free(A, n);
  party_bufs_free(B, n);
  party_bufs_free(C, n);
  free(va);
  free(vb);
  free(vc);
}

static void fill(mh *h, size_t triples, size_t rands, size_t bits) { fill4(h, triples, rands, bits, 0); }

static void fill_for(mh *h, const mpc_program *p) {
  mpc_prog_cost c;
  mpc_prog_cost_get(p, &c);
  mpc_prog_cost_at(h->n, h->t, &c);
  fill4(h, c.triples, c.rands, c.bits, c.ints);
}

/* Pools are locked memory sized to their cap: small ones for small runs. */
static mh *mk_cap(uint32_t n, size_t cap) {
  mh *h = mh_new(n, (n - 1) / 3, tu_rand(), cap);
  ck_assert_ptr_nonnull(h);
  return h;
}

static mh *mk(uint32_t n) {
  mh *h = mh_new(n, (n - 1) / 3, tu_rand(), 256);
  ck_assert_ptr_nonnull(h);
  return h;
}

static void free_sessions(mpc_session **s, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) mpc_session_free(s[i]);
}

/* Inputs table for mh_online: up to 4 slots per party. */
#define MAXSLOT 8
typedef struct {
  const fe *v[MPC_MAX_N][MAXSLOT];
  size_t len[MPC_MAX_N][MAXSLOT];
  const fe *const *vp[MPC_MAX_N];
  const size_t *lp[MPC_MAX_N];
} inputs;

static void inputs_init(inputs *in) {
  memset(in, 0, sizeof *in);
  for (int i = 0; i < MPC_MAX_N; i++) {
    in->vp[i] = in->v[i];
    in->lp[i] = in->len[i];
  }
}

static void inputs_set(inputs *in, uint32_t party, uint32_t slot, const fe *v, size_t len) {
  in->v[party][slot] = v;
  in->len[party][slot] = len;
}

static uint32_t run_online(mh *h, const mpc_program *p, inputs *in, mpc_session **s) {
  return mh_online(h, p, (const fe *const *const *)in->vp, (const size_t *const *)in->lp, s);
}

/* x of dealer 0 and y of dealer 1 (NULL: none), both in slot 0: the
 * inputs of most programs here. */
static void inputs_xy(inputs *in, const fe *xs, const fe *ys, size_t len) {
  inputs_init(in);
  inputs_set(in, 0, 0, xs, len);
  if (ys) inputs_set(in, 1, 0, ys, len);
}

static void expect_output(mpc_session *s, uint32_t slot, const fe *want, size_t len) {
  const fe *got = NULL;
  ck_assert_uint_eq(mpc_session_output(s, slot, &got), len);
  ck_assert_ptr_nonnull(got);
  size_t k = 0; /* one assertion per vector: Check records every one */
  while (k < len && got[k] == want[k]) k++;
  ck_assert_msg(k == len, "output slot %u element %zu differs", slot, k);
}


static void expect_all_done(mpc_session **s, uint32_t n, const mpc_program *p) {
  mpc_prog_cost c;
  mpc_prog_cost_get(p, &c);
  for (uint32_t i = 0; i < n; i++) {
    const mpc_status *st = mpc_session_status(s[i]);
    ck_assert_msg(st->state == MPC_DONE, "party %u: %s (%s)", i, cx_err_name(st->err), st->reason);
    ck_assert_int_eq(st->culprit, -1);
    ck_assert_uint_eq(st->corrected, 0);
    ck_assert_uint_eq(st->rounds, c.rounds);
    ck_assert_int_eq(mpc_session_evidence(s[i])->type, MPC_EV_NONE);
  }
}

/* Runs p (pools filled) on inputs_xy and expects every party done. */
static void run_all_done(mh *h, const mpc_program *p, const fe *xs, const fe *ys, size_t len,
                         mpc_session **s) {
  inputs in;
  inputs_xy(&in, xs, ys, len);
  ck_assert_uint_eq(run_online(h, p, &in, s), h->n);
  expect_all_done(s, h->n, p);
}


/* ---- programs: building, checking, cost -------------------------------- */

static void expect_bad(mpc_program *p, uint32_t n, const char *what) {
  char err[200] = "";
  cx_err e = mpc_prog_check(p, n, err, sizeof err);
  ck_assert_msg(e == CX_E_MPC_PROGRAM, "%s: accepted", what);
  ck_assert_msg(strstr(err, "instruction") != NULL, "%s: no sentence (%s)", what, err);
  mpc_prog_free(p);
}

START_TEST(t_prog_check) {
  mpc_program *p;
  char err[200];

  p = mpc_prog_new();
  uint32_t r = mpc_sreg(p);
  mpc_add(p, r, r);
  expect_bad(p, 4, "unwritten register read");

  p = mpc_prog_new();
  mpc_add(p, mpc_rand(p, 3), mpc_rand(p, 4));
  expect_bad(p, 4, "length mismatch");

  p = mpc_prog_new();
  mpc_input(p, 0, 0, 1);
  mpc_input(p, 0, 0, 1);
  expect_bad(p, 4, "input slot reused");

  p = mpc_prog_new();
  mpc_input(p, 0, 0, 1);
  mpc_input(p, 1, 0, 1); /* the same slot number at another dealer is fine */
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_OK);
  mpc_prog_free(p);

  p = mpc_prog_new();
  r = mpc_rand(p, 2);
  mpc_output(p, r, 3);
  mpc_output(p, r, 3);
  expect_bad(p, 4, "output slot reused");

  p = mpc_prog_new();
  mpc_ins bad = {.op = MPC_OP_COUNT};
  mpc_prog_emit(p, &bad);
  mpc_rand(p, 1); /* sticky: the first error is the one reported */
  expect_bad(p, 4, "unknown op");

  p = mpc_prog_new();
  mpc_ins bad0 = {.op = 0};
  mpc_prog_emit(p, &bad0);
  expect_bad(p, 4, "op 0");

  p = mpc_prog_new();
  mpc_ins far = {.op = MPC_OP_ADD, .d = 100, .a = 0, .b = 0};
  mpc_rand(p, 1);
  mpc_prog_emit(p, &far);
  ck_assert_uint_eq(mpc_prog_len(p), 1);
  expect_bad(p, 4, "register never allocated");

  p = mpc_prog_new();
  mpc_rand(p, ((uint64_t)1 << 26) + 1);
  expect_bad(p, 4, "over the cap");

  p = mpc_prog_new();
  r = mpc_rand(p, (uint64_t)1 << 26);
  mpc_ins cat = {.op = MPC_OP_CAT, .d = mpc_sreg(p), .a = r, .b = r};
  mpc_prog_emit(p, &cat);
  expect_bad(p, 4, "CAT over the cap");

  p = mpc_prog_new();
  mpc_input(p, 4, 0, 1);
  expect_bad(p, 4, "dealer not a party");

  p = mpc_prog_new();
  r = mpc_rand(p, 5);
  mpc_ins sl = {.op = MPC_OP_SLICE, .d = mpc_sreg(p), .a = r, .b = 3, .imm = 3};
  mpc_prog_emit(p, &sl);
  expect_bad(p, 4, "slice out of range");

  p = mpc_prog_new();
  r = mpc_rand(p, 2);
  mpc_ins bc = {.op = MPC_OP_BCAST, .d = mpc_sreg(p), .a = r, .imm = 3};
  mpc_prog_emit(p, &bc);
  expect_bad(p, 4, "bcast of a vector");

  p = mpc_prog_new();
  mpc_rand(p, 0);
  expect_bad(p, 4, "zero length");

  p = mpc_prog_new();
  uint32_t q = mpc_open(p, mpc_rand(p, 2));
  mpc_ins pb = {.op = MPC_OP_PBIT, .d = mpc_preg(p), .a = q, .imm = MPC_FIELD_BITS};
  mpc_prog_emit(p, &pb);
  expect_bad(p, 4, "bit past the field");

  /* A valid program and its cost: INPUT group 3 rounds; MUL, MUL, OPEN
   * independent: 1; MUL(m1, m2) and MUL(r, r): 1; OPEN of what the run
   * before wrote: 1 more; the outputs: 1. */
  p = mpc_prog_new();
  uint32_t x = mpc_input(p, 0, 0, 5), y = mpc_input(p, 1, 0, 5);
  r = mpc_rand(p, 4);
  mpc_randbit(p, 6);
  uint32_t m1 = mpc_mul(p, x, y), m2 = mpc_mul(p, x, x);
  mpc_open(p, y);
  uint32_t m3 = mpc_mul(p, m1, m2);
  mpc_mul(p, r, r);
  mpc_open(p, m3);
  mpc_output(p, m3, 0);
  mpc_output(p, x, 1);
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_OK);
  ck_assert_str_eq(err, "");
  mpc_prog_cost c;
  mpc_prog_cost_get(p, &c);
  ck_assert_uint_eq(c.triples, 19);
  ck_assert_uint_eq(c.rands, 14);
  ck_assert_uint_eq(c.bits, 6);
  ck_assert_uint_eq(c.rounds, 7);
  ck_assert_uint_eq(mpc_prog_len(p), 12);
  ck_assert_int_eq(mpc_prog_ins(p, 6)->op, MPC_OP_OPEN);
  ck_assert_ptr_null(mpc_prog_ins(p, 12));
  /* the same program checked for 1 party: dealer 1 does not exist */
  ck_assert_int_eq(mpc_prog_check(p, 1, err, sizeof err), CX_E_MPC_PROGRAM);
  mpc_prog_free(p);

  /* A vector over one message costs two rounds. */
  p = mpc_prog_new();
  mpc_open(p, mpc_rand(p, prog_chunk(0) + 1));
  mpc_prog_cost_get(p, &c);
  ck_assert_uint_eq(c.rounds, 2);
  mpc_prog_free(p);
}
END_TEST

START_TEST(t_bad_program_refused) {
  mh *h = mk(4);
  mpc_program *p = mpc_prog_new();
  mpc_add(p, mpc_rand(p, 3), mpc_rand(p, 2));
  mpc_session_config cfg;
  mh_config(h, 0, &cfg);
  mpc_session *s = (mpc_session *)1;
  ck_assert_int_eq(mpc_session_online(&cfg, p, h->pools[0], &s), CX_E_MPC_PROGRAM);
  ck_assert_ptr_null(s);
  /* and through the harness: nobody runs */
  mpc_session *ss[MPC_MAX_N] = {0};
  inputs in;
  inputs_init(&in);
  ck_assert_uint_eq(run_online(h, p, &in, ss), 0);
  for (int i = 0; i < 4; i++) ck_assert_ptr_null(ss[i]);
  /* a config the framework refuses */
  cfg.me = 4;
  mpc_prog_free(p);
  p = mpc_prog_new();
  mpc_output(p, mpc_rand(p, 1), 0);
  ck_assert_int_eq(mpc_session_online(&cfg, p, h->pools[0], &s), CX_E_INVALID_ARG);
  mh_config(h, 0, &cfg);
  cfg.t = 2; /* n = 4 < 3t + 1 */
  ck_assert_int_eq(mpc_session_online(&cfg, p, h->pools[0], &s), CX_E_INVALID_ARG);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* ---- every primitive against plain arithmetic --------------------------- */

typedef struct {
  uint32_t slot;
  fe *want;
  size_t len;
} expect;

typedef struct {
  expect e[64];
  int n;
} expects;

static void want(expects *w, mpc_program *p, uint32_t sreg, fe *vals, size_t len) {
  uint32_t slot = (uint32_t)w->n;
  mpc_output(p, sreg, slot);
  w->e[w->n++] = (expect){.slot = slot, .want = vals, .len = len};
}

static fe *vnew(size_t len) {
  fe *v = calloc(len, sizeof *v);
  ck_assert_ptr_nonnull(v);
  return v;
}

static void prims(uint32_t n, size_t L) {
  mh *h = mk_cap(n, 8 * L);
  mpc_program *p = mpc_prog_new();
  expects w = {0};
  fe *xs = vnew(L), *ys = vnew(L), *ws = vnew(L), *vs = vnew(L), cs = fe_from_i64(rnd_i64());
  for (size_t k = 0; k < L; k++) {
    xs[k] = fe_from_i64(rnd_i64());
    ys[k] = k % 10 == 0 ? xs[k] : fe_from_i64(rnd_i64()); /* equal operands too */
    ws[k] = fe_from_i64(rnd_i64());
    vs[k] = rnd_fe();
  }
  /* Several dealers, two slots of one dealer, one INPUT group. */
  uint32_t last = n - 1;
  uint32_t x = mpc_input(p, 0, 0, L), y = mpc_input(p, 1, 0, L), c = mpc_input(p, 2, 3, 1);
  uint32_t wv = mpc_input(p, 0, 1, L), v = mpc_input(p, last, 2, L);
  inputs in;
  inputs_init(&in);
  inputs_set(&in, 0, 0, xs, L);
  inputs_set(&in, 1, 0, ys, L);
  inputs_set(&in, 2, 3, &cs, 1);
  inputs_set(&in, 0, 1, ws, L);
  inputs_set(&in, last, 2, vs, L);

  fe c0 = fe_from_i64(-12345), c1 = rnd_fe();
  fe *r;
#define EACH(expr)                          \
  do {                                      \
    r = vnew(L);                            \
    for (size_t k = 0; k < L; k++) r[k] = (expr); \
  } while (0)
  EACH(fe_add(xs[k], ys[k]));
  want(&w, p, mpc_add(p, x, y), r, L);
  EACH(fe_sub(xs[k], ys[k]));
  want(&w, p, mpc_sub(p, x, y), r, L);
  EACH(fe_add(xs[k], c0));
  want(&w, p, mpc_addc(p, x, c0), r, L);
  EACH(fe_mul(xs[k], c1));
  want(&w, p, mpc_mulc(p, x, c1), r, L);
  EACH(fe_add(vs[k], xs[k]));
  want(&w, p, mpc_add(p, v, x), r, L);
  /* One MUL/OPEN run: four products (one by a length-1 operand, one of a
   * register by itself) and two openings. */
  uint32_t mxy = mpc_mul(p, x, y), mxx = mpc_mul(p, x, x), mxc = mpc_mul(p, x, c), myw = mpc_mul(p, y, wv);
  uint32_t px = mpc_open(p, x), py = mpc_open(p, y);
  EACH(fe_mul(xs[k], ys[k]));
  want(&w, p, mxy, r, L);
  EACH(fe_mul(xs[k], xs[k]));
  want(&w, p, mxx, r, L);
  EACH(fe_mul(xs[k], cs));
  want(&w, p, mxc, r, L);
  EACH(fe_mul(ys[k], ws[k]));
  want(&w, p, myw, r, L);
  /* a product of products (the next round) */
  EACH(fe_mul(fe_mul(xs[k], ys[k]), fe_mul(ys[k], ws[k])));
  want(&w, p, mpc_mul(p, mxy, myw), r, L);
  /* secret-public */
  mpc_ins in1 = {.op = MPC_OP_ADDP, .d = mpc_sreg(p), .a = wv, .b = px};
  mpc_prog_emit(p, &in1);
  EACH(fe_add(ws[k], xs[k]));
  want(&w, p, in1.d, r, L);
  mpc_ins in2 = {.op = MPC_OP_SUBP, .d = mpc_sreg(p), .a = wv, .b = py};
  mpc_prog_emit(p, &in2);
  EACH(fe_sub(ws[k], ys[k]));
  want(&w, p, in2.d, r, L);
  mpc_ins in3 = {.op = MPC_OP_RSUBP, .d = mpc_sreg(p), .a = wv, .b = px};
  mpc_prog_emit(p, &in3);
  EACH(fe_sub(xs[k], ws[k]));
  want(&w, p, in3.d, r, L);
  mpc_ins in4 = {.op = MPC_OP_MULP, .d = mpc_sreg(p), .a = wv, .b = py};
  mpc_prog_emit(p, &in4);
  EACH(fe_mul(ws[k], ys[k]));
  want(&w, p, in4.d, r, L);
  /* public operations, brought back as secrets with P - 0 */
  uint32_t zero1 = mpc_sreg(p);
  mpc_ins z1 = {.op = MPC_OP_SLICE, .d = zero1, .a = mpc_sub(p, x, x), .b = 0, .imm = 1};
  mpc_prog_emit(p, &z1);
#define PUB(opc, A, B, IMM, C, expr, LEN)                                               \
  do {                                                                                \
    mpc_ins pi = {.op = (opc), .d = mpc_preg(p), .a = (A), .b = (B), .imm = (IMM), .c = (C)}; \
    mpc_prog_emit(p, &pi);                                                            \
    mpc_ins back = {.op = MPC_OP_RSUBP, .d = mpc_sreg(p), .a = zero1, .b = pi.d};     \
    mpc_prog_emit(p, &back);                                                          \
    r = vnew(LEN);                                                                    \
    for (size_t k = 0; k < (LEN); k++) r[k] = (expr);                                 \
    want(&w, p, back.d, r, (LEN));                                                    \
  } while (0)
  PUB(MPC_OP_PADD, px, py, 0, 0, fe_add(xs[k], ys[k]), L);
  PUB(MPC_OP_PSUB, px, py, 0, 0, fe_sub(xs[k], ys[k]), L);
  PUB(MPC_OP_PMUL, px, py, 0, 0, fe_mul(xs[k], ys[k]), L);
  PUB(MPC_OP_PBIT, px, 0, 5, 0, (xs[k] >> 5) & 1, L);
  PUB(MPC_OP_PBIT, px, 0, MPC_FIELD_BITS - 1, 0, (xs[k] >> (MPC_FIELD_BITS - 1)) & 1, L);
  PUB(MPC_OP_PMOD2K, px, 0, 17, 0, xs[k] & 0x1ffff, L);
  PUB(MPC_OP_PMOD2K, px, 0, MPC_FIELD_BITS, 0, xs[k], L);
  PUB(MPC_OP_PCONST, 0, 0, 3, c1, c1, 3);
  PUB(MPC_OP_PSLICE, py, 10, 20, 0, ys[10 + k], 20);
  /* PCAT of two slices; PSQRTINV of 4 squares back to 1/4 */
  mpc_ins s1 = {.op = MPC_OP_PSLICE, .d = mpc_preg(p), .a = px, .b = 0, .imm = 2};
  mpc_prog_emit(p, &s1);
  PUB(MPC_OP_PCAT, s1.d, py, 0, 0, k < 2 ? xs[k] : ys[k - 2], L + 2);
  mpc_ins four = {.op = MPC_OP_PCONST, .d = mpc_preg(p), .imm = 2, .c = 4};
  mpc_prog_emit(p, &four);
  mpc_ins si = {.op = MPC_OP_PSQRTINV, .d = mpc_preg(p), .a = four.d};
  mpc_prog_emit(p, &si);
  PUB(MPC_OP_PMUL, si.d, si.d, 0, 0, fe_inv(4), 2);
  /* shapes */
  mpc_ins sh = {.op = MPC_OP_SLICE, .d = mpc_sreg(p), .a = x, .b = 5, .imm = 100};
  mpc_prog_emit(p, &sh);
  EACH(k < 100 ? xs[5 + k] : 0);
  want(&w, p, sh.d, r, 100);
  mpc_ins ct = {.op = MPC_OP_CAT, .d = mpc_sreg(p), .a = x, .b = wv};
  mpc_prog_emit(p, &ct);
  r = vnew(2 * L);
  for (size_t k = 0; k < 2 * L; k++) r[k] = k < L ? xs[k] : ws[k - L];
  want(&w, p, ct.d, r, 2 * L);
  mpc_ins sm = {.op = MPC_OP_SUM, .d = mpc_sreg(p), .a = y};
  mpc_prog_emit(p, &sm);
  r = vnew(1);
  for (size_t k = 0; k < L; k++) r[0] = fe_add(r[0], ys[k]);
  want(&w, p, sm.d, r, 1);
  mpc_ins bc = {.op = MPC_OP_BCAST, .d = mpc_sreg(p), .a = c, .imm = 7};
  mpc_prog_emit(p, &bc);
  EACH(cs);
  want(&w, p, bc.d, r, 7);
  mpc_ins mv = {.op = MPC_OP_MOV, .d = mpc_sreg(p), .a = wv};
  mpc_prog_emit(p, &mv);
  EACH(ws[k]);
  want(&w, p, mv.d, r, L);
  /* a register overwritten later: the output is the value at its point */
  uint32_t acc = mpc_addc(p, x, 0);
  EACH(xs[k]);
  want(&w, p, acc, r, L);
  mpc_ins ow = {.op = MPC_OP_ADD, .d = acc, .a = acc, .b = y};
  mpc_prog_emit(p, &ow);
  EACH(fe_add(xs[k], ys[k]));
  want(&w, p, acc, r, L);
  /* randoms and random bits: opened, so every party sees the same values */
  uint32_t rr = mpc_rand(p, 50), rb = mpc_randbit(p, 50);
  mpc_output(p, rr, 1000);
  mpc_output(p, rb, 1001);

  char err[200];
  ck_assert_msg(mpc_prog_check(p, n, err, sizeof err) == CX_OK, "%s", err);
  fill_for(h, p);
  mpc_session *s[MPC_MAX_N] = {0};
  ck_assert_uint_eq(run_online(h, p, &in, s), n);
  expect_all_done(s, n, p);
  const fe *rv0 = NULL, *bv0 = NULL;
  ck_assert_uint_eq(mpc_session_output(s[0], 1000, &rv0), 50);
  ck_assert_uint_eq(mpc_session_output(s[0], 1001, &bv0), 50);
  for (uint32_t i = 0; i < n; i++) {
    for (int k = 0; k < w.n; k++) expect_output(s[i], w.e[k].slot, w.e[k].want, w.e[k].len);
    expect_output(s[i], 1000, rv0, 50);
    expect_output(s[i], 1001, bv0, 50);
    const fe *none = (const fe *)1;
    ck_assert_uint_eq(mpc_session_output(s[i], 999, &none), 0);
    ck_assert_ptr_null(none);
    mpc_pool_level lv;
    mpc_pool_level_get(h->pools[i], &lv); /* exactly the cost was taken */
    ck_assert_uint_eq(lv.triples + lv.rands + lv.bits, 0);
  }
  for (int k = 0; k < 50; k++) ck_assert(bv0[k] <= 1);
  free_sessions(s, n);
  for (int k = 0; k < w.n; k++) free(w.e[k].want);
  free(xs);
  free(ys);
  free(ws);
  free(vs);
  mpc_prog_free(p);
  mh_free(h);
#undef EACH
#undef PUB
}

START_TEST(t_prims_n4) { prims(4, 2000); }
END_TEST

START_TEST(t_prims_n7) { prims(7, 1000); }
END_TEST

/* ---- random bits ---------------------------------------------------------- */

/* prep.c's test seam: dealer mode (and so the bits program) at every n. */
extern int mpc_prep_dealers;

/* A bits session: under PRSS a prep batch of bits alone (rounds 0..2 and t
 * echo rounds, no material used); with dealers the bits program (r^2, then
 * its opening, from a triple and a random per bit). */
static void bits(uint32_t n, size_t L) {
  uint32_t t = (n - 1) / 3;
  int prss = mpc_prep_prss(n, t);
  mh *h = mk_cap(n, L);
  if (!prss) fill(h, L, L, 0);
  mpc_status st[MPC_MAX_N];
  ck_assert_uint_eq(mh_bits(h, L, st), n);
  for (uint32_t i = 0; i < n; i++) {
    ck_assert_int_eq(st[i].state, MPC_DONE);
    ck_assert_uint_eq(st[i].rounds, prss ? 4 + t : 2);
    mpc_pool_level lv;
    mpc_pool_level_get(h->pools[i], &lv);
    ck_assert_uint_eq(lv.bits, L);
    ck_assert_uint_eq(lv.triples + lv.rands, 0);
  }
  mpc_program *p = mpc_prog_new();
  uint32_t b = mpc_randbit(p, L);
  mpc_output(p, b, 0);
  mpc_output(p, mpc_mul(p, b, b), 1); /* b^2 = b: they are really bits as sharings */
  fill(h, L, 0, 0);
  mpc_session *s[MPC_MAX_N] = {0};
  inputs in;
  inputs_init(&in);
  ck_assert_uint_eq(run_online(h, p, &in, s), n);
  const fe *v = NULL, *v2 = NULL;
  ck_assert_uint_eq(mpc_session_output(s[0], 0, &v), L);
  ck_assert_uint_eq(mpc_session_output(s[0], 1, &v2), L);
  size_t ones = 0, bad = 0;
  for (size_t k = 0; k < L; k++) {
    bad += v[k] > 1 || v2[k] != v[k];
    ones += (size_t)v[k];
  }
  ck_assert_uint_eq(bad, 0);
  ck_assert_uint_gt(ones, 0);
  ck_assert_uint_lt(ones, L);
  free_sessions(s, n);
  mpc_prog_free(p);
  if (prss) { /* bits from keys alone: no material needed */
    ck_assert_uint_eq(mh_bits(h, 5, st), n);
  } else { /* without material the bit session aborts cleanly everywhere */
    ck_assert_uint_eq(mh_bits(h, 5, st), 0);
    for (uint32_t i = 0; i < n; i++) {
      ck_assert_int_eq(st[i].err, CX_E_MPC_POOL_EMPTY);
      ck_assert_int_eq(st[i].culprit, -1);
    }
  }
  mh_free(h);
}

START_TEST(t_bits_n4) { bits(4, 1000); }
END_TEST

START_TEST(t_bits_n7) { bits(7, 500); }
END_TEST

/* The bits program, which dealer mode uses (n >= 10), at small n. */
START_TEST(t_bits_dealers) {
  mpc_prep_dealers = 1;
  bits(4, 1000);
  bits(7, 300);
  mpc_prep_dealers = 0;
}
END_TEST

/* ---- bounded random integers (mpc.h "ints") ------------------------------ */

/* RANDINT opens to integers below its bound. Under PRSS they come from a
 * prep batch (the sum of C(n, t) MPC_KAPPA-bit parts, so up to C(n, t)
 * 2^MPC_KAPPA, and the top part of that range is reached); with dealers
 * each one is MPC_KAPPA pool bits in order, sum_i 2^i b_i, which the test
 * checks against bits it dealt itself; short of bits, the session aborts
 * cleanly naming nobody. */
static void ints(uint32_t n, size_t L) {
  uint32_t t = (n - 1) / 3;
  int prss = mpc_prep_prss(n, t);
  mh *h = mk_cap(n, L * MPC_KAPPA + 1);
  fe *want = calloc(L, sizeof *want);
  ck_assert_ptr_nonnull(want);
  if (prss) {
    ck_assert_uint_eq(mh_prep_ints(h, 0, 0, L, NULL), n);
  } else {
    size_t B = L * MPC_KAPPA;
    fe *bv = calloc(B, sizeof *bv), **A = party_bufs(n, B);
    ck_assert_ptr_nonnull(bv);
    for (size_t k = 0; k < B; k++) bv[k] = tu_rand() & 1;
    for (size_t q = 0; q < L; q++)
      for (uint32_t i = 0; i < MPC_KAPPA; i++) want[q] += bv[q * MPC_KAPPA + i] << i;
    mh_share(h, bv, B, A);
    for (uint32_t i = 0; i < n; i++) ck_assert_int_eq(mpc_pool_put_bits(h->pools[i], A[i], B), CX_OK);
    party_bufs_free(A, n);
    free(bv);
  }
  mpc_program *p = mpc_prog_new();
  mpc_output(p, mpc_randint(p, L), 0);
  mpc_prog_cost c;
  mpc_prog_cost_get(p, &c);
  ck_assert_uint_eq(c.ints, L);
  mpc_prog_cost_at(n, t, &c);
  ck_assert_uint_eq(c.ints, prss ? L : 0);
  ck_assert_uint_eq(c.bits, prss ? 0 : L * MPC_KAPPA);
  mpc_session *s[MPC_MAX_N] = {0};
  inputs in;
  inputs_init(&in);
  ck_assert_uint_eq(run_online(h, p, &in, s), n);
  const fe *v = NULL;
  ck_assert_uint_eq(mpc_session_output(s[0], 0, &v), L);
  uint64_t sets = 1;
  for (uint32_t k = 0; k < t; k++) sets = sets * (n - k) / (k + 1); /* C(n, t) */
  const fe bound = prss ? (fe)sets << MPC_KAPPA : ((fe)1) << MPC_KAPPA;
  /* The sum of `sets` uniform MPC_KAPPA-bit parts: its mean within 8
   * standard deviations of the mean of L of them, and above 2^MPC_KAPPA
   * somewhere when there are several sets (the bound is really wider). */
  double sum = 0, unit = (double)(((uint64_t)1) << MPC_KAPPA), top = 0;
  for (size_t q = 0; q < L; q++) {
    ck_assert_msg(v[q] < bound, "int %zu is past its bound", q);
    if (!prss) ck_assert_msg(v[q] == want[q], "int %zu is not its bits", q);
    sum += (double)v[q];
    if ((double)v[q] > top) top = (double)v[q];
  }
  uint64_t parts = prss ? sets : 1;
  double mean = (double)parts * (unit - 1) / 2, sd = sqrt((double)parts * (unit * unit - 1) / 12 / (double)L);
  ck_assert_msg(fabs(sum / (double)L - mean) < 8 * sd, "mean %g, expected %g (sd %g)", sum / (double)L, mean, sd);
  if (parts > 1) ck_assert(top >= unit);
  for (uint32_t i = 0; i < n; i++) {
    mpc_pool_level lv;
    mpc_pool_level_get(h->pools[i], &lv);
    ck_assert_uint_eq(lv.ints + lv.bits, 0); /* exactly the cost was taken */
  }
  free_sessions(s, n);
  /* nothing left: the next run aborts everywhere, naming nobody */
  ck_assert_uint_eq(run_online(h, p, &in, s), 0);
  for (uint32_t i = 0; i < n; i++) {
    const mpc_status *st = mpc_session_status(s[i]);
    ck_assert_int_eq(st->err, CX_E_MPC_POOL_EMPTY);
    ck_assert_int_eq(st->culprit, -1);
    ck_assert_ptr_nonnull(strstr(st->reason, prss ? "random integers" : "random bits (for random integers)"));
  }
  free_sessions(s, n);
  mpc_prog_free(p);
  free(want);
  mh_free(h);
}

START_TEST(t_ints) {
  ints(4, 2000);
  ints(7, 1000);
  mpc_prep_dealers = 1;
  ints(4, 500);
  mpc_prep_dealers = 0;
}
END_TEST

/* ---- a cheating party at every message site ----------------------------- */

/* Wrong (+1) to one recipient or to all; malformed to all or to one: a
 * non-canonical element (BAD) or one element short (LEN). */
enum { TM_ONE, TM_ALL, TM_BAD, TM_BAD1, TM_LEN, TM_LEN1 };

typedef struct {
  uint32_t cheater, round, target; /* target: the one recipient in TM_ONE, TM_BAD1, TM_LEN1 */
  int mode;
  int calls;
  uint64_t hit; /* recipients of a tampered message */
} cheat;

static int tm_one(int mode) { return mode == TM_ONE || mode == TM_BAD1 || mode == TM_LEN1; }
static int tm_malformed(int mode) { return mode >= TM_BAD; }

/* Byte offset of the first data element of an online payload: after the
 * tag, and after the pool guard in round 0 and in a round-2 echo. */
static size_t data_off(const mpc_msg *m) {
  fe tag = 0;
  if (m->len >= FE_BYTES) ck_assert_int_eq(fe_decode(m->payload, &tag), 0);
  int guard = m->round == 0 || (m->round == 2 && tag == MPC_TAG_ECHO);
  return FE_BYTES * (1 + (guard ? (size_t)MPC_GUARD_N : 0));
}

/* Changes the first data element: +1 (still canonical), or all-ones (not a
 * canonical element: malformed); or drops the last element (malformed: the
 * wrong length). (The pool guard has its own tests.) */
static int cheat_hook(void *ctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload, size_t *len) {
  cheat *c = ctx;
  if (from != c->cheater || m->round != c->round) return 0;
  size_t off = data_off(m);
  if (m->len < off + FE_BYTES) return 0;
  if (tm_one(c->mode) && to != c->target) return 0;
  uint8_t *pl = malloc(m->len);
  ck_assert_ptr_nonnull(pl);
  memcpy(pl, m->payload, m->len);
  *len = m->len;
  if (c->mode == TM_BAD || c->mode == TM_BAD1) {
    memset(pl + off, 0xff, FE_BYTES);
  } else if (c->mode == TM_LEN || c->mode == TM_LEN1) {
    *len = m->len - FE_BYTES;
  } else {
    fe v;
    ck_assert_int_eq(fe_decode(pl + off, &v), 0);
    fe_encode(fe_add(v, 1), pl + off);
  }
  *payload = pl;
  c->calls++;
  c->hit |= (uint64_t)1 << to;
  return 1;
}

/* x from dealer 0, y from dealer 1 (rounds 0-2: A, B, C); x*y and the
 * opening of y in one round (3); the outputs (4). */
#define CL 4
static mpc_program *cheat_program(void) {
  mpc_program *p = mpc_prog_new();
  uint32_t x = mpc_input(p, 0, 0, CL), y = mpc_input(p, 1, 0, CL);
  uint32_t z = mpc_mul(p, x, y);
  uint32_t py = mpc_open(p, y);
  mpc_output(p, z, 0);
  mpc_ins ap = {.op = MPC_OP_ADDP, .d = mpc_sreg(p), .a = x, .b = py};
  mpc_prog_emit(p, &ap);
  mpc_output(p, ap.d, 1);
  return p;
}

/* 0: messages delivered by mpc_session_recv; 1: on their sender's link
 * (mpc_session_recv_link: online signatures checked late), the cheats
 * re-signed; 2: on links, the cheats with spoilt signatures. */
static int g_links;

static void cheat_run(uint32_t n, uint32_t cheater, uint32_t round, int mode) {
  mh *h = mk(n);
  h->links = g_links > 0;
  h->spoil_sig = g_links == 2;
  int spoilt = g_links == 2;
  mpc_program *p = cheat_program();
  fill_for(h, p);
  fe xs[CL], ys[CL];
  for (int k = 0; k < CL; k++) {
    xs[k] = fe_from_i64(rnd_i64());
    ys[k] = fe_from_i64(rnd_i64());
  }
  inputs in;
  inputs_xy(&in, xs, ys, CL);
  cheat c = {.cheater = cheater, .round = round, .target = cheater == 0 ? 1 : 0, .mode = mode};
  h->tamper = cheat_hook;
  h->tamper_ctx = &c;
  mpc_session *s[MPC_MAX_N] = {0};
  run_online(h, p, &in, s);
  /* A dealer that changes its delta toward everyone has changed its own
   * input: consistent, and the only effect on the output. (Here its own
   * session still echoes the delta it meant to send, which is a second
   * signed message: then everyone names it instead.) */
  int own_input = round == 1 && mode == TM_ALL && c.calls > 0;
  if (own_input) (cheater == 0 ? xs : ys)[0] = fe_add((cheater == 0 ? xs : ys)[0], 1);
  fe zw[CL], aw[CL];
  for (int k = 0; k < CL; k++) {
    zw[k] = fe_mul(xs[k], ys[k]);
    aw[k] = fe_add(xs[k], ys[k]);
  }
  /* Rounds 0 (A at the dealers), 3 (MUL and OPEN) and 4 (outputs) are
   * robust openings: a malformed share there is an erasure, corrected
   * (issue 5): no abort, selective or not. */
  int erased = tm_malformed(mode) && (round == 0 || round == 3 || round == 4) && c.calls > 0;
  int detected = 0;
  char where[80];
  snprintf(where, sizeof where, "n=%u cheater=%u round=%u mode=%d", n, cheater, round, mode);
  for (uint32_t i = 0; i < n; i++) {
    if (i == cheater) continue;
    const mpc_status *st = mpc_session_status(s[i]);
    const mpc_evidence *ev = mpc_session_evidence(s[i]);
    ck_assert_msg(st->state != MPC_RUNNING, "%s: party %u still running", where, i);
    ck_assert_msg(st->culprit == -1 || st->culprit == (int32_t)cheater, "%s: party %u names %d", where, i,
                  st->culprit);
    ck_assert_msg((st->corrected & ~((uint64_t)1 << cheater)) == 0, "%s: party %u corrected an honest party",
                  where, i);
    if (erased) {
      ck_assert_msg(st->state == MPC_DONE, "%s: party %u: %s (%s)", where, i, cx_err_name(st->err), st->reason);
      if ((c.hit >> i) & 1)
        ck_assert_msg(st->corrected == (uint64_t)1 << cheater, "%s: party %u corrected %llx", where, i,
                      (unsigned long long)st->corrected);
      if (st->corrected && !spoilt) ck_assert_int_eq(ev->type, MPC_EV_MALFORMED);
    }
    if (st->state == MPC_DONE) {
      expect_output(s[i], 0, zw, CL);
      expect_output(s[i], 1, aw, CL);
    } else if (st->culprit == -1) {
      /* an unsigned cheat on its own link: nobody named, and the reason says why */
      int unsigned_cheat = spoilt && st->err != CX_E_MPC_TIMEOUT && strstr(st->reason, "fails its signature");
      ck_assert_msg(st->err == CX_E_MPC_TIMEOUT || unsigned_cheat, "%s: party %u: %s (%s)", where, i,
                    cx_err_name(st->err), st->reason);
      ck_assert_uint_eq(st->unresponsive & ((uint64_t)1 << i), 0);
    }
    if (spoilt) {
      /* whatever is recorded is signed evidence against the cheater */
      if (st->culprit == (int32_t)cheater) ck_assert_int_ne(ev->type, MPC_EV_NONE);
      if (ev->type != MPC_EV_NONE) {
        detected = 1;
        ck_assert_int_eq(ev->culprit, (int32_t)cheater);
        int local_only = ev->type == MPC_EV_MALFORMED && mode != TM_BAD && mode != TM_BAD1;
        cx_err v = mpc_evidence_verify(n, h->t, h->pks, ev);
        ck_assert_msg(local_only || v == CX_OK, "%s: party %u: evidence type %d does not verify: %s", where, i,
                      ev->type, cx_err_name(v));
      }
      if (st->state != MPC_DONE || st->corrected) detected = 1;
    } else if (st->culprit == (int32_t)cheater || st->corrected) {
      detected = 1;
      ck_assert_int_eq(ev->culprit, (int32_t)cheater);
      cx_err v = mpc_evidence_verify(n, h->t, h->pks, ev);
      /* An echo that is not the dealers' messages is certain to the parties
       * (they all run the program) but not provable from one message. */
      int local_only = ev->type == MPC_EV_MALFORMED && mode != TM_BAD && mode != TM_BAD1;
      if (!local_only) ck_assert_msg(v == CX_OK, "%s: party %u: evidence type %d does not verify: %s", where, i,
                                     ev->type, cx_err_name(v));
      if (ev->type == MPC_EV_WRONG_SHARE) {
        ck_assert_int_eq(st->state, MPC_DONE);
        /* the same evidence does not convict anyone else */
        mpc_evidence other = *ev;
        other.culprit = (int32_t)((cheater + 1) % n);
        ck_assert_int_ne(mpc_evidence_verify(n, h->t, h->pks, &other), CX_OK);
      }
    }
  }
  if (own_input) {
    for (uint32_t i = 0; i < n; i++) {
      const mpc_status *st = mpc_session_status(s[i]);
      if (i != cheater)
        ck_assert_msg(st->state == MPC_DONE || st->culprit == (int32_t)cheater || (spoilt && st->culprit == -1),
                      "%s: party %u", where, i);
    }
  } else if (c.calls > 0) {
    ck_assert_msg(detected, "%s: nobody noticed", where);
  }
  free_sessions(s, n);
  mpc_prog_free(p);
  mh_free(h);
}

static void cheats(uint32_t n, const uint32_t *cheaters, int ncheaters) {
  for (int k = 0; k < ncheaters; k++)
    for (uint32_t round = 0; round < 5; round++)
      for (int mode = TM_ONE; mode <= TM_LEN1; mode++) cheat_run(n, cheaters[k], round, mode);
}

START_TEST(t_cheat_n4) {
  static const uint32_t c[] = {0, 1, 2, 3};
  cheats(4, c, 4);
}
END_TEST

START_TEST(t_cheat_n7) {
  static const uint32_t c[] = {0, 1, 4, 6};
  cheats(7, c, 4);
}
END_TEST

/* The same cheats on member links (signatures of online messages checked
 * late): re-signed, the outcome and evidence are as above; unsigned, the
 * result is still right or the session aborts, and nobody is named
 * without signed evidence. */
START_TEST(t_cheat_links_n4) {
  static const uint32_t c[] = {0, 1, 2, 3};
  for (g_links = 1; g_links <= 2; g_links++) cheats(4, c, 4);
  g_links = 0;
}
END_TEST

START_TEST(t_cheat_links_n7) {
  static const uint32_t c[] = {0, 6};
  for (g_links = 1; g_links <= 2; g_links++) cheats(7, c, 2);
  g_links = 0;
}
END_TEST

/* Two cheaters at n = 7 (t = 2): both corrected in one opening. */
typedef struct {
  uint32_t round;
  uint64_t who;
} cheat2;

static int cheat2_hook(void *ctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload, size_t *len) {
  cheat2 *c = ctx;
  (void)to;
  if (!((c->who >> from) & 1) || m->round != c->round) return 0;
  uint8_t *pl = malloc(m->len);
  ck_assert_ptr_nonnull(pl);
  memcpy(pl, m->payload, m->len);
  for (size_t off = FE_BYTES; off + FE_BYTES <= m->len; off += FE_BYTES) {
    fe v;
    ck_assert_int_eq(fe_decode(pl + off, &v), 0);
    fe_encode(fe_add(v, 1 + from), pl + off);
  }
  *payload = pl;
  *len = m->len;
  return 1;
}

START_TEST(t_two_cheaters_n7) {
  mh *h = mk(7);
  mpc_program *p = cheat_program();
  fill_for(h, p);
  fe xs[CL], ys[CL], zw[CL], aw[CL];
  for (int k = 0; k < CL; k++) {
    xs[k] = fe_from_i64(rnd_i64());
    ys[k] = fe_from_i64(rnd_i64());
    zw[k] = fe_mul(xs[k], ys[k]);
    aw[k] = fe_add(xs[k], ys[k]);
  }
  inputs in;
  inputs_xy(&in, xs, ys, CL);
  cheat2 c = {.round = 3, .who = (1u << 2) | (1u << 5)};
  h->tamper = cheat2_hook;
  h->tamper_ctx = &c;
  mpc_session *s[MPC_MAX_N] = {0};
  ck_assert_uint_eq(run_online(h, p, &in, s), 7);
  for (uint32_t i = 0; i < 7; i++) {
    if ((c.who >> i) & 1) continue;
    const mpc_status *st = mpc_session_status(s[i]);
    ck_assert_uint_eq(st->corrected, c.who);
    expect_output(s[i], 0, zw, CL);
    expect_output(s[i], 1, aw, CL);
    ck_assert_int_eq(mpc_evidence_verify(7, 2, h->pks, mpc_session_evidence(s[i])), CX_OK);
  }
  free_sessions(s, 7);
  /* three cheaters at n = 7 are more than t: no wrong output, an abort */
  c.who |= 1u << 6;
  fill_for(h, p);
  ck_assert_uint_eq(run_online(h, p, &in, s), 0);
  for (uint32_t i = 0; i < 7; i++) {
    if ((c.who >> i) & 1) continue;
    const mpc_status *st = mpc_session_status(s[i]);
    ck_assert_int_eq(st->state, MPC_ABORTED);
    ck_assert_int_eq(st->culprit, -1);
    ck_assert_uint_eq(mpc_session_output(s[i], 0, NULL), 0);
  }
  free_sessions(s, 7);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* A correction, then an abort naming another party: the evidence reported
 * is the abort's (it matches status.culprit), the correction stays listed. */
typedef struct {
  cheat a, b;
} cheat_pair;

static int pair_hook(void *ctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload, size_t *len) {
  cheat_pair *c = ctx;
  return cheat_hook(&c->a, from, to, m, payload, len) || cheat_hook(&c->b, from, to, m, payload, len);
}

/* x from dealer 0 (rounds 0-2), x*x (3), y from dealer 1 (4-6: A, B, C),
 * (x*x)*y (7), the output (8). */
static mpc_program *late_input_program(void) {
  mpc_program *p = mpc_prog_new();
  uint32_t x = mpc_input(p, 0, 0, CL);
  uint32_t z = mpc_mul(p, x, x);
  uint32_t y = mpc_input(p, 1, 0, CL);
  mpc_output(p, mpc_mul(p, z, y), 0);
  return p;
}

START_TEST(t_abort_evidence_wins) {
  mh *h = mk(7);
  mpc_program *p = late_input_program();
  fill_for(h, p);
  fe xs[CL] = {1, 2, 3, 4}, ys[CL] = {5, 6, 7, 8};
  inputs in;
  inputs_xy(&in, xs, ys, CL);
  /* party 2's wrong shares in the MUL are corrected; dealer 1's malformed
   * delta (round B of an input: not a share, not correctable) aborts */
  cheat_pair c = {.a = {.cheater = 2, .round = 3, .mode = TM_ALL}, .b = {.cheater = 1, .round = 5, .mode = TM_BAD}};
  h->tamper = pair_hook;
  h->tamper_ctx = &c;
  mpc_session *s[MPC_MAX_N] = {0};
  run_online(h, p, &in, s); /* the cheaters' own sessions may finish */
  ck_assert_int_gt(c.a.calls, 0);
  ck_assert_int_gt(c.b.calls, 0);
  for (uint32_t i = 0; i < 7; i++) {
    if (i == 1 || i == 2) continue;
    const mpc_status *st = mpc_session_status(s[i]);
    const mpc_evidence *ev = mpc_session_evidence(s[i]);
    ck_assert_int_eq(st->state, MPC_ABORTED);
    ck_assert_int_eq(st->culprit, 1);
    ck_assert_uint_eq(st->corrected, 1u << 2);
    ck_assert_int_eq(ev->type, MPC_EV_MALFORMED);
    ck_assert_int_eq(ev->culprit, 1);
    ck_assert_int_eq(mpc_evidence_verify(7, 2, h->pks, ev), CX_OK);
  }
  free_sessions(s, 7);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* ---- the session framework ------------------------------------------------ */

static mpc_program *small_program(void) {
  mpc_program *p = mpc_prog_new();
  uint32_t x = mpc_input(p, 0, 0, 3), y = mpc_input(p, 1, 0, 3);
  mpc_output(p, mpc_mul(p, x, y), 0);
  return p;
}

typedef struct {
  fe xs[3], ys[3], zs[3];
  inputs in;
} small_inputs;

static void small_inputs_init(small_inputs *si) {
  for (int k = 0; k < 3; k++) {
    si->xs[k] = fe_from_i64(rnd_i64());
    si->ys[k] = fe_from_i64(rnd_i64());
    si->zs[k] = fe_mul(si->xs[k], si->ys[k]);
  }
  inputs_xy(&si->in, si->xs, si->ys, 3);
}

/* Sessions created (not started) for every party, inputs given. */
static void make_sessions(mh *h, const mpc_program *p, small_inputs *si, mpc_session **s) {
  for (uint32_t i = 0; i < h->n; i++) {
    mpc_session_config cfg;
    mh_config(h, i, &cfg);
    ck_assert_int_eq(mpc_session_online(&cfg, p, h->pools[i], &s[i]), CX_OK);
  }
  mh_next_session(h);
  ck_assert_int_eq(mpc_session_input(s[0], 0, si->xs, 3), CX_OK);
  ck_assert_int_eq(mpc_session_input(s[1], 0, si->ys, 3), CX_OK);
}

/* The fixture of the framework tests: four parties, the small program,
 * pools filled for one run, the inputs; sessions not made yet. */
typedef struct {
  mh *h;
  mpc_program *p;
  small_inputs si;
  mpc_session *s[MPC_MAX_N];
} small_fx;

static void small_fx_init(small_fx *f) {
  memset(f, 0, sizeof *f);
  f->h = mk(4);
  f->p = small_program();
  fill_for(f->h, f->p);
  small_inputs_init(&f->si);
}

static void small_fx_free(small_fx *f) {
  free_sessions(f->s, 4);
  mpc_prog_free(f->p);
  mh_free(f->h);
}

static uint8_t *reencode(mh *h, uint32_t signer, const mpc_msg *m, uint32_t round, uint32_t from, uint32_t to,
                         const uint8_t *session, const uint8_t *payload, size_t plen, size_t *len) {
  uint8_t *buf = NULL;
  ck_assert_int_eq(mpc_msg_encode(h->keys[signer], m->kind, session ? session : m->session, round, (uint8_t)from,
                                  (uint8_t)to, payload ? payload : m->payload, payload ? plen : m->len, &buf, len),
                   CX_OK);
  return buf;
}

/* m re-signed by signer with the given round, sender, recipient and
 * session (NULL: m's) is answered `want` by s. */
static void expect_recv_reencoded(mh *h, mpc_session *s, mpc_outbox *o, const mpc_msg *m, uint32_t signer,
                                  uint32_t round, uint32_t from, uint32_t to, const uint8_t *session,
                                  cx_err want) {
  size_t len;
  uint8_t *b = reencode(h, signer, m, round, from, to, session, NULL, 0, &len);
  ck_assert_int_eq(mpc_session_recv(s, b, len, h->now_ms, o), want);
  free(b);
}

START_TEST(t_recv_refusals) {
  small_fx f;
  small_fx_init(&f);
  mh *h = f.h;
  mpc_session **s = f.s;
  make_sessions(h, f.p, &f.si, s);
  /* party 1 starts: its round-0 message goes to dealer 0 */
  mpc_outbox o = {0};
  ck_assert_int_eq(mpc_session_start(s[1], h->now_ms, &o), CX_OK);
  ck_assert_int_eq(mpc_session_start(s[1], h->now_ms, &o), CX_E_MPC_STATE);
  ck_assert_uint_eq(o.n, 1);
  ck_assert_uint_eq(o.v[0].to, 0);
  ck_assert_uint_eq(mpc_session_status(s[1])->msgs_sent, 1);
  ck_assert_uint_eq(mpc_session_status(s[1])->bytes_sent, o.v[0].len);
  mpc_msg m;
  ck_assert_int_eq(mpc_msg_decode(o.v[0].buf, o.v[0].len, &m), CX_OK);
  mpc_outbox o0 = {0};
  /* wrong session */
  uint8_t other[32];
  memset(other, 7, sizeof other);
  expect_recv_reencoded(h, s[0], &o0, &m, 1, 0, 1, 0, other, CX_E_MPC_SESSION);
  /* bad signature */
  uint8_t *b = malloc(o.v[0].len);
  memcpy(b, o.v[0].buf, o.v[0].len);
  b[o.v[0].len - 1] ^= 1;
  ck_assert_int_eq(mpc_session_recv(s[0], b, o.v[0].len, h->now_ms, &o0), CX_E_BAD_SIG);
  free(b);
  /* signed by another member than the sender field says */
  expect_recv_reencoded(h, s[0], &o0, &m, 2, 0, 1, 0, NULL, CX_E_BAD_SIG);
  /* too far ahead */
  expect_recv_reencoded(h, s[0], &o0, &m, 1, 5, 1, 0, NULL, CX_E_MPC_ROUND);
  /* from myself, and for another recipient */
  expect_recv_reencoded(h, s[0], &o0, &m, 0, 0, 0, 0, NULL, CX_E_MPC_SENDER);
  expect_recv_reencoded(h, s[0], &o0, &m, 1, 0, 1, 2, NULL, CX_E_MPC_SENDER);
  /* truncated */
  ck_assert_int_ne(mpc_session_recv(s[0], o.v[0].buf, 20, h->now_ms, &o0), CX_OK);
  /* the real one, then its copy */
  ck_assert_int_eq(mpc_session_recv(s[0], o.v[0].buf, o.v[0].len, h->now_ms, &o0), CX_OK);
  ck_assert_int_eq(mpc_session_recv(s[0], o.v[0].buf, o.v[0].len, h->now_ms, &o0), CX_E_MPC_DUPLICATE);
  const mpc_status *st = mpc_session_status(s[0]);
  ck_assert_int_eq(st->state, MPC_RUNNING);
  ck_assert_int_eq(st->culprit, -1);
  ck_assert_uint_eq(o0.n, 0); /* not started: nothing sent yet */
  mpc_outbox_free(&o);
  mpc_outbox_free(&o0);
  /* the sessions still finish, with the right result */
  ck_assert_uint_eq(mh_run(h, s), 4);
  for (uint32_t i = 0; i < 4; i++) expect_output(s[i], 0, f.si.zs, 3);
  expect_all_done(s, 4, f.p);
  ck_assert_int_eq(mpc_session_recv(s[0], m.raw, m.raw_len, h->now_ms, &o0), CX_E_MPC_STATE);
  small_fx_free(&f);
}
END_TEST

START_TEST(t_equivocation_at_recv) {
  small_fx f;
  small_fx_init(&f);
  mh *h = f.h;
  mpc_session **s = f.s;
  make_sessions(h, f.p, &f.si, s);
  mpc_outbox o = {0}, o0 = {0};
  ck_assert_int_eq(mpc_session_start(s[1], h->now_ms, &o), CX_OK);
  mpc_msg m;
  ck_assert_int_eq(mpc_msg_decode(o.v[0].buf, o.v[0].len, &m), CX_OK);
  ck_assert_int_eq(mpc_session_recv(s[0], o.v[0].buf, o.v[0].len, h->now_ms, &o0), CX_OK);
  uint8_t *pl = malloc(m.len);
  memcpy(pl, m.payload, m.len);
  pl[m.len - 1] ^= 1; /* another share (still canonical: the top byte is low) */
  size_t len;
  uint8_t *b = reencode(h, 1, &m, 0, 1, 0, NULL, pl, m.len, &len);
  ck_assert_int_eq(mpc_session_recv(s[0], b, len, h->now_ms, &o0), CX_E_MPC_EQUIVOCATION);
  const mpc_status *st = mpc_session_status(s[0]);
  ck_assert_int_eq(st->state, MPC_ABORTED);
  ck_assert_int_eq(st->err, CX_E_MPC_EQUIVOCATION);
  ck_assert_int_eq(st->culprit, 1);
  const mpc_evidence *ev = mpc_session_evidence(s[0]);
  ck_assert_int_eq(ev->type, MPC_EV_EQUIVOCATION);
  ck_assert_uint_eq(ev->count, 2);
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, ev), CX_OK);
  mpc_evidence e2 = *ev;
  e2.culprit = 2;
  ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &e2), CX_OK);
  /* the same content signed twice is no conflict */
  uint8_t *b2 = reencode(h, 1, &m, 0, 1, 0, NULL, NULL, 0, &len);
  uint8_t *msgs[2] = {o.v[0].buf, b2};
  size_t lens[2] = {o.v[0].len, len};
  mpc_evidence e3 = {.type = MPC_EV_EQUIVOCATION, .culprit = 1, .count = 2, .msg = msgs, .len = lens};
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &e3), CX_E_NOT_CONFLICTING);
  /* two point-to-point messages to different parties are no conflict */
  free(b2);
  b2 = reencode(h, 1, &m, 0, 1, 2, NULL, pl, m.len, &len);
  msgs[1] = b2;
  lens[1] = len;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &e3), CX_E_NOT_CONFLICTING);
  free(b2);
  b2 = reencode(h, 1, &m, 1, 1, 0, NULL, pl, m.len, &len); /* another round */
  msgs[1] = b2;
  lens[1] = len;
  ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &e3), CX_OK);
  free(b2);
  /* after the abort nothing more is taken */
  ck_assert_int_eq(mpc_session_recv(s[0], b, len, h->now_ms, &o0), CX_E_MPC_STATE);
  free(b);
  free(pl);
  mpc_outbox_free(&o);
  mpc_outbox_free(&o0);
  small_fx_free(&f);
}
END_TEST

START_TEST(t_crash_timeout) {
  for (uint32_t crash = 0; crash < 5; crash++) {
    small_fx f;
    small_fx_init(&f);
    mpc_session **s = f.s;
    f.h->crash_round[3] = crash; /* party 3 stops at that round */
    run_online(f.h, f.p, &f.si.in, s);
    int listed = 0;
    for (uint32_t i = 0; i < 3; i++) {
      const mpc_status *st = mpc_session_status(s[i]);
      ck_assert_int_eq(st->state, MPC_ABORTED);
      ck_assert_int_eq(st->err, CX_E_MPC_TIMEOUT);
      ck_assert_int_eq(st->culprit, -1);
      ck_assert_int_eq(mpc_session_evidence(s[i])->type, MPC_EV_NONE);
      ck_assert_uint_eq(mpc_session_output(s[i], 0, NULL), 0);
      /* Parties blocked behind the crashed one look the same as it from
       * where i stands; only the party itself is never listed. */
      ck_assert_uint_eq((st->unresponsive >> i) & 1, 0);
      ck_assert_uint_ne(st->unresponsive, 0);
      listed |= (st->unresponsive >> 3) & 1;
    }
    ck_assert(listed);
    /* (The crashed party's own session is not judged: messages that reached
     * it before its crash round may even have let it finish.) */
    small_fx_free(&f);
  }
}
END_TEST

START_TEST(t_pool_empty) {
  mh *h = mk(4);
  mpc_program *p = small_program();
  small_inputs si;
  small_inputs_init(&si);
  fill(h, 0, 6, 0); /* randoms for the inputs, no triple for the product */
  mpc_session *s[MPC_MAX_N] = {0};
  ck_assert_uint_eq(run_online(h, p, &si.in, s), 0);
  for (uint32_t i = 0; i < 4; i++) {
    const mpc_status *st = mpc_session_status(s[i]);
    ck_assert_msg(st->err == CX_E_MPC_POOL_EMPTY, "party %u: %s (%s)", i, cx_err_name(st->err), st->reason);
    ck_assert_int_eq(st->culprit, -1);
  }
  free_sessions(s, 4);
  mpc_prog_free(p);
  /* no random bits, at the first instruction */
  p = mpc_prog_new();
  mpc_output(p, mpc_randbit(p, 3), 0);
  ck_assert_uint_eq(run_online(h, p, &si.in, s), 0);
  for (uint32_t i = 0; i < 4; i++) ck_assert_int_eq(mpc_session_status(s[i])->err, CX_E_MPC_POOL_EMPTY);
  free_sessions(s, 4);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

START_TEST(t_psqrtinv_fails) {
  static const int64_t bad[] = {0, -1}; /* zero; -1 is not a square as p = 3 mod 4 */
  for (int k = 0; k < 2; k++) {
    mh *h = mk(4);
    mpc_program *p = mpc_prog_new();
    mpc_ins c = {.op = MPC_OP_PCONST, .d = mpc_preg(p), .imm = 2, .c = fe_from_i64(bad[k])};
    mpc_prog_emit(p, &c);
    mpc_ins q = {.op = MPC_OP_PSQRTINV, .d = mpc_preg(p), .a = c.d};
    mpc_prog_emit(p, &q);
    mpc_output(p, mpc_rand(p, 1), 0);
    fill_for(h, p);
    mpc_session *s[MPC_MAX_N] = {0};
    inputs in;
    inputs_init(&in);
    ck_assert_uint_eq(run_online(h, p, &in, s), 0);
    for (uint32_t i = 0; i < 4; i++) {
      const mpc_status *st = mpc_session_status(s[i]);
      ck_assert_int_eq(st->err, CX_E_MPC_CHECK_FAILED);
      ck_assert_int_eq(st->culprit, -1);
      ck_assert_ptr_nonnull(strstr(st->reason, "PSQRTINV"));
    }
    free_sessions(s, 4);
    mpc_prog_free(p);
    mh_free(h);
  }
}
END_TEST

START_TEST(t_missing_input) {
  small_fx f;
  small_fx_init(&f);
  mh *h = f.h;
  mpc_program *p = f.p;
  mpc_session **s = f.s;
  for (uint32_t i = 0; i < 4; i++) {
    mpc_session_config cfg;
    mh_config(h, i, &cfg);
    ck_assert_int_eq(mpc_session_online(&cfg, p, h->pools[i], &s[i]), CX_OK);
  }
  mh_next_session(h);
  mpc_outbox o = {0};
  /* dealer 0 without its input: refused, nothing sent, still startable */
  ck_assert_int_eq(mpc_session_start(s[0], 0, &o), CX_E_INVALID_ARG);
  ck_assert_uint_eq(o.n, 0);
  ck_assert_int_eq(mpc_session_status(s[0])->state, MPC_RUNNING);
  ck_assert_int_eq(mpc_session_input(s[0], 0, f.si.xs, 2), CX_E_INVALID_ARG); /* wrong length */
  ck_assert_int_eq(mpc_session_input(s[0], 1, f.si.xs, 3), CX_E_INVALID_ARG); /* not its slot */
  ck_assert_int_eq(mpc_session_input(s[2], 0, f.si.xs, 3), CX_E_INVALID_ARG); /* not a dealer */
  ck_assert_int_eq(mpc_session_start(s[0], 0, &o), CX_E_INVALID_ARG);
  ck_assert_int_eq(mpc_session_input(s[0], 0, f.si.ys, 3), CX_OK);
  ck_assert_int_eq(mpc_session_input(s[0], 0, f.si.xs, 3), CX_OK); /* the last one counts */
  ck_assert_int_eq(mpc_session_input(s[1], 0, f.si.ys, 3), CX_OK);
  ck_assert_uint_eq(mh_run(h, s), 4);
  for (uint32_t i = 0; i < 4; i++) expect_output(s[i], 0, f.si.zs, 3);
  ck_assert_int_eq(mpc_session_input(s[0], 0, f.si.xs, 3), CX_E_MPC_STATE);
  mpc_outbox_free(&o);
  free_sessions(s, 4);
  /* a dealer that never gives its input takes no part: the others time out */
  fill_for(h, p);
  inputs in;
  inputs_init(&in);
  inputs_set(&in, 1, 0, f.si.ys, 3);
  ck_assert_uint_eq(run_online(h, p, &in, s), 0);
  for (uint32_t i = 1; i < 4; i++) {
    ck_assert_int_eq(mpc_session_status(s[i])->err, CX_E_MPC_TIMEOUT);
    ck_assert_int_eq(mpc_session_status(s[i])->culprit, -1);
  }
  small_fx_free(&f);
}
END_TEST

/* ---- evidence a third party checks ---------------------------------------- */

typedef struct {
  uint8_t *msg[5][MPC_MAX_N]; /* first copy of each party's message of each round */
  size_t len[5][MPC_MAX_N];
} recorder;

static void recorder_free(recorder *r) {
  for (int k = 0; k < 5; k++)
    for (int j = 0; j < MPC_MAX_N; j++) free(r->msg[k][j]);
  memset(r, 0, sizeof *r);
}

static int record_hook(void *ctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload, size_t *len) {
  recorder *r = ctx;
  (void)to;
  (void)payload;
  (void)len;
  if (m->round < 5 && !r->msg[m->round][from]) {
    r->msg[m->round][from] = malloc(m->raw_len);
    memcpy(r->msg[m->round][from], m->raw, m->raw_len);
    r->len[m->round][from] = m->raw_len;
  }
  return 0;
}

START_TEST(t_evidence_verify) {
  mh *h = mk(4);
  mpc_program *p = cheat_program();
  fill_for(h, p);
  fe xs[CL] = {1, 2, 3, 4}, ys[CL] = {5, 6, 7, 8};
  inputs in;
  inputs_xy(&in, xs, ys, CL);
  recorder rec = {0};
  h->tamper = record_hook;
  h->tamper_ctx = &rec;
  mpc_session *s[MPC_MAX_N] = {0};
  ck_assert_uint_eq(run_online(h, p, &in, s), 4);
  for (int r = 2; r < 5; r++)
    for (int j = 0; j < 4; j++) ck_assert_ptr_nonnull(rec.msg[r][j]);
  mpc_evidence ev = {.type = MPC_EV_WRONG_SHARE, .culprit = 0, .item = 1, .count = 4};
  /* An honest opening convicts nobody. */
  ev.msg = rec.msg[3];
  ev.len = rec.len[3];
  for (int c = 0; c < 4; c++) {
    ev.culprit = c;
    ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &ev), CX_E_NOT_CONFLICTING);
  }
  /* The echo round is not an opening: its messages cannot be passed off as
   * shares (they would not lie on a polynomial). */
  ev.msg = rec.msg[2];
  ev.len = rec.len[2];
  ev.culprit = 3;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &ev), CX_E_MPC_MALFORMED);
  /* Party 2 re-signs a wrong share: it, and only it, is convicted. */
  mpc_msg m;
  ck_assert_int_eq(mpc_msg_decode(rec.msg[3][2], rec.len[3][2], &m), CX_OK);
  uint8_t *pl = malloc(m.len);
  memcpy(pl, m.payload, m.len);
  fe v;
  ck_assert_int_eq(fe_decode(pl + 2 * FE_BYTES, &v), 0);
  fe_encode(fe_add(v, 5), pl + 2 * FE_BYTES);
  size_t blen;
  uint8_t *bad = reencode(h, 2, &m, m.round, 2, MPC_TO_ALL, NULL, pl, m.len, &blen);
  uint8_t *msgs[4];
  size_t lens[4];
  for (int j = 0; j < 4; j++) {
    msgs[j] = j == 2 ? bad : rec.msg[3][j];
    lens[j] = j == 2 ? blen : rec.len[3][j];
  }
  ev.msg = msgs;
  ev.len = lens;
  ev.item = 2;
  ev.culprit = 2;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &ev), CX_OK);
  ev.item = 1; /* the element it did not change */
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &ev), CX_E_NOT_CONFLICTING);
  ev.item = 2;
  for (int c = 0; c < 4; c++)
    if (c != 2) {
      ev.culprit = c;
      ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &ev), CX_OK);
    }
  ev.culprit = 2;
  ev.count = 3;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &ev), CX_E_INVALID_ARG);
  ev.count = 4;
  msgs[0] = rec.msg[4][0]; /* a message of another round */
  lens[0] = rec.len[4][0];
  ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &ev), CX_OK);
  free(bad);
  /* MALFORMED: an honest message is not; a non-canonical element, a delta
   * sent to one party, an unknown tag are. */
  mpc_evidence em = {.type = MPC_EV_MALFORMED, .culprit = 1, .count = 1};
  uint8_t *one[1] = {rec.msg[1][1]};
  size_t onel[1] = {rec.len[1][1]};
  em.msg = one;
  em.len = onel;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &em), CX_E_NOT_CONFLICTING);
  ck_assert_int_eq(mpc_msg_decode(rec.msg[1][1], rec.len[1][1], &m), CX_OK);
  uint8_t *b = reencode(h, 1, &m, m.round, 1, 3, NULL, NULL, 0, &blen);
  one[0] = b;
  onel[0] = blen;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &em), CX_OK);
  free(b);
  free(pl);
  pl = malloc(m.len);
  memcpy(pl, m.payload, m.len);
  memset(pl + FE_BYTES, 0xff, FE_BYTES);
  b = reencode(h, 1, &m, m.round, 1, MPC_TO_ALL, NULL, pl, m.len, &blen);
  one[0] = b;
  onel[0] = blen;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &em), CX_OK);
  em.culprit = 0; /* signed by 1, not 0 */
  ck_assert_int_ne(mpc_evidence_verify(4, 1, h->pks, &em), CX_OK);
  free(b);
  memcpy(pl, m.payload, m.len);
  fe_encode(12345, pl);
  b = reencode(h, 1, &m, m.round, 1, MPC_TO_ALL, NULL, pl, m.len, &blen);
  one[0] = b;
  onel[0] = blen;
  em.culprit = 1;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &em), CX_OK);
  free(b);
  free(pl);
  em.type = MPC_EV_NONE;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &em), CX_E_INVALID_ARG);
  recorder_free(&rec);
  free_sessions(s, 4);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* ---- transcript helpers (the transcript tests are further down) ---------- */

/* What the transcript must be (docs/mpc-online.md "Transcript"), computed
 * here from the plaintext: H_MPC_TRANSCRIPT(session id || the given
 * vectors, canonical 16-byte elements, in the order given). */
static void transcript_want(const uint8_t sid[32], const fe *const *vecs, const size_t *lens, size_t nv,
                            uint8_t out[32]) {
  hash_ctx c;
  hash_ctx_init(&c, CX_TAG_MPC_OPENED);
  hash_ctx_update(&c, sid, 32);
  uint8_t b[FE_BYTES];
  for (size_t k = 0; k < nv; k++)
    for (size_t q = 0; q < lens[k]; q++) {
      fe_encode(vecs[k][q], b);
      hash_ctx_update(&c, b, sizeof b);
    }
  cx_hash h;
  hash_ctx_final(&c, &h);
  memcpy(out, h.b, 32);
}

/* Every party in mask is done and has transcript want (NULL: party 0's). */
static void expect_transcripts(mpc_session **s, uint32_t n, uint64_t mask, const uint8_t *want,
                               const char *where) {
  uint8_t first[32], got[32];
  int have = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (!((mask >> i) & 1)) continue;
    const mpc_status *st = mpc_session_status(s[i]);
    ck_assert_msg(st->state == MPC_DONE, "%s: party %u: %s (%s)", where, i, cx_err_name(st->err), st->reason);
    ck_assert_int_eq(mpc_session_transcript(s[i], got), CX_OK);
    if (!have) {
      memcpy(first, got, 32);
      have = 1;
    }
    ck_assert_msg(memcmp(got, want ? want : first, 32) == 0, "%s: party %u has another transcript", where, i);
  }
  ck_assert(have);
}

/* ---- vectors longer than one message --------------------------------------- */

START_TEST(t_split) {
  size_t L = prog_chunk(1) + 3; /* two input chunks; the product's opening and the outputs take two rounds each */
  ck_assert_uint_gt(2 * L, prog_chunk(0));
  mh *h = mh_new(4, 1, tu_rand(), L);
  ck_assert_ptr_nonnull(h);
  mpc_program *p = mpc_prog_new();
  uint32_t x = mpc_input(p, 0, 0, L);
  mpc_output(p, mpc_mul(p, x, x), 0);
  mpc_output(p, x, 1); /* 2L output elements: two output rounds */
  mpc_prog_cost c;
  mpc_prog_cost_get(p, &c);
  ck_assert_uint_eq(c.rounds, 6 + 2 + 2);
  fill_for(h, p);
  fe *xs = vnew(L), *zs = vnew(L);
  for (size_t k = 0; k < L; k++) {
    xs[k] = fe_from_i64(rnd_i64());
    zs[k] = fe_mul(xs[k], xs[k]);
  }
  mpc_session *s[MPC_MAX_N] = {0};
  run_all_done(h, p, xs, NULL, L, s);
  for (uint32_t i = 0; i < 4; i++) {
    expect_output(s[i], 0, zs, L);
    expect_output(s[i], 1, xs, L);
    ck_assert_uint_le(mpc_session_status(s[i])->bytes_sent / mpc_session_status(s[i])->msgs_sent,
                      MPC_MAX_PAYLOAD + MPC_MSG_OVERHEAD);
  }
  /* the transcript does not depend on how the openings were split */
  uint8_t want[32];
  const fe *vecs[] = {zs, xs};
  const size_t lens[] = {L, L};
  transcript_want(s[0]->cfg.session, vecs, lens, 2, want);
  expect_transcripts(s, 4, 0xf, want, "split");
  free_sessions(s, 4);
  free(xs);
  free(zs);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* Determinism: one seed, one run. */
START_TEST(t_deterministic) {
  uint64_t seed = tu_rand();
  fe out[2][3];
  uint64_t bytes[2];
  for (int run = 0; run < 2; run++) {
    mh *h = mh_new(4, 1, seed, 100);
    mpc_program *p = small_program();
    fe xs[3] = {1, 2, 3}, ys[3] = {4, 5, 6};
    fill(h, 3, 6, 0); /* from tu_rand: differs between the runs, the output does not */
    inputs in;
    inputs_init(&in);
    inputs_set(&in, 0, 0, xs, 3);
    inputs_set(&in, 1, 0, ys, 3);
    mpc_session *s[MPC_MAX_N] = {0};
    ck_assert_uint_eq(run_online(h, p, &in, s), 4);
    const fe *v;
    ck_assert_uint_eq(mpc_session_output(s[2], 0, &v), 3);
    memcpy(out[run], v, sizeof out[run]);
    bytes[run] = h->delivered;
    free_sessions(s, 4);
    mpc_prog_free(p);
    mh_free(h);
  }
  ck_assert(memcmp(out[0], out[1], sizeof out[0]) == 0);
  ck_assert_uint_eq(bytes[0], bytes[1]);
  ck_assert(out[0][2] == 18);
}
END_TEST

/* ---- builder additions: static lengths and failing ------------------------- */

START_TEST(t_prog_slen_fail) {
  mpc_program *p = mpc_prog_new();
  uint32_t u = mpc_sreg(p);
  ck_assert_uint_eq(mpc_prog_slen(p, u), 0);
  uint32_t x = mpc_rand(p, 5), one = mpc_rand(p, 1);
  ck_assert_uint_eq(mpc_prog_slen(p, x), 5);
  uint32_t s1 = mpc_add(p, x, one);
  ck_assert_uint_eq(mpc_prog_slen(p, s1), 5);
  uint32_t c = mpc_sreg(p);
  mpc_ins cat = {.op = MPC_OP_CAT, .d = c, .a = x, .b = s1};
  mpc_prog_emit(p, &cat);
  ck_assert_uint_eq(mpc_prog_slen(p, c), 10);
  ck_assert_uint_eq(mpc_prog_slen(p, mpc_vsum(p, c)), 1);
  uint32_t sl = mpc_sreg(p);
  mpc_ins slice = {.op = MPC_OP_SLICE, .d = sl, .a = c, .b = 2, .imm = 7};
  mpc_prog_emit(p, &slice);
  ck_assert_uint_eq(mpc_prog_slen(p, sl), 7);
  uint32_t q = mpc_open(p, x);
  mpc_ins ap = {.op = MPC_OP_ADDP, .d = mpc_sreg(p), .a = one, .b = q};
  mpc_prog_emit(p, &ap);
  ck_assert_uint_eq(mpc_prog_slen(p, ap.d), 5); /* a length-5 P operand */
  ck_assert_uint_eq(mpc_prog_slen(p, mpc_mul(p, one, one)), 1);
  ck_assert_uint_eq(mpc_prog_slen(p, mpc_add(p, u, x)), 0); /* reads an unwritten register */
  char err[200];
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_E_MPC_PROGRAM);
  mpc_prog_free(p);

  p = mpc_prog_new();
  x = mpc_rand(p, 5);
  ck_assert_uint_eq(mpc_prog_slen(p, mpc_add(p, x, mpc_rand(p, 3))), 5); /* the larger; the check refuses */
  mpc_ins rw = {.op = MPC_OP_RAND, .d = x, .imm = 7};
  mpc_prog_emit(p, &rw);
  ck_assert_uint_eq(mpc_prog_slen(p, x), 7); /* the latest write */
  ck_assert_uint_eq(mpc_prog_slen(p, 1000000), 0);
  ck_assert_uint_eq(mpc_prog_slen(NULL, 0), 0);
  mpc_prog_free(p);

  /* Failing: the first sentence sticks, and names the instruction. */
  p = mpc_prog_new();
  mpc_rand(p, 2);
  mpc_prog_fail(p, "k = %u is too large", 99u);
  mpc_prog_fail(p, "a second reason");
  mpc_rand(p, 1);
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_E_MPC_PROGRAM);
  ck_assert_msg(strstr(err, "instruction 1: k = 99 is too large") != NULL, "%s", err);
  ck_assert_ptr_null(strstr(err, "second"));
  mpc_prog_fail(NULL, "nothing");
  mpc_prog_free(p);
  /* the integer builders fail that way */
  p = mpc_prog_new();
  mpc_ltz(p, mpc_rand(p, 1), 200);
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_E_MPC_PROGRAM);
  ck_assert_msg(strstr(err, "too large") != NULL, "%s", err);
  mpc_prog_free(p);
  p = mpc_prog_new();
  mpc_divc(p, mpc_sreg(p), 8, 3);
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_E_MPC_PROGRAM);
  ck_assert_msg(strstr(err, "never written") != NULL, "%s", err);
  mpc_prog_free(p);
}
END_TEST

/* ---- register lifetimes ------------------------------------------------------ */

/* A long straight-line program: 20,000 distinct S registers at 4 parties in
 * one process (one mapping-hungry allocation per register used to exhaust
 * vm.max_map_count), and only a handful of them alive at any time. */
START_TEST(t_many_registers) {
  enum { L = 16, NREG = 20000 };
  mh *h = mk_cap(4, 2048);
  mpc_program *p = mpc_prog_new();
  fe xs[L], cur[L];
  for (int q = 0; q < L; q++) cur[q] = xs[q] = rnd_fe();
  uint32_t r = mpc_input(p, 0, 0, L);
  for (uint32_t k = 1; k < NREG; k++) {
    if (k % 200 == 0) {
      r = mpc_mul(p, r, r);
      for (int q = 0; q < L; q++) cur[q] = fe_mul(cur[q], cur[q]);
    } else if (k % 2) {
      r = mpc_addc(p, r, k);
      for (int q = 0; q < L; q++) cur[q] = fe_add(cur[q], k);
    } else {
      r = mpc_mulc(p, r, 3);
      for (int q = 0; q < L; q++) cur[q] = fe_mul(cur[q], 3);
    }
  }
  mpc_output(p, r, 0);
  uint32_t ns, np;
  prog_nregs(p, &ns, &np);
  ck_assert_uint_ge(ns, NREG);
  fill_for(h, p);
  mpc_session *s[MPC_MAX_N] = {0};
  run_all_done(h, p, xs, NULL, L, s);
  for (uint32_t i = 0; i < 4; i++) {
    expect_output(s[i], 0, cur, L);
    /* every register freed after its last read: a few vectors at a time,
     * not NREG * L elements */
    ck_assert_uint_le(online_peak_elems(s[i]), 16 * L);
    ck_assert_uint_gt(online_peak_elems(s[i]), 0);
  }
  free_sessions(s, 4);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

static void emit4(mpc_program *p, uint16_t op, uint32_t d, uint32_t a, uint32_t b, fe c) {
  mpc_ins in = {.op = op, .d = d, .a = a, .b = b, .c = c};
  mpc_prog_emit(p, &in);
}

/* Rewritten registers, a run that reads a register and then rewrites it,
 * dead writes, in-place updates, an OUTPUT of a value written again later,
 * a reused P register: freeing after the last read changes no result. */
START_TEST(t_lifetimes) {
  enum { L = 4 };
  mh *h = mk(4);
  mpc_program *p = mpc_prog_new();
  fe xs[L], ys[L], w0[L], w1[L], w2[L], w3[L], w4[L], w5[L];
  for (int q = 0; q < L; q++) {
    xs[q] = rnd_fe();
    ys[q] = rnd_fe();
  }
  uint32_t x = mpc_input(p, 0, 0, L), y = mpc_input(p, 1, 0, L);
  uint32_t t1 = mpc_sreg(p), dead = mpc_sreg(p);
  emit4(p, MPC_OP_MUL, t1, x, y, 0); /* one run: t1 = x y, then x = y y */
  emit4(p, MPC_OP_MUL, x, y, y, 0);
  emit4(p, MPC_OP_ADDC, dead, y, 0, 5); /* never read */
  mpc_output(p, t1, 0);
  mpc_output(p, x, 1);
  mpc_output(p, y, 2);                  /* y as it is now ... */
  emit4(p, MPC_OP_ADDC, y, y, 0, 1);    /* ... then in place */
  mpc_output(p, y, 3);
  uint32_t q = mpc_open(p, t1);
  emit4(p, MPC_OP_PADD, q, q, q, 0);    /* P register in place */
  mpc_open(p, y);                       /* an opening nobody reads */
  uint32_t z = mpc_sreg(p);
  emit4(p, MPC_OP_MULP, z, x, q, 0);
  mpc_output(p, z, 4);
  emit4(p, MPC_OP_MUL, z, z, y, 0);     /* z rewritten from itself */
  mpc_output(p, z, 5);
  for (int k = 0; k < L; k++) {
    w0[k] = fe_mul(xs[k], ys[k]);
    w1[k] = fe_mul(ys[k], ys[k]);
    w2[k] = ys[k];
    w3[k] = fe_add(ys[k], 1);
    w4[k] = fe_mul(w1[k], fe_add(w0[k], w0[k]));
    w5[k] = fe_mul(w4[k], w3[k]);
  }
  fill_for(h, p);
  mpc_session *s[MPC_MAX_N] = {0};
  run_all_done(h, p, xs, ys, L, s);
  for (uint32_t i = 0; i < 4; i++) {
    expect_output(s[i], 0, w0, L);
    expect_output(s[i], 1, w1, L);
    expect_output(s[i], 2, w2, L);
    expect_output(s[i], 3, w3, L);
    expect_output(s[i], 4, w4, L);
    expect_output(s[i], 5, w5, L);
  }
  free_sessions(s, 4);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* ---- pool alignment ------------------------------------------------------------ */

/* Parties 1..n-1 trade their pools for scratch ones (call again to trade
 * back): what a session run in between adds reaches party 0's real pool
 * only, like a batch that only party 0 accepted. */
static void swap_pools(mh *h, mpc_pool **scratch) {
  for (uint32_t i = 1; i < h->n; i++) {
    mpc_pool *t = h->pools[i];
    h->pools[i] = scratch[i];
    scratch[i] = t;
  }
}

static void scratch_new(mh *h, mpc_pool **scratch, size_t cap) {
  for (uint32_t i = 1; i < h->n; i++) ck_assert_int_eq(mpc_pool_new(cap, cap, cap, cap, &scratch[i]), CX_OK);
}

static void scratch_free(mh *h, mpc_pool **scratch) {
  for (uint32_t i = 1; i < h->n; i++) mpc_pool_free(scratch[i]);
}

/* Random sharings (or bits) squared: the first message round is an
 * opening, everyone to everyone. */
static mpc_program *square_program(int bits) {
  mpc_program *p = mpc_prog_new();
  uint32_t r = bits ? mpc_randbit(p, 4) : mpc_rand(p, 4);
  mpc_output(p, mpc_mul(p, r, r), 0);
  return p;
}

/* Every party aborts with CX_E_MPC_POOL_DESYNC, names nobody, corrected
 * nobody; the reasons are returned in why[i]. */
static void expect_desync(mh *h, const mpc_program *p, char why[][200]) {
  mpc_session *s[MPC_MAX_N] = {0};
  inputs in;
  inputs_init(&in);
  ck_assert_uint_eq(run_online(h, p, &in, s), 0);
  for (uint32_t i = 0; i < h->n; i++) {
    const mpc_status *st = mpc_session_status(s[i]);
    ck_assert_msg(st->err == CX_E_MPC_POOL_DESYNC, "party %u: %s (%s)", i, cx_err_name(st->err), st->reason);
    ck_assert_int_eq(st->culprit, -1);
    ck_assert_uint_eq(st->corrected, 0);
    ck_assert_int_eq(mpc_session_evidence(s[i])->type, MPC_EV_NONE);
    ck_assert_uint_eq(mpc_session_output(s[i], 0, NULL), 0);
    memcpy(why[i], st->reason, sizeof st->reason);
  }
  free_sessions(s, h->n);
}

START_TEST(t_pool_desync) {
  char why[MPC_MAX_N][200];
  mpc_pool *scratch[MPC_MAX_N] = {0};
  uint64_t pos[MPC_POOL_KINDS];
  /* Party 0 accepted an extra prep batch first: every position is equal
   * (nothing was taken yet), but other batches are ahead. */
  mh *h = mk_cap(4, 64);
  scratch_new(h, scratch, 64);
  swap_pools(h, scratch);
  ck_assert_uint_eq(mh_prep(h, 8, 8, NULL), 4);
  swap_pools(h, scratch);
  ck_assert_uint_eq(mh_prep(h, 8, 8, NULL), 4);
  for (uint32_t i = 0; i < 4; i++) {
    mpc_pool_position(h->pools[i], pos);
    ck_assert(pos[0] == 0 && pos[1] == 0 && pos[2] == 0);
  }
  mpc_program *p = square_program(0);
  expect_desync(h, p, why);
  for (uint32_t i = 0; i < 4; i++) ck_assert_msg(strstr(why[i], "other batches") != NULL, "%s", why[i]);
  scratch_free(h, scratch);
  mh_free(h);
  /* the same sessions with aligned pools run (no false alarm on prep batches) */
  h = mk_cap(4, 64);
  ck_assert_uint_eq(mh_prep(h, 8, 8, NULL), 4);
  ck_assert_uint_eq(mh_prep(h, 8, 8, NULL), 4);
  mpc_session *s[MPC_MAX_N] = {0};
  inputs in;
  inputs_init(&in);
  ck_assert_uint_eq(run_online(h, p, &in, s), 4);
  expect_all_done(s, 4, p);
  free_sessions(s, 4);
  for (uint32_t i = 0; i < 4; i++) {
    mpc_pool_position(h->pools[i], pos);
    ck_assert(pos[0] == 4 && pos[1] == 4 && pos[2] == 0);
  }
  mpc_prog_free(p);
  mh_free(h);

  /* Party 0 ran an extra bits batch first: it has taken triples and
   * randoms the others have not (the bits program: dealer mode). */
  mpc_prep_dealers = 1;
  h = mk_cap(4, 64);
  scratch_new(h, scratch, 64);
  swap_pools(h, scratch);
  fill(h, 8, 8, 0);
  ck_assert_uint_eq(mh_bits(h, 8, NULL), 4);
  swap_pools(h, scratch);
  p = square_program(1);
  fill_for(h, p);
  mpc_pool_position(h->pools[0], pos);
  ck_assert(pos[0] == 8 && pos[1] == 8 && pos[2] == 0);
  expect_desync(h, p, why);
  ck_assert_msg(strstr(why[0], "has taken 0/0/0/0 triples/rands/bits/ints, this party 8/8/0/0") != NULL, "%s", why[0]);
  mpc_prep_dealers = 0;
  for (uint32_t i = 1; i < 4; i++)
    ck_assert_msg(strstr(why[i], "party 0 has taken 8/8/0/0") != NULL, "%s", why[i]);
  scratch_free(h, scratch);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* A party that lies about its pool only stops the session: nobody is named
 * (it looks the same as a pool that is off), nobody corrected. */
typedef struct {
  uint32_t cheater, round;
} liar;

static int guard_hook(void *ctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload, size_t *len) {
  liar *c = ctx;
  (void)to;
  if (from != c->cheater || m->round != c->round || data_off(m) == FE_BYTES) return 0;
  uint8_t *pl = malloc(m->len);
  ck_assert_ptr_nonnull(pl);
  memcpy(pl, m->payload, m->len);
  pl[FE_BYTES] ^= 1; /* the low byte of the first guard element: still packed bytes */
  *payload = pl;
  *len = m->len;
  return 1;
}

START_TEST(t_guard_lie) {
  for (uint32_t round = 0; round <= 2; round += 2) {
    mh *h = mk(4);
    mpc_program *p = cheat_program(); /* inputs first: round 0 reaches the dealers only */
    fill_for(h, p);
    fe xs[CL] = {1, 2, 3, 4}, ys[CL] = {5, 6, 7, 8};
    inputs in;
    inputs_xy(&in, xs, ys, CL);
    liar c = {.cheater = 2, .round = round};
    h->tamper = guard_hook;
    h->tamper_ctx = &c;
    mpc_session *s[MPC_MAX_N] = {0};
    ck_assert_uint_eq(run_online(h, p, &in, s), 0);
    for (uint32_t i = 0; i < 4; i++) {
      if (i == 2) continue;
      const mpc_status *st = mpc_session_status(s[i]);
      /* round 0: the dealers (0, 1) compare and stop; party 3 hears
       * nothing more and times out. Round 2, the echo: everyone compares. */
      cx_err want = round == 0 && i == 3 ? CX_E_MPC_TIMEOUT : CX_E_MPC_POOL_DESYNC;
      ck_assert_msg(st->err == want, "round %u party %u: %s (%s)", round, i, cx_err_name(st->err), st->reason);
      ck_assert_int_eq(st->culprit, -1);
      ck_assert_uint_eq(st->corrected, 0);
      if (want == CX_E_MPC_POOL_DESYNC) ck_assert_ptr_nonnull(strstr(st->reason, "party 2 has taken"));
    }
    free_sessions(s, 4);
    mpc_prog_free(p);
    mh_free(h);
  }
}
END_TEST

/* Round-0 messages as evidence: the guard is never a "share" (honest
 * guards differ exactly when pools are off), and its layout is part of the
 * rule a third party checks. */
START_TEST(t_guard_evidence) {
  mh *h = mk(4);
  mpc_program *p = square_program(0);
  fill_for(h, p);
  recorder rec = {0};
  h->tamper = record_hook;
  h->tamper_ctx = &rec;
  mpc_session *s[MPC_MAX_N] = {0};
  inputs in;
  inputs_init(&in);
  ck_assert_uint_eq(run_online(h, p, &in, s), 4);
  uint8_t *msgs[4];
  size_t lens[4];
  for (int j = 0; j < 4; j++) {
    ck_assert_ptr_nonnull(rec.msg[0][j]);
    msgs[j] = rec.msg[0][j];
    lens[j] = rec.len[0][j];
  }
  mpc_msg m;
  ck_assert_int_eq(mpc_msg_decode(rec.msg[0][2], rec.len[0][2], &m), CX_OK);
  ck_assert_uint_eq(m.len, FE_BYTES * (1 + MPC_GUARD_N + 8)); /* tag, guard, d and e of 4 products */
  uint8_t *pl = malloc(m.len);
  size_t blen;
  /* party 2's guard differs (its pool is off): not a wrong share */
  memcpy(pl, m.payload, m.len);
  pl[FE_BYTES] ^= 1;
  uint8_t *b = reencode(h, 2, &m, 0, 2, MPC_TO_ALL, NULL, pl, m.len, &blen);
  msgs[2] = b;
  lens[2] = blen;
  mpc_evidence ev = {.type = MPC_EV_WRONG_SHARE, .culprit = 2, .count = 4, .msg = msgs, .len = lens};
  for (uint64_t item = 1; item <= MPC_GUARD_N; item++) {
    ev.item = item;
    ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &ev), CX_E_MPC_MALFORMED);
  }
  free(b);
  /* a wrong first share (right after the guard) is */
  memcpy(pl, m.payload, m.len);
  fe v;
  ck_assert_int_eq(fe_decode(pl + FE_BYTES * (1 + MPC_GUARD_N), &v), 0);
  fe_encode(fe_add(v, 1), pl + FE_BYTES * (1 + MPC_GUARD_N));
  b = reencode(h, 2, &m, 0, 2, MPC_TO_ALL, NULL, pl, m.len, &blen);
  msgs[2] = b;
  lens[2] = blen;
  ev.item = 1 + MPC_GUARD_N;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &ev), CX_OK);
  ev.item = 2 + MPC_GUARD_N;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &ev), CX_E_NOT_CONFLICTING);
  free(b);
  /* MALFORMED: an honest round-0 message is not; a guard element that is
   * not packed bytes, a round-0 message without its guard, a round-0 delta
   * are */
  uint8_t *one[1] = {rec.msg[0][2]};
  size_t onel[1] = {rec.len[0][2]};
  mpc_evidence em = {.type = MPC_EV_MALFORMED, .culprit = 2, .count = 1, .msg = one, .len = onel};
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &em), CX_E_NOT_CONFLICTING);
  memcpy(pl, m.payload, m.len);
  fe_encode((fe)1 << (8 * MPC_PACK), pl + FE_BYTES);
  b = reencode(h, 2, &m, 0, 2, MPC_TO_ALL, NULL, pl, m.len, &blen);
  one[0] = b;
  onel[0] = blen;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &em), CX_OK);
  free(b);
  b = reencode(h, 2, &m, 0, 2, MPC_TO_ALL, NULL, m.payload, FE_BYTES * MPC_GUARD_N, &blen);
  one[0] = b;
  onel[0] = blen;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &em), CX_OK);
  free(b);
  memcpy(pl, m.payload, m.len);
  fe_encode(MPC_TAG_DELTA, pl);
  b = reencode(h, 2, &m, 0, 2, MPC_TO_ALL, NULL, pl, m.len, &blen);
  one[0] = b;
  onel[0] = blen;
  ck_assert_int_eq(mpc_evidence_verify(4, 1, h->pks, &em), CX_OK);
  free(b);
  free(pl);
  recorder_free(&rec);
  free_sessions(s, 4);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* ---- the round-deadline hook (session.c, mpc_proto.timeout) ------------ */

/* A two-round test protocol: every party sends its index in each round;
 * a round ends when all expected messages are in or at its deadline
 * (hook), and round 1 waits only for the parties heard in round 0. */
enum { DL_PROCEED, DL_ABORT, DL_STALL };
typedef struct {
  int mode;
  uint64_t seen[2];
  int hooked[2];
} dl_impl;

static cx_err dl_send(mpc_session *s, mpc_outbox *out) {
  uint8_t b = (uint8_t)(s->cfg.me + 100 * s->round);
  return sess_send(s, MPC_TO_ALL, &b, 1, out);
}

static cx_err dl_start(mpc_session *s, mpc_outbox *out) { return dl_send(s, out); }

/* Both the complete round and the deadline end here: what arrived. */
static cx_err dl_step(mpc_session *s, mpc_outbox *out) {
  dl_impl *d = s->impl;
  uint64_t seen = 0;
  for (uint32_t j = 0; j < s->cfg.n; j++) {
    const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, j);
    if (m && m->len == 1 && m->payload[0] == j + 100 * s->round) seen |= (uint64_t)1 << j;
  }
  d->seen[s->round] = seen;
  if (s->round == 1) {
    sess_done(s);
    return CX_OK;
  }
  sess_next_round(s, seen);
  return dl_send(s, out);
}

static cx_err dl_timeout(mpc_session *s, mpc_outbox *out) {
  dl_impl *d = s->impl;
  if (s->round < 2) d->hooked[s->round] = 1;
  if (d->mode == DL_ABORT) return CX_E_MPC_CHECK_FAILED;
  if (d->mode == DL_STALL) return CX_OK;
  return dl_step(s, out);
}

static void dl_destroy(mpc_session *s) { free(s->impl); }

static const mpc_proto dl_proto = {
    .name = "deadline", .start = dl_start, .advance = dl_step, .destroy = dl_destroy, .timeout = dl_timeout};
static const mpc_proto dl_proto_nohook = {
    .name = "deadline", .start = dl_start, .advance = dl_step, .destroy = dl_destroy};

static void dl_run(mh *h, const mpc_proto *proto, int mode, mpc_session **s) {
  for (uint32_t i = 0; i < h->n; i++) {
    mpc_session_config cfg;
    mh_config(h, i, &cfg);
    ck_assert_int_eq(sess_new(&cfg, MPC_KIND_ONLINE, &s[i]), CX_OK);
    dl_impl *d = calloc(1, sizeof *d);
    ck_assert_ptr_nonnull(d);
    d->mode = mode;
    s[i]->proto = proto;
    s[i]->impl = d;
  }
  mh_next_session(h);
  mh_run(h, s);
}

START_TEST(t_round_deadline) {
  const uint64_t all = 0xf, p3 = 1u << 3;
  for (uint32_t crash = 0; crash < 3; crash++) {
    /* proceed: party 3 crashes at round `crash` (2: never); the others end
     * the round at its deadline with what arrived and finish. */
    mh *h = mk_cap(4, 1);
    if (crash < 2) h->crash_round[3] = crash;
    mpc_session *s[MPC_MAX_N] = {0};
    dl_run(h, &dl_proto, DL_PROCEED, s);
    for (uint32_t i = 0; i < 3; i++) {
      const mpc_status *st = mpc_session_status(s[i]);
      const dl_impl *d = s[i]->impl;
      uint64_t me = (uint64_t)1 << i;
      ck_assert_msg(st->state == MPC_DONE, "party %u: %s (%s)", i, cx_err_name(st->err), st->reason);
      ck_assert_int_eq(st->culprit, -1);
      ck_assert_uint_eq(st->rounds, 2);
      ck_assert_uint_eq(st->unresponsive, crash < 2 ? p3 : 0);
      ck_assert_uint_eq(d->seen[0], all & ~me & ~(crash == 0 ? p3 : 0));
      ck_assert_uint_eq(d->seen[1], all & ~me & ~(crash < 2 ? p3 : 0));
      ck_assert_int_eq(d->hooked[0], crash == 0);
      ck_assert_int_eq(d->hooked[1], crash == 1);
    }
    free_sessions(s, 4);
    mh_free(h);
  }
  /* A hook that aborts, one that does not move on, and no hook at all. */
  const struct {
    const mpc_proto *proto;
    int mode;
    cx_err want;
  } cases[] = {{&dl_proto, DL_ABORT, CX_E_MPC_CHECK_FAILED},
               {&dl_proto, DL_STALL, CX_E_INTERNAL},
               {&dl_proto_nohook, DL_PROCEED, CX_E_MPC_TIMEOUT}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    mh *h = mk_cap(4, 1);
    h->crash_round[3] = 1;
    mpc_session *s[MPC_MAX_N] = {0};
    dl_run(h, cases[c].proto, cases[c].mode, s);
    for (uint32_t i = 0; i < 3; i++) {
      const mpc_status *st = mpc_session_status(s[i]);
      const dl_impl *d = s[i]->impl;
      ck_assert_int_eq(st->state, MPC_ABORTED);
      ck_assert_msg(st->err == cases[c].want, "case %zu party %u: %s", c, i, cx_err_name(st->err));
      ck_assert_int_eq(st->culprit, -1);
      ck_assert_uint_eq(st->unresponsive, p3);
      ck_assert_int_eq(d->hooked[1], cases[c].proto == &dl_proto);
    }
    free_sessions(s, 4);
    mh_free(h);
  }
}
END_TEST

/* sess_set_deadline: the dl protocol with round 0's deadline moved to
 * start + 3 D (set in start()); round 1 is back on the default
 * (round_start_ms + D). The harness advances its idle clock in steps of
 * D + 1 and ticks after each, so a deadline shows as the number of steps
 * before the hook ran. */
typedef struct {
  dl_impl dl; /* first: dl_step and dl_timeout use it */
  uint64_t start, at[2];
  int64_t set1; /* >= 0: round 1's deadline, as an offset from its start */
} sd_impl;

static cx_err sd_start(mpc_session *s, mpc_outbox *out) {
  sd_impl *d = s->impl;
  d->start = s->now_ms;
  sess_set_deadline(s, s->now_ms + 3 * s->cfg.round_timeout_ms);
  return dl_send(s, out);
}

static cx_err sd_step(mpc_session *s, mpc_outbox *out) {
  sd_impl *d = s->impl;
  uint32_t r = s->round;
  cx_err e = dl_step(s, out);
  if (r == 0 && d->set1 >= 0 && s->round == 1) sess_set_deadline(s, s->now_ms + (uint64_t)d->set1);
  return e;
}

static cx_err sd_timeout(mpc_session *s, mpc_outbox *out) {
  sd_impl *d = s->impl;
  if (s->round < 2) d->at[s->round] = s->now_ms;
  return sd_step(s, out);
}

static const mpc_proto sd_proto = {
    .name = "set-deadline", .start = sd_start, .advance = sd_step, .destroy = dl_destroy, .timeout = sd_timeout};

START_TEST(t_set_deadline) {
  const uint64_t D = 1000, step = D + 1;
  /* crash: the round party 3 stops at; set1: round 1's own deadline */
  const struct {
    uint32_t crash;
    int64_t set1;
    uint64_t want0, want1; /* hook times, from the session's start (0: no hook) */
  } cases[] = {
      {0, -1, 3 * step, 0},        /* round 0 waits 3 D (round 1 then waits for nobody missing) */
      {1, -1, 0, step},            /* round 0 complete at once; round 1 not on round 0's 3 D */
      {1, 5 * D, 0, 5 * step},     /* round 1's own deadline */
      {1, 0, 0, step},             /* a deadline already due: the next tick */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    mh *h = mk_cap(4, 1);
    h->crash_round[3] = cases[c].crash;
    mpc_session *s[MPC_MAX_N] = {0};
    for (uint32_t i = 0; i < h->n; i++) {
      mpc_session_config cfg;
      mh_config(h, i, &cfg);
      ck_assert_uint_eq(cfg.round_timeout_ms, D);
      ck_assert_int_eq(sess_new(&cfg, MPC_KIND_ONLINE, &s[i]), CX_OK);
      sd_impl *d = calloc(1, sizeof *d);
      ck_assert_ptr_nonnull(d);
      d->set1 = cases[c].set1;
      s[i]->proto = &sd_proto;
      s[i]->impl = d;
    }
    mh_next_session(h);
    mh_run(h, s);
    for (uint32_t i = 0; i < 3; i++) {
      const mpc_status *st = mpc_session_status(s[i]);
      const sd_impl *d = s[i]->impl;
      ck_assert_msg(st->state == MPC_DONE, "case %zu party %u: %s (%s)", c, i, cx_err_name(st->err),
                    st->reason);
      ck_assert_uint_eq(st->unresponsive, 1u << 3);
      uint64_t got0 = d->at[0] ? d->at[0] - d->start : 0, got1 = d->at[1] ? d->at[1] - d->start : 0;
      ck_assert_msg(got0 == cases[c].want0 && got1 == cases[c].want1,
                    "case %zu party %u: hooks at +%llu / +%llu, want +%llu / +%llu", c, i,
                    (unsigned long long)got0, (unsigned long long)got1,
                    (unsigned long long)cases[c].want0, (unsigned long long)cases[c].want1);
    }
    free_sessions(s, 4);
    mh_free(h);
  }
}
END_TEST

/* ---- client-dealt inputs (MPC_OP_INPUT_CLIENT, mpc/client.h) ------------ */

typedef struct {
  uint8_t pk[MPC_MAX_N][MPC_CLIENT_KEY], sk[MPC_MAX_N][MPC_CLIENT_KEY];
} cl_keys;

typedef struct {
  uint32_t slot;
  uint8_t ctx[MPC_CLIENT_CTX];
  mpc_client_dealt d;
} cl_deal;

static void cl_keys_make(cl_keys *k, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint8_t seed[crypto_box_SEEDBYTES];
    tu_randbytes(seed, sizeof seed);
    ck_assert_int_eq(crypto_box_seed_keypair(k->pk[i], k->sk[i], seed), 0);
    sodium_memzero(seed, sizeof seed);
  }
}

/* An honest client's dealing of vals for slot. */
static void cl_deal_honest(mh *h, const cl_keys *k, cl_deal *cd, uint32_t slot, const fe *vals, size_t count) {
  cd->slot = slot;
  tu_randbytes(cd->ctx, sizeof cd->ctx);
  uint8_t seed[32];
  tu_randbytes(seed, sizeof seed);
  char err[200];
  ck_assert_int_eq(mpc_client_share(h->n, h->t, vals, count, (const uint8_t(*)[MPC_CLIENT_KEY])k->pk, cd->ctx,
                                    seed, &cd->d, err, sizeof err),
                   CX_OK);
}

/* A cheating client: party `bad` gets share `item` (count: the mask) off
 * the polynomial, committed and sealed like every other share, so its blob
 * opens and only the check can tell. */
static void cl_deal_bad(mh *h, const cl_keys *k, cl_deal *cd, uint32_t slot, size_t count, uint32_t bad,
                        size_t item) {
  uint32_t n = h->n;
  cd->slot = slot;
  tu_randbytes(cd->ctx, sizeof cd->ctx);
  fe *vals = vnew(count + 1);
  for (size_t q = 0; q <= count; q++) vals[q] = rnd_fe();
  fe **sh = party_bufs(n, count + 1);
  mh_share(h, vals, count + 1, sh);
  sh[bad][item] = fe_add(sh[bad][item], 1 + (tu_rand() % 1000));
  cd->d.n = n;
  cd->d.count = count;
  cd->d.blob_len = mpc_client_blob_len(count);
  cd->d.blobs = malloc(n * cd->d.blob_len);
  cd->d.commit = malloc(n * sizeof *cd->d.commit);
  ck_assert(cd->d.blobs && cd->d.commit);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t salt[MPC_CLIENT_SALT];
    tu_randbytes(salt, sizeof salt);
    mpc_client_commit(cd->ctx, i, salt, sh[i], count, &cd->d.commit[i]);
    ck_assert_int_eq(mpc_client_seal(k->pk[i], cd->ctx, salt, sh[i], count, cd->d.blobs + i * cd->d.blob_len),
                     CX_OK);
  }
  party_bufs_free(sh, n);
  free(vals);
}

/* Every party's session, given its blob of every dealing (ret[i * nd + q]:
 * what mpc_session_input_client answered). Not started. */
static void cl_sessions(mh *h, const mpc_program *p, const cl_keys *k, cl_deal *cd, size_t nd, mpc_session **s,
                        cx_err *ret) {
  for (uint32_t i = 0; i < h->n; i++) {
    mpc_session_config cfg;
    mh_config(h, i, &cfg);
    ck_assert_int_eq(mpc_session_online(&cfg, p, h->pools[i], &s[i]), CX_OK);
    for (size_t q = 0; q < nd; q++) {
      cx_err e = mpc_session_input_client(s[i], cd[q].slot, cd[q].d.blobs + i * cd[q].d.blob_len,
                                          cd[q].d.blob_len, cd[q].d.commit, cd[q].ctx, k->sk[i]);
      if (ret) ret[i * nd + q] = e;
    }
  }
  mh_next_session(h);
}

static mh *cl_mk(uint32_t n, const mpc_program *p) {
  mpc_prog_cost c;
  mpc_prog_cost_get(p, &c);
  mpc_prog_cost_at(n, (n - 1) / 3, &c);
  size_t cap = c.triples > c.rands ? c.triples : c.rands;
  if (c.bits > cap) cap = c.bits;
  if (c.ints > cap) cap = c.ints;
  mh *h = mk_cap(n, cap + 1);
  fill4(h, c.triples, c.rands, c.bits, c.ints);
  return h;
}

static void cl_client_honest(uint32_t n) {
  enum { L = 12 };
  /* Values from both ends of the signed 64-bit range, 0, and random ones. */
  static const int64_t ea[] = {INT64_MIN, INT64_MAX, 0, INT64_MIN, INT64_MAX, -1, 0};
  static const int64_t eb[] = {INT64_MAX, INT64_MIN, 0, INT64_MIN, 0, 1, INT64_MAX};
  int64_t ia[L], ib[L];
  fe a[L], b[L], want[4][L];
  for (size_t q = 0; q < L; q++) {
    ia[q] = q < 7 ? ea[q] : rnd_i64();
    ib[q] = q < 7 ? eb[q] : rnd_i64();
    a[q] = fe_from_i64(ia[q]);
    b[q] = fe_from_i64(ib[q]);
    want[0][q] = a[q];
    want[1][q] = fe_add(a[q], b[q]);
    want[2][q] = fe_mul(a[q], b[q]);
    want[3][q] = ia[q] < ib[q];
  }
  mpc_program *p = mpc_prog_new();
  uint32_t ra = mpc_input_client(p, 3, L), rb = mpc_input_client(p, 9, L);
  mpc_output(p, ra, 0);
  mpc_output(p, mpc_add(p, ra, rb), 1);
  mpc_output(p, mpc_mul(p, ra, rb), 2);
  mpc_output(p, mpc_lt(p, ra, rb, 64), 3);
  ck_assert_int_eq(mpc_prog_check(p, n, NULL, 0), CX_OK);
  mh *h = cl_mk(n, p);
  cl_keys k;
  cl_keys_make(&k, n);
  cl_deal cd[2];
  cl_deal_honest(h, &k, &cd[0], 3, a, L);
  cl_deal_honest(h, &k, &cd[1], 9, b, L);
  mpc_session *s[MPC_MAX_N] = {0};
  cx_err ret[2 * MPC_MAX_N];
  cl_sessions(h, p, &k, cd, 2, s, ret);
  for (uint32_t i = 0; i < 2 * n; i++) ck_assert_int_eq(ret[i], CX_OK);
  /* Not a client slot of the program. */
  ck_assert_int_eq(mpc_session_input_client(s[0], 4, cd[0].d.blobs, cd[0].d.blob_len, cd[0].d.commit, cd[0].ctx,
                                            k.sk[0]),
                   CX_E_INVALID_ARG);
  ck_assert_uint_eq(mh_run(h, s), n);
  expect_all_done(s, n, p);
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t o = 0; o < 4; o++) expect_output(s[i], o, want[o], L);
  /* The check took no pool material: the pools are empty again. */
  mpc_pool_level lv;
  mpc_pool_level_get(h->pools[0], &lv);
  ck_assert_uint_eq(lv.triples + lv.rands + lv.bits, 0);
  free_sessions(s, n);
  mpc_client_dealt_free(&cd[0].d);
  mpc_client_dealt_free(&cd[1].d);
  mpc_prog_free(p);
  mh_free(h);
}

START_TEST(t_client_honest) {
  cl_client_honest(4);
  cl_client_honest(7);
}
END_TEST

START_TEST(t_client_program) {
  /* Cost: one check round and no pool material. */
  mpc_program *p = mpc_prog_new();
  uint32_t x = mpc_input_client(p, 0, 100);
  mpc_output(p, x, 0);
  mpc_prog_cost c;
  mpc_prog_cost_get(p, &c);
  ck_assert_uint_eq(c.triples + c.rands + c.bits, 0);
  ck_assert_uint_eq(c.rounds, 2);
  /* Client and party INPUT slots are apart: the same number is fine. */
  mpc_input(p, 0, 0, 1);
  ck_assert_int_eq(mpc_prog_check(p, 4, NULL, 0), CX_OK);
  mpc_input_client(p, 0, 1);
  expect_bad(p, 4, "client slot reused");
  p = mpc_prog_new();
  mpc_input_client(p, 0, MPC_CLIENT_MAX_VALUES);
  ck_assert_int_eq(mpc_prog_check(p, 4, NULL, 0), CX_OK);
  mpc_input_client(p, 1, MPC_CLIENT_MAX_VALUES + 1);
  expect_bad(p, 4, "client input over the cap");
  p = mpc_prog_new();
  for (uint32_t q = 0; q < MPC_CLIENT_MAX_SLOTS; q++) mpc_input_client(p, q, 1);
  ck_assert_int_eq(mpc_prog_check(p, 4, NULL, 0), CX_OK);
  mpc_input_client(p, MPC_CLIENT_MAX_SLOTS, 1);
  expect_bad(p, 4, "too many client slots");
}
END_TEST

static void expect_rejected(mpc_session **s, uint32_t n, uint32_t slot) {
  char want[32];
  snprintf(want, sizeof want, "slot %u ", slot);
  for (uint32_t i = 0; i < n; i++) {
    const mpc_status *st = mpc_session_status(s[i]);
    ck_assert_int_eq(st->state, MPC_ABORTED);
    ck_assert_msg(st->err == CX_E_MPC_CLIENT_REJECTED, "party %u: %s (%s)", i, cx_err_name(st->err), st->reason);
    ck_assert_int_eq(st->culprit, -1);
    ck_assert_msg(strstr(st->reason, want) != NULL, "reason does not name the slot: %s", st->reason);
    ck_assert_int_eq(mpc_session_evidence(s[i])->type, MPC_EV_NONE);
    ck_assert_uint_eq(mpc_session_output(s[i], 0, NULL), 0);
  }
}

START_TEST(t_client_bad_share) {
  const uint32_t n = 4;
  const size_t count = 3;
  for (uint32_t bad = 0; bad < n; bad++)
    for (size_t item = 0; item <= count; item += count) { /* a value, the mask */
      mpc_program *p = mpc_prog_new();
      uint32_t y = mpc_input_client(p, 2, 2), x = mpc_input_client(p, 7, count);
      mpc_output(p, mpc_add(p, mpc_vsum(p, x), y), 0);
      mh *h = cl_mk(n, p);
      cl_keys k;
      cl_keys_make(&k, n);
      fe v2[2] = {fe_from_i64(-5), fe_from_i64(5)};
      cl_deal cd[2];
      cl_deal_honest(h, &k, &cd[0], 2, v2, 2);
      cl_deal_bad(h, &k, &cd[1], 7, count, bad, item);
      mpc_session *s[MPC_MAX_N] = {0};
      cx_err ret[2 * MPC_MAX_N];
      recorder rec;
      memset(&rec, 0, sizeof rec);
      h->tamper = record_hook;
      h->tamper_ctx = &rec;
      cl_sessions(h, p, &k, cd, 2, s, ret);
      for (uint32_t i = 0; i < 2 * n; i++) ck_assert_int_eq(ret[i], CX_OK); /* every blob opens */
      ck_assert_uint_eq(mh_run(h, s), 0);
      expect_rejected(s, n, 7);
      /* The party dealt the bad share revealed honestly: evidence made of
       * the real signed messages does not name it. */
      uint8_t *msgs[MPC_MAX_N + 1];
      size_t lens[MPC_MAX_N + 1];
      for (uint32_t j = 0; j < n; j++) {
        ck_assert_ptr_nonnull(rec.msg[0][j]);
        msgs[j] = rec.msg[0][j];
        lens[j] = rec.len[0][j];
      }
      ck_assert_ptr_nonnull(rec.msg[1][bad]);
      msgs[n] = rec.msg[1][bad];
      lens[n] = rec.len[1][bad];
      uint8_t aux[40 + 32 * MPC_MAX_N];
      memcpy(aux, cd[1].ctx, 32);
      for (int q = 0; q < 8; q++) aux[32 + q] = (uint8_t)((uint64_t)count >> (8 * q));
      memcpy(aux + 40, cd[1].d.commit, 32 * n);
      mpc_evidence fake = {.type = MPC_EV_CLIENT, .culprit = (int32_t)bad, .item = 1, .count = n + 1,
                           .msg = msgs, .len = lens, .aux = aux, .aux_len = 40 + 32 * n};
      ck_assert_int_eq(mpc_evidence_verify(n, h->t, h->pks, &fake), CX_E_NOT_CONFLICTING);
      recorder_free(&rec);
      /* The check round completed; the verdict came at the end of the
       * reveal round (an abort does not count its round as completed). */
      for (uint32_t i = 0; i < n; i++) {
        ck_assert_uint_eq(mpc_session_status(s[i])->rounds, 1);
        ck_assert_uint_eq(s[i]->round, 1);
      }
      free_sessions(s, n);
      mpc_client_dealt_free(&cd[0].d);
      mpc_client_dealt_free(&cd[1].d);
      mpc_prog_free(p);
      mh_free(h);
    }
}
END_TEST

START_TEST(t_client_blob_bad) {
  const uint32_t n = 4;
  for (uint32_t bad = 0; bad < n; bad++) {
    mpc_program *p = mpc_prog_new();
    uint32_t x = mpc_input_client(p, 5, 4);
    mpc_output(p, x, 0);
    mh *h = cl_mk(n, p);
    cl_keys k;
    cl_keys_make(&k, n);
    fe v[4] = {1, 2, 3, 4};
    cl_deal cd;
    cl_deal_honest(h, &k, &cd, 5, v, 4);
    cd.d.blobs[bad * cd.d.blob_len + tu_rand() % cd.d.blob_len] ^= 1; /* tampered in transit */
    mpc_session *s[MPC_MAX_N] = {0};
    cx_err ret[MPC_MAX_N];
    cl_sessions(h, p, &k, &cd, 1, s, ret);
    for (uint32_t i = 0; i < n; i++) ck_assert_int_eq(ret[i], i == bad ? CX_E_CRYPTO : CX_OK);
    ck_assert_uint_eq(mh_run(h, s), 0);
    expect_rejected(s, n, 5);
    char who[40];
    snprintf(who, sizeof who, "party %u could not open", bad);
    ck_assert(strstr(mpc_session_status(s[0])->reason, who) != NULL);
    free_sessions(s, n);
    mpc_client_dealt_free(&cd.d);
    mpc_prog_free(p);
    mh_free(h);
  }
}
END_TEST

/* A member lies about its check value y of the second client slot (and
 * reveals, as it must): honestly (the reveal gives away the lie, blame
 * rule (b)) or with a share changed (commitment mismatch, rule (a)). */
typedef struct {
  uint32_t cheater;
  int mode;
  size_t count0, count1; /* the two slots' lengths */
  uint8_t salt[MPC_CLIENT_SALT];
  fe *sh; /* the cheater's shares of slot 1 */
} lie_ctx;

static int lie_hook(void *vctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload, size_t *len) {
  (void)to;
  lie_ctx *c = vctx;
  if (from != c->cheater || m->round > 1) return 0;
  if (m->round == 0) {
    size_t at = (1 + MPC_GUARD_N + MPC_CK_ENTRY * 1 + 1) * FE_BYTES;
    fe y;
    ck_assert_int_eq(fe_decode(m->payload + at, &y), 0);
    *payload = malloc(m->len);
    memcpy(*payload, m->payload, m->len);
    fe_encode(fe_add(y, 1), *payload + at);
    *len = m->len;
    return 1;
  }
  size_t ne = 1 + 1 + 1 + MPC_CK_PACKED + c->count1 + 1;
  fe v[64];
  ck_assert_uint_le(ne, 64);
  size_t q = 0;
  v[q++] = MPC_TAG_CLIENT;
  v[q++] = 0;
  v[q++] = (fe)(c->count1 + 1);
  mpc_pack(c->salt, MPC_CLIENT_SALT, v + q);
  q += MPC_CK_PACKED;
  memcpy(v + q, c->sh, (c->count1 + 1) * sizeof *v);
  if (c->mode == 1) v[q] = fe_add(v[q], 1);
  *len = ne * FE_BYTES;
  *payload = malloc(*len);
  fe_encode_vec(v, ne, *payload);
  return 1;
}

static void client_lie(uint32_t n, uint32_t cheater, int mode) {
  mpc_program *p = mpc_prog_new();
  uint32_t a = mpc_input_client(p, 1, 2), b = mpc_input_client(p, 4, 3);
  mpc_output(p, mpc_add(p, mpc_vsum(p, b), a), 0);
  mh *h = cl_mk(n, p);
  cl_keys k;
  cl_keys_make(&k, n);
  fe va[2] = {7, 8}, vb[3] = {fe_from_i64(INT64_MIN), 0, fe_from_i64(INT64_MAX)};
  cl_deal cd[2];
  cl_deal_honest(h, &k, &cd[0], 1, va, 2);
  cl_deal_honest(h, &k, &cd[1], 4, vb, 3);
  lie_ctx lc = {.cheater = cheater, .mode = mode, .count0 = 2, .count1 = 3};
  lc.sh = vnew(4);
  char errbuf[200];
  ck_assert_int_eq(mpc_client_open(cd[1].d.blobs + cheater * cd[1].d.blob_len, cd[1].d.blob_len, k.sk[cheater],
                                   cd[1].ctx, 3, cheater, &cd[1].d.commit[cheater], lc.sh, lc.salt, errbuf, sizeof errbuf),
                   CX_OK);
  h->tamper = lie_hook;
  h->tamper_ctx = &lc;
  mpc_session *s[MPC_MAX_N] = {0};
  cl_sessions(h, p, &k, cd, 2, s, NULL);
  mh_run(h, s);
  for (uint32_t i = 0; i < n; i++) {
    if (i == cheater) continue; /* its own session is not judged */
    const mpc_status *st = mpc_session_status(s[i]);
    ck_assert_int_eq(st->state, MPC_ABORTED);
    ck_assert_msg(st->err == CX_E_MPC_CHECK_FAILED, "party %u: %s (%s)", i, cx_err_name(st->err), st->reason);
    ck_assert_int_eq(st->culprit, (int32_t)cheater);
    ck_assert(strstr(st->reason, "slot 4") != NULL);
    const mpc_evidence *ev = mpc_session_evidence(s[i]);
    ck_assert_int_eq(ev->type, MPC_EV_CLIENT);
    ck_assert_int_eq(ev->culprit, (int32_t)cheater);
    ck_assert_uint_eq(ev->item, 1);
    ck_assert_int_eq(mpc_evidence_verify(n, h->t, h->pks, ev), CX_OK);
    /* Not for another party, another slot, nor another dealing. */
    mpc_evidence e2 = *ev;
    e2.culprit = (int32_t)((cheater + 1) % n);
    ck_assert_int_ne(mpc_evidence_verify(n, h->t, h->pks, &e2), CX_OK);
    e2 = *ev;
    e2.item = 0;
    ck_assert_int_ne(mpc_evidence_verify(n, h->t, h->pks, &e2), CX_OK);
    uint8_t *aux = malloc(ev->aux_len);
    memcpy(aux, ev->aux, ev->aux_len);
    aux[40 + 32 * cheater] ^= 1; /* the cheater's commitment */
    e2 = *ev;
    e2.aux = aux;
    ck_assert_int_ne(mpc_evidence_verify(n, h->t, h->pks, &e2), CX_OK);
    free(aux);
  }
  free_sessions(s, n);
  free(lc.sh);
  mpc_client_dealt_free(&cd[0].d);
  mpc_client_dealt_free(&cd[1].d);
  mpc_prog_free(p);
  mh_free(h);
}

START_TEST(t_client_member_lies) {
  for (uint32_t c = 0; c < 4; c++)
    for (int mode = 0; mode < 2; mode++) client_lie(4, c, mode);
  client_lie(7, (uint32_t)(tu_rand() % 7), (int)(tu_rand() % 2));
}
END_TEST

/* A member sends different check values to different parties (every
 * copy signed): some parties accept, the others expect a reveal. Nobody
 * can tell from here who is to blame, and no honest party is named; no
 * party gets an output. */
static int split_hook(void *vctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload, size_t *len) {
  const uint32_t *cheater = vctx;
  if (from != *cheater || m->round != 0 || to % 2) return 0;
  size_t at = (1 + MPC_GUARD_N + 1) * FE_BYTES;
  fe y;
  ck_assert_int_eq(fe_decode(m->payload + at, &y), 0);
  *payload = malloc(m->len);
  memcpy(*payload, m->payload, m->len);
  fe_encode(fe_add(y, 1), *payload + at);
  *len = m->len;
  return 1;
}

START_TEST(t_client_split_views) {
  const uint32_t n = 4;
  for (uint32_t cheater = 0; cheater < n; cheater++) {
    mpc_program *p = mpc_prog_new();
    uint32_t x = mpc_input_client(p, 0, 2);
    mpc_output(p, mpc_mul(p, x, x), 0);
    mh *h = cl_mk(n, p);
    cl_keys k;
    cl_keys_make(&k, n);
    fe v[2] = {3, 4};
    cl_deal cd;
    cl_deal_honest(h, &k, &cd, 0, v, 2);
    h->tamper = split_hook;
    h->tamper_ctx = &cheater;
    mpc_session *s[MPC_MAX_N] = {0};
    cl_sessions(h, p, &k, &cd, 1, s, NULL);
    ck_assert_uint_le(mh_run(h, s), 1); /* at most the cheater's own session */
    int views = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (i == cheater) continue;
      const mpc_status *st = mpc_session_status(s[i]);
      ck_assert_int_eq(st->state, MPC_ABORTED);
      ck_assert_msg(st->culprit == -1, "party %u names %d: %s", i, st->culprit, st->reason);
      ck_assert_msg(st->err == CX_E_MPC_TRANSCRIPT || st->err == CX_E_MPC_TIMEOUT, "party %u: %s (%s)", i,
                    cx_err_name(st->err), st->reason);
      views |= st->err == CX_E_MPC_TRANSCRIPT;
    }
    ck_assert(views); /* a party that expected a reveal saw a program message */
    free_sessions(s, n);
    mpc_client_dealt_free(&cd.d);
    mpc_prog_free(p);
    mh_free(h);
  }
}
END_TEST

/* The pool guard rides on the client-check round (round 0): a party whose
 * pool is one triple ahead makes every party abort with POOL_DESYNC, nobody
 * named, before any share is decoded. */
START_TEST(t_client_guard) {
  const uint32_t n = 4;
  mpc_program *p = mpc_prog_new();
  uint32_t x = mpc_input_client(p, 0, 2);
  mpc_output(p, mpc_mul(p, x, x), 0);
  mh *h = mk_cap(n, 8);
  fill(h, 3, 0, 0);
  fe a, b, c;
  ck_assert_int_eq(mpc_pool_take_triples(h->pools[2], 1, &a, &b, &c), CX_OK);
  cl_keys k;
  cl_keys_make(&k, n);
  fe v[2] = {3, 4};
  cl_deal cd;
  cl_deal_honest(h, &k, &cd, 0, v, 2);
  mpc_session *s[MPC_MAX_N] = {0};
  cl_sessions(h, p, &k, &cd, 1, s, NULL);
  ck_assert_uint_eq(mh_run(h, s), 0);
  for (uint32_t i = 0; i < n; i++) {
    const mpc_status *st = mpc_session_status(s[i]);
    ck_assert_msg(st->err == CX_E_MPC_POOL_DESYNC, "party %u: %s (%s)", i, cx_err_name(st->err), st->reason);
    ck_assert_int_eq(st->culprit, -1);
    ck_assert_uint_eq(st->rounds, 0);
    ck_assert_int_eq(mpc_session_evidence(s[i])->type, MPC_EV_NONE);
  }
  free_sessions(s, n);
  mpc_client_dealt_free(&cd.d);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* ---- the public transcript (mpc_session_transcript) ------------------------ */

/* The exact content: the OPEN results in program order (one group holding
 * a MUL and an OPEN, then a lone OPEN), then the OUTPUT values in program
 * order, although an OUTPUT comes before the second OPEN; nothing of the
 * MUL's Beaver differences or the inputs' deltas. */
START_TEST(t_transcript_content) {
  const uint32_t n = 4;
  mh *h = mk(n);
  mpc_program *p = mpc_prog_new();
  uint32_t x = mpc_input(p, 0, 0, 3), y = mpc_input(p, 1, 0, 3);
  uint32_t sum = mpc_add(p, x, y);
  uint32_t z = mpc_mul(p, x, y);
  (void)mpc_open(p, sum); /* same group as the MUL */
  mpc_output(p, z, 0);
  (void)mpc_open(p, x);
  mpc_output(p, x, 1);
  fill_for(h, p);
  fe xs[3], ys[3], ss[3], zs[3];
  for (int k = 0; k < 3; k++) {
    xs[k] = fe_from_i64(rnd_i64());
    ys[k] = fe_from_i64(rnd_i64());
    ss[k] = fe_add(xs[k], ys[k]);
    zs[k] = fe_mul(xs[k], ys[k]);
  }
  mpc_session *s[MPC_MAX_N] = {0};
  run_all_done(h, p, xs, ys, 3, s);
  const fe *vecs[] = {ss, xs, zs, xs};
  const size_t lens[] = {3, 3, 3, 3};
  uint8_t want[32];
  transcript_want(s[0]->cfg.session, vecs, lens, 4, want);
  expect_transcripts(s, n, 0xf, want, "content");
  free_sessions(s, n);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

/* Every party of a done session has the same transcript, with comparisons
 * (whose masked openings ops.c emits) and for n = 4 and 7; a bits session
 * (an online session: r^2 is opened) has one too. */
START_TEST(t_transcript_equal) {
  static const uint32_t ns[] = {4, 7};
  for (int q = 0; q < 2; q++) {
    uint32_t n = ns[q];
    mpc_program *p = mpc_prog_new();
    uint32_t x = mpc_input(p, 0, 0, 4), y = mpc_input(p, 1, 0, 4);
    mpc_output(p, mpc_lt(p, x, y, 64), 0);
    mpc_output(p, mpc_mul(p, x, y), 1);
    mpc_prog_cost c;
    mpc_prog_cost_get(p, &c);
    size_t cap = c.triples > c.rands ? c.triples : c.rands;
    mh *h = mk_cap(n, cap > c.bits ? cap : c.bits);
    fill_for(h, p);
    fe xs[4], ys[4];
    for (int k = 0; k < 4; k++) {
      xs[k] = fe_from_i64(rnd_i64());
      ys[k] = fe_from_i64(rnd_i64());
    }
    mpc_session *s[MPC_MAX_N] = {0};
    run_all_done(h, p, xs, ys, 4, s);
    expect_transcripts(s, n, ((uint64_t)1 << n) - 1, NULL, n == 4 ? "lt n=4" : "lt n=7");
    /* not just the session id: the opened values are in it */
    uint8_t only_id[32], got[32];
    transcript_want(s[0]->cfg.session, NULL, NULL, 0, only_id);
    ck_assert_int_eq(mpc_session_transcript(s[0], got), CX_OK);
    ck_assert(memcmp(got, only_id, 32) != 0);
    free_sessions(s, n);
    mpc_prog_free(p);
    /* a bits session (the bits program: dealer mode; under PRSS it is a
     * prep batch, which has no transcript) */
    mpc_prep_dealers = 1;
    fill(h, 5, 5, 0);
    for (uint32_t i = 0; i < n; i++) {
      mpc_session_config cfg;
      mh_config(h, i, &cfg);
      ck_assert_int_eq(mpc_session_bits(&cfg, 5, h->pools[i], &s[i]), CX_OK);
    }
    mh_next_session(h);
    ck_assert_uint_eq(mh_run(h, s), n);
    expect_transcripts(s, n, ((uint64_t)1 << n) - 1, NULL, "bits");
    ck_assert_int_eq(mpc_session_transcript(s[0], got), CX_OK);
    transcript_want(s[0]->cfg.session, NULL, NULL, 0, only_id);
    ck_assert(memcmp(got, only_id, 32) != 0);
    mpc_prep_dealers = 0;
    free_sessions(s, n);
    mh_free(h);
  }
}
END_TEST

/* Runs small_program (x * y, output) on a harness of this seed; the first
 * session of a seed always has the same session id. */
static void small_transcript(uint64_t seed, const fe *xs, const fe *ys, uint8_t out[32]) {
  mh *h = mh_new(4, 1, seed, 100);
  ck_assert_ptr_nonnull(h);
  mpc_program *p = small_program();
  fill_for(h, p); /* from tu_rand: other material at every call */
  mpc_session *s[MPC_MAX_N] = {0};
  run_all_done(h, p, xs, ys, 3, s);
  expect_transcripts(s, 4, 0xf, NULL, "small");
  ck_assert_int_eq(mpc_session_transcript(s[3], out), CX_OK);
  free_sessions(s, 4);
  mpc_prog_free(p);
  mh_free(h);
}

/* Sessions with one id and other inputs have other transcripts; with the
 * same inputs (and other pool material) the same one; the same inputs in
 * another session, another one. */
START_TEST(t_transcript_inputs) {
  uint64_t seed = tu_rand();
  fe xs[3], ys[3], ys2[3];
  for (int k = 0; k < 3; k++) {
    xs[k] = fe_from_i64(rnd_i64());
    ys[k] = ys2[k] = fe_from_i64(rnd_i64());
  }
  ys2[2] = fe_add(ys2[2], 1);
  if (xs[2] == 0) xs[2] = 1; /* so that the products differ */
  uint8_t a[32], b[32], c[32], d[32];
  small_transcript(seed, xs, ys, a);
  small_transcript(seed, xs, ys2, b);
  small_transcript(seed, xs, ys, c);
  small_transcript(seed + 1, xs, ys, d);
  ck_assert(memcmp(a, b, 32) != 0);
  ck_assert(memcmp(a, c, 32) == 0);
  ck_assert(memcmp(a, d, 32) != 0);
}
END_TEST

/* A corrupt party whose shares are corrected: it adds 1 to every share it
 * sends in the MUL/OPEN round (3) and the output round (4) of
 * cheat_program, to everyone or to one party only. Every honest party is
 * done, names it in st.corrected, and has the transcript of the true
 * values. */
typedef struct {
  uint32_t cheater, target; /* target: the one recipient, or MPC_TO_ALL */
  int calls;
} shift;

static int shift_hook(void *ctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload, size_t *len) {
  shift *c = ctx;
  if (from != c->cheater || (m->round != 3 && m->round != 4)) return 0;
  if (c->target != MPC_TO_ALL && to != c->target) return 0;
  uint8_t *pl = malloc(m->len);
  ck_assert_ptr_nonnull(pl);
  memcpy(pl, m->payload, m->len);
  for (size_t off = data_off(m); off + FE_BYTES <= m->len; off += FE_BYTES) {
    fe v;
    ck_assert_int_eq(fe_decode(pl + off, &v), 0);
    fe_encode(fe_add(v, 1), pl + off);
  }
  *payload = pl;
  *len = m->len;
  c->calls++;
  return 1;
}

START_TEST(t_transcript_corrected) {
  const uint32_t n = 4;
  for (uint32_t cheater = 0; cheater < n; cheater++)
    for (int one = 0; one < 2; one++) {
      mh *h = mk(n);
      mpc_program *p = cheat_program();
      fill_for(h, p);
      fe xs[CL], ys[CL], zs[CL], as[CL];
      for (int k = 0; k < CL; k++) {
        xs[k] = fe_from_i64(rnd_i64());
        ys[k] = fe_from_i64(rnd_i64());
        zs[k] = fe_mul(xs[k], ys[k]);
        as[k] = fe_add(xs[k], ys[k]);
      }
      inputs in;
      inputs_xy(&in, xs, ys, CL);
      shift c = {.cheater = cheater, .target = one ? (cheater + 1) % n : MPC_TO_ALL};
      h->tamper = shift_hook;
      h->tamper_ctx = &c;
      mpc_session *s[MPC_MAX_N] = {0};
      run_online(h, p, &in, s);
      ck_assert_int_gt(c.calls, 0);
      uint64_t honest = (((uint64_t)1 << n) - 1) & ~((uint64_t)1 << cheater);
      for (uint32_t i = 0; i < n; i++)
        if ((honest >> i) & 1 && (!one || i == c.target))
          ck_assert_msg(mpc_session_status(s[i])->corrected == (uint64_t)1 << cheater,
                        "cheater %u: party %u corrected %llx", cheater, i,
                        (unsigned long long)mpc_session_status(s[i])->corrected);
      /* OPEN y (round 3), then the outputs x * y and x + y (round 4) */
      const fe *vecs[] = {ys, zs, as};
      const size_t lens[] = {CL, CL, CL};
      uint8_t want[32];
      transcript_want(s[0]->cfg.session, vecs, lens, 3, want);
      char where[48];
      snprintf(where, sizeof where, "cheater %u%s", cheater, one ? " to one" : "");
      expect_transcripts(s, n, honest, want, where);
      free_sessions(s, n);
      mpc_prog_free(p);
      mh_free(h);
    }
}
END_TEST

/* Hands what party `from` sent when the test started it to the others,
 * which have not started (so they send nothing back yet). */
static void hand_out(mh *h, mpc_session **s, uint32_t from, mpc_outbox *o) {
  mpc_outbox back = {0};
  for (size_t k = 0; k < o->n; k++)
    for (uint32_t j = 0; j < h->n; j++)
      if (j != from && (o->v[k].to == MPC_TO_ALL || o->v[k].to == j))
        ck_assert_int_eq(mpc_session_recv(s[j], o->v[k].buf, o->v[k].len, h->now_ms, &back), CX_OK);
  ck_assert_uint_eq(back.n, 0);
  mpc_outbox_free(&back);
  mpc_outbox_clear(o);
}

/* CX_E_MPC_STATE for anything but a done online session. */
START_TEST(t_transcript_state) {
  const uint32_t n = 4;
  uint8_t out[32];
  ck_assert_int_eq(mpc_session_transcript(NULL, out), CX_E_INVALID_ARG);
  mh *h = mk(n);
  mpc_session *s[MPC_MAX_N] = {0};
  /* prep sessions: before, while and after running */
  for (uint32_t i = 0; i < n; i++) {
    mpc_session_config cfg;
    mh_config(h, i, &cfg);
    ck_assert_int_eq(mpc_session_prep(&cfg, 4, 4, 0, 0, h->pools[i], &s[i]), CX_OK);
    ck_assert_int_eq(mpc_session_transcript(s[i], out), CX_E_MPC_STATE);
  }
  mh_next_session(h);
  mpc_outbox o = {0};
  ck_assert_int_eq(mpc_session_start(s[0], h->now_ms, &o), CX_OK);
  hand_out(h, s, 0, &o);
  ck_assert_int_eq(mpc_session_transcript(s[0], out), CX_E_MPC_STATE);
  ck_assert_uint_eq(mh_run(h, s), n);
  for (uint32_t i = 0; i < n; i++) ck_assert_int_eq(mpc_session_transcript(s[i], out), CX_E_MPC_STATE);
  free_sessions(s, n);
  memset(s, 0, sizeof s);
  /* online sessions: made, started (waiting for the others), aborted */
  small_inputs si;
  small_inputs_init(&si);
  mpc_program *p = small_program();
  fill_for(h, p);
  make_sessions(h, p, &si, s);
  ck_assert_int_eq(mpc_session_transcript(s[1], out), CX_E_MPC_STATE);
  ck_assert_int_eq(mpc_session_start(s[1], h->now_ms, &o), CX_OK);
  hand_out(h, s, 1, &o);
  ck_assert_int_eq(mpc_session_status(s[1])->state, MPC_RUNNING);
  ck_assert_int_eq(mpc_session_transcript(s[1], out), CX_E_MPC_STATE);
  ck_assert_uint_eq(mh_run(h, s), n);
  ck_assert_int_eq(mpc_session_transcript(s[1], out), CX_OK); /* the same session, now done */
  ck_assert_int_eq(mpc_session_transcript(s[1], NULL), CX_E_INVALID_ARG);
  free_sessions(s, n);
  memset(s, 0, sizeof s);
  /* aborted: no random bits in the pools */
  mpc_prog_free(p);
  p = mpc_prog_new();
  mpc_output(p, mpc_randbit(p, 3), 0);
  ck_assert_uint_eq(run_online(h, p, &si.in, s), 0);
  for (uint32_t i = 0; i < n; i++) {
    ck_assert_int_eq(mpc_session_status(s[i])->state, MPC_ABORTED);
    ck_assert_int_eq(mpc_session_transcript(s[i], out), CX_E_MPC_STATE);
  }
  free_sessions(s, n);
  mpc_outbox_free(&o);
  mpc_prog_free(p);
  mh_free(h);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("mpc_online");
  TCase *tc = tcase_create("online");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, t_prog_check);
  tcase_add_test(tc, t_bad_program_refused);
  tcase_add_test(tc, t_prims_n4);
  tcase_add_test(tc, t_prims_n7);
  tcase_add_test(tc, t_bits_n4);
  tcase_add_test(tc, t_bits_n7);
  tcase_add_test(tc, t_bits_dealers);
  tcase_add_test(tc, t_ints);
  tcase_add_test(tc, t_cheat_n4);
  tcase_add_test(tc, t_cheat_n7);
  tcase_add_test(tc, t_cheat_links_n4);
  tcase_add_test(tc, t_cheat_links_n7);
  tcase_add_test(tc, t_two_cheaters_n7);
  tcase_add_test(tc, t_abort_evidence_wins);
  tcase_add_test(tc, t_recv_refusals);
  tcase_add_test(tc, t_equivocation_at_recv);
  tcase_add_test(tc, t_crash_timeout);
  tcase_add_test(tc, t_set_deadline);
  tcase_add_test(tc, t_pool_empty);
  tcase_add_test(tc, t_psqrtinv_fails);
  tcase_add_test(tc, t_missing_input);
  tcase_add_test(tc, t_evidence_verify);
  tcase_add_test(tc, t_split);
  tcase_add_test(tc, t_deterministic);
  tcase_add_test(tc, t_prog_slen_fail);
  tcase_add_test(tc, t_many_registers);
  tcase_add_test(tc, t_lifetimes);
  tcase_add_test(tc, t_pool_desync);
  tcase_add_test(tc, t_guard_lie);
  tcase_add_test(tc, t_guard_evidence);
  tcase_add_test(tc, t_round_deadline);
  tcase_add_test(tc, t_client_honest);
  tcase_add_test(tc, t_client_program);
  tcase_add_test(tc, t_client_bad_share);
  tcase_add_test(tc, t_client_blob_bad);
  tcase_add_test(tc, t_client_member_lies);
  tcase_add_test(tc, t_client_split_views);
  tcase_add_test(tc, t_client_guard);
  tcase_add_test(tc, t_transcript_content);
  tcase_add_test(tc, t_transcript_equal);
  tcase_add_test(tc, t_transcript_inputs);
  tcase_add_test(tc, t_transcript_corrected);
  tcase_add_test(tc, t_transcript_state);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
