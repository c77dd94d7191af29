/* Tests for node/vault_import.c, the record files of `custos vault import`:
 * CSV and JSON read against a schema (column order, quoting, CRLF, blank
 * lines, BOM, the did: prefix, bool spellings, the int64 edges), every
 * refusal with the line or record it names, duplicate DIDs, the JSON value
 * rule shared with admin_vault_import, and random record sets written as
 * CSV and as JSON that parse back to exactly themselves. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vault_import.h"

static void add_field(vault_schema *s, const char *name, int is_bool, int64_t lo, int64_t hi) {
  vault_field *f = &s->fields[s->nfields++];
  memset(f, 0, sizeof *f);
  snprintf(f->name, sizeof f->name, "%s", name);
  f->is_bool = is_bool;
  f->lo = lo;
  f->hi = hi;
}

/* hrss: age 0..150, smoker bool, income, score (any int64). */
static void schema(vault_schema *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->domain, sizeof s->domain, "hrss");
  add_field(s, "age", 0, 0, 150);
  add_field(s, "smoker", 1, 0, 1);
  add_field(s, "income", 0, -1000000, 1000000000000);
  add_field(s, "score", 0, INT64_MIN, INT64_MAX);
}

static const char D1[] = "1111111111111111111111111111111111111111111111111111111111111111";
static const char D2[] = "2222222222222222222222222222222222222222222222222222222222222222";
static const char D3[] = "abcdefABCDEF0123456789abcdefABCDEF0123456789abcdefABCDEF01234567";

static cx_err csv(const char *text, vimport_set *out, char *err, size_t el) {
  vault_schema s;
  schema(&s);
  return vimport_csv(text, strlen(text), &s, out, err, el);
}

static cx_err json(const char *text, vimport_set *out, char *err, size_t el) {
  vault_schema s;
  schema(&s);
  return vimport_json(text, strlen(text), &s, out, err, el);
}

static void expect_vals(const vimport_set *set, size_t i, int64_t a, int64_t b, int64_t c, int64_t d) {
  const int64_t *v = set->vals + i * set->nfields;
  ck_assert_int_eq(v[0], a);
  ck_assert_int_eq(v[1], b);
  ck_assert_int_eq(v[2], c);
  ck_assert_int_eq(v[3], d);
}

/* ---- CSV ---------------------------------------------------------------- */

START_TEST(test_csv_ok) {
  char text[2048], err[256] = "";
  vimport_set set;
  /* BOM, columns in another order, quoted cells, CRLF, blank lines, spaces,
   * the did: prefix, bool spellings, int64 edges, no final newline. */
  snprintf(text, sizeof text,
           "\xef\xbb\xbf" "income, did ,score,smoker,age\r\n"
           "\r\n"
           "-1000000,%s,-9223372036854775808,TRUE,0\r\n"
           "  \t \n"
           "\"1000000000000\",\"did:custos:%s\",9223372036854775807,0, 150 \n"
           "+7,%s,\" 42 \",false,\"1\"",
           D1, D2, D3);
  cx_err e = csv(text, &set, err, sizeof err);
  ck_assert_msg(e == CX_OK, "%s", err);
  ck_assert_uint_eq(set.n, 3);
  ck_assert_uint_eq(set.nfields, 4);
  ck_assert_uint_eq(set.where[0], 3);
  ck_assert_uint_eq(set.where[1], 5);
  ck_assert_uint_eq(set.where[2], 6);
  expect_vals(&set, 0, 0, 1, -1000000, INT64_MIN);
  expect_vals(&set, 1, 150, 0, 1000000000000, INT64_MAX);
  expect_vals(&set, 2, 1, 0, 7, 42);
  cx_hash d;
  ck_assert_int_eq(vimport_did(D2, 64, &d), 0);
  ck_assert_mem_eq(set.dids[1].b, d.b, 32);
  ck_assert_int_eq(vimport_did(D3, 64, &d), 0);
  ck_assert_mem_eq(set.dids[2].b, d.b, 32);
  ck_assert_uint_eq(set.dids[2].b[0], 0xab);
  vimport_free(&set);
  ck_assert_ptr_null(set.vals);
  vimport_free(&set); /* twice is fine */
}
END_TEST

START_TEST(test_csv_refusals) {
  static const struct {
    const char *body; /* after the header "did,age,smoker,income,score\n"; %s = a DID */
    const char *sentence;
  } rows[] = {
      {"%s,151,0,0,0\n", "line 2: age: 151 is outside 0..150"},
      {"%s,-1,0,0,0\n", "line 2: age: -1 is outside 0..150"},
      {"%s,1,2,0,0\n", "line 2: smoker: expected true, false, 0 or 1"},
      {"%s,1,yes,0,0\n", "line 2: smoker: expected true, false, 0 or 1"},
      {"%s,1,0,1000000000001,0\n", "line 2: income: 1000000000001 is outside -1000000..1000000000000"},
      {"%s,1,0,0,9223372036854775808\n", "line 2: score: beyond the int64 range"},
      {"%s,1,0,0,-9223372036854775809\n", "line 2: score: beyond the int64 range"},
      {"%s,1.5,0,0,0\n", "line 2: age: expected a decimal integer"},
      {"%s,0x10,0,0,0\n", "line 2: age: expected a decimal integer"},
      {"%s,-,0,0,0\n", "line 2: age: expected a decimal integer"},
      {"%s,,0,0,0\n", "line 2: age: empty"},
      {"%s,1,0,0\n", "line 2: 4 cells, the header has 5"},
      {"%s,1,0,0,0,\n", "line 2: more than the header's 5 cells"},
      {"%s,1,0,0,0,9\n", "line 2: more than the header's 5 cells"},
      {"%s,\"1,0,0,0\n", "line 2: a quote is not closed on its line"},
      {"%s,\"1\"x,0,0,0\n", "line 2: text after a quoted cell"},
      {"%s,1,0,0,0\n\n%s,1,0,0,0\n", "line 4: did: the same as line 2"},
      {"123,1,0,0,0\n", "line 2: did: expected 64 hex digits"},
      {"did:other:%s,1,0,0,0\n", "line 2: did: expected 64 hex digits"},
      {"%s,1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111,"
       "0,0,0\n", "line 2: a cell is over 96 bytes"},
      {"\n\n", "no records after the header"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char text[1024], body[512], err[256] = "";
    vimport_set set;
    snprintf(body, sizeof body, rows[i].body, D1, D1);
    snprintf(text, sizeof text, "did,age,smoker,income,score\n%s", body);
    cx_err e = csv(text, &set, err, sizeof err);
    ck_assert_msg(e == CX_E_INVALID_ARG, "row %zu: %s", i, cx_err_name(e));
    ck_assert_msg(strstr(err, rows[i].sentence) == err, "row %zu: got \"%s\", want \"%s\"", i, err,
                  rows[i].sentence);
    ck_assert_uint_eq(set.n, 0);
    ck_assert_ptr_null(set.vals);
  }
}
END_TEST

START_TEST(test_csv_header_refusals) {
  static const struct {
    const char *text;
    const char *sentence;
  } cases[] = {
      {"", "no header line"},
      {"\n  \n", "no header line"},
      {"age,smoker,income,score\n", "line 1: no did column"},
      {"did,age,smoker,income\n", "line 1: no column for field score"},
      {"did,age,smoker,income,score,did\n", "line 1: column did twice"},
      {"did,age,age,smoker,income,score\n", "line 1: column age twice"},
      {"\ndid,age,weight,smoker,income,score\n",
       "line 2: column 3 (\"weight\") is not a field of domain hrss"},
      {"did,Age,smoker,income,score\n", "line 1: column 2 (\"Age\") is not a field"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char err[256] = "";
    vimport_set set;
    cx_err e = csv(cases[i].text, &set, err, sizeof err);
    ck_assert_msg(e == CX_E_INVALID_ARG, "case %zu: %s", i, cx_err_name(e));
    ck_assert_msg(strstr(err, cases[i].sentence) == err, "case %zu: got \"%s\"", i, err);
  }
  /* A NUL byte anywhere is refused (the length is explicit, not strlen). */
  static const char nul[] = "did,age,smoker,income,score\nab\0cd\n";
  vault_schema s;
  char err[256] = "";
  vimport_set set;
  schema(&s);
  ck_assert_int_eq(vimport_csv(nul, sizeof nul - 1, &s, &set, err, sizeof err), CX_E_INVALID_ARG);
  ck_assert_str_eq(err, "the file holds a NUL byte");
  /* 66 columns: more than did and 64 fields could be. */
  char wide[1024] = "did";
  for (int k = 0; k < 65; k++) strcat(wide, ",age");
  ck_assert_int_eq(vimport_csv(wide, strlen(wide), &s, &set, err, sizeof err), CX_E_INVALID_ARG);
}
END_TEST

/* A record's where is its line even with blank lines and CRLF between. */
START_TEST(test_csv_lines) {
  char text[4096] = "did,age,smoker,income,score\r\n", err[256] = "";
  size_t want[20], k = 0, line = 1;
  for (int i = 0; i < 20; i++) {
    char row[128];
    for (int b = 0; b < i % 3; b++) {
      strcat(text, b ? "\n" : " \r\n");
      line++;
    }
    snprintf(row, sizeof row, "%064x,%d,1,%d,0\r\n", i + 1, i, -i);
    strcat(text, row);
    want[k++] = ++line;
  }
  vimport_set set;
  ck_assert_msg(csv(text, &set, err, sizeof err) == CX_OK, "%s", err);
  ck_assert_uint_eq(set.n, 20);
  for (size_t i = 0; i < 20; i++) {
    ck_assert_uint_eq(set.where[i], want[i]);
    ck_assert_int_eq(set.vals[i * 4 + 2], -(int64_t)i);
  }
  vimport_free(&set);
  /* the last record's age out of range: named by its line */
  char *p = strstr(text, ",19,1,-19,0\r\n");
  ck_assert_ptr_nonnull(p);
  strcpy(p, ",199,1,-19,0\r\n");
  ck_assert_int_eq(csv(text, &set, err, sizeof err), CX_E_INVALID_ARG);
  char want_err[64];
  snprintf(want_err, sizeof want_err, "line %zu: age: 199 is outside 0..150", want[19]);
  ck_assert_str_eq(err, want_err);
}
END_TEST

/* ---- JSON --------------------------------------------------------------- */

START_TEST(test_json_ok) {
  char text[1024], err[256] = "";
  vimport_set set;
  snprintf(text, sizeof text,
           "[{\"did\": \"%s\", \"age\": 3, \"smoker\": true, \"income\": -5,"
           " \"score\": \"-9223372036854775808\"},"
           " {\"score\": 9007199254740992, \"income\": 0, \"smoker\": 0, \"age\": \"150\","
           " \"did\": \"did:custos:%s\"}]",
           D1, D2);
  cx_err e = json(text, &set, err, sizeof err);
  ck_assert_msg(e == CX_OK, "%s", err);
  ck_assert_uint_eq(set.n, 2);
  ck_assert_uint_eq(set.where[0], 0);
  ck_assert_uint_eq(set.where[1], 1);
  expect_vals(&set, 0, 3, 1, -5, INT64_MIN);
  expect_vals(&set, 1, 150, 0, 0, 9007199254740992LL);
  vimport_free(&set);
}
END_TEST

START_TEST(test_json_refusals) {
  static const struct {
    const char *text; /* %s = a DID */
    const char *sentence;
  } cases[] = {
      {"{", "not valid JSON"},
      {"{\"did\": \"%s\"}", "expected an array of records"},
      {"[]", "the array holds no records"},
      {"[1]", "record 0: expected an object"},
      {"[{\"age\": 1, \"smoker\": 0, \"income\": 0, \"score\": 0}]", "record 0: no did"},
      {"[{\"did\": \"%s\", \"age\": 1, \"smoker\": 0, \"income\": 0}]", "record 0: score: missing"},
      {"[{\"did\": \"%s\", \"age\": 1, \"smoker\": 0, \"income\": 0, \"score\": 0, \"x\": 1}]",
       "record 0: \"x\" is not a field of domain hrss"},
      {"[{\"did\": \"%s\", \"age\": 1, \"age\": 2, \"smoker\": 0, \"income\": 0, \"score\": 0}]",
       "record 0: age: given twice"},
      {"[{\"did\": \"%s\", \"did\": \"%s\", \"age\": 1, \"smoker\": 0, \"income\": 0, \"score\": 0}]",
       "record 0: did: given twice"},
      {"[{\"did\": 5, \"age\": 1, \"smoker\": 0, \"income\": 0, \"score\": 0}]",
       "record 0: did: expected 64 hex"},
      {"[{\"did\": \"%s\", \"age\": 151, \"smoker\": 0, \"income\": 0, \"score\": 0}]",
       "record 0: age: 151 is outside 0..150"},
      {"[{\"did\": \"%s\", \"age\": 1.5, \"smoker\": 0, \"income\": 0, \"score\": 0}]",
       "record 0: age: expected an integer"},
      {"[{\"did\": \"%s\", \"age\": 1, \"smoker\": 0, \"income\": 0, \"score\": 9007199254740994}]",
       "record 0: score: expected an integer (beyond +-2^53 as a decimal string)"},
      {"[{\"did\": \"%s\", \"age\": 1, \"smoker\": \"true\", \"income\": 0, \"score\": 0}]",
       "record 0: smoker: expected true, false, 0 or 1"},
      {"[{\"did\": \"%s\", \"age\": 1, \"smoker\": 2, \"income\": 0, \"score\": 0}]",
       "record 0: smoker: expected true, false, 0 or 1"},
      {"[{\"did\": \"%s\", \"age\": null, \"smoker\": 0, \"income\": 0, \"score\": 0}]",
       "record 0: age: expected an integer"},
      {"[{\"did\": \"%s\", \"age\": \"1e3\", \"smoker\": 0, \"income\": 0, \"score\": 0}]",
       "record 0: age: expected an integer"},
      {"[{\"did\": \"%s\", \"age\": 1, \"smoker\": 0, \"income\": 0, \"score\": \"99999999999999999999\"}]",
       "record 0: score: beyond the int64 range"},
      {"[{\"did\": \"%s\", \"age\": 1, \"smoker\": 0, \"income\": 0, \"score\": 0},"
       " {\"did\": \"%s\", \"age\": 1, \"smoker\": 0, \"income\": 0, \"score\": 0}]",
       "record 1: did: the same as record 0"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char text[1024], err[256] = "";
    vimport_set set;
    snprintf(text, sizeof text, cases[i].text, D1, D1);
    cx_err e = json(text, &set, err, sizeof err);
    ck_assert_msg(e == CX_E_INVALID_ARG, "case %zu: %s", i, cx_err_name(e));
    ck_assert_msg(strstr(err, cases[i].sentence) == err, "case %zu: got \"%s\", want \"%s\"", i, err,
                  cases[i].sentence);
    ck_assert_uint_eq(set.n, 0);
  }
}
END_TEST

START_TEST(test_json_value) {
  vault_field i64 = {.name = "x", .is_bool = 0, .lo = INT64_MIN, .hi = INT64_MAX};
  vault_field b = {.name = "b", .is_bool = 1, .lo = 0, .hi = 1};
  char why[128];
  int64_t v = 0;
  cJSON *j = cJSON_CreateNumber(-9007199254740992.0);
  ck_assert_int_eq(vimport_json_value(j, &i64, &v, why, sizeof why), CX_OK);
  ck_assert_int_eq(v, -9007199254740992LL);
  ck_assert_int_eq(vimport_json_value(j, &b, &v, why, sizeof why), CX_E_INVALID_ARG);
  cJSON_Delete(j);
  j = cJSON_CreateNumber(-9007199254740994.0);
  ck_assert_int_eq(vimport_json_value(j, &i64, &v, why, sizeof why), CX_E_INVALID_ARG);
  ck_assert(strstr(why, "-9007") == NULL); /* the reason does not repeat the value */
  cJSON_Delete(j);
  j = cJSON_CreateString("9223372036854775807");
  ck_assert_int_eq(vimport_json_value(j, &i64, &v, why, sizeof why), CX_OK);
  ck_assert_int_eq(v, INT64_MAX);
  cJSON_Delete(j);
  j = cJSON_CreateString("");
  ck_assert_int_eq(vimport_json_value(j, &i64, &v, why, sizeof why), CX_E_INVALID_ARG);
  cJSON_Delete(j);
  j = cJSON_CreateFalse();
  ck_assert_int_eq(vimport_json_value(j, &b, &v, why, sizeof why), CX_OK);
  ck_assert_int_eq(v, 0);
  ck_assert_int_eq(vimport_json_value(j, &i64, &v, why, sizeof why), CX_E_INVALID_ARG);
  cJSON_Delete(j);
  ck_assert_int_eq(vimport_json_value(NULL, &i64, &v, why, sizeof why), CX_E_INVALID_ARG);
  vault_field age = {.name = "age", .lo = 0, .hi = 150};
  ck_assert_int_eq(vimport_check(&age, 150, why, sizeof why), CX_OK);
  ck_assert_int_eq(vimport_check(&age, 151, why, sizeof why), CX_E_INVALID_ARG);
  ck_assert_str_eq(why, "age: 151 is outside 0..150");
  ck_assert_int_eq(vimport_check(&b, -1, why, sizeof why), CX_E_INVALID_ARG);
  ck_assert_str_eq(why, "b: -1 is not a bool (0 or 1)");
}
END_TEST

/* ---- round trips -------------------------------------------------------- */

static int64_t rand_in(int64_t lo, int64_t hi) {
  uint64_t span = (uint64_t)hi - (uint64_t)lo;
  uint64_t r = tu_rand();
  switch (r % 4) {
    case 0: return lo;
    case 1: return hi;
    default:
      return span == UINT64_MAX ? (int64_t)tu_rand() : (int64_t)((uint64_t)lo + tu_rand() % (span + 1));
  }
}

START_TEST(test_round_trip) {
  vault_schema s;
  schema(&s);
  for (int round = 0; round < 50; round++) {
    size_t n = 1 + tu_rand() % 200;
    int64_t *want = malloc(n * 4 * sizeof *want);
    cx_hash *dids = malloc(n * sizeof *dids);
    size_t cap = 256 * (n + 2);
    char *c = malloc(cap), *j = malloc(cap);
    ck_assert(want && dids && c && j);
    size_t cl = (size_t)snprintf(c, cap, "score,smoker,did,income,age\n");
    size_t jl = (size_t)snprintf(j, cap, "[");
    for (size_t i = 0; i < n; i++) {
      char hex[65];
      tu_randbytes(dids[i].b, 32);
      hex_encode(dids[i].b, 32, hex);
      for (size_t f = 0; f < 4; f++) want[i * 4 + f] = rand_in(s.fields[f].lo, s.fields[f].hi);
      const int64_t *w = want + i * 4;
      cl += (size_t)snprintf(c + cl, cap - cl, "%lld,%s,%s%s,%lld,%lld\n", (long long)w[3],
                             w[1] ? "true" : "0", i % 2 ? "did:custos:" : "", hex, (long long)w[2],
                             (long long)w[0]);
      jl += (size_t)snprintf(j + jl, cap - jl,
                             "%s{\"did\":\"%s\",\"age\":%lld,\"smoker\":%s,\"income\":%lld,"
                             "\"score\":\"%lld\"}",
                             i ? "," : "", hex, (long long)w[0], w[1] ? "true" : "false", (long long)w[2],
                             (long long)w[3]);
    }
    jl += (size_t)snprintf(j + jl, cap - jl, "]");
    ck_assert_uint_lt(cl, cap);
    ck_assert_uint_lt(jl, cap);
    for (int form = 0; form < 2; form++) {
      vimport_set set;
      char err[256] = "";
      cx_err e = form ? vimport_json(j, jl, &s, &set, err, sizeof err)
                      : vimport_csv(c, cl, &s, &set, err, sizeof err);
      ck_assert_msg(e == CX_OK, "round %d form %d: %s", round, form, err);
      ck_assert_uint_eq(set.n, n);
      ck_assert_mem_eq(set.vals, want, n * 4 * sizeof *want);
      for (size_t i = 0; i < n; i++) {
        ck_assert_mem_eq(set.dids[i].b, dids[i].b, 32);
        ck_assert_uint_eq(set.where[i], form ? i : i + 2);
      }
      vimport_free(&set);
    }
    free(want);
    free(dids);
    free(c);
    free(j);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("vault_import");
  TCase *tc = tcase_create("vault_import");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_csv_ok);
  tcase_add_test(tc, test_csv_refusals);
  tcase_add_test(tc, test_csv_header_refusals);
  tcase_add_test(tc, test_csv_lines);
  tcase_add_test(tc, test_json_ok);
  tcase_add_test(tc, test_json_refusals);
  tcase_add_test(tc, test_json_value);
  tcase_add_test(tc, test_round_trip);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
