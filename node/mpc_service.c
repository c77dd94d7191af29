/* mpc_service.c: the MPC preprocessing service of custosd — one thread per
 * node that owns this node's preprocessing pool (mpc.h) and runs prep
 * batches with the other validators over net/ (NET_MSG_MPC), at most one
 * at a time. The engine is the one the unit tests drive in-process
 * (mpc/; tests/unit/mpc_harness.c): here it only gets real links, a clock
 * and a schedule (issue 5: "made ahead of time in the background into a
 * bounded pool ... the pool's level is visible"). docs/operations.md,
 * "MPC preprocessing", is the operator's description.
 *
 * Schedule from the chain. Every party must run the same prep sessions in
 * the same order (mpc.h: pools are FIFO and must stay aligned), so nothing
 * is negotiated: the consensus thread reports each committed height h with
 * h % mpc.every_blocks == 0 whose block is recent (no peer reported it
 * committed the next such height, and the block's timestamp is within
 * RECENT_MS of our clock: a node replaying history during sync does not
 * start sessions the others ran long ago). When the service is idle it
 * takes the newest trigger (those that queued up while a batch ran are
 * passed over: every node ends a batch at about the same time and so sees
 * the same newest one), and a batch starts iff the pool holds fewer than
 * mpc.low_water triples (or rands), with
 *     session id = SHA-256("custos/mpc-prep" || chain_id || h || pool digest)
 * (mpc_pool_digest), parties = the validator set in force after h in signer
 * order, this node's member key signing. Nothing consumes the pool yet
 * (online sessions come with secret contracts, issue 7), so aligned pools
 * evolve identically and every node decides the same.
 *
 * Reconciliation. A node whose pool differs (restarted with an empty pool,
 * or the last round of a batch completed at some parties and not at
 * others) computes other session ids: its messages match no session of the
 * others and the others' none of its. Three rules bring the pools back:
 *   1. a failed batch flushes the pool (freed: everything wiped, then an
 *      empty one): nobody knows what the others kept;
 *   2. an idle node holding, for at least one round timeout, a message of a
 *      prep session it cannot account for (not one of its recent triggers
 *      under its own digest, not one it ran), received after its last
 *      successful batch began (every party was in that one, so what they
 *      sent before belongs to sessions that are over: it is dropped),
 *      flushes its pool too: someone runs batches over another pool;
 *   3. an idle node that holds a fresh message (less than 3/4 of a round
 *      timeout old) of a session it can account for (one of its recent
 *      triggers, under its digest) and has not run, joins it: nodes that
 *      picked different triggers (one was busy timing out while the
 *      others skipped, or a commit fell between their ends of a batch)
 *      fall in step behind whoever started first.
 * After a flush every pool is empty, hence the same digest, and the next
 * trigger they share realigns them. Cost: a batch needs all n parties, so
 * each disagreement costs one round timeout (mpc.round_timeout_ms) plus
 * the material of every pool. That is the price of keeping no state about
 * the others: the pool is never trusted beyond its own digest. A member
 * can abuse rule 2 (a message of a session nobody runs makes the others
 * flush): besides making every batch fail, which it can anyway, it can
 * empty the pools, and that is not attributed to it yet (docs/operations.md,
 * "Limits").
 *
 * Threads: the net thread only queues NET_MSG_MPC payloads (bounded:
 * INQ_MAX messages, INQ_BYTES; refused beyond, counted); the consensus
 * thread only appends triggers; this thread owns the pool and the session
 * and drives them (mpc_session_recv / tick, outbox -> net_send). mu guards
 * the queue, the new triggers and the published status. No secret value
 * (share, seed, key) is ever logged or published: the status holds counts. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hash.h"
#include "log.h"
#include "mpc.h"
#include "net.h"
#include "node_internal.h"

#define INQ_MAX 64              /* messages from the net thread not yet taken */
#define INQ_BYTES (64u << 20)
#define STASH_MAX 256           /* messages of sessions not (yet) running */
#define STASH_BYTES (64u << 20)
#define TRIG_MAX 64             /* recent triggers kept (for rule 3) */
#define NEWTRIG_MAX 16          /* triggers reported, not yet taken by the thread */
#define RAN_MAX 16              /* ids of the sessions we ran lately */
#define RECENT_MS 10000         /* a block older than this starts nothing */
#define SEND_WAIT_MS 500        /* backpressure: how long one peer may stall a send */
#define SID_OFF 2               /* mpc/wire.h: version u8 | kind u8 | session[32] */

typedef struct mmsg {
  struct mmsg *next;
  uint64_t at; /* mono ms when it arrived */
  size_t len;
  uint8_t data[];
} mmsg;

/* One committed height that may start a batch, with the parties of that
 * batch: the validators in force after it, in signer order. */
typedef struct {
  uint64_t height;
  uint64_t at; /* mono ms of our commit */
  uint32_t n;
  cx_pubkey keys[CX_MAX_VALIDATORS];
  char names[CX_MAX_VALIDATORS][CX_NAME_MAX + 1];
} trig;

typedef struct {
  mmsg *head, *tail;
  size_t n, bytes;
} mlist;

struct mpc_service {
  node *node;
  pthread_t th;
  int running;

  pthread_mutex_t mu; /* guards everything up to "service thread only" */
  pthread_cond_t cv;
  int stop;
  mlist inq;
  trig *newt; /* NEWTRIG_MAX */
  size_t nnew;
  node_mpc_stats pub;
  uint64_t refused; /* atomic (node_refuse) */

  /* service thread only */
  mpc_pool *pool;
  trig *tv; /* TRIG_MAX, oldest first */
  size_t tn, cursor; /* tv[cursor..] not yet evaluated */
  mlist stash;
  uint8_t ran[RAN_MAX][32];
  size_t nran, ran_next;
  mpc_session *sess;
  trig cur; /* parties of the running session */
  uint32_t me;
  uint8_t sid[32];
  uint64_t started_at;
  uint64_t stalled; /* peers whose link queue stayed full in this session */
  mpc_outbox out;
  uint64_t warned_at; /* mono ms of the last failure logged at warn level */
};

static uint64_t mono(const mpc_service *s) { return s->node->clock->mono_ms(s->node->clock); }

/* ---- message lists ------------------------------------------------------ */

static void ml_push(mlist *l, mmsg *m) {
  m->next = NULL;
  if (l->tail)
    l->tail->next = m;
  else
    l->head = m;
  l->tail = m;
  l->n++;
  l->bytes += m->len;
}

static mmsg *ml_pop(mlist *l) {
  mmsg *m = l->head;
  if (!m) return NULL;
  l->head = m->next;
  if (!l->head) l->tail = NULL;
  l->n--;
  l->bytes -= m->len;
  m->next = NULL;
  return m;
}

/* Removes the messages for which drop(m, ctx) says so (freed), keeping order. */
static void ml_filter(mlist *l, int (*drop)(const mmsg *m, void *ctx), void *ctx) {
  mlist keep = {0};
  mmsg *m;
  while ((m = ml_pop(l))) {
    if (drop(m, ctx))
      free(m);
    else
      ml_push(&keep, m);
  }
  *l = keep;
}

static void ml_free(mlist *l) {
  mmsg *m;
  while ((m = ml_pop(l))) free(m);
}

/* ---- the net thread: queue only ---------------------------------------- */

static void on_mpc(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len) {
  mpc_service *s = ctx;
  (void)type;
  if (len < SID_OFF + 32) {
    node_refuse(s->node, &s->refused, "mpc message", from, "shorter than a message header");
    return;
  }
  mmsg *m = malloc(sizeof *m + len);
  if (!m) {
    node_refuse(s->node, &s->refused, "mpc message", from, "out of memory");
    return;
  }
  m->at = mono(s);
  m->len = len;
  memcpy(m->data, p, len);
  pthread_mutex_lock(&s->mu);
  int full = s->inq.n >= INQ_MAX || s->inq.bytes + len > INQ_BYTES;
  if (!full) {
    ml_push(&s->inq, m);
    pthread_cond_signal(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  if (full) {
    free(m);
    node_refuse(s->node, &s->refused, "mpc message", from, "mpc queue full");
  }
}

/* ---- the consensus thread: triggers ------------------------------------ */

void mpc_service_on_commit(node *n, uint64_t height, uint64_t block_time_ms,
                           const cx_pubkey *keys, size_t nval) {
  mpc_service *s = n->mpc;
  if (!s || height % n->cfg.mpc_every_blocks != 0) return;
  uint64_t now = n->clock->now_ms(n->clock);
  uint64_t age = now > block_time_ms ? now - block_time_ms : block_time_ms - now;
  pthread_mutex_lock(&n->smu);
  /* A peer told us it committed the next trigger height already: it has
   * moved on (an idle node takes the newest). A lag of a block or two is
   * normal for the slowest validator and must not count. */
  int behind = n->best_peer_height >= height + n->cfg.mpc_every_blocks;
  pthread_mutex_unlock(&n->smu);
  if (behind || age > RECENT_MS) { /* replaying history (sync): the others ran it long ago */
    pthread_mutex_lock(&s->mu);
    s->pub.skipped_stale++;
    pthread_mutex_unlock(&s->mu);
    return;
  }
  pthread_mutex_lock(&s->mu);
  if (s->nnew == NEWTRIG_MAX) { /* the thread is stuck: keep the newest */
    memmove(s->newt, s->newt + 1, (NEWTRIG_MAX - 1) * sizeof *s->newt);
    s->nnew--;
  }
  trig *t = &s->newt[s->nnew++];
  t->height = height;
  t->at = n->clock->mono_ms(n->clock);
  t->n = (uint32_t)nval;
  memcpy(t->keys, keys, nval * sizeof *keys);
  for (size_t i = 0; i < nval; i++) memcpy(t->names[i], n->vnames[i], sizeof t->names[i]);
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* ---- status ------------------------------------------------------------- */

static void publish(mpc_service *s, void (*upd)(node_mpc_stats *p, const void *a),
                    const void *arg) {
  mpc_pool_level lv;
  memset(&lv, 0, sizeof lv);
  if (s->pool) mpc_pool_level_get(s->pool, &lv);
  pthread_mutex_lock(&s->mu);
  s->pub.triples = lv.triples;
  s->pub.rands = lv.rands;
  s->pub.bits = lv.bits;
  s->pub.cap_triples = lv.cap_triples;
  s->pub.cap_rands = lv.cap_rands;
  s->pub.cap_bits = lv.cap_bits;
  s->pub.running = s->sess != NULL;
  if (upd) upd(&s->pub, arg);
  pthread_mutex_unlock(&s->mu);
}

static void set_error(node_mpc_stats *p, const void *a) {
  snprintf(p->last_error, sizeof p->last_error, "%s", (const char *)a);
}

void node_mpc_status(node *n, node_mpc_stats *out) {
  memset(out, 0, sizeof *out);
  mpc_service *s = n->mpc;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  *out = s->pub;
  pthread_mutex_unlock(&s->mu);
  out->enabled = 1;
  out->refused = __atomic_load_n(&s->refused, __ATOMIC_RELAXED);
}

/* ---- the pool ----------------------------------------------------------- */

/* Rule 1 and 2 (top of file): free (wipes) and start again empty. */
static void flush_pool(mpc_service *s, const char *why, int warn) {
  const node_config *c = &s->node->cfg;
  mpc_pool_free(s->pool);
  s->pool = NULL;
  cx_err e = mpc_pool_new(c->mpc_pool_triples, c->mpc_pool_rands, 0, 0, &s->pool);
  char msg[200];
  if (e) {
    snprintf(msg, sizeof msg, "cannot allocate the pool after a flush: %s", cx_err_name(e));
    LOG_E("mpc", "%s", msg);
  } else {
    snprintf(msg, sizeof msg, "%s", why);
    log_msg(warn ? LOG_WARN : LOG_DEBUG, "mpc", "pool flushed: %s", why);
  }
  pthread_mutex_lock(&s->mu);
  s->pub.flushes++;
  pthread_mutex_unlock(&s->mu);
  publish(s, set_error, msg);
}

/* The id of the batch of trigger height h over the pool as it is now: the
 * digest makes parties whose pools differ disagree (top of file). */
static void session_id_of(const mpc_service *s, uint64_t h, const uint8_t digest[32],
                          uint8_t out[32]) {
  static const char label[] = "custos/mpc-prep";
  uint8_t buf[sizeof label + 32 + 8 + 32];
  size_t o = 0;
  memcpy(buf, label, sizeof label); /* with its NUL: a separator */
  o += sizeof label;
  memcpy(buf + o, s->node->chain_id.b, 32);
  o += 32;
  for (int k = 0; k < 8; k++) buf[o++] = (uint8_t)(h >> (8 * k));
  memcpy(buf + o, digest, 32);
  o += 32;
  hash_sha256(buf, o, out);
}

static void session_id(const mpc_service *s, uint64_t h, uint8_t out[32]) {
  uint8_t d[32];
  mpc_pool_digest(s->pool, d);
  session_id_of(s, h, d, out);
}

static int ran_has(const mpc_service *s, const uint8_t sid[32]) {
  for (size_t i = 0; i < s->nran; i++)
    if (memcmp(s->ran[i], sid, 32) == 0) return 1;
  return 0;
}

static void ran_add(mpc_service *s, const uint8_t sid[32]) {
  memcpy(s->ran[s->ran_next], sid, 32);
  s->ran_next = (s->ran_next + 1) % RAN_MAX;
  if (s->nran < RAN_MAX) s->nran++;
}

/* ---- sending ------------------------------------------------------------ */

/* Sends the outbox by member name. A full peer queue is backpressure: we
 * wait up to SEND_WAIT_MS for that peer, then stop waiting for it for the
 * rest of the session (it is down or far behind; the session's timeout
 * decides), so a dead link costs one wait per batch, not one per message. */
static void flush_out(mpc_service *s) {
  for (size_t i = 0; i < s->out.n; i++) {
    const mpc_send *m = &s->out.v[i];
    for (uint32_t to = 0; to < s->cur.n; to++) {
      if (to == s->me || (m->to != MPC_TO_ALL && m->to != to)) continue;
      uint64_t until = (s->stalled >> to & 1) ? 0 : mono(s) + SEND_WAIT_MS;
      for (;;) {
        cx_err e = net_send(s->node->net, s->cur.names[to], NET_MSG_MPC, m->buf, m->len);
        if (e == CX_OK) break;
        if (e != CX_E_QUEUE_FULL || mono(s) >= until ||
            __atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
          LOG_D("mpc", "message to %s dropped: %s", s->cur.names[to], cx_err_name(e));
          if (e == CX_E_QUEUE_FULL) s->stalled |= 1ull << to;
          break;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
      }
    }
  }
  mpc_outbox_clear(&s->out);
}

/* ---- one session -------------------------------------------------------- */

static int sid_is(const mmsg *m, const uint8_t sid[32]) {
  return memcmp(m->data + SID_OFF, sid, 32) == 0;
}

static void feed(mpc_service *s, mmsg *m) {
  mpc_session_recv(s->sess, m->data, m->len, mono(s), &s->out);
  free(m);
  flush_out(s);
}

static int take_stashed(const mmsg *m, void *ctx) {
  mpc_service *s = ctx;
  if (!sid_is(m, s->sid)) return 0;
  mpc_session_recv(s->sess, m->data, m->len, mono(s), &s->out);
  return 1;
}

/* Starts the batch of trigger t (this node is party me). */
static void start_batch(mpc_service *s, const trig *t, uint32_t me, size_t triples,
                        size_t rands) {
  const node_config *c = &s->node->cfg;
  s->cur = *t;
  s->me = me;
  mpc_session_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.n = t->n;
  cfg.t = (t->n - 1) / 3; /* the consortium's threshold (mpc.h) */
  cfg.me = me;
  session_id(s, t->height, cfg.session);
  cfg.pubkeys = s->cur.keys;
  cfg.key = s->node->keys.sign;
  randombytes_buf(cfg.seed, sizeof cfg.seed);
  cfg.round_timeout_ms = c->mpc_round_timeout_ms;
  cx_err e = mpc_session_prep(&cfg, triples, rands, 0, 0, s->pool, &s->sess);
  sodium_memzero(cfg.seed, sizeof cfg.seed);
  s->started_at = mono(s);
  if (!e && (e = mpc_session_start(s->sess, s->started_at, &s->out))) {
    mpc_outbox_clear(&s->out);
    mpc_session_free(s->sess);
  }
  if (e) {
    /* A local refusal (the same at every node: same set, same sizes); the
     * pool is untouched. */
    char msg[200];
    snprintf(msg, sizeof msg, "prep batch at height %llu not started: %s",
             (unsigned long long)t->height, cx_err_name(e));
    s->sess = NULL;
    publish(s, set_error, msg);
    LOG_D("mpc", "%s", msg);
    return;
  }
  memcpy(s->sid, cfg.session, 32);
  ran_add(s, s->sid);
  s->stalled = 0;
  flush_out(s);
  /* what the others sent before we started, in arrival order */
  ml_filter(&s->stash, take_stashed, s);
  flush_out(s);
  pthread_mutex_lock(&s->mu);
  s->pub.last_height = t->height;
  pthread_mutex_unlock(&s->mu);
  publish(s, NULL, NULL);
  LOG_D("mpc", "prep batch at height %llu started (%zu triples, %zu rands, %u parties)",
        (unsigned long long)t->height, triples, rands, (unsigned)t->n);
}

static int before_start(const mmsg *m, void *ctx) {
  return m->at <= *(const uint64_t *)ctx;
}

static void count_ok(node_mpc_stats *p, const void *a) {
  (void)a;
  p->batches_ok++;
}

/* A session that ended: counted; a failed one flushes the pool (rule 1). */
static void end_batch(mpc_service *s) {
  const mpc_status *st = mpc_session_status(s->sess);
  if (st->state == MPC_RUNNING) return;
  int ok = st->state == MPC_DONE;
  char msg[200];
  if (!ok)
    snprintf(msg, sizeof msg, "prep batch at height %llu failed: %s (%.120s)",
             (unsigned long long)s->cur.height, cx_err_name(st->err), st->reason);
  uint64_t ms = mono(s) - s->started_at;
  mpc_session_free(s->sess); /* wipes; before the pool it borrowed */
  s->sess = NULL;
  if (ok) {
    /* Every party was in this batch, so whatever they sent before it
     * began belongs to sessions that are over: not evidence for rule 2. */
    ml_filter(&s->stash, before_start, &s->started_at);
    publish(s, count_ok, NULL);
    mpc_pool_level lv;
    mpc_pool_level_get(s->pool, &lv);
    LOG_D("mpc", "prep batch at height %llu done in %llu ms; pool %zu triples, %zu rands",
          (unsigned long long)s->cur.height, (unsigned long long)ms, lv.triples, lv.rands);
    return;
  }
  pthread_mutex_lock(&s->mu);
  s->pub.batches_failed++;
  pthread_mutex_unlock(&s->mu);
  /* While a validator is down every batch fails: one warning a minute. */
  uint64_t now = mono(s);
  int warn = !s->warned_at || now >= s->warned_at + 60000;
  if (warn) s->warned_at = now;
  log_msg(warn ? LOG_WARN : LOG_DEBUG, "mpc", "%s", msg);
  flush_pool(s, msg, warn);
}

/* ---- idle: what to run next --------------------------------------------- */

static int party_of(const mpc_service *s, const trig *t, uint32_t *me) {
  for (uint32_t i = 0; i < t->n; i++)
    if (strcmp(t->names[i], s->node->cfg.name) == 0 &&
        memcmp(t->keys[i].b, s->node->keys.pub.b, 32) == 0) {
      *me = i;
      return 1;
    }
  return 0;
}

/* A message of session sid that arrived less than 3/4 of a round timeout
 * ago: its sender is likely still waiting for us (its round began just
 * before it sent; an older one may be of a session that has timed out
 * already, and joining it would only put us out of step with the next). */
static int stash_fresh(const mpc_service *s, const uint8_t sid[32]) {
  uint64_t now = mono(s), fresh = (uint64_t)s->node->cfg.mpc_round_timeout_ms * 3 / 4;
  for (const mmsg *m = s->stash.head; m; m = m->next)
    if (m->at + fresh > now && sid_is(m, sid)) return 1;
  return 0;
}

/* The triggers reported since the last look, appended to tv (the oldest
 * are dropped when it is full). */
static void take_triggers(mpc_service *s) {
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->nnew; i++) {
    if (s->tn == TRIG_MAX) {
      memmove(s->tv, s->tv + 1, (TRIG_MAX - 1) * sizeof *s->tv);
      s->tn--;
      if (s->cursor) s->cursor--;
    }
    s->tv[s->tn++] = s->newt[i];
  }
  s->nnew = 0;
  pthread_mutex_unlock(&s->mu);
}

typedef struct {
  mpc_service *s;
  uint8_t (*ids)[32];
  size_t nids;
  uint64_t now, grace;
  int unknown; /* a message past grace that nothing accounts for */
} acct;

static int accounted(const acct *a, const mmsg *m) {
  for (size_t i = 0; i < a->nids; i++)
    if (sid_is(m, a->ids[i])) return 1;
  return ran_has(a->s, m->data + SID_OFF);
}

/* Drops the messages past grace: those nothing accounts for make us flush
 * (rule 2); those of our own past sessions or of triggers we passed are
 * late, and dropped for good after two grace periods. */
static int drop_old(const mmsg *m, void *ctx) {
  acct *a = ctx;
  if (a->now < m->at + a->grace) return 0;
  if (!accounted(a, m)) {
    a->unknown = 1;
    return 1;
  }
  return a->now >= m->at + 2 * a->grace;
}

/* Starts the batch of trigger t if the pool is below low water (or
 * always, when joining a session somebody runs: the same pool decided the
 * same there), sized to fit the pool. */
static void try_batch(mpc_service *s, const trig *t, uint32_t me, int join) {
  const node_config *c = &s->node->cfg;
  mpc_pool_level lv;
  mpc_pool_level_get(s->pool, &lv);
  if (!join && lv.triples >= c->mpc_low_water && lv.rands >= c->mpc_low_water) return;
  size_t room_t = lv.cap_triples - lv.triples, room_r = lv.cap_rands - lv.rands;
  size_t T = c->mpc_batch < room_t ? c->mpc_batch : room_t;
  size_t R = c->mpc_batch < room_r ? c->mpc_batch : room_r;
  if (T || R) start_batch(s, t, me, T, R);
}

static void idle_step(mpc_service *s) {
  const node_config *c = &s->node->cfg;
  take_triggers(s);
  if (!s->pool) return;
  uint8_t(*ids)[32] = malloc((s->tn ? s->tn : 1) * sizeof *ids);
  if (!ids) return;
  uint8_t d[32];
  mpc_pool_digest(s->pool, d);
  for (size_t i = 0; i < s->tn; i++) session_id_of(s, s->tv[i].height, d, ids[i]);

  /* Rule 3: a session of one of our recent triggers that someone started
   * lately (the newest such). */
  for (size_t i = s->tn; i-- > 0;) {
    uint32_t me;
    if (ran_has(s, ids[i]) || !stash_fresh(s, ids[i]) || !party_of(s, &s->tv[i], &me)) continue;
    try_batch(s, &s->tv[i], me, 1);
    if (s->sess) {
      s->cursor = s->tn;
      free(ids);
      return;
    }
  }

  /* Rule 2: somebody runs batches over a pool that is not ours. */
  acct a = {s, ids, s->tn, mono(s), c->mpc_round_timeout_ms, 0};
  ml_filter(&s->stash, drop_old, &a);
  free(ids);
  if (a.unknown) {
    flush_pool(s, "a peer runs prep batches over another pool (pools not aligned)", 1);
    return;
  }

  /* The schedule: the newest trigger not yet looked at. Older ones that
   * queued up while a batch ran are passed over: every node ends a batch
   * at about the same time and so sees the same newest trigger; going
   * through a backlog instead would let queues drift apart for good after
   * a disagreement (rule 3 settles the rare race of a commit between two
   * nodes' ends). */
  if (s->cursor < s->tn) {
    const trig *t = &s->tv[s->tn - 1];
    s->cursor = s->tn;
    uint32_t me;
    if (party_of(s, t, &me)) try_batch(s, t, me, 0);
  }
}

/* ---- the thread --------------------------------------------------------- */

/* Incoming messages: the running session's are fed, the others stashed
 * (bounded: the oldest go first). */
static void route(mpc_service *s, mmsg *m) {
  if (s->sess && sid_is(m, s->sid)) {
    feed(s, m);
    return;
  }
  while (s->stash.n && (s->stash.n >= STASH_MAX || s->stash.bytes + m->len > STASH_BYTES))
    free(ml_pop(&s->stash));
  ml_push(&s->stash, m);
}

static void *svc_main(void *arg) {
  log_thread_name("cx-mpc-prep");
  mpc_service *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    if (!s->stop && !s->inq.n && !s->nnew) {
      /* a running session needs its timers; an idle one looks at the stash now and then */
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += (s->sess ? 20 : 100) * 1000000L;
      ts.tv_sec += ts.tv_nsec / 1000000000L;
      ts.tv_nsec %= 1000000000L;
      pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int stop = s->stop;
    mlist in = s->inq;
    memset(&s->inq, 0, sizeof s->inq);
    pthread_mutex_unlock(&s->mu);
    if (stop) {
      ml_free(&in);
      break;
    }
    mmsg *m;
    while ((m = ml_pop(&in))) route(s, m);
    if (s->sess) {
      mpc_session_tick(s->sess, mono(s), &s->out);
      flush_out(s);
      end_batch(s);
    }
    if (!s->sess) idle_step(s);
  }
  return NULL;
}

/* ---- lifetime ----------------------------------------------------------- */

cx_err mpc_service_start(node *n, char *err, size_t errlen) {
  const node_config *c = &n->cfg;
  if (!c->mpc_enabled || !n->net) return CX_OK;
  mpc_service *s = calloc(1, sizeof *s);
  if (!s) return CX_E_NOMEM;
  s->node = n;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->newt = calloc(NEWTRIG_MAX, sizeof *s->newt);
  s->tv = calloc(TRIG_MAX, sizeof *s->tv);
  cx_err e = CX_E_NOMEM;
  if (s->newt && s->tv) e = mpc_pool_new(c->mpc_pool_triples, c->mpc_pool_rands, 0, 0, &s->pool);
  if (e) {
    snprintf(err, errlen, "mpc: cannot allocate the pool (%zu triples, %zu rands): %s",
             c->mpc_pool_triples, c->mpc_pool_rands, cx_err_str(e));
    n->mpc = s;
    mpc_service_free(n);
    return e;
  }
  n->mpc = s;
  publish(s, NULL, NULL);
  net_on(n->net, NET_MSG_MPC, on_mpc, s);
  if (pthread_create(&s->th, NULL, svc_main, s) != 0) {
    snprintf(err, errlen, "mpc: cannot start the service thread");
    return CX_E_INTERNAL; /* node_close frees it */
  }
  s->running = 1;
  LOG_I("mpc",
        "preprocessing: a batch of %zu at heights that are multiples of %u, below %zu "
        "triples (pool of %zu triples, %zu rands)",
        c->mpc_batch, c->mpc_every_blocks, c->mpc_low_water, c->mpc_pool_triples,
        c->mpc_pool_rands);
  return CX_OK;
}

void mpc_service_stop(node *n) {
  mpc_service *s = n->mpc;
  if (!s || !s->running) return;
  pthread_mutex_lock(&s->mu);
  __atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED); /* flush_out reads it without mu */
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->th, NULL);
  s->running = 0;
}

void mpc_service_free(node *n) {
  mpc_service *s = n->mpc;
  if (!s) return;
  mpc_service_stop(n);
  mpc_session_free(s->sess); /* wipes shares, before the pool it borrows */
  mpc_pool_free(s->pool);    /* wipes */
  mpc_outbox_free(&s->out);
  ml_free(&s->inq);
  ml_free(&s->stash);
  free(s->newt);
  free(s->tv);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
  n->mpc = NULL;
}
