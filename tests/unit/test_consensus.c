/* The consensus engine's seam, driven without sockets, disk or clock. */
#include <string.h>

#include "consensus.h"
#include "testutil.h"

static cx_seckey *g_key;
static int g_sign_fail;
static int g_signed;

static cx_err signer(void *ctx, const uint8_t msg[32], cx_sig *out) {
  (void)ctx;
  if (g_sign_fail) return CX_E_CRYPTO;
  g_signed++;
  return key_sign32(g_key, msg, NULL, out);
}

static cs_engine *make(uint64_t committed, const cs_safety *s, cx_pubkey *pk) {
  if (!g_key) g_key = key_generate();
  key_public(g_key, pk);
  cs_config c = {.validators = pk, .nvalidators = 1, .self = 0, .block_interval_ms = 100,
                 .sign = signer};
  memset(c.chain_id.b, 7, 32);
  cs_engine *e = NULL;
  ck_assert_int_eq(cs_new(&c, committed, s, &e), CX_OK);
  return e;
}

static void hash_of(int v, cx_hash *h) { memset(h->b, v, 32); }

/* Runs one height from timer to commit; returns the cert. */
static cx_cert run_height(cs_engine *e, uint64_t h, uint64_t view, int blockv, cs_safety *persisted) {
  cs_action a[CS_MAX_ACTIONS];
  cs_event ev = {.type = CS_EV_TIMER, .height = h, .view = view};
  ck_assert_uint_eq(cs_step(e, &ev, a), 1);
  ck_assert_int_eq(a[0].type, CS_ACT_BUILD_BLOCK);
  ck_assert_uint_eq(a[0].height, h);
  cs_event r = {.type = CS_EV_BLOCK_READY, .height = h, .view = a[0].view};
  hash_of(blockv, &r.block_hash);
  ck_assert_uint_eq(cs_step(e, &r, a), 1);
  ck_assert_int_eq(a[0].type, CS_ACT_PERSIST_SAFETY);
  ck_assert_uint_eq(a[0].safety.height, h);
  *persisted = a[0].safety;
  int before = g_signed;
  cs_event p = {.type = CS_EV_PERSISTED, .height = h, .view = a[0].safety.view};
  ck_assert_uint_eq(cs_step(e, &p, a), 1);
  ck_assert_int_eq(a[0].type, CS_ACT_COMMIT);
  ck_assert_int_eq(g_signed, before + 1); /* signed only after PERSISTED */
  return a[0].cert;
}

START_TEST(test_refuses_many_validators) {
  cx_pubkey pk[4] = {0};
  cs_config c = {.validators = pk, .nvalidators = 4, .self = 0, .sign = signer};
  cs_engine *e = NULL;
  ck_assert_int_eq(cs_new(&c, 0, NULL, &e), CX_E_CONFIG);
  ck_assert_ptr_null(e);
}
END_TEST

START_TEST(test_heights_commit_with_valid_certs) {
  cx_pubkey pk;
  cs_engine *e = make(0, NULL, &pk);
  cs_action a[CS_MAX_ACTIONS];
  ck_assert_uint_eq(cs_start(e, a), 1);
  ck_assert_int_eq(a[0].type, CS_ACT_SET_TIMER);
  ck_assert_uint_eq(a[0].height, 1);
  for (uint64_t h = 1; h <= 5; h++) {
    cs_safety s;
    cx_cert c = run_height(e, h, 0, (int)h, &s);
    cx_hash bh, chain;
    hash_of((int)h, &bh);
    memset(chain.b, 7, 32);
    ck_assert_int_eq(cert_verify(&c, &chain, h, &bh, &pk, 1), CX_OK);
    cs_event done = {.type = CS_EV_COMMITTED, .height = h};
    ck_assert_uint_eq(cs_step(e, &done, a), 1);
    ck_assert_int_eq(a[0].type, CS_ACT_SET_TIMER);
    ck_assert_uint_eq(a[0].height, h + 1);
  }
  cs_free(e);
}
END_TEST

START_TEST(test_stale_events_ignored) {
  cx_pubkey pk;
  cs_engine *e = make(3, NULL, &pk);
  cs_action a[CS_MAX_ACTIONS];
  cs_event ev = {.type = CS_EV_TIMER, .height = 2};
  ck_assert_uint_eq(cs_step(e, &ev, a), 0); /* old height */
  ev.type = CS_EV_BLOCK_READY;
  ev.height = 4;
  ck_assert_uint_eq(cs_step(e, &ev, a), 0); /* not building */
  ev.type = CS_EV_PERSISTED;
  ck_assert_uint_eq(cs_step(e, &ev, a), 0); /* nothing to persist */
  ev.type = CS_EV_TIMER;
  ck_assert_uint_eq(cs_step(e, &ev, a), 1);
  ck_assert_uint_eq(cs_step(e, &ev, a), 0); /* a second timer while building */
  cs_free(e);
}
END_TEST

/* After a crash between persisting a vote and committing the block, the
 * restarted engine must not sign another block at the same (height, view). */
START_TEST(test_restart_never_signs_conflict) {
  cx_pubkey pk;
  cs_engine *e = make(0, NULL, &pk);
  cs_safety s;
  cx_cert first = run_height(e, 1, 0, 0xaa, &s);
  cs_free(e); /* crash: block 1 never committed */
  e = make(0, &s, &pk);
  cs_safety s2;
  cx_cert second = run_height(e, 1, 0, 0xbb, &s2);
  ck_assert_uint_eq(first.height, second.height);
  ck_assert_uint_gt(second.view, first.view);
  ck_assert_uint_gt(s2.view, s.view);
  cs_free(e);
}
END_TEST

START_TEST(test_sign_failure_moves_view) {
  cx_pubkey pk;
  cs_engine *e = make(0, NULL, &pk);
  cs_action a[CS_MAX_ACTIONS];
  cs_event ev = {.type = CS_EV_TIMER, .height = 1};
  cs_step(e, &ev, a);
  cs_event r = {.type = CS_EV_BLOCK_READY, .height = 1, .view = 0};
  cs_step(e, &r, a);
  g_sign_fail = 1;
  cs_event p = {.type = CS_EV_PERSISTED, .height = 1};
  ck_assert_uint_eq(cs_step(e, &p, a), 1);
  ck_assert_int_eq(a[0].type, CS_ACT_SET_TIMER);
  ck_assert_uint_eq(a[0].view, 1);
  g_sign_fail = 0;
  cs_safety s;
  cx_cert c = run_height(e, 1, 1, 0xcc, &s);
  ck_assert_uint_eq(c.view, 1);
  cs_free(e);
}
END_TEST

START_TEST(test_safety_codec) {
  cs_safety s = {.height = 0x0102030405060708ull, .view = 9}, t;
  hash_of(3, &s.block_hash);
  uint8_t buf[48];
  cs_safety_encode(&s, buf);
  ck_assert_int_eq(cs_safety_decode(buf, 48, &t), CX_OK);
  ck_assert_uint_eq(t.height, s.height);
  ck_assert_uint_eq(t.view, s.view);
  ck_assert(hash_eq(&t.block_hash, &s.block_hash));
  ck_assert_int_eq(cs_safety_decode(buf, 47, &t), CX_E_CORRUPT);
}
END_TEST

int main(void) {
  Suite *s = suite_create("consensus");
  TCase *tc = tcase_create("solo");
  tcase_add_test(tc, test_refuses_many_validators);
  tcase_add_test(tc, test_heights_commit_with_valid_certs);
  tcase_add_test(tc, test_stale_events_ignored);
  tcase_add_test(tc, test_restart_never_signs_conflict);
  tcase_add_test(tc, test_sign_failure_moves_view);
  tcase_add_test(tc, test_safety_codec);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  key_free(g_key);
  return rc;
}
