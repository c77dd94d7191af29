/* The front end of the secret-contract language (vm/lang/lex.c, parse.c,
 * check.c, lower.c, interp.c, lang.c; docs/contract-language.md).
 *
 *   - rejections: every error class of §5, with code, line, col and text;
 *   - lexer and parser edge cases;
 *   - the reference interpreter on small contracts whose results were
 *     worked out by hand (and the compiled circuit must agree);
 *   - call values and their JSON form;
 *   - differential tests: on every sample of configs/contracts and on
 *     random generated contracts, the reference interpreter and the
 *     compiled circuit agree on thousands of random in-range inputs
 *     (range edges included), and so does the circuit decoded from the
 *     bytecode;
 *   - determinism and golden vectors (tests/vectors/lang/<sample>.golden,
 *     rewritten by CUSTOS_LANG_REGOLD=1). */
#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------------- */

static lang_contract *compile_at(int at, const char *src) {
  lang_contract *c = NULL;
  lang_diag d;
  cx_err e = lang_compile(src, strlen(src), &c, &d);
  ck_assert_msg(e == CX_OK && c, "line %d: compile failed (%d) at %u:%u: %s", at, e, d.line, d.col, d.msg);
  return c;
}
#define COMPILE(src) compile_at(__LINE__, src)

static void reject_at(int at, const char *src, size_t len, cx_err code, uint32_t line, uint32_t col,
                      const char *msg) {
  lang_contract *c = (lang_contract *)1;
  lang_diag d;
  memset(&d, 0x55, sizeof d);
  cx_err e = lang_compile(src, len, &c, &d);
  ck_assert_msg(e == code && d.code == code && d.line == line && d.col == col && strcmp(d.msg, msg) == 0,
                "line %d: got %d %u:%u '%s'; want %d %u:%u '%s'", at, e, d.line, d.col, d.msg, code, line,
                col, msg);
  ck_assert_msg(c == NULL, "line %d: *out set on error", at);
}
#define REJECT(src, code, line, col, msg) reject_at(__LINE__, src, strlen(src), code, line, col, msg)

/* Runs c on json with the reference interpreter and the circuit; they must
 * agree. Returns the outputs as JSON (malloc). */
static char *run_both(int at, const lang_contract *c, const char *json) {
  lang_values *v = lang_values_new(c);
  ck_assert(v);
  char err[256];
  cx_err e = lang_values_from_json(v, json, strlen(json), err, sizeof err);
  ck_assert_msg(e == CX_OK, "line %d: values: %s", at, err);
  size_t n = lang_outputs_len(c);
  int64_t *o1 = calloc(n + 1, 8), *o2 = calloc(n + 1, 8);
  e = lang_run_reference(c, v, o1, err, sizeof err);
  ck_assert_msg(e == CX_OK, "line %d: reference: %s", at, err);
  e = lang_run_circuit(c, v, o2, err, sizeof err);
  ck_assert_msg(e == CX_OK, "line %d: circuit: %s", at, err);
  char *j1 = lang_outputs_json(c, o1), *j2 = lang_outputs_json(c, o2);
  ck_assert_msg(strcmp(j1, j2) == 0, "line %d: reference %s != circuit %s", at, j1, j2);
  free(j2);
  free(o1);
  free(o2);
  lang_values_free(v);
  return j1;
}

static void expect_run_at(int at, const lang_contract *c, const char *json, const char *want) {
  char *got = run_both(at, c, json);
  ck_assert_msg(strcmp(got, want) == 0, "line %d: got %s, want %s", at, got, want);
  free(got);
}
#define EXPECT_RUN(c, json, want) expect_run_at(__LINE__, c, json, want)

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  ck_assert(b);
  *len = fread(b, 1, (size_t)n, f);
  b[*len] = 0;
  fclose(f);
  return b;
}

/* ---- rejections by class ------------------------------------------------------- */

#define HDR "contract x\noutput public o : int\n"

START_TEST(test_err_syntax) {
  REJECT(HDR "o = (1 + 2 then 3", CX_E_LANG_SYNTAX, 3, 12, "expected ')', found 'then'");
  REJECT(HDR "o = 1 < 2 < 3", CX_E_LANG_SYNTAX, 3, 11, "comparisons do not chain: use parentheses or '&&'");
  REJECT(HDR "o = 1 +", CX_E_LANG_SYNTAX, 3, 8, "expected an expression, found end of input");
  REJECT(HDR "o = 1 $ 2", CX_E_LANG_SYNTAX, 3, 7, "unexpected character '$'");
  REJECT(HDR "o = 1\nconst N = 3", CX_E_LANG_SYNTAX, 4, 1, "declarations come before the statements");
  REJECT("input a.b : int", CX_E_LANG_SYNTAX, 1, 1,
         "expected 'contract' NAME at the start of the source, found 'input'");
  REJECT(HDR "o = 1__0", CX_E_LANG_SYNTAX, 3, 6, "'_' in a number must stand between two digits");
  REJECT(HDR "o = 10_", CX_E_LANG_SYNTAX, 3, 7, "'_' in a number must stand between two digits");
  REJECT(HDR "o = 12ab", CX_E_LANG_SYNTAX, 3, 7, "unexpected 'a' after the number");
  REJECT(HDR "for i in 0..3 { o = 1", CX_E_LANG_SYNTAX, 3, 22, "expected '}', found end of input");
  REJECT(HDR "o = if true then 1", CX_E_LANG_SYNTAX, 3, 19, "expected 'else', found end of input");
  REJECT(HDR "o = 1 not 2", CX_E_LANG_SYNTAX, 3, 11, "expected 'in' after 'not', found '2'");
  REJECT("contract x\noutput o : int\n", CX_E_LANG_SYNTAX, 2, 8, "expected 'public' or 'private', found 'o'");
  REJECT("contract x\ninput a.b : float\n", CX_E_LANG_SYNTAX, 2, 13,
         "expected a type ('int' or 'bool'), found 'float'");
  REJECT(HDR "o + 1", CX_E_LANG_SYNTAX, 3, 3, "expected '=', found '+'");
  REJECT(HDR "o = a.b.c", CX_E_LANG_SYNTAX, 3, 8, "a name has at most one '.' (domain.field)");
  /* text: NUL, invalid UTF-8, control characters (positions in bytes) */
  reject_at(__LINE__, HDR "o = 1\0", sizeof HDR + 5, CX_E_LANG_SYNTAX, 3, 6, "NUL byte in source");
  REJECT(HDR "# caf\xc3\n o = 1", CX_E_LANG_SYNTAX, 3, 6, "invalid UTF-8 in source");
  REJECT(HDR "o = \xe2\x82\xac", CX_E_LANG_SYNTAX, 3, 5, "unexpected character U+20AC");
  REJECT(HDR "o = 1\x01", CX_E_LANG_SYNTAX, 3, 6, "control character U+0001 in source");
  REJECT(HDR "o = 1 # overlong \xc0\xaf", CX_E_LANG_SYNTAX, 3, 18, "invalid UTF-8 in source");
  /* too large */
  size_t big = CX_SOURCE_MAX + 1;
  char *s = malloc(big);
  memset(s, ' ', big);
  memcpy(s, HDR "o = 1", strlen(HDR "o = 1"));
  reject_at(__LINE__, s, big, CX_E_LANG_SYNTAX, 0, 0, "source is larger than 65536 bytes");
  free(s);
}
END_TEST

START_TEST(test_err_name) {
  REJECT(HDR "o = y", CX_E_LANG_NAME, 3, 5, "unknown name `y`");
  REJECT(HDR "let in = 3\no = 1", CX_E_LANG_NAME, 3, 5, "`in` is a keyword and cannot be a name");
  REJECT(HDR "let y = 3\nlet y = 4\no = 1", CX_E_LANG_NAME, 4, 5, "`y` is already declared at 3:5");
  REJECT("contract x\narg o : int\noutput public o : int\no = 1", CX_E_LANG_NAME, 3, 15,
         "`o` is already declared at 2:5");
  REJECT("contract x\noutput public o : int\noutput public p : int\no = 1", CX_E_LANG_NAME, 3, 15,
         "output `p` is never assigned");
  REJECT(HDR "o = 1\no = 2", CX_E_LANG_NAME, 4, 1, "output `o` is assigned twice (first at 3:1)");
  REJECT(HDR "let y = 3\ny = 4\no = 1", CX_E_LANG_NAME, 4, 1,
         "cannot assign to `y`: it is a let (declare it with var)");
  REJECT(
      "contract x\narg a : int\n"
      "output public o : int\na = 1\no = 1",
      CX_E_LANG_NAME, 4, 1, "cannot assign to `a`: it is an arg");
  REJECT(HDR "for i in 0..2 { o = i }", CX_E_LANG_NAME, 3, 17,
         "output `o` must be assigned at the top level, not inside `for` or `if`");
  REJECT(HDR "let y = o\no = 1", CX_E_LANG_NAME, 3, 9, "output `o` is read before it is assigned");
  REJECT(HDR "let sum = 1\no = 1", CX_E_LANG_NAME, 3, 5, "`sum` is a builtin function and cannot be a name");
  REJECT(HDR "o = foo(1)", CX_E_LANG_NAME, 3, 5, "unknown function `foo`");
  REJECT("contract x\ninput age : int\noutput public o : int\no = 1", CX_E_LANG_NAME, 2, 7,
         "an input is named DOMAIN.FIELD (e.g. hrss.age), not `age`");
  REJECT("contract x\nparam Max : int\noutput public o : int\no = 1", CX_E_LANG_NAME, 2, 7,
         "param names are lower case ([a-z][a-z0-9_]*): `Max`");
  REJECT("contract X\noutput public o : int\no = 1", CX_E_LANG_NAME, 1, 10,
         "the contract name is lower case ([a-z][a-z0-9_]*): `X`");
  REJECT("contract x\narg a : int\nconst N = a\noutput public o : int\no = 1", CX_E_LANG_NAME, 3, 11,
         "a const may use only literals and earlier consts: `a` is an arg");
  REJECT(HDR "for i in 0..2 { let t = i }\no = t", CX_E_LANG_NAME, 4, 5, "unknown name `t`");
}
END_TEST

START_TEST(test_err_type) {
  REJECT(HDR "o = 1 + true", CX_E_LANG_TYPE, 3, 7, "`+` needs int operands, found bool");
  REJECT(HDR "o = if 1 then 2 else 3", CX_E_LANG_TYPE, 3, 8, "the condition of `if` must be bool, found int");
  REJECT("contract x\ninput a.b : int(0..9)[4]\noutput public o : int\no = sum(a.b + [1, 2, 3])",
         CX_E_LANG_TYPE, 4, 13, "arrays of unequal length (4 and 3)");
  REJECT("contract x\ninput a.b : int(0..9)[4]\noutput public o : int\no = a.b[4]", CX_E_LANG_TYPE, 4, 9,
         "index 4 is out of range for an array of 4 elements");
  /* an index known only when the loop is unrolled */
  REJECT(HDR "var s = 0\nfor i in 0..5 { s = s + [1, 2, 3, 4][i] }\no = s", CX_E_LANG_TYPE, 4, 38,
         "index 4 is out of range for an array of 4 elements");
  REJECT(HDR "o = 7 / 0", CX_E_LANG_TYPE, 3, 9, "the divisor must be at least 1, not 0");
  REJECT(HDR "var s = 0\nfor i in -1..1 { s = s + 5 % i }\no = s", CX_E_LANG_TYPE, 4, 30,
         "the divisor must be at least 1, not -1");
  REJECT("contract x\noutput public o : bool\no = 3", CX_E_LANG_TYPE, 3, 5, "`o` is bool, cannot assign int");
  REJECT(HDR "o = if true then 1 else false", CX_E_LANG_TYPE, 3, 5,
         "the branches of `if` have different types: int and bool");
  REJECT(HDR "o = sum([])", CX_E_LANG_TYPE, 3, 9, "an array literal needs at least one element");
  REJECT(HDR "o = sum(3)", CX_E_LANG_TYPE, 3, 5, "`sum` takes an array, found int");
  REJECT(HDR "o = count([1, 2])", CX_E_LANG_TYPE, 3, 5, "`count` takes a bool array, found int[2]");
  REJECT(HDR "o = 3[0]", CX_E_LANG_TYPE, 3, 6, "only an array can be indexed, not int");
  REJECT(HDR "o = 1 == true", CX_E_LANG_TYPE, 3, 7, "`==` compares values of one type, found int and bool");
  REJECT("contract x\ninput a.b : int[0]\noutput public o : int\no = 1", CX_E_LANG_TYPE, 2, 17,
         "an array has 1 to 4096 elements, not 0");
  REJECT(HDR "o = sum([i for i in 3..3])", CX_E_LANG_TYPE, 3, 9,
         "a comprehension makes 1 to 4096 elements, not 0");
}
END_TEST

START_TEST(test_err_secrecy) {
  REJECT(
      "contract x\ninput hrss.age : int(0..150)\noutput public o : int\nvar y = 0\nif hrss.age > 3 { y = 1 "
      "}\no = y",
      CX_E_LANG_SECRECY, 5, 4, "control flow on a secret: the condition of this `if` depends on `hrss.age`");
  /* through a let and a var */
  REJECT(
      "contract x\nparam p : int(0..9)\noutput public o : int\nlet q = p + 1\nvar w = 0\nw = q\n"
      "if w == 2 { w = 3 }\no = w",
      CX_E_LANG_SECRECY, 7, 4, "control flow on a secret: the condition of this `if` depends on `p`");
  REJECT("contract x\ninput a.b : int(0..3)[4]\noutput public o : int\no = a.b[a.b[0]]", CX_E_LANG_SECRECY, 4,
         9, "control flow on a secret: this index depends on `a.b`");
  REJECT("contract x\ninput a.b : int(0..10)[4]\narg k : int(0..3)\noutput public o : int\no = a.b[k]",
         CX_E_LANG_SECRECY, 5, 9, "an index must be a compile-time constant: it depends on `k`");
  REJECT("contract x\ninput a.b : int(0..10)[4]\noutput public o : int\no = sum(a.b) / a.b[0]",
         CX_E_LANG_SECRECY, 4, 16, "division by a secret: the divisor depends on `a.b`");
  REJECT("contract x\narg d : int(1..10)\noutput public o : int\no = 100 % d", CX_E_LANG_SECRECY, 4, 11,
         "a divisor must be a compile-time constant: it depends on `d`");
  REJECT("contract x\ninput a.b : int(0..10)[4]\noutput public o : int\nfor i in 0..a.b[0] { }\no = 1",
         CX_E_LANG_SECRECY, 4, 13, "control flow on a secret: the range of this `for` depends on `a.b`");
  REJECT("contract x\narg n : int(0..10)\noutput public o : int\no = sum([i for i in 0..n])",
         CX_E_LANG_SECRECY, 4, 24,
         "the range of this comprehension must be a compile-time constant (literals, consts, len): `n` is an "
         "arg");
  /* an implicit flow: a var assigned under an arg's `if` is public, not constant */
  REJECT(
      "contract x\narg g : int(0..1)\noutput public o : int\nvar k = 0\nif g == 1 { k = 1 }\no = [5, 6][k]",
      CX_E_LANG_SECRECY, 6, 12, "an index must be a compile-time constant: it depends on `g`");
}
END_TEST

START_TEST(test_err_range) {
  REJECT("contract x\ninput hrss.wage : int\noutput public o : int\no = hrss.wage * 12", CX_E_LANG_RANGE, 4,
         15,
         "`hrss.wage * 12` may overflow int64 (range -110680464442257309696..110680464442257309684); declare "
         "narrower ranges");
  REJECT("contract x\nparam a : int\nparam b : int(0..1)\noutput public o : int\no = a + b", CX_E_LANG_RANGE,
         5, 7,
         "`a + b` may overflow int64 (range -9223372036854775808..9223372036854775808); declare narrower "
         "ranges");
  REJECT(
      "contract x\nparam a : int\noutput public o : int\no = -a", CX_E_LANG_RANGE, 4, 5,
      "`-a` may overflow int64 (range -9223372036854775807..9223372036854775808); declare narrower ranges");
  REJECT(HDR "o = 99999999999999999999", CX_E_LANG_RANGE, 3, 5,
         "integer literal 99999999999999999999 does not fit in int64");
  REJECT(HDR "o = 9223372036854775808", CX_E_LANG_RANGE, 3, 5,
         "integer literal 9223372036854775808 does not fit in int64");
  REJECT(HDR "o = 9223372036854775807 + 1", CX_E_LANG_RANGE, 3, 25,
         "`9223372036854775807 + 1` overflows int64 (value 9223372036854775808)");
  REJECT("contract x\ninput a.b : int(5..3)\noutput public o : int\no = 1", CX_E_LANG_RANGE, 2, 13,
         "empty range int(5..3)");
  REJECT("contract x\nparam p : int(0..100)\noutput public o : int(0..10)\no = p", CX_E_LANG_RANGE, 4, 1,
         "output `o` is declared int(0..10), but its value may be 0..100");
  /* only the loop unrolled shows it: the sum of 40 terms of up to 2^58 */
  REJECT(
      "contract x\nparam p : int(0..288230376151711744)\noutput public o : int\nvar s = 0\n"
      "for i in 0..40 { s = s + p }\no = s",
      CX_E_LANG_RANGE, 5, 24,
      "`s + p` may overflow int64 (range 0..9223372036854775808); declare narrower ranges");
}
END_TEST

START_TEST(test_err_limit) {
  REJECT("contract x\ninput a.b : int[5000]\noutput public o : int\no = 1", CX_E_LANG_LIMIT, 2, 17,
         "an array has at most 4096 elements, not 5000");
  REJECT(HDR "for i in 0..1001 { for j in 0..1000 { } }\no = 1", CX_E_LANG_LIMIT, 3, 20,
         "more than 1000000 loop iterations in all");
  REJECT(HDR "o = sum([i for i in 0..5000])", CX_E_LANG_LIMIT, 3, 9,
         "a comprehension makes 1 to 4096 elements, not 5000");
  REJECT(HDR "let abcdefghijabcdefghijabcdefghijabc = 1\no = 1", CX_E_LANG_LIMIT, 3, 5,
         "identifier longer than 32 bytes");
  REJECT(
      "contract x\nparam p : int(0..10)\noutput public o : int\nvar s = 0\nfor i in 0..150000 { s = s + p * "
      "i }\no = s",
      CX_E_LANG_LIMIT, 5, 28, "the circuit has more than 200000 nodes");
  /* unrolling work is bounded even when folding and CSE add no node */
  REJECT(
      "contract x\nparam p : int(0..10)[4096]\noutput public o : int\n"
      "for i in 0..999 { for j in 0..1000 { let t = p } }\no = 1",
      CX_E_LANG_LIMIT, 4, 38, "the contract takes more than 10000000 operations to unroll");
  REJECT("contract x\nparam p : int(0..10)[4096]\noutput public o : int\no = sum([sum(p) for i in 0..4096])",
         CX_E_LANG_LIMIT, 4, 10, "the contract takes more than 10000000 operations to unroll");
  /* nesting: parentheses, unary operators, statements, left-associative chains */
  char *s = malloc(8192);
  int n = sprintf(s, HDR "o = ");
  for (int i = 0; i < 300; i++) s[n++] = '(';
  s[n++] = '1';
  for (int i = 0; i < 300; i++) s[n++] = ')';
  s[n] = 0;
  REJECT(s, CX_E_LANG_LIMIT, 3, 205, "expression nested too deeply");
  n = sprintf(s, HDR "o = ");
  for (int i = 0; i < 300; i++) s[n++] = '-';
  strcpy(s + n, "1");
  REJECT(s, CX_E_LANG_LIMIT, 3, 204, "expression nested too deeply");
  n = sprintf(s, HDR "o = 1");
  for (int i = 0; i < 1100; i++) n += sprintf(s + n, "+1");
  REJECT(s, CX_E_LANG_LIMIT, 3, 2004, "expression nested too deeply");
  n = sprintf(s, HDR "o = 1\n");
  for (int i = 0; i < 300; i++) n += sprintf(s + n, "if true {");
  REJECT(s, CX_E_LANG_LIMIT, 4, 1810, "statements nested too deeply");
  /* ports */
  n = sprintf(s, "contract x\n");
  for (int i = 0; i < 257; i++) n += sprintf(s + n, "arg a%d : int\n", i);
  strcpy(s + n, "output public o : int\no = 1");
  REJECT(s, CX_E_LANG_LIMIT, 258, 1, "more than 256 inputs, params, args and outputs");
  free(s);
}
END_TEST

/* ---- lexer and parser edge cases ---------------------------------------------- */

START_TEST(test_syntax_edges) {
  /* CRLF, tabs, comments with UTF-8, underscores, INT64_MIN, trailing comma */
  lang_contract *c = COMPILE(
      "contract edges\r\n# r\xc3\xa9sum\xc3\xa9 \xe2\x82\xac\r\n"
      "output public a : int\r\noutput public b : int\noutput public m : int\n"
      "output public t : int\n"
      "a =\t10_000 + 1_2_3 # comment\nb = -9223372036854775808\n"
      "m = - 9223372036854775807 - 1\nt = sum([1, 2, 3,])\n");
  EXPECT_RUN(c, "{}",
             "{\"a\": 10123, \"b\": \"-9223372036854775808\", \"m\": \"-9223372036854775808\", \"t\": 6}");
  lang_free(c);
  /* positions after a tab count bytes */
  REJECT(HDR "o =\tq", CX_E_LANG_NAME, 3, 5, "unknown name `q`");
  /* `in` after `let NAME = E` ends E; inside brackets it is membership */
  c = COMPILE(
      "contract letin\nparam x : int(0..9)\noutput public a : bool\noutput public b : int\n"
      "output public d : bool\n"
      "a = let y = (x in [1, 2, 3]) in y\nb = let z = x in z * 2\n"
      "d = let q = x in q in [4, 5]\n");
  EXPECT_RUN(c, "{\"x\": 2}", "{\"a\": true, \"b\": 4, \"d\": false}");
  EXPECT_RUN(c, "{\"x\": 5}", "{\"a\": false, \"b\": 10, \"d\": true}");
  lang_free(c);
  /* prefix forms as operands; precedence of ! below comparisons; else-if chains */
  c = COMPILE(
      "contract prec2\narg x : int(-9..9)\noutput public a : int\noutput public b : bool\n"
      "output public d : int\noutput public e : int\n"
      "a = 2 * if x > 0 then 1 else 2 + 3\nb = true == !(x < 0) && !x < 0\n"
      "d = -x * 3 - -2\n"
      "var k = 0\nif x > 5 { k = 1 } else if x > 0 { k = 2 } else { k = 3 }\ne = k\n");
  EXPECT_RUN(c, "{\"x\": 7}", "{\"a\": 2, \"b\": true, \"d\": -19, \"e\": 1}");
  EXPECT_RUN(c, "{\"x\": 3}", "{\"a\": 2, \"b\": true, \"d\": -7, \"e\": 2}");
  EXPECT_RUN(c, "{\"x\": -4}", "{\"a\": 10, \"b\": false, \"d\": 14, \"e\": 3}");
  lang_free(c);
}
END_TEST

/* ---- the reference interpreter, by hand ------------------------------------------ */

START_TEST(test_ref_arith) {
  lang_contract *c = COMPILE(
      "contract arith\nparam a : int(-100..100)\nparam b : int(-100..100)\n"
      "output public s : int\noutput public d : int\noutput public p : int\n"
      "output public q : int\noutput public r : int\noutput public q2 : int\n"
      "output public r2 : int\noutput public n : int\noutput public r7 : int\n"
      "s = a + b\nd = a - b\np = a * b\nq = a / 2\nr = a % 2\nq2 = b / 3\nr2 = b % 3\n"
      "n = -a\nr7 = (a * b) % 7 + a / 1 + a % 1\n");
  /* floor division: -7 / 2 = -4 rem 1; -8 / 3 = -3 rem 1; 56 % 7 = 0 */
  EXPECT_RUN(
      c, "{\"a\": -7, \"b\": -8}",
      "{\"s\": -15, \"d\": 1, \"p\": 56, \"q\": -4, \"r\": 1, \"q2\": -3, \"r2\": 1, \"n\": 7, \"r7\": -7}");
  /* 7 / 2 = 3 rem 1; 8 / 3 = 2 rem 2; -56 % 7 = 0; 100 * -99 = -9900, % 7 = 5 (-9900 = 7 * -1415 + 5) */
  EXPECT_RUN(
      c, "{\"a\": 7, \"b\": 8}",
      "{\"s\": 15, \"d\": -1, \"p\": 56, \"q\": 3, \"r\": 1, \"q2\": 2, \"r2\": 2, \"n\": -7, \"r7\": 7}");
  EXPECT_RUN(c, "{\"a\": 100, \"b\": -99}",
             "{\"s\": 1, \"d\": 199, \"p\": -9900, \"q\": 50, \"r\": 0, \"q2\": -33, \"r2\": 0, \"n\": -100, "
             "\"r7\": 105}");
  lang_free(c);
}
END_TEST

START_TEST(test_ref_elementwise) {
  lang_contract *c = COMPILE(
      "contract elem\ninput hr.wages : int(0..1000)[4]\nparam bonus : int(0..10)\n"
      "output public yearly : int[4]\noutput public raised : int[4]\n"
      "output public high : bool[4]\noutput public nhigh : int\noutput private half : int[4]\n"
      "yearly = hr.wages * 12\nraised = hr.wages + [1, 2, 3, 4] * bonus\n"
      "high = hr.wages > 500\nnhigh = count(hr.wages >= 500)\n"
      "half = hr.wages - hr.wages / 2\n");
  EXPECT_RUN(c, "{\"hr.wages\": [100, 500, 901, 0], \"bonus\": 3}",
             "{\"yearly\": [1200, 6000, 10812, 0], \"raised\": [103, 506, 910, 12], "
             "\"high\": [false, false, true, false], \"nhigh\": 2, \"half\": [50, 250, 451, 0]}");
  lang_free(c);
  /* an if-expression over arrays selects elementwise with one condition */
  c = COMPILE(
      "contract sel\nparam c : bool\nparam v : int(0..9)[3]\noutput public o : int[3]\n"
      "o = if c then v * 2 else [7, 8, 9] - v\n");
  EXPECT_RUN(c, "{\"c\": true, \"v\": [1, 2, 3]}", "{\"o\": [2, 4, 6]}");
  EXPECT_RUN(c, "{\"c\": false, \"v\": [1, 2, 3]}", "{\"o\": [6, 6, 6]}");
  lang_free(c);
}
END_TEST

START_TEST(test_ref_loops) {
  lang_contract *c = COMPILE(
      "contract loops\ninput hr.x : int(0..100)[5]\narg mode : int(0..2)\n"
      "output public total : int\noutput public evens : int\noutput public pick : int\n"
      "output public sq : int[3]\noutput public tri : int\noutput public idx : int\n"
      "var t = 0\nfor i in 0..5 { t = t + hr.x[i] * i }\ntotal = t\n"
      "var e = 0\nfor v in hr.x { let even = v % 2 == 0\n e = e + (if even then 1 else 0) }\n"
      "evens = e\n"
      "var m = 0\nif mode == 0 { m = hr.x[0] } else if mode == 1 { m = hr.x[1] } else { m = 100 }\n"
      "pick = m\nsq = [hr.x[i] * hr.x[i] for i in 1..4]\n"
      "var k = 0\nfor i in 0..4 { if i > 0 { k = k + i } }\ntri = k\n"
      "var j = 0\nfor i in 0..3 { j = j + 1 }\nidx = hr.x[j + 1]\n");
  /* total = 0*3 + 1*4 + 2*5 + 3*6 + 4*10 = 72; evens: 4, 6, 10 */
  EXPECT_RUN(c, "{\"hr.x\": [3, 4, 5, 6, 10], \"mode\": 1}",
             "{\"total\": 72, \"evens\": 3, \"pick\": 4, \"sq\": [16, 25, 36], \"tri\": 6, \"idx\": 10}");
  EXPECT_RUN(c, "{\"hr.x\": [3, 4, 5, 6, 10], \"mode\": 0}",
             "{\"total\": 72, \"evens\": 3, \"pick\": 3, \"sq\": [16, 25, 36], \"tri\": 6, \"idx\": 10}");
  EXPECT_RUN(c, "{\"hr.x\": [0, 0, 0, 1, 0], \"mode\": 2}",
             "{\"total\": 3, \"evens\": 4, \"pick\": 100, \"sq\": [0, 0, 1], \"tri\": 6, \"idx\": 0}");
  lang_free(c);
  /* arrays of one element */
  c = COMPILE(
      "contract one\ninput d.v : int(0..9)[1]\nparam w : int(0..9)[1]\noutput public o : int[1]\n"
      "output public s : int\nvar a = w\nvar t = 0\nfor x in d.v { t = t + x\n a = a + x }\n"
      "for x in a { t = t + x * 10 }\no = [y + 1 for y in a] * d.v[0]\ns = t + sum(w) + min(d.v) + len(w)\n");
  /* a = [2 + 3] = [5]; t = 3 + 50 = 53; o = [6 * 3]; s = 53 + 2 + 3 + 1 */
  EXPECT_RUN(c, "{\"d.v\": [3], \"w\": [2]}", "{\"o\": [18], \"s\": 59}");
  lang_free(c);
  /* a for over an array copies it: the body may assign the var it runs over */
  c = COMPILE(
      "contract alias\nparam p : int(0..9)[3]\noutput public o : int[3]\noutput public s : int\n"
      "var a = p\nvar s2 = 0\nfor x in a { a = a + x\n s2 = s2 + x }\no = a\ns = s2\n");
  EXPECT_RUN(c, "{\"p\": [1, 2, 3]}", "{\"o\": [7, 8, 9], \"s\": 6}");
  lang_free(c);
}
END_TEST

START_TEST(test_ref_builtins) {
  lang_contract *c = COMPILE(
      "contract builtins\ninput hr.v : int(-50..50)[6]\nparam x : int(-50..50)\nparam flags : bool[3]\n"
      "output public mn : int\noutput public mx : int\noutput public sm : int\noutput public mn2 : int\n"
      "output public mx2 : int\noutput public cnt : int\noutput public an : bool\noutput public al : bool\n"
      "output public isin : bool\noutput public notin : bool\noutput public ln : int\noutput public sel : "
      "int\n"
      "output public lt : int\n"
      "mn = min(hr.v)\nmx = max(hr.v)\nsm = sum(hr.v)\nmn2 = min(x, hr.v[0])\nmx2 = max(x, hr.v[0])\n"
      "cnt = count(flags)\nan = any(flags)\nal = all(flags)\nisin = x in hr.v\nnotin = x not in hr.v\n"
      "ln = len(hr.v) + len(flags)\nsel = if x > 0 && flags[0] || !flags[2] then x else -x\n"
      "lt = let y = x * 2 in y + 1\n");
  EXPECT_RUN(c, "{\"hr.v\": [5, -3, 12, -50, 7, 0], \"x\": 7, \"flags\": [true, false, true]}",
             "{\"mn\": -50, \"mx\": 12, \"sm\": -29, \"mn2\": 5, \"mx2\": 7, \"cnt\": 2, \"an\": true, "
             "\"al\": false, "
             "\"isin\": true, \"notin\": false, \"ln\": 9, \"sel\": 7, \"lt\": 15}");
  EXPECT_RUN(c, "{\"hr.v\": [5, -3, 12, -50, 7, 0], \"x\": -4, \"flags\": [false, false, true]}",
             "{\"mn\": -50, \"mx\": 12, \"sm\": -29, \"mn2\": -4, \"mx2\": 5, \"cnt\": 1, \"an\": true, "
             "\"al\": false, "
             "\"isin\": false, \"notin\": true, \"ln\": 9, \"sel\": 4, \"lt\": -7}");
  EXPECT_RUN(c, "{\"hr.v\": [50, 50, 50, 50, 50, 50], \"x\": 50, \"flags\": [true, true, true]}",
             "{\"mn\": 50, \"mx\": 50, \"sm\": 300, \"mn2\": 50, \"mx2\": 50, \"cnt\": 3, \"an\": true, "
             "\"al\": true, "
             "\"isin\": true, \"notin\": false, \"ln\": 9, \"sel\": 50, \"lt\": 101}");
  lang_free(c);
  /* comprehensions over arrays, nested */
  c = COMPILE(
      "contract compr\nparam a : int(0..9)[3]\noutput public o : int[3]\noutput public t : int\n"
      "o = [x * 10 + 1 for x in a]\nt = sum([sum([i * j for j in 0..3]) for i in a])\n");
  /* t = sum over i in a of i * (0 + 1 + 2) = 3 * (2 + 4 + 6) = 36 */
  EXPECT_RUN(c, "{\"a\": [2, 4, 6]}", "{\"o\": [21, 41, 61], \"t\": 36}");
  lang_free(c);
}
END_TEST

/* ---- values and JSON ------------------------------------------------------------- */

#define JSRC                                                                                             \
  "contract j\ninput d.a : int(0..150)\ninput d.arr : int(-5..5)[3]\nparam flag : bool\narg big : int\n" \
  "output public o : int\noutput private b : int\noutput public f : bool[2]\n"                           \
  "o = d.a\nb = big\nf = [flag, !flag]\n"

static void json_err_at(int at, const lang_contract *c, const char *json, const char *want) {
  lang_values *v = lang_values_new(c);
  char err[256] = "";
  cx_err e = lang_values_from_json(v, json, strlen(json), err, sizeof err);
  ck_assert_msg(e == CX_E_LANG_INPUT && strcmp(err, want) == 0, "line %d: got %d '%s', want '%s'", at, e, err,
                want);
  lang_values_free(v);
}
#define JSON_ERR(c, json, want) json_err_at(__LINE__, c, json, want)

#define JOK_REST "\"d.arr\": [1, -2, 3], \"flag\": true, \"big\": 1"

START_TEST(test_values_json) {
  lang_contract *c = COMPILE(JSRC);
  EXPECT_RUN(c, "{\"d.a\": 44, \"d.arr\": [1, -2, 3], \"flag\": true, \"big\": \"9223372036854775807\"}",
             "{\"o\": 44, \"f\": [true, false], \"b\": \"9223372036854775807\"}");
  EXPECT_RUN(c, "{\"d.a\": 0, \"d.arr\": [-5, 5, 0], \"flag\": false, \"big\": \"-9223372036854775808\"}",
             "{\"o\": 0, \"f\": [false, true], \"b\": \"-9223372036854775808\"}");
  EXPECT_RUN(c, "{\"d.a\": 150, " JOK_REST "}", "{\"o\": 150, \"f\": [true, false], \"b\": 1}");
  EXPECT_RUN(c, "{\"d.a\": \"12\", \"d.arr\": [\"-1\", 0, 1.0], \"flag\": true, \"big\": 9007199254740991}",
             "{\"o\": 12, \"f\": [true, false], \"b\": 9007199254740991}");
  lang_free(c);
}
END_TEST

/* A caller's client reads only params and args: inputs are skipped, a
 * missing param is still an error, unknown names and outputs still refused,
 * and the flat vectors come back in port order. */
START_TEST(test_values_json_kinds) {
  lang_contract *c = COMPILE(JSRC);
  const unsigned kinds = LANG_KIND(LANG_PARAM) | LANG_KIND(LANG_ARG);
  char err[256] = "";
  lang_values *v = lang_values_new(c);
  const char *ok = "{\"flag\": true, \"big\": -7, \"d.a\": 999}"; /* an input, even out of range: skipped */
  ck_assert_int_eq(lang_values_read_json(v, ok, strlen(ok), kinds, err, sizeof err), CX_OK);
  const int64_t *vals;
  ck_assert_uint_eq(lang_values_flat(v, LANG_PARAM, &vals), 1);
  ck_assert_int_eq(vals[0], 1);
  ck_assert_uint_eq(lang_values_flat(v, LANG_ARG, &vals), 1);
  ck_assert_int_eq(vals[0], -7);
  ck_assert_uint_eq(lang_values_flat(v, LANG_INPUT, &vals), 4);
  ck_assert_int_eq(vals[0], 0); /* never set */
  int64_t out[8];
  ck_assert_int_eq(lang_run_circuit(c, v, out, err, sizeof err), CX_E_LANG_INPUT); /* inputs missing */
  lang_values_free(v);
  static const char *const bad[][2] = {
      {"{\"big\": 1}", "missing entry `flag`"},
      {"{\"flag\": true, \"big\": 1, \"zzz\": 1}", "unknown entry `zzz`: the contract has no such input, param or arg"},
      {"{\"flag\": true, \"big\": 1, \"o\": 1}", "`o` is an output, not an input, param or arg"},
      {"{\"flag\": 2, \"big\": 1}", "flag: expected true or false, got a number"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = lang_values_new(c);
    err[0] = 0;
    ck_assert_int_eq(lang_values_read_json(v, bad[i][0], strlen(bad[i][0]), kinds, err, sizeof err),
                     CX_E_LANG_INPUT);
    ck_assert_str_eq(err, bad[i][1]);
    lang_values_free(v);
  }
  lang_free(c);
}
END_TEST

START_TEST(test_values_json_errors) {
  lang_contract *c = COMPILE(JSRC);
  JSON_ERR(c, "{" JOK_REST "}", "missing entry `d.a`");
  JSON_ERR(c, "{\"d.a\": 1, \"zzz\": 1, " JOK_REST "}",
           "unknown entry `zzz`: the contract has no such input, param or arg");
  JSON_ERR(c, "{\"d.a\": 1, \"o\": 1, " JOK_REST "}", "`o` is an output, not an input, param or arg");
  JSON_ERR(c, "{\"d.a\": 1, \"d.a\": 2, " JOK_REST "}", "duplicate entry `d.a`");
  JSON_ERR(c, "{\"d.a\": true, " JOK_REST "}", "d.a: expected an integer, got a bool");
  JSON_ERR(c, "{\"d.a\": \"x1\", " JOK_REST "}", "d.a: a string must be a decimal integer");
  JSON_ERR(c, "{\"d.a\": \"012\", " JOK_REST "}", "d.a: a string must be a decimal integer");
  JSON_ERR(c, "{\"d.a\": 1.5, " JOK_REST "}", "d.a: expected an integer, got a fraction");
  JSON_ERR(c, "{\"d.a\": 200, " JOK_REST "}", "d.a: 200 is outside int(0..150)");
  JSON_ERR(c, "{\"d.a\": -1, " JOK_REST "}", "d.a: -1 is outside int(0..150)");
  JSON_ERR(c, "{\"d.a\": 1, \"d.arr\": [1, 9, 0], \"flag\": true, \"big\": 1}",
           "d.arr[1]: 9 is outside int(-5..5)");
  JSON_ERR(c, "{\"d.a\": 1, \"d.arr\": [1, 2], \"flag\": true, \"big\": 1}",
           "d.arr: expected an array of 3 values, got 2");
  JSON_ERR(c, "{\"d.a\": 1, \"d.arr\": 3, \"flag\": true, \"big\": 1}",
           "d.arr: expected an array of 3 values, got a number");
  JSON_ERR(c, "{\"d.a\": 1, \"d.arr\": [1, null, 2], \"flag\": true, \"big\": 1}",
           "d.arr[1]: expected an integer, got null");
  JSON_ERR(c, "{\"d.a\": 1, \"d.arr\": [1, 2, 3], \"flag\": 1, \"big\": 1}",
           "flag: expected true or false, got a number");
  JSON_ERR(c, "{\"d.a\": 1, \"d.arr\": [1, 2, 3], \"flag\": true, \"big\": 9007199254740993}",
           "big: an integer beyond 2^53 must be given as a decimal string");
  JSON_ERR(c, "{\"d.a\": 1, \"d.arr\": [1, 2, 3], \"flag\": true, \"big\": \"9223372036854775808\"}",
           "big: the decimal string does not fit in int64");
  JSON_ERR(c, "{\"d.a\": 1, \"d.arr\": [1, 2, 3], \"flag\": true, \"big\": \"+5\"}",
           "big: a string must be a decimal integer");
  JSON_ERR(c, "[1]", "the inputs must be a JSON object, not an array");
  JSON_ERR(c, "{\"d.a\": ", "the inputs are not valid JSON");

  /* lang_values_set and incomplete values */
  lang_values *v = lang_values_new(c);
  char err[256];
  int64_t x[3] = {1, 2, 3};
  ck_assert_int_eq(lang_values_set(v, "nope", x, 1, err, sizeof err), CX_E_NOT_FOUND);
  ck_assert_int_eq(lang_values_set(v, "o", x, 1, err, sizeof err), CX_E_NOT_FOUND);
  ck_assert_int_eq(lang_values_set(v, "d.arr", x, 2, err, sizeof err), CX_E_LANG_INPUT);
  ck_assert_str_eq(err, "d.arr: expected 3 values, got 2");
  ck_assert_int_eq(lang_values_set(v, "d.a", x, 3, err, sizeof err), CX_E_LANG_INPUT);
  ck_assert_str_eq(err, "d.a: expected 1 value, got 3");
  int64_t two = 2;
  ck_assert_int_eq(lang_values_set(v, "flag", &two, 1, err, sizeof err), CX_E_LANG_INPUT);
  ck_assert_str_eq(err, "flag: 2 is not a bool (0 or 1)");
  int64_t out[4];
  ck_assert_int_eq(lang_run_reference(c, v, out, err, sizeof err), CX_E_LANG_INPUT);
  ck_assert_str_eq(err, "missing value for `d.a`");
  ck_assert_int_eq(lang_run_circuit(c, v, out, err, sizeof err), CX_E_LANG_INPUT);
  ck_assert_int_eq(lang_values_set(v, "d.a", x, 1, err, sizeof err), CX_OK);
  ck_assert_int_eq(lang_values_set(v, "d.arr", x, 3, err, sizeof err), CX_OK);
  ck_assert_int_eq(lang_values_set(v, "flag", x, 1, err, sizeof err), CX_OK);
  ck_assert_int_eq(lang_run_circuit(c, v, out, err, sizeof err), CX_E_LANG_INPUT);
  ck_assert_str_eq(err, "missing value for `big`");
  int64_t big = INT64_MIN;
  ck_assert_int_eq(lang_values_set(v, "big", &big, 1, err, sizeof err), CX_OK);
  ck_assert_int_eq(lang_run_reference(c, v, out, err, sizeof err), CX_OK);
  /* flat outputs in port order: public ones (o, f[0], f[1]) before private ones (b) */
  ck_assert(out[0] == 1 && out[1] == 1 && out[2] == 0 && out[3] == INT64_MIN);
  lang_values_free(v);
  lang_free(c);
}
END_TEST

/* ---- the interface ---------------------------------------------------------------- */

START_TEST(test_interface) {
  lang_contract *c = COMPILE(
      "contract iface\nconst N = 3\ninput zeta.b : int(1..9)[N]\noutput private p : int\n"
      "arg y : int(1900..2200)\ninput alpha.a : bool\nparam q : int\ninput zeta.c : int\n"
      "output public o : bool\np = sum(zeta.b) + y\no = alpha.a\n");
  ck_assert_str_eq(lang_name(c), "iface");
  ck_assert_uint_eq(lang_nports(c), 7);
  /* kinds in order, declaration order within a kind */
  static const char *names[] = {"zeta.b", "alpha.a", "zeta.c", "q", "y", "o", "p"};
  static const int kinds[] = {LANG_INPUT, LANG_INPUT,      LANG_INPUT,      LANG_PARAM,
                              LANG_ARG,   LANG_OUT_PUBLIC, LANG_OUT_PRIVATE};
  for (size_t i = 0; i < 7; i++) {
    lang_port p;
    lang_port_get(c, i, &p);
    ck_assert_str_eq(p.name, names[i]);
    ck_assert_int_eq(p.kind, kinds[i]);
  }
  lang_port p;
  lang_port_get(c, 0, &p);
  ck_assert(p.len == 3 && p.lo == 1 && p.hi == 9 && !p.is_bool);
  lang_port_get(c, 1, &p);
  ck_assert(p.len == 0 && p.lo == 0 && p.hi == 1 && p.is_bool);
  lang_port_get(c, 3, &p);
  ck_assert(p.lo == INT64_MIN && p.hi == INT64_MAX);
  ck_assert_uint_eq(lang_outputs_len(c), 2);
  cx_domain_set ds;
  ck_assert_int_eq(lang_domains(c, &ds), CX_OK);
  ck_assert_uint_eq(ds.n, 2);
  ck_assert_str_eq(ds.d[0].name, "alpha");
  ck_assert_str_eq(ds.d[1].name, "zeta");

  /* a decoded contract has no source: no reference run */
  size_t n;
  const uint8_t *bc = lang_bytecode(c, &n);
  lang_contract *d;
  char err[256];
  ck_assert_int_eq(lang_decode(bc, n, &d, err, sizeof err), CX_OK);
  cx_hash h1, h2;
  lang_id(c, &h1);
  lang_id(d, &h2);
  ck_assert(hash_eq(&h1, &h2));
  lang_values *v = lang_values_new(d);
  int64_t out[2];
  const char *js = "{\"zeta.b\": [1,2,3], \"alpha.a\": true, \"zeta.c\": 0, \"q\": 5, \"y\": 2000}";
  ck_assert_int_eq(lang_values_from_json(v, js, strlen(js), err, sizeof err), CX_OK);
  ck_assert_int_eq(lang_run_reference(d, v, out, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_int_eq(lang_run_circuit(d, v, out, err, sizeof err), CX_OK);
  ck_assert(out[0] == 1 && out[1] == 2006);
  lang_values_free(v);
  lang_free(d);
  lang_free(c);

  /* diagnostics format */
  lang_diag dg = {.code = CX_E_LANG_NAME, .line = 3, .col = 7};
  strcpy(dg.msg, "unknown name `y`");
  char buf[128];
  lang_diag_format(&dg, "a.cst", buf, sizeof buf);
  ck_assert_str_eq(buf, "a.cst:3:7: error: unknown name `y`");
  dg.line = dg.col = 0;
  lang_diag_format(&dg, "a.cst", buf, sizeof buf);
  ck_assert_str_eq(buf, "a.cst: error: unknown name `y`");
  lang_free(NULL);
  lang_values_free(NULL);
}
END_TEST

START_TEST(test_determinism) {
  const char *src =
      "contract det\nparam a : int(0..9)[8]\nparam b : int(0..9)\noutput public o : int\n"
      "output public m : int\no = sum(a * b) + sum(a * b)\nm = max([a[i] - b for i in 0..8])\n";
  lang_contract *c1 = COMPILE(src), *c2 = COMPILE(src);
  size_t n1, n2;
  const uint8_t *b1 = lang_bytecode(c1, &n1), *b2 = lang_bytecode(c2, &n2);
  ck_assert(n1 == n2 && memcmp(b1, b2, n1) == 0);
  cx_hash h1, h2;
  lang_id(c1, &h1);
  lang_id(c2, &h2);
  ck_assert(hash_eq(&h1, &h2));
  hash_tagged(CX_TAG_CONTRACT, b1, n1, &h2);
  ck_assert(hash_eq(&h1, &h2));
  /* a different source (one comment) may give the same bytecode: the id is of the circuit */
  char *src2 = malloc(strlen(src) + 32);
  sprintf(src2, "# a comment\n%s", src);
  lang_contract *c3 = COMPILE(src2);
  lang_id(c3, &h2);
  ck_assert(hash_eq(&h1, &h2));
  free(src2);
  lang_free(c1);
  lang_free(c2);
  lang_free(c3);
}
END_TEST

/* ---- differential: samples ---------------------------------------------------------- */

/* A random value in [lo, hi], often an edge. */
static int64_t rand_in(int64_t lo, int64_t hi) {
  uint64_t span = (uint64_t)hi - (uint64_t)lo; /* hi - lo, mod 2^64 */
  switch (tu_rand() % 8) {
    case 0: return lo;
    case 1: return hi;
    case 2: return span >= 1 ? lo + 1 : lo;
    case 3: return span >= 1 ? hi - 1 : hi;
    case 4: return lo <= 0 && 0 <= hi ? 0 : lo;
    default:
      if (span == UINT64_MAX) return (int64_t)tu_rand();
      return (int64_t)((uint64_t)lo + tu_rand() % (span + 1));
  }
}

static void fill_random(const lang_contract *c, lang_values *v, lang_values *w) {
  int64_t vals[4096];
  char err[256];
  for (size_t i = 0; i < lang_nports(c); i++) {
    lang_port p;
    lang_port_get(c, i, &p);
    if (p.kind > LANG_ARG) continue;
    uint32_t n = p.len ? p.len : 1;
    for (uint32_t k = 0; k < n; k++) vals[k] = rand_in(p.lo, p.hi);
    ck_assert_int_eq(lang_values_set(v, p.name, vals, n, err, sizeof err), CX_OK);
    if (w) ck_assert_int_eq(lang_values_set(w, p.name, vals, n, err, sizeof err), CX_OK);
  }
}

/* reference == circuit == the circuit decoded from the bytecode, on `runs`
 * random inputs. */
static void differential(const char *what, const lang_contract *c, int runs) {
  size_t n;
  const uint8_t *bc = lang_bytecode(c, &n);
  lang_contract *d;
  char err[256];
  ck_assert_msg(lang_decode(bc, n, &d, err, sizeof err) == CX_OK, "%s: decode: %s", what, err);
  cx_hash h1, h2;
  lang_id(c, &h1);
  lang_id(d, &h2);
  ck_assert(hash_eq(&h1, &h2));
  size_t no = lang_outputs_len(c);
  ck_assert_uint_eq(lang_outputs_len(d), no);
  int64_t *o1 = calloc(no + 1, 8), *o2 = calloc(no + 1, 8), *o3 = calloc(no + 1, 8);
  lang_values *v = lang_values_new(c), *w = lang_values_new(d);
  for (int r = 0; r < runs; r++) {
    fill_random(c, v, w);
    ck_assert_msg(lang_run_reference(c, v, o1, err, sizeof err) == CX_OK, "%s: reference: %s", what, err);
    ck_assert_msg(lang_run_circuit(c, v, o2, err, sizeof err) == CX_OK, "%s: circuit: %s", what, err);
    ck_assert_msg(lang_run_circuit(d, w, o3, err, sizeof err) == CX_OK, "%s: decoded circuit: %s", what, err);
    if (memcmp(o1, o2, no * 8) != 0 || memcmp(o2, o3, no * 8) != 0) {
      char *j1 = lang_outputs_json(c, o1), *j2 = lang_outputs_json(c, o2), *j3 = lang_outputs_json(c, o3);
      ck_abort_msg("%s: run %d: reference %s, circuit %s, decoded %s", what, r, j1, j2, j3);
    }
  }
  lang_values_free(v);
  lang_values_free(w);
  free(o1);
  free(o2);
  free(o3);
  lang_free(d);
}

START_TEST(test_diff_samples) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/configs/contracts", CUSTOS_SOURCE_DIR);
  DIR *dp = opendir(dir);
  ck_assert_msg(dp, "no %s", dir);
  int seen = 0;
  struct dirent *de;
  while ((de = readdir(dp))) {
    size_t l = strlen(de->d_name);
    if (l < 5 || strcmp(de->d_name + l - 4, ".cst") != 0) continue;
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    size_t n;
    char *src = slurp(path, &n);
    ck_assert(src);
    lang_contract *c = NULL;
    lang_diag d;
    cx_err e = lang_compile(src, n, &c, &d);
    ck_assert_msg(e == CX_OK, "%s:%u:%u: %s", de->d_name, d.line, d.col, d.msg);
    differential(de->d_name, c, 3000);
    /* its inputs file runs, and both interpreters agree on it */
    snprintf(path + strlen(path) - 4, 20, ".inputs.json");
    size_t jn;
    char *js = slurp(path, &jn);
    if (js) {
      char *out = run_both(__LINE__, c, js);
      free(out);
      free(js);
    }
    lang_free(c);
    free(src);
    seen++;
  }
  closedir(dp);
  ck_assert_int_ge(seen, 5);
}
END_TEST

/* ---- differential: random contracts --------------------------------------------------- */

typedef struct {
  char *s;
  size_t n, cap;
  int loopvar; /* a loop counter is in scope (0..alen-1) */
  int alen;    /* elements of arr */
} gen;

static void gput(gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gput(gen *g, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int k = vsnprintf(g->s + g->n, g->cap - g->n, fmt, ap);
    va_end(ap);
    if ((size_t)k < g->cap - g->n) {
      g->n += (size_t)k;
      return;
    }
    g->cap = g->cap * 2 + (size_t)k + 64;
    g->s = realloc(g->s, g->cap);
  }
}

static void gen_bool(gen *g, int depth);

static void gen_int(gen *g, int depth) {
  uint64_t r = tu_rand() % (depth <= 0 ? 4 : 18);
  switch (r) {
    case 0: gput(g, "p%d", (int)(tu_rand() % 4)); break;
    case 1: gput(g, "%d", (int)(tu_rand() % 41) - 20); break;
    case 2: gput(g, "arr[%d]", (int)(tu_rand() % (uint64_t)g->alen)); break;
    case 3:
      if (g->loopvar)
        gput(g, "arr[i]");
      else
        gput(g, "g");
      break;
    case 4:
      gput(g, "(");
      gen_int(g, depth - 1);
      gput(g, " + ");
      gen_int(g, depth - 1);
      gput(g, ")");
      break;
    case 5:
      gput(g, "(");
      gen_int(g, depth - 1);
      gput(g, " - ");
      gen_int(g, depth - 1);
      gput(g, ")");
      break;
    case 6:
      gput(g, "(");
      gen_int(g, depth - 1);
      gput(g, " * ");
      gen_int(g, depth - 1);
      gput(g, ")");
      break;
    case 7:
      gput(g, "(");
      gen_int(g, depth - 1);
      gput(g, " / %d)", (int)(tu_rand() % 7) + 1);
      break;
    case 8:
      gput(g, "(");
      gen_int(g, depth - 1);
      gput(g, " %% %d)", (int)(tu_rand() % 7) + 1);
      break;
    case 9:
      gput(g, "-");
      gen_int(g, depth - 1);
      break;
    case 10:
      gput(g, "min(");
      gen_int(g, depth - 1);
      gput(g, ", ");
      gen_int(g, depth - 1);
      gput(g, ")");
      break;
    case 11:
      gput(g, "max(");
      gen_int(g, depth - 1);
      gput(g, ", ");
      gen_int(g, depth - 1);
      gput(g, ")");
      break;
    case 12:
      gput(g, "(if ");
      gen_bool(g, depth - 1);
      gput(g, " then ");
      gen_int(g, depth - 1);
      gput(g, " else ");
      gen_int(g, depth - 1);
      gput(g, ")");
      break;
    case 13:
      gput(g, "sum([");
      gen_int(g, depth - 1);
      gput(g, ", ");
      gen_int(g, depth - 1);
      gput(g, ", p1])");
      break;
    case 14:
      gput(g, "%s(arr %s p%d)", tu_rand() % 2 ? "min" : "max", tu_rand() % 2 ? "*" : "+",
           (int)(tu_rand() % 4));
      break;
    case 15:
      gput(g, "count([b0, ");
      gen_bool(g, depth - 1);
      gput(g, ", arr[0] > p2])");
      break;
    case 16:
      gput(g, "(let t = ");
      gen_int(g, depth - 1);
      gput(g, " in t * t - t)");
      break;
    default: gput(g, "sum([x * %d for x in arr])", (int)(tu_rand() % 5) - 2); break;
  }
}

static void gen_bool(gen *g, int depth) {
  static const char *cmp[] = {"<", "<=", ">", ">=", "==", "!="};
  uint64_t r = tu_rand() % (depth <= 0 ? 2 : 9);
  switch (r) {
    case 0: gput(g, "b0"); break;
    case 1: gput(g, "%s", tu_rand() % 2 ? "true" : "false"); break;
    case 2:
    case 3:
      gput(g, "(");
      gen_int(g, depth - 1);
      gput(g, " %s ", cmp[tu_rand() % 6]);
      gen_int(g, depth - 1);
      gput(g, ")");
      break;
    case 4:
      gput(g, "(");
      gen_bool(g, depth - 1);
      gput(g, " && ");
      gen_bool(g, depth - 1);
      gput(g, ")");
      break;
    case 5:
      gput(g, "(");
      gen_bool(g, depth - 1);
      gput(g, " || ");
      gen_bool(g, depth - 1);
      gput(g, ")");
      break;
    case 6:
      gput(g, "!");
      gen_bool(g, depth - 1);
      break;
    case 7:
      gput(g, "(");
      gen_int(g, depth - 1);
      gput(g, tu_rand() % 2 ? " in arr)" : " not in arr)");
      break;
    default:
      gput(g, "%s([", tu_rand() % 2 ? "any" : "all");
      gen_bool(g, depth - 1);
      gput(g, ", b0, ");
      gen_bool(g, depth - 1);
      gput(g, "])");
      break;
  }
}

START_TEST(test_diff_random) {
  int compiled = 0, tried = 0;
  for (int prog = 0; prog < 500; prog++) {
    gen g = {.cap = 1024, .alen = 1 + (int)(tu_rand() % 5)};
    g.s = malloc(g.cap);
    gput(&g,
         "contract rnd\nparam p0 : int(-1000000000..1000000000)\nparam p1 : int(-20..20)\nparam p2 : "
         "int(0..5)\n"
         "input d.p3 : int(-3..3)\ninput d.arr : int(-50..50)[%d]\nparam b0 : bool\narg g : int(0..3)\n"
         "output public i0 : int\noutput public i1 : int\noutput private i2 : int\noutput public o0 : bool\n"
         "output public o1 : bool\nlet p3 = d.p3\nlet arr = d.arr\n",
         g.alen);
    gput(&g, "i0 = ");
    gen_int(&g, 4);
    gput(&g, "\ni1 = ");
    gen_int(&g, 3);
    gput(&g, "\nvar acc = 0\nfor i in 0..%d {\n  acc = acc + ", g.alen);
    g.loopvar = 1;
    gen_int(&g, 2);
    g.loopvar = 0;
    gput(&g, "\n  if g > %d { acc = acc - ", (int)(tu_rand() % 4));
    gen_int(&g, 2);
    gput(&g, " }\n}\ni2 = acc\no0 = ");
    gen_bool(&g, 4);
    gput(&g, "\no1 = ");
    gen_bool(&g, 3);
    gput(&g, "\n");
    tried++;
    lang_contract *c = NULL;
    lang_diag d;
    cx_err e = lang_compile(g.s, g.n, &c, &d);
    /* the generator makes well-typed contracts; only a possible overflow may refuse one */
    ck_assert_msg(e == CX_OK || e == CX_E_LANG_RANGE, "generated contract refused (%d) %u:%u: %s\n%s", e,
                  d.line, d.col, d.msg, g.s);
    if (e == CX_OK) {
      differential(g.s, c, 60);
      compiled++;
      lang_free(c);
    }
    free(g.s);
  }
  fprintf(stderr, "random contracts: %d of %d compiled\n", compiled, tried);
  ck_assert_int_ge(compiled, tried / 4);
}
END_TEST

/* ---- golden vectors ------------------------------------------------------------------ */

START_TEST(test_golden) {
  static const char *samples[] = {"underwriting", "survival", "avg_salary", "millionaires", "cohort"};
  int regold = getenv("CUSTOS_LANG_REGOLD") != NULL;
  for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
    char path[1200];
    snprintf(path, sizeof path, "%s/configs/contracts/%s.cst", CUSTOS_SOURCE_DIR, samples[i]);
    size_t n;
    char *src = slurp(path, &n);
    ck_assert_msg(src, "no sample %s", path);
    lang_contract *c = NULL;
    lang_diag d;
    ck_assert_msg(lang_compile(src, n, &c, &d) == CX_OK, "%s: %s", samples[i], d.msg);
    size_t bl;
    const uint8_t *bc = lang_bytecode(c, &bl);
    char *hex = malloc(2 * bl + 1);
    hex_encode(bc, bl, hex);
    cx_hash id;
    lang_id(c, &id);
    char idhex[CX_HASH_HEX_LEN];
    hash_hex(&id, idhex);
    char *want = malloc(4 * bl + 512);
    sprintf(want,
            "# %s.cst compiled (docs/contract-language.md §6); rewrite: CUSTOS_LANG_REGOLD=1\nid "
            "%s\nbytecode %s\n",
            samples[i], idhex, hex);
    snprintf(path, sizeof path, "%s/lang/%s.golden", CUSTOS_VECTORS_DIR, samples[i]);
    if (regold) {
      FILE *f = fopen(path, "wb");
      ck_assert_msg(f, "cannot write %s", path);
      fputs(want, f);
      fclose(f);
    } else {
      size_t gl;
      char *got = slurp(path, &gl);
      ck_assert_msg(got, "no golden vector %s (run with CUSTOS_LANG_REGOLD=1)", path);
      ck_assert_msg(strcmp(got, want) == 0, "%s: compiled bytecode or id differs from %s", samples[i], path);
      free(got);
    }
    free(want);
    free(hex);
    free(src);
    lang_free(c);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("lang_front");
  TCase *te = tcase_create("errors");
  tcase_add_test(te, test_err_syntax);
  tcase_add_test(te, test_err_name);
  tcase_add_test(te, test_err_type);
  tcase_add_test(te, test_err_secrecy);
  tcase_add_test(te, test_err_range);
  tcase_add_test(te, test_err_limit);
  tcase_add_test(te, test_syntax_edges);
  suite_add_tcase(s, te);
  TCase *tr = tcase_create("reference");
  tcase_add_test(tr, test_ref_arith);
  tcase_add_test(tr, test_ref_elementwise);
  tcase_add_test(tr, test_ref_loops);
  tcase_add_test(tr, test_ref_builtins);
  tcase_add_test(tr, test_values_json);
  tcase_add_test(tr, test_values_json_errors);
  tcase_add_test(tr, test_values_json_kinds);
  tcase_add_test(tr, test_interface);
  tcase_add_test(tr, test_determinism);
  suite_add_tcase(s, tr);
  TCase *td = tcase_create("differential");
  tcase_set_timeout(td, 240);
  tcase_add_test(td, test_diff_samples);
  tcase_add_test(td, test_diff_random);
  tcase_add_test(td, test_golden);
  suite_add_tcase(s, td);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
