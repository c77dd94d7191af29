#include "fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cx_err file_read_all(const char *path, size_t cap, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return errno == ENOENT ? CX_E_NOT_FOUND : CX_E_IO;
  char *buf = malloc(cap + 1);
  if (!buf) {
    fclose(f);
    return CX_E_NOMEM;
  }
  size_t n = fread(buf, 1, cap + 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return CX_E_IO;
  }
  if (n > cap) {
    free(buf);
    return CX_E_TOO_LONG;
  }
  buf[n] = 0;
  *out = buf;
  if (len) *len = n;
  return CX_OK;
}

cx_err file_write_atomic(const char *path, const void *data, size_t len, unsigned mode) {
  size_t pl = strlen(path);
  char *tmp = malloc(pl + 8), *dcopy = strdup(path);
  cx_err rc = CX_E_IO;
  int fd = -1;
  if (!tmp || !dcopy) {
    rc = CX_E_NOMEM;
    goto out;
  }
  snprintf(tmp, pl + 8, "%s.tmp", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) goto out;
  if (fchmod(fd, mode) != 0) goto out;
  const uint8_t *p = data;
  size_t left = len;
  while (left) {
    ssize_t w = write(fd, p, left);
    if (w < 0) {
      if (errno == EINTR) continue;
      goto out;
    }
    p += w;
    left -= (size_t)w;
  }
  if (fsync(fd) != 0) goto out;
  if (close(fd) != 0) {
    fd = -1;
    goto out;
  }
  fd = -1;
  if (rename(tmp, path) != 0) goto out;
  int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    int ok = fsync(dfd) == 0;
    close(dfd);
    if (!ok) goto out;
  }
  rc = CX_OK;
out:
  if (fd >= 0) close(fd);
  if (rc != CX_OK && tmp) unlink(tmp);
  free(tmp);
  free(dcopy);
  return rc;
}

cx_err json_check_keys(const cJSON *obj, const char *const *allowed, const char *where,
                       char *err, size_t errlen) {
  if (!cJSON_IsObject(obj)) {
    snprintf(err, errlen, "%s: expected an object", where);
    return CX_E_CONFIG;
  }
  for (const cJSON *c = obj->child; c; c = c->next) {
    int ok = 0;
    for (size_t i = 0; allowed[i]; i++)
      if (strcmp(c->string, allowed[i]) == 0) ok = 1;
    if (!ok) {
      snprintf(err, errlen, "%s.%s: unknown field", where, c->string);
      return CX_E_CONFIG;
    }
  }
  return CX_OK;
}

cx_err json_get_str(const cJSON *obj, const char *key, int required, const char **out,
                    const char *where, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) {
    if (!required) return CX_OK;
    snprintf(err, errlen, "%s.%s: missing", where, key);
    return CX_E_CONFIG;
  }
  if (!cJSON_IsString(v)) {
    snprintf(err, errlen, "%s.%s: expected a string", where, key);
    return CX_E_CONFIG;
  }
  *out = v->valuestring;
  return CX_OK;
}

cx_err json_get_u64(const cJSON *obj, const char *key, int required, uint64_t *out,
                    const char *where, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) {
    if (!required) return CX_OK;
    snprintf(err, errlen, "%s.%s: missing", where, key);
    return CX_E_CONFIG;
  }
  /* Integers above 2^53 are not exact in a double: refuse them. */
  if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
      v->valuedouble != (double)(uint64_t)v->valuedouble) {
    snprintf(err, errlen, "%s.%s: expected a non-negative integer", where, key);
    return CX_E_CONFIG;
  }
  *out = (uint64_t)v->valuedouble;
  return CX_OK;
}

cx_err json_get_bool(const cJSON *obj, const char *key, int required, int *out,
                     const char *where, char *err, size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) {
    if (!required) return CX_OK;
    snprintf(err, errlen, "%s.%s: missing", where, key);
    return CX_E_CONFIG;
  }
  if (!cJSON_IsBool(v)) {
    snprintf(err, errlen, "%s.%s: expected true or false", where, key);
    return CX_E_CONFIG;
  }
  *out = cJSON_IsTrue(v);
  return CX_OK;
}
