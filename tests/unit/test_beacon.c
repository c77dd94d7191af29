/* Unit tests for mpc/threshold/beacon.h: the CKS threshold coin with DLEQ
 * proofs, on keys from an in-process DKG run (dkg.h, as test_dkg.c runs it).
 * Agreement of every t-subset, refusal below t, bad shares named, values per
 * coin distinct and balanced, records and encodings. Randomness from
 * tu_randbytes (replay with CUSTOS_SEED). With CUSTOS_BEACON_CORPUS=<dir>
 * the encodings test writes fuzz seeds (tests/fuzz/corpus/fuzz_beacon_msg). */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beacon.h"
#include "dkg.h"
#include "frost.h"
#include "testutil.h"

#define MAXP 8

/* L, the group order, little-endian (a scalar encoding that is not canonical). */
static const uint8_t L_LE[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                 0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                 0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

/* Keys of an honest DKG run: public result and the n signing shares. */
typedef struct {
  uint16_t n, t;
  dkg_result res;
  frost_scalar *sk; /* sodium_malloc'd, n */
} keys;

static void keys_make(keys *k, uint16_t n, uint16_t t) {
  char err[256];
  uint8_t ctx[DKG_CONTEXT_LEN], seed[32];
  dkg *p[MAXP];
  dkg_round1_msg *r1 = malloc(MAXP * sizeof *r1);
  dkg_share *sh = sodium_allocarray(n, sizeof *sh);
  ck_assert_ptr_nonnull(r1);
  ck_assert_ptr_nonnull(sh);
  memset(k, 0, sizeof *k);
  k->n = n;
  k->t = t;
  k->sk = sodium_allocarray(n, sizeof *k->sk);
  ck_assert_ptr_nonnull(k->sk);
  tu_randbytes(ctx, sizeof ctx);
  for (uint16_t i = 1; i <= n; i++) {
    tu_randbytes(seed, sizeof seed);
    ck_assert_int_eq(dkg_new(n, t, i, ctx, seed, &p[i - 1], err, sizeof err), CX_OK);
    ck_assert_int_eq(dkg_round1(p[i - 1], &r1[i - 1]), CX_OK);
  }
  for (uint16_t j = 1; j <= n; j++)
    for (uint16_t i = 1; i <= n; i++)
      ck_assert_int_eq(dkg_recv_round1(p[j - 1], &r1[i - 1], err, sizeof err), CX_OK);
  for (uint16_t i = 1; i <= n; i++) {
    ck_assert_int_eq(dkg_round2(p[i - 1], sh, err, sizeof err), CX_OK);
    for (uint16_t j = 1; j <= n; j++) {
      if (j == i) continue;
      int complained = -1;
      dkg_complaint c;
      ck_assert_int_eq(dkg_recv_share(p[j - 1], &sh[j - 1], &c, &complained, err, sizeof err),
                       CX_OK);
      ck_assert_int_eq(complained, 0);
    }
  }
  for (uint16_t j = 1; j <= n; j++) {
    dkg_result res;
    ck_assert_int_eq(dkg_finish(p[j - 1], &res, &k->sk[j - 1], err, sizeof err), CX_OK);
    if (j == 1) k->res = res;
    ck_assert(memcmp(res.pk_shares, k->res.pk_shares, n * sizeof res.pk_shares[0]) == 0);
    dkg_free(p[j - 1]);
  }
  sodium_free(sh);
  free(r1);
}

static void keys_free(keys *k) { sodium_free(k->sk); }

static void make_all(const keys *k, const uint8_t *coin, size_t clen, beacon_share *out) {
  char err[256];
  for (uint16_t i = 1; i <= k->n; i++) {
    ck_assert_int_eq(beacon_share_make(coin, clen, i, &k->sk[i - 1], &out[i - 1], err, sizeof err),
                     CX_OK);
    ck_assert_int_eq(
        beacon_share_verify(coin, clen, i, &k->res.pk_shares[i - 1], &out[i - 1], err, sizeof err),
        CX_OK);
  }
}

/* Every t-subset and the full set (robust combine) give one value; the
 * record verifies and survives its encoding. */
static void subsets_agree(uint16_t n, uint16_t t) {
  keys k;
  keys_make(&k, n, t);
  char err[256];
  uint8_t chain[32], coin[BEACON_COIN_HEIGHT_LEN];
  tu_randbytes(chain, sizeof chain);
  beacon_coin_name(chain, 1000 + n, coin);
  beacon_share all[MAXP], sub[MAXP];
  make_all(&k, coin, sizeof coin, all);
  uint8_t ref[BEACON_VALUE_LEN], v[BEACON_VALUE_LEN];
  uint16_t culprits[MAXP];
  size_t nc = 99;
  beacon_record *rec = malloc(sizeof *rec), *back = malloc(sizeof *back);
  ck_assert_ptr_nonnull(rec);
  ck_assert_ptr_nonnull(back);
  ck_assert_int_eq(beacon_combine_checked(coin, sizeof coin, t, n, k.res.pk_shares, all, n, ref,
                                          rec, culprits, &nc, err, sizeof err),
                   CX_OK);
  ck_assert_uint_eq(nc, 0);
  ck_assert_uint_eq(rec->nshares, t);
  int subsets = 0;
  for (unsigned mask = 1; mask < (1u << n); mask++) {
    if (__builtin_popcount(mask) != t) continue;
    size_t m = 0;
    /* Descending order too: the combine must not depend on it. */
    for (int i = n; i >= 1; i--)
      if (mask & (1u << (i - 1))) sub[m++] = all[i - 1];
    ck_assert_int_eq(beacon_combine(coin, sizeof coin, t, sub, m, v, NULL, err, sizeof err), CX_OK);
    ck_assert_msg(memcmp(v, ref, sizeof v) == 0, "subset 0x%x gives another value", mask);
    subsets++;
  }
  ck_assert_int_gt(subsets, n - 1);
  /* Fresh shares (new proof nonces) give the same value. */
  beacon_share again[MAXP];
  make_all(&k, coin, sizeof coin, again);
  ck_assert(memcmp(again[0].c.b, all[0].c.b, 32) != 0);
  ck_assert(memcmp(again[0].sigma.b, all[0].sigma.b, 32) == 0);
  ck_assert_int_eq(
      beacon_combine(coin, sizeof coin, t, again + (n - t), t, v, NULL, err, sizeof err), CX_OK);
  ck_assert(memcmp(v, ref, sizeof v) == 0);
  /* The record. */
  uint16_t culprit = 99;
  ck_assert_int_eq(
      beacon_record_verify(coin, sizeof coin, t, n, k.res.pk_shares, rec, &culprit, err, sizeof err),
      CX_OK);
  uint8_t *buf = malloc(BEACON_RECORD_MAX_LEN);
  ck_assert_ptr_nonnull(buf);
  size_t len = beacon_record_encode(rec, buf);
  ck_assert_uint_eq(len, BEACON_RECORD_LEN(sizeof coin, t));
  ck_assert_int_eq(beacon_record_decode(buf, len, back, err, sizeof err), CX_OK);
  ck_assert(memcmp(back, rec, sizeof *rec) == 0);
  free(buf);
  free(back);
  free(rec);
  keys_free(&k);
}

START_TEST(subsets_agree_n4_t2) { subsets_agree(4, 2); }
END_TEST
START_TEST(subsets_agree_n4_t3) { subsets_agree(4, 3); }
END_TEST
START_TEST(subsets_agree_n7_t3) { subsets_agree(7, 3); }
END_TEST
START_TEST(subsets_agree_n7_t5) { subsets_agree(7, 5); }
END_TEST

/* Fewer than t shares are refused; and interpolating t - 1 of them (as if
 * the threshold were t - 1) does not give the value. */
START_TEST(fewer_than_t) {
  keys k;
  keys_make(&k, 7, 3);
  char err[256];
  const uint8_t coin[] = "height 7";
  beacon_share all[MAXP];
  make_all(&k, coin, sizeof coin, all);
  uint8_t ref[BEACON_VALUE_LEN], v[BEACON_VALUE_LEN];
  uint16_t culprits[MAXP];
  size_t nc;
  ck_assert_int_eq(beacon_combine(coin, sizeof coin, 3, all, 3, ref, NULL, err, sizeof err), CX_OK);
  ck_assert_int_eq(beacon_combine(coin, sizeof coin, 3, all, 2, v, NULL, err, sizeof err),
                   CX_E_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(err, "needed"));
  ck_assert_int_eq(beacon_combine_checked(coin, sizeof coin, 3, 7, k.res.pk_shares, all + 4, 2, v,
                                          NULL, culprits, &nc, err, sizeof err),
                   CX_E_INVALID_ARG);
  for (int a = 0; a < 7; a++)
    for (int b = a + 1; b < 7; b++) {
      beacon_share two[2] = {all[a], all[b]};
      ck_assert_int_eq(beacon_combine(coin, sizeof coin, 2, two, 2, v, NULL, err, sizeof err),
                       CX_OK);
      ck_assert(memcmp(v, ref, sizeof v) != 0);
    }
  /* Repeated shares do not count twice. */
  beacon_share dup[3] = {all[0], all[1], all[1]};
  ck_assert_int_eq(beacon_combine(coin, sizeof coin, 3, dup, 3, v, NULL, err, sizeof err),
                   CX_E_INVALID_ARG);
  ck_assert_int_eq(beacon_combine_checked(coin, sizeof coin, 3, 7, k.res.pk_shares, dup, 3, v, NULL,
                                          culprits, &nc, err, sizeof err),
                   CX_E_INVALID_ARG);
  keys_free(&k);
}
END_TEST

/* With a dealer's known secret s, sigma is s * H_C: the interpolation is
 * the right one, not merely a consistent one. */
START_TEST(sigma_is_secret_times_base) {
  char err[256];
  frost_scalar secret, shares[5];
  frost_element Y, pk[5], H, want, sigma;
  crypto_core_ristretto255_scalar_random(secret.b);
  ck_assert_int_eq(frost_dealer_keygen(&secret, NULL, 5, 3, shares, &Y, NULL, err, sizeof err),
                   CX_OK);
  const uint8_t coin[] = {1, 2, 3};
  ck_assert_int_eq(beacon_base(coin, sizeof coin, &H), CX_OK);
  ck_assert_int_eq(crypto_scalarmult_ristretto255(want.b, secret.b, H.b), 0);
  beacon_share sh[5];
  for (uint16_t i = 1; i <= 5; i++) {
    ck_assert_int_eq(frost_public_share(&shares[i - 1], &pk[i - 1]), CX_OK);
    ck_assert_int_eq(beacon_share_make(coin, sizeof coin, i, &shares[i - 1], &sh[i - 1], err,
                                       sizeof err),
                     CX_OK);
  }
  uint8_t v[BEACON_VALUE_LEN];
  ck_assert_int_eq(beacon_combine(coin, sizeof coin, 3, sh + 2, 3, v, &sigma, err, sizeof err),
                   CX_OK);
  ck_assert(memcmp(sigma.b, want.b, 32) == 0);
  ck_assert_int_eq(beacon_base(coin, 0, &H), CX_E_INVALID_ARG);
  sodium_memzero(shares, sizeof shares);
  sodium_memzero(&secret, sizeof secret);
}
END_TEST

static void expect_refused(const uint8_t *coin, size_t clen, uint16_t id, const frost_element *Y,
                           const beacon_share *sh, cx_err want) {
  char err[256] = "", who[32];
  ck_assert_int_eq(beacon_share_verify(coin, clen, id, Y, sh, err, sizeof err), want);
  snprintf(who, sizeof who, "party %u", id);
  ck_assert_msg(strstr(err, who) != NULL, "sentence does not name %s: %s", who, err);
}

/* A wrong sigma, a proof for another coin, another party's proof, and
 * altered proof scalars are all refused, naming the sender. */
START_TEST(bad_shares_named) {
  keys k;
  keys_make(&k, 4, 2);
  const uint8_t coin[] = "coin A", other[] = "coin B";
  const frost_element *pk = k.res.pk_shares;
  beacon_share all[MAXP], bad;
  make_all(&k, coin, sizeof coin, all);
  /* Wrong sigma: plus the generator. */
  frost_scalar one = {{1}};
  frost_element g;
  ck_assert_int_eq(crypto_scalarmult_ristretto255_base(g.b, one.b), 0);
  bad = all[1];
  ck_assert_int_eq(crypto_core_ristretto255_add(bad.sigma.b, bad.sigma.b, g.b), 0);
  expect_refused(coin, sizeof coin, 2, &pk[1], &bad, CX_E_MPC_CHECK_FAILED);
  /* A correct share of another coin. */
  char err[256];
  ck_assert_int_eq(beacon_share_make(other, sizeof other, 3, &k.sk[2], &bad, err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(beacon_share_verify(other, sizeof other, 3, &pk[2], &bad, err, sizeof err),
                   CX_OK);
  expect_refused(coin, sizeof coin, 3, &pk[2], &bad, CX_E_MPC_CHECK_FAILED);
  /* Party 4 replays party 1's share under its own id. */
  bad = all[0];
  bad.id = 4;
  expect_refused(coin, sizeof coin, 4, &pk[3], &bad, CX_E_MPC_CHECK_FAILED);
  /* Party 1's share checked against party 4's key, keeping its own id. */
  expect_refused(coin, sizeof coin, 4, &pk[3], &all[0], CX_E_MPC_SENDER);
  /* sigma and the proof from party 2 with party 1's public key. */
  bad = all[1];
  bad.id = 1;
  expect_refused(coin, sizeof coin, 1, &pk[0], &bad, CX_E_MPC_CHECK_FAILED);
  /* Altered c or z. */
  bad = all[2];
  crypto_core_ristretto255_scalar_add(bad.z.b, bad.z.b, one.b);
  expect_refused(coin, sizeof coin, 3, &pk[2], &bad, CX_E_MPC_CHECK_FAILED);
  bad = all[2];
  crypto_core_ristretto255_scalar_add(bad.c.b, bad.c.b, one.b);
  expect_refused(coin, sizeof coin, 3, &pk[2], &bad, CX_E_MPC_CHECK_FAILED);
  /* Malformed pieces. */
  bad = all[2];
  memcpy(bad.z.b, L_LE, 32);
  expect_refused(coin, sizeof coin, 3, &pk[2], &bad, CX_E_NONCANONICAL);
  bad = all[2];
  memset(bad.sigma.b, 0, 32);
  expect_refused(coin, sizeof coin, 3, &pk[2], &bad, CX_E_BAD_KEY);
  frost_element zero = {{0}};
  expect_refused(coin, sizeof coin, 3, &zero, &all[2], CX_E_BAD_KEY);
  keys_free(&k);
}
END_TEST

/* t + 1 shares with one bad: detected, named, and the good t still give the
 * value. Two bad among t + 1: refused, both named. */
START_TEST(bad_among_t_plus_one) {
  keys k;
  keys_make(&k, 7, 3);
  char err[256];
  const uint8_t coin[] = "robust";
  const frost_element *pk = k.res.pk_shares;
  beacon_share all[MAXP], four[4];
  make_all(&k, coin, sizeof coin, all);
  uint8_t ref[BEACON_VALUE_LEN], v[BEACON_VALUE_LEN];
  ck_assert_int_eq(beacon_combine(coin, sizeof coin, 3, all, 3, ref, NULL, err, sizeof err), CX_OK);
  for (int badpos = 0; badpos < 4; badpos++) {
    four[0] = all[5];
    four[1] = all[1];
    four[2] = all[6];
    four[3] = all[3];
    uint16_t bad_id = four[badpos].id;
    frost_scalar two = {{2}};
    ck_assert_int_eq(
        crypto_scalarmult_ristretto255(four[badpos].sigma.b, two.b, four[badpos].sigma.b), 0);
    uint16_t culprits[4];
    size_t nc = 0;
    beacon_record *rec = malloc(sizeof *rec);
    ck_assert_ptr_nonnull(rec);
    ck_assert_int_eq(beacon_combine_checked(coin, sizeof coin, 3, 7, pk, four, 4, v, rec, culprits,
                                            &nc, err, sizeof err),
                     CX_OK);
    ck_assert_uint_eq(nc, 1);
    ck_assert_uint_eq(culprits[0], bad_id);
    ck_assert(memcmp(v, ref, sizeof v) == 0);
    ck_assert_uint_eq(rec->nshares, 3);
    for (size_t i = 0; i < 3; i++) ck_assert_uint_ne(rec->shares[i].id, bad_id);
    ck_assert_int_eq(beacon_record_verify(coin, sizeof coin, 3, 7, pk, rec, NULL, err, sizeof err),
                     CX_OK);
    /* The unchecked combine over the first t would use the bad share when
     * it is among them: its value differs. */
    ck_assert_int_eq(beacon_combine(coin, sizeof coin, 3, four, 3, v, NULL, err, sizeof err),
                     CX_OK);
    ck_assert_int_eq(memcmp(v, ref, sizeof v) == 0, badpos == 3);
    free(rec);
  }
  /* Two bad. */
  four[0] = all[0];
  four[1] = all[1];
  four[2] = all[2];
  four[3] = all[3];
  four[1].id = 3; /* a copy under another id */
  four[2] = all[1];
  four[2].id = 2;
  crypto_core_ristretto255_scalar_add(four[2].z.b, four[2].z.b, (const uint8_t[32]){1});
  uint16_t culprits[4];
  size_t nc = 0;
  ck_assert_int_eq(beacon_combine_checked(coin, sizeof coin, 3, 7, pk, four, 4, v, NULL, culprits,
                                          &nc, err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert_uint_eq(nc, 2);
  ck_assert_uint_eq(culprits[0], 3);
  ck_assert_uint_eq(culprits[1], 2);
  ck_assert_ptr_nonnull(strstr(err, "party 3"));
  keys_free(&k);
}
END_TEST

/* Records: a third party refuses a wrong value, a bad share (naming it),
 * another coin, too few or unsorted shares. */
START_TEST(record_refusals) {
  keys k;
  keys_make(&k, 4, 2);
  char err[256];
  uint8_t chain[32], coin[BEACON_COIN_HEIGHT_LEN], coin2[BEACON_COIN_HEIGHT_LEN];
  tu_randbytes(chain, sizeof chain);
  beacon_coin_name(chain, 42, coin);
  beacon_coin_name(chain, 43, coin2);
  const frost_element *pk = k.res.pk_shares;
  beacon_share all[MAXP];
  make_all(&k, coin, sizeof coin, all);
  uint8_t v[BEACON_VALUE_LEN];
  uint16_t culprits[MAXP], culprit;
  size_t nc;
  beacon_record *rec = malloc(sizeof *rec), *r = malloc(sizeof *r);
  ck_assert_ptr_nonnull(rec);
  ck_assert_ptr_nonnull(r);
  ck_assert_int_eq(beacon_combine_checked(coin, sizeof coin, 2, 4, pk, all + 1, 3, v, rec, culprits,
                                          &nc, err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(beacon_record_verify(coin, sizeof coin, 2, 4, pk, rec, &culprit, err, sizeof err),
                   CX_OK);
  *r = *rec;
  r->value[5] ^= 1;
  ck_assert_int_eq(beacon_record_verify(coin, sizeof coin, 2, 4, pk, r, &culprit, err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert_uint_eq(culprit, 0);
  *r = *rec;
  crypto_core_ristretto255_scalar_add(r->shares[1].z.b, r->shares[1].z.b, (const uint8_t[32]){1});
  ck_assert_int_eq(beacon_record_verify(coin, sizeof coin, 2, 4, pk, r, &culprit, err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert_uint_eq(culprit, r->shares[1].id);
  ck_assert_int_eq(beacon_record_verify(coin2, sizeof coin2, 2, 4, pk, rec, &culprit, err, sizeof err),
                   CX_E_INVALID_ARG);
  ck_assert_int_eq(beacon_record_verify(coin, sizeof coin, 3, 4, pk, rec, &culprit, err, sizeof err),
                   CX_E_INVALID_ARG);
  *r = *rec;
  r->shares[0] = rec->shares[1];
  r->shares[1] = rec->shares[0];
  ck_assert_int_eq(beacon_record_verify(coin, sizeof coin, 2, 4, pk, r, &culprit, err, sizeof err),
                   CX_E_UNSORTED);
  /* Shares of the right parties for another coin, value recomputed. */
  beacon_share o[MAXP];
  make_all(&k, coin2, sizeof coin2, o);
  ck_assert_int_eq(beacon_combine_checked(coin2, sizeof coin2, 2, 4, pk, o, 2, v, r, culprits, &nc,
                                          err, sizeof err),
                   CX_OK);
  memcpy(r->coin, coin, sizeof coin);
  ck_assert_int_eq(beacon_record_verify(coin, sizeof coin, 2, 4, pk, r, &culprit, err, sizeof err),
                   CX_E_MPC_CHECK_FAILED);
  ck_assert_uint_eq(culprit, 1);
  free(r);
  free(rec);
  keys_free(&k);
}
END_TEST

/* Different coins give different values (and bases). */
START_TEST(coins_differ) {
  keys k;
  keys_make(&k, 4, 2);
  char err[256];
  uint8_t chain[32], coin[BEACON_COIN_HEIGHT_LEN];
  tu_randbytes(chain, sizeof chain);
  enum { N = 64 };
  uint8_t vals[N][BEACON_VALUE_LEN];
  frost_element bases[N];
  for (int h = 0; h < N; h++) {
    beacon_coin_name(chain, (uint64_t)h, coin);
    beacon_share sh[2];
    for (uint16_t i = 1; i <= 2; i++)
      ck_assert_int_eq(beacon_share_make(coin, sizeof coin, i, &k.sk[i - 1], &sh[i - 1], err,
                                         sizeof err),
                       CX_OK);
    ck_assert_int_eq(beacon_combine(coin, sizeof coin, 2, sh, 2, vals[h], NULL, err, sizeof err),
                     CX_OK);
    ck_assert_int_eq(beacon_base(coin, sizeof coin, &bases[h]), CX_OK);
    for (int g = 0; g < h; g++) {
      ck_assert(memcmp(vals[g], vals[h], BEACON_VALUE_LEN) != 0);
      ck_assert(memcmp(bases[g].b, bases[h].b, 32) != 0);
    }
  }
  /* Another chain id at the same height differs too. */
  uint8_t v2[BEACON_VALUE_LEN];
  chain[0] ^= 1;
  beacon_coin_name(chain, 0, coin);
  beacon_share sh[2];
  for (uint16_t i = 1; i <= 2; i++)
    ck_assert_int_eq(
        beacon_share_make(coin, sizeof coin, i, &k.sk[i - 1], &sh[i - 1], err, sizeof err), CX_OK);
  ck_assert_int_eq(beacon_combine(coin, sizeof coin, 2, sh, 2, v2, NULL, err, sizeof err), CX_OK);
  ck_assert(memcmp(v2, vals[0], sizeof v2) != 0);
  keys_free(&k);
}
END_TEST

/* Smoke check of uniformity over 1000 coins: total ones within ~10 sd of
 * half of 256000 bits, every bit position within ~6.3 sd of 500. A constant
 * or structured value fails it; a uniform one fails with negligible odds. */
START_TEST(values_look_uniform) {
  keys k;
  keys_make(&k, 4, 2);
  char err[256];
  uint8_t chain[32], coin[BEACON_COIN_HEIGHT_LEN];
  tu_randbytes(chain, sizeof chain);
  enum { COINS = 1000 };
  static unsigned pos[256];
  memset(pos, 0, sizeof pos);
  unsigned long ones = 0;
  for (uint64_t h = 0; h < COINS; h++) {
    beacon_coin_name(chain, h, coin);
    beacon_share sh[2];
    uint8_t v[BEACON_VALUE_LEN];
    /* Parties 3 and 1: any pair will do. */
    ck_assert_int_eq(beacon_share_make(coin, sizeof coin, 3, &k.sk[2], &sh[0], err, sizeof err),
                     CX_OK);
    ck_assert_int_eq(beacon_share_make(coin, sizeof coin, 1, &k.sk[0], &sh[1], err, sizeof err),
                     CX_OK);
    ck_assert_int_eq(beacon_combine(coin, sizeof coin, 2, sh, 2, v, NULL, err, sizeof err), CX_OK);
    for (int b = 0; b < 256; b++)
      if (v[b / 8] >> (b % 8) & 1) {
        pos[b]++;
        ones++;
      }
  }
  ck_assert_msg(ones > 128000 - 2500 && ones < 128000 + 2500, "%lu ones of 256000", ones);
  for (int b = 0; b < 256; b++)
    ck_assert_msg(pos[b] > 400 && pos[b] < 600, "bit %d set in %u of %d values", b, pos[b], COINS);
  keys_free(&k);
}
END_TEST

static void write_seed(const char *dir, const char *name, const uint8_t *b, size_t len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(b, 1, len, f), len);
  fclose(f);
}

START_TEST(encodings) {
  keys k;
  keys_make(&k, 4, 3);
  char err[256];
  uint8_t chain[32], coin[BEACON_COIN_HEIGHT_LEN];
  tu_randbytes(chain, sizeof chain);
  beacon_coin_name(chain, 9, coin);
  beacon_share all[MAXP], got;
  make_all(&k, coin, sizeof coin, all);
  /* Share. */
  uint8_t b[BEACON_SHARE_LEN + 1];
  ck_assert_uint_eq(beacon_share_encode(&all[2], b), BEACON_SHARE_LEN);
  ck_assert_int_eq(beacon_share_decode(b, BEACON_SHARE_LEN, &got, err, sizeof err), CX_OK);
  ck_assert(memcmp(&got, &all[2], sizeof got) == 0);
  ck_assert_int_eq(beacon_share_decode(b, BEACON_SHARE_LEN - 1, &got, err, sizeof err),
                   CX_E_TRUNCATED);
  ck_assert_int_eq(beacon_share_decode(b, BEACON_SHARE_LEN + 1, &got, err, sizeof err),
                   CX_E_TRAILING);
  ck_assert_int_eq(beacon_share_decode(b, 0, &got, err, sizeof err), CX_E_TRUNCATED);
  uint8_t m[BEACON_SHARE_LEN];
  memcpy(m, b, sizeof m);
  m[0] = DKG_KIND_SHARE;
  ck_assert_int_eq(beacon_share_decode(m, sizeof m, &got, err, sizeof err), CX_E_BAD_ENUM);
  memcpy(m, b, sizeof m);
  m[1] = m[2] = 0;
  ck_assert_int_eq(beacon_share_decode(m, sizeof m, &got, err, sizeof err), CX_E_INVALID_ARG);
  memcpy(m, b, sizeof m);
  memset(m + 3, 0, 32);
  ck_assert_int_eq(beacon_share_decode(m, sizeof m, &got, err, sizeof err), CX_E_BAD_KEY);
  memcpy(m, b, sizeof m);
  memset(m + 3, 0xff, 32);
  ck_assert_int_eq(beacon_share_decode(m, sizeof m, &got, err, sizeof err), CX_E_NONCANONICAL);
  memcpy(m, b, sizeof m);
  memcpy(m + 35, L_LE, 32);
  ck_assert_int_eq(beacon_share_decode(m, sizeof m, &got, err, sizeof err), CX_E_NONCANONICAL);
  memcpy(m, b, sizeof m);
  memcpy(m + 67, L_LE, 32);
  ck_assert_int_eq(beacon_share_decode(m, sizeof m, &got, err, sizeof err), CX_E_NONCANONICAL);
  /* Record. */
  beacon_record *rec = malloc(sizeof *rec), *back = malloc(sizeof *back);
  uint8_t *rb = malloc(BEACON_RECORD_MAX_LEN + 1), *rm = malloc(BEACON_RECORD_MAX_LEN + 1);
  ck_assert(rec && back && rb && rm);
  uint16_t culprits[MAXP];
  size_t nc;
  uint8_t v[BEACON_VALUE_LEN];
  ck_assert_int_eq(beacon_combine_checked(coin, sizeof coin, 3, 4, k.res.pk_shares, all, 4, v, rec,
                                          culprits, &nc, err, sizeof err),
                   CX_OK);
  size_t len = beacon_record_encode(rec, rb);
  ck_assert_uint_eq(len, BEACON_RECORD_LEN(sizeof coin, 3));
  ck_assert_int_eq(beacon_record_decode(rb, len, back, err, sizeof err), CX_OK);
  ck_assert(memcmp(back, rec, sizeof *rec) == 0);
  ck_assert_int_eq(beacon_record_decode(rb, len - 1, back, err, sizeof err), CX_E_TRUNCATED);
  ck_assert_int_eq(beacon_record_decode(rb, len + 1, back, err, sizeof err), CX_E_TRAILING);
  ck_assert_int_eq(beacon_record_decode(rb, 2, back, err, sizeof err), CX_E_TRUNCATED);
  ck_assert_int_eq(beacon_share_decode(rb, len, &got, err, sizeof err), CX_E_BAD_ENUM);
  ck_assert_int_eq(beacon_record_decode(b, BEACON_SHARE_LEN, back, err, sizeof err), CX_E_BAD_ENUM);
  size_t cnt = 3 + sizeof coin + 32; /* offset of the share count */
  memcpy(rm, rb, len);
  rm[1] = 0;
  rm[2] = 0;
  ck_assert_int_eq(beacon_record_decode(rm, len, back, err, sizeof err), CX_E_INVALID_ARG);
  rm[1] = 1;
  rm[2] = 1; /* 257 */
  ck_assert_int_eq(beacon_record_decode(rm, len, back, err, sizeof err), CX_E_TOO_LONG);
  memcpy(rm, rb, len);
  rm[cnt] = 0;
  rm[cnt + 1] = 0;
  ck_assert_int_eq(beacon_record_decode(rm, cnt + 2, back, err, sizeof err), CX_E_INVALID_ARG);
  rm[cnt + 1] = DKG_MAX_PARTIES + 1;
  ck_assert_int_eq(beacon_record_decode(rm, len, back, err, sizeof err), CX_E_TOO_LONG);
  memcpy(rm, rb, len);
  rm[cnt + 1] = 2; /* count 2 with 3 bodies: trailing */
  ck_assert_int_eq(beacon_record_decode(rm, len, back, err, sizeof err), CX_E_TRAILING);
  memcpy(rm, rb, len);
  /* Swap the first two bodies: ids not ascending. */
  uint8_t tmp[BEACON_SHARE_BODY_LEN];
  memcpy(tmp, rm + cnt + 2, sizeof tmp);
  memcpy(rm + cnt + 2, rm + cnt + 2 + sizeof tmp, sizeof tmp);
  memcpy(rm + cnt + 2 + sizeof tmp, tmp, sizeof tmp);
  ck_assert_int_eq(beacon_record_decode(rm, len, back, err, sizeof err), CX_E_UNSORTED);
  memcpy(rm, rb, len);
  memset(rm + cnt + 2 + 2, 0, 32);
  ck_assert_int_eq(beacon_record_decode(rm, len, back, err, sizeof err), CX_E_BAD_KEY);
  const char *dir = getenv("CUSTOS_BEACON_CORPUS");
  if (dir) {
    write_seed(dir, "share", b, BEACON_SHARE_LEN);
    write_seed(dir, "record", rb, len);
  }
  free(rm);
  free(rb);
  free(back);
  free(rec);
  keys_free(&k);
}
END_TEST

static Suite *beacon_suite(void) {
  Suite *s = suite_create("beacon");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, subsets_agree_n4_t2);
  tcase_add_test(tc, subsets_agree_n4_t3);
  tcase_add_test(tc, subsets_agree_n7_t3);
  tcase_add_test(tc, subsets_agree_n7_t5);
  tcase_add_test(tc, fewer_than_t);
  tcase_add_test(tc, sigma_is_secret_times_base);
  tcase_add_test(tc, bad_shares_named);
  tcase_add_test(tc, bad_among_t_plus_one);
  tcase_add_test(tc, record_refusals);
  tcase_add_test(tc, coins_differ);
  tcase_add_test(tc, values_look_uniform);
  tcase_add_test(tc, encodings);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  if (sodium_init() < 0) return 1;
  tu_seed();
  return tu_run(beacon_suite());
}
