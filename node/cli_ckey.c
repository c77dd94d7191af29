/* cli_ckey: the consortium's threshold keys (docs/keys.md): list them, show
 * one (key_get), ask for a custody key (key_create), and use one (§9):
 * request a signature, approve a request, fetch the signature. The keys
 * `results` and `beacon` are made by the validators' key service, not from
 * here. (`custos key show` is cli_keys.c's: a keystore file's public keys.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"
#include "cli.h"
#include "codec.h"
#include "keyrules.h" /* VM_KEY_K_MAX */

static int name_arg(const char *what, const char *s, char out[CX_KEY_NAME_MAX + 1]) {
  if (!str_valid(s, CX_KEY_NAME_MAX, STR_IDENT))
    return cli_fail(CLI_USAGE,
                    "%s: expected a key name, 1-%d of a-z, 0-9, _ and - starting with a letter or "
                    "digit, got \"%s\"",
                    what, CX_KEY_NAME_MAX, s);
  strcpy(out, s);
  return CLI_OK;
}

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "-";
}

static double jnum(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int cmd_list(cli_ctx *c, const cli_args *a) {
  (void)a;
  cJSON *r = NULL;
  int rc = cli_call(c, "key_list", cJSON_CreateObject(), NULL, &r);
  if (rc) return rc;
  if (c->json) {
    cli_print_json(c, r);
  } else if (cJSON_GetArraySize(r) == 0) {
    printf("no consortium keys\n");
  } else {
    printf("%-17s %-8s %-10s %5s %7s  %s\n", "NAME", "PURPOSE", "PHASE", "EPOCH", "T/N", "GROUP_PK");
    for (const cJSON *k = r->child; k; k = k->next) {
      char tn[16];
      snprintf(tn, sizeof tn, "%.0f/%.0f", jnum(k, "t"), jnum(k, "n"));
      printf("%-17s %-8s %-10s %5.0f %7s  %s\n", jstr(k, "name"), jstr(k, "purpose"), jstr(k, "phase"),
             jnum(k, "epoch"), tn, jstr(k, "group_pk"));
    }
  }
  cJSON_Delete(r);
  return CLI_OK;
}

/* A JSON array of names (null: a party no member holds any more) on one line. */
static void print_names(const char *label, const cJSON *a) {
  printf("%-15s", label);
  if (!a || !a->child) printf(" -");
  for (const cJSON *x = a ? a->child : NULL; x; x = x->next)
    printf(" %s%s", cJSON_IsString(x) ? x->valuestring : "(gone)", x->next ? "," : "");
  printf("\n");
}

static void print_key(const cJSON *r) {
  printf("%-15s %s\n", "name:", jstr(r, "name"));
  printf("%-15s %s\n", "purpose:", jstr(r, "purpose"));
  printf("%-15s %s\n", "phase:", jstr(r, "phase"));
  printf("%-15s %.0f\n", "epoch:", jnum(r, "epoch"));
  printf("%-15s %.0f of %.0f\n", "threshold:", jnum(r, "t"), jnum(r, "n"));
  if (jnum(r, "k") > 0) printf("%-15s %.0f member approvals a signing request needs\n", "policy:", jnum(r, "k"));
  printf("%-15s %.0f\n", "created:", jnum(r, "created_height"));
  if (jnum(r, "ended_height") > 0) printf("%-15s %.0f\n", "ended:", jnum(r, "ended_height"));
  printf("%-15s %s\n", "context:", jstr(r, "context"));
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "parties");
  printf("parties:\n");
  int i = 0;
  for (const cJSON *x = p ? p->child : NULL; x; x = x->next, i++) {
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(x, "name");
    printf("  %2d %-16s %s\n", i + 1, cJSON_IsString(nm) ? nm->valuestring : "(gone)", jstr(x, "key"));
  }
  print_names("dealt:", cJSON_GetObjectItemCaseSensitive(r, "dealt"));
  print_names("verdicts:", cJSON_GetObjectItemCaseSensitive(r, "verdicts"));
  print_names("votes:", cJSON_GetObjectItemCaseSensitive(r, "votes"));
  const cJSON *cs = cJSON_GetObjectItemCaseSensitive(r, "complaints");
  printf("complaints:%s\n", cs && cs->child ? "" : "     -");
  for (const cJSON *x = cs ? cs->child : NULL; x; x = x->next) {
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(x, "dealer"),
                *cp = cJSON_GetObjectItemCaseSensitive(x, "complainer");
    printf("  %s against %s: %s, %s\n", cJSON_IsString(cp) ? cp->valuestring : "(gone)",
           cJSON_IsString(d) ? d->valuestring : "(gone)", jstr(x, "reason"), jstr(x, "state"));
  }
  print_names("disqualified:", cJSON_GetObjectItemCaseSensitive(r, "disqualified"));
  if (strcmp(jstr(r, "phase"), "ready") == 0) {
    print_names("qual:", cJSON_GetObjectItemCaseSensitive(r, "qual"));
    printf("%-15s %s\n", "group_pk:", jstr(r, "group_pk"));
  }
  const cJSON *ids = cJSON_GetObjectItemCaseSensitive(r, "txids");
  printf("%-15s %d (key_get --json lists them)\n", "transactions:", cJSON_GetArraySize(ids));
}

static int cmd_get(cli_ctx *c, const cli_args *a) {
  char name[CX_KEY_NAME_MAX + 1];
  int rc = name_arg("NAME", a->pos[0], name);
  if (rc) return rc;
  cJSON *p = cJSON_CreateObject(), *r = NULL;
  if (p) cJSON_AddStringToObject(p, "name", name);
  if ((rc = cli_call(c, "key_get", p, NULL, &r))) return rc;
  if (c->json)
    cli_print_json(c, r);
  else
    print_key(r);
  cJSON_Delete(r);
  return CLI_OK;
}

static int cmd_create(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  uint64_t t, k;
  int rc;
  tx_init(&tx);
  tx.type = TX_KEY_CREATE;
  if ((rc = name_arg("NAME", a->pos[0], tx.u.kcreate.name))) return rc;
  if (strcmp(tx.u.kcreate.name, "results") == 0 || strcmp(tx.u.kcreate.name, "beacon") == 0)
    return cli_fail(CLI_USAGE, "NAME: \"%s\" is reserved: the validators' key service creates it",
                    tx.u.kcreate.name);
  if ((rc = cli_u64_arg("--t", cli_opt(a, "t"), &t))) return rc;
  /* The chain checks f + 1 <= t <= n (docs/keys.md §2): here only the range. */
  if (t < 2 || t > CX_MAX_VALIDATORS)
    return cli_fail(CLI_USAGE, "--t: expected 2..%d signers, got %llu", CX_MAX_VALIDATORS, (unsigned long long)t);
  if ((rc = cli_u64_arg("--k", cli_opt(a, "k"), &k))) return rc;
  /* The chain checks k <= members (docs/keys.md §9): here only the range. */
  if (k < 1 || k > VM_KEY_K_MAX)
    return cli_fail(CLI_USAGE, "--k: expected 1..%d approvals, got %llu", VM_KEY_K_MAX, (unsigned long long)k);
  tx.u.kcreate.purpose = CX_KEY_PURPOSE_CUSTODY;
  tx.u.kcreate.t = (uint8_t)t;
  tx.u.kcreate.k = (uint8_t)k;
  cli_signer s;
  if ((rc = cli_signer_open(c, a, &s))) return rc;
  rc = cli_sign_submit(c, &s, &tx, NULL);
  cli_signer_close(&s);
  return rc;
}

/* ---- custody signing (docs/keys.md §9) ---- */

/* sign_request: the message (1..CX_SIGN_MSG_MAX bytes, hex) for key NAME;
 * the printed txid is the request's id. */
static int cmd_sign(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  uint8_t msg[CX_SIGN_MSG_MAX];
  size_t len = 0;
  int rc;
  tx_init(&tx);
  tx.type = TX_SIGN_REQUEST;
  if ((rc = name_arg("NAME", a->pos[0], tx.u.sreq.key))) return rc;
  const char *hex = cli_opt(a, "msg");
  if (strlen(hex) > 2 * CX_SIGN_MSG_MAX)
    return cli_fail(CLI_USAGE, "--msg: at most %d bytes (%d hex digits), got %zu hex digits", CX_SIGN_MSG_MAX,
                    2 * CX_SIGN_MSG_MAX, strlen(hex));
  if (!hex[0] || hex_decode_var(hex, msg, sizeof msg, &len) != CX_OK || len == 0)
    return cli_fail(CLI_USAGE, "--msg: expected 1..%d bytes as an even number of hex digits", CX_SIGN_MSG_MAX);
  if (tx_sign_request_set(&tx, msg, len) != CX_OK) return cli_fail(CLI_LOCAL, "out of memory");
  cli_signer s;
  if ((rc = cli_signer_open(c, a, &s))) {
    tx_clear(&tx);
    return rc;
  }
  rc = cli_sign_submit(c, &s, &tx, NULL);
  cli_signer_close(&s);
  tx_clear(&tx);
  return rc;
}

static int cmd_approve(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  int rc;
  tx_init(&tx);
  tx.type = TX_SIGN_APPROVE;
  if ((rc = cli_hash_arg("ID", a->pos[0], &tx.u.sapprove.request))) return rc;
  cli_signer s;
  if ((rc = cli_signer_open(c, a, &s))) return rc;
  rc = cli_sign_submit(c, &s, &tx, NULL);
  cli_signer_close(&s);
  return rc;
}

static void print_request(const cJSON *r) {
  const char *st = jstr(r, "status");
  printf("%-11s %s\n", "request:", jstr(r, "id"));
  printf("%-11s %s (epoch %.0f)\n", "key:", jstr(r, "key"), jnum(r, "epoch"));
  printf("%-11s %s\n", "requester:", jstr(r, "requester"));
  printf("%-11s %s, %.0f of %.0f approvals", "status:", st, jnum(r, "napprovals"), jnum(r, "k"));
  if (jnum(r, "approved_height") > 0) printf(", approved at %.0f", jnum(r, "approved_height"));
  if (jnum(r, "signed_height") > 0) printf(", signed at %.0f", jnum(r, "signed_height"));
  printf("\n");
  print_names("approvals:", cJSON_GetObjectItemCaseSensitive(r, "approvals"));
  printf("%-11s %s\n", "msg:", jstr(r, "msg"));
  if (strcmp(st, "signed") != 0) return;
  printf("%-11s %s\n", "group_pk:", jstr(r, "group_pk"));
  printf("%-11s %s\n", "signature:", jstr(r, "signature"));
  printf("check it:   custos sig verify --scheme frost %s %s %s\n", jstr(r, "group_pk"), jstr(r, "msg"),
         jstr(r, "signature"));
}

/* sign_get, and with --wait again every 500 ms until SIGNED or --timeout. */
static int cmd_signature(cli_ctx *c, const cli_args *a) {
  cx_hash id;
  char hex[CX_HASH_HEX_LEN];
  int rc;
  if ((rc = cli_hash_arg("ID", a->pos[0], &id))) return rc;
  hash_hex(&id, hex);
  double deadline = cli_now_s() + c->timeout_s;
  cJSON *r = NULL;
  for (;;) {
    cJSON *p = cli_params_hex("id", id.b, 32);
    if ((rc = cli_call(c, "sign_get", p, NULL, &r))) return rc;
    if (!c->wait || strcmp(jstr(r, "status"), "signed") == 0) break;
    if (cli_now_s() >= deadline) {
      rc = cli_fail(CLI_UNREACHABLE, "request %s: not signed within %g s (status: %s)", hex, c->timeout_s,
                    jstr(r, "status"));
      cJSON_Delete(r);
      return rc;
    }
    cJSON_Delete(r);
    r = NULL;
    cli_sleep_ms(500);
  }
  if (c->json)
    cli_print_json(c, r);
  else
    print_request(r);
  cJSON_Delete(r);
  return CLI_OK;
}

/* Checks a beacon record for height h against the `beacon` key's
 * verification shares as key_get gives them (docs/keys.md §7). */
static int check_record(const cJSON *key, const uint8_t *rec, size_t len, uint64_t h, const uint8_t value[32],
                        char *why, size_t wl) {
  beacon_record *br = malloc(sizeof *br);
  frost_element *pk = calloc(CX_MAX_VALIDATORS, sizeof *pk);
  int ok = 0;
  const cJSON *ps = cJSON_GetObjectItemCaseSensitive(key, "pk_shares");
  size_t n = (size_t)jnum(key, "n"), t = (size_t)jnum(key, "t"), i = 0;
  if (!br || !pk) {
    snprintf(why, wl, "out of memory");
    goto out;
  }
  for (const cJSON *x = ps ? ps->child : NULL; x && i < n && i < CX_MAX_VALIDATORS; x = x->next, i++)
    if (!cJSON_IsString(x) || hex_decode(x->valuestring, pk[i].b, 32) != CX_OK) break;
  if (n < 2 || n > CX_MAX_VALIDATORS || i != n) {
    snprintf(why, wl, "key_get beacon: no verification shares (is the key ready?)");
    goto out;
  }
  if (beacon_record_decode(rec, len, br, why, wl) != CX_OK) goto out;
  uint16_t culprit = 0;
  if (beacon_record_verify(br->coin, br->coin_len, (uint16_t)t, (uint16_t)n, pk, br, &culprit, why, wl) != CX_OK)
    goto out;
  if (br->coin_len != BEACON_COIN_HEIGHT_LEN || get_be64(br->coin + 32) != h) {
    snprintf(why, wl, "the record is for another height");
    goto out;
  }
  if (memcmp(br->value, value, 32) != 0) {
    snprintf(why, wl, "the value differs from the record's");
    goto out;
  }
  ok = 1;
out:
  free(br);
  free(pk);
  return ok;
}

static int cmd_beacon(cli_ctx *c, const cli_args *a) {
  uint64_t h;
  int rc;
  if ((rc = cli_u64_arg("HEIGHT", a->pos[0], &h))) return rc;
  cJSON *p = cJSON_CreateObject(), *r = NULL, *k = NULL;
  if (p) cJSON_AddNumberToObject(p, "height", (double)h);
  if ((rc = cli_call(c, "beacon_get", p, NULL, &r))) return rc;
  const char *vh = jstr(r, "value"), *rh = jstr(r, "record");
  uint8_t value[32], *rec = NULL;
  size_t rl = strlen(rh) / 2;
  int verify = cli_opt(a, "verify") != NULL;
  char why[200] = "";
  int ok = 0;
  if (hex_decode(vh, value, 32) != CX_OK || !(rec = malloc(rl + 1)) || hex_decode(rh, rec, rl) != CX_OK) {
    free(rec);
    cJSON_Delete(r);
    return cli_fail(CLI_REFUSED, "beacon_get: the node's answer is malformed (value or record)");
  }
  if (verify) {
    cJSON *kp = cJSON_CreateObject();
    if (kp) cJSON_AddStringToObject(kp, "name", "beacon");
    if ((rc = cli_call(c, "key_get", kp, NULL, &k))) {
      free(rec);
      cJSON_Delete(r);
      return rc;
    }
    ok = check_record(k, rec, rl, h, value, why, sizeof why);
  }
  if (c->json) {
    if (verify) {
      cJSON_AddBoolToObject(r, "verified", ok);
      if (!ok) cJSON_AddStringToObject(r, "why", why);
    }
    cli_print_json(c, r);
  } else {
    printf("height  %llu\nvalue   %s\n", (unsigned long long)h, vh);
    if (verify)
      printf("record  %s\n", ok ? "verified: t valid shares with DLEQ proofs under the beacon key's verification shares"
                                  : why);
  }
  free(rec);
  cJSON_Delete(r);
  cJSON_Delete(k);
  return verify && !ok ? CLI_REFUSED : CLI_OK;
}

const cli_cmd cli_ckey_cmds[] = {
    {
        .path = "key list",
        .synopsis = "",
        .summary = "list the consortium's threshold keys",
        .desc = "Prints every consortium key (docs/keys.md): name, purpose (results,\n"
                "beacon or custody), phase (dealing, verifying, ready, failed), epoch,\n"
                "threshold t of n parties, and the group public key once ready.",
        .example = "custos key list",
        .kind = CLI_QUERY,
        .run = cmd_list,
    },
    {
        .path = "key get",
        .synopsis = "NAME",
        .summary = "show a consortium key: parties, deals, complaints, group key",
        .desc = "Prints consortium key NAME at its latest epoch: its parties (the\n"
                "validators when it was created, in signer order), who has dealt and given\n"
                "a verdict, the complaints and their fate, who is disqualified, and when\n"
                "ready the qualified dealers and the group public key. With --json, the\n"
                "key_get result, which also has the verification shares and the txids of\n"
                "the key's transactions in chain order (what `custos verify` replays).",
        .example = "custos key get results",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_get,
    },
    {
        .path = "key create",
        .synopsis = "NAME --t T --k K",
        .summary = "ask the validators for a custody key (a threshold key of T signers)",
        .desc = "Submits a key_create for custody key NAME (any name but results and\n"
                "beacon), signed by --key, which must be a member's. The validators then\n"
                "run the key's DKG on chain; T is the number of them needed to sign, from\n"
                "max(2, f + 1) to n (n validators, f = (n - 1) / 3). K is the key's policy:\n"
                "the number of distinct members whose approval a signing request needs,\n"
                "1 to the number of members (at most 64). A name whose last run failed\n"
                "can be created again (epoch + 1). With --wait (global flag), waits for\n"
                "the receipt; follow the key with `custos key get NAME`.",
        .example = "custos --key insurer.json --wait key create escrow --t 3 --k 2",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"t", "T", "signers needed", 1}, {"k", "K", "member approvals a signing request needs", 1}},
        .run = cmd_create,
    },
    {
        .path = "key sign",
        .synopsis = "NAME --msg HEX",
        .summary = "ask custody key NAME to sign a message (a signing request)",
        .desc = "Submits a sign_request for custody key NAME, which must be ready, signed\n"
                "by --key (a member's; its approval counts as the first). HEX is the\n"
                "message, 1..1024 bytes; the key signs exactly these bytes. The txid\n"
                "printed is the request's id: once K members approved it (`custos key\n"
                "approve ID`), the key's parties sign it and put the signature on chain;\n"
                "fetch it with `custos key signature ID`.",
        .example = "custos --key insurer.json --wait key sign escrow --msg 7061792031303020746f20626f62",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"msg", "HEX", "the message to sign (hex, 1..1024 bytes)", 1}},
        .run = cmd_sign,
    },
    {
        .path = "key approve",
        .synopsis = "ID",
        .summary = "approve a custody key's signing request",
        .desc = "Submits a sign_approve for request ID (the sign_request's txid), signed\n"
                "by --key (a member's). Refused as already_approved by a member that has\n"
                "approved it (the requester has), request_closed once it is signed. At\n"
                "the key's K approvals the request is approved and the key's parties\n"
                "sign it.",
        .example = "custos --key health.json --wait key approve 3f2a...c9",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_approve,
    },
    {
        .path = "key signature",
        .synopsis = "ID [--wait]",
        .summary = "a signing request's status and, once signed, its signature",
        .desc = "Prints request ID (sign_get): the key and epoch, who asked, its status\n"
                "(pending, approved, signed) with the approvals so far, and the message.\n"
                "Once signed: the key's group public key and the FROST signature, and the\n"
                "`custos sig verify --scheme frost GROUPKEY MSG SIG` line that checks it\n"
                "without trusting the node. With --wait, asks again every 0.5 s until it\n"
                "is signed or --timeout passes (exit 3).",
        .example = "custos --timeout 120 key signature 3f2a...c9 --wait",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_signature,
    },
    {
        .path = "beacon get",
        .synopsis = "HEIGHT [--verify]",
        .summary = "the random beacon's value for a height",
        .desc = "Prints the beacon value the consortium made for committed height HEIGHT\n"
                "(docs/keys.md §7). With --verify, also checks the record the node gives:\n"
                "the t shares and their DLEQ proofs against the verification shares of\n"
                "the `beacon` key (key_get beacon), and that they combine to the value;\n"
                "exit status 1 when it does not verify.",
        .example = "custos beacon get 42 --verify",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"verify", NULL, "check the record's shares and proofs", 0}},
        .run = cmd_beacon,
    },
    {.path = NULL},
};
