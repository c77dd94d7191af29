/* The circuit of the contract language (vm/lang/ir.h, ir.c, ir_pass.c,
 * bytecode.c, ir_eval.c; docs/contract-language.md §3 and §6).
 *
 *   - the builder: interval ranges (with refusals at the int64 edges and
 *     floor division of negatives), secrecy, folding and simplification,
 *     hash-consing, limits;
 *   - the passes: random expression DAGs (seeded) built once with fold = 0
 *     and once with fold = 1 finish to byte-identical encodings; DCE and
 *     the output checks;
 *   - the bytecode: a golden encoding written by hand from the spec, round
 *     trips, and every refusal of the decoder, each with its sentence;
 *   - evaluation: ir_eval against an independent 128-bit evaluation of the
 *     same random DAGs, which also checks that every value lies within its
 *     node's static range; depth, stats and flows on a known circuit. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ir.h"
#include "testutil.h"

__extension__ typedef __int128 i128;

/* ==== helpers =========================================================== */

static uint32_t em(ir_circuit *c, uint8_t op, uint32_t a, uint32_t b, uint32_t cc, int64_t imm) {
  cx_err e = CX_E_INTERNAL;
  uint32_t r = ir_emit(c, op, a, b, cc, imm, &e);
  ck_assert_msg(r != IR_NONE && e == CX_OK, "emit op %u refused (%d)", op, e);
  return r;
}

/* Emits and expects a refusal with code want. */
static void em_refused(ir_circuit *c, uint8_t op, uint32_t a, uint32_t b, uint32_t cc, int64_t imm,
                       cx_err want) {
  cx_err e = CX_OK;
  size_t before = c->nnodes;
  uint32_t r = ir_emit(c, op, a, b, cc, imm, &e);
  ck_assert_uint_eq(r, IR_NONE);
  ck_assert_int_eq(e, want);
  ck_assert_uint_eq(c->nnodes, before);
}

static uint32_t cst(ir_circuit *c, int64_t v) {
  cx_err e;
  uint32_t r = ir_const(c, v, &e);
  ck_assert_uint_ne(r, IR_NONE);
  return r;
}

static void port(ir_circuit *c, uint8_t kind, uint8_t base, const char *name, uint32_t len, int64_t lo,
                 int64_t hi) {
  ck_assert_int_eq(ir_add_port(c, kind, base, name, len, lo, hi), CX_OK);
}

static void range_is(const ir_circuit *c, uint32_t i, int64_t lo, int64_t hi) {
  ck_assert_int_eq(c->nodes[i].lo, lo);
  ck_assert_int_eq(c->nodes[i].hi, hi);
}

static void is_const(const ir_circuit *c, uint32_t i, int64_t v) {
  ck_assert_uint_eq(c->nodes[i].op, IR_CONST);
  ck_assert_int_eq(c->nodes[i].imm, v);
  range_is(c, i, v, v);
}

static uint8_t *encode(const ir_circuit *c, size_t *len) {
  uint8_t *b = NULL;
  ck_assert_int_eq(ir_encode(c, &b, len), CX_OK);
  return b;
}

static uint64_t rng_next(uint64_t *st) { /* splitmix64 */
  uint64_t z = (*st += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* A value in [lo, hi], often an edge. */
static int64_t rng_in(uint64_t *st, int64_t lo, int64_t hi) {
  uint64_t span = (uint64_t)hi - (uint64_t)lo;
  switch (rng_next(st) % 6) {
    case 0: return lo;
    case 1: return hi;
    case 2: return lo < 0 && hi > 0 ? 0 : lo;
    case 3: return span >= 1 ? (int64_t)((uint64_t)lo + 1) : lo;
    default: {
      uint64_t r = rng_next(st);
      if (span != UINT64_MAX) r %= span + 1;
      return (int64_t)((uint64_t)lo + r);
    }
  }
}

static i128 floordiv(i128 x, i128 d) {
  i128 q = x / d;
  return (x % d != 0 && x < 0) ? q - 1 : q;
}

/* ==== builder: ports, ranges, secrecy ==================================== */

START_TEST(test_ports) {
  ir_circuit c;
  ir_init(&c, "underwriting");
  ck_assert_int_eq(c.fold, 1);
  port(&c, IR_PORT_INPUT, IR_T_INT, "hrss.age", 0, 0, 150);
  port(&c, IR_PORT_INPUT, IR_T_INT, "health.codes", 8, 0, 99999);
  port(&c, IR_PORT_PARAM, IR_T_INT, "max_age", 0, 0, 150);
  port(&c, IR_PORT_ARG, IR_T_INT, "year", 3, 1900, 2200);
  port(&c, IR_PORT_OUT_PUBLIC, IR_T_BOOL, "approve", 0, 0, 1);
  port(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "band", 2, INT64_MIN, INT64_MAX);
  ck_assert_uint_eq(c.n_input, 9);
  ck_assert_uint_eq(c.n_param, 1);
  ck_assert_uint_eq(c.n_arg, 3);
  ck_assert_uint_eq(c.n_output, 3);
  ck_assert_uint_eq(c.ports[0].first, 0);
  ck_assert_uint_eq(c.ports[1].first, 1);
  ck_assert_uint_eq(c.ports[2].first, 0);
  ck_assert_uint_eq(c.ports[3].first, 0);
  ck_assert_uint_eq(c.ports[4].first, 0);
  ck_assert_uint_eq(c.ports[5].first, 1); /* public and private outputs share one vector */
  ck_assert_int_eq(ir_add_port(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "x", 0, 5, 4), CX_E_LANG_RANGE);
  ck_assert_int_eq(ir_add_port(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "x", IR_MAX_ARRAY + 1, 0, 1),
                   CX_E_LANG_LIMIT);
  char longname[IR_NAME_MAX + 2];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  ck_assert_int_eq(ir_add_port(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, longname, 0, 0, 1), CX_E_LANG_LIMIT);
  ck_assert_uint_eq(c.nports, 6);
  ir_free(&c);
  ck_assert_ptr_null(c.ports);
  ir_free(&c); /* twice is harmless */

  ir_init(&c, "t");
  char nm[16];
  for (int i = 0; i < IR_MAX_PORTS; i++) {
    snprintf(nm, sizeof nm, "a%d", i);
    port(&c, IR_PORT_ARG, IR_T_INT, nm, 0, 0, 1);
  }
  ck_assert_int_eq(ir_add_port(&c, IR_PORT_ARG, IR_T_INT, "one_more", 0, 0, 1), CX_E_LANG_LIMIT);
  ir_free(&c);
}
END_TEST

START_TEST(test_ranges) {
  ir_circuit c;
  ir_init(&c, "t");
  port(&c, IR_PORT_INPUT, IR_T_INT, "hrss.age", 0, 0, 150);
  port(&c, IR_PORT_INPUT, IR_T_INT, "h.codes", 4, -10, 99999);
  port(&c, IR_PORT_PARAM, IR_T_INT, "p", 0, -5, 5);
  port(&c, IR_PORT_ARG, IR_T_INT, "year", 0, 1900, 2200);
  uint32_t age = em(&c, IR_INPUT, 0, 0, 0, 0), code2 = em(&c, IR_INPUT, 0, 0, 0, 3);
  uint32_t p = em(&c, IR_PARAM, 0, 0, 0, 0), y = em(&c, IR_ARG, 0, 0, 0, 0);
  range_is(&c, age, 0, 150);
  range_is(&c, code2, -10, 99999);
  range_is(&c, p, -5, 5);
  range_is(&c, y, 1900, 2200);
  range_is(&c, em(&c, IR_ADD, age, p, 0, 0), -5, 155);
  range_is(&c, em(&c, IR_SUB, age, p, 0, 0), -5, 155);
  range_is(&c, em(&c, IR_SUB, p, age, 0, 0), -155, 5);
  range_is(&c, em(&c, IR_MUL, p, code2, 0, 0), -499995, 499995);
  range_is(&c, em(&c, IR_MUL, p, p, 0, 0), -25, 25); /* interval arithmetic, not x^2 */
  range_is(&c, em(&c, IR_DIVC, code2, 0, 0, 7), -2, 14285);
  uint32_t lt = em(&c, IR_LT, age, p, 0, 0);
  range_is(&c, lt, 0, 1);
  range_is(&c, em(&c, IR_EQ, age, p, 0, 0), 0, 1);
  range_is(&c, em(&c, IR_SELECT, lt, age, y, 0), 0, 2200);
  range_is(&c, em(&c, IR_SELECT, lt, p, code2, 0), -10, 99999);
  range_is(&c, em(&c, IR_ADD, y, cst(&c, 1), 0, 0), 1901, 2201);
  ir_free(&c);
}
END_TEST

START_TEST(test_secrecy) {
  ir_circuit c;
  ir_init(&c, "t");
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.x", 0, 0, 9);
  port(&c, IR_PORT_PARAM, IR_T_BOOL, "p", 0, 0, 1);
  port(&c, IR_PORT_ARG, IR_T_BOOL, "y", 0, 0, 1);
  port(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "o", 0, INT64_MIN, INT64_MAX);
  uint32_t x = em(&c, IR_INPUT, 0, 0, 0, 0), p = em(&c, IR_PARAM, 0, 0, 0, 0), y = em(&c, IR_ARG, 0, 0, 0, 0);
  uint32_t k = cst(&c, 3);
  ck_assert(c.nodes[x].secret && c.nodes[p].secret);
  ck_assert(!c.nodes[y].secret && !c.nodes[k].secret);
  ck_assert(!c.nodes[em(&c, IR_ADD, y, k, 0, 0)].secret);
  ck_assert(!c.nodes[em(&c, IR_LT, y, k, 0, 0)].secret);
  ck_assert(c.nodes[em(&c, IR_MUL, y, x, 0, 0)].secret);
  ck_assert(c.nodes[em(&c, IR_SELECT, y, x, k, 0)].secret);   /* public condition, secret branch */
  ck_assert(c.nodes[em(&c, IR_SELECT, p, y, k, 0)].secret);   /* secret condition */
  ck_assert(!c.nodes[em(&c, IR_SELECT, y, y, k, 0)].secret);
  ck_assert(c.nodes[em(&c, IR_DIVC, x, 0, 0, 2)].secret);
  ck_assert(c.nodes[em(&c, IR_OUTPUT, x, 0, 0, 0)].secret);
  ir_free(&c);
}
END_TEST

/* Every result that may leave int64 is refused, with fold on or off, and
 * the edges themselves are fine. */
START_TEST(test_overflow_edges) {
  for (int fold = 0; fold <= 1; fold++) {
    ir_circuit c;
    ir_init(&c, "t");
    c.fold = fold;
    port(&c, IR_PORT_INPUT, IR_T_INT, "d.max", 0, INT64_MAX - 1, INT64_MAX);
    port(&c, IR_PORT_INPUT, IR_T_INT, "d.one", 0, 0, 1);
    port(&c, IR_PORT_INPUT, IR_T_INT, "d.full", 0, INT64_MIN, INT64_MAX);
    port(&c, IR_PORT_INPUT, IR_T_INT, "d.neg", 0, -1, 1);
    port(&c, IR_PORT_INPUT, IR_T_INT, "d.min", 0, INT64_MIN, INT64_MIN + 1);
    uint32_t mx = em(&c, IR_INPUT, 0, 0, 0, 0), one = em(&c, IR_INPUT, 0, 0, 0, 1);
    uint32_t full = em(&c, IR_INPUT, 0, 0, 0, 2), neg = em(&c, IR_INPUT, 0, 0, 0, 3);
    uint32_t mn = em(&c, IR_INPUT, 0, 0, 0, 4);
    em_refused(&c, IR_ADD, mx, one, 0, 0, CX_E_LANG_RANGE);
    em_refused(&c, IR_ADD, one, mx, 0, 0, CX_E_LANG_RANGE);
    em_refused(&c, IR_ADD, mx, cst(&c, 1), 0, 0, CX_E_LANG_RANGE);
    range_is(&c, em(&c, IR_ADD, mx, cst(&c, -1), 0, 0), INT64_MAX - 2, INT64_MAX - 1);
    range_is(&c, em(&c, IR_ADD, mn, mx, 0, 0), -2, 0);
    em_refused(&c, IR_SUB, mn, one, 0, 0, CX_E_LANG_RANGE);
    em_refused(&c, IR_SUB, one, mn, 0, 0, CX_E_LANG_RANGE); /* 0 - INT64_MIN */
    range_is(&c, em(&c, IR_SUB, cst(&c, -1), mn, 0, 0), INT64_MAX - 1, INT64_MAX);
    em_refused(&c, IR_MUL, full, neg, 0, 0, CX_E_LANG_RANGE);  /* -1 * INT64_MIN */
    em_refused(&c, IR_MUL, mn, cst(&c, -1), 0, 0, CX_E_LANG_RANGE);
    em_refused(&c, IR_MUL, mx, mx, 0, 0, CX_E_LANG_RANGE);
    range_is(&c, em(&c, IR_MUL, full, one, 0, 0), INT64_MIN, INT64_MAX);
    /* x - x is refused too when x spans int64: the range comes first, so
     * the refusal does not depend on folding. */
    em_refused(&c, IR_SUB, full, full, 0, 0, CX_E_LANG_RANGE);
    /* Constants are their own ranges. */
    em_refused(&c, IR_SUB, cst(&c, INT64_MIN), cst(&c, 1), 0, 0, CX_E_LANG_RANGE);
    em_refused(&c, IR_MUL, cst(&c, (int64_t)1 << 32), cst(&c, (int64_t)1 << 31), 0, 0, CX_E_LANG_RANGE);
    uint32_t big = em(&c, IR_MUL, cst(&c, (int64_t)1 << 32), cst(&c, ((int64_t)1 << 31) - 1), 0, 0);
    int64_t bv = INT64_MAX - ((int64_t)1 << 32) + 1; /* 2^63 - 2^32 */
    range_is(&c, big, bv, bv);
    em_refused(&c, IR_ADD, cst(&c, INT64_MAX), cst(&c, 1), 0, 0, CX_E_LANG_RANGE);
    /* Division never overflows. */
    range_is(&c, em(&c, IR_DIVC, full, 0, 0, 2), INT64_MIN / 2, INT64_MAX / 2);
    range_is(&c, em(&c, IR_DIVC, full, 0, 0, INT64_MAX), -2, 1);
    range_is(&c, em(&c, IR_DIVC, mn, 0, 0, 3), -3074457345618258603, -3074457345618258603);
    ir_free(&c);
  }
}
END_TEST

START_TEST(test_floor_division) {
  static const int64_t v[][3] = {
      {-7, 2, -4}, {-8, 2, -4}, {7, 2, 3}, {-1, 2, -1}, {0, 3, 0}, {-9, 3, -3}, {-10, 3, -4}, {1, 3, 0},
      {INT64_MIN, 2, -4611686018427387904}, {INT64_MIN, 3, -3074457345618258603},
      {INT64_MAX, 3, 3074457345618258602}, {INT64_MIN, INT64_MAX, -2}, {INT64_MAX, INT64_MAX, 1},
      {-1, INT64_MAX, -1},
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    ir_circuit c;
    ir_init(&c, "t");
    is_const(&c, em(&c, IR_DIVC, cst(&c, v[i][0]), 0, 0, v[i][1]), v[i][2]);
    ir_free(&c);
  }
  /* The range of a division is floored at both ends, and evaluation
   * agrees on every value. */
  ir_circuit c;
  ir_init(&c, "t");
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.x", 0, -7, 7);
  port(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "q", 0, INT64_MIN, INT64_MAX);
  uint32_t q = em(&c, IR_DIVC, em(&c, IR_INPUT, 0, 0, 0, 0), 0, 0, 2);
  range_is(&c, q, -4, 3);
  em(&c, IR_OUTPUT, q, 0, 0, 0);
  for (int64_t x = -7; x <= 7; x++) {
    int64_t out = 99;
    ck_assert_int_eq(ir_eval(&c, &x, NULL, NULL, &out), CX_OK);
    ck_assert_int_eq(out, (int64_t)floordiv(x, 2));
  }
  ir_free(&c);
}
END_TEST

START_TEST(test_bits) {
  ck_assert_uint_eq(ir_bits(0, 0), 1);
  ck_assert_uint_eq(ir_bits(-1, 0), 1);
  ck_assert_uint_eq(ir_bits(0, 1), 2);
  ck_assert_uint_eq(ir_bits(-2, 1), 2);
  ck_assert_uint_eq(ir_bits(5, 5), 4);
  ck_assert_uint_eq(ir_bits(0, 150), 9);
  ck_assert_uint_eq(ir_bits(-128, 127), 8);
  ck_assert_uint_eq(ir_bits(-129, 0), 9);
  ck_assert_uint_eq(ir_bits(0, 128), 9);
  ck_assert_uint_eq(ir_bits(0, INT64_MAX), 64);
  ck_assert_uint_eq(ir_bits(INT64_MIN, 0), 64);
  ck_assert_uint_eq(ir_bits(INT64_MIN, INT64_MAX), 64);
  ck_assert_uint_eq(ir_bits(-((int64_t)1 << 62), ((int64_t)1 << 62) - 1), 63);
}
END_TEST

/* ==== builder: folding, simplification, hash-consing ===================== */

START_TEST(test_fold_constants) {
  ir_circuit c;
  ir_init(&c, "t");
  uint32_t k3 = cst(&c, 3), k4 = cst(&c, 4), km5 = cst(&c, -5), k0 = cst(&c, 0), k1 = cst(&c, 1);
  ck_assert_uint_eq(cst(&c, 3), k3); /* constants are hash-consed */
  size_t n = c.nnodes;
  is_const(&c, em(&c, IR_ADD, k3, k4, 0, 0), 7);
  is_const(&c, em(&c, IR_SUB, k3, k4, 0, 0), -1);
  is_const(&c, em(&c, IR_MUL, km5, k4, 0, 0), -20);
  is_const(&c, em(&c, IR_DIVC, km5, 0, 0, 2), -3);
  is_const(&c, em(&c, IR_LT, k3, k4, 0, 0), 1);
  is_const(&c, em(&c, IR_LT, k4, k3, 0, 0), 0);
  is_const(&c, em(&c, IR_LE, k3, k3, 0, 0), 1);
  is_const(&c, em(&c, IR_LE, k4, k3, 0, 0), 0);
  is_const(&c, em(&c, IR_EQ, k4, k3, 0, 0), 0);
  is_const(&c, em(&c, IR_NE, k4, k3, 0, 0), 1);
  ck_assert_uint_eq(em(&c, IR_SELECT, k1, k3, k4, 0), k3);
  ck_assert_uint_eq(em(&c, IR_SELECT, k0, k3, k4, 0), k4);
  /* 7, -1, -20, -3 are new; 1 and 0 existed */
  ck_assert_uint_eq(c.nnodes, n + 4);
  ir_free(&c);
}
END_TEST

START_TEST(test_simplify) {
  ir_circuit c;
  ir_init(&c, "t");
  port(&c, IR_PORT_INPUT, IR_T_INT, "hrss.age", 0, 0, 150);
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.y", 0, -20, 20);
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.five", 0, 5, 5);
  port(&c, IR_PORT_INPUT, IR_T_BOOL, "d.b", 0, 0, 1);
  uint32_t x = em(&c, IR_INPUT, 0, 0, 0, 0), y = em(&c, IR_INPUT, 0, 0, 0, 1);
  uint32_t five = em(&c, IR_INPUT, 0, 0, 0, 2), b = em(&c, IR_INPUT, 0, 0, 0, 3);
  uint32_t k0 = cst(&c, 0), k1 = cst(&c, 1);
  size_t n = c.nnodes;
  ck_assert_uint_eq(em(&c, IR_ADD, x, k0, 0, 0), x);
  ck_assert_uint_eq(em(&c, IR_ADD, k0, x, 0, 0), x);
  ck_assert_uint_eq(em(&c, IR_SUB, x, k0, 0, 0), x);
  ck_assert_uint_eq(em(&c, IR_MUL, x, k1, 0, 0), x);
  ck_assert_uint_eq(em(&c, IR_MUL, k1, x, 0, 0), x);
  ck_assert_uint_eq(em(&c, IR_MUL, x, k0, 0, 0), k0);
  ck_assert_uint_eq(em(&c, IR_MUL, k0, y, 0, 0), k0);
  ck_assert_uint_eq(em(&c, IR_SUB, y, y, 0, 0), k0);
  ck_assert_uint_eq(em(&c, IR_SELECT, b, y, y, 0), y);
  ck_assert_uint_eq(em(&c, IR_SELECT, k1, x, y, 0), x);
  ck_assert_uint_eq(em(&c, IR_SELECT, k0, x, y, 0), y);
  /* comparisons decided by the ranges: age in 0..150 */
  ck_assert_uint_eq(em(&c, IR_LT, x, cst(&c, 200), 0, 0), k1);
  ck_assert_uint_eq(em(&c, IR_LT, x, k0, 0, 0), k0);
  ck_assert_uint_eq(em(&c, IR_LE, x, cst(&c, 150), 0, 0), k1);
  ck_assert_uint_eq(em(&c, IR_LE, cst(&c, 151), x, 0, 0), k0);
  ck_assert_uint_eq(c.nodes[em(&c, IR_LE, y, x, 0, 0)].op, IR_LE); /* undecided */
  ck_assert_uint_eq(em(&c, IR_EQ, x, cst(&c, -1), 0, 0), k0);
  ck_assert_uint_eq(em(&c, IR_NE, cst(&c, 151), x, 0, 0), k1);
  ck_assert_uint_eq(em(&c, IR_EQ, five, cst(&c, 5), 0, 0), k1);
  ck_assert_uint_eq(em(&c, IR_NE, five, cst(&c, 5), 0, 0), k0);
  ck_assert_uint_eq(em(&c, IR_EQ, x, x, 0, 0), k1);
  ck_assert_uint_eq(em(&c, IR_NE, x, x, 0, 0), k0);
  ck_assert_uint_eq(em(&c, IR_LT, x, x, 0, 0), k0);
  ck_assert_uint_eq(em(&c, IR_LE, x, x, 0, 0), k1);
  /* the only new nodes: the constants 200, 150, 151, -1, 5 and the
   * undecided y <= x */
  ck_assert_uint_eq(c.nnodes, n + 6);
  /* not simplified */
  size_t m = c.nnodes;
  uint32_t neg = em(&c, IR_SUB, k0, x, 0, 0);
  ck_assert_uint_eq(c.nodes[neg].op, IR_SUB);
  uint32_t lt = em(&c, IR_LT, x, cst(&c, 150), 0, 0);
  ck_assert_uint_eq(c.nodes[lt].op, IR_LT);
  ck_assert_uint_eq(c.nnodes, m + 2);

  /* With fold off, nothing is folded, simplified or shared. */
  ir_circuit r;
  ir_init(&r, "t");
  r.fold = 0;
  port(&r, IR_PORT_INPUT, IR_T_INT, "hrss.age", 0, 0, 150);
  x = em(&r, IR_INPUT, 0, 0, 0, 0);
  uint32_t x2 = em(&r, IR_INPUT, 0, 0, 0, 0);
  ck_assert_uint_ne(x, x2);
  k0 = cst(&r, 0);
  uint32_t s = em(&r, IR_ADD, x, k0, 0, 0);
  ck_assert_uint_eq(r.nodes[s].op, IR_ADD);
  uint32_t t = em(&r, IR_ADD, cst(&r, 2), cst(&r, 3), 0, 0);
  ck_assert_uint_eq(r.nodes[t].op, IR_ADD);
  range_is(&r, t, 5, 5);
  uint32_t l = em(&r, IR_LT, x, cst(&r, 200), 0, 0);
  ck_assert_uint_eq(r.nodes[l].op, IR_LT);
  range_is(&r, l, 0, 1);
  uint32_t sw = em(&r, IR_ADD, k0, x, 0, 0); /* kept as given */
  ck_assert_uint_eq(r.nodes[sw].a, k0);
  ir_free(&r);
  ir_free(&c);
}
END_TEST

START_TEST(test_cse) {
  ir_circuit c;
  ir_init(&c, "t");
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.a", 0, 0, 10);
  port(&c, IR_PORT_PARAM, IR_T_INT, "b", 0, 0, 10);
  port(&c, IR_PORT_ARG, IR_T_BOOL, "y", 0, 0, 1);
  port(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "o", 0, INT64_MIN, INT64_MAX);
  uint32_t a = em(&c, IR_INPUT, 0, 0, 0, 0), b = em(&c, IR_PARAM, 0, 0, 0, 0), y = em(&c, IR_ARG, 0, 0, 0, 0);
  ck_assert_uint_eq(em(&c, IR_INPUT, 0, 0, 0, 0), a);
  ck_assert_uint_eq(em(&c, IR_ARG, 0, 0, 0, 0), y);
  static const uint8_t comm[] = {IR_ADD, IR_MUL, IR_EQ, IR_NE};
  for (size_t i = 0; i < sizeof comm; i++) {
    uint32_t x1 = em(&c, comm[i], b, a, 0, 0);
    ck_assert_uint_eq(c.nodes[x1].a, a); /* ordered a <= b */
    ck_assert_uint_eq(c.nodes[x1].b, b);
    ck_assert_uint_eq(em(&c, comm[i], a, b, 0, 0), x1);
    ck_assert_uint_eq(em(&c, comm[i], b, a, 0, 0), x1);
  }
  static const uint8_t ord[] = {IR_SUB, IR_LT, IR_LE};
  for (size_t i = 0; i < sizeof ord; i++) {
    uint32_t x1 = em(&c, ord[i], a, b, 0, 0), x2 = em(&c, ord[i], b, a, 0, 0);
    ck_assert_uint_ne(x1, x2);
    ck_assert_uint_eq(em(&c, ord[i], a, b, 0, 0), x1);
    ck_assert_uint_eq(em(&c, ord[i], b, a, 0, 0), x2);
  }
  uint32_t d3 = em(&c, IR_DIVC, a, 0, 0, 3);
  ck_assert_uint_eq(em(&c, IR_DIVC, a, 0, 0, 3), d3);
  ck_assert_uint_ne(em(&c, IR_DIVC, a, 0, 0, 4), d3);
  uint32_t s1 = em(&c, IR_SELECT, y, a, b, 0);
  ck_assert_uint_eq(em(&c, IR_SELECT, y, a, b, 0), s1);
  ck_assert_uint_ne(em(&c, IR_SELECT, y, b, a, 0), s1);
  /* unused operands and immediates are ignored */
  ck_assert_uint_eq(em(&c, IR_ADD, a, b, 7, 99), em(&c, IR_ADD, a, b, 0, 0));
  ck_assert_uint_eq(em(&c, IR_INPUT, 5, 6, 7, 0), a);
  /* OUTPUT nodes are roots, never merged */
  uint32_t o1 = em(&c, IR_OUTPUT, a, 0, 0, 0), o2 = em(&c, IR_OUTPUT, a, 0, 0, 0);
  ck_assert_uint_ne(o1, o2);
  /* A stretch built with fold = 0 may duplicate nodes; with fold back on
   * the table is rebuilt and the first copy is the one returned. */
  c.fold = 0;
  uint32_t dup = em(&c, IR_SUB, a, b, 0, 0);
  c.fold = 1;
  ck_assert_uint_ne(dup, em(&c, IR_SUB, a, b, 0, 0));
  ck_assert_uint_lt(em(&c, IR_SUB, a, b, 0, 0), dup);
  ir_free(&c);
}
END_TEST

START_TEST(test_node_limit) {
  ir_circuit c;
  ir_init(&c, "t");
  for (uint32_t i = 0; i < IR_MAX_NODES; i++) cst(&c, i);
  ck_assert_uint_eq(c.nnodes, IR_MAX_NODES);
  em_refused(&c, IR_CONST, 0, 0, 0, -1, CX_E_LANG_LIMIT);
  em_refused(&c, IR_ADD, IR_MAX_NODES - 2, IR_MAX_NODES - 1, 0, 0, CX_E_LANG_LIMIT);
  ck_assert_uint_eq(cst(&c, 17), 17); /* existing nodes are still found */
  ck_assert_uint_eq(em(&c, IR_ADD, 0, 17, 0, 0), 17);
  ir_free(&c);
}
END_TEST

/* ==== passes ============================================================= */

/* A circuit with dead nodes: DCE keeps what reaches an output, in order. */
START_TEST(test_dce) {
  ir_circuit c;
  ir_init(&c, "t");
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.a", 0, 0, 10);
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.b", 0, 0, 10);
  port(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "o", 0, INT64_MIN, INT64_MAX);
  uint32_t a = em(&c, IR_INPUT, 0, 0, 0, 0);     /* 0 */
  uint32_t b = em(&c, IR_INPUT, 0, 0, 0, 1);     /* 1 dead */
  uint32_t k = cst(&c, 7);                       /* 2 */
  em(&c, IR_MUL, a, b, 0, 0);                    /* 3 dead */
  uint32_t s = em(&c, IR_ADD, a, k, 0, 0);       /* 4 */
  em(&c, IR_LT, s, b, 0, 0);                     /* 5 dead */
  uint32_t d = em(&c, IR_DIVC, s, 0, 0, 2);      /* 6 */
  em(&c, IR_OUTPUT, d, 0, 0, 0);                 /* 7 */
  em(&c, IR_SUB, d, b, 0, 0);                    /* 8 dead, after the output */
  ck_assert_uint_eq(c.nnodes, 9);
  ck_assert_ptr_nonnull(c.ht);
  ck_assert_int_eq(ir_finish(&c), CX_OK);
  ck_assert_ptr_null(c.ht);
  ck_assert_uint_eq(c.nnodes, 5);
  static const uint8_t ops[] = {IR_INPUT, IR_CONST, IR_ADD, IR_DIVC, IR_OUTPUT};
  for (int i = 0; i < 5; i++) ck_assert_uint_eq(c.nodes[i].op, ops[i]);
  ck_assert_uint_eq(c.nodes[2].a, 0);
  ck_assert_uint_eq(c.nodes[2].b, 1);
  ck_assert_uint_eq(c.nodes[3].a, 2);
  ck_assert_uint_eq(c.nodes[4].a, 3);
  range_is(&c, 3, 3, 8);
  int64_t in[2] = {5, 9}, out = 0;
  ck_assert_int_eq(ir_eval(&c, in, NULL, NULL, &out), CX_OK);
  ck_assert_int_eq(out, 6);
  /* finishing again changes nothing */
  size_t l1, l2;
  uint8_t *e1 = encode(&c, &l1);
  ck_assert_int_eq(ir_finish(&c), CX_OK);
  uint8_t *e2 = encode(&c, &l2);
  ck_assert_mem_eq(e1, e2, l1);
  ck_assert_uint_eq(l1, l2);
  free(e1);
  free(e2);
  ir_free(&c);

  /* no outputs at all: everything is dead */
  ir_init(&c, "t");
  cst(&c, 1);
  cst(&c, 2);
  ck_assert_int_eq(ir_finish(&c), CX_OK);
  ck_assert_uint_eq(c.nnodes, 0);
  ir_free(&c);
}
END_TEST

START_TEST(test_output_checks) {
  for (int variant = 0; variant < 3; variant++) {
    ir_circuit c;
    ir_init(&c, "t");
    port(&c, IR_PORT_INPUT, IR_T_INT, "d.a", 0, 0, 10);
    port(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "o", 2, INT64_MIN, INT64_MAX);
    port(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "z", 0, INT64_MIN, INT64_MAX);
    uint32_t a = em(&c, IR_INPUT, 0, 0, 0, 0);
    em(&c, IR_OUTPUT, a, 0, 0, 0);
    if (variant != 0) em(&c, IR_OUTPUT, a, 0, 0, 1);  /* variant 0: element 1 missing */
    em(&c, IR_OUTPUT, cst(&c, 3), 0, 0, 2);
    if (variant == 1) em(&c, IR_OUTPUT, a, 0, 0, 2);  /* element 2 twice */
    size_t n = c.nnodes;
    cx_err want = variant == 2 ? CX_OK : CX_E_LANG_NAME;
    ck_assert_int_eq(ir_finish(&c), want);
    if (want) ck_assert_uint_eq(c.nnodes, n); /* left as it was */
    ir_free(&c);
  }
}
END_TEST

/* ---- random expression DAGs -------------------------------------------- */

#define G_MAXSTEPS 200
#define G_NOUT 8

typedef struct {
  uint8_t op;
  uint32_t a, b, c; /* step indices */
  int64_t imm;
} step;

typedef struct {
  ir_circuit c0, c1;      /* built with fold = 0 and with fold = 1 */
  step st[G_MAXSTEPS];
  uint32_t i0[G_MAXSTEPS], i1[G_MAXSTEPS];
  size_t n;
  uint32_t out_step[G_NOUT];
} gen;

static void gen_ports(ir_circuit *c) {
  port(c, IR_PORT_INPUT, IR_T_INT, "d.age", 0, 0, 150);             /* input 0 */
  port(c, IR_PORT_INPUT, IR_T_BOOL, "d.flag", 0, 0, 1);             /* 1 */
  port(c, IR_PORT_INPUT, IR_T_INT, "d.arr", 3, -1000, 1000);        /* 2..4 */
  port(c, IR_PORT_INPUT, IR_T_INT, "e.full", 0, INT64_MIN, INT64_MAX); /* 5 */
  port(c, IR_PORT_INPUT, IR_T_INT, "e.big", 0, INT64_MAX - 10, INT64_MAX); /* 6 */
  port(c, IR_PORT_INPUT, IR_T_INT, "e.small", 0, INT64_MIN, INT64_MIN + 5); /* 7 */
  port(c, IR_PORT_PARAM, IR_T_INT, "p", 0, -50, 50);
  port(c, IR_PORT_PARAM, IR_T_BOOL, "q", 0, 0, 1);
  port(c, IR_PORT_ARG, IR_T_INT, "y", 0, 1900, 2200);
  port(c, IR_PORT_ARG, IR_T_INT, "z", 0, -3, 3);
  port(c, IR_PORT_OUT_PUBLIC, IR_T_INT, "o1", 0, INT64_MIN, INT64_MAX);
  port(c, IR_PORT_OUT_PUBLIC, IR_T_BOOL, "ok", 0, 0, 1);
  port(c, IR_PORT_OUT_PRIVATE, IR_T_INT, "band", G_NOUT - 2, INT64_MIN, INT64_MAX);
}

static const int64_t g_consts[] = {0, 1, -1, 2, 3, 7, 100, -100, INT64_MAX, INT64_MIN, 1 << 20};

/* A step among the last `recent` (or any, one time in four), re-drawn a
 * few times while it is a constant. */
static uint32_t gen_pick(const gen *g, uint64_t *st, uint32_t recent) {
  uint32_t n = (uint32_t)g->n, s = 0;
  for (int t = 0; t < 3; t++) {
    s = rng_next(st) % 4 ? n - 1 - (uint32_t)(rng_next(st) % (n < recent ? n : recent))
                         : (uint32_t)(rng_next(st) % n);
    if (g->c1.nodes[g->i1[s]].op != IR_CONST) break;
  }
  return s;
}

static int gen_overlap(const gen *g, uint32_t a, uint32_t b) {
  const ir_node *x = &g->c1.nodes[g->i1[a]], *y = &g->c1.nodes[g->i1[b]];
  return x->lo < y->hi && y->lo < x->hi;
}

/* Tries to add one step; 0 if the fold = 0 builder refused it (a range). */
static int gen_step(gen *g, uint64_t *st) {
  step s = {0};
  uint64_t r = rng_next(st) % 100;
  size_t n = g->n;
  if (n == 0 || r < 7) {
    s.op = IR_CONST;
    s.imm = rng_next(st) % 4 == 0 ? (int64_t)(rng_next(st) % 2001) - 1000
                                  : g_consts[rng_next(st) % (sizeof g_consts / sizeof g_consts[0])];
  } else if (r < 20) {
    uint64_t w = rng_next(st) % 12;
    if (w < 8) s.op = IR_INPUT, s.imm = (int64_t)w;
    else if (w < 10) s.op = IR_PARAM, s.imm = (int64_t)(w - 8);
    else s.op = IR_ARG, s.imm = (int64_t)(w - 10);
  } else if (r < 28 && n > 0) {
    /* repeat an earlier step, perhaps with its operands swapped (CSE) */
    s = g->st[rng_next(st) % n];
    if (rng_next(st) % 2 && s.op != IR_SELECT && s.op != IR_DIVC) {
      uint32_t t = s.a;
      s.a = s.b;
      s.b = t;
    }
  } else {
    s.op = (uint8_t)(IR_ADD + rng_next(st) % (IR_SELECT - IR_ADD + 1));
    /* operands biased toward recent steps and away from constants (which
     * fold whole cones away), sometimes equal */
    s.a = gen_pick(g, st, 8);
    s.b = rng_next(st) % 6 == 0 ? s.a : gen_pick(g, st, 4);
    s.c = rng_next(st) % 8 == 0 ? s.b : gen_pick(g, st, 16);
    if (s.op >= IR_LT && s.op <= IR_NE) {
      /* mostly compare overlapping ranges, which the builder cannot decide */
      for (int t = 0; t < 16 && !gen_overlap(g, s.a, s.b); t++) s.b = gen_pick(g, st, (uint32_t)n);
    }
    if (s.op == IR_DIVC) {
      static const int64_t d[] = {2, 3, 7, 10, 1000, INT64_MAX};
      s.imm = d[rng_next(st) % 6];
    }
    if (s.op == IR_SELECT) {
      /* the condition must be 0..1: pick one among the steps that are,
       * preferably not a constant */
      uint32_t cand[G_MAXSTEPS], nc = 0;
      for (int pass = 0; pass < 2 && !nc; pass++)
        for (uint32_t i = 0; i < n; i++) {
          const ir_node *x = &g->c0.nodes[g->i0[i]];
          int k = g->c1.nodes[g->i1[i]].op == IR_CONST;
          if (x->lo >= 0 && x->hi <= 1 && (pass || !k)) cand[nc++] = i;
        }
      if (!nc) return 0;
      s.a = cand[rng_next(st) % nc];
    }
  }
  cx_err e;
  uint32_t x0 = ir_emit(&g->c0, s.op, g->i0[s.a], g->i0[s.b], g->i0[s.c], s.imm, &e);
  if (x0 == IR_NONE) {
    ck_assert_int_eq(e, CX_E_LANG_RANGE);
    return 0;
  }
  /* With fold on, ranges are within those of fold off: never a refusal
   * that fold off did not make. */
  uint32_t x1 = ir_emit(&g->c1, s.op, g->i1[s.a], g->i1[s.b], g->i1[s.c], s.imm, &e);
  ck_assert_msg(x1 != IR_NONE, "fold=1 refused what fold=0 accepted (%d)", e);
  ck_assert_int_ge(g->c1.nodes[x1].lo, g->c0.nodes[x0].lo);
  ck_assert_int_le(g->c1.nodes[x1].hi, g->c0.nodes[x0].hi);
  g->st[n] = s;
  g->i0[n] = x0;
  g->i1[n] = x1;
  g->n++;
  return 1;
}

static void gen_build(gen *g, uint64_t seed) {
  uint64_t st = seed;
  memset(g, 0, sizeof *g);
  ir_init(&g->c0, "dag");
  ir_init(&g->c1, "dag");
  g->c0.fold = 0;
  gen_ports(&g->c0);
  gen_ports(&g->c1);
  size_t want = 3 + rng_next(&st) % (G_MAXSTEPS - 3);
  for (int tries = 0; g->n < want && tries < 3000; tries++) gen_step(g, &st);
  for (uint32_t o = 0; o < G_NOUT; o++) {
    uint32_t s = (uint32_t)(rng_next(&st) % 4 ? g->n - 1 - rng_next(&st) % (g->n < 6 ? g->n : 6)
                                              : rng_next(&st) % g->n);
    g->out_step[o] = s;
    em(&g->c0, IR_OUTPUT, g->i0[s], 0, 0, o);
    em(&g->c1, IR_OUTPUT, g->i1[s], 0, 0, o);
  }
}

typedef struct {
  int64_t in[8], param[2], arg[2];
} gen_inputs;

static void gen_values(const ir_circuit *c, uint64_t *st, gen_inputs *v) {
  for (size_t i = 0; i < c->nports; i++) {
    const ir_port *p = &c->ports[i];
    int64_t *dst = p->kind == IR_PORT_INPUT ? v->in : p->kind == IR_PORT_PARAM ? v->param
                 : p->kind == IR_PORT_ARG   ? v->arg : NULL;
    if (!dst) continue;
    for (uint32_t e = 0; e < ir_port_elems(p); e++) dst[p->first + e] = rng_in(st, p->lo, p->hi);
  }
}

/* The independent evaluation: the steps in 128 bits. Checks every value
 * against the static ranges of its nodes in both circuits. */
static void gen_eval(const gen *g, const gen_inputs *v, int64_t out[G_NOUT]) {
  i128 val[G_MAXSTEPS];
  for (size_t i = 0; i < g->n; i++) {
    const step *s = &g->st[i];
    int ops = s->op >= IR_ADD;
    i128 a = ops ? val[s->a] : 0, b = ops ? val[s->b] : 0, x = 0;
    switch (s->op) {
      case IR_CONST: x = s->imm; break;
      case IR_INPUT: x = v->in[s->imm]; break;
      case IR_PARAM: x = v->param[s->imm]; break;
      case IR_ARG: x = v->arg[s->imm]; break;
      case IR_ADD: x = a + b; break;
      case IR_SUB: x = a - b; break;
      case IR_MUL: x = a * b; break;
      case IR_DIVC: x = floordiv(a, s->imm); break;
      case IR_LT: x = a < b; break;
      case IR_LE: x = a <= b; break;
      case IR_EQ: x = a == b; break;
      case IR_NE: x = a != b; break;
      case IR_SELECT: x = a ? b : val[s->c]; break;
      default: ck_abort();
    }
    val[i] = x;
    const ir_node *n0 = &g->c0.nodes[g->i0[i]], *n1 = &g->c1.nodes[g->i1[i]];
    ck_assert_msg(x >= n0->lo && x <= n0->hi, "step %zu outside its fold=0 range", i);
    ck_assert_msg(x >= n1->lo && x <= n1->hi, "step %zu outside its fold=1 range", i);
  }
  for (int o = 0; o < G_NOUT; o++) out[o] = (int64_t)val[g->out_step[o]];
}

static void expect_eval(const ir_circuit *c, const gen_inputs *v, const int64_t want[G_NOUT], uint64_t seed) {
  int64_t got[G_NOUT];
  memset(got, 0x5a, sizeof got);
  ck_assert_int_eq(ir_eval(c, v->in, v->param, v->arg, got), CX_OK);
  for (int o = 0; o < G_NOUT; o++)
    ck_assert_msg(got[o] == want[o], "seed %llu output %d: %lld != %lld", (unsigned long long)seed, o,
                  (long long)got[o], (long long)want[o]);
}

/* fold = 0 then ir_finish gives the same bytes as fold = 1 then ir_finish;
 * the result decodes, re-encodes identically, is a fixed point of
 * ir_finish, and evaluates as the steps do. */
START_TEST(test_random_dags) {
  uint64_t base = tu_seed();
  size_t total_nodes = 0, total_raw = 0;
  for (uint64_t it = 0; it < 400; it++) {
    uint64_t seed = base + it * 0x1000193ull, st = seed ^ 0xabcdef;
    gen *g = malloc(sizeof *g);
    ck_assert_ptr_nonnull(g);
    gen_build(g, seed);
    total_raw += g->c0.nnodes;
    gen_inputs v[4];
    int64_t want[4][G_NOUT];
    for (int k = 0; k < 4; k++) {
      gen_values(&g->c0, &st, &v[k]);
      gen_eval(g, &v[k], want[k]);
      expect_eval(&g->c0, &v[k], want[k], seed); /* the raw circuit evaluates too */
      expect_eval(&g->c1, &v[k], want[k], seed);
    }
    ck_assert_int_eq(ir_finish(&g->c0), CX_OK);
    ck_assert_int_eq(ir_finish(&g->c1), CX_OK);
    size_t l0, l1, l2, l3;
    uint8_t *b0 = encode(&g->c0, &l0), *b1 = encode(&g->c1, &l1);
    ck_assert_msg(l0 == l1 && memcmp(b0, b1, l0) == 0, "seed %llu: fold=0 and fold=1 encodings differ",
                  (unsigned long long)seed);
    total_nodes += g->c1.nnodes;
    ck_assert_int_eq(ir_finish(&g->c1), CX_OK);
    uint8_t *b2 = encode(&g->c1, &l2);
    ck_assert_msg(l2 == l1 && memcmp(b2, b1, l1) == 0, "seed %llu: ir_finish is not idempotent",
                  (unsigned long long)seed);
    ir_circuit d;
    char err[200] = "";
    ck_assert_msg(ir_decode(b1, l1, &d, err, sizeof err) == CX_OK, "seed %llu: %s", (unsigned long long)seed,
                  err);
    ck_assert_ptr_null(d.ht);
    uint8_t *b3 = encode(&d, &l3);
    ck_assert(l3 == l1 && memcmp(b3, b1, l1) == 0);
    /* decoded ranges and secrecy are the builder's */
    ck_assert_uint_eq(d.nnodes, g->c1.nnodes);
    for (size_t i = 0; i < d.nnodes; i++) {
      ck_assert_int_eq(d.nodes[i].lo, g->c1.nodes[i].lo);
      ck_assert_int_eq(d.nodes[i].hi, g->c1.nodes[i].hi);
      ck_assert_uint_eq(d.nodes[i].secret, g->c1.nodes[i].secret);
    }
    for (int k = 0; k < 4; k++) {
      expect_eval(&g->c0, &v[k], want[k], seed);
      expect_eval(&d, &v[k], want[k], seed);
    }
    free(b0);
    free(b1);
    free(b2);
    free(b3);
    ir_free(&d);
    ir_free(&g->c0);
    ir_free(&g->c1);
    free(g);
  }
  /* the generator exercises the passes: they remove a good part of it */
  ck_assert_uint_lt(total_nodes, total_raw * 9 / 10);
}
END_TEST

/* ir_eval against direct computation at the int64 edges. */
START_TEST(test_eval_edges) {
  ir_circuit c;
  ir_init(&c, "t");
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.full", 0, INT64_MIN, INT64_MAX);
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.full2", 0, INT64_MIN, INT64_MAX);
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.half", 0, INT64_MIN / 2, INT64_MAX / 2);
  port(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "o", 8, INT64_MIN, INT64_MAX);
  uint32_t f = em(&c, IR_INPUT, 0, 0, 0, 0), g = em(&c, IR_INPUT, 0, 0, 0, 1);
  uint32_t h = em(&c, IR_INPUT, 0, 0, 0, 2);
  uint32_t o[8];
  o[0] = em(&c, IR_DIVC, f, 0, 0, 2);
  o[1] = em(&c, IR_DIVC, f, 0, 0, INT64_MAX);
  o[2] = em(&c, IR_LT, f, g, 0, 0);
  o[3] = em(&c, IR_EQ, f, g, 0, 0);
  o[4] = em(&c, IR_SELECT, o[2], f, g, 0);
  o[5] = em(&c, IR_ADD, h, h, 0, 0);
  o[6] = em(&c, IR_SUB, h, em(&c, IR_DIVC, f, 0, 0, 2), 0, 0);
  uint32_t f32 = em(&c, IR_DIVC, f, 0, 0, (int64_t)1 << 32), g33 = em(&c, IR_DIVC, g, 0, 0, (int64_t)1 << 33);
  o[7] = em(&c, IR_MUL, f32, g33, 0, 0);
  for (int i = 0; i < 8; i++) em(&c, IR_OUTPUT, o[i], 0, 0, i);
  ck_assert_int_eq(ir_finish(&c), CX_OK);
  uint64_t st = tu_seed();
  static const int64_t edge[] = {INT64_MIN, INT64_MIN + 1, -1, 0, 1, INT64_MAX - 1, INT64_MAX};
  for (int it = 0; it < 2000; it++) {
    int64_t in[3];
    in[0] = it < 49 ? edge[it % 7] : rng_in(&st, INT64_MIN, INT64_MAX);
    in[1] = it < 49 ? edge[it / 7] : rng_in(&st, INT64_MIN, INT64_MAX);
    in[2] = rng_in(&st, INT64_MIN / 2, INT64_MAX / 2);
    int64_t out[8];
    ck_assert_int_eq(ir_eval(&c, in, NULL, NULL, out), CX_OK);
    i128 a = in[0], b = in[1], x = in[2];
    i128 w[8] = {floordiv(a, 2), floordiv(a, INT64_MAX), a < b, a == b, a < b ? a : b, x + x,
                 x - floordiv(a, 2), floordiv(a, (i128)1 << 32) * floordiv(b, (i128)1 << 33)};
    for (int i = 0; i < 8; i++)
      ck_assert_msg((i128)out[i] == w[i], "output %d at %lld, %lld", i, (long long)in[0], (long long)in[1]);
  }
  ir_free(&c);
}
END_TEST

/* ==== bytecode =========================================================== */

/* The circuit of the golden encoding:
 *   contract t; input d.x : int(0..150); arg y : int(-3..3);
 *   output public o : bool;  o = d.x < y */
static void golden_circuit(ir_circuit *c) {
  ir_init(c, "t");
  port(c, IR_PORT_INPUT, IR_T_INT, "d.x", 0, 0, 150);
  port(c, IR_PORT_ARG, IR_T_INT, "y", 0, -3, 3);
  port(c, IR_PORT_OUT_PUBLIC, IR_T_BOOL, "o", 0, 0, 1);
  uint32_t x = em(c, IR_INPUT, 0, 0, 0, 0), y = em(c, IR_ARG, 0, 0, 0, 0);
  em(c, IR_OUTPUT, em(c, IR_LT, x, y, 0, 0), 0, 0, 0);
  ck_assert_int_eq(ir_finish(c), CX_OK);
}

/* Written by hand from docs/contract-language.md §6 and the table in ir.h. */
static const uint8_t GOLDEN[] = {
    'C', 'X', 'C', '1', 1, 't',                           /* magic, name */
    3,                                                    /* nports */
    1, 1, 3, 'd', '.', 'x', 0, 0x00, 0xac, 0x02,          /* input int d.x scalar, zz(0), zz(150) = 300 */
    3, 1, 1, 'y', 0, 5, 6,                                /* arg int y, zz(-3) = 5, zz(3) = 6 */
    4, 2, 1, 'o', 0, 0, 2,                                /* output public bool o, 0..1 */
    4,                                                    /* nnodes */
    IR_INPUT, 0,                                          /* 0: input element 0 */
    IR_ARG, 0,                                            /* 1: arg element 0 */
    IR_LT, 2, 1,                                          /* 2: node 0 < node 1 */
    IR_OUTPUT, 1, 0,                                      /* 3: output element 0 := node 2 */
};

START_TEST(test_golden_encoding) {
  ir_circuit c;
  golden_circuit(&c);
  size_t len;
  uint8_t *b = encode(&c, &len);
  ck_assert_uint_eq(len, sizeof GOLDEN);
  ck_assert_mem_eq(b, GOLDEN, sizeof GOLDEN);
  ir_circuit d;
  char err[128];
  ck_assert_int_eq(ir_decode(b, len, &d, err, sizeof err), CX_OK);
  ck_assert_str_eq(d.name, "t");
  ck_assert_uint_eq(d.nports, 3);
  ck_assert_str_eq(d.ports[0].name, "d.x");
  ck_assert_int_eq(d.ports[1].lo, -3);
  ck_assert_uint_eq(d.n_output, 1);
  ck_assert_uint_eq(d.nnodes, 4);
  range_is(&d, 0, 0, 150);
  ck_assert(d.nodes[2].secret);
  ck_assert(!d.nodes[1].secret);
  ir_free(&d);
  free(b);
  ir_free(&c);
}
END_TEST

/* A circuit with every op, array ports, negative constants and long
 * distances round-trips. */
START_TEST(test_roundtrip_all_ops) {
  ir_circuit c;
  ir_init(&c, "every_op_2");
  port(&c, IR_PORT_INPUT, IR_T_INT, "bureau_1.wages", 12, -1000000, 1000000);
  port(&c, IR_PORT_INPUT, IR_T_BOOL, "bureau_2.flag", 0, 0, 1);
  port(&c, IR_PORT_PARAM, IR_T_INT, "limit", 0, INT64_MIN / 4, INT64_MAX / 4);
  port(&c, IR_PORT_ARG, IR_T_INT, "year", 0, 1900, 2200);
  port(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "total", 0, INT64_MIN, INT64_MAX);
  port(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "each", 12, INT64_MIN, INT64_MAX);
  uint32_t sum = cst(&c, 0), lim = em(&c, IR_PARAM, 0, 0, 0, 0), yr = em(&c, IR_ARG, 0, 0, 0, 0);
  uint32_t flag = em(&c, IR_INPUT, 0, 0, 0, 12);
  for (int i = 0; i < 12; i++) {
    uint32_t w = em(&c, IR_INPUT, 0, 0, 0, i);
    uint32_t t = em(&c, IR_MUL, w, cst(&c, -7 - i), 0, 0);
    t = em(&c, IR_SELECT, em(&c, IR_LE, t, lim, 0, 0), t, em(&c, IR_DIVC, t, 0, 0, 3 + i), 0);
    t = em(&c, IR_SELECT, flag, t, em(&c, IR_SUB, yr, w, 0, 0), 0);
    em(&c, IR_OUTPUT, em(&c, IR_ADD, t, em(&c, IR_EQ, w, cst(&c, i), 0, 0), 0, 0), 0, 0, 1 + i);
    sum = em(&c, IR_ADD, sum, em(&c, IR_NE, w, lim, 0, 0), 0, 0);
    sum = em(&c, IR_ADD, sum, em(&c, IR_LT, w, yr, 0, 0), 0, 0);
  }
  em(&c, IR_OUTPUT, sum, 0, 0, 0);
  ck_assert_int_eq(ir_finish(&c), CX_OK);
  size_t l1, l2;
  uint8_t *b1 = encode(&c, &l1);
  ir_circuit d;
  char err[128] = "";
  ck_assert_msg(ir_decode(b1, l1, &d, err, sizeof err) == CX_OK, "%s", err);
  uint8_t *b2 = encode(&d, &l2);
  ck_assert_uint_eq(l1, l2);
  ck_assert_mem_eq(b1, b2, l1);
  ck_assert_uint_eq(d.nnodes, c.nnodes);
  ck_assert_mem_eq(d.ports, c.ports, c.nports * sizeof *c.ports);
  /* every prefix is refused, without a crash */
  for (size_t n = 0; n < l1; n++) {
    ir_circuit e;
    ck_assert_int_ne(ir_decode(b1, n, &e, err, sizeof err), CX_OK);
    ck_assert_ptr_null(e.nodes);
  }
  free(b1);
  free(b2);
  ir_free(&d);
  ir_free(&c);
}
END_TEST

/* ---- decoder refusals: bytes written by hand ----------------------------- */

static void put_zz(cx_enc *e, int64_t v) { enc_varint(e, ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63))); }

static void put_port(cx_enc *e, uint8_t kind, uint8_t base, const char *name, uint64_t len, int64_t lo,
                     int64_t hi) {
  enc_u8(e, kind);
  enc_u8(e, base);
  enc_str(e, name);
  enc_varint(e, len);
  put_zz(e, lo);
  put_zz(e, hi);
}

/* magic, name "t" and the standard ports: input d.x int(0..150) (element
 * 0), input d.b bool (1), arg y int(-3..3), output public o int[2]. */
static void put_head(cx_enc *e) {
  enc_init(e);
  enc_fixed(e, "CXC1", 4);
  enc_str(e, "t");
  enc_varint(e, 4);
  put_port(e, IR_PORT_INPUT, IR_T_INT, "d.x", 0, 0, 150);
  put_port(e, IR_PORT_INPUT, IR_T_BOOL, "d.b", 0, 0, 1);
  put_port(e, IR_PORT_ARG, IR_T_INT, "y", 0, -3, 3);
  put_port(e, IR_PORT_OUT_PUBLIC, IR_T_INT, "o", 2, INT64_MIN, INT64_MAX);
}

static void put_node(cx_enc *e, uint8_t op, int nd, uint64_t d0, uint64_t d1, uint64_t d2) {
  enc_u8(e, op);
  uint64_t d[3] = {d0, d1, d2};
  for (int i = 0; i < nd; i++) enc_varint(e, d[i]);
}

/* Decodes e's bytes and expects a refusal with code and exactly msg. */
static void refused(cx_enc *e, cx_err code, const char *msg) {
  size_t len;
  ck_assert_int_eq(enc_finish(e), CX_OK);
  uint8_t *b = enc_take(e, &len);
  ir_circuit c;
  char err[256] = "";
  cx_err r = ir_decode(b, len, &c, err, sizeof err);
  ck_assert_msg(r == code, "got %s (%s), want %s", cx_err_name(r), err, cx_err_name(code));
  ck_assert_str_eq(err, msg);
  ck_assert_ptr_null(c.nodes);
  ck_assert_ptr_null(c.ports);
  ck_assert_uint_eq(c.nnodes, 0);
  free(b);
}

/* The nodes of a valid body: o[0] = d.x < y, o[1] = d.b. */
static void put_valid_body(cx_enc *e) {
  enc_varint(e, 6);
  put_node(e, IR_INPUT, 0, 0, 0, 0), enc_varint(e, 0);  /* 0 */
  put_node(e, IR_ARG, 0, 0, 0, 0), enc_varint(e, 0);    /* 1 */
  put_node(e, IR_LT, 2, 2, 1, 0);                       /* 2 */
  put_node(e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(e, 0); /* 3 */
  put_node(e, IR_INPUT, 0, 0, 0, 0), enc_varint(e, 1);  /* 4 */
  put_node(e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(e, 1); /* 5 */
}

START_TEST(test_decode_valid_by_hand) {
  cx_enc e;
  put_head(&e);
  put_valid_body(&e);
  size_t len;
  uint8_t *b = enc_take(&e, &len);
  ir_circuit c;
  char err[256] = "x";
  ck_assert_int_eq(ir_decode(b, len, &c, err, sizeof err), CX_OK);
  ck_assert_str_eq(err, "");
  ck_assert_uint_eq(c.nnodes, 6);
  ck_assert_uint_eq(c.n_input, 2);
  int64_t in[2] = {2, 1}, arg = 3, out[2];
  ck_assert_int_eq(ir_eval(&c, in, NULL, &arg, out), CX_OK);
  ck_assert_int_eq(out[0], 1);
  ck_assert_int_eq(out[1], 1);
  ir_free(&c);
  free(b);
}
END_TEST

START_TEST(test_refuse_magic) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, "CXC2", 4);
  enc_str(&e, "t");
  enc_varint(&e, 0);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "wrong magic (not CXC1 bytecode)");
  enc_init(&e);
  enc_fixed(&e, "CX", 2);
  refused(&e, CX_E_LANG_BYTECODE, "wrong magic (not CXC1 bytecode)");
}
END_TEST

START_TEST(test_refuse_nonminimal_varint) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_fixed(&e, "\x80\x00", 2); /* port count 0, in two bytes */
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "port count: non-minimal varint at byte 6");
  /* an operand distance */
  put_head(&e);
  enc_varint(&e, 2);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  enc_u8(&e, IR_OUTPUT);
  enc_fixed(&e, "\x81\x00", 2);
  enc_varint(&e, 0);
  size_t at = e.len - 3;
  char msg[80];
  snprintf(msg, sizeof msg, "node 1: non-minimal varint at byte %zu", at);
  refused(&e, CX_E_LANG_BYTECODE, msg);
}
END_TEST

START_TEST(test_refuse_kind) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 1);
  put_port(&e, 6, IR_T_INT, "x", 0, 0, 1);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "port 0: unknown kind 6");
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 1);
  put_port(&e, 0, IR_T_INT, "x", 0, 0, 1);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "port 0: unknown kind 0");
}
END_TEST

START_TEST(test_refuse_base) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 1);
  put_port(&e, IR_PORT_ARG, 3, "x", 0, 0, 1);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "port 0: unknown base 3");
}
END_TEST

START_TEST(test_refuse_op) {
  cx_enc e;
  put_head(&e);
  enc_varint(&e, 1);
  enc_u8(&e, IR_OP_COUNT);
  enc_u8(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "node 0: unknown op 15");
  put_head(&e);
  enc_varint(&e, 1);
  enc_u8(&e, 0);
  enc_u8(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "node 0: unknown op 0");
}
END_TEST

START_TEST(test_refuse_distance_zero) {
  cx_enc e;
  put_head(&e);
  enc_varint(&e, 3);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_ARG, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_ADD, 2, 2, 0, 0);
  refused(&e, CX_E_LANG_BYTECODE, "node 2: operand at distance 0");
}
END_TEST

START_TEST(test_refuse_before_first) {
  cx_enc e;
  put_head(&e);
  enc_varint(&e, 2);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "node 1: operand before the first node");
  put_head(&e);
  enc_varint(&e, 1);
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "node 0: operand before the first node");
}
END_TEST

START_TEST(test_refuse_operand_output) {
  cx_enc e;
  put_head(&e);
  enc_varint(&e, 3);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 2: operand is the output node 1");
}
END_TEST

START_TEST(test_refuse_lo_gt_hi) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 1);
  put_port(&e, IR_PORT_ARG, IR_T_INT, "x", 0, 1, 0);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "port 0: lo > hi");
}
END_TEST

START_TEST(test_refuse_bool_range) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 1);
  put_port(&e, IR_PORT_ARG, IR_T_BOOL, "x", 0, 0, 2);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "port 0: bool range is not 0..1");
}
END_TEST

START_TEST(test_refuse_unused) {
  cx_enc e;
  put_head(&e);
  enc_varint(&e, 7);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);  /* 0 */
  put_node(&e, IR_ARG, 0, 0, 0, 0), enc_varint(&e, 0);    /* 1 */
  put_node(&e, IR_LT, 2, 2, 1, 0);                        /* 2 */
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0); /* 3 */
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 1);  /* 4 */
  put_node(&e, IR_SUB, 2, 1, 5, 0);                       /* 5: d.b - d.x, unused */
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 1); /* 6 */
  refused(&e, CX_E_LANG_BYTECODE, "node 5 is never used by an output");
}
END_TEST

START_TEST(test_refuse_duplicate) {
  cx_enc e;
  put_head(&e);
  enc_varint(&e, 5);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);  /* 0 */
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 1);  /* 1 */
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);  /* 2: duplicate of 0 */
  put_node(&e, IR_OUTPUT, 1, 3, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 2: duplicate of node 0");
  /* a duplicate operation */
  put_head(&e);
  enc_varint(&e, 6);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);  /* 0 */
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 1);  /* 1 */
  put_node(&e, IR_ADD, 2, 2, 1, 0);                       /* 2 */
  put_node(&e, IR_ADD, 2, 3, 2, 0);                       /* 3: the same */
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 3: duplicate of node 2");
}
END_TEST

/* Foldable: arithmetic on constants, a simplification, a comparison the
 * ranges decide. */
START_TEST(test_refuse_foldable) {
  cx_enc e;
  put_head(&e);
  enc_varint(&e, 5);
  put_node(&e, IR_CONST, 0, 0, 0, 0), put_zz(&e, 3);
  put_node(&e, IR_CONST, 0, 0, 0, 0), put_zz(&e, 4);
  put_node(&e, IR_ADD, 2, 2, 1, 0);
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 2: foldable node");

  put_head(&e);
  enc_varint(&e, 5);
  put_node(&e, IR_CONST, 0, 0, 0, 0), put_zz(&e, 0);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_ADD, 2, 2, 1, 0); /* 0 + d.x */
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 2: foldable node");

  put_head(&e);
  enc_varint(&e, 5);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_CONST, 0, 0, 0, 0), put_zz(&e, 200);
  put_node(&e, IR_LT, 2, 2, 1, 0); /* d.x (0..150) < 200 */
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 2: foldable node");

  put_head(&e);
  enc_varint(&e, 4);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_SELECT, 3, 1, 1, 1); /* SELECT with a 0..150 condition is refused first */
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 1: select condition may be outside 0..1");

  put_head(&e);
  enc_varint(&e, 5);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 1);
  put_node(&e, IR_SELECT, 3, 1, 2, 2); /* d.b ? d.x : d.x */
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 2: foldable node");
}
END_TEST

START_TEST(test_refuse_trailing) {
  cx_enc e;
  put_head(&e);
  put_valid_body(&e);
  enc_u8(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "trailing bytes after node list");
}
END_TEST

START_TEST(test_refuse_kind_order) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 2);
  put_port(&e, IR_PORT_ARG, IR_T_INT, "y", 0, 0, 1);
  put_port(&e, IR_PORT_INPUT, IR_T_INT, "d.x", 0, 0, 1);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "port 1: kind 1 after kind 3 (ports not in kind order)");
}
END_TEST

START_TEST(test_refuse_names) {
  static const struct {
    uint8_t kind;
    const char *name, *msg;
  } bad[] = {
      {IR_PORT_INPUT, "x", "port 0: input name is not domain.field (identifiers, at most 32 bytes each)"},
      {IR_PORT_INPUT, "d.", "port 0: input name is not domain.field (identifiers, at most 32 bytes each)"},
      {IR_PORT_INPUT, ".x", "port 0: input name is not domain.field (identifiers, at most 32 bytes each)"},
      {IR_PORT_INPUT, "d.x.y", "port 0: input name is not domain.field (identifiers, at most 32 bytes each)"},
      {IR_PORT_INPUT, "D.x", "port 0: input name is not domain.field (identifiers, at most 32 bytes each)"},
      {IR_PORT_INPUT, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x",
       "port 0: input name is not domain.field (identifiers, at most 32 bytes each)"},
      {IR_PORT_PARAM, "d.x", "port 0: name is not an identifier of at most 32 bytes"},
      {IR_PORT_PARAM, "1x", "port 0: name is not an identifier of at most 32 bytes"},
      {IR_PORT_ARG, "_x", "port 0: name is not an identifier of at most 32 bytes"},
      {IR_PORT_ARG, "a-b", "port 0: name is not an identifier of at most 32 bytes"},
      {IR_PORT_ARG, "", "port 0: name is not an identifier of at most 32 bytes"},
      {IR_PORT_OUT_PUBLIC, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "port 0: name is not an identifier of at most 32 bytes"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cx_enc e;
    enc_init(&e);
    enc_fixed(&e, "CXC1", 4);
    enc_str(&e, "t");
    enc_varint(&e, 1);
    put_port(&e, bad[i].kind, IR_T_INT, bad[i].name, 0, 0, 1);
    enc_varint(&e, 0);
    refused(&e, CX_E_LANG_BYTECODE, bad[i].msg);
  }
  /* a name with a NUL inside */
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 1);
  enc_u8(&e, IR_PORT_ARG);
  enc_u8(&e, IR_T_INT);
  enc_bytes(&e, "a\0b", 3);
  enc_fixed(&e, "\0\0\2", 3);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "port 0: name is not an identifier of at most 32 bytes");
  /* too long for any name */
  char longname[IR_NAME_MAX + 2];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 1);
  put_port(&e, IR_PORT_ARG, IR_T_INT, longname, 0, 0, 1);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "port 0: string too long at byte 9");
  /* duplicate names */
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 2);
  put_port(&e, IR_PORT_ARG, IR_T_INT, "y", 0, 0, 1);
  put_port(&e, IR_PORT_OUT_PUBLIC, IR_T_INT, "y", 0, 0, 1);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "port 1: duplicate name 'y' (port 0)");
  /* the contract name */
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "Bad");
  enc_varint(&e, 0);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "contract name is not an identifier of at most 32 bytes");
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  enc_varint(&e, 0);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "contract name is not an identifier of at most 32 bytes");
}
END_TEST

START_TEST(test_refuse_commutative_order) {
  cx_enc e;
  put_head(&e);
  enc_varint(&e, 5);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 1);
  put_node(&e, IR_MUL, 2, 1, 2, 0); /* a = node 1, b = node 0 */
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 2: operands of a commutative op not in canonical order");
}
END_TEST

START_TEST(test_refuse_immediates) {
  cx_enc e;
  put_head(&e);
  enc_varint(&e, 1);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 2);
  refused(&e, CX_E_LANG_BYTECODE, "node 0: input element 2 out of range (2 input elements)");
  put_head(&e);
  enc_varint(&e, 1);
  put_node(&e, IR_PARAM, 0, 0, 0, 0), enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "node 0: param element 0 out of range (0 param elements)");
  put_head(&e);
  enc_varint(&e, 2);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_DIVC, 1, 1, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 1: divisor 1 below 2");
  put_head(&e);
  enc_varint(&e, 2);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_DIVC, 1, 1, 0, 0), enc_varint(&e, (uint64_t)INT64_MAX + 1);
  refused(&e, CX_E_LANG_BYTECODE, "node 1: divisor over int64");
  put_head(&e);
  enc_varint(&e, 2);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 2);
  refused(&e, CX_E_LANG_BYTECODE, "node 1: output element 2 out of range (2 output elements)");
}
END_TEST

START_TEST(test_refuse_outputs) {
  cx_enc e;
  put_head(&e);
  enc_varint(&e, 2);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 1);
  refused(&e, CX_E_LANG_BYTECODE, "output element 0 is never assigned");
  put_head(&e);
  enc_varint(&e, 4);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_OUTPUT, 1, 2, 0, 0), enc_varint(&e, 1);
  put_node(&e, IR_OUTPUT, 1, 3, 0, 0), enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "node 3: output element 0 is assigned twice");
}
END_TEST

START_TEST(test_refuse_range) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 2);
  put_port(&e, IR_PORT_INPUT, IR_T_INT, "d.x", 0, 0, INT64_MAX);
  put_port(&e, IR_PORT_OUT_PUBLIC, IR_T_INT, "o", 0, INT64_MIN, INT64_MAX);
  enc_varint(&e, 3);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_ADD, 2, 1, 1, 0);
  put_node(&e, IR_OUTPUT, 1, 1, 0, 0), enc_varint(&e, 0);
  refused(&e, CX_E_LANG_RANGE, "node 1: value may overflow int64");
}
END_TEST

START_TEST(test_refuse_limits) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, IR_MAX_PORTS + 1);
  for (int i = 0; i < 300; i++) enc_fixed(&e, "\0\0\0\0\0\0", 6);
  refused(&e, CX_E_LANG_LIMIT, "257 ports over the limit of 256");
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 100);
  refused(&e, CX_E_LANG_BYTECODE, "port count 100 exceeds the remaining bytes");
  enc_init(&e);
  enc_fixed(&e, "CXC1", 4);
  enc_str(&e, "t");
  enc_varint(&e, 1);
  put_port(&e, IR_PORT_ARG, IR_T_INT, "x", IR_MAX_ARRAY + 1, 0, 1);
  enc_varint(&e, 0);
  refused(&e, CX_E_LANG_LIMIT, "port 0: array length 4097 over the limit of 4096");
  put_head(&e);
  enc_varint(&e, IR_MAX_NODES + 1);
  refused(&e, CX_E_LANG_LIMIT, "200001 nodes over the limit of 200000");
  put_head(&e);
  enc_varint(&e, 1000);
  for (int i = 0; i < 100; i++) put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  refused(&e, CX_E_LANG_BYTECODE, "node count 1000 exceeds the remaining bytes");
  put_head(&e);
  enc_varint(&e, 2);
  put_node(&e, IR_INPUT, 0, 0, 0, 0), enc_varint(&e, 0);
  put_node(&e, IR_ADD, 1, 1, 0, 0); /* the second operand is missing */
  char msg[64];
  snprintf(msg, sizeof msg, "node 1: truncated at byte %zu", e.len);
  refused(&e, CX_E_LANG_BYTECODE, msg);
}
END_TEST

/* ==== depth, stats, flows ================================================= */

START_TEST(test_depth_stats_flows) {
  ir_circuit c;
  ir_init(&c, "t");
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.a", 0, 0, 100);  /* port 0 */
  port(&c, IR_PORT_INPUT, IR_T_INT, "d.b", 0, 0, 100);  /* 1 */
  port(&c, IR_PORT_INPUT, IR_T_BOOL, "e.c", 0, 0, 1);   /* 2 */
  port(&c, IR_PORT_PARAM, IR_T_INT, "p", 0, 0, 10);     /* 3 */
  port(&c, IR_PORT_PARAM, IR_T_INT, "unused", 0, 0, 10); /* 4 */
  port(&c, IR_PORT_ARG, IR_T_INT, "y", 0, 0, 5);        /* 5 */
  port(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "o1", 0, INT64_MIN, INT64_MAX); /* 6 */
  port(&c, IR_PORT_OUT_PRIVATE, IR_T_BOOL, "o2", 0, 0, 1);              /* 7 */
  port(&c, IR_PORT_OUT_PRIVATE, IR_T_INT, "o3", 0, INT64_MIN, INT64_MAX); /* 8 */
  uint32_t a = em(&c, IR_INPUT, 0, 0, 0, 0), b = em(&c, IR_INPUT, 0, 0, 0, 1);
  uint32_t cc = em(&c, IR_INPUT, 0, 0, 0, 2);
  uint32_t p = em(&c, IR_PARAM, 0, 0, 0, 0), y = em(&c, IR_ARG, 0, 0, 0, 0);
  uint32_t m1 = em(&c, IR_MUL, a, b, 0, 0);        /* secret * secret: depth 1 */
  uint32_t m2 = em(&c, IR_MUL, a, y, 0, 0);        /* secret * public: local, 0 */
  uint32_t m3 = em(&c, IR_MUL, m1, p, 0, 0);       /* 2 */
  uint32_t lt = em(&c, IR_LT, m2, p, 0, 0);        /* 1 */
  uint32_t s = em(&c, IR_SELECT, lt, m3, y, 0);    /* secret condition, a secret branch: 3 */
  uint32_t s2 = em(&c, IR_SELECT, cc, y, cst(&c, 3), 0); /* public branches: local, 0 */
  uint32_t d = em(&c, IR_DIVC, s, 0, 0, 3);        /* 4 */
  uint32_t eq = em(&c, IR_EQ, y, cst(&c, 2), 0, 0); /* public: 0 */
  uint32_t ne = em(&c, IR_NE, a, b, 0, 0);         /* 1 */
  uint32_t le = em(&c, IR_LE, m2, d, 0, 0);        /* 5 */
  uint32_t o1 = em(&c, IR_ADD, d, s2, 0, 0);       /* 4 */
  uint32_t o3 = em(&c, IR_ADD, eq, ne, 0, 0);      /* 1 */
  uint32_t dp = em(&c, IR_DIVC, y, 0, 0, 2);       /* public division: 0 */
  uint32_t o3b = em(&c, IR_MUL, o3, dp, 0, 0);     /* 1 */
  em(&c, IR_OUTPUT, o1, 0, 0, 0);
  em(&c, IR_OUTPUT, le, 0, 0, 1);
  em(&c, IR_OUTPUT, o3b, 0, 0, 2);
  size_t n = c.nnodes;
  ck_assert_int_eq(ir_finish(&c), CX_OK);
  ck_assert_uint_eq(c.nnodes, n); /* all live, nothing folded: indices unchanged */
  uint32_t *depth = malloc(c.nnodes * sizeof *depth);
  ck_assert_uint_eq(ir_depth(&c, depth), 5);
  const uint32_t want[][2] = {{a, 0}, {y, 0}, {m1, 1}, {m2, 0}, {m3, 2}, {lt, 1}, {s, 3}, {s2, 0}, {d, 4},
                              {eq, 0}, {ne, 1}, {le, 5}, {o1, 4}, {o3, 1}, {dp, 0}, {o3b, 1}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    ck_assert_msg(depth[want[i][0]] == want[i][1], "node %u: depth %u, want %u", want[i][0],
                  depth[want[i][0]], want[i][1]);
  ck_assert_uint_eq(depth[c.nnodes - 3], 4); /* an OUTPUT has its operand's depth */
  free(depth);
  ir_stats st;
  ir_stats_get(&c, &st);
  ck_assert_uint_eq(st.nodes, c.nnodes);
  ck_assert_uint_eq(st.mul, 3); /* m1, m3, s */
  ck_assert_uint_eq(st.lt, 1);
  ck_assert_uint_eq(st.le, 1);
  ck_assert_uint_eq(st.eq, 0);
  ck_assert_uint_eq(st.ne, 1);
  ck_assert_uint_eq(st.divc, 1);
  ck_assert_uint_eq(st.layers, 5);
  uint64_t mask[IR_MAX_PORTS / 64];
  ir_flows(&c, 6, mask);
  ck_assert_uint_eq(mask[0], 0xf); /* a, b, c, p */
  ck_assert_uint_eq(mask[1] | mask[2] | mask[3], 0);
  ir_flows(&c, 7, mask);
  ck_assert_uint_eq(mask[0], 0xb); /* a, b, p */
  ir_flows(&c, 8, mask);
  ck_assert_uint_eq(mask[0], 0x3); /* a, b */
  ir_free(&c);
}
END_TEST

/* Flows over many ports: bits past the first word. */
START_TEST(test_flows_wide) {
  ir_circuit c;
  ir_init(&c, "t");
  char nm[24];
  for (int i = 0; i < 200; i++) {
    snprintf(nm, sizeof nm, "d%d.x", i);
    port(&c, IR_PORT_INPUT, IR_T_INT, nm, i % 3, 0, 10);
  }
  port(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "o", 0, INT64_MIN, INT64_MAX);
  port(&c, IR_PORT_OUT_PUBLIC, IR_T_INT, "z", 0, INT64_MIN, INT64_MAX);
  /* o = sum of the last element of ports 63, 64, 130 and 199 */
  static const int pick[] = {63, 64, 130, 199};
  uint32_t sum = cst(&c, 0);
  for (int k = 0; k < 4; k++) {
    const ir_port *pp = &c.ports[pick[k]];
    sum = em(&c, IR_ADD, sum, em(&c, IR_INPUT, 0, 0, 0, pp->first + ir_port_elems(pp) - 1), 0, 0);
  }
  em(&c, IR_OUTPUT, sum, 0, 0, 0);
  em(&c, IR_OUTPUT, cst(&c, 1), 0, 0, 1);
  ck_assert_int_eq(ir_finish(&c), CX_OK);
  uint64_t mask[IR_MAX_PORTS / 64];
  ir_flows(&c, 200, mask);
  ck_assert_uint_eq(mask[0], 1ull << 63);
  ck_assert_uint_eq(mask[1], 1ull << 0);
  ck_assert_uint_eq(mask[2], 1ull << 2);
  ck_assert_uint_eq(mask[3], 1ull << (199 - 192));
  ir_flows(&c, 201, mask);
  ck_assert_uint_eq(mask[0] | mask[1] | mask[2] | mask[3], 0);
  ir_free(&c);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("lang_ir");
  TCase *tb = tcase_create("builder");
  tcase_add_test(tb, test_ports);
  tcase_add_test(tb, test_ranges);
  tcase_add_test(tb, test_secrecy);
  tcase_add_test(tb, test_overflow_edges);
  tcase_add_test(tb, test_floor_division);
  tcase_add_test(tb, test_bits);
  tcase_add_test(tb, test_fold_constants);
  tcase_add_test(tb, test_simplify);
  tcase_add_test(tb, test_cse);
  tcase_add_test(tb, test_node_limit);
  suite_add_tcase(s, tb);
  TCase *tp = tcase_create("passes");
  tcase_set_timeout(tp, 120);
  tcase_add_test(tp, test_dce);
  tcase_add_test(tp, test_output_checks);
  tcase_add_test(tp, test_random_dags);
  tcase_add_test(tp, test_eval_edges);
  suite_add_tcase(s, tp);
  TCase *tc = tcase_create("bytecode");
  tcase_add_test(tc, test_golden_encoding);
  tcase_add_test(tc, test_roundtrip_all_ops);
  tcase_add_test(tc, test_decode_valid_by_hand);
  tcase_add_test(tc, test_refuse_magic);
  tcase_add_test(tc, test_refuse_nonminimal_varint);
  tcase_add_test(tc, test_refuse_kind);
  tcase_add_test(tc, test_refuse_base);
  tcase_add_test(tc, test_refuse_op);
  tcase_add_test(tc, test_refuse_distance_zero);
  tcase_add_test(tc, test_refuse_before_first);
  tcase_add_test(tc, test_refuse_operand_output);
  tcase_add_test(tc, test_refuse_lo_gt_hi);
  tcase_add_test(tc, test_refuse_bool_range);
  tcase_add_test(tc, test_refuse_unused);
  tcase_add_test(tc, test_refuse_duplicate);
  tcase_add_test(tc, test_refuse_foldable);
  tcase_add_test(tc, test_refuse_trailing);
  tcase_add_test(tc, test_refuse_kind_order);
  tcase_add_test(tc, test_refuse_names);
  tcase_add_test(tc, test_refuse_commutative_order);
  tcase_add_test(tc, test_refuse_immediates);
  tcase_add_test(tc, test_refuse_outputs);
  tcase_add_test(tc, test_refuse_range);
  tcase_add_test(tc, test_refuse_limits);
  suite_add_tcase(s, tc);
  TCase *ta = tcase_create("analysis");
  tcase_add_test(ta, test_depth_stats_flows);
  tcase_add_test(ta, test_flows_wide);
  suite_add_tcase(s, ta);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
