/* The lexer of the secret-contract language (docs/contract-language.md §1).
 *
 * The whole source is checked before it is tokenized: at most
 * CX_SOURCE_MAX bytes, valid UTF-8 (RFC 3629: no overlong forms, no
 * surrogates), no NUL and no control character but tab, LF and CR, so that
 * every source that compiles is also valid STR_TEXT for a deploy
 * transaction (core/codec.h). Non-ASCII text can only stand in comments.
 * Columns count bytes from 1. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "codec.h"

static void diag_vset(lang_diag *d, cx_err code, uint32_t line, uint32_t col, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static void diag_vset(lang_diag *d, cx_err code, uint32_t line, uint32_t col, const char *fmt, va_list ap) {
  if (!d) return;
  d->code = code;
  d->line = line;
  d->col = col;
  vsnprintf(d->msg, sizeof d->msg, fmt, ap);
}

cx_err lang_diag_set(lang_diag *d, cx_err code, uint32_t line, uint32_t col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  diag_vset(d, code, line, col, fmt, ap);
  va_end(ap);
  return code;
}

int lang_fail(cx_err *err, lang_diag *d, cx_err code, uint32_t line, uint32_t col, const char *fmt, ...) {
  if (*err) return -1;
  *err = code;
  va_list ap;
  va_start(ap, fmt);
  diag_vset(d, code, line, col, fmt, ap);
  va_end(ap);
  return -1;
}

void lang_pos(const char *src, size_t len, uint32_t off, uint32_t *line, uint32_t *col) {
  uint32_t l = 1, c = 1;
  for (size_t i = 0; i < off && i < len; i++) {
    if (src[i] == '\n') {
      l++;
      c = 1;
    } else {
      c++;
    }
  }
  *line = l;
  *col = c;
}

static const struct {
  const char *word;
  uint8_t kind;
} keywords[] = {
    {"contract", T_CONTRACT},
    {"const", T_CONST},
    {"input", T_INPUT},
    {"param", T_PARAM},
    {"arg", T_ARG},
    {"output", T_OUTPUT},
    {"public", T_PUBLIC},
    {"private", T_PRIVATE},
    {"let", T_LET},
    {"var", T_VAR},
    {"for", T_FOR},
    {"in", T_IN},
    {"if", T_IF},
    {"then", T_THEN},
    {"else", T_ELSE},
    {"not", T_NOT},
    {"int", T_KW_INT},
    {"bool", T_KW_BOOL},
    {"true", T_TRUE},
    {"false", T_FALSE},
};

int lang_tok_is_keyword(int kind) { return kind >= T_CONTRACT && kind <= T_FALSE; }

/* The text checks of the header comment (core's STR_TEXT), with the
 * position of the first offending byte. */
static cx_err check_text(const char *src, size_t n, lang_diag *diag) {
  const uint8_t *s = (const uint8_t *)src;
  size_t bad = text_invalid_at(s, n, STR_TEXT);
  if (bad == SIZE_MAX) return CX_OK;
  uint32_t line, col, cp;
  lang_pos(src, n, (uint32_t)bad, &line, &col); /* bad < n <= CX_SOURCE_MAX */
  if (!utf8_seq(s + bad, n - bad, &cp))
    return lang_diag_set(diag, CX_E_LANG_SYNTAX, line, col, "invalid UTF-8 in source");
  if (cp == 0) return lang_diag_set(diag, CX_E_LANG_SYNTAX, line, col, "NUL byte in source");
  return lang_diag_set(diag, CX_E_LANG_SYNTAX, line, col, "control character U+%04X in source", (unsigned)cp);
}

static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_ident(int c) { return is_alpha(c) || is_digit(c) || c == '_'; }

typedef struct {
  const uint8_t *s;
  size_t n, i;
  uint32_t line, col;
  lang_token *toks;
  size_t ntoks, cap;
  lang_diag *diag;
} lexer;

static cx_err push(lexer *L, uint8_t kind, size_t start, uint32_t line, uint32_t col, uint64_t ival) {
  if (L->ntoks == L->cap) {
    size_t cap = L->cap ? L->cap * 2 : 256;
    lang_token *t = realloc(L->toks, cap * sizeof *t);
    if (!t) return lang_diag_set(L->diag, CX_E_NOMEM, 0, 0, "out of memory");
    L->toks = t;
    L->cap = cap;
  }
  lang_token *t = &L->toks[L->ntoks++];
  t->kind = kind;
  t->line = line;
  t->col = col;
  t->off = (uint32_t)start;
  t->len = (uint32_t)(L->i - start);
  t->ival = ival;
  return CX_OK;
}

/* A decimal literal with '_' allowed between digits. Values up to 2^63 are
 * kept (the parser accepts 2^63 only right after a unary minus, as
 * INT64_MIN); anything larger is refused here, at the literal. */
static cx_err lex_number(lexer *L) {
  size_t start = L->i;
  uint32_t line = L->line, col = L->col;
  uint64_t v = 0;
  int over = 0;
  while (L->i < L->n && (is_digit(L->s[L->i]) || L->s[L->i] == '_')) {
    uint8_t c = L->s[L->i];
    if (c == '_') {
      if (L->i + 1 >= L->n || !is_digit(L->s[L->i + 1]))
        return lang_diag_set(L->diag, CX_E_LANG_SYNTAX, line, col + (uint32_t)(L->i - start),
                             "'_' in a number must stand between two digits");
    } else {
      uint64_t d = (uint64_t)(c - '0');
      if (v > (UINT64_C(1) << 63) / 10 || v * 10 + d > (UINT64_C(1) << 63))
        over = 1;
      else
        v = v * 10 + d;
    }
    L->i++;
  }
  L->col += (uint32_t)(L->i - start);
  if (L->i < L->n && is_alpha(L->s[L->i]))
    return lang_diag_set(L->diag, CX_E_LANG_SYNTAX, L->line, L->col, "unexpected '%c' after the number",
                         L->s[L->i]);
  if (over)
    return lang_diag_set(L->diag, CX_E_LANG_RANGE, line, col, "integer literal %.*s does not fit in int64",
                         (int)(L->i - start > 40 ? 40 : L->i - start), (const char *)L->s + start);
  return push(L, T_INT, start, line, col, v);
}

/* A name: [A-Za-z][A-Za-z0-9_]*, optionally one '.' and a second part
 * (domain.field). Keywords are only undotted. */
static cx_err lex_ident(lexer *L) {
  size_t start = L->i;
  uint32_t line = L->line, col = L->col;
  int parts = 0;
  for (;;) {
    size_t p = L->i;
    while (L->i < L->n && is_ident(L->s[L->i])) L->i++;
    if (L->i - p > LANG_IDENT_MAX)
      return lang_diag_set(L->diag, CX_E_LANG_LIMIT, line, col + (uint32_t)(p - start),
                           "identifier longer than %d bytes", LANG_IDENT_MAX);
    parts++;
    if (L->i + 1 < L->n && L->s[L->i] == '.' && is_alpha(L->s[L->i + 1])) {
      if (parts == 2)
        return lang_diag_set(L->diag, CX_E_LANG_SYNTAX, line, col + (uint32_t)(L->i - start),
                             "a name has at most one '.' (domain.field)");
      L->i++;
      continue;
    }
    break;
  }
  L->col += (uint32_t)(L->i - start);
  uint8_t kind = T_IDENT;
  size_t n = L->i - start;
  for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
    if (strlen(keywords[k].word) == n && memcmp(keywords[k].word, L->s + start, n) == 0)
      kind = keywords[k].kind;
  return push(L, kind, start, line, col, 0);
}

cx_err lang_lex(const char *src, size_t len, lang_token **toks, size_t *ntoks, lang_diag *diag) {
  *toks = NULL;
  *ntoks = 0;
  if (len > CX_SOURCE_MAX)
    return lang_diag_set(diag, CX_E_LANG_SYNTAX, 0, 0, "source is larger than %d bytes", CX_SOURCE_MAX);
  cx_err e = check_text(src, len, diag);
  if (e) return e;
  lexer L = {.s = (const uint8_t *)src, .n = len, .line = 1, .col = 1, .diag = diag};
  while (L.i < L.n) {
    uint8_t c = L.s[L.i];
    if (c == '\n') {
      L.i++;
      L.line++;
      L.col = 1;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r') {
      L.i++;
      L.col++;
      continue;
    }
    if (c == '#') {
      while (L.i < L.n && L.s[L.i] != '\n') L.i++; /* columns past a comment do not matter */
      continue;
    }
    if (is_digit(c)) {
      e = lex_number(&L);
    } else if (is_alpha(c)) {
      e = lex_ident(&L);
    } else {
      size_t start = L.i;
      uint32_t col = L.col;
      uint8_t c2 = L.i + 1 < L.n ? L.s[L.i + 1] : 0;
      uint8_t kind = T_EOF;
      size_t w = 1;
      switch (c) {
        case '(': kind = T_LPAREN; break;
        case ')': kind = T_RPAREN; break;
        case '[': kind = T_LBRACK; break;
        case ']': kind = T_RBRACK; break;
        case '{': kind = T_LBRACE; break;
        case '}': kind = T_RBRACE; break;
        case ',': kind = T_COMMA; break;
        case ':': kind = T_COLON; break;
        case '+': kind = T_PLUS; break;
        case '-': kind = T_MINUS; break;
        case '*': kind = T_STAR; break;
        case '/': kind = T_SLASH; break;
        case '%': kind = T_PERCENT; break;
        case '.':
          if (c2 == '.') kind = T_DOTDOT, w = 2;
          break;
        case '=':
          if (c2 == '=')
            kind = T_EQ, w = 2;
          else
            kind = T_ASSIGN;
          break;
        case '!':
          if (c2 == '=')
            kind = T_NE, w = 2;
          else
            kind = T_BANG;
          break;
        case '<':
          if (c2 == '=')
            kind = T_LE, w = 2;
          else
            kind = T_LT;
          break;
        case '>':
          if (c2 == '=')
            kind = T_GE, w = 2;
          else
            kind = T_GT;
          break;
        case '&':
          if (c2 == '&') kind = T_ANDAND, w = 2;
          break;
        case '|':
          if (c2 == '|') kind = T_OROR, w = 2;
          break;
        default: break;
      }
      if (kind == T_EOF) {
        uint32_t cp;
        utf8_seq(L.s + L.i, L.n - L.i, &cp); /* valid: checked above */
        if (cp >= 0x21 && cp < 0x7f)
          e = lang_diag_set(diag, CX_E_LANG_SYNTAX, L.line, L.col, "unexpected character '%c'", (char)cp);
        else
          e = lang_diag_set(diag, CX_E_LANG_SYNTAX, L.line, L.col, "unexpected character U+%04X",
                            (unsigned)cp);
      } else {
        L.i += w;
        L.col += (uint32_t)w;
        e = push(&L, kind, start, L.line, col, 0);
      }
    }
    if (e) {
      free(L.toks);
      return e;
    }
  }
  e = push(&L, T_EOF, L.i, L.line, L.col, 0);
  if (e) {
    free(L.toks);
    return e;
  }
  *toks = L.toks;
  *ntoks = L.ntoks;
  return CX_OK;
}

void lang_i128_str(__int128 v, char *buf) {
  char tmp[48];
  int n = 0, neg = v < 0;
  unsigned __int128 u = neg ? -(unsigned __int128)v : (unsigned __int128)v;
  do {
    tmp[n++] = (char)('0' + (int)(u % 10));
    u /= 10;
  } while (u);
  int o = 0;
  if (neg) buf[o++] = '-';
  while (n) buf[o++] = tmp[--n];
  buf[o] = 0;
}

void lang_expr_text(const char *src, size_t len, const lang_expr *e, char *buf, size_t n, size_t max) {
  size_t o = 0;
  int space = 0;
  if (max + 4 > n) max = n > 4 ? n - 4 : 0;
  for (size_t i = e->off; i < e->end && i < len; i++) {
    char ch = src[i];
    if (ch == '#') {
      while (i + 1 < e->end && src[i + 1] != '\n') i++;
      space = 1;
      continue;
    }
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
      space = 1;
      continue;
    }
    if (space && o) {
      if (o + 1 > max) goto cut;
      buf[o++] = ' ';
    }
    space = 0;
    if (o + 1 > max) goto cut;
    buf[o++] = ch;
  }
  buf[o] = 0;
  return;
cut:
  memcpy(buf + o, "...", 4);
}
