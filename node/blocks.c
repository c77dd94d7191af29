/* blocks.c: the blocks of the height being decided — the block cache,
 * building our proposal (BUILD_BLOCK), executing a received block
 * (CHECK_PROPOSAL, block sync) and committing a decided or certified block.
 * Runs on the consensus thread (node_internal.h). (docs/consensus.md, "The
 * node's wiring": BUILD_BLOCK, CHECK_PROPOSAL, COMMIT.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "merkle.h"
#include "node_internal.h"

#define MAX_FUTURE_MS 30000 /* a proposal's time may be this far ahead */

/* ---- block cache ---- */

void blocks_ent_clear(bcache_ent *b) {
  free(b->bytes);
  store_ws_free(b->ws);
  free(b->txids);
  free(b->codes);
  free(b->refs);
  free(b->types);
  memset(b, 0, sizeof *b);
}

bcache_ent *blocks_cache_find(node *n, const cx_hash *h) {
  for (size_t i = 0; i < BCACHE_MAX; i++)
    if (n->cache[i].used && hash_eq(&n->cache[i].hash, h)) return &n->cache[i];
  return NULL;
}

/* A free slot (the oldest entry is evicted when full). */
bcache_ent *blocks_cache_slot(node *n) {
  bcache_ent *best = NULL;
  for (size_t i = 0; i < BCACHE_MAX; i++) {
    if (!n->cache[i].used) {
      best = &n->cache[i];
      break;
    }
    if (!best || n->cache[i].seq < best->seq) best = &n->cache[i];
  }
  blocks_ent_clear(best);
  best->used = 1;
  best->seq = ++n->cache_seq;
  metrics_block_seen(n); /* the first block of the height starts the latency clock */
  return best;
}

void blocks_cache_clear(node *n) {
  for (size_t i = 0; i < BCACHE_MAX; i++) blocks_ent_clear(&n->cache[i]);
}

/* Arrays of an executed block. */
static cx_err ent_arrays(bcache_ent *b, size_t cap) {
  size_t c = cap ? cap : 1;
  b->txids = malloc(c * sizeof *b->txids);
  b->codes = malloc(c * sizeof *b->codes);
  b->refs = malloc(c * sizeof *b->refs);
  b->types = calloc(c, 1);
  return b->txids && b->codes && b->refs && b->types ? CX_OK : CX_E_NOMEM;
}

/* ---- commands (TX_COMMAND, docs/transactions.md "Commands") ---- */

/* Whether a command's txid is already committed: CX_OK no, CX_E_DUPLICATE
 * yes (*height says where), or a store error. The txid index is the one
 * record of a command: it has no nonce to make a replay fail. */
static cx_err cmd_committed(node *n, const cx_hash *txid, uint64_t *height) {
  store_txloc loc;
  cx_err e = store_tx_get(n->st, txid, &loc);
  if (e == CX_E_NOT_FOUND) return CX_OK;
  if (e) return e;
  *height = loc.height;
  return CX_E_DUPLICATE;
}

/* The commands' txids of one block, to refuse a command twice in it:
 * open addressing, at least twice as many slots as the block has
 * transactions (so it never fills). */
typedef struct {
  cx_hash *slot;
  uint8_t *used;
  size_t cap;
} cmd_set;

static cx_err cmd_set_init(cmd_set *s, size_t ntx) {
  s->cap = 16;
  while (s->cap < 2 * ntx + 1) s->cap <<= 1;
  s->slot = malloc(s->cap * sizeof *s->slot);
  s->used = calloc(s->cap, 1);
  return s->slot && s->used ? CX_OK : CX_E_NOMEM;
}

static void cmd_set_free(cmd_set *s) {
  free(s->slot);
  free(s->used);
}

/* 1 if id was already in the set, else adds it and returns 0. */
static int cmd_set_seen(cmd_set *s, const cx_hash *id) {
  uint64_t v;
  memcpy(&v, id->b, 8); /* a hash: already uniform */
  for (size_t i = v & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
    if (!s->used[i]) {
      s->used[i] = 1;
      s->slot[i] = *id;
      return 0;
    }
    if (hash_eq(&s->slot[i], id)) return 1;
  }
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
  b->ent->types[i] = tx->type;
  b->ent->ntx = i + 1;
  return 1;
}

/* A command from the FIFO lane: nothing to execute (no state, receipt OK).
 * No store read: a command in the mempool is never a committed one (see
 * admit_command in node.c). */
static int sel_take_command(void *ctx, const cx_hash *txid, const uint8_t *raw, size_t len) {
  build_ctx *b = ctx;
  size_t i = b->blk->ntx;
  uint64_t at = 0;
  cx_err e = cmd_committed(b->n, txid, &at); /* a replay on its way out (exec_command) */
  if (e == CX_E_DUPLICATE) return 0;
  if (e) {
    b->fatal = e;
    return -1;
  }
  e = block_add_tx(b->blk, raw, len);
  if (e) {
    b->fatal = e;
    return -1;
  }
  b->ent->txids[i] = *txid;
  b->ent->codes[i] = CX_OK;
  memset(&b->ent->refs[i], 0, sizeof b->ent->refs[i]);
  b->ent->types[i] = TX_COMMAND;
  b->ent->ntx = i + 1;
  return 1;
}

/* Builds and executes a block for (height, round) from the mempool, as the
 * proposer of that round; the block goes into the cache. An error is local
 * (storage, memory) and fatal. */
cx_err blocks_build(node *n, uint64_t height, uint32_t round, cx_hash *out) {
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
  vm_state s = node_ws_state(tmp.ws);
  build_ctx b = {.n = n, .st = &s, .height = height, .blk = &blk, .ent = &tmp};
  mempool_selector sel = {&b, sel_next_nonce, sel_take};
  mempool_select(n->mp, cap, &sel);
  /* commands fill what the signed transactions left of the block */
  if (!b.fatal && n->genesis.bench_commands && tmp.ntx < cap)
    mempool_select_commands(n->mp, cap - tmp.ntx, sel_take_command, &b);
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
  bcache_ent *slot = blocks_cache_slot(n);
  uint64_t seq = slot->seq;
  *slot = tmp;
  slot->used = 1;
  slot->seq = seq;
  memset(&tmp, 0, sizeof tmp);
  *out = slot->hash;
out:
  blocks_ent_clear(&tmp);
  block_clear(&blk);
  return e;
}

/* ---- executing a received block (CHECK_PROPOSAL, block sync) ---- */

/* A command at index i of a received block: valid only on a chain with
 * bench_commands, once in the block, and not committed before. It touches
 * no state. CX_E_BAD_BLOCK with the reason in why, or a store error. */
static cx_err exec_command(node *n, cmd_set *cmds, const cx_hash *txid, size_t i, char *why,
                           size_t wl) {
  uint64_t at = 0;
  if (!n->genesis.bench_commands) {
    snprintf(why, wl, "tx %zu is a command: this chain's genesis has no bench_commands", i);
    return CX_E_BAD_BLOCK;
  }
  if (cmd_set_seen(cmds, txid)) {
    snprintf(why, wl, "tx %zu is a command already in this block", i);
    return CX_E_BAD_BLOCK;
  }
  /* Always against the txid index, also for a command our mempool holds:
   * admit_command adds a command before it reads the index, so a replay of
   * a committed one sits in the mempool until that read removes it, and
   * trusting the mempool here could let a block commit it twice. An absent
   * txid costs one probe of the store's txid filter, not a LevelDB get. */
  cx_err e = cmd_committed(n, txid, &at);
  if (e == CX_E_DUPLICATE) {
    snprintf(why, wl, "tx %zu is a command committed at height %llu", i, (unsigned long long)at);
    return CX_E_BAD_BLOCK;
  }
  if (e) snprintf(why, wl, "tx %zu: reading the txid index: %s", i, cx_err_name(e));
  return e;
}

/* Executes ent's block on the committed state and compares its roots.
 * from_sync: a certified block (no check of its time against our clock).
 * CX_OK: valid, ent->ws holds its writes. Else the reason in why; an
 * invalid block is the peer's fault, never fatal. */
cx_err blocks_exec(node *n, bcache_ent *ent, int from_sync, char *why, size_t wl) {
  cx_block blk;
  cmd_set cmds = {0};
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
  if ((e = ent_arrays(ent, blk.ntx)) || (e = cmd_set_init(&cmds, blk.ntx)) ||
      !(ent->ws = store_ws_new(n->st))) {
    snprintf(why, wl, "out of memory");
    e = CX_E_NOMEM;
    goto out;
  }
  vm_state s = node_ws_state(ent->ws);
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
    if (tx.type == TX_COMMAND) {
      if ((e = exec_command(n, &cmds, &txid, i, why, wl))) goto out;
      ent->txids[i] = txid;
      ent->codes[i] = CX_OK;
      memset(&ent->refs[i], 0, sizeof ent->refs[i]);
      ent->types[i] = TX_COMMAND;
      ent->ntx = i + 1;
      continue; /* a command's cx_tx owns nothing: no tx_clear needed */
    }
    /* Admission verified the signatures of what our mempool holds. */
    if (!mempool_has(n->mp, &txid)) e = tx_verify_sig_raw(&tx, blk.txs[i], blk.tx_len[i]);
    if (!e) e = vm_apply_tx(&s, &n->chain_id, &tx, &txid, h, &receipt);
    if (!e) {
      ent->txids[i] = txid;
      ent->codes[i] = (int32_t)receipt;
      ent->refs[i].sender = tx.sender;
      ent->refs[i].nonce = tx.nonce;
      ent->types[i] = tx.type;
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
  cmd_set_free(&cmds);
  block_clear(&blk);
  return e;
}

/* ---- commit (decided by the engine, or certified and fetched by sync) ---- */


/* Whether our key is in a validator set. */
static int has_key(const cx_pubkey *keys, size_t nval, const cx_pubkey *k) {
  for (size_t i = 0; i < nval; i++)
    if (memcmp(keys[i].b, k->b, 32) == 0) return 1;
  return 0;
}

/* Says so when a committed governance change makes this node a validator
 * (a joining member's node, docs/onboarding.md) or an observer (removed):
 * the engine follows the set it is given at COMMITTED. The set before is
 * the one published for the height just committed (node_reload_state calls
 * it too, after a state sync install). */
void blocks_log_role_change(node *n, uint64_t height, const cx_pubkey *keys, size_t nval) {
  pthread_mutex_lock(&n->vmu);
  int was = has_key(n->vkeys, n->nvk, &n->keys.pub);
  pthread_mutex_unlock(&n->vmu);
  int is = has_key(keys, nval, &n->keys.pub);
  if (is && !was)
    LOG_I("node", "member '%s' is a validator from height %llu: voting", n->cfg.name,
          (unsigned long long)height + 1);
  else if (was && !is)
    LOG_W("node", "member '%s' is no longer a validator from height %llu: observing",
          n->cfg.name, (unsigned long long)height + 1);
}

/* Commits an executed block with its certificate, then prepares the
 * COMMITTED event (validator set of the next height). The cache is cleared
 * (ent with it). A storage failure is returned: fatal. */
cx_err blocks_commit(node *n, bcache_ent *ent, const cx_cert *cert, bft_event *ev) {
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
  /* Out of the mempool, after store_commit (admit_command relies on that
   * order, node.c): signed transactions by (sender, nonce), commands by
   * txid. Each call ignores the other kind's entries: a command's ref is
   * zero (no pending transaction has the zero key: it fails every
   * signature), and a signed transaction's txid is not in the command lane. */
  mempool_remove_committed(n->mp, ent->refs, ent->ntx);
  mempool_remove_commands(n->mp, ent->txids, ent->ntx);
  /* the calls this block recorded: the call service runs them (docs/calls.md) */
  cx_hash *calls = malloc((ent->ntx ? ent->ntx : 1) * sizeof *calls);
  size_t ncalls = 0;
  for (size_t k = 0; calls && k < ent->ntx; k++)
    if (ent->codes[k] == 0 && ent->types[k] == TX_CALL) calls[ncalls++] = ent->txids[k];
  call_service_on_commit(n, calls, ncalls, ent->h.time_ms);
  free(calls);
  n->last_commit_ntx = ent->ntx;
  metrics_commit_done(n);
  char hex[65];
  LOG_D("node", "committed block %llu (%zu txs, %u votes) %s", (unsigned long long)ent->h.height,
        ent->ntx, (unsigned)cert->nvotes, hash_hex(&ent->hash, hex));
  memset(ev, 0, sizeof *ev);
  ev->type = BFT_EV_COMMITTED;
  ev->height = ent->h.height;
  blocks_cache_clear(n); /* ent is gone */
  size_t nval = 0;
  if ((e = node_read_validators(n, n->next_keys, &nval))) {
    LOG_E("node", "cannot read the validator set after block %llu: %s",
          (unsigned long long)ev->height, cx_err_str(e));
    return e;
  }
  ev->validators = n->next_keys;
  ev->nvalidators = nval;
  blocks_log_role_change(n, ev->height, n->next_keys, nval);
  node_publish_validators(n, n->next_keys, nval);
  mpc_service_on_commit(n, ev->height, n->tip_time, n->next_keys, nval);
  key_service_on_commit(n, ev->height);
  node_vault_follow(n);
  for (size_t i = 0; i < TIMERS_MAX; i++) /* timers of the old height are stale */
    if (n->timers[i].used && n->timers[i].height <= ev->height) n->timers[i].used = 0;
  __atomic_store_n(&n->started, 0, __ATOMIC_RELAXED);
  n->last_commit_mono = n->clock->mono_ms(n->clock);
  statesync_serve_tick(n); /* pins at every 16th height: at each commit */
  /* Peers learn the new height at once (a lagging one starts block sync);
   * at most every STATUS_GAP_MS, as blocks can come a hundred a second. */
  if (n->last_commit_mono >= n->status_sent_mono + STATUS_GAP_MS) sync_send_status(n, NULL);
  return CX_OK;
}
