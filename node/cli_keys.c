/* cli_keys: keygen, key show, sig verify (BIP340, FROST) — commands that need no node. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "frost.h"

/* Prints the public keys of a keystore as fields or JSON. */
static int print_keys(const cli_ctx *c, const char *file, const cx_pubkey *key,
                      const uint8_t enc_pub[32]) {
  char hk[65], he[65];
  hex_encode(key->b, 32, hk);
  hex_encode(enc_pub, 32, he);
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddStringToObject(o, "key", hk) || !cJSON_AddStringToObject(o, "enc_key", he) ||
      !cJSON_AddStringToObject(o, "file", file)) {
    cJSON_Delete(o);
    return cli_fail(CLI_LOCAL, "out of memory");
  }
  if (c->json)
    cli_print_json(c, o);
  else
    cli_print_fields(o);
  cJSON_Delete(o);
  return CLI_OK;
}

static int cmd_keygen(cli_ctx *c, const cli_args *a) {
  const char *out = cli_opt(a, "out");
  int fast = cli_opt(a, "fast-kdf") != NULL;
  struct stat st;
  /* Never replace a key file: the old key may be the only copy. */
  if (lstat(out, &st) == 0) return cli_fail(CLI_LOCAL, "%s: already exists; not overwriting", out);
  if (errno != ENOENT) return cli_fail(CLI_LOCAL, "%s: %s", out, strerror(errno));

  char *pass = NULL;
  int rc = cli_passphrase(c, &pass);
  if (rc) return rc;
  keystore_keys k;
  cx_err e = keystore_generate(&k);
  if (e) {
    keystore_passphrase_free(pass);
    return cli_fail(CLI_LOCAL, "cannot generate keys: %s", cx_err_str(e));
  }
  e = keystore_save(out, &k, pass, fast ? KS_KDF_FAST : KS_KDF_MODERATE);
  keystore_passphrase_free(pass);
  if (e) {
    keystore_keys_free(&k);
    return cli_fail(CLI_LOCAL, "%s: cannot write the keystore: %s", out,
                    e == CX_E_IO ? strerror(errno) : cx_err_str(e));
  }
  rc = print_keys(c, out, &k.pub, k.enc_public);
  keystore_keys_free(&k);
  return rc;
}

static int cmd_key_show(cli_ctx *c, const cli_args *a) {
  cx_pubkey key;
  uint8_t enc_pub[32];
  char err[512];
  cx_err e = keystore_public(a->pos[0], &key, enc_pub, err, sizeof err);
  if (e) return cli_fail(CLI_LOCAL, "%s", err[0] ? err : cx_err_str(e));
  return print_keys(c, a->pos[0], &key, enc_pub);
}

/* MSG: hex of any even length ("" for the empty message); malloc'd. */
static int msg_arg(const char *hex, uint8_t **msg, size_t *len) {
  size_t cap = strlen(hex) / 2;
  *msg = malloc(cap ? cap : 1);
  if (!*msg) return cli_fail(CLI_LOCAL, "out of memory");
  if (hex_decode_var(hex, *msg, cap, len) != CX_OK) {
    free(*msg);
    *msg = NULL;
    return cli_fail(CLI_USAGE, "MSG: expected an even number of hex digits");
  }
  return CLI_OK;
}

static int print_valid(const cli_ctx *c, int valid) {
  if (c->json)
    printf("{\"valid\":%s}\n", valid ? "true" : "false");
  else
    puts(valid ? "valid" : "invalid");
  return valid ? CLI_OK : CLI_REFUSED;
}

static int verify_bip340(cli_ctx *c, const cli_args *a) {
  cx_pubkey pk;
  cx_sig sig;
  int rc;
  if ((rc = cli_hex32("PUBKEY", a->pos[0], pk.b))) return rc;
  if (hex_decode(a->pos[2], sig.b, 64) != CX_OK)
    return cli_fail(CLI_USAGE, "SIG: expected 128 hex digits, got \"%s\"", a->pos[2]);
  uint8_t *msg;
  size_t len = 0;
  if ((rc = msg_arg(a->pos[1], &msg, &len))) return rc;
  /* A key that is not on the curve makes the signature invalid, not the
   * input malformed: BIP340's vectors include such keys. */
  int valid = sig_verify(&pk, msg, len, &sig);
  free(msg);
  return print_valid(c, valid);
}

/* FROST(ristretto255, SHA-512), RFC 9591 §6 (docs/threshold.md). Unlike
 * BIP340, an encoding that RFC 9591 refuses to deserialize (a non-canonical
 * or identity group key or R, z >= L) is a malformed argument (exit 2) with
 * the reason, not an invalid signature: such bytes are no signature at all. */
static int verify_frost(cli_ctx *c, const cli_args *a) {
  frost_element gpk;
  frost_sig sig;
  int rc;
  if ((rc = cli_hex32("GROUPKEY", a->pos[0], gpk.b))) return rc;
  cx_err e = frost_element_check(gpk.b);
  if (e == CX_E_NONCANONICAL)
    return cli_fail(CLI_USAGE, "GROUPKEY: not a canonical ristretto255 element encoding");
  if (e) return cli_fail(CLI_USAGE, "GROUPKEY: the identity element is not a group key");
  if (hex_decode(a->pos[2], sig.b, FROST_SIG_LEN) != CX_OK)
    return cli_fail(CLI_USAGE, "SIG: expected 128 hex digits (R then z), got \"%s\"", a->pos[2]);
  e = frost_element_check(sig.b);
  if (e == CX_E_NONCANONICAL)
    return cli_fail(CLI_USAGE,
                    "SIG: R (first 32 bytes) is not a canonical ristretto255 element encoding");
  if (e) return cli_fail(CLI_USAGE, "SIG: R (first 32 bytes) is the identity element");
  if (!frost_scalar_canonical(sig.b + 32))
    return cli_fail(CLI_USAGE,
                    "SIG: z (last 32 bytes) is not a canonical scalar (not below the group order)");
  uint8_t *msg;
  size_t len = 0;
  if ((rc = msg_arg(a->pos[1], &msg, &len))) return rc;
  e = frost_verify(&gpk, msg, len, &sig, NULL, 0);
  free(msg);
  return print_valid(c, e == CX_OK);
}

static int cmd_sig_verify(cli_ctx *c, const cli_args *a) {
  const char *scheme = cli_opt(a, "scheme");
  if (!scheme || strcmp(scheme, "bip340") == 0) return verify_bip340(c, a);
  if (strcmp(scheme, "frost") == 0) return verify_frost(c, a);
  return cli_fail(CLI_USAGE, "--scheme: expected bip340 or frost, got \"%s\"", scheme);
}

const cli_cmd cli_keys_cmds[] = {
    {
        .path = "keygen",
        .synopsis = "--out FILE [--fast-kdf]",
        .summary = "generate a key pair into a new encrypted keystore",
        .desc = "Generates a secp256k1 signing key and an X25519 encryption key and writes\n"
                "them to FILE (mode 0600), encrypted with XChaCha20-Poly1305 under an\n"
                "argon2id key derived from the passphrase (--passphrase-file, else\n"
                "$CUSTOS_PASSPHRASE; an empty passphrase is refused). An existing FILE is\n"
                "never overwritten. Prints the public signing key and enc_key.",
        .example = "CUSTOS_PASSPHRASE=... custos keygen --out alice.json\n"
                   "custos --passphrase-file alice.pass keygen --out alice.json --fast-kdf",
        .kind = CLI_OFFLINE,
        .flags = {{"out", "FILE", "keystore file to create", 1},
                  {"fast-kdf", NULL,
                   "minimal argon2id cost (tests and devnets only: weak against guessing)", 0}},
        .run = cmd_keygen,
    },
    {
        .path = "key show",
        .synopsis = "FILE",
        .summary = "print a keystore's public keys (no passphrase needed)",
        .desc = "Prints the public signing key (x-only, the member/account key) and the\n"
                "X25519 enc_key of a keystore. The passphrase is not needed: public keys\n"
                "are stored in clear (and authenticated by the encryption).",
        .example = "custos key show alice.json",
        .kind = CLI_OFFLINE,
        .min_pos = 1,
        .max_pos = 1,
        .run = cmd_key_show,
    },
    {
        .path = "sig verify",
        .synopsis = "[--scheme bip340|frost] PUBKEY MSG SIG",
        .summary = "check a BIP340 Schnorr or a FROST(ristretto255) threshold signature",
        .desc = "Verifies a signature. MSG: the message in hex, any length, \"\" for empty;\n"
                "SIG: 128 hex digits. --scheme bip340 (default): PUBKEY is a 64-hex-digit\n"
                "x-only key. --scheme frost: PUBKEY is the group key (64 hex digits, a\n"
                "ristretto255 element) and SIG is R || z of FROST(ristretto255, SHA-512),\n"
                "RFC 9591. Prints \"valid\" or \"invalid\". Exit 0 only when valid, 1 when\n"
                "invalid, 2 when an argument is not well-formed hex of the right length\n"
                "(frost: or not a canonical encoding).",
        .example = "custos sig verify \\\n"
                   "  F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9 \\\n"
                   "  0000000000000000000000000000000000000000000000000000000000000000 \\\n"
                   "  E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA8215"
                   "25F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0\n"
                   "custos sig verify --scheme frost \\\n"
                   "  e2a62f39eede11269e3bd5a7d97554f5ca384f9f6d3dd9c3c0d05083c7254f57 \\\n"
                   "  74657374 \\\n"
                   "  fa954853693068803615803a06e2c23a6228f7d6d6b442b72b26696aa776fe75"
                   "532350f49b27a123b0c811d54671f6c008e319741a59918baf3c5455a5ec2603",
        .kind = CLI_OFFLINE,
        .min_pos = 3,
        .max_pos = 3,
        .flags = {{"scheme", "NAME",
                   "bip340 (default) or frost (FROST(ristretto255, SHA-512), RFC 9591)", 0}},
        .run = cmd_sig_verify,
    },
    {.path = NULL},
};
