/* LevelDB helpers shared by the chain store and the vault (ldb.h). */
#include "ldb.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"

cx_err ldb_map_err(const char *err) {
  if (strncmp(err, "Corruption", 10) == 0) return CX_E_CORRUPT;
  if (strncmp(err, "IO error", 8) == 0) return CX_E_IO;
  return CX_E_DB;
}

cx_err ldb_lock_dir(const char *dir, const char *name, const char *what, int *fd, char *errbuf,
                    size_t errlen) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *path = malloc(n);
  cx_err e = CX_OK;
  *fd = -1;
  if (!path) return CX_E_NOMEM;
  snprintf(path, n, "%s/%s", dir, name);
  if ((*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(errno));
    e = CX_E_IO;
  } else if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
    int locked = errno == EWOULDBLOCK;
    if (errbuf && errlen) {
      if (locked)
        snprintf(errbuf, errlen, "the %s in %s is in use by another process (or already open in this one)",
                 what, dir);
      else
        snprintf(errbuf, errlen, "cannot lock %s: %s", path, strerror(errno));
    }
    e = locked ? CX_E_LOCKED : CX_E_IO;
    close(*fd);
    *fd = -1;
  }
  free(path);
  return e;
}

/* ---- backups ------------------------------------------------------------ */

#define COPY_BATCH_BYTES (4u << 20) /* a batch is written when it holds this much */

static void digest_add(crypto_hash_sha256_state *h, const char *k, size_t kl, const char *v,
                       size_t vl) {
  uint8_t len[4];
  put_be32(len, (uint32_t)kl);
  crypto_hash_sha256_update(h, len, 4);
  crypto_hash_sha256_update(h, (const uint8_t *)k, kl);
  put_be32(len, (uint32_t)vl);
  crypto_hash_sha256_update(h, len, 4);
  crypto_hash_sha256_update(h, (const uint8_t *)v, vl);
}

static cx_err ldb_fail(char *err, const char *what, const char *path, char *errbuf,
                       size_t errlen) {
  cx_err e = ldb_map_err(err);
  if (errbuf && errlen) snprintf(errbuf, errlen, "%s %s failed: %s", what, path, err);
  leveldb_free(err);
  return e;
}

static cx_err flush_batch(leveldb_t *db, leveldb_writebatch_t *wb, int sync, const char *dst,
                          char *errbuf, size_t errlen) {
  char *err = NULL;
  leveldb_writeoptions_t *wo = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(wo, sync);
  leveldb_write(db, wo, wb, &err);
  leveldb_writeoptions_destroy(wo);
  leveldb_writebatch_clear(wb);
  return err ? ldb_fail(err, "writing", dst, errbuf, errlen) : CX_OK;
}

cx_err ldb_copy(leveldb_t *src, const leveldb_snapshot_t *snap, const char *dst, uint64_t *nkeys,
                uint8_t sha[32], char *errbuf, size_t errlen) {
  char *err = NULL;
  cx_err e = CX_OK;
  uint64_t n = 0;
  size_t pending = 0;
  crypto_hash_sha256_state h;
  /* mkdir refuses an existing directory: a backup never writes into one. */
  if (mkdir(dst, 0700) != 0) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "cannot create %s: %s", dst, strerror(errno));
    return errno == EEXIST ? CX_E_EXISTS : CX_E_IO;
  }
  leveldb_options_t *opt = leveldb_options_create();
  leveldb_options_set_create_if_missing(opt, 1);
  leveldb_options_set_error_if_exists(opt, 1);
  leveldb_t *db = leveldb_open(opt, dst, &err);
  if (err) {
    e = ldb_fail(err, "creating", dst, errbuf, errlen);
    leveldb_options_destroy(opt);
    return e;
  }
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(ro, 1);
  leveldb_readoptions_set_fill_cache(ro, 0); /* a full scan: keep the node's cache */
  if (snap) leveldb_readoptions_set_snapshot(ro, snap);
  leveldb_writebatch_t *wb = leveldb_writebatch_create();
  leveldb_iterator_t *it = leveldb_create_iterator(src, ro);
  crypto_hash_sha256_init(&h);
  for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t kl, vl;
    const char *k = leveldb_iter_key(it, &kl);
    const char *v = leveldb_iter_value(it, &vl);
    digest_add(&h, k, kl, v, vl);
    leveldb_writebatch_put(wb, k, kl, v, vl);
    n++;
    pending += kl + vl;
    if (pending >= COPY_BATCH_BYTES) {
      if ((e = flush_batch(db, wb, 0, dst, errbuf, errlen))) break;
      pending = 0;
    }
  }
  if (!e) {
    leveldb_iter_get_error(it, &err);
    if (err) e = ldb_fail(err, "reading the database for", dst, errbuf, errlen);
  }
  /* The last batch is synced: LevelDB's log then holds every earlier one. */
  if (!e) e = flush_batch(db, wb, 1, dst, errbuf, errlen);
  leveldb_iter_destroy(it);
  leveldb_writebatch_destroy(wb);
  leveldb_readoptions_destroy(ro);
  leveldb_close(db);
  leveldb_options_destroy(opt);
  if (!e) {
    crypto_hash_sha256_final(&h, sha);
    *nkeys = n;
  }
  return e;
}

cx_err ldb_digest(const char *path, uint64_t *nkeys, uint8_t sha[32], char *errbuf, size_t errlen) {
  char *err = NULL;
  cx_err e = CX_OK;
  uint64_t n = 0;
  crypto_hash_sha256_state h;
  leveldb_options_t *opt = leveldb_options_create();
  leveldb_options_set_paranoid_checks(opt, 1);
  leveldb_t *db = leveldb_open(opt, path, &err); /* create_if_missing off: must exist */
  if (err) {
    e = ldb_fail(err, "opening", path, errbuf, errlen);
    leveldb_options_destroy(opt);
    return e;
  }
  leveldb_readoptions_t *ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(ro, 1);
  leveldb_readoptions_set_fill_cache(ro, 0);
  leveldb_iterator_t *it = leveldb_create_iterator(db, ro);
  crypto_hash_sha256_init(&h);
  for (leveldb_iter_seek_to_first(it); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t kl, vl;
    const char *k = leveldb_iter_key(it, &kl);
    const char *v = leveldb_iter_value(it, &vl);
    digest_add(&h, k, kl, v, vl);
    n++;
  }
  leveldb_iter_get_error(it, &err);
  if (err) e = ldb_fail(err, "reading", path, errbuf, errlen);
  leveldb_iter_destroy(it);
  leveldb_readoptions_destroy(ro);
  leveldb_close(db);
  leveldb_options_destroy(opt);
  if (!e) {
    crypto_hash_sha256_final(&h, sha);
    *nkeys = n;
  }
  return e;
}
