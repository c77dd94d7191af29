/* mempool: caps, deduplication, nonce order, removal after commit. */
#include <stdlib.h>
#include <string.h>

#include "mempool.h"
#include "testutil.h"

static void mk(cx_tx *tx, int sender, uint64_t nonce, cx_hash *id, uint8_t raw[8]) {
  tx_init(tx);
  tx->type = TX_ID_REVOKE;
  memset(tx->sender.b, sender, 32);
  tx->nonce = nonce;
  memset(id->b, 0, 32);
  id->b[0] = (uint8_t)sender;
  id->b[1] = (uint8_t)nonce;
  id->b[2] = 0x5c;
  memset(raw, sender, 8);
}

/* Adds; first asks mempool_check, which must give the same answer
 * without changing anything (the size is compared around it). */
static cx_err add(mempool *m, int sender, uint64_t nonce) {
  cx_tx tx;
  cx_hash id;
  uint8_t raw[8];
  mempool_stats a, b;
  mk(&tx, sender, nonce, &id, raw);
  mempool_stats_get(m, &a);
  cx_err pre = mempool_check(m, &tx, &id);
  mempool_stats_get(m, &b);
  ck_assert_uint_eq(a.size, b.size);
  ck_assert_uint_eq(a.rejected, b.rejected);
  cx_err e = mempool_add(m, &tx, &id, raw, sizeof raw);
  ck_assert_int_eq(pre, e);
  return e;
}

START_TEST(test_caps_and_dedup) {
  mempool *m = mempool_new(5, 2);
  ck_assert_int_eq(add(m, 1, 0), CX_OK);
  ck_assert_int_eq(add(m, 1, 0), CX_E_DUPLICATE); /* same txid */
  cx_tx tx;
  cx_hash id;
  uint8_t raw[8];
  mk(&tx, 1, 0, &id, raw);
  id.b[5] = 1; /* other txid, same (sender, nonce) */
  ck_assert_int_eq(mempool_check(m, &tx, &id), CX_E_DUPLICATE);
  ck_assert_int_eq(mempool_add(m, &tx, &id, raw, 8), CX_E_DUPLICATE);
  ck_assert_int_eq(add(m, 1, 1), CX_OK);
  ck_assert_int_eq(add(m, 1, 2), CX_E_SENDER_LIMIT);
  ck_assert_int_eq(add(m, 2, 0), CX_OK);
  ck_assert_int_eq(add(m, 3, 0), CX_OK);
  ck_assert_int_eq(add(m, 4, 0), CX_OK);
  ck_assert_int_eq(add(m, 5, 0), CX_E_MEMPOOL_FULL);
  ck_assert_uint_eq(mempool_pending_of(m, &(cx_pubkey){{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                                       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}),
                    2);
  mempool_stats s;
  mempool_stats_get(m, &s);
  ck_assert_uint_eq(s.size, 5);
  ck_assert_uint_eq(s.rejected, 4);
  mempool_free(m);
}
END_TEST

typedef struct {
  uint64_t base[256];
  int order[64];
  uint64_t nonces[64];
  size_t n;
  size_t skip_sender;
} sel_ctx;

static uint64_t next_nonce(void *ctx, const cx_pubkey *k) { return ((sel_ctx *)ctx)->base[k->b[0]]; }

static int take(void *ctx, const cx_tx *tx, const cx_hash *id, const uint8_t *raw, size_t len) {
  sel_ctx *c = ctx;
  if (tx->sender.b[0] == c->skip_sender) return 0;
  c->order[c->n] = tx->sender.b[0];
  c->nonces[c->n++] = tx->nonce;
  return 1;
}

START_TEST(test_select_nonce_order) {
  mempool *m = mempool_new(100, 10);
  /* Sender 1 arrives out of order: 2, 0, 1. Sender 2 has a gap (nonce 5). */
  ck_assert_int_eq(add(m, 1, 2), CX_OK);
  ck_assert_int_eq(add(m, 2, 5), CX_OK);
  ck_assert_int_eq(add(m, 1, 0), CX_OK);
  ck_assert_int_eq(add(m, 1, 1), CX_OK);
  ck_assert_int_eq(add(m, 3, 0), CX_OK);
  sel_ctx c = {0};
  mempool_selector sel = {&c, next_nonce, take};
  mempool_select(m, 100, &sel);
  ck_assert_uint_eq(c.n, 4); /* sender 2 waits for nonce 0..4 */
  uint64_t expect1 = 0;
  for (size_t i = 0; i < c.n; i++)
    if (c.order[i] == 1) ck_assert_uint_eq(c.nonces[i], expect1++);
  ck_assert_uint_eq(expect1, 3);
  /* max is honoured */
  sel_ctx c2 = {0};
  sel.ctx = &c2;
  mempool_select(m, 2, &sel);
  ck_assert_uint_eq(c2.n, 2);
  /* skipped senders stay */
  sel_ctx c3 = {0};
  c3.skip_sender = 1;
  sel.ctx = &c3;
  mempool_select(m, 100, &sel);
  ck_assert_uint_eq(c3.n, 1);
  ck_assert_int_eq(c3.order[0], 3);
  mempool_free(m);
}
END_TEST

/* A pass that meets more senders than its first guess (sized by max): the
 * next-nonce map grows and still answers each sender once. */
START_TEST(test_select_many_senders) {
  mempool *m = mempool_new(1000, 10);
  for (int k = 10; k < 250; k++) ck_assert_int_eq(add(m, k, 5), CX_OK); /* gaps: never ready */
  ck_assert_int_eq(add(m, 3, 0), CX_OK);
  ck_assert_int_eq(add(m, 4, 1), CX_OK); /* arrives before its nonce 0 */
  ck_assert_int_eq(add(m, 4, 0), CX_OK);
  sel_ctx c = {0};
  mempool_selector sel = {&c, next_nonce, take};
  mempool_select(m, 1, &sel);
  ck_assert_uint_eq(c.n, 1);
  ck_assert_int_eq(c.order[0], 3);
  sel_ctx c2 = {0};
  sel.ctx = &c2;
  mempool_select(m, 3, &sel); /* the second pass finds sender 4's nonce 1 */
  ck_assert_uint_eq(c2.n, 3);
  ck_assert_int_eq(c2.order[1], 4);
  ck_assert_uint_eq(c2.nonces[1], 0);
  ck_assert_int_eq(c2.order[2], 4);
  ck_assert_uint_eq(c2.nonces[2], 1);
  mempool_free(m);
}
END_TEST

START_TEST(test_remove_committed) {
  mempool *m = mempool_new(100, 10);
  ck_assert_int_eq(add(m, 1, 0), CX_OK);
  ck_assert_int_eq(add(m, 1, 1), CX_OK);
  ck_assert_int_eq(add(m, 2, 0), CX_OK);
  mempool_slot_ref refs[2];
  memset(refs, 0, sizeof refs);
  memset(refs[0].sender.b, 1, 32);
  refs[0].nonce = 0;
  memset(refs[1].sender.b, 2, 32); /* a competing tx of sender 2 committed */
  refs[1].nonce = 0;
  mempool_remove_committed(m, refs, 2);
  mempool_stats s;
  mempool_stats_get(m, &s);
  ck_assert_uint_eq(s.size, 1);
  cx_hash id = {{1, 1, 0x5c}};
  ck_assert(mempool_has(m, &id));
  uint8_t *raw;
  size_t len;
  ck_assert_int_eq(mempool_get_raw(m, &id, &raw, &len), CX_OK);
  ck_assert_uint_eq(len, 8);
  free(raw);
  id.b[1] = 0;
  ck_assert(!mempool_has(m, &id));
  ck_assert_int_eq(mempool_get_raw(m, &id, &raw, &len), CX_E_NOT_FOUND);
  mempool_free(m);
}
END_TEST

/* Many adds and removals: tombstones are rebuilt and lookups stay right. */
START_TEST(test_churn) {
  mempool *m = mempool_new(64, 64);
  for (int round = 0; round < 200; round++) {
    for (int s = 1; s <= 40; s++) ck_assert_int_eq(add(m, s, (uint64_t)round), CX_OK);
    mempool_slot_ref refs[40];
    for (int s = 1; s <= 40; s++) {
      memset(refs[s - 1].sender.b, s, 32);
      refs[s - 1].nonce = (uint64_t)round;
    }
    mempool_remove_committed(m, refs, 40);
    mempool_stats st;
    mempool_stats_get(m, &st);
    ck_assert_uint_eq(st.size, 0);
  }
  mempool_free(m);
}
END_TEST

/* A mempool that never empties under a stream of one-transaction senders
 * (custos load's shape): the sender table must not fill up (it used to be
 * cleared only when the mempool emptied, and a full table made the next
 * add probe forever), and per-sender counts must survive its rebuilds. */
static cx_err add_key(mempool *m, uint32_t k, uint64_t nonce) {
  cx_tx tx;
  tx_init(&tx);
  tx.type = TX_ID_REVOKE;
  memset(tx.sender.b, 0xa5, 32);
  memcpy(tx.sender.b, &k, 4);
  tx.nonce = nonce;
  cx_hash id;
  memset(id.b, 0x3c, 32);
  memcpy(id.b, &k, 4);
  memcpy(id.b + 4, &nonce, 8);
  uint8_t raw[8] = {0};
  return mempool_add(m, &tx, &id, raw, sizeof raw);
}

START_TEST(test_sender_table_never_fills) {
  mempool *m = mempool_new(16, 3);
  ck_assert_int_eq(add_key(m, 0, 0), CX_OK); /* pending throughout */
  for (uint32_t k = 1; k <= 5000; k++) {
    ck_assert_int_eq(add_key(m, k, 0), CX_OK);
    mempool_slot_ref ref;
    memset(ref.sender.b, 0xa5, 32);
    memcpy(ref.sender.b, &k, 4);
    ref.nonce = 0;
    mempool_remove_committed(m, &ref, 1);
  }
  mempool_stats st;
  mempool_stats_get(m, &st);
  ck_assert_uint_eq(st.size, 1);
  ck_assert_uint_le(st.senders, 64);
  cx_pubkey k0;
  memset(k0.b, 0xa5, 32);
  memset(k0.b, 0, 4);
  ck_assert_uint_eq(mempool_pending_of(m, &k0), 1);
  ck_assert_int_eq(add_key(m, 0, 1), CX_OK);
  ck_assert_int_eq(add_key(m, 0, 2), CX_OK);
  ck_assert_int_eq(add_key(m, 0, 3), CX_E_SENDER_LIMIT); /* the count survived */
  mempool_free(m);
}
END_TEST

int main(void) {
  Suite *s = suite_create("mempool");
  TCase *tc = tcase_create("mempool");
  tcase_add_test(tc, test_caps_and_dedup);
  tcase_add_test(tc, test_select_nonce_order);
  tcase_add_test(tc, test_select_many_senders);
  tcase_add_test(tc, test_remove_committed);
  tcase_add_test(tc, test_churn);
  tcase_add_test(tc, test_sender_table_never_fills);
  suite_add_tcase(s, tc);
  return tu_run(s);
}
