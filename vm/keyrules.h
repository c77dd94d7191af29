/* keyrules: the rules of consortium keys (docs/keys.md §3, §4) as pure
 * functions over one key held in memory. The vm (rules_keys.c) loads the
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

typedef struct {
  char name[CX_KEY_NAME_MAX + 1];
  uint8_t purpose, t, phase;
  uint8_t k;                            /* custody: approvals a signing request needs; 0 otherwise */
  uint32_t epoch;
  uint32_t n;
  cx_pubkey parties[CX_MAX_VALIDATORS]; /* signer order; index i = FROST id i + 1 */
  uint8_t enc[CX_MAX_VALIDATORS][32];   /* their enc_keys at creation (sealing) */
  uint8_t context[32];                  /* tx_key_context */
  uint64_t created_height;              /* block of the key_create */
  uint64_t ended_height;                /* block that made it READY or FAILED */
  uint64_t dealt, verdict, votes, disq; /* bitmaps over party index */
  /* deals: dealer i's round-one encoding and its n sealed slots */
  uint8_t *round1[CX_MAX_VALIDATORS];   /* owned; NULL = no deal */
  size_t round1_len[CX_MAX_VALIDATORS];
  uint8_t *sealed[CX_MAX_VALIDATORS];   /* owned; n * CX_KEY_SEALED_LEN (empty slots zero) */
  size_t ncomplaints;
  vm_key_complaint *complaints;         /* owned; in the order recorded */
  /* READY: */
  uint64_t qual;                        /* bitmap over party index */
  uint8_t group_pk[32];
  uint8_t pk_shares[CX_MAX_VALIDATORS][32]; /* Y_j of party index j */
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

/* key_deal / key_verdict / key_answer / key_advance against k, whose sender
 * is tx->sender. Applies the effects, including the phase ends of §4, or
 * leaves k unchanged and sets *rej. Returns non-OK only for internal
 * failures (out of memory). */
cx_err vm_key_apply(vm_key *k, const cx_tx *tx, uint64_t height, cx_err *rej);

/* Canonical encoding of the whole key (the vm stores it). *out malloc'd. */
cx_err vm_key_encode(const vm_key *k, uint8_t **out, size_t *len);
cx_err vm_key_decode(const uint8_t *in, size_t len, vm_key *k);

/* The party index of key, or -1. */
int vm_key_party(const vm_key *k, const cx_pubkey *key);

#endif
