/* JSON-RPC methods for consortium keys (docs/rpc.md "Consortium keys",
 * docs/keys.md §6, §9, §10): key_get, a key's whole public record (of its
 * latest epoch or one asked for) with the txids of its transactions (what an auditor fetches, proves with tx_proof and
 * replays through vm/keyrules.h), key_list, and the custody keys' signing
 * requests (sign_get, sign_list). Reads the committed state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "codec.h"
#include "dkg.h"
#include "node.h"
#include "node_internal.h" /* key_service_beacon */
#include "vm.h"


/* Hex of up to CX_SIGN_MSG_MAX bytes (a request's message). */
static void add_raw(cJSON *o, const char *k, const uint8_t *b, size_t n) {
  char buf[2 * CX_SIGN_MSG_MAX + 1];
  CX_ASSERT(n <= CX_SIGN_MSG_MAX);
  hex_encode(b, n, buf);
  cJSON_AddStringToObject(o, k, buf);
}


static const char *purpose_name(uint8_t p) {
  return p == CX_KEY_PURPOSE_RESULTS ? "results" : p == CX_KEY_PURPOSE_BEACON ? "beacon"
                                               : p == CX_KEY_PURPOSE_CUSTODY ? "custody" : "unknown";
}

static const char *phase_name(uint8_t p) {
  switch (p) {
    case VM_KEY_DEALING: return "dealing";
    case VM_KEY_VERIFYING: return "verifying";
    case VM_KEY_READY: return "ready";
    case VM_KEY_FAILED: return "failed";
    default: return "unknown";
  }
}

/* A complaint's fate: answered (the revealed share passed), bad_answer (it
 * did not: the dealer is out), pending (still waiting, VERIFYING), or
 * unanswered (the phase ended without an answer, or the dealer was put out
 * by another complaint first: no answer is due any more). */
static const char *complaint_state(const vm_key *k, const vm_key_complaint *c) {
  if (c->state == 1) return "answered";
  if (c->state == 2) return "bad_answer";
  int open = k->phase == VM_KEY_VERIFYING && !(k->disq & ((uint64_t)1 << c->dealer));
  return open ? "pending" : "unanswered";
}

/* The member names of a set of parties (null for a key no member holds
 * any more: removed or re-keyed since the key was made). */
typedef struct {
  char name[CX_MAX_VALIDATORS][CX_NAME_MAX + 1];
  int known[CX_MAX_VALIDATORS];
} party_names;

static cx_err names_of(const vm_state *st, const cx_pubkey *keys, uint32_t n, party_names *pn) {
  for (uint32_t i = 0; i < n; i++) {
    cx_member m;
    cx_err e = vm_member_by_key(st, &keys[i], &m);
    if (e && e != CX_E_NOT_FOUND) return e;
    pn->known[i] = e == CX_OK;
    strcpy(pn->name[i], e == CX_OK ? m.name : "");
  }
  return CX_OK;
}

static cJSON *name_item(const party_names *pn, uint32_t i) {
  return pn->known[i] ? cJSON_CreateString(pn->name[i]) : cJSON_CreateNull();
}

/* The parties (of n) whose bit is set in map, by name. */
static void add_set(cJSON *o, const char *k, uint32_t n, const party_names *pn, uint64_t map) {
  cJSON *a = cJSON_AddArrayToObject(o, k);
  for (uint32_t i = 0; a && i < n; i++)
    if (map & ((uint64_t)1 << i)) cJSON_AddItemToArray(a, name_item(pn, i));
}

/* [{"name", "key", <third>: hex}] of n parties; third NULL: none. */
static void add_parties(cJSON *o, const char *k, const cx_pubkey *keys, uint32_t n, const party_names *pn,
                        const char *third, const uint8_t (*val)[32]) {
  cJSON *a = cJSON_AddArrayToObject(o, k);
  for (uint32_t i = 0; a && i < n; i++) {
    cJSON *p = cJSON_CreateObject();
    if (!p) break;
    cJSON_AddItemToArray(a, p);
    cJSON_AddItemToObject(p, "name", name_item(pn, i));
    api_add_hex(p, "key", keys[i].b, 32);
    if (third) api_add_hex(p, third, val[i], 32);
  }
}

/* The record of one epoch (docs/rpc.md key_get). In reshare mode the
 * dealers are the old parties (docs/keys.md §10): "dealt", "disqualified",
 * "qual", "s" and a complaint's "dealer" name old parties; "verdicts",
 * "votes", a complaint's "complainer" and "pk_shares" the new ones. */
static cJSON *key_json(const vm_state *st, const vm_key *k, cx_err *e) {
  party_names *pn = malloc(sizeof *pn), *on = malloc(sizeof *on);
  const party_names *dn = k->reshare ? on : pn; /* the dealers' names */
  uint32_t nd = k->reshare ? k->n_old : k->n;
  cx_hash *ids = NULL;
  size_t nids = 0;
  cJSON *o = NULL;
  if (!pn || !on) {
    *e = CX_E_NOMEM;
    goto out;
  }
  if ((*e = names_of(st, k->parties, k->n, pn)) || (*e = names_of(st, k->old_parties, k->n_old, on)) ||
      (*e = vm_key_txids(st, k->name, k->epoch, &ids, &nids)))
    goto out;
  if (!(o = cJSON_CreateObject())) {
    *e = CX_E_NOMEM;
    goto out;
  }
  cJSON_AddStringToObject(o, "name", k->name);
  cJSON_AddStringToObject(o, "purpose", purpose_name(k->purpose));
  cJSON_AddNumberToObject(o, "t", k->t);
  cJSON_AddNumberToObject(o, "n", k->n);
  cJSON_AddNumberToObject(o, "k", k->k);
  cJSON_AddNumberToObject(o, "epoch", k->epoch);
  cJSON_AddNumberToObject(o, "last_epoch", k->last_epoch);
  cJSON_AddStringToObject(o, "mode", k->reshare ? "reshare" : "dkg");
  cJSON_AddStringToObject(o, "phase", phase_name(k->phase));
  api_add_hex(o, "context", k->context, 32);
  add_parties(o, "parties", k->parties, k->n, pn, "enc_key", k->enc);
  if (k->reshare) {
    cJSON_AddNumberToObject(o, "from_epoch", k->from_epoch);
    cJSON_AddNumberToObject(o, "t_old", k->t_old);
    add_parties(o, "old_parties", k->old_parties, k->n_old, on, "pk_share", k->old_pk_shares);
    add_set(o, "old_members", k->n_old, on, k->old_members);
  }
  cJSON_AddNumberToObject(o, "created_height", (double)k->created_height);
  cJSON_AddNumberToObject(o, "ended_height", (double)k->ended_height);
  add_set(o, "dealt", nd, dn, k->dealt);
  add_set(o, "verdicts", k->n, pn, k->verdict);
  add_set(o, "votes", k->n, pn, k->votes);
  cJSON *a = cJSON_AddArrayToObject(o, "complaints");
  for (size_t i = 0; a && i < k->ncomplaints; i++) {
    const vm_key_complaint *c = &k->complaints[i];
    cJSON *x = cJSON_CreateObject();
    if (!x) break;
    cJSON_AddItemToArray(a, x);
    cJSON_AddItemToObject(x, "dealer", name_item(dn, c->dealer));
    cJSON_AddItemToObject(x, "complainer", name_item(pn, c->complainer));
    cJSON_AddStringToObject(x, "reason", c->reason == DKG_COMPLAINT_BAD_SHARE ? "bad_share" : "no_share");
    cJSON_AddStringToObject(x, "state", complaint_state(k, c));
  }
  add_set(o, "disqualified", nd, dn, k->disq);
  if (k->phase == VM_KEY_READY) {
    add_set(o, "qual", nd, dn, k->qual);
    api_add_hex(o, "group_pk", k->group_pk, 32);
    a = cJSON_AddArrayToObject(o, "pk_shares");
    for (uint32_t j = 0; a && j < k->n; j++) {
      char hex[65];
      hex_encode(k->pk_shares[j], 32, hex);
      cJSON_AddItemToArray(a, cJSON_CreateString(hex));
    }
  } else {
    cJSON_AddArrayToObject(o, "qual");
    /* a reshare keeps the group key: known from its start */
    if (k->reshare)
      api_add_hex(o, "group_pk", k->group_pk, 32);
    else
      cJSON_AddNullToObject(o, "group_pk");
    cJSON_AddArrayToObject(o, "pk_shares");
  }
  if (k->reshare) {
    /* S: the old ids whose deals make the new shares (READY) */
    a = cJSON_AddArrayToObject(o, "s");
    for (uint8_t i = 0; a && k->phase == VM_KEY_READY && i < k->n_s; i++)
      cJSON_AddItemToArray(a, name_item(on, k->s_ids[i] - 1u));
  }
  a = cJSON_AddArrayToObject(o, "txids");
  for (size_t i = 0; a && i < nids; i++) {
    char hex[CX_HASH_HEX_LEN];
    cJSON_AddItemToArray(a, cJSON_CreateString(hash_hex(&ids[i], hex)));
  }
out:
  free(ids);
  free(pn);
  free(on);
  return o;
}

/* key_get {name, epoch?}: the key's record at its latest epoch, or at the
 * epoch asked (docs/keys.md §10: an auditor replays epoch 0, the DKG that
 * made the group key every later epoch keeps). */
static cx_err m_key_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  const char *name = rpc_param_str(params, "name", 0, err);
  uint64_t epoch = 0;
  int want_epoch = rpc_param(params, "epoch", 1) != NULL;
  if (!name) return err->code;
  if (!str_valid(name, CX_KEY_NAME_MAX, STR_IDENT)) {
    err->code = CX_E_RPC_PARAMS;
    snprintf(err->detail, sizeof err->detail,
             "params.name: expected a key name (1..%d of a-z, 0-9, _ and -, starting with a letter or digit)",
             CX_KEY_NAME_MAX);
    return CX_E_RPC_PARAMS;
  }
  if (want_epoch && rpc_param_u64(params, "epoch", 1, &epoch, err)) return err->code;
  if (epoch > UINT32_MAX) return api_params_err(err, "params.epoch: expected an epoch from 0 to 4294967295");
  vm_key *k = malloc(sizeof *k);
  if (!k) return CX_E_NOMEM;
  vm_key_init(k);
  cx_err e = vm_key_get(node_state(n), name, k);
  uint32_t latest = e ? 0 : k->epoch;
  if (!e && want_epoch && k->epoch != epoch) {
    vm_key_clear(k);
    e = vm_key_get_epoch(node_state(n), name, (uint32_t)epoch, k);
    if (e == CX_E_NOT_FOUND) {
      err->code = CX_E_KEY_UNKNOWN;
      snprintf(err->detail, sizeof err->detail, "consortium key \"%s\" has run no epoch %llu (its latest is %u)",
               name, (unsigned long long)epoch, (unsigned)latest);
      e = CX_E_KEY_UNKNOWN;
    }
  } else if (e == CX_E_NOT_FOUND) {
    err->code = CX_E_KEY_UNKNOWN;
    snprintf(err->detail, sizeof err->detail, "no consortium key named \"%s\"", name);
    e = CX_E_KEY_UNKNOWN;
  }
  if (!e) *result = key_json(node_state(n), k, &e);
  vm_key_clear(k);
  free(k);
  return e;
}

/* key_list: every key, sorted by name, in brief. */
static cx_err m_key_list(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  (void)params;
  (void)err;
  const vm_state *st = node_state(n);
  size_t cnt = 0, cap = 64;
  char(*names)[CX_KEY_NAME_MAX + 1] = NULL;
  cx_err e;
  /* The list can only grow between two reads: retry with the count seen. */
  for (;;) {
    free(names);
    if (!(names = malloc(cap * sizeof *names))) return CX_E_NOMEM;
    e = vm_key_names(st, names, cap, &cnt);
    if (e != CX_E_FULL) break;
    cap = cnt;
  }
  vm_key *k = malloc(sizeof *k);
  cJSON *a = cJSON_CreateArray();
  if (!e && (!k || !a)) e = CX_E_NOMEM;
  for (size_t i = 0; !e && i < cnt; i++) {
    vm_key_init(k);
    if ((e = vm_key_get(st, names[i], k))) {
      if (e == CX_E_NOT_FOUND) e = CX_E_CORRUPT; /* listed but absent */
      break;
    }
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddItemToArray(a, o);
      cJSON_AddStringToObject(o, "name", k->name);
      cJSON_AddStringToObject(o, "purpose", purpose_name(k->purpose));
      cJSON_AddStringToObject(o, "phase", phase_name(k->phase));
      cJSON_AddNumberToObject(o, "epoch", k->epoch);
      cJSON_AddStringToObject(o, "mode", k->reshare ? "reshare" : "dkg");
      cJSON_AddNumberToObject(o, "t", k->t);
      cJSON_AddNumberToObject(o, "n", k->n);
      cJSON_AddNumberToObject(o, "k", k->k);
      if (k->phase == VM_KEY_READY)
        api_add_hex(o, "group_pk", k->group_pk, 32);
      else
        cJSON_AddNullToObject(o, "group_pk");
    }
    vm_key_clear(k);
  }
  free(k);
  free(names);
  if (e) {
    cJSON_Delete(a);
    return e;
  }
  *result = a;
  return CX_OK;
}

/* beacon_get {height}: the beacon value of a committed height and its
 * record (docs/keys.md §7), which anyone checks with the `beacon` key's
 * verification shares (key_get beacon) and beacon_record_verify. */
static cx_err m_beacon_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  uint64_t h = 0;
  if (rpc_param_u64(params, "height", 0, &h, err)) return err->code;
  if (h == 0) {
    err->code = CX_E_RPC_PARAMS;
    snprintf(err->detail, sizeof err->detail, "params.height: expected a height >= 1");
    return CX_E_RPC_PARAMS;
  }
  uint8_t value[32], *rec = NULL;
  size_t len = 0;
  cx_err e = key_service_beacon(n, h, value, &rec, &len);
  if (e == CX_E_NOT_FOUND) {
    err->code = CX_E_NOT_FOUND;
    snprintf(err->detail, sizeof err->detail,
             "no beacon value for height %llu here: not committed yet, older than the last 1024 heights this "
             "node saw, made while it was down, or no beacon key",
             (unsigned long long)h);
    return CX_E_NOT_FOUND;
  }
  if (e) return e;
  cJSON *o = cJSON_CreateObject();
  char *hex = malloc(2 * len + 1);
  if (!o || !hex) {
    cJSON_Delete(o);
    free(hex);
    free(rec);
    return CX_E_NOMEM;
  }
  cJSON_AddNumberToObject(o, "height", (double)h);
  api_add_hex(o, "value", value, 32);
  hex_encode(rec, len, hex);
  cJSON_AddStringToObject(o, "record", hex);
  free(hex);
  free(rec);
  *result = o;
  return CX_OK;
}

/* ---- custody signing requests (docs/keys.md §9) ---- */

static const char *sign_status_name(uint8_t s) {
  switch (s) {
    case SIGN_PENDING: return "pending";
    case SIGN_APPROVED: return "approved";
    case SIGN_SIGNED: return "signed";
    default: return "unknown";
  }
}

static int sign_status_parse(const char *s) {
  for (int i = SIGN_PENDING; i <= SIGN_SIGNED; i++)
    if (strcmp(s, sign_status_name((uint8_t)i)) == 0) return i;
  return -1;
}

/* The fields sign_get and sign_list share. */
static void request_brief(cJSON *o, const vm_sign_request *r) {
  char hex[CX_HASH_HEX_LEN];
  cJSON_AddStringToObject(o, "id", hash_hex(&r->id, hex));
  cJSON_AddStringToObject(o, "key", r->key);
  cJSON_AddNumberToObject(o, "epoch", r->epoch);
  cJSON_AddStringToObject(o, "requester", r->requester);
  cJSON_AddNumberToObject(o, "k", r->k);
  cJSON_AddNumberToObject(o, "napprovals", (double)r->napprovals);
  cJSON_AddStringToObject(o, "status", sign_status_name(r->status));
  cJSON_AddNumberToObject(o, "height", (double)r->height);
  cJSON_AddNumberToObject(o, "approved_height", (double)r->approved_height);
  cJSON_AddNumberToObject(o, "signed_height", (double)r->signed_height);
}

/* sign_get {id}: a request with its message, approvals and signature, and
 * the group key the signature verifies under (the key's, while it is at the
 * request's epoch: `custos sig verify --scheme frost GROUP_PK MSG SIG`). */
static cx_err m_sign_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  const vm_state *st = node_state(n);
  const char *s = rpc_param_str(params, "id", 0, err);
  cx_hash id;
  if (!s) return err->code;
  if (hex_decode(s, id.b, 32) != CX_OK) return api_params_err(err, "params.id: expected 64 hex digits");
  vm_sign_request *r = malloc(sizeof *r);
  vm_key *k = malloc(sizeof *k);
  cJSON *o = NULL;
  cx_err e = CX_E_NOMEM;
  if (k) vm_key_init(k);
  if (r && k) e = vm_sign_request_get(st, &id, r);
  if (e == CX_E_NOT_FOUND) {
    err->code = CX_E_REQUEST_UNKNOWN;
    snprintf(err->detail, sizeof err->detail, "no signing request with id %s", s);
    e = CX_E_REQUEST_UNKNOWN;
    goto out;
  }
  if (e) goto out;
  /* a request names a key that exists: absent means damage */
  if ((e = vm_key_get(st, r->key, k))) {
    if (e == CX_E_NOT_FOUND) e = CX_E_CORRUPT;
    goto out;
  }
  if (!(o = cJSON_CreateObject())) {
    e = CX_E_NOMEM;
    goto out;
  }
  request_brief(o, r);
  add_raw(o, "msg", r->msg, r->msg_len);
  cJSON *a = cJSON_AddArrayToObject(o, "approvals");
  for (size_t i = 0; a && i < r->napprovals; i++) cJSON_AddItemToArray(a, cJSON_CreateString(r->approvals[i]));
  if (r->status == SIGN_SIGNED)
    add_raw(o, "signature", r->sig.b, 64);
  else
    cJSON_AddNullToObject(o, "signature");
  if (k->phase == VM_KEY_READY && k->epoch == r->epoch)
    api_add_hex(o, "group_pk", k->group_pk, 32);
  else
    cJSON_AddNullToObject(o, "group_pk");
  *result = o;
out:
  if (k) vm_key_clear(k);
  free(k);
  free(r);
  return e;
}

#define SIGN_LIST_MAX 100   /* requests an answer */
#define SIGN_LIST_SCAN 1000 /* requests one answer reads at most (filters) */

/* sign_list {key?, status?, before?}: requests newest first, at most
 * SIGN_LIST_MAX, in brief; "next" is the index to ask `before` from when
 * older requests remain (null at the first one). The requests are numbered
 * in the order recorded (vm_sign_request_at); one answer reads at most
 * SIGN_LIST_SCAN of them, so a rare filter may give a short page with a
 * "next". */
static cx_err m_sign_list(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  const vm_state *st = node_state(n);
  const cJSON *kj = rpc_param(params, "key", -1), *sj = rpc_param(params, "status", -1),
              *bj = rpc_param(params, "before", -1);
  const char *key = NULL;
  int status = 0;
  uint64_t count, before;
  if (kj) {
    if (!cJSON_IsString(kj) || !str_valid(kj->valuestring, CX_KEY_NAME_MAX, STR_IDENT))
      return api_params_err(err, "params.key: expected a key name (1..16 of a-z, 0-9, _ and -, starting with a "
                             "letter or digit)");
    key = kj->valuestring;
  }
  if (sj && (!cJSON_IsString(sj) || (status = sign_status_parse(sj->valuestring)) < 0))
    return api_params_err(err, "params.status: expected \"pending\", \"approved\" or \"signed\"");
  cx_err e = vm_sign_request_count(st, &count);
  if (e) return e;
  before = count;
  if (bj) {
    /* in range first: the cast below is defined only then */
    if (!cJSON_IsNumber(bj) || !(bj->valuedouble >= 0 && bj->valuedouble <= (double)count) ||
        bj->valuedouble != (double)(uint64_t)bj->valuedouble) {
      err->code = CX_E_RPC_PARAMS;
      snprintf(err->detail, sizeof err->detail,
               "params.before: expected a request index from 0 to %llu (a page's \"next\")",
               (unsigned long long)count);
      return CX_E_RPC_PARAMS;
    }
    before = (uint64_t)bj->valuedouble;
  }
  vm_sign_request *r = malloc(sizeof *r);
  cJSON *o = cJSON_CreateObject(), *a = o ? cJSON_AddArrayToObject(o, "requests") : NULL;
  if (!r || !a) e = CX_E_NOMEM;
  uint64_t i = before, scanned = 0;
  size_t got = 0;
  while (!e && i > 0 && got < SIGN_LIST_MAX && scanned < SIGN_LIST_SCAN) {
    cx_hash id;
    i--;
    scanned++;
    if ((e = vm_sign_request_at(st, i, &id))) break;
    if ((e = vm_sign_request_get(st, &id, r))) {
      if (e == CX_E_NOT_FOUND) e = CX_E_CORRUPT; /* listed but absent */
      break;
    }
    if ((key && strcmp(key, r->key) != 0) || (status && r->status != status)) continue;
    cJSON *it = cJSON_CreateObject();
    if (!it) {
      e = CX_E_NOMEM;
      break;
    }
    cJSON_AddItemToArray(a, it);
    cJSON_AddNumberToObject(it, "index", (double)i);
    request_brief(it, r);
    cJSON_AddNumberToObject(it, "msg_bytes", (double)r->msg_len);
    got++;
  }
  free(r);
  if (e) {
    cJSON_Delete(o);
    return e;
  }
  if (i > 0)
    cJSON_AddNumberToObject(o, "next", (double)i);
  else
    cJSON_AddNullToObject(o, "next");
  *result = o;
  return CX_OK;
}

static const rpc_method methods[] = {
    {"key_get", m_key_get, 0},
    {"key_list", m_key_list, 0},
    {"beacon_get", m_beacon_get, 0},
    {"sign_get", m_sign_get, 0},
    {"sign_list", m_sign_list, 0},
};

void api_keys_methods(const rpc_method **out, size_t *n) {
  *out = methods;
  *n = sizeof methods / sizeof methods[0];
}
