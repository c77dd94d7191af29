/* node.c: one custosd's lifetime and its edges — node_open/node_start/
 * node_close, the accessors of node.h, the vm_state adapters over the store,
 * transaction admission (node_submit and gossiped transactions), member
 * links, and the evidence records and reports. The engine is driven by
 * host.c, blocks by blocks.c, block sync by sync.c; struct node and the
 * threads/locks rules are in node_internal.h. (docs/consensus.md, "The
 * node's wiring"; docs/net.md, "Membership" and "Transaction gossip".) */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api.h"
#include "fileutil.h"
#include "genesis.h"
#include "gossip.h"
#include "journal.h"
#include "log.h"
#include "net.h"
#include "node_internal.h"

/* Engine timing (Tendermint's timeouts grow by delta_ms per round). */
#define BFT_PROPOSE_MS 1000
#define BFT_PREVOTE_MS 500
#define BFT_PRECOMMIT_MS 500
#define BFT_DELTA_MS 250
#define BFT_REBROADCAST_MS 1000

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

vm_state node_ws_state(store_ws *ws) {
  vm_state s = {ws, ws_get, ws_put, ws_del, ws_mark, ws_rollback};
  return s;
}

/* ---- opening the node ---- */

static cx_err hasher(const uint8_t *blk, size_t len, cx_hash *hash, cx_hash *parent) {
  cx_block_header h;
  cx_err e = block_peek(blk, len, &h, hash);
  if (e) return e;
  *parent = h.parent;
  return CX_OK;
}

/* store_opts.block_txids: the txid index's pending entries are read back
 * from the blocks after a restart (storage/store.h). */
cx_err node_block_txids(const uint8_t *blk, size_t len, cx_hash **ids, size_t *n) {
  cx_block b;
  block_init(&b);
  cx_err e = block_decode(blk, len, &b);
  cx_hash *v = NULL;
  if (!e && !(v = malloc((b.ntx ? b.ntx : 1) * sizeof *v))) e = CX_E_NOMEM;
  for (size_t k = 0; !e && k < b.ntx; k++) tx_id_of_bytes(b.txs[k], b.tx_len[k], &v[k]);
  if (!e) {
    *ids = v;
    *n = b.ntx;
  }
  block_clear(&b);
  return e;
}

static cx_err sign_digest(void *ctx, const uint8_t msg[32], cx_sig *out) {
  node *n = ctx;
  return key_sign32(n->keys.sign, msg, NULL, out);
}

/* The records of DATA/safety (node_internal.h), oldest first: the last
 * safety record, and a copy of the last held part (the image does not
 * outlive journal_open's scan). */
typedef struct {
  bft_safety s;
  size_t nrec;
  int bad;               /* a record that does not decode */
  int nomem;
  uint8_t *held;         /* malloc'd; NULL: no record carried one */
  size_t held_len;
} safety_scan;

static void on_safety_rec(void *ctx, uint64_t seq, const uint8_t *rec, size_t len) {
  (void)seq;
  safety_scan *c = ctx;
  bft_safety r;
  if (c->bad) return;
  if (len < 2 + BFT_SAFETY_LEN || rec[0] != SAFETY_REC_VERSION ||
      bft_safety_decode(rec + 1, BFT_SAFETY_LEN, &r) != CX_OK || rec[1 + BFT_SAFETY_LEN] > 1 ||
      (rec[1 + BFT_SAFETY_LEN] == 0 && (len != 2 + BFT_SAFETY_LEN || c->nrec == 0))) {
    /* (a file's first record carries its held blocks: host.c persist) */
    c->bad = 1;
    return;
  }
  c->s = r;
  c->nrec++;
  if (rec[1 + BFT_SAFETY_LEN]) {
    free(c->held);
    c->held_len = len - 2 - BFT_SAFETY_LEN;
    c->held = malloc(c->held_len ? c->held_len : 1);
    if (!c->held) c->nomem = c->bad = 1;
    else memcpy(c->held, rec + 2 + BFT_SAFETY_LEN, c->held_len);
  }
}

/* The older forms (node_internal.h). A 48-byte record is the
 * single-validator engine's (height, view, hash): it covered a
 * precommit-shaped vote (vote_message), so it is carried over as "signed a
 * precommit in that round" and the engine resumes at the next round. */
static cx_err legacy_safety_parse(const uint8_t *b, size_t len, bft_safety *s, int *torn) {
  if (len == SAFETY_FILE_LEN) {
    /* Two slots: the valid one with the higher sequence. One damaged slot
     * is a write torn by a crash before its sync returned (its record
     * covers no signature); none valid refuses the start. */
    uint64_t best = 0;
    for (int k = 0; k < 2; k++) {
      const uint8_t *p = b + (size_t)k * SAFETY_SLOT_OFF;
      uint8_t sum[32];
      uint64_t seq = 0;
      bft_safety r;
      size_t z = 0;
      while (z < SAFETY_SLOT_LEN && p[z] == 0) z++;
      if (z == SAFETY_SLOT_LEN) continue; /* unused */
      for (int i = 0; i < 8; i++) seq = seq << 8 | p[i];
      hash_sha256(p, 8 + BFT_SAFETY_LEN, sum);
      if (seq == 0 || memcmp(sum, p + 8 + BFT_SAFETY_LEN, 32) != 0 ||
          bft_safety_decode(p + 8, BFT_SAFETY_LEN, &r) != CX_OK) {
        if (torn) (*torn)++;
        continue;
      }
      if (seq > best) {
        best = seq;
        *s = r;
      }
    }
    if (best) return CX_OK;
    memset(s, 0, sizeof *s);
    return CX_E_CORRUPT;
  }
  if (len == 48) {
    uint64_t h = 0, v = 0;
    for (int i = 0; i < 8; i++) {
      h = h << 8 | b[i];
      v = v << 8 | b[8 + i];
    }
    s->height = h;
    s->round = v > UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)v;
    s->step = BFT_PRECOMMIT;
    s->locked_round = s->valid_round = BFT_NIL_ROUND;
    return CX_OK;
  }
  return bft_safety_decode(b, len, s);
}

cx_err node_safety_parse(const uint8_t *b, size_t len, bft_safety *s, int *torn, uint8_t **held,
                         size_t *held_len) {
  memset(s, 0, sizeof *s);
  if (torn) *torn = 0;
  if (held) *held = NULL;
  if (held_len) *held_len = 0;
  if (!journal_is_journal(b, len)) return legacy_safety_parse(b, len, s, torn);
  safety_scan c = {0};
  size_t nrec = 0, end = 0;
  int tail = 0;
  cx_err e = journal_scan(b, len, on_safety_rec, &c, &nrec, &end, &tail);
  if (!e && (c.bad || c.nrec == 0)) e = c.nomem ? CX_E_NOMEM : CX_E_CORRUPT;
  if (e) {
    free(c.held);
    memset(s, 0, sizeof *s);
    return e;
  }
  *s = c.s;
  if (torn) *torn = tail;
  if (held) {
    *held = c.held;
    *held_len = c.held ? c.held_len : 0;
  } else {
    free(c.held);
  }
  return CX_OK;
}

/* DATA/safety: the record, and the held part for host_load_held (kept in
 * n->held_rec). At node_open the journal is opened for the consensus
 * thread's appends, its one read giving both; an older form is read apart
 * and replaced by the first record written (journal_new). After a state
 * sync install (the journal open) the file is read again. */
static cx_err load_safety(node *n, bft_safety *s) {
  memset(s, 0, sizeof *s);
  free(n->held_rec);
  n->held_rec = NULL;
  n->held_rec_len = 0;
  int torn = 0;
  if (!n->jr) {
    safety_scan c = {0};
    cx_err e = journal_open(n->safety_path, SAFETY_JOURNAL_MAX, on_safety_rec, &c, &torn, &n->jr);
    if (e == CX_OK && (c.bad || (c.nrec == 0 && !journal_fresh(n->jr)))) {
      e = c.nomem ? CX_E_NOMEM : CX_E_CORRUPT;
      journal_close(n->jr);
      n->jr = NULL;
    }
    if (e != CX_E_BAD_VERSION) {
      if (e == CX_OK) {
        *s = c.s;
        n->held_rec = c.held;
        n->held_rec_len = c.held_len;
        c.held = NULL;
        if (torn)
          LOG_W("node", "%s: the last append is torn (crash while writing), the record before it "
                "is used", n->safety_path);
      }
      free(c.held);
      return e;
    }
  }
  char *buf = NULL;
  size_t len = 0;
  cx_err e = file_read_all(n->safety_path, SAFETY_READ_MAX, &buf, &len);
  if (e == CX_E_NOT_FOUND) return CX_OK;
  if (e) return e;
  e = node_safety_parse((const uint8_t *)buf, len, s, &torn, &n->held_rec, &n->held_rec_len);
  int is_journal = journal_is_journal((const uint8_t *)buf, len);
  free(buf);
  if (e) return e;
  if (torn && !is_journal)
    LOG_W("node", "%s: one slot torn (crash while writing), the other one is used", n->safety_path);
  if (!n->jr) return journal_new(n->safety_path, SAFETY_JOURNAL_MAX, &n->jr);
  return CX_OK;
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
static void set_links(node *n, const cx_member *vals, size_t nval);

cx_err node_read_validators(node *n, cx_pubkey *keys, size_t *nval) {
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
    set_links(n, vals, k);
  }
  free(vals);
  return e;
}

/* Publishes the set of the height now being decided (net thread checks). */
void node_publish_validators(node *n, const cx_pubkey *keys, size_t nval) {
  pthread_mutex_lock(&n->vmu);
  n->vheight = store_height(n->st) + 1;
  memcpy(n->vkeys, keys, nval * sizeof *keys);
  memcpy(n->vlinks, n->vnames, nval * sizeof n->vlinks[0]);
  n->nvk = nval;
  pthread_mutex_unlock(&n->vmu);
}

void node_publish_status(node *n) {
  pthread_mutex_lock(&n->vmu);
  bft_get_status(n->eng, &n->snap);
  pthread_mutex_unlock(&n->vmu);
}

/* A bureau keeps its records in DATA/vault under a key derived from the
 * member keystore (node_vault.h); a node whose member owns no data domain
 * in the committed state has no vault. A vault that does not open stops
 * the start, as a damaged store does: a bureau's records are not served
 * from a guess. Ownership gained or lost later takes effect at the next
 * start. */
static cx_err open_vault(node *n, char *err, size_t errlen) {
  cx_member me;
  cx_err e = vm_member_get(&n->ro, n->cfg.name, &me);
  if (e == CX_E_NOT_FOUND) { /* joining: no member record at this height yet */
    LOG_I("node", "member '%s' is not on chain at this height: no vault yet", n->cfg.name);
    return CX_OK;
  }
  if (e) {
    snprintf(err, errlen, "cannot read member '%s': %s", n->cfg.name, cx_err_str(e));
    return e;
  }
  if (me.domains.n == 0) {
    LOG_I("node", "member '%s' owns no data domain: no vault", n->cfg.name);
    return CX_OK;
  }
  node_vault *v = NULL;
  if ((e = node_vault_open(n->cfg.data_dir, n->keys.sign, &v, err, errlen))) return e;
  __atomic_store_n(&n->vault, v, __ATOMIC_RELEASE);
  return CX_OK;
}

/* Consensus thread, after a commit: a member that came to own a data
 * domain (a bureau admitted after the genesis, whose node synced up to its
 * admission; docs/onboarding.md) gets its vault now rather than at its next
 * start. Published atomically: RPC threads read it (node_vault_of). A vault
 * that does not open is said once; the node goes on without it. */
void node_vault_follow(node *n) {
  if (__atomic_load_n(&n->vault, __ATOMIC_ACQUIRE) || n->vault_failed) return;
  cx_member me;
  if (vm_member_get(&n->ro, n->cfg.name, &me) != CX_OK || me.domains.n == 0) return;
  char err[256] = "";
  if (open_vault(n, err, sizeof err) != CX_OK) {
    n->vault_failed = 1;
    LOG_E("node", "member '%s' owns a data domain now, but its vault does not open: %s",
          n->cfg.name, err);
    return;
  }
  LOG_I("node", "member '%s' owns a data domain now: vault opened", n->cfg.name);
}

/* The consensus engine at the height after the store's tip, over the
 * validator set vkeys, resuming from DATA/safety (node_open, and again
 * after a state sync install: node_reload_state). */
static cx_err new_engine(node *n, const cx_pubkey *vkeys, size_t nval, bft_engine **out, char *err,
                         size_t errlen) {
  bft_safety safety;
  cx_err e = load_safety(n, &safety);
  if (e) {
    snprintf(err, errlen, "%s: damaged safety record", n->safety_path);
    return e;
  }
  bft_config bc = {.chain_id = n->chain_id, .validators = vkeys, .nvalidators = nval,
                   .self = n->keys.pub, .height = store_height(n->st) + 1,
                   .propose_ms = BFT_PROPOSE_MS, .prevote_ms = BFT_PREVOTE_MS,
                   .precommit_ms = BFT_PRECOMMIT_MS, .delta_ms = BFT_DELTA_MS,
                   .rebroadcast_ms = BFT_REBROADCAST_MS, .sign = sign_digest, .sign_ctx = n};
  if ((e = bft_new(&bc, &safety, out))) snprintf(err, errlen, "consensus: %s", cx_err_str(e));
  return e;
}

/* The tip block's time (the genesis time at height 0). */
static void read_tip_time(node *n) {
  uint8_t *b = NULL;
  size_t bl = 0;
  cx_block_header h;
  cx_hash hh;
  n->tip_time = n->genesis.time_ms;
  if (store_height(n->st) > 0 && store_block_get(n->st, store_height(n->st), &b, &bl) == CX_OK &&
      block_peek(b, bl, &h, &hh) == CX_OK)
    n->tip_time = h.time_ms;
  free(b);
}

/* Who this node is on chain (docs/onboarding.md). A member that is a
 * validator in the committed state must hold the keystore's key. A name
 * that is not a validator yet (a bureau joining: its node starts from the
 * genesis and syncs up to the height its admission committed) or no longer
 * one (removed) opens as an observer: it follows the chain without voting,
 * and the consensus engine takes it in at the height the validator set
 * names its key (blocks.c). A name on chain with another key is refused. */
static cx_err check_identity(node *n, const cx_pubkey *vkey, char *err, size_t errlen) {
  const char *name = n->cfg.name;
  if (vkey) {
    if (memcmp(vkey->b, n->keys.pub.b, 32) == 0) return CX_OK;
    snprintf(err, errlen, "member '%s' is a validator with another key than this keystore's", name);
    return CX_E_CONFIG;
  }
  cx_member m;
  cx_err e = vm_member_get(&n->ro, name, &m);
  if (e == CX_OK && memcmp(m.key.b, n->keys.pub.b, 32) != 0) {
    snprintf(err, errlen, "member '%s' is on chain with another key than this keystore's", name);
    return CX_E_CONFIG;
  }
  if (e != CX_OK && e != CX_E_NOT_FOUND) {
    snprintf(err, errlen, "cannot read member '%s': %s", name, cx_err_str(e));
    return e;
  }
  LOG_W("node",
        "member '%s' is not a validator at height %llu: following the chain as an observer "
        "until a committed governance change makes it one",
        name, (unsigned long long)store_height(n->st));
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
  pthread_mutex_init(&n->vmu, NULL);
  pthread_mutex_init(&n->smu, NULL);
  pthread_mutex_init(&n->own_mu, NULL);
  snprintf(n->safety_path, sizeof n->safety_path, "%s/safety", cfg->data_dir);
  snprintf(n->held_path, sizeof n->held_path, "%s/held", cfg->data_dir);
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
  store_opts so = {.sync = cfg->sync, .cache_mb = 64, .block_hasher = hasher,
                   .block_txids = node_block_txids, .check_depth = 64};
  if ((e = store_open(chain_dir, &so, &n->st, err, errlen))) goto fail;

  cx_hash stored;
  e = store_chain_id(n->st, &stored);
  if (e == CX_E_NOT_FOUND) {
    store_ws *ws = store_ws_new(n->st);
    if (!ws) {
      e = CX_E_NOMEM;
      goto fail;
    }
    vm_state s = node_ws_state(ws);
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
  if ((e = node_read_validators(n, vkeys, &nval))) {
    snprintf(err, errlen, "cannot read the validator set: %s", cx_err_str(e));
    goto fail;
  }
  for (size_t i = 0; i < nval; i++)
    if (strcmp(n->vnames[i], cfg->name) == 0) self = i;
  if ((e = check_identity(n, self == SIZE_MAX ? NULL : &vkeys[self], err, errlen))) goto fail;
  if ((e = new_engine(n, vkeys, nval, &n->eng, err, errlen))) goto fail;
  node_publish_validators(n, vkeys, nval);
  node_publish_status(n);
  host_load_held(n);
  if ((e = open_vault(n, err, errlen))) goto fail;
  n->mp = mempool_new(cfg->mempool_max_txs, cfg->mempool_max_per_sender);
  if (!n->mp) {
    e = CX_E_NOMEM;
    goto fail;
  }
  read_tip_time(n);
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

/* A decoded command (docs/transactions.md "Commands"): no signature, nonce,
 * state or rule, so only the chain's flag and the txid decide. The mempool
 * refuses one already pending; the txid index one already committed (a
 * command has no nonce to make its replay fail). */
static cx_err admit_command(node *n, const uint8_t *raw, cx_hash *txid, char *detail, size_t dl) {
  store_txloc loc;
  if (!n->genesis.bench_commands) {
    snprintf(detail, dl, "commands are refused: this chain's genesis has no bench_commands");
    return CX_E_WRONG_CHAIN;
  }
  tx_id_of_bytes(raw, CX_COMMAND_BYTES, txid);
  cx_err e = mempool_add_command(n->mp, txid, raw);
  if (e) return e;
  /* The store is read AFTER the add, and a commit writes the store BEFORE it
   * takes its commands out of the mempool: so either that removal comes
   * after our add and drops it, or this read sees the commit, and a
   * committed command does not stay in the mempool. It can be there for a
   * moment (between the add and the removal below), which is why blocks.c
   * checks every command of a block against the txid index. */
  e = store_tx_get(n->st, txid, &loc);
  if (e == CX_E_NOT_FOUND) return CX_OK;
  mempool_remove_commands(n->mp, txid, 1);
  if (e) return e;
  snprintf(detail, dl, "committed at height %llu", (unsigned long long)loc.height);
  return CX_E_DUPLICATE;
}

/* The checks of node_submit (node.h), cheapest first. dry_run: run the
 * transaction's rule against the committed state too (client submissions
 * only: see node_on_gossip for why a gossiped transaction skips it). */
static cx_err admit(node *n, const uint8_t *raw, size_t len, cx_hash *txid, char *detail,
                   size_t dl, int dry_run) {
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
  if (tx.type == TX_COMMAND) { /* owns nothing: no tx_clear needed */
    e = admit_command(n, raw, txid, detail, dl);
    if (e) mempool_note_rejected(n->mp);
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
  /* The mempool's refusals before the signature: a full mempool used to
   * refuse transactions after verifying each one (a saturated bench_bft
   * run counted 27% more verifications than 4 per committed transaction,
   * part of it the growing backlog). mempool_add checks again. */
  if ((e = mempool_check(n->mp, &tx, txid))) goto out;
  if ((e = tx_verify_sig_raw(&tx, raw, len))) goto out;
  /* Rule dry run when the state it would run against is the committed one:
   * the sender's next transaction with nothing of it pending. */
  if (dry_run && tx.nonce == next && mempool_pending_of(n->mp, &tx.sender) == 0) {
    store_ws *ws = store_ws_new(n->st);
    if (!ws) {
      e = CX_E_NOMEM;
      goto out;
    }
    vm_state s = node_ws_state(ws);
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
  cx_err e = admit(n, raw, len, txid, detail, dl, 1);
  /* Gossip: the node that admits a transaction from a client sends it to
   * every peer once; peers admit it without forwarding (a full mesh
   * reaches everyone in one hop, and a link that is down queues it). It
   * joins the outgoing batch (gossip.h), which leaves as one message at
   * most GOSSIP_FLUSH_MS later, in the order of admission. */
  gossip_batcher *g = __atomic_load_n(&n->gossip, __ATOMIC_ACQUIRE);
  if (e == CX_OK && g) gossip_add(g, raw, len);
  if (e == CX_OK) host_nudge_full(n);
  return e;
}

/* A batch of transactions gossiped by a peer (gossip.h): each entry gets
 * the same admission as a client's -- decode, chain, nonce window,
 * duplicate, signature, mempool caps -- but not the rule dry run, and none
 * is forwarded.
 *
 * Why no dry run: the node that admitted the transaction from its client
 * ran it there, where the client needed the clear error. Here it would
 * only repeat that execution (store reads and the rule, on every peer, for
 * every transaction), and it could not make anything safer: the dry run is
 * against the committed state, which moves before the block is built, and
 * a transaction whose rule fails when its block executes is recorded there
 * with its failing receipt exactly like one that became invalid between
 * admission and block. What keeps a peer's mempool honest is unchanged:
 * only well-formed transactions of this chain, signed by their sender,
 * within the sender's nonce window, within the mempool's caps.
 *
 * A message that does not decode is refused whole (an honest peer never
 * sends one) and counted once in gossip_bad, which otherwise counts
 * transactions, as gossip_in and gossip_dup do. */
void node_on_gossip(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len) {
  node *n = ctx;
  node_refusal r;
  (void)type;
  if (!n->gossip_rx && !(n->gossip_rx = malloc(sizeof *n->gossip_rx))) {
    LOG_E("node", "out of memory receiving transaction gossip");
    return;
  }
  if (gossip_decode(p, len, n->gossip_rx, &r) != CX_OK) {
    node_refuse(n, &n->gossip_bad, r.what, from, r.why);
    return;
  }
  for (size_t i = 0; i < n->gossip_rx->count; i++) {
    cx_hash txid;
    char detail[128] = "";
    cx_err e = admit(n, n->gossip_rx->tx[i].p, n->gossip_rx->tx[i].len, &txid, detail,
                     sizeof detail, 0);
    if (e == CX_OK) {
      __atomic_add_fetch(&n->gossip_in, 1, __ATOMIC_RELAXED);
    } else if (e == CX_E_DUPLICATE) {
      __atomic_add_fetch(&n->gossip_dup, 1, __ATOMIC_RELAXED);
    } else {
      __atomic_add_fetch(&n->gossip_bad, 1, __ATOMIC_RELAXED);
      LOG_D("node", "gossiped transaction from %s refused: %s %s", from, cx_err_name(e), detail);
    }
  }
  host_nudge_full(n);
}

void node_gossip_stats(const node *n, uint64_t *admitted, uint64_t *dup, uint64_t *refused) {
  *admitted = __atomic_load_n(&n->gossip_in, __ATOMIC_RELAXED);
  *dup = __atomic_load_n(&n->gossip_dup, __ATOMIC_RELAXED);
  *refused = __atomic_load_n(&n->gossip_bad, __ATOMIC_RELAXED);
}

/* ---- member links (docs/net.md, "Membership") ---- */

/* Gives net/ the validators in force (with their link keys and addresses);
 * net_set_members keeps unchanged links as they are, so a member removed
 * on chain is cut off at the height its removal commits. */
static void set_links(node *n, const cx_member *vals, size_t nval) {
  if (!n->net) return;
  net_member *nm = calloc(nval ? nval : 1, sizeof *nm);
  if (!nm) {
    LOG_E("node", "out of memory updating member links");
    return;
  }
  size_t k = 0;
  for (size_t i = 0; i < nval; i++) {
    if (!vals[i].address[0]) continue;
    snprintf(nm[k].name, sizeof nm[k].name, "%s", vals[i].name);
    memcpy(nm[k].enc_key, vals[i].enc_key, 32);
    snprintf(nm[k].address, sizeof nm[k].address, "%s", vals[i].address);
    k++;
  }
  cx_err e = net_set_members(n->net, nm, k);
  if (e) LOG_E("node", "cannot update member links: %s", cx_err_str(e));
  free(nm);
}

/* The gossip batcher's sink (gossip.h): one NET_MSG_TX to every peer. */
static void gossip_send(void *ctx, const uint8_t *msg, size_t len) {
  node *n = ctx;
  net_broadcast(n->net, NET_MSG_TX, msg, len);
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
  net_on(n->net, NET_MSG_TX, node_on_gossip, n);
  gossip_batcher *g = NULL;
  gossip_config gc = {.send = gossip_send, .ctx = n}; /* gossip.h's caps and timer */
  if ((e = gossip_start(&gc, &g))) {
    snprintf(err, errlen, "cannot start transaction gossip: %s", cx_err_str(e));
    return e;
  }
  __atomic_store_n(&n->gossip, g, __ATOMIC_RELEASE); /* RPC workers already run */
  net_on(n->net, NET_MSG_CONSENSUS, host_on_consensus, n);
  net_on(n->net, NET_MSG_SYNC, sync_on_msg, n);
  net_on(n->net, NET_MSG_SNAP, statesync_on_msg, n);
  if ((e = mpc_service_start(n, err, errlen))) return e; /* registers NET_MSG_MPC */
  if ((e = call_service_start(n, err, errlen))) return e; /* registers NET_MSG_CALL */
  if ((e = key_service_start(n, err, errlen))) return e;  /* registers NET_MSG_KEY */
  cx_pubkey keys[CX_MAX_VALIDATORS];
  size_t nval;
  if ((e = node_read_validators(n, keys, &nval))) { /* and links to them */
    snprintf(err, errlen, "cannot read the validator set: %s", cx_err_str(e));
    return e;
  }
  if ((e = net_start(n->net))) {
    snprintf(err, errlen, "p2p: cannot start the network thread");
    return e;
  }
  LOG_I("node", "member links listening on %s", nc.listen);
  return CX_OK;
}

/* ---- refused peer input: counted, logged at most once a second ---- */

void node_refuse(node *n, uint64_t *counter, const char *what, const char *from,
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

/* ---- evidence (BFT_ACT_EVIDENCE) ---- */

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
  cx_hash txid;
  char detail[128] = "";
  cx_err e = node_submit_own(n, &tx, &txid, detail, sizeof detail);
  char hex[65];
  if (e)
    LOG_W("node", "evidence transaction not admitted: %s %s", cx_err_name(e), detail);
  else
    LOG_I("node", "evidence transaction %s submitted", hash_hex(&txid, hex));
  tx_clear(&tx);
}

cx_err node_submit_own(node *n, cx_tx *tx, cx_hash *txid, char *detail, size_t dl) {
  uint8_t *raw = NULL;
  size_t len = 0;
  pthread_mutex_lock(&n->own_mu);
  tx->nonce = committed_nonce(n, &n->keys.pub) + mempool_pending_of(n->mp, &n->keys.pub);
  cx_err e = tx_sign(tx, n->keys.sign);
  if (!e) e = tx_encode(tx, 1, &raw, &len);
  if (!e) e = node_submit(n, raw, len, txid, detail, dl);
  pthread_mutex_unlock(&n->own_mu);
  free(raw);
  return e;
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
  char h1[65], h2[65];
  LOG_W("node", "equivocation by %s (signer %u) at height %llu round %u: two %ss, %s and %s",
        ev.name, (unsigned)ev.signer, (unsigned long long)ev.height, (unsigned)ev.round,
        bft_msg_type_name(ev.type), hash_hex(&ev.hash1, h1), hash_hex(&ev.hash2, h2));
}

/* BFT_ACT_EVIDENCE: kept for evidence_list, then reported on chain. */
/* Both halves are checked first: a proposal or prevote that came over its
 * signer's own link was taken unchecked (host.c on_signer_link), and only
 * two validly signed messages prove anything. */
void node_evidence_found(node *n, const bft_action *a) {
  const bft_msg *m[2] = {&a->msg, &a->msg2};
  for (int i = 0; i < 2; i++) {
    if (!host_sig_ok(n, m[i])) {
      const char *who = m[i]->signer < CX_MAX_VALIDATORS ? n->vnames[m[i]->signer] : "?";
      node_refuse(n, &n->cs_bad, "conflicting consensus message", who,
                  "bad signature: no evidence recorded");
      return;
    }
  }
  record_evidence(n, a);
  submit_evidence(n, a);
}

/* ---- start, close, accessors ---- */

cx_err node_start(node *n, char *err, size_t errlen) {
  rpc_config rc = {.bind_addr = n->cfg.rpc_listen, .port = n->cfg.rpc_port,
                   .max_body = n->cfg.rpc_max_body, .max_conns = n->cfg.rpc_max_conns,
                   .max_batch = 256, .threads = n->cfg.rpc_threads,
                   .cookie_path = n->cookie_path, .get = metrics_http_get};
  /* Every method table of the API (node/api*.c), one line each. */
  void (*const tables[])(const rpc_method **, size_t *) = {
      api_methods,
      api_calls_methods,
      api_lists_methods,
      api_keys_methods,
  };
  enum { NTABLES = sizeof tables / sizeof tables[0] };
  const rpc_method *tm[NTABLES];
  size_t tn[NTABLES], total = 0;
  for (size_t i = 0; i < NTABLES; i++) {
    tables[i](&tm[i], &tn[i]);
    total += tn[i];
  }
  if (!(n->methods = malloc(total * sizeof *n->methods))) return CX_E_NOMEM;
  for (size_t i = 0, at = 0; i < NTABLES; at += tn[i], i++)
    memcpy(n->methods + at, tm[i], tn[i] * sizeof *tm[i]);
  cx_err e = rpc_server_start(&rc, n->methods, total, n, &n->rpc);
  if (e) {
    snprintf(err, errlen, "rpc: cannot listen on %s:%u (%s)", n->cfg.rpc_listen,
             (unsigned)n->cfg.rpc_port, cx_err_str(e));
    return e;
  }
  /* State sync (docs/statesync.md): a store at height 0 first asks its
   * peers for a snapshot, on the consensus thread before the engine runs
   * (statesync_cs_main). Decided before the links come up, so that no block
   * sync request goes out meanwhile. */
  pthread_mutex_init(&n->ssmu, NULL);
  pthread_cond_init(&n->sscv, NULL);
  n->ss_ready = 1;
  __atomic_store_n(&n->ss_active, n->cfg.statesync_enabled && store_height(n->st) == 0,
                   __ATOMIC_RELEASE);
  if ((e = start_links(n, err, errlen))) return e;
  n->last_commit_mono = n->clock->mono_ms(n->clock);
  if (pthread_create(&n->cs_thread, NULL, statesync_cs_main, n) != 0) {
    snprintf(err, errlen, "cannot start the consensus thread");
    return CX_E_INTERNAL;
  }
  /* atomic: /healthz reads it from RPC workers (metrics.c) */
  __atomic_store_n(&n->cs_running, 1, __ATOMIC_RELEASE);
  return CX_OK;
}

/* After a state sync install (statesync_node.c, on the consensus thread
 * before the engine runs): what node_open derived from the state, again.
 * The held blocks and the cache were of height 1: dropped. */
cx_err node_reload_state(node *n, char *err, size_t errlen) {
  cx_pubkey vkeys[CX_MAX_VALIDATORS];
  size_t nval = 0;
  cx_err e;
  if ((e = node_read_validators(n, vkeys, &nval))) { /* and the member links */
    snprintf(err, errlen, "cannot read the validator set: %s", cx_err_str(e));
    return e;
  }
  int self = 0;
  for (size_t i = 0; i < nval; i++)
    if (strcmp(n->vnames[i], n->cfg.name) == 0 && memcmp(vkeys[i].b, n->keys.pub.b, 32) == 0) self = 1;
  if (!self)
    LOG_W("node", "member '%s' with this keystore's key is not a validator at height %llu: observing",
          n->cfg.name, (unsigned long long)store_height(n->st) + 1);
  else /* a joining member whose admission the snapshot already holds */
    blocks_log_role_change(n, store_height(n->st), vkeys, nval);
  bft_engine *eng = NULL;
  if ((e = new_engine(n, vkeys, nval, &eng, err, errlen))) return e;
  blocks_cache_clear(n);
  n->nheld = 0;
  bft_free(n->eng);
  n->eng = eng;
  memcpy(n->next_keys, vkeys, nval * sizeof *vkeys);
  node_publish_validators(n, vkeys, nval);
  node_publish_status(n);
  read_tip_time(n);
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
  mpc_service_stop(n); /* before net_close: it sends */
  call_service_stop(n);
  key_service_stop(n);
  /* Every submitter has stopped (RPC, the services, the consensus thread's
   * evidence): what is still batched leaves before the links close. */
  gossip_stop(__atomic_exchange_n(&n->gossip, NULL, __ATOMIC_ACQ_REL));
  net_close(n->net); /* after RPC: no submission can broadcast any more; no handler runs */
  free(n->gossip_rx);
  mpc_service_free(n); /* wipes the pool; no handler queues any more */
  call_service_free(n); /* wipes the running call's shares */
  key_service_free(n);  /* wipes the signing shares */
  for (size_t i = 0; n->q && i < n->qn; i++) free(n->q[(n->qhead + i) % EVQ_MAX].data);
  for (size_t i = 0; n->defer && i < n->ndefer; i++) free(n->defer[i].data);
  free(n->q);
  free(n->defer);
  free(n->act);
  blocks_cache_clear(n);
  bft_free(n->eng);
  journal_close(n->jr);
  free(n->held_rec);
  mempool_free(n->mp);
  node_vault_close(n->vault); /* after the RPC server: no admin call runs */
  store_close(n->st);
  keystore_keys_free(&n->keys);
  pthread_cond_destroy(&n->cv);
  pthread_mutex_destroy(&n->mu);
  pthread_mutex_destroy(&n->vmu);
  pthread_mutex_destroy(&n->smu);
  pthread_mutex_destroy(&n->own_mu);
  if (n->ss_ready) { /* made by node_start */
    pthread_cond_destroy(&n->sscv);
    pthread_mutex_destroy(&n->ssmu);
  }
  free(n->methods);
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
node_vault *node_vault_of(node *n) { return __atomic_load_n(&n->vault, __ATOMIC_ACQUIRE); }
cx_err node_vault_rotate_key(node *n, uint32_t *new_id, int *file_ok) {
  CX_ASSERT(n->vault);
  return node_vault_rotate(n->vault, n->keys.sign, new_id, file_ok);
}
