/* Threshold random beacon: the CKS Diffie-Hellman coin with Chaum-Pedersen
 * proofs over ristretto255 (see beacon.h, docs/threshold.md "Random beacon"). */
#include "beacon.h"
#include "group.h"

#include <sodium.h>
#include <string.h>

#include "codec.h"

#define DST_LEN (sizeof BEACON_DST - 1)

/* ---- hashing: DST || tag || be16 |C| || C || ... (the length prefix keeps
 * (C, rest) unambiguous) ---- */

static void h_start(crypto_hash_sha512_state *st, const char *tag, const uint8_t *coin,
                    size_t clen) {
  uint8_t l[2];
  put_be16(l, (uint16_t)clen);
  crypto_hash_sha512_init(st);
  crypto_hash_sha512_update(st, (const uint8_t *)BEACON_DST, DST_LEN);
  crypto_hash_sha512_update(st, (const uint8_t *)tag, strlen(tag));
  crypto_hash_sha512_update(st, l, 2);
  crypto_hash_sha512_update(st, coin, clen);
}

static void h_scalar_final(crypto_hash_sha512_state *st, frost_scalar *out) {
  uint8_t d[64];
  crypto_hash_sha512_final(st, d);
  crypto_core_ristretto255_scalar_reduce(out->b, d);
  sodium_memzero(d, sizeof d);
  sodium_memzero(st, sizeof *st);
}

static cx_err check_coin(size_t clen, char *err, size_t errlen) {
  if (clen == 0 || clen > BEACON_MAX_COIN_LEN)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "coin name of %zu bytes, want 1..%u", clen,
                   BEACON_MAX_COIN_LEN);
  return CX_OK;
}

void beacon_coin_name(const uint8_t chain_id[32], uint64_t height,
                      uint8_t out[BEACON_COIN_HEIGHT_LEN]) {
  memcpy(out, chain_id, 32);
  put_be64(out + 32, height);
}

cx_err beacon_base(const uint8_t *coin, size_t clen, frost_element *out) {
  cx_err e = check_coin(clen, NULL, 0);
  if (e) return e;
  crypto_hash_sha512_state st;
  uint8_t d[64];
  h_start(&st, "h2g", coin, clen);
  crypto_hash_sha512_final(&st, d);
  /* Elligator map of two halves, RFC 9496 §4.3.4 (one-way map). */
  crypto_core_ristretto255_from_hash(out->b, d);
  /* The identity has probability ~2^-252; a base must not be it. */
  if (is_zero32(out->b)) return CX_E_CRYPTO;
  return CX_OK;
}

/* The Fiat-Shamir challenge of a DLEQ proof: it binds the coin, the party,
 * both statements and both commitments. */
static void dleq_challenge(const uint8_t *coin, size_t clen, uint16_t id, const frost_element *Y,
                           const frost_element *H, const frost_element *sigma,
                           const frost_element *A, const frost_element *B, frost_scalar *c) {
  crypto_hash_sha512_state st;
  uint8_t idb[2];
  put_be16(idb, id);
  h_start(&st, "dleq", coin, clen);
  crypto_hash_sha512_update(&st, idb, 2);
  crypto_hash_sha512_update(&st, Y->b, 32);
  crypto_hash_sha512_update(&st, H->b, 32);
  crypto_hash_sha512_update(&st, sigma->b, 32);
  crypto_hash_sha512_update(&st, A->b, 32);
  crypto_hash_sha512_update(&st, B->b, 32);
  h_scalar_final(&st, c);
}

/* Hedged nonce: fresh randomness, the secret, the coin and the party. */
static void dleq_nonce(const uint8_t *coin, size_t clen, uint16_t id, const frost_scalar *s,
                       frost_scalar *r) {
  crypto_hash_sha512_state st;
  uint8_t rnd[32], idb[2];
  randombytes_buf(rnd, sizeof rnd);
  put_be16(idb, id);
  h_start(&st, "nonce", coin, clen);
  crypto_hash_sha512_update(&st, rnd, sizeof rnd);
  crypto_hash_sha512_update(&st, s->b, 32);
  crypto_hash_sha512_update(&st, idb, 2);
  h_scalar_final(&st, r);
  sodium_memzero(rnd, sizeof rnd);
}

cx_err beacon_share_make(const uint8_t *coin, size_t clen, uint16_t id, const frost_scalar *s,
                         beacon_share *out, char *err, size_t errlen) {
  th_init();
  cx_err e = check_coin(clen, err, errlen);
  if (e) return e;
  if (id == 0) return cx_errf(err, errlen, CX_E_INVALID_ARG, "party identifier 0");
  if (!frost_scalar_canonical(s->b) || is_zero32(s->b))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "signing share is zero or not below L");
  frost_element H, Y, A, B;
  if ((e = beacon_base(coin, clen, &H))) return cx_errf(err, errlen, e, "coin base is the identity");
  mul_base(s, &Y);
  memset(out, 0, sizeof *out);
  out->id = id;
  mul(s, &H, &out->sigma);
  frost_scalar *r = sodium_malloc(2 * sizeof *r), *cs = r + 1;
  if (!r) return cx_errf(err, errlen, CX_E_NOMEM, "no memory for the proof nonce");
  dleq_nonce(coin, clen, id, s, r);
  mul_base(r, &A);
  mul(r, &H, &B);
  dleq_challenge(coin, clen, id, &Y, &H, &out->sigma, &A, &B, &out->c);
  crypto_core_ristretto255_scalar_mul(cs->b, out->c.b, s->b);
  crypto_core_ristretto255_scalar_add(out->z.b, r->b, cs->b);
  sodium_free(r); /* wipes r and c*s */
  return CX_OK;
}

cx_err beacon_share_verify(const uint8_t *coin, size_t clen, uint16_t id, const frost_element *Y_id,
                           const beacon_share *sh, char *err, size_t errlen) {
  cx_err e = check_coin(clen, err, errlen);
  if (e) return e;
  if (id == 0 || sh->id != id)
    return cx_errf(err, errlen, CX_E_MPC_SENDER, "beacon share expected from party %u names party %u", id,
                   sh->id);
  if ((e = frost_element_check(Y_id->b)))
    return cx_errf(err, errlen, e, "public share of party %u is not a valid element", id);
  if ((e = frost_element_check(sh->sigma.b)))
    return cx_errf(err, errlen, e, "beacon share from party %u: sigma is not a valid element", id);
  if (!frost_scalar_canonical(sh->c.b) || !frost_scalar_canonical(sh->z.b))
    return cx_errf(err, errlen, CX_E_NONCANONICAL,
                   "beacon share from party %u: proof scalar not below L", id);
  frost_element H, gz, yc, hz, sc, A, B;
  if ((e = beacon_base(coin, clen, &H))) return cx_errf(err, errlen, e, "coin base is the identity");
  mul_base(&sh->z, &gz);
  mul(&sh->c, Y_id, &yc);
  sub(&gz, &yc, &A);
  mul(&sh->z, &H, &hz);
  mul(&sh->c, &sh->sigma, &sc);
  sub(&hz, &sc, &B);
  frost_scalar c;
  dleq_challenge(coin, clen, id, Y_id, &H, &sh->sigma, &A, &B, &c);
  if (sodium_memcmp(c.b, sh->c.b, 32) != 0)
    return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                   "beacon share from party %u: DLEQ proof fails (wrong sigma, or a proof for "
                   "another coin or party)",
                   id);
  return CX_OK;
}

/* ---- combining ---- */

static void value_of(const uint8_t *coin, size_t clen, const frost_element *sigma,
                     uint8_t value[BEACON_VALUE_LEN]) {
  crypto_hash_sha512_state st;
  uint8_t d[64];
  h_start(&st, "value", coin, clen);
  crypto_hash_sha512_update(&st, sigma->b, 32);
  crypto_hash_sha512_final(&st, d);
  memcpy(value, d, BEACON_VALUE_LEN); /* SHA-512 truncated to 256 bits */
}

/* sigma = sum lambda_k * sigma_k over k < t of the shares at idx[0..t). */
static cx_err interpolate(uint16_t t, const beacon_share *shares, const size_t *idx,
                          frost_element *sigma, char *err, size_t errlen) {
  uint16_t ids[DKG_MAX_PARTIES];
  for (size_t k = 0; k < t; k++) ids[k] = shares[idx[k]].id;
  memset(sigma->b, 0, 32);
  for (size_t k = 0; k < t; k++) {
    frost_scalar lambda;
    frost_element term;
    cx_err e = frost_lagrange(ids[k], ids, t, &lambda);
    if (e) return cx_errf(err, errlen, e, "beacon shares: identifiers repeated or zero");
    mul(&lambda, &shares[idx[k]].sigma, &term);
    add(sigma, &term, sigma);
  }
  return CX_OK;
}

static cx_err check_t(uint16_t t, size_t nshares, char *err, size_t errlen) {
  if (t < 2 || t > DKG_MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "threshold %u outside 2..%u", t, DKG_MAX_PARTIES);
  if (nshares < t)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%zu beacon shares, %u needed", nshares, t);
  return CX_OK;
}

cx_err beacon_combine(const uint8_t *coin, size_t clen, uint16_t t, const beacon_share *shares,
                      size_t nshares, uint8_t value[BEACON_VALUE_LEN], frost_element *sigma_out,
                      char *err, size_t errlen) {
  cx_err e = check_coin(clen, err, errlen);
  if (!e) e = check_t(t, nshares, err, errlen);
  if (e) return e;
  size_t idx[DKG_MAX_PARTIES];
  for (size_t k = 0; k < t; k++) idx[k] = k;
  frost_element sigma;
  if ((e = interpolate(t, shares, idx, &sigma, err, errlen))) return e;
  value_of(coin, clen, &sigma, value);
  if (sigma_out) *sigma_out = sigma;
  return CX_OK;
}

/* Distinct ids in 1..n. */
static cx_err check_ids(const beacon_share *shares, size_t nshares, uint16_t n, char *err,
                        size_t errlen) {
  uint8_t seen[DKG_MAX_PARTIES] = {0};
  for (size_t k = 0; k < nshares; k++) {
    uint16_t id = shares[k].id;
    if (id == 0 || id > n)
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "beacon share from party %u, outside 1..%u", id,
                     n);
    if (seen[id - 1]++)
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "two beacon shares from party %u", id);
  }
  return CX_OK;
}

static void sort_by_id(size_t *idx, size_t k, const beacon_share *shares) {
  for (size_t i = 1; i < k; i++)
    for (size_t j = i; j > 0 && shares[idx[j - 1]].id > shares[idx[j]].id; j--) {
      size_t tmp = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = tmp;
    }
}

cx_err beacon_combine_checked(const uint8_t *coin, size_t clen, uint16_t t, uint16_t n,
                              const frost_element *pk_shares, const beacon_share *shares,
                              size_t nshares, uint8_t value[BEACON_VALUE_LEN], beacon_record *rec,
                              uint16_t *culprits, size_t *nculprits, char *err, size_t errlen) {
  *nculprits = 0;
  cx_err e = check_coin(clen, err, errlen);
  if (!e) e = check_t(t, nshares, err, errlen);
  if (!e && (n < t || n > DKG_MAX_PARTIES))
    e = cx_errf(err, errlen, CX_E_INVALID_ARG, "n = %u with threshold %u", n, t);
  if (!e) e = check_ids(shares, nshares, n, err, errlen);
  if (e) return e;
  size_t good[DKG_MAX_PARTIES], ngood = 0;
  char first_bad[200] = "";
  for (size_t k = 0; k < nshares; k++) {
    char why[200];
    uint16_t id = shares[k].id;
    e = beacon_share_verify(coin, clen, id, &pk_shares[id - 1], &shares[k], why, sizeof why);
    if (e == CX_OK) {
      if (ngood < t) good[ngood] = k;
      ngood++;
    } else {
      if (!*nculprits) memcpy(first_bad, why, sizeof why);
      culprits[(*nculprits)++] = id;
    }
  }
  if (ngood < t)
    return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                   "%zu bad beacon shares leave %zu good, %u needed (%s)", *nculprits, ngood, t,
                   first_bad);
  sort_by_id(good, t, shares);
  frost_element sigma;
  if ((e = interpolate(t, shares, good, &sigma, err, errlen))) return e;
  value_of(coin, clen, &sigma, value);
  if (rec) {
    memset(rec, 0, sizeof *rec);
    rec->coin_len = (uint16_t)clen;
    memcpy(rec->coin, coin, clen);
    memcpy(rec->value, value, BEACON_VALUE_LEN);
    rec->nshares = t;
    for (size_t k = 0; k < t; k++) rec->shares[k] = shares[good[k]];
  }
  if (*nculprits)
    cx_errf(err, errlen, CX_OK, "combined without %zu bad beacon shares (%s)", *nculprits,
            first_bad);
  return CX_OK;
}

cx_err beacon_record_verify(const uint8_t *coin, size_t clen, uint16_t t, uint16_t n,
                            const frost_element *pk_shares, const beacon_record *rec,
                            uint16_t *culprit, char *err, size_t errlen) {
  uint16_t dummy;
  if (!culprit) culprit = &dummy;
  *culprit = 0;
  cx_err e = check_coin(clen, err, errlen);
  if (!e) e = check_t(t, rec->nshares, err, errlen);
  if (e) return e;
  if (rec->coin_len != clen || memcmp(rec->coin, coin, clen) != 0)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "beacon record is for another coin");
  if (n < t || n > DKG_MAX_PARTIES || rec->nshares > n)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "beacon record: %u shares, n = %u, t = %u",
                   rec->nshares, n, t);
  for (size_t k = 0; k < rec->nshares; k++) {
    uint16_t id = rec->shares[k].id;
    if (id == 0 || id > n)
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "beacon record: party %u outside 1..%u", id, n);
    if (k && rec->shares[k - 1].id >= id)
      return cx_errf(err, errlen, CX_E_UNSORTED, "beacon record: ids not strictly ascending");
  }
  for (size_t k = 0; k < rec->nshares; k++) {
    uint16_t id = rec->shares[k].id;
    e = beacon_share_verify(coin, clen, id, &pk_shares[id - 1], &rec->shares[k], err, errlen);
    if (e) {
      if (e == CX_E_MPC_CHECK_FAILED) *culprit = id;
      return e;
    }
  }
  /* Verified shares all lie on the DKG's polynomial, so any t of them give
   * the same sigma: the first t suffice. */
  size_t idx[DKG_MAX_PARTIES];
  for (size_t k = 0; k < t; k++) idx[k] = k;
  frost_element sigma;
  uint8_t value[BEACON_VALUE_LEN];
  if ((e = interpolate(t, rec->shares, idx, &sigma, err, errlen))) return e;
  value_of(coin, clen, &sigma, value);
  if (sodium_memcmp(value, rec->value, BEACON_VALUE_LEN) != 0)
    return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                   "beacon record: the value is not the one its shares combine to");
  return CX_OK;
}

/* ---- encodings ---- */


static size_t put_body(const beacon_share *sh, uint8_t *p) {
  put_be16(p, sh->id);
  memcpy(p + 2, sh->sigma.b, 32);
  memcpy(p + 34, sh->c.b, 32);
  memcpy(p + 66, sh->z.b, 32);
  return BEACON_SHARE_BODY_LEN;
}

/* be16 id || sigma || c || z, BEACON_SHARE_BODY_LEN bytes available. */
static cx_err get_body(const uint8_t *p, beacon_share *sh, size_t k, char *err, size_t errlen) {
  memset(sh, 0, sizeof *sh);
  sh->id = get_be16(p);
  if (sh->id == 0) return cx_errf(err, errlen, CX_E_INVALID_ARG, "beacon share %zu: party 0", k);
  cx_err e = frost_element_check(p + 2);
  if (e == CX_E_NONCANONICAL)
    return cx_errf(err, errlen, e, "beacon share %zu: sigma is not a canonical element", k);
  if (e) return cx_errf(err, errlen, e, "beacon share %zu: sigma is the identity", k);
  if (!frost_scalar_canonical(p + 34) || !frost_scalar_canonical(p + 66))
    return cx_errf(err, errlen, CX_E_NONCANONICAL, "beacon share %zu: proof scalar not below L", k);
  memcpy(sh->sigma.b, p + 2, 32);
  memcpy(sh->c.b, p + 34, 32);
  memcpy(sh->z.b, p + 66, 32);
  return CX_OK;
}

static cx_err want_len(size_t len, size_t want, const char *what, char *err, size_t errlen) {
  if (len < want)
    return cx_errf(err, errlen, CX_E_TRUNCATED, "%s: %zu bytes, want %zu", what, len, want);
  if (len > want)
    return cx_errf(err, errlen, CX_E_TRAILING, "%s: %zu bytes, want %zu", what, len, want);
  return CX_OK;
}

size_t beacon_share_encode(const beacon_share *sh, uint8_t out[BEACON_SHARE_LEN]) {
  out[0] = BEACON_KIND_SHARE;
  return 1 + put_body(sh, out + 1);
}

cx_err beacon_share_decode(const uint8_t *in, size_t len, beacon_share *sh, char *err,
                           size_t errlen) {
  if (len < 1) return cx_errf(err, errlen, CX_E_TRUNCATED, "beacon share: empty");
  if (in[0] != BEACON_KIND_SHARE)
    return cx_errf(err, errlen, CX_E_BAD_ENUM, "beacon share: kind %u, want %u", in[0],
                   BEACON_KIND_SHARE);
  cx_err e = want_len(len, BEACON_SHARE_LEN, "beacon share", err, errlen);
  if (e) return e;
  return get_body(in + 1, sh, 0, err, errlen);
}

size_t beacon_record_encode(const beacon_record *rec, uint8_t *out) {
  CX_ASSERT(rec->coin_len >= 1 && rec->coin_len <= BEACON_MAX_COIN_LEN);
  CX_ASSERT(rec->nshares <= DKG_MAX_PARTIES);
  uint8_t *p = out;
  *p++ = BEACON_KIND_RECORD;
  put_be16(p, rec->coin_len);
  p += 2;
  memcpy(p, rec->coin, rec->coin_len);
  p += rec->coin_len;
  memcpy(p, rec->value, BEACON_VALUE_LEN);
  p += BEACON_VALUE_LEN;
  put_be16(p, rec->nshares);
  p += 2;
  for (size_t k = 0; k < rec->nshares; k++) p += put_body(&rec->shares[k], p);
  return (size_t)(p - out);
}

cx_err beacon_record_decode(const uint8_t *in, size_t len, beacon_record *rec, char *err,
                            size_t errlen) {
  if (len < 3) return cx_errf(err, errlen, CX_E_TRUNCATED, "beacon record: %zu bytes", len);
  if (in[0] != BEACON_KIND_RECORD)
    return cx_errf(err, errlen, CX_E_BAD_ENUM, "beacon record: kind %u, want %u", in[0],
                   BEACON_KIND_RECORD);
  size_t clen = get_be16(in + 1);
  if (clen == 0) return cx_errf(err, errlen, CX_E_INVALID_ARG, "beacon record: empty coin name");
  if (clen > BEACON_MAX_COIN_LEN)
    return cx_errf(err, errlen, CX_E_TOO_LONG, "beacon record: coin name of %zu bytes, cap %u",
                   clen, BEACON_MAX_COIN_LEN);
  size_t head = 3 + clen + BEACON_VALUE_LEN + 2;
  if (len < head)
    return cx_errf(err, errlen, CX_E_TRUNCATED, "beacon record: %zu bytes, header needs %zu", len,
                   head);
  size_t k = get_be16(in + head - 2);
  if (k == 0) return cx_errf(err, errlen, CX_E_INVALID_ARG, "beacon record: no shares");
  if (k > DKG_MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_TOO_LONG, "beacon record: %zu shares, cap %u", k,
                   DKG_MAX_PARTIES);
  cx_err e = want_len(len, BEACON_RECORD_LEN(clen, k), "beacon record", err, errlen);
  if (e) return e;
  memset(rec, 0, sizeof *rec);
  rec->coin_len = (uint16_t)clen;
  memcpy(rec->coin, in + 3, clen);
  memcpy(rec->value, in + 3 + clen, BEACON_VALUE_LEN);
  rec->nshares = (uint16_t)k;
  const uint8_t *p = in + head;
  for (size_t i = 0; i < k; i++, p += BEACON_SHARE_BODY_LEN) {
    if ((e = get_body(p, &rec->shares[i], i, err, errlen))) return e;
    if (i && rec->shares[i - 1].id >= rec->shares[i].id)
      return cx_errf(err, errlen, CX_E_UNSORTED, "beacon record: ids not strictly ascending at %zu",
                     i);
  }
  return CX_OK;
}
