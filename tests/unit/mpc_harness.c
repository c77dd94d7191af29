/* In-process MPC harness (mpc_harness.h): n real sessions over a seeded
 * fake network and a fake clock.
 *
 * Everything random comes from the harness's xoshiro stream (core/rng.h),
 * seeded once by mh_new: member keys, dealing seeds, sharing coefficients
 * of mh_share and the delivery order. Session ids are a hash of the harness
 * seed and the session counter, so two harnesses with one seed run the same
 * sessions message for message. */
#include "mpc_harness.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "rng.h"
#include "session_internal.h"

#define MH_ROUND_TIMEOUT_MS 1000u
/* Fail loudly rather than spin: a correct run of the test sizes used here
 * needs far fewer steps. */
#define MH_MAX_STEPS 200000000ull
#define MH_MAX_IDLE_TICKS 10000u

/* The harness as allocated: the public struct first, then what the header
 * does not show. */
typedef struct {
  mh h;
  uint64_t seed;
  mpc_shamir sh;
} mh_priv;

typedef struct {
  uint32_t from, to;
  uint8_t *buf;
  size_t len;
} flight;

typedef struct {
  flight *v;
  size_t n, cap;
} flights;

static void die(const char *what) {
  fprintf(stderr, "mpc_harness: fatal: %s\n", what);
  fflush(stderr);
  abort();
}

static uint64_t mh_next(mh *h) {
  cx_rng r;
  memcpy(r.s, h->rng, sizeof r.s);
  uint64_t x = cx_rng_next(&r);
  memcpy(h->rng, r.s, sizeof r.s);
  return x;
}

static void mh_bytes(mh *h, uint8_t *out, size_t len) {
  for (size_t i = 0; i < len; i += 8) {
    uint64_t x = mh_next(h);
    for (size_t k = 0; k < 8 && i + k < len; k++) out[i + k] = (uint8_t)(x >> (8 * k));
  }
}

/* A field element from the stream (tests only: the tiny bias at p is fine). */
static fe mh_fe(mh *h) {
  fe x = ((fe)mh_next(h) << 64 | mh_next(h)) & FE_P;
  return x == FE_P ? 0 : x;
}

mh *mh_new(uint32_t n, uint32_t t, uint64_t seed, size_t pool_cap) {
  if (n == 0 || n > MPC_MAX_N) return NULL;
  mh_priv *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  mh *h = &p->h;
  h->n = n;
  h->t = t;
  p->seed = seed;
  cx_rng r;
  cx_rng_seed(&r, seed);
  memcpy(h->rng, r.s, sizeof r.s);
  if (shamir_init(&p->sh, n, t) != CX_OK) {
    free(p);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    h->crash_round[i] = UINT32_MAX;
    uint8_t sk[32];
    do mh_bytes(h, sk, sizeof sk);
    while (key_from_bytes(sk, &h->keys[i]) != CX_OK);
    sodium_memzero(sk, sizeof sk);
    key_public(h->keys[i], &h->pks[i]);
    if (mpc_pool_new(pool_cap, pool_cap, pool_cap, pool_cap, &h->pools[i]) != CX_OK) {
      mh_free(h);
      return NULL;
    }
  }
  for (uint32_t i = n; i < MPC_MAX_N; i++) h->crash_round[i] = UINT32_MAX;
  return h;
}

void mh_free(mh *h) {
  if (!h) return;
  mh_priv *p = (mh_priv *)h;
  for (uint32_t i = 0; i < h->n; i++) {
    key_free(h->keys[i]);
    mpc_pool_free(h->pools[i]);
  }
  shamir_free(&p->sh);
  sodium_memzero(p, sizeof *p);
  free(p);
}

void mh_config(mh *h, uint32_t party, mpc_session_config *cfg) {
  mh_priv *p = (mh_priv *)h;
  memset(cfg, 0, sizeof *cfg);
  cfg->n = h->n;
  cfg->t = h->t;
  cfg->me = party;
  uint8_t id[16];
  for (int k = 0; k < 8; k++) {
    id[k] = (uint8_t)(p->seed >> (8 * k));
    id[8 + k] = (uint8_t)(h->sessions >> (8 * k));
  }
  hash_sha256(id, sizeof id, cfg->session);
  cfg->pubkeys = h->pks;
  cfg->key = h->keys[party];
  mh_bytes(h, cfg->seed, sizeof cfg->seed);
  cfg->round_timeout_ms = MH_ROUND_TIMEOUT_MS;
}

void mh_next_session(mh *h) { h->sessions++; }

/* ---- the fake network -------------------------------------------------- */

static void flights_push(flights *f, uint32_t from, uint32_t to, const uint8_t *buf, size_t len) {
  if (f->n == f->cap) {
    f->cap = f->cap ? 2 * f->cap : 64;
    f->v = realloc(f->v, f->cap * sizeof *f->v);
    if (!f->v) die("out of memory");
  }
  uint8_t *copy = malloc(len);
  if (!copy) die("out of memory");
  memcpy(copy, buf, len);
  f->v[f->n++] = (flight){.from = from, .to = to, .buf = copy, .len = len};
}

static uint32_t msg_round(const uint8_t *buf, size_t len) {
  mpc_msg m;
  return mpc_msg_decode(buf, len, &m) == CX_OK ? m.round : 0;
}

/* A crashed party sends nothing from its crash round on and receives
 * nothing once its session has reached that round. (Messages it took
 * earlier may still carry its own session past the crash round within one
 * mpc_session_recv: only what the others see is a crash.) */
static void collect(mh *h, uint32_t from, mpc_outbox *o, flights *f) {
  for (size_t k = 0; k < o->n; k++) {
    const mpc_send *snd = &o->v[k];
    if (msg_round(snd->buf, snd->len) >= h->crash_round[from]) continue;
    if (snd->to == MPC_TO_ALL) {
      for (uint32_t j = 0; j < h->n; j++)
        if (j != from) flights_push(f, from, j, snd->buf, snd->len);
    } else {
      flights_push(f, from, snd->to, snd->buf, snd->len);
    }
  }
  mpc_outbox_clear(o);
}

static int crashed(const mh *h, mpc_session *const *sess, uint32_t i) {
  return sess[i] && sess[i]->round >= h->crash_round[i];
}

/* The tamper hook's replacement, signed with the sender's key: the sender
 * is the cheater, not the network. */
static void tamper(mh *h, flight *fl) {
  mpc_msg m;
  if (!h->tamper || mpc_msg_decode(fl->buf, fl->len, &m) != CX_OK) return;
  uint8_t *payload = NULL;
  size_t len = 0;
  if (!h->tamper(h->tamper_ctx, fl->from, fl->to, &m, &payload, &len)) return;
  uint8_t *buf = NULL;
  size_t blen = 0;
  if (mpc_msg_encode(h->keys[fl->from], m.kind, m.session, m.round, m.from, m.to, payload, len, &buf,
                     &blen) != CX_OK)
    die("tamper: re-encoding failed");
  free(payload);
  free(fl->buf);
  if (h->spoil_sig) buf[blen - 1] ^= 1;
  fl->buf = buf;
  fl->len = blen;
}

static void deliver(mh *h, mpc_session **sess, flight *fl, flights *f, mpc_outbox *o) {
  mpc_session *s = sess[fl->to];
  if (!s || crashed(h, sess, fl->to) || msg_round(fl->buf, fl->len) >= h->crash_round[fl->from])
    return;
  tamper(h, fl);
  cx_err e = h->links ? mpc_session_recv_link(s, fl->from, fl->buf, fl->len, h->now_ms, o)
                     : mpc_session_recv(s, fl->buf, fl->len, h->now_ms, o);
  if (e == CX_OK)
    h->delivered++;
  else
    h->refused++;
  collect(h, fl->to, o, f);
}

static int any_running(const mh *h, mpc_session *const *sess, const uint8_t *out) {
  for (uint32_t i = 0; i < h->n; i++)
    if (sess[i] && !out[i] && !crashed(h, sess, i) && mpc_session_status(sess[i])->state == MPC_RUNNING)
      return 1;
  return 0;
}

uint32_t mh_run(mh *h, mpc_session **sess) {
  flights f = {0};
  mpc_outbox o = {0};
  uint8_t out[MPC_MAX_N] = {0}; /* sessions that never started take no part */
  for (uint32_t i = 0; i < h->n; i++) {
    if (!sess[i] || h->crash_round[i] == 0) continue;
    /* A test may have started a session itself (CX_E_MPC_STATE): it takes
     * part. One whose start was refused never will. */
    cx_err e = mpc_session_start(sess[i], h->now_ms, &o);
    if (e != CX_OK && e != CX_E_MPC_STATE && mpc_session_status(sess[i])->state == MPC_RUNNING) out[i] = 1;
    collect(h, i, &o, &f);
  }
  uint64_t steps = 0;
  uint32_t idle = 0;
  while (any_running(h, sess, out)) {
    if (++steps > MH_MAX_STEPS) die("mh_run: step cap reached (a session never ends)");
    if (f.n) {
      size_t k = (size_t)(mh_next(h) % f.n);
      flight fl = f.v[k];
      f.v[k] = f.v[--f.n];
      deliver(h, sess, &fl, &f, &o);
      free(fl.buf);
      continue;
    }
    if (++idle > MH_MAX_IDLE_TICKS) die("mh_run: clock cap reached (timeouts do not end the sessions)");
    uint64_t step = 0;
    for (uint32_t i = 0; i < h->n; i++)
      if (sess[i] && sess[i]->cfg.round_timeout_ms > step) step = sess[i]->cfg.round_timeout_ms;
    h->now_ms += step + 1;
    for (uint32_t i = 0; i < h->n; i++) {
      if (!sess[i] || out[i] || crashed(h, sess, i)) continue;
      mpc_session_tick(sess[i], h->now_ms, &o);
      collect(h, i, &o, &f);
    }
  }
  for (size_t k = 0; k < f.n; k++) free(f.v[k].buf);
  free(f.v);
  mpc_outbox_free(&o);
  uint32_t done = 0;
  for (uint32_t i = 0; i < h->n; i++)
    if (sess[i] && mpc_session_status(sess[i])->state == MPC_DONE) done++;
  return done;
}

/* ---- conveniences ------------------------------------------------------ */

static uint32_t finish(mh *h, mpc_session **sess, mpc_status *st) {
  uint32_t done = mh_run(h, sess);
  for (uint32_t i = 0; i < h->n; i++) {
    if (st) {
      if (sess[i])
        st[i] = *mpc_session_status(sess[i]);
      else
        memset(&st[i], 0, sizeof st[i]);
    }
    mpc_session_free(sess[i]);
  }
  return done;
}

uint32_t mh_prep(mh *h, size_t triples, size_t rands, mpc_status *st) {
  return mh_prep_ints(h, triples, rands, 0, st);
}

uint32_t mh_prep_ints(mh *h, size_t triples, size_t rands, size_t ints, mpc_status *st) {
  mpc_session *sess[MPC_MAX_N] = {0};
  for (uint32_t i = 0; i < h->n; i++) {
    mpc_session_config cfg;
    mh_config(h, i, &cfg);
    if (mpc_session_prep(&cfg, triples, rands, 0, ints, h->pools[i], &sess[i]) != CX_OK) sess[i] = NULL;
    sodium_memzero(&cfg, sizeof cfg);
  }
  mh_next_session(h);
  return finish(h, sess, st);
}

/* Under PRSS a bits session is a prep batch, bounded by one message: the
 * bits come in batches of at most MH_BITS_BATCH. */
#define MH_BITS_BATCH ((size_t)1 << 16)

uint32_t mh_bits(mh *h, size_t bits, mpc_status *st) {
  uint32_t done = h->n;
  while (bits && done == h->n) {
    size_t b = bits < MH_BITS_BATCH ? bits : MH_BITS_BATCH;
    mpc_session *sess[MPC_MAX_N] = {0};
    for (uint32_t i = 0; i < h->n; i++) {
      mpc_session_config cfg;
      mh_config(h, i, &cfg);
      if (mpc_session_bits(&cfg, b, h->pools[i], &sess[i]) != CX_OK) sess[i] = NULL;
      sodium_memzero(&cfg, sizeof cfg);
    }
    mh_next_session(h);
    done = finish(h, sess, st);
    bits -= b;
  }
  return done;
}

/* Gives party i its INPUT slots: the slots are the ones the program deals
 * to i (the caller's arrays are indexed by slot). */
static void give_inputs(const mpc_program *prog, uint32_t i, mpc_session *s,
                        const fe *const *const *inputs, const size_t *const *input_len) {
  if (!inputs || !inputs[i] || !input_len || !input_len[i]) return;
  for (size_t k = 0; k < mpc_prog_len(prog); k++) {
    const mpc_ins *in = mpc_prog_ins(prog, k);
    if (in->op != MPC_OP_INPUT || in->a != i || !inputs[i][in->b]) continue;
    (void)mpc_session_input(s, in->b, inputs[i][in->b], input_len[i][in->b]);
  }
}

uint32_t mh_online(mh *h, const mpc_program *prog, const fe *const *const *inputs,
                   const size_t *const *input_len, mpc_session **sess) {
  for (uint32_t i = 0; i < h->n; i++) {
    mpc_session_config cfg;
    mh_config(h, i, &cfg);
    if (mpc_session_online(&cfg, prog, h->pools[i], &sess[i]) != CX_OK) sess[i] = NULL;
    sodium_memzero(&cfg, sizeof cfg);
    if (sess[i]) give_inputs(prog, i, sess[i], inputs, input_len);
  }
  mh_next_session(h);
  return mh_run(h, sess);
}

void mh_share(mh *h, const fe *vals, size_t count, fe **out) {
  mh_priv *p = (mh_priv *)h;
  fe coef[MPC_MAX_N], sh[MPC_MAX_N];
  for (size_t k = 0; k < count; k++) {
    for (uint32_t c = 0; c < h->t; c++) coef[c] = mh_fe(h);
    shamir_share(&p->sh, vals[k], h->t, coef, sh);
    for (uint32_t i = 0; i < h->n; i++) out[i][k] = sh[i];
  }
  sodium_memzero(coef, sizeof coef);
  sodium_memzero(sh, sizeof sh);
}
