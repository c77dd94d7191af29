/* rpc: JSON-RPC core (rpc_handle_body), param helpers, and a real server on
 * 127.0.0.1 spoken to over raw TCP with a tiny HTTP/1.1 client. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "rpc.h"
#include "testutil.h"

/* ---------------------------------------------------------------------------
 * Method table
 * ------------------------------------------------------------------------- */

static atomic_int g_count;

static cx_err m_echo(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  (void)err;
  if (!params) return CX_OK; /* result null */
  *result = cJSON_Duplicate(params, 1);
  return *result ? CX_OK : CX_E_NOMEM;
}

static cx_err m_add(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  uint64_t a, b;
  if (rpc_param_u64(params, "a", 0, &a, err) != 0) return CX_E_RPC_PARAMS;
  if (rpc_param_u64(params, "b", 1, &b, err) != 0) return CX_E_RPC_PARAMS;
  *result = cJSON_CreateNumber((double)(a + b));
  return *result ? CX_OK : CX_E_NOMEM;
}

static cx_err m_hello(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  const char *who = rpc_param_str(params, "who", 0, err);
  if (!who) return CX_E_RPC_PARAMS;
  char buf[128];
  snprintf(buf, sizeof buf, "hello %s", who);
  *result = cJSON_CreateString(buf);
  return *result ? CX_OK : CX_E_NOMEM;
}

static cx_err m_fail(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  (void)params;
  (void)result;
  err->code = CX_E_MEMBER_UNKNOWN;
  snprintf(err->detail, sizeof err->detail, "no member named \"bob\"");
  return CX_E_MEMBER_UNKNOWN;
}

static cx_err m_gone(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  (void)params;
  (void)result;
  snprintf(err->detail, sizeof err->detail, "retired");
  return CX_E_RPC_METHOD;
}

/* Fails but leaves a result behind: the server must free it. */
static cx_err m_leaky(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  (void)params;
  (void)err;
  *result = cJSON_CreateString("should be freed");
  return CX_E_INTERNAL;
}

/* Fills the whole detail with no terminator. */
static cx_err m_brim(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  (void)params;
  (void)result;
  memset(err->detail, 'x', sizeof err->detail);
  return CX_E_IO;
}

static cx_err m_count(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  (void)params;
  (void)err;
  int v = atomic_fetch_add(&g_count, 1) + 1;
  *result = cJSON_CreateNumber(v);
  return *result ? CX_OK : CX_E_NOMEM;
}

static cx_err m_admin_ping(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  (void)params;
  (void)err;
  *result = cJSON_CreateString("pong");
  return *result ? CX_OK : CX_E_NOMEM;
}

static const rpc_method g_methods[] = {
    {"echo", m_echo, 0},   {"add", m_add, 0},     {"hello", m_hello, 0},
    {"fail", m_fail, 0},   {"gone", m_gone, 0},   {"leaky", m_leaky, 0},
    {"brim", m_brim, 0},   {"count", m_count, 0}, {"admin_ping", m_admin_ping, 1},
};
#define NMETHODS (sizeof g_methods / sizeof g_methods[0])
#define MAX_BATCH 8u
#define MAX_BODY 4096u

/* ---------------------------------------------------------------------------
 * JSON helpers
 * ------------------------------------------------------------------------- */

static cJSON *call_admin(const char *body, size_t len, int admin_ok) {
  char *out = rpc_handle_body(g_methods, NMETHODS, NULL, body, len, admin_ok, MAX_BATCH);
  if (!out) return NULL;
  cJSON *j = cJSON_Parse(out);
  ck_assert_msg(j != NULL, "response is not JSON: %s", out);
  free(out);
  return j;
}

static cJSON *call(const char *body) { return call_admin(body, strlen(body), 0); }

static int err_code(const cJSON *resp) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "error");
  ck_assert_msg(e != NULL, "expected an error response");
  ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(resp, "result"));
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
  ck_assert(cJSON_IsNumber(c));
  ck_assert(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message")));
  return c->valueint;
}

static const char *err_data(const cJSON *resp, const char *field) {
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(resp, "error"), "data"),
      field);
  return cJSON_IsString(d) ? d->valuestring : NULL;
}

static const cJSON *result_of(const cJSON *resp) {
  ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(resp, "error"));
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(resp, "result");
  ck_assert_msg(r != NULL, "expected a result");
  return r;
}

static void assert_envelope(const cJSON *resp) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(resp, "jsonrpc");
  ck_assert(cJSON_IsString(v));
  ck_assert_str_eq(v->valuestring, "2.0");
  ck_assert_ptr_nonnull(cJSON_GetObjectItemCaseSensitive(resp, "id"));
}

static int id_is_null(const cJSON *resp) {
  return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(resp, "id"));
}

static double id_num(const cJSON *resp) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(resp, "id");
  ck_assert(cJSON_IsNumber(id));
  return id->valuedouble;
}

/* The element of a batch response with numeric id, or NULL. */
static const cJSON *by_id(const cJSON *arr, double id) {
  const cJSON *el;
  cJSON_ArrayForEach(el, arr) {
    const cJSON *i = cJSON_GetObjectItemCaseSensitive(el, "id");
    if (cJSON_IsNumber(i) && i->valuedouble == id) return el;
  }
  return NULL;
}

/* ---------------------------------------------------------------------------
 * Core: rpc_handle_body
 * ------------------------------------------------------------------------- */

START_TEST(core_single_positional) {
  cJSON *r = call("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1,\"a\",{\"k\":null}],"
                  "\"id\":7}");
  assert_envelope(r);
  ck_assert(id_num(r) == 7);
  const cJSON *res = result_of(r);
  ck_assert(cJSON_IsArray(res));
  ck_assert_int_eq(cJSON_GetArraySize(res), 3);
  ck_assert_str_eq(cJSON_GetArrayItem(res, 1)->valuestring, "a");
  cJSON_Delete(r);

  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[2,3],\"id\":\"x\"}");
  ck_assert(result_of(r)->valuedouble == 5);
  ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(r, "id")->valuestring, "x");
  cJSON_Delete(r);
}
END_TEST

START_TEST(core_named_params) {
  cJSON *r = call("{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":{\"b\":\"40\",\"a\":2},"
                  "\"id\":1}");
  ck_assert(result_of(r)->valuedouble == 42);
  cJSON_Delete(r);
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"hello\",\"params\":{\"who\":\"ana\"},\"id\":1}");
  ck_assert_str_eq(result_of(r)->valuestring, "hello ana");
  cJSON_Delete(r);
  /* members in any order, extra members ignored */
  r = call("{\"id\":2,\"params\":[\"bo\"],\"method\":\"hello\",\"x\":1,\"jsonrpc\":\"2.0\"}");
  ck_assert_str_eq(result_of(r)->valuestring, "hello bo");
  cJSON_Delete(r);
}
END_TEST

START_TEST(core_ids) {
  cJSON *r = call("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":null}");
  ck_assert(id_is_null(r)); /* null id: still a request, answered */
  ck_assert(cJSON_IsNull(result_of(r)));
  cJSON_Delete(r);
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":-1.5}");
  ck_assert(id_num(r) == -1.5);
  cJSON_Delete(r);
  const char *bad[] = {"{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":{}}",
                       "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":[1]}",
                       "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":true}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = call(bad[i]);
    ck_assert_int_eq(err_code(r), RPC_ERR_REQUEST);
    ck_assert(id_is_null(r));
    cJSON_Delete(r);
  }
}
END_TEST

START_TEST(core_notifications) {
  atomic_store(&g_count, 0);
  ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"count\"}"));
  ck_assert_int_eq(atomic_load(&g_count), 1); /* ran, but no answer */
  ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}"));
  ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"fail\"}"));
  ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"leaky\"}"));
  ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1]}"));
  ck_assert_ptr_null(call("{\"jsonrpc\":\"2.0\",\"method\":\"admin_ping\"}"));
  ck_assert_ptr_null(call("[{\"jsonrpc\":\"2.0\",\"method\":\"count\"},"
                          "{\"jsonrpc\":\"2.0\",\"method\":\"count\",\"params\":[]}]"));
  ck_assert_int_eq(atomic_load(&g_count), 3);
}
END_TEST

START_TEST(core_parse_errors) {
  const char *bad[] = {"",         "{",           "[1,2",          "{\"jsonrpc\":\"2.0\"} x",
                       "nul",      "{'a':1}",     "\xff{}",        "{\"a\":\"\xc0\xaf\"}",
                       "  ",       "[1,]",        "{\"a\"}",       "\"\xed\xa0\x80\""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *r = call(bad[i]);
    ck_assert_msg(r != NULL, "no answer for %zu", i);
    assert_envelope(r);
    ck_assert_int_eq(err_code(r), RPC_ERR_PARSE);
    ck_assert(id_is_null(r));
    cJSON_Delete(r);
  }
  /* an embedded NUL: cJSON would stop there and accept the prefix */
  static const char nul[] = "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1}\0junk";
  cJSON *r = call_admin(nul, sizeof nul - 1, 0);
  ck_assert_int_eq(err_code(r), RPC_ERR_PARSE);
  cJSON_Delete(r);
  /* not NUL-terminated input is fine */
  char raw[] = {'{', '}', 'x'};
  r = call_admin(raw, 2, 0);
  ck_assert_int_eq(err_code(r), RPC_ERR_REQUEST);
  cJSON_Delete(r);
  /* valid UTF-8 passes */
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"h\xc3\xa9\xf0\x9f\x99\x82\"],"
           "\"id\":1}");
  ck_assert_str_eq(cJSON_GetArrayItem(result_of(r), 0)->valuestring, "h\xc3\xa9\xf0\x9f\x99\x82");
  cJSON_Delete(r);
}
END_TEST

START_TEST(core_invalid_requests) {
  const char *bad[] = {
      "{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":1}",
      "{\"method\":\"echo\",\"id\":1}",
      "{\"jsonrpc\":2.0,\"method\":\"echo\",\"id\":1}",
      "{\"jsonrpc\":\"2.0\",\"method\":1,\"id\":1}",
      "{\"jsonrpc\":\"2.0\",\"id\":1}",
      "{\"jsonrpc\":\"2.0\",\"method\":null,\"id\":1}",
      "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":\"bar\",\"id\":1}",
      "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":null,\"id\":1}",
      "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":3,\"id\":1}",
      "{\"JSONRPC\":\"2.0\",\"method\":\"echo\",\"id\":1}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cJSON *r = call(bad[i]);
    ck_assert_msg(r != NULL, "no answer for %s", bad[i]);
    assert_envelope(r);
    ck_assert_int_eq(err_code(r), RPC_ERR_REQUEST);
    ck_assert_ptr_nonnull(err_data(r, "detail"));
    /* the id was fine: it is echoed */
    ck_assert(id_num(r) == 1);
    cJSON_Delete(r);
  }
  /* invalid and without id: still answered (it is not a notification) */
  const char *top[] = {"{\"jsonrpc\":\"2.0\",\"method\":1,\"params\":\"bar\"}", "1", "\"x\"",
                       "null", "true", "{}"};
  for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) {
    cJSON *r = call(top[i]);
    ck_assert_msg(r != NULL, "no answer for %s", top[i]);
    ck_assert_int_eq(err_code(r), RPC_ERR_REQUEST);
    ck_assert(id_is_null(r));
    cJSON_Delete(r);
  }
}
END_TEST

START_TEST(core_method_errors) {
  cJSON *r = call("{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":1}");
  ck_assert_int_eq(err_code(r), RPC_ERR_METHOD);
  ck_assert(id_num(r) == 1);
  cJSON_Delete(r);
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"rpc.discover\",\"id\":1}");
  ck_assert_int_eq(err_code(r), RPC_ERR_METHOD);
  cJSON_Delete(r);
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"gone\",\"id\":1}");
  ck_assert_int_eq(err_code(r), RPC_ERR_METHOD);
  ck_assert_str_eq(err_data(r, "detail"), "retired");
  cJSON_Delete(r);
  /* method names compare exactly */
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"Echo\",\"id\":1}");
  ck_assert_int_eq(err_code(r), RPC_ERR_METHOD);
  cJSON_Delete(r);
}
END_TEST

START_TEST(core_bad_params) {
  cJSON *r = call("{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":{\"a\":-1,\"b\":2},\"id\":3}");
  ck_assert_int_eq(err_code(r), RPC_ERR_PARAMS);
  ck_assert(id_num(r) == 3);
  const char *d = err_data(r, "detail");
  ck_assert_ptr_nonnull(d);
  ck_assert_msg(strncmp(d, "params.a: expected a non-negative integer", 41) == 0, "%s", d);
  cJSON_Delete(r);
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1],\"id\":3}");
  ck_assert_int_eq(err_code(r), RPC_ERR_PARAMS);
  ck_assert_str_eq(err_data(r, "detail"), "params[1]: missing");
  cJSON_Delete(r);
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"hello\",\"params\":{\"who\":5},\"id\":3}");
  ck_assert_str_eq(err_data(r, "detail"), "params.who: expected a string");
  cJSON_Delete(r);
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"hello\",\"id\":3}");
  ck_assert_int_eq(err_code(r), RPC_ERR_PARAMS);
  ck_assert_str_eq(err_data(r, "detail"), "params.who: missing");
  cJSON_Delete(r);
}
END_TEST

START_TEST(core_app_error) {
  cJSON *r = call("{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":9}");
  assert_envelope(r);
  ck_assert_int_eq(err_code(r), CX_E_MEMBER_UNKNOWN);
  ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "error"),
                                                    "message")->valuestring,
                   cx_err_str(CX_E_MEMBER_UNKNOWN));
  ck_assert_str_eq(err_data(r, "name"), "member_unknown");
  ck_assert_str_eq(err_data(r, "detail"), "no member named \"bob\"");
  cJSON_Delete(r);
  /* a failing handler's stray result is dropped (ASan checks the free) */
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"leaky\",\"id\":9}");
  ck_assert_int_eq(err_code(r), CX_E_INTERNAL);
  ck_assert_str_eq(err_data(r, "name"), "internal");
  ck_assert_ptr_null(err_data(r, "detail"));
  cJSON_Delete(r);
  /* an unterminated detail is cut, not overread */
  r = call("{\"jsonrpc\":\"2.0\",\"method\":\"brim\",\"id\":9}");
  ck_assert_int_eq(err_code(r), CX_E_IO);
  ck_assert_uint_eq(strlen(err_data(r, "detail")), sizeof(((rpc_error *)0)->detail) - 1);
  cJSON_Delete(r);
}
END_TEST

START_TEST(core_batch_mixed) {
  atomic_store(&g_count, 0);
  cJSON *r = call("[{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2],\"id\":1},"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"count\"},"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[\"x\",2],\"id\":2},"
                  "{\"foo\":\"boo\"},"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":3},"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":4},"
                  "1,"
                  "[]]");
  ck_assert(cJSON_IsArray(r));
  ck_assert_int_eq(cJSON_GetArraySize(r), 7); /* 8 elements, one notification */
  ck_assert_int_eq(atomic_load(&g_count), 1);
  ck_assert(result_of(by_id(r, 1))->valuedouble == 3);
  ck_assert_int_eq(err_code(by_id(r, 2)), RPC_ERR_PARAMS);
  ck_assert_int_eq(err_code(by_id(r, 3)), RPC_ERR_METHOD);
  ck_assert_int_eq(err_code(by_id(r, 4)), CX_E_MEMBER_UNKNOWN);
  int nulls = 0;
  const cJSON *el;
  cJSON_ArrayForEach(el, r) {
    assert_envelope(el);
    if (id_is_null(el)) {
      ck_assert_int_eq(err_code(el), RPC_ERR_REQUEST);
      nulls++;
    }
  }
  ck_assert_int_eq(nulls, 3);
  cJSON_Delete(r);

  /* the spec's [1,2,3] */
  r = call("[1,2,3]");
  ck_assert_int_eq(cJSON_GetArraySize(r), 3);
  cJSON_ArrayForEach(el, r) ck_assert_int_eq(err_code(el), RPC_ERR_REQUEST);
  cJSON_Delete(r);
}
END_TEST

START_TEST(core_batch_limits) {
  cJSON *r = call("[]");
  ck_assert(cJSON_IsObject(r)); /* one error, not an array */
  ck_assert_int_eq(err_code(r), RPC_ERR_REQUEST);
  ck_assert(id_is_null(r));
  cJSON_Delete(r);

  /* MAX_BATCH elements pass, one more is refused as a whole */
  char buf[2048] = "[";
  for (unsigned i = 0; i < MAX_BATCH; i++)
    snprintf(buf + strlen(buf), sizeof buf - strlen(buf),
             "%s{\"jsonrpc\":\"2.0\",\"method\":\"count\",\"id\":%u}", i ? "," : "", i);
  strcat(buf, "]");
  atomic_store(&g_count, 0);
  r = call(buf);
  ck_assert_int_eq(cJSON_GetArraySize(r), (int)MAX_BATCH);
  cJSON_Delete(r);
  buf[strlen(buf) - 1] = 0;
  strcat(buf, ",{\"jsonrpc\":\"2.0\",\"method\":\"count\",\"id\":99}]");
  r = call(buf);
  ck_assert(cJSON_IsObject(r));
  ck_assert_int_eq(err_code(r), RPC_ERR_REQUEST);
  ck_assert_ptr_nonnull(strstr(err_data(r, "detail"), "batch"));
  ck_assert_int_eq(atomic_load(&g_count), (int)MAX_BATCH); /* nothing of it ran */
  cJSON_Delete(r);

  /* max_batch 0 means the default (256) */
  char *out = rpc_handle_body(g_methods, NMETHODS, NULL, "[1,2]", 5, 0, 0);
  ck_assert_ptr_nonnull(out);
  r = cJSON_Parse(out);
  ck_assert_int_eq(cJSON_GetArraySize(r), 2);
  cJSON_Delete(r);
  free(out);
}
END_TEST

START_TEST(core_admin) {
  const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"admin_ping\",\"id\":1}";
  cJSON *r = call_admin(req, strlen(req), 0);
  ck_assert_int_eq(err_code(r), CX_E_AUTH);
  ck_assert_str_eq(err_data(r, "name"), "unauthorized");
  cJSON_Delete(r);
  r = call_admin(req, strlen(req), 1);
  ck_assert_str_eq(result_of(r)->valuestring, "pong");
  cJSON_Delete(r);
}
END_TEST

/* Debug logging names the method (cut and made printable), never params. */
START_TEST(core_debug_log) {
  log_level old = log_get_level();
  log_set_level(LOG_DEBUG);
  cJSON *r = call("[{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2],\"id\":1},"
                  "{\"jsonrpc\":\"2.0\",\"method\":\"x\\n\\u001b[31mforged line "
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                  "\"id\":2},{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":3},{}]");
  ck_assert_int_eq(cJSON_GetArraySize(r), 4);
  cJSON_Delete(r);
  r = call("{");
  cJSON_Delete(r);
  log_set_level(old);
}
END_TEST

/* Nesting: within cJSON's limit it works (and echoes), beyond it is a parse
 * error, and nothing recurses without bound. */
START_TEST(core_deep_nesting) {
  size_t depth = 900, n = 0;
  char *b = malloc(2 * depth + 128);
  ck_assert_ptr_nonnull(b);
  n += (size_t)sprintf(b, "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"id\":1,\"params\":");
  for (size_t i = 0; i < depth; i++) b[n++] = '[';
  for (size_t i = 0; i < depth; i++) b[n++] = ']';
  b[n++] = '}';
  cJSON *r = call_admin(b, n, 0);
  ck_assert(cJSON_IsArray(result_of(r)));
  cJSON_Delete(r);
  free(b);

  depth = 200000;
  b = malloc(2 * depth);
  ck_assert_ptr_nonnull(b);
  memset(b, '[', depth);
  memset(b + depth, ']', depth);
  r = call_admin(b, 2 * depth, 0);
  ck_assert_int_eq(err_code(r), RPC_ERR_PARSE);
  cJSON_Delete(r);
  memset(b, '{', depth);
  r = call_admin(b, depth, 0);
  ck_assert_int_eq(err_code(r), RPC_ERR_PARSE);
  cJSON_Delete(r);
  free(b);
}
END_TEST

/* ---------------------------------------------------------------------------
 * Param helpers
 * ------------------------------------------------------------------------- */

static int u64_of(const char *json, uint64_t *v, rpc_error *err) {
  cJSON *p = cJSON_Parse(json);
  ck_assert_ptr_nonnull(p);
  memset(err, 0, sizeof *err);
  int rc = rpc_param_u64(p, "h", 0, v, err);
  cJSON_Delete(p);
  return rc;
}

START_TEST(param_u64) {
  uint64_t v = 0;
  rpc_error err;
  ck_assert_int_eq(u64_of("[0]", &v, &err), 0);
  ck_assert_uint_eq(v, 0);
  ck_assert_int_eq(u64_of("{\"h\":9007199254740992}", &v, &err), 0);
  ck_assert_uint_eq(v, 9007199254740992ull);
  ck_assert_int_eq(u64_of("[1e3]", &v, &err), 0);
  ck_assert_uint_eq(v, 1000);
  ck_assert_int_eq(u64_of("[\"0\"]", &v, &err), 0);
  ck_assert_uint_eq(v, 0);
  ck_assert_int_eq(u64_of("[\"18446744073709551615\"]", &v, &err), 0);
  ck_assert_uint_eq(v, UINT64_MAX);
  ck_assert_int_eq(u64_of("{\"h\":\"9007199254740993\"}", &v, &err), 0);
  ck_assert_uint_eq(v, 9007199254740993ull);

  const char *bad[] = {"[-1]",         "[1.5]",        "[9007199254740994]", "[1e300]",
                       "[\"\"]",       "[\"01\"]",     "[\"+1\"]",           "[\"-1\"]",
                       "[\" 1\"]",     "[\"1 \"]",     "[\"1a\"]",           "[\"0x10\"]",
                       "[\"18446744073709551616\"]",   "[true]",             "[null]",
                       "[[1]]",        "{\"h\":{}}",   "[\"00\"]",           "[-0.5]"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = 77;
    ck_assert_msg(u64_of(bad[i], &v, &err) == -1, "accepted %s", bad[i]);
    ck_assert_uint_eq(v, 77);
    ck_assert_int_eq(err.code, CX_E_RPC_PARAMS);
    ck_assert_msg(strstr(err.detail, "expected a non-negative integer") != NULL, "%s",
                  err.detail);
  }
  ck_assert_int_eq(u64_of("[\"-1\"]", &v, &err), -1);
  ck_assert_str_eq(err.detail, "params[0]: expected a non-negative integer (number up to "
                               "2^53 or decimal string)");
  ck_assert_int_eq(u64_of("{\"x\":1}", &v, &err), -1);
  ck_assert_str_eq(err.detail, "params.h: missing");
  ck_assert_int_eq(u64_of("[]", &v, &err), -1);
  ck_assert_str_eq(err.detail, "params[0]: missing");
  ck_assert_int_eq(rpc_param_u64(NULL, "h", 0, &v, &err), -1);
  ck_assert_str_eq(err.detail, "params.h: missing");
}
END_TEST

START_TEST(param_str_and_lookup) {
  cJSON *p = cJSON_Parse("{\"a\":\"x\",\"b\":1,\"A\":\"y\"}");
  rpc_error err;
  memset(&err, 0, sizeof err);
  ck_assert_str_eq(rpc_param_str(p, "a", 0, &err), "x");
  ck_assert_ptr_null(rpc_param_str(p, "b", 1, &err));
  ck_assert_int_eq(err.code, CX_E_RPC_PARAMS);
  ck_assert_str_eq(err.detail, "params.b: expected a string");
  ck_assert_ptr_null(rpc_param(p, NULL, 0)); /* object: by name only */
  ck_assert_ptr_null(rpc_param(p, "c", 0));
  ck_assert_str_eq(rpc_param(p, "A", 0)->valuestring, "y"); /* case-sensitive */
  cJSON_Delete(p);

  p = cJSON_Parse("[\"x\",2]");
  ck_assert_str_eq(rpc_param_str(p, "a", 0, &err), "x");
  ck_assert_ptr_null(rpc_param_str(p, "b", 1, &err));
  ck_assert_str_eq(err.detail, "params[1]: expected a string");
  ck_assert_ptr_null(rpc_param(p, "a", -1)); /* array: by position only */
  ck_assert_ptr_null(rpc_param(p, "a", 2));
  ck_assert_ptr_null(rpc_param_str(p, "a", 5, NULL)); /* err may be NULL */
  cJSON_Delete(p);
  ck_assert_ptr_null(rpc_param(NULL, "a", 0));
}
END_TEST

/* ---------------------------------------------------------------------------
 * A tiny HTTP/1.1 client
 * ------------------------------------------------------------------------- */

typedef struct {
  int status; /* 0: no response */
  char *head; /* status line and headers, NUL-terminated */
  char *body; /* NUL-terminated */
  size_t body_len;
} http_resp;

static void http_free(http_resp *r) {
  free(r->head);
  free(r->body);
  memset(r, 0, sizeof *r);
}

static int tcp_connect(const char *ip, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ck_assert_int_eq(inet_pton(AF_INET, ip, &sa.sin_addr), 1);
  ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s",
                strerror(errno));
  return fd;
}

/* -1 when the peer went away (it may have answered early and closed). */
static int send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static const char *find_header(const char *head, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
    if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
      const char *v = p + 3 + nl;
      while (*v == ' ') v++;
      return v;
    }
  }
  return NULL;
}

static int header_is(const char *head, const char *name, const char *value) {
  const char *v = find_header(head, name);
  size_t n = strlen(value);
  return v && strncmp(v, value, n) == 0 && v[n] == '\r';
}

/* Reads one response: headers, then Content-Length bytes (or to EOF). */
static void read_response(int fd, http_resp *r) {
  size_t cap = 8192, len = 0, hend = 0;
  char *buf = malloc(cap + 1);
  ck_assert_ptr_nonnull(buf);
  memset(r, 0, sizeof *r);
  long want = -1;
  for (;;) {
    if (hend && want >= 0 && len - hend >= (size_t)want) break;
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
      ck_assert_ptr_nonnull(buf);
    }
    ssize_t n = recv(fd, buf + len, cap - len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* EOF, reset or timeout */
    len += (size_t)n;
    buf[len] = 0;
    if (!hend) {
      char *e = strstr(buf, "\r\n\r\n");
      if (!e) continue;
      hend = (size_t)(e - buf) + 4;
      r->head = strndup(buf, hend);
      ck_assert_ptr_nonnull(r->head);
      ck_assert_int_eq(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
      const char *cl = find_header(r->head, "Content-Length");
      if (cl)
        want = atol(cl);
      else if (r->status == 204 || r->status == 304)
        want = 0;
    }
  }
  if (hend) {
    size_t blen = len - hend;
    if (want >= 0 && blen > (size_t)want) blen = (size_t)want;
    r->body = strndup(buf + hend, blen);
    ck_assert_ptr_nonnull(r->body);
    r->body_len = blen;
  }
  free(buf);
}

/* One request on a fresh connection ("Connection: close"). extra: more
 * header lines, each ending in \r\n. body NULL: no Content-Length. */
static void http_do_at(const char *ip, uint16_t port, const char *method, const char *path,
                       const char *extra, const char *body, size_t len, http_resp *r) {
  int fd = tcp_connect(ip, port);
  char head[1024];
  int n = snprintf(head, sizeof head,
                   "%s %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\n%s", method, path,
                   ip, (unsigned)port, extra ? extra : "");
  if (body)
    n += snprintf(head + n, sizeof head - (size_t)n,
                  "Content-Type: application/json\r\nContent-Length: %zu\r\n", len);
  n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
  ck_assert_int_lt(n, (int)sizeof head);
  if (send_all(fd, head, (size_t)n) == 0 && body) send_all(fd, body, len);
  read_response(fd, r);
  close(fd);
}

static const char *ADMIN_REQ = "{\"jsonrpc\":\"2.0\",\"method\":\"admin_ping\",\"id\":5}";

static rpc_server *g_srv;
static char *g_dir;
static char *g_cookie_path;

static void http_post(const char *body, const char *extra, http_resp *r) {
  http_do_at("127.0.0.1", rpc_server_port(g_srv), "POST", "/", extra, body, strlen(body), r);
}

static cJSON *body_json(const http_resp *r) {
  cJSON *j = cJSON_Parse(r->body);
  ck_assert_msg(j != NULL, "body is not JSON: %s", r->body ? r->body : "(none)");
  return j;
}

static void assert_json_ctype(const http_resp *r) {
  const char *ct = find_header(r->head, "Content-Type");
  ck_assert_ptr_nonnull(ct);
  ck_assert_int_eq(strncmp(ct, "application/json", 16), 0);
}

/* "Authorization: Basic ...\r\n" for user:pass text. */
static void auth_header(const char *userpass, char *out, size_t cap) {
  char b64[256];
  sodium_bin2base64(b64, sizeof b64, (const unsigned char *)userpass, strlen(userpass),
                    sodium_base64_VARIANT_ORIGINAL);
  snprintf(out, cap, "Authorization: Basic %s\r\n", b64);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 4096);
  ck_assert_ptr_nonnull(buf);
  size_t n = fread(buf, 1, 4095, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

static void start_server(const char *bind, const char *cookie, rpc_get_handler get,
                         rpc_server **out) {
  rpc_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.bind_addr = bind;
  cfg.port = 0;
  cfg.max_body = MAX_BODY;
  cfg.max_batch = MAX_BATCH;
  cfg.threads = 4;
  cfg.cookie_path = cookie;
  cfg.get = get;
  ck_assert_int_eq(rpc_server_start(&cfg, g_methods, NMETHODS, NULL, out), CX_OK);
  ck_assert_uint_ne(rpc_server_port(*out), 0);
}

static void http_setup(void) {
  g_dir = tu_tmpdir("rpc");
  g_cookie_path = malloc(strlen(g_dir) + 16);
  ck_assert_ptr_nonnull(g_cookie_path);
  sprintf(g_cookie_path, "%s/.cookie", g_dir);
  start_server("127.0.0.1", g_cookie_path, NULL, &g_srv);
}

static void http_teardown(void) {
  rpc_server_stop(g_srv);
  g_srv = NULL;
  tu_rmrf(g_dir);
  free(g_dir);
  free(g_cookie_path);
}

/* ---------------------------------------------------------------------------
 * HTTP tests
 * ------------------------------------------------------------------------- */

START_TEST(http_single) {
  http_resp r;
  http_post("{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":{\"a\":20,\"b\":22},\"id\":1}",
            NULL, &r);
  ck_assert_int_eq(r.status, 200);
  assert_json_ctype(&r);
  cJSON *j = body_json(&r);
  ck_assert(result_of(j)->valuedouble == 42);
  ck_assert(id_num(j) == 1);
  cJSON_Delete(j);
  http_free(&r);

  http_post("{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[\"a\",2],\"id\":\"q\"}", NULL,
            &r);
  ck_assert_int_eq(r.status, 200);
  j = body_json(&r);
  ck_assert_int_eq(cJSON_GetArraySize(result_of(j)), 2);
  cJSON_Delete(j);
  http_free(&r);
}
END_TEST

START_TEST(http_errors) {
  http_resp r;
  http_post("{\"jsonrpc\":", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  assert_json_ctype(&r);
  cJSON *j = body_json(&r);
  ck_assert_int_eq(err_code(j), RPC_ERR_PARSE);
  cJSON_Delete(j);
  http_free(&r);

  http_post("{\"jsonrpc\":\"2.1\",\"method\":\"echo\",\"id\":1}", NULL, &r);
  j = body_json(&r);
  ck_assert_int_eq(err_code(j), RPC_ERR_REQUEST);
  cJSON_Delete(j);
  http_free(&r);

  http_post("{\"jsonrpc\":\"2.0\",\"method\":[\"echo\"],\"id\":1}", NULL, &r);
  j = body_json(&r);
  ck_assert_int_eq(err_code(j), RPC_ERR_REQUEST);
  cJSON_Delete(j);
  http_free(&r);

  http_post("{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":1}", NULL, &r);
  j = body_json(&r);
  ck_assert_int_eq(err_code(j), RPC_ERR_METHOD);
  cJSON_Delete(j);
  http_free(&r);

  http_post("{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,\"x\"],\"id\":1}", NULL, &r);
  j = body_json(&r);
  ck_assert_int_eq(err_code(j), RPC_ERR_PARAMS);
  ck_assert_ptr_nonnull(strstr(err_data(j, "detail"), "params[1]"));
  cJSON_Delete(j);
  http_free(&r);

  http_post("{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":1}", NULL, &r);
  j = body_json(&r);
  ck_assert_int_eq(err_code(j), CX_E_MEMBER_UNKNOWN);
  ck_assert_str_eq(err_data(j, "name"), "member_unknown");
  ck_assert_str_eq(err_data(j, "detail"), "no member named \"bob\"");
  cJSON_Delete(j);
  http_free(&r);

  /* an empty POST body is a parse error */
  http_post("", NULL, &r);
  j = body_json(&r);
  ck_assert_int_eq(err_code(j), RPC_ERR_PARSE);
  cJSON_Delete(j);
  http_free(&r);
}
END_TEST

START_TEST(http_batches) {
  http_resp r;
  atomic_store(&g_count, 0);
  http_post("[{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,1],\"id\":1},"
            "{\"jsonrpc\":\"2.0\",\"method\":\"count\"},"
            "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":2},"
            "{\"jsonrpc\":\"2.0\",\"method\":\"admin_ping\",\"id\":3},"
            "{\"bad\":1}]",
            NULL, &r);
  ck_assert_int_eq(r.status, 200); /* a refused admin call in a batch: still 200 */
  cJSON *j = body_json(&r);
  ck_assert_int_eq(cJSON_GetArraySize(j), 4);
  ck_assert(result_of(by_id(j, 1))->valuedouble == 2);
  ck_assert_int_eq(err_code(by_id(j, 2)), RPC_ERR_METHOD);
  ck_assert_int_eq(err_code(by_id(j, 3)), CX_E_AUTH);
  cJSON_Delete(j);
  http_free(&r);

  /* only notifications: 204 and no body */
  http_post("[{\"jsonrpc\":\"2.0\",\"method\":\"count\"},{\"jsonrpc\":\"2.0\",\"method\":\"x\"}]",
            NULL, &r);
  ck_assert_int_eq(r.status, 204);
  ck_assert_uint_eq(r.body_len, 0);
  http_free(&r);
  http_post("{\"jsonrpc\":\"2.0\",\"method\":\"count\"}", NULL, &r);
  ck_assert_int_eq(r.status, 204);
  http_free(&r);
  ck_assert_int_eq(atomic_load(&g_count), 3);

  http_post("[]", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  j = body_json(&r);
  ck_assert_int_eq(err_code(j), RPC_ERR_REQUEST);
  cJSON_Delete(j);
  http_free(&r);

  http_post("[1,2,3,4,5,6,7,8,9]", NULL, &r);
  j = body_json(&r);
  ck_assert(cJSON_IsObject(j));
  ck_assert_int_eq(err_code(j), RPC_ERR_REQUEST);
  ck_assert_ptr_nonnull(strstr(err_data(j, "detail"), "8"));
  cJSON_Delete(j);
  http_free(&r);
}
END_TEST

static void assert_too_big(const http_resp *r) {
  ck_assert_int_eq(r->status, 413);
  assert_json_ctype(r);
  cJSON *j = body_json(r);
  assert_envelope(j);
  ck_assert_int_eq(err_code(j), CX_E_RPC_TOO_BIG);
  ck_assert_str_eq(err_data(j, "name"), "request_too_big");
  ck_assert(id_is_null(j));
  cJSON_Delete(j);
}

static void assert_still_serving(void) {
  http_resp r;
  http_post("{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2],\"id\":1}", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  cJSON *j = body_json(&r);
  ck_assert(result_of(j)->valuedouble == 3);
  cJSON_Delete(j);
  http_free(&r);
}

START_TEST(http_body_cap) {
  uint16_t port = rpc_server_port(g_srv);
  http_resp r;

  /* Content-Length over the cap: answered from the headers alone */
  int fd = tcp_connect("127.0.0.1", port);
  char head[256];
  snprintf(head, sizeof head,
           "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: %u\r\n\r\n",
           MAX_BODY + 1);
  ck_assert_int_eq(send_all(fd, head, strlen(head)), 0);
  read_response(fd, &r);
  close(fd);
  assert_too_big(&r);
  http_free(&r);
  assert_still_serving();

  /* a huge declared length too */
  fd = tcp_connect("127.0.0.1", port);
  const char *huge = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n";
  ck_assert_int_eq(send_all(fd, huge, strlen(huge)), 0);
  read_response(fd, &r);
  close(fd);
  assert_too_big(&r);
  http_free(&r);

  /* exactly at the cap: read and handled (a valid request padded with
   * spaces) */
  char *body = malloc(MAX_BODY);
  ck_assert_ptr_nonnull(body);
  memset(body, ' ', MAX_BODY);
  const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[1,2],\"id\":1}";
  memcpy(body, req, strlen(req));
  http_do_at("127.0.0.1", port, "POST", "/", NULL, body, MAX_BODY, &r);
  ck_assert_int_eq(r.status, 200);
  cJSON *j = body_json(&r);
  ck_assert(result_of(j)->valuedouble == 3);
  cJSON_Delete(j);
  http_free(&r);
  free(body);

  /* chunked (no Content-Length) over the cap: drained, then 413 */
  fd = tcp_connect("127.0.0.1", port);
  const char *ch = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  ck_assert_int_eq(send_all(fd, ch, strlen(ch)), 0);
  char chunk[1024 + 16];
  int hl = sprintf(chunk, "400\r\n");
  memset(chunk + hl, '[', 1024);
  memcpy(chunk + hl + 1024, "\r\n", 2);
  for (int i = 0; i < 6; i++) ck_assert_int_eq(send_all(fd, chunk, (size_t)hl + 1026), 0);
  ck_assert_int_eq(send_all(fd, "0\r\n\r\n", 5), 0);
  read_response(fd, &r);
  close(fd);
  assert_too_big(&r);
  http_free(&r);
  assert_still_serving();

  /* a chunked body that keeps coming far past the cap is cut off */
  fd = tcp_connect("127.0.0.1", port);
  if (send_all(fd, ch, strlen(ch)) == 0)
    for (int i = 0; i < 64; i++)
      if (send_all(fd, chunk, (size_t)hl + 1026) != 0) break;
  read_response(fd, &r);
  close(fd);
  ck_assert(r.status == 0 || r.status == 413);
  http_free(&r);
  assert_still_serving();
}
END_TEST

START_TEST(http_methods_and_paths) {
  uint16_t port = rpc_server_port(g_srv);
  http_resp r;
  http_do_at("127.0.0.1", port, "GET", "/", NULL, NULL, 0, &r);
  ck_assert_int_eq(r.status, 405);
  assert_json_ctype(&r);
  ck_assert(header_is(r.head, "Allow", "POST"));
  cJSON *j = body_json(&r);
  ck_assert_int_eq(err_code(j), RPC_ERR_REQUEST);
  cJSON_Delete(j);
  http_free(&r);

  http_do_at("127.0.0.1", port, "PUT", "/", NULL, "{}", 2, &r);
  ck_assert_int_eq(r.status, 405);
  http_free(&r);
  http_do_at("127.0.0.1", port, "DELETE", "/", NULL, NULL, 0, &r);
  ck_assert_int_eq(r.status, 405);
  http_free(&r);

  http_do_at("127.0.0.1", port, "POST", "/rpc", NULL, "{}", 2, &r);
  ck_assert_int_eq(r.status, 404);
  assert_json_ctype(&r);
  http_free(&r);
  assert_still_serving();
}
END_TEST

/* rpc_server_stats as a flat list: "R method" / "E method code" -> count. */
typedef struct {
  char key[32][48];
  uint64_t v[32];
  size_t n;
} stat_list;

static void collect_stat(void *arg, const char *method, int is_error, int code,
                         uint64_t count) {
  stat_list *l = arg;
  ck_assert_uint_lt(l->n, 32);
  if (is_error)
    snprintf(l->key[l->n], sizeof l->key[0], "E %s %d", method, code);
  else
    snprintf(l->key[l->n], sizeof l->key[0], "R %s", method);
  l->v[l->n++] = count;
}

/* -1: not listed */
static long long stat_of(const char *key) {
  stat_list l;
  memset(&l, 0, sizeof l);
  rpc_server_stats(g_srv, collect_stat, &l);
  for (size_t i = 0; i < l.n; i++)
    if (strcmp(l.key[i], key) == 0) return (long long)l.v[i];
  return -1;
}

START_TEST(http_counters) {
  http_resp r;
  /* every method listed from the start, plus unknown and invalid; no errors */
  ck_assert_int_eq(stat_of("R echo"), 0);
  ck_assert_int_eq(stat_of("R admin_ping"), 0);
  ck_assert_int_eq(stat_of("R unknown"), 0);
  ck_assert_int_eq(stat_of("R invalid"), 0);
  ck_assert_int_eq(stat_of("E fail 301"), -1);
  http_post("[{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[1],\"id\":1},"
            "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":[2]},"
            "{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":2},"
            "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":3},"
            "{\"jsonrpc\":\"1.0\",\"method\":\"echo\",\"id\":4}]",
            NULL, &r);
  ck_assert_int_eq(r.status, 200);
  http_free(&r);
  http_post(ADMIN_REQ, NULL, &r); /* no cookie */
  ck_assert_int_eq(r.status, 401);
  http_free(&r);
  http_post("{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[\"x\"],\"id\":5}", NULL, &r);
  http_free(&r);
  http_post("[", NULL, &r);
  http_free(&r);
  char *big = malloc(MAX_BODY + 2);
  ck_assert_ptr_nonnull(big);
  memset(big, ' ', MAX_BODY + 1);
  big[MAX_BODY + 1] = 0;
  http_post(big, NULL, &r);
  ck_assert_int_eq(r.status, 413);
  http_free(&r);
  free(big);

  ck_assert_int_eq(stat_of("R echo"), 2); /* the notification counts */
  ck_assert_int_eq(stat_of("R fail"), 1);
  ck_assert_int_eq(stat_of("R add"), 1);
  ck_assert_int_eq(stat_of("R admin_ping"), 1);
  ck_assert_int_eq(stat_of("R unknown"), 1);
  ck_assert_int_eq(stat_of("R invalid"), 3); /* jsonrpc 1.0, "[", 413 */
  char key[48];
  snprintf(key, sizeof key, "E fail %d", (int)CX_E_MEMBER_UNKNOWN);
  ck_assert_int_eq(stat_of(key), 1);
  ck_assert_int_eq(stat_of("E unknown -32601"), 1);
  ck_assert_int_eq(stat_of("E invalid -32600"), 1);
  ck_assert_int_eq(stat_of("E invalid -32700"), 1);
  snprintf(key, sizeof key, "E invalid %d", (int)CX_E_RPC_TOO_BIG);
  ck_assert_int_eq(stat_of(key), 1);
  snprintf(key, sizeof key, "E admin_ping %d", (int)CX_E_AUTH);
  ck_assert_int_eq(stat_of(key), 1);
  ck_assert_int_eq(stat_of("E add -32602"), 1);
  ck_assert_int_eq(stat_of("E echo -32600"), -1); /* the invalid one is not echo's */
}
END_TEST

static int get_handler(void *ctx, const char *path, char **body, size_t *len,
                       const char **ctype) {
  (void)ctx;
  if (strcmp(path, "/healthz") == 0) {
    *body = strdup("ok\n");
    if (!*body) return 500;
    *len = 3;
    *ctype = "text/plain";
    return 200;
  }
  return 404;
}

START_TEST(http_get_handler) {
  rpc_server *s;
  start_server("127.0.0.1", NULL, get_handler, &s);
  http_resp r;
  http_do_at("127.0.0.1", rpc_server_port(s), "GET", "/healthz", NULL, NULL, 0, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(r.body, "ok\n");
  ck_assert_int_eq(strncmp(find_header(r.head, "Content-Type"), "text/plain", 10), 0);
  http_free(&r);
  http_do_at("127.0.0.1", rpc_server_port(s), "GET", "/other", NULL, NULL, 0, &r);
  ck_assert_int_eq(r.status, 404);
  http_free(&r);
  /* HEAD: GET's status and headers, no body */
  http_do_at("127.0.0.1", rpc_server_port(s), "HEAD", "/healthz", NULL, NULL, 0, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(r.body_len, 0);
  http_free(&r);
  http_do_at("127.0.0.1", rpc_server_port(s), "PATCH", "/", NULL, NULL, 0, &r);
  ck_assert_int_eq(r.status, 405);
  ck_assert(header_is(r.head, "Allow", "GET, HEAD, POST"));
  http_free(&r);
  /* admin disabled (no cookie): admin methods are forbidden outright */
  http_do_at("127.0.0.1", rpc_server_port(s), "POST", "/", NULL,
             ADMIN_REQ, strlen(ADMIN_REQ), &r);
  ck_assert_int_eq(r.status, 403);
  cJSON *j = body_json(&r);
  ck_assert_int_eq(err_code(j), CX_E_AUTH);
  cJSON_Delete(j);
  http_free(&r);
  rpc_server_stop(s);
}
END_TEST

static void assert_refused(const http_resp *r, int status) {
  ck_assert_int_eq(r->status, status);
  cJSON *j = body_json(r);
  ck_assert_int_eq(err_code(j), CX_E_AUTH);
  ck_assert(id_num(j) == 5);
  cJSON_Delete(j);
}

START_TEST(http_admin_auth) {
  http_resp r;
  char hdr[512];

  http_post(ADMIN_REQ, NULL, &r);
  assert_refused(&r, 401);
  ck_assert_ptr_nonnull(find_header(r.head, "WWW-Authenticate"));
  http_free(&r);

  char *cookie = read_file(g_cookie_path);
  ck_assert_ptr_nonnull(cookie);
  ck_assert_uint_eq(strlen(cookie), 11 + 64);
  ck_assert_int_eq(strncmp(cookie, "__cookie__:", 11), 0);
  for (int i = 11; i < 75; i++) ck_assert(strchr("0123456789abcdef", cookie[i]) != NULL);

  auth_header(cookie, hdr, sizeof hdr);
  http_post(ADMIN_REQ, hdr, &r);
  ck_assert_int_eq(r.status, 200);
  cJSON *j = body_json(&r);
  ck_assert_str_eq(result_of(j)->valuestring, "pong");
  cJSON_Delete(j);
  http_free(&r);

  /* scheme is case-insensitive, extra blanks are fine */
  char b64[256];
  sodium_bin2base64(b64, sizeof b64, (const unsigned char *)cookie, strlen(cookie),
                    sodium_base64_VARIANT_ORIGINAL);
  snprintf(hdr, sizeof hdr, "Authorization: basic   %s\r\n", b64);
  http_post(ADMIN_REQ, hdr, &r);
  ck_assert_int_eq(r.status, 200);
  http_free(&r);

  /* wrong cookie: one hex digit off */
  char wrong[128];
  strcpy(wrong, cookie);
  wrong[20] = wrong[20] == 'a' ? 'b' : 'a';
  auth_header(wrong, hdr, sizeof hdr);
  http_post(ADMIN_REQ, hdr, &r);
  assert_refused(&r, 401);
  http_free(&r);

  /* other user name, truncated, longer, garbage, other scheme */
  memcpy(wrong, "__cookiE__", 10);
  wrong[20] = cookie[20];
  auth_header(wrong, hdr, sizeof hdr);
  http_post(ADMIN_REQ, hdr, &r);
  assert_refused(&r, 401);
  http_free(&r);
  strcpy(wrong, cookie);
  wrong[74] = 0;
  auth_header(wrong, hdr, sizeof hdr);
  http_post(ADMIN_REQ, hdr, &r);
  assert_refused(&r, 401);
  http_free(&r);
  snprintf(wrong, sizeof wrong, "%s0", cookie);
  auth_header(wrong, hdr, sizeof hdr);
  http_post(ADMIN_REQ, hdr, &r);
  assert_refused(&r, 401);
  http_free(&r);
  const char *junk[] = {"Authorization: Basic !!!!\r\n", "Authorization: Basic\r\n",
                        "Authorization: Bearer abc\r\n", "Authorization: Basicabc\r\n"};
  for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
    http_post(ADMIN_REQ, junk[i], &r);
    assert_refused(&r, 401);
    http_free(&r);
  }
  snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", b64);
  http_post(ADMIN_REQ, hdr, &r);
  assert_refused(&r, 401);
  http_free(&r);

  /* the right cookie does not make non-admin errors anything else */
  auth_header(cookie, hdr, sizeof hdr);
  http_post("{\"jsonrpc\":\"2.0\",\"method\":\"fail\",\"id\":1}", hdr, &r);
  ck_assert_int_eq(r.status, 200);
  http_free(&r);
  free(cookie);
}
END_TEST

START_TEST(http_cookie_file) {
  struct stat st;
  ck_assert_int_eq(stat(g_cookie_path, &st), 0);
  ck_assert_uint_eq(st.st_mode & 0777, 0600);
  ck_assert_int_eq((int)st.st_size, 75);
  char *before = read_file(g_cookie_path);
  rpc_server_stop(g_srv);
  g_srv = NULL;
  ck_assert_int_eq(access(g_cookie_path, F_OK), -1);
  ck_assert_int_eq(errno, ENOENT);

  /* a leftover file with a loose mode is tightened and gets a new token */
  FILE *f = fopen(g_cookie_path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("stale", f);
  fclose(f);
  ck_assert_int_eq(chmod(g_cookie_path, 0644), 0);
  start_server("127.0.0.1", g_cookie_path, NULL, &g_srv);
  ck_assert_int_eq(stat(g_cookie_path, &st), 0);
  ck_assert_uint_eq(st.st_mode & 0777, 0600);
  char *after = read_file(g_cookie_path);
  ck_assert_uint_eq(strlen(after), 75);
  ck_assert_str_ne(before, after);
  free(before);
  free(after);
}
END_TEST

START_TEST(http_config) {
  rpc_config cfg;
  rpc_server *s = (rpc_server *)1;
  memset(&cfg, 0, sizeof cfg);
  cfg.bind_addr = "localhost"; /* not an IPv4 literal */
  ck_assert_int_eq(rpc_server_start(&cfg, g_methods, NMETHODS, NULL, &s), CX_E_CONFIG);
  ck_assert_ptr_null(s);
  /* the port is taken */
  cfg.bind_addr = "127.0.0.1";
  cfg.port = rpc_server_port(g_srv);
  ck_assert_int_eq(rpc_server_start(&cfg, g_methods, NMETHODS, NULL, &s), CX_E_IO);
  ck_assert_ptr_null(s);
  /* a cookie path that cannot be written */
  cfg.port = 0;
  cfg.cookie_path = "/nonexistent-dir/x/.cookie";
  ck_assert_int_eq(rpc_server_start(&cfg, g_methods, NMETHODS, NULL, &s), CX_E_IO);
  ck_assert_ptr_null(s);
  /* all defaults */
  cfg.cookie_path = NULL;
  cfg.bind_addr = NULL;
  ck_assert_int_eq(rpc_server_start(&cfg, g_methods, NMETHODS, NULL, &s), CX_OK);
  ck_assert_uint_ne(rpc_server_port(s), 0);
  rpc_server_stop(s);
  rpc_server_stop(NULL);
  ck_assert_uint_eq(rpc_server_port(NULL), 0);
}
END_TEST

START_TEST(http_many_sequential) {
  for (int i = 0; i < 500; i++) {
    char body[160];
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"method\":\"add\",\"params\":[%d,\"%d\"],\"id\":%d}", i, i,
             i);
    http_resp r;
    http_post(body, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    cJSON *j = body_json(&r);
    ck_assert(result_of(j)->valuedouble == 2.0 * i);
    ck_assert(id_num(j) == i);
    cJSON_Delete(j);
    http_free(&r);
  }
}
END_TEST

/* Two requests on one keep-alive connection. */
START_TEST(http_keep_alive) {
  int fd = tcp_connect("127.0.0.1", rpc_server_port(g_srv));
  for (int i = 0; i < 2; i++) {
    char req[512];
    const char *body = "{\"jsonrpc\":\"2.0\",\"method\":\"count\",\"id\":1}";
    snprintf(req, sizeof req, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    ck_assert_int_eq(send_all(fd, req, strlen(req)), 0);
    http_resp r;
    read_response(fd, &r);
    ck_assert_int_eq(r.status, 200);
    http_free(&r);
  }
  close(fd);
}
END_TEST

static void *hammer(void *arg) {
  int *ok = arg;
  for (int i = 0; i < 50; i++) {
    http_resp r;
    http_post("[{\"jsonrpc\":\"2.0\",\"method\":\"count\",\"id\":1},"
              "{\"jsonrpc\":\"2.0\",\"method\":\"echo\",\"params\":{\"x\":[1,2,3]},\"id\":2}]",
              NULL, &r);
    if (r.status == 200 && r.body && strstr(r.body, "\"x\":[1,2,3]")) (*ok)++;
    http_free(&r);
  }
  return NULL;
}

START_TEST(http_concurrent) {
  pthread_t t[6];
  int ok[6] = {0};
  atomic_store(&g_count, 0);
  for (int i = 0; i < 6; i++) ck_assert_int_eq(pthread_create(&t[i], NULL, hammer, &ok[i]), 0);
  for (int i = 0; i < 6; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 6; i++) ck_assert_int_eq(ok[i], 50);
  ck_assert_int_eq(atomic_load(&g_count), 300);
}
END_TEST

/* From a non-loopback address even the right cookie is refused (403). Needs
 * an IPv4 interface besides lo; skipped without one. */
START_TEST(http_admin_remote) {
  struct ifaddrs *ifs, *it;
  char ip[INET_ADDRSTRLEN] = "";
  ck_assert_int_eq(getifaddrs(&ifs), 0);
  for (it = ifs; it; it = it->ifa_next) {
    if (!it->ifa_addr || it->ifa_addr->sa_family != AF_INET || !(it->ifa_flags & IFF_UP))
      continue;
    struct sockaddr_in sin;
    memcpy(&sin, it->ifa_addr, sizeof sin);
    if ((ntohl(sin.sin_addr.s_addr) >> 24) == 127) continue;
    inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof ip);
    break;
  }
  freeifaddrs(ifs);
  if (!ip[0]) {
    fprintf(stderr, "http_admin_remote: no non-loopback IPv4 address, skipped\n");
    return;
  }
  rpc_server *s;
  char path[512];
  snprintf(path, sizeof path, "%s/remote.cookie", g_dir);
  start_server("0.0.0.0", path, NULL, &s);
  char *cookie = read_file(path);
  char hdr[512];
  auth_header(cookie, hdr, sizeof hdr);
  http_resp r;
  http_do_at(ip, rpc_server_port(s), "POST", "/", hdr, ADMIN_REQ, strlen(ADMIN_REQ), &r);
  assert_refused(&r, 403);
  http_free(&r);
  /* same server, loopback: fine */
  http_do_at("127.0.0.1", rpc_server_port(s), "POST", "/", hdr, ADMIN_REQ, strlen(ADMIN_REQ),
             &r);
  ck_assert_int_eq(r.status, 200);
  http_free(&r);
  free(cookie);
  rpc_server_stop(s);
}
END_TEST

static Suite *rpc_suite(void) {
  Suite *s = suite_create("rpc");
  TCase *core = tcase_create("core");
  tcase_add_test(core, core_single_positional);
  tcase_add_test(core, core_named_params);
  tcase_add_test(core, core_ids);
  tcase_add_test(core, core_notifications);
  tcase_add_test(core, core_parse_errors);
  tcase_add_test(core, core_invalid_requests);
  tcase_add_test(core, core_method_errors);
  tcase_add_test(core, core_bad_params);
  tcase_add_test(core, core_app_error);
  tcase_add_test(core, core_batch_mixed);
  tcase_add_test(core, core_batch_limits);
  tcase_add_test(core, core_admin);
  tcase_add_test(core, core_deep_nesting);
  tcase_add_test(core, core_debug_log);
  suite_add_tcase(s, core);

  TCase *params = tcase_create("params");
  tcase_add_test(params, param_u64);
  tcase_add_test(params, param_str_and_lookup);
  suite_add_tcase(s, params);

  TCase *http = tcase_create("http");
  tcase_add_checked_fixture(http, http_setup, http_teardown);
  tcase_set_timeout(http, 120);
  tcase_add_test(http, http_single);
  tcase_add_test(http, http_errors);
  tcase_add_test(http, http_batches);
  tcase_add_test(http, http_body_cap);
  tcase_add_test(http, http_methods_and_paths);
  tcase_add_test(http, http_get_handler);
  tcase_add_test(http, http_counters);
  tcase_add_test(http, http_admin_auth);
  tcase_add_test(http, http_cookie_file);
  tcase_add_test(http, http_config);
  tcase_add_test(http, http_many_sequential);
  tcase_add_test(http, http_keep_alive);
  tcase_add_test(http, http_concurrent);
  tcase_add_test(http, http_admin_remote);
  suite_add_tcase(s, http);
  return s;
}

int main(void) {
  if (sodium_init() < 0) return 1;
  return tu_run(rpc_suite());
}
