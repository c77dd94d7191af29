/* Transactions: types, canonical encoding, ids and signatures.
 *
 * Envelope (docs/formats.md):
 *   u8 version (=1) | u8 type | chain_id[32] | sender pubkey[32] |
 *   varint nonce | body (per type) | sig[64]
 * sighash = H_TX_SIG(envelope without sig); sig = BIP340(sender, sighash).
 * txid    = H_TX(full encoding).
 * The nonce is the sender's sequence number: the first transaction of a key
 * has nonce 0 and each committed transaction consumes one. It is what makes
 * a replayed transaction invalid.
 *
 * One exception, the benchmark command (TX_COMMAND, docs/transactions.md
 * "Commands"): u8 version (=1) | u8 type (=90) | payload[32], exactly
 * CX_COMMAND_BYTES bytes, with no chain id, sender, nonce or signature. Only
 * a chain whose genesis sets bench_commands accepts it; its txid is H_TX of
 * those 34 bytes, and a replay is refused by txid (node.c, blocks.c).
 *
 * A decoded cx_tx owns its heap parts (contract source and bytecode; a
 * call's args, blobs and commitments; a sign_request's message); release
 * with tx_clear(). Everything else is fixed-size. */
#ifndef CUSTOS_TX_H
#define CUSTOS_TX_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "codec.h"
#include "error.h"
#include "hash.h"
#include "keys.h"

#define CX_TX_VERSION 1
#define CX_TX_MAX_BYTES (80 * 1024) /* whole encoded transaction */
#define CX_NAME_MAX 32              /* member and contract names, STR_IDENT */
#define CX_DOMAIN_MAX 16            /* data-domain names, STR_IDENT */
#define CX_DOMAINS_MAX 8            /* domains per member / consent / contract */
#define CX_PURPOSE_MAX 128          /* consent purpose, STR_UTF8 */
#define CX_ADDR_MAX 96              /* network address, STR_ADDR */
#define CX_SOURCE_MAX (64 * 1024)   /* contract source bytes, STR_UTF8 + \n\t */
#define CX_BYTECODE_MAX (64 * 1024) /* compiled contract bytes */

typedef enum {
  ROLE_BUREAU = 1,
  ROLE_INSURER = 2,
  ROLE_AUDITOR = 3,
  ROLE_REGULATOR = 4,
} cx_role;

typedef enum {
  LEVEL_EA5_MINUS = 1, /* "EA5-" */
  LEVEL_EA5_PLUS = 2,  /* "EA5+" */
} cx_level;

typedef enum {
  TX_MEMBER_PROPOSE = 1,  /* governance proposal: add / remove / re-key */
  TX_MEMBER_APPROVE = 2,  /* a validator's approval of a proposal */
  TX_ID_REGISTER = 10,    /* sender = the subject's key */
  TX_ID_ATTEST = 11,      /* sender = a bureau */
  TX_ID_ROTATE = 12,      /* sender = the subject's current key */
  TX_ID_REVOKE = 13,      /* sender = subject or an attesting bureau */
  TX_CONSENT_GRANT = 20,  /* sender = subject, or attesting bureau + evidence */
  TX_CONSENT_REVOKE = 21, /* sender = subject or the granting bureau */
  TX_CONTRACT_DEPLOY = 30,  /* sender = an insurer */
  TX_CONTRACT_APPROVE = 31, /* sender = a bureau owning a domain it reads */
  TX_CONTRACT_RETIRE = 32,  /* sender = the deploying insurer */
  TX_VAULT_ANCHOR = 33,     /* sender = the bureau owning the domain: a snapshot's root */
  TX_EVIDENCE = 40,         /* sender = a validator: a validator's equivocation */
  TX_MPC_EVIDENCE = 41,     /* sender = a party of the call: a cheater its MPC named (docs/calls.md §5) */
  TX_CALL = 50,             /* sender = an insurer: calls a contract for a subject */
  TX_CALL_RESULT = 51,      /* sender = a party of the call: its result (docs/calls.md §4) */
  TX_KEY_CREATE = 60,       /* consortium keys (docs/keys.md §3): starts a DKG */
  TX_KEY_DEAL = 61,         /* sender = a party: round one + sealed shares */
  TX_KEY_VERDICT = 62,      /* sender = a party: its complaints (maybe none) */
  TX_KEY_ANSWER = 63,       /* sender = an accused dealer: the revealed share */
  TX_KEY_ADVANCE = 64,      /* sender = a party: its vote to end a phase */
  TX_SIGN_REQUEST = 65,     /* custody keys (docs/keys.md §9): sender = a member */
  TX_SIGN_APPROVE = 66,     /* sender = a member: approves a request */
  TX_SIGN_RESULT = 67,      /* sender = a party of the key: the signature */
  TX_KEY_RESHARE = 68,      /* sender = a validator: a READY key to the validators now (docs/keys.md §10) */
  TX_COMMAND = 90,          /* unsigned 32-byte benchmark payload (bench_commands chains only) */
} cx_tx_type;

#define CX_COMMAND_PAYLOAD 32
#define CX_COMMAND_BYTES (2 + CX_COMMAND_PAYLOAD) /* version | type | payload */

/* A benchmark command: an opaque payload, no state, no signer. */
typedef struct {
  uint8_t payload[CX_COMMAND_PAYLOAD];
} cx_tx_command;

typedef enum {
  GOV_ADD = 1,
  GOV_REMOVE = 2,
  GOV_REKEY = 3,
} cx_gov_action;

typedef struct {
  char name[CX_DOMAIN_MAX + 1];
} cx_domain;

/* A set of data domains: strictly ascending (strcmp), no duplicates. */
typedef struct {
  uint8_t n;
  cx_domain d[CX_DOMAINS_MAX];
} cx_domain_set;

/* A consortium member. */
typedef struct {
  char name[CX_NAME_MAX + 1]; /* unique, STR_IDENT */
  uint8_t role;               /* cx_role */
  cx_pubkey key;              /* signs transactions and consensus votes */
  uint8_t enc_key[32];        /* X25519 key: member links, sealed MPC shares */
  uint8_t validator;          /* 1: runs a node, votes in consensus and governance */
  char address[CX_ADDR_MAX + 1]; /* validator's member-link address ("" otherwise) */
  cx_domain_set domains;      /* bureaus only: data domains it owns */
} cx_member;

typedef struct {
  uint8_t action;      /* cx_gov_action */
  cx_member member;    /* add: the whole record; remove: name only;
                          rekey: name, key, enc_key */
  uint64_t expires;    /* last height at which approvals count */
} cx_tx_member_propose;

typedef struct {
  cx_hash proposal; /* txid of the TX_MEMBER_PROPOSE */
} cx_tx_member_approve;

typedef struct {
  cx_hash did; /* H_DID(salt || national id), computed by the client */
} cx_tx_id_register;

typedef struct {
  cx_hash did;
  uint8_t level; /* cx_level */
} cx_tx_id_attest;

typedef struct {
  cx_hash did;
  cx_pubkey new_key;
} cx_tx_id_rotate;

typedef struct {
  cx_hash did;
} cx_tx_id_revoke;

typedef struct {
  cx_hash did;
  char insurer[CX_NAME_MAX + 1]; /* member name of the grantee */
  cx_domain_set domains;
  cx_hash contract;              /* contract id */
  char purpose[CX_PURPOSE_MAX + 1];
  uint64_t expires;              /* last height at which the consent is live */
  uint32_t quota;                /* uses allowed, >= 1 */
  cx_hash evidence;              /* zero when granted by the subject itself */
} cx_tx_consent_grant;

typedef struct {
  cx_hash consent; /* txid of the grant */
} cx_tx_consent_revoke;

typedef struct {
  char name[CX_NAME_MAX + 1];
  cx_domain_set domains; /* data domains the contract reads */
  uint8_t *source;       /* owned; source_len bytes, not NUL-terminated */
  size_t source_len;
  uint8_t *bytecode;     /* owned; what the source compiles to (docs/contract-language.md §6) */
  size_t bytecode_len;   /* 1..CX_BYTECODE_MAX */
} cx_tx_contract_deploy;

typedef struct {
  cx_hash contract;
} cx_tx_contract_ref; /* approve and retire */

/* One signed consensus message of an evidence (the signer, type, height and
 * round are the evidence's). Body part: varint pol_round+1 (proposals; 0
 * for votes) | block_hash[32] | sig[64]. */
typedef struct {
  uint32_t pol_round; /* proposals: CX_CS_NIL_ROUND or a round; votes: ignored
                         (written as 0, decoded as CX_CS_NIL_ROUND) */
  cx_hash block_hash; /* zero = nil (votes) */
  cx_sig sig;         /* BIP340 by the accused over cs_msg_digest (block.h) */
} cx_cs_signed;

/* Proof that a validator signed two different consensus messages for one
 * (height, round, type) (consensus/bft.h, BFT_ACT_EVIDENCE).
 * Body: accused[32] | u8 msg_type (1..3) | varint height |
 *   varint round (<= UINT32_MAX - 1, as on the consensus wire) | half[0] | half[1].
 * Canonical: the halves' contents (pol_round, block_hash) differ
 * (CX_E_NOT_CONFLICTING otherwise) and half[0]'s encoding is bytewise below
 * half[1]'s (CX_E_NONCANONICAL otherwise), so one equivocation pair has one
 * encoding whichever order it was observed in (tx_evidence_order). */
typedef struct {
  cx_pubkey accused;
  uint8_t msg_type; /* CX_CS_PROPOSAL, CX_CS_PREVOTE, CX_CS_PRECOMMIT */
  uint64_t height;
  uint32_t round;
  cx_cs_signed half[2];
} cx_tx_evidence;

/* A contract call (docs/transactions.md §3.12). Body: contract[32] | did[32] |
 * consent[32] | varint nargs | nargs x zigzag varint | varint nparties |
 * varint count | nparties x bytes(blob) | nparties x commit[32].
 * The dealing is the client's secret-sharing of the contract's params
 * (mpc/client.h, mpc_client_share): party i is the i-th validator by name at
 * the call's height; count == 0 iff nparties == 0. */
#define CX_CALL_MAX_ARGS 4096   /* flat arg elements */
#define CX_CALL_MAX_VALUES 4096 /* flat param elements: MPC_CLIENT_MAX_VALUES */
typedef struct {
  cx_hash contract;
  cx_hash did;
  cx_hash consent;   /* txid of the consent grant */
  size_t nargs;
  int64_t *args;     /* owned; nargs values (NULL when 0) */
  uint32_t nparties; /* 0..CX_MAX_VALIDATORS */
  size_t count;      /* param elements dealt: 0..CX_CALL_MAX_VALUES */
  size_t blob_len;   /* bytes of each blob: tx_call_blob_len(count) when decoded */
  uint8_t *blobs;    /* owned; nparties * blob_len, party i at i * blob_len */
  cx_hash *commit;   /* owned; nparties commitments */
} cx_tx_call;

/* The result of a call (docs/calls.md §3, §4). Body: call[32] | u8 status |
 *   DONE:    varint nin | nin x (str domain | root[32] | varint count | leaf[32]) |
 *            varint nout | nout x (u8 priv | priv ? fe[16] : zvarint) | transcript[32]
 *   ABORTED: zvarint code | str reason
 *   u8 proof:
 *     1 QUORUM: varint nsig (1..64) | nsig x (u8 party | bytes blob | sig[64])
 *     2 FROST:  varint key_epoch | sig[64] | varint nsig (0..64) | nsig x (u8 party | bytes blob)
 *     3 FROST_BATCH: varint key_epoch | sig[64] | u8 batch_n (2..64) | u8 batch_idx (< batch_n) |
 *               u8 npath (0..6) | npath x hash[32] | varint nsig (0..64) | nsig x (u8 party | bytes blob)
 *   parties strictly increasing. Caps are checked before anything is allocated. */
#define CX_RESULT_MAX_OUTPUTS 4096
#define CX_RESULT_REASON_MAX 200
#define CX_RESULT_BLOB_MAX (CX_RESULT_MAX_OUTPUTS * 16 + 48) /* crypto_box_SEALBYTES */
#define CX_CALL_DONE 2    /* = vm_call_status CALL_DONE */
#define CX_CALL_ABORTED 3 /* = CALL_ABORTED */
typedef struct {
  char domain[CX_DOMAIN_MAX + 1];
  cx_hash root;   /* vault_domain_root of the snapshot the bureau read */
  uint64_t count; /* records in it */
  cx_hash leaf;   /* vault_leaf of the subject's record */
} cx_result_input;
typedef struct {
  uint8_t priv;     /* 0 public: value; 1 private: masked (z + r) */
  int64_t value;
  uint8_t masked[16]; /* canonical field element, little-endian */
} cx_result_output;
typedef struct {
  uint8_t party;   /* index among the call's parties */
  uint8_t *blob;   /* owned; blob_len bytes (NULL when 0) */
  size_t blob_len;
  cx_sig sig;      /* over H_RESULT_SIG(statement || blob) */
} cx_result_sig;
#define CX_RESULT_PROOF_QUORUM 1 /* 2t + 1 BIP340 signatures, one per party */
#define CX_RESULT_PROOF_FROST 2  /* one FROST signature by the `results` key */
#define CX_RESULT_PROOF_FROST_BATCH 3 /* one FROST signature over a batch's root, and this result's path */
#define CX_RESULT_BATCH_MAX 64   /* results under one batch signature (batch_n is a u8) */
#define CX_RESULT_BATCH_DEPTH 6  /* the longest path in a tree of CX_RESULT_BATCH_MAX leaves */
/* An RFC 6962 tree of n leaves has paths of at most ceil(log2 n) hashes:
 * raising the MAX without the DEPTH would overflow batch_path. */
_Static_assert(CX_RESULT_BATCH_MAX <= 255 && (1u << CX_RESULT_BATCH_DEPTH) >= CX_RESULT_BATCH_MAX &&
                   (1u << (CX_RESULT_BATCH_DEPTH - 1)) < CX_RESULT_BATCH_MAX,
               "CX_RESULT_BATCH_DEPTH is ceil(log2 CX_RESULT_BATCH_MAX)");
typedef struct {
  cx_hash call;
  uint8_t status;                 /* CX_CALL_DONE or CX_CALL_ABORTED */
  size_t nin;                     /* DONE: <= CX_DOMAINS_MAX */
  cx_result_input in[CX_DOMAINS_MAX];
  size_t nout;                    /* DONE */
  cx_result_output *out;          /* owned */
  cx_hash transcript;             /* DONE */
  int32_t code;                   /* ABORTED: the cx_err */
  char reason[CX_RESULT_REASON_MAX + 1]; /* ABORTED: STR_UTF8 */
  uint8_t proof;                  /* CX_RESULT_PROOF_*; 0 when built in memory = QUORUM */
  size_t nsig;                    /* QUORUM: 1..CX_MAX_VALIDATORS signatures;
                                     FROST: 0..CX_MAX_VALIDATORS blobs (sig unused) */
  cx_result_sig *sigs;            /* owned */
  uint32_t key_epoch;             /* FROST, FROST_BATCH: the `results` key's epoch */
  cx_sig frost;                   /* FROST: (R, z) over tx_result_frost_msg;
                                     FROST_BATCH: over tx_result_batch_msg of the batch's root */
  uint8_t batch_n, batch_idx;     /* FROST_BATCH: leaves of the batch's tree, this result's leaf */
  uint8_t batch_npath;            /* FROST_BATCH: RFC 6962 audit path (core/merkle.h), bottom-up */
  cx_hash batch_path[CX_RESULT_BATCH_DEPTH];
} cx_tx_call_result;

/* A bureau's commitment to a snapshot of one of its domains
 * (docs/transactions.md §3.14, docs/vault.md "Anchoring"): the vault's
 * domain root and record count. Body: str domain | root[32] | varint count. */
typedef struct {
  char domain[CX_DOMAIN_MAX + 1];
  cx_hash root;   /* vault_domain_root */
  uint64_t count; /* records under it */
} cx_tx_vault_anchor;

/* A cheater the MPC engine named while running a call (docs/calls.md §5,
 * docs/transactions.md §3.15): the engine's transferable evidence
 * (mpc/mpc.h, mpc_evidence), which anyone holding the call's parties' keys
 * checks with mpc_evidence_verify. Body: call[32] | u8 session (1 prep,
 * 2 bits, 3 online) | u8 ev_type (mpc_ev_type 1..6) | u8 culprit |
 * varint item | varint count (1..CX_MEV_MAX_MSGS) | count x bytes msg |
 * bytes aux. Canonical: item is 0 unless ev_type is WRONG_SHARE (3) or
 * CLIENT (6), aux is empty unless ev_type is CLIENT; each msg is at least
 * an engine header and signature long (CX_E_TRUNCATED otherwise). Core
 * does not link the mpc module: the constants below copy mpc.h and
 * mpc/wire.h (test_vm checks they agree). Evidence whose transaction would
 * pass CX_TX_MAX_BYTES cannot be put on chain. */
#define CX_MPC_SESSION_PREP 1   /* a call's sessions (docs/calls.md §2) */
#define CX_MPC_SESSION_BITS 2
#define CX_MPC_SESSION_ONLINE 3
#define CX_MEV_TYPE_MAX 6              /* MPC_EV_CLIENT */
#define CX_MEV_WRONG_SHARE 3           /* MPC_EV_WRONG_SHARE: item is an element index */
#define CX_MEV_CLIENT 6                /* MPC_EV_CLIENT: item is a slot, aux the public data */
#define CX_MEV_MAX_MSGS (2 * CX_MAX_VALIDATORS)
#define CX_MEV_MSG_MIN 108             /* MPC_MSG_OVERHEAD: header (44) and signature (64) */
#define CX_MEV_MSG_MAX CX_TX_MAX_BYTES /* the engine allows 6 MiB; the transaction cap decides */
#define CX_MEV_AUX_MAX (40 + 32 * CX_MAX_VALIDATORS) /* MPC_EV_CLIENT: context, count, commitments */
typedef struct {
  cx_hash call;       /* the call's txid */
  uint8_t session;    /* CX_MPC_SESSION_*: the session the messages belong to */
  uint8_t ev_type;    /* mpc_ev_type */
  uint8_t culprit;    /* party index among the call's parties */
  uint64_t item;
  size_t count;       /* messages */
  uint8_t **msg;      /* owned; count signed engine messages (mpc/wire.h) */
  size_t *len;        /* owned; their lengths */
  uint8_t *aux;       /* owned; aux_len bytes (NULL when 0) */
  size_t aux_len;
} cx_tx_mpc_evidence;

/* Consortium keys (docs/keys.md §3). The DKG payloads (round1, complaint,
 * answer) are mpc/threshold/dkg.h's canonical encodings, carried as bytes:
 * core checks only their caps; the vm decodes them strictly. */
#define CX_KEY_NAME_MAX 16            /* STR_IDENT */
#define CX_KEY_PURPOSE_RESULTS 1      /* name "results" */
#define CX_KEY_PURPOSE_BEACON 2       /* name "beacon" */
#define CX_KEY_PURPOSE_CUSTODY 3      /* any other name */
#define CX_KEY_ROUND1_MAX (1 + 2 + 2 + 32 * CX_MAX_VALIDATORS + 64) /* DKG_ROUND1_LEN(64) */
#define CX_KEY_SEALED_LEN (37 + 48)   /* crypto_box_seal(DKG_SHARE_LEN) */
#define CX_KEY_COMPLAINT_MAX 38       /* DKG_COMPLAINT_MAX_LEN */
#define CX_KEY_ANSWER_LEN 37          /* DKG_ANSWER_LEN */
#define CX_KEY_PHASE_DEALING 1
#define CX_KEY_PHASE_VERIFYING 2
typedef struct {
  char name[CX_KEY_NAME_MAX + 1];
  uint8_t purpose; /* CX_KEY_PURPOSE_* */
  uint8_t t;       /* signers needed (frost.h's convention) */
  uint8_t k;       /* custody: member approvals a signing request needs; 0 otherwise */
} cx_tx_key_create;
/* Custody signing (docs/keys.md §9). */
#define CX_SIGN_MSG_MAX 1024
typedef struct {
  char key[CX_KEY_NAME_MAX + 1];
  uint8_t *msg; /* owned (tx_sign_request_set copies one in) */
  size_t msg_len; /* 1..CX_SIGN_MSG_MAX */
} cx_tx_sign_request;
typedef struct {
  cx_hash request; /* txid of the sign_request */
} cx_tx_sign_approve;
typedef struct {
  cx_hash request;
  cx_sig sig;      /* FROST (R || z) over the request's msg */
} cx_tx_sign_result;
/* str name | varint epoch | bytes round1 | varint n | n x bytes sealed
 * (each empty or CX_KEY_SEALED_LEN bytes). */
typedef struct {
  char name[CX_KEY_NAME_MAX + 1];
  uint32_t epoch;
  uint8_t *round1; /* owned */
  size_t round1_len;
  uint32_t n;      /* 1..CX_MAX_VALIDATORS */
  uint8_t *sealed; /* owned; n * CX_KEY_SEALED_LEN bytes, slot j at j * CX_KEY_SEALED_LEN */
  uint8_t sealed_present[CX_MAX_VALIDATORS]; /* 1 when slot j is non-empty */
} cx_tx_key_deal;
/* str name | varint epoch | varint k | k x bytes complaint (k <= CX_MAX_VALIDATORS). */
typedef struct {
  char name[CX_KEY_NAME_MAX + 1];
  uint32_t epoch;
  uint32_t k;
  uint8_t complaint[CX_MAX_VALIDATORS][CX_KEY_COMPLAINT_MAX];
  uint8_t complaint_len[CX_MAX_VALIDATORS];
} cx_tx_key_verdict;
/* str name | varint epoch | bytes answer (CX_KEY_ANSWER_LEN). */
typedef struct {
  char name[CX_KEY_NAME_MAX + 1];
  uint32_t epoch;
  uint8_t answer[CX_KEY_ANSWER_LEN];
} cx_tx_key_answer;
/* str name | varint epoch | u8 phase (CX_KEY_PHASE_DEALING or _VERIFYING). */
typedef struct {
  char name[CX_KEY_NAME_MAX + 1];
  uint32_t epoch;
  uint8_t phase;
} cx_tx_key_advance;
/* str name | varint epoch: the READY epoch being reshared (docs/keys.md
 * §10); the reshare runs as epoch + 1 (or later, after a failed one). */
typedef struct {
  char name[CX_KEY_NAME_MAX + 1];
  uint32_t epoch;
} cx_tx_key_reshare;

typedef struct {
  uint8_t type; /* cx_tx_type */
  cx_hash chain_id;
  cx_pubkey sender;
  uint64_t nonce;
  union {
    cx_tx_member_propose propose;
    cx_tx_member_approve approve;
    cx_tx_id_register reg;
    cx_tx_id_attest attest;
    cx_tx_id_rotate rotate;
    cx_tx_id_revoke revoke;
    cx_tx_consent_grant grant;
    cx_tx_consent_revoke crevoke;
    cx_tx_contract_deploy deploy;
    cx_tx_contract_ref cref;
    cx_tx_evidence evidence;
    cx_tx_mpc_evidence mev;
    cx_tx_call call;
    cx_tx_call_result result;
    cx_tx_vault_anchor anchor;
    cx_tx_key_create kcreate;
    cx_tx_key_deal kdeal;
    cx_tx_key_verdict kverdict;
    cx_tx_key_answer kanswer;
    cx_tx_key_advance kadvance;
    cx_tx_key_reshare kreshare;
    cx_tx_sign_request sreq;
    cx_tx_sign_approve sapprove;
    cx_tx_sign_result sres;
    cx_tx_command cmd;
  } u;
  cx_sig sig;
} cx_tx;

/* Zeroes a tx (call before filling one in). */
void tx_init(cx_tx *tx);
/* Frees owned parts and zeroes. */
void tx_clear(cx_tx *tx);
/* Sets deploy source (copies); CX_E_TOO_LONG over CX_SOURCE_MAX. */
cx_err tx_set_source(cx_tx *tx, const void *src, size_t len);
/* Sets deploy bytecode (copies); CX_E_TOO_LONG over CX_BYTECODE_MAX. */
cx_err tx_set_bytecode(cx_tx *tx, const void *bc, size_t len);

/* Sets a call's args (copies); CX_E_TOO_LONG over CX_CALL_MAX_ARGS. */
cx_err tx_call_set_args(cx_tx *tx, const int64_t *args, size_t n);
/* Sets a call's dealing (copies nparties * blob_len bytes of blobs and
 * nparties commitments). blob_len is written as given, so a test can build
 * a wrong dealing; tx_decode only yields blob_len = tx_call_blob_len(count).
 * CX_E_TOO_LONG over the caps, CX_E_INVALID_ARG if exactly one of
 * nparties and count is 0, CX_E_NOMEM. */
cx_err tx_call_set_dealing(cx_tx *tx, uint32_t nparties, size_t count, const uint8_t *blobs,
                           size_t blob_len, const cx_hash *commit);
/* Bytes of one sealed blob for count params: the length mpc_client_blob_len
 * gives (mpc/client.h; the test suite checks they agree), 0 when count is 0
 * or over CX_CALL_MAX_VALUES. Core does not link the mpc module, hence the
 * copy of its formula. */
size_t tx_call_blob_len(size_t count);
/* The context a call's dealing is sealed under (mpc_client_share): it binds
 * the shares to this chain, sender, nonce and contract, so a dealing cannot
 * be replayed in another call:
 * H_CALL(chain_id[32] || sender[32] || u64be nonce || contract[32]). */
void tx_call_context(const cx_hash *chain_id, const cx_pubkey *sender, uint64_t nonce,
                     const cx_hash *contract, uint8_t out[32]);

/* Result bodies built in memory: allocate nout outputs / nsig signatures
 * (zeroed; blobs set with tx_result_set_blob, which copies). CX_E_TOO_LONG
 * over the caps, CX_E_NOMEM. */
cx_err tx_result_alloc(cx_tx *tx, size_t nout, size_t nsig);
cx_err tx_result_set_blob(cx_tx *tx, size_t i, const uint8_t *blob, size_t len);
/* The statement every party of a call signs (docs/calls.md §3):
 * H_RESULT(chain_id | call | contract | consent | did | u8 status | body),
 * body = the DONE fields (inputs, outputs, transcript) as encoded in the
 * tx, or zvarint code for ABORTED (the reason is not part of it). */
void tx_result_statement(const cx_hash *chain_id, const cx_tx_call_result *r, const cx_hash *contract,
                         const cx_hash *consent, const cx_hash *did, cx_hash *out);
/* What party i signs: H_RESULT_SIG(statement[32] || blob). */
void tx_result_sig_msg(const cx_hash *statement, const uint8_t *blob, size_t blob_len, cx_hash *out);

/* The key name a consortium-key transaction (key_create .. key_advance,
 * key_reshare) is about; NULL for any other type. */
const char *tx_key_name(const cx_tx *tx);

/* FROST-mode results (docs/calls.md §4): the message the `results` key
 * signs, statement[32] || blobs[32] with
 * blobs = H_RESULT_BLOBS(varint nsig || nsig x (u8 party || bytes blob)),
 * so the sealed mask shares the insurer gets are covered too. */
void tx_result_frost_msg(const cx_hash *statement, const cx_tx_call_result *r, uint8_t out[64]);
/* FROST_BATCH results (docs/keys.md §8): the calls of one batch share one
 * signature. Each result's leaf is H_RESULT_LEAF(its tx_result_frost_msg);
 * the leaves, in the coordinator's order, make an RFC 6962-shaped tree
 * (core/merkle.h); the key signs the 32-byte H_RESULT_BATCH(u8 n || root),
 * never the same bytes as a single result's 64-byte message. n is signed so
 * that a result's (batch_n, batch_idx) is the signers' word too: with n
 * fixed, only one leaf index climbs to the root along a given path. */
void tx_result_batch_leaf(const uint8_t frost_msg[64], cx_hash *leaf);
void tx_result_batch_msg(const cx_hash *root, size_t n, uint8_t out[32]);
/* The message the `results` key signed for r (proof FROST or FROST_BATCH),
 * its statement given: its length (64 or 32), or 0 when r's batch path does
 * not fit its (batch_idx, batch_n) or r is not in a FROST mode. */
size_t tx_result_signed_msg(const cx_hash *statement, const cx_tx_call_result *r, uint8_t out[64]);

/* Key deals built in memory: copies round1 and allocates n empty slots;
 * tx_key_deal_set_slot copies one sealed share (CX_KEY_SEALED_LEN bytes). */
cx_err tx_key_deal_set(cx_tx *tx, const uint8_t *round1, size_t len, uint32_t n);
cx_err tx_key_deal_set_slot(cx_tx *tx, uint32_t j, const uint8_t sealed[CX_KEY_SEALED_LEN]);
/* The DKG context of a key run (docs/keys.md §2):
 * H_KEY(chain_id[32] || str name || varint epoch || u8 t || varint n || n x pubkey). */
void tx_key_context(const cx_hash *chain_id, const char *name, uint32_t epoch, uint8_t t,
                    const cx_pubkey *parties, uint32_t n, uint8_t out[32]);

/* Sets a sign_request's message (copies): CX_E_TOO_LONG over
 * CX_SIGN_MSG_MAX, CX_E_INVALID_ARG when empty, CX_E_NOMEM. */
cx_err tx_sign_request_set(cx_tx *tx, const uint8_t *msg, size_t len);

/* MPC evidence (cx_tx_mpc_evidence). tx_mpc_evidence_set copies count
 * messages and aux into the body (call, session, ev_type, culprit and item
 * are set directly): CX_E_INVALID_ARG when count is 0, CX_E_TOO_LONG over
 * the caps, CX_E_NOMEM. The id of one of a call's sessions (docs/calls.md
 * §2), the one thing the node's sessions and the evidence rule must agree
 * on: H_MPC_CALL(what || chain_id || call), what = "prep", "bits" or
 * "online" for kind CX_MPC_SESSION_PREP, _BITS or _ONLINE. */
cx_err tx_mpc_evidence_set(cx_tx *tx, const uint8_t *const *msg, const size_t *len, size_t count,
                           const uint8_t *aux, size_t aux_len);
void tx_call_session_id(const cx_hash *chain_id, const cx_hash *call, uint8_t kind, uint8_t out[32]);

/* Canonical encoding. with_sig = 0 gives the signed preimage. *out malloc'd.
 * A TX_COMMAND encodes as its CX_COMMAND_BYTES whatever with_sig says
 * (chain_id, sender, nonce and sig are ignored); it has no sighash
 * (tx_sighash, tx_sign: CX_E_INVALID_ARG; tx_verify_sig*: CX_E_BAD_SIG). */
cx_err tx_encode(const cx_tx *tx, int with_sig, uint8_t **out, size_t *len);
/* Decodes one whole transaction (trailing bytes rejected). On error *tx is
 * cleared and, if err_off is non-NULL, the byte offset is stored. Checks
 * syntax only (field formats, set order, caps), not signatures or rules. */
cx_err tx_decode(const uint8_t *buf, size_t len, cx_tx *tx, size_t *err_off);

/* Writes the CX_COMMAND_BYTES encoding of a command with this payload
 * (what tx_encode gives, without an allocation: the load client's path). */
void tx_command_encode(const uint8_t payload[CX_COMMAND_PAYLOAD], uint8_t out[CX_COMMAND_BYTES]);

/* sighash and txid. */
cx_err tx_sighash(const cx_tx *tx, cx_hash *out);
void tx_id_of_bytes(const uint8_t *enc_tx, size_t len, cx_hash *out);

/* Signs in place: sets tx->sender to k's public key, then the signature. */
cx_err tx_sign(cx_tx *tx, const cx_seckey *k);
/* CX_OK if the signature verifies, CX_E_BAD_SIG otherwise. */
cx_err tx_verify_sig(const cx_tx *tx);
/* Same check for a transaction that tx_decode() accepted from raw/len: the
 * encoding is canonical, so the signed preimage is raw without its last 64
 * bytes and need not be encoded again (the admission hot path). */
cx_err tx_verify_sig_raw(const cx_tx *tx, const uint8_t *raw, size_t len);

/* Puts the halves of an evidence in canonical order (swapping them if
 * needed). Returns 0, leaving it unchanged, if their contents are the same
 * (it proves nothing: CX_E_NOT_CONFLICTING at decoding), else 1.
 * msg_type must be 1..3. */
int tx_evidence_order(cx_tx_evidence *ev);
/* What tx_decode would say of these fields: CX_OK, CX_E_BAD_ENUM (msg_type),
 * CX_E_TOO_LONG (round), CX_E_NOT_CONFLICTING or CX_E_NONCANONICAL (order).
 * For evidence built in memory (the vm refuses such a transaction). */
cx_err tx_evidence_check(const cx_tx_evidence *ev);

/* Names for JSON/CLI ("member_propose", "bureau", "EA5+", "add"...).
 * *_parse return -1 on unknown names. */
const char *tx_type_name(int type);
int tx_type_parse(const char *s);
const char *role_name(int role);
int role_parse(const char *s);
const char *level_name(int level);
int level_parse(const char *s);
const char *gov_action_name(int a);
int gov_action_parse(const char *s);

/* Domain sets: add keeps order; CX_E_FULL / CX_E_EXISTS / CX_E_BAD_STRING. */
cx_err domain_set_add(cx_domain_set *s, const char *name);
int domain_set_has(const cx_domain_set *s, const char *name);
int domain_set_eq(const cx_domain_set *a, const cx_domain_set *b);
/* Parses "a,b,c" (any order) into a sorted set. */
cx_err domain_set_parse(const char *csv, cx_domain_set *out);

/* Member record encoding (shared by transactions, genesis and state):
 * name | u8 role | key[32] | enc_key[32] | bool validator | address | domains.
 * member_dec checks field formats and that only bureaus own domains and
 * only validators have an address. */
void member_enc(cx_enc *e, const cx_member *m);
int member_dec(cx_dec *d, cx_member *m);
void domain_set_enc(cx_enc *e, const cx_domain_set *s);
int domain_set_dec(cx_dec *d, cx_domain_set *s);

/* Evidence body encoding (shared by transactions and state): as in
 * cx_tx_evidence, with the same canonical checks as tx_decode. */
void evidence_enc(cx_enc *e, const cx_tx_evidence *ev);
int evidence_dec(cx_dec *d, cx_tx_evidence *ev);

/* DID of a subject: H_DID(u8 len(salt) || salt || national_id). The national
 * id never leaves the client; only this hash goes on chain. */
#define CX_SALT_MAX 64
cx_err did_derive(const uint8_t *salt, size_t salt_len, const char *national_id,
                  cx_hash *out);

#endif
