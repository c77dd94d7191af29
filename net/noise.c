/* noise: Noise_IK_25519_ChaChaPoly_SHA256 (Noise Protocol Framework rev. 34).
 *
 * The HandshakeState of section 5.3 specialised to IK: the message patterns
 * are written out token by token instead of interpreted, so each step can
 * cite the spec. CipherState and SymmetricState (sections 5.1, 5.2) are the
 * static helpers below; their state lives in noise_hs.
 *
 * Every handshake step works on a copy of the state and commits it only on
 * success: a forged or damaged message leaves hs as it was, so a pending
 * handshake survives garbage sent in its name. Temporaries holding secrets
 * are wiped with sodium_memzero on every path. */
#include "noise.h"

#include <limits.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

/* Section 8 naming; exactly HASHLEN = 32 bytes, so section 5.2
 * InitializeSymmetric uses it as h directly (zero padding of nothing). */
static const char k_protocol[] = "Noise_IK_25519_ChaChaPoly_SHA256";
_Static_assert(sizeof k_protocol - 1 == 32, "protocol name must be HASHLEN bytes");

/* Section 5.2 MixHash: h = HASH(h || data). */
static void mix_hash(noise_hs *hs, const uint8_t *data, size_t len) {
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  crypto_hash_sha256_update(&st, hs->h, sizeof hs->h);
  crypto_hash_sha256_update(&st, data, len);
  crypto_hash_sha256_final(&st, hs->h);
  sodium_memzero(&st, sizeof st);
}

/* HMAC-SHA256 over a || b with a 32-byte key (section 4.3 HMAC). */
static void hmac2(const uint8_t key[32], const uint8_t *a, size_t alen, const uint8_t *b,
                  size_t blen, uint8_t out[32]) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key, 32);
  if (alen) crypto_auth_hmacsha256_update(&st, a, alen);
  if (blen) crypto_auth_hmacsha256_update(&st, b, blen);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof st);
}

/* Section 4.3 HKDF(chaining_key, input_key_material, 2):
 *   temp_key = HMAC(ck, ikm); out1 = HMAC(temp_key, 0x01);
 *   out2 = HMAC(temp_key, out1 || 0x02).
 * out1/out2 may alias ck: results go through temporaries. */
static void hkdf2(const uint8_t ck[32], const uint8_t *ikm, size_t ikm_len, uint8_t out1[32],
                  uint8_t out2[32]) {
  uint8_t temp_key[32], o1[32], o2[32];
  const uint8_t one = 0x01, two = 0x02;
  hmac2(ck, ikm, ikm_len, NULL, 0, temp_key);
  hmac2(temp_key, &one, 1, NULL, 0, o1);
  hmac2(temp_key, o1, 32, &two, 1, o2);
  memcpy(out1, o1, 32);
  memcpy(out2, o2, 32);
  sodium_memzero(temp_key, sizeof temp_key);
  sodium_memzero(o1, sizeof o1);
  sodium_memzero(o2, sizeof o2);
}

/* Section 5.2 MixKey: ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k)
 * (HASHLEN = 32 = key length, so no truncation). */
static void mix_key(noise_hs *hs, const uint8_t ikm[32]) {
  hkdf2(hs->ck, ikm, 32, hs->ck, hs->k);
  hs->n = 0;
  hs->has_k = 1;
}

/* Section 12.3: nonce = 32 bits of zeros || little-endian 64-bit n. */
static void nonce_of(uint64_t n, uint8_t out[crypto_aead_chacha20poly1305_IETF_NPUBBYTES]) {
  memset(out, 0, 4);
  for (int i = 0; i < 8; i++) out[4 + i] = (uint8_t)(n >> (8 * i));
}

/* The AEAD of section 5.1's CipherState, ChaCha20-Poly1305 (RFC 8439), by
 * two libraries that produce the same bytes: libsodium's is portable code,
 * OpenSSL's uses AVX2/AVX-512 and runs three times as fast on large
 * messages here (1 MiB: 0.70 ms vs 0.22 ms; MPC payloads are megabytes),
 * but each call allocates and keys an EVP context, which costs more than
 * it saves below about 1 KiB (64 B: 0.42 vs 0.82 us; 1 KiB: equal). So
 * messages of AEAD_OSSL_MIN bytes or more go to OpenSSL; if OpenSSL cannot
 * run (no memory), libsodium does the same job. EVP_CIPHER_CTX_free
 * cleanses the key schedule. test_net_link's test_noise_aead_paths
 * checks the OpenSSL path against libsodium around and far past the
 * switch. */
#define AEAD_OSSL_MIN 2048

/* 1 done, 0 OpenSSL could not run; for open, -1 authentication failed. */
static int ossl_aead(int enc, const uint8_t k[32], const uint8_t npub[12], const uint8_t *ad,
                     size_t adlen, const uint8_t *in, size_t len, uint8_t tag[16], uint8_t *out) {
  if (len > INT_MAX || adlen > INT_MAX) return 0;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return 0;
  int r = 0, l;
  if (EVP_CipherInit_ex2(ctx, EVP_chacha20_poly1305(), k, npub, enc, NULL) != 1) goto out;
  /* Every step that can fail comes before the first byte is written, so a
   * failure leaves an in-place buffer as it was for libsodium. */
  if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, tag) != 1) goto out;
  if (adlen && EVP_CipherUpdate(ctx, NULL, &l, ad, (int)adlen) != 1) goto out;
  if (len && EVP_CipherUpdate(ctx, out, &l, in, (int)len) != 1) goto out;
  if (enc) {
    if (EVP_CipherFinal_ex(ctx, out + len, &l) != 1) goto out;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1) goto out;
    r = 1;
  } else {
    r = EVP_CipherFinal_ex(ctx, out + len, &l) == 1 ? 1 : -1;
  }
out:
  EVP_CIPHER_CTX_free(ctx);
  return r;
}

cx_err noise_seal(const uint8_t k[32], uint64_t n, const uint8_t *ad, size_t adlen,
                  const uint8_t *m, size_t mlen, uint8_t *c) {
  /* Section 5.1: 2^64-1 is reserved (Rekey() uses it) and never a nonce. */
  if (n == UINT64_MAX) return CX_E_INVALID_ARG;
  uint8_t npub[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
  nonce_of(n, npub);
  if (mlen >= AEAD_OSSL_MIN && ossl_aead(1, k, npub, ad, adlen, m, mlen, c + mlen, c) == 1)
    return CX_OK;
  unsigned long long clen;
  crypto_aead_chacha20poly1305_ietf_encrypt(c, &clen, m, mlen, ad, adlen, NULL, npub, k);
  return CX_OK;
}

cx_err noise_open(const uint8_t k[32], uint64_t n, const uint8_t *ad, size_t adlen,
                  const uint8_t *c, size_t clen, uint8_t *m) {
  if (n == UINT64_MAX) return CX_E_INVALID_ARG;
  if (clen < NOISE_TAG) return CX_E_CRYPTO;
  uint8_t npub[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
  nonce_of(n, npub);
  size_t mlen0 = clen - NOISE_TAG;
  if (mlen0 >= AEAD_OSSL_MIN) {
    uint8_t tag[NOISE_TAG];
    memcpy(tag, c + mlen0, NOISE_TAG); /* c and m may be one buffer */
    int r = ossl_aead(0, k, npub, ad, adlen, c, mlen0, tag, m);
    if (r == 1) return CX_OK;
    if (r < 0) {
      sodium_memzero(m, mlen0); /* as libsodium: no unauthenticated plaintext */
      return CX_E_CRYPTO;
    }
  }
  unsigned long long mlen;
  if (crypto_aead_chacha20poly1305_ietf_decrypt(m, &mlen, NULL, c, clen, ad, adlen, npub, k) != 0)
    return CX_E_CRYPTO;
  return CX_OK;
}

/* Section 5.2 EncryptAndHash: c = EncryptWithAd(h, p), then MixHash(c).
 * In IK every EncryptAndHash follows an "es" MixKey, so the key is always
 * set (the no-key plain copy of the spec never happens). Returns the bytes
 * written. */
static size_t encrypt_and_hash(noise_hs *hs, const uint8_t *p, size_t plen, uint8_t *out) {
  CX_ASSERT(hs->has_k);
  /* n never reaches 2^64-1: IK encrypts at most twice per key */
  (void)noise_seal(hs->k, hs->n, hs->h, sizeof hs->h, p, plen, out);
  hs->n++;
  mix_hash(hs, out, plen + NOISE_TAG);
  return plen + NOISE_TAG;
}

/* Section 5.2 DecryptAndHash: p = DecryptWithAd(h, c), then MixHash(c).
 * out must not alias c (the hash needs the ciphertext). */
static cx_err decrypt_and_hash(noise_hs *hs, const uint8_t *c, size_t clen, uint8_t *out) {
  CX_ASSERT(hs->has_k);
  if (noise_open(hs->k, hs->n, hs->h, sizeof hs->h, c, clen, out) != CX_OK) return CX_E_CRYPTO;
  hs->n++;
  mix_hash(hs, c, clen);
  return CX_OK;
}

/* Section 4.1/12.1 DH(). A low-order public key gives the all-zero output,
 * which section 4.1 lets an implementation signal as an error; libsodium
 * reports it and we refuse it (an all-zero secret is known to anyone). */
static cx_err dh(const uint8_t priv[32], const uint8_t pub[32], uint8_t out[32]) {
  if (crypto_scalarmult(out, priv, pub) != 0 || sodium_is_zero(out, 32)) {
    sodium_memzero(out, 32);
    return CX_E_CRYPTO;
  }
  return CX_OK;
}

/* MixKey(DH(priv, pub)), the "es"/"ss"/"ee"/"se" tokens. */
static cx_err mix_dh(noise_hs *hs, const uint8_t priv[32], const uint8_t pub[32]) {
  uint8_t shared[32];
  cx_err e = dh(priv, pub, shared);
  if (e == CX_OK) mix_key(hs, shared);
  sodium_memzero(shared, sizeof shared);
  return e;
}

void noise_pubkey(const uint8_t priv[32], uint8_t pub[32]) { crypto_scalarmult_base(pub, priv); }

void noise_hs_init(noise_hs *hs, int initiator, const uint8_t *prologue, size_t prologue_len,
                   const uint8_t s_priv[32], const uint8_t *rs) {
  CX_ASSERT(hs && s_priv);
  CX_ASSERT(!initiator || rs);
  memset(hs, 0, sizeof *hs);
  hs->initiator = initiator ? 1 : 0;
  /* Section 5.2 InitializeSymmetric: h = protocol name, ck = h, no key. */
  memcpy(hs->h, k_protocol, 32);
  memcpy(hs->ck, hs->h, 32);
  /* Section 5.3 Initialize: MixHash(prologue) ... */
  mix_hash(hs, prologue, prologue ? prologue_len : 0);
  memcpy(hs->s_priv, s_priv, 32);
  noise_pubkey(hs->s_priv, hs->s_pub);
  /* ... then the pre-message "<- s" (section 7.5 IK): the responder's static
   * public key, known in advance to both sides. */
  if (hs->initiator) {
    memcpy(hs->rs, rs, 32);
    mix_hash(hs, hs->rs, 32);
  } else {
    mix_hash(hs, hs->s_pub, 32);
  }
}

void noise_hs_wipe(noise_hs *hs) {
  if (hs) sodium_memzero(hs, sizeof *hs);
}

/* The token "e" of a message being written (section 7.3): the ephemeral
 * public key in clear at out, mixed into h. */
static void write_e(noise_hs *t, const uint8_t e_priv[32], uint8_t out[32]) {
  memcpy(t->e_priv, e_priv, 32);
  noise_pubkey(t->e_priv, t->e_pub);
  memcpy(out, t->e_pub, 32);
  mix_hash(t, t->e_pub, 32);
}

/* IK msg1, initiator side: -> e, es, s, ss, payload. */
cx_err noise_write_msg1(noise_hs *hs, const uint8_t e_priv[32], const uint8_t *payload,
                        size_t plen, uint8_t *out, size_t cap, size_t *outlen) {
  CX_ASSERT(hs && hs->initiator && e_priv && out && outlen);
  CX_ASSERT(plen == 0 || payload);
  if (cap < NOISE_MSG1_LEN(plen)) return CX_E_FULL;
  noise_hs t = *hs;
  cx_err e;
  write_e(&t, e_priv, out);
  /* es */
  if ((e = mix_dh(&t, t.e_priv, t.rs)) != CX_OK) goto out;
  /* s: our static key, encrypted */
  size_t off = 32 + encrypt_and_hash(&t, t.s_pub, 32, out + 32);
  /* ss */
  if ((e = mix_dh(&t, t.s_priv, t.rs)) != CX_OK) goto out;
  off += encrypt_and_hash(&t, payload, plen, out + off);
  *outlen = off;
  *hs = t;
out:
  sodium_memzero(&t, sizeof t);
  return e;
}

/* IK msg1, responder side. */
cx_err noise_read_msg1(noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                       size_t cap, size_t *plen) {
  CX_ASSERT(hs && !hs->initiator && plen);
  CX_ASSERT(msg || len == 0);
  *plen = 0;
  if (len < NOISE_MSG1_LEN(0)) return CX_E_TRUNCATED;
  size_t p = len - NOISE_MSG1_LEN(0);
  if (p > cap) return CX_E_FULL; /* before any DH work */
  CX_ASSERT(p == 0 || payload);
  noise_hs t = *hs;
  cx_err e;
  /* e */
  memcpy(t.re, msg, 32);
  mix_hash(&t, t.re, 32);
  /* es: DH(s, re) on this side */
  if ((e = mix_dh(&t, t.s_priv, t.re)) != CX_OK) goto out;
  /* s: learn the initiator's static key */
  if ((e = decrypt_and_hash(&t, msg + 32, 32 + NOISE_TAG, t.rs)) != CX_OK) goto out;
  /* ss */
  if ((e = mix_dh(&t, t.s_priv, t.rs)) != CX_OK) goto out;
  if ((e = decrypt_and_hash(&t, msg + 80, p + NOISE_TAG, payload)) != CX_OK) goto out;
  *plen = p;
  *hs = t;
out:
  if (e != CX_OK && p) sodium_memzero(payload, p);
  sodium_memzero(&t, sizeof t);
  return e;
}

/* IK msg2, responder side: <- e, ee, se, payload. */
cx_err noise_write_msg2(noise_hs *hs, const uint8_t e_priv[32], const uint8_t *payload,
                        size_t plen, uint8_t *out, size_t cap, size_t *outlen) {
  CX_ASSERT(hs && !hs->initiator && e_priv && out && outlen);
  CX_ASSERT(plen == 0 || payload);
  if (cap < NOISE_MSG2_LEN(plen)) return CX_E_FULL;
  noise_hs t = *hs;
  cx_err e;
  write_e(&t, e_priv, out);
  /* ee */
  if ((e = mix_dh(&t, t.e_priv, t.re)) != CX_OK) goto out;
  /* se: initiator's s with our e, i.e. DH(e, rs) on this side */
  if ((e = mix_dh(&t, t.e_priv, t.rs)) != CX_OK) goto out;
  *outlen = 32 + encrypt_and_hash(&t, payload, plen, out + 32);
  *hs = t;
out:
  sodium_memzero(&t, sizeof t);
  return e;
}

/* IK msg2, initiator side. */
cx_err noise_read_msg2(noise_hs *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                       size_t cap, size_t *plen) {
  CX_ASSERT(hs && hs->initiator && plen);
  CX_ASSERT(msg || len == 0);
  *plen = 0;
  if (len < NOISE_MSG2_LEN(0)) return CX_E_TRUNCATED;
  size_t p = len - NOISE_MSG2_LEN(0);
  if (p > cap) return CX_E_FULL;
  CX_ASSERT(p == 0 || payload);
  noise_hs t = *hs;
  cx_err e;
  /* e */
  memcpy(t.re, msg, 32);
  mix_hash(&t, t.re, 32);
  /* ee */
  if ((e = mix_dh(&t, t.e_priv, t.re)) != CX_OK) goto out;
  /* se: DH(s, re) on this side */
  if ((e = mix_dh(&t, t.s_priv, t.re)) != CX_OK) goto out;
  if ((e = decrypt_and_hash(&t, msg + 32, p + NOISE_TAG, payload)) != CX_OK) goto out;
  *plen = p;
  *hs = t;
out:
  if (e != CX_OK && p) sodium_memzero(payload, p);
  sodium_memzero(&t, sizeof t);
  return e;
}

/* Section 5.2 Split(): temp_k1, temp_k2 = HKDF(ck, zerolen, 2); the first
 * key encrypts initiator -> responder. The handshake hash is h at this
 * point (section 11.2, channel binding). */
void noise_split(noise_hs *hs, uint8_t k_i2r[32], uint8_t k_r2i[32], uint8_t hash[32]) {
  CX_ASSERT(hs && k_i2r && k_r2i);
  hkdf2(hs->ck, NULL, 0, k_i2r, k_r2i);
  if (hash) memcpy(hash, hs->h, 32);
  noise_hs_wipe(hs);
}
