/* storage: the node's LevelDB store — blocks, commit certificates, the
 * transaction index, and the state with its authenticated root.
 *
 * One LevelDB database per node (DIR/chain). Every block is committed in one
 * synced WriteBatch, so after a crash the store holds exactly the blocks that
 * store_commit() reported as committed (see docs/storage.md).
 *
 * Storage knows bytes, not transaction semantics: blocks and certificates are
 * stored as the opaque canonical encodings the caller gives it.
 *
 * State root ("bucket tree", after Hyperledger Fabric 0.6's bucket tree):
 *   - each state key k lives in bucket b(k) = first 2 bytes (big-endian) of
 *     H_STATE_KEY(k), so there are STORE_BUCKETS = 65536 buckets;
 *   - leaf(k,v)   = H_STATE_LEAF(u32be(len k) || k || u32be(len v) || v);
 *   - bucket hash = 32 zero bytes if empty, else
 *                   H_STATE_BUCKET(leaf_1 || ... || leaf_m), leaves ordered by key
 *                   (memcmp order, shorter first on common prefix);
 *   - a complete binary tree over the 65536 bucket hashes, node =
 *     H_STATE_NODE(left || right); the root is the state root.
 *   An inclusion proof is the bucket's entries plus 16 sibling hashes.
 *
 * Thread safety: one writer thread calls store_ws_root, store_commit,
 * store_init_genesis and store_install_*. Any thread may use a write set of
 * its own for a speculative check (store_ws_new/get/put/del/mark/rollback/
 * free; its reads see the latest committed state). Readers (RPC threads) may
 * call store_height, store_tip_hash, store_state_root, store_chain_id, the
 * store_*_get functions, store_block_height, store_block_hash,
 * store_state_proof*, store_verify_all, store_base and store_snap_*
 * concurrently with store_commit(); every call sees either the
 * state before or after a commit, never a mix (LevelDB snapshots published
 * together with the tip). Key layout, commit protocol and start-up checks:
 * docs/storage.md. */
#ifndef CUSTOS_STORE_H
#define CUSTOS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"

#define STORE_BUCKET_BITS 16
#define STORE_BUCKETS (1u << STORE_BUCKET_BITS)
#define STORE_KEY_MAX 256            /* state key cap, bytes */
#define STORE_VALUE_MAX (1u << 20)   /* state value cap, bytes */

typedef struct store store;

typedef struct {
  int sync;          /* 1 (default in production): fsync each commit */
  size_t cache_mb;   /* LevelDB block cache; 0 = LevelDB's default */
  /* Decodes a stored block's header into its hash and parent hash (storage
   * does not know the block format). Used by the start-up check and by
   * store_verify_all. NULL: only the recorded hash links are checked. */
  cx_err (*block_hasher)(const uint8_t *blk, size_t len, cx_hash *hash, cx_hash *parent);
  unsigned check_depth; /* blocks re-hashed at open, back from the tip; 0 = 64 */
  /* Lists a stored block's transaction ids in order (*ids malloc'd, the
   * caller frees it). With it the txid index is written behind: entries
   * gather (at most 256 heights) and go under their txids in one sorted run
   * (docs/storage.md, "The txid index, written behind"), and after a crash
   * the ones still pending are read back from the blocks. NULL: each
   * commit writes its own, and a store with pending entries does not open
   * (CX_E_INVALID_ARG). Answers are the same either way. */
  cx_err (*block_txids)(const uint8_t *blk, size_t len, cx_hash **ids, size_t *n);
  unsigned index_batch; /* entries gathered before a write; 0 = 8192, 1 = none */
} store_opts;

/* Opens (creating if absent) the store in directory dir. On start it checks:
 * LevelDB paranoid checks and checksums; for the last check_depth blocks,
 * that block_hasher(bytes) gives the recorded hash and that each block's
 * parent is the recorded hash of the block below; and that the state root
 * recomputed from the stored state equals the root recorded at the tip. Any mismatch: CX_E_CORRUPT with a plain description
 * in errbuf. A store already open (in another process, or through another
 * handle in this one): CX_E_LOCKED.
 * On success *out is owned by the caller; free with store_close(). */
cx_err store_open(const char *dir, const store_opts *opts, store **out, char *errbuf,
                  size_t errlen);
void store_close(store *s); /* NULL is a no-op */

/* Height of the last committed block; 0 when only genesis state exists and
 * no block has been committed. */
uint64_t store_height(const store *s);
/* Hash of the block at the tip (all zero for a fresh store). */
void store_tip_hash(const store *s, cx_hash *out);
/* State root of the committed state. */
void store_state_root(const store *s, cx_hash *out);

/* Committed blocks. *buf is malloc'd and owned by the caller (free()). */
cx_err store_block_get(store *s, uint64_t height, uint8_t **buf, size_t *len);
cx_err store_cert_get(store *s, uint64_t height, uint8_t **buf, size_t *len);
cx_err store_block_height(store *s, const cx_hash *block_hash, uint64_t *height);
/* The recorded hash of the block at height. */
cx_err store_block_hash(store *s, uint64_t height, cx_hash *out);

/* Transaction index: where a committed transaction is and its receipt code
 * (a cx_err: CX_OK = applied, other = the rule that rejected it). */
typedef struct {
  uint64_t height;
  uint32_t index;
  int32_t code;
} store_txloc;
cx_err store_tx_get(store *s, const cx_hash *txid, store_txloc *out);
/* 1 once the in-memory filter of committed txids (storage/digest_filter.h)
 * holds every id committed before open, and store_tx_get answers most
 * absent ids without LevelDB; until then, and if it could not be built,
 * every lookup goes to LevelDB. Answers are the same either way. */
int store_txid_filter_ready(store *s);

/* Records of the node's own kept beside the chain, outside the state, the
 * blocks and every root (node/host.c keeps the consensus's held blocks
 * here). store_aux_put is one synced LevelDB put: atomic, and durable when
 * it returns (CX_E_IO otherwise, which the caller treats as fatal); cheaper
 * than a file written aside and renamed (two fsyncs and a new inode).
 * name: 1..STORE_AUX_NAME_MAX bytes. store_aux_get: *val malloc'd (free()),
 * CX_E_NOT_FOUND if never written. Writer thread only. */
#define STORE_AUX_NAME_MAX 32
cx_err store_aux_put(store *s, const char *name, const uint8_t *val, size_t len);
cx_err store_aux_get(store *s, const char *name, uint8_t **val, size_t *len);

/* Committed state. *val malloc'd, owned by caller. CX_E_NOT_FOUND if absent. */
cx_err store_state_get(store *s, const uint8_t *key, size_t klen, uint8_t **val,
                       size_t *vlen);

/* A write set: pending changes over the committed state. Reads through it see
 * the pending changes first. Used to execute a block (then store_commit) or
 * to check a transaction speculatively (then store_ws_free: discarded).
 * A write set is owned by its creator and used by one thread. */
typedef struct store_ws store_ws;
store_ws *store_ws_new(store *s); /* NULL on out of memory */
void store_ws_free(store_ws *ws); /* NULL is a no-op */
cx_err store_ws_get(store_ws *ws, const uint8_t *key, size_t klen, uint8_t **val,
                    size_t *vlen);
cx_err store_ws_put(store_ws *ws, const uint8_t *key, size_t klen, const uint8_t *val,
                    size_t vlen); /* CX_E_TOO_LONG over the caps */
cx_err store_ws_del(store_ws *ws, const uint8_t *key, size_t klen);
/* Savepoints let a caller undo the writes of one transaction. */
size_t store_ws_mark(store_ws *ws);
void store_ws_rollback(store_ws *ws, size_t mark);
/* The state root the committed state would have with this write set applied.
 * Does not modify the store. */
cx_err store_ws_root(store_ws *ws, cx_hash *root);

typedef struct {
  cx_hash txid;
  int32_t code;
} store_txent;

/* Commits block `height` (must be store_height()+1) atomically and durably:
 * the block bytes, its hash, its certificate bytes (may be empty), the tx
 * index entries (index = position in txs; pending in memory and durable
 * through the block with opts.block_txids, see there), the write set, and
 * the new tip and state root — one LevelDB WriteBatch written with sync=true.
 * parent_hash must equal store_tip_hash() (CX_E_BAD_PARENT otherwise).
 * The write set is consumed (freed) whether or not the commit succeeds; ws may
 * be NULL (no state change). With opts->block_hasher set, the block bytes must
 * hash to block_hash and name parent_hash (CX_E_BAD_BLOCK otherwise), so a
 * store never records a block it would call damaged at the next start.
 * A failed synced write is CX_E_IO and the caller must treat it as fatal. */
cx_err store_commit(store *s, store_ws *ws, uint64_t height, const cx_hash *block_hash,
                    const cx_hash *parent_hash, const uint8_t *block, size_t blen,
                    const uint8_t *cert, size_t clen, const store_txent *txs, size_t ntx);

/* Applies a write set as the genesis state (height 0) once, on a fresh store
 * (CX_E_EXISTS otherwise), in one synced batch with the chain id and root.
 * Comparing the recorded chain id with the configured genesis at a later start
 * is the caller's job (store_chain_id). Unlike store_commit, the write set is
 * NOT consumed: the caller still frees it. ws may be NULL (empty state). */
cx_err store_init_genesis(store *s, store_ws *ws, const cx_hash *chain_id);
/* The chain id recorded at genesis; CX_E_NOT_FOUND on a fresh store. */
cx_err store_chain_id(store *s, cx_hash *out);

/* Full check of the hash chain of every stored block (slow; for
 * `custosd --check`); CX_E_CORRUPT with a description in errbuf. */
cx_err store_verify_all(store *s, char *errbuf, size_t errlen);

/* Inclusion proof of a state entry (for auditors; used by later issues):
 * the bucket's entries as encoded by the caller's needs. Returns the bucket
 * index and the 16 sibling hashes from bucket to root (siblings[0] is the
 * neighbour bucket's hash, siblings[15] a child of the root). The key need not
 * exist: the bucket's entries then prove its absence. */
cx_err store_state_proof(store *s, const uint8_t *key, size_t klen, uint32_t *bucket,
                         cx_hash siblings[STORE_BUCKET_BITS]);

/* A self-contained proof: the siblings, the bucket's committed entries (in key
 * order) and the root and height they belong to, all read from one committed
 * state (store_state_proof plus a separate read could straddle a commit).
 * Verify: bucket hash from the entries as in the header comment, then for
 * level i = 0..15 with node = STORE_BUCKETS + bucket shifted right i times:
 * node even -> H_STATE_NODE(cur || siblings[i]), odd -> H_STATE_NODE(siblings[i] || cur);
 * the result must equal root. */
typedef struct {
  uint8_t *key;
  size_t klen;
  uint8_t *val;
  size_t vlen;
} store_kv;
typedef struct {
  uint64_t height; /* committed height the proof was taken at */
  cx_hash root;    /* state root at that height */
  uint32_t bucket;
  cx_hash siblings[STORE_BUCKET_BITS];
  store_kv *entries; /* malloc'd; release with store_proof_free() */
  size_t n;
} store_proof;
cx_err store_state_proof_ex(store *s, const uint8_t *key, size_t klen, store_proof *out);
void store_proof_free(store_proof *p); /* frees the entries; NULL is a no-op */

/* ---- backup (docs/operations.md, "Backup and restore") ---- */

typedef struct {
  uint64_t height;  /* committed height of the snapshot */
  cx_hash tip;      /* its block hash */
  cx_hash root;     /* its state root */
  cx_hash chain_id; /* all zero when has_chain is 0 (a store before genesis) */
  int has_chain;
  uint64_t keys;    /* LevelDB keys copied */
  uint8_t sha256[32]; /* store_backup_digest of the copy */
} store_backup_info;

/* Copies the committed store, as of one moment, into a NEW store at
 * dir/chain (dir is created 0700 if absent; CX_E_EXISTS if dir/chain
 * exists), which store_open(dir) opens. The moment is the published
 * snapshot at the call (the one readers see), pinned for the copy, so the
 * height, tip, root and every key belong to one committed state while the
 * writer keeps committing. Raw key/values, synced before the return. May
 * run on any thread. Sentence in errbuf on failure. */
cx_err store_backup(store *s, const char *dir, store_backup_info *out, char *errbuf, size_t errlen);

/* The digest of a backed-up database directory (DIR/chain or DIR/vault;
 * it is opened, so it must not be in use): SHA-256 over every key in order
 * as u32be klen || key || u32be vlen || value, and the key count. This is
 * what store_backup and vault_backup report, so a copy can be checked. */
cx_err store_backup_digest(const char *dbdir, uint64_t *keys, uint8_t sha256[32], char *errbuf,
                           size_t errlen);

/* ---- state sync (docs/statesync.md; docs/storage.md, "State sync") ----
 *
 * A snapshot is the committed state at one height, cut along the bucket
 * tree into STORE_SNAP_CHUNKS chunks: chunk c holds the buckets
 * [c * STORE_SNAP_CHUNK_BUCKETS, (c + 1) * STORE_SNAP_CHUNK_BUCKETS), whose
 * subtree is tree node STORE_SNAP_CHUNKS + c (8 levels below the root). */
#define STORE_SNAP_CHUNKS 256u
#define STORE_SNAP_CHUNK_BUCKETS (STORE_BUCKETS / STORE_SNAP_CHUNKS)

/* The pure hashing of the bucket tree (the same functions the store uses),
 * for a client that checks a chunk or a manifest against a root: */
/* b(k): the bucket of a state key. */
uint16_t store_key_bucket(const uint8_t *key, size_t klen);
/* A bucket's hash from its entries, fed in key order. */
typedef struct {
  hash_ctx c;
  size_t n;
} store_bucket_acc;
void store_bucket_begin(store_bucket_acc *a);
void store_bucket_add(store_bucket_acc *a, const uint8_t *key, size_t klen, const uint8_t *val,
                      size_t vlen);
void store_bucket_end(store_bucket_acc *a, cx_hash *out); /* 32 zero bytes when empty */
/* Folds n (a power of two, 1..STORE_SNAP_CHUNKS) adjacent tree nodes up to their common
 * ancestor: H_STATE_NODE(left || right) level by level. STORE_SNAP_CHUNKS
 * subtree hashes fold to the root; a chunk's STORE_SNAP_CHUNK_BUCKETS
 * bucket hashes fold to its subtree hash. */
void store_fold(const cx_hash *nodes, size_t n, cx_hash *out);

/* The lowest block a state-synced store holds (its base B: blocks below B
 * were never stored, store_block_get/store_cert_get/store_block_hash there
 * are CX_E_NOT_FOUND); 0 for a store holding every block from 1. */
uint64_t store_base(const store *s);

/* A pinned committed state, for serving a snapshot while the writer goes
 * on committing (a reference to the LevelDB snapshot that was published
 * with it, as readers hold one for a call). */
typedef struct store_snap store_snap;
typedef struct {
  uint64_t height; /* committed height */
  cx_hash tip;     /* its block hash */
  cx_hash root;    /* its state root */
  cx_hash subtrees[STORE_SNAP_CHUNKS]; /* chunk c's subtree hash */
} store_snap_info;
/* Pins the published state. Any thread. store_close releases the pins still
 * held (their handles are then invalid). */
cx_err store_snap_pin(store *s, store_snap **out);
void store_snap_unpin(store_snap *p); /* NULL is a no-op */
const store_snap_info *store_snap_info_of(const store_snap *p);
/* One page of chunk `chunk` (< STORE_SNAP_CHUNKS) of the pinned state:
 * entries in (bucket, key) order, from the chunk's start or, with has_after,
 * after the state key `after` (whose bucket places it; a key outside the
 * chunk gives the chunk's start when it sorts before it, nothing after it),
 * handed to fn (key and value valid during the call). The page stops before
 * the entry that would take it over `budget` bytes (klen + vlen + 6 per
 * entry: two varints and the bytes) or over max_entries, but always holds
 * one entry when one is left. *more = 1 when entries of the chunk remain.
 * Any thread. */
typedef void (*store_snap_fn)(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val,
                              size_t vlen);
cx_err store_snap_chunk(store_snap *p, unsigned chunk, int has_after, const uint8_t *after,
                        size_t after_len, size_t budget, size_t max_entries, store_snap_fn fn,
                        void *ctx, int *more);

/* Installing a snapshot, on a store at height 0 (writer thread; readers keep
 * seeing the height-0 state until store_install_finish publishes the new
 * one):
 *   begin  : in one synced batch, moves the height-0 state aside (prefix
 *            'G'), clears the state and marks the install in progress
 *            (M "restoring" = height). CX_E_EXISTS unless the store is at
 *            height 0 with a chain id and no install is under way.
 *   chunk  : replaces the entries of one chunk with ents (each key must
 *            hash into the chunk: CX_E_INVALID_ARG; caps as store_ws_put).
 *   finish : recomputes the root from the state written; not `root`:
 *            CX_E_BAD_ROOT (nothing written, the install stays open). Else
 *            one synced batch: the block (with block_hasher: its bytes must
 *            hash to block_hash and name parent), its certificate, the tip
 *            record (height, block_hash, root), M "base" = height; the
 *            marker and the saved state go. The store is then at `height`
 *            with base `height`. Its transaction index starts above it.
 *   abort  : puts the saved height-0 state back and drops the marker.
 * A store opened with the marker set (a crash during an install) is put
 * back the same way: the height-0 state with its chain id, as before the
 * install began. Sentence in errbuf where there is one. */
cx_err store_install_begin(store *s, uint64_t height);
cx_err store_install_chunk(store *s, unsigned chunk, const store_kv *ents, size_t n);
cx_err store_install_finish(store *s, uint64_t height, const cx_hash *block_hash,
                            const cx_hash *parent, const cx_hash *root, const uint8_t *block,
                            size_t blen, const uint8_t *cert, size_t clen, char *errbuf,
                            size_t errlen);
cx_err store_install_abort(store *s);

#endif
