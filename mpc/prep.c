/* Preprocessing batches: Beaver triples and random sharings, checked before
 * they enter the pool, and the audit that names a cheater when a check
 * fails (docs/mpc-prep.md; session_internal.h for the framework).
 *
 * Rounds (every value is a vector of field elements, fe_encode_vec'ed):
 *   0 DEAL     p2p  commit_i || shares of U_t random and U_d double sharings
 *   1 MULT     p2p  coin_i || degree-2t product shares for the king of each
 *   2 KING     all  the products this party opened as king
 *   3 OPEN1    all  shares of rho[0..T) and omega (degree checks)
 *   4 OPEN2    all  share of sigma (the sacrifice check)
 *   5 VERDICT  all  ok byte || transcript hash
 *   6 AUDIT    all  T || R || seed || every message received in rounds 0..5
 * References: Damgård–Nielsen 2007 (CRYPTO) §3 (extraction of random and
 * double sharings with a Vandermonde matrix) and §4 (king multiplication);
 * the sacrifice of a second triple sharing b as in Damgård–Pastro–Smart–
 * Zakarias 2012 and Chida et al. 2018; Ishai–Ostrovsky–Zikas 2014 for
 * identifying the cheater by opening the input-independent preprocessing.
 *
 * Two deviations from the first draft of the protocol (docs/mpc-prep.md):
 *  - the challenges are keyed by the round-2 transcript hash (joint coin
 *    and kings' openings), not by the coin alone, which every party knows
 *    before the kings open: a corrupt king could otherwise shift two
 *    products so that the sacrifice cancels (see after_king);
 *  - a coin opening that does not match its commitment makes this party
 *    vote "fail" instead of aborting at once; the abort (naming the dealer,
 *    MPC_EV_COIN evidence) comes after the audit round. An immediate abort
 *    would leave the other honest parties waiting for this party's round-2
 *    message: they would time out naming nobody, while the audit lets every
 *    one of them name the dealer. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "session_internal.h"

enum { R_DEAL = 0, R_MULT, R_KING, R_OPEN1, R_OPEN2, R_VERDICT, R_AUDIT };
#define PREP_ROUNDS 6 /* rounds 0..5: what the audit publishes and replays */

/* fe_prg nonces (docs/mpc-prep.md "Local randomness"). Keyed by the party's
 * seed they give its dealing; keyed by the round-2 transcript hash (the
 * joint coin and the kings' openings), the challenges. One
 * nonce per purpose, so the streams are independent and a replay from the
 * seed regenerates them exactly. */
#define NONCE_RAND 1   /* key seed: U_t x (1 + t): secret, then t coefficients */
#define NONCE_DOUBLE 2 /* key seed: U_d x (1 + t + 2t): secret, t coefs, 2t coefs */
#define NONCE_CHAL 3   /* key transcript hash: r, lambda[0..T), mu[0..R) */
/* coin_i = BLAKE2b-256 keyed by the seed over this label (a PRF of the seed). */
static const char k_coin_label[] = "custos/mpc/prep-coin";

#define COIN_BYTES 32
#define VERDICT_BYTES (1 + 32)
#define AUDIT_HDR (8 + 8 + 32)

/* ---- sizes ------------------------------------------------------------- */

typedef struct {
  uint64_t T, R;   /* triples and random sharings wanted */
  uint64_t m;      /* n - t: outputs per extraction */
  uint64_t Ut, Ud; /* random and double sharings each party deals */
  uint64_t W;      /* shares per dealer: Ut + 2 Ud */
} prep_dims;

static void dims_init(prep_dims *d, uint32_t n, uint32_t t, uint64_t T, uint64_t R) {
  d->T = T;
  d->R = R;
  d->m = n - t;
  /* 3T for a, a2, b; R; one blinding sharing for the omega check. */
  d->Ut = (3 * T + R + 1 + d->m - 1) / d->m;
  d->Ud = (2 * T + d->m - 1) / d->m;
  d->W = d->Ut + 2 * d->Ud;
}

/* Products q in [0, 2T) whose king is j (king(q) = q mod n). */
static uint64_t king_count(uint32_t n, uint64_t T, uint32_t j) {
  return j < 2 * T ? (2 * T - 1 - j) / n + 1 : 0;
}

static uint64_t len_deal(const prep_dims *d) { return COIN_BYTES + FE_BYTES * d->W; }
static uint64_t len_mult(uint32_t n, const prep_dims *d, uint32_t to) {
  return COIN_BYTES + FE_BYTES * king_count(n, d->T, to);
}
static uint64_t len_king(uint32_t n, const prep_dims *d, uint32_t from) {
  return FE_BYTES * king_count(n, d->T, from);
}
static uint64_t len_open1(const prep_dims *d) { return FE_BYTES * (d->T + 1); }

/* Payload length of the round-r message from `from` to `to`. */
static uint64_t msg_len(uint32_t n, const prep_dims *d, uint32_t r, uint32_t from, uint32_t to) {
  switch (r) {
  case R_DEAL: return len_deal(d);
  case R_MULT: return len_mult(n, d, to);
  case R_KING: return len_king(n, d, from);
  case R_OPEN1: return len_open1(d);
  case R_OPEN2: return FE_BYTES;
  default: return VERDICT_BYTES;
  }
}

/* The audit payload of party `me`: the largest payload of the batch. */
static uint64_t len_audit(uint32_t n, const prep_dims *d, uint32_t me) {
  uint64_t total = AUDIT_HDR;
  for (uint32_t r = 0; r < PREP_ROUNDS; r++)
    for (uint32_t j = 0; j < n; j++)
      if (j != me) total += 4 + MPC_MSG_OVERHEAD + msg_len(n, d, r, j, me);
  return total;
}

/* Every payload of the batch must fit MPC_MAX_PAYLOAD; the audit message is
 * the largest. At least one item, and T, R bounded first so the arithmetic
 * above cannot overflow. */
static int limits_ok(uint32_t n, uint32_t t, uint64_t T, uint64_t R) {
  if (T == 0 && R == 0) return 0;
  if (T > MPC_MAX_PAYLOAD || R > MPC_MAX_PAYLOAD) return 0;
  prep_dims d;
  dims_init(&d, n, t, T, R);
  if (len_deal(&d) > MPC_MAX_PAYLOAD) return 0;
  for (uint32_t me = 0; me < n; me++)
    if (len_audit(n, &d, me) > MPC_MAX_PAYLOAD) return 0;
  return 1;
}

/* ---- state ------------------------------------------------------------- */

typedef struct {
  prep_dims d;
  int fail;         /* one of my checks failed: vote no */
  int32_t coin_bad; /* first dealer whose coin opening missed its commitment */
  uint8_t coin_mine[COIN_BYTES];
  uint8_t commit[MPC_MAX_N][32];
  uint8_t coin[32];       /* the joint coin */
  uint8_t transcript[32]; /* hash of the coin and the kings' openings */
  /* One sodium_malloc'd block (mat, mat_len) carved into: */
  fe *mat;
  size_t mat_len;
  fe *own;     /* W: shares I dealt to myself (until round 0 ends) */
  fe *rand;    /* Ut * m: extracted degree-t random sharings */
  fe *dt, *d2; /* Ud * m each: extracted double sharings, degree t and 2t */
  fe *u;       /* 2T: my degree-2t shares of a*b - S and a2*b - S2 */
  fe *U;       /* 2T: the opened products */
  fe *c, *c2;  /* T each: degree-t shares of a*b and a2*b */
  fe *ch;      /* 1 + T + R: challenges r, lambda, mu */
  fe *mine3;   /* T + 1: my shares of rho and omega */
  fe *open3;   /* T + 1: the opened rho and omega */
  fe sigma;    /* my share of sigma */
} prep_impl;

static prep_impl *impl_of(mpc_session *s) { return (prep_impl *)s->impl; }

/* Views into the material (docs/mpc-prep.md "Assignment"). */
static fe *mat_a(prep_impl *p) { return p->rand; }
static fe *mat_a2(prep_impl *p) { return p->rand + p->d.T; }
static fe *mat_b(prep_impl *p) { return p->rand + 2 * p->d.T; }
static fe *mat_r(prep_impl *p) { return p->rand + 3 * p->d.T; }
static fe mat_blind(prep_impl *p) { return p->rand[3 * p->d.T + p->d.R]; }
static fe *mat_s(prep_impl *p) { return p->dt; }
static fe *mat_s2(prep_impl *p) { return p->dt + p->d.T; }
static fe *mat_S(prep_impl *p) { return p->d2; }
static fe *mat_S2(prep_impl *p) { return p->d2 + p->d.T; }

static cx_err impl_alloc(prep_impl *p) {
  const prep_dims *d = &p->d;
  size_t sizes[] = {d->W, d->Ut * d->m, d->Ud * d->m,    d->Ud * d->m, 2 * d->T, 2 * d->T,
                    d->T, d->T,         1 + d->T + d->R, d->T + 1,     d->T + 1};
  fe **dst[] = {&p->own, &p->rand, &p->dt, &p->d2,    &p->u,    &p->U,
                &p->c,   &p->c2,   &p->ch, &p->mine3, &p->open3};
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
  p->mat = fe_alloc(total);
  if (!p->mat) return CX_E_NOMEM;
  p->mat_len = total;
  size_t off = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    *dst[i] = p->mat + off;
    off += sizes[i];
  }
  return CX_OK;
}

/* Wipes every secret of the batch (done, abort, destroy, or once the audit
 * starts: the audit needs only the inbox). */
static void impl_wipe(prep_impl *p) {
  if (!p) return;
  fe_free(p->mat, p->mat_len);
  p->mat = NULL;
  p->mat_len = 0;
  p->sigma = 0;
  sodium_memzero(p->coin_mine, sizeof p->coin_mine);
}

static void prep_destroy(mpc_session *s) {
  prep_impl *p = impl_of(s);
  if (!p) return;
  impl_wipe(p);
  sodium_memzero(p, sizeof *p);
  free(p);
  s->impl = NULL;
}

/* ---- helpers ----------------------------------------------------------- */

static void put_be64(uint8_t *b, uint64_t v) {
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint64_t get_be64(const uint8_t *b) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | b[i];
  return v;
}
static void put_be32(uint8_t *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (24 - 8 * i));
}
static uint32_t get_be32(const uint8_t *b) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Sends prefix || encode(v[0..count)); the buffer held shares: wiped. */
static cx_err send_fe(mpc_session *s, uint32_t to, const uint8_t *prefix, size_t plen, const fe *v,
                      size_t count, mpc_outbox *out) {
  size_t len = plen + FE_BYTES * count;
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return CX_E_NOMEM;
  if (plen) memcpy(buf, prefix, plen);
  fe_encode_vec(v, count, buf + plen);
  cx_err e = sess_send(s, to, buf, len, out);
  sodium_memzero(buf, len ? len : 1);
  free(buf);
  return e;
}

/* A signed payload of the wrong shape proves its sender deviated: abort at
 * once naming it, the message itself is the evidence. */
static void abort_malformed(mpc_session *s, const mpc_msg *m, const char *what) {
  const uint8_t *raw = m->raw;
  size_t len = m->raw_len;
  impl_wipe(impl_of(s));
  sess_evidence(s, MPC_EV_MALFORMED, m->from, 0, &raw, &len, 1);
  sess_abort(s, CX_E_MPC_MALFORMED, m->from,
             "prep round %u: party %u sent a malformed payload (%s)", s->round, m->from, what);
}

/* The round's message of j with its exact expected length, or NULL after
 * aborting (malformed) or on a framework error (*e set). */
static const mpc_msg *get_msg(mpc_session *s, uint32_t j, uint64_t want, cx_err *e) {
  const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, j);
  if (!m) {
    *e = CX_E_INTERNAL; /* advance runs only when every expected message is in */
    return NULL;
  }
  if (m->len != want) {
    abort_malformed(s, m, "wrong length");
    return NULL;
  }
  return m;
}

/* Decodes count elements at off of j's message, aborting on a
 * non-canonical element. */
static int get_fe(mpc_session *s, const mpc_msg *m, size_t off, fe *v, size_t count) {
  if (fe_decode_vec(m->payload + off, count, v) != 0) {
    abort_malformed(s, m, "non-canonical field element");
    return -1;
  }
  return 0;
}

/* ---- round 0: deal ----------------------------------------------------- */

/* The party's dealing, all from fe_prg(seed) (so the audit can replay it):
 * column c < Ut of shares[j * W + c] is party j's share of random sharing
 * c; then the degree-t and degree-2t halves of the Ud double sharings. */
static cx_err deal(mpc_session *s, fe *shares) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t n = s->cfg.n, t = s->cfg.t;
  size_t nr = d->Ut * (1 + t), nd = d->Ud * (1 + 3 * (size_t)t);
  fe *coef = fe_alloc(nr + nd);
  if (!coef) return CX_E_NOMEM;
  fe_prg(s->cfg.seed, NONCE_RAND, coef, nr);
  fe_prg(s->cfg.seed, NONCE_DOUBLE, coef + nr, nd);
  fe tmp[MPC_MAX_N];
  for (size_t c = 0; c < d->Ut; c++) {
    const fe *k = coef + c * (1 + t);
    shamir_share(&s->sh, k[0], t, k + 1, tmp);
    for (uint32_t j = 0; j < n; j++) shares[j * d->W + c] = tmp[j];
  }
  for (size_t c = 0; c < d->Ud; c++) {
    /* One random value shared twice (Damgård–Nielsen §4's double sharing). */
    const fe *k = coef + nr + c * (1 + 3 * (size_t)t);
    shamir_share(&s->sh, k[0], t, k + 1, tmp);
    for (uint32_t j = 0; j < n; j++) shares[j * d->W + d->Ut + c] = tmp[j];
    shamir_share(&s->sh, k[0], 2 * t, k + 1 + t, tmp);
    for (uint32_t j = 0; j < n; j++) shares[j * d->W + d->Ut + d->Ud + c] = tmp[j];
  }
  sodium_memzero(tmp, sizeof tmp);
  fe_free(coef, nr + nd);
  return CX_OK;
}

static cx_err prep_start(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t n = s->cfg.n, me = s->cfg.me;
  crypto_generichash(p->coin_mine, COIN_BYTES, (const uint8_t *)k_coin_label,
                     sizeof k_coin_label - 1, s->cfg.seed, 32);
  cx_hash h;
  hash_tagged(CX_TAG_MPC_COIN, p->coin_mine, COIN_BYTES, &h);
  memcpy(p->commit[me], h.b, 32);
  fe *shares = fe_alloc(n * d->W);
  if (!shares) return CX_E_NOMEM;
  cx_err e = deal(s, shares);
  if (e == CX_OK) memcpy(p->own, shares + me * d->W, d->W * sizeof(fe));
  for (uint32_t j = 0; j < n && e == CX_OK; j++)
    if (j != me) e = send_fe(s, j, h.b, 32, shares + j * d->W, d->W, out);
  fe_free(shares, n * d->W);
  return e;
}

/* After round 0: extraction over the dealers, column by column
 * (Damgård–Nielsen §3): with at most t dealers corrupt, the m = n - t
 * outputs of each column are uniform and unknown to the adversary. Then the
 * local degree-2t products of §4. */
static cx_err after_deal(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t n = s->cfg.n, me = s->cfg.me;
  cx_err e = CX_OK;
  fe *recv = fe_alloc(n * d->W);
  if (!recv) return CX_E_NOMEM;
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) {
      memcpy(recv + j * d->W, p->own, d->W * sizeof(fe));
      continue;
    }
    const mpc_msg *m = get_msg(s, j, len_deal(d), &e);
    if (!m || get_fe(s, m, COIN_BYTES, recv + j * d->W, d->W) != 0) goto done;
    memcpy(p->commit[j], m->payload, 32);
  }
  for (size_t c = 0; c < d->W; c++) {
    fe *dst = c < d->Ut           ? p->rand + c * d->m
              : c < d->Ut + d->Ud ? p->dt + (c - d->Ut) * d->m
                                  : p->d2 + (c - d->Ut - d->Ud) * d->m;
    shamir_extract(&s->sh, recv + c, d->W, dst, 1);
  }
  sodium_memzero(p->own, d->W * sizeof(fe));
  /* u[q]: degree-2t shares of a*b - S (q < T) and a2*b - S2 (q >= T). */
  for (size_t k = 0; k < d->T; k++) {
    fe bk = mat_b(p)[k];
    p->u[k] = fe_sub(fe_mul(mat_a(p)[k], bk), mat_S(p)[k]);
    p->u[d->T + k] = fe_sub(fe_mul(mat_a2(p)[k], bk), mat_S2(p)[k]);
  }
  sess_next_round(s, sess_others(s));
  /* Round 1: to each king its products, with my coin opening. */
  fe *v = fe_alloc(2 * d->T / n + 1);
  if (!v) {
    e = CX_E_NOMEM;
    goto done;
  }
  for (uint32_t j = 0; j < n && e == CX_OK; j++) {
    if (j == me) continue;
    size_t cnt = 0;
    for (uint64_t q = j; q < 2 * d->T; q += n) v[cnt++] = p->u[q];
    e = send_fe(s, j, p->coin_mine, COIN_BYTES, v, cnt, out);
  }
  fe_free(v, 2 * d->T / n + 1);
done:
  fe_free(recv, n * d->W);
  return e;
}

/* ---- round 1: multiply (as king) ---------------------------------------- */

static cx_err after_mult(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t n = s->cfg.n, me = s->cfg.me;
  uint64_t kc = king_count(n, d->T, me);
  cx_err e = CX_OK;
  uint8_t coins[MPC_MAX_N][COIN_BYTES];
  fe *sh = fe_alloc(n * kc + kc);
  if (!sh) return CX_E_NOMEM;
  fe *vals = sh + n * kc;
  const fe *ptr[MPC_MAX_N];
  for (uint32_t j = 0; j < n; j++) {
    ptr[j] = sh + j * kc;
    if (j == me) {
      memcpy(coins[j], p->coin_mine, COIN_BYTES);
      for (uint64_t i = 0; i < kc; i++) sh[j * kc + i] = p->u[me + i * n];
      continue;
    }
    const mpc_msg *m = get_msg(s, j, len_mult(n, d, me), &e);
    if (!m || get_fe(s, m, COIN_BYTES, sh + j * kc, kc) != 0) goto done;
    memcpy(coins[j], m->payload, COIN_BYTES);
  }
  /* The commitment binds each dealer's coin share before it saw anyone
   * else's; a mismatch is a provable cheat, reported after the audit round
   * (see the top of this file) so that every honest party names it. */
  for (uint32_t j = 0; j < n; j++) {
    cx_hash h;
    hash_tagged(CX_TAG_MPC_COIN, coins[j], COIN_BYTES, &h);
    if (memcmp(h.b, p->commit[j], 32) != 0) {
      p->fail = 1;
      if (p->coin_bad < 0) p->coin_bad = (int32_t)j;
    }
  }
  cx_hash coin;
  hash_tagged(CX_TAG_MPC_COIN, coins, (size_t)n * COIN_BYTES, &coin);
  memcpy(p->coin, coin.b, 32);
  /* King: n degree-2t shares detect up to t errors (n >= 3t + 1); they
   * cannot be corrected, so a failure is remembered and the batch voted
   * down. Zeros keep the run deterministic for the replay. */
  size_t bad = 0;
  if (kc && shamir_check(&s->sh, 2 * s->cfg.t, ptr, kc, vals, &bad) != 0) {
    p->fail = 1;
    memset(vals, 0, kc * sizeof(fe));
  }
  for (uint64_t i = 0; i < kc; i++) p->U[me + i * n] = vals[i];
  sess_next_round(s, sess_others(s));
  e = send_fe(s, MPC_TO_ALL, NULL, 0, vals, kc, out);
done:
  fe_free(sh, n * kc + kc);
  return e;
}

/* ---- round 2: the kings' openings; the checks' challenges --------------- */

static cx_err after_king(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t n = s->cfg.n, me = s->cfg.me;
  cx_err e = CX_OK;
  hash_ctx hc;
  hash_ctx_init(&hc, CX_TAG_MPC_TRANSCRIPT);
  hash_ctx_update(&hc, p->coin, 32);
  uint64_t kmax = 2 * d->T / n + 1;
  fe *v = fe_alloc(kmax);
  uint8_t *enc = malloc(FE_BYTES * kmax);
  if (!v || !enc) {
    e = CX_E_NOMEM;
    goto done;
  }
  for (uint32_t j = 0; j < n; j++) {
    uint64_t kc = king_count(n, d->T, j);
    if (j == me) {
      for (uint64_t i = 0; i < kc; i++) v[i] = p->U[j + i * n];
      fe_encode_vec(v, kc, enc);
      hash_ctx_update(&hc, enc, FE_BYTES * kc);
      continue;
    }
    const mpc_msg *m = get_msg(s, j, len_king(n, d, j), &e);
    if (!m || get_fe(s, m, 0, v, kc) != 0) goto done;
    for (uint64_t i = 0; i < kc; i++) p->U[j + i * n] = v[i];
    hash_ctx_update(&hc, m->payload, m->len);
  }
  cx_hash th;
  hash_ctx_final(&hc, &th);
  memcpy(p->transcript, th.b, 32);
  /* c = (a*b - s) + s: degree-t shares of the products (§4). */
  for (size_t k = 0; k < d->T; k++) {
    p->c[k] = fe_add(p->U[k], mat_s(p)[k]);
    p->c2[k] = fe_add(p->U[d->T + k], mat_s2(p)[k]);
  }
  /* The challenges are keyed by the transcript hash, which binds the joint
   * coin AND the kings' openings, not by the coin alone: the coin is known
   * after round 1, before the kings open, and a corrupt king that knew r
   * could open U[k] + delta and U[T + k] + r * delta (one king holds both
   * when n divides T) and pass the sacrifice with a wrong triple. Hashing
   * its opening into r (Fiat–Shamir) leaves it a 1/p chance per try. */
  fe_prg(p->transcript, NONCE_CHAL, p->ch, 1 + d->T + d->R);
  fe r = p->ch[0];
  const fe *mu = p->ch + 1 + d->T;
  for (size_t k = 0; k < d->T; k++) p->mine3[k] = fe_sub(fe_mul(r, mat_a(p)[k]), mat_a2(p)[k]);
  fe omega = mat_blind(p);
  for (size_t k = 0; k < d->R; k++) omega = fe_add(omega, fe_mul(mu[k], mat_r(p)[k]));
  p->mine3[d->T] = omega;
  sess_next_round(s, sess_others(s));
  e = send_fe(s, MPC_TO_ALL, NULL, 0, p->mine3, d->T + 1, out);
done:
  fe_free(v, kmax);
  free(enc);
  return e;
}

/* Gathers every party's vector of count degree-t shares of this round (mine
 * given) and opens them with the detect-only check. Returns 1 if consistent,
 * 0 if not (vals zeroed), -1 after a malformed abort or error (*e). */
static int open_all(mpc_session *s, const fe *mine, size_t count, fe *vals, cx_err *e) {
  uint32_t n = s->cfg.n, me = s->cfg.me;
  fe *sh = fe_alloc(n * count);
  if (!sh) {
    *e = CX_E_NOMEM;
    return -1;
  }
  const fe *ptr[MPC_MAX_N];
  int rc = 1;
  for (uint32_t j = 0; j < n && rc == 1; j++) {
    ptr[j] = sh + j * count;
    if (j == me) {
      memcpy(sh + j * count, mine, count * sizeof(fe));
      continue;
    }
    const mpc_msg *m = get_msg(s, j, FE_BYTES * count, e);
    if (!m || get_fe(s, m, 0, sh + j * count, count) != 0) rc = -1;
  }
  size_t bad = 0;
  if (rc == 1 && shamir_check(&s->sh, s->cfg.t, ptr, count, vals, &bad) != 0) {
    memset(vals, 0, count * sizeof(fe));
    rc = 0;
  }
  fe_free(sh, n * count);
  return rc;
}

/* ---- round 3: degree checks; the sacrifice ------------------------------ */

static cx_err after_open1(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  cx_err e = CX_OK;
  int rc = open_all(s, p->mine3, d->T + 1, p->open3, &e);
  if (rc < 0) return e;
  if (rc == 0) p->fail = 1;
  /* sigma = sum lambda_k (r c_k - c2_k - rho_k b_k): zero when both
   * triples are right, since rho_k b_k = r a_k b_k - a2_k b_k; a wrong c_k
   * survives with probability 1/p (the sacrifice of SPDZ 2012 / Chida et
   * al. 2018, the second triple (a2, b, c2) sharing b). */
  fe r = p->ch[0], sigma = 0;
  const fe *lambda = p->ch + 1;
  for (size_t k = 0; k < d->T; k++) {
    fe term = fe_sub(fe_sub(fe_mul(r, p->c[k]), p->c2[k]), fe_mul(p->open3[k], mat_b(p)[k]));
    sigma = fe_add(sigma, fe_mul(lambda[k], term));
  }
  p->sigma = sigma;
  sess_next_round(s, sess_others(s));
  return send_fe(s, MPC_TO_ALL, NULL, 0, &p->sigma, 1, out);
}

/* ---- round 4: the sacrifice's value; the verdict ------------------------ */

static cx_err after_open2(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  cx_err e = CX_OK;
  fe sigma = 0;
  int rc = open_all(s, &p->sigma, 1, &sigma, &e);
  if (rc < 0) return e;
  if (rc == 0 || sigma != 0) p->fail = 1;
  uint8_t v[VERDICT_BYTES];
  v[0] = p->fail ? 0 : 1;
  memcpy(v + 1, p->transcript, 32);
  sess_next_round(s, sess_others(s));
  return sess_send(s, MPC_TO_ALL, v, sizeof v, out);
}

/* ---- round 5: accept, or open the batch to the audit -------------------- */

static cx_err accept(mpc_session *s) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  if (!s->pool) { /* a replay never gets here; nothing to keep */
    impl_wipe(p);
    sess_done(s);
    return CX_OK;
  }
  mpc_pool_level lv;
  mpc_pool_level_get(s->pool, &lv);
  if (lv.cap_triples - lv.triples < d->T || lv.cap_rands - lv.rands < d->R) {
    impl_wipe(p);
    sess_abort(s, CX_E_FULL, -1, "prep: the pool has no room for the batch");
    return CX_OK;
  }
  cx_err e = CX_OK;
  if (d->T) e = mpc_pool_put_triples(s->pool, mat_a(p), mat_b(p), p->c, d->T);
  if (e == CX_OK && d->R) e = mpc_pool_put_rands(s->pool, mat_r(p), d->R);
  impl_wipe(p);
  if (e != CX_OK) {
    sess_abort(s, e, -1, "prep: adding the batch to the pool failed");
    return CX_OK;
  }
  sess_done(s);
  return CX_OK;
}

/* Round 6 payload: T || R || seed || for each round 0..5, for each sender
 * j != me in order: u32 length || the signed message I received. Revealing
 * the seed is safe only because this batch is discarded and never depended
 * on any input (Ishai–Ostrovsky–Zikas 2014). */
static cx_err send_audit(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  uint32_t n = s->cfg.n, me = s->cfg.me;
  size_t len = AUDIT_HDR;
  for (uint32_t r = 0; r < PREP_ROUNDS; r++)
    for (uint32_t j = 0; j < n; j++) {
      if (j == me) continue;
      const mpc_msg *m = mpc_inbox_get(s->inbox, r, j);
      if (!m) return CX_E_INTERNAL; /* keep_rounds: every round is kept */
      len += 4 + m->raw_len;
    }
  uint8_t *buf = malloc(len);
  if (!buf) return CX_E_NOMEM;
  put_be64(buf, p->d.T);
  put_be64(buf + 8, p->d.R);
  memcpy(buf + 16, s->cfg.seed, 32);
  size_t off = AUDIT_HDR;
  for (uint32_t r = 0; r < PREP_ROUNDS; r++)
    for (uint32_t j = 0; j < n; j++) {
      if (j == me) continue;
      const mpc_msg *m = mpc_inbox_get(s->inbox, r, j);
      put_be32(buf + off, (uint32_t)m->raw_len);
      memcpy(buf + off + 4, m->raw, m->raw_len);
      off += 4 + m->raw_len;
    }
  cx_err e = sess_send(s, MPC_TO_ALL, buf, len, out);
  sodium_memzero(buf, len);
  free(buf);
  return e;
}

static cx_err after_verdict(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  uint32_t n = s->cfg.n, me = s->cfg.me;
  cx_err e = CX_OK;
  int ok = !p->fail;
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) continue;
    const mpc_msg *m = get_msg(s, j, VERDICT_BYTES, &e);
    if (!m) return e;
    if (m->payload[0] > 1) {
      abort_malformed(s, m, "verdict byte not 0 or 1");
      return CX_OK;
    }
    if (m->payload[0] != 1 || memcmp(m->payload + 1, p->transcript, 32) != 0) ok = 0;
  }
  if (ok) return accept(s);
  /* Someone saw a failure or a different transcript: the batch is dropped
   * and everyone publishes its seed and inputs. */
  impl_wipe(p);
  sess_next_round(s, sess_others(s));
  return send_audit(s, out);
}

/* ---- round 6: the audit ------------------------------------------------- */

/* One party's audit message, parsed: pointers into it. */
typedef struct {
  uint64_t T, R;
  const uint8_t *seed;
  const uint8_t *msg[PREP_ROUNDS][MPC_MAX_N]; /* [r][j]: j's round-r message to the author */
  size_t len[PREP_ROUNDS][MPC_MAX_N];
} audit_view;

/* Parses k's audit payload: sizes within the limits, and every embedded
 * message a valid signed message of this session, of its round, from its
 * position's sender and addressed to k or to all. Anything else is a lie
 * signed by k. 0 if valid. */
static int audit_parse(uint32_t n, uint32_t t, const cx_pubkey *pks, const uint8_t session[32],
                       uint32_t k, const uint8_t *p, size_t len, audit_view *v) {
  memset(v, 0, sizeof *v);
  if (len < AUDIT_HDR) return -1;
  v->T = get_be64(p);
  v->R = get_be64(p + 8);
  v->seed = p + 16;
  if (!limits_ok(n, t, v->T, v->R)) return -1;
  size_t off = AUDIT_HDR;
  for (uint32_t r = 0; r < PREP_ROUNDS; r++)
    for (uint32_t j = 0; j < n; j++) {
      if (j == k) continue;
      if (len - off < 4) return -1;
      size_t l = get_be32(p + off);
      off += 4;
      if (len - off < l) return -1;
      mpc_msg m;
      if (mpc_msg_decode(p + off, l, &m) != CX_OK) return -1;
      if (m.kind != MPC_KIND_PREP || memcmp(m.session, session, 32) != 0 || m.round != r ||
          m.from != j || (m.to != k && m.to != MPC_TO_ALL))
        return -1;
      if (!mpc_msg_verify(&m, &pks[j])) return -1;
      v->msg[r][j] = p + off;
      v->len[r][j] = l;
      off += l;
    }
  return off == len ? 0 : -1;
}

static cx_err prep_create(const mpc_session_config *cfg, uint64_t T, uint64_t R, mpc_pool *pool,
                          mpc_session **out);

/* Replays party j from its published seed and inputs, up to and including
 * its round-5 messages (never its audit: no recursion). *out gets the
 * replay session, whose s->replay lists j's unsigned outputs. CX_OK even if
 * the replay aborted on a malformed input (its later outputs are then
 * simply missing); another error is ours (out of memory), not j's. */
static cx_err replay_party(uint32_t n, uint32_t t, const cx_pubkey *pks, const uint8_t session[32],
                           uint32_t j, const audit_view *v, mpc_session **out) {
  *out = NULL;
  mpc_session_config cfg = {.n = n, .t = t, .me = j, .pubkeys = pks, .key = NULL};
  memcpy(cfg.session, session, 32);
  memcpy(cfg.seed, v->seed, 32);
  mpc_session *rs = NULL;
  cx_err e = prep_create(&cfg, v->T, v->R, NULL, &rs);
  if (e != CX_OK) return e;
  mpc_outbox ob = {0};
  e = mpc_session_start(rs, 0, &ob);
  for (uint32_t r = 0; r + 1 < PREP_ROUNDS && e == CX_OK; r++)
    for (uint32_t i = 0; i < n && e == CX_OK; i++) {
      if (i == j || rs->st.state != MPC_RUNNING) continue;
      e = mpc_session_recv(rs, v->msg[r][i], v->len[r][i], 0, &ob);
    }
  mpc_outbox_free(&ob);
  if (rs->st.state == MPC_ABORTED && rs->st.err != CX_E_MPC_MALFORMED) e = rs->st.err;
  if (e == CX_E_MPC_MALFORMED || e == CX_E_MPC_STATE) e = CX_OK;
  if (e != CX_OK) {
    mpc_session_free(rs);
    return e;
  }
  *out = rs;
  return CX_OK;
}

/* 1 if the replay produced exactly m (same round, recipient and payload). */
static int replay_has(const mpc_session *rs, const mpc_msg *m) {
  for (size_t i = 0; i < rs->replay_n; i++) {
    const mpc_replayed *r = &rs->replay[i];
    if (r->round == m->round && r->to == m->to)
      return r->len == m->len && (m->len == 0 || memcmp(r->payload, m->payload, m->len) == 0);
  }
  return 0;
}

/* Replays j and compares with every signed message of j I hold: the ones
 * to me (my inbox) and to others (their audits). Returns 1 and the first
 * mismatching message, 0 if j is consistent, -1 on our own error. */
static int audit_one(mpc_session *s, const audit_view *views, uint32_t j, const uint8_t **bad,
                     size_t *badlen, cx_err *e) {
  uint32_t n = s->cfg.n, me = s->cfg.me;
  mpc_session *rs = NULL;
  *e = replay_party(n, s->cfg.t, s->cfg.pubkeys, s->cfg.session, j, &views[j], &rs);
  if (*e != CX_OK) return -1;
  int found = 0;
  for (uint32_t r = 0; r < PREP_ROUNDS && !found; r++)
    for (uint32_t k = 0; k < n && !found; k++) {
      if (k == j) continue;
      const uint8_t *raw;
      size_t len;
      if (k == me) {
        const mpc_msg *m = mpc_inbox_get(s->inbox, r, j);
        raw = m ? m->raw : NULL;
        len = m ? m->raw_len : 0;
      } else {
        raw = views[k].msg[r][j];
        len = views[k].len[r][j];
      }
      mpc_msg m;
      if (!raw || mpc_msg_decode(raw, len, &m) != CX_OK) continue; /* cannot happen: checked */
      if (!replay_has(rs, &m)) {
        *bad = raw;
        *badlen = len;
        found = 1;
      }
    }
  mpc_session_free(rs);
  return found;
}

static cx_err after_audit(mpc_session *s) {
  prep_impl *p = impl_of(s);
  uint32_t n = s->cfg.n, me = s->cfg.me;
  if (p->coin_bad >= 0) {
    /* My own proof is shorter than a replay: the dealer's commitment and
     * its opening, both signed by it. */
    uint32_t j = (uint32_t)p->coin_bad;
    const mpc_msg *c0 = mpc_inbox_get(s->inbox, R_DEAL, j),
                  *c1 = mpc_inbox_get(s->inbox, R_MULT, j);
    if (!c0 || !c1) return CX_E_INTERNAL;
    const uint8_t *msgs[2] = {c0->raw, c1->raw};
    size_t lens[2] = {c0->raw_len, c1->raw_len};
    sess_evidence(s, MPC_EV_COIN, (int32_t)j, 0, msgs, lens, 2);
    sess_abort(s, CX_E_MPC_CHECK_FAILED, (int32_t)j,
               "prep: party %u's coin opening does not match its commitment", j);
    return CX_OK;
  }
  audit_view *views = calloc(n, sizeof *views);
  if (!views) return CX_E_NOMEM;
  cx_err e = CX_OK;
  for (uint32_t k = 0; k < n; k++) {
    if (k == me) continue;
    const mpc_msg *m = mpc_inbox_get(s->inbox, R_AUDIT, k);
    if (!m) {
      e = CX_E_INTERNAL;
      goto done;
    }
    if (audit_parse(n, s->cfg.t, s->cfg.pubkeys, s->cfg.session, k, m->payload, m->len,
                    &views[k]) != 0) {
      abort_malformed(s, m, "audit message does not parse or holds an invalid message");
      goto done;
    }
  }
  /* The first party whose signed messages its replay does not reproduce.
   * An honest party's always are, so only a cheater can be named. */
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) continue;
    const uint8_t *bad = NULL;
    size_t badlen = 0;
    int rc = audit_one(s, views, j, &bad, &badlen, &e);
    if (rc < 0) goto done;
    if (rc == 1) {
      const mpc_msg *am = mpc_inbox_get(s->inbox, R_AUDIT, j);
      mpc_msg bm;
      mpc_msg_decode(bad, badlen, &bm);
      const uint8_t *msgs[2] = {am->raw, bad};
      size_t lens[2] = {am->raw_len, badlen};
      sess_evidence(s, MPC_EV_AUDIT, (int32_t)j, 0, msgs, lens, 2);
      if (bm.to == MPC_TO_ALL)
        sess_abort(s, CX_E_MPC_CHECK_FAILED, (int32_t)j,
                   "prep audit: party %u's round %u broadcast is not what its replay sends", j,
                   bm.round);
      else
        sess_abort(
            s, CX_E_MPC_CHECK_FAILED, (int32_t)j,
            "prep audit: party %u's round %u message to party %u is not what its replay sends", j,
            bm.round, bm.to);
      goto done;
    }
  }
  sess_abort(s, CX_E_MPC_CHECK_FAILED, -1, "prep audit: a check failed but every replay matches");
done:
  free(views);
  return e;
}

/* ---- protocol ---------------------------------------------------------- */

static cx_err prep_advance(mpc_session *s, mpc_outbox *out) {
  switch (s->round) {
  case R_DEAL: return after_deal(s, out);
  case R_MULT: return after_mult(s, out);
  case R_KING: return after_king(s, out);
  case R_OPEN1: return after_open1(s, out);
  case R_OPEN2: return after_open2(s, out);
  case R_VERDICT:
    if (!s->cfg.key) { /* replay: stops after its round-5 messages */
      impl_wipe(impl_of(s));
      sess_done(s);
      return CX_OK;
    }
    return after_verdict(s, out);
  case R_AUDIT: return after_audit(s);
  default: return CX_E_INTERNAL;
  }
}

const mpc_proto mpc_prep_proto = {
    .name = "prep",
    .start = prep_start,
    .advance = prep_advance,
    .destroy = prep_destroy,
};

static cx_err prep_create(const mpc_session_config *cfg, uint64_t T, uint64_t R, mpc_pool *pool,
                          mpc_session **out) {
  if (!limits_ok(cfg->n, cfg->t, T, R)) return CX_E_INVALID_ARG;
  mpc_session *s = NULL;
  cx_err e = sess_new(cfg, MPC_KIND_PREP, &s);
  if (e != CX_OK) return e;
  prep_impl *p = calloc(1, sizeof *p);
  if (!p) {
    mpc_session_free(s);
    return CX_E_NOMEM;
  }
  dims_init(&p->d, cfg->n, cfg->t, T, R);
  p->coin_bad = -1;
  s->proto = &mpc_prep_proto;
  s->impl = p;
  s->pool = pool;
  s->keep_rounds = 1; /* the audit publishes every round */
  e = impl_alloc(p);
  if (e != CX_OK) {
    mpc_session_free(s);
    return e;
  }
  *out = s;
  return CX_OK;
}

cx_err mpc_session_prep(const mpc_session_config *cfg, size_t triples, size_t rands, mpc_pool *pool,
                        mpc_session **out) {
  if (out) *out = NULL;
  if (!cfg || !out || !pool || !cfg->pubkeys) return CX_E_INVALID_ARG;
  if (cfg->n == 0 || cfg->n > MPC_MAX_N || (uint64_t)cfg->n < 3 * (uint64_t)cfg->t + 1)
    return CX_E_INVALID_ARG;
  if (!limits_ok(cfg->n, cfg->t, triples, rands)) return CX_E_INVALID_ARG;
  mpc_pool_level lv;
  mpc_pool_level_get(pool, &lv);
  if (lv.cap_triples - lv.triples < triples || lv.cap_rands - lv.rands < rands) return CX_E_FULL;
  return prep_create(cfg, triples, rands, pool, out);
}

/* ---- third-party verification ------------------------------------------ */

/* Message i of the evidence, decoded and signed by the culprit. */
static cx_err ev_get(const cx_pubkey *pks, const mpc_evidence *ev, size_t i, uint32_t c,
                     mpc_msg *m) {
  if (!ev->msg || !ev->len || !ev->msg[i]) return CX_E_INVALID_ARG;
  cx_err e = mpc_msg_decode(ev->msg[i], ev->len[i], m);
  if (e != CX_OK) return CX_E_MPC_MALFORMED;
  if (m->from != c) return CX_E_MPC_SENDER;
  if (!mpc_msg_verify(m, &pks[c])) return CX_E_BAD_SIG;
  if (m->kind != MPC_KIND_PREP) return CX_E_MPC_SESSION;
  return CX_OK;
}

/* MPC_EV_COIN: a commitment (round 0) and an opening (round 1), both signed
 * by the culprit in one session, that do not match. An honest party sends
 * the same commitment and opening to everyone, so the recipients need not
 * be the same. */
static cx_err verify_coin(const cx_pubkey *pks, const mpc_evidence *ev, uint32_t c) {
  mpc_msg m0, m1;
  cx_err e = ev_get(pks, ev, 0, c, &m0);
  if (e == CX_OK) e = ev_get(pks, ev, 1, c, &m1);
  if (e != CX_OK) return e;
  if (memcmp(m0.session, m1.session, 32) != 0) return CX_E_MPC_SESSION;
  if (m0.round != R_DEAL || m1.round != R_MULT) return CX_E_MPC_ROUND;
  if (m0.len < 32 || m1.len < COIN_BYTES) return CX_E_MPC_MALFORMED;
  cx_hash h;
  hash_tagged(CX_TAG_MPC_COIN, m1.payload, COIN_BYTES, &h);
  return memcmp(h.b, m0.payload, 32) != 0 ? CX_OK : CX_E_MPC_CHECK_FAILED;
}

/* MPC_EV_AUDIT: the culprit's audit message and one of its signed messages
 * of rounds 0..5 that the replay from that audit does not reproduce. */
static cx_err verify_audit(uint32_t n, uint32_t t, const cx_pubkey *pks, const mpc_evidence *ev,
                           uint32_t c) {
  mpc_msg am, bm;
  cx_err e = ev_get(pks, ev, 0, c, &am);
  if (e == CX_OK) e = ev_get(pks, ev, 1, c, &bm);
  if (e != CX_OK) return e;
  if (memcmp(am.session, bm.session, 32) != 0) return CX_E_MPC_SESSION;
  if (am.round != R_AUDIT || am.to != MPC_TO_ALL || bm.round >= PREP_ROUNDS) return CX_E_MPC_ROUND;
  audit_view *v = calloc(1, sizeof *v);
  if (!v) return CX_E_NOMEM;
  if (audit_parse(n, t, pks, am.session, c, am.payload, am.len, v) != 0) {
    free(v);
    return CX_E_MPC_MALFORMED;
  }
  mpc_session *rs = NULL;
  e = replay_party(n, t, pks, am.session, c, v, &rs);
  free(v);
  if (e != CX_OK) return e;
  int same = replay_has(rs, &bm);
  mpc_session_free(rs);
  return same ? CX_E_MPC_CHECK_FAILED : CX_OK;
}

/* MPC_EV_MALFORMED for a prep message: proven when the payload is wrong
 * whatever the batch size (which a third party does not know): round 4 and
 * 5 have fixed sizes, rounds 0-3 must be whole canonical elements after
 * their fixed prefix, an audit must parse. */
static cx_err verify_malformed(uint32_t n, uint32_t t, const cx_pubkey *pks, const mpc_evidence *ev,
                               uint32_t c) {
  if (ev->count != 1) return CX_E_INVALID_ARG;
  mpc_msg m;
  cx_err e = ev_get(pks, ev, 0, c, &m);
  if (e != CX_OK) return e;
  size_t pre = m.round <= R_MULT ? COIN_BYTES : 0;
  switch (m.round) {
  case R_DEAL:
  case R_MULT:
  case R_KING:
  case R_OPEN1:
  case R_OPEN2: {
    if (m.len < pre || (m.len - pre) % FE_BYTES) return CX_OK;
    size_t cnt = (m.len - pre) / FE_BYTES;
    if (m.round == R_OPEN1 && cnt == 0) return CX_OK;
    if (m.round == R_OPEN2 && cnt != 1) return CX_OK;
    for (size_t i = 0; i < cnt; i++) {
      fe x;
      if (fe_decode(m.payload + pre + i * FE_BYTES, &x) != 0) return CX_OK;
    }
    return CX_E_MPC_CHECK_FAILED;
  }
  case R_VERDICT: return m.len != VERDICT_BYTES || m.payload[0] > 1 ? CX_OK : CX_E_MPC_CHECK_FAILED;
  case R_AUDIT: {
    audit_view *v = calloc(1, sizeof *v);
    if (!v) return CX_E_NOMEM;
    int bad = m.to != MPC_TO_ALL || audit_parse(n, t, pks, m.session, c, m.payload, m.len, v) != 0;
    free(v);
    return bad ? CX_OK : CX_E_MPC_CHECK_FAILED;
  }
  default: return CX_OK; /* no such round: an honest party never signs one */
  }
}

cx_err prep_audit_verify(uint32_t n, uint32_t t, const cx_pubkey *pubkeys, const mpc_evidence *ev) {
  if (!pubkeys || !ev || n == 0 || n > MPC_MAX_N || (uint64_t)n < 3 * (uint64_t)t + 1)
    return CX_E_INVALID_ARG;
  if (ev->culprit < 0 || (uint32_t)ev->culprit >= n) return CX_E_INVALID_ARG;
  uint32_t c = (uint32_t)ev->culprit;
  switch (ev->type) {
  case MPC_EV_COIN: return ev->count == 2 ? verify_coin(pubkeys, ev, c) : CX_E_INVALID_ARG;
  case MPC_EV_AUDIT: return ev->count == 2 ? verify_audit(n, t, pubkeys, ev, c) : CX_E_INVALID_ARG;
  case MPC_EV_MALFORMED: return verify_malformed(n, t, pubkeys, ev, c);
  default: return CX_E_INVALID_ARG;
  }
}
