/* cli_verify: `custos verify result`, the auditor's check of a call's
 * result from the genesis file alone (docs/calls.md §7). The node only
 * fetches bytes (tx_get raw, tx_proof, call_get for the result's id,
 * anchor_get for the anchorings of its input snapshots); every
 * check is recomputed in node/verify.c against the genesis chain id and
 * validator keys, so a lying node makes a check fail, never pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "genesis.h"
#include "rpc_client.h"
#include "verify.h"

/* One query; a node that answers with an error leaves *out NULL and the
 * error in why (the check it feeds then fails with it). Only an
 * unreachable node stops the command: nothing can be checked then. */
static int fetch_p(const cli_ctx *c, const char *method, cJSON *params, cJSON **out, char *why, size_t wlen,
                   cx_err *code) {
  rpcc_error err;
  *out = NULL;
  cx_err e = rpcc_call(c->node, method, params, NULL, out, &err);
  if (code) *code = e;
  if (e == CX_OK) return CLI_OK;
  if (e == CX_E_NOMEM) return cli_fail(CLI_LOCAL, "%s: out of memory", method);
  if (err.kind == RPCC_TRANSPORT)
    return cli_fail(e == CX_E_INVALID_ARG ? CLI_USAGE : CLI_UNREACHABLE, "cannot reach the node at %s: %s", c->node,
                    err.message);
  if (err.kind == RPCC_PROTOCOL)
    return cli_fail(CLI_UNREACHABLE, "%s: unexpected answer from %s: %s", method, c->node, err.message);
  snprintf(why, wlen, "%s: %.120s (%.40s)%s%.200s", method, err.message, err.name[0] ? err.name : "error", err.detail[0] ? ": " : "",
           err.detail);
  return CLI_OK;
}

static int fetch(const cli_ctx *c, const char *method, const cx_hash *id, cJSON **out, char *why, size_t wlen) {
  return fetch_p(c, method, cli_params_hex("txid", id->b, 32), out, why, wlen, NULL);
}

/* tx_get and tx_proof of id, read into t (whatever the node refused is
 * recorded in t's reasons). */
typedef struct {
  cJSON *txget, *proof;
  verify_tx_buf b;
} fetched;

static int fetch_tx(const cli_ctx *c, const cx_hash *id, fetched *f, verify_tx *t) {
  char why[400] = "", pwhy[400] = "";
  int rc = fetch(c, "tx_get", id, &f->txget, why, sizeof why);
  if (!rc) rc = fetch(c, "tx_proof", id, &f->proof, pwhy, sizeof pwhy);
  if (rc) return rc;
  verify_tx_from_json(f->txget, why, f->proof, pwhy, &f->b, t);
  return CLI_OK;
}

static void fetched_free(fetched *f) {
  cJSON_Delete(f->txget);
  cJSON_Delete(f->proof);
  verify_tx_buf_free(&f->b);
}

/* The consent id the call names, read from the call's bytes as sent
 * (verify_result checks those bytes are the call); 0 if they do not decode. */
static int consent_of(const verify_tx *call, cx_hash *out) {
  cx_tx tx;
  if (!call->raw || tx_decode(call->raw, call->raw_len, &tx, NULL) != CX_OK) return 0;
  int ok = tx.type == TX_CALL;
  if (ok) *out = tx.u.call.consent;
  tx_clear(&tx);
  return ok;
}

/* The anchorings of a DONE result's input snapshots (docs/vault.md
 * "Anchoring"): for each input named in the result's bytes as sent,
 * anchor_get gives the anchoring's txid, and its bytes and proof are
 * fetched. Only the txid is taken from the node's answer: verify_result
 * checks that the transaction anchors this domain and root. */
typedef struct {
  fetched f[CX_DOMAINS_MAX];
  char why[CX_DOMAINS_MAX][400];
} anchors_fetched;

static int fetch_anchors(const cli_ctx *c, const verify_tx *result, verify_input *in, anchors_fetched *af) {
  cx_tx tx;
  int rc = CLI_OK;
  if (!result->raw || tx_decode(result->raw, result->raw_len, &tx, NULL) != CX_OK) return CLI_OK;
  const cx_tx_call_result *r = &tx.u.result;
  for (size_t i = 0; tx.type == TX_CALL_RESULT && r->status == CX_CALL_DONE && i < r->nin; i++) {
    verify_anchor *a = &in->anchors[in->nanchors++];
    char hex[CX_HASH_HEX_LEN];
    cJSON *ans = NULL, *p = cJSON_CreateObject();
    cx_err code;
    snprintf(a->domain, sizeof a->domain, "%s", r->in[i].domain);
    a->root = r->in[i].root;
    if (p) {
      cJSON_AddStringToObject(p, "domain", a->domain);
      cJSON_AddStringToObject(p, "root", hash_hex(&a->root, hex));
    }
    if ((rc = fetch_p(c, "anchor_get", p, &ans, af->why[i], sizeof af->why[i], &code))) break;
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(ans, "txid");
    if (ans && cJSON_IsString(tj) && hex_decode(tj->valuestring, a->txid.b, 32) == CX_OK) {
      a->has_anchor = 1;
      rc = fetch_tx(c, &a->txid, &af->f[i], &a->tx);
    } else {
      if (ans) snprintf(af->why[i], sizeof af->why[i], "anchor_get: the answer has no valid txid");
      a->why = code == CX_E_NOT_FOUND ? NULL : af->why[i]; /* NULL: not anchored */
    }
    cJSON_Delete(ans);
    if (rc) break;
  }
  tx_clear(&tx);
  return rc;
}

/* A FROST-mode result (docs/keys.md §6): the txids of the results key's
 * transactions as key_get lists them, each fetched with its proof. Only the
 * ids are the node's word; verify_result replays the bytes. */
typedef struct {
  size_t n;
  cx_hash *ids;
  fetched *f;
  verify_tx *t;
} keytx_fetched;

static int result_is_frost(const verify_tx *result) {
  cx_tx tx;
  if (!result->raw || tx_decode(result->raw, result->raw_len, &tx, NULL) != CX_OK) return 0;
  int frost = tx.type == TX_CALL_RESULT && tx.u.result.proof == CX_RESULT_PROOF_FROST;
  tx_clear(&tx);
  return frost;
}

static int fetch_keytx(const cli_ctx *c, verify_input *in, keytx_fetched *kf) {
  cJSON *p = cJSON_CreateObject(), *k = NULL;
  char why[400] = "";
  /* epoch 0: the DKG that made the group key, which every later epoch
   * (a reshare) keeps; a result of any epoch verifies under it
   * (docs/keys.md §10 "Auditors") */
  if (p) {
    cJSON_AddStringToObject(p, "name", "results");
    cJSON_AddNumberToObject(p, "epoch", 0);
  }
  int rc = fetch_p(c, "key_get", p, &k, why, sizeof why, NULL);
  if (rc || !k) return rc; /* no key: the check says the node listed nothing */
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive(k, "txids");
  size_t n = (size_t)cJSON_GetArraySize(ids);
  if (cJSON_IsArray(ids) && n && n <= 100000) {
    kf->ids = calloc(n, sizeof *kf->ids);
    kf->f = calloc(n, sizeof *kf->f);
    kf->t = calloc(n, sizeof *kf->t);
    if (!kf->ids || !kf->f || !kf->t) rc = cli_fail(CLI_LOCAL, "out of memory");
    for (const cJSON *x = ids->child; !rc && x; x = x->next) {
      if (!cJSON_IsString(x) || hex_decode(x->valuestring, kf->ids[kf->n].b, 32) != CX_OK) break;
      rc = fetch_tx(c, &kf->ids[kf->n], &kf->f[kf->n], &kf->t[kf->n]);
      kf->n++;
    }
  }
  cJSON_Delete(k);
  in->nkeytx = kf->n;
  in->keytx_ids = kf->ids;
  in->keytx = kf->t;
  return rc;
}

static void print_report(const cli_ctx *c, const cx_hash *id, const verify_report *r) {
  char hex[CX_HASH_HEX_LEN];
  const char *status = r->status == CX_CALL_DONE ? "done" : r->status == CX_CALL_ABORTED ? "aborted" : NULL;
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    cJSON_AddStringToObject(o, "call", hash_hex(id, hex));
    cJSON_AddBoolToObject(o, "verified", r->all_ok);
    if (status)
      cJSON_AddStringToObject(o, "status", status);
    else
      cJSON_AddNullToObject(o, "status");
    cJSON_AddStringToObject(o, "proof", r->frost ? "frost" : "quorum");
    cJSON *s = cJSON_AddArrayToObject(o, "signers");
    for (size_t i = 0; s && i < r->nsigners; i++) cJSON_AddItemToArray(s, cJSON_CreateString(r->signers[i]));
    cJSON *a = cJSON_AddArrayToObject(o, "checks");
    for (size_t i = 0; a && i < r->n; i++) {
      cJSON *x = cJSON_CreateObject();
      if (!x) break;
      cJSON_AddStringToObject(x, "check", r->c[i].name);
      cJSON_AddBoolToObject(x, "ok", r->c[i].ok);
      cJSON_AddStringToObject(x, "detail", r->c[i].detail);
      cJSON_AddItemToArray(a, x);
    }
    cli_print_json(c, o);
    cJSON_Delete(o);
    return;
  }
  size_t failed = 0;
  for (size_t i = 0; i < r->n; i++) {
    printf("%-4s %s: %s\n", r->c[i].ok ? "ok" : "FAIL", r->c[i].name, r->c[i].detail);
    failed += !r->c[i].ok;
  }
  if (r->all_ok && r->frost) {
    printf("verified: call %s is %s, signed once by the consortium's results key (FROST; from the genesis alone)\n",
           hash_hex(id, hex), status);
  } else if (r->all_ok) {
    printf("verified: call %s is %s, signed by", hash_hex(id, hex), status);
    for (size_t i = 0; i < r->nsigners; i++) printf("%s %s", i ? "," : "", r->signers[i]);
    printf(" (from the genesis alone)\n");
  } else {
    printf("NOT verified: %zu of %zu checks failed\n", failed, r->n);
  }
}

static int cmd_verify_result(cli_ctx *c, const cli_args *a) {
  verify_input in;
  fetched fc, fr, fg;
  keytx_fetched kf = {0};
  anchors_fetched *af = calloc(1, sizeof *af);
  cJSON *call = NULL;
  char err[512] = "", rwhy[400] = "";
  memset(&in, 0, sizeof in);
  memset(&fc, 0, sizeof fc);
  memset(&fr, 0, sizeof fr);
  memset(&fg, 0, sizeof fg);
  if (!af) return cli_fail(CLI_LOCAL, "out of memory");
  int rc = cli_hash_arg("CALL_ID", a->pos[0], &in.call_id);
  if (rc) {
    free(af);
    return rc;
  }
  vm_genesis *g = calloc(1, sizeof *g);
  if (!g) {
    free(af);
    return cli_fail(CLI_LOCAL, "out of memory");
  }
  const char *gpath = cli_opt(a, "genesis");
  if (genesis_load(gpath, g, err, sizeof err) != CX_OK) {
    free(g);
    free(af);
    return cli_fail(CLI_LOCAL, "--genesis: %s", err);
  }

  if ((rc = fetch_tx(c, &in.call_id, &fc, &in.call))) goto out;
  /* The result's id is the one thing only the node's state can say; the
   * result's bytes then have to name this call and carry the quorum. */
  if ((rc = fetch(c, "call_get", &in.call_id, &call, rwhy, sizeof rwhy))) goto out;
  const cJSON *rid = cJSON_GetObjectItemCaseSensitive(call, "result_txid");
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(call, "status");
  if (call && cJSON_IsString(rid) && hex_decode(rid->valuestring, in.result_id.b, 32) == CX_OK) {
    in.has_result = 1;
    if ((rc = fetch_tx(c, &in.result_id, &fr, &in.result))) goto out;
    if ((rc = fetch_anchors(c, &in.result, &in, af))) goto out;
    if (result_is_frost(&in.result) && (rc = fetch_keytx(c, &in, &kf))) goto out;
  } else {
    if (call)
      snprintf(rwhy, sizeof rwhy, "the call is %s: no result yet",
               cJSON_IsString(st) ? st->valuestring : "without a result");
    in.result.why = rwhy;
  }
  cx_hash consent;
  if (consent_of(&in.call, &consent)) {
    if ((rc = fetch_tx(c, &consent, &fg, &in.consent))) goto out;
  } else {
    in.consent.why = in.consent.proof_why = "needs the call transaction";
  }

  verify_report *r = malloc(sizeof *r);
  if (!r) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out;
  }
  verify_result(g, &in, r);
  print_report(c, &in.call_id, r);
  rc = r->all_ok ? CLI_OK : CLI_REFUSED;
  free(r);
out:
  fetched_free(&fc);
  fetched_free(&fr);
  fetched_free(&fg);
  for (size_t i = 0; i < CX_DOMAINS_MAX; i++) fetched_free(&af->f[i]);
  for (size_t i = 0; i < kf.n; i++) fetched_free(&kf.f[i]);
  free(kf.ids);
  free(kf.f);
  free(kf.t);
  free(af);
  cJSON_Delete(call);
  free(g);
  return rc;
}

const cli_cmd cli_verify_cmds[] = {
    {
        .path = "verify result",
        .synopsis = "CALL_ID --genesis FILE",
        .summary = "check a call's result from the genesis alone (an auditor)",
        .desc = "Checks the result of call CALL_ID trusting only the genesis FILE: the node\n"
                "is asked for bytes (tx_get, tx_proof, call_get for the result's id,\n"
                "anchor_get for each input snapshot) and nothing it says is believed; each\n"
                "check is recomputed against the genesis chain id and validator keys and\n"
                "printed on its own line as\n"
                "`ok   <check>: <detail>` or `FAIL <check>: <why>`:\n"
                "  call, result        txids recomputed from the bytes; types, chain and\n"
                "                      senders' signatures; the result names this call\n"
                "  call/result block   header hash = certificate's; the certificate signed\n"
                "                      by a quorum of the genesis validators\n"
                "  ... inclusion       txid in tx_root, receipt ok in receipts_root\n"
                "  mpc                 the result statement recomputed; 2t+1 signatures of\n"
                "                      the parties (the genesis validators, by name)\n"
                "  consent (+ block,   the grant the call names is committed before it and\n"
                "  inclusion)          names its subject, insurer and contract; the call's\n"
                "                      ok receipt shows it was live at the call's height\n"
                "  snapshot            each input's domain root was anchored on chain\n"
                "                      (vault_anchor, found with anchor_get) by the domain's\n"
                "                      owner in the genesis, with the same record count,\n"
                "                      certified and included before the result\n"
                "A chain whose validator set changed since genesis cannot be verified this\n"
                "way: its certificates fail with \"validator set differs from genesis: not\n"
                "verifiable from genesis alone\" (docs/calls.md §7). Exit 0 only if every\n"
                "check passes, 1 otherwise; --json gives one object with every check.",
        .example = "custos verify result 5b7e...10 --genesis devnet/genesis.json\n"
                   "custos --json verify result 5b7e...10 --genesis genesis.json | jq .verified",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"genesis", "FILE", "the chain's genesis file: the only thing trusted", 1}},
        .run = cmd_verify_result,
    },
    {.path = NULL},
};
