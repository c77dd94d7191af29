/* MPC messages and the per-session inbox (internal to mpc/).
 *
 * Every MPC message is signed by its sender's member key (BIP340, core/keys.h)
 * so that a cheat is provable to anyone holding the members' public keys:
 * the "transferable evidence" of docs/mpc.md. The channel (net/, Noise)
 * already authenticates; the signature is for third parties.
 *
 * Encoding (all integers big-endian):
 *   version u8 (=2) | kind u8 | session[32] | round u32 | from u8 | to u8 |
 *   payload_len u32 | payload | sig[64]
 * sig = BIP340 over hash_tagged(CX_TAG_MPC_MSG, header || payload)
 * (header = the 44 bytes before the payload). Version 1 signed
 * header || BLAKE2b-256(payload); version 2 hashes the payload with the
 * tagged SHA-256 itself, which is 2.8 times faster here (wire.c).
 * to = MPC_TO_ALL: one message (one signature) meant for every other party;
 * a sender that signs two different messages for one (kind, session,
 * round, from) slot has equivocated, and the pair is the evidence. */
#ifndef CUSTOS_MPC_WIRE_H
#define CUSTOS_MPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "keys.h"

#define MPC_WIRE_VERSION 2
#ifndef MPC_TO_ALL
#define MPC_TO_ALL 0xffu
#endif
#define MPC_MSG_HDR 44  /* bytes before the payload */
#define MPC_MSG_OVERHEAD (MPC_MSG_HDR + 64)
#define MPC_MAX_PAYLOAD ((size_t)6 << 20) /* fits net/'s default 8 MiB cap */

typedef enum {
  MPC_KIND_PREP = 1,   /* preprocessing batch (mpc/prep.c) */
  MPC_KIND_ONLINE = 2, /* online program (mpc/online.c) */
} mpc_kind;

typedef struct {
  uint8_t kind;
  uint8_t session[32];
  uint32_t round;
  uint8_t from, to;
  const uint8_t *payload; /* points into the decoded buffer */
  size_t len;
  const uint8_t *sig;     /* 64 bytes, into the buffer */
  const uint8_t *raw;     /* whole message */
  size_t raw_len;
} mpc_msg;

/* Encodes and signs; *out is malloc'd (caller frees). CX_E_TOO_LONG if
 * len > MPC_MAX_PAYLOAD. */
cx_err mpc_msg_encode(const cx_seckey *key, uint8_t kind, const uint8_t session[32], uint32_t round,
                      uint8_t from, uint8_t to, const uint8_t *payload, size_t len, uint8_t **out,
                      size_t *outlen);
/* Structure only (no signature check): CX_E_TRUNCATED, CX_E_TRAILING,
 * CX_E_BAD_VERSION, CX_E_TOO_LONG. m points into buf. */
cx_err mpc_msg_decode(const uint8_t *buf, size_t len, mpc_msg *m);
/* 1 if m's signature verifies under pk. */
int mpc_msg_verify(const mpc_msg *m, const cx_pubkey *pk);

/* The inbox of one party in one session: at most one message per (round,
 * sender), each stored as a private copy (the evidence). A copy is
 * verified on arrival, unless it came on its sender's own authenticated
 * link (mpc_inbox_put's link): then its signature is checked when it is
 * needed, before it is relayed or becomes evidence (mpc_inbox_verify). */
typedef struct mpc_inbox mpc_inbox;

/* pks: n public keys, borrowed for the inbox's lifetime. */
mpc_inbox *mpc_inbox_new(uint32_t n, uint32_t me, const cx_pubkey *pks, uint8_t kind,
                         const uint8_t session[32]);
void mpc_inbox_free(mpc_inbox *b);

/* Accepts a message for round `cur` or `cur + 1` (a party is never more
 * than one round ahead of another). link: the party whose authenticated
 * channel delivered buf (MPC_NO_LINK, mpc.h: unknown, or the caller wants every
 * signature checked now); a message whose header names that party as its
 * sender is stored without checking its signature. In this order of checks:
 *   CX_E_TRUNCATED/..      malformed encoding (nobody can be blamed)
 *   CX_E_MPC_SESSION       other kind or session
 *   CX_E_MPC_SENDER        from >= n, from == me, to not me nor MPC_TO_ALL
 *   CX_E_BAD_SIG           signature does not verify (checked here unless
 *                          from == link; a message that differs from a
 *                          stored one is always checked, and so is the
 *                          stored one: if either fails, the new one is
 *                          refused with this code and the stored one stands)
 *   CX_E_MPC_ROUND         round < cur (unless an identical copy: then
 *                          CX_E_MPC_DUPLICATE) or round > cur + 1
 *   CX_E_MPC_DUPLICATE     identical copy of a stored message (ignored)
 *   CX_E_MPC_EQUIVOCATION  a different signed message for a stored slot;
 *                          *equiv_from = the sender, and
 *                          mpc_inbox_equivocation() returns both messages.
 * CX_OK: stored. Nothing stored on any error. */
cx_err mpc_inbox_put(mpc_inbox *b, const uint8_t *buf, size_t len, uint32_t cur, uint32_t link,
                     uint32_t *equiv_from);
/* 1 if the stored round-r message of `from` carries its sender's valid
 * signature (checked at most once), 0 if it does not or there is none. */
int mpc_inbox_verify(mpc_inbox *b, uint32_t round, uint32_t from);
/* The two conflicting encodings of the last CX_E_MPC_EQUIVOCATION. */
void mpc_inbox_equivocation(const mpc_inbox *b, const uint8_t **m1, size_t *l1, const uint8_t **m2,
                            size_t *l2);
/* Mask of senders whose round-r message is stored. */
uint64_t mpc_inbox_have(const mpc_inbox *b, uint32_t round);
/* The stored round-r message of `from`, or NULL. Valid until dropped. */
const mpc_msg *mpc_inbox_get(const mpc_inbox *b, uint32_t round, uint32_t from);
/* Frees rounds < round (online sessions keep only what evidence needs).
 * Messages for a dropped round are refused from then on (CX_E_MPC_ROUND). */
void mpc_inbox_drop_before(mpc_inbox *b, uint32_t round);

#endif
