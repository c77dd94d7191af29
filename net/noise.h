/* noise: the Noise IK handshake, Noise_IK_25519_ChaChaPoly_SHA256
 * (Noise Protocol Framework rev. 34, sections 5 and 7.5), on libsodium.
 *
 *   IK:  <- s
 *        ...
 *        -> e, es, s, ss      (msg1, initiator to responder)
 *        <- e, ee, se         (msg2)
 *
 * HASH = SHA-256, HKDF = HMAC-SHA256 as in rev. 34 section 4.3, cipher =
 * ChaCha20-Poly1305 IETF with the 96-bit nonce 0^32 || LE64(n) (section
 * 5.1). Checked byte for byte against the cacophony and snow vectors
 * (tests/vectors/noise_ik.txt).
 *
 * Pure: no I/O, no randomness. The caller passes ephemeral private keys
 * (fresh from the CSPRNG in custosd; fixed in the vector tests). A noise_hs
 * holds private keys: keep it in sodium_malloc'd memory and call
 * noise_hs_wipe when done (noise_split wipes it too).
 *
 * The four message functions are all-or-nothing: on any error hs is left
 * exactly as it was (a forged msg2 cannot spoil the pending handshake it
 * names), and a failed read sets *plen = 0 and zeroes the payload bytes it
 * may have written. */
#ifndef CUSTOS_NOISE_H
#define CUSTOS_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define NOISE_KEY 32
#define NOISE_TAG 16
/* Message sizes for a payload of p bytes. */
#define NOISE_MSG1_LEN(p) (32 + 32 + NOISE_TAG + (p) + NOISE_TAG)
#define NOISE_MSG2_LEN(p) (32 + (p) + NOISE_TAG)

typedef struct {
  uint8_t ck[32], h[32];
  uint8_t k[32];
  uint64_t n;
  int has_k;
  int initiator;
  uint8_t s_priv[32], s_pub[32];
  uint8_t e_priv[32], e_pub[32];
  uint8_t rs[32], re[32];
} noise_hs;

/* Initialize(): h = HASH(protocol name) (the name is 32 bytes, so it is
 * used as is), ck = h, MixHash(prologue), then the pre-message "<- s":
 * MixHash(responder's static public key). rs: the responder's static public
 * key (initiator only; NULL for the responder, whose own s_pub is hashed). */
void noise_hs_init(noise_hs *hs, int initiator, const uint8_t *prologue, size_t prologue_len,
                   const uint8_t s_priv[32], const uint8_t *rs);

/* Initiator: writes msg1 (NOISE_MSG1_LEN(plen) bytes) to out. e_priv: the
 * ephemeral private key. CX_E_FULL when cap is too small, CX_E_CRYPTO when
 * a DH result is all-zero (low-order point). */
cx_err noise_write_msg1(noise_hs *hs, const uint8_t e_priv[32], const uint8_t *payload,
                        size_t plen, uint8_t *out, size_t cap, size_t *outlen);
/* Responder: reads msg1, learns hs->rs (the initiator's static key, which
 * the caller must then check against the member list) and the payload.
 * CX_E_TRUNCATED if len < NOISE_MSG1_LEN(0), CX_E_CRYPTO on a failed
 * decryption or a low-order point, CX_E_FULL if the payload exceeds cap. */
cx_err noise_read_msg1(noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                       size_t cap, size_t *plen);
/* Responder: writes msg2 (NOISE_MSG2_LEN(plen) bytes). */
cx_err noise_write_msg2(noise_hs *hs, const uint8_t e_priv[32], const uint8_t *payload,
                        size_t plen, uint8_t *out, size_t cap, size_t *outlen);
/* Initiator: reads msg2. Errors as noise_read_msg1. */
cx_err noise_read_msg2(noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                       size_t cap, size_t *plen);

/* Split() (section 5.2): k_i2r encrypts initiator -> responder, k_r2i the
 * other way; hash = the handshake hash h. Then wipes hs. */
void noise_split(noise_hs *hs, uint8_t k_i2r[32], uint8_t k_r2i[32], uint8_t hash[32]);
void noise_hs_wipe(noise_hs *hs);

/* Transport AEAD with an explicit 64-bit nonce (as WireGuard carries its
 * counter on the wire): c gets mlen + NOISE_TAG bytes. m and c may be the
 * same buffer. noise_open returns CX_E_CRYPTO when authentication fails
 * (then m is unspecified). n = 2^64-1 is reserved (section 5.1) and refused
 * with CX_E_INVALID_ARG. */
cx_err noise_seal(const uint8_t k[32], uint64_t n, const uint8_t *ad, size_t adlen,
                  const uint8_t *m, size_t mlen, uint8_t *c);
cx_err noise_open(const uint8_t k[32], uint64_t n, const uint8_t *ad, size_t adlen,
                  const uint8_t *c, size_t clen, uint8_t *m);

/* X25519 public key of a private key (crypto_scalarmult_base). */
void noise_pubkey(const uint8_t priv[32], uint8_t pub[32]);

#endif
