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

/* ---- resharing: redistribution to a new party set, same group key ----
 * docs/keys.md §10, docs/threshold.md "Resharing". Desmedt-Jajodia
 * ("Redistributing secret shares to new access structures", 1997) with the
 * Feldman checks of Wong-Wang-Wing (verifiable secret redistribution, 2002),
 * on this DKG's round-one messages. Old party i (OLD id, 1..n_old) holding
 * s_i with verification share Y_i = G * s_i deals g_i of degree t_new - 1,
 * g_i(0) = s_i, to the new parties 1..n_new; with S = t_old old dealers and
 * lambda_i their Lagrange coefficients at 0 over S,
 *   s'_j = sum_{i in S} lambda_i g_i(j),  Y'_j = G * s'_j,
 *   sum_{i in S} lambda_i C_i0 = sum lambda_i Y_i = Y   (the group key stays).
 * Dealer ids index the OLD set and recipient / complainer ids the NEW one, so
 * they may be equal: the reshare functions and decoders never refuse that.
 * All pure functions: the chain drives the steps. */

/* Dealer dealer_id's deal. g's coefficients a_1..a_{t_new-1} and the proof
 * nonce are derived from seed (a restarted node deals the same polynomial,
 * and can answer complaints with dkg_reshare_answer):
 *   a_k   = SHA-512("FROST-RISTRETTO255-SHA512-v1" || "reshare-coef" || seed ||
 *           context || be16 dealer_id || be16 t_new || old_share || be16 k) mod L
 *   nonce = SHA-512("FROST-RISTRETTO255-SHA512-v1" || "reshare-nonce" || seed ||
 *           context || be16 dealer_id || be16 t_new || old_share) mod L
 * (binding everything the deal depends on, so one seed reused in another run
 * or for another share gives an unrelated polynomial and nonce). r1 is a
 * round-one message with t_new commitments, commit[0] = G * old_share, and
 * the DKG's proof of knowledge of old_share under (context, dealer_id): it
 * passes dkg_round1_verify(context, n, t_new, r1) for any n >= max(n_old,
 * n_new), e.g. DKG_MAX_PARTIES, which is what dkg_reshare_check_deal uses.
 * shares: n_new entries of the caller's sodium_malloc'd memory, shares[j-1]
 * = {dealer_id, j, g(j)} for every new id j (none skipped: an old party that
 * is also new receives its own). Every secret temporary is wiped.
 * CX_E_INVALID_ARG: t_new, n_new outside 2 <= t_new <= n_new <=
 * DKG_MAX_PARTIES, dealer_id 0 or over the cap, old_share zero or not below
 * L; CX_E_CRYPTO for a zero derived scalar (2^-252). */
cx_err dkg_reshare_deal(const uint8_t context[DKG_CONTEXT_LEN], uint16_t n_new, uint16_t t_new,
                        uint16_t dealer_id, const frost_scalar *old_share, const uint8_t seed[32],
                        dkg_round1_msg *r1, dkg_share *shares, char *err, size_t errlen);

/* The chain's check of a deal: CX_OK iff r1 is well formed with t_new
 * commitments, its proof of knowledge verifies under context (dkg_round1_
 * verify with n = DKG_MAX_PARTIES: the dealer id is an OLD id, and the caller,
 * which knows the old set, picked old_pk_share = Y_{r1->dealer} from it), and
 * r1->commit[0] == *old_pk_share (else CX_E_MPC_CHECK_FAILED, the sentence
 * naming the dealer: this is what keeps the group key). The proof's failure
 * is CX_E_MPC_CHECK_FAILED as well; a malformed r1 has the codes of
 * dkg_round1_verify. */
cx_err dkg_reshare_check_deal(const uint8_t context[DKG_CONTEXT_LEN], uint16_t t_new,
                              const dkg_round1_msg *r1, const frost_element *old_pk_share,
                              char *err, size_t errlen);

/* A new party's check of its share from r1's dealer: frost_vss_verify at
 * the NEW id recipient_new_id. CX_OK, CX_E_MPC_CHECK_FAILED (complain),
 * CX_E_NONCANONICAL (the value is not a scalar: a NO_SHARE complaint);
 * CX_E_MPC_SENDER when s is not r1's dealer's share for recipient_new_id;
 * CX_E_INVALID_ARG for id 0 or r1->t outside 2..DKG_MAX_PARTIES. */
cx_err dkg_reshare_share_check(uint16_t recipient_new_id, const dkg_share *s,
                               const dkg_round1_msg *r1);

/* The new signing share s'_me = sum_k lambda_k values[k], lambda_k the
 * Lagrange coefficient at 0 of dealer_ids[k] over dealer_ids (frost_lagrange).
 * dealer_ids: S, exactly t_old old ids (the old threshold), strictly
 * ascending; values[k] = g_{dealer_ids[k]}(me) (the dealt share, or the one
 * revealed by a good answer). new_share: caller's sodium_malloc'd memory.
 * CX_E_INVALID_ARG for t_old outside 2..DKG_MAX_PARTIES or an id 0;
 * CX_E_UNSORTED for ids not strictly ascending; CX_E_NONCANONICAL for a value
 * not below L; CX_E_CRYPTO for a zero result (2^-252). */
cx_err dkg_reshare_combine(uint16_t t_old, const uint16_t *dealer_ids, const frost_scalar *values,
                           frost_scalar *new_share);

/* The public side of dkg_reshare_combine: with D_k = sum_{i in S}
 * lambda_i C_ik (k < t_new), group_pk = D_0 (= the old group key when every
 * deal passed dkg_reshare_check_deal) and pk_shares[j-1] = Y'_j = sum_k
 * D_k j^k for j = 1..n_new. r1[k] is dealer_ids[k]'s deal (its dealer field
 * must match, its t must be t_new). Codes as dkg_reshare_combine for the
 * ids; CX_E_INVALID_ARG for t_new, n_new out of range or a deal that does
 * not fit; CX_E_CRYPTO for an identity group key or share (not
 * serializable). */
cx_err dkg_reshare_public(uint16_t t_old, const uint16_t *dealer_ids,
                          const dkg_round1_msg *const *r1, uint16_t t_new, uint16_t n_new,
                          frost_element *group_pk, frost_element *pk_shares);

/* Complaints and answers in reshare mode: the same encodings (kind 3, kind
 * 4; and the share, kind 2, inside the sealed slots) and the same strict
 * checks as dkg_complaint_decode / dkg_answer_decode / dkg_share_decode,
 * except that the dealer (old id) may equal the complainer or recipient
 * (new id). */
cx_err dkg_reshare_complaint_decode(const uint8_t *in, size_t len, dkg_complaint *c, char *err,
                                    size_t errlen);
cx_err dkg_reshare_answer_decode(const uint8_t *in, size_t len, dkg_answer *a, char *err,
                                 size_t errlen);
cx_err dkg_reshare_share_decode(const uint8_t *in, size_t len, dkg_share *s, char *err,
                                size_t errlen);

/* dkg_complaint_verify for a reshare deal: the commitments are evaluated at
 * c->complainer, the complainer's NEW id; dealer == complainer is allowed;
 * ids are checked against 1..DKG_MAX_PARTIES only (the caller checks the
 * dealer is an old party and the complainer a new one). */
cx_err dkg_reshare_complaint_verify(uint16_t t_new, const dkg_round1_msg *r1,
                                    const dkg_complaint *c, const dkg_answer *a,
                                    int *dealer_at_fault, char *err, size_t errlen);

/* The accused dealer's public answer to c: re-derives g from (context,
 * t_new, dealer_id, old_share, seed) as dkg_reshare_deal did and reveals
 * g(c->complainer). CX_E_INVALID_ARG when c is not against dealer_id or the
 * parameters are out of range; CX_E_MPC_SENDER when c->complainer is not in
 * 1..n_new. */
cx_err dkg_reshare_answer(const uint8_t context[DKG_CONTEXT_LEN], uint16_t n_new, uint16_t t_new,
                          uint16_t dealer_id, const frost_scalar *old_share,
                          const uint8_t seed[32], const dkg_complaint *c, dkg_answer *out);

#endif
