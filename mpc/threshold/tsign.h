/* Threshold-signing sessions (issue 8, docs/threshold.md "Threshold signing
 * sessions (tsign)"): n parties holding FROST shares of one key (dkg.h)
 * produce one signature over one message, RFC 9591 §5 with the
 * coordinator role made concrete, robust against up to n - t faulty or
 * offline parties over a network that loses, repeats and reorders.
 *
 * A pure state machine: no sockets, clock, disk or threads. The caller
 * passes now_ms, delivers bytes with the sender's identity (authenticated
 * member links: tsign_recv's from_id is trusted), drains the outbox with
 * tsign_poll and decides who coordinates (in the node: the party ranked
 * first at once, the others after staggered delays).
 *
 * Flow for attempt a led by coordinator c (every message: sid, a):
 *   c:       START            -> every other party     (tsign_coordinate)
 *   party j: COMMIT(D_j, E_j) -> c   fresh nonces for (c, a); a repeated
 *                                    START re-sends the same commitment
 *   c:       REQUEST(t sorted (id, D, E)) -> the t chosen signers, once it
 *            holds t commitments (its own included), earliest responders
 *            first, parties it has named excluded
 *   signer:  SHARE(z) -> c      frost_sign; the nonces are wiped; the same
 *                               REQUEST again re-sends the cached share, a
 *                               different one for (c, a) is refused (a nonce
 *                               pair signs once: RFC 9591 §7)
 *   c:       frost_aggregate_checked: DONE with the signature (also checked
 *            by frost_verify), or the bad shares' senders named culprits
 *            ("bad_share") and attempt a + 1 without them.
 * Timers (tsign_tick): START / REQUEST are re-sent to the silent parties
 * every resend_ms; after commit_ms without t commitments, or share_ms
 * without the t shares, the silent parties are named "unresponsive" (not
 * proven faulty, but left out of the coordinator's later attempts) and the
 * next attempt starts if t parties are left, else the session FAILS with a
 * sentence naming them.
 *
 * Roles: every session is a signer for any coordinator, whatever its own
 * status; only a party that called tsign_coordinate ever ends DONE or
 * FAILED (a pure signer stays TSIGN_RUNNING).
 *
 * Wire (strict, tsign_decode): kind || sid[32] || be16 attempt || body
 *   START   16  (no body)                             35 bytes
 *   COMMIT  17  D[32] E[32]                           99 bytes
 *   REQUEST 18  be16 k || k x (be16 id || D || E)     37 + 66 k, k == t
 *   SHARE   19  z[32]                                 67 bytes
 *
 * Secrets: the signing share and the nonces live in one sodium_malloc'd
 * block, wiped by tsign_free; a slot's nonces are wiped when it signs or is
 * evicted. Errors are cx_err; functions that take err/errlen also write a
 * sentence (either may be NULL/0). A refused message leaves the state as
 * it was. */
#ifndef CUSTOS_TSIGN_H
#define CUSTOS_TSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frost.h"

#define TSIGN_MAX_PARTIES 64 /* CX_MAX_VALIDATORS */
#define TSIGN_MAX_MSG 1024   /* bytes of the message signed */
#define TSIGN_SID_LEN 32
#define TSIGN_MAX_SLOTS 16   /* live nonce slots per session; the oldest is evicted */
#define TSIGN_OUTBOX_MAX 1024 /* queued items; beyond it new items are dropped (counted) */

/* Default timers (tsign_config: 0 picks these). */
#define TSIGN_COMMIT_MS 1500
#define TSIGN_SHARE_MS 1500
#define TSIGN_RESEND_MS 300

/* Wire kinds (16..19: clear of dkg.h's 1..4 and beacon.h's 5..6). */
#define TSIGN_KIND_START 16
#define TSIGN_KIND_COMMIT 17
#define TSIGN_KIND_REQUEST 18
#define TSIGN_KIND_SHARE 19

#define TSIGN_HEAD_LEN (1u + TSIGN_SID_LEN + 2u)
#define TSIGN_START_LEN TSIGN_HEAD_LEN
#define TSIGN_COMMIT_LEN (TSIGN_HEAD_LEN + 64u)
#define TSIGN_ENTRY_LEN (2u + 64u)
#define TSIGN_REQUEST_LEN(k) (TSIGN_HEAD_LEN + 2u + TSIGN_ENTRY_LEN * (size_t)(k))
#define TSIGN_SHARE_LEN (TSIGN_HEAD_LEN + 32u)
#define TSIGN_MSG_MAX_LEN TSIGN_REQUEST_LEN(TSIGN_MAX_PARTIES)

#define TSIGN_TO_ALL 0 /* tsign_out.to: every other party */

typedef enum { TSIGN_RUNNING = 0, TSIGN_DONE = 1, TSIGN_FAILED = 2 } tsign_status;

/* Why a coordinator named a party. */
typedef enum {
  TSIGN_BAD_SHARE = 1,   /* its signature share failed RFC 9591 §5.4: a culprit */
  TSIGN_UNRESPONSIVE = 2 /* silent past a timer: slow or offline, not proven faulty */
} tsign_fault;

/* A nonce slot's state, for (coordinator, attempt). */
typedef enum {
  TSIGN_SLOT_NONE = 0,      /* no slot (never, or evicted) */
  TSIGN_SLOT_COMMITTED = 1, /* nonces live, commitment given */
  TSIGN_SLOT_SIGNED = 2,    /* nonces consumed and wiped; share cached */
  TSIGN_SLOT_BURNT = 3      /* frost_sign refused after the checks: nonces wiped, no share */
} tsign_slot_state;

typedef struct {
  uint16_t n, t;  /* 2 <= t <= n <= TSIGN_MAX_PARTIES */
  uint16_t my_id; /* 1..n */
  frost_element group_pk;
  const frost_element *pk_shares; /* n: Y_j = pk_shares[j-1] (dkg_result.pk_shares) */
  const frost_scalar *share;      /* my signing share (copied; G * share must be Y_me) */
  uint32_t commit_ms, share_ms, resend_ms; /* 0: the defaults above */
} tsign_config;

/* One message to send: to a party id, or TSIGN_TO_ALL (every other party). */
typedef struct {
  uint16_t to;
  size_t len;
  uint8_t buf[TSIGN_MSG_MAX_LEN];
} tsign_out;

/* A decoded wire message (tsign_decode / tsign_encode). */
typedef struct {
  uint8_t kind; /* TSIGN_KIND_* */
  uint8_t sid[TSIGN_SID_LEN];
  uint16_t attempt;
  frost_element D, E;   /* COMMIT */
  frost_scalar z;       /* SHARE */
  uint16_t nlist;       /* REQUEST */
  frost_commitment list[TSIGN_MAX_PARTIES];
} tsign_msg;

/* Counters for tests and metrics. */
typedef struct {
  uint32_t nonces_made;    /* frost_commit calls (one per new (coordinator, attempt)) */
  uint32_t shares_made;    /* frost_sign calls */
  uint32_t outbox_dropped; /* items not queued because the outbox was full */
} tsign_stats;

typedef struct tsign tsign;

/* A session: sid names it and binds the message (in the node:
 * H(call || statement)); msg (0..TSIGN_MAX_MSG bytes) and the key material
 * are copied. Refused: t, n, my_id out of range (CX_E_INVALID_ARG), msg too
 * long (CX_E_TOO_LONG), a group key or public share that is not a canonical
 * non-identity element (CX_E_BAD_KEY), a share that is
 * not a canonical scalar or whose G * share is not Y_me (CX_E_BAD_KEY: a
 * party with a wrong share must not sign, docs/keys.md §5). */
cx_err tsign_new(const uint8_t sid[TSIGN_SID_LEN], const uint8_t *msg, size_t len,
                 const tsign_config *cfg, tsign **out, char *err, size_t errlen);
/* Wipes the share and the nonces and frees; NULL is a no-op. */
void tsign_free(tsign *s);

/* Starts attempt `attempt` led by me: my own nonces and commitment, START
 * to every other party. The attempt must be above every attempt of mine
 * this session has seen (CX_E_MPC_ROUND): signers refuse a stale one. An
 * attempt under way is abandoned. CX_E_MPC_STATE when DONE. After FAILED
 * it starts again: the unresponsive marks are cleared (the caller judged it
 * worth a retry), the culprits stay excluded; CX_E_MPC_CHECK_FAILED (and
 * still FAILED) when fewer than t non-culprits are left. */
cx_err tsign_coordinate(tsign *s, uint16_t attempt, uint64_t now_ms, char *err, size_t errlen);

/* One message from party from_id (1..n, not me: the caller's authenticated
 * link). CX_OK when it was acted on, or is an identical copy of one that
 * was (replies are re-sent). Refusals, state unchanged:
 *   tsign_decode's codes (wrong length, kind, encodings, ids, list);
 *   CX_E_MPC_SESSION  another sid;
 *   CX_E_MPC_SENDER   from_id not a party, or me; a SHARE from a party not
 *                     in my REQUEST; a REQUEST whose list leaves me out;
 *   CX_E_MPC_ROUND    a START for an attempt at or below one already seen
 *                     from that coordinator with no slot left; a REQUEST for
 *                     a (coordinator, attempt) I gave no commitment for (or
 *                     whose slot was evicted); a COMMIT or SHARE for another
 *                     attempt than mine under way or in the wrong phase;
 *   CX_E_MPC_STATE    a COMMIT or SHARE while I coordinate nothing (never,
 *                     DONE or FAILED); a REQUEST for a burnt slot;
 *   CX_E_MPC_CHECK_FAILED  a REQUEST whose entry for me is not my
 *                     commitment for that (coordinator, attempt);
 *   CX_E_MPC_EQUIVOCATION  a second, different REQUEST for one
 *                     (coordinator, attempt) after I signed, or a second,
 *                     different COMMIT / SHARE from one party for my attempt.
 * A party's bad share is not a refusal of the message: it is accepted and
 * the party named (tsign_culprits). */
cx_err tsign_recv(tsign *s, uint16_t from_id, const uint8_t *bytes, size_t len, uint64_t now_ms,
                  char *err, size_t errlen);

/* Timers (see above); call it regularly (every ~100 ms). */
void tsign_tick(tsign *s, uint64_t now_ms);

/* Takes the next message to send into *out: 1, or 0 when the outbox is empty. */
int tsign_poll(tsign *s, tsign_out *out);

tsign_status tsign_status_get(const tsign *s);
/* The signature, when DONE (CX_E_MPC_STATE otherwise). It verifies under
 * the group key (frost_verify was run). */
cx_err tsign_signature(const tsign *s, uint8_t sig[FROST_SIG_LEN]);
/* Why FAILED: a sentence naming who was missing or bad; "" otherwise. */
const char *tsign_reason(const tsign *s);
/* The parties this coordinator named, ascending id: ids[k] and why[k]
 * (n entries each; why may be NULL). A culprit proper is TSIGN_BAD_SHARE;
 * TSIGN_UNRESPONSIVE parties are listed too, as not proven faulty. */
void tsign_culprits(const tsign *s, uint16_t *ids, tsign_fault *why, size_t *n);
/* "bad_share", "unresponsive". */
const char *tsign_fault_name(tsign_fault f);

/* The attempt I coordinate now (or last), -1 if none. */
int32_t tsign_attempt(const tsign *s);
tsign_slot_state tsign_slot(const tsign *s, uint16_t coordinator, uint16_t attempt);
void tsign_stats_get(const tsign *s, tsign_stats *out);

/* ---- wire ---- */

/* Strict decoder for a session with n parties and threshold t. Refusals:
 * empty or short input (CX_E_TRUNCATED), extra bytes (CX_E_TRAILING), a kind
 * outside 16..19 (CX_E_BAD_ENUM), a REQUEST whose count is not t
 * (CX_E_MPC_MALFORMED), a list id outside 1..n (CX_E_MPC_SENDER), ids not
 * strictly ascending (CX_E_UNSORTED), a non-canonical element or scalar
 * >= L (CX_E_NONCANONICAL), an identity element (CX_E_BAD_KEY). The sid is
 * not checked here (tsign_recv does). */
cx_err tsign_decode(const uint8_t *in, size_t len, uint16_t n, uint16_t t, tsign_msg *m, char *err,
                    size_t errlen);
/* Writes the encoding of m (TSIGN_MSG_MAX_LEN bytes suffice); returns its length. */
size_t tsign_encode(const tsign_msg *m, uint8_t *out);

#endif
