/* Tests for storage/store.c: commits, write sets, the bucket-tree root against
 * a slow reference, start-up damage detection, locking, caps, proofs and a
 * reader/writer smoke test. */
#include <leveldb/c.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hash.h"
#include "store.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

/* Test block format: parent(32) || u64be height || payload. */
static cx_err test_hasher(const uint8_t *blk, size_t len, cx_hash *hash, cx_hash *parent) {
  if (len < 40) return CX_E_BAD_BLOCK;
  hash_tagged(CX_TAG_BLOCK, blk, len, hash);
  memcpy(parent->b, blk, 32);
  return CX_OK;
}

typedef struct {
  uint8_t bytes[64];
  size_t len;
  cx_hash hash;
} tblock;

static void make_block(tblock *b, const cx_hash *parent, uint64_t height, uint8_t salt) {
  memcpy(b->bytes, parent->b, 32);
  for (int i = 0; i < 8; i++) b->bytes[32 + i] = (uint8_t)(height >> (56 - 8 * i));
  memset(b->bytes + 40, salt, 24);
  b->len = 64;
  hash_tagged(CX_TAG_BLOCK, b->bytes, b->len, &b->hash);
}

static store_opts test_opts(int with_hasher) {
  store_opts o;
  memset(&o, 0, sizeof o);
  o.sync = 0; /* tests do not need fsync; genesis is synced regardless */
  if (with_hasher) o.block_hasher = test_hasher;
  return o;
}

static store *open_ok(const char *dir, const store_opts *o) {
  store *s = NULL;
  char err[256];
  cx_err e = store_open(dir, o, &s, err, sizeof err);
  ck_assert_msg(e == CX_OK, "store_open: %s: %s", cx_err_name(e), err);
  return s;
}

static void put_str(store_ws *ws, const char *k, const char *v) {
  ck_assert_int_eq(store_ws_put(ws, (const uint8_t *)k, strlen(k), (const uint8_t *)v,
                                strlen(v)), CX_OK);
}

/* Asserts the value of k seen through ws (ws != NULL) or committed state. */
static void expect_val(store *s, store_ws *ws, const char *k, const char *v) {
  uint8_t *val = NULL;
  size_t vlen = 0;
  cx_err e = ws ? store_ws_get(ws, (const uint8_t *)k, strlen(k), &val, &vlen)
                : store_state_get(s, (const uint8_t *)k, strlen(k), &val, &vlen);
  if (!v) {
    ck_assert_int_eq(e, CX_E_NOT_FOUND);
    return;
  }
  ck_assert_int_eq(e, CX_OK);
  ck_assert_uint_eq(vlen, strlen(v));
  ck_assert(memcmp(val, v, vlen) == 0);
  free(val);
}

/* Commits block tip+1 with ws (consumed); returns its hash via out. */
static void commit_next(store *s, store_ws *ws, uint8_t salt, const store_txent *txs,
                        size_t ntx, cx_hash *out) {
  cx_hash tip;
  tblock b;
  uint64_t h = store_height(s) + 1;
  store_tip_hash(s, &tip);
  make_block(&b, &tip, h, salt);
  uint8_t cert[3] = {salt, 1, 2};
  cx_err e = store_commit(s, ws, h, &b.hash, &tip, b.bytes, b.len, cert, sizeof cert, txs, ntx);
  ck_assert_msg(e == CX_OK, "commit %llu: %s", (unsigned long long)h, cx_err_name(e));
  if (out) *out = b.hash;
}

/* ---- reference bucket tree (slow, independent of store.c) --------------- */

typedef struct {
  uint8_t key[STORE_KEY_MAX];
  size_t klen;
  uint8_t *val;
  size_t vlen;
} ref_ent;

typedef struct {
  ref_ent *v;
  size_t n, cap;
} model;

static int ref_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

static uint32_t ref_bucket(const uint8_t *k, size_t kl) {
  cx_hash h;
  hash_tagged(CX_TAG_STATE_KEY, k, kl, &h);
  return (uint32_t)h.b[0] << 8 | h.b[1];
}

static int ref_cmp(const void *a, const void *b) {
  const ref_ent *x = a, *y = b;
  uint32_t bx = ref_bucket(x->key, x->klen), by = ref_bucket(y->key, y->klen);
  if (bx != by) return bx < by ? -1 : 1;
  return ref_keycmp(x->key, x->klen, y->key, y->klen);
}

static void ref_leaf(const ref_ent *e, uint8_t out[32]) {
  size_t n = 8 + e->klen + e->vlen;
  uint8_t *buf = malloc(n);
  ck_assert_ptr_nonnull(buf);
  uint8_t *p = buf;
  *p++ = (uint8_t)(e->klen >> 24); *p++ = (uint8_t)(e->klen >> 16);
  *p++ = (uint8_t)(e->klen >> 8); *p++ = (uint8_t)e->klen;
  memcpy(p, e->key, e->klen);
  p += e->klen;
  *p++ = (uint8_t)(e->vlen >> 24); *p++ = (uint8_t)(e->vlen >> 16);
  *p++ = (uint8_t)(e->vlen >> 8); *p++ = (uint8_t)e->vlen;
  if (e->vlen) memcpy(p, e->val, e->vlen);
  cx_hash h;
  hash_tagged(CX_TAG_STATE_LEAF, buf, n, &h);
  memcpy(out, h.b, 32);
  free(buf);
}

/* Hash of a bucket from its entries (any order; sorted here). */
static void ref_bucket_hash(const ref_ent *ents, size_t n, cx_hash *out) {
  if (n == 0) {
    memset(out, 0, sizeof *out);
    return;
  }
  ref_ent *sorted = malloc(n * sizeof *sorted);
  uint8_t *leaves = malloc(32 * n);
  ck_assert(sorted && leaves);
  memcpy(sorted, ents, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, ref_cmp);
  for (size_t i = 0; i < n; i++) ref_leaf(&sorted[i], leaves + 32 * i);
  hash_tagged(CX_TAG_STATE_BUCKET, leaves, 32 * n, out);
  free(leaves);
  free(sorted);
}

/* Rebuilds the whole tree from scratch: every node hashed, no shortcuts. */
static void ref_root(const model *m, cx_hash *root) {
  cx_hash *tree = calloc(2 * STORE_BUCKETS, sizeof *tree);
  ref_ent *sorted = malloc((m->n ? m->n : 1) * sizeof *sorted);
  ck_assert(tree && sorted);
  if (m->n) memcpy(sorted, m->v, m->n * sizeof *sorted);
  qsort(sorted, m->n, sizeof *sorted, ref_cmp);
  for (size_t i = 0; i < m->n;) {
    uint32_t b = ref_bucket(sorted[i].key, sorted[i].klen);
    size_t j = i;
    while (j < m->n && ref_bucket(sorted[j].key, sorted[j].klen) == b) j++;
    ref_bucket_hash(sorted + i, j - i, &tree[STORE_BUCKETS + b]);
    i = j;
  }
  for (uint32_t n = STORE_BUCKETS - 1; n >= 1; n--) {
    uint8_t buf[64];
    memcpy(buf, tree[2 * n].b, 32);
    memcpy(buf + 32, tree[2 * n + 1].b, 32);
    hash_tagged(CX_TAG_STATE_NODE, buf, 64, &tree[n]);
  }
  *root = tree[1];
  free(sorted);
  free(tree);
}

static ref_ent *model_find(model *m, const uint8_t *k, size_t kl) {
  for (size_t i = 0; i < m->n; i++)
    if (m->v[i].klen == kl && (kl == 0 || memcmp(m->v[i].key, k, kl) == 0)) return &m->v[i];
  return NULL;
}

static void model_put(model *m, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  ref_ent *e = model_find(m, k, kl);
  if (!e) {
    if (m->n == m->cap) {
      m->cap = m->cap ? 2 * m->cap : 64;
      m->v = realloc(m->v, m->cap * sizeof *m->v);
      ck_assert_ptr_nonnull(m->v);
    }
    e = &m->v[m->n++];
    memcpy(e->key, k, kl);
    e->klen = kl;
  } else {
    free(e->val);
  }
  e->val = malloc(vl ? vl : 1);
  ck_assert_ptr_nonnull(e->val);
  if (vl) memcpy(e->val, v, vl);
  e->vlen = vl;
}

static void model_del(model *m, const uint8_t *k, size_t kl) {
  ref_ent *e = model_find(m, k, kl);
  if (!e) return;
  free(e->val);
  *e = m->v[--m->n];
}

static void model_copy(model *dst, const model *src) {
  memset(dst, 0, sizeof *dst);
  for (size_t i = 0; i < src->n; i++)
    model_put(dst, src->v[i].key, src->v[i].klen, src->v[i].val, src->v[i].vlen);
}

static void model_free(model *m) {
  for (size_t i = 0; i < m->n; i++) free(m->v[i].val);
  free(m->v);
  memset(m, 0, sizeof *m);
}

/* Keys from a small pool so puts, overwrites and deletes collide; the pool
 * includes the empty key. */
static void rand_key(uint8_t *k, size_t *kl) {
  uint64_t r = tu_rand() % 400;
  *kl = r == 0 ? 0 : 1 + r % 40;
  for (size_t i = 0; i < *kl; i++) k[i] = (uint8_t)((r * 31 + i * 7) & 0xff);
}

/* Independent proof verifier: recomputes the root from the bucket's entries
 * and the siblings. */
static int verify_proof(const store_proof *p, const cx_hash *root) {
  ref_ent *ents = calloc(p->n ? p->n : 1, sizeof *ents);
  ck_assert_ptr_nonnull(ents);
  for (size_t i = 0; i < p->n; i++) {
    if (p->entries[i].klen > STORE_KEY_MAX ||
        ref_bucket(p->entries[i].key, p->entries[i].klen) != p->bucket) {
      free(ents);
      return 0;
    }
    if (i > 0 && ref_keycmp(p->entries[i - 1].key, p->entries[i - 1].klen, p->entries[i].key,
                            p->entries[i].klen) >= 0) {
      free(ents);
      return 0;
    }
    memcpy(ents[i].key, p->entries[i].key, p->entries[i].klen);
    ents[i].klen = p->entries[i].klen;
    ents[i].val = p->entries[i].val;
    ents[i].vlen = p->entries[i].vlen;
  }
  cx_hash cur;
  ref_bucket_hash(ents, p->n, &cur);
  free(ents);
  uint32_t node = STORE_BUCKETS + p->bucket;
  for (unsigned i = 0; i < STORE_BUCKET_BITS; i++, node >>= 1) {
    uint8_t buf[64];
    if (node & 1) {
      memcpy(buf, p->siblings[i].b, 32);
      memcpy(buf + 32, cur.b, 32);
    } else {
      memcpy(buf, cur.b, 32);
      memcpy(buf + 32, p->siblings[i].b, 32);
    }
    hash_tagged(CX_TAG_STATE_NODE, buf, 64, &cur);
  }
  return hash_eq(&cur, root);
}

/* Direct LevelDB access for tampering with a closed store. */
static leveldb_t *raw_open(const char *dir, leveldb_options_t **opt) {
  char path[512], *err = NULL;
  snprintf(path, sizeof path, "%s/chain", dir);
  *opt = leveldb_options_create();
  leveldb_t *db = leveldb_open(*opt, path, &err);
  ck_assert_msg(err == NULL, "raw open: %s", err ? err : "");
  return db;
}

static void raw_close(leveldb_t *db, leveldb_options_t *opt) {
  leveldb_close(db);
  leveldb_options_destroy(opt);
}

static void raw_put(leveldb_t *db, const void *k, size_t kl, const void *v, size_t vl) {
  char *err = NULL;
  leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
  leveldb_put(db, wo, k, kl, v, vl, &err);
  leveldb_writeoptions_destroy(wo);
  ck_assert_ptr_null(err);
}

static void raw_del(leveldb_t *db, const void *k, size_t kl) {
  char *err = NULL;
  leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
  leveldb_delete(db, wo, k, kl, &err);
  ck_assert_ptr_null(err);
  leveldb_writeoptions_destroy(wo);
}

/* One put into, or delete from, a closed store: open, write, close. */
static void raw_put_closed(const char *dir, const void *k, size_t kl, const void *v, size_t vl) {
  leveldb_options_t *opt;
  leveldb_t *db = raw_open(dir, &opt);
  raw_put(db, k, kl, v, vl);
  raw_close(db, opt);
}

static void raw_del_closed(const char *dir, const void *k, size_t kl) {
  leveldb_options_t *opt;
  leveldb_t *db = raw_open(dir, &opt);
  raw_del(db, k, kl);
  raw_close(db, opt);
}

/* Copies the first key with this prefix into k; returns its length. */
static size_t raw_first(leveldb_t *db, uint8_t prefix, uint8_t *k, size_t cap) {
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
  leveldb_iter_seek(it, (const char *)&prefix, 1);
  ck_assert(leveldb_iter_valid(it));
  size_t kl;
  const char *key = leveldb_iter_key(it, &kl);
  ck_assert((uint8_t)key[0] == prefix && kl <= cap);
  memcpy(k, key, kl);
  leveldb_iter_destroy(it);
  leveldb_readoptions_destroy(ro);
  return kl;
}

static void expect_corrupt(const char *dir, const store_opts *o, const char *needle) {
  store *s = NULL;
  char err[512] = "";
  cx_err e = store_open(dir, o, &s, err, sizeof err);
  ck_assert_msg(e == CX_E_CORRUPT, "expected store_corrupt, got %s (%s)", cx_err_name(e), err);
  ck_assert_ptr_null(s);
  ck_assert_msg(strstr(err, needle) != NULL, "errbuf '%s' lacks '%s'", err, needle);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_fresh_reopen) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  cx_hash h, empty_root;
  model m = {0};
  ref_root(&m, &empty_root);
  for (int round = 0; round < 2; round++) {
    store *s = open_ok(dir, &o);
    ck_assert_uint_eq(store_height(s), 0);
    store_tip_hash(s, &h);
    ck_assert(hash_is_zero(&h));
    store_state_root(s, &h);
    ck_assert(hash_eq(&h, &empty_root));
    ck_assert_int_eq(store_chain_id(s, &h), CX_E_NOT_FOUND);
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(store_block_get(s, 1, &buf, &len), CX_E_NOT_FOUND);
    ck_assert_int_eq(store_block_hash(s, 0, &h), CX_E_NOT_FOUND);
    char err[128];
    ck_assert_int_eq(store_verify_all(s, err, sizeof err), CX_OK);
    store_close(s);
  }
  store_close(NULL);
  /* A nested directory that does not exist yet is created. */
  char nested[512];
  snprintf(nested, sizeof nested, "%s/a/b", dir);
  store *s = open_ok(nested, NULL);
  store_close(s);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_genesis) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  cx_hash chain, got, root;
  model m = {0};
  memset(chain.b, 0xab, 32);
  store_ws *ws = store_ws_new(s);
  ck_assert_ptr_nonnull(ws);
  put_str(ws, "alice", "1");
  put_str(ws, "bob", "22");
  model_put(&m, (const uint8_t *)"alice", 5, (const uint8_t *)"1", 1);
  model_put(&m, (const uint8_t *)"bob", 3, (const uint8_t *)"22", 2);
  ck_assert_int_eq(store_init_genesis(s, ws, &chain), CX_OK);
  store_ws_free(ws); /* genesis does not consume the write set */
  ck_assert_uint_eq(store_height(s), 0);
  ck_assert_int_eq(store_chain_id(s, &got), CX_OK);
  ck_assert(hash_eq(&got, &chain));
  ref_root(&m, &root);
  store_state_root(s, &got);
  ck_assert(hash_eq(&got, &root));
  expect_val(s, NULL, "alice", "1");
  expect_val(s, NULL, "carol", NULL);

  ws = store_ws_new(s);
  put_str(ws, "carol", "3");
  ck_assert_int_eq(store_init_genesis(s, ws, &chain), CX_E_EXISTS);
  ck_assert_int_eq(store_init_genesis(s, NULL, &chain), CX_E_EXISTS);
  store_ws_free(ws);
  expect_val(s, NULL, "carol", NULL);
  store_close(s);

  s = open_ok(dir, &o);
  ck_assert_int_eq(store_chain_id(s, &got), CX_OK);
  ck_assert(hash_eq(&got, &chain));
  store_state_root(s, &got);
  ck_assert(hash_eq(&got, &root));
  ck_assert_int_eq(store_init_genesis(s, NULL, &chain), CX_E_EXISTS);
  store_close(s);
  model_free(&m);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_commit_sequence) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(1);
  store *s = open_ok(dir, &o);
  cx_hash chain = {{1}}, hashes[6] = {{{0}}};
  ck_assert_int_eq(store_init_genesis(s, NULL, &chain), CX_OK);
  store_txent txs[3];
  for (uint64_t h = 1; h <= 5; h++) {
    store_ws *ws = store_ws_new(s);
    char k[16], v[16];
    snprintf(k, sizeof k, "key%llu", (unsigned long long)h);
    snprintf(v, sizeof v, "val%llu", (unsigned long long)h);
    put_str(ws, k, v);
    put_str(ws, "height", v);
    for (int i = 0; i < 3; i++) {
      memset(txs[i].txid.b, (int)(h * 10 + (uint64_t)i), 32);
      txs[i].code = i == 1 ? CX_E_NONCE_USED : CX_OK;
    }
    commit_next(s, ws, (uint8_t)h, txs, 3, &hashes[h]);
    ck_assert_uint_eq(store_height(s), h);
    cx_hash tip;
    store_tip_hash(s, &tip);
    ck_assert(hash_eq(&tip, &hashes[h]));
  }
  for (int round = 0; round < 2; round++) {
    for (uint64_t h = 1; h <= 5; h++) {
      uint8_t *buf = NULL;
      size_t len = 0;
      cx_hash bh, ph;
      ck_assert_int_eq(store_block_get(s, h, &buf, &len), CX_OK);
      ck_assert_int_eq(test_hasher(buf, len, &bh, &ph), CX_OK);
      ck_assert(hash_eq(&bh, &hashes[h]));
      ck_assert(hash_eq(&ph, &hashes[h - 1]));
      free(buf);
      ck_assert_int_eq(store_cert_get(s, h, &buf, &len), CX_OK);
      ck_assert_uint_eq(len, 3);
      ck_assert_uint_eq(buf[0], h);
      free(buf);
      uint64_t hh = 0;
      ck_assert_int_eq(store_block_height(s, &hashes[h], &hh), CX_OK);
      ck_assert_uint_eq(hh, h);
      ck_assert_int_eq(store_block_hash(s, h, &bh), CX_OK);
      ck_assert(hash_eq(&bh, &hashes[h]));
      for (int i = 0; i < 3; i++) {
        cx_hash id;
        store_txloc loc;
        memset(id.b, (int)(h * 10 + (uint64_t)i), 32);
        ck_assert_int_eq(store_tx_get(s, &id, &loc), CX_OK);
        ck_assert_uint_eq(loc.height, h);
        ck_assert_uint_eq(loc.index, (uint32_t)i);
        ck_assert_int_eq(loc.code, i == 1 ? CX_E_NONCE_USED : CX_OK);
      }
      char k[16], v[16];
      snprintf(k, sizeof k, "key%llu", (unsigned long long)h);
      snprintf(v, sizeof v, "val%llu", (unsigned long long)h);
      expect_val(s, NULL, k, v);
    }
    expect_val(s, NULL, "height", "val5");
    uint8_t *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(store_block_get(s, 6, &buf, &len), CX_E_NOT_FOUND);
    cx_hash unknown = {{9}};
    store_txloc loc;
    uint64_t hh;
    ck_assert_int_eq(store_tx_get(s, &unknown, &loc), CX_E_NOT_FOUND);
    ck_assert_int_eq(store_block_height(s, &unknown, &hh), CX_E_NOT_FOUND);
    char err[256];
    ck_assert_msg(store_verify_all(s, err, sizeof err) == CX_OK, "%s", err);
    store_close(s);
    s = open_ok(dir, &o); /* the start-up checks pass on an intact store */
    ck_assert_uint_eq(store_height(s), 5);
  }
  /* An empty certificate and no transactions are fine. */
  cx_hash tip;
  tblock b;
  store_tip_hash(s, &tip);
  make_block(&b, &tip, 6, 6);
  ck_assert_int_eq(store_commit(s, NULL, 6, &b.hash, &tip, b.bytes, b.len, NULL, 0, NULL, 0),
                   CX_OK);
  uint8_t *buf = NULL;
  size_t len = 99;
  ck_assert_int_eq(store_cert_get(s, 6, &buf, &len), CX_OK);
  ck_assert_uint_eq(len, 0);
  free(buf);
  store_close(s);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_commit_refused) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(1);
  store *s = open_ok(dir, &o);
  cx_hash root0, tip, got;
  commit_next(s, NULL, 1, NULL, 0, NULL);
  store_state_root(s, &root0);
  store_tip_hash(s, &tip);
  tblock b;

  /* Each refused commit still consumes its write set (ASan checks leaks). */
  store_ws *ws = store_ws_new(s);
  put_str(ws, "x", "1");
  make_block(&b, &tip, 3, 0);
  ck_assert_int_eq(store_commit(s, ws, 3, &b.hash, &tip, b.bytes, b.len, NULL, 0, NULL, 0),
                   CX_E_HEIGHT);
  ws = store_ws_new(s);
  put_str(ws, "x", "1");
  make_block(&b, &tip, 1, 0);
  ck_assert_int_eq(store_commit(s, ws, 1, &b.hash, &tip, b.bytes, b.len, NULL, 0, NULL, 0),
                   CX_E_HEIGHT);
  ws = store_ws_new(s);
  put_str(ws, "x", "1");
  cx_hash wrong = tip;
  wrong.b[0] ^= 1;
  make_block(&b, &wrong, 2, 0);
  ck_assert_int_eq(store_commit(s, ws, 2, &b.hash, &wrong, b.bytes, b.len, NULL, 0, NULL, 0),
                   CX_E_BAD_PARENT);
  /* Bytes that do not hash to the given hash are refused. */
  ws = store_ws_new(s);
  put_str(ws, "x", "1");
  make_block(&b, &tip, 2, 0);
  cx_hash bad = b.hash;
  bad.b[5] ^= 1;
  ck_assert_int_eq(store_commit(s, ws, 2, &bad, &tip, b.bytes, b.len, NULL, 0, NULL, 0),
                   CX_E_BAD_BLOCK);

  ck_assert_uint_eq(store_height(s), 1);
  store_state_root(s, &got);
  ck_assert(hash_eq(&got, &root0));
  store_tip_hash(s, &got);
  ck_assert(hash_eq(&got, &tip));
  expect_val(s, NULL, "x", NULL);
  uint8_t *buf = NULL;
  size_t len = 0;
  ck_assert_int_eq(store_block_get(s, 2, &buf, &len), CX_E_NOT_FOUND);
  /* The correct commit still goes through afterwards. */
  commit_next(s, NULL, 2, NULL, 0, NULL);
  ck_assert_uint_eq(store_height(s), 2);
  store_close(s);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_ws_read_your_writes) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  store_ws *ws = store_ws_new(s);
  put_str(ws, "a", "committed-a");
  put_str(ws, "b", "committed-b");
  commit_next(s, ws, 1, NULL, 0, NULL);

  ws = store_ws_new(s);
  expect_val(s, ws, "a", "committed-a"); /* falls through to committed state */
  put_str(ws, "a", "new-a");
  expect_val(s, ws, "a", "new-a");
  expect_val(s, NULL, "a", "committed-a"); /* not visible outside the ws */
  ck_assert_int_eq(store_ws_del(ws, (const uint8_t *)"b", 1), CX_OK);
  expect_val(s, ws, "b", NULL);
  expect_val(s, NULL, "b", "committed-b");
  ck_assert_int_eq(store_ws_del(ws, (const uint8_t *)"zz", 2), CX_OK); /* absent: fine */
  expect_val(s, ws, "zz", NULL);

  size_t m1 = store_ws_mark(ws);
  put_str(ws, "a", "tx1-a");
  put_str(ws, "b", "tx1-b");
  put_str(ws, "c", "tx1-c");
  size_t m2 = store_ws_mark(ws);
  put_str(ws, "c", "tx2-c");
  ck_assert_int_eq(store_ws_del(ws, (const uint8_t *)"a", 1), CX_OK);
  expect_val(s, ws, "a", NULL);
  expect_val(s, ws, "c", "tx2-c");
  store_ws_rollback(ws, m2);
  expect_val(s, ws, "a", "tx1-a");
  expect_val(s, ws, "b", "tx1-b");
  expect_val(s, ws, "c", "tx1-c");
  store_ws_rollback(ws, m1);
  expect_val(s, ws, "a", "new-a");
  expect_val(s, ws, "b", NULL);
  expect_val(s, ws, "c", NULL);
  store_ws_rollback(ws, m1); /* idempotent */
  put_str(ws, "d", "after-rollback");

  /* Committing applies exactly what survived the rollbacks. */
  commit_next(s, ws, 2, NULL, 0, NULL);
  expect_val(s, NULL, "a", "new-a");
  expect_val(s, NULL, "b", NULL);
  expect_val(s, NULL, "c", NULL);
  expect_val(s, NULL, "d", "after-rollback");

  /* Rolling back to 0 leaves an empty write set: the root does not move. */
  ws = store_ws_new(s);
  put_str(ws, "e", "1");
  store_ws_rollback(ws, 0);
  cx_hash r1, r2;
  ck_assert_int_eq(store_ws_root(ws, &r1), CX_OK);
  store_state_root(s, &r2);
  ck_assert(hash_eq(&r1, &r2));
  store_ws_free(ws);
  store_ws_free(NULL);
  store_close(s);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* Random puts, overwrites, deletes and rollbacks over several blocks; every
 * ws root and committed root must equal the slow reference. */
START_TEST(test_root_random) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  model committed = {0};
  cx_hash ref, got;
  for (int blk = 1; blk <= 6; blk++) {
    store_ws *ws = store_ws_new(s);
    model pending, saved;
    model_copy(&pending, &committed);
    size_t ops = 20 + tu_rand() % 200;
    for (size_t i = 0; i < ops; i++) {
      /* Sometimes run a "transaction" that is rolled back. */
      int rollback = tu_rand() % 5 == 0;
      size_t mark = store_ws_mark(ws);
      if (rollback) model_copy(&saved, &pending);
      for (int j = 0; j < 3; j++) {
        uint8_t k[64], v[64];
        size_t kl, vl = tu_rand() % 64;
        rand_key(k, &kl);
        tu_randbytes(v, vl);
        if (tu_rand() % 4 == 0) {
          ck_assert_int_eq(store_ws_del(ws, k, kl), CX_OK);
          model_del(&pending, k, kl);
        } else {
          ck_assert_int_eq(store_ws_put(ws, k, kl, v, vl), CX_OK);
          model_put(&pending, k, kl, v, vl);
        }
      }
      if (rollback) {
        store_ws_rollback(ws, mark);
        model_free(&pending);
        pending = saved;
      }
    }
    /* Read-your-writes over the whole key pool. */
    for (uint64_t r = 0; r < 400; r += 7) {
      uint8_t k[64];
      size_t kl = r == 0 ? 0 : 1 + r % 40;
      for (size_t i = 0; i < kl; i++) k[i] = (uint8_t)((r * 31 + i * 7) & 0xff);
      uint8_t *val = NULL;
      size_t vlen = 0;
      ref_ent *e = model_find(&pending, k, kl);
      cx_err rc = store_ws_get(ws, k, kl, &val, &vlen);
      if (!e) {
        ck_assert_int_eq(rc, CX_E_NOT_FOUND);
      } else {
        ck_assert_int_eq(rc, CX_OK);
        ck_assert_uint_eq(vlen, e->vlen);
        ck_assert(vlen == 0 || memcmp(val, e->val, vlen) == 0);
        free(val);
      }
    }
    ref_root(&pending, &ref);
    ck_assert_int_eq(store_ws_root(ws, &got), CX_OK);
    ck_assert(hash_eq(&got, &ref));
    if (blk % 3 == 0) {
      /* Discarded: nothing changes. */
      cx_hash before, after;
      store_state_root(s, &before);
      store_ws_free(ws);
      store_state_root(s, &after);
      ck_assert(hash_eq(&before, &after));
      ref_root(&committed, &ref);
      ck_assert(hash_eq(&after, &ref));
      model_free(&pending);
      continue;
    }
    commit_next(s, ws, (uint8_t)blk, NULL, 0, NULL);
    store_state_root(s, &got);
    ck_assert(hash_eq(&got, &ref));
    model_free(&committed);
    committed = pending;
  }
  store_state_root(s, &ref);
  store_close(s);
  s = open_ok(dir, &o); /* the rebuilt tree gives the same root */
  store_state_root(s, &got);
  ck_assert(hash_eq(&got, &ref));
  for (size_t i = 0; i < committed.n; i++) {
    uint8_t *val = NULL;
    size_t vlen = 0;
    ck_assert_int_eq(store_state_get(s, committed.v[i].key, committed.v[i].klen, &val, &vlen),
                     CX_OK);
    ck_assert_uint_eq(vlen, committed.v[i].vlen);
    ck_assert(vlen == 0 || memcmp(val, committed.v[i].val, vlen) == 0);
    free(val);
  }
  store_close(s);
  model_free(&committed);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* Write sets large enough that the root is computed by several threads (on
 * a multi-core host) must still match the reference. */
START_TEST(test_root_large) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  model m = {0};
  cx_hash ref, got, chain = {{7}};
  uint8_t k[24], v[40];
  store_ws *ws = store_ws_new(s);
  for (int i = 0; i < 3000; i++) {
    tu_randbytes(k, sizeof k);
    tu_randbytes(v, sizeof v);
    ck_assert_int_eq(store_ws_put(ws, k, sizeof k, v, sizeof v), CX_OK);
    model_put(&m, k, sizeof k, v, sizeof v);
  }
  ck_assert_int_eq(store_init_genesis(s, ws, &chain), CX_OK);
  store_ws_free(ws);
  ref_root(&m, &ref);
  store_state_root(s, &got);
  ck_assert(hash_eq(&got, &ref));

  ws = store_ws_new(s);
  for (int i = 0; i < 2500; i++) {
    if (i % 3 == 0 && m.n > 0) {
      /* overwrite or delete an existing key */
      ref_ent *e = &m.v[tu_rand() % m.n];
      memcpy(k, e->key, e->klen);
      if (tu_rand() % 2) {
        ck_assert_int_eq(store_ws_del(ws, k, sizeof k), CX_OK);
        model_del(&m, k, sizeof k);
      } else {
        tu_randbytes(v, sizeof v);
        ck_assert_int_eq(store_ws_put(ws, k, sizeof k, v, sizeof v), CX_OK);
        model_put(&m, k, sizeof k, v, sizeof v);
      }
    } else {
      tu_randbytes(k, sizeof k);
      tu_randbytes(v, sizeof v);
      ck_assert_int_eq(store_ws_put(ws, k, sizeof k, v, sizeof v), CX_OK);
      model_put(&m, k, sizeof k, v, sizeof v);
    }
  }
  ref_root(&m, &ref);
  ck_assert_int_eq(store_ws_root(ws, &got), CX_OK);
  ck_assert(hash_eq(&got, &ref));
  commit_next(s, ws, 1, NULL, 0, NULL);
  store_state_root(s, &got);
  ck_assert(hash_eq(&got, &ref));
  store_close(s);
  s = open_ok(dir, &o);
  store_state_root(s, &got);
  ck_assert(hash_eq(&got, &ref));
  store_close(s);
  model_free(&m);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_corrupt_state_value) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  store_ws *ws = store_ws_new(s);
  put_str(ws, "balance", "100");
  put_str(ws, "other", "7");
  commit_next(s, ws, 1, NULL, 0, NULL);
  store_close(s);

  leveldb_options_t *opt;
  leveldb_t *db = raw_open(dir, &opt);
  uint8_t k[STORE_KEY_MAX + 3];
  size_t kl = raw_first(db, 'S', k, sizeof k);
  raw_put(db, k, kl, "999", 3);
  raw_close(db, opt);
  expect_corrupt(dir, &o, "state root recomputed");
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_corrupt_tip_record) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  commit_next(s, NULL, 1, NULL, 0, NULL);
  commit_next(s, NULL, 2, NULL, 0, NULL);
  store_close(s);
  /* A block above the recorded tip: a commit that was never recorded. */
  uint8_t k[9] = {'B', 0, 0, 0, 0, 0, 0, 0, 3};
  raw_put_closed(dir, k, sizeof k, "junk", 4);
  expect_corrupt(dir, &o, "above the recorded tip");
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_corrupt_block_bytes) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(1);
  store *s = open_ok(dir, &o);
  for (int i = 1; i <= 5; i++) commit_next(s, NULL, (uint8_t)i, NULL, 0, NULL);
  store_close(s);

  /* Tamper with block 2's payload (its parent bytes stay right). */
  leveldb_options_t *opt;
  leveldb_t *db = raw_open(dir, &opt);
  uint8_t k[9] = {'B', 0, 0, 0, 0, 0, 0, 0, 2}, *v;
  char *err = NULL;
  size_t vl;
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  v = (uint8_t *)leveldb_get(db, ro, (const char *)k, sizeof k, &vl, &err);
  leveldb_readoptions_destroy(ro);
  ck_assert(v && !err && vl == 64);
  v[63] ^= 0x80;
  raw_put(db, k, sizeof k, v, vl);
  leveldb_free(v);
  raw_close(db, opt);

  expect_corrupt(dir, &o, "block 2: stored bytes hash to");
  /* Without a hasher only the hash links are checked: block 2 looks fine. */
  store_opts nohash = test_opts(0);
  s = open_ok(dir, &nohash);
  store_close(s);
  /* A shallow start-up check misses it; the full check does not. */
  store_opts shallow = test_opts(1);
  shallow.check_depth = 2;
  s = open_ok(dir, &shallow);
  char msg[256];
  ck_assert_int_eq(store_verify_all(s, msg, sizeof msg), CX_E_CORRUPT);
  ck_assert_msg(strstr(msg, "block 2") != NULL, "%s", msg);
  store_close(s);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_corrupt_hash_link) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  for (int i = 1; i <= 4; i++) commit_next(s, NULL, (uint8_t)i, NULL, 0, NULL);
  store_close(s);
  /* Rewrite block 3's hash record: block 4's parent no longer matches. */
  uint8_t k[9] = {'N', 0, 0, 0, 0, 0, 0, 0, 3}, v[64];
  memset(v, 0x55, sizeof v);
  raw_put_closed(dir, k, sizeof k, v, sizeof v);
  expect_corrupt(dir, &o, "block 3: recorded hash");
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_locked) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o), *s2 = NULL;
  char err[256];
  ck_assert_int_eq(store_open(dir, &o, &s2, err, sizeof err), CX_E_LOCKED);
  ck_assert_ptr_null(s2);
  ck_assert(strlen(err) > 0);
  /* Another process: a fresh exec of this binary (a forked child would
   * inherit LevelDB's in-process lock table and never reach the fcntl lock). */
  pid_t pid = fork();
  ck_assert_int_ne(pid, -1);
  if (pid == 0) {
    execl("/proc/self/exe", "test_store", "--expect-locked", dir, (char *)NULL);
    _exit(2);
  }
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
  store_close(s);
  s2 = open_ok(dir, &o); /* released on close */
  store_close(s2);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_caps) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  store_ws *ws = store_ws_new(s);
  uint8_t key[STORE_KEY_MAX + 1];
  uint8_t *big = malloc(STORE_VALUE_MAX + 1), *val = NULL;
  size_t vlen = 0;
  ck_assert_ptr_nonnull(big);
  memset(key, 'k', sizeof key);
  memset(big, 'v', STORE_VALUE_MAX + 1);
  ck_assert_int_eq(store_ws_put(ws, key, STORE_KEY_MAX + 1, big, 1), CX_E_TOO_LONG);
  ck_assert_int_eq(store_ws_put(ws, key, 1, big, STORE_VALUE_MAX + 1), CX_E_TOO_LONG);
  ck_assert_int_eq(store_ws_del(ws, key, STORE_KEY_MAX + 1), CX_E_TOO_LONG);
  ck_assert_int_eq(store_ws_get(ws, key, STORE_KEY_MAX + 1, &val, &vlen), CX_E_TOO_LONG);
  ck_assert_int_eq(store_state_get(s, key, STORE_KEY_MAX + 1, &val, &vlen), CX_E_TOO_LONG);
  ck_assert_int_eq(store_ws_put(ws, key, STORE_KEY_MAX, big, STORE_VALUE_MAX), CX_OK);
  ck_assert_int_eq(store_ws_put(ws, key, 3, big, 0), CX_OK); /* empty value is a value */
  commit_next(s, ws, 1, NULL, 0, NULL);
  ck_assert_int_eq(store_state_get(s, key, STORE_KEY_MAX, &val, &vlen), CX_OK);
  ck_assert_uint_eq(vlen, STORE_VALUE_MAX);
  ck_assert(memcmp(val, big, vlen) == 0);
  free(val);
  ck_assert_int_eq(store_state_get(s, key, 3, &val, &vlen), CX_OK);
  ck_assert_uint_eq(vlen, 0);
  free(val);
  store_close(s);
  s = open_ok(dir, &o);
  store_close(s);
  free(big);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_state_proof) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  store_ws *ws = store_ws_new(s);
  /* Enough keys that some buckets hold several entries. */
  char k[32];
  for (int i = 0; i < 2000; i++) {
    snprintf(k, sizeof k, "acct/%d", i);
    put_str(ws, k, k + 5);
  }
  commit_next(s, ws, 1, NULL, 0, NULL);
  cx_hash root;
  store_state_root(s, &root);
  for (int i = 0; i < 2010; i += 67) { /* the last few do not exist */
    snprintf(k, sizeof k, "acct/%d", i);
    store_proof p;
    ck_assert_int_eq(store_state_proof_ex(s, (const uint8_t *)k, strlen(k), &p), CX_OK);
    ck_assert_uint_eq(p.height, 1);
    ck_assert(hash_eq(&p.root, &root));
    ck_assert_msg(verify_proof(&p, &root), "proof for %s fails", k);
    int found = 0;
    for (size_t j = 0; j < p.n; j++)
      found |= p.entries[j].klen == strlen(k) && memcmp(p.entries[j].key, k, strlen(k)) == 0;
    ck_assert_int_eq(found, i < 2000);
    uint32_t b;
    cx_hash sib[STORE_BUCKET_BITS];
    ck_assert_int_eq(store_state_proof(s, (const uint8_t *)k, strlen(k), &b, sib), CX_OK);
    ck_assert_uint_eq(b, p.bucket);
    ck_assert(memcmp(sib, p.siblings, sizeof sib) == 0);
    /* A changed value or sibling no longer verifies. */
    if (p.n > 0 && p.entries[0].vlen > 0) {
      p.entries[0].val[0] ^= 1;
      ck_assert(!verify_proof(&p, &root));
      p.entries[0].val[0] ^= 1;
    }
    p.siblings[7].b[0] ^= 1;
    ck_assert(!verify_proof(&p, &root));
    store_proof_free(&p);
  }
  store_proof_free(NULL);
  store_close(s);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

typedef struct {
  store *s;
  volatile int stop;
  long reads;
  long errors;
  char what[128];
} reader_arg;

static void reader_fail(reader_arg *a, const char *what) {
  if (a->errors++ == 0) snprintf(a->what, sizeof a->what, "%s", what);
}

static void *reader_main(void *p) {
  reader_arg *a = p;
  while (!__atomic_load_n(&a->stop, __ATOMIC_ACQUIRE)) {
    uint64_t h1 = store_height(a->s);
    uint8_t *val = NULL;
    size_t vlen = 0;
    cx_err e = store_state_get(a->s, (const uint8_t *)"counter", 7, &val, &vlen);
    uint64_t h2 = store_height(a->s);
    if (e == CX_OK) {
      uint64_t v = 0;
      for (size_t i = 0; i < vlen && i < 8; i++) v = v << 8 | val[i];
      free(val);
      if (vlen != 8 || v < h1 || v > h2) reader_fail(a, "counter outside [h1, h2]");
    } else if (e != CX_E_NOT_FOUND || h1 > 0) {
      reader_fail(a, "counter missing");
    }
    if (h2 < h1) reader_fail(a, "height went backwards");
    if (h1 > 0) {
      uint8_t *buf = NULL;
      size_t len = 0;
      if (store_block_get(a->s, h1, &buf, &len) != CX_OK) reader_fail(a, "tip block missing");
      free(buf);
    }
    cx_hash r;
    store_state_root(a->s, &r);
    store_tip_hash(a->s, &r);
    a->reads++;
  }
  return NULL;
}

START_TEST(test_concurrent_readers) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  reader_arg a;
  memset(&a, 0, sizeof a);
  a.s = s;
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, reader_main, &a), 0);
  for (uint64_t h = 1; h <= 200; h++) {
    store_ws *ws = store_ws_new(s);
    uint8_t v[8], k[8];
    for (int i = 0; i < 8; i++) v[i] = (uint8_t)(h >> (56 - 8 * i));
    ck_assert_int_eq(store_ws_put(ws, (const uint8_t *)"counter", 7, v, 8), CX_OK);
    for (int j = 0; j < 10; j++) {
      tu_randbytes(k, sizeof k);
      ck_assert_int_eq(store_ws_put(ws, k, sizeof k, v, 8), CX_OK);
    }
    commit_next(s, ws, (uint8_t)h, NULL, 0, NULL);
  }
  __atomic_store_n(&a.stop, 1, __ATOMIC_RELEASE);
  pthread_join(th, NULL);
  ck_assert_msg(a.errors == 0, "%ld reader errors, first: %s", a.errors, a.what);
  ck_assert(a.reads > 0);
  ck_assert_uint_eq(store_height(s), 200);
  store_close(s);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* The state cache (storage/state_cache.h) serves repeated reads; after
 * each commit every read path must see the new value, a deletion and an
 * absent key included, and a write set sees committed values under its own. */
START_TEST(test_cache_follows_commits) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  expect_val(s, NULL, "k", NULL); /* absent, now cached as absent */
  expect_val(s, NULL, "k", NULL);
  for (int round = 1; round <= 3; round++) {
    char v[8];
    snprintf(v, sizeof v, "v%d", round);
    store_ws *ws = store_ws_new(s);
    expect_val(s, ws, "k", round == 1 ? NULL : (round == 2 ? "v1" : "v2"));
    put_str(ws, "k", v);
    put_str(ws, "other", v);
    commit_next(s, ws, (uint8_t)round, NULL, 0, NULL);
    expect_val(s, NULL, "k", v);
    expect_val(s, NULL, "k", v);
    store_ws *w2 = store_ws_new(s);
    expect_val(s, w2, "other", v);
    store_ws_free(w2);
  }
  store_ws *ws = store_ws_new(s);
  ck_assert_int_eq(store_ws_del(ws, (const uint8_t *)"k", 1), CX_OK);
  commit_next(s, ws, 9, NULL, 0, NULL);
  expect_val(s, NULL, "k", NULL);
  ws = store_ws_new(s);
  expect_val(s, ws, "k", NULL);
  store_ws_free(ws);
  /* and after a reopen (an empty cache) the same */
  store_close(s);
  s = open_ok(dir, &o);
  expect_val(s, NULL, "k", NULL);
  expect_val(s, NULL, "other", "v3");
  store_close(s);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* store_tx_get with the txid filter (storage/digest_filter.h): ids committed
 * before open come from the builder thread, ids committed after it from the
 * commit itself, and absent ids stay absent, before and after the filter is
 * ready. */
static void wait_filter(store *s) {
  for (int i = 0; i < 5000 && !store_txid_filter_ready(s); i++) usleep(1000);
  ck_assert_int_eq(store_txid_filter_ready(s), 1);
}

static void expect_txs(store *s, uint64_t lo, uint64_t hi, int present) {
  for (uint64_t h = lo; h <= hi; h++)
    for (int i = 0; i < 50; i++) {
      cx_hash id;
      store_txloc loc;
      memset(id.b, 0, 32);
      id.b[0] = (uint8_t)h;
      id.b[1] = (uint8_t)i;
      id.b[9] = (uint8_t)(h * 7 + (uint64_t)i);
      cx_err e = store_tx_get(s, &id, &loc);
      ck_assert_int_eq(e, present ? CX_OK : CX_E_NOT_FOUND);
      if (present) ck_assert_uint_eq(loc.height, h);
    }
}

static void commit_txs(store *s, uint64_t h) {
  store_txent txs[50];
  for (int i = 0; i < 50; i++) {
    memset(txs[i].txid.b, 0, 32);
    txs[i].txid.b[0] = (uint8_t)h;
    txs[i].txid.b[1] = (uint8_t)i;
    txs[i].txid.b[9] = (uint8_t)(h * 7 + (uint64_t)i);
    txs[i].code = CX_OK;
  }
  commit_next(s, store_ws_new(s), (uint8_t)h, txs, 50, NULL);
}

START_TEST(test_txid_filter_follows_commits) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  for (uint64_t h = 1; h <= 3; h++) commit_txs(s, h); /* maybe before the filter is ready */
  wait_filter(s);
  for (uint64_t h = 4; h <= 6; h++) commit_txs(s, h);
  expect_txs(s, 1, 6, 1);
  expect_txs(s, 7, 9, 0);
  store_close(s);
  s = open_ok(dir, &o);
  expect_txs(s, 1, 6, 1); /* whether or not the builder is done */
  commit_txs(s, 7);
  wait_filter(s);
  expect_txs(s, 1, 7, 1);
  expect_txs(s, 8, 9, 0);
  store_close(s);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* The txid index written behind (docs/storage.md): blocks of this test's
 * format carry their txids, parent(32) || u64be height || salt || txid(32)...,
 * so the store can read the pending ones back. */
static cx_err tb_txids(const uint8_t *blk, size_t len, cx_hash **ids, size_t *n) {
  if (len < 41 || (len - 41) % 32) return CX_E_BAD_BLOCK;
  *n = (len - 41) / 32;
  *ids = malloc((*n ? *n : 1) * sizeof **ids);
  if (!*ids) return CX_E_NOMEM;
  for (size_t i = 0; i < *n; i++) memcpy((*ids)[i].b, blk + 41 + 32 * i, 32);
  return CX_OK;
}

static void commit_tb(store *s, const store_txent *txs, size_t ntx) {
  cx_hash tip, bh;
  uint64_t h = store_height(s) + 1;
  store_tip_hash(s, &tip);
  uint8_t *b = malloc(41 + 32 * ntx);
  memcpy(b, tip.b, 32);
  for (int i = 0; i < 8; i++) b[32 + i] = (uint8_t)(h >> (56 - 8 * i));
  b[40] = 0x5a;
  for (size_t i = 0; i < ntx; i++) memcpy(b + 41 + 32 * i, txs[i].txid.b, 32);
  hash_tagged(CX_TAG_BLOCK, b, 41 + 32 * ntx, &bh);
  cx_err e = store_commit(s, store_ws_new(s), h, &bh, &tip, b, 41 + 32 * ntx, NULL, 0, txs, ntx);
  ck_assert_msg(e == CX_OK, "commit %llu: %s", (unsigned long long)h, cx_err_name(e));
  free(b);
}

/* What store_tx_get must answer: the last commit of each id wins. */
typedef struct {
  cx_hash id;
  store_txloc loc;
} tb_ref;

static void expect_ref(store *s, const tb_ref *r, size_t n) {
  for (size_t i = 0; i < n; i++) {
    store_txloc loc;
    cx_err e = store_tx_get(s, &r[i].id, &loc);
    ck_assert_msg(e == CX_OK, "txid %zu: %s", i, cx_err_name(e));
    ck_assert_uint_eq(loc.height, r[i].loc.height);
    ck_assert_uint_eq(loc.index, r[i].loc.index);
    ck_assert_int_eq(loc.code, r[i].loc.code);
  }
  cx_hash absent;
  for (int k = 0; k < 20; k++) {
    store_txloc loc;
    tu_randbytes(absent.b, 32);
    ck_assert_int_eq(store_tx_get(s, &absent, &loc), CX_E_NOT_FOUND);
  }
}

static size_t raw_count(const char *dir, uint8_t prefix) {
  leveldb_options_t *opt;
  leveldb_t *db = raw_open(dir, &opt);
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
  size_t n = 0;
  for (leveldb_iter_seek(it, (const char *)&prefix, 1); leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kl;
    if ((uint8_t)leveldb_iter_key(it, &kl)[0] != prefix) break;
    n++;
  }
  leveldb_iter_destroy(it);
  leveldb_readoptions_destroy(ro);
  raw_close(db, opt);
  return n;
}

/* Random blocks of 0..40 txids, some codes not OK, some ids committed
 * again; every id answered right after each commit and after reopens that
 * find entries pending (read back from the blocks), with a batch of 100
 * entries and then with each commit writing its own; a long run of empty
 * blocks flushes at 256 heights. */
START_TEST(test_txid_index_behind) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(1);
  o.block_txids = tb_txids;
  o.index_batch = 100;
  store *s = open_ok(dir, &o);
  size_t cap = 4096, n = 0, reopens_pending = 0;
  tb_ref *ref = calloc(cap, sizeof *ref);
  for (uint64_t h = 1; h <= 120; h++) {
    store_txent txs[40];
    size_t ntx = (size_t)(tu_rand() % 41);
    for (size_t i = 0; i < ntx; i++) {
      int again = n > 0 && tu_rand() % 8 == 0;
      size_t r = again ? (size_t)(tu_rand() % n) : n++;
      if (!again) tu_randbytes(ref[r].id.b, 32);
      for (size_t j = 0; j < i; j++) /* not twice in one block */
        if (hash_eq(&txs[j].txid, &ref[r].id)) r = n, tu_randbytes(ref[n++].id.b, 32);
      txs[i].txid = ref[r].id;
      txs[i].code = tu_rand() % 4 == 0 ? CX_E_INVALID_ARG : CX_OK;
      ref[r].loc = (store_txloc){.height = h, .index = (uint32_t)i, .code = txs[i].code};
    }
    commit_tb(s, txs, ntx);
    expect_ref(s, ref, n);
    if (h % 17 == 0 || h == 120) {
      store_close(s);
      reopens_pending += raw_count(dir, 'L') > 0;
      if (h == 120) o.index_batch = 1;
      s = open_ok(dir, &o);
      expect_ref(s, ref, n);
    }
  }
  ck_assert_uint_ge(reopens_pending, 3); /* reads back were exercised */
  commit_tb(s, NULL, 0); /* batch 1: everything under 'T' */
  store_close(s);
  ck_assert_uint_eq(raw_count(dir, 'L'), 0);
  o.index_batch = 0;
  s = open_ok(dir, &o);
  for (int i = 0; i < 300; i++) commit_tb(s, NULL, 0);
  store_close(s);
  ck_assert_uint_le(raw_count(dir, 'L'), 256);
  s = open_ok(dir, &o);
  expect_ref(s, ref, n);
  store_close(s);
  free(ref);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* A pending height whose 'L' record is gone, or whose block no longer
 * decodes to the count it names, stops the open; so does opening a store
 * with pending entries without a block decoder. */
START_TEST(test_txid_index_behind_damage) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(1);
  o.block_txids = tb_txids;
  store *s = open_ok(dir, &o);
  store_txent txs[3];
  for (int h = 0; h < 4; h++) {
    for (int i = 0; i < 3; i++) {
      tu_randbytes(txs[i].txid.b, 32);
      txs[i].code = CX_OK;
    }
    commit_tb(s, txs, 3);
  }
  store_close(s);
  store_opts plain = test_opts(1);
  store *t = NULL;
  char err[256] = "";
  ck_assert_int_eq(store_open(dir, &plain, &t, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_msg(strstr(err, "block decoder") != NULL, "%s", err);

  uint8_t k[9] = {'L', 0, 0, 0, 0, 0, 0, 0, 2};
  uint8_t bad[4] = {0, 0, 0, 4}; /* block 2 has 3 */
  raw_put_closed(dir, k, 9, bad, 4);
  expect_corrupt(dir, &o, "does not decode to the 4 transactions");

  raw_del_closed(dir, k, 9);
  expect_corrupt(dir, &o, "expected height 2's");
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* A format-1 store (every txid under 'T') opens and is marked format 2, so
 * a build that reads only format 1 refuses it; an unknown format is refused. */
START_TEST(test_format_upgrade) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(1);
  store *s = open_ok(dir, &o); /* no decoder: every commit writes its 'T' records */
  store_txent tx = {.code = CX_OK};
  tu_randbytes(tx.txid.b, 32);
  commit_tb(s, &tx, 1);
  store_close(s);
  const uint8_t fk[7] = {'M', 'f', 'o', 'r', 'm', 'a', 't'};
  raw_put_closed(dir, fk, 7, "\0\0\0\1", 4);
  o.block_txids = tb_txids;
  s = open_ok(dir, &o);
  store_txloc loc;
  ck_assert_int_eq(store_tx_get(s, &tx.txid, &loc), CX_OK);
  ck_assert_uint_eq(loc.height, 1);
  store_close(s);
  leveldb_options_t *opt;
  leveldb_t *db = raw_open(dir, &opt);
  char *err = NULL;
  size_t vl = 0;
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  char *v = leveldb_get(db, ro, (const char *)fk, 7, &vl, &err);
  ck_assert(v && vl == 4 && memcmp(v, "\0\0\0\2", 4) == 0);
  leveldb_free(v);
  leveldb_readoptions_destroy(ro);
  raw_put(db, fk, 7, "\0\0\0\3", 4);
  raw_close(db, opt);
  store *t = NULL;
  char e[256] = "";
  ck_assert_int_eq(store_open(dir, &o, &t, e, sizeof e), CX_E_BAD_VERSION);
  ck_assert_msg(strstr(e, "store format 3") != NULL, "%s", e);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* The state-key filter (digest_filter.h): more keys than the state cache
 * holds, so most reads pass it; present keys are found through commits,
 * deletes and a reopen (the filter is rebuilt by open's scan), absent ones
 * stay absent, through store_state_get and a write set. */
#define KF_KEYS 40000
static void kf_key(char *k, size_t n, int i) { snprintf(k, n, "kf/%d", i); }

static void expect_kf(store *s, int lo, int hi, int present) {
  store_ws *ws = store_ws_new(s);
  for (int i = lo; i < hi; i++) {
    char k[24];
    kf_key(k, sizeof k, i);
    expect_val(s, NULL, k, present ? k : NULL);
    if (i % 7 == 0) expect_val(s, ws, k, present ? k : NULL);
  }
  store_ws_free(ws);
}

START_TEST(test_state_key_filter) {
  char *dir = tu_tmpdir("store");
  store_opts o = test_opts(0);
  store *s = open_ok(dir, &o);
  expect_kf(s, 0, 100, 0);
  store_ws *ws = store_ws_new(s);
  for (int i = 0; i < KF_KEYS; i++) {
    char k[24];
    kf_key(k, sizeof k, i);
    put_str(ws, k, k);
  }
  commit_next(s, ws, 1, NULL, 0, NULL);
  expect_kf(s, 0, KF_KEYS, 1);
  expect_kf(s, KF_KEYS, KF_KEYS + 2000, 0);
  ws = store_ws_new(s);
  for (int i = 0; i < 1000; i++) {
    char k[24];
    kf_key(k, sizeof k, i);
    ck_assert_int_eq(store_ws_del(ws, (const uint8_t *)k, strlen(k)), CX_OK);
  }
  commit_next(s, ws, 2, NULL, 0, NULL);
  expect_kf(s, 0, 1000, 0);
  store_close(s);
  s = open_ok(dir, &o);
  expect_kf(s, 0, 1000, 0);
  expect_kf(s, 1000, KF_KEYS, 1);
  expect_kf(s, KF_KEYS, KF_KEYS + 2000, 0);
  ws = store_ws_new(s); /* a deleted key written again */
  put_str(ws, "kf/5", "kf/5");
  commit_next(s, ws, 3, NULL, 0, NULL);
  expect_kf(s, 5, 6, 1);
  store_close(s);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("store");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_fresh_reopen);
  tcase_add_test(tc, test_genesis);
  tcase_add_test(tc, test_commit_sequence);
  tcase_add_test(tc, test_commit_refused);
  tcase_add_test(tc, test_ws_read_your_writes);
  tcase_add_test(tc, test_root_random);
  tcase_add_test(tc, test_root_large);
  tcase_add_test(tc, test_corrupt_state_value);
  tcase_add_test(tc, test_corrupt_tip_record);
  tcase_add_test(tc, test_corrupt_block_bytes);
  tcase_add_test(tc, test_corrupt_hash_link);
  tcase_add_test(tc, test_locked);
  tcase_add_test(tc, test_caps);
  tcase_add_test(tc, test_state_proof);
  tcase_add_test(tc, test_concurrent_readers);
  tcase_add_test(tc, test_cache_follows_commits);
  tcase_add_test(tc, test_txid_filter_follows_commits);
  tcase_add_test(tc, test_txid_index_behind);
  tcase_add_test(tc, test_txid_index_behind_damage);
  tcase_add_test(tc, test_format_upgrade);
  tcase_add_test(tc, test_state_key_filter);
  suite_add_tcase(s, tc);
  return s;
}

/* Child mode for test_locked: 0 if dir's store is refused as locked. */
static int expect_locked(const char *dir) {
  store *s = NULL;
  char err[256] = "";
  cx_err e = store_open(dir, NULL, &s, err, sizeof err);
  store_close(s);
  if (e == CX_E_LOCKED) return 0;
  fprintf(stderr, "expected store_locked, got %s: %s\n", cx_err_name(e), err);
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--expect-locked") == 0) return expect_locked(argv[2]);
  tu_seed();
  return tu_run(suite());
}
