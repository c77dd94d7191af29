/* The public API of the secret-contract language (lang.h): compiling and
 * decoding contracts, the values of a call (and their JSON form), and the
 * plaintext runs.
 *
 *   lang_compile = lang_front (parse, check, lower) -> ir_finish ->
 *                  ir_encode -> id = H_CONTRACT(bytecode)
 *
 * The values of a call are secrets (inputs and params): they live in
 * sodium_malloc'd vectors, are wiped when freed, and the parsed JSON they
 * came from is wiped before it is released. */
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "lang_internal.h"

/* ---- compiling ---------------------------------------------------------------- */

cx_err lang_front(const char *src, size_t len, struct lang_ast **ast, ir_circuit *ir, lang_diag *diag) {
  *ast = NULL;
  memset(ir, 0, sizeof *ir);
  struct lang_ast *a;
  cx_err e = lang_parse(src, len, &a, diag);
  if (e) return e;
  e = lang_check(a, src, len, diag);
  if (e) {
    lang_ast_free(a);
    return e;
  }
  ir_init(ir, a->name);
  e = lang_lower(a, src, len, ir, diag);
  if (e) {
    ir_free(ir);
    lang_ast_free(a);
    return e;
  }
  *ast = a;
  return CX_OK;
}

cx_err lang_compile(const char *src, size_t len, lang_contract **out, lang_diag *diag) {
  CX_ASSERT(out && (src || !len));
  lang_diag local;
  if (!diag) diag = &local;
  memset(diag, 0, sizeof *diag);
  *out = NULL;
  lang_contract *k = calloc(1, sizeof *k);
  if (!k) return lang_diag_set(diag, CX_E_NOMEM, 0, 0, "out of memory");
  cx_err e = lang_front(src ? src : "", len, &k->ast, &k->ir, diag);
  if (e) {
    free(k);
    return e;
  }
  e = ir_finish(&k->ir);
  if (e) {
    lang_diag_set(diag, e, 0, 0, "cannot finish the circuit: %s", cx_err_str(e));
    goto fail;
  }
  e = ir_encode(&k->ir, &k->bc, &k->bclen);
  if (e) {
    lang_diag_set(diag, e, 0, 0, "cannot encode the circuit: %s", cx_err_str(e));
    goto fail;
  }
  hash_tagged(CX_TAG_CONTRACT, k->bc, k->bclen, &k->id);
  *out = k;
  return CX_OK;
fail:
  lang_free(k);
  return e;
}

void lang_diag_format(const lang_diag *d, const char *file, char *buf, size_t buflen) {
  if (!buf || !buflen) return;
  if (!file) file = "<source>";
  if (d->line)
    snprintf(buf, buflen, "%s:%u:%u: error: %s", file, d->line, d->col, d->msg);
  else
    snprintf(buf, buflen, "%s: error: %s", file, d->msg);
}

cx_err lang_decode(const uint8_t *bc, size_t len, lang_contract **out, char *err, size_t errlen) {
  CX_ASSERT(out && (bc || !len));
  *out = NULL;
  lang_contract *k = calloc(1, sizeof *k);
  if (!k) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  cx_err e = ir_decode(bc ? bc : (const uint8_t *)"", len, &k->ir, err, errlen);
  if (e) {
    free(k);
    return e;
  }
  k->bc = malloc(len ? len : 1);
  if (!k->bc) {
    ir_free(&k->ir);
    free(k);
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  }
  if (len) memcpy(k->bc, bc, len);
  k->bclen = len;
  hash_tagged(CX_TAG_CONTRACT, k->bc, k->bclen, &k->id);
  *out = k;
  return CX_OK;
}

void lang_free(lang_contract *c) {
  if (!c) return;
  ir_free(&c->ir);
  free(c->bc);
  lang_ast_free(c->ast);
  free(c);
}

const uint8_t *lang_bytecode(const lang_contract *c, size_t *len) {
  *len = c->bclen;
  return c->bc;
}

void lang_id(const lang_contract *c, cx_hash *id) { *id = c->id; }

const char *lang_name(const lang_contract *c) { return c->ir.name; }

cx_err lang_domains(const lang_contract *c, cx_domain_set *out) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < c->ir.nports; i++) {
    const ir_port *p = &c->ir.ports[i];
    if (p->kind != IR_PORT_INPUT) continue;
    const char *dot = strchr(p->name, '.');
    size_t n = dot ? (size_t)(dot - p->name) : strlen(p->name);
    char dom[IR_NAME_MAX + 1];
    memcpy(dom, p->name, n);
    dom[n] = 0;
    /* a domain longer than a ledger domain name (CX_DOMAIN_MAX) cannot be owned by a bureau */
    if (n > CX_DOMAIN_MAX) return CX_E_TOO_LONG;
    cx_err e = domain_set_add(out, dom);
    if (e && e != CX_E_EXISTS) return e;
  }
  return CX_OK;
}

size_t lang_nports(const lang_contract *c) { return c->ir.nports; }

void lang_port_get(const lang_contract *c, size_t i, lang_port *out) {
  CX_ASSERT(i < c->ir.nports);
  const ir_port *p = &c->ir.ports[i];
  out->kind = (lang_port_kind)p->kind;
  out->is_bool = p->base == IR_T_BOOL;
  out->name = p->name;
  out->len = p->len;
  out->lo = p->lo;
  out->hi = p->hi;
}

int lang_port_flows_from(const lang_contract *c, size_t out_port, size_t from) {
  CX_ASSERT(out_port < c->ir.nports && from < c->ir.nports);
  uint8_t k = c->ir.ports[out_port].kind;
  if (k != IR_PORT_OUT_PUBLIC && k != IR_PORT_OUT_PRIVATE) return 0;
  uint64_t mask[IR_MAX_PORTS / 64];
  ir_flows(&c->ir, out_port, mask);
  return (int)((mask[from / 64] >> (from % 64)) & 1);
}

size_t lang_outputs_len(const lang_contract *c) { return c->ir.n_output; }

/* ---- values ------------------------------------------------------------------- */

static int64_t *secure_vec(size_t n) {
  int64_t *p = sodium_malloc((n ? n : 1) * sizeof *p);
  if (p) sodium_memzero(p, (n ? n : 1) * sizeof *p);
  return p;
}

static void secure_free(int64_t *p, size_t n) {
  if (!p) return;
  sodium_memzero(p, (n ? n : 1) * sizeof *p);
  sodium_free(p);
}

lang_values *lang_values_new(const lang_contract *c) {
  CX_ASSERT(c);
  if (sodium_init() < 0) return NULL; /* sodium_malloc needs an initialised library (idempotent) */
  lang_values *v = calloc(1, sizeof *v);
  if (!v) return NULL;
  v->c = c;
  v->in = secure_vec(c->ir.n_input);
  v->param = secure_vec(c->ir.n_param);
  v->arg = secure_vec(c->ir.n_arg);
  v->set = calloc(c->ir.nports ? c->ir.nports : 1, 1);
  if (!v->in || !v->param || !v->arg || !v->set) {
    lang_values_free(v);
    return NULL;
  }
  return v;
}

void lang_values_free(lang_values *v) {
  if (!v) return;
  secure_free(v->in, v->c->ir.n_input);
  secure_free(v->param, v->c->ir.n_param);
  secure_free(v->arg, v->c->ir.n_arg);
  free(v->set);
  free(v);
}

static const ir_port *find_port(const lang_contract *c, const char *name, size_t *idx) {
  for (size_t i = 0; i < c->ir.nports; i++)
    if (strcmp(c->ir.ports[i].name, name) == 0) {
      *idx = i;
      return &c->ir.ports[i];
    }
  return NULL;
}

static int64_t *port_vec(lang_values *v, const ir_port *p) {
  return p->kind == IR_PORT_INPUT ? v->in : p->kind == IR_PORT_PARAM ? v->param : v->arg;
}

cx_err lang_values_set(lang_values *v, const char *name, const int64_t *vals, size_t len, char *err,
                       size_t errlen) {
  CX_ASSERT(v && name && (vals || !len));
  size_t idx;
  const ir_port *p = find_port(v->c, name, &idx);
  if (!p || p->kind > IR_PORT_ARG)
    return cx_errf(err, errlen, CX_E_NOT_FOUND, "the contract has no input, param or arg named `%s`", name);
  size_t n = ir_port_elems(p);
  if (len != n)
    return cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: expected %zu value%s, got %zu", name, n,
                   n == 1 ? "" : "s", len);
  for (size_t i = 0; i < n; i++) {
    if (vals[i] >= p->lo && vals[i] <= p->hi) continue;
    char where[IR_NAME_MAX + 16];
    if (p->len)
      snprintf(where, sizeof where, "%s[%zu]", name, i);
    else
      snprintf(where, sizeof where, "%s", name);
    if (p->base == IR_T_BOOL)
      return cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: %lld is not a bool (0 or 1)", where,
                     (long long)vals[i]);
    return cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: %lld is outside int(%lld..%lld)", where,
                   (long long)vals[i], (long long)p->lo, (long long)p->hi);
  }
  memcpy(port_vec(v, p) + p->first, vals, n * sizeof *vals);
  v->set[idx] = 1;
  return CX_OK;
}

cx_err lang_values_complete(const lang_values *v, char *err, size_t errlen) {
  for (size_t i = 0; i < v->c->ir.nports; i++) {
    const ir_port *p = &v->c->ir.ports[i];
    if (p->kind <= IR_PORT_ARG && !v->set[i])
      return cx_errf(err, errlen, CX_E_LANG_INPUT, "missing value for `%s`", p->name);
  }
  return CX_OK;
}

/* Wipes the values a parsed JSON tree holds before it is freed. */
static void json_wipe(cJSON *j) {
  for (; j; j = j->next) {
    if (j->valuestring) sodium_memzero(j->valuestring, strlen(j->valuestring));
    j->valuedouble = 0;
    j->valueint = 0;
    json_wipe(j->child);
  }
}

static const char *json_kind(const cJSON *j) {
  if (cJSON_IsNumber(j)) return "a number";
  if (cJSON_IsString(j)) return "a string";
  if (cJSON_IsBool(j)) return "a bool";
  if (cJSON_IsArray(j)) return "an array";
  if (cJSON_IsObject(j)) return "an object";
  if (cJSON_IsNull(j)) return "null";
  return "an invalid value";
}

/* -?(0|[1-9][0-9]*) within int64. */
static int parse_dec(const char *s, int64_t *out) {
  int neg = *s == '-';
  if (neg) s++;
  if (!*s || (*s == '0' && s[1])) return -1;
  uint64_t v = 0, lim = neg ? (UINT64_C(1) << 63) : (uint64_t)INT64_MAX;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    uint64_t d = (uint64_t)(*s - '0');
    if (v > (lim - d) / 10) return -2;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return 0;
}

#define JSON_EXACT 9007199254740992.0 /* 2^53: integers below it are exact as JSON numbers (doubles) */

static cx_err json_elem(const cJSON *j, const ir_port *p, const char *where, int64_t *out, char *err,
                        size_t errlen) {
  if (p->base == IR_T_BOOL) {
    if (!cJSON_IsBool(j))
      return cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: expected true or false, got %s", where, json_kind(j));
    *out = cJSON_IsTrue(j) ? 1 : 0;
    return CX_OK;
  }
  if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    if (!(d > -JSON_EXACT && d < JSON_EXACT))
      return cx_errf(err, errlen, CX_E_LANG_INPUT,
                     "%s: an integer beyond 2^53 must be given as a decimal string", where);
    int64_t k = (int64_t)d;
    if ((double)k != d)
      return cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: expected an integer, got a fraction", where);
    *out = k;
    return CX_OK;
  }
  if (cJSON_IsString(j)) {
    int r = parse_dec(j->valuestring, out);
    if (r == -2)
      return cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: the decimal string does not fit in int64", where);
    if (r) return cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: a string must be a decimal integer", where);
    return CX_OK;
  }
  return cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: expected an integer, got %s", where, json_kind(j));
}

cx_err lang_values_from_json(lang_values *v, const char *json, size_t len, char *err, size_t errlen) {
  return lang_values_read_json(v, json, len, LANG_KIND(LANG_INPUT) | LANG_KIND(LANG_PARAM) | LANG_KIND(LANG_ARG),
                               err, errlen);
}

size_t lang_values_flat(const lang_values *v, lang_port_kind kind, const int64_t **vals) {
  const ir_circuit *ir = &v->c->ir;
  switch (kind) {
  case LANG_INPUT: *vals = v->in; return ir->n_input;
  case LANG_PARAM: *vals = v->param; return ir->n_param;
  case LANG_ARG: *vals = v->arg; return ir->n_arg;
  default: *vals = NULL; return 0;
  }
}

cx_err lang_values_read_json(lang_values *v, const char *json, size_t len, unsigned kinds, char *err,
                             size_t errlen) {
  CX_ASSERT(v && (json || !len));
  const lang_contract *c = v->c;
  cJSON *root = cJSON_ParseWithLength(json ? json : "", len);
  if (!root) return cx_errf(err, errlen, CX_E_LANG_INPUT, "the inputs are not valid JSON");
  cx_err e = CX_OK;
  uint8_t *seen = calloc(c->ir.nports ? c->ir.nports : 1, 1);
  int64_t *tmp = secure_vec(IR_MAX_ARRAY);
  if (!seen || !tmp) {
    e = cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
    goto out;
  }
  if (!cJSON_IsObject(root)) {
    e = cx_errf(err, errlen, CX_E_LANG_INPUT, "the inputs must be a JSON object, not %s", json_kind(root));
    goto out;
  }
  for (const cJSON *j = root->child; j; j = j->next) {
    const char *name = j->string ? j->string : "";
    size_t idx;
    const ir_port *p = find_port(c, name, &idx);
    if (!p) {
      e = cx_errf(err, errlen, CX_E_LANG_INPUT,
                  "unknown entry `%.80s`: the contract has no such input, param or arg", name);
      goto out;
    }
    if (p->kind > IR_PORT_ARG) {
      e = cx_errf(err, errlen, CX_E_LANG_INPUT, "`%s` is an output, not an input, param or arg", name);
      goto out;
    }
    if (!(kinds & LANG_KIND(p->kind))) continue; /* a kind the caller does not read */
    if (seen[idx]) {
      e = cx_errf(err, errlen, CX_E_LANG_INPUT, "duplicate entry `%s`", name);
      goto out;
    }
    seen[idx] = 1;
    size_t n = ir_port_elems(p);
    if (p->len) {
      if (!cJSON_IsArray(j)) {
        e = cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: expected an array of %zu values, got %s", name, n,
                    json_kind(j));
        goto out;
      }
      size_t got = (size_t)cJSON_GetArraySize(j);
      if (got != n) {
        e = cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: expected an array of %zu values, got %zu", name, n,
                    got);
        goto out;
      }
      size_t i = 0;
      for (const cJSON *x = j->child; x; x = x->next, i++) {
        char where[IR_NAME_MAX + 16];
        snprintf(where, sizeof where, "%s[%zu]", name, i);
        if ((e = json_elem(x, p, where, &tmp[i], err, errlen))) goto out;
      }
    } else if ((e = json_elem(j, p, name, &tmp[0], err, errlen))) {
      goto out;
    }
    if ((e = lang_values_set(v, name, tmp, n, err, errlen))) goto out;
  }
  for (size_t i = 0; i < c->ir.nports; i++)
    if (c->ir.ports[i].kind <= IR_PORT_ARG && (kinds & LANG_KIND(c->ir.ports[i].kind)) && !seen[i]) {
      e = cx_errf(err, errlen, CX_E_LANG_INPUT, "missing entry `%s`", c->ir.ports[i].name);
      goto out;
    }
out:
  secure_free(tmp, IR_MAX_ARRAY);
  free(seen);
  json_wipe(root);
  cJSON_Delete(root);
  return e;
}

/* ---- outputs ------------------------------------------------------------------ */

typedef struct {
  char *p;
  size_t n, cap;
  int oom;
} sbuf;

static void put(sbuf *b, const char *s) {
  size_t k = strlen(s);
  if (b->oom) return;
  if (b->n + k + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + k + 1) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, k + 1);
  b->n += k;
}

char *lang_outputs_json(const lang_contract *c, const int64_t *out) {
  sbuf b = {0};
  int first = 1;
  put(&b, "{");
  for (size_t i = 0; i < c->ir.nports; i++) {
    const ir_port *p = &c->ir.ports[i];
    if (p->kind < IR_PORT_OUT_PUBLIC) continue;
    char tmp[96];
    snprintf(tmp, sizeof tmp, "%s\"%s\": ", first ? "" : ", ",
             p->name); /* names are identifiers: no escaping */
    put(&b, tmp);
    first = 0;
    if (p->len) put(&b, "[");
    for (uint32_t k = 0; k < ir_port_elems(p); k++) {
      int64_t x = out[p->first + k];
      const char *sep = k ? ", " : "";
      if (p->base == IR_T_BOOL)
        snprintf(tmp, sizeof tmp, "%s%s", sep, x ? "true" : "false");
      else if (x > -(int64_t)JSON_EXACT && x < (int64_t)JSON_EXACT)
        snprintf(tmp, sizeof tmp, "%s%lld", sep, (long long)x);
      else
        snprintf(tmp, sizeof tmp, "%s\"%lld\"", sep, (long long)x);
      put(&b, tmp);
    }
    if (p->len) put(&b, "]");
  }
  put(&b, "}");
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

/* ---- running ------------------------------------------------------------------ */

cx_err lang_run_reference(const lang_contract *c, const lang_values *v, int64_t *out, char *err,
                          size_t errlen) {
  CX_ASSERT(c && v && v->c == c && (out || !c->ir.n_output));
  if (!c->ast)
    return cx_errf(err, errlen, CX_E_INVALID_ARG,
                   "the reference interpreter needs the source; this contract was decoded from bytecode");
  cx_err e = lang_values_complete(v, err, errlen);
  if (e) return e;
  return lang_interp(c->ast, &c->ir, v->in, v->param, v->arg, out, err, errlen);
}

cx_err lang_run_circuit(const lang_contract *c, const lang_values *v, int64_t *out, char *err,
                        size_t errlen) {
  CX_ASSERT(c && v && v->c == c && (out || !c->ir.n_output));
  cx_err e = lang_values_complete(v, err, errlen);
  if (e) return e;
  e = ir_eval(&c->ir, v->in, v->param, v->arg, out);
  if (e) return cx_errf(err, errlen, e, "cannot evaluate the circuit: %s", cx_err_str(e));
  return CX_OK;
}
