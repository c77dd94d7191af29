/* The MPC back end of the contract language (vm/lang/eval_mpc.c):
 * lang_cost_get and lang_run_mpc on circuits built by hand with the ir.h
 * builder, run by n in-process parties and compared with the plaintext
 * circuit (ir_eval) on random in-range inputs; layer packing (independent
 * comparisons share rounds); the cost report against the runs. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir.h"
#include "lang.h"
#include "lang_internal.h"
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
  suite_add_tcase(s, tc);
  TCase *ts = tcase_create("samples");
  tcase_set_timeout(ts, 240);
  tcase_add_loop_test(ts, test_samples, 0, (int)NSAMPLES);
  suite_add_tcase(s, ts);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
