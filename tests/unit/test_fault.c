/* fault: the seeded fault shim of net/ (built with CUSTOS_TESTING only):
 * determinism from the seed, the rates of drop/dup/reorder, delay order,
 * partitions, the one-shot attacks, and refused commands. */
#include <stdio.h>

#ifndef CUSTOS_TESTING
int main(void) {
  printf("skipped: built without CUSTOS_TESTING\n");
  return 0;
}
#else

#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "testutil.h"

#define HDR 20        /* LINK_HDR */
#define KIND_DATA 3   /* LINK_DATA */
#define KIND_INIT 1   /* LINK_HS_INIT */
#define FLEN 48       /* test frame length */
#define REORDER_FLUSH_MS 100 /* past the 50 ms a reordered frame may wait */

/* ---- a recorder for emitted frames ---- */

typedef struct {
  char peer[40];
  uint8_t frame[FLEN];
  size_t len;
  uint64_t at; /* rec_log.now when emitted */
} rec;

typedef struct {
  rec *r;
  size_t n, cap;
  uint64_t now;
} rec_log;

static void on_emit(void *ctx, const char *peer, const uint8_t *frame, size_t len) {
  rec_log *l = ctx;
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 256;
    l->r = realloc(l->r, l->cap * sizeof *l->r);
    ck_assert_ptr_nonnull(l->r);
  }
  rec *e = &l->r[l->n++];
  memset(e, 0, sizeof *e);
  ck_assert_uint_lt(strlen(peer), sizeof e->peer);
  strcpy(e->peer, peer);
  ck_assert_uint_le(len, FLEN);
  memcpy(e->frame, frame, len);
  e->len = len;
  e->at = l->now;
}

static void log_free(rec_log *l) {
  free(l->r);
  memset(l, 0, sizeof *l);
}

/* A frame of kind with id in its counter field (bytes 12..19, never
 * flipped) and a body derived from id. */
static void mkframe(uint8_t f[FLEN], unsigned kind, uint64_t id) {
  memset(f, 0, FLEN);
  f[0] = 1;
  f[1] = (uint8_t)kind;
  f[7] = FLEN - HDR;
  for (int i = 0; i < 8; i++) f[12 + i] = (uint8_t)(id >> (56 - 8 * i));
  for (int i = HDR; i < FLEN; i++) f[i] = (uint8_t)(id * 31 + (uint64_t)i);
}

static uint64_t frame_id(const uint8_t *f) {
  uint64_t id = 0;
  for (int i = 0; i < 8; i++) id = id << 8 | f[12 + i];
  return id;
}

static void send1(fault *f, rec_log *l, const char *peer, unsigned kind, uint64_t id) {
  uint8_t fr[FLEN];
  mkframe(fr, kind, id);
  fault_out(f, l->now, peer, fr, FLEN, on_emit, l);
}

static void cmd_ok(fault *f, const char *cmd) {
  char err[256] = "unset";
  cx_err e = fault_command(f, cmd, err, sizeof err);
  ck_assert_msg(e == CX_OK, "\"%s\": %s", cmd, err);
  ck_assert_str_eq(err, "");
}

static fault *mk(uint64_t seed) {
  fault *f = fault_new(seed);
  ck_assert_ptr_nonnull(f);
  return f;
}

/* n data frames to alternating peers, one per ms, ticking every ms, then
 * everything still held is flushed. */
static void run_traffic(fault *f, rec_log *l, size_t n) {
  for (size_t i = 0; i < n; i++) {
    fault_tick(f, l->now, on_emit, l);
    send1(f, l, i % 3 ? "alice" : "bob", KIND_DATA, i);
    l->now++;
  }
  l->now += 100000;
  fault_tick(f, l->now, on_emit, l);
}

static int logs_equal(const rec_log *a, const rec_log *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++)
    if (strcmp(a->r[i].peer, b->r[i].peer) || a->r[i].len != b->r[i].len ||
        a->r[i].at != b->r[i].at || memcmp(a->r[i].frame, b->r[i].frame, a->r[i].len))
      return 0;
  return 1;
}

static void configure_all(fault *f) {
  cmd_ok(f, "drop 0.1");
  cmd_ok(f, "dup 0.1");
  cmd_ok(f, "reorder 0.1");
  cmd_ok(f, "delay 0 20");
  cmd_ok(f, "flip alice");
  cmd_ok(f, "replay bob");
}

START_TEST(test_determinism) {
  uint64_t seed = tu_seed();
  rec_log l1 = {0}, l2 = {0}, l3 = {0}, l4 = {0};
  fault *a = mk(seed), *b = mk(seed), *c = mk(seed + 1), *d = mk(seed + 12345);
  configure_all(a);
  configure_all(b);
  configure_all(c);
  configure_all(d);
  char cmd[64];
  snprintf(cmd, sizeof cmd, "seed %llu", (unsigned long long)seed);
  cmd_ok(d, cmd); /* "seed N" restarts the stream as fault_new(N) does */
  run_traffic(a, &l1, 3000);
  run_traffic(b, &l2, 3000);
  run_traffic(c, &l3, 3000);
  run_traffic(d, &l4, 3000);
  ck_assert_uint_gt(l1.n, 2000);
  ck_assert(logs_equal(&l1, &l2));
  ck_assert(logs_equal(&l1, &l4));
  ck_assert(!logs_equal(&l1, &l3));
  fault_free(a);
  fault_free(b);
  fault_free(c);
  fault_free(d);
  log_free(&l1);
  log_free(&l2);
  log_free(&l3);
  log_free(&l4);
}
END_TEST

START_TEST(test_off_by_default) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  for (uint64_t i = 0; i < 100; i++) send1(f, &l, "alice", KIND_DATA, i);
  ck_assert_uint_eq(l.n, 100);
  for (uint64_t i = 0; i < 100; i++) ck_assert_uint_eq(frame_id(l.r[i].frame), i);
  fault_free(f);
  log_free(&l);
}
END_TEST

/* The rate bounds are about 5 standard deviations of the binomial. */
#define NFRAMES 10000

START_TEST(test_drop_rate) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  cmd_ok(f, "drop 0.3");
  for (uint64_t i = 0; i < NFRAMES; i++) send1(f, &l, "alice", KIND_DATA, i);
  ck_assert_msg(l.n > 6770 && l.n < 7230, "drop 0.3 let %zu of 10000 through", l.n);
  for (size_t i = 1; i < l.n; i++) ck_assert_uint_gt(frame_id(l.r[i].frame), frame_id(l.r[i - 1].frame));
  l.n = 0;
  cmd_ok(f, "drop 1");
  for (uint64_t i = 0; i < 1000; i++) send1(f, &l, "alice", KIND_INIT, i);
  ck_assert_uint_eq(l.n, 0);
  cmd_ok(f, "drop 0");
  for (uint64_t i = 0; i < 1000; i++) send1(f, &l, "alice", KIND_INIT, i);
  ck_assert_uint_eq(l.n, 1000);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_dup_rate) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  cmd_ok(f, "dup 0.25");
  for (uint64_t i = 0; i < NFRAMES; i++) send1(f, &l, "alice", KIND_DATA, i);
  ck_assert_msg(l.n > 12280 && l.n < 12720, "dup 0.25 emitted %zu for 10000", l.n);
  /* Copies are back to back and nothing is lost. */
  uint64_t expect = 0;
  for (size_t i = 0; i < l.n; i++) {
    uint64_t id = frame_id(l.r[i].frame);
    if (id + 1 == expect) continue; /* the second copy */
    ck_assert_uint_eq(id, expect);
    expect++;
  }
  ck_assert_uint_eq(expect, NFRAMES);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_reorder_rate) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  cmd_ok(f, "reorder 0.2");
  for (uint64_t i = 0; i < NFRAMES; i++) {
    fault_tick(f, l.now, on_emit, &l);
    send1(f, &l, "alice", KIND_DATA, i);
    l.now++;
  }
  l.now += REORDER_FLUSH_MS;
  fault_tick(f, l.now, on_emit, &l);
  ck_assert_uint_eq(l.n, NFRAMES);
  /* A late frame is one emitted after a frame sent later than itself. */
  size_t late = 0;
  uint64_t max_seen = 0;
  char *seen = calloc(NFRAMES, 1);
  ck_assert_ptr_nonnull(seen);
  for (size_t i = 0; i < l.n; i++) {
    uint64_t id = frame_id(l.r[i].frame);
    ck_assert(!seen[id]);
    seen[id] = 1;
    if (i > 0 && id < max_seen) late++;
    if (id > max_seen) max_seen = id;
  }
  ck_assert_msg(late > 1800 && late < 2200, "reorder 0.2 made %zu of 10000 late", late);
  free(seen);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_reorder_semantics) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  /* Held until the next frame to the same peer goes out. */
  cmd_ok(f, "reorder 1");
  send1(f, &l, "alice", KIND_DATA, 1);
  ck_assert_uint_eq(l.n, 0);
  cmd_ok(f, "reorder 0");
  send1(f, &l, "bob", KIND_DATA, 2); /* another peer: does not release */
  ck_assert_uint_eq(l.n, 1);
  send1(f, &l, "alice", KIND_DATA, 3);
  ck_assert_uint_eq(l.n, 3);
  ck_assert_uint_eq(frame_id(l.r[1].frame), 3);
  ck_assert_uint_eq(frame_id(l.r[2].frame), 1);
  /* ... or 50 ms, whichever first. */
  cmd_ok(f, "reorder 1");
  l.now = 1000;
  send1(f, &l, "alice", KIND_DATA, 4);
  send1(f, &l, "alice", KIND_DATA, 5);
  fault_tick(f, 1049, on_emit, &l);
  ck_assert_uint_eq(l.n, 3);
  fault_tick(f, 1050, on_emit, &l);
  ck_assert_uint_eq(l.n, 5);
  ck_assert_uint_eq(frame_id(l.r[3].frame), 4);
  ck_assert_uint_eq(frame_id(l.r[4].frame), 5);
  /* Two held frames follow the next emitted one, oldest first. */
  send1(f, &l, "alice", KIND_DATA, 6);
  send1(f, &l, "alice", KIND_DATA, 7);
  cmd_ok(f, "reorder 0");
  send1(f, &l, "alice", KIND_DATA, 8);
  ck_assert_uint_eq(l.n, 8);
  ck_assert_uint_eq(frame_id(l.r[5].frame), 8);
  ck_assert_uint_eq(frame_id(l.r[6].frame), 6);
  ck_assert_uint_eq(frame_id(l.r[7].frame), 7);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_delay) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  /* Release in order of due time, whatever the order of sending. */
  cmd_ok(f, "delay 30 30");
  send1(f, &l, "alice", KIND_DATA, 1); /* due 30 */
  cmd_ok(f, "delay 10 10");
  send1(f, &l, "bob", KIND_DATA, 2);   /* due 10 */
  cmd_ok(f, "delay 20 20");
  send1(f, &l, "alice", KIND_DATA, 3); /* due 20 */
  send1(f, &l, "alice", KIND_DATA, 4); /* due 20, after 3 */
  ck_assert_uint_eq(l.n, 0);
  fault_tick(f, 9, on_emit, &l);
  ck_assert_uint_eq(l.n, 0);
  fault_tick(f, 100, on_emit, &l);
  ck_assert_uint_eq(l.n, 4);
  ck_assert_uint_eq(frame_id(l.r[0].frame), 2);
  ck_assert_uint_eq(frame_id(l.r[1].frame), 3);
  ck_assert_uint_eq(frame_id(l.r[2].frame), 4);
  ck_assert_uint_eq(frame_id(l.r[3].frame), 1);
  /* Uniform in [MIN, MAX]: every frame within its window, both ends
   * reached, some frames overtaken. */
  l.n = 0;
  l.now = 1000;
  cmd_ok(f, "delay 10 50");
  uint64_t sent_at[2000];
  for (uint64_t i = 0; i < 2000; i++) {
    fault_tick(f, l.now, on_emit, &l);
    sent_at[i] = l.now;
    send1(f, &l, "alice", KIND_DATA, i);
    l.now++;
  }
  for (int i = 0; i < 60; i++, l.now++) fault_tick(f, l.now, on_emit, &l);
  ck_assert_uint_eq(l.n, 2000);
  uint64_t lo = UINT64_MAX, hi = 0;
  size_t overtaken = 0;
  for (size_t i = 0; i < l.n; i++) {
    uint64_t id = frame_id(l.r[i].frame);
    uint64_t d = l.r[i].at - sent_at[id];
    ck_assert_uint_ge(d, 10);
    ck_assert_uint_le(d, 50);
    if (d < lo) lo = d;
    if (d > hi) hi = d;
    if (i > 0 && id < frame_id(l.r[i - 1].frame)) overtaken++;
  }
  ck_assert_uint_eq(lo, 10);
  ck_assert_uint_eq(hi, 50);
  ck_assert_uint_gt(overtaken, 100);
  /* "delay 0 0" turns it off. */
  l.n = 0;
  cmd_ok(f, "delay 0 0");
  send1(f, &l, "alice", KIND_DATA, 1);
  ck_assert_uint_eq(l.n, 1);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_held_cap) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  cmd_ok(f, "delay 1000 1000");
  for (uint64_t i = 0; i < 10050; i++) send1(f, &l, "alice", KIND_DATA, i);
  fault_tick(f, 999, on_emit, &l);
  ck_assert_uint_eq(l.n, 0);
  fault_tick(f, 1000, on_emit, &l);
  ck_assert_uint_eq(l.n, 10000);
  ck_assert_uint_eq(frame_id(l.r[9999].frame), 9999);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_partition_heal) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  ck_assert(!fault_partitioned(f, "bob"));
  cmd_ok(f, "partition bob");
  cmd_ok(f, "partition carol");
  ck_assert(fault_partitioned(f, "bob"));
  ck_assert(fault_partitioned(f, "carol"));
  ck_assert(!fault_partitioned(f, "alice"));
  send1(f, &l, "bob", KIND_DATA, 1);
  send1(f, &l, "bob", KIND_INIT, 2);
  send1(f, &l, "alice", KIND_DATA, 3);
  ck_assert_uint_eq(l.n, 1);
  ck_assert_str_eq(l.r[0].peer, "alice");
  cmd_ok(f, "heal bob");
  ck_assert(!fault_partitioned(f, "bob"));
  ck_assert(fault_partitioned(f, "carol"));
  send1(f, &l, "bob", KIND_DATA, 4);
  send1(f, &l, "carol", KIND_DATA, 5);
  ck_assert_uint_eq(l.n, 2);
  ck_assert_str_eq(l.r[1].peer, "bob");
  cmd_ok(f, "heal nobody"); /* healing an unknown peer is harmless */
  cmd_ok(f, "heal");
  ck_assert(!fault_partitioned(f, "carol"));
  send1(f, &l, "carol", KIND_DATA, 6);
  ck_assert_uint_eq(l.n, 3);
  /* A frame held when the partition starts is lost at release. */
  l.n = 0;
  cmd_ok(f, "delay 5 5");
  send1(f, &l, "bob", KIND_DATA, 7);
  send1(f, &l, "alice", KIND_DATA, 8);
  cmd_ok(f, "partition bob");
  fault_tick(f, 10, on_emit, &l);
  ck_assert_uint_eq(l.n, 1);
  ck_assert_uint_eq(frame_id(l.r[0].frame), 8);
  /* The one-shot attacks wait out a partition. */
  l.n = 0;
  cmd_ok(f, "delay 0 0");
  cmd_ok(f, "replay bob");
  send1(f, &l, "bob", KIND_DATA, 9);
  cmd_ok(f, "heal bob");
  send1(f, &l, "bob", KIND_DATA, 10);
  ck_assert_uint_eq(l.n, 2);
  ck_assert_uint_eq(frame_id(l.r[1].frame), 10);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_forget) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  cmd_ok(f, "delay 5 5");
  send1(f, &l, "bob", KIND_DATA, 1);
  send1(f, &l, "alice", KIND_DATA, 2);
  send1(f, &l, "bob", KIND_DATA, 3);
  cmd_ok(f, "delay 0 0");
  cmd_ok(f, "reorder 1");
  send1(f, &l, "bob", KIND_DATA, 4);
  send1(f, &l, "alice", KIND_DATA, 5);
  fault_forget(f, "bob");
  fault_forget(f, "nobody");
  fault_tick(f, 1000, on_emit, &l);
  ck_assert_uint_eq(l.n, 2);
  ck_assert_str_eq(l.r[0].peer, "alice");
  ck_assert_str_eq(l.r[1].peer, "alice");
  /* The reorder bookkeeping survived: a new held frame still waits for
   * the next one. */
  l.n = 0;
  send1(f, &l, "bob", KIND_DATA, 6);
  cmd_ok(f, "reorder 0");
  send1(f, &l, "bob", KIND_DATA, 7);
  ck_assert_uint_eq(l.n, 2);
  ck_assert_uint_eq(frame_id(l.r[0].frame), 7);
  /* Under load: the heap stays in due order after forgets (a frame
   * emitted late would show as a delay past MAX), and a forgotten frame
   * never comes out. */
  l.n = 0;
  l.now = 10000;
  cmd_ok(f, "delay 10 50");
  static const char *const who[3] = {"alice", "bob", "carol"};
  uint64_t sent_at[900];
  for (uint64_t i = 0; i < 900; i++) {
    fault_tick(f, l.now, on_emit, &l);
    if (i % 100 == 50) fault_forget(f, "bob"); /* at 10050, 10150, ... */
    sent_at[i] = l.now;
    send1(f, &l, who[i % 3], KIND_DATA, i);
    l.now++;
  }
  for (int i = 0; i < 60; i++, l.now++) fault_tick(f, l.now, on_emit, &l);
  size_t others = 0, bob = 0;
  for (size_t i = 0; i < l.n; i++) {
    uint64_t id = frame_id(l.r[i].frame);
    uint64_t d = l.r[i].at - sent_at[id];
    ck_assert_uint_ge(d, 10);
    ck_assert_uint_le(d, 50);
    if (id % 3 != 1) {
      others++;
      continue;
    }
    bob++;
    for (uint64_t t = 10050; t < 10900; t += 100) /* held across a forget? */
      ck_assert(!(sent_at[id] < t && l.r[i].at > t));
  }
  ck_assert_uint_eq(others, 600);
  ck_assert_uint_lt(bob, 300);
  fault_free(f);
  log_free(&l);
}
END_TEST

static int bits_differ(const uint8_t *a, const uint8_t *b, size_t len, size_t *where) {
  int n = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t x = a[i] ^ b[i];
    if (x) *where = i;
    n += __builtin_popcount(x);
  }
  return n;
}

START_TEST(test_flip) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  uint8_t want[FLEN];
  cmd_ok(f, "flip bob");
  send1(f, &l, "bob", KIND_INIT, 1);   /* not a data frame: untouched */
  send1(f, &l, "alice", KIND_DATA, 2); /* another peer: untouched */
  send1(f, &l, "bob", KIND_DATA, 3);   /* flipped */
  send1(f, &l, "bob", KIND_DATA, 4);   /* one-shot: untouched */
  ck_assert_uint_eq(l.n, 4);
  size_t where = 0;
  mkframe(want, KIND_INIT, 1);
  ck_assert_int_eq(bits_differ(want, l.r[0].frame, FLEN, &where), 0);
  mkframe(want, KIND_DATA, 2);
  ck_assert_int_eq(bits_differ(want, l.r[1].frame, FLEN, &where), 0);
  mkframe(want, KIND_DATA, 3);
  ck_assert_int_eq(bits_differ(want, l.r[2].frame, FLEN, &where), 1);
  ck_assert_uint_ge(where, HDR);
  mkframe(want, KIND_DATA, 4);
  ck_assert_int_eq(bits_differ(want, l.r[3].frame, FLEN, &where), 0);
  /* Always in the ciphertext, anywhere in it; the attacked frame bypasses
   * the random faults (drop 1 here). */
  cmd_ok(f, "drop 1");
  int hit[FLEN] = {0};
  for (uint64_t i = 0; i < 2000; i++) {
    l.n = 0;
    cmd_ok(f, "flip bob");
    send1(f, &l, "bob", KIND_DATA, i);
    send1(f, &l, "bob", KIND_DATA, i);
    ck_assert_uint_eq(l.n, 1);
    mkframe(want, KIND_DATA, i);
    ck_assert_int_eq(bits_differ(want, l.r[0].frame, FLEN, &where), 1);
    ck_assert_uint_ge(where, HDR);
    hit[where]++;
  }
  for (int i = HDR; i < FLEN; i++) ck_assert_msg(hit[i] > 0, "byte %d never flipped", i);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_replay) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  cmd_ok(f, "replay bob");
  send1(f, &l, "bob", KIND_INIT, 1);
  send1(f, &l, "bob", KIND_DATA, 2);
  send1(f, &l, "bob", KIND_DATA, 3);
  ck_assert_uint_eq(l.n, 4);
  ck_assert_uint_eq(frame_id(l.r[0].frame), 1);
  ck_assert_uint_eq(frame_id(l.r[1].frame), 2);
  ck_assert_uint_eq(frame_id(l.r[2].frame), 2);
  ck_assert_int_eq(memcmp(l.r[1].frame, l.r[2].frame, FLEN), 0);
  ck_assert_uint_eq(frame_id(l.r[3].frame), 3);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_capture) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  char err[256];
  ck_assert_int_eq(fault_command(f, "send-captured bob", err, sizeof err), CX_E_NOT_FOUND);
  ck_assert_str_eq(err, "no frame captured for bob");
  cmd_ok(f, "capture bob");
  send1(f, &l, "alice", KIND_DATA, 1);
  send1(f, &l, "bob", KIND_INIT, 2);
  ck_assert_int_eq(fault_command(f, "send-captured bob", err, sizeof err), CX_E_NOT_FOUND);
  send1(f, &l, "bob", KIND_DATA, 3); /* captured, and emitted normally */
  send1(f, &l, "bob", KIND_DATA, 4);
  ck_assert_uint_eq(l.n, 4);
  ck_assert_uint_eq(frame_id(l.r[2].frame), 3);
  /* Sent by the next tick, or ahead of the next frame, and kept. */
  cmd_ok(f, "send-captured bob");
  ck_assert_uint_eq(l.n, 4);
  fault_tick(f, 0, on_emit, &l);
  ck_assert_uint_eq(l.n, 5);
  ck_assert_str_eq(l.r[4].peer, "bob");
  ck_assert_int_eq(memcmp(l.r[4].frame, l.r[2].frame, FLEN), 0);
  cmd_ok(f, "send-captured bob");
  send1(f, &l, "alice", KIND_DATA, 5);
  ck_assert_uint_eq(l.n, 7);
  ck_assert_uint_eq(frame_id(l.r[5].frame), 3);
  ck_assert_str_eq(l.r[5].peer, "bob");
  ck_assert_uint_eq(frame_id(l.r[6].frame), 5);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_oversize) {
  static const uint8_t want[HDR] = {1, 3, 0, 0, 0xff, 0xff, 0xff, 0x00, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  fault *f = mk(tu_seed());
  rec_log l = {0};
  cmd_ok(f, "delay 100 100"); /* immediate frames are not delayed */
  cmd_ok(f, "oversize bob");
  ck_assert_uint_eq(l.n, 0);
  fault_tick(f, 0, on_emit, &l);
  ck_assert_uint_eq(l.n, 1);
  ck_assert_str_eq(l.r[0].peer, "bob");
  ck_assert_uint_eq(l.r[0].len, HDR);
  ck_assert_int_eq(memcmp(l.r[0].frame, want, HDR), 0);
  fault_tick(f, 0, on_emit, &l);
  ck_assert_uint_eq(l.n, 1);
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_bad_commands) {
  static const struct {
    const char *cmd, *err;
  } bad[] = {
      {"", "empty fault command"},
      {"   ", "empty fault command"},
      {"explode bob", "unknown fault command \"explode\""},
      {"DROP 0.5", "unknown fault command \"DROP\""},
      {"drop", "usage: drop P (a probability)"},
      {"drop 0.5 0.5", "usage: drop P (a probability)"},
      {"drop 1.5", "drop wants a probability between 0 and 1, got \"1.5\""},
      {"drop -0.1", "drop wants a probability between 0 and 1, got \"-0.1\""},
      {"drop abc", "drop wants a probability between 0 and 1, got \"abc\""},
      {"drop nan", "drop wants a probability between 0 and 1, got \"nan\""},
      {"drop 0x1p-1", "drop wants a probability between 0 and 1, got \"0x1p-1\""},
      {"drop 0.5.", "drop wants a probability between 0 and 1, got \"0.5.\""},
      {"dup 2", "dup wants a probability between 0 and 1, got \"2\""},
      {"reorder .", "reorder wants a probability between 0 and 1, got \".\""},
      {"delay 10", "usage: delay MIN_MS MAX_MS"},
      {"delay 20 10",
       "delay wants whole milliseconds with MIN_MS <= MAX_MS <= 60000, got \"20 10\""},
      {"delay 0 60001",
       "delay wants whole milliseconds with MIN_MS <= MAX_MS <= 60000, got \"0 60001\""},
      {"delay -1 5", "delay wants whole milliseconds with MIN_MS <= MAX_MS <= 60000, got \"-1 5\""},
      {"delay 1.5 5", "delay wants whole milliseconds with MIN_MS <= MAX_MS <= 60000, got \"1.5 5\""},
      {"seed", "usage: seed N"},
      {"seed -1", "seed wants a decimal integer below 2^64, got \"-1\""},
      {"seed 18446744073709551616",
       "seed wants a decimal integer below 2^64, got \"18446744073709551616\""},
      {"seed 12x", "seed wants a decimal integer below 2^64, got \"12x\""},
      {"partition", "usage: partition NAME"},
      {"partition Bob",
       "partition wants a member name (1 to 32 characters of a-z 0-9 _ -), got \"Bob\""},
      {"partition aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "partition wants a member name (1 to 32 characters of a-z 0-9 _ -), got "
       "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""},
      {"flip bob.x", "flip wants a member name (1 to 32 characters of a-z 0-9 _ -), got \"bob.x\""},
      {"heal a b", "usage: heal NAME"},
      {"replay", "usage: replay NAME"},
      {"capture a b", "usage: capture NAME"},
      {"send-captured", "usage: send-captured NAME"},
      {"oversize", "usage: oversize NAME"},
      {"drop 0.1 a b c", "too many words in fault command \"drop 0.1 a b c\""},
  };
  fault *f = mk(tu_seed());
  char err[256];
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_msg(fault_command(f, bad[i].cmd, err, sizeof err) == CX_E_INVALID_ARG,
                  "\"%s\" accepted", bad[i].cmd);
    ck_assert_msg(strcmp(err, bad[i].err) == 0, "\"%s\": got \"%s\"", bad[i].cmd, err);
  }
  char longcmd[400];
  memset(longcmd, 'a', sizeof longcmd - 1);
  longcmd[sizeof longcmd - 1] = 0;
  ck_assert_int_eq(fault_command(f, longcmd, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_str_eq(err, "fault command longer than 255 bytes");
  /* A short err buffer is truncated, a NULL one is fine. */
  char tiny[8];
  ck_assert_int_eq(fault_command(f, "nope", tiny, sizeof tiny), CX_E_INVALID_ARG);
  ck_assert_str_eq(tiny, "unknown");
  ck_assert_int_eq(fault_command(f, "nope", NULL, 0), CX_E_INVALID_ARG);
  /* The refused commands changed nothing. */
  rec_log l = {0};
  for (uint64_t i = 0; i < 100; i++) send1(f, &l, "bob", KIND_DATA, i);
  ck_assert_uint_eq(l.n, 100);
  ck_assert(!fault_partitioned(f, "bob"));
  /* Good ones, edge values included. */
  cmd_ok(f, "drop 0");
  cmd_ok(f, "drop 1");
  cmd_ok(f, "drop 1.0");
  cmd_ok(f, "drop 5e-1");
  cmd_ok(f, "dup 0.000");
  cmd_ok(f, "  reorder\t0.25  ");
  cmd_ok(f, "delay 0 60000");
  cmd_ok(f, "delay 7 7");
  cmd_ok(f, "seed 0");
  cmd_ok(f, "seed 18446744073709551615");
  cmd_ok(f, "partition a_b-9");
  cmd_ok(f, "partition aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  ck_assert(fault_partitioned(f, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
  fault_free(f);
  log_free(&l);
}
END_TEST

START_TEST(test_free_with_held) {
  fault *f = mk(tu_seed());
  rec_log l = {0};
  cmd_ok(f, "delay 50 50");
  cmd_ok(f, "capture bob");
  send1(f, &l, "bob", KIND_DATA, 1);
  cmd_ok(f, "reorder 1");
  send1(f, &l, "bob", KIND_DATA, 2);
  cmd_ok(f, "oversize bob");
  cmd_ok(f, "send-captured bob");
  fault_free(f); /* frees held frames and captures (ASan checks) */
  fault_free(NULL);
  log_free(&l);
}
END_TEST

int main(void) {
  Suite *s = suite_create("fault");
  TCase *tc = tcase_create("fault");
  tcase_add_test(tc, test_determinism);
  tcase_add_test(tc, test_off_by_default);
  tcase_add_test(tc, test_drop_rate);
  tcase_add_test(tc, test_dup_rate);
  tcase_add_test(tc, test_reorder_rate);
  tcase_add_test(tc, test_reorder_semantics);
  tcase_add_test(tc, test_delay);
  tcase_add_test(tc, test_held_cap);
  tcase_add_test(tc, test_partition_heal);
  tcase_add_test(tc, test_forget);
  tcase_add_test(tc, test_flip);
  tcase_add_test(tc, test_replay);
  tcase_add_test(tc, test_capture);
  tcase_add_test(tc, test_oversize);
  tcase_add_test(tc, test_bad_commands);
  tcase_add_test(tc, test_free_with_held);
  suite_add_tcase(s, tc);
  return tu_run(s);
}

#endif
