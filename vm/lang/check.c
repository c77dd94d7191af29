/* The checker of the secret-contract language (docs/contract-language.md
 * §1-§5, §8). Two walks over the tree, then nothing is left to check but
 * what only unrolling can tell (lower.c: overflow, indexes and divisors
 * computed from loop counters, the node limit).
 *
 * Walk 1 (in source order): names and scopes, types, compile-time
 * constants, outputs, limits. Loop ranges, array sizes and const values
 * must be *static*: computed from literals, consts and len() alone, so
 * every type (array lengths included) and the iteration count are known
 * without unrolling. The walk also records how values flow: each symbol
 * lists the symbols its value is computed from (deps), and a var assigned
 * inside an `if` depends on that `if`'s condition (an implicit flow).
 *
 * Solve: classes (CONST < PUBLIC < SECRET, ast.h) propagate along the
 * deps to a fixed point, in time linear in the number of deps. Vars are
 * flow-insensitive: a var is as secret as the most secret value it is ever
 * assigned.
 *
 * Walk 2: the class of every expression; indexes and divisors must be
 * CONST (values known when the loops are unrolled) and statement `if`
 * conditions not SECRET (§4). Errors name a secret the value depends on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"

#define NBUCKETS 4096u

typedef struct {
  uint32_t cond;     /* SY_COND symbol */
  uint32_t symstart; /* symbols below this were declared outside the `if` */
  uint32_t *asg;     /* vars assigned inside (with repeats) */
  uint32_t nasg, cap;
} ifframe;

typedef struct {
  struct lang_ast *a;
  const char *src;
  size_t len;
  lang_diag *diag;
  cx_err err;
  uint32_t bucket[NBUCKETS]; /* name table: chains through lang_sym.shadow */
  uint32_t *scope;           /* visible symbols in declaration order */
  uint32_t nscope, capscope;
  ifframe *ifs;
  uint32_t nifs, capifs;
  uint64_t mult, iters; /* product of enclosing trip counts; iterations so far */
  uint32_t depth;       /* statement nesting (0: top level) */
} checker;

static const char *const builtin_names[] = {NULL, "sum", "min", "max", "count", "any", "all", "len"};

int lang_builtin_of(const char *s) {
  for (int i = F_SUM; i <= F_LEN; i++)
    if (strcmp(s, builtin_names[i]) == 0) return i;
  return 0;
}

/* err_at(c, code, line, col, fmt, ...): the checker's first error wins. */
#define err_at(c, ...) lang_fail(&(c)->err, (c)->diag, __VA_ARGS__)

static int oom(checker *c) { return err_at(c, CX_E_NOMEM, 0, 0, "out of memory"); }

/* The start of e (for errors about a whole expression). */
static void start_of(const checker *c, const lang_expr *e, uint32_t *line, uint32_t *col) {
  lang_pos(c->src, c->len, e->off, line, col);
}

static const char *type_name(uint8_t base, uint32_t len, char *buf, size_t n) {
  const char *b = base == IR_T_BOOL ? "bool" : "int";
  if (len)
    snprintf(buf, n, "%s[%u]", b, len);
  else
    snprintf(buf, n, "%s", b);
  return buf;
}

/* ---- symbols and scopes ---------------------------------------------------- */

static uint32_t hash_name(const char *s) {
  uint32_t h = 2166136261u; /* FNV-1a: deterministic, no seed */
  while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;
  return h & (NBUCKETS - 1);
}

static uint32_t lookup(const checker *c, const char *name) {
  for (uint32_t s = c->bucket[hash_name(name)]; s != LANG_NONE; s = c->a->syms[s].shadow)
    if (strcmp(c->a->syms[s].name, name) == 0) return s;
  return LANG_NONE;
}

static uint32_t sym_new(checker *c, uint8_t kind, const char *name, uint32_t line, uint32_t col) {
  struct lang_ast *a = c->a;
  if (a->nsyms == a->capsyms) {
    uint32_t cap = a->capsyms ? a->capsyms * 2 : 64;
    lang_sym *v = realloc(a->syms, cap * sizeof *v);
    if (!v) return oom(c), LANG_NONE;
    a->syms = v;
    a->capsyms = cap;
  }
  lang_sym *s = &a->syms[a->nsyms];
  memset(s, 0, sizeof *s);
  s->kind = kind;
  s->name = name;
  s->line = line;
  s->col = col;
  s->base = IR_T_INT;
  s->port = LANG_NONE;
  s->witness = LANG_NONE;
  s->shadow = LANG_NONE;
  return a->nsyms++;
}

static int dep_add(checker *c, uint32_t from, uint32_t to) {
  if (from == LANG_NONE || to == LANG_NONE || from == to) return 0;
  lang_sym *s = &c->a->syms[from];
  if (s->ndeps && s->deps[s->ndeps - 1] == to) return 0;
  if (s->ndeps == s->capdeps) {
    uint32_t cap = s->capdeps ? s->capdeps * 2 : 4;
    uint32_t *v = realloc(s->deps, cap * sizeof *v);
    if (!v) return oom(c);
    s->deps = v;
    s->capdeps = cap;
  }
  s->deps[s->ndeps++] = to;
  return 0;
}

static int is_lower_ident(const char *s, size_t n) {
  if (n == 0 || !(s[0] >= 'a' && s[0] <= 'z')) return 0;
  for (size_t i = 1; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
  return 1;
}

/* Names that may not be declared: builtins and dotted names (except
 * inputs, checked by the caller), and names already visible (a name is
 * declared once: no shadowing, §1). */
static int name_ok(checker *c, const char *name, uint32_t line, uint32_t col, int dotted_ok) {
  if (!dotted_ok && strchr(name, '.'))
    return err_at(c, CX_E_LANG_NAME, line, col, "`%s`: only inputs have a dotted name (domain.field)", name);
  if (lang_builtin_of(name))
    return err_at(c, CX_E_LANG_NAME, line, col, "`%s` is a builtin function and cannot be a name", name);
  uint32_t s = lookup(c, name);
  if (s != LANG_NONE)
    return err_at(c, CX_E_LANG_NAME, line, col, "`%s` is already declared at %u:%u", name, c->a->syms[s].line,
                  c->a->syms[s].col);
  return 0;
}

static int bind(checker *c, uint32_t s) {
  if (c->nscope == c->capscope) {
    uint32_t cap = c->capscope ? c->capscope * 2 : 64;
    uint32_t *v = realloc(c->scope, cap * sizeof *v);
    if (!v) return oom(c);
    c->scope = v;
    c->capscope = cap;
  }
  c->scope[c->nscope++] = s;
  uint32_t h = hash_name(c->a->syms[s].name);
  c->a->syms[s].shadow = c->bucket[h];
  c->bucket[h] = s;
  return 0;
}

/* Leaves the scopes opened since the scope stack had `mark` entries. The
 * symbols removed are always at the head of their chain: later bindings
 * of the same bucket belong to the same or inner scopes, removed first. */
static void unbind_to(checker *c, uint32_t mark) {
  while (c->nscope > mark) {
    uint32_t s = c->scope[--c->nscope];
    uint32_t h = hash_name(c->a->syms[s].name);
    CX_ASSERT(c->bucket[h] == s);
    c->bucket[h] = c->a->syms[s].shadow;
  }
}

/* ---- static values ---------------------------------------------------------- */

static const char *const kind_names[] = {
    NULL,        "a const", "an input", "a param",         "an arg",
    "an output", "a let",   "a var",    "a loop variable", "a condition"};

/* Explains why e is not static: the first name in it that is not a const,
 * and a secret that name depends on (a search over the deps recorded so
 * far), for a message at the position of e. */
static const lang_expr *first_nonconst(const checker *c, const lang_expr *e) {
  if (!e) return NULL;
  if (e->kind == E_NAME) return e->sym != LANG_NONE && c->a->syms[e->sym].kind != SY_CONST ? e : NULL;
  if (e->kind == E_CALL && e->op == F_LEN) return NULL;
  const lang_expr *r;
  if ((r = first_nonconst(c, e->a)) || (r = first_nonconst(c, e->b)) || (r = first_nonconst(c, e->c)))
    return r;
  for (uint32_t i = 0; i < e->nitems; i++)
    if ((r = first_nonconst(c, e->items[i]))) return r;
  return NULL;
}

static uint32_t find_secret(checker *c, uint32_t from) {
  uint32_t n = c->a->nsyms, found = LANG_NONE;
  uint8_t *seen = calloc(n ? n : 1, 1);
  uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
  if (!seen || !stack) {
    free(seen);
    free(stack);
    return LANG_NONE;
  }
  uint32_t sp = 0;
  stack[sp++] = from;
  seen[from] = 1;
  while (sp && found == LANG_NONE) {
    const lang_sym *s = &c->a->syms[stack[--sp]];
    if (s->kind == SY_INPUT || s->kind == SY_PARAM) {
      found = (uint32_t)(s - c->a->syms);
      break;
    }
    for (uint32_t i = 0; i < s->ndeps; i++)
      if (!seen[s->deps[i]]) {
        seen[s->deps[i]] = 1;
        stack[sp++] = s->deps[i];
      }
  }
  free(seen);
  free(stack);
  return found;
}

/* `what` starts with a lower-case article ("the range of this `for`"). */
static int need_static(checker *c, const lang_expr *e, const char *what) {
  if (e->is_static) return 0;
  uint32_t line, col;
  start_of(c, e, &line, &col);
  const lang_expr *n = first_nonconst(c, e);
  if (n && strcmp(what, "a const") == 0) /* §1: literals and earlier consts only; a matter of names */
    return err_at(c, CX_E_LANG_NAME, line, col,
                  "a const may use only literals and earlier consts: `%s` is %s", n->name,
                  kind_names[c->a->syms[n->sym].kind]);
  if (!n) return err_at(c, CX_E_LANG_SECRECY, line, col, "%s must be a compile-time constant", what);
  uint32_t sec = find_secret(c, n->sym);
  if (sec != LANG_NONE)
    return err_at(c, CX_E_LANG_SECRECY, line, col, "control flow on a secret: %s depends on `%s`", what,
                  c->a->syms[sec].name);
  return err_at(c, CX_E_LANG_SECRECY, line, col,
                "%s must be a compile-time constant (literals, consts, len): `%s` is %s", what, n->name,
                kind_names[c->a->syms[n->sym].kind]);
}

static int need_static_int(checker *c, const lang_expr *e, const char *what) {
  if (e->base != IR_T_INT || e->len) {
    char t[32];
    uint32_t line, col;
    start_of(c, e, &line, &col);
    return err_at(c, CX_E_LANG_TYPE, line, col, "%s must be an int, not %s", what,
                  type_name(e->base, e->len, t, sizeof t));
  }
  return need_static(c, e, what);
}

/* Sets e's static value v, or refuses a value outside int64. */
static int set_static(checker *c, lang_expr *e, __int128 v) {
  if (v < INT64_MIN || v > INT64_MAX) {
    char text[80], num[48];
    lang_expr_text(c->src, c->len, e, text, sizeof text, 60);
    lang_i128_str(v, num);
    return err_at(c, CX_E_LANG_RANGE, e->line, e->col, "`%s` overflows int64 (value %s)", text, num);
  }
  e->is_static = 1;
  e->ival = (int64_t)v;
  return 0;
}

/* ---- walk 1: expressions ---------------------------------------------------- */

static int check_expr(checker *c, lang_expr *e, uint32_t sink);
static int check_block(checker *c, lang_stmt **v, uint32_t n);

/* The elementwise rule of §3: scalar with scalar, array with scalar, or
 * arrays of equal length. */
static int elementwise(checker *c, const lang_expr *e, uint32_t *len) {
  uint32_t la = e->a->len, lb = e->b->len;
  if (la && lb && la != lb)
    return err_at(c, CX_E_LANG_TYPE, e->line, e->col, "arrays of unequal length (%u and %u)", la, lb);
  *len = la ? la : lb;
  return 0;
}

static const char *const binop_text[] = {NULL, "+", "-",  "*",  "/",  "%",  "<",
                                         "<=", ">", ">=", "==", "!=", "&&", "||"};

static int want(checker *c, const lang_expr *op, const lang_expr *x, uint8_t base, const char *what) {
  if (x->base == base) return 0;
  char t[32];
  return err_at(c, CX_E_LANG_TYPE, op->line, op->col, "%s needs %s operands, found %s", what,
                base == IR_T_BOOL ? "bool" : "int", type_name(x->base, x->len, t, sizeof t));
}

static int want_scalar(checker *c, const lang_expr *x, uint8_t base, const char *what) {
  if (x->base == base && !x->len) return 0;
  char t[32];
  uint32_t line, col;
  start_of(c, x, &line, &col);
  return err_at(c, CX_E_LANG_TYPE, line, col, "%s must be %s, found %s", what,
                base == IR_T_BOOL ? "bool" : "an int", type_name(x->base, x->len, t, sizeof t));
}

static int count_iters(checker *c, uint64_t trip, uint32_t line, uint32_t col) {
  unsigned __int128 add = (unsigned __int128)trip * c->mult;
  if (add > LANG_ITER_MAX || c->iters + (uint64_t)add > LANG_ITER_MAX)
    return err_at(c, CX_E_LANG_LIMIT, line, col, "more than %u loop iterations in all", LANG_ITER_MAX);
  c->iters += (uint64_t)add;
  return 0;
}

static int check_bin(checker *c, lang_expr *e) {
  lang_expr *a = e->a, *b = e->b;
  char s[8];
  snprintf(s, sizeof s, "`%s`", binop_text[e->op]);
  uint32_t len = 0;
  switch (e->op) {
    case B_ADD:
    case B_SUB:
    case B_MUL:
      if (want(c, e, a, IR_T_INT, s) || want(c, e, b, IR_T_INT, s) || elementwise(c, e, &len)) return -1;
      e->base = IR_T_INT;
      e->len = len;
      if (a->is_static && b->is_static && !len) {
        __int128 x = a->ival, y = b->ival;
        return set_static(c, e, e->op == B_ADD ? x + y : e->op == B_SUB ? x - y : x * y);
      }
      return 0;
    case B_DIV:
    case B_MOD:
      if (want(c, e, a, IR_T_INT, s)) return -1;
      if (want_scalar(c, b, IR_T_INT, "a divisor")) return -1;
      e->base = IR_T_INT;
      e->len = a->len;
      if (b->is_static) {
        if (b->ival < 1) {
          uint32_t line, col;
          start_of(c, b, &line, &col);
          return err_at(c, CX_E_LANG_TYPE, line, col, "the divisor must be at least 1, not %lld",
                        (long long)b->ival);
        }
        if (a->is_static && !a->len) {
          int64_t q = ir_floordiv(a->ival, b->ival);
          return set_static(c, e, e->op == B_DIV ? q : a->ival - (__int128)q * b->ival);
        }
      }
      return 0;
    case B_LT:
    case B_LE:
    case B_GT:
    case B_GE:
      if (want(c, e, a, IR_T_INT, s) || want(c, e, b, IR_T_INT, s) || elementwise(c, e, &len)) return -1;
      e->base = IR_T_BOOL;
      e->len = len;
      if (a->is_static && b->is_static && !len) {
        int64_t x = a->ival, y = b->ival;
        int r = e->op == B_LT ? x < y : e->op == B_LE ? x <= y : e->op == B_GT ? x > y : x >= y;
        return set_static(c, e, r);
      }
      return 0;
    case B_EQ:
    case B_NE:
      if (a->base != b->base) {
        char t1[32], t2[32];
        return err_at(c, CX_E_LANG_TYPE, e->line, e->col, "%s compares values of one type, found %s and %s",
                      s, type_name(a->base, a->len, t1, sizeof t1),
                      type_name(b->base, b->len, t2, sizeof t2));
      }
      if (elementwise(c, e, &len)) return -1;
      e->base = IR_T_BOOL;
      e->len = len;
      if (a->is_static && b->is_static && !len)
        return set_static(c, e, (a->ival == b->ival) == (e->op == B_EQ));
      return 0;
    case B_AND:
    case B_OR:
      if (want(c, e, a, IR_T_BOOL, s) || want(c, e, b, IR_T_BOOL, s) || elementwise(c, e, &len)) return -1;
      e->base = IR_T_BOOL;
      e->len = len;
      if (a->is_static && b->is_static && !len)
        return set_static(c, e, e->op == B_AND ? (a->ival && b->ival) : (a->ival || b->ival));
      return 0;
    default: return err_at(c, CX_E_INTERNAL, e->line, e->col, "unknown operator");
  }
}

static int check_call(checker *c, lang_expr *e, uint32_t sink) {
  int f = lang_builtin_of(e->name);
  if (!f) return err_at(c, CX_E_LANG_NAME, e->line, e->col, "unknown function `%s`", e->name);
  e->op = (uint8_t)f;
  uint32_t n = e->nitems;
  if (!(n == 1 || (n == 2 && (f == F_MIN || f == F_MAX))))
    return err_at(c, CX_E_LANG_TYPE, e->line, e->col, "`%s` takes %s, not %u", e->name,
                  f == F_MIN || f == F_MAX ? "1 or 2 arguments" : "1 argument", n);
  for (uint32_t i = 0; i < n; i++) /* len only reads the length: nothing flows */
    if (check_expr(c, e->items[i], f == F_LEN ? LANG_NONE : sink)) return -1;
  lang_expr *x = e->items[0];
  char t[32];
  if (n == 2) {
    for (uint32_t i = 0; i < 2; i++)
      if (want_scalar(c, e->items[i], IR_T_INT, i ? "the second argument" : "the first argument")) return -1;
    e->base = IR_T_INT;
    if (e->items[0]->is_static && e->items[1]->is_static) {
      int64_t p = e->items[0]->ival, q = e->items[1]->ival;
      return set_static(c, e, f == F_MIN ? (p < q ? p : q) : (p < q ? q : p));
    }
    return 0;
  }
  if (!x->len)
    return err_at(c, CX_E_LANG_TYPE, e->line, e->col, "`%s` takes an array, found %s", e->name,
                  type_name(x->base, x->len, t, sizeof t));
  switch (f) {
    case F_SUM:
    case F_MIN:
    case F_MAX:
      if (x->base != IR_T_INT)
        return err_at(c, CX_E_LANG_TYPE, e->line, e->col, "`%s` takes an int array, found %s", e->name,
                      type_name(x->base, x->len, t, sizeof t));
      e->base = IR_T_INT;
      return 0;
    case F_COUNT:
    case F_ANY:
    case F_ALL:
      if (x->base != IR_T_BOOL)
        return err_at(c, CX_E_LANG_TYPE, e->line, e->col, "`%s` takes a bool array, found %s", e->name,
                      type_name(x->base, x->len, t, sizeof t));
      e->base = f == F_COUNT ? IR_T_INT : IR_T_BOOL;
      return 0;
    default: /* F_LEN */ e->base = IR_T_INT; return set_static(c, e, x->len);
  }
}

/* The head of a loop (`for` or comprehension) over loop symbol x: over
 * lo..hi (static ints: *rlo, *rhi) or, hi NULL, over the array lo. Sets
 * *trip, its iterations. `loop` and `range` name it in messages. */
static int check_loop_head(checker *c, uint32_t x, lang_expr *lo, lang_expr *hi, int64_t *rlo, int64_t *rhi,
                           const char *loop, const char *range, uint64_t *trip) {
  if (hi) {
    if (check_expr(c, lo, LANG_NONE) || check_expr(c, hi, LANG_NONE)) return -1;
    if (need_static_int(c, lo, range) || need_static_int(c, hi, range)) return -1;
    *rlo = lo->ival;
    *rhi = hi->ival;
    __int128 d = (__int128)*rhi - *rlo;
    *trip = d > 0 ? (d > (__int128)UINT32_MAX ? UINT32_MAX : (uint64_t)d) : 0;
    return 0;
  }
  if (check_expr(c, lo, x)) return -1;
  if (!lo->len) {
    char t[32];
    uint32_t line, col;
    start_of(c, lo, &line, &col);
    return err_at(c, CX_E_LANG_TYPE, line, col, "%s runs over a range A..B or an array, not %s", loop,
                  type_name(lo->base, 0, t, sizeof t));
  }
  c->a->syms[x].base = lo->base;
  *trip = lo->len;
  return 0;
}

static int check_compr(checker *c, lang_expr *e, uint32_t sink) {
  uint64_t trip;
  uint32_t x = sym_new(c, SY_LOOP, e->name, e->line, e->col);
  if (x == LANG_NONE) return -1;
  e->sym = x;
  const char *range = "the range of this comprehension";
  if (check_loop_head(c, x, e->b, e->c, &e->rlo, &e->rhi, "a comprehension", range, &trip)) return -1;
  if (trip < 1 || trip > LANG_ARRAY_MAX)
    return err_at(c, trip < 1 ? CX_E_LANG_TYPE : CX_E_LANG_LIMIT, e->line, e->col,
                  "a comprehension makes 1 to %u elements, not %llu", LANG_ARRAY_MAX,
                  (unsigned long long)trip);
  if (count_iters(c, trip, e->line, e->col)) return -1;
  uint32_t mark = c->nscope;
  if (name_ok(c, e->name, e->line, e->col, 0) || bind(c, x)) return -1;
  uint64_t mult = c->mult;
  c->mult = mult * trip;
  int r = check_expr(c, e->a, sink);
  c->mult = mult;
  unbind_to(c, mark);
  if (r) return -1;
  if (e->a->len)
    return err_at(c, CX_E_LANG_TYPE, e->line, e->col,
                  "arrays are one-dimensional: a comprehension makes scalars");
  e->base = e->a->base;
  e->len = (uint32_t)trip;
  return 0;
}

static int check_expr(checker *c, lang_expr *e, uint32_t sink) {
  char t1[32], t2[32];
  uint32_t line, col;
  switch (e->kind) {
    case E_INT:
      e->base = IR_T_INT;
      e->is_static = 1;
      return 0;
    case E_BOOL:
      e->base = IR_T_BOOL;
      e->is_static = 1;
      return 0;
    case E_NAME: {
      uint32_t s = lookup(c, e->name);
      if (s == LANG_NONE) return err_at(c, CX_E_LANG_NAME, e->line, e->col, "unknown name `%s`", e->name);
      const lang_sym *y = &c->a->syms[s];
      if (y->kind == SY_OUTPUT && !y->assigned)
        return err_at(c, CX_E_LANG_NAME, e->line, e->col, "output `%s` is read before it is assigned",
                      e->name);
      e->sym = s;
      e->base = y->base;
      e->len = y->len;
      if (y->kind == SY_CONST) {
        e->is_static = 1;
        e->ival = y->lo;
      }
      return dep_add(c, sink, s);
    }
    case E_NEG:
      if (check_expr(c, e->a, sink) || want(c, e, e->a, IR_T_INT, "unary `-`")) return -1;
      e->base = IR_T_INT;
      e->len = e->a->len;
      return e->a->is_static && !e->len ? set_static(c, e, -(__int128)e->a->ival) : 0;
    case E_NOT:
      if (check_expr(c, e->a, sink) || want(c, e, e->a, IR_T_BOOL, "`!`")) return -1;
      e->base = IR_T_BOOL;
      e->len = e->a->len;
      return e->a->is_static && !e->len ? set_static(c, e, !e->a->ival) : 0;
    case E_BIN:
      if (check_expr(c, e->a, sink) || check_expr(c, e->b, sink)) return -1;
      return check_bin(c, e);
    case E_IN:
      if (check_expr(c, e->a, sink) || check_expr(c, e->b, sink)) return -1;
      if (e->a->base != IR_T_INT || e->a->len || e->b->base != IR_T_INT || !e->b->len)
        return err_at(c, CX_E_LANG_TYPE, e->line, e->col,
                      "`%s` tests an int in an int array, found %s and %s", e->op ? "not in" : "in",
                      type_name(e->a->base, e->a->len, t1, sizeof t1),
                      type_name(e->b->base, e->b->len, t2, sizeof t2));
      e->base = IR_T_BOOL;
      return 0;
    case E_IF:
      if (check_expr(c, e->a, sink) || check_expr(c, e->b, sink) || check_expr(c, e->c, sink)) return -1;
      if (want_scalar(c, e->a, IR_T_BOOL, "the condition of `if`")) return -1;
      if (e->b->base != e->c->base || e->b->len != e->c->len)
        return err_at(
            c, CX_E_LANG_TYPE, e->line, e->col, "the branches of `if` have different types: %s and %s",
            type_name(e->b->base, e->b->len, t1, sizeof t1), type_name(e->c->base, e->c->len, t2, sizeof t2));
      e->base = e->b->base;
      e->len = e->b->len;
      if (e->a->is_static && e->b->is_static && e->c->is_static && !e->len)
        return set_static(c, e, e->a->ival ? e->b->ival : e->c->ival);
      return 0;
    case E_LETIN: {
      uint32_t y = sym_new(c, SY_LET, e->name, e->line, e->col);
      if (y == LANG_NONE) return -1;
      e->sym = y;
      if (check_expr(c, e->a, y)) return -1;
      c->a->syms[y].base = e->a->base;
      c->a->syms[y].len = e->a->len;
      uint32_t mark = c->nscope;
      if (name_ok(c, e->name, e->line, e->col, 0) || bind(c, y)) return -1;
      int r = check_expr(c, e->b, sink);
      unbind_to(c, mark);
      if (r) return -1;
      e->base = e->b->base;
      e->len = e->b->len;
      return 0;
    }
    case E_INDEX:
      if (check_expr(c, e->a, sink) || check_expr(c, e->b, sink)) return -1;
      if (!e->a->len)
        return err_at(c, CX_E_LANG_TYPE, e->line, e->col, "only an array can be indexed, not %s",
                      type_name(e->a->base, 0, t1, sizeof t1));
      if (want_scalar(c, e->b, IR_T_INT, "an index")) return -1;
      e->base = e->a->base;
      if (e->b->is_static && (e->b->ival < 0 || e->b->ival >= (int64_t)e->a->len)) {
        start_of(c, e->b, &line, &col);
        return err_at(c, CX_E_LANG_TYPE, line, col, "index %lld is out of range for an array of %u elements",
                      (long long)e->b->ival, e->a->len);
      }
      return 0;
    case E_CALL: return check_call(c, e, sink);
    case E_ARRAY:
      if (!e->nitems)
        return err_at(c, CX_E_LANG_TYPE, e->line, e->col, "an array literal needs at least one element");
      if (e->nitems > LANG_ARRAY_MAX)
        return err_at(c, CX_E_LANG_LIMIT, e->line, e->col, "an array has at most %u elements, not %u",
                      LANG_ARRAY_MAX, e->nitems);
      for (uint32_t i = 0; i < e->nitems; i++) {
        lang_expr *x = e->items[i];
        if (check_expr(c, x, sink)) return -1;
        start_of(c, x, &line, &col);
        if (x->len)
          return err_at(c, CX_E_LANG_TYPE, line, col,
                        "arrays are one-dimensional: an element must be a scalar");
        if (x->base != e->items[0]->base)
          return err_at(c, CX_E_LANG_TYPE, line, col, "array elements have one type: %s after %s",
                        type_name(x->base, 0, t1, sizeof t1), type_name(e->items[0]->base, 0, t2, sizeof t2));
      }
      e->base = e->items[0]->base;
      e->len = e->nitems;
      return 0;
    case E_COMPR: return check_compr(c, e, sink);
    default: return err_at(c, CX_E_INTERNAL, e->line, e->col, "unknown expression");
  }
}

/* ---- walk 1: statements ------------------------------------------------------ */

static int frame_add(checker *c, ifframe *f, uint32_t v) {
  if (f->nasg == f->cap) {
    uint32_t cap = f->cap ? f->cap * 2 : 8;
    uint32_t *p = realloc(f->asg, cap * sizeof *p);
    if (!p) return oom(c);
    f->asg = p;
    f->cap = cap;
  }
  f->asg[f->nasg++] = v;
  return 0;
}

static int cmp_u32(const void *x, const void *y) {
  uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
  return a < b ? -1 : a > b;
}

static int check_assign(checker *c, lang_stmt *s) {
  uint32_t v = lookup(c, s->name);
  if (v == LANG_NONE) return err_at(c, CX_E_LANG_NAME, s->nline, s->ncol, "unknown name `%s`", s->name);
  s->sym = v;
  uint8_t kind = c->a->syms[v].kind;
  if (kind == SY_LET)
    return err_at(c, CX_E_LANG_NAME, s->nline, s->ncol,
                  "cannot assign to `%s`: it is a let (declare it with var)", s->name);
  if (kind != SY_VAR && kind != SY_OUTPUT)
    return err_at(c, CX_E_LANG_NAME, s->nline, s->ncol, "cannot assign to `%s`: it is %s", s->name,
                  kind_names[kind]);
  if (kind == SY_OUTPUT) {
    const lang_sym *y = &c->a->syms[v];
    if (c->depth)
      return err_at(c, CX_E_LANG_NAME, s->nline, s->ncol,
                    "output `%s` must be assigned at the top level, not inside `for` or `if`", s->name);
    if (y->assigned)
      return err_at(c, CX_E_LANG_NAME, s->nline, s->ncol, "output `%s` is assigned twice (first at %u:%u)",
                    s->name, y->aline, y->acol);
  }
  if (check_expr(c, s->e, v)) return -1;
  lang_sym *y = &c->a->syms[v];
  if (s->e->base != y->base || s->e->len != y->len) {
    char t1[32], t2[32];
    uint32_t line, col;
    start_of(c, s->e, &line, &col);
    return err_at(c, CX_E_LANG_TYPE, line, col, "`%s` is %s, cannot assign %s", s->name,
                  type_name(y->base, y->len, t1, sizeof t1), type_name(s->e->base, s->e->len, t2, sizeof t2));
  }
  if (kind == SY_OUTPUT) {
    y->assigned = 1;
    y->aline = s->nline;
    y->acol = s->ncol;
    return 0;
  }
  /* implicit flows: the var now also depends on every enclosing condition */
  for (uint32_t i = 0; i < c->nifs; i++) {
    ifframe *f = &c->ifs[i];
    if (v < f->symstart && (dep_add(c, v, f->cond) || frame_add(c, f, v))) return -1;
  }
  return 0;
}

static int check_for(checker *c, lang_stmt *s) {
  uint64_t trip;
  uint32_t x = sym_new(c, SY_LOOP, s->name, s->nline, s->ncol);
  if (x == LANG_NONE) return -1;
  s->sym = x;
  if (check_loop_head(c, x, s->e, s->hi, &s->rlo, &s->rhi, "`for`", "the range of this `for`", &trip))
    return -1;
  if (count_iters(c, trip, s->line, s->col)) return -1;
  uint32_t mark = c->nscope;
  if (name_ok(c, s->name, s->nline, s->ncol, 0) || bind(c, x)) return -1;
  uint64_t mult = c->mult;
  c->mult = mult * trip;
  c->depth++;
  int r = check_block(c, s->body, s->nbody);
  c->depth--;
  c->mult = mult;
  unbind_to(c, mark);
  return r;
}

static int check_if(checker *c, lang_stmt *s) {
  uint32_t cond = sym_new(c, SY_COND, "", s->line, s->col);
  if (cond == LANG_NONE) return -1;
  s->cond_sym = cond;
  if (check_expr(c, s->e, cond) || want_scalar(c, s->e, IR_T_BOOL, "the condition of `if`")) return -1;
  if (c->nifs == c->capifs) {
    uint32_t cap = c->capifs ? c->capifs * 2 : 8;
    ifframe *v = realloc(c->ifs, cap * sizeof *v);
    if (!v) return oom(c);
    c->ifs = v;
    c->capifs = cap;
  }
  ifframe *f = &c->ifs[c->nifs++];
  memset(f, 0, sizeof *f);
  f->cond = cond;
  f->symstart = c->a->nsyms;
  c->depth++;
  uint32_t mark = c->nscope;
  int r = check_block(c, s->body, s->nbody);
  unbind_to(c, mark);
  if (!r) r = check_block(c, s->els, s->nels);
  unbind_to(c, mark);
  c->depth--;
  f = &c->ifs[--c->nifs];
  if (!r && f->nasg) {
    qsort(f->asg, f->nasg, sizeof *f->asg, cmp_u32);
    uint32_t n = 0;
    for (uint32_t i = 0; i < f->nasg; i++)
      if (!n || f->asg[i] != f->asg[n - 1]) f->asg[n++] = f->asg[i];
    s->assigned = lang_alloc(c->a, n * sizeof *s->assigned);
    if (!s->assigned)
      r = oom(c);
    else
      memcpy(s->assigned, f->asg, n * sizeof *s->assigned);
    s->nassigned = n;
  }
  free(f->asg);
  return r;
}

static int check_stmt(checker *c, lang_stmt *s) {
  switch (s->kind) {
    case S_LET:
    case S_VAR: {
      uint32_t y = sym_new(c, s->kind == S_LET ? SY_LET : SY_VAR, s->name, s->nline, s->ncol);
      if (y == LANG_NONE) return -1;
      s->sym = y;
      if (check_expr(c, s->e, y)) return -1;
      c->a->syms[y].base = s->e->base;
      c->a->syms[y].len = s->e->len;
      if (name_ok(c, s->name, s->nline, s->ncol, 0)) return -1;
      return bind(c, y);
    }
    case S_ASSIGN: return check_assign(c, s);
    case S_FOR: return check_for(c, s);
    case S_IF: return check_if(c, s);
    default: return err_at(c, CX_E_INTERNAL, s->line, s->col, "unknown statement");
  }
}

static int check_block(checker *c, lang_stmt **v, uint32_t n) {
  uint32_t mark = c->nscope;
  for (uint32_t i = 0; i < n; i++)
    if (check_stmt(c, v[i])) return -1;
  unbind_to(c, mark);
  return 0;
}

/* ---- declarations ------------------------------------------------------------ */

static const uint8_t decl_sym[] = {0, SY_CONST, SY_INPUT, SY_PARAM, SY_ARG, SY_OUTPUT, SY_OUTPUT};
static const char *const decl_word[] = {NULL, "const", "input", "param", "arg", "output", "output"};

static int check_port_name(checker *c, const lang_decl *d) {
  const char *n = d->name, *dot = strchr(n, '.');
  if (d->kind == D_INPUT) {
    if (!dot)
      return err_at(c, CX_E_LANG_NAME, d->nline, d->ncol,
                    "an input is named DOMAIN.FIELD (e.g. hrss.age), not `%s`", n);
    if (!is_lower_ident(n, (size_t)(dot - n)) || !is_lower_ident(dot + 1, strlen(dot + 1)))
      return err_at(c, CX_E_LANG_NAME, d->nline, d->ncol,
                    "an input's domain and field are lower case ([a-z][a-z0-9_]*): `%s`", n);
    return name_ok(c, n, d->nline, d->ncol, 1);
  }
  if (name_ok(c, n, d->nline, d->ncol, 0)) return -1;
  if (d->kind != D_CONST && !is_lower_ident(n, strlen(n)))
    return err_at(c, CX_E_LANG_NAME, d->nline, d->ncol, "%s names are lower case ([a-z][a-z0-9_]*): `%s`",
                  decl_word[d->kind], n);
  return 0;
}

static int check_decl(checker *c, lang_decl *d) {
  if (check_port_name(c, d)) return -1;
  if (d->kind == D_CONST) {
    if (check_expr(c, d->value, LANG_NONE)) return -1;
    if (need_static_int(c, d->value, "a const")) return -1;
    uint32_t s = sym_new(c, SY_CONST, d->name, d->nline, d->ncol);
    if (s == LANG_NONE) return -1;
    c->a->syms[s].lo = c->a->syms[s].hi = d->value->ival;
    d->sym = s;
    return bind(c, s);
  }
  int64_t lo = INT64_MIN, hi = INT64_MAX, len = 0;
  if (d->base == IR_T_BOOL) {
    lo = 0;
    hi = 1;
  }
  if (d->lo) {
    if (check_expr(c, d->lo, LANG_NONE) || check_expr(c, d->hi, LANG_NONE)) return -1;
    if (need_static_int(c, d->lo, "a range bound") || need_static_int(c, d->hi, "a range bound")) return -1;
    lo = d->lo->ival;
    hi = d->hi->ival;
    if (lo > hi)
      return err_at(c, CX_E_LANG_RANGE, d->tline, d->tcol, "empty range int(%lld..%lld)", (long long)lo,
                    (long long)hi);
  }
  if (d->size) {
    if (check_expr(c, d->size, LANG_NONE) || need_static_int(c, d->size, "an array size")) return -1;
    len = d->size->ival;
    uint32_t line, col;
    start_of(c, d->size, &line, &col);
    if (len < 1)
      return err_at(c, CX_E_LANG_TYPE, line, col, "an array has 1 to %u elements, not %lld", LANG_ARRAY_MAX,
                    (long long)len);
    if (len > (int64_t)LANG_ARRAY_MAX)
      return err_at(c, CX_E_LANG_LIMIT, line, col, "an array has at most %u elements, not %lld",
                    LANG_ARRAY_MAX, (long long)len);
  }
  if (c->a->nports >= IR_MAX_PORTS)
    return err_at(c, CX_E_LANG_LIMIT, d->line, d->col, "more than %d inputs, params, args and outputs",
                  IR_MAX_PORTS);
  c->a->nports++;
  uint32_t s = sym_new(c, decl_sym[d->kind], d->name, d->nline, d->ncol);
  if (s == LANG_NONE) return -1;
  lang_sym *y = &c->a->syms[s];
  y->base = d->base;
  y->len = (uint32_t)len;
  y->lo = lo;
  y->hi = hi;
  d->sym = s;
  return bind(c, s);
}

/* ---- solve and walk 2 ----------------------------------------------------------- */

static int solve(checker *c) {
  struct lang_ast *a = c->a;
  uint32_t n = a->nsyms;
  uint64_t ne = 0;
  for (uint32_t i = 0; i < n; i++) ne += a->syms[i].ndeps;
  uint32_t *start = calloc((size_t)n + 1, sizeof *start);
  uint32_t *rev = malloc((ne ? ne : 1) * sizeof *rev);
  uint32_t *queue = malloc(((size_t)n * 2 + 1) * sizeof *queue);
  if (!start || !rev || !queue) {
    free(start);
    free(rev);
    free(queue);
    return oom(c);
  }
  /* reverse adjacency (CSR): who depends on symbol t */
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t k = 0; k < a->syms[i].ndeps; k++) start[a->syms[i].deps[k] + 1]++;
  for (uint32_t i = 0; i < n; i++) start[i + 1] += start[i];
  uint32_t *fill = calloc(n ? n : 1, sizeof *fill);
  if (!fill) {
    free(start);
    free(rev);
    free(queue);
    return oom(c);
  }
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t k = 0; k < a->syms[i].ndeps; k++) {
      uint32_t t = a->syms[i].deps[k];
      rev[start[t] + fill[t]++] = i;
    }
  free(fill);
  /* a symbol enters the queue each time its class rises: at most twice */
  size_t qh = 0, qt = 0;
  for (uint32_t i = 0; i < n; i++) {
    lang_sym *s = &a->syms[i];
    s->cls = CL_CONST;
    s->witness = LANG_NONE;
    if (s->kind == SY_INPUT || s->kind == SY_PARAM)
      s->cls = CL_SECRET;
    else if (s->kind == SY_ARG)
      s->cls = CL_PUBLIC;
    if (s->cls != CL_CONST) {
      s->witness = i;
      queue[qt++] = i;
    }
  }
  while (qh < qt) {
    uint32_t t = queue[qh++];
    for (uint32_t k = start[t]; k < start[t + 1]; k++) {
      lang_sym *s = &a->syms[rev[k]];
      if (s->cls < a->syms[t].cls) {
        s->cls = a->syms[t].cls;
        s->witness = a->syms[t].witness;
        queue[qt++] = rev[k];
      }
    }
  }
  free(start);
  free(rev);
  free(queue);
  return 0;
}

static void join(lang_expr *e, const lang_expr *x) {
  if (x && x->cls > e->cls) {
    e->cls = x->cls;
    e->witness = x->witness;
  }
}

/* Refuses a value that must be known when unrolling (an index, a divisor). */
static int need_const(checker *c, const lang_expr *x, const char *what_secret, const char *what) {
  if (x->cls == CL_CONST) return 0;
  uint32_t line, col;
  start_of(c, x, &line, &col);
  const char *w = x->witness != LANG_NONE ? c->a->syms[x->witness].name : "?";
  if (x->cls == CL_SECRET)
    return err_at(c, CX_E_LANG_SECRECY, line, col, "%s depends on `%s`", what_secret, w);
  return err_at(c, CX_E_LANG_SECRECY, line, col, "%s must be a compile-time constant: it depends on `%s`",
                what, w);
}

static int class_expr(checker *c, lang_expr *e) {
  if (!e) return 0;
  if (class_expr(c, e->a) || class_expr(c, e->b) || class_expr(c, e->c)) return -1;
  for (uint32_t i = 0; i < e->nitems; i++)
    if (class_expr(c, e->items[i])) return -1;
  e->cls = CL_CONST;
  e->witness = LANG_NONE;
  switch (e->kind) {
    case E_INT:
    case E_BOOL: return 0;
    case E_NAME:
      e->cls = c->a->syms[e->sym].cls;
      e->witness = c->a->syms[e->sym].witness;
      return 0;
    case E_CALL:
      if (e->op == F_LEN) return 0;
      break;
    case E_LETIN: /* the bound value reaches the body through the symbol */ join(e, e->b); return 0;
    case E_COMPR: /* so does the array a comprehension runs over */ join(e, e->a); return 0;
    case E_INDEX:
      if (need_const(c, e->b, "control flow on a secret: this index", "an index")) return -1;
      break;
    case E_BIN:
      if ((e->op == B_DIV || e->op == B_MOD) &&
          need_const(c, e->b, "division by a secret: the divisor", "a divisor"))
        return -1;
      break;
    default: break;
  }
  join(e, e->a);
  join(e, e->b);
  join(e, e->c);
  for (uint32_t i = 0; i < e->nitems; i++) join(e, e->items[i]);
  return 0;
}

static int class_block(checker *c, lang_stmt **v, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    lang_stmt *s = v[i];
    if (class_expr(c, s->e) || class_expr(c, s->hi)) return -1;
    if (s->kind == S_IF && s->e->cls == CL_SECRET) {
      uint32_t line, col;
      start_of(c, s->e, &line, &col);
      return err_at(c, CX_E_LANG_SECRECY, line, col,
                    "control flow on a secret: the condition of this `if` depends on `%s`",
                    c->a->syms[s->e->witness].name);
    }
    if (class_block(c, s->body, s->nbody) || class_block(c, s->els, s->nels)) return -1;
  }
  return 0;
}

/* ---- entry ------------------------------------------------------------------- */

static int check_all(checker *c) {
  struct lang_ast *a = c->a;
  if (strchr(a->name, '.') || !is_lower_ident(a->name, strlen(a->name)))
    return err_at(c, CX_E_LANG_NAME, a->nline, a->ncol,
                  "the contract name is lower case ([a-z][a-z0-9_]*): `%s`", a->name);
  for (uint32_t i = 0; i < a->ndecls; i++)
    if (check_decl(c, &a->decls[i])) return -1;
  /* circuit port order: kinds in ir_port_kind order, declaration order within */
  static const uint8_t order[] = {D_INPUT, D_PARAM, D_ARG, D_OUT_PUBLIC, D_OUT_PRIVATE};
  static const uint8_t kinds[] = {IR_PORT_INPUT, IR_PORT_PARAM, IR_PORT_ARG, IR_PORT_OUT_PUBLIC,
                                  IR_PORT_OUT_PRIVATE};
  uint32_t np = 0;
  for (size_t k = 0; k < sizeof order; k++)
    for (uint32_t i = 0; i < a->ndecls; i++)
      if (a->decls[i].kind == order[k]) {
        a->syms[a->decls[i].sym].port = np;
        a->syms[a->decls[i].sym].port_kind = kinds[k];
        a->port_sym[np++] = a->decls[i].sym;
      }
  CX_ASSERT(np == a->nports);

  if (check_block(c, a->body, a->nbody)) return -1;
  for (uint32_t i = 0; i < a->ndecls; i++) {
    const lang_decl *d = &a->decls[i];
    if ((d->kind == D_OUT_PUBLIC || d->kind == D_OUT_PRIVATE) && !a->syms[d->sym].assigned)
      return err_at(c, CX_E_LANG_NAME, d->nline, d->ncol, "output `%s` is never assigned", d->name);
  }
  if (solve(c)) return -1;
  return class_block(c, a->body, a->nbody);
}

cx_err lang_check(struct lang_ast *a, const char *src, size_t len, lang_diag *diag) {
  checker *c = calloc(1, sizeof *c);
  if (!c) return lang_diag_set(diag, CX_E_NOMEM, 0, 0, "out of memory");
  c->a = a;
  c->src = src;
  c->len = len;
  c->diag = diag;
  c->mult = 1;
  for (uint32_t i = 0; i < NBUCKETS; i++) c->bucket[i] = LANG_NONE;
  if (check_all(c) && !c->err) c->err = lang_diag_set(diag, CX_E_INTERNAL, 0, 0, "checker failed");
  cx_err e = c->err;
  for (uint32_t i = 0; i < c->nifs; i++) free(c->ifs[i].asg);
  free(c->ifs);
  free(c->scope);
  free(c);
  return e;
}
