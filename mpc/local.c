/* An in-process consortium (mpc.h "an in-process consortium"): n parties,
 * each a real session with its own keys and pool, driven in this thread
 * over an in-memory network, for `custos contract run --mpc N`, tests and
 * benchmarks.
 *
 * The network is one FIFO queue: a message is delivered to its recipient
 * (a TO_ALL message once to each other party), and whatever the recipient
 * sends in answer goes to the back. Nothing is dropped, reordered or
 * forged, so a run ends in as many rounds as the program needs, and the
 * clock only moves when nothing is in flight (which, without faults, only
 * a bug causes: the sessions then end by their own round timeout).
 *
 * Everything random comes from one 32-byte master seed (the caller's, or
 * fresh from the CSPRNG): member keys, X25519 keys, session ids, each
 * party's dealing seed per session and the client dealings, each from its
 * own crypto_kdf subkey, so a seeded consortium runs the same sessions and
 * gives the same results every time. Not a security boundary: one process
 * holds every party's shares. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "mpc.h"
#include "session_internal.h"
#include "wire.h"

/* crypto_kdf contexts (8 bytes each): one per purpose, so no two uses of
 * the seed ever share a stream. */
#define KDF_SIGN "cxlsign1"  /* subkey party << 16 | attempt: secp256k1 secret */
#define KDF_BOX "cxlbox01"   /* subkey party: X25519 seed */
#define KDF_SID "cxlsid01"   /* subkey session counter: session id */
#define KDF_DEAL "cxldeal1"  /* subkey counter << 8 | party: dealing seed */
#define KDF_CLI "cxlcli01"   /* subkey counter << 16 | slot: client dealing seed */
#define KDF_CTX "cxlctx01"   /* subkey counter << 16 | slot: client context */

/* Prep batches: at most this many triples and randoms each (memory per
 * party and batch stays bounded; docs/mpc-prep.md "Limits"), fewer when
 * one batch's deal would not fit a message. */
#define BATCH_MAX ((size_t)100000)
/* Bits sessions: at most this many bits each. */
#define BITS_BATCH ((size_t)1 << 16)
/* Idle clock steps before the driver gives up on sessions that never end
 * (every round times out after at most ROUND_TIMEOUT_MS). */
#define ROUND_TIMEOUT_MS 10000u
#define MAX_IDLE 1000u

typedef struct {
  uint32_t slot;
  size_t off, len;
} lrec;

struct mpc_local {
  uint32_t n, t;
  uint8_t *seed;                 /* 32 bytes, sodium_malloc */
  cx_seckey *keys[MPC_MAX_N];
  cx_pubkey pks[MPC_MAX_N];
  uint8_t enc_pk[MPC_MAX_N][MPC_CLIENT_KEY];
  uint8_t *enc_sk;               /* n * 32 bytes, sodium_malloc */
  mpc_pool *pools[MPC_MAX_N];
  uint64_t sessions;             /* sessions run: the next session's counter */
  uint64_t now_ms;               /* the logical clock */
  uint64_t prep_bytes[MPC_MAX_N]; /* per party, in mpc_local_prepare */
  /* the last successful run: party 0's outputs (public), every party's
   * OUTPUT_SHARE shares (sbuf + party * stotal + off, fe_alloc) */
  fe *ovals;
  lrec *orec;
  size_t norec, olen;
  fe *sbuf;
  lrec *srec;
  size_t nsrec, stotal;
};

/* ---- setup ------------------------------------------------------------- */

static void kdf(const mpc_local *l, uint8_t *out, size_t len, uint64_t id, const char ctx[8]) {
  crypto_kdf_derive_from_key(out, len, id, ctx, l->seed);
}

static void outputs_clear(mpc_local *l) {
  free(l->ovals);
  free(l->orec);
  fe_free(l->sbuf);
  free(l->srec);
  l->ovals = NULL;
  l->orec = NULL;
  l->sbuf = NULL;
  l->srec = NULL;
  l->norec = l->olen = l->nsrec = l->stotal = 0;
}

void mpc_local_free(mpc_local *l) {
  if (!l) return;
  outputs_clear(l);
  for (uint32_t i = 0; i < l->n; i++) {
    key_free(l->keys[i]);
    mpc_pool_free(l->pools[i]);
  }
  if (l->seed) sodium_free(l->seed); /* sodium_free wipes */
  if (l->enc_sk) sodium_free(l->enc_sk);
  sodium_memzero(l, sizeof *l);
  free(l);
}

cx_err mpc_local_new(uint32_t n, const uint8_t *seed, size_t pool_cap, mpc_local **out) {
  if (!out) return CX_E_INVALID_ARG;
  *out = NULL;
  if (n == 0 || n > MPC_MAX_N || pool_cap == 0) return CX_E_INVALID_ARG;
  if (sodium_init() < 0) return CX_E_CRYPTO;
  mpc_local *l = calloc(1, sizeof *l);
  if (!l) return CX_E_NOMEM;
  l->n = n;
  l->t = (n - 1) / 3;
  l->seed = sodium_malloc(32);
  l->enc_sk = sodium_malloc((size_t)n * MPC_CLIENT_KEY);
  if (!l->seed || !l->enc_sk) {
    mpc_local_free(l);
    return CX_E_NOMEM;
  }
  if (seed)
    memcpy(l->seed, seed, 32);
  else
    randombytes_buf(l->seed, 32);
  cx_err e = CX_OK;
  for (uint32_t i = 0; i < n && e == CX_OK; i++) {
    /* A secp256k1 secret is valid with probability 1 - 2^-128: the retry
     * only keeps a seed from ever failing. */
    uint8_t sk[32];
    e = CX_E_BAD_KEY;
    for (uint32_t a = 0; a < 256 && e == CX_E_BAD_KEY; a++) {
      kdf(l, sk, sizeof sk, (uint64_t)i << 16 | a, KDF_SIGN);
      e = key_from_bytes(sk, &l->keys[i]);
    }
    sodium_memzero(sk, sizeof sk);
    if (e != CX_OK) break;
    key_public(l->keys[i], &l->pks[i]);
    uint8_t bs[crypto_box_SEEDBYTES];
    kdf(l, bs, sizeof bs, i, KDF_BOX);
    if (crypto_box_seed_keypair(l->enc_pk[i], l->enc_sk + (size_t)i * MPC_CLIENT_KEY, bs) != 0)
      e = CX_E_CRYPTO;
    sodium_memzero(bs, sizeof bs);
    if (e == CX_OK) e = mpc_pool_new(pool_cap, pool_cap, pool_cap, pool_cap, &l->pools[i]);
  }
  if (e != CX_OK) {
    mpc_local_free(l);
    return e;
  }
  *out = l;
  return CX_OK;
}

/* Party i's config for the session with counter l->sessions. The caller
 * wipes it (it holds the dealing seed). */
static void config(const mpc_local *l, uint32_t i, mpc_session_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->n = l->n;
  cfg->t = l->t;
  cfg->me = i;
  kdf(l, cfg->session, sizeof cfg->session, l->sessions, KDF_SID);
  cfg->pubkeys = l->pks;
  cfg->key = l->keys[i];
  kdf(l, cfg->seed, sizeof cfg->seed, l->sessions << 8 | i, KDF_DEAL);
  cfg->round_timeout_ms = ROUND_TIMEOUT_MS;
}

/* ---- the network ------------------------------------------------------- */

typedef struct {
  uint8_t *buf; /* signed message; wiped when the last copy is delivered */
  size_t len;
  uint32_t refs;
} lmsg;

typedef struct {
  lmsg *m;
  uint32_t to;
} flight;

typedef struct {
  flight *v;
  size_t head, n, cap; /* the queue is v[head .. n) */
} fifo;

static void msg_unref(lmsg *m) {
  if (--m->refs) return;
  sodium_memzero(m->buf, m->len); /* some payloads carry shares */
  free(m->buf);
  free(m);
}

static cx_err fifo_push(fifo *f, lmsg *m, uint32_t to) {
  if (f->n == f->cap) {
    if (f->head > f->cap / 2) { /* compact before growing */
      memmove(f->v, f->v + f->head, (f->n - f->head) * sizeof *f->v);
      f->n -= f->head;
      f->head = 0;
    } else {
      size_t cap = f->cap ? 2 * f->cap : 256;
      flight *v = realloc(f->v, cap * sizeof *v);
      if (!v) return CX_E_NOMEM;
      f->v = v;
      f->cap = cap;
    }
  }
  m->refs++;
  f->v[f->n++] = (flight){.m = m, .to = to};
  return CX_OK;
}

static void fifo_free(fifo *f) {
  for (size_t k = f->head; k < f->n; k++) msg_unref(f->v[k].m);
  free(f->v);
  memset(f, 0, sizeof *f);
}

/* Moves party `from`'s outbox to the back of the queue (the buffers change
 * owner: no copy). */
static cx_err collect(const mpc_local *l, uint32_t from, mpc_outbox *ob, fifo *f) {
  cx_err e = CX_OK;
  for (size_t k = 0; k < ob->n && e == CX_OK; k++) {
    lmsg *m = calloc(1, sizeof *m);
    if (!m) {
      e = CX_E_NOMEM;
      break;
    }
    m->buf = ob->v[k].buf;
    m->len = ob->v[k].len;
    ob->v[k].buf = NULL;
    m->refs = 1; /* held while it is being queued */
    uint32_t to = ob->v[k].to;
    for (uint32_t j = 0; j < l->n && e == CX_OK; j++)
      if (j != from && (to == MPC_TO_ALL || to == j)) e = fifo_push(f, m, j);
    msg_unref(m);
  }
  for (size_t k = 0; k < ob->n; k++)
    if (ob->v[k].buf) sodium_memzero(ob->v[k].buf, ob->v[k].len);
  mpc_outbox_clear(ob);
  return e;
}

static int running(const mpc_local *l, mpc_session *const *sess) {
  for (uint32_t i = 0; i < l->n; i++)
    if (mpc_session_status(sess[i])->state == MPC_RUNNING) return 1;
  return 0;
}

/* The first party that aborted, preferring one that names a culprit (the
 * most informative reason), as the run's error. */
static cx_err run_error(const mpc_local *l, mpc_session *const *sess, char *err, size_t errlen) {
  int32_t pick = -1;
  for (uint32_t i = 0; i < l->n; i++) {
    const mpc_status *st = mpc_session_status(sess[i]);
    if (st->state != MPC_ABORTED) continue;
    if (pick < 0 || (st->culprit >= 0 && mpc_session_status(sess[pick])->culprit < 0)) pick = (int32_t)i;
  }
  if (pick < 0) return CX_OK;
  const mpc_status *st = mpc_session_status(sess[pick]);
  return cx_errf(err, errlen, st->err != CX_OK ? st->err : CX_E_INTERNAL, "party %d: %s", pick, st->reason);
}

/* Starts the n sessions and delivers until none is running. CX_OK when
 * every party is done, else the error of an aborted party. */
static cx_err drive(mpc_local *l, mpc_session **sess, char *err, size_t errlen) {
  fifo f = {0};
  mpc_outbox ob = {0};
  cx_err e = CX_OK;
  for (uint32_t i = 0; i < l->n && e == CX_OK; i++) {
    e = mpc_session_start(sess[i], l->now_ms, &ob);
    if (e != CX_OK) {
      e = cx_errf(err, errlen, e, "party %u: the session does not start: %s", i, cx_err_str(e));
      mpc_outbox_clear(&ob);
      break;
    }
    e = collect(l, i, &ob, &f);
  }
  uint32_t idle = 0;
  while (e == CX_OK && running(l, sess)) {
    if (f.head < f.n) {
      flight fl = f.v[f.head++];
      /* A refusal is the session's business (a late copy of a round it has
       * left, say): it changes nothing unless it proves a cheat. */
      (void)mpc_session_recv(sess[fl.to], fl.m->buf, fl.m->len, l->now_ms, &ob);
      msg_unref(fl.m);
      e = collect(l, fl.to, &ob, &f);
      continue;
    }
    /* Nothing in flight and someone still waits: without faults this is
     * a bug somewhere; let the round timeouts end it rather than hang. */
    if (++idle > MAX_IDLE) {
      e = cx_errf(err, errlen, CX_E_INTERNAL, "the sessions do not end");
      break;
    }
    l->now_ms += ROUND_TIMEOUT_MS + 1;
    for (uint32_t i = 0; i < l->n && e == CX_OK; i++) {
      mpc_session_tick(sess[i], l->now_ms, &ob);
      e = collect(l, i, &ob, &f);
    }
  }
  if (e == CX_E_NOMEM) cx_errf(err, errlen, e, "out of memory in the in-process network");
  fifo_free(&f);
  mpc_outbox_free(&ob);
  l->sessions++;
  if (e != CX_OK) return e;
  return run_error(l, sess, err, errlen);
}

static void sessions_free(const mpc_local *l, mpc_session **sess) {
  for (uint32_t i = 0; i < l->n; i++) {
    mpc_session_free(sess[i]);
    sess[i] = NULL;
  }
}

/* ---- preparation ------------------------------------------------------- */

/* One prep batch (bits == 0: T triples, R randoms and I ints) or one bits
 * batch (bits > 0) at every party. */
static cx_err batch(mpc_local *l, size_t T, size_t R, size_t I, size_t bits, char *err, size_t errlen) {
  mpc_session *sess[MPC_MAX_N] = {0};
  cx_err e = CX_OK;
  for (uint32_t i = 0; i < l->n && e == CX_OK; i++) {
    mpc_session_config cfg;
    config(l, i, &cfg);
    e = bits ? mpc_session_bits(&cfg, bits, l->pools[i], &sess[i])
             : mpc_session_prep(&cfg, T, R, 0, I, l->pools[i], &sess[i]);
    sodium_memzero(&cfg, sizeof cfg);
    if (e != CX_OK && bits)
      e = cx_errf(err, errlen, e, "party %u: a batch of %zu random bits is refused: %s", i, bits,
                  cx_err_str(e));
    else if (e != CX_OK)
      e = cx_errf(err, errlen, e,
                  "party %u: a prep batch of %zu triples, %zu randoms and %zu ints is refused: %s", i, T, R, I,
                  cx_err_str(e));
  }
  if (e == CX_OK)
    e = drive(l, sess, err, errlen);
  else
    l->sessions++; /* its id was handed out: never reuse it */
  for (uint32_t i = 0; i < l->n; i++)
    if (sess[i]) l->prep_bytes[i] += mpc_session_status(sess[i])->bytes_sent;
  sessions_free(l, sess);
  return e;
}

static size_t sub0(size_t a, size_t b) { return a > b ? a - b : 0; }

cx_err mpc_local_prepare(mpc_local *l, const mpc_prog_cost *cost, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!l || !cost) return CX_E_INVALID_ARG;
  mpc_prog_cost c = *cost;
  mpc_prog_cost_at(l->n, l->t, &c); /* with dealers, ints are bits */
  size_t triples = c.triples, rands = c.rands, bits = c.bits;
  mpc_pool_level lv;
  mpc_pool_level_get(l->pools[0], &lv); /* every pool holds the same: they run the same sessions */
  /* With dealers a bit costs one triple and one random of its own
   * (mpc_session_bits), made first and taken by the bits sessions before
   * the online run; under PRSS a bits session makes them from keys. */
  size_t nb = sub0(bits, lv.bits), own = mpc_prep_prss(l->n, l->t) ? 0 : nb;
  if (triples > SIZE_MAX - own || rands > SIZE_MAX - own)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "the material asked for does not fit a size_t");
  size_t nt = sub0(triples + own, lv.triples), nr = sub0(rands + own, lv.rands);
  size_t ni = sub0(c.ints, lv.ints);
  if (lv.triples + nt > lv.cap_triples || lv.rands + nr > lv.cap_rands || lv.bits + nb > lv.cap_bits ||
      lv.ints + ni > lv.cap_ints)
    return cx_errf(err, errlen, CX_E_FULL,
                   "the pools hold at most %zu items of each kind: %zu triples, %zu randoms, %zu bits and "
                   "%zu ints do not fit",
                   lv.cap_triples, triples + own, rands + own, bits, c.ints);
  cx_err e = CX_OK;
  while (e == CX_OK && (nt || nr || ni)) {
    size_t T = nt < BATCH_MAX ? nt : BATCH_MAX, R = nr < BATCH_MAX ? nr : BATCH_MAX;
    size_t I = ni < BATCH_MAX ? ni : BATCH_MAX; /* 0 with dealers (mpc_prog_cost_at) */
    while (!mpc_prep_fits(l->n, l->t, T, R, 0) && (T > 1 || R > 1)) { /* only with dealers at small m */
      T = T > 1 ? T / 2 : T;
      R = R > 1 ? R / 2 : R;
    }
    e = batch(l, T, R, I, 0, err, errlen);
    nt -= T;
    nr -= R;
    ni -= I;
  }
  while (e == CX_OK && nb) {
    size_t B = nb < BITS_BATCH ? nb : BITS_BATCH;
    e = batch(l, 0, 0, 0, B, err, errlen);
    nb -= B;
  }
  return e;
}

uint64_t mpc_local_prep_bytes(const mpc_local *l) {
  uint64_t m = 0;
  for (uint32_t i = 0; l && i < l->n; i++)
    if (l->prep_bytes[i] > m) m = l->prep_bytes[i];
  return m;
}

/* ---- running a program ------------------------------------------------- */

static int all_canonical(const fe *v, size_t len) {
  for (size_t k = 0; k < len; k++)
    if (v[k] >= FE_P) return 0;
  return 1;
}

#define TWICE "given twice or with another length"

/* Every INPUT and INPUT_CLIENT slot of the program is given exactly once,
 * with its length, and nothing else is given. Checked before any session
 * starts: a session that starts takes its first group's material from the
 * pool at once, so a party refused at start after others had started would
 * leave the pools out of step. */
static cx_err inputs_match(const mpc_local *l, const mpc_program *prog, const mpc_local_input *in, size_t nin,
                           const mpc_local_client_input *cin, size_t ncin, char *err, size_t errlen) {
  size_t np = mpc_prog_len(prog), nprog = 0, nclient = 0;
  for (size_t k = 0; k < np; k++) {
    const mpc_ins *x = mpc_prog_ins(prog, k);
    size_t given = 0;
    if (x->op == MPC_OP_INPUT) {
      nprog++;
      for (size_t q = 0; q < nin; q++)
        if (in[q].dealer == x->a && in[q].slot == x->b) given += in[q].len == x->imm ? 1 : 2;
      if (given != 1)
        return cx_errf(err, errlen, CX_E_INVALID_ARG, "INPUT slot %u of party %u (%llu values) is %s", x->b,
                       x->a, (unsigned long long)x->imm, given ? TWICE : "not given");
    } else if (x->op == MPC_OP_INPUT_CLIENT) {
      nclient++;
      for (size_t q = 0; q < ncin; q++)
        if (cin[q].slot == x->b) given += cin[q].len == x->imm ? 1 : 2;
      if (given != 1)
        return cx_errf(err, errlen, CX_E_INVALID_ARG, "client slot %u (%llu values) is %s", x->b,
                       (unsigned long long)x->imm, given ? TWICE : "not given");
    }
  }
  /* each program slot matched exactly one given input: any extra one is
   * for a slot the program does not have */
  if (nin != nprog)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%zu dealer inputs are given for the program's %zu", nin,
                   nprog);
  if (ncin != nclient)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%zu client inputs are given for the program's %zu", ncin,
                   nclient);
  for (size_t q = 0; q < nin; q++)
    if (in[q].dealer >= l->n || (!in[q].vals && in[q].len) || !all_canonical(in[q].vals, in[q].len))
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "input %zu: dealer %u is not a party or a value is not a "
                     "field element", q, in[q].dealer);
  for (size_t q = 0; q < ncin; q++)
    if ((!cin[q].vals && cin[q].len) || !all_canonical(cin[q].vals, cin[q].len))
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "client input %zu: a value is not a field element", q);
  return CX_OK;
}

/* Party i's dealer inputs (inputs_match has vetted them). */
static cx_err give_inputs(mpc_local *l, mpc_session **sess, const mpc_local_input *in, size_t nin, char *err,
                          size_t errlen) {
  for (size_t k = 0; k < nin; k++) {
    cx_err e = mpc_session_input(sess[in[k].dealer], in[k].slot, in[k].vals, in[k].len);
    if (e != CX_OK)
      return cx_errf(err, errlen, e, "input %zu: party %u has no INPUT slot %u of length %zu in the program",
                     k, in[k].dealer, in[k].slot, in[k].len);
  }
  return CX_OK;
}

/* Client inputs: shared and sealed to every party's X25519 key as a client
 * does (mpc_client_share), then each party opens its own blob. The context
 * binds the dealing to this session and slot (docs/mpc-client.md "The
 * context"; a node derives it from the transaction instead). */
static cx_err give_client(mpc_local *l, mpc_session **sess, const mpc_local_client_input *cin, size_t ncin,
                          char *err, size_t errlen) {
  for (size_t k = 0; k < ncin; k++) {
    uint64_t id = l->sessions << 16 | (cin[k].slot & 0xffffu);
    uint8_t ctx[MPC_CLIENT_CTX], seed[32];
    kdf(l, ctx, sizeof ctx, id, KDF_CTX);
    kdf(l, seed, sizeof seed, id, KDF_CLI);
    mpc_client_dealt d;
    char why[160];
    cx_err e = mpc_client_share(l->n, l->t, cin[k].vals, cin[k].len,
                                (const uint8_t(*)[MPC_CLIENT_KEY])l->enc_pk, ctx, seed, &d, why, sizeof why);
    sodium_memzero(seed, sizeof seed);
    if (e != CX_OK) return cx_errf(err, errlen, e, "client input %zu: %s", k, why);
    for (uint32_t i = 0; i < l->n && e == CX_OK; i++) {
      e = mpc_session_input_client(sess[i], cin[k].slot, d.blobs + (size_t)i * d.blob_len, d.blob_len,
                                   d.commit, ctx, l->enc_sk + (size_t)i * MPC_CLIENT_KEY);
      if (e != CX_OK)
        e = cx_errf(err, errlen, e, "client input %zu: party %u does not take client slot %u of length %zu: "
                    "%s", k, i, cin[k].slot, cin[k].len, cx_err_str(e));
    }
    mpc_client_dealt_free(&d);
    if (e != CX_OK) return e;
  }
  return CX_OK;
}

static cx_err rec_push(lrec **v, size_t *n, uint32_t slot, size_t off, size_t len) {
  lrec *nv = realloc(*v, (*n + 1) * sizeof *nv);
  if (!nv) return CX_E_NOMEM;
  *v = nv;
  nv[(*n)++] = (lrec){.slot = slot, .off = off, .len = len};
  return CX_OK;
}

/* After a run where every party is done: party 0's outputs, checked equal
 * at every party, and every party's OUTPUT_SHARE shares. */
static cx_err keep_results(mpc_local *l, const mpc_program *prog, mpc_session **sess, char *err,
                           size_t errlen) {
  size_t np = mpc_prog_len(prog), olen = 0, slen = 0;
  for (size_t k = 0; k < np; k++) {
    const mpc_ins *in = mpc_prog_ins(prog, k);
    if (in->op == MPC_OP_OUTPUT) olen += mpc_session_output(sess[0], (uint32_t)in->imm, NULL);
    if (in->op == MPC_OP_OUTPUT_SHARE) slen += mpc_session_output_share(sess[0], (uint32_t)in->imm, NULL);
  }
  l->ovals = malloc((olen ? olen : 1) * sizeof *l->ovals);
  l->sbuf = fe_alloc((size_t)l->n * (slen ? slen : 1));
  if (!l->ovals || !l->sbuf) {
    fe_free(l->sbuf);
    l->sbuf = NULL;
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory keeping the outputs");
  }
  l->stotal = slen ? slen : 1;
  for (size_t k = 0; k < np; k++) {
    const mpc_ins *in = mpc_prog_ins(prog, k);
    uint32_t slot = (uint32_t)in->imm;
    if (in->op == MPC_OP_OUTPUT) {
      const fe *v0 = NULL, *vi = NULL;
      size_t len = mpc_session_output(sess[0], slot, &v0);
      for (uint32_t i = 1; i < l->n; i++)
        if (mpc_session_output(sess[i], slot, &vi) != len || memcmp(v0, vi, len * sizeof *v0) != 0)
          return cx_errf(err, errlen, CX_E_INTERNAL, "parties 0 and %u disagree on output slot %u", i, slot);
      memcpy(l->ovals + l->olen, v0, len * sizeof *v0);
      if (rec_push(&l->orec, &l->norec, slot, l->olen, len) != CX_OK)
        return cx_errf(err, errlen, CX_E_NOMEM, "out of memory keeping the outputs");
      l->olen += len;
    } else if (in->op == MPC_OP_OUTPUT_SHARE) {
      size_t off = 0, len = 0;
      for (size_t r = 0; r < l->nsrec; r++) off += l->srec[r].len;
      for (uint32_t i = 0; i < l->n; i++) {
        const fe *sh = NULL;
        len = mpc_session_output_share(sess[i], slot, &sh);
        if (len && len <= l->stotal - off)
          memcpy(l->sbuf + (size_t)i * l->stotal + off, sh, len * sizeof *sh);
      }
      if (rec_push(&l->srec, &l->nsrec, slot, off, len) != CX_OK)
        return cx_errf(err, errlen, CX_E_NOMEM, "out of memory keeping the outputs");
    }
  }
  return CX_OK;
}

cx_err mpc_local_run(mpc_local *l, const mpc_program *prog, const mpc_local_input *in, size_t nin,
                     const mpc_local_client_input *cin, size_t ncin, mpc_status *st, uint64_t *bytes_max,
                     char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (st) memset(st, 0, sizeof *st);
  if (bytes_max) *bytes_max = 0;
  if (!l || !prog || (nin && !in) || (ncin && !cin)) return CX_E_INVALID_ARG;
  outputs_clear(l);
  cx_err e = mpc_prog_check(prog, l->n, err, errlen);
  if (e == CX_OK) e = inputs_match(l, prog, in, nin, cin, ncin, err, errlen);
  if (e != CX_OK) return e;
  /* Material first: a session short of it would abort half-way (at every
   * party alike, so the pools stay aligned), after taking what there was. */
  mpc_prog_cost c;
  mpc_prog_cost_get(prog, &c);
  mpc_prog_cost_at(l->n, l->t, &c);
  mpc_pool_level lv;
  mpc_pool_level_get(l->pools[0], &lv);
  if (c.triples > lv.triples || c.rands > lv.rands || c.bits > lv.bits || c.ints > lv.ints)
    return cx_errf(err, errlen, CX_E_MPC_POOL_EMPTY,
                   "the program needs %zu triples, %zu randoms, %zu bits and %zu ints; the pools hold %zu, "
                   "%zu, %zu and %zu",
                   c.triples, c.rands, c.bits, c.ints, lv.triples, lv.rands, lv.bits, lv.ints);
  mpc_session *sess[MPC_MAX_N] = {0};
  for (uint32_t i = 0; i < l->n && e == CX_OK; i++) {
    mpc_session_config cfg;
    config(l, i, &cfg);
    e = mpc_session_online(&cfg, prog, l->pools[i], &sess[i]);
    sodium_memzero(&cfg, sizeof cfg);
    if (e != CX_OK)
      e = cx_errf(err, errlen, e, "party %u: the online session is refused: %s", i, cx_err_str(e));
  }
  if (e == CX_OK) e = give_inputs(l, sess, in, nin, err, errlen);
  if (e == CX_OK) e = give_client(l, sess, cin, ncin, err, errlen);
  if (e == CX_OK)
    e = drive(l, sess, err, errlen);
  else
    l->sessions++; /* its id was handed out: never reuse it */
  if (sess[0] && st) *st = *mpc_session_status(sess[0]);
  for (uint32_t i = 0; i < l->n && bytes_max; i++)
    if (sess[i] && mpc_session_status(sess[i])->bytes_sent > *bytes_max)
      *bytes_max = mpc_session_status(sess[i])->bytes_sent;
  if (e == CX_OK) e = keep_results(l, prog, sess, err, errlen);
  if (e != CX_OK) outputs_clear(l);
  sessions_free(l, sess);
  return e;
}

size_t mpc_local_output(const mpc_local *l, uint32_t slot, const fe **vals) {
  if (vals) *vals = NULL;
  for (size_t k = 0; l && k < l->norec; k++)
    if (l->orec[k].slot == slot) {
      if (vals) *vals = l->ovals + l->orec[k].off;
      return l->orec[k].len;
    }
  return 0;
}

size_t mpc_local_output_share(const mpc_local *l, uint32_t party, uint32_t slot, const fe **shares) {
  if (shares) *shares = NULL;
  if (!l || party >= l->n) return 0;
  for (size_t k = 0; k < l->nsrec; k++)
    if (l->srec[k].slot == slot) {
      if (shares) *shares = l->sbuf + (size_t)party * l->stotal + l->srec[k].off;
      return l->srec[k].len;
    }
  return 0;
}
