/* mpc/ foundations: the field (field.h), Shamir sharing with parity checks,
 * Berlekamp–Welch and extraction (shamir.h), the preprocessing pool (mpc.h)
 * with its batch labels and digest, and the secure buffers (session_internal.h).
 *
 * The field is checked against an independent slow reference (double-and-
 * add multiplication with a reduction after every step); the decoder against
 * a brute-force one (every subset of points); the statistical tests use a
 * fixed seed so they are deterministic and cannot be flaky. */
#include <check.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "field.h"
#include "mpc.h"
#include "session_internal.h"
#include "shamir.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------- */

static fe rand_fe(void) {
  for (;;) {
    fe v = (((fe)tu_rand() << 64) | tu_rand()) & FE_P;
    if (v != FE_P) return v;
  }
}

/* Random values biased to the edges: 0, 1, 2, p-1, p-2, 2^64 +- 1, ... */
static fe rand_edge(void) {
  static const int nspecial = 12;
  uint64_t r = tu_rand() % 24;
  switch (r < (uint64_t)nspecial ? r : 99) {
  case 0: return 0;
  case 1: return 1;
  case 2: return 2;
  case 3: return FE_P - 1;
  case 4: return FE_P - 2;
  case 5: return ((fe)1 << 64) % FE_P;
  case 6: return (((fe)1 << 64) - 1) % FE_P;
  case 7: return (((fe)1 << 64) + 1) % FE_P;
  case 8: return FE_P / 2;
  case 9: return FE_P / 2 + 1;
  case 10: return ((fe)1 << (MPC_FIELD_BITS - 1));
  case 11: return tu_rand() % 1000;
  default: return rand_fe();
  }
}

/* Reference arithmetic: no shortcuts from the Mersenne form. */
static fe ref_add(fe a, fe b) { return (a + b) % FE_P; } /* a + b < 2^128 */
static fe ref_mul(fe a, fe b) {
  fe r = 0;
  for (int i = 127; i >= 0; i--) {
    r = ref_add(r, r);
    if ((b >> i) & 1) r = ref_add(r, a);
  }
  return r;
}
static fe ref_sub(fe a, fe b) { return ref_add(a, (FE_P - b) % FE_P); }

static fe pow2(int k) { /* 2^k mod p by repeated doubling */
  fe r = 1;
  for (int i = 0; i < k; i++) r = ref_add(r, r);
  return r;
}

static fe nonzero_any(void) {
  fe d;
  do d = rand_fe();
  while (!d);
  return d;
}

#define ck_fe_eq(a, b)                                                                     \
  ck_assert_msg((a) == (b), "%s != %s (low words %llx / %llx)", #a, #b,                   \
                (unsigned long long)(uint64_t)(a), (unsigned long long)(uint64_t)(b))

/* ---- field ------------------------------------------------------------- */

START_TEST(test_field_known) {
  ck_fe_eq(fe_mul(FE_P - 1, FE_P - 1), (fe)1);
  ck_fe_eq(fe_sqr(FE_P - 1), (fe)1);
  ck_fe_eq(fe_pow(2, MPC_FIELD_BITS), (fe)1);
  ck_fe_eq(pow2(MPC_FIELD_BITS), (fe)1);
  ck_fe_eq(fe_inv(2), pow2(MPC_FIELD_BITS - 1));
  ck_fe_eq(fe_mul(2, pow2(MPC_FIELD_BITS - 1)), (fe)1);
  ck_fe_eq(fe_add(FE_P - 1, 1), (fe)0);
  ck_fe_eq(fe_add(FE_P - 1, FE_P - 1), FE_P - 2);
  ck_fe_eq(fe_sub(0, 1), FE_P - 1);
  ck_fe_eq(fe_sub(5, 7), FE_P - 2);
  ck_fe_eq(fe_neg(0), (fe)0);
  ck_fe_eq(fe_neg(1), FE_P - 1);
  ck_fe_eq(fe_mul(0, FE_P - 1), (fe)0);
  ck_fe_eq(fe_mul(FE_P - 1, 2), FE_P - 2);
  /* (2^64)^2 = 2^128 = 2 (mod 2^127 - 1) */
  if (MPC_FIELD_BITS == 127) ck_fe_eq(fe_sqr((fe)1 << 64), (fe)2);
  ck_fe_eq(fe_inv(0), (fe)0);
  ck_fe_eq(fe_pow(12345, 0), (fe)1);
  ck_fe_eq(fe_pow(0, 0), (fe)1);
  ck_fe_eq(fe_from_u64(UINT64_MAX), (fe)UINT64_MAX % FE_P);
}
END_TEST

START_TEST(test_field_vs_reference) {
  for (int i = 0; i < 20000; i++) {
    fe a = rand_edge(), b = rand_edge();
    ck_assert(a < FE_P && b < FE_P);
    fe m = fe_mul(a, b);
    ck_fe_eq(m, ref_mul(a, b));
    ck_fe_eq(fe_mul(b, a), m);
    ck_fe_eq(fe_sqr(a), ref_mul(a, a));
    ck_fe_eq(fe_add(a, b), ref_add(a, b));
    ck_fe_eq(fe_sub(a, b), ref_sub(a, b));
    ck_fe_eq(fe_neg(a), ref_sub(0, a));
    ck_assert(m < FE_P && fe_add(a, b) < FE_P && fe_sub(a, b) < FE_P);
  }
  /* every pair of the special values */
  const fe sp[] = {0, 1, 2, 3, FE_P - 1, FE_P - 2, FE_P / 2, FE_P / 2 + 1,
                   ((fe)1 << (MPC_FIELD_BITS - 1)), ((fe)1 << (MPC_FIELD_BITS - 1)) - 1};
  for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
    for (size_t j = 0; j < sizeof sp / sizeof sp[0]; j++) {
      ck_fe_eq(fe_mul(sp[i], sp[j]), ref_mul(sp[i], sp[j]));
      ck_fe_eq(fe_add(sp[i], sp[j]), ref_add(sp[i], sp[j]));
      ck_fe_eq(fe_sub(sp[i], sp[j]), ref_sub(sp[i], sp[j]));
    }
}
END_TEST

START_TEST(test_field_i64) {
#if MPC_FIELD_BITS == 127
  const int64_t v[] = {0, 1, -1, 2, -2, INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1,
                       (int64_t)1 << 40, -((int64_t)1 << 40)};
  const int shift = 0; /* the whole int64 range embeds exactly */
#else
  /* toy fields (sources compiled by hand with -DMPC_FIELD_BITS): only
   * |v| <= (p-1)/2 round-trips; a multiple of p must map to canonical 0 */
  const int64_t h = (int64_t)(FE_P / 2);
  const int64_t v[] = {0, 1, -1, 2, -2, h, -h, h - 1, -h + 1};
  const int shift = 64 - MPC_FIELD_BITS + 1;
  ck_fe_eq(fe_from_i64(-(int64_t)FE_P), (fe)0);
  ck_fe_eq(fe_from_i64((int64_t)FE_P), (fe)0);
  ck_fe_eq(fe_from_i64(INT64_MIN), FE_P - ((fe)((uint64_t)1 << 63) % FE_P));
#endif
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
    ck_assert_int_eq(fe_to_i64(fe_from_i64(v[i])), v[i]);
  for (int i = 0; i < 10000; i++) {
    int64_t x = (int64_t)tu_rand() >> shift;
    ck_assert_int_eq(fe_to_i64(fe_from_i64(x)), x);
    int64_t a = (int64_t)tu_rand() >> 2, b = (int64_t)tu_rand() >> 2; /* no overflow */
    ck_fe_eq(fe_add(fe_from_i64(a), fe_from_i64(b)), fe_from_i64(a + b));
    ck_fe_eq(fe_sub(fe_from_i64(a), fe_from_i64(b)), fe_from_i64(a - b));
    ck_fe_eq(fe_mul(fe_from_i64(a >> 32), fe_from_i64(b >> 32)), fe_from_i64((a >> 32) * (b >> 32)));
  }
  ck_fe_eq(fe_from_i64(-1), FE_P - 1);
  ck_fe_eq(fe_from_i64(0), (fe)0);
#if MPC_FIELD_BITS == 127
  ck_fe_eq(fe_from_i64(INT64_MIN), FE_P - ((fe)1 << 63));
  ck_fe_eq(fe_from_i64(INT64_MAX), (fe)INT64_MAX);
#endif
  ck_fe_eq(fe_from_u64(7), (fe)7);
}
END_TEST

START_TEST(test_field_pow_inv_sqrt) {
  int nonsquares = 0;
  for (int i = 0; i < 2000; i++) {
    fe a = rand_edge();
    if (a) {
      fe ia = fe_inv(a);
      ck_fe_eq(fe_mul(a, ia), (fe)1);
      ck_fe_eq(fe_pow(a, FE_P - 1), (fe)1);
    }
    fe e = tu_rand() % 50;
    fe r = 1;
    for (fe k = 0; k < e; k++) r = ref_mul(r, a);
    ck_fe_eq(fe_pow(a, e), r);
    fe s;
    ck_assert_int_eq(fe_sqrt(fe_sqr(a), &s), 1);
    ck_assert(s == a || s == fe_neg(a));
    if (!fe_sqrt(a, &s)) {
      nonsquares++;
      ck_assert_int_eq(fe_sqrt(fe_neg(a), &s), 1); /* -1 is not a square: one of a, -a is */
    } else {
      ck_fe_eq(fe_sqr(s), a);
    }
  }
  nonsquares = 0;
  for (int i = 0; i < 1000; i++) {
    fe s;
    nonsquares += !fe_sqrt(nonzero_any(), &s);
  }
  ck_assert_int_gt(nonsquares, 400); /* half of the nonzero elements */
  ck_assert_int_lt(nonsquares, 600);
  fe s = 99;
  ck_assert_int_eq(fe_sqrt(FE_P - 1, &s), 0); /* p = 3 mod 4 */
  ck_assert_int_eq(fe_sqrt(0, &s), 1);
  ck_fe_eq(s, (fe)0);
  ck_assert_int_eq(fe_sqrt(4, &s), 1);
  ck_assert(s == 2 || s == FE_P - 2);
}
END_TEST

/* fe_sqrt_vec gives fe_sqrt's roots, for every length around the scalar
 * path's 8-chain and the SIMD path's 32-chain blocks, and the first
 * non-square's index; on both paths where the SIMD one exists here. */
START_TEST(test_field_sqrt_vec) {
  enum { N = 70 };
  fe a[N] = {0}, out[N] = {0};
  int simd = fe_sqrt_simd(1);
  for (int mode = simd; mode >= 0; mode--) {
    ck_assert_int_eq(fe_sqrt_simd(mode), mode);
    for (size_t n = 0; n <= N; n++) {
      for (size_t i = 0; i < n; i++) a[i] = fe_sqr(rand_edge());
      if (n > 3) a[1] = 0, a[2] = 1, a[3] = fe_sqr(FE_P - 1); /* the limbs' extremes */
      ck_assert_uint_eq(fe_sqrt_vec(a, out, n), n);
      for (size_t i = 0; i < n; i++) {
        fe s;
        ck_assert_int_eq(fe_sqrt(a[i], &s), 1);
        ck_fe_eq(out[i], s);
      }
      if (!n) continue;
      for (int k = 0; k < 3; k++) { /* one non-square at a random place, another after it */
        size_t bad = (size_t)(tu_rand() % n);
        fe s;
        fe x = nonzero_any();
        if (fe_sqrt(x, &s)) x = fe_neg(x); /* -1 is not a square: one of x, -x is not */
        a[bad] = x;
        if (bad + 1 < n) a[n - 1] = x;
        ck_assert_uint_eq(fe_sqrt_vec(a, out, n), bad);
        for (size_t i = 0; i < n; i++) a[i] = fe_sqr(rand_edge());
      }
    }
  }
  fe_sqrt_simd(1);
}
END_TEST

/* The SIMD path against the scalar one on many random squares (the IFMA
 * limbs' carries): identical roots. Skipped where there is no SIMD path. */
START_TEST(test_field_sqrt_simd_random) {
  enum { N = 4096 };
  static fe a[N], x[N], y[N];
  if (!fe_sqrt_simd(1)) return;
  for (size_t i = 0; i < N; i++) a[i] = fe_sqr(i < 64 ? FE_P - 1 - i : rand_edge());
  ck_assert_uint_eq(fe_sqrt_vec(a, x, N), N);
  fe_sqrt_simd(0);
  ck_assert_uint_eq(fe_sqrt_vec(a, y, N), N);
  fe_sqrt_simd(1);
  for (size_t i = 0; i < N; i++) ck_fe_eq(x[i], y[i]);
}
END_TEST

START_TEST(test_field_batch_inv) {
  enum { N = 300 };
  fe v[N], orig[N], scratch[N];
  for (int i = 0; i < N; i++) orig[i] = v[i] = (i % 7 == 3) ? 0 : rand_edge();
  fe_batch_inv(v, N, scratch);
  for (int i = 0; i < N; i++) ck_fe_eq(v[i], fe_inv(orig[i]));
  fe_batch_inv(v, 0, scratch); /* no-op */
  v[0] = 5;
  fe_batch_inv(v, 1, scratch);
  ck_fe_eq(fe_mul(v[0], 5), (fe)1);
}
END_TEST

START_TEST(test_field_encode) {
  uint8_t b[FE_BYTES];
  fe x;
  fe_encode(1, b);
  ck_assert_int_eq(b[0], 1);
  for (int i = 1; i < FE_BYTES; i++) ck_assert_int_eq(b[i], 0);
  fe_encode(FE_P - 1, b);
  ck_assert_int_eq(b[0], 0xfe); /* little-endian */
  ck_assert_int_eq(fe_decode(b, &x), 0);
  ck_fe_eq(x, FE_P - 1);
  for (int i = 0; i < 2000; i++) {
    fe a = rand_edge();
    fe_encode(a, b);
    ck_assert_int_eq(fe_decode(b, &x), 0);
    ck_fe_eq(x, a);
  }
  /* non-canonical: p itself, p + 1, any bit at or above bit k, all ones */
  fe bad[] = {FE_P, FE_P + 1, (fe)1 << MPC_FIELD_BITS, ~(fe)0, (fe)1 << 127};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    for (int k = 0; k < FE_BYTES; k++) b[k] = (uint8_t)(bad[i] >> (8 * k));
    x = 42;
    ck_assert_int_eq(fe_decode(b, &x), -1);
  }
  /* vectors: one bad element fails the whole vector */
  fe v[5] = {0, 1, FE_P - 1, 77, 5}, w[5];
  uint8_t vb[5 * FE_BYTES];
  fe_encode_vec(v, 5, vb);
  ck_assert_int_eq(fe_decode_vec(vb, 5, w), 0);
  ck_assert(memcmp(v, w, sizeof v) == 0);
  memset(vb + 3 * FE_BYTES, 0xff, FE_BYTES);
  ck_assert_int_eq(fe_decode_vec(vb, 5, w), -1);
  ck_assert_int_eq(fe_decode_vec(vb, 3, w), 0);
  ck_assert_int_eq(fe_decode_vec(vb, 0, w), 0);
  /* p itself (the one non-canonical k-bit value) first or last, and bit k */
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    for (int at = 0; at < 5; at += 4) {
      fe_encode_vec(v, 5, vb);
      for (int k = 0; k < FE_BYTES; k++) vb[at * FE_BYTES + k] = (uint8_t)(bad[i] >> (8 * k));
      ck_assert_int_eq(fe_decode_vec(vb, 5, w), -1);
    }
  /* the wire form is little-endian whatever the host */
  fe_encode_vec(v + 2, 1, vb);
  for (int k = 0; k < FE_BYTES; k++) ck_assert_int_eq(vb[k], (uint8_t)((FE_P - 1) >> (8 * k)));
}
END_TEST

START_TEST(test_field_prg) {
  uint8_t key[32], key2[32];
  tu_randbytes(key, 32);
  memcpy(key2, key, 32);
  key2[31] ^= 1;
  enum { N = 2000 };
  fe *a = calloc(N, sizeof(fe)), *b = calloc(N, sizeof(fe));
  ck_assert(a && b);
  fe_prg(key, 7, a, N);
  fe_prg(key, 7, b, N);
  ck_assert(memcmp(a, b, N * sizeof(fe)) == 0);
  /* prefix property, across keystream block and buffer boundaries */
  const size_t pre[] = {0, 1, 3, 4, 5, 10, 511, 512, 513, 1023, 1025, 1999};
  for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
    memset(b, 0xaa, N * sizeof(fe));
    fe_prg(key, 7, b, pre[i]);
    ck_assert(memcmp(a, b, pre[i] * sizeof(fe)) == 0);
    if (pre[i] < N) ck_assert(b[pre[i]] != a[pre[i]]); /* nothing written past count */
  }
  /* the stream: ChaCha20-IETF, nonce = u64 little-endian then 4 zero bytes,
   * 16-byte little-endian words masked to k bits */
  uint8_t iv[12] = {7}, ks[64];
  crypto_stream_chacha20_ietf(ks, sizeof ks, iv, key);
  for (int i = 0; i < 4; i++) {
    fe w = 0;
    for (int k = FE_BYTES - 1; k >= 0; k--) w = w << 8 | ks[16 * i + k];
    ck_fe_eq(a[i], w & FE_P);
  }
  /* far into the stream (past the first 8 KiB buffer): words 1500..1503
   * are 64-byte block 375 */
  crypto_stream_chacha20_ietf_xor_ic(ks, (const uint8_t[64]){0}, sizeof ks, iv, 375, key);
  for (int i = 0; i < 4; i++) {
    fe w = 0;
    for (int k = FE_BYTES - 1; k >= 0; k--) w = w << 8 | ks[16 * i + k];
    ck_fe_eq(a[1500 + i], w & FE_P);
  }
  /* the libsodium-only path (short draws, no OpenSSL) gives the same bytes */
  fe_prg_sodium(1);
  for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
    memset(b, 0xaa, N * sizeof(fe));
    fe_prg(key, 7, b, pre[i] ? pre[i] : N);
    ck_assert(memcmp(a, b, (pre[i] ? pre[i] : N) * sizeof(fe)) == 0);
  }
  fe_prg_sodium(0);
  /* other nonce, other key: other stream */
  fe_prg(key, 8, b, N);
  ck_assert(memcmp(a, b, 16 * sizeof(fe)) != 0);
  fe_prg(key2, 7, b, N);
  ck_assert(memcmp(a, b, 16 * sizeof(fe)) != 0);
  /* canonical and balanced: each of the low 8 and the top bit ~ 1/2 */
  int ones[9] = {0};
  for (int i = 0; i < N; i++) {
    ck_assert(a[i] < FE_P);
    for (int k = 0; k < 8; k++) ones[k] += (int)((a[i] >> k) & 1);
    ones[8] += (int)((a[i] >> (MPC_FIELD_BITS - 1)) & 1);
  }
  for (int k = 0; k < 9; k++) ck_assert_msg(ones[k] > 850 && ones[k] < 1150, "bit %d: %d", k, ones[k]);
  free(a);
  free(b);
}
END_TEST

/* ---- Shamir ------------------------------------------------------------ */

static const uint32_t k_ns[] = {4, 7, 10};

static void rand_poly(fe *c, uint32_t deg) {
  for (uint32_t i = 0; i < deg; i++) c[i] = rand_fe();
}

/* Shares of `count` random secrets as a batch: sh[j][k]. */
typedef struct {
  uint32_t n;
  fe *v[MPC_MAX_N];
  fe *secret;
  size_t count;
} batch;

static void batch_new(batch *b, const mpc_shamir *s, uint32_t deg, size_t count) {
  b->n = s->n;
  b->count = count;
  b->secret = calloc(count, sizeof(fe));
  ck_assert(b->secret);
  for (uint32_t j = 0; j < s->n; j++) {
    b->v[j] = calloc(count, sizeof(fe));
    ck_assert(b->v[j]);
  }
  fe coef[MPC_MAX_N], sh[MPC_MAX_N];
  for (size_t k = 0; k < count; k++) {
    b->secret[k] = rand_edge();
    rand_poly(coef, deg);
    shamir_share(s, b->secret[k], deg, coef, sh);
    for (uint32_t j = 0; j < s->n; j++) b->v[j][k] = sh[j];
  }
}

static void batch_free(batch *b) {
  for (uint32_t j = 0; j < b->n; j++) free(b->v[j]);
  free(b->secret);
}

static fe nonzero(void) {
  fe d;
  do d = rand_fe();
  while (!d);
  return d;
}

START_TEST(test_shamir_init_args) {
  mpc_shamir s;
  ck_assert_int_eq(shamir_init(&s, 0, 0), CX_E_INVALID_ARG);
  ck_assert_int_eq(shamir_init(&s, 65, 0), CX_E_INVALID_ARG);
  ck_assert_int_eq(shamir_init(&s, 4, 2), CX_E_INVALID_ARG);
  ck_assert_int_eq(shamir_init(&s, 6, 2), CX_E_INVALID_ARG);
  ck_assert_int_eq(shamir_init(&s, 1, 0), CX_OK);
  fe sh[1], out;
  size_t bad;
  shamir_share(&s, 9, 0, NULL, sh);
  ck_fe_eq(sh[0], (fe)9);
  const fe *p[1] = {sh};
  ck_assert_int_eq(shamir_check(&s, 0, p, 1, &out, &bad), 0);
  ck_fe_eq(out, (fe)9);
  shamir_free(&s);
  ck_assert_int_eq(shamir_init(&s, 64, 21), CX_OK);
  for (uint32_t j = 0; j < 64; j++) ck_fe_eq(s.alpha[j], (fe)j + 1);
  shamir_free(&s);
  shamir_free(&s); /* idempotent */
}
END_TEST

/* The dual-code identity behind the parity checks, computed independently:
 * sum_j w_j alpha_j^r = 0 for r <= n-2 and 1 for r = n-1. */
START_TEST(test_shamir_dual_identity) {
  const uint32_t ns[] = {1, 2, 4, 7, 10, 64};
  for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
    uint32_t n = ns[c];
    fe w[MPC_MAX_N];
    for (uint32_t j = 0; j < n; j++) {
      fe d = 1;
      for (uint32_t i = 0; i < n; i++)
        if (i != j) d = ref_mul(d, ref_sub((fe)j + 1, (fe)i + 1));
      w[j] = fe_inv(d);
    }
    for (uint32_t r = 0; r < n; r++) {
      fe sum = 0;
      for (uint32_t j = 0; j < n; j++) sum = ref_add(sum, ref_mul(w[j], fe_pow((fe)j + 1, r)));
      ck_fe_eq(sum, (fe)(r == n - 1));
    }
  }
}
END_TEST

START_TEST(test_shamir_share_reconstruct) {
  for (size_t c = 0; c < 3; c++) {
    uint32_t n = k_ns[c], t = (n - 1) / 3;
    mpc_shamir s;
    ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
    for (uint32_t deg = t; deg <= 2 * t; deg += t ? t : 1) {
      batch b;
      batch_new(&b, &s, deg, 300);
      fe *out = calloc(b.count, sizeof(fe));
      size_t bad = 12345;
      ck_assert_int_eq(shamir_check(&s, deg, (const fe *const *)b.v, b.count, out, &bad), 0);
      ck_assert(memcmp(out, b.secret, b.count * sizeof(fe)) == 0);
      /* any deg + 1 parties, at 0 and at a party's point */
      for (int trial = 0; trial < 50; trial++) {
        uint64_t mask = 0;
        while ((uint32_t)__builtin_popcountll(mask) < deg + 1) mask |= (uint64_t)1 << (tu_rand() % n);
        fe lam[MPC_MAX_N];
        size_t k = tu_rand() % b.count;
        uint32_t target = (uint32_t)(tu_rand() % n);
        ck_assert_int_eq(shamir_lagrange(&s, mask, deg, 0, lam), CX_OK);
        fe v = 0;
        for (uint32_t j = 0; j < n; j++) {
          if (!(mask >> j & 1)) ck_fe_eq(lam[j], (fe)0);
          v = fe_add(v, fe_mul(lam[j], b.v[j][k]));
        }
        ck_fe_eq(v, b.secret[k]);
        ck_assert_int_eq(shamir_lagrange(&s, mask, deg, s.alpha[target], lam), CX_OK);
        v = 0;
        for (uint32_t j = 0; j < n; j++) v = fe_add(v, fe_mul(lam[j], b.v[j][k]));
        ck_fe_eq(v, b.v[target][k]);
      }
      free(out);
      batch_free(&b);
      if (!t) break;
    }
    /* the product of two degree-t sharings is a degree-2t sharing */
    batch x, y;
    batch_new(&x, &s, t, 100);
    batch_new(&y, &s, t, 100);
    for (uint32_t j = 0; j < n; j++)
      for (size_t k = 0; k < 100; k++) x.v[j][k] = fe_mul(x.v[j][k], y.v[j][k]);
    fe out[100];
    size_t bad;
    ck_assert_int_eq(shamir_check(&s, 2 * t, (const fe *const *)x.v, 100, out, &bad), 0);
    for (size_t k = 0; k < 100; k++) ck_fe_eq(out[k], fe_mul(x.secret[k], y.secret[k]));
    /* ... and generally not of degree t (t >= 1) */
    if (t) ck_assert_int_eq(shamir_check(&s, t, (const fe *const *)x.v, 100, out, &bad), -1);
    batch_free(&x);
    batch_free(&y);
    fe lam[MPC_MAX_N];
    ck_assert_int_eq(shamir_lagrange(&s, 1, t + 1, 0, lam), CX_E_INVALID_ARG);
    ck_assert_int_eq(shamir_lagrange(&s, 0, 0, 0, lam), CX_E_INVALID_ARG);
    shamir_free(&s);
  }
}
END_TEST

START_TEST(test_shamir_check_detects) {
  for (size_t c = 0; c < 3; c++) {
    uint32_t n = k_ns[c], t = (n - 1) / 3;
    mpc_shamir s;
    ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
    /* t, 2t, and a degree without precomputed checks */
    const uint32_t degs[] = {t, 2 * t, t + 1};
    for (size_t di = 0; di < 3; di++) {
      uint32_t deg = degs[di];
      batch b;
      batch_new(&b, &s, deg, 64);
      fe out[64];
      for (uint32_t j = 0; j < n; j++) {
        size_t k = tu_rand() % b.count, bad = 999;
        fe d = nonzero(), keep = b.v[j][k];
        b.v[j][k] = fe_add(keep, d);
        ck_assert_int_eq(shamir_check(&s, deg, (const fe *const *)b.v, b.count, out, &bad), -1);
        ck_assert_uint_eq(bad, k);
        b.v[j][k] = keep;
        ck_assert_int_eq(shamir_check(&s, deg, (const fe *const *)b.v, b.count, out, &bad), 0);
      }
      /* up to n - deg - 1 wrong shares in one item are always detected */
      for (int trial = 0; trial < 30 && n > deg + 1; trial++) {
        size_t k = tu_rand() % b.count, bad = 999;
        uint32_t nerr = 1 + (uint32_t)(tu_rand() % (n - deg - 1));
        fe keep[MPC_MAX_N];
        for (uint32_t j = 0; j < n; j++) keep[j] = b.v[j][k];
        uint64_t used = 0;
        while ((uint32_t)__builtin_popcountll(used) < nerr) {
          uint32_t j = (uint32_t)(tu_rand() % n);
          if (used >> j & 1) continue;
          used |= (uint64_t)1 << j;
          b.v[j][k] = fe_add(b.v[j][k], nonzero());
        }
        ck_assert_int_eq(shamir_check(&s, deg, (const fe *const *)b.v, b.count, out, &bad), -1);
        ck_assert_uint_eq(bad, k);
        for (uint32_t j = 0; j < n; j++) b.v[j][k] = keep[j];
      }
      batch_free(&b);
    }
    shamir_free(&s);
  }
}
END_TEST

/* Brute-force decoder: the unique polynomial of degree <= t within distance
 * maxerr of y over the present parties, by trying every (t+1)-subset. */
static int brute_decode(const mpc_shamir *s, const fe *y, uint64_t present, uint32_t maxerr,
                        fe *secret, uint64_t *errmask) {
  uint32_t idx[MPC_MAX_N], m = 0, t = s->t;
  for (uint32_t j = 0; j < s->n; j++)
    if (present >> j & 1) idx[m++] = j;
  if (m < t + 1) return -1;
  /* enumerate (t+1)-subsets of the m present parties (m <= 13 here) */
  for (uint64_t sub = 0; sub < ((uint64_t)1 << m); sub++) {
    if ((uint32_t)__builtin_popcountll(sub) != t + 1) continue;
    uint64_t mask = 0;
    for (uint32_t i = 0; i < m; i++)
      if (sub >> i & 1) mask |= (uint64_t)1 << idx[i];
    uint64_t em = 0;
    uint32_t nerr = 0;
    for (uint32_t i = 0; i < m; i++) {
      fe lam[MPC_MAX_N], v = 0;
      shamir_lagrange(s, mask, t, s->alpha[idx[i]], lam);
      for (uint32_t j = 0; j < s->n; j++)
        if (mask >> j & 1) v = fe_add(v, fe_mul(lam[j], y[j]));
      if (v != y[idx[i]]) {
        em |= (uint64_t)1 << idx[i];
        nerr++;
      }
    }
    if (nerr <= maxerr) {
      fe lam[MPC_MAX_N], v = 0;
      shamir_lagrange(s, mask, t, 0, lam);
      for (uint32_t j = 0; j < s->n; j++)
        if (mask >> j & 1) v = fe_add(v, fe_mul(lam[j], y[j]));
      *secret = v;
      *errmask = em;
      return 0;
    }
  }
  return -1;
}

/* Corrupts nerr distinct random present parties of item k; returns them. */
static uint64_t corrupt(batch *b, uint64_t present, size_t k, uint32_t nerr) {
  uint64_t used = 0;
  while ((uint32_t)__builtin_popcountll(used) < nerr) {
    uint32_t j = (uint32_t)(tu_rand() % b->n);
    if (!(present >> j & 1) || (used >> j & 1)) continue;
    used |= (uint64_t)1 << j;
    b->v[j][k] = fe_add(b->v[j][k], nonzero());
  }
  return used;
}

START_TEST(test_shamir_open_errors) {
  const uint32_t ns[] = {4, 7, 10, 13};
  for (size_t c = 0; c < 4; c++) {
    uint32_t n = ns[c], t = (n - 1) / 3;
    mpc_shamir s;
    ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
    for (int trial = 0; trial < 20; trial++) {
      batch b;
      batch_new(&b, &s, t, 200);
      uint64_t all = n == 64 ? ~0ull : (1ull << n) - 1, expect = 0;
      size_t first = SIZE_MAX;
      for (size_t k = 0; k < b.count; k++) {
        if (tu_rand() % 4) continue;
        uint64_t em = corrupt(&b, all, k, 1 + (uint32_t)(tu_rand() % t));
        expect |= em;
        if (first == SIZE_MAX) first = k;
      }
      fe *out = calloc(b.count, sizeof(fe));
      uint64_t wrong = 7;
      size_t fw = 3;
      ck_assert_int_eq(shamir_open(&s, (const fe *const *)b.v, b.count, out, &wrong, &fw), 0);
      ck_assert(memcmp(out, b.secret, b.count * sizeof(fe)) == 0);
      ck_assert_uint_eq(wrong, expect);
      ck_assert_uint_eq(fw, first);
      free(out);
      batch_free(&b);
    }
    /* the same t parties corrupt every item (the excluded-party cache) */
    batch b;
    batch_new(&b, &s, t, 500);
    uint64_t bad = 0;
    for (uint32_t i = 0; i < t; i++) bad |= 1ull << ((i * 3 + 1) % n);
    for (size_t k = 0; k < b.count; k++)
      for (uint32_t j = 0; j < n; j++)
        if ((bad >> j & 1) && (k % 3 || j == 1)) b.v[j][k] = fe_add(b.v[j][k], nonzero());
    fe *out = calloc(b.count, sizeof(fe));
    uint64_t wrong;
    size_t fw;
    ck_assert_int_eq(shamir_open(&s, (const fe *const *)b.v, b.count, out, &wrong, &fw), 0);
    ck_assert(memcmp(out, b.secret, b.count * sizeof(fe)) == 0);
    ck_assert_uint_eq(wrong, bad);
    ck_assert_uint_eq(fw, 0);
    free(out);
    batch_free(&b);
    shamir_free(&s);
  }
}
END_TEST

START_TEST(test_shamir_open_erasures) {
  const uint32_t ns[] = {4, 7, 10, 13};
  for (size_t c = 0; c < 4; c++) {
    uint32_t n = ns[c], t = (n - 1) / 3;
    mpc_shamir s;
    ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
    for (uint32_t e = 1; e + t + 1 <= n; e++) {
      batch b;
      batch_new(&b, &s, t, 100);
      const fe *p[MPC_MAX_N];
      uint64_t present = 0;
      for (uint32_t j = 0; j < n; j++) p[j] = b.v[j];
      for (uint32_t i = 0; i < e;) {
        uint32_t j = (uint32_t)(tu_rand() % n);
        if (!p[j]) continue;
        p[j] = NULL;
        i++;
      }
      for (uint32_t j = 0; j < n; j++)
        if (p[j]) present |= 1ull << j;
      uint32_t cap = (n - e - t - 1) / 2;
      uint64_t expect = 0;
      size_t first = SIZE_MAX;
      for (size_t k = 0; k < b.count && cap; k++) {
        if (tu_rand() % 3) continue;
        expect |= corrupt(&b, present, k, 1 + (uint32_t)(tu_rand() % cap));
        if (first == SIZE_MAX) first = k;
      }
      fe out[100];
      uint64_t wrong;
      size_t fw;
      ck_assert_int_eq(shamir_open(&s, p, b.count, out, &wrong, &fw), 0);
      ck_assert(memcmp(out, b.secret, b.count * sizeof(fe)) == 0);
      ck_assert_uint_eq(wrong, expect);
      ck_assert_uint_eq(fw, first);
      batch_free(&b);
    }
    /* fewer than t + 1 present: nothing can be opened */
    batch b;
    batch_new(&b, &s, t, 5);
    const fe *p[MPC_MAX_N] = {0};
    for (uint32_t j = 0; j < t; j++) p[j] = b.v[j];
    fe out[5];
    uint64_t wrong;
    size_t fw;
    ck_assert_int_eq(shamir_open(&s, p, 5, out, &wrong, &fw), -1);
    ck_assert_uint_eq(fw, 0);
    ck_assert_int_eq(shamir_open(&s, p, 0, out, &wrong, &fw), 0); /* nothing to open */
    batch_free(&b);
    shamir_free(&s);
  }
}
END_TEST

/* shamir_open and shamir_bw_decode agree with the brute-force decoder on
 * every error weight, beyond capacity included, with and without erasures;
 * a constructed undecodable item fails with its index. */
START_TEST(test_shamir_open_vs_brute) {
  const uint32_t ns[] = {4, 7, 10};
  for (size_t c = 0; c < 3; c++) {
    uint32_t n = ns[c], t = (n - 1) / 3;
    mpc_shamir s;
    ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
    int fails = 0;
    for (int trial = 0; trial < 300; trial++) {
      batch b;
      batch_new(&b, &s, t, 3);
      const fe *p[MPC_MAX_N];
      uint64_t present = (1ull << n) - 1;
      for (uint32_t j = 0; j < n; j++) p[j] = b.v[j];
      if (trial % 2) { /* one erasure */
        uint32_t j = (uint32_t)(tu_rand() % n);
        p[j] = NULL;
        present &= ~(1ull << j);
      }
      uint32_t m = (uint32_t)__builtin_popcountll(present), maxerr = (m - t - 1) / 2;
      uint32_t nerr = (uint32_t)(tu_rand() % (m + 1));
      corrupt(&b, present, 1, nerr);
      fe y[MPC_MAX_N] = {0}, bs, bws, out[3];
      uint64_t bem, bwem, wrong;
      size_t fw;
      for (uint32_t j = 0; j < n; j++)
        if (present >> j & 1) y[j] = b.v[j][1];
      int br = brute_decode(&s, y, present, maxerr, &bs, &bem);
      int bw = shamir_bw_decode(&s, y, present, t, maxerr, &bws, &bwem);
      int op = shamir_open(&s, p, 3, out, &wrong, &fw);
      ck_assert_int_eq(bw, br);
      ck_assert_int_eq(op, br);
      if (br == 0) {
        ck_fe_eq(bws, bs);
        ck_assert_uint_eq(bwem, bem);
        ck_fe_eq(out[1], bs);
        ck_assert_uint_eq(wrong, bem);
        ck_assert_uint_eq(fw, bem ? 1 : SIZE_MAX);
        if (nerr <= maxerr) {
          ck_fe_eq(bs, b.secret[1]);
        }
      } else {
        ck_assert_uint_eq(fw, 1);
        ck_assert_uint_gt(nerr, maxerr);
        fails++;
      }
      batch_free(&b);
    }
    ck_assert_int_gt(fails, 10);
    shamir_free(&s);
  }
}
END_TEST

START_TEST(test_shamir_bw_unit) {
  mpc_shamir s;
  uint32_t n = 10, t = 3;
  ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
  fe coef[3] = {5, 6, 7}, y[MPC_MAX_N], sec;
  uint64_t em, all = (1ull << n) - 1;
  shamir_share(&s, 1234, 3, coef, y);
  ck_assert_int_eq(shamir_bw_decode(&s, y, all, 3, 3, &sec, &em), 0);
  ck_fe_eq(sec, (fe)1234);
  ck_assert_uint_eq(em, 0);
  y[2] = fe_add(y[2], 1);
  y[5] = fe_sub(y[5], 1);
  y[9] = 0;
  ck_assert_int_eq(shamir_bw_decode(&s, y, all, 3, 3, &sec, &em), 0);
  ck_fe_eq(sec, (fe)1234);
  ck_assert_uint_eq(em, (1u << 2) | (1u << 5) | (1u << 9));
  /* 3 errors but only 2 allowed */
  ck_assert_int_eq(shamir_bw_decode(&s, y, all, 3, 2, &sec, &em), -1);
  /* erase one wrong point: 2 errors among 9, capacity (9 - 4) / 2 = 2 */
  ck_assert_int_eq(shamir_bw_decode(&s, y, all & ~(1ull << 9), 3, 3, &sec, &em), 0);
  ck_fe_eq(sec, (fe)1234);
  ck_assert_uint_eq(em, (1u << 2) | (1u << 5));
  /* max_err beyond the unique-decoding radius is clamped to it: 3 errors
   * among 9 points of a degree-3 polynomial are not decodable */
  shamir_share(&s, 1234, 3, coef, y);
  y[2] = fe_add(y[2], 1);
  y[5] = fe_sub(y[5], 1);
  y[7] = fe_add(y[7], 9);
  ck_assert_int_eq(shamir_bw_decode(&s, y, all & ~(1ull << 9), 3, 3, &sec, &em), -1);
  ck_assert_int_eq(shamir_bw_decode(&s, y, all, 3, 3, &sec, &em), 0);
  ck_assert_uint_eq(em, (1u << 2) | (1u << 5) | (1u << 7));
  /* a mask with too few points */
  ck_assert_int_eq(shamir_bw_decode(&s, y, 0x7, 3, 0, &sec, &em), -1);
  /* degree 2t, detect-only use: max_err 0 */
  fe c6[6] = {1, 2, 3, 4, 5, 6};
  shamir_share(&s, 77, 6, c6, y);
  ck_assert_int_eq(shamir_bw_decode(&s, y, all, 6, 0, &sec, &em), 0);
  ck_fe_eq(sec, (fe)77);
  y[0] = fe_add(y[0], 3);
  ck_assert_int_eq(shamir_bw_decode(&s, y, all, 6, 0, &sec, &em), -1);
  ck_assert_int_eq(shamir_bw_decode(&s, y, all, 6, 1, &sec, &em), 0);
  ck_assert_uint_eq(em, 1);
  shamir_free(&s);
}
END_TEST

/* determinant != 0 by Gaussian elimination */
static int invertible(fe *a, uint32_t k) {
  for (uint32_t c = 0; c < k; c++) {
    uint32_t r = c;
    while (r < k && !a[r * k + c]) r++;
    if (r == k) return 0;
    for (uint32_t i = 0; i < k; i++) {
      fe tmp = a[r * k + i];
      a[r * k + i] = a[c * k + i];
      a[c * k + i] = tmp;
    }
    fe inv = fe_inv(a[c * k + c]);
    for (uint32_t i = c + 1; i < k; i++) {
      fe f = fe_mul(a[i * k + c], inv);
      for (uint32_t l = c; l < k; l++) a[i * k + l] = fe_sub(a[i * k + l], fe_mul(f, a[c * k + l]));
    }
  }
  return 1;
}

START_TEST(test_shamir_extract) {
  for (size_t c = 0; c < 3; c++) {
    uint32_t n = k_ns[c], t = (n - 1) / 3, m = n - t;
    mpc_shamir s;
    ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
    fe a[MPC_MAX_N], b[MPC_MAX_N], ab[MPC_MAX_N], oa[MPC_MAX_N], ob[MPC_MAX_N], oab[MPC_MAX_N];
    for (int trial = 0; trial < 50; trial++) {
      fe k = rand_fe();
      for (uint32_t j = 0; j < n; j++) {
        a[j] = rand_edge();
        b[j] = rand_edge();
        ab[j] = fe_add(a[j], fe_mul(k, b[j]));
      }
      shamir_extract(&s, a, 1, oa, 1);
      shamir_extract(&s, b, 1, ob, 1);
      shamir_extract(&s, ab, 1, oab, 1);
      for (uint32_t i = 0; i < m; i++) {
        ck_fe_eq(oab[i], fe_add(oa[i], fe_mul(k, ob[i])));
        fe v = 0; /* M[i][j] = (j + 1)^i */
        for (uint32_t j = 0; j < n; j++) v = ref_add(v, ref_mul(fe_pow((fe)j + 1, i), a[j]));
        ck_fe_eq(oa[i], v);
      }
    }
    /* strides: one item of a batch layout */
    fe in[MPC_MAX_N * 3], out[MPC_MAX_N * 2];
    for (uint32_t j = 0; j < n; j++) {
      in[j * 3 + 1] = a[j];
      in[j * 3] = in[j * 3 + 2] = 99;
    }
    memset(out, 0, sizeof out);
    shamir_extract(&s, in + 1, 3, out, 2);
    shamir_extract(&s, a, 1, oa, 1);
    for (uint32_t i = 0; i < m; i++) {
      ck_fe_eq(out[2 * i], oa[i]);
      ck_fe_eq(out[2 * i + 1], (fe)0);
    }
    /* share-wise extraction of n degree-t sharings gives degree-t sharings
     * of the extracted secrets */
    fe sec[MPC_MAX_N], shares[MPC_MAX_N][MPC_MAX_N], coef[MPC_MAX_N];
    for (uint32_t d = 0; d < n; d++) {
      sec[d] = rand_fe();
      rand_poly(coef, t);
      shamir_share(&s, sec[d], t, coef, shares[d]);
    }
    fe *ext[MPC_MAX_N];
    for (uint32_t j = 0; j < n; j++) {
      ext[j] = calloc(m, sizeof(fe));
      fe col[MPC_MAX_N];
      for (uint32_t d = 0; d < n; d++) col[d] = shares[d][j];
      shamir_extract(&s, col, 1, ext[j], 1);
    }
    fe osec[MPC_MAX_N], want[MPC_MAX_N];
    size_t bad;
    ck_assert_int_eq(shamir_check(&s, t, (const fe *const *)ext, m, osec, &bad), 0);
    shamir_extract(&s, sec, 1, want, 1);
    for (uint32_t i = 0; i < m; i++) ck_fe_eq(osec[i], want[i]);
    for (uint32_t j = 0; j < n; j++) free(ext[j]);
    /* every choice of n - t honest columns gives an invertible square
     * matrix: the outputs are uniform whatever the t others deal */
    int subsets = 0;
    for (uint64_t cols = 0; cols < (1ull << n); cols++) {
      if ((uint32_t)__builtin_popcountll(cols) != m) continue;
      fe sq[MPC_MAX_N * MPC_MAX_N];
      uint32_t cj = 0;
      for (uint32_t j = 0; j < n; j++) {
        if (!(cols >> j & 1)) continue;
        fe unit[MPC_MAX_N] = {0}, col[MPC_MAX_N];
        unit[j] = 1;
        shamir_extract(&s, unit, 1, col, 1);
        for (uint32_t i = 0; i < m; i++) sq[i * m + cj] = col[i];
        cj++;
      }
      ck_assert(invertible(sq, m));
      subsets++;
    }
    ck_assert_int_gt(subsets, 0);
    shamir_free(&s);
  }
}
END_TEST

/* The all-present paths (finite differences in shamir_check/shamir_open,
 * small-integer rows in shamir_extract, shamir_share's multiplications by
 * the points) for many n and every degree, against sharings evaluated with
 * the general fe_mul and extraction against its definition. Edge values
 * (every coefficient p - 1, errors of +-1) exercise the accumulator
 * bounds; n = 22 and 64 take extraction's field-row path instead. */
static fe eval_poly(const fe *c, uint32_t ncoef, fe x) {
  fe v = 0;
  for (uint32_t i = ncoef; i-- > 0;) v = fe_add(fe_mul(v, x), c[i]);
  return v;
}

START_TEST(test_shamir_fast_paths) {
  const uint32_t ns[] = {1, 2, 3, 4, 5, 7, 10, 13, 16, 22, 64};
  for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
    uint32_t n = ns[c], t = (n - 1) / 3;
    mpc_shamir s;
    ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
    fe *v[MPC_MAX_N];
    for (uint32_t j = 0; j < n; j++) v[j] = calloc(8, sizeof(fe));
    for (uint32_t deg = 0; deg < n; deg++) {
      fe coef[8][MPC_MAX_N], out[8];
      size_t bad = 999;
      /* item 0: all coefficients p - 1; the rest random of exact degree */
      for (size_t k = 0; k < 8; k++) {
        for (uint32_t i = 0; i <= deg; i++) coef[k][i] = k ? rand_edge() : FE_P - 1;
        if (!coef[k][deg]) coef[k][deg] = 1;
        for (uint32_t j = 0; j < n; j++) v[j][k] = eval_poly(coef[k], deg + 1, (fe)j + 1);
      }
      fe sh[MPC_MAX_N];
      shamir_share(&s, coef[0][0], deg, coef[0] + 1, sh);
      for (uint32_t j = 0; j < n; j++) ck_fe_eq(sh[j], v[j][0]);
      ck_assert_int_eq(shamir_check(&s, deg, (const fe *const *)v, 8, out, &bad), 0);
      for (size_t k = 0; k < 8; k++) ck_fe_eq(out[k], coef[k][0]);
      if (deg == t) {
        uint64_t wrong = 1;
        size_t first = 0;
        ck_assert_int_eq(shamir_open(&s, (const fe *const *)v, 8, out, &wrong, &first), 0);
        ck_assert_uint_eq(wrong, 0);
        ck_assert_uint_eq(first, SIZE_MAX);
        for (size_t k = 0; k < 8; k++) ck_fe_eq(out[k], coef[k][0]);
      }
      /* exact degree deg is not degree deg - 1 on n > deg points */
      if (deg > 0) {
        ck_assert_int_eq(shamir_check(&s, deg - 1, (const fe *const *)v, 8, out, &bad), -1);
        ck_assert_uint_eq(bad, 0);
      }
      /* one share off by +1 or -1 in item k: detected unless deg = n - 1 */
      for (uint32_t j = 0; j < n && deg + 1 < n; j++) {
        size_t k = tu_rand() % 8;
        fe keep = v[j][k];
        v[j][k] = fe_add(keep, j & 1 ? FE_P - 1 : 1);
        ck_assert_int_eq(shamir_check(&s, deg, (const fe *const *)v, 8, out, &bad), -1);
        ck_assert_uint_eq(bad, k);
        v[j][k] = keep;
      }
    }
    for (uint32_t j = 0; j < n; j++) free(v[j]);
    /* extraction against its definition, on p - 1 everywhere and random */
    for (int trial = 0; trial < 3; trial++) {
      fe in[MPC_MAX_N], ex[MPC_MAX_N];
      for (uint32_t j = 0; j < n; j++) in[j] = trial ? rand_edge() : FE_P - 1;
      shamir_extract(&s, in, 1, ex, 1);
      for (uint32_t i = 0; i < n - t; i++) {
        fe want = 0;
        for (uint32_t j = 0; j < n; j++) want = fe_add(want, fe_mul(fe_pow((fe)j + 1, i), in[j]));
        ck_fe_eq(ex[i], want);
      }
    }
    shamir_free(&s);
  }
}
END_TEST

/* Low-byte histogram of extraction outputs when t inputs are fixed by the
 * adversary (zeros) and the rest uniform: a chi-square sanity check. */
START_TEST(test_shamir_extract_uniform) {
  mpc_shamir s;
  uint32_t n = 7, t = 2, m = 5;
  ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
  uint8_t key[32] = {0x51};
  enum { N = 20000 };
  fe *r = calloc((size_t)N * n, sizeof(fe));
  fe_prg(key, 1, r, (size_t)N * n);
  static unsigned hist[5][256];
  memset(hist, 0, sizeof hist);
  for (size_t k = 0; k < N; k++) {
    fe in[MPC_MAX_N], out[MPC_MAX_N];
    for (uint32_t j = 0; j < n; j++) in[j] = j < t ? 0 : r[k * n + j];
    shamir_extract(&s, in, 1, out, 1);
    for (uint32_t i = 0; i < m; i++) hist[i][(uint8_t)out[i]]++;
  }
  for (uint32_t i = 0; i < m; i++) {
    double chi = 0, e = N / 256.0;
    for (int v = 0; v < 256; v++) chi += (hist[i][v] - e) * (hist[i][v] - e) / e;
    /* 255 degrees of freedom: mean 255, sd 22.6; 400 is > 6 sd */
    ck_assert_msg(chi < 400, "output %u chi2 %.1f", i, chi);
  }
  free(r);
  shamir_free(&s);
}
END_TEST

/* Any t shares are uniform whatever the secret: for 0 and p-1, the joint
 * histogram of t chosen shares (low bits) passes a goodness-of-fit test and
 * the two secrets' histograms are indistinguishable (two-sample test).
 * Fixed seed: deterministic. */
static void share_hist(uint32_t n, uint32_t t, fe secret, const uint32_t *who, unsigned *hist,
                       uint64_t nonce) {
  mpc_shamir s;
  ck_assert_int_eq(shamir_init(&s, n, t), CX_OK);
  enum { N = 30000 };
  uint8_t key[32] = {0x5e, 0xed};
  fe *coef = calloc((size_t)N * t, sizeof(fe));
  fe_prg(key, nonce, coef, (size_t)N * t);
  fe sh[MPC_MAX_N];
  for (size_t k = 0; k < N; k++) {
    shamir_share(&s, secret, t, coef + k * t, sh);
    unsigned bucket = 0, bits = 8 / t; /* 256 buckets in all */
    for (uint32_t i = 0; i < t; i++) bucket = bucket << bits | (unsigned)(sh[who[i]] & ((1u << bits) - 1));
    hist[bucket]++;
  }
  free(coef);
  shamir_free(&s);
}

START_TEST(test_shamir_privacy_stat) {
  struct {
    uint32_t n, t, who[2];
  } cfg[] = {{4, 1, {0}}, {4, 1, {3}}, {7, 2, {0, 1}}, {7, 2, {2, 6}}};
  for (size_t c = 0; c < 4; c++) {
    unsigned h0[256] = {0}, h1[256] = {0};
    share_hist(cfg[c].n, cfg[c].t, 0, cfg[c].who, h0, 100 + c);
    share_hist(cfg[c].n, cfg[c].t, FE_P - 1, cfg[c].who, h1, 200 + c);
    double e = 30000 / 256.0, g0 = 0, g1 = 0, two = 0;
    for (int v = 0; v < 256; v++) {
      g0 += (h0[v] - e) * (h0[v] - e) / e;
      g1 += (h1[v] - e) * (h1[v] - e) / e;
      double d = (double)h0[v] - (double)h1[v];
      if (h0[v] + h1[v]) two += d * d / (h0[v] + h1[v]);
    }
    ck_assert_msg(g0 < 400 && g1 < 400 && two < 400, "n=%u chi2 %.1f %.1f two-sample %.1f",
                  cfg[c].n, g0, g1, two);
  }
}
END_TEST

/* ---- pool and secure buffers ------------------------------------------- */

static void fill_seq(fe *v, size_t count, fe start) {
  for (size_t i = 0; i < count; i++) v[i] = start + i;
}

START_TEST(test_pool_fifo) {
  mpc_pool *p;
  ck_assert_int_eq(mpc_pool_new(10, 7, 5, 4, &p), CX_OK);
  fe a[10], b[10], c[10];
  fe next_put = 0, next_take = 0;
  /* many put/take rounds of varying sizes: wraps around several times */
  for (int round = 0; round < 200; round++) {
    mpc_pool_level lv;
    mpc_pool_level_get(p, &lv);
    size_t room = lv.cap_triples - lv.triples;
    size_t k = room ? tu_rand() % (room + 1) : 0;
    fill_seq(a, k, next_put);
    fill_seq(b, k, 1000000 + next_put);
    fill_seq(c, k, 2000000 + next_put);
    ck_assert_int_eq(mpc_pool_put_triples(p, a, b, c, k), CX_OK);
    next_put += k;
    mpc_pool_level_get(p, &lv);
    size_t take = tu_rand() % (lv.triples + 1);
    memset(a, 0, sizeof a);
    ck_assert_int_eq(mpc_pool_take_triples(p, take, a, b, c), CX_OK);
    for (size_t i = 0; i < take; i++) {
      ck_fe_eq(a[i], next_take + i);
      ck_fe_eq(b[i], 1000000 + next_take + i);
      ck_fe_eq(c[i], 2000000 + next_take + i);
    }
    next_take += take;
    mpc_pool_level_get(p, &lv);
    ck_assert_uint_eq(lv.triples, (size_t)(next_put - next_take));
    ck_assert_uint_eq(lv.made_triples, (uint64_t)next_put);
  }
  /* rands and bits are independent FIFOs */
  fe r[7];
  fill_seq(r, 4, 50);
  ck_assert_int_eq(mpc_pool_put_rands(p, r, 4), CX_OK);
  fill_seq(r, 3, 60);
  ck_assert_int_eq(mpc_pool_put_bits(p, r, 3), CX_OK);
  fill_seq(r, 3, 54);
  ck_assert_int_eq(mpc_pool_put_rands(p, r, 3), CX_OK);
  ck_assert_int_eq(mpc_pool_take_rands(p, 5, r), CX_OK);
  for (int i = 0; i < 5; i++) ck_fe_eq(r[i], (fe)50 + i);
  ck_assert_int_eq(mpc_pool_take_bits(p, 2, r), CX_OK);
  ck_fe_eq(r[0], (fe)60);
  ck_fe_eq(r[1], (fe)61);
  fill_seq(r, 5, 70);
  ck_assert_int_eq(mpc_pool_put_rands(p, r, 5), CX_OK); /* 2 + 5 = cap, wraps */
  ck_assert_int_eq(mpc_pool_take_rands(p, 7, r), CX_OK);
  const fe want[7] = {55, 56, 70, 71, 72, 73, 74};
  for (int i = 0; i < 7; i++) ck_fe_eq(r[i], want[i]);
  mpc_pool_level lv;
  mpc_pool_level_get(p, &lv);
  ck_assert_uint_eq(lv.rands, 0);
  ck_assert_uint_eq(lv.bits, 1);
  ck_assert_uint_eq(lv.made_rands, 12);
  ck_assert_uint_eq(lv.made_bits, 3);
  ck_assert_uint_eq(lv.cap_rands, 7);
  ck_assert_uint_eq(lv.cap_bits, 5);
  /* ints: a fourth independent FIFO, bounded by its own cap */
  fill_seq(r, 3, 80);
  ck_assert_int_eq(mpc_pool_put_ints(p, r, 3), CX_OK);
  ck_assert_int_eq(mpc_pool_put_ints(p, r, 2), CX_E_FULL); /* 3 + 2 > 4: nothing added */
  ck_assert_int_eq(mpc_pool_take_ints(p, 4, r), CX_E_MPC_POOL_EMPTY);
  ck_assert_int_eq(mpc_pool_take_ints(p, 2, r), CX_OK);
  ck_fe_eq(r[0], (fe)80);
  ck_fe_eq(r[1], (fe)81);
  mpc_pool_level_get(p, &lv);
  ck_assert_uint_eq(lv.ints, 1);
  ck_assert_uint_eq(lv.made_ints, 3);
  ck_assert_uint_eq(lv.cap_ints, 4);
  ck_assert_uint_eq(lv.bits, 1); /* the others untouched */
  ck_assert_uint_eq(lv.rands, 0);
  uint64_t pos[MPC_POOL_KINDS];
  mpc_pool_position(p, pos);
  ck_assert_uint_eq(pos[2], 2);
  ck_assert_uint_eq(pos[3], 2);
  mpc_pool_free(p);
  mpc_pool_free(NULL);
}
END_TEST

START_TEST(test_pool_caps) {
  mpc_pool *p;
  ck_assert_int_eq(mpc_pool_new(3, 2, 0, 0, &p), CX_OK);
  fe v[4] = {1, 2, 3, 4}, o[4];
  ck_assert_int_eq(mpc_pool_put_triples(p, v, v, v, 4), CX_E_FULL);
  ck_assert_int_eq(mpc_pool_put_triples(p, v, v, v, 2), CX_OK);
  ck_assert_int_eq(mpc_pool_put_triples(p, v, v, v, 2), CX_E_FULL); /* nothing added */
  mpc_pool_level lv;
  mpc_pool_level_get(p, &lv);
  ck_assert_uint_eq(lv.triples, 2);
  ck_assert_uint_eq(lv.made_triples, 2);
  ck_assert_int_eq(mpc_pool_take_triples(p, 3, o, o, o), CX_E_MPC_POOL_EMPTY);
  mpc_pool_level_get(p, &lv);
  ck_assert_uint_eq(lv.triples, 2); /* nothing taken */
  ck_assert_int_eq(mpc_pool_take_triples(p, 2, o, o + 1, o + 2), CX_OK);
  ck_assert_int_eq(mpc_pool_take_rands(p, 1, o), CX_E_MPC_POOL_EMPTY);
  ck_assert_int_eq(mpc_pool_put_rands(p, v, 3), CX_E_FULL);
  ck_assert_int_eq(mpc_pool_put_rands(p, v, 2), CX_OK);
  ck_assert_int_eq(mpc_pool_put_rands(p, v, 1), CX_E_FULL);
  /* cap 0: only empty operations succeed */
  ck_assert_int_eq(mpc_pool_put_bits(p, v, 1), CX_E_FULL);
  ck_assert_int_eq(mpc_pool_put_bits(p, v, 0), CX_OK);
  ck_assert_int_eq(mpc_pool_take_bits(p, 0, o), CX_OK);
  ck_assert_int_eq(mpc_pool_take_bits(p, 1, o), CX_E_MPC_POOL_EMPTY);
  ck_assert_int_eq(mpc_pool_take_triples(p, 0, o, o, o), CX_OK);
  mpc_pool_level_get(p, &lv);
  ck_assert_uint_eq(lv.rands, 2);
  ck_assert_uint_eq(lv.bits, 0);
  ck_assert_uint_eq(lv.made_bits, 0);
  mpc_pool_free(p);
}
END_TEST

/* ---- pool digest ------------------------------------------------------ */

/* One step of filling or draining a pool: a labelled batch of nt triples,
 * nr rands and nb bits (random values: the digest must not depend on
 * them), or, when take is set, taking nt / nr / nb items. */
typedef struct {
  const uint8_t *label; /* NULL: no label */
  size_t nt, nr, nb;
  int take;
} pool_step;

static void rand_fes(fe *v, size_t count) {
  for (size_t i = 0; i < count; i++) v[i] = rand_fe();
}

/* A fresh pool (caps 64 each) after the steps, and its digest. */
static void digest_after(const pool_step *st, size_t nst, uint8_t out[32]) {
  mpc_pool *p;
  ck_assert_int_eq(mpc_pool_new(64, 64, 64, 64, &p), CX_OK);
  fe a[16], b[16], c[16];
  for (size_t i = 0; i < nst; i++) {
    ck_assert(st[i].nt <= 16 && st[i].nr <= 16 && st[i].nb <= 16);
    if (st[i].take) {
      ck_assert_int_eq(mpc_pool_take_triples(p, st[i].nt, a, b, c), CX_OK);
      ck_assert_int_eq(mpc_pool_take_rands(p, st[i].nr, a), CX_OK);
      ck_assert_int_eq(mpc_pool_take_bits(p, st[i].nb, a), CX_OK);
      continue;
    }
    mpc_pool_set_label(p, st[i].label);
    rand_fes(a, st[i].nt);
    rand_fes(b, st[i].nt);
    rand_fes(c, st[i].nt);
    ck_assert_int_eq(mpc_pool_put_triples(p, a, b, c, st[i].nt), CX_OK);
    rand_fes(a, st[i].nr);
    ck_assert_int_eq(mpc_pool_put_rands(p, a, st[i].nr), CX_OK);
    rand_fes(a, st[i].nb);
    ck_assert_int_eq(mpc_pool_put_bits(p, a, st[i].nb), CX_OK);
    mpc_pool_set_label(p, NULL);
  }
  mpc_pool_digest(p, out);
  uint8_t again[32];
  mpc_pool_digest(p, again); /* reading it changes nothing */
  ck_assert_mem_eq(out, again, 32);
  mpc_pool_free(p);
}

#define NSTEPS(a) (sizeof(a) / sizeof((a)[0]))

static void ck_digest_eq(const pool_step *x, size_t nx, const pool_step *y, size_t ny, int eq,
                         const char *what) {
  uint8_t dx[32], dy[32];
  digest_after(x, nx, dx);
  digest_after(y, ny, dy);
  ck_assert_msg((memcmp(dx, dy, 32) == 0) == eq, "%s: digests %s", what,
                eq ? "differ" : "are equal");
}

/* The empty pool's digest by its definition (pool.c, mpc_pool_digest):
 * BLAKE2b-256 of the domain tag, then per kind k = 0, 1, 2: k, position 0,
 * 0 items held (u64 little-endian), and no batches. */
static void empty_digest_ref(uint8_t out[32]) {
  crypto_generichash_state h;
  crypto_generichash_init(&h, NULL, 0, 32);
  crypto_generichash_update(&h, (const uint8_t *)"custos/mpc-pool-digest", 22);
  for (uint8_t k = 0; k < 4; k++) { /* triples, rands, bits, ints */
    uint8_t w[24] = {0};
    w[0] = k;
    crypto_generichash_update(&h, w, sizeof w);
  }
  crypto_generichash_final(&h, out, 32);
}

START_TEST(test_pool_digest) {
  uint8_t L1[32], L2[32], L3[32];
  tu_randbytes(L1, 32);
  tu_randbytes(L2, 32);
  tu_randbytes(L3, 32);

  /* the same batches in the same order (different share values): equal */
  const pool_step base[] = {{L1, 3, 2, 1, 0}, {L2, 2, 4, 0, 0}, {NULL, 1, 1, 0, 1}};
  ck_digest_eq(base, 3, base, 3, 1, "same batches");
  /* a batch put in two parts under one label is one batch */
  const pool_step split[] = {{L1, 1, 2, 0, 0}, {L1, 2, 0, 1, 0}, {L2, 2, 4, 0, 0}, {NULL, 1, 1, 0, 1}};
  ck_digest_eq(base, 3, split, NSTEPS(split), 1, "batch in two parts");

  /* a different label: for a batch still held, or put with no label */
  const pool_step lab[] = {{L1, 3, 2, 1, 0}, {L3, 2, 4, 0, 0}, {NULL, 1, 1, 0, 1}};
  ck_digest_eq(base, 3, lab, 3, 0, "different label");
  const pool_step nolab[] = {{L1, 3, 2, 1, 0}, {NULL, 2, 4, 0, 0}, {NULL, 1, 1, 0, 1}};
  ck_digest_eq(base, 3, nolab, 3, 0, "no label");

  /* a different count, of each kind */
  const pool_step cnt_t[] = {{L1, 3, 2, 1, 0}, {L2, 3, 4, 0, 0}, {NULL, 1, 1, 0, 1}};
  const pool_step cnt_r[] = {{L1, 3, 2, 1, 0}, {L2, 2, 3, 0, 0}, {NULL, 1, 1, 0, 1}};
  const pool_step cnt_b[] = {{L1, 3, 2, 2, 0}, {L2, 2, 4, 0, 0}, {NULL, 1, 1, 0, 1}};
  ck_digest_eq(base, 3, cnt_t, 3, 0, "one triple more");
  ck_digest_eq(base, 3, cnt_r, 3, 0, "one rand fewer");
  ck_digest_eq(base, 3, cnt_b, 3, 0, "one bit more");
  /* the same totals, split differently between the two batches */
  const pool_step shift[] = {{L1, 2, 2, 1, 0}, {L2, 3, 4, 0, 0}, {NULL, 1, 1, 0, 1}};
  ck_digest_eq(base, 3, shift, 3, 0, "a triple moved to the other batch");

  /* a different order: equal-sized batches, so only the order differs */
  const pool_step ab[] = {{L1, 2, 2, 2, 0}, {L2, 2, 2, 2, 0}};
  const pool_step ba[] = {{L2, 2, 2, 2, 0}, {L1, 2, 2, 2, 0}};
  ck_digest_eq(ab, 2, ab, 2, 1, "same order");
  ck_digest_eq(ab, 2, ba, 2, 0, "batches swapped");

  /* one more take, of each kind, inside a batch or emptying one */
  const pool_step take_t[] = {{L1, 3, 2, 1, 0}, {L2, 2, 4, 0, 0}, {NULL, 1, 1, 0, 1}, {NULL, 1, 0, 0, 1}};
  const pool_step take_r[] = {{L1, 3, 2, 1, 0}, {L2, 2, 4, 0, 0}, {NULL, 1, 1, 0, 1}, {NULL, 0, 1, 0, 1}};
  const pool_step take_b[] = {{L1, 3, 2, 1, 0}, {L2, 2, 4, 0, 0}, {NULL, 1, 1, 0, 1}, {NULL, 0, 0, 1, 1}};
  ck_digest_eq(base, 3, take_t, 4, 0, "one more triple taken");
  ck_digest_eq(base, 3, take_r, 4, 0, "one more rand taken (L1's rands all gone)");
  ck_digest_eq(base, 3, take_b, 4, 0, "one more bit taken (the pool has none left)");

  /* the empty pool: stable, whatever the caps or a label set without
   * putting anything, and as defined; an emptied pool is not a fresh one
   * (its position differs) */
  uint8_t ref[32], d[32];
  empty_digest_ref(ref);
  digest_after(NULL, 0, d);
  ck_assert_mem_eq(d, ref, 32);
  mpc_pool *p;
  ck_assert_int_eq(mpc_pool_new(0, 1, 1000, 0, &p), CX_OK);
  mpc_pool_digest(p, d);
  ck_assert_mem_eq(d, ref, 32);
  mpc_pool_set_label(p, L1);
  fe v[1] = {5};
  ck_assert_int_eq(mpc_pool_put_rands(p, v, 0), CX_OK);
  mpc_pool_digest(p, d);
  ck_assert_mem_eq(d, ref, 32);
  mpc_pool_free(p);
  const pool_step drained[] = {{L1, 1, 0, 0, 0}, {NULL, 1, 0, 0, 1}};
  digest_after(drained, 2, d);
  ck_assert_msg(memcmp(d, ref, 32) != 0, "a drained pool has the fresh pool's digest");
}
END_TEST

START_TEST(test_fe_alloc) {
  fe *p = fe_alloc(100);
  ck_assert_ptr_nonnull(p);
  for (int i = 0; i < 100; i++) ck_fe_eq(p[i], (fe)0);
  ck_assert_uint_eq((uintptr_t)p % sizeof(fe), 0);
  p[99] = FE_P - 1;
  fe_free(p);
  fe *z = fe_alloc(0);
  ck_assert_ptr_nonnull(z);
  fe_free(z);
  fe_free(NULL);
  ck_assert_ptr_null(fe_alloc(SIZE_MAX / 8));
  /* A freed block may serve a smaller request of a nearby size class
   * (mpc/pool.c, FE_CACHE_UP): it comes back all zero, whole, however
   * it was written, and blocks live at once are apart. */
  fe *big = fe_alloc(1000);
  ck_assert_ptr_nonnull(big);
  for (int i = 0; i < 1000; i++) big[i] = (fe)(i + 1);
  fe_free(big);
  fe *a = fe_alloc(700), *b = fe_alloc(700);
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  for (int i = 0; i < 700; i++) {
    ck_fe_eq(a[i], (fe)0);
    ck_fe_eq(b[i], (fe)0);
    a[i] = 1;
  }
  for (int i = 0; i < 700; i++) ck_fe_eq(b[i], (fe)0);
  fe_free(a);
  fe_free(b);
}
END_TEST

static Suite *mpc_field_suite(void) {
  Suite *s = suite_create("mpc_field");
  TCase *tc = tcase_create("field");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_field_known);
  tcase_add_test(tc, test_field_vs_reference);
  tcase_add_test(tc, test_field_i64);
  tcase_add_test(tc, test_field_pow_inv_sqrt);
  tcase_add_test(tc, test_field_sqrt_vec);
  tcase_add_test(tc, test_field_sqrt_simd_random);
  tcase_add_test(tc, test_field_batch_inv);
  tcase_add_test(tc, test_field_encode);
  tcase_add_test(tc, test_field_prg);
  suite_add_tcase(s, tc);

  tc = tcase_create("shamir");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_shamir_init_args);
  tcase_add_test(tc, test_shamir_dual_identity);
  tcase_add_test(tc, test_shamir_share_reconstruct);
  tcase_add_test(tc, test_shamir_check_detects);
  tcase_add_test(tc, test_shamir_open_errors);
  tcase_add_test(tc, test_shamir_open_erasures);
  tcase_add_test(tc, test_shamir_open_vs_brute);
  tcase_add_test(tc, test_shamir_bw_unit);
  tcase_add_test(tc, test_shamir_extract);
  tcase_add_test(tc, test_shamir_fast_paths);
  tcase_add_test(tc, test_shamir_extract_uniform);
  tcase_add_test(tc, test_shamir_privacy_stat);
  suite_add_tcase(s, tc);

  tc = tcase_create("pool");
  tcase_add_test(tc, test_pool_fifo);
  tcase_add_test(tc, test_pool_caps);
  tcase_add_test(tc, test_pool_digest);
  tcase_add_test(tc, test_fe_alloc);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(mpc_field_suite());
}
