/* node: one custosd — the store, the vm, the mempool, the consensus engine
 * (consensus/bft.h), the member links and the JSON-RPC server wired
 * together (docs/consensus.md, "The node's wiring").
 *
 * Threads: RPC workers call node_submit and the query functions; the net
 * thread admits gossiped transactions, checks consensus messages and
 * answers block sync; one consensus thread owns the engine (its event
 * queue, timers, block building and execution, commits) and is the store's
 * only writer. Stores and mempool are safe for that split (see their
 * headers).
 *
 * The same object runs in-process for tests and benchmarks: open it with
 * node_open, drive blocks with node_produce_block, and skip node_start. */
#ifndef CUSTOS_NODE_H
#define CUSTOS_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "bft.h"
#include "config.h"
#include "error.h"
#include "hash.h"
#include "mempool.h"
#include "net.h"
#include "store.h"
#include "vm.h"

typedef struct node node;

/* Opens the store (initialising it from genesis when fresh, refusing a store
 * of another chain), loads the member key, and restores the safety record.
 * err gets a sentence on failure. *out owned by the caller (node_close). */
cx_err node_open(const node_config *cfg, node **out, char *err, size_t errlen);
/* Starts the RPC server, the member links (net.h) and the consensus thread. */
cx_err node_start(node *n, char *err, size_t errlen);
/* Stops threads and the RPC server (idempotent), then frees. NULL no-op. */
void node_close(node *n);
/* Port the RPC server listens on (after node_start). */
uint16_t node_rpc_port(const node *n);

/* Admission of a transaction (canonical encoding). Checks, cheapest first:
 * size, decode, chain, nonce window, duplicate, signature, rule dry-run,
 * mempool caps. On failure detail gets a sentence (e.g. the decode offset).
 * A command (TX_COMMAND) is checked only for the chain's bench_commands
 * (CX_E_WRONG_CHAIN without it) and its txid: CX_E_DUPLICATE when pending
 * or committed (detail "committed at height H"), CX_E_MEMPOOL_FULL. */
cx_err node_submit(node *n, const uint8_t *raw, size_t len, cx_hash *txid, char *detail,
                   size_t detail_len);

/* Drives the engine synchronously through one height: START and every
 * resulting action up to the commit of a block from the mempool (in-process
 * use by benchmarks and tests, without node_start). *ntx = transactions in
 * the block (0: mempool empty, nothing committed). CX_E_CONFIG when the
 * validator set has more than one member (their votes come over the
 * network) or the consensus thread runs. A storage or fsync failure is
 * returned and the node must stop. */
cx_err node_produce_block(node *n, size_t *ntx);

/* Read access for queries (api.c). The vm_state reads the committed state. */
const vm_state *node_state(node *n);
store *node_store(node *n);
mempool *node_mempool(node *n);
const vm_genesis *node_genesis(const node *n);
void node_chain_id(const node *n, cx_hash *out);
const node_config *node_cfg(const node *n);
const cx_pubkey *node_key(const node *n);
/* Member links (NULL before node_start). */
net *node_net(node *n);
/* The engine's status (bft_get_status, as of its last step) and the
 * counters of refused peer input. */
typedef struct {
  bft_status engine;
  size_t validators;     /* size of the set deciding engine.height */
  uint64_t bad_messages; /* consensus messages refused */
  uint64_t bad_sync;     /* sync messages or blocks refused */
} node_cs_status;
void node_consensus_status(node *n, node_cs_status *out);

/* Equivocation seen by the engine (BFT_ACT_EVIDENCE): one signer, two
 * different signed messages for the same (height, round, type). The node
 * keeps the last 64 in memory. */
typedef struct {
  uint64_t height;
  uint32_t round;
  uint8_t type;            /* bft_msg_type */
  uint16_t signer;         /* index in the validator set of that height */
  char name[CX_NAME_MAX + 1];
  cx_hash hash1, hash2;    /* the two block hashes (zero = nil) */
  uint64_t time_ms;        /* when it was seen (wall clock) */
} node_evidence;
/* Copies up to cap records, newest first; returns the count. */
size_t node_evidence_list(node *n, node_evidence *out, size_t cap);
/* Transactions received by gossip: admitted, duplicates, refused. */
void node_gossip_stats(const node *n, uint64_t *admitted, uint64_t *dup, uint64_t *refused);
/* 1 once a fatal error stopped consensus (the process should exit). */
int node_failed(const node *n);

#endif
