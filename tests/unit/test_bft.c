/* The Tendermint engine (consensus/bft.h), driven without sockets, disk or
 * clock: single engines fed hand-made messages, and an in-memory cluster of
 * n engines with a deterministic FIFO network and a virtual clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bft.h"
#include "testutil.h"

#define MAXN 7

static cx_hash g_chain;
static cx_seckey *g_keys[MAXN];
static cx_pubkey g_pks[MAXN];
static bft_action g_act[BFT_MAX_ACTIONS];

static cx_err signer(void *ctx, const uint8_t msg[32], cx_sig *out) {
  return key_sign32((const cx_seckey *)ctx, msg, NULL, out);
}

static void setup_keys(void) {
  memset(g_chain.b, 7, 32);
  for (int i = 0; i < MAXN; i++) {
    if (g_keys[i]) continue;
    uint8_t sk[32];
    memset(sk, 0, 32);
    sk[31] = (uint8_t)(i + 1);
    ck_assert_int_eq(key_from_bytes(sk, &g_keys[i]), CX_OK);
    key_public(g_keys[i], &g_pks[i]);
  }
}

static void hash_of(int v, cx_hash *h) {
  memset(h->b, 0, 32);
  h->b[0] = (uint8_t)v;
  h->b[1] = (uint8_t)(v >> 8);
  h->b[31] = 0x5a;
}

static bft_config config(int self, size_t n, uint64_t height) {
  bft_config c = {.validators = g_pks, .nvalidators = n, .height = height, .propose_ms = 100,
                  .prevote_ms = 100, .precommit_ms = 100, .delta_ms = 50,
                  .rebroadcast_ms = 1000, .sign = signer, .sign_ctx = g_keys[self]};
  c.chain_id = g_chain;
  c.self = g_pks[self];
  return c;
}

static bft_engine *make(int self, size_t n, uint64_t height, const bft_safety *s) {
  setup_keys();
  bft_config c = config(self, n, height);
  bft_engine *e = NULL;
  ck_assert_int_eq(bft_new(&c, s, &e), CX_OK);
  return e;
}

/* A message as another validator would send it (signature not checked by
 * the engine; real one anyway). */
static bft_msg mk(uint8_t type, uint64_t h, uint32_t r, uint32_t pol, int v, int signer_idx) {
  bft_msg m;
  memset(&m, 0, sizeof m);
  m.type = type;
  m.height = h;
  m.round = r;
  m.pol_round = type == BFT_PROPOSAL ? pol : BFT_NIL_ROUND;
  if (v) hash_of(v, &m.block_hash);
  m.signer = (uint16_t)signer_idx;
  uint8_t d[32];
  bft_msg_digest(&g_chain, &m, d);
  ck_assert_int_eq(key_sign32(g_keys[signer_idx], d, NULL, &m.sig), CX_OK);
  return m;
}

static size_t feed_msg(bft_engine *e, bft_msg m) {
  bft_event ev = {.type = BFT_EV_MESSAGE, .msg = m};
  return bft_step(e, &ev, g_act);
}

static size_t feed(bft_engine *e, bft_event_type t, uint64_t h, uint32_t r) {
  bft_event ev = {.type = t, .height = h, .round = r};
  return bft_step(e, &ev, g_act);
}

static size_t feed_timeout(bft_engine *e, uint8_t kind, uint64_t h, uint32_t r) {
  bft_event ev = {.type = BFT_EV_TIMEOUT, .height = h, .round = r, .timeout = kind};
  return bft_step(e, &ev, g_act);
}

static size_t feed_checked(bft_engine *e, int v, int valid) {
  bft_event ev = {.type = BFT_EV_PROPOSAL_CHECKED, .valid = valid};
  hash_of(v, &ev.block_hash);
  return bft_step(e, &ev, g_act);
}

/* The index of the first action of a type (and message type) or -1. */
static int find_act(size_t n, bft_action_type t, uint8_t msgtype) {
  for (size_t i = 0; i < n; i++)
    if (g_act[i].type == t && (!msgtype || g_act[i].msg.type == msgtype)) return (int)i;
  return -1;
}

static int count_act(size_t n, bft_action_type t) {
  int c = 0;
  for (size_t i = 0; i < n; i++) c += g_act[i].type == t;
  return c;
}

/* Every BROADCAST follows a PERSIST covering its (height, round, type). */
static void check_persist_order_of(const bft_action *a, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (a[i].type != BFT_ACT_BROADCAST || i == 0) continue;
    const bft_action *p = &a[i - 1];
    if (p->type != BFT_ACT_PERSIST) continue; /* a rebroadcast */
    ck_assert_uint_eq(p->safety.height, a[i].msg.height);
    ck_assert_uint_eq(p->safety.round, a[i].msg.round);
    ck_assert_uint_eq(p->safety.step, a[i].msg.type);
  }
}

static void check_persist_order(size_t n) { check_persist_order_of(g_act, n); }

/* ------------------------------------------------------------ codecs */

START_TEST(test_msg_codec_roundtrip) {
  setup_keys();
  uint8_t types[3] = {BFT_PROPOSAL, BFT_PREVOTE, BFT_PRECOMMIT};
  uint64_t heights[3] = {1, 300, UINT64_MAX};
  uint32_t rounds[3] = {0, 129, UINT32_MAX - 1};
  for (int t = 0; t < 3; t++)
    for (int k = 0; k < 3; k++) {
      bft_msg m;
      memset(&m, 0, sizeof m);
      m.type = types[t];
      m.height = heights[k];
      m.round = rounds[k];
      m.pol_round = types[t] == BFT_PROPOSAL && k ? rounds[k] - 1 : BFT_NIL_ROUND;
      hash_of(k + 1, &m.block_hash);
      m.signer = (uint16_t)(k == 2 ? 65535 : k);
      tu_randbytes(m.sig.b, 64);
      uint8_t buf[BFT_MSG_MAX];
      size_t len = bft_msg_encode(&m, buf);
      ck_assert_uint_le(len, BFT_MSG_MAX);
      bft_msg d;
      ck_assert_int_eq(bft_msg_decode(buf, len, &d), CX_OK);
      ck_assert_int_eq(memcmp(&d.block_hash, &m.block_hash, 32), 0);
      ck_assert_int_eq(memcmp(&d.sig, &m.sig, 64), 0);
      ck_assert_uint_eq(d.type, m.type);
      ck_assert_uint_eq(d.height, m.height);
      ck_assert_uint_eq(d.round, m.round);
      ck_assert_uint_eq(d.pol_round, m.pol_round);
      ck_assert_uint_eq(d.signer, m.signer);
      /* every strict prefix is refused, so is a trailing byte */
      for (size_t i = 0; i < len; i++) ck_assert_int_ne(bft_msg_decode(buf, i, &d), CX_OK);
      buf[len] = 0;
      ck_assert_int_eq(bft_msg_decode(buf, len + 1, &d), CX_E_TRAILING);
    }
  /* the names the logs and the RPC answers use */
  ck_assert_str_eq(bft_msg_type_name(BFT_PROPOSAL), "proposal");
  ck_assert_str_eq(bft_msg_type_name(BFT_PREVOTE), "prevote");
  ck_assert_str_eq(bft_msg_type_name(BFT_PRECOMMIT), "precommit");
  ck_assert_str_eq(bft_msg_type_name(0), "unknown");
  ck_assert_str_eq(bft_msg_type_name(4), "unknown");
}
END_TEST

START_TEST(test_msg_codec_refusals) {
  bft_msg m, d;
  memset(&m, 0, sizeof m);
  m.type = BFT_PREVOTE;
  m.height = 5;
  m.round = 1;
  uint8_t buf[BFT_MSG_MAX + 8];
  size_t len = bft_msg_encode(&m, buf);
  buf[0] = 0;
  ck_assert_int_eq(bft_msg_decode(buf, len, &d), CX_E_BAD_ENUM);
  buf[0] = 4;
  ck_assert_int_eq(bft_msg_decode(buf, len, &d), CX_E_BAD_ENUM);
  /* non-minimal height varint: 0x85 0x00 for 5 */
  uint8_t nc[BFT_MSG_MAX + 8];
  nc[0] = BFT_PREVOTE;
  nc[1] = 0x85;
  nc[2] = 0x00;
  memcpy(nc + 3, buf + 2, len - 2);
  ck_assert_int_eq(bft_msg_decode(nc, len + 1, &d), CX_E_NONCANONICAL);
  /* round over UINT32_MAX - 1, signer over 65535 */
  m.round = 0;
  len = bft_msg_encode(&m, buf);
  uint8_t big[BFT_MSG_MAX + 8];
  size_t n = 0;
  big[n++] = BFT_PREVOTE;
  big[n++] = 5;
  const uint8_t r32[5] = {0xff, 0xff, 0xff, 0xff, 0x0f}; /* UINT32_MAX */
  memcpy(big + n, r32, 5);
  n += 5;
  memcpy(big + n, buf + 3, len - 3);
  ck_assert_int_eq(bft_msg_decode(big, n + len - 3, &d), CX_E_TOO_LONG);
  n = 0;
  big[n++] = BFT_PRECOMMIT;
  big[n++] = 5;
  big[n++] = 0;
  memset(big + n, 1, 32);
  n += 32;
  big[n++] = 0x80;
  big[n++] = 0x80;
  big[n++] = 0x04; /* 65536 */
  memset(big + n, 2, 64);
  n += 64;
  ck_assert_int_eq(bft_msg_decode(big, n, &d), CX_E_TOO_LONG);
}
END_TEST

START_TEST(test_msg_digest) {
  setup_keys();
  bft_msg a = mk(BFT_PRECOMMIT, 3, 2, BFT_NIL_ROUND, 9, 0);
  uint8_t d1[32], d2[32], d3[32];
  bft_msg_digest(&g_chain, &a, d1);
  cx_hash vm;
  vote_message(&g_chain, 3, 2, &a.block_hash, &vm);
  ck_assert_int_eq(memcmp(d1, vm.b, 32), 0); /* precommits are certificate votes */
  a.type = BFT_PREVOTE;
  bft_msg_digest(&g_chain, &a, d2);
  ck_assert_int_ne(memcmp(d1, d2, 32), 0);
  a.type = BFT_PROPOSAL;
  bft_msg_digest(&g_chain, &a, d3);
  ck_assert_int_ne(memcmp(d2, d3, 32), 0);
  a.pol_round = 0;
  bft_msg_digest(&g_chain, &a, d2);
  ck_assert_int_ne(memcmp(d2, d3, 32), 0);
}
END_TEST

START_TEST(test_safety_codec) {
  bft_safety s = {.height = 0x0102030405060708ull, .round = 7, .step = BFT_PRECOMMIT,
                  .locked_round = 5, .valid_round = 6}, t;
  hash_of(3, &s.locked_hash);
  hash_of(4, &s.valid_hash);
  uint8_t buf[BFT_SAFETY_LEN];
  bft_safety_encode(&s, buf);
  ck_assert_int_eq(bft_safety_decode(buf, BFT_SAFETY_LEN, &t), CX_OK);
  ck_assert_uint_eq(t.height, s.height);
  ck_assert_uint_eq(t.round, s.round);
  ck_assert_uint_eq(t.step, s.step);
  ck_assert_uint_eq(t.locked_round, 5);
  ck_assert_uint_eq(t.valid_round, 6);
  ck_assert(hash_eq(&t.locked_hash, &s.locked_hash));
  ck_assert(hash_eq(&t.valid_hash, &s.valid_hash));
  ck_assert_int_eq(bft_safety_decode(buf, BFT_SAFETY_LEN - 1, &t), CX_E_CORRUPT);
  for (size_t i = 0; i < BFT_SAFETY_LEN; i++) {
    buf[i] ^= 0x10;
    ck_assert_int_ne(bft_safety_decode(buf, BFT_SAFETY_LEN, &t), CX_OK);
    buf[i] ^= 0x10;
  }
  bft_safety none = {.locked_round = BFT_NIL_ROUND, .valid_round = BFT_NIL_ROUND};
  bft_safety_encode(&none, buf);
  ck_assert_int_eq(bft_safety_decode(buf, BFT_SAFETY_LEN, &t), CX_OK);
  ck_assert_uint_eq(t.height, 0);
  ck_assert_uint_eq(t.locked_round, BFT_NIL_ROUND);
}
END_TEST

/* -------------------------------------------------------- one engine */

START_TEST(test_single_validator_heights) {
  bft_engine *e = make(0, 1, 1, NULL);
  bft_status st;
  for (uint64_t h = 1; h <= 4; h++) {
    size_t n = feed(e, BFT_EV_START, 0, 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(g_act[0].type, BFT_ACT_SET_TIMER);
    ck_assert_int_eq(g_act[0].timeout, BFT_T_REBROADCAST);
    ck_assert_int_eq(g_act[1].type, BFT_ACT_BUILD_BLOCK);
    ck_assert_uint_eq(g_act[1].height, h);
    ck_assert_uint_eq(feed(e, BFT_EV_START, 0, 0), 0); /* idempotent */
    bft_event r = {.type = BFT_EV_BLOCK_READY, .height = h, .round = g_act[1].round};
    hash_of((int)h, &r.block_hash);
    n = bft_step(e, &r, g_act);
    ck_assert_uint_eq(n, 7);
    const bft_action_type want[7] = {BFT_ACT_PERSIST, BFT_ACT_BROADCAST, BFT_ACT_PERSIST,
                                     BFT_ACT_BROADCAST, BFT_ACT_PERSIST, BFT_ACT_BROADCAST,
                                     BFT_ACT_COMMIT};
    for (int i = 0; i < 7; i++) ck_assert_int_eq(g_act[i].type, want[i]);
    ck_assert_uint_eq(g_act[1].msg.type, BFT_PROPOSAL);
    ck_assert_uint_eq(g_act[3].msg.type, BFT_PREVOTE);
    ck_assert_uint_eq(g_act[5].msg.type, BFT_PRECOMMIT);
    ck_assert_uint_eq(g_act[4].safety.locked_round, 0);
    check_persist_order(n);
    ck_assert(hash_eq(&g_act[6].block_hash, &r.block_hash));
    ck_assert_uint_eq(g_act[6].cert.nvotes, 1);
    ck_assert_int_eq(cert_verify(&g_act[6].cert, &g_chain, h, &r.block_hash, g_pks, 1), CX_OK);
    ck_assert_uint_eq(feed(e, BFT_EV_COMMITTED, h + 1, 0), 0); /* other height: ignored */
    ck_assert_uint_eq(feed(e, BFT_EV_COMMITTED, h, 0), 0);
    bft_get_status(e, &st);
    ck_assert_uint_eq(st.height, h + 1);
    ck_assert_uint_eq(st.step, 0);
    ck_assert_uint_eq(st.locked_round, BFT_NIL_ROUND);
  }
  bft_free(e);
  bft_free(NULL);
}
END_TEST

START_TEST(test_config_refused) {
  setup_keys();
  bft_config c = config(0, 0, 1);
  bft_engine *e = (bft_engine *)&c;
  ck_assert_int_eq(bft_new(&c, NULL, &e), CX_E_CONFIG);
  ck_assert_ptr_null(e);
  c = config(0, CX_MAX_VALIDATORS + 1, 1);
  ck_assert_int_eq(bft_new(&c, NULL, &e), CX_E_CONFIG);
  c = config(0, 1, 0);
  ck_assert_int_eq(bft_new(&c, NULL, &e), CX_E_CONFIG);
}
END_TEST

/* Node 0 of 4 reaches a lock on value 1 in round 0 (proposer 1). */
static bft_engine *locked_node(int self) {
  bft_engine *e = make(self, 4, 1, NULL);
  feed(e, BFT_EV_START, 0, 0);
  size_t n = feed_msg(e, mk(BFT_PROPOSAL, 1, 0, BFT_NIL_ROUND, 1, 1));
  ck_assert_int_ge(find_act(n, BFT_ACT_CHECK_PROPOSAL, 0), 0);
  n = feed_checked(e, 1, 1);
  int i = find_act(n, BFT_ACT_BROADCAST, BFT_PREVOTE);
  ck_assert_int_ge(i, 0);
  cx_hash v1;
  hash_of(1, &v1);
  ck_assert(hash_eq(&g_act[i].msg.block_hash, &v1));
  int others[2], k = 0;
  for (int s = 1; s < 4 && k < 2; s++)
    if (s != self) others[k++] = s;
  ck_assert_int_eq(find_act(feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 1, others[0])),
                            BFT_ACT_BROADCAST, 0), -1);
  n = feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 1, others[1]));
  i = find_act(n, BFT_ACT_BROADCAST, BFT_PRECOMMIT);
  ck_assert_int_ge(i, 0);
  ck_assert(hash_eq(&g_act[i].msg.block_hash, &v1));
  check_persist_order(n);
  bft_status st;
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.locked_round, 0);
  ck_assert_uint_eq(st.valid_round, 0);
  return e;
}

START_TEST(test_lock_rules) {
  setup_keys();
  bft_engine *e = locked_node(0);
  cx_hash v2;
  hash_of(2, &v2);
  /* nil precommits from 1, 2: quorum of precommits -> timeoutPrecommit (L47) */
  feed_msg(e, mk(BFT_PRECOMMIT, 1, 0, 0, 0, 1));
  size_t n = feed_msg(e, mk(BFT_PRECOMMIT, 1, 0, 0, 0, 2));
  int i = find_act(n, BFT_ACT_SET_TIMER, 0);
  ck_assert_int_ge(i, 0);
  ck_assert_int_eq(g_act[i].timeout, BFT_T_PRECOMMIT);
  feed_timeout(e, BFT_T_PRECOMMIT, 1, 0); /* -> round 1, proposer 2 */
  /* round 1: proposer 2 proposes value 2 without POL: locked on 1 -> nil (L23) */
  feed_msg(e, mk(BFT_PROPOSAL, 1, 1, BFT_NIL_ROUND, 2, 2));
  n = feed_checked(e, 2, 1);
  i = find_act(n, BFT_ACT_BROADCAST, BFT_PREVOTE);
  ck_assert_int_ge(i, 0);
  ck_assert(hash_is_zero(&g_act[i].msg.block_hash));
  /* two prevotes for value 2 in round 1: no polka yet (ours is nil) */
  feed_msg(e, mk(BFT_PREVOTE, 1, 1, 0, 2, 1));
  n = feed_msg(e, mk(BFT_PREVOTE, 1, 1, 0, 2, 2));
  ck_assert_int_ge(find_act(n, BFT_ACT_SET_TIMER, 0), 0); /* L34 timeoutPrevote */
  n = feed_timeout(e, BFT_T_PREVOTE, 1, 1);
  i = find_act(n, BFT_ACT_BROADCAST, BFT_PRECOMMIT);
  ck_assert(hash_is_zero(&g_act[i].msg.block_hash));
  feed_msg(e, mk(BFT_PRECOMMIT, 1, 1, 0, 0, 1));
  feed_msg(e, mk(BFT_PRECOMMIT, 1, 1, 0, 0, 2));
  feed_timeout(e, BFT_T_PRECOMMIT, 1, 1); /* -> round 2, proposer 3 */
  /* round 2: proposal of value 2 claiming a POL in round 1 we have not seen
   * complete: wait (L28 needs the polka) */
  n = feed_msg(e, mk(BFT_PROPOSAL, 1, 2, 1, 2, 3));
  ck_assert_int_eq(find_act(n, BFT_ACT_BROADCAST, 0), -1);
  /* the third prevote of round 1 completes the newer polka: prevote value 2
   * (L28-L30: lockedRound 0 <= vr 1) */
  n = feed_msg(e, mk(BFT_PREVOTE, 1, 1, 0, 2, 3));
  i = find_act(n, BFT_ACT_BROADCAST, BFT_PREVOTE);
  ck_assert_int_ge(i, 0);
  ck_assert_uint_eq(g_act[i].msg.round, 2);
  ck_assert(hash_eq(&g_act[i].msg.block_hash, &v2));
  bft_free(e);
}
END_TEST

START_TEST(test_invalid_proposal_prevotes_nil) {
  bft_engine *e = make(0, 4, 1, NULL);
  feed(e, BFT_EV_START, 0, 0);
  size_t n = feed_msg(e, mk(BFT_PROPOSAL, 1, 0, BFT_NIL_ROUND, 1, 1));
  ck_assert_int_eq(find_act(n, BFT_ACT_BROADCAST, 0), -1); /* waits for valid(v) */
  n = feed_checked(e, 1, 0);
  int i = find_act(n, BFT_ACT_BROADCAST, BFT_PREVOTE);
  ck_assert_int_ge(i, 0);
  ck_assert(hash_is_zero(&g_act[i].msg.block_hash));
  ck_assert_uint_eq(feed_checked(e, 1, 1), 0); /* answered already */
  bft_free(e);
}
END_TEST

START_TEST(test_equivocation_evidence_once) {
  bft_engine *e = make(0, 4, 1, NULL);
  feed(e, BFT_EV_START, 0, 0);
  bft_msg a = mk(BFT_PREVOTE, 1, 0, 0, 5, 2);
  ck_assert_int_eq(count_act(feed_msg(e, a), BFT_ACT_EVIDENCE), 0);
  ck_assert_int_eq(count_act(feed_msg(e, a), BFT_ACT_EVIDENCE), 0); /* duplicate */
  size_t n = feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 6, 2));
  ck_assert_int_eq(count_act(n, BFT_ACT_EVIDENCE), 1);
  int i = find_act(n, BFT_ACT_EVIDENCE, 0);
  ck_assert_uint_eq(g_act[i].msg.signer, 2);
  ck_assert_uint_eq(g_act[i].msg2.signer, 2);
  ck_assert(!hash_eq(&g_act[i].msg.block_hash, &g_act[i].msg2.block_hash));
  ck_assert_int_eq(count_act(feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 7, 2)), BFT_ACT_EVIDENCE), 0);
  ck_assert_int_eq(count_act(feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 0, 2)), BFT_ACT_EVIDENCE), 0);
  /* other type and other round are separate slots */
  feed_msg(e, mk(BFT_PRECOMMIT, 1, 0, 0, 5, 2));
  ck_assert_int_eq(count_act(feed_msg(e, mk(BFT_PRECOMMIT, 1, 0, 0, 0, 2)), BFT_ACT_EVIDENCE), 1);
  feed_msg(e, mk(BFT_PREVOTE, 1, 1, 0, 5, 2));
  ck_assert_int_eq(count_act(feed_msg(e, mk(BFT_PREVOTE, 1, 1, 0, 6, 2)), BFT_ACT_EVIDENCE), 1);
  /* proposer 1 of round 0: two proposals */
  feed_msg(e, mk(BFT_PROPOSAL, 1, 0, BFT_NIL_ROUND, 8, 1));
  ck_assert_int_eq(count_act(feed_msg(e, mk(BFT_PROPOSAL, 1, 0, BFT_NIL_ROUND, 9, 1)),
                             BFT_ACT_EVIDENCE), 1);
  ck_assert_int_eq(count_act(feed_msg(e, mk(BFT_PROPOSAL, 1, 0, BFT_NIL_ROUND, 10, 1)),
                             BFT_ACT_EVIDENCE), 0);
  /* a proposal from a non-proposer is not evidence, just ignored */
  ck_assert_uint_eq(feed_msg(e, mk(BFT_PROPOSAL, 1, 0, BFT_NIL_ROUND, 8, 3)), 0);
  bft_status st;
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.equivocations, 4);
  bft_free(e);
}
END_TEST

START_TEST(test_restart_resumes_next_round) {
  setup_keys();
  /* node 2 locks value 1 in round 0; its last PERSIST is the record */
  bft_engine *e = locked_node(2);
  int p = find_act(BFT_MAX_ACTIONS, BFT_ACT_PERSIST, 0);
  ck_assert_int_ge(p, 0);
  bft_safety rec = g_act[p].safety;
  ck_assert_uint_eq(rec.step, BFT_PRECOMMIT);
  ck_assert_uint_eq(rec.round, 0);
  uint8_t buf[BFT_SAFETY_LEN];
  bft_safety_encode(&rec, buf);
  bft_free(e); /* crash */
  ck_assert_int_eq(bft_safety_decode(buf, sizeof buf, &rec), CX_OK);
  e = make(2, 4, 1, &rec);
  bft_status st;
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.round, 1);
  ck_assert_uint_eq(st.locked_round, 0);
  /* round 0 again (replayed by peers): a different proposal value does not
   * make us sign anything new for round 0; the only round-0 message is our
   * precommit of value 1 sent again (the record determines it: we locked
   * in round 0), after a PERSIST */
  cx_hash v1r;
  hash_of(1, &v1r);
  int resent = 0;
  for (int s = 0; s < 4; s++) {
    size_t n = feed_msg(e, mk(s == 1 ? BFT_PROPOSAL : BFT_PREVOTE, 1, 0, BFT_NIL_ROUND, 3, s == 2 ? 3 : s));
    check_persist_order(n);
    for (size_t i = 0; i < n; i++)
      if (g_act[i].type == BFT_ACT_BROADCAST && g_act[i].msg.round == 0) {
        ck_assert_uint_eq(g_act[i].msg.type, BFT_PRECOMMIT);
        ck_assert_uint_eq(g_act[i].msg.signer, 2);
        ck_assert(hash_eq(&g_act[i].msg.block_hash, &v1r));
        resent++;
      }
  }
  ck_assert_int_eq(resent, 1);
  /* the first message woke us at round 1, where we (2) propose: we re-propose
   * validValue 1 with pol_round 0 (L15-L16) */
  feed_checked(e, 3, 1);
  bft_get_status(e, &st);
  ck_assert_uint_ge(st.round, 1);
  bft_free(e);

  /* directly: START after restart */
  e = make(2, 4, 1, &rec);
  size_t n = feed(e, BFT_EV_START, 0, 0);
  int i = find_act(n, BFT_ACT_BROADCAST, BFT_PROPOSAL);
  ck_assert_int_ge(i, 0);
  ck_assert_uint_eq(g_act[i].msg.round, 1);
  ck_assert_uint_eq(g_act[i].msg.pol_round, 0);
  cx_hash v1;
  hash_of(1, &v1);
  ck_assert(hash_eq(&g_act[i].msg.block_hash, &v1));
  check_persist_order(n);
  ck_assert_int_eq(count_act(n, BFT_ACT_CHECK_PROPOSAL), 0);
  bft_free(e);

  /* a record of a lower height is ignored */
  e = make(2, 4, 2, &rec);
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.round, 0);
  ck_assert_uint_eq(st.locked_round, BFT_NIL_ROUND);
  bft_free(e);
}
END_TEST

/* A record whose last signature is a prevote: the engine resumes in that
 * round past the prevote (it may still precommit there, which peers in the
 * round may need), never prevotes again in it, and counts its own prevote
 * when a peer relays it back. */
START_TEST(test_restart_after_prevote_same_round) {
  setup_keys();
  bft_safety rec = {.height = 1, .round = 0, .step = BFT_PREVOTE, .locked_round = BFT_NIL_ROUND,
                    .valid_round = BFT_NIL_ROUND};
  bft_engine *e = make(2, 4, 1, &rec);
  size_t n = feed(e, BFT_EV_START, 0, 0);
  ck_assert_int_eq(count_act(n, BFT_ACT_BROADCAST), 0);
  bft_status st;
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.round, 0);
  ck_assert_uint_eq(st.step, BFT_PREVOTE);
  /* the proposal of round 0 arrives: no second prevote */
  n = feed_msg(e, mk(BFT_PROPOSAL, 1, 0, BFT_NIL_ROUND, 1, 1));
  n = feed_checked(e, 1, 1);
  ck_assert_int_eq(find_act(n, BFT_ACT_BROADCAST, BFT_PREVOTE), -1);
  /* prevotes for 1 from 0, 1 and our own (relayed back): a polka, so we
   * lock and precommit 1 in round 0 */
  feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 1, 0));
  feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 1, 1));
  n = feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 1, 2));
  int i = find_act(n, BFT_ACT_BROADCAST, BFT_PRECOMMIT);
  ck_assert_int_ge(i, 0);
  ck_assert_uint_eq(g_act[i].msg.round, 0);
  check_persist_order(n);
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.locked_round, 0);
  bft_free(e);

  /* a proposer restarted after its proposal of a fresh block: it cannot
   * send it again, sets timeoutPropose and prevotes nil when it fires */
  bft_safety rp = {.height = 1, .round = 1, .step = BFT_PROPOSAL, .locked_round = BFT_NIL_ROUND,
                   .valid_round = BFT_NIL_ROUND};
  e = make(2, 4, 1, &rp); /* proposer of (1, 1) = 2 */
  n = feed(e, BFT_EV_START, 0, 0);
  ck_assert_int_eq(count_act(n, BFT_ACT_BUILD_BLOCK), 0);
  ck_assert_int_eq(count_act(n, BFT_ACT_BROADCAST), 0);
  i = find_act(n, BFT_ACT_SET_TIMER, 0);
  int propose_timer = 0;
  for (size_t k = 0; k < n; k++)
    if (g_act[k].type == BFT_ACT_SET_TIMER && g_act[k].timeout == BFT_T_PROPOSE) propose_timer = 1;
  ck_assert_int_eq(propose_timer, 1);
  n = feed_timeout(e, BFT_T_PROPOSE, 1, 1);
  i = find_act(n, BFT_ACT_BROADCAST, BFT_PREVOTE);
  ck_assert_int_ge(i, 0);
  ck_assert(hash_is_zero(&g_act[i].msg.block_hash));
  bft_free(e);

  /* ... while a re-proposal of validValue is sent again as it was */
  hash_of(4, &rp.valid_hash);
  rp.valid_round = 0;
  e = make(2, 4, 1, &rp);
  n = feed(e, BFT_EV_START, 0, 0);
  i = find_act(n, BFT_ACT_BROADCAST, BFT_PROPOSAL);
  ck_assert_int_ge(i, 0);
  ck_assert_uint_eq(g_act[i].msg.round, 1);
  ck_assert_uint_eq(g_act[i].msg.pol_round, 0);
  ck_assert(hash_eq(&g_act[i].msg.block_hash, &rp.valid_hash));
  check_persist_order(n);
  bft_free(e);
}
END_TEST

/* An equivocator counts towards each value it voted for (up to two): a
 * node that heard its nil prevote first still sees the polka for 1 and
 * locks; the conflict is reported once. */
START_TEST(test_equivocator_counts_per_value) {
  setup_keys();
  bft_engine *e = make(0, 4, 1, NULL);
  feed(e, BFT_EV_START, 0, 0);
  feed_msg(e, mk(BFT_PROPOSAL, 1, 0, BFT_NIL_ROUND, 1, 1));
  feed_checked(e, 1, 1); /* we prevote 1 */
  size_t n = feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 0, 3)); /* 3: nil first */
  ck_assert_int_eq(count_act(n, BFT_ACT_EVIDENCE), 0);
  feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 1, 1));
  n = feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 1, 3)); /* 3: then 1 */
  ck_assert_int_eq(count_act(n, BFT_ACT_EVIDENCE), 1);
  int i = find_act(n, BFT_ACT_BROADCAST, BFT_PRECOMMIT);
  ck_assert_int_ge(i, 0);
  cx_hash v1;
  hash_of(1, &v1);
  ck_assert(hash_eq(&g_act[i].msg.block_hash, &v1));
  /* a third version: neither counted nor reported again */
  n = feed_msg(e, mk(BFT_PREVOTE, 1, 0, 0, 2, 3));
  ck_assert_int_eq(count_act(n, BFT_ACT_EVIDENCE), 0);
  bft_status st;
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.equivocations, 1);
  ck_assert_uint_eq(st.locked_round, 0);
  /* precommits for 1 from 1 and 3 (3 also precommitted nil first) decide
   * with a certificate of one signature per signer */
  feed_msg(e, mk(BFT_PRECOMMIT, 1, 0, 0, 0, 3));
  feed_msg(e, mk(BFT_PRECOMMIT, 1, 0, 0, 1, 1));
  n = feed_msg(e, mk(BFT_PRECOMMIT, 1, 0, 0, 1, 3));
  i = find_act(n, BFT_ACT_COMMIT, 0);
  ck_assert_int_ge(i, 0);
  ck_assert_uint_eq(g_act[i].cert.nvotes, 3);
  ck_assert_uint_eq(g_act[i].cert.votes[0].signer, 0);
  ck_assert_uint_eq(g_act[i].cert.votes[1].signer, 1);
  ck_assert_uint_eq(g_act[i].cert.votes[2].signer, 3);
  bft_free(e);
}
END_TEST

START_TEST(test_round_skip) {
  bft_engine *e = make(0, 4, 1, NULL);
  feed(e, BFT_EV_START, 0, 0);
  bft_status st;
  feed_msg(e, mk(BFT_PREVOTE, 1, 5, 0, 0, 1));
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.round, 0); /* one signer is not f+1 */
  feed_msg(e, mk(BFT_PREVOTE, 1, 5, 0, 0, 1));
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.round, 0); /* the same signer twice neither */
  size_t n = feed_msg(e, mk(BFT_PRECOMMIT, 1, 5, 0, 0, 3));
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.round, 5); /* L55 */
  int i = find_act(n, BFT_ACT_SET_TIMER, 0);
  ck_assert_int_ge(i, 0);
  ck_assert_int_eq(g_act[i].timeout, BFT_T_PROPOSE);
  ck_assert_uint_eq(g_act[i].round, 5);
  ck_assert_uint_eq(g_act[i].ms, 100 + 5 * 50);
  /* far ahead rounds are ignored */
  uint64_t ign = st.ignored;
  feed_msg(e, mk(BFT_PREVOTE, 1, 5 + 1001, 0, 0, 1));
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.ignored, ign + 1);
  bft_free(e);
}
END_TEST

START_TEST(test_stale_timers_ignored) {
  bft_engine *e = make(0, 4, 1, NULL);
  ck_assert_uint_eq(feed_timeout(e, BFT_T_PROPOSE, 1, 0), 0); /* waiting */
  feed(e, BFT_EV_START, 0, 0);
  ck_assert_uint_eq(feed_timeout(e, BFT_T_PROPOSE, 2, 0), 0);
  ck_assert_uint_eq(feed_timeout(e, BFT_T_PROPOSE, 1, 3), 0);
  ck_assert_uint_eq(feed_timeout(e, BFT_T_PREVOTE, 1, 0), 0); /* wrong step */
  size_t n = feed_timeout(e, BFT_T_PROPOSE, 1, 0);
  ck_assert_int_ge(find_act(n, BFT_ACT_BROADCAST, BFT_PREVOTE), 0);
  ck_assert_uint_eq(feed_timeout(e, BFT_T_PROPOSE, 1, 0), 0); /* already fired */
  ck_assert_uint_eq(feed(e, BFT_EV_BLOCK_READY, 1, 0), 0);    /* never asked */
  bft_status st;
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.ignored, 6);
  bft_free(e);
}
END_TEST

START_TEST(test_next_height_buffered) {
  bft_engine *e = make(0, 4, 1, NULL);
  /* messages of height 2 while deciding height 1: kept, no action */
  ck_assert_uint_eq(feed_msg(e, mk(BFT_PROPOSAL, 2, 0, BFT_NIL_ROUND, 4, 2)), 0);
  ck_assert_uint_eq(feed_msg(e, mk(BFT_PREVOTE, 2, 0, 0, 4, 2)), 0);
  ck_assert_uint_eq(feed_msg(e, mk(BFT_PREVOTE, 2, 0, 0, 4, 3)), 0);
  ck_assert_uint_eq(feed_msg(e, mk(BFT_PREVOTE, 3, 0, 0, 4, 3)), 0); /* too far */
  bft_status st;
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.height, 1);
  ck_assert_uint_eq(st.step, 0);
  ck_assert_uint_eq(st.ignored, 1);
  /* height 1 decided through sync: the buffer is replayed at height 2 */
  size_t n = feed(e, BFT_EV_COMMITTED, 1, 0);
  bft_get_status(e, &st);
  ck_assert_uint_eq(st.height, 2);
  ck_assert_uint_ne(st.step, 0); /* woken by another validator's message */
  int i = find_act(n, BFT_ACT_CHECK_PROPOSAL, 0);
  ck_assert_int_ge(i, 0);
  n = feed_checked(e, 4, 1);
  i = find_act(n, BFT_ACT_BROADCAST, BFT_PREVOTE);
  ck_assert_int_ge(i, 0);
  ck_assert_uint_eq(g_act[i].msg.height, 2);
  /* our prevote completes the polka (2, 3 and us) -> precommit */
  ck_assert_int_ge(find_act(n, BFT_ACT_BROADCAST, BFT_PRECOMMIT), 0);
  bft_free(e);
}
END_TEST

START_TEST(test_rebroadcast) {
  bft_engine *e = make(0, 4, 1, NULL);
  ck_assert_uint_eq(feed_timeout(e, BFT_T_REBROADCAST, 1, 0), 0); /* not running */
  feed(e, BFT_EV_START, 0, 0);
  feed_timeout(e, BFT_T_PROPOSE, 1, 0); /* prevote nil */
  bft_msg mine = g_act[find_act(BFT_MAX_ACTIONS, BFT_ACT_BROADCAST, 0)].msg;
  size_t n = feed_timeout(e, BFT_T_REBROADCAST, 1, 0);
  ck_assert_uint_eq(n, 2);
  ck_assert_int_eq(g_act[0].type, BFT_ACT_BROADCAST);
  ck_assert_int_eq(memcmp(&g_act[0].msg.sig, &mine.sig, 64), 0); /* not re-signed */
  ck_assert_int_eq(g_act[1].type, BFT_ACT_SET_TIMER);
  ck_assert_int_eq(g_act[1].timeout, BFT_T_REBROADCAST);
  ck_assert_int_eq(count_act(n, BFT_ACT_PERSIST), 0);
  bft_free(e);
}
END_TEST

/* ---------------------------------------------------------- cluster */

typedef struct {
  int to;
  bft_event ev;
} qitem;

typedef struct {
  int to;
  uint8_t kind;
  uint64_t height, at, seq;
  uint32_t round;
} qtimer;

#define QCAP 65536
#define TCAP 4096
#define HMAX 16

typedef struct {
  size_t n;
  bft_engine *e[MAXN];
  int down[MAXN];
  qitem *q;
  size_t qhead, qlen;
  qtimer timers[TCAP];
  size_t ntimers;
  uint64_t now, seq;
  cx_hash decided[MAXN][HMAX + 1];
  uint32_t decided_round[MAXN][HMAX + 1];
  uint64_t committed[MAXN]; /* last committed height */
  uint64_t target;
  int evidence;
  unsigned drop_pct; /* chaos: random delivery order, this share of messages lost */
  int chaos;
} cluster;

static void push(cluster *c, int to, const bft_event *ev) {
  ck_assert_uint_lt(c->qlen, QCAP);
  qitem *it = &c->q[(c->qhead + c->qlen++) % QCAP];
  it->to = to;
  it->ev = *ev;
}

static void block_for(uint64_t h, uint32_t r, int proposer, cx_hash *out) {
  hash_of((int)(h * 100 + r * 10 + (uint32_t)proposer), out);
}

static void handle_actions(cluster *c, int i, bft_action *a, size_t n) {
  for (size_t k = 0; k < n; k++) {
    bft_event ev;
    memset(&ev, 0, sizeof ev);
    switch (a[k].type) {
      case BFT_ACT_PERSIST: break;
      case BFT_ACT_BROADCAST:
        ev.type = BFT_EV_MESSAGE;
        ev.msg = a[k].msg;
        for (size_t j = 0; j < c->n; j++)
          if ((int)j != i && !c->down[j] && !(c->chaos && tu_rand() % 100 < c->drop_pct))
            push(c, (int)j, &ev);
        break;
      case BFT_ACT_BUILD_BLOCK:
        ev.type = BFT_EV_BLOCK_READY;
        ev.height = a[k].height;
        ev.round = a[k].round;
        block_for(a[k].height, a[k].round, i, &ev.block_hash);
        push(c, i, &ev);
        break;
      case BFT_ACT_CHECK_PROPOSAL:
        ev.type = BFT_EV_PROPOSAL_CHECKED;
        ev.block_hash = a[k].block_hash;
        ev.valid = 1;
        push(c, i, &ev);
        break;
      case BFT_ACT_COMMIT: {
        uint64_t h = a[k].height;
        ck_assert_uint_le(h, HMAX);
        ck_assert_uint_eq(h, c->committed[i] + 1);
        ck_assert_int_eq(cert_verify(&a[k].cert, &g_chain, h, &a[k].block_hash, g_pks, c->n),
                         CX_OK);
        ck_assert_uint_eq(a[k].cert.view, a[k].round);
        c->decided[i][h] = a[k].block_hash;
        c->decided_round[i][h] = a[k].round;
        for (size_t j = 0; j < c->n; j++) /* agreement */
          if (c->committed[j] >= h) ck_assert(hash_eq(&c->decided[j][h], &a[k].block_hash));
        c->committed[i] = h;
        ev.type = BFT_EV_COMMITTED;
        ev.height = h;
        push(c, i, &ev);
        break;
      }
      case BFT_ACT_SET_TIMER:
        ck_assert_uint_lt(c->ntimers, TCAP);
        c->timers[c->ntimers++] = (qtimer){.to = i, .kind = a[k].timeout,
                                           .height = a[k].height, .round = a[k].round,
                                           .at = c->now + a[k].ms, .seq = c->seq++};
        break;
      case BFT_ACT_EVIDENCE: c->evidence++; break;
    }
  }
  check_persist_order_of(a, n);
}

static void cluster_init(cluster *c, size_t n, uint64_t target) {
  setup_keys();
  memset(c, 0, sizeof *c);
  c->q = calloc(QCAP, sizeof *c->q);
  ck_assert_ptr_nonnull(c->q);
  c->n = n;
  c->target = target;
  for (size_t i = 0; i < n; i++) c->e[i] = make((int)i, n, 1, NULL);
}

static void cluster_free(cluster *c) {
  for (size_t i = 0; i < c->n; i++) bft_free(c->e[i]);
  free(c->q);
}

static int all_done(const cluster *c) {
  for (size_t i = 0; i < c->n; i++)
    if (!c->down[i] && c->committed[i] < c->target) return 0;
  return 1;
}

/* Block sync, as the host does it: a node behind a committed height is
 * fed COMMITTED for its height. Returns 1 if it did so. */
static int sync_laggard(cluster *c) {
  static bft_action acts[BFT_MAX_ACTIONS];
  for (size_t i = 0; i < c->n; i++) {
    if (c->down[i]) continue;
    bft_status st;
    bft_get_status(c->e[i], &st);
    for (size_t j = 0; j < c->n; j++) {
      if (j == i || c->committed[j] < st.height || st.height != c->committed[i] + 1) continue;
      c->decided[i][st.height] = c->decided[j][st.height];
      c->decided_round[i][st.height] = c->decided_round[j][st.height];
      c->committed[i] = st.height;
      bft_event ev = {.type = BFT_EV_COMMITTED, .height = st.height};
      handle_actions(c, (int)i, acts, bft_step(c->e[i], &ev, acts));
      if (st.height < c->target) {
        bft_event go = {.type = BFT_EV_START};
        push(c, (int)i, &go);
      }
      return 1;
    }
  }
  return 0;
}

/* Delivers events FIFO; when idle, fires the earliest timer. */
static void cluster_run(cluster *c, size_t max_events) {
  static bft_action acts[BFT_MAX_ACTIONS];
  for (size_t steps = 0; !all_done(c); steps++) {
    if (steps >= max_events) { /* stuck: show where */
      for (size_t i = 0; i < c->n; i++) {
        bft_status st;
        bft_get_status(c->e[i], &st);
        fprintf(stderr, "step %zu now %llu node %zu: h %llu r %u step %u committed %llu lock %d q %zu t %zu\n", steps,
                (unsigned long long)c->now, i, (unsigned long long)st.height, st.round, st.step,
                (unsigned long long)c->committed[i], (int)st.locked_round, c->qlen, c->ntimers);
      }
    }
    ck_assert_uint_lt(steps, max_events);
    int to;
    bft_event ev;
    if (c->chaos && c->qlen > 1) { /* deliver a random pending event first */
      size_t k = (c->qhead + tu_rand() % c->qlen) % QCAP;
      qitem tmp = c->q[k];
      c->q[k] = c->q[c->qhead];
      c->q[c->qhead] = tmp;
    }
    if (!c->qlen && c->chaos && sync_laggard(c)) continue;
    if (c->qlen) {
      qitem *it = &c->q[c->qhead];
      c->qhead = (c->qhead + 1) % QCAP;
      c->qlen--;
      to = it->to;
      ev = it->ev;
    } else {
      ck_assert_uint_gt(c->ntimers, 0);
      size_t best = 0;
      for (size_t k = 1; k < c->ntimers; k++)
        if (c->timers[k].at < c->timers[best].at ||
            (c->timers[k].at == c->timers[best].at && c->timers[k].seq < c->timers[best].seq))
          best = k;
      qtimer t = c->timers[best];
      c->timers[best] = c->timers[--c->ntimers];
      if (t.at > c->now) c->now = t.at;
      memset(&ev, 0, sizeof ev);
      ev.type = BFT_EV_TIMEOUT;
      ev.timeout = t.kind;
      ev.height = t.height;
      ev.round = t.round;
      to = t.to;
    }
    if (c->down[to]) continue;
    size_t n = bft_step(c->e[to], &ev, acts);
    ck_assert_uint_le(n, BFT_MAX_ACTIONS);
    handle_actions(c, to, acts, n);
    if (ev.type == BFT_EV_COMMITTED && ev.height < c->target) {
      bft_event go = {.type = BFT_EV_START}; /* the mempool still has transactions */
      push(c, to, &go);
    }
  }
}

static void start_all(cluster *c) {
  bft_event st = {.type = BFT_EV_START};
  for (size_t i = 0; i < c->n; i++) push(c, (int)i, &st);
}

START_TEST(test_cluster_decides_heights) {
  static cluster c;
  cluster_init(&c, 4, 6);
  start_all(&c);
  cluster_run(&c, 200000);
  for (uint64_t h = 1; h <= 6; h++)
    for (size_t i = 0; i < 4; i++) {
      ck_assert(hash_eq(&c.decided[i][h], &c.decided[0][h]));
      ck_assert_uint_eq(c.decided_round[i][h], 0); /* no faults: round 0 */
    }
  ck_assert_int_eq(c.evidence, 0);
  cluster_free(&c);
}
END_TEST

START_TEST(test_cluster_one_start_wakes_all) {
  static cluster c;
  cluster_init(&c, 4, 3);
  bft_event st = {.type = BFT_EV_START};
  push(&c, 0, &st); /* only node 0 has transactions */
  cluster_run(&c, 200000);
  cluster_free(&c);
}
END_TEST

START_TEST(test_cluster_silent_proposer_costs_one_round) {
  static cluster c;
  cluster_init(&c, 4, 1);
  c.down[1] = 1; /* proposer of (1, 0) */
  start_all(&c);
  cluster_run(&c, 200000);
  for (size_t i = 0; i < 4; i++) {
    if (i == 1) continue;
    ck_assert_uint_eq(c.decided_round[i][1], 1);
    cx_hash want;
    block_for(1, 1, 2, &want); /* proposer of (1, 1) */
    ck_assert(hash_eq(&c.decided[i][1], &want));
  }
  cluster_free(&c);
}
END_TEST

START_TEST(test_cluster_seven_validators) {
  static cluster c;
  cluster_init(&c, 7, 5);
  c.down[5] = 1;
  c.down[6] = 1; /* f = 2 silent: proposers of (5, 0) and (5, 1) */
  start_all(&c);
  cluster_run(&c, 400000);
  for (size_t i = 0; i < 5; i++) {
    ck_assert_uint_eq(c.decided_round[i][4], 0);
    ck_assert_uint_eq(c.decided_round[i][5], 2);
  }
  cluster_free(&c);
}
END_TEST

/* Random delivery order and lost messages over many seeds: agreement and
 * valid certificates are checked on every COMMIT (handle_actions);
 * rebroadcast and sync keep it live. */
START_TEST(test_cluster_chaos) {
  static cluster c;
  for (int run = 0; run < 30; run++) {
    cluster_init(&c, 4, 5);
    c.chaos = 1;
    c.drop_pct = (unsigned)(run % 3) * 15;
    if (run % 5 == 4) c.down[run % 4] = 1;
    start_all(&c);
    cluster_run(&c, 2000000);
    cluster_free(&c);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("bft");
  TCase *tc = tcase_create("codec");
  tcase_add_test(tc, test_msg_codec_roundtrip);
  tcase_add_test(tc, test_msg_codec_refusals);
  tcase_add_test(tc, test_msg_digest);
  tcase_add_test(tc, test_safety_codec);
  suite_add_tcase(s, tc);
  tc = tcase_create("engine");
  tcase_add_test(tc, test_single_validator_heights);
  tcase_add_test(tc, test_config_refused);
  tcase_add_test(tc, test_lock_rules);
  tcase_add_test(tc, test_invalid_proposal_prevotes_nil);
  tcase_add_test(tc, test_equivocation_evidence_once);
  tcase_add_test(tc, test_restart_resumes_next_round);
  tcase_add_test(tc, test_restart_after_prevote_same_round);
  tcase_add_test(tc, test_equivocator_counts_per_value);
  tcase_add_test(tc, test_round_skip);
  tcase_add_test(tc, test_stale_timers_ignored);
  tcase_add_test(tc, test_next_height_buffered);
  tcase_add_test(tc, test_rebroadcast);
  suite_add_tcase(s, tc);
  tc = tcase_create("cluster");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_cluster_decides_heights);
  tcase_add_test(tc, test_cluster_one_start_wakes_all);
  tcase_add_test(tc, test_cluster_silent_proposer_costs_one_round);
  tcase_add_test(tc, test_cluster_seven_validators);
  tcase_add_test(tc, test_cluster_chaos);
  suite_add_tcase(s, tc);
  int rc = tu_run(s);
  for (int i = 0; i < MAXN; i++) key_free(g_keys[i]);
  return rc;
}
