/* cli_consent: consents of subjects to insurers' contracts. A consent's id
 * is the txid of its grant. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "codec.h"

static int submit_simple(cli_ctx *c, const cli_args *a, cx_tx *tx) {
  cli_signer s;
  int rc = cli_signer_open(c, a, &s);
  if (rc) return rc;
  rc = cli_sign_submit(c, &s, tx, NULL);
  cli_signer_close(&s);
  return rc;
}

static int cmd_grant(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_CONSENT_GRANT;
  cx_tx_consent_grant *g = &tx.u.grant;
  const char *purpose = cli_opt(a, "purpose"), *ev = cli_opt(a, "evidence");
  uint64_t quota = 0;
  int rc;
  if ((rc = cli_did_arg("--did", cli_opt(a, "did"), &g->did)) ||
      (rc = cli_name_arg("--insurer", cli_opt(a, "insurer"), g->insurer)) ||
      (rc = cli_domains_arg("--domains", cli_opt(a, "domains"), &g->domains)) ||
      (rc = cli_hash_arg("--contract", cli_opt(a, "contract"), &g->contract)) ||
      (rc = cli_u64_arg("--expires", cli_opt(a, "expires"), &g->expires)) ||
      (rc = cli_u64_arg("--quota", cli_opt(a, "quota"), &quota)))
    return rc;
  if (g->domains.n == 0) return cli_fail(CLI_USAGE, "--domains: at least one domain");
  if (!*purpose || !str_valid(purpose, CX_PURPOSE_MAX, STR_UTF8))
    return cli_fail(CLI_USAGE,
                    "--purpose: 1-%d bytes of UTF-8 text without control characters",
                    CX_PURPOSE_MAX);
  strcpy(g->purpose, purpose);
  if (quota < 1 || quota > UINT32_MAX)
    return cli_fail(CLI_USAGE, "--quota: expected 1..%u", UINT32_MAX);
  g->quota = (uint32_t)quota;
  if (ev && (rc = cli_hash_arg("--evidence", ev, &g->evidence))) return rc;
  return submit_simple(c, a, &tx);
}

static int cmd_revoke(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_CONSENT_REVOKE;
  int rc = cli_hash_arg("ID", a->pos[0], &tx.u.crevoke.consent);
  if (rc) return rc;
  return submit_simple(c, a, &tx);
}

static int cmd_list(cli_ctx *c, const cli_args *a) {
  cx_hash did;
  int rc = cli_did_arg("DID", a->pos[0], &did);
  if (rc) return rc;
  return cli_query(c, "consent_list", cli_params_hex("did", did.b, 32));
}

static int cmd_get(cli_ctx *c, const cli_args *a) {
  cx_hash id;
  int rc = cli_hash_arg("ID", a->pos[0], &id);
  if (rc) return rc;
  return cli_query(c, "consent_get", cli_params_hex("id", id.b, 32));
}

const cli_cmd cli_consent_cmds[] = {
    {
        .path = "consent grant",
        .synopsis = "--did DID --insurer NAME --domains a,b --contract ID --purpose TEXT "
                    "--expires HEIGHT --quota N [--evidence HEX]",
        .summary = "grant an insurer's contract use of a subject's data",
        .desc = "Grants insurer NAME the use of the subject's data in the given domains\n"
                "through contract ID, for PURPOSE, until block HEIGHT (inclusive), at most\n"
                "N times. Signed by the subject, or by a bureau that attested the subject\n"
                "acting on its behalf, which must then give --evidence (the 32-byte hash\n"
                "of the signed paper form, as hex). Prints the consent id (the txid).",
        .example = "custos --key clients/subject.json --passphrase-file clients/subject.pass \\\n"
                   "  consent grant --did 3f2a...9c --insurer insurer --domains health,hrss \\\n"
                   "  --contract 9d1e...07 --purpose 'premium quote' --expires 5000 --quota 3",
        .kind = CLI_SUBMIT,
        .flags = {{"did", "DID", "the subject", 1},
                  {"insurer", "NAME", "member name of the insurer", 1},
                  {"domains", "a,b", "data domains the consent covers", 1},
                  {"contract", "ID", "contract id (64 hex digits)", 1},
                  {"purpose", "TEXT", "purpose shown to the subject (at most 128 bytes)", 1},
                  {"expires", "HEIGHT", "last block height at which the consent is live", 1},
                  {"quota", "N", "number of uses allowed (>= 1)", 1},
                  {"evidence", "HEX", "32-byte evidence hash (bureau granting for a subject)",
                   0}},
        .run = cmd_grant,
    },
    {
        .path = "consent revoke",
        .synopsis = "ID",
        .summary = "revoke a consent (the subject or the granting bureau)",
        .desc = "Revokes the consent whose id (the grant's txid) is ID.",
        .example = "custos consent revoke 71c0...aa --wait",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_revoke,
    },
    {
        .path = "consent list",
        .synopsis = "DID",
        .summary = "list a subject's consents",
        .desc = "Prints every consent of the subject DID in grant order, with whether it\n"
                "is live at the current height.",
        .example = "custos consent list 3f2a...9c",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_list,
    },
    {
        .path = "consent get",
        .synopsis = "ID",
        .summary = "show one consent",
        .desc = "Prints the consent whose id (the grant's txid) is ID.",
        .example = "custos consent get 71c0...aa",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_get,
    },
    {.path = NULL},
};
