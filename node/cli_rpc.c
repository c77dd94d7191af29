/* cli_rpc: the CLI's side of the JSON-RPC conversation: calls with error
 * reporting, and the sign-and-submit flow shared by every transaction
 * command (chain id + nonce from the node, tx_sign, tx_submit, --wait). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "rpc_client.h"

/* Prints a failed call and returns its exit code (cli.h). */
int cli_rpc_report(const cli_ctx *c, const char *method, cx_err e, const rpcc_error *err) {
  if (e == CX_E_NOMEM) return cli_fail(CLI_LOCAL, "%s: out of memory", method);
  if (e == CX_E_INVALID_ARG) return cli_fail(CLI_USAGE, "--node %s: %s", c->node, err->message);
  switch (err->kind) {
    case RPCC_TRANSPORT:
      return cli_fail(CLI_UNREACHABLE, "cannot reach the node at %s: %s", c->node, err->message);
    case RPCC_PROTOCOL:
      return cli_fail(CLI_UNREACHABLE, "%s: unexpected answer from %s: %s", method, c->node,
                      err->message);
    default:
      break;
  }
  /* The rule name is what scripts and people grep for ("nonce_used"). */
  if (err->name[0])
    return cli_fail(CLI_REFUSED, "%s: %s (%s, code %d)%s%s", method, err->message, err->name,
                    err->code, err->detail[0] ? ": " : "", err->detail);
  return cli_fail(CLI_REFUSED, "%s: %s (code %d)%s%s", method, err->message, err->code,
                  err->detail[0] ? ": " : "", err->detail);
}

int cli_call(const cli_ctx *c, const char *method, cJSON *params, const char *auth,
             cJSON **result) {
  rpcc_error err;
  cx_err e = rpcc_call(c->node, method, params, auth, result, &err);
  return e == CX_OK ? CLI_OK : cli_rpc_report(c, method, e, &err);
}

int cli_query(const cli_ctx *c, const char *method, cJSON *params) {
  cJSON *r = NULL;
  int rc = cli_call(c, method, params, NULL, &r);
  if (rc) return rc;
  cli_print_json(c, r);
  cJSON_Delete(r);
  return CLI_OK;
}

cJSON *cli_params_hex(const char *field, const uint8_t *b, size_t n) {
  char hex[2 * 64 + 1];
  CX_ASSERT(n <= 64);
  hex_encode(b, n, hex);
  cJSON *p = cJSON_CreateObject();
  if (p && !cJSON_AddStringToObject(p, field, hex)) {
    cJSON_Delete(p);
    return NULL;
  }
  return p;
}

/* ---- signer ---- */

static int chain_info(const cli_ctx *c, cli_signer *s) {
  cJSON *r = NULL;
  int rc = cli_call(c, "status", cJSON_CreateObject(), NULL, &r);
  if (rc) return rc;
  const cJSON *cid = cJSON_GetObjectItemCaseSensitive(r, "chain_id");
  if (!cJSON_IsString(cid) || hex_decode(cid->valuestring, s->chain_id.b, 32) != CX_OK ||
      cli_json_u64(cJSON_GetObjectItemCaseSensitive(r, "height"), &s->height) != 0)
    rc = cli_fail(CLI_UNREACHABLE, "status: the node's answer lacks chain_id or height");
  cJSON_Delete(r);
  return rc;
}

static int next_nonce(const cli_ctx *c, cli_signer *s) {
  cJSON *r = NULL;
  cJSON *p = cli_params_hex("key", s->keys.pub.b, 32);
  if (!p) return cli_fail(CLI_LOCAL, "out of memory");
  int rc = cli_call(c, "account_get", p, NULL, &r);
  if (rc) return rc;
  if (cli_json_u64(cJSON_GetObjectItemCaseSensitive(r, "next_nonce"), &s->nonce) != 0)
    rc = cli_fail(CLI_UNREACHABLE, "account_get: the node's answer lacks next_nonce");
  cJSON_Delete(r);
  return rc;
}

int cli_signer_open(const cli_ctx *c, const cli_args *a, cli_signer *s) {
  memset(s, 0, sizeof *s);
  uint64_t forced = 0;
  int rc;
  /* Check the cheap local arguments before the (slow) KDF and the network. */
  if (a->nonce && (rc = cli_u64_arg("--nonce", a->nonce, &forced))) return rc;
  if ((rc = cli_load_signer_keys(c, &s->keys))) return rc;
  if ((rc = chain_info(c, s))) goto fail;
  if (a->nonce) {
    s->nonce = forced;
    s->nonce_forced = 1;
  } else if ((rc = next_nonce(c, s))) {
    goto fail;
  }
  return CLI_OK;
fail:
  cli_signer_close(s);
  return rc;
}

void cli_signer_close(cli_signer *s) { keystore_keys_free(&s->keys); }

/* ---- submit and wait ---- */

double cli_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Moves every member of extras into obj (extras is freed). */
static void merge_fields(cJSON *obj, cJSON *extras) {
  if (!extras) return;
  while (extras->child) {
    cJSON *f = cJSON_DetachItemViaPointer(extras, extras->child);
    cJSON_AddItemToObject(obj, f->string, f); /* keeps f->string */
  }
  cJSON_Delete(extras);
}

static void print_receipt(const cli_ctx *c, const cJSON *r) {
  if (c->json) {
    cli_print_json(c, r);
    return;
  }
  const cJSON *rec = cJSON_GetObjectItemCaseSensitive(r, "receipt");
  const cJSON *ok = cJSON_GetObjectItemCaseSensitive(rec, "ok");
  const cJSON *rule = cJSON_GetObjectItemCaseSensitive(rec, "rule");
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(rec, "message");
  const cJSON *code = cJSON_GetObjectItemCaseSensitive(rec, "code");
  cJSON *lines = cJSON_CreateObject();
  if (!lines) return;
  /* The fields a person wants first, then whatever extras the command added. */
  for (const cJSON *f = r->child; f; f = f->next) {
    if (strcmp(f->string, "receipt") == 0 || strcmp(f->string, "tx") == 0) continue;
    cJSON_AddItemToObject(lines, f->string, cJSON_Duplicate(f, 1));
  }
  char res[512];
  if (cJSON_IsTrue(ok))
    snprintf(res, sizeof res, "ok");
  else
    snprintf(res, sizeof res, "rejected: %s (code %d): %s",
             cJSON_IsString(rule) ? rule->valuestring : "?",
             cJSON_IsNumber(code) ? code->valueint : -1,
             cJSON_IsString(msg) ? msg->valuestring : "");
  cJSON_AddStringToObject(lines, "result", res);
  cli_print_fields(lines);
  cJSON_Delete(lines);
}

/* Polls tx_get until the transaction is committed (cli.h); *out gets the
 * node's answer. */
int cli_wait_committed(const cli_ctx *c, const char *txid, cJSON **out) {
  double deadline = cli_now_s() + c->timeout_s;
  *out = NULL;
  for (;;) {
    cJSON *r = NULL;
    rpcc_error err;
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "txid", txid)) {
      cJSON_Delete(p);
      return cli_fail(CLI_LOCAL, "out of memory");
    }
    cx_err e = rpcc_call(c->node, "tx_get", p, NULL, &r, &err);
    if (e == CX_OK) {
      const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
      if (cJSON_IsString(st) && strcmp(st->valuestring, "committed") == 0) {
        *out = r;
        return CLI_OK;
      }
      cJSON_Delete(r);
    } else if (!(err.kind == RPCC_REMOTE && e == CX_E_NOT_FOUND)) {
      /* not_found only in the instant between mempool and store: keep
       * polling; anything else is reported as is. */
      return cli_rpc_report(c, "tx_get", e, &err);
    }
    if (cli_now_s() >= deadline)
      return cli_fail(CLI_UNREACHABLE, "%s: not committed within %g s (still pending)", txid,
                      c->timeout_s);
    cli_sleep_ms(100);
  }
}

/* Prints the receipt of a committed transaction (r: tx_get's answer,
 * consumed) with extras (consumed). */
static int print_committed(const cli_ctx *c, const char *txid, cJSON *r, cJSON *extras) {
  const cJSON *rec = cJSON_GetObjectItemCaseSensitive(r, "receipt");
  const cJSON *rule = cJSON_GetObjectItemCaseSensitive(rec, "rule");
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(rec, "message");
  int accepted = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "ok"));
  merge_fields(r, extras);
  print_receipt(c, r);
  if (!accepted)
    cli_fail(CLI_REFUSED, "%s: rejected: %s (%s)", txid, cJSON_IsString(msg) ? msg->valuestring : "?",
             cJSON_IsString(rule) ? rule->valuestring : "?");
  cJSON_Delete(r);
  return accepted ? CLI_OK : CLI_REFUSED;
}

/* Encodes and re-decodes: a field the node would refuse as non-canonical
 * (a bad string, an unsorted set) is reported here, without a round trip. */
static int encode_checked(const cx_tx *tx, uint8_t **buf, size_t *len) {
  cx_err e = tx_encode(tx, 1, buf, len);
  if (e == CX_E_TX_TOO_BIG)
    return cli_fail(CLI_USAGE, "transaction: over the %d-byte cap", CX_TX_MAX_BYTES);
  if (e) return cli_fail(CLI_LOCAL, "transaction: cannot encode: %s", cx_err_str(e));
  cx_tx back;
  size_t off = 0;
  e = tx_decode(*buf, *len, &back, &off);
  tx_clear(&back);
  if (e) {
    free(*buf);
    *buf = NULL;
    return cli_fail(CLI_USAGE, "transaction: invalid field at byte %zu: %s (%s)", off,
                    cx_err_str(e), cx_err_name(e));
  }
  return CLI_OK;
}

/* ---- a client's nonce and the node's own transactions ----
 * The node signs transactions of its own under the member key (key
 * service, evidence, call results: node_submit_own), and an operator's
 * `custos` uses the same key. Both take the account's next free nonce,
 * so they can collide: the node that admits the second refuses it
 * (duplicate: that nonce is pending), or, when each reached another node
 * first, one of the two commits and the other is dropped from every
 * mempool (its nonce is used). Unless --nonce fixed the nonce, the CLI
 * re-signs under the next free nonce and submits again, SUBMIT_TRIES times
 * at most; with --nonce (or for a call with a dealing, nonce_bound) it says
 * what happened. */
#define SUBMIT_TRIES 5

typedef enum { WAIT_COMMITTED, WAIT_SUPERSEDED, WAIT_FAILED } wait_outcome;

/* The account's committed next nonce (account_get "nonce"). */
static int committed_nonce(const cli_ctx *c, const cli_signer *s, uint64_t *out) {
  cJSON *r = NULL;
  rpcc_error err;
  cJSON *p = cli_params_hex("key", s->keys.pub.b, 32);
  if (!p) return -1;
  cx_err e = rpcc_call(c->node, "account_get", p, NULL, &r, &err);
  int bad = e != CX_OK || cli_json_u64(cJSON_GetObjectItemCaseSensitive(r, "nonce"), out) != 0;
  cJSON_Delete(r);
  return bad ? -1 : 0;
}

/* Polls tx_get until txid is committed (*out: the answer), or until the
 * account's committed nonce has passed the transaction's while the node
 * knows it no more (superseded: another transaction took its nonce). On
 * WAIT_FAILED the error was printed and *rc is the exit code. */
static wait_outcome wait_tx(const cli_ctx *c, const cli_signer *s, const char *txid, double deadline,
                            cJSON **out, int *rc) {
  *out = NULL;
  for (;;) {
    for (int again = 0; again < 2; again++) { /* twice: the commit may fall between the two reads */
      cJSON *r = NULL;
      rpcc_error err;
      cJSON *p = cJSON_CreateObject();
      if (!p || !cJSON_AddStringToObject(p, "txid", txid)) {
        cJSON_Delete(p);
        *rc = cli_fail(CLI_LOCAL, "out of memory");
        return WAIT_FAILED;
      }
      cx_err e = rpcc_call(c->node, "tx_get", p, NULL, &r, &err);
      if (e == CX_OK) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(r, "status");
        if (cJSON_IsString(st) && strcmp(st->valuestring, "committed") == 0) {
          *out = r;
          return WAIT_COMMITTED;
        }
        cJSON_Delete(r);
        break; /* pending */
      }
      if (!(err.kind == RPCC_REMOTE && e == CX_E_NOT_FOUND)) {
        *rc = cli_rpc_report(c, "tx_get", e, &err);
        return WAIT_FAILED;
      }
      uint64_t next = 0;
      if (committed_nonce(c, s, &next) != 0 || next <= s->nonce) break; /* between mempool and store */
      if (again) return WAIT_SUPERSEDED;
    }
    if (cli_now_s() >= deadline) {
      *rc = cli_fail(CLI_UNREACHABLE, "%s: not committed within %g s (still pending)", txid, c->timeout_s);
      return WAIT_FAILED;
    }
    cli_sleep_ms(100);
  }
}

/* Whether the node knows txid (pending or committed): 1 yes, 0 no (not
 * found), -1 the question failed (then nothing is re-signed). */
static int known_tx(const cli_ctx *c, const char *txid) {
  cJSON *r = NULL;
  rpcc_error err;
  cJSON *p = cJSON_CreateObject();
  if (!p || !cJSON_AddStringToObject(p, "txid", txid)) {
    cJSON_Delete(p);
    return 0;
  }
  cx_err e = rpcc_call(c->node, "tx_get", p, NULL, &r, &err);
  cJSON_Delete(r);
  if (e == CX_OK) return 1;
  return err.kind == RPCC_REMOTE && e == CX_E_NOT_FOUND ? 0 : -1;
}

/* Signs tx under s->nonce and encodes it: *buf, *len, *hex (malloc'd), txid. */
static int sign_encode(cli_signer *s, cx_tx *tx, uint8_t **buf, size_t *len, char **hex,
                       char txid[CX_HASH_HEX_LEN]) {
  cx_hash id;
  tx->chain_id = s->chain_id;
  tx->nonce = s->nonce;
  cx_err e = tx_sign(tx, s->keys.sign);
  if (e) return cli_fail(CLI_LOCAL, "cannot sign: %s", cx_err_str(e));
  int rc = encode_checked(tx, buf, len);
  if (rc) return rc;
  tx_id_of_bytes(*buf, *len, &id);
  hash_hex(&id, txid);
  if (!(*hex = malloc(2 * *len + 1))) return cli_fail(CLI_LOCAL, "out of memory");
  hex_encode(*buf, *len, *hex);
  return CLI_OK;
}

/* A call's dealt params are sealed under the call's context, its nonce
 * included (tx_call_context; node/call_service.c opens them under the
 * transaction's nonce): signed again under another nonce, its parties could
 * not open them. Such a call is never re-signed; a collision is reported. */
static int nonce_bound(const cx_tx *tx) { return tx->type == TX_CALL && tx->u.call.nparties > 0; }

/* Moves to the account's next free nonce after `taken` was taken by
 * another transaction; says so on stderr. */
static int next_free_nonce(const cli_ctx *c, cli_signer *s, const char *how) {
  uint64_t taken = s->nonce;
  int rc = next_nonce(c, s);
  if (rc) return rc;
  if (s->nonce <= taken) s->nonce = taken + 1;
  fprintf(stderr,
          "custos: note: nonce %llu %s of this key (the node's own, or another client's); signing "
          "again under nonce %llu\n",
          (unsigned long long)taken, how, (unsigned long long)s->nonce);
  return CLI_OK;
}

/* Prints txid (and the encoding hex, when not NULL: offline signing) with
 * extras (consumed). */
static int print_txid(const cli_ctx *c, const char *txid, const char *hex, cJSON *extras) {
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddStringToObject(o, "txid", txid) || (hex && !cJSON_AddStringToObject(o, "tx", hex))) {
    cJSON_Delete(o);
    cJSON_Delete(extras);
    return cli_fail(CLI_LOCAL, "out of memory");
  }
  merge_fields(o, extras);
  if (c->json)
    cli_print_json(c, o);
  else
    cli_print_fields(o);
  cJSON_Delete(o);
  return CLI_OK;
}

int cli_sign_submit(const cli_ctx *c, cli_signer *s, cx_tx *tx, cJSON *extras) {
  uint8_t *buf = NULL;
  size_t len = 0;
  char *hex = NULL;
  cJSON *r = NULL;
  char txid[CX_HASH_HEX_LEN];
  int rc;
  double deadline = cli_now_s() + c->timeout_s;

  for (int attempt = 1;; attempt++) {
    free(buf);
    free(hex);
    buf = NULL;
    hex = NULL;
    if ((rc = sign_encode(s, tx, &buf, &len, &hex, txid))) goto out;
    if (c->print_only) { /* offline signing: hand the encoding to the caller */
      rc = print_txid(c, txid, hex, extras);
      extras = NULL;
      goto out;
    }
    int may_retry = !s->nonce_forced && !nonce_bound(tx) && attempt < SUBMIT_TRIES;
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "tx", hex)) {
      cJSON_Delete(p);
      rc = cli_fail(CLI_LOCAL, "out of memory");
      goto out;
    }
    rpcc_error err;
    cx_err e = rpcc_call(c->node, "tx_submit", p, NULL, &r, &err);
    if (e != CX_OK) {
      /* duplicate of another txid: the nonce is pending with another
       * transaction; nonce_used: it committed meanwhile */
      int taken = err.kind == RPCC_REMOTE && (e == CX_E_DUPLICATE || e == CX_E_NONCE_USED);
      int known = taken ? known_tx(c, txid) : 0;
      if (known == -1) taken = 0; /* unsure: report the node's refusal as it is */
      if (known == 1) { /* these very bytes: already in, never twice */
        e = CX_OK;
        if (!(r = cJSON_CreateObject()) || !cJSON_AddStringToObject(r, "txid", txid)) {
          rc = cli_fail(CLI_LOCAL, "out of memory");
          goto out;
        }
      } else if (taken && may_retry) {
        if ((rc = next_free_nonce(c, s, e == CX_E_DUPLICATE ? "is taken by a pending transaction" : "was used by a committed transaction"))) goto out;
        continue;
      } else {
        rc = cli_rpc_report(c, "tx_submit", e, &err);
        goto out;
      }
    }
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(r, "txid");
    /* Both sides hash the same bytes; a difference means client and node
     * disagree on the format, worth saying loudly. */
    if (!cJSON_IsString(rid) || strcmp(rid->valuestring, txid) != 0)
      fprintf(stderr, "custos: warning: the node reports txid %s, expected %s\n",
              cJSON_IsString(rid) ? rid->valuestring : "(none)", txid);
    cJSON_Delete(r);
    r = NULL;
    if (!c->wait) break;
    wait_outcome w = wait_tx(c, s, txid, deadline, &r, &rc); /* one --timeout for all attempts */
    if (w == WAIT_FAILED) goto out;
    if (w == WAIT_COMMITTED) {
      rc = print_committed(c, txid, r, extras);
      r = NULL;
      extras = NULL;
      goto out;
    }
    if (!may_retry) {
      rc = cli_fail(CLI_REFUSED,
                    "%s: superseded: nonce %llu was used by another transaction of this key, which "
                    "committed; this one was dropped and changed nothing",
                    txid, (unsigned long long)s->nonce);
      goto out;
    }
    if ((rc = next_free_nonce(c, s, "was used by a committed transaction"))) goto out;
  }
  rc = print_txid(c, txid, NULL, extras);
  extras = NULL;
out:
  cJSON_Delete(extras);
  cJSON_Delete(r);
  free(hex);
  free(buf);
  return rc;
}

int cli_admin_call(cli_ctx *c, const cli_args *a, const char *method, cJSON *params, cJSON **keep) {
  char *cookie = NULL;
  cJSON *r = NULL;
  int rc = cli_read_cookie(a, &cookie);
  if (rc) {
    cJSON_Delete(params);
    return rc;
  }
  rc = cli_call(c, method, params, cookie, &r);
  cli_free_cookie(cookie);
  if (rc) return rc;
  if (keep) {
    *keep = r;
    return CLI_OK;
  }
  cli_print_json(c, r);
  cJSON_Delete(r);
  return CLI_OK;
}
