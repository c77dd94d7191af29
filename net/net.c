/* net: the transport shell around link.c (net.h is the contract).
 *
 * Shape: one NN_PULL socket bound to our address receives every frame; one
 * NN_PUSH socket per peer, connected to its address, sends. Frames carry no
 * sender address: a data or handshake-response frame names its link by the
 * top byte of its receiver index (the link's slot, link.h); a handshake
 * init names its sender by the Noise static key inside it, which must be a
 * current member's.
 *
 * Locks, always taken in this order (never the other way):
 *   n->tab   (rwlock)  the peer table: readers send, receive and tick;
 *                      the writer adds and removes peers (net_set_members)
 *                      and replaces a wedged peer's socket (watchdog)
 *   p->mu    (mutex)   one peer: its link, queue, pending frame, counters
 *   n->fmu   (mutex)   the fault shim (CUSTOS_TESTING)
 *   n->gmu   (mutex)   a leaf: global counters and the log rate limiter
 * A peer's socket is used without its mutex (nanomsg sockets are
 * thread-safe); it stays open, and the same, while the table lock is held.
 * Handlers run on the net thread with no lock held.
 *
 * Ownership of frames: a data frame is sealed straight into an nn_allocmsg
 * buffer and handed to nanomsg zero-copy (NN_MSG); when the peer's pipe is
 * full (EAGAIN) that buffer becomes the peer's one "pending" frame and is
 * retried before anything else, so frames leave in counter order.
 *
 * The watchdog: nanomsg 1.1.5's connecting endpoint can wedge. Seen on a
 * machine saturated at start-up: a push socket sent one frame, lost its
 * TCP connection and never reconnected (no connection, worker idle), so
 * every send to that peer failed with EAGAIN for good. A peer whose sends
 * have all failed for wedge_ms while its socket has no connection and
 * nanomsg's connect counters have not moved (a peer that is merely down
 * shows a connect error per attempt) gets a fresh socket; the link, its
 * queue and its pending frame stay. */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <nanomsg/tcp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "log.h"
#include "noise.h"
#if CUSTOS_TESTING
#include "fault.h"
#endif

#define MOD "net"
#define NET_MAX_PEERS 255      /* slots 1..255: the top byte of a session index */
#define NET_POLL_MS 5          /* receive poll timeout = timer granularity */
#define NET_RECV_BATCH 256     /* frames per loop before timers run again */
#define NET_LOG_EVERY_MS 10000 /* rate-limited log lines: one per reason per 10 s */
#define NET_SNDBUF (2 << 20)   /* kernel send buffer of each peer's TCP socket */
#define NET_RCV_SLACK 64       /* NN_RCVMAXSIZE slack over the largest data frame */

/* prologue = "custos-net/1" (12 bytes, no NUL) || chain id: a handshake
 * between nodes of different chains or protocol versions fails. */
#define PROLOGUE_LABEL "custos-net/1"
#define PROLOGUE_LABEL_LEN 12

/* ---- names and defaults ---- */

static const char *const msg_names[NET_MSG_TYPES] = {"keepalive", "consensus", "tx", "sync",
                                                     "mpc", "call", "key", "snap"};

const char *net_msg_name(unsigned type) {
  return type < NET_MSG_TYPES ? msg_names[type] : "unknown";
}

static const char *const reject_names[NET_R_COUNT] = {
#define NET_R_NAME(sym, name) name,
    NET_REJECTS(NET_R_NAME)
#undef NET_R_NAME
};

const char *net_reject_name(unsigned r) { return r < NET_R_COUNT ? reject_names[r] : "unknown"; }

void net_config_defaults(net_config *c) {
  if (!c->max_msg) c->max_msg = NET_MAX_MSG_DEFAULT;
  if (!c->queue_msgs) c->queue_msgs = 1024;
  if (!c->queue_bytes) c->queue_bytes = (size_t)64 << 20;
  if (!c->queue_ttl_ms) c->queue_ttl_ms = 10000;
  if (!c->keepalive_ms) c->keepalive_ms = 1000;
  if (!c->dead_ms) c->dead_ms = 5000;
  if (!c->rekey_ms) c->rekey_ms = 120000;
  if (!c->rekey_msgs) c->rekey_msgs = (uint64_t)1 << 32;
  if (!c->reconnect_ms) c->reconnect_ms = 100;
  if (!c->reconnect_max_ms) c->reconnect_max_ms = 500;
  /* At least two of nanomsg's longest reconnect intervals: a working
   * endpoint makes a connect attempt within any such window. */
  uint64_t least = 2 * (uint64_t)c->reconnect_max_ms;
  if (least > UINT32_MAX) least = UINT32_MAX;
  if (!c->wedge_ms) c->wedge_ms = least > 10000 ? (uint32_t)least : 10000;
  if (c->wedge_ms < least) c->wedge_ms = (uint32_t)least;
  if (!c->clock) c->clock = clock_system();
}

/* ---- types ---- */

/* A message waiting for a session: a plaintext copy, wiped when freed. */
typedef struct qmsg {
  struct qmsg *next;
  unsigned type;
  size_t len;
  uint64_t t_ms; /* when net_send took it */
  uint8_t data[];
} qmsg;

typedef struct peer {
  struct net *n;
  unsigned slot;
  char name[CX_NAME_MAX + 1];
  uint8_t enc_key[32];
  char address[CX_ADDR_MAX + 1];
  int sock; /* NN_PUSH connected to address */
  int ep;   /* its endpoint, as nn_connect returned it */
  peer_link *l;
  pthread_mutex_t mu;
  qmsg *qhead, *qtail;
  size_t qcount, qbytes;
  /* A sealed data frame nanomsg refused with EAGAIN: sent before anything
   * else. plen: its payload bytes (counted when it leaves). */
  void *pend;
  size_t pend_len, pend_plen;
  uint64_t pend_t;
  uint64_t last_now; /* latest time given to the link (peer_now) */
  /* The watchdog (push_wedged): when sends started failing with EAGAIN (0:
   * the last one went out), and nanomsg's connect counters (ep_activity)
   * as last seen, and since when. */
  uint64_t fail_since, act_since, act;
  net_peer_stats st;
} peer;

typedef struct {
  uint64_t last_ms;   /* when the last line was written */
  uint64_t suppressed;/* occurrences since then that were not logged */
  int logged;         /* a line was ever written */
} ratelog;

struct net {
  net_config cfg; /* static_priv zeroed: the key lives in skey */
  uint8_t *skey;  /* 32 bytes, sodium_malloc'd */
  uint8_t spub[32];
  uint8_t prologue[PROLOGUE_LABEL_LEN + 32];
  uint64_t last_flush; /* net thread: last flush_ratelogs */
  uint64_t t0_wall, t0_mono; /* now_ms's anchor */
  noise_hs *hs; /* responder scratch state, net thread only, sodium_malloc'd */
  int sock;     /* NN_PULL bound to cfg.listen */
  struct {
    net_handler fn;
    void *ctx;
  } h[NET_MSG_TYPES];

  pthread_rwlock_t tab;
  peer *slots[NET_MAX_PEERS + 1]; /* [0] unused */
  size_t npeers;
  unsigned next_slot; /* round-robin allocation */

  pthread_mutex_t gmu;
  uint64_t grejects[NET_R_COUNT];
  ratelog rl[NET_R_COUNT];

#if CUSTOS_TESTING
  pthread_mutex_t fmu;
  fault *fault; /* NULL until the first net_fault */
#endif

  pthread_t thread;
  int started;
  atomic_int stop;
};

/* The time every link runs on: monotonic within the process, anchored at
 * the wall clock when net_open ran. Monotonic so that timers never jump;
 * anchored so that it keeps growing across restarts, even of the machine
 * (monotonic clocks restart at boot): the peers' links refuse a handshake
 * init whose timestamp is not newer than the last one they accepted from
 * us (link_accept_init, HS_REPLAY), as WireGuard does with TAI64N. A wall
 * clock set back by more than the downtime delays handshakes by the
 * difference. net_config holds the clock as const (net/ only reads it);
 * cx_clock's callbacks take it mutable. */
static uint64_t now_ms(const net *n) {
  cx_clock *c = (cx_clock *)n->cfg.clock;
  uint64_t m = c->mono_ms(c);
  return n->t0_wall + (m > n->t0_mono ? m - n->t0_mono : 0);
}

/* The time for a call into p's link, taken under p->mu and never earlier
 * than the last one: threads read the clock before they get the lock, and
 * the link (and the queue's ages) must not see time go back. */
static uint64_t peer_now(peer *p) {
  uint64_t t = now_ms(p->n);
  if (t < p->last_now) t = p->last_now;
  p->last_now = t;
  return t;
}

/* ---- rate-limited logging ---- */

static int reject_is_warn(unsigned r) {
  switch (r) {
  case NET_R_UNKNOWN_SESSION:
  case NET_R_OLD_SESSION:
  case NET_R_RATE:
  case NET_R_QUEUE_FULL:
  case NET_R_EXPIRED:
    return 0; /* ordinary after restarts, rekeys and outages */
  default:
    return 1;
  }
}

/* Decides whether the occurrence of reason r at now may be logged (at most
 * one line per reason per NET_LOG_EVERY_MS). *suppressed gets the number of
 * occurrences swallowed since the last line. Caller holds gmu. */
static int rate_ok(net *n, unsigned r, uint64_t now, uint64_t *suppressed) {
  ratelog *l = &n->rl[r];
  if (l->logged && now < l->last_ms + NET_LOG_EVERY_MS) {
    l->suppressed++;
    return 0;
  }
  *suppressed = l->suppressed;
  l->suppressed = 0;
  l->last_ms = now;
  l->logged = 1;
  return 1;
}

/* One rate-limited line about a refused frame or message. who: the peer's
 * name, or NULL when nobody can be blamed. */
static void log_reject(net *n, unsigned r, const char *who, uint64_t now) {
  uint64_t sup = 0;
  pthread_mutex_lock(&n->gmu);
  int ok = rate_ok(n, r, now, &sup);
  pthread_mutex_unlock(&n->gmu);
  if (!ok) return;
  log_level lvl = reject_is_warn(r) ? LOG_WARN : LOG_INFO;
  const char *what = r == NET_R_QUEUE_FULL || r == NET_R_EXPIRED ? "dropped a message to"
                                                                  : "refused a frame from";
  if (sup)
    log_msg(lvl, MOD, "%s %s: %s (%llu more like it in the last 10 s)", what,
            who ? who : "an unknown sender", reject_names[r], (unsigned long long)sup);
  else
    log_msg(lvl, MOD, "%s %s: %s", what, who ? who : "an unknown sender", reject_names[r]);
}

/* A frame nobody can be blamed for: global counter and a log line. */
static void reject_global(net *n, unsigned r, uint64_t now) {
  pthread_mutex_lock(&n->gmu);
  n->grejects[r]++;
  pthread_mutex_unlock(&n->gmu);
  log_reject(n, r, NULL, now);
}

/* Caller holds p->mu. */
static void reject_peer(peer *p, unsigned r, uint64_t now) {
  p->st.rejects[r]++;
  log_reject(p->n, r, p->name, now);
}

/* Logs a summary of suppressed lines whose window has closed, so a burst's
 * size is reported even when nothing follows it. */
static void flush_ratelogs(net *n, uint64_t now) {
  for (unsigned r = 0; r < NET_R_COUNT; r++) {
    uint64_t sup = 0;
    pthread_mutex_lock(&n->gmu);
    ratelog *l = &n->rl[r];
    if (l->suppressed && now >= l->last_ms + NET_LOG_EVERY_MS) {
      sup = l->suppressed;
      l->suppressed = 0;
      l->last_ms = now;
    }
    pthread_mutex_unlock(&n->gmu);
    if (sup)
      log_msg(reject_is_warn(r) ? LOG_WARN : LOG_INFO, MOD,
              "%llu more frames or messages refused as %s in the last 10 s",
              (unsigned long long)sup, reject_names[r]);
  }
}

/* ---- the peer table (caller holds n->tab) ---- */

static peer *peer_by_name(net *n, const char *name) {
  for (unsigned s = 1; s <= NET_MAX_PEERS; s++)
    if (n->slots[s] && strcmp(n->slots[s]->name, name) == 0) return n->slots[s];
  return NULL;
}

static peer *peer_by_key(net *n, const uint8_t key[32]) {
  for (unsigned s = 1; s <= NET_MAX_PEERS; s++)
    if (n->slots[s] && sodium_memcmp(n->slots[s]->enc_key, key, 32) == 0) return n->slots[s];
  return NULL;
}

/* ---- the queue (caller holds p->mu) ---- */

static void qmsg_free(qmsg *q) {
  sodium_memzero(q->data, q->len);
  free(q);
}

static cx_err queue_push(peer *p, uint64_t now, unsigned type, const uint8_t *m, size_t len) {
  const net_config *c = &p->n->cfg;
  if (p->qcount >= c->queue_msgs || len > c->queue_bytes - p->qbytes) {
    reject_peer(p, NET_R_QUEUE_FULL, now);
    return CX_E_QUEUE_FULL;
  }
  qmsg *q = malloc(sizeof *q + len);
  if (!q) return CX_E_NOMEM;
  q->next = NULL;
  q->type = type;
  q->len = len;
  q->t_ms = now;
  if (len) memcpy(q->data, m, len);
  if (p->qtail)
    p->qtail->next = q;
  else
    p->qhead = q;
  p->qtail = q;
  p->qcount++;
  p->qbytes += len;
  return CX_OK;
}

static qmsg *queue_pop(peer *p) {
  qmsg *q = p->qhead;
  if (!q) return NULL;
  p->qhead = q->next;
  if (!p->qhead) p->qtail = NULL;
  p->qcount--;
  p->qbytes -= q->len;
  return q;
}

static void queue_clear(peer *p) {
  qmsg *q;
  while ((q = queue_pop(p))) qmsg_free(q);
}

/* The pending frame holds ciphertext only; no wipe needed. */
static void pend_clear(peer *p) {
  if (p->pend) nn_freemsg(p->pend);
  p->pend = NULL;
  p->pend_len = p->pend_plen = 0;
}

/* ---- push sockets ---- */

/* A push socket to address, connecting (nanomsg connects in the
 * background and reconnects on its own), with the options of every peer
 * socket: peer_create and the watchdog both open theirs here. *ep: the
 * endpoint. CX_E_CONFIG: nanomsg refused the address; CX_E_NET: the socket
 * could not be set up. Logs why. */
static cx_err push_open(const net *n, const char *name, const char *address, int *sock, int *ep) {
  int s = nn_socket(AF_SP, NN_PUSH);
  if (s < 0) goto nnfail;
  int ivl = (int)(n->cfg.reconnect_ms > INT32_MAX ? INT32_MAX : n->cfg.reconnect_ms);
  int ivlmax = (int)(n->cfg.reconnect_max_ms > INT32_MAX ? INT32_MAX : n->cfg.reconnect_max_ms);
  int sndbuf = NET_SNDBUF, linger = 0, nodelay = 1;
  /* TCP_NODELAY: a PUSH connection carries data one way only, so the peer's
   * ACKs are delayed (up to 40 ms on Linux), and with Nagle a small message
   * (a vote) sent while an earlier frame is unacknowledged waits for that
   * ACK. Messages are whole frames: coalescing them buys nothing. */
  if (nn_setsockopt(s, NN_SOL_SOCKET, NN_RECONNECT_IVL, &ivl, sizeof ivl) < 0 ||
      nn_setsockopt(s, NN_SOL_SOCKET, NN_RECONNECT_IVL_MAX, &ivlmax, sizeof ivlmax) < 0 ||
      nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDBUF, &sndbuf, sizeof sndbuf) < 0 ||
      nn_setsockopt(s, NN_SOL_SOCKET, NN_LINGER, &linger, sizeof linger) < 0 ||
      nn_setsockopt(s, NN_TCP, NN_TCP_NODELAY, &nodelay, sizeof nodelay) < 0)
    goto nnfail;
  int e = nn_connect(s, address);
  if (e < 0) {
    LOG_E(MOD, "link to %s: cannot connect to %s: %s", name, address, nn_strerror(nn_errno()));
    nn_close(s);
    return CX_E_CONFIG;
  }
  *sock = s;
  *ep = e;
  return CX_OK;
nnfail:
  LOG_E(MOD, "link to %s: socket setup failed: %s", name, nn_strerror(nn_errno()));
  if (s >= 0) nn_close(s);
  return CX_E_NET;
}

/* Connect attempts made by the endpoint of a push socket, successful or
 * not: the count keeps moving while nanomsg keeps trying, even towards a
 * peer that is down (one connect error per attempt). */
static uint64_t ep_activity(int sock) {
  return nn_get_statistic(sock, NN_STAT_ESTABLISHED_CONNECTIONS) +
         nn_get_statistic(sock, NN_STAT_CONNECT_ERRORS) +
         nn_get_statistic(sock, NN_STAT_DROPPED_CONNECTIONS) +
         nn_get_statistic(sock, NN_STAT_BROKEN_CONNECTIONS);
}

/* ---- sending (caller holds n->tab and p->mu) ---- */

/* For the watchdog: a frame went out (ok), or nanomsg refused it with
 * EAGAIN. Frames the fault shim takes count as sent. */
static void send_noted(peer *p, int ok) {
  if (ok) {
    p->fail_since = 0;
  } else if (!p->fail_since) {
    p->fail_since = p->act_since = p->last_now;
    p->act = ep_activity(p->sock);
  }
}

#if CUSTOS_TESTING
/* fault_emit: the shim lets a frame (or a copy, or a held one) go. Called
 * with n->tab and n->fmu held, so the table is stable. */
static void fault_emit_cb(void *ctx, const char *name, const uint8_t *frame, size_t len) {
  net *n = ctx;
  peer *p = peer_by_name(n, name);
  if (!p) return; /* torn down meanwhile */
  if (nn_send(p->sock, frame, len, NN_DONTWAIT) < 0)
    LOG_D(MOD, "frame to %s lost under the fault shim: %s", name, nn_strerror(nn_errno()));
}

/* 1 if the fault shim is active; then it has taken the frame. */
static int fault_route(peer *p, uint64_t now, const uint8_t *frame, size_t len) {
  net *n = p->n;
  pthread_mutex_lock(&n->fmu);
  int on = n->fault != NULL;
  if (on) fault_out(n->fault, now, p->name, frame, len, fault_emit_cb, n);
  pthread_mutex_unlock(&n->fmu);
  return on;
}

static int fault_drops_from(net *n, const char *name) {
  pthread_mutex_lock(&n->fmu);
  int r = n->fault && fault_partitioned(n->fault, name);
  pthread_mutex_unlock(&n->fmu);
  return r;
}
#endif

typedef enum { TX_SENT, TX_PENDING, TX_FAILED } tx_result;

/* Hands a sealed data frame (an nn_allocmsg buffer, owned from here on) to
 * nanomsg. EAGAIN: it becomes the pending frame. */
static tx_result transmit_data(peer *p, uint64_t now, void *buf, size_t len, size_t plen) {
#if CUSTOS_TESTING
  if (fault_route(p, now, buf, len)) {
    nn_freemsg(buf);
    goto sent;
  }
#endif
  if (nn_send(p->sock, &buf, NN_MSG, NN_DONTWAIT) < 0) {
    int e = nn_errno();
    if (e == EAGAIN) {
      send_noted(p, 0);
      p->pend = buf;
      p->pend_len = len;
      p->pend_plen = plen;
      p->pend_t = now;
      return TX_PENDING;
    }
    nn_freemsg(buf);
    LOG_E(MOD, "send to %s failed: %s", p->name, nn_strerror(e));
    return TX_FAILED;
  }
#if CUSTOS_TESTING
sent:
#endif
  send_noted(p, 1);
  p->st.msgs_out++;
  p->st.bytes_out += plen;
  p->st.frames_out++;
  return TX_SENT;
}

/* link_io.send: a handshake or keepalive frame. Not kept on EAGAIN:
 * handshakes are retried by the link, keepalives are periodic. */
static void io_send(void *ctx, const uint8_t *frame, size_t len) {
  peer *p = ctx;
#if CUSTOS_TESTING
  if (fault_route(p, now_ms(p->n), frame, len)) {
    send_noted(p, 1);
    p->st.frames_out++;
    return;
  }
#endif
  void *buf = nn_allocmsg(len, 0);
  if (!buf) return;
  memcpy(buf, frame, len);
  if (nn_send(p->sock, &buf, NN_MSG, NN_DONTWAIT) < 0) {
    if (nn_errno() == EAGAIN) send_noted(p, 0);
    nn_freemsg(buf);
    return;
  }
  send_noted(p, 1);
  p->st.frames_out++;
}

static void io_random(void *ctx, uint8_t *buf, size_t n) {
  (void)ctx;
  randombytes_buf(buf, n);
}

typedef enum { SEAL_SENT, SEAL_PENDING, SEAL_NO_SESSION, SEAL_FAILED } seal_result;

/* Seals one message and transmits it. */
static seal_result seal_send(peer *p, uint64_t now, unsigned type, const uint8_t *m, size_t len) {
  void *buf = nn_allocmsg(len + LINK_OVERHEAD, 0);
  if (!buf) return SEAL_FAILED;
  size_t flen = 0;
  cx_err e = link_seal(p->l, now, type, m, len, buf, &flen);
  if (e == CX_E_NO_SESSION) {
    nn_freemsg(buf);
    return SEAL_NO_SESSION;
  }
  if (e) {
    nn_freemsg(buf);
    LOG_E(MOD, "cannot seal a message to %s: %s", p->name, cx_err_str(e));
    return SEAL_FAILED;
  }
  switch (transmit_data(p, now, buf, flen, len)) {
  case TX_SENT:
    return SEAL_SENT;
  case TX_PENDING:
    return SEAL_PENDING;
  default:
    return SEAL_FAILED;
  }
}

/* Sends what waits: the pending frame, then queued messages in order, until
 * the link has no session or nanomsg pushes back. Messages older than
 * queue_ttl_ms are dropped as expired. */
static void drain(peer *p, uint64_t now) {
  const uint32_t ttl = p->n->cfg.queue_ttl_ms;
  if (p->pend) {
    if (now > p->pend_t + ttl) {
      pend_clear(p);
      reject_peer(p, NET_R_EXPIRED, now);
    } else {
      void *buf = p->pend;
      if (nn_send(p->sock, &buf, NN_MSG, NN_DONTWAIT) < 0) {
        int e = nn_errno();
        if (e == EAGAIN) {
          send_noted(p, 0);
          return;
        }
        LOG_E(MOD, "send to %s failed: %s", p->name, nn_strerror(e));
        pend_clear(p);
      } else {
        send_noted(p, 1);
        p->st.msgs_out++;
        p->st.bytes_out += p->pend_plen;
        p->st.frames_out++;
        p->pend = NULL;
        p->pend_len = p->pend_plen = 0;
      }
    }
  }
  while (p->qhead && !p->pend) {
    qmsg *q = p->qhead;
    if (now > q->t_ms + ttl) {
      qmsg_free(queue_pop(p));
      reject_peer(p, NET_R_EXPIRED, now);
      continue;
    }
    seal_result r = seal_send(p, now, q->type, q->data, q->len);
    if (r == SEAL_NO_SESSION) break;
    qmsg_free(queue_pop(p));
  }
}

static int has_backlog(const peer *p) { return p->pend || p->qhead; }

/* net_send to one peer; caller holds n->tab. */
static cx_err peer_send(peer *p, unsigned type, const uint8_t *m, size_t len) {
  cx_err e = CX_OK;
  pthread_mutex_lock(&p->mu);
  uint64_t now = peer_now(p);
  if (has_backlog(p)) {
    /* Behind earlier messages: keep per-peer order. */
    e = queue_push(p, now, type, m, len);
    drain(p, now);
  } else {
    switch (seal_send(p, now, type, m, len)) {
    case SEAL_NO_SESSION:
      e = queue_push(p, now, type, m, len);
      break;
    case SEAL_FAILED:
      e = CX_E_NET;
      break;
    default:
      break;
    }
  }
  pthread_mutex_unlock(&p->mu);
  return e;
}

cx_err net_send(net *n, const char *to, unsigned type, const uint8_t *p, size_t len) {
  if (type == NET_MSG_KEEPALIVE || type >= NET_MSG_TYPES) return CX_E_BAD_ENUM;
  if (len > n->cfg.max_msg) return CX_E_TOO_LONG;
  pthread_rwlock_rdlock(&n->tab);
  peer *pr = to ? peer_by_name(n, to) : NULL;
  cx_err e = pr ? peer_send(pr, type, p, len) : CX_E_PEER_UNKNOWN;
  pthread_rwlock_unlock(&n->tab);
  return e;
}

size_t net_broadcast(net *n, unsigned type, const uint8_t *p, size_t len) {
  if (type == NET_MSG_KEEPALIVE || type >= NET_MSG_TYPES || len > n->cfg.max_msg) return 0;
  size_t ok = 0;
  pthread_rwlock_rdlock(&n->tab);
  for (unsigned s = 1; s <= NET_MAX_PEERS; s++)
    if (n->slots[s] && peer_send(n->slots[s], type, p, len) == CX_OK) ok++;
  pthread_rwlock_unlock(&n->tab);
  return ok;
}

cx_err net_rekey(net *n, const char *to) {
  pthread_rwlock_rdlock(&n->tab);
  peer *p = to ? peer_by_name(n, to) : NULL;
  if (p) {
    pthread_mutex_lock(&p->mu);
    link_rekey(p->l, peer_now(p));
    pthread_mutex_unlock(&p->mu);
  }
  pthread_rwlock_unlock(&n->tab);
  return p ? CX_OK : CX_E_PEER_UNKNOWN;
}

/* ---- receiving (net thread) ---- */

/* A handshake init: whose static key is in it decides which link answers. */
static void recv_init(net *n, uint64_t now, uint8_t *frame, const link_hdr *h) {
  uint8_t payload[LINK_INIT_PAYLOAD];
  size_t plen = 0;
  noise_hs_init(n->hs, 0, n->prologue, sizeof n->prologue, n->skey, NULL);
  if (noise_read_msg1(n->hs, frame + LINK_HDR, h->len, payload, sizeof payload, &plen) != CX_OK) {
    noise_hs_wipe(n->hs);
    reject_global(n, NET_R_HANDSHAKE, now);
    return;
  }
  pthread_rwlock_rdlock(&n->tab);
  peer *p = peer_by_key(n, n->hs->rs);
  if (!p) {
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, n->hs->rs, 4); /* 8 hex digits: enough to tell keys apart */
    pthread_rwlock_unlock(&n->tab);
    noise_hs_wipe(n->hs);
    sodium_memzero(payload, sizeof payload);
    pthread_mutex_lock(&n->gmu);
    n->grejects[NET_R_NOT_MEMBER]++;
    uint64_t sup = 0;
    int ok = rate_ok(n, NET_R_NOT_MEMBER, now, &sup);
    pthread_mutex_unlock(&n->gmu);
    if (ok && sup)
      LOG_W(MOD, "refused a link from key %s...: not a current member (%llu more refused in "
                 "the last 10 s)", hex, (unsigned long long)sup);
    else if (ok)
      LOG_W(MOD, "refused a link from key %s...: not a current member", hex);
    return;
  }
#if CUSTOS_TESTING
  if (fault_drops_from(n, p->name)) {
    pthread_rwlock_unlock(&n->tab);
    noise_hs_wipe(n->hs);
    sodium_memzero(payload, sizeof payload);
    return;
  }
#endif
  pthread_mutex_lock(&p->mu);
  now = peer_now(p);
  int r = link_accept_init(p->l, now, n->hs, payload, plen); /* wipes hs */
  if (r >= 0)
    reject_peer(p, (unsigned)r, now);
  else
    p->st.frames_in++;
  pthread_mutex_unlock(&p->mu);
  pthread_rwlock_unlock(&n->tab);
  sodium_memzero(payload, sizeof payload);
}

/* A handshake response or data frame: its receiver index names the link. */
static void recv_session(net *n, uint64_t now, uint8_t *frame, size_t len, const link_hdr *h) {
  pthread_rwlock_rdlock(&n->tab);
  peer *p = n->slots[link_index_slot(h->receiver)];
  if (!p) {
    pthread_rwlock_unlock(&n->tab);
    reject_global(n, NET_R_UNKNOWN_SESSION, now);
    return;
  }
#if CUSTOS_TESTING
  if (fault_drops_from(n, p->name)) {
    pthread_rwlock_unlock(&n->tab);
    return;
  }
#endif
  unsigned type = 0;
  const uint8_t *payload = NULL;
  size_t plen = 0;
  int reject = -1;
  net_handler fn = NULL;
  void *fctx = NULL;
  char from[CX_NAME_MAX + 1];
  pthread_mutex_lock(&p->mu);
  now = peer_now(p);
  switch (link_input(p->l, now, h, frame, len, &type, &payload, &plen, &reject)) {
  case LINK_IN_REJECT:
    if (reject >= 0 && reject < NET_R_COUNT) reject_peer(p, (unsigned)reject, now);
    break;
  case LINK_IN_MESSAGE:
    p->st.frames_in++;
    if (type < NET_MSG_TYPES && type != NET_MSG_KEEPALIVE && n->h[type].fn) {
      p->st.msgs_in++;
      p->st.bytes_in += plen;
      fn = n->h[type].fn;
      fctx = n->h[type].ctx;
      memcpy(from, p->name, sizeof from);
    } else {
      reject_peer(p, NET_R_BAD_TYPE, now);
    }
    break;
  default:
    p->st.frames_in++;
    break;
  }
  /* An authenticated frame may have just confirmed a session. */
  if (has_backlog(p)) drain(p, now);
  pthread_mutex_unlock(&p->mu);
  pthread_rwlock_unlock(&n->tab);
  if (fn) fn(fctx, from, type, payload, plen);
}

static void recv_frame(net *n, uint8_t *frame, size_t len) {
  uint64_t now = now_ms(n);
  link_hdr h;
  int r = link_hdr_decode(frame, len, n->cfg.max_msg, &h);
  if (r >= 0) {
    /* Malformed, wrong version or oversized: nothing in the frame can be
     * trusted to name a sender yet. */
    reject_global(n, (unsigned)r < NET_R_COUNT ? (unsigned)r : NET_R_MALFORMED, now);
    return;
  }
  if (h.kind == LINK_HS_INIT)
    recv_init(n, now, frame, &h);
  else
    recv_session(n, now, frame, len, &h);
}

/* ---- the watchdog (net thread; file comment) ---- */

/* Whether p's push socket is wedged: sends have failed for wedge_ms, and
 * for as long nanomsg has had no connection for it and has made no connect
 * attempt. Not a peer that is down (nanomsg keeps trying: its counters
 * move), nor a slow one (its connection is up: EAGAIN is backpressure).
 * Caller holds p->mu. */
static int push_wedged(peer *p, uint64_t now) {
  if (!p->fail_since || now <= p->act_since + p->n->cfg.wedge_ms) return 0;
  uint64_t act = ep_activity(p->sock);
  int stuck = act == p->act && nn_get_statistic(p->sock, NN_STAT_CURRENT_CONNECTIONS) == 0;
  if (!stuck) { /* alive: look again in wedge_ms */
    p->act = act;
    p->act_since = now;
  }
  return stuck;
}

/* Gives p a fresh push socket, opened as peer_create opens one. The link,
 * its queue and the pending frame stay (that frame is an nn_allocmsg
 * buffer, not tied to a socket), so what waited leaves in order on the
 * session it was meant for. If the peer has dropped that session meanwhile
 * (its dead_ms passed), the link's handshake retries, at most 4 s apart,
 * make a new one. Caller holds the table write lock (fault_emit_cb uses
 * p->sock without p->mu) and p->mu. */
static void push_reset(peer *p, uint64_t now) {
  int s, ep;
  p->act = 0;
  p->act_since = now; /* whatever happens, the next look is wedge_ms away */
  if (push_open(p->n, p->name, p->address, &s, &ep) != CX_OK) return;
  LOG_W(MOD, "link to %s: nothing could be sent for %llu ms and nanomsg neither has a "
             "connection nor tries to connect (a wedged endpoint): new socket",
        p->name, (unsigned long long)(now - p->fail_since));
  nn_close(p->sock);
  p->sock = s;
  p->ep = ep;
  p->st.socket_resets++;
}

/* Replaces the wedged sockets tick_all saw. The table may have changed
 * since it let go of its read lock, so every peer is judged again here. */
static void watchdog(net *n) {
  pthread_rwlock_wrlock(&n->tab);
  for (unsigned s = 1; s <= NET_MAX_PEERS; s++) {
    peer *p = n->slots[s];
    if (!p) continue;
    pthread_mutex_lock(&p->mu);
    uint64_t now = peer_now(p);
    if (push_wedged(p, now)) push_reset(p, now);
    pthread_mutex_unlock(&p->mu);
  }
  pthread_rwlock_unlock(&n->tab);
}

/* Timers of every link, whatever waits in their queues, and the watchdog. */
static void tick_all(net *n) {
  uint64_t now = now_ms(n);
  int wedged = 0;
  pthread_rwlock_rdlock(&n->tab);
  for (unsigned s = 1; s <= NET_MAX_PEERS; s++) {
    peer *p = n->slots[s];
    if (!p) continue;
    pthread_mutex_lock(&p->mu);
    uint64_t pnow = peer_now(p);
    link_tick(p->l, pnow);
    if (has_backlog(p)) drain(p, pnow);
    wedged |= push_wedged(p, pnow);
    pthread_mutex_unlock(&p->mu);
  }
#if CUSTOS_TESTING
  pthread_mutex_lock(&n->fmu);
  if (n->fault) fault_tick(n->fault, now, fault_emit_cb, n);
  pthread_mutex_unlock(&n->fmu);
#endif
  pthread_rwlock_unlock(&n->tab);
  /* The swap needs the write lock: not while the read lock is held. */
  if (wedged) watchdog(n);
  if (now - n->last_flush >= 1000) {
    n->last_flush = now;
    flush_ratelogs(n, now);
  }
}

static void *net_thread(void *arg) {
  log_thread_name("cx-net");
  net *n = arg;
  struct nn_pollfd pfd = {.fd = n->sock, .events = NN_POLLIN};
  while (!atomic_load(&n->stop)) {
    pfd.revents = 0;
    int rc = nn_poll(&pfd, 1, NET_POLL_MS);
    if (rc < 0 && nn_errno() != EINTR) {
      LOG_E(MOD, "poll failed: %s", nn_strerror(nn_errno()));
      break;
    }
    for (int i = 0; rc > 0 && i < NET_RECV_BATCH; i++) {
      void *buf = NULL;
      int len = nn_recv(n->sock, &buf, NN_MSG, NN_DONTWAIT);
      if (len < 0) {
        int e = nn_errno();
        if (e != EAGAIN && e != EINTR) LOG_E(MOD, "receive failed: %s", nn_strerror(e));
        break;
      }
      recv_frame(n, buf, (size_t)len);
      nn_freemsg(buf);
    }
    tick_all(n);
  }
  return NULL;
}

/* ---- members ---- */

static void peer_destroy(net *n, peer *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  int installed = p->l != NULL; /* else a fresh peer that never got a peer_link */
  link_free(p->l);               /* wipes every session key */
  p->l = NULL;
  queue_clear(p);
  pend_clear(p);
  pthread_mutex_unlock(&p->mu);
  if (p->sock >= 0) nn_close(p->sock);
#if CUSTOS_TESTING
  /* Frames the shim holds for this name go too (not for a fresh peer that
   * failed to start: the name may still be a live peer's). */
  pthread_mutex_lock(&n->fmu);
  if (n->fault && installed) fault_forget(n->fault, p->name);
  pthread_mutex_unlock(&n->fmu);
#else
  (void)n;
  (void)installed;
#endif
  pthread_mutex_destroy(&p->mu);
  sodium_memzero(p, sizeof *p);
  free(p);
}

/* A peer with its socket connecting; no slot or link yet. */
static cx_err peer_create(net *n, const net_member *m, peer **out) {
  peer *p = calloc(1, sizeof *p);
  if (!p) return CX_E_NOMEM;
  p->n = n;
  p->sock = -1;
  snprintf(p->name, sizeof p->name, "%s", m->name);
  memcpy(p->enc_key, m->enc_key, 32);
  snprintf(p->address, sizeof p->address, "%s", m->address);
  snprintf(p->st.name, sizeof p->st.name, "%s", m->name);
  pthread_mutex_init(&p->mu, NULL);
  cx_err e = push_open(n, p->name, p->address, &p->sock, &p->ep);
  if (e) {
    peer_destroy(n, p);
    return e;
  }
  *out = p;
  return CX_OK;
}

/* Round robin over 1..255 so that a slot just freed is reused as late as
 * possible: frames still in flight for a removed peer then meet no link
 * (unknown_session) rather than a new one (where they would fail
 * authentication anyway). Caller holds the table write lock. */
static unsigned slot_alloc(net *n) {
  for (unsigned i = 0; i < NET_MAX_PEERS; i++) {
    unsigned s = (n->next_slot + i) % NET_MAX_PEERS + 1;
    if (!n->slots[s]) {
      n->next_slot = s % NET_MAX_PEERS;
      return s;
    }
  }
  return 0;
}

static const net_member *member_find(const net_member *m, size_t count, const char *name) {
  for (size_t i = 0; i < count; i++)
    if (strcmp(m[i].name, name) == 0) return &m[i];
  return NULL;
}

cx_err net_set_members(net *n, const net_member *m, size_t count) {
  /* Check the whole list before changing anything. */
  size_t others = 0;
  for (size_t i = 0; i < count; i++) {
    if (!m[i].name[0] || !memchr(m[i].name, 0, sizeof m[i].name) ||
        !memchr(m[i].address, 0, sizeof m[i].address))
      return CX_E_INVALID_ARG;
    if (strcmp(m[i].name, n->cfg.self) == 0) continue;
    if (!m[i].address[0]) return CX_E_INVALID_ARG;
    for (size_t j = 0; j < i; j++)
      if (strcmp(m[i].name, m[j].name) == 0 || memcmp(m[i].enc_key, m[j].enc_key, 32) == 0)
        return CX_E_INVALID_ARG;
    others++;
  }
  if (others > NET_MAX_PEERS) return CX_E_FULL;

  pthread_rwlock_wrlock(&n->tab);
  /* New peers' sockets first: if one cannot be set up, nothing changes. */
  peer *fresh[NET_MAX_PEERS];
  size_t nfresh = 0;
  cx_err e = CX_OK;
  for (size_t i = 0; i < count && !e; i++) {
    if (strcmp(m[i].name, n->cfg.self) == 0) continue;
    peer *old = peer_by_name(n, m[i].name);
    if (old && memcmp(old->enc_key, m[i].enc_key, 32) == 0 &&
        strcmp(old->address, m[i].address) == 0)
      continue; /* unchanged: keep its peer_link */
    e = peer_create(n, &m[i], &fresh[nfresh]);
    if (!e) nfresh++;
  }
  if (e) {
    for (size_t i = 0; i < nfresh; i++) peer_destroy(n, fresh[i]);
    pthread_rwlock_unlock(&n->tab);
    return e;
  }
  /* Tear down links to peers gone or changed. */
  for (unsigned s = 1; s <= NET_MAX_PEERS; s++) {
    peer *p = n->slots[s];
    if (!p) continue;
    const net_member *nm = member_find(m, count, p->name);
    const char *why = NULL;
    if (!nm || strcmp(nm->name, n->cfg.self) == 0)
      why = "no longer a member";
    else if (memcmp(nm->enc_key, p->enc_key, 32) != 0)
      why = "its key changed";
    else if (strcmp(nm->address, p->address) != 0)
      why = "its address changed";
    if (!why) continue;
    LOG_I(MOD, "link to %s closed: %s", p->name, why);
    n->slots[s] = NULL;
    n->npeers--;
    peer_destroy(n, p);
  }
  /* Then give the new ones a slot and a link. */
  link_params lp = {.keepalive_ms = n->cfg.keepalive_ms,
                    .dead_ms = n->cfg.dead_ms,
                    .rekey_ms = n->cfg.rekey_ms,
                    .rekey_msgs = n->cfg.rekey_msgs,
                    .hs_retry_ms = 250,
                    .hs_retry_max_ms = 1000,
                    .hs_min_interval_ms = 20,
                    .max_payload = n->cfg.max_msg};
  for (size_t i = 0; i < nfresh; i++) {
    peer *p = fresh[i];
    unsigned s = slot_alloc(n); /* cannot fail: counted above */
    link_io io = {.ctx = p, .send = io_send, .random = io_random};
    p->slot = s;
    p->l = s ? link_new(s, n->prologue, sizeof n->prologue, n->skey, p->enc_key, &lp, &io) : NULL;
    if (!p->l) {
      e = CX_E_NOMEM;
      peer_destroy(n, p);
      continue;
    }
    n->slots[s] = p;
    n->npeers++;
    LOG_I(MOD, "link to %s at %s opened (slot %u)", p->name, p->address, s);
  }
  pthread_rwlock_unlock(&n->tab);
  return e;
}

/* ---- open, start, close ---- */

cx_err net_open(const net_config *cfg, net **out, char *err, size_t errlen) {
  *out = NULL;
  net *n = calloc(1, sizeof *n);
  if (!n) {
    snprintf(err, errlen, "out of memory");
    return CX_E_NOMEM;
  }
  n->cfg = *cfg;
  sodium_memzero(n->cfg.static_priv, sizeof n->cfg.static_priv);
  net_config_defaults(&n->cfg);
  cx_clock *clk = (cx_clock *)n->cfg.clock;
  n->t0_wall = clk->now_ms(clk);
  n->t0_mono = clk->mono_ms(clk);
  n->sock = -1;
  pthread_rwlock_init(&n->tab, NULL);
  pthread_mutex_init(&n->gmu, NULL);
#if CUSTOS_TESTING
  pthread_mutex_init(&n->fmu, NULL);
#endif
  atomic_init(&n->stop, 0);
  cx_err e = CX_E_NOMEM;
  if (sodium_init() < 0) {
    snprintf(err, errlen, "libsodium failed to initialise");
    e = CX_E_CRYPTO;
    goto fail;
  }
  n->skey = sodium_malloc(32);
  n->hs = sodium_malloc(sizeof *n->hs);
  if (!n->skey || !n->hs) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  memcpy(n->skey, cfg->static_priv, 32);
  sodium_mprotect_readonly(n->skey);
  noise_pubkey(n->skey, n->spub);
  memcpy(n->prologue, PROLOGUE_LABEL, PROLOGUE_LABEL_LEN);
  memcpy(n->prologue + PROLOGUE_LABEL_LEN, cfg->chain_id.b, 32);

  n->sock = nn_socket(AF_SP, NN_PULL);
  if (n->sock < 0) {
    snprintf(err, errlen, "cannot create the receive socket: %s", nn_strerror(nn_errno()));
    e = CX_E_NET;
    goto fail;
  }
  /* nanomsg refuses anything bigger than the largest data frame before
   * allocating for it, by dropping that TCP connection (the sender's
   * socket reconnects): a peer cannot make us buffer more than this. */
  size_t cap = n->cfg.max_msg + LINK_OVERHEAD + NET_RCV_SLACK;
  int maxsz = cap > INT32_MAX ? -1 : (int)cap;
  if (nn_setsockopt(n->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof maxsz) < 0) {
    snprintf(err, errlen, "cannot set the receive size cap: %s", nn_strerror(nn_errno()));
    e = CX_E_NET;
    goto fail;
  }
  if (nn_bind(n->sock, n->cfg.listen) < 0) {
    snprintf(err, errlen, "p2p listen %s: cannot bind: %s", n->cfg.listen,
             nn_strerror(nn_errno()));
    e = CX_E_NET;
    goto fail;
  }
  *out = n;
  return CX_OK;
fail:
  net_close(n);
  return e;
}

void net_on(net *n, unsigned type, net_handler h, void *ctx) {
  CX_ASSERT(type > NET_MSG_KEEPALIVE && type < NET_MSG_TYPES);
  CX_ASSERT(!n->started);
  n->h[type].fn = h;
  n->h[type].ctx = ctx;
}

cx_err net_start(net *n) {
  CX_ASSERT(!n->started);
  if (pthread_create(&n->thread, NULL, net_thread, n) != 0) return CX_E_INTERNAL;
  n->started = 1;
  return CX_OK;
}

void net_close(net *n) {
  if (!n) return;
  if (n->started) {
    atomic_store(&n->stop, 1);
    pthread_join(n->thread, NULL);
    n->started = 0;
  }
  for (unsigned s = 1; s <= NET_MAX_PEERS; s++) {
    peer_destroy(n, n->slots[s]);
    n->slots[s] = NULL;
  }
  if (n->sock >= 0) nn_close(n->sock);
#if CUSTOS_TESTING
  fault_free(n->fault);
  pthread_mutex_destroy(&n->fmu);
#endif
  if (n->hs) {
    noise_hs_wipe(n->hs);
    sodium_free(n->hs);
  }
  sodium_free(n->skey); /* wipes */
  pthread_mutex_destroy(&n->gmu);
  pthread_rwlock_destroy(&n->tab);
  free(n);
}

/* ---- stats and the fault shim ---- */

static int by_name(const void *a, const void *b) {
  return strcmp(((const net_peer_stats *)a)->name, ((const net_peer_stats *)b)->name);
}

size_t net_stats(net *n, net_peer_stats *out, size_t cap, net_stats_global *g) {
  net_peer_stats *all = calloc(NET_MAX_PEERS, sizeof *all);
  size_t k = 0;
  pthread_rwlock_rdlock(&n->tab);
  for (unsigned s = 1; s <= NET_MAX_PEERS && all; s++) {
    peer *p = n->slots[s];
    if (!p) continue;
    pthread_mutex_lock(&p->mu);
    all[k] = p->st;
    all[k].connected = link_connected(p->l, peer_now(p));
    all[k].handshakes = link_handshakes(p->l);
    all[k].queued = p->qcount + (p->pend ? 1u : 0u);
    pthread_mutex_unlock(&p->mu);
    k++;
  }
  size_t total = n->npeers;
  pthread_rwlock_unlock(&n->tab);
  if (all) {
    qsort(all, k, sizeof *all, by_name);
    if (out) memcpy(out, all, (k < cap ? k : cap) * sizeof *all);
    free(all);
  }
  if (g) {
    pthread_mutex_lock(&n->gmu);
    memcpy(g->rejects, n->grejects, sizeof g->rejects);
    pthread_mutex_unlock(&n->gmu);
    g->npeers = total;
  }
  return all ? total : 0;
}

/* ---- free loopback ports ---- */

/* The low end of the kernel's ephemeral (outgoing source) port range. */
static unsigned ephemeral_low(void) {
  unsigned lo = 32768, hi = 60999;
  FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
  if (f) {
    if (fscanf(f, "%u %u", &lo, &hi) != 2) lo = 32768;
    fclose(f);
  }
  return lo;
}

cx_err net_free_ports(uint16_t *ports, unsigned n, char *err, size_t errlen) {
  int *fds = calloc(n ? n : 1, sizeof *fds);
  if (!fds) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory finding ports");
  cx_err rc = CX_OK;
  unsigned opened = 0, lo = 10000, top = ephemeral_low();
  int below = top > lo + 1000 && top <= 65536;
  for (; opened < n; opened++) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t sl = sizeof sa;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = -1, ok = 0;
    for (int attempt = 0; attempt < (below ? 200 : 1) && !ok; attempt++) {
      if (fd >= 0) close(fd);
      fd = socket(AF_INET, SOCK_STREAM, 0);
      if (fd < 0) break;
      sa.sin_port = below ? htons((uint16_t)(lo + randombytes_uniform(top - lo))) : 0;
      ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    }
    if (fd < 0) {
      rc = cx_errf(err, errlen, CX_E_NET, "cannot open a socket: %s", strerror(errno));
      break;
    }
    fds[opened] = fd;
    if (!ok || getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
      rc = cx_errf(err, errlen, CX_E_NET, "cannot find a free port on 127.0.0.1: %s", strerror(errno));
      opened++;
      break;
    }
    ports[opened] = ntohs(sa.sin_port);
  }
  for (unsigned i = 0; i < opened; i++) close(fds[i]);
  free(fds);
  return rc;
}

#if CUSTOS_TESTING
cx_err net_test_wedge(net *n, const char *name) {
  pthread_rwlock_rdlock(&n->tab);
  peer *p = name ? peer_by_name(n, name) : NULL;
  int rc = p ? nn_shutdown(p->sock, p->ep) : 0;
  /* nanomsg drops the connection in the background: until it is gone, a
   * frame could still leave. */
  for (int i = 0; rc == 0 && p && i < 1000; i++) {
    if (nn_get_statistic(p->sock, NN_STAT_CURRENT_CONNECTIONS) == 0) break;
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  pthread_rwlock_unlock(&n->tab);
  if (!p) return CX_E_PEER_UNKNOWN;
  return rc < 0 ? CX_E_NET : CX_OK;
}
#endif

cx_err net_fault(net *n, const char *cmd, char *err, size_t errlen) {
#if CUSTOS_TESTING
  cx_err e;
  pthread_mutex_lock(&n->fmu);
  if (!n->fault && !(n->fault = fault_new(1))) {
    snprintf(err, errlen, "out of memory");
    e = CX_E_NOMEM;
  } else {
    e = fault_command(n->fault, cmd, err, errlen);
  }
  pthread_mutex_unlock(&n->fmu);
  return e;
#else
  (void)n;
  (void)cmd;
  snprintf(err, errlen, "fault shim not compiled in (build with -DCUSTOS_TESTING=ON)");
  return CX_E_CONFIG;
#endif
}
