/* test_call_wire: call_wire_decode's MULTI kind (node/call_service.c, layout
 * in node/node_internal.h, docs/calls.md §2 "Messages of one step go
 * together"): the messages one step of a party's call service made for one
 * party, carried as one. Accepted: they come back in order, each as it was
 * sent. Refused, each with its own reason: fewer than two, a MULTI inside,
 * a header call that is not the first message's, a cut or trailing entry,
 * and any message inside that would be refused alone. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "node_internal.h"
#include "testutil.h"

/* version | COMMIT | call | str domain | root | count | leaf */
static size_t commit_msg(uint8_t *out, uint8_t call_byte) {
  size_t n = 0;
  out[n++] = CALL_WIRE_VERSION;
  out[n++] = CALL_COMMIT;
  memset(out + n, call_byte, 32), n += 32;
  out[n++] = 4;
  memcpy(out + n, "hrss", 4), n += 4;
  memset(out + n, 0xaa, 32), n += 32;
  memset(out + n, 0, 8), n += 8;
  out[n - 1] = 7;
  memset(out + n, 0xbb, 32), n += 32;
  return n;
}

/* version | SIG | call | status | statement | bytes blob | sig | str reason */
static size_t sig_msg(uint8_t *out, uint8_t call_byte) {
  size_t n = 0;
  out[n++] = CALL_WIRE_VERSION;
  out[n++] = CALL_SIG;
  memset(out + n, call_byte, 32), n += 32;
  out[n++] = 2; /* done */
  memset(out + n, 0xcc, 32), n += 32;
  out[n++] = 3;
  memcpy(out + n, "abc", 3), n += 3;
  memset(out + n, 0xdd, 64), n += 64;
  out[n++] = 0;
  return n;
}

/* version | MULTI | call of the first | k | k x (u32be len | message) */
static size_t multi_of(uint8_t *out, uint8_t k, const uint8_t *const *msgs, const size_t *lens) {
  size_t n = 0;
  out[n++] = CALL_WIRE_VERSION;
  out[n++] = CALL_MULTI;
  memcpy(out + n, msgs[0] + 2, 32), n += 32;
  out[n++] = k;
  for (size_t i = 0; i < k; i++) {
    put_be32(out + n, (uint32_t)lens[i]), n += 4;
    memcpy(out + n, msgs[i], lens[i]), n += lens[i];
  }
  return n;
}

static void refused(const uint8_t *p, size_t len, cx_err want, const char *why) {
  call_wire w;
  node_refusal r = {NULL, NULL};
  cx_err e = call_wire_decode(p, len, &w, &r);
  ck_assert_msg(e == want, "%s: got %s, want %s (%s)", why, cx_err_name(e), cx_err_name(want),
                r.why ? r.why : "no reason");
  ck_assert_ptr_nonnull(r.why);
  ck_assert_msg(strstr(r.why, why) != NULL, "reason \"%s\", want \"%s\"", r.why, why);
}

START_TEST(test_multi_roundtrip) {
  uint8_t a[256], b[256], c[256], m[1024];
  size_t la = commit_msg(a, 1), lb = sig_msg(b, 2), lc = commit_msg(c, 3);
  const uint8_t *msgs[] = {a, b, c};
  size_t lens[] = {la, lb, lc};
  size_t lm = multi_of(m, 3, msgs, lens);
  call_wire w;
  node_refusal r = {NULL, NULL};
  ck_assert_int_eq(call_wire_decode(m, lm, &w, &r), CX_OK);
  ck_assert_int_eq(w.kind, CALL_MULTI);
  ck_assert_uint_eq(w.mk, 3);
  ck_assert_mem_eq(w.call.b, a + 2, 32);
  size_t off = 0, ml, i = 0;
  const uint8_t *p;
  while (call_wire_next(&w, &off, &p, &ml)) {
    ck_assert_uint_lt(i, 3);
    ck_assert_uint_eq(ml, lens[i]);
    ck_assert_mem_eq(p, msgs[i], ml);
    call_wire in;
    ck_assert_int_eq(call_wire_decode(p, ml, &in, NULL), CX_OK);
    ck_assert_int_eq(in.kind, i == 1 ? CALL_SIG : CALL_COMMIT);
    i++;
  }
  ck_assert_uint_eq(i, 3);
  /* not a MULTI: no entries to walk */
  call_wire one;
  ck_assert_int_eq(call_wire_decode(a, la, &one, NULL), CX_OK);
  off = 0;
  ck_assert_int_eq(call_wire_next(&one, &off, &p, &ml), 0);
}
END_TEST

START_TEST(test_multi_refusals) {
  uint8_t a[256], b[256], m[1024], bad[1024], inner[1024];
  size_t la = commit_msg(a, 1), lb = sig_msg(b, 2);
  const uint8_t *two[] = {a, b};
  size_t lens2[] = {la, lb};
  size_t lm = multi_of(m, 2, two, lens2);

  /* one message only: it goes alone, never in a MULTI */
  const uint8_t *one[] = {a};
  size_t lone[] = {la};
  size_t l1 = multi_of(bad, 1, one, lone);
  refused(bad, l1, CX_E_INVALID_ARG, "fewer than two");
  /* no count */
  refused(m, CALL_WIRE_HDR, CX_E_TRUNCATED, "without its count");
  /* a MULTI inside a MULTI */
  size_t li = multi_of(inner, 2, two, lens2);
  const uint8_t *nest[] = {inner, a};
  size_t lnest[] = {li, la};
  size_t ln = multi_of(bad, 2, nest, lnest);
  refused(bad, ln, CX_E_INVALID_ARG, "inside another");
  /* header call not the first message's */
  memcpy(bad, m, lm);
  bad[2] ^= 1;
  refused(bad, lm, CX_E_INVALID_ARG, "not its first one's");
  /* cut inside the last entry, and inside a length */
  refused(m, lm - 1, CX_E_TRUNCATED, "cut short");
  refused(m, CALL_WIRE_HDR + 1 + 2, CX_E_TRUNCATED, "cut short");
  /* a length running past the end */
  memcpy(bad, m, lm);
  put_be32(bad + CALL_WIRE_HDR + 1, (uint32_t)lm);
  refused(bad, lm, CX_E_TRUNCATED, "cut short");
  /* trailing bytes */
  memcpy(bad, m, lm);
  bad[lm] = 0;
  refused(bad, lm + 1, CX_E_TRAILING, "trailing bytes");
  /* a malformed message inside: the lot refused with its own reason */
  memcpy(bad, m, lm);
  bad[CALL_WIRE_HDR + 1 + 4 + CALL_WIRE_HDR] = 200; /* the COMMIT's domain length */
  call_wire w;
  node_refusal r = {NULL, NULL};
  ck_assert_int_ne(call_wire_decode(bad, lm, &w, &r), CX_OK);
  ck_assert_str_eq(r.why, "malformed commitment");
  /* an unknown kind inside */
  memcpy(bad, m, lm);
  bad[CALL_WIRE_HDR + 1 + 4 + 1] = 9;
  refused(bad, lm, CX_E_BAD_ENUM, "unknown kind");
  /* and the unknown kind past MULTI outside */
  memcpy(bad, a, la);
  bad[1] = CALL_MULTI + 1;
  refused(bad, la, CX_E_BAD_ENUM, "unknown kind");
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("call_wire");
  TCase *tc = tcase_create("multi");
  tcase_add_test(tc, test_multi_roundtrip);
  tcase_add_test(tc, test_multi_refusals);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
