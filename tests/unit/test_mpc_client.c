/* Client-dealt inputs (mpc/client.h): dealing and opening sealed share
 * blobs, the specific refusal for each kind of bad blob, the consistency
 * check, and blame — a cheating client is rejected without naming a member,
 * a lying member is named without blaming the client or anyone else.
 *
 * The test plays the client itself (mpc_client_commit / mpc_client_seal on
 * shares it makes) to cheat at every position; X25519 keys come from
 * tu_rand seeds, so a run is deterministic given $CUSTOS_SEED (only the
 * sealed boxes' ephemeral keys are fresh, which no assertion depends on). */
#include <check.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "field.h"
#include "session_internal.h"
#include "shamir.h"
#include "testutil.h"

/* ---- fixture ----------------------------------------------------------- */

typedef struct {
  uint32_t n, t;
  size_t count;
  uint8_t pk[MPC_MAX_N][32], sk[MPC_MAX_N][32];
  uint8_t ctx[32];
  fe *vals;                  /* count values */
  int64_t *ivals;            /* the same, as integers */
  mpc_client_dealt d;
  fe *truth;                 /* manual dealings: what each party was dealt, n x (count + 1) */
  fe *sh[MPC_MAX_N];         /* opened shares, count + 1 each (fe_alloc) */
  uint8_t salt[MPC_MAX_N][32];
  fe *rho;
  fe y[MPC_MAX_N];
  mpc_client_reveal rv[MPC_MAX_N];
  const mpc_client_reveal *rvp[MPC_MAX_N];
} fix;

static fe rand_fe(void) {
  for (;;) {
    fe v = (((fe)tu_rand() << 64) | tu_rand()) & FE_P;
    if (v != FE_P) return v;
  }
}

static fe rand_nonzero(void) {
  fe v;
  do v = rand_fe();
  while (!v);
  return v;
}

/* The edges of the signed 64-bit range first, then random integers. */
static int64_t value_i64(size_t k) {
  static const int64_t edge[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1, INT64_MAX - 1};
  if (k < sizeof edge / sizeof edge[0]) return edge[k];
  return (int64_t)tu_rand();
}

static fix *fix_new(uint32_t n, uint32_t t, size_t count) {
  fix *f = calloc(1, sizeof *f);
  ck_assert_ptr_nonnull(f);
  f->n = n;
  f->t = t;
  f->count = count;
  for (uint32_t i = 0; i < n; i++) {
    uint8_t seed[crypto_box_SEEDBYTES];
    tu_randbytes(seed, sizeof seed);
    ck_assert_int_eq(crypto_box_seed_keypair(f->pk[i], f->sk[i], seed), 0);
    sodium_memzero(seed, sizeof seed);
  }
  tu_randbytes(f->ctx, sizeof f->ctx);
  f->vals = malloc(count * sizeof(fe));
  f->ivals = malloc(count * sizeof(int64_t));
  f->rho = malloc(count * sizeof(fe));
  ck_assert(f->vals && f->ivals && f->rho);
  for (size_t k = 0; k < count; k++) f->vals[k] = fe_from_i64(f->ivals[k] = value_i64(k));
  for (uint32_t i = 0; i < n; i++) {
    f->sh[i] = fe_alloc(count + 1);
    ck_assert_ptr_nonnull(f->sh[i]);
  }
  return f;
}

static void fix_free(fix *f) {
  for (uint32_t i = 0; i < f->n; i++) fe_free(f->sh[i]);
  fe_free(f->truth);
  mpc_client_dealt_free(&f->d);
  free(f->vals);
  free(f->ivals);
  free(f->rho);
  free(f);
}

static void deal_honest(fix *f, const uint8_t *seed) {
  char err[200];
  mpc_client_dealt_free(&f->d);
  cx_err e = mpc_client_share(f->n, f->t, f->vals, f->count, (const uint8_t(*)[32])f->pk, f->ctx, seed, &f->d,
                              err, sizeof err);
  ck_assert_msg(e == CX_OK, "share: %s", err);
}

/* The test as the client: degree-t sharings of the values and of a random
 * mask, then delta[i * (count + 1) + k] added to party i's share of item k,
 * and each party's blob and commitment made from exactly what it was dealt
 * (so every blob opens: only the consistency check can find the cheat). */
static void deal_manual(fix *f, const fe *delta) {
  uint32_t n = f->n, t = f->t;
  size_t w = f->count + 1;
  mpc_shamir sh;
  ck_assert_int_eq(shamir_init(&sh, n, t), CX_OK);
  if (!f->truth) f->truth = fe_alloc((size_t)n * w);
  fe coef[MPC_MAX_N], col[MPC_MAX_N];
  for (size_t k = 0; k < w; k++) {
    for (uint32_t c = 0; c < t; c++) coef[c] = rand_fe();
    shamir_share(&sh, k < f->count ? f->vals[k] : rand_fe(), t, coef, col);
    for (uint32_t i = 0; i < n; i++)
      f->truth[i * w + k] = delta ? fe_add(col[i], delta[i * w + k]) : col[i];
  }
  shamir_free(&sh);
  mpc_client_dealt_free(&f->d);
  f->d.n = n;
  f->d.count = f->count;
  f->d.blob_len = mpc_client_blob_len(f->count);
  f->d.blobs = malloc(n * f->d.blob_len);
  f->d.commit = malloc(n * sizeof(cx_hash));
  ck_assert(f->d.blobs && f->d.commit);
  for (uint32_t i = 0; i < n; i++) {
    uint8_t salt[32];
    tu_randbytes(salt, sizeof salt);
    mpc_client_commit(f->ctx, i, salt, f->truth + i * w, f->count, &f->d.commit[i]);
    ck_assert_int_eq(mpc_client_seal(f->pk[i], f->ctx, salt, f->truth + i * w, f->count,
                                     f->d.blobs + i * f->d.blob_len),
                     CX_OK);
  }
}

static const uint8_t *blob_of(const fix *f, uint32_t i) { return f->d.blobs + i * f->d.blob_len; }

static cx_err open_one(fix *f, uint32_t i, const uint8_t *blob, size_t len, const uint8_t *sk,
                       const uint8_t *ctx, size_t count, uint32_t me, const cx_hash *c, char *err) {
  return mpc_client_open(blob, len, sk, ctx, count, me, c, f->sh[i], f->salt[i], err, 200);
}

/* Every party opens its blob (all must open), then the challenge, the y and
 * the reveals every party would make. */
static void open_all(fix *f) {
  char err[200];
  for (uint32_t i = 0; i < f->n; i++) {
    cx_err e =
        open_one(f, i, blob_of(f, i), f->d.blob_len, f->sk[i], f->ctx, f->count, i, &f->d.commit[i], err);
    ck_assert_msg(e == CX_OK, "party %u: %s", i, err);
  }
  mpc_client_challenge(f->ctx, f->n, f->d.commit, f->count, f->rho);
  for (uint32_t i = 0; i < f->n; i++) {
    f->y[i] = mpc_client_combine(f->rho, f->sh[i], f->count);
    memcpy(f->rv[i].salt, f->salt[i], 32);
    f->rv[i].shares = f->sh[i];
    f->rvp[i] = &f->rv[i];
  }
}

static uint64_t all_of(uint32_t n) { return ((uint64_t)1 << n) - 1; }

static void blame(const fix *f, const mpc_client_reveal *const *rv, mpc_client_result *res) {
  ck_assert_int_eq(mpc_client_blame(f->n, f->t, f->ctx, f->d.commit, f->count, f->y, all_of(f->n), rv, res),
                   CX_OK);
}

/* The two-step protocol: blame with no reveals; if reveals are asked for,
 * give the parties' reveals (rvp) and decide. */
static void blame_full(const fix *f, mpc_client_result *first, mpc_client_result *res) {
  blame(f, NULL, first);
  if (first->verdict != MPC_CLIENT_REVEAL) {
    *res = *first;
    return;
  }
  ck_assert_uint_eq(first->missing, first->reveal);
  blame(f, f->rvp, res);
}

static uint32_t t_of(uint32_t n) { return (n - 1) / 3; }

/* ---- dealing and opening ----------------------------------------------- */

START_TEST(test_roundtrip) {
  static const uint32_t ns[] = {4, 7};
  for (size_t a = 0; a < 2; a++) {
    uint32_t n = ns[a], t = t_of(n);
    fix *f = fix_new(n, t, 20);
    deal_honest(f, NULL);
    ck_assert_uint_eq(f->d.blob_len, 48 + 32 + 32 + 16 * 21);
    open_all(f);
    mpc_shamir sh;
    ck_assert_int_eq(shamir_init(&sh, n, t), CX_OK);
    fe *col[MPC_MAX_N], vals[21];
    for (uint32_t i = 0; i < n; i++) col[i] = f->sh[i];
    size_t bad;
    /* every item, the mask included, is one degree-t sharing */
    ck_assert_int_eq(shamir_check(&sh, t, (const fe *const *)col, 21, vals, &bad), 0);
    for (size_t k = 0; k < 20; k++) ck_assert(fe_to_i64(vals[k]) == f->ivals[k]);
    ck_assert(fe_to_i64(vals[0]) == INT64_MIN && fe_to_i64(vals[1]) == INT64_MAX && vals[2] == 0);
    /* any t + 1 parties reconstruct: the last t + 1 */
    fe lam[MPC_MAX_N];
    uint64_t last = all_of(n) & ~all_of(n - t - 1);
    ck_assert_int_eq(shamir_lagrange(&sh, last, t, 0, lam), CX_OK);
    for (size_t k = 0; k < 20; k++) {
      fe v = 0;
      for (uint32_t i = 0; i < n; i++) v = fe_add(v, fe_mul(lam[i], f->sh[i][k]));
      ck_assert(v == f->vals[k]);
    }
    /* a real degree-t sharing, not the value handed to everyone */
    ck_assert(f->sh[0][2] != 0 || f->sh[1][2] != 0);
    /* independent polynomials per item: with shared coefficients one party
     * would see x_k - x_l as the difference of its two shares */
    for (uint32_t i = 0; i < n; i++)
      for (size_t k = 0; k + 1 < 21; k++)
        ck_assert(fe_sub(f->sh[i][k], f->sh[i][k + 1]) != fe_sub(vals[k], vals[k + 1]));
    /* the honest dealing passes the check */
    mpc_client_result r;
    blame(f, NULL, &r);
    ck_assert_int_eq(r.verdict, MPC_CLIENT_OK);
    ck_assert_uint_eq(r.reveal, 0);
    ck_assert_int_eq(r.culprit, -1);
    shamir_free(&sh);
    fix_free(f);
  }
}
END_TEST

START_TEST(test_seeded_dealing) {
  fix *f = fix_new(4, 1, 6);
  uint8_t seed[32];
  tu_randbytes(seed, sizeof seed);
  deal_honest(f, seed);
  open_all(f);
  fe first[4][7];
  cx_hash c0[4];
  uint8_t blob0[4][256];
  ck_assert_uint_le(f->d.blob_len, 256);
  for (uint32_t i = 0; i < 4; i++) {
    memcpy(first[i], f->sh[i], sizeof first[i]);
    c0[i] = f->d.commit[i];
    memcpy(blob0[i], blob_of(f, i), f->d.blob_len);
  }
  /* the value of y at 0 is mask + sum rho_k x_k, the mask being the seed's
   * fe_prg nonce 0: the combination is masked by the client's random */
  fe mask;
  fe_prg(seed, 0, &mask, 1);
  fe want = mask;
  for (size_t k = 0; k < 6; k++) want = fe_add(want, fe_mul(f->rho[k], f->vals[k]));
  mpc_shamir sh;
  ck_assert_int_eq(shamir_init(&sh, 4, 1), CX_OK);
  const fe *col[4] = {&f->y[0], &f->y[1], &f->y[2], &f->y[3]};
  fe y0;
  size_t bad;
  ck_assert_int_eq(shamir_check(&sh, 1, col, 1, &y0, &bad), 0);
  ck_assert(y0 == want);
  shamir_free(&sh);
  /* same seed: same shares, salts and commitments; fresh ephemeral keys */
  deal_honest(f, seed);
  open_all(f);
  for (uint32_t i = 0; i < 4; i++) {
    ck_assert_mem_eq(first[i], f->sh[i], sizeof first[i]);
    ck_assert(hash_eq(&c0[i], &f->d.commit[i]));
    ck_assert(memcmp(blob0[i], blob_of(f, i), f->d.blob_len) != 0);
  }
  /* no seed: fresh everything */
  deal_honest(f, NULL);
  open_all(f);
  for (uint32_t i = 0; i < 4; i++) {
    ck_assert(!hash_eq(&c0[i], &f->d.commit[i]));
    ck_assert(memcmp(first[i], f->sh[i], sizeof first[i]) != 0);
  }
  fix_free(f);
}
END_TEST

/* The formats an SDK must reproduce, computed independently. */
START_TEST(test_formats) {
  fix *f = fix_new(4, 1, 3);
  deal_honest(f, NULL);
  for (uint32_t i = 0; i < 4; i++) {
    uint8_t plain[32 + 32 + 4 * 16];
    ck_assert_uint_eq(f->d.blob_len, sizeof plain + crypto_box_SEALBYTES);
    ck_assert_int_eq(crypto_box_seal_open(plain, blob_of(f, i), f->d.blob_len, f->pk[i], f->sk[i]), 0);
    ck_assert_mem_eq(plain, f->ctx, 32);
    /* commitment: tagged hash of label || context || i (u32 LE) || salt || shares */
    hash_ctx h;
    static const char label[] = "custos/mpc-client/commit/v1";
    uint8_t idx[4] = {(uint8_t)i, 0, 0, 0};
    hash_ctx_init(&h, MPC_CLIENT_TAG);
    hash_ctx_update(&h, label, strlen(label));
    hash_ctx_update(&h, f->ctx, 32);
    hash_ctx_update(&h, idx, 4);
    hash_ctx_update(&h, plain + 32, 32 + 4 * 16);
    cx_hash c;
    hash_ctx_final(&h, &c);
    ck_assert(hash_eq(&c, &f->d.commit[i]));
    sodium_memzero(plain, sizeof plain);
  }
  /* challenge: ChaCha20 keyed by the tagged hash of label || context ||
   * n (u32 LE) || count (u64 LE) || commitments */
  hash_ctx h;
  static const char label[] = "custos/mpc-client/challenge/v1";
  uint8_t nb[4] = {4, 0, 0, 0}, cb[8] = {3, 0, 0, 0, 0, 0, 0, 0};
  hash_ctx_init(&h, MPC_CLIENT_TAG);
  hash_ctx_update(&h, label, strlen(label));
  hash_ctx_update(&h, f->ctx, 32);
  hash_ctx_update(&h, nb, 4);
  hash_ctx_update(&h, cb, 8);
  hash_ctx_update(&h, f->d.commit, 4 * sizeof(cx_hash));
  cx_hash key;
  hash_ctx_final(&h, &key);
  fe want[3], rho[3];
  fe_prg(key.b, 0, want, 3);
  mpc_client_challenge(f->ctx, 4, f->d.commit, 3, rho);
  ck_assert_mem_eq(want, rho, sizeof rho);
  /* the challenge depends on every commitment, the context and the count */
  fe other[3];
  for (uint32_t i = 0; i < 4; i++) {
    cx_hash saved = f->d.commit[i];
    f->d.commit[i].b[31] ^= 1;
    mpc_client_challenge(f->ctx, 4, f->d.commit, 3, other);
    ck_assert(memcmp(other, rho, sizeof rho) != 0);
    f->d.commit[i] = saved;
  }
  f->ctx[0] ^= 1;
  mpc_client_challenge(f->ctx, 4, f->d.commit, 3, other);
  ck_assert(memcmp(other, rho, sizeof rho) != 0);
  f->ctx[0] ^= 1;
  mpc_client_challenge(f->ctx, 4, f->d.commit, 2, other);
  ck_assert(memcmp(other, rho, 2 * sizeof(fe)) != 0);
  /* combine = mask + sum rho_k x_k */
  fe s[4] = {5, 7, FE_P - 1, 11};
  fe r[3] = {2, 3, 4};
  ck_assert(mpc_client_combine(r, s, 3) == fe_add(11, fe_add(10, fe_add(21, fe_mul(4, FE_P - 1)))));
  fix_free(f);
}
END_TEST

START_TEST(test_open_errors) {
  fix *f = fix_new(4, 1, 5);
  deal_honest(f, NULL);
  char err[200];
  size_t L = f->d.blob_len;
  uint8_t *b = malloc(L + 16);
  ck_assert_ptr_nonnull(b);
  /* tampered blob, at the ephemeral key, the MAC and the ciphertext */
  size_t at[] = {0, 31, 32, 47, 48, 100, L - 1};
  for (size_t a = 0; a < sizeof at / sizeof at[0]; a++) {
    memcpy(b, blob_of(f, 0), L);
    b[at[a]] ^= (uint8_t)(1u << (tu_rand() % 8));
    ck_assert_int_eq(open_one(f, 0, b, L, f->sk[0], f->ctx, 5, 0, &f->d.commit[0], err), CX_E_CRYPTO);
    ck_assert(f->sh[0][0] == 0 && f->sh[0][5] == 0); /* wiped on failure */
  }
  /* wrong key: party 0's blob given to party 1 */
  ck_assert_int_eq(open_one(f, 1, blob_of(f, 0), L, f->sk[1], f->ctx, 5, 1, &f->d.commit[1], err),
                   CX_E_CRYPTO);
  /* wrong context: decrypts, but the client sealed it for another call */
  uint8_t ctx2[32];
  memcpy(ctx2, f->ctx, 32);
  ctx2[17] ^= 0x80;
  ck_assert_int_eq(open_one(f, 0, blob_of(f, 0), L, f->sk[0], ctx2, 5, 0, &f->d.commit[0], err),
                   CX_E_MPC_SESSION);
  /* wrong count: the length tells */
  ck_assert_int_eq(open_one(f, 0, blob_of(f, 0), L, f->sk[0], f->ctx, 4, 0, &f->d.commit[0], err),
                   CX_E_TRAILING);
  fe *big = fe_alloc(7); /* shares for count + 1 = 7 */
  uint8_t salt7[32];
  ck_assert_int_eq(mpc_client_open(blob_of(f, 0), L, f->sk[0], f->ctx, 6, 0, &f->d.commit[0], big, salt7, err,
                                   sizeof err),
                   CX_E_TRUNCATED);
  fe_free(big);
  memcpy(b, blob_of(f, 0), L);
  ck_assert_int_eq(open_one(f, 0, b, L + 16, f->sk[0], f->ctx, 5, 0, &f->d.commit[0], err), CX_E_TRAILING);
  ck_assert_int_eq(open_one(f, 0, b, L - 1, f->sk[0], f->ctx, 5, 0, &f->d.commit[0], err), CX_E_TRUNCATED);
  ck_assert_int_eq(open_one(f, 0, b, 0, f->sk[0], f->ctx, 5, 0, &f->d.commit[0], err), CX_E_TRUNCATED);
  ck_assert_int_eq(open_one(f, 0, b, L, f->sk[0], f->ctx, 0, 0, &f->d.commit[0], err), CX_E_INVALID_ARG);
  /* commitment mismatch: another party's commitment, a flipped bit, the
   * right blob read as another party's */
  ck_assert_int_eq(open_one(f, 0, blob_of(f, 0), L, f->sk[0], f->ctx, 5, 0, &f->d.commit[1], err),
                   CX_E_MPC_CHECK_FAILED);
  cx_hash c = f->d.commit[0];
  c.b[tu_rand() % 32] ^= 4;
  ck_assert_int_eq(open_one(f, 0, blob_of(f, 0), L, f->sk[0], f->ctx, 5, 0, &c, err), CX_E_MPC_CHECK_FAILED);
  ck_assert_int_eq(open_one(f, 0, blob_of(f, 0), L, f->sk[0], f->ctx, 5, 1, &f->d.commit[0], err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert(f->sh[0][3] == 0);
  /* a client whose commitment is not of what it sealed */
  fe s[6] = {1, 2, 3, 4, 5, 6}, s2[6] = {1, 2, 3, 4, 5, 7};
  uint8_t salt[32] = {9};
  ck_assert_int_eq(mpc_client_seal(f->pk[2], f->ctx, salt, s, 5, b), CX_OK);
  mpc_client_commit(f->ctx, 2, salt, s2, 5, &c);
  ck_assert_int_eq(open_one(f, 2, b, L, f->sk[2], f->ctx, 5, 2, &c, err), CX_E_MPC_CHECK_FAILED);
  mpc_client_commit(f->ctx, 2, salt, s, 5, &c);
  ck_assert_int_eq(open_one(f, 2, b, L, f->sk[2], f->ctx, 5, 2, &c, err), CX_OK);
  ck_assert(f->sh[2][5] == 6 && f->salt[2][0] == 9);
  /* non-canonical share: the client seals p itself (mpc_client_seal would
   * encode whatever it is given; the party refuses it) */
  for (size_t k = 0; k < 6; k++) {
    memcpy(s2, s, sizeof s);
    s2[k] = FE_P + (tu_rand() % 2);
    ck_assert_int_eq(mpc_client_seal(f->pk[2], f->ctx, salt, s2, 5, b), CX_OK);
    ck_assert_int_eq(open_one(f, 2, b, L, f->sk[2], f->ctx, 5, 2, &c, err), CX_E_NONCANONICAL);
  }
  /* a healthy open still works after all that */
  ck_assert_int_eq(open_one(f, 3, blob_of(f, 3), L, f->sk[3], f->ctx, 5, 3, &f->d.commit[3], err), CX_OK);
  free(b);
  fix_free(f);
}
END_TEST

static cx_err share_rc(fix *f, uint32_t n, uint32_t t, size_t count, mpc_client_dealt *d, char *err) {
  return mpc_client_share(n, t, f->vals, count, (const uint8_t(*)[32])f->pk, f->ctx, NULL, d, err, 200);
}

START_TEST(test_share_errors) {
  fix *f = fix_new(4, 1, 3);
  char err[200] = "";
  mpc_client_dealt d;
  ck_assert_int_eq(share_rc(f, 3, 1, 3, &d, err), CX_E_INVALID_ARG);
  ck_assert_ptr_null(d.blobs);
  ck_assert_int_eq(share_rc(f, 0, 0, 3, &d, err), CX_E_INVALID_ARG);
  ck_assert_int_eq(share_rc(f, 65, 0, 3, &d, err), CX_E_INVALID_ARG);
  ck_assert_int_eq(share_rc(f, 4, 1, 0, &d, err), CX_E_INVALID_ARG);
  ck_assert_int_eq(share_rc(f, 4, 1, MPC_CLIENT_MAX_VALUES + 1, &d, err), CX_E_INVALID_ARG);
  ck_assert_uint_eq(mpc_client_blob_len(0), 0);
  ck_assert_uint_eq(mpc_client_blob_len(MPC_CLIENT_MAX_VALUES + 1), 0);
  ck_assert_uint_ne(mpc_client_blob_len(MPC_CLIENT_MAX_VALUES), 0);
  fe saved = f->vals[1];
  f->vals[1] = FE_P;
  ck_assert_int_eq(share_rc(f, 4, 1, 3, &d, err), CX_E_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(err, "value 1"));
  f->vals[1] = saved;
  /* a low-order enc_key (the all-zero point) */
  memset(f->pk[2], 0, 32);
  ck_assert_int_eq(share_rc(f, 4, 1, 3, &d, err), CX_E_BAD_KEY);
  ck_assert_ptr_nonnull(strstr(err, "party 2"));
  ck_assert_ptr_null(d.blobs);
  ck_assert_ptr_null(d.commit);
  mpc_client_dealt_free(&d);
  mpc_client_dealt_free(NULL);
  fix_free(f);
}
END_TEST

/* ---- the check and blame ----------------------------------------------- */

START_TEST(test_honest_client_passes) {
  static const uint32_t ns[] = {4, 5, 7, 10};
  static const size_t counts[] = {1, 2, 9, 40};
  for (size_t a = 0; a < 4; a++)
    for (size_t c = 0; c < 4; c++) {
      uint32_t n = ns[a];
      fix *f = fix_new(n, t_of(n), counts[c]);
      if (c % 2) deal_honest(f, NULL);
      else deal_manual(f, NULL);
      open_all(f);
      mpc_client_result r;
      blame(f, f->rvp, &r); /* reveals offered but not asked for: still OK */
      ck_assert_msg(r.verdict == MPC_CLIENT_OK, "n=%u count=%zu: %s", n, counts[c], r.reason);
      ck_assert_uint_eq(r.reveal | r.missing | r.members, 0);
      fix_free(f);
    }
}
END_TEST

/* One off-polynomial share, at every party and every item (the mask too):
 * caught, the one party reveals, the client is blamed and nobody else. */
START_TEST(test_client_one_bad_share) {
  static const uint32_t ns[] = {4, 7};
  for (size_t a = 0; a < 2; a++) {
    uint32_t n = ns[a];
    size_t count = 3, w = count + 1;
    fix *f = fix_new(n, t_of(n), count);
    fe *delta = calloc((size_t)n * w, sizeof(fe));
    for (uint32_t j = 0; j < n; j++)
      for (size_t k = 0; k < w; k++) {
        memset(delta, 0, (size_t)n * w * sizeof(fe));
        delta[j * w + k] = rand_nonzero();
        deal_manual(f, delta);
        open_all(f); /* the blobs match the commitments: only the check finds it */
        mpc_client_result first, r;
        blame_full(f, &first, &r);
        ck_assert_msg(first.verdict == MPC_CLIENT_REVEAL, "n=%u party %u item %zu: %s", n, j, k,
                      first.reason);
        ck_assert_uint_eq(first.reveal, (uint64_t)1 << j);
        ck_assert_int_eq(first.culprit, -1);
        ck_assert_msg(r.verdict == MPC_CLIENT_BAD_CLIENT, "n=%u party %u item %zu: %s", n, j, k, r.reason);
        ck_assert_uint_eq(r.members, 0);
        ck_assert_uint_eq(r.missing, 0);
        ck_assert_int_eq(r.culprit, -1);
        ck_assert_uint_eq(r.reveal, (uint64_t)1 << j);
      }
    free(delta);
    fix_free(f);
  }
}
END_TEST

/* Off shares at a random set of parties (1 to n of them, random items):
 * always the client, never a member; with at most t, exactly that set
 * reveals; with more, whatever E is, the verdict is the client's. */
START_TEST(test_client_many_bad_shares) {
  static const uint32_t ns[] = {4, 7, 10};
  for (size_t a = 0; a < 3; a++) {
    uint32_t n = ns[a], t = t_of(n);
    size_t count = 4, w = count + 1;
    fix *f = fix_new(n, t, count);
    fe *delta = calloc((size_t)n * w, sizeof(fe));
    for (int trial = 0; trial < 40; trial++) {
      memset(delta, 0, (size_t)n * w * sizeof(fe));
      uint64_t S = 0;
      uint32_t size = 1 + (uint32_t)(tu_rand() % n);
      while ((uint32_t)__builtin_popcountll(S) < size) S |= (uint64_t)1 << (tu_rand() % n);
      for (uint32_t j = 0; j < n; j++)
        if (S >> j & 1) delta[j * w + tu_rand() % w] = rand_nonzero();
      deal_manual(f, delta);
      open_all(f);
      mpc_client_result first, r;
      blame_full(f, &first, &r);
      ck_assert_msg(r.verdict == MPC_CLIENT_BAD_CLIENT, "n=%u |S|=%u: %s", n, size, r.reason);
      ck_assert_uint_eq(r.members, 0);
      ck_assert_int_eq(r.culprit, -1);
      if (size <= t) ck_assert_uint_eq(r.reveal, S);
      else ck_assert_uint_ne(r.reveal, 0);
    }
    free(delta);
    fix_free(f);
  }
}
END_TEST

/* The ways one member can lie, with an honest client. */
typedef enum { LIE_Y, LIE_Y_SHARES, LIE_Y_SALT, LIE_Y_NONCANON, LIE_SHARES_TO_Y } lie;

static void apply_lie(fix *f, uint32_t j, lie how, fe *fake) {
  fe d = rand_nonzero();
  size_t k = tu_rand() % (f->count + 1);
  memcpy(fake, f->sh[j], (f->count + 1) * sizeof(fe));
  f->rv[j].shares = fake;
  f->y[j] = fe_add(f->y[j], d);
  switch (how) {
  case LIE_Y: break;                                      /* honest reveal, lying y */
  case LIE_Y_SHARES: fake[k] = fe_add(fake[k], 1); break; /* both lie, independently */
  case LIE_Y_SALT: f->rv[j].salt[tu_rand() % 32] ^= 1; break;
  case LIE_Y_NONCANON: fake[k] = FE_P; break;
  case LIE_SHARES_TO_Y:
    /* shares forged to explain the lying y: the mask share moved by d,
     * so combine(fake) == y; only the commitment shows the lie */
    fake[f->count] = fe_add(fake[f->count], d);
    break;
  }
}

START_TEST(test_member_lies) {
  static const uint32_t ns[] = {4, 7};
  for (size_t a = 0; a < 2; a++) {
    uint32_t n = ns[a];
    fix *f = fix_new(n, t_of(n), 3);
    fe fake[4];
    for (uint32_t j = 0; j < n; j++)
      for (int how = LIE_Y; how <= LIE_SHARES_TO_Y; how++) {
        deal_honest(f, NULL);
        open_all(f);
        apply_lie(f, j, (lie)how, fake);
        if (how == LIE_SHARES_TO_Y) ck_assert(mpc_client_combine(f->rho, fake, 3) == f->y[j]);
        mpc_client_result first, r;
        blame_full(f, &first, &r);
        ck_assert_int_eq(first.verdict, MPC_CLIENT_REVEAL);
        ck_assert_uint_eq(first.reveal, (uint64_t)1 << j);
        ck_assert_msg(r.verdict == MPC_CLIENT_BAD_MEMBER, "n=%u party %u lie %d: %s", n, j, how, r.reason);
        ck_assert_int_eq(r.culprit, (int32_t)j);
        ck_assert_uint_eq(r.members, (uint64_t)1 << j);
        if (how == LIE_Y_NONCANON) ck_assert_ptr_nonnull(strstr(r.reason, "non-canonical"));
        /* a liar that does not reveal is not named, nor is the client */
        f->rvp[j] = NULL;
        blame(f, f->rvp, &r);
        ck_assert_int_eq(r.verdict, MPC_CLIENT_REVEAL);
        ck_assert_uint_eq(r.missing, (uint64_t)1 << j);
        ck_assert_int_eq(r.culprit, -1);
      }
    fix_free(f);
  }
}
END_TEST

/* Up to t members lie at once: each is named, nobody else, never the
 * client; reveals of parties outside E are not even read. */
START_TEST(test_members_lie_together) {
  static const uint32_t ns[] = {4, 7, 10};
  for (size_t a = 0; a < 3; a++) {
    uint32_t n = ns[a], t = t_of(n);
    fix *f = fix_new(n, t, 2);
    fe fake[MPC_MAX_N][3] = {{0}};
    for (int trial = 0; trial < 30; trial++) {
      deal_honest(f, NULL);
      open_all(f);
      uint64_t L = 0;
      uint32_t size = 1 + (uint32_t)(tu_rand() % t);
      while ((uint32_t)__builtin_popcountll(L) < size) L |= (uint64_t)1 << (tu_rand() % n);
      for (uint32_t j = 0; j < n; j++)
        if (L >> j & 1) apply_lie(f, j, (lie)(tu_rand() % 5), fake[j]);
      mpc_client_reveal junk = {{0}, fake[0]};
      for (uint32_t j = 0; j < n; j++)
        if (!(L >> j & 1)) f->rvp[j] = &junk; /* outside E: must be ignored */
      mpc_client_result first, r;
      blame_full(f, &first, &r);
      ck_assert_uint_eq(first.reveal, L);
      ck_assert_msg(r.verdict == MPC_CLIENT_BAD_MEMBER, "n=%u: %s", n, r.reason);
      ck_assert_uint_eq(r.members, L);
      ck_assert_int_eq(r.culprit, __builtin_ctzll(L));
    }
    fix_free(f);
  }
}
END_TEST

/* A cheating client and a lying member in one dealing. */
START_TEST(test_client_and_member) {
  uint32_t n = 7, t = 2;
  size_t count = 3, w = count + 1;
  fix *f = fix_new(n, t, count);
  fe *delta = calloc(n * w, sizeof(fe));
  fe fake[4];
  for (int trial = 0; trial < 30; trial++) {
    uint32_t h = (uint32_t)(tu_rand() % n), c;
    do c = (uint32_t)(tu_rand() % n);
    while (c == h);
    /* the client deals honest party h a bad share; member c lies about y:
     * c is named, h never */
    memset(delta, 0, n * w * sizeof(fe));
    delta[h * w + tu_rand() % w] = rand_nonzero();
    deal_manual(f, delta);
    open_all(f);
    apply_lie(f, c, (lie)(tu_rand() % 5), fake);
    mpc_client_result first, r;
    blame_full(f, &first, &r);
    ck_assert_uint_eq(first.reveal, ((uint64_t)1 << h) | ((uint64_t)1 << c));
    ck_assert_int_eq(r.verdict, MPC_CLIENT_BAD_MEMBER);
    ck_assert_uint_eq(r.members, (uint64_t)1 << c);
    /* the client colludes with member c: c is dealt a bad share and sends
     * the y an honest share would give. Accepted — and the honest parties'
     * shares are consistent, which is all the check promises. */
    memset(delta, 0, n * w * sizeof(fe));
    delta[c * w + tu_rand() % w] = rand_nonzero();
    deal_manual(f, delta);
    open_all(f);
    mpc_shamir sh;
    ck_assert_int_eq(shamir_init(&sh, n, t), CX_OK);
    fe pts[MPC_MAX_N], sec;
    uint64_t em;
    for (uint32_t i = 0; i < n; i++) pts[i] = f->y[i];
    ck_assert_int_eq(shamir_bw_decode(&sh, pts, all_of(n) & ~((uint64_t)1 << c), t, 0, &sec, &em), 0);
    fe lam[MPC_MAX_N];
    ck_assert_int_eq(shamir_lagrange(&sh, all_of(n) & ~((uint64_t)1 << c), t, (fe)c + 1, lam), CX_OK);
    fe cover = 0;
    for (uint32_t i = 0; i < n; i++) cover = fe_add(cover, fe_mul(lam[i], f->y[i]));
    ck_assert(cover != f->y[c]); /* its true y is off */
    f->y[c] = cover;
    blame(f, NULL, &r);
    ck_assert_int_eq(r.verdict, MPC_CLIENT_OK);
    for (size_t k = 0; k < w; k++) {
      for (uint32_t i = 0; i < n; i++) pts[i] = f->sh[i][k];
      ck_assert_int_eq(shamir_bw_decode(&sh, pts, all_of(n) & ~((uint64_t)1 << c), t, 0, &sec, &em), 0);
      if (k < count) ck_assert(sec == f->vals[k]);
    }
    shamir_free(&sh);
  }
  free(delta);
  fix_free(f);
}
END_TEST

START_TEST(test_missing_and_args) {
  fix *f = fix_new(4, 1, 2);
  size_t w = 3;
  fe delta[12] = {0};
  delta[1 * w + 0] = 5;
  deal_manual(f, delta);
  open_all(f);
  mpc_client_result r;
  /* a missing y: no verdict, no reveal asked, even though the rest is
   * inconsistent (party 1's share is off) */
  ck_assert_int_eq(mpc_client_blame(4, 1, f->ctx, f->d.commit, 2, f->y, 0xb, f->rvp, &r), CX_OK);
  ck_assert_int_eq(r.verdict, MPC_CLIENT_MISSING);
  ck_assert_uint_eq(r.missing, 0x4);
  ck_assert_uint_eq(r.reveal, 0);
  ck_assert_int_eq(r.culprit, -1);
  ck_assert_int_eq(mpc_client_blame(4, 1, f->ctx, f->d.commit, 2, f->y, 0xf, f->rvp, &r), CX_OK);
  ck_assert_int_eq(r.verdict, MPC_CLIENT_BAD_CLIENT);
  /* bits above n in y_present are ignored */
  ck_assert_int_eq(mpc_client_blame(4, 1, f->ctx, f->d.commit, 2, f->y, ~(uint64_t)0, NULL, &r), CX_OK);
  ck_assert_int_eq(r.verdict, MPC_CLIENT_REVEAL);
  ck_assert_uint_eq(r.reveal, 0x2);
  /* a reveal with the wrong count of shares is not possible through the
   * API; a reveal struct with no shares counts as missing */
  mpc_client_reveal empty = {{0}, NULL};
  f->rvp[1] = &empty;
  ck_assert_int_eq(mpc_client_blame(4, 1, f->ctx, f->d.commit, 2, f->y, 0xf, f->rvp, &r), CX_OK);
  ck_assert_int_eq(r.verdict, MPC_CLIENT_REVEAL);
  ck_assert_int_eq(mpc_client_blame(3, 1, f->ctx, f->d.commit, 2, f->y, 0xf, NULL, &r), CX_E_INVALID_ARG);
  ck_assert_int_eq(mpc_client_blame(4, 1, f->ctx, f->d.commit, 0, f->y, 0xf, NULL, &r), CX_E_INVALID_ARG);
  size_t big = MPC_CLIENT_MAX_VALUES + 1;
  ck_assert_int_eq(mpc_client_blame(4, 1, f->ctx, f->d.commit, big, f->y, 0xf, NULL, &r), CX_E_INVALID_ARG);
  fix_free(f);
}
END_TEST

/* The largest dealing a transaction could carry, and more: sizes, and the
 * check at MPC_CLIENT_MAX_VALUES. */
START_TEST(test_max_count) {
  fix *f = fix_new(4, 1, MPC_CLIENT_MAX_VALUES);
  deal_honest(f, NULL);
  ck_assert_uint_eq(f->d.blob_len, 48 + 64 + 16 * (MPC_CLIENT_MAX_VALUES + 1));
  open_all(f);
  mpc_client_result r;
  blame(f, NULL, &r);
  ck_assert_int_eq(r.verdict, MPC_CLIENT_OK);
  f->sh[3][MPC_CLIENT_MAX_VALUES - 1] = fe_add(f->sh[3][MPC_CLIENT_MAX_VALUES - 1], 1);
  f->y[3] = mpc_client_combine(f->rho, f->sh[3], f->count); /* an honest y of a bad share */
  blame(f, NULL, &r);
  ck_assert_int_eq(r.verdict, MPC_CLIENT_REVEAL);
  ck_assert_uint_eq(r.reveal, 0x8);
  fix_free(f);
}
END_TEST

static Suite *mpc_client_suite(void) {
  Suite *s = suite_create("mpc_client");
  TCase *tc = tcase_create("client");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_roundtrip);
  tcase_add_test(tc, test_seeded_dealing);
  tcase_add_test(tc, test_formats);
  tcase_add_test(tc, test_open_errors);
  tcase_add_test(tc, test_share_errors);
  tcase_add_test(tc, test_honest_client_passes);
  tcase_add_test(tc, test_client_one_bad_share);
  tcase_add_test(tc, test_client_many_bad_shares);
  tcase_add_test(tc, test_member_lies);
  tcase_add_test(tc, test_members_lie_together);
  tcase_add_test(tc, test_client_and_member);
  tcase_add_test(tc, test_missing_and_args);
  tcase_add_test(tc, test_max_count);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  if (sodium_init() < 0) return 1;
  return tu_run(mpc_client_suite());
}
