/* Tests for storage/vault.c: schema refusals, records and their range checks,
 * all-or-nothing batches, reopening, the key check at open, sealing (tamper,
 * AD binding, nothing in plaintext on disk), rotation (including a process
 * killed during rotations), the domain root against core/merkle.h (hiding:
 * blinded leaves, openings and audit paths), the domain listing, and the
 * access-log chain against edits, removals and reordering made directly in
 * LevelDB (key layout: docs/vault.md). */
#include <dirent.h>
#include <leveldb/c.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "merkle.h"
#include "testutil.h"
#include "vault.h"

#define NONCE_LEN 24 /* XChaCha20-Poly1305: sealed value = u32 key id || nonce || ... */

/* ---- helpers ------------------------------------------------------------ */

static void key_of(uint32_t seed, uint8_t k[VAULT_KEY_BYTES]) {
  hash_tagged(CX_TAG_DID, &seed, sizeof seed, (cx_hash *)k); /* any fixed bytes will do */
}

static void did_of(uint32_t i, cx_hash *d) {
  uint8_t b[5] = {'d', (uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
  hash_tagged(CX_TAG_DID, b, sizeof b, d);
}

static vault *open_ok(const char *dir, uint32_t seed, uint32_t id) {
  uint8_t k[VAULT_KEY_BYTES];
  vault *v = NULL;
  key_of(seed, k);
  cx_err e = vault_open(dir, k, id, &v);
  ck_assert_msg(e == CX_OK, "vault_open: %s", cx_err_name(e));
  return v;
}

static cx_err try_open(const char *dir, uint32_t seed, uint32_t id) {
  uint8_t k[VAULT_KEY_BYTES];
  vault *v = NULL;
  key_of(seed, k);
  cx_err e = vault_open(dir, k, id, &v);
  ck_assert(e == CX_OK ? v != NULL : v == NULL);
  vault_close(v);
  return e;
}

static void add_field(vault_schema *s, const char *name, int is_bool, int64_t lo, int64_t hi) {
  vault_field *f = &s->fields[s->nfields++];
  memset(f, 0, sizeof *f);
  snprintf(f->name, sizeof f->name, "%s", name);
  f->is_bool = is_bool;
  f->lo = lo;
  f->hi = hi;
}

/* health: age 0..150, smoker bool, income, score (any int64). */
static void health(vault_schema *s, const char *domain) {
  memset(s, 0, sizeof *s);
  snprintf(s->domain, sizeof s->domain, "%s", domain);
  add_field(s, "age", 0, 0, 150);
  add_field(s, "smoker", 1, 0, 1);
  add_field(s, "income", 0, -1000000, 1000000000000);
  add_field(s, "score", 0, INT64_MIN, INT64_MAX);
}

static vault *open_health(const char *dir) {
  vault *v = open_ok(dir, 1, 1);
  vault_schema s;
  char err[256] = "";
  health(&s, "health");
  ck_assert_msg(vault_schema_set(v, &s, err, sizeof err) == CX_OK, "%s", err);
  return v;
}

static void vals_of(uint32_t i, int64_t out[4]) {
  out[0] = i % 151;
  out[1] = i & 1;
  out[2] = (int64_t)i * 1000 - 500000;
  out[3] = (int64_t)(0x9e3779b97f4a7c15ull * (i + 1));
}

static void put_ok(vault *v, const char *domain, uint32_t i) {
  cx_hash d;
  int64_t vals[4];
  char err[256] = "";
  did_of(i, &d);
  vals_of(i, vals);
  ck_assert_msg(vault_put(v, domain, &d, vals, 4, err, sizeof err) == CX_OK, "%s", err);
}

static void expect_rec(vault *v, const char *domain, uint32_t i) {
  cx_hash d;
  int64_t want[4], got[4] = {0};
  size_t n = 0;
  did_of(i, &d);
  vals_of(i, want);
  cx_err e = vault_get(v, domain, &d, got, 4, &n);
  ck_assert_msg(e == CX_OK, "record %u: %s", i, cx_err_name(e));
  ck_assert_uint_eq(n, 4);
  ck_assert_mem_eq(got, want, sizeof want);
}

/* Raw LevelDB access to DIR/vault (the vault must be closed). */
typedef struct {
  leveldb_t *db;
  leveldb_options_t *o;
  leveldb_readoptions_t *ro;
  leveldb_writeoptions_t *wo;
} raw;

static void raw_open(raw *r, const char *dir) {
  char path[512], *err = NULL;
  snprintf(path, sizeof path, "%s/vault", dir);
  r->o = leveldb_options_create();
  r->ro = leveldb_readoptions_create();
  r->wo = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(r->wo, 1);
  r->db = leveldb_open(r->o, path, &err);
  ck_assert_msg(err == NULL, "%s", err);
}

static void raw_close(raw *r) {
  leveldb_close(r->db);
  leveldb_options_destroy(r->o);
  leveldb_readoptions_destroy(r->ro);
  leveldb_writeoptions_destroy(r->wo);
}

static uint8_t *raw_get(raw *r, const uint8_t *k, size_t kl, size_t *vl) {
  char *err = NULL;
  char *v = leveldb_get(r->db, r->ro, (const char *)k, kl, vl, &err);
  ck_assert(err == NULL && v != NULL);
  return (uint8_t *)v; /* leveldb_free */
}

static void raw_put(raw *r, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  char *err = NULL;
  leveldb_put(r->db, r->wo, (const char *)k, kl, (const char *)v, vl, &err);
  ck_assert(err == NULL);
}

static void raw_del(raw *r, const uint8_t *k, size_t kl) {
  char *err = NULL;
  leveldb_delete(r->db, r->wo, (const char *)k, kl, &err);
  ck_assert(err == NULL);
}

static size_t rkey(uint8_t *k, const char *domain, uint32_t i) {
  cx_hash d;
  size_t n = strlen(domain);
  did_of(i, &d);
  k[0] = 'R';
  k[1] = (uint8_t)n;
  memcpy(k + 2, domain, n);
  memcpy(k + 2 + n, d.b, 32);
  return n + 34;
}

static size_t lkey(uint8_t *k, uint64_t seq) {
  k[0] = 'L';
  for (int i = 0; i < 8; i++) k[1 + i] = (uint8_t)(seq >> (56 - 8 * i));
  return 9;
}

/* Flips one byte at off (from the end if negative) of the value at k. */
static void raw_flip(const char *dir, const uint8_t *k, size_t kl, long off) {
  raw r;
  size_t vl;
  raw_open(&r, dir);
  uint8_t *v = raw_get(&r, k, kl, &vl);
  size_t at = off >= 0 ? (size_t)off : vl - (size_t)-off;
  ck_assert_uint_lt(at, vl);
  v[at] ^= 0x40;
  raw_put(&r, k, kl, v, vl);
  leveldb_free(v);
  raw_close(&r);
}

/* ---- schemas ------------------------------------------------------------ */

START_TEST(test_schema_refusals) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_ok(dir, 1, 1);
  struct {
    const char *what;
    const char *sentence;
  } cases[] = {
      {"domain upper", "domain: not an identifier"},
      {"domain empty", "domain: not an identifier"},
      {"domain unterminated", "domain: not an identifier"},
      {"no fields", "health: a schema needs at least one field"},
      {"too many", "health: 65 fields, at most 64 are allowed"},
      {"name upper", "field 1: name is not [a-z][a-z0-9_]*"},
      {"name digit", "field 1: name is not"},
      {"name empty", "field 1: name is not"},
      {"name dash", "field 1: name is not"},
      {"name unterminated", "field 1: name is not"},
      {"duplicate", "age: duplicate field (also field 0)"},
      {"empty range", "income: range 5..4 is empty"},
      {"bool range", "smoker: a bool field's range must be 0..1"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    vault_schema s;
    char err[256] = "";
    health(&s, "health");
    switch (c) {
      case 0: snprintf(s.domain, sizeof s.domain, "Health"); break;
      case 1: s.domain[0] = 0; break;
      case 2: memset(s.domain, 'a', sizeof s.domain); break;
      case 3: s.nfields = 0; break;
      case 4: s.nfields = VAULT_MAX_FIELDS + 1; break; /* refused before fields[] is read */
      case 5: snprintf(s.fields[1].name, sizeof s.fields[1].name, "Smoker"); break;
      case 6: snprintf(s.fields[1].name, sizeof s.fields[1].name, "1x"); break;
      case 7: s.fields[1].name[0] = 0; break;
      case 8: snprintf(s.fields[1].name, sizeof s.fields[1].name, "a-b"); break;
      case 9: memset(s.fields[1].name, 'a', sizeof s.fields[1].name); break;
      case 10: snprintf(s.fields[2].name, sizeof s.fields[2].name, "age"); break;
      case 11: s.fields[2].lo = 5, s.fields[2].hi = 4; break;
      case 12: s.fields[1].lo = 5, s.fields[1].hi = 9; break;
    }
    cx_err e = vault_schema_set(v, &s, err, sizeof err);
    ck_assert_msg(e == CX_E_INVALID_ARG, "%s: %s", cases[c].what, cx_err_name(e));
    ck_assert_msg(strstr(err, cases[c].sentence), "%s: got \"%s\"", cases[c].what, err);
  }
  /* Nothing was stored by the refusals. */
  vault_schema got;
  ck_assert_int_eq(vault_schema_get(v, "health", &got), CX_E_NOT_FOUND);
  ck_assert_int_eq(vault_schema_get(v, "Bad!", &got), CX_E_INVALID_ARG);

  /* 64 fields is the cap, a 32-byte name the longest; a bool's unset range reads back as 0..1. */
  vault_schema s;
  char err[256] = "";
  memset(&s, 0, sizeof s);
  snprintf(s.domain, sizeof s.domain, "wide-domain_16ch");
  add_field(&s, "flag", 1, 0, 0);
  add_field(&s, "abcdefghijklmnopqrstuvwxyz012345", 0, -3, 3);
  while (s.nfields < VAULT_MAX_FIELDS) {
    char n[16];
    snprintf(n, sizeof n, "f%zu", s.nfields);
    add_field(&s, n, 0, 0, 1);
  }
  ck_assert_msg(vault_schema_set(v, &s, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_int_eq(vault_schema_get(v, "wide-domain_16ch", &got), CX_OK);
  ck_assert_uint_eq(got.nfields, VAULT_MAX_FIELDS);
  ck_assert(got.fields[0].is_bool && got.fields[0].lo == 0 && got.fields[0].hi == 1);
  ck_assert_str_eq(got.fields[1].name, "abcdefghijklmnopqrstuvwxyz012345");
  ck_assert(got.fields[1].lo == -3 && got.fields[1].hi == 3);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_schema_replace) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  vault_schema s, got;
  char err[256] = "";
  /* No records yet: a different schema replaces the old one. */
  health(&s, "health");
  s.fields[0].hi = 120;
  ck_assert_int_eq(vault_schema_set(v, &s, err, sizeof err), CX_OK);
  ck_assert_int_eq(vault_schema_get(v, "health", &got), CX_OK);
  ck_assert(got.fields[0].hi == 120);
  put_ok(v, "health", 7);
  /* With a record: the same schema is accepted, another refused. */
  ck_assert_int_eq(vault_schema_set(v, &s, err, sizeof err), CX_OK);
  s.fields[0].hi = 150;
  ck_assert_int_eq(vault_schema_set(v, &s, err, sizeof err), CX_E_EXISTS);
  ck_assert_msg(strstr(err, "health: the domain holds 1 records"), "%s", err);
  ck_assert_int_eq(vault_schema_get(v, "health", &got), CX_OK);
  ck_assert(got.fields[0].hi == 120);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* ---- records ------------------------------------------------------------ */

START_TEST(test_put_get) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  uint64_t n = 99;
  ck_assert_int_eq(vault_count(v, "health", &n), CX_OK);
  ck_assert_uint_eq(n, 0);
  for (uint32_t i = 0; i < 50; i++) put_ok(v, "health", i);
  for (uint32_t i = 0; i < 50; i++) expect_rec(v, "health", i);
  ck_assert_int_eq(vault_count(v, "health", &n), CX_OK);
  ck_assert_uint_eq(n, 50);

  /* Extremes of a full-range field, negatives, and replacement. */
  cx_hash d;
  int64_t vals[4] = {150, 1, -1000000, INT64_MIN}, got[4];
  size_t nv = 0;
  char err[256] = "";
  did_of(3, &d);
  ck_assert_int_eq(vault_put(v, "health", &d, vals, 4, err, sizeof err), CX_OK);
  ck_assert_int_eq(vault_get(v, "health", &d, got, 4, &nv), CX_OK);
  ck_assert_mem_eq(got, vals, sizeof vals);
  vals[0] = 0, vals[3] = INT64_MAX;
  ck_assert_int_eq(vault_put(v, "health", &d, vals, 4, err, sizeof err), CX_OK);
  ck_assert_int_eq(vault_get(v, "health", &d, got, 4, &nv), CX_OK);
  ck_assert_mem_eq(got, vals, sizeof vals);
  ck_assert_int_eq(vault_count(v, "health", &n), CX_OK);
  ck_assert_uint_eq(n, 50);

  /* Unknown subject, unknown domain, too little room. */
  did_of(1000, &d);
  ck_assert_int_eq(vault_get(v, "health", &d, got, 4, &nv), CX_E_NOT_FOUND);
  ck_assert_int_eq(vault_get(v, "tax", &d, got, 4, &nv), CX_E_NOT_FOUND);
  ck_assert_int_eq(vault_count(v, "tax", &n), CX_E_NOT_FOUND);
  did_of(3, &d);
  ck_assert_int_eq(vault_get(v, "health", &d, got, 3, &nv), CX_E_FULL);
  ck_assert_uint_eq(nv, 4);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_range_checks) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  cx_hash d;
  int64_t got[4];
  size_t nv;
  did_of(1, &d);
  struct {
    int64_t vals[4];
    size_t n;
    const char *domain;
    cx_err e;
    const char *sentence;
  } cases[] = {
      {{200, 0, 0, 0}, 4, "health", CX_E_INVALID_ARG, "age: 200 is outside 0..150"},
      {{-1, 0, 0, 0}, 4, "health", CX_E_INVALID_ARG, "age: -1 is outside 0..150"},
      {{30, 2, 0, 0}, 4, "health", CX_E_INVALID_ARG, "smoker: 2 is not a bool (0 or 1)"},
      {{30, 0, -1000001, 0}, 4, "health", CX_E_INVALID_ARG,
       "income: -1000001 is outside -1000000..1000000000000"},
      {{30, 0, 0, 0}, 3, "health", CX_E_INVALID_ARG, "health: 3 values for 4 fields"},
      {{30, 0, 0, 0}, 4, "tax", CX_E_NOT_FOUND, "tax: the domain has no schema"},
      {{30, 0, 0, 0}, 4, "Tax!", CX_E_INVALID_ARG,
       "domain: not an identifier of 1..16 characters [a-z0-9_-]"},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char err[256] = "";
    cx_err e = vault_put(v, cases[c].domain, &d, cases[c].vals, cases[c].n, err, sizeof err);
    ck_assert_msg(e == cases[c].e, "case %zu: %s", c, cx_err_name(e));
    ck_assert_msg(strcmp(err, cases[c].sentence) == 0, "case %zu: got \"%s\"", c, err);
    ck_assert_int_eq(vault_get(v, "health", &d, got, 4, &nv), CX_E_NOT_FOUND);
  }
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_batch_all_or_nothing) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  enum { N = 100 };
  static int64_t vals[N][4];
  vault_record recs[N];
  char err[256] = "";
  uint64_t n = 0;
  for (uint32_t i = 0; i < N; i++) {
    did_of(i, &recs[i].did);
    vals_of(i, vals[i]);
    recs[i].vals = vals[i];
  }
  vals[57][0] = 151;
  ck_assert_int_eq(vault_put_batch(v, "health", recs, N, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_str_eq(err, "record 57: age: 151 is outside 0..150");
  ck_assert_int_eq(vault_count(v, "health", &n), CX_OK);
  ck_assert_uint_eq(n, 0);
  vals[57][0] = 57 % 151;
  recs[80].did = recs[12].did;
  ck_assert_int_eq(vault_put_batch(v, "health", recs, N, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_str_eq(err, "record 80: same did as record 12");
  ck_assert_int_eq(vault_count(v, "health", &n), CX_OK);
  ck_assert_uint_eq(n, 0);
  did_of(80, &recs[80].did);
  ck_assert_msg(vault_put_batch(v, "health", recs, N, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_int_eq(vault_count(v, "health", &n), CX_OK);
  ck_assert_uint_eq(n, N);
  for (uint32_t i = 0; i < N; i++) expect_rec(v, "health", i);
  ck_assert_int_eq(vault_put_batch(v, "health", recs, 0, err, sizeof err), CX_OK);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_reopen) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  for (uint32_t i = 0; i < 20; i++) put_ok(v, "health", i);
  vault_access a;
  memset(&a, 0, sizeof a);
  snprintf(a.domain, sizeof a.domain, "health");
  snprintf(a.fields, sizeof a.fields, "age,smoker");
  ck_assert_int_eq(vault_log_append(v, &a, 1, NULL), CX_OK);
  /* A second handle on the same directory is refused while the first is open. */
  ck_assert_int_eq(try_open(dir, 1, 1), CX_E_LOCKED);
  vault_close(v);
  v = open_ok(dir, 1, 1);
  vault_schema s;
  ck_assert_int_eq(vault_schema_get(v, "health", &s), CX_OK);
  ck_assert_uint_eq(s.nfields, 4);
  for (uint32_t i = 0; i < 20; i++) expect_rec(v, "health", i);
  ck_assert_uint_eq(vault_log_len(v), 1);
  ck_assert_uint_eq(vault_key_id(v), 1);
  vault_close(v);
  vault_close(NULL);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_wrong_key) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  put_ok(v, "health", 1);
  vault_close(v);
  ck_assert_int_eq(try_open(dir, 2, 1), CX_E_PASSPHRASE); /* another key */
  ck_assert_int_eq(try_open(dir, 1, 2), CX_E_PASSPHRASE); /* the key, another id */
  ck_assert_int_eq(try_open(dir, 2, 2), CX_E_PASSPHRASE);
  /* A canary that does not open reads as a wrong key (it cannot tell). */
  uint8_t k[4] = {'M', 'k', 'e', 'y'};
  raw_flip(dir, k, sizeof k, -1);
  ck_assert_int_eq(try_open(dir, 1, 1), CX_E_PASSPHRASE);
  raw_flip(dir, k, sizeof k, -1);
  ck_assert_int_eq(try_open(dir, 1, 1), CX_OK);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* ---- sealing ------------------------------------------------------------ */

START_TEST(test_tamper_record) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  for (uint32_t i = 0; i < 3; i++) put_ok(v, "health", i);
  vault_close(v);
  uint8_t k[64];
  size_t kl = rkey(k, "health", 1);
  /* key id, nonce, ciphertext, MAC: each flipped byte makes the record not open. */
  const long offs[] = {0, 3, 4, 27, 28, 40, -17, -1};
  for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
    raw_flip(dir, k, kl, offs[i]);
    v = open_ok(dir, 1, 1);
    cx_hash d;
    int64_t got[4];
    size_t nv;
    did_of(1, &d);
    ck_assert_msg(vault_get(v, "health", &d, got, 4, &nv) == CX_E_CRYPTO, "offset %ld", offs[i]);
    expect_rec(v, "health", 0);
    expect_rec(v, "health", 2);
    /* The root needs every record to open. */
    cx_hash root;
    ck_assert_int_eq(vault_domain_root(v, "health", &root, NULL), CX_E_CRYPTO);
    vault_close(v);
    raw_flip(dir, k, kl, offs[i]); /* undo */
    v = open_ok(dir, 1, 1);
    expect_rec(v, "health", 1);
    vault_close(v);
  }
  /* A record of the wrong size is damage. */
  raw r;
  size_t vl;
  raw_open(&r, dir);
  uint8_t *val = raw_get(&r, k, kl, &vl);
  raw_put(&r, k, kl, val, vl - 1);
  leveldb_free(val);
  raw_close(&r);
  v = open_ok(dir, 1, 1);
  cx_hash d;
  int64_t got[4];
  size_t nv;
  did_of(1, &d);
  ck_assert_int_eq(vault_get(v, "health", &d, got, 4, &nv), CX_E_CORRUPT);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

START_TEST(test_ad_binding) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  vault_schema s;
  char err[256] = "";
  health(&s, "tax");
  ck_assert_int_eq(vault_schema_set(v, &s, err, sizeof err), CX_OK);
  put_ok(v, "health", 1);
  put_ok(v, "health", 2);
  put_ok(v, "tax", 1);
  vault_close(v);
  /* Copy health/1's sealed value over health/2 and over tax/1. */
  raw r;
  uint8_t k1[64], k2[64], k3[64];
  size_t l1 = rkey(k1, "health", 1), l2 = rkey(k2, "health", 2), l3 = rkey(k3, "tax", 1), vl;
  raw_open(&r, dir);
  uint8_t *val = raw_get(&r, k1, l1, &vl);
  raw_put(&r, k2, l2, val, vl);
  raw_put(&r, k3, l3, val, vl);
  leveldb_free(val);
  raw_close(&r);
  v = open_ok(dir, 1, 1);
  cx_hash d;
  int64_t got[4];
  size_t nv;
  did_of(2, &d);
  ck_assert_int_eq(vault_get(v, "health", &d, got, 4, &nv), CX_E_CRYPTO);
  did_of(1, &d);
  ck_assert_int_eq(vault_get(v, "tax", &d, got, 4, &nv), CX_E_CRYPTO);
  expect_rec(v, "health", 1);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

static int file_has(const char *path, const uint8_t *pat, size_t pl) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  uint8_t *buf = NULL;
  size_t n = 0, cap = 0, got;
  uint8_t tmp[4096];
  while ((got = fread(tmp, 1, sizeof tmp, f)) > 0) {
    if (n + got > cap) {
      cap = (n + got) * 2;
      buf = realloc(buf, cap);
      ck_assert_ptr_nonnull(buf);
    }
    memcpy(buf + n, tmp, got);
    n += got;
  }
  fclose(f);
  int found = 0;
  for (size_t i = 0; i + pl <= n && !found; i++) found = memcmp(buf + i, pat, pl) == 0;
  free(buf);
  return found;
}

/* Files of directory path holding the bytes pat. */
static int dir_has_bytes(const char *path, const uint8_t *pat, size_t pl) {
  DIR *dd = opendir(path);
  ck_assert_ptr_nonnull(dd);
  int hits = 0;
  for (struct dirent *de; (de = readdir(dd));) {
    if (de->d_name[0] == '.') continue;
    char f[1024];
    snprintf(f, sizeof f, "%s/%s", path, de->d_name);
    hits += file_has(f, pat, pl);
  }
  closedir(dd);
  return hits;
}

/* Files of DIR/vault holding the 8-byte little- or big-endian encoding of x. */
static int dir_has(const char *dir, int64_t x) {
  char path[512];
  uint8_t le[8], be[8];
  for (int i = 0; i < 8; i++) {
    le[i] = (uint8_t)((uint64_t)x >> (8 * i));
    be[7 - i] = le[i];
  }
  snprintf(path, sizeof path, "%s/vault", dir);
  return dir_has_bytes(path, le, 8) + dir_has_bytes(path, be, 8);
}

START_TEST(test_no_plaintext_on_disk) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  const int64_t mark = 0x5ec7e75ec7e7ab1eLL;
  for (uint32_t i = 0; i < 40; i++) {
    cx_hash d;
    int64_t vals[4] = {42, 1, 123456789, mark + i};
    char err[256];
    did_of(i, &d);
    ck_assert_int_eq(vault_put(v, "health", &d, vals, 4, err, sizeof err), CX_OK);
  }
  cx_hash root;
  ck_assert_int_eq(vault_domain_root(v, "health", &root, NULL), CX_OK);
  vault_close(v);
  for (uint32_t i = 0; i < 40; i++) ck_assert_msg(dir_has(dir, mark + (int64_t)i) == 0, "value %u", i);
  /* The scan does see a plain value written through the same LevelDB. */
  raw r;
  uint8_t le[8];
  for (int i = 0; i < 8; i++) le[i] = (uint8_t)((uint64_t)mark >> (8 * i));
  raw_open(&r, dir);
  raw_put(&r, (const uint8_t *)"X", 1, le, 8);
  raw_close(&r);
  ck_assert_int_gt(dir_has(dir, mark), 0);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* ---- rotation ----------------------------------------------------------- */

START_TEST(test_rotate) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  vault_schema s;
  char err[256] = "";
  health(&s, "tax");
  ck_assert_int_eq(vault_schema_set(v, &s, err, sizeof err), CX_OK);
  for (uint32_t i = 0; i < 30; i++) {
    put_ok(v, "health", i);
    put_ok(v, "tax", i + 100);
  }
  cx_hash r1, r2;
  ck_assert_int_eq(vault_domain_root(v, "health", &r1, NULL), CX_OK);
  uint8_t k[64], old[128], nk[VAULT_KEY_BYTES];
  char path[512];
  size_t kl = rkey(k, "health", 5), ol, vl;
  vault_close(v);
  raw r;
  raw_open(&r, dir);
  uint8_t *val = raw_get(&r, k, kl, &ol);
  ck_assert_uint_le(ol, sizeof old);
  memcpy(old, val, ol);
  leveldb_free(val);
  raw_close(&r);

  v = open_ok(dir, 1, 1);
  uint32_t id = 0;
  key_of(2, nk);
  ck_assert_int_eq(vault_rotate(v, nk, &id), CX_OK);
  ck_assert_uint_eq(id, 2);
  ck_assert_uint_eq(vault_key_id(v), 2);
  for (uint32_t i = 0; i < 30; i++) {
    expect_rec(v, "health", i);
    expect_rec(v, "tax", i + 100);
  }
  /* Writes after a rotation use the new key. */
  put_ok(v, "health", 77);
  ck_assert_int_eq(vault_domain_root(v, "health", &r2, NULL), CX_OK);
  vault_close(v);
  ck_assert_int_eq(try_open(dir, 1, 1), CX_E_PASSPHRASE);
  ck_assert_int_eq(try_open(dir, 1, 2), CX_E_PASSPHRASE);
  ck_assert_int_eq(try_open(dir, 2, 1), CX_E_PASSPHRASE);

  /* Every record re-sealed: names key id 2, fresh bytes. */
  raw_open(&r, dir);
  val = raw_get(&r, k, kl, &vl);
  ck_assert_uint_eq(vl, ol);
  ck_assert(memcmp(val, old, ol) != 0);
  leveldb_free(val);
  leveldb_iterator_t *it = leveldb_create_iterator(r.db, r.ro);
  int nrec = 0;
  for (leveldb_iter_seek(it, "R", 1); leveldb_iter_valid(it); leveldb_iter_next(it)) {
    size_t l;
    const uint8_t *key = (const uint8_t *)leveldb_iter_key(it, &l);
    if (key[0] != 'R') break;
    const uint8_t *x = (const uint8_t *)leveldb_iter_value(it, &l);
    ck_assert(x[0] == 0 && x[1] == 0 && x[2] == 0 && x[3] == 2);
    nrec++;
  }
  leveldb_iter_destroy(it);
  raw_close(&r);
  ck_assert_int_eq(nrec, 61);
  /* The old-key sealed bytes are gone from the files (compacted away). */
  snprintf(path, sizeof path, "%s/vault", dir);
  ck_assert_int_eq(dir_has_bytes(path, old + 4, NONCE_LEN), 0);

  v = open_ok(dir, 2, 2);
  for (uint32_t i = 0; i < 30; i++) expect_rec(v, "health", i);
  expect_rec(v, "health", 77);
  cx_hash r3;
  ck_assert_int_eq(vault_domain_root(v, "health", &r3, NULL), CX_OK);
  ck_assert(hash_eq(&r2, &r3));
  ck_assert(!hash_eq(&r1, &r2));
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* The key id named by the canary, read directly. */
static uint32_t raw_key_id(const char *dir) {
  raw r;
  size_t vl;
  raw_open(&r, dir);
  uint8_t *v = raw_get(&r, (const uint8_t *)"Mkey", 4, &vl);
  ck_assert_uint_ge(vl, 4);
  uint32_t id = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
  leveldb_free(v);
  raw_close(&r);
  return id;
}

/* A process killed at a random moment during back-to-back rotations leaves
 * the vault wholly under one key: key id k with key k, every record opens. */
START_TEST(test_rotate_killed) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  enum { N = 300 };
  static int64_t vals[N][4];
  vault_record recs[N];
  char err[256] = "";
  for (uint32_t i = 0; i < N; i++) {
    did_of(i, &recs[i].did);
    vals_of(i, vals[i]);
    recs[i].vals = vals[i];
  }
  ck_assert_int_eq(vault_put_batch(v, "health", recs, N, err, sizeof err), CX_OK);
  vault_close(v);
  uint32_t id = 1, rotated = 0;
  for (int round = 0; round < 4; round++) {
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
      uint8_t k[VAULT_KEY_BYTES];
      vault *c = NULL;
      key_of(id, k);
      if (vault_open(dir, k, id, &c) != CX_OK) _exit(2);
      for (;;) {
        uint32_t nid = 0;
        key_of(vault_key_id(c) + 1, k);
        if (vault_rotate(c, k, &nid) != CX_OK) _exit(3);
      }
    }
    usleep((useconds_t)(30000 + tu_rand() % 200000));
    kill(pid, SIGKILL);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFSIGNALED(status), "child exited with %d", WEXITSTATUS(status));
    uint32_t nid = raw_key_id(dir);
    ck_assert_uint_ge(nid, id);
    rotated += nid - id;
    id = nid;
    if (id > 1) ck_assert_int_eq(try_open(dir, id - 1, id - 1), CX_E_PASSPHRASE);
    v = open_ok(dir, id, id);
    uint64_t n = 0;
    ck_assert_int_eq(vault_count(v, "health", &n), CX_OK);
    ck_assert_uint_eq(n, N);
    for (uint32_t i = 0; i < N; i++) expect_rec(v, "health", i);
    vault_close(v);
  }
  ck_assert_uint_gt(rotated, 0);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* ---- domain root -------------------------------------------------------- */

static void lhash(const char *label, const void *a, size_t al, const void *b, size_t bl, cx_hash *out) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, 32);
  crypto_generichash_update(&st, (const uint8_t *)label, strlen(label) + 1);
  crypto_generichash_update(&st, a, al);
  crypto_generichash_update(&st, b, bl);
  crypto_generichash_final(&st, out->b, 32);
}

static int hash_cmp(const void *a, const void *b) { return memcmp(a, b, 32); }

/* The leaf as docs/vault.md defines it, written out here (not vault_leaf). */
static void leaf_by_hand(const char *domain, const cx_hash *did, const uint8_t blind[32],
                         const int64_t *vals, size_t n, cx_hash *leaf) {
  uint8_t pt[8 * VAULT_MAX_FIELDS], l = (uint8_t)strlen(domain);
  cx_hash rh;
  crypto_generichash_state st;
  for (size_t f = 0; f < n; f++)
    for (int j = 0; j < 8; j++) pt[8 * f + (size_t)j] = (uint8_t)((uint64_t)vals[f] >> (8 * j));
  lhash("custos/vault/record/v2", blind, 32, pt, 8 * n, &rh);
  crypto_generichash_init(&st, NULL, 0, 32);
  crypto_generichash_update(&st, (const uint8_t *)"custos/vault/leaf/v2", sizeof "custos/vault/leaf/v2");
  crypto_generichash_update(&st, &l, 1);
  crypto_generichash_update(&st, (const uint8_t *)domain, l);
  crypto_generichash_update(&st, did->b, 32);
  crypto_generichash_update(&st, rh.b, 32);
  crypto_generichash_final(&st, leaf->b, 32);
}

/* The root of records idx[0..n) with the values of vals_of (record over_i
 * with over), rebuilt from the vault's openings and hashes written out here. */
static void expected_root(vault *v, const uint32_t *idx, size_t n, const int64_t *over, uint32_t over_i,
                          cx_hash *root) {
  struct {
    cx_hash did, leaf;
  } *e = calloc(n ? n : 1, sizeof *e);
  ck_assert_ptr_nonnull(e);
  for (size_t i = 0; i < n; i++) {
    int64_t vals[4], got[4];
    uint8_t blind[32];
    size_t nv = 0;
    cx_hash viaapi;
    did_of(idx[i], &e[i].did);
    vals_of(idx[i], vals);
    if (over && idx[i] == over_i) memcpy(vals, over, sizeof vals);
    ck_assert_int_eq(vault_record_opening(v, "health", &e[i].did, blind, got, 4, &nv), CX_OK);
    ck_assert_uint_eq(nv, 4);
    ck_assert_mem_eq(got, vals, sizeof vals);
    leaf_by_hand("health", &e[i].did, blind, vals, 4, &e[i].leaf);
    vault_leaf("health", &e[i].did, blind, got, 4, &viaapi);
    ck_assert(hash_eq(&viaapi, &e[i].leaf));
  }
  qsort(e, n, sizeof *e, hash_cmp); /* DID order */
  cx_hash *leaves = calloc(n ? n : 1, sizeof *leaves);
  for (size_t i = 0; i < n; i++) leaves[i] = e[i].leaf;
  merkle_root(leaves, n, root);
  free(leaves);
  free(e);
}

/* Every record's opening and path check against root with merkle_verify
 * alone, and a wrong value or blind does not. */
static void audit_all(vault *v, const uint32_t *idx, size_t n, const cx_hash *root) {
  for (size_t i = 0; i < n; i++) {
    cx_hash did, leaf, path[MERKLE_MAX_DEPTH];
    int64_t vals[4];
    uint8_t blind[32];
    size_t nv = 0, at = 0, cnt = 0, plen = 0;
    did_of(idx[i], &did);
    ck_assert_int_eq(vault_record_opening(v, "health", &did, blind, vals, 4, &nv), CX_OK);
    ck_assert_int_eq(vault_record_path(v, "health", &did, &at, &cnt, path, &plen), CX_OK);
    ck_assert_uint_eq(cnt, n);
    vault_leaf("health", &did, blind, vals, nv, &leaf);
    ck_assert(merkle_verify(&leaf, at, cnt, path, plen, root));
    vals[1] ^= 1;
    vault_leaf("health", &did, blind, vals, nv, &leaf);
    ck_assert(!merkle_verify(&leaf, at, cnt, path, plen, root));
    vals[1] ^= 1;
    blind[7] ^= 1;
    vault_leaf("health", &did, blind, vals, nv, &leaf);
    ck_assert(!merkle_verify(&leaf, at, cnt, path, plen, root));
    blind[7] ^= 1;
    vault_leaf("tax", &did, blind, vals, nv, &leaf); /* the domain is bound too */
    ck_assert(!merkle_verify(&leaf, at, cnt, path, plen, root));
  }
}

START_TEST(test_domain_root) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  cx_hash root, want, zero = {{0}};
  uint64_t n = 99;
  ck_assert_int_eq(vault_domain_root(v, "health", &root, &n), CX_OK);
  ck_assert_uint_eq(n, 0);
  ck_assert(hash_eq(&root, &zero));
  ck_assert_int_eq(vault_domain_root(v, "tax", &root, &n), CX_E_NOT_FOUND);
  uint32_t idx[37];
  for (uint32_t i = 0; i < 37; i++) {
    idx[i] = i * 7 + 3;
    put_ok(v, "health", idx[i]);
    if (i == 0 || i == 1 || i == 4 || i == 36) {
      ck_assert_int_eq(vault_domain_root(v, "health", &root, &n), CX_OK);
      ck_assert_uint_eq(n, i + 1);
      expected_root(v, idx, i + 1, NULL, 0, &want);
      ck_assert(hash_eq(&root, &want));
      audit_all(v, idx, i + 1, &root);
    }
  }
  /* Openings and paths of what is not there. */
  cx_hash d, changed, path[MERKLE_MAX_DEPTH];
  uint8_t blind[32];
  int64_t vals[4];
  size_t nv = 0, at, cnt, plen;
  char err[256];
  did_of(1, &d);
  ck_assert_int_eq(vault_record_opening(v, "health", &d, blind, vals, 4, &nv), CX_E_NOT_FOUND);
  ck_assert_int_eq(vault_record_path(v, "health", &d, &at, &cnt, path, &plen), CX_E_NOT_FOUND);
  ck_assert_int_eq(vault_record_path(v, "tax", &d, &at, &cnt, path, &plen), CX_E_NOT_FOUND);
  did_of(idx[3], &d);
  ck_assert_int_eq(vault_record_opening(v, "health", &d, blind, vals, 3, &nv), CX_E_FULL);
  ck_assert_uint_eq(nv, 4);

  /* One value changed: another root, the recomputed one. */
  did_of(idx[20], &d);
  vals_of(idx[20], vals);
  vals[2] += 1;
  ck_assert_int_eq(vault_put(v, "health", &d, vals, 4, err, sizeof err), CX_OK);
  ck_assert_int_eq(vault_domain_root(v, "health", &changed, &n), CX_OK);
  ck_assert(!hash_eq(&changed, &root));
  expected_root(v, idx, 37, vals, idx[20], &want);
  ck_assert(hash_eq(&changed, &want));
  /* Back to the old values: the old root (fresh nonces do not matter). */
  vals[2] -= 1;
  ck_assert_int_eq(vault_put(v, "health", &d, vals, 4, err, sizeof err), CX_OK);
  ck_assert_int_eq(vault_domain_root(v, "health", &changed, &n), CX_OK);
  ck_assert(hash_eq(&changed, &root));
  /* The same root, and the same blinds, under a new key and after reopening. */
  uint8_t nk[VAULT_KEY_BYTES], b1[32], b2[32];
  ck_assert_int_eq(vault_record_opening(v, "health", &d, b1, vals, 4, &nv), CX_OK);
  key_of(9, nk);
  ck_assert_int_eq(vault_rotate(v, nk, NULL), CX_OK);
  ck_assert_int_eq(vault_domain_root(v, "health", &changed, &n), CX_OK);
  ck_assert(hash_eq(&changed, &root));
  vault_close(v);
  v = open_ok(dir, 9, 2);
  ck_assert_int_eq(vault_domain_root(v, "health", &changed, &n), CX_OK);
  ck_assert(hash_eq(&changed, &root));
  ck_assert_int_eq(vault_record_opening(v, "health", &d, b2, vals, 4, &nv), CX_OK);
  ck_assert_mem_eq(b1, b2, 32);
  audit_all(v, idx, 37, &root);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* The commitment secret, unsealed here from its stored bytes with the key
 * (docs/vault.md: AD = label || 0x00 || 32 x 0xff || key id). */
static void raw_commit(const char *dir, uint32_t seed, uint32_t id, uint8_t secret[32]) {
  raw r;
  size_t vl;
  uint8_t key[VAULT_KEY_BYTES], ad[15 + 1 + 32 + 4];
  unsigned long long pl = 0;
  key_of(seed, key);
  memcpy(ad, "custos/vault/v1", 15);
  ad[15] = 0;
  memset(ad + 16, 0xff, 32);
  for (int i = 0; i < 4; i++) ad[48 + i] = (uint8_t)(id >> (24 - 8 * i));
  raw_open(&r, dir);
  uint8_t *v = raw_get(&r, (const uint8_t *)"Mcommit", 7, &vl);
  ck_assert_uint_eq(vl, 4 + NONCE_LEN + 32 + 16);
  ck_assert_int_eq(crypto_aead_xchacha20poly1305_ietf_decrypt(secret, &pl, NULL, v + 4 + NONCE_LEN,
                                                              vl - 4 - NONCE_LEN, ad, sizeof ad,
                                                              v + 4, key), 0);
  ck_assert_uint_eq(pl, 32);
  leveldb_free(v);
  raw_close(&r);
}

/* Hiding: two vaults with the same records have different roots; a root over
 * one record with one bool field matches neither unblinded candidate; the
 * blind is the keyed hash of docs/vault.md. */
START_TEST(test_root_hiding) {
  char *d1 = tu_tmpdir("vault"), *d2 = tu_tmpdir("vault");
  vault *a = open_health(d1), *b = open_health(d2);
  cx_hash ra, rb, did;
  for (uint32_t i = 0; i < 5; i++) {
    put_ok(a, "health", i);
    put_ok(b, "health", i);
  }
  ck_assert_int_eq(vault_domain_root(a, "health", &ra, NULL), CX_OK);
  ck_assert_int_eq(vault_domain_root(b, "health", &rb, NULL), CX_OK);
  ck_assert(!hash_eq(&ra, &rb));

  /* One record, one bool field: the two values the unblinded root would
   * give away by trying both. */
  vault_schema s;
  char err[256] = "";
  memset(&s, 0, sizeof s);
  snprintf(s.domain, sizeof s.domain, "flag");
  add_field(&s, "smoker", 1, 0, 1);
  ck_assert_int_eq(vault_schema_set(a, &s, err, sizeof err), CX_OK);
  did_of(42, &did);
  int64_t x = 1;
  ck_assert_int_eq(vault_put(a, "flag", &did, &x, 1, err, sizeof err), CX_OK);
  ck_assert_int_eq(vault_domain_root(a, "flag", &ra, NULL), CX_OK);
  static const uint8_t noblind[32];
  for (int64_t guess = 0; guess <= 1; guess++) {
    uint8_t pt[8] = {(uint8_t)guess};
    cx_hash rh, leaf, cand;
    /* the previous, unsalted leaf */
    lhash("custos/vault/record/v1", pt, 8, NULL, 0, &rh);
    lhash("custos/vault/leaf/v1", did.b, 32, rh.b, 32, &leaf);
    merkle_root(&leaf, 1, &cand);
    ck_assert(!hash_eq(&cand, &ra));
    /* today's leaf with an all-zero blind */
    vault_leaf("flag", &did, noblind, &guess, 1, &leaf);
    merkle_root(&leaf, 1, &cand);
    ck_assert(!hash_eq(&cand, &ra));
  }
  /* With the real blind, the guess 1 matches (the check above can fail). */
  uint8_t blind[32], want[32], secret[32];
  size_t nv = 0;
  cx_hash leaf, cand;
  ck_assert_int_eq(vault_record_opening(a, "flag", &did, blind, &x, 1, &nv), CX_OK);
  vault_leaf("flag", &did, blind, &(int64_t){1}, 1, &leaf);
  merkle_root(&leaf, 1, &cand);
  ck_assert(hash_eq(&cand, &ra));
  vault_close(a);
  vault_close(b);

  /* blind = BLAKE2b-256(key = secret, "custos/vault/blind/v2\0" || u8 len || domain || did) */
  raw_commit(d1, 1, 1, secret);
  uint8_t msg[sizeof "custos/vault/blind/v2" + 1 + 4 + 32];
  size_t ml = sizeof "custos/vault/blind/v2";
  memcpy(msg, "custos/vault/blind/v2", ml);
  msg[ml++] = 4;
  memcpy(msg + ml, "flag", 4);
  memcpy(msg + ml + 4, did.b, 32);
  crypto_generichash(want, 32, msg, sizeof msg, secret, 32);
  ck_assert_mem_eq(blind, want, 32);
  uint8_t other[32];
  raw_commit(d2, 1, 1, other);
  ck_assert(memcmp(secret, other, 32) != 0);
  tu_rmrf(d1);
  tu_rmrf(d2);
  free(d1);
  free(d2);
}
END_TEST

/* A vault of the previous format (1: no commitment secret) is refused with
 * CX_E_BAD_VERSION; a secret that does not open is CX_E_CRYPTO. */
START_TEST(test_old_format) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  put_ok(v, "health", 1);
  vault_close(v);
  raw r;
  raw_open(&r, dir);
  raw_put(&r, (const uint8_t *)"Mformat", 7, (const uint8_t[]){0, 0, 0, 1}, 4);
  raw_del(&r, (const uint8_t *)"Mcommit", 7);
  raw_close(&r);
  ck_assert_int_eq(try_open(dir, 1, 1), CX_E_BAD_VERSION);
  raw_open(&r, dir);
  raw_put(&r, (const uint8_t *)"Mformat", 7, (const uint8_t[]){0, 0, 0, 3}, 4);
  raw_close(&r);
  ck_assert_int_eq(try_open(dir, 1, 1), CX_E_BAD_VERSION);
  tu_rmrf(dir);
  free(dir);

  dir = tu_tmpdir("vault");
  v = open_health(dir);
  vault_close(v);
  raw_flip(dir, (const uint8_t *)"Mcommit", 7, -1);
  ck_assert_int_eq(try_open(dir, 1, 1), CX_E_CRYPTO);
  raw_flip(dir, (const uint8_t *)"Mcommit", 7, -1);
  ck_assert_int_eq(try_open(dir, 1, 1), CX_OK);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* ---- domain listing ----------------------------------------------------- */

START_TEST(test_domains) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_ok(dir, 1, 1);
  char out[8][VAULT_DOMAIN_MAX + 1];
  size_t n = 99;
  ck_assert_int_eq(vault_domains(v, NULL, 0, &n), CX_OK);
  ck_assert_uint_eq(n, 0);
  /* Keys sort by length first ("m" before "ab"); the listing by name. */
  const char *names[] = {"zeta", "m", "abc", "ab", "b1", "a-b_c0123456789x"};
  const char *sorted[] = {"a-b_c0123456789x", "ab", "abc", "b1", "m", "zeta"};
  for (size_t i = 0; i < 6; i++) {
    vault_schema s;
    char err[256] = "";
    health(&s, names[i]);
    ck_assert_msg(vault_schema_set(v, &s, err, sizeof err) == CX_OK, "%s", err);
  }
  put_ok(v, "b1", 3); /* records do not add names */
  memset(out, 0x55, sizeof out);
  ck_assert_int_eq(vault_domains(v, out, 8, &n), CX_OK);
  ck_assert_uint_eq(n, 6);
  for (size_t i = 0; i < 6; i++) ck_assert_str_eq(out[i], sorted[i]);
  ck_assert_uint_eq((uint8_t)out[6][0], 0x55);
  memset(out, 0x55, sizeof out);
  ck_assert_int_eq(vault_domains(v, out, 2, &n), CX_E_FULL);
  ck_assert_uint_eq(n, 6);
  ck_assert_str_eq(out[0], sorted[0]);
  ck_assert_str_eq(out[1], sorted[1]);
  ck_assert_uint_eq((uint8_t)out[2][0], 0x55);
  vault_close(v);
  v = open_ok(dir, 1, 1);
  ck_assert_int_eq(vault_domains(v, out, 6, &n), CX_OK);
  ck_assert_uint_eq(n, 6);
  ck_assert_str_eq(out[5], "zeta");
  vault_close(v);
  /* A malformed schema key is damage. */
  raw r;
  raw_open(&r, dir);
  raw_put(&r, (const uint8_t[]){'S', 5, 'x'}, 3, (const uint8_t *)"", 0);
  raw_close(&r);
  v = open_ok(dir, 1, 1);
  ck_assert_int_eq(vault_domains(v, out, 8, &n), CX_E_CORRUPT);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* ---- access log --------------------------------------------------------- */

static void access_of(uint32_t i, vault_access *a) {
  memset(a, 0, sizeof *a);
  did_of(1000 + i, &a->call);
  did_of(2000 + i % 3, &a->contract);
  did_of(i, &a->subject);
  snprintf(a->domain, sizeof a->domain, "%s", i % 2 ? "tax" : "health");
  snprintf(a->fields, sizeof a->fields, "%s", i % 2 ? "income" : "age,smoker,score");
  a->time_ms = 1700000000000ull + i * 1000;
}

static void append_n(vault *v, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    vault_access a;
    uint64_t seq = 99;
    access_of(i, &a);
    ck_assert_int_eq(vault_log_append(v, &a, 1, &seq), CX_OK);
    ck_assert_uint_eq(seq, i);
  }
}

START_TEST(test_log) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_ok(dir, 1, 1);
  uint64_t bad = 99;
  ck_assert_uint_eq(vault_log_len(v), 0);
  ck_assert_int_eq(vault_log_verify(v, &bad), CX_OK);
  ck_assert_uint_eq(bad, 0);
  append_n(v, 6);
  ck_assert_uint_eq(vault_log_len(v), 6);
  cx_hash prev = {{0}};
  for (uint32_t i = 0; i < 6; i++) {
    vault_access a, want;
    cx_hash h, expect;
    access_of(i, &want);
    ck_assert_int_eq(vault_log_get(v, i, &a, &h), CX_OK);
    ck_assert_mem_eq(&a, &want, sizeof a);
    /* h_i = B(label || h_{i-1} || entry_i), entry in the documented encoding. */
    uint8_t ent[512];
    size_t n = 0;
    memcpy(ent, a.call.b, 32), n += 32;
    memcpy(ent + n, a.contract.b, 32), n += 32;
    memcpy(ent + n, a.subject.b, 32), n += 32;
    ent[n++] = (uint8_t)strlen(a.domain);
    memcpy(ent + n, a.domain, strlen(a.domain)), n += strlen(a.domain);
    ent[n++] = (uint8_t)strlen(a.fields);
    memcpy(ent + n, a.fields, strlen(a.fields)), n += strlen(a.fields);
    for (uint64_t t = a.time_ms; ; t >>= 7) {
      ent[n++] = (uint8_t)((t & 0x7f) | (t >> 7 ? 0x80 : 0));
      if (!(t >> 7)) break;
    }
    lhash("custos/vault/log/v1", prev.b, 32, ent, n, &expect);
    ck_assert(hash_eq(&h, &expect));
    prev = h;
  }
  vault_access a;
  ck_assert_int_eq(vault_log_get(v, 6, &a, NULL), CX_E_NOT_FOUND);
  ck_assert_int_eq(vault_log_verify(v, &bad), CX_OK);
  ck_assert_uint_eq(bad, 6);
  /* Refused entries. */
  const char *bad_fields[] = {"", "Age", "age,", ",age", "age,,smoker", "age smoker", "1age"};
  for (size_t i = 0; i < sizeof bad_fields / sizeof bad_fields[0]; i++) {
    access_of(0, &a);
    snprintf(a.fields, sizeof a.fields, "%s", bad_fields[i]);
    ck_assert_msg(vault_log_append(v, &a, 1, NULL) == CX_E_INVALID_ARG, "fields \"%s\"", bad_fields[i]);
  }
  access_of(0, &a);
  snprintf(a.domain, sizeof a.domain, "Health");
  ck_assert_int_eq(vault_log_append(v, &a, 1, NULL), CX_E_INVALID_ARG);
  access_of(0, &a);
  memset(a.fields, 'a', sizeof a.fields);
  ck_assert_int_eq(vault_log_append(v, &a, 1, NULL), CX_E_INVALID_ARG);
  ck_assert_uint_eq(vault_log_len(v), 6);
  /* Survives a reopen and goes on from there. */
  vault_close(v);
  v = open_ok(dir, 1, 1);
  ck_assert_uint_eq(vault_log_len(v), 6);
  uint64_t seq = 0;
  access_of(6, &a);
  ck_assert_int_eq(vault_log_append(v, &a, 1, &seq), CX_OK);
  ck_assert_uint_eq(seq, 6);
  ck_assert_int_eq(vault_log_verify(v, &bad), CX_OK);
  ck_assert_uint_eq(bad, 7);
  /* Several entries in one write (a batch of calls): all or none, and the
   * same chain as appended one by one. */
  vault_access many[3];
  for (uint32_t i = 0; i < 3; i++) access_of(7 + i, &many[i]);
  snprintf(many[2].domain, sizeof many[2].domain, "Health");
  seq = 0;
  ck_assert_int_eq(vault_log_append(v, many, 3, &seq), CX_E_INVALID_ARG);
  ck_assert_uint_eq(vault_log_len(v), 7);
  access_of(9, &many[2]);
  ck_assert_int_eq(vault_log_append(v, many, 3, &seq), CX_OK);
  ck_assert_uint_eq(seq, 7);
  ck_assert_int_eq(vault_log_append(v, many, 0, &seq), CX_OK);
  ck_assert_uint_eq(seq, 10);
  ck_assert_uint_eq(vault_log_len(v), 10);
  ck_assert_int_eq(vault_log_verify(v, &bad), CX_OK);
  ck_assert_uint_eq(bad, 10);
  char *dir2 = tu_tmpdir("vault");
  vault *one = open_ok(dir2, 1, 1);
  append_n(one, 10);
  for (uint64_t i = 0; i < 10; i++) {
    cx_hash h1, h2;
    ck_assert_int_eq(vault_log_get(v, i, &a, &h1), CX_OK);
    ck_assert_int_eq(vault_log_get(one, i, &a, &h2), CX_OK);
    ck_assert(hash_eq(&h1, &h2));
  }
  vault_close(one);
  tu_rmrf(dir2);
  free(dir2);
  /* and it survives a reopen */
  vault_close(v);
  v = open_ok(dir, 1, 1);
  ck_assert_uint_eq(vault_log_len(v), 10);
  ck_assert_int_eq(vault_log_verify(v, &bad), CX_OK);
  ck_assert_uint_eq(bad, 10);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

enum { T_EDIT, T_EDIT_TIME, T_DELETE, T_DELETE_LAST, T_SWAP, T_EXTRA, T_REHASH_LAST };

/* Damages a 6-entry log directly in LevelDB; verify must name entry want. */
static void log_tamper(int how, uint64_t want) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_ok(dir, 1, 1);
  append_n(v, 6);
  vault_close(v);
  raw r;
  uint8_t k[9], k2[9];
  size_t vl, vl2;
  uint8_t *a, *b;
  raw_open(&r, dir);
  switch (how) {
    case T_EDIT: /* a byte of entry 2's call id */
    case T_EDIT_TIME: /* a byte of entry 2's time (still a canonical varint) */
      a = raw_get(&r, k, lkey(k, 2), &vl);
      a[how == T_EDIT ? 5 : vl - 32 - 3] ^= 0x01;
      raw_put(&r, k, 9, a, vl);
      leveldb_free(a);
      break;
    case T_DELETE: raw_del(&r, k, lkey(k, 2)); break;
    case T_DELETE_LAST: raw_del(&r, k, lkey(k, 5)); break;
    case T_SWAP:
      a = raw_get(&r, k, lkey(k, 1), &vl);
      b = raw_get(&r, k2, lkey(k2, 3), &vl2);
      raw_put(&r, k, 9, b, vl2);
      raw_put(&r, k2, 9, a, vl);
      leveldb_free(a);
      leveldb_free(b);
      break;
    case T_EXTRA: /* a copy of the last entry after it */
      a = raw_get(&r, k, lkey(k, 5), &vl);
      raw_put(&r, k2, lkey(k2, 6), a, vl);
      leveldb_free(a);
      break;
    case T_REHASH_LAST: { /* entry 5 edited and its stored hash recomputed */
      cx_hash prev, h;
      b = raw_get(&r, k2, lkey(k2, 4), &vl2);
      memcpy(prev.b, b + vl2 - 32, 32);
      a = raw_get(&r, k, lkey(k, 5), &vl);
      a[5] ^= 1;
      lhash("custos/vault/log/v1", prev.b, 32, a, vl - 32, &h);
      memcpy(a + vl - 32, h.b, 32);
      raw_put(&r, k, 9, a, vl);
      leveldb_free(a);
      leveldb_free(b);
      break;
    }
  }
  raw_close(&r);
  v = open_ok(dir, 1, 1);
  uint64_t bad = 99;
  ck_assert_int_eq(vault_log_verify(v, &bad), CX_E_CORRUPT);
  ck_assert_msg(bad == want, "tamper %d: bad %llu, want %llu", how, (unsigned long long)bad,
                (unsigned long long)want);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}

START_TEST(test_log_tamper) {
  log_tamper(T_EDIT, 2);
  log_tamper(T_EDIT_TIME, 2);
  log_tamper(T_DELETE, 2);
  log_tamper(T_DELETE_LAST, 5);
  log_tamper(T_SWAP, 1);
  log_tamper(T_EXTRA, 6);
  log_tamper(T_REHASH_LAST, 5);
}
END_TEST

START_TEST(test_log_get_damaged) {
  char *dir = tu_tmpdir("vault");
  vault *v = open_ok(dir, 1, 1);
  append_n(v, 3);
  vault_close(v);
  raw r;
  uint8_t k[9];
  size_t vl;
  raw_open(&r, dir);
  raw_del(&r, k, lkey(k, 1));
  uint8_t *a = raw_get(&r, k, lkey(k, 2), &vl);
  raw_put(&r, k, 9, a, 20); /* truncated */
  leveldb_free(a);
  raw_close(&r);
  v = open_ok(dir, 1, 1);
  vault_access acc;
  ck_assert_int_eq(vault_log_get(v, 0, &acc, NULL), CX_OK);
  ck_assert_int_eq(vault_log_get(v, 1, &acc, NULL), CX_E_CORRUPT);
  ck_assert_int_eq(vault_log_get(v, 2, &acc, NULL), CX_E_CORRUPT);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

/* Damaged meta records: open refuses with CX_E_CORRUPT, never crashes. */
START_TEST(test_damaged_meta) {
  const char *keys[] = {"Mformat", "Mkey", "Mlog", "Mcommit"};
  for (size_t i = 0; i < 4; i++) {
    for (int del = 0; del < 2; del++) {
      char *dir = tu_tmpdir("vault");
      vault *v = open_health(dir);
      put_ok(v, "health", 1);
      vault_close(v);
      raw r;
      size_t vl;
      raw_open(&r, dir);
      if (del) {
        raw_del(&r, (const uint8_t *)keys[i], strlen(keys[i]));
      } else {
        uint8_t *a = raw_get(&r, (const uint8_t *)keys[i], strlen(keys[i]), &vl);
        raw_put(&r, (const uint8_t *)keys[i], strlen(keys[i]), a, vl - 1);
        leveldb_free(a);
      }
      raw_close(&r);
      cx_err e = try_open(dir, 1, 1);
      ck_assert_msg(e == CX_E_CORRUPT, "%s %s: %s", keys[i], del ? "deleted" : "short",
                    cx_err_name(e));
      tu_rmrf(dir);
      free(dir);
    }
  }
  /* A damaged schema: its domain reads as damaged. */
  char *dir = tu_tmpdir("vault");
  vault *v = open_health(dir);
  vault_close(v);
  raw r;
  size_t vl;
  uint8_t sk[8] = {'S', 6, 'h', 'e', 'a', 'l', 't', 'h'};
  raw_open(&r, dir);
  uint8_t *a = raw_get(&r, sk, sizeof sk, &vl);
  raw_put(&r, sk, sizeof sk, a, vl - 1);
  leveldb_free(a);
  raw_close(&r);
  v = open_ok(dir, 1, 1);
  vault_schema s;
  ck_assert_int_eq(vault_schema_get(v, "health", &s), CX_E_CORRUPT);
  vault_close(v);
  tu_rmrf(dir);
  free(dir);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("vault");
  TCase *tc = tcase_create("vault");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_schema_refusals);
  tcase_add_test(tc, test_schema_replace);
  tcase_add_test(tc, test_put_get);
  tcase_add_test(tc, test_range_checks);
  tcase_add_test(tc, test_batch_all_or_nothing);
  tcase_add_test(tc, test_reopen);
  tcase_add_test(tc, test_wrong_key);
  tcase_add_test(tc, test_tamper_record);
  tcase_add_test(tc, test_ad_binding);
  tcase_add_test(tc, test_no_plaintext_on_disk);
  tcase_add_test(tc, test_rotate);
  tcase_add_test(tc, test_rotate_killed);
  tcase_add_test(tc, test_domain_root);
  tcase_add_test(tc, test_root_hiding);
  tcase_add_test(tc, test_old_format);
  tcase_add_test(tc, test_domains);
  tcase_add_test(tc, test_log);
  tcase_add_test(tc, test_log_tamper);
  tcase_add_test(tc, test_log_get_damaged);
  tcase_add_test(tc, test_damaged_meta);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
