/* consensus: the ordering protocol as a pure state machine.
 *
 * The host (custosd, or the simulator of the consensus issue) feeds events
 * and carries out the actions the engine returns, in order:
 *
 *   events  : TIMER (a timer the engine set has fired),
 *             BLOCK_READY (the host built or received a proposal and executed
 *               it; the engine gets its hash),
 *             PERSISTED (the safety record the engine asked for is durable),
 *             COMMITTED (the host committed a block).
 *   actions : BUILD_BLOCK (propose at height/view), PERSIST_SAFETY (write
 *               the record durably, fsync, then feed PERSISTED), COMMIT
 *               (commit the block with this certificate), SET_TIMER.
 *
 * No clock, socket, disk or randomness inside: signing goes through an
 * injected signer (the node's key), time through the timers the host runs.
 * "Never sign before persisting" (CometBFT privval): a vote is signed only
 * after PERSISTED confirms the safety record that covers it.
 *
 * This version implements the single-validator consortium (n = 1): the one
 * validator proposes every block and its own vote is a quorum (quorum_size(1)
 * = 1). The BFT protocol for n > 1 (docs/consensus.md) plugs into the same
 * events and actions; until it lands, cs_new refuses n > 1 with
 * CX_E_CONFIG rather than pretending. */
#ifndef CUSTOS_CONSENSUS_H
#define CUSTOS_CONSENSUS_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "error.h"
#include "hash.h"
#include "keys.h"

/* What must be durable before a vote leaves the node. */
typedef struct {
  uint64_t height; /* last height voted for (0: none) */
  uint64_t view;
  cx_hash block_hash;
} cs_safety;

typedef enum { CS_EV_TIMER = 1, CS_EV_BLOCK_READY, CS_EV_PERSISTED, CS_EV_COMMITTED } cs_event_type;
typedef enum { CS_ACT_BUILD_BLOCK = 1, CS_ACT_PERSIST_SAFETY, CS_ACT_COMMIT, CS_ACT_SET_TIMER } cs_action_type;

typedef struct {
  cs_event_type type;
  uint64_t height;
  uint64_t view;
  cx_hash block_hash;
} cs_event;

typedef struct {
  cs_action_type type;
  uint64_t height;
  uint64_t view;
  uint64_t timer_ms;   /* SET_TIMER: fire after this many ms */
  cs_safety safety;    /* PERSIST_SAFETY */
  cx_cert cert;        /* COMMIT */
} cs_action;

/* Signs the 32-byte vote message (vote_message()). Injected: the engine
 * never holds a key. Returns CX_OK or an error (then no vote is cast). */
typedef cx_err (*cs_signer)(void *ctx, const uint8_t msg[32], cx_sig *out);

typedef struct {
  cx_hash chain_id;
  const cx_pubkey *validators; /* in signer order; copied by cs_new */
  size_t nvalidators;
  size_t self;                 /* our index in validators */
  uint64_t block_interval_ms;
  cs_signer sign;
  void *sign_ctx;
} cs_config;

typedef struct cs_engine cs_engine;

#define CS_MAX_ACTIONS 8

/* committed_height: the host's last committed height; safety: the record
 * restored from disk (zeroed if none). The engine never votes at or below
 * safety.height, so a restarted node cannot sign a conflicting vote. */
cx_err cs_new(const cs_config *cfg, uint64_t committed_height, const cs_safety *safety,
              cs_engine **out);
void cs_free(cs_engine *e); /* NULL no-op */

/* The first actions after start (a SET_TIMER). Returns the count. */
size_t cs_start(cs_engine *e, cs_action *out);
/* Feeds one event; writes up to CS_MAX_ACTIONS actions; returns the count.
 * Events that do not fit the engine's state (a stale timer, a block for
 * another height) are ignored: the engine never trusts the host's order. */
size_t cs_step(cs_engine *e, const cs_event *ev, cs_action *out);

/* Safety record encoding (stored by the host). */
void cs_safety_encode(const cs_safety *s, uint8_t out[48]);
cx_err cs_safety_decode(const uint8_t *buf, size_t len, cs_safety *s);

#endif
