/* Integer operations of the MPC engine (mpc/ops.c, docs/mpc-ops.md).
 *
 * Two oracles run the same programs:
 *   - a plaintext interpreter (below): secret registers hold the plain
 *     values, MUL is the product, OPEN the identity, RANDBIT and RAND are
 *     seeded random, RANDINT seeded random over its whole range [0,
 *     2^(kappa + MPC_INT_SLACK)), its top value a quarter of the time (the
 *     masks must not wrap even then); it also counts rounds by the grouping rule of mpc.h and
 *     the material used. It checks the arithmetic of the builders on large
 *     inputs quickly and without the engine;
 *   - the real engine through the harness (mh_online, n = 4 and n = 7).
 * Both are compared with plain C arithmetic on the same inputs.
 *
 * The interpreter section is shared with tests/unit/toy/test_mpc_toy.c,
 * which includes this file with MPC_OPS_INTERP_ONLY defined and so runs it
 * over the toy field. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"
#include "mpc.h"
#include "mpc_harness.h"
#include "testutil.h"

#define SHARED __attribute__((unused)) static

/* ==== the plaintext interpreter ======================================== */

typedef struct {
  fe *v;
  uint64_t n;
} pi_vec;

#define PI_MAXOUT 32

typedef struct {
  uint32_t rounds;                 /* MUL/OPEN rounds (mpc.h grouping rule, no chunking) */
  uint64_t bits, rands, triples, ints; /* material drawn */
  pi_vec out[PI_MAXOUT];
} pi_result;

enum { C_NONE, C_S, C_P };

static void pi_classes(uint16_t op, int *d, int *a, int *b) {
  *d = *a = *b = C_NONE;
  switch (op) {
    case MPC_OP_INPUT: case MPC_OP_RAND: case MPC_OP_RANDBIT: case MPC_OP_RANDINT: *d = C_S; break;
    case MPC_OP_ADD: case MPC_OP_SUB: case MPC_OP_MUL: case MPC_OP_CAT: *d = *a = *b = C_S; break;
    case MPC_OP_ADDP: case MPC_OP_SUBP: case MPC_OP_RSUBP: case MPC_OP_MULP:
      *d = *a = C_S;
      *b = C_P;
      break;
    case MPC_OP_ADDC: case MPC_OP_MULC: case MPC_OP_MOV: case MPC_OP_SLICE: case MPC_OP_SUM:
    case MPC_OP_BCAST:
      *d = *a = C_S;
      break;
    case MPC_OP_OPEN: *d = C_P; *a = C_S; break;
    case MPC_OP_OUTPUT: case MPC_OP_POOLBITS: *a = C_S; break;
    case MPC_OP_PCONST: *d = C_P; break;
    case MPC_OP_PADD: case MPC_OP_PSUB: case MPC_OP_PMUL: case MPC_OP_PCAT: *d = *a = *b = C_P; break;
    case MPC_OP_PBIT: case MPC_OP_PMOD2K: case MPC_OP_PSQRTINV: case MPC_OP_PSLICE: *d = *a = C_P; break;
    default: break;
  }
}

static uint64_t pi_rng(uint64_t *st) { /* splitmix64 */
  uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static fe pi_at(const pi_vec *v, uint64_t i) { return v->n == 1 ? v->v[0] : v->v[i]; }

/* Elementwise binary op by the mpc.h rule; -1 on a length mismatch. */
static int pi_bin(const pi_vec *x, const pi_vec *y, pi_vec *r, fe (*f)(fe, fe)) {
  uint64_t n = x->n == 1 ? y->n : x->n;
  if (x->n != y->n && x->n != 1 && y->n != 1) return -1;
  r->v = malloc(n * sizeof(fe));
  r->n = n;
  if (!r->v) return -1;
  for (uint64_t i = 0; i < n; i++) r->v[i] = f(pi_at(x, i), pi_at(y, i));
  return 0;
}

static fe f_add(fe a, fe b) { return fe_add(a, b); }
static fe f_sub(fe a, fe b) { return fe_sub(a, b); }
static fe f_rsub(fe a, fe b) { return fe_sub(b, a); }
static fe f_mul(fe a, fe b) { return fe_mul(a, b); }

/* Runs prog on plain values: in[slot] / inlen[slot] are the INPUT slots
 * (any dealer). Returns 0, or -1 on an unsupported op or a shape error.
 * Registers are freed after their last read, so long programs on long
 * vectors stay small. */
SHARED int pi_run(const mpc_program *prog, const fe *const *in, const size_t *inlen, size_t nin,
                  uint64_t seed, pi_result *res) {
  size_t n = mpc_prog_len(prog), ns = 1, np = 1;
  memset(res, 0, sizeof *res);
  for (size_t i = 0; i < n; i++) {
    const mpc_ins *x = mpc_prog_ins(prog, i);
    int cd, ca, cb;
    pi_classes(x->op, &cd, &ca, &cb);
    uint32_t r[3] = {x->d, x->a, x->b};
    int c[3] = {cd, ca, cb};
    for (int k = 0; k < 3; k++) {
      if (c[k] == C_S && r[k] >= ns) ns = (size_t)r[k] + 1;
      if (c[k] == C_P && r[k] >= np) np = (size_t)r[k] + 1;
    }
  }
  pi_vec *S = calloc(ns, sizeof *S), *P = calloc(np, sizeof *P);
  size_t *slast = calloc(ns, sizeof *slast), *plast = calloc(np, sizeof *plast);
  uint32_t *stamp = calloc(ns, sizeof *stamp);
  int rc = -1;
  if (!S || !P || !slast || !plast || !stamp) goto out;
  for (size_t i = 0; i < n; i++) { /* last read of each register */
    const mpc_ins *x = mpc_prog_ins(prog, i);
    int cd, ca, cb;
    pi_classes(x->op, &cd, &ca, &cb);
    if (ca == C_S) slast[x->a] = i;
    if (ca == C_P) plast[x->a] = i;
    if (cb == C_S) slast[x->b] = i;
    if (cb == C_P) plast[x->b] = i;
  }
  uint32_t run = 0;
  int in_run = 0;
  for (size_t i = 0; i < n; i++) {
    const mpc_ins *x = mpc_prog_ins(prog, i);
    int cd, ca, cb;
    pi_classes(x->op, &cd, &ca, &cb);
    pi_vec *A = ca == C_S ? &S[x->a] : ca == C_P ? &P[x->a] : NULL;
    pi_vec *B = cb == C_S ? &S[x->b] : cb == C_P ? &P[x->b] : NULL;
    if ((A && !A->v) || (B && !B->v)) goto out; /* unwritten read */
    /* rounds: a run of MUL/OPEN, broken by a read of a MUL result of the run */
    if (x->op == MPC_OP_MUL || x->op == MPC_OP_OPEN) {
      int dep = stamp[x->a] == run || (x->op == MPC_OP_MUL && stamp[x->b] == run);
      if (!in_run || dep) {
        run++;
        res->rounds++;
      }
      in_run = 1;
    } else {
      in_run = 0;
    }
    pi_vec R = {0};
    uint64_t len = A ? A->n : 0;
    switch (x->op) {
      case MPC_OP_INPUT:
        if (x->b >= nin || !in[x->b] || inlen[x->b] != x->imm) goto out;
        R.n = x->imm;
        R.v = malloc(R.n * sizeof(fe));
        if (R.v) memcpy(R.v, in[x->b], R.n * sizeof(fe));
        break;
      case MPC_OP_RAND: case MPC_OP_RANDBIT: case MPC_OP_RANDINT: case MPC_OP_PCONST:
        R.n = x->imm;
        R.v = malloc(R.n * sizeof(fe));
        if (!R.v) goto out;
        for (uint64_t k = 0; k < R.n; k++) {
          if (x->op == MPC_OP_RANDBIT) {
            R.v[k] = pi_rng(&seed) & 1;
          } else if (x->op == MPC_OP_RANDINT) {
            const fe top = (((fe)1) << (MPC_KAPPA + MPC_INT_SLACK)) - 1;
            R.v[k] = pi_rng(&seed) % 4 == 0 ? top : ((((fe)pi_rng(&seed) << 64) | pi_rng(&seed)) & top);
          } else if (x->op == MPC_OP_RAND) {
            R.v[k] = (((fe)pi_rng(&seed) << 64) | pi_rng(&seed)) % FE_P;
          } else {
            R.v[k] = x->c;
          }
        }
        if (x->op == MPC_OP_RANDBIT) res->bits += R.n;
        if (x->op == MPC_OP_RANDINT) res->ints += R.n;
        if (x->op == MPC_OP_RAND) res->rands += R.n;
        break;
      case MPC_OP_ADD: case MPC_OP_ADDP: case MPC_OP_PADD:
        if (pi_bin(A, B, &R, f_add)) goto out;
        break;
      case MPC_OP_SUB: case MPC_OP_SUBP: case MPC_OP_PSUB:
        if (pi_bin(A, B, &R, f_sub)) goto out;
        break;
      case MPC_OP_RSUBP:
        if (pi_bin(A, B, &R, f_rsub)) goto out;
        break;
      case MPC_OP_MUL: case MPC_OP_MULP: case MPC_OP_PMUL:
        if (pi_bin(A, B, &R, f_mul)) goto out;
        if (x->op == MPC_OP_MUL) res->triples += R.n;
        break;
      case MPC_OP_ADDC: case MPC_OP_MULC: case MPC_OP_MOV: case MPC_OP_OPEN: case MPC_OP_PBIT:
      case MPC_OP_PMOD2K:
        R.n = len;
        R.v = malloc(len * sizeof(fe));
        if (!R.v) goto out;
        for (uint64_t k = 0; k < len; k++) {
          fe v = A->v[k];
          if (x->op == MPC_OP_ADDC) v = fe_add(v, x->c);
          if (x->op == MPC_OP_MULC) v = fe_mul(v, x->c);
          if (x->op == MPC_OP_PBIT) v = x->imm < 128 ? (v >> x->imm) & 1 : 0;
          if (x->op == MPC_OP_PMOD2K && x->imm < 128) v &= (((fe)1) << x->imm) - 1;
          R.v[k] = v;
        }
        break;
      case MPC_OP_OUTPUT:
        if (x->imm >= PI_MAXOUT || res->out[x->imm].v) goto out;
        res->out[x->imm].n = len;
        res->out[x->imm].v = malloc(len * sizeof(fe));
        if (!res->out[x->imm].v) goto out;
        memcpy(res->out[x->imm].v, A->v, len * sizeof(fe));
        break;
      case MPC_OP_SLICE: case MPC_OP_PSLICE:
        if (x->imm == 0 || (uint64_t)x->b + x->imm > len) goto out;
        R.n = x->imm;
        R.v = malloc(R.n * sizeof(fe));
        if (R.v) memcpy(R.v, A->v + x->b, R.n * sizeof(fe));
        break;
      case MPC_OP_CAT: case MPC_OP_PCAT:
        R.n = A->n + B->n;
        R.v = malloc(R.n * sizeof(fe));
        if (!R.v) goto out;
        memcpy(R.v, A->v, A->n * sizeof(fe));
        memcpy(R.v + A->n, B->v, B->n * sizeof(fe));
        break;
      case MPC_OP_SUM:
        R.n = 1;
        R.v = calloc(1, sizeof(fe));
        if (!R.v) goto out;
        for (uint64_t k = 0; k < len; k++) R.v[0] = fe_add(R.v[0], A->v[k]);
        break;
      case MPC_OP_BCAST:
        if (len != 1) goto out;
        R.n = x->imm;
        R.v = malloc(R.n * sizeof(fe));
        if (!R.v) goto out;
        for (uint64_t k = 0; k < R.n; k++) R.v[k] = A->v[0];
        break;
      default:
        goto out; /* PSQRTINV, POOLBITS: not used by the integer operations */
    }
    if (cd != C_NONE && !R.v) goto out;
    /* free operands after their last read, then store the result */
    if (ca == C_S && slast[x->a] == i && !(cd == C_S && x->d == x->a)) {
      free(S[x->a].v);
      S[x->a].v = NULL;
    }
    if (cb == C_S && slast[x->b] == i && !(cd == C_S && x->d == x->b) && x->b != x->a) {
      free(S[x->b].v);
      S[x->b].v = NULL;
    }
    if (ca == C_P && plast[x->a] == i && !(cd == C_P && x->d == x->a)) {
      free(P[x->a].v);
      P[x->a].v = NULL;
    }
    if (cb == C_P && plast[x->b] == i && !(cd == C_P && x->d == x->b) && x->b != x->a) {
      free(P[x->b].v);
      P[x->b].v = NULL;
    }
    if (cd == C_S) {
      free(S[x->d].v);
      S[x->d] = R;
      if (x->op == MPC_OP_MUL) stamp[x->d] = run;
    } else if (cd == C_P) {
      free(P[x->d].v);
      P[x->d] = R;
    }
  }
  rc = 0;
out:
  for (size_t i = 0; S && i < ns; i++) free(S[i].v);
  for (size_t i = 0; P && i < np; i++) free(P[i].v);
  free(S);
  free(P);
  free(slast);
  free(plast);
  free(stamp);
  return rc;
}

SHARED void pi_result_free(pi_result *r) {
  for (int i = 0; i < PI_MAXOUT; i++) free(r->out[i].v);
  memset(r, 0, sizeof *r);
}

/* ==== test cases: a program, its inputs and the expected outputs ======== */

#define TC_MAXIN 16

typedef struct {
  mpc_program *p;
  fe *in[TC_MAXIN];
  size_t inlen[TC_MAXIN], nin;
  int64_t *want[PI_MAXOUT];
  size_t wantn[PI_MAXOUT], nout;
  char name[PI_MAXOUT][48];
} tcase;

SHARED void tc_init(tcase *t) {
  memset(t, 0, sizeof *t);
  t->p = mpc_prog_new();
  ck_assert_ptr_nonnull(t->p);
}

SHARED void tc_free(tcase *t) {
  mpc_prog_free(t->p);
  for (size_t i = 0; i < t->nin; i++) free(t->in[i]);
  for (size_t i = 0; i < t->nout; i++) free(t->want[i]);
  memset(t, 0, sizeof *t);
}

/* An INPUT of party 0 holding v (signed, fe_from_i64). */
SHARED uint32_t tc_input(tcase *t, const int64_t *v, size_t n) {
  ck_assert_uint_lt(t->nin, TC_MAXIN);
  size_t s = t->nin++;
  t->in[s] = malloc(n * sizeof(fe));
  ck_assert_ptr_nonnull(t->in[s]);
  for (size_t i = 0; i < n; i++) t->in[s][i] = fe_from_i64(v[i]);
  t->inlen[s] = n;
  return mpc_input(t->p, 0, (uint32_t)s, n);
}

/* OUTPUT reg, expected to equal want[0..n) (copied). */
SHARED void tc_expect(tcase *t, uint32_t reg, const int64_t *want, size_t n, const char *name) {
  ck_assert_uint_lt(t->nout, PI_MAXOUT);
  size_t s = t->nout++;
  t->want[s] = malloc(n * sizeof(int64_t));
  ck_assert_ptr_nonnull(t->want[s]);
  memcpy(t->want[s], want, n * sizeof(int64_t));
  t->wantn[s] = n;
  snprintf(t->name[s], sizeof t->name[s], "%s", name);
  mpc_output(t->p, reg, (uint32_t)s);
}

/* Compares the outputs (out[slot], outn[slot]) with the expectations; names
 * the first mismatch (test values, not secrets). */
static void tc_compare(const tcase *t, const char *who, fe *const *out, const size_t *outn) {
  for (size_t s = 0; s < t->nout; s++) {
    ck_assert_msg(outn[s] == t->wantn[s], "%s: %s: %zu outputs, want %zu", who, t->name[s], outn[s],
                  t->wantn[s]);
    for (size_t i = 0; i < t->wantn[s]; i++) {
      /* the element in hex: a wrong value need not be in int64 range */
      fe x = out[s][i];
      ck_assert_msg(x == fe_from_i64(t->want[s][i]), "%s: %s[%zu] = 0x%llx%016llx (%lld), want %lld", who,
                    t->name[s], i, (unsigned long long)(uint64_t)(x >> 64), (unsigned long long)(uint64_t)x,
                    (long long)fe_to_i64(x), (long long)t->want[s][i]);
    }
  }
}

/* Runs the case through the interpreter; returns its result (rounds,
 * material) for further checks. */
SHARED pi_result tc_run_plain(const tcase *t) {
  char err[200];
  ck_assert_msg(mpc_prog_check(t->p, 4, err, sizeof err) == CX_OK, "program: %s", err);
  pi_result r;
  ck_assert_int_eq(pi_run(t->p, (const fe *const *)t->in, t->inlen, t->nin, tu_rand(), &r), 0);
  fe *out[PI_MAXOUT];
  size_t outn[PI_MAXOUT];
  for (size_t s = 0; s < PI_MAXOUT; s++) {
    out[s] = r.out[s].v;
    outn[s] = r.out[s].n;
  }
  tc_compare(t, "plain", out, outn);
  for (size_t s = 0; s < PI_MAXOUT; s++) {
    free(r.out[s].v);
    r.out[s].v = NULL;
  }
  return r;
}

#define PREP_BATCH 16384

/* Runs the case on the engine with n parties (t = (n-1)/3): fills every
 * pool from the program's cost, runs it, and checks that every party is
 * done with the same outputs. */
SHARED void tc_run_engine(const tcase *t, uint32_t n) {
  char err[200];
  ck_assert_msg(mpc_prog_check(t->p, n, err, sizeof err) == CX_OK, "program: %s", err);
  mpc_prog_cost c;
  mpc_prog_cost_get(t->p, &c);
  mpc_prog_cost_at(n, (n - 1) / 3, &c); /* with dealers, ints are bits */
  /* with dealers a pool bit costs one random sharing and one square (a
   * triple) of the bits session; under PRSS nothing (mpc_session_bits is a
   * prep batch of bits). Exact amounts: the pools end empty */
  size_t bits = c.bits, own = mpc_prep_prss(n, (n - 1) / 3) ? 0 : bits;
  size_t tri = c.triples + own, ran = c.rands + own, nint = c.ints;
  size_t cap = tri > ran ? tri : ran;
  cap = cap > bits ? cap : bits;
  cap = cap > nint ? cap : nint;
  mh *h = mh_new(n, (n - 1) / 3, tu_rand(), cap);
  ck_assert_ptr_nonnull(h);
  /* prep batches are bounded by the message cap (the audit message carries
   * a whole batch): fill in pieces */
  for (size_t dt = 0, dr = 0, di = 0; dt < tri || dr < ran || di < nint;) {
    size_t bt = tri - dt < PREP_BATCH ? tri - dt : PREP_BATCH;
    size_t br = ran - dr < PREP_BATCH ? ran - dr : PREP_BATCH;
    size_t bi = nint - di < PREP_BATCH ? nint - di : PREP_BATCH;
    ck_assert_uint_eq(mh_prep_ints(h, bt, br, bi, NULL), n);
    dt += bt;
    dr += br;
    di += bi;
  }
  if (bits) ck_assert_uint_eq(mh_bits(h, bits, NULL), n);
  const fe *const *inp[MPC_MAX_N] = {0};
  const size_t *inl[MPC_MAX_N] = {0};
  inp[0] = (const fe *const *)t->in;
  inl[0] = t->inlen;
  mpc_session *sess[MPC_MAX_N] = {0};
  uint32_t done = mh_online(h, t->p, inp, inl, sess);
  mpc_pool_level lv;
  mpc_pool_level_get(h->pools[0], &lv);
  ck_assert_msg(lv.triples == 0 && lv.rands == 0 && lv.bits == 0 && lv.ints == 0, "cost and use differ");
  for (uint32_t i = 0; i < n; i++) {
    ck_assert_ptr_nonnull(sess[i]);
    const mpc_status *st = mpc_session_status(sess[i]);
    ck_assert_msg(st->state == MPC_DONE, "party %u: state %d err %d: %s", i, st->state, st->err,
                  st->reason);
  }
  ck_assert_uint_eq(done, n);
  fe *out[PI_MAXOUT] = {0};
  size_t outn[PI_MAXOUT] = {0};
  for (size_t s = 0; s < t->nout; s++) {
    const fe *v0;
    outn[s] = mpc_session_output(sess[0], (uint32_t)s, &v0);
    out[s] = (fe *)v0;
    for (uint32_t i = 1; i < n; i++) {
      const fe *vi;
      ck_assert_uint_eq(mpc_session_output(sess[i], (uint32_t)s, &vi), outn[s]);
      ck_assert(memcmp(vi, v0, outn[s] * sizeof(fe)) == 0);
    }
  }
  tc_compare(t, "engine", out, outn);
  for (uint32_t i = 0; i < n; i++) mpc_session_free(sess[i]);
  mh_free(h);
}

/* ==== plain references and inputs ======================================= */

SHARED int64_t kmin(uint32_t k) { return k >= 64 ? INT64_MIN : -((int64_t)1 << (k - 1)); }
SHARED int64_t kmax(uint32_t k) { return k >= 64 ? INT64_MAX : ((int64_t)1 << (k - 1)) - 1; }

/* A k-bit signed value: an edge (min, max, 0, -1, 1) one time in four,
 * else uniform. */
SHARED int64_t rand_k(uint32_t k) {
  uint64_t r = tu_rand();
  switch (r % 20) {
    case 0: return kmin(k);
    case 1: return kmax(k);
    case 2: return 0;
    case 3: return -1;
    case 4: return k >= 2 ? 1 : 0;
    default: break;
  }
  return (int64_t)(tu_rand() << (64 - k)) >> (64 - k);
}

/* b for a pair (a, b): often equal or a neighbour, within k bits. */
SHARED int64_t rand_partner(int64_t a, uint32_t k) {
  switch (tu_rand() % 6) {
    case 0: return a;
    case 1: return a < kmax(k) ? a + 1 : a;
    case 2: return a > kmin(k) ? a - 1 : a;
    default: return rand_k(k);
  }
}

/* n pairs (a[i], b[i]) of k-bit values: every edge pair (the extremes, 0,
 * +-1, equal operands, neighbours a = b +- 1; clamped to k bits) as far as n
 * allows, the rest random with an equal or neighbouring partner half the
 * time; shuffled, so the extremes sit anywhere in a vector. */
typedef struct {
  int64_t *a, *b;
  size_t n;
} pairs;

static int64_t clamp_k(__int128 v, uint32_t k) {
  return v < kmin(k) ? kmin(k) : v > kmax(k) ? kmax(k) : (int64_t)v;
}

SHARED pairs pairs_new(size_t n, uint32_t k) {
  const __int128 lo = kmin(k), hi = kmax(k);
  const __int128 edges[][2] = {
      {lo, hi},     {hi, lo},     {lo, lo},      {hi, hi},     {lo, lo + 1}, {lo + 1, lo},
      {hi - 1, hi}, {hi, hi - 1}, {0, 0},        {0, 1},       {1, 0},       {0, -1},
      {-1, 0},      {1, 1},       {-1, -1},      {1, -1},      {-1, 1},      {lo, 0},
      {0, lo},      {hi, 0},      {0, hi},       {lo, -1},     {hi, 1},      {lo + 1, lo + 1},
  };
  const size_t nedges = sizeof edges / sizeof edges[0];
  pairs p = {malloc(n * sizeof(int64_t)), malloc(n * sizeof(int64_t)), n};
  ck_assert_ptr_nonnull(p.a);
  ck_assert_ptr_nonnull(p.b);
  for (size_t i = 0; i < n; i++) {
    if (i < nedges) {
      p.a[i] = clamp_k(edges[i][0], k);
      p.b[i] = clamp_k(edges[i][1], k);
    } else {
      p.a[i] = rand_k(k);
      p.b[i] = rand_partner(p.a[i], k);
    }
  }
  for (size_t i = n; i > 1; i--) {
    size_t j = tu_rand() % i;
    int64_t x = p.a[i - 1], y = p.b[i - 1];
    p.a[i - 1] = p.a[j], p.b[i - 1] = p.b[j];
    p.a[j] = x, p.b[j] = y;
  }
  return p;
}

SHARED void pairs_free(pairs *p) {
  free(p->a);
  free(p->b);
  memset(p, 0, sizeof *p);
}

/* floor(a / d) */
SHARED int64_t floordiv(int64_t a, uint64_t d) {
  __int128 q = (__int128)a / (__int128)d, r = (__int128)a % (__int128)d;
  if (r != 0 && a < 0) q--;
  return (int64_t)q;
}

SHARED int64_t floorshift(int64_t a, uint32_t m) { return m >= 64 ? (a < 0 ? -1 : 0) : a >> m; }

SHARED uint32_t clog2(uint64_t x) {
  uint32_t r = 0;
  while (((uint64_t)1 << r) < x && r < 63) r++;
  return r;
}

SHARED uint32_t bitlen32(uint32_t x) {
  uint32_t n = 0;
  for (; x; x >>= 1) n++;
  return n;
}

/* A mask's statistical part for a k-bit operand (docs/mpc-ops.md "Bounded
 * random integers"): one bounded random integer where k + MPC_INT_SLACK +
 * kappa + 1 < field bits, else kappa pool bits. */
SHARED int int_room(uint32_t k) { return k + MPC_INT_SLACK + MPC_KAPPA + 1 < MPC_FIELD_BITS; }
SHARED uint32_t stat_bits(uint32_t k) { return int_room(k) ? 0 : MPC_KAPPA; }
SHARED uint32_t stat_ints(uint32_t k) { return int_room(k) ? 1 : 0; }

/* The AND of m bits by counting (docs/mpc-ops.md "EQZ, EQ, NE"): from
 * m = 3, where 2 (m - 1) > (b + its mask's bits) + 2 (b - 1), b =
 * bitlen(m), b's mask fits, and it takes no more rounds than the tree. */
SHARED uint32_t rounds_and(uint32_t m);
SHARED int and_count(uint32_t m) {
  if (m < 3) return 0;
  uint32_t b = bitlen32(m);
  return b + MPC_KAPPA + 1 < MPC_FIELD_BITS && 2 * (m - 1) > (b + stat_bits(b)) + 2 * (b - 1) &&
         1 + rounds_and(b) <= clog2(m);
}

/* The documented round counts and pool bits and ints (docs/mpc-ops.md). */
SHARED uint32_t rounds_mod2m(uint32_t m) { return 1 + clog2(m); }
SHARED uint32_t rounds_ltz(uint32_t k) { return k == 1 ? 0 : rounds_mod2m(k - 1); }
SHARED uint32_t rounds_and(uint32_t m) { return and_count(m) ? 1 + rounds_and(bitlen32(m)) : clog2(m); }
SHARED uint32_t rounds_eqz(uint32_t k) { return 1 + rounds_and(k); }
SHARED uint32_t rounds_eqz_field(void) { return 1 + rounds_and(MPC_FIELD_BITS); }
SHARED uint64_t bits_and(uint32_t m) {
  return and_count(m) ? bitlen32(m) + stat_bits(bitlen32(m)) + bits_and(bitlen32(m)) : 0;
}
SHARED uint64_t ints_and(uint32_t m) { return and_count(m) ? stat_ints(bitlen32(m)) + ints_and(bitlen32(m)) : 0; }
SHARED uint64_t bits_eqz(uint32_t k) { return k + stat_bits(k) + bits_and(k); }
SHARED uint64_t ints_eqz(uint32_t k) { return stat_ints(k) + ints_and(k); }
SHARED uint64_t bits_eqz_field(void) { return MPC_FIELD_BITS + bits_and(MPC_FIELD_BITS); }
SHARED uint64_t ints_eqz_field(void) { return ints_and(MPC_FIELD_BITS); }
/* LTZ of k bits: Mod2m(k - 1) of a k-bit value, whose high mask part has
 * kappa + 1 bits: 1 bit and an int, or kappa + 1 bits. */
SHARED uint64_t bits_ltz(uint32_t k) { return k == 1 ? 0 : (k - 1) + (int_room(k) ? 1 : MPC_KAPPA + 1); }
SHARED uint64_t ints_ltz(uint32_t k) { return k == 1 ? 0 : stat_ints(k); }

/* lt, le, eq and ne of n pairs of k-bit values (inputs ra, rb). */
SHARED void tc_cmp2(tcase *t, uint32_t ra, uint32_t rb, const int64_t *a, const int64_t *b, size_t n,
                    uint32_t k) {
  int64_t *w = malloc(n * sizeof *w);
  ck_assert_ptr_nonnull(w);
  for (size_t i = 0; i < n; i++) w[i] = a[i] < b[i];
  tc_expect(t, mpc_lt(t->p, ra, rb, k), w, n, "lt");
  for (size_t i = 0; i < n; i++) w[i] = a[i] <= b[i];
  tc_expect(t, mpc_le(t->p, ra, rb, k), w, n, "le");
  for (size_t i = 0; i < n; i++) w[i] = a[i] == b[i];
  tc_expect(t, mpc_eq(t->p, ra, rb, k), w, n, "eq");
  for (size_t i = 0; i < n; i++) w[i] = a[i] != b[i];
  tc_expect(t, mpc_ne(t->p, ra, rb, k), w, n, "ne");
  free(w);
}

/* ltz and eqz of n k-bit values (input ra). */
SHARED void tc_sign(tcase *t, uint32_t ra, const int64_t *a, size_t n, uint32_t k) {
  int64_t *w = malloc(n * sizeof *w);
  ck_assert_ptr_nonnull(w);
  for (size_t i = 0; i < n; i++) w[i] = a[i] < 0;
  tc_expect(t, mpc_ltz(t->p, ra, k), w, n, "ltz");
  for (size_t i = 0; i < n; i++) w[i] = a[i] == 0;
  tc_expect(t, mpc_eqz(t->p, ra, k), w, n, "eqz");
  free(w);
}

/* All comparisons of n pairs of k-bit values in one program. */
SHARED void tc_cmp(tcase *t, const int64_t *a, const int64_t *b, size_t n, uint32_t k) {
  uint32_t ra = tc_input(t, a, n), rb = tc_input(t, b, n);
  tc_cmp2(t, ra, rb, a, b, n, k);
  tc_sign(t, ra, a, n, k);
}

/* trunc of a for each m in ms; divc of a for each d in ds. */
SHARED void tc_trunc(tcase *t, uint32_t ra, const int64_t *a, size_t n, uint32_t k, const uint32_t *ms,
                     size_t nm) {
  int64_t *w = malloc(n * sizeof *w);
  ck_assert_ptr_nonnull(w);
  for (size_t j = 0; j < nm; j++) {
    char name[48];
    snprintf(name, sizeof name, "trunc(k=%u, m=%u)", k, ms[j]);
    for (size_t i = 0; i < n; i++) w[i] = floorshift(a[i], ms[j]);
    tc_expect(t, mpc_trunc(t->p, ra, k, ms[j]), w, n, name);
  }
  free(w);
}

SHARED void tc_divc(tcase *t, uint32_t ra, const int64_t *a, size_t n, uint32_t k, const uint64_t *ds,
                    size_t nd) {
  int64_t *w = malloc(n * sizeof *w);
  ck_assert_ptr_nonnull(w);
  for (size_t j = 0; j < nd; j++) {
    char name[48];
    snprintf(name, sizeof name, "divc(k=%u, d=%llu)", k, (unsigned long long)ds[j]);
    for (size_t i = 0; i < n; i++) w[i] = floordiv(a[i], ds[j]);
    tc_expect(t, mpc_divc(t->p, ra, k, ds[j]), w, n, name);
  }
  free(w);
}

/* select, vsum, vmin, vmax and member (true and false) on vectors of
 * length n of k-bit values. The sum is compared as an int64: vsum runs on
 * a >> sh, sh the least shift that keeps any sum of n such values within
 * int64 (0 unless n * 2^(k-1) would pass 2^63; then a separate input). */
SHARED void tc_vec(tcase *t, const int64_t *a, const int64_t *b, size_t n, uint32_t k) {
  int64_t *w = calloc(n, sizeof *w), *c = calloc(n, sizeof *c);
  ck_assert_ptr_nonnull(w);
  ck_assert_ptr_nonnull(c);
  for (size_t i = 0; i < n; i++) c[i] = (int64_t)(tu_rand() & 1);
  uint32_t ra = tc_input(t, a, n), rb = tc_input(t, b, n), rc = tc_input(t, c, n);
  for (size_t i = 0; i < n; i++) w[i] = c[i] ? a[i] : b[i];
  tc_expect(t, mpc_select(t->p, rc, ra, rb), w, n, "select");
  uint32_t sh = k - 1 + clog2(n) > 63 ? k - 1 + clog2(n) - 63 : 0;
  int64_t s = 0, mn = a[0], mx = a[0];
  for (size_t i = 0; i < n; i++) {
    w[i] = a[i] >> sh;
    s += w[i];
    if (a[i] < mn) mn = a[i];
    if (a[i] > mx) mx = a[i];
  }
  tc_expect(t, mpc_vsum(t->p, sh ? tc_input(t, w, n) : ra), &s, 1, "vsum");
  tc_expect(t, mpc_vmin(t->p, ra, k), &mn, 1, "vmin");
  tc_expect(t, mpc_vmax(t->p, ra, k), &mx, 1, "vmax");
  /* member: an element of a (true), and a value not in a (false) */
  int64_t xin = a[tu_rand() % n], xout = rand_k(k);
  for (int tries = 0; tries < 1000; tries++) {
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) found = a[i] == xout;
    if (!found) break;
    xout = rand_k(k);
  }
  int64_t one = 1, zero = 0;
  int found = 0;
  for (size_t i = 0; i < n && !found; i++) found = a[i] == xout;
  uint32_t rxin = tc_input(t, &xin, 1), rxout = tc_input(t, &xout, 1);
  tc_expect(t, mpc_member(t->p, rxin, ra, k), &one, 1, "member(in)");
  tc_expect(t, mpc_member(t->p, rxout, ra, k), found ? &one : &zero, 1, "member(out)");
  free(w);
  free(c);
}

/* Runs the case through the interpreter and, if nparties > 0, through the
 * engine with that many parties; then frees it. */
SHARED void tc_check(tcase *t, uint32_t nparties) {
  tc_run_plain(t);
  if (nparties) tc_run_engine(t, nparties);
  tc_free(t);
}

#ifndef MPC_OPS_INTERP_ONLY
/* ==== the production-field suite ======================================== */

/* Engine sizes, elements per operation (times $CUSTOS_MPC_TEST_SCALE; see
 * "the engine" below). */
#define ENGINE_N 1000

static const uint32_t TRUNC_M[] = {0, 1, 2, 7, 16, 31, 32, 33, 62, 63, 64, 70};
static const uint64_t DIVS[] = {1,
                                2,
                                3,
                                7,
                                10,
                                1000,
                                ((uint64_t)1 << 32) + 1,
                                6,
                                5u << 20,
                                12345678901ull,
                                ((uint64_t)1 << 40) + 1,
                                ((uint64_t)1 << 47) - 1,
                                ((uint64_t)1 << 62) + 1,
                                ((uint64_t)1 << 63) - 1,
                                (uint64_t)1 << 63,
                                UINT64_MAX};
#define NDIVS (sizeof DIVS / sizeof DIVS[0])

/* --- interpreter: the arithmetic of the builders on many inputs --- */

START_TEST(test_plain_cmp64) {
  size_t n = 10000;
  pairs v = pairs_new(n, 64);
  tcase t;
  tc_init(&t);
  tc_cmp(&t, v.a, v.b, n, 64);
  pi_result r = tc_run_plain(&t);
  /* lt, le, ltz: k (+ 1) bits and an int; eq, ne, eqz: k bits, an int
   * and the AND's count */
  ck_assert_uint_eq(r.bits, n * (2 * bits_ltz(65) + bits_ltz(64) + 3 * bits_eqz(64)));
  ck_assert_uint_eq(r.ints, n * (2 * ints_ltz(65) + ints_ltz(64) + 3 * ints_eqz(64)));
#if MPC_FIELD_BITS == 127
  ck_assert_uint_eq(bits_ltz(65), 65); /* 105 before ints */
  ck_assert_uint_eq(bits_eqz(64), 74); /* 64 + 7 + 3: 151 before ints */
#endif
  tc_free(&t);
  pairs_free(&v);
}
END_TEST

START_TEST(test_plain_cmp_k) {
  static const uint32_t ks[] = {1, 2, 3, 5, 8, 17, 31, 32, 33, 48, 63};
  for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
    pairs v = pairs_new(3000, ks[j]);
    tcase t;
    tc_init(&t);
    tc_cmp(&t, v.a, v.b, v.n, ks[j]);
    tc_check(&t, 0);
    pairs_free(&v);
  }
}
END_TEST

START_TEST(test_plain_trunc) {
  static const uint32_t ks[] = {64, 40, 9, 2, 1};
  for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
    pairs v = pairs_new(4000, ks[j]);
    tcase t;
    tc_init(&t);
    tc_trunc(&t, tc_input(&t, v.a, v.n), v.a, v.n, ks[j], TRUNC_M, sizeof TRUNC_M / sizeof TRUNC_M[0]);
    tc_check(&t, 0);
    pairs_free(&v);
  }
}
END_TEST

/* Every path of divc: d = 1, powers of two, d >= 2^(k-1), the direct
 * reciprocal (small k or large d) and one or more splits (k = 64, small d). */
START_TEST(test_plain_divc) {
  static const uint32_t ks[] = {64, 63, 48, 40, 33, 16, 8, 3, 1};
  for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
    pairs v = pairs_new(3000, ks[j]);
    tcase t;
    tc_init(&t);
    uint32_t ra = tc_input(&t, v.a, v.n);
    tc_divc(&t, ra, v.a, v.n, ks[j], DIVS, NDIVS);
    /* and random divisors of every size below 2^k */
    uint64_t rd[8];
    for (int i = 0; i < 8; i++) {
      uint32_t bits = 1 + (uint32_t)(tu_rand() % ks[j]);
      rd[i] = (tu_rand() >> (64 - bits)) | 1;
    }
    tc_divc(&t, ra, v.a, v.n, ks[j], rd, 8);
    tc_check(&t, 0);
    pairs_free(&v);
  }
}
END_TEST

START_TEST(test_plain_vec) {
  static const size_t lens[] = {1, 2, 3, 5, 8, 31, 33, 100, 1000};
  static const uint32_t ks[] = {48, 64};
  for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++)
    for (size_t l = 0; l < 2; l++) {
      pairs v = pairs_new(lens[j], ks[l]);
      tcase t;
      tc_init(&t);
      tc_vec(&t, v.a, v.b, v.n, ks[l]);
      tc_check(&t, 0);
      pairs_free(&v);
    }
}
END_TEST

/* member with duplicates (the OR must stay a bit) and both OR methods. */
START_TEST(test_plain_member_dups) {
  static const size_t lens[] = {2, 16, 17, 40, 300};
  for (size_t j = 0; j < sizeof lens / sizeof lens[0]; j++) {
    size_t n = lens[j];
    int64_t *set = malloc(n * sizeof *set);
    for (size_t i = 0; i < n; i++) set[i] = (int64_t)(i % 3) - 1; /* -1, 0, 1, -1, ... */
    int64_t xs[4] = {-1, 0, 1, 2}, w[4] = {1, 1, n >= 3 ? 1 : 0, 0};
    tcase t;
    tc_init(&t);
    uint32_t rs = tc_input(&t, set, n);
    for (int i = 0; i < 4; i++) {
      uint32_t rx = tc_input(&t, &xs[i], 1);
      tc_expect(&t, mpc_member(t.p, rx, rs, 64), &w[i], 1, "member");
    }
    tc_run_plain(&t);
    tc_free(&t);
    free(set);
  }
}
END_TEST

/* eqz_field on values spread over the whole field: a, a * C for a random
 * constant C (zero iff a is) and a * b (zero iff one of them is), with the
 * edge pairs (zeros, ones, INT64_MIN and INT64_MAX) and random 64-bit
 * values; the bits drawn are MPC_FIELD_BITS per element. */
static void tc_eqz_field(tcase *t, const pairs *v) {
  size_t n = v->n;
  int64_t *w = calloc(n, sizeof *w);
  ck_assert_ptr_nonnull(w);
  fe c = 0;
  while (c == 0) c = (((fe)tu_rand() << 64) | tu_rand()) & FE_P;
  if (c == FE_P) c = 1;
  uint32_t ra = tc_input(t, v->a, n), rb = tc_input(t, v->b, n);
  for (size_t i = 0; i < n; i++) w[i] = v->a[i] == 0;
  tc_expect(t, mpc_eqz_field(t->p, ra), w, n, "eqz_field(a)");
  tc_expect(t, mpc_eqz_field(t->p, mpc_mulc(t->p, ra, c)), w, n, "eqz_field(a*C)");
  for (size_t i = 0; i < n; i++) w[i] = v->a[i] == 0 || v->b[i] == 0;
  tc_expect(t, mpc_eqz_field(t->p, mpc_mul(t->p, ra, rb)), w, n, "eqz_field(a*b)");
  free(w);
}

START_TEST(test_plain_eqz_field) {
  pairs v = pairs_new(3000, 64);
  for (size_t i = 0; i < v.n; i += 7) v.a[i] = 0; /* many zeros */
  tcase t;
  tc_init(&t);
  tc_eqz_field(&t, &v);
  pi_result r = tc_run_plain(&t);
  ck_assert_uint_eq(r.bits, 3 * v.n * bits_eqz_field());
  ck_assert_uint_eq(r.ints, 3 * v.n * ints_eqz_field());
  tc_free(&t);
  pairs_free(&v);
}
END_TEST

/* member by each of its production-field ways (ops.c, mpc_member): a set
 * of two small values (equality bits and a product), and sets where the
 * bits would pass the field's width (product of differences, zero test);
 * values in and out, duplicates, the set's extremes. */
START_TEST(test_plain_member_ways) {
  const struct {
    size_t s;
    uint32_t k;
    uint64_t bits; /* drawn by one member */
  } cases[] = {{2, 16, 2 * bits_eqz(16)}, {2, 64, 0}, {16, 17, 0}, {3, 1, 3 * bits_eqz(1)}, {257, 8, 0}};
  for (size_t j = 0; j < sizeof cases / sizeof cases[0]; j++) {
    size_t n = cases[j].s;
    uint32_t k = cases[j].k;
    pairs v = pairs_new(n, k);
    int64_t xs[6] = {v.a[0], v.a[n - 1], v.b[0], kmin(k), kmax(k), 0}, w[6];
    for (int i = 0; i < 6; i++) {
      w[i] = 0;
      for (size_t q = 0; q < n; q++) w[i] |= v.a[q] == xs[i];
    }
    tcase t;
    tc_init(&t);
    uint32_t rs = tc_input(&t, v.a, n);
    for (int i = 0; i < 6; i++) tc_expect(&t, mpc_member(t.p, tc_input(&t, &xs[i], 1), rs, k), &w[i], 1, "member");
    pi_result r = tc_run_plain(&t);
    uint64_t bits = cases[j].bits ? cases[j].bits : bits_eqz_field(); /* 0: the zero test */
    ck_assert_msg(r.bits == 6 * bits, "case %zu: %llu bits", j, (unsigned long long)r.bits);
    tc_free(&t);
    pairs_free(&v);
  }
}
END_TEST

/* Round counts as documented (and the cost the engine reserves agrees). */
static uint32_t op_rounds(int which, uint32_t k, uint64_t arg, uint64_t len) {
  tcase t;
  tc_init(&t);
  int64_t *a = calloc(len, sizeof *a);
  for (uint64_t i = 0; i < len; i++) a[i] = (int64_t)i % 5 - 2;
  uint32_t ra = tc_input(&t, a, len), r;
  switch (which) {
    case 0: r = mpc_ltz(t.p, ra, k); break;
    case 1: r = mpc_lt(t.p, ra, ra, k); break;
    case 2: r = mpc_eqz(t.p, ra, k); break;
    case 3: r = mpc_trunc(t.p, ra, k, (uint32_t)arg); break;
    case 4: r = mpc_divc(t.p, ra, k, arg); break;
    case 5: r = mpc_vmin(t.p, ra, k); break;
    case 6: r = mpc_select(t.p, ra, ra, ra); break;
    case 8: r = mpc_eqz_field(t.p, ra); break;
    default: r = mpc_member(t.p, mpc_input(t.p, 0, 15, 1), ra, k); break;
  }
  mpc_output(t.p, r, 0);
  char err[200];
  ck_assert_msg(mpc_prog_check(t.p, 4, err, sizeof err) == CX_OK, "%s", err);
  pi_result res;
  fe one = 1;
  const fe *in[16] = {t.in[0]};
  size_t inl[16] = {len};
  in[15] = &one;
  inl[15] = 1;
  ck_assert_int_eq(pi_run(t.p, in, inl, 16, 1, &res), 0);
  mpc_prog_cost c;
  mpc_prog_cost_get(t.p, &c);
  /* the input group (3 rounds) and the output (1) around the operation;
   * on long vectors the engine splits a round whose messages would pass
   * the message cap, so the cost may exceed the logical rounds there */
  uint32_t extra = 3 + 1;
  if (len <= 100)
    ck_assert_msg(c.rounds == res.rounds + extra, "op %d k %u len %llu: cost rounds %u, plain %u", which,
                  k, (unsigned long long)len, c.rounds, res.rounds);
  else
    ck_assert_uint_ge(c.rounds, res.rounds + extra);
  ck_assert_uint_eq(c.bits, res.bits);
  ck_assert_uint_eq(c.ints, res.ints);
  ck_assert_uint_eq(c.triples, res.triples);
  uint32_t rounds = res.rounds;
  pi_result_free(&res);
  tc_free(&t);
  free(a);
  return rounds;
}

START_TEST(test_rounds) {
  for (uint32_t k = 1; k <= 64; k++) {
    ck_assert_uint_eq(op_rounds(0, k, 0, 3), rounds_ltz(k));
    ck_assert_uint_eq(op_rounds(1, k, 0, 3), rounds_ltz(k + 1));
    ck_assert_uint_eq(op_rounds(2, k, 0, 3), rounds_eqz(k));
  }
  /* vectorized: the rounds do not depend on the length */
  ck_assert_uint_eq(op_rounds(0, 64, 0, 5000), 7);
  ck_assert_uint_eq(op_rounds(1, 64, 0, 5000), 7);
  ck_assert_uint_eq(op_rounds(2, 64, 0, 5000), 5); /* the AND by counting */
  for (uint32_t m = 1; m < 64; m++) ck_assert_uint_eq(op_rounds(3, 64, m, 3), rounds_mod2m(m));
  ck_assert_uint_eq(op_rounds(3, 64, 0, 3), 0);
  ck_assert_uint_eq(op_rounds(3, 64, 64, 3), rounds_ltz(64));
  ck_assert_uint_eq(op_rounds(6, 64, 0, 3), 1);
  /* tournament: ceil(log2 len) levels of one comparison and one selection */
  ck_assert_uint_eq(op_rounds(5, 64, 0, 1), 0);
  ck_assert_uint_eq(op_rounds(5, 64, 0, 2), 8);
  ck_assert_uint_eq(op_rounds(5, 64, 0, 1000), 10 * 8);
  /* divc: d = 2^j is trunc; k = 64 and d = 3 is split, reciprocal,
   * correction: 7 + 7 + 3 (docs/mpc-ops.md table) */
  ck_assert_uint_eq(op_rounds(4, 64, 1024, 3), rounds_mod2m(10));
  ck_assert_uint_le(op_rounds(4, 64, 3, 3), 24);
  ck_assert_uint_le(op_rounds(4, 64, 1000, 3), 24);
  ck_assert_uint_le(op_rounds(4, 64, ((uint64_t)1 << 32) + 1, 3), 24);
  /* member: where s (k + kappa) bits would pass the field's width, the
   * product of the differences (ceil(log2 s) rounds) and its full-width
   * zero test; else EQZ and a product tree (a set of 2 small values) */
  ck_assert_uint_eq(op_rounds(7, 64, 0, 8), 3 + rounds_eqz_field());
  ck_assert_uint_eq(op_rounds(7, 64, 0, 1000), 10 + rounds_eqz_field());
  ck_assert_uint_eq(op_rounds(7, 16, 0, 2), rounds_eqz(16) + 1);
  ck_assert_uint_eq(op_rounds(8, 0, 0, 3), rounds_eqz_field());
  ck_assert_uint_eq(op_rounds(8, 0, 0, 5000), rounds_eqz_field());
}
END_TEST

static cx_err check_of(mpc_program *p) {
  char err[200];
  return mpc_prog_check(p, 4, err, sizeof err);
}

/* Parameters the field cannot hold are refused through mpc_prog_check. */
START_TEST(test_bad_params) {
  uint32_t kmax_ltz = MPC_FIELD_BITS - MPC_KAPPA - 2; /* k + kappa + 1 < bits */
  struct {
    int which;
    uint32_t k;
    uint64_t d;
    int ok;
  } cases[] = {
      {0, kmax_ltz, 0, 1},     {0, kmax_ltz + 1, 0, 0}, {0, 0, 0, 0},
      {1, kmax_ltz - 1, 0, 1}, {1, kmax_ltz, 0, 0},     {2, kmax_ltz, 0, 1},
      {2, kmax_ltz + 1, 0, 0}, {3, 64, 0, 0},           {3, 64, 7, 1},
      {3, 65, 7, 0},           {4, 64, 0, 1},           {4, kmax_ltz + 1, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    mpc_program *p = mpc_prog_new();
    uint32_t a = mpc_input(p, 0, 0, 4), b = mpc_input(p, 0, 1, 4), r;
    switch (cases[i].which) {
      case 0: r = mpc_ltz(p, a, cases[i].k); break;
      case 1: r = mpc_lt(p, a, b, cases[i].k); break;
      case 2: r = mpc_eqz(p, a, cases[i].k); break;
      case 3: r = mpc_divc(p, a, cases[i].k, cases[i].d); break;
      default: r = mpc_trunc(p, a, cases[i].k, 3); break;
    }
    mpc_output(p, r, 0);
    ck_assert_msg((check_of(p) == CX_OK) == cases[i].ok, "case %zu", i);
    mpc_prog_free(p);
  }
  /* member needs a length-1 x; vmin an operand that was written */
  mpc_program *p = mpc_prog_new();
  uint32_t a = mpc_input(p, 0, 0, 4);
  mpc_output(p, mpc_member(p, a, a, 8), 0);
  ck_assert_int_eq(check_of(p), CX_E_MPC_PROGRAM);
  mpc_prog_free(p);
  p = mpc_prog_new();
  mpc_output(p, mpc_vmin(p, mpc_sreg(p), 8), 0);
  ck_assert_int_eq(check_of(p), CX_E_MPC_PROGRAM);
  mpc_prog_free(p);
}
END_TEST

/* divc builds for every k <= 64 and divisors of every size (the plan of
 * splits always fits the production field). */
START_TEST(test_divc_all_k) {
  for (uint32_t k = 1; k <= 64; k++)
    for (uint32_t l = 1; l <= 64; l++) {
      uint64_t top = (uint64_t)1 << (l - 1);
      uint64_t ds[4] = {top, top + 1, top | (top - 1), top | (tu_rand() & (top - 1))};
      for (int i = 0; i < 4; i++) {
        mpc_program *p = mpc_prog_new();
        mpc_output(p, mpc_divc(p, mpc_input(p, 0, 0, 1), k, ds[i]), 0);
        char err[200];
        ck_assert_msg(mpc_prog_check(p, 4, err, sizeof err) == CX_OK, "k = %u, d = %llu: %s", k,
                      (unsigned long long)ds[i], err);
        mpc_prog_free(p);
      }
    }
}
END_TEST

/* --- the engine --- */

/* Each engine test is one vectorized n = 4 run of ENGINE_N elements per
 * operation, every edge pair of pairs_new included. The engine's
 * preprocessing is the cost (a 64-bit comparison consumes about 105 bits
 * and 120 triples per element, a bit costs a triple and a random sharing:
 * about 9 us of CPU per triple on the CI machine), so the default keeps the
 * suite near 35 s of CPU (about 1.4 times that under ASan+UBSan, which CI
 * runs with the default too). $CUSTOS_MPC_TEST_SCALE=N multiplies the
 * sizes for a longer run. The interpreter above runs the builders on more
 * values, and the toy suite runs every pair of 6-bit values on the
 * engine. */
static size_t scaled(size_t base) {
  const char *e = getenv("CUSTOS_MPC_TEST_SCALE");
  long f = e ? strtol(e, NULL, 10) : 1;
  return base * (size_t)(f > 0 ? f : 1);
}

/* lt, le, eq, ne on shared inputs. */
START_TEST(test_engine_cmp64) {
  pairs v = pairs_new(scaled(ENGINE_N), 64);
  tcase t;
  tc_init(&t);
  tc_cmp2(&t, tc_input(&t, v.a, v.n), tc_input(&t, v.b, v.n), v.a, v.b, v.n, 64);
  tc_check(&t, 4);
  pairs_free(&v);
}
END_TEST

/* ltz, eqz and trunc on the same values: m = 0 (a copy), 1 and 32 (Mod2m)
 * and 64 (m >= k: the sign). */
START_TEST(test_engine_unary64) {
  static const uint32_t ms[] = {0, 1, 32, 64};
  pairs v = pairs_new(scaled(ENGINE_N), 64);
  tcase t;
  tc_init(&t);
  uint32_t ra = tc_input(&t, v.a, v.n);
  tc_sign(&t, ra, v.a, v.n, 64);
  tc_trunc(&t, ra, v.a, v.n, 64, ms, sizeof ms / sizeof ms[0]);
  tc_check(&t, 4);
  pairs_free(&v);
}
END_TEST

/* divc by a divisor of each engine-relevant path (docs/mpc-ops.md): 1 (a
 * copy), 3 (one split, then the reciprocal), 2^62 + 1 (the reciprocal
 * without a split) and 2^64 - 1 (>= 2^(k-1): the sign). A power of two is
 * trunc, above; every other divisor runs in the interpreter. */
START_TEST(test_engine_divc64) {
  static const uint64_t ds[] = {1, 3, ((uint64_t)1 << 62) + 1, UINT64_MAX};
  pairs v = pairs_new(scaled(ENGINE_N), 64);
  tcase t;
  tc_init(&t);
  tc_divc(&t, tc_input(&t, v.a, v.n), v.a, v.n, 64, ds, sizeof ds / sizeof ds[0]);
  /* and the other split plans of DIVS[0..7) (2, 7, 10, 1000, 2^32 + 1) on 32 of them */
  tc_divc(&t, tc_input(&t, v.a, 32), v.a, 32, 64, DIVS, 7);
  tc_check(&t, 4);
  pairs_free(&v);
}
END_TEST

/* eqz_field on the engine, n = 4 and n = 7. */
START_TEST(test_engine_eqz_field) {
  for (uint32_t n = 4; n <= 7; n += 3) {
    pairs v = pairs_new(n == 4 ? scaled(ENGINE_N) : 40, 64);
    for (size_t i = 0; i < v.n; i += 5) v.a[i] = 0;
    tcase t;
    tc_init(&t);
    tc_eqz_field(&t, &v);
    tc_check(&t, n);
    pairs_free(&v);
  }
}
END_TEST

/* select, vsum, vmin, vmax and member on long vectors of 64-bit values. */
START_TEST(test_engine_vec) {
  pairs v = pairs_new(scaled(ENGINE_N), 64);
  tcase t;
  tc_init(&t);
  tc_vec(&t, v.a, v.b, v.n, 64);
  tc_check(&t, 4);
  pairs_free(&v);
}
END_TEST

START_TEST(test_engine_n7) {
  pairs v = pairs_new(24, 64);
  tcase t;
  tc_init(&t);
  uint32_t ra = tc_input(&t, v.a, v.n), rb = tc_input(&t, v.b, v.n);
  tc_cmp2(&t, ra, rb, v.a, v.b, v.n, 64);
  uint64_t d[] = {3, 1000};
  tc_divc(&t, ra, v.a, v.n, 64, d, 2);
  tc_check(&t, 7);
  pairs_free(&v);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("mpc_ops");
  TCase *tp = tcase_create("plain");
  tcase_set_timeout(tp, 120);
  tcase_add_test(tp, test_plain_cmp64);
  tcase_add_test(tp, test_plain_cmp_k);
  tcase_add_test(tp, test_plain_trunc);
  tcase_add_test(tp, test_plain_divc);
  tcase_add_test(tp, test_plain_vec);
  tcase_add_test(tp, test_plain_member_dups);
  tcase_add_test(tp, test_plain_member_ways);
  tcase_add_test(tp, test_plain_eqz_field);
  tcase_add_test(tp, test_rounds);
  tcase_add_test(tp, test_bad_params);
  tcase_add_test(tp, test_divc_all_k);
  suite_add_tcase(s, tp);
  TCase *te = tcase_create("engine");
  tcase_set_timeout(te, 120);
  tcase_add_test(te, test_engine_cmp64);
  tcase_add_test(te, test_engine_unary64);
  tcase_add_test(te, test_engine_divc64);
  tcase_add_test(te, test_engine_vec);
  tcase_add_test(te, test_engine_eqz_field);
  tcase_add_test(te, test_engine_n7);
  suite_add_tcase(s, te);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
#endif /* MPC_OPS_INTERP_ONLY */
