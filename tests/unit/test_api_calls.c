/* call_wait and tx_proof (node/api_calls.c) on an in-process node
 * (node_open without node_start; blocks by node_produce_block; requests
 * through rpc_handle_body): parameter refusals naming the field, unknown
 * ids, a long poll that times out on a pending call and one that returns
 * as soon as the result commits, and tx_proof answers that verify_result
 * (node/verify.c) accepts from the genesis alone, end to end.
 *
 * Consortium: hrss (bureau, the only validator, domain hrss), insurer; a
 * subject that is not a member. The MPC run is not part of this test: the
 * test signs the result as hrss, the single party (t = 0, quorum 1). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "fileutil.h"
#include "genesis.h"
#include "keystore.h"
#include "lang.h"
#include "log.h"
#include "node.h"
#include "nodeutil.h"
#include "testutil.h"
#include "verify.h"

static char *g_dir;
static node *g_node;
static keystore_keys g_hrss, g_insurer, g_subject;

static node *open_chain(const char *dir) {
  char err[256] = "";
  ck_assert_int_eq(keystore_generate(&g_hrss), CX_OK);
  ck_assert_int_eq(keystore_generate(&g_insurer), CX_OK);
  ck_assert_int_eq(keystore_generate(&g_subject), CX_OK);
  nu_keystore_save(dir, &g_hrss);
  cx_member m[2];
  nu_member(&m[0], "hrss", ROLE_BUREAU, &g_hrss, "tcp://127.0.0.1:1", "hrss");
  nu_member(&m[1], "insurer", ROLE_INSURER, &g_insurer, "", "");
  nu_genesis_write(dir, "callstest", m, 2);
  node_config cfg;
  nu_config(&cfg, dir, "hrss");
  node *n = NULL;
  ck_assert_msg(node_open(&cfg, &n, err, sizeof err) == CX_OK, "node_open: %s", err);
  return n;
}

static void setup(void) {
  log_set_level(LOG_WARN);
  g_dir = tu_tmpdir("apicalls");
  g_node = open_chain(g_dir);
}

static void teardown(void) {
  node_close(g_node);
  keystore_keys_free(&g_hrss);
  keystore_keys_free(&g_insurer);
  keystore_keys_free(&g_subject);
  tu_rmrf(g_dir);
  free(g_dir);
}

/* One request over both method tables (api.c's and api_calls.c's). */
static cJSON *call(const char *method, const char *params) {
  static rpc_method all[64];
  size_t na, nc;
  const rpc_method *a, *c;
  api_methods(&a, &na);
  api_calls_methods(&c, &nc);
  ck_assert_uint_le(na + nc, 64);
  memcpy(all, a, na * sizeof *a);
  memcpy(all + na, c, nc * sizeof *c);
  size_t bl = strlen(params) + strlen(method) + 64;
  char *body = malloc(bl);
  ck_assert_ptr_nonnull(body);
  snprintf(body, bl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}", method, params);
  char *out = rpc_handle_body(all, na + nc, g_node, body, strlen(body), 0, 16);
  free(body);
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

/* The call fails with code, its detail starting with what (NULL: any). */
static void expect_err(const char *method, const char *params, int code, const char *what) {
  cJSON *r = call(method, params);
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "data"), "detail");
  char *txt = cJSON_PrintUnformatted(r);
  ck_assert_msg(cJSON_IsNumber(c) && c->valueint == code, "%s %s: want code %d, got %s", method, params, code,
                txt);
  if (what)
    ck_assert_msg(cJSON_IsString(d) && strncmp(d->valuestring, what, strlen(what)) == 0,
                  "%s %s: want detail \"%s\", got %s", method, params, what, txt);
  free(txt);
  cJSON_Delete(r);
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  ck_assert_msg(cJSON_IsString(v), "no string %s", k);
  return v->valuestring;
}

/* Signs tx with k at its next nonce, submits it and commits it in a block
 * of its own; the receipt must be ok. */
static cx_hash commit(cx_tx *tx, const cx_seckey *k) {
  cx_pubkey pk;
  cx_hash id;
  uint8_t *raw = NULL;
  size_t len = 0, ntx = 0;
  char detail[256] = "";
  key_public(k, &pk);
  node_chain_id(g_node, &tx->chain_id);
  ck_assert_int_eq(vm_account_nonce(node_state(g_node), &pk, &tx->nonce), CX_OK);
  ck_assert_int_eq(tx_sign(tx, k), CX_OK);
  ck_assert_int_eq(tx_encode(tx, 1, &raw, &len), CX_OK);
  ck_assert_msg(node_submit(g_node, raw, len, &id, detail, sizeof detail) == CX_OK, "submit %s: %s",
                tx_type_name(tx->type), detail);
  free(raw);
  ck_assert_int_eq(node_produce_block(g_node, &ntx), CX_OK);
  ck_assert_uint_eq(ntx, 1);
  store_txloc loc;
  ck_assert_int_eq(store_tx_get(node_store(g_node), &id, &loc), CX_OK);
  ck_assert_msg(loc.code == CX_OK, "%s rejected: %s", tx_type_name(tx->type), cx_err_name(loc.code));
  tx_clear(tx);
  return id;
}

static const char SRC[] = "contract q\ninput hrss.x : int(0..100)\noutput public y : bool\ny = hrss.x < 50\n";

typedef struct {
  cx_hash did, contract, consent, call;
  cx_hash root; /* the hrss snapshot the result names */
} chain_call;

/* identity, contract deployed and approved, consent, call: a PENDING call. */
static void make_call(chain_call *cc) {
  cx_tx tx;
  tu_randbytes(cc->root.b, 32);
  tx_init(&tx);
  tx.type = TX_ID_REGISTER;
  tu_randbytes(cc->did.b, 32);
  tx.u.reg.did = cc->did;
  commit(&tx, g_subject.sign);

  lang_contract *lc = NULL;
  size_t bl;
  ck_assert_int_eq(lang_compile(SRC, strlen(SRC), &lc, NULL), CX_OK);
  const uint8_t *bc = lang_bytecode(lc, &bl);
  lang_id(lc, &cc->contract);
  tx_init(&tx);
  tx.type = TX_CONTRACT_DEPLOY;
  strcpy(tx.u.deploy.name, "q");
  ck_assert_int_eq(domain_set_parse("hrss", &tx.u.deploy.domains), CX_OK);
  ck_assert_int_eq(tx_set_source(&tx, SRC, strlen(SRC)), CX_OK);
  ck_assert_int_eq(tx_set_bytecode(&tx, bc, bl), CX_OK);
  lang_free(lc);
  commit(&tx, g_insurer.sign);

  tx_init(&tx);
  tx.type = TX_CONTRACT_APPROVE;
  tx.u.cref.contract = cc->contract;
  commit(&tx, g_hrss.sign);

  tx_init(&tx);
  tx.type = TX_CONSENT_GRANT;
  tx.u.grant.did = cc->did;
  strcpy(tx.u.grant.insurer, "insurer");
  ck_assert_int_eq(domain_set_parse("hrss", &tx.u.grant.domains), CX_OK);
  tx.u.grant.contract = cc->contract;
  strcpy(tx.u.grant.purpose, "underwriting");
  tx.u.grant.expires = 1000;
  tx.u.grant.quota = 3;
  cc->consent = commit(&tx, g_subject.sign);

  tx_init(&tx);
  tx.type = TX_CALL;
  tx.u.call.contract = cc->contract;
  tx.u.call.did = cc->did;
  tx.u.call.consent = cc->consent;
  cc->call = commit(&tx, g_insurer.sign);
}

/* hrss, the single party, reports y = 1 and signs it. */
static cx_hash close_call(const chain_call *cc) {
  cx_tx tx;
  cx_hash chain, st, msg;
  node_chain_id(g_node, &chain);
  tx_init(&tx);
  tx.type = TX_CALL_RESULT;
  cx_tx_call_result *r = &tx.u.result;
  r->call = cc->call;
  r->status = CX_CALL_DONE;
  r->nin = 1;
  strcpy(r->in[0].domain, "hrss");
  r->in[0].root = cc->root;
  r->in[0].count = 1;
  tu_randbytes(r->in[0].leaf.b, 32);
  ck_assert_int_eq(tx_result_alloc(&tx, 1, 1), CX_OK);
  r->out[0].value = 1;
  tu_randbytes(r->transcript.b, 32);
  tx_result_statement(&chain, r, &cc->contract, &cc->consent, &cc->did, &st);
  tx_result_sig_msg(&st, NULL, 0, &msg);
  r->sigs[0].party = 0;
  ck_assert_int_eq(key_sign32(g_hrss.sign, msg.b, NULL, &r->sigs[0].sig), CX_OK);
  return commit(&tx, g_hrss.sign);
}

static char *id_params(const char *field, const cx_hash *id, const char *more) {
  static char buf[256];
  char hex[65];
  snprintf(buf, sizeof buf, "{\"%s\":\"%s\"%s}", field, hash_hex(id, hex), more ? more : "");
  return buf;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

START_TEST(test_params) {
  cx_hash x;
  tu_randbytes(x.b, 32);
  expect_err("call_wait", "{}", RPC_ERR_PARAMS, "params.txid: missing");
  expect_err("call_wait", "{\"txid\":\"zz\"}", RPC_ERR_PARAMS, "params.txid: expected 64 hex digits");
  expect_err("call_wait", id_params("txid", &x, ",\"timeout_ms\":0"), RPC_ERR_PARAMS, "params.timeout_ms");
  expect_err("call_wait", id_params("txid", &x, ",\"timeout_ms\":30001"), RPC_ERR_PARAMS, "params.timeout_ms");
  expect_err("call_wait", id_params("txid", &x, ",\"timeout_ms\":1.5"), RPC_ERR_PARAMS, "params.timeout_ms");
  expect_err("call_wait", id_params("txid", &x, ",\"timeout_ms\":\"100\""), RPC_ERR_PARAMS, "params.timeout_ms");
  expect_err("call_wait", id_params("txid", &x, ",\"timeout_ms\":1e300"), RPC_ERR_PARAMS, "params.timeout_ms");
  /* unknown: at once, as call_get says it */
  double t0 = now_ms();
  expect_err("call_wait", id_params("txid", &x, ",\"timeout_ms\":5000"), CX_E_NOT_FOUND, NULL);
  ck_assert_double_lt(now_ms() - t0, 1000);
  expect_err("call_get", id_params("txid", &x, NULL), CX_E_NOT_FOUND, NULL);
  expect_err("tx_proof", "{}", RPC_ERR_PARAMS, "params.txid: missing");
  expect_err("tx_proof", "{\"txid\":\"00\"}", RPC_ERR_PARAMS, "params.txid: expected 64 hex digits");
  expect_err("tx_proof", id_params("txid", &x, NULL), CX_E_NOT_FOUND, NULL);
}
END_TEST

typedef struct {
  cx_hash id;
  cJSON *res;
  double ms;
} waiter;

static void *wait_thread(void *arg) {
  waiter *w = arg;
  double t0 = now_ms();
  w->res = expect_ok("call_wait", id_params("txid", &w->id, ",\"timeout_ms\":20000"));
  w->ms = now_ms() - t0;
  return NULL;
}

START_TEST(test_wait) {
  chain_call cc;
  make_call(&cc);
  /* pending: answered at the timeout */
  double t0 = now_ms();
  cJSON *r = expect_ok("call_wait", id_params("txid", &cc.call, ",\"timeout_ms\":150"));
  double ms = now_ms() - t0;
  ck_assert_str_eq(str(r, "status"), "pending");
  ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(r, "result"));
  ck_assert_msg(ms >= 145 && ms < 2000, "a 150 ms wait took %.0f ms", ms);
  cJSON_Delete(r);

  /* a waiter returns as soon as the result commits, long before its timeout */
  waiter w = {.id = cc.call};
  pthread_t th;
  ck_assert_int_eq(pthread_create(&th, NULL, wait_thread, &w), 0);
  struct timespec ts = {0, 200 * 1000000L};
  nanosleep(&ts, NULL);
  cx_hash res = close_call(&cc);
  pthread_join(th, NULL);
  char hex[65];
  ck_assert_str_eq(str(w.res, "status"), "done");
  ck_assert_str_eq(str(w.res, "result"), hash_hex(&res, hex));
  ck_assert_str_eq(str(w.res, "txid"), hash_hex(&cc.call, hex));
  store_txloc loc;
  ck_assert_int_eq(store_tx_get(node_store(g_node), &res, &loc), CX_OK);
  ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(w.res, "result_height")->valuedouble, (double)loc.height);
  ck_assert_msg(w.ms >= 150 && w.ms < 5000, "the waiter took %.0f ms", w.ms);
  cJSON_Delete(w.res);
  /* closed: at once, without the default 10 s */
  t0 = now_ms();
  r = expect_ok("call_wait", id_params("txid", &cc.call, NULL));
  ck_assert_double_lt(now_ms() - t0, 1000);
  ck_assert_str_eq(str(r, "status"), "done");
  cJSON_Delete(r);
}
END_TEST

/* tx_get + tx_proof of id, read as the CLI reads them. */
static void fetch(const cx_hash *id, cJSON **txget, cJSON **proof, verify_tx_buf *b, verify_tx *t) {
  *txget = expect_ok("tx_get", id_params("txid", id, NULL));
  *proof = expect_ok("tx_proof", id_params("txid", id, NULL));
  verify_tx_from_json(*txget, NULL, *proof, NULL, b, t);
}

START_TEST(test_proof_verifies) {
  chain_call cc;
  make_call(&cc);
  /* hrss anchors the snapshot the result names (docs/vault.md "Anchoring") */
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_VAULT_ANCHOR;
  strcpy(tx.u.anchor.domain, "hrss");
  tx.u.anchor.root = cc.root;
  tx.u.anchor.count = 1;
  cx_hash anchor = commit(&tx, g_hrss.sign);
  cx_hash res = close_call(&cc);

  /* the answer's shape, against the store */
  cJSON *p = expect_ok("tx_proof", id_params("txid", &cc.call, NULL));
  store_txloc loc;
  cx_hash bh;
  char hex[65];
  ck_assert_int_eq(store_tx_get(node_store(g_node), &cc.call, &loc), CX_OK);
  ck_assert_int_eq(store_block_hash(node_store(g_node), loc.height, &bh), CX_OK);
  ck_assert_str_eq(str(p, "hash"), hash_hex(&bh, hex));
  ck_assert_str_eq(str(p, "txid"), hash_hex(&cc.call, hex));
  ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(p, "height")->valuedouble, (double)loc.height);
  ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(p, "index")->valuedouble, 0);
  ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(p, "ntx")->valuedouble, 1);
  ck_assert_double_eq(cJSON_GetObjectItemCaseSensitive(p, "code")->valuedouble, 0);
  ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "tx_path")), 0); /* one leaf */
  ck_assert(strlen(str(p, "cert")) > 0);
  cJSON_Delete(p);

  /* the auditor's whole check, from the genesis */
  verify_input in = {.call_id = cc.call, .has_result = 1, .result_id = res};
  cJSON *g1, *p1, *g2, *p2, *g3, *p3;
  verify_tx_buf b1, b2, b3;
  fetch(&cc.call, &g1, &p1, &b1, &in.call);
  fetch(&res, &g2, &p2, &b2, &in.result);
  fetch(&cc.consent, &g3, &p3, &b3, &in.consent);
  /* the anchoring, found as the CLI finds it */
  char q[160];
  snprintf(q, sizeof q, "{\"domain\":\"hrss\",\"root\":\"%s\"}", hash_hex(&cc.root, hex));
  cJSON *ag = expect_ok("anchor_get", q), *g4, *p4;
  ck_assert_str_eq(str(ag, "txid"), hash_hex(&anchor, hex));
  cJSON_Delete(ag);
  verify_tx_buf b4;
  in.nanchors = 1;
  strcpy(in.anchors[0].domain, "hrss");
  in.anchors[0].root = cc.root;
  in.anchors[0].has_anchor = 1;
  in.anchors[0].txid = anchor;
  fetch(&anchor, &g4, &p4, &b4, &in.anchors[0].tx);
  verify_report rep;
  verify_result(node_genesis(g_node), &in, &rep);
  for (size_t i = 0; i < rep.n; i++)
    ck_assert_msg(rep.c[i].ok, "%s: %s", rep.c[i].name, rep.c[i].detail);
  ck_assert(rep.all_ok);
  ck_assert_int_eq(rep.status, CX_CALL_DONE);
  ck_assert_uint_eq(rep.nsigners, 1);
  ck_assert_str_eq(rep.signers[0], "hrss");

  /* a node lying about the place of the call is caught */
  cJSON_ReplaceItemInObjectCaseSensitive(p1, "index", cJSON_CreateNumber(1));
  verify_tx_buf_free(&b1);
  verify_tx_from_json(g1, NULL, p1, NULL, &b1, &in.call);
  verify_result(node_genesis(g_node), &in, &rep);
  ck_assert(!verify_find(&rep, "call inclusion")->ok);
  ck_assert(!rep.all_ok);
  /* and a malformed answer names its field */
  cJSON_ReplaceItemInObjectCaseSensitive(p1, "header", cJSON_CreateString("xyz"));
  verify_tx_buf_free(&b1);
  verify_tx_from_json(g1, NULL, p1, NULL, &b1, &in.call);
  ck_assert(!in.call.has_proof);
  ck_assert_msg(strstr(in.call.proof_why, "\"header\"") != NULL, "%s", in.call.proof_why);

  verify_tx_buf_free(&b1);
  verify_tx_buf_free(&b2);
  verify_tx_buf_free(&b3);
  verify_tx_buf_free(&b4);
  cJSON_Delete(g4);
  cJSON_Delete(p4);
  cJSON_Delete(g1);
  cJSON_Delete(p1);
  cJSON_Delete(g2);
  cJSON_Delete(p2);
  cJSON_Delete(g3);
  cJSON_Delete(p3);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("api_calls");
  TCase *tc = tcase_create("methods");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_params);
  tcase_add_test(tc, test_wait);
  tcase_add_test(tc, test_proof_verifies);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
