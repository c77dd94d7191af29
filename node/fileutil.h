/* fileutil: whole-file reads, atomic durable writes, and the JSON field
 * readers shared by the config, genesis and keystore parsers. */
#ifndef CUSTOS_FILEUTIL_H
#define CUSTOS_FILEUTIL_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Reads a whole file (cap bytes at most) into a NUL-terminated malloc'd buffer. */
cx_err file_read_all(const char *path, size_t cap, char **out, size_t *len);
/* Writes a file atomically: tmp file, fsync, rename, fsync dir. mode e.g. 0644/0600. */
cx_err file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* JSON field helpers shared by the config and genesis parsers: each writes a
 * message naming `where` into err on failure. */
cx_err json_check_keys(const cJSON *obj, const char *const *allowed, const char *where,
                       char *err, size_t errlen);
cx_err json_get_str(const cJSON *obj, const char *key, int required, const char **out,
                    const char *where, char *err, size_t errlen);
cx_err json_get_u64(const cJSON *obj, const char *key, int required, uint64_t *out,
                    const char *where, char *err, size_t errlen);
cx_err json_get_bool(const cJSON *obj, const char *key, int required, int *out,
                     const char *where, char *err, size_t errlen);

#endif
