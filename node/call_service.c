/* call_service.c: custosd runs every committed contract call as MPC among
 * the call's parties and puts its result on chain (docs/calls.md; issue 7).
 *
 * One thread per node. The consensus thread reports the calls of each
 * committed block (call_service_on_commit); this thread runs them in
 * commit order, as batches (below), each batch through the engine
 * sessions of docs/calls.md §2 (prep, and bits with dealers; online) over
 * NET_MSG_CALL; then each call's party signs its result statement (§3)
 * and collects the others' signatures; with 2t+1 over one statement it
 * submits the call_result transaction (§4), or, if a party ahead of it in
 * party order has the quorum too, waits its turn and submits only if no
 * result is committed by then (§5).
 *
 * Batches (docs/calls.md §2 "Batches"). The calls of one block that follow
 * each other with the same contract, parties and insurer, up to BATCH_MAX
 * (batch_cap), run as ONE set of sessions whose program is the batch's
 * circuit (lang_batch: a copy per call, packed into the rounds of one
 * call), under the first call's session ids. Every party forms the same
 * batches from chain data. The fixed work of a session (keys, verdicts,
 * echoes, a signature on every engine message, round trips) is paid once
 * per batch; a call's own work is its copy's material, its signatures and
 * its result transaction. A job is one call: it stays in its batch while
 * the sessions run, then closes on its own (collecting signatures, waiting
 * for the result's commit) while the next batch runs.
 *
 * Concurrency. Up to RUN_MAX batches run their sessions at once, started
 * in commit order at every party; each has its own session ids and its
 * own pool, so they never share material and one batch's failure leaves
 * the others alone. While one waits for a round's messages another
 * computes.
 *
 * Dealing. A bureau that owns an input domain of the contract reads the
 * subject's record from its vault, checks each value against the
 * contract's declared range, appends an access-log entry, and broadcasts
 * the commitment of the record (COMMIT: the domain's root and the record's
 * hiding leaf). Values are held in sodium_malloc'd memory until the online
 * session takes them, then wiped. Nothing secret is ever logged. A call of
 * the batch it cannot deal for is aborted alone (batch_deal).
 *
 * Wire (NET_MSG_CALL): u8 version (1) | u8 kind | call[32] | body
 *   MPC    (1): an engine message (mpc/wire.h)
 *   COMMIT (2): str domain | root[32] | u64be count | leaf[32]
 *   SIG    (3): u8 status | statement[32] | bytes blob | sig[64] | str reason
 *   FPROP  (4): u8 k | k x (call[32] | u64be mask): a coordinator's FROST
 *               proposal, the calls one signature covers (its batch's results
 *               at their turn) and for each the parties whose blobs its result
 *               will carry (docs/keys.md §8); sent under the first call's id
 *   TSIGN  (5): a threshold-signing message (mpc/threshold/tsign.h)
 * A message of a call this node has not started is kept (bounded, oldest
 * dropped first) until it does.
 *
 * Threads: the net thread only queues payloads; the consensus thread only
 * appends call ids; everything else runs on this thread. mu guards the
 * queues and the published counters. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "field.h"
#include "hash.h"
#include "lang.h"
#include "lang_call.h"
#include "log.h"
#include "merkle.h"
#include "mpc.h"
#include "net.h"
#include "node_internal.h"
#include "store.h"
#include "tsign.h"
#include "vault.h"
#include "vm.h"
#if CUSTOS_TESTING
#include "wire.h" /* mpc's message layout: the test-only cheat below re-signs an engine message */
#endif

#define CW_VERSION CALL_WIRE_VERSION
#define CW_MPC CALL_MPC
#define CW_COMMIT CALL_COMMIT
#define CW_SIG CALL_SIG
#define CW_FPROP CALL_FPROP
#define CW_TSIGN CALL_TSIGN
#define CW_MULTI CALL_MULTI
#define CW_HDR CALL_WIRE_HDR      /* version | kind | call[32] */
#define ENGINE_HDR 34             /* mpc/wire.h: version u8 | kind u8 | session[32] */

#define INQ_MAX 16384             /* a burst of results: ~10 messages a call (SIG, FROST) */
#define INQ_BYTES (64u << 20)
#define STASH_MAX 512
#define STASH_BYTES (64u << 20)
#define NEWCALL_MAX 1024          /* committed calls not yet taken by the thread */
#define CLOSING_MAX 2048          /* jobs collecting signatures */
#define RUN_MAX 4                 /* batches whose sessions run at once (see "Concurrency") */
/* Calls in one batch (see "Batches"). Each is one client slot of the
 * batch's program, so raising it means raising, together, CALL_FPROP_MAX
 * and CX_RESULT_BATCH_MAX/DEPTH (asserted), lang's LANG_PARAM_SLOTS_MAX and
 * the engine's MPC_CLIENT_MAX_SLOTS (whose client-check reveal must still
 * fit one engine message). 128 was tried (session 27): no faster. */
#define BATCH_MAX 64
#define JIDX_CAP 4096             /* the jobs' index: a power of 2 above every job alive */
_Static_assert(JIDX_CAP > RUN_MAX * BATCH_MAX + CLOSING_MAX && (JIDX_CAP & (JIDX_CAP - 1)) == 0, "job index");
#define RECENT_MS 15000           /* a call committed longer ago than this is not run (sync) */
#define SEND_WAIT_MS 500
#define CLOSE_MAX_MS 60000        /* a closing job is dropped after this */
#define SUBMIT_STAGGER_MS 1500    /* docs/calls.md §5: submitters after the first wait their turn */
#define WATCH_MAX 1024            /* committed calls watched for expiry */
#define WATCH_EVERY_MS 1000
#define EXPIRY_STAGGER_MS 2000    /* party i submits an expiry i x this after it is due */
#define FROST_MAX_MS 4000         /* a coordinator's FROST signing not done by then: quorum mode */
#define TSPEND_MAX 32             /* tsign messages kept per call until their session exists */
_Static_assert(CALL_TSIGN_MIN == TSIGN_HEAD_LEN && CALL_TSIGN_MAX == TSIGN_MSG_MAX_LEN, "node_internal.h copies tsign.h");

typedef struct cmsg {
  struct cmsg *next;
  uint64_t at;
  char from[CX_NAME_MAX + 1];
  size_t len;
  uint8_t data[];
} cmsg;

typedef struct {
  cmsg *head, *tail;
  size_t n, bytes;
} clist;

typedef struct {
  cx_hash id;
  uint64_t block_time; /* ms, the block that recorded it */
  uint64_t seq;        /* the commit that reported it: calls of one block share it */
} newcall;

/* A FROST proposal (docs/keys.md §8): the calls one signature covers, each
 * with the parties whose blobs its result carries. One call: the signature
 * is over its tx_result_frost_msg (proof FROST); more, the closing calls of
 * one batch: over H_RESULT_BATCH of the root of their leaves (FROST_BATCH).
 * The first call is the anchor: the proposal and the session's messages
 * travel under its id and its job holds the session. */
typedef struct {
  size_t k;
  cx_hash ids[CALL_FPROP_MAX];
  uint64_t masks[CALL_FPROP_MAX];
  cx_hash leaves[CALL_FPROP_MAX]; /* k > 1, once followed */
} fgroup;
_Static_assert(CALL_FPROP_MAX == CX_RESULT_BATCH_MAX && BATCH_MAX <= CALL_FPROP_MAX, "a batch under one signature");

/* One party's signature as received. Its sender is known from the member
 * link (an authenticated Noise channel, docs/net.md), so the BIP340
 * signature is only checked when it is to go on chain, in a QUORUM-mode
 * result (quorum_sigs_ok): in FROST mode, the common case, it never does. */
typedef struct {
  int have;
  int checked;  /* its signature verified (mine: made here) */
  int bad;      /* its signature failed: it counts for nothing */
  uint8_t status;
  cx_hash statement;
  uint8_t *blob;
  size_t blob_len;
  cx_sig sig;
  char reason[CX_RESULT_REASON_MAX + 1];
} psig;

/* A closing job's proof (docs/keys.md §8): not tried yet; coordinating its
 * group's FROST session (the anchor); signed (the proof is in the job);
 * QUORUM mode; a member of a group another job of mine coordinates. */
enum { FR_NONE, FR_COORD, FR_SIGNED, FR_QUORUM, FR_MEMBER };

/* a batch's stages */
enum { ST_PREP = 1, ST_BITS, ST_ONLINE };
/* a job's */
enum { ST_RUN = 1, ST_CLOSING };

struct batch;

typedef struct job {
  cx_hash id;
  vm_call rec;
  uint32_t n, t, me;
  char names[CX_MAX_VALIDATORS][CX_NAME_MAX + 1];
  struct batch *b;       /* running in it (its copy `copy`); NULL once closing on its own */
  uint32_t copy;
  cx_tx tx;              /* the call transaction */
  cx_hash contract_chk;
  uint8_t enc_insurer[32];
  size_t ndom;
  cx_domain_set doms;
  uint32_t dealer[CX_DOMAINS_MAX];
  int have_in[CX_DOMAINS_MAX];
  cx_result_input in[CX_DOMAINS_MAX];
  int stage;             /* ST_RUN, ST_CLOSING */
  uint64_t ended_at, checked_at;
  /* my result */
  int have_mine;
  cx_tx_call_result res; /* outputs, inputs, transcript or code; sigs unused */
  cx_hash statement;
  uint8_t *blob;
  size_t blob_len;
  char reason[CX_RESULT_REASON_MAX + 1];
  psig sigs[CX_MAX_VALIDATORS];
  int submitted;
  uint64_t submit_at; /* 0: no quorum yet */
  cx_hash lead;       /* the lead call of the batch it ran in (its own id alone) */
  /* One FROST signature for the results of a group of calls (docs/keys.md
   * §8): as the group's anchor (its first call), a signing session per
   * coordinator whose proposal this party could follow. */
  struct {
    tsign *ts;        /* NULL: none */
    uint8_t sid[32];
    fgroup *g;        /* owned: the proposal it signs */
  } fs[CX_MAX_VALIDATORS]; /* by proposer */
  fgroup *fprop[CX_MAX_VALIDATORS]; /* owned: proposals received as anchor, not followed yet */
  cmsg *tspend[TSPEND_MAX];          /* tsign messages for sessions not open yet */
  size_t ntspend;
  int frost;          /* FR_*: how its result gets its proof */
  cx_hash anchor;     /* frost 4 */
  uint64_t frost_until;
  uint32_t frost_epoch; /* the results key's, of my coordinated session */
#if CUSTOS_TESTING
  int stalled; /* CHEAT_FROST_STALL said so in the log */
#endif
  /* frost 2: the proof (the group's signature, this call's blobs and path) */
  uint8_t frost_sig[64];
  uint64_t fmask;
  uint8_t bn, bidx, bnpath; /* bn 0: FROST, one call; else FROST_BATCH */
  cx_hash bpath[CX_RESULT_BATCH_DEPTH];
} job;

/* The calls of one block that share contract, parties and insurer, run as
 * one set of sessions (see "Batches"). jobs[0] is the lead: the sessions
 * are its (ids, wire header), its n, me and names are every job's. */
typedef struct batch {
  job *jobs[BATCH_MAX];
  size_t njobs;
  lang_contract *unit;   /* the contract */
  lang_contract *c;      /* the batch's circuit (lang_batch), or unit for one call */
  struct circ *cc;       /* the cache entry c is borrowed from (refs), or NULL: c is the batch's */
  int circ_hit;          /* c came from the cache (logged with the batch's start) */
  lang_call_plan *plan;
  fe *vals;              /* my dealing, copy by copy (sodium_malloc), NULL if none */
  size_t nvals;
  int stage;             /* ST_PREP, ST_BITS, ST_ONLINE */
  mpc_pool *pool;
  mpc_session *sess;
  uint8_t sid[32];
  uint64_t started_at, checked_at;
} batch;

/* One party's messages of this step of the loop, sent as one MULTI at
 * out_flush: its link name and index among the job's parties. */
typedef struct {
  char name[CX_NAME_MAX + 1];
  uint32_t to;
  uint8_t *buf; /* OUT_RESERVE bytes for the header | k x (u32be len | message) */
  size_t len, cap;
  unsigned k;
  size_t first; /* the first message's length */
} outq;

/* A batch circuit, kept for the next batch of the same contract and size
 * (lang_batch depends on nothing else: the args go into the plan). Its
 * construction was ~6% of the call thread in bench_calls (session 24). */
#define CIRC_MAX 8
typedef struct circ {
  cx_hash contract;
  uint32_t copies;
  lang_contract *c; /* owned; NULL: a free entry */
  uint32_t refs;    /* batches using it: not evicted while > 0 */
  uint64_t used;    /* the entry's last use, in batches started (LRU) */
} circ;

struct call_service {
  node *node;
  pthread_t th;
  int running;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
  clist inq;
  newcall *newc;
  size_t nnew;
  uint64_t seq;      /* commits reported (newcall.seq) */
  node_call_stats pub;
  uint64_t refused; /* atomic (node_refuse) */
  /* thread only */
  newcall *queue; /* FIFO of calls to run (NEWCALL_MAX) */
  size_t qh, qn;
  batch *run[RUN_MAX]; /* sessions running */
  size_t nrun;
  job **jidx;        /* every job by call id (open addressing, JIDX_CAP) */
  job *closing[CLOSING_MAX];
  size_t nclosing;
  clist stash;
  mpc_outbox out;
  uint64_t stalled;
  outq outq[CX_MAX_VALIDATORS]; /* what this step of the loop sends each party (out_flush) */
  size_t noutq;
  uint64_t closing_at; /* mono ms of the last closing_tick */
  /* Calls watched for expiry (docs/calls.md §5): every committed call
   * until it closes; a ring, the oldest dropped when full. */
  struct {
    cx_hash id;
    uint64_t due_at;   /* mono ms when this party may submit the expiry; 0 not yet due */
    uint64_t sent_at;  /* mono ms of our last expiry submission, 0 none */
  } *watch;
  size_t nwatch;
  uint64_t watch_at;
  circ circs[CIRC_MAX];
  uint64_t circ_tick;
};

static uint64_t mono(const call_service *s) { return s->node->clock->mono_ms(s->node->clock); }

/* ---- message lists ------------------------------------------------------ */

static void cl_push(clist *l, cmsg *m) {
  m->next = NULL;
  if (l->tail) l->tail->next = m;
  else l->head = m;
  l->tail = m;
  l->n++;
  l->bytes += m->len;
}

static cmsg *cl_pop(clist *l) {
  cmsg *m = l->head;
  if (!m) return NULL;
  l->head = m->next;
  if (!l->head) l->tail = NULL;
  l->n--;
  l->bytes -= m->len;
  return m;
}

static void cl_free(clist *l) {
  cmsg *m;
  while ((m = cl_pop(l))) free(m);
}

static const uint8_t *msg_call(const cmsg *m) { return m->data + 2; }

/* ---- the wire ------------------------------------------------------------ */

static cx_err refuse(node_refusal *r, cx_err e, const char *why) {
  if (r) {
    r->what = "call message";
    r->why = why;
  }
  return e;
}

cx_err call_wire_decode(const uint8_t *p, size_t len, call_wire *out, node_refusal *r) {
  memset(out, 0, sizeof *out);
  if (len < CW_HDR) return refuse(r, CX_E_TRUNCATED, "shorter than a message header");
  if (p[0] != CW_VERSION) return refuse(r, CX_E_BAD_VERSION, "unknown version");
  if (p[1] < CW_MPC || p[1] > CW_MULTI) return refuse(r, CX_E_BAD_ENUM, "unknown kind");
  out->kind = p[1];
  memcpy(out->call.b, p + 2, 32);
  if (out->kind == CW_MULTI) {
    if (len < CW_HDR + 1) return refuse(r, CX_E_TRUNCATED, "multiple message without its count");
    size_t k = p[CW_HDR], off = CW_HDR + 1;
    if (k < 2) return refuse(r, CX_E_INVALID_ARG, "multiple message of fewer than two");
    for (size_t i = 0; i < k; i++) {
      if (len - off < 4) return refuse(r, CX_E_TRUNCATED, "multiple message cut short");
      uint32_t ml = get_be32(p + off);
      off += 4;
      if (ml > len - off) return refuse(r, CX_E_TRUNCATED, "multiple message cut short");
      call_wire in;
      if (ml >= 2 && p[off + 1] == CW_MULTI) return refuse(r, CX_E_INVALID_ARG, "multiple message inside another");
      cx_err e = call_wire_decode(p + off, ml, &in, r);
      if (e) return e; /* its own reason: the lot is refused */
      if (i == 0 && memcmp(p + off + 2, out->call.b, 32) != 0)
        return refuse(r, CX_E_INVALID_ARG, "multiple message whose call is not its first one's");
      off += ml;
    }
    if (off != len) return refuse(r, CX_E_TRAILING, "trailing bytes after a multiple message");
    out->mk = k;
    out->ments = p + CW_HDR + 1;
    out->ments_len = len - CW_HDR - 1;
    return CX_OK;
  }
  if (out->kind == CW_MPC) {
    if (len < CW_HDR + ENGINE_HDR) return refuse(r, CX_E_TRUNCATED, "engine message shorter than its header");
    out->mpc = p + CW_HDR;
    out->mpc_len = len - CW_HDR;
    return CX_OK;
  }
  if (out->kind == CW_FPROP) {
    if (len < CW_HDR + 1 + CALL_FPROP_ENT) return refuse(r, CX_E_TRUNCATED, "proposal shorter than one call");
    size_t k = p[CW_HDR];
    if (k == 0 || k > CALL_FPROP_MAX) return refuse(r, CX_E_TOO_LONG, "proposal of no call or of more than a batch");
    if (len != CW_HDR + 1 + k * CALL_FPROP_ENT)
      return refuse(r, len < CW_HDR + 1 + k * CALL_FPROP_ENT ? CX_E_TRUNCATED : CX_E_TRAILING, "malformed proposal");
    const uint8_t *e = p + CW_HDR + 1;
    if (memcmp(e, p + 2, 32) != 0) return refuse(r, CX_E_INVALID_ARG, "proposal whose first call is not its header's");
    for (size_t i = 0; i < k; i++) {
      if (!get_be64(e + i * CALL_FPROP_ENT + 32)) return refuse(r, CX_E_INVALID_ARG, "proposal naming no party");
      for (size_t q = 0; q < i; q++)
        if (memcmp(e + i * CALL_FPROP_ENT, e + q * CALL_FPROP_ENT, 32) == 0)
          return refuse(r, CX_E_DUPLICATE, "proposal naming a call twice");
    }
    out->fk = k;
    out->fents = e;
    return CX_OK;
  }
  if (out->kind == CW_TSIGN) {
    if (len < CW_HDR + CALL_TSIGN_MIN) return refuse(r, CX_E_TRUNCATED, "signing message shorter than its header");
    if (len > CW_HDR + CALL_TSIGN_MAX) return refuse(r, CX_E_TOO_LONG, "signing message too long");
    out->ts = p + CW_HDR;
    out->ts_len = len - CW_HDR;
    return CX_OK;
  }
  cx_dec d;
  uint8_t cnt[8];
  dec_init(&d, p + CW_HDR, len - CW_HDR);
  if (out->kind == CW_COMMIT) {
    (void)(dec_str(&d, out->domain, CX_DOMAIN_MAX, STR_IDENT) || dec_fixed(&d, out->root.b, 32) ||
           dec_fixed(&d, cnt, 8) || dec_fixed(&d, out->leaf.b, 32));
    out->count = get_be64(cnt);
  } else {
    (void)(dec_enum(&d, &out->status, CX_CALL_DONE, CX_CALL_ABORTED) || dec_fixed(&d, out->statement.b, 32) ||
           dec_bytes(&d, &out->blob, &out->blob_len, CX_RESULT_BLOB_MAX) || dec_fixed(&d, out->sig.b, 64) ||
           dec_str(&d, out->reason, CX_RESULT_REASON_MAX, STR_UTF8));
  }
  cx_err e = dec_finish(&d);
  if (e) {
    call_wire z = {.kind = out->kind, .call = out->call};
    *out = z;
    return refuse(r, e, out->kind == CW_COMMIT ? "malformed commitment" : "malformed signature");
  }
  return CX_OK;
}

int call_wire_next(const call_wire *w, size_t *off, const uint8_t **msg, size_t *len) {
  if (w->kind != CW_MULTI || *off + 4 > w->ments_len) return 0;
  *len = get_be32(w->ments + *off);
  *msg = w->ments + *off + 4;
  *off += 4 + *len;
  return 1;
}

/* ---- the net thread ----------------------------------------------------- */

/* A MULTI message is queued as the messages it carries, as if each had
 * come alone: the service thread sees no difference. */
static void on_call(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len) {
  call_service *s = ctx;
  (void)type;
  call_wire w;
  node_refusal r;
  if (call_wire_decode(p, len, &w, &r) != CX_OK) {
    node_refuse(s->node, &s->refused, r.what, from, r.why);
    return;
  }
  clist got = {0};
  const uint8_t *one = p;
  size_t one_len = len, off = 0;
  uint64_t at = mono(s);
  for (int i = 0; w.kind == CW_MULTI ? call_wire_next(&w, &off, &one, &one_len) : i == 0; i++) {
    cmsg *m = malloc(sizeof *m + one_len);
    if (!m) {
      cl_free(&got);
      node_refuse(s->node, &s->refused, "call message", from, "out of memory");
      return;
    }
    m->at = at;
    snprintf(m->from, sizeof m->from, "%s", from);
    m->len = one_len;
    memcpy(m->data, one, one_len);
    cl_push(&got, m);
  }
  pthread_mutex_lock(&s->mu);
  int full = s->inq.n + got.n > INQ_MAX || s->inq.bytes + got.bytes > INQ_BYTES;
  if (!full) {
    cmsg *m;
    while ((m = cl_pop(&got))) cl_push(&s->inq, m);
    pthread_cond_signal(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  if (full) {
    cl_free(&got);
    node_refuse(s->node, &s->refused, "call message", from, "call queue full");
  }
}

/* ---- the consensus thread ----------------------------------------------- */

void call_service_on_commit(node *n, const cx_hash *calls, size_t ncalls, uint64_t block_time_ms) {
  call_service *s = n->calls;
  if (!s || !ncalls) return;
  uint64_t now = n->clock->now_ms(n->clock);
  uint64_t age = now > block_time_ms ? now - block_time_ms : 0;
  pthread_mutex_lock(&s->mu);
  if (age > RECENT_MS) { /* replaying history: the others ran these long ago */
    s->pub.skipped_stale += ncalls;
  } else {
    for (size_t i = 0; i < ncalls; i++) {
      if (s->nnew == NEWCALL_MAX) {
        s->pub.dropped++;
        continue;
      }
      s->newc[s->nnew++] = (newcall){.id = calls[i], .block_time = block_time_ms, .seq = s->seq};
    }
    s->seq++;
    pthread_cond_signal(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
}

void node_call_status(node *n, node_call_stats *out) {
  memset(out, 0, sizeof *out);
  call_service *s = n->calls;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  *out = s->pub;
  pthread_mutex_unlock(&s->mu);
}

static void pub_error(call_service *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pub_error(call_service *s, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&s->mu);
  snprintf(s->pub.last_error, sizeof s->pub.last_error, "%s", msg);
  pthread_mutex_unlock(&s->mu);
  LOG_W("call", "%s", msg);
}

/* ---- sending ------------------------------------------------------------ */

static void send_now(call_service *s, const char *name, uint32_t to, const uint8_t *p, size_t len) {
  uint64_t until = (s->stalled >> to & 1) ? 0 : mono(s) + SEND_WAIT_MS;
  for (;;) {
    cx_err e = net_send(s->node->net, name, NET_MSG_CALL, p, len);
    if (e == CX_OK) return;
    if (e != CX_E_QUEUE_FULL || mono(s) >= until || __atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
      LOG_D("call", "message to %s dropped: %s", name, cx_err_name(e));
      if (e == CX_E_QUEUE_FULL) s->stalled |= 1ull << to;
      return;
    }
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
}

/* ---- coalescing ----------------------------------------------------------
 * What one step of the service loop sends a party leaves as one MULTI
 * message (docs/calls.md §2 "Messages"), in the order it was made: a batch
 * of 64 calls sent each call's SIG and each dealt domain's COMMIT on its
 * own, ~18 messages a call at 4 parties, and each message is a seal, a
 * send and a wake-up of two threads at each end. A message of
 * OUT_ALONE bytes or more goes alone, after what was queued before it. */
#define OUT_FLUSH_BYTES ((size_t)1 << 20)
#define OUT_ALONE ((size_t)256 << 10)
#define OUT_RESERVE (CW_HDR + 1)

static void outq_flush_one(call_service *s, size_t i) {
  outq *q = &s->outq[i];
  if (q->k == 1) {
    send_now(s, q->name, q->to, q->buf + OUT_RESERVE + 4, q->first);
  } else if (q->k > 1) {
    uint8_t *h = q->buf;
    h[0] = CW_VERSION;
    h[1] = CW_MULTI;
    memcpy(h + 2, q->buf + OUT_RESERVE + 4 + 2, 32); /* the first message's call */
    h[CW_HDR] = (uint8_t)q->k;
    send_now(s, q->name, q->to, q->buf, q->len);
  }
  q->k = 0;
  q->len = OUT_RESERVE;
}

/* End of a step: every party's queue leaves. */
static void out_flush(call_service *s) {
  for (size_t i = 0; i < s->noutq; i++) outq_flush_one(s, i);
}

static void send_to(call_service *s, const job *j, uint32_t to, const uint8_t *p, size_t len) {
  size_t i = 0;
  while (i < s->noutq && strcmp(s->outq[i].name, j->names[to]) != 0) i++;
  if (i == s->noutq && s->noutq == CX_MAX_VALIDATORS) { /* not expected: as many links as validators */
    send_now(s, j->names[to], to, p, len);
    return;
  }
  if (i == s->noutq) {
    memset(&s->outq[i], 0, sizeof s->outq[i]);
    snprintf(s->outq[i].name, sizeof s->outq[i].name, "%s", j->names[to]);
    s->outq[i].len = OUT_RESERVE;
    s->noutq++;
  }
  outq *q = &s->outq[i];
  q->to = to;
  if (len >= OUT_ALONE) {
    outq_flush_one(s, i);
    send_now(s, q->name, to, p, len);
    return;
  }
  if (q->k == CALL_MULTI_MAX || q->len + 4 + len > OUT_FLUSH_BYTES) outq_flush_one(s, i);
  if (q->len + 4 + len > q->cap) {
    size_t cap = q->cap ? q->cap : 4096;
    while (cap < q->len + 4 + len) cap *= 2;
    uint8_t *nb = realloc(q->buf, cap);
    if (!nb) { /* send it alone, after the queue */
      outq_flush_one(s, i);
      send_now(s, q->name, to, p, len);
      return;
    }
    q->buf = nb;
    q->cap = cap;
  }
  put_be32(q->buf + q->len, (uint32_t)len);
  memcpy(q->buf + q->len + 4, p, len);
  q->len += 4 + len;
  if (q->k++ == 0) q->first = len;
}

/* Sends version | kind | call | body to party `to`, or to every other party
 * (to = MPC_TO_ALL). */
static void send_kind(call_service *s, const job *j, uint32_t to, uint8_t kind, const uint8_t *body,
                      size_t blen) {
  uint8_t *p = malloc(CW_HDR + blen);
  if (!p) return;
  p[0] = CW_VERSION;
  p[1] = kind;
  memcpy(p + 2, j->id.b, 32);
  if (blen) memcpy(p + CW_HDR, body, blen);
  for (uint32_t i = 0; i < j->n; i++)
    if (i != j->me && (to == MPC_TO_ALL || to == i)) send_to(s, j, i, p, CW_HDR + blen);
  free(p);
}

#if CUSTOS_TESTING
/* Test builds only: CUSTOS_TEST_MPC_CHEAT=malformed makes this node a
 * cheating party in the online session of every call it takes part in
 * (tests/integration/test_call_cheat.sh). Each TO_ALL message it sends
 * there goes out with its tag element replaced by a non-canonical
 * field element and signed again with its member key: a signed payload
 * that breaks the layout rule every online message obeys, so it is
 * transferable MPC_EV_MALFORMED evidence (mpc.h). Every recipient judges
 * the first such message before it decodes anything (a round-0 or round-2
 * pool guard, a delta, an echo: mpc/online.c), so every honest party
 * aborts naming this node and reports it (docs/calls.md §5). Only TO_ALL
 * messages: a malformed share sent to one party is an erasure there,
 * corrected, not an abort.
 * CUSTOS_TEST_MPC_CHEAT=badsig: the MPC is honest, but the BIP340
 * signature in every SIG this node sends is spoilt (its copy is good), so
 * a QUORUM-mode result that carried it would be refused on chain
 * (tests/integration/test_call_badsig.sh: quorum_sigs_ok).
 * CUSTOS_TEST_MPC_CHEAT=frost-stall: where this node is the call's party 0
 * (the first FROST coordinator), it sends its FPROP and then goes silent
 * as a coordinator: its own signing session sends nothing and it never
 * submits, as if it had crashed there; the next party coordinates after
 * SUBMIT_STAGGER_MS (tests/integration/test_call_frost_stall.sh). */
enum { CHEAT_NONE, CHEAT_MALFORMED, CHEAT_BADSIG, CHEAT_FROST_STALL };
static int cheat_mode(void) {
  static int mode = -1;
  if (mode < 0) {
    const char *v = getenv("CUSTOS_TEST_MPC_CHEAT");
    mode = !v                                 ? CHEAT_NONE
           : strcmp(v, "malformed") == 0      ? CHEAT_MALFORMED
           : strcmp(v, "badsig") == 0         ? CHEAT_BADSIG
           : strcmp(v, "frost-stall") == 0    ? CHEAT_FROST_STALL
                                              : CHEAT_NONE;
    if (v && !mode)
      LOG_W("call", "CUSTOS_TEST_MPC_CHEAT=%s: unknown kind (malformed, badsig, frost-stall): not cheating", v);
  }
  return mode;
}

/* A cheating copy of engine message buf (malloc'd, *olen), or NULL to
 * send buf as it is. */
static uint8_t *cheat_msg(const call_service *s, const batch *b, uint32_t to, const uint8_t *buf, size_t len,
                          size_t *olen) {
  if (cheat_mode() != CHEAT_MALFORMED || b->stage != ST_ONLINE || to != MPC_TO_ALL) return NULL;
  mpc_msg m;
  if (mpc_msg_decode(buf, len, &m) != CX_OK || m.kind != MPC_KIND_ONLINE || m.len < FE_BYTES) return NULL;
  uint8_t *pl = malloc(m.len), *out = NULL;
  if (!pl) return NULL;
  memcpy(pl, m.payload, m.len);
  memset(pl, 0xff, FE_BYTES); /* 2^128 - 1: not below the modulus */
  if (mpc_msg_encode(s->node->keys.sign, m.kind, m.session, m.round, m.from, m.to, pl, m.len, &out, olen) !=
      CX_OK)
    out = NULL;
  sodium_memzero(pl, m.len); /* it carries this party's shares */
  free(pl);
  if (out) {
    char hex[65];
    LOG_W("call", "call %.16s: TEST CHEAT: online round %u message sent malformed", hash_hex(&b->jobs[0]->id, hex),
          (unsigned)m.round);
  }
  return out;
}
#endif

/* Sends the engine's queued messages of batch b's session: under the
 * lead's call id. */
static void flush_out(call_service *s, const batch *b) {
  const job *j = b->jobs[0];
  for (size_t i = 0; i < s->out.n; i++) {
    const mpc_send *o = &s->out.v[i];
#if CUSTOS_TESTING
    size_t cl = 0;
    uint8_t *c = cheat_msg(s, b, o->to, o->buf, o->len, &cl);
    if (c) {
      send_kind(s, j, o->to, CW_MPC, c, cl);
      free(c);
      continue;
    }
#endif
    send_kind(s, j, o->to, CW_MPC, o->buf, o->len);
  }
  mpc_outbox_clear(&s->out);
}

/* ---- the jobs' index: a call's id to its job, running or closing ---------- */

static size_t jidx_slot(const uint8_t *id) {
  uint64_t h;
  memcpy(&h, id, 8); /* a txid: uniform */
  return (size_t)h & (JIDX_CAP - 1);
}

static void jidx_put(call_service *s, job *j) {
  size_t i = jidx_slot(j->id.b);
  while (s->jidx[i]) i = (i + 1) & (JIDX_CAP - 1);
  s->jidx[i] = j;
}

static void jidx_del(call_service *s, const job *j) {
  size_t i = jidx_slot(j->id.b);
  while (s->jidx[i] && s->jidx[i] != j) i = (i + 1) & (JIDX_CAP - 1);
  if (!s->jidx[i]) return;
  s->jidx[i] = NULL;
  /* the run after the hole goes in again, so that no probe stops early */
  for (i = (i + 1) & (JIDX_CAP - 1); s->jidx[i]; i = (i + 1) & (JIDX_CAP - 1)) {
    job *x = s->jidx[i];
    s->jidx[i] = NULL;
    jidx_put(s, x);
  }
}

/* ---- jobs and batches ------------------------------------------------------ */

static void job_free(call_service *s, job *j) {
  if (!j) return;
  jidx_del(s, j);
  tx_clear(&j->tx);
  free(j->res.out);
  free(j->blob);
  for (uint32_t i = 0; i < CX_MAX_VALIDATORS; i++) {
    free(j->sigs[i].blob);
    tsign_free(j->fs[i].ts); /* wipes the share and nonces */
    free(j->fs[i].g);
    free(j->fprop[i]);
  }
  for (size_t i = 0; i < j->ntspend; i++) free(j->tspend[i]);
  free(j);
}

/* Frees the batch's sessions and secrets (wiped), not its jobs. */
static void batch_end(batch *b) {
  mpc_session_free(b->sess); /* wipes; before the pool it borrows */
  b->sess = NULL;
  mpc_pool_free(b->pool);
  b->pool = NULL;
  if (b->vals) sodium_free(b->vals);
  b->vals = NULL;
}

static void batch_free(batch *b) {
  if (!b) return;
  batch_end(b);
  lang_call_plan_free(b->plan);
  if (b->cc)
    b->cc->refs--;
  else if (b->c != b->unit)
    lang_free(b->c);
  lang_free(b->unit);
  free(b);
}

/* kind: CX_MPC_SESSION_PREP, _BITS or _ONLINE. The session id is the
 * one the mpc_evidence rule checks evidence against (tx_call_session_id,
 * docs/calls.md §2): a batch's are its lead call's. */
static void config(const call_service *s, const batch *b, uint8_t kind, mpc_session_config *cfg) {
  const job *j = b->jobs[0];
  memset(cfg, 0, sizeof *cfg);
  cfg->n = j->n;
  cfg->t = j->t;
  cfg->me = j->me;
  tx_call_session_id(&s->node->chain_id, &j->id, kind, cfg->session);
  cfg->pubkeys = j->rec.parties;
  cfg->key = s->node->keys.sign;
  randombytes_buf(cfg->seed, sizeof cfg->seed);
  cfg->round_timeout_ms = s->node->cfg.mpc_round_timeout_ms;
}

/* The call transaction, from its block. *blk (owned by the caller, NULL
 * at first) keeps the block read last, at *bh: a batch's calls are of one
 * block, which was read once for each of them before (a 64-call block is
 * a few hundred KB: ~4% of the call thread in bench_calls, session 24). */
static cx_err load_tx(node *n, const cx_hash *id, cx_tx *tx, uint8_t **blk, size_t *blen, uint64_t *bh) {
  store_txloc loc;
  const uint8_t *t;
  size_t tl;
  cx_err e = store_tx_get(n->st, id, &loc);
  if (!e && (!*blk || *bh != loc.height)) {
    free(*blk);
    *blk = NULL;
    if (!(e = store_block_get(n->st, loc.height, blk, blen))) *bh = loc.height;
  }
  if (!e) e = block_tx_at(*blk, *blen, loc.index, &t, &tl);
  if (!e) e = tx_decode(t, tl, tx, NULL);
  if (!e && tx->type != TX_CALL) e = CX_E_CORRUPT;
  return e;
}

/* The statement fields of an aborted call: the code parties agree on
 * (docs/calls.md §5): a timeout, a rejected client dealing, or anything
 * else as a failed check, so that honest parties that saw the same failure
 * from different sides still sign one statement. */
static int32_t abort_class(cx_err e) {
  if (e == CX_E_MPC_TIMEOUT || e == CX_E_MPC_CLIENT_REJECTED) return (int32_t)e;
  return (int32_t)CX_E_MPC_CHECK_FAILED;
}

static void add_sig(job *j, uint32_t party, uint8_t status, const cx_hash *st, const uint8_t *blob,
                    size_t blen, const cx_sig *sig, const char *reason) {
  psig *p = &j->sigs[party];
  if (p->have) return; /* the first one counts; a second, different one is ignored */
  uint8_t *b = NULL;
  if (blen && !(b = malloc(blen))) return;
  if (blen) memcpy(b, blob, blen);
  p->have = 1;
  p->status = status;
  p->statement = *st;
  p->blob = b;
  p->blob_len = blen;
  p->sig = *sig;
  snprintf(p->reason, sizeof p->reason, "%s", reason ? reason : "");
}

/* Ends this party's part: computes and signs the statement, broadcasts it
 * and moves the job to closing. status DONE with res filled, or ABORTED
 * with code. */
static void finish(call_service *s, job *j, uint8_t status, cx_err code, const char *reason) {
  node *n = s->node;
  j->res.call = j->id;
  j->res.status = status;
  if (status == CX_CALL_ABORTED) {
    j->res.code = abort_class(code);
    free(j->res.out);
    j->res.out = NULL;
    j->res.nout = 0;
    j->res.nin = 0;
    free(j->blob);
    j->blob = NULL;
    j->blob_len = 0;
  }
  snprintf(j->reason, sizeof j->reason, "%s", reason ? reason : "");
  snprintf(j->res.reason, sizeof j->res.reason, "%s", j->reason);
  tx_result_statement(&n->chain_id, &j->res, &j->rec.contract, &j->rec.consent, &j->rec.did, &j->statement);
  cx_hash m;
  cx_sig sig;
  tx_result_sig_msg(&j->statement, j->blob, j->blob_len, &m);
  if (key_sign32(n->keys.sign, m.b, NULL, &sig) != CX_OK) {
    pub_error(s, "call: cannot sign the result statement");
    return;
  }
  j->have_mine = 1;
  add_sig(j, j->me, status, &j->statement, j->blob, j->blob_len, &sig, j->reason);
  j->sigs[j->me].checked = 1;
#if CUSTOS_TESTING
  if (cheat_mode() == CHEAT_BADSIG) {
    sig.b[63] ^= 1;
    char hex[65];
    LOG_W("call", "call %.16s: TEST CHEAT: result signature sent spoilt", hash_hex(&j->id, hex));
  }
#endif
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, status);
  enc_fixed(&e, j->statement.b, 32);
  enc_bytes(&e, j->blob, j->blob_len);
  enc_fixed(&e, sig.b, 64);
  enc_str(&e, j->reason);
  if (enc_finish(&e) == CX_OK) send_kind(s, j, MPC_TO_ALL, CW_SIG, e.buf, e.len);
  enc_free(&e);
  char hex[65];
  if (status == CX_CALL_DONE)
    LOG_I("call", "call %.16s: MPC done, result signed", hash_hex(&j->id, hex));
  else
    LOG_W("call", "call %.16s: aborted at this party: %s", hash_hex(&j->id, hex), j->reason);
}

/* This party gives up call j (a local failure, or its batch's sessions
 * aborted): it signs the abort and the job closes. A job that closed
 * already is left as it is. */
static void job_fail(call_service *s, job *j, cx_err code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void job_fail(call_service *s, job *j, cx_err code, const char *fmt, ...) {
  if (j->stage == ST_CLOSING) return;
  char why[CX_RESULT_REASON_MAX + 1];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  j->stage = ST_CLOSING;
  j->ended_at = mono(s);
  finish(s, j, CX_CALL_ABORTED, code, why);
}

/* Every call of the batch still running aborts with this reason; the
 * sessions and secrets go. */
static void batch_fail(call_service *s, batch *b, cx_err code, const char *why) {
  batch_end(b);
  for (size_t i = 0; i < b->njobs; i++) job_fail(s, b->jobs[i], code, "%s", why);
}

/* Index of domain d among the contract's domains, or -1. */
static int dom_index(const job *j, const char *d) {
  for (size_t i = 0; i < j->ndom; i++)
    if (strcmp(j->doms.d[i].name, d) == 0) return (int)i;
  return -1;
}

/* The bureau's part for call j: reads the subject's record of each
 * domain it deals (docs/calls.md §1), logs the access, broadcasts the
 * commitment, and puts the values in vals (the ni elements ins lists, the
 * call's copy of the batch's dealing). rv: secret scratch of
 * VAULT_MAX_FIELDS values for the record, wiped here after use. CX_OK or a
 * reason in why. */
static cx_err deal_inputs(call_service *s, job *j, const lang_call_input *ins, size_t ni, fe *vals, int64_t *rv,
                          vault_access *acc, size_t *nacc, char *why, size_t wl) {
  node *n = s->node;
  if (!ni) return CX_OK;
  node_vault *nv = node_vault_of(n);
  if (!nv) {
    snprintf(why, wl, "%s deals an input but keeps no vault", j->names[j->me]);
    return CX_E_NOT_FOUND;
  }
  vm_consent cs;
  cx_err e = vm_consent_get(&n->ro, &j->rec.consent, &cs);
  if (e) {
    snprintf(why, wl, "the call's consent cannot be read: %s", cx_err_name(e));
    return e;
  }
  vault *v = node_vault_lock(nv);
  size_t k = 0;
  while (k < ni && !e) {
    const char *dom = ins[k].domain;
    if (!domain_set_has(&cs.domains, dom)) {
      snprintf(why, wl, "%s: the consent does not cover domain %s", j->names[j->me], dom);
      e = CX_E_SCOPE;
      break;
    }
    vault_schema sc;
    size_t nv_ = 0;
    if ((e = vault_schema_get(v, dom, &sc))) {
      snprintf(why, wl, "%s: no schema for domain %s", j->names[j->me], dom);
      break;
    }
    if ((e = vault_get(v, dom, &j->rec.did, rv, VAULT_MAX_FIELDS, &nv_))) {
      snprintf(why, wl, "%s: %s", j->names[j->me],
               e == CX_E_NOT_FOUND ? "no record of the subject in its vault" : cx_err_str(e));
      break;
    }
    char fields[256] = "";
    size_t k0 = k;
    for (; k < ni && strcmp(ins[k].domain, dom) == 0 && !e; k++) {
      size_t f = 0;
      while (f < sc.nfields && strcmp(sc.fields[f].name, ins[k].field) != 0) f++;
      if (f == sc.nfields) {
        snprintf(why, wl, "%s: domain %s has no field %s", j->names[j->me], dom, ins[k].field);
        e = CX_E_NOT_FOUND;
      } else if (rv[f] < ins[k].lo || rv[f] > ins[k].hi) {
        /* the value itself is not named: it is the subject's secret */
        snprintf(why, wl, "%s: %s.%s of the record is outside the contract's declared range", j->names[j->me],
                 dom, ins[k].field);
        e = CX_E_LANG_INPUT;
      } else {
        vals[k] = fe_from_i64(rv[f]);
        size_t fl = strlen(fields);
        if (fl + strlen(ins[k].field) + 2 < sizeof fields)
          snprintf(fields + fl, sizeof fields - fl, "%s%s", k > k0 ? "," : "", ins[k].field);
      }
    }
    if (e) break;
    /* the commitment: the domain's snapshot root and the record's leaf */
    int di = dom_index(j, dom);
    cx_result_input *ci = &j->in[di];
    snprintf(ci->domain, sizeof ci->domain, "%s", dom);
    uint8_t blind[32];
    size_t nv2 = 0;
    if ((e = vault_domain_root(v, dom, &ci->root, &ci->count)) ||
        (e = vault_record_opening(v, dom, &j->rec.did, blind, rv, VAULT_MAX_FIELDS, &nv2))) {
      snprintf(why, wl, "%s: the commitment of domain %s cannot be computed: %s", j->names[j->me], dom,
               cx_err_name(e));
      break;
    }
    vault_leaf(dom, &j->rec.did, blind, rv, nv2, &ci->leaf);
    sodium_memzero(blind, sizeof blind);
    j->have_in[di] = 1;
    /* logged by batch_deal, before anything of the batch leaves */
    vault_access *a = &acc[(*nacc)++];
    memset(a, 0, sizeof *a);
    a->call = j->id;
    a->contract = j->rec.contract;
    a->subject = j->rec.did;
    snprintf(a->domain, sizeof a->domain, "%s", dom);
    snprintf(a->fields, sizeof a->fields, "%s", fields);
    a->time_ms = n->clock->now_ms(n->clock);
  }
  node_vault_unlock(nv);
  sodium_memzero(rv, VAULT_MAX_FIELDS * sizeof *rv);
  return e;
}

/* The commitments of the domains this party deals for the call (CW_COMMIT),
 * once its reads are in the access log. */
static void send_commits(call_service *s, job *j) {
  for (size_t d = 0; d < j->ndom; d++) {
    if (j->dealer[d] != j->me) continue;
    cx_enc en;
    enc_init(&en);
    enc_str(&en, j->in[d].domain);
    enc_fixed(&en, j->in[d].root.b, 32);
    uint8_t cnt[8];
    put_be64(cnt, j->in[d].count);
    enc_fixed(&en, cnt, 8);
    enc_fixed(&en, j->in[d].leaf.b, 32);
    if (enc_finish(&en) == CX_OK) send_kind(s, j, MPC_TO_ALL, CW_COMMIT, en.buf, en.len);
    enc_free(&en);
  }
}

static void feed_stash(call_service *s);

/* Starts an engine session for the batch's current stage. */
static cx_err start_session(call_service *s, batch *b, char *why, size_t wl) {
  const job *l = b->jobs[0];
  mpc_session_config cfg;
  cx_err e;
  size_t T, R, B, I;
  lang_call_plan_material(b->plan, &T, &R, &B, &I);
  if (b->stage == ST_PREP) {
    config(s, b, CX_MPC_SESSION_PREP, &cfg);
    /* Under PRSS the bits and ints come in the same batch; with dealers a
     * bits session makes the bits afterwards from a triple and a random
     * each, and the ints are bits (I = 0, mpc_prog_cost_at). */
    if (mpc_prep_prss(l->n, l->t))
      e = mpc_session_prep(&cfg, T, R, B, I, b->pool, &b->sess);
    else
      e = mpc_session_prep(&cfg, T + B, R + B, 0, 0, b->pool, &b->sess);
  } else if (b->stage == ST_BITS) {
    config(s, b, CX_MPC_SESSION_BITS, &cfg);
    e = mpc_session_bits(&cfg, B, b->pool, &b->sess);
  } else {
    config(s, b, CX_MPC_SESSION_ONLINE, &cfg);
    e = mpc_session_online(&cfg, lang_call_plan_program(b->plan), b->pool, &b->sess);
    if (!e && b->nvals) e = mpc_session_input(b->sess, 0, b->vals, b->nvals);
    /* each call's params: its insurer's dealing, client slot k for copy k */
    for (size_t k = 0; k < b->njobs && !e && lang_call_plan_params(b->plan); k++) {
      const job *j = b->jobs[k];
      const cx_tx_call *c = &j->tx.u.call;
      uint8_t ctx[32];
      tx_call_context(&s->node->chain_id, &j->tx.sender, j->tx.nonce, &c->contract, ctx);
      if (l->me >= c->nparties) e = CX_E_BAD_DEALING;
      else
        e = mpc_session_input_client(b->sess, (uint32_t)k, c->blobs + (size_t)l->me * c->blob_len, c->blob_len,
                                     c->commit, ctx, s->node->keys.enc_secret);
      /* a blob that does not open is this party's complaint: the session
       * goes on and rejects the client's input (mpc.h) */
      if (e != CX_OK && e != CX_E_NOMEM && e != CX_E_INVALID_ARG && e != CX_E_MPC_STATE && e != CX_E_BAD_DEALING)
        e = CX_OK;
    }
    if (b->vals) {
      sodium_free(b->vals); /* the session holds its own copy from here */
      b->vals = NULL;
    }
  }
  memcpy(b->sid, cfg.session, 32);
  sodium_memzero(&cfg, sizeof cfg);
  if (!e) e = mpc_session_start(b->sess, mono(s), &s->out);
  if (e) {
    snprintf(why, wl, "the %s session does not start: %s",
             b->stage == ST_PREP ? "prep" : b->stage == ST_BITS ? "bits" : "online", cx_err_str(e));
    mpc_outbox_clear(&s->out);
    return e;
  }
  b->started_at = mono(s);
  flush_out(s, b);
  feed_stash(s);
  return CX_OK;
}

/* Calls of one batch: one block's (newcall.seq), the same contract, the
 * same parties in the same order, the same insurer. */
static int same_batch(const vm_call *a, const vm_call *b) {
  return hash_eq(&a->contract, &b->contract) && a->nparties == b->nparties &&
         memcmp(a->parties, b->parties, a->nparties * sizeof *a->parties) == 0 && strcmp(a->insurer, b->insurer) == 0;
}

/* The most calls one batch of contract c takes among n parties: what a
 * batch's circuit and plan allow, and what one prep session makes (mpc.h
 * mpc_prep_fits), with each call's material counted in full. Every party
 * finds the same: it depends on chain data only. */
static uint32_t batch_cap(const lang_contract *c, uint32_t n) {
  uint32_t cap = lang_batch_max(c), t = (n - 1) / 3;
  if (cap > BATCH_MAX) cap = BATCH_MAX;
  lang_cost k;
  if (lang_cost_get(c, n, &k, NULL, 0) != CX_OK) return 1;
  int prss = mpc_prep_prss(n, t);
  while (cap > 1 && !mpc_prep_fits(n, t, cap * (k.triples + (prss ? 0 : k.bits)), cap * (k.rands + (prss ? 0 : k.bits)),
                                   prss ? cap * k.bits : 0))
    cap /= 2;
  return cap;
}

/* A job for call `id` (record rec) if this node is one of its parties. */
static job *job_new(call_service *s, const cx_hash *id, const vm_call *rec) {
  node *n = s->node;
  job *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  j->id = *id;
  j->rec = *rec;
  tx_init(&j->tx);
  j->n = rec->nparties;
  j->t = (j->n - 1) / 3;
  j->me = UINT32_MAX;
  for (uint32_t i = 0; i < j->n; i++) {
    cx_member m;
    if (memcmp(rec->parties[i].b, n->keys.pub.b, 32) == 0) j->me = i;
    if (vm_member_by_key(&n->ro, &rec->parties[i], &m) == CX_OK) memcpy(j->names[i], m.name, sizeof j->names[i]);
  }
  if (j->me == UINT32_MAX) { /* not a party of this call */
    job_free(s, j);
    return NULL;
  }
  j->stage = ST_RUN;
  jidx_put(s, j);
  return j;
}

/* b's circuit from the cache, if it holds contract's at b's size: 1. */
static int circ_get(call_service *s, batch *b, const cx_hash *contract) {
  for (size_t i = 0; i < CIRC_MAX; i++) {
    circ *x = &s->circs[i];
    if (x->c && x->copies == b->njobs && hash_eq(&x->contract, contract)) {
      x->refs++;
      x->used = ++s->circ_tick;
      b->c = x->c;
      b->cc = x;
      return 1;
    }
  }
  return 0;
}

/* Moves b's new circuit into the cache, in the least recently used entry
 * no batch holds (a free one first: its `used` is 0); if every entry is
 * held, b keeps it. */
static void circ_put(call_service *s, batch *b, const cx_hash *contract) {
  circ *v = NULL;
  for (size_t i = 0; i < CIRC_MAX; i++) {
    circ *x = &s->circs[i];
    if (!x->refs && (!v || x->used < v->used)) v = x;
  }
  if (!v) return;
  lang_free(v->c);
  v->contract = *contract;
  v->copies = (uint32_t)b->njobs;
  v->c = b->c;
  v->refs = 1;
  v->used = ++s->circ_tick;
  b->cc = v;
}

/* What every call of the batch shares and the plan: the contract, the
 * insurer's key, the dealers, the batch's circuit and plan, the pool.
 * CX_OK or a reason in why. */
static cx_err batch_setup(call_service *s, batch *b, char *why, size_t wl) {
  node *n = s->node;
  job *l = b->jobs[0];
  cx_member ins;
  cx_err e = CX_OK;
  uint8_t enc_insurer[32];
  uint8_t *blk = NULL;
  size_t blen = 0;
  uint64_t bh = 0;
  for (size_t k = 0; k < b->njobs && !e; k++)
    if ((e = load_tx(n, &b->jobs[k]->id, &b->jobs[k]->tx, &blk, &blen, &bh)))
      snprintf(why, wl, "the call transaction cannot be read: %s", cx_err_name(e));
  free(blk);
  if (!e && (e = vm_member_get(&n->ro, l->rec.insurer, &ins)))
    snprintf(why, wl, "the insurer %s cannot be read: %s", l->rec.insurer, cx_err_name(e));
  if (!e) memcpy(enc_insurer, ins.enc_key, 32);
  cx_domain_set doms;
  uint32_t dealer[CX_DOMAINS_MAX];
  if (!e && (e = lang_domains(b->unit, &doms))) snprintf(why, wl, "the contract's domains: %s", cx_err_name(e));
  for (size_t d = 0; !e && d < doms.n; d++) {
    char owner[CX_NAME_MAX + 1];
    uint32_t p = 0;
    if (vm_domain_owner(&n->ro, doms.d[d].name, owner) == CX_OK)
      while (p < l->n && strcmp(l->names[p], owner) != 0) p++;
    else
      p = l->n;
    if (p == l->n) {
      snprintf(why, wl, "the owner of domain %s is not a validator", doms.d[d].name);
      e = CX_E_DOMAIN_UNKNOWN;
    }
    dealer[d] = p;
  }
  for (size_t k = 0; !e && k < b->njobs; k++) {
    job *j = b->jobs[k];
    memcpy(j->enc_insurer, enc_insurer, 32);
    j->doms = doms;
    j->ndom = doms.n;
    memcpy(j->dealer, dealer, sizeof dealer);
  }
  /* the batch's circuit and args (lang.h "batches"); one call runs its own */
  int64_t *args = NULL;
  size_t nargs = 0;
  if (!e && b->njobs == 1) {
    b->c = b->unit;
    args = l->tx.u.call.args;
    nargs = l->tx.u.call.nargs;
  } else if (!e) {
    const int64_t *each[BATCH_MAX];
    for (size_t k = 0; k < b->njobs; k++) each[k] = b->jobs[k]->tx.u.call.args;
    nargs = l->tx.u.call.nargs * b->njobs;
    b->circ_hit = circ_get(s, b, &l->rec.contract);
    if (!b->circ_hit && !(e = lang_batch(b->unit, (uint32_t)b->njobs, &b->c, why, wl)))
      circ_put(s, b, &l->rec.contract);
    if (e)
      ;
    else if (!(args = malloc((nargs ? nargs : 1) * sizeof *args)))
      e = CX_E_NOMEM;
    else
      lang_batch_args(b->unit, (uint32_t)b->njobs, each, args);
  }
  if (!e) e = lang_call_plan_new(b->c, l->n, dealer, doms.n, args, nargs, &b->plan, why, wl);
  if (b->njobs > 1) free(args);
  if (!e) {
    size_t T, R, B, I;
    lang_call_plan_material(b->plan, &T, &R, &B, &I);
    e = mpc_pool_new(T + B + 1, R + B + 1, B + 1, I + 1, &b->pool);
    if (e) snprintf(why, wl, "the pool cannot be allocated: %s", cx_err_name(e));
  }
  return e;
}

/* Each call's dealing, copy by copy. A call this bureau cannot deal for
 * (no record, out of range, no consent cover...) is aborted here with its
 * reason, which its SIG carries to the others (closing_step), and its copy
 * is dealt each element's lowest declared value: the others' copies do not
 * depend on it, and nothing of it is kept. CX_OK or a batch-wide reason. */
static cx_err batch_deal(call_service *s, batch *b, char *why, size_t wl) {
  const lang_call_input *ins = NULL;
  size_t ni = lang_call_plan_inputs(b->plan, b->jobs[0]->me, &ins), per = ni / b->njobs;
  if (!ni) return CX_OK;
  int64_t *rv = sodium_malloc(VAULT_MAX_FIELDS * sizeof *rv); /* one record at a time, for every call */
  /* the batch's reads, one per run of a domain's elements, so at most ni
   * (ports of two domains may interleave); call k's are acc[upto[k-1] ..
   * upto[k]) */
  vault_access *acc = malloc(ni * sizeof *acc);
  size_t upto[BATCH_MAX], nacc = 0;
  if (!rv || !acc || !(b->vals = sodium_malloc(ni * sizeof *b->vals))) {
    if (rv) sodium_free(rv);
    free(acc);
    snprintf(why, wl, "out of memory");
    return CX_E_NOMEM;
  }
  b->nvals = ni;
  cx_err e = CX_OK;
  for (size_t k = 0; k < b->njobs; k++) upto[k] = 0;
  for (size_t k = 0; k < b->njobs && e != CX_E_NOMEM; k++) {
    job *j = b->jobs[k];
    char jwhy[CX_RESULT_REASON_MAX + 1] = "";
    e = deal_inputs(s, j, ins + k * per, per, b->vals + k * per, rv, acc, &nacc, jwhy, sizeof jwhy);
    upto[k] = nacc;
    if (e && e != CX_E_NOMEM) {
      for (size_t i = 0; i < per; i++) b->vals[k * per + i] = fe_from_i64(ins[k * per + i].lo);
      job_fail(s, j, e, "%s", jwhy);
    }
  }
  sodium_free(rv); /* wiped by deal_inputs */
  /* Every read of the batch in the access log in one synced write (one
   * fsync a batch, not one a call), before any share or commitment of it
   * leaves this node. Reads of a call that then failed are logged too:
   * they happened. If the log cannot be written, no call that read a
   * record deals it: each is aborted and deals its lowest values. */
  node_vault *nv = nacc ? node_vault_of(s->node) : NULL;
  cx_err le = CX_OK;
  if (nv) {
    le = vault_log_append(node_vault_lock(nv), acc, nacc, NULL);
    node_vault_unlock(nv);
  }
  for (size_t k = 0; k < b->njobs; k++) {
    job *j = b->jobs[k];
    int read = upto[k] > (k ? upto[k - 1] : 0);
    if (le && read) {
      for (size_t i = 0; i < per; i++) b->vals[k * per + i] = fe_from_i64(ins[k * per + i].lo);
      job_fail(s, j, le, "%s: the access log cannot be written: %s", j->names[j->me], cx_err_name(le));
    } else if (read && j->stage != ST_CLOSING) {
      send_commits(s, j);
    }
  }
  free(acc);
  if (e == CX_E_NOMEM) {
    snprintf(why, wl, "out of memory");
    return e;
  }
  return CX_OK;
}

/* Takes the next calls off the queue, as one batch, and starts it. */
static void start_batch(call_service *s) {
  node *n = s->node;
  char hex[65], why[CX_RESULT_REASON_MAX + 1] = "";
  newcall lead = s->queue[s->qh];
  s->qh = (s->qh + 1) % NEWCALL_MAX;
  s->qn--;
  vm_call rec;
  cx_err e = vm_call_get(&n->ro, &lead.id, &rec);
  if (e) {
    pub_error(s, "call %.16s: the call record cannot be read: %s", hash_hex(&lead.id, hex), cx_err_name(e));
    return;
  }
  batch *b = calloc(1, sizeof *b);
  job *j0 = b ? job_new(s, &lead.id, &rec) : NULL;
  if (!j0) { /* not a party (nor of the rest of its batch, which follow it) */
    free(b);
    return;
  }
  b->jobs[b->njobs++] = j0;
  j0->b = b;
  j0->lead = j0->id;
  vm_contract k;
  if ((e = vm_contract_get(&n->ro, &rec.contract, &k))) {
    snprintf(why, sizeof why, "the contract cannot be read: %s", cx_err_name(e));
  } else {
    e = lang_decode(k.bytecode, k.bytecode_len, &b->unit, why, sizeof why);
    vm_contract_clear(&k);
  }
  /* the rest of the batch: what follows in the same block with the same
   * key, up to the cap (the same at every party: chain data) */
  int more = s->qn && s->queue[s->qh].seq == lead.seq; /* a second call of the block to batch with */
  uint32_t cap = e || !more ? 1 : batch_cap(b->unit, rec.nparties);
  while (b->njobs < cap && s->qn && s->queue[s->qh].seq == lead.seq) {
    vm_call r2;
    if (vm_call_get(&n->ro, &s->queue[s->qh].id, &r2) != CX_OK || !same_batch(&rec, &r2)) break;
    job *j = job_new(s, &s->queue[s->qh].id, &r2);
    if (!j) break;
    s->qh = (s->qh + 1) % NEWCALL_MAX;
    s->qn--;
    j->b = b;
    j->lead = j0->id;
    j->copy = (uint32_t)b->njobs;
    b->jobs[b->njobs++] = j;
  }
  /* A node that is catching up (its peers committed more than a couple
   * of blocks past ours) does not start calls: the others ran them while
   * it was away, and a late party only makes the next call time out
   * (docs/calls.md §2). The others' quorum does not need it. Nor does it
   * run a batch whose calls all closed already. */
  pthread_mutex_lock(&n->smu);
  uint64_t peer = n->best_peer_height;
  pthread_mutex_unlock(&n->smu);
  size_t pending = 0;
  for (size_t i = 0; i < b->njobs; i++) pending += b->jobs[i]->rec.status == CALL_PENDING;
  if (peer > store_height(n->st) + 2 || !pending) {
    pthread_mutex_lock(&s->mu);
    if (pending) s->pub.skipped_stale += b->njobs;
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < b->njobs; i++) job_free(s, b->jobs[i]);
    batch_free(b);
    return;
  }
  pthread_mutex_lock(&s->mu);
  s->pub.started += b->njobs;
  pthread_mutex_unlock(&s->mu);
  b->stage = ST_PREP;
  if (!e) e = batch_setup(s, b, why, sizeof why);
  if (!e) e = batch_deal(s, b, why, sizeof why);
  if (!e) e = start_session(s, b, why, sizeof why);
  s->run[s->nrun++] = b;
  LOG_I("call", "call %.16s started with %zu in its batch (party %u of %u%s)", hash_hex(&lead.id, hex),
        b->njobs - 1, j0->me, j0->n, b->circ_hit ? "; circuit cached" : "");
  if (e) batch_fail(s, b, e, why);
  feed_stash(s); /* the calls' commitments and signatures that came early */
}

/* Call j's result from its copy of the batch's finished online session:
 * its outputs (o, the batch's flat outputs), the transcript, my blob. */
/* plain: the batch's scratch for a call's private shares before they are
 * sealed (secret memory, lang_outputs_len(unit) elements; wiped after each
 * call), so that a batch allocates secret memory once, not per call. */
static void job_result(call_service *s, batch *b, job *j, const lang_call_output *o, const cx_hash *transcript,
                       uint8_t *plain) {
  char why[CX_RESULT_REASON_MAX + 1] = "";
  size_t nout = lang_outputs_len(b->unit), npriv = 0;
  cx_err e = CX_OK;
  j->res.transcript = *transcript;
  if (nout && !(j->res.out = calloc(nout, sizeof *j->res.out))) e = CX_E_NOMEM;
  if (!e) {
    j->res.nout = nout;
    for (uint32_t f = 0; f < nout; f++) {
      const lang_call_output *x = &o[lang_batch_output(b->unit, (uint32_t)b->njobs, j->copy, f)];
      j->res.out[f].priv = x->priv;
      if (x->priv) {
        fe_encode(x->masked, j->res.out[f].masked);
        npriv++;
      } else {
        j->res.out[f].value = x->value;
      }
    }
  }
  if (!e && npriv) {
    j->blob_len = npriv * FE_BYTES + crypto_box_SEALBYTES;
    j->blob = malloc(j->blob_len);
    if (!plain || !j->blob) e = CX_E_NOMEM;
    for (uint32_t f = 0, q = 0; !e && f < nout; f++) {
      const lang_call_output *x = &o[lang_batch_output(b->unit, (uint32_t)b->njobs, j->copy, f)];
      if (x->priv) fe_encode(x->share, plain + FE_BYTES * q++);
    }
    if (!e && crypto_box_seal(j->blob, plain, npriv * FE_BYTES, j->enc_insurer) != 0) {
      snprintf(why, sizeof why, "the shares cannot be sealed to the insurer's key");
      e = CX_E_CRYPTO;
    }
    if (plain) sodium_memzero(plain, npriv * FE_BYTES);
  }
  if (e) {
    job_fail(s, j, e, "the outputs cannot be read: %s", why[0] ? why : cx_err_name(e));
    return;
  }
  j->stage = ST_CLOSING;
  j->ended_at = mono(s);
  /* the inputs' commitments: every dealer's COMMIT must be here; if one is
   * missing the statement waits for it (closing_step) */
  j->res.nin = j->ndom;
  memcpy(j->res.in, j->in, sizeof j->in);
  int all = 1;
  for (size_t d = 0; d < j->ndom; d++) all &= j->have_in[d];
  if (all) finish(s, j, CX_CALL_DONE, CX_OK, "");
}

/* After a stage's session ended well: the next stage, or the results. */
static void next_stage(call_service *s, batch *b) {
  char why[CX_RESULT_REASON_MAX + 1] = "";
  mpc_session *done = b->sess;
  if (b->stage == ST_PREP || b->stage == ST_BITS) {
    mpc_session_free(done);
    b->sess = NULL;
    size_t B;
    lang_call_plan_material(b->plan, NULL, NULL, &B, NULL);
    b->stage = b->stage == ST_PREP && B && !mpc_prep_prss(b->jobs[0]->n, b->jobs[0]->t) ? ST_BITS : ST_ONLINE;
    cx_err e = start_session(s, b, why, sizeof why);
    if (e) batch_fail(s, b, e, why);
    return;
  }
  /* online done: every call's outputs, one transcript */
  size_t nout = lang_outputs_len(b->c);
  lang_call_output *o = sodium_malloc((nout ? nout : 1) * sizeof *o);
  uint8_t *plain = sodium_malloc((lang_outputs_len(b->unit) + 1) * FE_BYTES);
  cx_hash transcript;
  cx_err e = o && plain ? CX_OK : CX_E_NOMEM;
  if (!e) e = lang_call_plan_outputs(b->plan, done, o, why, sizeof why);
  if (!e && (e = mpc_session_transcript(done, transcript.b)))
    snprintf(why, sizeof why, "no transcript: %s", cx_err_name(e));
  if (!e)
    for (size_t k = 0; k < b->njobs; k++)
      if (b->jobs[k]->stage == ST_RUN) job_result(s, b, b->jobs[k], o, &transcript, plain);
  if (o) sodium_free(o); /* it holds shares: wiped */
  if (plain) sodium_free(plain);
  if (e) {
    char r[CX_RESULT_REASON_MAX + 1];
    snprintf(r, sizeof r, "the outputs cannot be read: %s", why[0] ? why : cx_err_name(e));
    batch_fail(s, b, e, r);
  }
  batch_end(b); /* wipes every share */
}

/* ---- incoming ----------------------------------------------------------- */

static int party_by_name(const job *j, const char *name) {
  for (uint32_t i = 0; i < j->n; i++)
    if (strcmp(j->names[i], name) == 0) return (int)i;
  return -1;
}

/* Messages were decoded once by the net thread (call_wire_decode); they
 * decode again here, from the bytes kept. */
static void on_commit_msg(call_service *s, job *j, const cmsg *m, const call_wire *w) {
  int di = dom_index(j, w->domain), p = party_by_name(j, m->from);
  if (di < 0 || p < 0 || j->dealer[di] != (uint32_t)p) {
    node_refuse(s->node, &s->refused, "call commitment", m->from, "not the dealer of that domain");
    return;
  }
  if (j->have_in[di]) return;
  cx_result_input *ci = &j->in[di];
  snprintf(ci->domain, sizeof ci->domain, "%s", w->domain);
  ci->root = w->root;
  ci->count = w->count;
  ci->leaf = w->leaf;
  j->have_in[di] = 1;
}

static void on_sig_msg(call_service *s, job *j, const cmsg *m, const call_wire *w) {
  int p = party_by_name(j, m->from);
  if (p < 0) {
    node_refuse(s->node, &s->refused, "call signature", m->from, "not a party of the call");
    return;
  }
  add_sig(j, (uint32_t)p, w->status, &w->statement, w->blob, w->blob_len, &w->sig, w->reason);
}

/* Whether party i's signature of call j is over my statement (and not
 * found bad). */
static int agrees(const job *j, uint32_t i) {
  const psig *p = &j->sigs[i];
  return p->have && !p->bad && hash_eq(&p->statement, &j->statement);
}

/* Before a QUORUM-mode result: verifies the signatures it would carry (the
 * agreeing ones) that are not checked yet. A bad one is refused and its
 * party no longer counts (as if it had not signed); then 0, and the turn
 * is worked out again from the parties left. */
static int quorum_sigs_ok(call_service *s, job *j) {
  int ok = 1;
  for (uint32_t i = 0; i < j->n; i++) {
    psig *p = &j->sigs[i];
    if (p->checked || !agrees(j, i)) continue;
    cx_hash msg;
    tx_result_sig_msg(&p->statement, p->blob, p->blob_len, &msg);
    if (sig_verify(&j->rec.parties[i], msg.b, 32, &p->sig)) {
      p->checked = 1;
      continue;
    }
    node_refuse(s->node, &s->refused, "call signature", j->names[i], "bad signature");
    p->bad = 1; /* have stays: a second word of that party is ignored too */
    ok = 0;
  }
  if (!ok) j->submit_at = 0;
  return ok;
}

/* ---- one FROST signature per result, or per batch (docs/keys.md §8) ------ */

static job *find_job(call_service *s, const uint8_t *id) {
  for (size_t i = jidx_slot(id); s->jidx[i]; i = (i + 1) & (JIDX_CAP - 1))
    if (memcmp(s->jidx[i]->id.b, id, 32) == 0) return s->jidx[i];
  return NULL;
}

/* The parties whose signature agrees with my statement of call j. */
static uint64_t agree_mask(const job *j) {
  uint64_t mask = 0;
  for (uint32_t i = 0; i < j->n; i++)
    if (agrees(j, i)) mask |= 1ull << i;
  return mask;
}

/* The message the `results` key signs for my statement of call j with the
 * blobs of the parties in mask. 0 when this party lacks an agreeing
 * signature (and so the blob) of a listed party. */
static int frost_msg(const job *j, uint64_t mask, uint8_t msg[64]) {
  cx_result_sig list[CX_MAX_VALIDATORS];
  cx_tx_call_result r;
  memset(&r, 0, sizeof r);
  r.sigs = list;
  if (!j->have_mine || (j->n < 64 && mask >> j->n)) return 0; /* a shift by 64 is undefined */
  for (uint32_t i = 0; i < j->n; i++) {
    if (!(mask >> i & 1)) continue;
    const psig *p = &j->sigs[i];
    if (!agrees(j, i)) return 0;
    list[r.nsig].party = (uint8_t)i;
    list[r.nsig].blob = p->blob;
    list[r.nsig].blob_len = p->blob_len;
    r.nsig++;
  }
  tx_result_frost_msg(&j->statement, &r, msg);
  return 1;
}

/* The message of proposal g anchored at call a, from my own results: its
 * length (64 for one call, 32 for a batch's root; g->leaves filled), or 0
 * when I cannot follow it (a call I do not hold with my result, other
 * parties than a's, another statement, a listed blob missing). So an
 * honest party signs only statements it computed itself. */
static size_t group_msg(call_service *s, const job *a, fgroup *g, uint8_t msg[64]) {
  for (size_t i = 0; i < g->k; i++) {
    const job *m = i ? find_job(s, g->ids[i].b) : a;
    uint8_t fm[64];
    if (!m || m->n != a->n || memcmp(m->rec.parties, a->rec.parties, a->n * sizeof a->rec.parties[0]) != 0 ||
        !frost_msg(m, g->masks[i], fm))
      return 0;
    if (g->k == 1) {
      memcpy(msg, fm, 64);
      return 64;
    }
    tx_result_batch_leaf(fm, &g->leaves[i]);
  }
  cx_hash root;
  merkle_root(g->leaves, g->k, &root);
  tx_result_batch_msg(&root, g->k, msg);
  return 32;
}

/* Sends what the signing session of proposer p has queued. */
static void fs_pump(call_service *s, job *j, uint32_t p) {
  tsign *ts = j->fs[p].ts;
  if (!ts) return;
  tsign_tick(ts, mono(s));
  tsign_out *o = malloc(sizeof *o);
  if (!o) return;
  while (tsign_poll(ts, o)) {
#if CUSTOS_TESTING
    if (cheat_mode() == CHEAT_FROST_STALL && p == j->me && j->me == 0) continue; /* silent coordinator */
#endif
    send_kind(s, j, o->to == TSIGN_TO_ALL ? MPC_TO_ALL : (uint32_t)o->to - 1, CW_TSIGN, o->buf, o->len);
  }
  free(o);
}

/* Delivers a tsign message to the session it names, if open here. */
static int fs_deliver(call_service *s, job *j, uint32_t from, const uint8_t *ts, size_t len) {
  for (uint32_t p = 0; p < j->n; p++) {
    if (!j->fs[p].ts || memcmp(ts + 1, j->fs[p].sid, 32) != 0) continue;
    char why[160];
    cx_err e = tsign_recv(j->fs[p].ts, (uint16_t)(from + 1), ts, len, mono(s), why, sizeof why);
    /* a late commitment or share is normal: the signers were chosen, or the signature is made */
    if (e && e != CX_E_MPC_ROUND && !(e == CX_E_MPC_STATE && tsign_status_get(j->fs[p].ts) != TSIGN_RUNNING))
      node_refuse(s->node, &s->refused, "signing message", j->names[from], why);
    fs_pump(s, j, p);
    return 1;
  }
  return 0;
}

/* Opens this party's signing session for proposer p's proposal anchored
 * at a (a->fprop[p]), if it can follow it: the session id is
 * H(anchor || be32 p || message), so parties that computed different
 * messages never meet, and two coordinators of the same group (the second
 * after SUBMIT_STAGGER_MS) run two sessions: a party holds one per
 * proposer, and fs_deliver finds a message's session by its id alone.
 * (Without p in it, a coordinator's own session and the one it follows
 * for the first coordinator had the same id: the commitments for its own
 * went to the other, "I coordinate no attempt", and the group waited out
 * FROST_MAX_MS.) The proposal moves to the session; the messages kept for
 * it are fed. */
static void fs_open(call_service *s, job *a, uint32_t p) {
  fgroup *g = a->fprop[p];
  if (!g || a->fs[p].ts || !a->have_mine) return;
  uint8_t msg[64], sid[32];
  size_t len = group_msg(s, a, g, msg);
  if (!len) return;
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, 32);
  uint8_t pb[4];
  put_be32(pb, p);
  crypto_generichash_update(&h, a->id.b, 32);
  crypto_generichash_update(&h, pb, sizeof pb);
  crypto_generichash_update(&h, msg, len);
  crypto_generichash_final(&h, sid, 32);
  uint32_t epoch = 0, me = 0;
  tsign *ts = NULL;
  if (key_service_tsign(s->node, "results", a->rec.parties, a->n, sid, msg, len, &ts, &epoch, &me) != CX_OK) return;
  if (me != a->me) { /* the key's party order is the call's: cannot differ */
    tsign_free(ts);
    return;
  }
  a->fs[p].ts = ts;
  a->fs[p].g = g;
  a->fprop[p] = NULL;
  memcpy(a->fs[p].sid, sid, 32);
  if (p == a->me) a->frost_epoch = epoch;
  size_t w = 0;
  for (size_t i = 0; i < a->ntspend; i++) {
    cmsg *m = a->tspend[i];
    int from = party_by_name(a, m->from);
    if (from >= 0 && memcmp(m->data + CW_HDR + 1, sid, 32) == 0) {
      fs_deliver(s, a, (uint32_t)from, m->data + CW_HDR, m->len - CW_HDR);
      free(m);
    } else {
      a->tspend[w++] = m;
    }
  }
  a->ntspend = w;
}

static void on_fprop_msg(call_service *s, job *j, const cmsg *m, const call_wire *w) {
  int p = party_by_name(j, m->from);
  if (p < 0) {
    node_refuse(s->node, &s->refused, "signing proposal", m->from, "not a party of the call");
    return;
  }
  if (j->fprop[p] || j->fs[p].ts) return; /* one proposal per coordinator and anchor */
  fgroup *g = calloc(1, sizeof *g);
  if (!g) return;
  g->k = w->fk;
  for (size_t i = 0; i < g->k; i++) {
    memcpy(g->ids[i].b, w->fents + i * CALL_FPROP_ENT, 32);
    g->masks[i] = get_be64(w->fents + i * CALL_FPROP_ENT + 32);
  }
  j->fprop[p] = g;
  fs_open(s, j, (uint32_t)p);
}

/* A tsign message: to its session, or kept until the proposal it belongs
 * to can be followed (this party's own result may not be ready yet). */
static int on_tsign_msg(call_service *s, job *j, cmsg *m, const call_wire *w) {
  int p = party_by_name(j, m->from);
  if (p < 0) {
    node_refuse(s->node, &s->refused, "signing message", m->from, "not a party of the call");
    return 0;
  }
  if (fs_deliver(s, j, (uint32_t)p, w->ts, w->ts_len)) return 0;
  if (j->ntspend == TSPEND_MAX) {
    free(j->tspend[0]);
    memmove(j->tspend, j->tspend + 1, --j->ntspend * sizeof *j->tspend);
  }
  j->tspend[j->ntspend++] = m;
  return 1; /* kept */
}

static void submit(call_service *s, job *j);

/* Whether it is my turn to submit call j's result: once 2t + 1 parties
 * agree with my statement, the agreeing parties take turns in party order,
 * SUBMIT_STAGGER_MS apart (docs/calls.md §5). */
static int my_turn(job *j, uint64_t now) {
  if (!j->have_mine) return 0;
  uint64_t agree = j->submit_at ? 0 : agree_mask(j);
  if (!j->submit_at && (size_t)__builtin_popcountll(agree) >= 2 * (size_t)j->t + 1) {
    uint64_t before = agree & ((1ull << j->me) - 1); /* me < CX_MAX_VALIDATORS = 64 */
    j->submit_at = now + (uint64_t)__builtin_popcountll(before) * SUBMIT_STAGGER_MS;
  }
  return j->submit_at && now >= j->submit_at;
}

/* My coordinated group's signature is made: every call of it gets the
 * proof (the signature, its blobs, its path in the batch's tree) and the
 * members' results go out now; the anchor's goes out from its own turn. */
static void group_signed(call_service *s, job *a, const uint8_t sig[64]) {
  const fgroup *g = a->fs[a->me].g;
  cx_hash path[MERKLE_MAX_DEPTH];
  for (size_t i = 0; i < g->k; i++) {
    job *m = i ? find_job(s, g->ids[i].b) : a;
    if (!m || m->submitted) continue;
    memcpy(m->frost_sig, sig, 64);
    m->frost_epoch = a->frost_epoch;
    m->fmask = g->masks[i];
    m->bn = m->bidx = m->bnpath = 0;
    if (g->k > 1) {
      m->bn = (uint8_t)g->k;
      m->bidx = (uint8_t)i;
      size_t np = merkle_path(g->leaves, g->k, i, path);
      CX_ASSERT(np <= CX_RESULT_BATCH_DEPTH); /* g->k <= CX_RESULT_BATCH_MAX (tx.h's assert) */
      m->bnpath = (uint8_t)np;
      memcpy(m->bpath, path, np * sizeof path[0]);
    }
    m->frost = FR_SIGNED;
    if (m != a) submit(s, m);
  }
}

/* My coordinated group got no signature: its calls go in quorum mode. */
static void group_failed(call_service *s, job *a) {
  const fgroup *g = a->fs[a->me].g;
  for (size_t i = 1; i < g->k; i++) {
    job *m = find_job(s, g->ids[i].b);
    if (m && m->frost == FR_MEMBER && hash_eq(&m->anchor, &a->id)) m->frost = FR_QUORUM;
  }
  a->frost = FR_QUORUM;
}

/* Opens my group at call j's turn: j and the other results of its batch
 * whose turn it is too (in the common case the whole batch: its calls end
 * together and agree alike), under one proposal and one signing session.
 * Returns 0 when no session could start (no usable results key). */
static int group_open(call_service *s, job *j, uint64_t now) {
  fgroup *g = calloc(1, sizeof *g);
  if (!g) return 0;
  g->ids[0] = j->id;
  g->masks[0] = agree_mask(j);
  g->k = 1;
  for (size_t i = 0; i < s->nclosing && g->k < CALL_FPROP_MAX; i++) {
    job *m = s->closing[i];
    if (m == j || m->frost != FR_NONE || m->submitted || !hash_eq(&m->lead, &j->lead) || !my_turn(m, now)) continue;
    g->ids[g->k] = m->id;
    g->masks[g->k++] = agree_mask(m);
  }
  j->fprop[j->me] = g;
  fs_open(s, j, j->me);
  if (!j->fs[j->me].ts) {
    free(j->fprop[j->me]);
    j->fprop[j->me] = NULL;
    return 0;
  }
  uint8_t b[1 + CALL_FPROP_MAX * CALL_FPROP_ENT];
  b[0] = (uint8_t)g->k;
  for (size_t i = 0; i < g->k; i++) {
    memcpy(b + 1 + i * CALL_FPROP_ENT, g->ids[i].b, 32);
    put_be64(b + 1 + i * CALL_FPROP_ENT + 32, g->masks[i]);
  }
  send_kind(s, j, MPC_TO_ALL, CW_FPROP, b, 1 + g->k * CALL_FPROP_ENT);
  if (tsign_coordinate(j->fs[j->me].ts, 0, now, NULL, 0) != CX_OK) return 0;
  fs_pump(s, j, j->me);
  for (size_t i = 1; i < g->k; i++) {
    job *m = find_job(s, g->ids[i].b);
    m->frost = FR_MEMBER;
    m->anchor = j->id;
  }
  return 1;
}

/* Closing, my turn to submit: coordinate a FROST signature over my group's
 * results (group_open), or fall back to quorum mode. Returns 1 when j's
 * result may be submitted now (j->frost says how). */
static int frost_turn(call_service *s, job *j, uint64_t now) {
  if (j->frost == FR_MEMBER) {
    const job *a = find_job(s, j->anchor.b);
    if (a && a->frost == FR_COORD) return 0; /* its session is running */
    j->frost = FR_NONE; /* the anchor closed (committed, or dropped) before signing: on my own */
  }
  if (j->frost == FR_NONE) {
    j->frost = FR_QUORUM;
    if (!group_open(s, j, now)) return 1; /* no usable results key here: quorum mode */
    j->frost = FR_COORD;
    j->frost_until = now + FROST_MAX_MS;
  }
#if CUSTOS_TESTING
  if (cheat_mode() == CHEAT_FROST_STALL && j->me == 0 && j->frost == FR_COORD) {
    if (!j->stalled) {
      char hex[65];
      LOG_W("call", "call %.16s: TEST CHEAT: FROST coordinator silent after its proposal", hash_hex(&j->id, hex));
      j->stalled = 1;
    }
    return 0;
  }
#endif
  if (j->frost == FR_COORD) {
    tsign *ts = j->fs[j->me].ts;
    tsign_status st = tsign_status_get(ts);
    uint8_t sig[64];
    char hex[65];
    if (st == TSIGN_DONE && tsign_signature(ts, sig) == CX_OK) {
      group_signed(s, j, sig);
    } else if (st == TSIGN_FAILED || now >= j->frost_until) {
      LOG_W("call", "call %.16s: no FROST signature for its %zu result(s) (%s): quorum mode", hash_hex(&j->id, hex),
            j->fs[j->me].g->k, st == TSIGN_FAILED ? tsign_reason(ts) : "timed out");
      group_failed(s, j);
    }
    uint16_t ids[CX_MAX_VALIDATORS];
    tsign_fault why[CX_MAX_VALIDATORS];
    size_t nc = 0;
    tsign_culprits(ts, ids, why, &nc);
    for (size_t i = 0; i < nc && j->frost != FR_COORD; i++)
      if (why[i] == TSIGN_BAD_SHARE)
        LOG_W("call", "call %.16s: party %s sent a bad FROST signature share", hash_hex(&j->id, hex),
              ids[i] >= 1 && ids[i] <= j->n ? j->names[ids[i] - 1] : "?");
  }
  return j->frost == FR_SIGNED || j->frost == FR_QUORUM;
}

/* A call message (not an engine one) for job j. Returns 1 when the job
 * kept m (the caller must not free it). */
static int deliver(call_service *s, job *j, cmsg *m) {
  call_wire w;
  if (call_wire_decode(m->data, m->len, &w, NULL) != CX_OK) return 0;
  if (w.kind == CW_COMMIT) {
    on_commit_msg(s, j, m, &w);
  } else if (w.kind == CW_SIG) {
    on_sig_msg(s, j, m, &w);
  } else if (w.kind == CW_FPROP) {
    on_fprop_msg(s, j, m, &w);
  } else if (w.kind == CW_TSIGN && on_tsign_msg(s, j, m, &w)) {
    return 1; /* kept by the job */
  }
  return 0;
}

static int is_for_session(const batch *b, const cmsg *m) {
  /* mpc/wire.h: version u8 | kind u8 | session[32] */
  return m->data[1] == CW_MPC && m->len >= CW_HDR + ENGINE_HDR && memcmp(m->data + CW_HDR + 2, b->sid, 32) == 0;
}

static void stash(call_service *s, cmsg *m) {
  while (s->stash.n && (s->stash.n >= STASH_MAX || s->stash.bytes + m->len > STASH_BYTES))
    free(cl_pop(&s->stash));
  cl_push(&s->stash, m);
}

/* Delivers m where it belongs: an engine message to the running session of
 * the batch its call leads, any other to its call's job. Returns 0 (m not
 * taken) when there is none yet: a call not started, or an engine message
 * of a later stage (an earlier stage's is never wanted again). */
static int try_route(call_service *s, cmsg *m) {
  job *j = find_job(s, msg_call(m));
  if (!j) return 0;
  if (m->data[1] == CW_MPC) {
    batch *b = j->b;
    if (!b || b->jobs[0] != j || !b->sess || !is_for_session(b, m)) return 0;
    int link = party_by_name(j, m->from); /* the member link's peer (docs/calls.md §2) */
    mpc_session_recv_link(b->sess, link < 0 ? MPC_NO_LINK : (uint32_t)link, m->data + CW_HDR,
                          m->len - CW_HDR, mono(s), &s->out);
    flush_out(s, b);
    free(m);
    return 1;
  }
  if (!deliver(s, j, m)) free(m);
  return 1;
}

/* Feeds the stashed messages that have a session or job now, in arrival
 * order; the others stay. */
static void feed_stash(call_service *s) {
  clist keep = {0};
  cmsg *m;
  while ((m = cl_pop(&s->stash)))
    if (!try_route(s, m)) cl_push(&keep, m);
  s->stash = keep;
}

static void route(call_service *s, cmsg *m) {
  if (!try_route(s, m)) stash(s, m); /* a call not started yet, or a later stage of this one */
}

/* ---- closing: quorum and submission --------------------------------------- */

static void submit(call_service *s, job *j) {
  node *n = s->node;
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_CALL_RESULT;
  tx.chain_id = n->chain_id;
  int frost = j->frost == FR_SIGNED;
  uint64_t fmask = frost ? j->fmask : 0;
  size_t ns = (size_t)__builtin_popcountll(frost ? fmask : agree_mask(j)); /* the blobs or signatures it carries */
  cx_err e = tx_result_alloc(&tx, j->res.nout, ns);
  cx_tx_call_result *r = &tx.u.result;
  if (!e) {
    r->call = j->id;
    r->status = j->res.status;
    r->nin = j->res.nin;
    memcpy(r->in, j->res.in, sizeof r->in);
    if (j->res.nout) memcpy(r->out, j->res.out, j->res.nout * sizeof *r->out);
    r->transcript = j->res.transcript;
    r->code = j->res.code;
    /* the reason: mine, then what the others said (not signed by them) */
    snprintf(r->reason, sizeof r->reason, "%s", j->reason);
    for (uint32_t i = 0; i < j->n; i++) {
      const psig *p = &j->sigs[i];
      if (i == j->me || !p->have || !p->reason[0] || strstr(r->reason, p->reason)) continue;
      size_t l = strlen(r->reason);
      snprintf(r->reason + l, sizeof r->reason - l, "%s%s", l ? "; " : "", p->reason);
    }
    size_t q = 0;
    for (uint32_t i = 0; i < j->n && !e; i++) {
      const psig *p = &j->sigs[i];
      if (!agrees(j, i)) continue;
      if (frost && !(fmask >> i & 1)) continue;
      r->sigs[q].party = (uint8_t)i;
      if (!frost) r->sigs[q].sig = p->sig;
      e = tx_result_set_blob(&tx, q, p->blob, p->blob_len);
      q++;
    }
    if (frost) { /* docs/keys.md §8: one signature by the results key, for this call or its batch */
      r->proof = j->bn ? CX_RESULT_PROOF_FROST_BATCH : CX_RESULT_PROOF_FROST;
      r->key_epoch = j->frost_epoch;
      memcpy(r->frost.b, j->frost_sig, 64);
      r->batch_n = j->bn;
      r->batch_idx = j->bidx;
      r->batch_npath = j->bnpath;
      memcpy(r->batch_path, j->bpath, sizeof r->batch_path);
    } else {
      r->proof = CX_RESULT_PROOF_QUORUM;
    }
  }
  cx_hash txid;
  char detail[128] = "", hex[65];
  if (!e) e = node_submit_own(n, &tx, &txid, detail, sizeof detail);
  hash_hex(&j->id, hex);
  if (e)
    LOG_W("call", "call %.16s: result transaction not admitted: %s %s", hex, cx_err_name(e), detail);
  else if (frost && j->bn)
    LOG_I("call", "call %.16s: result (%s, one FROST signature for a batch of %u results, %zu blobs) submitted", hex,
          j->res.status == CX_CALL_DONE ? "done" : "aborted", (unsigned)j->bn, ns);
  else if (frost)
    LOG_I("call", "call %.16s: result (%s, one FROST signature, %zu blobs) submitted", hex,
          j->res.status == CX_CALL_DONE ? "done" : "aborted", ns);
  else
    LOG_I("call", "call %.16s: result (%s, %zu signatures) submitted", hex,
          j->res.status == CX_CALL_DONE ? "done" : "aborted", ns);
  tx_clear(&tx);
  j->submitted = 1;
}

#define CLOSING_CHECK_MS 100

/* Returns 1 when the job is over (to be freed). */
/* Whether call j's result is committed. Its record is read every
 * CLOSING_CHECK_MS at most: often enough for the submit turns
 * (SUBMIT_STAGGER_MS), rarely enough that hundreds of closing jobs cost
 * little. */
static int closed_on_chain(call_service *s, job *j, uint64_t now) {
  vm_call rec;
  if (now < j->checked_at + CLOSING_CHECK_MS) return 0;
  j->checked_at = now;
  if (vm_call_get(&s->node->ro, &j->id, &rec) != CX_OK || rec.status == CALL_PENDING) return 0;
  pthread_mutex_lock(&s->mu);
  if (rec.status == CALL_DONE) s->pub.done++;
  else s->pub.aborted++;
  pthread_mutex_unlock(&s->mu);
  return 1;
}

/* A dealer whose commitment of call j is missing but that signed the
 * call's abort instead (it could not deal this call of its batch: no
 * record, out of range...): this party signs the same statement, with the
 * code whose statement the dealer's signature covers. Returns 1 if so. */
static int take_dealer_abort(call_service *s, job *j) {
  static const cx_err codes[] = {CX_E_MPC_CHECK_FAILED, CX_E_MPC_TIMEOUT, CX_E_MPC_CLIENT_REJECTED};
  for (size_t d = 0; d < j->ndom; d++) {
    const psig *p = &j->sigs[j->dealer[d]];
    if (j->have_in[d] || !p->have || p->bad || p->status != CX_CALL_ABORTED) continue;
    for (size_t c = 0; c < sizeof codes / sizeof *codes; c++) {
      cx_tx_call_result r;
      cx_hash st;
      memset(&r, 0, sizeof r);
      r.call = j->id;
      r.status = CX_CALL_ABORTED;
      r.code = abort_class(codes[c]);
      tx_result_statement(&s->node->chain_id, &r, &j->rec.contract, &j->rec.consent, &j->rec.did, &st);
      if (!hash_eq(&st, &p->statement)) continue;
      finish(s, j, CX_CALL_ABORTED, codes[c], p->reason[0] ? p->reason : "a bureau did not deal its input");
      return 1;
    }
  }
  return 0;
}

static int closing_step(call_service *s, job *j) {
  uint64_t now = mono(s);
  if (closed_on_chain(s, j, now)) return 1;
  if (now - j->ended_at > CLOSE_MAX_MS) {
    char hex[65];
    pub_error(s, "call %.16s: no result committed %d s after the sessions ended", hash_hex(&j->id, hex),
              CLOSE_MAX_MS / 1000);
    return 1;
  }
  if (!j->have_mine) {
    /* DONE but a dealer's commitment is missing */
    int all = 1;
    for (size_t d = 0; d < j->ndom; d++) all &= j->have_in[d];
    if (!all && take_dealer_abort(s, j)) return 0;
    if (all) {
      memcpy(j->res.in, j->in, sizeof j->in);
      finish(s, j, CX_CALL_DONE, CX_OK, "");
    } else if (now - j->ended_at > 3ull * s->node->cfg.mpc_round_timeout_ms) {
      finish(s, j, CX_CALL_ABORTED, CX_E_MPC_TIMEOUT, "a bureau dealt its input but sent no commitment");
    }
    return 0;
  }
  for (uint32_t p = 0; p < j->n; p++) {
    if (j->fprop[p] && !j->fs[p].ts) fs_open(s, j, p); /* came before my result, or before a member's */
    fs_pump(s, j, p); /* timers; a signer also answers later coordinators */
  }
  if (j->submitted) return 0;
  if (my_turn(j, now) && frost_turn(s, j, now) && (j->frost == FR_SIGNED || quorum_sigs_ok(s, j))) submit(s, j);
  return 0;
}

/* Every CLOSING_TICK_MS at most: each step reads the call's record, and the
 * loop turns once per batch of incoming messages (hundreds a second while
 * sessions run). */
#define CLOSING_TICK_MS 10
static void closing_tick(call_service *s) {
  uint64_t now = mono(s);
  if (now < s->closing_at + CLOSING_TICK_MS) return;
  s->closing_at = now;
  size_t w = 0;
  for (size_t i = 0; i < s->nclosing; i++) {
    if (closing_step(s, s->closing[i])) job_free(s, s->closing[i]);
    else s->closing[w++] = s->closing[i];
  }
  s->nclosing = w;
}

/* ---- evidence ----------------------------------------------------------- */

/* An engine abort that names a culprit: its evidence goes on chain as a
 * TX_MPC_EVIDENCE (docs/calls.md §5), copied out of the session before
 * batch_fail() frees it. It names the batch's lead call, whose session ids
 * the batch ran under. Every honest party that saw the cheat reports it; the
 * chain keeps the first report per (call, culprit), and a later one is
 * refused at admission or gets an evidence_exists receipt. Evidence whose
 * transaction would pass CX_TX_MAX_BYTES cannot go on chain: logged. */
static void report_culprit(call_service *s, const batch *b, const mpc_status *st) {
  node *n = s->node;
  const job *j = b->jobs[0]; /* the sessions are the lead call's */
  const mpc_evidence *ev = mpc_session_evidence(b->sess);
  char hex[65];
  hash_hex(&j->id, hex);
  const char *who = (uint32_t)st->culprit < j->n ? j->names[st->culprit] : "?";
  if (!ev || ev->type == MPC_EV_NONE || ev->culprit != st->culprit || !ev->count) {
    LOG_W("call", "call %.16s: %s named without evidence: nothing to put on chain", hex, who);
    return;
  }
  vm_mpc_evidence have;
  if (vm_mpc_evidence_get(&n->ro, &j->id, (uint8_t)ev->culprit, &have) == CX_OK) {
    LOG_D("call", "call %.16s: evidence against %s already on chain", hex, who);
    return;
  }
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_MPC_EVIDENCE;
  tx.chain_id = n->chain_id;
  cx_tx_mpc_evidence *v = &tx.u.mev;
  v->call = j->id;
  v->session = b->stage == ST_PREP ? CX_MPC_SESSION_PREP : b->stage == ST_BITS ? CX_MPC_SESSION_BITS
                                                                            : CX_MPC_SESSION_ONLINE;
  v->ev_type = (uint8_t)ev->type;
  v->culprit = (uint8_t)ev->culprit;
  v->item = ev->item;
  size_t bytes = ev->aux_len;
  for (size_t i = 0; i < ev->count; i++) bytes += ev->len[i];
  cx_hash txid;
  char detail[128] = "", tid[65];
  cx_err e = tx_mpc_evidence_set(&tx, (const uint8_t *const *)ev->msg, ev->len, ev->count, ev->aux, ev->aux_len);
  if (!e) e = node_submit_own(n, &tx, &txid, detail, sizeof detail);
  if (e == CX_E_TX_TOO_BIG || e == CX_E_TOO_LONG)
    LOG_W("call", "call %.16s: evidence against %s (type %d, %zu messages, %zu bytes) does not fit in a transaction "
          "(%d bytes at most): not put on chain", hex, who, (int)ev->type, ev->count, bytes, CX_TX_MAX_BYTES);
  else if (e == CX_E_EVIDENCE_EXISTS || e == CX_E_DUPLICATE)
    LOG_D("call", "call %.16s: evidence against %s already reported", hex, who);
  else if (e)
    LOG_W("call", "call %.16s: evidence against %s not admitted: %s %s", hex, who, cx_err_name(e), detail);
  else
    LOG_I("call", "call %.16s: evidence against %s submitted (%.16s)", hex, who, hash_hex(&txid, tid));
  tx_clear(&tx);
}

/* ---- the thread --------------------------------------------------------- */

/* One running batch: its session's timers, a stage that ended. Returns 1
 * when the batch is over (its jobs gone to closing, or abandoned). */
static int run_step(call_service *s, batch *b) {
  /* Calls closed on chain while we still run them (we joined late, or the
   * others gave up on us): nothing we compute could count any more. */
  uint64_t now = mono(s);
  if (b->sess && now >= b->checked_at + 200) {
    b->checked_at = now;
    size_t open = 0;
    for (size_t k = 0; k < b->njobs && !open; k++) {
      vm_call rec;
      open = vm_call_get(&s->node->ro, &b->jobs[k]->id, &rec) != CX_OK || rec.status == CALL_PENDING;
    }
    if (!open) {
      char hex[65];
      LOG_I("call", "call %.16s and its batch (%zu) closed on chain while running here: abandoned",
            hash_hex(&b->jobs[0]->id, hex), b->njobs);
      for (size_t k = 0; k < b->njobs; k++) job_free(s, b->jobs[k]);
      batch_free(b);
      return 1;
    }
  }
  const job *l = b->jobs[0];
  if (b->sess) {
    mpc_session_tick(b->sess, mono(s), &s->out);
    flush_out(s, b);
    const mpc_status *st = mpc_session_status(b->sess);
    if (st->state == MPC_DONE) {
      next_stage(s, b);
    } else if (st->state == MPC_ABORTED) {
      char why[CX_RESULT_REASON_MAX + 1];
      const char *stage = b->stage == ST_PREP ? "prep" : b->stage == ST_BITS ? "bits" : "online";
      char who[80] = "";
      for (uint32_t i = 0; i < l->n && i < 64; i++)
        if (st->unresponsive >> i & 1) {
          size_t n = strlen(who);
          snprintf(who + n, sizeof who - n, "%s%s", n ? ", " : "; unresponsive: ", l->names[i]);
        }
      if (st->culprit >= 0) {
        snprintf(why, sizeof why, "%s session: %.140s; culprit %s", stage, st->reason,
                 (uint32_t)st->culprit < l->n ? l->names[st->culprit] : "?");
        report_culprit(s, b, st); /* before batch_fail() frees the session and its evidence */
      } else
        snprintf(why, sizeof why, "%s session: %.90s%s", stage, st->reason, who);
      batch_fail(s, b, st->err, why);
    }
  }
  if (b->sess) return 0;
  /* over: the jobs go on closing on their own, and the next batch may start */
  for (size_t k = 0; k < b->njobs; k++) {
    job *j = b->jobs[k];
    j->b = NULL;
    if (s->nclosing == CLOSING_MAX) {
      job_free(s, s->closing[0]);
      memmove(s->closing, s->closing + 1, (CLOSING_MAX - 1) * sizeof *s->closing);
      s->nclosing--;
    }
    s->closing[s->nclosing++] = j;
  }
  batch_free(b);
  return 1;
}

static void run_tick(call_service *s) {
  size_t w = 0;
  for (size_t i = 0; i < s->nrun; i++) {
    batch *b = s->run[i];
    if (!run_step(s, b)) s->run[w++] = b;
  }
  s->nrun = w;
}

/* Expiry (docs/calls.md §5): a call still PENDING VM_CALL_EXPIRY_BLOCKS
 * after its block is aborted with code `expired` by one party, its
 * signature alone (the rule allows it then); parties submit in turn, and
 * again every minute while it stays pending (a refused or lost one). */
static void submit_expiry(call_service *s, const vm_call *rec, uint32_t me) {
  node *n = s->node;
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_CALL_RESULT;
  tx.chain_id = n->chain_id;
  cx_err e = tx_result_alloc(&tx, 0, 1);
  cx_tx_call_result *r = &tx.u.result;
  cx_hash st, m, txid;
  char detail[128] = "", hex[65];
  if (!e) {
    r->call = rec->id;
    r->status = CX_CALL_ABORTED;
    r->code = (int32_t)CX_E_EXPIRED;
    snprintf(r->reason, sizeof r->reason, "pending for more than %d blocks", VM_CALL_EXPIRY_BLOCKS);
    tx_result_statement(&n->chain_id, r, &rec->contract, &rec->consent, &rec->did, &st);
    tx_result_sig_msg(&st, NULL, 0, &m);
    r->sigs[0].party = (uint8_t)me;
    e = key_sign32(n->keys.sign, m.b, NULL, &r->sigs[0].sig);
  }
  if (!e) e = node_submit_own(n, &tx, &txid, detail, sizeof detail);
  hash_hex(&rec->id, hex);
  if (e)
    LOG_W("call", "call %.16s: expiry not admitted: %s %s", hex, cx_err_name(e), detail);
  else
    LOG_W("call", "call %.16s: pending since block %llu, expiry submitted", hex, (unsigned long long)rec->height);
  tx_clear(&tx);
}

static void watch_tick(call_service *s) {
  uint64_t now = mono(s);
  if (now < s->watch_at + WATCH_EVERY_MS) return;
  s->watch_at = now;
  uint64_t height = store_height(s->node->st);
  size_t w = 0;
  for (size_t i = 0; i < s->nwatch; i++) {
    vm_call rec;
    if (vm_call_get(&s->node->ro, &s->watch[i].id, &rec) != CX_OK || rec.status != CALL_PENDING) continue;
    s->watch[w++] = s->watch[i];
    if (height <= rec.height + VM_CALL_EXPIRY_BLOCKS) continue;
    uint32_t me = 0;
    while (me < rec.nparties && memcmp(rec.parties[me].b, s->node->keys.pub.b, 32) != 0) me++;
    if (me == rec.nparties) continue; /* not a party */
    if (!s->watch[w - 1].due_at) s->watch[w - 1].due_at = now + (uint64_t)me * EXPIRY_STAGGER_MS;
    if (now >= s->watch[w - 1].due_at &&
        (!s->watch[w - 1].sent_at || now >= s->watch[w - 1].sent_at + 60000)) {
      s->watch[w - 1].sent_at = now;
      submit_expiry(s, &rec, me);
    }
  }
  s->nwatch = w;
}

static void *svc_main(void *arg) {
  log_thread_name("cx-calls");
  call_service *s = arg;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    if (!s->stop && !s->inq.n && !s->nnew) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += (s->nrun || s->nclosing ? 10 : 100) * 1000000L;
      ts.tv_sec += ts.tv_nsec / 1000000000L;
      ts.tv_nsec %= 1000000000L;
      pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    int stop = s->stop;
    clist in = s->inq;
    memset(&s->inq, 0, sizeof s->inq);
    for (size_t i = 0; i < s->nnew; i++) {
      if (s->qn < NEWCALL_MAX) s->queue[(s->qh + s->qn++) % NEWCALL_MAX] = s->newc[i];
      if (s->nwatch == WATCH_MAX) memmove(s->watch, s->watch + 1, --s->nwatch * sizeof *s->watch);
      s->watch[s->nwatch].id = s->newc[i].id;
      s->watch[s->nwatch].due_at = s->watch[s->nwatch].sent_at = 0;
      s->nwatch++;
    }
    s->nnew = 0;
    s->pub.queued = s->qn;
    s->pub.running = (int)s->nrun;
    s->pub.closing = s->nclosing;
    pthread_mutex_unlock(&s->mu);
    if (stop) {
      cl_free(&in);
      break;
    }
    cmsg *m;
    while ((m = cl_pop(&in))) route(s, m);
    out_flush(s);
    run_tick(s);
    out_flush(s);
    while (s->nrun < RUN_MAX && s->qn) {
      if (!s->nrun) s->stalled = 0; /* a peer that stalled gets another chance */
      start_batch(s);
      run_tick(s); /* a batch that failed at once goes straight to closing */
      out_flush(s);
    }
    closing_tick(s);
    watch_tick(s);
    out_flush(s);
  }
  return NULL;
}

/* ---- lifetime ----------------------------------------------------------- */

cx_err call_service_start(node *n, char *err, size_t errlen) {
  if (!n->net) return CX_OK;
  call_service *s = calloc(1, sizeof *s);
  if (!s) return CX_E_NOMEM;
  s->node = n;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->newc = calloc(NEWCALL_MAX, sizeof *s->newc);
  s->queue = calloc(NEWCALL_MAX, sizeof *s->queue);
  s->watch = calloc(WATCH_MAX, sizeof *s->watch);
  s->jidx = calloc(JIDX_CAP, sizeof *s->jidx);
  n->calls = s;
  if (!s->newc || !s->queue || !s->watch || !s->jidx) {
    snprintf(err, errlen, "calls: out of memory");
    call_service_free(n);
    return CX_E_NOMEM;
  }
  net_on(n->net, NET_MSG_CALL, on_call, s);
  if (pthread_create(&s->th, NULL, svc_main, s) != 0) {
    snprintf(err, errlen, "calls: cannot start the service thread");
    return CX_E_INTERNAL; /* node_close frees it */
  }
  s->running = 1;
  return CX_OK;
}

void call_service_stop(node *n) {
  call_service *s = n->calls;
  if (!s || !s->running) return;
  pthread_mutex_lock(&s->mu);
  __atomic_store_n(&s->stop, 1, __ATOMIC_RELAXED);
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->th, NULL);
  s->running = 0;
}

void call_service_free(node *n) {
  call_service *s = n->calls;
  if (!s) return;
  call_service_stop(n);
  for (size_t i = 0; i < s->nrun; i++) {
    for (size_t k = 0; k < s->run[i]->njobs; k++) job_free(s, s->run[i]->jobs[k]);
    batch_free(s->run[i]);
  }
  for (size_t i = 0; i < s->nclosing; i++) job_free(s, s->closing[i]);
  for (size_t i = 0; i < CIRC_MAX; i++) lang_free(s->circs[i].c);
  free(s->jidx);
  mpc_outbox_free(&s->out);
  cl_free(&s->inq);
  cl_free(&s->stash);
  for (size_t i = 0; i < s->noutq; i++) free(s->outq[i].buf);
  free(s->newc);
  free(s->queue);
  free(s->watch);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
  n->calls = NULL;
}
