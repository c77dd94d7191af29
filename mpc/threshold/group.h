/* group.h: ristretto255 helpers shared by frost.c, dkg.c and beacon.c
 * (internal to mpc/threshold; not a public header). The identity element is
 * represented by 32 zero bytes throughout: libsodium refuses to output it,
 * and RFC 9591 §6.2 refuses it on input, so it only ever arises inside a
 * computation (a zero scalar, a product with the identity). */
#ifndef CUSTOS_THRESHOLD_GROUP_H
#define CUSTOS_THRESHOLD_GROUP_H
#include <sodium.h>
#include <string.h>

#include "error.h"
#include "frost.h"

/* sodium_init is idempotent and thread-safe: every allocating entry point
 * calls this. */
static inline void th_init(void) { CX_ASSERT(sodium_init() >= 0); }

static inline int is_zero32(const uint8_t b[32]) { return sodium_is_zero(b, 32); }

/* G * s; the identity when s == 0. */
static inline void mul_base(const frost_scalar *s, frost_element *out) {
  if (crypto_scalarmult_ristretto255_base(out->b, s->b) != 0) memset(out->b, 0, 32);
}

/* P * s; the identity when the product is (s == 0 or P the identity: the
 * group has prime order). */
static inline void mul(const frost_scalar *s, const frost_element *p, frost_element *out) {
  if (is_zero32(p->b) || crypto_scalarmult_ristretto255(out->b, s->b, p->b) != 0) memset(out->b, 0, 32);
}

/* Both operands are valid encodings (checked on entry or computed here). */
static inline void add(const frost_element *a, const frost_element *b, frost_element *out) {
  if (crypto_core_ristretto255_add(out->b, a->b, b->b) != 0) CX_ASSERT(!"ristretto add");
}

static inline void sub(const frost_element *a, const frost_element *b, frost_element *out) {
  if (crypto_core_ristretto255_sub(out->b, a->b, b->b) != 0) CX_ASSERT(!"ristretto sub");
}

/* f(id) = a_0 + a_1 id + ... + a_{t-1} id^{t-1} by Horner (RFC 9591
 * Appendix C.1 polynomial_evaluate). */
static inline void poly_eval(const frost_scalar *a, size_t t, uint16_t id, frost_scalar *out) {
  frost_scalar x, acc = {{0}};
  frost_id_scalar(id, &x);
  for (size_t j = t; j-- > 0;) {
    crypto_core_ristretto255_scalar_mul(acc.b, acc.b, x.b);
    crypto_core_ristretto255_scalar_add(acc.b, acc.b, a[j].b);
  }
  *out = acc;
  sodium_memzero(&acc, sizeof acc);
}

#endif
