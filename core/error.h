/* Custos error codes.
 *
 * Two kinds of failure (see docs/architecture.md):
 *  - expected failures (bad input from a peer or client, a rule that a
 *    transaction breaks, a damaged store) return a cx_err;
 *  - misuse of an API by its caller is a bug and aborts via CX_ASSERT.
 *
 * Codes are numbered by module and never renumbered: they appear in receipts
 * stored on chain and in JSON-RPC error data. cx_err_name() gives a stable
 * snake_case name (the "rule" in a receipt), cx_err_str() a sentence. */
#ifndef CUSTOS_ERROR_H
#define CUSTOS_ERROR_H

#include <stddef.h>

#define CX_ERRORS(X)                                                                 \
  X(CX_OK, 0, "ok", "success")                                                       \
  /* generic 1..99 */                                                                \
  X(CX_E_NOMEM, 1, "out_of_memory", "out of memory")                                 \
  X(CX_E_IO, 2, "io_error", "input/output error")                                    \
  X(CX_E_NOT_FOUND, 3, "not_found", "not found")                                     \
  X(CX_E_INVALID_ARG, 4, "invalid_argument", "invalid argument")                     \
  X(CX_E_FULL, 5, "full", "capacity reached")                                        \
  X(CX_E_EXISTS, 6, "exists", "already exists")                                      \
  X(CX_E_INTERNAL, 7, "internal", "internal error")                                  \
  X(CX_E_CONFIG, 8, "bad_config", "invalid configuration")                           \
  X(CX_E_CRYPTO, 9, "crypto_failure", "cryptographic operation failed")              \
  X(CX_E_AUTH, 10, "unauthorized", "unauthorized")                                   \
  X(CX_E_BAD_HEX, 11, "bad_hex", "malformed hex string")                             \
  X(CX_E_PASSPHRASE, 12, "bad_passphrase", "wrong passphrase or damaged keystore")   \
  /* codec 100.. */                                                                  \
  X(CX_E_TRUNCATED, 100, "truncated", "input ends before the value does")            \
  X(CX_E_TRAILING, 101, "trailing_bytes", "bytes left after the value")              \
  X(CX_E_TOO_LONG, 102, "too_long", "length over its cap")                           \
  X(CX_E_NONCANONICAL, 103, "noncanonical", "non-canonical encoding")                \
  X(CX_E_BAD_ENUM, 104, "bad_enum", "value out of its enumeration")                  \
  X(CX_E_BAD_STRING, 105, "bad_string", "string has characters not allowed here")    \
  X(CX_E_BAD_VERSION, 106, "bad_version", "unsupported format version")              \
  X(CX_E_UNSORTED, 107, "unsorted_set", "set elements not strictly ascending")       \
  /* transaction envelope 200.. */                                                   \
  X(CX_E_BAD_SIG, 200, "bad_signature", "signature does not verify")                 \
  X(CX_E_BAD_KEY, 201, "bad_public_key", "not a valid public key")                   \
  X(CX_E_WRONG_CHAIN, 202, "wrong_chain", "transaction is for another chain")        \
  X(CX_E_NONCE_USED, 203, "nonce_used", "nonce already used (replay)")               \
  X(CX_E_NONCE_GAP, 204, "nonce_gap", "nonce too far ahead of the account")          \
  X(CX_E_DUPLICATE, 205, "duplicate", "transaction already known")                   \
  X(CX_E_SENDER_LIMIT, 206, "sender_limit", "too many pending transactions from this sender") \
  X(CX_E_MEMPOOL_FULL, 207, "mempool_full", "mempool is full")                       \
  X(CX_E_TX_TOO_BIG, 208, "tx_too_big", "transaction over the size cap")             \
  X(CX_E_NOT_CONFLICTING, 209, "not_conflicting", "evidence: the two signed messages have the same content") \
  /* native rules 300.. (receipt rule names) */                                      \
  X(CX_E_NOT_MEMBER, 300, "not_member", "sender is not a current member")            \
  X(CX_E_WRONG_ROLE, 301, "wrong_role", "sender's role may not do this")             \
  X(CX_E_NOT_VALIDATOR, 302, "not_validator", "sender is not a validating member")   \
  X(CX_E_MEMBER_EXISTS, 303, "member_exists", "a member with this name or key exists") \
  X(CX_E_MEMBER_UNKNOWN, 304, "member_unknown", "no such member")                    \
  X(CX_E_PROPOSAL_UNKNOWN, 305, "proposal_unknown", "no such proposal")              \
  X(CX_E_PROPOSAL_CLOSED, 306, "proposal_closed", "proposal already applied or expired") \
  X(CX_E_ALREADY_APPROVED, 307, "already_approved", "this member already approved")  \
  X(CX_E_LAST_VALIDATOR, 308, "last_validator", "cannot remove the last validator")  \
  X(CX_E_DOMAIN_OWNED, 309, "domain_owned", "data domain already owned by another bureau") \
  X(CX_E_BAD_MEMBER, 310, "bad_member", "member record is inconsistent with its role") \
  X(CX_E_EXPIRED, 311, "expired", "expiry height already passed")                    \
  X(CX_E_DID_EXISTS, 320, "did_exists", "identity already registered")               \
  X(CX_E_DID_UNKNOWN, 321, "did_unknown", "no such identity")                        \
  X(CX_E_DID_REVOKED, 322, "did_revoked", "identity is revoked")                     \
  X(CX_E_NOT_SUBJECT, 323, "not_subject", "sender is not the subject's current key") \
  X(CX_E_BAD_LEVEL, 324, "bad_level", "unknown attestation level")                   \
  X(CX_E_NOT_ATTESTED, 325, "not_attested", "identity has no attestation by this bureau") \
  X(CX_E_KEY_IN_USE, 326, "key_in_use", "key already belongs to another subject")    \
  X(CX_E_CONSENT_UNKNOWN, 330, "consent_unknown", "no such consent")                 \
  X(CX_E_CONSENT_REVOKED, 331, "consent_revoked", "consent already revoked")         \
  X(CX_E_NOT_GRANTOR, 332, "not_grantor", "only the subject or the bureau that granted may revoke") \
  X(CX_E_NEED_EVIDENCE, 333, "evidence_required", "a bureau granting on a subject's behalf must give an evidence hash") \
  X(CX_E_BAD_QUOTA, 334, "bad_quota", "use quota must be at least 1")                \
  X(CX_E_NOT_INSURER, 335, "not_insurer", "grantee is not an insurer member")        \
  X(CX_E_DOMAIN_UNKNOWN, 336, "domain_unknown", "no bureau owns this data domain")   \
  X(CX_E_CONSENT_LIMIT, 337, "consent_limit", "subject has too many consents")       \
  X(CX_E_SCOPE, 338, "out_of_scope", "domains not covered by the contract")          \
  X(CX_E_CONTRACT_EXISTS, 340, "contract_exists", "contract already deployed")       \
  X(CX_E_CONTRACT_UNKNOWN, 341, "contract_unknown", "no such contract")              \
  X(CX_E_CONTRACT_RETIRED, 342, "contract_retired", "contract is retired")           \
  X(CX_E_NOT_OWNER_BUREAU, 343, "not_domain_owner", "sender owns none of the contract's domains") \
  X(CX_E_NOT_DEPLOYER, 344, "not_deployer", "only the deploying insurer may retire") \
  X(CX_E_CONTRACT_UNAPPROVED, 345, "contract_unapproved", "contract is not approved by every owning bureau") \
  X(CX_E_EVIDENCE_EXISTS, 350, "evidence_exists", "this equivocation is already on chain") \
  X(CX_E_CONSENT_MISMATCH, 360, "consent_mismatch", "the consent is for another insurer, contract or subject") \
  X(CX_E_BAD_DEALING, 361, "bad_dealing", "the params' dealing does not match the contract or the validators") \
  X(CX_E_CALL_UNKNOWN, 362, "call_unknown", "no such call")                          \
  X(CX_E_CALL_CLOSED, 363, "call_closed", "the call already has a result")           \
  X(CX_E_RESULT_MISMATCH, 364, "result_mismatch", "the result does not match the contract's interface") \
  X(CX_E_NO_QUORUM, 365, "no_quorum", "fewer than 2t+1 parties signed the result")   \
  X(CX_E_BAD_EVIDENCE, 366, "bad_evidence", "the MPC evidence does not prove the culprit cheated") \
  X(CX_E_KEY_EXISTS, 370, "key_exists", "a consortium key of that name exists")      \
  X(CX_E_KEY_UNKNOWN, 371, "key_unknown", "no consortium key of that name")          \
  X(CX_E_KEY_CLOSED, 372, "key_closed", "the key is not in that phase or epoch")    \
  X(CX_E_NOT_KEY_PARTY, 373, "not_key_party", "the sender is not a party of the key") \
  X(CX_E_DEAL_EXISTS, 374, "deal_exists", "the party has already dealt")           \
  X(CX_E_BAD_DEAL, 375, "bad_deal", "the deal is malformed or its proof fails")     \
  X(CX_E_VERDICT_EXISTS, 376, "verdict_exists", "the party has already given its verdict") \
  X(CX_E_BAD_COMPLAINT, 377, "bad_complaint", "the complaint or answer is malformed or proves nothing") \
  X(CX_E_NO_COMPLAINT, 378, "no_complaint", "no pending complaint to answer")      \
  X(CX_E_ALREADY_VOTED, 379, "already_voted", "the party has already voted to end this phase") \
  X(CX_E_BAD_KEY_PARAMS, 380, "bad_key_params", "name, purpose or threshold not allowed") \
  X(CX_E_KEY_NOT_READY, 381, "key_not_ready", "the key is not ready, or not the call's parties'") \
  X(CX_E_REQUEST_UNKNOWN, 382, "request_unknown", "no such signing request")      \
  X(CX_E_REQUEST_CLOSED, 383, "request_closed", "the signing request is not in that state") \
  /* storage 400.. */                                                                \
  X(CX_E_DB, 400, "db_error", "database error")                                      \
  X(CX_E_CORRUPT, 401, "store_corrupt", "store is damaged")                          \
  X(CX_E_HEIGHT, 402, "bad_height", "block height out of sequence")                  \
  X(CX_E_LOCKED, 403, "store_locked", "store is in use by another process")          \
  /* block 500.. */                                                                  \
  X(CX_E_BAD_BLOCK, 500, "bad_block", "block is invalid")                            \
  X(CX_E_BAD_CERT, 501, "bad_certificate", "commit certificate is invalid")          \
  X(CX_E_BAD_PARENT, 502, "bad_parent", "block does not extend the chain tip")       \
  X(CX_E_BAD_ROOT, 503, "bad_root", "root does not match the block content")         \
  /* rpc 600.. */                                                                    \
  X(CX_E_RPC_PARSE, 600, "parse_error", "malformed JSON")                            \
  X(CX_E_RPC_REQUEST, 601, "invalid_request", "not a JSON-RPC 2.0 request")          \
  X(CX_E_RPC_METHOD, 602, "method_not_found", "unknown method")                      \
  X(CX_E_RPC_PARAMS, 603, "invalid_params", "invalid method parameters")             \
  X(CX_E_RPC_TOO_BIG, 604, "request_too_big", "request body over the cap")           \
  X(CX_E_RPC_BUSY, 605, "busy", "too many connections")                            \
  /* member network 700.. */                                                       \
  X(CX_E_NO_SESSION, 700, "no_session", "no established session with this peer")     \
  X(CX_E_PEER_UNKNOWN, 701, "peer_unknown", "not a current member link")             \
  X(CX_E_QUEUE_FULL, 702, "queue_full", "the peer's send queue is full")            \
  X(CX_E_NET, 703, "net_error", "member network transport error")                   \
  /* mpc 800.. (mpc/) */                                                           \
  X(CX_E_MPC_SESSION, 800, "mpc_wrong_session", "message is for another MPC session or kind") \
  X(CX_E_MPC_SENDER, 801, "mpc_bad_sender", "sender or recipient index is not valid for this session") \
  X(CX_E_MPC_ROUND, 802, "mpc_bad_round", "message round is too old or too far ahead") \
  X(CX_E_MPC_EQUIVOCATION, 803, "mpc_equivocation", "two different signed messages for one round") \
  X(CX_E_MPC_MALFORMED, 804, "mpc_malformed", "signed MPC message has a malformed payload") \
  X(CX_E_MPC_INCONSISTENT, 805, "mpc_inconsistent", "shares do not lie on one polynomial and cannot be corrected") \
  X(CX_E_MPC_CHECK_FAILED, 806, "mpc_check_failed", "a verification check of the MPC protocol failed") \
  X(CX_E_MPC_TIMEOUT, 807, "mpc_timeout", "a party did not send its message in time") \
  X(CX_E_MPC_POOL_EMPTY, 808, "mpc_pool_empty", "not enough preprocessed material in the pool") \
  X(CX_E_MPC_TRANSCRIPT, 809, "mpc_transcript_mismatch", "parties received different broadcast values") \
  X(CX_E_MPC_PROGRAM, 810, "mpc_bad_program", "MPC program is invalid") \
  X(CX_E_MPC_STATE, 811, "mpc_not_running", "the MPC session has already finished or aborted") \
  X(CX_E_MPC_DUPLICATE, 812, "mpc_duplicate", "identical copy of a message already received") \
  X(CX_E_MPC_CLIENT_REJECTED, 813, "mpc_client_rejected", "client-dealt input is inconsistent or its blob does not open") \
  X(CX_E_MPC_POOL_DESYNC, 814, "mpc_pool_desync", "parties' preprocessing pools are not aligned") \
  X(CX_E_FROST_BAD_SHARE, 815, "frost_bad_share", "a FROST signature share does not verify (its sender is named)") \
  /* contract language 900..999 (docs/contract-language.md) */                     \
  X(CX_E_LANG_SYNTAX, 900, "lang_syntax", "contract source has a syntax error")    \
  X(CX_E_LANG_NAME, 901, "lang_name", "contract uses an unknown or duplicate name") \
  X(CX_E_LANG_TYPE, 902, "lang_type", "contract has a type error")                 \
  X(CX_E_LANG_SECRECY, 903, "lang_secrecy", "contract lets control flow depend on a secret") \
  X(CX_E_LANG_RANGE, 904, "lang_range", "contract value may overflow int64")       \
  X(CX_E_LANG_LIMIT, 905, "lang_limit", "contract exceeds a size limit")           \
  X(CX_E_LANG_BYTECODE, 906, "lang_bad_bytecode", "contract bytecode is malformed") \
  X(CX_E_LANG_INPUT, 907, "lang_bad_input", "contract call value is missing, mistyped or out of range") \
  X(CX_E_LANG_MISMATCH, 908, "bytecode_mismatch", "contract source does not compile to the given bytecode")

typedef enum {
#define CX_ERR_ENUM(sym, num, name, msg) sym = num,
  CX_ERRORS(CX_ERR_ENUM)
#undef CX_ERR_ENUM
} cx_err;

/* Stable snake_case name of an error ("bad_signature"); "unknown_error" for
 * a number that is not a cx_err. Never NULL; static storage. */
const char *cx_err_name(int err);
/* One-sentence description; never NULL; static storage. */
const char *cx_err_str(int err);

/* Writes a sentence into err (if err and errlen) and returns code: the one
 * helper for functions that report a refusal as a cx_err plus a sentence
 * naming the field or command. */
cx_err cx_errf(char *err, size_t errlen, cx_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* API misuse is a bug: print where and abort. Active in every build. */
void cx_panic(const char *file, int line, const char *what);
#define CX_ASSERT(cond)                                                              \
  do {                                                                               \
    if (!(cond)) cx_panic(__FILE__, __LINE__, #cond);                                \
  } while (0)

#endif
