/* Unit tests for mpc/threshold/frost.h: FROST(ristretto255, SHA-512).
 *
 * The RFC 9591 vectors (tests/vectors/frost/) check every intermediate:
 * dealer shares, nonces, commitments, binding factors (and their input, which
 * checks H4 and H5), signature shares and the signature. The binding-factor
 * input is rebuilt here from its definition in RFC 9591 §4.4, not by the
 * library. Random runs check threshold behaviour; tampering checks that
 * verification and share verification refuse. */
#include <check.h>
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "frost.h"
#include "hash.h"
#include "testutil.h"

#ifndef CUSTOS_VECTORS_DIR
#error "CUSTOS_VECTORS_DIR must be defined (path of tests/vectors)"
#endif

/* L, the group order, little-endian. */
static const char L_HEX[] = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

static void hex32(const char *h, uint8_t out[32]) {
  ck_assert_msg(hex_decode(h, out, 32) == CX_OK, "bad hex in vector: %s", h);
}

static const char *jstr(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  ck_assert_msg(cJSON_IsString(v), "vector field %s missing", key);
  return v->valuestring;
}

static int jint(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  ck_assert_msg(v != NULL, "vector field %s missing", key);
  if (cJSON_IsString(v)) return atoi(v->valuestring);
  ck_assert(cJSON_IsNumber(v));
  return v->valueint;
}

static const cJSON *jget(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  ck_assert_msg(v != NULL, "vector field %s missing", key);
  return v;
}

static cJSON *load_vectors(const char *leaf) {
  char path[512];
  snprintf(path, sizeof path, "%s/frost/%s", CUSTOS_VECTORS_DIR, leaf);
  char *text = NULL;
  size_t len = 0;
  ck_assert_msg(file_read_all(path, 1 << 20, &text, &len) == CX_OK, "cannot read %s", path);
  cJSON *j = cJSON_ParseWithLength(text, len);
  free(text);
  ck_assert_msg(j != NULL, "%s is not JSON", path);
  return j;
}

static void assert_eq32(const uint8_t *got, const char *want_hex, const char *what, int id) {
  char h[65];
  hex_encode(got, 32, h);
  ck_assert_msg(strcmp(h, want_hex) == 0, "%s of participant %d: got %s, want %s", what, id, h,
                want_hex);
}

/* Runs one vector file through the whole protocol. */
static void run_vectors(const char *leaf) {
  cJSON *j = load_vectors(leaf);
  const cJSON *cfg = jget(j, "config"), *in = jget(j, "inputs");
  int max_p = jint(cfg, "MAX_PARTICIPANTS"), min_p = jint(cfg, "MIN_PARTICIPANTS");
  int nsign = jint(cfg, "NUM_PARTICIPANTS");
  ck_assert_int_le(nsign, 8);
  frost_scalar gsk, coeffs[1];
  frost_element gpk, gpk_dealer;
  hex32(jstr(in, "group_secret_key"), gsk.b);
  hex32(jstr(in, "group_public_key"), gpk.b);
  const cJSON *cl = jget(in, "share_polynomial_coefficients");
  ck_assert_int_eq(cJSON_GetArraySize(cl), min_p - 1);
  ck_assert_int_eq(min_p, 2);
  hex32(cJSON_GetArrayItem(cl, 0)->valuestring, coeffs[0].b);
  uint8_t msg[256];
  size_t mlen = 0;
  ck_assert_int_eq(hex_decode_var(jstr(in, "message"), msg, sizeof msg, &mlen), CX_OK);

  /* Appendix C: the dealer's shares and group key from the given polynomial. */
  frost_scalar *shares = sodium_allocarray((size_t)max_p, sizeof *shares);
  ck_assert_ptr_nonnull(shares);
  frost_element vss[2];
  char err[256];
  ck_assert_int_eq(frost_dealer_keygen(&gsk, coeffs, (uint16_t)max_p, (uint16_t)min_p, shares,
                                       &gpk_dealer, vss, err, sizeof err),
                   CX_OK);
  ck_assert(memcmp(gpk_dealer.b, gpk.b, 32) == 0);
  ck_assert(memcmp(vss[0].b, gpk.b, 32) == 0);
  const cJSON *ps;
  cJSON_ArrayForEach(ps, jget(in, "participant_shares")) {
    int id = jint(ps, "identifier");
    ck_assert(id >= 1 && id <= max_p);
    assert_eq32(shares[id - 1].b, jstr(ps, "participant_share"), "dealer share", id);
    ck_assert_int_eq(frost_vss_verify((uint16_t)id, &shares[id - 1], vss, 2), CX_OK);
    frost_element a, b;
    ck_assert_int_eq(frost_public_share(&shares[id - 1], &a), CX_OK);
    ck_assert_int_eq(frost_vss_public_share(vss, 2, (uint16_t)id, &b), CX_OK);
    ck_assert(memcmp(a.b, b.b, 32) == 0);
  }

  /* Round one (§5.1). */
  const cJSON *r1 = jget(jget(j, "round_one_outputs"), "outputs");
  int n = cJSON_GetArraySize(r1);
  ck_assert_int_eq(n, nsign);
  frost_commitment list[8];
  frost_nonces *nonces = sodium_allocarray((size_t)n, sizeof *nonces);
  frost_scalar sk[8];
  frost_element pk[8];
  ck_assert_ptr_nonnull(nonces);
  for (int k = 0; k < n; k++) {
    const cJSON *o = cJSON_GetArrayItem(r1, k);
    int id = jint(o, "identifier");
    ck_assert_int_eq(id, cJSON_GetArrayItem(jget(in, "participant_list"), k)->valueint);
    sk[k] = shares[id - 1];
    ck_assert_int_eq(frost_public_share(&sk[k], &pk[k]), CX_OK);
    uint8_t hr[32], br[32];
    hex32(jstr(o, "hiding_nonce_randomness"), hr);
    hex32(jstr(o, "binding_nonce_randomness"), br);
    frost_scalar hn;
    frost_nonce_generate(&sk[k], hr, &hn);
    assert_eq32(hn.b, jstr(o, "hiding_nonce"), "nonce_generate", id);
    ck_assert_int_eq(frost_commit((uint16_t)id, &sk[k], hr, br, &nonces[k], &list[k]), CX_OK);
    ck_assert_int_eq(list[k].id, id);
    assert_eq32(nonces[k].hiding.b, jstr(o, "hiding_nonce"), "hiding nonce", id);
    assert_eq32(nonces[k].binding.b, jstr(o, "binding_nonce"), "binding nonce", id);
    assert_eq32(list[k].hiding.b, jstr(o, "hiding_nonce_commitment"), "hiding commitment", id);
    assert_eq32(list[k].binding.b, jstr(o, "binding_nonce_commitment"), "binding commitment", id);
  }

  /* Binding factors (§4.4), and their input from its definition:
   * PK || H4(msg) || H5(id_1 || D_1 || E_1 || ...) || id. */
  frost_scalar rho[8];
  ck_assert_int_eq(frost_binding_factors(&gpk, list, (size_t)n, msg, mlen, rho, err, sizeof err),
                   CX_OK);
  uint8_t enc[8 * 96], input[192];
  for (int k = 0; k < n; k++) {
    frost_scalar ids;
    frost_id_scalar(list[k].id, &ids);
    memcpy(enc + 96 * k, ids.b, 32);
    memcpy(enc + 96 * k + 32, list[k].hiding.b, 32);
    memcpy(enc + 96 * k + 64, list[k].binding.b, 32);
  }
  for (int k = 0; k < n; k++) {
    const cJSON *o = cJSON_GetArrayItem(r1, k);
    frost_scalar ids, h1;
    frost_id_scalar(list[k].id, &ids);
    memcpy(input, gpk.b, 32);
    frost_h4(msg, mlen, input + 32);
    frost_h5(enc, (size_t)n * 96, input + 96);
    memcpy(input + 160, ids.b, 32);
    char hin[2 * sizeof input + 1];
    hex_encode(input, sizeof input, hin);
    ck_assert_str_eq(hin, jstr(o, "binding_factor_input"));
    frost_h1(input, sizeof input, &h1);
    assert_eq32(h1.b, jstr(o, "binding_factor"), "H1(binding_factor_input)", list[k].id);
    assert_eq32(rho[k].b, jstr(o, "binding_factor"), "binding factor", list[k].id);
  }

  /* Round two (§5.2), share verification (§5.4), aggregation (§5.3). */
  const cJSON *r2 = jget(jget(j, "round_two_outputs"), "outputs");
  frost_scalar z[8];
  for (int k = 0; k < n; k++) {
    const cJSON *o = cJSON_GetArrayItem(r2, k);
    ck_assert_int_eq(jint(o, "identifier"), list[k].id);
    ck_assert_int_eq(frost_sign(list[k].id, &sk[k], &gpk, &nonces[k], msg, mlen, list, (size_t)n,
                                &z[k], err, sizeof err),
                     CX_OK);
    ck_assert(sodium_is_zero((const uint8_t *)&nonces[k], sizeof nonces[k]));
    assert_eq32(z[k].b, jstr(o, "sig_share"), "signature share", list[k].id);
    ck_assert_int_eq(
        frost_verify_share(list[k].id, &pk[k], &z[k], list, (size_t)n, &gpk, msg, mlen), CX_OK);
  }
  frost_sig sig, sig2;
  ck_assert_int_eq(frost_aggregate(list, (size_t)n, msg, mlen, &gpk, z, &sig, err, sizeof err),
                   CX_OK);
  char hs[129];
  hex_encode(sig.b, 64, hs);
  ck_assert_str_eq(hs, jstr(jget(j, "final_output"), "sig"));
  uint16_t culprits[8];
  size_t nc = 99;
  ck_assert_int_eq(frost_aggregate_checked(list, (size_t)n, msg, mlen, &gpk, z, pk, &sig2, culprits,
                                           &nc, err, sizeof err),
                   CX_OK);
  ck_assert_uint_eq(nc, 0);
  ck_assert(memcmp(sig.b, sig2.b, 64) == 0);
  ck_assert_int_eq(frost_verify(&gpk, msg, mlen, &sig, err, sizeof err), CX_OK);

  /* The group commitment is the signature's R. */
  frost_element R;
  ck_assert_int_eq(frost_group_commitment(list, (size_t)n, rho, &R), CX_OK);
  ck_assert(memcmp(R.b, sig.b, 32) == 0);

  /* A wrong share is named by §5.4 and by the checked aggregate. */
  frost_scalar bad = z[n - 1], one = {{1}};
  crypto_core_ristretto255_scalar_add(bad.b, bad.b, one.b);
  ck_assert_int_eq(
      frost_verify_share(list[n - 1].id, &pk[n - 1], &bad, list, (size_t)n, &gpk, msg, mlen),
      CX_E_FROST_BAD_SHARE);
  frost_scalar zbad[8];
  memcpy(zbad, z, sizeof zbad);
  zbad[n - 1] = bad;
  ck_assert_int_eq(frost_aggregate_checked(list, (size_t)n, msg, mlen, &gpk, zbad, pk, &sig2,
                                           culprits, &nc, err, sizeof err),
                   CX_E_FROST_BAD_SHARE);
  ck_assert_uint_eq(nc, 1);
  ck_assert_uint_eq(culprits[0], list[n - 1].id);
  char idtxt[16];
  snprintf(idtxt, sizeof idtxt, "%u", list[n - 1].id);
  ck_assert_msg(strstr(err, idtxt) != NULL, "error does not name %s: %s", idtxt, err);
  /* Share of one participant checked against another's key: refused. */
  ck_assert_int_eq(frost_verify_share(list[0].id, &pk[1], &z[0], list, (size_t)n, &gpk, msg, mlen),
                   CX_E_FROST_BAD_SHARE);

  sodium_free(nonces);
  sodium_free(shares);
  frost_wipe(sk, sizeof sk);
  cJSON_Delete(j);
}

START_TEST(rfc_vectors) { run_vectors("vectors.json"); }
END_TEST

START_TEST(rfc_vectors_big_identifier) { run_vectors("vectors-big-identifier.json"); }
END_TEST

/* Loads the standard vector's group key, message and signature. */
static void vector_sig(frost_element *gpk, uint8_t *msg, size_t *mlen, frost_sig *sig) {
  cJSON *j = load_vectors("vectors.json");
  const cJSON *in = jget(j, "inputs");
  hex32(jstr(in, "group_public_key"), gpk->b);
  ck_assert_int_eq(hex_decode_var(jstr(in, "message"), msg, 64, mlen), CX_OK);
  ck_assert_int_eq(hex_decode(jstr(jget(j, "final_output"), "sig"), sig->b, 64), CX_OK);
  cJSON_Delete(j);
}

/* Flipping any one bit of R, z, the message or the group key is refused. */
START_TEST(verify_refuses_flipped_bits) {
  frost_element gpk;
  uint8_t msg[64];
  size_t mlen;
  frost_sig sig;
  vector_sig(&gpk, msg, &mlen, &sig);
  char err[256];
  ck_assert_int_eq(frost_verify(&gpk, msg, mlen, &sig, err, sizeof err), CX_OK);
  for (int bit = 0; bit < 512; bit++) {
    frost_sig s = sig;
    s.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    ck_assert_msg(frost_verify(&gpk, msg, mlen, &s, err, sizeof err) != CX_OK, "sig bit %d", bit);
  }
  for (int bit = 0; bit < 256; bit++) {
    frost_element g = gpk;
    g.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    ck_assert_msg(frost_verify(&g, msg, mlen, &sig, err, sizeof err) != CX_OK, "key bit %d", bit);
  }
  for (size_t bit = 0; bit < mlen * 8; bit++) {
    uint8_t m[64];
    memcpy(m, msg, mlen);
    m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    ck_assert_msg(frost_verify(&gpk, m, mlen, &sig, err, sizeof err) == CX_E_BAD_SIG, "msg bit %zu",
                  bit);
  }
  /* A longer or shorter message too. */
  ck_assert_int_eq(frost_verify(&gpk, msg, mlen - 1, &sig, err, sizeof err), CX_E_BAD_SIG);
  ck_assert_int_eq(frost_verify(&gpk, msg, mlen + 1, &sig, err, sizeof err), CX_E_BAD_SIG);
}
END_TEST

/* Encodings: non-canonical scalars and elements and the identity are refused
 * with their own codes. */
START_TEST(encodings) {
  uint8_t l[32], b[32];
  hex32(L_HEX, l);
  ck_assert(!frost_scalar_canonical(l));
  memcpy(b, l, 32);
  b[0]--; /* L - 1 */
  ck_assert(frost_scalar_canonical(b));
  memset(b, 0xff, 32);
  ck_assert(!frost_scalar_canonical(b));
  memset(b, 0, 32);
  ck_assert(frost_scalar_canonical(b));
  ck_assert_int_eq(frost_element_check(b), CX_E_BAD_KEY); /* identity */
  memset(b, 0xff, 32);
  ck_assert_int_eq(frost_element_check(b), CX_E_NONCANONICAL);

  frost_element gpk;
  uint8_t msg[64];
  size_t mlen;
  frost_sig sig;
  char err[256] = "";
  vector_sig(&gpk, msg, &mlen, &sig);
  /* z + L is the same residue but not canonical: refused, not reduced. */
  frost_sig s = sig;
  unsigned carry = 0;
  for (int i = 0; i < 32; i++) {
    unsigned v = s.b[32 + i] + l[i] + carry;
    s.b[32 + i] = (uint8_t)v;
    carry = v >> 8;
  }
  ck_assert_uint_eq(carry, 0);
  ck_assert_int_eq(frost_verify(&gpk, msg, mlen, &s, err, sizeof err), CX_E_NONCANONICAL);
  ck_assert_ptr_nonnull(strstr(err, "z"));
  s = sig;
  memset(s.b, 0, 32);
  ck_assert_int_eq(frost_verify(&gpk, msg, mlen, &s, err, sizeof err), CX_E_BAD_KEY);
  s = sig;
  memset(s.b, 0xff, 32);
  ck_assert_int_eq(frost_verify(&gpk, msg, mlen, &s, err, sizeof err), CX_E_NONCANONICAL);
  frost_element g;
  memset(g.b, 0, 32);
  ck_assert_int_eq(frost_verify(&g, msg, mlen, &sig, err, sizeof err), CX_E_BAD_KEY);
  memset(g.b, 0xff, 32);
  ck_assert_int_eq(frost_verify(&g, msg, mlen, &sig, err, sizeof err), CX_E_BAD_KEY);
  ck_assert_ptr_nonnull(strstr(err, "canonical"));
}
END_TEST

/* ---- random runs ---- */

typedef struct {
  uint16_t n, t;
  frost_scalar *shares; /* sodium_malloc'd, n */
  frost_element gpk, pk[16];
} group;

static void group_new(group *g, uint16_t n, uint16_t t) {
  g->n = n;
  g->t = t;
  g->shares = sodium_allocarray(n, sizeof *g->shares);
  ck_assert_ptr_nonnull(g->shares);
  frost_element vss[16];
  char err[256];
  ck_assert_int_eq(frost_dealer_keygen(NULL, NULL, n, t, g->shares, &g->gpk, vss, err, sizeof err),
                   CX_OK);
  for (uint16_t i = 0; i < n; i++) {
    ck_assert_int_eq(frost_vss_verify(i + 1, &g->shares[i], vss, t), CX_OK);
    ck_assert_int_eq(frost_public_share(&g->shares[i], &g->pk[i]), CX_OK);
  }
  /* A share that is off by one fails its VSS check. */
  frost_scalar bad = g->shares[0], one = {{1}};
  crypto_core_ristretto255_scalar_add(bad.b, bad.b, one.b);
  ck_assert_int_eq(frost_vss_verify(1, &bad, vss, t), CX_E_MPC_CHECK_FAILED);
  frost_wipe(&bad, sizeof bad);
}

/* Signers given by a bit mask over ids 1..n; returns the aggregate's verify
 * result. With corrupt_mask, those signers' shares are altered and must be
 * named by the checked aggregate. */
static cx_err sign_with(const group *g, unsigned mask, unsigned corrupt_mask, const uint8_t *msg,
                        size_t mlen) {
  frost_commitment list[16];
  frost_nonces *nonces = sodium_allocarray(16, sizeof *nonces);
  frost_scalar z[16];
  frost_element pk[16];
  size_t n = 0;
  char err[256];
  for (uint16_t i = 0; i < g->n; i++) {
    if (!(mask & (1u << i))) continue;
    ck_assert_int_eq(frost_commit(i + 1, &g->shares[i], NULL, NULL, &nonces[n], &list[n]), CX_OK);
    pk[n] = g->pk[i];
    n++;
  }
  for (size_t k = 0; k < n; k++) {
    uint16_t id = list[k].id;
    ck_assert_int_eq(frost_sign(id, &g->shares[id - 1], &g->gpk, &nonces[k], msg, mlen, list, n,
                                &z[k], err, sizeof err),
                     CX_OK);
    /* +1 each, so that two wrong shares cannot cancel in the sum. */
    frost_scalar one = {{1}};
    if (corrupt_mask & (1u << (id - 1))) crypto_core_ristretto255_scalar_add(z[k].b, z[k].b, one.b);
  }
  frost_sig sig;
  uint16_t culprits[16];
  size_t nc = 0;
  cx_err e = frost_aggregate_checked(list, n, msg, mlen, &g->gpk, z, pk, &sig, culprits, &nc, err,
                                     sizeof err);
  if (corrupt_mask & mask) {
    ck_assert_int_eq(e, CX_E_FROST_BAD_SHARE);
    size_t want = 0;
    for (size_t k = 0; k < n; k++)
      if (corrupt_mask & (1u << (list[k].id - 1))) {
        ck_assert_uint_lt(want, nc);
        ck_assert_uint_eq(culprits[want], list[k].id);
        want++;
      }
    ck_assert_uint_eq(want, nc);
    /* Unchecked, the bad share gives a signature that does not verify. */
    ck_assert_int_eq(frost_aggregate(list, n, msg, mlen, &g->gpk, z, &sig, err, sizeof err), CX_OK);
  } else {
    ck_assert_msg(e == CX_OK, "%s", err);
    ck_assert_uint_eq(nc, 0);
  }
  sodium_free(nonces);
  return frost_verify(&g->gpk, msg, mlen, &sig, err, sizeof err);
}

static void threshold_run(uint16_t n, uint16_t t) {
  group g;
  group_new(&g, n, t);
  uint8_t msg[40];
  tu_randbytes(msg, sizeof msg);
  size_t mlen = 1 + (size_t)(tu_rand() % sizeof msg);
  int subsets = 0;
  for (unsigned mask = 1; mask < (1u << n); mask++) {
    int size = __builtin_popcount(mask);
    if (size < t - 1) continue;
    cx_err e = sign_with(&g, mask, 0, msg, mlen);
    if (size >= t) {
      ck_assert_msg(e == CX_OK, "signers 0x%x (t=%u) did not give a valid signature", mask, t);
      subsets++;
    } else {
      /* t - 1 shares interpolate to the wrong secret. */
      ck_assert_msg(e == CX_E_BAD_SIG, "signers 0x%x below threshold verified", mask);
    }
  }
  ck_assert_int_gt(subsets, 0);
  /* Wrong shares in a full signing set: every culprit named, in order. */
  unsigned all = (1u << n) - 1;
  ck_assert_int_eq(sign_with(&g, all, 1u << (tu_rand() % n), msg, mlen), CX_E_BAD_SIG);
  ck_assert_int_eq(sign_with(&g, all, (1u << 0) | (1u << (n - 1)), msg, mlen), CX_E_BAD_SIG);
  sodium_free(g.shares);
}

START_TEST(random_n4_t2) { threshold_run(4, 2); }
END_TEST

START_TEST(random_n7_t3) { threshold_run(7, 3); }
END_TEST

/* Misuse and malformed lists are refused with a reason. */
START_TEST(refusals) {
  group g;
  group_new(&g, 4, 2);
  uint8_t msg[] = "custos";
  frost_commitment list[3];
  frost_nonces *nonces = sodium_allocarray(3, sizeof *nonces);
  frost_scalar z, rho[3];
  char err[256];
  for (uint16_t k = 0; k < 3; k++)
    ck_assert_int_eq(frost_commit(k + 1, &g.shares[k], NULL, NULL, &nonces[k], &list[k]), CX_OK);
  /* Unsorted list. */
  frost_commitment sw[3] = {list[1], list[0], list[2]};
  ck_assert_int_eq(frost_binding_factors(&g.gpk, sw, 3, msg, sizeof msg, rho, err, sizeof err),
                   CX_E_UNSORTED);
  /* Duplicate identifier. */
  frost_commitment dup[2] = {list[0], list[0]};
  ck_assert_int_eq(frost_binding_factors(&g.gpk, dup, 2, msg, sizeof msg, rho, err, sizeof err),
                   CX_E_UNSORTED);
  /* Identity commitment. */
  frost_commitment idc[2] = {list[0], list[1]};
  memset(idc[1].binding.b, 0, 32);
  ck_assert_int_eq(frost_binding_factors(&g.gpk, idc, 2, msg, sizeof msg, rho, err, sizeof err),
                   CX_E_BAD_KEY);
  ck_assert_ptr_nonnull(strstr(err, "participant 2"));
  /* Signer not in the list. */
  frost_nonces keep = nonces[2];
  ck_assert_int_eq(frost_sign(3, &g.shares[2], &g.gpk, &nonces[2], msg, sizeof msg, list, 2, &z,
                              err, sizeof err),
                   CX_E_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(err, "not in the commitment list"));
  /* Nonces that do not match the list's commitment (another signer's). */
  nonces[2] = keep;
  frost_nonces other = nonces[1];
  ck_assert_int_eq(
      frost_sign(1, &g.shares[0], &g.gpk, &other, msg, sizeof msg, list, 3, &z, err, sizeof err),
      CX_E_INVALID_ARG);
  /* Reused nonces: the first sign wipes them, the second is refused. */
  ck_assert_int_eq(frost_sign(1, &g.shares[0], &g.gpk, &nonces[0], msg, sizeof msg, list, 3, &z,
                              err, sizeof err),
                   CX_OK);
  ck_assert_int_eq(frost_sign(1, &g.shares[0], &g.gpk, &nonces[0], msg, sizeof msg, list, 3, &z,
                              err, sizeof err),
                   CX_E_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(err, "already used"));
  /* Lagrange: the id must be in the set once, ids distinct. */
  uint16_t ids[3] = {1, 2, 2};
  frost_scalar lam;
  ck_assert_int_eq(frost_lagrange(1, ids, 3, &lam), CX_E_INVALID_ARG);
  ck_assert_int_eq(frost_lagrange(3, ids, 2, &lam), CX_E_INVALID_ARG);
  /* lambda_1 over {1, 2} is 2 / (2 - 1) = 2. */
  ck_assert_int_eq(frost_lagrange(1, ids, 2, &lam), CX_OK);
  ck_assert_uint_eq(lam.b[0], 2);
  ck_assert(sodium_is_zero(lam.b + 1, 31));
  /* Dealer parameters. */
  frost_scalar sh[4];
  frost_element gk;
  ck_assert_int_eq(frost_dealer_keygen(NULL, NULL, 4, 1, sh, &gk, NULL, err, sizeof err),
                   CX_E_INVALID_ARG);
  ck_assert_int_eq(frost_dealer_keygen(NULL, NULL, 2, 3, sh, &gk, NULL, err, sizeof err),
                   CX_E_INVALID_ARG);
  /* A share that is not canonical is refused by share verification. */
  frost_scalar big;
  hex32(L_HEX, big.b);
  ck_assert_int_eq(frost_verify_share(1, &g.pk[0], &big, list, 3, &g.gpk, msg, sizeof msg),
                   CX_E_NONCANONICAL);
  frost_wipe(sh, sizeof sh);
  sodium_free(nonces);
  sodium_free(g.shares);
}
END_TEST

static Suite *frost_suite(void) {
  Suite *s = suite_create("frost");
  TCase *tc = tcase_create("frost");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, rfc_vectors);
  tcase_add_test(tc, rfc_vectors_big_identifier);
  tcase_add_test(tc, verify_refuses_flipped_bits);
  tcase_add_test(tc, encodings);
  tcase_add_test(tc, random_n4_t2);
  tcase_add_test(tc, random_n7_t3);
  tcase_add_test(tc, refusals);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  if (sodium_init() < 0) return 1;
  tu_seed();
  return tu_run(frost_suite());
}
