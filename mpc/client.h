/* Client-dealt inputs (internal to mpc/; docs/mpc-client.md).
 *
 * A client that is not a party (an insurer's SDK or CLI) secret-shares its
 * values itself and puts the shares in a transaction it signs: for each
 * party i, a sealed blob (libsodium sealed box to party i's on-chain X25519
 * enc_key) and a public commitment C_i. The parties never talk to the
 * client. Before the values are used, the parties check that the client's
 * shares are consistent, without learning anything about the values:
 *
 *   1. each party opens its blob (mpc_client_open), which also checks it
 *      against its commitment; a blob that does not open is a complaint
 *      that rejects the input (not transferable: docs "Complaints");
 *   2. rho = mpc_client_challenge(context, commitments): Fiat–Shamir over
 *      the commitments, so the client fixed every share before rho existed;
 *   3. each party opens y_i = mask_i + sum_k rho_k x_{i,k}
 *      (mpc_client_combine), where the mask is one more random value the
 *      client dealt in the same blob: y reveals nothing of the x (the mask
 *      polynomial is uniform), and nothing of the pool is used or revealed;
 *   4. mpc_client_blame decides: the n values y_i lie on one polynomial of
 *      degree t (accept; a bad dealing passes with probability <= 1/p per
 *      challenge the client tries), or the parties off the decoded
 *      polynomial must reveal (salt, shares), after which exactly one of
 *      "client cheated" (input rejected, no member named) or "member j
 *      lied" (with evidence: its signed y or reveal against the client's
 *      signed commitment) follows. An honest client is never blamed, an
 *      honest member never named, and an honest client's values are never
 *      revealed (only parties that lied reveal, while at most t do).
 *
 * Values are field elements; a client embeds signed integers with
 * fe_from_i64. Each party holds count + 1 shares: the count values, then
 * the mask (index count). */
#ifndef CUSTOS_MPC_CLIENT_H
#define CUSTOS_MPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "field.h"
#include "hash.h"

#define MPC_CLIENT_CTX 32    /* context bytes: binds chain, contract and call */
#define MPC_CLIENT_SALT 32   /* per-party commitment salt */
#define MPC_CLIENT_KEY 32    /* X25519 public and secret keys (crypto_box) */
#define MPC_CLIENT_SEAL 48   /* crypto_box_SEALBYTES: ephemeral key + MAC */
/* Values per dealing. The whole dealing rides in one transaction
 * (CX_TX_MAX_BYTES = 80 KiB), which holds far fewer; the cap keeps sizes
 * far from overflow. */
#define MPC_CLIENT_MAX_VALUES 4096

/* Hash tag of the commitments and of the challenge. Each hash also starts
 * with its own label ("custos/mpc-client/commit/v1", ".../challenge/v1"),
 * so the two uses of the tag never collide. */
#define MPC_CLIENT_TAG CX_TAG_MPC_CLIENT

/* Bytes of one sealed blob for count values (count + 1 shares):
 * MPC_CLIENT_SEAL + context + salt + (count + 1) * FE_BYTES. 0 if count is
 * 0 or over MPC_CLIENT_MAX_VALUES. */
size_t mpc_client_blob_len(size_t count);

/* ---- client side ------------------------------------------------------- */

/* What the client puts in its transaction: all public. */
typedef struct {
  uint32_t n;
  size_t count;
  size_t blob_len;  /* mpc_client_blob_len(count) */
  uint8_t *blobs;   /* n * blob_len: party i's blob at i * blob_len (malloc) */
  cx_hash *commit;  /* n commitments, party order (malloc) */
} mpc_client_dealt;

/* Shares values[0..count) (canonical) with random degree-t polynomials
 * among n parties (n >= 3t + 1, the consortium's n and t), adds one random
 * mask value, and seals party i's count + 1 shares to enc_pk[i].
 * seed: 32 bytes from which the polynomials, mask and salts are derived
 * (tests), or NULL for fresh randomness (clients); the sealing itself always
 * uses fresh ephemeral keys. Errors: CX_E_INVALID_ARG (n, t, count, a
 * non-canonical value), CX_E_BAD_KEY (a key that crypto_box refuses: a
 * low-order point), CX_E_NOMEM; out is then empty. */
cx_err mpc_client_share(uint32_t n, uint32_t t, const fe *values, size_t count,
                        const uint8_t (*enc_pk)[MPC_CLIENT_KEY], const uint8_t context[MPC_CLIENT_CTX],
                        const uint8_t *seed, mpc_client_dealt *out, char *err, size_t errlen);
void mpc_client_dealt_free(mpc_client_dealt *d); /* NULL or empty is a no-op */

/* The building blocks of mpc_client_share (also what a test uses to play a
 * cheating client). shares: count + 1 elements (values, then mask).
 * Commitment: H(label || context || party u32 LE || salt || shares). */
void mpc_client_commit(const uint8_t context[MPC_CLIENT_CTX], uint32_t party,
                       const uint8_t salt[MPC_CLIENT_SALT], const fe *shares, size_t count, cx_hash *out);
/* Seals context || salt || shares (fe_encode_vec) to enc_pk into blob
 * (mpc_client_blob_len(count) bytes). CX_E_BAD_KEY, CX_E_NOMEM. */
cx_err mpc_client_seal(const uint8_t enc_pk[MPC_CLIENT_KEY], const uint8_t context[MPC_CLIENT_CTX],
                       const uint8_t salt[MPC_CLIENT_SALT], const fe *shares, size_t count, uint8_t *blob);

/* ---- party side -------------------------------------------------------- */

/* Opens party me's blob with its X25519 secret key (the public key is
 * derived from it) and checks it, in this order, each with its own error:
 *   CX_E_TRUNCATED / CX_E_TRAILING  blob shorter / longer than count needs
 *                                   (also a count that differs from the
 *                                   client's);
 *   CX_E_CRYPTO                     does not decrypt with this key (tampered,
 *                                   or sealed to another party);
 *   CX_E_MPC_SESSION                sealed for another context;
 *   CX_E_NONCANONICAL               a share is not a canonical element;
 *   CX_E_MPC_CHECK_FAILED           does not match commitment (the client's
 *                                   C_me);
 *   CX_E_INVALID_ARG                count is 0 or over the cap.
 * On success shares[0..count] (caller's secret memory, fe_alloc) and salt
 * get the opened values; on failure both are zeroed. Any failure proves to
 * this party that the client cheated, but not to anyone else (docs
 * "Complaints"). */
cx_err mpc_client_open(const uint8_t *blob, size_t blob_len, const uint8_t enc_sk[MPC_CLIENT_KEY],
                       const uint8_t context[MPC_CLIENT_CTX], size_t count, uint32_t me,
                       const cx_hash *commitment, fe *shares, uint8_t salt[MPC_CLIENT_SALT], char *err,
                       size_t errlen);

/* ---- the consistency check --------------------------------------------- */

/* rho[0..count): the challenge, uniform elements from ChaCha20 keyed by
 * H(label || context || n u32 LE || count u64 LE || C_0 .. C_{n-1}). The
 * only coefficients a dealing may ever be combined with: a second
 * combination with other coefficients would, with the first, reveal a
 * linear function of the values (the mask cancels). */
void mpc_client_challenge(const uint8_t context[MPC_CLIENT_CTX], uint32_t n, const cx_hash *commit,
                          size_t count, fe *rho);
/* y = shares[count] + sum_k rho[k] * shares[k]: this party's share of the
 * masked combination, to be opened. */
fe mpc_client_combine(const fe *rho, const fe *shares, size_t count);

typedef enum {
  MPC_CLIENT_OK = 0,     /* the n y lie on one degree-t polynomial: accept the input */
  MPC_CLIENT_MISSING,    /* some y is missing: no verdict (res.missing) */
  MPC_CLIENT_REVEAL,     /* inconsistent: the parties in res.reveal must reveal
                            (res.missing: those that have not yet) */
  MPC_CLIENT_BAD_CLIENT, /* the client dealt inconsistent shares: reject, name no member */
  MPC_CLIENT_BAD_MEMBER, /* res.culprit (and every member in res.members) lied */
} mpc_client_verdict;

/* A party's reveal: its opened salt and count + 1 shares, public from then
 * on. */
typedef struct {
  uint8_t salt[MPC_CLIENT_SALT];
  const fe *shares;
} mpc_client_reveal;

typedef struct {
  mpc_client_verdict verdict;
  uint64_t reveal;   /* E: the parties off the decoded polynomial (all n if none decodes) */
  uint64_t missing;  /* MISSING: parties without y; REVEAL: parties of E without a reveal */
  uint64_t members;  /* BAD_MEMBER: every party of E whose reveal proves it lied */
  int32_t culprit;   /* BAD_MEMBER: the lowest of members; -1 otherwise */
  char reason[200];  /* one sentence; never contains a secret value */
} mpc_client_result;

/* The verdict from public data alone: the context, the client's n
 * commitments, the opened y (y[j] valid where bit j of y_present is set)
 * and the reveals (NULL, or n pointers with NULL where a party has not
 * revealed; only the parties of E are read). Pure and deterministic, so
 * every honest party, and anyone replaying the signed messages, reaches
 * the same verdict. The rule and why it is sound: mpc/client.c and
 * docs/mpc-client.md "Blame". CX_E_INVALID_ARG (n, t, count), CX_E_NOMEM. */
cx_err mpc_client_blame(uint32_t n, uint32_t t, const uint8_t context[MPC_CLIENT_CTX], const cx_hash *commit,
                        size_t count, const fe *y, uint64_t y_present, const mpc_client_reveal *const *reveal,
                        mpc_client_result *res);

#endif
