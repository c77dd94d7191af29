#include "node.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "api.h"
#include "block.h"
#include "clock.h"
#include "codec.h"
#include "fileutil.h"
#include "genesis.h"
#include "keystore.h"
#include "log.h"
#include "merkle.h"
#include "net.h"
#include "rpc.h"

/* Wiring of the bft engine (consensus/bft.h; docs/consensus.md, "The node's
 * wiring"). One consensus thread owns the engine and is the store's only
 * writer. Its inputs come through a bounded event queue (consensus messages
 * and sync batches from the net thread) and its own timer list; it carries
 * out the engine's actions in order. */

#define CS_WIRE_VERSION 1
#define SYNC_WIRE_VERSION 1
enum { SYNC_STATUS = 1, SYNC_GET = 2, SYNC_BLOCKS = 3 };
#define SYNC_MAX_BLOCKS 64
#define SYNC_MAX_BYTES (4u << 20)   /* per BLOCKS message (one block may exceed it alone) */
#define SYNC_CERT_MAX (16u << 10)   /* an encoded cx_cert is < 5 KiB */
#define SYNC_RETRY_MS 2000          /* an unanswered GET is re-sent after this */
#define STATUS_EVERY_MS 1000
#define MAX_FUTURE_MS 30000         /* a proposal's time may be this far ahead */
#define EVQ_MAX 1024                /* event queue: entries */
#define EVQ_BYTES_MAX (64u << 20)   /*   and payload bytes */
#define DEFER_MAX 256               /* messages for height + 1 kept by the node */
#define DEFER_BYTES_MAX (32u << 20)
#define BCACHE_MAX 16               /* blocks of the current height (own and proposed) */
#define TIMERS_MAX 32
#define PENDING_MAX 64              /* host events produced while carrying out actions */
#define EVIDENCE_MAX 64

/* Engine timing (Tendermint's timeouts grow by delta_ms per round). */
#define BFT_PROPOSE_MS 1000
#define BFT_PREVOTE_MS 500
#define BFT_PRECOMMIT_MS 500
#define BFT_DELTA_MS 250
#define BFT_REBROADCAST_MS 1000

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
  mempool_slot_ref *refs;
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
  cx_hash links_digest; /* of the member list last given to net */
  uint64_t gossip_in, gossip_dup, gossip_bad; /* atomics */
  uint64_t cs_bad, sync_bad;                  /* atomics: refused peer input */
  uint64_t bad_logged_at;                     /* atomic: rate limit of those logs */
  vm_state ro; /* read-only view of committed state */
  cx_clock *clock;
  char safety_path[CFG_PATH_MAX + 16];
  char cookie_path[CFG_PATH_MAX + 16];
  uint64_t tip_time;
  rpc_server *rpc;

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
  cs_timer timers[TIMERS_MAX];
  qev *defer;                        /* DEFER_MAX messages for height + 1 */
  size_t ndefer, defer_bytes;
  int started;                       /* START fed for the current height */
  uint64_t last_commit_mono;
  size_t last_commit_ntx;
  char vnames[CX_MAX_VALIDATORS][CX_NAME_MAX + 1];
  cx_pubkey next_keys[CX_MAX_VALIDATORS]; /* COMMITTED's validator set */

  /* Shared with the net and RPC threads under vmu: the validator set of the
   * height being decided, the engine's status, evidence. */
  pthread_mutex_t vmu;
  uint64_t vheight;                  /* committed + 1 */
  cx_pubkey vkeys[CX_MAX_VALIDATORS];
  size_t nvk;
  bft_status snap;
  node_evidence evidence[EVIDENCE_MAX];
  size_t nevidence, evidence_next;

  /* Block sync requests (net thread). */
  pthread_mutex_t smu;
  uint64_t sync_req_until;           /* mono ms: a GET is outstanding until then */
  uint64_t best_peer_height;
  char best_peer[CX_NAME_MAX + 1];
};

/* ---- vm_state backed by the committed store (queries) ---- */

static cx_err ro_get(void *ctx, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl) {
  return store_state_get(ctx, k, kl, v, vl);
}
static cx_err ro_put(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  CX_ASSERT(!"write through the read-only state");
  return CX_E_INTERNAL;
}
static cx_err ro_del(void *ctx, const uint8_t *k, size_t kl) {
  CX_ASSERT(!"delete through the read-only state");
  return CX_E_INTERNAL;
}

/* ---- vm_state backed by a write set (execution) ---- */

static cx_err ws_get(void *ctx, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl) {
  return store_ws_get(ctx, k, kl, v, vl);
}
static cx_err ws_put(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  return store_ws_put(ctx, k, kl, v, vl);
}
static cx_err ws_del(void *ctx, const uint8_t *k, size_t kl) { return store_ws_del(ctx, k, kl); }
static size_t ws_mark(void *ctx) { return store_ws_mark(ctx); }
static void ws_rollback(void *ctx, size_t m) { store_ws_rollback(ctx, m); }

static vm_state ws_state(store_ws *ws) {
  vm_state s = {ws, ws_get, ws_put, ws_del, ws_mark, ws_rollback};
  return s;
}

static cx_err hasher(const uint8_t *blk, size_t len, cx_hash *hash, cx_hash *parent) {
  cx_block_header h;
  cx_err e = block_peek(blk, len, &h, hash);
  if (e) return e;
  *parent = h.parent;
  return CX_OK;
}

static cx_err sign_digest(void *ctx, const uint8_t msg[32], cx_sig *out) {
  node *n = ctx;
  return key_sign32(n->keys.sign, msg, NULL, out);
}

/* The safety record (bft.h). A 48-byte record is the single-validator
 * engine's (height, view, hash): it covered a precommit-shaped vote
 * (vote_message), so it is carried over as "signed a precommit in that
 * round" and the engine resumes at the next round. */
static cx_err load_safety(node *n, bft_safety *s) {
  char *buf;
  size_t len;
  memset(s, 0, sizeof *s);
  cx_err e = file_read_all(n->safety_path, 256, &buf, &len);
  if (e == CX_E_NOT_FOUND) return CX_OK;
  if (e) return e;
  if (len == 48) {
    const uint8_t *b = (const uint8_t *)buf;
    uint64_t h = 0, v = 0;
    for (int i = 0; i < 8; i++) {
      h = h << 8 | b[i];
      v = v << 8 | b[8 + i];
    }
    s->height = h;
    s->round = v > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)v;
    s->step = BFT_PRECOMMIT;
    s->locked_round = s->valid_round = BFT_NIL_ROUND;
    e = CX_OK;
  } else {
    e = bft_safety_decode((const uint8_t *)buf, len, s);
  }
  free(buf);
  return e;
}

static cx_err persist_safety(node *n, const bft_safety *s) {
  uint8_t buf[BFT_SAFETY_LEN];
  bft_safety_encode(s, buf);
  return file_write_atomic(n->safety_path, buf, sizeof buf, 0600);
}

static cx_err mkdir_p(const char *path) {
  char tmp[CFG_PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return CX_E_IO;
    *p = '/';
  }
  if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return CX_E_IO;
  return CX_OK;
}

/* The validator set in force after the committed state: keys in signer
 * order into keys, names into the consensus thread's table. */
static cx_err read_validators(node *n, cx_pubkey *keys, size_t *nval) {
  cx_member *vals = malloc(CX_MAX_VALIDATORS * sizeof *vals);
  if (!vals) return CX_E_NOMEM;
  size_t k = 0;
  cx_err e = vm_validators(&n->ro, vals, CX_MAX_VALIDATORS, &k);
  if (e == CX_OK) {
    for (size_t i = 0; i < k; i++) {
      keys[i] = vals[i].key;
      snprintf(n->vnames[i], sizeof n->vnames[i], "%s", vals[i].name);
    }
    *nval = k;
  }
  free(vals);
  return e;
}

/* Publishes the set of the height now being decided (net thread checks). */
static void publish_validators(node *n, const cx_pubkey *keys, size_t nval) {
  pthread_mutex_lock(&n->vmu);
  n->vheight = store_height(n->st) + 1;
  memcpy(n->vkeys, keys, nval * sizeof *keys);
  n->nvk = nval;
  pthread_mutex_unlock(&n->vmu);
}

static void publish_status(node *n) {
  pthread_mutex_lock(&n->vmu);
  bft_get_status(n->eng, &n->snap);
  pthread_mutex_unlock(&n->vmu);
}

cx_err node_open(const node_config *cfg, node **out, char *err, size_t errlen) {
  cx_err e;
  char *pass = NULL;
  node *n = calloc(1, sizeof *n);
  if (!n) return CX_E_NOMEM;
  n->cfg = *cfg;
  n->clock = clock_system();
  pthread_mutex_init(&n->mu, NULL);
  pthread_cond_init(&n->cv, NULL);
  pthread_mutex_init(&n->vmu, NULL);
  pthread_mutex_init(&n->smu, NULL);
  snprintf(n->safety_path, sizeof n->safety_path, "%s/safety", cfg->data_dir);
  snprintf(n->cookie_path, sizeof n->cookie_path, "%s/.cookie", cfg->data_dir);
  n->q = calloc(EVQ_MAX, sizeof *n->q);
  n->defer = calloc(DEFER_MAX, sizeof *n->defer);
  n->act = calloc(BFT_MAX_ACTIONS, sizeof *n->act);
  if (!n->q || !n->defer || !n->act) {
    e = CX_E_NOMEM;
    goto fail;
  }

  if ((e = genesis_load(cfg->genesis, &n->genesis, err, errlen))) goto fail;
  vm_genesis_hash(&n->genesis, &n->chain_id);

  /* Our member record: the name in the config must be a validator whose key
   * is the keystore's. */
  const cx_member *me = NULL;
  for (size_t i = 0; i < n->genesis.nmembers; i++)
    if (strcmp(n->genesis.members[i].name, cfg->name) == 0) me = &n->genesis.members[i];
  if (!me) {
    snprintf(err, errlen, "name: member '%s' is not in the genesis", cfg->name);
    e = CX_E_CONFIG;
    goto fail;
  }
  if ((e = keystore_passphrase(cfg->passphrase_file, &pass, err, errlen))) goto fail;
  e = keystore_load(cfg->keystore, pass, &n->keys, err, errlen);
  keystore_passphrase_free(pass);
  if (e) {
    if (e == CX_E_PASSPHRASE)
      snprintf(err, errlen, "%s: wrong passphrase or damaged keystore", cfg->keystore);
    goto fail;
  }

  if ((e = mkdir_p(cfg->data_dir))) {
    snprintf(err, errlen, "data_dir %s: cannot create (%s)", cfg->data_dir, strerror(errno));
    goto fail;
  }
  char chain_dir[CFG_PATH_MAX + 8];
  snprintf(chain_dir, sizeof chain_dir, "%s", cfg->data_dir);
  store_opts so = {.sync = cfg->sync, .cache_mb = 64, .block_hasher = hasher, .check_depth = 64};
  if ((e = store_open(chain_dir, &so, &n->st, err, errlen))) goto fail;

  cx_hash stored;
  e = store_chain_id(n->st, &stored);
  if (e == CX_E_NOT_FOUND) {
    store_ws *ws = store_ws_new(n->st);
    if (!ws) {
      e = CX_E_NOMEM;
      goto fail;
    }
    vm_state s = ws_state(ws);
    if (!(e = vm_genesis_apply(&s, &n->genesis))) e = store_init_genesis(n->st, ws, &n->chain_id);
    store_ws_free(ws); /* not consumed by store_init_genesis */
    if (e) {
      snprintf(err, errlen, "cannot write the genesis state: %s", cx_err_str(e));
      goto fail;
    }
    char hex[65];
    LOG_I("node", "initialised chain %s (%s)", n->genesis.chain_name, hash_hex(&n->chain_id, hex));
  } else if (e) {
    snprintf(err, errlen, "cannot read the store's chain id: %s", cx_err_str(e));
    goto fail;
  } else if (!hash_eq(&stored, &n->chain_id)) {
    snprintf(err, errlen, "the store in %s belongs to another chain than %s", cfg->data_dir,
             cfg->genesis);
    e = CX_E_CONFIG;
    goto fail;
  }
  n->ro = (vm_state){n->st, ro_get, ro_put, ro_del, NULL, NULL};

  /* The validator set in force and our place in it. */
  cx_pubkey vkeys[CX_MAX_VALIDATORS];
  size_t nval = 0, self = SIZE_MAX;
  if ((e = read_validators(n, vkeys, &nval))) {
    snprintf(err, errlen, "cannot read the validator set: %s", cx_err_str(e));
    goto fail;
  }
  for (size_t i = 0; i < nval; i++)
    if (strcmp(n->vnames[i], cfg->name) == 0) self = i;
  if (self == SIZE_MAX || memcmp(vkeys[self].b, n->keys.pub.b, 32) != 0) {
    snprintf(err, errlen, "member '%s' is not a validator with this keystore's key", cfg->name);
    e = CX_E_CONFIG;
    goto fail;
  }
  bft_safety safety;
  if ((e = load_safety(n, &safety))) {
    snprintf(err, errlen, "%s: damaged safety record", n->safety_path);
    goto fail;
  }
  bft_config bc = {.chain_id = n->chain_id, .validators = vkeys, .nvalidators = nval,
                   .self = n->keys.pub, .height = store_height(n->st) + 1,
                   .propose_ms = BFT_PROPOSE_MS, .prevote_ms = BFT_PREVOTE_MS,
                   .precommit_ms = BFT_PRECOMMIT_MS, .delta_ms = BFT_DELTA_MS,
                   .rebroadcast_ms = BFT_REBROADCAST_MS, .sign = sign_digest, .sign_ctx = n};
  if ((e = bft_new(&bc, &safety, &n->eng))) {
    snprintf(err, errlen, "consensus: %s", cx_err_str(e));
    goto fail;
  }
  publish_validators(n, vkeys, nval);
  publish_status(n);
  n->mp = mempool_new(cfg->mempool_max_txs, cfg->mempool_max_per_sender);
  if (!n->mp) {
    e = CX_E_NOMEM;
    goto fail;
  }
  n->tip_time = n->genesis.time_ms;
  if (store_height(n->st) > 0) {
    uint8_t *b;
    size_t bl;
    cx_block_header h;
    cx_hash hh;
    if (store_block_get(n->st, store_height(n->st), &b, &bl) == CX_OK) {
      if (block_peek(b, bl, &h, &hh) == CX_OK) n->tip_time = h.time_ms;
      free(b);
    }
  }
  *out = n;
  return CX_OK;
fail:
  node_close(n);
  return e;
}

/* ---- admission ---- */

static uint64_t committed_nonce(node *n, const cx_pubkey *k) {
  uint64_t nonce = 0;
  if (vm_account_nonce(&n->ro, k, &nonce) != CX_OK) nonce = 0;
  return nonce;
}

static cx_err admit(node *n, const uint8_t *raw, size_t len, cx_hash *txid, char *detail,
                   size_t dl) {
  cx_tx tx;
  size_t off = 0;
  cx_err e;
  if (len > CX_TX_MAX_BYTES) {
    snprintf(detail, dl, "transaction is %zu bytes, the cap is %d", len, CX_TX_MAX_BYTES);
    return CX_E_TX_TOO_BIG;
  }
  if ((e = tx_decode(raw, len, &tx, &off))) {
    snprintf(detail, dl, "at byte %zu", off);
    return e;
  }
  if (!hash_eq(&tx.chain_id, &n->chain_id)) {
    e = CX_E_WRONG_CHAIN;
    goto out;
  }
  tx_id_of_bytes(raw, len, txid);
  uint64_t next = committed_nonce(n, &tx.sender);
  if (tx.nonce < next) {
    snprintf(detail, dl, "nonce %llu, account is at %llu", (unsigned long long)tx.nonce,
             (unsigned long long)next);
    e = CX_E_NONCE_USED;
    goto out;
  }
  if (tx.nonce - next >= n->cfg.mempool_max_per_sender) {
    snprintf(detail, dl, "nonce %llu, account is at %llu", (unsigned long long)tx.nonce,
             (unsigned long long)next);
    e = CX_E_NONCE_GAP;
    goto out;
  }
  if (mempool_has(n->mp, txid)) {
    e = CX_E_DUPLICATE;
    goto out;
  }
  if ((e = tx_verify_sig_raw(&tx, raw, len))) goto out;
  /* Rule dry run when the state it would run against is the committed one:
   * the sender's next transaction with nothing of it pending. */
  if (tx.nonce == next && mempool_pending_of(n->mp, &tx.sender) == 0) {
    store_ws *ws = store_ws_new(n->st);
    if (!ws) {
      e = CX_E_NOMEM;
      goto out;
    }
    vm_state s = ws_state(ws);
    cx_err receipt = CX_OK;
    e = vm_apply_tx(&s, &n->chain_id, &tx, txid, store_height(n->st) + 1, &receipt);
    store_ws_free(ws);
    if (e == CX_OK && receipt != CX_OK) e = receipt;
    if (e) goto out;
  }
  e = mempool_add(n->mp, &tx, txid, raw, len);
out:
  if (e) mempool_note_rejected(n->mp);
  tx_clear(&tx);
  return e;
}

cx_err node_submit(node *n, const uint8_t *raw, size_t len, cx_hash *txid, char *detail,
                   size_t dl) {
  cx_err e = admit(n, raw, len, txid, detail, dl);
  /* Gossip: the node that admits a transaction from a client sends it to
   * every peer once; peers admit it without forwarding (a full mesh
   * reaches everyone in one hop, and a link that is down queues it). */
  if (e == CX_OK && n->net) net_broadcast(n->net, NET_MSG_TX, raw, len);
  return e;
}

/* A transaction gossiped by a peer: the same admission, no forwarding. */
static void on_gossip_tx(void *ctx, const char *from, unsigned type, const uint8_t *p,
                         size_t len) {
  node *n = ctx;
  cx_hash txid;
  char detail[128] = "";
  cx_err e = admit(n, p, len, &txid, detail, sizeof detail);
  if (e == CX_OK) {
    __atomic_add_fetch(&n->gossip_in, 1, __ATOMIC_RELAXED);
  } else if (e == CX_E_DUPLICATE) {
    __atomic_add_fetch(&n->gossip_dup, 1, __ATOMIC_RELAXED);
  } else {
    __atomic_add_fetch(&n->gossip_bad, 1, __ATOMIC_RELAXED);
    LOG_D("node", "gossiped transaction from %s refused: %s %s", from, cx_err_name(e), detail);
  }
}

void node_gossip_stats(const node *n, uint64_t *admitted, uint64_t *dup, uint64_t *refused) {
  *admitted = __atomic_load_n(&n->gossip_in, __ATOMIC_RELAXED);
  *dup = __atomic_load_n(&n->gossip_dup, __ATOMIC_RELAXED);
  *refused = __atomic_load_n(&n->gossip_bad, __ATOMIC_RELAXED);
}

/* Gives net/ the validators in force (with their link keys and addresses)
 * when they differ from what it has: a member removed on chain is cut off
 * at the height its removal commits. */
static void refresh_links(node *n) {
  if (!n->net) return;
  cx_member *vals = malloc(CX_MAX_VALIDATORS * sizeof *vals);
  net_member *nm = malloc(CX_MAX_VALIDATORS * sizeof *nm);
  size_t nval = 0, k = 0;
  if (!vals || !nm || vm_validators(&n->ro, vals, CX_MAX_VALIDATORS, &nval) != CX_OK) {
    LOG_E("node", "cannot read the validator set to update member links");
    goto out;
  }
  crypto_hash_sha256_state hs;
  crypto_hash_sha256_init(&hs);
  for (size_t i = 0; i < nval; i++) {
    if (!vals[i].address[0]) continue;
    memset(&nm[k], 0, sizeof nm[k]);
    snprintf(nm[k].name, sizeof nm[k].name, "%s", vals[i].name);
    memcpy(nm[k].enc_key, vals[i].enc_key, 32);
    snprintf(nm[k].address, sizeof nm[k].address, "%s", vals[i].address);
    crypto_hash_sha256_update(&hs, (const uint8_t *)&nm[k], sizeof nm[k]);
    k++;
  }
  cx_hash d;
  crypto_hash_sha256_final(&hs, d.b);
  if (hash_eq(&d, &n->links_digest)) goto out;
  if (net_set_members(n->net, nm, k) == CX_OK) n->links_digest = d;
out:
  free(vals);
  free(nm);
}

/* ---- refused peer input: counted, logged at most once a second ---- */

static void refuse(node *n, uint64_t *counter, const char *what, const char *from,
                   const char *why) {
  uint64_t c = __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
  uint64_t now = n->clock->mono_ms(n->clock);
  uint64_t last = __atomic_load_n(&n->bad_logged_at, __ATOMIC_RELAXED);
  if (now >= last + 1000 &&
      __atomic_compare_exchange_n(&n->bad_logged_at, &last, now, 0, __ATOMIC_RELAXED,
                                  __ATOMIC_RELAXED))
    LOG_W("node", "%s from %s refused: %s (%llu refused so far)", what, from, why,
          (unsigned long long)c);
}

/* ---- block cache ---- */

static void ent_clear(bcache_ent *b) {
  free(b->bytes);
  store_ws_free(b->ws);
  free(b->txids);
  free(b->codes);
  free(b->refs);
  memset(b, 0, sizeof *b);
}

static bcache_ent *cache_find(node *n, const cx_hash *h) {
  for (size_t i = 0; i < BCACHE_MAX; i++)
    if (n->cache[i].used && hash_eq(&n->cache[i].hash, h)) return &n->cache[i];
  return NULL;
}

/* A free slot (the oldest entry is evicted when full). */
static bcache_ent *cache_slot(node *n) {
  bcache_ent *best = NULL;
  for (size_t i = 0; i < BCACHE_MAX; i++) {
    if (!n->cache[i].used) {
      best = &n->cache[i];
      break;
    }
    if (!best || n->cache[i].seq < best->seq) best = &n->cache[i];
  }
  ent_clear(best);
  best->used = 1;
  best->seq = ++n->cache_seq;
  return best;
}

static void cache_clear(node *n) {
  for (size_t i = 0; i < BCACHE_MAX; i++) ent_clear(&n->cache[i]);
}

/* Arrays of an executed block. */
static cx_err ent_arrays(bcache_ent *b, size_t cap) {
  size_t c = cap ? cap : 1;
  b->txids = malloc(c * sizeof *b->txids);
  b->codes = malloc(c * sizeof *b->codes);
  b->refs = malloc(c * sizeof *b->refs);
  return b->txids && b->codes && b->refs ? CX_OK : CX_E_NOMEM;
}

/* tx_root and receipts_root of an executed block. */
static cx_err ent_roots(const bcache_ent *b, cx_hash *tx_root, cx_hash *receipts_root) {
  cx_hash *leaves = malloc((b->ntx ? b->ntx : 1) * sizeof *leaves);
  if (!leaves) return CX_E_NOMEM;
  for (size_t k = 0; k < b->ntx; k++) receipt_leaf(&b->txids[k], b->codes[k], &leaves[k]);
  merkle_root(leaves, b->ntx, receipts_root);
  free(leaves);
  merkle_root(b->txids, b->ntx, tx_root);
  return CX_OK;
}

/* ---- building our proposal (BUILD_BLOCK) ---- */

typedef struct {
  node *n;
  const vm_state *st;
  uint64_t height;
  cx_block *blk;
  bcache_ent *ent;
  cx_err fatal;
} build_ctx;

static uint64_t sel_next_nonce(void *ctx, const cx_pubkey *k) {
  build_ctx *b = ctx;
  uint64_t nonce = 0;
  if (vm_account_nonce(b->st, k, &nonce) != CX_OK) nonce = UINT64_MAX; /* skip sender */
  return nonce;
}

static int sel_take(void *ctx, const cx_tx *tx, const cx_hash *txid, const uint8_t *raw,
                    size_t len) {
  build_ctx *b = ctx;
  cx_err receipt = CX_OK;
  cx_err e = vm_apply_tx(b->st, &b->n->chain_id, tx, txid, b->height, &receipt);
  if (e == CX_E_NONCE_USED || e == CX_E_NONCE_GAP || e == CX_E_WRONG_CHAIN) return 0;
  if (e) {
    b->fatal = e;
    return -1;
  }
  size_t i = b->blk->ntx;
  if ((e = block_add_tx(b->blk, raw, len))) {
    b->fatal = e;
    return -1;
  }
  b->ent->txids[i] = *txid;
  b->ent->codes[i] = (int32_t)receipt;
  b->ent->refs[i].sender = tx->sender;
  b->ent->refs[i].nonce = tx->nonce;
  b->ent->ntx = i + 1;
  return 1;
}

/* Builds and executes a block for (height, round) from the mempool, as the
 * proposer of that round; the block goes into the cache. An error is local
 * (storage, memory) and fatal. */
static cx_err build_block(node *n, uint64_t height, uint32_t round, cx_hash *out) {
  cx_block blk;
  block_init(&blk);
  bcache_ent tmp = {0};
  cx_err e;
  size_t cap = n->genesis.block_max_txs;
  if ((e = ent_arrays(&tmp, cap))) goto out;
  if (!(tmp.ws = store_ws_new(n->st))) {
    e = CX_E_NOMEM;
    goto out;
  }
  vm_state s = ws_state(tmp.ws);
  build_ctx b = {.n = n, .st = &s, .height = height, .blk = &blk, .ent = &tmp};
  mempool_selector sel = {&b, sel_next_nonce, sel_take};
  mempool_select(n->mp, cap, &sel);
  if ((e = b.fatal)) goto out;
  if ((e = ent_roots(&tmp, &blk.h.tx_root, &blk.h.receipts_root))) goto out;
  if ((e = store_ws_root(tmp.ws, &blk.h.state_root))) goto out;
  blk.h.chain_id = n->chain_id;
  blk.h.height = height;
  blk.h.view = round; /* the round it is proposed in (bft_proposer(height, view)) */
  store_tip_hash(n->st, &blk.h.parent);
  uint64_t now = n->clock->now_ms(n->clock);
  blk.h.time_ms = now > n->tip_time ? now : n->tip_time; /* never goes back */
  blk.h.proposer = n->keys.pub;
  if ((e = block_encode(&blk, &tmp.bytes, &tmp.len))) goto out;
  block_hash(&blk.h, &tmp.hash);
  tmp.h = blk.h;
  tmp.executed = 1;
  bcache_ent *slot = cache_slot(n);
  uint64_t seq = slot->seq;
  *slot = tmp;
  slot->used = 1;
  slot->seq = seq;
  memset(&tmp, 0, sizeof tmp);
  *out = slot->hash;
out:
  ent_clear(&tmp);
  block_clear(&blk);
  return e;
}

/* ---- executing a received block (CHECK_PROPOSAL, block sync) ---- */

/* Executes ent's block on the committed state and compares its roots.
 * from_sync: a certified block (no check of its time against our clock).
 * CX_OK: valid, ent->ws holds its writes. Else the reason in why; an
 * invalid block is the peer's fault, never fatal. */
static cx_err exec_block(node *n, bcache_ent *ent, int from_sync, char *why, size_t wl) {
  cx_block blk;
  block_init(&blk);
  cx_err e = CX_E_BAD_BLOCK;
  const cx_pubkey *prop = NULL;
  cx_hash tip, bh, r1, r2;
  ent->executed = -1;
  snprintf(why, wl, "?");
  if (block_decode(ent->bytes, ent->len, &blk)) {
    snprintf(why, wl, "block does not decode");
    goto out;
  }
  block_hash(&blk.h, &bh);
  store_tip_hash(n->st, &tip);
  uint64_t h = store_height(n->st) + 1;
  if (!hash_eq(&bh, &ent->hash)) {
    snprintf(why, wl, "block hash differs from the announced one");
    goto out;
  }
  if (!hash_eq(&blk.h.chain_id, &n->chain_id)) {
    snprintf(why, wl, "block of another chain");
    goto out;
  }
  if (blk.h.height != h) {
    snprintf(why, wl, "height %llu, expected %llu", (unsigned long long)blk.h.height,
             (unsigned long long)h);
    goto out;
  }
  if (!hash_eq(&blk.h.parent, &tip)) {
    snprintf(why, wl, "parent is not our tip");
    e = CX_E_BAD_PARENT;
    goto out;
  }
  /* The proposer of the round the block was built in (its view): a valid
   * value re-proposed in a later round keeps its header (Algorithm 1,
   * L16), and the engine checks who proposed it in this round. */
  pthread_mutex_lock(&n->vmu);
  if (blk.h.view <= UINT32_MAX && n->nvk)
    prop = &n->vkeys[bft_proposer(h, (uint32_t)blk.h.view, n->nvk)];
  int prop_ok = prop && memcmp(prop->b, blk.h.proposer.b, 32) == 0;
  pthread_mutex_unlock(&n->vmu);
  if (!prop_ok) {
    snprintf(why, wl, "proposer is not the one of round %llu", (unsigned long long)blk.h.view);
    goto out;
  }
  uint64_t now = n->clock->now_ms(n->clock);
  if (blk.h.time_ms < n->tip_time || (!from_sync && blk.h.time_ms > now + MAX_FUTURE_MS)) {
    snprintf(why, wl, "time %llu out of range", (unsigned long long)blk.h.time_ms);
    goto out;
  }
  if (blk.ntx > n->genesis.block_max_txs) {
    snprintf(why, wl, "%zu transactions, the cap is %u", blk.ntx, n->genesis.block_max_txs);
    goto out;
  }
  if ((e = ent_arrays(ent, blk.ntx)) || !(ent->ws = store_ws_new(n->st))) {
    snprintf(why, wl, "out of memory");
    e = CX_E_NOMEM;
    goto out;
  }
  vm_state s = ws_state(ent->ws);
  ent->ntx = 0;
  for (size_t i = 0; i < blk.ntx; i++) {
    cx_tx tx;
    size_t off = 0;
    cx_hash txid;
    cx_err receipt = CX_OK;
    e = tx_decode(blk.txs[i], blk.tx_len[i], &tx, &off);
    if (e) {
      snprintf(why, wl, "tx %zu does not decode: %s at byte %zu", i, cx_err_name(e), off);
      e = CX_E_BAD_BLOCK;
      goto out;
    }
    tx_id_of_bytes(blk.txs[i], blk.tx_len[i], &txid);
    /* Admission verified the signatures of what our mempool holds. */
    if (!mempool_has(n->mp, &txid)) e = tx_verify_sig_raw(&tx, blk.txs[i], blk.tx_len[i]);
    if (!e) e = vm_apply_tx(&s, &n->chain_id, &tx, &txid, h, &receipt);
    if (!e) {
      ent->txids[i] = txid;
      ent->codes[i] = (int32_t)receipt;
      ent->refs[i].sender = tx.sender;
      ent->refs[i].nonce = tx.nonce;
      ent->ntx = i + 1;
    }
    tx_clear(&tx);
    if (e) {
      snprintf(why, wl, "tx %zu cannot be included: %s", i, cx_err_name(e));
      e = CX_E_BAD_BLOCK;
      goto out;
    }
  }
  if ((e = ent_roots(ent, &r1, &r2))) goto out;
  if (!hash_eq(&r1, &blk.h.tx_root) || !hash_eq(&r2, &blk.h.receipts_root)) {
    snprintf(why, wl, "tx_root or receipts_root does not match");
    e = CX_E_BAD_ROOT;
    goto out;
  }
  if ((e = store_ws_root(ent->ws, &r1))) goto out;
  if (!hash_eq(&r1, &blk.h.state_root)) {
    snprintf(why, wl, "state_root does not match the execution");
    e = CX_E_BAD_ROOT;
    goto out;
  }
  ent->h = blk.h;
  ent->executed = 1;
  e = CX_OK;
out:
  if (e) {
    store_ws_free(ent->ws);
    ent->ws = NULL;
  }
  block_clear(&blk);
  return e;
}

/* ---- commit (decided by the engine, or certified and fetched by sync) ---- */

static void after_commit_status(node *n);

/* Commits an executed block with its certificate, then prepares the
 * COMMITTED event (validator set of the next height). The cache is cleared
 * (ent with it). A storage failure is returned: fatal. */
static cx_err commit_block(node *n, bcache_ent *ent, const cx_cert *cert, bft_event *ev) {
  uint8_t *cenc = NULL;
  size_t clen = 0;
  cx_err e;
  CX_ASSERT(ent->executed == 1 && ent->ws);
  if ((e = cert_encode(cert, &cenc, &clen))) return e;
  store_txent *ents = malloc((ent->ntx ? ent->ntx : 1) * sizeof *ents);
  if (!ents) {
    free(cenc);
    return CX_E_NOMEM;
  }
  for (size_t k = 0; k < ent->ntx; k++) {
    ents[k].txid = ent->txids[k];
    ents[k].code = ent->codes[k];
  }
  e = store_commit(n->st, ent->ws, ent->h.height, &ent->hash, &ent->h.parent, ent->bytes,
                   ent->len, cenc, clen, ents, ent->ntx);
  ent->ws = NULL; /* consumed */
  free(cenc);
  free(ents);
  if (e) {
    LOG_E("node", "commit of block %llu failed: %s", (unsigned long long)ent->h.height,
          cx_err_str(e));
    return e;
  }
  n->tip_time = ent->h.time_ms;
  mempool_remove_committed(n->mp, ent->refs, ent->ntx);
  n->last_commit_ntx = ent->ntx;
  char hex[65];
  LOG_D("node", "committed block %llu (%zu txs, %u votes) %s", (unsigned long long)ent->h.height,
        ent->ntx, (unsigned)cert->nvotes, hash_hex(&ent->hash, hex));
  memset(ev, 0, sizeof *ev);
  ev->type = BFT_EV_COMMITTED;
  ev->height = ent->h.height;
  cache_clear(n); /* ent is gone */
  refresh_links(n);
  size_t nval = 0;
  if ((e = read_validators(n, n->next_keys, &nval))) {
    LOG_E("node", "cannot read the validator set after block %llu: %s",
          (unsigned long long)ev->height, cx_err_str(e));
    return e;
  }
  ev->validators = n->next_keys;
  ev->nvalidators = nval;
  publish_validators(n, n->next_keys, nval);
  for (size_t i = 0; i < TIMERS_MAX; i++) /* timers of the old height are stale */
    if (n->timers[i].used && n->timers[i].height <= ev->height) n->timers[i].used = 0;
  n->started = 0;
  n->last_commit_mono = n->clock->mono_ms(n->clock);
  after_commit_status(n);
  return CX_OK;
}

/* ---- driving the engine ---- */

static void fatal(node *n, cx_err e, const char *what) {
  LOG_E("node", "consensus stopped: %s: %s", what, cx_err_str(e));
  pthread_mutex_lock(&n->mu);
  if (!n->failed) n->fatal = e;
  n->failed = 1;
  n->stop = 1;
  pthread_cond_broadcast(&n->cv);
  pthread_mutex_unlock(&n->mu);
}

static int is_failed(node *n) { return __atomic_load_n(&n->failed, __ATOMIC_RELAXED); }

static void push_event(node *n, const bft_event *ev) {
  /* Bounded by construction: each action yields at most one event and the
   * queue is drained between engine steps. */
  CX_ASSERT(n->npend < PENDING_MAX);
  n->pend[n->npend++] = *ev;
}

static void send_consensus(node *n, const bft_msg *m);

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

/* Reports an equivocation on chain: a TX_EVIDENCE signed with our key, sent
 * through admission like any client transaction (so it is gossiped). Skipped
 * when the chain already holds evidence for that (signer, type, height,
 * round); if several validators report at once, the first recorded wins and
 * the others get an evidence_exists receipt. */
static void submit_evidence(node *n, const bft_action *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_EVIDENCE;
  tx.chain_id = n->chain_id;
  cx_tx_evidence *ev = &tx.u.evidence;
  pthread_mutex_lock(&n->vmu);
  int known = a->msg.signer < n->nvk;
  if (known) ev->accused = n->vkeys[a->msg.signer];
  pthread_mutex_unlock(&n->vmu);
  if (!known) return;
  ev->msg_type = a->msg.type;
  ev->height = a->msg.height;
  ev->round = a->msg.round;
  const bft_msg *m[2] = {&a->msg, &a->msg2};
  for (int i = 0; i < 2; i++) {
    ev->half[i].pol_round = m[i]->type == BFT_PROPOSAL ? m[i]->pol_round : CX_CS_NIL_ROUND;
    ev->half[i].block_hash = m[i]->block_hash;
    ev->half[i].sig = m[i]->sig;
  }
  tx_evidence_order(ev);
  vm_evidence *have = malloc(sizeof *have);
  int recorded = have && vm_evidence_get(&n->ro, &ev->accused, ev->msg_type, ev->height,
                                         ev->round, have) == CX_OK;
  free(have);
  if (recorded || tx_evidence_check(ev) != CX_OK) return;
  tx.nonce = committed_nonce(n, &n->keys.pub) + mempool_pending_of(n->mp, &n->keys.pub);
  uint8_t *raw = NULL;
  size_t len = 0;
  cx_hash txid;
  char detail[128] = "";
  cx_err e = tx_sign(&tx, n->keys.sign);
  if (!e) e = tx_encode(&tx, 1, &raw, &len);
  if (!e) e = node_submit(n, raw, len, &txid, detail, sizeof detail);
  char hex[65];
  if (e)
    LOG_W("node", "evidence transaction not admitted: %s %s", cx_err_name(e), detail);
  else
    LOG_I("node", "evidence transaction %s submitted", hash_hex(&txid, hex));
  free(raw);
  tx_clear(&tx);
}

static void record_evidence(node *n, const bft_action *a) {
  node_evidence ev = {.height = a->msg.height, .round = a->msg.round, .type = a->msg.type,
                      .signer = a->msg.signer, .hash1 = a->msg.block_hash,
                      .hash2 = a->msg2.block_hash, .time_ms = n->clock->now_ms(n->clock)};
  pthread_mutex_lock(&n->vmu);
  snprintf(ev.name, sizeof ev.name, "%s",
           a->msg.signer < n->nvk ? n->vnames[a->msg.signer] : "?");
  n->evidence[n->evidence_next] = ev;
  n->evidence_next = (n->evidence_next + 1) % EVIDENCE_MAX;
  if (n->nevidence < EVIDENCE_MAX) n->nevidence++;
  pthread_mutex_unlock(&n->vmu);
  static const char *tn[] = {"?", "proposal", "prevote", "precommit"};
  char h1[65], h2[65];
  LOG_W("node", "equivocation by %s (signer %u) at height %llu round %u: two %ss, %s and %s",
        ev.name, (unsigned)ev.signer, (unsigned long long)ev.height, (unsigned)ev.round,
        ev.type <= 3 ? tn[ev.type] : "?", hash_hex(&ev.hash1, h1), hash_hex(&ev.hash2, h2));
}

/* Carries out one action; events it produces are queued in n->pend.
 * Returns non-zero after a fatal error (then nothing more is carried out). */
static int do_action(node *n, const bft_action *a) {
  cx_err e;
  bft_event ev;
  switch (a->type) {
    case BFT_ACT_PERSIST:
      /* Durable before anything that follows (bft.h): a failure is fatal. */
      if ((e = persist_safety(n, &a->safety))) {
        fatal(n, e, "cannot persist the safety record");
        return 1;
      }
      return 0;
    case BFT_ACT_BROADCAST:
      send_consensus(n, &a->msg);
      return 0;
    case BFT_ACT_BUILD_BLOCK:
      memset(&ev, 0, sizeof ev);
      if (a->height != store_height(n->st) + 1) return 0; /* not our height: ignore */
      if ((e = build_block(n, a->height, a->round, &ev.block_hash))) {
        fatal(n, e, "cannot build a block");
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
      bcache_ent *ent = cache_find(n, &a->block_hash);
      if (ent && ent->executed == 0 && a->height == store_height(n->st) + 1) {
        char why[160];
        if (exec_block(n, ent, 0, why, sizeof why)) {
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
      bcache_ent *ent = cache_find(n, &a->block_hash);
      char hex[65];
      if (a->height != store_height(n->st) + 1) return 0;
      if (ent && ent->executed == 0) {
        char why[160];
        if (exec_block(n, ent, 0, why, sizeof why))
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
      if ((e = commit_block(n, ent, &a->cert, &ev))) {
        fatal(n, e, "cannot commit");
        return 1;
      }
      push_event(n, &ev);
      return 0;
    }
    case BFT_ACT_SET_TIMER:
      timer_set(n, a);
      return 0;
    case BFT_ACT_EVIDENCE:
      record_evidence(n, a);
      submit_evidence(n, a);
      return 0;
  }
  return 0;
}

/* Feeds ev and every event its actions produce, carrying out the actions in
 * order (bft.h). */
static void drive(node *n, const bft_event *ev) {
  n->npend = 0;
  push_event(n, ev);
  while (n->npend && !is_failed(n)) {
    bft_event cur = n->pend[0];
    memmove(&n->pend[0], &n->pend[1], (n->npend - 1) * sizeof n->pend[0]);
    n->npend--;
    size_t na = bft_step(n->eng, &cur, n->act);
    CX_ASSERT(na <= BFT_MAX_ACTIONS);
    for (size_t i = 0; i < na; i++)
      if (do_action(n, &n->act[i])) break;
  }
  n->npend = 0;
  publish_status(n);
}

static void feed_start(node *n) {
  if (n->started) return;
  n->started = 1;
  bft_event ev = {.type = BFT_EV_START, .height = store_height(n->st) + 1};
  drive(n, &ev);
}

/* ---- consensus messages on the wire ----
 * NET_MSG_CONSENSUS payload: u8 version (1) | varint len | bft_msg encoding
 * (bft_msg_encode) | for a PROPOSAL: the encoded block (rest of the
 * payload; its hash must be the message's block_hash). */

static void send_consensus(node *n, const bft_msg *m) {
  if (!n->net) return;
  uint8_t mb[BFT_MSG_MAX];
  size_t ml = bft_msg_encode(m, mb);
  const bcache_ent *ent = NULL;
  if (m->type == BFT_PROPOSAL) {
    ent = cache_find(n, &m->block_hash);
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
   * validly signed prevote for nil (tests/integration/test_evidence.sh). */
  static int equivocate = -1;
  if (equivocate < 0) equivocate = getenv("CUSTOS_TEST_EQUIVOCATE") != NULL;
  if (equivocate && m->type == BFT_PREVOTE && !hash_is_zero(&m->block_hash)) {
    bft_msg twin = *m;
    memset(&twin.block_hash, 0, sizeof twin.block_hash);
    uint8_t dg[32];
    bft_msg_digest(&n->chain_id, &twin, dg);
    if (key_sign32(n->keys.sign, dg, NULL, &twin.sig) == CX_OK) send_consensus(n, &twin);
  }
#endif
}

/* Queue for the consensus thread. Takes data (malloc'd) on success; on a
 * full queue frees it and returns 0 (the sender retransmits). */
static int enqueue(node *n, const qev *ev) {
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

/* Net thread: cheap checks first, then the signature against the set of
 * the message's height (known for the current height; a message for
 * height + 1 is checked by the consensus thread once that set is known). */
static void on_consensus(void *ctx, const char *from, unsigned type, const uint8_t *p,
                         size_t len) {
  node *n = ctx;
  cx_dec d;
  uint8_t ver = 0;
  uint64_t ml = 0;
  bft_msg m;
  dec_init(&d, p, len);
  if (dec_u8(&d, &ver) || ver != CS_WIRE_VERSION) {
    refuse(n, &n->cs_bad, "consensus message", from, "unknown version");
    return;
  }
  if (dec_varint_max(&d, &ml, BFT_MSG_MAX) || len - d.off < ml) {
    refuse(n, &n->cs_bad, "consensus message", from, "bad length");
    return;
  }
  if (bft_msg_decode(p + d.off, (size_t)ml, &m)) {
    refuse(n, &n->cs_bad, "consensus message", from, "does not decode");
    return;
  }
  const uint8_t *blk = p + d.off + ml;
  size_t bl = len - d.off - (size_t)ml;
  if (m.type == BFT_PROPOSAL) {
    cx_block_header h;
    cx_hash bh;
    if (bl == 0 || bl > CX_BLOCK_MAX_BYTES || block_peek(blk, bl, &h, &bh) ||
        !hash_eq(&bh, &m.block_hash)) {
      refuse(n, &n->cs_bad, "proposal", from, "block missing or not the announced one");
      return;
    }
  } else if (bl) {
    refuse(n, &n->cs_bad, "vote", from, "trailing bytes");
    return;
  }
  cx_pubkey pk;
  int known = 0;
  pthread_mutex_lock(&n->vmu);
  uint64_t cur = n->vheight;
  if (m.height == cur && m.signer < n->nvk) {
    pk = n->vkeys[m.signer];
    known = 1;
  }
  size_t nvk = n->nvk;
  pthread_mutex_unlock(&n->vmu);
  if (m.height != cur && m.height != cur + 1) return; /* stale or far ahead: sync's job */
  if (m.height == cur && !known) {
    refuse(n, &n->cs_bad, "consensus message", from, "signer index out of the validator set");
    return;
  }
  if (m.signer >= CX_MAX_VALIDATORS) {
    refuse(n, &n->cs_bad, "consensus message", from, "signer index out of range");
    return;
  }
  (void)nvk;
  if (known && !verify_msg(n, &m, &pk)) {
    refuse(n, &n->cs_bad, "consensus message", from, "bad signature");
    return;
  }
  qev ev = {.type = QE_MSG, .verified = (uint8_t)known, .msg = m};
  snprintf(ev.from, sizeof ev.from, "%s", from);
  if (bl) {
    if (!(ev.data = malloc(bl))) return;
    memcpy(ev.data, blk, bl);
    ev.len = bl;
  }
  enqueue(n, &ev);
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
    int ok = 0;
    pthread_mutex_lock(&n->vmu);
    ok = ev->msg.signer < n->nvk && verify_msg(n, &ev->msg, &n->vkeys[ev->msg.signer]);
    pthread_mutex_unlock(&n->vmu);
    if (!ok) {
      refuse(n, &n->cs_bad, "consensus message", ev->from, "bad signer or signature");
      free(ev->data);
      return;
    }
  }
  if (ev->msg.type == BFT_PROPOSAL && ev->data && !cache_find(n, &ev->msg.block_hash)) {
    bcache_ent *b = cache_slot(n);
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
  drive(n, &be);
}

/* After a commit: the messages kept for the new height. */
static void replay_deferred(node *n) {
  while (n->ndefer && !is_failed(n)) {
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

/* ---- block sync (NET_MSG_SYNC) ----
 * u8 version (1) | u8 kind |
 *   STATUS: varint height (our committed height)
 *   GET   : varint from | varint max (<= 64)
 *   BLOCKS: varint count (<= 64) | count x (bytes block | bytes cert)
 * A BLOCKS message stays under 4 MiB unless its first block alone is
 * larger. Every block is checked against its certificate and executed
 * before it is committed. */

static void send_sync_status(node *n, const char *to) {
  if (!n->net) return;
  uint8_t buf[16];
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, SYNC_WIRE_VERSION);
  enc_u8(&e, SYNC_STATUS);
  enc_varint(&e, store_height(n->st));
  if (enc_finish(&e) == CX_OK && e.len <= sizeof buf) {
    if (to)
      net_send(n->net, to, NET_MSG_SYNC, e.buf, e.len);
    else
      net_broadcast(n->net, NET_MSG_SYNC, e.buf, e.len);
  }
  enc_free(&e);
}

static void after_commit_status(node *n) { send_sync_status(n, NULL); }

/* Asks `to` for the blocks after ours unless a request is outstanding. */
static void sync_request(node *n, const char *to, int force) {
  uint64_t now = n->clock->mono_ms(n->clock);
  pthread_mutex_lock(&n->smu);
  if (!force && now < n->sync_req_until) {
    pthread_mutex_unlock(&n->smu);
    return;
  }
  n->sync_req_until = now + SYNC_RETRY_MS;
  pthread_mutex_unlock(&n->smu);
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, SYNC_WIRE_VERSION);
  enc_u8(&e, SYNC_GET);
  enc_varint(&e, store_height(n->st) + 1);
  enc_varint(&e, SYNC_MAX_BLOCKS);
  if (enc_finish(&e) == CX_OK) net_send(n->net, to, NET_MSG_SYNC, e.buf, e.len);
  enc_free(&e);
}

static void serve_get(node *n, const char *to, uint64_t from, uint64_t max) {
  uint64_t top = store_height(n->st);
  if (from == 0 || from > top) return;
  if (max > SYNC_MAX_BLOCKS) max = SYNC_MAX_BLOCKS;
  cx_enc body;
  enc_init(&body);
  uint64_t count = 0;
  for (uint64_t h = from; h <= top && count < max; h++) {
    uint8_t *b = NULL, *c = NULL;
    size_t bl = 0, cl = 0;
    if (store_block_get(n->st, h, &b, &bl) || store_cert_get(n->st, h, &c, &cl)) {
      free(b);
      break;
    }
    int fits = count == 0 || body.len + bl + cl + 20 <= SYNC_MAX_BYTES;
    if (fits) {
      enc_bytes(&body, b, bl);
      enc_bytes(&body, c, cl);
      count++;
    }
    free(b);
    free(c);
    if (!fits) break;
  }
  if (count && enc_finish(&body) == CX_OK) {
    cx_enc e;
    enc_init(&e);
    enc_u8(&e, SYNC_WIRE_VERSION);
    enc_u8(&e, SYNC_BLOCKS);
    enc_varint(&e, count);
    enc_fixed(&e, body.buf, body.len);
    if (enc_finish(&e) == CX_OK) net_send(n->net, to, NET_MSG_SYNC, e.buf, e.len);
    enc_free(&e);
  }
  enc_free(&body);
}

/* Net thread. STATUS and GET are answered here (store reads are safe from
 * any thread); BLOCKS go to the consensus thread. */
static void on_sync(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len) {
  node *n = ctx;
  cx_dec d;
  uint8_t ver = 0, kind = 0;
  uint64_t a = 0, b = 0;
  dec_init(&d, p, len);
  if (dec_u8(&d, &ver) || ver != SYNC_WIRE_VERSION || dec_u8(&d, &kind)) {
    refuse(n, &n->sync_bad, "sync message", from, "unknown version");
    return;
  }
  switch (kind) {
    case SYNC_STATUS:
      if (dec_varint(&d, &a) || dec_finish(&d)) break;
      if (a > store_height(n->st)) {
        pthread_mutex_lock(&n->smu);
        if (a > n->best_peer_height) {
          n->best_peer_height = a;
          snprintf(n->best_peer, sizeof n->best_peer, "%s", from);
        }
        pthread_mutex_unlock(&n->smu);
        sync_request(n, from, 0);
      }
      return;
    case SYNC_GET:
      if (dec_varint(&d, &a) || dec_varint(&d, &b) || dec_finish(&d)) break;
      serve_get(n, from, a, b);
      return;
    case SYNC_BLOCKS: {
      qev ev = {.type = QE_BLOCKS};
      snprintf(ev.from, sizeof ev.from, "%s", from);
      if (!(ev.data = malloc(len))) return;
      memcpy(ev.data, p, len);
      ev.len = len;
      enqueue(n, &ev);
      return;
    }
    default:
      break;
  }
  refuse(n, &n->sync_bad, "sync message", from, "malformed");
}

/* Consensus thread: applies a BLOCKS batch in order, each block checked
 * against its certificate (validator set in force at its height, from our
 * state before applying it) and executed before it is committed. */
static void apply_blocks(node *n, const qev *ev) {
  cx_dec d;
  uint8_t ver, kind;
  uint64_t count = 0, applied = 0;
  cx_cert *cert = malloc(sizeof *cert);
  if (!cert) return;
  dec_init(&d, ev->data, ev->len);
  dec_u8(&d, &ver);
  dec_u8(&d, &kind);
  if (dec_varint_max(&d, &count, SYNC_MAX_BLOCKS)) {
    refuse(n, &n->sync_bad, "blocks", ev->from, "bad count");
    goto out;
  }
  for (uint64_t i = 0; i < count && !is_failed(n); i++) {
    const uint8_t *bp, *cp;
    size_t bl, cl;
    cx_block_header h;
    cx_hash bh;
    char why[160];
    if (dec_bytes(&d, &bp, &bl, CX_BLOCK_MAX_BYTES) || dec_bytes(&d, &cp, &cl, SYNC_CERT_MAX)) {
      refuse(n, &n->sync_bad, "blocks", ev->from, "malformed");
      break;
    }
    if (block_peek(bp, bl, &h, &bh)) {
      refuse(n, &n->sync_bad, "blocks", ev->from, "block does not decode");
      break;
    }
    uint64_t top = store_height(n->st);
    if (h.height <= top) continue; /* already have it */
    if (h.height != top + 1) {
      refuse(n, &n->sync_bad, "blocks", ev->from, "not the next height");
      break;
    }
    cx_err e;
    if (cert_decode(cp, cl, cert) || cert->height != h.height ||
        !hash_eq(&cert->block_hash, &bh)) {
      refuse(n, &n->sync_bad, "blocks", ev->from, "certificate does not match the block");
      break;
    }
    pthread_mutex_lock(&n->vmu);
    e = cert_verify(cert, &n->chain_id, h.height, &bh, n->vkeys, n->nvk);
    pthread_mutex_unlock(&n->vmu);
    if (e) {
      refuse(n, &n->sync_bad, "blocks", ev->from, "certificate does not verify");
      break;
    }
    bcache_ent *ent = cache_find(n, &bh);
    if (ent && ent->executed != 1) {
      ent_clear(ent); /* a verdict on the proposal is not one on the certified block */
      ent = NULL;
    }
    if (!ent) {
      ent = cache_slot(n);
      ent->hash = bh;
      if (!(ent->bytes = malloc(bl))) {
        ent_clear(ent);
        break;
      }
      memcpy(ent->bytes, bp, bl);
      ent->len = bl;
    }
    if (ent->executed == 0) exec_block(n, ent, 1, why, sizeof why);
    if (ent->executed != 1) {
      /* A certified block that does not execute here: a quorum disagrees
       * with our execution (or our state is damaged). Refused loudly. */
      LOG_E("node", "certified block %llu from %s does not execute: %s",
            (unsigned long long)h.height, ev->from, why);
      __atomic_add_fetch(&n->sync_bad, 1, __ATOMIC_RELAXED);
      break;
    }
    bft_event cev;
    if ((e = commit_block(n, ent, cert, &cev))) {
      fatal(n, e, "cannot commit a synced block");
      break;
    }
    applied++;
    drive(n, &cev);
    replay_deferred(n);
  }
  if (applied)
    LOG_I("node", "block sync: %llu blocks from %s, height %llu", (unsigned long long)applied,
          ev->from, (unsigned long long)store_height(n->st));
out:
  free(cert);
  /* More to fetch: ask again at once rather than at the next STATUS. */
  pthread_mutex_lock(&n->smu);
  n->sync_req_until = 0;
  uint64_t best = n->best_peer_height;
  char peer[CX_NAME_MAX + 1];
  snprintf(peer, sizeof peer, "%s", n->best_peer);
  pthread_mutex_unlock(&n->smu);
  if (applied && best > store_height(n->st) && peer[0] && !is_failed(n))
    sync_request(n, peer, 1);
}

/* ---- the consensus thread ---- */

static void handle_qev(node *n, qev *ev) {
  if (ev->type == QE_MSG) {
    handle_msg(n, ev);
  } else {
    apply_blocks(n, ev);
    free(ev->data);
  }
  replay_deferred(n);
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
  drive(n, &ev);
  return 1;
}

static uint64_t next_timer_at(const node *n) {
  uint64_t at = UINT64_MAX;
  for (size_t i = 0; i < TIMERS_MAX; i++)
    if (n->timers[i].used && n->timers[i].at < at) at = n->timers[i].at;
  return at;
}

/* START when there are transactions and block.interval_ms has passed since
 * the last commit (no empty blocks). */
static int maybe_start(node *n, uint64_t now) {
  if (n->started || now < n->last_commit_mono + n->cfg.block_interval_ms) return 0;
  mempool_stats ms;
  mempool_stats_get(n->mp, &ms);
  if (ms.size == 0) return 0;
  feed_start(n);
  return 1;
}

static void *cs_main(void *arg) {
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
      send_sync_status(n, NULL);
      next_status = now + STATUS_EVERY_MS;
    }
    if (!did) did = maybe_start(n, now);
    if (did) replay_deferred(n);
    pthread_mutex_lock(&n->mu);
    if (did || n->stop || n->qn) continue;
    uint64_t wake = next_timer_at(n);
    if (next_status < wake) wake = next_status;
    if (!n->started && now + poll < wake) wake = now + poll;
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
  for (int k = 0; k < 16 && store_height(n->st) < h && !is_failed(n); k++)
    if (!fire_timer(n, 0, 1)) break;
  if (is_failed(n)) return n->fatal ? n->fatal : CX_E_INTERNAL;
  if (store_height(n->st) < h) {
    LOG_E("node", "height %llu was not decided in-process", (unsigned long long)h);
    return CX_E_INTERNAL;
  }
  *ntx = n->last_commit_ntx;
  return CX_OK;
}

/* Our link address: the config's p2p.listen, else our genesis address. */
static cx_err start_links(node *n, char *err, size_t errlen) {
  net_config nc;
  memset(&nc, 0, sizeof nc);
  net_config_defaults(&nc);
  nc.chain_id = n->chain_id;
  snprintf(nc.self, sizeof nc.self, "%s", n->cfg.name);
  memcpy(nc.static_priv, n->keys.enc_secret, 32);
  const char *listen = n->cfg.p2p_listen;
  if (!listen[0]) {
    cx_member me;
    if (vm_member_get(&n->ro, n->cfg.name, &me) == CX_OK) snprintf(nc.listen, sizeof nc.listen, "%s", me.address);
  } else {
    snprintf(nc.listen, sizeof nc.listen, "%s", listen);
  }
  nc.keepalive_ms = n->cfg.p2p_keepalive_ms;
  nc.dead_ms = n->cfg.p2p_dead_ms;
  nc.queue_ttl_ms = n->cfg.p2p_queue_ttl_ms;
  if (!nc.listen[0]) {
    sodium_memzero(nc.static_priv, sizeof nc.static_priv);
    snprintf(err, errlen, "p2p.listen: not set, and member '%s' has no address on chain",
             n->cfg.name);
    return CX_E_CONFIG;
  }
  cx_err e = net_open(&nc, &n->net, err, errlen);
  sodium_memzero(nc.static_priv, sizeof nc.static_priv);
  if (e) return e;
  net_on(n->net, NET_MSG_TX, on_gossip_tx, n);
  net_on(n->net, NET_MSG_CONSENSUS, on_consensus, n);
  net_on(n->net, NET_MSG_SYNC, on_sync, n);
  refresh_links(n);
  if ((e = net_start(n->net))) {
    snprintf(err, errlen, "p2p: cannot start the network thread");
    return e;
  }
  LOG_I("node", "member links listening on %s", nc.listen);
  return CX_OK;
}

cx_err node_start(node *n, char *err, size_t errlen) {
  rpc_config rc = {.bind_addr = n->cfg.rpc_listen, .port = n->cfg.rpc_port,
                   .max_body = n->cfg.rpc_max_body, .max_conns = n->cfg.rpc_max_conns,
                   .max_batch = 256, .threads = n->cfg.rpc_threads,
                   .cookie_path = n->cookie_path, .get = NULL};
  const rpc_method *methods;
  size_t nm;
  api_methods(&methods, &nm);
  cx_err e = rpc_server_start(&rc, methods, nm, n, &n->rpc);
  if (e) {
    snprintf(err, errlen, "rpc: cannot listen on %s:%u (%s)", n->cfg.rpc_listen,
             (unsigned)n->cfg.rpc_port, cx_err_str(e));
    return e;
  }
  if ((e = start_links(n, err, errlen))) return e;
  n->last_commit_mono = n->clock->mono_ms(n->clock);
  if (pthread_create(&n->cs_thread, NULL, cs_main, n) != 0) {
    snprintf(err, errlen, "cannot start the consensus thread");
    return CX_E_INTERNAL;
  }
  n->cs_running = 1;
  return CX_OK;
}

uint16_t node_rpc_port(const node *n) { return n->rpc ? rpc_server_port(n->rpc) : 0; }

void node_close(node *n) {
  if (!n) return;
  pthread_mutex_lock(&n->mu);
  n->stop = 1;
  pthread_cond_broadcast(&n->cv);
  pthread_mutex_unlock(&n->mu);
  if (n->cs_running) pthread_join(n->cs_thread, NULL);
  rpc_server_stop(n->rpc);
  net_close(n->net); /* after RPC: no submission can broadcast any more; no handler runs */
  for (size_t i = 0; n->q && i < n->qn; i++) free(n->q[(n->qhead + i) % EVQ_MAX].data);
  for (size_t i = 0; n->defer && i < n->ndefer; i++) free(n->defer[i].data);
  free(n->q);
  free(n->defer);
  free(n->act);
  cache_clear(n);
  bft_free(n->eng);
  mempool_free(n->mp);
  store_close(n->st);
  keystore_keys_free(&n->keys);
  pthread_cond_destroy(&n->cv);
  pthread_mutex_destroy(&n->mu);
  pthread_mutex_destroy(&n->vmu);
  pthread_mutex_destroy(&n->smu);
  free(n);
}

/* Wait helper for custosd: returns when the consensus thread stopped on failure. */
int node_failed(const node *n) { return __atomic_load_n(&n->failed, __ATOMIC_RELAXED); }

void node_consensus_status(node *n, node_cs_status *out) {
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&n->vmu);
  out->engine = n->snap;
  out->validators = n->nvk;
  pthread_mutex_unlock(&n->vmu);
  out->bad_messages = __atomic_load_n(&n->cs_bad, __ATOMIC_RELAXED);
  out->bad_sync = __atomic_load_n(&n->sync_bad, __ATOMIC_RELAXED);
}

size_t node_evidence_list(node *n, node_evidence *out, size_t cap) {
  size_t k = 0;
  pthread_mutex_lock(&n->vmu);
  for (size_t i = 0; i < n->nevidence && k < cap; i++)
    out[k++] = n->evidence[(n->evidence_next + EVIDENCE_MAX - 1 - i) % EVIDENCE_MAX];
  pthread_mutex_unlock(&n->vmu);
  return k;
}

const vm_state *node_state(node *n) { return &n->ro; }
store *node_store(node *n) { return n->st; }
mempool *node_mempool(node *n) { return n->mp; }
const vm_genesis *node_genesis(const node *n) { return &n->genesis; }
void node_chain_id(const node *n, cx_hash *out) { *out = n->chain_id; }
const node_config *node_cfg(const node *n) { return &n->cfg; }
const cx_pubkey *node_key(const node *n) { return &n->keys.pub; }
net *node_net(node *n) { return n->net; }
