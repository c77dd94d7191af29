/* host.c: the host of the bft engine (consensus/bft.h) — carrying out its
 * actions, its timers, the event queue, consensus messages on the wire
 * (NET_MSG_CONSENSUS), the consensus thread, and node_produce_block.
 * Threads and locks: node_internal.h. (docs/consensus.md, "The node's
 * wiring"; docs/net.md, "Delivery".) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "fileutil.h"
#include "journal.h"
#include "log.h"
#include "net.h"
#include "node_internal.h"

#define STATUS_EVERY_MS 1000

/* ---- driving the engine ---- */

void host_fatal(node *n, cx_err e, const char *what) {
  LOG_E("node", "consensus stopped: %s: %s", what, cx_err_str(e));
  pthread_mutex_lock(&n->mu);
  if (!n->failed) n->fatal = e;
  n->failed = 1;
  n->stop = 1;
  pthread_cond_broadcast(&n->cv);
  pthread_mutex_unlock(&n->mu);
}

static void push_event(node *n, const bft_event *ev) {
  /* Bounded by construction: each action yields at most one event and the
   * queue is drained between engine steps. */
  CX_ASSERT(n->npend < PENDING_MAX);
  n->pend[n->npend++] = *ev;
}

static void send_consensus(node *n, const bft_msg *m);
static int verify_msg(node *n, const bft_msg *m, const cx_pubkey *pk);

static void timer_set(node *n, const bft_action *a) {
  cs_timer *slot = NULL;
  for (size_t i = 0; i < TIMERS_MAX && !slot; i++)
    if (!n->timers[i].used) slot = &n->timers[i];
  if (!slot) { /* full: replace the one due first (the engine ignores stale ones) */
    slot = &n->timers[0];
    for (size_t i = 1; i < TIMERS_MAX; i++)
      if (n->timers[i].at < slot->at) slot = &n->timers[i];
  }
  *slot = (cs_timer){.used = 1, .at = n->clock->mono_ms(n->clock) + a->ms, .kind = a->timeout,
                     .height = a->height, .round = a->round};
}

/* One PERSIST is one synced append to DATA/safety (storage/journal.h;
 * record layout in node_internal.h): the record, and with it the blocks
 * behind our valid value and our lock when they changed. Those blocks must
 * outlive a crash: after a restart the engine re-proposes its valid value
 * and may commit its locked one, and a consortium of one (or a node whose
 * peers all moved on) has nobody to fetch them from. In the same append
 * as the record that names them, no signature ever names a block this node
 * could lose. (They were a synced LevelDB put before the record's own
 * fdatasync: two syncs for the PERSIST that locks, and every height's held
 * blocks written into LevelDB, left for its compactions.) The first
 * record of a journal file carries its held blocks whatever changed, so
 * the file stands alone. */
#define HELD_VERSION 1     /* of the held blocks older versions kept apart */
#define HELD_RECORD "held" /* the store's aux record of those versions */

static cx_err encode_safety_rec(const bft_safety *s, const bcache_ent **ent, size_t k,
                                int with_held, cx_enc *e) {
  uint8_t rec[BFT_SAFETY_LEN];
  bft_safety_encode(s, rec);
  enc_init(e);
  enc_u8(e, SAFETY_REC_VERSION);
  enc_fixed(e, rec, sizeof rec);
  enc_u8(e, with_held ? 1 : 0);
  if (with_held) {
    enc_varint(e, k);
    for (size_t i = 0; i < k; i++) {
      enc_varint(e, ent[i]->len);
      enc_fixed(e, ent[i]->bytes, ent[i]->len);
    }
  }
  return enc_finish(e);
}

static cx_err persist(node *n, const bft_safety *s) {
  const cx_hash *want[2] = {&s->valid_hash, &s->locked_hash};
  const bcache_ent *ent[2] = {NULL, NULL};
  size_t k = 0;
  for (int i = 0; i < 2; i++) {
    if (hash_is_zero(want[i]) || (i == 1 && hash_eq(want[0], want[1]))) continue;
    const bcache_ent *b = blocks_cache_find(n, want[i]);
    if (b) ent[k++] = b; /* a block we never had cannot be re-proposed by us */
  }
  int same = k == n->nheld;
  for (size_t i = 0; same && i < k; i++) same = hash_eq(&ent[i]->hash, &n->held[i]);
  int with_held = !same || journal_fresh(n->jr);
  cx_enc e;
  cx_err err = encode_safety_rec(s, ent, k, with_held, &e);
  if (!err) err = journal_append(n->jr, e.buf, e.len);
  if (err == CX_E_FULL) { /* a new file, whose first record stands alone */
    if (!with_held) {
      enc_free(&e);
      err = encode_safety_rec(s, ent, k, with_held = 1, &e);
    }
    if (!err) err = journal_restart(n->jr, e.buf, e.len);
  }
  enc_free(&e);
  if (err) return err;
  if (!n->held_file_gone) { /* an older version's DATA/held: superseded now */
    if (unlink(n->held_path) == 0) LOG_I("node", "%s: superseded by DATA/safety, removed", n->held_path);
    n->held_file_gone = 1;
  }
  n->nheld = k;
  for (size_t i = 0; i < k; i++) n->held[i] = ent[i]->hash;
  return CX_OK;
}

/* The held blocks at node_open: the journal's (n->held_rec), else an older
 * version's store record or DATA/held. */
void host_load_held(node *n) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int versioned = 1; /* the older forms start with HELD_VERSION */
  if (n->held_rec) {
    buf = n->held_rec;
    len = n->held_rec_len;
    n->held_rec = NULL;
    versioned = 0;
  } else if (store_aux_get(n->st, HELD_RECORD, &buf, &len) != CX_OK) {
    char *fb = NULL;
    if (file_read_all(n->held_path, 2 * (CX_BLOCK_MAX_BYTES + 16) + 16, &fb, &len) != CX_OK)
      return;
    buf = (uint8_t *)fb;
  }
  cx_dec d;
  dec_init(&d, buf, len);
  uint8_t ver = HELD_VERSION;
  uint64_t k = 0;
  if ((versioned && dec_u8(&d, &ver)) || ver != HELD_VERSION || dec_varint(&d, &k) || k > 2) {
    LOG_W("node", "held blocks record unreadable, ignored (its blocks will come from peers)");
    free(buf);
    return;
  }
  for (uint64_t i = 0; i < k; i++) {
    size_t bl = 0;
    const uint8_t *bp = NULL;
    cx_block_header h;
    cx_hash hash;
    if (dec_bytes(&d, &bp, &bl, CX_BLOCK_MAX_BYTES) || block_peek(bp, bl, &h, &hash) != CX_OK)
      break;
    if (h.height != store_height(n->st) + 1 || blocks_cache_find(n, &hash)) continue;
    uint8_t *copy = malloc(bl);
    if (!copy) break;
    memcpy(copy, bp, bl);
    bcache_ent *b = blocks_cache_slot(n);
    b->hash = hash;
    b->bytes = copy;
    b->len = bl;
    n->held[n->nheld++] = hash;
  }
  free(buf);
}

/* Carries out one action; events it produces are queued in n->pend.
 * Returns non-zero after a fatal error (then nothing more is carried out). */
static int do_action(node *n, const bft_action *a) {
  cx_err e;
  bft_event ev;
  switch (a->type) {
    case BFT_ACT_PERSIST:
      /* Durable before anything that follows (bft.h): a failure is fatal. */
      if ((e = persist(n, &a->safety))) {
        host_fatal(n, e, "cannot persist the safety record");
        return 1;
      }
      return 0;
    case BFT_ACT_BROADCAST:
      send_consensus(n, &a->msg);
      return 0;
    case BFT_ACT_BUILD_BLOCK:
      memset(&ev, 0, sizeof ev);
      if (a->height != store_height(n->st) + 1) return 0; /* not our height: ignore */
      if ((e = blocks_build(n, a->height, a->round, &ev.block_hash))) {
        host_fatal(n, e, "cannot build a block");
        return 1;
      }
      ev.type = BFT_EV_BLOCK_READY;
      ev.height = a->height;
      ev.round = a->round;
      push_event(n, &ev);
      return 0;
    case BFT_ACT_CHECK_PROPOSAL: {
      memset(&ev, 0, sizeof ev);
      ev.type = BFT_EV_PROPOSAL_CHECKED;
      ev.height = a->height;
      ev.round = a->round;
      ev.block_hash = a->block_hash;
      bcache_ent *ent = blocks_cache_find(n, &a->block_hash);
      if (ent && ent->executed == 0 && a->height == store_height(n->st) + 1) {
        char why[160];
        if (blocks_exec(n, ent, 0, why, sizeof why)) {
          char hex[65];
          LOG_W("node", "proposal %s at height %llu round %u is invalid: %s",
                hash_hex(&ent->hash, hex), (unsigned long long)a->height, (unsigned)a->round, why);
        }
      }
      ev.valid = ent && ent->executed == 1;
      push_event(n, &ev);
      return 0;
    }
    case BFT_ACT_COMMIT: {
      bcache_ent *ent = blocks_cache_find(n, &a->block_hash);
      char hex[65];
      if (a->height != store_height(n->st) + 1) return 0;
      if (ent && ent->executed == 0) {
        char why[160];
        if (blocks_exec(n, ent, 0, why, sizeof why))
          LOG_E("node", "decided block %s does not execute here: %s", hash_hex(&ent->hash, hex),
                why);
      }
      if (!ent || ent->executed != 1) {
        /* A quorum decided a block we cannot apply: block sync fetches it
         * (with its certificate) from a peer that committed it. */
        LOG_W("node", "decided block %s at height %llu is not here; waiting for block sync",
              hash_hex(&a->block_hash, hex), (unsigned long long)a->height);
        return 0;
      }
      if ((e = blocks_commit(n, ent, &a->cert, &ev))) {
        host_fatal(n, e, "cannot commit");
        return 1;
      }
      push_event(n, &ev);
      return 0;
    }
    case BFT_ACT_SET_TIMER:
      timer_set(n, a);
      return 0;
    case BFT_ACT_EVIDENCE:
      node_evidence_found(n, a);
      return 0;
  }
  return 0;
}

/* What an event was, for the debug trace. */
static const char *ev_name(const bft_event *ev, char *buf, size_t len) {
  static const char *const tk[] = {"?", "propose", "prevote", "precommit", "rebroadcast"};
  switch (ev->type) {
    case BFT_EV_START: return "start";
    case BFT_EV_TIMEOUT:
      snprintf(buf, len, "timeout %s of round %u", tk[ev->timeout <= 4 ? ev->timeout : 0], (unsigned)ev->round);
      return buf;
    case BFT_EV_MESSAGE:
      snprintf(buf, len, "%s of round %u from signer %u", bft_msg_type_name(ev->msg.type),
               (unsigned)ev->msg.round, (unsigned)ev->msg.signer);
      return buf;
    case BFT_EV_PROPOSAL_CHECKED: return "proposal checked";
    case BFT_EV_BLOCK_READY: return "block ready";
    case BFT_EV_COMMITTED: return "committed";
  }
  return "?";
}

/* Feeds ev and every event its actions produce, carrying out the actions in
 * order (bft.h). */
void host_drive(node *n, const bft_event *ev) {
  n->npend = 0;
  push_event(n, ev);
  while (n->npend && !node_failed(n)) {
    bft_event cur = n->pend[0];
    memmove(&n->pend[0], &n->pend[1], (n->npend - 1) * sizeof n->pend[0]);
    n->npend--;
    size_t na = bft_step(n->eng, &cur, n->act);
    CX_ASSERT(na <= BFT_MAX_ACTIONS);
    for (size_t i = 0; i < na; i++)
      if (do_action(n, &n->act[i])) break;
  }
  n->npend = 0;
  node_publish_status(n);
  /* Debug trace of the engine's progress: one line per new (height,
   * round), so a stall can be read off the logs (which round, which
   * step, whether the height was started). */
  char why[64];
  if (log_get_level() <= LOG_DEBUG && (n->snap.height != n->trace_height || n->snap.round != n->trace_round)) {
    n->trace_height = n->snap.height;
    n->trace_round = n->snap.round;
    LOG_D("consensus", "height %llu round %u step %u locked %d valid %d (after %s)",
          (unsigned long long)n->snap.height, (unsigned)n->snap.round, (unsigned)n->snap.step,
          n->snap.locked_round == BFT_NIL_ROUND ? -1 : (int)n->snap.locked_round,
          n->snap.valid_round == BFT_NIL_ROUND ? -1 : (int)n->snap.valid_round, ev_name(ev, why, sizeof why));
  }
}

static void feed_start(node *n) {
  if (n->started) return;
  __atomic_store_n(&n->started, 1, __ATOMIC_RELAXED);
  bft_event ev = {.type = BFT_EV_START, .height = store_height(n->st) + 1};
  host_drive(n, &ev);
}

/* ---- consensus messages on the wire ----
 * NET_MSG_CONSENSUS payload: node_internal.h (host_wire_decode). */

int host_sig_ok(node *n, const bft_msg *m) {
  pthread_mutex_lock(&n->vmu);
  int ok = m->signer < n->nvk && verify_msg(n, m, &n->vkeys[m->signer]);
  pthread_mutex_unlock(&n->vmu);
  return ok;
}

/* Our own messages, and another's (a relay) whose signature checks
 * (on_signer_link). */
static int sendable(node *n, const bft_msg *m) {
  pthread_mutex_lock(&n->vmu);
  int own = m->signer < n->nvk && memcmp(n->vkeys[m->signer].b, n->keys.pub.b, 32) == 0;
  pthread_mutex_unlock(&n->vmu);
  return own || host_sig_ok(n, m);
}

static void send_consensus(node *n, const bft_msg *m) {
  if (!n->net || !sendable(n, m)) return;
  uint8_t mb[BFT_MSG_MAX];
  size_t ml = bft_msg_encode(m, mb);
  const bcache_ent *ent = NULL;
  if (m->type == BFT_PROPOSAL) {
    ent = blocks_cache_find(n, &m->block_hash);
    if (!ent) {
      char hex[65];
      LOG_E("node", "proposal for %s: block not in the cache, not sent",
            hash_hex(&m->block_hash, hex));
      return;
    }
  }
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, CS_WIRE_VERSION);
  enc_varint(&e, ml);
  enc_fixed(&e, mb, ml);
  if (ent) enc_fixed(&e, ent->bytes, ent->len);
  if (enc_finish(&e) == CX_OK) net_broadcast(n->net, NET_MSG_CONSENSUS, e.buf, e.len);
  enc_free(&e);
#if CUSTOS_TESTING
  /* Test builds only: CUSTOS_TEST_EQUIVOCATE=1 makes this node a Byzantine
   * validator that follows every prevote for a block with a conflicting,
   * validly signed prevote for nil (tests/integration/test_evidence.sh);
   * =badsig spoils that twin's signature (test_evidence_badsig.sh: its own
   * link carries it unchecked, so it must not become evidence). */
  static int equivocate = -1;
  if (equivocate < 0) {
    const char *v = getenv("CUSTOS_TEST_EQUIVOCATE");
    equivocate = !v ? 0 : strcmp(v, "badsig") == 0 ? 2 : 1;
  }
  if (equivocate && m->type == BFT_PREVOTE && !hash_is_zero(&m->block_hash)) {
    bft_msg twin = *m;
    memset(&twin.block_hash, 0, sizeof twin.block_hash);
    uint8_t dg[32];
    bft_msg_digest(&n->chain_id, &twin, dg);
    if (key_sign32(n->keys.sign, dg, NULL, &twin.sig) == CX_OK) {
      if (equivocate == 2) twin.sig.b[7] ^= 0x40;
      send_consensus(n, &twin);
    }
  }
#endif
}

/* Queue for the consensus thread. Takes data (malloc'd) on success; on a
 * full queue frees it and returns 0 (the sender retransmits). */
int host_enqueue(node *n, const qev *ev) {
  pthread_mutex_lock(&n->mu);
  if (n->stop || n->qn == EVQ_MAX || n->qbytes + ev->len > EVQ_BYTES_MAX) {
    pthread_mutex_unlock(&n->mu);
    free(ev->data);
    return 0;
  }
  n->q[(n->qhead + n->qn) % EVQ_MAX] = *ev;
  n->qn++;
  n->qbytes += ev->len;
  pthread_cond_signal(&n->cv);
  pthread_mutex_unlock(&n->mu);
  return 1;
}

static int verify_msg(node *n, const bft_msg *m, const cx_pubkey *pk) {
  uint8_t dg[32];
  bft_msg_digest(&n->chain_id, m, dg);
  return sig_verify(pk, dg, 32, &m->sig);
}

static cx_err wire_refuse(node_refusal *r, cx_err e, const char *what, const char *why) {
  if (r) {
    r->what = what;
    r->why = why;
  }
  return e;
}

cx_err host_wire_decode(const uint8_t *p, size_t len, bft_msg *m, const uint8_t **block,
                        size_t *block_len, node_refusal *r) {
  cx_dec d;
  uint8_t ver = 0;
  uint64_t ml = 0;
  cx_err e;
  *block = NULL;
  *block_len = 0;
  dec_init(&d, p, len);
  if (dec_u8(&d, &ver) || ver != CS_WIRE_VERSION)
    return wire_refuse(r, CX_E_BAD_VERSION, "consensus message", "unknown version");
  if (dec_varint_max(&d, &ml, BFT_MSG_MAX) || len - d.off < ml)
    return wire_refuse(r, d.err ? d.err : CX_E_TRUNCATED, "consensus message", "bad length");
  if ((e = bft_msg_decode(p + d.off, (size_t)ml, m)))
    return wire_refuse(r, e, "consensus message", "does not decode");
  const uint8_t *blk = p + d.off + ml;
  size_t bl = len - d.off - (size_t)ml;
  if (m->type == BFT_PROPOSAL) {
    cx_block_header h;
    cx_hash bh;
    if (bl == 0 || bl > CX_BLOCK_MAX_BYTES || block_peek(blk, bl, &h, &bh) ||
        !hash_eq(&bh, &m->block_hash))
      return wire_refuse(r, CX_E_INVALID_ARG, "proposal",
                         "block missing or not the announced one");
    *block = blk;
    *block_len = bl;
  } else if (bl) {
    return wire_refuse(r, CX_E_TRAILING, "vote", "trailing bytes");
  }
  return CX_OK;
}

/* A proposal or prevote that comes over its signer's own member link is
 * taken without checking its BIP340 signature: the link (Noise IK, the
 * member's static key from the chain) already says who sent it, and
 * nothing of it goes on chain or to anyone else unchecked: a relayed
 * message is checked before it leaves (send_consensus), the two halves of
 * an equivocation before they become evidence (node_evidence_found), and
 * precommits, which make the commit certificate, are always checked on
 * arrival. A member that signs badly on its own link gains nothing it
 * could not have by signing well. This saves 4 of the 7 verifications a
 * validator makes per height (docs/consensus.md, "Signature checks"). */
static int on_signer_link(const char *link, const char *signer_name, uint8_t type) {
  return type != BFT_PRECOMMIT && strcmp(link, signer_name) == 0;
}

/* Net thread: cheap checks first, then the signature against the set of
 * the message's height (known for the current height; a message for
 * height + 1 is checked by the consensus thread once that set is known). */
void host_on_consensus(void *ctx, const char *from, unsigned type, const uint8_t *p,
                       size_t len) {
  node *n = ctx;
  bft_msg m;
  const uint8_t *blk;
  size_t bl;
  node_refusal r;
  if (host_wire_decode(p, len, &m, &blk, &bl, &r)) {
    node_refuse(n, &n->cs_bad, r.what, from, r.why);
    return;
  }
  cx_pubkey pk;
  int known = 0;
  pthread_mutex_lock(&n->vmu);
  uint64_t cur = n->vheight;
  int direct = 0;
  if (m.height == cur && m.signer < n->nvk) {
    pk = n->vkeys[m.signer];
    known = 1;
    direct = on_signer_link(from, n->vlinks[m.signer], m.type);
  }
  pthread_mutex_unlock(&n->vmu);
  if (m.height != cur && m.height != cur + 1) return; /* stale or far ahead: sync's job */
  if (m.height == cur && !known) {
    node_refuse(n, &n->cs_bad, "consensus message", from, "signer index out of the validator set");
    return;
  }
  if (m.signer >= CX_MAX_VALIDATORS) {
    node_refuse(n, &n->cs_bad, "consensus message", from, "signer index out of range");
    return;
  }
  if (known && !direct && !verify_msg(n, &m, &pk)) {
    node_refuse(n, &n->cs_bad, "consensus message", from, "bad signature");
    return;
  }
  qev ev = {.type = QE_MSG, .verified = (uint8_t)known, .msg = m};
  snprintf(ev.from, sizeof ev.from, "%s", from);
  if (bl) {
    if (!(ev.data = malloc(bl))) return;
    memcpy(ev.data, blk, bl);
    ev.len = bl;
  }
  host_enqueue(n, &ev);
}

static void defer_msg(node *n, qev *ev) {
  if (n->ndefer == DEFER_MAX || n->defer_bytes + ev->len > DEFER_BYTES_MAX) {
    free(ev->data); /* dropped: the sender rebroadcasts */
    return;
  }
  n->defer[n->ndefer++] = *ev;
  n->defer_bytes += ev->len;
}

/* Consensus thread: a message (owned, ev->data freed here). */
static void handle_msg(node *n, qev *ev) {
  uint64_t cur = store_height(n->st) + 1;
  if (ev->msg.height < cur || ev->msg.height > cur + 1) {
    free(ev->data);
    return;
  }
  if (ev->msg.height == cur + 1) {
    defer_msg(n, ev);
    return;
  }
  if (!ev->verified) {
    /* n->vlinks: written by this thread (node_publish_validators) */
    int ok = ev->msg.signer < n->nvk &&
             (on_signer_link(ev->from, n->vlinks[ev->msg.signer], ev->msg.type) ||
              host_sig_ok(n, &ev->msg));
    if (!ok) {
      node_refuse(n, &n->cs_bad, "consensus message", ev->from, "bad signer or signature");
      free(ev->data);
      return;
    }
  }
  if (ev->msg.type == BFT_PROPOSAL && ev->data && !blocks_cache_find(n, &ev->msg.block_hash)) {
    bcache_ent *b = blocks_cache_slot(n);
    b->hash = ev->msg.block_hash;
    b->bytes = ev->data;
    b->len = ev->len;
    ev->data = NULL;
  }
  free(ev->data);
  /* Another validator is deciding this height: take part even with an
   * empty mempool. */
  feed_start(n);
  bft_event be = {.type = BFT_EV_MESSAGE, .height = ev->msg.height, .round = ev->msg.round,
                  .msg = ev->msg};
  host_drive(n, &be);
}

/* After a commit: the messages kept for the new height. */
void host_replay_deferred(node *n) {
  while (n->ndefer && !node_failed(n)) {
    uint64_t cur = store_height(n->st) + 1;
    size_t i = 0;
    while (i < n->ndefer && n->defer[i].msg.height > cur) i++;
    if (i == n->ndefer) break; /* all still ahead */
    qev ev = n->defer[i];
    n->defer_bytes -= ev.len;
    memmove(&n->defer[i], &n->defer[i + 1], (n->ndefer - i - 1) * sizeof *n->defer);
    n->ndefer--;
    handle_msg(n, &ev); /* stale ones are dropped there */
  }
}

/* ---- the consensus thread ---- */

static void handle_qev(node *n, qev *ev) {
  if (ev->type == QE_MSG) {
    handle_msg(n, ev);
  } else {
    sync_apply_blocks(n, ev);
    free(ev->data);
  }
  host_replay_deferred(n);
}

/* Fires the earliest due timer (all timers when force). 1 if one fired. */
static int fire_timer(node *n, uint64_t now, int force) {
  cs_timer *t = NULL;
  for (size_t i = 0; i < TIMERS_MAX; i++)
    if (n->timers[i].used && (force || n->timers[i].at <= now) && (!t || n->timers[i].at < t->at))
      t = &n->timers[i];
  if (!t) return 0;
  bft_event ev = {.type = BFT_EV_TIMEOUT, .height = t->height, .round = t->round,
                  .timeout = t->kind};
  t->used = 0;
  host_drive(n, &ev);
  return 1;
}

static uint64_t next_timer_at(const node *n) {
  uint64_t at = UINT64_MAX;
  for (size_t i = 0; i < TIMERS_MAX; i++)
    if (n->timers[i].used && n->timers[i].at < at) at = n->timers[i].at;
  return at;
}

/* START when there are transactions and block.interval_ms has passed since
 * the last commit (no empty blocks), or at once when a full block
 * (genesis block_max_txs) is waiting: the interval is there to gather a
 * block under light load; with a full block already there, waiting it out
 * only caps the chain at block_max_txs per interval while the backlog
 * grows. */
/* The mempool's size; *full: a whole block (genesis block_max_txs) waits. */
static size_t mempool_waiting(node *n, int *full) {
  mempool_stats ms;
  mempool_stats_get(n->mp, &ms);
  *full = ms.size >= n->genesis.block_max_txs;
  return ms.size;
}

static int maybe_start(node *n, uint64_t now) {
  int full;
  if (n->started || mempool_waiting(n, &full) == 0) return 0;
  if (now < n->last_commit_mono + n->cfg.block_interval_ms && !full) return 0;
  feed_start(n);
  return 1;
}

void host_nudge_full(node *n) {
  int full;
  if (__atomic_load_n(&n->started, __ATOMIC_RELAXED)) return;
  mempool_waiting(n, &full);
  if (!full) return;
  pthread_mutex_lock(&n->mu);
  pthread_cond_signal(&n->cv);
  pthread_mutex_unlock(&n->mu);
}

void *host_cs_main(void *arg) {
  node *n = arg;
  uint64_t next_status = 0;
  unsigned poll = n->cfg.block_interval_ms < 50 ? n->cfg.block_interval_ms : 50;
  if (poll == 0) poll = 1;
  pthread_mutex_lock(&n->mu);
  while (!n->stop) {
    if (n->qn) {
      qev ev = n->q[n->qhead];
      n->qhead = (n->qhead + 1) % EVQ_MAX;
      n->qn--;
      n->qbytes -= ev.len;
      pthread_mutex_unlock(&n->mu);
      handle_qev(n, &ev);
      pthread_mutex_lock(&n->mu);
      continue;
    }
    pthread_mutex_unlock(&n->mu);
    uint64_t now = n->clock->mono_ms(n->clock);
    int did = fire_timer(n, now, 0);
    if (!did && now >= next_status) {
      statesync_serve_tick(n); /* the consensus thread's beat (also at each commit) */
      sync_send_status(n, NULL);
      next_status = now + STATUS_EVERY_MS;
    }
    if (!did) did = maybe_start(n, now);
    if (did) host_replay_deferred(n);
    pthread_mutex_lock(&n->mu);
    if (did || n->stop || n->qn) continue;
    uint64_t wake = next_timer_at(n);
    if (next_status < wake) wake = next_status;
    if (!n->started) {
      /* Wake when block.interval_ms runs out (not up to poll later); past
       * it, poll the mempool (nothing signals its first transaction). */
      uint64_t due = n->last_commit_mono + n->cfg.block_interval_ms;
      uint64_t at = due > now ? due : now + poll;
      if (at < wake) wake = at;
    }
    if (wake > now + 1000) wake = now + 1000;
    uint64_t wait = wake > now ? wake - now : 0;
    if (wait == 0) continue;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(wait / 1000);
    ts.tv_nsec += (long)(wait % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&n->cv, &n->mu, &ts);
  }
  pthread_mutex_unlock(&n->mu);
  return NULL;
}

/* In-process: one height driven synchronously (n = 1). Timers the engine
 * sets are fired at once if it waits on one (nobody else can vote). */
cx_err node_produce_block(node *n, size_t *ntx) {
  mempool_stats ms;
  *ntx = 0;
  pthread_mutex_lock(&n->vmu);
  size_t nvk = n->nvk;
  pthread_mutex_unlock(&n->vmu);
  if (nvk != 1 || n->cs_running) return CX_E_CONFIG;
  mempool_stats_get(n->mp, &ms);
  if (ms.size == 0) return CX_OK;
  uint64_t h = store_height(n->st) + 1;
  n->last_commit_ntx = 0;
  feed_start(n);
  for (int k = 0; k < 16 && store_height(n->st) < h && !node_failed(n); k++)
    if (!fire_timer(n, 0, 1)) break;
  if (node_failed(n)) return n->fatal ? n->fatal : CX_E_INTERNAL;
  if (store_height(n->st) < h) {
    LOG_E("node", "height %llu was not decided in-process", (unsigned long long)h);
    return CX_E_INTERNAL;
  }
  *ntx = n->last_commit_ntx;
  return CX_OK;
}
