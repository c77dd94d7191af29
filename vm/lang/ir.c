/* The circuit builder (ir.h; docs/contract-language.md §3 and §6).
 *
 * Every node gets its static range by interval arithmetic over its
 * operands' ranges, computed in 128 bits (the product of two int64 bounds
 * fits), and a node whose range may leave int64 is refused before anything
 * else happens: the refusal depends on the operands' ranges only, never on
 * whether the node would then be simplified (so `x - x` over a full-range
 * x is refused, as `x - y` is). Folding only narrows ranges (a decided
 * comparison is 1..1, not 0..1), so fold = 1 never refuses what fold = 0
 * accepts, and ir_finish (ir_pass.c) can re-emit any built circuit.
 *
 * With c->fold set, ir_emit returns the canonical node for what was asked:
 *   1. commutative operands (ADD, MUL, EQ, NE) are ordered a <= b;
 *   2. arithmetic on constants is folded (exactly, floor division);
 *   3. x+0, x-0, x*1, x*0, x-x, SELECT on a constant condition or with equal
 *      branches, and comparisons decided by the ranges (or of a node with
 *      itself) are simplified;
 *   4. an identical earlier node (op, a, b, c, imm) is returned (hash-consing).
 * This is also the definition of a "foldable" or "duplicate" node for the
 * decoder (bytecode.c), which rebuilds a circuit through ir_emit and refuses
 * any node that does not come out as itself.
 *
 * The hash-consing table is open addressing with linear probing over node
 * indices, hashed by a fixed mixing function of the key: deterministic, and
 * the encoding never depends on it (it only answers "is there an identical
 * node"). It holds every non-OUTPUT node of the circuit while it exists; a
 * node emitted with fold = 0 drops it, and the next emit with fold = 1
 * rebuilds it from the nodes. */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

__extension__ typedef __int128 i128;

#define HT_EMPTY UINT32_MAX

/* ---- circuits and ports -------------------------------------------------- */

void ir_init(ir_circuit *c, const char *name) {
  CX_ASSERT(c && name && strlen(name) < sizeof c->name);
  memset(c, 0, sizeof *c);
  memcpy(c->name, name, strlen(name) + 1);
  c->fold = 1;
}

void ir_free(ir_circuit *c) {
  if (!c) return;
  free(c->ports);
  free(c->nodes);
  free(c->ht);
  memset(c, 0, sizeof *c);
}

uint32_t *ir_kind_count(ir_circuit *c, uint8_t kind) {
  switch (kind) {
    case IR_PORT_INPUT: return &c->n_input;
    case IR_PORT_PARAM: return &c->n_param;
    case IR_PORT_ARG: return &c->n_arg;
    default: return &c->n_output;
  }
}

cx_err ir_add_port(ir_circuit *c, uint8_t kind, uint8_t base, const char *name, uint32_t len, int64_t lo,
                   int64_t hi) {
  CX_ASSERT(kind >= IR_PORT_INPUT && kind <= IR_PORT_OUT_PRIVATE);
  CX_ASSERT(base == IR_T_INT || base == IR_T_BOOL);
  CX_ASSERT(name);
  /* The bytecode lists ports by kind; the caller sorts (ir.h). */
  CX_ASSERT(c->nports == 0 || c->ports[c->nports - 1].kind <= kind);
  if (c->nports >= IR_MAX_PORTS || len > IR_MAX_ARRAY || strlen(name) > IR_NAME_MAX) return CX_E_LANG_LIMIT;
  if (lo > hi) return CX_E_LANG_RANGE;
  CX_ASSERT(base == IR_T_INT || (lo == 0 && hi == 1));
  ir_port *ports = realloc(c->ports, (c->nports + 1) * sizeof *ports);
  if (!ports) return CX_E_NOMEM;
  c->ports = ports;
  ir_port *p = &ports[c->nports++];
  memset(p, 0, sizeof *p);
  p->kind = kind;
  p->base = base;
  memcpy(p->name, name, strlen(name) + 1);
  p->len = len;
  p->lo = lo;
  p->hi = hi;
  uint32_t *n = ir_kind_count(c, kind);
  p->first = *n;
  *n += ir_port_elems(p); /* at most 256 * 4096: no overflow */
  return CX_OK;
}

/* Ports are sorted by kind and, within a kind, by first (strictly: every
 * port has at least one element), so a binary search finds it. */
size_t ir_leaf_port(const ir_circuit *c, uint8_t kind, uint32_t flat) {
  size_t lo = 0, hi = c->nports; /* the answer is the last port <= (kind, flat) */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const ir_port *p = &c->ports[mid];
    if (p->kind < kind || (p->kind == kind && p->first <= flat)) lo = mid + 1;
    else hi = mid;
  }
  CX_ASSERT(lo > 0);
  const ir_port *p = &c->ports[lo - 1];
  CX_ASSERT(p->kind == kind && flat - p->first < ir_port_elems(p));
  return lo - 1;
}

/* ---- the hash-consing table ---------------------------------------------- */

static uint64_t mix(uint64_t z) { /* splitmix64's finaliser: a fixed bijection */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t key_hash(uint8_t op, uint32_t a, uint32_t b, uint32_t cc, int64_t imm) {
  uint64_t h = mix(((uint64_t)op << 32 | a) + 0x9e3779b97f4a7c15ull);
  h = mix(h ^ ((uint64_t)b << 32 | cc));
  return mix(h ^ (uint64_t)imm);
}

/* The slot of the first node equal to the key, or the empty slot where it
 * would go. The table is never more than half full. */
static size_t ht_slot(const ir_circuit *c, uint8_t op, uint32_t a, uint32_t b, uint32_t cc, int64_t imm) {
  size_t mask = c->htcap - 1;
  size_t s = (size_t)key_hash(op, a, b, cc, imm) & mask;
  while (c->ht[s] != HT_EMPTY && !ir_node_is(&c->nodes[c->ht[s]], op, a, b, cc, imm)) s = (s + 1) & mask;
  return s;
}

/* Makes room for one more node: capacity at least twice the nodes, rebuilt
 * from the nodes themselves (so a table dropped by a fold = 0 emit, or by
 * ir_finish, comes back complete). Duplicates (from fold = 0 stretches)
 * keep their first occurrence. */
static cx_err ht_reserve(ir_circuit *c) {
  if (c->ht && c->htcap >= 2 * (c->nnodes + 1)) return CX_OK;
  size_t cap = 64;
  while (cap < 2 * (c->nnodes + 1)) cap *= 2;
  uint32_t *ht = malloc(cap * sizeof *ht);
  if (!ht) return CX_E_NOMEM;
  free(c->ht);
  c->ht = ht;
  c->htcap = cap;
  memset(ht, 0xff, cap * sizeof *ht);
  for (size_t i = 0; i < c->nnodes; i++) {
    const ir_node *n = &c->nodes[i];
    if (n->op == IR_OUTPUT) continue;
    size_t s = ht_slot(c, n->op, n->a, n->b, n->c, n->imm);
    if (ht[s] == HT_EMPTY) ht[s] = (uint32_t)i;
  }
  return CX_OK;
}

/* ---- emitting ------------------------------------------------------------ */

static i128 min2(i128 x, i128 y) { return x < y ? x : y; }
static i128 max2(i128 x, i128 y) { return x > y ? x : y; }

static int is_const(const ir_circuit *c, uint32_t i, int64_t v) {
  return c->nodes[i].op == IR_CONST && c->nodes[i].imm == v;
}

/* Appends a node as given (no folding): the caller computed its range. */
static uint32_t append(ir_circuit *c, const ir_node *n, cx_err *err) {
  if (c->nnodes >= IR_MAX_NODES) {
    *err = CX_E_LANG_LIMIT;
    return IR_NONE;
  }
  if (c->nnodes == c->cap) {
    size_t cap = c->cap ? 2 * c->cap : 64;
    if (cap > IR_MAX_NODES) cap = IR_MAX_NODES;
    ir_node *nodes = realloc(c->nodes, cap * sizeof *nodes);
    if (!nodes) {
      *err = CX_E_NOMEM;
      return IR_NONE;
    }
    c->nodes = nodes;
    c->cap = cap;
  }
  uint32_t i = (uint32_t)c->nnodes++;
  c->nodes[i] = *n;
  return i;
}

/* With fold on: the node the request simplifies to (an operand or a new or
 * existing constant), or IR_NONE to emit it as it is. lo is the low end of
 * the request's range (its value when the operands are constants). */
static uint32_t simplify(ir_circuit *c, const ir_node *r, i128 lo, cx_err *err) {
  if (ir_arity(r->op) == 0) return IR_NONE;
  const ir_node *na = &c->nodes[r->a], *nb = &c->nodes[r->b];
  switch (r->op) {
    case IR_ADD: case IR_SUB: case IR_MUL: case IR_DIVC:
      /* On constants the range is the exact value. */
      if (na->op == IR_CONST && (r->op == IR_DIVC || nb->op == IR_CONST))
        return ir_const(c, (int64_t)lo, err);
      break;
    default: break;
  }
  switch (r->op) {
    case IR_ADD:
      if (is_const(c, r->a, 0)) return r->b;
      if (is_const(c, r->b, 0)) return r->a;
      return IR_NONE;
    case IR_SUB:
      if (is_const(c, r->b, 0)) return r->a;
      if (r->a == r->b) return ir_const(c, 0, err);
      return IR_NONE;
    case IR_MUL:
      if (is_const(c, r->a, 1)) return r->b;
      if (is_const(c, r->b, 1)) return r->a;
      if (is_const(c, r->a, 0) || is_const(c, r->b, 0)) return ir_const(c, 0, err);
      return IR_NONE;
    case IR_LT: case IR_LE: case IR_EQ: case IR_NE: {
      int v = -1;
      if (r->a == r->b) {
        v = r->op == IR_LE || r->op == IR_EQ;
      } else if (r->op == IR_LT) {
        if (na->hi < nb->lo) v = 1;
        else if (na->lo >= nb->hi) v = 0;
      } else if (r->op == IR_LE) {
        if (na->hi <= nb->lo) v = 1;
        else if (na->lo > nb->hi) v = 0;
      } else {
        int eq = na->lo == na->hi && nb->lo == nb->hi && na->lo == nb->lo;
        int apart = na->hi < nb->lo || nb->hi < na->lo;
        if (eq) v = r->op == IR_EQ;
        else if (apart) v = r->op == IR_NE;
      }
      return v < 0 ? IR_NONE : ir_const(c, v, err);
    }
    case IR_SELECT:
      if (na->op == IR_CONST) return na->imm ? r->b : r->c;
      if (r->b == r->c) return r->b;
      return IR_NONE;
    default: return IR_NONE;
  }
}

uint32_t ir_emit(ir_circuit *c, uint8_t op, uint32_t a, uint32_t b, uint32_t cc, int64_t imm, cx_err *err) {
  cx_err dummy;
  if (!err) err = &dummy;
  *err = CX_OK;
  CX_ASSERT(op >= IR_CONST && op < IR_OP_COUNT);
  int k = ir_arity(op);
  /* Unused operands are 0 (ir.h), whatever the caller passed. */
  if (k < 3) cc = 0;
  if (k < 2) b = 0;
  if (k < 1) a = 0;
  uint32_t ops[3] = {a, b, cc};
  for (int i = 0; i < k; i++) CX_ASSERT(ops[i] < c->nnodes && c->nodes[ops[i]].op != IR_OUTPUT);
  if (c->fold && ir_commutative(op) && a > b) {
    uint32_t t = a;
    a = b;
    b = t;
  }
  if (op != IR_CONST && op != IR_INPUT && op != IR_PARAM && op != IR_ARG && op != IR_DIVC && op != IR_OUTPUT)
    imm = 0;

  ir_node n = {.op = op, .a = a, .b = b, .c = cc, .imm = imm};
  const ir_node *na = k >= 1 ? &c->nodes[a] : NULL, *nb = k >= 2 ? &c->nodes[b] : NULL;
  const ir_node *nc = k >= 3 ? &c->nodes[cc] : NULL;
  i128 lo = 0, hi = 0;
  switch (op) {
    case IR_CONST: lo = hi = imm; break;
    case IR_INPUT: case IR_PARAM: case IR_ARG: {
      uint8_t kind = ir_leaf_kind(op);
      CX_ASSERT(imm >= 0 && (uint64_t)imm < *ir_kind_count(c, kind));
      const ir_port *p = &c->ports[ir_leaf_port(c, kind, (uint32_t)imm)];
      lo = p->lo;
      hi = p->hi;
      n.secret = op != IR_ARG;
      break;
    }
    case IR_ADD: lo = (i128)na->lo + nb->lo; hi = (i128)na->hi + nb->hi; break;
    case IR_SUB: lo = (i128)na->lo - nb->hi; hi = (i128)na->hi - nb->lo; break;
    case IR_MUL: {
      i128 p1 = (i128)na->lo * nb->lo, p2 = (i128)na->lo * nb->hi;
      i128 p3 = (i128)na->hi * nb->lo, p4 = (i128)na->hi * nb->hi;
      lo = min2(min2(p1, p2), min2(p3, p4));
      hi = max2(max2(p1, p2), max2(p3, p4));
      break;
    }
    case IR_DIVC:
      CX_ASSERT(imm >= 2);
      lo = ir_floordiv(na->lo, imm); /* floor is monotonic */
      hi = ir_floordiv(na->hi, imm);
      break;
    case IR_LT: case IR_LE: case IR_EQ: case IR_NE: lo = 0; hi = 1; break;
    case IR_SELECT:
      CX_ASSERT(na->lo >= 0 && na->hi <= 1);
      lo = min2(nb->lo, nc->lo);
      hi = max2(nb->hi, nc->hi);
      break;
    case IR_OUTPUT:
      CX_ASSERT(imm >= 0 && (uint64_t)imm < c->n_output);
      lo = na->lo;
      hi = na->hi;
      break;
    default: break;
  }
  if (lo < INT64_MIN || hi > INT64_MAX) {
    *err = CX_E_LANG_RANGE;
    return IR_NONE;
  }
  n.lo = (int64_t)lo;
  n.hi = (int64_t)hi;
  for (int i = 0; i < k; i++) n.secret |= c->nodes[ops[i]].secret;

  if (!c->fold) {
    /* Raw nodes may duplicate earlier ones: the table no longer covers
     * the circuit. */
    free(c->ht);
    c->ht = NULL;
    c->htcap = 0;
    return append(c, &n, err);
  }
  if (op == IR_OUTPUT) return append(c, &n, err); /* roots: never merged */
  uint32_t s = simplify(c, &n, lo, err);
  if (s != IR_NONE || *err) return s;
  if ((*err = ht_reserve(c)) != CX_OK) return IR_NONE;
  size_t slot = ht_slot(c, op, a, b, cc, n.imm);
  if (c->ht[slot] != HT_EMPTY) return c->ht[slot];
  uint32_t i = append(c, &n, err);
  if (i != IR_NONE) c->ht[slot] = i;
  return i;
}

uint32_t ir_const(ir_circuit *c, int64_t v, cx_err *err) { return ir_emit(c, IR_CONST, 0, 0, 0, v, err); }

/* ---- widths --------------------------------------------------------------- */

static uint32_t bits1(int64_t v) {
  uint64_t m = v < 0 ? ~(uint64_t)v : (uint64_t)v; /* magnitude bits, sign apart */
  return (m ? 64 - (uint32_t)__builtin_clzll(m) : 0) + 1;
}

uint32_t ir_bits(int64_t lo, int64_t hi) {
  uint32_t x = bits1(lo), y = bits1(hi);
  return x > y ? x : y;
}
