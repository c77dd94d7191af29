/* The preprocessing pool (mpc.h) and the secure element buffers
 * (session_internal.h).
 *
 * Each kind of material is a bounded FIFO ring in sodium_malloc'd memory
 * sized to its cap at creation: the pool never grows, so what it holds is
 * never copied by a realloc into memory that is not wiped. Triples are three
 * parallel rings moved together so that a, b, c of one triple stay aligned.
 * Every party must consume items in the order they were made (mpc.h), hence
 * FIFO. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "mpc.h"
#include "session_internal.h"

fe *fe_alloc(size_t count) {
  if (sodium_init() < 0) return NULL;
  if (count > SIZE_MAX / sizeof(fe)) return NULL;
  /* sodium_malloc(0) is not worth relying on: one element minimum. Sizes
   * are multiples of sizeof(fe), so the guarded region stays aligned. */
  size_t bytes = (count ? count : 1) * sizeof(fe);
  fe *p = sodium_malloc(bytes);
  if (p) memset(p, 0, bytes);
  return p;
}

void fe_free(fe *p, size_t count) {
  if (!p) return;
  sodium_memzero(p, (count ? count : 1) * sizeof(fe));
  sodium_free(p);
}

typedef struct {
  fe *v;
  size_t cap, head, count;
} ring;

struct mpc_pool {
  ring ta, tb, tc; /* triples: one head/count for the three, kept in ta */
  ring r, b;
  uint64_t made_triples, made_rands, made_bits;
};

static cx_err ring_init(ring *g, size_t cap) {
  memset(g, 0, sizeof *g);
  g->v = fe_alloc(cap);
  if (!g->v) return CX_E_NOMEM;
  g->cap = cap;
  return CX_OK;
}

static void ring_free(ring *g) {
  fe_free(g->v, g->cap);
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

cx_err mpc_pool_new(size_t cap_triples, size_t cap_rands, size_t cap_bits, mpc_pool **out) {
  *out = NULL;
  mpc_pool *p = calloc(1, sizeof *p);
  if (!p) return CX_E_NOMEM;
  if (ring_init(&p->ta, cap_triples) || ring_init(&p->tb, cap_triples) ||
      ring_init(&p->tc, cap_triples) || ring_init(&p->r, cap_rands) ||
      ring_init(&p->b, cap_bits)) {
    mpc_pool_free(p);
    return CX_E_NOMEM;
  }
  *out = p;
  return CX_OK;
}

void mpc_pool_free(mpc_pool *p) {
  if (!p) return;
  ring_free(&p->ta);
  ring_free(&p->tb);
  ring_free(&p->tc);
  ring_free(&p->r);
  ring_free(&p->b);
  free(p);
}

void mpc_pool_level_get(const mpc_pool *p, mpc_pool_level *out) {
  memset(out, 0, sizeof *out);
  out->triples = p->ta.count;
  out->rands = p->r.count;
  out->bits = p->b.count;
  out->cap_triples = p->ta.cap;
  out->cap_rands = p->r.cap;
  out->cap_bits = p->b.cap;
  out->made_triples = p->made_triples;
  out->made_rands = p->made_rands;
  out->made_bits = p->made_bits;
}

cx_err mpc_pool_put_triples(mpc_pool *p, const fe *a, const fe *b, const fe *c, size_t count) {
  if (!ring_room(&p->ta, count)) return CX_E_FULL;
  if (!count) return CX_OK;
  /* tb and tc mirror ta's head and count */
  ring_write(&p->tb, p->ta.head, p->ta.count, b, count);
  ring_write(&p->tc, p->ta.head, p->ta.count, c, count);
  ring_put(&p->ta, a, count);
  p->tb.head = p->tc.head = p->ta.head;
  p->tb.count = p->tc.count = p->ta.count;
  p->made_triples += count;
  return CX_OK;
}

cx_err mpc_pool_put_rands(mpc_pool *p, const fe *r, size_t count) {
  if (!ring_room(&p->r, count)) return CX_E_FULL;
  ring_put(&p->r, r, count);
  p->made_rands += count;
  return CX_OK;
}

cx_err mpc_pool_put_bits(mpc_pool *p, const fe *bits, size_t count) {
  if (!ring_room(&p->b, count)) return CX_E_FULL;
  ring_put(&p->b, bits, count);
  p->made_bits += count;
  return CX_OK;
}

cx_err mpc_pool_take_triples(mpc_pool *p, size_t count, fe *a, fe *b, fe *c) {
  if (count > p->ta.count) return CX_E_MPC_POOL_EMPTY;
  if (!count) return CX_OK;
  ring_read(&p->tb, p->ta.head, b, count);
  ring_read(&p->tc, p->ta.head, c, count);
  ring_take(&p->ta, a, count);
  p->tb.head = p->tc.head = p->ta.head;
  p->tb.count = p->tc.count = p->ta.count;
  return CX_OK;
}

cx_err mpc_pool_take_rands(mpc_pool *p, size_t count, fe *r) {
  if (count > p->r.count) return CX_E_MPC_POOL_EMPTY;
  ring_take(&p->r, r, count);
  return CX_OK;
}

cx_err mpc_pool_take_bits(mpc_pool *p, size_t count, fe *bits) {
  if (count > p->b.count) return CX_E_MPC_POOL_EMPTY;
  ring_take(&p->b, bits, count);
  return CX_OK;
}
