/* fuzz_mpc_msg: mpc_msg_decode and the MPC inbox (mpc/wire.h), the receive
 * path of every MPC message from the member network.
 *
 * Input: one encoded message. It is decoded and offered, as is, to a fresh
 * inbox of party 1 of 4 (fixed keys from fixed secret bytes, a fixed session)
 * at round 0 and at its own round. If it decodes and names a member as its
 * sender, its fields are then re-signed with that member's key (so the
 * signed paths are reached: storage, duplicate, equivocation) and offered
 * again, then a second message for the same slot with one more payload
 * byte.
 * Checks: no crash or leak; every refusal is one of the documented codes;
 * a decoded message points inside the input and its lengths add up; a
 * validly signed message gets exactly the answer the wire.h order gives
 * (session, sender, round, duplicate, equivocation, stored), a stored one is
 * returned by mpc_inbox_get byte for byte, and an equivocation's two
 * encodings both verify and differ in content. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "keys.h"
#include "mpc.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N 4
#define ME 1
#define MAXP 4096 /* re-signed payloads: bounded to keep an input fast */

static cx_seckey *g_keys[N];
static uint32_t g_floor; /* the inbox's highest mpc_inbox_drop_before */
static cx_pubkey g_pks[N];
static const uint8_t k_session[32] = {0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                      0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                      0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
                                      0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x01};

static void init_keys(void) {
  static int done;
  if (done) return;
  for (int i = 0; i < N; i++) {
    uint8_t sk[32];
    memset(sk, 0x21 + i, 32); /* fixed, valid secp256k1 secrets */
    if (key_from_bytes(sk, &g_keys[i]) != CX_OK) abort();
    key_public(g_keys[i], &g_pks[i]);
  }
  done = 1;
}

static int known_refusal(cx_err e) {
  switch (e) {
  case CX_OK:
  case CX_E_TRUNCATED:
  case CX_E_TRAILING:
  case CX_E_BAD_VERSION:
  case CX_E_TOO_LONG:
  case CX_E_MPC_SESSION:
  case CX_E_MPC_SENDER:
  case CX_E_BAD_SIG:
  case CX_E_MPC_ROUND:
  case CX_E_MPC_DUPLICATE:
  case CX_E_MPC_EQUIVOCATION:
    return 1;
  default:
    return 0;
  }
}

static void check_decoded(const uint8_t *data, size_t size, const mpc_msg *m) {
  if (m->raw != data || m->raw_len != size) abort();
  if (m->len > MPC_MAX_PAYLOAD || MPC_MSG_OVERHEAD + m->len != size) abort();
  if (m->payload != data + MPC_MSG_HDR || m->sig != data + MPC_MSG_HDR + m->len) abort();
}

/* The answer wire.h promises for a validly signed message at round cur,
 * given what the inbox holds. */
static cx_err expected(const mpc_inbox *b, const mpc_msg *m, uint32_t cur) {
  if (m->kind != MPC_KIND_ONLINE || memcmp(m->session, k_session, 32) != 0) return CX_E_MPC_SESSION;
  if (m->from >= N || m->from == ME || (m->to != ME && m->to != MPC_TO_ALL)) return CX_E_MPC_SENDER;
  const mpc_msg *old = mpc_inbox_get(b, m->round, m->from);
  int same = old && old->raw_len == m->raw_len && memcmp(old->raw, m->raw, m->raw_len - 64) == 0;
  if (m->round < cur) return same ? CX_E_MPC_DUPLICATE : CX_E_MPC_ROUND;
  if ((uint64_t)m->round > (uint64_t)cur + 1 || m->round < g_floor) return CX_E_MPC_ROUND;
  if (old && same) return CX_E_MPC_DUPLICATE;
  /* a stored copy taken unchecked on its sender's link proves nothing */
  if (old) return mpc_msg_verify(old, &g_pks[old->from]) ? CX_E_MPC_EQUIVOCATION : CX_E_BAD_SIG;
  return CX_OK;
}

/* Offers buf to the inbox; for a validly signed buf, checks the answer. */
static cx_err offer(mpc_inbox *b, const uint8_t *buf, size_t len, uint32_t cur, int signed_ok,
                    uint32_t link) {
  mpc_msg m;
  cx_err want = CX_OK;
  if (signed_ok) {
    if (mpc_msg_decode(buf, len, &m) != CX_OK) abort();
    want = expected(b, &m, cur);
  }
  uint32_t ef = UINT32_MAX;
  cx_err e = mpc_inbox_put(b, buf, len, cur, link, &ef);
  if (!known_refusal(e)) abort();
  if (signed_ok && e != want) abort();
  if (e == CX_E_MPC_EQUIVOCATION) {
    const uint8_t *m1, *m2;
    size_t l1, l2;
    mpc_inbox_equivocation(b, &m1, &l1, &m2, &l2);
    mpc_msg x, y;
    if (mpc_msg_decode(m1, l1, &x) != CX_OK || mpc_msg_decode(m2, l2, &y) != CX_OK) abort();
    if (x.from != ef || y.from != ef || x.round != y.round) abort();
    if (!mpc_msg_verify(&x, &g_pks[ef]) || !mpc_msg_verify(&y, &g_pks[ef])) abort();
    if (l1 == l2 && memcmp(m1, m2, l1 - 64) == 0) abort(); /* same content: no proof */
  }
  if (e == CX_OK) {
    if (mpc_msg_decode(buf, len, &m) != CX_OK) abort();
    const mpc_msg *g = mpc_inbox_get(b, m.round, m.from);
    if (!g || g->raw_len != len || memcmp(g->raw, buf, len) != 0) abort();
    if (!(mpc_inbox_have(b, m.round) >> m.from & 1)) abort();
  }
  return e;
}

/* Re-signs m's fields (payload + extra bytes) with its sender's key. */
static int resign(const mpc_msg *m, size_t extra, uint8_t **out, size_t *outlen) {
  size_t len = m->len > MAXP ? MAXP : m->len;
  uint8_t *pl = malloc(len + extra + 1);
  if (!pl) abort();
  if (len) memcpy(pl, m->payload, len);
  memset(pl + len, 0xee, extra);
  cx_err e = mpc_msg_encode(g_keys[m->from], m->kind, m->session, m->round, m->from, m->to, pl,
                            len + extra, out, outlen);
  free(pl);
  return e == CX_OK;
}

static void drop(mpc_inbox *b, uint32_t round) {
  mpc_inbox_drop_before(b, round);
  if (round > g_floor) g_floor = round;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  init_keys();
  g_floor = 0;
  mpc_msg m;
  cx_err de = mpc_msg_decode(data, size, &m);
  if (!known_refusal(de)) abort();
  if (de == CX_OK) check_decoded(data, size, &m);

  mpc_inbox *b = mpc_inbox_new(N, ME, g_pks, MPC_KIND_ONLINE, k_session);
  if (!b) abort();
  /* odd sizes: as if the sender's own link delivered the bytes (stored
   * without a signature check, mpc_inbox_put) */
  uint32_t link = de == CX_OK && (size & 1) ? m.from : MPC_NO_LINK;
  cx_err e = offer(b, data, size, 0, 0, link);
  if (de != CX_OK && e != de) abort(); /* malformed: the decoder's answer */
  if (de == CX_OK) offer(b, data, size, m.round, 0, link);

  if (de == CX_OK && m.from < N) {
    uint8_t *s1 = NULL, *s2 = NULL;
    size_t l1 = 0, l2 = 0;
    if (resign(&m, 0, &s1, &l1)) {
      offer(b, s1, l1, m.round, 1, MPC_NO_LINK);
      offer(b, s1, l1, m.round, 1, MPC_NO_LINK); /* a copy */
      if (resign(&m, 1, &s2, &l2)) {
        offer(b, s2, l2, m.round, 1, m.from); /* on its link: checked as it differs */
        offer(b, s2, l2, m.round + 1, 1, MPC_NO_LINK); /* one round later: old */
      }
    }
    drop(b, m.round);
    if (s1) offer(b, s1, l1, m.round, 1, MPC_NO_LINK);
    drop(b, m.round + 1);
    if (s1 && m.round < UINT32_MAX) offer(b, s1, l1, m.round, 1, MPC_NO_LINK); /* dropped: refused */
    free(s1);
    free(s2);
  }
  mpc_inbox_free(b);
  return 0;
}
