/* Threshold random beacon (issue 8, docs/threshold.md "Random beacon"): the
 * Diffie-Hellman threshold coin of C. Cachin, K. Kursawe, V. Shoup, "Random
 * Oracles in Constantinople: Practical Asynchronous Byzantine Agreement
 * Using Cryptography", J. Cryptology 18(3), 2005, section 4, over
 * ristretto255 with the DKG's keys (dkg.h), each share proved correct by a
 * Chaum-Pedersen proof of equal discrete logarithms (D. Chaum, T. P.
 * Pedersen, "Wallet Databases with Observers", CRYPTO '92, LNCS 740) made
 * non-interactive by Fiat-Shamir.
 *
 * For a coin name C (in the node: beacon_coin_name, chain id || height):
 *   H_C     = ristretto255_from_hash(SHA-512(DST || "h2g" || be16 |C| || C))
 *   share j = sigma_j = s_j * H_C, with a proof that
 *             log_G(Y_j) = log_{H_C}(sigma_j)        (Y_j = G * s_j, dkg.h)
 *   sigma   = sum over t shares of lambda_j * sigma_j = s * H_C
 *   value   = first 32 bytes of SHA-512(DST || "value" || be16 |C| || C || sigma)
 * DST is BEACON_DST. The value is a function of (s, C) only: any t valid
 * shares give the same one, and it cannot be computed without t shares.
 *
 * Threshold convention: dkg.h's and frost.h's (RFC 9591 MIN_PARTICIPANTS):
 * t shares are needed, t - 1 learn nothing (issue 8's "t + 1 members" counts
 * the tolerated corruptions instead). 2 <= t <= n <= DKG_MAX_PARTIES;
 * parties are identifiers 1..n.
 *
 * No pairing on ristretto255, so sigma alone cannot be checked against the
 * group key Y: what is published is a beacon_record (the coin, the value and
 * t shares with their proofs), which anyone holding the public shares Y_j
 * (dkg_result.pk_shares) checks with beacon_record_verify.
 *
 * Secrets: the signing share s_j is the caller's (sodium_malloc'd); the
 * proof nonce and every product with s_j are wiped here. Shares, sigma and
 * the value are public once made (a single share reveals nothing of s_j
 * beyond what Y_j does, under DDH).
 *
 * Errors are cx_err; where a function takes err/errlen it also writes a
 * sentence naming the party or field (either may be NULL/0). A share whose
 * proof fails is CX_E_MPC_CHECK_FAILED, as for the DKG's proofs. */
#ifndef CUSTOS_BEACON_H
#define CUSTOS_BEACON_H

#include <stddef.h>
#include <stdint.h>

#include "dkg.h"
#include "error.h"
#include "frost.h"

#define BEACON_DST "CUSTOS-BEACON-RISTRETTO255-SHA512-v1"
#define BEACON_VALUE_LEN 32
#define BEACON_MAX_COIN_LEN 256 /* coin names are 1..256 bytes */
#define BEACON_COIN_HEIGHT_LEN 40 /* chain_id[32] || be64 height */

/* Wire kinds: the first byte (after the DKG's 1..4). */
#define BEACON_KIND_SHARE 5
#define BEACON_KIND_RECORD 6

/* share:  kind=5 || be16 id || sigma || c || z */
#define BEACON_SHARE_LEN (1u + 2u + 32u + 32u + 32u)
#define BEACON_SHARE_BODY_LEN (2u + 96u) /* one share inside a record */
/* record: kind=6 || be16 |C| || C || value || be16 k || k x (be16 id || sigma || c || z) */
#define BEACON_RECORD_LEN(clen, k) \
  (1u + 2u + (size_t)(clen) + 32u + 2u + BEACON_SHARE_BODY_LEN * (size_t)(k))
#define BEACON_RECORD_MAX_LEN BEACON_RECORD_LEN(BEACON_MAX_COIN_LEN, DKG_MAX_PARTIES)

/* Party id's share of a coin: sigma = s_id * H_C and the proof (c, z):
 * z = r + c * s_id with A = G * r, B = H_C * r and
 * c = H(DST || "dleq" || be16 |C| || C || be16 id || Y_id || H_C || sigma || A || B)
 * (SHA-512 reduced mod L). The verifier recomputes A = G*z - Y_id*c,
 * B = H_C*z - sigma*c and the hash. */
typedef struct {
  uint16_t id;
  frost_element sigma;
  frost_scalar c, z;
} beacon_share;

/* What is published for a coin: the value and the shares it came from
 * (strictly ascending ids). */
typedef struct {
  uint16_t coin_len;
  uint8_t coin[BEACON_MAX_COIN_LEN];
  uint8_t value[BEACON_VALUE_LEN];
  uint16_t nshares;
  beacon_share shares[DKG_MAX_PARTIES];
} beacon_record;

/* The node's coin name for a block height: chain_id || be64 height. */
void beacon_coin_name(const uint8_t chain_id[32], uint64_t height,
                      uint8_t out[BEACON_COIN_HEIGHT_LEN]);

/* H_C (never the identity). CX_E_INVALID_ARG when clen is outside
 * 1..BEACON_MAX_COIN_LEN. */
cx_err beacon_base(const uint8_t *coin, size_t clen, frost_element *out);

/* Party id's share of coin with signing share s (dkg_finish's). The proof
 * nonce is H(DST || "nonce" || 32 fresh random bytes || s || coin || id),
 * so a bad RNG alone does not reveal s. */
cx_err beacon_share_make(const uint8_t *coin, size_t clen, uint16_t id, const frost_scalar *s,
                         beacon_share *out, char *err, size_t errlen);

/* CX_OK when sh is party id's correct share of coin under its public share
 * Y_id. CX_E_MPC_CHECK_FAILED when the proof fails (a wrong sigma, or a
 * proof for another coin or party): the sentence names party id as the
 * culprit. CX_E_MPC_SENDER when sh->id != id; CX_E_NONCANONICAL /
 * CX_E_BAD_KEY for a malformed sigma, c, z or Y_id (the identity refused). */
cx_err beacon_share_verify(const uint8_t *coin, size_t clen, uint16_t id, const frost_element *Y_id,
                           const beacon_share *sh, char *err, size_t errlen);

/* Lagrange interpolation in the exponent over the first t of nshares shares
 * (nshares >= t, distinct ids): sigma = s * H_C and the value. Does NOT check
 * the proofs: a wrong share gives a wrong value. CX_E_INVALID_ARG when
 * fewer than t shares or a repeated or zero id. sigma_out may be NULL. */
cx_err beacon_combine(const uint8_t *coin, size_t clen, uint16_t t, const beacon_share *shares,
                      size_t nshares, uint8_t value[BEACON_VALUE_LEN], frost_element *sigma_out,
                      char *err, size_t errlen);

/* The robust combine: checks every share against pk_shares[id-1] (n public
 * shares, dkg_result.pk_shares), names every bad one in culprits[0..*nculprits)
 * (culprits holds nshares; input order), and combines from the first t good
 * ones. CX_OK when at least t are good -- even if some were bad (the
 * culprits are still reported); CX_E_MPC_CHECK_FAILED when bad shares leave
 * fewer than t; CX_E_INVALID_ARG when fewer than t were given, a repeated
 * id or an id outside 1..n. rec (may be NULL) receives the record: the coin,
 * the value and the t shares used, ascending by id. */
cx_err beacon_combine_checked(const uint8_t *coin, size_t clen, uint16_t t, uint16_t n,
                              const frost_element *pk_shares, const beacon_share *shares,
                              size_t nshares, uint8_t value[BEACON_VALUE_LEN], beacon_record *rec,
                              uint16_t *culprits, size_t *nculprits, char *err, size_t errlen);

/* What a third party runs: CX_OK when rec is for coin, has at least t shares
 * with strictly ascending ids in 1..n, every share verifies against
 * pk_shares[id-1], and rec->value is the value they combine to. Refusals:
 * CX_E_INVALID_ARG (another coin, fewer than t shares, an id outside 1..n),
 * CX_E_UNSORTED, CX_E_MPC_CHECK_FAILED (a bad share: *culprit = its id; or a
 * value that does not match: *culprit = 0). culprit may be NULL. */
cx_err beacon_record_verify(const uint8_t *coin, size_t clen, uint16_t t, uint16_t n,
                            const frost_element *pk_shares, const beacon_record *rec,
                            uint16_t *culprit, char *err, size_t errlen);

/* ---- canonical encodings (strict decoders) ----
 * Decoders refuse: another kind (CX_E_BAD_ENUM), a wrong length
 * (CX_E_TRUNCATED / CX_E_TRAILING), id 0 (CX_E_INVALID_ARG), a coin length
 * of 0 (CX_E_INVALID_ARG) or over BEACON_MAX_COIN_LEN, or a share count over
 * DKG_MAX_PARTIES (CX_E_TOO_LONG), a record with no share (CX_E_INVALID_ARG),
 * ids not strictly ascending in a record (CX_E_UNSORTED), scalars >= L and
 * non-canonical elements (CX_E_NONCANONICAL), an identity sigma
 * (CX_E_BAD_KEY). Encoders write exactly the *_LEN bytes and return it. */
size_t beacon_share_encode(const beacon_share *sh, uint8_t out[BEACON_SHARE_LEN]);
cx_err beacon_share_decode(const uint8_t *in, size_t len, beacon_share *sh, char *err,
                           size_t errlen);
size_t beacon_record_encode(const beacon_record *rec,
                            uint8_t *out /* BEACON_RECORD_LEN(coin_len, nshares) */);
cx_err beacon_record_decode(const uint8_t *in, size_t len, beacon_record *rec, char *err,
                            size_t errlen);

#endif
