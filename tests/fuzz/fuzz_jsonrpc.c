/* fuzz_jsonrpc: rpc_handle_body, the transport-free JSON-RPC core.
 *
 * Input: byte 0 chooses admin_ok (its low bit), the rest is the POST body.
 * Seeds in corpus/fuzz_jsonrpc start with '!' (admin) or ' ' (not admin).
 * Checks: no crash or leak (sanitizers); every response is JSON in valid
 * UTF-8, shaped as JSON-RPC 2.0 (an object, or a non-empty array of them,
 * each with "jsonrpc":"2.0", an "id", and exactly one of result/error); an
 * admin method never runs without admin_ok. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int g_admin_ran;

static cx_err m_echo(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  (void)err;
  if (!params) return CX_OK;
  *result = cJSON_Duplicate(params, 1);
  return *result ? CX_OK : CX_E_NOMEM;
}

/* get(name: string, n: u64) -> {"name", "n"}; n as a string to keep 64 bits */
static cx_err m_get(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  uint64_t n;
  const char *name = rpc_param_str(params, "name", 0, err);
  if (!name) return CX_E_RPC_PARAMS;
  if (rpc_param_u64(params, "n", 1, &n, err) != 0) return CX_E_RPC_PARAMS;
  if (n % 7 == 3) { /* an application error with a detail */
    snprintf(err->detail, sizeof err->detail, "no record %llu", (unsigned long long)n);
    return CX_E_NOT_FOUND;
  }
  char num[24];
  snprintf(num, sizeof num, "%llu", (unsigned long long)n);
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddStringToObject(o, "name", name) || !cJSON_AddStringToObject(o, "n", num)) {
    cJSON_Delete(o);
    return CX_E_NOMEM;
  }
  *result = o;
  return CX_OK;
}

static cx_err m_shutdown(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  (void)ctx;
  (void)params;
  (void)err;
  g_admin_ran = 1;
  *result = cJSON_CreateTrue();
  return *result ? CX_OK : CX_E_NOMEM;
}

static const rpc_method methods[] = {
    {"echo", m_echo, 0},
    {"get", m_get, 0},
    {"shutdown", m_shutdown, 1},
};

static int utf8_ok(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    unsigned c = s[i], need, cp;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) need = 1, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) need = 2, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) need = 3, cp = c & 0x07;
    else return 0;
    if (len - i - 1 < need) return 0;
    for (unsigned k = 1; k <= need; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += need + 1;
  }
  return 1;
}

static void check_one(const cJSON *r) {
  if (!cJSON_IsObject(r)) abort();
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "jsonrpc");
  if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0) abort();
  if (!cJSON_GetObjectItemCaseSensitive(r, "id")) abort();
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(r, "result");
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(r, "error");
  if (!res == !e) abort();
  if (e) {
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e, "code"))) abort();
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "message"))) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  int admin_ok = data[0] & 1;
  g_admin_ran = 0;
  char *out = rpc_handle_body(methods, sizeof methods / sizeof methods[0], NULL,
                              (const char *)data + 1, size - 1, admin_ok, 16);
  if (g_admin_ran && !admin_ok) abort();
  if (!out) return 0; /* only notifications */
  size_t len = strlen(out);
  if (!utf8_ok((const unsigned char *)out, len)) abort();
  cJSON *j = cJSON_ParseWithLength(out, len);
  if (!j) abort();
  if (cJSON_IsArray(j)) {
    const cJSON *el;
    if (!j->child) abort(); /* an empty batch answer must have been NULL */
    cJSON_ArrayForEach(el, j) check_one(el);
  } else {
    check_one(j);
  }
  cJSON_Delete(j);
  free(out);
  return 0;
}
