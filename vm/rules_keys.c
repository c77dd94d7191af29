/* Consortium keys (docs/keys.md; transactions 60..64 and 68): the vm's side
 * of the rules in keyrules.c. A key's latest epoch is one record
 * (vm_key_encode) under "ky/" + name, loaded, changed by keyrules and stored
 * back; when a new epoch replaces it (key_create over a FAILED key,
 * key_reshare, a FAILED reshare put back) the record it replaces is kept
 * under "kye/" + name + epoch, so every epoch stays readable
 * (vm_key_get_epoch: a node dealing in a reshare recomputes its old share
 * from it). The names of all keys are listed under "kyl"; the txids of every
 * transaction a key applied, in chain order and per epoch, are kept for
 * auditors (docs/keys.md §6), who replay them through the same keyrules
 * functions. */
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"


/* An identifier of 1..16 bytes, or nothing any key is stored under. */
static int key_name_ok(const char *name) { return name && str_valid(name, CX_KEY_NAME_MAX, STR_IDENT); }

/* prefix | name | extra (0, 4 or 8 bytes): names have no fixed length, but
 * every key of one prefix ends with the same number of fixed bytes, so the
 * length of the whole key tells where the name ends. */
static void key_of(vmi_key *k, const char *prefix, const char *name, const uint8_t *extra, size_t nextra) {
  uint8_t buf[CX_KEY_NAME_MAX + 8];
  size_t nl = strlen(name);
  CX_ASSERT(nl <= CX_KEY_NAME_MAX && nextra <= 8);
  memcpy(buf, name, nl);
  if (nextra) memcpy(buf + nl, extra, nextra);
  vmi_key_make(k, prefix, buf, nl + nextra);
}

/* The record under k, which must be name's (and, epoch >= 0, that epoch's). */
static cx_err key_load(const vm_state *st, const vmi_key *k, const char *name, int64_t epoch, vm_key *out) {
  uint8_t *v = NULL;
  size_t vl = 0;
  vm_key_init(out);
  cx_err err = st->get(st->ctx, k->b, k->n, &v, &vl);
  if (err) return err;
  /* vm_key_encode's first byte is its version (keyrules.c). */
  err = vm_key_decode(v, vl, out);
  free(v);
  if (err == CX_E_NOMEM) return err;
  if (err || strcmp(out->name, name) != 0 || (epoch >= 0 && out->epoch != (uint32_t)epoch)) {
    vm_key_clear(out);
    return CX_E_CORRUPT;
  }
  return CX_OK;
}

cx_err vm_key_get(const vm_state *st, const char *name, vm_key *out) {
  vmi_key k;
  vm_key_init(out);
  if (!key_name_ok(name)) return CX_E_NOT_FOUND;
  key_of(&k, VMK_KEY, name, NULL, 0);
  return key_load(st, &k, name, -1, out);
}

static void epoch_key(vmi_key *k, const char *name, uint32_t epoch) {
  uint8_t ep[4];
  put_be32(ep, epoch);
  key_of(k, VMK_KEY_EPOCH, name, ep, 4);
}

cx_err vm_key_get_epoch(const vm_state *st, const char *name, uint32_t epoch, vm_key *out) {
  vmi_key k;
  cx_err err = vm_key_get(st, name, out);
  if (err || out->epoch == epoch) return err;
  uint32_t last = out->last_epoch;
  vm_key_clear(out);
  if (epoch > last) return CX_E_NOT_FOUND; /* not run yet */
  epoch_key(&k, name, epoch);
  err = key_load(st, &k, name, epoch, out);
  /* every epoch up to last_epoch was kept when it was replaced */
  return err == CX_E_NOT_FOUND ? CX_E_CORRUPT : err;
}

static cx_err rec_put(const vm_state *st, const vmi_key *k, const vm_key *key) {
  uint8_t *v;
  size_t vl;
  cx_err err = vm_key_encode(key, &v, &vl);
  if (err) return err;
  err = st->put(st->ctx, k->b, k->n, v, vl);
  free(v);
  return err;
}

/* key as the name's latest record. */
static cx_err key_put(const vm_state *st, const vm_key *key) {
  vmi_key k;
  key_of(&k, VMK_KEY, key->name, NULL, 0);
  return rec_put(st, &k, key);
}

/* key kept under its epoch: a newer epoch is about to replace it. */
static cx_err key_archive(const vm_state *st, const vm_key *key) {
  vmi_key k;
  epoch_key(&k, key->name, key->epoch);
  return rec_put(st, &k, key);
}

/* ---- the list of names: u8 version | varint n | n x str, ascending ---- */

typedef struct {
  size_t n, cap;
  char (*names)[CX_KEY_NAME_MAX + 1];
} name_list;

static cx_err list_load(const vm_state *st, name_list *l) {
  vmi_key k;
  uint8_t *v = NULL, ver;
  size_t vl = 0;
  uint64_t n;
  cx_dec d;
  memset(l, 0, sizeof *l);
  vmi_key_make(&k, VMK_KEY_LIST, NULL, 0);
  cx_err err = st->get(st->ctx, k.b, k.n, &v, &vl);
  if (err == CX_E_NOT_FOUND) return CX_OK;
  if (err) return err;
  dec_init(&d, v, vl);
  if (!dec_u8(&d, &ver) && ver != VM_REC_VERSION) dec_fail(&d, CX_E_BAD_VERSION);
  /* each name takes at least 2 bytes: a count the record cannot hold is damage */
  if (!d.err && !dec_varint(&d, &n) && n > vl / 2) dec_fail(&d, CX_E_TRUNCATED);
  if (!d.err) {
    l->cap = (size_t)n + 1; /* room for one insertion */
    if (!(l->names = malloc(l->cap * sizeof *l->names))) {
      free(v);
      return CX_E_NOMEM;
    }
    for (size_t i = 0; i < n && !d.err; i++) {
      if (dec_str(&d, l->names[i], CX_KEY_NAME_MAX, STR_IDENT)) break;
      if (i > 0 && strcmp(l->names[i - 1], l->names[i]) >= 0) dec_fail(&d, CX_E_UNSORTED);
      l->n = i + 1;
    }
  }
  err = dec_finish(&d) == CX_OK ? CX_OK : CX_E_CORRUPT;
  free(v);
  if (err) {
    free(l->names);
    memset(l, 0, sizeof *l);
  }
  return err;
}

static cx_err list_insert(const vm_state *st, const char *name) {
  name_list l;
  vmi_key k;
  cx_enc e;
  cx_err err = list_load(st, &l);
  if (err) return err;
  if (l.n == l.cap) { /* empty list: nothing was allocated */
    free(l.names);
    if (!(l.names = malloc(sizeof *l.names))) return CX_E_NOMEM;
  }
  size_t i = 0;
  while (i < l.n && strcmp(l.names[i], name) < 0) i++;
  if (i < l.n && strcmp(l.names[i], name) == 0) {
    free(l.names);
    return CX_E_CORRUPT; /* the key record was absent but its name listed */
  }
  memmove(l.names[i + 1], l.names[i], (l.n - i) * sizeof l.names[0]);
  strcpy(l.names[i], name);
  l.n++;
  enc_init(&e);
  enc_u8(&e, VM_REC_VERSION);
  enc_varint(&e, l.n);
  for (size_t j = 0; j < l.n; j++) enc_str(&e, l.names[j]);
  free(l.names);
  vmi_key_make(&k, VMK_KEY_LIST, NULL, 0);
  err = enc_finish(&e);
  if (!err) err = st->put(st->ctx, k.b, k.n, e.buf, e.len);
  enc_free(&e);
  return err;
}

cx_err vm_key_names(const vm_state *st, char (*names)[CX_KEY_NAME_MAX + 1], size_t cap, size_t *n) {
  name_list l;
  cx_err err = list_load(st, &l);
  if (err) return err;
  for (size_t i = 0; i < l.n && i < cap; i++) strcpy(names[i], l.names[i]);
  *n = l.n;
  free(l.names);
  return l.n > cap ? CX_E_FULL : CX_OK;
}

/* ---- the transactions of a key, per epoch, in chain order ----
 * "kyn/" + name + u32be epoch -> u8 version | varint count;
 * "kyt/" + name + u32be epoch + u32be seq -> u8 version | txid[32]. */

static cx_err txid_count(const vm_state *st, const char *name, uint32_t epoch, uint64_t *count) {
  vmi_key k;
  uint8_t ep[4], *v = NULL, ver;
  size_t vl = 0;
  cx_dec d;
  put_be32(ep, epoch);
  key_of(&k, VMK_KEY_TXN, name, ep, 4);
  *count = 0;
  cx_err err = st->get(st->ctx, k.b, k.n, &v, &vl);
  if (err == CX_E_NOT_FOUND) return CX_OK;
  if (err) return err;
  dec_init(&d, v, vl);
  if (!dec_u8(&d, &ver) && ver != VM_REC_VERSION) dec_fail(&d, CX_E_BAD_VERSION);
  if (!d.err) dec_varint_max(&d, count, UINT32_MAX);
  err = dec_finish(&d) == CX_OK ? CX_OK : CX_E_CORRUPT;
  free(v);
  return err;
}

static void txid_key(vmi_key *k, const char *name, uint32_t epoch, uint32_t seq) {
  uint8_t x[8];
  put_be32(x, epoch);
  put_be32(x + 4, seq);
  key_of(k, VMK_KEY_TX, name, x, 8);
}

static cx_err txid_append(const vm_state *st, const char *name, uint32_t epoch, const cx_hash *txid) {
  vmi_key k;
  uint8_t ep[4], rec[1 + 32], cnt[1 + CX_VARINT_MAX];
  uint64_t count;
  cx_err err = txid_count(st, name, epoch, &count);
  if (err) return err;
  if (count >= UINT32_MAX) return CX_E_FULL;
  rec[0] = VM_REC_VERSION;
  memcpy(rec + 1, txid->b, 32);
  txid_key(&k, name, epoch, (uint32_t)count);
  if ((err = st->put(st->ctx, k.b, k.n, rec, sizeof rec))) return err;
  cnt[0] = VM_REC_VERSION;
  size_t cl = 1 + varint_put(cnt + 1, count + 1);
  put_be32(ep, epoch);
  key_of(&k, VMK_KEY_TXN, name, ep, 4);
  return st->put(st->ctx, k.b, k.n, cnt, cl);
}

cx_err vm_key_txids(const vm_state *st, const char *name, uint32_t epoch, cx_hash **out, size_t *n) {
  uint64_t count;
  *out = NULL;
  *n = 0;
  if (!key_name_ok(name)) return CX_OK;
  cx_err err = txid_count(st, name, epoch, &count);
  if (err || count == 0) return err;
  cx_hash *ids = malloc((size_t)count * sizeof *ids);
  if (!ids) return CX_E_NOMEM;
  for (uint32_t i = 0; i < count; i++) {
    vmi_key k;
    uint8_t *v = NULL;
    size_t vl = 0;
    txid_key(&k, name, epoch, i);
    err = st->get(st->ctx, k.b, k.n, &v, &vl);
    if (err == CX_E_NOT_FOUND) err = CX_E_CORRUPT; /* counted but absent */
    if (!err && (vl != 33 || v[0] != VM_REC_VERSION)) err = CX_E_CORRUPT;
    if (!err) memcpy(ids[i].b, v + 1, 32);
    free(v);
    if (err) {
      free(ids);
      return err;
    }
  }
  *out = ids;
  *n = (size_t)count;
  return CX_OK;
}

/* ---- the rules ---- */

cx_err vmi_rule_key_create(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_key_create *kc = &c->tx->u.kcreate;
  cx_member m, *vals = malloc(CX_MAX_VALIDATORS * sizeof *vals);
  vm_key *old = malloc(sizeof *old), *nk = malloc(sizeof *nk);
  size_t nval = 0, nmem = 0;
  int have_m, have_old = 0;
  cx_err err = CX_OK;
  if (old) vm_key_init(old);
  if (nk) vm_key_init(nk);
  if (!vals || !old || !nk) {
    err = CX_E_NOMEM;
    goto out;
  }
  VM_TRY(vmi_sender_member(c, &m, &have_m));
  VM_TRY(vm_validators(c->st, vals, CX_MAX_VALIDATORS, &nval));
  /* A custody key's k is 1..members (docs/keys.md §9). cap 0: the count
   * alone, with CX_E_FULL when there is any member. */
  err = vm_members(c->st, NULL, 0, &nmem);
  if (err == CX_E_FULL) err = CX_OK;
  if (err) goto out;
  /* An invalid name is no stored key's: vm_key_create refuses it. */
  VM_TRY(vmi_found(vm_key_get(c->st, kc->name, old), &have_old));
  /* §3's order: the parameters and the sender first, then key_exists. */
  VM_TRY(vm_key_create(&c->tx->chain_id, kc, vals, nval, nmem, have_m && m.validator, have_m,
                       have_old && old->phase == VM_KEY_FAILED ? old : NULL, c->height, nk, rej));
  if (*rej) goto out;
  if (have_old && old->phase != VM_KEY_FAILED) VM_REJECT(CX_E_KEY_EXISTS);
  if (have_old) VM_TRY(key_archive(c->st, old));
  VM_TRY(key_put(c->st, nk));
  if (!have_old) VM_TRY(list_insert(c->st, nk->name));
  VM_TRY(txid_append(c->st, nk->name, nk->epoch, c->txid));
out:
  if (old) vm_key_clear(old);
  if (nk) vm_key_clear(nk);
  free(old);
  free(nk);
  free(vals);
  return err;
}

/* key_reshare (docs/keys.md §10): the latest record (key_unknown without
 * one), the validators now, the sender's role and which old parties are
 * still members, then keyrules. Effect: the READY record is kept under its
 * epoch and the reshare run becomes the latest. */
static cx_err rule_key_reshare(const vmi_ctx *c, cx_err *rej) {
  const cx_tx_key_reshare *kr = &c->tx->u.kreshare;
  cx_member m, *vals = malloc(CX_MAX_VALIDATORS * sizeof *vals), *live = malloc(CX_MAX_VALIDATORS * sizeof *live);
  vm_key *old = malloc(sizeof *old), *nk = malloc(sizeof *nk);
  size_t nval = 0, nlive = 0;
  int have_m, have_old = 0;
  cx_err err = CX_OK;
  if (old) vm_key_init(old);
  if (nk) vm_key_init(nk);
  if (!vals || !live || !old || !nk) {
    err = CX_E_NOMEM;
    goto out;
  }
  VM_TRY(vmi_found(vm_key_get(c->st, kr->name, old), &have_old));
  VM_TRY(vmi_sender_member(c, &m, &have_m));
  VM_TRY(vm_validators(c->st, vals, CX_MAX_VALIDATORS, &nval));
  /* the old parties that are members now (a removed member's key, or a
   * re-keyed member's old key, is no member's) */
  for (uint32_t i = 0; have_old && i < old->n; i++) {
    cx_err e = vm_member_by_key(c->st, &old->parties[i], &live[nlive]);
    if (e == CX_OK)
      nlive++;
    else if (e != CX_E_NOT_FOUND)
      VM_TRY(e);
  }
  VM_TRY(vm_key_reshare(&c->tx->chain_id, have_old ? old : NULL, kr, vals, nval, have_m && m.validator, live,
                        nlive, c->height, nk, rej));
  if (*rej) goto out;
  VM_TRY(key_archive(c->st, old));
  VM_TRY(key_put(c->st, nk));
  VM_TRY(txid_append(c->st, nk->name, nk->epoch, c->txid));
out:
  if (old) vm_key_clear(old);
  if (nk) vm_key_clear(nk);
  free(old);
  free(nk);
  free(vals);
  free(live);
  return err;
}

/* A reshare that ended FAILED (docs/keys.md §10): its record is kept under
 * its epoch and the READY record it started from becomes the latest again,
 * with last_epoch = the failed run's, so the key stays usable at its old
 * epoch with its old parties and shares, and a later key_reshare runs as a
 * new epoch. */
static cx_err reshare_failed(const vm_state *st, const vm_key *k) {
  vmi_key key;
  vm_key *old = malloc(sizeof *old);
  if (!old) return CX_E_NOMEM;
  vm_key_init(old);
  cx_err err = key_archive(st, k);
  if (!err) {
    epoch_key(&key, k->name, k->from_epoch);
    err = key_load(st, &key, k->name, k->from_epoch, old);
    if (err == CX_E_NOT_FOUND) err = CX_E_CORRUPT; /* kept by key_reshare */
  }
  if (!err && old->phase != VM_KEY_READY) err = CX_E_CORRUPT;
  if (!err) {
    old->last_epoch = k->epoch;
    err = key_put(st, old);
  }
  vm_key_clear(old);
  free(old);
  return err;
}

/* key_deal, key_verdict, key_answer, key_advance: key_unknown, then
 * keyrules; key_reshare: rule_key_reshare. */
cx_err vmi_rule_key_tx(const vmi_ctx *c, cx_err *rej) {
  if (c->tx->type == TX_KEY_RESHARE) return rule_key_reshare(c, rej);
  vm_key *k = malloc(sizeof *k);
  int have;
  cx_err err = CX_OK;
  if (!k) return CX_E_NOMEM;
  vm_key_init(k);
  VM_TRY(vmi_found(vm_key_get(c->st, tx_key_name(c->tx), k), &have));
  if (!have) VM_REJECT(CX_E_KEY_UNKNOWN);
  VM_TRY(vm_key_apply(k, c->tx, c->height, rej));
  if (*rej) goto out;
  /* the txid joins its epoch's list whatever the end */
  VM_TRY(txid_append(c->st, k->name, k->epoch, c->txid));
  if (k->reshare && k->phase == VM_KEY_FAILED)
    VM_TRY(reshare_failed(c->st, k));
  else
    VM_TRY(key_put(c->st, k));
out:
  vm_key_clear(k);
  free(k);
  return err;
}
