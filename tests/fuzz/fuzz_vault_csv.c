/* fuzz_vault_csv: the record files of `custos vault import`
 * (node/vault_import.c): vimport_csv, and vimport_json on the same bytes,
 * against a fixed schema (age 0..150, smoker bool, income, score over all
 * of int64).
 *
 * Input: a file's bytes. Seeds in corpus/fuzz_vault_csv: CSV files with the
 * header in either order, quoted cells, CRLF, blank lines and a BOM; JSON
 * arrays; a few refused files.
 * Checks: no crash or leak (sanitizers); a refusal is CX_E_INVALID_ARG (or
 * CX_E_FULL, CX_E_NOMEM) with a sentence and leaves no records; an
 * accepted file has 1.. records, every value within its field, no DID
 * twice, CSV line numbers strictly increasing from 2 and within the
 * input's line count, JSON indexes 0, 1, 2, ...; the records written back
 * as a plain CSV and as JSON parse to exactly the same records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void schema(vault_schema *s) {
  static const struct {
    const char *name;
    int is_bool;
    int64_t lo, hi;
  } f[] = {{"age", 0, 0, 150}, {"smoker", 1, 0, 1}, {"income", 0, -1000000, 1000000000000},
           {"score", 0, INT64_MIN, INT64_MAX}};
  memset(s, 0, sizeof *s);
  snprintf(s->domain, sizeof s->domain, "hrss");
  for (size_t i = 0; i < 4; i++) {
    snprintf(s->fields[i].name, sizeof s->fields[i].name, "%s", f[i].name);
    s->fields[i].is_bool = f[i].is_bool;
    s->fields[i].lo = f[i].lo;
    s->fields[i].hi = f[i].hi;
  }
  s->nfields = 4;
}

static void check_set(const vimport_set *set, const vault_schema *s, int csv, size_t lines) {
  if (set->n == 0 || set->nfields != s->nfields) abort();
  for (size_t i = 0; i < set->n; i++) {
    for (size_t f = 0; f < s->nfields; f++) {
      int64_t v = set->vals[i * s->nfields + f];
      if (v < s->fields[f].lo || v > s->fields[f].hi) abort();
    }
    if (csv && (set->where[i] < 2 || set->where[i] > lines || (i && set->where[i] <= set->where[i - 1])))
      abort();
    if (!csv && set->where[i] != i) abort();
    for (size_t j = 0; j < i && set->n <= 256; j++) /* quadratic: small sets only */
      if (hash_eq(&set->dids[i], &set->dids[j])) abort();
  }
}

/* The records as a plain CSV (csv = 1) or JSON array; malloc'd. */
static char *write_back(const vimport_set *set, int csv, size_t *len) {
  size_t cap = 128 + set->n * 200, l = 0;
  char *t = malloc(cap), hex[65];
  if (!t) abort();
  l += (size_t)snprintf(t, cap, csv ? "did,age,smoker,income,score\n" : "[");
  for (size_t i = 0; i < set->n; i++) {
    const int64_t *v = set->vals + i * 4;
    hex_encode(set->dids[i].b, 32, hex);
    if (csv)
      l += (size_t)snprintf(t + l, cap - l, "%s,%lld,%lld,%lld,%lld\n", hex, (long long)v[0], (long long)v[1],
                            (long long)v[2], (long long)v[3]);
    else
      l += (size_t)snprintf(t + l, cap - l,
                            "%s{\"did\":\"%s\",\"age\":%lld,\"smoker\":%s,\"income\":%lld,"
                            "\"score\":\"%lld\"}",
                            i ? "," : "", hex, (long long)v[0], v[1] ? "true" : "false", (long long)v[2],
                            (long long)v[3]);
  }
  if (!csv) l += (size_t)snprintf(t + l, cap - l, "]");
  if (l >= cap) abort();
  *len = l;
  return t;
}

static void one(const uint8_t *data, size_t size, int csv) {
  vault_schema s;
  vimport_set set, back;
  char err[256] = "";
  schema(&s);
  cx_err e = csv ? vimport_csv((const char *)data, size, &s, &set, err, sizeof err)
                 : vimport_json((const char *)data, size, &s, &set, err, sizeof err);
  if (e != CX_OK) {
    if (e != CX_E_INVALID_ARG && e != CX_E_FULL && e != CX_E_NOMEM) abort();
    if (e != CX_E_NOMEM && !err[0]) abort();
    if (set.n || set.vals || set.dids || set.where) abort();
    return;
  }
  size_t lines = 1;
  for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
  check_set(&set, &s, csv, lines);
  for (int form = 0; form < 2; form++) {
    size_t len;
    char *t = write_back(&set, form, &len);
    e = form ? vimport_csv(t, len, &s, &back, err, sizeof err)
             : vimport_json(t, len, &s, &back, err, sizeof err);
    if (e != CX_OK || back.n != set.n) abort();
    if (memcmp(back.vals, set.vals, set.n * 4 * sizeof *set.vals) != 0) abort();
    if (memcmp(back.dids, set.dids, set.n * sizeof *set.dids) != 0) abort();
    vimport_free(&back);
    free(t);
  }
  vimport_free(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  one(data, size, 1);
  one(data, size, 0);
  return 0;
}
