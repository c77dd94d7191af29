/* rpc: JSON-RPC 2.0 over HTTP (libmicrohttpd), method dispatch, limits and
 * admin authentication. Knows nothing of the chain: custosd registers its
 * methods in a table (node/api.c).
 *
 * Protocol (https://www.jsonrpc.org/specification):
 *  - POST / with a JSON body: a request object or a batch array (at most
 *    max_batch elements). Notifications (no "id") get no response entry.
 *  - Standard errors: -32700 parse error, -32600 invalid request, -32601
 *    method not found, -32602 invalid params, -32603 internal error.
 *  - Application errors: "code" is the cx_err number (positive, stable),
 *    "message" a sentence, "data": {"name": cx_err_name(code), "detail": ...}.
 *  - Request bodies over max_body get HTTP 413 and a JSON-RPC error
 *    (CX_E_RPC_TOO_BIG) without being read further; connections over
 *    max_conns are refused by the server.
 *
 * Admin methods (rpc_method.admin = 1) answer only when the client address is
 * loopback AND the request carries HTTP Basic credentials equal to the cookie
 * file's content "__cookie__:<64 hex>" (bitcoind's scheme). The cookie is a
 * fresh random token written at start to cookie_path with mode 0600 and
 * removed at stop. Anything else: error CX_E_AUTH, HTTP 401 or 403.
 *
 * Ownership: a handler returns a cJSON *result that the server owns and frees.
 * Thread safety: handlers run on libmicrohttpd's worker threads concurrently;
 * the ctx they share must be safe for that. */
#ifndef CUSTOS_RPC_H
#define CUSTOS_RPC_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define RPC_ERR_PARSE (-32700)
#define RPC_ERR_REQUEST (-32600)
#define RPC_ERR_METHOD (-32601)
#define RPC_ERR_PARAMS (-32602)
#define RPC_ERR_INTERNAL (-32603)

/* A handler's outcome when it fails: code is a cx_err (use CX_E_RPC_PARAMS
 * for bad parameters; it is mapped to -32602), detail an optional sentence
 * naming the field ("params.height: expected a non-negative integer"). */
typedef struct {
  cx_err code;
  char detail[256];
} rpc_error;

typedef cx_err (*rpc_handler)(void *ctx, const cJSON *params, cJSON **result,
                              rpc_error *err);

typedef struct {
  const char *name;
  rpc_handler fn;
  int admin; /* loopback + cookie required */
} rpc_method;

/* Optional handler for GET (and HEAD: MHD sends the headers only) requests
 * on any path (custosd: /metrics, /healthz; metrics.h). Returns an HTTP
 * status; *body malloc'd (server frees), *ctype static. POST stays JSON-RPC
 * at /; other HTTP methods get 405 with "Allow: GET, HEAD, POST". */
typedef int (*rpc_get_handler)(void *ctx, const char *path, char **body, size_t *len,
                               const char **ctype);

typedef struct {
  const char *bind_addr;   /* IPv4 literal; default "127.0.0.1" */
  uint16_t port;           /* 0 = pick a free port (see rpc_server_port) */
  size_t max_body;         /* bytes; default 1 MiB */
  unsigned max_conns;      /* default 64 */
  unsigned max_batch;      /* default 256 */
  unsigned threads;        /* worker threads; default 2 */
  const char *cookie_path; /* admin cookie file; NULL = admin methods disabled */
  rpc_get_handler get;     /* may be NULL: GET and HEAD answer 405 */
} rpc_config;

typedef struct rpc_server rpc_server;

/* Starts serving. methods (n entries) and ctx must outlive the server.
 * On success *out is owned by the caller; stop with rpc_server_stop. */
cx_err rpc_server_start(const rpc_config *cfg, const rpc_method *methods, size_t n,
                        void *ctx, rpc_server **out);
uint16_t rpc_server_port(const rpc_server *s);
/* Stops accepting, waits for running handlers, removes the cookie. NULL no-op. */
void rpc_server_stop(rpc_server *s);

/* Request counters (for /metrics; docs/operations.md, "Metrics and health").
 * Every JSON-RPC request object that reaches the dispatcher counts once
 * under its method's name from the table; a name not in the table counts
 * as "unknown", and what never named a method (parse error, invalid request
 * or batch, body over max_body) as "invalid", so the label set stays
 * bounded whatever clients send. Each error response counts under (method,
 * its JSON-RPC code: -326xx or the cx_err number). Notifications count too. */
#define RPC_METHOD_UNKNOWN "unknown"
#define RPC_METHOD_INVALID "invalid"
/* is_error 0: count = requests of method (code 0); 1: error responses with
 * code. method points into the table (or is one of the two names above). */
typedef void (*rpc_stat_fn)(void *arg, const char *method, int is_error, int code,
                            uint64_t count);
/* Calls fn for every method of the table, then "unknown" and "invalid"
 * (requests, zeros included), then for every (method, code) error pair seen
 * so far. Any thread; a consistent-enough snapshot (counters are atomics). */
void rpc_server_stats(const rpc_server *s, rpc_stat_fn fn, void *arg);

/* The transport-free core, for tests and fuzzing: handles one HTTP POST body
 * and returns the response JSON text (malloc'd; NULL when every element was a
 * notification). admin_ok says whether the caller passed the admin checks. */
char *rpc_handle_body(const rpc_method *methods, size_t n, void *ctx, const char *body,
                      size_t len, int admin_ok, unsigned max_batch);

/* Helpers for handlers: read a named (object) or positional (array) param.
 * They fill err with CX_E_RPC_PARAMS and a detail naming the field when the
 * param is missing or of the wrong type, and return NULL / -1. */
const cJSON *rpc_param(const cJSON *params, const char *name, int pos);
const char *rpc_param_str(const cJSON *params, const char *name, int pos, rpc_error *err);
int rpc_param_u64(const cJSON *params, const char *name, int pos, uint64_t *out,
                  rpc_error *err); /* 0 ok, -1 error; accepts integer or decimal string */

#endif
