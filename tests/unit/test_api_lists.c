/* The read-only list methods (node/api_lists.c, docs/rpc.md "Lists") and
 * the explorer's static files on the GET hook (metrics.c, docs/explorer.md),
 * on an in-process node (node_open without node_start; blocks by
 * node_produce_block; requests through rpc_handle_body): parameter
 * refusals naming the field, paging newest first through every page with
 * no item lost or repeated (also inside a block of several transactions),
 * filters, and what each item says against the state.
 *
 * member_history (docs/rpc.md "Governance history"): the governance
 * transactions with ok receipts in chain order, each with its raw bytes
 * and tx_proof's answer, to_height, paging by position, and the cache that
 * reads only the blocks committed since the last request.
 *
 * Consortium: hrss (bureau, the only validator, domain hrss), insurer;
 * subjects that are not members. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "fileutil.h"
#include "keystore.h"
#include "lang.h"
#include "log.h"
#include "metrics.h"
#include "node.h"
#include "nodeutil.h"
#include "testutil.h"

static char *g_dir;
static node *g_node;
static keystore_keys g_hrss, g_insurer;

static void setup(void) {
  char err[256] = "";
  log_set_level(LOG_WARN);
  g_dir = tu_tmpdir("apilists");
  ck_assert_int_eq(keystore_generate(&g_hrss), CX_OK);
  ck_assert_int_eq(keystore_generate(&g_insurer), CX_OK);
  nu_keystore_save(g_dir, &g_hrss);
  cx_member m[2];
  nu_member(&m[0], "hrss", ROLE_BUREAU, &g_hrss, "tcp://127.0.0.1:1", "hrss");
  nu_member(&m[1], "insurer", ROLE_INSURER, &g_insurer, "", "");
  nu_genesis_write(g_dir, "liststest", m, 2);
  node_config cfg;
  nu_config(&cfg, g_dir, "hrss");
  ck_assert_msg(node_open(&cfg, &g_node, err, sizeof err) == CX_OK, "node_open: %s", err);
}

static void teardown(void) {
  node_close(g_node);
  keystore_keys_free(&g_hrss);
  keystore_keys_free(&g_insurer);
  tu_rmrf(g_dir);
  free(g_dir);
}

/* One request over every method table, as the server has them. */
static cJSON *call(const char *method, const char *params) {
  static rpc_method all[96];
  void (*tables[])(const rpc_method **, size_t *) = {api_methods, api_calls_methods, api_lists_methods};
  size_t n = 0;
  for (size_t i = 0; i < 3; i++) {
    const rpc_method *t;
    size_t k;
    tables[i](&t, &k);
    ck_assert_uint_le(n + k, 96);
    memcpy(all + n, t, k * sizeof *t);
    n += k;
  }
  size_t bl = strlen(params) + strlen(method) + 64;
  char *body = malloc(bl);
  ck_assert_ptr_nonnull(body);
  snprintf(body, bl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}", method, params);
  char *out = rpc_handle_body(all, n, g_node, body, strlen(body), 0, 16);
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

static const cJSON *get(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  ck_assert_msg(v != NULL, "no %s", k);
  return v;
}
static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = get(o, k);
  ck_assert_msg(cJSON_IsString(v), "%s is not a string", k);
  return v->valuestring;
}
static double num(const cJSON *o, const char *k) {
  const cJSON *v = get(o, k);
  ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", k);
  return v->valuedouble;
}

/* Signs tx with k at nonce (the sender's next + skip) and submits it. */
static cx_hash submit(cx_tx *tx, const cx_seckey *k, uint64_t skip) {
  cx_pubkey pk;
  cx_hash id;
  uint8_t *raw = NULL;
  size_t len = 0;
  char detail[256] = "";
  key_public(k, &pk);
  node_chain_id(g_node, &tx->chain_id);
  ck_assert_int_eq(vm_account_nonce(node_state(g_node), &pk, &tx->nonce), CX_OK);
  tx->nonce += skip;
  ck_assert_int_eq(tx_sign(tx, k), CX_OK);
  ck_assert_int_eq(tx_encode(tx, 1, &raw, &len), CX_OK);
  ck_assert_msg(node_submit(g_node, raw, len, &id, detail, sizeof detail) == CX_OK, "submit %s: %s",
                tx_type_name(tx->type), detail);
  free(raw);
  tx_clear(tx);
  return id;
}

static void produce(size_t want) {
  size_t ntx = 0;
  ck_assert_int_eq(node_produce_block(g_node, &ntx), CX_OK);
  ck_assert_uint_eq(ntx, want);
}

/* One transaction in a block of its own; its receipt must be ok. */
static cx_hash commit(cx_tx *tx, const cx_seckey *k) {
  cx_hash id = submit(tx, k, 0);
  produce(1);
  store_txloc loc;
  ck_assert_int_eq(store_tx_get(node_store(g_node), &id, &loc), CX_OK);
  ck_assert_msg(loc.code == CX_OK, "rejected: %s", cx_err_name(loc.code));
  return id;
}

/* A subject registers itself (a new key each time). */
static void register_tx(cx_tx *tx, cx_hash *did, keystore_keys *k) {
  ck_assert_int_eq(keystore_generate(k), CX_OK);
  tx_init(tx);
  tx->type = TX_ID_REGISTER;
  tu_randbytes(did->b, 32);
  tx->u.reg.did = *did;
}

static const char SRC[] = "contract q\ninput hrss.x : int(0..100)\noutput public y : bool\ny = hrss.x < 50\n";

typedef struct {
  cx_hash did[5], contract, consent, call, result;
} chain;

/* Blocks 1..3: one identity each; block 4: two identities in one block;
 * then contract, approval, consent, a call and its result (one a block). */
static void make_chain(chain *ch) {
  cx_tx tx;
  keystore_keys subj[5];
  for (int i = 0; i < 3; i++) {
    register_tx(&tx, &ch->did[i], &subj[i]);
    commit(&tx, subj[i].sign);
  }
  for (int i = 3; i < 5; i++) {
    register_tx(&tx, &ch->did[i], &subj[i]);
    submit(&tx, subj[i].sign, 0);
  }
  produce(2);

  lang_contract *lc = NULL;
  size_t bl;
  ck_assert_int_eq(lang_compile(SRC, strlen(SRC), &lc, NULL), CX_OK);
  const uint8_t *bc = lang_bytecode(lc, &bl);
  lang_id(lc, &ch->contract);
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
  tx.u.cref.contract = ch->contract;
  commit(&tx, g_hrss.sign);

  tx_init(&tx);
  tx.type = TX_CONSENT_GRANT;
  tx.u.grant.did = ch->did[0];
  strcpy(tx.u.grant.insurer, "insurer");
  ck_assert_int_eq(domain_set_parse("hrss", &tx.u.grant.domains), CX_OK);
  tx.u.grant.contract = ch->contract;
  strcpy(tx.u.grant.purpose, "underwriting");
  tx.u.grant.expires = 1000;
  tx.u.grant.quota = 3;
  ch->consent = commit(&tx, subj[0].sign);

  tx_init(&tx);
  tx.type = TX_CALL;
  tx.u.call.contract = ch->contract;
  tx.u.call.did = ch->did[0];
  tx.u.call.consent = ch->consent;
  ch->call = commit(&tx, g_insurer.sign);
  for (int i = 0; i < 5; i++) keystore_keys_free(&subj[i]);
}

/* hrss, the single party (t = 0), reports y = 1 and signs it. */
static void close_call(chain *ch) {
  cx_tx tx;
  cx_hash chain_id, st, msg;
  node_chain_id(g_node, &chain_id);
  tx_init(&tx);
  tx.type = TX_CALL_RESULT;
  cx_tx_call_result *r = &tx.u.result;
  r->call = ch->call;
  r->status = CX_CALL_DONE;
  r->nin = 1;
  strcpy(r->in[0].domain, "hrss");
  tu_randbytes(r->in[0].root.b, 32);
  r->in[0].count = 1;
  tu_randbytes(r->in[0].leaf.b, 32);
  ck_assert_int_eq(tx_result_alloc(&tx, 1, 1), CX_OK);
  r->out[0].value = 1;
  tu_randbytes(r->transcript.b, 32);
  tx_result_statement(&chain_id, r, &ch->contract, &ch->consent, &ch->did[0], &st);
  tx_result_sig_msg(&st, NULL, 0, &msg);
  r->sigs[0].party = 0;
  ck_assert_int_eq(key_sign32(g_hrss.sign, msg.b, NULL, &r->sigs[0].sig), CX_OK);
  ch->result = commit(&tx, g_hrss.sign);
}

static const char *hex(const cx_hash *h) {
  static char buf[4][65];
  static int k;
  k = (k + 1) % 4;
  return hash_hex(h, buf[k]);
}

START_TEST(test_params) {
  static const char *const lists[] = {"tx_list", "identity_list", "consent_list_all", "contract_list", "call_list"};
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
    const char *m = lists[i];
    expect_err(m, "{\"limit\":0}", RPC_ERR_PARAMS, "params.limit: expected an integer from 1 to 100");
    expect_err(m, "{\"limit\":101}", RPC_ERR_PARAMS, "params.limit");
    expect_err(m, "{\"limit\":2.5}", RPC_ERR_PARAMS, "params.limit");
    expect_err(m, "{\"limit\":\"5\"}", RPC_ERR_PARAMS, "params.limit");
    expect_err(m, "{\"before\":5}", RPC_ERR_PARAMS, "params.before: expected a cursor");
    expect_err(m, "{\"before\":\"5\"}", RPC_ERR_PARAMS, "params.before: expected a cursor");
    expect_err(m, "{\"before\":\"0:0\"}", RPC_ERR_PARAMS, "params.before: expected a cursor");
    expect_err(m, "{\"before\":\"1:x\"}", RPC_ERR_PARAMS, "params.before: expected a cursor");
    expect_err(m, "{\"before\":\"1:-1\"}", RPC_ERR_PARAMS, "params.before: expected a cursor");
    expect_err(m, "{\"before\":\"1:2 \"}", RPC_ERR_PARAMS, "params.before: expected a cursor");
    expect_err(m, "{\"before\":\"3:0\"}", RPC_ERR_PARAMS, "params.before: height 3 is above the tip (0)");
    /* an empty chain: an empty page, the end */
    cJSON *r = expect_ok(m, "{\"before\":\"1:0\"}");
    ck_assert(cJSON_IsNull(get(r, "next")));
    cJSON_Delete(r);
  }
  expect_err("block_list", "{\"limit\":0}", RPC_ERR_PARAMS, "params.limit");
  expect_err("block_list", "{\"from\":0}", RPC_ERR_PARAMS, "params.from: blocks start at height 1");
  expect_err("block_list", "{\"from\":-1}", RPC_ERR_PARAMS, "params.from: expected a non-negative integer");
  expect_err("block_list", "{\"from\":1}", RPC_ERR_PARAMS, "params.from: 1 is above the tip (0)");
  expect_err("tx_list", "{\"type\":\"nope\"}", RPC_ERR_PARAMS, "params.type: not a transaction type");
  expect_err("tx_list", "{\"type\":3}", RPC_ERR_PARAMS, "params.type");
  expect_err("call_list", "{\"contract\":\"ab\"}", RPC_ERR_PARAMS, "params.contract: expected 64 hex digits");
  expect_err("call_list", "{\"did\":7}", RPC_ERR_PARAMS, "params.did: expected 64 hex digits");
  expect_err("consent_list_all", "{\"did\":\"zz\"}", RPC_ERR_PARAMS, "params.did: expected 64 hex digits");
  cJSON *r = expect_ok("block_list", "{}");
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "blocks")), 0);
  ck_assert_double_eq(num(r, "tip"), 0);
  ck_assert(cJSON_IsNull(get(r, "next")));
  cJSON_Delete(r);
}
END_TEST

/* Every page of `method` with limit, following next: the keys `key` of the
 * items of array `arr`, newest first, into out (cap n). */
static size_t all_pages(const char *method, const char *extra, int limit, const char *arr, const char *key,
                        char out[][65], size_t cap, size_t *pages) {
  char params[256], next[64] = "";
  size_t n = 0;
  *pages = 0;
  for (;;) {
    if (next[0]) snprintf(params, sizeof params, "{\"limit\":%d,\"before\":\"%s\"%s}", limit, next, extra);
    else snprintf(params, sizeof params, "{\"limit\":%d%s}", limit, extra);
    cJSON *r = expect_ok(method, params);
    const cJSON *a = get(r, arr), *it;
    ck_assert_int_le(cJSON_GetArraySize(a), limit);
    cJSON_ArrayForEach(it, a) {
      ck_assert_uint_lt(n, cap);
      snprintf(out[n++], 65, "%s", str(it, key));
    }
    (*pages)++;
    ck_assert_uint_lt(*pages, 50);
    const cJSON *nx = get(r, "next");
    if (cJSON_IsNull(nx)) {
      cJSON_Delete(r);
      return n;
    }
    ck_assert(cJSON_IsString(nx));
    snprintf(next, sizeof next, "%s", nx->valuestring);
    cJSON_Delete(r);
  }
}

START_TEST(test_paging) {
  chain ch;
  make_chain(&ch);
  uint64_t tip = store_height(node_store(g_node)); /* 4 + deploy, approve, consent, call */
  ck_assert_uint_eq(tip, 8);

  /* identities: 5, newest first, whatever the page size; the two of block
   * 4 in reverse order of their index */
  for (int limit = 1; limit <= 6; limit++) {
    char ids[16][65];
    size_t pages, n = all_pages("identity_list", "", limit, "identities", "did", ids, 16, &pages);
    ck_assert_uint_eq(n, 5);
    for (int i = 0; i < 5; i++) ck_assert_str_eq(ids[i], hex(&ch.did[4 - i]));
    ck_assert_uint_eq(pages, (size_t)(5 + limit - 1) / (size_t)limit);
  }
  /* a cursor inside block 4: only what is before its second transaction */
  cJSON *r = expect_ok("identity_list", "{\"before\":\"4:1\"}");
  const cJSON *a = get(r, "identities");
  ck_assert_int_eq(cJSON_GetArraySize(a), 4);
  ck_assert_str_eq(str(cJSON_GetArrayItem(a, 0), "did"), hex(&ch.did[3]));
  ck_assert_double_eq(num(cJSON_GetArrayItem(a, 0), "registered_height"), 4);
  ck_assert(cJSON_IsNull(get(r, "next")));
  cJSON_Delete(r);
  /* the page that ends at a block's boundary names the block below */
  r = expect_ok("identity_list", "{\"limit\":2}");
  ck_assert_str_eq(str(r, "next"), "4:0");
  cJSON_Delete(r);
  r = expect_ok("identity_list", "{\"limit\":1}");
  ck_assert_str_eq(str(r, "next"), "4:1");
  cJSON_Delete(r);

  /* every transaction, and the type filter */
  char txs[16][65];
  size_t pages, n = all_pages("tx_list", "", 3, "txs", "txid", txs, 16, &pages);
  ck_assert_uint_eq(n, 9);
  ck_assert_str_eq(txs[0], hex(&ch.call));
  ck_assert_str_eq(txs[1], hex(&ch.consent));
  n = all_pages("tx_list", ",\"type\":\"identity_register\"", 2, "txs", "txid", txs, 16, &pages);
  ck_assert_uint_eq(n, 5);
  r = expect_ok("tx_list", "{\"limit\":1}");
  const cJSON *t = cJSON_GetArrayItem(get(r, "txs"), 0);
  ck_assert_str_eq(str(t, "type"), "call");
  ck_assert_double_eq(num(t, "height"), 8);
  ck_assert_double_eq(num(t, "index"), 0);
  ck_assert_double_eq(num(t, "code"), 0);
  ck_assert_str_eq(str(t, "rule"), "ok");
  cx_pubkey ik;
  key_public(g_insurer.sign, &ik);
  ck_assert_str_eq(str(t, "sender"), hex((const cx_hash *)&ik));
  cJSON_Delete(r);

  /* blocks */
  r = expect_ok("block_list", "{\"limit\":3}");
  a = get(r, "blocks");
  ck_assert_int_eq(cJSON_GetArraySize(a), 3);
  ck_assert_double_eq(num(cJSON_GetArrayItem(a, 0), "height"), 8);
  ck_assert_double_eq(num(cJSON_GetArrayItem(a, 2), "height"), 6);
  ck_assert_double_eq(num(r, "next"), 5);
  ck_assert_double_eq(num(r, "tip"), 8);
  const cJSON *b0 = cJSON_GetArrayItem(a, 0);
  cx_hash bh;
  ck_assert_int_eq(store_block_hash(node_store(g_node), 8, &bh), CX_OK);
  ck_assert_str_eq(str(b0, "hash"), hex(&bh));
  ck_assert_double_eq(num(b0, "ntx"), 1);
  ck_assert_str_eq(str(b0, "proposer_name"), "hrss");
  ck_assert_double_eq(num(b0, "votes"), 1);
  cJSON_Delete(r);
  r = expect_ok("block_list", "{\"from\":4,\"limit\":100}");
  a = get(r, "blocks");
  ck_assert_int_eq(cJSON_GetArraySize(a), 4);
  ck_assert_double_eq(num(cJSON_GetArrayItem(a, 0), "ntx"), 2);
  ck_assert(cJSON_IsNull(get(r, "next")));
  cJSON_Delete(r);
  expect_err("block_list", "{\"from\":9}", RPC_ERR_PARAMS, "params.from: 9 is above the tip (8)");
  expect_err("identity_list", "{\"before\":\"10:0\"}", RPC_ERR_PARAMS, "params.before: height 10 is above the tip (8)");
  r = expect_ok("identity_list", "{\"before\":\"9:0\"}"); /* the tip's successor: everything */
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "identities")), 5);
  cJSON_Delete(r);
}
END_TEST

START_TEST(test_items) {
  chain ch;
  make_chain(&ch);
  /* a pending call */
  cJSON *r = expect_ok("call_list", "{}");
  const cJSON *a = get(r, "calls");
  ck_assert_int_eq(cJSON_GetArraySize(a), 1);
  const cJSON *c = cJSON_GetArrayItem(a, 0);
  ck_assert_str_eq(str(c, "txid"), hex(&ch.call));
  ck_assert_str_eq(str(c, "status"), "pending");
  ck_assert_str_eq(str(c, "contract"), hex(&ch.contract));
  ck_assert_str_eq(str(c, "did"), hex(&ch.did[0]));
  ck_assert_str_eq(str(c, "insurer"), "insurer");
  ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(c, "result_txid"));
  cJSON_Delete(r);

  close_call(&ch);
  char p[200];
  snprintf(p, sizeof p, "{\"contract\":\"%s\"}", hex(&ch.contract));
  r = expect_ok("call_list", p);
  c = cJSON_GetArrayItem(get(r, "calls"), 0);
  ck_assert_str_eq(str(c, "status"), "done");
  ck_assert_str_eq(str(c, "result_txid"), hex(&ch.result));
  ck_assert_double_eq(num(c, "result_height"), 9);
  ck_assert_str_eq(str(c, "proof"), "quorum");
  ck_assert_double_eq(num(c, "signatures"), 1);
  ck_assert_double_eq(num(c, "public_outputs"), 1);
  cJSON_Delete(r);
  /* filters that match nothing */
  snprintf(p, sizeof p, "{\"contract\":\"%s\"}", hex(&ch.consent));
  r = expect_ok("call_list", p);
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "calls")), 0);
  ck_assert(cJSON_IsNull(get(r, "next")));
  cJSON_Delete(r);
  snprintf(p, sizeof p, "{\"did\":\"did:custos:%s\"}", hex(&ch.did[1]));
  r = expect_ok("call_list", p);
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "calls")), 0);
  cJSON_Delete(r);

  /* the consent and its use */
  r = expect_ok("consent_list_all", "{}");
  a = get(r, "consents");
  ck_assert_int_eq(cJSON_GetArraySize(a), 1);
  c = cJSON_GetArrayItem(a, 0);
  ck_assert_str_eq(str(c, "id"), hex(&ch.consent));
  ck_assert_double_eq(num(c, "uses"), 1);
  ck_assert_double_eq(num(c, "quota"), 3);
  ck_assert_double_eq(num(c, "granted_height"), 7);
  ck_assert(cJSON_IsTrue(get(c, "live")));
  ck_assert(cJSON_IsFalse(get(c, "revoked")));
  cJSON_Delete(r);
  snprintf(p, sizeof p, "{\"did\":\"%s\"}", hex(&ch.did[2]));
  r = expect_ok("consent_list_all", p);
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "consents")), 0);
  cJSON_Delete(r);

  /* the contract and its approval */
  r = expect_ok("contract_list", "{}");
  a = get(r, "contracts");
  ck_assert_int_eq(cJSON_GetArraySize(a), 1);
  c = cJSON_GetArrayItem(a, 0);
  ck_assert_str_eq(str(c, "id"), hex(&ch.contract));
  ck_assert_str_eq(str(c, "name"), "q");
  ck_assert_str_eq(str(c, "deployer"), "insurer");
  ck_assert_str_eq(str(c, "status"), "approved");
  ck_assert(cJSON_IsTrue(get(c, "callable")));
  ck_assert_int_eq(cJSON_GetArraySize(get(c, "approvals")), 1);
  ck_assert_str_eq(cJSON_GetArrayItem(get(c, "approvals"), 0)->valuestring, "hrss");
  ck_assert_double_eq(num(c, "deployed_height"), 5);
  cJSON_Delete(r);

  /* an identity: attestations counted from the state */
  r = expect_ok("identity_list", "{\"limit\":100}");
  c = cJSON_GetArrayItem(get(r, "identities"), 4);
  ck_assert_str_eq(str(c, "did"), hex(&ch.did[0]));
  ck_assert_double_eq(num(c, "registered_height"), 1);
  ck_assert_double_eq(num(c, "attestations"), 0);
  ck_assert(cJSON_IsFalse(get(c, "revoked")));
  cJSON_Delete(r);
}
END_TEST

/* A rejected transaction is in tx_list (with its rule) but makes no item
 * in the lists of records. */
START_TEST(test_rejected) {
  cx_tx tx;
  keystore_keys k1, k2;
  cx_hash did, other;
  /* two subjects register the same DID in one block: the second is refused
   * (both pass admission, which checks against the committed state) */
  register_tx(&tx, &did, &k1);
  submit(&tx, k1.sign, 0);
  register_tx(&tx, &other, &k2);
  tx.u.reg.did = did;
  cx_hash id = submit(&tx, k2.sign, 0);
  produce(2);
  keystore_keys_free(&k1);
  keystore_keys_free(&k2);
  cJSON *r = expect_ok("identity_list", "{}");
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "identities")), 1);
  cJSON_Delete(r);
  r = expect_ok("tx_list", "{}");
  const cJSON *t = cJSON_GetArrayItem(get(r, "txs"), 0);
  ck_assert_str_eq(str(t, "txid"), hex(&id));
  ck_assert_double_ne(num(t, "code"), 0);
  cJSON_Delete(r);
}
END_TEST

/* ---- member_history ---- */

/* hrss proposes (with one validator a proposal applies at once); skip as
 * in submit. */
static cx_hash gov_propose(int action, const cx_member *m, uint64_t skip) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_MEMBER_PROPOSE;
  tx.u.propose.action = (uint8_t)action;
  tx.u.propose.member = *m;
  tx.u.propose.expires = 1000;
  return submit(&tx, g_hrss.sign, skip);
}

/* A rekey of insurer to fresh keys. */
static cx_member rekey_insurer(void) {
  cx_member m;
  memset(&m, 0, sizeof m);
  strcpy(m.name, "insurer");
  cx_seckey *k = key_generate();
  ck_assert_ptr_nonnull(k);
  key_public(k, &m.key);
  key_free(k);
  tu_randbytes(m.enc_key, 32);
  return m;
}

/* Item i of a member_history answer is txid id at (height, index): its raw
 * bytes hash to it and decode to a governance transaction, its proof is
 * tx_proof's answer. */
static void history_item(const cJSON *it, const cx_hash *id, double height, double index) {
  ck_assert_str_eq(str(it, "txid"), hex(id));
  ck_assert_double_eq(num(it, "height"), height);
  ck_assert_double_eq(num(it, "index"), index);
  const char *raw = str(it, "raw");
  size_t n = strlen(raw) / 2, got = 0;
  uint8_t *b = malloc(n);
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(hex_decode_var(raw, b, n, &got), CX_OK);
  cx_hash rid;
  tx_id_of_bytes(b, got, &rid);
  ck_assert(hash_eq(&rid, id));
  cx_tx tx;
  ck_assert_int_eq(tx_decode(b, got, &tx, NULL), CX_OK);
  ck_assert(tx.type == TX_MEMBER_PROPOSE || tx.type == TX_MEMBER_APPROVE);
  tx_clear(&tx);
  free(b);
  char params[100];
  snprintf(params, sizeof params, "{\"txid\":\"%s\"}", hex(id));
  cJSON *proof = expect_ok("tx_proof", params);
  ck_assert_msg(cJSON_Compare(get(it, "proof"), proof, 1), "the proof is not tx_proof's");
  cJSON_Delete(proof);
}

START_TEST(test_member_history) {
  uint64_t scanned, reads;
  /* an empty chain */
  cJSON *r = expect_ok("member_history", "{}");
  ck_assert_double_eq(num(r, "to_height"), 0);
  ck_assert_double_eq(num(r, "total"), 0);
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "txs")), 0);
  ck_assert(cJSON_IsNull(get(r, "next")));
  cJSON_Delete(r);
  expect_err("member_history", "{\"to_height\":1}", RPC_ERR_PARAMS, "params.to_height: 1 is above the tip (0)");
  expect_err("member_history", "{\"to_height\":-1}", RPC_ERR_PARAMS, "params.to_height");
  expect_err("member_history", "{\"start\":1}", RPC_ERR_PARAMS, "params.start: 1 is past the end of the list (0");

  /* 1: an identity; 2: insurer2 admitted; 3: insurer3 admitted, and
   * again (refused: member_exists); 4: insurer rekeyed, insurer2 removed,
   * and an approval of insurer2's closed proposal (refused). A refusal is
   * made inside a block: the dry run at admission only runs on the
   * sender's first pending transaction. */
  cx_tx tx;
  cx_hash did, ids[4];
  keystore_keys subj, i2, i3;
  register_tx(&tx, &did, &subj);
  commit(&tx, subj.sign);
  keystore_keys_free(&subj);
  ck_assert_int_eq(keystore_generate(&i2), CX_OK);
  ck_assert_int_eq(keystore_generate(&i3), CX_OK);
  cx_member m2, m3;
  nu_member(&m2, "insurer2", ROLE_INSURER, &i2, "", "");
  nu_member(&m3, "insurer3", ROLE_INSURER, &i3, "", "");
  keystore_keys_free(&i2);
  keystore_keys_free(&i3);
  ids[0] = gov_propose(GOV_ADD, &m2, 0);
  produce(1);
  ids[1] = gov_propose(GOV_ADD, &m3, 0);
  gov_propose(GOV_ADD, &m3, 1);
  produce(2);
  cx_member rk = rekey_insurer(), rm;
  memset(&rm, 0, sizeof rm);
  strcpy(rm.name, "insurer2");
  ids[2] = gov_propose(GOV_REKEY, &rk, 0);
  ids[3] = gov_propose(GOV_REMOVE, &rm, 1);
  tx_init(&tx);
  tx.type = TX_MEMBER_APPROVE;
  tx.u.approve.proposal = ids[0];
  submit(&tx, g_hrss.sign, 2);
  produce(3);

  r = expect_ok("member_history", "{}");
  ck_assert_double_eq(num(r, "to_height"), 4);
  ck_assert_double_eq(num(r, "total"), 4);
  ck_assert(cJSON_IsNull(get(r, "next")));
  const cJSON *txs = get(r, "txs");
  ck_assert_int_eq(cJSON_GetArraySize(txs), 4);
  history_item(cJSON_GetArrayItem(txs, 0), &ids[0], 2, 0);
  history_item(cJSON_GetArrayItem(txs, 1), &ids[1], 3, 0);
  history_item(cJSON_GetArrayItem(txs, 2), &ids[2], 4, 0);
  history_item(cJSON_GetArrayItem(txs, 3), &ids[3], 4, 1);
  cJSON_Delete(r);
  api_member_history_stats(g_node, &scanned, &reads);
  ck_assert_uint_eq(scanned, 4);
  ck_assert_uint_eq(reads, 4);

  /* up to a height: from the cache, no block read again */
  r = expect_ok("member_history", "{\"to_height\":3}");
  ck_assert_double_eq(num(r, "to_height"), 3);
  ck_assert_double_eq(num(r, "total"), 2);
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "txs")), 2);
  history_item(cJSON_GetArrayItem(get(r, "txs"), 1), &ids[1], 3, 0);
  cJSON_Delete(r);
  r = expect_ok("member_history", "{\"to_height\":1}");
  ck_assert_double_eq(num(r, "total"), 0);
  cJSON_Delete(r);
  r = expect_ok("member_history", "{\"start\":3}");
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "txs")), 1);
  history_item(cJSON_GetArrayItem(get(r, "txs"), 0), &ids[3], 4, 1);
  cJSON_Delete(r);
  r = expect_ok("member_history", "{\"start\":4}"); /* the end: an empty page */
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "txs")), 0);
  ck_assert(cJSON_IsNull(get(r, "next")));
  cJSON_Delete(r);
  api_member_history_stats(g_node, &scanned, &reads);
  ck_assert_uint_eq(reads, 4);

  /* 105 more in blocks 5 and 6: only those two are read; pages of 100 */
  cx_hash more[105];
  for (uint64_t i = 0; i < 105; i++) {
    cx_member k = rekey_insurer();
    more[i] = gov_propose(GOV_REKEY, &k, i);
  }
  produce(100);
  produce(5);
  r = expect_ok("member_history", "{}");
  api_member_history_stats(g_node, &scanned, &reads);
  ck_assert_uint_eq(scanned, 6);
  ck_assert_uint_eq(reads, 6);
  ck_assert_double_eq(num(r, "total"), 109);
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "txs")), 100);
  ck_assert_double_eq(num(r, "next"), 100);
  history_item(cJSON_GetArrayItem(get(r, "txs"), 4), &more[0], 5, 0);
  cJSON_Delete(r);
  r = expect_ok("member_history", "{\"start\":100}");
  ck_assert_int_eq(cJSON_GetArraySize(get(r, "txs")), 9);
  ck_assert(cJSON_IsNull(get(r, "next")));
  history_item(cJSON_GetArrayItem(get(r, "txs"), 8), &more[104], 6, 4);
  cJSON_Delete(r);
  expect_err("member_history", "{\"start\":110}", RPC_ERR_PARAMS, "params.start: 110 is past the end");
  expect_err("member_history", "{\"to_height\":7}", RPC_ERR_PARAMS, "params.to_height: 7 is above the tip (6)");
}
END_TEST

/* The explorer's files on the GET hook: bytes as in node/explorer/, types. */
static void expect_asset(const char *path, const char *file, const char *ctype) {
  char *body = NULL, *want = NULL, fp[512];
  size_t len = 0, wl = 0;
  const char *ct = NULL;
  ck_assert_int_eq(metrics_http_get(g_node, path, &body, &len, &ct), 200);
  ck_assert_str_eq(ct, ctype);
  snprintf(fp, sizeof fp, "%s/node/explorer/%s", CUSTOS_SOURCE_DIR, file);
  ck_assert_int_eq(file_read_all(fp, 1 << 20, &want, &wl), CX_OK);
  ck_assert_uint_eq(len, wl);
  ck_assert(memcmp(body, want, wl) == 0);
  free(body);
  free(want);
}

START_TEST(test_static_files) {
  expect_asset("/explorer/", "index.html", "text/html; charset=utf-8");
  expect_asset("/explorer", "index.html", "text/html; charset=utf-8");
  expect_asset("/explorer/index.html", "index.html", "text/html; charset=utf-8");
  expect_asset("/explorer/app.js", "app.js", "text/javascript; charset=utf-8");
  expect_asset("/explorer/style.css", "style.css", "text/css; charset=utf-8");
  expect_asset("/explorer/favicon.svg", "favicon.svg", "image/svg+xml");
  static const char *const bad[] = {"/explorer/nope", "/explorer/app.js/", "/explorerx", "/explorer/../metrics",
                                    "/explorer//app.js", "/Explorer/", "/app.js"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *body = NULL;
    size_t len = 0;
    const char *ct = NULL;
    ck_assert_msg(metrics_http_get(g_node, bad[i], &body, &len, &ct) == 404, "%s", bad[i]);
    ck_assert_str_eq(ct, "text/plain; charset=utf-8");
    free(body);
  }
  /* the page's script has no inline HTML insertion of data */
  char *js = NULL, fp[512];
  size_t jl = 0;
  snprintf(fp, sizeof fp, "%s/node/explorer/app.js", CUSTOS_SOURCE_DIR);
  ck_assert_int_eq(file_read_all(fp, 1 << 20, &js, &jl), CX_OK);
  ck_assert_ptr_null(strstr(js, "innerHTML"));
  ck_assert_ptr_null(strstr(js, "outerHTML"));
  ck_assert_ptr_null(strstr(js, "insertAdjacentHTML"));
  ck_assert_ptr_null(strstr(js, "document.write"));
  ck_assert_ptr_null(strstr(js, "eval("));
  ck_assert_ptr_null(strstr(js, "admin_"));
  ck_assert_ptr_null(strstr(js, "http://"));
  ck_assert_ptr_null(strstr(js, "https://"));
  free(js);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("api_lists");
  TCase *tc = tcase_create("lists");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_params);
  tcase_add_test(tc, test_paging);
  tcase_add_test(tc, test_items);
  tcase_add_test(tc, test_rejected);
  tcase_add_test(tc, test_member_history);
  tcase_add_test(tc, test_static_files);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
