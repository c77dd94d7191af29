/* key_get, key_list, sign_get and sign_list (node/api_keys.c) on an
 * in-process node. The keys are put into the chain's genesis state before
 * the node opens (the vm applies a key_create and a whole 2-party DKG, and a
 * second key's create, to the store's genesis write set): a key needs 2
 * validators, and an in-process node produces blocks only alone. So are a
 * custody key's signing requests (one pending, one approved, one signed
 * with a FROST signature made here from both shares). Requests go through
 * rpc_handle_body. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dkg.h"
#include "fileutil.h"
#include "frost.h"
#include "genesis.h"
#include "keystore.h"
#include "log.h"
#include "node.h"
#include "nodeutil.h"
#include "store.h"
#include "testutil.h"
#include "vm.h"

static char *g_dir;
static node *g_node;
static keystore_keys g_hrss, g_health, g_insurer;
static cx_hash g_txids[8];
static size_t g_ntx;
static uint8_t g_group_pk[32];
/* the custody key "escrow" (k = 2): its group key; requests pending,
 * approved and signed, their messages and the signature */
static uint8_t g_escrow_pk[32];
static cx_hash g_req[3];
static uint8_t g_msg[3][40];
static uint8_t g_sig[64];

static cx_err ws_get(void *c, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl) {
  return store_ws_get(c, k, kl, v, vl);
}
static cx_err ws_put(void *c, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  return store_ws_put(c, k, kl, v, vl);
}
static cx_err ws_del(void *c, const uint8_t *k, size_t kl) { return store_ws_del(c, k, kl); }
static size_t ws_mark(void *c) { return store_ws_mark(c); }
static void ws_rollback(void *c, size_t m) { store_ws_rollback(c, m); }

/* Applies tx signed by k to st at height 1; the receipt must be ok. Its
 * txid into *id_out when not NULL. */
static void apply_id(const vm_state *st, const cx_hash *chain, cx_tx *tx, const cx_seckey *k, int keep_id,
                     cx_hash *id_out) {
  cx_pubkey pk;
  uint8_t *raw;
  size_t len;
  cx_hash id;
  cx_err rc = CX_E_INTERNAL;
  key_public(k, &pk);
  tx->chain_id = *chain;
  ck_assert_int_eq(vm_account_nonce(st, &pk, &tx->nonce), CX_OK);
  ck_assert_int_eq(tx_sign(tx, k), CX_OK);
  ck_assert_int_eq(tx_encode(tx, 1, &raw, &len), CX_OK);
  tx_id_of_bytes(raw, len, &id);
  free(raw);
  ck_assert_int_eq(vm_apply_tx(st, chain, tx, &id, 1, &rc), CX_OK);
  ck_assert_msg(rc == CX_OK, "%s: %s", tx_type_name(tx->type), cx_err_name(rc));
  if (keep_id) g_txids[g_ntx++] = id;
  if (id_out) *id_out = id;
  tx_clear(tx);
}

static void apply(const vm_state *st, const cx_hash *chain, cx_tx *tx, const cx_seckey *k, int keep_id) {
  apply_id(st, chain, tx, k, keep_id, NULL);
}

/* t = 2; a custody key with policy kk (approvals a signing request needs). */
static void key_create(const vm_state *st, const cx_hash *chain, const cx_seckey *k, const char *name,
                       uint8_t purpose, uint8_t kk, int keep) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_KEY_CREATE;
  strcpy(tx.u.kcreate.name, name);
  tx.u.kcreate.purpose = purpose;
  tx.u.kcreate.t = 2;
  tx.u.kcreate.k = kk;
  apply(st, chain, &tx, k, keep);
}

/* The 2-party DKG of key `name` (parties health, hrss: the validators by
 * name), to READY; both signing shares into sk (sodium_malloc'd, 2). */
static void dkg2(const vm_state *st, const cx_hash *chain, const char *name, int keep, uint8_t gpk[32],
                 frost_scalar *sk) {
  vm_key *k = malloc(sizeof *k);
  ck_assert_ptr_nonnull(k);
  ck_assert_int_eq(vm_key_get(st, name, k), CX_OK);
  const keystore_keys *party[2] = {&g_health, &g_hrss};
  dkg *p[2];
  dkg_round1_msg m[2];
  dkg_share sh[2][2];
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(dkg_new(2, 2, (uint16_t)(i + 1), k->context, NULL, &p[i], NULL, 0), CX_OK);
    ck_assert_int_eq(dkg_round1(p[i], &m[i]), CX_OK);
    ck_assert_int_eq(dkg_round2(p[i], sh[i], NULL, 0), CX_OK);
  }
  for (int i = 0; i < 2; i++) {
    uint8_t r1[DKG_ROUND1_MAX_LEN], sl[CX_KEY_SEALED_LEN] = {0};
    cx_tx tx;
    tx_init(&tx);
    tx.type = TX_KEY_DEAL;
    strcpy(tx.u.kdeal.name, name);
    ck_assert_int_eq(tx_key_deal_set(&tx, r1, dkg_round1_encode(&m[i], r1), 2), CX_OK);
    ck_assert_int_eq(tx_key_deal_set_slot(&tx, 1 - i, sl), CX_OK);
    apply(st, chain, &tx, party[i]->sign, keep);
    ck_assert_int_eq(dkg_recv_round1(p[1 - i], &m[i], NULL, 0), CX_OK);
    ck_assert_int_eq(dkg_recv_share(p[1 - i], &sh[i][1 - i], NULL, NULL, NULL, 0), CX_OK);
  }
  for (int i = 0; i < 2; i++) {
    cx_tx tx;
    tx_init(&tx);
    tx.type = TX_KEY_VERDICT;
    strcpy(tx.u.kverdict.name, name);
    apply(st, chain, &tx, party[i]->sign, keep);
  }
  dkg_result res;
  for (int i = 0; i < 2; i++) {
    ck_assert_int_eq(dkg_finish(p[i], &res, &sk[i], NULL, 0), CX_OK);
    dkg_free(p[i]);
  }
  memcpy(gpk, res.group_pk.b, 32);
  sodium_memzero(sh, sizeof sh);
  vm_key_clear(k);
  free(k);
}

static void sign_request(const vm_state *st, const cx_hash *chain, const cx_seckey *k, const uint8_t *msg,
                         size_t len, cx_hash *id) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_SIGN_REQUEST;
  strcpy(tx.u.sreq.key, "escrow");
  ck_assert_int_eq(tx_sign_request_set(&tx, msg, len), CX_OK);
  apply_id(st, chain, &tx, k, 0, id);
}

static void sign_approve(const vm_state *st, const cx_hash *chain, const cx_seckey *k, const cx_hash *id) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_SIGN_APPROVE;
  tx.u.sapprove.request = *id;
  apply(st, chain, &tx, k, 0);
}

/* Both parties' FROST signature of msg under gpk. */
static void frost2(const frost_scalar *sk, const uint8_t gpk[32], const uint8_t *msg, size_t len, uint8_t out[64]) {
  frost_commitment com[2];
  frost_nonces *non = sodium_allocarray(2, sizeof *non);
  frost_scalar z[2];
  frost_element pk;
  frost_sig sig;
  ck_assert_ptr_nonnull(non);
  memcpy(pk.b, gpk, 32);
  for (uint16_t i = 0; i < 2; i++) ck_assert_int_eq(frost_commit(i + 1, &sk[i], NULL, NULL, &non[i], &com[i]), CX_OK);
  for (uint16_t i = 0; i < 2; i++)
    ck_assert_int_eq(frost_sign(i + 1, &sk[i], &pk, &non[i], msg, len, com, 2, &z[i], NULL, 0), CX_OK);
  ck_assert_int_eq(frost_aggregate(com, 2, msg, len, &pk, z, &sig, NULL, 0), CX_OK);
  sodium_memzero(z, sizeof z);
  sodium_free(non);
  memcpy(out, sig.b, 64);
}

/* The genesis state with "results" READY (parties health, hrss: the
 * validators by name), custody key "vault" DEALING, and custody key
 * "escrow" (k = 2) READY with three requests: g_req[0] by the insurer,
 * PENDING; g_req[1] by hrss, approved by health; g_req[2] by health,
 * approved by the insurer and SIGNED. */
static void seed_store(const node_config *cfg) {
  char err[256];
  vm_genesis *g = calloc(1, sizeof *g);
  cx_hash chain;
  store *s;
  ck_assert_ptr_nonnull(g);
  ck_assert_msg(genesis_load(cfg->genesis, g, err, sizeof err) == CX_OK, "%s", err);
  vm_genesis_hash(g, &chain);
  store_opts o = {.sync = 0};
  ck_assert_msg(store_open(cfg->data_dir, &o, &s, err, sizeof err) == CX_OK, "%s", err);
  store_ws *ws = store_ws_new(s);
  ck_assert_ptr_nonnull(ws);
  vm_state st = {ws, ws_get, ws_put, ws_del, ws_mark, ws_rollback};
  ck_assert_int_eq(vm_genesis_apply(&st, g), CX_OK);

  frost_scalar *sk = sodium_allocarray(2, sizeof *sk);
  ck_assert_ptr_nonnull(sk);
  key_create(&st, &chain, g_hrss.sign, "results", CX_KEY_PURPOSE_RESULTS, 0, 1);
  dkg2(&st, &chain, "results", 1, g_group_pk, sk);
  key_create(&st, &chain, g_insurer.sign, "vault", CX_KEY_PURPOSE_CUSTODY, 1, 0);
  key_create(&st, &chain, g_insurer.sign, "escrow", CX_KEY_PURPOSE_CUSTODY, 2, 0);
  dkg2(&st, &chain, "escrow", 0, g_escrow_pk, sk);
  for (int i = 0; i < 3; i++) tu_randbytes(g_msg[i], sizeof g_msg[i]);
  sign_request(&st, &chain, g_insurer.sign, g_msg[0], sizeof g_msg[0], &g_req[0]);
  sign_request(&st, &chain, g_hrss.sign, g_msg[1], sizeof g_msg[1], &g_req[1]);
  sign_approve(&st, &chain, g_health.sign, &g_req[1]);
  sign_request(&st, &chain, g_health.sign, g_msg[2], 1, &g_req[2]); /* a 1-byte message */
  sign_approve(&st, &chain, g_insurer.sign, &g_req[2]);
  frost2(sk, g_escrow_pk, g_msg[2], 1, g_sig);
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_SIGN_RESULT;
  tx.u.sres.request = g_req[2];
  memcpy(tx.u.sres.sig.b, g_sig, 64);
  apply(&st, &chain, &tx, g_hrss.sign, 0);
  sodium_free(sk);

  ck_assert_int_eq(store_init_genesis(s, ws, &chain), CX_OK);
  store_ws_free(ws);
  store_close(s);
  free(g);
}

static void setup(void) {
  char err[256] = "";
  log_set_level(LOG_WARN);
  g_dir = tu_tmpdir("apikeys");
  g_ntx = 0;
  ck_assert_int_eq(keystore_generate(&g_hrss), CX_OK);
  ck_assert_int_eq(keystore_generate(&g_health), CX_OK);
  ck_assert_int_eq(keystore_generate(&g_insurer), CX_OK);
  nu_keystore_save(g_dir, &g_hrss);
  cx_member m[3];
  nu_member(&m[0], "hrss", ROLE_BUREAU, &g_hrss, "tcp://127.0.0.1:1", "hrss");
  nu_member(&m[1], "health", ROLE_BUREAU, &g_health, "tcp://127.0.0.1:2", "health");
  nu_member(&m[2], "insurer", ROLE_INSURER, &g_insurer, "", "");
  nu_genesis_write(g_dir, "keystest", m, 3);
  node_config cfg;
  nu_config(&cfg, g_dir, "hrss");
  seed_store(&cfg);
  ck_assert_msg(node_open(&cfg, &g_node, err, sizeof err) == CX_OK, "node_open: %s", err);
}

static void teardown(void) {
  node_close(g_node);
  keystore_keys_free(&g_hrss);
  keystore_keys_free(&g_health);
  keystore_keys_free(&g_insurer);
  tu_rmrf(g_dir);
  free(g_dir);
}

/* One request to the keys table. */
static cJSON *call(const char *method, const char *params) {
  const rpc_method *t;
  size_t nt;
  char body[512];
  api_keys_methods(&t, &nt);
  snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}", method, params);
  char *out = rpc_handle_body(t, nt, g_node, body, strlen(body), 0, 16);
  ck_assert_ptr_nonnull(out);
  cJSON *r = cJSON_Parse(out);
  free(out);
  ck_assert_ptr_nonnull(r);
  return r;
}

static cJSON *expect_ok(const char *method, const char *params) {
  cJSON *r = call(method, params);
  cJSON *res = cJSON_DetachItemFromObjectCaseSensitive(r, "result");
  char *txt = cJSON_PrintUnformatted(r);
  ck_assert_msg(res != NULL, "%s %s: %s", method, params, txt);
  free(txt);
  cJSON_Delete(r);
  return res;
}

static void expect_err(const char *method, const char *params, int code, const char *what) {
  cJSON *r = call(method, params);
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(data, "detail");
  char *txt = cJSON_PrintUnformatted(r);
  ck_assert_msg(cJSON_IsNumber(c) && c->valueint == code, "%s %s: want %d, got %s", method, params, code, txt);
  ck_assert_msg(cJSON_IsString(d) && strncmp(d->valuestring, what, strlen(what)) == 0, "%s %s: got %s", method,
                params, txt);
  free(txt);
  cJSON_Delete(r);
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  ck_assert_msg(cJSON_IsString(v), "no string %s", k);
  return v->valuestring;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  ck_assert_msg(cJSON_IsNumber(v), "no number %s", k);
  return v->valuedouble;
}

/* An array of strings equal to want[0..n). */
static void names_eq(const cJSON *o, const char *k, const char *const *want, int n) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k);
  ck_assert_msg(cJSON_IsArray(a) && cJSON_GetArraySize(a) == n, "%s: want %d entries", k, n);
  for (int i = 0; i < n; i++) ck_assert_str_eq(cJSON_GetArrayItem(a, i)->valuestring, want[i]);
}

START_TEST(test_key_list) {
  cJSON *r = expect_ok("key_list", "{}");
  ck_assert(cJSON_IsArray(r));
  ck_assert_int_eq(cJSON_GetArraySize(r), 3);
  ck_assert_str_eq(str(cJSON_GetArrayItem(r, 0), "name"), "escrow"); /* sorted */
  const cJSON *a = cJSON_GetArrayItem(r, 1), *b = cJSON_GetArrayItem(r, 2);
  ck_assert_str_eq(str(a, "name"), "results");
  ck_assert_str_eq(str(a, "purpose"), "results");
  ck_assert_str_eq(str(a, "phase"), "ready");
  ck_assert_int_eq((int)num(a, "t"), 2);
  ck_assert_int_eq((int)num(a, "n"), 2);
  ck_assert_int_eq((int)num(a, "epoch"), 0);
  char hex[65];
  hex_encode(g_group_pk, 32, hex);
  ck_assert_str_eq(str(a, "group_pk"), hex);
  ck_assert_int_eq((int)num(a, "k"), 0);
  ck_assert_str_eq(str(b, "name"), "vault");
  ck_assert_str_eq(str(b, "purpose"), "custody");
  ck_assert_str_eq(str(b, "phase"), "dealing");
  ck_assert_int_eq((int)num(b, "k"), 1);
  ck_assert_int_eq((int)num(cJSON_GetArrayItem(r, 0), "k"), 2); /* escrow */
  ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(b, "group_pk")));
  cJSON_Delete(r);
}
END_TEST

START_TEST(test_key_get) {
  static const char *const both[] = {"health", "hrss"};
  cJSON *r = expect_ok("key_get", "{\"name\":\"results\"}");
  ck_assert_str_eq(str(r, "name"), "results");
  ck_assert_str_eq(str(r, "phase"), "ready");
  ck_assert_int_eq((int)num(r, "created_height"), 1);
  ck_assert_int_eq((int)num(r, "ended_height"), 1);
  const cJSON *parties = cJSON_GetObjectItemCaseSensitive(r, "parties");
  ck_assert_int_eq(cJSON_GetArraySize(parties), 2);
  ck_assert_str_eq(str(cJSON_GetArrayItem(parties, 0), "name"), "health");
  char hex[65];
  hex_encode(g_health.pub.b, 32, hex);
  ck_assert_str_eq(str(cJSON_GetArrayItem(parties, 0), "key"), hex);
  names_eq(r, "dealt", both, 2);
  names_eq(r, "verdicts", both, 2);
  names_eq(r, "qual", both, 2);
  names_eq(r, "disqualified", NULL, 0);
  ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "complaints")), 0);
  hex_encode(g_group_pk, 32, hex);
  ck_assert_str_eq(str(r, "group_pk"), hex);
  ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "pk_shares")), 2);
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive(r, "txids");
  ck_assert_int_eq(cJSON_GetArraySize(ids), (int)g_ntx);
  for (size_t i = 0; i < g_ntx; i++) {
    hex_encode(g_txids[i].b, 32, hex);
    ck_assert_str_eq(cJSON_GetArrayItem(ids, (int)i)->valuestring, hex);
  }
  cJSON_Delete(r);

  r = expect_ok("key_get", "[\"vault\"]"); /* positional */
  ck_assert_str_eq(str(r, "phase"), "dealing");
  ck_assert_int_eq((int)num(r, "k"), 1);
  ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "group_pk")));
  names_eq(r, "dealt", NULL, 0);
  ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "txids")), 1);
  cJSON_Delete(r);

  expect_err("key_get", "{\"name\":\"nokey\"}", CX_E_KEY_UNKNOWN, "no consortium key named \"nokey\"");
  expect_err("key_get", "{}", RPC_ERR_PARAMS, "params.name: missing");
  expect_err("key_get", "{\"name\":5}", RPC_ERR_PARAMS, "params.name");
  expect_err("key_get", "{\"name\":\"Results\"}", RPC_ERR_PARAMS, "params.name: expected a key name");
  expect_err("key_get", "{\"name\":\"a-name-of-17-byte\"}", RPC_ERR_PARAMS, "params.name: expected a key name");
}
END_TEST

static void hex_of(const uint8_t *b, size_t n, char *out) { hex_encode(b, n, out); }

/* sign_get: a request's record, with the key's group key; the signed
 * one's signature verifies under it over the message given. */
START_TEST(test_sign_get) {
  char hex[2 * 64 + 1], params[256], gpk[65];
  hex_of(g_escrow_pk, 32, gpk);

  /* SIGNED */
  hex_of(g_req[2].b, 32, hex);
  snprintf(params, sizeof params, "{\"id\":\"%s\"}", hex);
  cJSON *r = expect_ok("sign_get", params);
  ck_assert_str_eq(str(r, "id"), hex);
  ck_assert_str_eq(str(r, "key"), "escrow");
  ck_assert_int_eq((int)num(r, "epoch"), 0);
  ck_assert_str_eq(str(r, "requester"), "health");
  ck_assert_int_eq((int)num(r, "k"), 2);
  ck_assert_int_eq((int)num(r, "napprovals"), 2);
  ck_assert_str_eq(str(r, "status"), "signed");
  ck_assert_int_eq((int)num(r, "height"), 1);
  ck_assert_int_eq((int)num(r, "approved_height"), 1);
  ck_assert_int_eq((int)num(r, "signed_height"), 1);
  static const char *const appr[] = {"health", "insurer"};
  names_eq(r, "approvals", appr, 2);
  hex_of(g_msg[2], 1, hex);
  ck_assert_str_eq(str(r, "msg"), hex);
  ck_assert_str_eq(str(r, "group_pk"), gpk);
  hex_of(g_sig, 64, hex);
  ck_assert_str_eq(str(r, "signature"), hex);
  /* what `custos sig verify --scheme frost` checks */
  frost_element pk;
  frost_sig sig;
  uint8_t msg[1];
  ck_assert_int_eq(hex_decode(str(r, "group_pk"), pk.b, 32), CX_OK);
  ck_assert_int_eq(hex_decode(str(r, "signature"), sig.b, 64), CX_OK);
  ck_assert_int_eq(hex_decode(str(r, "msg"), msg, 1), CX_OK);
  ck_assert_int_eq(frost_verify(&pk, msg, 1, &sig, NULL, 0), CX_OK);
  msg[0] ^= 1;
  ck_assert_int_eq(frost_verify(&pk, msg, 1, &sig, NULL, 0), CX_E_BAD_SIG);
  cJSON_Delete(r);

  /* PENDING, positional: no signature yet */
  hex_of(g_req[0].b, 32, hex);
  snprintf(params, sizeof params, "[\"%s\"]", hex);
  r = expect_ok("sign_get", params);
  ck_assert_str_eq(str(r, "status"), "pending");
  ck_assert_str_eq(str(r, "requester"), "insurer");
  static const char *const one[] = {"insurer"};
  names_eq(r, "approvals", one, 1);
  ck_assert_int_eq((int)num(r, "approved_height"), 0);
  ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "signature")));
  ck_assert_str_eq(str(r, "group_pk"), gpk);
  hex_of(g_msg[0], sizeof g_msg[0], hex);
  ck_assert_str_eq(str(r, "msg"), hex);
  cJSON_Delete(r);

  /* refusals: an unknown id, malformed ones */
  char unk[65];
  hex_of(g_txids[0].b, 32, unk); /* a transaction, but no request */
  snprintf(params, sizeof params, "{\"id\":\"%s\"}", unk);
  char want[128];
  snprintf(want, sizeof want, "no signing request with id %s", unk);
  expect_err("sign_get", params, CX_E_REQUEST_UNKNOWN, want);
  expect_err("sign_get", "{}", RPC_ERR_PARAMS, "params.id: missing");
  expect_err("sign_get", "{\"id\":\"abcd\"}", RPC_ERR_PARAMS, "params.id: expected 64 hex digits");
  expect_err("sign_get", "{\"id\":7}", RPC_ERR_PARAMS, "params.id");
}
END_TEST

/* The ids of a sign_list page, in order, against g_req[want[i]]. */
static void page_eq(const cJSON *r, const int *want, int n) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "requests");
  ck_assert_msg(cJSON_IsArray(a) && cJSON_GetArraySize(a) == n, "want %d requests", n);
  for (int i = 0; i < n; i++) {
    char hex[65];
    const cJSON *it = cJSON_GetArrayItem(a, i);
    hex_of(g_req[want[i]].b, 32, hex);
    ck_assert_str_eq(str(it, "id"), hex);
    ck_assert_int_eq((int)num(it, "index"), want[i]);
  }
}

/* sign_list: newest first, filters by key and status, paging by index. */
START_TEST(test_sign_list) {
  cJSON *r = expect_ok("sign_list", "{}");
  static const int all[] = {2, 1, 0};
  page_eq(r, all, 3);
  ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "next")));
  const cJSON *it = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "requests"), 1);
  ck_assert_str_eq(str(it, "status"), "approved");
  ck_assert_str_eq(str(it, "key"), "escrow");
  ck_assert_str_eq(str(it, "requester"), "hrss");
  ck_assert_int_eq((int)num(it, "napprovals"), 2);
  ck_assert_int_eq((int)num(it, "msg_bytes"), (int)sizeof g_msg[1]);
  cJSON_Delete(r);

  static const int appr[] = {1}, pend[] = {0}, sig[] = {2};
  r = expect_ok("sign_list", "{\"status\":\"approved\"}");
  page_eq(r, appr, 1);
  cJSON_Delete(r);
  r = expect_ok("sign_list", "{\"status\":\"pending\",\"key\":\"escrow\"}");
  page_eq(r, pend, 1);
  cJSON_Delete(r);
  r = expect_ok("sign_list", "{\"status\":\"signed\"}");
  page_eq(r, sig, 1);
  cJSON_Delete(r);
  r = expect_ok("sign_list", "{\"key\":\"vault\"}");
  page_eq(r, NULL, 0);
  cJSON_Delete(r);
  r = expect_ok("sign_list", "{\"key\":\"nokey\"}");
  page_eq(r, NULL, 0);
  cJSON_Delete(r);
  /* the requests before index 2 */
  r = expect_ok("sign_list", "{\"before\":2}");
  static const int older[] = {1, 0};
  page_eq(r, older, 2);
  ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(r, "next")));
  cJSON_Delete(r);
  r = expect_ok("sign_list", "{\"before\":0}");
  page_eq(r, NULL, 0);
  cJSON_Delete(r);

  expect_err("sign_list", "{\"status\":\"done\"}", RPC_ERR_PARAMS, "params.status: expected");
  expect_err("sign_list", "{\"status\":1}", RPC_ERR_PARAMS, "params.status: expected");
  expect_err("sign_list", "{\"key\":\"Escrow\"}", RPC_ERR_PARAMS, "params.key: expected a key name");
  expect_err("sign_list", "{\"before\":4}", RPC_ERR_PARAMS, "params.before: expected a request index from 0 to 3");
  expect_err("sign_list", "{\"before\":1.5}", RPC_ERR_PARAMS, "params.before");
  expect_err("sign_list", "{\"before\":\"1\"}", RPC_ERR_PARAMS, "params.before");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("api_keys");
  TCase *tc = tcase_create("methods");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_key_list);
  tcase_add_test(tc, test_key_get);
  tcase_add_test(tc, test_sign_get);
  tcase_add_test(tc, test_sign_list);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
