/* cli_keys: keygen, key show, sig verify — commands that need no node. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

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

static int cmd_sig_verify(cli_ctx *c, const cli_args *a) {
  cx_pubkey pk;
  cx_sig sig;
  int rc;
  if ((rc = cli_hex32("PUBKEY", a->pos[0], pk.b))) return rc;
  if (hex_decode(a->pos[2], sig.b, 64) != CX_OK)
    return cli_fail(CLI_USAGE, "SIG: expected 128 hex digits, got \"%s\"", a->pos[2]);
  size_t cap = strlen(a->pos[1]) / 2, len = 0;
  uint8_t *msg = malloc(cap ? cap : 1);
  if (!msg) return cli_fail(CLI_LOCAL, "out of memory");
  if (hex_decode_var(a->pos[1], msg, cap, &len) != CX_OK) {
    free(msg);
    return cli_fail(CLI_USAGE, "MSG: expected an even number of hex digits");
  }
  /* A key that is not on the curve makes the signature invalid, not the
   * input malformed: BIP340's vectors include such keys. */
  int valid = sig_verify(&pk, msg, len, &sig);
  free(msg);
  if (c->json)
    printf("{\"valid\":%s}\n", valid ? "true" : "false");
  else
    puts(valid ? "valid" : "invalid");
  return valid ? CLI_OK : CLI_REFUSED;
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
        .synopsis = "PUBKEY MSG SIG",
        .summary = "check a BIP340 Schnorr signature",
        .desc = "Verifies a BIP340 signature. PUBKEY: 64 hex digits (x-only key); MSG: the\n"
                "message in hex, any length, \"\" for empty; SIG: 128 hex digits. Prints\n"
                "\"valid\" or \"invalid\". Exit 0 only when valid, 1 when invalid, 2 when an\n"
                "argument is not well-formed hex of the right length.",
        .example = "custos sig verify \\\n"
                   "  F9308A019258C31049344F85F89D5229B531C845836F99B08601F113BCE036F9 \\\n"
                   "  0000000000000000000000000000000000000000000000000000000000000000 \\\n"
                   "  E907831F80848D1069A5371B402410364BDF1C5F8307B0084C55F1CE2DCA8215"
                   "25F66A4A85EA8B71E482A74F382D2CE5EBEEE8FDB2172F477DF4900D310536C0",
        .kind = CLI_OFFLINE,
        .min_pos = 3,
        .max_pos = 3,
        .run = cmd_sig_verify,
    },
    {.path = NULL},
};
