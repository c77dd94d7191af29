/* cli_call: an insurer calls its contract for a subject (TX_CALL,
 * docs/transactions.md §3.12). The public args go in the transaction as they
 * are; the secret params are secret-shared here, on the client, and each
 * party's shares sealed to its validator's enc_key (mpc/client.h), so no
 * node ever sees them in the clear. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "lang.h"

/* The call's values read from the inputs file: args (public) and params
 * (secret: sodium_malloc'd, wiped on free). */
typedef struct {
  int64_t *args;
  size_t nargs;
  int64_t *params;
  size_t nparams;
} call_values;

static void values_free(call_values *v) {
  free(v->args);
  if (v->params) sodium_free(v->params); /* sodium_free wipes */
  memset(v, 0, sizeof *v);
}

/* Wipes a parsed JSON tree's values before it is freed: it held params. */
static void json_wipe(cJSON *j) {
  for (; j; j = j->next) {
    if (j->valuestring) sodium_memzero(j->valuestring, strlen(j->valuestring));
    j->valuedouble = 0;
    j->valueint = 0;
    json_wipe(j->child);
  }
}

#define JSON_EXACT 9007199254740992.0 /* 2^53: JSON numbers below it are exact */

/* One element: bools as true/false, ints as integers or decimal strings
 * (docs/contract-language.md §7), within the port's declared range. The
 * message never shows a param's value. */
static int json_elem(const cJSON *j, const lang_port *p, const char *where, int64_t *out) {
  int secret = p->kind == LANG_PARAM;
  if (p->is_bool) {
    if (!cJSON_IsBool(j)) return cli_fail(CLI_USAGE, "%s: expected true or false", where);
    *out = cJSON_IsTrue(j) ? 1 : 0;
    return CLI_OK;
  }
  if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    if (!(d > -JSON_EXACT && d < JSON_EXACT) || (double)(int64_t)d != d)
      return cli_fail(CLI_USAGE, "%s: expected an integer (beyond 2^53 as a decimal string)", where);
    *out = (int64_t)d;
  } else if (cJSON_IsString(j) && j->valuestring[0]) {
    char *end;
    errno = 0;
    long long v = strtoll(j->valuestring, &end, 10);
    if (*end || errno || (j->valuestring[0] == '0' && j->valuestring[1]))
      return cli_fail(CLI_USAGE, "%s: a string must be a decimal integer within int64", where);
    *out = v;
  } else {
    return cli_fail(CLI_USAGE, "%s: expected an integer", where);
  }
  if (*out < p->lo || *out > p->hi) {
    if (secret)
      return cli_fail(CLI_USAGE, "%s: the value is outside int(%lld..%lld)", where, (long long)p->lo,
                      (long long)p->hi);
    return cli_fail(CLI_USAGE, "%s: %lld is outside int(%lld..%lld)", where, (long long)*out,
                    (long long)p->lo, (long long)p->hi);
  }
  return CLI_OK;
}

/* Fills the args and params of lc from the JSON object root. Entries naming
 * an input are ignored (the file of `contract run` serves as it is); any
 * other unknown entry, and a missing param or arg, is an error. */
static int values_from_json(const lang_contract *lc, const cJSON *root, call_values *v) {
  size_t np = lang_nports(lc), na = 0, npar = 0;
  for (size_t i = 0; i < np; i++) {
    lang_port p;
    lang_port_get(lc, i, &p);
    if (p.kind == LANG_ARG) na += p.len ? p.len : 1;
    if (p.kind == LANG_PARAM) npar += p.len ? p.len : 1;
  }
  if (na > CX_CALL_MAX_ARGS || npar > CX_CALL_MAX_VALUES)
    return cli_fail(CLI_USAGE, "the contract takes more args or params than a call can carry");
  v->args = malloc((na ? na : 1) * sizeof *v->args);
  v->params = sodium_malloc((npar ? npar : 1) * sizeof *v->params);
  if (!v->args || !v->params) return cli_fail(CLI_LOCAL, "out of memory");
  for (const cJSON *j = root->child; j; j = j->next) {
    size_t i = 0;
    lang_port p;
    for (; i < np; i++) {
      lang_port_get(lc, i, &p);
      if (p.kind <= LANG_ARG && strcmp(p.name, j->string) == 0) break;
    }
    if (i == np) return cli_fail(CLI_USAGE, "inputs: the contract has no param or arg named `%s`", j->string);
  }
  for (size_t i = 0; i < np; i++) {
    lang_port p;
    lang_port_get(lc, i, &p);
    if (p.kind != LANG_ARG && p.kind != LANG_PARAM) continue;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, p.name);
    if (!j) return cli_fail(CLI_USAGE, "inputs: missing value for `%s`", p.name);
    int64_t *dst = p.kind == LANG_ARG ? v->args + v->nargs : v->params + v->nparams;
    size_t n = p.len ? p.len : 1;
    if (p.len && (!cJSON_IsArray(j) || (size_t)cJSON_GetArraySize(j) != n))
      return cli_fail(CLI_USAGE, "inputs: `%s`: expected an array of %zu values", p.name, n);
    for (size_t k = 0; k < n; k++) {
      char where[160];
      if (p.len)
        snprintf(where, sizeof where, "inputs: %s[%zu]", p.name, k);
      else
        snprintf(where, sizeof where, "inputs: %s", p.name);
      int rc = json_elem(p.len ? cJSON_GetArrayItem(j, (int)k) : j, &p, where, &dst[k]);
      if (rc) return rc;
    }
    if (p.kind == LANG_ARG)
      v->nargs += n;
    else
      v->nparams += n;
  }
  return CLI_OK;
}

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

/* Reads the inputs file; its text and parsed tree hold params: both are
 * wiped before they are freed. */
static int read_inputs(const char *path, const lang_contract *lc, call_values *v) {
  char *txt = NULL;
  size_t len = 0;
  int rc = cli_read_file(path, 1 << 20, &txt, &len);
  if (rc) return rc;
  cJSON *root = cJSON_ParseWithLength(txt, len);
  sodium_memzero(txt, len);
  free(txt);
  if (!cJSON_IsObject(root))
    rc = cli_fail(CLI_USAGE, "%s: the inputs must be one JSON object", path);
  else
    rc = values_from_json(lc, root, v);
  json_wipe(root);
  cJSON_Delete(root);
  return rc;
}

static int cmd_call(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  call_values v = {0};
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
  if ((rc = fetch_parties(c, &keys, &n))) goto out;
  /* The nonce is part of the dealing's context: take it before sharing. */
  if ((rc = cli_signer_open(c, a, &s))) goto out;
  have_signer = 1;
  if (tx_call_set_args(&tx, v.args, v.nargs)) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out;
  }
  if (v.nparams) {
    uint8_t context[MPC_CLIENT_CTX];
    char err[200] = "";
    tx_call_context(&s.chain_id, &s.keys.pub, s.nonce, &call->contract, context);
    vals = sodium_malloc(v.nparams * sizeof *vals);
    if (!vals) {
      rc = cli_fail(CLI_LOCAL, "out of memory");
      goto out;
    }
    for (size_t i = 0; i < v.nparams; i++) vals[i] = fe_from_i64(v.params[i]);
    cx_err e = mpc_client_share(n, (n - 1) / 3, vals, v.nparams, (const uint8_t(*)[MPC_CLIENT_KEY])keys, context,
                                NULL, &dealt, err, sizeof err);
    /* The shares are sealed: the clear params are needed no more. */
    sodium_memzero(vals, v.nparams * sizeof *vals);
    sodium_memzero(v.params, v.nparams * sizeof *v.params);
    if (e) {
      rc = cli_fail(CLI_LOCAL, "cannot share the params: %s", err[0] ? err : cx_err_str(e));
      goto out;
    }
    if (tx_call_set_dealing(&tx, dealt.n, dealt.count, dealt.blobs, dealt.blob_len, dealt.commit)) {
      rc = cli_fail(CLI_LOCAL, "out of memory");
      goto out;
    }
  }
  rc = cli_sign_submit(c, &s, &tx, NULL);
out:
  if (have_signer) cli_signer_close(&s);
  if (vals) sodium_free(vals);
  mpc_client_dealt_free(&dealt);
  values_free(&v);
  free(keys);
  lang_free(lc);
  tx_clear(&tx);
  return rc;
}

static int cmd_get(cli_ctx *c, const cli_args *a) {
  cx_hash id;
  int rc = cli_hash_arg("ID", a->pos[0], &id);
  if (rc) return rc;
  return cli_query(c, "call_get", cli_params_hex("txid", id.b, 32));
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
                "(the txid); `custos call get ID` shows the call's record.",
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
        .summary = "show a contract call's record",
        .desc = "Prints the call whose id (the TX_CALL's txid) is ID: contract, subject,\n"
                "consent, insurer, height, status (pending, done, aborted) and args.",
        .example = "custos call get 5b7e...10",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_get,
    },
    {.path = NULL},
};
