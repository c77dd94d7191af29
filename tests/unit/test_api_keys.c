/* key_get and key_list (node/api_keys.c) on an in-process node. The keys
 * are put into the chain's genesis state before the node opens (the vm
 * applies a key_create and a whole 2-party DKG, and a second key's create,
 * to the store's genesis write set): a key needs 2 validators, and an
 * in-process node produces blocks only alone. Requests go through
 * rpc_handle_body. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "dkg.h"
#include "fileutil.h"
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

static cx_err ws_get(void *c, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl) {
  return store_ws_get(c, k, kl, v, vl);
}
static cx_err ws_put(void *c, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  return store_ws_put(c, k, kl, v, vl);
}
static cx_err ws_del(void *c, const uint8_t *k, size_t kl) { return store_ws_del(c, k, kl); }
static size_t ws_mark(void *c) { return store_ws_mark(c); }
static void ws_rollback(void *c, size_t m) { store_ws_rollback(c, m); }

/* Applies tx signed by k to st at height 1; the receipt must be ok. */
static void apply(const vm_state *st, const cx_hash *chain, cx_tx *tx, const cx_seckey *k, int keep_id) {
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
  tx_clear(tx);
}

static void key_create(const vm_state *st, const cx_hash *chain, const cx_seckey *k, const char *name,
                       uint8_t purpose, int keep) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_KEY_CREATE;
  strcpy(tx.u.kcreate.name, name);
  tx.u.kcreate.purpose = purpose;
  tx.u.kcreate.t = 2;
  apply(st, chain, &tx, k, keep);
}

/* The genesis state with "results" READY (parties health, hrss: the
 * validators by name) and custody key "vault" DEALING. */
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

  key_create(&st, &chain, g_hrss.sign, "results", CX_KEY_PURPOSE_RESULTS, 1);
  vm_key *k = malloc(sizeof *k);
  ck_assert_ptr_nonnull(k);
  ck_assert_int_eq(vm_key_get(&st, "results", k), CX_OK);
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
    strcpy(tx.u.kdeal.name, "results");
    ck_assert_int_eq(tx_key_deal_set(&tx, r1, dkg_round1_encode(&m[i], r1), 2), CX_OK);
    ck_assert_int_eq(tx_key_deal_set_slot(&tx, 1 - i, sl), CX_OK);
    apply(&st, &chain, &tx, party[i]->sign, 1);
    ck_assert_int_eq(dkg_recv_round1(p[1 - i], &m[i], NULL, 0), CX_OK);
    ck_assert_int_eq(dkg_recv_share(p[1 - i], &sh[i][1 - i], NULL, NULL, NULL, 0), CX_OK);
  }
  for (int i = 0; i < 2; i++) {
    cx_tx tx;
    tx_init(&tx);
    tx.type = TX_KEY_VERDICT;
    strcpy(tx.u.kverdict.name, "results");
    apply(&st, &chain, &tx, party[i]->sign, 1);
  }
  dkg_result res;
  frost_scalar s0;
  ck_assert_int_eq(dkg_finish(p[0], &res, &s0, NULL, 0), CX_OK);
  memcpy(g_group_pk, res.group_pk.b, 32);
  sodium_memzero(&s0, sizeof s0);
  sodium_memzero(sh, sizeof sh);
  dkg_free(p[0]);
  dkg_free(p[1]);
  vm_key_clear(k);
  free(k);
  key_create(&st, &chain, g_insurer.sign, "vault", CX_KEY_PURPOSE_CUSTODY, 0);

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
  ck_assert_int_eq(cJSON_GetArraySize(r), 2);
  const cJSON *a = cJSON_GetArrayItem(r, 0), *b = cJSON_GetArrayItem(r, 1);
  ck_assert_str_eq(str(a, "name"), "results");
  ck_assert_str_eq(str(a, "purpose"), "results");
  ck_assert_str_eq(str(a, "phase"), "ready");
  ck_assert_int_eq((int)num(a, "t"), 2);
  ck_assert_int_eq((int)num(a, "n"), 2);
  ck_assert_int_eq((int)num(a, "epoch"), 0);
  char hex[65];
  hex_encode(g_group_pk, 32, hex);
  ck_assert_str_eq(str(a, "group_pk"), hex);
  ck_assert_str_eq(str(b, "name"), "vault");
  ck_assert_str_eq(str(b, "purpose"), "custody");
  ck_assert_str_eq(str(b, "phase"), "dealing");
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

static Suite *suite(void) {
  Suite *s = suite_create("api_keys");
  TCase *tc = tcase_create("methods");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_key_list);
  tcase_add_test(tc, test_key_get);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
