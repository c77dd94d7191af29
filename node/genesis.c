#include "genesis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fileutil.h"
#include "hash.h"

static cx_err member_from_json(const cJSON *j, cx_member *m, const char *where, char *err,
                               size_t errlen) {
  static const char *const keys[] = {"name", "role", "key", "enc_key", "validator",
                                     "address", "domains", NULL};
  const char *name = NULL, *role = NULL, *key = NULL, *ek = NULL, *addr = "";
  int validator = 0;
  cx_err e;
  memset(m, 0, sizeof *m);
  if ((e = json_check_keys(j, keys, where, err, errlen)) ||
      (e = json_get_str(j, "name", 1, &name, where, err, errlen)) ||
      (e = json_get_str(j, "role", 1, &role, where, err, errlen)) ||
      (e = json_get_str(j, "key", 1, &key, where, err, errlen)) ||
      (e = json_get_str(j, "enc_key", 1, &ek, where, err, errlen)) ||
      (e = json_get_bool(j, "validator", 0, &validator, where, err, errlen)) ||
      (e = json_get_str(j, "address", 0, &addr, where, err, errlen)))
    return e;
  if (!str_valid(name, CX_NAME_MAX, STR_IDENT)) {
    snprintf(err, errlen, "%s.name: 1-%d characters of a-z 0-9 _ -", where, CX_NAME_MAX);
    return CX_E_CONFIG;
  }
  strcpy(m->name, name);
  int r = role_parse(role);
  if (r < 0) {
    snprintf(err, errlen, "%s.role: expected bureau, insurer, auditor or regulator", where);
    return CX_E_CONFIG;
  }
  m->role = (uint8_t)r;
  if (hex_decode(key, m->key.b, 32)) {
    snprintf(err, errlen, "%s.key: expected 64 hex digits", where);
    return CX_E_CONFIG;
  }
  if (hex_decode(ek, m->enc_key, 32)) {
    snprintf(err, errlen, "%s.enc_key: expected 64 hex digits", where);
    return CX_E_CONFIG;
  }
  m->validator = (uint8_t)validator;
  if (!str_valid(addr, CX_ADDR_MAX, STR_ADDR)) {
    snprintf(err, errlen, "%s.address: printable characters without spaces, at most %d",
             where, CX_ADDR_MAX);
    return CX_E_CONFIG;
  }
  strcpy(m->address, addr);
  if (m->validator && !m->address[0]) {
    snprintf(err, errlen, "%s.address: a validator needs its member-link address", where);
    return CX_E_CONFIG;
  }
  if (!m->validator && m->address[0]) {
    snprintf(err, errlen, "%s.address: only validators have an address", where);
    return CX_E_CONFIG;
  }
  const cJSON *doms = cJSON_GetObjectItemCaseSensitive(j, "domains");
  if (doms) {
    if (!cJSON_IsArray(doms)) {
      snprintf(err, errlen, "%s.domains: expected an array of names", where);
      return CX_E_CONFIG;
    }
    int i = 0;
    for (const cJSON *d = doms->child; d; d = d->next, i++) {
      cx_err de = cJSON_IsString(d) ? domain_set_add(&m->domains, d->valuestring)
                                    : CX_E_BAD_STRING;
      if (de) {
        snprintf(err, errlen, "%s.domains[%d]: %s", where, i,
                 de == CX_E_FULL     ? "too many domains"
                 : de == CX_E_EXISTS ? "listed twice"
                                     : "1-16 characters of a-z 0-9 _ -");
        return CX_E_CONFIG;
      }
    }
  }
  if (m->domains.n && m->role != ROLE_BUREAU) {
    snprintf(err, errlen, "%s.domains: only bureaus own data domains", where);
    return CX_E_CONFIG;
  }
  return CX_OK;
}

cx_err genesis_from_json(const cJSON *j, vm_genesis *g, char *err, size_t errlen) {
  static const char *const keys[] = {"chain_name", "time_ms", "block_max_txs", "bench_commands",
                                     "members", NULL};
  const char *name = NULL;
  uint64_t t = 0, mt = 5000;
  int bench = 0;
  cx_err e;
  memset(g, 0, sizeof *g);
  if ((e = json_check_keys(j, keys, "genesis", err, errlen)) ||
      (e = json_get_str(j, "chain_name", 1, &name, "genesis", err, errlen)) ||
      (e = json_get_u64(j, "time_ms", 1, &t, "genesis", err, errlen)) ||
      (e = json_get_u64(j, "block_max_txs", 0, &mt, "genesis", err, errlen)) ||
      (e = json_get_bool(j, "bench_commands", 0, &bench, "genesis", err, errlen)))
    return e;
  if (!str_valid(name, VM_CHAIN_NAME_MAX, STR_IDENT)) {
    snprintf(err, errlen, "genesis.chain_name: 1-%d characters of a-z 0-9 _ -",
             VM_CHAIN_NAME_MAX);
    return CX_E_CONFIG;
  }
  strcpy(g->chain_name, name);
  g->time_ms = t;
  if (mt < 1 || mt > CX_BLOCK_MAX_TXS) {
    snprintf(err, errlen, "genesis.block_max_txs: expected 1..%d", CX_BLOCK_MAX_TXS);
    return CX_E_CONFIG;
  }
  g->block_max_txs = (uint32_t)mt;
  g->bench_commands = (uint8_t)bench;
  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(j, "members");
  if (!cJSON_IsArray(ms) || cJSON_GetArraySize(ms) < 1) {
    snprintf(err, errlen, "genesis.members: expected a non-empty array");
    return CX_E_CONFIG;
  }
  if (cJSON_GetArraySize(ms) > VM_MAX_MEMBERS) {
    snprintf(err, errlen, "genesis.members: at most %d members", VM_MAX_MEMBERS);
    return CX_E_CONFIG;
  }
  for (const cJSON *m = ms->child; m; m = m->next) {
    char where[48];
    snprintf(where, sizeof where, "genesis.members[%zu]", g->nmembers);
    if ((e = member_from_json(m, &g->members[g->nmembers], where, err, errlen))) return e;
    g->nmembers++;
  }
  return vm_genesis_validate(g, err, errlen);
}

cx_err genesis_load(const char *path, vm_genesis *g, char *err, size_t errlen) {
  char *text;
  cx_err e = file_read_all(path, 4u << 20, &text, NULL);
  if (e) {
    snprintf(err, errlen, "%s: cannot read (%s)", path, cx_err_str(e));
    return e;
  }
  cJSON *j = cJSON_Parse(text);
  free(text);
  if (!j) {
    snprintf(err, errlen, "%s: malformed JSON", path);
    return CX_E_CONFIG;
  }
  e = genesis_from_json(j, g, err, errlen);
  cJSON_Delete(j);
  return e;
}

cJSON *genesis_to_json(const vm_genesis *g) {
  cJSON *j = cJSON_CreateObject();
  if (!j) return NULL;
  cJSON_AddStringToObject(j, "chain_name", g->chain_name);
  cJSON_AddNumberToObject(j, "time_ms", (double)g->time_ms);
  cJSON_AddNumberToObject(j, "block_max_txs", g->block_max_txs);
  /* Printed only when set, as the chain id covers it only then. */
  if (g->bench_commands) cJSON_AddBoolToObject(j, "bench_commands", 1);
  cJSON *ms = cJSON_AddArrayToObject(j, "members");
  for (size_t i = 0; ms && i < g->nmembers; i++) {
    const cx_member *m = &g->members[i];
    char hex[65];
    cJSON *o = cJSON_CreateObject();
    if (!o) break;
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON_AddStringToObject(o, "role", role_name(m->role));
    hex_encode(m->key.b, 32, hex);
    cJSON_AddStringToObject(o, "key", hex);
    hex_encode(m->enc_key, 32, hex);
    cJSON_AddStringToObject(o, "enc_key", hex);
    cJSON_AddBoolToObject(o, "validator", m->validator);
    if (m->address[0]) cJSON_AddStringToObject(o, "address", m->address);
    if (m->domains.n) {
      cJSON *d = cJSON_AddArrayToObject(o, "domains");
      for (size_t k = 0; d && k < m->domains.n; k++)
        cJSON_AddItemToArray(d, cJSON_CreateString(m->domains.d[k].name));
    }
    cJSON_AddItemToArray(ms, o);
  }
  return j;
}
