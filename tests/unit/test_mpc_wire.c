/* mpc/wire.h: the signed MPC message encoding, the per-session inbox (every
 * refusal, in the documented order) and the outbox. */
#include <check.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hash.h"
#include "keys.h"
#include "mpc.h"
#include "session_internal.h"
#include "testutil.h"
#include "wire.h"

#define N 4
#define ME 1

static cx_seckey *g_keys[N + 1]; /* one extra: a key that is no member's */
static cx_pubkey g_pks[N + 1];
static uint8_t g_session[32];

static void setup(void) {
  for (int i = 0; i <= N; i++) {
    uint8_t sk[32];
    memset(sk, 0x11 * (i + 1), 32);
    ck_assert_int_eq(key_from_bytes(sk, &g_keys[i]), CX_OK);
    key_public(g_keys[i], &g_pks[i]);
  }
  for (int i = 0; i < 32; i++) g_session[i] = (uint8_t)(0xa0 + i);
}

static void teardown(void) {
  for (int i = 0; i <= N; i++) key_free(g_keys[i]);
}

typedef struct {
  uint8_t *b;
  size_t len;
} msg;

/* A message signed by key `signer` (usually == from). */
static msg mk(int signer, uint8_t kind, const uint8_t *session, uint32_t round, uint8_t from, uint8_t to,
              const char *payload) {
  msg m;
  size_t len = payload ? strlen(payload) : 0;
  ck_assert_int_eq(mpc_msg_encode(g_keys[signer], kind, session, round, from, to, (const uint8_t *)payload,
                                  len, &m.b, &m.len),
                   CX_OK);
  return m;
}

static msg mk_std(uint32_t round, uint8_t from, const char *payload) {
  return mk(from, MPC_KIND_ONLINE, g_session, round, from, MPC_TO_ALL, payload);
}

START_TEST(test_wire_roundtrip) {
  const size_t lens[] = {0, 1, 33, 1000};
  for (size_t i = 0; i < 4; i++) {
    uint8_t *pl = malloc(lens[i] + 1);
    tu_randbytes(pl, lens[i]);
    uint8_t *b;
    size_t len;
    ck_assert_int_eq(mpc_msg_encode(g_keys[2], MPC_KIND_PREP, g_session, 0x01020304u, 2, 3, pl, lens[i], &b,
                                    &len),
                     CX_OK);
    ck_assert_uint_eq(len, MPC_MSG_OVERHEAD + lens[i]);
    /* the layout of wire.h, big-endian integers */
    ck_assert_int_eq(b[0], MPC_WIRE_VERSION);
    ck_assert_int_eq(b[1], MPC_KIND_PREP);
    ck_assert(memcmp(b + 2, g_session, 32) == 0);
    ck_assert_int_eq(b[34], 1);
    ck_assert_int_eq(b[37], 4);
    ck_assert_int_eq(b[38], 2);
    ck_assert_int_eq(b[39], 3);
    ck_assert_uint_eq(get_be32(b + 40), lens[i]);
    ck_assert(memcmp(b + MPC_MSG_HDR, pl, lens[i]) == 0);
    /* the signature: BIP340 over hash_tagged(CX_TAG_MPC_MSG, header || payload) */
    cx_hash h;
    cx_sig sig;
    hash_tagged(CX_TAG_MPC_MSG, b, MPC_MSG_HDR + lens[i], &h);
    memcpy(sig.b, b + MPC_MSG_HDR + lens[i], 64);
    ck_assert_int_eq(sig_verify(&g_pks[2], h.b, 32, &sig), 1);

    mpc_msg m;
    ck_assert_int_eq(mpc_msg_decode(b, len, &m), CX_OK);
    ck_assert_int_eq(m.kind, MPC_KIND_PREP);
    ck_assert(memcmp(m.session, g_session, 32) == 0);
    ck_assert_uint_eq(m.round, 0x01020304u);
    ck_assert_int_eq(m.from, 2);
    ck_assert_int_eq(m.to, 3);
    ck_assert_uint_eq(m.len, lens[i]);
    ck_assert_ptr_eq(m.payload, b + MPC_MSG_HDR);
    ck_assert_ptr_eq(m.sig, b + MPC_MSG_HDR + lens[i]);
    ck_assert_ptr_eq(m.raw, b);
    ck_assert_uint_eq(m.raw_len, len);
    ck_assert_int_eq(mpc_msg_verify(&m, &g_pks[2]), 1);
    ck_assert_int_eq(mpc_msg_verify(&m, &g_pks[1]), 0);
    free(b);
    free(pl);
  }
}
END_TEST

START_TEST(test_wire_decode_errors) {
  msg a = mk_std(3, 0, "hello");
  mpc_msg m;
  ck_assert_int_eq(mpc_msg_decode(a.b, 0, &m), CX_E_TRUNCATED);
  for (size_t l = 1; l < a.len; l++) ck_assert_int_eq(mpc_msg_decode(a.b, l, &m), CX_E_TRUNCATED);
  uint8_t *big = malloc(a.len + 1);
  memcpy(big, a.b, a.len);
  big[a.len] = 0;
  ck_assert_int_eq(mpc_msg_decode(big, a.len + 1, &m), CX_E_TRAILING);
  big[0] = 1; /* version 1 signed BLAKE2b(payload) */
  ck_assert_int_eq(mpc_msg_decode(big, a.len, &m), CX_E_BAD_VERSION);
  big[0] = 3;
  ck_assert_int_eq(mpc_msg_decode(big, a.len, &m), CX_E_BAD_VERSION);
  ck_assert_int_eq(mpc_msg_decode(big, 1, &m), CX_E_BAD_VERSION);
  big[0] = 0;
  ck_assert_int_eq(mpc_msg_decode(big, a.len, &m), CX_E_BAD_VERSION);
  big[0] = MPC_WIRE_VERSION;
  /* payload length over the cap: refused before any length check */
  uint32_t over = (uint32_t)MPC_MAX_PAYLOAD + 1;
  big[40] = (uint8_t)(over >> 24);
  big[41] = (uint8_t)(over >> 16);
  big[42] = (uint8_t)(over >> 8);
  big[43] = (uint8_t)over;
  ck_assert_int_eq(mpc_msg_decode(big, a.len, &m), CX_E_TOO_LONG);
  memset(big + 40, 0xff, 4);
  ck_assert_int_eq(mpc_msg_decode(big, a.len, &m), CX_E_TOO_LONG);
  /* a payload length that does not match the buffer */
  memset(big + 40, 0, 4);
  big[43] = 6;
  ck_assert_int_eq(mpc_msg_decode(big, a.len, &m), CX_E_TRUNCATED);
  big[43] = 4;
  ck_assert_int_eq(mpc_msg_decode(big, a.len, &m), CX_E_TRAILING);
  free(big);
  /* encode refuses an over-long payload */
  uint8_t *out = (uint8_t *)1;
  size_t outlen = 9;
  uint8_t dummy[1] = {0};
  ck_assert_int_eq(mpc_msg_encode(g_keys[0], MPC_KIND_ONLINE, g_session, 0, 0, 1, dummy, MPC_MAX_PAYLOAD + 1,
                                  &out, &outlen),
                   CX_E_TOO_LONG);
  ck_assert_ptr_null(out);
  free(a.b);
}
END_TEST

/* Every single-bit flip either breaks the structure or the signature. */
START_TEST(test_wire_flip) {
  msg a = mk_std(9, 2, "some payload bytes");
  int sig_fail = 0;
  for (size_t bit = 0; bit < 8 * a.len; bit++) {
    uint8_t *c = malloc(a.len);
    memcpy(c, a.b, a.len);
    c[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    mpc_msg m;
    if (mpc_msg_decode(c, a.len, &m) == CX_OK) {
      ck_assert_msg(!mpc_msg_verify(&m, &g_pks[2]), "flipped bit %zu verifies", bit);
      sig_fail++;
    }
    free(c);
  }
  ck_assert_int_gt(sig_fail, (int)(8 * a.len) - 64); /* only version/length flips break decoding */
  free(a.b);
}
END_TEST

static mpc_inbox *inbox(void) {
  mpc_inbox *b = mpc_inbox_new(N, ME, g_pks, MPC_KIND_ONLINE, g_session);
  ck_assert_ptr_nonnull(b);
  return b;
}

static cx_err put(mpc_inbox *b, msg m, uint32_t cur) {
  uint32_t ef = 999;
  return mpc_inbox_put(b, m.b, m.len, cur, MPC_NO_LINK, &ef);
}

START_TEST(test_inbox_refusals) {
  mpc_inbox *b = inbox();
  uint8_t other[32];
  memcpy(other, g_session, 32);
  other[31] ^= 1;
  msg ms[16];
  int k = 0;
  /* malformed */
  ms[k] = mk_std(5, 0, "x");
  ck_assert_int_eq(mpc_inbox_put(b, ms[k].b, ms[k].len - 1, 5, MPC_NO_LINK, NULL), CX_E_TRUNCATED);
  k++;
  /* other session or kind; checked before the sender and the signature */
  ms[k] = mk(0, MPC_KIND_ONLINE, other, 5, 0, MPC_TO_ALL, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_MPC_SESSION);
  ms[k] = mk(0, MPC_KIND_PREP, g_session, 5, 0, MPC_TO_ALL, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_MPC_SESSION);
  ms[k] = mk(3, MPC_KIND_PREP, g_session, 5, ME, 7, "x"); /* everything wrong */
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_MPC_SESSION);
  /* sender / recipient; checked before the signature */
  ms[k] = mk(ME, MPC_KIND_ONLINE, g_session, 5, ME, MPC_TO_ALL, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_MPC_SENDER);
  ms[k] = mk(N, MPC_KIND_ONLINE, g_session, 5, N, MPC_TO_ALL, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_MPC_SENDER);
  ms[k] = mk(0, MPC_KIND_ONLINE, g_session, 5, 0, 2, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_MPC_SENDER);
  ms[k] = mk(2, MPC_KIND_ONLINE, g_session, 99, 0, 2, "x"); /* also badly signed, far round */
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_MPC_SENDER);
  /* signature; checked before the round */
  ms[k] = mk(2, MPC_KIND_ONLINE, g_session, 5, 0, MPC_TO_ALL, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_BAD_SIG);
  ms[k] = mk(N, MPC_KIND_ONLINE, g_session, 99, 3, ME, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_BAD_SIG);
  /* round: cur and cur + 1 only */
  ms[k] = mk_std(4, 0, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_MPC_ROUND);
  ms[k] = mk_std(7, 0, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_MPC_ROUND);
  ms[k] = mk_std(UINT32_MAX, 0, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_E_MPC_ROUND);
  /* nothing of the above was stored */
  for (uint32_t r = 0; r < 10; r++) ck_assert_uint_eq(mpc_inbox_have(b, r), 0);
  ck_assert_uint_eq(mpc_inbox_have(b, 99), 0);
  /* accepted: to all, and to me */
  ms[k] = mk_std(5, 0, "x");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_OK);
  ms[k] = mk(3, MPC_KIND_ONLINE, g_session, 6, 3, ME, "y");
  ck_assert_int_eq(put(b, ms[k++], 5), CX_OK);
  /* the round is checked against cur as passed: round 6 at cur 6 too */
  ms[k] = mk_std(UINT32_MAX, 2, "z");
  ck_assert_int_eq(put(b, ms[k++], UINT32_MAX), CX_OK); /* no overflow at cur + 1 */
  ck_assert_uint_eq(mpc_inbox_have(b, 5), 1u << 0);
  ck_assert_uint_eq(mpc_inbox_have(b, 6), 1u << 3);
  ck_assert_uint_eq(mpc_inbox_have(b, UINT32_MAX), 1u << 2);
  for (int i = 0; i < k; i++) free(ms[i].b);
  mpc_inbox_free(b);
}
END_TEST

START_TEST(test_inbox_store_get) {
  mpc_inbox *b = inbox();
  msg m0 = mk_std(0, 0, "round0-p0"), m2 = mk_std(0, 2, "round0-p2"), m3 = mk_std(1, 3, "round1-p3");
  ck_assert_int_eq(put(b, m0, 0), CX_OK);
  ck_assert_int_eq(put(b, m3, 0), CX_OK); /* early: next round */
  ck_assert_int_eq(put(b, m2, 0), CX_OK);
  ck_assert_uint_eq(mpc_inbox_have(b, 0), (1u << 0) | (1u << 2));
  ck_assert_uint_eq(mpc_inbox_have(b, 1), 1u << 3);
  const mpc_msg *g = mpc_inbox_get(b, 0, 2);
  ck_assert_ptr_nonnull(g);
  ck_assert_uint_eq(g->len, 9);
  ck_assert(memcmp(g->payload, "round0-p2", 9) == 0);
  ck_assert_int_eq(g->from, 2);
  ck_assert_uint_eq(g->raw_len, m2.len);
  ck_assert(memcmp(g->raw, m2.b, m2.len) == 0);
  ck_assert_ptr_ne(g->raw, m2.b); /* a private copy */
  ck_assert_ptr_null(mpc_inbox_get(b, 0, 1));
  ck_assert_ptr_null(mpc_inbox_get(b, 0, 3));
  ck_assert_ptr_null(mpc_inbox_get(b, 2, 0));
  ck_assert_ptr_null(mpc_inbox_get(b, 0, 64));
  /* the caller's buffer may go away */
  memset(m2.b, 0, m2.len);
  ck_assert(memcmp(mpc_inbox_get(b, 0, 2)->payload, "round0-p2", 9) == 0);
  /* many rounds (prep keeps them all), inserted out of order */
  for (uint32_t r = 40; r >= 2; r -= 2) {
    msg x = mk_std(r, 0, "r");
    ck_assert_int_eq(put(b, x, r), CX_OK);
    free(x.b);
  }
  for (uint32_t r = 2; r <= 40; r++) ck_assert_uint_eq(mpc_inbox_have(b, r), r % 2 ? 0 : 1);
  const mpc_msg *keep = mpc_inbox_get(b, 0, 0);
  ck_assert(memcmp(keep->payload, "round0-p0", 9) == 0); /* pointers survive growth */
  /* drop_before frees older rounds; later ones stay */
  mpc_inbox_drop_before(b, 1);
  ck_assert_ptr_null(mpc_inbox_get(b, 0, 0));
  ck_assert_uint_eq(mpc_inbox_have(b, 0), 0);
  ck_assert_uint_eq(mpc_inbox_have(b, 1), 1u << 3);
  mpc_inbox_drop_before(b, 30);
  ck_assert_uint_eq(mpc_inbox_have(b, 1), 0);
  ck_assert_uint_eq(mpc_inbox_have(b, 28), 0);
  ck_assert_uint_eq(mpc_inbox_have(b, 30), 1);
  ck_assert_ptr_nonnull(mpc_inbox_get(b, 40, 0));
  /* a dropped round cannot be refilled: old now */
  ck_assert_int_eq(put(b, m0, 0), CX_E_MPC_ROUND);
  ck_assert_int_eq(put(b, m0, 30), CX_E_MPC_ROUND);
  mpc_inbox_drop_before(b, 5); /* never moves back */
  ck_assert_uint_eq(mpc_inbox_have(b, 30), 1);
  mpc_inbox_drop_before(b, UINT32_MAX);
  ck_assert_uint_eq(mpc_inbox_have(b, 40), 0);
  free(m0.b);
  free(m2.b);
  free(m3.b);
  mpc_inbox_free(b);
  mpc_inbox_free(NULL);
}
END_TEST

START_TEST(test_inbox_duplicate_equivocation) {
  mpc_inbox *b = inbox();
  msg a = mk_std(2, 3, "first"), a2 = mk_std(2, 3, "first"), c = mk_std(2, 3, "second");
  msg d = mk(3, MPC_KIND_ONLINE, g_session, 2, 3, ME, "first"); /* same payload, to me only */
  ck_assert(a.len == a2.len && memcmp(a.b, a2.b, a.len) != 0); /* BIP340 signing is randomized */
  ck_assert_int_eq(put(b, a, 2), CX_OK);
  ck_assert_int_eq(put(b, a, 2), CX_E_MPC_DUPLICATE);
  ck_assert_int_eq(put(b, a2, 2), CX_E_MPC_DUPLICATE); /* same content, other signature */
  /* an identical copy of a stored message of an old round is a duplicate,
   * a different one is simply old */
  ck_assert_int_eq(put(b, a, 3), CX_E_MPC_DUPLICATE);
  ck_assert_int_eq(put(b, c, 3), CX_E_MPC_ROUND);
  const uint8_t *m1 = (const uint8_t *)1, *m2 = (const uint8_t *)1;
  size_t l1 = 9, l2 = 9;
  mpc_inbox_equivocation(b, &m1, &l1, &m2, &l2);
  ck_assert_ptr_null(m1); /* none yet */
  ck_assert_ptr_null(m2);
  ck_assert_uint_eq(l1 + l2, 0);
  /* a different signed message for the stored slot */
  uint32_t ef = 999;
  ck_assert_int_eq(mpc_inbox_put(b, c.b, c.len, 2, MPC_NO_LINK, &ef), CX_E_MPC_EQUIVOCATION);
  ck_assert_uint_eq(ef, 3);
  mpc_inbox_equivocation(b, &m1, &l1, &m2, &l2);
  ck_assert_uint_eq(l1, a.len);
  ck_assert(memcmp(m1, a.b, a.len) == 0);
  ck_assert_uint_eq(l2, c.len);
  ck_assert(memcmp(m2, c.b, c.len) == 0);
  /* the slot keeps the first message; evidence outlives the round */
  ck_assert(memcmp(mpc_inbox_get(b, 2, 3)->payload, "first", 5) == 0);
  ck_assert_uint_eq(mpc_inbox_have(b, 2), 1u << 3);
  /* the same payload sent to me only is also a different message */
  ef = 999;
  ck_assert_int_eq(mpc_inbox_put(b, d.b, d.len, 1, MPC_NO_LINK, &ef), CX_E_MPC_EQUIVOCATION);
  ck_assert_uint_eq(ef, 3);
  mpc_inbox_drop_before(b, 3);
  mpc_inbox_equivocation(b, &m1, &l1, &m2, &l2);
  ck_assert(memcmp(m1, a.b, a.len) == 0);
  ck_assert(memcmp(m2, d.b, d.len) == 0);
  /* both encodings verify under the sender's key: transferable evidence */
  mpc_msg x, y;
  ck_assert_int_eq(mpc_msg_decode(m1, l1, &x), CX_OK);
  ck_assert_int_eq(mpc_msg_decode(m2, l2, &y), CX_OK);
  ck_assert(mpc_msg_verify(&x, &g_pks[3]) && mpc_msg_verify(&y, &g_pks[3]));
  /* a NULL equiv_from is allowed */
  msg e = mk_std(3, 0, "e1"), f = mk_std(3, 0, "e2");
  ck_assert_int_eq(mpc_inbox_put(b, e.b, e.len, 3, MPC_NO_LINK, NULL), CX_OK);
  ck_assert_int_eq(mpc_inbox_put(b, f.b, f.len, 3, MPC_NO_LINK, NULL), CX_E_MPC_EQUIVOCATION);
  free(a.b);
  free(a2.b);
  free(c.b);
  free(d.b);
  free(e.b);
  free(f.b);
  mpc_inbox_free(b);
}
END_TEST

/* A message on its sender's own link is stored without a signature check;
 * the check happens when something depends on it (mpc_inbox_verify), and
 * an equivocation needs two signed messages. */
START_TEST(test_inbox_link) {
  mpc_inbox *b = inbox();
  msg good = mk_std(2, 2, "good"), bad = mk_std(2, 2, "bad");
  bad.b[bad.len - 1] ^= 1; /* spoilt signature */
  /* on another party's link, or none: checked now */
  ck_assert_int_eq(mpc_inbox_put(b, bad.b, bad.len, 2, 3, NULL), CX_E_BAD_SIG);
  ck_assert_int_eq(mpc_inbox_put(b, bad.b, bad.len, 2, MPC_NO_LINK, NULL), CX_E_BAD_SIG);
  ck_assert_int_eq(mpc_inbox_have(b, 2), 0);
  /* on its own link: stored, and found unsigned when it is needed */
  ck_assert_int_eq(mpc_inbox_put(b, bad.b, bad.len, 2, 2, NULL), CX_OK);
  ck_assert_ptr_nonnull(mpc_inbox_get(b, 2, 2));
  ck_assert_int_eq(mpc_inbox_verify(b, 2, 2), 0);
  ck_assert_int_eq(mpc_inbox_verify(b, 2, 0), 0); /* nothing stored */
  /* a different, signed message for that slot proves nothing: refused, the
   * stored one stands and no equivocation is reported */
  uint32_t ef = 999;
  ck_assert_int_eq(mpc_inbox_put(b, good.b, good.len, 2, 2, &ef), CX_E_BAD_SIG);
  ck_assert_uint_eq(ef, 999);
  ck_assert(memcmp(mpc_inbox_get(b, 2, 2)->payload, "bad", 3) == 0);
  /* a signed message on its own link: stored unchecked, verifies later */
  msg good3 = mk_std(3, 2, "good3");
  ck_assert_int_eq(mpc_inbox_put(b, good3.b, good3.len, 3, 2, NULL), CX_OK);
  ck_assert_int_eq(mpc_inbox_verify(b, 3, 2), 1);
  /* an unsigned different copy for the signed slot, on its link: refused */
  msg bad3 = mk_std(3, 2, "bad3");
  bad3.b[bad3.len - 1] ^= 1;
  ck_assert_int_eq(mpc_inbox_put(b, bad3.b, bad3.len, 3, 2, &ef), CX_E_BAD_SIG);
  /* two signed messages, the stored one taken unchecked: an equivocation */
  msg g2 = mk_std(3, 2, "good, again");
  ck_assert_int_eq(mpc_inbox_put(b, g2.b, g2.len, 3, 2, &ef), CX_E_MPC_EQUIVOCATION);
  ck_assert_uint_eq(ef, 2);
  free(good.b);
  free(bad.b);
  free(bad3.b);
  free(good3.b);
  free(g2.b);
  mpc_inbox_free(b);
}
END_TEST

START_TEST(test_inbox_new_args) {
  ck_assert_ptr_null(mpc_inbox_new(0, 0, g_pks, MPC_KIND_ONLINE, g_session));
  ck_assert_ptr_null(mpc_inbox_new(4, 4, g_pks, MPC_KIND_ONLINE, g_session));
  ck_assert_ptr_null(mpc_inbox_new(65, 0, g_pks, MPC_KIND_ONLINE, g_session));
  mpc_inbox *b = mpc_inbox_new(1, 0, g_pks, MPC_KIND_PREP, g_session);
  ck_assert_ptr_nonnull(b);
  msg m = mk(0, MPC_KIND_PREP, g_session, 0, 0, MPC_TO_ALL, "x");
  ck_assert_int_eq(put(b, m, 0), CX_E_MPC_SENDER); /* alone: nobody else can send */
  free(m.b);
  mpc_inbox_free(b);
}
END_TEST

START_TEST(test_outbox) {
  mpc_outbox o = {0};
  for (int i = 0; i < 100; i++) {
    uint8_t *buf = malloc(10);
    memset(buf, i, 10);
    ck_assert_int_eq(mpc_outbox_push(&o, (uint32_t)i % 5, buf, 10), CX_OK);
  }
  ck_assert_uint_eq(o.n, 100);
  ck_assert_uint_eq(o.v[57].to, 2);
  ck_assert_int_eq(o.v[57].buf[9], 57);
  size_t cap = o.cap;
  mpc_outbox_clear(&o);
  ck_assert_uint_eq(o.n, 0);
  ck_assert_uint_eq(o.cap, cap);
  ck_assert_int_eq(mpc_outbox_push(&o, MPC_TO_ALL, malloc(3), 3), CX_OK);
  ck_assert_uint_eq(o.v[0].to, MPC_TO_ALL);
  mpc_outbox_free(&o);
  ck_assert_uint_eq(o.n, 0);
  ck_assert_ptr_null(o.v);
  mpc_outbox_free(&o); /* twice is fine */
}
END_TEST

static Suite *mpc_wire_suite(void) {
  Suite *s = suite_create("mpc_wire");
  TCase *tc = tcase_create("wire");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_wire_roundtrip);
  tcase_add_test(tc, test_wire_decode_errors);
  tcase_add_test(tc, test_wire_flip);
  tcase_add_test(tc, test_inbox_refusals);
  tcase_add_test(tc, test_inbox_store_get);
  tcase_add_test(tc, test_inbox_duplicate_equivocation);
  tcase_add_test(tc, test_inbox_link);
  tcase_add_test(tc, test_inbox_new_args);
  tcase_add_test(tc, test_outbox);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(mpc_wire_suite());
}
