/* vm_apply_tx: chain and nonce checks, then dispatch to a rule under a
 * savepoint. */
#include <string.h>

#include "vm_internal.h"

/* What the result rule relies on tx_decode for: a known status and proof,
 * and one signature (or FROST blob) per party (strictly increasing indexes),
 * so that counting them counts parties. */
static int result_decodable(const cx_tx_call_result *r) {
  if (r->status != CX_CALL_DONE && r->status != CX_CALL_ABORTED) return 0;
  if (r->proof > CX_RESULT_PROOF_FROST_BATCH) return 0; /* 0: built in memory, QUORUM */
  if (r->proof == CX_RESULT_PROOF_FROST_BATCH &&
      (r->batch_n < 2 || r->batch_n > CX_RESULT_BATCH_MAX || r->batch_idx >= r->batch_n ||
       r->batch_npath > CX_RESULT_BATCH_DEPTH))
    return 0;
  if (r->nsig > CX_MAX_VALIDATORS || (r->nsig && !r->sigs)) return 0;
  for (size_t i = 1; i < r->nsig; i++)
    if (r->sigs[i].party <= r->sigs[i - 1].party) return 0;
  return 1;
}

/* What the MPC evidence rule relies on tx_decode for: a known session kind
 * and type, 1..CX_MEV_MAX_MSGS messages each at least an engine header and
 * signature long (the rule reads the session id in it), aux within its cap. */
static int mev_decodable(const cx_tx_mpc_evidence *v) {
  if (v->session < CX_MPC_SESSION_PREP || v->session > CX_MPC_SESSION_ONLINE) return 0;
  if (v->ev_type < 1 || v->ev_type > CX_MEV_TYPE_MAX || v->culprit >= CX_MAX_VALIDATORS) return 0;
  if (v->count == 0 || v->count > CX_MEV_MAX_MSGS || !v->msg || !v->len) return 0;
  for (size_t i = 0; i < v->count; i++)
    if (!v->msg[i] || v->len[i] < CX_MEV_MSG_MIN || v->len[i] > CX_MEV_MSG_MAX) return 0;
  return v->aux_len <= CX_MEV_AUX_MAX && (v->aux || !v->aux_len);
}

/* What the key rules rely on tx_decode for: a terminated name, and in a
 * deal 1..CX_MAX_VALIDATORS slots with its round one, in a verdict at most
 * CX_MAX_VALIDATORS complaints of 1..CX_KEY_COMPLAINT_MAX bytes, in a vote
 * a known phase. Everything else is a rule's to refuse (docs/keys.md §3,
 * §10). */
static int key_decodable(const cx_tx *tx) {
  switch (tx->type) {
    case TX_KEY_CREATE:
      return memchr(tx->u.kcreate.name, 0, sizeof tx->u.kcreate.name) != NULL;
    case TX_KEY_RESHARE:
      return memchr(tx->u.kreshare.name, 0, sizeof tx->u.kreshare.name) != NULL;
    case TX_KEY_DEAL: {
      const cx_tx_key_deal *d = &tx->u.kdeal;
      return memchr(d->name, 0, sizeof d->name) && d->round1 && d->round1_len >= 1 &&
             d->round1_len <= CX_KEY_ROUND1_MAX && d->sealed && d->n >= 1 && d->n <= CX_MAX_VALIDATORS;
    }
    case TX_KEY_VERDICT: {
      const cx_tx_key_verdict *v = &tx->u.kverdict;
      if (!memchr(v->name, 0, sizeof v->name) || v->k > CX_MAX_VALIDATORS) return 0;
      for (uint32_t i = 0; i < v->k; i++)
        if (v->complaint_len[i] < 1 || v->complaint_len[i] > CX_KEY_COMPLAINT_MAX) return 0;
      return 1;
    }
    case TX_KEY_ANSWER:
      return memchr(tx->u.kanswer.name, 0, sizeof tx->u.kanswer.name) != NULL;
    case TX_KEY_ADVANCE:
      return memchr(tx->u.kadvance.name, 0, sizeof tx->u.kadvance.name) &&
             (tx->u.kadvance.phase == CX_KEY_PHASE_DEALING || tx->u.kadvance.phase == CX_KEY_PHASE_VERIFYING);
  }
  return 0;
}

/* What the sign_request rule relies on tx_decode for: a terminated key
 * name and a message of 1..CX_SIGN_MSG_MAX bytes (the record holds that
 * many). */
static int sign_decodable(const cx_tx *tx) {
  const cx_tx_sign_request *q = &tx->u.sreq;
  return memchr(q->key, 0, sizeof q->key) && q->msg && q->msg_len >= 1 && q->msg_len <= CX_SIGN_MSG_MAX;
}

static vmi_rule rule_for(const cx_tx *tx) {
  switch (tx->type) {
    case TX_MEMBER_PROPOSE:
      /* tx_encode would abort on an unknown action; refuse it the same way
       * as an unknown type rather than give it a receipt. */
      if (tx->u.propose.action < GOV_ADD || tx->u.propose.action > GOV_REKEY) return NULL;
      return vmi_rule_member_propose;
    case TX_MEMBER_APPROVE: return vmi_rule_member_approve;
    case TX_ID_REGISTER: return vmi_rule_id_register;
    case TX_ID_ATTEST: return vmi_rule_id_attest;
    case TX_ID_ROTATE: return vmi_rule_id_rotate;
    case TX_ID_REVOKE: return vmi_rule_id_revoke;
    case TX_CONSENT_GRANT: return vmi_rule_consent_grant;
    case TX_CONSENT_REVOKE: return vmi_rule_consent_revoke;
    case TX_CONTRACT_DEPLOY: return vmi_rule_contract_deploy;
    case TX_CONTRACT_APPROVE: return vmi_rule_contract_approve;
    case TX_CONTRACT_RETIRE: return vmi_rule_contract_retire;
    case TX_VAULT_ANCHOR: return vmi_rule_vault_anchor;
    case TX_EVIDENCE:
      /* Same halves, wrong order, bad type: tx_decode refuses these. */
      if (tx_evidence_check(&tx->u.evidence) != CX_OK) return NULL;
      return vmi_rule_evidence;
    case TX_MPC_EVIDENCE:
      return mev_decodable(&tx->u.mev) ? vmi_rule_mpc_evidence : NULL;
    case TX_CALL: return vmi_rule_call;
    case TX_CALL_RESULT:
      return result_decodable(&tx->u.result) ? vmi_rule_call_result : NULL;
    case TX_KEY_CREATE:
      return key_decodable(tx) ? vmi_rule_key_create : NULL;
    case TX_KEY_DEAL:
    case TX_KEY_VERDICT:
    case TX_KEY_ANSWER:
    case TX_KEY_ADVANCE:
    case TX_KEY_RESHARE: /* rules_keys.c dispatches it (docs/keys.md §10) */
      return key_decodable(tx) ? vmi_rule_key_tx : NULL;
    case TX_SIGN_REQUEST:
      return sign_decodable(tx) ? vmi_rule_sign_request : NULL;
    case TX_SIGN_APPROVE: return vmi_rule_sign_approve;
    case TX_SIGN_RESULT: return vmi_rule_sign_result;
  }
  return NULL;
}

/* The rule under a savepoint: a rejection undoes its writes (the caller
 * has done the nonce, or skips it: vm_apply_governance). */
static cx_err run_rule(const vm_state *st, vmi_rule rule, const cx_tx *tx, const cx_hash *txid, uint64_t height,
                       cx_err *receipt) {
  size_t mark = st->mark(st->ctx);
  vmi_ctx c = {.st = st, .tx = tx, .txid = txid, .height = height};
  cx_err rej = CX_OK;
  cx_err err = rule(&c, &rej);
  if (err) {
    /* A storage failure is not a verdict on the transaction: the caller
     * drops the whole write set. Undo what we can anyway. */
    st->rollback(st->ctx, mark);
    return err;
  }
  if (rej) st->rollback(st->ctx, mark);
  *receipt = rej;
  return CX_OK;
}

cx_err vm_apply_tx(const vm_state *st, const cx_hash *chain_id, const cx_tx *tx,
                   const cx_hash *txid, uint64_t height, cx_err *receipt) {
  CX_ASSERT(st && st->get && st->put && st->del && st->mark && st->rollback);
  CX_ASSERT(chain_id && tx && txid && receipt && height >= 1);
  *receipt = CX_OK;
  vmi_rule rule = rule_for(tx);
  if (!rule) return CX_E_INVALID_ARG; /* tx_decode never yields such a tx */
  if (!hash_eq(&tx->chain_id, chain_id)) return CX_E_WRONG_CHAIN;

  uint64_t expected;
  cx_err err = vm_account_nonce(st, &tx->sender, &expected);
  if (err) return err;
  /* An account at UINT64_MAX has used every nonce there is. */
  if (tx->nonce < expected || expected == UINT64_MAX) return CX_E_NONCE_USED;
  if (tx->nonce > expected) return CX_E_NONCE_GAP;
  err = vmi_nonce_put(st, &tx->sender, expected + 1);
  if (err) return err;

  /* The savepoint comes after the nonce: a rejected transaction still
   * consumes its nonce (it is in the block), but nothing else. */
  return run_rule(st, rule, tx, txid, height, receipt);
}

cx_err vm_apply_governance(const vm_state *st, const cx_hash *chain_id, const cx_tx *tx,
                           const cx_hash *txid, uint64_t height, cx_err *receipt) {
  CX_ASSERT(st && st->get && st->put && st->del && st->mark && st->rollback);
  CX_ASSERT(chain_id && tx && txid && receipt && height >= 1);
  *receipt = CX_OK;
  if (tx->type != TX_MEMBER_PROPOSE && tx->type != TX_MEMBER_APPROVE) return CX_E_INVALID_ARG;
  vmi_rule rule = rule_for(tx);
  if (!rule) return CX_E_INVALID_ARG; /* an unknown action */
  if (!hash_eq(&tx->chain_id, chain_id)) return CX_E_WRONG_CHAIN;
  /* No nonce: the replayer does not see the sender's other transactions,
   * and the block the transaction is proven in already placed it. */
  return run_rule(st, rule, tx, txid, height, receipt);
}
