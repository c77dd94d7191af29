/* journal: append-only records, last intact one counts (journal.h). */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"

#define MAGIC "CXJRNL01"
#define MAGIC_LEN 8
#define SALT_LEN 32
#define TAG_LEN 16
#define STEP ((uint64_t)1 << 20) /* the file grows by written zeros, 1 MiB at a time */

struct journal {
  char path[PATH_MAX];
  int fd;           /* -1 while fresh */
  uint8_t salt[SALT_LEN];
  uint64_t seq;     /* of the last record */
  uint64_t end;     /* offset past the last record */
  uint64_t alloc;   /* file size */
  uint64_t max;
};

/* tag over the 12-byte frame head (len | seq) and the payload */
static void frame_tag(const uint8_t salt[SALT_LEN], const uint8_t head[12], const uint8_t *rec,
                      size_t len, uint8_t out[TAG_LEN]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, salt, SALT_LEN, TAG_LEN);
  crypto_generichash_update(&st, head, 12);
  crypto_generichash_update(&st, rec, len);
  crypto_generichash_final(&st, out, TAG_LEN);
}

int journal_is_journal(const uint8_t *img, size_t len) {
  return len >= MAGIC_LEN && memcmp(img, MAGIC, MAGIC_LEN) == 0;
}

static int nonzero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 1;
  return 0;
}

cx_err journal_scan(const uint8_t *img, size_t len, journal_visit visit, void *ctx, size_t *nrec,
                    size_t *end, int *tail) {
  *nrec = 0;
  *end = 0;
  if (tail) *tail = 0;
  if (len < JOURNAL_HEADER_LEN || !journal_is_journal(img, len)) return CX_E_CORRUPT;
  const uint8_t *salt = img + MAGIC_LEN;
  size_t off = JOURNAL_HEADER_LEN;
  uint64_t prev = 0;
  for (;;) {
    if (len - off < JOURNAL_FRAME_OVERHEAD) break;
    uint32_t rl = get_be32(img + off);
    uint64_t seq = get_be64(img + off + 4);
    if (rl == 0 || rl > len - off - JOURNAL_FRAME_OVERHEAD) break;
    if (*nrec ? seq != prev + 1 : seq == 0) break;
    uint8_t tag[TAG_LEN];
    frame_tag(salt, img + off, img + off + 12, rl, tag);
    if (sodium_memcmp(tag, img + off + 12 + rl, TAG_LEN) != 0) break;
    if (visit) visit(ctx, seq, img + off + 12, rl);
    prev = seq;
    (*nrec)++;
    off += JOURNAL_FRAME_OVERHEAD + rl;
  }
  if (*nrec == 0) return CX_E_CORRUPT; /* a journal file is born with one record */
  *end = off;
  if (tail) *tail = nonzero(img + off, len - off);
  return CX_OK;
}

static cx_err read_file(int fd, uint8_t **buf, size_t *len) {
  struct stat st;
  if (fstat(fd, &st) != 0) return CX_E_IO;
  size_t n = (size_t)st.st_size;
  uint8_t *b = malloc(n ? n : 1);
  if (!b) return CX_E_NOMEM;
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, b + got, n - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      free(b);
      return CX_E_IO;
    }
    got += (size_t)r;
  }
  *buf = b;
  *len = n;
  return CX_OK;
}

static journal *alloc_journal(const char *path, uint64_t max_bytes) {
  if (strlen(path) + 5 > sizeof ((journal *)0)->path) return NULL;
  journal *j = calloc(1, sizeof *j);
  if (!j) return NULL;
  snprintf(j->path, sizeof j->path, "%s", path);
  j->fd = -1;
  j->max = max_bytes < STEP ? STEP : max_bytes;
  return j;
}

cx_err journal_new(const char *path, uint64_t max_bytes, journal **out) {
  *out = alloc_journal(path, max_bytes);
  return *out ? CX_OK : CX_E_NOMEM;
}

static cx_err pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off) {
  while (n) {
    ssize_t w = pwrite(fd, p, n, (off_t)off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return CX_E_IO;
    p += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return CX_OK;
}

static cx_err write_zeros(int fd, uint64_t from, uint64_t to) {
  static const uint8_t zero[65536];
  while (from < to) {
    size_t n = to - from < sizeof zero ? (size_t)(to - from) : sizeof zero;
    cx_err e = pwrite_all(fd, zero, n, from);
    if (e) return e;
    from += n;
  }
  return CX_OK;
}

typedef struct {
  journal_visit visit;
  void *ctx;
  uint64_t seq;
} scan_ctx;

static void scan_both(void *ctx, uint64_t seq, const uint8_t *rec, size_t len) {
  scan_ctx *c = ctx;
  c->seq = seq;
  if (c->visit) c->visit(c->ctx, seq, rec, len);
}

cx_err journal_open(const char *path, uint64_t max_bytes, journal_visit visit, void *ctx,
                    int *tail, journal **out) {
  *out = NULL;
  if (tail) *tail = 0;
  journal *j = alloc_journal(path, max_bytes);
  if (!j) return CX_E_NOMEM;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) {
      free(j);
      return CX_E_IO;
    }
    *out = j; /* fresh: the first append creates the file */
    return CX_OK;
  }
  uint8_t *img = NULL;
  size_t len = 0, nrec = 0, end = 0;
  cx_err e = read_file(fd, &img, &len);
  if (!e && !journal_is_journal(img, len)) e = CX_E_BAD_VERSION;
  scan_ctx sc = {visit, ctx, 0};
  int torn = 0;
  if (!e) e = journal_scan(img, len, scan_both, &sc, &nrec, &end, &torn);
  if (tail) *tail = torn;
  /* A torn append's bytes are zeroed before anything is appended over
   * them: else a shorter record written there would leave them behind, and
   * if they were whole frames of this file (a record damaged in the middle
   * of the file, not by a crash) the next scan could read them again. */
  if (!e && torn && (write_zeros(fd, end, len) || fdatasync(fd) != 0)) e = CX_E_IO;
  if (!e) {
    memcpy(j->salt, img + MAGIC_LEN, SALT_LEN);
    j->fd = fd;
    j->seq = sc.seq;
    j->end = end;
    j->alloc = len;
  }
  free(img);
  if (e) {
    close(fd);
    free(j);
    return e;
  }
  *out = j;
  return CX_OK;
}

int journal_fresh(const journal *j) { return j->fd < 0; }
uint64_t journal_size(const journal *j) { return j->fd < 0 ? 0 : j->end; }

static uint64_t round_step(uint64_t v) { return (v + STEP - 1) / STEP * STEP; }

/* the frame of rec at seq into a new buffer */
static uint8_t *frame(const uint8_t salt[SALT_LEN], uint64_t seq, const uint8_t *rec, size_t len) {
  uint8_t *f = malloc(len + JOURNAL_FRAME_OVERHEAD);
  if (!f) return NULL;
  put_be32(f, (uint32_t)len);
  put_be64(f + 4, seq);
  memcpy(f + 12, rec, len);
  frame_tag(salt, f, rec, len, f + 12 + len);
  return f;
}

static cx_err sync_dir(const char *path) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir) dir[1] = 0;
  else if (slash) *slash = 0;
  else snprintf(dir, sizeof dir, ".");
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return CX_E_IO;
  int rc = fsync(fd);
  close(fd);
  return rc == 0 ? CX_OK : CX_E_IO;
}

cx_err journal_restart(journal *j, const uint8_t *rec, size_t len) {
  if (len == 0 || len > UINT32_MAX - JOURNAL_FRAME_OVERHEAD) return CX_E_INVALID_ARG;
  char tmp[PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s.new", j->path);
  uint8_t salt[SALT_LEN];
  randombytes_buf(salt, sizeof salt);
  uint64_t seq = j->seq + 1;
  uint8_t *f = frame(salt, seq, rec, len);
  if (!f) return CX_E_NOMEM;
  uint8_t head[JOURNAL_HEADER_LEN] = {0};
  memcpy(head, MAGIC, MAGIC_LEN);
  memcpy(head + MAGIC_LEN, salt, SALT_LEN);
  uint64_t end = JOURNAL_HEADER_LEN + len + JOURNAL_FRAME_OVERHEAD;
  uint64_t alloc = round_step(end);
  cx_err e = CX_OK;
  int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) e = CX_E_IO;
  if (!e) e = pwrite_all(fd, head, sizeof head, 0);
  if (!e) e = pwrite_all(fd, f, len + JOURNAL_FRAME_OVERHEAD, JOURNAL_HEADER_LEN);
  if (!e) e = write_zeros(fd, end, alloc);
  if (!e && fdatasync(fd) != 0) e = CX_E_IO;
  if (!e && rename(tmp, j->path) != 0) e = CX_E_IO;
  if (!e) e = sync_dir(j->path);
  free(f);
  if (e) {
    if (fd >= 0) close(fd);
    unlink(tmp);
    return e;
  }
  if (j->fd >= 0) close(j->fd);
  j->fd = fd;
  memcpy(j->salt, salt, SALT_LEN);
  j->seq = seq;
  j->end = end;
  j->alloc = alloc;
  return CX_OK;
}

cx_err journal_append(journal *j, const uint8_t *rec, size_t len) {
  if (len == 0 || len > UINT32_MAX - JOURNAL_FRAME_OVERHEAD) return CX_E_INVALID_ARG;
  if (j->fd < 0) return journal_restart(j, rec, len);
  uint64_t end = j->end + len + JOURNAL_FRAME_OVERHEAD;
  if (end > j->max) return CX_E_FULL;
  uint8_t *f = frame(j->salt, j->seq + 1, rec, len);
  if (!f) return CX_E_NOMEM;
  cx_err e = CX_OK;
  uint64_t alloc = j->alloc;
  if (end > alloc) { /* grow by written zeros first (see journal.h) */
    alloc = round_step(end);
    e = write_zeros(j->fd, j->alloc, alloc);
  }
  if (!e) e = pwrite_all(j->fd, f, len + JOURNAL_FRAME_OVERHEAD, j->end);
  if (!e && fdatasync(j->fd) != 0) e = CX_E_IO;
  free(f);
  if (e) return e;
  j->alloc = alloc;
  j->seq++;
  j->end = end;
  return CX_OK;
}

void journal_close(journal *j) {
  if (!j) return;
  if (j->fd >= 0) close(j->fd);
  free(j);
}
