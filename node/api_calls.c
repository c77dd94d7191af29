/* JSON-RPC methods for the readers of call results (docs/rpc.md,
 * docs/calls.md §6, §7): call_wait, the insurer's long poll for a result,
 * and tx_proof, the pieces an auditor checks a committed transaction with
 * (header, certificate, audit paths) without trusting the node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "block.h"
#include "merkle.h"
#include "node.h"
#include "store.h"
#include "vm.h"

#define WAIT_DEFAULT_MS 10000
#define WAIT_MAX_MS 30000
#define WAIT_POLL_MS 25 /* docs/rpc.md: a result is seen within ~25 ms of its commit */

static cx_err params_err(rpc_error *err, const char *fmt, const char *field) {
  err->code = CX_E_RPC_PARAMS;
  snprintf(err->detail, sizeof err->detail, fmt, field);
  return CX_E_RPC_PARAMS;
}

/* params.txid: 64 hex digits. */
static int param_txid(const cJSON *params, cx_hash *out, rpc_error *err) {
  const char *s = rpc_param_str(params, "txid", 0, err);
  if (!s) return -1;
  if (hex_decode(s, out->b, 32) != CX_OK) {
    params_err(err, "params.%s: expected 64 hex digits", "txid");
    return -1;
  }
  return 0;
}


static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static const char *status_name(uint8_t s) {
  return s == CALL_PENDING ? "pending" : s == CALL_DONE ? "done" : s == CALL_ABORTED ? "aborted" : "unknown";
}

/* call_wait {txid, timeout_ms}: answers as soon as the call is closed, or
 * at the timeout with status "pending". The committed state is read every
 * WAIT_POLL_MS: a reader sees each commit whole (store.h), so no lock. */
static cx_err m_call_wait(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  node *n = ctx;
  cx_hash id;
  if (param_txid(params, &id, err)) return err->code;
  double timeout = WAIT_DEFAULT_MS;
  const cJSON *t = rpc_param(params, "timeout_ms", 1);
  if (t) {
    if (!cJSON_IsNumber(t) || !(t->valuedouble >= 1 && t->valuedouble <= WAIT_MAX_MS) ||
        t->valuedouble != (double)(long)t->valuedouble)
      return params_err(err, "params.%s: expected an integer from 1 to 30000 (milliseconds)", "timeout_ms");
    timeout = t->valuedouble;
  }
  double deadline = now_ms() + timeout;
  vm_call c;
  cx_err e;
  for (;;) {
    /* Unknown is answered at once, as call_get does: the client waits for
     * the call's own commit (tx_get) before it asks for its result. */
    if ((e = vm_call_get(node_state(n), &id, &c))) return e;
    double left = deadline - now_ms();
    if (c.status != CALL_PENDING || left <= 0 || node_failed(n)) break;
    sleep_ms(left < WAIT_POLL_MS ? (long)left + 1 : WAIT_POLL_MS);
  }
  cJSON *o = cJSON_CreateObject();
  if (!o) return CX_E_NOMEM;
  api_add_hex(o, "txid", id.b, 32);
  cJSON_AddStringToObject(o, "status", status_name(c.status));
  if (c.status != CALL_PENDING) {
    api_add_hex(o, "result", c.result.b, 32);
    cJSON_AddNumberToObject(o, "result_height", (double)c.result_height);
  }
  *result = o;
  return CX_OK;
}

/* tx_proof {txid}: where a committed transaction is and what proves it
 * (docs/calls.md §7): the header bytes, the certificate bytes and the two
 * audit paths (api_tx_proof, shared with member_history). The verifier
 * recomputes everything from them. */
static cx_err m_tx_proof(void *ctx, const cJSON *params, cJSON **result, rpc_error *err) {
  cx_hash id;
  if (param_txid(params, &id, err)) return err->code;
  return api_tx_proof(ctx, &id, result, NULL);
}

static const rpc_method methods[] = {
    {"call_wait", m_call_wait, 0},
    {"tx_proof", m_tx_proof, 0},
};

void api_calls_methods(const rpc_method **out, size_t *n) {
  *out = methods;
  *n = sizeof methods / sizeof methods[0];
}
