/* FROST(ristretto255, SHA-512): two-round threshold Schnorr signatures,
 * RFC 9591 (docs/threshold.md). contextString "FROST-RISTRETTO255-SHA512-v1".
 *
 * Everything is on 32-byte encodings: a scalar is its little-endian encoding
 * reduced mod L (RFC 9591 §6.2 SerializeScalar), an element its canonical
 * ristretto255 encoding (SerializeElement). Curve arithmetic is libsodium's
 * (crypto_core_ristretto255_*, crypto_scalarmult_ristretto255*).
 *
 * Participants are named by identifiers 1..65535; the identifier's scalar is
 * the little-endian encoding of the number (RFC 9591 §5: "a non-zero scalar").
 * A commitment list (§4.3) is sorted by strictly ascending identifier; every
 * function that takes one refuses another order (CX_E_UNSORTED).
 *
 * Secrets: signing shares (frost_scalar) and nonces (frost_nonces) are the
 * caller's memory; keep them in sodium_malloc'd memory or wipe them with
 * sodium_memzero (frost_wipe). This library wipes every secret temporary it
 * makes, and frost_sign wipes the nonces it consumed (§5.2: a nonce pair is
 * used once).
 *
 * Errors are cx_err; where a function takes err/errlen it also writes a
 * sentence (either may be NULL/0). */
#ifndef CUSTOS_FROST_H
#define CUSTOS_FROST_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define FROST_SCALAR_LEN 32
#define FROST_ELEMENT_LEN 32
#define FROST_SIG_LEN 64 /* SerializeElement(R) || SerializeScalar(z) */
#define FROST_CONTEXT "FROST-RISTRETTO255-SHA512-v1"

typedef struct {
  uint8_t b[FROST_SCALAR_LEN];
} frost_scalar;

typedef struct {
  uint8_t b[FROST_ELEMENT_LEN];
} frost_element;

typedef struct {
  uint8_t b[FROST_SIG_LEN];
} frost_sig;

/* Round-one secret (§5.1): never sent, used once. */
typedef struct {
  frost_scalar hiding, binding;
} frost_nonces;

/* Round-one public output (§5.1), one entry of a commitment list. */
typedef struct {
  uint16_t id;
  frost_element hiding, binding;
} frost_commitment;

/* ---- encodings (RFC 9591 §6.2) ---- */

/* The identifier's scalar (little-endian). id 0 is not an identifier: CX_ASSERT. */
void frost_id_scalar(uint16_t id, frost_scalar *out);
/* 1 when b is a scalar below L (DeserializeScalar accepts it). */
int frost_scalar_canonical(const uint8_t b[32]);
/* DeserializeElement for ristretto255: CX_E_NONCANONICAL when b is not a
 * canonical encoding, CX_E_BAD_KEY when it is the identity (§6.2 refuses it). */
cx_err frost_element_check(const uint8_t b[32]);
/* sodium_memzero, for callers' secrets. */
void frost_wipe(void *p, size_t len);

/* ---- hash functions (§6.2: H1..H5 for ristretto255) ---- */

/* Scalars: SHA-512(contextString || tag || m) reduced mod L (tags "rho",
 * "chal", "nonce"). H4, H5: the 64-byte digest (tags "msg", "com"). */
void frost_h1(const uint8_t *m, size_t len, frost_scalar *out);
void frost_h2(const uint8_t *m, size_t len, frost_scalar *out);
void frost_h3(const uint8_t *m, size_t len, frost_scalar *out);
void frost_h4(const uint8_t *m, size_t len, uint8_t out[64]);
void frost_h5(const uint8_t *m, size_t len, uint8_t out[64]);

/* ---- signing (§4, §5) ---- */

/* §4.1 nonce_generate: H3(random_bytes || SerializeScalar(secret)).
 * random32 == NULL draws 32 bytes from randombytes_buf (the normal case; the
 * test vectors give them). */
void frost_nonce_generate(const frost_scalar *secret, const uint8_t *random32, frost_scalar *out);

/* §5.1 commit (round one) for participant id with signing share sk: the
 * nonces (secret) and the commitment to publish. hiding_rand, binding_rand:
 * NULL in real use (fresh randomness), or the vectors' 32-byte inputs. */
cx_err frost_commit(uint16_t id, const frost_scalar *sk, const uint8_t *hiding_rand,
                    const uint8_t *binding_rand, frost_nonces *nonces, frost_commitment *out);

/* §4.4 compute_binding_factors: rho[k] for list[k], k < n. Checks the list
 * (sorted, valid non-identity elements) and group_pk. */
cx_err frost_binding_factors(const frost_element *group_pk, const frost_commitment *list, size_t n,
                             const uint8_t *msg, size_t len, frost_scalar *rho, char *err,
                             size_t errlen);
/* §4.5 compute_group_commitment from a list and its binding factors. An
 * identity result cannot be serialized: CX_E_CRYPTO. */
cx_err frost_group_commitment(const frost_commitment *list, size_t n, const frost_scalar *rho,
                              frost_element *out);
/* §4.2 derive_interpolating_value: Lagrange coefficient at 0 of id over ids
 * (n distinct identifiers containing id; CX_E_INVALID_ARG otherwise). */
cx_err frost_lagrange(uint16_t id, const uint16_t *ids, size_t n, frost_scalar *out);
/* §4.6 compute_challenge: H2(SerializeElement(R) || SerializeElement(PK) || msg). */
void frost_challenge(const frost_element *R, const frost_element *group_pk, const uint8_t *msg,
                     size_t len, frost_scalar *out);

/* §5.2 sign (round two): participant id's signature share z. The list must
 * contain id. The nonces are wiped on return, whatever the outcome; nonces
 * that are all zero (already used) are refused with CX_E_INVALID_ARG. */
cx_err frost_sign(uint16_t id, const frost_scalar *sk, const frost_element *group_pk,
                  frost_nonces *nonces, const uint8_t *msg, size_t len,
                  const frost_commitment *list, size_t n, frost_scalar *z, char *err,
                  size_t errlen);

/* §5.4 verify_signature_share: CX_OK when participant id's share z is
 * correct for its public key share pk_i (G * sk_i); CX_E_FROST_BAD_SHARE when
 * not; other codes for malformed inputs (the list does not contain id, a
 * non-canonical z: CX_E_NONCANONICAL). */
cx_err frost_verify_share(uint16_t id, const frost_element *pk_i, const frost_scalar *z,
                          const frost_commitment *list, size_t n, const frost_element *group_pk,
                          const uint8_t *msg, size_t len);

/* §5.3 aggregate: sig = R || sum(z[k]) with z[k] the share of list[k].id.
 * Does not check the shares: an invalid one gives a signature that fails
 * frost_verify. Use frost_aggregate_checked to name the culprits. */
cx_err frost_aggregate(const frost_commitment *list, size_t n, const uint8_t *msg, size_t len,
                       const frost_element *group_pk, const frost_scalar *z, frost_sig *out,
                       char *err, size_t errlen);
/* frost_aggregate after checking every share against pk[k], the public key
 * share of list[k].id (§5.4). When shares are wrong: CX_E_FROST_BAD_SHARE,
 * culprits[0..*nculprits) their identifiers in list order (culprits holds n),
 * err names them, and out is not written. */
cx_err frost_aggregate_checked(const frost_commitment *list, size_t n, const uint8_t *msg,
                               size_t len, const frost_element *group_pk, const frost_scalar *z,
                               const frost_element *pk, frost_sig *out, uint16_t *culprits,
                               size_t *nculprits, char *err, size_t errlen);

/* §6 (prime-order verify, ristretto255 has no cofactor): CX_OK when sig is
 * a valid signature of msg under group_pk; CX_E_BAD_SIG when it does not
 * verify; CX_E_NONCANONICAL (R or z not canonical), CX_E_BAD_KEY (group_pk
 * not canonical or the identity; R the identity) when an encoding is refused.
 * err gets the reason. */
cx_err frost_verify(const frost_element *group_pk, const uint8_t *msg, size_t len,
                    const frost_sig *sig, char *err, size_t errlen);

/* ---- trusted-dealer key generation (RFC 9591 Appendix C), tests and local
 * tooling only: the dealer knows the group secret. ---- */

/* Splits a secret among ids 1..n with threshold t (2 <= t <= n): shares[k]
 * for id k+1 (caller's memory for n scalars, sodium_malloc'd), the group key
 * and, if vss != NULL, the t VSS commitments G * a_j (Appendix C.2).
 * secret == NULL: random secret; coeffs == NULL: random a_1..a_{t-1}, else
 * the t-1 given ones (the vectors' share_polynomial_coefficients). */
cx_err frost_dealer_keygen(const frost_scalar *secret, const frost_scalar *coeffs, uint16_t n,
                           uint16_t t, frost_scalar *shares, frost_element *group_pk,
                           frost_element *vss, char *err, size_t errlen);
/* Appendix C.2 vss_verify: CX_OK when G * share equals the commitment
 * polynomial at id, CX_E_MPC_CHECK_FAILED when not. */
cx_err frost_vss_verify(uint16_t id, const frost_scalar *share, const frost_element *vss, size_t t);
/* Appendix C.2 derive_group_info, one participant: its public key share
 * from the VSS commitments (vss[0] is the group key). */
cx_err frost_vss_public_share(const frost_element *vss, size_t t, uint16_t id, frost_element *out);
/* G * sk: a participant's public key share from its signing share. */
cx_err frost_public_share(const frost_scalar *sk, frost_element *out);

#endif
