/* Snapshot anchoring (issue 7; docs/transactions.md §3.14, docs/vault.md
 * "Anchoring"): the bureau that owns a data domain puts the vault's root of
 * that domain (and its record count) on chain, so that a call's result,
 * which names the root its bureau read (docs/calls.md §3), can be checked
 * against a commitment made in public and in advance.
 *
 * Records: "va/" + domain + root -> the first anchoring of that root;
 * "val/" + domain -> the root anchored last. Anchoring a root again is
 * accepted (a vault whose records went back to an earlier state has that
 * earlier root again, and it is the latest once more) but keeps the first
 * record: its height is the earliest time the snapshot was committed to. */
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

/* "va/" + domain + root: the domain has a fixed-size suffix after it, so
 * the key's length tells where the domain ends. */
static void anchor_key(vmi_key *k, const char *domain, const cx_hash *root) {
  uint8_t b[CX_DOMAIN_MAX + 32];
  size_t n = strlen(domain);
  CX_ASSERT(n <= CX_DOMAIN_MAX);
  memcpy(b, domain, n);
  memcpy(b + n, root->b, 32);
  vmi_key_make(k, VMK_ANCHOR, b, n + 32);
}

/* u8 version | varint count | varint height | txid[32] | str bureau */
static cx_err anchor_put(const vm_state *st, const vm_anchor *a) {
  vmi_key k;
  cx_enc e;
  anchor_key(&k, a->domain, &a->root);
  enc_init(&e);
  enc_u8(&e, VM_REC_VERSION);
  enc_varint(&e, a->count);
  enc_varint(&e, a->height);
  enc_fixed(&e, a->txid.b, 32);
  enc_str(&e, a->bureau);
  cx_err err = enc_finish(&e);
  if (!err) err = st->put(st->ctx, k.b, k.n, e.buf, e.len);
  enc_free(&e);
  return err;
}

/* u8 version | root[32] */
static cx_err latest_put(const vm_state *st, const char *domain, const cx_hash *root) {
  vmi_key k;
  uint8_t v[1 + 32];
  vmi_key_make(&k, VMK_ANCHOR_LATEST, domain, strlen(domain));
  v[0] = VM_REC_VERSION;
  memcpy(v + 1, root->b, 32);
  return st->put(st->ctx, k.b, k.n, v, sizeof v);
}

cx_err vm_anchor_get(const vm_state *st, const char *domain, const cx_hash *root, vm_anchor *out) {
  vmi_key k;
  uint8_t *v = NULL, ver;
  size_t vl = 0;
  cx_dec d;
  if (!str_valid(domain, CX_DOMAIN_MAX, STR_IDENT)) return CX_E_NOT_FOUND;
  anchor_key(&k, domain, root);
  cx_err err = st->get(st->ctx, k.b, k.n, &v, &vl);
  if (err) return err;
  memset(out, 0, sizeof *out);
  strcpy(out->domain, domain);
  out->root = *root;
  dec_init(&d, v, vl);
  if (!dec_u8(&d, &ver) && ver != VM_REC_VERSION) dec_fail(&d, CX_E_BAD_VERSION);
  if (!d.err)
    (void)(dec_varint(&d, &out->count) || dec_varint(&d, &out->height) || dec_fixed(&d, out->txid.b, 32) ||
           dec_str(&d, out->bureau, CX_NAME_MAX, STR_IDENT));
  /* Height 0 is no block: a record saying so was not written by the rule. */
  if (!d.err && out->height == 0) dec_fail(&d, CX_E_NONCANONICAL);
  err = dec_finish(&d) == CX_OK ? CX_OK : CX_E_CORRUPT;
  free(v);
  return err;
}

cx_err vm_anchor_latest(const vm_state *st, const char *domain, vm_anchor *out) {
  vmi_key k;
  uint8_t *v = NULL;
  size_t vl = 0;
  cx_hash root;
  if (!str_valid(domain, CX_DOMAIN_MAX, STR_IDENT)) return CX_E_NOT_FOUND;
  vmi_key_make(&k, VMK_ANCHOR_LATEST, domain, strlen(domain));
  cx_err err = st->get(st->ctx, k.b, k.n, &v, &vl);
  if (err) return err;
  int ok = vl == 1 + 32 && v[0] == VM_REC_VERSION;
  if (ok) memcpy(root.b, v + 1, 32);
  free(v);
  if (!ok) return CX_E_CORRUPT;
  err = vm_anchor_get(st, domain, &root, out);
  /* The latest root always has its record (the rule writes both). */
  return err == CX_E_NOT_FOUND ? CX_E_CORRUPT : err;
}

cx_err vmi_rule_vault_anchor(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_vault_anchor *a = &c->tx->u.anchor;
  cx_member m;
  char owner[CX_NAME_MAX + 1];
  vm_anchor rec;
  int have;
  cx_err err = CX_OK;
  VM_TRY(vmi_sender_member(c, &m, &have));
  if (!have) VM_REJECT(CX_E_NOT_MEMBER);
  if (m.role != ROLE_BUREAU) VM_REJECT(CX_E_WRONG_ROLE);
  VM_TRY(vmi_found(vm_domain_owner(c->st, a->domain, owner), &have));
  if (!have) VM_REJECT(CX_E_DOMAIN_UNKNOWN);
  /* Only the owner of the day speaks for the domain's records. */
  if (strcmp(owner, m.name) != 0) VM_REJECT(CX_E_NOT_OWNER_BUREAU);
  VM_TRY(vmi_found(vm_anchor_get(c->st, a->domain, &a->root, &rec), &have));
  if (!have) {
    memset(&rec, 0, sizeof rec);
    strcpy(rec.domain, a->domain);
    rec.root = a->root;
    rec.count = a->count;
    rec.height = c->height;
    rec.txid = *c->txid;
    strcpy(rec.bureau, m.name);
    VM_TRY(anchor_put(c->st, &rec));
  }
  VM_TRY(latest_put(c->st, a->domain, &a->root));
out:
  return err;
}
