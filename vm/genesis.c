/* Genesis: validation with a readable verdict, the chain id, and the
 * initial member set. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

#define VM_GENESIS_VERSION 1

/* Uniqueness of names, keys and domains against the members before i. */
static cx_err check_unique(const vm_genesis *g, size_t i, char *err, size_t errlen) {
  const cx_member *m = &g->members[i];
  for (size_t j = 0; j < i; j++) {
    const cx_member *o = &g->members[j];
    if (strcmp(o->name, m->name) == 0)
      return cx_errf(err, errlen, CX_E_MEMBER_EXISTS,
                  "members[%zu] (%s): name already used by members[%zu]", i, m->name, j);
    if (memcmp(o->key.b, m->key.b, 32) == 0)
      return cx_errf(err, errlen, CX_E_MEMBER_EXISTS,
                  "members[%zu] (%s): key already used by members[%zu] (%s)", i, m->name, j,
                  o->name);
    if (memcmp(o->enc_key, m->enc_key, 32) == 0)
      return cx_errf(err, errlen, CX_E_MEMBER_EXISTS,
                  "members[%zu] (%s): enc_key already used by members[%zu] (%s)", i,
                  m->name, j, o->name);
    for (size_t d = 0; d < m->domains.n; d++)
      if (domain_set_has(&o->domains, m->domains.d[d].name))
        return cx_errf(err, errlen, CX_E_DOMAIN_OWNED,
                    "members[%zu] (%s): domain %s already owned by members[%zu] (%s)", i,
                    m->name, m->domains.d[d].name, j, o->name);
  }
  return CX_OK;
}

cx_err vm_genesis_validate(const vm_genesis *g, char *err, size_t errlen) {
  size_t nval = 0;
  if (!memchr(g->chain_name, 0, sizeof g->chain_name) ||
      !str_valid(g->chain_name, VM_CHAIN_NAME_MAX, STR_IDENT))
    return cx_errf(err, errlen, CX_E_CONFIG,
                "chain_name is not an identifier ([a-z0-9_-], 1 to 32 bytes)");
  if (g->block_max_txs < 1 || g->block_max_txs > CX_BLOCK_MAX_TXS)
    return cx_errf(err, errlen, CX_E_CONFIG, "block_max_txs %u is not within 1..%u",
                (unsigned)g->block_max_txs, (unsigned)CX_BLOCK_MAX_TXS);
  if (g->nmembers > VM_MAX_MEMBERS)
    return cx_errf(err, errlen, CX_E_CONFIG, "%zu members: at most %d", g->nmembers,
                VM_MAX_MEMBERS);
  for (size_t i = 0; i < g->nmembers; i++) {
    const cx_member *m = &g->members[i];
    const char *problem = vmi_member_problem(m);
    cx_err e;
    if (problem) {
      /* Show the name only when it is printable as one. */
      if (memchr(m->name, 0, sizeof m->name) && str_valid(m->name, CX_NAME_MAX, STR_IDENT))
        return cx_errf(err, errlen, CX_E_BAD_MEMBER, "members[%zu] (%s): %s", i, m->name,
                    problem);
      return cx_errf(err, errlen, CX_E_BAD_MEMBER, "members[%zu]: %s", i, problem);
    }
    if (!pubkey_valid(&m->key))
      return cx_errf(err, errlen, CX_E_BAD_KEY,
                  "members[%zu] (%s): key is not a valid x-only public key", i, m->name);
    if ((e = check_unique(g, i, err, errlen))) return e;
    nval += m->validator;
  }
  if (nval == 0)
    return cx_errf(err, errlen, CX_E_CONFIG,
                "no validator: at least one member needs validator = true");
  if (nval > CX_MAX_VALIDATORS)
    return cx_errf(err, errlen, CX_E_CONFIG, "%zu validators: at most %d", nval,
                CX_MAX_VALIDATORS);
  if (err && errlen) err[0] = 0;
  return CX_OK;
}

/* u8 version | str chain_name | varint time_ms | varint block_max_txs |
 * varint nmembers | members (member_enc, in the given order) |
 * [u8 1 when bench_commands]. Hashed in
 * parts so that only one member is encoded at a time. */
void vm_genesis_hash(const vm_genesis *g, cx_hash *chain_id) {
  hash_ctx h;
  cx_enc e;
  CX_ASSERT(g->nmembers <= VM_MAX_MEMBERS);
  hash_ctx_init(&h, CX_TAG_GENESIS);
  enc_init(&e);
  enc_u8(&e, VM_GENESIS_VERSION);
  enc_str(&e, g->chain_name);
  enc_varint(&e, g->time_ms);
  enc_varint(&e, g->block_max_txs);
  enc_varint(&e, g->nmembers);
  for (size_t i = 0; i <= g->nmembers; i++) {
    /* No way to report it: a few hundred bytes failing at start-up is fatal. */
    CX_ASSERT(enc_finish(&e) == CX_OK);
    hash_ctx_update(&h, e.buf, e.len);
    enc_free(&e);
    if (i < g->nmembers) member_enc(&e, &g->members[i]);
  }
  /* Absent when false: chains created before the flag keep their id. */
  if (g->bench_commands) {
    uint8_t one = 1;
    hash_ctx_update(&h, &one, 1);
  }
  hash_ctx_final(&h, chain_id);
}

static int name_cmp(const void *a, const void *b) { return strcmp(a, b); }

cx_err vm_genesis_apply(const vm_state *st, const vm_genesis *g) {
  char msg[160];
  char(*names)[CX_NAME_MAX + 1] = NULL;
  size_t n;
  cx_err err = vm_genesis_validate(g, msg, sizeof msg);
  if (err) return err;
  names = malloc(VM_MAX_MEMBERS * sizeof *names);
  if (!names) return CX_E_NOMEM;
  VM_TRY(vmi_names_get(st, names, &n));
  if (n) {
    err = CX_E_EXISTS;
    goto out;
  }
  for (size_t i = 0; i < g->nmembers; i++) {
    VM_TRY(vmi_member_write(st, &g->members[i]));
    strcpy(names[i], g->members[i].name);
  }
  /* The member list is in name order whatever the genesis order. */
  qsort(names, g->nmembers, sizeof names[0], name_cmp);
  VM_TRY(vmi_names_put(st, names, g->nmembers));
out:
  free(names);
  return err;
}
