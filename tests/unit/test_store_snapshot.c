/* Tests for the state sync side of storage/store.c (docs/storage.md, "State
 * sync"): pinned snapshots read chunk by chunk and checked against their
 * subtree hashes, installed into a second store (round trip, reopen, base
 * behaviour, the next block on both), an install interrupted by a crash or
 * aborted (the height-0 state comes back), a wrong root refused, and chunk
 * reads of a pinned snapshot while the writer commits. */
#include <leveldb/c.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "store.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

/* Test block format (as test_store.c): parent(32) || u64be height || salt. */
static cx_err test_hasher(const uint8_t *blk, size_t len, cx_hash *hash, cx_hash *parent) {
  if (len < 40) return CX_E_BAD_BLOCK;
  hash_tagged(CX_TAG_BLOCK, blk, len, hash);
  memcpy(parent->b, blk, 32);
  return CX_OK;
}

static store_opts opts(void) {
  store_opts o;
  memset(&o, 0, sizeof o);
  o.block_hasher = test_hasher;
  return o;
}

static store *open_ok(const char *dir) {
  store *s = NULL;
  char err[256];
  store_opts o = opts();
  cx_err e = store_open(dir, &o, &s, err, sizeof err);
  ck_assert_msg(e == CX_OK, "store_open: %s: %s", cx_err_name(e), err);
  return s;
}

static void put(store_ws *ws, const char *k, const char *v) {
  ck_assert_int_eq(store_ws_put(ws, (const uint8_t *)k, strlen(k), (const uint8_t *)v, strlen(v)),
                   CX_OK);
}

static void expect(store *s, const char *k, const char *v) {
  uint8_t *val = NULL;
  size_t vl = 0;
  cx_err e = store_state_get(s, (const uint8_t *)k, strlen(k), &val, &vl);
  if (!v) {
    ck_assert_msg(e == CX_E_NOT_FOUND, "%s: expected absent, got %s", k, cx_err_name(e));
    return;
  }
  ck_assert_msg(e == CX_OK, "%s: %s", k, cx_err_name(e));
  ck_assert_uint_eq(vl, strlen(v));
  ck_assert(memcmp(val, v, vl) == 0);
  free(val);
}

static const cx_hash CHAIN = {{7, 7, 7}};

/* A store with a genesis state of `ng` entries "g<i>". */
static store *genesis_store(const char *dir, int ng) {
  store *s = open_ok(dir);
  store_ws *ws = store_ws_new(s);
  char k[32], v[32];
  for (int i = 0; i < ng; i++) {
    snprintf(k, sizeof k, "g%d", i);
    snprintf(v, sizeof v, "genesis-%d", i);
    put(ws, k, v);
  }
  ck_assert_int_eq(store_init_genesis(s, ws, &CHAIN), CX_OK);
  store_ws_free(ws);
  return s;
}

/* Commits the next block (consumes ws). */
static void commit(store *s, store_ws *ws, uint8_t salt) {
  uint8_t b[41];
  cx_hash tip, h;
  uint64_t height = store_height(s) + 1;
  store_tip_hash(s, &tip);
  memcpy(b, tip.b, 32);
  for (int i = 0; i < 8; i++) b[32 + i] = (uint8_t)(height >> (56 - 8 * i));
  b[40] = salt;
  hash_tagged(CX_TAG_BLOCK, b, sizeof b, &h);
  uint8_t cert[4] = {salt, 9, 9, 9};
  cx_err e = store_commit(s, ws, height, &h, &tip, b, sizeof b, cert, sizeof cert, NULL, 0);
  ck_assert_msg(e == CX_OK, "commit %llu: %s", (unsigned long long)height, cx_err_name(e));
}

/* Commits `blocks` blocks of random writes over keys "k<0..nkeys)" (some
 * deleted, some values up to 3000 bytes), the same sequence for the same
 * rng state. */
static void fill(store *s, int blocks, int nkeys) {
  char k[32];
  uint8_t v[3000];
  for (int b = 0; b < blocks; b++) {
    store_ws *ws = store_ws_new(s);
    for (int i = 0; i < 200; i++) {
      snprintf(k, sizeof k, "k%d", (int)(tu_rand() % (uint64_t)nkeys));
      if (tu_rand() % 10 == 0) {
        ck_assert_int_eq(store_ws_del(ws, (const uint8_t *)k, strlen(k)), CX_OK);
        continue;
      }
      size_t vl = tu_rand() % 8 == 0 ? 1000 + tu_rand() % 2000 : tu_rand() % 40;
      tu_randbytes(v, vl);
      ck_assert_int_eq(store_ws_put(ws, (const uint8_t *)k, strlen(k), v, vl), CX_OK);
    }
    commit(s, ws, (uint8_t)b);
  }
}

/* One chunk, paged: the entries (copies) and the pages it took. */
typedef struct {
  store_kv *v;
  size_t n, cap;
  size_t page_n;
} kvs;

static void kv_add(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  kvs *a = ctx;
  if (a->n == a->cap) {
    a->cap = a->cap ? 2 * a->cap : 64;
    a->v = realloc(a->v, a->cap * sizeof *a->v);
    ck_assert_ptr_nonnull(a->v);
  }
  store_kv *e = &a->v[a->n++];
  e->key = malloc(kl ? kl : 1);
  e->val = malloc(vl ? vl : 1);
  ck_assert(e->key && e->val);
  if (kl) memcpy(e->key, k, kl);
  if (vl) memcpy(e->val, v, vl);
  e->klen = kl;
  e->vlen = vl;
  a->page_n++;
}

static void kvs_free(kvs *a) {
  for (size_t i = 0; i < a->n; i++) {
    free(a->v[i].key);
    free(a->v[i].val);
  }
  free(a->v);
  memset(a, 0, sizeof *a);
}

/* Reads chunk c in pages of at most `budget` bytes; returns the page count. */
static unsigned read_chunk(store_snap *p, unsigned c, size_t budget, kvs *out) {
  unsigned pages = 0;
  int more = 1;
  while (more) {
    const store_kv *last = out->n ? &out->v[out->n - 1] : NULL;
    out->page_n = 0;
    cx_err e = store_snap_chunk(p, c, last != NULL, last ? last->key : NULL,
                                last ? last->klen : 0, budget, 1000, kv_add, out, &more);
    ck_assert_int_eq(e, CX_OK);
    if (more) ck_assert_uint_gt(out->page_n, 0); /* a page with more is never empty */
    pages++;
  }
  return pages;
}

/* The subtree hash of chunk c from its entries (in order, each in c). */
static void chunk_hash(unsigned c, const kvs *a, cx_hash *out) {
  cx_hash buckets[STORE_SNAP_CHUNK_BUCKETS];
  memset(buckets, 0, sizeof buckets);
  size_t i = 0;
  while (i < a->n) {
    uint16_t b = store_key_bucket(a->v[i].key, a->v[i].klen);
    ck_assert_uint_eq(b / STORE_SNAP_CHUNK_BUCKETS, c);
    store_bucket_acc acc;
    store_bucket_begin(&acc);
    for (; i < a->n && store_key_bucket(a->v[i].key, a->v[i].klen) == b; i++)
      store_bucket_add(&acc, a->v[i].key, a->v[i].klen, a->v[i].val, a->v[i].vlen);
    store_bucket_end(&acc, &buckets[b % STORE_SNAP_CHUNK_BUCKETS]);
  }
  store_fold(buckets, STORE_SNAP_CHUNK_BUCKETS, out);
}

/* Installs src's pinned snapshot into dst chunk by chunk (each chunk
 * checked against the subtree hash first); finish is left to the caller
 * when stop_before_finish. Returns the number of entries. */
static size_t install_from(store *src, store_snap *p, store *dst, unsigned upto) {
  const store_snap_info *in = store_snap_info_of(p);
  size_t total = 0;
  ck_assert_int_eq(store_install_begin(dst, in->height), CX_OK);
  for (unsigned c = 0; c < upto; c++) {
    kvs a = {0};
    read_chunk(p, c, c % 2 ? 512 : 1u << 20, &a);
    cx_hash h;
    chunk_hash(c, &a, &h);
    ck_assert_msg(hash_eq(&h, &in->subtrees[c]), "chunk %u does not match its subtree hash", c);
    ck_assert_int_eq(store_install_chunk(dst, c, a.v, a.n), CX_OK);
    total += a.n;
    kvs_free(&a);
  }
  (void)src;
  return total;
}

static void finish_from(store *src, store_snap *p, store *dst, cx_err want) {
  const store_snap_info *in = store_snap_info_of(p);
  uint8_t *blk = NULL, *cert = NULL;
  size_t bl = 0, cl = 0;
  ck_assert_int_eq(store_block_get(src, in->height, &blk, &bl), CX_OK);
  ck_assert_int_eq(store_cert_get(src, in->height, &cert, &cl), CX_OK);
  cx_hash parent;
  memcpy(parent.b, blk, 32);
  char err[256] = "";
  cx_err e = store_install_finish(dst, in->height, &in->tip, &parent, &in->root, blk, bl, cert, cl,
                                  err, sizeof err);
  ck_assert_msg(e == want, "finish: %s (%s), wanted %s", cx_err_name(e), err, cx_err_name(want));
  free(blk);
  free(cert);
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_fold_is_root) {
  char *d = tu_tmpdir("snap");
  store *s = genesis_store(d, 20);
  fill(s, 5, 500);
  store_snap *p = NULL;
  ck_assert_int_eq(store_snap_pin(s, &p), CX_OK);
  const store_snap_info *in = store_snap_info_of(p);
  cx_hash root, f;
  store_state_root(s, &root);
  store_fold(in->subtrees, STORE_SNAP_CHUNKS, &f);
  ck_assert(hash_eq(&f, &root) && hash_eq(&in->root, &root));
  ck_assert_uint_eq(in->height, 5);
  /* after-key semantics: a key of a later chunk gives nothing, of an
   * earlier one the chunk's start */
  kvs a = {0}, b = {0};
  read_chunk(p, 100, 1u << 20, &a);
  int more = 0;
  const char *probe = NULL;
  char kb[32];
  for (int i = 0; i < 20000 && !probe; i++) {
    snprintf(kb, sizeof kb, "x%d", i);
    if (store_key_bucket((const uint8_t *)kb, strlen(kb)) / STORE_SNAP_CHUNK_BUCKETS == 200)
      probe = kb;
  }
  ck_assert_ptr_nonnull(probe);
  ck_assert_int_eq(store_snap_chunk(p, 100, 1, (const uint8_t *)probe, strlen(probe), 1u << 20,
                                    1000, kv_add, &b, &more), CX_OK);
  ck_assert_uint_eq(b.n, 0);
  for (int i = 0;; i++) {
    ck_assert_int_lt(i, 20000);
    snprintf(kb, sizeof kb, "y%d", i);
    if (store_key_bucket((const uint8_t *)kb, strlen(kb)) / STORE_SNAP_CHUNK_BUCKETS == 3) break;
  }
  ck_assert_int_eq(store_snap_chunk(p, 100, 1, (const uint8_t *)kb, strlen(kb), 1u << 20, 1000,
                                    kv_add, &b, &more), CX_OK);
  ck_assert_uint_eq(b.n, a.n);
  ck_assert_int_eq(more, 0);
  kvs_free(&a);
  kvs_free(&b);
  /* max_entries pages too */
  read_chunk(p, 7, 1u << 20, &a);
  if (a.n > 2) {
    ck_assert_int_eq(store_snap_chunk(p, 7, 0, NULL, 0, 1u << 20, 2, kv_add, &b, &more), CX_OK);
    ck_assert_uint_eq(b.n, 2);
    ck_assert_int_eq(more, 1);
  }
  kvs_free(&a);
  kvs_free(&b);
  store_snap_unpin(p);
  store_close(s);
  tu_rmrf(d);
  free(d);
}
END_TEST

START_TEST(test_install_round_trip) {
  char *da = tu_tmpdir("snapA"), *db = tu_tmpdir("snapB");
  store *a = genesis_store(da, 30);
  fill(a, 8, 3000);
  store *b = genesis_store(db, 5);
  cx_hash groot;
  store_state_root(b, &groot);
  store_snap *p = NULL;
  ck_assert_int_eq(store_snap_pin(a, &p), CX_OK);
  const store_snap_info *in = store_snap_info_of(p);
  size_t n = install_from(a, p, b, STORE_SNAP_CHUNKS);
  ck_assert_uint_gt(n, 1000);
  /* readers still see the height-0 state until the finish */
  cx_hash r;
  store_state_root(b, &r);
  ck_assert(hash_eq(&r, &groot));
  expect(b, "g1", "genesis-1");
  ck_assert_uint_eq(store_height(b), 0);
  /* no block can be committed meanwhile */
  store_ws *ws = store_ws_new(b);
  uint8_t blk[41] = {0};
  cx_hash bh, zero = {{0}};
  hash_tagged(CX_TAG_BLOCK, blk, sizeof blk, &bh);
  ck_assert_int_eq(store_commit(b, ws, 1, &bh, &zero, blk, sizeof blk, NULL, 0, NULL, 0),
                   CX_E_HEIGHT);
  finish_from(a, p, b, CX_OK);
  ck_assert_uint_eq(store_height(b), in->height);
  ck_assert_uint_eq(store_base(b), in->height);
  ck_assert_uint_eq(store_base(a), 0);
  store_state_root(b, &r);
  ck_assert(hash_eq(&r, &in->root));
  store_tip_hash(b, &r);
  ck_assert(hash_eq(&r, &in->tip));
  expect(b, "g1", "genesis-1"); /* a's genesis had it too */
  expect(b, "g29", "genesis-29");
  uint8_t *v = NULL;
  size_t vl;
  ck_assert_int_eq(store_block_get(b, in->height, &v, &vl), CX_OK);
  free(v);
  ck_assert_int_eq(store_block_get(b, in->height - 1, &v, &vl), CX_E_NOT_FOUND);
  ck_assert_int_eq(store_cert_get(b, 1, &v, &vl), CX_E_NOT_FOUND);
  ck_assert_int_eq(store_block_hash(b, in->height - 1, &r), CX_E_NOT_FOUND);
  ck_assert_int_eq(store_block_hash(b, in->height, &r), CX_OK);
  char err[256];
  ck_assert_msg(store_verify_all(b, err, sizeof err) == CX_OK, "verify_all: %s", err);
  /* the same next block on both gives the same root */
  for (int side = 0; side < 2; side++) {
    store *s = side ? b : a;
    store_ws *w = store_ws_new(s);
    put(w, "k1", "next");
    put(w, "new", "key");
    commit(s, w, 99);
  }
  cx_hash ra, rb;
  store_state_root(a, &ra);
  store_state_root(b, &rb);
  ck_assert(hash_eq(&ra, &rb));
  uint64_t base = in->height;
  store_snap_unpin(p);
  store_close(b);
  /* reopens: the start-up check stops at the base */
  b = open_ok(db);
  ck_assert_uint_eq(store_base(b), base);
  ck_assert_uint_eq(store_height(b), base + 1);
  store_state_root(b, &rb);
  ck_assert(hash_eq(&ra, &rb));
  ck_assert_msg(store_verify_all(b, err, sizeof err) == CX_OK, "verify_all: %s", err);
  /* a second install is refused */
  ck_assert_int_eq(store_install_begin(b, 50), CX_E_EXISTS);
  store_close(a);
  store_close(b);
  tu_rmrf(da);
  tu_rmrf(db);
  free(da);
  free(db);
}
END_TEST

START_TEST(test_install_interrupted) {
  char *da = tu_tmpdir("snapA"), *db = tu_tmpdir("snapB");
  store *a = genesis_store(da, 10);
  fill(a, 4, 800);
  store *b = genesis_store(db, 12);
  cx_hash groot, r;
  store_state_root(b, &groot);
  store_snap *p = NULL;
  ck_assert_int_eq(store_snap_pin(a, &p), CX_OK);
  install_from(a, p, b, 100);
  store_close(b); /* a crash in the middle: the marker is set */
  b = open_ok(db);
  ck_assert_uint_eq(store_height(b), 0);
  ck_assert_uint_eq(store_base(b), 0);
  store_state_root(b, &r);
  ck_assert(hash_eq(&r, &groot));
  ck_assert_int_eq(store_chain_id(b, &r), CX_OK);
  ck_assert(hash_eq(&r, &CHAIN));
  expect(b, "g11", "genesis-11");
  expect(b, "k1", NULL);
  char err[256];
  ck_assert_msg(store_verify_all(b, err, sizeof err) == CX_OK, "verify_all: %s", err);
  /* aborted at run time: the same */
  install_from(a, p, b, 50);
  ck_assert_int_eq(store_install_abort(b), CX_OK);
  store_state_root(b, &r);
  ck_assert(hash_eq(&r, &groot));
  expect(b, "g3", "genesis-3");
  ck_assert_int_eq(store_install_abort(b), CX_E_INVALID_ARG);
  store_ws *ws = store_ws_new(b);
  put(ws, "after", "abort");
  commit(b, ws, 1); /* block 1 on the height-0 state */
  expect(b, "after", "abort");
  store_close(b);
  b = open_ok(db);
  ck_assert_uint_eq(store_height(b), 1);
  store_close(b);
  store_snap_unpin(p);
  store_close(a);
  tu_rmrf(da);
  tu_rmrf(db);
  free(da);
  free(db);
}
END_TEST

START_TEST(test_install_refusals) {
  char *da = tu_tmpdir("snapA"), *db = tu_tmpdir("snapB");
  store *a = genesis_store(da, 10);
  fill(a, 3, 400);
  store *b = genesis_store(db, 3);
  ck_assert_int_eq(store_install_begin(a, 9), CX_E_EXISTS); /* a has blocks */
  ck_assert_int_eq(store_install_chunk(b, 0, NULL, 0), CX_E_INVALID_ARG); /* not begun */
  store_snap *p = NULL;
  ck_assert_int_eq(store_snap_pin(a, &p), CX_OK);
  install_from(a, p, b, STORE_SNAP_CHUNKS);
  ck_assert_int_eq(store_install_begin(b, 3), CX_E_EXISTS); /* one at a time */
  /* a key in the wrong chunk */
  char kb[16];
  unsigned c = 0;
  snprintf(kb, sizeof kb, "zz");
  c = store_key_bucket((const uint8_t *)kb, 2) / STORE_SNAP_CHUNK_BUCKETS;
  store_kv kv = {(uint8_t *)kb, 2, (uint8_t *)"v", 1};
  ck_assert_int_eq(store_install_chunk(b, (c + 1) % STORE_SNAP_CHUNKS, &kv, 1), CX_E_INVALID_ARG);
  /* an extra entry in its own chunk: the root no longer matches */
  kvs cur = {0};
  read_chunk(p, c, 1u << 20, &cur);
  kv_add(&cur, (const uint8_t *)kb, 2, (const uint8_t *)"v", 1);
  /* keep (bucket, key) order for the store: it sorts by itself anyway */
  ck_assert_int_eq(store_install_chunk(b, c, cur.v, cur.n), CX_OK);
  finish_from(a, p, b, CX_E_BAD_ROOT);
  ck_assert_uint_eq(store_height(b), 0);
  /* the right chunk again: finish succeeds */
  cur.n--;
  free(cur.v[cur.n].key);
  free(cur.v[cur.n].val);
  ck_assert_int_eq(store_install_chunk(b, c, cur.v, cur.n), CX_OK);
  kvs_free(&cur);
  /* wrong block bytes for the hash */
  const store_snap_info *in = store_snap_info_of(p);
  uint8_t junk[41] = {1};
  char err[256];
  ck_assert_int_eq(store_install_finish(b, in->height, &in->tip, &in->tip, &in->root, junk,
                                        sizeof junk, NULL, 0, err, sizeof err), CX_E_BAD_BLOCK);
  finish_from(a, p, b, CX_OK);
  store_snap_unpin(p);
  store_close(a);
  store_close(b);
  tu_rmrf(da);
  tu_rmrf(db);
  free(da);
  free(db);
}
END_TEST

typedef struct {
  store *s;
  store_snap *p;
  volatile int stop;
  int rounds, bad;
} rd_arg;

static void *reader(void *arg) {
  rd_arg *r = arg;
  const store_snap_info *in = store_snap_info_of(r->p);
  while (!r->stop) {
    cx_hash sub[STORE_SNAP_CHUNKS];
    for (unsigned c = 0; c < STORE_SNAP_CHUNKS; c++) {
      kvs a = {0};
      int more = 1;
      while (more) {
        const store_kv *last = a.n ? &a.v[a.n - 1] : NULL;
        if (store_snap_chunk(r->p, c, last != NULL, last ? last->key : NULL, last ? last->klen : 0,
                             4096, 1000, kv_add, &a, &more) != CX_OK) {
          r->bad++;
          break;
        }
      }
      chunk_hash(c, &a, &sub[c]);
      kvs_free(&a);
    }
    cx_hash f;
    store_fold(sub, STORE_SNAP_CHUNKS, &f);
    if (!hash_eq(&f, &in->root)) r->bad++;
    r->rounds++;
  }
  return NULL;
}

START_TEST(test_pinned_while_committing) {
  char *d = tu_tmpdir("snap");
  store *s = genesis_store(d, 10);
  fill(s, 3, 1000);
  store_snap *p = NULL, *q = NULL;
  ck_assert_int_eq(store_snap_pin(s, &p), CX_OK);
  ck_assert_int_eq(store_snap_pin(s, &q), CX_OK); /* left pinned: store_close frees it */
  rd_arg r = {s, p, 0, 0, 0};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, reader, &r), 0);
  fill(s, 10, 1000); /* the writer goes on */
  while (r.rounds < 2) fill(s, 1, 1000);
  r.stop = 1;
  pthread_join(th, NULL);
  ck_assert_int_eq(r.bad, 0);
  cx_hash now;
  store_state_root(s, &now);
  ck_assert(!hash_eq(&now, &store_snap_info_of(p)->root));
  ck_assert_uint_eq(store_snap_info_of(p)->height, 3);
  store_snap_unpin(p);
  store_close(s);
  tu_rmrf(d);
  free(d);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("store_snapshot");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_fold_is_root);
  tcase_add_test(tc, test_install_round_trip);
  tcase_add_test(tc, test_install_interrupted);
  tcase_add_test(tc, test_install_refusals);
  tcase_add_test(tc, test_pinned_while_committing);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
