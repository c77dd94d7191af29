/* MPC evidence: a party of a call reports a cheater its MPC engine named
 * during the call's sessions, with the engine's transferable evidence
 * (docs/calls.md §5; docs/transactions.md §3.15, §4.6). The chain checks
 * the evidence with the public keys recorded with the call
 * (mpc_evidence_verify: the culprit's own signed messages) and that every
 * message belongs to one of this call's sessions, so evidence from another
 * call, another chain or the background pool cannot be replayed against
 * it. Each (call, culprit) is recorded once, whoever reported it first;
 * later reports get evidence_exists. Recording has no other effect (no
 * removal, no penalty), as for consensus evidence. */
#include <stdlib.h>
#include <string.h>

#include "mpc.h"
#include "vm_internal.h"

/* mpc/wire.h (an mpc internal): version u8 | kind u8 | session[32] first,
 * prep sessions sign kind 1, online programs (bits and online) kind 2. */
#define WIRE_KIND_AT 1
#define WIRE_SESSION_AT 2
#define WIRE_KIND_PREP 1
#define WIRE_KIND_ONLINE 2

/* ---- records ---- */

#define MEV_ID_LEN 33 /* call[32] | u8 culprit */

static void mev_key(vmi_key *k, const cx_hash *call, uint8_t culprit) {
  uint8_t id[MEV_ID_LEN];
  memcpy(id, call->b, 32);
  id[32] = culprit;
  vmi_key_make(k, VMK_MPC_EVIDENCE, id, sizeof id);
}

static void mev_seq_key(vmi_key *k, uint64_t seq) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(seq >> (56 - 8 * i));
  vmi_key_make(k, VMK_MPC_EVIDENCE_SEQ, b, 8);
}


static cx_err mev_count(const vm_state *st, uint64_t *n) {
  vmi_key k;
  uint8_t *v;
  cx_dec d;
  *n = 0;
  vmi_key_make(&k, VMK_MPC_EVIDENCE_COUNT, NULL, 0);
  cx_err err = vmi_rec_get(st, &k, &v, &d);
  if (err == CX_E_NOT_FOUND) return CX_OK;
  if (err) return err;
  if (!d.err) dec_varint(&d, n);
  err = vmi_rec_end(&d);
  free(v);
  return err;
}

/* Record: u8 session | u8 type | reporter[32] | varint height | txid[32];
 * the list: "mevn" counts, "mevs/" + u64be seq names each in turn. */
static cx_err mev_put(const vm_state *st, const vm_mpc_evidence *r) {
  vmi_key k;
  cx_enc e;
  uint64_t n;
  cx_err err;
  mev_key(&k, &r->call, r->culprit);
  enc_init(&e);
  enc_u8(&e, VM_REC_VERSION);
  enc_u8(&e, r->session);
  enc_u8(&e, r->ev_type);
  enc_fixed(&e, r->reporter.b, 32);
  enc_varint(&e, r->height);
  enc_fixed(&e, r->txid.b, 32);
  if ((err = vmi_rec_put(st, &k, &e))) return err;
  if ((err = mev_count(st, &n))) return err;
  mev_seq_key(&k, n);
  enc_init(&e);
  enc_u8(&e, VM_REC_VERSION);
  enc_fixed(&e, r->call.b, 32);
  enc_u8(&e, r->culprit);
  if ((err = vmi_rec_put(st, &k, &e))) return err;
  vmi_key_make(&k, VMK_MPC_EVIDENCE_COUNT, NULL, 0);
  enc_init(&e);
  enc_u8(&e, VM_REC_VERSION);
  enc_varint(&e, n + 1);
  return vmi_rec_put(st, &k, &e);
}

cx_err vm_mpc_evidence_get(const vm_state *st, const cx_hash *call, uint8_t culprit, vm_mpc_evidence *out) {
  vmi_key k;
  uint8_t *v;
  cx_dec d;
  mev_key(&k, call, culprit);
  cx_err err = vmi_rec_get(st, &k, &v, &d);
  if (err) return err;
  memset(out, 0, sizeof *out);
  out->call = *call;
  out->culprit = culprit;
  /* A record only the rule writes: a known session and type, and the
   * height of a block. */
  if (!d.err && !dec_enum(&d, &out->session, CX_MPC_SESSION_PREP, CX_MPC_SESSION_ONLINE) &&
      !dec_enum(&d, &out->ev_type, 1, CX_MEV_TYPE_MAX) && !dec_fixed(&d, out->reporter.b, 32) &&
      !dec_varint(&d, &out->height) && !dec_fixed(&d, out->txid.b, 32) && out->height == 0)
    dec_fail(&d, CX_E_NONCANONICAL);
  err = vmi_rec_end(&d);
  free(v);
  return err;
}

cx_err vm_mpc_evidence_at(const vm_state *st, uint64_t index, vm_mpc_evidence *out) {
  uint64_t n;
  vmi_key k;
  uint8_t *v;
  cx_dec d;
  cx_hash call;
  uint8_t culprit = 0;
  cx_err err = mev_count(st, &n);
  if (err) return err;
  if (index >= n) return CX_E_NOT_FOUND;
  mev_seq_key(&k, index);
  err = vmi_rec_get(st, &k, &v, &d);
  if (err == CX_E_NOT_FOUND) return CX_E_CORRUPT; /* counted but absent */
  if (err) return err;
  if (!d.err && !dec_fixed(&d, call.b, 32)) dec_u8(&d, &culprit);
  err = vmi_rec_end(&d);
  free(v);
  if (err) return err;
  err = vm_mpc_evidence_get(st, &call, culprit, out);
  return err == CX_E_NOT_FOUND ? CX_E_CORRUPT : err; /* listed but absent */
}

/* ---- the rule ---- */

static int party_index(const vm_call *rec, const cx_pubkey *key) {
  for (uint32_t i = 0; i < rec->nparties; i++)
    if (memcmp(rec->parties[i].b, key->b, 32) == 0) return (int)i;
  return -1;
}

/* Every message names this call's session of the declared kind: the id
 * the parties ran it under (tx_call_session_id, docs/calls.md §2) and the
 * wire kind that session signs. tx_decode made each message at least
 * CX_MEV_MSG_MIN bytes long. */
static int of_session(const cx_hash *chain_id, const cx_tx_mpc_evidence *v) {
  uint8_t sid[32];
  uint8_t kind = v->session == CX_MPC_SESSION_PREP ? WIRE_KIND_PREP : WIRE_KIND_ONLINE;
  tx_call_session_id(chain_id, &v->call, v->session, sid);
  for (size_t i = 0; i < v->count; i++)
    if (v->msg[i][WIRE_KIND_AT] != kind || memcmp(v->msg[i] + WIRE_SESSION_AT, sid, 32) != 0) return 0;
  return 1;
}

cx_err vmi_rule_mpc_evidence(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_mpc_evidence *v = &c->tx->u.mev;
  vm_call rec;
  vm_mpc_evidence r;
  int have;
  cx_err err = CX_OK;
  /* Whether the sender is a party can only be told from the call's record:
   * an unknown call comes first. Cheap checks before the signatures. */
  VM_TRY(vmi_found(vm_call_get(c->st, &v->call, &rec), &have));
  if (!have) VM_REJECT(CX_E_CALL_UNKNOWN);
  if (party_index(&rec, &c->tx->sender) < 0) VM_REJECT(CX_E_NOT_VALIDATOR);
  if (v->culprit >= rec.nparties) VM_REJECT(CX_E_BAD_EVIDENCE);
  VM_TRY(vmi_found(vm_mpc_evidence_get(c->st, &v->call, v->culprit, &r), &have));
  if (have) VM_REJECT(CX_E_EVIDENCE_EXISTS);
  if (!of_session(&c->tx->chain_id, v)) VM_REJECT(CX_E_MPC_SESSION);
  /* The parties recorded with the call, in party order; t as the parties
   * ran it (docs/calls.md §4). The messages are the transaction's. */
  mpc_evidence ev = {.type = (mpc_ev_type)v->ev_type,
                     .culprit = v->culprit,
                     .item = v->item,
                     .count = v->count,
                     .msg = v->msg,
                     .len = v->len,
                     .aux = v->aux,
                     .aux_len = v->aux_len};
  cx_err verdict = mpc_evidence_verify(rec.nparties, (rec.nparties - 1) / 3, rec.parties, &ev);
  if (verdict == CX_E_NOMEM) VM_TRY(CX_E_NOMEM); /* not a verdict: the caller drops the block's work */
  if (verdict) VM_REJECT(CX_E_BAD_EVIDENCE);
  memset(&r, 0, sizeof r);
  r.call = v->call;
  r.culprit = v->culprit;
  r.session = v->session;
  r.ev_type = v->ev_type;
  r.reporter = c->tx->sender;
  r.height = c->height;
  r.txid = *c->txid;
  VM_TRY(mev_put(c->st, &r));
out:
  return err;
}
