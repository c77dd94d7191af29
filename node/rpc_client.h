/* rpc_client: a small blocking JSON-RPC 2.0 client over HTTP (libcurl), for
 * the custos CLI, tests and scripts-in-C. One request per call, no batching,
 * no connection reuse: the CLI makes a handful of calls per run.
 *
 * Limits: connect timeout 5 s, whole request 30 s, response body 16 MiB.
 * Only http:// and https:// URLs are followed; redirects are not. */
#ifndef CUSTOS_RPC_CLIENT_H
#define CUSTOS_RPC_CLIENT_H

#include <cjson/cJSON.h>

#include "error.h"

#define RPCC_CONNECT_TIMEOUT_MS 5000L
#define RPCC_TIMEOUT_MS 30000L
#define RPCC_MAX_RESPONSE (16u << 20)

typedef enum {
  RPCC_OK = 0,
  RPCC_TRANSPORT, /* no HTTP exchange: refused, timeout, DNS, TLS, ... */
  RPCC_PROTOCOL,  /* an answer that is not a JSON-RPC response (or too big) */
  RPCC_REMOTE,    /* the node answered with a JSON-RPC error object */
} rpcc_kind;

typedef struct rpcc_error {
  rpcc_kind kind;
  int code;          /* RPCC_REMOTE: the JSON-RPC error code (cx_err when > 0) */
  long http_status;  /* 0 when there was no HTTP response */
  char message[256]; /* remote "message", or what went wrong locally */
  char name[64];     /* remote data.name ("" when absent) */
  char detail[512];  /* remote data.detail ("" when absent) */
} rpcc_error;

/* Calls `method` at url. params (object, array or NULL) is consumed in every
 * case. basic_auth is NULL or "user:password" (the admin cookie file's
 * content "__cookie__:<hex>"), sent as HTTP Basic credentials.
 * Returns:
 *   CX_OK            *result is the "result" member (caller cJSON_Deletes);
 *   CX_E_IO          transport failure (err->kind RPCC_TRANSPORT);
 *   CX_E_INVALID_ARG the URL is malformed or not http(s) (RPCC_TRANSPORT);
 *   CX_E_RPC_PARSE   the answer is not a JSON-RPC response (RPCC_PROTOCOL);
 *   CX_E_NOMEM
 *   otherwise        the node's error (RPCC_REMOTE): the cx_err number for
 *                    an application error (code > 0), or CX_E_RPC_PARSE /
 *                    _REQUEST / _METHOD / _PARAMS / CX_E_INTERNAL for the
 *                    standard negative codes. err->code keeps the raw code.
 * err may be NULL. */
cx_err rpcc_call(const char *url, const char *method, cJSON *params, const char *basic_auth,
                 cJSON **result, rpcc_error *err);

/* Releases libcurl's global state; optional, call once at exit. */
void rpcc_cleanup(void);

#endif
