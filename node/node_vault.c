/* node_vault: the vault of a bureau node (node_vault.h; docs/vault.md,
 * "Operating the vault"). Log lines name paths and key ids, never keys or
 * record values. */
#include "node_vault.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fileutil.h"
#include "log.h"

#define MOD "vault"
#define KEY_LABEL "custos/vault-key/v1"
#define KEYID_FILE "vault.keyid"

struct node_vault {
  pthread_mutex_t mu; /* one thread at a time uses the handle (vault.h) */
  vault *v;
  char keyid_path[CFG_PATH_MAX + sizeof "/" KEYID_FILE];
};

cx_err node_vault_key(const cx_seckey *sk, uint32_t key_id, uint8_t out[VAULT_KEY_BYTES]) {
  CX_ASSERT(sk && key_id >= 1);
  uint8_t msg[sizeof KEY_LABEL - 1 + 4];
  uint8_t *sec = sodium_malloc(32);
  if (!sec) return CX_E_NOMEM;
  memcpy(msg, KEY_LABEL, sizeof KEY_LABEL - 1);
  for (int i = 0; i < 4; i++) msg[sizeof KEY_LABEL - 1 + (size_t)i] = (uint8_t)(key_id >> (24 - 8 * i));
  key_secret_bytes(sk, sec);
  crypto_generichash(out, VAULT_KEY_BYTES, msg, sizeof msg, sec, 32);
  sodium_free(sec); /* wipes */
  return CX_OK;
}

cx_err node_vault_keyid_read(const char *path, uint32_t *id) {
  char *buf = NULL;
  size_t len = 0;
  cx_err e = file_read_all(path, 16, &buf, &len);
  if (e == CX_E_NOT_FOUND) {
    *id = 1;
    return CX_OK;
  }
  if (e == CX_E_TOO_LONG) return CX_E_CORRUPT;
  if (e) return e;
  /* Exactly what node_vault_keyid_write writes: digits, then one newline. */
  uint64_t v = 0;
  size_t i = 0;
  while (i < len && i < 10 && buf[i] >= '0' && buf[i] <= '9') v = v * 10 + (uint64_t)(buf[i++] - '0');
  int ok = i > 0 && buf[0] != '0' && i + 1 == len && buf[i] == '\n' && v >= 1 && v <= UINT32_MAX;
  free(buf);
  if (!ok) return CX_E_CORRUPT;
  *id = (uint32_t)v;
  return CX_OK;
}

cx_err node_vault_keyid_write(const char *path, uint32_t id) {
  char buf[16];
  int n = snprintf(buf, sizeof buf, "%u\n", (unsigned)id);
  return file_write_atomic(path, buf, (size_t)n, 0600);
}

/* vault_open with the key of key_id; the key is wiped before returning. */
static cx_err open_with(const char *dir, const cx_seckey *sk, uint32_t key_id, vault **out) {
  uint8_t *key = sodium_malloc(VAULT_KEY_BYTES);
  if (!key) return CX_E_NOMEM;
  cx_err e = node_vault_key(sk, key_id, key);
  if (!e) e = vault_open(dir, key, key_id, out);
  sodium_free(key);
  return e;
}

cx_err node_vault_open(const char *data_dir, const cx_seckey *sk, node_vault **out, char *err,
                       size_t errlen) {
  CX_ASSERT(data_dir && sk && out);
  *out = NULL;
  node_vault *nv = calloc(1, sizeof *nv);
  if (!nv) return CX_E_NOMEM;
  pthread_mutex_init(&nv->mu, NULL);
  snprintf(nv->keyid_path, sizeof nv->keyid_path, "%s/%s", data_dir, KEYID_FILE);
  uint32_t id = 1;
  cx_err e = node_vault_keyid_read(nv->keyid_path, &id);
  if (e) {
    cx_errf(err, errlen, e, "%s: %s", nv->keyid_path,
            e == CX_E_CORRUPT ? "expected a key id 1..4294967295 and a newline" : "cannot be read");
    goto fail;
  }
  e = open_with(data_dir, sk, id, &nv->v);
  if (e == CX_E_PASSPHRASE && id < UINT32_MAX) {
    /* A rotation whose batch committed before the key id file was rewritten
     * (node_vault_rotate): the vault is under id + 1. */
    if (open_with(data_dir, sk, id + 1, &nv->v) == CX_OK) {
      e = CX_OK;
      LOG_W(MOD, "%s named key id %u but the vault is under key id %u (a rotation was interrupted "
            "before the file was written)", nv->keyid_path, id, id + 1);
      if (node_vault_keyid_write(nv->keyid_path, id + 1) == CX_OK)
        LOG_I(MOD, "%s now names key id %u", nv->keyid_path, id + 1);
      else
        LOG_E(MOD, "cannot rewrite %s; the next start recovers it again", nv->keyid_path);
    }
  }
  if (e) {
    if (e == CX_E_PASSPHRASE)
      cx_errf(err, errlen, e, "%s/vault does not open with key id %u (or %u) derived from this "
              "member's keystore: another member key, or a damaged vault", data_dir, id, id + 1);
    else if (e == CX_E_LOCKED)
      cx_errf(err, errlen, e, "%s/vault is in use by another process", data_dir);
    else if (e == CX_E_BAD_VERSION)
      cx_errf(err, errlen, e, "%s/vault has a format this version does not open (format 1, before "
              "domain roots were blinded, is not upgraded): move it away and import the records "
              "again", data_dir);
    else
      cx_errf(err, errlen, e, "%s/vault cannot be opened: %s (%s)", data_dir, cx_err_str(e),
              cx_err_name(e));
    goto fail;
  }
  LOG_I(MOD, "vault %s/vault open under key id %u, access log of %llu entries", data_dir,
        vault_key_id(nv->v), (unsigned long long)vault_log_len(nv->v));
  *out = nv;
  return CX_OK;
fail:
  node_vault_close(nv);
  return e;
}

void node_vault_close(node_vault *nv) {
  if (!nv) return;
  vault_close(nv->v);
  pthread_mutex_destroy(&nv->mu);
  free(nv);
}

vault *node_vault_lock(node_vault *nv) {
  CX_ASSERT(nv);
  pthread_mutex_lock(&nv->mu);
  return nv->v;
}

void node_vault_unlock(node_vault *nv) { pthread_mutex_unlock(&nv->mu); }

cx_err node_vault_rotate(node_vault *nv, const cx_seckey *sk, uint32_t *new_id, int *file_ok) {
  CX_ASSERT(nv && sk && new_id && file_ok);
  *file_ok = 1;
  uint8_t *key = sodium_malloc(VAULT_KEY_BYTES);
  if (!key) return CX_E_NOMEM;
  pthread_mutex_lock(&nv->mu);
  uint32_t cur = vault_key_id(nv->v);
  cx_err e = cur == UINT32_MAX ? CX_E_FULL : node_vault_key(sk, cur + 1, key);
  if (!e) e = vault_rotate(nv->v, key, new_id);
  sodium_free(key);
  /* The batch is committed: the file follows. A crash right here is the
   * window node_vault_open recovers from. */
  if (!e && node_vault_keyid_write(nv->keyid_path, *new_id) != CX_OK) {
    *file_ok = 0;
    LOG_E(MOD, "rotated to key id %u but cannot write %s; the next start recovers it", *new_id,
          nv->keyid_path);
  }
  pthread_mutex_unlock(&nv->mu);
  if (!e) LOG_I(MOD, "vault rotated to key id %u", *new_id);
  return e;
}
