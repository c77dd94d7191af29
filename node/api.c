/* JSON-RPC methods (docs/rpc.md). Each handler validates its params first
 * and names the offending field; reads go to the committed state. */
#include "api.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "block.h"
#include "codec.h"
#include "fileutil.h"
#include "log.h"
#include "merkle.h"
#include "node.h"
#include "node_internal.h" /* node_mpc_status, node_vault_of */
#include "store.h"
#include "vault_import.h"
#include "vm.h"

#define PARAMS_ERR(err, ...)                                      \
  do {                                                            \
    (err)->code = CX_E_RPC_PARAMS;                                \
    snprintf((err)->detail, sizeof (err)->detail, __VA_ARGS__);   \
    return CX_E_RPC_PARAMS;                                       \
  } while (0)



/* Hex of a variable-length buffer (the signed encoding of a transaction). */
void api_add_hex(cJSON *o, const char *k, const uint8_t *b, size_t n) {
  char small[2 * 64 + 1], *buf = n <= 64 ? small : malloc(2 * n + 1);
  if (!buf) return;
  hex_encode(b, n, buf);
  cJSON_AddStringToObject(o, k, buf);
  if (buf != small) free(buf);
}

void api_add_u64(cJSON *o, const char *k, uint64_t v) { cJSON_AddNumberToObject(o, k, (double)v); }

cx_err api_params_err(rpc_error *err, const char *detail) {
  err->code = CX_E_RPC_PARAMS;
  snprintf(err->detail, sizeof err->detail, "%s", detail);
  return CX_E_RPC_PARAMS;
}

static void add_raw(cJSON *o, const char *k, const uint8_t *b, size_t n) {
  char *buf = malloc(2 * n + 1);
  if (!buf) return;
  hex_encode(b, n, buf);
  cJSON_AddStringToObject(o, k, buf);
  free(buf);
}

static cJSON *domains_json(const cx_domain_set *d) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < d->n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(d->d[i].name));
  return a;
}

/* A 32-byte hex param (did also accepts the "did:custos:" prefix). */
static int param_hash(const cJSON *params, const char *name, cx_hash *out, rpc_error *err) {
  const char *s = rpc_param_str(params, name, 0, err);
  if (!s) return -1;
  if (strncmp(s, "did:custos:", 11) == 0) s += 11;
  if (hex_decode(s, out->b, 32)) {
    err->code = CX_E_RPC_PARAMS;
    snprintf(err->detail, sizeof err->detail, "params.%s: expected 64 hex digits", name);
    return -1;
  }
  return 0;
}

cJSON *api_member_to_json(const cx_member *m) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "name", m->name);
  cJSON_AddStringToObject(o, "role", role_name(m->role));
  api_add_hex(o, "key", m->key.b, 32);
  api_add_hex(o, "enc_key", m->enc_key, 32);
  cJSON_AddBoolToObject(o, "validator", m->validator);
  cJSON_AddStringToObject(o, "address", m->address);
  cJSON_AddItemToObject(o, "domains", domains_json(&m->domains));
  return o;
}

/* The fields of an equivocation proof (a TX_EVIDENCE body). */
static void add_evidence(cJSON *o, const cx_tx_evidence *ev) {
  api_add_hex(o, "accused", ev->accused.b, 32);
  cJSON_AddStringToObject(o, "msg_type", bft_msg_type_name(ev->msg_type));
  api_add_u64(o, "height", ev->height);
  api_add_u64(o, "round", ev->round);
  cJSON *a = cJSON_AddArrayToObject(o, "messages");
  for (int i = 0; a && i < 2; i++) {
    cJSON *m = cJSON_CreateObject();
    if (!m) return;
    cJSON_AddItemToArray(a, m);
    api_add_hex(m, "block_hash", ev->half[i].block_hash.b, 32);
    if (ev->msg_type == CX_CS_PROPOSAL && ev->half[i].pol_round != CX_CS_NIL_ROUND)
      api_add_u64(m, "pol_round", ev->half[i].pol_round);
    api_add_hex(m, "sig", ev->half[i].sig.b, 64);
  }
}

/* mpc.h's mpc_ev_type and the call's sessions (docs/calls.md §2, §5). */
static const char *mpc_ev_name(unsigned t) {
  static const char *const names[] = {"none", "equivocation", "malformed", "wrong_share",
                                      "coin", "audit",        "client"};
  return t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

static const char *mpc_session_name(unsigned k) {
  return k == CX_MPC_SESSION_PREP ? "prep" : k == CX_MPC_SESSION_BITS ? "bits"
                                        : k == CX_MPC_SESSION_ONLINE ? "online" : "unknown";
}

/* A TX_MPC_EVIDENCE body: what identifies the cheat, and the sizes of the
 * signed messages (the messages themselves are in the raw transaction). */
static void add_mpc_evidence(cJSON *o, const cx_tx *tx) {
  const cx_tx_mpc_evidence *v = &tx->u.mev;
  api_add_hex(o, "call", v->call.b, 32);
  cJSON_AddStringToObject(o, "session", mpc_session_name(v->session));
  if (v->session >= CX_MPC_SESSION_PREP && v->session <= CX_MPC_SESSION_ONLINE) {
    uint8_t sid[32];
    tx_call_session_id(&tx->chain_id, &v->call, v->session, sid);
    api_add_hex(o, "session_id", sid, 32);
  }
  cJSON_AddStringToObject(o, "ev_type", mpc_ev_name(v->ev_type));
  api_add_u64(o, "culprit", v->culprit);
  api_add_u64(o, "item", v->item);
  api_add_u64(o, "count", v->count);
  cJSON *a = cJSON_AddArrayToObject(o, "message_bytes");
  for (size_t i = 0; a && i < v->count; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v->len[i]));
  api_add_u64(o, "aux_bytes", v->aux_len);
}

cJSON *api_tx_to_json(const cx_tx *tx) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "type", tx_type_name(tx->type));
  if (tx->type == TX_COMMAND) { /* no envelope: only its payload */
    api_add_hex(o, "payload", tx->u.cmd.payload, CX_COMMAND_PAYLOAD);
    return o;
  }
  api_add_hex(o, "chain_id", tx->chain_id.b, 32);
  api_add_hex(o, "sender", tx->sender.b, 32);
  api_add_u64(o, "nonce", tx->nonce);
  switch (tx->type) {
    case TX_MEMBER_PROPOSE:
      cJSON_AddStringToObject(o, "action", gov_action_name(tx->u.propose.action));
      if (tx->u.propose.action == GOV_ADD) {
        cJSON_AddItemToObject(o, "member", api_member_to_json(&tx->u.propose.member));
      } else {
        cJSON_AddStringToObject(o, "name", tx->u.propose.member.name);
        if (tx->u.propose.action == GOV_REKEY) {
          api_add_hex(o, "key", tx->u.propose.member.key.b, 32);
          api_add_hex(o, "enc_key", tx->u.propose.member.enc_key, 32);
        }
      }
      api_add_u64(o, "expires", tx->u.propose.expires);
      break;
    case TX_MEMBER_APPROVE:
      api_add_hex(o, "proposal", tx->u.approve.proposal.b, 32);
      break;
    case TX_ID_REGISTER:
      api_add_hex(o, "did", tx->u.reg.did.b, 32);
      break;
    case TX_ID_ATTEST:
      api_add_hex(o, "did", tx->u.attest.did.b, 32);
      cJSON_AddStringToObject(o, "level", level_name(tx->u.attest.level));
      break;
    case TX_ID_ROTATE:
      api_add_hex(o, "did", tx->u.rotate.did.b, 32);
      api_add_hex(o, "new_key", tx->u.rotate.new_key.b, 32);
      break;
    case TX_ID_REVOKE:
      api_add_hex(o, "did", tx->u.revoke.did.b, 32);
      break;
    case TX_CONSENT_GRANT: {
      const cx_tx_consent_grant *g = &tx->u.grant;
      api_add_hex(o, "did", g->did.b, 32);
      cJSON_AddStringToObject(o, "insurer", g->insurer);
      cJSON_AddItemToObject(o, "domains", domains_json(&g->domains));
      api_add_hex(o, "contract", g->contract.b, 32);
      cJSON_AddStringToObject(o, "purpose", g->purpose);
      api_add_u64(o, "expires", g->expires);
      api_add_u64(o, "quota", g->quota);
      api_add_hex(o, "evidence", g->evidence.b, 32);
      break;
    }
    case TX_CONSENT_REVOKE:
      api_add_hex(o, "consent", tx->u.crevoke.consent.b, 32);
      break;
    case TX_CONTRACT_DEPLOY: {
      cJSON_AddStringToObject(o, "name", tx->u.deploy.name);
      cJSON_AddItemToObject(o, "domains", domains_json(&tx->u.deploy.domains));
      cx_hash id;
      vm_contract_id(tx->u.deploy.bytecode, tx->u.deploy.bytecode_len, &id);
      api_add_hex(o, "contract", id.b, 32);
      api_add_u64(o, "source_bytes", tx->u.deploy.source_len);
      api_add_u64(o, "bytecode_bytes", tx->u.deploy.bytecode_len);
      break;
    }
    case TX_CONTRACT_APPROVE:
    case TX_CONTRACT_RETIRE:
      api_add_hex(o, "contract", tx->u.cref.contract.b, 32);
      break;
    case TX_VAULT_ANCHOR:
      cJSON_AddStringToObject(o, "domain", tx->u.anchor.domain);
      api_add_hex(o, "root", tx->u.anchor.root.b, 32);
      api_add_u64(o, "count", tx->u.anchor.count);
      break;
    case TX_EVIDENCE:
      add_evidence(o, &tx->u.evidence);
      break;
    case TX_MPC_EVIDENCE:
      add_mpc_evidence(o, tx);
      break;
    case TX_CALL: {
      /* The sealed blobs are opaque to everyone but their party: counts only. */
      const cx_tx_call *c = &tx->u.call;
      api_add_hex(o, "contract", c->contract.b, 32);
      api_add_hex(o, "did", c->did.b, 32);
      api_add_hex(o, "consent", c->consent.b, 32);
      cJSON *a = cJSON_AddArrayToObject(o, "args");
      for (size_t i = 0; a && i < c->nargs; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)c->args[i]));
      api_add_u64(o, "nparties", c->nparties);
      api_add_u64(o, "count", c->count);
      break;
    }
    case TX_CALL_RESULT: {
      /* docs/calls.md §4: everything an auditor needs to recompute the
       * statement and check the signatures (the blobs are sealed to the
       * insurer: hex, opaque to everyone else). */
      const cx_tx_call_result *r = &tx->u.result;
      api_add_hex(o, "call", r->call.b, 32);
      cJSON_AddStringToObject(o, "status", r->status == CX_CALL_DONE      ? "done"
                                           : r->status == CX_CALL_ABORTED ? "aborted"
                                                                          : "unknown");
      if (r->status == CX_CALL_DONE) {
        cJSON *a = cJSON_AddArrayToObject(o, "inputs");
        for (size_t i = 0; a && i < r->nin; i++) {
          cJSON *in = cJSON_CreateObject();
          if (!in) break;
          cJSON_AddItemToArray(a, in);
          cJSON_AddStringToObject(in, "domain", r->in[i].domain);
          api_add_hex(in, "root", r->in[i].root.b, 32);
          api_add_u64(in, "count", r->in[i].count);
          api_add_hex(in, "leaf", r->in[i].leaf.b, 32);
        }
        a = cJSON_AddArrayToObject(o, "outputs");
        for (size_t i = 0; a && i < r->nout; i++) {
          const cx_result_output *ro = &r->out[i];
          cJSON *out = cJSON_CreateObject();
          if (!out) break;
          cJSON_AddItemToArray(a, out);
          cJSON_AddBoolToObject(out, "private", ro->priv);
          if (ro->priv) {
            api_add_hex(out, "masked", ro->masked, 16);
          } else if (ro->value >= -(1LL << 53) && ro->value <= (1LL << 53)) {
            cJSON_AddNumberToObject(out, "value", (double)ro->value);
          } else { /* beyond 2^53 a double is not exact: a decimal string */
            char buf[24];
            snprintf(buf, sizeof buf, "%lld", (long long)ro->value);
            cJSON_AddStringToObject(out, "value", buf);
          }
        }
        api_add_hex(o, "transcript", r->transcript.b, 32);
      } else {
        cJSON_AddNumberToObject(o, "code", r->code);
        cJSON_AddStringToObject(o, "code_name", cx_err_name(r->code));
        cJSON_AddStringToObject(o, "reason", r->reason);
      }
      /* The proof (calls.md §4): QUORUM, a signature per party; FROST, one
       * signature by the `results` key and the parties' blobs alone; in a
       * batch (FROST_BATCH), that signature is over the batch's root and
       * "batch" gives this result's leaf and path (docs/keys.md §8). */
      int frost = r->proof == CX_RESULT_PROOF_FROST || r->proof == CX_RESULT_PROOF_FROST_BATCH;
      cJSON_AddStringToObject(o, "proof", frost ? "frost" : "quorum");
      if (frost) {
        api_add_u64(o, "key_epoch", r->key_epoch);
        api_add_hex(o, "frost_sig", r->frost.b, 64);
      }
      cJSON *bt = r->proof == CX_RESULT_PROOF_FROST_BATCH ? cJSON_AddObjectToObject(o, "batch") : NULL;
      if (bt) {
        api_add_u64(bt, "results", r->batch_n);
        api_add_u64(bt, "index", r->batch_idx);
        cJSON *pa = cJSON_AddArrayToObject(bt, "path");
        for (size_t i = 0; pa && i < r->batch_npath; i++) {
          char hx[65];
          cJSON_AddItemToArray(pa, cJSON_CreateString(hash_hex(&r->batch_path[i], hx)));
        }
      }
      cJSON *a = cJSON_AddArrayToObject(o, "sigs");
      for (size_t i = 0; a && i < r->nsig; i++) {
        cJSON *sg = cJSON_CreateObject();
        if (!sg) break;
        cJSON_AddItemToArray(a, sg);
        api_add_u64(sg, "party", r->sigs[i].party);
        add_raw(sg, "blob", r->sigs[i].blob, r->sigs[i].blob_len);
        if (!frost) api_add_hex(sg, "sig", r->sigs[i].sig.b, 64);
      }
      break;
    }
    case TX_KEY_CREATE: {
      /* docs/keys.md §3, §9: k is a custody key's approval policy (0 otherwise) */
      const cx_tx_key_create *kc = &tx->u.kcreate;
      static const char *const purposes[] = {"unknown", "results", "beacon", "custody"};
      cJSON_AddStringToObject(o, "name", kc->name);
      cJSON_AddStringToObject(o, "purpose", kc->purpose <= CX_KEY_PURPOSE_CUSTODY ? purposes[kc->purpose] : "unknown");
      api_add_u64(o, "t", kc->t);
      api_add_u64(o, "k", kc->k);
      break;
    }
    case TX_KEY_RESHARE: /* docs/keys.md §10: the READY epoch being reshared */
      cJSON_AddStringToObject(o, "name", tx->u.kreshare.name);
      api_add_u64(o, "epoch", tx->u.kreshare.epoch);
      break;
    case TX_SIGN_REQUEST:
      cJSON_AddStringToObject(o, "key", tx->u.sreq.key);
      add_raw(o, "msg", tx->u.sreq.msg, tx->u.sreq.msg_len);
      break;
    case TX_SIGN_APPROVE:
      api_add_hex(o, "request", tx->u.sapprove.request.b, 32);
      break;
    case TX_SIGN_RESULT:
      api_add_hex(o, "request", tx->u.sres.request.b, 32);
      api_add_hex(o, "signature", tx->u.sres.sig.b, 64);
      break;
  }
  api_add_hex(o, "sig", tx->sig.b, 64);
  return o;
}

static cJSON *receipt_json(int32_t code) {
  cJSON *r = cJSON_CreateObject();
  if (!r) return NULL;
  cJSON_AddBoolToObject(r, "ok", code == CX_OK);
  cJSON_AddNumberToObject(r, "code", code);
  cJSON_AddStringToObject(r, "rule", cx_err_name(code));
  cJSON_AddStringToObject(r, "message", cx_err_str(code));
  return r;
}

/* ---- methods ---- */

static cx_err m_tx_submit(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  const char *hex = rpc_param_str(params, "tx", 0, err);
  if (!hex) return err->code;
  size_t hl = strlen(hex);
  if (hl / 2 > CX_TX_MAX_BYTES)
    PARAMS_ERR(err, "params.tx: %zu bytes, the cap is %d", hl / 2, CX_TX_MAX_BYTES);
  uint8_t *raw = malloc(hl / 2 + 1);
  size_t len;
  if (!raw) return CX_E_NOMEM;
  if (hex_decode_var(hex, raw, hl / 2 + 1, &len)) {
    free(raw);
    PARAMS_ERR(err, "params.tx: expected hex");
  }
  cx_hash txid;
  cx_err e = node_submit(n, raw, len, &txid, err->detail, sizeof err->detail);
  free(raw);
  if (e) {
    err->code = e;
    return e;
  }
  *result = cJSON_CreateObject();
  if (!*result) return CX_E_NOMEM;
  api_add_hex(*result, "txid", txid.b, 32);
  return CX_OK;
}

static cx_err m_tx_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_hash id;
  if (param_hash(params, "txid", &id, err)) return err->code;
  store_txloc loc;
  uint8_t *raw = NULL, *blk = NULL;
  size_t len = 0, blen;
  cx_err e = store_tx_get(node_store(n), &id, &loc);
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  api_add_hex(o, "txid", id.b, 32);
  if (e == CX_OK) {
    cJSON_AddStringToObject(o, "status", "committed");
    api_add_u64(o, "height", loc.height);
    api_add_u64(o, "index", loc.index);
    cJSON_AddItemToObject(o, "receipt", receipt_json(loc.code));
    const uint8_t *t;
    size_t tl;
    cx_tx tx;
    if ((e = store_block_get(node_store(n), loc.height, &blk, &blen))) goto out;
    if ((e = block_tx_at(blk, blen, loc.index, &t, &tl))) {
      e = CX_E_CORRUPT; /* the tx index names a place its block does not have */
      goto out;
    }
    if (tx_decode(t, tl, &tx, NULL) == CX_OK) {
      cJSON_AddItemToObject(o, "tx", api_tx_to_json(&tx));
      tx_clear(&tx);
    }
    add_raw(o, "raw", t, tl);
  } else if (e == CX_E_NOT_FOUND) {
    if ((e = mempool_get_raw(node_mempool(n), &id, &raw, &len))) goto out;
    cJSON_AddStringToObject(o, "status", "pending");
    cx_tx tx;
    if (tx_decode(raw, len, &tx, NULL) == CX_OK) {
      cJSON_AddItemToObject(o, "tx", api_tx_to_json(&tx));
      tx_clear(&tx);
    }
    add_raw(o, "raw", raw, len);
  }
out:
  free(raw);
  free(blk);
  if (e) {
    cJSON_Delete(o);
    return e;
  }
  *result = o;
  return CX_OK;
}

static cx_err m_block_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  uint64_t height = 0;
  store *st = node_store(n);
  cx_err e;
  if (rpc_param(params, "hash", -1)) {
    cx_hash h;
    if (param_hash(params, "hash", &h, err)) return err->code;
    if ((e = store_block_height(st, &h, &height))) return e;
  } else if (rpc_param_u64(params, "height", 0, &height, err)) {
    return err->code;
  }
  if (height == 0) PARAMS_ERR(err, "params.height: blocks start at height 1");
  uint64_t base = store_base(st);
  if (height < base) { /* docs/statesync.md: a state-synced node has no older block */
    err->code = CX_E_NOT_FOUND;
    snprintf(err->detail, sizeof err->detail,
             "block %llu is below this node's base %llu: it was state-synced at %llu",
             (unsigned long long)height, (unsigned long long)base, (unsigned long long)base);
    return CX_E_NOT_FOUND;
  }
  uint8_t *raw = NULL, *craw = NULL;
  size_t len, clen = 0;
  cx_block b;
  block_init(&b);
  if ((e = store_block_get(st, height, &raw, &len))) return e;
  if ((e = block_decode(raw, len, &b))) goto out;
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    e = CX_E_NOMEM;
    goto out;
  }
  cx_hash bh;
  block_hash(&b.h, &bh);
  api_add_hex(o, "hash", bh.b, 32);
  api_add_u64(o, "height", b.h.height);
  api_add_hex(o, "parent", b.h.parent.b, 32);
  api_add_u64(o, "time_ms", b.h.time_ms);
  api_add_hex(o, "proposer", b.h.proposer.b, 32);
  api_add_u64(o, "view", b.h.view);
  api_add_hex(o, "chain_id", b.h.chain_id.b, 32);
  api_add_hex(o, "tx_root", b.h.tx_root.b, 32);
  api_add_hex(o, "receipts_root", b.h.receipts_root.b, 32);
  api_add_hex(o, "state_root", b.h.state_root.b, 32);
  cJSON *txs = cJSON_AddArrayToObject(o, "txs");
  for (size_t i = 0; txs && i < b.ntx; i++) {
    cJSON *t = cJSON_CreateObject();
    cx_hash id;
    store_txloc loc;
    tx_id_of_bytes(b.txs[i], b.tx_len[i], &id);
    api_add_hex(t, "txid", id.b, 32);
    if (b.tx_len[i] > 1) cJSON_AddStringToObject(t, "type", tx_type_name(b.txs[i][1]));
    if (store_tx_get(st, &id, &loc) == CX_OK) {
      cJSON_AddNumberToObject(t, "code", loc.code);
      cJSON_AddStringToObject(t, "rule", cx_err_name(loc.code));
    }
    cJSON_AddItemToArray(txs, t);
  }
  if (store_cert_get(st, height, &craw, &clen) == CX_OK) {
    cx_cert c;
    if (cert_decode(craw, clen, &c) == CX_OK) {
      cJSON *co = cJSON_AddObjectToObject(o, "cert");
      api_add_u64(co, "height", c.height);
      api_add_u64(co, "view", c.view);
      api_add_hex(co, "block_hash", c.block_hash.b, 32);
      cJSON *votes = cJSON_AddArrayToObject(co, "votes");
      for (size_t i = 0; votes && i < c.nvotes; i++) {
        cJSON *v = cJSON_CreateObject();
        cJSON_AddNumberToObject(v, "signer", c.votes[i].signer);
        api_add_hex(v, "sig", c.votes[i].sig.b, 64);
        cJSON_AddItemToArray(votes, v);
      }
    }
  }
  *result = o;
out:
  block_clear(&b);
  free(raw);
  free(craw);
  return e;
}

static cx_err m_identity_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_hash did;
  if (param_hash(params, "did", &did, err)) return err->code;
  vm_identity id;
  cx_err e = vm_identity_get(node_state(n), &did, &id);
  if (e) return e;
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  api_add_hex(o, "did", id.did.b, 32);
  api_add_hex(o, "key", id.key.b, 32);
  cJSON_AddBoolToObject(o, "revoked", id.revoked);
  api_add_u64(o, "registered_height", id.registered_height);
  api_add_u64(o, "revoked_height", id.revoked_height);
  cJSON *a = cJSON_AddArrayToObject(o, "attestations");
  for (size_t i = 0; a && i < id.nattest; i++) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "bureau", id.attest[i].bureau);
    cJSON_AddStringToObject(t, "level", level_name(id.attest[i].level));
    api_add_u64(t, "height", id.attest[i].height);
    cJSON_AddItemToArray(a, t);
  }
  *result = o;
  return CX_OK;
}

static cJSON *consent_json(node *n, const vm_consent *c) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  api_add_hex(o, "id", c->id.b, 32);
  api_add_hex(o, "did", c->did.b, 32);
  cJSON_AddStringToObject(o, "insurer", c->insurer);
  cJSON_AddItemToObject(o, "domains", domains_json(&c->domains));
  api_add_hex(o, "contract", c->contract.b, 32);
  cJSON_AddStringToObject(o, "purpose", c->purpose);
  api_add_u64(o, "expires", c->expires);
  api_add_u64(o, "quota", c->quota);
  api_add_u64(o, "uses", c->uses);
  cJSON_AddStringToObject(o, "granted_by", c->granted_by);
  api_add_hex(o, "evidence", c->evidence.b, 32);
  api_add_u64(o, "granted_height", c->granted_height);
  cJSON_AddBoolToObject(o, "revoked", c->revoked);
  api_add_u64(o, "revoked_height", c->revoked_height);
  cJSON_AddBoolToObject(o, "live",
                        vm_consent_live(node_state(n), &c->id, store_height(node_store(n))) == CX_OK);
  return o;
}

static cx_err m_consent_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_hash id;
  if (param_hash(params, "id", &id, err)) return err->code;
  vm_consent c;
  cx_err e = vm_consent_get(node_state(n), &id, &c);
  if (e) return e;
  *result = consent_json(n, &c);
  return *result ? CX_OK : CX_E_NOMEM;
}

static cx_err m_consent_list(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_hash did;
  if (param_hash(params, "did", &did, err)) return err->code;
  vm_identity id;
  cx_err e = vm_identity_get(node_state(n), &did, &id);
  if (e) return e;
  cx_hash *ids = malloc(VM_MAX_CONSENTS_PER_SUBJECT * sizeof *ids);
  size_t k = 0;
  if (!ids) return CX_E_NOMEM;
  e = vm_consents_of(node_state(n), &did, ids, VM_MAX_CONSENTS_PER_SUBJECT, &k);
  if (e == CX_E_NOT_FOUND) {
    k = 0;
    e = CX_OK;
  }
  cJSON *a = e ? NULL : cJSON_CreateArray();
  for (size_t i = 0; a && i < k; i++) {
    vm_consent c;
    if (vm_consent_get(node_state(n), &ids[i], &c) == CX_OK)
      cJSON_AddItemToArray(a, consent_json(n, &c));
  }
  free(ids);
  if (e) return e;
  if (!a) return CX_E_NOMEM;
  *result = a;
  return CX_OK;
}

static cx_err m_contract_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_hash id;
  if (param_hash(params, "id", &id, err)) return err->code;
  vm_contract c;
  cx_err e = vm_contract_get(node_state(n), &id, &c);
  if (e) return e;
  static const char *const st[] = {"unknown", "pending", "approved", "retired"};
  cJSON *o = cJSON_CreateObject();
  if (o) {
    api_add_hex(o, "id", c.id.b, 32);
    cJSON_AddStringToObject(o, "name", c.name);
    cJSON_AddStringToObject(o, "deployer", c.deployer);
    cJSON_AddItemToObject(o, "domains", domains_json(&c.domains));
    cJSON_AddStringToObject(o, "status", c.status <= 3 ? st[c.status] : "unknown");
    cJSON_AddBoolToObject(o, "callable", vm_contract_callable(node_state(n), &id) == CX_OK);
    api_add_u64(o, "deployed_height", c.deployed_height);
    cJSON *a = cJSON_AddArrayToObject(o, "approvals");
    for (size_t i = 0; a && i < c.napprovals; i++)
      cJSON_AddItemToArray(a, cJSON_CreateString(c.approvals[i]));
    add_raw(o, "bytecode", c.bytecode, c.bytecode_len);
    char *src = malloc(c.source_len + 1);
    if (src) {
      memcpy(src, c.source, c.source_len);
      src[c.source_len] = 0;
      cJSON_AddStringToObject(o, "source", src);
      free(src);
    }
  }
  vm_contract_clear(&c);
  if (!o) return CX_E_NOMEM;
  *result = o;
  return CX_OK;
}

/* ---- tx_proof's answer (docs/rpc.md tx_proof), shared by tx_proof and
 * member_history ---- */

/* The block's txids and receipt leaves (codes from the tx index). */
static cx_err block_leaves(store *st, const cx_block *b, cx_hash *ids, cx_hash *leaves) {
  for (size_t i = 0; i < b->ntx; i++) {
    store_txloc loc;
    tx_id_of_bytes(b->txs[i], b->tx_len[i], &ids[i]);
    /* Every transaction of a committed block is indexed; one that is not
     * means the store is damaged. */
    if (store_tx_get(st, &ids[i], &loc) != CX_OK) return CX_E_CORRUPT;
    receipt_leaf(&ids[i], loc.code, &leaves[i]);
  }
  return CX_OK;
}

static void add_path(cJSON *o, const char *k, const cx_hash *leaves, size_t n, size_t idx) {
  cx_hash path[MERKLE_MAX_DEPTH];
  size_t len = merkle_path(leaves, n, idx, path);
  cJSON *a = cJSON_AddArrayToObject(o, k);
  for (size_t i = 0; a && i < len; i++) {
    char hex[CX_HASH_HEX_LEN];
    cJSON_AddItemToArray(a, cJSON_CreateString(hash_hex(&path[i], hex)));
  }
}

cx_err api_tx_proof(node *n, const cx_hash *txid, cJSON **out, cJSON *raw_to) {
  store *st = node_store(n);
  store_txloc loc;
  *out = NULL;
  cx_err e = store_tx_get(st, txid, &loc);
  if (e) return e; /* not_found: unknown, or still in the mempool */
  uint8_t *raw = NULL, *hdr = NULL, *craw = NULL;
  size_t len = 0, hlen = 0, clen = 0;
  cx_hash *ids = NULL, *leaves = NULL;
  cJSON *o = NULL;
  cx_block b;
  block_init(&b);
  if ((e = store_block_get(st, loc.height, &raw, &len))) goto out;
  if ((e = block_decode(raw, len, &b))) goto out;
  if (loc.index >= b.ntx) {
    e = CX_E_CORRUPT; /* the tx index names a place its block does not have */
    goto out;
  }
  ids = malloc(b.ntx * sizeof *ids);
  leaves = malloc(b.ntx * sizeof *leaves);
  if (!ids || !leaves) {
    e = CX_E_NOMEM;
    goto out;
  }
  if ((e = block_leaves(st, &b, ids, leaves))) goto out;
  e = store_cert_get(st, loc.height, &craw, &clen);
  if (e == CX_E_NOT_FOUND) clen = 0; /* a certificate-less block: reported as empty, fails the check */
  else if (e) goto out;
  block_header_encode(&b.h, &hdr, &hlen);
  if (!hdr || !(o = cJSON_CreateObject())) {
    e = CX_E_NOMEM;
    goto out;
  }
  cx_hash bh;
  char hex[CX_HASH_HEX_LEN];
  block_hash(&b.h, &bh);
  cJSON_AddStringToObject(o, "txid", hash_hex(txid, hex));
  cJSON_AddNumberToObject(o, "height", (double)loc.height);
  cJSON_AddNumberToObject(o, "index", loc.index);
  cJSON_AddNumberToObject(o, "code", loc.code);
  api_add_hex(o, "header", hdr, hlen);
  cJSON_AddStringToObject(o, "hash", hash_hex(&bh, hex));
  api_add_hex(o, "cert", craw, clen);
  cJSON_AddNumberToObject(o, "ntx", (double)b.ntx);
  add_path(o, "tx_path", ids, b.ntx, loc.index);
  add_path(o, "receipt_path", leaves, b.ntx, loc.index);
  if (raw_to) api_add_hex(raw_to, "raw", b.txs[loc.index], b.tx_len[loc.index]);
  e = CX_OK;
out:
  if (e) {
    cJSON_Delete(o);
    o = NULL;
  }
  *out = o;
  block_clear(&b);
  free(raw);
  free(hdr);
  free(craw);
  free(ids);
  free(leaves);
  return e;
}

/* The args of the committed call txid (its record exists, so it is in a
 * block): an array, or NULL if the transaction cannot be read back. */
cx_err api_committed_tx(node *n, const cx_hash *txid, cx_tx *out) {
  store_txloc loc;
  uint8_t *blk = NULL;
  size_t blen, tl;
  const uint8_t *t;
  tx_init(out);
  cx_err e = store_tx_get(node_store(n), txid, &loc);
  if (!e) e = store_block_get(node_store(n), loc.height, &blk, &blen);
  if (!e) e = block_tx_at(blk, blen, loc.index, &t, &tl);
  if (!e) e = tx_decode(t, tl, out, NULL);
  free(blk);
  return e;
}

static cJSON *call_args_json(node *n, const cx_hash *txid) {
  cx_tx tx;
  cJSON *a = NULL;
  if (api_committed_tx(n, txid, &tx) != CX_OK) return NULL;
  if (tx.type == TX_CALL && (a = cJSON_CreateArray()))
    for (size_t i = 0; i < tx.u.call.nargs; i++)
      cJSON_AddItemToArray(a, cJSON_CreateNumber((double)tx.u.call.args[i]));
  tx_clear(&tx);
  return a;
}
static cx_err m_call_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_hash id;
  if (param_hash(params, "txid", &id, err)) return err->code;
  vm_call c;
  cx_err e = vm_call_get(node_state(n), &id, &c);
  if (e) return e;
  static const char *const st[] = {"unknown", "pending", "done", "aborted"};
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  api_add_hex(o, "txid", c.id.b, 32);
  api_add_hex(o, "contract", c.contract.b, 32);
  api_add_hex(o, "did", c.did.b, 32);
  api_add_hex(o, "consent", c.consent.b, 32);
  cJSON_AddStringToObject(o, "insurer", c.insurer);
  api_add_u64(o, "height", c.height);
  cJSON_AddStringToObject(o, "status", c.status <= CALL_ABORTED ? st[c.status] : "unknown");
  cJSON *a = call_args_json(n, &id);
  cJSON_AddItemToObject(o, "args", a ? a : cJSON_CreateNull());
  /* The MPC parties, in party order: the keys the result's signatures are
   * checked against (docs/calls.md §1, §4). */
  api_add_u64(o, "nparties", c.nparties);
  cJSON *pa = cJSON_AddArrayToObject(o, "parties");
  for (uint32_t i = 0; pa && i < c.nparties; i++) {
    char hex[65];
    hex_encode(c.parties[i].b, 32, hex);
    cJSON_AddItemToArray(pa, cJSON_CreateString(hex));
  }
  /* Random audit sampling by the beacon of the call's height (docs/keys.md
   * §7): null while this node has no beacon value for it. */
  uint8_t bv[32];
  if (key_service_beacon(n, c.height, bv, NULL, NULL) == CX_OK) {
    cJSON *au = cJSON_AddObjectToObject(o, "audit");
    if (au) {
      api_add_u64(au, "beacon_height", c.height);
      cJSON_AddBoolToObject(au, "sampled", key_audit_sampled(bv, &c.id));
    }
  } else {
    cJSON_AddNullToObject(o, "audit");
  }
  if (c.status != CALL_PENDING) {
    /* The result transaction, read back from its block (a closed call's
     * result is committed); null if it cannot be. */
    api_add_hex(o, "result_txid", c.result.b, 32);
    api_add_u64(o, "result_height", c.result_height);
    cJSON *rj = NULL;
    cx_tx tx;
    if (api_committed_tx(n, &c.result, &tx) == CX_OK) {
      if (tx.type == TX_CALL_RESULT) rj = api_tx_to_json(&tx);
      tx_clear(&tx);
    }
    cJSON_AddItemToObject(o, "result", rj ? rj : cJSON_CreateNull());
  }
  *result = o;
  return CX_OK;
}
static cx_err m_member_list(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_member *ms = malloc(VM_MAX_MEMBERS * sizeof *ms);
  size_t k = 0, nv = 0;
  if (!ms) return CX_E_NOMEM;
  cx_err e = vm_members(node_state(n), ms, VM_MAX_MEMBERS, &k);
  cJSON *o = e ? NULL : cJSON_CreateObject();
  if (o) {
    cJSON *a = cJSON_AddArrayToObject(o, "members");
    cJSON *v = cJSON_AddArrayToObject(o, "validators");
    for (size_t i = 0; i < k; i++) {
      cJSON_AddItemToArray(a, api_member_to_json(&ms[i]));
      if (ms[i].validator) {
        cJSON_AddItemToArray(v, cJSON_CreateString(ms[i].name));
        nv++;
      }
    }
    cJSON_AddNumberToObject(o, "quorum", quorum_size((unsigned)nv));
  }
  free(ms);
  if (e) return e;
  if (!o) return CX_E_NOMEM;
  *result = o;
  return CX_OK;
}

static cx_err m_proposal_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_hash id;
  if (param_hash(params, "id", &id, err)) return err->code;
  vm_proposal *p = malloc(sizeof *p);
  if (!p) return CX_E_NOMEM;
  cx_err e = vm_proposal_get(node_state(n), &id, p);
  cJSON *o = e ? NULL : cJSON_CreateObject();
  if (o) {
    api_add_hex(o, "id", p->id.b, 32);
    cJSON_AddStringToObject(o, "action", gov_action_name(p->action));
    cJSON_AddItemToObject(o, "member", api_member_to_json(&p->member));
    api_add_u64(o, "expires", p->expires);
    cJSON_AddStringToObject(o, "proposer", p->proposer);
    cJSON *a = cJSON_AddArrayToObject(o, "approvals");
    for (size_t i = 0; a && i < p->napprovals; i++)
      cJSON_AddItemToArray(a, cJSON_CreateString(p->approvals[i]));
    cJSON_AddBoolToObject(o, "applied", p->applied);
    api_add_u64(o, "applied_height", p->applied_height);
  }
  free(p);
  if (e) return e;
  if (!o) return CX_E_NOMEM;
  *result = o;
  return CX_OK;
}

static cx_err m_account_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_hash k;
  if (param_hash(params, "key", &k, err)) return err->code;
  cx_pubkey pk;
  memcpy(pk.b, k.b, 32);
  uint64_t nonce = 0;
  cx_err e = vm_account_nonce(node_state(n), &pk, &nonce);
  if (e) return e;
  size_t pending = mempool_pending_of(node_mempool(n), &pk);
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  api_add_hex(o, "key", pk.b, 32);
  api_add_u64(o, "nonce", nonce);
  api_add_u64(o, "pending", pending);
  api_add_u64(o, "next_nonce", nonce + pending);
  *result = o;
  return CX_OK;
}

/* "peers": one object per member link (net_stats) and "p2p": the counters
 * no peer can be blamed for plus transaction gossip. */
static void add_peers(cJSON *o, node *n) {
  cJSON *arr = cJSON_AddArrayToObject(o, "peers");
  net *nt = node_net(n);
  if (!nt || !arr) return;
  net_stats_global g;
  net_peer_stats *ps = calloc(CX_MAX_VALIDATORS, sizeof *ps);
  if (!ps) return;
  size_t np = net_stats(nt, ps, CX_MAX_VALIDATORS, &g);
  if (np > CX_MAX_VALIDATORS) np = CX_MAX_VALIDATORS;
  for (size_t i = 0; i < np; i++) {
    cJSON *p = cJSON_CreateObject();
    if (!p) break;
    cJSON_AddItemToArray(arr, p);
    cJSON_AddStringToObject(p, "member", ps[i].name);
    cJSON_AddBoolToObject(p, "connected", ps[i].connected);
    api_add_u64(p, "msgs_out", ps[i].msgs_out);
    api_add_u64(p, "bytes_out", ps[i].bytes_out);
    api_add_u64(p, "msgs_in", ps[i].msgs_in);
    api_add_u64(p, "bytes_in", ps[i].bytes_in);
    api_add_u64(p, "handshakes", ps[i].handshakes);
    api_add_u64(p, "queued", ps[i].queued);
    api_add_u64(p, "socket_resets", ps[i].socket_resets);
    cJSON *rj = cJSON_AddObjectToObject(p, "rejects");
    for (unsigned r = 0; r < NET_R_COUNT; r++)
      if (ps[i].rejects[r]) api_add_u64(rj, net_reject_name(r), ps[i].rejects[r]);
  }
  free(ps);
  cJSON *p2p = cJSON_AddObjectToObject(o, "p2p");
  cJSON *rj = cJSON_AddObjectToObject(p2p, "rejects");
  for (unsigned r = 0; r < NET_R_COUNT; r++)
    if (g.rejects[r]) api_add_u64(rj, net_reject_name(r), g.rejects[r]);
  uint64_t adm, dup, bad;
  node_gossip_stats(n, &adm, &dup, &bad);
  cJSON *gj = cJSON_AddObjectToObject(p2p, "gossip");
  api_add_u64(gj, "admitted", adm);
  api_add_u64(gj, "duplicates", dup);
  api_add_u64(gj, "refused", bad);
}

static const char *step_name(uint8_t step) {
  switch (step) {
    case BFT_PROPOSAL: return "propose";
    case BFT_PREVOTE: return "prevote";
    case BFT_PRECOMMIT: return "precommit";
    default: return "waiting";
  }
}

/* Rounds as the paper writes them: -1 for none. */
static void add_round(cJSON *o, const char *k, uint32_t r) {
  cJSON_AddNumberToObject(o, k, r == BFT_NIL_ROUND ? -1.0 : (double)r);
}

/* "consensus": the engine's position (height being decided, round, step,
 * locks) and the counters of refused peer input. */
static void add_consensus(cJSON *o, node *n) {
  node_cs_status cs;
  node_consensus_status(n, &cs);
  cJSON *c = cJSON_AddObjectToObject(o, "consensus");
  if (!c) return;
  api_add_u64(c, "height", cs.engine.height);
  api_add_u64(c, "round", cs.engine.round);
  cJSON_AddStringToObject(c, "step", step_name(cs.engine.step));
  add_round(c, "locked_round", cs.engine.locked_round);
  add_round(c, "valid_round", cs.engine.valid_round);
  api_add_u64(c, "validators", cs.validators);
  api_add_u64(c, "ignored", cs.engine.ignored);
  api_add_u64(c, "equivocations", cs.engine.equivocations);
  api_add_u64(c, "refused_messages", cs.bad_messages);
  api_add_u64(c, "refused_sync", cs.bad_sync);
}

/* "keys": the key service's counters (docs/keys.md §5, §7). */
static void add_keys(cJSON *o, node *n) {
  node_key_stats st;
  node_key_status(n, &st);
  cJSON *k = cJSON_AddObjectToObject(o, "keys");
  if (!k) return;
  api_add_u64(k, "submitted", st.submitted);
  api_add_u64(k, "beacons", st.beacons);
  api_add_u64(k, "beacon_height", st.beacon_height);
  api_add_u64(k, "refused", st.refused);
  if (st.last_error[0]) cJSON_AddStringToObject(k, "last_error", st.last_error);
}

/* "mpc": the preprocessing service (docs/operations.md, "MPC
 * preprocessing"): the pool's level and the batch counters. Counts only:
 * no material is ever published. */
/* The call service's counters (docs/calls.md): calls this node took part
 * in, closed on chain as done or aborted. */
static void add_calls(cJSON *o, node *n) {
  node_call_stats st;
  node_call_status(n, &st);
  cJSON *c = cJSON_AddObjectToObject(o, "calls");
  if (!c) return;
  api_add_u64(c, "started", st.started);
  api_add_u64(c, "done", st.done);
  api_add_u64(c, "aborted", st.aborted);
  api_add_u64(c, "queued", st.queued);
  api_add_u64(c, "closing", st.closing);
  api_add_u64(c, "running", (uint64_t)st.running); /* calls whose sessions run now */
  api_add_u64(c, "skipped_stale", st.skipped_stale);
  api_add_u64(c, "dropped", st.dropped);
  if (st.last_error[0]) cJSON_AddStringToObject(c, "last_error", st.last_error);
}

static void add_mpc(cJSON *o, node *n) {
  node_mpc_stats ms;
  node_mpc_status(n, &ms);
  cJSON *m = cJSON_AddObjectToObject(o, "mpc");
  if (!m) return;
  cJSON_AddBoolToObject(m, "enabled", ms.enabled);
  cJSON *p = cJSON_AddObjectToObject(m, "pool");
  if (p) {
    api_add_u64(p, "triples", ms.triples);
    api_add_u64(p, "rands", ms.rands);
    api_add_u64(p, "bits", ms.bits);
    api_add_u64(p, "cap_triples", ms.cap_triples);
    api_add_u64(p, "cap_rands", ms.cap_rands);
    api_add_u64(p, "cap_bits", ms.cap_bits);
  }
  api_add_u64(m, "batches_ok", ms.batches_ok);
  api_add_u64(m, "batches_failed", ms.batches_failed);
  api_add_u64(m, "flushes", ms.flushes);
  cJSON_AddBoolToObject(m, "running", ms.running);
  api_add_u64(m, "last_height", ms.last_height);
  api_add_u64(m, "skipped_stale", ms.skipped_stale);
  api_add_u64(m, "refused_messages", ms.refused);
  cJSON_AddStringToObject(m, "last_error", ms.last_error);
}

/* State sync (docs/statesync.md): the store's base, whether the client runs
 * or ran at this start and where it is, and the snapshot served. */
static void add_statesync(cJSON *o, node *n, store *st) {
  node_ss_stats ss;
  node_statesync_status(n, &ss);
  cJSON *s = cJSON_AddObjectToObject(o, "statesync");
  if (!s) return;
  api_add_u64(s, "base", store_base(st));
  cJSON_AddBoolToObject(s, "enabled", ss.enabled);
  cJSON_AddBoolToObject(s, "active", ss.active);
  cJSON_AddStringToObject(s, "phase", ss.ran || ss.active ? ss_phase_name(ss.prog.phase) : "off");
  api_add_u64(s, "height", ss.prog.height);
  api_add_u64(s, "chunks_done", ss.prog.chunks_done);
  api_add_u64(s, "chunks_total", SS_CHUNKS);
  api_add_u64(s, "refused", ss.prog.refused);
  api_add_u64(s, "installed_height", ss.installed);
  api_add_u64(s, "serving_height", ss.pinned);
  cJSON_AddStringToObject(s, "last", ss.last);
}

static cx_err m_status(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  store *st = node_store(n);
  cx_hash h;
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  node_chain_id(n, &h);
  api_add_hex(o, "chain_id", h.b, 32);
  cJSON_AddStringToObject(o, "chain_name", node_genesis(n)->chain_name);
  api_add_u64(o, "height", store_height(st));
  store_tip_hash(st, &h);
  api_add_hex(o, "tip_hash", h.b, 32);
  store_state_root(st, &h);
  api_add_hex(o, "state_root", h.b, 32);
  cJSON *me = cJSON_AddObjectToObject(o, "node");
  cJSON_AddStringToObject(me, "name", node_cfg(n)->name);
  api_add_hex(me, "key", node_key(n)->b, 32);
  int me_validator = 0;
  cx_member *ms = malloc(VM_MAX_MEMBERS * sizeof *ms);
  size_t k = 0;
  if (ms && vm_members(node_state(n), ms, VM_MAX_MEMBERS, &k) == CX_OK) {
    cJSON *a = cJSON_AddArrayToObject(o, "members");
    cJSON *v = cJSON_AddArrayToObject(o, "validators");
    for (size_t i = 0; i < k; i++) {
      cJSON_AddItemToArray(a, cJSON_CreateString(ms[i].name));
      if (ms[i].validator) cJSON_AddItemToArray(v, cJSON_CreateString(ms[i].name));
      if (ms[i].validator && strcmp(ms[i].name, node_cfg(n)->name) == 0) me_validator = 1;
    }
  }
  free(ms);
  cJSON_AddBoolToObject(me, "validator", me_validator); /* in the set in force */
  mempool_stats s;
  mempool_stats_get(node_mempool(n), &s);
  cJSON *mp = cJSON_AddObjectToObject(o, "mempool");
  api_add_u64(mp, "size", s.size);
  api_add_u64(mp, "max", s.max);
  add_consensus(o, n);
  add_peers(o, n);
  add_mpc(o, n);
  add_calls(o, n);
  add_keys(o, n);
  add_statesync(o, n, st);
  *result = o;
  return CX_OK;
}

/* The MPC cheaters recorded on chain (TX_MPC_EVIDENCE, oldest first, one
 * per (call, culprit)), names resolved against today's members. */
static void add_mpc_recorded(cJSON *arr, node *n) {
  vm_mpc_evidence r;
  for (uint64_t i = 0; i < 1000 && vm_mpc_evidence_at(node_state(n), i, &r) == CX_OK; i++) {
    cJSON *e = cJSON_CreateObject();
    if (!e) break;
    cJSON_AddItemToArray(arr, e);
    api_add_hex(e, "call", r.call.b, 32);
    api_add_u64(e, "culprit", r.culprit);
    vm_call c;
    cx_member m;
    if (vm_call_get(node_state(n), &r.call, &c) == CX_OK && r.culprit < c.nparties) {
      api_add_hex(e, "culprit_key", c.parties[r.culprit].b, 32);
      if (vm_member_by_key(node_state(n), &c.parties[r.culprit], &m) == CX_OK)
        cJSON_AddStringToObject(e, "culprit_name", m.name);
    }
    cJSON_AddStringToObject(e, "session", mpc_session_name(r.session));
    cJSON_AddStringToObject(e, "ev_type", mpc_ev_name(r.ev_type));
    api_add_hex(e, "reporter", r.reporter.b, 32);
    if (vm_member_by_key(node_state(n), &r.reporter, &m) == CX_OK)
      cJSON_AddStringToObject(e, "reporter_name", m.name);
    api_add_u64(e, "included_height", r.height);
    api_add_hex(e, "txid", r.txid.b, 32);
  }
}

/* Equivocations: "recorded" are the evidence transactions on chain (oldest
 * first, each once, whoever reported it); "observed" are the last 64 this
 * node's engine saw (newest first, in memory), each of which it reports on
 * chain with a TX_EVIDENCE unless already recorded. "mpc": the cheaters the
 * MPC engine named during calls, recorded by mpc_evidence transactions. */
static cx_err m_evidence_list(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cJSON *o = cJSON_CreateObject();
  cJSON *rec = o ? cJSON_AddArrayToObject(o, "recorded") : NULL;
  cJSON *obs = o ? cJSON_AddArrayToObject(o, "observed") : NULL;
  cJSON *mpc = o ? cJSON_AddArrayToObject(o, "mpc") : NULL;
  vm_evidence *ve = calloc(1, sizeof *ve);
  node_evidence *ev = calloc(64, sizeof *ev);
  if (!o || !rec || !obs || !mpc || !ve || !ev) {
    cJSON_Delete(o);
    free(ve);
    free(ev);
    return CX_E_NOMEM;
  }
  for (uint64_t i = 0; i < 1000 && vm_evidence_at(node_state(n), i, ve) == CX_OK; i++) {
    cJSON *r = cJSON_CreateObject();
    if (!r) break;
    cJSON_AddItemToArray(rec, r);
    cJSON_AddStringToObject(r, "accused_name", ve->accused_name);
    add_evidence(r, &ve->ev);
    cJSON_AddStringToObject(r, "reporter", ve->reporter);
    api_add_u64(r, "included_height", ve->included_height);
    api_add_hex(r, "txid", ve->txid.b, 32);
  }
  size_t k = node_evidence_list(n, ev, 64);
  for (size_t i = 0; i < k; i++) {
    cJSON *e = cJSON_CreateObject();
    if (!e) break;
    cJSON_AddItemToArray(obs, e);
    cJSON_AddStringToObject(e, "signer", ev[i].name);
    api_add_u64(e, "signer_index", ev[i].signer);
    api_add_u64(e, "height", ev[i].height);
    api_add_u64(e, "round", ev[i].round);
    cJSON_AddStringToObject(e, "type", bft_msg_type_name(ev[i].type));
    api_add_hex(e, "hash1", ev[i].hash1.b, 32);
    api_add_hex(e, "hash2", ev[i].hash2.b, 32);
    api_add_u64(e, "time_ms", ev[i].time_ms);
  }
  add_mpc_recorded(mpc, n);
  free(ve);
  free(ev);
  *result = o;
  return CX_OK;
}

static cx_err m_admin_log_level(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  const char *s = rpc_param_str(params, "level", 0, err);
  if (!s) return err->code;
  int lvl = log_level_parse(s);
  if (lvl < 0) PARAMS_ERR(err, "params.level: expected trace, debug, info, warn, error or off");
  log_set_level((log_level)lvl);
  LOG_W("node", "log level set to %s over RPC", s);
  *result = cJSON_CreateObject();
  if (!*result) return CX_E_NOMEM;
  cJSON_AddStringToObject(*result, "level", log_level_name((log_level)lvl));
  return CX_OK;
}

static cx_err m_admin_mempool(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  mempool_stats s;
  mempool_stats_get(node_mempool(n), &s);
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  api_add_u64(o, "size", s.size);
  api_add_u64(o, "max", s.max);
  api_add_u64(o, "senders", s.senders);
  api_add_u64(o, "commands", s.commands);
  api_add_u64(o, "admitted", s.admitted);
  api_add_u64(o, "rejected", s.rejected);
  api_add_u64(o, "committed", s.committed);
  *result = o;
  return CX_OK;
}

/* ---- the vault (admin; docs/vault.md, "Operating the vault") ----
 *
 * Record values reach these handlers and the vault only: they are never
 * logged (a refusal's detail, which may hold a value, goes back to the
 * authenticated caller alone; rpc.c logs method names and codes). */

#define EXACT_MAX 9007199254740992LL /* 2^53: larger int64 go out as decimal strings */

/* Refusal of a vault call on a node without a vault. */
static cx_err no_vault(node *n, rpc_error *err) {
  err->code = CX_E_NOT_FOUND;
  snprintf(err->detail, sizeof err->detail,
           "this node keeps no vault: member '%s' owned no data domain when custosd started",
           node_cfg(n)->name);
  return CX_E_NOT_FOUND;
}

/* Refuses members of object o (named where) other than the allowed ones. */
static int only_keys(const cJSON *o, const char *const *allowed, const char *where, rpc_error *err) {
  for (const cJSON *m = o->child; m; m = m->next) {
    size_t i = 0;
    while (allowed[i] && strcmp(allowed[i], m->string) != 0) i++;
    if (allowed[i]) continue;
    err->code = CX_E_RPC_PARAMS;
    snprintf(err->detail, sizeof err->detail, "%s: unknown member \"%.40s\"", where, m->string);
    return -1;
  }
  return 0;
}

/* A domain named by a vault call: an identifier that this node's member
 * owns in the committed state. */
static int vault_domain(node *n, const char *d, const char *where, rpc_error *err) {
  char owner[CX_NAME_MAX + 1];
  if (!str_valid(d, VAULT_DOMAIN_MAX, STR_IDENT)) {
    err->code = CX_E_RPC_PARAMS;
    snprintf(err->detail, sizeof err->detail,
             "%s: not a domain name (1..%d characters a-z 0-9 _ -)", where, VAULT_DOMAIN_MAX);
    return -1;
  }
  cx_err e = vm_domain_owner(node_state(n), d, owner);
  if (e == CX_E_NOT_FOUND) {
    err->code = CX_E_DOMAIN_UNKNOWN;
    snprintf(err->detail, sizeof err->detail, "domain '%s': no bureau owns it", d);
    return -1;
  }
  if (e) {
    err->code = e;
    return -1;
  }
  if (strcmp(owner, node_cfg(n)->name) != 0) {
    err->code = CX_E_NOT_OWNER_BUREAU;
    snprintf(err->detail, sizeof err->detail,
             "domain '%s' belongs to bureau '%s', not to this node's member '%s'", d, owner,
             node_cfg(n)->name);
    return -1;
  }
  return 0;
}

/* An int64 for a schema bound: an integral JSON number or a decimal string. */
static int bound_param(const cJSON *j, const char *where, int64_t *out, rpc_error *err) {
  static const vault_field any_int = {.is_bool = 0};
  char why[96];
  if (vimport_json_value(j, &any_int, out, why, sizeof why) == CX_OK) return 0;
  err->code = CX_E_RPC_PARAMS;
  snprintf(err->detail, sizeof err->detail, "%s: %s", where, why);
  return -1;
}

static void add_i64(cJSON *o, const char *k, int64_t v) {
  if (v >= -EXACT_MAX && v <= EXACT_MAX) {
    cJSON_AddNumberToObject(o, k, (double)v);
  } else {
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    cJSON_AddStringToObject(o, k, buf);
  }
}

static cJSON *fields_json(const vault_schema *s) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < s->nfields; i++) {
    cJSON *f = cJSON_CreateObject();
    if (!f) break;
    cJSON_AddItemToArray(a, f);
    cJSON_AddStringToObject(f, "name", s->fields[i].name);
    cJSON_AddStringToObject(f, "type", s->fields[i].is_bool ? "bool" : "int");
    add_i64(f, "min", s->fields[i].lo);
    add_i64(f, "max", s->fields[i].hi);
  }
  return a;
}

static cx_err m_admin_vault_schema_set(void *ctx, const cJSON *params, cJSON **result,
                                       rpc_error *err) {
  static const char *const skeys[] = {"domain", "fields", NULL};
  static const char *const fkeys[] = {"name", "type", "min", "max", NULL};
  node *n = ctx;
  node_vault *nv = node_vault_of(n);
  char where[64];
  vault_schema s;
  if (!nv) return no_vault(n, err);
  const cJSON *sj = rpc_param(params, "schema", 0);
  if (!cJSON_IsObject(sj)) PARAMS_ERR(err, "params.schema: expected an object {domain, fields}");
  if (only_keys(sj, skeys, "params.schema", err)) return err->code;
  const cJSON *dj = cJSON_GetObjectItemCaseSensitive(sj, "domain");
  const cJSON *fj = cJSON_GetObjectItemCaseSensitive(sj, "fields");
  if (!cJSON_IsString(dj)) PARAMS_ERR(err, "params.schema.domain: expected a string");
  if (vault_domain(n, dj->valuestring, "params.schema.domain", err)) return err->code;
  if (!cJSON_IsArray(fj)) PARAMS_ERR(err, "params.schema.fields: expected an array");
  int nf = cJSON_GetArraySize(fj);
  if (nf < 1 || nf > VAULT_MAX_FIELDS)
    PARAMS_ERR(err, "params.schema.fields: %d fields, expected 1..%d", nf, VAULT_MAX_FIELDS);
  memset(&s, 0, sizeof s);
  snprintf(s.domain, sizeof s.domain, "%s", dj->valuestring);
  const cJSON *f;
  cJSON_ArrayForEach(f, fj) {
    vault_field *vf = &s.fields[s.nfields];
    snprintf(where, sizeof where, "params.schema.fields[%zu]", s.nfields);
    if (!cJSON_IsObject(f)) PARAMS_ERR(err, "%s: expected an object {name, type, min, max}", where);
    if (only_keys(f, fkeys, where, err)) return err->code;
    const cJSON *nj = cJSON_GetObjectItemCaseSensitive(f, "name");
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(f, "type");
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(f, "min");
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(f, "max");
    if (!cJSON_IsString(nj) || strlen(nj->valuestring) > VAULT_FIELD_MAX)
      PARAMS_ERR(err, "%s.name: expected a string of 1..%d characters", where, VAULT_FIELD_MAX);
    memcpy(vf->name, nj->valuestring, strlen(nj->valuestring) + 1);
    if (!cJSON_IsString(tj) || (strcmp(tj->valuestring, "int") && strcmp(tj->valuestring, "bool")))
      PARAMS_ERR(err, "%s.type: expected \"int\" or \"bool\"", where);
    vf->is_bool = strcmp(tj->valuestring, "bool") == 0;
    if (!vf->is_bool && (!lo || !hi)) PARAMS_ERR(err, "%s: an int field needs min and max", where);
    vf->lo = 0;
    vf->hi = vf->is_bool;
    char w2[80];
    snprintf(w2, sizeof w2, "%s.min", where);
    if (lo && bound_param(lo, w2, &vf->lo, err)) return err->code;
    snprintf(w2, sizeof w2, "%s.max", where);
    if (hi && bound_param(hi, w2, &vf->hi, err)) return err->code;
    s.nfields++;
  }
  vault *v = node_vault_lock(nv);
  cx_err e = vault_schema_set(v, &s, err->detail, sizeof err->detail);
  vault_schema got;
  if (!e) e = vault_schema_get(v, s.domain, &got); /* as stored (bools normalised) */
  node_vault_unlock(nv);
  if (e) {
    err->code = e;
    return e;
  }
  LOG_I("vault", "schema of domain %s set over RPC (%zu fields)", got.domain, got.nfields);
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  cJSON_AddStringToObject(o, "domain", got.domain);
  cJSON_AddItemToObject(o, "fields", fields_json(&got));
  *result = o;
  return CX_OK;
}

/* Reads records[i].values into vals (schema order). */
static int record_values(const cJSON *vj, const vault_schema *s, size_t i, int64_t *vals,
                         rpc_error *err) {
  int seen[VAULT_MAX_FIELDS] = {0};
  char why[96];
  if (!cJSON_IsObject(vj)) {
    err->code = CX_E_RPC_PARAMS;
    snprintf(err->detail, sizeof err->detail, "params.records[%zu].values: expected an object", i);
    return -1;
  }
  for (const cJSON *m = vj->child; m; m = m->next) {
    size_t k = 0;
    while (k < s->nfields && strcmp(s->fields[k].name, m->string) != 0) k++;
    err->code = CX_E_RPC_PARAMS;
    if (k == s->nfields) {
      snprintf(err->detail, sizeof err->detail,
               "params.records[%zu].values: \"%.40s\" is not a field of domain %s", i, m->string,
               s->domain);
      return -1;
    }
    if (seen[k]++) {
      snprintf(err->detail, sizeof err->detail, "params.records[%zu].values.%s: given twice", i,
               s->fields[k].name);
      return -1;
    }
    if (vimport_json_value(m, &s->fields[k], &vals[k], why, sizeof why)) {
      snprintf(err->detail, sizeof err->detail, "params.records[%zu].values.%s: %s", i,
               s->fields[k].name, why);
      return -1;
    }
  }
  for (size_t k = 0; k < s->nfields; k++)
    if (!seen[k]) {
      err->code = CX_E_RPC_PARAMS;
      snprintf(err->detail, sizeof err->detail, "params.records[%zu].values.%s: missing", i,
               s->fields[k].name);
      return -1;
    }
  return 0;
}

static cx_err m_admin_vault_import(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  static const char *const rkeys[] = {"did", "values", NULL};
  node *n = ctx;
  node_vault *nv = node_vault_of(n);
  if (!nv) return no_vault(n, err);
  const char *domain = rpc_param_str(params, "domain", 0, err);
  if (!domain) return err->code;
  const cJSON *rj = rpc_param(params, "records", 1);
  if (!cJSON_IsArray(rj)) PARAMS_ERR(err, "params.records: expected an array");
  int nr = cJSON_GetArraySize(rj);
  if (nr < 1 || nr > VIMPORT_MAX_PER_CALL)
    PARAMS_ERR(err, "params.records: %d records, expected 1..%d per call", nr, VIMPORT_MAX_PER_CALL);
  if (vault_domain(n, domain, "params.domain", err)) return err->code;

  vault_schema s;
  vault *v = node_vault_lock(nv);
  /* Held to the end: the schema the values are read against is the one
   * they are stored under. */
  cx_err e = vault_schema_get(v, domain, &s);
  vault_record *recs = NULL;
  int64_t *vals = NULL;
  const cJSON *r;
  size_t i = 0;
  if (e == CX_E_NOT_FOUND) {
    snprintf(err->detail, sizeof err->detail,
             "domain '%s' has no schema yet (set it with admin_vault_schema_set)", domain);
    goto out;
  }
  if (e) goto out;
  recs = calloc((size_t)nr, sizeof *recs);
  vals = sodium_malloc((size_t)nr * s.nfields * sizeof *vals); /* locked; wiped by sodium_free */
  if (!recs || !vals) {
    e = CX_E_NOMEM;
    goto out;
  }
  cJSON_ArrayForEach(r, rj) {
    char where[48];
    snprintf(where, sizeof where, "params.records[%zu]", i);
    e = CX_E_RPC_PARAMS;
    if (!cJSON_IsObject(r)) {
      snprintf(err->detail, sizeof err->detail, "%s: expected an object {did, values}", where);
      goto out;
    }
    if (only_keys(r, rkeys, where, err)) goto out;
    const cJSON *dj = cJSON_GetObjectItemCaseSensitive(r, "did");
    if (!cJSON_IsString(dj) || vimport_did(dj->valuestring, strlen(dj->valuestring), &recs[i].did)) {
      snprintf(err->detail, sizeof err->detail, "%s.did: expected 64 hex digits", where);
      goto out;
    }
    if (record_values(cJSON_GetObjectItemCaseSensitive(r, "values"), &s, i, vals + i * s.nfields,
                      err))
      goto out;
    recs[i].vals = vals + i * s.nfields;
    i++;
  }
  /* Range and duplicate checks, then one synced batch: all or nothing. */
  e = vault_put_batch(v, domain, recs, (size_t)nr, err->detail, sizeof err->detail);
out:
  node_vault_unlock(nv);
  if (vals) sodium_free(vals);
  free(recs);
  if (e) {
    err->code = e;
    /* The detail may hold a value: the log gets the domain and the code only. */
    LOG_I("vault", "an import of %d records into domain %s was refused (%s); nothing written", nr,
          domain, cx_err_name(e));
    return e;
  }
  LOG_D("vault", "imported %d records into domain %s", nr, domain);
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  cJSON_AddStringToObject(o, "domain", domain);
  api_add_u64(o, "imported", (uint64_t)nr);
  *result = o;
  return CX_OK;
}

/* One domain of admin_vault_status (vault locked by the caller). */
static cx_err domain_status(vault *v, const char *d, int owned, int with_root, cJSON *arr) {
  vault_schema s;
  cx_hash root;
  uint64_t count = 0;
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  cJSON_AddItemToArray(arr, o);
  cJSON_AddStringToObject(o, "domain", d);
  cJSON_AddBoolToObject(o, "owned", owned);
  cx_err e = vault_schema_get(v, d, &s);
  if (e == CX_E_NOT_FOUND) {
    cJSON_AddNullToObject(o, "fields");
    api_add_u64(o, "records", 0);
    return CX_OK;
  }
  if (e) return e;
  cJSON_AddItemToObject(o, "fields", fields_json(&s));
  if (with_root) {
    if ((e = vault_domain_root(v, d, &root, &count))) return e;
  } else if ((e = vault_count(v, d, &count))) {
    return e;
  }
  api_add_u64(o, "records", count);
  if (with_root) api_add_hex(o, "root", root.b, 32);
  return CX_OK;
}

/* The domains the member owns on chain (in the state's order), then those
 * the vault holds a schema for but the member no longer owns, sorted: their
 * records are still there and still shown ("owned": false). */
static cx_err all_domains_status(vault *v, const cx_member *me, int with_root, cJSON *arr) {
  char (*held)[VAULT_DOMAIN_MAX + 1] = NULL;
  size_t nh = 0;
  cx_err e = CX_OK;
  for (size_t i = 0; !e && i < me->domains.n; i++)
    e = domain_status(v, me->domains.d[i].name, 1, with_root, arr);
  if (!e && (e = vault_domains(v, NULL, 0, &nh)) == CX_E_FULL) {
    held = malloc(nh * sizeof *held);
    e = held ? vault_domains(v, held, nh, &nh) : CX_E_NOMEM; /* same count: the vault is locked */
  }
  for (size_t i = 0; !e && i < nh; i++) {
    size_t j = 0;
    while (j < me->domains.n && strcmp(me->domains.d[j].name, held[i]) != 0) j++;
    if (j == me->domains.n) e = domain_status(v, held[i], 0, with_root, arr);
  }
  free(held);
  return e;
}

static cx_err m_admin_vault_status(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  node_vault *nv = node_vault_of(n);
  cx_member me;
  const char *only = NULL;
  int with_root = 1;
  if (!nv) return no_vault(n, err);
  if (rpc_param(params, "domain", -1)) {
    if (!(only = rpc_param_str(params, "domain", -1, err))) return err->code;
    if (vault_domain(n, only, "params.domain", err)) return err->code;
  }
  const cJSON *rj = rpc_param(params, "root", -1);
  if (rj && !cJSON_IsBool(rj)) PARAMS_ERR(err, "params.root: expected true or false");
  if (rj) with_root = cJSON_IsTrue(rj);
  cx_err e = only ? CX_OK : vm_member_get(node_state(n), node_cfg(n)->name, &me);
  if (e) return e;
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  vault *v = node_vault_lock(nv);
  api_add_u64(o, "key_id", vault_key_id(v));
  api_add_u64(o, "access_log", vault_log_len(v));
  cJSON *arr = cJSON_AddArrayToObject(o, "domains");
  if (!arr)
    e = CX_E_NOMEM;
  else if (only)
    e = domain_status(v, only, 1, with_root, arr);
  else
    e = all_domains_status(v, &me, with_root, arr);
  node_vault_unlock(nv);
  if (e) {
    cJSON_Delete(o);
    err->code = e;
    snprintf(err->detail, sizeof err->detail, "reading the vault failed: %s", cx_err_str(e));
    return e;
  }
  *result = o;
  return CX_OK;
}

static cx_err m_admin_vault_rotate(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  uint32_t id = 0;
  int file_ok = 1;
  if (!node_vault_of(n)) return no_vault(n, err);
  cx_err e = node_vault_rotate_key(n, &id, &file_ok);
  if (e) {
    err->code = e;
    snprintf(err->detail, sizeof err->detail, "%s; the vault stays under its key",
             e == CX_E_FULL ? "the key id is at its maximum" : "the rotation failed");
    return e;
  }
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  api_add_u64(o, "key_id", id);
  if (!file_ok)
    cJSON_AddStringToObject(o, "warning", "vault.keyid could not be written; the next start "
                                          "recovers the key id");
  *result = o;
  return CX_OK;
}

/* ---- admin_backup (docs/operations.md, "Backup and restore") ---- */

#define BACKUP_FILE_MAX (2u * (CX_BLOCK_MAX_BYTES + 16) + 16) /* DATA/held's cap (host.c) */

static void add_db(cJSON *dbs, const char *name, uint64_t keys, const uint8_t sha[32]) {
  cJSON *o = cJSON_AddObjectToObject(dbs, name);
  if (!o) return;
  api_add_u64(o, "keys", keys);
  api_add_hex(o, "sha256", sha, 32);
}

/* Copies DATA/name into dir/name (absent: nothing, not listed) and lists it
 * in files with its size and SHA-256. */
static cx_err backup_file(const char *data, const char *dir, const char *name, cJSON *files,
                          rpc_error *err) {
  char src[CFG_PATH_MAX + 32], dst[CFG_PATH_MAX + 32];
  char *buf = NULL;
  size_t len = 0;
  uint8_t sha[32];
  snprintf(src, sizeof src, "%s/%s", data, name);
  snprintf(dst, sizeof dst, "%s/%s", dir, name);
  cx_err e = file_read_all(src, BACKUP_FILE_MAX, &buf, &len);
  if (e == CX_E_NOT_FOUND) return CX_OK;
  if (!e) e = file_write_atomic(dst, buf, len, 0600);
  if (!e) {
    hash_sha256(buf, len, sha);
    cJSON *o = cJSON_AddObjectToObject(files, name);
    if (o) {
      api_add_u64(o, "bytes", len);
      api_add_hex(o, "sha256", sha, 32);
    }
  }
  free(buf);
  if (e) {
    err->code = e;
    snprintf(err->detail, sizeof err->detail, "copying %.90s to %.90s failed: %.40s", src, dst,
             cx_err_str(e));
  }
  return e;
}

/* The vault and its key id file under the vault's lock: a rotation
 * (node_vault_rotate) re-seals and rewrites vault.keyid under that lock, so
 * the copy and the id always match. */
static cx_err backup_vault(node *n, const char *dir, cJSON *dbs, cJSON *files, rpc_error *err) {
  node_vault *nv = node_vault_of(n);
  uint64_t keys = 0;
  uint8_t sha[32];
  if (!nv) return CX_OK;
  vault *v = node_vault_lock(nv);
  cx_err e = vault_backup(v, dir, &keys, sha, err->detail, sizeof err->detail);
  if (!e) e = backup_file(node_cfg(n)->data_dir, dir, "vault.keyid", files, err);
  node_vault_unlock(nv);
  if (e) err->code = e;
  else add_db(dbs, "vault", keys, sha);
  return e;
}

/* admin_backup {dir}: a consistent online snapshot of this node's stores
 * into a new directory dir (absolute; refused if it exists; created 0700):
 * dir/chain, dir/vault (still sealed), DATA/safety, DATA/held,
 * DATA/vault.keyid and, written last, dir/MANIFEST.json (a directory
 * without it is an incomplete backup; `custos restore` refuses it).
 *
 * Consistency of the safety record with the store. store_backup pins the
 * committed state of one moment M; safety and held are read AFTER the copy,
 * so after M. The consensus thread persists the safety record (synced)
 * before any signature leaves the node (host.c, BFT_ACT_PERSIST), so the
 * record read covers every message signed up to M and possibly later ones:
 * it is never behind a block signed before the store snapshot. A record
 * ahead of the store is harmless: the engine refuses to sign at heights at
 * or below the record's (bft.c may_sign), so the restored node only waits a
 * height or two longer before it signs again. DATA/safety is a journal
 * (storage/journal.h) copied while it may grow: a copy that ends inside an
 * append reads as the record before it (a torn append), and a file
 * replaced meanwhile (journal_restart renames a new one over it) is read
 * from the one opened, whole. Its records carry the held blocks; DATA/held
 * is an older version's, copied when present.
 * What no backup can cover is what the node signs after it: docs/
 * operations.md and `custos restore` deal with that. */
static cx_err m_admin_backup(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  const char *data = node_cfg(n)->data_dir;
  char mpath[CFG_PATH_MAX + 32];
  store_backup_info bi;
  const char *dir = rpc_param_str(params, "dir", 0, err);
  if (!dir) return err->code;
  if (dir[0] != '/') PARAMS_ERR(err, "params.dir: an absolute path is required");
  if (strlen(dir) > CFG_PATH_MAX - 1) PARAMS_ERR(err, "params.dir: longer than %d bytes", CFG_PATH_MAX - 1);
  if (mkdir(dir, 0700) != 0) {
    int en = errno;
    err->code = en == EEXIST ? CX_E_EXISTS : CX_E_IO;
    snprintf(err->detail, sizeof err->detail, "%.150s: %.90s", dir,
             en == EEXIST ? "exists; a backup goes into a new directory" : strerror(en));
    return err->code;
  }
  cJSON *m = cJSON_CreateObject();
  cJSON *dbs = m ? cJSON_AddObjectToObject(m, "databases") : NULL;
  cJSON *files = m ? cJSON_AddObjectToObject(m, "files") : NULL;
  if (!dbs || !files) {
    cJSON_Delete(m);
    return CX_E_NOMEM;
  }
  cx_err e = store_backup(node_store(n), dir, &bi, err->detail, sizeof err->detail);
  if (e) err->code = e;
  if (!e) add_db(dbs, "chain", bi.keys, bi.sha256);
  /* After the store snapshot (see above): safety first, then held. */
  if (!e) e = backup_file(data, dir, "safety", files, err);
  if (!e) e = backup_file(data, dir, "held", files, err);
  if (!e) e = backup_vault(n, dir, dbs, files, err);
  if (!e) {
    cJSON_AddNumberToObject(m, "format", 1);
    cJSON_AddStringToObject(m, "node", node_cfg(n)->name);
    api_add_hex(m, "chain_id", bi.chain_id.b, 32);
    api_add_u64(m, "height", bi.height);
    api_add_hex(m, "tip", bi.tip.b, 32);
    api_add_hex(m, "state_root", bi.root.b, 32);
    api_add_u64(m, "created_ms", n->clock->now_ms(n->clock)); /* the node's clock (injected) */
    char *text = cJSON_Print(m);
    snprintf(mpath, sizeof mpath, "%s/MANIFEST.json", dir);
    e = text ? file_write_atomic(mpath, text, strlen(text), 0600) : CX_E_NOMEM;
    free(text);
    if (e) {
      err->code = e;
      snprintf(err->detail, sizeof err->detail, "writing %.180s failed: %.40s", mpath,
               cx_err_str(e));
    }
  }
  if (e) {
    LOG_E("api", "admin_backup into %s failed (the directory is incomplete; delete it): %s", dir,
          err->detail);
    cJSON_Delete(m);
    return e;
  }
  LOG_I("api", "backup of height %llu written to %s", (unsigned long long)bi.height, dir);
  cJSON_AddStringToObject(m, "dir", dir);
  *result = m;
  return CX_OK;
}

/* ---- snapshot anchoring (docs/vault.md "Anchoring") ---- */

static cJSON *anchor_json(const vm_anchor *a) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "domain", a->domain);
  api_add_hex(o, "root", a->root.b, 32);
  api_add_u64(o, "count", a->count);
  api_add_u64(o, "height", a->height);
  api_add_hex(o, "txid", a->txid.b, 32);
  cJSON_AddStringToObject(o, "bureau", a->bureau);
  return o;
}

/* anchor_get {domain, root}: the first anchoring of that root (public: the
 * auditor's lookup, docs/calls.md §7). */
static cx_err m_anchor_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_hash root;
  vm_anchor a;
  const char *d = rpc_param_str(params, "domain", 0, err);
  if (!d) return err->code;
  if (!str_valid(d, CX_DOMAIN_MAX, STR_IDENT))
    PARAMS_ERR(err, "params.domain: not a domain name (1..%d characters a-z 0-9 _ -)", CX_DOMAIN_MAX);
  if (param_hash(params, "root", &root, err)) return err->code;
  cx_err e = vm_anchor_get(node_state(n), d, &root, &a);
  if (e == CX_E_NOT_FOUND) {
    err->code = e;
    snprintf(err->detail, sizeof err->detail, "domain %s: this root is not anchored on chain", d);
  }
  if (e) return e;
  *result = anchor_json(&a);
  return *result ? CX_OK : CX_E_NOMEM;
}

/* admin_vault_anchor {domain}: the domain's root and count, computed now
 * under the vault lock, put on chain by a TX_VAULT_ANCHOR signed with the
 * member key. When the latest root anchored for the domain is already this
 * one, nothing is submitted and the existing anchoring is returned
 * ("submitted": false): running the command twice costs no transaction. */
static cx_err m_admin_vault_anchor(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  node_vault *nv = node_vault_of(n);
  cx_hash root, txid;
  uint64_t count = 0;
  vm_anchor have;
  if (!nv) return no_vault(n, err);
  const char *d = rpc_param_str(params, "domain", 0, err);
  if (!d) return err->code;
  if (vault_domain(n, d, "params.domain", err)) return err->code;
  vault *v = node_vault_lock(nv);
  cx_err e = vault_domain_root(v, d, &root, &count);
  node_vault_unlock(nv);
  if (e == CX_E_NOT_FOUND || (!e && count == 0)) {
    err->code = CX_E_NOT_FOUND;
    snprintf(err->detail, sizeof err->detail, "domain '%s' holds no records: nothing to anchor", d);
    return CX_E_NOT_FOUND;
  }
  if (e) {
    err->code = e;
    snprintf(err->detail, sizeof err->detail, "reading the vault failed: %s", cx_err_str(e));
    return e;
  }
  int submitted = 0;
  e = vm_anchor_latest(node_state(n), d, &have);
  if (e == CX_E_NOT_FOUND || (!e && !hash_eq(&have.root, &root))) {
    cx_tx tx;
    tx_init(&tx);
    tx.type = TX_VAULT_ANCHOR;
    node_chain_id(n, &tx.chain_id);
    snprintf(tx.u.anchor.domain, sizeof tx.u.anchor.domain, "%s", d);
    tx.u.anchor.root = root;
    tx.u.anchor.count = count;
    e = node_submit_own(n, &tx, &txid, err->detail, sizeof err->detail);
    tx_clear(&tx);
    if (e) {
      err->code = e;
      return e;
    }
    submitted = 1;
    char rh[CX_HASH_HEX_LEN], th[CX_HASH_HEX_LEN];
    LOG_I("vault", "anchoring domain %s (%llu records, root %s) in transaction %s", d,
          (unsigned long long)count, hash_hex(&root, rh), hash_hex(&txid, th));
  } else if (e) {
    err->code = e;
    return e;
  } else {
    txid = have.txid;
  }
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  cJSON_AddStringToObject(o, "domain", d);
  api_add_hex(o, "root", root.b, 32);
  api_add_u64(o, "count", count);
  api_add_hex(o, "txid", txid.b, 32);
  cJSON_AddBoolToObject(o, "submitted", submitted);
  if (!submitted) api_add_u64(o, "height", have.height);
  *result = o;
  return CX_OK;
}

/* ---- benchmark commands (docs/rpc.md "Benchmark commands") ---- */

#define CMD_SUBMIT_MAX 1024  /* payloads per command_submit */
#define CMD_COMMITS_MAX 256  /* blocks per command_commits */
#define CMD_PREFIX 8         /* bytes of each payload command_commits returns */

static int bench_on(node *n, rpc_error *err) {
  if (node_genesis(n)->bench_commands) return 1;
  err->code = CX_E_WRONG_CHAIN;
  snprintf(err->detail, sizeof err->detail,
           "commands are refused: this chain's genesis has no bench_commands");
  return 0;
}

/* A whole batch of payloads in one request: the per-request JSON and HTTP
 * cost is what one request per transaction cannot amortise. The params are
 * checked whole before anything is admitted; then each command is admitted
 * (and gossiped) as node_submit admits any transaction. */
static cx_err m_command_submit(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  if (!bench_on(n, err)) return err->code;
  const char *hex = rpc_param_str(params, "payloads", 0, err);
  if (!hex) return err->code;
  size_t hl = strlen(hex);
  if (hl % 2) {
    err->code = CX_E_BAD_HEX;
    snprintf(err->detail, sizeof err->detail, "params.payloads: odd number of hex digits");
    return CX_E_BAD_HEX;
  }
  size_t bytes = hl / 2, k = bytes / CX_COMMAND_PAYLOAD;
  if (bytes == 0 || bytes % CX_COMMAND_PAYLOAD)
    PARAMS_ERR(err, "params.payloads: %zu bytes, expected k x %d (k >= 1)", bytes,
               CX_COMMAND_PAYLOAD);
  if (k > CMD_SUBMIT_MAX) {
    err->code = CX_E_TOO_LONG;
    snprintf(err->detail, sizeof err->detail, "params.payloads: %zu payloads, at most %d", k,
             CMD_SUBMIT_MAX);
    return CX_E_TOO_LONG;
  }
  uint8_t *pl = malloc(bytes);
  if (!pl) return CX_E_NOMEM;
  if (hex_decode(hex, pl, bytes)) {
    free(pl);
    err->code = CX_E_BAD_HEX;
    snprintf(err->detail, sizeof err->detail, "params.payloads: expected hex digits");
    return CX_E_BAD_HEX;
  }
  size_t acc = 0, dup = 0, ref = 0;
  cx_err first = CX_OK;
  char first_detail[128] = "";
  for (size_t i = 0; i < k; i++) {
    uint8_t raw[CX_COMMAND_BYTES];
    char detail[128];
    cx_hash txid;
    tx_command_encode(pl + i * CX_COMMAND_PAYLOAD, raw);
    cx_err e = node_submit(n, raw, sizeof raw, &txid, detail, sizeof detail);
    if (e == CX_OK) {
      acc++;
    } else if (e == CX_E_DUPLICATE) {
      dup++;
    } else {
      ref++;
      if (!first) {
        first = e;
        snprintf(first_detail, sizeof first_detail, "%s", detail);
      }
    }
  }
  free(pl);
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  api_add_u64(o, "accepted", acc);
  api_add_u64(o, "duplicate", dup);
  api_add_u64(o, "refused", ref);
  if (first) {
    cJSON_AddStringToObject(o, "error", cx_err_name(first));
    if (first_detail[0]) cJSON_AddStringToObject(o, "detail", first_detail);
  }
  *result = o;
  return CX_OK;
}

/* One committed block's entry: height, time and the first CMD_PREFIX bytes
 * of each command's payload in block order (other transactions skipped). */
static cx_err commits_entry(node *n, uint64_t h, cJSON *arr) {
  uint8_t *blk = NULL;
  size_t blen;
  cx_block b;
  block_init(&b);
  cx_err e = store_block_get(node_store(n), h, &blk, &blen);
  if (e) return e;
  if (block_decode(blk, blen, &b)) {
    free(blk);
    return CX_E_CORRUPT; /* a committed block that does not decode */
  }
  free(blk);
  uint8_t *pre = malloc((b.ntx ? b.ntx : 1) * CMD_PREFIX);
  cJSON *o = cJSON_CreateObject();
  size_t np = 0;
  if (!pre || !o) {
    e = CX_E_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < b.ntx; i++)
    if (b.tx_len[i] == CX_COMMAND_BYTES && b.txs[i][1] == TX_COMMAND)
      memcpy(pre + CMD_PREFIX * np++, b.txs[i] + 2, CMD_PREFIX);
  api_add_u64(o, "height", h);
  api_add_u64(o, "time_ms", b.h.time_ms);
  add_raw(o, "prefixes", pre, np * CMD_PREFIX);
  cJSON_AddItemToArray(arr, o);
  o = NULL;
out:
  cJSON_Delete(o);
  free(pre);
  block_clear(&b);
  return e;
}

/* Lets a load client see its commands commit without fetching blocks as
 * JSON: per block, 8 bytes per command (docs/rpc.md "command_commits"). */
static cx_err m_command_commits(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  uint64_t from = 0, max = CMD_COMMITS_MAX;
  if (rpc_param_u64(params, "from", 0, &from, err)) return err->code;
  if (rpc_param(params, "max", 1) &&
      rpc_param_u64(params, "max", 1, &max, err))
    return err->code;
  if (from < 1) PARAMS_ERR(err, "params.from: heights start at 1");
  if (max < 1 || max > CMD_COMMITS_MAX) PARAMS_ERR(err, "params.max: expected 1..%d", CMD_COMMITS_MAX);
  uint64_t tip = store_height(node_store(n));
  cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "blocks");
  if (!o || !arr) {
    cJSON_Delete(o);
    return CX_E_NOMEM;
  }
  api_add_u64(o, "tip", tip);
  for (uint64_t h = from; h <= tip && h - from < max; h++) {
    cx_err e = commits_entry(n, h, arr);
    if (e) {
      cJSON_Delete(o);
      err->code = e;
      return e;
    }
  }
  *result = o;
  return CX_OK;
}

static const rpc_method methods[] = {
    {"tx_submit", m_tx_submit, 0},
    {"command_submit", m_command_submit, 0},
    {"command_commits", m_command_commits, 0},
    {"tx_get", m_tx_get, 0},
    {"block_get", m_block_get, 0},
    {"identity_get", m_identity_get, 0},
    {"consent_get", m_consent_get, 0},
    {"consent_list", m_consent_list, 0},
    {"contract_get", m_contract_get, 0},
    {"call_get", m_call_get, 0},
    {"member_list", m_member_list, 0},
    {"proposal_get", m_proposal_get, 0},
    {"account_get", m_account_get, 0},
    {"status", m_status, 0},
    {"evidence_list", m_evidence_list, 0},
    {"anchor_get", m_anchor_get, 0},
    {"admin_log_level", m_admin_log_level, 1},
    {"admin_mempool", m_admin_mempool, 1},
    {"admin_vault_schema_set", m_admin_vault_schema_set, 1},
    {"admin_vault_import", m_admin_vault_import, 1},
    {"admin_vault_status", m_admin_vault_status, 1},
    {"admin_vault_rotate", m_admin_vault_rotate, 1},
    {"admin_vault_anchor", m_admin_vault_anchor, 1},
    {"admin_backup", m_admin_backup, 1},
};

void api_methods(const rpc_method **out, size_t *n) {
  *out = methods;
  *n = sizeof methods / sizeof methods[0];
}
