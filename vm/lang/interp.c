/* The reference interpreter: the meaning of a contract (docs/
 * contract-language.md §2-§3), computed over the checked tree with int64
 * values (arrays as vectors), statement by statement.
 *
 * It shares nothing with lowering, the circuit or ir_eval on purpose: the
 * differential tests compare it with the compiled circuit on random
 * inputs, so a bug in lowering or in the optimiser shows as a difference.
 * It implements the semantics directly: floor division, `%` in 0..c-1,
 * sums over mathematical integers, the branch taken by an `if`.
 *
 * The compiler has proved that no value leaves int64; every operation
 * still checks (__builtin_*_overflow), and a violation is CX_E_INTERNAL
 * ("reference interpreter overflow at L:C"), a compiler bug. Intermediate
 * vectors may hold secrets: they are wiped when freed. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "lang_internal.h"

typedef struct {
  uint32_t n;  /* elements: 1 for a scalar */
  int64_t one; /* the element when v is NULL */
  int64_t *v;  /* n values, or NULL for a scalar held in one */
  uint8_t owned;
} iv;

typedef struct {
  const struct lang_ast *a;
  const ir_circuit *ir;
  const int64_t *in, *param, *arg;
  int64_t *out;
  iv *env;
  uint8_t *bound;
  char *err;
  size_t errlen;
  cx_err rc;
} interp;

static int64_t at(const iv *x, uint32_t i) { return x->v ? x->v[x->n == 1 ? 0 : i] : x->one; }

static void iv_free(iv *x) {
  if (x->owned && x->v) {
    sodium_memzero(x->v, (size_t)x->n * sizeof *x->v);
    free(x->v);
  }
  x->one = 0;
  memset(x, 0, sizeof *x);
}

static int fail(interp *I, cx_err code, const char *what, const lang_expr *e) {
  if (!I->rc)
    I->rc = cx_errf(I->err, I->errlen, code, "reference interpreter %s at %u:%u", what, e ? e->line : 0,
                    e ? e->col : 0);
  return -1;
}

static int iv_make(interp *I, iv *x, uint32_t n) {
  memset(x, 0, sizeof *x);
  x->n = n;
  if (n == 1) return 0;
  x->v = malloc((size_t)n * sizeof *x->v);
  if (!x->v) {
    if (!I->rc) I->rc = cx_errf(I->err, I->errlen, CX_E_NOMEM, "out of memory");
    return -1;
  }
  x->owned = 1;
  return 0;
}

static void iv_set(iv *x, uint32_t i, int64_t v) {
  if (x->v)
    x->v[i] = v;
  else
    x->one = v;
}

static int iv_own(interp *I, iv *x) {
  if (!x->v || x->owned) return 0;
  const int64_t *src = x->v;
  if (x->n == 1) { /* a view of one element becomes a scalar */
    x->one = src[0];
    x->v = NULL;
    return 0;
  }
  if (iv_make(I, x, x->n)) return -1;
  memcpy(x->v, src, (size_t)x->n * sizeof *x->v);
  return 0;
}

static int scalar(interp *I, iv *x, int64_t v) {
  if (iv_make(I, x, 1)) return -1;
  x->one = v;
  return 0;
}

static int bind(interp *I, uint32_t s, iv *x) {
  if (iv_own(I, x)) return -1;
  if (I->bound[s]) iv_free(&I->env[s]);
  I->env[s] = *x;
  I->bound[s] = 1;
  memset(x, 0, sizeof *x);
  return 0;
}

static int64_t floor_div(int64_t a, int64_t d) { /* d >= 1 */
  int64_t q = a / d;
  return (a % d != 0 && a < 0) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t d) { /* d >= 1: in 0..d-1 */
  int64_t r = a % d;
  return r < 0 ? r + d : r;
}

/* ---- expressions ------------------------------------------------------------- */

static int eval(interp *I, const lang_expr *e, iv *out);

/* One element of a binary operator; -1 on overflow. */
static int binop(uint8_t op, int64_t x, int64_t y, int64_t *r) {
  switch (op) {
    case B_ADD: return __builtin_add_overflow(x, y, r) ? -1 : 0;
    case B_SUB: return __builtin_sub_overflow(x, y, r) ? -1 : 0;
    case B_MUL: return __builtin_mul_overflow(x, y, r) ? -1 : 0;
    case B_DIV: *r = floor_div(x, y); return 0;
    case B_MOD: *r = floor_mod(x, y); return 0;
    case B_LT: *r = x < y; return 0;
    case B_LE: *r = x <= y; return 0;
    case B_GT: *r = x > y; return 0;
    case B_GE: *r = x >= y; return 0;
    case B_EQ: *r = x == y; return 0;
    case B_NE: *r = x != y; return 0;
    case B_AND: *r = x && y; return 0;
    case B_OR: *r = x || y; return 0;
    default: return -1;
  }
}

static int eval_call(interp *I, const lang_expr *e, iv *out) {
  if (e->op == F_LEN) return scalar(I, out, e->items[0]->len);
  iv x = {0}, y = {0};
  int r = -1;
  int64_t v = 0;
  if (eval(I, e->items[0], &x)) return -1;
  if (e->nitems == 2) {
    if (eval(I, e->items[1], &y)) goto out;
    int64_t p = at(&x, 0), q = at(&y, 0);
    v = e->op == F_MIN ? (p < q ? p : q) : (p > q ? p : q);
    r = 0;
    goto out;
  }
  switch (e->op) {
    case F_SUM:
    case F_COUNT: {
      __int128 s = 0; /* the value of the sum, whatever the order of the additions */
      for (uint32_t i = 0; i < x.n; i++) s += at(&x, i);
      if (s < INT64_MIN || s > INT64_MAX) {
        fail(I, CX_E_INTERNAL, "overflow", e);
        goto out;
      }
      v = (int64_t)s;
      break;
    }
    case F_MIN:
    case F_MAX:
      v = at(&x, 0);
      for (uint32_t i = 1; i < x.n; i++) {
        int64_t t = at(&x, i);
        if (e->op == F_MIN ? t < v : t > v) v = t;
      }
      break;
    case F_ANY:
      for (uint32_t i = 0; i < x.n; i++) v |= at(&x, i) != 0;
      break;
    case F_ALL:
      v = 1;
      for (uint32_t i = 0; i < x.n; i++) v &= at(&x, i) != 0;
      break;
    default: fail(I, CX_E_INTERNAL, "unknown builtin", e); goto out;
  }
  r = 0;
out:
  iv_free(&x);
  iv_free(&y);
  return r ? -1 : scalar(I, out, v);
}

static int eval_name(interp *I, const lang_expr *e, iv *out) {
  uint32_t s = e->sym;
  const lang_sym *y = &I->a->syms[s];
  if (y->kind == SY_CONST) return scalar(I, out, y->lo);
  memset(out, 0, sizeof *out);
  if (y->kind == SY_INPUT || y->kind == SY_PARAM || y->kind == SY_ARG) {
    /* a view of the caller's flat vector */
    const ir_port *p = &I->ir->ports[y->port];
    const int64_t *base = y->kind == SY_INPUT ? I->in : y->kind == SY_PARAM ? I->param : I->arg;
    out->n = ir_port_elems(p);
    if (out->n > 1)
      out->v = (int64_t *)(uintptr_t)(base + p->first);
    else
      out->one = base[p->first];
    return 0;
  }
  if (!I->bound[s]) return fail(I, CX_E_INTERNAL, "read of an unset name", e);
  *out = I->env[s];
  out->owned = 0;
  return 0;
}

static int eval_compr(interp *I, const lang_expr *e, iv *out) {
  iv arr = {0};
  if (!e->c && eval(I, e->b, &arr)) return -1;
  if (iv_make(I, out, e->len)) {
    iv_free(&arr);
    return -1;
  }
  for (uint32_t i = 0; i < e->len; i++) {
    iv x = {0}, r = {0};
    x.n = 1;
    x.one = e->c ? e->rlo + i : at(&arr, i);
    if (bind(I, e->sym, &x) || eval(I, e->a, &r)) {
      iv_free(&arr);
      iv_free(out);
      return -1;
    }
    iv_set(out, i, at(&r, 0));
    iv_free(&r);
  }
  iv_free(&arr);
  return 0;
}

static int eval(interp *I, const lang_expr *e, iv *out) {
  memset(out, 0, sizeof *out);
  iv a = {0}, b = {0};
  int r = -1;
  switch (e->kind) {
    case E_INT:
    case E_BOOL: return scalar(I, out, e->ival);
    case E_NAME: return eval_name(I, e, out);
    case E_NEG:
    case E_NOT:
      if (eval(I, e->a, &a) || iv_make(I, out, a.n)) break;
      r = 0;
      for (uint32_t i = 0; i < a.n && !r; i++) {
        int64_t x = at(&a, i), v;
        if (e->kind == E_NOT)
          v = !x;
        else if (__builtin_sub_overflow((int64_t)0, x, &v))
          r = fail(I, CX_E_INTERNAL, "overflow", e);
        iv_set(out, i, v);
      }
      break;
    case E_BIN: {
      if (eval(I, e->a, &a) || eval(I, e->b, &b)) break;
      if ((e->op == B_DIV || e->op == B_MOD) && at(&b, 0) < 1) {
        fail(I, CX_E_INTERNAL, "division by a value below 1", e);
        break;
      }
      uint32_t n = a.n > b.n ? a.n : b.n;
      if (iv_make(I, out, n)) break;
      r = 0;
      for (uint32_t i = 0; i < n && !r; i++) {
        int64_t v = 0;
        if (binop(e->op, at(&a, i), at(&b, i), &v)) r = fail(I, CX_E_INTERNAL, "overflow", e);
        iv_set(out, i, v);
      }
      break;
    }
    case E_IN: {
      if (eval(I, e->a, &a) || eval(I, e->b, &b)) break;
      int64_t found = 0, x = at(&a, 0);
      for (uint32_t i = 0; i < b.n; i++) found |= at(&b, i) == x;
      r = scalar(I, out, e->op ? !found : found);
      break;
    }
    case E_IF: /* the value of the branch taken (the circuit selects obliviously) */
      if (eval(I, e->a, &a)) break;
      r = eval(I, at(&a, 0) ? e->b : e->c, out);
      break;
    case E_LETIN:
      if (eval(I, e->a, &a) || bind(I, e->sym, &a)) break;
      r = eval(I, e->b, out);
      break;
    case E_INDEX: {
      if (eval(I, e->a, &a) || eval(I, e->b, &b)) break;
      int64_t i = at(&b, 0);
      if (i < 0 || i >= (int64_t)a.n) {
        fail(I, CX_E_INTERNAL, "index out of range", e);
        break;
      }
      r = scalar(I, out, at(&a, (uint32_t)i));
      break;
    }
    case E_CALL: return eval_call(I, e, out);
    case E_ARRAY:
      if (iv_make(I, out, e->nitems)) break;
      r = 0;
      for (uint32_t i = 0; i < e->nitems && !r; i++) {
        iv x;
        if (eval(I, e->items[i], &x))
          r = -1;
        else
          iv_set(out, i, at(&x, 0));
        iv_free(&x);
      }
      break;
    case E_COMPR: return eval_compr(I, e, out);
    default: fail(I, CX_E_INTERNAL, "unknown expression", e); break;
  }
  iv_free(&a);
  iv_free(&b);
  if (r) iv_free(out);
  return r;
}

/* ---- statements --------------------------------------------------------------- */

static int run_block(interp *I, lang_stmt *const *v, uint32_t n);

static int run_output(interp *I, const lang_stmt *s, const iv *x) {
  const lang_sym *y = &I->a->syms[s->sym];
  const ir_port *p = &I->ir->ports[y->port];
  for (uint32_t i = 0; i < x->n; i++) {
    int64_t v = at(x, i);
    if (v < p->lo || v > p->hi) return fail(I, CX_E_INTERNAL, "output outside its declared range", s->e);
    I->out[p->first + i] = v;
  }
  return 0;
}

static int run_stmt(interp *I, const lang_stmt *s) {
  iv x = {0};
  switch (s->kind) {
    case S_LET:
    case S_VAR:
      if (eval(I, s->e, &x)) return -1;
      return bind(I, s->sym, &x);
    case S_ASSIGN:
      if (eval(I, s->e, &x)) return -1;
      if (I->a->syms[s->sym].kind == SY_OUTPUT && run_output(I, s, &x)) {
        iv_free(&x);
        return -1;
      }
      return bind(I, s->sym, &x);
    case S_FOR:
      if (s->hi) {
        for (int64_t i = s->rlo; i < s->rhi; i++) {
          iv c = {.n = 1, .one = i};
          if (bind(I, s->sym, &c) || run_block(I, s->body, s->nbody)) return -1;
        }
        return 0;
      }
      if (eval(I, s->e, &x) || iv_own(I, &x)) {
        iv_free(&x);
        return -1;
      }
      for (uint32_t i = 0; i < x.n; i++) {
        iv c = {.n = 1, .one = at(&x, i)};
        if (bind(I, s->sym, &c) || run_block(I, s->body, s->nbody)) {
          iv_free(&x);
          return -1;
        }
      }
      iv_free(&x);
      return 0;
    case S_IF: {
      if (eval(I, s->e, &x)) return -1;
      int64_t c = at(&x, 0);
      iv_free(&x);
      return c ? run_block(I, s->body, s->nbody) : run_block(I, s->els, s->nels);
    }
    default: return fail(I, CX_E_INTERNAL, "unknown statement", s->e);
  }
}

static int run_block(interp *I, lang_stmt *const *v, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (run_stmt(I, v[i])) return -1;
  return 0;
}

cx_err lang_interp(const struct lang_ast *ast, const ir_circuit *ir, const int64_t *in, const int64_t *param,
                   const int64_t *arg, int64_t *out, char *err, size_t errlen) {
  interp I = {
      .a = ast, .ir = ir, .in = in, .param = param, .arg = arg, .out = out, .err = err, .errlen = errlen};
  I.env = calloc(ast->nsyms ? ast->nsyms : 1, sizeof *I.env);
  I.bound = calloc(ast->nsyms ? ast->nsyms : 1, 1);
  if (!I.env || !I.bound) {
    I.rc = cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  } else if (run_block(&I, ast->body, ast->nbody) && !I.rc) {
    I.rc = cx_errf(err, errlen, CX_E_INTERNAL, "reference interpreter failed");
  }
  for (uint32_t i = 0; I.env && i < ast->nsyms; i++) iv_free(&I.env[i]);
  free(I.env);
  free(I.bound);
  return I.rc;
}
