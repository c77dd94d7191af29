/* cli_call: an insurer calls its contract for a subject (TX_CALL,
 * docs/transactions.md §3.12). The public args go in the transaction as they
 * are; the secret params are secret-shared here, on the client, and each
 * party's shares sealed to its validator's enc_key (mpc/client.h), so no
 * node ever sees them in the clear. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "client.h"
#include "lang.h"

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
  rc = cli_sign_submit(c, &s, &tx, NULL);
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
