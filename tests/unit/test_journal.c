/* Tests for storage/journal.c and its user node_safety_parse (node/node.c),
 * DATA/safety: the journal hands back exactly what was appended, in order,
 * through reopens and 1 MiB growth steps; a crash-torn or damaged last
 * record is dropped (the records before it stand, the next append takes its
 * place) while damage at the front refuses the file; a frame is only read
 * in the file whose salt tagged it and at the seq it was written with, so
 * bytes copied from elsewhere (block bytes are chosen by others) never
 * count as a record; a full journal writes nothing and journal_restart
 * starts a new file (new salt) holding one record. node_safety_parse gives
 * the last record's safety and the last held part, refuses a record that is
 * not a DATA/safety record, and still reads the older forms (two slots,
 * bare record). The safety engine's own record is test_bft's. */
#include <check.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bft.h"
#include "codec.h"
#include "hash.h"
#include "journal.h"
#include "node_internal.h"
#include "testutil.h"

#define MIB ((uint64_t)1 << 20)
#define HDR JOURNAL_HEADER_LEN
#define OVH JOURNAL_FRAME_OVERHEAD

/* ---- helpers ---- */

/* What a visit callback saw. */
typedef struct {
  size_t n;
  uint64_t seq[64];
  uint8_t *rec[64];
  size_t len[64];
} seen;

static void on_rec(void *ctx, uint64_t seq, const uint8_t *rec, size_t len) {
  seen *s = ctx;
  ck_assert_uint_lt(s->n, 64);
  s->seq[s->n] = seq;
  s->len[s->n] = len;
  s->rec[s->n] = malloc(len);
  ck_assert_ptr_nonnull(s->rec[s->n]);
  memcpy(s->rec[s->n], rec, len);
  s->n++;
}

static void seen_free(seen *s) {
  for (size_t i = 0; i < s->n; i++) free(s->rec[i]);
  memset(s, 0, sizeof *s);
}

/* A payload of len bytes, different for each tag. */
static uint8_t *payload(size_t len, unsigned tag) {
  uint8_t *p = malloc(len);
  ck_assert_ptr_nonnull(p);
  for (size_t i = 0; i < len; i++) p[i] = (uint8_t)(tag * 131u + i * 7u + (i >> 8) + 1u);
  return p;
}

static char *path_in(const char *dir, const char *name) {
  char *p = malloc(strlen(dir) + strlen(name) + 2);
  ck_assert_ptr_nonnull(p);
  sprintf(p, "%s/%s", dir, name);
  return p;
}

static int exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static uint64_t file_size(const char *path) {
  struct stat st;
  ck_assert_int_eq(stat(path, &st), 0);
  return (uint64_t)st.st_size;
}

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  ck_assert_int_ge(n, 0);
  rewind(f);
  uint8_t *b = malloc((size_t)n ? (size_t)n : 1);
  ck_assert_ptr_nonnull(b);
  ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void write_all(const char *path, const uint8_t *b, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, len, f), len);
  ck_assert_int_eq(fclose(f), 0);
}

/* Overwrites n bytes at off in place (the file keeps its size). */
static void poke(const char *path, uint64_t off, const void *p, size_t n) {
  int fd = open(path, O_WRONLY);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
  close(fd);
}

static void flip(const char *path, uint64_t off) {
  uint8_t b;
  int fd = open(path, O_RDWR);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(pread(fd, &b, 1, (off_t)off), 1);
  b ^= 0x20;
  ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)off), 1);
  close(fd);
}

static void put64be(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}

/* Opens path, collecting its records into *s; returns journal_open's error. */
static cx_err reopen(const char *path, uint64_t max, seen *s, int *tail, journal **out) {
  memset(s, 0, sizeof *s);
  return journal_open(path, max, on_rec, s, tail, out);
}

/* Record count of path as journal_open sees it. */
static size_t count_records(const char *path) {
  seen s;
  journal *j = NULL;
  ck_assert_int_eq(reopen(path, 16 * MIB, &s, NULL, &j), CX_OK);
  size_t n = s.n;
  seen_free(&s);
  journal_close(j);
  return n;
}

/* A journal at path with the given payload lengths (payload(len, i)). */
static void make_journal(const char *path, const size_t *lens, size_t n) {
  journal *j = NULL;
  ck_assert_int_eq(journal_open(path, 16 * MIB, NULL, NULL, NULL, &j), CX_OK);
  for (size_t i = 0; i < n; i++) {
    uint8_t *p = payload(lens[i], (unsigned)i);
    ck_assert_int_eq(journal_append(j, p, lens[i]), CX_OK);
    free(p);
  }
  journal_close(j);
}

/* ---- the journal ---- */

/* What goes in comes out: same payloads and seqs, in order, across growth. */
START_TEST(test_roundtrip_and_growth) {
  char *dir = tu_tmpdir("jrnl");
  char *path = path_in(dir, "j");
  const size_t lens[] = {1, 100, 5000, MIB + 3000, 7, 65536, MIB / 2, 1, MIB};
  const size_t n = sizeof lens / sizeof lens[0];
  journal *j = NULL;
  ck_assert_int_eq(journal_open(path, 16 * MIB, NULL, NULL, NULL, &j), CX_OK);
  uint64_t want = HDR;
  for (size_t i = 0; i < n; i++) {
    uint8_t *p = payload(lens[i], (unsigned)i);
    ck_assert_int_eq(journal_append(j, p, lens[i]), CX_OK);
    free(p);
    want += lens[i] + OVH;
    ck_assert_uint_eq(journal_size(j), want);
    ck_assert_uint_eq(file_size(path) % MIB, 0);
  }
  journal_close(j);
  uint64_t on_disk = file_size(path);
  ck_assert_uint_eq(on_disk % MIB, 0);
  ck_assert_uint_ge(on_disk, 3 * MIB); /* grew by more than one step */
  ck_assert_uint_ge(on_disk, want);

  seen s;
  int tail = -1;
  ck_assert_int_eq(reopen(path, 16 * MIB, &s, &tail, &j), CX_OK);
  ck_assert_int_eq(journal_fresh(j), 0);
  ck_assert_int_eq(tail, 0);
  ck_assert_uint_eq(journal_size(j), want);
  ck_assert_uint_eq(s.n, n);
  for (size_t i = 0; i < n; i++) {
    uint8_t *p = payload(lens[i], (unsigned)i);
    ck_assert_uint_eq(s.len[i], lens[i]);
    ck_assert_mem_eq(s.rec[i], p, lens[i]);
    if (i) ck_assert_uint_eq(s.seq[i], s.seq[i - 1] + 1);
    else ck_assert_uint_ge(s.seq[0], 1);
    free(p);
  }
  /* appends go on after a reopen */
  uint8_t one = 0x5a;
  ck_assert_int_eq(journal_append(j, &one, 1), CX_OK);
  uint64_t last = s.seq[n - 1];
  journal_close(j);
  seen_free(&s);
  ck_assert_int_eq(reopen(path, 16 * MIB, &s, NULL, &j), CX_OK);
  ck_assert_uint_eq(s.n, n + 1);
  ck_assert_uint_eq(s.seq[n], last + 1);
  ck_assert_uint_eq(s.len[n], 1);
  ck_assert_uint_eq(s.rec[n][0], 0x5a);
  ck_assert_uint_eq(journal_size(j), want + 1 + OVH);
  /* a zero-length record is refused */
  ck_assert_int_eq(journal_append(j, &one, 0), CX_E_INVALID_ARG);
  journal_close(j);
  seen_free(&s);
  free(path);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* A missing path: nothing on disk until the first append, which writes the
 * file aside and renames it (no PATH.new left). */
START_TEST(test_fresh_journal) {
  char *dir = tu_tmpdir("jrnl");
  char *path = path_in(dir, "safety");
  char *tmp = path_in(dir, "safety.new");
  journal *j = NULL;
  int tail = -1;
  ck_assert_int_eq(journal_open(path, 0, NULL, NULL, &tail, &j), CX_OK);
  ck_assert_ptr_nonnull(j);
  ck_assert_int_eq(tail, 0);
  ck_assert_int_eq(journal_fresh(j), 1);
  ck_assert_uint_eq(journal_size(j), 0);
  ck_assert_int_eq(exists(path), 0);
  uint8_t rec[40];
  memset(rec, 0xab, sizeof rec);
  ck_assert_int_eq(journal_append(j, rec, sizeof rec), CX_OK);
  ck_assert_int_eq(journal_fresh(j), 0);
  ck_assert_int_eq(exists(path), 1);
  ck_assert_int_eq(exists(tmp), 0);
  ck_assert_uint_eq(journal_size(j), HDR + sizeof rec + OVH);
  ck_assert_uint_eq(file_size(path), MIB);
  journal_close(j);

  seen s;
  ck_assert_int_eq(reopen(path, 0, &s, NULL, &j), CX_OK);
  ck_assert_int_eq(journal_fresh(j), 0);
  ck_assert_uint_eq(s.n, 1);
  ck_assert_uint_eq(s.len[0], sizeof rec);
  ck_assert_mem_eq(s.rec[0], rec, sizeof rec);
  journal_close(j);
  seen_free(&s);

  /* journal_new: the same, over whatever the path holds */
  uint8_t junk[4232] = {0};
  junk[0] = 1;
  write_all(path, junk, sizeof junk);
  ck_assert_int_eq(journal_new(path, 0, &j), CX_OK);
  ck_assert_int_eq(journal_fresh(j), 1);
  ck_assert_int_eq(journal_append(j, rec, 3), CX_OK);
  ck_assert_int_eq(journal_fresh(j), 0);
  ck_assert_int_eq(exists(tmp), 0);
  journal_close(j);
  ck_assert_uint_eq(count_records(path), 1);
  free(tmp);
  free(path);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* The third record torn (truncated), damaged (one payload byte) or at the
 * wrong seq: the first two stand, *tail says bytes remain, and the next
 * append takes the third's place and seq. */
START_TEST(test_torn_tail) {
  const size_t lens[] = {50, 60, 200};
  const uint64_t off3 = HDR + (50 + OVH) + (60 + OVH);
  for (int kind = 0; kind < 3; kind++) {
    char *dir = tu_tmpdir("jrnl");
    char *path = path_in(dir, "j");
    make_journal(path, lens, 3);
    ck_assert_uint_eq(count_records(path), 3);
    if (kind == 0) { /* a crash inside the third append */
      ck_assert_int_eq(truncate(path, (off_t)(off3 + 100)), 0);
    } else if (kind == 1) {
      flip(path, off3 + 12 + 77);
    } else {
      uint8_t seq[8];
      put64be(seq, 9);
      poke(path, off3 + 4, seq, sizeof seq);
    }
    seen s;
    journal *j = NULL;
    int tail = -1;
    ck_assert_int_eq(reopen(path, 16 * MIB, &s, &tail, &j), CX_OK);
    ck_assert_msg(s.n == 2, "kind %d: %zu records", kind, s.n);
    ck_assert_int_eq(tail, 1);
    ck_assert_uint_eq(journal_size(j), off3);
    for (size_t i = 0; i < 2; i++) {
      uint8_t *p = payload(lens[i], (unsigned)i);
      ck_assert_uint_eq(s.len[i], lens[i]);
      ck_assert_mem_eq(s.rec[i], p, lens[i]);
      free(p);
    }
    uint64_t second = s.seq[1];
    seen_free(&s);

    uint8_t *p = payload(30, 99);
    ck_assert_int_eq(journal_append(j, p, 30), CX_OK);
    ck_assert_uint_eq(journal_size(j), off3 + 30 + OVH);
    journal_close(j);
    ck_assert_int_eq(reopen(path, 16 * MIB, &s, NULL, &j), CX_OK);
    ck_assert_msg(s.n == 3, "kind %d: %zu records after the append", kind, s.n);
    ck_assert_uint_eq(s.seq[2], second + 1);
    ck_assert_uint_eq(s.len[2], 30);
    ck_assert_mem_eq(s.rec[2], p, 30);
    journal_close(j);
    seen_free(&s);
    free(p);
    free(path);
    tu_rmrf(dir);
    free(dir);
  }
}
END_TEST

/* Damage in the middle (records 4 and 5 intact behind a bad record 3):
 * the open drops 3 and what follows, and zeroes it, so an append of the
 * same length at 3's place cannot bring the old 4 and 5 back (same salt,
 * seqs continuing); and the next open finds nothing torn any more. */
START_TEST(test_torn_tail_zeroed) {
  const size_t lens[] = {100, 100, 100, 100, 100};
  const uint64_t off3 = HDR + 2 * (100 + OVH);
  char *dir = tu_tmpdir("jrnl");
  char *path = path_in(dir, "j");
  make_journal(path, lens, 5);
  flip(path, off3 + 12 + 5);
  seen s;
  journal *j = NULL;
  int tail = -1;
  ck_assert_int_eq(reopen(path, 16 * MIB, &s, &tail, &j), CX_OK);
  ck_assert_uint_eq(s.n, 2);
  ck_assert_int_eq(tail, 1);
  seen_free(&s);
  uint8_t *p = payload(100, 77);
  ck_assert_int_eq(journal_append(j, p, 100), CX_OK);
  journal_close(j);
  ck_assert_int_eq(reopen(path, 16 * MIB, &s, &tail, &j), CX_OK);
  ck_assert_msg(s.n == 3, "%zu records: stale frames came back", s.n);
  ck_assert_mem_eq(s.rec[2], p, 100);
  ck_assert_int_eq(tail, 0);
  journal_close(j);
  seen_free(&s);
  free(p);
  free(path);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* A file cut right after a record: nothing torn, *tail 0. */
START_TEST(test_clean_cut) {
  char *dir = tu_tmpdir("jrnl");
  char *path = path_in(dir, "j");
  const size_t lens[] = {10, 20};
  make_journal(path, lens, 2);
  ck_assert_int_eq(truncate(path, (off_t)(HDR + 10 + OVH + 20 + OVH)), 0);
  seen s;
  journal *j = NULL;
  int tail = -1;
  ck_assert_int_eq(reopen(path, 16 * MIB, &s, &tail, &j), CX_OK);
  ck_assert_uint_eq(s.n, 2);
  ck_assert_int_eq(tail, 0);
  uint8_t b = 1;
  ck_assert_int_eq(journal_append(j, &b, 1), CX_OK);
  journal_close(j);
  seen_free(&s);
  ck_assert_uint_eq(file_size(path), MIB);
  ck_assert_uint_eq(count_records(path), 3);
  free(path);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* Damage at the front refuses the file; a file of another format is
 * told apart from a damaged journal. */
START_TEST(test_damaged_or_foreign) {
  char *dir = tu_tmpdir("jrnl");
  char *path = path_in(dir, "j");
  const size_t lens[] = {80, 80};
  journal *j = NULL;

  make_journal(path, lens, 2); /* first record's payload */
  flip(path, HDR + 12 + 5);
  ck_assert_int_eq(journal_open(path, 0, NULL, NULL, NULL, &j), CX_E_CORRUPT);
  ck_assert_ptr_null(j);

  unlink(path); /* first record's length */
  make_journal(path, lens, 2);
  flip(path, HDR + 3);
  ck_assert_int_eq(journal_open(path, 0, NULL, NULL, NULL, &j), CX_E_CORRUPT);

  unlink(path); /* the salt */
  make_journal(path, lens, 2);
  flip(path, 8 + 17);
  ck_assert_int_eq(journal_open(path, 0, NULL, NULL, NULL, &j), CX_E_CORRUPT);
  ck_assert_ptr_null(j);

  unlink(path); /* the magic: not a journal */
  make_journal(path, lens, 2);
  flip(path, 3);
  ck_assert_int_eq(journal_open(path, 0, NULL, NULL, NULL, &j), CX_E_BAD_VERSION);
  ck_assert_ptr_null(j);

  /* an older DATA/safety: two slots, mostly zeros */
  uint8_t old[SAFETY_FILE_LEN] = {0};
  old[7] = 1;
  old[8] = 1;
  write_all(path, old, sizeof old);
  ck_assert_int_eq(journal_open(path, 0, NULL, NULL, NULL, &j), CX_E_BAD_VERSION);
  ck_assert_ptr_null(j);
  ck_assert_int_eq(journal_is_journal(old, sizeof old), 0);
  /* a header alone, or with its zero tail, holds no record */
  uint8_t *img = calloc(1, MIB);
  ck_assert_ptr_nonnull(img);
  memcpy(img, "CXJRNL01", 8);
  ck_assert_int_eq(journal_is_journal(img, MIB), 1);
  size_t nrec = 9, end = 9;
  int tail = -1;
  ck_assert_int_eq(journal_scan(img, HDR, NULL, NULL, &nrec, &end, &tail), CX_E_CORRUPT);
  ck_assert_uint_eq(nrec, 0);
  ck_assert_int_eq(journal_scan(img, MIB, NULL, NULL, &nrec, &end, &tail), CX_E_CORRUPT);
  ck_assert_int_eq(journal_scan(img, HDR - 1, NULL, NULL, &nrec, &end, &tail), CX_E_CORRUPT);
  ck_assert_int_eq(journal_scan(old, sizeof old, NULL, NULL, &nrec, &end, &tail), CX_E_CORRUPT);
  write_all(path, img, MIB);
  ck_assert_int_eq(journal_open(path, 0, NULL, NULL, NULL, &j), CX_E_CORRUPT);
  free(img);
  free(path);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* A frame is a record only in its own file (salt) and at its own seq:
 * the third record of A copied into B right after B's second record (the
 * seq B expects next) is not read, nor is B's first record copied there. */
START_TEST(test_frame_bound_to_file_and_seq) {
  char *dir = tu_tmpdir("jrnl");
  char *pa = path_in(dir, "a");
  char *pb = path_in(dir, "b");
  const size_t lens[] = {64, 64, 64};
  make_journal(pa, lens, 3);
  make_journal(pb, lens, 2);
  const uint64_t off3 = HDR + 2 * (64 + OVH);
  size_t la, lb;
  uint8_t *a = read_all(pa, &la);
  uint8_t *b = read_all(pb, &lb);
  ck_assert_int_ne(memcmp(a + 8, b + 8, 32), 0); /* salts differ */
  /* the same payloads and seqs: the frames differ only by their tags */
  ck_assert_mem_eq(a + HDR, b + HDR, 12 + 64);
  ck_assert_int_ne(memcmp(a + HDR + 12 + 64, b + HDR + 12 + 64, 16), 0);

  /* A's third frame into B's zero tail */
  poke(pb, off3, a + off3, 64 + OVH);
  seen s;
  journal *j = NULL;
  int tail = -1;
  ck_assert_int_eq(reopen(pb, 16 * MIB, &s, &tail, &j), CX_OK);
  ck_assert_uint_eq(s.n, 2);
  ck_assert_int_eq(tail, 1);
  journal_close(j);
  seen_free(&s);

  /* B's own first frame (seq 1, good tag) replayed there */
  poke(pb, off3, b + HDR, 64 + OVH);
  ck_assert_int_eq(reopen(pb, 16 * MIB, &s, &tail, &j), CX_OK);
  ck_assert_uint_eq(s.n, 2);
  ck_assert_int_eq(tail, 1);
  journal_close(j);
  seen_free(&s);

  /* and the journal_scan of an image likewise */
  uint8_t *img = malloc(lb);
  ck_assert_ptr_nonnull(img);
  memcpy(img, b, lb);
  memcpy(img + off3, a + off3, 64 + OVH);
  size_t nrec = 0, end = 0;
  ck_assert_int_eq(journal_scan(img, lb, NULL, NULL, &nrec, &end, &tail), CX_OK);
  ck_assert_uint_eq(nrec, 2);
  ck_assert_uint_eq(end, off3);
  /* the control: A's own image does read its third */
  ck_assert_int_eq(journal_scan(a, la, NULL, NULL, &nrec, &end, &tail), CX_OK);
  ck_assert_uint_eq(nrec, 3);
  free(img);
  free(a);
  free(b);
  free(pa);
  free(pb);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* Full: CX_E_FULL writes nothing; journal_restart starts a new file (new
 * salt) holding just its record. */
START_TEST(test_full_and_restart) {
  char *dir = tu_tmpdir("jrnl");
  char *path = path_in(dir, "j");
  char *tmp = path_in(dir, "j.new");
  journal *j = NULL;
  ck_assert_int_eq(journal_open(path, MIB, NULL, NULL, NULL, &j), CX_OK);
  const size_t rl = 100000;
  uint8_t *p = payload(rl, 1);
  size_t k = 0;
  cx_err e;
  while ((e = journal_append(j, p, rl)) == CX_OK) k++;
  ck_assert_int_eq(e, CX_E_FULL);
  ck_assert_uint_eq(k, (MIB - HDR) / (rl + OVH)); /* 10: as many as fit in 1 MiB */
  uint64_t size = journal_size(j);
  ck_assert_uint_eq(size, HDR + k * (rl + OVH));
  size_t len0, len1;
  uint8_t *before = read_all(path, &len0);
  /* the record that would end one byte past the cap */
  size_t room = MIB - size - OVH;
  ck_assert_int_eq(journal_append(j, p, room + 1), CX_E_FULL);
  ck_assert_uint_eq(journal_size(j), size);
  uint8_t *after = read_all(path, &len1);
  ck_assert_uint_eq(len1, len0);
  ck_assert_mem_eq(after, before, len0);
  free(after);
  ck_assert_uint_eq(file_size(path), MIB);
  ck_assert_uint_eq(count_records(path), k);

  uint8_t rec[500];
  memset(rec, 0x77, sizeof rec);
  ck_assert_int_eq(journal_restart(j, rec, sizeof rec), CX_OK);
  ck_assert_uint_eq(journal_size(j), HDR + sizeof rec + OVH);
  ck_assert_int_eq(exists(tmp), 0);
  uint8_t *fresh = read_all(path, &len1);
  ck_assert_uint_eq(len1, MIB);
  ck_assert_mem_eq(fresh, "CXJRNL01", 8);
  ck_assert_int_ne(memcmp(before + 8, fresh + 8, 32), 0); /* a new salt */
  free(fresh);
  free(before);

  seen s;
  journal *j2 = NULL;
  ck_assert_int_eq(reopen(path, MIB, &s, NULL, &j2), CX_OK);
  ck_assert_uint_eq(s.n, 1);
  ck_assert_uint_eq(s.len[0], sizeof rec);
  ck_assert_mem_eq(s.rec[0], rec, sizeof rec);
  uint64_t seq = s.seq[0];
  journal_close(j2);
  seen_free(&s);
  /* the journal goes on in the new file */
  ck_assert_int_eq(journal_append(j, p, rl), CX_OK);
  journal_close(j);
  ck_assert_int_eq(reopen(path, MIB, &s, NULL, &j2), CX_OK);
  ck_assert_uint_eq(s.n, 2);
  ck_assert_uint_eq(s.seq[1], seq + 1);
  ck_assert_mem_eq(s.rec[1], p, rl);
  journal_close(j2);
  seen_free(&s);

  /* max_bytes below 1 MiB is raised to it */
  unlink(path);
  ck_assert_int_eq(journal_open(path, 1000, NULL, NULL, NULL, &j), CX_OK);
  ck_assert_int_eq(journal_append(j, p, rl), CX_OK);
  ck_assert_int_eq(journal_append(j, p, rl), CX_OK);
  journal_close(j);
  free(p);
  free(tmp);
  free(path);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* journal_scan of the file's bytes says what journal_open visited. */
START_TEST(test_scan_matches_open) {
  char *dir = tu_tmpdir("jrnl");
  char *path = path_in(dir, "j");
  const size_t lens[] = {3, 700, 1, 4096, 33};
  make_journal(path, lens, 5);
  const uint64_t off5 = HDR + (3 + OVH) + (700 + OVH) + (1 + OVH) + (4096 + OVH);
  flip(path, off5 + 12 + 2); /* the last one damaged */
  seen so, ss;
  journal *j = NULL;
  int tail_o = -1, tail_s = -1;
  size_t len;
  uint8_t *img = read_all(path, &len); /* before the open zeroes the torn tail */
  ck_assert_int_eq(reopen(path, 16 * MIB, &so, &tail_o, &j), CX_OK);
  memset(&ss, 0, sizeof ss);
  size_t nrec = 0, end = 0;
  ck_assert_int_eq(journal_scan(img, len, on_rec, &ss, &nrec, &end, &tail_s), CX_OK);
  ck_assert_uint_eq(nrec, 4);
  ck_assert_uint_eq(so.n, 4);
  ck_assert_uint_eq(ss.n, so.n);
  ck_assert_uint_eq(end, journal_size(j));
  ck_assert_uint_eq(end, off5);
  ck_assert_int_eq(tail_s, tail_o);
  ck_assert_int_eq(tail_s, 1);
  for (size_t i = 0; i < so.n; i++) {
    ck_assert_uint_eq(ss.seq[i], so.seq[i]);
    ck_assert_uint_eq(ss.len[i], so.len[i]);
    ck_assert_uint_eq(ss.len[i], lens[i]);
    ck_assert_mem_eq(ss.rec[i], so.rec[i], so.len[i]);
  }
  /* no visit at all is fine, and tail may be NULL */
  ck_assert_int_eq(journal_scan(img, len, NULL, NULL, &nrec, &end, NULL), CX_OK);
  ck_assert_uint_eq(nrec, 4);
  /* the image cut inside the second record: one */
  ck_assert_int_eq(journal_scan(img, HDR + 3 + OVH + 500, NULL, NULL, &nrec, &end, &tail_s),
                   CX_OK);
  ck_assert_uint_eq(nrec, 1);
  ck_assert_uint_eq(end, HDR + 3 + OVH);
  ck_assert_int_eq(tail_s, 1);
  free(img);
  journal_close(j);
  seen_free(&so);
  seen_free(&ss);
  free(path);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* ---- node_safety_parse ---- */

static bft_safety safety(uint64_t h, uint32_t r, uint8_t step, int locked) {
  bft_safety s;
  memset(&s, 0, sizeof s);
  s.height = h;
  s.round = r;
  s.step = step;
  s.locked_round = s.valid_round = BFT_NIL_ROUND;
  if (locked) {
    s.locked_round = s.valid_round = r;
    memset(s.locked_hash.b, (int)(h & 0xff) | 1, sizeof s.locked_hash.b);
    memset(s.valid_hash.b, (int)(h & 0xff) | 1, sizeof s.valid_hash.b);
  }
  return s;
}

static void assert_safety_eq(const bft_safety *a, const bft_safety *b) {
  uint8_t ea[BFT_SAFETY_LEN], eb[BFT_SAFETY_LEN];
  bft_safety_encode(a, ea);
  bft_safety_encode(b, eb);
  ck_assert_mem_eq(ea, eb, BFT_SAFETY_LEN);
}

/* A held part: varint count | count x (varint len | bytes). */
static uint8_t *held_part(unsigned tag, size_t *len) {
  cx_enc e;
  enc_init(&e);
  enc_varint(&e, 2);
  for (unsigned i = 0; i < 2; i++) {
    size_t bl = 90 + 100 * i + tag; /* one and two byte varint lengths */
    uint8_t *b = payload(bl, tag * 10 + i);
    enc_bytes(&e, b, bl);
    free(b);
  }
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  return enc_take(&e, len);
}

/* u8 version | safety record | u8 flag | held (raw bytes, may be NULL) */
static uint8_t *safety_rec(uint8_t version, const bft_safety *s, uint8_t flag, const uint8_t *held,
                           size_t held_len, size_t *len) {
  uint8_t r[BFT_SAFETY_LEN];
  bft_safety_encode(s, r);
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, version);
  enc_fixed(&e, r, sizeof r);
  enc_u8(&e, flag);
  if (held_len) enc_fixed(&e, held, held_len);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  return enc_take(&e, len);
}

static void append_safety(journal *j, uint8_t version, const bft_safety *s, uint8_t flag,
                          const uint8_t *held, size_t held_len) {
  size_t len;
  uint8_t *r = safety_rec(version, s, flag, held, held_len, &len);
  ck_assert_int_eq(journal_append(j, r, len), CX_OK);
  free(r);
}

static cx_err parse_file(const char *path, bft_safety *s, int *torn, uint8_t **held,
                         size_t *held_len) {
  size_t len;
  uint8_t *img = read_all(path, &len);
  cx_err e = node_safety_parse(img, len, s, torn, held, held_len);
  free(img);
  return e;
}

/* The last record's safety; the held part of the last record that has one. */
START_TEST(test_safety_journal) {
  char *dir = tu_tmpdir("jrnl");
  char *path = path_in(dir, "safety");
  bft_safety s1 = safety(5, 0, BFT_PREVOTE, 0), s2 = safety(5, 1, BFT_PRECOMMIT, 1),
             s3 = safety(6, 0, BFT_PROPOSAL, 1), s4 = safety(6, 2, BFT_PREVOTE, 0);
  size_t h1l, h2l;
  uint8_t *h1 = held_part(1, &h1l), *h2 = held_part(2, &h2l);
  journal *j = NULL;
  ck_assert_int_eq(journal_open(path, 16 * MIB, NULL, NULL, NULL, &j), CX_OK);
  append_safety(j, 1, &s1, 1, h1, h1l);
  append_safety(j, 1, &s2, 1, h2, h2l);
  append_safety(j, 1, &s3, 0, NULL, 0);
  append_safety(j, 1, &s4, 0, NULL, 0);
  journal_close(j);

  bft_safety got;
  int torn = -1;
  uint8_t *held = NULL;
  size_t held_len = 0;
  ck_assert_int_eq(parse_file(path, &got, &torn, &held, &held_len), CX_OK);
  assert_safety_eq(&got, &s4);
  ck_assert_int_eq(torn, 0);
  ck_assert_ptr_nonnull(held);
  ck_assert_uint_eq(held_len, h2l);
  ck_assert_mem_eq(held, h2, h2l);
  free(held);
  /* held not wanted */
  ck_assert_int_eq(parse_file(path, &got, NULL, NULL, NULL), CX_OK);
  assert_safety_eq(&got, &s4);

  /* a file whose first record has no held part is damaged (host.c makes a
   * file's first record carry them) */
  unlink(path);
  ck_assert_int_eq(journal_open(path, 16 * MIB, NULL, NULL, NULL, &j), CX_OK);
  append_safety(j, 1, &s1, 0, NULL, 0);
  append_safety(j, 1, &s3, 0, NULL, 0);
  journal_close(j);
  held = (uint8_t *)1;
  held_len = 7;
  ck_assert_int_eq(parse_file(path, &got, &torn, &held, &held_len), CX_E_CORRUPT);
  ck_assert_ptr_null(held);
  ck_assert_uint_eq(held_len, 0);

  /* an empty held part (count 0) is a held part */
  unlink(path);
  uint8_t zero = 0;
  ck_assert_int_eq(journal_open(path, 16 * MIB, NULL, NULL, NULL, &j), CX_OK);
  append_safety(j, 1, &s1, 1, h1, h1l);
  append_safety(j, 1, &s2, 1, &zero, 1);
  journal_close(j);
  ck_assert_int_eq(parse_file(path, &got, &torn, &held, &held_len), CX_OK);
  assert_safety_eq(&got, &s2);
  ck_assert_ptr_nonnull(held);
  ck_assert_uint_eq(held_len, 1);
  ck_assert_uint_eq(held[0], 0);
  free(held);
  free(h1);
  free(h2);
  free(path);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* A record that is not a DATA/safety record refuses the file. */
START_TEST(test_safety_journal_bad_record) {
  bft_safety s1 = safety(5, 0, BFT_PREVOTE, 0), s2 = safety(5, 1, BFT_PRECOMMIT, 1);
  size_t hl;
  uint8_t *h = held_part(3, &hl);
  for (int kind = 0; kind < 5; kind++) {
    char *dir = tu_tmpdir("jrnl");
    char *path = path_in(dir, "safety");
    journal *j = NULL;
    ck_assert_int_eq(journal_open(path, 16 * MIB, NULL, NULL, NULL, &j), CX_OK);
    append_safety(j, 1, &s1, 1, h, hl);
    size_t len;
    uint8_t *r;
    switch (kind) {
    case 0: r = safety_rec(2, &s2, 0, NULL, 0, &len); break;  /* version 2 */
    case 1: r = safety_rec(1, &s2, 2, h, hl, &len); break;    /* flag 2 */
    case 2: r = safety_rec(1, &s2, 0, h, hl, &len); break;    /* flag 0, bytes after */
    case 3: /* a damaged safety record inside */
      r = safety_rec(1, &s2, 0, NULL, 0, &len);
      r[1 + 40] ^= 1;
      break;
    default: /* too short for a safety record */
      r = safety_rec(1, &s2, 0, NULL, 0, &len);
      len = 1 + BFT_SAFETY_LEN;
      break;
    }
    ck_assert_int_eq(journal_append(j, r, len), CX_OK);
    free(r);
    append_safety(j, 1, &s2, 1, h, hl); /* a good one after does not help */
    journal_close(j);
    ck_assert_uint_eq(count_records(path), 3);
    bft_safety got;
    uint8_t *held = NULL;
    size_t held_len = 0;
    ck_assert_msg(parse_file(path, &got, NULL, &held, &held_len) == CX_E_CORRUPT, "kind %d", kind);
    ck_assert_ptr_null(held);
    ck_assert_uint_eq(got.height, 0);
    free(path);
    tu_rmrf(dir);
    free(dir);
  }
  free(h);
}
END_TEST

/* The last append torn: the record before it, *torn = 1. */
START_TEST(test_safety_journal_torn) {
  char *dir = tu_tmpdir("jrnl");
  char *path = path_in(dir, "safety");
  bft_safety s1 = safety(5, 0, BFT_PREVOTE, 0), s2 = safety(5, 1, BFT_PRECOMMIT, 1),
             s3 = safety(6, 0, BFT_PREVOTE, 1);
  size_t h1l, h3l;
  uint8_t *h1 = held_part(1, &h1l), *h3 = held_part(3, &h3l);
  journal *j = NULL;
  ck_assert_int_eq(journal_open(path, 16 * MIB, NULL, NULL, NULL, &j), CX_OK);
  append_safety(j, 1, &s1, 1, h1, h1l);
  append_safety(j, 1, &s2, 0, NULL, 0);
  uint64_t off3 = journal_size(j);
  append_safety(j, 1, &s3, 1, h3, h3l);
  journal_close(j);
  ck_assert_int_eq(truncate(path, (off_t)(off3 + 60)), 0);

  bft_safety got;
  int torn = -1;
  uint8_t *held = NULL;
  size_t held_len = 0;
  ck_assert_int_eq(parse_file(path, &got, &torn, &held, &held_len), CX_OK);
  assert_safety_eq(&got, &s2);
  ck_assert_int_eq(torn, 1);
  ck_assert_ptr_nonnull(held);
  ck_assert_uint_eq(held_len, h1l); /* the third's held part went with it */
  ck_assert_mem_eq(held, h1, h1l);
  free(held);
  free(h1);
  free(h3);
  free(path);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

static void put_slot(uint8_t *p, uint64_t seq, const bft_safety *s) {
  put64be(p, seq);
  bft_safety_encode(s, p + 8);
  hash_sha256(p, 8 + BFT_SAFETY_LEN, p + 8 + BFT_SAFETY_LEN);
}

/* The older forms: a bare record, the two slots (higher seq wins, a
 * damaged slot is counted in *torn), the 48-byte legacy record. */
START_TEST(test_safety_older_forms) {
  bft_safety a = safety(7, 3, BFT_PRECOMMIT, 1), b = safety(8, 0, BFT_PREVOTE, 0), got;
  int torn = -1;
  uint8_t *held = (uint8_t *)1;
  size_t held_len = 5;
  uint8_t bare[BFT_SAFETY_LEN];
  bft_safety_encode(&a, bare);
  ck_assert_int_eq(node_safety_parse(bare, sizeof bare, &got, &torn, &held, &held_len), CX_OK);
  assert_safety_eq(&got, &a);
  ck_assert_int_eq(torn, 0);
  ck_assert_ptr_null(held);
  bare[30] ^= 1;
  ck_assert_int_ne(node_safety_parse(bare, sizeof bare, &got, NULL, NULL, NULL), CX_OK);

  uint8_t img[SAFETY_FILE_LEN];
  ck_assert_uint_eq(sizeof img, 4096 + 8 + 120 + 32);
  memset(img, 0, sizeof img);
  put_slot(img, 5, &a);
  put_slot(img + SAFETY_SLOT_OFF, 7, &b);
  ck_assert_int_eq(node_safety_parse(img, sizeof img, &got, &torn, NULL, NULL), CX_OK);
  assert_safety_eq(&got, &b);
  ck_assert_int_eq(torn, 0);
  put_slot(img, 9, &a); /* the other way round */
  ck_assert_int_eq(node_safety_parse(img, sizeof img, &got, &torn, NULL, NULL), CX_OK);
  assert_safety_eq(&got, &a);
  img[20] ^= 1; /* the newer slot damaged: the older one, one torn */
  ck_assert_int_eq(node_safety_parse(img, sizeof img, &got, &torn, NULL, NULL), CX_OK);
  assert_safety_eq(&got, &b);
  ck_assert_int_eq(torn, 1);
  memset(img + SAFETY_SLOT_OFF, 0, SAFETY_SLOT_LEN); /* and the other unused */
  ck_assert_int_eq(node_safety_parse(img, sizeof img, &got, &torn, NULL, NULL), CX_E_CORRUPT);

  uint8_t legacy[48] = {0};
  put64be(legacy, 42);
  put64be(legacy + 8, 3);
  ck_assert_int_eq(node_safety_parse(legacy, sizeof legacy, &got, NULL, NULL, NULL), CX_OK);
  ck_assert_uint_eq(got.height, 42);
  ck_assert_uint_eq(got.round, 3);
  ck_assert_uint_eq(got.step, BFT_PRECOMMIT);
  ck_assert_uint_eq(got.locked_round, BFT_NIL_ROUND);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("journal");
  TCase *tc = tcase_create("journal");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_roundtrip_and_growth);
  tcase_add_test(tc, test_fresh_journal);
  tcase_add_test(tc, test_torn_tail);
  tcase_add_test(tc, test_torn_tail_zeroed);
  tcase_add_test(tc, test_clean_cut);
  tcase_add_test(tc, test_damaged_or_foreign);
  tcase_add_test(tc, test_frame_bound_to_file_and_seq);
  tcase_add_test(tc, test_full_and_restart);
  tcase_add_test(tc, test_scan_matches_open);
  suite_add_tcase(s, tc);
  TCase *ts = tcase_create("safety");
  tcase_add_test(ts, test_safety_journal);
  tcase_add_test(ts, test_safety_journal_bad_record);
  tcase_add_test(ts, test_safety_journal_torn);
  tcase_add_test(ts, test_safety_older_forms);
  suite_add_tcase(s, ts);
  return s;
}

int main(void) {
  if (sodium_init() < 0) return 1;
  return tu_run(suite());
}
