/* verify: an auditor's check of a contract call's result with the genesis
 * alone (docs/calls.md §7), as a pure function over bytes.
 *
 * The node is a courier, not a witness: it hands over the raw transactions
 * (tx_get "raw") and, for each, the block header, the commit certificate and
 * two Merkle audit paths (tx_proof). Everything here is recomputed and
 * checked against the genesis file: txids from the bytes, block hashes from
 * the headers, certificates against the validators in force at each block,
 * inclusion against tx_root and receipts_root, the result statement from the
 * call and result transactions, the parties' signatures against the
 * validators in force at the call, and the anchoring of each input snapshot
 * by the domain's genesis owner (docs/vault.md "Anchoring").
 *
 * Validator-set changes (docs/calls.md §7 "Validator-set changes"). The set
 * in force for block h, V(h), is the set after every governance change
 * applied in blocks < h (node/blocks.c feeds the engine the set after each
 * commit). The verifier learns it from the genesis alone: V0 = the genesis
 * validators, and a scratch in-memory state (vm/memstate.h) holding the
 * genesis. The node lists the governance transactions (member_propose and
 * member_approve with ok receipts, member_history) in chain order; each is
 * checked like any other (bytes, signature, chain, inclusion, ok receipt),
 * its block's certificate against the set derived so far for that height,
 * its place after the one before, then applied with vm_apply_governance
 * (the member rules, no nonce check), whose verdict must be ok as the
 * chain's was; the validators the scratch state then lists are the set
 * from the next block on. Every certificate (call, result, consent,
 * anchorings, the results key's transactions, the governance transactions
 * themselves) is checked against V(its height), a call's parties are the
 * set at the call's own place (after the governance transactions before it,
 * in its block too: the call rule reads them when it runs), and the results
 * key's epoch-0 parties the set at its key_create's place.
 * Soundness: each set is proven by transactions in blocks certified by the
 * set in force before it, so by induction every set derived is one the
 * chain had, as long as the list is complete. A node that omits or
 * reorders a governance transaction makes the verifier derive a set the
 * chain did not have from that point on: later certificates (signer indexes
 * into the chain's set) and the replay itself (an ok transaction refused)
 * then fail. The limit is keys a governance change retired (removed or
 * rekeyed): a node hiding that change keeps them in the set the verifier
 * derives, so if enough of them leaked to reach its quorum (with the
 * faulty validators) they could certify a false block (docs/calls.md §7).
 *
 * `custos verify result` (cli_verify.c) fetches the pieces and prints the
 * report; tests build a chain fragment by hand and tamper with each piece. */
#ifndef CUSTOS_VERIFY_H
#define CUSTOS_VERIFY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "hash.h"
#include "merkle.h"
#include "vm.h"

/* One transaction as the node gave it. raw == NULL: the node did not give
 * it (why says what happened, e.g. "the call is pending: no result yet").
 * has_proof == 0: no tx_proof (proof_why says why). */
typedef struct {
  const uint8_t *raw; /* the signed canonical encoding */
  size_t raw_len;
  const char *why;
  int has_proof;
  const char *proof_why;
  uint64_t index, ntx;      /* the transaction's place in its block */
  int32_t code;             /* the receipt code the node claims (reported, not trusted) */
  const uint8_t *header;    /* block_header_encode of its block */
  size_t header_len;
  const uint8_t *cert;      /* cert_encode of the block's commit certificate */
  size_t cert_len;
  const cx_hash *tx_path;   /* merkle_path over the block's txids */
  size_t tx_path_len;
  const cx_hash *receipt_path; /* merkle_path over receipt_leaf(txid_i, code_i) */
  size_t receipt_path_len;
} verify_tx;

/* The anchoring the node names for one input snapshot of the result
 * (anchor_get {domain, root}): the verifier matches it to the result's
 * inputs by (domain, root) and checks the transaction's bytes and proof,
 * never the node's word. */
typedef struct {
  char domain[CX_DOMAIN_MAX + 1];
  cx_hash root;
  int has_anchor;  /* 0: the node names none; why is its answer, NULL for not_found */
  const char *why;
  cx_hash txid;    /* the TX_VAULT_ANCHOR the node names */
  verify_tx tx;
} verify_anchor;

typedef struct {
  cx_hash call_id;   /* what the auditor asked about */
  verify_tx call;
  int has_result;    /* 0: no result id (pending call, or call_get failed: result.why) */
  cx_hash result_id; /* the id call_get names (checked against the bytes) */
  verify_tx result;
  verify_tx consent; /* the grant the call names */
  size_t nanchors;   /* the anchorings of the result's input snapshots */
  verify_anchor anchors[CX_DOMAINS_MAX];
  /* A FROST-mode result (docs/keys.md §6): the transactions of the
   * `results` key in chain order as the node lists them (key_get), each
   * with its proof. The verifier replays them to learn the group key. */
  size_t nkeytx;
  const cx_hash *keytx_ids;
  const verify_tx *keytx;
  /* The governance transactions (member_propose, member_approve with ok
   * receipts) committed up to the result's height, in chain order, as the
   * node lists them (member_history), each with its proof. None: the
   * genesis validators throughout. More than VERIFY_MAX_GOVTX: the
   * validators check fails on the count alone (the arrays are not read).
   * govtx_why: the node gave no list (its answer), reported by the
   * validators check; the genesis validators are then used throughout. */
  size_t ngovtx;
  const cx_hash *govtx_ids;
  const verify_tx *govtx;
  const char *govtx_why;
} verify_input;

/* The most governance transactions one verification replays; a longer
 * list fails the validators check (and every check after the set is
 * unknown). */
#define VERIFY_MAX_GOVTX 4096

#define VERIFY_MAX_CHECKS 16
#define VERIFY_DETAIL_MAX 1024 /* snapshot: a line per input domain */

typedef struct {
  const char *name; /* "call", "call block", ... (static) */
  int ok;
  char detail[VERIFY_DETAIL_MAX]; /* what was checked, or why it failed */
} verify_check;

typedef struct {
  size_t n;
  verify_check c[VERIFY_MAX_CHECKS];
  int all_ok;
  uint8_t status;  /* the result's CX_CALL_DONE / CX_CALL_ABORTED; 0 when unknown */
  int frost;       /* 1: one FROST signature by the results key verified (no per-party signers) */
  size_t nsigners; /* parties whose signature verified, by name (the validators at the call) */
  char signers[CX_MAX_VALIDATORS][CX_NAME_MAX + 1];
} verify_report;

/* The checks, in this order, each reported once:
 *   validators, call, result, call block, call inclusion, result block,
 *   result inclusion, mpc, consent, consent block, consent inclusion,
 *   snapshot.
 * validators: the governance replay of in->govtx (above). It fails on the
 * first transaction that does not check (naming it) or beyond
 * VERIFY_MAX_GOVTX; the sets are then known only up to the last one that
 * did, and a block or call after it fails its check ("the validators in
 * force there are not known").
 * block checks: the certificate against V(height): "certified by 4 of the
 * 5 validators in force at height 21 (quorum 4)" ("of the 4 genesis
 * validators" while the set is the genesis's).
 * mpc: quorum mode, 2t + 1 signatures over the statement by the call's
 * parties (the set at the call's place); FROST mode, the results key
 * replayed from in->keytx (docs/keys.md §6), its parties the set at its
 * creation, then its one signature over tx_result_frost_msg.
 * snapshot: every input commitment of a DONE result names a root its
 * domain's owner anchored: the anchoring transaction (in->anchors, matched
 * by domain and root) decodes, is signed for this chain by the genesis
 * member owning the domain, states the same record count, is certified
 * and included with an ok receipt, and is committed before the result. A
 * root without anchoring fails ("domain D root R... is not anchored on
 * chain"); an ABORTED result names no snapshot and passes.
 * A check whose inputs are missing (an earlier failure, a pending call)
 * fails with the reason. g must be a validated genesis. */
void verify_result(const vm_genesis *g, const verify_input *in, verify_report *out);

/* The block and inclusion checks of one transaction alone (the first two
 * fill *block and *incl; name them as you like): header canonical, of this
 * chain, certified by the genesis validators (this one does not follow
 * governance: a block after a validator-set change fails); txid in
 * tx_root; receipt ok in receipts_root. *height gets the header's height
 * (0 if none). */
void verify_tx_proof(const vm_genesis *g, const cx_hash *txid, const verify_tx *t, verify_check *block,
                     verify_check *incl, uint64_t *height);

/* A verify_tx read from the node's JSON, with the storage it points into. */
typedef struct {
  uint8_t *raw, *header, *cert; /* malloc'd */
  cx_hash tx_path[MERKLE_MAX_DEPTH], receipt_path[MERKLE_MAX_DEPTH];
  char why[256], proof_why[256];
} verify_tx_buf;

/* Fills *t from a tx_get result (its "raw") and a tx_proof result (docs/
 * rpc.md). Either may be NULL, and then t says so with why / proof_why
 * (NULL reasons: "the node gave no ..."). A malformed answer is recorded
 * the same way, naming the field: the checks then fail with it. Nothing is
 * trusted here; this is parsing only. Free b with verify_tx_buf_free. */
void verify_tx_from_json(const cJSON *tx_get, const char *tx_why, const cJSON *proof, const char *proof_why,
                         verify_tx_buf *b, verify_tx *t);
void verify_tx_buf_free(verify_tx_buf *b);

/* Looks a check up by name; NULL if absent. */
const verify_check *verify_find(const verify_report *r, const char *name);

#endif
