#include "hash.h"

/* SHA-256 is OpenSSL's (libcrypto): it uses the CPU's SHA extensions where
 * there are any, about 4x libsodium's portable code on this project's
 * machines for the 64-byte state-tree nodes, which dominated the state root
 * (issue 4's profile). The low-level SHA256_CTX API is deprecated in
 * OpenSSL 3 in favour of EVP, but EVP contexts are heap objects that cannot
 * be copied by value, and every tagged hash here starts from a copied
 * midstate; the API is still supported throughout 3.x. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <sodium.h>
#include <string.h>

_Static_assert(sizeof(((hash_ctx *)0)->state) >= sizeof(SHA256_CTX), "hash_ctx too small");

static const char *const tag_names[CX_TAG_COUNT] = {
    [CX_TAG_TX] = "custos/tx",
    [CX_TAG_TX_SIG] = "custos/tx-sig",
    [CX_TAG_BLOCK] = "custos/block",
    [CX_TAG_VOTE] = "custos/vote",
    [CX_TAG_MERKLE_LEAF] = "custos/merkle-leaf",
    [CX_TAG_MERKLE_NODE] = "custos/merkle-node",
    [CX_TAG_RECEIPT] = "custos/receipt",
    [CX_TAG_STATE_LEAF] = "custos/state-leaf",
    [CX_TAG_STATE_BUCKET] = "custos/state-bucket",
    [CX_TAG_STATE_NODE] = "custos/state-node",
    [CX_TAG_STATE_KEY] = "custos/state-key",
    [CX_TAG_DID] = "custos/did",
    [CX_TAG_GENESIS] = "custos/genesis",
    [CX_TAG_CONTRACT] = "custos/contract",
    [CX_TAG_PROPOSAL] = "custos/proposal",
    [CX_TAG_CS_PROPOSAL] = "custos/cs-proposal",
    [CX_TAG_CS_PREVOTE] = "custos/cs-prevote",
    [CX_TAG_MPC_MSG] = "custos/mpc-msg",
    [CX_TAG_MPC_COIN] = "custos/mpc-coin",
    [CX_TAG_MPC_TRANSCRIPT] = "custos/mpc-transcript",
    [CX_TAG_MPC_CLIENT] = "custos/mpc-client",
    [CX_TAG_CALL] = "custos/call",
    [CX_TAG_RESULT] = "custos/result",
    [CX_TAG_RESULT_SIG] = "custos/result-sig",
    [CX_TAG_MPC_CALL] = "custos/mpc-call",
    [CX_TAG_MPC_OPENED] = "custos/mpc-opened",
    [CX_TAG_KEY] = "custos/key",
    [CX_TAG_RESULT_BLOBS] = "custos/result-blobs",
    [CX_TAG_RESULT_LEAF] = "custos/result-leaf",
    [CX_TAG_RESULT_BATCH] = "custos/result-batch",
};

/* The SHA-256 state after absorbing SHA256(tag) || SHA256(tag) (one 64-byte
 * block), computed once per tag: every tagged hash then starts from it and
 * saves a compression — a third of the work for the 64-byte Merkle nodes. */
static SHA256_CTX tag_mid[CX_TAG_COUNT];
static int tag_ready[CX_TAG_COUNT];

static const SHA256_CTX *tag_midstate(cx_tag tag) {
  CX_ASSERT((unsigned)tag < CX_TAG_COUNT);
  if (!__atomic_load_n(&tag_ready[tag], __ATOMIC_ACQUIRE)) {
    uint8_t d[32];
    SHA256_CTX st;
    SHA256((const uint8_t *)tag_names[tag], strlen(tag_names[tag]), d);
    SHA256_Init(&st);
    SHA256_Update(&st, d, 32);
    SHA256_Update(&st, d, 32);
    /* Idempotent: racing threads write the same bytes before publishing. */
    memcpy(&tag_mid[tag], &st, sizeof st);
    __atomic_store_n(&tag_ready[tag], 1, __ATOMIC_RELEASE);
  }
  return &tag_mid[tag];
}

void hash_ctx_init(hash_ctx *ctx, cx_tag tag) {
  memcpy(ctx->state, tag_midstate(tag), sizeof(SHA256_CTX));
}

void hash_ctx_update(hash_ctx *ctx, const void *msg, size_t len) {
  SHA256_Update((SHA256_CTX *)(void *)ctx->state, msg, len);
}

/* Wipes the context: some callers hash secrets (the DKG seeds, DIDs). */
void hash_ctx_final(hash_ctx *ctx, cx_hash *out) {
  SHA256_Final(out->b, (SHA256_CTX *)(void *)ctx->state);
  sodium_memzero(ctx, sizeof(SHA256_CTX));
}

void hash_tagged(cx_tag tag, const void *msg, size_t len, cx_hash *out) {
  hash_ctx c;
  hash_ctx_init(&c, tag);
  hash_ctx_update(&c, msg, len);
  hash_ctx_final(&c, out);
}

void hash_sha256(const void *msg, size_t len, uint8_t out[32]) {
  SHA256(msg, len, out);
}

int hash_eq(const cx_hash *a, const cx_hash *b) { return memcmp(a->b, b->b, 32) == 0; }

int hash_is_zero(const cx_hash *h) {
  uint8_t acc = 0;
  for (int i = 0; i < 32; i++) acc |= h->b[i];
  return acc == 0;
}

void hex_encode(const uint8_t *in, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * len] = 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

cx_err hex_decode_var(const char *in, uint8_t *out, size_t cap, size_t *outlen) {
  if (!in) return CX_E_BAD_HEX;
  size_t n = strlen(in);
  if (n % 2 != 0) return CX_E_BAD_HEX;
  if (n / 2 > cap) return CX_E_TOO_LONG;
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
    if (hi < 0 || lo < 0) return CX_E_BAD_HEX;
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  *outlen = n / 2;
  return CX_OK;
}

cx_err hex_decode(const char *in, uint8_t *out, size_t outlen) {
  size_t got = 0;
  if (!in || strlen(in) != 2 * outlen) return CX_E_BAD_HEX;
  cx_err e = hex_decode_var(in, out, outlen, &got);
  return e;
}

char *hash_hex(const cx_hash *h, char *buf) {
  hex_encode(h->b, 32, buf);
  return buf;
}
