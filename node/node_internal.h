/* node internals: struct node and the few functions the node's files call
 * across each other. Not a public header: only node/{node,blocks,host,sync,
 * mpc_service}.c include it (and api.c, for node_mpc_status and
 * node_vault_of; metrics.c, for the counters /metrics reads);
 * everything else uses node.h. (docs/consensus.md, "The node's
 * wiring"; docs/net.md, "Membership" and "Transaction gossip".)
 *
 * Which file owns what:
 *   node.c    node_open/node_start/node_close, accessors, the vm_state
 *             adapters, admission (node_submit, gossiped transactions),
 *             member links, evidence records and reports, the accounting
 *             of refused peer input.
 *   blocks.c  the block cache, building our proposal (BUILD_BLOCK),
 *             executing a received block (CHECK_PROPOSAL, block sync),
 *             commit.
 *   host.c    driving the bft engine (actions, timers, event queue),
 *             consensus messages on the wire, the consensus thread,
 *             node_produce_block.
 *   sync.c    block sync (NET_MSG_SYNC).
 *   statesync_node.c  state sync (NET_MSG_SNAP): serving a pinned snapshot,
 *             and the client (statesync.c) run on the consensus thread
 *             before the engine starts (docs/statesync.md).
 *   mpc_service.c  the MPC preprocessing thread and its pool (NET_MSG_MPC;
 *             docs/operations.md, "MPC preprocessing").
 *   gossip.c  the NET_MSG_TX wire and the outgoing gossip batch with its
 *             thread (gossip.h; its own locks, taken under no node lock
 *             but own_mu).
 *
 * Threads and locks. Wiring of the bft engine (consensus/bft.h): one
 * consensus thread owns the engine and is the store's only writer. Its
 * inputs come through a bounded event queue (consensus messages and sync
 * batches from the net thread) and its own timer list; it carries out the
 * engine's actions in order.
 *   - mu guards stop, failed, fatal and the queue (q, qhead, qn, qbytes);
 *     failed is also read atomically without it (node_failed).
 *   - The fields under "Owned by the consensus thread" are touched only by
 *     that thread (or by node_produce_block's caller, with no thread
 *     running): everything in blocks.c and host.c's engine driving runs
 *     there.
 *   - vmu guards what is shared with the net and RPC threads: the
 *     validator set of the height being decided, the engine's status,
 *     evidence.
 *   - smu guards the block sync request state (net and consensus threads).
 *   - ssmu guards the state sync fields (pinned snapshot, client inbox and
 *     progress: net, consensus and RPC threads).
 *   - Fields marked atomic are read and written with __atomic, no lock.
 *   - mu, vmu, smu and ssmu are never held together (no lock order to keep). */
#ifndef CUSTOS_NODE_INTERNAL_H
#define CUSTOS_NODE_INTERNAL_H

#include <pthread.h>

#include "beacon.h"
#include "block.h"
#include "clock.h"
#include "keystore.h"
#include "metrics.h"
#include "node.h"
#include "node_vault.h"
#include "rpc.h"
#include "statesync.h"

#define EVQ_MAX 1024                /* event queue: entries */
#define EVQ_BYTES_MAX (64u << 20)   /*   and payload bytes */
#define DEFER_MAX 256               /* messages for height + 1 kept by the node */
#define DEFER_BYTES_MAX (32u << 20)
#define BCACHE_MAX 16               /* blocks of the current height (own and proposed) */
#define TIMERS_MAX 32
#define PENDING_MAX 64              /* host events produced while carrying out actions */
#define EVIDENCE_MAX 64

/* DATA/safety (docs/consensus.md, "Crash safety"): a journal
 * (storage/journal.h) whose records are
 *   u8 version (1) | bft_safety_encode record | u8 held (0: the held blocks
 *   of the record before, 1: they follow) | held: varint count (0..2) |
 *   count x (varint len | encoded block)
 * One synced append a PERSIST: the record and, when they changed, the
 * blocks behind the engine's valid value and lock (host.c). The first
 * record of a journal file always carries its held blocks. The journal
 * starts a new file past SAFETY_JOURNAL_MAX. */
#define SAFETY_REC_VERSION 1
#define SAFETY_JOURNAL_MAX (64ull << 20)
/* The largest DATA/safety read: a full journal plus one record of two
 * blocks at the block cap, and its zero tail. */
#define SAFETY_READ_MAX (SAFETY_JOURNAL_MAX + 2ull * CX_BLOCK_MAX_BYTES + (2ull << 20))
/* Older forms, read once and replaced by the first record written: two
 * slots, at offsets 0 and SAFETY_SLOT_OFF. Slot: u64 BE sequence (>= 1) |
 * bft_safety_encode record | SHA-256 of the preceding bytes; an all-zero
 * slot is unused; the valid slot with the higher sequence is the record. */
#define SAFETY_SLOT_OFF 4096
#define SAFETY_SLOT_LEN (8 + BFT_SAFETY_LEN + 32)
#define SAFETY_FILE_LEN (SAFETY_SLOT_OFF + SAFETY_SLOT_LEN)
/* store_opts.block_txids for the node's store (storage/store.h): the ids of
 * a stored block's transactions, in order; *ids malloc'd. Also used by
 * `custos restore`, which opens a stopped node's store. */
cx_err node_block_txids(const uint8_t *blk, size_t len, cx_hash **ids, size_t *n);

/* The safety record in any form DATA/safety has had: the journal above
 * (its last record's), the two slots, the 48-byte legacy record (height,
 * view), or one bare bft_safety record (what `custos restore` writes).
 * Pure; *torn (may be NULL) counts damaged slots, or is 1 when a journal
 * ends in a torn append. If held is not NULL and the journal carries held
 * blocks, *held gets a malloc'd copy of the last held part (varint count
 * | blocks; free()) and *held_len its length, else *held = NULL.
 * CX_E_CORRUPT when no slot or record is valid, bft_safety_decode's error
 * for a bad bare record. Used by node_open and by `custos restore`
 * (cli_backup.c). */
cx_err node_safety_parse(const uint8_t *b, size_t len, bft_safety *s, int *torn, uint8_t **held,
                         size_t *held_len);

/* A block of the current height: built by us (BUILD_BLOCK) or received in a
 * proposal, executed once on the committed state. Cleared on commit: a write
 * set is only valid over the state it was executed on. */
typedef struct {
  int used;
  uint64_t seq;           /* insertion order, for eviction */
  cx_hash hash;
  uint8_t *bytes;
  size_t len;
  int executed;           /* 0 not yet, 1 valid, -1 invalid */
  cx_block_header h;
  store_ws *ws;           /* valid: the block's writes */
  size_t ntx;
  cx_hash *txids;
  int32_t *codes;
  mempool_slot_ref *refs; /* (sender, nonce); zero for a command */
  uint8_t *types;         /* each transaction's type (a TX_COMMAND leaves the mempool by txid) */
} bcache_ent;

/* An input for the consensus thread. */
typedef enum { QE_MSG = 1, QE_BLOCKS } qe_type;
typedef struct {
  uint8_t type;
  uint8_t verified; /* QE_MSG: signature checked against the set of msg.height */
  bft_msg msg;
  uint8_t *data;    /* QE_MSG proposal: block bytes; QE_BLOCKS: the payload */
  size_t len;
  char from[CX_NAME_MAX + 1];
} qev;

/* The MPC preprocessing service's published state (counts only, never
 * material): node_mpc_status. */
typedef struct {
  int enabled, running;
  size_t triples, rands, bits;             /* pool level */
  size_t cap_triples, cap_rands, cap_bits;
  uint64_t batches_ok, batches_failed, flushes;
  uint64_t skipped_stale; /* trigger heights committed long after their block (sync) */
  uint64_t refused;       /* NET_MSG_MPC messages refused (queue full, too short) */
  uint64_t last_height;   /* trigger height of the last batch started */
  char last_error[200];
} node_mpc_stats;

typedef struct mpc_service mpc_service;
/* The call service's published state (counts only): node_call_status. */
typedef struct {
  uint64_t started, done, aborted;   /* calls this node took part in; closed on chain */
  uint64_t skipped_stale, dropped;   /* committed long ago (sync) / queue full */
  uint64_t queued, closing;
  int running;                       /* calls whose sessions run now */
  char last_error[200];
} node_call_stats;
typedef struct call_service call_service;
typedef struct key_service key_service;
typedef struct gossip_batcher gossip_batcher; /* gossip.h */
struct gossip_wire;

typedef struct {
  int used;
  uint64_t at; /* mono ms */
  uint8_t kind;
  uint64_t height;
  uint32_t round;
} cs_timer;

struct node {
  node_config cfg;
  vm_genesis genesis;
  cx_hash chain_id;
  store *st;
  mempool *mp;
  keystore_keys keys;
  bft_engine *eng;
  net *net;      /* member links; NULL until node_start */
  uint64_t gossip_in, gossip_dup, gossip_bad; /* atomics: gossiped transactions by outcome
                                               * (bad: also each malformed NET_MSG_TX) */
  gossip_batcher *gossip;       /* atomic pointer: the outgoing batch (gossip.h), from
                                 * start_links to node_close; NULL: nothing is gossiped */
  struct gossip_wire *gossip_rx; /* net thread: decoded NET_MSG_TX entries (64 KiB) */
  uint64_t cs_bad, sync_bad;                  /* atomics: refused peer input */
  uint64_t bad_logged_at;                     /* atomic: rate limit of those logs */
  vm_state ro; /* read-only view of committed state */
  cx_clock *clock;
  char safety_path[CFG_PATH_MAX + 16];
  struct journal *jr; /* DATA/safety, opened by node_open (node.c load_safety);
                       * appended by the consensus thread (host.c persist) */
  uint8_t *held_rec;   /* the journal's last held part, until host_load_held */
  size_t held_rec_len;
  char cookie_path[CFG_PATH_MAX + 16];
  uint64_t tip_time;
  rpc_server *rpc;
  rpc_method *methods; /* api.c's and api_calls.c's tables, joined (the server borrows it) */
  mpc_service *mpc; /* NULL unless mpc.enabled and started (mpc_service.c) */
  call_service *calls; /* NULL until started (call_service.c) */
  key_service *keysvc; /* NULL until started (key_service.c) */
  pthread_mutex_t own_mu; /* node_submit_own: one nonce at a time */
  node_vault *vault; /* atomic pointer: NULL until our member owns a data domain
                      * (at node_open, or after a commit: node_vault_follow) */
  int vault_failed;  /* consensus thread: node_vault_follow could not open it */

  /* Consensus thread and its queue. mu guards stop, failed and the queue. */
  pthread_t cs_thread;
  int cs_running;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
  int failed;
  cx_err fatal;
  qev *q;
  size_t qhead, qn, qbytes;

  /* Owned by the consensus thread (or by node_produce_block's caller). */
  bft_action *act;                   /* BFT_MAX_ACTIONS */
  bft_event pend[PENDING_MAX];
  size_t npend;
  bcache_ent cache[BCACHE_MAX];
  uint64_t cache_seq;
  char held_path[CFG_PATH_MAX + 16]; /* DATA/held of older versions (now in DATA/safety) */
  int held_file_gone;                /* DATA/held removed or absent (host.c) */
  cx_hash held[2];
  size_t nheld;
  cs_timer timers[TIMERS_MAX];
  qev *defer;                        /* DEFER_MAX messages for height + 1 */
  size_t ndefer, defer_bytes;
  int started;                       /* START fed for the current height; written by the
                                      * consensus thread, read by admitters (atomics) */
  uint64_t last_commit_mono;
  uint64_t trace_height;     /* the (height, round) host_drive logged last (debug); consensus thread */
  uint32_t trace_round;
  uint64_t status_sent_mono; /* the last STATUS broadcast (sync.c); consensus thread */
  size_t last_commit_ntx;
  metrics_latency lat; /* commit latency (metrics.c): its own atomics */
  char vnames[CX_MAX_VALIDATORS][CX_NAME_MAX + 1];
  cx_pubkey next_keys[CX_MAX_VALIDATORS]; /* COMMITTED's validator set */

  /* Shared with the net and RPC threads under vmu: the validator set of the
   * height being decided, the engine's status, evidence. */
  pthread_mutex_t vmu;
  uint64_t vheight;                  /* committed + 1 */
  cx_pubkey vkeys[CX_MAX_VALIDATORS];
  char vlinks[CX_MAX_VALIDATORS][CX_NAME_MAX + 1]; /* their names (member links) */
  size_t nvk;
  bft_status snap;
  node_evidence evidence[EVIDENCE_MAX];
  size_t nevidence, evidence_next;

  /* Block sync requests (net thread). */
  pthread_mutex_t smu;
  uint64_t sync_req_until;           /* mono ms: a GET is outstanding until then */
  uint64_t best_peer_height;
  char best_peer[CX_NAME_MAX + 1];

  /* State sync (statesync_node.c). ssmu and sscv are set up by node_start
   * (ss_ready); everything below but the atomics is under ssmu. */
  pthread_mutex_t ssmu;
  pthread_cond_t sscv;
  int ss_ready;
  store_snap *ss_pin;                /* the snapshot served (store_close frees a pin left) */
  uint64_t ss_pinned_at, ss_req_at;  /* mono ms: pinned; last manifest or chunk request */
  int ss_active;                     /* atomic too: the client runs (no block sync GETs) */
  struct ss_inmsg *ss_in, *ss_in_tail; /* the client's inbox (responses from peers) */
  size_t ss_in_bytes;
  ss_progress ss_prog;               /* the client's, published */
  int ss_ran;                        /* the client ran at this start */
  char ss_last[240];                 /* its outcome, a sentence */
  uint64_t ss_bad;                   /* atomic: snapshot messages refused */
  uint64_t ss_served;                /* atomic: chunk pages served */
  uint64_t ss_installed;             /* atomic: height installed (0: none) */
};

/* Why a decoder refused peer input, as node_refuse logs it: what (the kind
 * of message) and why. Static strings. */
typedef struct {
  const char *what;
  const char *why;
} node_refusal;

/* ---- node.c ---- */

/* A vm_state over a write set (execution, dry runs). */
vm_state node_ws_state(store_ws *ws);
/* The validator set in force after the committed state: keys in signer
 * order into keys, names into n->vnames. */
/* Reads the validator set in force (ordered by name) into keys and
 * n->vnames, and gives the member links the same set (once net/ is open). */
cx_err node_read_validators(node *n, cx_pubkey *keys, size_t *nval);
/* Publishes the set of the height now being decided (under vmu). */
void node_publish_validators(node *n, const cx_pubkey *keys, size_t nval);
/* Publishes the engine's status (under vmu). */
void node_publish_status(node *n);
/* Counts refused peer input in *counter (atomic); logs at most once a second. */
void node_refuse(node *n, uint64_t *counter, const char *what, const char *from,
                 const char *why);
/* BFT_ACT_EVIDENCE: records the equivocation and reports it on chain. */
void node_evidence_found(node *n, const bft_action *a);
/* The bureau's vault (node_vault.h), or NULL when this node keeps none. */
node_vault *node_vault_of(node *n);
/* node_vault_rotate with the member key (the vault must exist). */
cx_err node_vault_rotate_key(node *n, uint32_t *new_id, int *file_ok);
/* Consensus thread, after each commit: opens the vault once our member
 * owns a data domain (a member admitted after the genesis). */
void node_vault_follow(node *n);

/* Net thread: NET_MSG_TX handler (net_handler, ctx = node): a batch of
 * gossiped transactions (gossip.h), each admitted without the rule dry run
 * and without forwarding, counted in gossip_in / gossip_dup / gossip_bad. */
void node_on_gossip(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len);
/* Signs tx (type and body set) with the member key under the next free
 * nonce of our account and admits it (node_submit); serialised, so the
 * threads that report on chain (evidence, call results) never pick the same
 * nonce. *txid and detail as node_submit. */
cx_err node_submit_own(node *n, cx_tx *tx, cx_hash *txid, char *detail, size_t dl);
/* ---- blocks.c (consensus thread) ---- */

/* Frees an entry's buffers and write set, and zeroes it. */
void blocks_ent_clear(bcache_ent *b);
/* The cached block with hash h, or NULL. */
bcache_ent *blocks_cache_find(node *n, const cx_hash *h);
/* A cleared slot marked used (the oldest entry is evicted when full). */
bcache_ent *blocks_cache_slot(node *n);
/* Empties the cache (on commit, and in node_close). */
void blocks_cache_clear(node *n);
/* Builds and executes our block for (height, round) into the cache; an
 * error is local and fatal. */
cx_err blocks_build(node *n, uint64_t height, uint32_t round, cx_hash *out);
/* Executes ent's block on the committed state; CX_OK: valid. Otherwise the
 * reason is in why (the peer's fault, never fatal). */
cx_err blocks_exec(node *n, bcache_ent *ent, int from_sync, char *why, size_t wl);
/* Logs a change of this node's role (validator or observer) between the
 * published validator set and keys, the set from height + 1. */
void blocks_log_role_change(node *n, uint64_t height, const cx_pubkey *keys, size_t nval);
/* Commits an executed block, fills the COMMITTED event; clears the cache.
 * An error is a storage failure: fatal. */
cx_err blocks_commit(node *n, bcache_ent *ent, const cx_cert *cert, bft_event *ev);

/* ---- host.c ---- */

/* Stops consensus after a local failure (node_failed turns 1). */
void host_fatal(node *n, cx_err e, const char *what);
/* Consensus thread: feeds ev and the events its actions produce. */
void host_drive(node *n, const bft_event *ev);
/* Any thread: queues ev for the consensus thread, taking ev->data (malloc'd);
 * 0 when full (data freed). */
int host_enqueue(node *n, const qev *ev);
/* Consensus thread: the messages kept for the new height, after a commit. */
void host_replay_deferred(node *n);
/* Consensus messages on the wire. NET_MSG_CONSENSUS payload: u8 version
 * (CS_WIRE_VERSION) | varint len (<= BFT_MSG_MAX) | bft_msg encoding
 * (bft_msg_encode) | for a PROPOSAL: the encoded block (rest of the payload,
 * 1..CX_BLOCK_MAX_BYTES bytes; its hash must be the message's block_hash);
 * for a vote nothing. */
#define CS_WIRE_VERSION 1
/* Pure decoding of such a payload (no node, no allocation): the message into
 * *m and, for a PROPOSAL, the block's bytes as a range of p (*block, *block_len;
 * NULL, 0 for a vote). The block is checked with block_peek and its hash
 * against m->block_hash; the signature and the heights are not checked
 * (host_on_consensus). Not CX_OK: refused, the reason in *r (may be NULL). */
cx_err host_wire_decode(const uint8_t *p, size_t len, bft_msg *m, const uint8_t **block,
                        size_t *block_len, node_refusal *r);
/* Net thread: NET_MSG_CONSENSUS handler (net_handler, ctx = node). */
void host_on_consensus(void *ctx, const char *from, unsigned type, const uint8_t *p,
                       size_t len);
/* The consensus thread (pthread start routine, arg = node). */
void *host_cs_main(void *arg);
/* Puts the blocks of DATA/held for the next height back in the cache
 * (node_open, after a restart). */
void host_load_held(node *n);
/* After an admission: wakes the consensus thread when the mempool holds a
 * full block and the height has not started (host.c maybe_start). Any thread. */
void host_nudge_full(node *n);
/* 1 if m's signature checks against its signer's key in the set of the
 * height being decided (takes vmu). */
int host_sig_ok(node *n, const bft_msg *m);

/* ---- sync.c ---- */

/* Block sync messages (NET_MSG_SYNC):
 * u8 version (SYNC_WIRE_VERSION) | u8 kind |
 *   STATUS: varint height (the sender's committed height) | varint base (its
 *           lowest stored block, store_base: 0 for a full store; a state-
 *           synced peer serves no GET below it)
 *   GET   : varint from | varint max
 *   BLOCKS: varint count (<= SYNC_MAX_BLOCKS) |
 *           count x (bytes block (<= CX_BLOCK_MAX_BYTES) | bytes cert (<= SYNC_CERT_MAX))
 * Every kind must end there: trailing bytes are refused ("trailing bytes"
 * for BLOCKS, whose entries decoded before the refusal stay usable, each
 * checked by its certificate). */
#define SYNC_WIRE_VERSION 1
enum { SYNC_STATUS = 1, SYNC_GET = 2, SYNC_BLOCKS = 3 };
#define SYNC_MAX_BLOCKS 64
#define STATUS_GAP_MS 50            /* commits broadcast STATUS at most this often (blocks.c) */
#define SYNC_MAX_BYTES (4u << 20)   /* per BLOCKS message (one block may exceed it alone) */
#define SYNC_CERT_MAX (16u << 10)   /* an encoded cx_cert is < 5 KiB */

/* A decoded sync message; byte ranges point into the decoded input. */
typedef struct {
  uint8_t kind;    /* SYNC_*, 0 when the version or kind byte did not decode */
  uint64_t height; /* STATUS */
  uint64_t base;   /* STATUS: the sender's lowest block (0: it has every block) */
  uint64_t from, max; /* GET (max as sent, not yet capped) */
  uint64_t count;  /* BLOCKS: entries announced (0 when the count did not decode) */
  size_t nblocks;  /* BLOCKS: leading entries that decode (== count when CX_OK) */
  struct {
    const uint8_t *block, *cert;
    size_t block_len, cert_len;
  } b[SYNC_MAX_BLOCKS];
} sync_wire;
/* Pure decoding of a NET_MSG_SYNC payload (no node, no allocation; blocks
 * and certificates are only delimited here, not decoded). Not CX_OK:
 * refused, the reason in *r (may be NULL); for BLOCKS the entries before
 * the malformed one are still in out->b[0 .. nblocks). */
cx_err sync_decode(const uint8_t *p, size_t len, sync_wire *out, node_refusal *r);

/* Sends our committed height and base to `to`, or to every peer when NULL
 * (every second and after each commit, on the consensus thread: the
 * snapshot served is re-pinned from there, statesync_serve_tick). */
void sync_send_status(node *n, const char *to);
/* Net thread: NET_MSG_SYNC handler (net_handler, ctx = node). */
void sync_on_msg(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len);
/* Consensus thread: applies a BLOCKS batch (ev->data stays the caller's). */
void sync_apply_blocks(node *n, const qev *ev);

/* ---- statesync_node.c (docs/statesync.md) ---- */

/* The consensus thread's start routine (node_start): on a store at height 0
 * with statesync.enabled, runs the state sync client first (the RPC server
 * and member links are up; the engine is not), then host_cs_main. */
void *statesync_cs_main(void *arg);
/* Net thread: NET_MSG_SNAP handler. Requests are answered from the pinned
 * snapshot; responses go to the client's inbox while it runs. */
void statesync_on_msg(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len);
/* Consensus thread, after a commit: re-pins the served snapshot at heights
 * that are multiples of SS_PIN_EVERY when the pin is stale (docs/statesync.md,
 * "Serving"). */
void statesync_serve_tick(node *n);
typedef struct {
  int enabled;            /* statesync.enabled */
  int active;             /* the client runs now */
  int ran;                /* it ran at this start (phase: how it ended) */
  ss_progress prog;
  uint64_t installed;     /* height installed at this start, 0: none */
  uint64_t served;        /* chunk pages served to peers */
  uint64_t bad;           /* snapshot messages refused */
  uint64_t pinned;        /* height of the snapshot served, 0: none */
  char last[240];         /* the client's outcome */
} node_ss_stats;
/* Any thread. */
void node_statesync_status(node *n, node_ss_stats *out);
/* node.c, consensus thread, after an install (before the engine runs): what
 * node_open derived from the state — the validator set and member links, a
 * new engine at the new height + 1 (with DATA/safety), tip_time, status. */
cx_err node_reload_state(node *n, char *err, size_t errlen);

/* ---- call_service.c (docs/calls.md) ---- */
/* node_start, after the member links: the NET_MSG_CALL handler and the
 * thread (nothing without member links). */
cx_err call_service_start(node *n, char *err, size_t errlen);
void call_service_stop(node *n); /* before net_close: it sends */
void call_service_free(node *n); /* after net_close; NULL service: no-op */
/* Consensus thread, after a commit: the calls the block recorded (TX_CALL
 * with receipt ok), and the block's time (calls of old blocks replayed by
 * sync are not run). */
void call_service_on_commit(node *n, const cx_hash *calls, size_t ncalls, uint64_t block_time_ms);
/* Any thread: the published counters. */
void node_call_status(node *n, node_call_stats *out);
/* Call messages (NET_MSG_CALL, docs/calls.md §2):
 * u8 version (CALL_WIRE_VERSION) | u8 kind | call[32] |
 *   MPC   : an engine message (mpc/wire.h), at least its 34-byte header
 *   COMMIT: str domain | root[32] | u64be count | leaf[32]
 *   SIG   : u8 status (2, 3) | statement[32] | bytes blob (<= CX_RESULT_BLOB_MAX) |
 *           sig[64] | str reason (<= CX_RESULT_REASON_MAX, UTF-8)
 *   FPROP : u8 k (1..CALL_FPROP_MAX) | k x (call[32] | u64be mask != 0), calls
 *           distinct, the first the header's (docs/keys.md §8)
 *   TSIGN : a tsign message (CALL_TSIGN_MIN..CALL_TSIGN_MAX bytes)
 *   MULTI : u8 k (2..CALL_MULTI_MAX) | k x (u32be len | a call message of
 *           another kind, len bytes), the header's call the first one's:
 *           what one step of the sender's service made for this party, in
 *           order; refused whole if any of them is
 * Nothing may follow. */
#define CALL_WIRE_VERSION 1
enum { CALL_MPC = 1, CALL_COMMIT = 2, CALL_SIG = 3, CALL_FPROP = 4, CALL_TSIGN = 5, CALL_MULTI = 6 };
#define CALL_MULTI_MAX 255
#define CALL_TSIGN_MIN 35   /* TSIGN_HEAD_LEN */
#define CALL_TSIGN_MAX 4261 /* TSIGN_MSG_MAX_LEN (tsign.h) */
#define CALL_WIRE_HDR 34
#define CALL_FPROP_MAX 64   /* CX_RESULT_BATCH_MAX: calls under one FROST signature */
#define CALL_FPROP_ENT 40   /* call[32] | u64be mask */
typedef struct {
  uint8_t kind;
  cx_hash call;
  const uint8_t *mpc; /* MPC: the engine message, a range of the input */
  size_t mpc_len;
  char domain[CX_DOMAIN_MAX + 1]; /* COMMIT */
  cx_hash root, leaf;
  uint64_t count;
  uint8_t status; /* SIG */
  cx_hash statement;
  const uint8_t *blob; /* a range of the input */
  size_t blob_len;
  cx_sig sig;
  char reason[CX_RESULT_REASON_MAX + 1];
  size_t fk;          /* FPROP: the calls one FROST signature is to cover (1..CALL_FPROP_MAX) */
  const uint8_t *fents; /*   fk x (call[32] | u64be mask of the parties whose blobs it carries),
                             a range of the input; the first call is the header's */
  const uint8_t *ts;  /* TSIGN: a tsign message, a range of the input */
  size_t ts_len;
  size_t mk;          /* MULTI: the messages it carries (2..CALL_MULTI_MAX), each checked */
  const uint8_t *ments; /*   mk x (u32be len | message), a range of the input */
  size_t ments_len;
} call_wire;
/* MULTI: the message at *off of w's entries (a range of the input), *off
 * moved past it; 0 after the last. w must have decoded as MULTI. */
int call_wire_next(const call_wire *w, size_t *off, const uint8_t **msg, size_t *len);
/* Pure decoding of a NET_MSG_CALL payload (no node, no allocation). Not
 * CX_OK: refused, the reason in *r (may be NULL). */
cx_err call_wire_decode(const uint8_t *p, size_t len, call_wire *out, node_refusal *r);
/* ---- mpc_service.c ---- */

/* node_start, after the member links: the pool, the NET_MSG_MPC handler
 * and the service thread (nothing when mpc.enabled is false). */
/* key_service.c: consortium keys (docs/keys.md §5) and the beacon (§7). */
typedef struct {
  uint64_t submitted;     /* DKG transactions this node submitted */
  uint64_t beacons;       /* beacon values made */
  uint64_t beacon_height; /* highest height with a beacon value */
  uint64_t refused;       /* NET_MSG_KEY messages refused */
  char last_error[200];
} node_key_stats;
cx_err key_service_start(node *n, char *err, size_t errlen);
void key_service_stop(node *n); /* before net_close: it sends */
void key_service_free(node *n);
void key_service_on_commit(node *n, uint64_t height);
void node_key_status(node *n, node_key_stats *out);
/* The beacon value of a height and, if rec != NULL, its record
 * (beacon_record encoding, malloc'd): CX_E_NOT_FOUND when this node has
 * none (too old, not yet, or no beacon key). */
cx_err key_service_beacon(node *n, uint64_t height, uint8_t value[32], uint8_t **rec, size_t *len);
/* 1 when the call is sampled for audit by the beacon value of the height
 * that recorded it (docs/keys.md §7): the first two bytes of
 * BLAKE2b-256("custos/audit" || beacon || call id), big-endian, < 6554. */
typedef struct tsign tsign;
/* A threshold-signing session (mpc/threshold/tsign.h) with this party's
 * share of key `name`, over msg under session id sid: CX_E_KEY_NOT_READY
 * unless the key is READY here with exactly these parties, in this order
 * (docs/keys.md §8). *epoch and *me (party index) are the key's. */
cx_err key_service_tsign(node *n, const char *name, const cx_pubkey *parties, uint32_t np, const uint8_t sid[32],
                         const uint8_t *msg, size_t len, tsign **out, uint32_t *epoch, uint32_t *me);
#define KEY_AUDIT_BELOW 6554 /* of 65536: 10 % */
int key_audit_sampled(const uint8_t beacon[32], const cx_hash *call);
#define KEY_WIRE_VERSION 1
enum { KEY_BEACON_SHARE = 1, KEY_TSIGN = 2 };
#define KEY_TSIGN_MIN 35   /* TSIGN_HEAD_LEN */
#define KEY_TSIGN_MAX 4261 /* TSIGN_MSG_MAX_LEN */
typedef struct {
  uint8_t kind;
  uint64_t height;      /* BEACON_SHARE */
  uint32_t epoch;       /*   the beacon key's epoch the share is under */
  beacon_share share;
  cx_hash request;      /* TSIGN: the custody signing request (docs/keys.md §9) */
  const uint8_t *ts;    /*   and the tsign message, a range of the input */
  size_t ts_len;
} key_wire;
cx_err key_wire_decode(const uint8_t *p, size_t len, key_wire *out, node_refusal *r);

cx_err mpc_service_start(node *n, char *err, size_t errlen);
/* node_close: stops the thread (before net_close: it sends) ... */
void mpc_service_stop(node *n);
/* ... and frees the session and the pool, wiped (after net_close: no
 * handler queues any more). NULL service: no-op. */
void mpc_service_free(node *n);
/* Consensus thread, after a commit: height h with the validator set in
 * force after it (keys in signer order, names in n->vnames) may start a
 * prep batch (h % mpc.every_blocks == 0, block recent). */
void mpc_service_on_commit(node *n, uint64_t height, uint64_t block_time_ms,
                           const cx_pubkey *keys, size_t nval);
/* Any thread: a copy of the published state (enabled 0 when off). */
void node_mpc_status(node *n, node_mpc_stats *out);

#endif
