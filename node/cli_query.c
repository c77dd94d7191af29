/* cli_query: read-only commands (tx, block, account, status) and the admin
 * methods (loopback + cookie). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int cmd_tx_get(cli_ctx *c, const cli_args *a) {
  cx_hash id;
  int rc = cli_hash_arg("TXID", a->pos[0], &id);
  if (rc) return rc;
  return cli_query(c, "tx_get", cli_params_hex("txid", id.b, 32));
}

static int cmd_block_get(cli_ctx *c, const cli_args *a) {
  const char *arg = a->pos[0];
  cJSON *p;
  if (strlen(arg) == 64) {
    cx_hash h;
    int rc = cli_hash_arg("HASH", arg, &h);
    if (rc) return rc;
    p = cli_params_hex("hash", h.b, 32);
  } else {
    uint64_t height;
    if (!*arg || strspn(arg, "0123456789") != strlen(arg))
      return cli_fail(CLI_USAGE, "HEIGHT|HASH: expected a height or a 64-hex-digit hash, got \"%s\"",
                      arg);
    int rc = cli_u64_arg("HEIGHT", arg, &height);
    if (rc) return rc;
    p = cJSON_CreateObject();
    if (p) cJSON_AddNumberToObject(p, "height", (double)height);
  }
  return cli_query(c, "block_get", p);
}

static int cmd_account_get(cli_ctx *c, const cli_args *a) {
  cx_pubkey key;
  int rc;
  if (a->npos == 1) {
    rc = cli_pubkey_arg("KEY", a->pos[0], &key, NULL, NULL);
  } else if (c->key && *c->key) {
    rc = cli_pubkey_arg("--key", c->key, &key, NULL, NULL); /* public part: no passphrase */
  } else {
    rc = cli_fail(CLI_USAGE, "account get: give KEY, --key FILE or set $CUSTOS_KEY");
  }
  if (rc) return rc;
  return cli_query(c, "account_get", cli_params_hex("key", key.b, 32));
}

static const char *str_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "?";
}

static double num_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* "a, b, c" of a JSON array of strings. */
static void print_names(const char *label, const cJSON *arr) {
  const cJSON *n;
  int first = 1;
  printf("%-12s", label);
  cJSON_ArrayForEach(n, arr) {
    if (!cJSON_IsString(n)) continue;
    printf("%s%s", first ? "" : ", ", n->valuestring);
    first = 0;
  }
  printf("%s\n", first ? "-" : "");
}

static int cmd_status(cli_ctx *c, const cli_args *a) {
  cJSON *r = NULL;
  int rc = cli_call(c, "status", cJSON_CreateObject(), NULL, &r);
  if (rc) return rc;
  if (c->json) {
    cli_print_json(c, r);
    cJSON_Delete(r);
    return CLI_OK;
  }
  const cJSON *node = cJSON_GetObjectItemCaseSensitive(r, "node");
  const cJSON *mp = cJSON_GetObjectItemCaseSensitive(r, "mempool");
  printf("%-12s%s\n", "chain:", str_of(r, "chain_name"));
  printf("%-12s%s\n", "chain_id:", str_of(r, "chain_id"));
  printf("%-12s%.0f\n", "height:", num_of(r, "height"));
  printf("%-12s%s\n", "tip:", str_of(r, "tip_hash"));
  printf("%-12s%s\n", "state:", str_of(r, "state_root"));
  printf("%-12s%s (%s) %s\n", "node:", str_of(node, "name"),
         cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(node, "validator")) ? "validator"
                                                                           : "non-validator",
         str_of(node, "key"));
  print_names("members:", cJSON_GetObjectItemCaseSensitive(r, "members"));
  print_names("validators:", cJSON_GetObjectItemCaseSensitive(r, "validators"));
  printf("%-12s%.0f / %.0f\n", "mempool:", num_of(mp, "size"), num_of(mp, "max"));
  const cJSON *peers = cJSON_GetObjectItemCaseSensitive(r, "peers"), *p;
  int up = 0;
  cJSON_ArrayForEach(p, peers) up += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "connected"));
  printf("%-12s%d of %d connected\n", "peers:", up, cJSON_GetArraySize(peers));
  cJSON_ArrayForEach(p, peers) {
    printf("  %-12s%-5s in %.0f msgs / %.0f B, out %.0f msgs / %.0f B\n", str_of(p, "member"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "connected")) ? "up" : "down",
           num_of(p, "msgs_in"), num_of(p, "bytes_in"), num_of(p, "msgs_out"),
           num_of(p, "bytes_out"));
  }
  cJSON_Delete(r);
  return CLI_OK;
}

static int cmd_admin_log_level(cli_ctx *c, const cli_args *a) {
  static const char *const levels[] = {"trace", "debug", "info", "warn", "error"};
  const char *lvl = a->pos[0];
  int ok = 0;
  for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) ok |= strcmp(levels[i], lvl) == 0;
  if (!ok) return cli_fail(CLI_USAGE, "LEVEL: expected trace, debug, info, warn or error");
  cJSON *p = cJSON_CreateObject();
  if (p) cJSON_AddStringToObject(p, "level", lvl);
  return cli_admin_call(c, a, "admin_log_level", p, NULL);
}

static int cmd_admin_mempool(cli_ctx *c, const cli_args *a) {
  return cli_admin_call(c, a, "admin_mempool", cJSON_CreateObject(), NULL);
}

#define COOKIE_FLAG \
  { "cookie", "FILE", "the node's admin cookie file (in its data_dir)", 1 }

const cli_cmd cli_query_cmds[] = {
    {
        .path = "status",
        .synopsis = "",
        .summary = "show the node's chain, height, members and mempool",
        .desc = "Prints a summary of the node's `status`. With --json, the status result\n"
                "as one JSON object (chain_id, chain_name, height, tip_hash, ...).",
        .example = "custos status\ncustos status --json | jq .height",
        .kind = CLI_QUERY,
        .run = cmd_status,
    },
    {
        .path = "tx get",
        .synopsis = "TXID",
        .summary = "show a transaction and its receipt",
        .desc = "Prints the transaction TXID: pending (in the mempool) or committed with\n"
                "height, index and receipt (ok, or the rule that rejected it).",
        .example = "custos tx get 5be1...e0",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_tx_get,
    },
    {
        .path = "block get",
        .synopsis = "HEIGHT|HASH",
        .summary = "show a block by height or hash",
        .desc = "Prints a block header, its transactions (txid, type, receipt code) and\n"
                "its commit certificate. Height 0 is not a block (genesis is state only).",
        .example = "custos block get 1\ncustos block get 8c3f...21",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_block_get,
    },
    {
        .path = "account get",
        .synopsis = "[KEY]",
        .summary = "show an account's nonce (KEY: hex or keystore; default --key)",
        .desc = "Prints the committed next nonce of a key, its pending transactions and\n"
                "the nonce its next transaction needs. KEY is 64 hex digits or a keystore\n"
                "file; without it, the --key keystore's public key (no passphrase).",
        .example = "custos account get clients/insurer.json",
        .kind = CLI_QUERY,
        .max_pos = 1,
        .run = cmd_account_get,
    },
    {
        .path = "admin log-level",
        .synopsis = "LEVEL --cookie FILE",
        .summary = "change the node's log level (loopback + cookie)",
        .desc = "Sets the node's log level to trace, debug, info, warn or error. Admin\n"
                "methods answer only on loopback and with the node's cookie.",
        .example = "custos admin log-level debug --cookie devnet/node0/data/.cookie",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {COOKIE_FLAG},
        .run = cmd_admin_log_level,
    },
    {
        .path = "admin mempool",
        .synopsis = "--cookie FILE",
        .summary = "show mempool counters (loopback + cookie)",
        .desc = "Prints the mempool's size, cap, senders and admitted / rejected /\n"
                "committed counters.",
        .example = "custos admin mempool --cookie devnet/node0/data/.cookie",
        .kind = CLI_QUERY,
        .flags = {COOKIE_FLAG},
        .run = cmd_admin_mempool,
    },
    {.path = NULL},
};
