/* nodeutil.h: an in-process node's keystore, genesis and config. */
#include "nodeutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "genesis.h"

void nu_member(cx_member *m, const char *name, uint8_t role, const keystore_keys *k, const char *address,
               const char *domain) {
  memset(m, 0, sizeof *m);
  snprintf(m->name, sizeof m->name, "%s", name);
  m->role = role;
  m->key = k->pub;
  memcpy(m->enc_key, k->enc_public, 32);
  m->validator = address[0] != 0;
  snprintf(m->address, sizeof m->address, "%s", address);
  if (domain[0]) ck_assert_int_eq(domain_set_add(&m->domains, domain), CX_OK);
}

void nu_genesis_write(const char *dir, const char *chain, const cx_member *m, size_t n) {
  char path[512];
  vm_genesis *g = calloc(1, sizeof *g);
  ck_assert_ptr_nonnull(g);
  ck_assert_uint_le(n, sizeof g->members / sizeof g->members[0]);
  snprintf(g->chain_name, sizeof g->chain_name, "%s", chain);
  g->time_ms = 1;
  g->block_max_txs = 100;
  g->nmembers = n;
  memcpy(g->members, m, n * sizeof *m);
  cJSON *gj = genesis_to_json(g);
  char *text = cJSON_Print(gj);
  ck_assert_ptr_nonnull(text);
  snprintf(path, sizeof path, "%s/genesis.json", dir);
  ck_assert_int_eq(file_write_atomic(path, text, strlen(text), 0644), CX_OK);
  cJSON_Delete(gj);
  free(text);
  free(g);
}

void nu_keystore_save(const char *dir, const keystore_keys *k) {
  char path[512];
  snprintf(path, sizeof path, "%s/key.json", dir);
  ck_assert_int_eq(keystore_save(path, k, "pw", KS_KDF_FAST), CX_OK);
}

void nu_config(node_config *cfg, const char *dir, const char *name) {
  config_defaults(cfg);
  snprintf(cfg->name, sizeof cfg->name, "%s", name);
  snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s/data", dir);
  snprintf(cfg->genesis, sizeof cfg->genesis, "%s/genesis.json", dir);
  snprintf(cfg->keystore, sizeof cfg->keystore, "%s/key.json", dir);
  setenv("CUSTOS_PASSPHRASE", "pw", 1);
}
