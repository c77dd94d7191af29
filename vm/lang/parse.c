/* The parser of the secret-contract language: recursive descent over the
 * grammar of docs/contract-language.md §1-§3, one function per precedence
 * level (§3 table):
 *
 *   expr    := 'if' expr 'then' expr 'else' expr | 'let' NAME '=' expr 'in' expr | or
 *   or      := and ('||' and)*            and := not ('&&' not)*
 *   not     := '!' not | cmp              cmp := add [cmpop add]   (no chaining)
 *   add     := mul (('+' | '-') mul)*     mul := unary (('*' | '/' | '%') unary)*
 *   unary   := '-' unary | postfix        postfix := primary ('[' expr ']')*
 *   primary := INT | true | false | NAME | NAME '(' args ')' | '(' expr ')'
 *            | '[' expr (',' expr)* ']' | '[' expr 'for' NAME 'in' range ']'
 *
 * The prefix forms of the low levels ('!', 'if', 'let') may also stand as
 * an operand (`a == !b`, `2 * if c then 1 else 2`): they extend as far to
 * the right as they would at their own level.
 *
 * In `let x = E1 in E2` a bare `in` inside E1 ends E1 (it is not
 * membership), unless E1 puts it inside brackets: `let y = (x in A) in y`.
 *
 * Hostile input cannot exhaust the C stack: recursion is bounded by
 * LANG_NEST_MAX and the height of every tree by LANG_DEPTH_MAX (later
 * passes recurse over the tree). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "lang_internal.h"

/* ---- arena ----------------------------------------------------------------- */

struct lang_chunk {
  lang_chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
};

#define CHUNK_SIZE ((size_t)64 * 1024)

void *lang_alloc(struct lang_ast *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  lang_chunk *c = a->arena;
  if (!c || c->cap - c->used < n) {
    size_t cap = n > CHUNK_SIZE ? n : CHUNK_SIZE;
    c = malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->used = 0;
    c->cap = cap;
    if (a->arena && n > CHUNK_SIZE) { /* a large block: keep filling the current chunk afterwards */
      c->next = a->arena->next;
      a->arena->next = c;
    } else {
      c->next = a->arena;
      a->arena = c;
    }
  }
  void *p = c->data + c->used;
  c->used += n;
  memset(p, 0, n);
  return p;
}

char *lang_strndup(struct lang_ast *a, const char *s, size_t n) {
  char *p = lang_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

void lang_ast_free(struct lang_ast *a) {
  if (!a) return;
  for (uint32_t i = 0; i < a->nsyms; i++) free(a->syms[i].deps);
  free(a->syms);
  lang_chunk *c = a->arena;
  while (c) {
    lang_chunk *n = c->next;
    free(c);
    c = n;
  }
  free(a);
}

/* ---- parser state ---------------------------------------------------------- */

typedef struct {
  const char *src;
  size_t len;
  const lang_token *t;
  size_t nt, i;
  struct lang_ast *a;
  lang_diag *diag;
  cx_err err;
  int nest;  /* expression recursion */
  int snest; /* block nesting */
  int no_in;
} parser;

static const lang_token *cur(const parser *p) { return &p->t[p->i]; }
static const lang_token *peek(const parser *p, size_t k) {
  return p->i + k < p->nt ? &p->t[p->i + k] : &p->t[p->nt - 1];
}
static const lang_token *take(parser *p) {
  const lang_token *t = &p->t[p->i];
  if (t->kind != T_EOF) p->i++;
  return t;
}
static uint32_t prev_end(const parser *p) {
  const lang_token *t = &p->t[p->i ? p->i - 1 : 0];
  return t->off + t->len;
}

/* "'then'" or "end of input", for "expected X, found Y". */
static void describe(const parser *p, const lang_token *t, char *buf, size_t n) {
  if (t->kind == T_EOF) {
    snprintf(buf, n, "end of input");
    return;
  }
  int w = t->len > 24 ? 24 : (int)t->len;
  snprintf(buf, n, "'%.*s%s'", w, p->src + t->off, t->len > 24 ? "..." : "");
}

static void *fail(parser *p, cx_err code, const lang_token *at, const char *fmt, const char *arg) {
  lang_fail(&p->err, p->diag, code, at->line, at->col, fmt, arg);
  return NULL;
}

static void *expected(parser *p, const char *what) {
  if (!p->err) {
    char found[40];
    describe(p, cur(p), found, sizeof found);
    p->err = CX_E_LANG_SYNTAX;
    lang_diag_set(p->diag, CX_E_LANG_SYNTAX, cur(p)->line, cur(p)->col, "expected %s, found %s", what, found);
  }
  return NULL;
}

static void *oom(parser *p) {
  if (!p->err) p->err = lang_diag_set(p->diag, CX_E_NOMEM, 0, 0, "out of memory");
  return NULL;
}

static int expect(parser *p, uint8_t kind, const char *what) {
  if (cur(p)->kind != kind) {
    expected(p, what);
    return -1;
  }
  take(p);
  return 0;
}

/* A name token (possibly dotted); a keyword there is a name error. */
static const lang_token *expect_name(parser *p) {
  const lang_token *t = cur(p);
  if (t->kind == T_IDENT) return take(p);
  if (lang_tok_is_keyword(t->kind)) {
    char w[40];
    snprintf(w, sizeof w, "%.*s", (int)t->len, p->src + t->off);
    return fail(p, CX_E_LANG_NAME, t, "`%s` is a keyword and cannot be a name", w);
  }
  return expected(p, "a name");
}

static const char *tok_str(parser *p, const lang_token *t) {
  const char *s = lang_strndup(p->a, p->src + t->off, t->len);
  if (!s) oom(p);
  return s;
}

/* A name (expect_name) copied into the arena; its position in *line, *col
 * if line is not NULL. */
static const char *parse_name(parser *p, uint32_t *line, uint32_t *col) {
  const lang_token *nt = expect_name(p);
  if (!nt) return NULL;
  if (line) *line = nt->line, *col = nt->col;
  return tok_str(p, nt);
}

/* One more level of *depth (p->nest: expressions, p->snest: blocks). */
static int enter(parser *p, int *depth, const char *what) {
  if (++*depth > LANG_NEST_MAX) {
    fail(p, CX_E_LANG_LIMIT, cur(p), "%s nested too deeply", what);
    return -1;
  }
  return 0;
}

/* ---- expressions ----------------------------------------------------------- */

static lang_expr *parse_expr(parser *p);
static lang_expr *parse_not(parser *p);

static lang_expr *node(parser *p, uint8_t kind, const lang_token *at) {
  lang_expr *e = lang_alloc(p->a, sizeof *e);
  if (!e) return oom(p);
  e->kind = kind;
  e->line = at->line;
  e->col = at->col;
  e->off = at->off;
  e->end = at->off + at->len;
  e->sym = LANG_NONE;
  e->witness = LANG_NONE;
  return e;
}

static uint32_t dep(const lang_expr *e) { return e ? e->depth : 0; }

/* Sets the height of e and refuses trees taller than LANG_DEPTH_MAX. */
static lang_expr *fin(parser *p, lang_expr *e) {
  uint32_t d = dep(e->a);
  if (dep(e->b) > d) d = dep(e->b);
  if (dep(e->c) > d) d = dep(e->c);
  for (uint32_t i = 0; i < e->nitems; i++)
    if (e->items[i]->depth > d) d = e->items[i]->depth;
  e->depth = d + 1;
  if (e->depth > LANG_DEPTH_MAX) {
    if (!p->err)
      p->err = lang_diag_set(p->diag, CX_E_LANG_LIMIT, e->line, e->col, "expression nested too deeply");
    return NULL;
  }
  return e;
}

/* The prefix operator node `kind` at t over x (NULL if x is). */
static lang_expr *prefix(parser *p, const lang_token *t, uint8_t kind, lang_expr *x) {
  lang_expr *e = x ? node(p, kind, t) : NULL;
  if (!e) return NULL;
  e->a = x;
  e->end = x->end;
  return fin(p, e);
}

static lang_expr *binary(parser *p, const lang_token *op, uint8_t kind, uint8_t bop, lang_expr *a,
                         lang_expr *b) {
  lang_expr *e = node(p, kind, op);
  if (!e) return NULL;
  e->op = bop;
  e->a = a;
  e->b = b;
  e->off = a->off;
  e->end = b->end;
  return fin(p, e);
}

/* A list of tree pointers (expressions or statements: elements of `size`
 * bytes, copied in and out whole) collected in a malloc'd vector, then
 * moved into the arena. */
typedef struct {
  unsigned char *v;
  uint32_t n, cap;
  size_t size;
} plist;

static int plist_push(parser *p, plist *l, const void *x) {
  if (l->n == l->cap) {
    uint32_t cap = l->cap ? l->cap * 2 : 8;
    unsigned char *v = realloc(l->v, cap * l->size);
    if (!v) {
      oom(p);
      return -1;
    }
    l->v = v;
    l->cap = cap;
  }
  memcpy(l->v + (size_t)l->n++ * l->size, x, l->size);
  return 0;
}

/* Frees the vector and returns its copy in the arena (one slot at least,
 * so that an empty list is not NULL), or NULL. */
static void *plist_move(parser *p, plist *l) {
  void *v = lang_alloc(p->a, (l->n ? l->n : 1) * l->size);
  if (v && l->n) memcpy(v, l->v, l->n * l->size);
  free(l->v);
  return v ? v : oom(p);
}

/* The closing token of a list of expressions (array elements, call
 * arguments): the items move into e. */
static lang_expr *list_end(parser *p, plist *l, lang_expr *e, uint8_t close, const char *what) {
  if (cur(p)->kind != close) {
    free(l->v);
    return expected(p, what);
  }
  take(p);
  e->end = prev_end(p);
  e->nitems = l->n;
  if (l->n && !(e->items = plist_move(p, l))) return NULL; /* an empty list keeps items NULL */
  return fin(p, e);
}

/* The range of a `for` or a comprehension: `lo..hi` (*hi set) or an array
 * expression. */
static int parse_range(parser *p, lang_expr **lo, lang_expr **hi) {
  *hi = NULL;
  *lo = parse_expr(p);
  if (!*lo) return -1;
  if (cur(p)->kind == T_DOTDOT) {
    take(p);
    *hi = parse_expr(p);
    if (!*hi) return -1;
  }
  return 0;
}

/* parse (parse_expr, parse_bracket) with a bare `in` ending the expression
 * (no_in 1, the value of a let-in) or being membership (0, inside brackets). */
static lang_expr *with_no_in(parser *p, int no_in, lang_expr *(*parse)(parser *)) {
  int saved = p->no_in;
  p->no_in = no_in;
  lang_expr *e = parse(p);
  p->no_in = saved;
  return e;
}

static lang_expr *parse_bracket(parser *p) {
  const lang_token *open = take(p);
  lang_expr *e = node(p, E_ARRAY, open);
  if (!e) return NULL;
  if (cur(p)->kind == T_RBRACK) { /* [] : refused by the checker with its position */
    e->end = take(p)->off + 1;
    return fin(p, e);
  }
  lang_expr *first = parse_expr(p);
  if (!first) return NULL;
  if (cur(p)->kind == T_FOR) {
    take(p);
    e->kind = E_COMPR;
    e->a = first;
    if (!(e->name = parse_name(p, NULL, NULL))) return NULL;
    if (expect(p, T_IN, "'in'")) return NULL;
    if (parse_range(p, &e->b, &e->c)) return NULL;
    if (expect(p, T_RBRACK, "']'")) return NULL;
    e->end = prev_end(p);
    return fin(p, e);
  }
  plist l = {.size = sizeof(lang_expr *)};
  if (plist_push(p, &l, &first)) return NULL;
  while (cur(p)->kind == T_COMMA) {
    take(p);
    if (cur(p)->kind == T_RBRACK) break; /* trailing comma */
    lang_expr *x = parse_expr(p);
    if (!x || plist_push(p, &l, &x)) {
      free(l.v);
      return NULL;
    }
  }
  return list_end(p, &l, e, T_RBRACK, "',' or ']'");
}

static lang_expr *parse_call(parser *p, const lang_token *nt) {
  lang_expr *e = node(p, E_CALL, nt);
  if (!e || !(e->name = tok_str(p, nt))) return NULL;
  take(p); /* ( */
  plist l = {.size = sizeof(lang_expr *)};
  if (cur(p)->kind != T_RPAREN) {
    for (;;) {
      lang_expr *x = parse_expr(p);
      if (!x || plist_push(p, &l, &x)) {
        free(l.v);
        return NULL;
      }
      if (cur(p)->kind != T_COMMA) break;
      take(p);
    }
  }
  return list_end(p, &l, e, T_RPAREN, "',' or ')'");
}

static lang_expr *parse_primary(parser *p) {
  const lang_token *t = cur(p);
  lang_expr *e;
  switch (t->kind) {
    case T_INT:
      if (t->ival > (uint64_t)INT64_MAX) {
        char w[40];
        snprintf(w, sizeof w, "%.*s", (int)(t->len > 30 ? 30 : t->len), p->src + t->off);
        return fail(p, CX_E_LANG_RANGE, t, "integer literal %s does not fit in int64", w);
      }
      if (!(e = node(p, E_INT, take(p)))) return NULL;
      e->ival = (int64_t)t->ival;
      return fin(p, e);
    case T_TRUE:
    case T_FALSE:
      if (!(e = node(p, E_BOOL, take(p)))) return NULL;
      e->ival = t->kind == T_TRUE;
      return fin(p, e);
    case T_IDENT:
      if (peek(p, 1)->kind == T_LPAREN) {
        take(p);
        return parse_call(p, t);
      }
      if (!(e = node(p, E_NAME, take(p)))) return NULL;
      if (!(e->name = tok_str(p, t))) return NULL;
      return fin(p, e);
    case T_LPAREN: {
      take(p);
      if (!(e = with_no_in(p, 0, parse_expr))) return NULL;
      if (expect(p, T_RPAREN, "')'")) return NULL;
      e->off = t->off; /* the span covers the parentheses, so a parent's span is whole */
      e->end = prev_end(p);
      return e;
    }
    case T_LBRACK: return with_no_in(p, 0, parse_bracket);
    default: return expected(p, "an expression");
  }
}

static lang_expr *parse_postfix(parser *p) {
  lang_expr *e = parse_primary(p);
  while (e && cur(p)->kind == T_LBRACK) {
    const lang_token *open = take(p);
    lang_expr *i = with_no_in(p, 0, parse_expr);
    if (!i) return NULL;
    if (expect(p, T_RBRACK, "']'")) return NULL;
    lang_expr *x = node(p, E_INDEX, open);
    if (!x) return NULL;
    x->a = e;
    x->b = i;
    x->off = e->off;
    x->end = prev_end(p);
    e = fin(p, x);
  }
  return e;
}

static lang_expr *parse_unary(parser *p) {
  const lang_token *t = cur(p);
  if (t->kind == T_MINUS) {
    if (enter(p, &p->nest, "expression")) return NULL;
    take(p);
    lang_expr *e;
    const lang_token *n = cur(p);
    if (n->kind == T_INT && n->ival == (UINT64_C(1) << 63) && peek(p, 1)->kind != T_LBRACK) {
      /* -9223372036854775808: the one literal that only exists negated */
      take(p);
      if ((e = node(p, E_INT, t))) {
        e->ival = INT64_MIN;
        e->end = n->off + n->len;
        e = fin(p, e);
      }
    } else {
      e = prefix(p, t, E_NEG, parse_unary(p));
    }
    p->nest--;
    return e;
  }
  if (t->kind == T_BANG) return parse_not(p);
  if (t->kind == T_IF || t->kind == T_LET) return parse_expr(p);
  return parse_postfix(p);
}

/* A level's operator tokens and their lang_binop, ending with T_EOF. */
typedef struct {
  uint8_t tok, op;
} binop;

/* One left-associative level: next (op next)*. */
static lang_expr *parse_level(parser *p, lang_expr *(*next)(parser *), const binop *ops) {
  lang_expr *a = next(p);
  while (a) {
    const binop *o = ops;
    while (o->tok != T_EOF && o->tok != cur(p)->kind) o++;
    if (o->tok == T_EOF) break;
    const lang_token *t = take(p);
    lang_expr *b = next(p);
    if (!b) return NULL;
    a = binary(p, t, E_BIN, o->op, a, b);
  }
  return a;
}

static lang_expr *parse_mul(parser *p) {
  static const binop ops[] = {{T_STAR, B_MUL}, {T_SLASH, B_DIV}, {T_PERCENT, B_MOD}, {T_EOF, 0}};
  return parse_level(p, parse_unary, ops);
}

static lang_expr *parse_add(parser *p) {
  static const binop ops[] = {{T_PLUS, B_ADD}, {T_MINUS, B_SUB}, {T_EOF, 0}};
  return parse_level(p, parse_mul, ops);
}

/* A comparison operator at the current token: its kind and op, 0 if none. */
static int cmp_op(const parser *p, uint8_t *kind, uint8_t *op) {
  switch (cur(p)->kind) {
    case T_LT: *kind = E_BIN, *op = B_LT; return 1;
    case T_LE: *kind = E_BIN, *op = B_LE; return 1;
    case T_GT: *kind = E_BIN, *op = B_GT; return 1;
    case T_GE: *kind = E_BIN, *op = B_GE; return 1;
    case T_EQ: *kind = E_BIN, *op = B_EQ; return 1;
    case T_NE: *kind = E_BIN, *op = B_NE; return 1;
    case T_IN:
      if (p->no_in) return 0;
      *kind = E_IN, *op = 0;
      return 1;
    case T_NOT: *kind = E_IN, *op = 1; return 1;
    default: return 0;
  }
}

static lang_expr *parse_cmp(parser *p) {
  lang_expr *a = parse_add(p);
  if (!a) return NULL;
  uint8_t kind, op;
  if (!cmp_op(p, &kind, &op)) return a;
  const lang_token *t = take(p);
  if (t->kind == T_NOT && expect(p, T_IN, "'in' after 'not'")) return NULL;
  lang_expr *b = parse_add(p);
  if (!b) return NULL;
  uint8_t k2, op2;
  if (cmp_op(p, &k2, &op2))
    return fail(p, CX_E_LANG_SYNTAX, cur(p), "comparisons do not chain%s: use parentheses or '&&'", "");
  return binary(p, t, kind, op, a, b);
}

static lang_expr *parse_not(parser *p) {
  const lang_token *t = cur(p);
  if (t->kind != T_BANG) return parse_cmp(p);
  if (enter(p, &p->nest, "expression")) return NULL;
  take(p);
  lang_expr *e = prefix(p, t, E_NOT, parse_not(p));
  p->nest--;
  return e;
}

static lang_expr *parse_and(parser *p) {
  static const binop ops[] = {{T_ANDAND, B_AND}, {T_EOF, 0}};
  return parse_level(p, parse_not, ops);
}

static lang_expr *parse_or(parser *p) {
  static const binop ops[] = {{T_OROR, B_OR}, {T_EOF, 0}};
  return parse_level(p, parse_and, ops);
}

static lang_expr *parse_expr_in(parser *p) {
  const lang_token *t = cur(p);
  lang_expr *e;
  if (t->kind == T_IF) {
    take(p);
    if (!(e = node(p, E_IF, t))) return NULL;
    if (!(e->a = parse_expr(p))) return NULL;
    if (expect(p, T_THEN, "'then'")) return NULL;
    if (!(e->b = parse_expr(p))) return NULL;
    if (expect(p, T_ELSE, "'else'")) return NULL;
    if (!(e->c = parse_expr(p))) return NULL;
    e->end = e->c->end;
    return fin(p, e);
  }
  if (t->kind == T_LET) {
    take(p);
    if (!(e = node(p, E_LETIN, t))) return NULL;
    if (!(e->name = parse_name(p, NULL, NULL))) return NULL;
    if (expect(p, T_ASSIGN, "'='")) return NULL;
    if (!(e->a = with_no_in(p, 1, parse_expr))) return NULL;
    if (expect(p, T_IN, "'in'")) return NULL;
    if (!(e->b = parse_expr(p))) return NULL;
    e->end = e->b->end;
    return fin(p, e);
  }
  return parse_or(p);
}

static lang_expr *parse_expr(parser *p) {
  if (enter(p, &p->nest, "expression")) return NULL;
  lang_expr *e = parse_expr_in(p);
  p->nest--;
  return e;
}

/* ---- statements ------------------------------------------------------------ */

static lang_stmt *parse_stmt(parser *p);

/* stmt* up to the token `end` (left for the caller), in the arena. */
static lang_stmt **parse_stmts(parser *p, uint8_t end, uint32_t *n) {
  plist l = {.size = sizeof(lang_stmt *)};
  while (cur(p)->kind != end) {
    if (cur(p)->kind == T_EOF) {
      free(l.v);
      return expected(p, "'}'");
    }
    lang_stmt *s = parse_stmt(p);
    if (!s || plist_push(p, &l, &s)) {
      free(l.v);
      return NULL;
    }
  }
  *n = l.n;
  return plist_move(p, &l);
}

/* '{' stmt* '}' */
static lang_stmt **parse_block(parser *p, uint32_t *n) {
  if (expect(p, T_LBRACE, "'{'")) return NULL;
  if (enter(p, &p->snest, "statements")) return NULL;
  lang_stmt **v = parse_stmts(p, T_RBRACE, n);
  if (!v) return NULL;
  take(p);
  p->snest--;
  return v;
}

static lang_stmt *stmt_node(parser *p, uint8_t kind, const lang_token *at) {
  lang_stmt *s = lang_alloc(p->a, sizeof *s);
  if (!s) return oom(p);
  s->kind = kind;
  s->line = at->line;
  s->col = at->col;
  s->sym = LANG_NONE;
  s->cond_sym = LANG_NONE;
  return s;
}

static lang_stmt *parse_if(parser *p) {
  lang_stmt *s = stmt_node(p, S_IF, take(p));
  if (!s) return NULL;
  if (!(s->e = parse_expr(p))) return NULL;
  if (!(s->body = parse_block(p, &s->nbody))) return NULL;
  if (cur(p)->kind == T_ELSE) {
    take(p);
    if (cur(p)->kind == T_IF) { /* else if: an else block holding one if */
      if (enter(p, &p->snest, "statements")) return NULL;
      lang_stmt *inner = parse_if(p);
      p->snest--;
      if (!inner) return NULL;
      if (!(s->els = lang_alloc(p->a, sizeof *s->els))) return oom(p);
      s->els[0] = inner;
      s->nels = 1;
    } else if (!(s->els = parse_block(p, &s->nels))) {
      return NULL;
    }
  }
  return s;
}

static lang_stmt *parse_stmt(parser *p) {
  const lang_token *t = cur(p);
  lang_stmt *s;
  switch (t->kind) {
    case T_LET:
    case T_VAR:
    case T_IDENT: /* NAME = e: the statement stands at the name */
      if (t->kind != T_IDENT) take(p);
      if (!(s = stmt_node(p, t->kind == T_LET ? S_LET : t->kind == T_VAR ? S_VAR : S_ASSIGN, t))) return NULL;
      if (!(s->name = parse_name(p, &s->nline, &s->ncol))) return NULL;
      if (expect(p, T_ASSIGN, "'='")) return NULL;
      return (s->e = parse_expr(p)) ? s : NULL;
    case T_FOR:
      if (!(s = stmt_node(p, S_FOR, take(p)))) return NULL;
      if (!(s->name = parse_name(p, &s->nline, &s->ncol))) return NULL;
      if (expect(p, T_IN, "'in'")) return NULL;
      if (parse_range(p, &s->e, &s->hi)) return NULL;
      return (s->body = parse_block(p, &s->nbody)) ? s : NULL;
    case T_IF: return parse_if(p);
    case T_CONST:
    case T_INPUT:
    case T_PARAM:
    case T_ARG:
    case T_OUTPUT: return fail(p, CX_E_LANG_SYNTAX, t, "declarations come before the statements%s", "");
    default: return expected(p, "a statement");
  }
}

/* ---- declarations ---------------------------------------------------------- */

/* TYPE := ('int' ['(' expr '..' expr ')'] | 'bool') ['[' expr ']'] */
static int parse_type(parser *p, lang_decl *d) {
  const lang_token *t = cur(p);
  d->tline = t->line;
  d->tcol = t->col;
  if (t->kind == T_KW_BOOL) {
    take(p);
    d->base = IR_T_BOOL;
  } else if (t->kind == T_KW_INT) {
    take(p);
    d->base = IR_T_INT;
    if (cur(p)->kind == T_LPAREN) {
      take(p);
      if (!(d->lo = parse_expr(p))) return -1;
      if (expect(p, T_DOTDOT, "'..'")) return -1;
      if (!(d->hi = parse_expr(p))) return -1;
      if (expect(p, T_RPAREN, "')'")) return -1;
    }
  } else {
    expected(p, "a type ('int' or 'bool')");
    return -1;
  }
  if (cur(p)->kind == T_LBRACK) {
    take(p);
    if (!(d->size = parse_expr(p))) return -1;
    if (expect(p, T_RBRACK, "']'")) return -1;
  }
  return 0;
}

static int parse_decl(parser *p, lang_decl *d) {
  const lang_token *t = take(p);
  d->line = t->line;
  d->col = t->col;
  d->sym = LANG_NONE;
  switch (t->kind) {
    case T_CONST: d->kind = D_CONST; break;
    case T_INPUT: d->kind = D_INPUT; break;
    case T_PARAM: d->kind = D_PARAM; break;
    case T_ARG: d->kind = D_ARG; break;
    default:
      if (cur(p)->kind == T_PUBLIC)
        d->kind = D_OUT_PUBLIC;
      else if (cur(p)->kind == T_PRIVATE)
        d->kind = D_OUT_PRIVATE;
      else
        return expected(p, "'public' or 'private'"), -1;
      take(p);
      break;
  }
  if (!(d->name = parse_name(p, &d->nline, &d->ncol))) return -1;
  if (d->kind == D_CONST) {
    if (expect(p, T_ASSIGN, "'='")) return -1;
    return (d->value = parse_expr(p)) ? 0 : -1;
  }
  if (expect(p, T_COLON, "':'")) return -1;
  return parse_type(p, d);
}

static int is_decl(uint8_t k) {
  return k == T_CONST || k == T_INPUT || k == T_PARAM || k == T_ARG || k == T_OUTPUT;
}

static int parse_file(parser *p) {
  struct lang_ast *a = p->a;
  if (cur(p)->kind != T_CONTRACT) return expected(p, "'contract' NAME at the start of the source"), -1;
  take(p);
  if (!(a->name = parse_name(p, &a->nline, &a->ncol))) return -1;

  uint32_t nd = 0;
  for (size_t k = p->i; k < p->nt; k++) nd += is_decl(p->t[k].kind);
  a->decls = lang_alloc(a, (nd ? nd : 1) * sizeof *a->decls);
  if (!a->decls) return oom(p), -1;
  while (is_decl(cur(p)->kind))
    if (parse_decl(p, &a->decls[a->ndecls++])) return -1;

  return (a->body = parse_stmts(p, T_EOF, &a->nbody)) ? 0 : -1;
}

cx_err lang_parse(const char *src, size_t len, struct lang_ast **out, lang_diag *diag) {
  *out = NULL;
  lang_token *toks;
  size_t nt;
  cx_err e = lang_lex(src, len, &toks, &nt, diag);
  if (e) return e;
  struct lang_ast *a = calloc(1, sizeof *a);
  if (!a) {
    free(toks);
    return lang_diag_set(diag, CX_E_NOMEM, 0, 0, "out of memory");
  }
  parser p = {.src = src, .len = len, .t = toks, .nt = nt, .a = a, .diag = diag};
  if (parse_file(&p) && !p.err) p.err = lang_diag_set(diag, CX_E_INTERNAL, 0, 0, "parser failed");
  free(toks);
  if (p.err) {
    lang_ast_free(a);
    return p.err;
  }
  *out = a;
  return CX_OK;
}
