/* keystore: a member's or client's keys at rest.
 *
 * File (JSON, mode 0600):
 * {"version": 1, "kdf": "argon2id13", "opslimit": N, "memlimit": N,
 *  "salt": hex16, "nonce": hex24, "ciphertext": hex,
 *  "key": hex32 (public signing key), "enc_key": hex32 (public X25519 key)}
 * ciphertext = XChaCha20-Poly1305(key = argon2id(passphrase, salt),
 *              plaintext = secp256k1 secret[32] || X25519 secret[32],
 *              ad = "custos-keystore-v1" || key || enc_key)
 * The public keys are authenticated as associated data, so a file edited to
 * show another public key fails to open.
 * Secrets are held in sodium_malloc'd memory and wiped on free. */
#ifndef CUSTOS_KEYSTORE_H
#define CUSTOS_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "keys.h"

typedef struct {
  cx_seckey *sign;          /* owned */
  cx_pubkey pub;
  uint8_t *enc_secret;      /* 32 bytes, sodium_malloc'd, owned */
  uint8_t enc_public[32];
} keystore_keys;

/* Fresh keys (secp256k1 + X25519). */
cx_err keystore_generate(keystore_keys *out);
void keystore_keys_free(keystore_keys *k); /* wipes; safe on zeroed struct */

/* Interactive-strength (moderate) or fast (devnet/tests: opslimit/memlimit
 * MIN) argon2id parameters. */
typedef enum { KS_KDF_MODERATE = 0, KS_KDF_FAST = 1 } keystore_kdf;

cx_err keystore_save(const char *path, const keystore_keys *k, const char *passphrase,
                     keystore_kdf kdf);
/* CX_E_PASSPHRASE when the passphrase is wrong or the file was tampered with;
 * CX_E_CONFIG with a message in err when the file is malformed. */
cx_err keystore_load(const char *path, const char *passphrase, keystore_keys *out,
                     char *err, size_t errlen);
/* Reads only the public keys (no passphrase). */
cx_err keystore_public(const char *path, cx_pubkey *key, uint8_t enc_key[32], char *err,
                       size_t errlen);

/* Passphrase from a file (first line, trailing newline stripped) or, when
 * path is NULL or empty, from $CUSTOS_PASSPHRASE. Result sodium_malloc'd:
 * free with keystore_passphrase_free. */
cx_err keystore_passphrase(const char *path, char **out, char *err, size_t errlen);
void keystore_passphrase_free(char *p);

#endif
