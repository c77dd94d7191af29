/* cli_verify: `custos verify result`, the auditor's check of a call's
 * result from the genesis file alone (docs/calls.md §7). The node only
 * fetches bytes (tx_get raw, tx_proof, call_get for the result's id,
 * anchor_get for the anchorings of its input snapshots, key_get for a
 * FROST result's key, member_history for the governance transactions that
 * changed the validator set); every check is recomputed in node/verify.c
 * from the genesis chain id and validator keys, so a lying node makes a
 * check fail, never pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
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
  int frost = tx.type == TX_CALL_RESULT &&
              (tx.u.result.proof == CX_RESULT_PROOF_FROST || tx.u.result.proof == CX_RESULT_PROOF_FROST_BATCH);
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

/* The governance transactions that changed the validator set up to the
 * result's height (docs/calls.md §7 "Validator-set changes"):
 * member_history, page by page, each item with its raw bytes and its
 * tx_proof. Only the list is the node's word; verify_result proves and
 * replays every item. A node that cannot list them (an older node, one
 * that state-synced) leaves the list empty with its reason: the checks
 * then use the genesis validators, and a block after a change fails. */
typedef struct {
  size_t n, cap;
  cx_hash *ids;
  verify_tx *t;
  verify_tx_buf **b; /* one allocation each: t[i] points into *b[i] */
  char why[400];
} govtx_fetched;

static int gov_grow(govtx_fetched *gf, size_t want) {
  if (want <= gf->cap) return 0;
  size_t cap = gf->cap ? gf->cap : 16;
  while (cap < want) cap *= 2;
  cx_hash *ids = realloc(gf->ids, cap * sizeof *ids);
  if (ids) gf->ids = ids;
  verify_tx *t = realloc(gf->t, cap * sizeof *t);
  if (t) gf->t = t;
  verify_tx_buf **b = realloc(gf->b, cap * sizeof *b);
  if (b) gf->b = b;
  if (!ids || !t || !b) return -1;
  gf->cap = cap;
  return 0;
}

/* The height of the block t's proof names (the node's word: it only
 * bounds the list asked for), 0 if none. */
static uint64_t proof_height(const verify_tx *t) {
  cx_block_header h;
  cx_hash bh;
  if (!t->has_proof || !t->header || block_peek(t->header, t->header_len, &h, &bh) != CX_OK) return 0;
  return h.height;
}

static int fetch_govtx(const cli_ctx *c, uint64_t to_height, verify_input *in, govtx_fetched *gf) {
  uint64_t start = 0;
  for (;;) {
    cJSON *p = cJSON_CreateObject(), *ans = NULL;
    if (p) {
      if (to_height) cJSON_AddNumberToObject(p, "to_height", (double)to_height);
      cJSON_AddNumberToObject(p, "start", (double)start);
    }
    int rc = fetch_p(c, "member_history", p, &ans, gf->why, sizeof gf->why, NULL);
    if (rc) return rc;
    if (!ans) { /* the node's refusal: its reason, and no list */
      in->govtx_why = gf->why;
      break;
    }
    const cJSON *total = cJSON_GetObjectItemCaseSensitive(ans, "total");
    const cJSON *txs = cJSON_GetObjectItemCaseSensitive(ans, "txs");
    const cJSON *next = cJSON_GetObjectItemCaseSensitive(ans, "next");
    if (!cJSON_IsNumber(total) || !cJSON_IsArray(txs) || !(cJSON_IsNull(next) || cJSON_IsNumber(next))) {
      snprintf(gf->why, sizeof gf->why, "member_history: the answer has no valid \"total\", \"txs\" or \"next\"");
      in->govtx_why = gf->why;
      cJSON_Delete(ans);
      break;
    }
    if (total->valuedouble > VERIFY_MAX_GOVTX) {
      /* verify_result fails the validators check on the count alone */
      in->ngovtx = (size_t)(total->valuedouble < 1e9 ? total->valuedouble : 1e9);
      cJSON_Delete(ans);
      return CLI_OK;
    }
    for (const cJSON *x = txs->child; x; x = x->next) {
      if (gf->n >= VERIFY_MAX_GOVTX) { /* more items than its total said: over the bound all the same */
        in->ngovtx = VERIFY_MAX_GOVTX + 1;
        cJSON_Delete(ans);
        return CLI_OK;
      }
      if (gov_grow(gf, gf->n + 1) || !(gf->b[gf->n] = malloc(sizeof *gf->b[gf->n]))) {
        cJSON_Delete(ans);
        return cli_fail(CLI_LOCAL, "out of memory");
      }
      const cJSON *tj = cJSON_GetObjectItemCaseSensitive(x, "txid");
      memset(&gf->ids[gf->n], 0, sizeof gf->ids[gf->n]);
      if (cJSON_IsString(tj)) hex_decode(tj->valuestring, gf->ids[gf->n].b, 32); /* a bad one fails its check */
      verify_tx_from_json(x, NULL, cJSON_GetObjectItemCaseSensitive(x, "proof"), NULL, gf->b[gf->n], &gf->t[gf->n]);
      gf->n++;
    }
    int more = cJSON_IsNumber(next) && next->valuedouble > (double)start && next->valuedouble <= total->valuedouble;
    if (more) start = (uint64_t)next->valuedouble;
    cJSON_Delete(ans);
    if (!more) break;
  }
  in->ngovtx = gf->n;
  in->govtx_ids = gf->ids;
  in->govtx = gf->t;
  return CLI_OK;
}

static void govtx_free(govtx_fetched *gf) {
  for (size_t i = 0; i < gf->n; i++) {
    verify_tx_buf_free(gf->b[i]);
    free(gf->b[i]);
  }
  free(gf->ids);
  free(gf->t);
  free(gf->b);
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
  govtx_fetched *gf = calloc(1, sizeof *gf);
  anchors_fetched *af = calloc(1, sizeof *af);
  cJSON *call = NULL;
  char err[512] = "", rwhy[400] = "";
  memset(&in, 0, sizeof in);
  memset(&fc, 0, sizeof fc);
  memset(&fr, 0, sizeof fr);
  memset(&fg, 0, sizeof fg);
  vm_genesis *g = calloc(1, sizeof *g);
  int rc = !af || !gf || !g ? cli_fail(CLI_LOCAL, "out of memory") : cli_hash_arg("CALL_ID", a->pos[0], &in.call_id);
  if (rc) {
    free(af);
    free(gf);
    free(g);
    return rc;
  }
  const char *gpath = cli_opt(a, "genesis");
  if (genesis_load(gpath, g, err, sizeof err) != CX_OK) {
    free(g);
    free(af);
    free(gf);
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
  /* Up to the result's block (or the call's, while pending): every block
   * checked is at or below it. 0 (neither block known): up to the tip. */
  uint64_t upto = in.has_result ? proof_height(&in.result) : 0;
  if (!upto) upto = proof_height(&in.call);
  if ((rc = fetch_govtx(c, upto, &in, gf))) goto out;

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
  govtx_free(gf);
  free(gf);
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
                "anchor_get for each input snapshot, key_get for a FROST result's key,\n"
                "member_history for the governance transactions up to the result's\n"
                "block) and nothing it says is believed; each check is recomputed from\n"
                "the genesis chain id and validator keys and printed on its own line as\n"
                "`ok   <check>: <detail>` or `FAIL <check>: <why>`:\n"
                "  validators          the governance transactions (member propose and\n"
                "                      approve) replayed from the genesis, each proven\n"
                "                      like the call: the validator set in force at\n"
                "                      every height, which the checks below use\n"
                "  call, result        txids recomputed from the bytes; types, chain and\n"
                "                      senders' signatures; the result names this call\n"
                "  call/result block   header hash = certificate's; the certificate signed\n"
                "                      by a quorum of the validators in force at that\n"
                "                      height (the genesis's until governance changed them)\n"
                "  ... inclusion       txid in tx_root, receipt ok in receipts_root\n"
                "  mpc                 the result statement recomputed; 2t+1 signatures of\n"
                "                      the call's parties (the validators in force at the\n"
                "                      call, by name), or in FROST mode the results key\n"
                "                      replayed from its DKG and its one signature\n"
                "  consent (+ block,   the grant the call names is committed before it and\n"
                "  inclusion)          names its subject, insurer and contract; the call's\n"
                "                      ok receipt shows it was live at the call's height\n"
                "  snapshot            each input's domain root was anchored on chain\n"
                "                      (vault_anchor, found with anchor_get) by the domain's\n"
                "                      owner in the genesis, with the same record count,\n"
                "                      certified and included before the result\n"
                "A node that leaves a governance transaction out or reorders them makes\n"
                "checks fail, never pass (docs/calls.md §7 \"Validator-set changes\"). Exit\n"
                "0 only if every check passes, 1 otherwise; --json gives one object with\n"
                "every check.",
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
