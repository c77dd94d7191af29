/* Blocks and commit certificates.
 *
 * Header: u8 version | chain_id[32] | varint height | parent[32] |
 *   varint time_ms | proposer[32] | varint view | tx_root[32] |
 *   receipts_root[32] | state_root[32]
 * block hash = H_BLOCK(header encoding).
 * Block: header | varint ntx | ntx x (varint len | tx bytes).
 *   tx_root       = MTH(txid_1 .. txid_n)                  (core/merkle.h)
 *   receipts_root = MTH(H_RECEIPT(txid_i || i32be code_i))
 *   state_root    = the bucket-tree root after executing the block
 *                   (storage/store.h), so an auditor can check a state
 *                   entry against a certified block.
 * Commit certificate: varint height | varint view | block_hash[32] |
 *   varint nvotes | nvotes x (varint signer | sig[64]); signers strictly
 *   ascending indexes into the validator set (members with validator=1,
 *   ordered by name) in force for that height. Each signature is BIP340 over
 *   H_VOTE(chain_id || varint height || varint view || block_hash).
 * A certificate is valid with at least quorum(n) = n - f distinct valid
 * signatures, f = floor((n-1)/3) (docs/consensus.md). */
#ifndef CUSTOS_BLOCK_H
#define CUSTOS_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"
#include "keys.h"

#define CX_BLOCK_VERSION 1
#define CX_BLOCK_MAX_TXS 20000
#define CX_BLOCK_MAX_BYTES (32u * 1024 * 1024)
#define CX_MAX_VALIDATORS 64

typedef struct {
  cx_hash chain_id;
  uint64_t height;
  cx_hash parent;
  uint64_t time_ms;
  cx_pubkey proposer;
  uint64_t view;
  cx_hash tx_root;
  cx_hash receipts_root;
  cx_hash state_root;
} cx_block_header;

typedef struct {
  cx_block_header h;
  size_t ntx;
  uint8_t **txs;   /* owned: ntx encoded transactions */
  size_t *tx_len;
} cx_block;

void block_init(cx_block *b);
void block_clear(cx_block *b); /* frees owned parts */
/* Appends a copy of an encoded transaction. */
cx_err block_add_tx(cx_block *b, const uint8_t *tx, size_t len);

void block_header_encode(const cx_block_header *h, uint8_t **out, size_t *len);
void block_hash(const cx_block_header *h, cx_hash *out);
cx_err block_encode(const cx_block *b, uint8_t **out, size_t *len);
/* Whole-buffer decode; syntax only (roots are checked by the executor). */
cx_err block_decode(const uint8_t *buf, size_t len, cx_block *b);
/* Decodes only the header of an encoded block and returns its hash. */
cx_err block_peek(const uint8_t *buf, size_t len, cx_block_header *h, cx_hash *hash);

/* Locates transaction idx inside an encoded block without decoding or
 * copying the others: *tx points into buf. CX_E_NOT_FOUND if idx >= ntx;
 * a codec error if the block is malformed up to that point. */
cx_err block_tx_at(const uint8_t *buf, size_t len, size_t idx, const uint8_t **tx,
                   size_t *txlen);

/* The leaf for receipts_root. */
void receipt_leaf(const cx_hash *txid, int32_t code, cx_hash *out);

typedef struct {
  uint16_t signer;
  cx_sig sig;
} cx_vote_sig;

typedef struct {
  uint64_t height;
  uint64_t view;
  cx_hash block_hash;
  uint16_t nvotes;
  cx_vote_sig votes[CX_MAX_VALIDATORS];
} cx_cert;

/* The 32-byte message a validator signs to vote for a block. */
void vote_message(const cx_hash *chain_id, uint64_t height, uint64_t view,
                  const cx_hash *block_hash, cx_hash *out);

/* Consensus message types (consensus/bft.h bft_msg_type, same numbers). */
#define CX_CS_PROPOSAL 1
#define CX_CS_PREVOTE 2
#define CX_CS_PRECOMMIT 3
#define CX_CS_NIL_ROUND UINT32_MAX /* pol_round "-1": no proof-of-lock round */

/* The 32-byte message a validator signs in consensus (bft.h), here so that
 * the vm can check evidence without depending on consensus/:
 *   PROPOSAL : H_CS_PROPOSAL(chain_id | varint h | varint r | varint pol_round+1 | hash)
 *   PREVOTE  : H_CS_PREVOTE(chain_id | varint h | varint r | hash)
 *   PRECOMMIT: vote_message(chain_id, h, r, hash)
 * pol_round+1 is taken in uint32, so CX_CS_NIL_ROUND is written as 0;
 * pol_round is ignored for votes. A type other than 1..3 is a bug (aborts). */
void cs_msg_digest(const cx_hash *chain_id, uint8_t type, uint64_t height, uint32_t round,
                   uint32_t pol_round, const cx_hash *block_hash, uint8_t out[32]);

cx_err cert_encode(const cx_cert *c, uint8_t **out, size_t *len);
cx_err cert_decode(const uint8_t *buf, size_t len, cx_cert *c);

static inline unsigned quorum_f(unsigned n) { return n ? (n - 1) / 3 : 0; }
static inline unsigned quorum_size(unsigned n) { return n - quorum_f(n); }

/* Checks a certificate for block (height, block_hash) against the validator
 * keys in force (nval keys, ordered as the signer indexes). CX_E_BAD_CERT if
 * it does not match the block, a signer is out of range, or fewer than
 * quorum_size(nval) signatures verify. */
cx_err cert_verify(const cx_cert *c, const cx_hash *chain_id, uint64_t height,
                   const cx_hash *block_hash, const cx_pubkey *validators, size_t nval);

#endif
