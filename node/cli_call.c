/* cli_call: an insurer calls its contract for a subject (TX_CALL,
 * docs/transactions.md §3.12). The public args go in the transaction as they
 * are; the secret params are secret-shared here, on the client, and each
 * party's shares sealed to its validator's enc_key (mpc/client.h), so no
 * node ever sees them in the clear. `call get` (and `call --wait`) reads a
 * call's result back: public outputs as they are, private ones opened with
 * the insurer's keystore from the parties' sealed mask shares
 * (docs/calls.md §3, §6). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "field.h"
#include "lang.h"
#include "lang_call.h"
#include "mpc.h"
#include "rpc_client.h"

/* The contract's bytecode, from the node (contract_get), decoded. */
static int fetch_contract(const cli_ctx *c, const cx_hash *id, lang_contract **out) {
  cJSON *r = NULL;
  int rc = cli_call(c, "contract_get", cli_params_hex("id", id->b, 32), NULL, &r);
  if (rc) return rc;
  const cJSON *bc = cJSON_GetObjectItemCaseSensitive(r, "bytecode");
  uint8_t *b = malloc(CX_BYTECODE_MAX);
  size_t len = 0;
  char err[200] = "";
  if (!b) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
  } else if (!cJSON_IsString(bc) || hex_decode_var(bc->valuestring, b, CX_BYTECODE_MAX, &len)) {
    rc = cli_fail(CLI_REFUSED, "contract_get: the node sent no bytecode");
  } else if (lang_decode(b, len, out, err, sizeof err)) {
    rc = cli_fail(CLI_REFUSED, "contract_get: the bytecode does not decode: %s", err);
  }
  free(b);
  cJSON_Delete(r);
  return rc;
}

/* The validators' enc_keys in validator order (by name: member_list sorts
 * members by name), party i = the i-th. */
static int fetch_parties(const cli_ctx *c, uint8_t (**keys)[MPC_CLIENT_KEY], uint32_t *n) {
  cJSON *r = NULL;
  int rc = cli_call(c, "member_list", cJSON_CreateObject(), NULL, &r);
  if (rc) return rc;
  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(r, "members"), *m;
  *n = 0;
  *keys = calloc(CX_MAX_VALIDATORS, sizeof **keys);
  if (!*keys) rc = cli_fail(CLI_LOCAL, "out of memory");
  cJSON_ArrayForEach(m, ms) {
    if (rc) break;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "validator"))) continue;
    const cJSON *ek = cJSON_GetObjectItemCaseSensitive(m, "enc_key");
    if (*n >= CX_MAX_VALIDATORS || !cJSON_IsString(ek) || hex_decode(ek->valuestring, (*keys)[*n], 32))
      rc = cli_fail(CLI_REFUSED, "member_list: malformed validator list");
    else
      (*n)++;
  }
  if (!rc && *n == 0) rc = cli_fail(CLI_REFUSED, "member_list: no validators");
  cJSON_Delete(r);
  return rc;
}

/* Reads the params and args of the inputs file (entries naming inputs are
 * skipped: the file of `contract run` serves as it is); its text holds
 * params, so it is wiped before it is freed (lang wipes its parse tree). */
static int read_inputs(const char *path, const lang_contract *lc, lang_values **out) {
  char *txt = NULL, err[256];
  size_t len = 0;
  int rc = cli_read_file(path, 1 << 20, &txt, &len);
  if (rc) return rc;
  lang_values *v = lang_values_new(lc);
  if (!v) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
  } else if (lang_values_read_json(v, txt, len, LANG_KIND(LANG_PARAM) | LANG_KIND(LANG_ARG), err, sizeof err)) {
    rc = cli_fail(CLI_USAGE, "%s: %s", path, err);
    lang_values_free(v);
    v = NULL;
  }
  sodium_memzero(txt, len);
  free(txt);
  *out = v;
  return rc;
}

/* ---- waiting for and reading a result (docs/calls.md §6) ---- */

static int status_is(const cJSON *o, const char *s) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "status");
  return cJSON_IsString(v) && strcmp(v->valuestring, s) == 0;
}

/* Long-polls call_wait until the call is closed or the deadline passes;
 * each request asks for at most 10 s (the RPC client gives up at 30). */
static int wait_result(const cli_ctx *c, const cx_hash *id, double deadline) {
  char hex[CX_HASH_HEX_LEN];
  hash_hex(id, hex);
  for (;;) {
    double left_ms = (deadline - cli_now_s()) * 1e3;
    long ask = left_ms > 10000 ? 10000 : left_ms < 1 ? 1 : (long)left_ms;
    cJSON *p = cJSON_CreateObject(), *r = NULL;
    if (!p || !cJSON_AddStringToObject(p, "txid", hex) || !cJSON_AddNumberToObject(p, "timeout_ms", (double)ask)) {
      cJSON_Delete(p);
      return cli_fail(CLI_LOCAL, "out of memory");
    }
    rpcc_error err;
    cx_err e = rpcc_call(c->node, "call_wait", p, NULL, &r, &err);
    if (e) return cli_rpc_report(c, "call_wait", e, &err);
    int pending = status_is(r, "pending");
    cJSON_Delete(r);
    if (!pending) return CLI_OK;
    if (cli_now_s() >= deadline)
      return cli_fail(CLI_UNREACHABLE, "call %s: no result within %g s (status: pending)", hex, c->timeout_s);
  }
}

/* Polls tx_get until the transaction is committed. A rejected call has no
 * result to wait for: its receipt is printed and the exit code is 1. */
static int wait_committed(const cli_ctx *c, const char *txid, double deadline) {
  for (;;) {
    cJSON *p = cJSON_CreateObject(), *r = NULL;
    if (!p || !cJSON_AddStringToObject(p, "txid", txid)) {
      cJSON_Delete(p);
      return cli_fail(CLI_LOCAL, "out of memory");
    }
    rpcc_error err;
    cx_err e = rpcc_call(c->node, "tx_get", p, NULL, &r, &err);
    if (e == CX_OK && status_is(r, "committed")) {
      const cJSON *rec = cJSON_GetObjectItemCaseSensitive(r, "receipt");
      const cJSON *rule = cJSON_GetObjectItemCaseSensitive(rec, "rule");
      const cJSON *msg = cJSON_GetObjectItemCaseSensitive(rec, "message");
      int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "ok"));
      if (!ok) {
        if (c->json) cli_print_json(c, r);
        cli_fail(CLI_REFUSED, "%s: rejected: %s (%s)", txid, cJSON_IsString(msg) ? msg->valuestring : "?",
                 cJSON_IsString(rule) ? rule->valuestring : "?");
      }
      cJSON_Delete(r);
      return ok ? CLI_OK : CLI_REFUSED;
    }
    cJSON_Delete(r);
    /* not_found only in the instant between mempool and store */
    if (e != CX_OK && !(err.kind == RPCC_REMOTE && e == CX_E_NOT_FOUND)) return cli_rpc_report(c, "tx_get", e, &err);
    if (cli_now_s() >= deadline)
      return cli_fail(CLI_UNREACHABLE, "call %s: not committed within %g s (status: pending in the mempool)", txid,
                      c->timeout_s);
    cli_sleep_ms(100);
  }
}

/* The flat outputs of a closed call as the insurer reads them. Private
 * values (once opened) live in val, sodium_malloc'd and wiped on free. */
typedef struct {
  size_t nout, npriv;
  uint8_t *priv, *have; /* per element: private; value known */
  int64_t *val;         /* sodium_malloc'd */
  const char *sealed;   /* why private values are not shown ("" once opened) */
  char why[300];
  uint64_t corrected;   /* parties whose shares Berlekamp–Welch corrected */
  uint64_t unopened;    /* parties whose blob this keystore does not open */
} out_view;

static void out_view_free(out_view *v) {
  free(v->priv);
  free(v->have);
  if (v->val) sodium_free(v->val); /* wipes */
  memset(v, 0, sizeof *v);
}

static int json_i64(const cJSON *j, int64_t *out) {
  if (cJSON_IsNumber(j) && j->valuedouble >= -9007199254740992.0 && j->valuedouble <= 9007199254740992.0) {
    *out = (int64_t)j->valuedouble;
    return 0;
  }
  if (cJSON_IsString(j)) {
    char *end;
    errno = 0;
    long long x = strtoll(j->valuestring, &end, 10);
    if (!errno && *j->valuestring && !*end) {
      *out = x;
      return 0;
    }
  }
  return -1;
}

/* The mask shares party p sealed to the insurer (its blob), opened with
 * the keystore's X25519 key; NULL if it does not open or decode. */
static fe *open_blob(const cJSON *blob, size_t npriv, const keystore_keys *k) {
  size_t want = npriv * FE_BYTES + crypto_box_SEALBYTES, len = 0;
  if (!cJSON_IsString(blob) || strlen(blob->valuestring) != 2 * want) return NULL;
  uint8_t *b = malloc(want), *plain = sodium_malloc(npriv * FE_BYTES);
  fe *sh = sodium_malloc(npriv * sizeof *sh);
  int ok = b && plain && sh && hex_decode_var(blob->valuestring, b, want, &len) == CX_OK && len == want &&
           crypto_box_seal_open(plain, b, want, k->enc_public, k->enc_secret) == 0 &&
           fe_decode_vec(plain, npriv, sh) == 0;
  free(b);
  if (plain) sodium_free(plain); /* wipes */
  if (!ok && sh) {
    sodium_free(sh);
    sh = NULL;
  }
  return sh;
}

/* Rebuilds the masks r from the parties' shares (mpc_reconstruct:
 * Berlekamp–Welch, so a wrong blob is corrected and its party named) and
 * unmasks the private elements (lang_call_unmask: z = masked - r, checked
 * against the port's range). docs/calls.md §3, §6. */
static int open_private(const lang_contract *lc, const cJSON *sigs, uint32_t n, const size_t *flat,
                        const fe *masked, const keystore_keys *k, out_view *v) {
  size_t np = v->npriv;
  fe *sh[CX_MAX_VALIDATORS] = {0}, *r = sodium_malloc(np * sizeof *r);
  int64_t *z = sodium_malloc(np * sizeof *z);
  const cJSON *s;
  int rc = CLI_OK, any = 0;
  if (!r || !z) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out;
  }
  cJSON_ArrayForEach(s, sigs) {
    uint64_t p;
    if (cli_json_u64(cJSON_GetObjectItemCaseSensitive(s, "party"), &p) != 0 || p >= n || sh[p]) continue;
    if ((sh[p] = open_blob(cJSON_GetObjectItemCaseSensitive(s, "blob"), np, k)))
      any = 1;
    else
      v->unopened |= 1ull << p;
  }
  if (!any) {
    v->sealed = "(private: sealed to the insurer; this keystore opens none of the parties' blobs)";
    rc = cli_fail(CLI_LOCAL, "the keystore opens none of the parties' blobs: is it the insurer's?");
    goto out;
  }
  char err[256] = "";
  uint64_t bad = 0;
  if (mpc_reconstruct(n, (n - 1) / 3, (const fe *const *)sh, np, r, &bad) != CX_OK) {
    v->sealed = "(private: the parties' shares do not reconstruct the masks)";
    rc = cli_fail(CLI_REFUSED, "the private outputs' masks do not reconstruct from the parties' shares");
    goto out;
  }
  v->corrected = bad;
  if (lang_call_unmask(lc, flat, masked, r, np, z, err, sizeof err) != CX_OK) {
    snprintf(v->why, sizeof v->why, "(private: %s)", err);
    v->sealed = v->why;
    rc = cli_fail(CLI_REFUSED, "cannot unmask the private outputs: %s", err);
    goto out;
  }
  for (size_t q = 0; q < np; q++) {
    v->val[flat[q]] = z[q];
    v->have[flat[q]] = 1;
  }
  v->sealed = "";
out:
  for (uint32_t i = 0; i < CX_MAX_VALIDATORS; i++)
    if (sh[i]) sodium_free(sh[i]);
  if (r) sodium_free(r);
  if (z) sodium_free(z);
  return rc;
}

/* Reads the result's outputs against the contract's interface; with the
 * insurer's keys, opens the private ones. */
static int read_outputs(const cJSON *res, const lang_contract *lc, uint32_t n, const keystore_keys *k,
                        out_view *v) {
  const cJSON *outs = cJSON_GetObjectItemCaseSensitive(res, "outputs"), *o;
  size_t j = 0, q = 0, *flat = NULL;
  fe *masked = NULL;
  int rc = CLI_OK;
  memset(v, 0, sizeof *v);
  v->nout = lang_outputs_len(lc);
  if ((size_t)cJSON_GetArraySize(outs) != v->nout)
    return cli_fail(CLI_REFUSED, "call_get: the result has %d outputs, the contract %zu", cJSON_GetArraySize(outs),
                    v->nout);
  v->priv = calloc(v->nout + 1, 1);
  v->have = calloc(v->nout + 1, 1);
  v->val = sodium_malloc((v->nout + 1) * sizeof *v->val);
  flat = calloc(v->nout + 1, sizeof *flat);
  masked = calloc(v->nout + 1, sizeof *masked);
  if (!v->priv || !v->have || !v->val || !flat || !masked) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out;
  }
  cJSON_ArrayForEach(o, outs) {
    v->priv[j] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "private"));
    if (!v->priv[j]) {
      v->have[j] = json_i64(cJSON_GetObjectItemCaseSensitive(o, "value"), &v->val[j]) == 0;
    } else {
      const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "masked");
      uint8_t b[FE_BYTES];
      if (!cJSON_IsString(m) || hex_decode(m->valuestring, b, FE_BYTES) || fe_decode(b, &masked[q])) {
        rc = cli_fail(CLI_REFUSED, "call_get: output %zu: malformed masked value", j);
        goto out;
      }
      flat[q++] = j;
    }
    j++;
  }
  v->npriv = q;
  v->sealed = "(private: sealed to the insurer)";
  if (q && k)
    rc = open_private(lc, cJSON_GetObjectItemCaseSensitive(res, "sigs"), n, flat, masked, k, v);
out:
  free(flat);
  free(masked);
  return rc;
}

/* The value of output port p (elements from `first`) as JSON, or NULL for
 * a private value not opened. */
static cJSON *port_json(const lang_port *p, const out_view *v, size_t first) {
  size_t ne = p->len ? p->len : 1;
  cJSON *a = p->len ? cJSON_CreateArray() : NULL;
  for (size_t e = 0; e < ne; e++) {
    size_t j = first + e;
    cJSON *x;
    if (!v->have[j])
      x = cJSON_CreateNull();
    else if (p->is_bool)
      x = cJSON_CreateBool(v->val[j] != 0);
    else if (v->val[j] >= -(1LL << 53) && v->val[j] <= (1LL << 53))
      x = cJSON_CreateNumber((double)v->val[j]);
    else {
      char buf[24];
      snprintf(buf, sizeof buf, "%lld", (long long)v->val[j]);
      x = cJSON_CreateString(buf);
    }
    if (!p->len) return x;
    cJSON_AddItemToArray(a, x);
  }
  return a;
}

/* Names of the parties in mask, by the call's party keys and member_list. */
static cJSON *party_names(const cJSON *call, const cJSON *members, uint64_t mask) {
  const cJSON *parties = cJSON_GetObjectItemCaseSensitive(call, "parties"), *k, *m;
  cJSON *a = cJSON_CreateArray();
  int i = 0;
  cJSON_ArrayForEach(k, parties) {
    if (i < 64 && (mask >> i) & 1) {
      char name[48];
      snprintf(name, sizeof name, "party %d", i);
      cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(members, "members")) {
        const cJSON *mk = cJSON_GetObjectItemCaseSensitive(m, "key"), *mn = cJSON_GetObjectItemCaseSensitive(m, "name");
        if (cJSON_IsString(k) && cJSON_IsString(mk) && cJSON_IsString(mn) && strcmp(mk->valuestring, k->valuestring) == 0)
          snprintf(name, sizeof name, "%s", mn->valuestring);
      }
      cJSON_AddItemToArray(a, cJSON_CreateString(name));
    }
    i++;
  }
  return a;
}

static void print_names(const char *label, const cJSON *names, const char *suffix) {
  const cJSON *x;
  int first = 1;
  printf("%-11s", label);
  cJSON_ArrayForEach(x, names) {
    printf("%s%s", first ? "" : ", ", x->valuestring);
    first = 0;
  }
  printf("%s%s\n", first ? "-" : "", suffix);
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "?";
}

static double jnum(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Human view of a call and its result. */
static void print_call(const cJSON *call, const cJSON *res, const lang_contract *lc, const out_view *v,
                       const cJSON *signers, const cJSON *corrected, const cJSON *unopened) {
  char *args = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(call, "args"));
  printf("%-11s%s\n", "call:", jstr(call, "txid"));
  printf("%-11s%s\n", "contract:", jstr(call, "contract"));
  printf("%-11s%s\n", "subject:", jstr(call, "did"));
  printf("%-11s%s\n", "consent:", jstr(call, "consent"));
  printf("%-11s%s\n", "insurer:", jstr(call, "insurer"));
  printf("%-11s%.0f\n", "height:", jnum(call, "height"));
  printf("%-11s%s\n", "args:", args ? args : "?");
  free(args);
  printf("%-11s%s\n", "status:", jstr(call, "status"));
  if (!res) return;
  printf("%-11s%s (height %.0f)\n", "result:", jstr(call, "result_txid"), jnum(call, "result_height"));
  char suffix[64];
  int frost = strcmp(jstr(res, "proof"), "frost") == 0;
  snprintf(suffix, sizeof suffix, " (%d of %.0f parties)", cJSON_GetArraySize(signers), jnum(call, "nparties"));
  if (frost) /* docs/keys.md §8: one signature; the listed parties sent the blobs */
    printf("%-11sone FROST signature by the consortium's results key (epoch %.0f)\n", "proof:",
           jnum(res, "key_epoch"));
  print_names(frost ? "blobs from:" : "signers:", signers, suffix);
  const cJSON *au = cJSON_GetObjectItemCaseSensitive(call, "audit");
  if (cJSON_IsObject(au))
    printf("%-11s%s (beacon of height %.0f)\n", "audit:",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(au, "sampled")) ? "sampled" : "not sampled",
           jnum(au, "beacon_height"));
  if (status_is(res, "aborted")) {
    printf("%-11s%s (code %.0f)\n", "code:", jstr(res, "code_name"), jnum(res, "code"));
    printf("%-11s%s\n", "reason:", jstr(res, "reason"));
    return;
  }
  const cJSON *in;
  int first = 1;
  cJSON_ArrayForEach(in, cJSON_GetObjectItemCaseSensitive(res, "inputs")) {
    printf("%-11s%s: root %s, count %.0f, leaf %s\n", first ? "inputs:" : "", jstr(in, "domain"), jstr(in, "root"),
           jnum(in, "count"), jstr(in, "leaf"));
    first = 0;
  }
  first = 1;
  for (size_t i = 0, j = 0; lc && i < lang_nports(lc); i++) {
    lang_port p;
    lang_port_get(lc, i, &p);
    if (p.kind != LANG_OUT_PUBLIC && p.kind != LANG_OUT_PRIVATE) continue;
    size_t ne = p.len ? p.len : 1;
    cJSON *x = port_json(&p, v, j);
    char *s = x && v->have[j] ? cJSON_PrintUnformatted(x) : NULL;
    printf("%-11s%s = %s%s\n", first ? "outputs:" : "", p.name, s ? s : v->sealed,
           p.kind == LANG_OUT_PRIVATE && s ? " (private)" : "");
    if (s) {
      sodium_memzero(s, strlen(s));
      free(s);
    }
    cJSON_Delete(x);
    j += ne;
    first = 0;
  }
  if (cJSON_GetArraySize(corrected)) print_names("corrected:", corrected, " (wrong mask shares, corrected)");
  if (cJSON_GetArraySize(unopened)) print_names("unopened:", unopened, " (blob does not open with this keystore)");
}

/* `call get` and `call --wait`: the record and, once closed, the result
 * (public outputs by name; private ones opened with the insurer's keys). */
static int show_call(const cli_ctx *c, const cx_hash *id, const keystore_keys *keys) {
  cJSON *call = NULL, *members = NULL, *signers = NULL, *corrected = NULL, *unopened = NULL;
  lang_contract *lc = NULL;
  out_view v;
  memset(&v, 0, sizeof v);
  int rc = cli_call(c, "call_get", cli_params_hex("txid", id->b, 32), NULL, &call);
  if (rc) return rc;
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(call, "result");
  if (!cJSON_IsObject(res)) res = NULL;
  if (res) {
    cx_hash cid;
    uint64_t n = 0;
    const cJSON *sigs = cJSON_GetObjectItemCaseSensitive(res, "sigs"), *s;
    uint64_t smask = 0;
    if (hex_decode(jstr(call, "contract"), cid.b, 32) || cli_json_u64(cJSON_GetObjectItemCaseSensitive(call, "nparties"), &n) ||
        n == 0 || n > CX_MAX_VALIDATORS) {
      rc = cli_fail(CLI_REFUSED, "call_get: malformed call record");
      goto out;
    }
    if ((rc = cli_call(c, "member_list", cJSON_CreateObject(), NULL, &members))) goto out;
    cJSON_ArrayForEach(s, sigs) {
      uint64_t p;
      if (cli_json_u64(cJSON_GetObjectItemCaseSensitive(s, "party"), &p) == 0 && p < 64) smask |= 1ull << p;
    }
    signers = party_names(call, members, smask);
    if (status_is(res, "done")) {
      if ((rc = fetch_contract(c, &cid, &lc))) goto out;
      rc = read_outputs(res, lc, (uint32_t)n, keys, &v);
      if (rc && !v.val) goto out; /* nothing to show */
    }
    corrected = party_names(call, members, v.corrected);
    unopened = party_names(call, members, v.unopened);
  }
  if (c->json) {
    cJSON *o = cJSON_Duplicate(call, 1);
    if (o && res) {
      cJSON_AddItemToObject(o, "signers", cJSON_Duplicate(signers, 1));
      if (lc) {
        cJSON *outs = cJSON_AddObjectToObject(o, "outputs");
        for (size_t i = 0, j = 0; outs && i < lang_nports(lc); i++) {
          lang_port p;
          lang_port_get(lc, i, &p);
          if (p.kind != LANG_OUT_PUBLIC && p.kind != LANG_OUT_PRIVATE) continue;
          cJSON_AddItemToObject(outs, p.name, port_json(&p, &v, j));
          j += p.len ? p.len : 1;
        }
        cJSON_AddStringToObject(o, "private_outputs", !v.npriv ? "none" : v.sealed[0] ? "sealed" : "opened");
        cJSON_AddItemToObject(o, "corrected", cJSON_Duplicate(corrected, 1));
        cJSON_AddItemToObject(o, "unopened", cJSON_Duplicate(unopened, 1));
      }
    }
    /* The opened values go to stdout, the insurer's own output: cJSON's
     * copies of them are not wiped (the sodium_malloc'd ones are). */
    if (o) cli_print_json(c, o);
    cJSON_Delete(o);
  } else {
    print_call(call, res, lc, &v, signers, corrected, unopened);
  }
out:
  out_view_free(&v);
  lang_free(lc);
  cJSON_Delete(call);
  cJSON_Delete(members);
  cJSON_Delete(signers);
  cJSON_Delete(corrected);
  cJSON_Delete(unopened);
  return rc;
}

/* `call --wait`: signs and submits without printing (one JSON value in
 * the end), waits for the commit, then for the result. */
static int submit_and_wait(cli_ctx *c, cli_signer *s, cx_tx *tx) {
  uint8_t *buf = NULL;
  size_t len = 0;
  char *hex = NULL, txid[CX_HASH_HEX_LEN];
  cJSON *r = NULL;
  cx_hash id;
  cx_tx back;
  double deadline = cli_now_s() + c->timeout_s;
  tx->chain_id = s->chain_id;
  tx->nonce = s->nonce;
  cx_err e = tx_sign(tx, s->keys.sign);
  if (e) return cli_fail(CLI_LOCAL, "cannot sign: %s", cx_err_str(e));
  e = tx_encode(tx, 1, &buf, &len);
  if (e == CX_E_TX_TOO_BIG) return cli_fail(CLI_USAGE, "transaction: over the %d-byte cap", CX_TX_MAX_BYTES);
  if (e) return cli_fail(CLI_LOCAL, "transaction: cannot encode: %s", cx_err_str(e));
  int rc = CLI_OK;
  /* what the node will check first, checked here without a round trip */
  if ((e = tx_decode(buf, len, &back, NULL))) rc = cli_fail(CLI_USAGE, "transaction: %s", cx_err_str(e));
  tx_clear(&back);
  tx_id_of_bytes(buf, len, &id);
  hash_hex(&id, txid);
  if (!rc && !(hex = malloc(2 * len + 1))) rc = cli_fail(CLI_LOCAL, "out of memory");
  if (!rc) {
    hex_encode(buf, len, hex);
    cJSON *p = cJSON_CreateObject();
    if (!p || !cJSON_AddStringToObject(p, "tx", hex)) {
      cJSON_Delete(p);
      rc = cli_fail(CLI_LOCAL, "out of memory");
    } else {
      rc = cli_call(c, "tx_submit", p, NULL, &r);
    }
  }
  free(buf);
  free(hex);
  cJSON_Delete(r);
  if (rc) return rc;
  if (!c->json) fprintf(stderr, "custos: call %s submitted; waiting for its result\n", txid);
  if ((rc = wait_committed(c, txid, deadline))) return rc;
  if ((rc = wait_result(c, &id, deadline))) return rc;
  return show_call(c, &id, &s->keys);
}

static int cmd_get(cli_ctx *c, const cli_args *a) {
  cx_hash id;
  keystore_keys keys;
  int have_keys = 0;
  memset(&keys, 0, sizeof keys);
  int rc = cli_hash_arg("ID", a->pos[0], &id);
  if (rc) return rc;
  if (sodium_init() < 0) return cli_fail(CLI_LOCAL, "cannot initialise libsodium");
  /* The insurer's keystore, before any network call (docs/cli.md). */
  if (c->key && *c->key) {
    if ((rc = cli_load_signer_keys(c, &keys))) return rc;
    have_keys = 1;
  }
  if (c->wait) rc = wait_result(c, &id, cli_now_s() + c->timeout_s);
  if (!rc) rc = show_call(c, &id, have_keys ? &keys : NULL);
  keystore_keys_free(&keys);
  return rc;
}

static int cmd_call(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  lang_values *v = NULL;
  const int64_t *args, *params;
  size_t nargs = 0, nparams = 0;
  lang_contract *lc = NULL;
  uint8_t(*keys)[MPC_CLIENT_KEY] = NULL;
  uint32_t n = 0;
  fe *vals = NULL;
  mpc_client_dealt dealt = {0};
  cli_signer s;
  int have_signer = 0, rc;
  /* sodium_malloc needs the library initialised (idempotent). */
  if (sodium_init() < 0) return cli_fail(CLI_LOCAL, "cannot initialise libsodium");
  tx_init(&tx);
  tx.type = TX_CALL;
  cx_tx_call *call = &tx.u.call;
  if ((rc = cli_hash_arg("CONTRACT_ID", a->pos[0], &call->contract)) ||
      (rc = cli_did_arg("--subject", cli_opt(a, "subject"), &call->did)) ||
      (rc = cli_hash_arg("--consent", cli_opt(a, "consent"), &call->consent)))
    return rc;
  if ((rc = fetch_contract(c, &call->contract, &lc))) goto out;
  if ((rc = read_inputs(cli_opt(a, "inputs"), lc, &v))) goto out;
  nargs = lang_values_flat(v, LANG_ARG, &args);
  nparams = lang_values_flat(v, LANG_PARAM, &params);
  if (nargs > CX_CALL_MAX_ARGS || nparams > CX_CALL_MAX_VALUES) {
    rc = cli_fail(CLI_USAGE, "the contract takes more args or params than a call can carry");
    goto out;
  }
  if ((rc = fetch_parties(c, &keys, &n))) goto out;
  /* The nonce is part of the dealing's context: take it before sharing. */
  if ((rc = cli_signer_open(c, a, &s))) goto out;
  have_signer = 1;
  if (tx_call_set_args(&tx, args, nargs)) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out;
  }
  if (nparams) {
    uint8_t context[MPC_CLIENT_CTX];
    char err[200] = "";
    tx_call_context(&s.chain_id, &s.keys.pub, s.nonce, &call->contract, context);
    vals = sodium_malloc(nparams * sizeof *vals);
    if (!vals) {
      rc = cli_fail(CLI_LOCAL, "out of memory");
      goto out;
    }
    for (size_t i = 0; i < nparams; i++) vals[i] = fe_from_i64(params[i]);
    cx_err e = mpc_client_share(n, (n - 1) / 3, vals, nparams, (const uint8_t(*)[MPC_CLIENT_KEY])keys, context,
                                NULL, &dealt, err, sizeof err);
    /* The shares are sealed: the clear params are needed no more. */
    sodium_memzero(vals, nparams * sizeof *vals);
    lang_values_free(v); /* wipes the clear params */
    v = NULL;
    if (e) {
      rc = cli_fail(CLI_LOCAL, "cannot share the params: %s", err[0] ? err : cx_err_str(e));
      goto out;
    }
    if (tx_call_set_dealing(&tx, dealt.n, dealt.count, dealt.blobs, dealt.blob_len, dealt.commit)) {
      rc = cli_fail(CLI_LOCAL, "out of memory");
      goto out;
    }
  }
  /* --wait: the result, not the receipt, is what the insurer waits for */
  rc = c->wait && !c->print_only ? submit_and_wait(c, &s, &tx) : cli_sign_submit(c, &s, &tx, NULL);
out:
  if (have_signer) cli_signer_close(&s);
  if (vals) sodium_free(vals);
  mpc_client_dealt_free(&dealt);
  lang_values_free(v);
  free(keys);
  lang_free(lc);
  tx_clear(&tx);
  return rc;
}


const cli_cmd cli_call_cmds[] = {
    {
        .path = "call",
        .synopsis = "CONTRACT_ID --subject DID --consent ID --inputs FILE.json",
        .summary = "call a contract for a subject (an insurer)",
        .desc = "Calls contract CONTRACT_ID for subject DID under consent ID (the grant's\n"
                "txid). FILE.json names the contract's params and args as for `contract run`\n"
                "(entries naming inputs are ignored: the bureaus deal those). The args go\n"
                "on chain in the clear; the params are secret-shared here and each share\n"
                "sealed to a validator's enc_key, so no node sees them. Prints the call id\n"
                "(the txid); `custos call get ID` shows the call's record.\n"
                "\n"
                "With --wait, waits until the call is committed (a rejected call prints its\n"
                "receipt, exit 1) and then until its result is (call_wait), all within\n"
                "--timeout (default 30 s; exit 3 naming the call and its status when it\n"
                "passes), and prints the result as `call get` does, the private outputs\n"
                "opened with the --key keystore (the insurer's). --json: one object.",
        .example = "custos --key keys/insurer.json call 9d1e...07 --subject 3f2a...9c \\\n"
                   "  --consent 71c0...aa --inputs quote.json --wait",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"subject", "DID", "the subject the contract runs for", 1},
                  {"consent", "ID", "the consent's id (the grant's txid)", 1},
                  {"inputs", "FILE", "JSON object with the params and args", 1}},
        .run = cmd_call,
    },
    {
        .path = "call get",
        .synopsis = "ID",
        .summary = "show a contract call and its result (--wait: wait for it)",
        .desc = "Prints the call whose id (the TX_CALL's txid) is ID: contract, subject,\n"
                "consent, insurer, height, args and status (pending, done, aborted). Once\n"
                "closed, the result too: its txid and height, the parties that signed it;\n"
                "for done, the inputs' commitments (domain, root, count, leaf) and the\n"
                "outputs by name; for aborted, the code and the submitter's reason.\n"
                "\n"
                "Private outputs print as \"(private: sealed to the insurer)\" unless --key\n"
                "names the insurer's keystore (with --passphrase-file or $CUSTOS_PASSPHRASE):\n"
                "then each party's blob is opened with its X25519 key, the masks are rebuilt\n"
                "from the shares (Berlekamp-Welch: a wrong share is corrected and its party\n"
                "named under \"corrected\") and the private values printed.\n"
                "\n"
                "--wait first waits (call_wait) until the call is closed, at most --timeout\n"
                "seconds (default 30; exit 3 naming the call and its status). This shows\n"
                "what the node says; `custos verify result` checks it against the genesis.",
        .example = "custos call get 5b7e...10\n"
                   "custos --key insurer.json --passphrase-file insurer.pass call get 5b7e...10 --wait",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_get,
    },
    {.path = NULL},
};
