#include "keys.h"

#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <string.h>

struct cx_seckey {
  secp256k1_keypair kp; /* holds the secret: lives in sodium_malloc'd memory */
  uint8_t sk[32];
};

static secp256k1_context *g_ctx;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void ctx_init(void) {
  if (sodium_init() < 0) cx_panic(__FILE__, __LINE__, "sodium_init");
  g_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  CX_ASSERT(g_ctx);
  /* Side-channel hardening of signing (libsecp256k1 README). */
  uint8_t seed[32];
  randombytes_buf(seed, sizeof seed);
  CX_ASSERT(secp256k1_context_randomize(g_ctx, seed));
  sodium_memzero(seed, sizeof seed);
}

static secp256k1_context *ctx(void) {
  pthread_once(&g_once, ctx_init);
  return g_ctx;
}

const void *keys_context(void) { return ctx(); }

cx_err key_from_bytes(const uint8_t sk[32], cx_seckey **out) {
  secp256k1_context *c = ctx();
  cx_seckey *k = sodium_malloc(sizeof *k);
  if (!k) return CX_E_NOMEM;
  memcpy(k->sk, sk, 32);
  if (!secp256k1_keypair_create(c, &k->kp, k->sk)) {
    sodium_free(k); /* sodium_free wipes */
    return CX_E_BAD_KEY;
  }
  *out = k;
  return CX_OK;
}

cx_seckey *key_generate(void) {
  ctx();
  uint8_t sk[32];
  cx_seckey *k = NULL;
  /* A uniformly random 32-byte string is a valid key except with ~2^-128
   * probability; retry in that case. */
  for (;;) {
    randombytes_buf(sk, sizeof sk);
    cx_err e = key_from_bytes(sk, &k);
    if (e == CX_OK || e == CX_E_NOMEM) break;
  }
  sodium_memzero(sk, sizeof sk);
  return k;
}

void key_free(cx_seckey *k) {
  if (k) sodium_free(k);
}

void key_secret_bytes(const cx_seckey *k, uint8_t out[32]) { memcpy(out, k->sk, 32); }

void key_public(const cx_seckey *k, cx_pubkey *out) {
  secp256k1_xonly_pubkey xpk;
  CX_ASSERT(secp256k1_keypair_xonly_pub(ctx(), &xpk, NULL, &k->kp));
  CX_ASSERT(secp256k1_xonly_pubkey_serialize(ctx(), out->b, &xpk));
}

cx_err key_sign(const cx_seckey *k, const uint8_t *msg, size_t len, const uint8_t *aux32,
                cx_sig *out) {
  uint8_t aux[32];
  if (aux32)
    memcpy(aux, aux32, 32);
  else
    randombytes_buf(aux, sizeof aux);
  secp256k1_schnorrsig_extraparams ep = SECP256K1_SCHNORRSIG_EXTRAPARAMS_INIT;
  ep.ndata = aux;
  int ok = secp256k1_schnorrsig_sign_custom(ctx(), out->b, msg, len, &k->kp, &ep);
  sodium_memzero(aux, sizeof aux);
  return ok ? CX_OK : CX_E_CRYPTO;
}

cx_err key_sign32(const cx_seckey *k, const uint8_t msg[32], const uint8_t *aux32, cx_sig *out) {
  return key_sign(k, msg, 32, aux32, out);
}

int pubkey_valid(const cx_pubkey *pk) {
  secp256k1_xonly_pubkey xpk;
  return secp256k1_xonly_pubkey_parse(ctx(), &xpk, pk->b);
}

int sig_verify(const cx_pubkey *pk, const uint8_t *msg, size_t len, const cx_sig *sig) {
  secp256k1_xonly_pubkey xpk;
  if (!secp256k1_xonly_pubkey_parse(ctx(), &xpk, pk->b)) return 0;
  return secp256k1_schnorrsig_verify(ctx(), sig->b, msg, len, &xpk);
}
