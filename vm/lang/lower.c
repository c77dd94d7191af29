/* Lowering: the checked tree -> a circuit (ir.h), by unrolling every loop
 * and scalarizing every array (one node per element).
 *
 * The rules (docs/contract-language.md §3, §6), each over elements:
 *   a > b = LT(b, a)   a >= b = LE(b, a)   -x = SUB(0, x)   !x = SUB(1, x)
 *   a && b = MUL(a, b)   a || b = 1 - (1-a)(1-b) (= a + b - ab, but its interval
 *   stays 0..1, as SELECT and bool outputs need)   a % c = a - c * DIVC(a, c)
 *   if c then a else b = SELECT(c, a, b)
 *   min(a, b) = SELECT(LT(a, b), a, b)   max(a, b) = SELECT(LT(a, b), b, a)
 *   sum, count: a balanced tree of ADD;  min, max of an array: a balanced
 *   tournament (the comparisons of one level share a round);
 *   all(A) = prod(A_i), any(A) = 1 - prod(1 - A_i), balanced MUL trees;
 *   x in A = any([x == A_i]);  x not in A = !(x in A).
 * A statement `if` whose condition folds to a constant (it only depends on
 * literals, consts and loop counters) lowers the branch taken; one on an
 * arg lowers both branches and selects every var they assign.
 *
 * Values are vectors of node indices (lv). A name lowers to a borrowed
 * view of its current value, so `A[i]` inside a loop costs O(1), not
 * O(len A): unrolled code is linear in the iterations. Expressions are pure,
 * so a view stays valid until the statement that made it ends.
 *
 * The builder folds and hash-conses as we emit (c->fold = 1), so a value
 * computed only from constants is an IR_CONST node: that is how indexes
 * and divisors computed from loop counters get their values. Overflow is
 * found by the builder (interval arithmetic); it is reported here at the
 * operator, with the __int128 range the operation could reach. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"

typedef struct {
  uint32_t n;    /* elements: 1 for a scalar */
  uint32_t one;  /* the element when ids is NULL */
  uint32_t *ids; /* n node indices, or NULL for a scalar held in one */
  uint8_t owned; /* ids is to be freed by the holder */
} lv;

typedef struct {
  const struct lang_ast *a;
  const char *src;
  size_t len;
  ir_circuit *c;
  lang_diag *diag;
  cx_err err;
  lv *env; /* per symbol: its current value */
  uint8_t *bound;
  uint64_t work;
  uint32_t line, col; /* the statement being lowered (for errors with no expression) */
} lowerer;

static uint32_t at(const lv *v, uint32_t i) { return v->ids ? v->ids[v->n == 1 ? 0 : i] : v->one; }

static void lv_free(lv *v) {
  if (v->owned) free(v->ids);
  memset(v, 0, sizeof *v);
}

/* fail(L, code, line, col, fmt, ...): the lowering's first error wins. */
#define fail(L, ...) lang_fail(&(L)->err, (L)->diag, __VA_ARGS__)

static int oom(lowerer *L) { return fail(L, CX_E_NOMEM, 0, 0, "out of memory"); }

static int charge(lowerer *L, uint64_t n, const lang_expr *e, uint32_t line, uint32_t col) {
  L->work += n;
  if (L->work <= LANG_WORK_MAX) return 0;
  if (e)
    line = e->line, col = e->col;
  else if (!line)
    line = L->line, col = L->col;
  return fail(L, CX_E_LANG_LIMIT, line, col, "the contract takes more than %u operations to unroll",
              LANG_WORK_MAX);
}

/* A vector of n elements (ids allocated when n > 1 or force). */
static int lv_make(lowerer *L, lv *v, uint32_t n) {
  memset(v, 0, sizeof *v);
  v->n = n;
  if (n == 1) return 0;
  v->ids = malloc((size_t)n * sizeof *v->ids);
  if (!v->ids) return oom(L);
  v->owned = 1;
  return 0;
}

static void lv_set(lv *v, uint32_t i, uint32_t id) {
  if (v->ids)
    v->ids[i] = id;
  else
    v->one = id;
}

/* Makes v own its elements (copies a borrowed view). */
static int lv_own(lowerer *L, lv *v) {
  if (!v->ids || v->owned) return 0;
  if (charge(L, v->n, NULL, 0, 0)) return -1;
  uint32_t *p = malloc((size_t)v->n * sizeof *p);
  if (!p) return oom(L);
  memcpy(p, v->ids, (size_t)v->n * sizeof *p);
  v->ids = p;
  v->owned = 1;
  return 0;
}

/* Emits one node; e is the source expression it belongs to (for errors). */
static uint32_t emit(lowerer *L, uint8_t op, uint32_t a, uint32_t b, uint32_t cc, int64_t imm,
                     const lang_expr *e) {
  if (charge(L, 1, e, 0, 0)) return IR_NONE;
  cx_err err = CX_OK;
  uint32_t id = ir_emit(L->c, op, a, b, cc, imm, &err);
  if (id != IR_NONE) return id;
  uint32_t line = e ? e->line : 0, col = e ? e->col : 0;
  if (err == CX_E_LANG_RANGE) {
    char text[96];
    if (e)
      lang_expr_text(L->src, L->len, e, text, sizeof text, 80);
    else
      snprintf(text, sizeof text, "?");
    if (op == IR_ADD || op == IR_SUB || op == IR_MUL) {
      const ir_node *x = &L->c->nodes[a], *y = &L->c->nodes[b];
      __int128 lo = 0, hi = 0;
      if (op == IR_ADD) {
        lo = (__int128)x->lo + y->lo;
        hi = (__int128)x->hi + y->hi;
      } else if (op == IR_SUB) {
        lo = (__int128)x->lo - y->hi;
        hi = (__int128)x->hi - y->lo;
      } else if (op == IR_MUL) {
        __int128 p[4] = {(__int128)x->lo * y->lo, (__int128)x->lo * y->hi, (__int128)x->hi * y->lo,
                         (__int128)x->hi * y->hi};
        lo = hi = p[0];
        for (int i = 1; i < 4; i++) {
          if (p[i] < lo) lo = p[i];
          if (p[i] > hi) hi = p[i];
        }
      }
      char l[48], h[48];
      lang_i128_str(lo, l);
      lang_i128_str(hi, h);
      fail(L, CX_E_LANG_RANGE, line, col, "`%s` may overflow int64 (range %s..%s); declare narrower ranges",
           text, l, h);
    } else {
      fail(L, CX_E_LANG_RANGE, line, col, "`%s` may overflow int64; declare narrower ranges", text);
    }
  } else if (err == CX_E_LANG_LIMIT) {
    fail(L, CX_E_LANG_LIMIT, line, col, "the circuit has more than %u nodes", IR_MAX_NODES);
  } else if (err == CX_E_NOMEM) {
    oom(L);
  } else {
    fail(L, err ? err : CX_E_INTERNAL, line, col, "cannot emit a node: %s", cx_err_str(err));
  }
  return IR_NONE;
}

static uint32_t konst(lowerer *L, int64_t v, const lang_expr *e) { return emit(L, IR_CONST, 0, 0, 0, v, e); }

/* The value of a node that must be a constant (an index or a divisor: the
 * checker proved it is computed from constants, so the builder folded it). */
static int const_of(lowerer *L, uint32_t id, const lang_expr *e, int64_t *v) {
  const ir_node *n = &L->c->nodes[id];
  if (n->op != IR_CONST) {
    uint32_t line, col;
    lang_pos(L->src, L->len, e->off, &line, &col);
    return fail(L, CX_E_INTERNAL, line, col, "a compile-time constant did not fold");
  }
  *v = n->imm;
  return 0;
}

/* ---- expressions ------------------------------------------------------------- */

static int lower_expr(lowerer *L, const lang_expr *e, lv *out);

/* out[i] = op(a[i], b[i]) with scalars broadcast. */
static int map2(lowerer *L, uint8_t op, const lv *a, const lv *b, const lang_expr *e, lv *out) {
  uint32_t n = a->n > b->n ? a->n : b->n;
  if (lv_make(L, out, n)) return -1;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t id = emit(L, op, at(a, i), at(b, i), 0, 0, e);
    if (id == IR_NONE) return -1;
    lv_set(out, i, id);
  }
  return 0;
}

/* Reduces ids[0..n) in place by a balanced tree of op (n >= 1); for the
 * tournaments of min and max, op is 0 and sel picks (1 min, 2 max). */
static uint32_t reduce(lowerer *L, uint32_t *t, uint32_t n, uint8_t op, int sel, const lang_expr *e) {
  while (n > 1) {
    uint32_t m = 0;
    for (uint32_t j = 0; j + 1 < n; j += 2) {
      uint32_t x = t[j], y = t[j + 1], r;
      if (sel) {
        uint32_t lt = emit(L, IR_LT, x, y, 0, 0, e);
        if (lt == IR_NONE) return IR_NONE;
        r = emit(L, IR_SELECT, lt, sel == 1 ? x : y, sel == 1 ? y : x, 0, e);
      } else {
        r = emit(L, op, x, y, 0, 0, e);
      }
      if (r == IR_NONE) return IR_NONE;
      t[m++] = r;
    }
    if (n & 1) t[m++] = t[n - 1];
    n = m;
  }
  return t[0];
}

/* A fresh copy of v's elements (for reductions that work in place). */
static uint32_t *elems(lowerer *L, const lv *v) {
  uint32_t *t = malloc((size_t)v->n * sizeof *t);
  if (!t) return oom(L), NULL;
  for (uint32_t i = 0; i < v->n; i++) t[i] = at(v, i);
  return t;
}

static uint32_t any_of(lowerer *L, const lv *v, const lang_expr *e) {
  uint32_t one = konst(L, 1, e);
  if (one == IR_NONE) return IR_NONE;
  uint32_t *t = elems(L, v);
  if (!t) return IR_NONE;
  uint32_t r = IR_NONE;
  for (uint32_t i = 0; i < v->n; i++)
    if ((t[i] = emit(L, IR_SUB, one, t[i], 0, 0, e)) == IR_NONE) goto out;
  r = reduce(L, t, v->n, IR_MUL, 0, e);
  if (r != IR_NONE) r = emit(L, IR_SUB, one, r, 0, 0, e);
out:
  free(t);
  return r;
}

static int lower_call(lowerer *L, const lang_expr *e, lv *out) {
  if (e->op == F_LEN) {
    uint32_t id = konst(L, e->items[0]->len, e);
    if (id == IR_NONE) return -1;
    return lv_make(L, out, 1) ? -1 : (lv_set(out, 0, id), 0);
  }
  lv x = {0}, y = {0};
  uint32_t r = IR_NONE;
  if (lower_expr(L, e->items[0], &x)) return -1;
  if (e->nitems == 2) { /* min(a, b), max(a, b) */
    if (lower_expr(L, e->items[1], &y)) goto out;
    uint32_t lt = emit(L, IR_LT, at(&x, 0), at(&y, 0), 0, 0, e);
    if (lt == IR_NONE) goto out;
    r = e->op == F_MIN ? emit(L, IR_SELECT, lt, at(&x, 0), at(&y, 0), 0, e)
                       : emit(L, IR_SELECT, lt, at(&y, 0), at(&x, 0), 0, e);
    goto out;
  }
  if (e->op == F_ANY) {
    r = any_of(L, &x, e);
    goto out;
  }
  uint32_t *t = elems(L, &x);
  if (!t) goto out;
  switch (e->op) {
    case F_SUM:
    case F_COUNT: r = reduce(L, t, x.n, IR_ADD, 0, e); break;
    case F_ALL: r = reduce(L, t, x.n, IR_MUL, 0, e); break;
    case F_MIN: r = reduce(L, t, x.n, 0, 1, e); break;
    case F_MAX: r = reduce(L, t, x.n, 0, 2, e); break;
    default: fail(L, CX_E_INTERNAL, e->line, e->col, "unknown builtin"); break;
  }
  free(t);
out:
  lv_free(&x);
  lv_free(&y);
  if (r == IR_NONE) return -1;
  if (lv_make(L, out, 1)) return -1;
  lv_set(out, 0, r);
  return 0;
}

static int lower_bin(lowerer *L, const lang_expr *e, lv *a, lv *b, lv *out) {
  uint32_t n = a->n > b->n ? a->n : b->n;
  switch (e->op) {
    case B_ADD: return map2(L, IR_ADD, a, b, e, out);
    case B_SUB: return map2(L, IR_SUB, a, b, e, out);
    case B_MUL:
    case B_AND: return map2(L, IR_MUL, a, b, e, out);
    case B_LT: return map2(L, IR_LT, a, b, e, out);
    case B_LE: return map2(L, IR_LE, a, b, e, out);
    case B_GT: return map2(L, IR_LT, b, a, e, out);
    case B_GE: return map2(L, IR_LE, b, a, e, out);
    case B_EQ: return map2(L, IR_EQ, a, b, e, out);
    case B_NE: return map2(L, IR_NE, a, b, e, out);
    case B_OR: { /* 1 - (1-a)(1-b): a + b - ab in a form whose interval stays 0..1 (a bool) */
      uint32_t one = konst(L, 1, e);
      if (one == IR_NONE || lv_make(L, out, n)) return -1;
      for (uint32_t i = 0; i < n; i++) {
        uint32_t x = emit(L, IR_SUB, one, at(a, i), 0, 0, e);
        uint32_t y = x == IR_NONE ? IR_NONE : emit(L, IR_SUB, one, at(b, i), 0, 0, e);
        uint32_t p = y == IR_NONE ? IR_NONE : emit(L, IR_MUL, x, y, 0, 0, e);
        uint32_t r = p == IR_NONE ? IR_NONE : emit(L, IR_SUB, one, p, 0, 0, e);
        if (r == IR_NONE) return -1;
        lv_set(out, i, r);
      }
      return 0;
    }
    case B_DIV:
    case B_MOD: {
      int64_t d = 0;
      if (const_of(L, at(b, 0), e->b, &d)) return -1;
      if (d < 1) {
        uint32_t line, col;
        lang_pos(L->src, L->len, e->b->off, &line, &col);
        return fail(L, CX_E_LANG_TYPE, line, col, "the divisor must be at least 1, not %lld", (long long)d);
      }
      n = a->n;
      if (lv_make(L, out, n)) return -1;
      uint32_t dc = konst(L, d, e), zero = konst(L, 0, e);
      if (dc == IR_NONE || zero == IR_NONE) return -1;
      for (uint32_t i = 0; i < n; i++) {
        uint32_t x = at(a, i), r;
        if (d == 1) {
          r = e->op == B_DIV ? x : zero;
        } else {
          r = emit(L, IR_DIVC, x, 0, 0, d, e);
          if (r != IR_NONE && e->op == B_MOD) {
            uint32_t m = emit(L, IR_MUL, dc, r, 0, 0, e);
            r = m == IR_NONE ? IR_NONE : emit(L, IR_SUB, x, m, 0, 0, e);
          }
        }
        if (r == IR_NONE) return -1;
        lv_set(out, i, r);
      }
      return 0;
    }
    default: return fail(L, CX_E_INTERNAL, e->line, e->col, "unknown operator");
  }
}

static int lower_name(lowerer *L, const lang_expr *e, lv *out) {
  uint32_t s = e->sym;
  const lang_sym *y = &L->a->syms[s];
  if (y->kind == SY_CONST) {
    uint32_t id = konst(L, y->lo, e);
    if (id == IR_NONE || lv_make(L, out, 1)) return -1;
    lv_set(out, 0, id);
    return 0;
  }
  if (!L->bound[s]) {
    if (y->kind != SY_INPUT && y->kind != SY_PARAM && y->kind != SY_ARG)
      return fail(L, CX_E_INTERNAL, e->line, e->col, "`%s` has no value", y->name);
    /* a port: its element nodes, emitted at the first use */
    uint8_t op = y->kind == SY_INPUT ? IR_INPUT : y->kind == SY_PARAM ? IR_PARAM : IR_ARG;
    const ir_port *p = &L->c->ports[y->port];
    lv v;
    if (lv_make(L, &v, ir_port_elems(p))) return -1;
    for (uint32_t i = 0; i < v.n; i++) {
      uint32_t id = emit(L, op, 0, 0, 0, (int64_t)p->first + i, e);
      if (id == IR_NONE) {
        lv_free(&v);
        return -1;
      }
      lv_set(&v, i, id);
    }
    L->env[s] = v;
    L->bound[s] = 1;
  }
  *out = L->env[s];
  out->owned = 0; /* a view */
  return 0;
}

/* Binds symbol s to v (taking it over; a view is copied first). */
static int bind(lowerer *L, uint32_t s, lv *v) {
  if (lv_own(L, v)) {
    lv_free(v);
    return -1;
  }
  if (L->bound[s]) lv_free(&L->env[s]);
  L->env[s] = *v;
  L->bound[s] = 1;
  memset(v, 0, sizeof *v);
  return 0;
}

static int bind_scalar(lowerer *L, uint32_t s, uint32_t id) {
  lv v;
  if (lv_make(L, &v, 1)) return -1;
  lv_set(&v, 0, id);
  return bind(L, s, &v);
}

static int lower_compr(lowerer *L, const lang_expr *e, lv *out) {
  lv arr = {0};
  uint32_t n;
  if (e->c) {
    n = (uint32_t)(e->rhi - e->rlo);
  } else {
    if (lower_expr(L, e->b, &arr)) return -1;
    n = arr.n;
  }
  if (lv_make(L, out, e->len) || n != e->len) {
    lv_free(&arr);
    return L->err ? -1 : fail(L, CX_E_INTERNAL, e->line, e->col, "comprehension length");
  }
  for (uint32_t i = 0; i < n; i++) {
    uint32_t x = e->c ? konst(L, e->rlo + i, e) : at(&arr, i);
    lv r = {0};
    if (x == IR_NONE || bind_scalar(L, e->sym, x) || lower_expr(L, e->a, &r)) {
      lv_free(&arr);
      return -1;
    }
    lv_set(out, i, at(&r, 0));
    lv_free(&r);
  }
  lv_free(&arr);
  return 0;
}

static int lower_expr(lowerer *L, const lang_expr *e, lv *out) {
  memset(out, 0, sizeof *out);
  lv a = {0}, b = {0}, c = {0};
  int r = -1;
  uint32_t id;
  switch (e->kind) {
    case E_INT:
    case E_BOOL:
      if ((id = konst(L, e->ival, e)) == IR_NONE || lv_make(L, out, 1)) return -1;
      lv_set(out, 0, id);
      return 0;
    case E_NAME: return lower_name(L, e, out);
    case E_NEG:
    case E_NOT:
      if ((id = konst(L, e->kind == E_NEG ? 0 : 1, e)) == IR_NONE || lv_make(L, &b, 1)) return -1;
      lv_set(&b, 0, id);
      if (lower_expr(L, e->a, &a)) return -1;
      r = map2(L, IR_SUB, &b, &a, e, out);
      break;
    case E_BIN:
      if (lower_expr(L, e->a, &a) || lower_expr(L, e->b, &b)) break;
      r = lower_bin(L, e, &a, &b, out);
      break;
    case E_IN: {
      if (lower_expr(L, e->a, &a) || lower_expr(L, e->b, &b)) break;
      if (map2(L, IR_EQ, &a, &b, e, &c)) break;
      if ((id = any_of(L, &c, e)) == IR_NONE) break;
      if (e->op) { /* not in */
        uint32_t one = konst(L, 1, e);
        if (one == IR_NONE || (id = emit(L, IR_SUB, one, id, 0, 0, e)) == IR_NONE) break;
      }
      if (lv_make(L, out, 1)) break;
      lv_set(out, 0, id);
      r = 0;
      break;
    }
    case E_IF:
      if (lower_expr(L, e->a, &a) || lower_expr(L, e->b, &b) || lower_expr(L, e->c, &c)) break;
      if (lv_make(L, out, e->len ? e->len : 1)) break;
      r = 0;
      for (uint32_t i = 0; i < out->n && !r; i++) {
        if ((id = emit(L, IR_SELECT, at(&a, 0), at(&b, i), at(&c, i), 0, e)) == IR_NONE)
          r = -1;
        else
          lv_set(out, i, id);
      }
      break;
    case E_LETIN:
      /* the binding outlives this expression (out may be a view of it);
       * it is replaced when the let is lowered again */
      if (lower_expr(L, e->a, &a) || bind(L, e->sym, &a)) break;
      r = lower_expr(L, e->b, out);
      break;
    case E_INDEX: {
      int64_t i = 0;
      if (lower_expr(L, e->a, &a) || lower_expr(L, e->b, &b)) break;
      if (const_of(L, at(&b, 0), e->b, &i)) break;
      if (i < 0 || i >= (int64_t)a.n) {
        uint32_t line, col;
        lang_pos(L->src, L->len, e->b->off, &line, &col);
        fail(L, CX_E_LANG_TYPE, line, col, "index %lld is out of range for an array of %u elements",
             (long long)i, a.n);
        break;
      }
      if (lv_make(L, out, 1)) break;
      lv_set(out, 0, at(&a, (uint32_t)i));
      r = 0;
      break;
    }
    case E_CALL: return lower_call(L, e, out);
    case E_ARRAY:
      if (lv_make(L, out, e->nitems)) break;
      r = 0;
      for (uint32_t i = 0; i < e->nitems && !r; i++) {
        lv x;
        if (lower_expr(L, e->items[i], &x))
          r = -1;
        else
          lv_set(out, i, at(&x, 0));
        lv_free(&x);
      }
      break;
    case E_COMPR: r = lower_compr(L, e, out); break;
    default: fail(L, CX_E_INTERNAL, e->line, e->col, "unknown expression"); break;
  }
  lv_free(&a);
  lv_free(&b);
  lv_free(&c);
  if (r) lv_free(out);
  return r;
}

/* ---- statements --------------------------------------------------------------- */

static int lower_block(lowerer *L, lang_stmt *const *v, uint32_t n);

static int lower_output(lowerer *L, const lang_stmt *s, lv *v) {
  const lang_sym *y = &L->a->syms[s->sym];
  const ir_port *p = &L->c->ports[y->port];
  for (uint32_t i = 0; i < v->n; i++) {
    const ir_node *x = &L->c->nodes[at(v, i)];
    if (x->lo < p->lo || x->hi > p->hi)
      return fail(L, CX_E_LANG_RANGE, s->nline, s->ncol,
                  "output `%s` is declared int(%lld..%lld), but its value may be %lld..%lld", y->name,
                  (long long)p->lo, (long long)p->hi, (long long)x->lo, (long long)x->hi);
  }
  for (uint32_t i = 0; i < v->n; i++)
    if (emit(L, IR_OUTPUT, at(v, i), 0, 0, (int64_t)p->first + i, s->e) == IR_NONE) return -1;
  return 0;
}

/* A statement `if` on a public, non-constant condition: both branches from
 * the same state, then one SELECT per element of every var they assign. */
static int lower_if_both(lowerer *L, const lang_stmt *s, uint32_t cond) {
  uint32_t n = s->nassigned;
  lv *saved = calloc(n ? n : 1, sizeof *saved), *then = calloc(n ? n : 1, sizeof *then);
  int r = -1;
  if (!saved || !then) {
    oom(L);
    goto out;
  }
  for (uint32_t i = 0; i < n; i++) {
    saved[i] = L->env[s->assigned[i]];
    saved[i].owned = 0;
    if (lv_own(L, &saved[i])) goto out;
  }
  if (lower_block(L, s->body, s->nbody)) goto out;
  for (uint32_t i = 0; i < n; i++) { /* keep the then-values, restore the state */
    uint32_t v = s->assigned[i];
    then[i] = L->env[v];
    L->env[v] = saved[i];
    memset(&saved[i], 0, sizeof saved[i]);
  }
  if (lower_block(L, s->els, s->nels)) goto out;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t v = s->assigned[i];
    lv *el = &L->env[v], m;
    if (lv_make(L, &m, el->n)) goto out;
    for (uint32_t k = 0; k < el->n; k++) {
      uint32_t id = emit(L, IR_SELECT, cond, at(&then[i], k), at(el, k), 0, s->e);
      if (id == IR_NONE) {
        lv_free(&m);
        goto out;
      }
      lv_set(&m, k, id);
    }
    if (bind(L, v, &m)) goto out;
  }
  r = 0;
out:
  for (uint32_t i = 0; i < n && saved && then; i++) {
    lv_free(&saved[i]);
    lv_free(&then[i]);
  }
  free(saved);
  free(then);
  return r;
}

static int lower_stmt(lowerer *L, const lang_stmt *s) {
  lv v = {0};
  L->line = s->line;
  L->col = s->col;
  switch (s->kind) {
    case S_LET:
    case S_VAR:
      if (lower_expr(L, s->e, &v)) return -1;
      return bind(L, s->sym, &v);
    case S_ASSIGN:
      if (lower_expr(L, s->e, &v)) return -1;
      if (L->a->syms[s->sym].kind == SY_OUTPUT && lower_output(L, s, &v)) {
        lv_free(&v);
        return -1;
      }
      return bind(L, s->sym, &v);
    case S_FOR:
      if (s->hi) {
        for (int64_t i = s->rlo; i < s->rhi; i++) {
          uint32_t id = konst(L, i, s->e);
          if (id == IR_NONE || bind_scalar(L, s->sym, id) || lower_block(L, s->body, s->nbody)) return -1;
        }
        return 0;
      }
      /* over an array: a copy, since the body may assign the var it names */
      if (lower_expr(L, s->e, &v) || lv_own(L, &v)) {
        lv_free(&v);
        return -1;
      }
      for (uint32_t i = 0; i < v.n; i++)
        if (bind_scalar(L, s->sym, at(&v, i)) || lower_block(L, s->body, s->nbody)) {
          lv_free(&v);
          return -1;
        }
      lv_free(&v);
      return 0;
    case S_IF: {
      if (lower_expr(L, s->e, &v)) return -1;
      uint32_t cond = at(&v, 0);
      lv_free(&v);
      const ir_node *c = &L->c->nodes[cond];
      if (c->op == IR_CONST)
        return c->imm ? lower_block(L, s->body, s->nbody) : lower_block(L, s->els, s->nels);
      return lower_if_both(L, s, cond);
    }
    default: return fail(L, CX_E_INTERNAL, s->line, s->col, "unknown statement");
  }
}

static int lower_block(lowerer *L, lang_stmt *const *v, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (lower_stmt(L, v[i])) return -1;
  return 0;
}

cx_err lang_lower(const struct lang_ast *a, const char *src, size_t len, ir_circuit *c, lang_diag *diag) {
  lowerer L = {.a = a, .src = src, .len = len, .c = c, .diag = diag};
  for (uint32_t p = 0; p < a->nports; p++) {
    const lang_sym *y = &a->syms[a->port_sym[p]];
    cx_err e = ir_add_port(c, y->port_kind, y->base, y->name, y->len, y->lo, y->hi);
    if (e) return lang_diag_set(diag, e, y->line, y->col, "cannot declare `%s`: %s", y->name, cx_err_str(e));
  }
  L.env = calloc(a->nsyms ? a->nsyms : 1, sizeof *L.env);
  L.bound = calloc(a->nsyms ? a->nsyms : 1, 1);
  if (!L.env || !L.bound) {
    oom(&L);
  } else if (lower_block(&L, a->body, a->nbody) && !L.err) {
    fail(&L, CX_E_INTERNAL, 0, 0, "lowering failed");
  }
  for (uint32_t i = 0; L.env && i < a->nsyms; i++) lv_free(&L.env[i]);
  free(L.env);
  free(L.bound);
  return L.err;
}
