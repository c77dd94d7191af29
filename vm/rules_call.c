/* Contract calls: an insurer calls its own approved contract for a subject
 * under a live consent, with public args and its secret params dealt to the
 * validators (docs/transactions.md §3.12, §4). The chain checks everything it
 * can see: who calls, the contract, the consent, the args against their
 * declared ranges and the dealing's shape. Whether the sealed shares are
 * consistent only the parties can tell, when the call runs (mpc/client.h).
 * The call is recorded as PENDING, with its parties (the validators in
 * force), and the consent's use is counted. */
#include <stdlib.h>
#include <string.h>

#include "lang.h"
#include "vm_internal.h"

/* ---- record: u8 version | contract | did | consent | insurer | varint
 * height | u8 status | varint nparties | nparties x key[32] | result[32] |
 * varint result_height ---- */

cx_err vmi_call_put(const vm_state *st, const vm_call *r) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_CALL, r->id.b, 32);
  enc_init(&e);
  enc_u8(&e, VM_REC_VERSION);
  enc_fixed(&e, r->contract.b, 32);
  enc_fixed(&e, r->did.b, 32);
  enc_fixed(&e, r->consent.b, 32);
  enc_str(&e, r->insurer);
  enc_varint(&e, r->height);
  enc_u8(&e, r->status);
  enc_varint(&e, r->nparties);
  for (uint32_t i = 0; i < r->nparties; i++) enc_fixed(&e, r->parties[i].b, 32);
  enc_fixed(&e, r->result.b, 32);
  enc_varint(&e, r->result_height);
  cx_err err = enc_finish(&e);
  if (!err) err = st->put(st->ctx, k.b, k.n, e.buf, e.len);
  enc_free(&e);
  return err;
}

/* The parties and the result. A call always has parties (a chain has a
 * validator), and the result fields say nothing while the call is PENDING
 * (zero) and name a block once it is closed. */
static int call_tail_dec(cx_dec *d, vm_call *r) {
  uint64_t n;
  if (dec_varint_max(d, &n, CX_MAX_VALIDATORS)) return -1;
  if (n == 0) return dec_fail(d, CX_E_NONCANONICAL);
  r->nparties = (uint32_t)n;
  for (uint32_t i = 0; i < r->nparties; i++)
    if (dec_fixed(d, r->parties[i].b, 32)) return -1;
  if (dec_fixed(d, r->result.b, 32) || dec_varint(d, &r->result_height)) return -1;
  int pending = r->status == CALL_PENDING;
  if (pending != (hash_is_zero(&r->result) && r->result_height == 0) ||
      (!pending && r->result_height < r->height))
    return dec_fail(d, CX_E_NONCANONICAL);
  return 0;
}

cx_err vm_call_get(const vm_state *st, const cx_hash *txid, vm_call *out) {
  vmi_key k;
  uint8_t *v = NULL;
  size_t vl = 0;
  uint8_t ver;
  cx_dec d;
  vmi_key_make(&k, VMK_CALL, txid->b, 32);
  cx_err err = st->get(st->ctx, k.b, k.n, &v, &vl);
  if (err) return err;
  memset(out, 0, sizeof *out);
  out->id = *txid;
  dec_init(&d, v, vl);
  if (!dec_u8(&d, &ver) && ver != VM_REC_VERSION) dec_fail(&d, CX_E_BAD_VERSION);
  if (!d.err)
    (void)(dec_fixed(&d, out->contract.b, 32) || dec_fixed(&d, out->did.b, 32) ||
           dec_fixed(&d, out->consent.b, 32) || dec_str(&d, out->insurer, CX_NAME_MAX, STR_IDENT) ||
           dec_varint(&d, &out->height) || dec_enum(&d, &out->status, CALL_PENDING, CALL_ABORTED) ||
           call_tail_dec(&d, out));
  err = dec_finish(&d) == CX_OK ? CX_OK : CX_E_CORRUPT;
  free(v);
  return err;
}

/* ---- the rule ---- */

/* Rejections of vm_contract_callable / vm_consent_live; anything else they
 * return is a storage error. */
static int is_verdict(cx_err e) {
  switch (e) {
    case CX_E_CONTRACT_UNKNOWN:
    case CX_E_CONTRACT_RETIRED:
    case CX_E_CONTRACT_UNAPPROVED:
    case CX_E_CONSENT_UNKNOWN:
    case CX_E_CONSENT_REVOKED:
    case CX_E_DID_REVOKED:
    case CX_E_EXPIRED:
    case CX_E_FULL:
      return 1;
    default:
      return 0;
  }
}

/* Args against the contract's arg ports (the flat vector is the arg ports'
 * elements in port order), and the number of param elements the dealing
 * must carry. */
static cx_err check_ports(const vm_state *st, const cx_tx_call *call, size_t *nparams, cx_err *rej) {
  vmi_iface *f = NULL;
  size_t ai = 0;
  cx_err err = CX_OK;
  *nparams = 0;
  VM_TRY(vmi_contract_iface(st, &call->contract, &f));
  for (size_t i = 0; i < f->nports; i++) {
    const vmi_port *p = &f->ports[i];
    size_t n = p->len ? p->len : 1;
    if (p->kind == LANG_PARAM) *nparams += n;
    if (p->kind != LANG_ARG) continue;
    if (call->nargs - ai < n) VM_REJECT(CX_E_LANG_INPUT);
    for (size_t j = 0; j < n; j++, ai++)
      if (call->args[ai] < p->lo || call->args[ai] > p->hi) VM_REJECT(CX_E_LANG_INPUT);
  }
  if (ai != call->nargs) VM_REJECT(CX_E_LANG_INPUT);
out:
  free(f);
  return err;
}

cx_err vmi_rule_call(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_call *call = &c->tx->u.call;
  cx_member m;
  vm_contract k;
  vm_consent cs;
  cx_member *vals = NULL;
  size_t nparams, nval;
  int have;
  cx_err err = CX_OK, v;

  VM_TRY(vmi_sender_member(c, &m, &have));
  if (!have) VM_REJECT(CX_E_NOT_MEMBER);
  if (m.role != ROLE_INSURER) VM_REJECT(CX_E_WRONG_ROLE);

  v = vm_contract_callable(c->st, &call->contract);
  if (is_verdict(v)) VM_REJECT(v);
  VM_TRY(v);
  VM_TRY(vmi_contract_meta_get(c->st, &call->contract, &k));
  if (strcmp(k.deployer, m.name) != 0) VM_REJECT(CX_E_NOT_DEPLOYER);

  VM_TRY(vmi_found(vm_consent_get(c->st, &call->consent, &cs), &have));
  if (!have) VM_REJECT(CX_E_CONSENT_UNKNOWN);
  if (strcmp(cs.insurer, m.name) != 0 || !hash_eq(&cs.contract, &call->contract) ||
      !hash_eq(&cs.did, &call->did))
    VM_REJECT(CX_E_CONSENT_MISMATCH);
  /* The contract reads every one of its domains on each call, so the
   * consent must cover all of them, not just some. */
  for (size_t i = 0; i < k.domains.n; i++)
    if (!domain_set_has(&cs.domains, k.domains.d[i].name)) VM_REJECT(CX_E_SCOPE);

  v = vm_consent_live(c->st, &call->consent, c->height);
  if (is_verdict(v)) VM_REJECT(v);
  VM_TRY(v);

  VM_TRY(check_ports(c->st, call, &nparams, rej));
  if (*rej) goto out;

  /* The dealing: one sealed blob per validator of this height, of the
   * contract's param count; a contract without params has no dealing. */
  vals = malloc(CX_MAX_VALIDATORS * sizeof *vals);
  if (!vals) {
    err = CX_E_NOMEM;
    goto out;
  }
  VM_TRY(vm_validators(c->st, vals, CX_MAX_VALIDATORS, &nval));
  if (call->count != nparams) VM_REJECT(CX_E_BAD_DEALING);
  if (nparams && (call->nparties != nval || call->blob_len != tx_call_blob_len(nparams)))
    VM_REJECT(CX_E_BAD_DEALING);
  if (!nparams && call->nparties) VM_REJECT(CX_E_BAD_DEALING);

  cs.uses++;
  VM_TRY(vmi_consent_put(c->st, &cs));
  vm_call rec;
  memset(&rec, 0, sizeof rec);
  rec.id = *c->txid;
  rec.contract = call->contract;
  rec.did = call->did;
  rec.consent = call->consent;
  strcpy(rec.insurer, m.name);
  rec.height = c->height;
  rec.status = CALL_PENDING;
  /* The parties are kept with the call, so its result is checked against
   * them even if membership changes before it arrives (calls.md §1). */
  rec.nparties = (uint32_t)nval;
  for (size_t i = 0; i < nval; i++) rec.parties[i] = vals[i].key;
  VM_TRY(vmi_call_put(c->st, &rec));
out:
  free(vals);
  return err;
}
