#include "rpc_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RPCC_ID 1

typedef struct {
  char *buf;
  size_t len, cap;
  int too_big;
} rpcc_body;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_init_rc = CURLE_FAILED_INIT;

static void global_init(void) { g_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

void rpcc_cleanup(void) {
  if (g_init_rc == CURLE_OK) {
    curl_global_cleanup();
    g_init_rc = CURLE_FAILED_INIT;
  }
}

static void err_set(rpcc_error *err, rpcc_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_set(rpcc_error *err, rpcc_kind kind, const char *fmt, ...) {
  if (!err) return;
  err->kind = kind;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud) {
  rpcc_body *b = ud;
  size_t n = size * nmemb;
  /* Refuse rather than grow without bound: a node (or whatever answers on
   * that port) must not be able to exhaust the client's memory. */
  if (n > RPCC_MAX_RESPONSE - b->len) {
    b->too_big = 1;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) cap *= 2;
    char *nb = realloc(b->buf, cap);
    if (!nb) return 0;
    b->buf = nb;
    b->cap = cap;
  }
  memcpy(b->buf + b->len, p, n);
  b->len += n;
  b->buf[b->len] = 0;
  return n;
}

/* Maps a JSON-RPC error code to the cx_err this call returns. */
static cx_err code_to_err(int code) {
  if (code > 0) return (cx_err)code; /* application errors are cx_err numbers */
  switch (code) {
    case -32700: return CX_E_RPC_PARSE;
    case -32600: return CX_E_RPC_REQUEST;
    case -32601: return CX_E_RPC_METHOD;
    case -32602: return CX_E_RPC_PARAMS;
    default: return CX_E_INTERNAL;
  }
}

static void copy_str(char *dst, size_t cap, const cJSON *v) {
  if (cJSON_IsString(v)) snprintf(dst, cap, "%s", v->valuestring);
}

/* Interprets a response body. Takes nothing; *result is detached. */
static cx_err parse_response(const rpcc_body *b, long status, cJSON **result, rpcc_error *err) {
  cJSON *j = b->len ? cJSON_ParseWithLength(b->buf, b->len) : NULL;
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    if (status != 200)
      err_set(err, RPCC_PROTOCOL, "HTTP status %ld without a JSON-RPC answer", status);
    else
      err_set(err, RPCC_PROTOCOL, "the answer is not a JSON-RPC response");
    return CX_E_RPC_PARSE;
  }
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(j, "jsonrpc");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
  cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "result");
  cx_err rc;
  if (!cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0") != 0 || (!e == !r)) {
    err_set(err, RPCC_PROTOCOL, "the answer is not a JSON-RPC 2.0 response");
    rc = CX_E_RPC_PARSE;
  } else if (e) {
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "data");
    if (!cJSON_IsNumber(code)) {
      err_set(err, RPCC_PROTOCOL, "error object without a numeric code");
      rc = CX_E_RPC_PARSE;
    } else {
      /* The id of an error may be null (e.g. the server could not read
       * ours); only a result must carry it. */
      if (err) {
        err->kind = RPCC_REMOTE;
        err->code = code->valueint;
        snprintf(err->message, sizeof err->message, "error %d", err->code);
        copy_str(err->message, sizeof err->message,
                 cJSON_GetObjectItemCaseSensitive(e, "message"));
        copy_str(err->name, sizeof err->name, cJSON_GetObjectItemCaseSensitive(data, "name"));
        copy_str(err->detail, sizeof err->detail,
                 cJSON_GetObjectItemCaseSensitive(data, "detail"));
      }
      rc = code_to_err(code->valueint);
    }
  } else if (!cJSON_IsNumber(id) || id->valueint != RPCC_ID) {
    err_set(err, RPCC_PROTOCOL, "the response id does not match the request");
    rc = CX_E_RPC_PARSE;
  } else {
    *result = cJSON_DetachItemViaPointer(j, r);
    rc = CX_OK;
  }
  cJSON_Delete(j);
  return rc;
}

static char *build_request(const char *method, cJSON *params) {
  cJSON *req = cJSON_CreateObject();
  char *text = NULL;
  if (!req) {
    cJSON_Delete(params);
    return NULL;
  }
  if (!cJSON_AddStringToObject(req, "jsonrpc", "2.0") ||
      !cJSON_AddStringToObject(req, "method", method) ||
      !cJSON_AddNumberToObject(req, "id", RPCC_ID))
    goto out;
  if (params) {
    cJSON_AddItemToObject(req, "params", params);
    params = NULL; /* owned by req now */
  }
  text = cJSON_PrintUnformatted(req);
out:
  cJSON_Delete(params);
  cJSON_Delete(req);
  return text;
}

cx_err rpcc_call(const char *url, const char *method, cJSON *params, const char *basic_auth,
                 cJSON **result, rpcc_error *err) {
  CX_ASSERT(url && method && result);
  *result = NULL;
  if (err) memset(err, 0, sizeof *err);
  char *req = build_request(method, params); /* consumes params */
  if (!req) {
    err_set(err, RPCC_TRANSPORT, "out of memory");
    return CX_E_NOMEM;
  }
  pthread_once(&g_once, global_init);
  if (g_init_rc != CURLE_OK) {
    free(req);
    err_set(err, RPCC_TRANSPORT, "libcurl: %s", curl_easy_strerror(g_init_rc));
    return CX_E_IO;
  }

  cx_err rc = CX_E_NOMEM;
  rpcc_body body = {0};
  char curl_msg[CURL_ERROR_SIZE] = "";
  struct curl_slist *hdrs = NULL;
  CURL *c = curl_easy_init();
  if (!c) goto out;
  struct curl_slist *h1 = curl_slist_append(NULL, "Content-Type: application/json");
  if (!h1) goto out;
  hdrs = h1;
  /* curl would send "Expect: 100-continue" for large bodies; one round trip
   * less, and libmicrohttpd does not need it. */
  if (!(h1 = curl_slist_append(hdrs, "Expect:"))) goto out;
  hdrs = h1;

  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, RPCC_CONNECT_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, RPCC_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)RPCC_MAX_RESPONSE);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, req);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(req));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_msg);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "custos-cli");
  if (basic_auth) {
    curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(c, CURLOPT_USERPWD, basic_auth);
  }

  CURLcode cr = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (err) err->http_status = status;
  if (body.too_big || cr == CURLE_FILESIZE_EXCEEDED) {
    err_set(err, RPCC_PROTOCOL, "response over %u bytes", RPCC_MAX_RESPONSE);
    rc = CX_E_RPC_PARSE;
  } else if (cr != CURLE_OK) {
    err_set(err, RPCC_TRANSPORT, "%s", curl_msg[0] ? curl_msg : curl_easy_strerror(cr));
    rc = cr == CURLE_OUT_OF_MEMORY                                      ? CX_E_NOMEM
         : cr == CURLE_URL_MALFORMAT || cr == CURLE_UNSUPPORTED_PROTOCOL ? CX_E_INVALID_ARG
                                                                         : CX_E_IO;
  } else {
    rc = parse_response(&body, status, result, err);
  }
out:
  if (rc == CX_E_NOMEM && err && !err->message[0])
    err_set(err, RPCC_TRANSPORT, "out of memory");
  if (c) curl_easy_cleanup(c);
  curl_slist_free_all(hdrs);
  free(body.buf);
  free(req);
  return rc;
}
