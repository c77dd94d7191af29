/* Domain-separated hashing and hex.
 *
 * Every hash in Custos is a tagged SHA-256 in the BIP340 style:
 *   H_tag(m) = SHA256(SHA256(tag) || SHA256(tag) || m)
 * so a transaction id can never collide with a block hash or a Merkle node
 * (BIP340 §"Tagged Hashes"). Tags are listed in hash.c and docs/formats.md. */
#ifndef CUSTOS_HASH_H
#define CUSTOS_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct {
  uint8_t b[32];
} cx_hash;

/* The tags in use. Adding one is cheap; reusing one for a new purpose is a bug. */
typedef enum {
  CX_TAG_TX = 0,        /* transaction id: full encoding incl. signature */
  CX_TAG_TX_SIG,        /* message signed by a transaction's sender */
  CX_TAG_BLOCK,         /* block hash: header encoding */
  CX_TAG_VOTE,          /* message signed in a commit certificate */
  CX_TAG_MERKLE_LEAF,   /* RFC 6962 leaf, tagged instead of 0x00-prefixed */
  CX_TAG_MERKLE_NODE,   /* RFC 6962 node, tagged instead of 0x01-prefixed */
  CX_TAG_RECEIPT,       /* receipt leaf: txid || code */
  CX_TAG_STATE_LEAF,    /* state entry key/value */
  CX_TAG_STATE_BUCKET,  /* state bucket over its leaves */
  CX_TAG_STATE_NODE,    /* state bucket tree node */
  CX_TAG_STATE_KEY,     /* bucket index of a state key */
  CX_TAG_DID,           /* DID = H(salt || national id) */
  CX_TAG_GENESIS,       /* chain id = H(canonical genesis) */
  CX_TAG_CONTRACT,      /* contract id (source for now; bytecode later) */
  CX_TAG_PROPOSAL,      /* not used for ids (proposal id = tx id); reserved */
  CX_TAG_CS_PROPOSAL,   /* message signed in a consensus proposal (bft.h) */
  CX_TAG_CS_PREVOTE,    /* message signed in a consensus prevote (bft.h) */
  CX_TAG_MPC_MSG,       /* message signed by an MPC party (mpc/wire.h) */
  CX_TAG_MPC_COIN,      /* MPC coin commitment and challenge expansion */
  CX_TAG_MPC_TRANSCRIPT,/* MPC transcript hash of broadcast values */
  CX_TAG_MPC_CLIENT,    /* client-dealt input: commitments, challenge (mpc/client.h) */
  CX_TAG_CALL,          /* context of a contract call's dealing (tx_call_context) */
  CX_TAG_RESULT,        /* a call's result statement (tx_result_statement) */
  CX_TAG_RESULT_SIG,    /* what a party signs: statement || its blob */
  CX_TAG_MPC_CALL,      /* session ids of a call's MPC sessions (docs/calls.md §2) */
  CX_TAG_MPC_OPENED,    /* an online session's public transcript (mpc_session_transcript) */
  CX_TAG_KEY,           /* a consortium key's DKG context (tx_key_context, docs/keys.md §2) */
  CX_TAG_RESULT_BLOBS,  /* the blobs of a FROST-mode result (tx_result_frost_msg) */
  CX_TAG_RESULT_LEAF,   /* a result's leaf in its batch's tree (tx_result_batch_leaf) */
  CX_TAG_RESULT_BATCH,  /* what the results key signs for a batch (tx_result_batch_msg) */
  CX_TAG_COUNT
} cx_tag;

/* Tagged hash of one buffer. */
void hash_tagged(cx_tag tag, const void *msg, size_t len, cx_hash *out);

/* Incremental tagged hash for messages assembled from parts. */
typedef struct {
  union {
    uint8_t state[208]; /* OpenSSL's SHA256_CTX, kept opaque here */
    uint64_t align_;    /* the context's words are read in place */
  };
} hash_ctx;
void hash_ctx_init(hash_ctx *ctx, cx_tag tag);
void hash_ctx_update(hash_ctx *ctx, const void *msg, size_t len);
void hash_ctx_final(hash_ctx *ctx, cx_hash *out);

/* Plain SHA-256 (for BIP340 vectors and external formats only). */
void hash_sha256(const void *msg, size_t len, uint8_t out[32]);

int hash_eq(const cx_hash *a, const cx_hash *b);
int hash_is_zero(const cx_hash *h);

/* Lower-case hex. hex_encode writes 2*len chars plus NUL into out (size >= 2*len+1). */
void hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly outlen bytes from a string of exactly 2*outlen hex digits
 * (either case). CX_E_BAD_HEX otherwise. */
cx_err hex_decode(const char *in, uint8_t *out, size_t outlen);
/* Decodes a hex string of any even length up to cap bytes; *outlen is set. */
cx_err hex_decode_var(const char *in, uint8_t *out, size_t cap, size_t *outlen);

#define CX_HASH_HEX_LEN 65 /* 64 digits + NUL */
/* Returns buf for convenience. buf must hold CX_HASH_HEX_LEN. */
char *hash_hex(const cx_hash *h, char *buf);

#endif
