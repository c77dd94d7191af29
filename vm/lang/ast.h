/* vm/lang internal: tokens, the syntax tree and its symbols (front end of
 * the secret-contract language, docs/contract-language.md §1-§5).
 *
 *   lex.c    source -> tokens (UTF-8 and size checks, literals, keywords)
 *   parse.c  tokens -> tree (recursive descent, bounded nesting)
 *   check.c  names, types, compile-time constants, secrecy, limits
 *   lower.c  checked tree -> circuit (ir.h)
 *   interp.c checked tree -> outputs (the reference interpreter)
 *
 * Every node carries the line:col of its operator or first token and its
 * source span, for diagnostics. The tree lives in an arena owned by
 * struct lang_ast; the checker fills in the resolved symbols, types and
 * secrecy classes that lowering and the interpreter read. */
#ifndef CUSTOS_LANG_AST_H
#define CUSTOS_LANG_AST_H

#include <stddef.h>
#include <stdint.h>

#include "ir.h"
#include "lang.h"

#define LANG_NEST_MAX 200      /* parser recursion: parentheses, prefix operators, blocks */
#define LANG_DEPTH_MAX 1000    /* depth of an expression tree (left-associative chains) */
#define LANG_IDENT_MAX 32      /* bytes of an identifier (each part of domain.field) */
#define LANG_ITER_MAX 1000000u /* loop and comprehension iterations, all loops together */
#define LANG_ARRAY_MAX 4096u
#define LANG_WORK_MAX 10000000u /* element operations while unrolling (lowering): bounds compile time */
#define LANG_NONE UINT32_MAX    /* no symbol */

/* ---- tokens ---------------------------------------------------------------- */

typedef enum {
  T_EOF = 0,
  T_IDENT, /* name, possibly dotted (domain.field) */
  T_INT,   /* decimal literal, value in ival (<= 2^63: the parser refuses 2^63 unless negated) */
  /* keywords */
  T_CONTRACT,
  T_CONST,
  T_INPUT,
  T_PARAM,
  T_ARG,
  T_OUTPUT,
  T_PUBLIC,
  T_PRIVATE,
  T_LET,
  T_VAR,
  T_FOR,
  T_IN,
  T_IF,
  T_THEN,
  T_ELSE,
  T_NOT,
  T_KW_INT,
  T_KW_BOOL,
  T_TRUE,
  T_FALSE,
  /* punctuation */
  T_LPAREN,
  T_RPAREN,
  T_LBRACK,
  T_RBRACK,
  T_LBRACE,
  T_RBRACE,
  T_COMMA,
  T_COLON,
  T_DOTDOT,
  T_ASSIGN,
  T_EQ,
  T_NE,
  T_LT,
  T_LE,
  T_GT,
  T_GE,
  T_PLUS,
  T_MINUS,
  T_STAR,
  T_SLASH,
  T_PERCENT,
  T_BANG,
  T_ANDAND,
  T_OROR,
  T_COUNT
} lang_tok;

typedef struct {
  uint8_t kind;
  uint32_t line, col; /* from 1; col in bytes */
  uint32_t off, len;  /* source bytes */
  uint64_t ival;      /* T_INT */
} lang_token;

/* Tokenizes a whole source (checked: size, NUL, UTF-8, control
 * characters, identifier length, literal overflow). *toks is malloc'd and
 * ends with a T_EOF token. */
cx_err lang_lex(const char *src, size_t len, lang_token **toks, size_t *ntoks, lang_diag *diag);
/* Is this a keyword token kind? */
int lang_tok_is_keyword(int kind);

/* Sets *d (if d) and returns code. */
cx_err lang_diag_set(lang_diag *d, cx_err code, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The first error of a pass wins: if *err is set, does nothing; else sets
 * *err = code and *d (if d). Returns -1. */
int lang_fail(cx_err *err, lang_diag *d, cx_err code, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* v in decimal, NUL-terminated (at most 41 bytes; buf holds 48). */
void lang_i128_str(__int128 v, char *buf);
/* Line and column of byte offset off of src. */
void lang_pos(const char *src, size_t len, uint32_t off, uint32_t *line, uint32_t *col);

/* ---- tree ------------------------------------------------------------------ */

typedef enum {
  E_INT = 1, /* ival */
  E_BOOL,    /* ival 0 / 1 */
  E_NAME,    /* name -> sym */
  E_NEG,     /* -a */
  E_NOT,     /* !a */
  E_BIN,     /* a op b */
  E_IN,      /* a in b (op 1: not in) */
  E_IF,      /* if a then b else c */
  E_LETIN,   /* let name(sym) = a in b */
  E_INDEX,   /* a[b] */
  E_CALL,    /* op(items) */
  E_ARRAY,   /* [items] */
  E_COMPR,   /* [a for name(sym) in b..c] or [a for name(sym) in b] (c NULL) */
} lang_expr_kind;

typedef enum {
  B_ADD = 1,
  B_SUB,
  B_MUL,
  B_DIV,
  B_MOD,
  B_LT,
  B_LE,
  B_GT,
  B_GE,
  B_EQ,
  B_NE,
  B_AND,
  B_OR
} lang_binop;

typedef enum { F_SUM = 1, F_MIN, F_MAX, F_COUNT, F_ANY, F_ALL, F_LEN } lang_builtin;

/* Secrecy classes (§4), ordered: the join is the maximum. CONST values are
 * known when the loops are unrolled (literals, consts, loop counters and
 * what is computed from them); PUBLIC ones depend on args; SECRET ones on
 * inputs or params. */
enum { CL_CONST = 0, CL_PUBLIC = 1, CL_SECRET = 2 };

typedef struct lang_expr lang_expr;
struct lang_expr {
  uint8_t kind, op;   /* op: lang_binop (E_BIN), lang_builtin (E_CALL), 1 for `not in` */
  uint8_t base;       /* checked: IR_T_INT / IR_T_BOOL */
  uint8_t cls;        /* checked: CL_* */
  uint8_t is_static;  /* checked: a value known without unrolling (literals, consts, len) */
  uint32_t len;       /* checked: 0 scalar, else array length */
  uint32_t line, col; /* operator, or first token */
  uint32_t off, end;  /* source span [off, end) */
  uint32_t depth;     /* height of the subtree */
  uint32_t sym;       /* E_NAME: resolved; E_LETIN / E_COMPR: the bound name */
  uint32_t witness;   /* checked: a symbol of the class (the secret it depends on) */
  int64_t ival;       /* E_INT / E_BOOL; checked static value when is_static */
  const char *name;   /* E_NAME, E_CALL, E_LETIN / E_COMPR bound name */
  lang_expr *a, *b, *c;
  lang_expr **items; /* E_ARRAY elements, E_CALL arguments */
  uint32_t nitems;
  int64_t rlo, rhi; /* E_COMPR over b..c: the checked static bounds */
};

typedef enum { S_LET = 1, S_VAR, S_ASSIGN, S_FOR, S_IF } lang_stmt_kind;

typedef struct lang_stmt lang_stmt;
struct lang_stmt {
  uint8_t kind;
  uint32_t line, col;   /* keyword, or the assigned name */
  const char *name;     /* S_LET / S_VAR / S_ASSIGN / S_FOR */
  uint32_t nline, ncol; /* position of name */
  uint32_t sym;         /* checked: the declared / assigned / loop symbol */
  lang_expr *e;         /* value; S_IF condition; S_FOR: lo or the array */
  lang_expr *hi;        /* S_FOR over a range: hi (NULL over an array) */
  lang_stmt **body, **els;
  uint32_t nbody, nels;
  int64_t rlo, rhi;   /* S_FOR over a range: checked static bounds */
  uint32_t *assigned; /* S_IF: vars declared outside that a branch assigns (sorted) */
  uint32_t nassigned;
  uint32_t cond_sym; /* S_IF: pseudo-symbol of the condition (implicit flows) */
};

typedef enum { D_CONST = 1, D_INPUT, D_PARAM, D_ARG, D_OUT_PUBLIC, D_OUT_PRIVATE } lang_decl_kind;

typedef struct {
  uint8_t kind;
  uint32_t line, col; /* the keyword */
  const char *name;
  uint32_t nline, ncol; /* the name */
  lang_expr *value;     /* D_CONST */
  /* type (ports) */
  uint8_t base;         /* IR_T_INT / IR_T_BOOL */
  uint32_t tline, tcol; /* the type */
  lang_expr *lo, *hi;   /* int(lo..hi), NULL for plain int */
  lang_expr *size;      /* [size], NULL for a scalar */
  uint32_t sym;
} lang_decl;

/* ---- symbols --------------------------------------------------------------- */

typedef enum {
  SY_CONST = 1,
  SY_INPUT,
  SY_PARAM,
  SY_ARG,
  SY_OUTPUT,
  SY_LET,
  SY_VAR,
  SY_LOOP,
  SY_COND
} lang_sym_kind;

typedef struct {
  uint8_t kind, base;
  uint8_t cls;       /* solved class */
  uint8_t assigned;  /* SY_OUTPUT: assigned (while checking) */
  uint8_t port_kind; /* ports: IR_PORT_* */
  uint32_t len;
  const char *name;
  uint32_t line, col;   /* declaration */
  uint32_t aline, acol; /* SY_OUTPUT: where it is assigned */
  int64_t lo, hi;       /* ports: declared range of each element; SY_CONST: lo = hi = value */
  uint32_t port;        /* ports: index into the circuit's ports */
  uint32_t witness;     /* solved: a symbol of the class */
  uint32_t shadow;      /* check.c: the next symbol in the same name-table chain */
  uint32_t *deps;       /* symbols whose values flow into this one */
  uint32_t ndeps, capdeps;
} lang_sym;

typedef struct lang_chunk lang_chunk;

struct lang_ast {
  lang_chunk *arena;
  const char *name; /* contract name */
  uint32_t nline, ncol;
  lang_decl *decls; /* arena */
  uint32_t ndecls;
  lang_stmt **body; /* arena */
  uint32_t nbody;
  lang_sym *syms; /* malloc */
  uint32_t nsyms, capsyms;
  uint32_t nports;
  uint32_t port_sym[256]; /* circuit port index -> symbol */
};

/* Arena allocation (zeroed); NULL when out of memory. */
void *lang_alloc(struct lang_ast *a, size_t n);
char *lang_strndup(struct lang_ast *a, const char *s, size_t n);

/* parse.c: source -> tree (unchecked). *out is NULL on error. */
cx_err lang_parse(const char *src, size_t len, struct lang_ast **out, lang_diag *diag);
/* check.c: resolves and checks the tree in place. */
cx_err lang_check(struct lang_ast *a, const char *src, size_t len, lang_diag *diag);
/* lower.c: checked tree -> circuit (ports added, nodes emitted; c initialised by the caller). */
cx_err lang_lower(const struct lang_ast *a, const char *src, size_t len, ir_circuit *c, lang_diag *diag);

/* The builtin function named s (F_*), or 0 if s is not one. */
int lang_builtin_of(const char *s);
/* The source text of e for a message: whitespace and comments collapsed to
 * one space, at most max bytes (then "..."), NUL-terminated in buf. */
void lang_expr_text(const char *src, size_t len, const lang_expr *e, char *buf, size_t n, size_t max);

#endif
