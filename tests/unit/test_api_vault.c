/* Tests for the admin_vault_* methods of node/api.c on an in-process node
 * (node_open without node_start; requests through rpc_handle_body): every
 * refusal with its code and the place its detail names, nothing written by
 * a refused call, the no-cookie refusal, a node without a vault, schema,
 * import, status (filters, roots), rotation with its key id file, and
 * anchoring a domain's root on chain (admin_vault_anchor, anchor_get).
 *
 * Consortium: hrss (bureau, validator, domain hrss), civil (bureau, domain
 * civil, not a validator); a second chain whose only validator owns no
 * domain has no vault. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "store.h"
#include "fileutil.h"
#include "genesis.h"
#include "keystore.h"
#include "log.h"
#include "node.h"
#include "node_internal.h"
#include "node_vault.h"
#include "nodeutil.h"
#include "testutil.h"
#include "vault.h"

static char *g_dir;
static node *g_node;

/* A chain in dir whose validator hrss owns `domain` ("" for none); opens it. */
static node *open_chain(const char *dir, const char *domain) {
  keystore_keys val, civil;
  char err[256] = "";
  ck_assert_int_eq(keystore_generate(&val), CX_OK);
  ck_assert_int_eq(keystore_generate(&civil), CX_OK);
  nu_keystore_save(dir, &val);
  cx_member m[2];
  nu_member(&m[0], "hrss", ROLE_BUREAU, &val, "tcp://127.0.0.1:1", domain);
  nu_member(&m[1], "civil", ROLE_BUREAU, &civil, "", "civil");
  nu_genesis_write(dir, "vaulttest", m, 2);
  keystore_keys_free(&val);
  keystore_keys_free(&civil);
  node_config cfg;
  nu_config(&cfg, dir, "hrss");
  node *n = NULL;
  ck_assert_msg(node_open(&cfg, &n, err, sizeof err) == CX_OK, "node_open: %s", err);
  return n;
}

static void setup(void) {
  log_set_level(LOG_WARN);
  g_dir = tu_tmpdir("apivault");
  g_node = open_chain(g_dir, "hrss");
}

static void teardown(void) {
  node_close(g_node);
  tu_rmrf(g_dir);
  free(g_dir);
}

/* Calls method with params (JSON text) on n; returns the parsed response. */
static cJSON *call_on(node *n, const char *method, const char *params, int admin_ok) {
  const rpc_method *ms;
  size_t nm;
  api_methods(&ms, &nm);
  size_t bl = strlen(params) + strlen(method) + 64;
  char *body = malloc(bl);
  ck_assert_ptr_nonnull(body);
  snprintf(body, bl, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"%s\",\"params\":%s}", method, params);
  char *out = rpc_handle_body(ms, nm, n, body, strlen(body), admin_ok, 16);
  free(body);
  ck_assert_ptr_nonnull(out);
  cJSON *r = cJSON_Parse(out);
  free(out);
  ck_assert_ptr_nonnull(r);
  return r;
}

static cJSON *call(const char *method, const char *params) { return call_on(g_node, method, params, 1); }

/* The call must fail with code, its detail starting with (or, for a
 * leading '*', containing) what; NULL: no detail check. */
static void expect_err_on(node *n, const char *method, const char *params, int code, const char *what) {
  cJSON *r = call_on(n, method, params, 1);
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e, "data"), "detail");
  char *txt = cJSON_PrintUnformatted(r);
  ck_assert_msg(cJSON_IsNumber(c) && c->valueint == code, "%s %s: want code %d, got %s", method, params, code,
                txt);
  if (what) {
    const char *dt = cJSON_IsString(d) ? d->valuestring : "";
    int ok = what[0] == '*' ? strstr(dt, what + 1) != NULL : strncmp(dt, what, strlen(what)) == 0;
    ck_assert_msg(ok, "%s %s: detail \"%s\", want \"%s\"", method, params, dt, what);
  }
  free(txt);
  cJSON_Delete(r);
}

static void expect_err(const char *method, const char *params, int code, const char *what) {
  expect_err_on(g_node, method, params, code, what);
}

/* Without the admin checks passed (no cookie): unauthorized. */
static void expect_auth(node *n, const char *method, const char *params) {
  cJSON *r = call_on(n, method, params, 0);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "error"), "code");
  ck_assert_msg(cJSON_IsNumber(c) && c->valueint == CX_E_AUTH, "%s without the cookie answered", method);
  cJSON_Delete(r);
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

static const char SCHEMA[] =
    "{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"age\",\"type\":\"int\",\"min\":0,\"max\":150},"
    "{\"name\":\"smoker\",\"type\":\"bool\"},{\"name\":\"score\",\"type\":\"int\","
    "\"min\":\"-9223372036854775808\",\"max\":\"9223372036854775807\"}]}}";

/* {"domain":"hrss","records":[n records from DID number `from`]} with
 * record `bad` (if < n) given `bad_values` instead. malloc'd. */
static char *records(size_t from, size_t n, size_t bad, const char *bad_values) {
  size_t cap = 200 * n + 256, l = 0;
  char *p = malloc(cap);
  ck_assert_ptr_nonnull(p);
  l += (size_t)snprintf(p, cap, "{\"domain\":\"hrss\",\"records\":[");
  for (size_t i = 0; i < n; i++) {
    char vals[128];
    snprintf(vals, sizeof vals, "{\"age\":%zu,\"smoker\":%s,\"score\":%lld}", (from + i) % 151,
             i % 2 ? "true" : "0", (long long)(from + i) * -1000);
    l += (size_t)snprintf(p + l, cap - l, "%s{\"did\":\"%064zx\",\"values\":%s}", i ? "," : "", from + i + 1,
                          i == bad ? bad_values : vals);
  }
  snprintf(p + l, cap - l, "]}");
  return p;
}

static uint64_t count(void) {
  cJSON *r = expect_ok("admin_vault_status", "{\"domain\":\"hrss\",\"root\":false}");
  const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "domains"), 0);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(d, "records");
  ck_assert(cJSON_IsNumber(c));
  ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(d, "root"));
  uint64_t v = (uint64_t)c->valuedouble;
  cJSON_Delete(r);
  return v;
}

static void root_hex(char out[65]) {
  cJSON *r = expect_ok("admin_vault_status", "{}");
  const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "domains"), 0);
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(d, "root");
  ck_assert(cJSON_IsString(h) && strlen(h->valuestring) == 64);
  strcpy(out, h->valuestring);
  cJSON_Delete(r);
}

START_TEST(test_schema) {
  expect_err("admin_vault_import", "{\"domain\":\"hrss\",\"records\":[{\"did\":\"00\",\"values\":{}}]}",
             CX_E_NOT_FOUND, "domain 'hrss' has no schema yet");
  cJSON *r = expect_ok("admin_vault_status", "{}");
  ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(
      cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "domains"), 0), "fields")));
  cJSON_Delete(r);

  static const struct {
    const char *params;
    int code;
    const char *what;
  } bad[] = {
      {"{}", RPC_ERR_PARAMS, "params.schema: expected an object"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[],\"x\":1}}", RPC_ERR_PARAMS,
       "params.schema: unknown member \"x\""},
      {"{\"schema\":{\"domain\":\"HRSS\",\"fields\":[]}}", RPC_ERR_PARAMS,
       "params.schema.domain: not a domain"},
      {"{\"schema\":{\"domain\":\"health\",\"fields\":[]}}", CX_E_DOMAIN_UNKNOWN,
       "domain 'health': no bureau"},
      {"{\"schema\":{\"domain\":\"civil\",\"fields\":[]}}", CX_E_NOT_OWNER_BUREAU,
       "domain 'civil' belongs to bureau 'civil', not to this node's member 'hrss'"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[]}}", RPC_ERR_PARAMS, "params.schema.fields: 0 fields"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":{}}}", RPC_ERR_PARAMS,
       "params.schema.fields: expected an array"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"a\",\"type\":\"float\"}]}}", RPC_ERR_PARAMS,
       "params.schema.fields[0].type"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"a\",\"type\":\"int\",\"min\":0}]}}",
       RPC_ERR_PARAMS, "params.schema.fields[0]: an int field needs min and max"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"a\",\"type\":\"int\",\"min\":0,"
       "\"max\":1.5}]}}", RPC_ERR_PARAMS, "params.schema.fields[0].max: expected an integer"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"a\",\"type\":\"int\",\"min\":0,\"max\":1,"
       "\"unit\":\"kg\"}]}}", RPC_ERR_PARAMS, "params.schema.fields[0]: unknown member \"unit\""},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"Age\",\"type\":\"bool\"}]}}",
       CX_E_INVALID_ARG, "field 0: name is not"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
       "\"type\":\"bool\"}]}}", RPC_ERR_PARAMS, "params.schema.fields[0].name"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"a\",\"type\":\"bool\",\"max\":5}]}}",
       CX_E_INVALID_ARG, "a: a bool field's range must be 0..1"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"a\",\"type\":\"int\",\"min\":5,"
       "\"max\":4}]}}", CX_E_INVALID_ARG, "a: range 5..4 is empty"},
      {"{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"a\",\"type\":\"bool\"},{\"name\":\"a\","
       "\"type\":\"bool\"}]}}", CX_E_INVALID_ARG, "a: duplicate field"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    expect_err("admin_vault_schema_set", bad[i].params, bad[i].code, bad[i].what);
  r = expect_ok("admin_vault_schema_set", SCHEMA);
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "fields");
  ck_assert_int_eq(cJSON_GetArraySize(f), 3);
  ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(f, 1), "max")->valueint, 1);
  ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(f, 2), "min")->valuestring,
                   "-9223372036854775808"); /* beyond 2^53: a decimal string */
  cJSON_Delete(r);
  cJSON_Delete(expect_ok("admin_vault_schema_set", SCHEMA)); /* the same again: a no-op */
  r = expect_ok("admin_vault_status", "{}");
  const cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "domains"), 0);
  ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "fields")), 3);
  ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(d, "records")->valueint, 0);
  cJSON_Delete(r);
}
END_TEST

START_TEST(test_import) {
  cJSON_Delete(expect_ok("admin_vault_schema_set", SCHEMA));
  char *p = records(0, 1000, SIZE_MAX, NULL);
  cJSON *r = expect_ok("admin_vault_import", p);
  free(p);
  ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(r, "imported")->valueint, 1000);
  cJSON_Delete(r);
  ck_assert_uint_eq(count(), 1000);
  char root[65], root2[65];
  root_hex(root);

  /* Each refusal: its code and place, and nothing written (the refused
   * calls carry 10 new DIDs, so any partial write would change the count). */
  static const struct {
    size_t bad;
    const char *values;
    int code;
    const char *what;
  } bad[] = {
      {3, "{\"age\":151,\"smoker\":0,\"score\":0}", CX_E_INVALID_ARG, "record 3: age: 151 is outside 0..150"},
      {9, "{\"age\":-1,\"smoker\":0,\"score\":0}", CX_E_INVALID_ARG, "record 9: age: -1 is outside"},
      {0, "{\"age\":1,\"smoker\":2,\"score\":0}", RPC_ERR_PARAMS,
       "params.records[0].values.smoker: expected true, false, 0 or 1"},
      {4, "{\"age\":1,\"smoker\":0}", RPC_ERR_PARAMS, "params.records[4].values.score: missing"},
      {4, "{\"age\":1,\"smoker\":0,\"score\":0,\"bmi\":3}", RPC_ERR_PARAMS,
       "params.records[4].values: \"bmi\" is not a field of domain hrss"},
      {4, "{\"age\":1,\"age\":2,\"smoker\":0,\"score\":0}", RPC_ERR_PARAMS,
       "params.records[4].values.age: given twice"},
      {5, "{\"age\":1.5,\"smoker\":0,\"score\":0}", RPC_ERR_PARAMS,
       "params.records[5].values.age: expected an integer"},
      {5, "{\"age\":1,\"smoker\":0,\"score\":9007199254740994}", RPC_ERR_PARAMS,
       "params.records[5].values.score: expected an integer"},
      {5, "{\"age\":1,\"smoker\":0,\"score\":\"9223372036854775808\"}", RPC_ERR_PARAMS,
       "params.records[5].values.score: beyond the int64 range"},
      {6, "[1]", RPC_ERR_PARAMS, "params.records[6].values: expected an object"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    p = records(5000, 10, bad[i].bad, bad[i].values);
    expect_err("admin_vault_import", p, bad[i].code, bad[i].what);
    free(p);
  }
  expect_err("admin_vault_import",
             "{\"domain\":\"hrss\",\"records\":[{\"did\":\"xyz\",\"values\":{\"age\":1,\"smoker\":0,"
             "\"score\":0}}]}",
             RPC_ERR_PARAMS, "params.records[0].did: expected 64 hex digits");
  expect_err("admin_vault_import",
             "{\"domain\":\"hrss\",\"records\":[{\"did\":\"00\",\"values\":{},\"x\":1}]}",
             RPC_ERR_PARAMS, "params.records[0]: unknown member \"x\"");
  expect_err("admin_vault_import", "{\"domain\":\"hrss\",\"records\":[5]}", RPC_ERR_PARAMS,
             "params.records[0]: expected an object");
  expect_err("admin_vault_import", "{\"domain\":\"hrss\",\"records\":[]}", RPC_ERR_PARAMS,
             "params.records: 0 records");
  expect_err("admin_vault_import", "{\"domain\":\"hrss\",\"records\":{}}", RPC_ERR_PARAMS,
             "params.records: expected an array");
  expect_err("admin_vault_import", "{\"records\":[]}", RPC_ERR_PARAMS, "*domain");
  expect_err("admin_vault_import", "{\"domain\":\"civil\",\"records\":[1]}", CX_E_NOT_OWNER_BUREAU, NULL);
  expect_err("admin_vault_import", "{\"domain\":\"health\",\"records\":[1]}", CX_E_DOMAIN_UNKNOWN, NULL);
  p = records(5000, 1001, SIZE_MAX, NULL);
  expect_err("admin_vault_import", p, RPC_ERR_PARAMS, "params.records: 1001 records, expected 1..1000");
  free(p);
  /* two records with one DID */
  p = records(5000, 3, SIZE_MAX, NULL);
  memcpy(strstr(p, "},{\"did\":\"") + 10,
         "0000000000000000000000000000000000000000000000000000000000001389", 64); /* = record 0's */
  expect_err("admin_vault_import", p, CX_E_INVALID_ARG, "record 1: same did as record 0");
  free(p);
  /* no cookie: refused before anything runs */
  p = records(5000, 10, SIZE_MAX, NULL);
  expect_auth(g_node, "admin_vault_import", p);
  ck_assert_uint_eq(count(), 1000);
  root_hex(root2);
  ck_assert_str_eq(root, root2);

  /* The same 10 without the fault: stored. Imported again (as a re-run
   * import does), they are rewritten with the same values: same count, same
   * root. */
  cJSON_Delete(expect_ok("admin_vault_import", p));
  ck_assert_uint_eq(count(), 1010);
  root_hex(root2);
  ck_assert_str_ne(root, root2);
  cJSON_Delete(expect_ok("admin_vault_import", p));
  free(p);
  ck_assert_uint_eq(count(), 1010);
  root_hex(root);
  ck_assert_str_eq(root, root2);
  /* with records, the schema is fixed */
  expect_err("admin_vault_schema_set",
             "{\"schema\":{\"domain\":\"hrss\",\"fields\":[{\"name\":\"age\",\"type\":\"bool\"}]}}",
             CX_E_EXISTS,
             "hrss: the domain holds 1010 records");
}
END_TEST

START_TEST(test_status_rotate) {
  cJSON_Delete(expect_ok("admin_vault_schema_set", SCHEMA));
  char *p = records(0, 50, SIZE_MAX, NULL);
  cJSON_Delete(expect_ok("admin_vault_import", p));
  free(p);
  char root[65], root2[65];
  root_hex(root);
  cJSON *r = expect_ok("admin_vault_status", "{}");
  ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(r, "key_id")->valueint, 1);
  ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(r, "access_log")->valueint, 0);
  ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "domains")), 1);
  cJSON_Delete(r);
  expect_err("admin_vault_status", "{\"root\":1}", RPC_ERR_PARAMS, "params.root: expected true or false");
  expect_err("admin_vault_status", "{\"domain\":\"civil\"}", CX_E_NOT_OWNER_BUREAU, NULL);
  expect_err("admin_vault_status", "{\"domain\":5}", RPC_ERR_PARAMS, NULL);
  expect_auth(g_node, "admin_vault_status", "{}");
  expect_auth(g_node, "admin_vault_rotate", "{}");
  expect_auth(g_node, "admin_vault_schema_set", SCHEMA);

  r = expect_ok("admin_vault_rotate", "{}");
  ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(r, "key_id")->valueint, 2);
  ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(r, "warning"));
  cJSON_Delete(r);
  char path[600], *text = NULL;
  snprintf(path, sizeof path, "%s/data/vault.keyid", g_dir);
  ck_assert_int_eq(file_read_all(path, 64, &text, NULL), CX_OK);
  ck_assert_str_eq(text, "2\n");
  free(text);
  ck_assert_uint_eq(count(), 50);
  root_hex(root2);
  ck_assert_str_eq(root, root2);

  /* closed and opened again: key id 2 from the file, same records */
  node_close(g_node);
  node_config cfg;
  config_defaults(&cfg);
  strcpy(cfg.name, "hrss");
  snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s/data", g_dir);
  snprintf(cfg.genesis, sizeof cfg.genesis, "%s/genesis.json", g_dir);
  snprintf(cfg.keystore, sizeof cfg.keystore, "%s/key.json", g_dir);
  char err[256] = "";
  g_node = NULL;
  ck_assert_msg(node_open(&cfg, &g_node, err, sizeof err) == CX_OK, "%s", err);
  r = expect_ok("admin_vault_status", "{}");
  ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(r, "key_id")->valueint, 2);
  cJSON_Delete(r);
  root_hex(root2);
  ck_assert_str_eq(root, root2);
}
END_TEST

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  ck_assert_msg(cJSON_IsString(v), "no string %s", k);
  return v->valuestring;
}

static double jnum(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  ck_assert_msg(cJSON_IsNumber(v), "no number %s", k);
  return v->valuedouble;
}

/* admin_vault_anchor puts the current root on chain (signed by the member
 * key, admitted to the mempool); once committed, anchor_get finds it. */
START_TEST(test_anchor) {
  expect_err("admin_vault_anchor", "{\"domain\":\"hrss\"}", CX_E_NOT_FOUND, "domain 'hrss' holds no records");
  cJSON_Delete(expect_ok("admin_vault_schema_set", SCHEMA));
  expect_err("admin_vault_anchor", "{\"domain\":\"hrss\"}", CX_E_NOT_FOUND, "domain 'hrss' holds no records");
  expect_err("admin_vault_anchor", "{}", RPC_ERR_PARAMS, NULL);
  expect_err("admin_vault_anchor", "{\"domain\":\"HRSS\"}", RPC_ERR_PARAMS, "params.domain: not a domain");
  expect_err("admin_vault_anchor", "{\"domain\":\"civil\"}", CX_E_NOT_OWNER_BUREAU,
             "domain 'civil' belongs to bureau 'civil'");
  expect_err("admin_vault_anchor", "{\"domain\":\"tax\"}", CX_E_DOMAIN_UNKNOWN, NULL);
  expect_auth(g_node, "admin_vault_anchor", "{\"domain\":\"hrss\"}");
  char *p = records(0, 20, SIZE_MAX, NULL);
  cJSON_Delete(expect_ok("admin_vault_import", p));
  free(p);
  char root[65];
  root_hex(root);

  cJSON *r = expect_ok("admin_vault_anchor", "{\"domain\":\"hrss\"}");
  ck_assert_str_eq(jstr(r, "domain"), "hrss");
  ck_assert_str_eq(jstr(r, "root"), root);
  ck_assert(jnum(r, "count") == 20);
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "submitted")));
  char txid[65];
  strcpy(txid, jstr(r, "txid"));
  cJSON_Delete(r);
  char q[256];
  snprintf(q, sizeof q, "{\"domain\":\"hrss\",\"root\":\"%s\"}", root);
  expect_err("anchor_get", q, CX_E_NOT_FOUND, "domain hrss: this root is not anchored on chain");

  size_t ntx = 0;
  ck_assert_int_eq(node_produce_block(g_node, &ntx), CX_OK);
  ck_assert_uint_eq(ntx, 1);
  uint64_t h = store_height(node_store(g_node));
  r = expect_ok("anchor_get", q);
  ck_assert_str_eq(jstr(r, "domain"), "hrss");
  ck_assert_str_eq(jstr(r, "root"), root);
  ck_assert(jnum(r, "count") == 20);
  ck_assert(jnum(r, "height") == (double)h);
  ck_assert_str_eq(jstr(r, "txid"), txid);
  ck_assert_str_eq(jstr(r, "bureau"), "hrss");
  cJSON_Delete(r);
  /* committed with an ok receipt */
  cx_hash id;
  store_txloc loc;
  ck_assert_int_eq(hex_decode(txid, id.b, 32), CX_OK);
  ck_assert_int_eq(store_tx_get(node_store(g_node), &id, &loc), CX_OK);
  ck_assert_int_eq(loc.code, CX_OK);

  /* the same root again: nothing submitted, the anchoring on chain shown */
  r = expect_ok("admin_vault_anchor", "{\"domain\":\"hrss\"}");
  ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "submitted")));
  ck_assert_str_eq(jstr(r, "txid"), txid);
  ck_assert(jnum(r, "height") == (double)h);
  cJSON_Delete(r);
  ck_assert_int_eq(node_produce_block(g_node, &ntx), CX_OK);
  ck_assert_uint_eq(ntx, 0);

  /* a new record, a new root: a new anchoring, and the old one stays */
  p = records(20, 1, SIZE_MAX, NULL);
  cJSON_Delete(expect_ok("admin_vault_import", p));
  free(p);
  char root2[65];
  root_hex(root2);
  ck_assert_str_ne(root, root2);
  r = expect_ok("admin_vault_anchor", "{\"domain\":\"hrss\"}");
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "submitted")));
  ck_assert(jnum(r, "count") == 21);
  ck_assert_str_ne(jstr(r, "txid"), txid);
  cJSON_Delete(r);
  ck_assert_int_eq(node_produce_block(g_node, &ntx), CX_OK);
  ck_assert_uint_eq(ntx, 1);
  cJSON_Delete(expect_ok("anchor_get", q));
  snprintf(q, sizeof q, "{\"domain\":\"hrss\",\"root\":\"%s\"}", root2);
  r = expect_ok("anchor_get", q);
  ck_assert(jnum(r, "height") == (double)h + 1);
  cJSON_Delete(r);

  /* anchor_get's params */
  expect_err("anchor_get", "{\"domain\":\"hrss\"}", RPC_ERR_PARAMS, NULL);
  expect_err("anchor_get", "{\"domain\":\"hrss\",\"root\":\"abc\"}", RPC_ERR_PARAMS,
             "params.root: expected 64 hex digits");
  snprintf(q, sizeof q, "{\"domain\":\"Hrss\",\"root\":\"%s\"}", root2);
  expect_err("anchor_get", q, RPC_ERR_PARAMS, "params.domain: not a domain name");
  snprintf(q, sizeof q, "{\"domain\":\"civil\",\"root\":\"%s\"}", root2);
  expect_err("anchor_get", q, CX_E_NOT_FOUND, "domain civil: this root is not anchored");
}
END_TEST

/* Not a bureau: no vault is opened or created, and every method says so. */
/* A domain the vault holds but the member does not own (any more) is
 * still listed, after the owned ones and marked so. */
START_TEST(test_unowned_listed) {
  cJSON_Delete(expect_ok("admin_vault_schema_set", SCHEMA));
  node_vault *nv = node_vault_of(g_node);
  vault *v = node_vault_lock(nv);
  vault_schema s;
  memset(&s, 0, sizeof s);
  strcpy(s.domain, "civil");
  strcpy(s.fields[0].name, "x");
  s.fields[0].lo = 0; s.fields[0].hi = 5; s.nfields = 1;
  ck_assert_int_eq(vault_schema_set(v, &s, NULL, 0), CX_OK);
  strcpy(s.domain, "abc");
  ck_assert_int_eq(vault_schema_set(v, &s, NULL, 0), CX_OK);
  node_vault_unlock(nv);
  cJSON *r = expect_ok("admin_vault_status", "{}");
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "domains");
  ck_assert_int_eq(cJSON_GetArraySize(d), 3);
  ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 0), "domain")->valuestring, "hrss");
  ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 0), "owned")));
  ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 1), "domain")->valuestring, "abc");
  ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 1), "owned")));
  ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 2), "domain")->valuestring, "civil");
  ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(d, 2), "owned")));
  cJSON_Delete(r);
}
END_TEST

START_TEST(test_no_vault) {
  char *dir = tu_tmpdir("apivault");
  node *n = open_chain(dir, "");
  static const char *const ms[] = {"admin_vault_schema_set", "admin_vault_import", "admin_vault_status",
                                   "admin_vault_rotate", "admin_vault_anchor"};
  for (size_t i = 0; i < 5; i++) {
    expect_err_on(n, ms[i], "{}", CX_E_NOT_FOUND,
                  "this node keeps no vault: member 'hrss' owned no data domain");
    expect_auth(n, ms[i], "{}");
  }
  node_close(n);
  char path[600];
  snprintf(path, sizeof path, "%s/data/vault", dir);
  FILE *f = fopen(path, "r");
  ck_assert_ptr_null(f);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("api_vault");
  TCase *tc = tcase_create("api_vault");
  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_schema);
  tcase_add_test(tc, test_import);
  tcase_add_test(tc, test_status_rotate);
  tcase_add_test(tc, test_no_vault);
  tcase_add_test(tc, test_unowned_listed);
  tcase_add_test(tc, test_anchor);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
