/* gossip.c: the NET_MSG_TX wire (gossip_decode) and the outgoing batch with
 * its thread. Layout, caps, who flushes and why: gossip.h; docs/net.md,
 * "Transaction gossip". */
#include "gossip.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"

/* ---- the wire ---- */

static cx_err refuse(gossip_wire *out, node_refusal *r, cx_err e, const char *why) {
  out->count = 0;
  if (r) {
    r->what = "transaction gossip";
    r->why = why;
  }
  return e;
}

cx_err gossip_decode(const uint8_t *p, size_t len, gossip_wire *out, node_refusal *r) {
  cx_dec d;
  uint8_t ver = 0;
  uint64_t count = 0;
  out->count = 0;
  /* net/ already caps a payload at its max_msg; this bound keeps the
   * decoder's contract independent of the link configuration. */
  if (len > GOSSIP_MSG_MAX) return refuse(out, r, CX_E_TOO_LONG, "message over the size cap");
  dec_init(&d, p, len);
  if (dec_u8(&d, &ver)) return refuse(out, r, CX_E_TRUNCATED, "empty message");
  if (ver != GOSSIP_WIRE_VERSION) return refuse(out, r, CX_E_BAD_VERSION, "unknown version");
  if (dec_varint_max(&d, &count, GOSSIP_MAX_TXS))
    return refuse(out, r, d.err, d.err == CX_E_TOO_LONG ? "too many transactions" : "bad count");
  if (count == 0) return refuse(out, r, CX_E_INVALID_ARG, "no transaction");
  for (size_t i = 0; i < count; i++) {
    const uint8_t *tp = NULL;
    size_t tl = 0;
    if (dec_bytes(&d, &tp, &tl, CX_TX_MAX_BYTES))
      return refuse(out, r, d.err,
                    d.err == CX_E_TOO_LONG ? "transaction over the size cap" : "bad entry");
    if (tl == 0) return refuse(out, r, CX_E_INVALID_ARG, "empty transaction");
    out->tx[i].p = tp;
    out->tx[i].len = tl;
  }
  if (d.off != len) return refuse(out, r, CX_E_TRAILING, "trailing bytes");
  out->count = (size_t)count;
  return CX_OK;
}

/* ---- the outgoing batch ---- */

/* Room before the entries for the header (u8 version | varint count). The
 * count is known only when the batch closes: the header is then written
 * right before the entries, so the message is sent from the buffer as is. */
#define HDR_ROOM (1 + CX_VARINT_MAX)

enum { WHY_SIZE, WHY_TIME, WHY_CLOSE };

struct gossip_batcher {
  gossip_config cfg;
  pthread_mutex_t send_mu; /* held from closing a batch to the end of its send: order */
  pthread_mutex_t mu;      /* everything below; taken after send_mu, never before */
  pthread_cond_t cv;       /* CLOCK_MONOTONIC: the thread waits for a batch or its time */
  uint8_t *open;           /* HDR_ROOM + entries of the open batch */
  uint8_t *spare;          /* the last batch sent (free once send_mu is ours) */
  size_t used;             /* entry bytes in open, after HDR_ROOM */
  size_t n;                /* entries in open */
  struct timespec due;     /* when the open batch leaves (n > 0) */
  int stop;
  pthread_t th;
  gossip_stats st;
};

static void mono_now(struct timespec *t) { clock_gettime(CLOCK_MONOTONIC, t); }

static int ts_ge(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec >= b->tv_nsec;
}

/* Closes the open batch and sends it, unless it is empty (or, for the
 * timer, not yet due: an appender may have sent the batch the timer was
 * for and opened a new one meanwhile). */
static void send_open(gossip_batcher *b, int why) {
  pthread_mutex_lock(&b->send_mu);
  pthread_mutex_lock(&b->mu);
  struct timespec now;
  if (why == WHY_TIME) mono_now(&now);
  if (b->n == 0 || (why == WHY_TIME && !ts_ge(&now, &b->due))) {
    pthread_mutex_unlock(&b->mu);
    pthread_mutex_unlock(&b->send_mu);
    return;
  }
  uint8_t *buf = b->open;
  size_t used = b->used, n = b->n;
  b->open = b->spare;
  b->spare = buf; /* reused only by the next send, which waits for send_mu */
  b->used = b->n = 0;
  b->st.batches++;
  b->st.txs += n;
  if (why == WHY_SIZE) b->st.on_size++;
  else if (why == WHY_TIME) b->st.on_time++;
  else b->st.on_close++;
  pthread_mutex_unlock(&b->mu);

  uint8_t vb[CX_VARINT_MAX];
  size_t vl = varint_put(vb, n);
  uint8_t *msg = buf + HDR_ROOM - 1 - vl;
  msg[0] = GOSSIP_WIRE_VERSION;
  memcpy(msg + 1, vb, vl);
  b->cfg.send(b->cfg.ctx, msg, 1 + vl + used);
  pthread_mutex_unlock(&b->send_mu);
}

cx_err gossip_add(gossip_batcher *b, const uint8_t *tx, size_t len) {
  if (len == 0 || len > CX_TX_MAX_BYTES) return CX_E_INVALID_ARG;
  uint8_t vb[CX_VARINT_MAX];
  size_t vl = varint_put(vb, len), need = vl + len, room = b->cfg.max_bytes - HDR_ROOM;
  pthread_mutex_lock(&b->mu);
  /* Full: this thread sends the open batch (send_mu before mu: let go of
   * mu first), then looks again (another thread may have filled the next). */
  while (b->n && b->used + need > room) {
    pthread_mutex_unlock(&b->mu);
    send_open(b, WHY_SIZE);
    pthread_mutex_lock(&b->mu);
  }
  memcpy(b->open + HDR_ROOM + b->used, vb, vl);
  memcpy(b->open + HDR_ROOM + b->used + vl, tx, len);
  b->used += need;
  if (++b->n == 1) {
    mono_now(&b->due);
    b->due.tv_sec += b->cfg.flush_us / 1000000u;
    b->due.tv_nsec += (long)(b->cfg.flush_us % 1000000u) * 1000L;
    if (b->due.tv_nsec >= 1000000000L) {
      b->due.tv_sec++;
      b->due.tv_nsec -= 1000000000L;
    }
    pthread_cond_signal(&b->cv);
  }
  int full = b->n >= b->cfg.max_txs;
  pthread_mutex_unlock(&b->mu);
  if (full) send_open(b, WHY_SIZE); /* no later entry can join it */
  return CX_OK;
}

void gossip_flush(gossip_batcher *b) { send_open(b, WHY_CLOSE); }

void gossip_stats_get(gossip_batcher *b, gossip_stats *out) {
  pthread_mutex_lock(&b->mu);
  *out = b->st;
  pthread_mutex_unlock(&b->mu);
}

/* The gossip thread: sleeps until a batch opens, then until its time. */
static void *gossip_main(void *arg) {
  log_thread_name("cx-gossip");
  gossip_batcher *b = arg;
  pthread_mutex_lock(&b->mu);
  while (!b->stop) {
    if (b->n == 0) {
      pthread_cond_wait(&b->cv, &b->mu);
      continue;
    }
    struct timespec now;
    mono_now(&now);
    if (!ts_ge(&now, &b->due)) {
      pthread_cond_timedwait(&b->cv, &b->mu, &b->due);
      continue;
    }
    pthread_mutex_unlock(&b->mu);
    send_open(b, WHY_TIME);
    pthread_mutex_lock(&b->mu);
  }
  pthread_mutex_unlock(&b->mu);
  return NULL;
}

static void batcher_free(gossip_batcher *b) {
  pthread_cond_destroy(&b->cv);
  pthread_mutex_destroy(&b->mu);
  pthread_mutex_destroy(&b->send_mu);
  free(b->open);
  free(b->spare);
  free(b);
}

cx_err gossip_start(const gossip_config *c, gossip_batcher **out) {
  gossip_config cfg = *c;
  *out = NULL;
  if (!cfg.max_bytes) cfg.max_bytes = GOSSIP_BATCH_BYTES;
  if (!cfg.max_txs) cfg.max_txs = GOSSIP_BATCH_TXS;
  if (!cfg.flush_us) cfg.flush_us = GOSSIP_FLUSH_MS * 1000u;
  /* Any one transaction must fit an empty batch (gossip_add relies on it),
   * and a batch must be a message every receiver accepts. */
  if (!cfg.send || cfg.max_bytes < CX_TX_MAX_BYTES + 16 || cfg.max_bytes > GOSSIP_MSG_MAX ||
      cfg.max_txs > GOSSIP_MAX_TXS)
    return CX_E_CONFIG;
  gossip_batcher *b = calloc(1, sizeof *b);
  if (!b) return CX_E_NOMEM;
  b->cfg = cfg;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&b->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&b->mu, NULL);
  pthread_mutex_init(&b->send_mu, NULL);
  b->open = malloc(cfg.max_bytes);
  b->spare = malloc(cfg.max_bytes);
  if (!b->open || !b->spare) {
    batcher_free(b);
    return CX_E_NOMEM;
  }
  if (pthread_create(&b->th, NULL, gossip_main, b) != 0) {
    batcher_free(b);
    return CX_E_INTERNAL;
  }
  *out = b;
  return CX_OK;
}

void gossip_stop(gossip_batcher *b) {
  if (!b) return;
  pthread_mutex_lock(&b->mu);
  b->stop = 1;
  pthread_cond_signal(&b->cv);
  pthread_mutex_unlock(&b->mu);
  pthread_join(b->th, NULL);
  send_open(b, WHY_CLOSE);
  batcher_free(b);
}
