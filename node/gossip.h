/* gossip: batched transaction gossip (docs/net.md, "Transaction gossip").
 *
 * The node that admits a transaction from a client appends its encoding to
 * an outgoing batch; the batch goes to every peer as ONE NET_MSG_TX message
 * when it is full (GOSSIP_BATCH_BYTES of payload or GOSSIP_BATCH_TXS
 * entries) or GOSSIP_FLUSH_MS after its first entry, whichever comes first.
 * One message per batch instead of one per transaction is what cuts the
 * kernel's share (send/receive, epoll, wakeups) and the per-message AEAD
 * and queue work at the 3 peers.
 *
 * Wire (NET_MSG_TX payload):
 *   u8 version (GOSSIP_WIRE_VERSION) | varint count (1..GOSSIP_MAX_TXS) |
 *   count x bytes tx (varint length 1..CX_TX_MAX_BYTES | the encoding)
 * and nothing after the last entry; the whole payload is at most
 * GOSSIP_MSG_MAX bytes. The entries are only delimited here: each is
 * admitted on its own (node.c), as a client's transaction would be.
 *
 * Who flushes on time: a small gossip thread per node (gossip_start) that
 * sleeps on a condition variable with a timed wait while a batch is open.
 * It keeps the consensus thread and the net thread out of it (neither may
 * block on a peer's backpressure for gossip), and an RPC worker never
 * waits for a timer. A worker whose entry does not fit flushes the full
 * batch itself (that is the size trigger, and backpressure on clients).
 *
 * Order: batches leave in the order they were closed (a send lock is held
 * from closing a batch to the end of its broadcast), entries within a batch
 * in the order they were appended, so a sender's transactions reach every
 * peer in the order this node admitted them (net/ keeps per-peer order).
 * node_submit appends right after admission, as it broadcast before
 * batching: two submissions racing on two RPC workers have no order to
 * keep, one that follows another's answer does. */
#ifndef CUSTOS_GOSSIP_H
#define CUSTOS_GOSSIP_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "net.h"
#include "node_internal.h"
#include "tx.h"

/* 2, not 1: the payload of the per-transaction gossip before batching was
 * a bare transaction, whose first byte is CX_TX_VERSION (1); such a message
 * from an older node is refused as "unknown version", not misparsed. */
#define GOSSIP_WIRE_VERSION 2
#define GOSSIP_MAX_TXS 4096          /* entries a receiver accepts in one message */
#define GOSSIP_MSG_MAX NET_MAX_MSG_DEFAULT /* payload a receiver accepts: net's default */
#define GOSSIP_BATCH_BYTES (256u << 10) /* payload a sender puts in one message */
#define GOSSIP_BATCH_TXS 2048        /* entries a sender puts in one message */
#define GOSSIP_FLUSH_MS 2            /* a batch leaves at most this long after its first entry */

/* ---- the wire ---- */

typedef struct gossip_wire {
  size_t count; /* entries, all delimited (CX_OK only) */
  struct {
    const uint8_t *p; /* a range of the decoded input */
    size_t len;
  } tx[GOSSIP_MAX_TXS];
} gossip_wire; /* 64 KiB: allocate it, do not put it on a thread's stack */

/* Pure decoding of a NET_MSG_TX payload (no node, no allocation). All or
 * nothing: not CX_OK means the message is refused whole, the reason in *r
 * (may be NULL), and out->count is 0. The transactions themselves are not
 * decoded here. */
cx_err gossip_decode(const uint8_t *p, size_t len, gossip_wire *out, node_refusal *r);

/* ---- the outgoing batch ---- */

/* Receives each closed batch: a complete NET_MSG_TX payload, valid during
 * the call. Called with the batcher's send lock held (one at a time, in
 * order), from the gossip thread or from an appending thread. */
typedef void (*gossip_send_fn)(void *ctx, const uint8_t *msg, size_t len);

typedef struct {
  size_t max_bytes;  /* payload cap of one batch (0: GOSSIP_BATCH_BYTES; at least
                      * CX_TX_MAX_BYTES + 16 so that any transaction fits alone) */
  size_t max_txs;    /* entries per batch (0: GOSSIP_BATCH_TXS; <= GOSSIP_MAX_TXS) */
  uint32_t flush_us; /* time trigger after the first entry (0: GOSSIP_FLUSH_MS) */
  gossip_send_fn send;
  void *ctx;
} gossip_config;

typedef struct {
  uint64_t batches;       /* messages sent */
  uint64_t txs;           /* entries in them */
  uint64_t on_size;       /* batches closed because the next entry did not fit */
  uint64_t on_time;       /* batches closed by the timer */
  uint64_t on_close;      /* batches closed by gossip_flush / gossip_stop */
} gossip_stats;

typedef struct gossip_batcher gossip_batcher;

/* Allocates the batch buffers and starts the gossip thread. CX_E_CONFIG for
 * caps out of range, CX_E_NOMEM, CX_E_INTERNAL (thread). */
cx_err gossip_start(const gossip_config *c, gossip_batcher **out);
/* Any thread: appends one transaction's encoding (1..CX_TX_MAX_BYTES bytes,
 * else CX_E_INVALID_ARG). When it does not fit the open batch, that batch is
 * sent first, by this thread. */
cx_err gossip_add(gossip_batcher *b, const uint8_t *tx, size_t len);
/* Any thread: sends the open batch now (nothing when it is empty). */
void gossip_flush(gossip_batcher *b);
void gossip_stats_get(gossip_batcher *b, gossip_stats *out);
/* Sends what is open, stops the thread and frees. No gossip_add may run or
 * follow. NULL is a no-op. */
void gossip_stop(gossip_batcher *b);

#endif
