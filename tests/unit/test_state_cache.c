/* Tests for storage/state_cache.c: hits and misses, absent entries, the
 * generation rules that keep a reader's late fill from landing over a
 * commit's update, the size caps, and a threaded check against a model.
 * The store-level behaviour (reads consistent with store_height while
 * commits land) is test_store's test_concurrent_readers and
 * test_cache_follows_commits. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state_cache.h"
#include "testutil.h"

static const uint8_t K1[] = "nonce/alice", K2[] = "identity/bob";

/* Expects a hit with value v (v NULL: cached as absent), or a miss (miss=1). */
static void expect(state_cache *c, const uint8_t *k, size_t kl, const char *v, int miss) {
  cx_err e = CX_E_INTERNAL;
  uint8_t *val = NULL;
  size_t vlen = 0;
  int hit = sc_get(c, k, kl, &e, &val, &vlen);
  if (miss) {
    ck_assert_int_eq(hit, 0);
    return;
  }
  ck_assert_int_eq(hit, 1);
  if (!v) {
    ck_assert_int_eq(e, CX_E_NOT_FOUND);
    return;
  }
  ck_assert_int_eq(e, CX_OK);
  ck_assert_uint_eq(vlen, strlen(v));
  ck_assert(memcmp(val, v, vlen) == 0);
  free(val);
}

START_TEST(test_fill_and_hit) {
  state_cache *c = sc_new(1024);
  ck_assert_ptr_nonnull(c);
  expect(c, K1, sizeof K1, NULL, 1);
  sc_fill(c, sc_gen(c), K1, sizeof K1, (const uint8_t *)"7", 1);
  sc_fill(c, sc_gen(c), K2, sizeof K2, NULL, 0);
  expect(c, K1, sizeof K1, "7", 0);
  expect(c, K2, sizeof K2, NULL, 0);
  /* a key sharing a prefix is another key */
  expect(c, K1, sizeof K1 - 1, NULL, 1);
  sc_free(c);
}
END_TEST

/* A reader that read LevelDB before a commit must not fill after it. */
START_TEST(test_late_fill_dropped) {
  state_cache *c = sc_new(1024);
  uint64_t g = sc_gen(c); /* reader: generation, then its LevelDB read ("old") */
  sc_begin(c);            /* a commit writes "new" */
  sc_update(c, K1, sizeof K1, (const uint8_t *)"new", 3);
  sc_fill(c, g, K1, sizeof K1, (const uint8_t *)"old", 3); /* inside the window */
  sc_end(c);
  sc_fill(c, g, K1, sizeof K1, (const uint8_t *)"old", 3); /* after it */
  expect(c, K1, sizeof K1, "new", 0);
  /* a generation taken during a commit never fills, even in that commit */
  sc_begin(c);
  uint64_t odd = sc_gen(c); /* then its LevelDB read, before the write lands */
  sc_update(c, K2, sizeof K2, (const uint8_t *)"y", 1);
  sc_fill(c, odd, K2, sizeof K2, (const uint8_t *)"x", 1);
  sc_end(c);
  expect(c, K2, sizeof K2, "y", 0);
  sc_begin(c);
  sc_update(c, K2, sizeof K2, NULL, 0);
  odd = sc_gen(c);
  sc_end(c);
  sc_clear(c);
  sc_fill(c, odd, K2, sizeof K2, (const uint8_t *)"x", 1);
  expect(c, K2, sizeof K2, NULL, 1);
  sc_free(c);
}
END_TEST

START_TEST(test_no_hit_during_commit) {
  state_cache *c = sc_new(1024);
  sc_fill(c, sc_gen(c), K1, sizeof K1, (const uint8_t *)"1", 1);
  sc_begin(c);
  expect(c, K1, sizeof K1, NULL, 1);
  sc_update(c, K1, sizeof K1, NULL, 0); /* deleted */
  sc_end(c);
  expect(c, K1, sizeof K1, NULL, 0); /* cached as absent */
  sc_free(c);
}
END_TEST

START_TEST(test_caps) {
  state_cache *c = sc_new(1024);
  uint8_t big[SC_VAL_MAX + 1], key[SC_KEY_MAX + 1];
  memset(big, 'v', sizeof big);
  memset(key, 'k', sizeof key);
  sc_fill(c, sc_gen(c), K1, sizeof K1, big, sizeof big); /* too big: not cached */
  expect(c, K1, sizeof K1, NULL, 1);
  sc_fill(c, sc_gen(c), key, sizeof key, (const uint8_t *)"1", 1); /* key too long */
  expect(c, key, sizeof key, NULL, 1);
  sc_fill(c, sc_gen(c), key, SC_KEY_MAX, big, SC_VAL_MAX); /* both at the cap */
  cx_err e;
  uint8_t *v = NULL;
  size_t vl = 0;
  ck_assert_int_eq(sc_get(c, key, SC_KEY_MAX, &e, &v, &vl), 1);
  ck_assert_uint_eq(vl, SC_VAL_MAX);
  free(v);
  /* a committed value over the cap evicts the stale one */
  sc_fill(c, sc_gen(c), K2, sizeof K2, (const uint8_t *)"small", 5);
  sc_begin(c);
  sc_update(c, K2, sizeof K2, big, sizeof big);
  sc_end(c);
  expect(c, K2, sizeof K2, NULL, 1);
  sc_free(c);
}
END_TEST

START_TEST(test_clear) {
  state_cache *c = sc_new(1024);
  uint64_t g = sc_gen(c);
  sc_fill(c, g, K1, sizeof K1, (const uint8_t *)"1", 1);
  sc_clear(c);
  expect(c, K1, sizeof K1, NULL, 1);
  sc_fill(c, g, K1, sizeof K1, (const uint8_t *)"1", 1); /* the old generation */
  expect(c, K1, sizeof K1, NULL, 1);
  sc_free(c);
}
END_TEST

/* Writers commit a counter per key; readers fill and read concurrently.
 * The model: a key's value never goes backwards for a reader that saw a
 * commit end (model[k] published after sc_end), and a hit is never older
 * than the last value published before the lookup began. */
#define NKEYS 64
typedef struct {
  state_cache *c;
  uint64_t model[NKEYS]; /* atomic: last committed value per key */
  int stop;
  long errors, hits;
} race_arg;

static void key_of(int i, uint8_t k[8]) {
  memset(k, 0, 8);
  k[0] = (uint8_t)i;
}

static void *race_reader(void *p) {
  race_arg *a = p;
  unsigned seed = 7;
  while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
    int i = (int)(rand_r(&seed) % NKEYS);
    uint8_t k[8];
    key_of(i, k);
    uint64_t before = __atomic_load_n(&a->model[i], __ATOMIC_ACQUIRE);
    cx_err e;
    uint8_t *v = NULL;
    size_t vl = 0;
    if (sc_get(a->c, k, 8, &e, &v, &vl)) {
      uint64_t got = 0;
      if (e == CX_OK) memcpy(&got, v, 8);
      free(v);
      if (got < before) __atomic_add_fetch(&a->errors, 1, __ATOMIC_RELAXED);
      __atomic_add_fetch(&a->hits, 1, __ATOMIC_RELAXED);
    } else { /* a "LevelDB read" of the committed model, then the fill */
      uint64_t g = sc_gen(a->c);
      uint64_t val = __atomic_load_n(&a->model[i], __ATOMIC_ACQUIRE);
      sc_fill(a->c, g, k, 8, (const uint8_t *)&val, 8);
    }
  }
  return NULL;
}

START_TEST(test_race_model) {
  race_arg a;
  memset(&a, 0, sizeof a);
  a.c = sc_new(32); /* fewer slots than keys: evictions too */
  pthread_t th[2];
  for (int t = 0; t < 2; t++) ck_assert_int_eq(pthread_create(&th[t], NULL, race_reader, &a), 0);
  for (uint64_t round = 1; round <= 20000; round++) {
    int i = (int)(round % NKEYS);
    uint8_t k[8];
    key_of(i, k);
    sc_begin(a.c);
    __atomic_store_n(&a.model[i], round, __ATOMIC_RELEASE); /* the "LevelDB write" */
    sc_update(a.c, k, 8, (const uint8_t *)&round, 8);
    sc_end(a.c);
    if (round % 500 == 0) usleep(300); /* quiet spells, so readers also hit */
  }
  __atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
  for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
  ck_assert_msg(a.errors == 0, "%ld stale hits of %ld", a.errors, a.hits);
  ck_assert(a.hits > 0);
  sc_free(a.c);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("state_cache");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_fill_and_hit);
  tcase_add_test(tc, test_late_fill_dropped);
  tcase_add_test(tc, test_no_hit_during_commit);
  tcase_add_test(tc, test_caps);
  tcase_add_test(tc, test_clear);
  tcase_add_test(tc, test_race_model);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
