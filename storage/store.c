/* storage: LevelDB-backed block store and authenticated state (see store.h and
 * docs/storage.md for the key layout, commit protocol and start-up checks). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <leveldb/c.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "digest_filter.h"
#include "ldb.h"
#include "log.h"
#include "state_cache.h"

#define MOD "store"

/* One-byte key prefixes (docs/storage.md). */
enum {
  P_BLOCK = 'B', /* u64be height            -> block bytes */
  P_CERT = 'C',  /* u64be height            -> certificate bytes (may be empty) */
  P_HASH = 'H',  /* block hash (32)         -> u64be height */
  P_NREC = 'N',  /* u64be height            -> block hash || parent hash */
  P_TX = 'T',    /* txid (32)               -> u64be height || u32be index || i32be code */
  P_TXL = 'L',   /* u64be height            -> u32be ntx || (u32be index || i32be code) for
                  * each code not OK; heights above the txid index mark only (docs/storage.md,
                  * "The txid index, written behind") */
  P_STATE = 'S', /* u16be bucket || key     -> value */
  P_META = 'M',  /* name                    -> meta record */
  P_AUX = 'A',   /* name                    -> a record of the node's own (store_aux_put) */
  P_SAVED = 'G', /* u16be bucket || key     -> value: the height-0 state kept aside
                  * while a snapshot is installed (docs/storage.md, "State sync") */
};

#define META_FORMAT "format" /* u32be format version */
#define META_TIP "tip"       /* u64be height || tip hash || state root */
#define META_CHAIN "chain"   /* chain id (32) */
#define META_BASE "base"     /* u64be: the lowest stored block of a state-synced store */
#define META_RESTORING "restoring" /* u64be: height of a snapshot install under way */
#define META_TXMARK "txmark" /* u64be: every txid of a block up to here is under 'T' */
/* 2: the txid index written behind ('L', M "txmark"). A format-1 store is
 * upgraded in place at open (it has every entry under 'T'); builds that
 * read format 1 only then refuse it rather than miss pending txids. */
#define FORMAT_VERSION 2u
#define TIP_LEN (8 + 32 + 32)
#define NREC_LEN 64
#define TXLOC_LEN 16
#define TXL_ENT 8 /* u32be index || i32be code, after a u32be count */
/* The txid index's write-behind (docs/storage.md, "The txid index, written
 * behind"): pending entries go to LevelDB, sorted, once this many have
 * gathered or this many heights have passed since the last such write. */
#define TXIDX_BATCH 8192u
#define TXIDX_HEIGHTS 256u
#define STATE_KEY_PREFIX 3 /* 'S' + u16be bucket */
#define STATE_CACHE_SLOTS (1u << 14) /* ~3.8 MB (state_cache.h) */
#define TREE_NODES (2u * STORE_BUCKETS) /* node 1 = root, node STORE_BUCKETS+b = bucket b */
#define DEFAULT_CHECK_DEPTH 64
#define STORE_WRITE_BUFFER ((size_t)16 << 20)
/* Each absent-key filter (digest_filter.h): a first level of 2 MB (1M
 * digests), four levels and 85M digests at most. */
#define FILTER_FIRST ((size_t)1 << 20)
#define FILTER_MAX_BYTES ((size_t)192 << 20)
#define MAX_PARTS 8        /* threads for one root computation, a power of two */
#define PAR_MIN_BUCKETS 256 /* dirty buckets per thread below which one is enough */

enum { MID_LEAF, MID_BUCKET, MID_NODE, MID_KEY, MID_COUNT };

/* A published LevelDB snapshot. Readers pin it (refs) for the duration of one
 * call, so a commit can publish a new one without waiting for them; the last
 * reader of a superseded snapshot releases it. */
typedef struct {
  const leveldb_snapshot_t *snap;
  leveldb_readoptions_t *ro;
  unsigned refs;
} snapref;

/* A pending txid index entry; seq orders the entries of one flush. */
typedef struct {
  cx_hash txid;
  uint64_t height;
  uint32_t index;
  int32_t code;
  uint64_t seq;
} txent;

/* Pending entries, append-only between flushes, and an open-addressing
 * table (slot = entry position + 1, 0 empty) whose hits are the newest
 * entry of a txid: a txid committed twice answers as LevelDB's last put
 * would. */
typedef struct {
  txent *v;
  size_t n, cap;
  uint32_t *slot;
  size_t mask; /* slots - 1; slots a power of two, at least 2n */
} txpend;

struct store {
  int lockfd; /* DIR/chain.lock, flock()ed for the store's lifetime */
  leveldb_t *db;
  leveldb_options_t *opt;
  leveldb_cache_t *cache;
  leveldb_filterpolicy_t *filter;
  leveldb_readoptions_t *ro;      /* latest state: writer thread and open */
  leveldb_readoptions_t *ro_scan; /* full scans: no block-cache pollution */
  leveldb_writeoptions_t *wo;     /* commits: sync = opts.sync */
  leveldb_writeoptions_t *wo_sync;
  store_opts opts;
  hash_ctx mid[MID_COUNT];               /* tag midstates, immutable after open */
  cx_hash empty[STORE_BUCKET_BITS + 1];  /* hash of an empty subtree per height */

  /* mu guards everything below against readers. Only the writer thread
   * modifies these (under mu); it may read them without mu. */
  pthread_mutex_t mu;
  int mu_ok;
  uint64_t height;
  cx_hash tip;
  cx_hash root;
  int has_chain;
  cx_hash chain_id;
  cx_hash *tree; /* TREE_NODES hashes */
  snapref *cur;
  uint64_t epoch; /* bumped by every successful write: invalidates ws memos */
  uint32_t nparts; /* threads for a large root computation (power of two) */
  uint64_t base;   /* lowest stored block (0: every block from 1) */
  struct store_snap *pins; /* pinned snapshots (store_snap_pin), freed at close */
  int installing;  /* writer only: store_install_begin .. finish/abort */
  state_cache *sc; /* committed state entries (state_cache.h); odd generation while installing */

  /* Committed txids (digest_filter.h): commits add theirs before writing;
   * the thread adds those committed before open, from a snapshot. */
  digest_filter *txf;
  digest_filter *kf; /* digests of state keys present since open (digest_filter.h) */
  pthread_t txf_thread;
  int txf_started;
  atomic_int txf_stop;

  /* The txid index's pending part: entries of the blocks above txmark,
   * durable in their 'L' records, not yet under 'T'. Changed by the writer
   * under mu together with the snapshot it belongs to; readers look here
   * first, under mu. */
  txpend pend;
  uint64_t txmark;
  int has_txmark;   /* META_TXMARK is stored */
  unsigned txbatch; /* opts.index_batch or TXIDX_BATCH */
};

struct store_snap {
  store *s;
  snapref *r;
  struct store_snap *next; /* in s->pins, under mu */
  store_snap_info info;
};

/* A changed tree node: node index and its new hash. */
typedef struct {
  uint32_t node;
  cx_hash h;
} tnode;

typedef struct {
  tnode *v;
  size_t n;
  cx_hash root;
} tdelta;

typedef enum { WS_NONE = 0, WS_PUT, WS_DEL } ws_state;

typedef struct {
  uint8_t *key;
  size_t klen;
  uint64_t fp; /* FNV-1a of the key, for the hash map */
  cx_hash kd;    /* key_digest: the filter's digest, and the bucket (digest_bucket) */
  uint8_t state; /* ws_state; WS_NONE after a rollback of its only write */
  uint8_t *val;
  size_t vlen;
} ws_ent;

typedef struct {
  uint32_t ent;
  uint8_t state;
  uint8_t *val; /* owned: the value the write replaced */
  size_t vlen;
} ws_undo;

struct store_ws {
  store *s;
  ws_ent *ents;
  size_t n, cap;
  uint32_t *slots; /* open addressing; 0 = empty, else entry index + 1 */
  size_t nslots;   /* power of two */
  ws_undo *undo;
  size_t nundo, capundo;
  /* The last computed delta, reused while neither the write set (gen) nor
   * the committed state (store epoch) changed: the usual flow computes the
   * root to build or check a block, then commits the same write set. */
  uint64_t gen;
  int memo_ok;
  uint64_t memo_gen, memo_epoch;
  tdelta memo;
};

/* ---- small helpers ---------------------------------------------------- */

static void seterr(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *buf, size_t len, const char *fmt, ...) {
  if (!buf || len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, len, fmt, ap);
  va_end(ap);
}

/* malloc'd copy; never NULL for len 0 so callers can always free(). */
static uint8_t *dup_bytes(const void *p, size_t len) {
  uint8_t *d = malloc(len ? len : 1);
  if (d && len) memcpy(d, p, len);
  return d;
}

/* memcmp order, shorter first on a common prefix: LevelDB's bytewise order. */
static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  size_t m = al < bl ? al : bl;
  int c = m ? memcmp(a, b, m) : 0;
  if (c) return c;
  return al < bl ? -1 : al > bl ? 1 : 0;
}

/* ---- hashing (midstates: the 64-byte tag prefix is hashed once) --------- */

static void init_mids(store *s) {
  static const cx_tag tags[MID_COUNT] = {CX_TAG_STATE_LEAF, CX_TAG_STATE_BUCKET,
                                         CX_TAG_STATE_NODE, CX_TAG_STATE_KEY};
  for (int i = 0; i < MID_COUNT; i++) hash_ctx_init(&s->mid[i], tags[i]);
}

/* H_STATE_KEY(k): its first two bytes are the bucket; all of it is the
 * key's digest in the state-key filter (digest_filter.h). */
static uint16_t digest_bucket(const cx_hash *h) { return (uint16_t)(h->b[0] << 8 | h->b[1]); }

static uint16_t ent_bucket(const ws_ent *en) { return digest_bucket(&en->kd); }

static uint16_t key_digest(const store *s, const uint8_t *k, size_t kl, cx_hash *h) {
  hash_ctx c = s->mid[MID_KEY];
  hash_ctx_update(&c, k, kl);
  hash_ctx_final(&c, h);
  return digest_bucket(h);
}

static uint16_t key_bucket(const store *s, const uint8_t *k, size_t kl) {
  cx_hash h;
  return key_digest(s, k, kl, &h);
}

/* 1 if filter f (the txids or the state keys) says digest d was certainly
 * never present: the read can answer "absent" without LevelDB. */
static int surely_absent(digest_filter *f, const cx_hash *d) {
  return f && df_ready(f) && !df_maybe(f, d->b);
}

static void node_hash(const store *s, const cx_hash *l, const cx_hash *r, cx_hash *out) {
  uint8_t buf[64];
  memcpy(buf, l->b, 32);
  memcpy(buf + 32, r->b, 32);
  hash_ctx c = s->mid[MID_NODE];
  hash_ctx_update(&c, buf, 64);
  hash_ctx_final(&c, out);
}

/* Streams the leaves of one bucket into its hash. */
typedef store_bucket_acc bucket_acc;

static void bucket_init(const store *s, bucket_acc *a) {
  a->c = s->mid[MID_BUCKET];
  a->n = 0;
}

/* leaf(k, v) into the bucket's hash; c is the H_STATE_LEAF context. */
static void bucket_leaf(bucket_acc *a, hash_ctx *c, const uint8_t *k, size_t kl,
                        const uint8_t *v, size_t vl) {
  uint8_t len[4];
  cx_hash leaf;
  put_be32(len, (uint32_t)kl);
  hash_ctx_update(c, len, 4);
  hash_ctx_update(c, k, kl);
  put_be32(len, (uint32_t)vl);
  hash_ctx_update(c, len, 4);
  hash_ctx_update(c, v, vl);
  hash_ctx_final(c, &leaf);
  hash_ctx_update(&a->c, leaf.b, 32);
  a->n++;
}

static void bucket_add(const store *s, bucket_acc *a, const uint8_t *k, size_t kl,
                       const uint8_t *v, size_t vl) {
  hash_ctx c = s->mid[MID_LEAF];
  bucket_leaf(a, &c, k, kl, v, vl);
}

static void bucket_final(bucket_acc *a, cx_hash *out) {
  if (a->n == 0) {
    memset(out, 0, sizeof *out); /* empty bucket: 32 zero bytes, by definition */
    return;
  }
  hash_ctx_final(&a->c, out);
}

/* ---- the same hashing without a store (state sync clients) ------------- */

uint16_t store_key_bucket(const uint8_t *key, size_t klen) {
  cx_hash h;
  hash_tagged(CX_TAG_STATE_KEY, key, klen, &h);
  return (uint16_t)(h.b[0] << 8 | h.b[1]);
}

void store_bucket_begin(store_bucket_acc *a) {
  hash_ctx_init(&a->c, CX_TAG_STATE_BUCKET);
  a->n = 0;
}

void store_bucket_add(store_bucket_acc *a, const uint8_t *key, size_t klen, const uint8_t *val,
                      size_t vlen) {
  hash_ctx c;
  hash_ctx_init(&c, CX_TAG_STATE_LEAF);
  bucket_leaf(a, &c, key, klen, val, vlen);
}

void store_bucket_end(store_bucket_acc *a, cx_hash *out) { bucket_final(a, out); }

void store_fold(const cx_hash *nodes, size_t n, cx_hash *out) {
  cx_hash lvl[STORE_SNAP_CHUNKS];
  CX_ASSERT(n >= 1 && n <= STORE_SNAP_CHUNKS && (n & (n - 1)) == 0);
  memcpy(lvl, nodes, n * sizeof *lvl);
  for (; n > 1; n /= 2)
    for (size_t i = 0; i < n / 2; i++) {
      uint8_t buf[64];
      hash_ctx c;
      memcpy(buf, lvl[2 * i].b, 32);
      memcpy(buf + 32, lvl[2 * i + 1].b, 32);
      hash_ctx_init(&c, CX_TAG_STATE_NODE);
      hash_ctx_update(&c, buf, 64);
      hash_ctx_final(&c, &lvl[i]);
    }
  *out = lvl[0];
}

static void init_empty(store *s) {
  memset(&s->empty[0], 0, sizeof s->empty[0]);
  for (int i = 1; i <= STORE_BUCKET_BITS; i++)
    node_hash(s, &s->empty[i - 1], &s->empty[i - 1], &s->empty[i]);
}

/* Fills the internal nodes from the bucket hashes already in tree. Subtrees
 * of empty buckets are copied from s->empty instead of hashed: most buckets
 * of a small state are empty. */
static void tree_build(const store *s, cx_hash *tree) {
  for (unsigned h = 1; h <= STORE_BUCKET_BITS; h++) {
    uint32_t first = STORE_BUCKETS >> h;
    const cx_hash *e = &s->empty[h - 1];
    for (uint32_t n = first; n < 2 * first; n++) {
      const cx_hash *l = &tree[2 * n], *r = &tree[2 * n + 1];
      if (hash_eq(l, e) && hash_eq(r, e))
        tree[n] = s->empty[h];
      else
        node_hash(s, l, r, &tree[n]);
    }
  }
}

/* ---- LevelDB access ----------------------------------------------------- */

/* CX_OK with a malloc'd copy, CX_E_NOT_FOUND, or the mapped LevelDB error. */
static cx_err db_get(store *s, const leveldb_readoptions_t *ro, const uint8_t *k, size_t kl,
                     uint8_t **val, size_t *vlen) {
  char *err = NULL;
  size_t n = 0;
  char *v = leveldb_get(s->db, ro, (const char *)k, kl, &n, &err);
  if (err) {
    cx_err e = ldb_map_err(err);
    LOG_E(MOD, "read of key with prefix '%c' failed: %s", kl ? k[0] : '?', err);
    leveldb_free(err);
    leveldb_free(v);
    return e;
  }
  if (!v) return CX_E_NOT_FOUND;
  uint8_t *d = dup_bytes(v, n);
  leveldb_free(v);
  if (!d) return CX_E_NOMEM;
  *val = d;
  *vlen = n;
  return CX_OK;
}

/* A fixed-length record; a length mismatch is damage. */
static cx_err db_get_fixed(store *s, const leveldb_readoptions_t *ro, const uint8_t *k,
                           size_t kl, uint8_t *out, size_t want) {
  uint8_t *v = NULL;
  size_t n = 0;
  cx_err e = db_get(s, ro, k, kl, &v, &n);
  if (e) return e;
  if (n != want) {
    free(v);
    return CX_E_CORRUPT;
  }
  memcpy(out, v, want);
  free(v);
  return CX_OK;
}

static size_t height_key(uint8_t *k, uint8_t prefix, uint64_t h) {
  k[0] = prefix;
  put_be64(k + 1, h);
  return 9;
}

static size_t hash_key(uint8_t *k, uint8_t prefix, const cx_hash *h) {
  k[0] = prefix;
  memcpy(k + 1, h->b, 32);
  return 33;
}

static size_t meta_key(uint8_t *k, const char *name) {
  size_t n = strlen(name);
  k[0] = P_META;
  memcpy(k + 1, name, n);
  return n + 1;
}

static size_t state_key(uint8_t *k, uint16_t bucket, const uint8_t *key, size_t klen) {
  k[0] = P_STATE;
  put_be16(k + 1, bucket);
  if (klen) memcpy(k + STATE_KEY_PREFIX, key, klen);
  return STATE_KEY_PREFIX + klen;
}

static snapref *snap_new(void) {
  snapref *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(r->ro, 1);
  return r;
}

static void snap_free(store *s, snapref *r) {
  if (!r) return;
  if (r->snap) leveldb_release_snapshot(s->db, r->snap);
  leveldb_readoptions_destroy(r->ro);
  free(r);
}

static void snap_take(store *s, snapref *r) {
  r->snap = leveldb_create_snapshot(s->db);
  leveldb_readoptions_set_snapshot(r->ro, r->snap);
}

static snapref *snap_acquire(store *s) {
  pthread_mutex_lock(&s->mu);
  snapref *r = s->cur;
  r->refs++;
  pthread_mutex_unlock(&s->mu);
  return r;
}

static void snap_release(store *s, snapref *r) {
  pthread_mutex_lock(&s->mu);
  int drop = --r->refs == 0 && r != s->cur;
  pthread_mutex_unlock(&s->mu);
  if (drop) snap_free(s, r);
}

/* Caller holds mu; returns the superseded snapshot if nobody pins it. */
static snapref *snap_publish_locked(store *s, snapref *r) {
  snapref *old = s->cur;
  s->cur = r;
  return old && old->refs == 0 ? old : NULL;
}

/* One get against the published snapshot: consistent with store_height(). */
static cx_err read_get(store *s, const uint8_t *k, size_t kl, uint8_t **val, size_t *vlen) {
  snapref *r = snap_acquire(s);
  cx_err e = db_get(s, r->ro, k, kl, val, vlen);
  snap_release(s, r);
  return e;
}

/* ---- the txid index's pending part (docs/storage.md) -------------------- */

static size_t txp_home(const cx_hash *id, size_t mask) {
  uint64_t x;
  memcpy(&x, id->b + 8, 8); /* txids are SHA-256 outputs */
  return (size_t)x & mask;
}

/* The newest pending entry of id, or NULL. Caller holds mu or is the writer. */
static const txent *txp_find(const txpend *p, const cx_hash *id) {
  if (!p->n) return NULL;
  for (size_t i = txp_home(id, p->mask);; i = (i + 1) & p->mask) {
    uint32_t v = p->slot[i];
    if (!v) return NULL;
    if (hash_eq(&p->v[v - 1].txid, id)) return &p->v[v - 1];
  }
}

static void txp_index(txpend *p, size_t pos) {
  size_t i = txp_home(&p->v[pos].txid, p->mask);
  while (p->slot[i] && !hash_eq(&p->v[p->slot[i] - 1].txid, &p->v[pos].txid))
    i = (i + 1) & p->mask;
  p->slot[i] = (uint32_t)(pos + 1);
}

/* Room for `more` entries (the table at most half full). Caller holds mu
 * (readers may be probing the arrays this reallocates), or is store_open,
 * before any reader. */
static cx_err txp_reserve(txpend *p, size_t more) {
  size_t need = p->n + more;
  if (need > UINT32_MAX / 2) return CX_E_FULL;
  if (need > p->cap) {
    size_t cap = p->cap ? p->cap : 1024;
    while (cap < need) cap *= 2;
    txent *v = realloc(p->v, cap * sizeof *v);
    if (!v) return CX_E_NOMEM;
    p->v = v;
    p->cap = cap;
  }
  size_t slots = p->slot ? p->mask + 1 : 0;
  if (2 * need > slots) {
    size_t ns = slots ? slots : 2048;
    while (ns < 2 * need) ns *= 2;
    uint32_t *t = calloc(ns, sizeof *t);
    if (!t) return CX_E_NOMEM;
    free(p->slot);
    p->slot = t;
    p->mask = ns - 1;
    for (size_t i = 0; i < p->n; i++) txp_index(p, i);
  }
  return CX_OK;
}

/* Appends an entry; txp_reserve made room. */
static void txp_add(txpend *p, const cx_hash *id, uint64_t height, uint32_t index, int32_t code) {
  txent *e = &p->v[p->n];
  e->txid = *id;
  e->height = height;
  e->index = index;
  e->code = code;
  e->seq = p->n;
  txp_index(p, p->n++);
}

static void txp_clear(txpend *p) {
  if (p->slot && p->n) memset(p->slot, 0, (p->mask + 1) * sizeof *p->slot);
  p->n = 0;
}

static void txp_free(txpend *p) {
  free(p->v);
  free(p->slot);
  memset(p, 0, sizeof *p);
}

static int txent_cmp(const void *a, const void *b) {
  const txent *x = a, *y = b;
  int c = memcmp(x->txid.b, y->txid.b, 32);
  if (c) return c;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- tip / meta --------------------------------------------------------- */

typedef struct {
  uint64_t height;
  cx_hash hash;
  cx_hash root;
} tip_rec;

static void tip_encode(uint8_t *p, uint64_t height, const cx_hash *hash, const cx_hash *root) {
  put_be64(p, height);
  memcpy(p + 8, hash->b, 32);
  memcpy(p + 40, root->b, 32);
}

/* CX_OK, CX_E_NOT_FOUND (fresh store) or an error. */
static cx_err tip_read(store *s, const leveldb_readoptions_t *ro, tip_rec *t) {
  uint8_t k[16], v[TIP_LEN];
  cx_err e = db_get_fixed(s, ro, k, meta_key(k, META_TIP), v, TIP_LEN);
  if (e) return e;
  t->height = get_be64(v);
  memcpy(t->hash.b, v + 8, 32);
  memcpy(t->root.b, v + 40, 32);
  return CX_OK;
}

/* ---- start-up / verify checks ------------------------------------------ */

/* Rebuilds the bucket tree from the 'S' range into tree. With check_keys,
 * each key is also re-hashed to confirm it sits in its own bucket (slow: one
 * more hash per entry; store_verify_all only - a misplaced entry changes the
 * root anyway). */
/* kf: if not NULL, every key's digest is added to it (store_open). */
static cx_err scan_state(store *s, const leveldb_snapshot_t *snap, cx_hash *tree,
                         int check_keys, digest_filter *kf, uint64_t *count, char *errbuf,
                         size_t errlen) {
  cx_err e = CX_OK;
  char *err = NULL;
  uint64_t nent = 0;
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(ro, 1);
  leveldb_readoptions_set_fill_cache(ro, 0);
  if (snap) leveldb_readoptions_set_snapshot(ro, snap);
  memset(tree + STORE_BUCKETS, 0, STORE_BUCKETS * sizeof *tree);
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, ro);
  uint8_t pfx = P_STATE;
  int cur = -1;
  bucket_acc acc;
  for (leveldb_iter_seek(it, (const char *)&pfx, 1); leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kl, vl;
    const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &kl);
    if (kl == 0 || k[0] != P_STATE) break;
    const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vl);
    if (kl < STATE_KEY_PREFIX || kl - STATE_KEY_PREFIX > STORE_KEY_MAX || vl > STORE_VALUE_MAX) {
      seterr(errbuf, errlen, "state entry %llu has a malformed key or an oversized value",
             (unsigned long long)nent);
      e = CX_E_CORRUPT;
      goto out;
    }
    int b = k[1] << 8 | k[2];
    cx_hash kd;
    if (kf || check_keys) key_digest(s, k + STATE_KEY_PREFIX, kl - STATE_KEY_PREFIX, &kd);
    if (kf) df_add(kf, kd.b);
    if (check_keys && digest_bucket(&kd) != b) {
      seterr(errbuf, errlen, "state entry %llu is stored in bucket %d but its key hashes "
             "to bucket %u", (unsigned long long)nent, b, (unsigned)digest_bucket(&kd));
      e = CX_E_CORRUPT;
      goto out;
    }
    if (b != cur) {
      if (cur >= 0) bucket_final(&acc, &tree[STORE_BUCKETS + (unsigned)cur]);
      bucket_init(s, &acc);
      cur = b;
    }
    bucket_add(s, &acc, k + STATE_KEY_PREFIX, kl - STATE_KEY_PREFIX, v, vl);
    nent++;
  }
  if (cur >= 0) bucket_final(&acc, &tree[STORE_BUCKETS + (unsigned)cur]);
  leveldb_iter_get_error(it, &err);
  if (err) {
    e = ldb_map_err(err);
    seterr(errbuf, errlen, "reading the state failed: %s", err);
    leveldb_free(err);
    goto out;
  }
  tree_build(s, tree);
  if (count) *count = nent;
out:
  leveldb_iter_destroy(it);
  leveldb_readoptions_destroy(ro);
  return e;
}

/* Checks blocks tip..lo (lo >= 1) against their 'N' records, the hash index,
 * the hash links and, with a block_hasher, their bytes. A state-synced
 * store (base > 0) holds nothing below its base: lo is raised to it and
 * the base block's parent is not looked for. */
static cx_err check_chain(store *s, const leveldb_readoptions_t *ro, const tip_rec *t,
                          uint64_t lo, uint64_t base, char *errbuf, size_t errlen) {
  char x[CX_HASH_HEX_LEN], y[CX_HASH_HEX_LEN];
  uint8_t k[40], rec[NREC_LEN], hb[8];
  uint8_t *blk = NULL;
  size_t blen = 0;
  cx_err e = CX_OK;
  cx_hash expect = t->hash;
  if (lo < base) lo = base;
  for (uint64_t h = t->height; h >= lo && h > 0; h--) {
    unsigned long long hh = (unsigned long long)h;
    cx_hash bh, ph;
    e = db_get_fixed(s, ro, k, height_key(k, P_NREC, h), rec, NREC_LEN);
    if (e) {
      seterr(errbuf, errlen, "block %llu: hash record %s", hh,
             e == CX_E_NOT_FOUND ? "is missing" : "is unreadable or malformed");
      goto fail;
    }
    memcpy(bh.b, rec, 32);
    memcpy(ph.b, rec + 32, 32);
    if (!hash_eq(&bh, &expect)) {
      if (h == t->height)
        seterr(errbuf, errlen, "block %llu: recorded hash %s, but the tip record says %s", hh,
               hash_hex(&bh, x), hash_hex(&expect, y));
      else
        seterr(errbuf, errlen, "block %llu: recorded hash %s, but block %llu names parent %s",
               hh, hash_hex(&bh, x), hh + 1, hash_hex(&expect, y));
      e = CX_E_CORRUPT;
      goto out;
    }
    e = db_get_fixed(s, ro, k, hash_key(k, P_HASH, &bh), hb, 8);
    if (e || get_be64(hb) != h) {
      seterr(errbuf, errlen, "block %llu: the hash index does not map %s to it", hh,
             hash_hex(&bh, x));
      goto fail;
    }
    e = db_get(s, ro, k, height_key(k, P_BLOCK, h), &blk, &blen);
    if (e) {
      seterr(errbuf, errlen, "block %llu: bytes %s", hh,
             e == CX_E_NOT_FOUND ? "are missing" : "are unreadable");
      goto fail;
    }
    if (s->opts.block_hasher) {
      cx_hash dh, dp;
      if (s->opts.block_hasher(blk, blen, &dh, &dp) != CX_OK) {
        seterr(errbuf, errlen, "block %llu: stored bytes do not decode as a block", hh);
        e = CX_E_CORRUPT;
        goto out;
      }
      if (!hash_eq(&dh, &bh)) {
        seterr(errbuf, errlen, "block %llu: stored bytes hash to %s, recorded %s", hh,
               hash_hex(&dh, x), hash_hex(&bh, y));
        e = CX_E_CORRUPT;
        goto out;
      }
      if (!hash_eq(&dp, &ph)) {
        seterr(errbuf, errlen, "block %llu: stored bytes name parent %s, recorded %s", hh,
               hash_hex(&dp, x), hash_hex(&ph, y));
        e = CX_E_CORRUPT;
        goto out;
      }
    }
    free(blk);
    blk = NULL;
    {
      uint8_t *c = NULL;
      size_t cl = 0;
      e = db_get(s, ro, k, height_key(k, P_CERT, h), &c, &cl);
      free(c);
      if (e) {
        seterr(errbuf, errlen, "block %llu: certificate %s", hh,
               e == CX_E_NOT_FOUND ? "is missing" : "is unreadable");
        goto fail;
      }
    }
    expect = ph;
    if (h == lo) break;
  }
  if (lo <= 1) {
    if (t->height > 0 && !hash_is_zero(&expect)) {
      seterr(errbuf, errlen, "block 1: parent %s, expected the all-zero genesis parent",
             hash_hex(&expect, x));
      e = CX_E_CORRUPT;
    }
  } else if (lo > base) {
    e = db_get_fixed(s, ro, k, height_key(k, P_NREC, lo - 1), rec, NREC_LEN);
    if (e) {
      seterr(errbuf, errlen, "block %llu: hash record is missing or malformed",
             (unsigned long long)lo - 1);
      goto fail;
    }
    if (memcmp(rec, expect.b, 32) != 0) {
      cx_hash bh;
      memcpy(bh.b, rec, 32);
      seterr(errbuf, errlen, "block %llu: recorded hash %s, but block %llu names parent %s",
             (unsigned long long)lo - 1, hash_hex(&bh, x), (unsigned long long)lo,
             hash_hex(&expect, y));
      e = CX_E_CORRUPT;
    }
  }
  goto out;
fail:
  /* A missing or malformed record is damage; an I/O error stays what it is. */
  if (e == CX_E_NOT_FOUND || e == CX_E_CORRUPT || e == CX_OK) e = CX_E_CORRUPT;
out:
  free(blk);
  return e;
}

/* True if any key with this one-byte prefix sorts at or after from. */
static int any_key_from(store *s, const uint8_t *from, size_t fl, cx_err *e) {
  char *err = NULL;
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
  leveldb_iter_seek(it, (const char *)from, fl);
  int found = 0;
  if (leveldb_iter_valid(it)) {
    size_t kl;
    const char *k = leveldb_iter_key(it, &kl);
    found = kl > 0 && (uint8_t)k[0] == from[0];
  }
  leveldb_iter_get_error(it, &err);
  if (err) {
    *e = ldb_map_err(err);
    leveldb_free(err);
  }
  leveldb_iter_destroy(it);
  return found;
}

/* A store without a tip record must hold nothing but meta records. */
static cx_err check_fresh(store *s, char *errbuf, size_t errlen) {
  static const uint8_t prefixes[] = {P_BLOCK, P_CERT, P_HASH, P_NREC, P_STATE, P_TX, P_TXL,
                                     P_SAVED};
  for (size_t i = 0; i < sizeof prefixes; i++) {
    cx_err e = CX_OK;
    if (any_key_from(s, &prefixes[i], 1, &e)) {
      seterr(errbuf, errlen, "records with prefix '%c' exist but no tip is recorded",
             prefixes[i]);
      return CX_E_CORRUPT;
    }
    if (e) {
      seterr(errbuf, errlen, "scanning the store failed (%s)", cx_err_name(e));
      return e;
    }
  }
  return CX_OK;
}

/* Nothing may be stored above the recorded tip: a commit writes its block,
 * records and tip in one batch. */
static cx_err check_above_tip(store *s, uint64_t height, char *errbuf, size_t errlen) {
  static const uint8_t prefixes[] = {P_BLOCK, P_CERT, P_NREC, P_TXL};
  uint8_t k[9];
  for (size_t i = 0; i < sizeof prefixes; i++) {
    cx_err e = CX_OK;
    if (any_key_from(s, k, height_key(k, prefixes[i], height + 1), &e)) {
      seterr(errbuf, errlen, "records with prefix '%c' exist above the recorded tip %llu",
             prefixes[i], (unsigned long long)height);
      return CX_E_CORRUPT;
    }
    if (e) {
      seterr(errbuf, errlen, "scanning the store failed (%s)", cx_err_name(e));
      return e;
    }
  }
  return CX_OK;
}

/* Writes the format record (synced); what names the write in errbuf. */
static cx_err put_format(store *s, const uint8_t *k, size_t kl, const char *what, char *errbuf,
                         size_t errlen) {
  uint8_t v[4];
  char *err = NULL;
  put_be32(v, FORMAT_VERSION);
  leveldb_put(s->db, s->wo_sync, (const char *)k, kl, (const char *)v, 4, &err);
  if (!err) return CX_OK;
  seterr(errbuf, errlen, "%s the format record failed: %s", what, err);
  cx_err e = ldb_map_err(err);
  leveldb_free(err);
  return e;
}

static cx_err check_format(store *s, char *errbuf, size_t errlen) {
  uint8_t k[16], v[4];
  size_t kl = meta_key(k, META_FORMAT);
  cx_err e = db_get_fixed(s, s->ro, k, kl, v, 4);
  if (e == CX_E_NOT_FOUND) {
    e = check_fresh(s, errbuf, errlen);
    return e ? e : put_format(s, k, kl, "writing", errbuf, errlen);
  }
  if (e) {
    seterr(errbuf, errlen, "the format record is unreadable or malformed");
    return e == CX_E_NOMEM ? e : CX_E_CORRUPT;
  }
  if (get_be32(v) == 1) {
    if ((e = put_format(s, k, kl, "upgrading", errbuf, errlen))) return e;
    LOG_I(MOD, "store format 1 upgraded to %u (the txid index written behind)", FORMAT_VERSION);
    return CX_OK;
  }
  if (get_be32(v) != FORMAT_VERSION) {
    seterr(errbuf, errlen, "store format %u, this build reads formats 1 and %u", get_be32(v),
           FORMAT_VERSION);
    return CX_E_BAD_VERSION;
  }
  return CX_OK;
}

static int mkdir_p(const char *dir) {
  char *p = strdup(dir);
  int rc = 0;
  if (!p) return -1;
  for (char *q = p; *q; q++) {
    if (q == p || *q != '/') continue;
    *q = 0;
    if (mkdir(p, 0700) != 0 && errno != EEXIST) rc = -1;
    *q = '/';
  }
  if (rc == 0 && mkdir(p, 0700) != 0 && errno != EEXIST) rc = -1;
  free(p);
  return rc;
}

/* ---- open / close ------------------------------------------------------- */

static cx_err open_install_state(store *s, char *errbuf, size_t errlen);
static void snap_pins_free(store *s);

static cx_err open_db(store *s, const char *dir, char *errbuf, size_t errlen) {
  cx_err e = CX_OK;
  char *err = NULL;
  size_t n = strlen(dir) + sizeof "/chain";
  char *path = malloc(n);
  if (!path) return CX_E_NOMEM;
  snprintf(path, n, "%s/chain", dir);
  s->opt = leveldb_options_create();
  leveldb_options_set_create_if_missing(s->opt, 1);
  leveldb_options_set_paranoid_checks(s->opt, 1);
  s->filter = leveldb_filterpolicy_create_bloom(10); /* absent state keys are common */
  leveldb_options_set_filter_policy(s->opt, s->filter);
  if (s->opts.cache_mb) {
    s->cache = leveldb_cache_create_lru(s->opts.cache_mb << 20);
    leveldb_options_set_cache(s->opt, s->cache);
  }
  /* No block compression: what the store holds is mostly hashes, keys and
   * signatures, which Snappy cannot shrink, and compressing every table
   * block in compactions (and decompressing on reads) was ~8% of a loaded
   * validator's CPU once the chain had grown (issue 4's profile). Tables
   * written compressed before stay readable: the type is per block. */
  leveldb_options_set_compression(s->opt, leveldb_no_compression);
  /* A 16 MB memtable, not LevelDB's 4 MB: every block adds one random key
   * per transaction (the txid index), and with 4 MB the memtable flushed
   * into level 0 every few seconds under load, and compactions could not
   * keep up: at 25,000 commands/s for 60 s a devnet fell to 14,000/s at 110
   * us of CPU a command, against 25,000/s at 60 us with 16 MB (64 MB: the
   * same; 32 MB table files: worse). Memory: up to twice this per store
   * (the memtable being written and the one being flushed). */
  leveldb_options_set_write_buffer_size(s->opt, STORE_WRITE_BUFFER);
  s->db = leveldb_open(s->opt, path, &err);
  if (err) {
    /* LevelDB reports a held LOCK file as an IO error naming it: "already
     * held by process" in this process, EAGAIN's text from another one. */
    if (strstr(err, "/LOCK") &&
        (strstr(err, "already held") || strstr(err, "temporarily unavailable"))) {
      seterr(errbuf, errlen, "the store %s is in use by another process", path);
      e = CX_E_LOCKED;
    } else {
      e = ldb_map_err(err);
      seterr(errbuf, errlen, "opening %s failed: %s", path, err);
    }
    leveldb_free(err);
    s->db = NULL;
  }
  free(path);
  return e;
}

/* One pending height: the txids from the stored block (opts.block_txids),
 * the codes from its 'L' record rec (OK unless listed). */
static cx_err txp_load_block(store *s, uint64_t h, const uint8_t *rec, size_t rlen,
                             char *errbuf, size_t errlen) {
  if (!s->opts.block_txids) {
    seterr(errbuf, errlen, "the txid index has entries pending from height %llu: opening this "
           "store needs a block decoder (store_opts.block_txids)", (unsigned long long)h);
    return CX_E_INVALID_ARG;
  }
  uint8_t k[9], *blk = NULL;
  size_t blen = 0, n = 0;
  cx_hash *ids = NULL;
  cx_err e = db_get(s, s->ro, k, height_key(k, P_BLOCK, h), &blk, &blen);
  if (!e && (s->opts.block_txids(blk, blen, &ids, &n) != CX_OK || n != get_be32(rec))) {
    seterr(errbuf, errlen, "block %llu does not decode to the %u transactions its txid record "
           "counts", (unsigned long long)h, get_be32(rec));
    e = CX_E_CORRUPT;
  } else if (e) {
    seterr(errbuf, errlen, "block %llu, whose txids are pending, is unreadable (%s)",
           (unsigned long long)h, cx_err_name(e));
    if (e == CX_E_NOT_FOUND) e = CX_E_CORRUPT;
  }
  free(blk);
  size_t base = s->pend.n;
  if (!e) e = txp_reserve(&s->pend, n);
  for (size_t i = 0; !e && i < n; i++) {
    if (s->txf) df_add(s->txf, ids[i].b);
    txp_add(&s->pend, &ids[i], h, (uint32_t)i, CX_OK);
  }
  free(ids);
  for (size_t j = 0; !e && j < (rlen - 4) / TXL_ENT; j++) {
    uint32_t i = get_be32(rec + 4 + j * TXL_ENT);
    if (i >= n) {
      seterr(errbuf, errlen, "txid record of height %llu names transaction %u of %zu",
             (unsigned long long)h, i, n);
      e = CX_E_CORRUPT;
    } else {
      s->pend.v[base + i].code = (int32_t)get_be32(rec + 4 + j * TXL_ENT + 4);
    }
  }
  return e;
}

/* store_open: the pending txid entries back from the 'L' records, one for
 * each height above the mark up to the tip, and into the txid filter (its
 * builder thread reads only 'T'). The first commit that leaves entries
 * pending writes the mark; a store without one has everything under 'T'
 * (and an 'L' record there is corruption). */
static cx_err txp_load(store *s, uint64_t tip, char *errbuf, size_t errlen) {
  uint8_t k[16], v8[8];
  cx_err e = db_get_fixed(s, s->ro, k, meta_key(k, META_TXMARK), v8, 8);
  if (e == CX_E_NOT_FOUND) {
    s->txmark = tip;
    e = CX_OK;
  } else if (e) {
    seterr(errbuf, errlen, "the txid index mark is unreadable or malformed");
    return e == CX_E_NOMEM || e == CX_E_IO ? e : CX_E_CORRUPT;
  } else if ((s->has_txmark = 1, s->txmark = get_be64(v8)) > tip) {
    seterr(errbuf, errlen, "the txid index mark (%llu) is above the tip (%llu)",
           (unsigned long long)s->txmark, (unsigned long long)tip);
    return CX_E_CORRUPT;
  }
  uint64_t next = s->txmark + 1;
  char *err = NULL;
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
  const uint8_t pfx = P_TXL;
  for (leveldb_iter_seek(it, (const char *)&pfx, 1); !e && leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kl, vl;
    const uint8_t *ik = (const uint8_t *)leveldb_iter_key(it, &kl);
    if (kl == 0 || ik[0] != P_TXL) break;
    const uint8_t *iv = (const uint8_t *)leveldb_iter_value(it, &vl);
    uint64_t h = kl == 9 ? get_be64(ik + 1) : 0;
    if (kl != 9 || h != next || vl < 4 || (vl - 4) % TXL_ENT) {
      if (kl != 9)
        seterr(errbuf, errlen, "a txid record has a malformed key (%zu bytes)", kl);
      else
        seterr(errbuf, errlen, "txid record of height %llu: expected height %llu's, a count "
               "and whole %u-byte entries (%zu bytes)", (unsigned long long)h,
               (unsigned long long)next, TXL_ENT, vl);
      e = CX_E_CORRUPT;
      break;
    }
    if ((e = txp_load_block(s, h, iv, vl, errbuf, errlen))) break;
    next++;
  }
  leveldb_iter_get_error(it, &err);
  leveldb_iter_destroy(it);
  if (err) {
    seterr(errbuf, errlen, "reading the pending txid records failed: %s", err);
    leveldb_free(err);
    return CX_E_IO;
  }
  if (!e && next != tip + 1) {
    seterr(errbuf, errlen, "the txid records of heights %llu..%llu are missing",
           (unsigned long long)next, (unsigned long long)tip);
    e = CX_E_CORRUPT;
  }
  return e;
}

/* The txid filter's builder (digest_filter.h): adds every id of the txid
 * index as of open, from a snapshot taken before any commit, then marks the
 * filter ready. Ids committed meanwhile are added by store_commit. On a
 * read error the filter stays unready and store_tx_get keeps asking
 * LevelDB. */
static void *txf_build(void *arg) {
  log_thread_name("cx-txid-filter");
  store *s = arg;
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(s->db);
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(ro, 1);
  leveldb_readoptions_set_fill_cache(ro, 0);
  leveldb_readoptions_set_snapshot(ro, snap);
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, ro);
  const uint8_t pfx = P_TX;
  uint64_t n = 0;
  int stopped = 0;
  for (leveldb_iter_seek(it, (const char *)&pfx, 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t kl;
    const char *k = leveldb_iter_key(it, &kl);
    if (kl == 0 || (uint8_t)k[0] != P_TX) break;
    if (kl == 33) df_add(s->txf, (const uint8_t *)k + 1);
    if ((++n & 1023) == 0 && atomic_load(&s->txf_stop)) {
      stopped = 1;
      break;
    }
  }
  char *err = NULL;
  leveldb_iter_get_error(it, &err);
  leveldb_iter_destroy(it);
  leveldb_readoptions_destroy(ro);
  leveldb_release_snapshot(s->db, snap);
  if (err) {
    LOG_W(MOD, "txid filter not built (%s): txid lookups go to LevelDB", err);
    leveldb_free(err);
  } else if (!stopped) {
    df_set_ready(s->txf);
    LOG_D(MOD, "txid filter ready: %llu ids, %zu bytes", (unsigned long long)n,
          df_bytes(s->txf));
  }
  return NULL;
}

cx_err store_open(const char *dir, const store_opts *opts, store **out, char *errbuf,
                  size_t errlen) {
  CX_ASSERT(dir && out);
  cx_err e = CX_OK;
  char x[CX_HASH_HEX_LEN], y[CX_HASH_HEX_LEN];
  *out = NULL;
  seterr(errbuf, errlen, "%s", "");
  store *s = calloc(1, sizeof *s);
  if (!s) return CX_E_NOMEM;
  s->lockfd = -1;
  if (opts) {
    s->opts = *opts;
  } else {
    s->opts.sync = 1;
  }
  if (s->opts.check_depth == 0) s->opts.check_depth = DEFAULT_CHECK_DEPTH;
  s->txbatch = !s->opts.block_txids ? 1 : s->opts.index_batch ? s->opts.index_batch : TXIDX_BATCH;
  if (pthread_mutex_init(&s->mu, NULL) != 0) {
    free(s);
    return CX_E_NOMEM;
  }
  s->mu_ok = 1;
  if (!(s->sc = sc_new(STATE_CACHE_SLOTS))) {
    store_close(s);
    return CX_E_NOMEM;
  }
  init_mids(s);
  init_empty(s);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  s->nparts = 1;
  while (s->nparts < MAX_PARTS && (long)s->nparts * 2 <= cpus) s->nparts *= 2;
  s->ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(s->ro, 1);
  s->ro_scan = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(s->ro_scan, 1);
  leveldb_readoptions_set_fill_cache(s->ro_scan, 0);
  s->wo = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(s->wo, s->opts.sync ? 1 : 0);
  s->wo_sync = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(s->wo_sync, 1);
  s->tree = malloc(TREE_NODES * sizeof *s->tree);
  s->cur = snap_new();
  if (!s->tree || !s->cur) {
    e = CX_E_NOMEM;
    goto out;
  }
  if (mkdir_p(dir) != 0) {
    seterr(errbuf, errlen, "cannot create directory %s: %s", dir, strerror(errno));
    e = CX_E_IO;
    goto out;
  }
  e = ldb_lock_dir(dir, "chain.lock", "store", &s->lockfd, errbuf, errlen);
  if (e) goto out;
  e = open_db(s, dir, errbuf, errlen);
  if (e) goto out;
  e = check_format(s, errbuf, errlen);
  if (e) goto out;
  e = open_install_state(s, errbuf, errlen);
  if (e) goto out;

  tip_rec t;
  memset(&t, 0, sizeof t);
  e = tip_read(s, s->ro, &t);
  int fresh = e == CX_E_NOT_FOUND;
  if (s->base && (fresh || (!e && t.height < s->base))) {
    seterr(errbuf, errlen, "the store's base is block %llu but its tip is at height %llu",
           (unsigned long long)s->base, (unsigned long long)t.height);
    e = CX_E_CORRUPT;
    goto out;
  }
  if (fresh) {
    e = check_fresh(s, errbuf, errlen);
    if (e) goto out;
  } else if (e) {
    seterr(errbuf, errlen, "the tip record is unreadable or malformed");
    if (e != CX_E_NOMEM && e != CX_E_IO) e = CX_E_CORRUPT;
    goto out;
  } else {
    if (t.height == 0 && !hash_is_zero(&t.hash)) {
      seterr(errbuf, errlen, "the tip record is at height 0 but names block %s",
             hash_hex(&t.hash, x));
      e = CX_E_CORRUPT;
      goto out;
    }
    e = check_above_tip(s, t.height, errbuf, errlen);
    if (e) goto out;
    uint64_t depth = s->opts.check_depth;
    uint64_t lo = t.height > depth ? t.height - depth + 1 : 1;
    e = check_chain(s, s->ro, &t, lo, s->base, errbuf, errlen);
    if (e) goto out;
  }

  uint64_t nent = 0;
  s->kf = df_new(FILTER_FIRST, FILTER_MAX_BYTES); /* NULL: reads go to LevelDB */
  e = scan_state(s, NULL, s->tree, 0, s->kf, &nent, errbuf, errlen);
  if (e) goto out;
  if (fresh) t.root = s->tree[1]; /* empty state (check_fresh found no entries) */
  if (!hash_eq(&s->tree[1], &t.root)) {
    seterr(errbuf, errlen, "state root recomputed from %llu entries is %s, recorded root "
           "at height %llu is %s", (unsigned long long)nent, hash_hex(&s->tree[1], x),
           (unsigned long long)t.height, hash_hex(&t.root, y));
    e = CX_E_CORRUPT;
    goto out;
  }
  s->height = t.height;
  s->tip = t.hash;
  s->root = t.root;
  if (s->kf) df_set_ready(s->kf); /* every present key is in it */

  uint8_t k[16];
  e = db_get_fixed(s, s->ro, k, meta_key(k, META_CHAIN), s->chain_id.b, 32);
  if (e == CX_OK) {
    s->has_chain = 1;
  } else if (e != CX_E_NOT_FOUND) {
    seterr(errbuf, errlen, "the chain id record is unreadable or malformed");
    if (e != CX_E_NOMEM && e != CX_E_IO) e = CX_E_CORRUPT;
    goto out;
  }
  e = CX_OK;
  /* Without the filter or its thread every txid lookup goes to LevelDB. */
  s->txf = df_new(FILTER_FIRST, FILTER_MAX_BYTES);
  if ((e = txp_load(s, s->height, errbuf, errlen))) goto out;
  snap_take(s, s->cur);
  atomic_init(&s->txf_stop, 0);
  if (s->txf) s->txf_started = pthread_create(&s->txf_thread, NULL, txf_build, s) == 0;
  LOG_I(MOD, "opened %s: height %llu, %llu state entries, root %s", dir,
        (unsigned long long)s->height, (unsigned long long)nent, hash_hex(&s->root, x));
  *out = s;
out:
  if (e) store_close(s);
  return e;
}

void store_close(store *s) {
  if (!s) return;
  if (s->txf_started) {
    atomic_store(&s->txf_stop, 1);
    pthread_join(s->txf_thread, NULL);
  }
  df_free(s->txf);
  df_free(s->kf);
  txp_free(&s->pend);
  snap_pins_free(s);
  if (s->cur) {
    /* No reader may be inside a call at close: that is the caller's contract. */
    if (s->cur->snap && s->db) leveldb_release_snapshot(s->db, s->cur->snap);
    s->cur->snap = NULL;
    snap_free(s, s->cur);
  }
  if (s->db) leveldb_close(s->db);
  if (s->opt) leveldb_options_destroy(s->opt);
  if (s->filter) leveldb_filterpolicy_destroy(s->filter);
  if (s->cache) leveldb_cache_destroy(s->cache);
  if (s->ro) leveldb_readoptions_destroy(s->ro);
  if (s->ro_scan) leveldb_readoptions_destroy(s->ro_scan);
  if (s->wo) leveldb_writeoptions_destroy(s->wo);
  if (s->wo_sync) leveldb_writeoptions_destroy(s->wo_sync);
  if (s->lockfd >= 0) close(s->lockfd); /* after LevelDB let go of its files */
  if (s->mu_ok) pthread_mutex_destroy(&s->mu);
  sc_free(s->sc);
  free(s->tree);
  free(s);
}

/* ---- readers ------------------------------------------------------------ */

uint64_t store_height(const store *s) {
  store *m = (store *)s; /* the mutex is not part of the logical state */
  pthread_mutex_lock(&m->mu);
  uint64_t h = s->height;
  pthread_mutex_unlock(&m->mu);
  return h;
}

void store_tip_hash(const store *s, cx_hash *out) {
  store *m = (store *)s;
  pthread_mutex_lock(&m->mu);
  *out = s->tip;
  pthread_mutex_unlock(&m->mu);
}

void store_state_root(const store *s, cx_hash *out) {
  store *m = (store *)s;
  pthread_mutex_lock(&m->mu);
  *out = s->root;
  pthread_mutex_unlock(&m->mu);
}

cx_err store_chain_id(store *s, cx_hash *out) {
  pthread_mutex_lock(&s->mu);
  int has = s->has_chain;
  if (has) *out = s->chain_id;
  pthread_mutex_unlock(&s->mu);
  return has ? CX_OK : CX_E_NOT_FOUND;
}

/* Below a state-synced store's base nothing is stored (and nothing may be
 * read as if it were). */
static int below_base(store *s, uint64_t height) {
  pthread_mutex_lock(&s->mu);
  int below = height < s->base;
  pthread_mutex_unlock(&s->mu);
  return below;
}

cx_err store_block_get(store *s, uint64_t height, uint8_t **buf, size_t *len) {
  uint8_t k[9];
  if (below_base(s, height)) return CX_E_NOT_FOUND;
  return read_get(s, k, height_key(k, P_BLOCK, height), buf, len);
}

cx_err store_cert_get(store *s, uint64_t height, uint8_t **buf, size_t *len) {
  uint8_t k[9];
  if (below_base(s, height)) return CX_E_NOT_FOUND;
  return read_get(s, k, height_key(k, P_CERT, height), buf, len);
}

cx_err store_block_height(store *s, const cx_hash *block_hash, uint64_t *height) {
  uint8_t k[33], *v = NULL;
  size_t n = 0;
  cx_err e = read_get(s, k, hash_key(k, P_HASH, block_hash), &v, &n);
  if (e) return e;
  if (n != 8) e = CX_E_CORRUPT;
  else *height = get_be64(v);
  free(v);
  return e;
}

cx_err store_block_hash(store *s, uint64_t height, cx_hash *out) {
  uint8_t k[9], *v = NULL;
  size_t n = 0;
  if (below_base(s, height)) return CX_E_NOT_FOUND;
  cx_err e = read_get(s, k, height_key(k, P_NREC, height), &v, &n);
  if (e) return e;
  if (n != NREC_LEN) e = CX_E_CORRUPT;
  else memcpy(out->b, v, 32);
  free(v);
  return e;
}

int store_txid_filter_ready(store *s) { return s->txf && df_ready(s->txf); }

cx_err store_tx_get(store *s, const cx_hash *txid, store_txloc *out) {
  uint8_t k[33], *v = NULL;
  size_t n = 0;
  if (surely_absent(s->txf, txid)) return CX_E_NOT_FOUND;
  /* The pending entries and the snapshot are published together (under
   * mu): an id is in the one or the other, never in neither. */
  pthread_mutex_lock(&s->mu);
  const txent *pe = txp_find(&s->pend, txid);
  if (pe) {
    out->height = pe->height;
    out->index = pe->index;
    out->code = pe->code;
    pthread_mutex_unlock(&s->mu);
    return CX_OK;
  }
  snapref *r = s->cur;
  r->refs++;
  pthread_mutex_unlock(&s->mu);
  cx_err e = db_get(s, r->ro, k, hash_key(k, P_TX, txid), &v, &n);
  snap_release(s, r);
  if (e) return e;
  if (n != TXLOC_LEN) {
    e = CX_E_CORRUPT;
  } else {
    out->height = get_be64(v);
    out->index = get_be32(v + 8);
    out->code = (int32_t)get_be32(v + 12);
  }
  free(v);
  return e;
}

/* A state read's answer into the cache (state_cache.h); gen was read
 * before the LevelDB read. */
static void cache_fill(store *s, uint64_t gen, const uint8_t *key, size_t klen, cx_err e,
                       uint8_t *const *val, const size_t *vlen) {
  if (e == CX_OK) sc_fill(s->sc, gen, key, klen, *val, *vlen);
  if (e == CX_E_NOT_FOUND) sc_fill(s->sc, gen, key, klen, NULL, 0);
}

static size_t aux_key(uint8_t *k, const char *name) {
  size_t n = strlen(name);
  CX_ASSERT(n >= 1 && n <= STORE_AUX_NAME_MAX);
  k[0] = P_AUX;
  memcpy(k + 1, name, n);
  return n + 1;
}

cx_err store_aux_put(store *s, const char *name, const uint8_t *val, size_t len) {
  uint8_t k[1 + STORE_AUX_NAME_MAX];
  char *err = NULL;
  leveldb_put(s->db, s->wo_sync, (const char *)k, aux_key(k, name), (const char *)val, len,
              &err);
  if (!err) return CX_OK;
  LOG_E(MOD, "writing record '%s' failed: %s", name, err);
  leveldb_free(err);
  return CX_E_IO;
}

cx_err store_aux_get(store *s, const char *name, uint8_t **val, size_t *len) {
  uint8_t k[1 + STORE_AUX_NAME_MAX];
  return db_get(s, s->ro, k, aux_key(k, name), val, len);
}

cx_err store_state_get(store *s, const uint8_t *key, size_t klen, uint8_t **val,
                       size_t *vlen) {
  uint8_t k[STATE_KEY_PREFIX + STORE_KEY_MAX];
  if (klen > STORE_KEY_MAX) return CX_E_TOO_LONG;
  cx_err e;
  if (sc_get(s->sc, key, klen, &e, val, vlen)) return e;
  uint64_t gen = sc_gen(s->sc);
  cx_hash kd;
  size_t kl = state_key(k, key_digest(s, key, klen, &kd), key, klen);
  e = surely_absent(s->kf, &kd) ? CX_E_NOT_FOUND : read_get(s, k, kl, val, vlen);
  cache_fill(s, gen, key, klen, e, val, vlen);
  return e;
}

/* ---- write set ---------------------------------------------------------- */

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

store_ws *store_ws_new(store *s) {
  CX_ASSERT(s);
  store_ws *ws = calloc(1, sizeof *ws);
  if (!ws) return NULL;
  ws->s = s;
  return ws;
}

void store_ws_free(store_ws *ws) {
  if (!ws) return;
  for (size_t i = 0; i < ws->n; i++) {
    free(ws->ents[i].key);
    free(ws->ents[i].val);
  }
  for (size_t i = 0; i < ws->nundo; i++) free(ws->undo[i].val);
  free(ws->ents);
  free(ws->slots);
  free(ws->undo);
  free(ws->memo.v);
  free(ws);
}

static ws_ent *ws_find(const store_ws *ws, const uint8_t *key, size_t klen, uint64_t fp) {
  if (!ws->nslots) return NULL;
  size_t mask = ws->nslots - 1;
  for (size_t i = fp & mask;; i = (i + 1) & mask) {
    uint32_t sl = ws->slots[i];
    if (!sl) return NULL;
    ws_ent *en = &ws->ents[sl - 1];
    if (en->fp == fp && en->klen == klen && (klen == 0 || memcmp(en->key, key, klen) == 0))
      return en;
  }
}

static void ws_slot_insert(uint32_t *slots, size_t nslots, uint64_t fp, uint32_t idx1) {
  size_t mask = nslots - 1, i = fp & mask;
  while (slots[i]) i = (i + 1) & mask;
  slots[i] = idx1;
}

/* Keeps the map at most half full. */
static cx_err ws_grow(store_ws *ws) {
  if (ws->n == ws->cap) {
    size_t nc = ws->cap ? 2 * ws->cap : 16;
    ws_ent *ne = realloc(ws->ents, nc * sizeof *ne);
    if (!ne) return CX_E_NOMEM;
    ws->ents = ne;
    ws->cap = nc;
  }
  if (2 * (ws->n + 1) > ws->nslots) {
    size_t ns = ws->nslots ? 2 * ws->nslots : 32;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl) return CX_E_NOMEM;
    for (size_t i = 0; i < ws->n; i++)
      ws_slot_insert(sl, ns, ws->ents[i].fp, (uint32_t)(i + 1));
    free(ws->slots);
    ws->slots = sl;
    ws->nslots = ns;
  }
  return CX_OK;
}

/* Finds or adds (state WS_NONE) the entry for key. */
static cx_err ws_entry(store_ws *ws, const uint8_t *key, size_t klen, ws_ent **out) {
  uint64_t fp = fnv1a(key, klen);
  ws_ent *en = ws_find(ws, key, klen, fp);
  if (en) {
    *out = en;
    return CX_OK;
  }
  if (ws->n >= UINT32_MAX - 1) return CX_E_FULL;
  cx_err e = ws_grow(ws);
  if (e) return e;
  uint8_t *k = dup_bytes(key, klen);
  if (!k) return CX_E_NOMEM;
  en = &ws->ents[ws->n];
  memset(en, 0, sizeof *en);
  en->key = k;
  en->klen = klen;
  en->fp = fp;
  key_digest(ws->s, key, klen, &en->kd);
  ws_slot_insert(ws->slots, ws->nslots, fp, (uint32_t)(ws->n + 1));
  ws->n++;
  *out = en;
  return CX_OK;
}

/* Records the entry's current value in the undo log and installs the new
 * state; val (may be NULL for a delete) is taken over. */
static cx_err ws_set(store_ws *ws, const uint8_t *key, size_t klen, uint8_t state,
                     uint8_t *val, size_t vlen) {
  ws_ent *en = NULL;
  cx_err e = CX_OK;
  if (ws->nundo == ws->capundo) {
    size_t nc = ws->capundo ? 2 * ws->capundo : 16;
    ws_undo *nu = realloc(ws->undo, nc * sizeof *nu);
    if (!nu) {
      e = CX_E_NOMEM;
      goto out;
    }
    ws->undo = nu;
    ws->capundo = nc;
  }
  e = ws_entry(ws, key, klen, &en);
  if (e) goto out;
  ws_undo *u = &ws->undo[ws->nundo++];
  u->ent = (uint32_t)(en - ws->ents);
  u->state = en->state;
  u->val = en->val;
  u->vlen = en->vlen;
  en->state = state;
  en->val = val;
  en->vlen = vlen;
  val = NULL;
  ws->gen++;
out:
  free(val);
  return e;
}

cx_err store_ws_put(store_ws *ws, const uint8_t *key, size_t klen, const uint8_t *val,
                    size_t vlen) {
  CX_ASSERT(ws && (key || !klen) && (val || !vlen));
  if (klen > STORE_KEY_MAX || vlen > STORE_VALUE_MAX) return CX_E_TOO_LONG;
  uint8_t *v = dup_bytes(val, vlen);
  if (!v) return CX_E_NOMEM;
  return ws_set(ws, key, klen, WS_PUT, v, vlen);
}

cx_err store_ws_del(store_ws *ws, const uint8_t *key, size_t klen) {
  CX_ASSERT(ws && (key || !klen));
  if (klen > STORE_KEY_MAX) return CX_E_TOO_LONG;
  return ws_set(ws, key, klen, WS_DEL, NULL, 0);
}

cx_err store_ws_get(store_ws *ws, const uint8_t *key, size_t klen, uint8_t **val,
                    size_t *vlen) {
  CX_ASSERT(ws && (key || !klen) && val && vlen);
  if (klen > STORE_KEY_MAX) return CX_E_TOO_LONG;
  ws_ent *en = ws_find(ws, key, klen, fnv1a(key, klen));
  if (en && en->state == WS_DEL) return CX_E_NOT_FOUND;
  if (en && en->state == WS_PUT) {
    uint8_t *d = dup_bytes(en->val, en->vlen);
    if (!d) return CX_E_NOMEM;
    *val = d;
    *vlen = en->vlen;
    return CX_OK;
  }
  /* The latest committed state (for the writer, the published one; for a
   * speculative write set on another thread, possibly a block newer). */
  cx_err e;
  if (sc_get(ws->s->sc, key, klen, &e, val, vlen)) return e;
  uint64_t gen = sc_gen(ws->s->sc);
  uint8_t k[STATE_KEY_PREFIX + STORE_KEY_MAX];
  cx_hash kd;
  if (en) kd = en->kd;
  else key_digest(ws->s, key, klen, &kd);
  if (surely_absent(ws->s->kf, &kd)) {
    e = CX_E_NOT_FOUND;
  } else {
    size_t kl = state_key(k, digest_bucket(&kd), key, klen);
    e = db_get(ws->s, ws->s->ro, k, kl, val, vlen);
  }
  cache_fill(ws->s, gen, key, klen, e, val, vlen);
  return e;
}

size_t store_ws_mark(store_ws *ws) {
  CX_ASSERT(ws);
  return ws->nundo;
}

void store_ws_rollback(store_ws *ws, size_t mark) {
  CX_ASSERT(ws && mark <= ws->nundo);
  if (mark < ws->nundo) ws->gen++;
  while (ws->nundo > mark) {
    ws_undo *u = &ws->undo[--ws->nundo];
    ws_ent *en = &ws->ents[u->ent];
    free(en->val);
    en->state = u->state;
    en->val = u->val;
    en->vlen = u->vlen;
  }
}

/* ---- root computation over dirty buckets --------------------------------- */

static int pend_cmp(const void *a, const void *b) {
  const ws_ent *x = *(ws_ent *const *)a, *y = *(ws_ent *const *)b;
  uint16_t bx = ent_bucket(x), by = ent_bucket(y);
  if (bx != by) return bx < by ? -1 : 1;
  return key_cmp(x->key, x->klen, y->key, y->klen);
}

/* Hash of bucket b with the pending entries (sorted by key) merged over the
 * committed ones read from it. */
static cx_err bucket_merged(store *s, leveldb_iterator_t *it, uint16_t b, ws_ent *const *pend,
                            size_t np, cx_hash *out) {
  uint8_t pfx[STATE_KEY_PREFIX] = {P_STATE, (uint8_t)(b >> 8), (uint8_t)b};
  bucket_acc acc;
  size_t i = 0;
  char *err = NULL;
  bucket_init(s, &acc);
  leveldb_iter_seek(it, (const char *)pfx, sizeof pfx);
  for (;;) {
    const uint8_t *ck = NULL, *cv = NULL;
    size_t ckl = 0, cvl = 0;
    int have = 0;
    if (leveldb_iter_valid(it)) {
      const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &ckl);
      if (ckl >= sizeof pfx && memcmp(k, pfx, sizeof pfx) == 0) {
        have = 1;
        ck = k + sizeof pfx;
        ckl -= sizeof pfx;
        cv = (const uint8_t *)leveldb_iter_value(it, &cvl);
      }
    }
    if (!have && i == np) break;
    int c = !have ? 1 : i == np ? -1 : key_cmp(ck, ckl, pend[i]->key, pend[i]->klen);
    if (c < 0) {
      bucket_add(s, &acc, ck, ckl, cv, cvl);
      leveldb_iter_next(it);
    } else {
      if (pend[i]->state == WS_PUT)
        bucket_add(s, &acc, pend[i]->key, pend[i]->klen, pend[i]->val, pend[i]->vlen);
      if (c == 0) leveldb_iter_next(it);
      i++;
    }
  }
  leveldb_iter_get_error(it, &err);
  if (err) {
    cx_err e = ldb_map_err(err);
    LOG_E(MOD, "reading bucket %u failed: %s", (unsigned)b, err);
    leveldb_free(err);
    return e;
  }
  bucket_final(&acc, out);
  return CX_OK;
}

/* Rehashes the dirty paths level by level. d->v[start, d->n) is one level,
 * sorted by node; each pass appends the parents of that level (still sorted),
 * reading clean siblings from the committed tree. Stops at the level of the
 * nodes [stop, 2*stop): stop = 1 climbs to the root. */
static void climb(const store *s, tdelta *d, size_t start, uint32_t stop) {
  size_t end = d->n;
  while (d->v[start].node >= 2 * stop) {
    for (size_t i = start; i < end; i++) {
      uint32_t n = d->v[i].node;
      const cx_hash *l, *r;
      if ((n & 1) == 0) {
        l = &d->v[i].h;
        if (i + 1 < end && d->v[i + 1].node == n + 1)
          r = &d->v[++i].h;
        else
          r = &s->tree[n + 1];
      } else {
        l = &s->tree[n - 1];
        r = &d->v[i].h;
      }
      tnode *p = &d->v[d->n++];
      p->node = n >> 1;
      node_hash(s, l, r, &p->h);
    }
    start = end;
    end = d->n;
  }
  if (stop == 1) d->root = d->v[start].h;
}

/* One subtree's share of a root computation: the pending entries of buckets
 * under node top (one of nparts nodes at the same level). */
typedef struct {
  store *s;
  ws_ent *const *pend; /* sorted by (bucket, key) */
  size_t np;
  uint32_t nparts;
  tdelta d; /* out: the subtree's changed nodes, top last */
  cx_err e;
} part;

static void *part_run(void *arg) {
  part *p = arg;
  store *s = p->s;
  size_t nb = 0, cap = 0;
  char *err = NULL;
  for (size_t i = 0; i < p->np; i++)
    nb += i == 0 || ent_bucket(p->pend[i]) != ent_bucket(p->pend[i - 1]);
  /* Height h of the subtree has (STORE_BUCKETS >> h) / nparts nodes, of
   * which at most nb change. */
  for (uint32_t lvl = STORE_BUCKETS / p->nparts; lvl >= 1; lvl /= 2) cap += nb < lvl ? nb : lvl;
  p->d.v = malloc(cap * sizeof *p->d.v);
  if (!p->d.v) {
    p->e = CX_E_NOMEM;
    return NULL;
  }
  /* LevelDB iterators are single-threaded: one per part. */
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro);
  for (size_t i = 0; i < p->np;) {
    uint16_t b = ent_bucket(p->pend[i]);
    size_t j = i;
    while (j < p->np && ent_bucket(p->pend[j]) == b) j++;
    p->e = bucket_merged(s, it, b, p->pend + i, j - i, &p->d.v[p->d.n].h);
    if (p->e) break;
    p->d.v[p->d.n++].node = STORE_BUCKETS + b;
    i = j;
  }
  leveldb_iter_get_error(it, &err);
  if (err && !p->e) p->e = ldb_map_err(err);
  leveldb_free(err);
  leveldb_iter_destroy(it);
  if (!p->e) climb(s, &p->d, 0, p->nparts);
  return NULL;
}

/* The changed tree nodes and the new root for ws over the committed state.
 * Large write sets are split by subtree over s->nparts threads (hashing and
 * LevelDB seeks dominate; the subtrees share nothing), then the top levels
 * are climbed here. Writer thread only: reads s->tree and the latest LevelDB
 * state unlocked. */
static cx_err ws_compute(store_ws *ws, tdelta *d) {
  store *s = ws->s;
  ws_ent **pend = NULL;
  part parts[MAX_PARTS];
  pthread_t th[MAX_PARTS];
  int started[MAX_PARTS] = {0};
  uint32_t nparts = s->nparts;
  cx_err e = CX_OK;
  size_t np = 0, nb = 0;
  memset(d, 0, sizeof *d);
  memset(parts, 0, sizeof parts);
  d->root = s->root;
  for (size_t i = 0; i < ws->n; i++) np += ws->ents[i].state != WS_NONE;
  if (np == 0) return CX_OK;
  pend = malloc(np * sizeof *pend);
  if (!pend) return CX_E_NOMEM;
  np = 0;
  for (size_t i = 0; i < ws->n; i++)
    if (ws->ents[i].state != WS_NONE) pend[np++] = &ws->ents[i];
  qsort(pend, np, sizeof *pend, pend_cmp);
  for (size_t i = 0; i < np; i++) nb += i == 0 || ent_bucket(pend[i]) != ent_bucket(pend[i - 1]);
  while (nparts > 1 && nb < PAR_MIN_BUCKETS * nparts) nparts /= 2;

  /* Part t owns buckets [t, t+1) * STORE_BUCKETS / nparts: a contiguous run
   * of the sorted pending entries. */
  unsigned shift = STORE_BUCKET_BITS;
  for (uint32_t n = nparts; n > 1; n /= 2) shift--;
  size_t lo = 0;
  for (uint32_t t = 0; t < nparts; t++) {
    size_t hi = lo;
    while (hi < np && (uint32_t)(ent_bucket(pend[hi]) >> shift) == t) hi++;
    parts[t] = (part){.s = s, .pend = pend + lo, .np = hi - lo, .nparts = nparts};
    lo = hi;
  }
  for (uint32_t t = 1; t < nparts; t++)
    if (parts[t].np) started[t] = pthread_create(&th[t], NULL, part_run, &parts[t]) == 0;
  for (uint32_t t = 0; t < nparts; t++)
    if (parts[t].np && !started[t]) part_run(&parts[t]); /* part 0, or no thread */
  for (uint32_t t = 1; t < nparts; t++)
    if (started[t]) pthread_join(th[t], NULL);
  size_t total = nparts;
  for (uint32_t t = 0; t < nparts; t++) {
    if (parts[t].e && !e) e = parts[t].e;
    total += parts[t].d.n;
  }
  if (e) goto out;

  /* Concatenate the subtrees' nodes minus their tops, then the tops as the
   * level to climb from. */
  d->v = malloc(total * sizeof *d->v);
  if (!d->v) {
    e = CX_E_NOMEM;
    goto out;
  }
  for (uint32_t t = 0; t < nparts; t++) {
    if (!parts[t].d.n) continue;
    memcpy(d->v + d->n, parts[t].d.v, (parts[t].d.n - 1) * sizeof *d->v);
    d->n += parts[t].d.n - 1;
  }
  size_t start = d->n;
  for (uint32_t t = 0; t < nparts; t++)
    if (parts[t].d.n) d->v[d->n++] = parts[t].d.v[parts[t].d.n - 1];
  climb(s, d, start, 1);
out:
  for (uint32_t t = 0; t < nparts; t++) free(parts[t].d.v);
  free(pend);
  if (e) {
    free(d->v);
    memset(d, 0, sizeof *d);
    d->root = s->root;
  }
  return e;
}

/* ws_compute through the write set's memo; *d points into ws. */
static cx_err ws_delta(store_ws *ws, const tdelta **d) {
  if (!ws->memo_ok || ws->memo_gen != ws->gen || ws->memo_epoch != ws->s->epoch) {
    free(ws->memo.v);
    ws->memo_ok = 0;
    cx_err e = ws_compute(ws, &ws->memo);
    if (e) return e;
    ws->memo_ok = 1;
    ws->memo_gen = ws->gen;
    ws->memo_epoch = ws->s->epoch;
  }
  *d = &ws->memo;
  return CX_OK;
}

cx_err store_ws_root(store_ws *ws, cx_hash *root) {
  CX_ASSERT(ws && root);
  const tdelta *d;
  cx_err e = ws_delta(ws, &d);
  if (e) return e;
  *root = d->root;
  return CX_OK;
}

/* Adds the write set's state changes to a batch. */
static void batch_state(leveldb_writebatch_t *wb, const store_ws *ws) {
  uint8_t k[STATE_KEY_PREFIX + STORE_KEY_MAX];
  for (size_t i = 0; ws && i < ws->n; i++) {
    const ws_ent *en = &ws->ents[i];
    if (en->state == WS_NONE) continue;
    size_t kl = state_key(k, ent_bucket(en), en->key, en->klen);
    if (en->state == WS_PUT) {
      if (ws->s->kf) df_add(ws->s->kf, en->kd.b); /* before the write (digest_filter.h) */
      leveldb_writebatch_put(wb, (const char *)k, kl, (const char *)en->val, en->vlen);
    } else
      leveldb_writebatch_delete(wb, (const char *)k, kl);
  }
}

static void batch_tip(leveldb_writebatch_t *wb, uint64_t height, const cx_hash *hash,
                      const cx_hash *root) {
  uint8_t k[16], v[TIP_LEN];
  size_t kl = meta_key(k, META_TIP);
  tip_encode(v, height, hash, root);
  leveldb_writebatch_put(wb, (const char *)k, kl, (const char *)v, sizeof v);
}

/* Writes the batch; on success installs the new tip, root, tree nodes and a
 * fresh snapshot for readers in one critical section. nsnap is preallocated
 * so nothing can fail once the batch is durable. */
/* What a commit does to the pending txid entries once it is written. */
typedef struct {
  int flushed; /* the batch put every pending entry and the block's under 'T' */
  uint64_t height;
  const store_txent *txs;
  size_t ntx;
} txupd;

static cx_err write_and_publish(store *s, leveldb_writebatch_t *wb,
                                const leveldb_writeoptions_t *wo, snapref *nsnap,
                                const tdelta *d, uint64_t height, const cx_hash *tip,
                                const cx_hash *chain_id, const txupd *u) {
  char *err = NULL;
  leveldb_write(s->db, wo, wb, &err);
  if (err) {
    LOG_E(MOD, "writing block %llu failed: %s", (unsigned long long)height, err);
    leveldb_free(err);
    snap_free(s, nsnap);
    return CX_E_IO;
  }
  snap_take(s, nsnap);
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < d->n; i++) s->tree[d->v[i].node] = d->v[i].h;
  s->root = d->root;
  s->epoch++;
  s->height = height;
  s->tip = *tip;
  if (chain_id) {
    s->chain_id = *chain_id;
    s->has_chain = 1;
  }
  if (u) s->has_txmark = 1;
  if (u && u->flushed) {
    txp_clear(&s->pend);
    s->txmark = u->height;
  } else if (u) { /* room was reserved before the write */
    for (size_t i = 0; i < u->ntx; i++)
      txp_add(&s->pend, &u->txs[i].txid, u->height, (uint32_t)i, u->txs[i].code);
  }
  snapref *old = snap_publish_locked(s, nsnap);
  pthread_mutex_unlock(&s->mu);
  snap_free(s, old);
  return CX_OK;
}

/* After a state write (between sc_begin and sc_end): the written entries of
 * ws become the cached committed values. A failed write may or may not be
 * in LevelDB (the caller stops the node), so the cache forgets everything. */
static void cache_written(store *s, const store_ws *ws, cx_err write_err) {
  if (write_err) {
    sc_clear(s->sc);
    return;
  }
  for (size_t i = 0; ws && i < ws->n; i++) {
    const ws_ent *en = &ws->ents[i];
    if (en->state == WS_PUT) sc_update(s->sc, en->key, en->klen, en->val, en->vlen);
    if (en->state == WS_DEL) sc_update(s->sc, en->key, en->klen, NULL, 0);
  }
}

/* The block's txid entries stay pending: its 'L' record (with the block's
 * bytes, which name the txids, the entries' durable copy until they go
 * under 'T': the count and the codes that are not OK), and room for them
 * in the table. */
static cx_err batch_txids_pending(store *s, leveldb_writebatch_t *wb, uint64_t height,
                                  const store_txent *txs, size_t ntx) {
  pthread_mutex_lock(&s->mu);
  cx_err e = txp_reserve(&s->pend, ntx);
  pthread_mutex_unlock(&s->mu);
  if (e) return e;
  size_t nbad = 0;
  for (size_t i = 0; i < ntx; i++) nbad += txs[i].code != CX_OK;
  uint8_t k[16], *v = malloc(4 + nbad * TXL_ENT);
  if (!v) return CX_E_NOMEM;
  put_be32(v, (uint32_t)ntx);
  for (size_t i = 0, j = 0; i < ntx; i++) {
    if (txs[i].code == CX_OK) continue;
    put_be32(v + 4 + j * TXL_ENT, (uint32_t)i);
    put_be32(v + 4 + j++ * TXL_ENT + 4, (uint32_t)txs[i].code);
  }
  leveldb_writebatch_put(wb, (const char *)k, height_key(k, P_TXL, height), (const char *)v,
                         4 + nbad * TXL_ENT);
  free(v);
  if (!s->has_txmark) { /* without it the next open would take the tip for the mark */
    uint8_t m[8];
    put_be64(m, s->txmark);
    leveldb_writebatch_put(wb, (const char *)k, meta_key(k, META_TXMARK), (const char *)m, 8);
  }
  return CX_OK;
}

/* Every pending entry and the block's own go under 'T' in txid order (a
 * memtable insert in key order finds its place in cache, where one at a
 * random key misses at each level of a 16 MB skiplist); the 'L' records
 * they came from are deleted and the mark moves to this height. A txid
 * met twice keeps its latest entry, as consecutive puts would. */
static cx_err batch_txids_flush(store *s, leveldb_writebatch_t *wb, uint64_t height,
                                const store_txent *txs, size_t ntx) {
  const txpend *p = &s->pend;
  size_t n = p->n + ntx;
  txent *a = malloc((n ? n : 1) * sizeof *a);
  if (!a) return CX_E_NOMEM;
  if (p->n) memcpy(a, p->v, p->n * sizeof *a);
  for (size_t i = 0; i < ntx; i++)
    a[p->n + i] = (txent){.txid = txs[i].txid, .height = height, .index = (uint32_t)i,
                          .code = txs[i].code, .seq = p->n + i};
  qsort(a, n, sizeof *a, txent_cmp);
  uint8_t k[33], loc[TXLOC_LEN];
  for (size_t i = 0; i < n; i++) {
    if (i + 1 < n && hash_eq(&a[i].txid, &a[i + 1].txid)) continue;
    put_be64(loc, a[i].height);
    put_be32(loc + 8, a[i].index);
    put_be32(loc + 12, (uint32_t)a[i].code);
    leveldb_writebatch_put(wb, (const char *)k, hash_key(k, P_TX, &a[i].txid), (const char *)loc,
                           sizeof loc);
  }
  free(a);
  for (uint64_t h = s->txmark + 1; h < height; h++)
    leveldb_writebatch_delete(wb, (const char *)k, height_key(k, P_TXL, h));
  uint8_t v[8];
  put_be64(v, height);
  leveldb_writebatch_put(wb, (const char *)k, meta_key(k, META_TXMARK), (const char *)v, 8);
  return CX_OK;
}

cx_err store_commit(store *s, store_ws *ws, uint64_t height, const cx_hash *block_hash,
                    const cx_hash *parent_hash, const uint8_t *block, size_t blen,
                    const uint8_t *cert, size_t clen, const store_txent *txs, size_t ntx) {
  CX_ASSERT(s && block_hash && parent_hash && (block || !blen) && (cert || !clen) &&
            (txs || !ntx));
  CX_ASSERT(!ws || ws->s == s);
  cx_err e = CX_OK;
  tdelta none = {.root = s->root};
  const tdelta *d = &none;
  leveldb_writebatch_t *wb = NULL;
  snapref *nsnap = NULL;
  char x[CX_HASH_HEX_LEN], y[CX_HASH_HEX_LEN];
  if (height != s->height + 1 || s->installing) {
    e = CX_E_HEIGHT;
    goto out;
  }
  if (!hash_eq(parent_hash, &s->tip)) {
    e = CX_E_BAD_PARENT;
    goto out;
  }
  if (ntx > UINT32_MAX) {
    e = CX_E_INVALID_ARG;
    goto out;
  }
  if (s->opts.block_hasher) {
    cx_hash bh, ph;
    if (s->opts.block_hasher(block, blen, &bh, &ph) != CX_OK || !hash_eq(&bh, block_hash) ||
        !hash_eq(&ph, parent_hash)) {
      LOG_E(MOD, "refusing block %llu: bytes do not match hash %s / parent %s",
            (unsigned long long)height, hash_hex(block_hash, x), hash_hex(parent_hash, y));
      e = CX_E_BAD_BLOCK;
      goto out;
    }
  }
  if (ws) {
    e = ws_delta(ws, &d);
    if (e) goto out;
  }
  nsnap = snap_new();
  if (!nsnap) {
    e = CX_E_NOMEM;
    goto out;
  }
  wb = leveldb_writebatch_create();
  uint8_t k[40], v[NREC_LEN];
  leveldb_writebatch_put(wb, (const char *)k, height_key(k, P_BLOCK, height),
                         (const char *)block, blen);
  leveldb_writebatch_put(wb, (const char *)k, height_key(k, P_CERT, height),
                         (const char *)cert, clen);
  put_be64(v, height);
  leveldb_writebatch_put(wb, (const char *)k, hash_key(k, P_HASH, block_hash),
                         (const char *)v, 8);
  memcpy(v, block_hash->b, 32);
  memcpy(v + 32, parent_hash->b, 32);
  leveldb_writebatch_put(wb, (const char *)k, height_key(k, P_NREC, height),
                         (const char *)v, NREC_LEN);
  for (size_t i = 0; i < ntx; i++)
    if (s->txf) df_add(s->txf, txs[i].txid.b); /* before the write (digest_filter.h) */
  txupd u = {.height = height, .txs = txs, .ntx = ntx};
  u.flushed = s->txbatch <= 1 || s->pend.n + ntx >= s->txbatch ||
              height - s->txmark >= TXIDX_HEIGHTS;
  e = u.flushed ? batch_txids_flush(s, wb, height, txs, ntx)
                : batch_txids_pending(s, wb, height, txs, ntx);
  if (e) goto out;
  batch_state(wb, ws);
  batch_tip(wb, height, block_hash, &d->root);
  sc_begin(s->sc);
  e = write_and_publish(s, wb, s->wo, nsnap, d, height, block_hash, NULL, &u);
  cache_written(s, ws, e);
  sc_end(s->sc);
  nsnap = NULL;
out:
  if (wb) leveldb_writebatch_destroy(wb);
  snap_free(s, nsnap);
  store_ws_free(ws);
  return e;
}

cx_err store_init_genesis(store *s, store_ws *ws, const cx_hash *chain_id) {
  CX_ASSERT(s && chain_id);
  CX_ASSERT(!ws || ws->s == s);
  cx_err e = CX_OK;
  tdelta none = {.root = s->root};
  const tdelta *d = &none;
  leveldb_writebatch_t *wb = NULL;
  snapref *nsnap = NULL;
  uint8_t k[16];
  tip_rec t;
  if (s->has_chain || s->height != 0 || s->installing) {
    e = CX_E_EXISTS;
    goto out;
  }
  /* A tip record at height 0 without a chain id cannot be written by this
   * code, but refusing is cheaper than reasoning about it. */
  e = tip_read(s, s->ro, &t);
  if (e != CX_E_NOT_FOUND) {
    e = e ? e : CX_E_EXISTS;
    goto out;
  }
  if (ws) {
    e = ws_delta(ws, &d);
    if (e) goto out;
  }
  nsnap = snap_new();
  if (!nsnap) {
    e = CX_E_NOMEM;
    goto out;
  }
  wb = leveldb_writebatch_create();
  batch_state(wb, ws);
  leveldb_writebatch_put(wb, (const char *)k, meta_key(k, META_CHAIN),
                         (const char *)chain_id->b, 32);
  batch_tip(wb, 0, &(cx_hash){{0}}, &d->root);
  sc_begin(s->sc);
  e = write_and_publish(s, wb, s->wo_sync, nsnap, d, 0, &(cx_hash){{0}}, chain_id, NULL);
  cache_written(s, ws, e);
  sc_end(s->sc);
  nsnap = NULL;
out:
  if (wb) leveldb_writebatch_destroy(wb);
  snap_free(s, nsnap);
  return e;
}

/* ---- verify / proofs ---------------------------------------------------- */

cx_err store_verify_all(store *s, char *errbuf, size_t errlen) {
  char x[CX_HASH_HEX_LEN], y[CX_HASH_HEX_LEN];
  seterr(errbuf, errlen, "%s", "");
  cx_hash *tree = malloc(TREE_NODES * sizeof *tree);
  if (!tree) return CX_E_NOMEM;
  pthread_mutex_lock(&s->mu);
  snapref *r = s->cur;
  r->refs++;
  uint64_t base = s->base; /* published with the snapshot */
  pthread_mutex_unlock(&s->mu);
  tip_rec t;
  uint64_t nent = 0;
  cx_err e = tip_read(s, r->ro, &t);
  if (e == CX_E_NOT_FOUND) {
    memset(&t, 0, sizeof t);
    e = CX_OK;
    t.root = s->empty[STORE_BUCKET_BITS];
  } else if (e) {
    seterr(errbuf, errlen, "the tip record is unreadable or malformed");
    if (e != CX_E_NOMEM && e != CX_E_IO) e = CX_E_CORRUPT;
    goto out;
  } else {
    e = check_chain(s, r->ro, &t, 1, base, errbuf, errlen);
    if (e) goto out;
  }
  /* The same snapshot as the tip record: a concurrent commit cannot mix in. */
  e = scan_state(s, r->snap, tree, 1, NULL, &nent, errbuf, errlen);
  if (e) goto out;
  if (!hash_eq(&tree[1], &t.root)) {
    seterr(errbuf, errlen, "state root recomputed from %llu entries is %s, recorded root "
           "at height %llu is %s", (unsigned long long)nent, hash_hex(&tree[1], x),
           (unsigned long long)t.height, hash_hex(&t.root, y));
    e = CX_E_CORRUPT;
  }
out:
  snap_release(s, r);
  free(tree);
  return e;
}

/* Siblings of bucket b's path, bottom-up, from the committed tree (caller
 * holds mu or is the writer). */
static void proof_siblings(const store *s, uint32_t b, cx_hash *sib) {
  uint32_t n = STORE_BUCKETS + b;
  for (unsigned i = 0; i < STORE_BUCKET_BITS; i++, n >>= 1) sib[i] = s->tree[n ^ 1];
}

cx_err store_state_proof(store *s, const uint8_t *key, size_t klen, uint32_t *bucket,
                         cx_hash siblings[STORE_BUCKET_BITS]) {
  CX_ASSERT(s && (key || !klen) && bucket && siblings);
  if (klen > STORE_KEY_MAX) return CX_E_TOO_LONG;
  uint32_t b = key_bucket(s, key, klen);
  pthread_mutex_lock(&s->mu);
  proof_siblings(s, b, siblings);
  pthread_mutex_unlock(&s->mu);
  *bucket = b;
  return CX_OK;
}

void store_proof_free(store_proof *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n; i++) {
    free(p->entries[i].key);
    free(p->entries[i].val);
  }
  free(p->entries);
  p->entries = NULL;
  p->n = 0;
}

static cx_err proof_add(store_proof *p, size_t *cap, const uint8_t *k, size_t kl,
                        const uint8_t *v, size_t vl) {
  if (p->n == *cap) {
    size_t nc = *cap ? 2 * *cap : 4;
    store_kv *ne = realloc(p->entries, nc * sizeof *ne);
    if (!ne) return CX_E_NOMEM;
    p->entries = ne;
    *cap = nc;
  }
  store_kv *kv = &p->entries[p->n];
  kv->key = dup_bytes(k, kl);
  kv->val = dup_bytes(v, vl);
  if (!kv->key || !kv->val) {
    free(kv->key);
    free(kv->val);
    return CX_E_NOMEM;
  }
  kv->klen = kl;
  kv->vlen = vl;
  p->n++;
  return CX_OK;
}

cx_err store_state_proof_ex(store *s, const uint8_t *key, size_t klen, store_proof *out) {
  CX_ASSERT(s && (key || !klen) && out);
  memset(out, 0, sizeof *out);
  if (klen > STORE_KEY_MAX) return CX_E_TOO_LONG;
  uint32_t b = key_bucket(s, key, klen);
  cx_err e = CX_OK;
  char *err = NULL;
  size_t cap = 0;
  /* Pin the snapshot and copy the tree path in one critical section: both
   * belong to the same committed height. */
  pthread_mutex_lock(&s->mu);
  snapref *r = s->cur;
  r->refs++;
  proof_siblings(s, b, out->siblings);
  out->height = s->height;
  out->root = s->root;
  pthread_mutex_unlock(&s->mu);
  out->bucket = b;
  uint8_t pfx[STATE_KEY_PREFIX] = {P_STATE, (uint8_t)(b >> 8), (uint8_t)b};
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, r->ro);
  for (leveldb_iter_seek(it, (const char *)pfx, sizeof pfx); leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kl, vl;
    const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &kl);
    if (kl < sizeof pfx || memcmp(k, pfx, sizeof pfx) != 0) break;
    const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vl);
    e = proof_add(out, &cap, k + sizeof pfx, kl - sizeof pfx, v, vl);
    if (e) goto out;
  }
  leveldb_iter_get_error(it, &err);
  if (err) {
    e = ldb_map_err(err);
    LOG_E(MOD, "reading bucket %u for a proof failed: %s", (unsigned)b, err);
    leveldb_free(err);
  }
out:
  leveldb_iter_destroy(it);
  snap_release(s, r);
  if (e) store_proof_free(out);
  return e;
}

/* ---- backup ------------------------------------------------------------- */

cx_err store_backup(store *s, const char *dir, store_backup_info *out, char *errbuf, size_t errlen) {
  CX_ASSERT(s && dir && out);
  memset(out, 0, sizeof *out);
  seterr(errbuf, errlen, "%s", "");
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    seterr(errbuf, errlen, "cannot create %s: %s", dir, strerror(errno));
    return CX_E_IO;
  }
  size_t n = strlen(dir) + sizeof "/chain";
  char *path = malloc(n);
  if (!path) return CX_E_NOMEM;
  snprintf(path, n, "%s/chain", dir);
  /* Pin the published snapshot and read the tip it belongs to in the same
   * critical section: write_and_publish installs both under mu together. */
  pthread_mutex_lock(&s->mu);
  snapref *r = s->cur;
  r->refs++;
  out->height = s->height;
  out->tip = s->tip;
  out->root = s->root;
  out->has_chain = s->has_chain;
  if (s->has_chain) out->chain_id = s->chain_id;
  pthread_mutex_unlock(&s->mu);
  cx_err e = ldb_copy(s->db, r->snap, path, &out->keys, out->sha256, errbuf, errlen);
  snap_release(s, r);
  if (!e) {
    LOG_I(MOD, "backup of height %llu (%llu keys) written to %s", (unsigned long long)out->height,
          (unsigned long long)out->keys, path);
  }
  free(path);
  return e;
}

cx_err store_backup_digest(const char *dbdir, uint64_t *keys, uint8_t sha256[32], char *errbuf,
                           size_t errlen) {
  return ldb_digest(dbdir, keys, sha256, errbuf, errlen);
}

/* ---- state sync: pinned snapshots and installs (docs/storage.md) -------- */

uint64_t store_base(const store *s) {
  store *m = (store *)s;
  pthread_mutex_lock(&m->mu);
  uint64_t b = s->base;
  pthread_mutex_unlock(&m->mu);
  return b;
}

cx_err store_snap_pin(store *s, store_snap **out) {
  CX_ASSERT(s && out);
  store_snap *p = calloc(1, sizeof *p);
  if (!p) return CX_E_NOMEM;
  p->s = s;
  /* The snapshot and the tree it belongs to, in one critical section:
   * write_and_publish installs both under mu. */
  pthread_mutex_lock(&s->mu);
  p->r = s->cur;
  p->r->refs++;
  p->info.height = s->height;
  p->info.tip = s->tip;
  p->info.root = s->root;
  memcpy(p->info.subtrees, &s->tree[STORE_SNAP_CHUNKS], sizeof p->info.subtrees);
  p->next = s->pins;
  s->pins = p;
  pthread_mutex_unlock(&s->mu);
  *out = p;
  return CX_OK;
}

void store_snap_unpin(store_snap *p) {
  if (!p) return;
  store *s = p->s;
  pthread_mutex_lock(&s->mu);
  for (store_snap **q = &s->pins; *q; q = &(*q)->next)
    if (*q == p) {
      *q = p->next;
      break;
    }
  pthread_mutex_unlock(&s->mu);
  snap_release(s, p->r);
  free(p);
}

const store_snap_info *store_snap_info_of(const store_snap *p) { return &p->info; }

/* store_close: the pins nobody released. */
static void snap_pins_free(store *s) {
  while (s->pins) {
    store_snap *p = s->pins;
    s->pins = p->next;
    if (--p->r->refs == 0 && p->r != s->cur) snap_free(s, p->r);
    free(p);
  }
}

cx_err store_snap_chunk(store_snap *p, unsigned chunk, int has_after, const uint8_t *after,
                        size_t after_len, size_t budget, size_t max_entries, store_snap_fn fn,
                        void *ctx, int *more) {
  CX_ASSERT(p && fn && more && chunk < STORE_SNAP_CHUNKS && (after || !after_len) &&
            max_entries >= 1);
  store *s = p->s;
  uint32_t lo = chunk * STORE_SNAP_CHUNK_BUCKETS, hi = lo + STORE_SNAP_CHUNK_BUCKETS;
  uint8_t k[STATE_KEY_PREFIX + STORE_KEY_MAX];
  size_t kl, bytes = 0, n = 0;
  int skip_eq = 0;
  cx_err e = CX_OK;
  char *err = NULL;
  *more = 0;
  if (has_after && after_len > STORE_KEY_MAX) return CX_E_TOO_LONG;
  kl = state_key(k, (uint16_t)lo, NULL, 0);
  if (has_after) {
    uint32_t b = key_bucket(s, after, after_len);
    if (b >= hi) return CX_OK; /* sorts after the chunk */
    if (b >= lo) {
      kl = state_key(k, (uint16_t)b, after, after_len);
      skip_eq = 1;
    }
  }
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(ro, 1);
  leveldb_readoptions_set_fill_cache(ro, 0);
  leveldb_readoptions_set_snapshot(ro, p->r->snap);
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, ro);
  for (leveldb_iter_seek(it, (const char *)k, kl); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t ikl, vl;
    const uint8_t *ik = (const uint8_t *)leveldb_iter_key(it, &ikl);
    if (ikl < STATE_KEY_PREFIX || ik[0] != P_STATE || (uint32_t)(ik[1] << 8 | ik[2]) >= hi) break;
    if (skip_eq) {
      skip_eq = 0;
      if (ikl == kl && memcmp(ik, k, kl) == 0) continue; /* the key given: start after it */
    }
    const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vl);
    if (ikl - STATE_KEY_PREFIX > STORE_KEY_MAX || vl > STORE_VALUE_MAX) {
      e = CX_E_CORRUPT;
      break;
    }
    size_t cost = ikl - STATE_KEY_PREFIX + vl + 6;
    if (n > 0 && (bytes + cost > budget || n >= max_entries)) {
      *more = 1;
      break;
    }
    fn(ctx, ik + STATE_KEY_PREFIX, ikl - STATE_KEY_PREFIX, v, vl);
    bytes += cost;
    n++;
  }
  leveldb_iter_get_error(it, &err);
  if (err) {
    e = ldb_map_err(err);
    LOG_E(MOD, "reading chunk %u of a snapshot failed: %s", chunk, err);
    leveldb_free(err);
  }
  leveldb_iter_destroy(it);
  leveldb_readoptions_destroy(ro);
  return e;
}

#define SAVE_MAX (64u << 20) /* the height-0 state kept aside: a genesis is small */
#define UNDO_BATCH 65536     /* keys deleted per batch when undoing an install */

/* Writes a batch; a failure is logged and is CX_E_IO (as a commit's). */
static cx_err batch_write(store *s, leveldb_writebatch_t *wb, const leveldb_writeoptions_t *wo,
                          const char *what) {
  char *err = NULL;
  leveldb_write(s->db, wo, wb, &err);
  if (!err) return CX_OK;
  LOG_E(MOD, "%s: write failed: %s", what, err);
  leveldb_free(err);
  return CX_E_IO;
}

/* Adds to wb, for at most max keys with this prefix (latest state, from
 * the first one): a delete and, when to != 0, a put of the value under the
 * same key with the prefix `to`. *count: keys added; *bytes (may be NULL)
 * grows by their key and value bytes. */
static cx_err batch_move(store *s, leveldb_writebatch_t *wb, uint8_t from, uint8_t to,
                         size_t max, size_t *count, size_t *bytes) {
  char *err = NULL;
  uint8_t nk[STATE_KEY_PREFIX + STORE_KEY_MAX];
  cx_err e = CX_OK;
  *count = 0;
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
  for (leveldb_iter_seek(it, (const char *)&from, 1); leveldb_iter_valid(it) && *count < max;
       leveldb_iter_next(it)) {
    size_t kl, vl;
    const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &kl);
    if (kl == 0 || k[0] != from) break;
    if (to) {
      const uint8_t *v = (const uint8_t *)leveldb_iter_value(it, &vl);
      if (kl > sizeof nk) {
        e = CX_E_CORRUPT;
        break;
      }
      memcpy(nk, k, kl);
      nk[0] = to;
      leveldb_writebatch_put(wb, (const char *)nk, kl, (const char *)v, vl);
      if (bytes) *bytes += kl + vl;
    }
    leveldb_writebatch_delete(wb, (const char *)k, kl);
    (*count)++;
  }
  leveldb_iter_get_error(it, &err);
  if (err) {
    e = ldb_map_err(err);
    LOG_E(MOD, "scanning records '%c' failed: %s", from, err);
    leveldb_free(err);
  }
  leveldb_iter_destroy(it);
  return e;
}

static void bump_epoch(store *s) {
  pthread_mutex_lock(&s->mu);
  s->epoch++; /* the latest state changed under any write set's memo */
  pthread_mutex_unlock(&s->mu);
}

/* Puts the height-0 state saved by store_install_begin back: the state is
 * cleared in batches, then the saved entries return and the marker goes in
 * one synced batch. Interrupted anywhere, it runs again from the start at
 * the next open (the saved entries go only with the marker). */
static cx_err install_undo(store *s) {
  cx_err e = CX_OK;
  size_t count = 0;
  do {
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    e = batch_move(s, wb, P_STATE, 0, UNDO_BATCH, &count, NULL);
    if (!e && count) e = batch_write(s, wb, s->wo, "clearing an installed state");
    leveldb_writebatch_destroy(wb);
  } while (!e && count == UNDO_BATCH);
  if (e) return e;
  leveldb_writebatch_t *wb = leveldb_writebatch_create();
  e = batch_move(s, wb, P_SAVED, P_STATE, SIZE_MAX, &count, NULL);
  uint8_t k[16];
  leveldb_writebatch_delete(wb, (const char *)k, meta_key(k, META_RESTORING));
  if (!e) e = batch_write(s, wb, s->wo_sync, "restoring the height-0 state");
  leveldb_writebatch_destroy(wb);
  return e;
}

/* store_open: an install interrupted by a crash is undone; the base is read. */
static cx_err open_install_state(store *s, char *errbuf, size_t errlen) {
  uint8_t k[16], v[8];
  cx_err e = db_get_fixed(s, s->ro, k, meta_key(k, META_RESTORING), v, 8);
  if (e == CX_OK) {
    LOG_W(MOD, "the install of a state snapshot at height %llu was interrupted: the height-0 "
          "state is put back", (unsigned long long)get_be64(v));
    if ((e = install_undo(s))) {
      seterr(errbuf, errlen, "undoing an interrupted snapshot install failed (%s)",
             cx_err_name(e));
      return e;
    }
  } else if (e != CX_E_NOT_FOUND) {
    seterr(errbuf, errlen, "the snapshot install marker is unreadable or malformed");
    return e == CX_E_NOMEM || e == CX_E_IO ? e : CX_E_CORRUPT;
  }
  e = db_get_fixed(s, s->ro, k, meta_key(k, META_BASE), v, 8);
  if (e == CX_E_NOT_FOUND) return CX_OK;
  if (e || get_be64(v) == 0) {
    seterr(errbuf, errlen, "the base record is unreadable or malformed");
    return e == CX_E_NOMEM || e == CX_E_IO ? e : CX_E_CORRUPT;
  }
  s->base = get_be64(v);
  return CX_OK;
}

cx_err store_install_begin(store *s, uint64_t height) {
  CX_ASSERT(s);
  if (height == 0) return CX_E_INVALID_ARG;
  if (s->installing || s->height != 0 || !s->has_chain || s->base) return CX_E_EXISTS;
  size_t count = 0, bytes = 0;
  leveldb_writebatch_t *wb = leveldb_writebatch_create();
  cx_err e = batch_move(s, wb, P_STATE, P_SAVED, SIZE_MAX, &count, &bytes);
  if (!e && bytes > SAVE_MAX) e = CX_E_FULL;
  uint8_t k[16], v[8];
  put_be64(v, height);
  leveldb_writebatch_put(wb, (const char *)k, meta_key(k, META_RESTORING), (const char *)v, 8);
  /* The cache stays empty with an odd generation (no fills) until the
   * install ends either way: the state moves in several writes. */
  sc_begin(s->sc);
  sc_clear(s->sc);
  if (!e) e = batch_write(s, wb, s->wo_sync, "beginning a snapshot install");
  leveldb_writebatch_destroy(wb);
  if (e) {
    sc_end(s->sc);
    return e;
  }
  s->installing = 1;
  bump_epoch(s);
  LOG_I(MOD, "installing a state snapshot at height %llu (%zu height-0 entries kept aside)",
        (unsigned long long)height, count);
  return CX_OK;
}

cx_err store_install_chunk(store *s, unsigned chunk, const store_kv *ents, size_t n) {
  CX_ASSERT(s && chunk < STORE_SNAP_CHUNKS && (ents || !n));
  if (!s->installing) return CX_E_INVALID_ARG;
  uint32_t lo = chunk * STORE_SNAP_CHUNK_BUCKETS, hi = lo + STORE_SNAP_CHUNK_BUCKETS;
  for (size_t i = 0; i < n; i++) {
    if (ents[i].klen > STORE_KEY_MAX || ents[i].vlen > STORE_VALUE_MAX) return CX_E_TOO_LONG;
    uint32_t b = key_bucket(s, ents[i].key, ents[i].klen);
    if (b < lo || b >= hi) return CX_E_INVALID_ARG;
  }
  cx_err e = CX_OK;
  char *err = NULL;
  uint8_t k[STATE_KEY_PREFIX + STORE_KEY_MAX];
  leveldb_writebatch_t *wb = leveldb_writebatch_create();
  /* what the chunk held (a chunk written twice is replaced, not merged) */
  leveldb_iterator_t *it = leveldb_create_iterator(s->db, s->ro_scan);
  size_t kl = state_key(k, (uint16_t)lo, NULL, 0);
  for (leveldb_iter_seek(it, (const char *)k, kl); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t ikl;
    const uint8_t *ik = (const uint8_t *)leveldb_iter_key(it, &ikl);
    if (ikl < STATE_KEY_PREFIX || ik[0] != P_STATE || (uint32_t)(ik[1] << 8 | ik[2]) >= hi) break;
    leveldb_writebatch_delete(wb, (const char *)ik, ikl);
  }
  leveldb_iter_get_error(it, &err);
  if (err) {
    e = ldb_map_err(err);
    LOG_E(MOD, "reading chunk %u before writing it failed: %s", chunk, err);
    leveldb_free(err);
  }
  leveldb_iter_destroy(it);
  for (size_t i = 0; !e && i < n; i++) {
    cx_hash kd;
    kl = state_key(k, key_digest(s, ents[i].key, ents[i].klen, &kd), ents[i].key, ents[i].klen);
    if (s->kf) df_add(s->kf, kd.b); /* before the write (digest_filter.h) */
    leveldb_writebatch_put(wb, (const char *)k, kl, (const char *)ents[i].val, ents[i].vlen);
  }
  if (!e) e = batch_write(s, wb, s->wo, "writing a snapshot chunk");
  leveldb_writebatch_destroy(wb);
  if (!e) bump_epoch(s);
  return e;
}

cx_err store_install_finish(store *s, uint64_t height, const cx_hash *block_hash,
                            const cx_hash *parent, const cx_hash *root, const uint8_t *block,
                            size_t blen, const uint8_t *cert, size_t clen, char *errbuf,
                            size_t errlen) {
  CX_ASSERT(s && block_hash && parent && root && (block || !blen) && (cert || !clen));
  char x[CX_HASH_HEX_LEN], y[CX_HASH_HEX_LEN];
  uint64_t nent = 0;
  size_t count = 0;
  cx_err e = CX_OK;
  cx_hash *tree = NULL;
  snapref *nsnap = NULL;
  leveldb_writebatch_t *wb = NULL;
  seterr(errbuf, errlen, "%s", "");
  if (!s->installing || height == 0) {
    seterr(errbuf, errlen, "no snapshot install is under way");
    return CX_E_INVALID_ARG;
  }
  if (s->opts.block_hasher) {
    cx_hash bh, ph;
    if (s->opts.block_hasher(block, blen, &bh, &ph) != CX_OK || !hash_eq(&bh, block_hash) ||
        !hash_eq(&ph, parent)) {
      seterr(errbuf, errlen, "block %llu: the bytes do not match hash %s / parent %s",
             (unsigned long long)height, hash_hex(block_hash, x), hash_hex(parent, y));
      return CX_E_BAD_BLOCK;
    }
  }
  tree = malloc(TREE_NODES * sizeof *tree);
  nsnap = snap_new();
  if (!tree || !nsnap) {
    e = CX_E_NOMEM;
    goto out;
  }
  /* The root of what was written, not of what the chunks were said to be. */
  if ((e = scan_state(s, NULL, tree, 0, NULL, &nent, errbuf, errlen))) goto out;
  if (!hash_eq(&tree[1], root)) {
    seterr(errbuf, errlen, "the installed state (%llu entries) has root %s, block %llu names %s",
           (unsigned long long)nent, hash_hex(&tree[1], x), (unsigned long long)height,
           hash_hex(root, y));
    e = CX_E_BAD_ROOT;
    goto out;
  }
  wb = leveldb_writebatch_create();
  uint8_t k[40], v[NREC_LEN];
  leveldb_writebatch_put(wb, (const char *)k, height_key(k, P_BLOCK, height), (const char *)block,
                         blen);
  leveldb_writebatch_put(wb, (const char *)k, height_key(k, P_CERT, height), (const char *)cert,
                         clen);
  put_be64(v, height);
  leveldb_writebatch_put(wb, (const char *)k, hash_key(k, P_HASH, block_hash), (const char *)v, 8);
  memcpy(v, block_hash->b, 32);
  memcpy(v + 32, parent->b, 32);
  leveldb_writebatch_put(wb, (const char *)k, height_key(k, P_NREC, height), (const char *)v,
                         NREC_LEN);
  batch_tip(wb, height, block_hash, root);
  put_be64(v, height);
  leveldb_writebatch_put(wb, (const char *)k, meta_key(k, META_BASE), (const char *)v, 8);
  /* no block below the base is stored, so no txid of one is pending */
  leveldb_writebatch_put(wb, (const char *)k, meta_key(k, META_TXMARK), (const char *)v, 8);
  leveldb_writebatch_delete(wb, (const char *)k, meta_key(k, META_RESTORING));
  if ((e = batch_move(s, wb, P_SAVED, 0, SIZE_MAX, &count, NULL))) goto out;
  if ((e = batch_write(s, wb, s->wo_sync, "finishing a snapshot install"))) {
    seterr(errbuf, errlen, "writing block %llu and the tip failed", (unsigned long long)height);
    goto out;
  }
  snap_take(s, nsnap);
  pthread_mutex_lock(&s->mu);
  memcpy(s->tree, tree, TREE_NODES * sizeof *tree);
  s->root = *root;
  s->height = height;
  s->tip = *block_hash;
  s->base = height;
  s->txmark = height;
  s->has_txmark = 1;
  txp_clear(&s->pend); /* empty: installs begin at height 0 */
  s->epoch++;
  snapref *old = snap_publish_locked(s, nsnap);
  pthread_mutex_unlock(&s->mu);
  snap_free(s, old);
  nsnap = NULL;
  s->installing = 0;
  sc_clear(s->sc);
  sc_end(s->sc);
  LOG_I(MOD, "state snapshot installed: height %llu, %llu entries, root %s",
        (unsigned long long)height, (unsigned long long)nent, hash_hex(root, x));
out:
  if (wb) leveldb_writebatch_destroy(wb);
  snap_free(s, nsnap);
  free(tree);
  return e;
}

cx_err store_install_abort(store *s) {
  CX_ASSERT(s);
  if (!s->installing) return CX_E_INVALID_ARG;
  cx_err e = install_undo(s);
  bump_epoch(s);
  if (e) return e; /* the marker stays: the next open undoes it */
  s->installing = 0;
  sc_clear(s->sc);
  sc_end(s->sc);
  LOG_I(MOD, "snapshot install undone: back to the height-0 state");
  return CX_OK;
}
