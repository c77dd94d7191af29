/* Contract registry: an insurer deploys a contract naming the data domains
 * it reads; it becomes callable once every bureau owning one of those
 * domains approved it; its deployer may retire it. */
#include <string.h>

#include "lang.h"
#include "vm_internal.h"

typedef char owner_list[CX_DOMAINS_MAX][CX_NAME_MAX + 1];

/* The current owner of each domain of a contract ("" if none). */
static cx_err load_owners(const vm_state *st, const cx_domain_set *ds, owner_list owners) {
  for (size_t i = 0; i < ds->n; i++) {
    cx_err err = vm_domain_owner(st, ds->d[i].name, owners[i]);
    if (err == CX_E_NOT_FOUND)
      owners[i][0] = 0;
    else if (err)
      return err;
  }
  return CX_OK;
}

static int owns_one(const cx_domain_set *ds, owner_list owners, const char *name) {
  for (size_t i = 0; i < ds->n; i++)
    if (strcmp(owners[i], name) == 0) return 1;
  return 0;
}

/* Every domain has an owner and every owner approved. A domain nobody owns
 * blocks the contract: there is no bureau to have agreed to it reading it. */
static int all_approved(vm_contract *k, owner_list owners) {
  for (size_t i = 0; i < k->domains.n; i++)
    if (!owners[i][0] || vmi_name_index(k->approvals, k->napprovals, owners[i]) < 0)
      return 0;
  return 1;
}

cx_err vmi_rule_contract_deploy(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_contract_deploy *td = &c->tx->u.deploy;
  cx_member m;
  vm_contract k;
  char owner[CX_NAME_MAX + 1];
  cx_hash id;
  int have;
  cx_err err = CX_OK;
  VM_TRY(vmi_sender_member(c, &m, &have));
  if (!have) VM_REJECT(CX_E_NOT_MEMBER);
  if (m.role != ROLE_INSURER) VM_REJECT(CX_E_WRONG_ROLE);
  if (td->domains.n == 0) VM_REJECT(CX_E_SCOPE);
  for (size_t i = 0; i < td->domains.n; i++) {
    VM_TRY(vmi_found(vm_domain_owner(c->st, td->domains.d[i].name, owner), &have));
    if (!have) VM_REJECT(CX_E_DOMAIN_UNKNOWN);
  }
  /* Every node compiles the source itself: the id is the hash of what the
   * compiler produced here, so the bytecode that runs is the one the
   * approved source means (docs/contract-language.md §6). A compile error
   * is the receipt's rule (lang_syntax, lang_secrecy, ...). */
  lang_contract *lc = NULL;
  cx_err cerr = lang_compile((const char *)td->source, td->source_len, &lc, NULL);
  if (cerr == CX_E_NOMEM) {
    err = cerr;
    goto out;
  }
  if (cerr) VM_REJECT(cerr);
  size_t bclen;
  const uint8_t *bc = lang_bytecode(lc, &bclen);
  cx_domain_set ds;
  cx_err derr = lang_domains(lc, &ds);
  int same = bclen == td->bytecode_len && memcmp(bc, td->bytecode, bclen) == 0;
  lang_free(lc);
  if (!same) VM_REJECT(CX_E_LANG_MISMATCH);
  /* The declared domains are what the contract's inputs read, exactly. */
  if (derr || !domain_set_eq(&ds, &td->domains)) VM_REJECT(CX_E_SCOPE);
  vm_contract_id(td->bytecode, td->bytecode_len, &id);
  VM_TRY(vmi_found(vmi_contract_meta_get(c->st, &id, &k), &have));
  if (have) VM_REJECT(CX_E_CONTRACT_EXISTS);
  memset(&k, 0, sizeof k);
  k.id = id;
  strcpy(k.name, td->name);
  strcpy(k.deployer, m.name);
  k.domains = td->domains;
  k.status = CONTRACT_PENDING;
  k.deployed_height = c->height;
  VM_TRY(vmi_contract_meta_put(c->st, &k));
  VM_TRY(vmi_contract_code_put(c->st, &id, td->source, td->source_len, td->bytecode, td->bytecode_len));
out:
  return err;
}

cx_err vmi_rule_contract_approve(const vmi_ctx *c, cx_err *rej) {
  vm_contract k;
  cx_member m;
  owner_list owners;
  size_t n = 0;
  int have;
  cx_err err = CX_OK;
  VM_TRY(vmi_found(vmi_contract_meta_get(c->st, &c->tx->u.cref.contract, &k), &have));
  if (!have) VM_REJECT(CX_E_CONTRACT_UNKNOWN);
  if (k.status == CONTRACT_RETIRED) VM_REJECT(CX_E_CONTRACT_RETIRED);
  VM_TRY(vmi_sender_member(c, &m, &have));
  if (!have) VM_REJECT(CX_E_NOT_MEMBER);
  VM_TRY(load_owners(c->st, &k.domains, owners));
  if (m.role != ROLE_BUREAU || !owns_one(&k.domains, owners, m.name))
    VM_REJECT(CX_E_NOT_OWNER_BUREAU);
  if (vmi_name_index(k.approvals, k.napprovals, m.name) >= 0)
    VM_REJECT(CX_E_ALREADY_APPROVED);
  /* Approvals of bureaus that no longer own any of the domains are dropped,
   * which also keeps the list within one name per domain. */
  for (size_t i = 0; i < k.napprovals; i++)
    if (owns_one(&k.domains, owners, k.approvals[i]))
      memmove(k.approvals[n++], k.approvals[i], sizeof k.approvals[0]);
  vmi_name_insert(k.approvals, &n, m.name);
  k.napprovals = (uint8_t)n;
  /* The stored status is this approval's verdict; vm_contract_callable
   * re-checks against the owners of the day. */
  k.status = all_approved(&k, owners) ? CONTRACT_APPROVED : CONTRACT_PENDING;
  VM_TRY(vmi_contract_meta_put(c->st, &k));
out:
  return err;
}

cx_err vmi_rule_contract_retire(const vmi_ctx *c, cx_err *rej) {
  vm_contract k;
  cx_member m;
  int have;
  cx_err err = CX_OK;
  VM_TRY(vmi_found(vmi_contract_meta_get(c->st, &c->tx->u.cref.contract, &k), &have));
  if (!have) VM_REJECT(CX_E_CONTRACT_UNKNOWN);
  if (k.status == CONTRACT_RETIRED) VM_REJECT(CX_E_CONTRACT_RETIRED);
  VM_TRY(vmi_sender_member(c, &m, &have));
  if (!have || strcmp(m.name, k.deployer) != 0) VM_REJECT(CX_E_NOT_DEPLOYER);
  k.status = CONTRACT_RETIRED;
  VM_TRY(vmi_contract_meta_put(c->st, &k));
out:
  return err;
}

cx_err vm_contract_callable(const vm_state *st, const cx_hash *id) {
  vm_contract k;
  owner_list owners;
  cx_err err = vmi_contract_meta_get(st, id, &k);
  if (err == CX_E_NOT_FOUND) return CX_E_CONTRACT_UNKNOWN;
  if (err) return err;
  if (k.status == CONTRACT_RETIRED) return CX_E_CONTRACT_RETIRED;
  if ((err = load_owners(st, &k.domains, owners))) return err;
  return all_approved(&k, owners) ? CX_OK : CX_E_CONTRACT_UNAPPROVED;
}
