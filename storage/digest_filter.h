/* digest_filter: an in-memory filter of 32-byte digests, for the store's
 * "is it there?" questions whose answer is almost always no (internal to
 * storage/; store.c is its only user). It has two uses there:
 *  - committed transaction ids: every transaction's id is looked up in the
 *    txid index at admission (a replay?) and again when its block
 *    executes, almost always absent;
 *  - state keys (their tagged SHA-256, which also picks the bucket): a new
 *    subject's identity, its key index entries and a new sender's nonce
 *    are read absent on every node, at admission, in the dry run and at
 *    execution.
 * A LevelDB get for an absent key still walks the memtable's skiplist
 * (bloom filters only spare the table files): the txid lookups were ~16%
 * of a replica's CPU in issue 4's libhotstuff-shaped profile at 25,000
 * commands/s, the absent state reads ~15% of the consensus and RPC threads
 * under bench_bft. The filter answers "certainly not there" from one cache
 * line, and only a "maybe" goes to LevelDB.
 *
 * Shape: a blocked Bloom filter (Putze, Sanders, Singler, "Cache-,
 * Hash- and Space-Efficient Bloom Filters", WEA 2007): each digest sets 8
 * bits inside one 64-byte block, chosen from the digest's own bytes (they
 * are SHA-256 outputs; digests ground to collide only cost their sender
 * extra gets). At 32 digests a block (16 bits each) a false "maybe" is
 * about 1 in 1,000.
 *
 * Growth without the keys (a scalable Bloom filter: Almeida, Baquero,
 * Preguica, Hutchison, "Scalable Bloom Filters", IPL 2007): when the
 * newest level holds 32 digests a block, a level four times larger starts
 * and takes the new ones; a lookup probes every level, newest first. With
 * a first level of 2 MB (1M digests), 64M take four levels: four cache
 * lines for an absent key. (Doubling one array by copying each block into
 * both halves keeps every digest too, but the copies keep their full load,
 * so the false-positive rate only climbs: test_digest_filter measured 5%
 * after four doublings.) Past max_bytes no level is added and the newest
 * fills up: answers stay correct, just more often "maybe".
 *
 * Correctness rule for the store: a digest is added before the write that
 * makes its key present, and "certainly not" is trusted only once
 * df_set_ready says the keys present before the filter existed are in
 * (store.c adds txids from a snapshot in a background thread at open, and
 * state keys during the state scan open does anyway). Nothing is ever
 * removed (a deleted key's bits stay: a "maybe" more), so there are no
 * false "not there" answers, and dropping the filter changes no result.
 *
 * Thread safety: every call takes the filter's mutex (readers are the net,
 * RPC and consensus threads, the writer is the commit path; each holds it
 * for nanoseconds). */
#ifndef CUSTOS_DIGEST_FILTER_H
#define CUSTOS_DIGEST_FILTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct digest_filter digest_filter;

/* first: digests the first level holds (its blocks are calloc'd, so
 * pages are touched only as digests land); max_bytes: the cap on all levels together
 * (the first level is cut down to fit it, to one 64-byte block at least).
 * NULL on out of memory. */
digest_filter *df_new(size_t first, size_t max_bytes);
void df_free(digest_filter *f); /* NULL no-op */

/* Adds a 32-byte digest. A new level may fail on out of memory: the newest
 * then keeps filling, which is still correct. */
void df_add(digest_filter *f, const uint8_t d[32]);

/* 0: d was certainly never added; 1: it may have been. */
int df_maybe(digest_filter *f, const uint8_t d[32]);

/* The store's readiness flag: 0 until df_set_ready. */
void df_set_ready(digest_filter *f);
int df_ready(digest_filter *f);

/* For tests and status: digests added, bytes held. */
uint64_t df_count(digest_filter *f);
size_t df_bytes(digest_filter *f);

#endif
