/* cli_identity: subjects' decentralised identifiers. The DID is computed
 * here, H_DID(salt || national id): the national id never leaves this
 * process, only the hash goes on chain. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Reads the national id from stdin ("--national-id -"), so it appears in
 * neither the shell history nor the process list. */
static int read_id_stdin(char *buf, size_t cap) {
  if (!fgets(buf, (int)cap, stdin)) return cli_fail(CLI_USAGE, "--national-id: nothing on stdin");
  size_t n = strcspn(buf, "\r\n");
  if (buf[n] == 0 && n == cap - 1) return cli_fail(CLI_USAGE, "--national-id: too long");
  buf[n] = 0;
  return CLI_OK;
}

static int cmd_register(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_ID_REGISTER;
  uint8_t salt[CX_SALT_MAX];
  size_t salt_len = 16;
  char idbuf[256];
  const char *nid = cli_opt(a, "national-id"), *salt_hex = cli_opt(a, "salt");
  int rc = CLI_OK;
  if (salt_hex) {
    if (hex_decode_var(salt_hex, salt, sizeof salt, &salt_len) != CX_OK || salt_len == 0)
      return cli_fail(CLI_USAGE, "--salt: expected 1-%d bytes as hex", CX_SALT_MAX);
  } else {
    randombytes_buf(salt, salt_len);
  }
  if (strcmp(nid, "-") == 0) {
    if ((rc = read_id_stdin(idbuf, sizeof idbuf))) goto out;
    nid = idbuf;
  }
  if (!*nid) {
    rc = cli_fail(CLI_USAGE, "--national-id: empty");
    goto out;
  }
  if (did_derive(salt, salt_len, nid, &tx.u.reg.did) != CX_OK) {
    rc = cli_fail(CLI_USAGE, "--national-id: cannot derive a DID");
    goto out;
  }
  sodium_memzero(idbuf, sizeof idbuf);

  char did[CX_HASH_HEX_LEN], salthex[2 * CX_SALT_MAX + 1];
  hash_hex(&tx.u.reg.did, did);
  hex_encode(salt, salt_len, salthex);
  cli_signer s;
  if ((rc = cli_signer_open(c, a, &s))) goto out;
  cJSON *extras = cJSON_CreateObject();
  if (extras) {
    cJSON_AddStringToObject(extras, "did", did);
    cJSON_AddStringToObject(extras, "salt", salthex);
  }
  rc = cli_sign_submit(c, &s, &tx, extras);
  cli_signer_close(&s);
  if (rc == CLI_OK && !c->json)
    fprintf(stderr, "custos: keep the salt: with the national id it is the only way to "
                    "recompute this DID\n");
out:
  sodium_memzero(idbuf, sizeof idbuf);
  sodium_memzero(salt, sizeof salt);
  return rc;
}

/* Parses the DID argument, opens the signer and submits tx. */
static int submit_simple(cli_ctx *c, const cli_args *a, cx_tx *tx) {
  cli_signer s;
  int rc = cli_signer_open(c, a, &s);
  if (rc) return rc;
  rc = cli_sign_submit(c, &s, tx, NULL);
  cli_signer_close(&s);
  return rc;
}

static int cmd_attest(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_ID_ATTEST;
  int rc = cli_did_arg("DID", a->pos[0], &tx.u.attest.did);
  if (rc) return rc;
  int level = level_parse(cli_opt(a, "level"));
  if (level < 0) return cli_fail(CLI_USAGE, "--level: expected EA5- or EA5+");
  tx.u.attest.level = (uint8_t)level;
  return submit_simple(c, a, &tx);
}

static int cmd_rotate(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_ID_ROTATE;
  int rc = cli_did_arg("DID", a->pos[0], &tx.u.rotate.did);
  if (rc) return rc;
  if ((rc = cli_pubkey_arg("--new-key", cli_opt(a, "new-key"), &tx.u.rotate.new_key, NULL, NULL)))
    return rc;
  return submit_simple(c, a, &tx);
}

static int cmd_revoke(cli_ctx *c, const cli_args *a) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_ID_REVOKE;
  int rc = cli_did_arg("DID", a->pos[0], &tx.u.revoke.did);
  if (rc) return rc;
  return submit_simple(c, a, &tx);
}

static int cmd_get(cli_ctx *c, const cli_args *a) {
  cx_hash did;
  int rc = cli_did_arg("DID", a->pos[0], &did);
  if (rc) return rc;
  return cli_query(c, "identity_get", cli_params_hex("did", did.b, 32));
}

const cli_cmd cli_identity_cmds[] = {
    {
        .path = "identity register",
        .synopsis = "--national-id ID|- [--salt HEX]",
        .summary = "register the signer as a subject (DID computed locally)",
        .desc = "Registers a decentralised identifier whose key is the signer's key. The\n"
                "DID is H_DID(salt || national id), computed here: the national id is\n"
                "never sent. The salt is 16 random bytes unless --salt is given; it is\n"
                "printed with the DID and the subject must keep it. \"--national-id -\"\n"
                "reads the id from the first line of stdin (keeps it out of `ps`).",
        .example = "custos --key clients/subject.json --passphrase-file clients/subject.pass \\\n"
                   "  identity register --national-id 750101-1234 --wait\n"
                   "echo 750101-1234 | custos identity register --national-id -",
        .kind = CLI_SUBMIT,
        .flags = {{"national-id", "ID|-", "the subject's national id, or - for stdin", 1},
                  {"salt", "HEX", "1-64 bytes of salt as hex (default: 16 random bytes)", 0}},
        .run = cmd_register,
    },
    {
        .path = "identity attest",
        .synopsis = "DID --level EA5-|EA5+",
        .summary = "attest an identity's assurance level (bureaus)",
        .desc = "A bureau attests that it verified the subject behind DID at level EA5-\n"
                "or EA5+. DID is 64 hex digits, optionally prefixed did:custos:.",
        .example = "custos --key node0/key.json --passphrase-file node0/passphrase \\\n"
                   "  identity attest 3f2a...9c --level EA5+",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"level", "LEVEL", "EA5- or EA5+", 1}},
        .run = cmd_attest,
    },
    {
        .path = "identity rotate",
        .synopsis = "DID --new-key KEYSTORE|HEX",
        .summary = "move an identity to a new key (signed by its current key)",
        .desc = "Replaces the subject's key. Signed with the current key (--key); the new\n"
                "key comes from a keystore file (public part only) or 64 hex digits.",
        .example = "custos --key old.json identity rotate 3f2a...9c --new-key new.json",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"new-key", "KEYSTORE|HEX", "the subject's new key", 1}},
        .run = cmd_rotate,
    },
    {
        .path = "identity revoke",
        .synopsis = "DID",
        .summary = "revoke an identity (the subject or an attesting bureau)",
        .desc = "Revokes DID. Allowed to the subject's current key and to a bureau that\n"
                "attested it.",
        .example = "custos identity revoke 3f2a...9c",
        .kind = CLI_SUBMIT,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_revoke,
    },
    {
        .path = "identity get",
        .synopsis = "DID",
        .summary = "show an identity and its attestations",
        .desc = "Prints the identity record: key, revocation, registration height and\n"
                "attestations.",
        .example = "custos identity get did:custos:3f2a...9c",
        .kind = CLI_QUERY,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_get,
    },
    {.path = NULL},
};
