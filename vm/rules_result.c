/* Call results: a party of a call reports how its MPC run ended, DONE with
 * the outputs or ABORTED with a code, under the signatures of a quorum of
 * the call's parties over the result statement (docs/calls.md §3, §4;
 * docs/transactions.md §4.7). The chain checks what it can see: that the
 * result has the shape of the contract's interface, and that 2t + 1 of the
 * parties recorded with the call signed it. The values themselves only the
 * parties can compute: an honest party signs only what its own session
 * opened, so a wrong result cannot gather the quorum. In FROST mode the
 * quorum's word is one signature by the consortium's `results` key
 * (docs/keys.md), which t = n - f parties must help make. */
#include <stdlib.h>
#include <string.h>

#include "frost.h"
#include "lang.h"
#include "vm_internal.h"

#define SEAL_BYTES 48 /* crypto_box_SEALBYTES: each blob is sealed to the insurer */

static int is_party(const vm_call *rec, const cx_pubkey *key) {
  for (uint32_t i = 0; i < rec->nparties; i++)
    if (memcmp(rec->parties[i].b, key->b, 32) == 0) return 1;
  return 0;
}

/* The interface of a recorded call's contract. It was callable when the
 * call was recorded and contracts are never deleted: an absent contract
 * means a damaged store. */
static cx_err load_iface(const vm_state *st, const cx_hash *id, vmi_iface **f) {
  cx_err err = vmi_contract_iface(st, id, f);
  return err == CX_E_NOT_FOUND ? CX_E_CORRUPT : err;
}

/* Inputs: one commitment per domain of the contract, in its sorted order. */
static int inputs_match(const vmi_iface *f, const cx_tx_call_result *r) {
  if (r->nin != f->domains.n) return 0;
  for (size_t i = 0; i < f->domains.n; i++)
    if (strcmp(r->in[i].domain, f->domains.d[i].name) != 0) return 0;
  return 1;
}

/* Outputs: the contract's flat output vector (output ports in port order,
 * len ? len : 1 elements each), each element flagged private exactly when
 * its port is, public values within the port's declared range. *npriv is
 * the number of private elements. */
static int outputs_match(const vmi_iface *f, const cx_tx_call_result *r, size_t *npriv) {
  size_t j = 0;
  *npriv = 0;
  for (size_t i = 0; i < f->nports; i++) {
    const vmi_port *p = &f->ports[i];
    if (p->kind != LANG_OUT_PUBLIC && p->kind != LANG_OUT_PRIVATE) continue;
    uint8_t priv = p->kind == LANG_OUT_PRIVATE;
    for (size_t e = 0; e < (p->len ? p->len : 1); e++, j++) {
      if (j >= r->nout || r->out[j].priv != priv) return 0;
      if (priv)
        ++*npriv;
      else if (r->out[j].value < p->lo || r->out[j].value > p->hi)
        return 0;
    }
  }
  return j == r->nout;
}

/* FROST (one signature per result) or FROST_BATCH (one per batch of
 * results, each with its path to the signed root): the same rules but the
 * message. */
static int is_frost(const cx_tx_call_result *r) {
  return r->proof == CX_RESULT_PROOF_FROST || r->proof == CX_RESULT_PROOF_FROST_BATCH;
}

/* The 2t + 1 of calls.md §4, t = floor((n - 1) / 3) of the call's n parties. */
static size_t quorum(const vm_call *rec) { return 2 * (size_t)((rec->nparties - 1) / 3) + 1; }

/* Rule result_mismatch. DONE: inputs and outputs against the contract,
 * and every blob the sealed shares of the private elements' masks (16 bytes
 * each) or empty when there is none; ABORTED: every blob empty. FROST mode
 * also: every blob's party one of the call's, and a DONE result with
 * private outputs carries 2t + 1 blobs (what the insurer needs to open its
 * masks: with QUORUM, the signature count said it). */
static cx_err check_shape(const vm_state *st, const vm_call *rec, const cx_tx_call_result *r, cx_err *rej) {
  vmi_iface *f = NULL;
  size_t npriv = 0;
  cx_err err = CX_OK;
  if (r->status == CX_CALL_DONE) {
    VM_TRY(load_iface(st, &rec->contract, &f));
    if (!inputs_match(f, r) || !outputs_match(f, r, &npriv)) VM_REJECT(CX_E_RESULT_MISMATCH);
  }
  size_t want = npriv ? npriv * 16 + SEAL_BYTES : 0;
  for (size_t i = 0; i < r->nsig; i++)
    if (r->sigs[i].blob_len != want) VM_REJECT(CX_E_RESULT_MISMATCH);
  if (is_frost(r)) {
    for (size_t i = 0; i < r->nsig; i++)
      if (r->sigs[i].party >= rec->nparties) VM_REJECT(CX_E_RESULT_MISMATCH);
    if (npriv && r->nsig < quorum(rec)) VM_REJECT(CX_E_RESULT_MISMATCH);
  }
out:
  free(f);
  return err;
}

/* QUORUM mode, rules bad_signature and no_quorum: every signature by a
 * party of the call over H_RESULT_SIG(statement || its blob), and at least
 * 2t + 1 of them,
 * t = floor((n - 1) / 3). Parties are strictly increasing (tx_decode), so
 * the signatures are from distinct parties. */
static cx_err check_sigs(const vmi_ctx *c, const vm_call *rec) {
  const cx_tx_call_result *r = &c->tx->u.result;
  cx_hash stmt, msg;
  tx_result_statement(&c->tx->chain_id, r, &rec->contract, &rec->consent, &rec->did, &stmt);
  for (size_t i = 0; i < r->nsig; i++) {
    const cx_result_sig *s = &r->sigs[i];
    if (s->party >= rec->nparties) return CX_E_BAD_SIG;
    tx_result_sig_msg(&stmt, s->blob, s->blob_len, &msg);
    if (!sig_verify(&rec->parties[s->party], msg.b, 32, &s->sig)) return CX_E_BAD_SIG;
  }
  if (r->nsig >= quorum(rec)) return CX_OK;
  /* Expiry: one party's word suffices once the call has waited long
   * enough; it only gives the consent's use back, it computes nothing. */
  if (r->status == CX_CALL_ABORTED && r->code == CX_E_EXPIRED && c->height > rec->height + VM_CALL_EXPIRY_BLOCKS)
    return CX_OK;
  return CX_E_NO_QUORUM;
}

/* FROST mode, first (key_not_ready): the `results` key READY, its parties
 * the call's, in the same order (party i of the call is FROST identifier
 * i + 1 of the key), and the result names its epoch. *k is loaded (caller
 * memory, cleared by the caller). */
static cx_err check_frost_key(const vm_state *st, const vm_call *rec, const cx_tx_call_result *r, vm_key *k,
                              cx_err *rej) {
  int have;
  cx_err err = CX_OK;
  VM_TRY(vmi_found(vm_key_get(st, "results", k), &have));
  if (!have || k->phase != VM_KEY_READY || k->n != rec->nparties || r->key_epoch != k->epoch ||
      memcmp(k->parties, rec->parties, rec->nparties * sizeof rec->parties[0]) != 0)
    VM_REJECT(CX_E_KEY_NOT_READY);
out:
  return err;
}

/* FROST mode, last (bad_signature): one signature by the `results` key
 * over statement || H_RESULT_BLOBS(the blobs) (tx_result_frost_msg), or in
 * FROST_BATCH over H_RESULT_BATCH of the root this result's leaf climbs to
 * by its path (tx_result_signed_msg); a path that does not fit its tree is
 * a bad signature too. */
static cx_err check_frost_sig(const vmi_ctx *c, const vm_call *rec, const vm_key *k) {
  const cx_tx_call_result *r = &c->tx->u.result;
  cx_hash stmt;
  uint8_t msg[64];
  tx_result_statement(&c->tx->chain_id, r, &rec->contract, &rec->consent, &rec->did, &stmt);
  size_t len = tx_result_signed_msg(&stmt, r, msg);
  if (!len) return CX_E_BAD_SIG;
  return vm_key_verify(k, msg, len, &r->frost);
}

cx_err vmi_rule_call_result(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_call_result *r = &c->tx->u.result;
  vm_call rec;
  vm_consent cs;
  vm_key *key = NULL; /* FROST mode: the `results` key */
  int have;
  cx_err err = CX_OK, v;

  /* Whether the sender is a party can only be told from the call's record:
   * an unknown call comes first. */
  VM_TRY(vmi_found(vm_call_get(c->st, &r->call, &rec), &have));
  if (!have) VM_REJECT(CX_E_CALL_UNKNOWN);
  if (!is_party(&rec, &c->tx->sender)) VM_REJECT(CX_E_NOT_VALIDATOR);
  if (rec.status != CALL_PENDING) VM_REJECT(CX_E_CALL_CLOSED);
  if (is_frost(r)) {
    if (!(key = malloc(sizeof *key))) {
      err = CX_E_NOMEM;
      goto out;
    }
    vm_key_init(key);
    VM_TRY(check_frost_key(c->st, &rec, r, key, rej));
    if (*rej) goto out;
  }
  VM_TRY(check_shape(c->st, &rec, r, rej));
  if (*rej) goto out;
  v = is_frost(r) ? check_frost_sig(c, &rec, key) : check_sigs(c, &rec);
  if (v) VM_REJECT(v);

  rec.status = r->status == CX_CALL_DONE ? CALL_DONE : CALL_ABORTED;
  rec.result = *c->txid;
  rec.result_height = c->height;
  VM_TRY(vmi_call_put(c->st, &rec));
  /* An aborted call gave the insurer nothing: the consent gets its use
   * back, so the call can be made again (calls.md §4). */
  if (rec.status == CALL_ABORTED) {
    err = vm_consent_get(c->st, &rec.consent, &cs);
    if (err == CX_E_NOT_FOUND) err = CX_E_CORRUPT; /* consents are never deleted */
    if (err) goto out;
    if (cs.uses > 0) {
      cs.uses--;
      VM_TRY(vmi_consent_put(c->st, &cs));
    }
  }
out:
  if (key) vm_key_clear(key);
  free(key);
  return err;
}
