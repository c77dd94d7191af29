/* net: the member network. Every validator links to every other current
 * validator over nanomsg TCP; each link is a Noise IK channel (noise.h,
 * link.h) with AEAD on every frame, a replay window and periodic rekeying.
 * docs/net.md is the protocol and threat model.
 *
 * Transport shape: each node binds one NN_PULL socket on its own address
 * and keeps one NN_PUSH socket connected to each peer's address. nanomsg
 * reconnects with exponential backoff (NN_RECONNECT_IVL .. _MAX); NN_PUSH
 * with NN_DONTWAIT gives backpressure when a peer is slow or gone. A push
 * socket whose nanomsg endpoint stopped reconnecting is replaced by a
 * watchdog (wedge_ms below; docs/net.md, "Transport"). Who sent
 * a frame is learnt from the frame only (its session index, or for a
 * handshake the Noise static key), never from the socket.
 *
 * Threads: one net thread (net_start) receives, runs handshakes and timers,
 * and calls handlers. net_send/net_broadcast may be called from any thread,
 * handlers included. Handlers run on the net thread: they must not block.
 *
 * Delivery policy (docs/net.md, "Delivery"): at most once, in order per
 * peer per session. A message sent while the link has no session waits in
 * the peer's bounded queue (count and bytes capped: net_send returns
 * CX_E_QUEUE_FULL rather than grow) and is sent when the link comes back if
 * it is younger than queue_ttl_ms, else dropped and counted as "expired".
 * Frames in flight when a link dies are lost; the protocols above
 * (consensus, sync, MPC) retransmit on their own timeouts. */
#ifndef CUSTOS_NET_H
#define CUSTOS_NET_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "error.h"
#include "hash.h"
#include "tx.h"

/* Message types carried in the encrypted part of a data frame. */
typedef enum {
  NET_MSG_KEEPALIVE = 0, /* internal: empty, never delivered */
  NET_MSG_CONSENSUS = 1,
  NET_MSG_TX = 2,        /* transaction gossip */
  NET_MSG_SYNC = 3,      /* block sync */
  NET_MSG_MPC = 4,
  NET_MSG_CALL = 5,      /* contract calls: their MPC sessions, commitments, signatures (docs/calls.md) */
  NET_MSG_KEY = 6,       /* consortium keys: beacon shares, threshold signing (docs/keys.md) */
  NET_MSG_SNAP = 7,      /* state sync: snapshot offers, manifests, chunks (docs/statesync.md) */
  NET_MSG_TYPES = 8
} net_msg_type;
const char *net_msg_name(unsigned type); /* "consensus", ...; "unknown" */

/* Why an incoming frame or an outgoing message was refused. Each has its
 * own counter (per peer where the peer is known, else global) and a
 * rate-limited log line. */
#define NET_REJECTS(X)                                                                 \
  X(NET_R_MALFORMED, "malformed")         /* header short, bad kind/flags, length mismatch */ \
  X(NET_R_VERSION, "bad_version")         /* unknown frame version */                  \
  X(NET_R_OVERSIZED, "oversized")         /* declared length over the cap */           \
  X(NET_R_UNKNOWN_SESSION, "unknown_session") /* receiver index matches no session */  \
  X(NET_R_OLD_SESSION, "old_session")     /* index of a session already retired */     \
  X(NET_R_REPLAY, "replay")               /* counter already seen or left of window */ \
  X(NET_R_AUTH, "auth_failed")            /* AEAD tag does not verify */               \
  X(NET_R_HANDSHAKE, "bad_handshake")     /* Noise message does not decrypt/parse */   \
  X(NET_R_NOT_MEMBER, "not_member")       /* static key is not a current member's */   \
  X(NET_R_HS_REPLAY, "handshake_replay")  /* msg1 timestamp not newer than the last */ \
  X(NET_R_RATE, "rate_limited")           /* handshakes from this peer too often */    \
  X(NET_R_BAD_TYPE, "bad_type")           /* unknown message type / no handler */      \
  X(NET_R_QUEUE_FULL, "queue_full")       /* outgoing: peer queue at its cap */        \
  X(NET_R_EXPIRED, "expired")             /* outgoing: queued past queue_ttl_ms */

typedef enum {
#define NET_R_ENUM(sym, name) sym,
  NET_REJECTS(NET_R_ENUM)
#undef NET_R_ENUM
  NET_R_COUNT
} net_reject;
const char *net_reject_name(unsigned r);

#define NET_MAX_MSG_DEFAULT ((size_t)8 << 20) /* net_config.max_msg when 0: 8 MiB */

/* A current member with a node (a validator with an address). */
typedef struct {
  char name[CX_NAME_MAX + 1];
  uint8_t enc_key[32]; /* X25519 static key of its links */
  char address[CX_ADDR_MAX + 1];
} net_member;

typedef struct {
  cx_hash chain_id;            /* bound into every handshake (the prologue) */
  char self[CX_NAME_MAX + 1];  /* our member name */
  uint8_t static_priv[32];     /* our X25519 key; net_open copies it into
                                  guarded memory; the caller wipes its copy */
  char listen[CX_ADDR_MAX + 1];/* "tcp://127.0.0.1:26656" */
  size_t max_msg;              /* payload cap per message (default NET_MAX_MSG_DEFAULT) */
  size_t queue_msgs;           /* per-peer queue caps (1024 messages, */
  size_t queue_bytes;          /*   64 MiB) */
  uint32_t queue_ttl_ms;       /* default 10000 */
  uint32_t keepalive_ms;       /* idle link sends a keepalive (1000) */
  uint32_t dead_ms;            /* nothing received for this long: link down (5000) */
  uint32_t rekey_ms;           /* new handshake after this session age (120000) */
  uint64_t rekey_msgs;         /* ... or after this many frames sent (2^32) */
  uint32_t reconnect_ms;       /* nanomsg reconnect backoff, first (100) */
  uint32_t reconnect_max_ms;   /*   and largest interval (500: docs/net.md, Transport) */
  uint32_t wedge_ms;           /* watchdog: a peer's sends have failed this long
                                  while its push socket has no connection and
                                  nanomsg made no connect attempt: the socket is
                                  replaced (max(2 * reconnect_max_ms, 10000);
                                  never less than 2 * reconnect_max_ms) */
  const cx_clock *clock;       /* NULL: the system clock */
} net_config;

/* Zero = default for every numeric field. */
void net_config_defaults(net_config *c);

typedef struct net net;

/* Handler for one message type. from: the sender's member name (valid
 * during the call). payload: valid during the call only. */
typedef void (*net_handler)(void *ctx, const char *from, unsigned type, const uint8_t *payload,
                            size_t len);

/* Binds the listen address. err gets a sentence. *out owned by the caller. */
cx_err net_open(const net_config *cfg, net **out, char *err, size_t errlen);
/* Registers the handler of a type (before net_start). */
void net_on(net *n, unsigned type, net_handler h, void *ctx);
/* The current members (self may be included; it is skipped). Links to new
 * members are created; links to members no longer listed, or whose key or
 * address changed, are torn down at once: sessions wiped, queue dropped,
 * socket closed. Their frames are refused from then on. Thread-safe. */
cx_err net_set_members(net *n, const net_member *m, size_t count);
/* Starts the net thread. */
cx_err net_start(net *n);
/* Stops the thread, wipes every key and frees. NULL is a no-op. */
void net_close(net *n);

/* Sends one message to one member. CX_OK: sent or queued. CX_E_PEER_UNKNOWN
 * (no link to that name), CX_E_TOO_LONG (len > max_msg), CX_E_BAD_ENUM
 * (type 0 or >= NET_MSG_TYPES), CX_E_QUEUE_FULL (backpressure). */
cx_err net_send(net *n, const char *to, unsigned type, const uint8_t *p, size_t len);
/* Sends to every linked member; returns how many accepted it. */
size_t net_broadcast(net *n, unsigned type, const uint8_t *p, size_t len);
/* Starts a new handshake with a peer now (operators; tests). */
cx_err net_rekey(net *n, const char *to);

typedef struct {
  char name[CX_NAME_MAX + 1];
  int connected;               /* a confirmed session and traffic within dead_ms */
  uint64_t msgs_out, bytes_out, msgs_in, bytes_in; /* application messages/payload bytes */
  uint64_t frames_out, frames_in;
  uint64_t handshakes;         /* sessions established */
  uint64_t queued;             /* messages waiting now */
  uint64_t socket_resets;      /* push sockets replaced by the watchdog (wedge_ms) */
  uint64_t rejects[NET_R_COUNT];
} net_peer_stats;

typedef struct {
  uint64_t rejects[NET_R_COUNT]; /* frames no peer could be blamed for */
  size_t npeers;
} net_stats_global;

/* Copies up to cap peer records (sorted by name); returns the total. */
size_t net_stats(net *n, net_peer_stats *out, size_t cap, net_stats_global *g);

/* The fault shim (fault.h), compiled in with CUSTOS_TESTING only. Commands:
 *   "seed N", "drop P", "dup P", "reorder P", "delay MIN_MS MAX_MS",
 *   "partition NAME", "heal NAME", "heal";
 *   one-shot, on the next data frame to NAME: "flip NAME" (one bit of its
 *   ciphertext), "replay NAME" (sent twice), "capture NAME" (a copy kept);
 *   "send-captured NAME" (send the kept copy now), "oversize NAME" (send a
 *   header declaring a length over any cap).
 * Without CUSTOS_TESTING: CX_E_CONFIG, "fault shim not compiled in". */
cx_err net_fault(net *n, const char *cmd, char *err, size_t errlen);

/* Finds n distinct free TCP ports on 127.0.0.1 (for a devnet, tests and
 * benchmarks). All sockets stay bound until every port is known, so no two
 * are the same; the ports are free now, not reserved. They are drawn below
 * the kernel's ephemeral range when it leaves room: a port bind(0) hands
 * out may a few milliseconds later be the source port of some outgoing
 * connection (nodes' links make dozens), and a node that finds its port
 * taken cannot start. CX_E_NET (err says why) if none can be found. */
cx_err net_free_ports(uint16_t *ports, unsigned n, char *err, size_t errlen);

#if CUSTOS_TESTING
/* Test seam: removes the endpoint of the push socket to peer (nn_shutdown),
 * leaving a socket with no connection that never reconnects, as the nanomsg
 * wedge the watchdog exists for. CX_E_PEER_UNKNOWN, CX_E_NET. */
cx_err net_test_wedge(net *n, const char *peer);
#endif

#endif
