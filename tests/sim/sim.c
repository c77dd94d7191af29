/* sim: the deterministic consensus simulator. sim.h has the contract,
 * docs/testing.md the checks. Layout of one run:
 *
 *   processes  one per validator; a twin is a second process with the same
 *              member index (same key), connected to the other half of the
 *              honest nodes. Each process is a bft_engine plus a fake host:
 *              durable part (safety record written on PERSIST, chain of
 *              blocks + certificates written on COMMIT), volatile part
 *              (engine, mempool, timers, messages in flight to it), lost on
 *              crash.
 *   blocks     a block is (height, parent, proposer process, round, salt,
 *              tx ids); its hash is H_BLOCK of that encoding. One table of
 *              all blocks ever built stands for block propagation: any node
 *              can execute a proposal by hash.
 *   signatures fake and fast: sig = BLAKE2b-512 keyed with the member's
 *              secret over the 32-byte digest; the host verifies by
 *              recomputing it.
 *   network    seeded: drop, duplicate, delay uniform in [min, max]
 *              (reordering), partitions (sets of cut pairs for a window).
 *              Messages travel encoded (bft_msg_encode / decode).
 *   gossip     a transaction reaches every running process's mempool at
 *              once (tx gossip is tested elsewhere: it_test_gossip); a
 *              restarted process refills its mempool from the running ones.
 *   sync       when a process gets a message for a height above
 *              committed + 1, and every second from a random reachable peer,
 *              it copies the missing blocks and certificates from a peer
 *              that has them, checking each certificate (quorum of distinct
 *              valid signers, matching block, parent = our tip), and feeds
 *              COMMITTED to its engine for each.
 *   client     submits transaction ids to random running honest processes
 *              during the fault phase.
 *
 * Phases: faults for fault_ms, then heal (no partitions, no loss, short
 * delays, every crashed process restarted) until every honest process has
 * gained `heights` heights and committed every submitted transaction, or
 * heal_ms ran out. */
#include "sim.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "bft.h"
#include "block.h"
#include "hash.h"
#include "rng.h"

#define MAXP (2 * SIM_MAX_N) /* processes: members + twins */
#define BLK_MAXTX 16
#define MAX_TX 16384
#define FIFO_CAP 256
#define TICK_MS 200
#define SYNC_EVERY 5 /* ticks */
#define MAX_WINDOWS 4
#define MAX_CRASHES 4

/* ---- blocks ---- */

typedef struct {
  cx_hash hash, parent;
  uint64_t height;
  uint32_t round;
  uint16_t proposer; /* process */
  uint8_t salt, ntx;
  uint64_t tx[BLK_MAXTX];
} sblock;

/* Compact certificate (n <= SIM_MAX_N). */
typedef struct {
  uint64_t height, view;
  cx_hash hash;
  uint16_t nvotes;
  cx_vote_sig votes[SIM_MAX_N];
} scert;

/* ---- events ---- */

enum {
  E_DELIVER = 1, /* message from -> proc */
  E_TIMER,       /* engine timer */
  E_LOCAL,       /* BLOCK_READY / PROPOSAL_CHECKED after "execution" */
  E_TX,          /* client submits the next transaction */
  E_CRASH,
  E_RESTART,
  E_CUT,         /* partition window arg starts */
  E_UNCUT,       /* ... ends */
  E_TICK,        /* START for every process; periodic sync; liveness check */
  E_HEAL
};

typedef struct {
  uint64_t t, seq;
  uint8_t kind, tkind, valid, len;
  uint16_t proc, from;
  uint32_t epoch, arg, round;
  uint64_t height;
  uint8_t evtype; /* E_LOCAL: bft_event_type */
  cx_hash hash;
  uint8_t buf[BFT_MSG_MAX];
} sevent;

typedef struct {
  uint64_t t, seq;
  uint32_t idx;
} heapent;

/* ---- processes ---- */

typedef struct {
  int member;  /* validator index (its key) */
  int byz;     /* 0 honest, SIM_BYZ_EQUIVOCATE or SIM_BYZ_TWINS */
  int side;    /* 0 / 1: which half (twins' links, equivocators' recipients) */
  int up;
  uint32_t epoch;
  bft_engine *eng;
  const uint8_t *secret;
  /* durable */
  uint8_t safety[BFT_SAFETY_LEN];
  int has_safety;
  uint64_t committed;
  size_t cap;
  uint32_t *chain; /* chain[h]: block index, 1 <= h <= committed */
  scert *certs;
  uint8_t *txdone; /* tx committed on this chain (derived from the chain: durable) */
  /* volatile */
  uint8_t *mempool;
  bft_event fifo[FIFO_CAP];
  unsigned fhead, fcount;
  int draining;
  int crash_armed, crash_after;
} proc;

typedef struct {
  uint64_t start, end;
  uint32_t set; /* processes on one side of the cut */
} window;

typedef struct {
  uint64_t h;
  uint32_t r;
  cx_hash a, b;
} coalition_ent;

typedef struct {
  uint64_t key; /* member | type | round | height, hashed */
  uint64_t height;
  uint32_t round, pol;
  uint16_t member;
  uint8_t type, used;
  cx_hash hash;
} signed_ent;

typedef struct {
  const sim_config *cfg;
  sim_result *res;
  uint64_t seed;
  cx_rng rng;
  unsigned n, np, f;
  int stop;
  uint64_t now, seq;
  crypto_generichash_state trace;
  cx_hash chain_id;
  cx_pubkey pub[SIM_MAX_N];
  uint8_t secret[SIM_MAX_N][32];
  int member_byz[SIM_MAX_N];
  proc p[MAXP];
  int conn[MAXP][MAXP];
  int cut[MAXP][MAXP];
  /* network */
  double drop, dup;
  uint64_t dmin, dmax;
  window win[MAX_WINDOWS];
  unsigned nwin;
  int healed;
  uint64_t heal_height, target;
  /* events */
  sevent *ev;
  uint32_t *freelist;
  uint32_t nfree, evcap;
  heapent *heap;
  uint32_t nheap;
  /* blocks */
  sblock *blocks;
  uint32_t nblocks, blkcap;
  uint32_t *btab; /* open addressing, index + 1 */
  uint32_t btabcap;
  /* safety: first honest block per height */
  uint32_t *canon; /* index + 1 */
  size_t canoncap;
  /* client */
  uint64_t ntx;
  uint8_t submitted[MAX_TX];
  /* signed messages of honest members (double-sign check) */
  signed_ent *signed_tab;
  size_t signed_cap, signed_n;
  coalition_ent coal[64];
  unsigned ncoal;
  uint64_t ticks;
} sim;

static void violation(sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(sim *s, const char *fmt, ...) {
  if (!s->res->ok) return; /* keep the first */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->res->why, sizeof s->res->why, fmt, ap);
  va_end(ap);
  s->res->ok = 0;
  s->stop = 1;
  if (s->cfg->verbose) printf("t=%" PRIu64 " VIOLATION: %s\n", s->now, s->res->why);
}

static void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz);
  if (!p) {
    fprintf(stderr, "custos-sim: out of memory\n");
    exit(2);
  }
  return p;
}

static void *xrealloc(void *p, size_t n, size_t sz) {
  void *q = realloc(p, n * sz);
  if (!q) {
    fprintf(stderr, "custos-sim: out of memory\n");
    exit(2);
  }
  return q;
}

static void trace_add(sim *s, const void *p, size_t len) {
  crypto_generichash_update(&s->trace, p, len);
}

static void trace_u64(sim *s, uint64_t v) { trace_add(s, &v, sizeof v); }

static const char *hx(const cx_hash *h, char buf[9]) {
  if (hash_is_zero(h)) return "nil";
  hex_encode(h->b, 4, buf);
  return buf;
}

static const char *tname(uint8_t t) {
  return t == BFT_PROPOSAL ? "PROPOSAL" : t == BFT_PREVOTE ? "PREVOTE" : t == BFT_PRECOMMIT ? "PRECOMMIT" : "?";
}

/* ---- fake signatures ---- */

static void fake_sign(const uint8_t secret[32], const uint8_t msg[32], cx_sig *out) {
  crypto_generichash(out->b, 64, msg, 32, secret, 32);
}

static int fake_verify(const sim *s, unsigned member, const uint8_t msg[32], const cx_sig *sig) {
  cx_sig want;
  if (member >= s->n) return 0;
  fake_sign(s->secret[member], msg, &want);
  return memcmp(want.b, sig->b, 64) == 0;
}

static cx_err engine_sign(void *ctx, const uint8_t msg[32], cx_sig *out) {
  const proc *P = ctx;
  fake_sign(P->secret, msg, out);
  return CX_OK;
}

static int msg_sig_ok(const sim *s, const bft_msg *m) {
  uint8_t d[32];
  bft_msg_digest(&s->chain_id, m, d);
  return fake_verify(s, m->signer, d, &m->sig);
}

static void msg_resign(const sim *s, bft_msg *m) {
  uint8_t d[32];
  bft_msg_digest(&s->chain_id, m, d);
  fake_sign(s->secret[m->signer], d, &m->sig);
}

/* ---- event queue ---- */

static int heap_less(const heapent *a, const heapent *b) {
  return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static sevent *ev_new(sim *s, uint64_t t, uint8_t kind, unsigned p) {
  if (!s->nfree) {
    uint32_t old = s->evcap, cap = old ? old * 2 : 1024;
    s->ev = xrealloc(s->ev, cap, sizeof *s->ev);
    s->freelist = xrealloc(s->freelist, cap, sizeof *s->freelist);
    s->heap = xrealloc(s->heap, cap, sizeof *s->heap);
    for (uint32_t i = cap; i > old; i--) s->freelist[s->nfree++] = i - 1;
    s->evcap = cap;
  }
  uint32_t idx = s->freelist[--s->nfree];
  sevent *e = &s->ev[idx];
  memset(e, 0, sizeof *e);
  e->t = t;
  e->seq = s->seq++;
  e->kind = kind;
  e->proc = (uint16_t)p;
  if (p < MAXP) e->epoch = s->p[p].epoch;
  /* push */
  uint32_t i = s->nheap++;
  heapent he = {e->t, e->seq, idx};
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!heap_less(&he, &s->heap[parent])) break;
    s->heap[i] = s->heap[parent];
    i = parent;
  }
  s->heap[i] = he;
  return e;
}

static uint32_t heap_pop(sim *s) {
  uint32_t top = s->heap[0].idx;
  heapent last = s->heap[--s->nheap];
  uint32_t i = 0, n = s->nheap;
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && heap_less(&s->heap[c + 1], &s->heap[c])) c++;
    if (!heap_less(&s->heap[c], &last)) break;
    s->heap[i] = s->heap[c];
    i = c;
  }
  if (n) s->heap[i] = last;
  return top;
}

/* ---- blocks ---- */

static void block_hash_of(sblock *b) {
  uint8_t buf[8 + 32 + 4 + 2 + 1 + 1 + 8 * BLK_MAXTX];
  size_t o = 0;
  memcpy(buf + o, &b->height, 8), o += 8;
  memcpy(buf + o, b->parent.b, 32), o += 32;
  memcpy(buf + o, &b->round, 4), o += 4;
  memcpy(buf + o, &b->proposer, 2), o += 2;
  buf[o++] = b->salt;
  buf[o++] = b->ntx;
  memcpy(buf + o, b->tx, 8u * b->ntx), o += 8u * b->ntx;
  hash_tagged(CX_TAG_BLOCK, buf, o, &b->hash); /* little-endian host: fine in one process */
}

static uint64_t hkey(const cx_hash *h) {
  uint64_t k;
  memcpy(&k, h->b, 8);
  return k;
}

static int block_find(const sim *s, const cx_hash *h) {
  if (!s->btabcap) return -1;
  uint32_t mask = s->btabcap - 1;
  for (uint32_t i = (uint32_t)hkey(h) & mask;; i = (i + 1) & mask) {
    uint32_t v = s->btab[i];
    if (!v) return -1;
    if (hash_eq(&s->blocks[v - 1].hash, h)) return (int)(v - 1);
  }
}

static uint32_t block_add(sim *s, const sblock *b) {
  int have = block_find(s, &b->hash);
  if (have >= 0) return (uint32_t)have;
  if (s->nblocks == s->blkcap) {
    s->blkcap = s->blkcap ? s->blkcap * 2 : 256;
    s->blocks = xrealloc(s->blocks, s->blkcap, sizeof *s->blocks);
  }
  if (2 * (s->nblocks + 1) > s->btabcap) {
    uint32_t cap = s->btabcap ? s->btabcap * 2 : 1024;
    free(s->btab);
    s->btab = xcalloc(cap, sizeof *s->btab);
    s->btabcap = cap;
    for (uint32_t j = 0; j < s->nblocks; j++) {
      uint32_t i = (uint32_t)hkey(&s->blocks[j].hash) & (cap - 1);
      while (s->btab[i]) i = (i + 1) & (cap - 1);
      s->btab[i] = j + 1;
    }
  }
  uint32_t idx = s->nblocks++;
  s->blocks[idx] = *b;
  uint32_t i = (uint32_t)hkey(&b->hash) & (s->btabcap - 1);
  while (s->btab[i]) i = (i + 1) & (s->btabcap - 1);
  s->btab[i] = idx + 1;
  return idx;
}

static const cx_hash *tip(const sim *s, const proc *P) {
  static const cx_hash zero;
  return P->committed ? &s->blocks[P->chain[P->committed]].hash : &zero;
}

/* Executes block b on P's committed state: NULL if valid, else why not. */
static const char *block_invalid(const sim *s, const proc *P, const sblock *b) {
  if (b->height != P->committed + 1) return "wrong height";
  if (!hash_eq(&b->parent, tip(s, P))) return "wrong parent";
  for (unsigned i = 0; i < b->ntx; i++) {
    if (b->tx[i] == 0 || b->tx[i] > s->ntx) return "unknown tx";
    if (P->txdone[b->tx[i]]) return "tx already committed";
    for (unsigned j = 0; j < i; j++)
      if (b->tx[j] == b->tx[i]) return "tx twice in block";
  }
  return NULL;
}

/* ---- certificates ---- */

static const char *cert_invalid(const sim *s, const scert *c, uint64_t height, const cx_hash *hash) {
  if (c->height != height) return "cert height";
  if (!hash_eq(&c->hash, hash)) return "cert block hash";
  if (c->nvotes > s->n) return "cert has more votes than validators";
  cx_hash msg;
  vote_message(&s->chain_id, c->height, c->view, &c->hash, &msg);
  int last = -1;
  for (unsigned i = 0; i < c->nvotes; i++) {
    if (c->votes[i].signer >= s->n) return "cert signer out of range";
    if ((int)c->votes[i].signer <= last) return "cert signers not strictly ascending (duplicate signer?)";
    last = c->votes[i].signer;
    if (!fake_verify(s, c->votes[i].signer, msg.b, &c->votes[i].sig)) return "cert signature";
  }
  if (c->nvotes < quorum_size(s->n)) return "cert below quorum";
  return NULL;
}

/* ---- processes ---- */

static int honest(const sim *s, unsigned p) { return s->p[p].byz == 0; }

static void proc_grow(proc *P, uint64_t h) {
  if (h < P->cap) return;
  size_t cap = P->cap ? P->cap * 2 : 64;
  while (cap <= h) cap *= 2;
  P->chain = xrealloc(P->chain, cap, sizeof *P->chain);
  P->certs = xrealloc(P->certs, cap, sizeof *P->certs);
  P->cap = cap;
}

static void feed(sim *s, unsigned p, const bft_event *ev);

/* Commits block idx with cert on process p (durable), with the checks. */
static int do_commit(sim *s, unsigned p, uint32_t idx, const scert *c, const char *how) {
  proc *P = &s->p[p];
  const sblock *b = &s->blocks[idx];
  char hb[9];
  const char *bad = block_invalid(s, P, b);
  if (bad) {
    if (honest(s, p))
      violation(s, "p%u %s commits block %s at height %" PRIu64 " that is invalid on its chain: %s", p,
                how, hx(&b->hash, hb), b->height, bad);
    return 0;
  }
  bad = cert_invalid(s, c, b->height, &b->hash);
  if (bad) {
    if (honest(s, p))
      violation(s, "p%u %s commits height %" PRIu64 " with a bad certificate: %s", p, how, b->height, bad);
    return 0;
  }
  /* codec round trip of the certificate */
  cx_cert full;
  memset(&full, 0, sizeof full);
  full.height = c->height;
  full.view = c->view;
  full.block_hash = c->hash;
  full.nvotes = c->nvotes;
  memcpy(full.votes, c->votes, c->nvotes * sizeof c->votes[0]);
  uint8_t *enc = NULL;
  size_t elen = 0;
  cx_cert back;
  if (cert_encode(&full, &enc, &elen) != CX_OK || cert_decode(enc, elen, &back) != CX_OK ||
      back.nvotes != full.nvotes || !hash_eq(&back.block_hash, &full.block_hash))
    violation(s, "p%u cert codec round trip failed at height %" PRIu64, p, c->height);
  free(enc);

  uint64_t h = b->height;
  proc_grow(P, h);
  P->chain[h] = idx;
  P->certs[h] = *c;
  P->committed = h;
  for (unsigned i = 0; i < b->ntx; i++) {
    P->txdone[b->tx[i]] = 1;
    P->mempool[b->tx[i]] = 0;
  }
  trace_u64(s, 0xC0 + p);
  trace_u64(s, h);
  trace_add(s, b->hash.b, 32);
  if (s->cfg->verbose)
    printf("t=%" PRIu64 " p%u COMMIT h=%" PRIu64 " %s (%s, %u tx, cert r=%" PRIu64 " %u votes)\n", s->now, p,
           h, hx(&b->hash, hb), how, b->ntx, c->view, c->nvotes);
  if (honest(s, p)) {
    if (h >= s->canoncap) {
      size_t cap = s->canoncap ? s->canoncap * 2 : 256;
      while (cap <= h) cap *= 2;
      s->canon = xrealloc(s->canon, cap, sizeof *s->canon);
      memset(s->canon + s->canoncap, 0, (cap - s->canoncap) * sizeof *s->canon);
      s->canoncap = cap;
    }
    if (!s->canon[h]) {
      s->canon[h] = idx + 1;
    } else if (s->canon[h] != idx + 1) {
      char ha[9];
      s->res->fork = 1;
      violation(s, "FORK at height %" PRIu64 ": p%u committed %s, another honest node %s", h, p,
                hx(&b->hash, hb), hx(&s->blocks[s->canon[h] - 1].hash, ha));
    }
  }
  return 1;
}

static void feed_committed(sim *s, unsigned p, uint64_t h) {
  bft_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = BFT_EV_COMMITTED;
  ev.height = h;
  feed(s, p, &ev);
}

static int mempool_any(const sim *s, const proc *P) {
  for (uint64_t t = 1; t <= s->ntx; t++)
    if (P->mempool[t]) return 1;
  return 0;
}

static void feed_start(sim *s, unsigned p) {
  bft_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = BFT_EV_START;
  feed(s, p, &ev);
}

static int reachable(const sim *s, unsigned a, unsigned b) {
  return a != b && s->conn[a][b] && !s->cut[a][b] && s->p[b].up;
}

/* Block sync: copy what q has committed beyond p's height. */
static void sync_from(sim *s, unsigned p, unsigned q) {
  proc *P = &s->p[p];
  const proc *Q = &s->p[q];
  if (Q->committed <= P->committed) return;
  s->res->syncs++;
  if (s->cfg->verbose)
    printf("t=%" PRIu64 " p%u SYNC from p%u (%" PRIu64 " -> %" PRIu64 ")\n", s->now, p, q, P->committed,
           Q->committed);
  while (P->up && !s->stop && P->committed < Q->committed) {
    uint64_t h = P->committed + 1;
    uint32_t idx = Q->chain[h];
    const sblock *b = &s->blocks[idx];
    const char *bad = block_invalid(s, P, b);
    if (!bad) bad = cert_invalid(s, &Q->certs[h], h, &b->hash);
    if (bad) {
      /* a forked or lying peer: refuse, as a real node would */
      if (honest(s, q) && honest(s, p))
        violation(s, "p%u sync from honest p%u at height %" PRIu64 " refused: %s", p, q, h, bad);
      return;
    }
    if (!do_commit(s, p, idx, &Q->certs[h], "sync")) return;
    feed_committed(s, p, h);
  }
}

static void proc_crash(sim *s, unsigned p) {
  proc *P = &s->p[p];
  if (!P->up) return;
  s->res->crashes++;
  if (s->cfg->verbose) printf("t=%" PRIu64 " p%u CRASH at h=%" PRIu64 "\n", s->now, p, P->committed + 1);
  trace_u64(s, 0xDEAD00 + p);
  bft_free(P->eng);
  P->eng = NULL;
  P->up = 0;
  P->epoch++; /* drops its timers, pending executions and messages in flight to it */
  P->fcount = 0;
  P->crash_armed = 0;
  memset(P->mempool, 0, MAX_TX);
}

static void proc_start(sim *s, unsigned p) {
  proc *P = &s->p[p];
  bft_config c;
  memset(&c, 0, sizeof c);
  c.chain_id = s->chain_id;
  c.validators = s->pub;
  c.nvalidators = s->n;
  c.self = s->pub[P->member];
  c.height = P->committed + 1;
  c.propose_ms = 300;
  c.prevote_ms = 150;
  c.precommit_ms = 150;
  c.delta_ms = 50;
  c.rebroadcast_ms = 400;
  c.sign = engine_sign;
  c.sign_ctx = P;
  bft_safety rec, *recp = NULL;
  if (P->has_safety) {
    if (bft_safety_decode(P->safety, BFT_SAFETY_LEN, &rec) != CX_OK) {
      violation(s, "p%u safety record does not decode", p);
      return;
    }
    recp = &rec;
  }
  cx_err err = bft_new(&c, recp, &P->eng);
  if (err != CX_OK) {
    violation(s, "p%u bft_new failed: %s", p, cx_err_str(err));
    return;
  }
  P->up = 1;
  P->fcount = 0;
  P->draining = 0;
  /* mempool refill from running processes (gossip resync) */
  for (unsigned q = 0; q < s->np; q++) {
    if (q == p || !s->p[q].up) continue;
    for (uint64_t t = 1; t <= s->ntx; t++)
      if (s->p[q].mempool[t] && !P->txdone[t]) P->mempool[t] = 1;
  }
  if (s->cfg->verbose)
    printf("t=%" PRIu64 " p%u START engine at h=%" PRIu64 "%s\n", s->now, p, c.height,
           recp ? " (safety record restored)" : "");
  feed_start(s, p);
}

/* ---- network ---- */

static void net_send(sim *s, unsigned from, unsigned to, const bft_msg *m, uint64_t extra) {
  s->res->messages++;
  if (!s->conn[from][to] || s->cut[from][to] || !s->p[to].up) return;
  if (cx_rng_chance(&s->rng, s->drop)) return;
  uint8_t buf[BFT_MSG_MAX];
  size_t len = bft_msg_encode(m, buf);
  if (len == 0 || len > BFT_MSG_MAX) {
    violation(s, "bft_msg_encode returned %zu", len);
    return;
  }
  int copies = 1 + cx_rng_chance(&s->rng, s->dup);
  for (int i = 0; i < copies; i++) {
    uint64_t d = s->dmin + cx_rng_below(&s->rng, s->dmax - s->dmin + 1) + extra;
    sevent *e = ev_new(s, s->now + d, E_DELIVER, to);
    e->from = (uint16_t)from;
    e->len = (uint8_t)len;
    memcpy(e->buf, buf, len);
  }
}

/* ---- double-sign check (honest members never sign two different
 * messages for one (height, round, type), crashes included) ---- */

static void signed_check(sim *s, unsigned p, const bft_msg *m) {
  if (s->signed_n * 2 >= s->signed_cap) {
    size_t cap = s->signed_cap ? s->signed_cap * 2 : 4096;
    signed_ent *t = xcalloc(cap, sizeof *t);
    for (size_t i = 0; i < s->signed_cap; i++) {
      if (!s->signed_tab[i].used) continue;
      size_t j = s->signed_tab[i].key & (cap - 1);
      while (t[j].used) j = (j + 1) & (cap - 1);
      t[j] = s->signed_tab[i];
    }
    free(s->signed_tab);
    s->signed_tab = t;
    s->signed_cap = cap;
  }
  uint64_t key = m->height * 0x9e3779b97f4a7c15ull ^ ((uint64_t)m->round << 20) ^ ((uint64_t)m->type << 16) ^
                 m->signer;
  key ^= key >> 29;
  size_t mask = s->signed_cap - 1;
  for (size_t i = key & mask;; i = (i + 1) & mask) {
    signed_ent *e = &s->signed_tab[i];
    if (!e->used) {
      e->used = 1;
      e->key = key;
      e->height = m->height;
      e->round = m->round;
      e->pol = m->pol_round;
      e->member = m->signer;
      e->type = m->type;
      e->hash = m->block_hash;
      s->signed_n++;
      return;
    }
    if (e->height == m->height && e->round == m->round && e->type == m->type && e->member == m->signer) {
      if (!hash_eq(&e->hash, &m->block_hash) || (m->type == BFT_PROPOSAL && e->pol != m->pol_round)) {
        char a[9], b[9];
        violation(s, "honest member %u (p%u) signed two different %s at h=%" PRIu64 " r=%u: %s and %s",
                  m->signer, p, tname(m->type), m->height, m->round, hx(&e->hash, a), hx(&m->block_hash, b));
      }
      return;
    }
  }
}

/* ---- Byzantine: the equivocator's second version ---- */

static int coalition_alt(sim *s, uint64_t h, uint32_t r, const cx_hash *a, cx_hash *b) {
  for (unsigned i = 0; i < s->ncoal && i < 64; i++) {
    const coalition_ent *c = &s->coal[i];
    if (c->h == h && c->r == r && hash_eq(&c->a, a)) {
      *b = c->b;
      return 1;
    }
  }
  return 0;
}

/* The version of m for the other half: a second block for our own
 * proposals, the coalition's second block or nil for votes. 0 if none. */
static int equivocate(sim *s, unsigned p, const bft_msg *m, bft_msg *alt) {
  *alt = *m;
  if (m->type == BFT_PROPOSAL) {
    cx_hash b;
    if (!coalition_alt(s, m->height, m->round, &m->block_hash, &b)) {
      int ia = block_find(s, &m->block_hash);
      if (ia < 0) return 0;
      sblock nb = s->blocks[ia];
      nb.salt = (uint8_t)(nb.salt + 1);
      if (nb.ntx > 0) nb.ntx--; /* a different block, still valid */
      block_hash_of(&nb);
      block_add(s, &nb);
      b = nb.hash;
      coalition_ent *c = &s->coal[s->ncoal++ % 64];
      c->h = m->height;
      c->r = m->round;
      c->a = m->block_hash;
      c->b = b;
    }
    alt->block_hash = b;
  } else {
    if (hash_is_zero(&m->block_hash)) return 0;
    cx_hash b;
    if (coalition_alt(s, m->height, m->round, &m->block_hash, &b))
      alt->block_hash = b;
    else
      memset(&alt->block_hash, 0, sizeof alt->block_hash);
  }
  (void)p;
  msg_resign(s, alt);
  return 1;
}

/* ---- actions ---- */

static void do_broadcast(sim *s, unsigned p, const bft_msg *m) {
  proc *P = &s->p[p];
  char hb[9];
  if (m->signer != P->member) {
    /* A relay: the engine re-sends other validators' signed prevotes (the
     * polka behind a re-proposed value) because the network delivers at
     * most once. It must carry its signer's valid signature; our own
     * signing rules do not apply to it. */
    if (!msg_sig_ok(s, m)) {
      violation(s, "p%u relays a %s signed as %u whose signature does not verify", p,
                tname(m->type), m->signer);
      return;
    }
    for (unsigned q = 0; q < s->np; q++)
      if (q != p) net_send(s, p, q, m, 0);
    return;
  }
  if (!msg_sig_ok(s, m)) {
    violation(s, "p%u broadcasts a %s whose signature does not verify", p, tname(m->type));
    return;
  }
  /* never sign before persisting: the durable record covers this message */
  bft_safety rec;
  memset(&rec, 0, sizeof rec);
  if (P->has_safety) bft_safety_decode(P->safety, BFT_SAFETY_LEN, &rec);
  int covered = P->has_safety && (rec.height > m->height ||
                                   (rec.height == m->height && (rec.round > m->round ||
                                                                (rec.round == m->round && rec.step >= m->type))));
  if (!covered && honest(s, p)) /* a twin may relay its twin's messages */
    violation(s, "p%u broadcasts %s h=%" PRIu64 " r=%u not covered by its durable safety record (h=%" PRIu64
                 " r=%u step=%u)",
              p, tname(m->type), m->height, m->round, rec.height, rec.round, rec.step);
  if (honest(s, p)) signed_check(s, p, m);
  if (s->cfg->verbose > 1)
    printf("t=%" PRIu64 " p%u BROADCAST %s h=%" PRIu64 " r=%u %s\n", s->now, p, tname(m->type), m->height,
           m->round, hx(&m->block_hash, hb));
  bft_msg alt;
  int eq = P->byz == SIM_BYZ_EQUIVOCATE && equivocate(s, p, m, &alt);
  int witness = -1;
  if (eq && cx_rng_chance(&s->rng, 0.5)) {
    /* one honest recipient of the first version also gets the second */
    unsigned cand[MAXP], nc = 0;
    for (unsigned q = 0; q < s->np; q++)
      if (q != p && honest(s, q) && s->p[q].side == 0) cand[nc++] = q;
    if (nc) witness = (int)cand[cx_rng_below(&s->rng, nc)];
  }
  for (unsigned q = 0; q < s->np; q++) {
    if (q == p) continue;
    if (eq && honest(s, q) && s->p[q].side == 1) {
      net_send(s, p, q, &alt, 0);
    } else {
      net_send(s, p, q, m, 0);
      if ((int)q == witness) {
        net_send(s, p, q, &alt, 1);
        s->res->witnessed++;
      }
    }
  }
}

static void do_action(sim *s, unsigned p, const bft_action *a) {
  proc *P = &s->p[p];
  char hb[9];
  trace_u64(s, ((uint64_t)a->type << 32) | p);
  switch (a->type) {
  case BFT_ACT_PERSIST:
    bft_safety_encode(&a->safety, P->safety);
    P->has_safety = 1;
    trace_add(s, P->safety, BFT_SAFETY_LEN);
    if (s->cfg->verbose > 1)
      printf("t=%" PRIu64 " p%u PERSIST h=%" PRIu64 " r=%u step=%u lock=%d\n", s->now, p, a->safety.height,
             a->safety.round, a->safety.step,
             a->safety.locked_round == BFT_NIL_ROUND ? -1 : (int)a->safety.locked_round);
    break;
  case BFT_ACT_BROADCAST:
    trace_add(s, &a->msg.sig, sizeof a->msg.sig);
    do_broadcast(s, p, &a->msg);
    break;
  case BFT_ACT_BUILD_BLOCK: {
    if (a->height != P->committed + 1) {
      violation(s, "p%u asked to build a block at height %" PRIu64 " with %" PRIu64 " committed", p, a->height,
                P->committed);
      return;
    }
    sblock b;
    memset(&b, 0, sizeof b);
    b.height = a->height;
    b.parent = *tip(s, P);
    b.round = a->round;
    b.proposer = (uint16_t)p;
    for (uint64_t t = 1; t <= s->ntx && b.ntx < BLK_MAXTX; t++)
      if (P->mempool[t] && !P->txdone[t]) b.tx[b.ntx++] = t;
    block_hash_of(&b);
    block_add(s, &b);
    if (s->cfg->verbose)
      printf("t=%" PRIu64 " p%u BUILD h=%" PRIu64 " r=%u %s (%u tx)\n", s->now, p, b.height, b.round,
             hx(&b.hash, hb), b.ntx);
    sevent *e = ev_new(s, s->now + cx_rng_below(&s->rng, 3), E_LOCAL, p);
    e->evtype = BFT_EV_BLOCK_READY;
    e->height = a->height;
    e->round = a->round;
    e->hash = b.hash;
    break;
  }
  case BFT_ACT_CHECK_PROPOSAL: {
    int idx = block_find(s, &a->block_hash);
    const char *bad = idx < 0 ? "unknown block" : block_invalid(s, P, &s->blocks[idx]);
    if (!bad && s->blocks[idx].height != a->height) bad = "height differs from the proposal's";
    if (s->cfg->verbose > 1)
      printf("t=%" PRIu64 " p%u CHECK h=%" PRIu64 " r=%u %s: %s\n", s->now, p, a->height, a->round,
             hx(&a->block_hash, hb), bad ? bad : "valid");
    sevent *e = ev_new(s, s->now + cx_rng_below(&s->rng, 3), E_LOCAL, p);
    e->evtype = BFT_EV_PROPOSAL_CHECKED;
    e->height = a->height;
    e->round = a->round;
    e->hash = a->block_hash;
    e->valid = bad == NULL;
    break;
  }
  case BFT_ACT_COMMIT: {
    const cx_cert *c = &a->cert;
    if (a->height <= P->committed) {
      if (a->height >= 1 && !hash_eq(&s->blocks[P->chain[a->height]].hash, &a->block_hash) && honest(s, p))
        violation(s, "p%u engine commits %s at height %" PRIu64 " where it already has %s", p,
                  hx(&a->block_hash, hb), a->height, "another block");
      return;
    }
    if (a->height != P->committed + 1) {
      violation(s, "p%u engine commits height %" PRIu64 " with only %" PRIu64 " committed", p, a->height,
                P->committed);
      return;
    }
    int idx = block_find(s, &a->block_hash);
    if (idx < 0) {
      violation(s, "p%u engine commits an unknown block", p);
      return;
    }
    if (c->nvotes > SIM_MAX_N) {
      violation(s, "p%u engine certificate has %u votes for n=%u", p, c->nvotes, s->n);
      return;
    }
    scert sc;
    memset(&sc, 0, sizeof sc);
    sc.height = c->height;
    sc.view = c->view;
    sc.hash = c->block_hash;
    sc.nvotes = c->nvotes;
    memcpy(sc.votes, c->votes, c->nvotes * sizeof c->votes[0]);
    if (do_commit(s, p, (uint32_t)idx, &sc, "decide")) feed_committed(s, p, a->height);
    break;
  }
  case BFT_ACT_SET_TIMER: {
    sevent *e = ev_new(s, s->now + a->ms, E_TIMER, p);
    e->tkind = a->timeout;
    e->height = a->height;
    e->round = a->round;
    break;
  }
  case BFT_ACT_EVIDENCE: {
    const bft_msg *m1 = &a->msg, *m2 = &a->msg2;
    if (m1->signer != m2->signer || m1->height != m2->height || m1->round != m2->round ||
        m1->type != m2->type || !msg_sig_ok(s, m1) || !msg_sig_ok(s, m2) ||
        (hash_eq(&m1->block_hash, &m2->block_hash) && m1->pol_round == m2->pol_round)) {
      violation(s, "p%u reports malformed evidence against member %u", p, m1->signer);
      return;
    }
    if (s->member_byz[m1->signer] != SIM_BYZ_EQUIVOCATE && s->member_byz[m1->signer] != SIM_BYZ_TWINS) {
      violation(s, "p%u reports evidence against honest member %u", p, m1->signer);
      return;
    }
    if (honest(s, p)) s->res->evidence++;
    if (s->cfg->verbose)
      printf("t=%" PRIu64 " p%u EVIDENCE member %u %s h=%" PRIu64 " r=%u\n", s->now, p, m1->signer,
             tname(m1->type), m1->height, m1->round);
    break;
  }
  default:
    violation(s, "p%u unknown action %d", p, (int)a->type);
  }
}

/* Queues ev for p's engine and drains its queue: the actions of one event
 * are carried out in order, and the events they cause locally (COMMITTED)
 * follow. A crash armed for this process strikes between two actions. */
static void feed(sim *s, unsigned p, const bft_event *ev) {
  proc *P = &s->p[p];
  if (!P->up) return;
  if (P->fcount == FIFO_CAP) {
    violation(s, "p%u local event queue overflow", p);
    return;
  }
  P->fifo[(P->fhead + P->fcount++) % FIFO_CAP] = *ev;
  if (P->draining) return;
  P->draining = 1;
  while (P->up && P->fcount && !s->stop) {
    bft_event cur = P->fifo[P->fhead];
    P->fhead = (P->fhead + 1) % FIFO_CAP;
    P->fcount--;
    trace_u64(s, ((uint64_t)cur.type << 40) ^ ((uint64_t)p << 32) ^ cur.height);
    bft_action acts[BFT_MAX_ACTIONS];
    size_t na = bft_step(P->eng, &cur, acts);
    if (na > BFT_MAX_ACTIONS) {
      violation(s, "p%u bft_step returned %zu actions", p, na);
      break;
    }
    int committed_start = cur.type == BFT_EV_COMMITTED;
    for (size_t i = 0; i < na && P->up && !s->stop; i++) {
      if (P->crash_armed && P->crash_after-- <= 0) {
        if (s->cfg->verbose) printf("t=%" PRIu64 " p%u crash inside a step (before action %zu)\n", s->now, p, i);
        proc_crash(s, p);
        break;
      }
      do_action(s, p, &acts[i]);
    }
    /* a new height: START if there is something to order */
    if (committed_start && P->up && mempool_any(s, P)) {
      bft_event st;
      memset(&st, 0, sizeof st);
      st.type = BFT_EV_START;
      if (P->fcount < FIFO_CAP) P->fifo[(P->fhead + P->fcount++) % FIFO_CAP] = st;
    }
  }
  P->draining = 0;
}

/* ---- the run ---- */

static void deliver(sim *s, const sevent *e) {
  unsigned p = e->proc, from = e->from;
  proc *P = &s->p[p];
  char hb[9];
  if (!P->up || e->epoch != P->epoch || s->cut[from][p]) return;
  bft_msg m;
  cx_err err = bft_msg_decode(e->buf, e->len, &m);
  if (err != CX_OK) {
    violation(s, "bft_msg_decode refused a message bft_msg_encode made: %s", cx_err_str(err));
    return;
  }
  uint8_t re[BFT_MSG_MAX];
  if (bft_msg_encode(&m, re) != e->len || memcmp(re, e->buf, e->len) != 0) {
    violation(s, "bft_msg encode(decode(x)) != x");
    return;
  }
  if (!msg_sig_ok(s, &m)) return; /* the host drops it */
  trace_add(s, e->buf, e->len);
  if (s->cfg->verbose > 1)
    printf("t=%" PRIu64 " p%u <- p%u %s h=%" PRIu64 " r=%u %s signer=%u\n", s->now, p, from, tname(m.type),
           m.height, m.round, hx(&m.block_hash, hb), m.signer);
  if (m.height > P->committed + 1) sync_from(s, p, from);
  if (!P->up || s->stop) return;
  bft_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = BFT_EV_MESSAGE;
  ev.height = m.height;
  ev.round = m.round;
  ev.msg = m;
  feed(s, p, &ev);
}

static uint64_t min_honest_height(const sim *s) {
  uint64_t lo = UINT64_MAX;
  for (unsigned p = 0; p < s->np; p++)
    if (honest(s, p) && s->p[p].committed < lo) lo = s->p[p].committed;
  return lo;
}

static int live_done(const sim *s) {
  for (unsigned p = 0; p < s->np; p++) {
    if (!honest(s, p)) continue;
    if (!s->p[p].up || s->p[p].committed < s->target) return 0;
    for (uint64_t t = 1; t <= s->ntx; t++)
      if (s->submitted[t] && !s->p[p].txdone[t]) return 0;
  }
  return 1;
}

static void heal(sim *s) {
  s->healed = 1;
  memset(s->cut, 0, sizeof s->cut);
  s->drop = 0;
  s->dup = 0;
  s->dmin = 1;
  s->dmax = 10;
  uint64_t hi = 0;
  for (unsigned p = 0; p < s->np; p++) {
    s->p[p].crash_armed = 0;
    if (honest(s, p) && s->p[p].committed > hi) hi = s->p[p].committed;
  }
  s->heal_height = hi;
  s->target = hi + s->cfg->heights;
  if (s->cfg->verbose) printf("t=%" PRIu64 " HEAL: max honest height %" PRIu64 ", target %" PRIu64 "\n", s->now, hi, s->target);
  for (unsigned p = 0; p < s->np; p++)
    if (!s->p[p].up) proc_start(s, p);
  /* Mempools are volatile: a transaction every holder of which crashed
   * (possible when all processes were down at once, e.g. n <= 3) is gone,
   * as on real nodes, and its client, which never saw it commit, sends it
   * again. Without this the check "every transaction submitted before the
   * heal commits" would demand the impossible. */
  for (uint64_t t = 1; t <= s->ntx; t++) {
    if (!s->submitted[t]) continue;
    int held = 0;
    for (unsigned p = 0; p < s->np && !held; p++)
      held = (s->p[p].up && s->p[p].mempool[t]) || (honest(s, p) && s->p[p].txdone[t]);
    if (held) continue;
    trace_u64(s, 0x7100000 + t);
    if (s->cfg->verbose > 1) printf("t=%" PRIu64 " client resubmits lost tx %" PRIu64 "\n", s->now, t);
    for (unsigned p = 0; p < s->np; p++)
      if (s->p[p].up && !s->p[p].txdone[t]) s->p[p].mempool[t] = 1;
  }
  for (unsigned p = 0; p < s->np && !s->stop; p++)
    if (s->p[p].up) feed_start(s, p);
}

static void submit_tx(sim *s) {
  unsigned cand[MAXP], nc = 0;
  for (unsigned p = 0; p < s->np; p++)
    if (honest(s, p) && s->p[p].up) cand[nc++] = p;
  if (!nc || s->ntx + 1 >= MAX_TX) return;
  unsigned to = cand[cx_rng_below(&s->rng, nc)];
  uint64_t id = ++s->ntx;
  s->submitted[id] = 1;
  s->res->txs++;
  if (s->cfg->verbose > 1) printf("t=%" PRIu64 " client tx %" PRIu64 " -> p%u\n", s->now, id, to);
  trace_u64(s, 0x7000000 + id);
  for (unsigned p = 0; p < s->np; p++)
    if (s->p[p].up) s->p[p].mempool[id] = 1; /* gossip: at once */
  for (unsigned p = 0; p < s->np && !s->stop; p++)
    if (s->p[p].up) feed_start(s, p);
}

static void setup(sim *s) {
  const sim_config *cfg = s->cfg;
  cx_rng *r = &s->rng;
  s->n = cfg->n;
  s->f = quorum_f(s->n);
  /* keys: fixed per member index */
  for (unsigned i = 0; i < s->n; i++) {
    uint8_t in[20] = "custos-sim-member";
    in[18] = (uint8_t)i;
    crypto_generichash(s->secret[i], 32, in, sizeof in, (const uint8_t *)"secret", 6);
    crypto_generichash(s->pub[i].b, 32, in, sizeof in, (const uint8_t *)"public", 6);
  }
  hash_tagged(CX_TAG_GENESIS, "custos-sim", 10, &s->chain_id);

  int nbyz = cfg->byzantine;
  if (nbyz < 0) nbyz = (int)cx_rng_below(r, s->f + 1);
  if (nbyz > (int)s->n) nbyz = (int)s->n;
  int mode = cfg->byz_mode;
  if (mode == SIM_BYZ_RANDOM) mode = cx_rng_chance(r, 0.5) ? SIM_BYZ_EQUIVOCATE : SIM_BYZ_TWINS;
  s->res->nbyz = nbyz;
  s->res->byz_mode = nbyz ? mode : 0;
  /* choose the Byzantine members */
  for (int k = 0; k < nbyz;) {
    unsigned m = (unsigned)cx_rng_below(r, s->n);
    if (s->member_byz[m]) continue;
    s->member_byz[m] = mode;
    k++;
  }
  s->np = s->n;
  for (unsigned i = 0; i < s->n; i++) {
    s->p[i].member = (int)i;
    s->p[i].byz = s->member_byz[i];
  }
  if (mode == SIM_BYZ_TWINS)
    for (unsigned i = 0; i < s->n; i++)
      if (s->member_byz[i]) {
        proc *T = &s->p[s->np++];
        T->member = (int)i;
        T->byz = SIM_BYZ_TWINS;
        T->side = 1;
      }
  /* halves of the honest nodes: both non-empty when possible */
  unsigned hon[MAXP], nh = 0;
  for (unsigned p = 0; p < s->n; p++)
    if (!s->p[p].byz) hon[nh++] = p;
  for (unsigned i = nh; i > 1; i--) { /* shuffle */
    unsigned j = (unsigned)cx_rng_below(r, i), t = hon[i - 1];
    hon[i - 1] = hon[j];
    hon[j] = t;
  }
  unsigned k0 = nh >= 2 ? 1 + (unsigned)cx_rng_below(r, nh - 1) : nh;
  for (unsigned i = 0; i < nh; i++) s->p[hon[i]].side = i >= k0;
  /* links: everyone, except that a twin talks only to its own half */
  for (unsigned a = 0; a < s->np; a++)
    for (unsigned b = 0; b < s->np; b++) {
      int c = a != b;
      const proc *A = &s->p[a], *B = &s->p[b];
      if (A->byz == SIM_BYZ_TWINS || B->byz == SIM_BYZ_TWINS) c = c && A->side == B->side;
      s->conn[a][b] = c;
    }
  for (unsigned p = 0; p < s->np; p++) {
    proc *P = &s->p[p];
    P->secret = s->secret[P->member];
    P->mempool = xcalloc(MAX_TX, 1);
    P->txdone = xcalloc(MAX_TX, 1);
  }

  /* network and faults */
  unsigned fl = cfg->faults;
  s->drop = (fl & SIM_F_DROP) ? cx_rng_unit(r) * 0.3 : 0;
  s->dup = (fl & SIM_F_DUP) ? cx_rng_unit(r) * 0.1 : 0;
  s->dmin = 1 + cx_rng_below(r, 10);
  s->dmax = s->dmin + ((fl & SIM_F_DELAY) ? cx_rng_below(r, 300) : cx_rng_below(r, 10));
  if ((fl & SIM_F_PARTITION) && s->np >= 2) { /* a cut needs two sides (n = 1 looped forever) */
    s->nwin = (unsigned)cx_rng_below(r, MAX_WINDOWS);
    for (unsigned i = 0; i < s->nwin; i++) {
      window *w = &s->win[i];
      w->start = cx_rng_below(r, cfg->fault_ms);
      w->end = w->start + 200 + cx_rng_below(r, 4000);
      if (w->end > cfg->fault_ms) w->end = cfg->fault_ms;
      do w->set = (uint32_t)cx_rng_below(r, 1ull << s->np);
      while (w->set == 0 || w->set == (1u << s->np) - 1);
      ev_new(s, w->start, E_CUT, MAXP)->arg = i;
      ev_new(s, w->end, E_UNCUT, MAXP)->arg = i;
    }
  }
  if (fl & SIM_F_CRASH) {
    unsigned nc = (unsigned)cx_rng_below(r, MAX_CRASHES);
    for (unsigned i = 0; i < nc; i++) {
      unsigned p = (unsigned)cx_rng_below(r, s->np);
      if (!honest(s, p)) continue;
      uint64_t t = cx_rng_below(r, cfg->fault_ms);
      sevent *e = ev_new(s, t, E_CRASH, MAXP);
      e->from = (uint16_t)p;
      e->arg = cx_rng_chance(r, 0.5) ? 1 + (uint32_t)cx_rng_below(r, 6) : 0; /* inside a step, after k-1 actions */
      uint64_t back = t + 100 + cx_rng_below(r, 3000);
      if (back < cfg->fault_ms) ev_new(s, back, E_RESTART, MAXP)->from = (uint16_t)p;
    }
  }
  ev_new(s, 0, E_TX, MAXP);
  ev_new(s, TICK_MS, E_TICK, MAXP);
  ev_new(s, cfg->fault_ms, E_HEAL, MAXP);
  if (cfg->verbose) {
    printf("seed %" PRIu64 ": n=%u f=%u byzantine=%d (%s) drop=%.3f dup=%.3f delay=[%" PRIu64 ",%" PRIu64
           "] partitions=%u\n",
           s->seed, s->n, s->f, nbyz, nbyz ? (mode == SIM_BYZ_TWINS ? "twins" : "equivocators") : "-", s->drop,
           s->dup, s->dmin, s->dmax, s->nwin);
    for (unsigned p = 0; p < s->np; p++)
      printf("  p%u: member %d%s side %d\n", p, s->p[p].member,
             s->p[p].byz == SIM_BYZ_TWINS ? " twin" : s->p[p].byz ? " equivocator" : "", s->p[p].side);
  }
  for (unsigned p = 0; p < s->np; p++) proc_start(s, p);
}

static void handle(sim *s, const sevent *e) {
  trace_u64(s, e->t);
  trace_u64(s, ((uint64_t)e->kind << 16) | e->proc);
  switch (e->kind) {
  case E_DELIVER:
    deliver(s, e);
    break;
  case E_TIMER: {
    proc *P = &s->p[e->proc];
    if (!P->up || e->epoch != P->epoch) break;
    bft_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = BFT_EV_TIMEOUT;
    ev.timeout = e->tkind;
    ev.height = e->height;
    ev.round = e->round;
    feed(s, e->proc, &ev);
    break;
  }
  case E_LOCAL: {
    proc *P = &s->p[e->proc];
    if (!P->up || e->epoch != P->epoch) break;
    bft_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = (bft_event_type)e->evtype;
    ev.height = e->height;
    ev.round = e->round;
    ev.block_hash = e->hash;
    ev.valid = e->valid;
    feed(s, e->proc, &ev);
    break;
  }
  case E_TX:
    if (s->now >= s->cfg->fault_ms) break;
    submit_tx(s);
    ev_new(s, s->now + cx_rng_below(&s->rng, 120), E_TX, MAXP);
    break;
  case E_CRASH: {
    proc *P = &s->p[e->from];
    if (!P->up || s->healed) break;
    if (e->arg) {
      P->crash_armed = 1;
      P->crash_after = (int)e->arg - 1;
    } else {
      proc_crash(s, e->from);
    }
    break;
  }
  case E_RESTART:
    if (s->healed) break;
    s->p[e->from].crash_armed = 0;
    if (!s->p[e->from].up) proc_start(s, e->from);
    break;
  case E_CUT:
  case E_UNCUT: {
    const window *w = &s->win[e->arg];
    int d = e->kind == E_CUT ? 1 : -1;
    if (s->healed) break;
    for (unsigned a = 0; a < s->np; a++)
      for (unsigned b = 0; b < s->np; b++)
        if (((w->set >> a) & 1) != ((w->set >> b) & 1)) s->cut[a][b] += d;
    if (s->cfg->verbose)
      printf("t=%" PRIu64 " partition %u %s (set 0x%x)\n", s->now, e->arg, d > 0 ? "starts" : "ends", w->set);
    break;
  }
  case E_TICK: {
    s->ticks++;
    for (unsigned p = 0; p < s->np && !s->stop; p++) {
      if (!s->p[p].up) continue;
      feed_start(s, p);
      if (s->ticks % SYNC_EVERY == (p % SYNC_EVERY)) {
        unsigned q = (unsigned)cx_rng_below(&s->rng, s->np);
        if (reachable(s, p, q)) sync_from(s, p, q);
      }
    }
    if (s->healed && !s->cfg->expect_fork && live_done(s)) s->stop = 1;
    ev_new(s, s->now + TICK_MS, E_TICK, MAXP);
    break;
  }
  case E_HEAL:
    heal(s);
    break;
  }
}

void sim_config_default(sim_config *c, unsigned n) {
  memset(c, 0, sizeof *c);
  c->n = n;
  c->byzantine = -1;
  c->byz_mode = SIM_BYZ_RANDOM;
  c->faults = SIM_F_ALL;
  c->heights = 3;
  c->fault_ms = 6000;
  c->heal_ms = 30000;
}

void sim_run(const sim_config *cfg, uint64_t seed, sim_result *out) {
  sim *s = xcalloc(1, sizeof *s);
  memset(out, 0, sizeof *out);
  out->ok = 1;
  s->cfg = cfg;
  s->res = out;
  s->seed = seed;
  cx_rng_seed(&s->rng, seed);
  crypto_generichash_init(&s->trace, NULL, 0, 32);
  trace_u64(s, seed);
  if (cfg->n < 1 || cfg->n > SIM_MAX_N) {
    snprintf(out->why, sizeof out->why, "n must be 1..%d", SIM_MAX_N);
    out->ok = 0;
    free(s);
    return;
  }
  setup(s);
  uint64_t end = cfg->fault_ms + cfg->heal_ms;
  while (!s->stop && s->nheap) {
    uint32_t idx = heap_pop(s);
    sevent e = s->ev[idx];
    s->freelist[s->nfree++] = idx;
    if (e.t > end) break;
    s->now = e.t;
    out->events++;
    handle(s, &e);
  }
  out->end_ms = s->now;
  /* final checks */
  uint64_t lo = min_honest_height(s), hi = 0;
  for (unsigned p = 0; p < s->np; p++)
    if (honest(s, p) && s->p[p].committed > hi) hi = s->p[p].committed;
  out->min_height = lo == UINT64_MAX ? 0 : lo;
  out->max_height = hi;
  int check_live = out->ok && !cfg->expect_fork && (unsigned)out->nbyz <= s->f;
  if (check_live) {
    for (unsigned p = 0; p < s->np && out->ok; p++) {
      if (!honest(s, p)) continue;
      const proc *P = &s->p[p];
      if (!P->up) {
        violation(s, "liveness: p%u is down at the end", p);
      } else if (P->committed < s->target) {
        bft_status st;
        bft_get_status(P->eng, &st);
        violation(s,
                  "liveness: p%u at height %" PRIu64 " < target %" PRIu64 " (engine h=%" PRIu64 " r=%u step=%u "
                  "locked=%d valid=%d ignored=%" PRIu64 ") %" PRIu64 " ms after the heal",
                  p, P->committed, s->target, st.height, st.round, st.step,
                  st.locked_round == BFT_NIL_ROUND ? -1 : (int)st.locked_round,
                  st.valid_round == BFT_NIL_ROUND ? -1 : (int)st.valid_round, st.ignored, s->now - cfg->fault_ms);
      } else {
        for (uint64_t t = 1; t <= s->ntx; t++)
          if (s->submitted[t] && !P->txdone[t]) {
            violation(s, "liveness: tx %" PRIu64 " submitted before the heal is not committed on p%u", t, p);
            break;
          }
      }
    }
  }
  /* an equivocator whose two versions reached one honest node must be named */
  if (out->ok && !cfg->expect_fork && s->res->byz_mode == SIM_BYZ_EQUIVOCATE && out->witnessed >= 10 &&
      out->evidence == 0 && !(cfg->faults & (SIM_F_DROP | SIM_F_PARTITION | SIM_F_CRASH)))
    violation(s, "evidence: %" PRIu64 " equivocations shown to honest nodes, none reported", out->witnessed);
  trace_u64(s, out->ok);
  crypto_generichash_final(&s->trace, out->trace, 32);

  for (unsigned p = 0; p < s->np; p++) {
    bft_free(s->p[p].eng);
    free(s->p[p].chain);
    free(s->p[p].certs);
    free(s->p[p].mempool);
    free(s->p[p].txdone);
  }
  free(s->ev);
  free(s->freelist);
  free(s->heap);
  free(s->blocks);
  free(s->btab);
  free(s->canon);
  free(s->signed_tab);
  free(s);
}
