/* Consensus evidence: a validator reports another validator's equivocation,
 * two different signed consensus messages for one (height, round, type)
 * (consensus/bft.h, Tendermint's "duplicate vote" evidence). The chain
 * records each equivocation once, whichever pair of messages proved it and
 * whoever reported it first; later reports get evidence_exists. */
#include <string.h>

#include "vm_internal.h"

cx_err vmi_rule_evidence(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_evidence *ev = &c->tx->u.evidence;
  cx_member reporter, accused;
  vm_evidence rec;
  int have;
  cx_err err = CX_OK;
  /* Cheap checks first: state reads before the two signature checks. */
  VM_TRY(vmi_sender_member(c, &reporter, &have));
  if (!have || !reporter.validator) VM_REJECT(CX_E_NOT_VALIDATOR);
  /* The vm keeps no history of validator sets: the accused must be a
   * validator now, under the key it signed with. */
  VM_TRY(vmi_found(vm_member_by_key(c->st, &ev->accused, &accused), &have));
  if (!have || !accused.validator) VM_REJECT(CX_E_MEMBER_UNKNOWN);
  VM_TRY(vmi_found(
      vm_evidence_get(c->st, &ev->accused, ev->msg_type, ev->height, ev->round, &rec), &have));
  if (have) VM_REJECT(CX_E_EVIDENCE_EXISTS);
  /* Both messages signed by the accused for this chain (vm_apply_tx checked
   * tx.chain_id is the chain's). tx_decode made sure they differ. */
  for (size_t i = 0; i < 2; i++) {
    const cx_cs_signed *h = &ev->half[i];
    uint8_t digest[32];
    cs_msg_digest(&c->tx->chain_id, ev->msg_type, ev->height, ev->round, h->pol_round,
                  &h->block_hash, digest);
    if (!sig_verify(&ev->accused, digest, 32, &h->sig)) VM_REJECT(CX_E_BAD_SIG);
  }
  memset(&rec, 0, sizeof rec);
  strcpy(rec.accused_name, accused.name);
  rec.ev = *ev;
  strcpy(rec.reporter, reporter.name);
  rec.included_height = c->height;
  rec.txid = *c->txid;
  VM_TRY(vmi_evidence_put(c->st, &rec));
out:
  return err;
}
