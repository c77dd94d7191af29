/* The integer operations over the toy field GF(2^31 - 1) with kappa = 8
 * (mpc/ops.c, docs/mpc-ops.md): exhaustive where the domain is small.
 *
 * The same builders and engine as in production, compiled with
 * MPC_FIELD_BITS=31: a k-bit comparison needs k + 1 + 8 + 1 < 31, so k = 6
 * gives 4096 pairs, all of which run through the real engine in one vector
 * operation, and k = 8 or 12 are enumerated completely by the plaintext
 * interpreter of tests/unit/test_mpc_ops.c (included below, without its
 * suite), which is the second oracle. */
#define MPC_OPS_INTERP_ONLY
#include "../test_mpc_ops.c"

#if MPC_FIELD_BITS != 31 || MPC_KAPPA != 8
#error "the toy suite is built with MPC_FIELD_BITS=31 (custos_mpc_toy)"
#endif

/* Every value of k bits, in order from the minimum. */
static int64_t *all_k(uint32_t k, size_t *n) {
  *n = (size_t)1 << k;
  int64_t *v = malloc(*n * sizeof *v);
  ck_assert_ptr_nonnull(v);
  for (size_t i = 0; i < *n; i++) v[i] = kmin(k) + (int64_t)i;
  return v;
}

/* Every pair of k-bit values: a[i], b[i]. */
static void all_pairs(uint32_t k, int64_t **a, int64_t **b, size_t *n) {
  size_t m;
  int64_t *v = all_k(k, &m);
  *n = m * m;
  *a = malloc(*n * sizeof **a);
  *b = malloc(*n * sizeof **b);
  ck_assert_ptr_nonnull(*a);
  ck_assert_ptr_nonnull(*b);
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < m; j++) {
      (*a)[i * m + j] = v[i];
      (*b)[i * m + j] = v[j];
    }
  free(v);
}

/* k = 6: lt, le, eq, ne on all 4096 pairs in one vector run, on the engine
 * and the interpreter. */
START_TEST(test_toy_pairs_k6) {
  int64_t *a, *b;
  size_t n;
  all_pairs(6, &a, &b, &n);
  ck_assert_uint_eq(n, 4096);
  tcase t;
  tc_init(&t);
  tc_cmp2(&t, tc_input(&t, a, n), tc_input(&t, b, n), a, b, n, 6);
  tc_check(&t, 4);
  free(a);
  free(b);
}
END_TEST

/* k = 6: ltz, eqz, every truncation and a divisor of every kind on all 64
 * values, on the engine. */
START_TEST(test_toy_unary_k6) {
  static const uint32_t ms[] = {0, 1, 2, 3, 4, 5, 6, 7};
  static const uint64_t ds[] = {1, 2, 3, 5, 6, 7, 31, 32, 33, 1000};
  size_t n;
  int64_t *a = all_k(6, &n);
  tcase t;
  tc_init(&t);
  uint32_t ra = tc_input(&t, a, n);
  tc_sign(&t, ra, a, n, 6);
  tc_trunc(&t, ra, a, n, 6, ms, sizeof ms / sizeof ms[0]);
  tc_divc(&t, ra, a, n, 6, ds, sizeof ds / sizeof ds[0]);
  tc_check(&t, 4);
  free(a);
}
END_TEST

/* k = 12, d = 3 and d = 10 take the split path of divc in the toy field;
 * the engine runs an edge-heavy sample, the interpreter every value. */
START_TEST(test_toy_divc_split) {
  size_t n;
  int64_t *all = all_k(12, &n);
  uint64_t ds[] = {3, 10};
  tcase t;
  tc_init(&t);
  tc_divc(&t, tc_input(&t, all, n), all, n, 12, ds, 2);
  tc_check(&t, 0);
  size_t m = 256;
  int64_t *s = malloc(m * sizeof *s);
  for (size_t i = 0; i < m; i++) s[i] = i < 8 ? all[i] : i < 16 ? all[n - 16 + i] : rand_k(12);
  tc_init(&t);
  tc_divc(&t, tc_input(&t, s, m), s, m, 12, ds, 2);
  tc_run_engine(&t, 4);
  tc_free(&t);
  free(s);
  free(all);
}
END_TEST

/* Vectors over all 64 values of k = 6: min, max, sum, selection, and
 * membership of values inside and outside a set. */
START_TEST(test_toy_vec_k6) {
  size_t n;
  int64_t *a = all_k(6, &n), *b = malloc(n * sizeof *b);
  for (size_t i = 0; i < n; i++) b[i] = rand_k(6);
  /* shuffle a so the extremes sit anywhere */
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = tu_rand() % (i + 1);
    int64_t x = a[i];
    a[i] = a[j];
    a[j] = x;
  }
  tcase t;
  tc_init(&t);
  tc_vec(&t, a, b, n, 6);
  /* a small set: every x of 6 bits, in or out */
  int64_t set[5] = {-32, -1, 0, 7, 31};
  uint32_t rs = tc_input(&t, set, 5);
  int64_t xs[8] = {-32, -31, -1, 0, 1, 7, 30, 31}, w[8] = {1, 0, 1, 1, 0, 1, 0, 1};
  for (int i = 0; i < 8; i++) {
    uint32_t rx = tc_input(&t, &xs[i], 1);
    tc_expect(&t, mpc_member(t.p, rx, rs, 6), &w[i], 1, "member(small set)");
  }
  tc_check(&t, 4);
  free(a);
  free(b);
}
END_TEST

/* The interpreter, exhaustive: all 65536 pairs of k = 8; all 4096 values
 * of k = 12 through ltz, eqz, every truncation and divisors 1..80 plus
 * random ones up to past 2^11 (direct, split, power-of-two and >= 2^(k-1)
 * paths). */
START_TEST(test_toy_plain_exhaustive) {
  int64_t *a, *b;
  size_t n;
  all_pairs(8, &a, &b, &n);
  tcase t;
  tc_init(&t);
  tc_cmp(&t, a, b, n, 8);
  tc_check(&t, 0);
  free(a);
  free(b);
  int64_t *v = all_k(12, &n);
  tc_init(&t);
  uint32_t rv = tc_input(&t, v, n);
  tc_sign(&t, rv, v, n, 12);
  uint32_t ms[14];
  for (uint32_t m = 0; m < 14; m++) ms[m] = m;
  tc_trunc(&t, rv, v, n, 12, ms, 14);
  tc_check(&t, 0);
  uint64_t ds[100];
  for (size_t i = 0; i < 80; i++) ds[i] = i + 1;
  for (size_t i = 80; i < 100; i++) ds[i] = 81 + tu_rand() % 2100;
  for (size_t j = 0; j < 100; j += 25) {
    tc_init(&t);
    tc_divc(&t, tc_input(&t, v, n), v, n, 12, ds + j, 25);
    tc_check(&t, 0);
  }
  free(v);
}
END_TEST

/* At the largest k the toy field allows (k + kappa + 1 < 31). */
START_TEST(test_toy_plain_max_k) {
  uint32_t k = MPC_FIELD_BITS - MPC_KAPPA - 3; /* lt needs k + 1 */
  pairs v = pairs_new(4000, k);
  tcase t;
  tc_init(&t);
  tc_cmp(&t, v.a, v.b, v.n, k);
  tc_check(&t, 0);
  /* divc's reciprocal step needs more room: k = 19 is the toy field's
   * largest for every divisor (docs/mpc-ops.md) */
  uint32_t kd = k - 1;
  pairs_free(&v);
  v = pairs_new(4000, kd);
  uint64_t ds[] = {3, 7, 1000, 12345, (uint64_t)1 << (kd - 2), ((uint64_t)1 << (kd - 1)) - 1,
                   ((uint64_t)1 << (kd - 2)) + 1};
  tc_init(&t);
  tc_divc(&t, tc_input(&t, v.a, v.n), v.a, v.n, kd, ds, sizeof ds / sizeof ds[0]);
  tc_check(&t, 0);
  /* one more bit is refused */
  mpc_program *p = mpc_prog_new();
  uint32_t x = mpc_input(p, 0, 0, 1);
  mpc_output(p, mpc_lt(p, x, x, k + 1), 0);
  char err[200];
  ck_assert_int_eq(mpc_prog_check(p, 4, err, sizeof err), CX_E_MPC_PROGRAM);
  mpc_prog_free(p);
  pairs_free(&v);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("mpc_toy");
  TCase *tp = tcase_create("plain");
  tcase_set_timeout(tp, 300);
  tcase_add_test(tp, test_toy_plain_exhaustive);
  tcase_add_test(tp, test_toy_plain_max_k);
  suite_add_tcase(s, tp);
  TCase *te = tcase_create("engine");
  tcase_set_timeout(te, 300);
  tcase_add_test(te, test_toy_pairs_k6);
  tcase_add_test(te, test_toy_unary_k6);
  tcase_add_test(te, test_toy_divc_split);
  tcase_add_test(te, test_toy_vec_k6);
  suite_add_tcase(s, te);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
