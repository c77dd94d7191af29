/* vault: a bureau's private records, encrypted at rest (issue 7; see
 * docs/vault.md).
 *
 * Each bureau keeps, per data domain it owns, one record per subject (DID):
 * a fixed list of int64 field values described by the domain's schema. The
 * records live in their own LevelDB database (DIR/vault), apart from the
 * chain store: nothing of the vault enters the state root, and the vault's
 * contents never leave the node except as MPC shares.
 *
 * Encryption: every record value is sealed with XChaCha20-Poly1305
 * (libsodium AEAD) under the vault's data key, with a fresh random nonce
 * and additional data = "custos/vault/v1" || domain || did || key id, so a
 * sealed record moved to another subject, domain or key does not open. The
 * data key comes from the node's keystore (the caller passes it); a record
 * names the key id (a counter) it was sealed under. vault_rotate re-seals
 * every record under a new key in one synced batch and forgets the old one.
 *
 * Access log: every read of records for a call appends an entry
 * (call id, contract id, subject, domain, field names read, time) whose
 * hash chains to the previous one: h_i = H(h_{i-1} || entry_i). Editing,
 * removing or reordering an entry is detected by vault_log_verify.
 *
 * Snapshot commitment: vault_domain_root is the Merkle root (core/merkle.h)
 * over the domain's records in DID order, leaf = H(domain || did ||
 * H(blind || record plaintext)): a call's result can name the snapshot it
 * used. The root is hiding: each record's 32-byte blind is a PRF (keyed
 * BLAKE2b) of a random commitment secret drawn when the vault is created
 * and kept sealed in it; the secret does not change on rotation, so neither
 * does the root. The bureau can open one record to an auditor
 * (vault_record_opening, vault_record_path); the auditor checks it with
 * vault_leaf and merkle_verify alone (docs/vault.md "Domain root").
 *
 * Plaintext record values are returned in caller-provided memory that the
 * caller must wipe (sodium_memzero); the vault wipes its own copies. The
 * data key is copied into sodium_malloc'd memory and wiped at close.
 * Thread safety: one vault handle is used by one thread at a time. */
#ifndef CUSTOS_VAULT_H
#define CUSTOS_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"
#include "merkle.h"

#define VAULT_KEY_BYTES 32
#define VAULT_MAX_FIELDS 64
#define VAULT_FIELD_MAX 32   /* field name bytes, [a-z][a-z0-9_]* */
#define VAULT_DOMAIN_MAX 16  /* = CX_DOMAIN_MAX */

/* The schema of a domain: its fields, each an int (with an inclusive range)
 * or a bool (0/1). Field order is the record's value order. */
typedef struct {
  char name[VAULT_FIELD_MAX + 1];
  int is_bool;
  int64_t lo, hi;
} vault_field;

typedef struct {
  char domain[VAULT_DOMAIN_MAX + 1];
  size_t nfields;
  vault_field fields[VAULT_MAX_FIELDS];
} vault_schema;

typedef struct vault vault;

/* Opens (creating if absent) DIR/vault with the data key `key` (key id
 * key_id >= 1). CX_E_PASSPHRASE if the vault holds records sealed under
 * another key id or that do not open with this key (checked on a stored
 * canary record), CX_E_IO / CX_E_CORRUPT otherwise. A new vault draws its
 * commitment secret here. */
cx_err vault_open(const char *dir, const uint8_t key[VAULT_KEY_BYTES], uint32_t key_id, vault **out);
/* (also CX_E_LOCKED: another process has it open; CX_E_DB; CX_E_BAD_VERSION
 * for a vault of another format, among them format 1 of the unblinded roots,
 * which is refused, not upgraded (a sentence goes to the log); CX_E_CRYPTO
 * if the commitment secret does not open although the canary did) */
void vault_close(vault *v); /* wipes the key; NULL is a no-op */

/* Registers (or replaces, if no record exists yet) a domain's schema; the
 * schema is stored. CX_E_INVALID_ARG with a sentence in err for a bad
 * schema (names, ranges, duplicate fields, too many), CX_E_EXISTS if the
 * domain has records and the schema differs. */
cx_err vault_schema_set(vault *v, const vault_schema *s, char *err, size_t errlen);
cx_err vault_schema_get(vault *v, const char *domain, vault_schema *out); /* CX_E_NOT_FOUND */

/* Stores (replaces) the record of subject did in domain: nvals values in
 * schema order, each checked against its field (CX_E_INVALID_ARG with a
 * sentence naming the field: "age: 200 is outside 0..150"). Synced. */
cx_err vault_put(vault *v, const char *domain, const cx_hash *did, const int64_t *vals, size_t nvals,
                 char *err, size_t errlen);
/* Many records in one synced batch (an import); all or nothing. */
typedef struct {
  cx_hash did;
  const int64_t *vals; /* schema's nfields values */
} vault_record;
cx_err vault_put_batch(vault *v, const char *domain, const vault_record *recs, size_t n, char *err,
                       size_t errlen);

/* Reads the record into vals[nfields] (caller wipes). CX_E_NOT_FOUND,
 * CX_E_CRYPTO if it does not open (tampered on disk), CX_E_FULL if cap <
 * nfields (*nvals is set). A batch naming one DID twice is refused. */
cx_err vault_get(vault *v, const char *domain, const cx_hash *did, int64_t *vals, size_t cap, size_t *nvals);
cx_err vault_count(vault *v, const char *domain, uint64_t *n);

/* Re-seals every record under new_key (key id = current + 1) in one synced
 * batch; the old key is wiped. */
cx_err vault_rotate(vault *v, const uint8_t new_key[VAULT_KEY_BYTES], uint32_t *new_key_id);
uint32_t vault_key_id(const vault *v);

/* Merkle root over the domain's records (see above) and their count (may
 * be NULL): 32 zero bytes for none. Opens every record the first time;
 * the handle then keeps the root until it writes records, a schema or a
 * new key (a call reads its domains' roots every time; a file changed on
 * disk behind an open handle is not noticed until it is reopened).
 * CX_E_NOT_FOUND without a schema. */
cx_err vault_domain_root(vault *v, const char *domain, cx_hash *root, uint64_t *count);

/* The opening of one record for an auditor: its values (as vault_get, same
 * errors and caps) and its 32-byte blind. Both are the caller's to wipe;
 * giving them away reveals this record and nothing of the others. */
cx_err vault_record_opening(vault *v, const char *domain, const cx_hash *did, uint8_t blind[32],
                            int64_t *vals, size_t cap, size_t *nvals);
/* The record's audit path in the domain root: its 0-based index in DID
 * order, the leaf count n and the path (merkle_path). CX_E_NOT_FOUND if
 * there is no such record. Opens every record of the domain. */
cx_err vault_record_path(vault *v, const char *domain, const cx_hash *did, size_t *idx, size_t *n,
                         cx_hash path[MERKLE_MAX_DEPTH], size_t *path_len);
/* Pure: the leaf data of a record (what merkle_root / merkle_verify take),
 * from the domain's name, the DID, the blind and the n values in schema
 * order (n <= VAULT_MAX_FIELDS; domain a valid domain name):
 *   rh   = BLAKE2b-256("custos/vault/record/v2\0" || blind || values as int64 LE)
 *   leaf = BLAKE2b-256("custos/vault/leaf/v2\0" || u8 len || domain || did || rh)
 * An auditor given an opening and a path checks
 *   merkle_verify(leaf, idx, n, path, path_len, root). */
void vault_leaf(const char *domain, const cx_hash *did, const uint8_t blind[32], const int64_t *vals,
                size_t n, cx_hash *leaf);

/* The domains that have a schema, sorted by name (strcmp), into out[0..cap)
 * (NUL-terminated); *n = how many there are. CX_E_FULL if more than cap
 * (the first cap are written), CX_E_CORRUPT for a malformed schema key. */
cx_err vault_domains(vault *v, char (*out)[VAULT_DOMAIN_MAX + 1], size_t cap, size_t *n);

/* ---- backup (docs/operations.md, "Backup and restore") ---- */

/* Copies the vault, records still sealed (raw key/values: nothing is
 * opened), into a NEW database dir/vault (dir created 0700 if absent;
 * CX_E_EXISTS if dir/vault exists), which vault_open(dir, same key, same
 * key id) opens with the same records, log and domain roots. Synced.
 * *keys and sha256 as store_backup_digest. Sentence in errbuf. */
cx_err vault_backup(vault *v, const char *dir, uint64_t *keys, uint8_t sha256[32], char *errbuf,
                    size_t errlen);

/* ---- access log ---- */

typedef struct {
  cx_hash call;       /* the call's id */
  cx_hash contract;
  cx_hash subject;    /* DID */
  char domain[VAULT_DOMAIN_MAX + 1];
  char fields[256];   /* field names read, comma-separated */
  uint64_t time_ms;
} vault_access;

/* Appends the n entries a[0..n) in one synced write, all or none (an entry
 * with a bad domain or field list refuses the lot: CX_E_INVALID_ARG); *seq
 * gets the 0-based index of the first (may be NULL). */
cx_err vault_log_append(vault *v, const vault_access *a, size_t n, uint64_t *seq);
/* Entry seq and the chain hash after it. */
cx_err vault_log_get(vault *v, uint64_t seq, vault_access *out, cx_hash *chain);
uint64_t vault_log_len(const vault *v);
/* Recomputes the whole chain: CX_OK (*bad = the log length), or
 * CX_E_CORRUPT with *bad = the first entry whose stored hash does not match
 * (edited, removed or reordered). `fields` of an entry must be a
 * comma-separated list of field names. */
cx_err vault_log_verify(vault *v, uint64_t *bad);

#endif
