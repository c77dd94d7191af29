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
#include "consensus.h"
#include "fileutil.h"
#include "genesis.h"
#include "keystore.h"
#include "log.h"
#include "merkle.h"
#include "net.h"
#include "rpc.h"

struct node {
  node_config cfg;
  vm_genesis genesis;
  cx_hash chain_id;
  store *st;
  mempool *mp;
  keystore_keys keys;
  cs_engine *cs; /* NULL while n > 1 (the BFT engine is not built yet) */
  net *net;      /* member links; NULL until node_start */
  cx_hash links_digest; /* of the member list last given to net */
  uint64_t gossip_in, gossip_dup, gossip_bad; /* atomics */
  vm_state ro; /* read-only view of committed state */
  cx_clock *clock;
  char safety_path[CFG_PATH_MAX + 16];
  char cookie_path[CFG_PATH_MAX + 16];
  uint64_t tip_time;
  rpc_server *rpc;
  pthread_t producer;
  int producer_running;
  pthread_mutex_t mu; /* guards stop and the timer deadline */
  pthread_cond_t cv;
  int stop;
  int failed;
  uint64_t timer_at; /* mono ms at which the engine's timer fires (0: none) */
  uint64_t timer_height, timer_view;
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

static cx_err sign_vote(void *ctx, const uint8_t msg[32], cx_sig *out) {
  node *n = ctx;
  return key_sign32(n->keys.sign, msg, NULL, out);
}

static cx_err load_safety(node *n, cs_safety *s) {
  char *buf;
  size_t len;
  memset(s, 0, sizeof *s);
  cx_err e = file_read_all(n->safety_path, 64, &buf, &len);
  if (e == CX_E_NOT_FOUND) return CX_OK;
  if (e) return e;
  e = cs_safety_decode((const uint8_t *)buf, len, s);
  free(buf);
  return e;
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

cx_err node_open(const node_config *cfg, node **out, char *err, size_t errlen) {
  cx_err e;
  char *pass = NULL;
  node *n = calloc(1, sizeof *n);
  if (!n) return CX_E_NOMEM;
  n->cfg = *cfg;
  n->clock = clock_system();
  pthread_mutex_init(&n->mu, NULL);
  pthread_cond_init(&n->cv, NULL);
  snprintf(n->safety_path, sizeof n->safety_path, "%s/safety", cfg->data_dir);
  snprintf(n->cookie_path, sizeof n->cookie_path, "%s/.cookie", cfg->data_dir);

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
  cx_member vals[CX_MAX_VALIDATORS];
  size_t nval = 0, self = SIZE_MAX;
  if ((e = vm_validators(&n->ro, vals, CX_MAX_VALIDATORS, &nval))) {
    snprintf(err, errlen, "cannot read the validator set: %s", cx_err_str(e));
    goto fail;
  }
  cx_pubkey vkeys[CX_MAX_VALIDATORS];
  for (size_t i = 0; i < nval; i++) {
    vkeys[i] = vals[i].key;
    if (strcmp(vals[i].name, cfg->name) == 0) self = i;
  }
  if (self == SIZE_MAX || memcmp(vals[self].key.b, n->keys.pub.b, 32) != 0) {
    snprintf(err, errlen, "member '%s' is not a validator with this keystore's key", cfg->name);
    e = CX_E_CONFIG;
    goto fail;
  }
  cs_safety safety;
  if ((e = load_safety(n, &safety))) {
    snprintf(err, errlen, "%s: damaged safety record", n->safety_path);
    goto fail;
  }
  cs_config cc = {.chain_id = n->chain_id, .validators = vkeys, .nvalidators = nval,
                  .self = self, .block_interval_ms = cfg->block_interval_ms,
                  .sign = sign_vote, .sign_ctx = n};
  if (nval > 1) {
    /* The BFT engine for n > 1 is not built yet (docs/consensus.md): the
     * node links to its peers, gossips and admits transactions, but
     * produces no blocks. Said loudly rather than pretended. */
    LOG_W("node", "%zu validators: block production for n > 1 is not implemented yet; this "
                  "node runs its member links and mempool only", nval);
  } else if ((e = cs_new(&cc, store_height(n->st), &safety, &n->cs))) {
    snprintf(err, errlen, "consensus: %s", cx_err_str(e));
    goto fail;
  }
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

/* ---- block production ---- */

typedef struct {
  node *n;
  const vm_state *st;
  uint64_t height;
  cx_block *blk;
  cx_hash *txids;
  int32_t *codes;
  mempool_slot_ref *refs;
  size_t cap;
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
  b->txids[i] = *txid;
  b->codes[i] = (int32_t)receipt;
  b->refs[i].sender = tx->sender;
  b->refs[i].nonce = tx->nonce;
  return 1;
}

/* Persist the safety record before the vote is signed (consensus.h). An
 * fsync failure here is fatal: a vote must never leave without it. */
static cx_err persist_safety(node *n, const cs_safety *s) {
  uint8_t buf[48];
  cs_safety_encode(s, buf);
  return file_write_atomic(n->safety_path, buf, sizeof buf, 0600);
}

/* Runs the engine from a TIMER event to the commit it leads to. */
static cx_err run_height(node *n, uint64_t height, uint64_t view, size_t *ntx) {
  cs_action act[CS_MAX_ACTIONS];
  cs_event ev = {.type = CS_EV_TIMER, .height = height, .view = view};
  size_t na = cs_step(n->cs, &ev, act);
  build_ctx b = {0};
  cx_block blk;
  store_ws *ws = NULL;
  cx_err e = CX_OK;
  block_init(&blk);
  *ntx = 0;
  for (size_t i = 0; i < na; i++) {
    cs_action *a = &act[i];
    if (a->type == CS_ACT_SET_TIMER) {
      pthread_mutex_lock(&n->mu);
      n->timer_at = n->clock->mono_ms(n->clock) + a->timer_ms;
      n->timer_height = a->height;
      n->timer_view = a->view;
      pthread_mutex_unlock(&n->mu);
    } else if (a->type == CS_ACT_BUILD_BLOCK) {
      ws = store_ws_new(n->st);
      size_t cap = n->genesis.block_max_txs;
      b = (build_ctx){.n = n, .height = a->height, .blk = &blk, .cap = cap};
      b.txids = malloc(cap * sizeof *b.txids);
      b.codes = malloc(cap * sizeof *b.codes);
      b.refs = malloc(cap * sizeof *b.refs);
      if (!ws || !b.txids || !b.codes || !b.refs) {
        e = CX_E_NOMEM;
        goto out;
      }
      vm_state s = ws_state(ws);
      b.st = &s;
      mempool_selector sel = {&b, sel_next_nonce, sel_take};
      mempool_select(n->mp, cap, &sel);
      if (b.fatal) {
        e = b.fatal;
        goto out;
      }
      cx_hash *leaves = malloc((blk.ntx ? blk.ntx : 1) * sizeof *leaves);
      if (!leaves) {
        e = CX_E_NOMEM;
        goto out;
      }
      for (size_t k = 0; k < blk.ntx; k++) receipt_leaf(&b.txids[k], b.codes[k], &leaves[k]);
      merkle_root(leaves, blk.ntx, &blk.h.receipts_root);
      free(leaves);
      merkle_root(b.txids, blk.ntx, &blk.h.tx_root);
      if ((e = store_ws_root(ws, &blk.h.state_root))) goto out;
      blk.h.chain_id = n->chain_id;
      blk.h.height = a->height;
      blk.h.view = a->view;
      store_tip_hash(n->st, &blk.h.parent);
      uint64_t now = n->clock->now_ms(n->clock);
      blk.h.time_ms = now > n->tip_time ? now : n->tip_time; /* never goes back */
      blk.h.proposer = n->keys.pub;
      cs_event ready = {.type = CS_EV_BLOCK_READY, .height = a->height, .view = a->view};
      block_hash(&blk.h, &ready.block_hash);
      na += cs_step(n->cs, &ready, &act[na]);
    } else if (a->type == CS_ACT_PERSIST_SAFETY) {
      if ((e = persist_safety(n, &a->safety))) {
        LOG_E("node", "cannot persist the safety record %s: %s", n->safety_path, cx_err_str(e));
        goto out;
      }
      cs_event p = {.type = CS_EV_PERSISTED, .height = a->safety.height, .view = a->safety.view};
      na += cs_step(n->cs, &p, &act[na]);
    } else if (a->type == CS_ACT_COMMIT) {
      uint8_t *enc = NULL, *cenc = NULL;
      size_t elen = 0, clen = 0;
      cx_hash bh;
      block_hash(&blk.h, &bh);
      if ((e = block_encode(&blk, &enc, &elen)) || (e = cert_encode(&a->cert, &cenc, &clen))) {
        free(enc);
        goto out;
      }
      store_txent *ents = malloc((blk.ntx ? blk.ntx : 1) * sizeof *ents);
      if (!ents) {
        free(enc);
        free(cenc);
        e = CX_E_NOMEM;
        goto out;
      }
      for (size_t k = 0; k < blk.ntx; k++) {
        ents[k].txid = b.txids[k];
        ents[k].code = b.codes[k];
      }
      e = store_commit(n->st, ws, blk.h.height, &bh, &blk.h.parent, enc, elen, cenc, clen,
                       ents, blk.ntx);
      ws = NULL; /* consumed */
      free(enc);
      free(cenc);
      free(ents);
      if (e) {
        LOG_E("node", "commit of block %llu failed: %s", (unsigned long long)blk.h.height,
              cx_err_str(e));
        goto out;
      }
      n->tip_time = blk.h.time_ms;
      mempool_remove_committed(n->mp, b.refs, blk.ntx);
      *ntx = blk.ntx;
      char hex[65];
      LOG_D("node", "committed block %llu (%zu txs) %s", (unsigned long long)blk.h.height,
            blk.ntx, hash_hex(&bh, hex));
      refresh_links(n);
      cs_event c = {.type = CS_EV_COMMITTED, .height = blk.h.height, .view = a->view};
      na += cs_step(n->cs, &c, &act[na]);
    }
    CX_ASSERT(na <= CS_MAX_ACTIONS);
  }
out:
  store_ws_free(ws);
  block_clear(&blk);
  free(b.txids);
  free(b.codes);
  free(b.refs);
  return e;
}

cx_err node_produce_block(node *n, size_t *ntx) {
  mempool_stats ms;
  *ntx = 0;
  if (!n->cs) return CX_E_CONFIG; /* n > 1: no engine yet */
  mempool_stats_get(n->mp, &ms);
  if (ms.size == 0) return CX_OK;
  pthread_mutex_lock(&n->mu);
  uint64_t h = n->timer_height, v = n->timer_view;
  pthread_mutex_unlock(&n->mu);
  if (h == 0) { /* engine not started yet (in-process use) */
    cs_action a;
    cs_start(n->cs, &a);
    h = a.height;
    v = a.view;
  }
  return run_height(n, h, v, ntx);
}

static void *producer_main(void *arg) {
  node *n = arg;
  pthread_mutex_lock(&n->mu);
  while (!n->stop) {
    uint64_t now = n->clock->mono_ms(n->clock);
    if (n->timer_at > now) {
      uint64_t wait = n->timer_at - now;
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += (time_t)(wait / 1000);
      ts.tv_nsec += (long)(wait % 1000) * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&n->cv, &n->mu, &ts);
      continue;
    }
    uint64_t h = n->timer_height, v = n->timer_view;
    pthread_mutex_unlock(&n->mu);
    mempool_stats ms;
    mempool_stats_get(n->mp, &ms);
    cx_err e = CX_OK;
    size_t ntx = 0;
    if (ms.size == 0) {
      /* No empty blocks: re-arm and look again next interval. */
      pthread_mutex_lock(&n->mu);
      n->timer_at = n->clock->mono_ms(n->clock) + n->cfg.block_interval_ms;
      continue;
    }
    e = run_height(n, h, v, &ntx);
    pthread_mutex_lock(&n->mu);
    if (e) {
      /* Storage or fsync failure: stop producing; custosd exits non-zero. */
      LOG_E("node", "block production stopped: %s", cx_err_str(e));
      n->failed = 1;
      n->stop = 1;
      pthread_cond_broadcast(&n->cv);
    }
  }
  pthread_mutex_unlock(&n->mu);
  return NULL;
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
  if (!n->cs) return CX_OK; /* n > 1: links and mempool only, see node_open */
  cs_action a;
  size_t na = cs_start(n->cs, &a);
  CX_ASSERT(na == 1 && a.type == CS_ACT_SET_TIMER);
  pthread_mutex_lock(&n->mu);
  n->timer_at = n->clock->mono_ms(n->clock) + a.timer_ms;
  n->timer_height = a.height;
  n->timer_view = a.view;
  pthread_mutex_unlock(&n->mu);
  if (pthread_create(&n->producer, NULL, producer_main, n) != 0) {
    snprintf(err, errlen, "cannot start the producer thread");
    return CX_E_INTERNAL;
  }
  n->producer_running = 1;
  return CX_OK;
}

uint16_t node_rpc_port(const node *n) { return n->rpc ? rpc_server_port(n->rpc) : 0; }

void node_close(node *n) {
  if (!n) return;
  pthread_mutex_lock(&n->mu);
  n->stop = 1;
  pthread_cond_broadcast(&n->cv);
  pthread_mutex_unlock(&n->mu);
  if (n->producer_running) pthread_join(n->producer, NULL);
  rpc_server_stop(n->rpc);
  net_close(n->net); /* after RPC: no submission can broadcast any more */
  cs_free(n->cs);
  mempool_free(n->mp);
  store_close(n->st);
  keystore_keys_free(&n->keys);
  pthread_cond_destroy(&n->cv);
  pthread_mutex_destroy(&n->mu);
  free(n);
}

/* Wait helper for custosd: returns when the producer stopped on failure. */
int node_failed(const node *n) { return __atomic_load_n(&n->failed, __ATOMIC_RELAXED); }

const vm_state *node_state(node *n) { return &n->ro; }
store *node_store(node *n) { return n->st; }
mempool *node_mempool(node *n) { return n->mp; }
const vm_genesis *node_genesis(const node *n) { return &n->genesis; }
void node_chain_id(const node *n, cx_hash *out) { *out = n->chain_id; }
const node_config *node_cfg(const node *n) { return &n->cfg; }
const cx_pubkey *node_key(const node *n) { return &n->keys.pub; }
net *node_net(node *n) { return n->net; }
int node_has_consensus(const node *n) { return n->cs != NULL; }
