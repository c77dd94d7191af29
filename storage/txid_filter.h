/* txid_filter: an in-memory filter of every committed transaction id
 * (internal to storage/; store.c is its only user).
 *
 * Why: every transaction's id is looked up in the txid index when it is
 * admitted (is it a replay?) and again when its block executes, and almost
 * every such lookup is for an id that is not there. A LevelDB get for an
 * absent key still walks the memtable's skiplist (bloom filters only spare
 * the table files): ~16% of a replica's CPU in issue 4's libhotstuff-shaped
 * profile at 25,000 commands/s. The filter answers "certainly not
 * committed" from one cache line, and only a "maybe" goes to LevelDB.
 *
 * Shape: a blocked Bloom filter (Putze, Sanders, Singler, "Cache-,
 * Hash- and Space-Efficient Bloom Filters", WEA 2007): each id sets 8 bits
 * inside one 64-byte block, chosen from the id's own bytes (ids are SHA-256
 * digests; an id ground to collide only costs its sender extra gets). At 32
 * ids a block (16 bits an id) a false "maybe" is about 1 in 1,000.
 *
 * Growth without the ids (a scalable Bloom filter: Almeida, Baquero,
 * Preguica, Hutchison, "Scalable Bloom Filters", IPL 2007): when the
 * newest level holds 32 ids a block, a level four times larger starts and
 * takes the new ids; a lookup probes every level, newest first. The
 * store's first level is 2 MB (1M ids), so 64M ids take four levels, four
 * cache lines for an absent id. (Doubling one array by copying each block into both
 * halves keeps every id too, but the copies keep their full load, so the
 * false-positive rate only climbs: test_txid_filter measured 5% after four
 * doublings.) Past max_bytes no level is added and the newest fills up:
 * answers stay correct, just more often "maybe".
 *
 * Correctness rule for the store: an id is added before the write that
 * commits it, and "certainly not" is trusted only once txf_set_ready says
 * the ids committed before the filter existed are in (store.c adds them
 * from a snapshot in a background thread at open). There are no false
 * "not committed" answers, so dropping the filter changes no result.
 *
 * Thread safety: every call takes the filter's mutex (readers are the net
 * and RPC threads, the writer is the commit path; each holds it for
 * nanoseconds). */
#ifndef CUSTOS_TXID_FILTER_H
#define CUSTOS_TXID_FILTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct txid_filter txid_filter;

/* first_ids: ids the first level holds (its blocks are calloc'd, so pages
 * are touched only as ids land); max_bytes: the cap on all levels together
 * (the first level is cut down to fit it, to one 64-byte block at least).
 * NULL on out of memory. */
txid_filter *txf_new(size_t first_ids, size_t max_bytes);
void txf_free(txid_filter *f); /* NULL no-op */

/* Adds a 32-byte id. A new level may fail on out of memory: the newest
 * then keeps filling, which is still correct. */
void txf_add(txid_filter *f, const uint8_t id[32]);

/* 0: id was certainly never added; 1: it may have been. */
int txf_maybe(txid_filter *f, const uint8_t id[32]);

/* The store's readiness flag: 0 until txf_set_ready. */
void txf_set_ready(txid_filter *f);
int txf_ready(txid_filter *f);

/* For tests and status: ids added, bytes held. */
uint64_t txf_count(txid_filter *f);
size_t txf_bytes(txid_filter *f);

#endif
