/* storage internals shared by store.c and vault.c (not a public header):
 * LevelDB error mapping and the directory lock each database takes before
 * LevelDB touches it. */
#ifndef CUSTOS_STORAGE_LDB_H
#define CUSTOS_STORAGE_LDB_H

#include <stddef.h>

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

#endif
