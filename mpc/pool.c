/* The preprocessing pool (mpc.h), the secure element buffers
 * (session_internal.h) and the process's malloc setting for the engine's
 * large messages (mpc_tune_malloc, mpc.h).
 *
 * Each kind of material is a bounded FIFO ring in sodium_malloc'd memory
 * sized to its cap at creation: the pool never grows, so what it holds is
 * never copied by a realloc into memory that is not wiped. Triples are three
 * parallel rings moved together so that a, b, c of one triple stay aligned.
 * Every party must consume items in the order they were made (mpc.h), hence
 * FIFO.
 *
 * Batches: for each kind the pool also remembers which batch its items came
 * from (the label set by mpc_pool_set_label while they were put: the id of
 * the session that made them) and where each batch starts in the sequence
 * of items ever made. That is public bookkeeping, in plain memory. It lets
 * an online session check, before any share is decoded, that every party is
 * about to take the same items (mpc_pool_position, mpc_pool_ahead_digest;
 * docs/mpc-online.md "Pool alignment"). */
#include <malloc.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mpc.h"
#include "session_internal.h"

void mpc_tune_malloc(void) {
  (void)mallopt(M_MMAP_THRESHOLD, 32 << 20); /* glibc's largest */
  (void)mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

/* ---- secure element buffers ---------------------------------------------
 *
 * A sodium_malloc is an mmap with guard pages and an mlock that faults in
 * and clears every page. In this VM the page faults cost more than the
 * field arithmetic: bench_mpc spent 22% of its CPU in the kernel clearing
 * pages for fe_alloc (a prep batch of 100,000 triples takes a 29 MB block
 * per party, every online session its registers). So a freed buffer is
 * wiped and kept, locked, for the next fe_alloc of its size class (or of
 * one up to FE_CACHE_UP classes smaller, when that class has none cached)
 * instead of being unmapped: a cached block is all zero, as a fresh one is.
 *
 * Size classes grow by quarter octaves (4, 5, 6, 7, 8, 10, 12, 14, 16, 20
 * ... elements; a block is at most 25% larger than asked), and a block
 * serves any request up to its class. Each block starts with one hidden
 * element that records its class, so fe_free needs only the pointer, and a
 * freed block is wiped whole. The cache is
 * bounded (FE_CACHE_BYTES in all, FE_CACHE_PER_CLASS blocks a class, or
 * FE_CACHE_SMALL of a class up to FE_SMALL_BYTES: a batch of calls holds
 * one small block per call at once, e.g. each call's client dealing, and
 * the call service runs several batches at once); beyond it a block is
 * freed as before. With 4 a class, bench_calls's call thread still spent
 * 9% of its time in sodium_malloc, 5% with 16 (session 24; what is left
 * is mostly first use: more blocks of a class live at once than before). One mutex: custosd allocates from
 * its prep, calls and RPC threads. */
#define FE_CLASSES 160 /* the largest holds 7 << 39 elements */
#define FE_CACHE_PER_CLASS 16
#define FE_CACHE_SMALL 64          /* the call service's BATCH_MAX */
#define FE_SMALL_BYTES (64u << 10)
#define FE_CACHE_BYTES ((size_t)256 << 20)
#define FE_CACHE_UP 2 /* a miss may take a cached block up to 2 classes larger */

static struct {
  pthread_mutex_t mu;
  fe *blk[FE_CLASSES][FE_CACHE_SMALL]; /* the hidden element's address */
  unsigned n[FE_CLASSES];
  size_t bytes;
} fe_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

static size_t fe_class_cap(int c) { return (size_t)(4 + (c & 3)) << (c >> 2); }

/* The smallest class that holds count elements. */
static int fe_class(size_t count) {
  int c = 0;
  while (fe_class_cap(c) < count) c++;
  return c;
}

fe *fe_alloc(size_t count) {
  if (sodium_init() < 0) return NULL;
  if (count > fe_class_cap(FE_CLASSES - 1)) return NULL;
  int c = fe_class(count);
  size_t cap = fe_class_cap(c);
  fe *b = NULL;
  pthread_mutex_lock(&fe_cache.mu);
  /* Its own class, else one of the next FE_CACHE_UP (at most 1.5x the
   * memory): a batch of calls asks for sizes that follow its call count,
   * which varies from block to block, and a miss is a fresh mlock'd block */
  for (int u = c; u <= c + FE_CACHE_UP && u < FE_CLASSES; u++)
    if (fe_cache.n[u]) {
      b = fe_cache.blk[u][--fe_cache.n[u]];
      fe_cache.bytes -= (fe_class_cap(u) + 1) * sizeof(fe);
      break;
    }
  pthread_mutex_unlock(&fe_cache.mu);
  if (!b) {
    /* A multiple of sizeof(fe), so the guarded region stays aligned. */
    b = sodium_malloc((cap + 1) * sizeof(fe));
    if (!b) return NULL;
    memset(b, 0, (cap + 1) * sizeof(fe));
    b[0] = (fe)c;
  }
  return b + 1; /* all zero: fresh, or wiped by fe_free */
}

void fe_free(fe *p) {
  if (!p) return;
  fe *b = p - 1;
  int c = (int)b[0];
  size_t cap = fe_class_cap(c);
  sodium_memzero(p, cap * sizeof(fe));
  size_t bytes = (cap + 1) * sizeof(fe);
  pthread_mutex_lock(&fe_cache.mu);
  unsigned lim = bytes <= FE_SMALL_BYTES ? FE_CACHE_SMALL : FE_CACHE_PER_CLASS;
  int kept = fe_cache.n[c] < lim && fe_cache.bytes + bytes <= FE_CACHE_BYTES;
  if (kept) {
    fe_cache.blk[c][fe_cache.n[c]++] = b;
    fe_cache.bytes += bytes;
  }
  pthread_mutex_unlock(&fe_cache.mu);
  if (!kept) sodium_free(b);
}

typedef struct {
  fe *v;
  size_t cap, head, count;
} ring;

/* The items [start, end) of one kind (indices in the sequence of items ever
 * made) came from the batch with this label. */
typedef struct {
  uint8_t label[32];
  uint64_t start, end;
} batch;

/* Oldest first; batches whose items have all been taken are dropped. */
typedef struct {
  batch *v;
  size_t n, cap;
} batches;

enum { K_TRIPLES = 0, K_RANDS, K_BITS, K_INTS, K_N };
_Static_assert(K_N == MPC_POOL_KINDS, "mpc.h orders the kinds as this enum");

struct mpc_pool {
  ring g[K_N];     /* per kind; g[K_TRIPLES] holds the a's and the triples' head and count */
  ring tb, tc;     /* the triples' b's and c's, mirroring g[K_TRIPLES] */
  uint64_t made[K_N];
  batches bt[K_N];   /* per kind */
  uint8_t label[32]; /* label of what is put now (all zero: none) */
};

/* ---- batch records ------------------------------------------------------ */

/* Room for one more record, before anything is added: a put either
 * happens whole or not at all. */
static cx_err batches_reserve(batches *b) {
  if (b->n < b->cap) return CX_OK;
  size_t cap = b->cap ? 2 * b->cap : 8;
  batch *v = realloc(b->v, cap * sizeof *v);
  if (!v) return CX_E_NOMEM;
  b->v = v;
  b->cap = cap;
  return CX_OK;
}

/* Records count items made from index `made` on, under the current label;
 * consecutive puts of one batch extend one record. */
static void batches_add(batches *b, const uint8_t label[32], uint64_t made, size_t count) {
  if (b->n && b->v[b->n - 1].end == made && memcmp(b->v[b->n - 1].label, label, 32) == 0) {
    b->v[b->n - 1].end += count;
    return;
  }
  batch *x = &b->v[b->n++];
  memcpy(x->label, label, 32);
  x->start = made;
  x->end = made + count;
}

/* Drops the records all of whose items have been taken. */
static void batches_drop(batches *b, uint64_t taken) {
  size_t k = 0;
  while (k < b->n && b->v[k].end <= taken) k++;
  if (!k) return;
  memmove(b->v, b->v + k, (b->n - k) * sizeof *b->v);
  b->n -= k;
}

static cx_err ring_init(ring *g, size_t cap) {
  memset(g, 0, sizeof *g);
  g->v = fe_alloc(cap);
  if (!g->v) return CX_E_NOMEM;
  g->cap = cap;
  return CX_OK;
}

static void ring_free(ring *g) {
  fe_free(g->v);
  g->v = NULL;
}

/* Copies count elements in at position tail (the caller checked room). */
static void ring_write(ring *g, size_t head, size_t used, const fe *src, size_t count) {
  size_t tail = (head + used) % g->cap; /* count > 0, so cap > 0 */
  size_t first = g->cap - tail < count ? g->cap - tail : count;
  memcpy(g->v + tail, src, first * sizeof(fe));
  memcpy(g->v, src + first, (count - first) * sizeof(fe));
}

/* Copies count elements out from head and wipes the slots they leave. */
static void ring_read(ring *g, size_t head, fe *dst, size_t count) {
  size_t first = g->cap - head < count ? g->cap - head : count;
  memcpy(dst, g->v + head, first * sizeof(fe));
  sodium_memzero(g->v + head, first * sizeof(fe));
  memcpy(dst + first, g->v, (count - first) * sizeof(fe));
  sodium_memzero(g->v, (count - first) * sizeof(fe));
}

static int ring_room(const ring *g, size_t count) { return count <= g->cap - g->count; }

static void ring_put(ring *g, const fe *src, size_t count) {
  if (!count) return;
  ring_write(g, g->head, g->count, src, count);
  g->count += count;
}

static void ring_take(ring *g, fe *dst, size_t count) {
  if (!count) return;
  ring_read(g, g->head, dst, count);
  g->head = (g->head + count) % g->cap;
  g->count -= count;
}

cx_err mpc_pool_new(size_t cap_triples, size_t cap_rands, size_t cap_bits, size_t cap_ints, mpc_pool **out) {
  *out = NULL;
  mpc_pool *p = calloc(1, sizeof *p);
  if (!p) return CX_E_NOMEM;
  const size_t cap[K_N] = {cap_triples, cap_rands, cap_bits, cap_ints};
  cx_err e = ring_init(&p->tb, cap_triples);
  if (e == CX_OK) e = ring_init(&p->tc, cap_triples);
  for (int k = 0; k < K_N && e == CX_OK; k++) e = ring_init(&p->g[k], cap[k]);
  if (e != CX_OK) {
    mpc_pool_free(p);
    return CX_E_NOMEM;
  }
  *out = p;
  return CX_OK;
}

void mpc_pool_free(mpc_pool *p) {
  if (!p) return;
  for (int k = 0; k < K_N; k++) {
    free(p->bt[k].v);
    ring_free(&p->g[k]);
  }
  ring_free(&p->tb);
  ring_free(&p->tc);
  free(p);
}

void mpc_pool_level_get(const mpc_pool *p, mpc_pool_level *out) {
  memset(out, 0, sizeof *out);
  out->triples = p->g[K_TRIPLES].count;
  out->rands = p->g[K_RANDS].count;
  out->bits = p->g[K_BITS].count;
  out->ints = p->g[K_INTS].count;
  out->cap_triples = p->g[K_TRIPLES].cap;
  out->cap_rands = p->g[K_RANDS].cap;
  out->cap_bits = p->g[K_BITS].cap;
  out->cap_ints = p->g[K_INTS].cap;
  out->made_triples = p->made[K_TRIPLES];
  out->made_rands = p->made[K_RANDS];
  out->made_bits = p->made[K_BITS];
  out->made_ints = p->made[K_INTS];
}

cx_err mpc_pool_put_triples(mpc_pool *p, const fe *a, const fe *b, const fe *c, size_t count) {
  ring *ta = &p->g[K_TRIPLES];
  if (!ring_room(ta, count)) return CX_E_FULL;
  if (!count) return CX_OK;
  if (batches_reserve(&p->bt[K_TRIPLES]) != CX_OK) return CX_E_NOMEM;
  batches_add(&p->bt[K_TRIPLES], p->label, p->made[K_TRIPLES], count);
  /* tb and tc mirror ta's head and count */
  ring_write(&p->tb, ta->head, ta->count, b, count);
  ring_write(&p->tc, ta->head, ta->count, c, count);
  ring_put(ta, a, count);
  p->tb.head = p->tc.head = ta->head;
  p->tb.count = p->tc.count = ta->count;
  p->made[K_TRIPLES] += count;
  return CX_OK;
}

/* Rands, bits and ints: one ring each. */
static cx_err put_one(mpc_pool *p, int k, const fe *v, size_t count) {
  if (!ring_room(&p->g[k], count)) return CX_E_FULL;
  if (!count) return CX_OK;
  if (batches_reserve(&p->bt[k]) != CX_OK) return CX_E_NOMEM;
  batches_add(&p->bt[k], p->label, p->made[k], count);
  ring_put(&p->g[k], v, count);
  p->made[k] += count;
  return CX_OK;
}

static cx_err take_one(mpc_pool *p, int k, size_t count, fe *v) {
  if (count > p->g[k].count) return CX_E_MPC_POOL_EMPTY;
  ring_take(&p->g[k], v, count);
  batches_drop(&p->bt[k], p->made[k] - p->g[k].count);
  return CX_OK;
}

cx_err mpc_pool_put_rands(mpc_pool *p, const fe *r, size_t count) { return put_one(p, K_RANDS, r, count); }
cx_err mpc_pool_put_bits(mpc_pool *p, const fe *bits, size_t count) { return put_one(p, K_BITS, bits, count); }
cx_err mpc_pool_put_ints(mpc_pool *p, const fe *ints, size_t count) { return put_one(p, K_INTS, ints, count); }

cx_err mpc_pool_take_triples(mpc_pool *p, size_t count, fe *a, fe *b, fe *c) {
  ring *ta = &p->g[K_TRIPLES];
  if (count > ta->count) return CX_E_MPC_POOL_EMPTY;
  if (!count) return CX_OK;
  ring_read(&p->tb, ta->head, b, count);
  ring_read(&p->tc, ta->head, c, count);
  ring_take(ta, a, count);
  p->tb.head = p->tc.head = ta->head;
  p->tb.count = p->tc.count = ta->count;
  batches_drop(&p->bt[K_TRIPLES], p->made[K_TRIPLES] - ta->count);
  return CX_OK;
}

cx_err mpc_pool_take_rands(mpc_pool *p, size_t count, fe *r) { return take_one(p, K_RANDS, count, r); }
cx_err mpc_pool_take_bits(mpc_pool *p, size_t count, fe *bits) { return take_one(p, K_BITS, count, bits); }
cx_err mpc_pool_take_ints(mpc_pool *p, size_t count, fe *ints) { return take_one(p, K_INTS, count, ints); }

/* ---- alignment --------------------------------------------------------- */

void mpc_pool_set_label(mpc_pool *p, const uint8_t label[32]) {
  if (!p) return;
  if (label)
    memcpy(p->label, label, 32);
  else
    memset(p->label, 0, 32);
}

/* Items ever taken = items ever made - items held (made counts only what
 * was added, and taking is FIFO). */
void mpc_pool_position(const mpc_pool *p, uint64_t pos[K_N]) {
  for (int k = 0; k < K_N; k++) pos[k] = p->made[k] - p->g[k].count;
}

static void put_u64(crypto_generichash_state *h, uint64_t x) {
  uint8_t b[8];
  for (int k = 0; k < 8; k++) b[k] = (uint8_t)(x >> (8 * k));
  crypto_generichash_update(h, b, sizeof b);
}

/* Per kind: how many of the needed items the pool holds, then, for each
 * batch they come from, its label, the offset of the first of them in the
 * batch and how many. Offsets count from the batch's start, so two parties
 * with different histories but the same items ahead agree. */
void mpc_pool_ahead_digest(const mpc_pool *p, const uint64_t need[K_N], uint8_t out[16]) {
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, 16);
  crypto_generichash_update(&h, (const uint8_t *)"custos/mpc-pool", 15);
  for (int k = 0; k < K_N; k++) {
    const uint64_t held = p->g[k].count, from = p->made[k] - held;
    uint64_t span = need[k] < held ? need[k] : held, to = from + span;
    put_u64(&h, (uint64_t)k);
    put_u64(&h, span);
    for (size_t i = 0; i < p->bt[k].n; i++) {
      const batch *x = &p->bt[k].v[i];
      if (x->end <= from || x->start >= to) continue;
      uint64_t lo = x->start > from ? x->start : from, hi = x->end < to ? x->end : to;
      crypto_generichash_update(&h, x->label, 32);
      put_u64(&h, lo - x->start);
      put_u64(&h, hi - lo);
    }
  }
  crypto_generichash_final(&h, out, 16);
}

/* Everything the pool holds, as public bookkeeping: per kind the position
 * (items ever taken), how many items it holds, then per batch they come
 * from (FIFO order) its label, the offset of the first held item in the
 * batch and how many are held. Equal digests: the same items from the same
 * batches at the same places, i.e. aligned pools (mpc.h). */
void mpc_pool_digest(const mpc_pool *p, uint8_t out[32]) {
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, (const uint8_t *)"custos/mpc-pool-digest", 22);
  for (int k = 0; k < K_N; k++) {
    const uint64_t held = p->g[k].count, from = p->made[k] - held;
    put_u64(&h, (uint64_t)k);
    put_u64(&h, from);
    put_u64(&h, held);
    for (size_t i = 0; i < p->bt[k].n; i++) {
      const batch *x = &p->bt[k].v[i];
      if (x->end <= from) continue; /* all taken (not yet dropped) */
      uint64_t lo = x->start > from ? x->start : from;
      crypto_generichash_update(&h, x->label, 32);
      put_u64(&h, lo - x->start);
      put_u64(&h, x->end - lo);
    }
  }
  crypto_generichash_final(&h, out, 32);
}
