/* keyrules: the rules of consortium keys (docs/keys.md §3, §4; resharing
 * §10) as pure functions over one key held in memory. The vm (rules_keys.c) loads the
 * key from state, applies a transaction and stores it back; the auditor
 * (node/verify.c) replays a key's transactions, fetched with their proofs,
 * through the same functions and so learns the group key without trusting
 * the node it asked. No storage, clock or randomness here.
 *
 * Ownership: a vm_key is caller memory (it is large: allocate it);
 * vm_key_init zeroes it, vm_key_clear frees what it owns. Everything in it is
 * public (round-one messages, complaints, answers, sealed shares). */
#ifndef CUSTOS_KEYRULES_H
#define CUSTOS_KEYRULES_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "error.h"
#include "tx.h"

#define VM_KEY_DEALING CX_KEY_PHASE_DEALING     /* 1 */
#define VM_KEY_VERIFYING CX_KEY_PHASE_VERIFYING /* 2 */
#define VM_KEY_READY 3
#define VM_KEY_FAILED 4

/* A custody key's policy k (docs/keys.md §9): distinct member approvals a
 * signing request needs, 1..min(members at creation, VM_KEY_K_MAX). The cap
 * is the size of a request's approval list (vm_sign_request). */
#define VM_KEY_K_MAX 64

/* One complaint and its fate. */
typedef struct {
  uint8_t dealer, complainer; /* party indices (FROST identifier - 1) */
  uint8_t reason;             /* DKG_COMPLAINT_* */
  uint8_t state;              /* 0 pending, 1 answered well, 2 answered badly (dealer out) */
  uint8_t complaint[CX_KEY_COMPLAINT_MAX];
  uint8_t complaint_len;
  uint8_t answer[CX_KEY_ANSWER_LEN]; /* when answered */
} vm_key_complaint;

/* A key's record at one epoch. Two modes:
 *  - DKG (reshare = 0; docs/keys.md §2-§4): parties 1..n deal and judge; the
 *    bitmaps dealt, verdict, votes, disq and qual, round1[], sealed[] and the
 *    complaints' dealer and complainer all index the parties.
 *  - reshare (reshare = 1; docs/keys.md §10): n, t, parties, enc and context
 *    are the NEW set's (the validators at key_reshare); the OLD set of
 *    epoch from_epoch is kept in n_old, t_old, old_parties, old_pk_shares.
 *    Dealers are OLD parties, judges and voters NEW ones, so:
 *      over OLD index (OLD id = index + 1): dealt, disq, qual, round1[],
 *        sealed[] (each with n NEW slots, none empty), a complaint's dealer;
 *      over NEW index (NEW id = index + 1): verdict, votes, a complaint's
 *        complainer, pk_shares.
 *    group_pk is the old key's from the start (it must not change). */
typedef struct {
  char name[CX_KEY_NAME_MAX + 1];
  uint8_t purpose, t, phase;
  uint8_t k;                            /* custody: approvals a signing request needs; 0 otherwise */
  uint32_t epoch;
  /* The highest epoch this name has run: = epoch, except in a READY record
   * put back after a FAILED reshare (docs/keys.md §10): the next run of the
   * name is last_epoch + 1, so epochs are never reused. */
  uint32_t last_epoch;
  uint32_t n;
  cx_pubkey parties[CX_MAX_VALIDATORS]; /* signer order; index i = FROST id i + 1 */
  uint8_t enc[CX_MAX_VALIDATORS][32];   /* their enc_keys at creation (sealing) */
  uint8_t context[32];                  /* tx_key_context (of this epoch and these parties) */
  uint64_t created_height;              /* block of the key_create / key_reshare */
  uint64_t ended_height;                /* block that made it READY or FAILED */
  uint64_t dealt, verdict, votes, disq; /* bitmaps (reshare mode: dealt and disq over OLD index) */
  /* deals: dealer i's round-one encoding and its n sealed slots */
  uint8_t *round1[CX_MAX_VALIDATORS];   /* owned; NULL = no deal */
  size_t round1_len[CX_MAX_VALIDATORS];
  uint8_t *sealed[CX_MAX_VALIDATORS];   /* owned; n * CX_KEY_SEALED_LEN (DKG: own slot zero) */
  size_t ncomplaints;
  vm_key_complaint *complaints;         /* owned; in the order recorded */
  /* READY: */
  uint64_t qual;                        /* bitmap over the dealers (reshare: QUAL', OLD index) */
  uint8_t group_pk[32];                 /* reshare mode: set from the start */
  uint8_t pk_shares[CX_MAX_VALIDATORS][32]; /* Y_j of party index j */
  /* reshare mode only (zero otherwise): */
  uint8_t reshare;
  uint32_t from_epoch;                  /* the READY epoch reshared (key_reshare's epoch) */
  uint32_t n_old;
  uint8_t t_old;
  cx_pubkey old_parties[CX_MAX_VALIDATORS];     /* epoch from_epoch's parties, its signer order */
  uint8_t old_pk_shares[CX_MAX_VALIDATORS][32]; /* its Y_i: C_i0 of old party i's deal must be it */
  uint64_t old_members; /* old parties that were members at key_reshare (OLD index): when all
                         * of them have dealt, DEALING ends */
  /* READY in reshare mode: S, the t_old lowest OLD ids of qual, ascending,
   * the dealers whose deals make the new shares (dkg_reshare_combine,
   * dkg_reshare_public): a new party combines exactly these. */
  uint8_t n_s;                          /* = t_old */
  uint16_t s_ids[CX_MAX_VALIDATORS];
} vm_key;

void vm_key_init(vm_key *k);
void vm_key_clear(vm_key *k);

/* key_create (docs/keys.md §3, §9): validators = the validators in force
 * now (signer order, with their enc keys), nmembers = the number of members
 * now (a custody key's k is 1..nmembers), sender_is_validator /
 * sender_is_member as the state says. prev = the FAILED key of that name or
 * NULL (epoch + 1); a non-FAILED existing key is the caller's key_exists.
 * On success *rej = CX_OK and *out is the new key in DEALING. */
cx_err vm_key_create(const cx_hash *chain_id, const cx_tx_key_create *kc, const cx_member *validators,
                     size_t nval, size_t nmembers, int sender_is_validator, int sender_is_member,
                     const vm_key *prev, uint64_t height, vm_key *out, cx_err *rej);

/* key_reshare (docs/keys.md §10): old = the key's latest record (NULL: none),
 * validators = the validators in force now (signer order, with their enc
 * keys), sender_is_validator as the state says, members = the members now
 * whose key is one of old's parties (at least those: any other entry is
 * ignored), telling which old parties are still members. Rules in order:
 * key_unknown (no old, or another name); not_validator; key_closed (old
 * not READY, or kr->epoch not its epoch); bad_key_params (old's parties
 * already are the validators, fewer than 2 or more than CX_MAX_VALIDATORS
 * validators, fewer than old->t old parties still members, or no epoch
 * left). On success *rej = CX_OK and *out is epoch old->last_epoch + 1 in
 * DEALING, reshare mode: t' per §2 for the new n' (custody: max(2, f' + 1)
 * <= min(t, n') kept), context over the new epoch and parties, the old
 * parties, t and pk_shares kept, group_pk the old one. */
cx_err vm_key_reshare(const cx_hash *chain_id, const vm_key *old, const cx_tx_key_reshare *kr,
                      const cx_member *validators, size_t nval, int sender_is_validator,
                      const cx_member *members, size_t nmembers, uint64_t height, vm_key *out, cx_err *rej);

/* key_deal / key_verdict / key_answer / key_advance against k, whose sender
 * is tx->sender. Applies the effects, including the phase ends of §4, or
 * leaves k unchanged and sets *rej. Returns non-OK only for internal
 * failures (out of memory, a stored deal that no longer decodes). In
 * reshare mode (§10): deals by OLD parties (dealer id = old index + 1,
 * dkg_reshare_check_deal against old_pk_shares, n NEW slots none empty),
 * verdicts (dkg_reshare_complaint_decode / _verify) and advance votes (f' + 1,
 * f' of the new n) by NEW parties, answers by the accused OLD dealer;
 * DEALING also ends when every old party in old_members has dealt; at the
 * end QUAL' needs t_old dealers, S = its t_old lowest ids, and
 * dkg_reshare_public must give group_pk again: READY with the new
 * pk_shares, else FAILED. A FAILED reshare is the vm's to undo (it puts the
 * READY record of from_epoch back, with last_epoch = this epoch:
 * rules_keys.c), so the key stays usable at its old epoch. */
cx_err vm_key_apply(vm_key *k, const cx_tx *tx, uint64_t height, cx_err *rej);

/* Canonical encoding of the whole key (the vm stores it; version byte 2,
 * docs/transactions.md §5). *out malloc'd. */
cx_err vm_key_encode(const vm_key *k, uint8_t **out, size_t *len);
cx_err vm_key_decode(const uint8_t *in, size_t len, vm_key *k);

/* CX_OK when sig (R || z) is a FROST signature over msg under k's group
 * key; any refusal (a non-canonical R or z too) is CX_E_BAD_SIG (the
 * result and custody rules). */
cx_err vm_key_verify(const vm_key *k, const uint8_t *msg, size_t len, const cx_sig *sig);

/* The party index of key, or -1 (reshare mode: among the NEW parties). */
int vm_key_party(const vm_key *k, const cx_pubkey *key);
/* Reshare mode: the OLD party index of key (old id = index + 1), or -1;
 * always -1 in DKG mode. */
int vm_key_old_party(const vm_key *k, const cx_pubkey *key);

#endif
