/* The MPC prime field GF(2^k - 1): the non-inline operations (field.h).
 *
 * Inversion and square roots are exponentiations (Fermat's little theorem;
 * p = 3 mod 4 for every Mersenne prime k >= 3); the wire form is 16 bytes
 * little-endian with a canonical check; the PRG is ChaCha20 (RFC 8439) with
 * rejection sampling so its output is exactly uniform. */
#include "field.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>

#include "error.h"

fe fe_pow(fe a, fe e) {
  fe r = 1;
  /* Left-to-right square and multiply over the bits of e. */
  for (int i = 127; i >= 0; i--) {
    r = fe_sqr(r);
    if ((e >> i) & 1) r = fe_mul(r, a);
  }
  return r;
}

/* a^(p-2) = a^-1 for a != 0 (Fermat); 0^(p-2) = 0 as the header promises. */
fe fe_inv(fe a) { return fe_pow(a, FE_P - 2); }

/* p = 2^k - 1 = 3 mod 4, so (p+1)/4 = 2^(k-2) and a^((p+1)/4) is k-2
 * squarings: a root whenever a is a square (Euler's criterion). */
int fe_sqrt(fe a, fe *out) {
  fe r = a;
  for (int i = 0; i < MPC_FIELD_BITS - 2; i++) r = fe_sqr(r);
  if (fe_sqr(r) != a) return 0;
  *out = r;
  return 1;
}

/* ---- square roots of many elements (the random bits' r^2) ---------------
 *
 * A root is a^(2^(k-2)): 125 dependent squarings in the production field,
 * about 0.46 us at 3.7 ns each with the 64x64 multiplier, and every party
 * takes one for each random bit it makes (a quarter of a 64-bit
 * comparison's CPU in bench_mpc, a fifth of a call's MPC thread in
 * bench_calls). Where the CPU has AVX-512 IFMA (52-bit multiply-add, eight
 * 64-bit lanes), eight chains run in one register: measured 0.105 against
 * 0.455 us a root on this project's machines (same values, bit for bit).
 *
 * Representation (IFMA path only): a value below 2^129 in three limbs of
 * 43 bits, x = l0 + l1 2^43 + l2 2^86, congruent to the element mod p. A
 * square's partial products l_i l_j (inputs below 2^45, so products below
 * 2^90) come from IFMA as low 52 bits at weight 2^(43(i+j)) and high bits
 * at 2^(43(i+j)+52) = 2^(43(i+j+1)+9); the five weights 2^(43m), m = 0..5,
 * fold with 2^129 = 4 (mod p): 2^(43(m+3)) = 4 * 2^(43m). One carry pass
 * (43-bit masks, the top carry times 4 back into l0) leaves l1, l2 below
 * 2^43 and l0 below 2^44: inputs for the next square stay below 2^52, and
 * every lane sum below 2^57. The roots are public values (opened squares),
 * so nothing here needs wiping. */
static void sqrt_scalar(const fe *a, fe *out, size_t n) {
  /* Eight independent chains at a time keep the multiplier busy while each
   * waits on its previous square. */
  enum { W = 8 };
  size_t i = 0;
  for (; i + W <= n; i += W) {
    fe r[W];
    for (int j = 0; j < W; j++) r[j] = a[i + j];
    for (int k = 0; k < MPC_FIELD_BITS - 2; k++)
      for (int j = 0; j < W; j++) r[j] = fe_sqr(r[j]);
    for (int j = 0; j < W; j++) out[i + j] = r[j];
  }
  for (; i < n; i++) {
    fe r = a[i];
    for (int k = 0; k < MPC_FIELD_BITS - 2; k++) r = fe_sqr(r);
    out[i] = r;
  }
}

#if MPC_FIELD_BITS == 127 && defined(__x86_64__) && defined(__GNUC__)
#define FE_IFMA 1
#include <immintrin.h>

#define IFMA_TARGET __attribute__((target("avx512f,avx512ifma")))
#define L43 ((UINT64_C(1) << 43) - 1)

typedef struct {
  __m512i l0, l1, l2;
} v8;

IFMA_TARGET static inline v8 v8_sqr(v8 a) {
  const __m512i z = _mm512_setzero_si512(), m = _mm512_set1_epi64((long long)L43);
  __m512i d0 = _mm512_add_epi64(a.l0, a.l0), d1 = _mm512_add_epi64(a.l1, a.l1);
  /* x^2 = l0^2 + 2 l0 l1 2^43 + (l1^2 + 2 l0 l2) 2^86 + 2 l1 l2 2^129 + l2^2 2^172 */
  __m512i c0 = _mm512_madd52lo_epu64(z, a.l0, a.l0);
  __m512i c1 = _mm512_madd52lo_epu64(z, d0, a.l1);
  __m512i c2 = _mm512_madd52lo_epu64(_mm512_madd52lo_epu64(z, a.l1, a.l1), d0, a.l2);
  __m512i c3 = _mm512_madd52lo_epu64(z, d1, a.l2);
  __m512i c4 = _mm512_madd52lo_epu64(z, a.l2, a.l2);
  __m512i h1 = _mm512_madd52hi_epu64(z, a.l0, a.l0);
  __m512i h2 = _mm512_madd52hi_epu64(z, d0, a.l1);
  __m512i h3 = _mm512_madd52hi_epu64(_mm512_madd52hi_epu64(z, a.l1, a.l1), d0, a.l2);
  __m512i h4 = _mm512_madd52hi_epu64(z, d1, a.l2);
  __m512i h5 = _mm512_madd52hi_epu64(z, a.l2, a.l2);
  c1 = _mm512_add_epi64(c1, _mm512_slli_epi64(h1, 9));
  c2 = _mm512_add_epi64(c2, _mm512_slli_epi64(h2, 9));
  c3 = _mm512_add_epi64(c3, _mm512_slli_epi64(h3, 9));
  c4 = _mm512_add_epi64(c4, _mm512_slli_epi64(h4, 9));
  __m512i c5 = _mm512_slli_epi64(h5, 9);
  __m512i r0 = _mm512_add_epi64(c0, _mm512_slli_epi64(c3, 2));
  __m512i r1 = _mm512_add_epi64(c1, _mm512_slli_epi64(c4, 2));
  __m512i r2 = _mm512_add_epi64(c2, _mm512_slli_epi64(c5, 2));
  r1 = _mm512_add_epi64(r1, _mm512_srli_epi64(r0, 43));
  r0 = _mm512_and_si512(r0, m);
  r2 = _mm512_add_epi64(r2, _mm512_srli_epi64(r1, 43));
  r1 = _mm512_and_si512(r1, m);
  r0 = _mm512_add_epi64(r0, _mm512_slli_epi64(_mm512_srli_epi64(r2, 43), 2));
  r2 = _mm512_and_si512(r2, m);
  return (v8){r0, r1, r2};
}

/* Roots of a[0..n) for n a multiple of 32: four registers of eight chains
 * in flight (one alone waits on its own latency; measured: 0.144 us a root
 * with one, 0.105 with four). */
IFMA_TARGET static void sqrt_ifma(const fe *a, fe *out, size_t n) {
  enum { R = 4 };
  for (size_t i = 0; i < n; i += 8 * R) {
    v8 x[R];
    for (int v = 0; v < R; v++) {
      uint64_t l0[8], l1[8], l2[8];
      for (int j = 0; j < 8; j++) {
        fe e = a[i + 8 * (size_t)v + (size_t)j];
        l0[j] = (uint64_t)e & L43;
        l1[j] = (uint64_t)(e >> 43) & L43;
        l2[j] = (uint64_t)(e >> 86);
      }
      x[v] = (v8){_mm512_loadu_si512(l0), _mm512_loadu_si512(l1), _mm512_loadu_si512(l2)};
    }
    for (int k = 0; k < MPC_FIELD_BITS - 2; k++)
      for (int v = 0; v < R; v++) x[v] = v8_sqr(x[v]);
    for (int v = 0; v < R; v++) {
      uint64_t l0[8], l1[8], l2[8];
      _mm512_storeu_si512(l0, x[v].l0);
      _mm512_storeu_si512(l1, x[v].l1);
      _mm512_storeu_si512(l2, x[v].l2);
      for (int j = 0; j < 8; j++) {
        /* l2 2^86 may pass 2^128: its bits from 2^127 up fold to 1 each */
        fe e = (fe)l0[j] + ((fe)l1[j] << 43) + ((fe)(l2[j] & ((UINT64_C(1) << 41) - 1)) << 86) +
               (l2[j] >> 41);
        out[i + 8 * (size_t)v + (size_t)j] = fe_reduce_once((e & FE_P) + (e >> 127));
      }
    }
  }
}

static _Atomic int sqrt_simd_off; /* tests: fe_sqrt_simd(0) */

/* __builtin_cpu_supports reads what libgcc found at start-up: a load. */
static int sqrt_simd_on(void) {
  return !atomic_load_explicit(&sqrt_simd_off, memory_order_relaxed) &&
         __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
}

int fe_sqrt_simd(int enable) {
  atomic_store_explicit(&sqrt_simd_off, !enable, memory_order_relaxed);
  return sqrt_simd_on();
}
#else
int fe_sqrt_simd(int enable) {
  (void)enable;
  return 0;
}
#endif

size_t fe_sqrt_vec(const fe *a, fe *out, size_t n) {
  size_t done = 0;
#ifdef FE_IFMA
  if (sqrt_simd_on()) {
    done = n / 32 * 32;
    sqrt_ifma(a, out, done);
  }
#endif
  sqrt_scalar(a + done, out + done, n - done);
  for (size_t i = 0; i < n; i++)
    if (fe_sqr(out[i]) != a[i]) return i;
  return n;
}

/* Montgomery's trick: prefix products, one inversion, then walk back. */
void fe_batch_inv(fe *v, size_t count, fe *scratch) {
  fe acc = 1;
  for (size_t i = 0; i < count; i++) {
    scratch[i] = acc; /* product of the nonzero v[0..i) */
    if (v[i]) acc = fe_mul(acc, v[i]);
  }
  fe inv = fe_inv(acc);
  for (size_t i = count; i-- > 0;) {
    if (!v[i]) continue;
    fe vi = v[i];
    v[i] = fe_mul(inv, scratch[i]);
    inv = fe_mul(inv, vi);
  }
}

/* The wire form is the element's 16 bytes little-endian, which on a
 * little-endian host is exactly its in-memory form: the vector codecs are
 * then a memcpy, plus for decoding one pass that tests every element
 * against p. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define FE_WIRE_IS_NATIVE 1
#else
#define FE_WIRE_IS_NATIVE 0
#endif

static fe load_le128(const uint8_t *p) {
#if FE_WIRE_IS_NATIVE
  fe v;
  memcpy(&v, p, sizeof v);
  return v;
#else
  fe v = 0;
  for (int i = FE_BYTES - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
#endif
}

void fe_encode(fe a, uint8_t out[FE_BYTES]) {
#if FE_WIRE_IS_NATIVE
  memcpy(out, &a, FE_BYTES);
#else
  for (int i = 0; i < FE_BYTES; i++) out[i] = (uint8_t)(a >> (8 * i));
#endif
}

int fe_decode(const uint8_t in[FE_BYTES], fe *out) {
  fe v = load_le128(in);
  if (v >= FE_P) return -1; /* also rejects any bit at or above bit k */
  *out = v;
  return 0;
}

void fe_encode_vec(const fe *v, size_t count, uint8_t *out) {
#if FE_WIRE_IS_NATIVE
  if (count) memcpy(out, v, count * FE_BYTES);
#else
  for (size_t i = 0; i < count; i++) fe_encode(v[i], out + i * FE_BYTES);
#endif
}

int fe_decode_vec(const uint8_t *in, size_t count, fe *out) {
#if FE_WIRE_IS_NATIVE
  if (!count) return 0;
  memcpy(out, in, count * FE_BYTES);
  /* No early exit: a branch-free OR over the batch; on failure out holds
   * garbage, which the header allows. */
  unsigned bad = 0;
  for (size_t i = 0; i < count; i++) bad |= out[i] >= FE_P;
  return bad ? -1 : 0;
#else
  for (size_t i = 0; i < count; i++)
    if (fe_decode(in + i * FE_BYTES, &out[i])) return -1;
  return 0;
#endif
}

/* Keystream is produced in blocks of this many bytes (a multiple of the
 * 64-byte ChaCha20 block, so consecutive calls continue the counter). */
#define PRG_BUF 8192

/* The keystream comes from OpenSSL's ChaCha20 where it pays: 3.6 GB/s
 * against libsodium's 0.6 GB/s on this project's machines (AVX-512; the
 * PRSS expansion of a prep batch draws megabytes), the same bytes (RFC
 * 8439 with a 32-bit counter: OpenSSL's 16-byte IV is the counter
 * little-endian, then the nonce). Keying an EVP context costs about a
 * microsecond, so short draws (a client's dealing, a challenge) stay with
 * libsodium, as does any draw for which OpenSSL cannot run (no memory).
 * EVP_CIPHER_CTX_free cleanses the key schedule. test_mpc_field checks
 * both paths against libsodium's ChaCha20 stream and each other. */
#define PRG_OSSL_MIN 1024

static const uint8_t prg_zero[PRG_BUF];

static EVP_CIPHER_CTX *prg_ossl(const uint8_t key[32], const uint8_t iv12[12]) {
  uint8_t iv[16] = {0}; /* counter 0, then the nonce */
  memcpy(iv + 4, iv12, 12);
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  if (c && EVP_EncryptInit_ex(c, EVP_chacha20(), NULL, key, iv) != 1) {
    EVP_CIPHER_CTX_free(c);
    c = NULL;
  }
  return c;
}

static _Atomic int prg_force_sodium; /* tests: fe_prg_sodium */

void fe_prg_sodium(int on) { atomic_store_explicit(&prg_force_sodium, on, memory_order_relaxed); }

/* fe_prg: the stream is ChaCha20-IETF (RFC 8439) under key with the 12-byte
 * nonce = nonce as 8 bytes little-endian followed by 4 zero bytes, counter
 * from 0. Each 16-byte little-endian word of the keystream is masked to k
 * bits; the value p (the only k-bit value that is not canonical) is rejected
 * and the next word taken. Element i therefore depends only on the stream
 * prefix, so fe_prg(k, n, out, 10) is the first 10 of fe_prg(k, n, out, 1000)
 * (a replayed dealing reproduces a prefix exactly: docs/mpc.md, "Audit"). */
void fe_prg(const uint8_t key[32], uint64_t nonce, fe *out, size_t count) {
  uint8_t iv[crypto_stream_chacha20_ietf_NONCEBYTES] = {0};
  for (int i = 0; i < 8; i++) iv[i] = (uint8_t)(nonce >> (8 * i));
  /* The keystream is as secret as the shares drawn from it: keep it off
   * the heap and wipe it. */
  uint8_t buf[PRG_BUF];
  uint32_t block = 0; /* ChaCha20 block counter of buf[0] */
  size_t got = 0;
  EVP_CIPHER_CTX *c =
      !atomic_load_explicit(&prg_force_sodium, memory_order_relaxed) && count * FE_BYTES >= PRG_OSSL_MIN
          ? prg_ossl(key, iv)
          : NULL;
  while (got < count) {
    size_t want = (count - got) * FE_BYTES;
    size_t len = want < PRG_BUF ? (want + 63) / 64 * 64 : PRG_BUF;
    /* 2^32 blocks of 64 bytes = 2^34 elements per (key, nonce): far beyond
     * any batch (the RFC 8439 counter must not wrap). */
    CX_ASSERT(block <= UINT32_MAX - len / 64);
    int ol = 0;
    /* The context's stream position is block's: it has been asked for
     * exactly the 64-byte blocks before (len is a multiple of 64). */
    if (!c || EVP_EncryptUpdate(c, buf, &ol, prg_zero, (int)len) != 1 || (size_t)ol != len) {
      EVP_CIPHER_CTX_free(c);
      c = NULL;
      memset(buf, 0, len);
      crypto_stream_chacha20_ietf_xor_ic(buf, buf, len, iv, block, key);
    }
    block += (uint32_t)(len / 64);
    for (size_t off = 0; off + FE_BYTES <= len && got < count; off += FE_BYTES) {
      fe v = load_le128(buf + off) & FE_P;
      if (v != FE_P) out[got++] = v;
    }
  }
  EVP_CIPHER_CTX_free(c);
  sodium_memzero(buf, sizeof buf);
  sodium_memzero(iv, sizeof iv);
}
