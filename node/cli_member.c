/* cli_member: governance (member proposals and approvals) and the member
 * list. A proposal's id is the txid of its TX_MEMBER_PROPOSE. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "codec.h"

#define DEFAULT_PROPOSAL_TTL 1000 /* blocks: about 3 minutes at 200 ms */

/* --expires, or the node's height + DEFAULT_PROPOSAL_TTL (known only once
 * the signer is open). */
static int expires_arg(const cli_args *a, uint64_t *out, int *given) {
  const char *s = cli_opt(a, "expires");
  *given = s != NULL;
  return s ? cli_u64_arg("--expires", s, out) : CLI_OK;
}

/* --member-key (keystore or hex) and --enc-key into m->key / m->enc_key. */
static int member_keys_arg(const cli_args *a, cx_member *m) {
  int has_enc = 0, rc;
  uint8_t enc_pub[32];
  const char *ek = cli_opt(a, "enc-key");
  if ((rc = cli_pubkey_arg("--member-key", cli_opt(a, "member-key"), &m->key, enc_pub, &has_enc)))
    return rc;
  if (ek) {
    uint8_t given[32];
    if ((rc = cli_hex32("--enc-key", ek, given))) return rc;
    if (has_enc && memcmp(given, enc_pub, 32) != 0)
      return cli_fail(CLI_USAGE, "--enc-key: differs from the keystore's enc_key");
    memcpy(enc_pub, given, 32);
    has_enc = 1;
  }
  if (!has_enc)
    return cli_fail(CLI_USAGE, "--enc-key: required when --member-key is a hex key");
  memcpy(m->enc_key, enc_pub, 32);
  return CLI_OK;
}

/* Common tail of the three proposals: open the signer, settle the expiry,
 * submit; prints the proposal id (= txid). */
static int submit_proposal(cli_ctx *c, const cli_args *a, cx_tx *tx, uint64_t expires,
                           int expires_given) {
  cli_signer s;
  int rc = cli_signer_open(c, a, &s);
  if (rc) return rc;
  tx->u.propose.expires = expires_given ? expires : s.height + DEFAULT_PROPOSAL_TTL;
  cJSON *extras = cJSON_CreateObject();
  if (extras) cJSON_AddNumberToObject(extras, "expires", (double)tx->u.propose.expires);
  rc = cli_sign_submit(c, &s, tx, extras);
  cli_signer_close(&s);
  return rc;
}

static int cmd_propose_add(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_MEMBER_PROPOSE;
  tx.u.propose.action = GOV_ADD;
  cx_member *m = &tx.u.propose.member;
  uint64_t expires = 0;
  int given, rc;
  const char *addr = cli_opt(a, "address"), *doms = cli_opt(a, "domains");
  if ((rc = cli_name_arg("--name", cli_opt(a, "name"), m->name))) return rc;
  int role = role_parse(cli_opt(a, "role"));
  if (role < 0)
    return cli_fail(CLI_USAGE, "--role: expected bureau, insurer, auditor or regulator");
  m->role = (uint8_t)role;
  if ((rc = member_keys_arg(a, m))) return rc;
  m->validator = cli_opt(a, "validator") != NULL;
  /* The rules the codec enforces, said in the CLI's own words. */
  if (m->validator && !addr)
    return cli_fail(CLI_USAGE, "--address: a validator needs its member-link address");
  if (!m->validator && addr)
    return cli_fail(CLI_USAGE, "--address: only validators have an address (add --validator)");
  if (addr) {
    if (!str_valid(addr, CX_ADDR_MAX, STR_ADDR))
      return cli_fail(CLI_USAGE, "--address: printable characters without spaces, at most %d",
                      CX_ADDR_MAX);
    strcpy(m->address, addr);
  }
  if (doms && (rc = cli_domains_arg("--domains", doms, &m->domains))) return rc;
  if (m->domains.n && m->role != ROLE_BUREAU)
    return cli_fail(CLI_USAGE, "--domains: only bureaus own data domains");
  if ((rc = expires_arg(a, &expires, &given))) return rc;
  return submit_proposal(c, a, &tx, expires, given);
}

static int cmd_propose_remove(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_MEMBER_PROPOSE;
  tx.u.propose.action = GOV_REMOVE;
  uint64_t expires = 0;
  int given, rc;
  if ((rc = cli_name_arg("--name", cli_opt(a, "name"), tx.u.propose.member.name))) return rc;
  if ((rc = expires_arg(a, &expires, &given))) return rc;
  return submit_proposal(c, a, &tx, expires, given);
}

static int cmd_propose_rekey(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_MEMBER_PROPOSE;
  tx.u.propose.action = GOV_REKEY;
  uint64_t expires = 0;
  int given, rc;
  if ((rc = cli_name_arg("--name", cli_opt(a, "name"), tx.u.propose.member.name))) return rc;
  if ((rc = member_keys_arg(a, &tx.u.propose.member))) return rc;
  if ((rc = expires_arg(a, &expires, &given))) return rc;
  return submit_proposal(c, a, &tx, expires, given);
}

static int cmd_member_approve(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_MEMBER_APPROVE;
  int rc = cli_hash_arg("PROPOSAL_ID", a->pos[0], &tx.u.approve.proposal);
  if (rc) return rc;
  cli_signer s;
  if ((rc = cli_signer_open(c, a, &s))) return rc;
  rc = cli_sign_submit(c, &s, &tx, NULL);
  cli_signer_close(&s);
  return rc;
}

static const char *json_str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static int cmd_member_list(cli_ctx *c, const cli_args *a) {
  cJSON *r = NULL;
  int rc = cli_call(c, "member_list", cJSON_CreateObject(), NULL, &r);
  if (rc) return rc;
  if (c->json) {
    cli_print_json(c, r);
    cJSON_Delete(r);
    return CLI_OK;
  }
  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(r, "members");
  const cJSON *vs = cJSON_GetObjectItemCaseSensitive(r, "validators");
  const cJSON *q = cJSON_GetObjectItemCaseSensitive(r, "quorum");
  printf("%-16s %-10s %-9s %-20s %s\n", "NAME", "ROLE", "VALIDATOR", "DOMAINS", "KEY");
  const cJSON *m;
  cJSON_ArrayForEach(m, ms) {
    char doms[CX_DOMAINS_MAX * (CX_DOMAIN_MAX + 1) + 1] = "";
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(m, "domains")) {
      if (!cJSON_IsString(d)) continue;
      if (doms[0]) strncat(doms, ",", sizeof doms - strlen(doms) - 1);
      strncat(doms, d->valuestring, sizeof doms - strlen(doms) - 1);
    }
    printf("%-16s %-10s %-9s %-20s %s\n", json_str(m, "name"), json_str(m, "role"),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "validator")) ? "yes" : "no",
           doms[0] ? doms : "-", json_str(m, "key"));
  }
  printf("quorum: %d of %d validators\n", cJSON_IsNumber(q) ? q->valueint : -1,
         cJSON_GetArraySize(vs));
  cJSON_Delete(r);
  return CLI_OK;
}

static int cmd_proposal_get(cli_ctx *c, const cli_args *a) {
  cx_hash id;
  int rc = cli_hash_arg("ID", a->pos[0], &id);
  if (rc) return rc;
  return cli_query(c, "proposal_get", cli_params_hex("id", id.b, 32));
}

#define EXPIRES_FLAG \
  { "expires", "H", "last height at which approvals count (default: current height + 1000)", 0 }

const cli_cmd cli_member_cmds[] = {
    {
        .path = "member propose add",
        .synopsis = "--name NAME --role ROLE --member-key KEYSTORE|HEX [flags]",
        .summary = "propose adding a member (validators only)",
        .desc = "Submits a governance proposal to add a member. It takes effect when a\n"
                "quorum of validators has approved it (the proposer's approval counts).\n"
                "The member's keys come from its keystore file (public part only, no\n"
                "passphrase) or as hex (--member-key HEX --enc-key HEX). Prints the\n"
                "proposal id (the txid), which validators pass to `member approve`.",
        .example = "custos --key node0/key.json --passphrase-file node0/passphrase \\\n"
                   "  member propose add --name insurer2 --role insurer --member-key ins2.json",
        .kind = CLI_SUBMIT,
        .flags = {{"name", "NAME", "member name (a-z 0-9 _ -, at most 32)", 1},
                  {"role", "ROLE", "bureau, insurer, auditor or regulator", 1},
                  {"member-key", "KEYSTORE|HEX", "the member's keystore file or signing key", 1},
                  {"enc-key", "HEX", "X25519 key (required with a hex --member-key)", 0},
                  {"validator", NULL, "the member runs a node and votes", 0},
                  {"address", "ADDR", "member-link address of a validator (tcp://host:port)", 0},
                  {"domains", "a,b", "data domains a bureau owns", 0},
                  EXPIRES_FLAG},
        .run = cmd_propose_add,
    },
    {
        .path = "member propose remove",
        .synopsis = "--name NAME [--expires H]",
        .summary = "propose removing a member (validators only)",
        .desc = "Submits a governance proposal to remove the member NAME. Prints the\n"
                "proposal id (the txid).",
        .example = "custos member propose remove --name auditor",
        .kind = CLI_SUBMIT,
        .flags = {{"name", "NAME", "member to remove", 1}, EXPIRES_FLAG},
        .run = cmd_propose_remove,
    },
    {
        .path = "member propose rekey",
        .synopsis = "--name NAME --member-key KEYSTORE|HEX [--enc-key HEX] [--expires H]",
        .summary = "propose replacing a member's keys (validators only)",
        .desc = "Submits a governance proposal to give member NAME a new signing key and\n"
                "enc_key (from a keystore file, or hex with --enc-key). Prints the proposal\n"
                "id (the txid).",
        .example = "custos member propose rekey --name health --member-key health-new.json",
        .kind = CLI_SUBMIT,
        .flags = {{"name", "NAME", "member to re-key", 1},
                  {"member-key", "KEYSTORE|HEX", "the new keystore file or signing key", 1},
                  {"enc-key", "HEX", "new X25519 key (required with a hex --member-key)", 0},
                  EXPIRES_FLAG},
        .run = cmd_propose_rekey,
    },
    {
        .path = "member approve",
        .synopsis = "PROPOSAL_ID",
        .summary = "approve a pending member proposal (validators only)",
        .desc = "Submits the signer's approval of a governance proposal. The change is\n"
                "applied in the block where the approvals reach the quorum.",
        .example = "custos --key node1/key.json --passphrase-file node1/passphrase \\\n"
                   "  member approve 5be1...e0 --wait",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_member_approve,
    },
    {
        .path = "member list",
        .synopsis = "",
        .summary = "list the consortium's members, validators and quorum",
        .desc = "Prints the current members (name, role, validator, domains, key) and the\n"
                "governance quorum. With --json, the member_list result as is.",
        .example = "custos member list\ncustos --json member list | jq -r '.validators[]'",
        .kind = CLI_QUERY,
        .run = cmd_member_list,
    },
    {
        .path = "proposal get",
        .synopsis = "ID",
        .summary = "show a member proposal and its approvals",
        .desc = "Prints a governance proposal: action, member record, expiry, proposer,\n"
                "approvals and whether (and at which height) it was applied.",
        .example = "custos proposal get 5be1...e0",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_proposal_get,
    },
    {.path = NULL},
};
