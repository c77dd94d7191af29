/* Tests for storage/digest_filter.c: no id ever added is answered "certainly
 * not", through growth, at the size cap and with a reader beside the
 * writer; the false-positive rate stays near its design figure. The store
 * side (ids committed before open found by the builder, ids committed after
 * it by the commit) is test_store's test_txid_filter_follows_commits. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "digest_filter.h"

#define N_IDS 200000

static uint8_t (*ids)[32];

static void make_ids(size_t n) {
  ids = malloc(n * sizeof *ids);
  ck_assert_ptr_nonnull(ids);
  tu_randbytes(ids, n * sizeof *ids);
}

/* Fresh ids answered "maybe", per million. */
static unsigned fp_per_million(digest_filter *f, size_t trials) {
  uint8_t id[32];
  size_t fp = 0;
  for (size_t i = 0; i < trials; i++) {
    tu_randbytes(id, sizeof id);
    fp += (size_t)df_maybe(f, id);
  }
  return (unsigned)(fp * 1000000 / trials);
}

START_TEST(test_grows_without_losing_ids) {
  make_ids(N_IDS);
  digest_filter *f = df_new(1000, (size_t)64 << 20); /* levels of 1K, 4K, 16K, 64K, 256K ids */
  ck_assert_ptr_nonnull(f);
  size_t b0 = df_bytes(f);
  ck_assert_int_eq(df_ready(f), 0);
  for (size_t i = 0; i < N_IDS; i++) {
    df_add(f, ids[i]);
    /* every id added so far is still there after each growth */
    if ((i & (i + 1)) == 0)
      for (size_t j = 0; j <= i; j++) ck_assert_int_eq(df_maybe(f, ids[j]), 1);
  }
  for (size_t i = 0; i < N_IDS; i++) ck_assert_int_eq(df_maybe(f, ids[i]), 1);
  ck_assert_uint_eq(df_count(f), N_IDS);
  ck_assert_uint_gt(df_bytes(f), b0);
  ck_assert_uint_le(df_bytes(f), (size_t)N_IDS * 4); /* <= 32 bits an id */
  /* about 1 in 1,000 for each full level (0.09% measured), four are full
   * and a fifth is being filled */
  unsigned fp = fp_per_million(f, 200000);
  ck_assert_msg(fp < 6000, "false positives %u per million", fp);
  df_set_ready(f);
  ck_assert_int_eq(df_ready(f), 1);
  df_free(f);
  free(ids);
}
END_TEST

/* Sized up front for the ids: no growth, same answers. */
START_TEST(test_presized) {
  make_ids(N_IDS);
  digest_filter *f = df_new(N_IDS, (size_t)64 << 20);
  size_t b0 = df_bytes(f);
  for (size_t i = 0; i < N_IDS; i++) df_add(f, ids[i]);
  ck_assert_uint_eq(df_bytes(f), b0);
  for (size_t i = 0; i < N_IDS; i++) ck_assert_int_eq(df_maybe(f, ids[i]), 1);
  unsigned fp = fp_per_million(f, 200000);
  ck_assert_msg(fp < 3000, "false positives %u per million", fp);
  df_free(f);
  free(ids);
}
END_TEST

/* At the cap it stops growing and fills up: more "maybe", never a false
 * "not". 64 KB at 200K ids is six times its design load. */
START_TEST(test_cap_saturates_safely) {
  make_ids(N_IDS);
  digest_filter *f = df_new(1000, 64 << 10);
  for (size_t i = 0; i < N_IDS; i++) df_add(f, ids[i]);
  ck_assert_uint_le(df_bytes(f), 64 << 10);
  for (size_t i = 0; i < N_IDS; i++) ck_assert_int_eq(df_maybe(f, ids[i]), 1);
  unsigned fp = fp_per_million(f, 100000);
  ck_assert_msg(fp > 3000, "a saturated filter answers 'maybe' often, got %u per million", fp);
  df_free(f);
  /* a cap below one block still gives one block */
  f = df_new(1000, 1);
  ck_assert_uint_eq(df_bytes(f), 64);
  df_add(f, ids[0]);
  ck_assert_int_eq(df_maybe(f, ids[0]), 1);
  df_free(f);
  free(ids);
}
END_TEST

/* A reader checks ids the writer has published while the writer keeps
 * adding (and growing the filter). */
typedef struct {
  digest_filter *f;
  atomic_size_t published;
  atomic_int misses;
} shared;

static void *reader(void *arg) {
  shared *sh = arg;
  size_t checked = 0;
  while (checked < N_IDS) {
    size_t p = atomic_load(&sh->published);
    for (size_t i = checked; i < p; i++)
      if (!df_maybe(sh->f, ids[i])) atomic_fetch_add(&sh->misses, 1);
    /* and some older ones again, across growths */
    for (size_t i = 0; i < p; i += 97)
      if (!df_maybe(sh->f, ids[i])) atomic_fetch_add(&sh->misses, 1);
    checked = p;
  }
  return NULL;
}

START_TEST(test_reader_beside_writer) {
  make_ids(N_IDS);
  shared sh = {.f = df_new(1000, (size_t)64 << 20)};
  atomic_init(&sh.published, 0);
  atomic_init(&sh.misses, 0);
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, reader, &sh), 0);
  for (size_t i = 0; i < N_IDS; i++) {
    df_add(sh.f, ids[i]);
    atomic_store(&sh.published, i + 1);
  }
  pthread_join(t, NULL);
  ck_assert_int_eq(atomic_load(&sh.misses), 0);
  df_free(sh.f);
  free(ids);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("digest_filter");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_grows_without_losing_ids);
  tcase_add_test(tc, test_presized);
  tcase_add_test(tc, test_cap_saturates_safely);
  tcase_add_test(tc, test_reader_beside_writer);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
