/* Unit tests for mpc/threshold/tsign.h: threshold-signing sessions over an
 * in-memory network the test drives (virtual clock, drops, duplicates,
 * reordering, parties offline or crashing after their commitment, a party
 * whose shares are altered in transit). Keys from frost_dealer_keygen and,
 * once, from an in-process DKG (dkg.h). Every signature a session calls
 * done is checked with frost_verify; a monitor on the wire checks that no
 * party ever gives two different commitments or shares for one
 * (coordinator, attempt). Randomness from tu_rand (replay with CUSTOS_SEED).
 * With CUSTOS_TSIGN_CORPUS=<dir> the corpus test writes fuzz seeds
 * (tests/fuzz/corpus/fuzz_tsign_msg, input format in fuzz_tsign_msg.c). */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkg.h"
#include "frost.h"
#include "testutil.h"
#include "tsign.h"

#define MAXN 24
#define NEVER UINT64_MAX

/* L, the group order, little-endian (a scalar encoding that is not canonical). */
static const uint8_t L_LE[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                 0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

/* G * k */
static frost_element gk(uint16_t k) {
  frost_scalar s;
  frost_element e;
  frost_id_scalar(k, &s);
  ck_assert_int_eq(frost_public_share(&s, &e), CX_OK);
  return e;
}

/* ---- the in-memory network ---- */

typedef struct {
  uint16_t from, to;
  uint64_t at;
  size_t len;
  uint8_t *buf;
} pkt;

/* One value a party gave for (coordinator, attempt, kind). */
typedef struct {
  uint16_t from, coord, attempt;
  uint8_t kind;
  uint8_t v[64];
} given;

typedef struct {
  uint16_t n, t;
  frost_element gpk, pk[MAXN];
  frost_scalar *sk; /* sodium_malloc'd, MAXN */
  uint8_t sid[32], msg[48];
  size_t mlen;
  tsign *p[MAXN + 1]; /* by id */
  uint32_t commit_ms, share_ms, resend_ms;
  /* faults */
  uint8_t offline[MAXN + 1];
  uint8_t die_after_commit[MAXN + 1];
  uint8_t withhold[MAXN + 1]; /* commits, but its SHAREs are lost */
  uint16_t bad;                /* its SHAREs get z + 1 in transit */
  uint64_t delay_of[MAXN + 1]; /* extra delay of messages from this party */
  unsigned drop_pct, dup_pct;
  uint64_t jitter;
  uint64_t coord_at[MAXN + 1]; /* when the party starts coordinating (attempt 0) */
  /* network */
  pkt *q;
  size_t nq, cap;
  uint64_t now;
  size_t sent, delivered;
  /* monitor */
  given *g;
  size_t ng, gcap;
} net;

static void net_keys_dealer(net *w, uint16_t n, uint16_t t) {
  char err[256];
  w->n = n;
  w->t = t;
  ck_assert_int_eq(frost_dealer_keygen(NULL, NULL, n, t, w->sk, &w->gpk, NULL, err, sizeof err),
                   CX_OK);
  for (uint16_t j = 0; j < n; j++) ck_assert_int_eq(frost_public_share(&w->sk[j], &w->pk[j]), CX_OK);
}

/* An honest DKG run of n parties (every message through its encoding, as
 * test_dkg.c runs it); the shares and public shares it gives. */
static void net_keys_dkg(net *w, uint16_t n, uint16_t t) {
  char err[256];
  uint8_t ctx[32];
  dkg *d[MAXN];
  dkg_round1_msg *r1 = malloc(sizeof *r1), *got = malloc(sizeof *got);
  dkg_share *sh = sodium_allocarray(MAXN, sizeof *sh);
  ck_assert(r1 && got && sh);
  w->n = n;
  w->t = t;
  tu_randbytes(ctx, sizeof ctx);
  for (uint16_t i = 1; i <= n; i++) {
    uint8_t seed[32];
    tu_randbytes(seed, sizeof seed);
    ck_assert_int_eq(dkg_new(n, t, i, ctx, seed, &d[i - 1], err, sizeof err), CX_OK);
  }
  uint8_t buf[DKG_ROUND1_MAX_LEN];
  for (uint16_t i = 1; i <= n; i++) {
    ck_assert_int_eq(dkg_round1(d[i - 1], r1), CX_OK);
    size_t len = dkg_round1_encode(r1, buf);
    ck_assert_int_eq(dkg_round1_decode(buf, len, got, err, sizeof err), CX_OK);
    for (uint16_t j = 1; j <= n; j++)
      ck_assert_int_eq(dkg_recv_round1(d[j - 1], got, err, sizeof err), CX_OK);
  }
  for (uint16_t i = 1; i <= n; i++) {
    ck_assert_int_eq(dkg_round2(d[i - 1], sh, err, sizeof err), CX_OK);
    for (uint16_t j = 1; j <= n; j++) {
      if (j == i) continue;
      uint8_t b[DKG_SHARE_LEN];
      dkg_share s;
      dkg_share_encode(&sh[j - 1], b);
      ck_assert_int_eq(dkg_share_decode(b, sizeof b, &s, err, sizeof err), CX_OK);
      int complained = -1;
      dkg_complaint c;
      ck_assert_int_eq(dkg_recv_share(d[j - 1], &s, &c, &complained, err, sizeof err), CX_OK);
      sodium_memzero(&s, sizeof s);
    }
  }
  dkg_result *res = malloc(sizeof *res);
  ck_assert_ptr_nonnull(res);
  for (uint16_t j = 1; j <= n; j++) {
    ck_assert_int_eq(dkg_finish(d[j - 1], res, &w->sk[j - 1], err, sizeof err), CX_OK);
    ck_assert_uint_eq(res->nqual, n);
    if (j == 1) {
      w->gpk = res->group_pk;
      memcpy(w->pk, res->pk_shares, n * sizeof w->pk[0]);
    } else {
      ck_assert(memcmp(w->gpk.b, res->group_pk.b, 32) == 0);
    }
    dkg_free(d[j - 1]);
  }
  free(res);
  sodium_free(sh);
  free(r1);
  free(got);
}

static void net_init(net *w) {
  memset(w, 0, sizeof *w);
  w->sk = sodium_allocarray(MAXN, sizeof *w->sk);
  ck_assert_ptr_nonnull(w->sk);
  tu_randbytes(w->sid, sizeof w->sid);
  w->mlen = 1 + tu_rand() % sizeof w->msg;
  tu_randbytes(w->msg, w->mlen);
  for (int i = 0; i <= MAXN; i++) w->coord_at[i] = NEVER;
}

static void net_start(net *w) {
  char err[256];
  for (uint16_t id = 1; id <= w->n; id++) {
    tsign_config cfg = {.n = w->n,
                        .t = w->t,
                        .my_id = id,
                        .group_pk = w->gpk,
                        .pk_shares = w->pk,
                        .share = &w->sk[id - 1],
                        .commit_ms = w->commit_ms,
                        .share_ms = w->share_ms,
                        .resend_ms = w->resend_ms};
    cx_err e = tsign_new(w->sid, w->msg, w->mlen, &cfg, &w->p[id], err, sizeof err);
    ck_assert_msg(e == CX_OK, "tsign_new %u: %s", id, err);
  }
}

static void net_free(net *w) {
  for (uint16_t id = 1; id <= MAXN; id++) tsign_free(w->p[id]);
  for (size_t i = 0; i < w->nq; i++) free(w->q[i].buf);
  free(w->q);
  free(w->g);
  sodium_free(w->sk);
}

/* Never two different commitments or shares from one party for one
 * (coordinator, attempt): what the party sent, before any tampering. */
static void monitor(net *w, uint16_t from, const tsign_out *o) {
  uint8_t kind = o->buf[0];
  if (kind != TSIGN_KIND_COMMIT && kind != TSIGN_KIND_SHARE) return;
  given g = {.from = from, .coord = o->to, .kind = kind};
  g.attempt = (uint16_t)(o->buf[1 + 32] << 8 | o->buf[2 + 32]);
  memcpy(g.v, o->buf + TSIGN_HEAD_LEN, kind == TSIGN_KIND_COMMIT ? 64 : 32);
  for (size_t i = 0; i < w->ng; i++) {
    given *h = &w->g[i];
    if (h->from == g.from && h->coord == g.coord && h->attempt == g.attempt && h->kind == g.kind) {
      ck_assert_msg(memcmp(h->v, g.v, sizeof g.v) == 0,
                    "party %u gave two different %s for coordinator %u attempt %u", from,
                    kind == TSIGN_KIND_COMMIT ? "commitments" : "shares", g.coord, g.attempt);
      return;
    }
  }
  if (w->ng == w->gcap) {
    w->gcap = w->gcap ? 2 * w->gcap : 64;
    w->g = realloc(w->g, w->gcap * sizeof *w->g);
    ck_assert_ptr_nonnull(w->g);
  }
  w->g[w->ng++] = g;
}

static void enqueue(net *w, uint16_t from, uint16_t to, const uint8_t *buf, size_t len) {
  if (w->nq == w->cap) {
    w->cap = w->cap ? 2 * w->cap : 64;
    w->q = realloc(w->q, w->cap * sizeof *w->q);
    ck_assert_ptr_nonnull(w->q);
  }
  pkt *p = &w->q[w->nq++];
  p->from = from;
  p->to = to;
  p->at = w->now + w->delay_of[from] + (w->jitter ? tu_rand() % (w->jitter + 1) : 0);
  p->len = len;
  p->buf = malloc(len);
  ck_assert_ptr_nonnull(p->buf);
  memcpy(p->buf, buf, len);
}

static void send1(net *w, uint16_t from, uint16_t to, const uint8_t *buf, size_t len) {
  uint8_t tmp[TSIGN_MSG_MAX_LEN];
  memcpy(tmp, buf, len);
  if (from == w->bad && tmp[0] == TSIGN_KIND_SHARE) {
    frost_scalar one = {{1}};
    crypto_core_ristretto255_scalar_add(tmp + TSIGN_HEAD_LEN, tmp + TSIGN_HEAD_LEN, one.b);
  }
  w->sent++;
  if (w->withhold[from] && tmp[0] == TSIGN_KIND_SHARE) return;
  if (w->drop_pct && tu_rand() % 100 < w->drop_pct) return;
  enqueue(w, from, to, tmp, len);
  if (w->dup_pct && tu_rand() % 100 < w->dup_pct) enqueue(w, from, to, tmp, len);
}

/* Everything party id has to send goes on the wire. */
static void collect(net *w, uint16_t id) {
  tsign_out *o = malloc(sizeof *o);
  ck_assert_ptr_nonnull(o);
  int die = 0;
  while (tsign_poll(w->p[id], o)) {
    if (w->offline[id]) continue;
    ck_assert_uint_ne(o->to, id);
    monitor(w, id, o);
    if (o->to == TSIGN_TO_ALL) {
      for (uint16_t j = 1; j <= w->n; j++)
        if (j != id) send1(w, id, j, o->buf, o->len);
    } else {
      send1(w, id, o->to, o->buf, o->len);
    }
    if (w->die_after_commit[id] && o->buf[0] == TSIGN_KIND_COMMIT) die = 1;
  }
  if (die) w->offline[id] = 1;
  free(o);
}

/* Delivers one packet due now, picked at random among those due (so the
 * network reorders); 0 when none is due. Honest parties never provoke a
 * refusal other than a late or stale message. */
static int deliver_one(net *w) {
  size_t due[4096], k = 0;
  for (size_t i = 0; i < w->nq && k < 4096; i++)
    if (w->q[i].at <= w->now) due[k++] = i;
  if (!k) return 0;
  size_t i = due[tu_rand() % k];
  pkt p = w->q[i];
  w->q[i] = w->q[--w->nq];
  if (!w->offline[p.to]) {
    char err[256] = "";
    cx_err e = tsign_recv(w->p[p.to], p.from, p.buf, p.len, w->now, err, sizeof err);
    ck_assert_msg(e == CX_OK || e == CX_E_MPC_ROUND || e == CX_E_MPC_STATE,
                  "party %u refused kind %u from %u: %s (%s)", p.to, p.buf[0], p.from,
                  cx_err_name(e), err);
    w->delivered++;
  }
  free(p.buf);
  return 1;
}

static int any_done(const net *w) {
  for (uint16_t id = 1; id <= w->n; id++)
    if (tsign_status_get(w->p[id]) == TSIGN_DONE) return 1;
  return 0;
}

/* Runs the network until a party is done or `end` (virtual ms); parties
 * coordinate at coord_at (if none is done yet and they are up). Every
 * party's timers tick every 10 ms. */
static void run_until(net *w, uint64_t end) {
  char err[256];
  while (w->now <= end) {
    for (uint16_t id = 1; id <= w->n; id++) {
      if (w->coord_at[id] <= w->now && !w->offline[id] && !any_done(w)) {
        w->coord_at[id] = NEVER;
        cx_err e = tsign_coordinate(w->p[id], 0, w->now, err, sizeof err);
        ck_assert_msg(e == CX_OK, "coordinate %u: %s", id, err);
      }
      collect(w, id);
    }
    if (deliver_one(w)) {
      /* a run that never lets time pass is a livelock */
      ck_assert_msg(w->delivered < 200000, "over 200000 deliveries by %llu ms",
                    (unsigned long long)w->now);
      continue;
    }
    if (any_done(w)) break;
    w->now += 10;
    for (uint16_t id = 1; id <= w->n; id++)
      if (!w->offline[id]) tsign_tick(w->p[id], w->now);
  }
}

/* A party that is done holds a signature that verifies. */
static void check_done_sigs(const net *w) {
  char err[256];
  for (uint16_t id = 1; id <= w->n; id++) {
    uint8_t sig[FROST_SIG_LEN];
    if (tsign_status_get(w->p[id]) != TSIGN_DONE) {
      ck_assert_int_eq(tsign_signature(w->p[id], sig), CX_E_MPC_STATE);
      continue;
    }
    ck_assert_int_eq(tsign_signature(w->p[id], sig), CX_OK);
    frost_sig s;
    memcpy(s.b, sig, sizeof sig);
    cx_err e = frost_verify(&w->gpk, w->msg, w->mlen, &s, err, sizeof err);
    ck_assert_msg(e == CX_OK, "party %u's signature: %s", id, err);
    ck_assert_str_eq(tsign_reason(w->p[id]), "");
  }
}

static size_t named(const net *w, uint16_t id, uint16_t *ids, tsign_fault *why) {
  size_t n = 99;
  tsign_culprits(w->p[id], ids, why, &n);
  return n;
}

/* ---- whole runs ---- */

static void honest(uint16_t n, uint16_t t, int from_dkg) {
  net w;
  net_init(&w);
  if (from_dkg)
    net_keys_dkg(&w, n, t);
  else
    net_keys_dealer(&w, n, t);
  net_start(&w);
  w.coord_at[1] = 0;
  w.jitter = 30;
  run_until(&w, 10000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_DONE);
  check_done_sigs(&w);
  ck_assert_int_eq(tsign_attempt(w.p[1]), 0);
  ck_assert_uint_lt(w.now, TSIGN_COMMIT_MS); /* no timer was needed */
  uint16_t ids[MAXN];
  ck_assert_uint_eq(named(&w, 1, ids, NULL), 0);
  /* signers answer, they do not finish */
  for (uint16_t id = 2; id <= n; id++) {
    ck_assert_int_eq(tsign_status_get(w.p[id]), TSIGN_RUNNING);
    ck_assert_int_eq(tsign_attempt(w.p[id]), -1);
  }
  /* exactly t signed, each once */
  uint32_t shares = 0;
  for (uint16_t id = 1; id <= n; id++) {
    tsign_stats st;
    tsign_stats_get(w.p[id], &st);
    ck_assert_uint_le(st.shares_made, 1);
    ck_assert_uint_eq(st.nonces_made, 1);
    shares += st.shares_made;
  }
  ck_assert_uint_eq(shares, t);
  net_free(&w);
}

START_TEST(honest_n4_t3) { honest(4, 3, 0); }
END_TEST
START_TEST(honest_n7_t5) { honest(7, 5, 0); }
END_TEST
START_TEST(honest_dkg_n5_t3) { honest(5, 3, 1); }
END_TEST

/* Parties offline from the start are never chosen: no timer needed. */
static void offline_from_start(uint16_t n, uint16_t t, uint16_t k) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, n, t);
  net_start(&w);
  for (uint16_t i = 0; i < k; i++) w.offline[n - i] = 1;
  w.coord_at[1] = 0;
  w.jitter = 30;
  run_until(&w, 10000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_DONE);
  check_done_sigs(&w);
  ck_assert_int_eq(tsign_attempt(w.p[1]), 0);
  net_free(&w);
}

START_TEST(offline_from_start_n4) { offline_from_start(4, 3, 1); }
END_TEST
START_TEST(offline_from_start_n7) { offline_from_start(7, 5, 2); }
END_TEST

/* k parties answer first (so they are chosen) and then crash: the share
 * timer names them unresponsive and the next attempt signs without them. */
static void offline_after_commit(uint16_t n, uint16_t t, uint16_t k) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, n, t);
  net_start(&w);
  for (uint16_t id = 2; id <= n; id++) w.delay_of[id] = 50;
  for (uint16_t i = 0; i < k; i++) {
    w.die_after_commit[n - i] = 1;
    w.delay_of[n - i] = 0;
  }
  w.coord_at[1] = 0;
  run_until(&w, 20000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_DONE);
  check_done_sigs(&w);
  ck_assert_int_eq(tsign_attempt(w.p[1]), 1);
  ck_assert_uint_ge(w.now, TSIGN_SHARE_MS);
  uint16_t ids[MAXN];
  tsign_fault why[MAXN];
  ck_assert_uint_eq(named(&w, 1, ids, why), k);
  for (uint16_t i = 0; i < k; i++) {
    ck_assert_uint_eq(ids[i], n - k + 1 + i);
    ck_assert_int_eq(why[i], TSIGN_UNRESPONSIVE);
  }
  ck_assert_str_eq(tsign_fault_name(TSIGN_UNRESPONSIVE), "unresponsive");
  net_free(&w);
}

START_TEST(offline_after_commit_n4) { offline_after_commit(4, 3, 1); }
END_TEST
START_TEST(offline_after_commit_n7) { offline_after_commit(7, 5, 2); }
END_TEST

/* A party whose shares are altered is named "bad_share" and left out. */
static void bad_share(uint16_t n, uint16_t t, uint16_t bad) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, n, t);
  net_start(&w);
  /* the last parties answer late, so the bad one is among the first t */
  for (uint16_t id = t + 1; id <= n; id++) w.delay_of[id] = 100;
  w.bad = bad;
  w.coord_at[1] = 0;
  run_until(&w, 20000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_DONE);
  check_done_sigs(&w);
  ck_assert_int_eq(tsign_attempt(w.p[1]), 1);
  ck_assert_uint_lt(w.now, TSIGN_SHARE_MS); /* found at once, no timer */
  uint16_t ids[MAXN];
  tsign_fault why[MAXN];
  ck_assert_uint_eq(named(&w, 1, ids, why), 1);
  ck_assert_uint_eq(ids[0], bad);
  ck_assert_int_eq(why[0], TSIGN_BAD_SHARE);
  ck_assert_str_eq(tsign_fault_name(why[0]), "bad_share");
  /* the culprit signed once (attempt 0) and was not asked again */
  tsign_stats st;
  tsign_stats_get(w.p[bad], &st);
  ck_assert_uint_eq(st.shares_made, 1);
  net_free(&w);
}

START_TEST(bad_share_n4) { bad_share(4, 3, 3); }
END_TEST
START_TEST(bad_share_n7) { bad_share(7, 5, 2); }
END_TEST

/* A party that commits at once but never sends its share is named
 * unresponsive and not asked again, though it keeps committing first. */
START_TEST(withholder_left_out) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, 4, 3);
  net_start(&w);
  for (uint16_t id = 2; id <= 4; id++) w.delay_of[id] = 50;
  w.delay_of[3] = 0;
  w.withhold[3] = 1;
  w.coord_at[1] = 0;
  run_until(&w, 20000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_DONE);
  check_done_sigs(&w);
  ck_assert_int_eq(tsign_attempt(w.p[1]), 1);
  uint16_t ids[MAXN];
  tsign_fault why[MAXN];
  ck_assert_uint_eq(named(&w, 1, ids, why), 1);
  ck_assert_uint_eq(ids[0], 3);
  ck_assert_int_eq(why[0], TSIGN_UNRESPONSIVE);
  tsign_stats st;
  tsign_stats_get(w.p[3], &st);
  ck_assert_uint_eq(st.nonces_made, 2); /* it committed to attempt 1 too */
  ck_assert_uint_eq(st.shares_made, 1);
  net_free(&w);
}
END_TEST

/* More than n - t offline: FAILED, the reason names every silent party. */
static void too_many_offline(uint16_t n, uint16_t t, uint16_t k) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, n, t);
  net_start(&w);
  for (uint16_t i = 0; i < k; i++) w.offline[n - i] = 1;
  w.coord_at[1] = 0;
  run_until(&w, 5000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_FAILED);
  check_done_sigs(&w);
  const char *why = tsign_reason(w.p[1]);
  for (uint16_t i = 0; i < k; i++) {
    char needle[64];
    snprintf(needle, sizeof needle, "party %u unresponsive (no commitment in attempt 0)", n - i);
    ck_assert_msg(strstr(why, needle), "reason \"%s\" lacks \"%s\"", why, needle);
  }
  ck_assert_ptr_nonnull(strstr(why, "needed"));
  uint16_t ids[MAXN];
  ck_assert_uint_eq(named(&w, 1, ids, NULL), k);
  /* the silent parties were asked again before being named */
  ck_assert_uint_gt(w.sent, (size_t)(n - 1) * 2);
  /* a failed session still serves other coordinators, and refuses to
   * coordinate again while too few parties are up */
  char err[256];
  ck_assert_int_eq(tsign_coordinate(w.p[1], 0, w.now, err, sizeof err), CX_E_MPC_ROUND);
  ck_assert_int_eq(tsign_coordinate(w.p[1], 1, w.now, err, sizeof err), CX_OK); /* retry */
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_RUNNING);
  ck_assert_uint_eq(named(&w, 1, ids, NULL), 0); /* unresponsive marks cleared */
  run_until(&w, w.now + 5000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_FAILED);
  /* the parties come back: the retry signs */
  for (uint16_t i = 0; i < k; i++) w.offline[n - i] = 0;
  ck_assert_int_eq(tsign_coordinate(w.p[1], 7, w.now, err, sizeof err), CX_OK);
  run_until(&w, w.now + 5000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_DONE);
  ck_assert_int_eq(tsign_attempt(w.p[1]), 7);
  check_done_sigs(&w);
  ck_assert_int_eq(tsign_coordinate(w.p[1], 8, w.now, err, sizeof err), CX_E_MPC_STATE);
  net_free(&w);
}

START_TEST(too_many_offline_n4) { too_many_offline(4, 3, 2); }
END_TEST
START_TEST(too_many_offline_n7) { too_many_offline(7, 5, 3); }
END_TEST

/* Too many bad shares: FAILED, culprits named in the reason. */
START_TEST(too_many_bad) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, 4, 3);
  net_start(&w);
  w.bad = 2;
  w.offline[4] = 1;
  w.coord_at[1] = 0;
  run_until(&w, 5000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_FAILED);
  const char *why = tsign_reason(w.p[1]);
  ck_assert_msg(strstr(why, "party 2 bad_share (attempt 0)"), "%s", why);
  ck_assert_msg(strstr(why, "2 of 4 parties left, 3 needed"), "%s", why);
  char err[256];
  /* retry: party 4 is still only unresponsive, 2 a culprit: 1, 3, 4 remain */
  ck_assert_int_eq(tsign_coordinate(w.p[1], 1, w.now, err, sizeof err), CX_E_MPC_ROUND);
  ck_assert_int_eq(tsign_coordinate(w.p[1], 2, w.now, err, sizeof err), CX_OK);
  w.offline[4] = 0;
  run_until(&w, w.now + 5000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_DONE);
  check_done_sigs(&w);
  net_free(&w);
}
END_TEST

/* The first coordinator is silent (down from the start, or down after its
 * START): a second one, later, signs. */
static void fallback(int start_then_die) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, 4, 3);
  net_start(&w);
  w.jitter = 20;
  if (start_then_die) {
    char err[256];
    ck_assert_int_eq(tsign_coordinate(w.p[1], 0, 0, err, sizeof err), CX_OK);
    collect(&w, 1);
    w.offline[1] = 1;
  } else {
    w.offline[1] = 1;
  }
  w.coord_at[2] = 2000;
  run_until(&w, 10000);
  ck_assert_int_eq(tsign_status_get(w.p[2]), TSIGN_DONE);
  check_done_sigs(&w);
  ck_assert_uint_ge(w.now, 2000);
  if (start_then_die)
    for (uint16_t id = 2; id <= 4; id++) {
      tsign_stats st;
      tsign_stats_get(w.p[id], &st);
      ck_assert_uint_eq(st.nonces_made, 2); /* one slot per coordinator */
      ck_assert_int_eq(tsign_slot(w.p[id], 1, 0), TSIGN_SLOT_COMMITTED);
    }
  net_free(&w);
}

START_TEST(fallback_first_down) { fallback(0); }
END_TEST
START_TEST(fallback_first_silent) { fallback(1); }
END_TEST

/* Lost STARTs are re-sent: no one named, attempt 0 signs. */
START_TEST(resend_after_loss) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, 4, 3);
  net_start(&w);
  char err[256];
  ck_assert_int_eq(tsign_coordinate(w.p[1], 0, 0, err, sizeof err), CX_OK);
  tsign_out o;
  ck_assert_int_eq(tsign_poll(w.p[1], &o), 1); /* START, lost */
  ck_assert_int_eq(o.to, TSIGN_TO_ALL);
  ck_assert_int_eq(tsign_poll(w.p[1], &o), 0);
  run_until(&w, 10000);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_DONE);
  ck_assert_int_eq(tsign_attempt(w.p[1]), 0);
  ck_assert_uint_ge(w.now, TSIGN_RESEND_MS);
  ck_assert_uint_lt(w.now, TSIGN_COMMIT_MS);
  uint16_t ids[MAXN];
  ck_assert_uint_eq(named(&w, 1, ids, NULL), 0);
  check_done_sigs(&w);
  net_free(&w);
}
END_TEST

/* ---- message-level tests (the test plays the network by hand) ---- */

static size_t enc(const tsign_msg *m, uint8_t *out) { return tsign_encode(m, out); }

static tsign_msg *msg_new(const uint8_t sid[32], uint8_t kind, uint16_t a) {
  tsign_msg *m = calloc(1, sizeof *m);
  ck_assert_ptr_nonnull(m);
  m->kind = kind;
  memcpy(m->sid, sid, 32);
  m->attempt = a;
  return m;
}

/* The one message waiting in p's outbox. */
static void take1(tsign *p, tsign_out *o) {
  ck_assert_int_eq(tsign_poll(p, o), 1);
  tsign_out extra;
  ck_assert_int_eq(tsign_poll(p, &extra), 0);
}

static void recv_ok(tsign *p, uint16_t from, const uint8_t *b, size_t len) {
  char err[256] = "";
  cx_err e = tsign_recv(p, from, b, len, 0, err, sizeof err);
  ck_assert_msg(e == CX_OK, "recv: %s (%s)", cx_err_name(e), err);
}

/* A refusal with its code and a sentence, and nothing changed: no output,
 * the same counters, status and named parties. */
static void refused(tsign *p, uint16_t from, const uint8_t *b, size_t len, cx_err want) {
  char err[256] = "";
  tsign_stats before, after;
  tsign_status st = tsign_status_get(p);
  int32_t att = tsign_attempt(p);
  uint16_t ids[MAXN];
  size_t nb, na;
  tsign_culprits(p, ids, NULL, &nb);
  tsign_stats_get(p, &before);
  cx_err e = tsign_recv(p, from, b, len, 0, err, sizeof err);
  ck_assert_msg(e == want, "want %s, got %s (%s)", cx_err_name(want), cx_err_name(e), err);
  ck_assert_msg(err[0] != 0, "refusal %s without a sentence", cx_err_name(e));
  tsign_stats_get(p, &after);
  ck_assert(memcmp(&before, &after, sizeof before) == 0);
  tsign_out o;
  ck_assert_int_eq(tsign_poll(p, &o), 0);
  ck_assert_int_eq(tsign_status_get(p), st);
  ck_assert_int_eq(tsign_attempt(p), att);
  tsign_culprits(p, ids, NULL, &na);
  ck_assert_uint_eq(na, nb);
}

/* Duplicate START and REQUEST give the same commitment and share; the nonce
 * pair is made once and consumed once; a different REQUEST for the same
 * (coordinator, attempt) is refused. */
START_TEST(duplicates_and_nonce_reuse) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, 4, 3);
  net_start(&w);
  char err[256];
  tsign_out start, c2a, c2b, c3, o;
  tsign_stats st;
  ck_assert_int_eq(tsign_coordinate(w.p[1], 0, 0, err, sizeof err), CX_OK);
  ck_assert_int_eq(tsign_slot(w.p[1], 1, 0), TSIGN_SLOT_COMMITTED);
  take1(w.p[1], &start);
  ck_assert_uint_eq(start.len, TSIGN_START_LEN);
  ck_assert_int_eq(start.buf[0], TSIGN_KIND_START);
  /* START twice at party 2: the same COMMIT, one nonce pair */
  recv_ok(w.p[2], 1, start.buf, start.len);
  take1(w.p[2], &c2a);
  recv_ok(w.p[2], 1, start.buf, start.len);
  take1(w.p[2], &c2b);
  ck_assert_uint_eq(c2a.to, 1);
  ck_assert_uint_eq(c2a.len, TSIGN_COMMIT_LEN);
  ck_assert(c2a.len == c2b.len && memcmp(c2a.buf, c2b.buf, c2a.len) == 0);
  tsign_stats_get(w.p[2], &st);
  ck_assert_uint_eq(st.nonces_made, 1);
  ck_assert_int_eq(tsign_slot(w.p[2], 1, 0), TSIGN_SLOT_COMMITTED);
  recv_ok(w.p[3], 1, start.buf, start.len);
  take1(w.p[3], &c3);
  /* the coordinator gets 2's commitment twice (a duplicate is fine), then 3's */
  recv_ok(w.p[1], 2, c2a.buf, c2a.len);
  recv_ok(w.p[1], 2, c2b.buf, c2b.len);
  ck_assert_int_eq(tsign_poll(w.p[1], &o), 0);
  recv_ok(w.p[1], 3, c3.buf, c3.len);
  /* REQUEST to 2 and 3, the coordinator's own share made already */
  tsign_out r2, r3;
  ck_assert_int_eq(tsign_poll(w.p[1], &r2), 1);
  ck_assert_int_eq(tsign_poll(w.p[1], &r3), 1);
  ck_assert_int_eq(tsign_poll(w.p[1], &o), 0);
  ck_assert_uint_eq(r2.to, 2);
  ck_assert_uint_eq(r3.to, 3);
  ck_assert_uint_eq(r2.len, TSIGN_REQUEST_LEN(3));
  ck_assert(memcmp(r2.buf, r3.buf, r2.len) == 0);
  ck_assert_int_eq(tsign_slot(w.p[1], 1, 0), TSIGN_SLOT_SIGNED);
  /* REQUEST twice at party 2: the same SHARE, one frost_sign */
  tsign_out s2a, s2b;
  recv_ok(w.p[2], 1, r2.buf, r2.len);
  take1(w.p[2], &s2a);
  ck_assert_int_eq(tsign_slot(w.p[2], 1, 0), TSIGN_SLOT_SIGNED);
  recv_ok(w.p[2], 1, r2.buf, r2.len);
  take1(w.p[2], &s2b);
  ck_assert(s2a.len == TSIGN_SHARE_LEN && s2b.len == s2a.len &&
            memcmp(s2a.buf, s2b.buf, s2a.len) == 0);
  tsign_stats_get(w.p[2], &st);
  ck_assert_uint_eq(st.nonces_made, 1);
  ck_assert_uint_eq(st.shares_made, 1);
  /* START again after signing: still the same commitment, no new nonces */
  recv_ok(w.p[2], 1, start.buf, start.len);
  take1(w.p[2], &o);
  ck_assert(memcmp(o.buf, c2a.buf, c2a.len) == 0);
  /* a different REQUEST for (1, 0): another commitment for party 3 */
  tsign_msg *m = calloc(1, sizeof *m);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(tsign_decode(r2.buf, r2.len, 4, 3, m, err, sizeof err), CX_OK);
  m->list[2].hiding = gk(7);
  uint8_t b[TSIGN_MSG_MAX_LEN];
  size_t len = enc(m, b);
  refused(w.p[2], 1, b, len, CX_E_MPC_EQUIVOCATION);
  ck_assert_int_eq(tsign_slot(w.p[2], 1, 0), TSIGN_SLOT_SIGNED);
  /* before signing, a REQUEST whose entry for me is not my commitment is
   * refused and the nonces stay; then the right one signs */
  tsign_out c4;
  recv_ok(w.p[4], 1, start.buf, start.len);
  take1(w.p[4], &c4);
  tsign_msg *m4 = calloc(1, sizeof *m4);
  ck_assert_ptr_nonnull(m4);
  ck_assert_int_eq(tsign_decode(c4.buf, c4.len, 4, 3, m4, err, sizeof err), CX_OK);
  m->list[2] = (frost_commitment){4, gk(8), gk(9)};
  len = enc(m, b);
  refused(w.p[4], 1, b, len, CX_E_MPC_CHECK_FAILED);
  ck_assert_int_eq(tsign_slot(w.p[4], 1, 0), TSIGN_SLOT_COMMITTED);
  m->list[2] = (frost_commitment){4, m4->D, m4->E};
  len = enc(m, b);
  recv_ok(w.p[4], 1, b, len);
  take1(w.p[4], &o);
  ck_assert_int_eq(o.buf[0], TSIGN_KIND_SHARE);
  ck_assert_int_eq(tsign_slot(w.p[4], 1, 0), TSIGN_SLOT_SIGNED);
  /* the coordinator: 2's share twice, then 3's: done */
  tsign_out s3;
  recv_ok(w.p[3], 1, r3.buf, r3.len);
  take1(w.p[3], &s3);
  recv_ok(w.p[1], 2, s2a.buf, s2a.len);
  recv_ok(w.p[1], 2, s2b.buf, s2b.len);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_RUNNING);
  /* a different share from 2 for the same attempt: refused */
  uint8_t alt[TSIGN_SHARE_LEN];
  memcpy(alt, s2a.buf, sizeof alt);
  alt[TSIGN_HEAD_LEN] ^= 1;
  alt[TSIGN_HEAD_LEN + 31] = 0;
  refused(w.p[1], 2, alt, sizeof alt, CX_E_MPC_EQUIVOCATION);
  recv_ok(w.p[1], 3, s3.buf, s3.len);
  ck_assert_int_eq(tsign_status_get(w.p[1]), TSIGN_DONE);
  check_done_sigs(&w);
  /* after done, late messages for the coordinator are refused */
  refused(w.p[1], 3, s3.buf, s3.len, CX_E_MPC_STATE);
  free(m);
  free(m4);
  net_free(&w);
}
END_TEST

/* Refusals that depend on the session's state, each leaving it unchanged. */
START_TEST(state_refusals) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, 4, 3);
  net_start(&w);
  char err[256];
  uint8_t b[TSIGN_MSG_MAX_LEN];
  size_t len;
  tsign_out start, o;
  ck_assert_int_eq(tsign_coordinate(w.p[1], 5, 0, err, sizeof err), CX_OK);
  ck_assert_int_eq(tsign_coordinate(w.p[1], 5, 0, err, sizeof err), CX_E_MPC_ROUND);
  ck_assert_int_eq(tsign_coordinate(w.p[1], 4, 0, err, sizeof err), CX_E_MPC_ROUND);
  take1(w.p[1], &start);
  /* senders */
  refused(w.p[2], 0, start.buf, start.len, CX_E_MPC_SENDER);
  refused(w.p[2], 5, start.buf, start.len, CX_E_MPC_SENDER);
  refused(w.p[2], 2, start.buf, start.len, CX_E_MPC_SENDER);
  /* another sid */
  memcpy(b, start.buf, start.len);
  b[5] ^= 1;
  refused(w.p[2], 1, b, start.len, CX_E_MPC_SESSION);
  /* a stale START: 2 has seen attempt 5 of coordinator 1 */
  recv_ok(w.p[2], 1, start.buf, start.len);
  tsign_out c2;
  take1(w.p[2], &c2);
  tsign_msg *m = msg_new(w.sid, TSIGN_KIND_START, 4);
  len = enc(m, b);
  refused(w.p[2], 1, b, len, CX_E_MPC_ROUND);
  /* a REQUEST for a (coordinator, attempt) never committed to */
  tsign_msg *r = msg_new(w.sid, TSIGN_KIND_REQUEST, 5);
  r->nlist = 3;
  r->list[0] = (frost_commitment){1, gk(1), gk(2)};
  r->list[1] = (frost_commitment){2, gk(3), gk(4)};
  r->list[2] = (frost_commitment){3, gk(5), gk(6)};
  len = enc(r, b);
  refused(w.p[3], 1, b, len, CX_E_MPC_ROUND);
  refused(w.p[2], 3, b, len, CX_E_MPC_ROUND); /* 3 never sent me a START */
  /* a REQUEST that leaves me out */
  r->list[1] = (frost_commitment){3, gk(3), gk(4)};
  r->list[2] = (frost_commitment){4, gk(5), gk(6)};
  len = enc(r, b);
  refused(w.p[2], 1, b, len, CX_E_MPC_SENDER);
  ck_assert_int_eq(tsign_slot(w.p[2], 1, 5), TSIGN_SLOT_COMMITTED);
  /* COMMIT / SHARE to a party that coordinates nothing */
  refused(w.p[3], 2, c2.buf, c2.len, CX_E_MPC_STATE);
  tsign_msg *sh = msg_new(w.sid, TSIGN_KIND_SHARE, 5);
  len = enc(sh, b);
  refused(w.p[3], 2, b, len, CX_E_MPC_STATE);
  /* at the coordinator: a SHARE before any REQUEST, a COMMIT for another attempt */
  refused(w.p[1], 2, b, len, CX_E_MPC_ROUND);
  tsign_msg *cm = msg_new(w.sid, TSIGN_KIND_COMMIT, 6);
  cm->D = gk(11);
  cm->E = gk(12);
  len = enc(cm, b);
  refused(w.p[1], 2, b, len, CX_E_MPC_ROUND);
  /* 2's commitment, then a different one from 2: equivocation */
  recv_ok(w.p[1], 2, c2.buf, c2.len);
  cm->attempt = 5;
  len = enc(cm, b);
  refused(w.p[1], 2, b, len, CX_E_MPC_EQUIVOCATION);
  /* 3 commits: the signer set {1, 2, 3} is chosen; 4's late commitment and
   * 4's share are refused */
  recv_ok(w.p[3], 1, start.buf, start.len);
  tsign_out c3;
  take1(w.p[3], &c3);
  recv_ok(w.p[1], 3, c3.buf, c3.len);
  while (tsign_poll(w.p[1], &o)) {
  }
  recv_ok(w.p[4], 1, start.buf, start.len);
  tsign_out c4;
  take1(w.p[4], &c4);
  refused(w.p[1], 4, c4.buf, c4.len, CX_E_MPC_ROUND);
  sh->attempt = 5;
  len = enc(sh, b);
  refused(w.p[1], 4, b, len, CX_E_MPC_SENDER);
  free(m);
  free(r);
  free(sh);
  free(cm);
  net_free(&w);
}
END_TEST

/* A nonce slot is never re-opened: after a newer START from the same
 * coordinator the older slot is gone and its START refused; the table
 * holds TSIGN_MAX_SLOTS slots and evicts the oldest. */
START_TEST(slots_and_eviction) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, 8, 2);
  net_start(&w);
  uint8_t b[TSIGN_MSG_MAX_LEN];
  tsign_out o;
  tsign_msg *m = msg_new(w.sid, TSIGN_KIND_START, 1);
  size_t len = enc(m, b);
  recv_ok(w.p[1], 2, b, len);
  take1(w.p[1], &o);
  m->attempt = 2;
  len = enc(m, b);
  recv_ok(w.p[1], 2, b, len);
  take1(w.p[1], &o);
  ck_assert_int_eq(tsign_slot(w.p[1], 2, 1), TSIGN_SLOT_NONE);
  ck_assert_int_eq(tsign_slot(w.p[1], 2, 2), TSIGN_SLOT_COMMITTED);
  m->attempt = 1;
  len = enc(m, b);
  refused(w.p[1], 2, b, len, CX_E_MPC_ROUND);
  /* 7 coordinators x 3 attempts each keep only the latest per coordinator */
  for (uint16_t a = 3; a <= 5; a++)
    for (uint16_t c = 2; c <= 8; c++) {
      m->attempt = a;
      len = enc(m, b);
      recv_ok(w.p[1], c, b, len);
      take1(w.p[1], &o);
    }
  for (uint16_t c = 2; c <= 8; c++) {
    ck_assert_int_eq(tsign_slot(w.p[1], c, 5), TSIGN_SLOT_COMMITTED);
    ck_assert_int_eq(tsign_slot(w.p[1], c, 4), TSIGN_SLOT_NONE);
  }
  /* the table is TSIGN_MAX_SLOTS wide: on a bigger key, the oldest goes */
  net w2;
  net_init(&w2);
  net_keys_dealer(&w2, 20, 2);
  net_start(&w2);
  tsign_msg *m2 = msg_new(w2.sid, TSIGN_KIND_START, 0);
  len = enc(m2, b);
  for (uint16_t c = 2; c <= 2 + TSIGN_MAX_SLOTS; c++) {
    recv_ok(w2.p[1], c, b, len);
    take1(w2.p[1], &o);
  }
  ck_assert_int_eq(tsign_slot(w2.p[1], 2, 0), TSIGN_SLOT_NONE);
  ck_assert_int_eq(tsign_slot(w2.p[1], 3, 0), TSIGN_SLOT_COMMITTED);
  ck_assert_int_eq(tsign_slot(w2.p[1], 2 + TSIGN_MAX_SLOTS, 0), TSIGN_SLOT_COMMITTED);
  refused(w2.p[1], 2, b, len, CX_E_MPC_ROUND); /* evicted: never re-opened */
  free(m);
  free(m2);
  net_free(&w);
  net_free(&w2);
}
END_TEST

/* Every decoder refusal, through tsign_decode and through tsign_recv (which
 * must leave the session as it was). */
START_TEST(decoder_refusals) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, 4, 3);
  net_start(&w);
  char err[256];
  char sentence[256];
  uint8_t b[TSIGN_MSG_MAX_LEN + 8];
  tsign_msg *m = calloc(1, sizeof *m), *back = calloc(1, sizeof *back);
  ck_assert(m && back);
  size_t len;
#define REFUSE(buf, l, code)                                                                     \
  do {                                                                                           \
    sentence[0] = 0;                                                                             \
    ck_assert_int_eq(tsign_decode(buf, l, 4, 3, back, sentence, sizeof sentence), code);         \
    ck_assert(sentence[0] != 0);                                                                 \
    refused(w.p[2], 1, buf, l, code);                                                            \
  } while (0)
  /* round trips */
  memcpy(m->sid, w.sid, 32);
  m->attempt = 0x1234;
  m->kind = TSIGN_KIND_START;
  len = enc(m, b);
  ck_assert_uint_eq(len, TSIGN_START_LEN);
  ck_assert_int_eq(tsign_decode(b, len, 4, 3, back, err, sizeof err), CX_OK);
  ck_assert_uint_eq(back->attempt, 0x1234);
  ck_assert_int_eq(b[33], 0x12);
  /* empty, unknown kinds, short header */
  REFUSE(b, 0, CX_E_TRUNCATED);
  uint8_t k0 = b[0];
  static const uint8_t bad_kinds[] = {0, 1, 4, 5, 6, 15, 20, 255};
  for (size_t i = 0; i < sizeof bad_kinds; i++) {
    b[0] = bad_kinds[i];
    REFUSE(b, len, CX_E_BAD_ENUM);
  }
  b[0] = k0;
  REFUSE(b, TSIGN_HEAD_LEN - 1, CX_E_TRUNCATED);
  REFUSE(b, 1, CX_E_TRUNCATED);
  b[len] = 0;
  REFUSE(b, len + 1, CX_E_TRAILING);
  /* COMMIT */
  m->kind = TSIGN_KIND_COMMIT;
  m->D = gk(3);
  m->E = gk(4);
  len = enc(m, b);
  ck_assert_uint_eq(len, TSIGN_COMMIT_LEN);
  ck_assert_int_eq(tsign_decode(b, len, 4, 3, back, err, sizeof err), CX_OK);
  ck_assert(memcmp(back->D.b, m->D.b, 32) == 0 && memcmp(back->E.b, m->E.b, 32) == 0);
  REFUSE(b, len - 1, CX_E_TRUNCATED);
  REFUSE(b, TSIGN_HEAD_LEN, CX_E_TRUNCATED);
  b[len] = 0;
  REFUSE(b, len + 1, CX_E_TRAILING);
  memset(b + TSIGN_HEAD_LEN, 0xff, 32); /* D not canonical */
  REFUSE(b, len, CX_E_NONCANONICAL);
  len = enc(m, b);
  memset(b + TSIGN_HEAD_LEN + 32, 0, 32); /* E the identity */
  REFUSE(b, len, CX_E_BAD_KEY);
  len = enc(m, b);
  memset(b + TSIGN_HEAD_LEN, 0, 32); /* D the identity */
  REFUSE(b, len, CX_E_BAD_KEY);
  /* SHARE */
  m->kind = TSIGN_KIND_SHARE;
  memset(m->z.b, 0, 32);
  m->z.b[0] = 9;
  len = enc(m, b);
  ck_assert_uint_eq(len, TSIGN_SHARE_LEN);
  ck_assert_int_eq(tsign_decode(b, len, 4, 3, back, err, sizeof err), CX_OK);
  ck_assert_int_eq(back->z.b[0], 9);
  REFUSE(b, len - 1, CX_E_TRUNCATED);
  b[len] = 0;
  REFUSE(b, len + 1, CX_E_TRAILING);
  memcpy(b + TSIGN_HEAD_LEN, L_LE, 32);
  REFUSE(b, len, CX_E_NONCANONICAL);
  /* REQUEST */
  m->kind = TSIGN_KIND_REQUEST;
  m->nlist = 3;
  for (uint16_t i = 0; i < 3; i++)
    m->list[i] = (frost_commitment){(uint16_t)(i + 1), gk(10 + i), gk(20 + i)};
  len = enc(m, b);
  ck_assert_uint_eq(len, TSIGN_REQUEST_LEN(3));
  ck_assert_int_eq(tsign_decode(b, len, 4, 3, back, err, sizeof err), CX_OK);
  ck_assert_uint_eq(back->nlist, 3);
  ck_assert(memcmp(back->list, m->list, 3 * sizeof m->list[0]) == 0);
  REFUSE(b, TSIGN_HEAD_LEN + 1, CX_E_TRUNCATED); /* no count */
  REFUSE(b, len - 1, CX_E_TRUNCATED);
  b[len] = 0;
  REFUSE(b, len + 1, CX_E_TRAILING);
  m->nlist = 2; /* list length != t */
  len = enc(m, b);
  REFUSE(b, len, CX_E_MPC_MALFORMED);
  m->nlist = 4;
  m->list[3] = (frost_commitment){4, gk(13), gk(23)};
  len = enc(m, b);
  REFUSE(b, len, CX_E_MPC_MALFORMED);
  m->nlist = 3;
  m->list[2].id = 5; /* id out of 1..n */
  len = enc(m, b);
  REFUSE(b, len, CX_E_MPC_SENDER);
  m->list[0].id = 0;
  m->list[2].id = 3;
  len = enc(m, b);
  REFUSE(b, len, CX_E_MPC_SENDER);
  m->list[0].id = 2; /* duplicate */
  len = enc(m, b);
  REFUSE(b, len, CX_E_UNSORTED);
  m->list[0].id = 3; /* unsorted */
  m->list[2].id = 1;
  len = enc(m, b);
  REFUSE(b, len, CX_E_UNSORTED);
  m->list[0].id = 1;
  m->list[2].id = 3;
  len = enc(m, b);
  memset(b + TSIGN_HEAD_LEN + 2 + TSIGN_ENTRY_LEN + 2, 0xff, 32); /* non-canonical D of entry 2 */
  REFUSE(b, len, CX_E_NONCANONICAL);
  len = enc(m, b);
  memset(b + TSIGN_HEAD_LEN + 2 + 2 * TSIGN_ENTRY_LEN + 34, 0, 32); /* identity E of entry 3 */
  REFUSE(b, len, CX_E_BAD_KEY);
#undef REFUSE
  free(m);
  free(back);
  net_free(&w);
}
END_TEST

START_TEST(config_refusals) {
  net w;
  net_init(&w);
  net_keys_dealer(&w, 4, 3);
  char err[256];
  tsign *s = NULL;
  uint8_t big[TSIGN_MAX_MSG + 1] = {0};
  tsign_config ok = {.n = 4, .t = 3, .my_id = 2, .group_pk = w.gpk, .pk_shares = w.pk,
                     .share = &w.sk[1]};
  tsign_config c = ok;
  ck_assert_int_eq(tsign_new(w.sid, big, TSIGN_MAX_MSG, &c, &s, err, sizeof err), CX_OK);
  tsign_free(s);
  ck_assert_int_eq(tsign_new(w.sid, big, TSIGN_MAX_MSG + 1, &c, &s, err, sizeof err),
                   CX_E_TOO_LONG);
  ck_assert_ptr_null(s);
  c.t = 1;
  ck_assert_int_eq(tsign_new(w.sid, big, 1, &c, &s, err, sizeof err), CX_E_INVALID_ARG);
  c = ok;
  c.t = 5;
  ck_assert_int_eq(tsign_new(w.sid, big, 1, &c, &s, err, sizeof err), CX_E_INVALID_ARG);
  c = ok;
  c.n = TSIGN_MAX_PARTIES + 1;
  ck_assert_int_eq(tsign_new(w.sid, big, 1, &c, &s, err, sizeof err), CX_E_INVALID_ARG);
  c = ok;
  c.my_id = 0;
  ck_assert_int_eq(tsign_new(w.sid, big, 1, &c, &s, err, sizeof err), CX_E_INVALID_ARG);
  c.my_id = 5;
  ck_assert_int_eq(tsign_new(w.sid, big, 1, &c, &s, err, sizeof err), CX_E_INVALID_ARG);
  c = ok;
  c.share = &w.sk[2]; /* another party's share: G * share is not Y_2 */
  ck_assert_int_eq(tsign_new(w.sid, big, 1, &c, &s, err, sizeof err), CX_E_BAD_KEY);
  ck_assert_ptr_nonnull(strstr(err, "Y_2"));
  c = ok;
  memset(c.group_pk.b, 0, 32);
  ck_assert_int_eq(tsign_new(w.sid, big, 1, &c, &s, err, sizeof err), CX_E_BAD_KEY);
  frost_element pk2[4];
  memcpy(pk2, w.pk, sizeof pk2);
  memset(pk2[3].b, 0xff, 32);
  c = ok;
  c.pk_shares = pk2;
  ck_assert_int_eq(tsign_new(w.sid, big, 1, &c, &s, err, sizeof err), CX_E_BAD_KEY);
  frost_scalar nc;
  memcpy(nc.b, L_LE, 32);
  c = ok;
  c.share = &nc;
  ck_assert_int_eq(tsign_new(w.sid, big, 1, &c, &s, err, sizeof err), CX_E_BAD_KEY);
  ck_assert_ptr_null(s);
  net_free(&w);
}
END_TEST

/* Seeded random runs: drops, duplicates, delays (so reordering), parties
 * down from the start, crashing after their commitment or sending bad
 * shares (at most n - t faulty in all), the first coordinator sometimes
 * down, fallbacks every 4 s. Whenever a party is done its signature
 * verifies; no party gives two different commitments or shares for one
 * (coordinator, attempt) (the monitor); without drops every run signs. */
START_TEST(random_runs) {
  int done = 0, lossless = 0, lossless_done = 0, retried = 0, fallbacks = 0, named_any = 0;
  for (int seed = 0; seed < 200; seed++) {
    net w;
    net_init(&w);
    uint16_t n = seed % 2 ? 7 : 4, t = n == 7 ? 5 : 3;
    net_keys_dealer(&w, n, t);
    net_start(&w);
    w.drop_pct = tu_rand() % 3 == 0 ? 0 : (unsigned)(tu_rand() % 25);
    w.dup_pct = (unsigned)(tu_rand() % 30);
    w.jitter = tu_rand() % 300;
    /* faults among parties 1, 3..n (2 is a fallback coordinator that stays up) */
    uint16_t nf = (uint16_t)(tu_rand() % (n - t + 1));
    for (uint16_t f = 0; f < nf; f++) {
      uint16_t id;
      do id = (uint16_t)(1 + tu_rand() % n);
      while (id == 2 || w.offline[id] || w.die_after_commit[id] || w.withhold[id] || w.bad == id);
      int kind = (int)(tu_rand() % 4);
      if (id == 1 || kind == 0)
        w.offline[id] = 1;
      else if (kind == 1)
        w.die_after_commit[id] = 1;
      else if (kind == 3)
        w.withhold[id] = 1;
      else if (!w.bad)
        w.bad = id;
      else
        w.offline[id] = 1;
    }
    for (uint16_t id = 1; id <= 3; id++) w.coord_at[id] = (uint64_t)(id - 1) * 4000;
    run_until(&w, 30000);
    check_done_sigs(&w);
    int ok = any_done(&w);
    done += ok;
    for (uint16_t id = 1; id <= n; id++) {
      uint16_t ids[MAXN];
      if (tsign_status_get(w.p[id]) != TSIGN_DONE) continue;
      retried += tsign_attempt(w.p[id]) > 0;
      fallbacks += id != 1;
      named_any += named(&w, id, ids, NULL) > 0;
    }
    if (w.drop_pct == 0) {
      lossless++;
      lossless_done += ok;
      ck_assert_msg(ok, "run %d (n %u, %u faulty, bad %u) without drops did not sign", seed, n, nf,
                    w.bad);
    }
    /* nobody signed twice for one slot: shares made <= nonces made */
    for (uint16_t id = 1; id <= n; id++) {
      tsign_stats st;
      tsign_stats_get(w.p[id], &st);
      ck_assert_uint_le(st.shares_made, st.nonces_made);
      ck_assert_uint_eq(st.outbox_dropped, 0);
    }
    net_free(&w);
  }
  fprintf(stderr,
          "tsign random runs: %d/200 signed (%d/%d without drops); %d after a first attempt, "
          "%d by a fallback coordinator, %d naming someone\n",
          done, lossless_done, lossless, retried, fallbacks, named_any);
  /* the faults were exercised, not just the happy path */
  ck_assert_int_gt(retried, 10);
  ck_assert_int_gt(fallbacks, 10);
  ck_assert_int_gt(named_any, 10);
  ck_assert_int_gt(lossless, 20);
  ck_assert_int_ge(done, 160);
}
END_TEST

/* ---- fuzz corpus (tests/fuzz/corpus/fuzz_tsign_msg) ---- */

/* The fuzz target's session id (fuzz_tsign_msg.c): 32 x 0x5a. */
#define FUZZ_SID_BYTE 0x5a

typedef struct {
  uint8_t b[8192];
  size_t len;
} rec;

static void rec_msg(rec *r, uint8_t from, const tsign_msg *m) {
  uint8_t b[TSIGN_MSG_MAX_LEN];
  size_t len = tsign_encode(m, b);
  ck_assert_uint_le(r->len + 3 + len, sizeof r->b);
  r->b[r->len++] = from;
  r->b[r->len++] = (uint8_t)(len >> 8);
  r->b[r->len++] = (uint8_t)len;
  memcpy(r->b + r->len, b, len);
  r->len += len;
}

static void rec_tick(rec *r, uint8_t d) {
  r->b[r->len++] = 0xff;
  r->b[r->len++] = d;
}

static void write_seed(const char *dir, const char *name, const rec *r) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(r->b, 1, r->len, f), r->len);
  fclose(f);
}

START_TEST(fuzz_corpus) {
  const char *dir = getenv("CUSTOS_TSIGN_CORPUS");
  uint8_t sid[32];
  memset(sid, FUZZ_SID_BYTE, sizeof sid);
  tsign_msg *m = msg_new(sid, TSIGN_KIND_COMMIT, 0);
  rec *r = calloc(1, sizeof *r);
  ck_assert_ptr_nonnull(r);
  /* commitments from 2 and 3, then their (wrong) shares, then time */
  m->D = gk(2), m->E = gk(3);
  rec_msg(r, 2, m);
  m->D = gk(4), m->E = gk(5);
  rec_msg(r, 3, m);
  m->kind = TSIGN_KIND_SHARE;
  m->z.b[0] = 1;
  rec_msg(r, 2, m);
  m->z.b[0] = 2;
  rec_msg(r, 3, m);
  rec_tick(r, 40);
  rec_tick(r, 100);
  ck_assert_uint_gt(r->len, 0);
  if (dir) write_seed(dir, "commits_shares", r);
  /* a signer's START and REQUEST from coordinator 2 */
  r->len = 0;
  m->kind = TSIGN_KIND_START;
  m->attempt = 3;
  rec_msg(r, 2, m);
  m->kind = TSIGN_KIND_REQUEST;
  m->nlist = 3;
  for (uint16_t i = 0; i < 3; i++)
    m->list[i] = (frost_commitment){(uint16_t)(i + 1), gk(30 + i), gk(40 + i)};
  rec_msg(r, 2, m);
  rec_msg(r, 2, m);
  if (dir) write_seed(dir, "start_request", r);
  /* only time: the commit timer fails the session */
  r->len = 0;
  for (int i = 0; i < 6; i++) rec_tick(r, 20);
  if (dir) write_seed(dir, "timeouts", r);
  /* 2 and 3 commit, only 2's share comes: the share timer names 3 and
   * attempt 1 starts with 1, 2, 4; they commit again */
  r->len = 0;
  m->kind = TSIGN_KIND_COMMIT;
  m->attempt = 0;
  m->D = gk(6), m->E = gk(7);
  rec_msg(r, 2, m);
  m->D = gk(8), m->E = gk(9);
  rec_msg(r, 3, m);
  m->kind = TSIGN_KIND_SHARE;
  m->z.b[0] = 3;
  rec_msg(r, 2, m);
  rec_tick(r, 90);
  m->kind = TSIGN_KIND_COMMIT;
  m->attempt = 1;
  m->D = gk(10), m->E = gk(11);
  rec_msg(r, 2, m);
  m->D = gk(12), m->E = gk(13);
  rec_msg(r, 4, m);
  m->kind = TSIGN_KIND_SHARE;
  rec_msg(r, 4, m);
  if (dir) write_seed(dir, "share_timeout", r);
  free(r);
  free(m);
}
END_TEST

static Suite *tsign_suite(void) {
  Suite *s = suite_create("tsign");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, honest_n4_t3);
  tcase_add_test(tc, honest_n7_t5);
  tcase_add_test(tc, honest_dkg_n5_t3);
  tcase_add_test(tc, offline_from_start_n4);
  tcase_add_test(tc, offline_from_start_n7);
  tcase_add_test(tc, offline_after_commit_n4);
  tcase_add_test(tc, offline_after_commit_n7);
  tcase_add_test(tc, bad_share_n4);
  tcase_add_test(tc, bad_share_n7);
  tcase_add_test(tc, withholder_left_out);
  tcase_add_test(tc, too_many_offline_n4);
  tcase_add_test(tc, too_many_offline_n7);
  tcase_add_test(tc, too_many_bad);
  tcase_add_test(tc, fallback_first_down);
  tcase_add_test(tc, fallback_first_silent);
  tcase_add_test(tc, resend_after_loss);
  tcase_add_test(tc, duplicates_and_nonce_reuse);
  tcase_add_test(tc, state_refusals);
  tcase_add_test(tc, slots_and_eviction);
  tcase_add_test(tc, decoder_refusals);
  tcase_add_test(tc, config_refusals);
  tcase_add_test(tc, random_runs);
  tcase_add_test(tc, fuzz_corpus);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  if (sodium_init() < 0) return 1;
  tu_seed();
  return tu_run(tsign_suite());
}
