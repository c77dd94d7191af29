/* Declarations shared by the vm's source files (not part of the vm API).
 *
 * State key layout (docs/transactions.md, "State"): every value is a
 * canonical codec encoding that starts with the record version byte
 * VM_REC_VERSION. A record that does not decode exactly is CX_E_CORRUPT. */
#ifndef CUSTOS_VM_INTERNAL_H
#define CUSTOS_VM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vm.h"

#define VM_REC_VERSION 1

/* Key prefixes. Names are STR_IDENT (no '/'), so no key is a prefix-collision
 * of another kind: the byte after the first letter tells them apart. */
#define VMK_ACCOUNT "a/"     /* + pubkey[32]  -> varint next nonce */
#define VMK_MEMBER "m/"      /* + name        -> member record */
#define VMK_MEMBER_KEY "mk/" /* + pubkey[32]  -> member name */
#define VMK_MEMBER_ENC "me/" /* + enc_key[32] -> member name */
#define VMK_DOMAIN "md/"     /* + domain      -> owning bureau's name */
#define VMK_MEMBER_LIST "ml" /*               -> sorted member names */
#define VMK_PROPOSAL "p/"    /* + txid[32]    -> proposal */
#define VMK_IDENTITY "i/"    /* + did[32]     -> identity */
#define VMK_SUBJECT_KEY "ik/" /* + pubkey[32] -> did */
#define VMK_CONSENTS_OF "ic/" /* + did[32]    -> consent ids in grant order */
#define VMK_CONSENT "c/"     /* + txid[32]    -> consent */
#define VMK_CONTRACT "k/"    /* + id[32]      -> contract (without source) */
#define VMK_SOURCE "ks/"     /* + id[32]      -> contract source */
#define VMK_EVIDENCE "ev/"   /* + accused[32] | u8 type | u64be height |
                                u32be round -> evidence */
#define VMK_EVIDENCE_COUNT "evn" /*           -> varint number recorded */
#define VMK_EVIDENCE_SEQ "evs/"  /* + u64be seq -> accused | type | height | round */
#define VMK_CALL "cl/"       /* + txid[32]    -> contract call and its result (rules_call.c) */
#define VMK_ANCHOR "va/"     /* + domain | root[32] -> anchored snapshot (rules_anchor.c) */
#define VMK_ANCHOR_LATEST "val/" /* + domain  -> root[32] anchored last */
#define VMK_MPC_EVIDENCE "mev/"  /* + call[32] | u8 culprit -> MPC evidence (rules_mpc_evidence.c);
                                  the byte after "me" tells it from "me/" */
#define VMK_MPC_EVIDENCE_COUNT "mevn" /*      -> varint number recorded */
#define VMK_MPC_EVIDENCE_SEQ "mevs/"  /* + u64be seq -> call[32] | u8 culprit */
/* Consortium keys (rules_keys.c, docs/keys.md). The byte after "ky" tells
 * them from each other and from "k/" and "ks/" (contracts); a name has no
 * fixed length but what follows it does, so the key's length says where
 * the name ends. */
#define VMK_KEY "ky/"        /* + name        -> vm_key_encode (starts with VM_REC_VERSION) */
#define VMK_KEY_LIST "kyl"   /*               -> sorted key names */
#define VMK_KEY_TXN "kyn/"   /* + name | u32be epoch -> varint count of its transactions */
#define VMK_KEY_TX "kyt/"    /* + name | u32be epoch | u32be seq -> txid[32], chain order */
#define VMK_KEY_EPOCH "kye/" /* + name | u32be epoch -> a record no longer the latest (rules_keys.c);
                                the byte after "ky" tells it from "ky/", "kyl", "kyn/", "kyt/" */
/* Custody signing requests (rules_sign.c, docs/keys.md §9). No other prefix
 * starts with 's'; the byte after "sr" tells them apart. */
#define VMK_SIGN_REQ "sr/"        /* + txid[32]   -> signing request */
#define VMK_SIGN_PENDING "srp"    /*              -> ids APPROVED and not SIGNED, in approval order */
#define VMK_SIGN_COUNT "srn"      /*              -> varint number of requests recorded */
#define VMK_SIGN_SEQ "srs/"       /* + u64be seq  -> txid[32] of the seq-th request */

typedef struct {
  uint8_t b[4 + CX_NAME_MAX + 32];
  size_t n;
} vmi_key;

/* prefix || p[0..n). */
void vmi_key_make(vmi_key *k, const char *prefix, const void *p, size_t n);

/* Converts a lookup result: CX_OK -> *have = 1, CX_E_NOT_FOUND -> *have = 0,
 * both returning CX_OK; any other error is returned as is. */
cx_err vmi_found(cx_err e, int *have);

/* Error plumbing of the rule functions: `err` is the storage / internal
 * error returned to the caller, `*rej` the rule a transaction broke. */
#define VM_TRY(expr)                                                                 \
  do {                                                                               \
    err = (expr);                                                                    \
    if (err != CX_OK) goto out;                                                      \
  } while (0)
#define VM_REJECT(code)                                                              \
  do {                                                                               \
    *rej = (code);                                                                   \
    goto out;                                                                        \
  } while (0)

/* ---- records (state.c) ---- */

/* Records are "u8 VM_REC_VERSION | fields". vmi_rec_put stores what e holds
 * (its version byte written first by the caller) under k and frees e;
 * vmi_rec_get reads the record under k and starts decoding after its
 * version byte (*v malloc'd, the caller frees it; CX_E_NOT_FOUND when
 * absent); vmi_rec_end is the decoder's verdict on the whole record as a
 * store error (CX_E_CORRUPT, a wrong version included). */
cx_err vmi_rec_put(const vm_state *st, const vmi_key *k, cx_enc *e);
cx_err vmi_rec_get(const vm_state *st, const vmi_key *k, uint8_t **v, cx_dec *d);
cx_err vmi_rec_end(cx_dec *d);

cx_err vmi_nonce_put(const vm_state *st, const cx_pubkey *key, uint64_t nonce);

/* The first structural problem of a member record (formats, address only
 * and always for validators, domains only for bureaus), or NULL. Key
 * validity is checked separately (CX_E_BAD_KEY). */
const char *vmi_member_problem(const cx_member *m);
/* Writes m/, mk/, me/ and md/ entries of a member (not the member list). */
cx_err vmi_member_write(const vm_state *st, const cx_member *m);
/* Deletes them. */
cx_err vmi_member_erase(const vm_state *st, const cx_member *m);
/* Member names; absent list = none. names must hold VM_MAX_MEMBERS. */
cx_err vmi_names_get(const vm_state *st, char (*names)[CX_NAME_MAX + 1], size_t *n);
cx_err vmi_names_put(const vm_state *st, char (*names)[CX_NAME_MAX + 1], size_t n);
/* Inserts / removes one name keeping the list sorted. */
cx_err vmi_names_insert(const vm_state *st, const char *name);
cx_err vmi_names_remove(const vm_state *st, const char *name);
/* Name of the member whose enc_key this is; CX_E_NOT_FOUND if none. */
cx_err vmi_member_by_enc(const vm_state *st, const uint8_t enc_key[32],
                         char name[CX_NAME_MAX + 1]);
/* All members sorted by name into a malloc'd array (free()). */
cx_err vmi_members_load(const vm_state *st, cx_member **out, size_t *n);

cx_err vmi_proposal_put(const vm_state *st, const vm_proposal *p);

cx_err vmi_identity_put(const vm_state *st, const vm_identity *id);
/* DID whose current subject key this is; CX_E_NOT_FOUND if none. */
cx_err vmi_subject_get(const vm_state *st, const cx_pubkey *key, cx_hash *did);
cx_err vmi_subject_put(const vm_state *st, const cx_pubkey *key, const cx_hash *did);
cx_err vmi_subject_del(const vm_state *st, const cx_pubkey *key);
/* 1 if key is a subject key or a member key (out of bounds for a new one). */
cx_err vmi_key_in_use(const vm_state *st, const cx_pubkey *key, int *used);

cx_err vmi_consent_put(const vm_state *st, const vm_consent *c);
/* The consent list of a subject; ids must hold VM_MAX_CONSENTS_PER_SUBJECT. */
cx_err vmi_consent_list_get(const vm_state *st, const cx_hash *did, cx_hash *ids,
                            size_t *n);
cx_err vmi_consent_list_put(const vm_state *st, const cx_hash *did, const cx_hash *ids,
                            size_t n);

/* Contract record without its source (source = NULL): what the rules need. */
cx_err vmi_contract_meta_get(const vm_state *st, const cx_hash *id, vm_contract *out);
cx_err vmi_contract_meta_put(const vm_state *st, const vm_contract *c);
/* The source and bytecode of a contract (one record, `ks/` + id). */
cx_err vmi_contract_code_put(const vm_state *st, const cx_hash *id, const uint8_t *src, size_t len,
                             const uint8_t *bc, size_t bclen);

/* A contract's interface: what the call and result rules read of its
 * bytecode (contract_iface.c). Ports in port order; kind is lang_port_kind. */
typedef struct {
  uint8_t kind;
  uint32_t len;   /* 0 scalar, else array length */
  int64_t lo, hi; /* declared range of each element */
} vmi_port;
typedef struct {
  cx_hash id;
  cx_domain_set domains; /* its input domains, sorted (lang_domains) */
  size_t nports;
  vmi_port ports[];
} vmi_iface;
/* The interface of contract id, decoded once per process and then copied
 * from a shared table (thread-safe). *out is malloc'd: the caller free()s
 * it. CX_E_NOT_FOUND if st has no such contract and the table had none;
 * CX_E_CORRUPT if its stored bytecode does not decode. */
cx_err vmi_contract_iface(const vm_state *st, const cx_hash *id, vmi_iface **out);

/* Writes an evidence record under its key and appends it to the list. The
 * caller checked that none exists. */
cx_err vmi_evidence_put(const vm_state *st, const vm_evidence *ev);

/* Writes a call record under `cl/` + id (rules_call.c). */
cx_err vmi_call_put(const vm_state *st, const vm_call *r);

/* Sorted name arrays (approvals): index of name or -1; insert keeps order
 * (the caller ensures room and absence). */
int vmi_name_index(char (*names)[CX_NAME_MAX + 1], size_t n, const char *name);
void vmi_name_insert(char (*names)[CX_NAME_MAX + 1], size_t *n, const char *name);

/* ---- rules ---- */

typedef struct {
  const vm_state *st;
  const cx_tx *tx;
  const cx_hash *txid;
  uint64_t height;
} vmi_ctx;

/* A rule returns a storage / internal error, or CX_OK with *rej = CX_OK
 * (applied) or the rejection. It may write before rejecting: the caller rolls
 * the writes back. */
typedef cx_err (*vmi_rule)(const vmi_ctx *c, cx_err *rej);

cx_err vmi_rule_member_propose(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_member_approve(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_id_register(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_id_attest(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_id_rotate(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_id_revoke(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_consent_grant(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_consent_revoke(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_contract_deploy(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_contract_approve(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_contract_retire(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_evidence(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_call(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_call_result(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_vault_anchor(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_mpc_evidence(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_key_create(const vmi_ctx *c, cx_err *rej);
/* key_deal, key_verdict, key_answer, key_advance (rules_keys.c). */
cx_err vmi_rule_key_tx(const vmi_ctx *c, cx_err *rej);
/* sign_request, sign_approve, sign_result (rules_sign.c). */
cx_err vmi_rule_sign_request(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_sign_approve(const vmi_ctx *c, cx_err *rej);
cx_err vmi_rule_sign_result(const vmi_ctx *c, cx_err *rej);

/* Shared checks (rules_identity.c). */
/* Loads an identity that must exist (CX_E_DID_UNKNOWN) and not be revoked
 * (CX_E_DID_REVOKED); the verdict goes to *rej. */
cx_err vmi_identity_live(const vm_state *st, const cx_hash *did, vm_identity *id,
                         cx_err *rej);
/* 1 if the bureau named has an attestation on the identity. */
int vmi_attested_by(const vm_identity *id, const char *bureau);
/* The member whose key signed the transaction; *have = 0 if none. */
cx_err vmi_sender_member(const vmi_ctx *c, cx_member *m, int *have);

/* Governance quorum over n validators: ceil(2n/3). */
size_t vmi_gov_quorum(size_t n);

#endif
