/* FROST(ristretto255, SHA-512), RFC 9591 (see frost.h, docs/threshold.md).
 * Section numbers in comments are the RFC's. */
#include "frost.h"
#include "group.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#define CTX_LEN (sizeof FROST_CONTEXT - 1)

/* ---- encodings ---- */

void frost_id_scalar(uint16_t id, frost_scalar *out) {
  CX_ASSERT(id != 0);
  memset(out->b, 0, sizeof out->b);
  out->b[0] = (uint8_t)(id & 0xff);
  out->b[1] = (uint8_t)(id >> 8);
}

int frost_scalar_canonical(const uint8_t b[32]) {
  /* Below L exactly when reducing it changes nothing. */
  uint8_t wide[64] = {0}, red[32];
  memcpy(wide, b, 32);
  crypto_core_ristretto255_scalar_reduce(red, wide);
  int ok = sodium_memcmp(red, b, 32) == 0;
  sodium_memzero(wide, sizeof wide);
  sodium_memzero(red, sizeof red);
  return ok;
}


cx_err frost_element_check(const uint8_t b[32]) {
  if (!crypto_core_ristretto255_is_valid_point(b)) return CX_E_NONCANONICAL;
  /* The identity's canonical encoding is 32 zero bytes; §6.2 refuses it. */
  if (is_zero32(b)) return CX_E_BAD_KEY;
  return CX_OK;
}

void frost_wipe(void *p, size_t len) { sodium_memzero(p, len); }

/* Group helpers (th_init, mul_base, mul, add, sub, poly_eval): group.h. */

/* ---- hash functions (§6.2) ---- */

static void h_init(crypto_hash_sha512_state *st, const char *tag) {
  crypto_hash_sha512_init(st);
  crypto_hash_sha512_update(st, (const uint8_t *)FROST_CONTEXT, CTX_LEN);
  crypto_hash_sha512_update(st, (const uint8_t *)tag, strlen(tag));
}

static void h_to_scalar(crypto_hash_sha512_state *st, frost_scalar *out) {
  uint8_t d[64];
  crypto_hash_sha512_final(st, d);
  crypto_core_ristretto255_scalar_reduce(out->b, d);
  sodium_memzero(d, sizeof d);
  sodium_memzero(st, sizeof *st);
}

static void h_scalar(const char *tag, const uint8_t *m, size_t len, frost_scalar *out) {
  crypto_hash_sha512_state st;
  h_init(&st, tag);
  crypto_hash_sha512_update(&st, m, len);
  h_to_scalar(&st, out);
}

static void h_digest(const char *tag, const uint8_t *m, size_t len, uint8_t out[64]) {
  crypto_hash_sha512_state st;
  h_init(&st, tag);
  crypto_hash_sha512_update(&st, m, len);
  crypto_hash_sha512_final(&st, out);
}

void frost_h1(const uint8_t *m, size_t len, frost_scalar *out) { h_scalar("rho", m, len, out); }
void frost_h2(const uint8_t *m, size_t len, frost_scalar *out) { h_scalar("chal", m, len, out); }
void frost_h3(const uint8_t *m, size_t len, frost_scalar *out) { h_scalar("nonce", m, len, out); }
void frost_h4(const uint8_t *m, size_t len, uint8_t out[64]) { h_digest("msg", m, len, out); }
void frost_h5(const uint8_t *m, size_t len, uint8_t out[64]) { h_digest("com", m, len, out); }

/* ---- round one (§4.1, §5.1) ---- */

void frost_nonce_generate(const frost_scalar *secret, const uint8_t *random32, frost_scalar *out) {
  uint8_t rnd[32];
  if (random32) {
    memcpy(rnd, random32, 32);
  } else {
    th_init();
    randombytes_buf(rnd, sizeof rnd);
  }
  crypto_hash_sha512_state st;
  h_init(&st, "nonce");
  crypto_hash_sha512_update(&st, rnd, sizeof rnd);
  crypto_hash_sha512_update(&st, secret->b, 32);
  h_to_scalar(&st, out);
  sodium_memzero(rnd, sizeof rnd);
}

cx_err frost_commit(uint16_t id, const frost_scalar *sk, const uint8_t *hiding_rand,
                    const uint8_t *binding_rand, frost_nonces *nonces, frost_commitment *out) {
  if (id == 0 || !frost_scalar_canonical(sk->b)) return CX_E_INVALID_ARG;
  frost_nonce_generate(sk, hiding_rand, &nonces->hiding);
  frost_nonce_generate(sk, binding_rand, &nonces->binding);
  out->id = id;
  mul_base(&nonces->hiding, &out->hiding);
  mul_base(&nonces->binding, &out->binding);
  /* A zero nonce (probability 2^-252) would publish the identity. */
  if (is_zero32(out->hiding.b) || is_zero32(out->binding.b)) {
    sodium_memzero(nonces, sizeof *nonces);
    return CX_E_CRYPTO;
  }
  return CX_OK;
}

/* ---- commitment lists (§4.3) ---- */

/* Sorted by strictly ascending non-zero identifier, elements valid and not
 * the identity. */
static cx_err check_list(const frost_commitment *list, size_t n, char *err, size_t errlen) {
  if (n == 0 || n > UINT16_MAX)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "commitment list is empty");
  for (size_t k = 0; k < n; k++) {
    if (list[k].id == 0)
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "commitment %zu: identifier 0", k);
    if (k > 0 && list[k].id <= list[k - 1].id)
      return cx_errf(err, errlen, CX_E_UNSORTED,
                     "commitment list: identifier %u after %u (must be strictly ascending)",
                     list[k].id, list[k - 1].id);
    cx_err e = frost_element_check(list[k].hiding.b);
    if (!e) e = frost_element_check(list[k].binding.b);
    if (e)
      return cx_errf(err, errlen, e,
                     "commitment of participant %u is not a valid non-identity element",
                     list[k].id);
  }
  return CX_OK;
}

static cx_err check_group_key(const frost_element *pk, char *err, size_t errlen) {
  cx_err e = frost_element_check(pk->b);
  if (e == CX_E_NONCANONICAL)
    return cx_errf(err, errlen, CX_E_BAD_KEY, "group key is not a canonical ristretto255 encoding");
  if (e) return cx_errf(err, errlen, CX_E_BAD_KEY, "group key is the identity element");
  return CX_OK;
}

static ssize_t find_id(const frost_commitment *list, size_t n, uint16_t id) {
  for (size_t k = 0; k < n; k++)
    if (list[k].id == id) return (ssize_t)k;
  return -1;
}

cx_err frost_binding_factors(const frost_element *group_pk, const frost_commitment *list, size_t n,
                             const uint8_t *msg, size_t len, frost_scalar *rho, char *err,
                             size_t errlen) {
  cx_err e = check_group_key(group_pk, err, errlen);
  if (!e) e = check_list(list, n, err, errlen);
  if (e) return e;
  /* rho_input_prefix = SerializeElement(PK) || H4(msg) || H5(encoded list) */
  uint8_t prefix[32 + 64 + 64];
  memcpy(prefix, group_pk->b, 32);
  frost_h4(msg, len, prefix + 32);
  crypto_hash_sha512_state st;
  h_init(&st, "com");
  for (size_t k = 0; k < n; k++) {
    frost_scalar ids;
    frost_id_scalar(list[k].id, &ids);
    crypto_hash_sha512_update(&st, ids.b, 32);
    crypto_hash_sha512_update(&st, list[k].hiding.b, 32);
    crypto_hash_sha512_update(&st, list[k].binding.b, 32);
  }
  crypto_hash_sha512_final(&st, prefix + 96);
  for (size_t k = 0; k < n; k++) {
    frost_scalar ids;
    frost_id_scalar(list[k].id, &ids);
    h_init(&st, "rho");
    crypto_hash_sha512_update(&st, prefix, sizeof prefix);
    crypto_hash_sha512_update(&st, ids.b, 32);
    h_to_scalar(&st, &rho[k]);
  }
  return CX_OK;
}

cx_err frost_group_commitment(const frost_commitment *list, size_t n, const frost_scalar *rho,
                              frost_element *out) {
  frost_element acc = {{0}}, t;
  for (size_t k = 0; k < n; k++) {
    mul(&rho[k], &list[k].binding, &t);
    add(&acc, &list[k].hiding, &acc);
    add(&acc, &t, &acc);
  }
  *out = acc;
  return is_zero32(acc.b) ? CX_E_CRYPTO : CX_OK;
}

cx_err frost_lagrange(uint16_t id, const uint16_t *ids, size_t n, frost_scalar *out) {
  int found = 0;
  for (size_t k = 0; k < n; k++) {
    if (ids[k] == 0) return CX_E_INVALID_ARG;
    if (ids[k] == id) found++;
    for (size_t j = k + 1; j < n; j++)
      if (ids[j] == ids[k]) return CX_E_INVALID_ARG;
  }
  if (id == 0 || found != 1) return CX_E_INVALID_ARG;
  frost_scalar num = {{1}}, den = {{1}}, xi, xj, d;
  frost_id_scalar(id, &xi);
  for (size_t k = 0; k < n; k++) {
    if (ids[k] == id) continue;
    frost_id_scalar(ids[k], &xj);
    crypto_core_ristretto255_scalar_mul(num.b, num.b, xj.b);
    crypto_core_ristretto255_scalar_sub(d.b, xj.b, xi.b);
    crypto_core_ristretto255_scalar_mul(den.b, den.b, d.b);
  }
  if (crypto_core_ristretto255_scalar_invert(d.b, den.b) != 0) return CX_E_INVALID_ARG;
  crypto_core_ristretto255_scalar_mul(out->b, num.b, d.b);
  return CX_OK;
}

void frost_challenge(const frost_element *R, const frost_element *group_pk, const uint8_t *msg,
                     size_t len, frost_scalar *out) {
  crypto_hash_sha512_state st;
  h_init(&st, "chal");
  crypto_hash_sha512_update(&st, R->b, 32);
  crypto_hash_sha512_update(&st, group_pk->b, 32);
  crypto_hash_sha512_update(&st, msg, len);
  h_to_scalar(&st, out);
}

/* What sign and verify_signature_share both compute: the list's binding
 * factors (rho of list[idx]), R, the challenge and id's Lagrange coefficient. */
typedef struct {
  frost_scalar rho_i, c, lambda;
  frost_element R;
} round_ctx;

static cx_err round_setup(uint16_t id, const frost_commitment *list, size_t n,
                          const frost_element *group_pk, const uint8_t *msg, size_t len,
                          round_ctx *rc, size_t *idx, char *err, size_t errlen) {
  /* Public values: plain heap memory. */
  frost_scalar *rho = calloc(n ? n : 1, sizeof *rho);
  uint16_t *ids = calloc(n ? n : 1, sizeof *ids);
  cx_err e = CX_OK;
  if (!rho || !ids) {
    e = cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
    goto out;
  }
  if ((e = frost_binding_factors(group_pk, list, n, msg, len, rho, err, errlen))) goto out;
  ssize_t k = find_id(list, n, id);
  if (k < 0) {
    e = cx_errf(err, errlen, CX_E_INVALID_ARG, "participant %u is not in the commitment list", id);
    goto out;
  }
  *idx = (size_t)k;
  rc->rho_i = rho[k];
  if (frost_group_commitment(list, n, rho, &rc->R)) {
    e = cx_errf(err, errlen, CX_E_CRYPTO, "group commitment is the identity element");
    goto out;
  }
  for (size_t j = 0; j < n; j++) ids[j] = list[j].id;
  if ((e = frost_lagrange(id, ids, n, &rc->lambda))) {
    cx_errf(err, errlen, e, "no interpolating value for participant %u", id);
    goto out;
  }
  frost_challenge(&rc->R, group_pk, msg, len, &rc->c);
out:
  free(rho);
  free(ids);
  return e;
}

/* ---- round two (§5.2) ---- */

cx_err frost_sign(uint16_t id, const frost_scalar *sk, const frost_element *group_pk,
                  frost_nonces *nonces, const uint8_t *msg, size_t len,
                  const frost_commitment *list, size_t n, frost_scalar *z, char *err,
                  size_t errlen) {
  round_ctx rc;
  size_t idx = 0;
  cx_err e = CX_OK;
  frost_scalar t;
  frost_element hid, bnd;
  if (is_zero32(nonces->hiding.b) || is_zero32(nonces->binding.b)) {
    e = cx_errf(err, errlen, CX_E_INVALID_ARG, "nonces are zero: already used or never generated");
    goto out;
  }
  if (!frost_scalar_canonical(sk->b)) {
    e = cx_errf(err, errlen, CX_E_INVALID_ARG, "signing share is not a canonical scalar");
    goto out;
  }
  if ((e = round_setup(id, list, n, group_pk, msg, len, &rc, &idx, err, errlen))) goto out;
  /* The list must carry our own commitment, else the nonces do not match R. */
  mul_base(&nonces->hiding, &hid);
  mul_base(&nonces->binding, &bnd);
  if (memcmp(hid.b, list[idx].hiding.b, 32) != 0 || memcmp(bnd.b, list[idx].binding.b, 32) != 0) {
    e = cx_errf(err, errlen, CX_E_INVALID_ARG,
                "participant %u's commitment in the list does not match its nonces", id);
    goto out;
  }
  /* z = hiding + binding * rho_i + lambda_i * sk_i * c */
  crypto_core_ristretto255_scalar_mul(t.b, rc.lambda.b, sk->b);
  crypto_core_ristretto255_scalar_mul(t.b, t.b, rc.c.b);
  crypto_core_ristretto255_scalar_add(z->b, nonces->hiding.b, t.b);
  crypto_core_ristretto255_scalar_mul(t.b, nonces->binding.b, rc.rho_i.b);
  crypto_core_ristretto255_scalar_add(z->b, z->b, t.b);
out:
  sodium_memzero(&t, sizeof t);
  sodium_memzero(nonces, sizeof *nonces);
  return e;
}

/* ---- share verification and aggregation (§5.3, §5.4) ---- */

/* §5.4's equation for one share, given the round's values:
 * G * z_i == (hiding_i + binding_i * rho_i) + PK_i * (c * lambda_i). */
static int share_eq(const frost_commitment *ci, const frost_scalar *rho_i, const frost_scalar *c,
                    const frost_scalar *lambda, const frost_element *pk_i, const frost_scalar *z) {
  frost_element comm, t, l, r;
  frost_scalar cl;
  mul(rho_i, &ci->binding, &t);
  add(&ci->hiding, &t, &comm);
  crypto_core_ristretto255_scalar_mul(cl.b, c->b, lambda->b);
  mul(&cl, pk_i, &t);
  add(&comm, &t, &r);
  mul_base(z, &l);
  return memcmp(l.b, r.b, 32) == 0;
}

cx_err frost_verify_share(uint16_t id, const frost_element *pk_i, const frost_scalar *z,
                          const frost_commitment *list, size_t n, const frost_element *group_pk,
                          const uint8_t *msg, size_t len) {
  if (!frost_scalar_canonical(z->b)) return CX_E_NONCANONICAL;
  cx_err e = frost_element_check(pk_i->b);
  if (e) return CX_E_BAD_KEY;
  round_ctx rc;
  size_t idx = 0;
  if ((e = round_setup(id, list, n, group_pk, msg, len, &rc, &idx, NULL, 0))) return e;
  return share_eq(&list[idx], &rc.rho_i, &rc.c, &rc.lambda, pk_i, z) ? CX_OK : CX_E_FROST_BAD_SHARE;
}

cx_err frost_aggregate(const frost_commitment *list, size_t n, const uint8_t *msg, size_t len,
                       const frost_element *group_pk, const frost_scalar *z, frost_sig *out,
                       char *err, size_t errlen) {
  frost_scalar *rho = calloc(n ? n : 1, sizeof *rho);
  if (!rho) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  frost_element R;
  frost_scalar sum = {{0}};
  cx_err e = frost_binding_factors(group_pk, list, n, msg, len, rho, err, errlen);
  if (e) goto out;
  if (frost_group_commitment(list, n, rho, &R)) {
    e = cx_errf(err, errlen, CX_E_CRYPTO, "group commitment is the identity element");
    goto out;
  }
  for (size_t k = 0; k < n; k++) {
    if (!frost_scalar_canonical(z[k].b)) {
      e = cx_errf(err, errlen, CX_E_NONCANONICAL,
                  "signature share of participant %u is not a canonical scalar", list[k].id);
      goto out;
    }
    crypto_core_ristretto255_scalar_add(sum.b, sum.b, z[k].b);
  }
  memcpy(out->b, R.b, 32);
  memcpy(out->b + 32, sum.b, 32);
out:
  free(rho);
  return e;
}

cx_err frost_aggregate_checked(const frost_commitment *list, size_t n, const uint8_t *msg,
                               size_t len, const frost_element *group_pk, const frost_scalar *z,
                               const frost_element *pk, frost_sig *out, uint16_t *culprits,
                               size_t *nculprits, char *err, size_t errlen) {
  *nculprits = 0;
  cx_err e = check_group_key(group_pk, err, errlen);
  if (!e) e = check_list(list, n, err, errlen);
  if (e) return e;
  /* The round's values once for all shares (frost_verify_share's, which
   * would recompute them per share): binding factors, R, the challenge. */
  frost_scalar *rho = calloc(n ? n : 1, sizeof *rho), c = {{0}}, lambda, sum = {{0}};
  uint16_t *ids = calloc(n ? n : 1, sizeof *ids);
  frost_element R = {{0}};
  if (!rho || !ids) {
    free(rho);
    free(ids);
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  }
  int setup = frost_binding_factors(group_pk, list, n, msg, len, rho, NULL, 0) == CX_OK &&
              !frost_group_commitment(list, n, rho, &R);
  if (setup) frost_challenge(&R, group_pk, msg, len, &c);
  for (size_t k = 0; k < n; k++) ids[k] = list[k].id;
  char names[256] = "";
  size_t used = 0;
  for (size_t k = 0; k < n; k++) {
    if (setup && frost_scalar_canonical(z[k].b) && frost_element_check(pk[k].b) == CX_OK &&
        frost_lagrange(list[k].id, ids, n, &lambda) == CX_OK &&
        share_eq(&list[k], &rho[k], &c, &lambda, &pk[k], &z[k])) {
      crypto_core_ristretto255_scalar_add(sum.b, sum.b, z[k].b);
      continue;
    }
    /* A malformed share or public key share is as much the sender's fault
     * as a wrong one: either way it cannot be used. */
    culprits[(*nculprits)++] = list[k].id;
    if (used < sizeof names - 8) {
      int w = snprintf(names + used, sizeof names - used, "%s%u", used ? ", " : "", list[k].id);
      if (w > 0) used += (size_t)w;
    }
  }
  free(rho);
  free(ids);
  if (*nculprits)
    return cx_errf(
        err, errlen, CX_E_FROST_BAD_SHARE, "signature share%s of participant%s %s do%s not verify",
        *nculprits > 1 ? "s" : "", *nculprits > 1 ? "s" : "", names, *nculprits > 1 ? "" : "es");
  if (!setup) return cx_errf(err, errlen, CX_E_CRYPTO, "no group commitment for this list");
  /* every share checked (and canonical): frost_aggregate's (R, sum z) */
  memcpy(out->b, R.b, 32);
  memcpy(out->b + 32, sum.b, 32);
  return CX_OK;
}

/* ---- verification (§6, prime-order group) ---- */

cx_err frost_verify(const frost_element *group_pk, const uint8_t *msg, size_t len,
                    const frost_sig *sig, char *err, size_t errlen) {
  cx_err e = check_group_key(group_pk, err, errlen);
  if (e) return e;
  frost_element R, l, r, t;
  frost_scalar z, c;
  memcpy(R.b, sig->b, 32);
  memcpy(z.b, sig->b + 32, 32);
  e = frost_element_check(R.b);
  if (e == CX_E_NONCANONICAL)
    return cx_errf(err, errlen, e, "signature R is not a canonical ristretto255 encoding");
  if (e) return cx_errf(err, errlen, CX_E_BAD_KEY, "signature R is the identity element");
  if (!frost_scalar_canonical(z.b))
    return cx_errf(err, errlen, CX_E_NONCANONICAL, "signature z is not a canonical scalar (>= L)");
  /* G * z == R + PK * c with c = H2(R || PK || msg) */
  frost_challenge(&R, group_pk, msg, len, &c);
  mul(&c, group_pk, &t);
  add(&R, &t, &r);
  mul_base(&z, &l);
  if (memcmp(l.b, r.b, 32) != 0)
    return cx_errf(err, errlen, CX_E_BAD_SIG, "signature does not verify");
  return CX_OK;
}

/* ---- trusted dealer (Appendix C) ---- */

static void random_scalar(frost_scalar *out) {
  do {
    crypto_core_ristretto255_scalar_random(out->b);
  } while (is_zero32(out->b));
}


cx_err frost_dealer_keygen(const frost_scalar *secret, const frost_scalar *coeffs, uint16_t n,
                           uint16_t t, frost_scalar *shares, frost_element *group_pk,
                           frost_element *vss, char *err, size_t errlen) {
  if (t < 2 || n < t)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "need 2 <= t <= n (t %u, n %u)", t, n);
  th_init();
  if (secret && (!frost_scalar_canonical(secret->b) || is_zero32(secret->b)))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "secret is not a canonical non-zero scalar");
  frost_scalar *a = sodium_allocarray(t, sizeof *a);
  if (!a) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  cx_err e = CX_OK;
  if (secret)
    a[0] = *secret;
  else
    random_scalar(&a[0]);
  for (size_t j = 1; j < t; j++) {
    if (!coeffs) {
      random_scalar(&a[j]);
    } else if (!frost_scalar_canonical(coeffs[j - 1].b)) {
      e = cx_errf(err, errlen, CX_E_INVALID_ARG, "coefficient %zu is not a canonical scalar", j);
      goto out;
    } else {
      a[j] = coeffs[j - 1];
    }
  }
  for (uint16_t i = 1; i <= n; i++) poly_eval(a, t, i, &shares[i - 1]);
  mul_base(&a[0], group_pk);
  if (vss)
    for (size_t j = 0; j < t; j++) mul_base(&a[j], &vss[j]);
out:
  sodium_free(a);
  return e;
}

cx_err frost_vss_public_share(const frost_element *vss, size_t t, uint16_t id, frost_element *out) {
  if (id == 0 || t == 0) return CX_E_INVALID_ARG;
  for (size_t j = 0; j < t; j++)
    if (!crypto_core_ristretto255_is_valid_point(vss[j].b)) return CX_E_NONCANONICAL;
  /* sum_j vss[j] * id^j, by Horner in the group */
  frost_scalar x;
  frost_element acc = {{0}};
  frost_id_scalar(id, &x);
  for (size_t j = t; j-- > 0;) {
    mul(&x, &acc, &acc);
    add(&acc, &vss[j], &acc);
  }
  *out = acc;
  return CX_OK;
}

cx_err frost_vss_verify(uint16_t id, const frost_scalar *share, const frost_element *vss,
                        size_t t) {
  if (!frost_scalar_canonical(share->b)) return CX_E_NONCANONICAL;
  frost_element want, got;
  cx_err e = frost_vss_public_share(vss, t, id, &want);
  if (e) return e;
  mul_base(share, &got);
  return memcmp(want.b, got.b, 32) == 0 ? CX_OK : CX_E_MPC_CHECK_FAILED;
}

cx_err frost_public_share(const frost_scalar *sk, frost_element *out) {
  if (!frost_scalar_canonical(sk->b) || is_zero32(sk->b)) return CX_E_INVALID_ARG;
  mul_base(sk, out);
  return CX_OK;
}
