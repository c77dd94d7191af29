/* node: one custosd — the store, the vm, the mempool, the consensus engine
 * and the JSON-RPC server wired together.
 *
 * Threads: RPC workers call node_submit and the query functions; one
 * producer thread runs the consensus engine (timers, block building,
 * commits). Stores and mempool are safe for that split (see their headers).
 *
 * The same object runs in-process for tests and benchmarks: open it with
 * node_open, drive blocks with node_produce_block, and skip node_start. */
#ifndef CUSTOS_NODE_H
#define CUSTOS_NODE_H

#include <stddef.h>
#include <stdint.h>

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
/* Starts the RPC server, the member links (net.h) and the producer thread. */
cx_err node_start(node *n, char *err, size_t errlen);
/* Stops threads and the RPC server (idempotent), then frees. NULL no-op. */
void node_close(node *n);
/* Port the RPC server listens on (after node_start). */
uint16_t node_rpc_port(const node *n);

/* Admission of a transaction (canonical encoding). Checks, cheapest first:
 * size, decode, chain, nonce window, duplicate, signature, rule dry-run,
 * mempool caps. On failure detail gets a sentence (e.g. the decode offset). */
cx_err node_submit(node *n, const uint8_t *raw, size_t len, cx_hash *txid, char *detail,
                   size_t detail_len);

/* Builds, votes on and commits one block from the mempool now (in-process
 * use; the producer thread does the same on its timer). *ntx = transactions
 * in the block (0: mempool empty, nothing committed). A storage or fsync
 * failure is returned and the node must stop. */
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
/* 0 while the consortium has n > 1 validators (no BFT engine yet). */
int node_has_consensus(const node *n);
/* Transactions received by gossip: admitted, duplicates, refused. */
void node_gossip_stats(const node *n, uint64_t *admitted, uint64_t *dup, uint64_t *refused);
/* 1 once a fatal error stopped block production (the process should exit). */
int node_failed(const node *n);

#endif
