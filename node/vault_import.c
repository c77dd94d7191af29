/* vault_import: CSV and JSON record files for `custos vault import`
 * (vault_import.h; docs/vault.md, "Operating the vault"). Every byte of
 * the input is untrusted: lengths are bounded before anything is copied,
 * and every refusal is a sentence naming the line or record. */
#include "vault_import.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define EXACT_MAX 9007199254740992.0 /* 2^53: every integer up to it is exact in a double */

static const char DID_PREFIX[] = "did:custos:";

/* ---- the set ------------------------------------------------------------ */

void vimport_free(vimport_set *set) {
  if (!set) return;
  if (set->vals) sodium_memzero(set->vals, set->n * set->nfields * sizeof *set->vals);
  free(set->vals);
  free(set->dids);
  free(set->where);
  memset(set, 0, sizeof *set);
}

/* Room for record n (the set grows by doubling). */
static cx_err set_grow(vimport_set *set, size_t *cap) {
  if (set->n < *cap) return CX_OK;
  if (set->n >= VIMPORT_MAX_RECORDS) return CX_E_FULL;
  size_t nc = *cap ? 2 * *cap : 256;
  if (nc > VIMPORT_MAX_RECORDS) nc = VIMPORT_MAX_RECORDS;
  cx_hash *d = realloc(set->dids, nc * sizeof *d);
  if (d) set->dids = d;
  size_t *w = d ? realloc(set->where, nc * sizeof *w) : NULL;
  if (w) set->where = w;
  /* The values move by hand so that the old block is wiped before it is freed. */
  int64_t *v = w ? malloc(nc * set->nfields * sizeof *v) : NULL;
  if (!v) return CX_E_NOMEM;
  if (set->vals) {
    memcpy(v, set->vals, set->n * set->nfields * sizeof *v);
    sodium_memzero(set->vals, set->n * set->nfields * sizeof *v);
    free(set->vals);
  }
  set->vals = v;
  *cap = nc;
  return CX_OK;
}

/* Two records with one DID: found by sorting (did, index) pairs; the pair
 * of lowest index in file order is named. */
typedef struct {
  cx_hash did;
  size_t i;
} did_ix;

static int did_cmp(const void *a, const void *b) {
  const did_ix *x = a, *y = b;
  int c = memcmp(x->did.b, y->did.b, 32);
  return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

static cx_err check_dups(const vimport_set *set, int csv, char *err, size_t errlen) {
  if (set->n < 2) return CX_OK;
  did_ix *v = malloc(set->n * sizeof *v);
  if (!v) return CX_E_NOMEM;
  for (size_t i = 0; i < set->n; i++) v[i] = (did_ix){set->dids[i], i};
  qsort(v, set->n, sizeof *v, did_cmp);
  size_t best = SIZE_MAX, other = 0;
  for (size_t k = 1; k < set->n; k++)
    if (hash_eq(&v[k].did, &v[k - 1].did) && v[k].i < best) {
      best = v[k].i;
      other = v[k - 1].i;
    }
  free(v);
  if (best == SIZE_MAX) return CX_OK;
  const char *what = csv ? "line" : "record";
  return cx_errf(err, errlen, CX_E_INVALID_ARG, "%s %zu: did: the same as %s %zu", what,
                 set->where[best], what, set->where[other]);
}

/* ---- values ------------------------------------------------------------- */

int vimport_did(const char *s, size_t n, cx_hash *out) {
  char hex[65];
  if (n >= sizeof DID_PREFIX - 1 && memcmp(s, DID_PREFIX, sizeof DID_PREFIX - 1) == 0) {
    s += sizeof DID_PREFIX - 1;
    n -= sizeof DID_PREFIX - 1;
  }
  if (n != 64) return -1;
  memcpy(hex, s, 64);
  hex[64] = 0;
  return hex_decode(hex, out->b, 32) == CX_OK ? 0 : -1;
}

cx_err vimport_check(const vault_field *f, int64_t v, char *why, size_t wl) {
  if (v >= f->lo && v <= f->hi) return CX_OK;
  if (f->is_bool)
    return cx_errf(why, wl, CX_E_INVALID_ARG, "%s: %lld is not a bool (0 or 1)", f->name, (long long)v);
  return cx_errf(why, wl, CX_E_INVALID_ARG, "%s: %lld is outside %lld..%lld", f->name, (long long)v,
                 (long long)f->lo, (long long)f->hi);
}

/* [+-]?[0-9]+ within int64 (n bytes at s). 0 ok, -1 not a number, -2 out of int64. */
static int parse_int(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  uint64_t v = 0, lim;
  if (n && (s[0] == '-' || s[0] == '+')) neg = s[i++] == '-';
  if (i == n) return -1;
  lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (lim - d) / 10) return -2;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v; /* 0 - 2^63 wraps to INT64_MIN, as intended */
  return 0;
}

/* A CSV cell (already unquoted and trimmed) for field f. */
static cx_err cell_value(const char *s, size_t n, const vault_field *f, int64_t *out, char *why, size_t wl) {
  if (n == 0) return cx_errf(why, wl, CX_E_INVALID_ARG, "%s: empty", f->name);
  if (f->is_bool) {
    if ((n == 4 && strncasecmp(s, "true", 4) == 0) || (n == 1 && s[0] == '1')) *out = 1;
    else if ((n == 5 && strncasecmp(s, "false", 5) == 0) || (n == 1 && s[0] == '0')) *out = 0;
    else return cx_errf(why, wl, CX_E_INVALID_ARG, "%s: expected true, false, 0 or 1", f->name);
    return CX_OK;
  }
  int r = parse_int(s, n, out);
  if (r == -1) return cx_errf(why, wl, CX_E_INVALID_ARG, "%s: expected a decimal integer", f->name);
  if (r == -2) return cx_errf(why, wl, CX_E_INVALID_ARG, "%s: beyond the int64 range", f->name);
  return vimport_check(f, *out, why, wl);
}

cx_err vimport_json_value(const cJSON *j, const vault_field *f, int64_t *out, char *why, size_t wl) {
  if (f->is_bool) {
    if (cJSON_IsBool(j)) {
      *out = cJSON_IsTrue(j);
      return CX_OK;
    }
    if (cJSON_IsNumber(j) && (j->valuedouble == 0.0 || j->valuedouble == 1.0)) {
      *out = j->valuedouble == 1.0;
      return CX_OK;
    }
    return cx_errf(why, wl, CX_E_INVALID_ARG, "expected true, false, 0 or 1");
  }
  if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    /* Beyond 2^53 a JSON number may already have been rounded by the parser. */
    if (!(d >= -EXACT_MAX && d <= EXACT_MAX) || d != (double)(int64_t)d)
      return cx_errf(why, wl, CX_E_INVALID_ARG, "expected an integer (beyond +-2^53 as a decimal string)");
    *out = (int64_t)d;
    return CX_OK;
  }
  if (cJSON_IsString(j)) {
    int r = parse_int(j->valuestring, strlen(j->valuestring), out);
    if (r == 0) return CX_OK;
    return cx_errf(why, wl, CX_E_INVALID_ARG, r == -2 ? "beyond the int64 range" : "expected an integer");
  }
  return cx_errf(why, wl, CX_E_INVALID_ARG, "expected an integer");
}

/* ---- CSV ---------------------------------------------------------------- */

/* One cell of a line: [*p, end) is the rest of the line. Returns the cell's
 * content in (*cs, *cn), unquoted (a quoted cell is copied into buf without
 * its quotes, "" as one) and trimmed; *p moves past the cell's comma and
 * *more says whether a comma followed (then one more cell follows, maybe
 * empty). */
static cx_err csv_cell(const char **p, const char *end, int *more, char *buf, const char **cs,
                       size_t *cn, char *why, size_t wl) {
  const char *s = *p;
  while (s < end && (*s == ' ' || *s == '\t')) s++;
  if (s < end && *s == '"') {
    size_t k = 0;
    for (s++;; s++) {
      if (s == end) return cx_errf(why, wl, CX_E_INVALID_ARG, "a quote is not closed on its line");
      if (*s == '"') {
        if (s + 1 == end || s[1] != '"') {
          s++;
          break;
        }
        s++; /* "" is one quote */
      }
      if (k == VIMPORT_CELL_MAX)
        return cx_errf(why, wl, CX_E_INVALID_ARG, "a cell is over %d bytes", VIMPORT_CELL_MAX);
      buf[k++] = *s;
    }
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    if (s < end && *s != ',') return cx_errf(why, wl, CX_E_INVALID_ARG, "text after a quoted cell");
    /* trimmed like an unquoted cell: " 12 " is 12 */
    size_t a = 0;
    while (a < k && (buf[a] == ' ' || buf[a] == '\t')) a++;
    while (k > a && (buf[k - 1] == ' ' || buf[k - 1] == '\t')) k--;
    *cs = buf + a;
    *cn = k - a;
  } else {
    const char *c = memchr(s, ',', (size_t)(end - s));
    const char *e = c ? c : end;
    *cs = s;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *cn = (size_t)(e - s);
    if (*cn > VIMPORT_CELL_MAX)
      return cx_errf(why, wl, CX_E_INVALID_ARG, "a cell is over %d bytes", VIMPORT_CELL_MAX);
    s = c ? c : end;
  }
  *more = s < end; /* s is at a comma, or at the end of the line */
  *p = *more ? s + 1 : end;
  return CX_OK;
}

/* Splits the text into lines: (*ls, *le) the next line without its CR/LF,
 * *line its number. 0 at the end of the text. */
static int next_line(const char **p, const char *end, const char **ls, const char **le, size_t *line) {
  if (*p >= end) return 0;
  const char *nl = memchr(*p, '\n', (size_t)(end - *p));
  *ls = *p;
  *le = nl ? nl : end;
  *p = nl ? nl + 1 : end;
  if (*le > *ls && (*le)[-1] == '\r') (*le)--;
  ++*line;
  return 1;
}

static int blank(const char *s, const char *e) {
  for (; s < e; s++)
    if (*s != ' ' && *s != '\t') return 0;
  return 1;
}

cx_err vimport_csv(const char *text, size_t len, const vault_schema *s, vimport_set *out, char *err,
                   size_t errlen) {
  const char *p = text, *end = text + len, *ls, *le;
  char buf[VIMPORT_CELL_MAX], why[160];
  size_t line = 0, cap = 0, ncols = 0;
  int more = 1;
  int col_field[VAULT_MAX_FIELDS + 1]; /* per column: field index, or -1 for the did */
  cx_err e = CX_OK;
  CX_ASSERT(s && out && s->nfields >= 1 && s->nfields <= VAULT_MAX_FIELDS);
  memset(out, 0, sizeof *out);
  out->nfields = s->nfields;
  if (memchr(text, 0, len)) return cx_errf(err, errlen, CX_E_INVALID_ARG, "the file holds a NUL byte");
  if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3;

  /* The header: the first line that is not blank. */
  for (;;) {
    if (!next_line(&p, end, &ls, &le, &line))
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "no header line (did,%s,...)", s->fields[0].name);
    if (!blank(ls, le)) break;
  }
  int seen[VAULT_MAX_FIELDS] = {0}, did_seen = 0;
  for (const char *c = ls, *cs; more;) {
    size_t cn;
    if ((e = csv_cell(&c, le, &more, buf, &cs, &cn, why, sizeof why)))
      return cx_errf(err, errlen, e, "line %zu: %s", line, why);
    if (ncols == VAULT_MAX_FIELDS + 1)
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "line %zu: more than %d columns", line,
                     VAULT_MAX_FIELDS + 1);
    int k = -2;
    if (cn == 3 && memcmp(cs, "did", 3) == 0) {
      if (did_seen++) return cx_errf(err, errlen, CX_E_INVALID_ARG, "line %zu: column did twice", line);
      k = -1;
    }
    for (size_t i = 0; k == -2 && i < s->nfields; i++)
      if (strlen(s->fields[i].name) == cn && memcmp(s->fields[i].name, cs, cn) == 0) {
        if (seen[i]++)
          return cx_errf(err, errlen, CX_E_INVALID_ARG, "line %zu: column %s twice", line, s->fields[i].name);
        k = (int)i;
      }
    if (k == -2)
      return cx_errf(err, errlen, CX_E_INVALID_ARG,
                     "line %zu: column %zu (\"%.*s\") is not a field of domain %s", line, ncols + 1,
                     (int)(cn > 40 ? 40 : cn), cs, s->domain);
    col_field[ncols++] = k;
  }
  if (!did_seen) return cx_errf(err, errlen, CX_E_INVALID_ARG, "line %zu: no did column", line);
  for (size_t i = 0; i < s->nfields; i++)
    if (!seen[i])
      return cx_errf(err, errlen, CX_E_INVALID_ARG, "line %zu: no column for field %s", line,
                     s->fields[i].name);

  /* The records. */
  while (next_line(&p, end, &ls, &le, &line)) {
    if (blank(ls, le)) continue;
    if ((e = set_grow(out, &cap))) {
      if (e == CX_E_FULL)
        cx_errf(err, errlen, e, "line %zu: more than %u records (split the file)", line, VIMPORT_MAX_RECORDS);
      goto fail;
    }
    int64_t *vals = out->vals + out->n * s->nfields;
    size_t col = 0;
    more = 1;
    for (const char *c = ls, *cs; more; col++) {
      size_t cn;
      if (col == ncols) {
        e = cx_errf(err, errlen, CX_E_INVALID_ARG, "line %zu: more than the header's %zu cells", line, ncols);
        goto fail;
      }
      if ((e = csv_cell(&c, le, &more, buf, &cs, &cn, why, sizeof why))) {
        cx_errf(err, errlen, e, "line %zu: %s", line, why);
        goto fail;
      }
      if (col_field[col] < 0) {
        if (vimport_did(cs, cn, &out->dids[out->n]) != 0) {
          e = cx_errf(err, errlen, CX_E_INVALID_ARG, "line %zu: did: expected 64 hex digits", line);
          goto fail;
        }
      } else if ((e = cell_value(cs, cn, &s->fields[col_field[col]], &vals[col_field[col]], why,
                                 sizeof why))) {
        cx_errf(err, errlen, e, "line %zu: %s", line, why);
        goto fail;
      }
    }
    sodium_memzero(buf, sizeof buf);
    if (col < ncols) {
      e = cx_errf(err, errlen, CX_E_INVALID_ARG, "line %zu: %zu cells, the header has %zu", line, col, ncols);
      goto fail;
    }
    out->where[out->n++] = line;
  }
  if (out->n == 0) {
    e = cx_errf(err, errlen, CX_E_INVALID_ARG, "no records after the header");
    goto fail;
  }
  if ((e = check_dups(out, 1, err, errlen))) goto fail;
  return CX_OK;
fail:
  sodium_memzero(buf, sizeof buf);
  vimport_free(out);
  return e;
}

/* ---- JSON --------------------------------------------------------------- */

cx_err vimport_json(const char *text, size_t len, const vault_schema *s, vimport_set *out, char *err,
                    size_t errlen) {
  char why[160];
  size_t cap = 0;
  cx_err e = CX_OK;
  CX_ASSERT(s && out && s->nfields >= 1 && s->nfields <= VAULT_MAX_FIELDS);
  memset(out, 0, sizeof *out);
  out->nfields = s->nfields;
  cJSON *root = cJSON_ParseWithLength(text, len);
  if (!root) return cx_errf(err, errlen, CX_E_INVALID_ARG, "not valid JSON");
  if (!cJSON_IsArray(root)) {
    e = cx_errf(err, errlen, CX_E_INVALID_ARG, "expected an array of records");
    goto fail;
  }
  const cJSON *r;
  size_t i = 0;
  cJSON_ArrayForEach(r, root) {
    if ((e = set_grow(out, &cap))) {
      if (e == CX_E_FULL)
        cx_errf(err, errlen, e, "record %zu: more than %u records (split the file)", i,
                VIMPORT_MAX_RECORDS);
      goto fail;
    }
    if (!cJSON_IsObject(r)) {
      e = cx_errf(err, errlen, CX_E_INVALID_ARG, "record %zu: expected an object", i);
      goto fail;
    }
    int seen[VAULT_MAX_FIELDS] = {0}, did_seen = 0;
    int64_t *vals = out->vals + out->n * s->nfields;
    for (const cJSON *m = r->child; m; m = m->next) {
      if (strcmp(m->string, "did") == 0) {
        if (did_seen++ || !cJSON_IsString(m) ||
            vimport_did(m->valuestring, strlen(m->valuestring), &out->dids[out->n]) != 0) {
          e = cx_errf(err, errlen, CX_E_INVALID_ARG, "record %zu: did: %s", i,
                      did_seen > 1 ? "given twice" : "expected 64 hex digits");
          goto fail;
        }
        continue;
      }
      size_t k = 0;
      while (k < s->nfields && strcmp(s->fields[k].name, m->string) != 0) k++;
      if (k == s->nfields) {
        e = cx_errf(err, errlen, CX_E_INVALID_ARG, "record %zu: \"%.40s\" is not a field of domain %s", i,
                    m->string, s->domain);
        goto fail;
      }
      if (seen[k]++) {
        e = cx_errf(err, errlen, CX_E_INVALID_ARG, "record %zu: %s: given twice", i, s->fields[k].name);
        goto fail;
      }
      if ((e = vimport_json_value(m, &s->fields[k], &vals[k], why, sizeof why))) {
        cx_errf(err, errlen, e, "record %zu: %s: %s", i, s->fields[k].name, why);
        goto fail;
      }
      if ((e = vimport_check(&s->fields[k], vals[k], why, sizeof why))) {
        cx_errf(err, errlen, e, "record %zu: %s", i, why);
        goto fail;
      }
    }
    if (!did_seen) {
      e = cx_errf(err, errlen, CX_E_INVALID_ARG, "record %zu: no did", i);
      goto fail;
    }
    for (size_t k = 0; k < s->nfields; k++)
      if (!seen[k]) {
        e = cx_errf(err, errlen, CX_E_INVALID_ARG, "record %zu: %s: missing", i, s->fields[k].name);
        goto fail;
      }
    out->where[out->n++] = i++;
  }
  if (out->n == 0) {
    e = cx_errf(err, errlen, CX_E_INVALID_ARG, "the array holds no records");
    goto fail;
  }
  if ((e = check_dups(out, 0, err, errlen))) goto fail;
  cJSON_Delete(root);
  return CX_OK;
fail:
  cJSON_Delete(root);
  vimport_free(out);
  return e;
}
