/* api: the JSON-RPC methods of custosd (docs/rpc.md), over node.h. */
#ifndef CUSTOS_API_H
#define CUSTOS_API_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "node.h"
#include "rpc.h"
#include "tx.h"

/* The method table; ctx of every handler is the node*. */
void api_methods(const rpc_method **out, size_t *n);
/* call_wait and tx_proof (node/api_calls.c; docs/rpc.md); ctx is the node*
 * too. Kept apart from api_methods: the server registers both tables. */
void api_calls_methods(const rpc_method **out, size_t *n);
/* The read-only list methods and member_history (node/api_lists.c;
 * docs/rpc.md "Lists", "Governance history"). */
void api_lists_methods(const rpc_method **out, size_t *n);
/* key_get and key_list, the consortium keys (node/api_keys.c; docs/rpc.md
 * "Consortium keys"). */
void api_keys_methods(const rpc_method **out, size_t *n);

/* member_history's cache for node n (node/api_lists.c): the height its
 * scan reached and the blocks it has read in all (0, 0 when none). Tests. */
void api_member_history_stats(const node *n, uint64_t *scanned, uint64_t *blocks_read);

/* Helpers of the api_*.c method files: a hex string field (any length), a
 * number field, and an invalid_params error with its detail. */
void api_add_hex(cJSON *o, const char *k, const uint8_t *b, size_t n);
void api_add_u64(cJSON *o, const char *k, uint64_t v);
cx_err api_params_err(rpc_error *err, const char *detail);

/* A committed transaction read back from its block and decoded (*out the
 * caller's to tx_clear): CX_E_NOT_FOUND when not committed, a store or
 * decode error otherwise. */
cx_err api_committed_tx(node *n, const cx_hash *txid, cx_tx *out);

/* tx_proof's answer for committed transaction txid (docs/rpc.md tx_proof:
 * txid, height, index, code, header, hash, cert, ntx, tx_path,
 * receipt_path), into *out (the caller's to cJSON_Delete); with raw_to
 * non-NULL the transaction's signed encoding is also added to it as "raw"
 * (hex), read from the same block. CX_E_NOT_FOUND when not committed (or
 * still in the mempool); a store error otherwise. Used by tx_proof and
 * member_history (node/api_calls.c, node/api_lists.c). */
cx_err api_tx_proof(node *n, const cx_hash *txid, cJSON **out, cJSON *raw_to);

/* JSON rendering of a decoded transaction (also used by the CLI). */
cJSON *api_tx_to_json(const cx_tx *tx);
cJSON *api_member_to_json(const cx_member *m);

#endif
