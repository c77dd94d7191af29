/* mempool: admitted, not yet committed transactions.
 *
 * Bounded: at most max_txs in all and max_per_sender per sender key, and at
 * most one transaction per (sender, nonce). Deduplicated by txid. Entries are
 * kept in arrival order; a block takes, in that order, each transaction whose
 * nonce is the next one of its sender (so a sender's transactions commit in
 * nonce order and a gap simply waits).
 *
 * Benchmark commands (TX_COMMAND: no sender, no nonce) live in a lane of
 * their own: FIFO, deduplicated by txid in the same table, counted against
 * the same max_txs, selected after the signed transactions in arrival
 * order, removed after commit by txid (mempool_remove_commands).
 *
 * Thread-safe: RPC threads add, the block producer selects and removes. The
 * mempool does not verify anything: the caller admits only transactions that
 * passed the checks of node.c (decode, chain, nonce, signature, rules). */
#ifndef CUSTOS_MEMPOOL_H
#define CUSTOS_MEMPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"
#include "keys.h"
#include "tx.h"

typedef struct mempool mempool;

typedef struct {
  size_t size, max, senders;
  size_t commands; /* of size: pending commands (the FIFO lane) */
  uint64_t admitted, rejected, committed;
} mempool_stats;

mempool *mempool_new(size_t max_txs, size_t max_per_sender);
void mempool_free(mempool *m); /* NULL no-op */

/* Takes ownership of tx (its heap parts) and a copy of the encoding on
 * success; on failure the caller keeps tx. CX_E_DUPLICATE (txid known, or
 * that sender's nonce already pending), CX_E_MEMPOOL_FULL, CX_E_SENDER_LIMIT. */
cx_err mempool_add(mempool *m, cx_tx *tx, const cx_hash *txid, const uint8_t *raw,
                   size_t len);
/* A command (raw: its CX_COMMAND_BYTES encoding, copied) at the tail of the
 * FIFO lane. CX_E_DUPLICATE (txid pending), CX_E_MEMPOOL_FULL. */
cx_err mempool_add_command(mempool *m, const cx_hash *txid, const uint8_t *raw);
int mempool_has(mempool *m, const cx_hash *txid);
/* What mempool_add would refuse tx for now, without adding it: the same
 * codes (CX_E_DUPLICATE, CX_E_MEMPOOL_FULL, CX_E_SENDER_LIMIT), CX_OK if it
 * has room. Admission asks before it verifies a signature, so a full
 * mempool does not cost a verification per refused transaction;
 * mempool_add checks again under its lock. */
cx_err mempool_check(mempool *m, const cx_tx *tx, const cx_hash *txid);
/* Copy of a pending transaction's encoding (*raw malloc'd); CX_E_NOT_FOUND. */
cx_err mempool_get_raw(mempool *m, const cx_hash *txid, uint8_t **raw, size_t *len);
/* Number of pending transactions of a sender. */
size_t mempool_pending_of(mempool *m, const cx_pubkey *sender);
void mempool_stats_get(mempool *m, mempool_stats *out);
void mempool_note_rejected(mempool *m);

/* Block selection. The callback is given candidates in order; it returns 1
 * to take the transaction (consuming that sender's next nonce), 0 to skip it,
 * -1 to stop. next_nonce(sender) is asked once per sender per selection. */
typedef struct {
  void *ctx;
  uint64_t (*next_nonce)(void *ctx, const cx_pubkey *sender);
  int (*take)(void *ctx, const cx_tx *tx, const cx_hash *txid, const uint8_t *raw,
              size_t len);
} mempool_selector;
void mempool_select(mempool *m, size_t max, const mempool_selector *sel);
/* The command lane's selection: take is given up to max pending commands
 * in arrival order and answers as mempool_selector's take (1 taken, 0
 * skipped, -1 stop). Returns how many were taken. A block builder calls it
 * after mempool_select with what is left of the block. */
typedef int (*mempool_take_command)(void *ctx, const cx_hash *txid, const uint8_t *raw,
                                    size_t len);
size_t mempool_select_commands(mempool *m, size_t max, mempool_take_command take, void *ctx);

/* After a commit: removes, for each committed (sender, nonce), the pending
 * entry holding that nonce — the committed transaction itself or a
 * competitor that can never be valid now. O(n). */
typedef struct {
  cx_pubkey sender;
  uint64_t nonce;
} mempool_slot_ref;
void mempool_remove_committed(mempool *m, const mempool_slot_ref *refs, size_t n);
/* After a commit: removes the pending commands with these txids (ids of
 * anything else are ignored). O(n) in ids. */
void mempool_remove_commands(mempool *m, const cx_hash *ids, size_t n);

#endif
