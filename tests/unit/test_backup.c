/* Backups of the chain store and the vault (store_backup, vault_backup,
 * store_backup_digest; docs/operations.md "Backup and restore"). */
#include <check.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "testutil.h"
#include "vault.h"

static char *path_of(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

/* Commits block `height` setting key "k<i>" = "v<i>-<height>" for i < nkeys. */
static void commit_block(store *s, uint64_t height, unsigned nkeys) {
  store_ws *ws = store_ws_new(s);
  ck_assert_ptr_nonnull(ws);
  for (unsigned i = 0; i < nkeys; i++) {
    char k[32], v[48];
    int kl = snprintf(k, sizeof k, "k%u", i);
    int vl = snprintf(v, sizeof v, "v%u-%llu", i, (unsigned long long)height);
    ck_assert_int_eq(store_ws_put(ws, (uint8_t *)k, (size_t)kl, (uint8_t *)v, (size_t)vl), CX_OK);
  }
  cx_hash parent, bh;
  store_tip_hash(s, &parent);
  uint8_t blk[16];
  memset(blk, (int)height, sizeof blk);
  hash_sha256(blk, sizeof blk, bh.b);
  bh.b[0] ^= (uint8_t)height; /* distinct per height */
  ck_assert_int_eq(store_commit(s, ws, height, &bh, &parent, blk, sizeof blk, NULL, 0, NULL, 0),
                   CX_OK);
}

static store *open_store(const char *dir) {
  store *s = NULL;
  char err[256] = "";
  store_opts o = {.sync = 0};
  cx_err e = store_open(dir, &o, &s, err, sizeof err);
  ck_assert_msg(e == CX_OK, "store_open %s: %s %s", dir, cx_err_name(e), err);
  return s;
}

static store *genesis_store(const char *dir) {
  store *s = open_store(dir);
  cx_hash chain;
  memset(chain.b, 0x5a, 32);
  store_ws *ws = store_ws_new(s);
  ck_assert_int_eq(store_ws_put(ws, (const uint8_t *)"g", 1, (const uint8_t *)"0", 1), CX_OK);
  ck_assert_int_eq(store_init_genesis(s, ws, &chain), CX_OK);
  store_ws_free(ws);
  return s;
}

/* Every key/value of two LevelDB directories, compared one by one. */
static void expect_same_db(const char *a, const char *b) {
  char *err = NULL;
  leveldb_options_t *o = leveldb_options_create();
  leveldb_t *da = leveldb_open(o, a, &err);
  ck_assert_msg(!err, "%s", err ? err : "");
  leveldb_t *db = leveldb_open(o, b, &err);
  ck_assert_msg(!err, "%s", err ? err : "");
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_iterator_t *ia = leveldb_create_iterator(da, ro), *ib = leveldb_create_iterator(db, ro);
  size_t n = 0;
  for (leveldb_iter_seek_to_first(ia), leveldb_iter_seek_to_first(ib); leveldb_iter_valid(ia);
       leveldb_iter_next(ia), leveldb_iter_next(ib), n++) {
    ck_assert_msg(leveldb_iter_valid(ib), "the copy ends after %zu keys", n);
    size_t ka, kb, va, vb;
    const char *k1 = leveldb_iter_key(ia, &ka), *k2 = leveldb_iter_key(ib, &kb);
    const char *v1 = leveldb_iter_value(ia, &va), *v2 = leveldb_iter_value(ib, &vb);
    ck_assert_msg(ka == kb && memcmp(k1, k2, ka) == 0, "key %zu differs", n);
    ck_assert_msg(va == vb && memcmp(v1, v2, va) == 0, "value %zu differs", n);
  }
  ck_assert_msg(!leveldb_iter_valid(ib), "the copy has more keys than the original");
  ck_assert_uint_gt(n, 0);
  leveldb_iter_destroy(ia);
  leveldb_iter_destroy(ib);
  leveldb_readoptions_destroy(ro);
  leveldb_close(da);
  leveldb_close(db);
  leveldb_options_destroy(o);
}

START_TEST(test_store_copy_equal) {
  char *src = tu_tmpdir("bk-src"), *dst = tu_tmpdir("bk-dst");
  store *s = genesis_store(src);
  for (uint64_t h = 1; h <= 5; h++) commit_block(s, h, 50);
  store_backup_info bi;
  char err[256] = "";
  ck_assert_int_eq(store_backup(s, dst, &bi, err, sizeof err), CX_OK);
  cx_hash tip, root;
  store_tip_hash(s, &tip);
  store_state_root(s, &root);
  ck_assert_uint_eq(bi.height, 5);
  ck_assert(hash_eq(&bi.tip, &tip) && hash_eq(&bi.root, &root));
  ck_assert_int_eq(bi.has_chain, 1);
  ck_assert_uint_eq(bi.chain_id.b[0], 0x5a);
  /* A second backup into the same place is refused, not merged. */
  store_backup_info b2;
  ck_assert_int_eq(store_backup(s, dst, &b2, err, sizeof err), CX_E_EXISTS);
  store_close(s);

  char *ca = path_of(src, "chain"), *cb = path_of(dst, "chain");
  expect_same_db(ca, cb);
  uint64_t keys = 0;
  uint8_t sha[32];
  ck_assert_int_eq(store_backup_digest(cb, &keys, sha, err, sizeof err), CX_OK);
  ck_assert_uint_eq(keys, bi.keys);
  ck_assert_mem_eq(sha, bi.sha256, 32);
  ck_assert_int_eq(store_backup_digest(ca, &keys, sha, err, sizeof err), CX_OK);
  ck_assert_mem_eq(sha, bi.sha256, 32); /* nothing changed since: the same stream */

  /* The copy is a store: it opens (start-up checks pass) at the same tip. */
  store *c = open_store(dst);
  ck_assert_uint_eq(store_height(c), 5);
  store_tip_hash(c, &tip);
  ck_assert(hash_eq(&tip, &bi.tip));
  uint8_t *v = NULL;
  size_t vl = 0;
  ck_assert_int_eq(store_state_get(c, (const uint8_t *)"k7", 2, &v, &vl), CX_OK);
  ck_assert_int_eq((int)vl, 4);
  ck_assert_mem_eq(v, "v7-5", 4);
  free(v);
  store_close(c);

  /* A changed value in the copy changes its digest. */
  char *e2 = NULL;
  leveldb_options_t *o = leveldb_options_create();
  leveldb_t *db = leveldb_open(o, cb, &e2);
  ck_assert_ptr_null(e2);
  leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
  leveldb_put(db, wo, "Mzz", 3, "x", 1, &e2);
  ck_assert_ptr_null(e2);
  leveldb_writeoptions_destroy(wo);
  leveldb_close(db);
  leveldb_options_destroy(o);
  ck_assert_int_eq(store_backup_digest(cb, &keys, sha, err, sizeof err), CX_OK);
  ck_assert(memcmp(sha, bi.sha256, 32) != 0);
  free(ca);
  free(cb);
  tu_rmrf(src);
  tu_rmrf(dst);
  free(src);
  free(dst);
}
END_TEST

/* A write after the backup is not in it. */
START_TEST(test_store_later_write_absent) {
  char *src = tu_tmpdir("bk-src"), *dst = tu_tmpdir("bk-dst");
  store *s = genesis_store(src);
  commit_block(s, 1, 3);
  store_backup_info bi;
  char err[256] = "";
  ck_assert_int_eq(store_backup(s, dst, &bi, err, sizeof err), CX_OK);
  commit_block(s, 2, 10); /* k3..k9 are new, k0..k2 change */
  store_close(s);
  store *c = open_store(dst);
  ck_assert_uint_eq(store_height(c), 1);
  uint8_t *v = NULL;
  size_t vl = 0;
  ck_assert_int_eq(store_state_get(c, (const uint8_t *)"k5", 2, &v, &vl), CX_E_NOT_FOUND);
  ck_assert_int_eq(store_state_get(c, (const uint8_t *)"k0", 2, &v, &vl), CX_OK);
  ck_assert_mem_eq(v, "v0-1", 4);
  free(v);
  store_close(c);
  tu_rmrf(src);
  tu_rmrf(dst);
  free(src);
  free(dst);
}
END_TEST

typedef struct {
  store *s;
  int stop; /* atomic */
  uint64_t last;
} committer;

/* Commits until told to stop (at least a few blocks). */
static void *commit_loop(void *arg) {
  committer *c = arg;
  uint64_t h = 1;
  while (h <= 3 || !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) commit_block(c->s, h++, 200);
  c->last = h - 1;
  return NULL;
}

/* Backups taken while another thread commits are each one committed state:
 * the copy's start-up check recomputes the state root from the copied
 * entries and compares it with the copied tip record. */
START_TEST(test_store_backup_while_committing) {
  char *src = tu_tmpdir("bk-src"), *base = tu_tmpdir("bk-dst");
  store *s = genesis_store(src);
  committer c = {s, 0, 0};
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, commit_loop, &c), 0);
  uint64_t last = 0;
  for (int i = 0; i < 6; i++) {
    char dir[512], err[256] = "";
    snprintf(dir, sizeof dir, "%s/b%d", base, i);
    store_backup_info bi;
    ck_assert_int_eq(store_backup(s, dir, &bi, err, sizeof err), CX_OK);
    ck_assert_uint_ge(bi.height, last);
    last = bi.height;
    store *b = open_store(dir);
    cx_hash tip, root;
    store_tip_hash(b, &tip);
    store_state_root(b, &root);
    ck_assert_uint_eq(store_height(b), bi.height);
    ck_assert(hash_eq(&tip, &bi.tip) && hash_eq(&root, &bi.root));
    store_close(b);
  }
  __atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
  pthread_join(t, NULL);
  ck_assert_uint_gt(c.last, 3);
  store_close(s);
  tu_rmrf(src);
  tu_rmrf(base);
  free(src);
  free(base);
}
END_TEST

/* ---- vault ---- */

static void vkey(uint8_t k[VAULT_KEY_BYTES], uint8_t seed) { memset(k, seed, VAULT_KEY_BYTES); }

static void schema(vault *v) {
  vault_schema s;
  memset(&s, 0, sizeof s);
  snprintf(s.domain, sizeof s.domain, "health");
  s.nfields = 2;
  snprintf(s.fields[0].name, sizeof s.fields[0].name, "age");
  s.fields[0].lo = 0, s.fields[0].hi = 150;
  snprintf(s.fields[1].name, sizeof s.fields[1].name, "smoker");
  s.fields[1].is_bool = 1, s.fields[1].lo = 0, s.fields[1].hi = 1;
  char err[128];
  ck_assert_int_eq(vault_schema_set(v, &s, err, sizeof err), CX_OK);
}

static void did_of(uint32_t i, cx_hash *d) {
  memset(d, 0, sizeof *d);
  d->b[0] = (uint8_t)(i >> 8), d->b[1] = (uint8_t)i, d->b[31] = 0xd1;
}

START_TEST(test_vault_backup) {
  char *src = tu_tmpdir("bk-vsrc"), *dst = tu_tmpdir("bk-vdst");
  uint8_t k[VAULT_KEY_BYTES];
  vkey(k, 7);
  vault *v = NULL;
  ck_assert_int_eq(vault_open(src, k, 1, &v), CX_OK);
  schema(v);
  char err[256] = "";
  for (uint32_t i = 0; i < 40; i++) {
    cx_hash d;
    did_of(i, &d);
    int64_t vals[2] = {(int64_t)(20 + i), (int64_t)(i & 1)};
    ck_assert_int_eq(vault_put(v, "health", &d, vals, 2, err, sizeof err), CX_OK);
  }
  vault_access a;
  memset(&a, 0, sizeof a);
  snprintf(a.domain, sizeof a.domain, "health");
  snprintf(a.fields, sizeof a.fields, "age");
  ck_assert_int_eq(vault_log_append(v, &a, 1, NULL), CX_OK);
  cx_hash root;
  uint64_t count = 0, keys = 0;
  uint8_t sha[32];
  ck_assert_int_eq(vault_domain_root(v, "health", &root, &count), CX_OK);
  ck_assert_int_eq(vault_backup(v, dst, &keys, sha, err, sizeof err), CX_OK);
  ck_assert_int_eq(vault_backup(v, dst, &keys, sha, err, sizeof err), CX_E_EXISTS);
  /* After the backup: a new record, not in the copy. */
  cx_hash late;
  did_of(999, &late);
  int64_t lv[2] = {99, 1};
  ck_assert_int_eq(vault_put(v, "health", &late, lv, 2, err, sizeof err), CX_OK);
  vault_close(v);

  char *vs = path_of(dst, "vault");
  uint64_t k2 = 0;
  uint8_t sha2[32];
  ck_assert_int_eq(store_backup_digest(vs, &k2, sha2, err, sizeof err), CX_OK);
  ck_assert_uint_eq(k2, keys);
  ck_assert_mem_eq(sha2, sha, 32);

  /* Still sealed: another key does not open the copy. */
  uint8_t bad[VAULT_KEY_BYTES];
  vkey(bad, 8);
  vault *w = NULL;
  ck_assert_int_eq(vault_open(dst, bad, 1, &w), CX_E_PASSPHRASE);
  /* The same key does: same records, root, count and log. */
  ck_assert_int_eq(vault_open(dst, k, 1, &w), CX_OK);
  cx_hash r2;
  uint64_t c2 = 0;
  ck_assert_int_eq(vault_domain_root(w, "health", &r2, &c2), CX_OK);
  ck_assert_uint_eq(c2, 40);
  ck_assert_uint_eq(c2, count);
  ck_assert(hash_eq(&r2, &root));
  ck_assert_uint_eq(vault_log_len(w), 1);
  for (uint32_t i = 0; i < 40; i++) {
    cx_hash d;
    did_of(i, &d);
    int64_t got[2];
    size_t n = 0;
    ck_assert_int_eq(vault_get(w, "health", &d, got, 2, &n), CX_OK);
    ck_assert_int_eq((int)n, 2);
    ck_assert_int_eq(got[0], 20 + (int64_t)i);
    ck_assert_int_eq(got[1], (int64_t)(i & 1));
  }
  int64_t got[2];
  size_t n = 0;
  ck_assert_int_eq(vault_get(w, "health", &late, got, 2, &n), CX_E_NOT_FOUND);
  vault_close(w);
  free(vs);
  tu_rmrf(src);
  tu_rmrf(dst);
  free(src);
  free(dst);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("backup");
  TCase *tc = tcase_create("backup");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_store_copy_equal);
  tcase_add_test(tc, test_store_later_write_absent);
  tcase_add_test(tc, test_store_backup_while_committing);
  tcase_add_test(tc, test_vault_backup);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
