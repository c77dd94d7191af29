/* Keys and BIP340 Schnorr signatures (libsecp256k1).
 *
 * Public keys are 32-byte x-only keys and signatures 64 bytes, exactly as in
 * BIP340. Secret keys live in sodium_malloc'd memory (guarded, locked, wiped
 * on free): a cx_seckey is an opaque handle, never copied by value. */
#ifndef CUSTOS_KEYS_H
#define CUSTOS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"

typedef struct {
  uint8_t b[32];
} cx_pubkey;

typedef struct {
  uint8_t b[64];
} cx_sig;

typedef struct cx_seckey cx_seckey;

/* Fresh random key (libsodium CSPRNG). NULL on out of memory. */
cx_seckey *key_generate(void);
/* From 32 secret bytes; CX_E_BAD_KEY if not a valid secp256k1 secret. */
cx_err key_from_bytes(const uint8_t sk[32], cx_seckey **out);
/* Wipes and frees. NULL is a no-op. */
void key_free(cx_seckey *k);
/* Copies the 32 secret bytes out (for the keystore only; wipe after use). */
void key_secret_bytes(const cx_seckey *k, uint8_t out[32]);
void key_public(const cx_seckey *k, cx_pubkey *out);

/* BIP340 sign of a 32-byte message. aux32 = NULL draws fresh randomness
 * (recommended); tests pass the vectors' aux_rand. */
cx_err key_sign32(const cx_seckey *k, const uint8_t msg[32], const uint8_t *aux32, cx_sig *out);
/* BIP340 sign of an arbitrary-length message (BIP340 allows any length). */
cx_err key_sign(const cx_seckey *k, const uint8_t *msg, size_t len, const uint8_t *aux32,
                cx_sig *out);

/* 1 if sig is a valid BIP340 signature of msg under pk, else 0. A pk that is
 * not on the curve is simply invalid. Thread-safe. */
int sig_verify(const cx_pubkey *pk, const uint8_t *msg, size_t len, const cx_sig *sig);
/* 1 if pk is a valid x-only public key. */
int pubkey_valid(const cx_pubkey *pk);

/* The library context (verification-only use is thread-safe). */
const void *keys_context(void);

#endif
