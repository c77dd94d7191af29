/* link: one member link as a pure state machine (internal to net/).
 *
 * Wire frame (all integers big-endian), docs/net.md "Framing":
 *
 *   0  u8   version (1)
 *   1  u8   kind: 1 handshake init, 2 handshake response, 3 data
 *   2  u16  flags (0)
 *   4  u32  length of the body that follows the 20-byte header
 *   8  u32  receiver's session index (0 in a handshake init)
 *   12 u64  counter (data), 0 otherwise
 *   20      body
 *
 *   init  body: Noise IK msg1, payload = u32 sender index | u64 timestamp_ms
 *   resp  body: Noise IK msg2, payload = u32 sender index
 *   data  body: AEAD(k, counter, ad = header, u8 type | payload)
 *
 * Sessions follow WireGuard (Donenfeld, NDSS 2017, sections 5.4 and 6):
 * each side picks a random 32-bit index for a session (the top 8 bits are
 * the link's slot, so net/ finds the link of a data frame without a
 * table); a link keeps a current, a previous and a next (responder side,
 * not yet confirmed) session; the responder confirms "next" on the first
 * data frame that authenticates under it. A handshake init carries a
 * timestamp that must grow (replayed inits are refused); a 1024-frame
 * sliding window (RFC 6479 style bitmap) refuses replayed data frames.
 *
 * Pure: time arrives as now_ms, randomness through io.random, frames leave
 * through io.send (control frames) or into the caller's buffer (data). Not
 * thread-safe: net/ holds the peer's lock around every call. Keys live in
 * sodium_malloc'd memory and are wiped when a session is retired. */
#ifndef CUSTOS_LINK_H
#define CUSTOS_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "net.h"
#include "noise.h"

#define LINK_VERSION 1
#define LINK_HDR 20
enum { LINK_HS_INIT = 1, LINK_HS_RESP = 2, LINK_DATA = 3 };
#define LINK_INIT_PAYLOAD 12
#define LINK_RESP_PAYLOAD 4
#define LINK_INIT_BODY (32 + 48 + LINK_INIT_PAYLOAD + 16) /* 108 */
#define LINK_RESP_BODY (32 + LINK_RESP_PAYLOAD + 16)      /* 52 */
/* Bytes a data frame adds to a payload: header, type byte, tag. */
#define LINK_OVERHEAD (LINK_HDR + 1 + 16)
#define LINK_WINDOW 1024
#define LINK_PROLOGUE_MAX 64

typedef struct {
  uint8_t version, kind;
  uint16_t flags;
  uint32_t len, receiver;
  uint64_t counter;
} link_hdr;

void link_hdr_encode(const link_hdr *h, uint8_t out[LINK_HDR]);
/* Checks, in this order: at least LINK_HDR bytes (MALFORMED), version
 * (VERSION), kind and flags (MALFORMED), length against max_payload +
 * 1 + 16 for data (OVERSIZED; before anything is allocated), length equal
 * to the bytes present (MALFORMED), exact body length of handshake kinds
 * (MALFORMED), and for data a body of at least the type byte and the tag
 * (1 + 16; MALFORMED). Returns -1 when the frame is acceptable, else the
 * net_reject. */
int link_hdr_decode(const uint8_t *buf, size_t len, size_t max_payload, link_hdr *h);

/* Slot of a session index (its top byte). */
static inline unsigned link_index_slot(uint32_t idx) { return idx >> 24; }

typedef struct {
  uint32_t keepalive_ms, dead_ms, rekey_ms;
  uint64_t rekey_msgs;        /* sending session is replaced after this many frames */
  uint32_t hs_retry_ms;       /* first handshake retry, doubling ... */
  uint32_t hs_retry_max_ms;   /* ... up to this */
  uint32_t hs_min_interval_ms;/* accepted inits from one peer at most this often */
  size_t max_payload;
} link_params;

typedef struct {
  void *ctx;
  /* A control frame (handshake or keepalive) to send to this peer. */
  void (*send)(void *ctx, const uint8_t *frame, size_t len);
  /* Fills buf with CSPRNG bytes (randombytes_buf in custosd; seeded in tests). */
  void (*random)(void *ctx, uint8_t *buf, size_t n);
} link_io;

typedef struct peer_link peer_link;

/* slot: 1..255, unique among the links of one node. prologue: bound into
 * every handshake ("custos-net/1" || chain id). s_priv: our static key
 * (copied). rs: the peer's static public key. NULL on out of memory (or if
 * libsodium cannot initialise; link_new calls sodium_init itself). */
peer_link *link_new(unsigned slot, const uint8_t *prologue, size_t prologue_len,
               const uint8_t s_priv[32], const uint8_t rs[32], const link_params *p,
               const link_io *io);
/* Wipes every key and frees. NULL is a no-op. */
void link_free(peer_link *l);

/* Seals one message into out (len + LINK_OVERHEAD bytes) on the current
 * session. CX_E_NO_SESSION when there is no usable session (none yet, or
 * the current one is past twice its rekey limits): the caller queues the
 * message; a handshake is started if none is under way. Starts a rekey
 * handshake (through io.send) when the session passes its limits. */
cx_err link_seal(peer_link *l, uint64_t now_ms, unsigned type, const uint8_t *payload, size_t len,
                 uint8_t *out, size_t *outlen);

typedef enum {
  LINK_IN_NONE = 0,  /* consumed (handshake step, keepalive) */
  LINK_IN_MESSAGE,   /* *type, *payload, *plen set: deliver */
  LINK_IN_REJECT     /* *reject set */
} link_in_result;

/* Handles one data or handshake-response frame addressed to this link
 * (hdr decoded by link_hdr_decode). Decrypts in place: on LINK_IN_MESSAGE
 * *payload points into frame. A frame whose index names a retired session
 * of this link is OLD_SESSION; one naming nothing is UNKNOWN_SESSION. A
 * handshake response that does not read under the pending handshake is
 * HANDSHAKE (the handshake stays pending); a second copy of the response
 * that made a live session is REPLAY. An init here is MALFORMED. */
link_in_result link_input(peer_link *l, uint64_t now_ms, const link_hdr *hdr, uint8_t *frame,
                          size_t len, unsigned *type, const uint8_t **payload, size_t *plen,
                          int *reject);

/* A handshake init already read by net/ (noise_read_msg1 told it which
 * member sent it): hs is the responder state after msg1, payload its
 * decrypted payload. Checks the timestamp (HS_REPLAY) and the rate
 * (RATE), then answers through io.send and installs a "next" session.
 * Returns -1 on success, else the net_reject (also HANDSHAKE for a payload
 * that is not LINK_INIT_PAYLOAD bytes or names sender index 0, NOT_MEMBER
 * if hs->rs is not this link's peer). hs is wiped either way. The timestamp
 * must grow across the peer's restarts too: it comes from the peer's now_ms
 * (link_seal/link_tick time), so that clock should not restart lower. */
int link_accept_init(peer_link *l, uint64_t now_ms, noise_hs *hs, const uint8_t *payload,
                     size_t plen);

/* Timers: handshake retry with backoff, rekey by age, keepalive when idle,
 * and link death after dead_ms of silence (sessions dropped, handshake
 * restarted). Call at least every keepalive_ms / 4. */
void link_tick(peer_link *l, uint64_t now_ms);
/* Starts a new handshake now (net_rekey). */
void link_rekey(peer_link *l, uint64_t now_ms);

/* 1 when there is a confirmed session and a frame arrived within dead_ms. */
int link_connected(const peer_link *l, uint64_t now_ms);
/* Sessions established since link_new. */
uint64_t link_handshakes(const peer_link *l);
/* Our static key's peer (for net/ to match msg1 senders). */
const uint8_t *link_remote_static(const peer_link *l);

#endif
