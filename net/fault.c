/* fault: the seeded fault shim (fault.h). Test builds only (CUSTOS_TESTING).
 *
 * Pipeline of one outgoing frame (fault_out), in this order:
 *   1. frames held for immediate sending ("send-captured", "oversize") leave
 *      first, so a command takes effect before the traffic that follows it;
 *   2. a partitioned peer: the frame is dropped (no draw);
 *   3. a data frame (frame[1] == LINK_DATA, longer than the header) with a
 *      one-shot attack armed for this peer: flip, then capture (the bytes
 *      that go on the wire), then emit once, or twice for replay. Such a
 *      frame bypasses drop/dup/reorder/delay so an attack test does not
 *      depend on the random faults also configured;
 *   4. drop with P; dup with P (two copies); each copy is then held for
 *      reorder with P (until the next frame to the same peer is emitted, or
 *      REORDER_MS), else held for delay uniform[MIN,MAX] when delay is on,
 *      else emitted now.
 * Draws are made only for faults that are on, in the order above, so a run
 * is a function of the seed, the commands and the sequence of calls.
 *
 * Held frames are copies in a binary min-heap ordered by (class, due, seq):
 * class 0 holds the immediate frames, seq keeps insertion order among equal
 * due times. The heap is capped in frames and bytes; beyond, frames are
 * dropped. A held frame is dropped at release if its peer has been
 * partitioned meanwhile. The emit callback must not call back into the
 * shim. */
#include "fault.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "rng.h"

#define NAME_MAX_LEN 32              /* member names (CX_NAME_MAX) */
#define CMD_MAX 256                  /* longest command accepted */
#define DELAY_MAX_MS 60000u
#define REORDER_MS 50u               /* a reordered frame waits at most this */
#define HELD_MAX 10000u              /* held frames, at most ... */
#define HELD_BYTES_MAX (256u << 20)  /* ... and bytes */
#define PEERS_MAX 4096u
#define OVERSIZE_LEN 0xFFFFFF00u

enum { HELD_IMMEDIATE = 0, HELD_TIMED = 1 };

typedef struct {
  char name[NAME_MAX_LEN + 1];
  int partitioned;
  int arm_flip, arm_replay, arm_capture;
  uint8_t *captured; /* NULL: nothing captured */
  size_t captured_len;
  size_t reorder_held; /* frames held for reorder now */
} peer_state;

typedef struct {
  unsigned cls;   /* HELD_IMMEDIATE first */
  int reordered;  /* held for reorder (counted in its peer's reorder_held) */
  uint64_t due;
  uint64_t seq;
  char peer[NAME_MAX_LEN + 1];
  uint8_t *frame;
  size_t len;
} held;

struct fault {
  cx_rng rng; /* the seeded stream (core/rng.h) */
  double p_drop, p_dup, p_reorder;
  uint32_t delay_min, delay_max;
  int delay_on;
  peer_state *peers;
  size_t npeers, peers_cap;
  held *heap;
  size_t nheld, heap_cap, held_bytes;
  uint64_t seq;
  size_t reorder_total; /* sum of peers[].reorder_held */
};

/* ---- peers ---- */

static peer_state *peer_find(const fault *f, const char *name) {
  for (size_t i = 0; i < f->npeers; i++)
    if (strcmp(f->peers[i].name, name) == 0) return &f->peers[i];
  return NULL;
}

/* NULL on out of memory or past PEERS_MAX. name is at most NAME_MAX_LEN. */
static peer_state *peer_get(fault *f, const char *name) {
  peer_state *p = peer_find(f, name);
  if (p) return p;
  if (f->npeers == f->peers_cap) {
    if (f->peers_cap >= PEERS_MAX) return NULL;
    size_t cap = f->peers_cap ? f->peers_cap * 2 : 8;
    peer_state *np = realloc(f->peers, cap * sizeof *np);
    if (!np) return NULL;
    f->peers = np;
    f->peers_cap = cap;
  }
  p = &f->peers[f->npeers++];
  memset(p, 0, sizeof *p);
  memcpy(p->name, name, strlen(name) + 1);
  return p;
}

/* ---- the held heap ---- */

static int held_before(const held *a, const held *b) {
  if (a->cls != b->cls) return a->cls < b->cls;
  if (a->due != b->due) return a->due < b->due;
  return a->seq < b->seq;
}

static void heap_swap(held *h, size_t i, size_t j) {
  held t = h[i];
  h[i] = h[j];
  h[j] = t;
}

static void sift_up(held *h, size_t i) {
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!held_before(&h[i], &h[parent])) break;
    heap_swap(h, i, parent);
    i = parent;
  }
}

static void sift_down(held *h, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && held_before(&h[l], &h[m])) m = l;
    if (r < n && held_before(&h[r], &h[m])) m = r;
    if (m == i) return;
    heap_swap(h, i, m);
    i = m;
  }
}

/* Bookkeeping of an entry leaving the heap. */
static void unaccount(fault *f, const held *e) {
  f->held_bytes -= e->len;
  if (e->reordered) {
    peer_state *p = peer_find(f, e->peer);
    CX_ASSERT(p && p->reorder_held > 0 && f->reorder_total > 0);
    p->reorder_held--;
    f->reorder_total--;
  }
}

/* Takes entry i out of the heap into *out (the caller owns out->frame). */
static void heap_take(fault *f, size_t i, held *out) {
  *out = f->heap[i];
  f->nheld--;
  if (i != f->nheld) {
    f->heap[i] = f->heap[f->nheld];
    sift_down(f->heap, f->nheld, i);
    sift_up(f->heap, i);
  }
  unaccount(f, out);
}

/* Holds a copy of frame. CX_E_FULL past the caps, CX_E_NOMEM. */
static cx_err hold(fault *f, unsigned cls, int reordered, uint64_t due, const char *peer,
                   const uint8_t *frame, size_t len) {
  if (f->nheld >= HELD_MAX || len > HELD_BYTES_MAX - f->held_bytes) return CX_E_FULL;
  peer_state *p = NULL;
  if (reordered && !(p = peer_get(f, peer))) return CX_E_NOMEM;
  if (f->nheld == f->heap_cap) {
    size_t cap = f->heap_cap ? f->heap_cap * 2 : 64;
    if (cap > HELD_MAX) cap = HELD_MAX;
    held *nh = realloc(f->heap, cap * sizeof *nh);
    if (!nh) return CX_E_NOMEM;
    f->heap = nh;
    f->heap_cap = cap;
  }
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return CX_E_NOMEM;
  if (len) memcpy(copy, frame, len);
  held *e = &f->heap[f->nheld];
  e->cls = cls;
  e->reordered = reordered;
  e->due = due;
  e->seq = f->seq++;
  memcpy(e->peer, peer, strlen(peer) + 1);
  e->frame = copy;
  e->len = len;
  f->held_bytes += len;
  sift_up(f->heap, f->nheld++);
  if (p) {
    p->reorder_held++;
    f->reorder_total++;
  }
  return CX_OK;
}

/* ---- emission ---- */

static void deliver(fault *f, const char *peer, const uint8_t *frame, size_t len, int reordered,
                    fault_emit emit, void *ctx);

/* A frame to peer went out: its reorder-held frames follow, oldest first. */
static void release_reordered(fault *f, const char *peer, fault_emit emit, void *ctx) {
  if (f->reorder_total == 0) return;
  peer_state *p = peer_find(f, peer);
  while (p && p->reorder_held > 0) {
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < f->nheld; i++) {
      const held *e = &f->heap[i];
      if (e->reordered && strcmp(e->peer, peer) == 0 &&
          (best == SIZE_MAX || e->seq < f->heap[best].seq))
        best = i;
    }
    CX_ASSERT(best != SIZE_MAX);
    held e;
    heap_take(f, best, &e);
    deliver(f, e.peer, e.frame, e.len, 1, emit, ctx);
    free(e.frame);
  }
}

/* Emits one frame unless its peer is partitioned; a frame that was not
 * itself a reordered one lets the peer's reordered frames go after it. */
static void deliver(fault *f, const char *peer, const uint8_t *frame, size_t len, int reordered,
                    fault_emit emit, void *ctx) {
  if (fault_partitioned(f, peer)) return;
  emit(ctx, peer, frame, len);
  if (!reordered) release_reordered(f, peer, emit, ctx);
}

static void release_immediate(fault *f, fault_emit emit, void *ctx) {
  while (f->nheld > 0 && f->heap[0].cls == HELD_IMMEDIATE) {
    held e;
    heap_take(f, 0, &e);
    deliver(f, e.peer, e.frame, e.len, e.reordered, emit, ctx);
    free(e.frame);
  }
}

/* ---- public ---- */

fault *fault_new(uint64_t seed) {
  fault *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  cx_rng_seed(&f->rng, seed);
  return f;
}

void fault_free(fault *f) {
  if (!f) return;
  for (size_t i = 0; i < f->nheld; i++) free(f->heap[i].frame);
  for (size_t i = 0; i < f->npeers; i++) free(f->peers[i].captured);
  free(f->heap);
  free(f->peers);
  free(f);
}

int fault_partitioned(const fault *f, const char *peer) {
  const peer_state *p = peer_find(f, peer);
  return p && p->partitioned;
}

void fault_forget(fault *f, const char *peer) {
  size_t kept = 0;
  for (size_t i = 0; i < f->nheld; i++) {
    held *e = &f->heap[i];
    if (strcmp(e->peer, peer) == 0) {
      unaccount(f, e);
      free(e->frame);
    } else {
      f->heap[kept++] = *e;
    }
  }
  f->nheld = kept;
  for (size_t i = kept / 2; i-- > 0;) sift_down(f->heap, kept, i); /* re-heapify */
}

void fault_tick(fault *f, uint64_t now_ms, fault_emit emit, void *ctx) {
  while (f->nheld > 0 && (f->heap[0].cls == HELD_IMMEDIATE || f->heap[0].due <= now_ms)) {
    held e;
    heap_take(f, 0, &e);
    deliver(f, e.peer, e.frame, e.len, e.reordered, emit, ctx);
    free(e.frame);
  }
}

/* Step 3 of the pipeline: 1 if an armed attack took the frame. */
static int attack(fault *f, peer_state *p, const uint8_t *frame, size_t len, fault_emit emit,
                  void *ctx) {
  if (!p || !(p->arm_flip || p->arm_replay || p->arm_capture)) return 0;
  const uint8_t *wire = frame;
  uint8_t *copy = NULL;
  if (p->arm_flip) {
    if (!(copy = malloc(len))) return 0; /* out of memory: stays armed */
    memcpy(copy, frame, len);
    uint64_t bit = cx_rng_below(&f->rng, (uint64_t)(len - LINK_HDR) * 8);
    copy[LINK_HDR + bit / 8] ^= (uint8_t)(1u << (bit % 8));
    wire = copy;
  }
  if (p->arm_capture) {
    uint8_t *c = malloc(len);
    if (!c) {
      free(copy);
      return 0;
    }
    memcpy(c, wire, len);
    free(p->captured);
    p->captured = c;
    p->captured_len = len;
  }
  int times = p->arm_replay ? 2 : 1;
  p->arm_flip = p->arm_replay = p->arm_capture = 0;
  /* deliver never adds peers, so p->name stays put */
  for (int i = 0; i < times; i++) deliver(f, p->name, wire, len, 0, emit, ctx);
  free(copy);
  return 1;
}

void fault_out(fault *f, uint64_t now_ms, const char *peer, const uint8_t *frame, size_t len,
               fault_emit emit, void *ctx) {
  CX_ASSERT(f && peer && emit && (frame || len == 0));
  CX_ASSERT(strlen(peer) <= NAME_MAX_LEN);
  release_immediate(f, emit, ctx);
  peer_state *p = peer_find(f, peer);
  if (p && p->partitioned) return;
  if (len > LINK_HDR && frame[1] == LINK_DATA && attack(f, p, frame, len, emit, ctx)) return;
  if (cx_rng_chance(&f->rng, f->p_drop)) return;
  int copies = cx_rng_chance(&f->rng, f->p_dup) ? 2 : 1;
  /* A copy that cannot be held (caps, out of memory) is dropped. */
  for (int i = 0; i < copies; i++) {
    if (cx_rng_chance(&f->rng, f->p_reorder)) {
      (void)hold(f, HELD_TIMED, 1, now_ms + REORDER_MS, peer, frame, len);
    } else if (f->delay_on) {
      uint64_t d = f->delay_min + cx_rng_below(&f->rng, (uint64_t)(f->delay_max - f->delay_min) + 1);
      (void)hold(f, HELD_TIMED, 0, now_ms + d, peer, frame, len);
    } else {
      deliver(f, peer, frame, len, 0, emit, ctx);
    }
  }
}

/* ---- commands ---- */

static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > NAME_MAX_LEN) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return 0;
  }
  return 1;
}

/* Decimal digits only, no sign, no overflow. */
static int parse_u64(const char *s, uint64_t *out) {
  if (!*s) return 0;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return 0;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return 0;
    v = v * 10 + d;
  }
  *out = v;
  return 1;
}

/* A decimal probability in [0, 1]: digits, '.', and an optional exponent
 * (no hex floats, no "nan"/"inf", no sign other than the exponent's). */
static int parse_prob(const char *s, double *out) {
  if (!*s || strspn(s, "0123456789.eE+-") != strlen(s) || *s == '+' || *s == '-') return 0;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (*end || errno || !isfinite(v) || v < 0 || v > 1) return 0;
  *out = v;
  return 1;
}

cx_err fault_command(fault *f, const char *cmd, char *err, size_t errlen) {
  CX_ASSERT(f && cmd);
  if (err && errlen) err[0] = 0;
  size_t n = strlen(cmd);
  if (n >= CMD_MAX) return cx_errf(err, errlen, CX_E_INVALID_ARG, "fault command longer than %d bytes", CMD_MAX - 1);
  char buf[CMD_MAX];
  memcpy(buf, cmd, n + 1);
  char *tok[4];
  int ntok = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
    if (ntok == 4) return cx_errf(err, errlen, CX_E_INVALID_ARG, "too many words in fault command \"%s\"", cmd);
    tok[ntok++] = t;
  }
  if (ntok == 0) return cx_errf(err, errlen, CX_E_INVALID_ARG, "empty fault command");
  const char *verb = tok[0];
  int nargs = ntok - 1;

  if (strcmp(verb, "seed") == 0) {
    uint64_t v;
    if (nargs != 1) return cx_errf(err, errlen, CX_E_INVALID_ARG, "usage: seed N");
    if (!parse_u64(tok[1], &v))
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "seed wants a decimal integer below 2^64, got \"%s\"", tok[1]);
    cx_rng_seed(&f->rng, v);
    return CX_OK;
  }
  if (strcmp(verb, "drop") == 0 || strcmp(verb, "dup") == 0 || strcmp(verb, "reorder") == 0) {
    double p;
    if (nargs != 1) return cx_errf(err, errlen, CX_E_INVALID_ARG, "usage: %s P (a probability)", verb);
    if (!parse_prob(tok[1], &p))
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s wants a probability between 0 and 1, got \"%s\"", verb, tok[1]);
    if (verb[0] == 'd' && verb[1] == 'r') f->p_drop = p;
    else if (verb[0] == 'd') f->p_dup = p;
    else f->p_reorder = p;
    return CX_OK;
  }
  if (strcmp(verb, "delay") == 0) {
    uint64_t lo, hi;
    if (nargs != 2) return cx_errf(err, errlen, CX_E_INVALID_ARG, "usage: delay MIN_MS MAX_MS");
    if (!parse_u64(tok[1], &lo) || !parse_u64(tok[2], &hi) || lo > hi || hi > DELAY_MAX_MS)
      return cx_errf(err, errlen, CX_E_INVALID_ARG,
                  "delay wants whole milliseconds with MIN_MS <= MAX_MS <= %u, got \"%s %s\"",
                  DELAY_MAX_MS, tok[1], tok[2]);
    f->delay_min = (uint32_t)lo;
    f->delay_max = (uint32_t)hi;
    f->delay_on = hi > 0;
    return CX_OK;
  }
  if (strcmp(verb, "heal") == 0 && nargs == 0) {
    for (size_t i = 0; i < f->npeers; i++) f->peers[i].partitioned = 0;
    return CX_OK;
  }

  /* Every other command names one peer. */
  static const char *const named[] = {"partition", "heal", "flip", "replay",
                                      "capture", "send-captured", "oversize"};
  int which = -1;
  for (int i = 0; i < (int)(sizeof named / sizeof named[0]); i++)
    if (strcmp(verb, named[i]) == 0) which = i;
  if (which < 0) return cx_errf(err, errlen, CX_E_INVALID_ARG, "unknown fault command \"%s\"", verb);
  if (nargs != 1) return cx_errf(err, errlen, CX_E_INVALID_ARG, "usage: %s NAME", verb);
  const char *name = tok[1];
  if (!valid_name(name))
    return cx_errf(err, errlen, CX_E_INVALID_ARG,
                "%s wants a member name (1 to %d characters of a-z 0-9 _ -), got \"%s\"", verb,
                NAME_MAX_LEN, name);
  if (which == 1) { /* heal NAME: never creates a record */
    peer_state *p = peer_find(f, name);
    if (p) p->partitioned = 0;
    return CX_OK;
  }
  peer_state *p = peer_get(f, name);
  if (!p) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory for the fault shim's peer table");
  switch (which) {
  case 0: p->partitioned = 1; return CX_OK;
  case 2: p->arm_flip = 1; return CX_OK;
  case 3: p->arm_replay = 1; return CX_OK;
  case 4: p->arm_capture = 1; return CX_OK;
  case 5: {
    if (!p->captured) return cx_errf(err, errlen, CX_E_NOT_FOUND, "no frame captured for %s", name);
    cx_err e = hold(f, HELD_IMMEDIATE, 0, 0, name, p->captured, p->captured_len);
    if (e) return cx_errf(err, errlen, e, "cannot hold the captured frame for %s (%s)", name, cx_err_str(e));
    return CX_OK;
  }
  default: { /* oversize: a bare header declaring a length far over any cap */
    uint8_t hdr[LINK_HDR];
    link_hdr h = {.version = LINK_VERSION, .kind = LINK_DATA, .flags = 0,
                  .len = OVERSIZE_LEN, .receiver = 0, .counter = 0};
    link_hdr_encode(&h, hdr);
    cx_err e = hold(f, HELD_IMMEDIATE, 0, 0, name, hdr, sizeof hdr);
    if (e) return cx_errf(err, errlen, e, "cannot hold the oversize frame for %s (%s)", name, cx_err_str(e));
    return CX_OK;
  }
  }
}
