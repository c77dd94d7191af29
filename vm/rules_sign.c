/* Custody signing (docs/keys.md §9; transactions 65..67, docs/transactions.md
 * §3.17, §4.10): a member asks a custody key to sign a message
 * (sign_request), members approve it (sign_approve) until the key's policy,
 * k distinct members, is met, and a party of the key puts the FROST
 * signature its parties made on chain (sign_result), which the rule checks
 * against the key's group key. The parties sign only what this state shows
 * APPROVED, with the message from this state: the chain is the policy.
 *
 * Records: "sr/" + txid -> the request; "srp" -> the ids APPROVED and not
 * SIGNED, in approval order (what the signers follow, vm_sign_pending);
 * "srn" counts the requests and "srs/" + u64be seq names each in turn (for
 * listing: the vm never iterates the state). */
#include <stdlib.h>
#include <string.h>

#include "frost.h"
#include "vm_internal.h"

/* ---- records ---- */


static void req_key(vmi_key *k, const cx_hash *id) { vmi_key_make(k, VMK_SIGN_REQ, id->b, 32); }

/* u8 version | str key | varint epoch | bytes msg (1..1024) | str requester |
 * u8 k (1..64) | u8 status (1..3) | varint n (1..64) | n x str approvals
 * (ascending) | varint height | varint approved_height | varint signed_height |
 * SIGNED: sig[64]. */
static cx_err req_put(const vm_state *st, const vm_sign_request *r) {
  vmi_key k;
  cx_enc e;
  req_key(&k, &r->id);
  enc_init(&e);
  enc_u8(&e, VM_REC_VERSION);
  enc_str(&e, r->key);
  enc_varint(&e, r->epoch);
  enc_bytes(&e, r->msg, r->msg_len);
  enc_str(&e, r->requester);
  enc_u8(&e, r->k);
  enc_u8(&e, r->status);
  enc_varint(&e, r->napprovals);
  for (size_t i = 0; i < r->napprovals; i++) enc_str(&e, r->approvals[i]);
  enc_varint(&e, r->height);
  enc_varint(&e, r->approved_height);
  enc_varint(&e, r->signed_height);
  if (r->status == SIGN_SIGNED) enc_fixed(&e, r->sig.b, 64);
  return vmi_rec_put(st, &k, &e);
}

/* What the rules keep true of a request: the requester's approval among
 * the approvals, PENDING exactly while fewer than k, the heights in order
 * and set exactly for the states that have them. */
static int req_consistent(const vm_sign_request *r) {
  if (r->napprovals < 1 || r->k < 1 || r->height == 0) return 0;
  if (vmi_name_index((char(*)[CX_NAME_MAX + 1])r->approvals, r->napprovals, r->requester) < 0) return 0;
  if ((r->status == SIGN_PENDING) != (r->napprovals < r->k)) return 0;
  if (r->status == SIGN_PENDING) return r->approved_height == 0 && r->signed_height == 0;
  if (r->approved_height < r->height) return 0;
  if (r->status == SIGN_APPROVED) return r->signed_height == 0;
  return r->signed_height >= r->approved_height;
}

static int req_dec(cx_dec *d, vm_sign_request *r) {
  uint64_t ep, n;
  const uint8_t *b;
  size_t bl;
  if (dec_str(d, r->key, CX_KEY_NAME_MAX, STR_IDENT) || dec_varint_max(d, &ep, UINT32_MAX) ||
      dec_bytes(d, &b, &bl, CX_SIGN_MSG_MAX))
    return -1;
  if (bl == 0) return dec_fail(d, CX_E_TRUNCATED);
  r->epoch = (uint32_t)ep;
  memcpy(r->msg, b, bl);
  r->msg_len = bl;
  if (dec_str(d, r->requester, CX_NAME_MAX, STR_IDENT) || dec_u8(d, &r->k) ||
      dec_enum(d, &r->status, SIGN_PENDING, SIGN_SIGNED) || dec_varint_max(d, &n, VM_KEY_K_MAX))
    return -1;
  r->napprovals = (size_t)n;
  for (size_t i = 0; i < r->napprovals; i++) {
    if (dec_str(d, r->approvals[i], CX_NAME_MAX, STR_IDENT)) return -1;
    if (i > 0 && strcmp(r->approvals[i - 1], r->approvals[i]) >= 0) return dec_fail(d, CX_E_UNSORTED);
  }
  if (dec_varint(d, &r->height) || dec_varint(d, &r->approved_height) || dec_varint(d, &r->signed_height))
    return -1;
  if (r->status == SIGN_SIGNED && dec_fixed(d, r->sig.b, 64)) return -1;
  if (r->k > VM_KEY_K_MAX || !req_consistent(r)) return dec_fail(d, CX_E_NONCANONICAL);
  return 0;
}

cx_err vm_sign_request_get(const vm_state *st, const cx_hash *id, vm_sign_request *out) {
  vmi_key k;
  uint8_t *v;
  cx_dec d;
  req_key(&k, id);
  cx_err err = vmi_rec_get(st, &k, &v, &d);
  if (err) return err;
  memset(out, 0, sizeof *out);
  out->id = *id;
  if (!d.err) req_dec(&d, out);
  err = vmi_rec_end(&d);
  free(v);
  return err;
}

/* ---- the list of all requests: "srn" count, "srs/" + u64be seq ---- */

static void seq_key(vmi_key *k, uint64_t seq) {
  uint8_t b[8];
  put_be64(b, seq);
  vmi_key_make(k, VMK_SIGN_SEQ, b, 8);
}

cx_err vm_sign_request_count(const vm_state *st, uint64_t *n) {
  vmi_key k;
  uint8_t *v;
  cx_dec d;
  *n = 0;
  vmi_key_make(&k, VMK_SIGN_COUNT, NULL, 0);
  cx_err err = vmi_rec_get(st, &k, &v, &d);
  if (err == CX_E_NOT_FOUND) return CX_OK;
  if (err) return err;
  if (!d.err) dec_varint(&d, n);
  err = vmi_rec_end(&d);
  free(v);
  if (err) *n = 0;
  return err;
}

cx_err vm_sign_request_at(const vm_state *st, uint64_t index, cx_hash *id) {
  vmi_key k;
  uint8_t *v;
  cx_dec d;
  uint64_t n;
  cx_err err = vm_sign_request_count(st, &n);
  if (err) return err;
  if (index >= n) return CX_E_NOT_FOUND;
  seq_key(&k, index);
  err = vmi_rec_get(st, &k, &v, &d);
  if (err == CX_E_NOT_FOUND) return CX_E_CORRUPT; /* counted but absent */
  if (err) return err;
  if (!d.err) dec_fixed(&d, id->b, 32);
  err = vmi_rec_end(&d);
  free(v);
  return err;
}

static cx_err seq_append(const vm_state *st, const cx_hash *id) {
  vmi_key k;
  cx_enc e;
  uint64_t n;
  cx_err err = vm_sign_request_count(st, &n);
  if (err) return err;
  seq_key(&k, n);
  enc_init(&e);
  enc_u8(&e, VM_REC_VERSION);
  enc_fixed(&e, id->b, 32);
  if ((err = vmi_rec_put(st, &k, &e))) return err;
  vmi_key_make(&k, VMK_SIGN_COUNT, NULL, 0);
  enc_init(&e);
  enc_u8(&e, VM_REC_VERSION);
  enc_varint(&e, n + 1);
  return vmi_rec_put(st, &k, &e);
}

/* ---- the pending list: u8 version | varint n | n x id[32] ---- */

typedef struct {
  cx_hash *ids; /* malloc'd, room for n + 1 */
  size_t n;
} id_list;

static cx_err pending_load(const vm_state *st, id_list *l) {
  vmi_key k;
  uint8_t *v;
  cx_dec d;
  uint64_t n = 0;
  memset(l, 0, sizeof *l);
  vmi_key_make(&k, VMK_SIGN_PENDING, NULL, 0);
  cx_err err = vmi_rec_get(st, &k, &v, &d);
  if (err == CX_E_NOT_FOUND) { /* none pending */
    l->ids = malloc(sizeof *l->ids);
    return l->ids ? CX_OK : CX_E_NOMEM;
  }
  if (err) return err;
  /* a count the record cannot hold is damage, found before allocating */
  if (!d.err && !dec_varint(&d, &n) && n > (d.len - d.off) / 32) dec_fail(&d, CX_E_TRUNCATED);
  if (!d.err && !(l->ids = malloc(((size_t)n + 1) * sizeof *l->ids))) {
    free(v);
    return CX_E_NOMEM;
  }
  if (!d.err && n == 0) dec_fail(&d, CX_E_NONCANONICAL); /* an empty list is stored as none */
  for (size_t i = 0; i < n && !d.err; i++) dec_fixed(&d, l->ids[i].b, 32);
  l->n = (size_t)n;
  err = vmi_rec_end(&d);
  free(v);
  if (err) {
    free(l->ids);
    memset(l, 0, sizeof *l);
  }
  return err;
}

static cx_err pending_store(const vm_state *st, id_list *l) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_SIGN_PENDING, NULL, 0);
  if (l->n == 0) { /* an empty list is no record */
    free(l->ids);
    return st->del(st->ctx, k.b, k.n);
  }
  enc_init(&e);
  enc_u8(&e, VM_REC_VERSION);
  enc_varint(&e, l->n);
  for (size_t i = 0; i < l->n; i++) enc_fixed(&e, l->ids[i].b, 32);
  free(l->ids);
  return vmi_rec_put(st, &k, &e);
}

static cx_err pending_add(const vm_state *st, const cx_hash *id) {
  id_list l;
  cx_err err = pending_load(st, &l);
  if (err) return err;
  l.ids[l.n++] = *id;
  return pending_store(st, &l);
}

static cx_err pending_remove(const vm_state *st, const cx_hash *id) {
  id_list l;
  size_t j = 0;
  cx_err err = pending_load(st, &l);
  if (err) return err;
  for (size_t i = 0; i < l.n; i++)
    if (!hash_eq(&l.ids[i], id)) l.ids[j++] = l.ids[i];
  if (j + 1 != l.n) { /* an APPROVED request is listed exactly once */
    free(l.ids);
    return CX_E_CORRUPT;
  }
  l.n = j;
  return pending_store(st, &l);
}

cx_err vm_sign_pending(const vm_state *st, cx_hash *ids, size_t cap, size_t *n) {
  id_list l;
  cx_err err = pending_load(st, &l);
  if (err) return err;
  for (size_t i = 0; i < l.n && i < cap; i++) ids[i] = l.ids[i];
  *n = l.n;
  free(l.ids);
  return l.n > cap ? CX_E_FULL : CX_OK;
}

/* ---- the rules ---- */

/* The custody key a request names, which must exist (a request is only
 * recorded for one): CX_E_CORRUPT otherwise. */
static cx_err req_key_load(const vm_state *st, const vm_sign_request *r, vm_key *k) {
  cx_err err = vm_key_get(st, r->key, k);
  return err == CX_E_NOT_FOUND ? CX_E_CORRUPT : err;
}

/* A request can still be approved and signed only under the key it was
 * made for: the same epoch, READY (a key re-created at a new epoch has
 * other parties and another group key). */
static int key_still(const vm_key *k, const vm_sign_request *r) {
  return k->epoch == r->epoch && k->phase == VM_KEY_READY;
}

/* sign_request: not_member; key_unknown; bad_key_params (not a custody
 * key); key_not_ready. The message length is the decoder's (too_long). */
cx_err vmi_rule_sign_request(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_sign_request *q = &c->tx->u.sreq;
  vm_key *k = malloc(sizeof *k);
  vm_sign_request *r = malloc(sizeof *r);
  cx_member m;
  int have;
  cx_err err = CX_OK;
  if (k) vm_key_init(k);
  if (!k || !r) {
    err = CX_E_NOMEM;
    goto out;
  }
  VM_TRY(vmi_sender_member(c, &m, &have));
  if (!have) VM_REJECT(CX_E_NOT_MEMBER);
  VM_TRY(vmi_found(vm_key_get(c->st, q->key, k), &have));
  if (!have) VM_REJECT(CX_E_KEY_UNKNOWN);
  if (k->purpose != CX_KEY_PURPOSE_CUSTODY) VM_REJECT(CX_E_BAD_KEY_PARAMS);
  if (k->phase != VM_KEY_READY) VM_REJECT(CX_E_KEY_NOT_READY);

  memset(r, 0, sizeof *r);
  r->id = *c->txid;
  strcpy(r->key, k->name);
  r->epoch = k->epoch;
  memcpy(r->msg, q->msg, q->msg_len);
  r->msg_len = q->msg_len;
  strcpy(r->requester, m.name);
  strcpy(r->approvals[0], m.name); /* the requester's approval is the first */
  r->napprovals = 1;
  r->k = k->k;
  r->height = c->height;
  r->status = r->napprovals >= r->k ? SIGN_APPROVED : SIGN_PENDING;
  if (r->status == SIGN_APPROVED) r->approved_height = c->height;
  VM_TRY(req_put(c->st, r));
  VM_TRY(seq_append(c->st, &r->id));
  if (r->status == SIGN_APPROVED) VM_TRY(pending_add(c->st, &r->id));
out:
  if (k) vm_key_clear(k);
  free(k);
  free(r);
  return err;
}

/* sign_approve: not_member; request_unknown; already_approved;
 * request_closed (SIGNED, or its key left the request's epoch); full (the
 * approval list holds VM_KEY_K_MAX names: only after APPROVED, as k is at
 * most that). At k approvals the request is APPROVED and joins "srp". */
cx_err vmi_rule_sign_approve(const vmi_ctx *c, cx_err *rej) {
  vm_key *k = malloc(sizeof *k);
  vm_sign_request *r = malloc(sizeof *r);
  cx_member m;
  int have;
  cx_err err = CX_OK;
  if (k) vm_key_init(k);
  if (!k || !r) {
    err = CX_E_NOMEM;
    goto out;
  }
  VM_TRY(vmi_sender_member(c, &m, &have));
  if (!have) VM_REJECT(CX_E_NOT_MEMBER);
  VM_TRY(vmi_found(vm_sign_request_get(c->st, &c->tx->u.sapprove.request, r), &have));
  if (!have) VM_REJECT(CX_E_REQUEST_UNKNOWN);
  if (vmi_name_index(r->approvals, r->napprovals, m.name) >= 0) VM_REJECT(CX_E_ALREADY_APPROVED);
  if (r->status == SIGN_SIGNED) VM_REJECT(CX_E_REQUEST_CLOSED);
  VM_TRY(req_key_load(c->st, r, k));
  if (!key_still(k, r)) VM_REJECT(CX_E_REQUEST_CLOSED);
  if (r->napprovals >= VM_KEY_K_MAX) VM_REJECT(CX_E_FULL);

  vmi_name_insert(r->approvals, &r->napprovals, m.name);
  if (r->status == SIGN_PENDING && r->napprovals >= r->k) {
    r->status = SIGN_APPROVED;
    r->approved_height = c->height;
    VM_TRY(pending_add(c->st, &r->id));
  }
  VM_TRY(req_put(c->st, r));
out:
  if (k) vm_key_clear(k);
  free(k);
  free(r);
  return err;
}

/* sign_result: request_unknown; not_key_party; request_closed (not
 * APPROVED, or its key left the request's epoch); bad_signature unless the
 * signature verifies under the key's group key over the request's msg. */
cx_err vmi_rule_sign_result(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_sign_result *s = &c->tx->u.sres;
  vm_key *k = malloc(sizeof *k);
  vm_sign_request *r = malloc(sizeof *r);
  int have;
  cx_err err = CX_OK;
  if (k) vm_key_init(k);
  if (!k || !r) {
    err = CX_E_NOMEM;
    goto out;
  }
  VM_TRY(vmi_found(vm_sign_request_get(c->st, &s->request, r), &have));
  if (!have) VM_REJECT(CX_E_REQUEST_UNKNOWN);
  VM_TRY(req_key_load(c->st, r, k));
  if (vm_key_party(k, &c->tx->sender) < 0) VM_REJECT(CX_E_NOT_KEY_PARTY);
  if (r->status != SIGN_APPROVED || !key_still(k, r)) VM_REJECT(CX_E_REQUEST_CLOSED);
  if (vm_key_verify(k, r->msg, r->msg_len, &s->sig) != CX_OK) VM_REJECT(CX_E_BAD_SIG);

  r->status = SIGN_SIGNED;
  r->sig = s->sig;
  r->signed_height = c->height;
  VM_TRY(req_put(c->st, r));
  VM_TRY(pending_remove(c->st, &r->id));
out:
  if (k) vm_key_clear(k);
  free(k);
  free(r);
  return err;
}
