/* rpc: JSON-RPC 2.0 over HTTP. See rpc.h for the contract and
 * docs/rpc-protocol.md for the wire reference.
 *
 * Layout: the transport-free core (handle_body and friends) turns one POST
 * body into one response text; the HTTP layer (on_request and friends)
 * accumulates bodies under the size cap, decides admin_ok and maps the
 * outcome to an HTTP status. Nothing here is mutable after
 * rpc_server_start but the request counters (atomics, and a small table of
 * error pairs under its own mutex), so worker threads share the server
 * without other locks. */
#include "rpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define MOD "rpc"

#define DEFAULT_BIND "127.0.0.1"
#define DEFAULT_MAX_BODY ((size_t)1 << 20)
#define DEFAULT_MAX_CONNS 64u
#define DEFAULT_MAX_BATCH 256u
#define DEFAULT_THREADS 2u
#define CONN_TIMEOUT_S 30u
/* A chunked body (no Content-Length) that passes max_body is read to its end
 * and dropped so that the client gets its 413; a client that keeps streaming
 * far past the cap is cut off instead. */
#define DISCARD_FACTOR 4u

#define COOKIE_USER "__cookie__"
#define COOKIE_RAW 32
#define COOKIE_LEN (sizeof COOKIE_USER - 1 + 1 + 2 * COOKIE_RAW) /* user:hex */

/* Used when even building an error response runs out of memory. */
static const char OOM_BODY[] =
    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":\"Internal error\"},"
    "\"id\":null}";

/* Distinct (method, error code) pairs kept. Methods and codes are closed
 * sets (the table, and the -326xx and cx_err codes handlers return), so this
 * is never expected to fill; pairs beyond it are not counted. */
#define ERR_PAIRS_MAX 512

/* The request counters (rpc.h, rpc_server_stats). req has nm + 2 entries:
 * the table's methods, then "unknown", then "invalid". */
typedef struct {
  size_t m; /* index as in req */
  int code;
  uint64_t count;
} err_pair;

typedef struct {
  size_t nm;
  uint64_t *req; /* atomics */
  pthread_mutex_t mu; /* guards err and nerr */
  err_pair err[ERR_PAIRS_MAX];
  size_t nerr;
} rpc_counters;

struct rpc_server {
  struct MHD_Daemon *daemon;
  rpc_counters *ctr;
  const rpc_method *methods;
  size_t n;
  void *ctx;
  size_t max_body;
  unsigned max_batch;
  rpc_get_handler get;
  uint16_t port;
  char *cookie_path;            /* NULL: admin methods disabled */
  char cookie[COOKIE_LEN + 1];  /* "__cookie__:<64 hex>" */
};

/* ---------------------------------------------------------------------------
 * Transport-free core
 * ------------------------------------------------------------------------- */

typedef struct {
  const rpc_method *methods;
  size_t n;
  void *ctx;
  int admin_ok;
  int auth_refused; /* out: an admin method was refused */
  rpc_counters *ctr; /* NULL: not counted (rpc_handle_body) */
} dispatch;

/* Counter indexes past the table's methods. */
#define IDX_UNKNOWN(c) ((c)->nm)
#define IDX_INVALID(c) ((c)->nm + 1)

static void count_req(rpc_counters *c, size_t m) {
  if (c) __atomic_fetch_add(&c->req[m], 1, __ATOMIC_RELAXED);
}

static void count_err(rpc_counters *c, size_t m, int code) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  size_t i = 0;
  while (i < c->nerr && !(c->err[i].m == m && c->err[i].code == code)) i++;
  if (i == c->nerr && c->nerr < ERR_PAIRS_MAX) {
    c->err[i].m = m;
    c->err[i].code = code;
    c->err[i].count = 0;
    c->nerr++;
  }
  if (i < c->nerr) c->err[i].count++;
  pthread_mutex_unlock(&c->mu);
}

/* The code an error response carries for a handler's cx_err (as
 * cx_error_object maps it). */
static int wire_code(cx_err e) {
  if (e == CX_E_RPC_PARAMS) return RPC_ERR_PARAMS;
  if (e == CX_E_RPC_METHOD) return RPC_ERR_METHOD;
  return (int)e;
}

static const char *std_message(int code) {
  switch (code) {
    case RPC_ERR_PARSE: return "Parse error";
    case RPC_ERR_REQUEST: return "Invalid Request";
    case RPC_ERR_METHOD: return "Method not found";
    case RPC_ERR_PARAMS: return "Invalid params";
    default: return "Internal error";
  }
}

/* Method names come from the client: keep log lines short and printable. */
static void log_outcome(const char *method, int code) {
  if (log_get_level() > LOG_DEBUG) return;
  char name[72];
  size_t i = 0;
  for (; method && method[i] && i < 64; i++) {
    unsigned char ch = (unsigned char)method[i];
    name[i] = (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch;
  }
  name[i] = 0;
  if (method && method[i]) strcpy(name + i, "...");
  if (code == 0)
    LOG_D(MOD, "method %s: ok", name);
  else
    LOG_D(MOD, "method %s: error %d (%s)", name, code,
          code < 0 ? std_message(code) : cx_err_name(code));
}

/* {"code", "message", "data": {"name"?, "detail"?}}; data only when it has
 * something to say. */
static cJSON *error_object(int code, const char *message, const char *name,
                           const char *detail) {
  cJSON *e = cJSON_CreateObject();
  int ok = 0;
  if (!e) goto out;
  if (!cJSON_AddNumberToObject(e, "code", code)) goto out;
  if (!cJSON_AddStringToObject(e, "message", message)) goto out;
  if (name || (detail && *detail)) {
    cJSON *data = cJSON_AddObjectToObject(e, "data");
    if (!data) goto out;
    if (name && !cJSON_AddStringToObject(data, "name", name)) goto out;
    if (detail && *detail && !cJSON_AddStringToObject(data, "detail", detail)) goto out;
  }
  ok = 1;
out:
  if (!ok) {
    cJSON_Delete(e);
    e = NULL;
  }
  return e;
}

/* The error object for a handler's cx_err: CX_E_RPC_PARAMS / _METHOD map to
 * the standard codes, anything else keeps its cx_err number. */
static cJSON *cx_error_object(cx_err code, const char *detail) {
  if (code == CX_E_RPC_PARAMS)
    return error_object(RPC_ERR_PARAMS, std_message(RPC_ERR_PARAMS), NULL, detail);
  if (code == CX_E_RPC_METHOD)
    return error_object(RPC_ERR_METHOD, std_message(RPC_ERR_METHOD), NULL, detail);
  return error_object((int)code, cx_err_str((int)code), cx_err_name((int)code), detail);
}

/* {"jsonrpc":"2.0", "result"|"error", "id"}; takes ownership of payload
 * (a result, or an error object when is_error). id NULL means null. */
static cJSON *response(const cJSON *id, cJSON *payload, int is_error) {
  cJSON *r = cJSON_CreateObject();
  cJSON *idc = NULL;
  int ok = 0;
  if (!r || !payload) goto out;
  if (!cJSON_AddStringToObject(r, "jsonrpc", "2.0")) goto out;
  if (!cJSON_AddItemToObject(r, is_error ? "error" : "result", payload)) goto out;
  payload = NULL; /* owned by r now */
  idc = id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull();
  if (!idc) goto out;
  if (!cJSON_AddItemToObject(r, "id", idc)) goto out;
  idc = NULL;
  ok = 1;
out:
  cJSON_Delete(payload);
  cJSON_Delete(idc);
  if (!ok) {
    cJSON_Delete(r);
    r = NULL;
  }
  return r;
}

static cJSON *std_error(const cJSON *id, int code, const char *detail) {
  return response(id, error_object(code, std_message(code), NULL, detail), 1);
}

static const rpc_method *find_method(const dispatch *dp, const char *name) {
  for (size_t i = 0; i < dp->n; i++)
    if (strcmp(dp->methods[i].name, name) == 0) return &dp->methods[i];
  return NULL;
}

/* Checks the request object's shape. Returns NULL when it is a valid
 * request, else why not; *id is the id to answer with (NULL = null). */
static const char *check_request(const cJSON *req, const cJSON **id, const char **method,
                                 const cJSON **params) {
  *id = NULL;
  if (!cJSON_IsObject(req)) return "request is not an object";
  const cJSON *idv = cJSON_GetObjectItemCaseSensitive(req, "id");
  if (idv && !cJSON_IsString(idv) && !cJSON_IsNumber(idv) && !cJSON_IsNull(idv))
    return "id must be a string, a number or null"; /* answered with null */
  *id = idv;
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(req, "jsonrpc");
  if (!cJSON_IsString(ver) || strcmp(ver->valuestring, "2.0") != 0)
    return "jsonrpc must be \"2.0\"";
  const cJSON *meth = cJSON_GetObjectItemCaseSensitive(req, "method");
  if (!cJSON_IsString(meth)) return "method must be a string";
  *method = meth->valuestring;
  *params = cJSON_GetObjectItemCaseSensitive(req, "params");
  if (*params && !cJSON_IsArray(*params) && !cJSON_IsObject(*params))
    return "params must be an array or an object";
  return NULL;
}

/* Runs one request object. Returns 0 with *out the response (NULL for a
 * notification), -1 when out of memory. */
static int handle_one(dispatch *dp, const cJSON *req, cJSON **out) {
  const cJSON *id, *params = NULL;
  const char *name = NULL;
  const rpc_method *m;
  cJSON *result = NULL;
  rpc_error err;
  cx_err rc;
  int answer = 1; /* a response is due (so NULL means out of memory) */
  *out = NULL;

  const char *bad = check_request(req, &id, &name, &params);
  if (bad) {
    LOG_D(MOD, "invalid request: %s", bad);
    if (dp->ctr) {
      count_req(dp->ctr, IDX_INVALID(dp->ctr));
      count_err(dp->ctr, IDX_INVALID(dp->ctr), RPC_ERR_REQUEST);
    }
    *out = std_error(id, RPC_ERR_REQUEST, bad);
    goto out;
  }
  /* no "id" member at all: a notification, never answered */
  answer = id != NULL;

  m = find_method(dp, name);
  if (!m) {
    log_outcome(name, RPC_ERR_METHOD);
    if (dp->ctr) {
      count_req(dp->ctr, IDX_UNKNOWN(dp->ctr));
      count_err(dp->ctr, IDX_UNKNOWN(dp->ctr), RPC_ERR_METHOD);
    }
    if (answer) *out = std_error(id, RPC_ERR_METHOD, NULL);
    goto out;
  }
  size_t mi = (size_t)(m - dp->methods);
  count_req(dp->ctr, mi);
  if (m->admin && !dp->admin_ok) {
    dp->auth_refused = 1;
    count_err(dp->ctr, mi, (int)CX_E_AUTH);
    log_outcome(m->name, CX_E_AUTH);
    if (answer)
      *out = response(id, cx_error_object(CX_E_AUTH, "admin method: needs a loopback "
                                                     "client and the cookie credentials"), 1);
    goto out;
  }

  memset(&err, 0, sizeof err);
  rc = m->fn(dp->ctx, params, &result, &err);
  err.detail[sizeof err.detail - 1] = 0; /* a handler may fill it to the brim */
  log_outcome(m->name, rc == CX_OK ? 0 : (int)rc);
  if (rc != CX_OK) count_err(dp->ctr, mi, wire_code(rc));
  if (!answer) goto out;
  if (rc != CX_OK) {
    *out = response(id, cx_error_object(rc, err.detail), 1);
  } else {
    *out = response(id, result ? result : cJSON_CreateNull(), 0);
    result = NULL; /* owned (or freed) by response() */
  }
out:
  /* a notification's result, or one a failing handler set anyway */
  cJSON_Delete(result);
  return answer && !*out ? -1 : 0;
}

/* RFC 8259 wants UTF-8; cJSON does not check it, and echoing invalid bytes
 * would make our responses invalid too. NUL is refused as well: cJSON would
 * stop at it and accept whatever follows. */
static int text_ok(const unsigned char *s, size_t len) {
  size_t i = 0;
  while (i < len) {
    /* Eight bytes at a time while they are ASCII and not NUL: a tx_submit
     * is ~530 such bytes, and byte by byte this loop took ~0.3 us of the
     * ~2.2 us one costs in handle_body (parse, dispatch, answer). */
    while (len - i >= 8) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      const uint64_t lo = 0x0101010101010101u, hi = 0x8080808080808080u;
      if ((w & hi) || ((w - lo) & ~w & hi)) break; /* a byte >= 0x80, or a 0 */
      i += 8;
    }
    if (i == len) break;
    unsigned c = s[i];
    if (c == 0) return 0;
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t need;
    unsigned cp;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (len - i - 1 < need) return 0;
    for (size_t k = 1; k <= need; k++) {
      unsigned cc = s[i + k];
      if ((cc & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (cc & 0x3f);
    }
    /* overlong forms, surrogates, beyond U+10FFFF */
    if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += need + 1;
  }
  return 1;
}

/* A body that never named a method: one request and one error, "invalid". */
static void count_invalid(dispatch *dp, int code) {
  if (!dp->ctr) return;
  count_req(dp->ctr, IDX_INVALID(dp->ctr));
  count_err(dp->ctr, IDX_INVALID(dp->ctr), code);
}

/* The whole body: parse, single or batch, print. *out is NULL when nothing
 * is to be answered (only notifications). *is_batch tells the HTTP layer
 * whether a refused admin call may turn into a 401. */
static cx_err handle_body(dispatch *dp, const char *body, size_t len, unsigned max_batch,
                          char **out, int *is_batch) {
  cx_err rc = CX_E_NOMEM;
  char *copy = NULL;
  cJSON *root = NULL, *resp = NULL;
  *out = NULL;
  *is_batch = 0;
  if (max_batch == 0) max_batch = DEFAULT_MAX_BATCH;

  if (len > 0 && text_ok((const unsigned char *)body, len)) {
    copy = malloc(len + 1);
    if (!copy) goto out;
    memcpy(copy, body, len);
    copy[len] = 0;
    /* len + 1 and require_null_terminated: trailing garbage is an error */
    root = cJSON_ParseWithLengthOpts(copy, len + 1, NULL, 1);
  }
  if (!root) {
    LOG_D(MOD, "parse error (%zu bytes)", len);
    count_invalid(dp, RPC_ERR_PARSE);
    resp = std_error(NULL, RPC_ERR_PARSE, NULL);
    if (!resp) goto out;
  } else if (cJSON_IsArray(root)) {
    *is_batch = 1;
    size_t count = 0;
    const cJSON *el;
    cJSON_ArrayForEach(el, root) {
      if (++count > max_batch) break;
    }
    if (count == 0) {
      count_invalid(dp, RPC_ERR_REQUEST);
      resp = std_error(NULL, RPC_ERR_REQUEST, "empty batch");
      if (!resp) goto out;
    } else if (count > max_batch) {
      char detail[96];
      snprintf(detail, sizeof detail, "batch over the limit of %u requests", max_batch);
      count_invalid(dp, RPC_ERR_REQUEST);
      resp = std_error(NULL, RPC_ERR_REQUEST, detail);
      if (!resp) goto out;
    } else {
      resp = cJSON_CreateArray();
      if (!resp) goto out;
      cJSON_ArrayForEach(el, root) {
        cJSON *one;
        if (handle_one(dp, el, &one) != 0) goto out;
        if (one && !cJSON_AddItemToArray(resp, one)) {
          cJSON_Delete(one);
          goto out;
        }
      }
      if (!resp->child) { /* only notifications */
        cJSON_Delete(resp);
        resp = NULL;
      }
    }
  } else {
    if (handle_one(dp, root, &resp) != 0) goto out;
  }

  if (resp) {
    *out = cJSON_PrintUnformatted(resp);
    if (!*out) goto out;
  }
  rc = CX_OK;
out:
  cJSON_Delete(resp);
  cJSON_Delete(root);
  free(copy);
  return rc;
}

char *rpc_handle_body(const rpc_method *methods, size_t n, void *ctx, const char *body,
                      size_t len, int admin_ok, unsigned max_batch) {
  CX_ASSERT(methods || n == 0);
  CX_ASSERT(body || len == 0);
  dispatch dp = {methods, n, ctx, admin_ok, 0, NULL};
  char *out = NULL;
  int is_batch;
  if (handle_body(&dp, body, len, max_batch, &out, &is_batch) != CX_OK) {
    /* NULL would read as "only notifications": say internal error instead */
    out = strdup(OOM_BODY);
  }
  return out;
}

/* ---------------------------------------------------------------------------
 * Parameter helpers
 * ------------------------------------------------------------------------- */

const cJSON *rpc_param(const cJSON *params, const char *name, int pos) {
  if (cJSON_IsObject(params)) return name ? cJSON_GetObjectItemCaseSensitive(params, name) : NULL;
  if (cJSON_IsArray(params)) return pos >= 0 ? cJSON_GetArrayItem(params, pos) : NULL;
  return NULL;
}

/* "params.name: what" for named params, "params[pos]: what" for positional. */
static void param_fail(rpc_error *err, const cJSON *params, const char *name, int pos,
                       const char *what) {
  if (!err) return;
  err->code = CX_E_RPC_PARAMS;
  if (name && !cJSON_IsArray(params))
    snprintf(err->detail, sizeof err->detail, "params.%s: %s", name, what);
  else
    snprintf(err->detail, sizeof err->detail, "params[%d]: %s", pos, what);
}

const char *rpc_param_str(const cJSON *params, const char *name, int pos, rpc_error *err) {
  const cJSON *v = rpc_param(params, name, pos);
  if (!v) {
    param_fail(err, params, name, pos, "missing");
    return NULL;
  }
  if (!cJSON_IsString(v) || !v->valuestring) {
    param_fail(err, params, name, pos, "expected a string");
    return NULL;
  }
  return v->valuestring;
}

/* Digits only, no sign, no leading zero (except "0"), at most UINT64_MAX. */
static int parse_u64_dec(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (!s[0] || (s[0] == '0' && s[1])) return -1;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int rpc_param_u64(const cJSON *params, const char *name, int pos, uint64_t *out,
                  rpc_error *err) {
  static const char *const expect =
      "expected a non-negative integer (number up to 2^53 or decimal string)";
  const cJSON *v = rpc_param(params, name, pos);
  uint64_t x;
  if (!v) {
    param_fail(err, params, name, pos, "missing");
    return -1;
  }
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    /* above 2^53 a double no longer names one integer: ask for a string */
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d) {
      param_fail(err, params, name, pos, expect);
      return -1;
    }
    x = (uint64_t)d;
  } else if (cJSON_IsString(v) && v->valuestring) {
    if (parse_u64_dec(v->valuestring, &x) != 0) {
      param_fail(err, params, name, pos, expect);
      return -1;
    }
  } else {
    param_fail(err, params, name, pos, expect);
    return -1;
  }
  if (out) *out = x;
  return 0;
}

/* ---------------------------------------------------------------------------
 * HTTP layer
 * ------------------------------------------------------------------------- */

/* Per-request state in MHD's con_cls. */
typedef struct {
  char *buf;
  size_t len, cap;
  size_t discarded; /* bytes dropped after passing max_body */
  int too_big;
  int answered; /* a response was queued before the body was read */
} conn_state;

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = 0;
  LOG_W(MOD, "httpd: %s", msg);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  conn_state *st = *con_cls;
  if (!st) return;
  free(st->buf);
  free(st);
  *con_cls = NULL;
}

/* Queues body (len bytes) with status. owned: body was malloc'd and MHD
 * frees it (also on failure here). hname/hval: one optional extra header. */
static enum MHD_Result send_response(struct MHD_Connection *c, unsigned status, char *body,
                                     size_t len, int owned, const char *ctype,
                                     const char *hname, const char *hval) {
  enum MHD_Result ret = MHD_NO;
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
  if (!r) {
    if (owned) free(body);
    goto out;
  }
  if (ctype && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES)
    goto out;
  if (hname && MHD_add_response_header(r, hname, hval) != MHD_YES) goto out;
  ret = MHD_queue_response(c, status, r);
out:
  if (r) MHD_destroy_response(r);
  return ret;
}

/* A JSON-RPC error with id null as an HTTP response (413, 404, 405). */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, int code,
                                  const char *detail, const char *hname, const char *hval) {
  cJSON *resp = code > 0 ? response(NULL, cx_error_object((cx_err)code, detail), 1)
                         : std_error(NULL, code, detail);
  char *text = resp ? cJSON_PrintUnformatted(resp) : NULL;
  cJSON_Delete(resp);
  if (!text)
    return send_response(c, 500, (char *)OOM_BODY, sizeof OOM_BODY - 1, 0,
                         "application/json", NULL, NULL);
  return send_response(c, status, text, strlen(text), 1, "application/json", hname, hval);
}

static enum MHD_Result send_too_big(rpc_server *s, struct MHD_Connection *c) {
  char detail[96];
  snprintf(detail, sizeof detail, "request body over %zu bytes", s->max_body);
  LOG_D(MOD, "refused a body over %zu bytes", s->max_body);
  dispatch dp = {s->methods, s->n, s->ctx, 0, 0, s->ctr};
  count_invalid(&dp, (int)CX_E_RPC_TOO_BIG);
  return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, CX_E_RPC_TOO_BIG, detail, NULL, NULL);
}

static int is_loopback(const struct sockaddr *sa) {
  if (!sa) return 0;
  if (sa->sa_family == AF_INET) {
    struct sockaddr_in in;
    memcpy(&in, sa, sizeof in);
    return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    struct sockaddr_in6 in6;
    memcpy(&in6, sa, sizeof in6);
    if (IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr)) return 1;
    return IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr) && in6.sin6_addr.s6_addr[12] == 127;
  }
  return 0;
}

static int client_is_loopback(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  return ci && is_loopback(ci->client_addr);
}

/* "Authorization: Basic base64(__cookie__:<hex>)" against the cookie. */
static int cookie_matches(const rpc_server *s, struct MHD_Connection *c) {
  unsigned char bin[COOKIE_LEN + 4];
  size_t bin_len = 0;
  const char *end = NULL;
  int ok = 0;
  const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                              MHD_HTTP_HEADER_AUTHORIZATION);
  if (!h) goto out;
  while (*h == ' ' || *h == '\t') h++;
  if (strncasecmp(h, "Basic", 5) != 0 || (h[5] != ' ' && h[5] != '\t')) goto out;
  h += 5;
  while (*h == ' ' || *h == '\t') h++;
  size_t n = strlen(h);
  while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t')) n--;
  /* fails (ERANGE) when the decoded text would not fit: not our cookie */
  if (sodium_base642bin(bin, sizeof bin, h, n, NULL, &bin_len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    goto out;
  if (end != h + n || bin_len != COOKIE_LEN) goto out;
  ok = sodium_memcmp(bin, s->cookie, COOKIE_LEN) == 0;
out:
  sodium_memzero(bin, sizeof bin);
  return ok;
}

/* Headers of every GET answer (/metrics, /healthz, the explorer's files:
 * docs/explorer.md): never served stale from a cache, never sniffed as
 * another type, and a page from here loads only from this origin. */
static const char *const GET_HEADERS[][2] = {
    {MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache"},
    {"X-Content-Type-Options", "nosniff"},
    {"Content-Security-Policy", "default-src 'self'; object-src 'none'; base-uri 'none'; "
                                "form-action 'none'; frame-ancestors 'none'"},
};

static enum MHD_Result serve_get(rpc_server *s, struct MHD_Connection *c, const char *url) {
  char *body = NULL;
  size_t len = 0;
  const char *ctype = NULL;
  enum MHD_Result ret = MHD_NO;
  int status = s->get(s->ctx, url, &body, &len, &ctype);
  if (status < 100 || status > 599) {
    LOG_W(MOD, "GET handler returned HTTP status %d", status);
    free(body);
    return send_response(c, 500, NULL, 0, 0, NULL, NULL, NULL);
  }
  if (!body) len = 0;
  struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                              ctype ? ctype : "text/plain; charset=utf-8") != MHD_YES)
    goto out;
  for (size_t i = 0; i < sizeof GET_HEADERS / sizeof GET_HEADERS[0]; i++)
    if (MHD_add_response_header(r, GET_HEADERS[i][0], GET_HEADERS[i][1]) != MHD_YES) goto out;
  ret = MHD_queue_response(c, (unsigned)status, r);
out:
  MHD_destroy_response(r);
  return ret;
}

/* First call for a request: only headers are known. Anything that can be
 * answered without the body is answered here, which also makes MHD skip the
 * body (and close the connection) instead of reading it. */
static enum MHD_Result on_headers(rpc_server *s, struct MHD_Connection *c, const char *url,
                                  const char *method, conn_state *st) {
  if (strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
    st->answered = 1;
    /* HEAD: MHD sends the GET response's headers without its body */
    if (s->get && (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                   strcmp(method, MHD_HTTP_METHOD_HEAD) == 0))
      return serve_get(s, c, url);
    return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, RPC_ERR_REQUEST,
                      "HTTP method not allowed: JSON-RPC wants POST", MHD_HTTP_HEADER_ALLOW,
                      s->get ? "GET, HEAD, POST" : "POST");
  }
  if (strcmp(url, "/") != 0) {
    st->answered = 1;
    return send_error(c, MHD_HTTP_NOT_FOUND, RPC_ERR_REQUEST, "JSON-RPC is served at /",
                      NULL, NULL);
  }
  const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                               MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl) {
    /* MHD has already refused a malformed Content-Length; anything too
     * long to parse is over any cap. */
    errno = 0;
    char *end;
    unsigned long long v = strtoull(cl, &end, 10);
    if (errno == ERANGE || v > s->max_body) {
      st->answered = 1;
      return send_too_big(s, c);
    }
  }
  return MHD_YES;
}

static enum MHD_Result on_chunk(const rpc_server *s, conn_state *st, const char *data,
                                size_t n) {
  if (st->too_big) {
    st->discarded += n;
    return st->discarded / DISCARD_FACTOR > s->max_body ? MHD_NO : MHD_YES;
  }
  if (n > s->max_body - st->len) {
    /* never hold more than max_body: drop what we have and the rest */
    st->too_big = 1;
    st->discarded = st->len + n;
    free(st->buf);
    st->buf = NULL;
    st->len = st->cap = 0;
    return MHD_YES;
  }
  if (st->len + n > st->cap) {
    size_t cap = st->cap ? st->cap : 4096;
    while (cap < st->len + n) cap *= 2;
    if (cap > s->max_body) cap = s->max_body;
    char *nb = realloc(st->buf, cap);
    if (!nb) return MHD_NO;
    st->buf = nb;
    st->cap = cap;
  }
  memcpy(st->buf + st->len, data, n);
  st->len += n;
  return MHD_YES;
}

/* The whole body is in: dispatch and answer. */
static enum MHD_Result on_body(rpc_server *s, struct MHD_Connection *c, conn_state *st) {
  if (st->too_big) return send_too_big(s, c);

  int loopback = client_is_loopback(c);
  dispatch dp = {s->methods, s->n, s->ctx, 0, 0, s->ctr};
  dp.admin_ok = s->cookie_path && loopback && cookie_matches(s, c);
  char *text = NULL;
  int is_batch = 0;
  if (handle_body(&dp, st->buf ? st->buf : "", st->len, s->max_batch, &text, &is_batch) !=
      CX_OK)
    return send_response(c, 500, (char *)OOM_BODY, sizeof OOM_BODY - 1, 0,
                         "application/json", NULL, NULL);
  if (!text) return send_response(c, MHD_HTTP_NO_CONTENT, NULL, 0, 0, NULL, NULL, NULL);

  if (dp.auth_refused && !is_batch) {
    /* 401 invites the client to send the cookie; when it could not help
     * (remote client, admin disabled) say 403. */
    if (loopback && s->cookie_path)
      return send_response(c, MHD_HTTP_UNAUTHORIZED, text, strlen(text), 1,
                           "application/json", MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                           "Basic realm=\"custos-admin\"");
    return send_response(c, MHD_HTTP_FORBIDDEN, text, strlen(text), 1, "application/json",
                         NULL, NULL);
  }
  return send_response(c, MHD_HTTP_OK, text, strlen(text), 1, "application/json", NULL,
                       NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  (void)version;
  rpc_server *s = cls;
  conn_state *st = *con_cls;
  if (!st) {
    st = calloc(1, sizeof *st);
    if (!st) return MHD_NO;
    *con_cls = st;
    return on_headers(s, c, url, method, st);
  }
  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (st->answered) return MHD_YES;
    return on_chunk(s, st, upload_data, n);
  }
  if (st->answered) return MHD_YES;
  st->answered = 1;
  return on_body(s, c, st);
}

/* ---------------------------------------------------------------------------
 * Cookie and lifecycle
 * ------------------------------------------------------------------------- */

static cx_err write_cookie(const char *path, const char *cookie) {
  cx_err rc = CX_E_IO;
  size_t len = strlen(cookie), off = 0;
  int saved;
  /* O_NOFOLLOW: do not let a planted symlink redirect the secret */
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) goto out;
  /* an existing file keeps its old mode through O_CREAT: force it */
  if (fchmod(fd, 0600) != 0) goto out;
  while (off < len) {
    ssize_t w = write(fd, cookie + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) goto out;
    off += (size_t)w;
  }
  if (fsync(fd) != 0) goto out;
  rc = CX_OK;
out:
  saved = errno; /* of the failing call, before close() can change it */
  if (fd >= 0 && close(fd) != 0 && rc == CX_OK) {
    rc = CX_E_IO;
    saved = errno;
  }
  if (rc != CX_OK) {
    LOG_E(MOD, "cannot write the admin cookie %s: %s", path, strerror(saved));
    if (fd >= 0) unlink(path);
  }
  return rc;
}

static rpc_counters *counters_new(size_t nm) {
  rpc_counters *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->nm = nm;
  c->req = calloc(nm + 2, sizeof *c->req);
  if (!c->req || pthread_mutex_init(&c->mu, NULL) != 0) {
    free(c->req);
    free(c);
    return NULL;
  }
  return c;
}

static void counters_free(rpc_counters *c) {
  if (!c) return;
  pthread_mutex_destroy(&c->mu);
  free(c->req);
  free(c);
}

static const char *counter_name(const rpc_server *s, size_t m) {
  if (m < s->n) return s->methods[m].name;
  return m == s->n ? RPC_METHOD_UNKNOWN : RPC_METHOD_INVALID;
}

void rpc_server_stats(const rpc_server *s, rpc_stat_fn fn, void *arg) {
  if (!s || !s->ctr) return;
  rpc_counters *c = s->ctr;
  for (size_t m = 0; m < c->nm + 2; m++)
    fn(arg, counter_name(s, m), 0, 0, __atomic_load_n(&c->req[m], __ATOMIC_RELAXED));
  /* copied out so that fn runs without the lock */
  err_pair *copy = malloc(sizeof c->err);
  if (!copy) return;
  pthread_mutex_lock(&c->mu);
  size_t ne = c->nerr;
  memcpy(copy, c->err, ne * sizeof *copy);
  pthread_mutex_unlock(&c->mu);
  for (size_t i = 0; i < ne; i++) fn(arg, counter_name(s, copy[i].m), 1, copy[i].code, copy[i].count);
  free(copy);
}

static void new_cookie(rpc_server *s) {
  unsigned char raw[COOKIE_RAW];
  randombytes_buf(raw, sizeof raw);
  memcpy(s->cookie, COOKIE_USER ":", sizeof COOKIE_USER);
  sodium_bin2hex(s->cookie + sizeof COOKIE_USER, 2 * COOKIE_RAW + 1, raw, sizeof raw);
  sodium_memzero(raw, sizeof raw);
}

cx_err rpc_server_start(const rpc_config *cfg, const rpc_method *methods, size_t n,
                        void *ctx, rpc_server **out) {
  CX_ASSERT(cfg && out && (methods || n == 0));
  for (size_t i = 0; i < n; i++) CX_ASSERT(methods[i].name && methods[i].fn);
  cx_err rc = CX_E_NOMEM;
  rpc_server *s = NULL;
  *out = NULL;

  if (sodium_init() < 0) {
    rc = CX_E_CRYPTO;
    goto out;
  }
  s = calloc(1, sizeof *s);
  if (!s) goto out;
  s->methods = methods;
  s->n = n;
  s->ctx = ctx;
  if (!(s->ctr = counters_new(n))) goto out;
  s->get = cfg->get;
  s->max_body = cfg->max_body ? cfg->max_body : DEFAULT_MAX_BODY;
  s->max_batch = cfg->max_batch ? cfg->max_batch : DEFAULT_MAX_BATCH;
  unsigned max_conns = cfg->max_conns ? cfg->max_conns : DEFAULT_MAX_CONNS;
  unsigned threads = cfg->threads ? cfg->threads : DEFAULT_THREADS;
  /* MHD splits the connection limit over the pool; a worker with a share
   * of 0 would make the start fail */
  if (threads > max_conns) threads = max_conns;

  const char *bind = cfg->bind_addr ? cfg->bind_addr : DEFAULT_BIND;
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(cfg->port);
  if (inet_pton(AF_INET, bind, &sa.sin_addr) != 1) {
    LOG_E(MOD, "bind address is not an IPv4 literal: %s", bind);
    rc = CX_E_CONFIG;
    goto out;
  }

  if (cfg->cookie_path) {
    s->cookie_path = strdup(cfg->cookie_path);
    if (!s->cookie_path) goto out;
    new_cookie(s);
  }

  struct MHD_OptionItem pool[2] = {{MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
  if (threads > 1) pool[0] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
  s->daemon = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, cfg->port, NULL,
      NULL, on_request, s,
      /* first, so that MHD's own messages go through our log */
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)max_conns,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONN_TIMEOUT_S,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
      MHD_OPTION_ARRAY, pool, MHD_OPTION_END);
  if (!s->daemon) {
    LOG_E(MOD, "cannot listen on %s:%u", bind, (unsigned)cfg->port);
    rc = CX_E_IO;
    goto out;
  }
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = di ? di->port : cfg->port;

  /* written once the daemon runs: a client that finds it can use it */
  if (s->cookie_path && (rc = write_cookie(s->cookie_path, s->cookie)) != CX_OK) goto out;

  LOG_I(MOD, "JSON-RPC on http://%s:%u/ (%u threads, admin %s)", bind, (unsigned)s->port,
        threads, s->cookie_path ? "enabled" : "disabled");
  *out = s;
  s = NULL;
  rc = CX_OK;
out:
  if (s) {
    if (s->daemon) MHD_stop_daemon(s->daemon);
    free(s->cookie_path);
    sodium_memzero(s->cookie, sizeof s->cookie);
    counters_free(s->ctr);
    free(s);
  }
  return rc;
}

uint16_t rpc_server_port(const rpc_server *s) { return s ? s->port : 0; }

void rpc_server_stop(rpc_server *s) {
  if (!s) return;
  /* joins the worker threads: no handler runs after this */
  MHD_stop_daemon(s->daemon);
  if (s->cookie_path) {
    if (unlink(s->cookie_path) != 0 && errno != ENOENT)
      LOG_W(MOD, "cannot remove the admin cookie %s: %s", s->cookie_path, strerror(errno));
    free(s->cookie_path);
  }
  sodium_memzero(s->cookie, sizeof s->cookie);
  counters_free(s->ctr);
  free(s);
}
