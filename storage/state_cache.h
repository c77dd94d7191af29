/* state_cache: the store's in-memory cache of committed state entries
 * (internal to storage/; store.c is its only user).
 *
 * Why: every transaction reads the same few state keys several times on
 * its way to a block — its sender's nonce at admission, in the rule dry run,
 * at block selection and at execution; the rule's own keys in the dry run
 * and at execution — and each read was a LevelDB get (a memtable skiplist
 * walk and a bloom probe per table), about a tenth of a validator's CPU
 * under load (issue 4's profile). Absent keys are cached too: a fresh
 * subject's identity and key index are read absent twice per node.
 *
 * Shape: direct-mapped slots of small keys and values (larger ones are not
 * cached and always go to LevelDB), locked by stripes so RPC threads and
 * the writer thread read at once.
 *
 * Consistency (the only subtle part): a reader that misses reads LevelDB
 * and then fills the slot, and a commit may land between the two. The
 * generation works as a sequence lock: the writer makes it odd before a
 * commit's LevelDB write (sc_begin), stores every written entry
 * (sc_update), and makes it even again (sc_end). A reader takes the
 * generation before its LevelDB read (sc_gen); sc_fill drops the value if
 * that generation was odd or has moved, so a value read before a write can
 * never land after the update that superseded it. A lookup is a hit only
 * with the same even generation before and after it, so no commit was
 * under way: store.c publishes each commit (its new height and snapshot)
 * before sc_end, so a hit is the value of the published state, as its
 * snapshot read would be (test_store's concurrent readers check it). sc_clear
 * empties the cache when the state is replaced wholesale (state sync). */
#ifndef CUSTOS_STATE_CACHE_H
#define CUSTOS_STATE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SC_KEY_MAX 64  /* longer keys are not cached */
#define SC_VAL_MAX 160 /* longer values are not cached */

typedef struct state_cache state_cache;

/* slots: a power of two. NULL on out of memory. */
state_cache *sc_new(size_t slots);
void sc_free(state_cache *c); /* NULL no-op */

/* The generation to pass to sc_fill; read it before the LevelDB read. */
uint64_t sc_gen(state_cache *c);

/* 1 on a hit (never while a commit is under way): *e = CX_OK with *val a malloc'd copy (caller frees) and
 * *vlen, or *e = CX_E_NOT_FOUND (cached as absent), or *e = CX_E_NOMEM.
 * 0 on a miss. */
int sc_get(state_cache *c, const uint8_t *key, size_t klen, cx_err *e, uint8_t **val,
           size_t *vlen);

/* A reader's fill after a miss: val == NULL caches the key as absent.
 * Dropped when the generation is no longer gen, or the sizes exceed the caps. */
void sc_fill(state_cache *c, uint64_t gen, const uint8_t *key, size_t klen, const uint8_t *val,
             size_t vlen);

/* Writer only: sc_begin before a commit's LevelDB write; after it, for each
 * written entry sc_update with the new committed value (val NULL: deleted;
 * over the caps: the key's slot is emptied); then sc_end, also when the
 * write failed. */
void sc_begin(state_cache *c);
void sc_update(state_cache *c, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
void sc_end(state_cache *c);

/* Writer only: forgets everything and bumps the generation. */
void sc_clear(state_cache *c);

#endif
