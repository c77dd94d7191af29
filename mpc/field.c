/* The MPC prime field GF(2^k - 1): the non-inline operations (field.h).
 *
 * Inversion and square roots are exponentiations (Fermat's little theorem;
 * p = 3 mod 4 for every Mersenne prime k >= 3); the wire form is 16 bytes
 * little-endian with a canonical check; the PRG is ChaCha20 (RFC 8439) with
 * rejection sampling so its output is exactly uniform. */
#include "field.h"

#include <sodium.h>
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

size_t fe_sqrt_vec(const fe *a, fe *out, size_t n) {
  /* 125 dependent squarings per element: eight elements at a time keep the
   * multiplier busy while each chain waits on its previous square. */
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
  for (i = 0; i < n; i++)
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
  while (got < count) {
    size_t want = (count - got) * FE_BYTES;
    size_t len = want < PRG_BUF ? (want + 63) / 64 * 64 : PRG_BUF;
    /* 2^32 blocks of 64 bytes = 2^34 elements per (key, nonce): far beyond
     * any batch (the RFC 8439 counter must not wrap). */
    CX_ASSERT(block <= UINT32_MAX - len / 64);
    memset(buf, 0, len);
    crypto_stream_chacha20_ietf_xor_ic(buf, buf, len, iv, block, key);
    block += (uint32_t)(len / 64);
    for (size_t off = 0; off + FE_BYTES <= len && got < count; off += FE_BYTES) {
      fe v = load_le128(buf + off) & FE_P;
      if (v != FE_P) out[got++] = v;
    }
  }
  sodium_memzero(buf, sizeof buf);
  sodium_memzero(iv, sizeof iv);
}
