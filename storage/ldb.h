/* storage internals shared by store.c and vault.c (not a public header):
 * LevelDB error mapping and the directory lock each database takes before
 * LevelDB touches it. */
#ifndef CUSTOS_STORAGE_LDB_H
#define CUSTOS_STORAGE_LDB_H

#include <leveldb/c.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* A LevelDB error string as a cx_err: CX_E_CORRUPT, CX_E_IO or CX_E_DB. */
cx_err ldb_map_err(const char *err);

/* Opens DIR/NAME and takes an exclusive flock() on it, kept for as long as
 * *fd stays open. Why flock and not LevelDB's own LOCK: LevelDB's is an
 * fcntl lock, which is per process, so a second leveldb_open of the same
 * directory in this process fails but closes its descriptor of LOCK and so
 * silently drops the first handle's lock against other processes. flock()
 * locks belong to the open file: a second open, in this process or
 * another, is refused here and LevelDB's lock stays intact.
 * CX_E_LOCKED ("the WHAT in DIR is in use by another process (or already
 * open in this one)"), CX_E_IO or CX_E_NOMEM, with the sentence in errbuf;
 * *fd is then -1. */
cx_err ldb_lock_dir(const char *dir, const char *name, const char *what, int *fd, char *errbuf,
                    size_t errlen);

/* Backups (store_backup, vault_backup): copies every key/value of src as
 * seen through snap (NULL: its current state) into a NEW LevelDB at dst
 * (CX_E_EXISTS if dst exists; created 0700), written in batches and synced
 * at the end, so the copy is on disk when this returns. Raw bytes: nothing
 * is decoded or decrypted. *nkeys and sha get the count and the digest of
 * the stream (ldb_digest). Sentence in errbuf on failure. */
cx_err ldb_copy(leveldb_t *src, const leveldb_snapshot_t *snap, const char *dst, uint64_t *nkeys,
                uint8_t sha[32], char *errbuf, size_t errlen);
/* The digest of an existing LevelDB at path, read key by key (the database
 * is opened, so it must not be in use): SHA-256 over, per key in order,
 * u32be klen || key || u32be vlen || value. */
cx_err ldb_digest(const char *path, uint64_t *nkeys, uint8_t sha[32], char *errbuf, size_t errlen);

#endif
