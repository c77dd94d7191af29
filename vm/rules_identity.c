/* Identity rules: a subject registers its DID with its own key, bureaus
 * attest it, the subject rotates its key, the subject or an attesting
 * bureau revokes it. */
#include <string.h>

#include "vm_internal.h"

cx_err vmi_identity_live(const vm_state *st, const cx_hash *did, vm_identity *id,
                         cx_err *rej) {
  int have;
  cx_err err = vmi_found(vm_identity_get(st, did, id), &have);
  if (err) return err;
  if (!have)
    *rej = CX_E_DID_UNKNOWN;
  else if (id->revoked)
    *rej = CX_E_DID_REVOKED;
  return CX_OK;
}

int vmi_attested_by(const vm_identity *id, const char *bureau) {
  for (size_t i = 0; i < id->nattest; i++)
    if (strcmp(id->attest[i].bureau, bureau) == 0) return 1;
  return 0;
}

cx_err vmi_sender_member(const vmi_ctx *c, cx_member *m, int *have) {
  return vmi_found(vm_member_by_key(c->st, &c->tx->sender, m), have);
}

cx_err vmi_rule_id_register(const vmi_ctx *c, cx_err *rej) {
  const cx_hash *did = &c->tx->u.reg.did;
  vm_identity id;
  int have, used;
  cx_err err = CX_OK;
  VM_TRY(vmi_found(vm_identity_get(c->st, did, &id), &have));
  if (have) VM_REJECT(CX_E_DID_EXISTS);
  /* One key, one role: a subject key is nobody else's subject or member key. */
  VM_TRY(vmi_key_in_use(c->st, &c->tx->sender, &used));
  if (used) VM_REJECT(CX_E_KEY_IN_USE);
  memset(&id, 0, sizeof id);
  id.did = *did;
  id.key = c->tx->sender;
  id.registered_height = c->height;
  VM_TRY(vmi_identity_put(c->st, &id));
  VM_TRY(vmi_subject_put(c->st, &id.key, did));
out:
  return err;
}

cx_err vmi_rule_id_attest(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_id_attest *ta = &c->tx->u.attest;
  cx_member m;
  vm_identity id;
  int have;
  size_t i = 0;
  cx_err err = CX_OK;
  VM_TRY(vmi_sender_member(c, &m, &have));
  if (!have) VM_REJECT(CX_E_NOT_MEMBER);
  if (m.role != ROLE_BUREAU) VM_REJECT(CX_E_WRONG_ROLE);
  VM_TRY(vmi_identity_live(c->st, &ta->did, &id, rej));
  if (*rej) goto out;
  if (ta->level < LEVEL_EA5_MINUS || ta->level > LEVEL_EA5_PLUS) VM_REJECT(CX_E_BAD_LEVEL);
  /* Attestations stay sorted by bureau name; a bureau's new one replaces
   * its old one. */
  while (i < id.nattest && strcmp(id.attest[i].bureau, m.name) < 0) i++;
  if (i == id.nattest || strcmp(id.attest[i].bureau, m.name) != 0) {
    if (id.nattest >= VM_MAX_ATTESTATIONS) VM_REJECT(CX_E_FULL);
    memmove(&id.attest[i + 1], &id.attest[i], (id.nattest - i) * sizeof id.attest[0]);
    id.nattest++;
    memset(&id.attest[i], 0, sizeof id.attest[i]);
    strcpy(id.attest[i].bureau, m.name);
  }
  id.attest[i].level = ta->level;
  id.attest[i].height = c->height;
  VM_TRY(vmi_identity_put(c->st, &id));
out:
  return err;
}

cx_err vmi_rule_id_rotate(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_id_rotate *tr = &c->tx->u.rotate;
  vm_identity id;
  int used;
  cx_err err = CX_OK;
  VM_TRY(vmi_identity_live(c->st, &tr->did, &id, rej));
  if (*rej) goto out;
  if (memcmp(id.key.b, c->tx->sender.b, 32) != 0) VM_REJECT(CX_E_NOT_SUBJECT);
  if (!pubkey_valid(&tr->new_key)) VM_REJECT(CX_E_BAD_KEY);
  VM_TRY(vmi_key_in_use(c->st, &tr->new_key, &used));
  if (used) VM_REJECT(CX_E_KEY_IN_USE);
  VM_TRY(vmi_subject_del(c->st, &id.key));
  id.key = tr->new_key;
  VM_TRY(vmi_subject_put(c->st, &id.key, &id.did));
  VM_TRY(vmi_identity_put(c->st, &id));
out:
  return err;
}

cx_err vmi_rule_id_revoke(const vmi_ctx *c, cx_err *rej) {
  vm_identity id;
  cx_member m;
  int have;
  cx_err err = CX_OK;
  VM_TRY(vmi_identity_live(c->st, &c->tx->u.revoke.did, &id, rej));
  if (*rej) goto out;
  if (memcmp(id.key.b, c->tx->sender.b, 32) != 0) {
    VM_TRY(vmi_sender_member(c, &m, &have));
    if (!have || m.role != ROLE_BUREAU || !vmi_attested_by(&id, m.name))
      VM_REJECT(CX_E_NOT_SUBJECT);
  }
  /* The subject key stays indexed: a revoked identity's key is not reused. */
  id.revoked = 1;
  id.revoked_height = c->height;
  VM_TRY(vmi_identity_put(c->st, &id));
out:
  return err;
}
