/* Read-only list methods for the block explorer and other readers
 * (docs/rpc.md "Lists", docs/explorer.md): block_list, tx_list,
 * identity_list, consent_list_all, contract_list and call_list. Newest
 * first, paged, at most LIST_MAX items an answer. And member_history, the
 * governance transactions an auditor replays to follow the validator set
 * (docs/rpc.md "Governance history", docs/calls.md §7), oldest first.
 *
 * The vm state has no range scan (vm_state is get/put/del only; state.c
 * numbers evidence for that reason), so identities, consents, contracts and
 * calls are found through the chain: the blocks are read newest first and
 * the transactions that created each record (id_register, consent_grant,
 * contract_deploy, call) with an ok receipt name it; the record itself is
 * then read from the committed state, so it shows today's status, uses and
 * approvals. One answer reads at most SCAN_BLOCKS blocks: a page may end
 * with fewer than `limit` items and a `next` cursor to go on from. Reads
 * only: nothing here takes a lock or writes (a reader sees each commit
 * whole, store.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "block.h"
#include "node.h"
#include "store.h"
#include "vm.h"

#define LIST_DEFAULT 20
#define LIST_MAX 100     /* items an answer, whatever limit asks */
#define SCAN_BLOCKS 1000 /* blocks one answer of a scanning list reads at most */




static cJSON *domains_json(const cx_domain_set *d) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < d->n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(d->d[i].name));
  return a;
}

/* ---- params ---- */

/* params.limit: optional, 1..LIST_MAX, LIST_DEFAULT when absent. */
static int param_limit(const cJSON *params, size_t *out, rpc_error *err) {
  const cJSON *v = rpc_param(params, "limit", -1);
  *out = LIST_DEFAULT;
  if (!v) return 0;
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 1 && v->valuedouble <= LIST_MAX) ||
      v->valuedouble != (double)(long)v->valuedouble) {
    api_params_err(err, "params.limit: expected an integer from 1 to 100");
    return -1;
  }
  *out = (size_t)v->valuedouble;
  return 0;
}

/* An optional 32-byte hex param (a filter); *have = 0 when absent. */
static int param_hash_opt(const cJSON *params, const char *name, cx_hash *out, int *have,
                          rpc_error *err) {
  const cJSON *v = rpc_param(params, name, -1);
  *have = 0;
  if (!v) return 0;
  const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
  if (s && strncmp(s, "did:custos:", 11) == 0) s += 11;
  if (!s || hex_decode(s, out->b, 32) != CX_OK) {
    err->code = CX_E_RPC_PARAMS;
    snprintf(err->detail, sizeof err->detail, "params.%s: expected 64 hex digits", name);
    return -1;
  }
  *have = 1;
  return 0;
}

/* A place in the chain, in chain order: transaction `index` of block
 * `height`. The scanning lists give the items strictly before a cursor,
 * newest first; as a param and in "next" it is the string "HEIGHT:INDEX". */
typedef struct {
  uint64_t height;
  uint64_t index;
} cursor;

/* params.before: optional; absent = after the tip (everything). */
static int param_cursor(const cJSON *params, uint64_t tip, cursor *out, rpc_error *err) {
  const cJSON *v = rpc_param(params, "before", -1);
  out->height = tip + 1;
  out->index = 0;
  if (!v) return 0;
  static const char *const bad = "params.before: expected a cursor \"HEIGHT:INDEX\" (a page's \"next\")";
  const char *s = cJSON_IsString(v) ? v->valuestring : NULL;
  char *end;
  if (!s || s[0] < '0' || s[0] > '9') return api_params_err(err, bad), -1;
  unsigned long long h = strtoull(s, &end, 10);
  if (*end != ':' || end[1] < '0' || end[1] > '9') return api_params_err(err, bad), -1;
  unsigned long long i = strtoull(end + 1, &end, 10);
  if (*end || h == 0 || i > CX_BLOCK_MAX_TXS) return api_params_err(err, bad), -1;
  if (h > tip + 1) {
    err->code = CX_E_RPC_PARAMS;
    snprintf(err->detail, sizeof err->detail, "params.before: height %llu is above the tip (%llu)", h,
             (unsigned long long)tip);
    return -1;
  }
  out->height = h;
  out->index = i;
  return 0;
}

static void add_cursor(cJSON *o, const char *k, uint64_t height, uint64_t index) {
  char buf[48];
  snprintf(buf, sizeof buf, "%llu:%llu", (unsigned long long)height, (unsigned long long)index);
  cJSON_AddStringToObject(o, k, buf);
}

/* ---- the chain scan ---- */

typedef struct scan scan;
/* Called for every transaction of the wanted type, newest first; appends
 * its item to s->items, or nothing (a filter). raw is the signed encoding. */
typedef cx_err (*scan_fn)(scan *s, const cx_hash *txid, const store_txloc *loc, const uint8_t *raw,
                          size_t len);
struct scan {
  node *n;
  int type;      /* cx_tx_type wanted, or -1: every transaction */
  int ok_only;   /* skip transactions whose receipt is not ok */
  scan_fn fn;
  const void *arg; /* the method's filters */
  cJSON *items;
  size_t limit;
};

/* Reads blocks back from cursor c until s->limit items are listed, the
 * chain's start, or SCAN_BLOCKS blocks; then sets "next" on o (null at
 * the start of the chain). */
static cx_err scan_run(scan *s, cursor c, cJSON *o) {
  store *st = node_store(s->n);
  uint64_t h = c.height, start = c.index, blocks = 0;
  /* A state-synced node (docs/statesync.md) has no block below its base,
   * and the base block's transactions are not indexed: the chain starts
   * above it here. */
  uint64_t lo = store_base(st) ? store_base(st) + 1 : 1;
  cx_err e = CX_OK;
  if (h > store_height(st)) { /* the tip's successor: start with the tip, whole */
    h = store_height(st);
    start = UINT64_MAX;
  }
  for (; h >= lo && blocks < SCAN_BLOCKS; h--, start = UINT64_MAX, blocks++) {
    uint8_t *raw = NULL;
    size_t len;
    cx_block b;
    block_init(&b);
    if ((e = store_block_get(st, h, &raw, &len)) || (e = block_decode(raw, len, &b))) {
      free(raw);
      block_clear(&b);
      return e == CX_E_NOT_FOUND ? CX_E_CORRUPT : e; /* below the tip every block is stored */
    }
    size_t i = start < b.ntx ? (size_t)start : b.ntx;
    while (!e && i-- > 0) {
      if (cJSON_GetArraySize(s->items) >= (int)s->limit) {
        add_cursor(o, "next", h, i + 1); /* the items before the last one listed */
        break;
      }
      if (b.tx_len[i] < 2 || (s->type >= 0 && b.txs[i][1] != s->type)) continue;
      cx_hash id;
      store_txloc loc;
      tx_id_of_bytes(b.txs[i], b.tx_len[i], &id);
      /* every transaction of a committed block is indexed */
      if (store_tx_get(st, &id, &loc) != CX_OK) e = CX_E_CORRUPT;
      else if (!s->ok_only || loc.code == CX_OK) e = s->fn(s, &id, &loc, b.txs[i], b.tx_len[i]);
    }
    int full = cJSON_GetObjectItemCaseSensitive(o, "next") != NULL;
    block_clear(&b);
    free(raw);
    if (e) return e;
    if (full) return CX_OK;
    /* a page that is full at a block's boundary: next is that boundary */
    if (cJSON_GetArraySize(s->items) >= (int)s->limit) {
      if (h > lo) add_cursor(o, "next", h, 0);
      else cJSON_AddNullToObject(o, "next");
      return CX_OK;
    }
  }
  if (h >= lo) add_cursor(o, "next", h + 1, 0); /* the scan budget ran out */
  else cJSON_AddNullToObject(o, "next");
  return CX_OK;
}

/* The common frame of the scanning lists: params before and limit, the
 * answer {"<key>": [...], "next"}. */
static cx_err list_scan(scan *s, const char *key, const cJSON *params, cJSON **result, rpc_error *err) {
  cursor c;
  if (param_limit(params, &s->limit, err)) return err->code;
  if (param_cursor(params, store_height(node_store(s->n)), &c, err)) return err->code;
  cJSON *o = cJSON_CreateObject();
  if (!o || !(s->items = cJSON_AddArrayToObject(o, key))) {
    cJSON_Delete(o);
    return CX_E_NOMEM;
  }
  cx_err e = scan_run(s, c, o);
  if (e) {
    cJSON_Delete(o);
    return e;
  }
  *result = o;
  return CX_OK;
}

/* Decodes a transaction of a committed block (it was checked when the
 * block was): CX_E_CORRUPT if it no longer decodes. */
static cx_err decode(const uint8_t *raw, size_t len, cx_tx *tx) {
  return tx_decode(raw, len, tx, NULL) == CX_OK ? CX_OK : CX_E_CORRUPT;
}

/* ---- block_list ---- */

/* block_list {from?, limit?}: blocks from height `from` (default the tip)
 * down, newest first. */
static cx_err m_block_list(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  store *st = node_store(n);
  uint64_t tip = store_height(st), from = tip;
  size_t limit;
  if (param_limit(params, &limit, err)) return err->code;
  if (rpc_param(params, "from", -1)) {
    if (rpc_param_u64(params, "from", -1, &from, err)) return err->code;
    if (from == 0) return api_params_err(err, "params.from: blocks start at height 1");
    if (from > tip) {
      err->code = CX_E_RPC_PARAMS;
      snprintf(err->detail, sizeof err->detail, "params.from: %llu is above the tip (%llu)",
               (unsigned long long)from, (unsigned long long)tip);
      return CX_E_RPC_PARAMS;
    }
  }
  cJSON *o = cJSON_CreateObject();
  cJSON *a = o ? cJSON_AddArrayToObject(o, "blocks") : NULL;
  if (!a) {
    cJSON_Delete(o);
    return CX_E_NOMEM;
  }
  api_add_u64(o, "tip", tip);
  cx_err e = CX_OK;
  uint64_t h = from, lo = store_base(st) ? store_base(st) : 1; /* docs/statesync.md: the base */
  if (from < lo && lo > 1) {
    cJSON_Delete(o);
    err->code = CX_E_NOT_FOUND;
    snprintf(err->detail, sizeof err->detail,
             "block %llu is below this node's base %llu: it was state-synced at %llu",
             (unsigned long long)from, (unsigned long long)lo, (unsigned long long)lo);
    return CX_E_NOT_FOUND;
  }
  for (; h >= lo && (size_t)(from - h) < limit && !e; h--) {
    uint8_t *raw = NULL, *craw = NULL;
    size_t len, clen;
    cx_block b;
    block_init(&b);
    if ((e = store_block_get(st, h, &raw, &len)) == CX_OK && (e = block_decode(raw, len, &b)) == CX_OK) {
      cJSON *it = cJSON_CreateObject();
      if (!it) e = CX_E_NOMEM;
      else {
        cx_hash bh;
        cx_member m;
        cx_cert c;
        cJSON_AddItemToArray(a, it);
        block_hash(&b.h, &bh);
        api_add_u64(it, "height", b.h.height);
        api_add_hex(it, "hash", bh.b, 32);
        api_add_u64(it, "time_ms", b.h.time_ms);
        api_add_u64(it, "ntx", b.ntx);
        api_add_hex(it, "proposer", b.h.proposer.b, 32);
        /* the member holding the proposer's key today, if any */
        if (vm_member_by_key(node_state(n), &b.h.proposer, &m) == CX_OK)
          cJSON_AddStringToObject(it, "proposer_name", m.name);
        api_add_u64(it, "view", b.h.view);
        if (store_cert_get(st, h, &craw, &clen) == CX_OK && cert_decode(craw, clen, &c) == CX_OK)
          api_add_u64(it, "votes", c.nvotes);
      }
    }
    if (e == CX_E_NOT_FOUND) e = CX_E_CORRUPT; /* below the tip every block is stored */
    block_clear(&b);
    free(raw);
    free(craw);
  }
  if (e) {
    cJSON_Delete(o);
    return e;
  }
  if (h >= lo) api_add_u64(o, "next", h);
  else cJSON_AddNullToObject(o, "next");
  *result = o;
  return CX_OK;
}

/* ---- tx_list ---- */

static cx_err tx_item(scan *s, const cx_hash *txid, const store_txloc *loc, const uint8_t *raw, size_t len) {
  cx_tx tx;
  cx_err e = decode(raw, len, &tx);
  if (e) return e;
  cJSON *it = cJSON_CreateObject();
  if (it) {
    cJSON_AddItemToArray(s->items, it);
    api_add_hex(it, "txid", txid->b, 32);
    cJSON_AddStringToObject(it, "type", tx_type_name(tx.type));
    api_add_u64(it, "height", loc->height);
    api_add_u64(it, "index", loc->index);
    cJSON_AddNumberToObject(it, "code", loc->code);
    cJSON_AddStringToObject(it, "rule", cx_err_name(loc->code));
    api_add_hex(it, "sender", tx.sender.b, 32);
  }
  tx_clear(&tx);
  return it ? CX_OK : CX_E_NOMEM;
}

/* tx_list {before?, limit?, type?}: every committed transaction (any
 * receipt), newest first. */
static cx_err m_tx_list(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  scan s = {.n = ctx, .type = -1, .ok_only = 0, .fn = tx_item};
  const cJSON *t = rpc_param(params, "type", -1);
  if (t) {
    if (!cJSON_IsString(t) || (s.type = tx_type_parse(t->valuestring)) < 0)
      return api_params_err(err, "params.type: not a transaction type (e.g. \"call\", \"consent_grant\")");
  }
  return list_scan(&s, "txs", params, result, err);
}

/* ---- identity_list ---- */

static cx_err identity_item(scan *s, const cx_hash *txid, const store_txloc *loc, const uint8_t *raw,
                            size_t len) {
  (void)loc;
  cx_tx tx;
  vm_identity id;
  cx_err e = decode(raw, len, &tx);
  if (e) return e;
  cx_hash did = tx.u.reg.did;
  tx_clear(&tx);
  /* an applied registration's identity exists: absent means damage */
  if ((e = vm_identity_get(node_state(s->n), &did, &id))) return e == CX_E_NOT_FOUND ? CX_E_CORRUPT : e;
  cJSON *it = cJSON_CreateObject();
  if (!it) return CX_E_NOMEM;
  cJSON_AddItemToArray(s->items, it);
  api_add_hex(it, "did", id.did.b, 32);
  api_add_hex(it, "key", id.key.b, 32);
  cJSON_AddBoolToObject(it, "revoked", id.revoked);
  api_add_u64(it, "registered_height", id.registered_height);
  api_add_u64(it, "revoked_height", id.revoked_height);
  api_add_u64(it, "attestations", id.nattest);
  api_add_hex(it, "txid", txid->b, 32);
  return CX_OK;
}

/* identity_list {before?, limit?}: identities newest first. */
static cx_err m_identity_list(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  scan s = {.n = ctx, .type = TX_ID_REGISTER, .ok_only = 1, .fn = identity_item};
  return list_scan(&s, "identities", params, result, err);
}

/* ---- consent_list_all ---- */

static cx_err consent_item(scan *s, const cx_hash *txid, const store_txloc *loc, const uint8_t *raw,
                           size_t len) {
  (void)loc;
  (void)raw;
  (void)len;
  const cx_hash *did = s->arg;
  vm_consent c;
  node *n = s->n;
  cx_err e = vm_consent_get(node_state(n), txid, &c); /* a consent's id is its grant's txid */
  if (e) return e == CX_E_NOT_FOUND ? CX_E_CORRUPT : e;
  if (did && !hash_eq(did, &c.did)) return CX_OK;
  cJSON *it = cJSON_CreateObject();
  if (!it) return CX_E_NOMEM;
  cJSON_AddItemToArray(s->items, it);
  api_add_hex(it, "id", c.id.b, 32);
  api_add_hex(it, "did", c.did.b, 32);
  cJSON_AddStringToObject(it, "insurer", c.insurer);
  cJSON_AddItemToObject(it, "domains", domains_json(&c.domains));
  api_add_hex(it, "contract", c.contract.b, 32);
  cJSON_AddStringToObject(it, "purpose", c.purpose);
  api_add_u64(it, "expires", c.expires);
  api_add_u64(it, "quota", c.quota);
  api_add_u64(it, "uses", c.uses);
  cJSON_AddStringToObject(it, "granted_by", c.granted_by);
  api_add_u64(it, "granted_height", c.granted_height);
  cJSON_AddBoolToObject(it, "revoked", c.revoked);
  cJSON_AddBoolToObject(it, "live",
                        vm_consent_live(node_state(n), &c.id, store_height(node_store(n))) == CX_OK);
  return CX_OK;
}

/* consent_list_all {before?, limit?, did?}: consents of every subject (or
 * of one), newest first, with their uses. consent_list is one subject's,
 * oldest first, unpaged. */
static cx_err m_consent_list_all(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  cx_hash did;
  int have;
  scan s = {.n = ctx, .type = TX_CONSENT_GRANT, .ok_only = 1, .fn = consent_item};
  if (param_hash_opt(params, "did", &did, &have, err)) return err->code;
  s.arg = have ? &did : NULL;
  return list_scan(&s, "consents", params, result, err);
}

/* ---- contract_list ---- */

static const char *contract_status(uint8_t st) {
  return st == CONTRACT_PENDING ? "pending" : st == CONTRACT_APPROVED ? "approved"
                                          : st == CONTRACT_RETIRED    ? "retired"
                                                                      : "unknown";
}

static cx_err contract_item(scan *s, const cx_hash *txid, const store_txloc *loc, const uint8_t *raw,
                            size_t len) {
  (void)loc;
  cx_tx tx;
  cx_hash id;
  vm_contract c;
  cx_err e = decode(raw, len, &tx);
  if (e) return e;
  vm_contract_id(tx.u.deploy.bytecode, tx.u.deploy.bytecode_len, &id);
  tx_clear(&tx);
  if ((e = vm_contract_get(node_state(s->n), &id, &c))) return e == CX_E_NOT_FOUND ? CX_E_CORRUPT : e;
  cJSON *it = cJSON_CreateObject();
  if (it) {
    cJSON_AddItemToArray(s->items, it);
    api_add_hex(it, "id", c.id.b, 32);
    cJSON_AddStringToObject(it, "name", c.name);
    cJSON_AddStringToObject(it, "deployer", c.deployer);
    cJSON_AddItemToObject(it, "domains", domains_json(&c.domains));
    cJSON_AddStringToObject(it, "status", contract_status(c.status));
    cJSON_AddBoolToObject(it, "callable", vm_contract_callable(node_state(s->n), &id) == CX_OK);
    cJSON *a = cJSON_AddArrayToObject(it, "approvals");
    for (size_t i = 0; a && i < c.napprovals; i++) cJSON_AddItemToArray(a, cJSON_CreateString(c.approvals[i]));
    api_add_u64(it, "deployed_height", c.deployed_height);
    api_add_hex(it, "txid", txid->b, 32);
  }
  vm_contract_clear(&c);
  return it ? CX_OK : CX_E_NOMEM;
}

/* contract_list {before?, limit?}: contracts newest first. */
static cx_err m_contract_list(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  scan s = {.n = ctx, .type = TX_CONTRACT_DEPLOY, .ok_only = 1, .fn = contract_item};
  return list_scan(&s, "contracts", params, result, err);
}

/* ---- call_list ---- */

typedef struct {
  int have_contract, have_did;
  cx_hash contract, did;
} call_filter;

static const char *call_status(uint8_t st) {
  return st == CALL_PENDING ? "pending" : st == CALL_DONE ? "done" : st == CALL_ABORTED ? "aborted" : "unknown";
}

/* What the closed call's result transaction says about its proof: the
 * mode (docs/calls.md §4), the signatures, and why an abort happened. */
static void add_result_summary(node *n, const vm_call *c, cJSON *it) {
  cx_tx tx;
  if (api_committed_tx(n, &c->result, &tx) == CX_OK) {
    if (tx.type == TX_CALL_RESULT) {
      const cx_tx_call_result *r = &tx.u.result;
      /* one signature by the results key (docs/keys.md §8), for this result or its batch */
      int frost = r->proof == CX_RESULT_PROOF_FROST || r->proof == CX_RESULT_PROOF_FROST_BATCH;
      cJSON_AddStringToObject(it, "proof", frost ? "frost" : "quorum");
      /* quorum: one BIP340 signature a party; frost: the one threshold signature */
      api_add_u64(it, "signatures", frost ? 1 : r->nsig);
      if (r->status == CX_CALL_DONE) {
        size_t pub = 0;
        for (size_t i = 0; i < r->nout; i++) pub += !r->out[i].priv;
        api_add_u64(it, "outputs", r->nout);
        api_add_u64(it, "public_outputs", pub);
      } else {
        cJSON_AddStringToObject(it, "code_name", cx_err_name(r->code));
      }
    }
    tx_clear(&tx);
  }
}

static cx_err call_item(scan *s, const cx_hash *txid, const store_txloc *loc, const uint8_t *raw, size_t len) {
  (void)loc;
  (void)raw;
  (void)len;
  const call_filter *f = s->arg;
  vm_call c;
  cx_err e = vm_call_get(node_state(s->n), txid, &c); /* a call's id is its txid */
  if (e) return e == CX_E_NOT_FOUND ? CX_E_CORRUPT : e;
  if ((f->have_contract && !hash_eq(&f->contract, &c.contract)) || (f->have_did && !hash_eq(&f->did, &c.did)))
    return CX_OK;
  cJSON *it = cJSON_CreateObject();
  if (!it) return CX_E_NOMEM;
  cJSON_AddItemToArray(s->items, it);
  api_add_hex(it, "txid", c.id.b, 32);
  api_add_hex(it, "contract", c.contract.b, 32);
  api_add_hex(it, "did", c.did.b, 32);
  api_add_hex(it, "consent", c.consent.b, 32);
  cJSON_AddStringToObject(it, "insurer", c.insurer);
  api_add_u64(it, "height", c.height);
  cJSON_AddStringToObject(it, "status", call_status(c.status));
  api_add_u64(it, "nparties", c.nparties);
  if (c.status != CALL_PENDING) {
    api_add_hex(it, "result_txid", c.result.b, 32);
    api_add_u64(it, "result_height", c.result_height);
    add_result_summary(s->n, &c, it);
  }
  return CX_OK;
}

/* call_list {before?, limit?, contract?, did?}: calls newest first. */
static cx_err m_call_list(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  call_filter f;
  scan s = {.n = ctx, .type = TX_CALL, .ok_only = 1, .fn = call_item, .arg = &f};
  if (param_hash_opt(params, "contract", &f.contract, &f.have_contract, err) ||
      param_hash_opt(params, "did", &f.did, &f.have_did, err))
    return err->code;
  return list_scan(&s, "calls", params, result, err);
}

/* ---- member_history ---- */

/* The node finds the governance transactions by reading its blocks from 1
 * and decoding transaction types only; what it found is cached so that a
 * later request reads only the blocks committed since. There is no api
 * state to keep it in (the handlers' ctx is the node, node_internal.h is
 * not the api's), so the cache is a static here, under a mutex, with a few
 * slots keyed by node (tests and benchmarks open several in one process).
 * A slot is only a hint: it is used when its chain id and the hash of the
 * last block it read are still the node's (a node reopened at the same
 * address over another store starts afresh); committed blocks never
 * change, so what it lists below that block stays true. The mutex is held
 * during a scan: concurrent requests wait for it instead of reading the
 * same blocks twice. */
typedef struct {
  cx_hash txid;
  uint64_t height, index;
} gov_ent;

typedef struct {
  const node *n; /* a key only: never dereferenced */
  cx_hash chain_id;
  uint64_t scanned;     /* blocks 1..scanned were read */
  cx_hash scanned_hash; /* block `scanned`'s hash (scanned > 0) */
  gov_ent *e;
  size_t len, cap;
  uint64_t blocks_read; /* api_member_history_stats */
  uint64_t used;        /* LRU stamp; 0: free */
} gov_cache;

#define GOV_SLOTS 4
#define HISTORY_PAGE 100 /* items an answer (each carries a proof: ~2-10 KiB) */

static pthread_mutex_t gov_mu = PTHREAD_MUTEX_INITIALIZER;
static gov_cache gov_slots[GOV_SLOTS];
static uint64_t gov_clock;

/* The slot of node n, valid for its store (emptied when not); with the
 * mutex held. */
static gov_cache *gov_slot(node *n) {
  store *st = node_store(n);
  gov_cache *c = NULL, *lru = &gov_slots[0];
  for (size_t i = 0; i < GOV_SLOTS; i++) {
    if (gov_slots[i].used && gov_slots[i].n == n) c = &gov_slots[i];
    if (gov_slots[i].used < lru->used) lru = &gov_slots[i];
  }
  cx_hash id, bh;
  int same = c && store_chain_id(st, &id) == CX_OK && hash_eq(&id, &c->chain_id) &&
             (c->scanned == 0 || (c->scanned <= store_height(st) && store_block_hash(st, c->scanned, &bh) == CX_OK &&
                                  hash_eq(&bh, &c->scanned_hash)));
  if (!c) c = lru;
  if (!same) {
    free(c->e);
    memset(c, 0, sizeof *c);
    c->n = n;
    if (store_chain_id(st, &c->chain_id) != CX_OK) memset(&c->chain_id, 0, sizeof c->chain_id);
  }
  c->used = ++gov_clock;
  return c;
}

static cx_err gov_add(gov_cache *c, const cx_hash *id, uint64_t h, uint64_t i) {
  if (c->len == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    gov_ent *e = realloc(c->e, cap * sizeof *e);
    if (!e) return CX_E_NOMEM;
    c->e = e;
    c->cap = cap;
  }
  c->e[c->len++] = (gov_ent){*id, h, i};
  return CX_OK;
}

/* Reads blocks scanned+1..to into the cache: each member_propose and
 * member_approve whose receipt is ok. A block this node does not hold
 * (below a state-synced store's base) is CX_E_NOT_FOUND with *missing its
 * height. With the mutex held. */
static cx_err gov_scan(node *n, gov_cache *c, uint64_t to, uint64_t *missing) {
  store *st = node_store(n);
  cx_err e = CX_OK;
  for (uint64_t h = c->scanned + 1; h <= to && !e; h++) {
    uint8_t *raw = NULL;
    size_t len;
    cx_block b;
    block_init(&b);
    size_t had = c->len;
    if ((e = store_block_get(st, h, &raw, &len)) == CX_OK && (e = block_decode(raw, len, &b)) == CX_OK) {
      c->blocks_read++;
      for (size_t i = 0; i < b.ntx && !e; i++) {
        /* the type is the byte after the version (tx.h): no decoding */
        if (b.tx_len[i] < 2 || (b.txs[i][1] != TX_MEMBER_PROPOSE && b.txs[i][1] != TX_MEMBER_APPROVE)) continue;
        cx_hash id;
        store_txloc loc;
        tx_id_of_bytes(b.txs[i], b.tx_len[i], &id);
        /* every transaction of a committed block is indexed */
        if (store_tx_get(st, &id, &loc) != CX_OK) e = CX_E_CORRUPT;
        else if (loc.code == CX_OK) e = gov_add(c, &id, h, i);
      }
      cx_hash bh;
      if (!e) e = store_block_hash(st, h, &bh);
      if (!e) {
        c->scanned = h;
        c->scanned_hash = bh;
      } else {
        c->len = had; /* the block is read again next time, whole */
      }
    } else if (e == CX_E_NOT_FOUND) {
      *missing = h;
    }
    block_clear(&b);
    free(raw);
  }
  return e;
}

static cx_err not_held(rpc_error *err, uint64_t h, uint64_t base) {
  err->code = CX_E_NOT_FOUND;
  if (base)
    snprintf(err->detail, sizeof err->detail,
             "this node was state-synced at height %llu and holds no block below it (nor the receipts of block "
             "%llu): it cannot list the governance transactions; ask a node that holds the whole chain",
             (unsigned long long)base, (unsigned long long)base);
  else
    snprintf(err->detail, sizeof err->detail,
             "this node does not hold block %llu: it cannot list the governance transactions; ask a node that "
             "holds the whole chain",
             (unsigned long long)h);
  return CX_E_NOT_FOUND;
}

/* member_history {to_height?, start?}: the governance transactions
 * (member_propose, member_approve) with ok receipts in blocks 1..to_height
 * (default the tip), oldest first, each with its raw bytes and tx_proof's
 * answer: what `custos verify result` replays to follow the validator set
 * (docs/calls.md §7). Paged by position: items start.. of the list, at
 * most HISTORY_PAGE; "next" is the start of the next page (null at the
 * end), "total" the list's length. */
static cx_err m_member_history(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  store *st = node_store(n);
  uint64_t tip = store_height(st), to = tip, start = 0, base = store_base(st), missing = 0;
  if (rpc_param(params, "to_height", -1)) {
    if (rpc_param_u64(params, "to_height", -1, &to, err)) return err->code;
    if (to > tip) {
      err->code = CX_E_RPC_PARAMS;
      snprintf(err->detail, sizeof err->detail, "params.to_height: %llu is above the tip (%llu)",
               (unsigned long long)to, (unsigned long long)tip);
      return CX_E_RPC_PARAMS;
    }
  }
  if (rpc_param(params, "start", -1) && rpc_param_u64(params, "start", -1, &start, err)) return err->code;
  /* A state-synced store (storage/store.h store_base) has no block below
   * its base and no receipts of the base block. */
  if (base && to >= 1) return not_held(err, 1, base);

  pthread_mutex_lock(&gov_mu);
  gov_cache *c = gov_slot(n);
  cx_err e = c->scanned < to ? gov_scan(n, c, to, &missing) : CX_OK;
  size_t total = 0;
  while (total < c->len && c->e[total].height <= to) total++;
  gov_ent *page = NULL;
  size_t np = 0;
  if (!e && start <= total) {
    np = total - start < HISTORY_PAGE ? total - (size_t)start : HISTORY_PAGE;
    if (np && !(page = malloc(np * sizeof *page))) e = CX_E_NOMEM;
    else if (np) memcpy(page, c->e + start, np * sizeof *page);
  }
  pthread_mutex_unlock(&gov_mu);
  if (e == CX_E_NOT_FOUND) return not_held(err, missing, 0);
  if (e) return e;
  if (start > total) {
    free(page);
    err->code = CX_E_RPC_PARAMS;
    snprintf(err->detail, sizeof err->detail, "params.start: %llu is past the end of the list (%zu transactions)",
             (unsigned long long)start, total);
    return CX_E_RPC_PARAMS;
  }

  cJSON *o = cJSON_CreateObject(), *a = o ? cJSON_AddArrayToObject(o, "txs") : NULL;
  if (!a) e = CX_E_NOMEM;
  for (size_t i = 0; !e && i < np; i++) {
    cJSON *it = cJSON_CreateObject(), *proof = NULL;
    if (!it) {
      e = CX_E_NOMEM;
      break;
    }
    cJSON_AddItemToArray(a, it);
    api_add_hex(it, "txid", page[i].txid.b, 32);
    api_add_u64(it, "height", page[i].height);
    api_add_u64(it, "index", page[i].index);
    e = api_tx_proof(n, &page[i].txid, &proof, it);
    if (e == CX_E_NOT_FOUND) e = CX_E_CORRUPT; /* listed from a committed block */
    if (!e) cJSON_AddItemToObject(it, "proof", proof);
  }
  free(page);
  if (e) {
    cJSON_Delete(o);
    return e;
  }
  api_add_u64(o, "to_height", to);
  api_add_u64(o, "total", total);
  if (start + np < total)
    api_add_u64(o, "next", start + np);
  else
    cJSON_AddNullToObject(o, "next");
  *result = o;
  return CX_OK;
}

void api_member_history_stats(const node *n, uint64_t *scanned, uint64_t *blocks_read) {
  *scanned = *blocks_read = 0;
  pthread_mutex_lock(&gov_mu);
  for (size_t i = 0; i < GOV_SLOTS; i++)
    if (gov_slots[i].used && gov_slots[i].n == n) {
      *scanned = gov_slots[i].scanned;
      *blocks_read = gov_slots[i].blocks_read;
    }
  pthread_mutex_unlock(&gov_mu);
}

static const rpc_method methods[] = {
    {"block_list", m_block_list, 0},
    {"tx_list", m_tx_list, 0},
    {"identity_list", m_identity_list, 0},
    {"consent_list_all", m_consent_list_all, 0},
    {"contract_list", m_contract_list, 0},
    {"call_list", m_call_list, 0},
    {"member_history", m_member_history, 0},
};

void api_lists_methods(const rpc_method **out, size_t *n) {
  *out = methods;
  *n = sizeof methods / sizeof methods[0];
}
