/* cli_contract: the contract registry. A contract's id is
 * vm_contract_id(source), so anyone can check which text was approved. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codec.h"
#include "vm.h"

/* Reads a contract source and checks what the codec will check. */
static int read_source(const char *path, char **src, size_t *len) {
  int rc = cli_read_file(path, CX_SOURCE_MAX, src, len);
  if (rc) return rc;
  if (!text_valid((const uint8_t *)*src, *len, STR_TEXT)) {
    free(*src);
    *src = NULL;
    return cli_fail(CLI_USAGE,
                    "%s: a contract source is UTF-8 text without control characters "
                    "(tab, CR and LF allowed)",
                    path);
  }
  return CLI_OK;
}

static int cmd_id(cli_ctx *c, const cli_args *a) {
  char *src = NULL;
  size_t len = 0;
  int rc = read_source(a->pos[0], &src, &len);
  if (rc) return rc;
  cx_hash id;
  char hex[CX_HASH_HEX_LEN];
  vm_contract_id((const uint8_t *)src, len, &id);
  free(src);
  hash_hex(&id, hex);
  if (c->json)
    printf("{\"id\":\"%s\"}\n", hex);
  else
    puts(hex);
  return CLI_OK;
}

static int cmd_deploy(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_CONTRACT_DEPLOY;
  char *src = NULL;
  size_t len = 0;
  int rc;
  if ((rc = cli_name_arg("--name", cli_opt(a, "name"), tx.u.deploy.name)) ||
      (rc = cli_domains_arg("--domains", cli_opt(a, "domains"), &tx.u.deploy.domains)))
    return rc;
  if (tx.u.deploy.domains.n == 0) return cli_fail(CLI_USAGE, "--domains: at least one domain");
  if ((rc = read_source(a->pos[0], &src, &len))) return rc;
  cx_hash id;
  char hex[CX_HASH_HEX_LEN];
  vm_contract_id((const uint8_t *)src, len, &id);
  hash_hex(&id, hex);
  cx_err e = tx_set_source(&tx, src, len);
  free(src);
  if (e) {
    tx_clear(&tx);
    return cli_fail(CLI_LOCAL, "%s: %s", a->pos[0], cx_err_str(e));
  }
  cli_signer s;
  if ((rc = cli_signer_open(c, a, &s)) == CLI_OK) {
    cJSON *extras = cJSON_CreateObject();
    if (extras) cJSON_AddStringToObject(extras, "contract", hex);
    rc = cli_sign_submit(c, &s, &tx, extras);
    cli_signer_close(&s);
  }
  tx_clear(&tx);
  return rc;
}

static int submit_ref(cli_ctx *c, const cli_args *a, int type) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = (uint8_t)type;
  int rc = cli_hash_arg("ID", a->pos[0], &tx.u.cref.contract);
  if (rc) return rc;
  cli_signer s;
  if ((rc = cli_signer_open(c, a, &s))) return rc;
  rc = cli_sign_submit(c, &s, &tx, NULL);
  cli_signer_close(&s);
  return rc;
}

static int cmd_approve(cli_ctx *c, const cli_args *a) {
  return submit_ref(c, a, TX_CONTRACT_APPROVE);
}

static int cmd_retire(cli_ctx *c, const cli_args *a) {
  return submit_ref(c, a, TX_CONTRACT_RETIRE);
}

static int cmd_get(cli_ctx *c, const cli_args *a) {
  cx_hash id;
  int rc = cli_hash_arg("ID", a->pos[0], &id);
  if (rc) return rc;
  return cli_query(c, "contract_get", cli_params_hex("id", id.b, 32));
}

const cli_cmd cli_contract_cmds[] = {
    {
        .path = "contract deploy",
        .synopsis = "FILE --name NAME --domains a,b",
        .summary = "deploy a contract source (insurers)",
        .desc = "Submits the source text in FILE (at most 64 KiB of UTF-8) under NAME,\n"
                "declaring the data domains it reads. It becomes callable once every\n"
                "bureau owning one of those domains has approved it. Prints the contract\n"
                "id (H_CONTRACT of the source, the same as `custos contract id FILE`).",
        .example = "custos --key clients/insurer.json --passphrase-file clients/insurer.pass \\\n"
                   "  contract deploy quote.cx --name premium-quote --domains health,hrss",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"name", "NAME", "contract name (a-z 0-9 _ -, at most 32)", 1},
                  {"domains", "a,b", "data domains the contract reads", 1}},
        .run = cmd_deploy,
    },
    {
        .path = "contract approve",
        .synopsis = "ID",
        .summary = "approve a deployed contract (bureaus owning one of its domains)",
        .desc = "Submits the signing bureau's approval of contract ID.",
        .example = "custos --key node1/key.json --passphrase-file node1/passphrase \\\n"
                   "  contract approve 9d1e...07",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_approve,
    },
    {
        .path = "contract retire",
        .synopsis = "ID",
        .summary = "retire a contract (its deploying insurer)",
        .desc = "Retires contract ID: it can no longer be called.",
        .example = "custos contract retire 9d1e...07",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_retire,
    },
    {
        .path = "contract get",
        .synopsis = "ID",
        .summary = "show a contract, its approvals and source",
        .desc = "Prints the registry record of contract ID, including its source text.",
        .example = "custos contract get 9d1e...07",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_get,
    },
    {
        .path = "contract id",
        .synopsis = "FILE",
        .summary = "print the contract id of a source file (offline)",
        .desc = "Computes the id a deployment of FILE would have (H_CONTRACT of its bytes),\n"
                "without a node. Use it to check that an approved id is this text.",
        .example = "custos contract id quote.cx",
        .kind = CLI_OFFLINE,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_id,
    },
    {.path = NULL},
};
