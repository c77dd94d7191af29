/* Client-dealt inputs: dealing, opening, the consistency check and blame
 * (client.h; docs/mpc-client.md has the design and its reasons).
 *
 * The check is the random-linear-combination degree test (as in the batch
 * checks of Damgård–Nielsen 2007 §4 and docs/mpc-prep.md), made
 * non-interactive by Fiat–Shamir over the client's commitments and masked
 * by a value the client itself dealt, so that opening the combination
 * reveals nothing about the values and uses no preprocessing. */
#include "client.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_internal.h" /* fe_alloc, fe_free */
#include "shamir.h"

_Static_assert(MPC_CLIENT_SEAL == crypto_box_SEALBYTES, "sealed-box overhead");
_Static_assert(MPC_CLIENT_KEY == crypto_box_PUBLICKEYBYTES && MPC_CLIENT_KEY == crypto_box_SECRETKEYBYTES,
               "X25519 key size");
_Static_assert(crypto_kdf_KEYBYTES == 32, "dealing seed size");

/* Plaintext of a blob: context || salt || count + 1 shares. */
#define PLAIN_HDR (MPC_CLIENT_CTX + MPC_CLIENT_SALT)

static const char LABEL_COMMIT[] = "custos/mpc-client/commit/v1";
static const char LABEL_CHALLENGE[] = "custos/mpc-client/challenge/v1";
static const char KDF_SALT[crypto_kdf_CONTEXTBYTES + 1] = "cxclsalt"; /* 8 bytes + NUL */

static size_t plain_len(size_t count) { return PLAIN_HDR + (count + 1) * FE_BYTES; }

static int count_ok(size_t count) { return count >= 1 && count <= MPC_CLIENT_MAX_VALUES; }

static uint64_t all_mask(uint32_t n) { return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1; }

static void put_le(uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

size_t mpc_client_blob_len(size_t count) {
  return count_ok(count) ? MPC_CLIENT_SEAL + plain_len(count) : 0;
}

/* ---- commitment and sealing -------------------------------------------- */

/* Hiding because the salt is 32 fresh random bytes (SHA-256 as a random
 * oracle), binding by collision resistance: a revealed (salt, shares) that
 * matches C_i is what the client committed to for party i. The party index
 * is hashed so that a commitment cannot be moved to another party. */
void mpc_client_commit(const uint8_t context[MPC_CLIENT_CTX], uint32_t party,
                       const uint8_t salt[MPC_CLIENT_SALT], const fe *shares, size_t count, cx_hash *out) {
  hash_ctx h;
  uint8_t idx[4], buf[64 * FE_BYTES];
  put_le(idx, party, 4);
  hash_ctx_init(&h, MPC_CLIENT_TAG);
  hash_ctx_update(&h, LABEL_COMMIT, sizeof LABEL_COMMIT - 1);
  hash_ctx_update(&h, context, MPC_CLIENT_CTX);
  hash_ctx_update(&h, idx, sizeof idx);
  hash_ctx_update(&h, salt, MPC_CLIENT_SALT);
  for (size_t k = 0; k < count + 1; k += 64) {
    size_t m = count + 1 - k < 64 ? count + 1 - k : 64;
    fe_encode_vec(shares + k, m, buf);
    hash_ctx_update(&h, buf, m * FE_BYTES);
  }
  hash_ctx_final(&h, out);
  /* the buffer and the hash state held encoded shares */
  sodium_memzero(buf, sizeof buf);
  sodium_memzero(&h, sizeof h);
}

cx_err mpc_client_seal(const uint8_t enc_pk[MPC_CLIENT_KEY], const uint8_t context[MPC_CLIENT_CTX],
                       const uint8_t salt[MPC_CLIENT_SALT], const fe *shares, size_t count, uint8_t *blob) {
  CX_ASSERT(count_ok(count));
  if (sodium_init() < 0) return CX_E_CRYPTO;
  size_t len = plain_len(count);
  uint8_t *m = sodium_malloc(len);
  if (!m) return CX_E_NOMEM;
  memcpy(m, context, MPC_CLIENT_CTX);
  memcpy(m + MPC_CLIENT_CTX, salt, MPC_CLIENT_SALT);
  fe_encode_vec(shares, count + 1, m + PLAIN_HDR);
  /* Sealed box (libsodium): a fresh ephemeral X25519 key per blob, so the
   * client needs no key of its own and nobody but party i can read it.
   * Fails only if enc_pk is a low-order point (all-zero shared secret). */
  int rc = crypto_box_seal(blob, m, len, enc_pk);
  sodium_memzero(m, len);
  sodium_free(m);
  return rc ? CX_E_BAD_KEY : CX_OK;
}

/* ---- client side ------------------------------------------------------- */

void mpc_client_dealt_free(mpc_client_dealt *d) {
  if (!d) return;
  free(d->blobs);
  free(d->commit);
  memset(d, 0, sizeof *d);
}

/* The sharings of every value and of the mask, party-major in sv
 * (sv[i * (count + 1) + k] = party i's share of item k; item count is the
 * mask). Everything comes from key: the mask from fe_prg nonce 0, item k's
 * t coefficients from nonce k + 1, so a seeded dealing is reproducible. */
static cx_err deal(const mpc_shamir *sh, const fe *values, size_t count, const uint8_t *key, fe *sv) {
  uint32_t n = sh->n, t = sh->t;
  fe *coef = fe_alloc(t), *mask = fe_alloc(1);
  fe col[MPC_MAX_N];
  if (!coef || !mask) {
    fe_free(coef);
    fe_free(mask);
    return CX_E_NOMEM;
  }
  fe_prg(key, 0, mask, 1);
  for (size_t k = 0; k <= count; k++) {
    fe_prg(key, k + 1, coef, t);
    shamir_share(sh, k < count ? values[k] : mask[0], t, coef, col);
    for (uint32_t i = 0; i < n; i++) sv[i * (count + 1) + k] = col[i];
  }
  sodium_memzero(col, sizeof col);
  fe_free(coef);
  fe_free(mask);
  return CX_OK;
}

/* Party i's salt and blob and commitment from the dealt shares. */
static cx_err seal_all(uint32_t n, size_t count, const fe *sv, const uint8_t (*enc_pk)[MPC_CLIENT_KEY],
                       const uint8_t *context, const uint8_t *key, mpc_client_dealt *out, char *err,
                       size_t errlen) {
  uint8_t salt[MPC_CLIENT_SALT];
  cx_err e = CX_OK;
  for (uint32_t i = 0; i < n && !e; i++) {
    const fe *mine = sv + (size_t)i * (count + 1);
    crypto_kdf_derive_from_key(salt, sizeof salt, i, KDF_SALT, key);
    mpc_client_commit(context, i, salt, mine, count, &out->commit[i]);
    e = mpc_client_seal(enc_pk[i], context, salt, mine, count, out->blobs + (size_t)i * out->blob_len);
    if (e == CX_E_BAD_KEY) cx_errf(err, errlen, e, "enc_key of party %u is not a usable X25519 key", i);
    else if (e) cx_errf(err, errlen, e, "out of memory");
  }
  sodium_memzero(salt, sizeof salt);
  return e;
}

static cx_err share_args(const fe *values, size_t count, char *err, size_t errlen) {
  if (!count_ok(count))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "count %zu: a dealing holds 1 to %d values", count,
                   MPC_CLIENT_MAX_VALUES);
  for (size_t k = 0; k < count; k++)
    if (values[k] >= FE_P)
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "value %zu is not a canonical field element", k);
  return CX_OK;
}

cx_err mpc_client_share(uint32_t n, uint32_t t, const fe *values, size_t count,
                        const uint8_t (*enc_pk)[MPC_CLIENT_KEY], const uint8_t context[MPC_CLIENT_CTX],
                        const uint8_t *seed, mpc_client_dealt *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (sodium_init() < 0) return cx_errf(err, errlen, CX_E_CRYPTO, "libsodium did not initialise");
  mpc_shamir sh;
  cx_err e = shamir_init(&sh, n, t);
  if (e == CX_E_INVALID_ARG)
    return cx_errf(err, errlen, e, "n = %u, t = %u: need 1 <= n <= %d and n >= 3t + 1", n, t, MPC_MAX_N);
  if (e) return cx_errf(err, errlen, e, "out of memory");
  if ((e = share_args(values, count, err, errlen))) {
    shamir_free(&sh);
    return e;
  }
  uint8_t *key = sodium_malloc(crypto_kdf_KEYBYTES);
  fe *sv = fe_alloc((size_t)n * (count + 1));
  out->n = n;
  out->count = count;
  out->blob_len = mpc_client_blob_len(count);
  out->blobs = malloc((size_t)n * out->blob_len);
  out->commit = malloc(n * sizeof *out->commit);
  if (!key || !sv || !out->blobs || !out->commit) {
    e = cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  } else {
    if (seed) memcpy(key, seed, crypto_kdf_KEYBYTES);
    else randombytes_buf(key, crypto_kdf_KEYBYTES);
    e = deal(&sh, values, count, key, sv);
    if (e) cx_errf(err, errlen, e, "out of memory");
    else e = seal_all(n, count, sv, enc_pk, context, key, out, err, errlen);
  }
  if (key) {
    sodium_memzero(key, crypto_kdf_KEYBYTES);
    sodium_free(key);
  }
  fe_free(sv);
  shamir_free(&sh);
  if (e) mpc_client_dealt_free(out);
  return e;
}

/* ---- party side -------------------------------------------------------- */

/* Decrypts and parses; the caller checks the commitment. */
static cx_err open_plain(const uint8_t *blob, size_t blob_len, const uint8_t *sk, const uint8_t *context,
                         size_t count, fe *shares, uint8_t *salt, char *err, size_t errlen) {
  uint8_t pk[MPC_CLIENT_KEY];
  size_t len = plain_len(count);
  /* secret memory from the engine's cache (fe_alloc: wiped on free), not a
   * fresh mapping per blob: a batch opens one blob per call */
  uint8_t *m = (uint8_t *)fe_alloc((len + sizeof(fe) - 1) / sizeof(fe));
  if (!m) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  cx_err e = CX_OK;
  crypto_scalarmult_base(pk, sk); /* X25519 public key of sk, as crypto_box_keypair makes it */
  if (crypto_box_seal_open(m, blob, blob_len, pk, sk) != 0)
    e = cx_errf(err, errlen, CX_E_CRYPTO, "share blob does not decrypt with this party's enc_key");
  else if (sodium_memcmp(m, context, MPC_CLIENT_CTX) != 0)
    e = cx_errf(err, errlen, CX_E_MPC_SESSION, "share blob was sealed for another context");
  else if (fe_decode_vec(m + PLAIN_HDR, count + 1, shares))
    e = cx_errf(err, errlen, CX_E_NONCANONICAL, "share blob holds a non-canonical field element");
  else
    memcpy(salt, m + MPC_CLIENT_CTX, MPC_CLIENT_SALT);
  fe_free((fe *)m);
  return e;
}

cx_err mpc_client_open(const uint8_t *blob, size_t blob_len, const uint8_t enc_sk[MPC_CLIENT_KEY],
                       const uint8_t context[MPC_CLIENT_CTX], size_t count, uint32_t me,
                       const cx_hash *commitment, fe *shares, uint8_t salt[MPC_CLIENT_SALT], char *err,
                       size_t errlen) {
  size_t want = mpc_client_blob_len(count);
  if (!want)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "count %zu: a dealing holds 1 to %d values", count,
                   MPC_CLIENT_MAX_VALUES);
  sodium_memzero(shares, (count + 1) * sizeof(fe));
  sodium_memzero(salt, MPC_CLIENT_SALT);
  if (blob_len < want)
    return cx_errf(err, errlen, CX_E_TRUNCATED, "share blob is %zu bytes; %zu values need %zu", blob_len,
                   count, want);
  if (blob_len > want)
    return cx_errf(err, errlen, CX_E_TRAILING, "share blob is %zu bytes; %zu values need %zu", blob_len,
                   count, want);
  if (sodium_init() < 0) return cx_errf(err, errlen, CX_E_CRYPTO, "libsodium did not initialise");
  cx_err e = open_plain(blob, blob_len, enc_sk, context, count, shares, salt, err, errlen);
  if (!e) {
    cx_hash c;
    mpc_client_commit(context, me, salt, shares, count, &c);
    if (!hash_eq(&c, commitment))
      e = cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                  "share blob does not match the client's commitment for party %u", me);
  }
  if (e) {
    sodium_memzero(shares, (count + 1) * sizeof(fe));
    sodium_memzero(salt, MPC_CLIENT_SALT);
  }
  return e;
}

/* ---- the consistency check --------------------------------------------- */

/* Fiat–Shamir (Fiat–Shamir 1986; in the random-oracle model): the
 * coefficients are a hash of everything the client fixed, so it must commit
 * to every party's shares before it can know them. count is hashed so that
 * one set of commitments read with another count gets other coefficients. */
void mpc_client_challenge(const uint8_t context[MPC_CLIENT_CTX], uint32_t n, const cx_hash *commit,
                          size_t count, fe *rho) {
  hash_ctx h;
  uint8_t nb[4], cb[8];
  cx_hash key;
  put_le(nb, n, 4);
  put_le(cb, count, 8);
  hash_ctx_init(&h, MPC_CLIENT_TAG);
  hash_ctx_update(&h, LABEL_CHALLENGE, sizeof LABEL_CHALLENGE - 1);
  hash_ctx_update(&h, context, MPC_CLIENT_CTX);
  hash_ctx_update(&h, nb, sizeof nb);
  hash_ctx_update(&h, cb, sizeof cb);
  for (uint32_t i = 0; i < n; i++) hash_ctx_update(&h, commit[i].b, sizeof commit[i].b);
  hash_ctx_final(&h, &key);
  fe_prg(key.b, 0, rho, count);
}

/* Independent coefficients rather than powers of one challenge: the same
 * cost, and the soundness error is 1/p instead of count/p (the syndrome of
 * the combination is linear in rho, Schwartz–Zippel with degree 1). The
 * mask has coefficient 1, so it always masks, whatever rho is. */
fe mpc_client_combine(const fe *rho, const fe *shares, size_t count) {
  fe y = shares[count];
  for (size_t k = 0; k < count; k++) y = fe_add(y, fe_mul(rho[k], shares[k]));
  return y;
}

/* ---- blame ------------------------------------------------------------- *
 *
 * Given the n opened y (all present: see below), decode them robustly.
 *   - All on one degree-t polynomial: accept. If some honest party's shares
 *     were off, its y would be off too except with probability 1/p over rho
 *     (fixed after the shares): honest shares are consistent. Corrupt
 *     members' y prove nothing about their own shares, which does not
 *     matter: the value is the one the honest shares define, and a wrong
 *     share later is corrected by every robust opening.
 *   - Otherwise E = the parties off the decoded polynomial P, or all n if
 *     none decodes, and each party in E reveals (salt, shares). For j in E:
 *       (a) the reveal does not match C_j, or is not canonical: j lied
 *           (an honest party checked its shares against C_j when it opened
 *           its blob) — evidence: j's signed reveal and the client's signed
 *           C_j;
 *       (b) y_j != combine(rho, revealed shares): j lied — evidence: j's
 *           signed y_j and signed reveal, rho being public.
 *     Any such j: BAD_MEMBER. Else, once every j in E has revealed:
 *     BAD_CLIENT. Why this is right:
 *       * an honest member is never named: its reveal is what it opened,
 *         which matched C_j, and its y is the combination of it;
 *       * an honest client is never blamed: its y polynomial Q holds at
 *         every honest party; at most t parties lie, so BW decodes (n >= 3t+1)
 *         and P = Q, as P agrees with at least (n + t + 1) / 2 >= 2t + 1 of
 *         the y, so with t + 1 honest ones. A j in E then has y_j !=
 *         Q(alpha_j) = combine of its committed shares, so (a) or (b) holds;
 *       * nothing of an honest client's values is revealed: E holds only
 *         parties that lied, at most t, whose shares the adversary has;
 *       * if no polynomial decodes, everyone revealed and passed (a) and
 *         (b), so the committed shares combine to the y, which lie on no
 *         polynomial: the commitments alone prove the client cheated.
 *         When one decodes, the proof holds as long as at most t members
 *         lie — the standing assumption, and the one behind naming a wrong
 *         share's sender in any robust opening.
 * A missing y gives no verdict: deciding E from fewer points could make
 * honest parties reveal an honest client's shares (with erasures, t liars
 * can steer the decoder), and accepting would leave the missing party's
 * shares unchecked. In a session every y arrives or the round times out. */

static void verdict(mpc_client_result *res, mpc_client_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void verdict(mpc_client_result *res, mpc_client_verdict v, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  res->verdict = v;
  vsnprintf(res->reason, sizeof res->reason, fmt, ap);
  va_end(ap);
}

static uint32_t lowest(uint64_t m) { return (uint32_t)__builtin_ctzll(m); }

/* (a) and (b) for party j: 0 if its reveal is consistent, else a reason. */
static const char *reveal_check(const uint8_t *context, uint32_t j, const cx_hash *cj, const fe *rho,
                                size_t count, fe yj, const mpc_client_reveal *r) {
  for (size_t k = 0; k <= count; k++)
    if (r->shares[k] >= FE_P) return "revealed a non-canonical element";
  cx_hash c;
  mpc_client_commit(context, j, r->salt, r->shares, count, &c);
  if (!hash_eq(&c, cj)) return "revealed shares that do not match the client's commitment";
  if (mpc_client_combine(rho, r->shares, count) != yj)
    return "sent a y that is not the combination of its shares";
  return NULL;
}

/* The parties of E: proven liars into res->members, silent ones into
 * res->missing. */
static void judge(const uint8_t *context, const cx_hash *commit, const fe *rho, size_t count, const fe *y,
                  uint64_t E, const mpc_client_reveal *const *reveal, mpc_client_result *res,
                  const char **first_why) {
  *first_why = NULL;
  for (uint64_t m = E; m; m &= m - 1) {
    uint32_t j = lowest(m);
    const mpc_client_reveal *r = reveal ? reveal[j] : NULL;
    if (!r || !r->shares) {
      res->missing |= (uint64_t)1 << j;
      continue;
    }
    const char *why = reveal_check(context, j, &commit[j], rho, count, y[j], r);
    if (!why) continue;
    if (!res->members) *first_why = why;
    res->members |= (uint64_t)1 << j;
  }
}

cx_err mpc_client_blame(uint32_t n, uint32_t t, const uint8_t context[MPC_CLIENT_CTX], const cx_hash *commit,
                        size_t count, const fe *y, uint64_t y_present, const mpc_client_reveal *const *reveal,
                        mpc_client_result *res) {
  memset(res, 0, sizeof *res);
  res->culprit = -1;
  if (!count_ok(count)) return CX_E_INVALID_ARG;
  mpc_shamir sh;
  cx_err e = shamir_init(&sh, n, t);
  if (e) return e;
  uint64_t all = all_mask(n);
  if ((y_present & all) != all) {
    res->missing = all & ~y_present;
    verdict(res, MPC_CLIENT_MISSING, "no verdict on the client's dealing: party %u's check value is missing",
            lowest(res->missing));
    shamir_free(&sh);
    return CX_OK;
  }
  const fe *col[MPC_MAX_N];
  for (uint32_t j = 0; j < n; j++) col[j] = &y[j];
  fe secret;
  uint64_t wrong;
  size_t first;
  int rc = shamir_open(&sh, col, 1, &secret, &wrong, &first);
  shamir_free(&sh);
  if (rc == 0 && !wrong) {
    verdict(res, MPC_CLIENT_OK, "the client's shares are consistent");
    return CX_OK;
  }
  res->reveal = rc ? all : wrong;
  fe *rho = malloc(count * sizeof *rho);
  if (!rho) return CX_E_NOMEM;
  mpc_client_challenge(context, n, commit, count, rho);
  const char *why;
  judge(context, commit, rho, count, y, res->reveal, reveal, res, &why);
  free(rho);
  if (res->members) {
    res->culprit = (int32_t)lowest(res->members);
    res->missing = 0;
    verdict(res, MPC_CLIENT_BAD_MEMBER, "party %d %s", res->culprit, why);
  } else if (res->missing) {
    verdict(res, MPC_CLIENT_REVEAL,
            "the client's shares are inconsistent at %d parties; party %u must reveal",
            __builtin_popcountll(res->reveal), lowest(res->missing));
  } else {
    verdict(res, MPC_CLIENT_BAD_CLIENT, "the client dealt inconsistent shares (%s; %d parties revealed)",
            rc ? "no polynomial fits the check values" : "revealed shares off the check polynomial",
            __builtin_popcountll(res->reveal));
  }
  return CX_OK;
}
