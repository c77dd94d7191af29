/* The MPC prime field: GF(p) with p = 2^k - 1 a Mersenne prime (internal to mpc/).
 *
 * Production builds use k = 127 (docs/mpc.md, "Field"): a signed 64-bit value
 * plus a 40-bit statistical mask fits with room to spare, and reduction
 * modulo 2^k - 1 is two shifts and adds. Test builds may compile the same
 * sources with -DMPC_FIELD_BITS=31 (p = 2^31 - 1) so a toy configuration can
 * be checked exhaustively; the code never assumes k = 127 except through the
 * macros below.
 *
 * An element is an unsigned __int128 holding the canonical representative
 * 0 <= x < p. Every function here takes and returns canonical values. */
#ifndef CUSTOS_MPC_FIELD_H
#define CUSTOS_MPC_FIELD_H

#include <stddef.h>
#include <stdint.h>

#ifndef MPC_FIELD_BITS
#define MPC_FIELD_BITS 127
#endif
#if MPC_FIELD_BITS != 127 && MPC_FIELD_BITS != 31 && MPC_FIELD_BITS != 61 && MPC_FIELD_BITS != 13
#error "MPC_FIELD_BITS must be the exponent of a Mersenne prime: 13, 31, 61 or 127"
#endif

typedef unsigned __int128 fe;

#define FE_P ((((fe)1) << MPC_FIELD_BITS) - 1)
#define FE_BYTES 16 /* wire size of one element, little-endian */

/* Statistical security parameter of the comparison and truncation protocols
 * (Catrina–de Hoogh masks): 40 bits in the production field; the toy field
 * has no room for that and uses 8 (tests only). A k-bit signed value may be
 * compared only if k + MPC_KAPPA + 1 < MPC_FIELD_BITS. */
#if MPC_FIELD_BITS == 127
#define MPC_KAPPA 40
#else
#define MPC_KAPPA 8
#endif

/* x < 2p. Branch-free: x >= p exactly when x + 1 carries into bit k, and
 * then x - p = (x + 1) mod 2^k. A data-dependent branch here would be
 * mispredicted about half the time on uniform field elements (and would
 * leak through timing). */
static inline fe fe_reduce_once(fe x) {
  return (x + ((x + 1) >> MPC_FIELD_BITS)) & FE_P;
}
static inline fe fe_add(fe a, fe b) { return fe_reduce_once(a + b); }
static inline fe fe_sub(fe a, fe b) { return fe_reduce_once(a + (FE_P - b)); } /* < 2p */
static inline fe fe_neg(fe a) { return fe_reduce_once(FE_P - a); }             /* p -> 0 */

static inline fe fe_mul(fe a, fe b) {
#if MPC_FIELD_BITS == 127
  /* 254-bit product hi * 2^128 + lo from four 64x64 products; then
   * 2^127 = 1 (mod p) folds it to (lo mod 2^127) + (product >> 127), a sum
   * of two values < 2^127, so one conditional subtraction finishes. */
  uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64);
  uint64_t b0 = (uint64_t)b, b1 = (uint64_t)(b >> 64);
  fe t0 = (fe)a0 * b0, t3 = (fe)a1 * b1;
  fe mid = (fe)a0 * b1 + (fe)a1 * b0;          /* each < 2^127: no overflow */
  fe lo = t0 + (mid << 64);
  fe hi = t3 + (mid >> 64) + (lo < t0);         /* carry out of lo; hi < 2^126 */
  fe top = (hi << 1) | (lo >> 127);             /* product >> 127, < 2^127 */
  return fe_reduce_once((lo & FE_P) + top);
#else
  fe x = a * b; /* < 2^(2k) <= 2^122 */
  x = (x & FE_P) + (x >> MPC_FIELD_BITS); /* < 2^(k+1): reduce_once applies */
  return fe_reduce_once(x);
#endif
}
/* a^2 with three 64x64 products (the cross term once, doubled): the
 * square roots of the random-bit protocol are 125 squarings each. */
static inline fe fe_sqr(fe a) {
#if MPC_FIELD_BITS == 127
  uint64_t a0 = (uint64_t)a, a1 = (uint64_t)(a >> 64);
  fe t0 = (fe)a0 * a0, t3 = (fe)a1 * a1;
  fe mid = ((fe)a0 * a1) << 1; /* a0 a1 < 2^127: doubled < 2^128 */
  fe lo = t0 + (mid << 64);
  fe hi = t3 + (mid >> 64) + (lo < t0);
  fe top = (hi << 1) | (lo >> 127);
  return fe_reduce_once((lo & FE_P) + top);
#else
  return fe_mul(a, a);
#endif
}

static inline fe fe_from_u64(uint64_t v) { return fe_reduce_once((fe)v % FE_P); }
/* Two's-complement embedding: v >= 0 maps to v, v < 0 to p - |v|. */
static inline fe fe_from_i64(int64_t v) {
  if (v >= 0) return (fe)(uint64_t)v % FE_P;
  fe m = (fe)(uint64_t)(-(v + 1)) + 1; /* |v| without overflow at INT64_MIN */
  return fe_neg(m % FE_P); /* m may be a multiple of p in the toy fields */
}
/* Centered lift: x > (p-1)/2 is read as x - p. Exact when the value is in
 * int64 range; callers check ranges where it matters. */
static inline int64_t fe_to_i64(fe x) {
  /* Negate in uint64_t: -(int64_t)2^63 would overflow at INT64_MIN. */
  if (x > FE_P / 2) return (int64_t)(0 - (uint64_t)(FE_P - x));
  return (int64_t)(uint64_t)x;
}

/* a^e for any e (square and multiply). */
fe fe_pow(fe a, fe e);
/* a^-1; a must be nonzero (0 maps to 0). */
fe fe_inv(fe a);
/* 1 and *out = a square root of a if a is a square (p = 3 mod 4, so
 * a^((p+1)/4)); 0 otherwise. */
int fe_sqrt(fe a, fe *out);
/* fe_sqrt of a[0..n) into out[0..n): the same roots, many independent
 * chains of squarings at a time (with AVX-512 IFMA where the CPU has it in
 * the production field: about 4x faster; field.c). Returns n when every
 * a[i] is a square, else the first i that is not (out[i] is then not a
 * root). */
size_t fe_sqrt_vec(const fe *a, fe *out, size_t n);
/* For tests and benchmarks: enable (1) or disable (0) fe_sqrt_vec's SIMD
 * path. Returns 1 if it is now in use (enabled, built for this field and
 * present on this CPU). The default is on where present. */
int fe_sqrt_simd(int enable);
/* Inverts count nonzero elements in place with one inversion (Montgomery's
 * trick); zeros are left zero. scratch holds count elements. */
void fe_batch_inv(fe *v, size_t count, fe *scratch);

void fe_encode(fe a, uint8_t out[FE_BYTES]);
/* 0 if in is a canonical element (< p), -1 otherwise. */
int fe_decode(const uint8_t in[FE_BYTES], fe *out);
/* Vectors: FE_BYTES * count bytes. Decode fails (-1) on any non-canonical
 * element. */
void fe_encode_vec(const fe *v, size_t count, uint8_t *out);
int fe_decode_vec(const uint8_t *in, size_t count, fe *out);

/* count uniform elements from ChaCha20 keyed by key, nonce selecting an
 * independent stream: deterministic, so a party's dealing can be replayed
 * from its seed (docs/mpc.md, "Audit"). Rejection sampling of k-bit words. */
void fe_prg(const uint8_t key[32], uint64_t nonce, fe *out, size_t count);
/* Tests: 1 makes fe_prg draw its stream from libsodium only (the same
 * bytes as the OpenSSL path, field.c), 0 restores the default. */
void fe_prg_sodium(int on);

#endif
