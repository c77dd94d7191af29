/* vm: execution of transactions by the native rules (identity, consent,
 * membership / governance, contract registry, consensus evidence) over an
 * injected key-value state. The secret-contract language joins this module
 * through the contract registry: a deployment is checked by compiling its
 * source (vm/lang/, lang.h).
 *
 * The vm never touches LevelDB: the node passes a vm_state whose functions
 * are backed by a storage write set (or, in tests, by an in-memory map).
 * Rules are deterministic functions of (state, tx, height): every node that
 * executes a block reaches the same state root.
 *
 * Rules and their rejection reasons are documented in docs/transactions.md;
 * every reason is a cx_err whose cx_err_name() is the receipt's "rule". */
#ifndef CUSTOS_VM_H
#define CUSTOS_VM_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "error.h"
#include "hash.h"
#include "keyrules.h"
#include "keys.h"
#include "tx.h"

/* ---- injected state ---- */

typedef struct {
  void *ctx;
  /* CX_E_NOT_FOUND when absent; *v malloc'd, owned by the caller. */
  cx_err (*get)(void *ctx, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl);
  cx_err (*put)(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl);
  cx_err (*del)(void *ctx, const uint8_t *k, size_t kl);
  /* Savepoints: undo the writes of a transaction a rule rejected. May be
   * NULL for read-only states (queries); vm_apply_tx requires them. */
  size_t (*mark)(void *ctx);
  void (*rollback)(void *ctx, size_t mark);
} vm_state;

/* ---- genesis ---- */

#define VM_MAX_MEMBERS 256
#define VM_CHAIN_NAME_MAX 32

typedef struct {
  char chain_name[VM_CHAIN_NAME_MAX + 1]; /* STR_IDENT */
  uint64_t time_ms;                       /* genesis time */
  uint32_t block_max_txs;                 /* cap per block, <= CX_BLOCK_MAX_TXS */
  uint8_t bench_commands;                 /* 1: the chain accepts TX_COMMAND (benchmark
                                             mode, docs/transactions.md "Commands") */
  size_t nmembers;
  cx_member members[VM_MAX_MEMBERS];
} vm_genesis;

/* Checks a genesis: chain_name STR_IDENT, block_max_txs 1..CX_BLOCK_MAX_TXS,
 * 1..CX_MAX_VALIDATORS validators, unique names, keys and enc_keys, valid
 * keys, well-formed member records (validators and only they have an
 * address, only bureaus own domains), domains owned at most once. On error
 * writes a sentence naming the member and field into err (may be NULL),
 * e.g. "members[2] (hrss-bureau): key is not a valid x-only public key",
 * and returns CX_E_CONFIG (chain fields, no validator, too many),
 * CX_E_BAD_MEMBER, CX_E_BAD_KEY, CX_E_MEMBER_EXISTS or CX_E_DOMAIN_OWNED. */
cx_err vm_genesis_validate(const vm_genesis *g, char *err, size_t errlen);
/* chain_id = H_GENESIS(u8 1 | str chain_name | varint time_ms |
 * varint block_max_txs | varint nmembers | member_enc each, in the given
 * order [| u8 1 when bench_commands]). The flag's byte is only there when
 * it is set, so the id of every chain without it is unchanged. For a
 * validated genesis. */
void vm_genesis_hash(const vm_genesis *g, cx_hash *chain_id);
/* Validates g, then writes its members into an empty state (CX_E_EXISTS if
 * the state already has members). */
cx_err vm_genesis_apply(const vm_state *st, const vm_genesis *g);

/* ---- execution ---- */

/* Applies one transaction whose signature the caller has verified, at block
 * height `height` (>= 1).
 * Returns CX_OK when the transaction belongs in the block; then *receipt is
 * CX_OK (applied) or the rule it broke — in that case its nonce is consumed
 * and it has no other effect.
 * Returns CX_E_WRONG_CHAIN, CX_E_NONCE_USED or CX_E_NONCE_GAP when it cannot
 * be included at all (a block containing it is invalid), CX_E_INVALID_ARG
 * for a type, governance action or evidence (tx_evidence_check) tx_decode
 * would refuse, or a storage error
 * (CX_E_CORRUPT for a damaged record; the caller then drops its write set).
 * tx must be syntactically valid (as tx_decode leaves it).
 * Validator-set changes made by a governance transaction are in the state
 * as soon as it applies; which height they take effect at for consensus
 * (the next block at the earliest) is defined by the consensus module. */
cx_err vm_apply_tx(const vm_state *st, const cx_hash *chain_id, const cx_tx *tx,
                   const cx_hash *txid, uint64_t height, cx_err *receipt);

/* Governance alone, for an auditor replaying the validator set from the
 * genesis (node/verify.c, docs/calls.md §7 "Validator-set changes"): a
 * TX_MEMBER_PROPOSE or TX_MEMBER_APPROVE is run through its rule under a
 * savepoint exactly as vm_apply_tx runs it, but WITHOUT the nonce check
 * (nor the nonce update): the replayer holds only the governance
 * transactions, each already placed by its block's proof, not the
 * sender's other transactions, so its nonce would be a gap.
 * The result equals vm_apply_tx's on the chain's state as long as the
 * rules read only what a governance-only replay holds. They read the
 * member records and their indexes (m/, mk/, me/, md/), the member list
 * (ml) and the proposals (p/): all written by the genesis and by these
 * two transaction types alone. One exception: add and rekey refuse a key
 * that is some subject's (ik/, written by the identity rules: key_in_use);
 * a replay has no subjects, so there the check always passes. That only
 * makes the replay accept more, and an auditor replays only transactions
 * the chain accepted (ok receipt), whose effects do not depend on ik/: the
 * state it reaches is the chain's (for these records).
 * Returns CX_E_INVALID_ARG for any other type (or an action tx_decode
 * would refuse), CX_E_WRONG_CHAIN, or a storage error; else CX_OK with
 * *receipt CX_OK (applied) or the rule broken (no effect). */
cx_err vm_apply_governance(const vm_state *st, const cx_hash *chain_id, const cx_tx *tx,
                           const cx_hash *txid, uint64_t height, cx_err *receipt);

/* Next nonce expected from this key (0 for a key never seen). */
cx_err vm_account_nonce(const vm_state *st, const cx_pubkey *key, uint64_t *nonce);

/* ---- records (read-only views for queries and later rules) ---- */

typedef struct {
  cx_hash id; /* txid of the proposal */
  uint8_t action;
  cx_member member;
  uint64_t expires;
  char proposer[CX_NAME_MAX + 1];
  uint8_t applied;  /* 1 once quorum was reached and the change applied */
  uint64_t applied_height;
  uint8_t napprovals;
  char approvals[VM_MAX_MEMBERS][CX_NAME_MAX + 1]; /* sorted names */
} vm_proposal;

#define VM_MAX_ATTESTATIONS 8
typedef struct {
  char bureau[CX_NAME_MAX + 1];
  uint8_t level;
  uint64_t height;
} vm_attestation;

typedef struct {
  cx_hash did;
  cx_pubkey key;       /* the subject's current key */
  uint8_t revoked;
  uint64_t registered_height;
  uint64_t revoked_height;
  uint8_t nattest;
  vm_attestation attest[VM_MAX_ATTESTATIONS]; /* sorted by bureau name */
} vm_identity;

#define VM_MAX_CONSENTS_PER_SUBJECT 256
typedef struct {
  cx_hash id; /* txid of the grant */
  cx_hash did;
  char insurer[CX_NAME_MAX + 1];
  cx_domain_set domains;
  cx_hash contract;
  char purpose[CX_PURPOSE_MAX + 1];
  uint64_t expires;
  uint32_t quota;
  uint32_t uses;
  char granted_by[CX_NAME_MAX + 1]; /* bureau name, or "" when the subject granted */
  cx_hash evidence;
  uint64_t granted_height;
  uint8_t revoked;
  uint64_t revoked_height;
} vm_consent;

typedef enum { CONTRACT_PENDING = 1, CONTRACT_APPROVED = 2, CONTRACT_RETIRED = 3 } vm_contract_status;

typedef struct {
  cx_hash id;
  char name[CX_NAME_MAX + 1];
  char deployer[CX_NAME_MAX + 1];
  cx_domain_set domains;
  uint8_t status; /* vm_contract_status */
  uint64_t deployed_height;
  uint8_t napprovals;
  char approvals[CX_DOMAINS_MAX][CX_NAME_MAX + 1]; /* bureau names, sorted */
  uint8_t *source; /* owned; free with vm_contract_clear */
  size_t source_len;
  uint8_t *bytecode; /* owned: what the source compiles to (the id is its hash) */
  size_t bytecode_len;
} vm_contract;

/* An equivocation recorded by a TX_EVIDENCE: at most one per (accused key,
 * message type, height, round), whatever pair of messages proved it. */
typedef struct {
  char accused_name[CX_NAME_MAX + 1]; /* the member the key belonged to */
  cx_tx_evidence ev;                  /* key, type, height, round, both halves */
  char reporter[CX_NAME_MAX + 1];     /* the validator that sent it */
  uint64_t included_height;           /* block that recorded it */
  cx_hash txid;                       /* the evidence transaction */
} vm_evidence;

/* A contract call recorded by a TX_CALL (docs/transactions.md §3.12), and
 * closed by the TX_CALL_RESULT that reports its MPC run (docs/calls.md §4). */
typedef enum { CALL_PENDING = 1, CALL_DONE = 2, CALL_ABORTED = 3 } vm_call_status;

/* A call still PENDING this many blocks after the one that recorded it may
 * be aborted by any one of its parties with code `expired`, without the
 * 2t+1 quorum (docs/calls.md §5): the parties could not agree on a result
 * (mixed failures), and the consent's use must come back. */
#define VM_CALL_EXPIRY_BLOCKS 100

typedef struct {
  cx_hash id; /* txid of the call */
  cx_hash contract;
  cx_hash did;
  cx_hash consent;
  char insurer[CX_NAME_MAX + 1]; /* the calling member */
  uint64_t height;               /* block that recorded it */
  uint8_t status;                /* vm_call_status */
  uint32_t nparties;             /* the validators in force after `height`, */
  cx_pubkey parties[CX_MAX_VALIDATORS]; /* in signer order: the MPC parties */
  cx_hash result;                /* DONE / ABORTED: txid of the call_result */
  uint64_t result_height;        /*   and the block that recorded it (0 while PENDING) */
} vm_call;

cx_err vm_member_get(const vm_state *st, const char *name, cx_member *out);
cx_err vm_member_by_key(const vm_state *st, const cx_pubkey *key, cx_member *out);
/* All members sorted by name; *n set (to the total, with CX_E_FULL, when
 * cap is too small). Getters return CX_E_NOT_FOUND when absent and
 * CX_E_CORRUPT for a stored record that does not decode. */
cx_err vm_members(const vm_state *st, cx_member *out, size_t cap, size_t *n);
/* Validators (validator = 1) sorted by name: the signer order of commit
 * certificates. */
cx_err vm_validators(const vm_state *st, cx_member *out, size_t cap, size_t *n);
/* The bureau that owns a data domain. */
cx_err vm_domain_owner(const vm_state *st, const char *domain, char owner[CX_NAME_MAX + 1]);
cx_err vm_proposal_get(const vm_state *st, const cx_hash *id, vm_proposal *out);
cx_err vm_identity_get(const vm_state *st, const cx_hash *did, vm_identity *out);
cx_err vm_consent_get(const vm_state *st, const cx_hash *id, vm_consent *out);
/* Consent ids of a subject in grant order. */
cx_err vm_consents_of(const vm_state *st, const cx_hash *did, cx_hash *ids, size_t cap,
                      size_t *n);
cx_err vm_contract_get(const vm_state *st, const cx_hash *id, vm_contract *out);
void vm_contract_clear(vm_contract *c);
/* Contract id of compiled bytecode: H_CONTRACT(bytecode)
 * (docs/contract-language.md §6; lang_id gives the same). */
void vm_contract_id(const uint8_t *bytecode, size_t len, cx_hash *out);
/* CX_OK if the contract can be called now: not retired (CX_E_CONTRACT_RETIRED)
 * and each of its domains owned by a bureau that approved it
 * (CX_E_CONTRACT_UNAPPROVED otherwise, also when a domain has no owner);
 * CX_E_CONTRACT_UNKNOWN if absent. Recomputed against today's owners. */
cx_err vm_contract_callable(const vm_state *st, const cx_hash *id);
/* CX_OK if the consent is live at height; else CX_E_CONSENT_UNKNOWN,
 * CX_E_CONSENT_REVOKED, CX_E_DID_REVOKED (its identity was revoked),
 * CX_E_EXPIRED (height > expires) or CX_E_FULL (uses >= quota). */
cx_err vm_consent_live(const vm_state *st, const cx_hash *id, uint64_t height);

/* The call recorded by transaction txid. */
cx_err vm_call_get(const vm_state *st, const cx_hash *txid, vm_call *out);

/* A cheater the MPC engine named during a call, recorded by a
 * TX_MPC_EVIDENCE (docs/transactions.md §3.15, §4.6): at most one per
 * (call, culprit), whatever evidence proved it and whoever reported it
 * first. The evidence itself is in the transaction (txid). */
typedef struct {
  cx_hash call;        /* the call's txid */
  uint8_t culprit;     /* party index among the call's parties (vm_call.parties) */
  uint8_t session;     /* CX_MPC_SESSION_* the evidence's messages belong to */
  uint8_t ev_type;     /* mpc_ev_type */
  cx_pubkey reporter;  /* the party that sent it */
  uint64_t height;     /* block that recorded it */
  cx_hash txid;        /* the mpc_evidence transaction */
} vm_mpc_evidence;

/* The evidence recorded against party `culprit` of call `call`. */
cx_err vm_mpc_evidence_get(const vm_state *st, const cx_hash *call, uint8_t culprit, vm_mpc_evidence *out);
/* The index-th MPC evidence recorded (0-based, in the order recorded), for
 * listing; CX_E_NOT_FOUND past the end. */
cx_err vm_mpc_evidence_at(const vm_state *st, uint64_t index, vm_mpc_evidence *out);

/* A snapshot of a domain anchored by its bureau (TX_VAULT_ANCHOR,
 * docs/transactions.md §3.14, docs/vault.md "Anchoring"): the first
 * anchoring of a root is the one kept. */
typedef struct {
  char domain[CX_DOMAIN_MAX + 1];
  cx_hash root;                 /* vault_domain_root of the snapshot */
  uint64_t count;               /* records under it, as the bureau stated */
  uint64_t height;              /* block that first anchored this root */
  cx_hash txid;                 /* and the transaction */
  char bureau[CX_NAME_MAX + 1]; /* the owner that anchored it */
} vm_anchor;

/* The anchoring of (domain, root); CX_E_NOT_FOUND if that root was never
 * anchored for that domain (or the domain is not an identifier). */
cx_err vm_anchor_get(const vm_state *st, const char *domain, const cx_hash *root, vm_anchor *out);
/* The root the domain's owner anchored last (its record as vm_anchor_get
 * gives it: height and txid of the root's first anchoring);
 * CX_E_NOT_FOUND if the domain has none. */
cx_err vm_anchor_latest(const vm_state *st, const char *domain, vm_anchor *out);

/* ---- consortium keys (docs/keys.md) ---- */

/* The key of that name (the vm_key of keyrules.h, its latest epoch), into
 * caller memory (large: allocate it; vm_key_clear after). CX_E_NOT_FOUND
 * when absent (also for a name that is not an identifier of 1..16 bytes),
 * CX_E_CORRUPT for a record that does not decode. While a reshare runs
 * (docs/keys.md §10) the latest epoch is the reshare's (DEALING or
 * VERIFYING, vm_key.reshare = 1); a FAILED reshare puts the READY record
 * it started from back as the latest (its last_epoch then the failed
 * run's), so the latest record is never a FAILED reshare. */
cx_err vm_key_get(const vm_state *st, const char *name, vm_key *out);
/* The key's record at one epoch: the latest if it is that epoch, else the
 * record kept when a newer epoch replaced it (every epoch up to the
 * latest's last_epoch is kept: a FAILED DKG, the READY epoch a reshare
 * started from, a FAILED reshare). An old party dealing in a reshare reads
 * epoch from_epoch here to recompute its old share. CX_E_NOT_FOUND for no
 * such key or an epoch not run yet; CX_E_CORRUPT as vm_key_get. */
cx_err vm_key_get_epoch(const vm_state *st, const char *name, uint32_t epoch, vm_key *out);
/* The txids of the transactions that key `name` applied in `epoch`, in
 * chain order (its key_create, or key_reshare, first): what an auditor
 * replays through keyrules.h (docs/keys.md §6). *out malloc'd (NULL when
 * *n = 0). */
cx_err vm_key_txids(const vm_state *st, const char *name, uint32_t epoch, cx_hash **out, size_t *n);
/* The names of all keys, sorted; *n set (to the total, with CX_E_FULL,
 * when cap is too small). */
cx_err vm_key_names(const vm_state *st, char (*names)[CX_KEY_NAME_MAX + 1], size_t cap, size_t *n);

/* ---- custody signing (docs/keys.md §9, docs/transactions.md §4.10) ---- */

/* A signing request for a custody key (TX_SIGN_REQUEST), its approvals
 * (TX_SIGN_APPROVE) and its signature (TX_SIGN_RESULT). Its id is the
 * request's txid. PENDING until k distinct members approved (the requester
 * first), then APPROVED: the key's parties sign msg and one of them submits
 * the FROST signature, which makes it SIGNED. */
typedef enum { SIGN_PENDING = 1, SIGN_APPROVED = 2, SIGN_SIGNED = 3 } vm_sign_status;

typedef struct {
  cx_hash id;                         /* txid of the sign_request */
  char key[CX_KEY_NAME_MAX + 1];      /* the custody key */
  uint32_t epoch;                     /* the key's epoch when requested */
  uint8_t msg[CX_SIGN_MSG_MAX];       /* what the key signs, as given */
  size_t msg_len;                     /* 1..CX_SIGN_MSG_MAX */
  char requester[CX_NAME_MAX + 1];    /* the member that asked */
  size_t napprovals;                  /* 1..VM_KEY_K_MAX */
  char approvals[VM_KEY_K_MAX][CX_NAME_MAX + 1]; /* member names, sorted; the requester's among them */
  uint8_t k;                          /* the key's policy: approvals needed */
  uint8_t status;                     /* vm_sign_status */
  cx_sig sig;                         /* SIGNED: FROST (R || z) over msg under the key's group_pk */
  uint64_t height;                    /* block of the request */
  uint64_t approved_height;           /* block that brought the k-th approval (0 while PENDING) */
  uint64_t signed_height;             /* block of the sign_result (0 until SIGNED) */
} vm_sign_request;

/* The request recorded by transaction id; CX_E_NOT_FOUND when absent,
 * CX_E_CORRUPT for a record that does not decode. */
cx_err vm_sign_request_get(const vm_state *st, const cx_hash *id, vm_sign_request *out);
/* The requests APPROVED and not yet SIGNED, oldest approval first (what
 * the key's parties sign): the first min(cap, total) into ids, *n = the
 * total, CX_E_FULL when cap is too small. A request whose key has since
 * left its epoch (a re-created key: request_closed) stays listed; the
 * signer checks the key. */
cx_err vm_sign_pending(const vm_state *st, cx_hash *ids, size_t cap, size_t *n);
/* The number of requests recorded, and the index-th (0-based, in the order
 * recorded) for listing; CX_E_NOT_FOUND past the end. */
cx_err vm_sign_request_count(const vm_state *st, uint64_t *n);
cx_err vm_sign_request_at(const vm_state *st, uint64_t index, cx_hash *id);

/* The evidence recorded for (accused key, type, height, round). */
cx_err vm_evidence_get(const vm_state *st, const cx_pubkey *accused, uint8_t type,
                       uint64_t height, uint32_t round, vm_evidence *out);
/* All evidence in the order it was recorded; *n set (to the total, with
 * CX_E_FULL, when cap is too small). cap = 0 gives the count. */
cx_err vm_evidence_list(const vm_state *st, vm_evidence *out, size_t cap, size_t *n);
/* The index-th evidence recorded (0-based), for paging; CX_E_NOT_FOUND
 * past the end. */
cx_err vm_evidence_at(const vm_state *st, uint64_t index, vm_evidence *out);

#endif
