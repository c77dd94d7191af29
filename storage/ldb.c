/* LevelDB helpers shared by the chain store and the vault (ldb.h). */
#include "ldb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

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
