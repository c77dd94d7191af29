/* State records: key layout, canonical encodings and getters.
 *
 * Every record is "u8 version | fields" in the canonical codec. Decoders
 * check the version, every field's format, the invariants a writer keeps
 * (sorted sets, counts under caps, zero fields that only mean something in
 * another state) and that nothing trails: a damaged store is reported as
 * CX_E_CORRUPT, never acted upon. */
#include <stdlib.h>
#include <string.h>

#include "vm_internal.h"

/* ---- keys and plumbing ---- */

void vmi_key_make(vmi_key *k, const char *prefix, const void *p, size_t n) {
  size_t pl = strlen(prefix);
  CX_ASSERT(pl + n <= sizeof k->b);
  memcpy(k->b, prefix, pl);
  if (n) memcpy(k->b + pl, p, n);
  k->n = pl + n;
}

static void key_name(vmi_key *k, const char *prefix, const char *name) {
  vmi_key_make(k, prefix, name, strlen(name));
}

cx_err vmi_found(cx_err e, int *have) {
  *have = e == CX_OK;
  return e == CX_E_NOT_FOUND ? CX_OK : e;
}

static cx_err st_get(const vm_state *st, const vmi_key *k, uint8_t **v, size_t *vl) {
  *v = NULL;
  *vl = 0;
  return st->get(st->ctx, k->b, k->n, v, vl);
}

static cx_err st_del(const vm_state *st, const vmi_key *k) {
  return st->del(st->ctx, k->b, k->n);
}

static void rec_begin_enc(cx_enc *e) {
  enc_init(e);
  enc_u8(e, VM_REC_VERSION);
}

/* Stores an encoded record and frees the writer. */
static cx_err put_enc(const vm_state *st, const vmi_key *k, cx_enc *e) {
  cx_err err = enc_finish(e);
  if (!err) err = st->put(st->ctx, k->b, k->n, e->buf, e->len);
  enc_free(e);
  return err;
}

static int rec_begin_dec(cx_dec *d, const uint8_t *v, size_t vl) {
  uint8_t ver;
  dec_init(d, v, vl);
  if (dec_u8(d, &ver)) return -1;
  return ver == VM_REC_VERSION ? 0 : dec_fail(d, CX_E_BAD_VERSION);
}

/* The codec's verdict on a whole record, as a store error. */
static cx_err rec_end(cx_dec *d) { return dec_finish(d) == CX_OK ? CX_OK : CX_E_CORRUPT; }

cx_err vmi_rec_put(const vm_state *st, const vmi_key *k, cx_enc *e) { return put_enc(st, k, e); }

cx_err vmi_rec_get(const vm_state *st, const vmi_key *k, uint8_t **v, cx_dec *d) {
  size_t vl = 0;
  cx_err err = st_get(st, k, v, &vl);
  if (err) return err;
  (void)rec_begin_dec(d, *v, vl); /* a bad version is the decoder's failure: vmi_rec_end reports it */
  return CX_OK;
}

cx_err vmi_rec_end(cx_dec *d) { return rec_end(d); }

/* Sorted, strictly ascending list of identifiers: varint n | n x str. */
static void names_enc(cx_enc *e, char (*names)[CX_NAME_MAX + 1], size_t n) {
  enc_varint(e, n);
  for (size_t i = 0; i < n; i++) enc_str(e, names[i]);
}

static int names_dec(cx_dec *d, char (*names)[CX_NAME_MAX + 1], size_t cap, size_t *n) {
  uint64_t cnt;
  if (dec_varint_max(d, &cnt, cap)) return -1;
  for (size_t i = 0; i < cnt; i++) {
    if (dec_str(d, names[i], CX_NAME_MAX, STR_IDENT)) return -1;
    if (i > 0 && strcmp(names[i - 1], names[i]) >= 0) return dec_fail(d, CX_E_UNSORTED);
  }
  *n = (size_t)cnt;
  return 0;
}

int vmi_name_index(char (*names)[CX_NAME_MAX + 1], size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(names[i], name) == 0) return (int)i;
  return -1;
}

void vmi_name_insert(char (*names)[CX_NAME_MAX + 1], size_t *n, const char *name) {
  size_t i = 0;
  while (i < *n && strcmp(names[i], name) < 0) i++;
  memmove(names[i + 1], names[i], (*n - i) * sizeof names[0]);
  strcpy(names[i], name);
  (*n)++;
}

/* A record holding one member name (mk/, me/, md/). */
static cx_err name_get(const vm_state *st, const vmi_key *k, char name[CX_NAME_MAX + 1]) {
  uint8_t *v;
  size_t vl;
  cx_dec d;
  cx_err err = st_get(st, k, &v, &vl);
  if (err) return err;
  if (!rec_begin_dec(&d, v, vl)) dec_str(&d, name, CX_NAME_MAX, STR_IDENT);
  err = rec_end(&d);
  free(v);
  return err;
}

static cx_err name_put(const vm_state *st, const vmi_key *k, const char *name) {
  cx_enc e;
  rec_begin_enc(&e);
  enc_str(&e, name);
  return put_enc(st, k, &e);
}

/* ---- member records ---- */

/* A C string that fits its array and is valid for its class. */
static int cstr_ok(const char *s, size_t size, size_t cap, str_class cls) {
  return memchr(s, 0, size) != NULL && str_valid(s, cap, cls);
}

const char *vmi_member_problem(const cx_member *m) {
  if (!cstr_ok(m->name, sizeof m->name, CX_NAME_MAX, STR_IDENT))
    return "name is not an identifier ([a-z0-9_-], 1 to 32 bytes)";
  if (m->role < ROLE_BUREAU || m->role > ROLE_REGULATOR)
    return "role is not bureau, insurer, auditor or regulator";
  if (m->validator > 1) return "validator is not 0 or 1";
  if (!memchr(m->address, 0, sizeof m->address)) return "address is over 96 bytes";
  if (m->validator && !m->address[0]) return "a validator needs an address";
  if (!m->validator && m->address[0]) return "only validators have an address";
  if (!str_valid(m->address, CX_ADDR_MAX, STR_ADDR))
    return "address is not printable ASCII without spaces";
  if (m->domains.n > CX_DOMAINS_MAX) return "more than 8 domains";
  for (size_t i = 0; i < m->domains.n; i++) {
    const char *d = m->domains.d[i].name;
    if (!cstr_ok(d, sizeof m->domains.d[i].name, CX_DOMAIN_MAX, STR_IDENT))
      return "a domain name is not an identifier (1 to 16 bytes)";
    if (i > 0 && strcmp(m->domains.d[i - 1].name, d) >= 0)
      return "domains are not strictly ascending";
  }
  if (m->role != ROLE_BUREAU && m->domains.n) return "only bureaus own data domains";
  return NULL;
}

/* ---- accounts ---- */

cx_err vm_account_nonce(const vm_state *st, const cx_pubkey *key, uint64_t *nonce) {
  vmi_key k;
  uint8_t *v;
  size_t vl;
  cx_dec d;
  vmi_key_make(&k, VMK_ACCOUNT, key->b, 32);
  cx_err err = st_get(st, &k, &v, &vl);
  if (err == CX_E_NOT_FOUND) {
    *nonce = 0;
    return CX_OK;
  }
  if (err) return err;
  if (!rec_begin_dec(&d, v, vl)) dec_varint(&d, nonce);
  err = rec_end(&d);
  free(v);
  return err;
}

cx_err vmi_nonce_put(const vm_state *st, const cx_pubkey *key, uint64_t nonce) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_ACCOUNT, key->b, 32);
  rec_begin_enc(&e);
  enc_varint(&e, nonce);
  return put_enc(st, &k, &e);
}

/* ---- members ---- */

cx_err vm_member_get(const vm_state *st, const char *name, cx_member *out) {
  vmi_key k;
  uint8_t *v;
  size_t vl;
  cx_dec d;
  if (!str_valid(name, CX_NAME_MAX, STR_IDENT)) return CX_E_NOT_FOUND;
  key_name(&k, VMK_MEMBER, name);
  cx_err err = st_get(st, &k, &v, &vl);
  if (err) return err;
  if (!rec_begin_dec(&d, v, vl)) member_dec(&d, out);
  err = rec_end(&d);
  /* The record must be the one its key names. */
  if (!err && strcmp(out->name, name) != 0) err = CX_E_CORRUPT;
  free(v);
  return err;
}

cx_err vm_member_by_key(const vm_state *st, const cx_pubkey *key, cx_member *out) {
  vmi_key k;
  char name[CX_NAME_MAX + 1];
  vmi_key_make(&k, VMK_MEMBER_KEY, key->b, 32);
  cx_err err = name_get(st, &k, name);
  if (err) return err;
  err = vm_member_get(st, name, out);
  /* A dangling index entry is damage, not absence. */
  if (err == CX_E_NOT_FOUND) return CX_E_CORRUPT;
  if (!err && memcmp(out->key.b, key->b, 32) != 0) return CX_E_CORRUPT;
  return err;
}

cx_err vmi_member_by_enc(const vm_state *st, const uint8_t enc_key[32],
                         char name[CX_NAME_MAX + 1]) {
  vmi_key k;
  vmi_key_make(&k, VMK_MEMBER_ENC, enc_key, 32);
  return name_get(st, &k, name);
}

cx_err vm_domain_owner(const vm_state *st, const char *domain,
                       char owner[CX_NAME_MAX + 1]) {
  vmi_key k;
  if (!str_valid(domain, CX_DOMAIN_MAX, STR_IDENT)) return CX_E_NOT_FOUND;
  key_name(&k, VMK_DOMAIN, domain);
  return name_get(st, &k, owner);
}

cx_err vmi_member_write(const vm_state *st, const cx_member *m) {
  vmi_key k;
  cx_enc e;
  cx_err err;
  key_name(&k, VMK_MEMBER, m->name);
  rec_begin_enc(&e);
  member_enc(&e, m);
  if ((err = put_enc(st, &k, &e))) return err;
  vmi_key_make(&k, VMK_MEMBER_KEY, m->key.b, 32);
  if ((err = name_put(st, &k, m->name))) return err;
  vmi_key_make(&k, VMK_MEMBER_ENC, m->enc_key, 32);
  if ((err = name_put(st, &k, m->name))) return err;
  for (size_t i = 0; i < m->domains.n; i++) {
    key_name(&k, VMK_DOMAIN, m->domains.d[i].name);
    if ((err = name_put(st, &k, m->name))) return err;
  }
  return CX_OK;
}

cx_err vmi_member_erase(const vm_state *st, const cx_member *m) {
  vmi_key k;
  cx_err err;
  key_name(&k, VMK_MEMBER, m->name);
  if ((err = st_del(st, &k))) return err;
  vmi_key_make(&k, VMK_MEMBER_KEY, m->key.b, 32);
  if ((err = st_del(st, &k))) return err;
  vmi_key_make(&k, VMK_MEMBER_ENC, m->enc_key, 32);
  if ((err = st_del(st, &k))) return err;
  for (size_t i = 0; i < m->domains.n; i++) {
    key_name(&k, VMK_DOMAIN, m->domains.d[i].name);
    if ((err = st_del(st, &k))) return err;
  }
  return CX_OK;
}

cx_err vmi_names_get(const vm_state *st, char (*names)[CX_NAME_MAX + 1], size_t *n) {
  vmi_key k;
  uint8_t *v;
  size_t vl;
  cx_dec d;
  vmi_key_make(&k, VMK_MEMBER_LIST, NULL, 0);
  *n = 0;
  cx_err err = st_get(st, &k, &v, &vl);
  if (err == CX_E_NOT_FOUND) return CX_OK;
  if (err) return err;
  if (!rec_begin_dec(&d, v, vl)) names_dec(&d, names, VM_MAX_MEMBERS, n);
  err = rec_end(&d);
  if (err) *n = 0;
  free(v);
  return err;
}

cx_err vmi_names_put(const vm_state *st, char (*names)[CX_NAME_MAX + 1], size_t n) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_MEMBER_LIST, NULL, 0);
  rec_begin_enc(&e);
  names_enc(&e, names, n);
  return put_enc(st, &k, &e);
}

/* Loads the list into a heap array (VM_MAX_MEMBERS names is 8 KiB). */
static cx_err names_load(const vm_state *st, char (**names)[CX_NAME_MAX + 1], size_t *n) {
  *names = malloc(VM_MAX_MEMBERS * sizeof **names);
  if (!*names) return CX_E_NOMEM;
  cx_err err = vmi_names_get(st, *names, n);
  if (err) {
    free(*names);
    *names = NULL;
  }
  return err;
}

cx_err vmi_names_insert(const vm_state *st, const char *name) {
  char(*names)[CX_NAME_MAX + 1];
  size_t n;
  cx_err err = names_load(st, &names, &n);
  if (err) return err;
  if (vmi_name_index(names, n, name) >= 0) {
    err = CX_E_CORRUPT; /* the member record was absent but its name listed */
    goto out;
  }
  if (n >= VM_MAX_MEMBERS) {
    err = CX_E_FULL; /* the rules check capacity first */
    goto out;
  }
  vmi_name_insert(names, &n, name);
  err = vmi_names_put(st, names, n);
out:
  free(names);
  return err;
}

cx_err vmi_names_remove(const vm_state *st, const char *name) {
  char(*names)[CX_NAME_MAX + 1];
  size_t n;
  cx_err err = names_load(st, &names, &n);
  if (err) return err;
  int i = vmi_name_index(names, n, name);
  if (i < 0) {
    err = CX_E_CORRUPT;
    goto out;
  }
  memmove(names[i], names[i + 1], (n - (size_t)i - 1) * sizeof names[0]);
  err = vmi_names_put(st, names, n - 1);
out:
  free(names);
  return err;
}

cx_err vm_members(const vm_state *st, cx_member *out, size_t cap, size_t *n) {
  char(*names)[CX_NAME_MAX + 1];
  size_t cnt;
  cx_err err = names_load(st, &names, &cnt);
  if (err) return err;
  *n = cnt;
  if (cnt > cap) {
    err = CX_E_FULL;
    goto out;
  }
  for (size_t i = 0; i < cnt; i++) {
    err = vm_member_get(st, names[i], &out[i]);
    if (err == CX_E_NOT_FOUND) err = CX_E_CORRUPT; /* listed but absent */
    if (err) goto out;
  }
out:
  free(names);
  return err;
}

cx_err vmi_members_load(const vm_state *st, cx_member **out, size_t *n) {
  *out = malloc(VM_MAX_MEMBERS * sizeof **out);
  if (!*out) return CX_E_NOMEM;
  cx_err err = vm_members(st, *out, VM_MAX_MEMBERS, n);
  if (err) {
    free(*out);
    *out = NULL;
  }
  return err;
}

cx_err vm_validators(const vm_state *st, cx_member *out, size_t cap, size_t *n) {
  cx_member *all;
  size_t cnt, k = 0;
  cx_err err = vmi_members_load(st, &all, &cnt);
  if (err) return err;
  for (size_t i = 0; i < cnt; i++) {
    if (!all[i].validator) continue;
    if (k < cap) out[k] = all[i];
    k++;
  }
  *n = k;
  free(all);
  return k > cap ? CX_E_FULL : CX_OK;
}

/* ---- proposals ---- */

/* What a proposal records of the member depends on the action, as in the
 * transaction body: add the whole record, remove the name, rekey name and
 * keys. */
static void proposal_member_enc(cx_enc *e, uint8_t action, const cx_member *m) {
  if (action == GOV_ADD) {
    member_enc(e, m);
  } else {
    enc_str(e, m->name);
    if (action == GOV_REKEY) {
      enc_fixed(e, m->key.b, 32);
      enc_fixed(e, m->enc_key, 32);
    }
  }
}

static int proposal_member_dec(cx_dec *d, uint8_t action, cx_member *m) {
  memset(m, 0, sizeof *m);
  if (action == GOV_ADD) return member_dec(d, m);
  if (dec_str(d, m->name, CX_NAME_MAX, STR_IDENT)) return -1;
  if (action == GOV_REKEY)
    return dec_fixed(d, m->key.b, 32) || dec_fixed(d, m->enc_key, 32);
  return 0;
}

cx_err vmi_proposal_put(const vm_state *st, const vm_proposal *p) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_PROPOSAL, p->id.b, 32);
  rec_begin_enc(&e);
  enc_u8(&e, p->action);
  proposal_member_enc(&e, p->action, &p->member);
  enc_varint(&e, p->expires);
  enc_str(&e, p->proposer);
  enc_bool(&e, p->applied);
  enc_varint(&e, p->applied_height);
  names_enc(&e, (char(*)[CX_NAME_MAX + 1])p->approvals, p->napprovals);
  return put_enc(st, &k, &e);
}

cx_err vm_proposal_get(const vm_state *st, const cx_hash *id, vm_proposal *out) {
  vmi_key k;
  uint8_t *v;
  size_t vl, n = 0;
  cx_dec d;
  int applied = 0;
  vmi_key_make(&k, VMK_PROPOSAL, id->b, 32);
  cx_err err = st_get(st, &k, &v, &vl);
  if (err) return err;
  memset(out, 0, sizeof *out);
  out->id = *id;
  if (!rec_begin_dec(&d, v, vl) && !dec_enum(&d, &out->action, GOV_ADD, GOV_REKEY) &&
      !proposal_member_dec(&d, out->action, &out->member) &&
      !dec_varint(&d, &out->expires) &&
      !dec_str(&d, out->proposer, CX_NAME_MAX, STR_IDENT) && !dec_bool(&d, &applied) &&
      !dec_varint(&d, &out->applied_height) &&
      !names_dec(&d, out->approvals, UINT8_MAX, &n)) {
    out->applied = (uint8_t)applied;
    out->napprovals = (uint8_t)n;
    /* applied_height means something only once applied. */
    if (!applied && out->applied_height) dec_fail(&d, CX_E_NONCANONICAL);
  }
  err = rec_end(&d);
  free(v);
  return err;
}

/* ---- identities ---- */

cx_err vmi_identity_put(const vm_state *st, const vm_identity *id) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_IDENTITY, id->did.b, 32);
  rec_begin_enc(&e);
  enc_fixed(&e, id->key.b, 32);
  enc_bool(&e, id->revoked);
  enc_varint(&e, id->registered_height);
  enc_varint(&e, id->revoked_height);
  enc_varint(&e, id->nattest);
  for (size_t i = 0; i < id->nattest; i++) {
    enc_str(&e, id->attest[i].bureau);
    enc_u8(&e, id->attest[i].level);
    enc_varint(&e, id->attest[i].height);
  }
  return put_enc(st, &k, &e);
}

static int identity_dec(cx_dec *d, vm_identity *out) {
  int revoked;
  uint64_t n;
  if (dec_fixed(d, out->key.b, 32) || dec_bool(d, &revoked) ||
      dec_varint(d, &out->registered_height) || dec_varint(d, &out->revoked_height) ||
      dec_varint_max(d, &n, VM_MAX_ATTESTATIONS))
    return -1;
  out->revoked = (uint8_t)revoked;
  if (!revoked && out->revoked_height) return dec_fail(d, CX_E_NONCANONICAL);
  for (size_t i = 0; i < n; i++) {
    vm_attestation *a = &out->attest[i];
    if (dec_str(d, a->bureau, CX_NAME_MAX, STR_IDENT) ||
        dec_enum(d, &a->level, LEVEL_EA5_MINUS, LEVEL_EA5_PLUS) ||
        dec_varint(d, &a->height))
      return -1;
    if (i > 0 && strcmp(out->attest[i - 1].bureau, a->bureau) >= 0)
      return dec_fail(d, CX_E_UNSORTED);
  }
  out->nattest = (uint8_t)n;
  return 0;
}

cx_err vm_identity_get(const vm_state *st, const cx_hash *did, vm_identity *out) {
  vmi_key k;
  uint8_t *v;
  size_t vl;
  cx_dec d;
  vmi_key_make(&k, VMK_IDENTITY, did->b, 32);
  cx_err err = st_get(st, &k, &v, &vl);
  if (err) return err;
  memset(out, 0, sizeof *out);
  out->did = *did;
  if (!rec_begin_dec(&d, v, vl)) identity_dec(&d, out);
  err = rec_end(&d);
  free(v);
  return err;
}

cx_err vmi_subject_get(const vm_state *st, const cx_pubkey *key, cx_hash *did) {
  vmi_key k;
  uint8_t *v;
  size_t vl;
  cx_dec d;
  vmi_key_make(&k, VMK_SUBJECT_KEY, key->b, 32);
  cx_err err = st_get(st, &k, &v, &vl);
  if (err) return err;
  if (!rec_begin_dec(&d, v, vl)) dec_fixed(&d, did->b, 32);
  err = rec_end(&d);
  free(v);
  return err;
}

cx_err vmi_subject_put(const vm_state *st, const cx_pubkey *key, const cx_hash *did) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_SUBJECT_KEY, key->b, 32);
  rec_begin_enc(&e);
  enc_fixed(&e, did->b, 32);
  return put_enc(st, &k, &e);
}

cx_err vmi_subject_del(const vm_state *st, const cx_pubkey *key) {
  vmi_key k;
  vmi_key_make(&k, VMK_SUBJECT_KEY, key->b, 32);
  return st_del(st, &k);
}

cx_err vmi_key_in_use(const vm_state *st, const cx_pubkey *key, int *used) {
  vmi_key k;
  uint8_t *v;
  size_t vl;
  cx_hash did;
  cx_err err = vmi_found(vmi_subject_get(st, key, &did), used);
  if (err || *used) return err;
  /* Existence of the member index entry is enough here. */
  vmi_key_make(&k, VMK_MEMBER_KEY, key->b, 32);
  err = vmi_found(st_get(st, &k, &v, &vl), used);
  free(v);
  return err;
}

/* ---- consents ---- */

cx_err vmi_consent_put(const vm_state *st, const vm_consent *c) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_CONSENT, c->id.b, 32);
  rec_begin_enc(&e);
  enc_fixed(&e, c->did.b, 32);
  enc_str(&e, c->insurer);
  domain_set_enc(&e, &c->domains);
  enc_fixed(&e, c->contract.b, 32);
  enc_str(&e, c->purpose);
  enc_varint(&e, c->expires);
  enc_varint(&e, c->quota);
  enc_varint(&e, c->uses);
  enc_str(&e, c->granted_by);
  enc_fixed(&e, c->evidence.b, 32);
  enc_varint(&e, c->granted_height);
  enc_bool(&e, c->revoked);
  enc_varint(&e, c->revoked_height);
  return put_enc(st, &k, &e);
}

static int consent_dec(cx_dec *d, vm_consent *c) {
  uint64_t quota, uses;
  const uint8_t *gb;
  size_t gbn;
  int revoked;
  if (dec_fixed(d, c->did.b, 32) || dec_str(d, c->insurer, CX_NAME_MAX, STR_IDENT) ||
      domain_set_dec(d, &c->domains) || dec_fixed(d, c->contract.b, 32) ||
      dec_str(d, c->purpose, CX_PURPOSE_MAX, STR_UTF8) || dec_varint(d, &c->expires) ||
      dec_varint_max(d, &quota, UINT32_MAX) || dec_varint_max(d, &uses, quota) ||
      dec_bytes(d, &gb, &gbn, CX_NAME_MAX))
    return -1;
  /* granted_by: "" (the subject) or a bureau's name. */
  if (gbn && !text_valid(gb, gbn, STR_IDENT)) return dec_fail(d, CX_E_BAD_STRING);
  memcpy(c->granted_by, gb, gbn);
  c->granted_by[gbn] = 0;
  c->quota = (uint32_t)quota;
  c->uses = (uint32_t)uses;
  if (dec_fixed(d, c->evidence.b, 32) || dec_varint(d, &c->granted_height) ||
      dec_bool(d, &revoked) || dec_varint(d, &c->revoked_height))
    return -1;
  c->revoked = (uint8_t)revoked;
  if (quota == 0 || c->domains.n == 0 || (!revoked && c->revoked_height))
    return dec_fail(d, CX_E_NONCANONICAL);
  return 0;
}

cx_err vm_consent_get(const vm_state *st, const cx_hash *id, vm_consent *out) {
  vmi_key k;
  uint8_t *v;
  size_t vl;
  cx_dec d;
  vmi_key_make(&k, VMK_CONSENT, id->b, 32);
  cx_err err = st_get(st, &k, &v, &vl);
  if (err) return err;
  memset(out, 0, sizeof *out);
  out->id = *id;
  if (!rec_begin_dec(&d, v, vl)) consent_dec(&d, out);
  err = rec_end(&d);
  free(v);
  return err;
}

cx_err vmi_consent_list_get(const vm_state *st, const cx_hash *did, cx_hash *ids,
                            size_t *n) {
  vmi_key k;
  uint8_t *v;
  size_t vl;
  uint64_t cnt = 0;
  cx_dec d;
  vmi_key_make(&k, VMK_CONSENTS_OF, did->b, 32);
  *n = 0;
  cx_err err = st_get(st, &k, &v, &vl);
  if (err == CX_E_NOT_FOUND) return CX_OK;
  if (err) return err;
  if (!rec_begin_dec(&d, v, vl) && !dec_varint_max(&d, &cnt, VM_MAX_CONSENTS_PER_SUBJECT))
    for (size_t i = 0; i < cnt; i++)
      if (dec_fixed(&d, ids[i].b, 32)) break;
  err = rec_end(&d);
  if (!err) *n = (size_t)cnt;
  free(v);
  return err;
}

cx_err vmi_consent_list_put(const vm_state *st, const cx_hash *did, const cx_hash *ids,
                            size_t n) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_CONSENTS_OF, did->b, 32);
  rec_begin_enc(&e);
  enc_varint(&e, n);
  for (size_t i = 0; i < n; i++) enc_fixed(&e, ids[i].b, 32);
  return put_enc(st, &k, &e);
}

cx_err vm_consents_of(const vm_state *st, const cx_hash *did, cx_hash *ids, size_t cap,
                      size_t *n) {
  cx_hash *all = malloc(VM_MAX_CONSENTS_PER_SUBJECT * sizeof *all);
  size_t cnt;
  if (!all) return CX_E_NOMEM;
  cx_err err = vmi_consent_list_get(st, did, all, &cnt);
  if (err) goto out;
  *n = cnt;
  if (cnt > cap) {
    err = CX_E_FULL;
    goto out;
  }
  memcpy(ids, all, cnt * sizeof *ids);
out:
  free(all);
  return err;
}

/* ---- contracts ---- */

cx_err vmi_contract_meta_put(const vm_state *st, const vm_contract *c) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_CONTRACT, c->id.b, 32);
  rec_begin_enc(&e);
  enc_str(&e, c->name);
  enc_str(&e, c->deployer);
  domain_set_enc(&e, &c->domains);
  enc_u8(&e, c->status);
  enc_varint(&e, c->deployed_height);
  names_enc(&e, (char(*)[CX_NAME_MAX + 1])c->approvals, c->napprovals);
  return put_enc(st, &k, &e);
}

cx_err vmi_contract_meta_get(const vm_state *st, const cx_hash *id, vm_contract *out) {
  vmi_key k;
  uint8_t *v;
  size_t vl, n = 0;
  cx_dec d;
  vmi_key_make(&k, VMK_CONTRACT, id->b, 32);
  cx_err err = st_get(st, &k, &v, &vl);
  if (err) return err;
  memset(out, 0, sizeof *out);
  out->id = *id;
  if (!rec_begin_dec(&d, v, vl) && !dec_str(&d, out->name, CX_NAME_MAX, STR_IDENT) &&
      !dec_str(&d, out->deployer, CX_NAME_MAX, STR_IDENT) &&
      !domain_set_dec(&d, &out->domains) &&
      !dec_enum(&d, &out->status, CONTRACT_PENDING, CONTRACT_RETIRED) &&
      !dec_varint(&d, &out->deployed_height) &&
      !names_dec(&d, out->approvals, CX_DOMAINS_MAX, &n)) {
    out->napprovals = (uint8_t)n;
    if (out->domains.n == 0) dec_fail(&d, CX_E_NONCANONICAL);
  }
  err = rec_end(&d);
  free(v);
  return err;
}

cx_err vmi_contract_code_put(const vm_state *st, const cx_hash *id, const uint8_t *src, size_t len,
                             const uint8_t *bc, size_t bclen) {
  vmi_key k;
  cx_enc e;
  vmi_key_make(&k, VMK_SOURCE, id->b, 32);
  rec_begin_enc(&e);
  enc_bytes(&e, src, len);
  enc_bytes(&e, bc, bclen);
  return put_enc(st, &k, &e);
}

static cx_err dup_bytes(const uint8_t *p, size_t n, uint8_t **out, size_t *len) {
  *out = malloc(n ? n : 1);
  if (!*out) return CX_E_NOMEM;
  if (n) memcpy(*out, p, n);
  *len = n;
  return CX_OK;
}

static cx_err contract_code_get(const vm_state *st, const cx_hash *id, vm_contract *out) {
  vmi_key k;
  uint8_t *v;
  size_t vl;
  const uint8_t *p = NULL, *b = NULL;
  size_t n = 0, bn = 0;
  cx_dec d;
  vmi_key_make(&k, VMK_SOURCE, id->b, 32);
  cx_err err = st_get(st, &k, &v, &vl);
  if (err == CX_E_NOT_FOUND) return CX_E_CORRUPT; /* the contract record exists */
  if (err) return err;
  if (!rec_begin_dec(&d, v, vl) && !dec_bytes(&d, &p, &n, CX_SOURCE_MAX)) {
    if (!text_valid(p, n, STR_TEXT))
      dec_fail(&d, CX_E_BAD_STRING);
    else
      dec_bytes(&d, &b, &bn, CX_BYTECODE_MAX);
  }
  err = rec_end(&d);
  if (!err) err = dup_bytes(p, n, &out->source, &out->source_len);
  if (!err) err = dup_bytes(b, bn, &out->bytecode, &out->bytecode_len);
  free(v);
  return err;
}

cx_err vm_contract_get(const vm_state *st, const cx_hash *id, vm_contract *out) {
  cx_err err = vmi_contract_meta_get(st, id, out);
  if (err) return err;
  err = contract_code_get(st, id, out);
  if (err) vm_contract_clear(out);
  return err;
}

void vm_contract_clear(vm_contract *c) {
  free(c->source);
  free(c->bytecode);
  memset(c, 0, sizeof *c);
}

void vm_contract_id(const uint8_t *bytecode, size_t len, cx_hash *out) {
  hash_tagged(CX_TAG_CONTRACT, bytecode, len, out);
}

/* ---- evidence ---- */

/* The identity of an equivocation, fixed width so that keys of one
 * accused sort by (type, height, round). */
#define EVID_LEN (32 + 1 + 8 + 4)

static void evid_make(uint8_t out[EVID_LEN], const cx_pubkey *accused, uint8_t type,
                      uint64_t height, uint32_t round) {
  memcpy(out, accused->b, 32);
  out[32] = type;
  for (int i = 0; i < 8; i++) out[33 + i] = (uint8_t)(height >> (56 - 8 * i));
  for (int i = 0; i < 4; i++) out[41 + i] = (uint8_t)(round >> (24 - 8 * i));
}

static void evid_parse(const uint8_t in[EVID_LEN], cx_pubkey *accused, uint8_t *type,
                       uint64_t *height, uint32_t *round) {
  memcpy(accused->b, in, 32);
  *type = in[32];
  *height = 0;
  for (int i = 0; i < 8; i++) *height = *height << 8 | in[33 + i];
  *round = 0;
  for (int i = 0; i < 4; i++) *round = *round << 8 | in[41 + i];
}

static void seq_key(vmi_key *k, uint64_t seq) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(seq >> (56 - 8 * i));
  vmi_key_make(k, VMK_EVIDENCE_SEQ, b, 8);
}

static cx_err evidence_count(const vm_state *st, uint64_t *n) {
  vmi_key k;
  uint8_t *v;
  size_t vl;
  cx_dec d;
  vmi_key_make(&k, VMK_EVIDENCE_COUNT, NULL, 0);
  *n = 0;
  cx_err err = st_get(st, &k, &v, &vl);
  if (err == CX_E_NOT_FOUND) return CX_OK;
  if (err) return err;
  if (!rec_begin_dec(&d, v, vl)) dec_varint(&d, n);
  err = rec_end(&d);
  free(v);
  return err;
}

cx_err vmi_evidence_put(const vm_state *st, const vm_evidence *r) {
  const cx_tx_evidence *ev = &r->ev;
  uint8_t id[EVID_LEN];
  vmi_key k;
  cx_enc e;
  uint64_t n;
  cx_err err;
  evid_make(id, &ev->accused, ev->msg_type, ev->height, ev->round);
  vmi_key_make(&k, VMK_EVIDENCE, id, sizeof id);
  rec_begin_enc(&e);
  enc_str(&e, r->accused_name);
  evidence_enc(&e, ev);
  enc_str(&e, r->reporter);
  enc_varint(&e, r->included_height);
  enc_fixed(&e, r->txid.b, 32);
  if ((err = put_enc(st, &k, &e))) return err;
  /* The list: the state has no range scan, so evidence is numbered. */
  if ((err = evidence_count(st, &n))) return err;
  seq_key(&k, n);
  rec_begin_enc(&e);
  enc_fixed(&e, id, sizeof id);
  if ((err = put_enc(st, &k, &e))) return err;
  vmi_key_make(&k, VMK_EVIDENCE_COUNT, NULL, 0);
  rec_begin_enc(&e);
  enc_varint(&e, n + 1);
  return put_enc(st, &k, &e);
}

cx_err vm_evidence_get(const vm_state *st, const cx_pubkey *accused, uint8_t type,
                       uint64_t height, uint32_t round, vm_evidence *out) {
  uint8_t id[EVID_LEN];
  vmi_key k;
  uint8_t *v;
  size_t vl;
  cx_dec d;
  evid_make(id, accused, type, height, round);
  vmi_key_make(&k, VMK_EVIDENCE, id, sizeof id);
  cx_err err = st_get(st, &k, &v, &vl);
  if (err) return err;
  memset(out, 0, sizeof *out);
  if (!rec_begin_dec(&d, v, vl) && !dec_str(&d, out->accused_name, CX_NAME_MAX, STR_IDENT) &&
      !evidence_dec(&d, &out->ev) && !dec_str(&d, out->reporter, CX_NAME_MAX, STR_IDENT) &&
      !dec_varint(&d, &out->included_height) && !dec_fixed(&d, out->txid.b, 32)) {
    /* The record must be the one its key names. */
    const cx_tx_evidence *ev = &out->ev;
    if (memcmp(ev->accused.b, accused->b, 32) != 0 || ev->msg_type != type ||
        ev->height != height || ev->round != round)
      dec_fail(&d, CX_E_NONCANONICAL);
  }
  err = rec_end(&d);
  free(v);
  return err;
}

/* The evidence numbered seq, which the count says exists. */
static cx_err evidence_by_seq(const vm_state *st, uint64_t seq, vm_evidence *out) {
  uint8_t id[EVID_LEN];
  vmi_key k;
  uint8_t *v;
  size_t vl;
  cx_dec d;
  uint64_t height;
  uint32_t round;
  uint8_t type;
  cx_pubkey accused;
  seq_key(&k, seq);
  cx_err err = st_get(st, &k, &v, &vl);
  if (err == CX_E_NOT_FOUND) return CX_E_CORRUPT; /* counted but absent */
  if (err) return err;
  if (!rec_begin_dec(&d, v, vl)) dec_fixed(&d, id, sizeof id);
  err = rec_end(&d);
  free(v);
  if (err) return err;
  evid_parse(id, &accused, &type, &height, &round);
  err = vm_evidence_get(st, &accused, type, height, round, out);
  return err == CX_E_NOT_FOUND ? CX_E_CORRUPT : err; /* listed but absent */
}

cx_err vm_evidence_at(const vm_state *st, uint64_t index, vm_evidence *out) {
  uint64_t n;
  cx_err err = evidence_count(st, &n);
  if (err) return err;
  return index < n ? evidence_by_seq(st, index, out) : CX_E_NOT_FOUND;
}

cx_err vm_evidence_list(const vm_state *st, vm_evidence *out, size_t cap, size_t *n) {
  uint64_t cnt;
  cx_err err = evidence_count(st, &cnt);
  if (err) return err;
  *n = (size_t)cnt;
  if (cnt > cap) return CX_E_FULL;
  for (size_t i = 0; i < cnt; i++)
    if ((err = evidence_by_seq(st, i, &out[i]))) return err;
  return CX_OK;
}
