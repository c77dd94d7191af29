/* Contract bytecode, version 1 (docs/contract-language.md §6; the operand
 * table is in ir.h).
 *
 * The decoder reads untrusted bytes (every deploy transaction, on every
 * node), so every count is checked against its limit and against the bytes
 * left before anything is allocated, and every refusal says where and why
 * in one sentence. The nodes are rebuilt through the builder (ir.c) with
 * fold = 1, which recomputes ranges and secrecy and is the one definition
 * of "duplicate" and "foldable": a node is accepted only if the builder
 * emits it as itself, as a new node. With the dead-code check this makes
 * the accepted bytecode exactly the set of finished circuits (ir_pass.c),
 * and decode followed by encode gives back the same bytes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "ir.h"

#define MAGIC "CXC1"
#define IDENT_MAX 32
/* The fewest bytes a port (kind, base, name length, len, lo, hi) and a node
 * (op and one operand or immediate) take: the bound on counts before
 * allocating. */
#define PORT_MIN_BYTES 6
#define NODE_MIN_BYTES 2

/* ---- encoding ------------------------------------------------------------- */

cx_err ir_encode(const ir_circuit *c, uint8_t **out, size_t *len) {
  cx_enc e;
  enc_init(&e);
  enc_fixed(&e, MAGIC, 4);
  enc_str(&e, c->name);
  enc_varint(&e, c->nports);
  for (size_t i = 0; i < c->nports; i++) {
    const ir_port *p = &c->ports[i];
    enc_u8(&e, p->kind);
    enc_u8(&e, p->base);
    enc_str(&e, p->name);
    enc_varint(&e, p->len);
    enc_varint(&e, zigzag_enc(p->lo));
    enc_varint(&e, zigzag_enc(p->hi));
  }
  enc_varint(&e, c->nnodes);
  for (size_t i = 0; i < c->nnodes; i++) {
    const ir_node *n = &c->nodes[i];
    int k = ir_arity(n->op);
    uint32_t ops[3] = {n->a, n->b, n->c};
    enc_u8(&e, n->op);
    for (int j = 0; j < k; j++) {
      CX_ASSERT(ops[j] < i);
      enc_varint(&e, i - ops[j]);
    }
    switch (n->op) {
      case IR_CONST: enc_varint(&e, zigzag_enc(n->imm)); break;
      case IR_INPUT: case IR_PARAM: case IR_ARG: case IR_DIVC: case IR_OUTPUT:
        enc_varint(&e, (uint64_t)n->imm);
        break;
      default: break;
    }
  }
  cx_err r = enc_finish(&e);
  if (r) {
    enc_free(&e);
    return r;
  }
  *out = enc_take(&e, len);
  return CX_OK;
}

/* ---- decoding ------------------------------------------------------------- */

typedef struct {
  cx_dec d;
  char *err;
  size_t errlen;
} rd;

static cx_err fail(rd *r, cx_err code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static cx_err fail(rd *r, cx_err code, const char *fmt, ...) {
  if (r->err && r->errlen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* A codec-level failure (latched in r->d) of a field of `where`. */
static cx_err fail_codec(rd *r, const char *where) {
  const char *why;
  switch (r->d.err) {
    case CX_E_NONCANONICAL: why = "non-minimal varint"; break;
    case CX_E_TRUNCATED: why = "truncated"; break;
    case CX_E_TOO_LONG: why = "string too long"; break;
    default: why = cx_err_str(r->d.err); break;
  }
  return fail(r, CX_E_LANG_BYTECODE, "%s: %s at byte %zu", where, why, r->d.err_off);
}

/* [a-z][a-z0-9_]*, 1..max bytes. */
static int ident(const char *s, size_t n, size_t max) {
  if (n == 0 || n > max || s[0] < 'a' || s[0] > 'z') return 0;
  for (size_t i = 1; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return 0;
  }
  return 1;
}

/* "domain.field", both identifiers of at most 32 bytes. */
static int input_name(const char *s, size_t n) {
  const char *dot = memchr(s, '.', n);
  if (!dot) return 0;
  size_t dl = (size_t)(dot - s);
  return ident(s, dl, IDENT_MAX) && ident(dot + 1, n - dl - 1, IDENT_MAX);
}

static const char *kind_word(uint8_t kind) {
  switch (kind) {
    case IR_PORT_INPUT: return "input";
    case IR_PORT_PARAM: return "param";
    default: return "arg";
  }
}

/* The count of the `what`s (ports, nodes) that follow: at most max, and no
 * more than the bytes left hold at min_bytes each. */
static cx_err read_count(rd *r, const char *what, uint32_t max, size_t min_bytes, uint64_t *n) {
  char where[32];
  snprintf(where, sizeof where, "%s count", what);
  if (dec_varint(&r->d, n)) return fail_codec(r, where);
  unsigned long long v = *n;
  if (v > max) return fail(r, CX_E_LANG_LIMIT, "%llu %ss over the limit of %u", v, what, max);
  if (v > (r->d.len - r->d.off) / min_bytes)
    return fail(r, CX_E_LANG_BYTECODE, "%s count %llu exceeds the remaining bytes", what, v);
  return CX_OK;
}

static cx_err read_ports(rd *r, ir_circuit *c) {
  uint64_t np;
  cx_err e = read_count(r, "port", IR_MAX_PORTS, PORT_MIN_BYTES, &np);
  if (e) return e;
  char where[32];
  for (size_t i = 0; i < np; i++) {
    snprintf(where, sizeof where, "port %zu", i);
    uint8_t kind, base;
    const uint8_t *nm;
    size_t nl;
    uint64_t len, zlo, zhi;
    if (dec_u8(&r->d, &kind)) return fail_codec(r, where);
    if (kind < IR_PORT_INPUT || kind > IR_PORT_OUT_PRIVATE)
      return fail(r, CX_E_LANG_BYTECODE, "port %zu: unknown kind %u", i, kind);
    if (i > 0 && kind < c->ports[i - 1].kind)
      return fail(r, CX_E_LANG_BYTECODE, "port %zu: kind %u after kind %u (ports not in kind order)", i, kind,
                  c->ports[i - 1].kind);
    if (dec_u8(&r->d, &base)) return fail_codec(r, where);
    if (base != IR_T_INT && base != IR_T_BOOL)
      return fail(r, CX_E_LANG_BYTECODE, "port %zu: unknown base %u", i, base);
    if (dec_bytes(&r->d, &nm, &nl, IR_NAME_MAX)) return fail_codec(r, where);
    char name[IR_NAME_MAX + 1];
    memcpy(name, nm, nl);
    name[nl] = 0;
    if (kind == IR_PORT_INPUT && !input_name(name, nl))
      return fail(r, CX_E_LANG_BYTECODE,
                  "port %zu: input name is not domain.field (identifiers, at most 32 bytes each)", i);
    if (kind != IR_PORT_INPUT && !ident(name, nl, IDENT_MAX))
      return fail(r, CX_E_LANG_BYTECODE, "port %zu: name is not an identifier of at most 32 bytes", i);
    for (size_t j = 0; j < i; j++)
      if (strcmp(c->ports[j].name, name) == 0)
        return fail(r, CX_E_LANG_BYTECODE, "port %zu: duplicate name '%s' (port %zu)", i, name, j);
    if (dec_varint(&r->d, &len)) return fail_codec(r, where);
    if (len > IR_MAX_ARRAY)
      return fail(r, CX_E_LANG_LIMIT, "port %zu: array length %llu over the limit of %u", i,
                  (unsigned long long)len, IR_MAX_ARRAY);
    if (dec_varint(&r->d, &zlo) || dec_varint(&r->d, &zhi)) return fail_codec(r, where);
    int64_t lo = zigzag_dec(zlo), hi = zigzag_dec(zhi);
    if (lo > hi) return fail(r, CX_E_LANG_BYTECODE, "port %zu: lo > hi", i);
    if (base == IR_T_BOOL && (lo != 0 || hi != 1))
      return fail(r, CX_E_LANG_BYTECODE, "port %zu: bool range is not 0..1", i);
    if ((e = ir_add_port(c, kind, base, name, (uint32_t)len, lo, hi)) != CX_OK)
      return fail(r, e, "port %zu: %s", i, cx_err_str(e));
  }
  return CX_OK;
}

/* Reads node i's operands and immediate, checks what the builder would
 * assert, and emits it. */
static cx_err read_node(rd *r, ir_circuit *c, uint32_t i) {
  char where[32];
  snprintf(where, sizeof where, "node %u", i);
  uint8_t op;
  if (dec_u8(&r->d, &op)) return fail_codec(r, where);
  if (op < IR_CONST || op >= IR_OP_COUNT) return fail(r, CX_E_LANG_BYTECODE, "node %u: unknown op %u", i, op);
  int k = ir_arity(op);
  uint32_t ops[3] = {0, 0, 0};
  for (int j = 0; j < k; j++) {
    uint64_t dist;
    if (dec_varint(&r->d, &dist)) return fail_codec(r, where);
    if (dist == 0) return fail(r, CX_E_LANG_BYTECODE, "node %u: operand at distance 0", i);
    if (dist > i) return fail(r, CX_E_LANG_BYTECODE, "node %u: operand before the first node", i);
    ops[j] = i - (uint32_t)dist;
    if (c->nodes[ops[j]].op == IR_OUTPUT)
      return fail(r, CX_E_LANG_BYTECODE, "node %u: operand is the output node %u", i, ops[j]);
  }
  int64_t imm = 0;
  uint64_t u;
  switch (op) {
    case IR_CONST:
      if (dec_varint(&r->d, &u)) return fail_codec(r, where);
      imm = zigzag_dec(u);
      break;
    case IR_INPUT: case IR_PARAM: case IR_ARG: {
      if (dec_varint(&r->d, &u)) return fail_codec(r, where);
      uint8_t kind = ir_leaf_kind(op);
      uint32_t n = *ir_kind_count(c, kind);
      const char *w = kind_word(kind);
      if (u >= n)
        return fail(r, CX_E_LANG_BYTECODE, "node %u: %s element %llu out of range (%u %s elements)", i, w,
                    (unsigned long long)u, n, w);
      imm = (int64_t)u;
      break;
    }
    case IR_DIVC:
      if (dec_varint(&r->d, &u)) return fail_codec(r, where);
      if (u < 2)
        return fail(r, CX_E_LANG_BYTECODE, "node %u: divisor %llu below 2", i, (unsigned long long)u);
      if (u > INT64_MAX) return fail(r, CX_E_LANG_BYTECODE, "node %u: divisor over int64", i);
      imm = (int64_t)u;
      break;
    case IR_OUTPUT:
      if (dec_varint(&r->d, &u)) return fail_codec(r, where);
      if (u >= c->n_output)
        return fail(r, CX_E_LANG_BYTECODE, "node %u: output element %llu out of range (%u output elements)",
                    i, (unsigned long long)u, c->n_output);
      imm = (int64_t)u;
      break;
    default: break;
  }
  if (ir_commutative(op) && ops[0] > ops[1])
    return fail(r, CX_E_LANG_BYTECODE, "node %u: operands of a commutative op not in canonical order", i);
  if (op == IR_SELECT && (c->nodes[ops[0]].lo < 0 || c->nodes[ops[0]].hi > 1))
    return fail(r, CX_E_LANG_BYTECODE, "node %u: select condition may be outside 0..1", i);

  cx_err e;
  uint32_t got = ir_emit(c, op, ops[0], ops[1], ops[2], imm, &e);
  if (got == IR_NONE) {
    if (e == CX_E_LANG_RANGE) return fail(r, e, "node %u: value may overflow int64", i);
    return fail(r, e, "node %u: %s", i, cx_err_str(e));
  }
  const ir_node *g = &c->nodes[got];
  int same = ir_node_is(g, op, ops[0], ops[1], ops[2], imm);
  if (got == i && same) return CX_OK;
  if (got < i && same) return fail(r, CX_E_LANG_BYTECODE, "node %u: duplicate of node %u", i, got);
  return fail(r, CX_E_LANG_BYTECODE, "node %u: foldable node", i);
}

/* After the nodes: each output element once, every node used. */
static cx_err check_tail(rd *r, ir_circuit *c) {
  cx_err res = CX_OK;
  uint8_t *mark = calloc(c->nnodes > c->n_output ? c->nnodes : (c->n_output ? c->n_output : 1), 1);
  if (!mark) return fail(r, CX_E_NOMEM, "%s", cx_err_str(CX_E_NOMEM));
  for (size_t i = 0; i < c->nnodes && !res; i++) {
    const ir_node *n = &c->nodes[i];
    if (n->op == IR_OUTPUT && mark[n->imm]++)
      res = fail(r, CX_E_LANG_BYTECODE, "node %zu: output element %lld is assigned twice", i,
                 (long long)n->imm);
  }
  for (uint32_t o = 0; o < c->n_output && !res; o++)
    if (!mark[o]) res = fail(r, CX_E_LANG_BYTECODE, "output element %u is never assigned", o);
  if (res) goto out;
  memset(mark, 0, c->nnodes);
  ir_mark_live(c, 0, c->n_output, mark);
  for (size_t i = 0; i < c->nnodes && !res; i++)
    if (!mark[i]) res = fail(r, CX_E_LANG_BYTECODE, "node %zu is never used by an output", i);
out:
  free(mark);
  return res;
}

static cx_err decode(rd *r, ir_circuit *c) {
  uint8_t magic[4];
  if (dec_fixed(&r->d, magic, 4) || memcmp(magic, MAGIC, 4) != 0)
    return fail(r, CX_E_LANG_BYTECODE, "wrong magic (not CXC1 bytecode)");
  const uint8_t *nm;
  size_t nl;
  if (dec_bytes(&r->d, &nm, &nl, IR_NAME_MAX)) return fail_codec(r, "contract name");
  if (!ident((const char *)nm, nl, IDENT_MAX))
    return fail(r, CX_E_LANG_BYTECODE, "contract name is not an identifier of at most 32 bytes");
  memcpy(c->name, nm, nl);
  c->name[nl] = 0;
  cx_err e = read_ports(r, c);
  if (e) return e;

  uint64_t nn;
  if ((e = read_count(r, "node", IR_MAX_NODES, NODE_MIN_BYTES, &nn)) != CX_OK) return e;
  if (nn) {
    c->nodes = malloc(nn * sizeof *c->nodes);
    if (!c->nodes) return fail(r, CX_E_NOMEM, "%s", cx_err_str(CX_E_NOMEM));
    c->cap = nn;
  }
  for (uint32_t i = 0; i < nn; i++)
    if ((e = read_node(r, c, i)) != CX_OK) return e;
  if (r->d.off != r->d.len) return fail(r, CX_E_LANG_BYTECODE, "trailing bytes after node list");
  return check_tail(r, c);
}

cx_err ir_decode(const uint8_t *buf, size_t len, ir_circuit *c, char *err, size_t errlen) {
  rd r = {.err = err, .errlen = errlen};
  dec_init(&r.d, buf, len);
  ir_init(c, "");
  cx_err e = decode(&r, c);
  if (e) {
    ir_free(c);
    return e;
  }
  /* The builder table is not part of a decoded circuit (ir.h). */
  free(c->ht);
  c->ht = NULL;
  c->htcap = 0;
  if (err && errlen) err[0] = 0;
  return CX_OK;
}
