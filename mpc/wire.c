/* MPC messages, the per-session inbox and the outbox (wire.h, mpc.h).
 *
 * The inbox keeps, per (round, sender), the one signed message it accepted:
 * a private copy of the raw bytes, which is also the evidence should the
 * sender later sign a different message for the same slot (equivocation,
 * docs/mpc.md "Evidence"). Rounds are kept in a small array sorted by round
 * number: a session has a handful in flight (cur and cur + 1) and, for prep
 * audits, the few rounds of one batch. */
#include "wire.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hash.h"
#include "mpc.h"
#include "session_internal.h"

/* ---- encoding ---------------------------------------------------------- */

/* Offsets in the header (wire.h) */
enum { OFF_VER = 0, OFF_KIND = 1, OFF_SESSION = 2, OFF_ROUND = 34, OFF_FROM = 38, OFF_TO = 39,
       OFF_LEN = 40 };

/* The signed digest: H_tag(header || payload), one pass of SHA-256.
 * Payloads are megabytes of shares, hashed by the sender and again by each
 * receiver: OpenSSL's SHA-256 (SHA extensions) runs at about 1.8 GB/s on
 * this machine, libsodium's BLAKE2b, which version 1 used on the payload,
 * at 0.64 GB/s. */
static void msg_digest(const uint8_t *hdr, const uint8_t *payload, size_t len, cx_hash *out) {
  hash_ctx h;
  hash_ctx_init(&h, CX_TAG_MPC_MSG);
  hash_ctx_update(&h, hdr, MPC_MSG_HDR);
  if (len) hash_ctx_update(&h, payload, len);
  hash_ctx_final(&h, out);
}

cx_err mpc_msg_encode(const cx_seckey *key, uint8_t kind, const uint8_t session[32], uint32_t round,
                      uint8_t from, uint8_t to, const uint8_t *payload, size_t len, uint8_t **out,
                      size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (len > MPC_MAX_PAYLOAD) return CX_E_TOO_LONG;
  size_t total = MPC_MSG_OVERHEAD + len;
  uint8_t *b = malloc(total);
  if (!b) return CX_E_NOMEM;
  b[OFF_VER] = MPC_WIRE_VERSION;
  b[OFF_KIND] = kind;
  memcpy(b + OFF_SESSION, session, 32);
  put_be32(b + OFF_ROUND, round);
  b[OFF_FROM] = from;
  b[OFF_TO] = to;
  put_be32(b + OFF_LEN, (uint32_t)len);
  if (len) memcpy(b + MPC_MSG_HDR, payload, len);
  cx_hash h;
  msg_digest(b, b + MPC_MSG_HDR, len, &h);
  cx_sig sig;
  cx_err e = key_sign32(key, h.b, NULL, &sig);
  if (e != CX_OK) {
    free(b);
    return e;
  }
  memcpy(b + MPC_MSG_HDR + len, sig.b, 64);
  *out = b;
  *outlen = total;
  return CX_OK;
}

cx_err mpc_msg_decode(const uint8_t *buf, size_t len, mpc_msg *m) {
  memset(m, 0, sizeof *m);
  if (len < 1) return CX_E_TRUNCATED;
  if (buf[OFF_VER] != MPC_WIRE_VERSION) return CX_E_BAD_VERSION;
  if (len < MPC_MSG_HDR) return CX_E_TRUNCATED;
  size_t plen = get_be32(buf + OFF_LEN);
  if (plen > MPC_MAX_PAYLOAD) return CX_E_TOO_LONG;
  if (len < MPC_MSG_OVERHEAD + plen) return CX_E_TRUNCATED;
  if (len > MPC_MSG_OVERHEAD + plen) return CX_E_TRAILING;
  m->kind = buf[OFF_KIND];
  memcpy(m->session, buf + OFF_SESSION, 32);
  m->round = get_be32(buf + OFF_ROUND);
  m->from = buf[OFF_FROM];
  m->to = buf[OFF_TO];
  m->payload = buf + MPC_MSG_HDR;
  m->len = plen;
  m->sig = buf + MPC_MSG_HDR + plen;
  m->raw = buf;
  m->raw_len = len;
  return CX_OK;
}

int mpc_msg_verify(const mpc_msg *m, const cx_pubkey *pk) {
  cx_hash h;
  msg_digest(m->raw, m->payload, m->len, &h);
  cx_sig sig;
  memcpy(sig.b, m->sig, 64);
  return sig_verify(pk, h.b, 32, &sig);
}

/* ---- inbox ------------------------------------------------------------- */

typedef struct {
  uint8_t *raw; /* private copy; NULL: slot empty */
  mpc_msg m;    /* decoded, pointing into raw */
  int checked;  /* signature verified (0: taken on its sender's link, not yet) */
} slot;

typedef struct {
  uint32_t round;
  uint64_t have;
  slot s[MPC_MAX_N];
} inbox_round;

struct mpc_inbox {
  uint32_t n, me;
  const cx_pubkey *pks;
  uint8_t kind, session[32];
  inbox_round **r; /* sorted by round; records never move (pointers stay valid) */
  size_t nr, cap;
  uint32_t floor;  /* rounds below were dropped */
  uint8_t *eq[2];  /* last equivocation: stored message, new message */
  size_t eqlen[2];
};

mpc_inbox *mpc_inbox_new(uint32_t n, uint32_t me, const cx_pubkey *pks, uint8_t kind,
                         const uint8_t session[32]) {
  if (n < 1 || n > MPC_MAX_N || me >= n) return NULL;
  mpc_inbox *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->n = n;
  b->me = me;
  b->pks = pks;
  b->kind = kind;
  memcpy(b->session, session, 32);
  return b;
}

static void round_free(inbox_round *r) {
  for (uint32_t j = 0; j < MPC_MAX_N; j++) free(r->s[j].raw);
  free(r);
}

void mpc_inbox_free(mpc_inbox *b) {
  if (!b) return;
  for (size_t i = 0; i < b->nr; i++) round_free(b->r[i]);
  free(b->r);
  free(b->eq[0]);
  free(b->eq[1]);
  free(b);
}

/* Position of round in b->r, or where it would be inserted (*found = 0). */
static size_t round_pos(const mpc_inbox *b, uint32_t round, int *found) {
  size_t lo = 0, hi = b->nr;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (b->r[mid]->round < round) lo = mid + 1;
    else hi = mid;
  }
  *found = lo < b->nr && b->r[lo]->round == round;
  return lo;
}

static inbox_round *round_find(const mpc_inbox *b, uint32_t round) {
  int found;
  size_t i = round_pos(b, round, &found);
  return found ? b->r[i] : NULL;
}

static inbox_round *round_get(mpc_inbox *b, uint32_t round) {
  int found;
  size_t i = round_pos(b, round, &found);
  if (found) return b->r[i];
  if (b->nr == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 4;
    inbox_round **v = realloc(b->r, cap * sizeof *v);
    if (!v) return NULL;
    b->r = v;
    b->cap = cap;
  }
  inbox_round *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->round = round;
  memmove(b->r + i + 1, b->r + i, (b->nr - i) * sizeof *b->r);
  b->r[i] = r;
  b->nr++;
  return r;
}

static slot *slot_find(const mpc_inbox *b, uint32_t round, uint32_t from) {
  inbox_round *r = round_find(b, round);
  if (!r || from >= b->n || !r->s[from].raw) return NULL;
  return &r->s[from];
}

/* Same signed content (header and payload). BIP340 signing is randomized,
 * so a message re-encoded by its sender may carry another valid signature
 * of the same content: that is a copy, not two different messages, and
 * could not be proven an equivocation (CX_E_NOT_CONFLICTING). */
static int same_content(const slot *s, const uint8_t *buf, size_t len) {
  return s->m.raw_len == len && memcmp(s->raw, buf, len - 64) == 0;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t len) {
  uint8_t *c = malloc(len ? len : 1);
  if (c && len) memcpy(c, p, len);
  return c;
}

/* Keeps both encodings of an equivocation (the stored slot may be dropped
 * later; the evidence must outlive it). */
static cx_err keep_equivocation(mpc_inbox *b, const slot *old, const uint8_t *buf, size_t len) {
  uint8_t *a = dup_bytes(old->raw, old->m.raw_len), *c = dup_bytes(buf, len);
  if (!a || !c) {
    free(a);
    free(c);
    return CX_E_NOMEM;
  }
  free(b->eq[0]);
  free(b->eq[1]);
  b->eq[0] = a;
  b->eqlen[0] = old->m.raw_len;
  b->eq[1] = c;
  b->eqlen[1] = len;
  return CX_OK;
}

static cx_err store(mpc_inbox *b, const uint8_t *buf, size_t len, uint32_t round, uint32_t from,
                    int checked) {
  uint8_t *copy = dup_bytes(buf, len);
  if (!copy) return CX_E_NOMEM;
  inbox_round *r = round_get(b, round);
  if (!r) {
    free(copy);
    return CX_E_NOMEM;
  }
  slot *s = &r->s[from];
  if (mpc_msg_decode(copy, len, &s->m) != CX_OK) { /* cannot happen: decoded above */
    free(copy);
    return CX_E_INTERNAL;
  }
  s->raw = copy;
  s->checked = checked;
  r->have |= (uint64_t)1 << from;
  return CX_OK;
}

static int slot_verify(const mpc_inbox *b, slot *s) {
  if (!s->checked && mpc_msg_verify(&s->m, &b->pks[s->m.from])) s->checked = 1;
  return s->checked;
}

cx_err mpc_inbox_put(mpc_inbox *b, const uint8_t *buf, size_t len, uint32_t cur, uint32_t link,
                     uint32_t *equiv_from) {
  mpc_msg m;
  cx_err e = mpc_msg_decode(buf, len, &m);
  if (e != CX_OK) return e;
  if (m.kind != b->kind || memcmp(m.session, b->session, 32) != 0) return CX_E_MPC_SESSION;
  if (m.from >= b->n || m.from == b->me || (m.to != b->me && m.to != MPC_TO_ALL))
    return CX_E_MPC_SENDER;
  /* Everything below is about a message its sender provably signed, or
   * provably sent: its own link delivered it (the Noise IK handshake names
   * the peer), and its signature is checked once something depends on
   * it being transferable. */
  int checked = m.from != link;
  if (checked && !mpc_msg_verify(&m, &b->pks[m.from])) return CX_E_BAD_SIG;
  slot *old = slot_find(b, m.round, m.from);
  if (m.round < cur) return old && same_content(old, buf, len) ? CX_E_MPC_DUPLICATE : CX_E_MPC_ROUND;
  if ((uint64_t)m.round > (uint64_t)cur + 1 || m.round < b->floor) return CX_E_MPC_ROUND;
  if (old) {
    if (same_content(old, buf, len)) return CX_E_MPC_DUPLICATE;
    /* An equivocation is proven by two signed messages only. */
    if (!checked && !mpc_msg_verify(&m, &b->pks[m.from])) return CX_E_BAD_SIG;
    if (!slot_verify(b, old)) return CX_E_BAD_SIG;
    e = keep_equivocation(b, old, buf, len);
    if (e != CX_OK) return e;
    if (equiv_from) *equiv_from = m.from;
    return CX_E_MPC_EQUIVOCATION;
  }
  return store(b, buf, len, m.round, m.from, checked);
}

int mpc_inbox_verify(mpc_inbox *b, uint32_t round, uint32_t from) {
  slot *s = slot_find(b, round, from);
  return s && slot_verify(b, s);
}

void mpc_inbox_equivocation(const mpc_inbox *b, const uint8_t **m1, size_t *l1, const uint8_t **m2,
                            size_t *l2) {
  *m1 = b->eq[0];
  *l1 = b->eqlen[0];
  *m2 = b->eq[1];
  *l2 = b->eqlen[1];
}

uint64_t mpc_inbox_have(const mpc_inbox *b, uint32_t round) {
  const inbox_round *r = round_find(b, round);
  return r ? r->have : 0;
}

const mpc_msg *mpc_inbox_get(const mpc_inbox *b, uint32_t round, uint32_t from) {
  const slot *s = slot_find(b, round, from);
  return s ? &s->m : NULL;
}

void mpc_inbox_drop_before(mpc_inbox *b, uint32_t round) {
  size_t k = 0;
  while (k < b->nr && b->r[k]->round < round) round_free(b->r[k++]);
  if (k) memmove(b->r, b->r + k, (b->nr - k) * sizeof *b->r);
  b->nr -= k;
  if (round > b->floor) b->floor = round;
}

/* ---- outbox ------------------------------------------------------------ */

cx_err mpc_outbox_push(mpc_outbox *o, uint32_t to, uint8_t *buf, size_t len) {
  if (o->n == o->cap) {
    size_t cap = o->cap ? 2 * o->cap : 8;
    mpc_send *v = realloc(o->v, cap * sizeof *v);
    if (!v) {
      free(buf); /* ownership was passed: do not leak it */
      return CX_E_NOMEM;
    }
    o->v = v;
    o->cap = cap;
  }
  o->v[o->n++] = (mpc_send){.to = to, .buf = buf, .len = len};
  return CX_OK;
}

void mpc_outbox_clear(mpc_outbox *o) {
  for (size_t i = 0; i < o->n; i++) free(o->v[i].buf);
  o->n = 0;
}

void mpc_outbox_free(mpc_outbox *o) {
  mpc_outbox_clear(o);
  free(o->v);
  o->v = NULL;
  o->cap = 0;
}
