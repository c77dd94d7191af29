/* Consent rules: a subject (or a bureau that attested it, with evidence of
 * the subject's consent) lets an insurer's contract read some of its data
 * domains, a number of times, until a height. */
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

/* Who may grant: the subject itself (granted_by ""), or a bureau that has
 * attested the identity, which must then point at its evidence. */
static cx_err check_grantor(const vmi_ctx *c, const vm_identity *id,
                            char granted_by[CX_NAME_MAX + 1], cx_err *rej) {
  const cx_tx_consent_grant *g = &c->tx->u.grant;
  cx_member m;
  int have;
  cx_err err = CX_OK;
  granted_by[0] = 0;
  if (memcmp(id->key.b, c->tx->sender.b, 32) == 0) goto out;
  VM_TRY(vmi_sender_member(c, &m, &have));
  if (!have || m.role != ROLE_BUREAU) VM_REJECT(CX_E_NOT_SUBJECT);
  if (!vmi_attested_by(id, m.name)) VM_REJECT(CX_E_NOT_ATTESTED);
  if (hash_is_zero(&g->evidence)) VM_REJECT(CX_E_NEED_EVIDENCE);
  strcpy(granted_by, m.name);
out:
  return err;
}

/* Grantee, domains and contract: the consent must fit inside a live
 * contract of that insurer, and every domain must have an owning bureau. */
static cx_err check_scope(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_consent_grant *g = &c->tx->u.grant;
  cx_member ins;
  vm_contract k;
  char owner[CX_NAME_MAX + 1];
  int have;
  cx_err err = CX_OK;
  VM_TRY(vmi_found(vm_member_get(c->st, g->insurer, &ins), &have));
  if (!have || ins.role != ROLE_INSURER) VM_REJECT(CX_E_NOT_INSURER);
  if (g->domains.n == 0) VM_REJECT(CX_E_SCOPE);
  for (size_t i = 0; i < g->domains.n; i++) {
    VM_TRY(vmi_found(vm_domain_owner(c->st, g->domains.d[i].name, owner), &have));
    if (!have) VM_REJECT(CX_E_DOMAIN_UNKNOWN);
  }
  VM_TRY(vmi_found(vmi_contract_meta_get(c->st, &g->contract, &k), &have));
  if (!have) VM_REJECT(CX_E_CONTRACT_UNKNOWN);
  if (k.status == CONTRACT_RETIRED) VM_REJECT(CX_E_CONTRACT_RETIRED);
  if (strcmp(k.deployer, g->insurer) != 0) VM_REJECT(CX_E_SCOPE);
  for (size_t i = 0; i < g->domains.n; i++)
    if (!domain_set_has(&k.domains, g->domains.d[i].name)) VM_REJECT(CX_E_SCOPE);
out:
  return err;
}

cx_err vmi_rule_consent_grant(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_consent_grant *g = &c->tx->u.grant;
  vm_identity id;
  vm_consent rec;
  char granted_by[CX_NAME_MAX + 1];
  cx_hash *ids = NULL;
  size_t n;
  cx_err err = CX_OK;
  VM_TRY(vmi_identity_live(c->st, &g->did, &id, rej));
  if (*rej) goto out;
  VM_TRY(check_grantor(c, &id, granted_by, rej));
  if (*rej) goto out;
  VM_TRY(check_scope(c, rej));
  if (*rej) goto out;
  if (g->expires < c->height) VM_REJECT(CX_E_EXPIRED);
  if (g->quota < 1) VM_REJECT(CX_E_BAD_QUOTA);
  ids = malloc(VM_MAX_CONSENTS_PER_SUBJECT * sizeof *ids);
  if (!ids) {
    err = CX_E_NOMEM;
    goto out;
  }
  VM_TRY(vmi_consent_list_get(c->st, &g->did, ids, &n));
  if (n >= VM_MAX_CONSENTS_PER_SUBJECT) VM_REJECT(CX_E_CONSENT_LIMIT);

  memset(&rec, 0, sizeof rec);
  rec.id = *c->txid;
  rec.did = g->did;
  strcpy(rec.insurer, g->insurer);
  rec.domains = g->domains;
  rec.contract = g->contract;
  strcpy(rec.purpose, g->purpose);
  rec.expires = g->expires;
  rec.quota = g->quota;
  strcpy(rec.granted_by, granted_by);
  rec.evidence = g->evidence;
  rec.granted_height = c->height;
  VM_TRY(vmi_consent_put(c->st, &rec));
  ids[n++] = rec.id;
  VM_TRY(vmi_consent_list_put(c->st, &g->did, ids, n));
out:
  free(ids);
  return err;
}

cx_err vmi_rule_consent_revoke(const vmi_ctx *c, cx_err *rej) {
  vm_consent rec;
  vm_identity id;
  cx_member m;
  int have, ok;
  cx_err err = CX_OK;
  VM_TRY(vmi_found(vm_consent_get(c->st, &c->tx->u.crevoke.consent, &rec), &have));
  if (!have) VM_REJECT(CX_E_CONSENT_UNKNOWN);
  if (rec.revoked) VM_REJECT(CX_E_CONSENT_REVOKED);
  err = vm_identity_get(c->st, &rec.did, &id);
  if (err == CX_E_NOT_FOUND) err = CX_E_CORRUPT; /* a consent outliving its identity */
  if (err) goto out;
  /* The subject's current key (even after a rotation), or the bureau that
   * granted on its behalf. */
  ok = memcmp(id.key.b, c->tx->sender.b, 32) == 0;
  if (!ok && rec.granted_by[0]) {
    VM_TRY(vmi_sender_member(c, &m, &have));
    ok = have && strcmp(m.name, rec.granted_by) == 0;
  }
  if (!ok) VM_REJECT(CX_E_NOT_GRANTOR);
  rec.revoked = 1;
  rec.revoked_height = c->height;
  VM_TRY(vmi_consent_put(c->st, &rec));
out:
  return err;
}

cx_err vm_consent_live(const vm_state *st, const cx_hash *id, uint64_t height) {
  vm_consent rec;
  vm_identity ident;
  cx_err err = vm_consent_get(st, id, &rec);
  if (err == CX_E_NOT_FOUND) return CX_E_CONSENT_UNKNOWN;
  if (err) return err;
  if (rec.revoked) return CX_E_CONSENT_REVOKED;
  /* A revoked identity takes its consents with it. */
  err = vm_identity_get(st, &rec.did, &ident);
  if (err == CX_E_NOT_FOUND) return CX_E_CORRUPT;
  if (err) return err;
  if (ident.revoked) return CX_E_DID_REVOKED;
  if (height > rec.expires) return CX_E_EXPIRED;
  if (rec.uses >= rec.quota) return CX_E_FULL;
  return CX_OK;
}
