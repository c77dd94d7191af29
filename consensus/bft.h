/* bft: Tendermint consensus (Buchman, Kwon, Milosevic, "The latest gossip on
 * BFT consensus", arXiv:1807.04938, Algorithm 1) as a pure state machine.
 * docs/consensus.md has the choice, the protocol and the safety and
 * liveness argument.
 *
 * n validators tolerate f = floor((n-1)/3) Byzantine ones; quorum = n - f
 * (block.h quorum_size). Per height: rounds of PROPOSE -> PREVOTE ->
 * PRECOMMIT; a block is decided by a quorum of precommits for it in one
 * round, and those precommits ARE the block's commit certificate (block.h
 * cx_cert: signatures over vote_message(chain, height, round, hash)), so
 * an auditor checks finality from the validator keys alone. Proposer of
 * (h, r) = validators[(h + r) mod n] (validators ordered by name).
 *
 * Pure: no clock, socket, disk or randomness. The host feeds events and
 * carries out the returned actions IN ORDER; a PERSIST action must be
 * durable (fsync) before the host carries out any later action, and a
 * persist failure is fatal (the host stops). Signing goes through the
 * injected signer; a signed message is only handed out in an action that
 * follows the PERSIST covering it ("never sign before persisting":
 * CometBFT privval). Signature CHECKS are the host's job (it has the keys
 * and verifies with BIP340 before feeding a message); the engine checks
 * everything else: height, round, signer index, duplicates, and
 * equivocation (two different signed messages from one signer for the
 * same height, round and type), which it reports as EVIDENCE.
 *
 * Block validity is the host's: it executes a proposed block on its
 * committed state and feeds PROPOSAL with valid = 1 or 0. The engine knows
 * blocks by hash only.
 *
 * Crash recovery: the safety record (bft_safety) is persisted before every
 * signature. A restarted engine with a record at its current height
 * restores the locks; after a precommit it resumes at round + 1 and sends
 * that same precommit again (identical content, so never a conflicting
 * one); after a prevote or proposal it resumes in the record's round past
 * the signed step. It never signs two different messages for one
 * (height, round, type). docs/consensus-protocol.md, "Crashes". */
#ifndef CUSTOS_BFT_H
#define CUSTOS_BFT_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "error.h"
#include "hash.h"
#include "keys.h"

#define BFT_NIL_ROUND CX_CS_NIL_ROUND /* "-1" of the paper (no locked/valid round) */

/* The numbers of block.h's CX_CS_* (what evidence transactions carry). */
typedef enum {
  BFT_PROPOSAL = CX_CS_PROPOSAL,
  BFT_PREVOTE = CX_CS_PREVOTE,
  BFT_PRECOMMIT = CX_CS_PRECOMMIT
} bft_msg_type;

/* A signed consensus message. block_hash all-zero = nil (votes only).
 * Signed 32-byte message (bft_msg_digest):
 *   PROPOSAL : H_CS_PROPOSAL(chain_id | varint h | varint r | varint pol_round+1 | hash)
 *   PREVOTE  : H_CS_PREVOTE(chain_id | varint h | varint r | hash)
 *   PRECOMMIT: vote_message(chain_id, h, r, hash)   (block.h: certificates)
 * Wire encoding (bft_msg_encode): u8 type | varint height | varint round |
 *   varint pol_round+1 (proposal only) | hash[32] | varint signer | sig[64]. */
typedef struct {
  uint8_t type;        /* bft_msg_type */
  uint64_t height;
  uint32_t round;
  uint32_t pol_round;  /* proposal: the round of the valid value re-proposed, or BFT_NIL_ROUND */
  cx_hash block_hash;
  uint16_t signer;     /* index into the validator set of that height */
  cx_sig sig;
} bft_msg;

/* "proposal", "prevote", "precommit"; "unknown" for any other number. */
const char *bft_msg_type_name(unsigned type);

#define BFT_MSG_MAX 160
void bft_msg_digest(const cx_hash *chain_id, const bft_msg *m, uint8_t out[32]);
size_t bft_msg_encode(const bft_msg *m, uint8_t out[BFT_MSG_MAX]);
/* Canonical decoding, whole buffer; codec errors (codec.h). */
cx_err bft_msg_decode(const uint8_t *buf, size_t len, bft_msg *m);

/* What must be durable before a signature leaves the node. */
typedef struct {
  uint64_t height;       /* 0: no record */
  uint32_t round;
  uint8_t step;          /* last signed: bft_msg_type */
  uint32_t locked_round; /* BFT_NIL_ROUND if none */
  cx_hash locked_hash;
  uint32_t valid_round;
  cx_hash valid_hash;
} bft_safety;
#define BFT_SAFETY_LEN 120
void bft_safety_encode(const bft_safety *s, uint8_t out[BFT_SAFETY_LEN]);
cx_err bft_safety_decode(const uint8_t *buf, size_t len, bft_safety *s);

typedef enum {
  BFT_EV_START = 1,  /* begin round 0 of the current height (the host has
                       transactions, or wants a block); idempotent */
  BFT_EV_TIMEOUT,    /* a timer the engine set fired (kind, height, round) */
  BFT_EV_MESSAGE,    /* a message whose signature the host verified */
  BFT_EV_PROPOSAL_CHECKED, /* the host executed the proposed block: valid or not */
  BFT_EV_BLOCK_READY,/* the block the engine asked for (BUILD_BLOCK) is built */
  BFT_EV_COMMITTED   /* the host committed height h (by decision or sync):
                       move to h + 1 with the validator set given */
} bft_event_type;

typedef enum { BFT_T_PROPOSE = 1, BFT_T_PREVOTE, BFT_T_PRECOMMIT, BFT_T_REBROADCAST } bft_timeout_kind;

typedef struct {
  bft_event_type type;
  uint64_t height;
  uint32_t round;
  uint8_t timeout;      /* TIMEOUT: bft_timeout_kind */
  bft_msg msg;          /* MESSAGE */
  cx_hash block_hash;   /* PROPOSAL_CHECKED, BLOCK_READY */
  int valid;            /* PROPOSAL_CHECKED */
  /* COMMITTED: the validator set for height + 1 (NULL: unchanged). */
  const cx_pubkey *validators;
  size_t nvalidators;
} bft_event;

typedef enum {
  BFT_ACT_PERSIST = 1,   /* make safety durable before the next action */
  BFT_ACT_BROADCAST,     /* send msg to every other validator */
  BFT_ACT_BUILD_BLOCK,   /* build a block for (height, round) from the mempool,
                           execute it, feed BLOCK_READY */
  BFT_ACT_CHECK_PROPOSAL,/* execute block_hash (from a proposal) on the
                           committed state, feed PROPOSAL_CHECKED */
  BFT_ACT_COMMIT,        /* commit block_hash at height with cert, then feed
                           COMMITTED */
  BFT_ACT_SET_TIMER,     /* fire TIMEOUT(kind, height, round) after ms */
  BFT_ACT_EVIDENCE       /* msg and msg2: one signer, same (h, r, type),
                           different content */
} bft_action_type;

typedef struct {
  bft_action_type type;
  uint64_t height;
  uint32_t round;
  uint8_t timeout;      /* SET_TIMER: bft_timeout_kind */
  uint64_t ms;          /* SET_TIMER */
  bft_safety safety;     /* PERSIST */
  bft_msg msg, msg2;    /* BROADCAST (msg), EVIDENCE (msg, msg2) */
  cx_hash block_hash;   /* CHECK_PROPOSAL, COMMIT */
  cx_cert cert;         /* COMMIT */
} bft_action;

/* Signs a 32-byte digest with the node's key (injected). */
typedef cx_err (*bft_signer)(void *ctx, const uint8_t msg[32], cx_sig *out);

typedef struct {
  cx_hash chain_id;
  const cx_pubkey *validators; /* for `height`, ordered by name; copied */
  size_t nvalidators;
  cx_pubkey self;              /* our key (not necessarily a validator) */
  uint64_t height;             /* the height to decide: committed + 1 */
  /* Timeouts (Tendermint's timeoutPropose(r) = propose_ms + r * delta_ms,
   * likewise prevote/precommit): linear growth per round, reset per height. */
  uint32_t propose_ms, prevote_ms, precommit_ms, delta_ms;
  uint32_t rebroadcast_ms;     /* re-send our messages of the round this often
                                  (the network is at most once; gossip is not) */
  bft_signer sign;
  void *sign_ctx;
} bft_config;

typedef struct bft_engine bft_engine;

/* Upper bound of actions one event can produce. */
#define BFT_MAX_ACTIONS 32

/* safety: the record restored from disk (NULL or height 0: none). */
cx_err bft_new(const bft_config *cfg, const bft_safety *safety, bft_engine **out);
void bft_free(bft_engine *e);

/* Feeds one event; writes up to BFT_MAX_ACTIONS actions; returns the count.
 * Events that do not fit (stale timer, old height, unknown signer, a
 * message for a height far ahead) are ignored and counted. Messages for
 * height + 1 are kept (bounded) and replayed after COMMITTED. */
size_t bft_step(bft_engine *e, const bft_event *ev, bft_action *out);

/* Introspection for status and tests. */
typedef struct {
  uint64_t height;
  uint32_t round;
  uint8_t step;           /* 0 waiting for START, else bft_msg_type */
  uint32_t locked_round, valid_round;
  uint64_t ignored;       /* events ignored */
  uint64_t equivocations; /* EVIDENCE actions emitted */
} bft_status;
void bft_get_status(const bft_engine *e, bft_status *out);

/* Proposer index for (height, round) among n validators. */
static inline size_t bft_proposer(uint64_t height, uint32_t round, size_t n) {
  return (size_t)((height + round) % n);
}

#endif
