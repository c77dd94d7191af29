/* Distributed key generation for the consortium's FROST key (issue 8,
 * docs/threshold.md "DKG"): the KeyGen of the FROST paper (C. Komlo,
 * I. Goldberg, "FROST: Flexible Round-Optimized Schnorr Threshold
 * Signatures", SAC 2020, Figure 1) -- each dealer runs a Feldman VSS of a
 * random secret and proves knowledge of its constant term with a Schnorr
 * proof bound to (context, dealer), which stops rogue-key attacks -- plus the
 * complaint / public-answer step of GJKR (Gennaro, Jarecki, Krawczyk, Rabin,
 * "Secure Distributed Key Generation for Discrete-Log Based Cryptosystems",
 * J. Cryptology 20(1), 2007, steps 1(c)-(d)), so that a cheating dealer is
 * disqualified with evidence anyone can check.
 *
 * Threshold convention: frost.h's (RFC 9591 MIN_PARTICIPANTS). t is the
 * number of signers needed: each dealer's polynomial has degree t - 1, a
 * round-one message carries t commitments C_i[0..t-1], any t signing shares
 * sign, t - 1 learn nothing. 2 <= t <= n <= DKG_MAX_PARTIES; parties are the
 * FROST identifiers 1..n.
 *
 * A pure state machine: no sockets, clock or disk. The caller moves messages:
 *   round 1: dkg_round1 -> broadcast; every party feeds every broadcast
 *            (its own too, or not: it is kept) to dkg_recv_round1.
 *   round 2: dkg_round2 -> one share per recipient. The CALLER seals each
 *            share to its recipient (in the node: to the recipient's enc_key)
 *            and the recipient unseals it before dkg_recv_share; nothing here
 *            encrypts. A share that fails the commitment check makes a
 *            complaint, which the caller broadcasts; dkg_complain makes one
 *            for a share that never came or did not decode.
 *   complaints: every party feeds every complaint to dkg_recv_complaint;
 *            the accused dealer answers with dkg_answer (a public reveal of
 *            the share), broadcast and fed to dkg_recv_answer everywhere.
 *   finish:  once the caller's answer deadline has passed, dkg_finish:
 *            a complaint still unanswered disqualifies its dealer.
 * Every decision is a function of broadcast data only (round-one messages,
 * complaints, answers), so honest parties that saw the same broadcasts agree
 * on QUAL and the group key; a party's own bad share only makes a complaint.
 *
 * Secrets (coefficients, own and received shares) live in sodium_malloc'd
 * memory inside the state and are wiped by dkg_free. dkg_share values and the
 * signing share of dkg_finish are secrets in the caller's memory: keep them
 * in sodium_malloc'd memory or wipe them (frost_wipe).
 *
 * Errors are cx_err; where a function takes err/errlen it also writes a
 * sentence naming the dealer or field (either may be NULL/0). */
#ifndef CUSTOS_DKG_H
#define CUSTOS_DKG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frost.h"

#define DKG_MAX_PARTIES 128
#define DKG_CONTEXT_LEN 32

/* Wire kinds: the first byte of every encoding. */
#define DKG_KIND_ROUND1 1
#define DKG_KIND_SHARE 2
#define DKG_KIND_COMPLAINT 3
#define DKG_KIND_ANSWER 4

/* Complaint reasons. */
#define DKG_COMPLAINT_BAD_SHARE 1 /* the disclosed share fails the commitments */
#define DKG_COMPLAINT_NO_SHARE 2  /* no share came, or it did not decode */

/* Encoded sizes: kind || be16 fields || 32-byte values. */
#define DKG_ROUND1_LEN(t) (1u + 2u + 2u + 32u * (size_t)(t) + 64u)
#define DKG_ROUND1_MAX_LEN DKG_ROUND1_LEN(DKG_MAX_PARTIES)
#define DKG_SHARE_LEN (1u + 2u + 2u + 32u)
#define DKG_COMPLAINT_MAX_LEN (1u + 2u + 2u + 1u + 32u)
#define DKG_ANSWER_LEN (1u + 2u + 2u + 32u)

/* Round one, broadcast: dealer i's commitments C_i[k] = G * a_ik and the
 * proof of knowledge (R, mu) of a_i0: mu = k + a_i0 * c with R = G * k and
 * c = H("FROST-RISTRETTO255-SHA512-v1" "dkg" || context || id_i || C_i[0] || R)
 * (FROST paper Figure 1, round 1 steps 2 and 5). */
typedef struct {
  uint16_t dealer;
  uint16_t t;
  frost_element commit[DKG_MAX_PARTIES];
  frost_element R;
  frost_scalar mu;
} dkg_round1_msg;

/* Round two, private: f_dealer(recipient). Secret: the caller seals it. */
typedef struct {
  uint16_t dealer, recipient;
  frost_scalar value;
} dkg_share;

/* Public: complainer says dealer's share to it is bad (and discloses it:
 * the dealer's answer makes it public anyway) or never came. */
typedef struct {
  uint16_t dealer, complainer;
  uint8_t reason; /* DKG_COMPLAINT_* */
  frost_scalar share; /* the disclosed share; zero for NO_SHARE */
} dkg_complaint;

/* Public: the accused dealer reveals f_dealer(complainer). */
typedef struct {
  uint16_t dealer, complainer;
  frost_scalar share;
} dkg_answer;

/* What dkg_finish gives. qual[0..nqual) ascending; pk_shares[j-1] = Y_j =
 * sum over QUAL of the dealers' commitment polynomials at j (= G * s_j), for
 * j = 1..n: frost_verify_share's pk_i and frost_aggregate_checked's pk. */
typedef struct {
  uint16_t n, t;
  uint16_t nqual;
  uint16_t qual[DKG_MAX_PARTIES];
  frost_element group_pk; /* Y = sum over QUAL of C_i[0] */
  frost_element pk_shares[DKG_MAX_PARTIES];
} dkg_result;

typedef struct dkg dkg;

/* ---- the state machine ---- */

/* A session for party my_id among 1..n with threshold t (frost.h's). context:
 * 32 bytes naming this run (in the node: a hash of chain id, validator set,
 * epoch), bound into every proof so a round-one message cannot be replayed
 * in another run. seed: 32 bytes making the coefficients and proof nonce
 * deterministic (tests only), NULL for fresh randomness. */
cx_err dkg_new(uint16_t n, uint16_t t, uint16_t my_id, const uint8_t context[DKG_CONTEXT_LEN],
               const uint8_t *seed, dkg **out, char *err, size_t errlen);
/* Wipes every secret and frees; NULL is a no-op. */
void dkg_free(dkg *d);

/* Round one: this party's broadcast (the same every call). It is also
 * recorded as received. */
cx_err dkg_round1(dkg *d, dkg_round1_msg *out);
/* Round two: shares[j-1] = f_me(j) for every j != my_id (shares[my_id-1] is
 * zeroed: the own share stays inside). shares: n entries of caller memory,
 * sodium_malloc'd. Needs round one made. */
cx_err dkg_round2(dkg *d, dkg_share *shares, char *err, size_t errlen);

/* A round-one broadcast. CX_OK when accepted (or an identical copy);
 * CX_E_MPC_CHECK_FAILED when the proof of knowledge fails: the dealer is
 * disqualified (dkg_round1_verify is the evidence); CX_E_MPC_EQUIVOCATION for
 * a second, different message from one dealer (the first is kept: broadcast
 * consistency is the transport's job); CX_E_MPC_SENDER, CX_E_INVALID_ARG for
 * a dealer or t that does not fit this session. */
cx_err dkg_recv_round1(dkg *d, const dkg_round1_msg *m, char *err, size_t errlen);

/* A share addressed to this party (unsealed by the caller). Needs the
 * dealer's round-one message (CX_E_MPC_ROUND before it). CX_OK when it
 * matches the dealer's commitments. When it does not: CX_E_MPC_CHECK_FAILED,
 * *complained = 1 and *complaint is the complaint to broadcast (also recorded
 * here; a value that is not a scalar below L makes a NO_SHARE complaint, as
 * it cannot be disclosed). A share from a disqualified dealer is ignored
 * (CX_OK, no complaint).
 * complained may be NULL only if the caller does not care. */
cx_err dkg_recv_share(dkg *d, const dkg_share *s, dkg_complaint *complaint, int *complained,
                      char *err, size_t errlen);
/* A NO_SHARE complaint against dealer (its share did not come by the
 * caller's deadline, or did not decode), recorded here; CX_E_EXISTS when a
 * valid share from it was already accepted or a complaint already made. */
cx_err dkg_complain(dkg *d, uint16_t dealer, dkg_complaint *out, char *err, size_t errlen);

/* A broadcast complaint (another party's or this party's own). Recorded
 * pending an answer; CX_OK also for an identical copy. Refused: a complaint
 * whose disclosed share matches the commitments (it proves nothing:
 * CX_E_BAD_EVIDENCE), against a dealer whose round-one message is unknown
 * (CX_E_MPC_ROUND), against oneself, or a second different complaint for one
 * (dealer, complainer) pair (CX_E_MPC_EQUIVOCATION). */
cx_err dkg_recv_complaint(dkg *d, const dkg_complaint *c, char *err, size_t errlen);
/* This party is the accused dealer of c: its public answer revealing
 * f_me(c->complainer). */
cx_err dkg_answer_make(dkg *d, const dkg_complaint *c, dkg_answer *out, char *err, size_t errlen);
/* A broadcast answer to a recorded complaint. CX_OK: the revealed share
 * matches; the complaint is resolved and, if this party is the complainer,
 * the revealed share becomes its share from that dealer (GJKR 1(d)).
 * CX_E_MPC_CHECK_FAILED: it does not; the dealer is disqualified. */
cx_err dkg_recv_answer(dkg *d, const dkg_answer *a, char *err, size_t errlen);

/* 1 when dealer is disqualified so far (bad proof, bad answer). */
int dkg_disqualified(const dkg *d, uint16_t dealer);

/* The end, after the caller's answer deadline: complaints still unanswered
 * disqualify their dealers; dealers with no round-one message are left out.
 * QUAL is the rest; CX_E_MPC_CHECK_FAILED when it has fewer than t dealers
 * (at least one must be honest). CX_E_MPC_STATE when this party lacks a valid
 * share from a dealer in QUAL without having complained (complain first).
 * Writes *res and *signing_share = s_me = sum over QUAL of f_i(me) (secret,
 * caller's sodium_malloc'd memory). The session can be finished once; a
 * refused finish has still closed the complaints (the deadline has passed). */
cx_err dkg_finish(dkg *d, dkg_result *res, frost_scalar *signing_share, char *err, size_t errlen);

/* ---- public checks: what a third party (the chain) runs ---- */

/* CX_OK when m is a well-formed round-one message for (context, n, t) whose
 * proof of knowledge verifies; CX_E_MPC_CHECK_FAILED (the dealer is at fault)
 * when the proof fails; CX_E_INVALID_ARG / CX_E_MPC_SENDER / encodings'
 * codes when m does not belong to this run. */
cx_err dkg_round1_verify(const uint8_t context[DKG_CONTEXT_LEN], uint16_t n, uint16_t t,
                         const dkg_round1_msg *m, char *err, size_t errlen);
/* Judges a complaint from public data only: the dealer's round-one message
 * r1, the complaint c and the dealer's answer a (NULL: none by the
 * deadline). CX_OK with *dealer_at_fault: 1 when a is NULL or its revealed
 * share fails r1's commitments; 0 when the revealed share matches (a false
 * complaint), or when c's own disclosed share matches (c proves nothing). Other
 * codes when the pieces do not fit together (different dealer, complainer,
 * t, or a complainer outside 1..n): the evidence is malformed, no verdict. */
cx_err dkg_complaint_verify(uint16_t n, uint16_t t, const dkg_round1_msg *r1, const dkg_complaint *c,
                            const dkg_answer *a, int *dealer_at_fault, char *err, size_t errlen);

/* ---- canonical encodings (strict decoders) ----
 * round1:    kind=1 || be16 dealer || be16 t || t x C || R || mu
 * share:     kind=2 || be16 dealer || be16 recipient || value
 * complaint: kind=3 || be16 dealer || be16 complainer || reason ||
 *            share (BAD_SHARE only)
 * answer:    kind=4 || be16 dealer || be16 complainer || share
 * Decoders refuse: another kind (CX_E_BAD_ENUM), a wrong length
 * (CX_E_TRUNCATED / CX_E_TRAILING), identifier 0, t outside 2..DKG_MAX_PARTIES
 * (CX_E_TOO_LONG over the cap), dealer == recipient/complainer
 * (CX_E_INVALID_ARG), scalars >= L and non-canonical elements
 * (CX_E_NONCANONICAL), an identity element anywhere (CX_E_BAD_KEY: RFC 9591
 * §6.2 DeserializeElement refuses it). Encoders write exactly the *_LEN
 * bytes and return the length. */
size_t dkg_round1_encode(const dkg_round1_msg *m, uint8_t *out /* DKG_ROUND1_LEN(m->t) */);
cx_err dkg_round1_decode(const uint8_t *in, size_t len, dkg_round1_msg *m, char *err, size_t errlen);
size_t dkg_share_encode(const dkg_share *s, uint8_t out[DKG_SHARE_LEN]);
cx_err dkg_share_decode(const uint8_t *in, size_t len, dkg_share *s, char *err, size_t errlen);
size_t dkg_complaint_encode(const dkg_complaint *c, uint8_t out[DKG_COMPLAINT_MAX_LEN]);
cx_err dkg_complaint_decode(const uint8_t *in, size_t len, dkg_complaint *c, char *err,
                            size_t errlen);
size_t dkg_answer_encode(const dkg_answer *a, uint8_t out[DKG_ANSWER_LEN]);
cx_err dkg_answer_decode(const uint8_t *in, size_t len, dkg_answer *a, char *err, size_t errlen);

#endif
