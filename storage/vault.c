/* vault: a bureau's private records, encrypted at rest (storage/vault.h;
 * docs/vault.md has the key layout, sealing, rotation and the log chain).
 *
 * One LevelDB database, DIR/vault, locked by flock() on DIR/vault.lock for
 * the same reason as the chain store (store.c lock_dir). Every write is one
 * synced WriteBatch, so a record, a rotation or a log entry is on disk, all
 * of it or none of it, when the call returns.
 *
 * Hashes: the vault's hashes belong to no consensus format and no tag of
 * core/hash.h fits them (CX_TAG_MERKLE_LEAF/NODE are applied by merkle_root
 * itself, and core is not changed for this module), so they are BLAKE2b-256
 * (crypto_generichash) over a NUL-terminated label followed by the data:
 *   blind        b   = B_keyed(commit secret, "custos/vault/blind/v2\0" || u8 len || domain || did)
 *   record hash  rh  = B("custos/vault/record/v2\0" || b || record plaintext)
 *   domain leaf  d   = B("custos/vault/leaf/v2\0" || u8 len || domain || did || rh), fed to merkle_root
 *   log chain    h_i = B("custos/vault/log/v1\0" || h_{i-1} || entry_i), h_{-1} = 0^32
 * No label is a prefix of another, so no two kinds share an input. The blind
 * makes the domain root a hiding commitment: without the commit secret, a
 * root over few records with small ranges cannot be searched, and opening
 * one record (its blind) says nothing about the others (the blind is a PRF
 * output).
 *
 * Secrets: the data key and the one plaintext scratch buffer live in
 * sodium_malloc'd memory; the scratch is wiped after every use (a handle is
 * used by one thread at a time, so one buffer suffices). Everything read back
 * from disk is length-checked against a fixed bound before it is used: a
 * damaged store gives CX_E_CORRUPT (or CX_E_CRYPTO for a record whose bytes
 * no longer open), never a crash. */
#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <leveldb/c.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "ldb.h"
#include "log.h"
#include "merkle.h"

#define MOD "vault"

/* One-byte key prefixes (docs/vault.md). A domain in a key is u8 length ||
 * name, so one domain's records are exactly one prefix range. */
enum {
  P_META = 'M',   /* name                     -> meta record */
  P_SCHEMA = 'S', /* u8 len || domain         -> schema encoding */
  P_REC = 'R',    /* u8 len || domain || did  -> sealed record */
  P_LOG = 'L',    /* u64be seq                -> entry encoding || chain hash */
};

#define META_FORMAT "format" /* u32be format version */
#define META_KEY "key"       /* the sealed canary: key id and proof of the key */
#define META_LOG "log"       /* u64be length || chain hash after the last entry */
#define META_COMMIT "commit" /* the sealed commitment secret (blinds of the domain root) */
/* 2: the commitment secret and blinded leaves. A format-1 vault (unblinded
 * roots, no secret) is refused, not upgraded: none was ever in production. */
#define FORMAT_VERSION 2u
#define COMMIT_BYTES 32

#define AD_LABEL "custos/vault/v1"
#define CANARY "custos/vault/canary/v1"
#define CANARY_LEN (sizeof CANARY - 1)
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define MAC_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEAL_HDR (4 + NONCE_BYTES) /* u32be key id || nonce */
#define PT_MAX (VAULT_MAX_FIELDS * 8)
#define SEALED_MAX (SEAL_HDR + PT_MAX + MAC_BYTES)
#define KEY_MAX (2 + VAULT_DOMAIN_MAX + 32)
#define AD_MAX (sizeof AD_LABEL - 1 + 1 + VAULT_DOMAIN_MAX + 32 + 4)
#define LOG_META_LEN (8 + 32)
#define LOG_VAL_MAX 512     /* entry <= 3*32 + 17 + 258 + 10, then 32 */
#define SCHEMA_VAL_MAX 4096 /* <= 1 + 64 * (33 + 1 + 10 + 10) */
#define FIELDS_MAX (sizeof ((vault_access *)0)->fields - 1)
#define BAD_DOMAIN "domain: not an identifier of 1..16 characters [a-z0-9_-]"
_Static_assert(VAULT_DOMAIN_MAX == 16, "BAD_DOMAIN names the cap");

struct vault {
  int lockfd; /* DIR/vault.lock, flock()ed for the handle's lifetime */
  leveldb_t *db;
  leveldb_options_t *opt;
  leveldb_readoptions_t *ro;
  leveldb_writeoptions_t *wo; /* sync = 1 */
  uint8_t *key;               /* VAULT_KEY_BYTES, sodium_malloc'd */
  uint8_t *pt;                /* PT_MAX plaintext scratch, sodium_malloc'd, wiped after use */
  uint8_t *commit;            /* COMMIT_BYTES commitment secret, sodium_malloc'd */
  uint32_t key_id;
  uint64_t log_len;
  cx_hash log_head;
  /* Domain roots computed since the last write of records or schemas: a
   * call reads its domains' roots (docs/calls.md §3), and computing one
   * opens every record of the domain. Only this handle writes the vault
   * (it holds the lock), so the cache cannot go stale behind its back. */
  struct {
    char domain[VAULT_DOMAIN_MAX + 1];
    cx_hash root;
    uint64_t count;
  } roots[8];
  size_t nroots;
};

static void roots_forget(vault *v) { v->nroots = 0; }

/* ---- small helpers ------------------------------------------------------ */

/* Logs LevelDB's message and frees it. */
static cx_err ldb_err(char *err) {
  cx_err e = ldb_map_err(err);
  LOG_E(MOD, "leveldb: %s", err);
  leveldb_free(err);
  return e;
}

/* A value of at most cap bytes into out; longer is damage. */
static cx_err db_get(vault *v, const uint8_t *k, size_t kl, uint8_t *out, size_t cap, size_t *n) {
  char *err = NULL;
  size_t len = 0;
  char *val = leveldb_get(v->db, v->ro, (const char *)k, kl, &len, &err);
  if (err) return ldb_err(err);
  if (!val) return CX_E_NOT_FOUND;
  cx_err e = len > cap ? CX_E_CORRUPT : CX_OK;
  if (!e) memcpy(out, val, len);
  *n = len;
  leveldb_free(val);
  return e;
}

static cx_err db_write(vault *v, leveldb_writebatch_t *wb) {
  char *err = NULL;
  leveldb_write(v->db, v->wo, wb, &err);
  return err ? ldb_err(err) : CX_OK;
}

typedef cx_err (*scan_fn)(vault *v, void *ctx, const uint8_t *k, size_t kl, const uint8_t *val,
                          size_t vl);

/* Calls fn on every entry whose key starts with pfx, in key order. */
static cx_err scan(vault *v, const uint8_t *pfx, size_t pl, scan_fn fn, void *ctx) {
  cx_err e = CX_OK;
  char *err = NULL;
  leveldb_iterator_t *it = leveldb_create_iterator(v->db, v->ro);
  for (leveldb_iter_seek(it, (const char *)pfx, pl); !e && leveldb_iter_valid(it);
       leveldb_iter_next(it)) {
    size_t kl, vl;
    const uint8_t *k = (const uint8_t *)leveldb_iter_key(it, &kl);
    if (kl < pl || memcmp(k, pfx, pl) != 0) break;
    const uint8_t *val = (const uint8_t *)leveldb_iter_value(it, &vl);
    e = fn(v, ctx, k, kl, val, vl);
  }
  leveldb_iter_get_error(it, &err);
  if (err && !e) e = ldb_err(err);
  else if (err) leveldb_free(err);
  leveldb_iter_destroy(it);
  return e;
}

static size_t meta_key(uint8_t *k, const char *name) {
  size_t n = strlen(name);
  k[0] = P_META;
  memcpy(k + 1, name, n);
  return n + 1;
}

static size_t dom_key(uint8_t *k, uint8_t prefix, const char *domain) {
  size_t n = strlen(domain);
  k[0] = prefix;
  k[1] = (uint8_t)n;
  memcpy(k + 2, domain, n);
  return n + 2;
}

static size_t rec_key(uint8_t *k, const char *domain, const cx_hash *did) {
  size_t n = dom_key(k, P_REC, domain);
  memcpy(k + n, did->b, 32);
  return n + 32;
}

static int domain_ok(const char *d) {
  return strnlen(d, VAULT_DOMAIN_MAX + 1) <= VAULT_DOMAIN_MAX && str_valid(d, VAULT_DOMAIN_MAX, STR_IDENT);
}

/* [a-z][a-z0-9_]*, 1..VAULT_FIELD_MAX bytes (n of them at s). */
static int name_ok(const char *s, size_t n) {
  if (n == 0 || n > VAULT_FIELD_MAX || s[0] < 'a' || s[0] > 'z') return 0;
  for (size_t i = 1; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
  return 1;
}

/* A comma-separated list of field names, NUL-terminated within the buffer. */
static int fields_ok(const char *s) {
  size_t len = strnlen(s, FIELDS_MAX + 1);
  if (len > FIELDS_MAX) return 0;
  for (size_t i = 0, j; i <= len; i = j + 1) {
    for (j = i; j < len && s[j] != ','; j++) {}
    if (!name_ok(s + i, j - i)) return 0;
  }
  return 1;
}

/* ---- sealing ------------------------------------------------------------ */

/* AD = "custos/vault/v1" || u8 len || domain || did || u32be key id. The
 * length byte keeps (domain, did) unambiguous; the canary uses the empty
 * domain, which no record can have. */
static size_t make_ad(uint8_t *ad, const uint8_t *dom, size_t dlen, const uint8_t *did,
                      uint32_t key_id) {
  size_t n = sizeof AD_LABEL - 1;
  memcpy(ad, AD_LABEL, n);
  ad[n++] = (uint8_t)dlen;
  memcpy(ad + n, dom, dlen);
  memcpy(ad + n + dlen, did, 32);
  put_be32(ad + n + dlen + 32, key_id);
  return n + dlen + 36;
}

/* out = u32be key id || nonce || ciphertext+MAC: SEAL_HDR + plen + MAC_BYTES bytes. */
static size_t seal(const uint8_t *key, uint32_t key_id, const uint8_t *dom, size_t dlen,
                   const uint8_t *did, const uint8_t *pt, size_t plen, uint8_t *out) {
  uint8_t ad[AD_MAX];
  size_t adlen = make_ad(ad, dom, dlen, did, key_id);
  put_be32(out, key_id);
  randombytes_buf(out + 4, NONCE_BYTES); /* 192-bit random nonces: no counter to keep */
  crypto_aead_xchacha20poly1305_ietf_encrypt(out + SEAL_HDR, NULL, pt, plen, ad, adlen, NULL,
                                             out + 4, key);
  return SEAL_HDR + plen + MAC_BYTES;
}

/* Opens a sealed value into pt (*plen bytes). CX_E_CORRUPT for a length out
 * of bounds, CX_E_CRYPTO if it names another key id or does not open. */
static cx_err unseal(const uint8_t *key, uint32_t key_id, const uint8_t *dom, size_t dlen,
                     const uint8_t *did, const uint8_t *in, size_t inlen, uint8_t *pt,
                     size_t *plen) {
  uint8_t ad[AD_MAX];
  if (inlen < SEAL_HDR + MAC_BYTES || inlen > SEALED_MAX) return CX_E_CORRUPT;
  if (get_be32(in) != key_id) return CX_E_CRYPTO;
  size_t adlen = make_ad(ad, dom, dlen, did, key_id);
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, in + SEAL_HDR, inlen - SEAL_HDR,
                                                 ad, adlen, in + 4, key) != 0)
    return CX_E_CRYPTO;
  *plen = inlen - SEAL_HDR - MAC_BYTES;
  return CX_OK;
}

static void canary_seal(const uint8_t *key, uint32_t key_id, leveldb_writebatch_t *wb) {
  static const uint8_t zero[32];
  uint8_t k[16], out[SEAL_HDR + CANARY_LEN + MAC_BYTES];
  seal(key, key_id, zero, 0, zero, (const uint8_t *)CANARY, CANARY_LEN, out);
  leveldb_writebatch_put(wb, (const char *)k, meta_key(k, META_KEY), (const char *)out, sizeof out);
}

/* The commitment secret is sealed like the canary (the empty domain, which
 * no record can have) but with an all-0xff DID in its AD, so neither sealed
 * value opens in the other's place. */
static const uint8_t COMMIT_AD_DID[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
#define COMMIT_SEALED (SEAL_HDR + COMMIT_BYTES + MAC_BYTES)

static void commit_seal(const uint8_t *key, uint32_t key_id, const uint8_t *secret,
                        leveldb_writebatch_t *wb) {
  uint8_t k[16], out[COMMIT_SEALED];
  seal(key, key_id, COMMIT_AD_DID, 0, COMMIT_AD_DID, secret, COMMIT_BYTES, out);
  leveldb_writebatch_put(wb, (const char *)k, meta_key(k, META_COMMIT), (const char *)out, sizeof out);
}

/* ---- schemas ------------------------------------------------------------ */

/* Validates s into a normalised copy (names zero-padded, bools 0..1). */
static cx_err schema_check(const vault_schema *s, vault_schema *n, char *err, size_t errlen) {
  memset(n, 0, sizeof *n);
  if (!memchr(s->domain, 0, sizeof s->domain) || !domain_ok(s->domain))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, BAD_DOMAIN);
  if (s->nfields == 0)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s: a schema needs at least one field", s->domain);
  if (s->nfields > VAULT_MAX_FIELDS)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s: %zu fields, at most %d are allowed",
                   s->domain, s->nfields, VAULT_MAX_FIELDS);
  memcpy(n->domain, s->domain, strlen(s->domain));
  n->nfields = s->nfields;
  for (size_t i = 0; i < s->nfields; i++) {
    const vault_field *f = &s->fields[i];
    vault_field *g = &n->fields[i];
    if (!memchr(f->name, 0, sizeof f->name) || !name_ok(f->name, strlen(f->name)))
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "field %zu: name is not [a-z][a-z0-9_]* of "
                     "1..%d characters", i, VAULT_FIELD_MAX);
    for (size_t j = 0; j < i; j++)
      if (strcmp(f->name, s->fields[j].name) == 0)
        return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s: duplicate field (also field %zu)",
                       f->name, j);
    memcpy(g->name, f->name, strlen(f->name));
    g->is_bool = f->is_bool != 0;
    if (g->is_bool) {
      /* A zeroed range is "unset"; anything but 0..1 is a caller's mistake. */
      if (!(f->lo == 0 && (f->hi == 0 || f->hi == 1)))
        return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s: a bool field's range must be 0..1",
                       f->name);
      g->lo = 0;
      g->hi = 1;
    } else {
      if (f->lo > f->hi)
        return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s: range %lld..%lld is empty", f->name,
                       (long long)f->lo, (long long)f->hi);
      g->lo = f->lo;
      g->hi = f->hi;
    }
  }
  return CX_OK;
}

/* varint nfields, then per field: str name, bool is_bool, zigzag lo, zigzag hi. */
static void schema_encode(const vault_schema *s, cx_enc *e) {
  enc_varint(e, s->nfields);
  for (size_t i = 0; i < s->nfields; i++) {
    enc_str(e, s->fields[i].name);
    enc_bool(e, s->fields[i].is_bool);
    enc_varint(e, zigzag_enc(s->fields[i].lo));
    enc_varint(e, zigzag_enc(s->fields[i].hi));
  }
}

static cx_err schema_load(vault *v, const char *domain, vault_schema *out) {
  uint8_t k[KEY_MAX], val[SCHEMA_VAL_MAX];
  size_t vl = 0;
  uint64_t nf = 0, lo, hi;
  vault_schema s;
  if (!domain_ok(domain)) return CX_E_INVALID_ARG;
  cx_err e = db_get(v, k, dom_key(k, P_SCHEMA, domain), val, sizeof val, &vl);
  if (e) return e;
  memset(&s, 0, sizeof s);
  memcpy(s.domain, domain, strlen(domain));
  cx_dec d;
  dec_init(&d, val, vl);
  dec_varint_max(&d, &nf, VAULT_MAX_FIELDS);
  s.nfields = (size_t)nf;
  for (size_t i = 0; i < s.nfields && !d.err; i++) {
    dec_str(&d, s.fields[i].name, VAULT_FIELD_MAX, STR_IDENT);
    dec_bool(&d, &s.fields[i].is_bool);
    dec_varint(&d, &lo);
    dec_varint(&d, &hi);
    s.fields[i].lo = zigzag_dec(lo);
    s.fields[i].hi = zigzag_dec(hi);
  }
  /* A stored schema must be exactly what schema_set would have written. */
  e = dec_finish(&d) == CX_OK ? schema_check(&s, out, NULL, 0) : CX_E_CORRUPT;
  if (!e) {
    cx_enc en;
    enc_init(&en);
    schema_encode(out, &en);
    e = enc_finish(&en);
    if (!e && (en.len != vl || memcmp(en.buf, val, vl) != 0)) e = CX_E_CORRUPT;
    enc_free(&en);
  }
  if (e && e != CX_E_NOMEM) {
    LOG_E(MOD, "the schema of domain %s is malformed", domain);
    e = CX_E_CORRUPT;
  }
  return e;
}

static cx_err count_fn(vault *v, void *ctx, const uint8_t *k, size_t kl, const uint8_t *val,
                       size_t vl) {
  uint64_t *n = ctx;
  if (kl != (size_t)k[1] + 2 + 32) return CX_E_CORRUPT;
  ++*n;
  return CX_OK;
}

cx_err vault_count(vault *v, const char *domain, uint64_t *n) {
  CX_ASSERT(v && domain && n);
  vault_schema s;
  uint8_t k[KEY_MAX];
  *n = 0;
  cx_err e = schema_load(v, domain, &s);
  return e ? e : scan(v, k, dom_key(k, P_REC, domain), count_fn, n);
}

cx_err vault_schema_set(vault *v, const vault_schema *s, char *err, size_t errlen) {
  roots_forget(v);
  CX_ASSERT(v && s);
  vault_schema n, old;
  cx_enc a, b;
  uint64_t cnt = 0;
  uint8_t k[KEY_MAX];
  cx_err e = schema_check(s, &n, err, errlen);
  if (e) return e;
  enc_init(&a);
  enc_init(&b);
  schema_encode(&n, &a);
  e = schema_load(v, n.domain, &old);
  if (e == CX_OK) {
    schema_encode(&old, &b);
    if (!enc_finish(&b) && a.len == b.len && memcmp(a.buf, b.buf, a.len) == 0) goto out;
    e = vault_count(v, n.domain, &cnt);
    if (!e && cnt > 0)
      e = cx_errf(err, errlen, CX_E_EXISTS, "%s: the domain holds %llu records; its schema "
                  "cannot change", n.domain, (unsigned long long)cnt);
  } else if (e == CX_E_NOT_FOUND) {
    e = CX_OK;
  }
  if (!e) e = enc_finish(&a);
  if (!e) {
    leveldb_writebatch_t *wb = leveldb_writebatch_create();
    leveldb_writebatch_put(wb, (const char *)k, dom_key(k, P_SCHEMA, n.domain), (const char *)a.buf,
                           a.len);
    e = db_write(v, wb);
    leveldb_writebatch_destroy(wb);
  }
out:
  enc_free(&a);
  enc_free(&b);
  return e;
}

cx_err vault_schema_get(vault *v, const char *domain, vault_schema *out) {
  CX_ASSERT(v && domain && out);
  return schema_load(v, domain, out);
}

/* ---- records ------------------------------------------------------------ */

/* The first value outside its field, as a sentence naming the field. */
static cx_err vals_check(const vault_schema *s, const int64_t *vals, const char *pfx, char *err,
                         size_t errlen) {
  for (size_t i = 0; i < s->nfields; i++) {
    const vault_field *f = &s->fields[i];
    if (vals[i] >= f->lo && vals[i] <= f->hi) continue;
    if (f->is_bool)
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s%s: %lld is not a bool (0 or 1)", pfx, f->name,
                     (long long)vals[i]);
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s%s: %lld is outside %lld..%lld", pfx, f->name,
                   (long long)vals[i], (long long)f->lo, (long long)f->hi);
  }
  return CX_OK;
}

typedef struct {
  cx_hash did;
  size_t idx;
} did_ix;

static int did_cmp(const void *a, const void *b) {
  const did_ix *x = a, *y = b;
  int c = memcmp(x->did.b, y->did.b, 32);
  return c ? c : x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* The record plaintext: the values as little-endian int64, in schema order.
 * Fixed length, so a record's size says nothing about its values. */
static void vals_put(uint8_t *pt, const int64_t *vals, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < 8; j++) pt[8 * i + (size_t)j] = (uint8_t)((uint64_t)vals[i] >> (8 * j));
}

/* Seals and writes n records in one synced batch. nvals is the value count
 * of a single put, or SIZE_MAX for a batch (whose sentences name the record). */
static cx_err put_recs(vault *v, const char *domain, const vault_record *recs, size_t n, size_t nvals,
                       char *err, size_t errlen) {
  roots_forget(v);
  vault_schema s;
  char pfx[48] = "";
  cx_err e = schema_load(v, domain, &s);
  if (e == CX_E_INVALID_ARG) return cx_errf(err, errlen, e, BAD_DOMAIN);
  if (e == CX_E_NOT_FOUND) return cx_errf(err, errlen, e, "%s: the domain has no schema", domain);
  if (e) return cx_errf(err, errlen, e, "%s: reading the schema failed", domain);
  if (nvals != SIZE_MAX && nvals != s.nfields)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s: %zu values for %zu fields", domain, nvals,
                   s.nfields);
  /* Every check before anything is sealed: all or nothing. */
  for (size_t i = 0; i < n && !e; i++) {
    if (nvals == SIZE_MAX) snprintf(pfx, sizeof pfx, "record %zu: ", i);
    e = vals_check(&s, recs[i].vals, pfx, err, errlen);
  }
  if (e) return e;
  if (n > 1) {
    did_ix *ix = malloc(n * sizeof *ix);
    if (!ix) return CX_E_NOMEM;
    for (size_t i = 0; i < n; i++) ix[i] = (did_ix){recs[i].did, i};
    qsort(ix, n, sizeof *ix, did_cmp);
    for (size_t i = 1; i < n && !e; i++)
      if (hash_eq(&ix[i].did, &ix[i - 1].did))
        e = cx_errf(err, errlen, CX_E_INVALID_ARG, "record %zu: same did as record %zu", ix[i].idx,
                    ix[i - 1].idx);
    free(ix);
    if (e) return e;
  }
  size_t dlen = strlen(domain), plen = s.nfields * 8;
  leveldb_writebatch_t *wb = leveldb_writebatch_create();
  for (size_t i = 0; i < n; i++) {
    uint8_t k[KEY_MAX], out[SEALED_MAX];
    vals_put(v->pt, recs[i].vals, s.nfields);
    size_t ol = seal(v->key, v->key_id, (const uint8_t *)domain, dlen, recs[i].did.b, v->pt, plen, out);
    sodium_memzero(v->pt, plen);
    leveldb_writebatch_put(wb, (const char *)k, rec_key(k, domain, &recs[i].did), (const char *)out, ol);
  }
  e = db_write(v, wb);
  leveldb_writebatch_destroy(wb);
  if (e) cx_errf(err, errlen, e, "%s: writing %zu records failed", domain, n);
  return e;
}

cx_err vault_put(vault *v, const char *domain, const cx_hash *did, const int64_t *vals, size_t nvals,
                 char *err, size_t errlen) {
  CX_ASSERT(v && domain && did && (vals || !nvals) && nvals != SIZE_MAX);
  vault_record r = {.did = *did, .vals = vals};
  return put_recs(v, domain, &r, 1, nvals, err, errlen);
}

cx_err vault_put_batch(vault *v, const char *domain, const vault_record *recs, size_t n, char *err,
                       size_t errlen) {
  CX_ASSERT(v && domain && (recs || !n));
  for (size_t i = 0; i < n; i++) CX_ASSERT(recs[i].vals);
  if (n == 0) return CX_OK;
  return put_recs(v, domain, recs, n, SIZE_MAX, err, errlen);
}

cx_err vault_get(vault *v, const char *domain, const cx_hash *did, int64_t *vals, size_t cap,
                 size_t *nvals) {
  CX_ASSERT(v && domain && did && (vals || !cap));
  vault_schema s;
  uint8_t k[KEY_MAX], in[SEALED_MAX];
  size_t il = 0, plen = 0;
  cx_err e = schema_load(v, domain, &s);
  if (e) return e;
  if (nvals) *nvals = s.nfields;
  if (cap < s.nfields) return CX_E_FULL;
  e = db_get(v, k, rec_key(k, domain, did), in, sizeof in, &il);
  if (e) return e;
  if (il != SEAL_HDR + s.nfields * 8 + MAC_BYTES) return CX_E_CORRUPT;
  e = unseal(v->key, v->key_id, (const uint8_t *)domain, strlen(domain), did->b, in, il, v->pt, &plen);
  if (e) return e;
  for (size_t i = 0; i < s.nfields; i++) {
    uint64_t x = 0;
    for (int j = 7; j >= 0; j--) x = x << 8 | v->pt[8 * i + (size_t)j];
    vals[i] = (int64_t)x;
  }
  sodium_memzero(v->pt, plen);
  return CX_OK;
}

/* ---- domain root -------------------------------------------------------- */

static void label_hash(const char *label, size_t llen, const void *a, size_t al, const void *b,
                       size_t bl, cx_hash *out) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, 32);
  crypto_generichash_update(&st, (const uint8_t *)label, llen);
  crypto_generichash_update(&st, a, al);
  crypto_generichash_update(&st, b, bl);
  crypto_generichash_final(&st, out->b, 32);
}
#define LHASH(label, a, al, b, bl, out) label_hash(label, sizeof label, a, al, b, bl, out)

#define BLIND_LABEL "custos/vault/blind/v2"
#define RECORD_LABEL "custos/vault/record/v2"
#define LEAF_LABEL "custos/vault/leaf/v2"

/* blind = BLAKE2b-256 keyed with the commitment secret over
 * label || u8 len || domain || did: a PRF output, so one opened blind tells
 * nothing of another record's. */
static void blind_of(const uint8_t *secret, const uint8_t *dom, size_t dlen, const uint8_t *did,
                     uint8_t blind[32]) {
  crypto_generichash_state st;
  uint8_t l = (uint8_t)dlen;
  crypto_generichash_init(&st, secret, COMMIT_BYTES, 32);
  crypto_generichash_update(&st, (const uint8_t *)BLIND_LABEL, sizeof BLIND_LABEL);
  crypto_generichash_update(&st, &l, 1);
  crypto_generichash_update(&st, dom, dlen);
  crypto_generichash_update(&st, did, 32);
  crypto_generichash_final(&st, blind, 32);
  sodium_memzero(&st, sizeof st); /* keyed state: holds the secret */
}

/* rh = B(RECORD_LABEL || blind || pt); d = B(LEAF_LABEL || u8 len || domain || did || rh). */
static void leaf_of(const uint8_t *dom, size_t dlen, const uint8_t *did, const uint8_t *blind,
                    const uint8_t *pt, size_t plen, cx_hash *leaf) {
  crypto_generichash_state st;
  cx_hash rh;
  uint8_t l = (uint8_t)dlen;
  LHASH(RECORD_LABEL, blind, 32, pt, plen, &rh);
  crypto_generichash_init(&st, NULL, 0, 32);
  crypto_generichash_update(&st, (const uint8_t *)LEAF_LABEL, sizeof LEAF_LABEL);
  crypto_generichash_update(&st, &l, 1);
  crypto_generichash_update(&st, dom, dlen);
  crypto_generichash_update(&st, did, 32);
  crypto_generichash_update(&st, rh.b, 32);
  crypto_generichash_final(&st, leaf->b, 32);
}

void vault_leaf(const char *domain, const cx_hash *did, const uint8_t blind[32], const int64_t *vals,
                size_t n, cx_hash *leaf) {
  CX_ASSERT(domain && did && blind && (vals || !n) && leaf && n <= VAULT_MAX_FIELDS);
  size_t dlen = strnlen(domain, VAULT_DOMAIN_MAX + 1);
  CX_ASSERT(dlen <= VAULT_DOMAIN_MAX);
  uint8_t pt[PT_MAX];
  vals_put(pt, vals, n);
  leaf_of((const uint8_t *)domain, dlen, did->b, blind, pt, 8 * n, leaf);
  sodium_memzero(pt, sizeof pt);
}

typedef struct {
  const vault_schema *s;
  cx_hash *leaves;
  size_t n, cap;
  const cx_hash *want; /* vault_record_path: the DID looked for, and its index */
  size_t at;
} root_ctx;

static cx_err root_fn(vault *v, void *ctx, const uint8_t *k, size_t kl, const uint8_t *val,
                      size_t vl) {
  root_ctx *c = ctx;
  size_t dlen = k[1], plen = 0;
  uint8_t blind[32];
  if (kl != dlen + 2 + 32 || vl != SEAL_HDR + c->s->nfields * 8 + MAC_BYTES) return CX_E_CORRUPT;
  if (c->n == c->cap) {
    size_t nc = c->cap ? 2 * c->cap : 64;
    cx_hash *nl = realloc(c->leaves, nc * sizeof *nl);
    if (!nl) return CX_E_NOMEM;
    c->leaves = nl;
    c->cap = nc;
  }
  cx_err e = unseal(v->key, v->key_id, k + 2, dlen, k + 2 + dlen, val, vl, v->pt, &plen);
  if (e) return e;
  if (c->want && memcmp(c->want->b, k + 2 + dlen, 32) == 0) c->at = c->n;
  blind_of(v->commit, k + 2, dlen, k + 2 + dlen, blind);
  leaf_of(k + 2, dlen, k + 2 + dlen, blind, v->pt, plen, &c->leaves[c->n++]);
  sodium_memzero(v->pt, plen);
  sodium_memzero(blind, sizeof blind);
  return CX_OK;
}

/* Every leaf of the domain, in DID order, into c (c->leaves is the caller's to free). */
static cx_err domain_leaves(vault *v, const char *domain, vault_schema *s, root_ctx *c) {
  uint8_t k[KEY_MAX];
  c->s = s;
  cx_err e = schema_load(v, domain, s);
  return e ? e : scan(v, k, dom_key(k, P_REC, domain), root_fn, c);
}

cx_err vault_domain_root(vault *v, const char *domain, cx_hash *root, uint64_t *count) {
  CX_ASSERT(v && domain && root);
  for (size_t i = 0; i < v->nroots; i++)
    if (strcmp(v->roots[i].domain, domain) == 0) {
      *root = v->roots[i].root;
      if (count) *count = v->roots[i].count;
      return CX_OK;
    }
  vault_schema s;
  root_ctx c = {0};
  cx_err e = domain_leaves(v, domain, &s, &c);
  if (!e) {
    merkle_root(c.leaves, c.n, root);
    if (count) *count = c.n;
    if (v->nroots < sizeof v->roots / sizeof v->roots[0] && strlen(domain) <= VAULT_DOMAIN_MAX) {
      snprintf(v->roots[v->nroots].domain, sizeof v->roots[0].domain, "%s", domain);
      v->roots[v->nroots].root = *root;
      v->roots[v->nroots].count = c.n;
      v->nroots++;
    }
  }
  free(c.leaves);
  return e;
}

cx_err vault_record_opening(vault *v, const char *domain, const cx_hash *did, uint8_t blind[32],
                            int64_t *vals, size_t cap, size_t *nvals) {
  CX_ASSERT(v && domain && did && blind);
  cx_err e = vault_get(v, domain, did, vals, cap, nvals);
  if (e) return e;
  blind_of(v->commit, (const uint8_t *)domain, strlen(domain), did->b, blind);
  return CX_OK;
}

cx_err vault_record_path(vault *v, const char *domain, const cx_hash *did, size_t *idx, size_t *n,
                         cx_hash path[MERKLE_MAX_DEPTH], size_t *path_len) {
  CX_ASSERT(v && domain && did && idx && n && path && path_len);
  vault_schema s;
  root_ctx c = {.want = did, .at = SIZE_MAX};
  cx_err e = domain_leaves(v, domain, &s, &c);
  if (!e && c.at == SIZE_MAX) e = CX_E_NOT_FOUND;
  if (!e) {
    *idx = c.at;
    *n = c.n;
    *path_len = merkle_path(c.leaves, c.n, c.at, path);
  }
  free(c.leaves);
  return e;
}

/* ---- domain listing ----------------------------------------------------- */

typedef struct {
  char (*names)[VAULT_DOMAIN_MAX + 1];
  size_t n, cap;
} dom_ctx;

static cx_err dom_fn(vault *v, void *ctx, const uint8_t *k, size_t kl, const uint8_t *val,
                     size_t vl) {
  (void)v, (void)val, (void)vl;
  dom_ctx *c = ctx;
  char name[VAULT_DOMAIN_MAX + 1] = "";
  size_t dlen = kl >= 2 ? k[1] : 0;
  if (dlen == 0 || dlen > VAULT_DOMAIN_MAX || kl != dlen + 2) return CX_E_CORRUPT;
  memcpy(name, k + 2, dlen);
  if (strlen(name) != dlen || !domain_ok(name)) return CX_E_CORRUPT;
  if (c->n == c->cap) {
    size_t nc = c->cap ? 2 * c->cap : 16;
    void *nn = realloc(c->names, nc * sizeof *c->names);
    if (!nn) return CX_E_NOMEM;
    c->names = nn;
    c->cap = nc;
  }
  memcpy(c->names[c->n++], name, sizeof name);
  return CX_OK;
}

static int name_cmp(const void *a, const void *b) { return strcmp(a, b); }

cx_err vault_domains(vault *v, char (*out)[VAULT_DOMAIN_MAX + 1], size_t cap, size_t *n) {
  CX_ASSERT(v && (out || !cap) && n);
  dom_ctx c = {0};
  const uint8_t pfx = P_SCHEMA;
  *n = 0;
  /* Keys sort by length byte first: collect, then sort by name. */
  cx_err e = scan(v, &pfx, 1, dom_fn, &c);
  if (!e) {
    if (c.n) qsort(c.names, c.n, sizeof *c.names, name_cmp);
    *n = c.n;
    if (c.n && cap) memcpy(out, c.names, (c.n < cap ? c.n : cap) * sizeof *c.names);
    if (c.n > cap) e = CX_E_FULL;
  }
  free(c.names);
  return e;
}

/* ---- rotation ----------------------------------------------------------- */

typedef struct {
  leveldb_writebatch_t *wb;
  const uint8_t *nkey;
  uint64_t n;
} rot_ctx;

static cx_err rot_fn(vault *v, void *ctx, const uint8_t *k, size_t kl, const uint8_t *val,
                     size_t vl) {
  rot_ctx *c = ctx;
  uint8_t out[SEALED_MAX];
  size_t dlen = kl >= 2 ? k[1] : 0, plen = 0;
  if (dlen == 0 || dlen > VAULT_DOMAIN_MAX || kl != dlen + 2 + 32) return CX_E_CORRUPT;
  cx_err e = unseal(v->key, v->key_id, k + 2, dlen, k + 2 + dlen, val, vl, v->pt, &plen);
  if (e) return e;
  size_t ol = seal(c->nkey, v->key_id + 1, k + 2, dlen, k + 2 + dlen, v->pt, plen, out);
  sodium_memzero(v->pt, plen);
  leveldb_writebatch_put(c->wb, (const char *)k, kl, (const char *)out, ol);
  c->n++;
  return CX_OK;
}

cx_err vault_rotate(vault *v, const uint8_t new_key[VAULT_KEY_BYTES], uint32_t *new_key_id) {
  CX_ASSERT(v && new_key);
  if (v->key_id == UINT32_MAX) return CX_E_FULL;
  roots_forget(v); /* the roots do not change (docs/vault.md), but nothing is assumed */
  uint8_t *nk = sodium_malloc(VAULT_KEY_BYTES);
  if (!nk) return CX_E_NOMEM;
  memcpy(nk, new_key, VAULT_KEY_BYTES);
  /* Every record, the canary and the commitment secret (unchanged, so the
   * domain roots stay) in one batch: after a crash the vault is wholly under
   * the old key or wholly under the new one. */
  rot_ctx c = {.wb = leveldb_writebatch_create(), .nkey = nk};
  const uint8_t pfx = P_REC;
  cx_err e = scan(v, &pfx, 1, rot_fn, &c);
  if (!e) {
    canary_seal(nk, v->key_id + 1, c.wb);
    commit_seal(nk, v->key_id + 1, v->commit, c.wb);
    e = db_write(v, c.wb);
  }
  leveldb_writebatch_destroy(c.wb);
  if (e) {
    LOG_E(MOD, "rotation to key id %u failed (%s); the vault stays under key id %u",
          v->key_id + 1, cx_err_name(e), v->key_id);
    sodium_free(nk);
    return e;
  }
  sodium_free(v->key); /* sodium_free wipes before unmapping */
  v->key = nk;
  v->key_id++;
  /* Drop the superseded old-key versions from LevelDB's live files (what the
   * file system keeps of deleted files is beyond reach here). */
  leveldb_compact_range(v->db, NULL, 0, NULL, 0);
  if (new_key_id) *new_key_id = v->key_id;
  LOG_I(MOD, "re-sealed %llu records under key id %u", (unsigned long long)c.n, v->key_id);
  return CX_OK;
}

uint32_t vault_key_id(const vault *v) {
  CX_ASSERT(v);
  return v->key_id;
}

/* ---- access log --------------------------------------------------------- */

/* call || contract || subject || str domain || str fields || varint time_ms */
static void log_encode(const vault_access *a, cx_enc *e) {
  enc_fixed(e, a->call.b, 32);
  enc_fixed(e, a->contract.b, 32);
  enc_fixed(e, a->subject.b, 32);
  enc_str(e, a->domain);
  enc_str(e, a->fields);
  enc_varint(e, a->time_ms);
}

static cx_err log_decode(const uint8_t *p, size_t n, vault_access *a) {
  cx_dec d;
  memset(a, 0, sizeof *a);
  dec_init(&d, p, n);
  dec_fixed(&d, a->call.b, 32);
  dec_fixed(&d, a->contract.b, 32);
  dec_fixed(&d, a->subject.b, 32);
  dec_str(&d, a->domain, VAULT_DOMAIN_MAX, STR_IDENT);
  dec_str(&d, a->fields, FIELDS_MAX, STR_UTF8);
  dec_varint(&d, &a->time_ms);
  return dec_finish(&d) == CX_OK && fields_ok(a->fields) ? CX_OK : CX_E_CORRUPT;
}

static size_t log_key(uint8_t *k, uint64_t seq) {
  k[0] = P_LOG;
  put_be64(k + 1, seq);
  return 9;
}

static void log_meta_put(leveldb_writebatch_t *wb, uint64_t len, const cx_hash *head) {
  uint8_t k[16], val[LOG_META_LEN];
  put_be64(val, len);
  memcpy(val + 8, head->b, 32);
  leveldb_writebatch_put(wb, (const char *)k, meta_key(k, META_LOG), (const char *)val, sizeof val);
}

cx_err vault_log_append(vault *v, const vault_access *a, size_t n, uint64_t *seq) {
  CX_ASSERT(v && (a || !n));
  for (size_t i = 0; i < n; i++) /* all or nothing: every entry checked before any is written */
    if (!memchr(a[i].domain, 0, sizeof a[i].domain) || !domain_ok(a[i].domain) || !fields_ok(a[i].fields))
      return CX_E_INVALID_ARG;
  if (!n) {
    if (seq) *seq = v->log_len;
    return CX_OK;
  }
  /* The chain runs on in memory and lands in one synced batch: a batch of
   * calls makes one fsync, not one per call (docs/vault.md, "Access log"). */
  cx_hash h = v->log_head;
  cx_err e = CX_OK;
  leveldb_writebatch_t *wb = leveldb_writebatch_create();
  for (size_t i = 0; i < n && !e; i++) {
    cx_enc en;
    uint8_t k[9];
    enc_init(&en);
    log_encode(&a[i], &en);
    LHASH("custos/vault/log/v1", h.b, 32, en.buf, en.len, &h);
    enc_fixed(&en, h.b, 32);
    if (!(e = enc_finish(&en)))
      leveldb_writebatch_put(wb, (const char *)k, log_key(k, v->log_len + i), (const char *)en.buf, en.len);
    enc_free(&en);
  }
  if (!e) {
    log_meta_put(wb, v->log_len + n, &h);
    e = db_write(v, wb);
  }
  leveldb_writebatch_destroy(wb);
  if (e) return e;
  if (seq) *seq = v->log_len;
  v->log_len += n;
  v->log_head = h;
  return CX_OK;
}

cx_err vault_log_get(vault *v, uint64_t seq, vault_access *out, cx_hash *chain) {
  CX_ASSERT(v && out);
  uint8_t k[9], val[LOG_VAL_MAX];
  size_t vl = 0;
  if (seq >= v->log_len) return CX_E_NOT_FOUND;
  cx_err e = db_get(v, k, log_key(k, seq), val, sizeof val, &vl);
  if (e == CX_E_NOT_FOUND) return CX_E_CORRUPT; /* below the recorded length */
  if (e) return e;
  if (vl <= 32 || log_decode(val, vl - 32, out) != CX_OK) return CX_E_CORRUPT;
  if (chain) memcpy(chain->b, val + vl - 32, 32);
  return CX_OK;
}

uint64_t vault_log_len(const vault *v) {
  CX_ASSERT(v);
  return v->log_len;
}

typedef struct {
  uint64_t i;
  cx_hash h;
} ver_ctx;

static cx_err ver_fn(vault *v, void *ctx, const uint8_t *k, size_t kl, const uint8_t *val,
                     size_t vl) {
  ver_ctx *c = ctx;
  vault_access a;
  cx_hash h;
  /* A missing entry shows as the next one at this index; an extra one past
   * the recorded length is damage too. */
  if (c->i >= v->log_len || kl != 9 || get_be64(k + 1) != c->i || vl <= 32 || vl > LOG_VAL_MAX ||
      log_decode(val, vl - 32, &a) != CX_OK)
    return CX_E_CORRUPT;
  LHASH("custos/vault/log/v1", c->h.b, 32, val, vl - 32, &h);
  if (memcmp(h.b, val + vl - 32, 32) != 0) return CX_E_CORRUPT;
  c->h = h;
  c->i++;
  return CX_OK;
}

cx_err vault_log_verify(vault *v, uint64_t *bad) {
  CX_ASSERT(v);
  ver_ctx c = {0};
  const uint8_t pfx = P_LOG;
  cx_err e = scan(v, &pfx, 1, ver_fn, &c);
  /* Entries ran out early, or all check out but end elsewhere than the
   * recorded head (the last one was rewritten with its hash). */
  if (!e && c.i < v->log_len) e = CX_E_CORRUPT;
  else if (!e && !hash_eq(&c.h, &v->log_head)) {
    e = CX_E_CORRUPT;
    c.i = v->log_len ? v->log_len - 1 : 0;
  }
  if (e == CX_E_CORRUPT)
    LOG_W(MOD, "access log damaged at entry %llu of %llu", (unsigned long long)c.i,
          (unsigned long long)v->log_len);
  if (bad) *bad = e ? c.i : v->log_len;
  return e;
}

/* ---- open / close ------------------------------------------------------- */

static cx_err lock_and_open(vault *v, const char *dir) {
  size_t n = strlen(dir) + sizeof "/vault";
  char *path = malloc(n);
  char *err = NULL, msg[256];
  cx_err e = CX_OK;
  if (!path) return CX_E_NOMEM;
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    LOG_E(MOD, "cannot create %s: %s", dir, strerror(errno));
    e = CX_E_IO;
  } else if ((e = ldb_lock_dir(dir, "vault.lock", "vault", &v->lockfd, msg, sizeof msg))) {
    LOG_E(MOD, "%s", msg);
  }
  if (!e) {
    snprintf(path, n, "%s/vault", dir);
    (void)mkdir(path, 0700); /* LevelDB would make it 0755 */
    v->opt = leveldb_options_create();
    leveldb_options_set_create_if_missing(v->opt, 1);
    leveldb_options_set_paranoid_checks(v->opt, 1);
    v->db = leveldb_open(v->opt, path, &err);
    if (err) e = ldb_err(err);
  }
  free(path);
  return e;
}

static cx_err init_fresh(vault *v) {
  uint8_t k[16], val[4];
  char *err = NULL;
  /* No format record: the database must be empty, not a vault that lost it. */
  leveldb_iterator_t *it = leveldb_create_iterator(v->db, v->ro);
  leveldb_iter_seek_to_first(it);
  int any = leveldb_iter_valid(it);
  leveldb_iter_get_error(it, &err);
  leveldb_iter_destroy(it);
  if (err) return ldb_err(err);
  if (any) {
    LOG_E(MOD, "the vault holds records but no format record");
    return CX_E_CORRUPT;
  }
  leveldb_writebatch_t *wb = leveldb_writebatch_create();
  put_be32(val, FORMAT_VERSION);
  leveldb_writebatch_put(wb, (const char *)k, meta_key(k, META_FORMAT), (const char *)val, 4);
  canary_seal(v->key, v->key_id, wb);
  /* The commitment secret is drawn once, here, and never changes: the roots
   * of a domain stay the same across rotations. */
  randombytes_buf(v->commit, COMMIT_BYTES);
  commit_seal(v->key, v->key_id, v->commit, wb);
  log_meta_put(wb, 0, &(cx_hash){{0}});
  cx_err e = db_write(v, wb);
  leveldb_writebatch_destroy(wb);
  return e;
}

static cx_err check_key(vault *v) {
  static const uint8_t zero[32];
  uint8_t k[16], in[SEAL_HDR + CANARY_LEN + MAC_BYTES];
  size_t il = 0, plen = 0;
  cx_err e = db_get(v, k, meta_key(k, META_KEY), in, sizeof in, &il);
  if (e || il != sizeof in) return e && e != CX_E_NOT_FOUND ? e : CX_E_CORRUPT;
  if (get_be32(in) != v->key_id) {
    LOG_E(MOD, "the vault is sealed under key id %u, not %u", get_be32(in), v->key_id);
    return CX_E_PASSPHRASE;
  }
  e = unseal(v->key, v->key_id, zero, 0, zero, in, il, v->pt, &plen);
  int ok = e == CX_OK && plen == CANARY_LEN && sodium_memcmp(v->pt, CANARY, CANARY_LEN) == 0;
  sodium_memzero(v->pt, PT_MAX);
  if (!ok) LOG_E(MOD, "the data key does not open the vault (key id %u)", v->key_id);
  return ok ? CX_OK : CX_E_PASSPHRASE;
}

/* The commitment secret into v->commit (after check_key: the key is right,
 * so a secret that does not open is damage). */
static cx_err load_commit(vault *v) {
  uint8_t k[16], in[COMMIT_SEALED];
  size_t il = 0, plen = 0;
  cx_err e = db_get(v, k, meta_key(k, META_COMMIT), in, sizeof in, &il);
  if (e || il != sizeof in) return e && e != CX_E_NOT_FOUND ? e : CX_E_CORRUPT;
  e = unseal(v->key, v->key_id, COMMIT_AD_DID, 0, COMMIT_AD_DID, in, il, v->commit, &plen);
  if (e || plen != COMMIT_BYTES) {
    sodium_memzero(v->commit, COMMIT_BYTES);
    LOG_E(MOD, "the commitment secret does not open under key id %u", v->key_id);
    return e ? e : CX_E_CORRUPT;
  }
  return CX_OK;
}

cx_err vault_open(const char *dir, const uint8_t key[VAULT_KEY_BYTES], uint32_t key_id, vault **out) {
  CX_ASSERT(dir && key && out && key_id >= 1);
  uint8_t k[16], val[LOG_META_LEN];
  size_t vl = 0;
  *out = NULL;
  if (sodium_init() < 0) return CX_E_CRYPTO;
  vault *v = calloc(1, sizeof *v);
  if (!v) return CX_E_NOMEM;
  v->lockfd = -1;
  v->key = sodium_malloc(VAULT_KEY_BYTES);
  v->pt = sodium_malloc(PT_MAX);
  v->commit = sodium_malloc(COMMIT_BYTES);
  v->ro = leveldb_readoptions_create();
  leveldb_readoptions_set_verify_checksums(v->ro, 1);
  v->wo = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(v->wo, 1);
  cx_err e = v->key && v->pt && v->commit ? CX_OK : CX_E_NOMEM;
  if (e) goto out;
  memcpy(v->key, key, VAULT_KEY_BYTES);
  v->key_id = key_id;
  e = lock_and_open(v, dir);
  if (e) goto out;
  e = db_get(v, k, meta_key(k, META_FORMAT), val, sizeof val, &vl);
  if (e == CX_E_NOT_FOUND) e = init_fresh(v);
  else if (!e && vl != 4) e = CX_E_CORRUPT;
  else if (!e && get_be32(val) != FORMAT_VERSION) {
    if (get_be32(val) == 1)
      LOG_E(MOD, "%s/vault has format 1 (unblinded domain roots, no commitment secret), which this "
            "version no longer opens; move it away and import its records again", dir);
    else
      LOG_E(MOD, "%s/vault has format %u; this version opens format %u only", dir, get_be32(val),
            FORMAT_VERSION);
    e = CX_E_BAD_VERSION;
  }
  if (e) goto out;
  e = check_key(v);
  if (!e) e = load_commit(v);
  if (e) goto out;
  e = db_get(v, k, meta_key(k, META_LOG), val, sizeof val, &vl);
  if (e == CX_E_NOT_FOUND || (!e && vl != LOG_META_LEN)) e = CX_E_CORRUPT;
  if (e) goto out;
  v->log_len = get_be64(val);
  memcpy(v->log_head.b, val + 8, 32);
  *out = v;
out:
  if (e) vault_close(v);
  return e;
}

void vault_close(vault *v) {
  if (!v) return;
  if (v->db) leveldb_close(v->db);
  if (v->opt) leveldb_options_destroy(v->opt);
  if (v->ro) leveldb_readoptions_destroy(v->ro);
  if (v->wo) leveldb_writeoptions_destroy(v->wo);
  if (v->lockfd >= 0) close(v->lockfd); /* after LevelDB let go of its files */
  sodium_free(v->key);                  /* wipes, then unmaps; NULL is a no-op */
  sodium_free(v->pt);
  sodium_free(v->commit);
  free(v);
}

/* ---- backup ------------------------------------------------------------- */

cx_err vault_backup(vault *v, const char *dir, uint64_t *keys, uint8_t sha256[32], char *errbuf,
                    size_t errlen) {
  CX_ASSERT(v && dir && keys && sha256);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    if (errbuf && errlen) snprintf(errbuf, errlen, "cannot create %s: %s", dir, strerror(errno));
    return CX_E_IO;
  }
  size_t n = strlen(dir) + sizeof "/vault";
  char *path = malloc(n);
  if (!path) return CX_E_NOMEM;
  snprintf(path, n, "%s/vault", dir);
  /* The handle's user is the only writer (vault.h); a snapshot still makes
   * the copy one state even if a caller breaks that rule. */
  const leveldb_snapshot_t *snap = leveldb_create_snapshot(v->db);
  cx_err e = ldb_copy(v->db, snap, path, keys, sha256, errbuf, errlen);
  leveldb_release_snapshot(v->db, snap);
  free(path);
  return e;
}
