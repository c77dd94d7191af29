/* The MPC back end of the contract language (vm/lang/eval_mpc.c):
 * lang_cost_get and lang_run_mpc on circuits built by hand with the ir.h
 * builder, run by n in-process parties and compared with the plaintext
 * circuit (ir_eval) on random in-range inputs; layer packing (independent
 * comparisons share rounds); the cost report against the runs.
 * The plan of a call (lang_call.h, vm/lang/call.c): every sample contract
 * run as the consortium runs a call (dealers named per domain, each
 * dealing the record fields the plan names, read from a vault by the
 * naming rule of docs/calls.md §1; outputs read per party, masks rebuilt,
 * private elements unmasked) against the reference interpreter; a real
 * online session (n = 1); the refusals. */
#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir.h"
#include "keys.h"
#include "lang.h"
#include "lang_call.h"
#include "lang_internal.h"
#include "mpc.h"
#include "testutil.h"

/* ---- contracts and values built by hand --------------------------------- */

static uint32_t E(ir_circuit *c, uint8_t op, uint32_t a, uint32_t b, uint32_t cc, int64_t imm) {
  cx_err e = CX_OK;
  uint32_t r = ir_emit(c, op, a, b, cc, imm, &e);
  ck_assert_msg(r != IR_NONE, "ir_emit op %u: %s", op, cx_err_str(e));
  return r;
}
static uint32_t K(ir_circuit *c, int64_t v) { return E(c, IR_CONST, 0, 0, 0, v); }
static void OUT(ir_circuit *c, uint32_t a, int64_t flat) { E(c, IR_OUTPUT, a, 0, 0, flat); }
static void PORT(ir_circuit *c, uint8_t kind, uint8_t base, const char *name, uint32_t len, int64_t lo,
                 int64_t hi) {
  ck_assert_int_eq(ir_add_port(c, kind, base, name, len, lo, hi), CX_OK);
}

/* Finishes the circuit and wraps it as a contract (no bytecode, no source:
 * all that lang_cost_get and lang_run_mpc read is the circuit). */
static lang_contract *contract_of(ir_circuit *ir) {
  ck_assert_int_eq(ir_finish(ir), CX_OK);
  lang_contract *c = calloc(1, sizeof *c);
  ck_assert_ptr_nonnull(c);
  c->ir = *ir;
  return c;
}

static void contract_free(lang_contract *c) {
  ir_free(&c->ir);
  free(c->bc);
  free(c);
}

static lang_values *values_new(const lang_contract *c) {
  lang_values *v = calloc(1, sizeof *v);
  ck_assert_ptr_nonnull(v);
  v->c = c;
  v->in = calloc((size_t)c->ir.n_input + 1, sizeof *v->in);
  v->param = calloc((size_t)c->ir.n_param + 1, sizeof *v->param);
  v->arg = calloc((size_t)c->ir.n_arg + 1, sizeof *v->arg);
  v->set = malloc(c->ir.nports + 1);
  ck_assert(v->in && v->param && v->arg && v->set);
  memset(v->set, 1, c->ir.nports + 1);
  return v;
}

static void values_free(lang_values *v) {
  free(v->in);
  free(v->param);
  free(v->arg);
  free(v->set);
  free(v);
}

/* A random value of [lo, hi], the ends and zero mixed in. */
static int64_t rnd_in(int64_t lo, int64_t hi) {
  uint64_t r = tu_rand();
  if (r % 8 == 0) return lo;
  if (r % 8 == 1) return hi;
  if (r % 8 == 2 && lo <= 0 && hi >= 0) return 0;
  unsigned __int128 span = (unsigned __int128)((__int128)hi - lo) + 1;
  return (int64_t)((__int128)lo + (__int128)(((unsigned __int128)tu_rand() << 64 | tu_rand()) % span));
}

static void values_rand(lang_values *v) {
  const ir_circuit *c = &v->c->ir;
  for (size_t i = 0; i < c->nports; i++) {
    const ir_port *p = &c->ports[i];
    int64_t *x = p->kind == IR_PORT_INPUT ? v->in : p->kind == IR_PORT_PARAM ? v->param
               : p->kind == IR_PORT_ARG   ? v->arg : NULL;
    if (!x) continue;
    for (uint32_t k = 0; k < ir_port_elems(p); k++) x[p->first + k] = rnd_in(p->lo, p->hi);
  }
}

/* lang_run_mpc against ir_eval on v; the report against lang_cost_get. */
static void run_check(const lang_contract *c, const lang_values *v, uint32_t n, const uint8_t *seed,
                      lang_mpc_report *rep_out) {
  size_t no = c->ir.n_output;
  int64_t *ref = calloc(no + 1, sizeof *ref), *got = calloc(no + 1, sizeof *got);
  ck_assert(ref && got);
  ck_assert_int_eq(ir_eval(&c->ir, v->in, v->param, v->arg, ref), CX_OK);
  char err[256];
  lang_mpc_report rep;
  cx_err e = lang_run_mpc(c, v, n, seed, got, &rep, err, sizeof err);
  ck_assert_msg(e == CX_OK, "n = %u: %s (%s)", n, err, cx_err_str(e));
  for (size_t j = 0; j < no; j++) ck_assert_msg(got[j] == ref[j], "output %zu: MPC %lld, plaintext %lld", j,
                                                (long long)got[j], (long long)ref[j]);
  lang_cost cost;
  ck_assert_int_eq(lang_cost_get(c, n, &cost, err, sizeof err), CX_OK);
  ck_assert_uint_eq(rep.rounds, cost.rounds);
  ck_assert_uint_eq(rep.n, n);
  ck_assert_uint_eq(rep.t, (n - 1) / 3);
  if (n > 1) ck_assert_uint_gt(rep.bytes_sent, 0);
  if (rep_out) *rep_out = rep;
  free(ref);
  free(got);
}

/* ---- a circuit with every kind of node ----------------------------------- */

/* Inputs of three domains (dealt by three parties at n >= 3, all by party
 * 0 at n = 1), params, args; secret and public comparisons of every kind,
 * products, oblivious and public selects, divisions by two divisors,
 * public and private outputs, an output of a public node. */
static lang_contract *mix_contract(void) {
  ir_circuit c;
  ir_init(&c, "mix");
  PORT(&c, IR_PORT_INPUT, IR_T_INT, "hrss.age", 0, 0, 150);            /* in 0 */
  PORT(&c, IR_PORT_INPUT, IR_T_INT, "bank.bal", 4, -1000000, 1000000); /* in 1..4 */
  PORT(&c, IR_PORT_INPUT, IR_T_INT, "hrss.score", 0, -50, 50);         /* in 5 */
  PORT(&c, IR_PORT_INPUT, IR_T_BOOL, "zeta.flag", 0, 0, 1);            /* in 6 */
  PORT(&c, IR_PORT_PARAM, IR_T_INT, "max_age", 0, 0, 150);             /* param 0 */
  PORT(&c, IR_PORT_PARAM, IR_T_INT, "w", 2, -100, 100);                /* param 1..2 */
  PORT(&c, IR_PORT_ARG, IR_T_INT, "year", 0, 1900, 2200);              /* arg 0 */
  PORT(&c, IR_PORT_ARG, IR_T_INT, "k", 0, -5, 5);                      /* arg 1 */
  PORT(&c, IR_PORT_OUT_PUBLIC, IR_T_BOOL, "approve", 0, 0, 1);         /* out 0 */
  PORT(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "total", 0, INT64_MIN, INT64_MAX); /* out 1 */
  PORT(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "q", 2, INT64_MIN, INT64_MAX);     /* out 2, 3 */
  PORT(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "pub", 0, INT64_MIN, INT64_MAX);   /* out 4 */
  PORT(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "band", 0, INT64_MIN, INT64_MAX); /* out 5 */
  PORT(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "pick", 0, INT64_MIN, INT64_MAX); /* out 6 */
  PORT(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "flags", 0, INT64_MIN, INT64_MAX); /* out 7 */
  uint32_t age = E(&c, IR_INPUT, 0, 0, 0, 0), b[4];
  for (int i = 0; i < 4; i++) b[i] = E(&c, IR_INPUT, 0, 0, 0, 1 + i);
  uint32_t score = E(&c, IR_INPUT, 0, 0, 0, 5), flag = E(&c, IR_INPUT, 0, 0, 0, 6);
  uint32_t ma = E(&c, IR_PARAM, 0, 0, 0, 0), w0 = E(&c, IR_PARAM, 0, 0, 0, 1);
  uint32_t w1 = E(&c, IR_PARAM, 0, 0, 0, 2);
  uint32_t year = E(&c, IR_ARG, 0, 0, 0, 0), k = E(&c, IR_ARG, 0, 0, 0, 1);
  /* layer 1: comparisons secret/secret, secret/public, public/secret */
  uint32_t approve = E(&c, IR_LE, age, ma, 0, 0);
  uint32_t young = E(&c, IR_LT, age, K(&c, 40), 0, 0);
  uint32_t above = E(&c, IR_LT, k, score, 0, 0);
  uint32_t neq = E(&c, IR_NE, score, w0, 0, 0);
  uint32_t eqk = E(&c, IR_EQ, score, k, 0, 0);
  uint32_t old = E(&c, IR_LE, E(&c, IR_SUB, year, K(&c, 1900), 0, 0), age, 0, 0); /* public <= secret */
  OUT(&c, approve, 0);
  /* products of secrets, and with public factors */
  uint32_t total = E(&c, IR_MUL, b[0], w0, 0, 0);
  total = E(&c, IR_ADD, total, E(&c, IR_MUL, b[1], w1, 0, 0), 0, 0);
  total = E(&c, IR_ADD, total, E(&c, IR_MUL, b[2], k, 0, 0), 0, 0);
  total = E(&c, IR_SUB, total, E(&c, IR_MUL, year, k, 0, 0), 0, 0);
  /* a select on a public condition with secret branches */
  uint32_t neg = E(&c, IR_LT, k, K(&c, 0), 0, 0);
  total = E(&c, IR_ADD, total, E(&c, IR_SELECT, neg, b[3], w1, 0), 0, 0);
  /* a deeper layer: an oblivious select on a layer-1 result, times a secret */
  uint32_t pick = E(&c, IR_SELECT, approve, b[0], b[1], 0);
  total = E(&c, IR_ADD, total, E(&c, IR_MUL, pick, w1, 0, 0), 0, 0);
  OUT(&c, total, 1);
  /* divisions: two by 7 in one layer, one by 1000 */
  uint32_t q0 = E(&c, IR_ADD, E(&c, IR_DIVC, b[2], 0, 0, 7), E(&c, IR_DIVC, b[0], 0, 0, 1000), 0, 0);
  uint32_t q1 = E(&c, IR_DIVC, E(&c, IR_SUB, b[3], score, 0, 0), 0, 0, 7);
  OUT(&c, q0, 2);
  OUT(&c, q1, 3);
  OUT(&c, E(&c, IR_MUL, year, E(&c, IR_ADD, k, K(&c, 10), 0, 0), 0, 0), 4); /* public */
  /* a select on a secret condition with public branches (local) */
  uint32_t band = E(&c, IR_SELECT, young, K(&c, 1), K(&c, 2), 0);
  band = E(&c, IR_ADD, band, E(&c, IR_SELECT, old, year, K(&c, 0), 0), 0, 0);
  OUT(&c, band, 5);
  OUT(&c, pick, 6);
  uint32_t lo2 = E(&c, IR_ADD, neq, E(&c, IR_MUL, eqk, K(&c, 2), 0, 0), 0, 0);
  uint32_t hi2 = E(&c, IR_ADD, E(&c, IR_MUL, above, K(&c, 4), 0, 0), E(&c, IR_MUL, flag, K(&c, 8), 0, 0), 0,
                   0);
  uint32_t flags = E(&c, IR_ADD, lo2, hi2, 0, 0);
  OUT(&c, flags, 7);
  return contract_of(&c);
}

START_TEST(test_mix_n4) {
  lang_contract *c = mix_contract();
  lang_values *v = values_new(c);
  for (int r = 0; r < 16; r++) {
    values_rand(v);
    uint8_t seed[32];
    tu_randbytes(seed, sizeof seed);
    run_check(c, v, 4, r % 2 ? seed : NULL, NULL);
  }
  values_free(v);
  contract_free(c);
}
END_TEST

START_TEST(test_mix_n1_n7) {
  lang_contract *c = mix_contract();
  lang_values *v = values_new(c);
  for (int r = 0; r < 3; r++) {
    values_rand(v);
    run_check(c, v, 1, NULL, NULL);
    run_check(c, v, 7, NULL, NULL);
  }
  values_rand(v);
  run_check(c, v, 3, NULL, NULL);
  run_check(c, v, 5, NULL, NULL);
  values_free(v);
  contract_free(c);
}
END_TEST

/* The same seed gives the same run (and the same report but for times). */
START_TEST(test_seeded) {
  lang_contract *c = mix_contract();
  lang_values *v = values_new(c);
  values_rand(v);
  uint8_t seed[32] = {7};
  lang_mpc_report r1, r2;
  run_check(c, v, 4, seed, &r1);
  run_check(c, v, 4, seed, &r2);
  ck_assert_uint_eq(r1.rounds, r2.rounds);
  ck_assert_uint_eq(r1.bytes_sent, r2.bytes_sent);
  ck_assert_uint_eq(r1.prep_bytes_sent, r2.prep_bytes_sent);
  values_free(v);
  contract_free(c);
}
END_TEST

/* ---- layer packing ------------------------------------------------------- */

/* count independent comparisons x[i] < y[i] (and as many x[i] * y[i] and
 * x[i] == y[i]), each its own output. */
static lang_contract *cmp_contract(uint32_t count) {
  ir_circuit c;
  ir_init(&c, "cmp");
  PORT(&c, IR_PORT_INPUT, IR_T_INT, "a.x", count, -1000, 1000);
  PORT(&c, IR_PORT_INPUT, IR_T_INT, "b.y", count, -1000, 1000);
  PORT(&c, IR_PORT_OUT_PUBLIC, IR_T_BOOL, "lt", count, 0, 1);
  PORT(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "prod", count, INT64_MIN, INT64_MAX);
  PORT(&c, IR_PORT_OUT_PRIVATE, IR_T_BOOL, "eq", count, 0, 1);
  for (uint32_t i = 0; i < count; i++) {
    uint32_t x = E(&c, IR_INPUT, 0, 0, 0, i), y = E(&c, IR_INPUT, 0, 0, 0, count + i);
    OUT(&c, E(&c, IR_LT, x, y, 0, 0), i);
    OUT(&c, E(&c, IR_MUL, x, y, 0, 0), count + i);
    OUT(&c, E(&c, IR_EQ, x, y, 0, 0), 2 * count + i);
  }
  return contract_of(&c);
}

START_TEST(test_layer_packing) {
  lang_contract *one = cmp_contract(1), *many = cmp_contract(64);
  char err[256];
  lang_cost c1, c64;
  ck_assert_int_eq(lang_cost_get(one, 4, &c1, err, sizeof err), CX_OK);
  ck_assert_int_eq(lang_cost_get(many, 4, &c64, err, sizeof err), CX_OK);
  ck_assert_uint_eq(c64.rounds, c1.rounds);
  ck_assert_uint_eq(c64.cmp, 128);
  ck_assert_uint_eq(c64.mul, 64);
  ck_assert_uint_eq(c64.layers, 1);
  ck_assert_uint_eq(c64.triples, 64 * c1.triples);
  ck_assert_uint_eq(c64.cmp_bits_max, c1.cmp_bits_max);
  ck_assert_uint_eq(c1.cmp_bits_max, 12); /* x - y in -2000..2000: an LTZ of 12 bits */
  lang_values *v1 = values_new(one), *v64 = values_new(many);
  lang_mpc_report r1, r64;
  values_rand(v1);
  values_rand(v64);
  run_check(one, v1, 4, NULL, &r1);
  run_check(many, v64, 4, NULL, &r64);
  ck_assert_uint_eq(r64.rounds, r1.rounds);
  values_free(v1);
  values_free(v64);
  contract_free(one);
  contract_free(many);
}
END_TEST

/* A layer of 10,000 multiplications: one vector MUL, built without
 * quadratic copying (timed), and run. */
START_TEST(test_wide_layer) {
  enum { W = 4096 };
  ir_circuit c;
  ir_init(&c, "wide");
  PORT(&c, IR_PORT_INPUT, IR_T_INT, "a.x", W, -1000, 1000);
  PORT(&c, IR_PORT_INPUT, IR_T_INT, "a.y", W, -1000, 1000);
  PORT(&c, IR_PORT_INPUT, IR_T_INT, "b.z", W, -1000, 1000);
  PORT(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "s", 0, INT64_MIN, INT64_MAX);
  uint32_t s = K(&c, 0);
  for (uint32_t i = 0; i < 10000; i++) {
    uint32_t x = E(&c, IR_INPUT, 0, 0, 0, i % W), y = E(&c, IR_INPUT, 0, 0, 0, W + (i * 7) % W),
             z = E(&c, IR_INPUT, 0, 0, 0, 2 * W + (i * 13) % W);
    uint32_t p = i % 3 == 0 ? E(&c, IR_MUL, x, y, 0, 0) : i % 3 == 1 ? E(&c, IR_MUL, y, z, 0, 0)
                                                                  : E(&c, IR_MUL, x, z, 0, 0);
    s = E(&c, IR_ADD, s, p, 0, 0);
  }
  OUT(&c, s, 0);
  lang_contract *ct = contract_of(&c);
  char err[256];
  lang_cost cost;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  ck_assert_int_eq(lang_cost_get(ct, 4, &cost, err, sizeof err), CX_OK);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  fprintf(stderr, "wide layer: %llu multiplications, program built and costed in %.3f s\n",
          (unsigned long long)cost.mul, dt);
  ck_assert_uint_eq(cost.layers, 1);
  ck_assert_uint_eq(cost.triples, cost.mul);
  ck_assert_uint_eq(cost.rounds, 3 + 1 + 1); /* the input group, the MUL, the output */
  ck_assert(dt < 5.0);
  lang_values *v = values_new(ct);
  values_rand(v);
  lang_mpc_report rep;
  run_check(ct, v, 4, NULL, &rep);
  uint64_t real = rep.bytes_sent + rep.prep_bytes_sent;
  fprintf(stderr, "wide layer at n = 4: prep %.3f s, online %.3f s, %llu bytes per party (estimate %llu)\n",
          rep.prep_s, rep.online_s, (unsigned long long)real, (unsigned long long)cost.bytes_per_party);
  ck_assert_uint_le(10 * cost.bytes_per_party, 11 * real);
  ck_assert_uint_ge(11 * cost.bytes_per_party, 10 * real);
  values_free(v);
  contract_free(ct);
}
END_TEST

/* ---- the cost report ----------------------------------------------------- */

START_TEST(test_cost_report) {
  lang_contract *c = mix_contract();
  char err[256];
  lang_cost a, b;
  ck_assert_int_eq(lang_cost_get(c, 4, &a, err, sizeof err), CX_OK);
  ir_stats st;
  ir_stats_get(&c->ir, &st);
  ck_assert_uint_eq(a.nodes, st.nodes);
  ck_assert_uint_eq(a.layers, st.layers);
  ck_assert_uint_eq(a.mul, st.mul);
  ck_assert_uint_eq(a.cmp, st.lt + st.le + st.eq + st.ne);
  ck_assert_uint_eq(a.divc, st.divc);
  ck_assert_uint_gt(a.rounds, 0);
  ck_assert_uint_gt(a.triples, 0);
  ck_assert_uint_gt(a.bits, 0);
  ck_assert_uint_ge(a.rands, 3); /* three private outputs' masks at least */
  /* 150 vs 0..150 age LE, and k = -5..5 against score: the widest
   * comparison is the public-year one (year - 1900 in 0..300, minus an
   * age in 0..150, minus 1) */
  ck_assert_uint_eq(a.cmp_bits_max, 10);
  /* n changes the dealers, not the program's shape */
  ck_assert_int_eq(lang_cost_get(c, 7, &b, err, sizeof err), CX_OK);
  ck_assert_uint_eq(b.rounds, a.rounds);
  ck_assert_uint_eq(b.triples, a.triples);
  ck_assert_uint_gt(b.bytes_per_party, a.bytes_per_party);
  ck_assert_int_eq(lang_cost_get(c, 0, &b, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(lang_cost_get(c, 65, &b, err, sizeof err), CX_E_INVALID_ARG);
  /* the estimate is within 10% of what a run sends */
  lang_values *v = values_new(c);
  values_rand(v);
  for (uint32_t n = 4; n <= 7; n += 3) {
    lang_mpc_report rep;
    run_check(c, v, n, NULL, &rep);
    ck_assert_int_eq(lang_cost_get(c, n, &b, err, sizeof err), CX_OK);
    uint64_t real = rep.bytes_sent + rep.prep_bytes_sent;
    fprintf(stderr, "n = %u: estimate %llu bytes per party, run %llu (online %llu, prep %llu)\n", n,
            (unsigned long long)b.bytes_per_party, (unsigned long long)real,
            (unsigned long long)rep.bytes_sent, (unsigned long long)rep.prep_bytes_sent);
    ck_assert_uint_le(10 * b.bytes_per_party, 11 * real);
    ck_assert_uint_ge(11 * b.bytes_per_party, 10 * real);
  }
  values_free(v);
  contract_free(c);
}
END_TEST

/* Refusals: a value outside its range, a missing value, bad n. */
START_TEST(test_refusals) {
  lang_contract *c = mix_contract();
  lang_values *v = values_new(c);
  values_rand(v);
  int64_t out[16];
  char err[256];
  v->in[0] = 151; /* hrss.age is 0..150 */
  ck_assert_int_eq(lang_run_mpc(c, v, 4, NULL, out, NULL, err, sizeof err), CX_E_LANG_INPUT);
  ck_assert_ptr_nonnull(strstr(err, "hrss.age"));
  v->in[0] = 10;
  ck_assert_int_eq(lang_run_mpc(c, v, 0, NULL, out, NULL, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(lang_run_mpc(c, v, 65, NULL, out, NULL, err, sizeof err), CX_E_INVALID_ARG);
  v->set[2] = 0;
  ck_assert_int_eq(lang_run_mpc(c, v, 4, NULL, out, NULL, err, sizeof err), CX_E_LANG_INPUT);
  values_free(v);
  contract_free(c);
}
END_TEST

/* ---- the sample contracts ------------------------------------------------ */

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  char *buf = malloc(1 << 20);
  ck_assert_ptr_nonnull(buf);
  *len = fread(buf, 1, (1 << 20) - 1, f);
  buf[*len] = 0;
  fclose(f);
  return buf;
}

static lang_contract *sample(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/configs/contracts/%s.cst", CUSTOS_SOURCE_DIR, name);
  size_t len;
  char *src = slurp(path, &len);
  lang_contract *c = NULL;
  lang_diag d;
  cx_err e = lang_compile(src, len, &c, &d);
  char msg[400];
  if (e != CX_OK) lang_diag_format(&d, path, msg, sizeof msg);
  ck_assert_msg(e == CX_OK, "%s", msg);
  free(src);
  return c;
}

/* Random in-range values for every input, param and arg of a compiled
 * contract, set through the public API. */
static void sample_values_rand(const lang_contract *c, lang_values *v) {
  int64_t vals[IR_MAX_ARRAY];
  char err[256];
  for (size_t i = 0; i < lang_nports(c); i++) {
    lang_port p;
    lang_port_get(c, i, &p);
    if (p.kind != LANG_INPUT && p.kind != LANG_PARAM && p.kind != LANG_ARG) continue;
    size_t n = p.len ? p.len : 1;
    for (size_t k = 0; k < n; k++) vals[k] = rnd_in(p.lo, p.hi);
    ck_assert_msg(lang_values_set(v, p.name, vals, n, err, sizeof err) == CX_OK, "%s", err);
  }
}

/* The reference interpreter against the MPC run. */
static void sample_check(const lang_contract *c, const lang_values *v, uint32_t n, const char *name) {
  size_t no = lang_outputs_len(c);
  int64_t *ref = calloc(no + 1, sizeof *ref), *got = calloc(no + 1, sizeof *got);
  ck_assert(ref && got);
  char err[256];
  ck_assert_msg(lang_run_reference(c, v, ref, err, sizeof err) == CX_OK, "%s: %s", name, err);
  lang_mpc_report rep;
  cx_err e = lang_run_mpc(c, v, n, NULL, got, &rep, err, sizeof err);
  ck_assert_msg(e == CX_OK, "%s at n = %u: %s (%s)", name, n, err, cx_err_str(e));
  for (size_t j = 0; j < no; j++)
    ck_assert_msg(got[j] == ref[j], "%s at n = %u, output %zu: MPC %lld, reference %lld", name, n, j,
                  (long long)got[j], (long long)ref[j]);
  lang_cost cost;
  ck_assert_int_eq(lang_cost_get(c, n, &cost, err, sizeof err), CX_OK);
  ck_assert_uint_eq(rep.rounds, cost.rounds);
  free(ref);
  free(got);
}

/* A batch of 5 underwriting calls with different values: in plaintext and
 * as one 4-party MPC program every copy gives its own call's outputs, in the
 * rounds of a single call. */
START_TEST(test_batch) {
  enum { B = 5 };
  lang_contract *c = sample("underwriting"), *b = NULL;
  char err[256];
  lang_values *v[B], *bv = NULL;
  for (int k = 0; k < B; k++) {
    v[k] = lang_values_new(c);
    sample_values_rand(c, v[k]);
  }
  ck_assert_int_eq(lang_batch(c, 0, &b, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(lang_batch(c, 4097, &b, err, sizeof err), CX_E_LANG_LIMIT);
  ck_assert_msg(lang_batch(c, B, &b, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_msg(lang_batch_values(b, c, (const lang_values *const *)v, B, &bv, err, sizeof err) == CX_OK, "%s",
                err);
  size_t no = lang_outputs_len(c);
  ck_assert_uint_eq(lang_outputs_len(b), no * B);
  int64_t *plain = calloc(no * B, sizeof *plain), *mpc = calloc(no * B, sizeof *mpc);
  int64_t ref[16], got[16];
  ck_assert(no <= 16 && plain && mpc);
  ck_assert_int_eq(lang_run_circuit(b, bv, plain, err, sizeof err), CX_OK);
  lang_mpc_report rep;
  ck_assert_msg(lang_run_mpc(b, bv, 4, NULL, mpc, &rep, err, sizeof err) == CX_OK, "%s", err);
  for (uint32_t k = 0; k < B; k++) {
    ck_assert_int_eq(lang_run_reference(c, v[k], ref, err, sizeof err), CX_OK);
    lang_batch_outputs(c, B, plain, k, got);
    ck_assert_mem_eq(got, ref, no * sizeof *got);
    lang_batch_outputs(c, B, mpc, k, got);
    ck_assert_mem_eq(got, ref, no * sizeof *got);
  }
  lang_cost one, all;
  ck_assert_int_eq(lang_cost_get(c, 4, &one, err, sizeof err), CX_OK);
  ck_assert_int_eq(lang_cost_get(b, 4, &all, err, sizeof err), CX_OK);
  ck_assert_uint_eq(all.rounds, one.rounds);
  ck_assert_uint_eq(rep.rounds, one.rounds);
  ck_assert_uint_eq(all.cmp, one.cmp * B);
  free(plain);
  free(mpc);
  for (int k = 0; k < B; k++) lang_values_free(v[k]);
  lang_values_free(bv);
  lang_free(b);
  lang_free(c);
}
END_TEST

/* A batch's call plan (lang.h "batches"): each dealer's slot is copy 0's
 * elements in a call's order, then copy 1's, ...; each copy's params are a
 * client slot of a call's length; the batch's args are each copy's. */
START_TEST(test_batch_plan) {
  enum { B = 3, N = 4 };
  lang_contract *c = sample("underwriting"), *b = NULL;
  char err[256];
  ck_assert_msg(lang_batch(c, B, &b, err, sizeof err) == CX_OK, "%s", err);
  cx_domain_set ds;
  ck_assert_int_eq(lang_domains(c, &ds), CX_OK);
  uint32_t dealer[CX_DOMAINS_MAX];
  for (size_t d = 0; d < ds.n; d++) dealer[d] = (uint32_t)(d + 1) % N;
  lang_values *v[B];
  const int64_t *args[B];
  size_t nargs = 0;
  for (int k = 0; k < B; k++) {
    v[k] = lang_values_new(c);
    sample_values_rand(c, v[k]);
    nargs = lang_values_flat(v[k], LANG_ARG, &args[k]);
  }
  int64_t *bargs = calloc(nargs * B + 1, sizeof *bargs);
  ck_assert(bargs);
  lang_batch_args(c, B, args, bargs);
  for (int k = 0; k < B; k++)
    for (size_t a = 0; a < nargs; a++) ck_assert_int_eq(bargs[a * B + k], args[k][a]); /* scalars: port-major */
  lang_call_plan *one = NULL, *all = NULL;
  ck_assert_msg(lang_call_plan_new(c, N, dealer, ds.n, args[0], nargs, &one, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_msg(lang_call_plan_new(b, N, dealer, ds.n, bargs, nargs * B, &all, err, sizeof err) == CX_OK, "%s",
                err);
  ck_assert_uint_gt(lang_call_plan_params(one), 0);
  ck_assert_uint_eq(lang_call_plan_params(all), lang_call_plan_params(one));
  size_t dealt = 0;
  for (uint32_t p = 0; p < N; p++) {
    const lang_call_input *x1, *xb;
    size_t n1 = lang_call_plan_inputs(one, p, &x1), nb = lang_call_plan_inputs(all, p, &xb);
    ck_assert_uint_eq(nb, n1 * B);
    for (size_t i = 0; i < nb; i++) {
      const lang_call_input *u = &x1[i % n1];
      ck_assert_str_eq(xb[i].domain, u->domain);
      ck_assert_str_eq(xb[i].field, u->field);
      ck_assert_int_eq(xb[i].lo, u->lo);
      ck_assert_int_eq(xb[i].hi, u->hi);
      ck_assert_uint_eq(xb[i].copy, i / n1);
      ck_assert_uint_eq(u->copy, 0);
    }
    dealt += n1;
  }
  ck_assert_uint_gt(dealt, 0);
  /* the program takes B client slots of a call's params */
  const mpc_program *pr = lang_call_plan_program(all);
  uint32_t slots = 0;
  for (size_t i = 0; i < mpc_prog_len(pr); i++) {
    const mpc_ins *in = mpc_prog_ins(pr, i);
    if (in->op != MPC_OP_INPUT_CLIENT) continue;
    ck_assert_uint_eq(in->b, slots);
    ck_assert_uint_eq(in->imm, lang_call_plan_params(one));
    slots++;
  }
  ck_assert_uint_eq(slots, B);
  lang_call_plan_free(one);
  lang_call_plan_free(all);
  free(bargs);
  for (int k = 0; k < B; k++) lang_values_free(v[k]);
  lang_free(b);
  lang_free(c);
}
END_TEST

static const char *const SAMPLES[] = {"avg_salary", "cohort", "millionaires", "survival", "underwriting"};
#define NSAMPLES (sizeof SAMPLES / sizeof SAMPLES[0])

START_TEST(test_samples) {
  const char *name = SAMPLES[_i];
  lang_contract *c = sample(name);
  /* the inputs file next to it */
  char path[512];
  snprintf(path, sizeof path, "%s/configs/contracts/%s.inputs.json", CUSTOS_SOURCE_DIR, name);
  size_t len;
  char *json = slurp(path, &len), err[256];
  lang_values *v = lang_values_new(c);
  ck_assert_ptr_nonnull(v);
  ck_assert_msg(lang_values_from_json(v, json, len, err, sizeof err) == CX_OK, "%s: %s", name, err);
  free(json);
  sample_check(c, v, 4, name);
  lang_cost cost;
  ck_assert_int_eq(lang_cost_get(c, 4, &cost, err, sizeof err), CX_OK);
  fprintf(stderr, "%s: %u rounds, %llu layers, %llu mul, %llu cmp (<= %u bits), %llu divc, %llu triples, "
          "%llu bits, ~%llu bytes per party at n = 4\n", name, cost.rounds, (unsigned long long)cost.layers,
          (unsigned long long)cost.mul, (unsigned long long)cost.cmp, cost.cmp_bits_max,
          (unsigned long long)cost.divc, (unsigned long long)cost.triples, (unsigned long long)cost.bits,
          (unsigned long long)cost.bytes_per_party);
  /* random in-range calls */
  for (int r = 0; r < 24; r++) {
    sample_values_rand(c, v);
    sample_check(c, v, 4, name);
  }
  sample_values_rand(c, v);
  sample_check(c, v, 1, name);
  sample_check(c, v, 7, name);
  lang_values_free(v);
  lang_free(c);
}
END_TEST


/* ---- zero-product fusion (eval_mpc.c) ----------------------------------- */

static lang_contract *compile_src(const char *src) {
  lang_contract *c = NULL;
  lang_diag d;
  cx_err e = lang_compile(src, strlen(src), &c, &d);
  char msg[400];
  if (e != CX_OK) lang_diag_format(&d, "src", msg, sizeof msg);
  ck_assert_msg(e == CX_OK, "%s", msg);
  return c;
}

static void set_vals(lang_values *v, const char *name, const int64_t *x, size_t n) {
  char err[256];
  ck_assert_msg(lang_values_set(v, name, x, n, err, sizeof err) == CX_OK, "%s: %s", name, err);
}

/* ORs of equalities (`in`, `not in`, `any` of `in`) become one product of
 * differences and one zero test: a whole tree costs MPC_FIELD_BITS pool
 * bits. FUSE_CLEAN has only such trees; FUSE_SHARED adds an equality and
 * an inner `in` that are also outputs (the tree is cut there, the rest
 * still fused) and a set of two small values (cheaper unfused). Both against the
 * reference interpreter on values that hit and miss, n = 4 and 7. */
static const char FUSE_CLEAN[] =
    "contract fuse\n"
    "input d.x : int(-5..5)[4]\n"
    "input d.y : int(0..99_999)\n"
    "param s : int(-5..5)[16]\n"
    "param big : int(-1..99_999)[16]\n"
    "output public any_in : bool\n"
    "output public y_in : bool\n"
    "output public y_out : bool\n"
    "any_in = any([v in s for v in d.x])\n"
    "y_in = d.y in big\n"
    "y_out = d.y not in big\n";
static const char FUSE_SHARED[] =
    "contract fuse2\n"
    "input d.x : int(-5..5)[4]\n"
    "param s : int(-5..5)[16]\n"
    "param two : int(-5..5)[2]\n"
    "output public any_in : bool\n"
    "output public e0 : bool\n"
    "output public tiny : bool\n"
    "output public inner0 : bool\n"
    "any_in = any([v in s for v in d.x])\n"
    "inner0 = d.x[0] in s\n"
    "e0 = d.x[0] == s[3]\n"
    "tiny = d.x[1] in two\n";

START_TEST(test_zero_product_fusion) {
  char err[256];
  lang_contract *c = compile_src(FUSE_CLEAN), *c2 = compile_src(FUSE_SHARED);
  lang_cost cost;
  ck_assert_int_eq(lang_cost_get(c, 4, &cost, err, sizeof err), CX_OK);
  /* two trees (y_out shares y_in's), one zero test each: the field-wide
   * mask, and its AND by counting (bitlen(127) = 7 bits and an int), whose
   * own AND counts again (bitlen(7) = 3 bits and an int) */
  ck_assert_uint_eq(cost.bits, 2 * (MPC_FIELD_BITS + 7 + 3));
  ck_assert_uint_eq(cost.ints, 2 * 2);
  ck_assert_uint_eq(cost.cmp, 64 + 16);
  ck_assert_int_eq(lang_cost_get(c2, 4, &cost, err, sizeof err), CX_OK);
  ck_assert_uint_gt(cost.bits, MPC_FIELD_BITS); /* a fused part, and equality tests of their own */
  ck_assert_uint_lt(cost.bits, 64 * (4 + MPC_KAPPA));
  lang_values *v = lang_values_new(c), *v2 = lang_values_new(c2);
  ck_assert(v && v2);
  for (int r = 0; r < 40; r++) {
    int64_t x[4], y, sv[16], big[16], two[2];
    for (int i = 0; i < 16; i++) {
      sv[i] = rnd_in(-5, 5);
      big[i] = rnd_in(-1, 99999);
    }
    for (int i = 0; i < 4; i++) x[i] = rnd_in(-5, 5);
    y = rnd_in(0, 99999);
    if (r % 3 == 0) big[tu_rand() % 16] = y;      /* a hit */
    if (r % 4 == 1) for (int i = 0; i < 16; i++) sv[i] = 5; /* x hits only where it is 5 */
    if (r % 4 == 2) for (int i = 0; i < 4; i++) x[i] = -5 + (int64_t)(tu_rand() % 2) * 10;
    two[0] = x[1];
    two[1] = rnd_in(-5, 5);
    if (r % 2) two[0] = -two[1];
    set_vals(v, "d.x", x, 4);
    set_vals(v, "d.y", &y, 1);
    set_vals(v, "s", sv, 16);
    set_vals(v, "big", big, 16);
    set_vals(v2, "d.x", x, 4);
    set_vals(v2, "s", sv, 16);
    set_vals(v2, "two", two, 2);
    uint32_t n = r % 8 == 7 ? 7 : 4;
    sample_check(c, v, n, "fuse");
    sample_check(c2, v2, n, "fuse2");
  }
  lang_values_free(v);
  lang_values_free(v2);
  lang_free(c);
  lang_free(c2);
}
END_TEST

/* ---- the plan of a call (lang_call.h) ----------------------------------- */

/* A bureau's vault in miniature: one record's fields, named by the rule of
 * docs/calls.md §1 (scalar d.f: field f; element k of array d.f: f_<k+1>),
 * written out here independently of call.c. */
typedef struct {
  char domain[IR_NAME_MAX + 1], field[IR_NAME_MAX + 16];
  int64_t v;
  int used;
} vault_rec;

static vault_rec *vault_of(const lang_contract *c, const lang_values *v, size_t *count) {
  const int64_t *in = NULL;
  size_t nin = lang_values_flat(v, LANG_INPUT, &in), q = 0;
  vault_rec *r = calloc(nin + 1, sizeof *r);
  ck_assert_ptr_nonnull(r);
  for (size_t i = 0; i < lang_nports(c); i++) {
    lang_port p;
    lang_port_get(c, i, &p);
    if (p.kind != LANG_INPUT) continue;
    const char *dot = strchr(p.name, '.');
    ck_assert_ptr_nonnull(dot);
    for (uint32_t k = 0; k < (p.len ? p.len : 1); k++, q++) {
      ck_assert_uint_lt(q, nin);
      snprintf(r[q].domain, sizeof r[q].domain, "%.*s", (int)(dot - p.name), p.name);
      if (p.len) snprintf(r[q].field, sizeof r[q].field, "%s_%u", dot + 1, k + 1);
      else snprintf(r[q].field, sizeof r[q].field, "%s", dot + 1);
      r[q].v = in[q];
    }
  }
  ck_assert_uint_eq(q, nin);
  *count = nin;
  return r;
}

static vault_rec *vault_find(vault_rec *r, size_t count, const char *domain, const char *field) {
  for (size_t i = 0; i < count; i++)
    if (strcmp(r[i].domain, domain) == 0 && strcmp(r[i].field, field) == 0) return &r[i];
  return NULL;
}

/* Party `party` of an mpc_local run, read as a session's slots. */
typedef struct {
  const mpc_local *l;
  uint32_t party;
} local_party;

static size_t local_output(const void *ctx, uint32_t slot, const fe **vals) {
  return mpc_local_output(((const local_party *)ctx)->l, slot, vals);
}

static size_t local_share(const void *ctx, uint32_t slot, const fe **vals) {
  const local_party *x = ctx;
  return mpc_local_output_share(x->l, x->party, slot, vals);
}

/* The reader's side: every party's flat outputs o[i] (n of them) agree on
 * what was opened; the masks are rebuilt from the parties' shares and the
 * private elements unmasked into got. */
static void call_read(const lang_contract *c, uint32_t n, lang_call_output *const *o, int64_t *got) {
  size_t no = lang_outputs_len(c), np = 0;
  for (size_t j = 0; j < no; j++) np += o[0][j].priv;
  fe *masked = calloc(np + 1, sizeof *masked), *r = calloc(np + 1, sizeof *r), *sh[64] = {0};
  size_t *flat = calloc(np + 1, sizeof *flat);
  int64_t *z = calloc(np + 1, sizeof *z);
  ck_assert(masked && r && flat && z);
  for (uint32_t i = 0; i < n; i++) {
    sh[i] = calloc(np + 1, sizeof *sh[i]);
    ck_assert_ptr_nonnull(sh[i]);
    size_t q = 0;
    for (size_t j = 0; j < no; j++) {
      ck_assert_uint_eq(o[i][j].priv, o[0][j].priv);
      if (!o[i][j].priv) {
        ck_assert_int_eq(o[i][j].value, o[0][j].value);
        got[j] = o[0][j].value;
        continue;
      }
      ck_assert_msg(o[i][j].masked == o[0][j].masked, "party %u opened another masked output %zu", i, j);
      masked[q] = o[0][j].masked;
      flat[q] = j;
      sh[i][q++] = o[i][j].share;
    }
  }
  char err[256];
  uint64_t bad = 0;
  if (np) {
    ck_assert_int_eq(mpc_reconstruct(n, (n - 1) / 3, (const fe *const *)sh, np, r, &bad), CX_OK);
    ck_assert_uint_eq(bad, 0);
  }
  ck_assert_msg(lang_call_unmask(c, flat, masked, r, np, z, err, sizeof err) == CX_OK, "%s", err);
  for (size_t k = 0; k < np; k++) got[flat[k]] = z[k];
  for (uint32_t i = 0; i < n; i++) free(sh[i]);
  free(masked);
  free(r);
  free(flat);
  free(z);
}

/* One call of c with values v through its plan, as the consortium runs it
 * (docs/calls.md §1): domain i dealt by party dp[i]; each party deals, in
 * its slot's order, the record fields lang_call_plan_inputs names, read
 * from the vault (within the range the plan gives); the params are the
 * client's slot; then every party's outputs and the reader's unmasking.
 * got: the flat outputs. */
static void call_run(const lang_contract *c, const lang_values *v, uint32_t n, const uint32_t *dp, size_t nd,
                     int64_t *got) {
  char err[256];
  const int64_t *args = NULL, *params = NULL;
  size_t nargs = lang_values_flat(v, LANG_ARG, &args), nparams = lang_values_flat(v, LANG_PARAM, &params);
  lang_call_plan *p = NULL;
  ck_assert_msg(lang_call_plan_new(c, n, dp, nd, args, nargs, &p, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_uint_eq(lang_call_plan_params(p), nparams);
  size_t vn = 0, dealt = 0, nin = 0;
  vault_rec *vault = vault_of(c, v, &vn);
  mpc_local_input in[64];
  fe *dv[64] = {0}, *pv = NULL;
  for (uint32_t party = 0; party < n; party++) {
    const lang_call_input *x = NULL;
    size_t m = lang_call_plan_inputs(p, party, &x);
    if (!m) {
      ck_assert_ptr_null(x);
      continue;
    }
    dv[party] = calloc(m, sizeof *dv[party]);
    ck_assert_ptr_nonnull(dv[party]);
    for (size_t k = 0; k < m; k++) {
      /* the domain is one this party deals */
      size_t d = 0;
      cx_domain_set ds;
      ck_assert_int_eq(lang_domains(c, &ds), CX_OK);
      while (d < ds.n && strcmp(ds.d[d].name, x[k].domain) != 0) d++;
      ck_assert_uint_lt(d, ds.n);
      ck_assert_uint_eq(dp[d], party);
      vault_rec *rec = vault_find(vault, vn, x[k].domain, x[k].field);
      ck_assert_msg(rec, "party %u deals %s.%s, which no record field is", party, x[k].domain, x[k].field);
      ck_assert_msg(!rec->used, "%s.%s is dealt twice", x[k].domain, x[k].field);
      rec->used = 1;
      ck_assert(rec->v >= x[k].lo && rec->v <= x[k].hi);
      dv[party][k] = fe_from_i64(rec->v);
    }
    in[nin++] = (mpc_local_input){.slot = 0, .dealer = party, .vals = dv[party], .len = m};
    dealt += m;
  }
  ck_assert_uint_eq(dealt, vn); /* every field dealt, once */
  mpc_local_client_input cin = {.slot = 0, .len = nparams};
  if (nparams) {
    pv = calloc(nparams, sizeof *pv);
    ck_assert_ptr_nonnull(pv);
    for (size_t k = 0; k < nparams; k++) pv[k] = fe_from_i64(params[k]);
    cin.vals = pv;
  }
  size_t T, R, B, I;
  lang_call_plan_material(p, &T, &R, &B, &I);
  mpc_prog_cost pc;
  mpc_prog_cost_get(lang_call_plan_program(p), &pc);
  mpc_prog_cost_at(n, (n - 1) / 3, &pc);
  ck_assert(T == pc.triples && R == pc.rands && B == pc.bits && I == pc.ints);
  /* the dealers change who deals, not the program's shape */
  lang_cost cost;
  ck_assert_int_eq(lang_cost_get(c, n, &cost, err, sizeof err), CX_OK);
  ck_assert(cost.rounds == pc.rounds && cost.triples == T && cost.rands == R && cost.bits == B &&
            cost.ints == I);
  mpc_local *l = NULL;
  ck_assert_int_eq(mpc_local_new(n, NULL, (T > R ? T : R) + B + I + 1, &l), CX_OK);
  ck_assert_msg(mpc_local_prepare(l, &pc, err, sizeof err) == CX_OK, "%s", err);
  mpc_status st;
  ck_assert_msg(mpc_local_run(l, lang_call_plan_program(p), in, nin, &cin, nparams ? 1 : 0, &st, NULL, err,
                              sizeof err) == CX_OK, "%s", err);
  ck_assert_uint_eq(st.rounds, pc.rounds);
  size_t no = lang_outputs_len(c);
  lang_call_output *o[64] = {0};
  for (uint32_t i = 0; i < n; i++) {
    o[i] = calloc(no + 1, sizeof *o[i]);
    ck_assert_ptr_nonnull(o[i]);
    local_party ctx = {.l = l, .party = i};
    ck_assert_msg(lang_plan_outputs_from(p, local_output, local_share, &ctx, o[i], err, sizeof err) == CX_OK,
                  "%s", err);
  }
  /* the private flags are the ports' */
  for (size_t i = 0; i < lang_nports(c); i++) {
    lang_port port;
    lang_port_get(c, i, &port);
    if (port.kind != LANG_OUT_PUBLIC && port.kind != LANG_OUT_PRIVATE) continue;
    for (uint32_t k = 0; k < (port.len ? port.len : 1); k++)
      ck_assert_uint_eq(o[0][c->ir.ports[i].first + k].priv, port.kind == LANG_OUT_PRIVATE);
  }
  call_read(c, n, o, got);
  for (uint32_t i = 0; i < n; i++) {
    free(o[i]);
    free(dv[i]);
  }
  free(pv);
  free(vault);
  mpc_local_free(l);
  lang_call_plan_free(p);
}

/* The sample contracts' names: every configs/contracts/NAME.cst with a
 * NAME.inputs.json beside it. */
static size_t sample_names(char names[][64], size_t max) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/configs/contracts", CUSTOS_SOURCE_DIR);
  DIR *d = opendir(dir);
  ck_assert_ptr_nonnull(d);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < max) {
    size_t l = strlen(e->d_name);
    if (l < 5 || l - 4 >= 64 || strcmp(e->d_name + l - 4, ".cst") != 0) continue;
    char path[1200];
    snprintf(path, sizeof path, "%s/%.*s.inputs.json", dir, (int)(l - 4), e->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    fclose(f);
    snprintf(names[n++], 64, "%.*s", (int)(l - 4), e->d_name);
  }
  closedir(d);
  return n;
}

static lang_values *sample_inputs(const lang_contract *c, const char *name) {
  char path[512], err[256];
  snprintf(path, sizeof path, "%s/configs/contracts/%s.inputs.json", CUSTOS_SOURCE_DIR, name);
  size_t len;
  char *json = slurp(path, &len);
  lang_values *v = lang_values_new(c);
  ck_assert_ptr_nonnull(v);
  ck_assert_msg(lang_values_from_json(v, json, len, err, sizeof err) == CX_OK, "%s: %s", name, err);
  free(json);
  return v;
}

/* (a) Every sample, at 4 parties, with the domains' dealers reversed, two
 * domains on one party (the others dealing nothing), and at random: the
 * call through its plan gives the reference interpreter's outputs, on the
 * sample's inputs file and on random in-range values. */
START_TEST(test_call_samples) {
  char names[32][64], err[256];
  size_t ns = sample_names(names, 32);
  ck_assert_uint_ge(ns, 6);
  for (size_t s = 0; s < ns; s++) {
    lang_contract *c = sample(names[s]);
    lang_values *v = sample_inputs(c, names[s]);
    cx_domain_set ds;
    ck_assert_int_eq(lang_domains(c, &ds), CX_OK);
    uint32_t nd = (uint32_t)ds.n, rev[CX_DOMAINS_MAX], pair[CX_DOMAINS_MAX], rnd[CX_DOMAINS_MAX];
    for (uint32_t i = 0; i < nd; i++) {
      rev[i] = (4 - 1 - i) % 4;
      pair[i] = i < 2 ? 2 : 0;
      rnd[i] = (uint32_t)(tu_rand() % 4);
    }
    size_t no = lang_outputs_len(c);
    int64_t ref[64], got[64];
    ck_assert_uint_le(no, 64);
    for (int r = 0; r < 4; r++) {
      if (r > 0) sample_values_rand(c, v);
      ck_assert_msg(lang_run_reference(c, v, ref, err, sizeof err) == CX_OK, "%s", err);
      const uint32_t *dp = r == 0 ? rev : r == 1 ? pair : r == 2 ? rnd : rev;
      memset(got, 0x5a, sizeof got);
      call_run(c, v, 4, dp, nd, got);
      for (size_t j = 0; j < no; j++)
        ck_assert_msg(got[j] == ref[j], "%s (run %d), output %zu: call %lld, reference %lld", names[s], r, j,
                      (long long)got[j], (long long)ref[j]);
    }
    fprintf(stderr, "call plan: %s (%u domains) matches the reference\n", names[s], nd);
    lang_values_free(v);
    lang_free(c);
  }
}
END_TEST

/* A contract whose outputs are of the four kinds: public and private, of a
 * secret node and of a public one (args only). x, y in two domains. */
static lang_contract *kinds_contract(void) {
  ir_circuit c;
  ir_init(&c, "kinds");
  PORT(&c, IR_PORT_INPUT, IR_T_INT, "bank.x", 0, -100, 100);
  PORT(&c, IR_PORT_INPUT, IR_T_INT, "hrss.y", 2, 0, 100);
  PORT(&c, IR_PORT_ARG, IR_T_INT, "k", 0, -10, 10);
  PORT(&c, IR_PORT_OUT_PUBLIC, IR_T_BOOL, "lt", 0, 0, 1);                  /* out 0: secret */
  PORT(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "twice", 0, INT64_MIN, INT64_MAX); /* out 1: args only */
  PORT(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "s", 0, INT64_MIN, INT64_MAX);    /* out 2: secret */
  PORT(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "next", 0, INT64_MIN, INT64_MAX); /* out 3: args only */
  uint32_t x = E(&c, IR_INPUT, 0, 0, 0, 0), y0 = E(&c, IR_INPUT, 0, 0, 0, 1), y1 = E(&c, IR_INPUT, 0, 0, 0, 2);
  uint32_t k = E(&c, IR_ARG, 0, 0, 0, 0);
  OUT(&c, E(&c, IR_LT, x, y0, 0, 0), 0);
  OUT(&c, E(&c, IR_MUL, k, K(&c, 2), 0, 0), 1);
  OUT(&c, E(&c, IR_ADD, x, E(&c, IR_MUL, y1, k, 0, 0), 0, 0), 2);
  OUT(&c, E(&c, IR_ADD, k, K(&c, 1), 0, 0), 3);
  return contract_of(&c);
}

/* The instructions of a program with this op and immediate. */
static size_t prog_count(const mpc_program *p, uint16_t op, uint64_t imm) {
  size_t m = 0;
  for (size_t i = 0; i < mpc_prog_len(p); i++)
    m += mpc_prog_ins(p, i)->op == op && mpc_prog_ins(p, i)->imm == imm;
  return m;
}

/* Every private element is masked, one of args alone too: the chain never
 * shows a private port's value (docs/contract-language.md §7); a public
 * element of args alone is not in the program. The call, lang_run_mpc and
 * the plaintext circuit agree. */
START_TEST(test_call_output_kinds) {
  lang_contract *c = kinds_contract();
  lang_values *v = values_new(c);
  char err[256];
  for (int r = 0; r < 8; r++) {
    values_rand(v);
    int64_t ref[4], got[4];
    ck_assert_int_eq(ir_eval(&c->ir, v->in, v->param, v->arg, ref), CX_OK);
    uint32_t dp[2] = {3, 3}; /* both domains on party 3 */
    call_run(c, v, 4, dp, 2, got);
    ck_assert_mem_eq(got, ref, sizeof ref);
    run_check(c, v, 4, NULL, NULL);
    lang_call_plan *p = NULL;
    ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 2, v->arg, 1, &p, err, sizeof err), CX_OK);
    const mpc_program *prog = lang_call_plan_program(p);
    ck_assert_uint_eq(prog_count(prog, MPC_OP_OUTPUT, 0), 1);
    ck_assert_uint_eq(prog_count(prog, MPC_OP_OUTPUT, 1), 0);
    ck_assert_uint_eq(prog_count(prog, MPC_OP_OUTPUT, 2), 1);
    ck_assert_uint_eq(prog_count(prog, MPC_OP_OUTPUT, 3), 1);
    ck_assert_uint_eq(prog_count(prog, MPC_OP_OUTPUT_SHARE, 2), 1);
    ck_assert_uint_eq(prog_count(prog, MPC_OP_OUTPUT_SHARE, 3), 1);
    ck_assert_uint_eq(prog_count(prog, MPC_OP_OUTPUT_SHARE, 0), 0);
    size_t R;
    lang_call_plan_material(p, NULL, &R, NULL, NULL);
    ck_assert_uint_ge(R, 2); /* the two masks */
    lang_call_plan_free(p);
  }
  values_free(v);
  contract_free(c);
}
END_TEST

/* lang_call_plan_outputs on a real online session: one party (n = 1,
 * t = 0, so its shares are the values) with preprocessing material put in
 * its pool by hand. Refused before the session is done. */
START_TEST(test_call_session) {
  lang_contract *c = kinds_contract();
  lang_values *v = values_new(c);
  values_rand(v);
  char err[256];
  int64_t ref[4], z[2];
  ck_assert_int_eq(ir_eval(&c->ir, v->in, v->param, v->arg, ref), CX_OK);
  uint32_t dp[2] = {0, 0};
  lang_call_plan *p = NULL;
  ck_assert_int_eq(lang_call_plan_new(c, 1, dp, 2, v->arg, 1, &p, err, sizeof err), CX_OK);
  size_t T, R, B, I;
  lang_call_plan_material(p, &T, &R, &B, &I);
  mpc_pool *pool = NULL;
  ck_assert_int_eq(mpc_pool_new(T + 1, R + 1, B + 1, I + 1, &pool), CX_OK);
  fe *a = calloc(T + 1, sizeof *a), *b = calloc(T + 1, sizeof *b), *ab = calloc(T + 1, sizeof *ab);
  fe *rr = calloc(R + 1, sizeof *rr), *bits = calloc(B + 1, sizeof *bits), *ints = calloc(I + 1, sizeof *ints);
  ck_assert(a && b && ab && rr && bits && ints);
  for (size_t i = 0; i < T; i++) {
    a[i] = fe_from_u64(tu_rand());
    b[i] = fe_from_u64(tu_rand());
    ab[i] = fe_mul(a[i], b[i]);
  }
  for (size_t i = 0; i < R; i++) rr[i] = fe_from_u64(tu_rand());
  for (size_t i = 0; i < B; i++) bits[i] = tu_rand() & 1;
  for (size_t i = 0; i < I; i++) ints[i] = tu_rand() & ((1ull << MPC_KAPPA) - 1); /* n = 1: the PRSS sum of one set */
  ck_assert_int_eq(mpc_pool_put_triples(pool, a, b, ab, T), CX_OK);
  ck_assert_int_eq(mpc_pool_put_rands(pool, rr, R), CX_OK);
  ck_assert_int_eq(mpc_pool_put_bits(pool, bits, B), CX_OK);
  ck_assert_int_eq(mpc_pool_put_ints(pool, ints, I), CX_OK);
  cx_seckey *key = key_generate();
  ck_assert_ptr_nonnull(key);
  cx_pubkey pk;
  key_public(key, &pk);
  mpc_session_config cfg = {.n = 1, .t = 0, .me = 0, .pubkeys = &pk, .key = key};
  tu_randbytes(cfg.session, sizeof cfg.session);
  tu_randbytes(cfg.seed, sizeof cfg.seed);
  mpc_session *s = NULL;
  ck_assert_int_eq(mpc_session_online(&cfg, lang_call_plan_program(p), pool, &s), CX_OK);
  const lang_call_input *x = NULL;
  size_t m = lang_call_plan_inputs(p, 0, &x);
  ck_assert_uint_eq(m, 3);
  fe vals[3];
  for (size_t k = 0; k < m; k++) vals[k] = fe_from_i64(v->in[k]); /* one dealer: port order is slot order */
  ck_assert_str_eq(x[0].field, "x");
  ck_assert_str_eq(x[2].field, "y_2");
  ck_assert_int_eq(mpc_session_input(s, 0, vals, m), CX_OK);
  lang_call_output o[4];
  ck_assert_int_eq(lang_call_plan_outputs(p, s, o, err, sizeof err), CX_E_INVALID_ARG); /* not done */
  mpc_outbox ob = {0};
  ck_assert_int_eq(mpc_session_start(s, 0, &ob), CX_OK);
  for (uint64_t now = 1; mpc_session_status(s)->state == MPC_RUNNING && now < 100; now++) {
    mpc_outbox_clear(&ob);
    mpc_session_tick(s, now, &ob);
  }
  ck_assert_msg(mpc_session_status(s)->state == MPC_DONE, "session: %s", mpc_session_status(s)->reason);
  ck_assert_msg(lang_call_plan_outputs(p, s, o, err, sizeof err) == CX_OK, "%s", err);
  ck_assert(!o[0].priv && !o[1].priv && o[2].priv && o[3].priv);
  ck_assert_int_eq(o[0].value, ref[0]);
  ck_assert_int_eq(o[1].value, ref[1]);
  size_t flat[2] = {2, 3};
  fe masked[2] = {o[2].masked, o[3].masked}, r[2] = {o[2].share, o[3].share}; /* t = 0: the share is r */
  ck_assert_msg(lang_call_unmask(c, flat, masked, r, 2, z, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_int_eq(z[0], ref[2]);
  ck_assert_int_eq(z[1], ref[3]);
  mpc_outbox_free(&ob);
  mpc_session_free(s);
  mpc_pool_free(pool);
  key_free(key);
  free(a);
  free(b);
  free(ab);
  free(rr);
  free(bits);
  free(ints);
  lang_call_plan_free(p);
  values_free(v);
  contract_free(c);
}
END_TEST

/* (b) What a plan refuses: a bad n, a dealer out of range, a wrong count
 * of dealers or args, an arg out of range, params over one client slot. */
START_TEST(test_call_refusals) {
  lang_contract *c = sample("cohort");
  lang_values *v = sample_inputs(c, "cohort");
  const int64_t *args = NULL;
  size_t nargs = lang_values_flat(v, LANG_ARG, &args);
  ck_assert_uint_eq(nargs, 2);
  char err[256];
  lang_call_plan *p = NULL;
  uint32_t dp[3] = {0, 1, 2}; /* health, hrss */
  ck_assert_int_eq(lang_call_plan_new(c, 0, dp, 2, args, 2, &p, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(lang_call_plan_new(c, 65, dp, 2, args, 2, &p, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_ptr_null(p);
  dp[1] = 4;
  ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 2, args, 2, &p, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(err, "hrss"));
  dp[1] = 3;
  ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 1, args, 2, &p, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 3, args, 2, &p, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(lang_call_plan_new(c, 4, NULL, 0, args, 2, &p, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 2, args, 1, &p, err, sizeof err), CX_E_INVALID_ARG);
  int64_t bad[2] = {args[0], 151}; /* max_age is int(0..150) */
  ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 2, bad, 2, &p, err, sizeof err), CX_E_LANG_INPUT);
  ck_assert_ptr_nonnull(strstr(err, "max_age"));
  bad[1] = -1;
  ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 2, bad, 2, &p, err, sizeof err), CX_E_LANG_INPUT);
  ck_assert_ptr_null(p);
  /* accepted: one dealer per domain, n at the ends */
  ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 2, args, 2, &p, err, sizeof err), CX_OK);
  const lang_call_input *x = (const lang_call_input *)1;
  ck_assert_uint_eq(lang_call_plan_inputs(p, 0, &x), 64); /* health */
  ck_assert_uint_eq(lang_call_plan_inputs(p, 3, &x), 128); /* hrss */
  ck_assert_uint_eq(lang_call_plan_inputs(p, 1, &x), 0);
  ck_assert_ptr_null(x);
  ck_assert_uint_eq(lang_call_plan_inputs(p, 4, &x), 0);
  ck_assert_ptr_null(x);
  /* unmasking refuses a public element, and a masked value that is not
   * what the parties computed */
  size_t flat = 0;
  fe m = 5, r = 2;
  int64_t z;
  ck_assert_int_eq(lang_call_unmask(c, &flat, &m, &r, 1, &z, err, sizeof err), CX_E_INVALID_ARG);
  lang_call_plan_free(p);
  dp[0] = 0;
  ck_assert_int_eq(lang_call_plan_new(c, 1, dp, 2, args, 2, &p, err, sizeof err), CX_E_INVALID_ARG); /* dp[1] */
  dp[1] = 0;
  ck_assert_int_eq(lang_call_plan_new(c, 1, dp, 2, args, 2, &p, err, sizeof err), CX_OK);
  lang_call_plan_free(p);
  ck_assert_int_eq(lang_call_plan_new(c, 64, dp, 2, args, 2, &p, err, sizeof err), CX_OK);
  lang_call_plan_free(p);
  lang_values_free(v);
  lang_free(c);
  /* params beyond one client slot: lang_run_mpc takes them, a call not */
  ir_circuit ic;
  ir_init(&ic, "bigparams");
  PORT(&ic, IR_PORT_INPUT, IR_T_INT, "a.x", 0, 0, 10);
  PORT(&ic, IR_PORT_PARAM, IR_T_INT, "w", 4096, 0, 10);
  PORT(&ic, IR_PORT_PARAM, IR_T_INT, "u", 0, 0, 10);
  PORT(&ic, IR_PORT_OUT_PUBLIC, IR_T_INT, "s", 0, INT64_MIN, INT64_MAX);
  OUT(&ic, E(&ic, IR_ADD, E(&ic, IR_INPUT, 0, 0, 0, 0), E(&ic, IR_PARAM, 0, 0, 0, 4096), 0, 0), 0);
  lang_contract *big = contract_of(&ic);
  uint32_t one = 0;
  ck_assert_int_eq(lang_call_plan_new(big, 4, &one, 1, NULL, 0, &p, err, sizeof err), CX_E_LANG_LIMIT);
  ck_assert_ptr_null(p);
  lang_values *bv = values_new(big);
  values_rand(bv);
  run_check(big, bv, 4, NULL, NULL);
  values_free(bv);
  contract_free(big);
}
END_TEST

/* Outputs: a session without a slot the program has, a public value
 * outside its static range, a wrong mask or masked value at the reader. */
static const fe *fake_vals;
static size_t fake_missing = SIZE_MAX;
static size_t fake_slot(const void *ctx, uint32_t slot, const fe **vals) {
  (void)ctx;
  if (slot == fake_missing) {
    *vals = NULL;
    return 0;
  }
  *vals = &fake_vals[slot];
  return 1;
}

START_TEST(test_call_output_refusals) {
  lang_contract *c = kinds_contract();
  char err[256];
  uint32_t dp[2] = {0, 1};
  int64_t k = 3;
  lang_call_plan *p = NULL;
  ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 2, &k, 1, &p, err, sizeof err), CX_OK);
  fe vals[4] = {1, 0, 77, 88};
  lang_call_output o[4];
  fake_vals = vals;
  fake_missing = SIZE_MAX;
  ck_assert_int_eq(lang_plan_outputs_from(p, fake_slot, fake_slot, NULL, o, err, sizeof err), CX_OK);
  ck_assert_int_eq(o[0].value, 1);
  ck_assert_int_eq(o[1].value, 6); /* k * 2, known at plan time */
  ck_assert(o[2].masked == 77 && o[2].share == 77 && o[3].masked == 88);
  vals[0] = 2; /* lt is a bool */
  ck_assert_int_eq(lang_plan_outputs_from(p, fake_slot, fake_slot, NULL, o, err, sizeof err), CX_E_INTERNAL);
  ck_assert(o[2].share == 0); /* wiped */
  vals[0] = fe_neg(1);
  ck_assert_int_eq(lang_plan_outputs_from(p, fake_slot, fake_slot, NULL, o, err, sizeof err), CX_E_INTERNAL);
  vals[0] = 0;
  fake_missing = 3;
  ck_assert_int_eq(lang_plan_outputs_from(p, fake_slot, fake_slot, NULL, o, err, sizeof err), CX_E_INTERNAL);
  fake_missing = 1; /* not in the program: not read */
  ck_assert_int_eq(lang_plan_outputs_from(p, fake_slot, fake_slot, NULL, o, err, sizeof err), CX_OK);
  fake_missing = SIZE_MAX;
  /* the reader: "s" = x + k y1 has the static range -1100..1100, "next"
   * = k + 1 the range -9..11 (ranges are static: over every arg) */
  size_t flat[2] = {2, 3};
  fe r[2] = {fe_from_u64(tu_rand()), fe_from_u64(tu_rand())};
  fe masked[2] = {fe_add(fe_from_i64(-5), r[0]), fe_add(4, r[1])};
  int64_t z[2];
  ck_assert_int_eq(lang_call_unmask(c, flat, masked, r, 2, z, err, sizeof err), CX_OK);
  ck_assert(z[0] == -5 && z[1] == 4);
  masked[1] = fe_add(masked[1], 100); /* 104 */
  ck_assert_int_eq(lang_call_unmask(c, flat, masked, r, 2, z, err, sizeof err), CX_E_MPC_CHECK_FAILED);
  ck_assert(z[0] == 0); /* wiped */
  masked[1] = fe_add(4, r[1]);
  r[0] = fe_add(r[0], (fe)1 << 100); /* a wrong mask: far outside int64 */
  ck_assert_int_eq(lang_call_unmask(c, flat, masked, r, 2, z, err, sizeof err), CX_E_MPC_CHECK_FAILED);
  flat[0] = 4;
  ck_assert_int_eq(lang_call_unmask(c, flat, masked, r, 2, z, err, sizeof err), CX_E_INVALID_ARG);
  lang_call_plan_free(p);
  contract_free(c);
}
END_TEST

/* (c) The record fields a dealer reads: scalar d.f is field f, element k
 * of array d.f is f_<k+1>; a dealer's slot holds its domains' elements in
 * input port order; bools range 0..1. */
START_TEST(test_call_field_names) {
  char err[256], want[64];
  lang_contract *c = sample("underwriting");
  lang_call_plan *p = NULL;
  uint32_t dp[2] = {0, 1}; /* health, hrss */
  ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 2, NULL, 0, &p, err, sizeof err), CX_OK);
  const lang_call_input *x = NULL;
  ck_assert_uint_eq(lang_call_plan_inputs(p, 0, &x), 8);
  for (int k = 0; k < 8; k++) {
    snprintf(want, sizeof want, "chronic_codes_%d", k + 1);
    ck_assert_str_eq(x[k].domain, "health");
    ck_assert_str_eq(x[k].field, want);
    ck_assert(x[k].lo == 0 && x[k].hi == 99999);
  }
  ck_assert_uint_eq(lang_call_plan_inputs(p, 1, &x), 3);
  static const char *const hrss[3] = {"age", "contrib_months", "monthly_wage"};
  static const int64_t hi[3] = {150, 1200, 10000000};
  for (int k = 0; k < 3; k++) {
    ck_assert_str_eq(x[k].domain, "hrss");
    ck_assert_str_eq(x[k].field, hrss[k]);
    ck_assert(x[k].lo == 0 && x[k].hi == hi[k]);
  }
  lang_call_plan_free(p);
  lang_free(c);
  /* cohort: hrss.ages, hrss.wages, health.diabetic (bool[64]), both
   * domains on party 2 */
  c = sample("cohort");
  int64_t args[2] = {40, 59};
  dp[0] = dp[1] = 2;
  ck_assert_int_eq(lang_call_plan_new(c, 4, dp, 2, args, 2, &p, err, sizeof err), CX_OK);
  ck_assert_uint_eq(lang_call_plan_inputs(p, 2, &x), 192);
  for (int k = 0; k < 192; k++) {
    const char *port = k < 64 ? "ages" : k < 128 ? "wages" : "diabetic";
    snprintf(want, sizeof want, "%s_%d", port, k % 64 + 1);
    ck_assert_str_eq(x[k].domain, k < 128 ? "hrss" : "health");
    ck_assert_str_eq(x[k].field, want);
    ck_assert_int_eq(x[k].hi, k < 64 ? 150 : k < 128 ? 10000000 : 1);
    ck_assert_int_eq(x[k].lo, 0);
  }
  ck_assert_str_eq(x[63].field, "ages_64");
  ck_assert_str_eq(x[191].field, "diabetic_64");
  ck_assert_uint_eq(lang_call_plan_inputs(p, 0, &x), 0);
  lang_call_plan_free(p);
  lang_free(c);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("lang_mpc");
  TCase *tc = tcase_create("circuits");
  tcase_set_timeout(tc, 240);
  tcase_add_test(tc, test_mix_n4);
  tcase_add_test(tc, test_mix_n1_n7);
  tcase_add_test(tc, test_seeded);
  tcase_add_test(tc, test_layer_packing);
  tcase_add_test(tc, test_wide_layer);
  tcase_add_test(tc, test_cost_report);
  tcase_add_test(tc, test_refusals);
  tcase_add_test(tc, test_batch);
  tcase_add_test(tc, test_batch_plan);
  tcase_add_test(tc, test_zero_product_fusion);
  suite_add_tcase(s, tc);
  TCase *ts = tcase_create("samples");
  tcase_set_timeout(ts, 240);
  tcase_add_loop_test(ts, test_samples, 0, (int)NSAMPLES);
  suite_add_tcase(s, ts);
  TCase *tp = tcase_create("call_plan");
  tcase_set_timeout(tp, 240);
  tcase_add_test(tp, test_call_samples);
  tcase_add_test(tp, test_call_output_kinds);
  tcase_add_test(tp, test_call_session);
  tcase_add_test(tp, test_call_refusals);
  tcase_add_test(tp, test_call_output_refusals);
  tcase_add_test(tp, test_call_field_names);
  suite_add_tcase(s, tp);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
