/* Membership governance: proposals to add, remove or re-key a member,
 * applied once a quorum of the current validators approved. */
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

size_t vmi_gov_quorum(size_t n) { return (2 * n + 2) / 3; }

/* The members in force, loaded once per governance transaction (sorted by
 * name, at most VM_MAX_MEMBERS). */
typedef struct {
  cx_member *m;
  size_t n;
} roster;

static const cx_member *roster_find(const roster *r, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->m[i].name, name) == 0) return &r->m[i];
  return NULL;
}

static const cx_member *roster_by_key(const roster *r, const cx_pubkey *key) {
  for (size_t i = 0; i < r->n; i++)
    if (memcmp(r->m[i].key.b, key->b, 32) == 0) return &r->m[i];
  return NULL;
}

static size_t roster_nvalidators(const roster *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->n; i++) n += r->m[i].validator;
  return n;
}

static int roster_is_validator(const roster *r, const char *name) {
  const cx_member *m = roster_find(r, name);
  return m && m->validator;
}

/* ---- validation of an action against the current state ---- */

static cx_err check_add(const vm_state *st, const roster *r, const cx_member *pm,
                        cx_err *rej) {
  cx_err err = CX_OK;
  cx_hash did;
  char owner[CX_NAME_MAX + 1];
  int have;
  if (vmi_member_problem(pm)) VM_REJECT(CX_E_BAD_MEMBER);
  for (size_t i = 0; i < r->n; i++) {
    const cx_member *m = &r->m[i];
    if (strcmp(m->name, pm->name) == 0 || memcmp(m->key.b, pm->key.b, 32) == 0 ||
        memcmp(m->enc_key, pm->enc_key, 32) == 0)
      VM_REJECT(CX_E_MEMBER_EXISTS);
  }
  if (!pubkey_valid(&pm->key)) VM_REJECT(CX_E_BAD_KEY);
  /* Keep member keys and subject keys disjoint, as the identity rules do. */
  VM_TRY(vmi_found(vmi_subject_get(st, &pm->key, &did), &have));
  if (have) VM_REJECT(CX_E_KEY_IN_USE);
  for (size_t i = 0; i < pm->domains.n; i++) {
    VM_TRY(vmi_found(vm_domain_owner(st, pm->domains.d[i].name, owner), &have));
    if (have) VM_REJECT(CX_E_DOMAIN_OWNED);
  }
  /* Caps of the member list and of commit certificates. */
  if (r->n >= VM_MAX_MEMBERS) VM_REJECT(CX_E_FULL);
  if (pm->validator && roster_nvalidators(r) >= CX_MAX_VALIDATORS) VM_REJECT(CX_E_FULL);
out:
  return err;
}

static cx_err check_remove(const roster *r, const cx_member *pm, cx_err *rej) {
  const cx_member *m = roster_find(r, pm->name);
  if (!m)
    *rej = CX_E_MEMBER_UNKNOWN;
  else if (m->validator && roster_nvalidators(r) <= 1)
    *rej = CX_E_LAST_VALIDATOR;
  return CX_OK;
}

/* The member's own current key and enc_key may be kept: a re-key may change
 * only one of them. */
static cx_err check_rekey(const vm_state *st, const roster *r, const cx_member *pm,
                          cx_err *rej) {
  cx_err err = CX_OK;
  cx_hash did;
  int have;
  if (!roster_find(r, pm->name)) VM_REJECT(CX_E_MEMBER_UNKNOWN);
  if (!pubkey_valid(&pm->key)) VM_REJECT(CX_E_BAD_KEY);
  for (size_t i = 0; i < r->n; i++) {
    const cx_member *m = &r->m[i];
    if (strcmp(m->name, pm->name) == 0) continue;
    if (memcmp(m->key.b, pm->key.b, 32) == 0 || memcmp(m->enc_key, pm->enc_key, 32) == 0)
      VM_REJECT(CX_E_MEMBER_EXISTS);
  }
  VM_TRY(vmi_found(vmi_subject_get(st, &pm->key, &did), &have));
  if (have) VM_REJECT(CX_E_KEY_IN_USE);
out:
  return err;
}

static cx_err check_action(const vm_state *st, const roster *r, uint8_t action,
                           const cx_member *pm, cx_err *rej) {
  switch (action) {
    case GOV_ADD: return check_add(st, r, pm, rej);
    case GOV_REMOVE: return check_remove(r, pm, rej);
    case GOV_REKEY: return check_rekey(st, r, pm, rej);
  }
  return CX_E_INTERNAL; /* vm_apply_tx refuses other actions */
}

/* Applies a checked action. Validator-set changes are in the state at once;
 * consensus reads the validator set for a height from the state after the
 * block below it (docs/transactions.md). */
static cx_err apply_action(const vm_state *st, const roster *r, uint8_t action,
                           const cx_member *pm) {
  cx_err err;
  cx_member m;
  if (action == GOV_ADD) {
    if ((err = vmi_member_write(st, pm))) return err;
    return vmi_names_insert(st, pm->name);
  }
  m = *roster_find(r, pm->name);
  if ((err = vmi_member_erase(st, &m))) return err;
  if (action == GOV_REMOVE) return vmi_names_remove(st, m.name);
  m.key = pm->key;
  memcpy(m.enc_key, pm->enc_key, 32);
  return vmi_member_write(st, &m);
}

/* Counts the approvals of current validators and applies the proposal once
 * they reach the quorum, re-checking the action against today's state. */
static cx_err try_apply(const vmi_ctx *c, const roster *r, vm_proposal *p, cx_err *rej) {
  cx_err err = CX_OK;
  size_t count = 0;
  for (size_t i = 0; i < p->napprovals; i++)
    count += roster_is_validator(r, p->approvals[i]);
  if (count < vmi_gov_quorum(roster_nvalidators(r))) goto out;
  VM_TRY(check_action(c->st, r, p->action, &p->member, rej));
  if (*rej) goto out;
  VM_TRY(apply_action(c->st, r, p->action, &p->member));
  p->applied = 1;
  p->applied_height = c->height;
out:
  return err;
}

static cx_err roster_load(const vm_state *st, roster *r) {
  return vmi_members_load(st, &r->m, &r->n);
}

/* Sender must be a validating member. */
static const cx_member *gov_sender(const vmi_ctx *c, const roster *r, cx_err *rej) {
  const cx_member *s = roster_by_key(r, &c->tx->sender);
  if (!s)
    *rej = CX_E_NOT_MEMBER;
  else if (!s->validator)
    *rej = CX_E_NOT_VALIDATOR;
  return *rej ? NULL : s;
}

/* The proposal records only what the action uses (as the tx body does). */
static void proposal_from_tx(const vmi_ctx *c, const char *proposer, vm_proposal *p) {
  const cx_tx_member_propose *tp = &c->tx->u.propose;
  memset(p, 0, sizeof *p);
  p->id = *c->txid;
  p->action = tp->action;
  if (tp->action == GOV_ADD) {
    p->member = tp->member;
  } else {
    strcpy(p->member.name, tp->member.name);
    if (tp->action == GOV_REKEY) {
      p->member.key = tp->member.key;
      memcpy(p->member.enc_key, tp->member.enc_key, 32);
    }
  }
  p->expires = tp->expires;
  strcpy(p->proposer, proposer);
  /* The proposer's approval counts. */
  strcpy(p->approvals[0], proposer);
  p->napprovals = 1;
}

cx_err vmi_rule_member_propose(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_member_propose *tp = &c->tx->u.propose;
  roster r = {0};
  vm_proposal p;
  const cx_member *sender;
  cx_err err = CX_OK;
  VM_TRY(roster_load(c->st, &r));
  if (!(sender = gov_sender(c, &r, rej))) goto out;
  if (tp->expires < c->height) VM_REJECT(CX_E_EXPIRED);
  VM_TRY(check_action(c->st, &r, tp->action, &tp->member, rej));
  if (*rej) goto out;
  proposal_from_tx(c, sender->name, &p);
  /* With one validator the quorum is the proposer alone. */
  VM_TRY(try_apply(c, &r, &p, rej));
  if (*rej) goto out;
  VM_TRY(vmi_proposal_put(c->st, &p));
out:
  free(r.m);
  return err;
}

cx_err vmi_rule_member_approve(const vmi_ctx *c, cx_err *rej) {
  roster r = {0};
  vm_proposal p;
  const cx_member *sender;
  size_t n = 0;
  int have;
  cx_err err = CX_OK;
  VM_TRY(roster_load(c->st, &r));
  if (!(sender = gov_sender(c, &r, rej))) goto out;
  VM_TRY(vmi_found(vm_proposal_get(c->st, &c->tx->u.approve.proposal, &p), &have));
  if (!have) VM_REJECT(CX_E_PROPOSAL_UNKNOWN);
  if (p.applied || c->height > p.expires) VM_REJECT(CX_E_PROPOSAL_CLOSED);
  if (vmi_name_index(p.approvals, p.napprovals, sender->name) >= 0)
    VM_REJECT(CX_E_ALREADY_APPROVED);
  /* Approvals of members no longer validating are dropped: they do not
   * count, and dropping them bounds the list by the validator set. */
  for (size_t i = 0; i < p.napprovals; i++)
    if (roster_is_validator(&r, p.approvals[i]))
      memmove(p.approvals[n++], p.approvals[i], sizeof p.approvals[0]);
  vmi_name_insert(p.approvals, &n, sender->name);
  p.napprovals = (uint8_t)n;
  /* Record the approval first: if applying is then rejected, the rollback
   * takes the approval back with it and the proposal is left as it was. */
  VM_TRY(vmi_proposal_put(c->st, &p));
  VM_TRY(try_apply(c, &r, &p, rej));
  if (*rej || !p.applied) goto out;
  VM_TRY(vmi_proposal_put(c->st, &p));
out:
  free(r.m);
  return err;
}
