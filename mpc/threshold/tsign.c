/* Threshold-signing sessions: coordinator-driven FROST (RFC 9591 §5) as a
 * pure state machine (see tsign.h, docs/threshold.md "Threshold signing
 * sessions (tsign)"). The arithmetic is frost.h's; this file is the
 * protocol: who commits, who is asked to sign, what is re-sent, who is
 * named and when an attempt is given up. */
#include "tsign.h"
#include "group.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "codec.h"

_Static_assert(TSIGN_MAX_PARTIES == CX_MAX_VALIDATORS, "tsign caps parties at the validator cap");

/* Coordinator phases of the attempt under way. */
enum { PH_IDLE = 0, PH_COLLECT = 1, PH_REQUESTED = 2 };

/* A signer's nonce slot for one (coordinator, attempt). Public data only:
 * the nonces are in secrets.nonces at the same index. */
typedef struct {
  uint8_t state; /* tsign_slot_state */
  uint16_t coord, attempt;
  uint64_t seq; /* opening order, for eviction */
  frost_commitment mine;
  uint8_t req_hash[32]; /* BLAKE2b of the REQUEST body it signed */
  frost_scalar z;       /* the share it gave (public once sent) */
} slot;

/* Everything secret, in one sodium_malloc'd block. */
typedef struct {
  frost_scalar share;
  frost_nonces nonces[TSIGN_MAX_SLOTS];
  frost_nonces scratch;
} secrets;

/* What the coordinator holds against a party. */
typedef struct {
  uint8_t fault;   /* 0 or tsign_fault */
  uint8_t phase;   /* unresponsive: PH_COLLECT (no commitment) or PH_REQUESTED (no share) */
  uint16_t attempt;
} mark;

typedef struct {
  uint16_t to;
  size_t len;
  uint8_t *buf;
} qitem;

struct tsign {
  uint8_t sid[TSIGN_SID_LEN];
  uint8_t *msg;
  size_t msglen;
  uint16_t n, t, me;
  frost_element gpk;
  frost_element pk[TSIGN_MAX_PARTIES];
  uint32_t commit_ms, share_ms, resend_ms;
  secrets *sec;
  /* signer */
  slot slots[TSIGN_MAX_SLOTS];
  uint64_t seq;
  uint8_t seen[TSIGN_MAX_PARTIES];         /* an attempt of coordinator c was opened */
  uint16_t max_attempt[TSIGN_MAX_PARTIES]; /* the highest one */
  /* coordinator */
  tsign_status status;
  int coordinated;
  uint8_t phase;
  uint16_t attempt;
  uint64_t phase_ms, sent_ms;
  uint8_t have_commit[TSIGN_MAX_PARTIES];
  frost_commitment commit[TSIGN_MAX_PARTIES];
  uint16_t order[TSIGN_MAX_PARTIES]; /* eligible responders, arrival order */
  size_t norder;
  frost_commitment list[TSIGN_MAX_PARTIES]; /* the REQUEST's, ascending */
  uint8_t in_list[TSIGN_MAX_PARTIES];
  uint8_t have_share[TSIGN_MAX_PARTIES];
  frost_scalar z[TSIGN_MAX_PARTIES];
  mark marks[TSIGN_MAX_PARTIES];
  frost_sig sig;
  char reason[4096]; /* room to name all 64 parties */
  tsign_stats stats;
  /* outbox: q[qhead..qlen) */
  qitem *q;
  size_t qhead, qlen, qcap;
};

/* ---- wire ---- */


static size_t put_head(uint8_t kind, const uint8_t sid[TSIGN_SID_LEN], uint16_t a, uint8_t *out) {
  out[0] = kind;
  memcpy(out + 1, sid, TSIGN_SID_LEN);
  put_be16(out + 1 + TSIGN_SID_LEN, a);
  return TSIGN_HEAD_LEN;
}

size_t tsign_encode(const tsign_msg *m, uint8_t *out) {
  size_t p = put_head(m->kind, m->sid, m->attempt, out);
  switch (m->kind) {
    case TSIGN_KIND_START:
      break;
    case TSIGN_KIND_COMMIT:
      memcpy(out + p, m->D.b, 32);
      memcpy(out + p + 32, m->E.b, 32);
      p += 64;
      break;
    case TSIGN_KIND_REQUEST:
      CX_ASSERT(m->nlist <= TSIGN_MAX_PARTIES);
      put_be16(out + p, m->nlist);
      p += 2;
      for (size_t k = 0; k < m->nlist; k++) {
        put_be16(out + p, m->list[k].id);
        memcpy(out + p + 2, m->list[k].hiding.b, 32);
        memcpy(out + p + 34, m->list[k].binding.b, 32);
        p += TSIGN_ENTRY_LEN;
      }
      break;
    case TSIGN_KIND_SHARE:
      memcpy(out + p, m->z.b, 32);
      p += 32;
      break;
    default:
      CX_ASSERT(!"tsign_encode: unknown kind");
  }
  return p;
}

static cx_err want_len(size_t len, size_t want, const char *what, char *err, size_t errlen) {
  if (len < want)
    return cx_errf(err, errlen, CX_E_TRUNCATED, "tsign %s: %zu bytes, want %zu", what, len, want);
  if (len > want)
    return cx_errf(err, errlen, CX_E_TRAILING, "tsign %s: %zu bytes, want %zu", what, len, want);
  return CX_OK;
}

/* RFC 9591 §6.2 DeserializeElement: canonical, not the identity. what
 * names the field in the sentence. */
static cx_err get_elem(const uint8_t *p, frost_element *out, const char *what, char *err,
                       size_t errlen) {
  cx_err e = frost_element_check(p);
  if (e == CX_E_NONCANONICAL)
    return cx_errf(err, errlen, e, "tsign %s is not a canonical ristretto255 encoding", what);
  if (e) return cx_errf(err, errlen, CX_E_BAD_KEY, "tsign %s is the identity element", what);
  memcpy(out->b, p, 32);
  return CX_OK;
}

static const char *kind_name(uint8_t k) {
  switch (k) {
    case TSIGN_KIND_START: return "START";
    case TSIGN_KIND_COMMIT: return "COMMIT";
    case TSIGN_KIND_REQUEST: return "REQUEST";
    default: return "SHARE";
  }
}

static cx_err decode_request(const uint8_t *in, size_t len, uint16_t n, uint16_t t, tsign_msg *m,
                             char *err, size_t errlen) {
  if (len < TSIGN_HEAD_LEN + 2)
    return cx_errf(err, errlen, CX_E_TRUNCATED, "tsign REQUEST: %zu bytes, no count", len);
  size_t k = get_be16(in + TSIGN_HEAD_LEN);
  if (k != t)
    return cx_errf(err, errlen, CX_E_MPC_MALFORMED, "tsign REQUEST: %zu signers listed, want t = %u",
                   k, t);
  cx_err e = want_len(len, TSIGN_REQUEST_LEN(k), "REQUEST", err, errlen);
  if (e) return e;
  const uint8_t *p = in + TSIGN_HEAD_LEN + 2;
  for (size_t i = 0; i < k; i++, p += TSIGN_ENTRY_LEN) {
    uint16_t id = get_be16(p);
    if (id == 0 || id > n)
      return cx_errf(err, errlen, CX_E_MPC_SENDER, "tsign REQUEST: entry %zu names party %u, not in 1..%u",
                     i, id, n);
    if (i > 0 && id <= m->list[i - 1].id)
      return cx_errf(err, errlen, CX_E_UNSORTED,
                     "tsign REQUEST: party %u after %u (ids must be strictly ascending)", id,
                     m->list[i - 1].id);
    m->list[i].id = id;
    char what[64];
    snprintf(what, sizeof what, "REQUEST: party %u's hiding commitment D", id);
    if ((e = get_elem(p + 2, &m->list[i].hiding, what, err, errlen))) return e;
    snprintf(what, sizeof what, "REQUEST: party %u's binding commitment E", id);
    if ((e = get_elem(p + 34, &m->list[i].binding, what, err, errlen))) return e;
  }
  m->nlist = (uint16_t)k;
  return CX_OK;
}

cx_err tsign_decode(const uint8_t *in, size_t len, uint16_t n, uint16_t t, tsign_msg *m, char *err,
                    size_t errlen) {
  CX_ASSERT(t >= 1 && t <= n && n <= TSIGN_MAX_PARTIES);
  m->kind = 0;
  m->attempt = 0;
  m->nlist = 0;
  if (len < 1) return cx_errf(err, errlen, CX_E_TRUNCATED, "tsign message: empty");
  if (in[0] < TSIGN_KIND_START || in[0] > TSIGN_KIND_SHARE)
    return cx_errf(err, errlen, CX_E_BAD_ENUM, "tsign message: kind %u is not 16..19", in[0]);
  if (len < TSIGN_HEAD_LEN)
    return cx_errf(err, errlen, CX_E_TRUNCATED, "tsign %s: %zu bytes, shorter than its header",
                   kind_name(in[0]), len);
  memcpy(m->sid, in + 1, TSIGN_SID_LEN);
  m->attempt = get_be16(in + 1 + TSIGN_SID_LEN);
  cx_err e = CX_OK;
  switch (in[0]) {
    case TSIGN_KIND_START:
      e = want_len(len, TSIGN_START_LEN, "START", err, errlen);
      break;
    case TSIGN_KIND_COMMIT:
      if ((e = want_len(len, TSIGN_COMMIT_LEN, "COMMIT", err, errlen))) break;
      if ((e = get_elem(in + TSIGN_HEAD_LEN, &m->D, "COMMIT: hiding commitment D", err, errlen)))
        break;
      e = get_elem(in + TSIGN_HEAD_LEN + 32, &m->E, "COMMIT: binding commitment E", err, errlen);
      break;
    case TSIGN_KIND_REQUEST:
      e = decode_request(in, len, n, t, m, err, errlen);
      break;
    default:
      if ((e = want_len(len, TSIGN_SHARE_LEN, "SHARE", err, errlen))) break;
      if (!frost_scalar_canonical(in + TSIGN_HEAD_LEN)) {
        e = cx_errf(err, errlen, CX_E_NONCANONICAL, "tsign SHARE: z is not a scalar below L");
        break;
      }
      memcpy(m->z.b, in + TSIGN_HEAD_LEN, 32);
  }
  if (e) return e;
  m->kind = in[0];
  return CX_OK;
}

/* ---- outbox ---- */

/* Queues a copy of buf[0..len). A full outbox (or no memory) drops the
 * item and counts it: the network may lose it anyway, and the timers
 * re-send what matters. */
static void push(tsign *s, uint16_t to, const uint8_t *buf, size_t len) {
  if (s->qlen - s->qhead >= TSIGN_OUTBOX_MAX) goto drop;
  if (s->qlen == s->qcap) {
    if (s->qhead > 0) {
      memmove(s->q, s->q + s->qhead, (s->qlen - s->qhead) * sizeof *s->q);
      s->qlen -= s->qhead;
      s->qhead = 0;
    } else {
      size_t cap = s->qcap ? s->qcap * 2 : 16;
      qitem *q = realloc(s->q, cap * sizeof *q);
      if (!q) goto drop;
      s->q = q;
      s->qcap = cap;
    }
  }
  uint8_t *copy = malloc(len);
  if (!copy) goto drop;
  memcpy(copy, buf, len);
  s->q[s->qlen++] = (qitem){to, len, copy};
  return;
drop:
  s->stats.outbox_dropped++;
}

int tsign_poll(tsign *s, tsign_out *out) {
  if (s->qhead == s->qlen) return 0;
  qitem *it = &s->q[s->qhead++];
  CX_ASSERT(it->len <= sizeof out->buf);
  out->to = it->to;
  out->len = it->len;
  memcpy(out->buf, it->buf, it->len);
  free(it->buf);
  if (s->qhead == s->qlen) s->qhead = s->qlen = 0;
  return 1;
}

static void send_start(tsign *s, uint16_t to) {
  uint8_t b[TSIGN_START_LEN];
  push(s, to, b, put_head(TSIGN_KIND_START, s->sid, s->attempt, b));
}

static void send_commit(tsign *s, const slot *sl) {
  uint8_t b[TSIGN_COMMIT_LEN];
  size_t p = put_head(TSIGN_KIND_COMMIT, s->sid, sl->attempt, b);
  memcpy(b + p, sl->mine.hiding.b, 32);
  memcpy(b + p + 32, sl->mine.binding.b, 32);
  push(s, sl->coord, b, sizeof b);
}

static void send_share(tsign *s, const slot *sl) {
  uint8_t b[TSIGN_SHARE_LEN];
  size_t p = put_head(TSIGN_KIND_SHARE, s->sid, sl->attempt, b);
  memcpy(b + p, sl->z.b, 32);
  push(s, sl->coord, b, sizeof b);
}

/* The REQUEST of the attempt under way, to one signer. */
static void send_request(tsign *s, uint16_t to) {
  uint8_t b[TSIGN_MSG_MAX_LEN];
  tsign_msg *m = malloc(sizeof *m);
  if (!m) {
    s->stats.outbox_dropped++;
    return;
  }
  m->kind = TSIGN_KIND_REQUEST;
  memcpy(m->sid, s->sid, TSIGN_SID_LEN);
  m->attempt = s->attempt;
  m->nlist = s->t;
  memcpy(m->list, s->list, s->t * sizeof s->list[0]);
  push(s, to, b, tsign_encode(m, b));
  free(m);
}

/* ---- signer: nonce slots ---- */

static int slot_index(const tsign *s, uint16_t c, uint16_t a) {
  for (int i = 0; i < TSIGN_MAX_SLOTS; i++)
    if (s->slots[i].state != TSIGN_SLOT_NONE && s->slots[i].coord == c && s->slots[i].attempt == a)
      return i;
  return -1;
}

static slot *find_slot(tsign *s, uint16_t c, uint16_t a) {
  int i = slot_index(s, c, a);
  return i < 0 ? NULL : &s->slots[i];
}

static void wipe_slot(tsign *s, size_t i) {
  sodium_memzero(&s->sec->nonces[i], sizeof s->sec->nonces[i]);
  memset(&s->slots[i], 0, sizeof s->slots[i]);
}

/* A new slot for (c, a): fresh nonces (RFC 9591 §5.1). Refused for an
 * attempt at or below one already opened for c, so that a slot evicted or
 * replaced is never opened again with other nonces: one (c, a), one
 * commitment, at most one share. c's older slots go (c has moved on); when
 * the table is full the oldest slot goes. */
static cx_err open_slot(tsign *s, uint16_t c, uint16_t a, slot **out, char *err, size_t errlen) {
  if (s->seen[c - 1] && a <= s->max_attempt[c - 1])
    return cx_errf(err, errlen, CX_E_MPC_ROUND,
                   "START from coordinator %u for attempt %u: attempt %u was already opened", c, a,
                   s->max_attempt[c - 1]);
  frost_commitment cm;
  if (frost_commit(s->me, &s->sec->share, NULL, NULL, &s->sec->scratch, &cm) != CX_OK) {
    sodium_memzero(&s->sec->scratch, sizeof s->sec->scratch);
    return cx_errf(err, errlen, CX_E_CRYPTO, "could not make a nonce pair");
  }
  s->stats.nonces_made++;
  size_t idx = TSIGN_MAX_SLOTS, oldest = 0;
  for (size_t i = 0; i < TSIGN_MAX_SLOTS; i++) {
    if (s->slots[i].state != TSIGN_SLOT_NONE && s->slots[i].coord == c) wipe_slot(s, i);
    if (s->slots[i].state == TSIGN_SLOT_NONE) {
      if (idx == TSIGN_MAX_SLOTS) idx = i;
    } else if (s->slots[i].seq < s->slots[oldest].seq ||
               s->slots[oldest].state == TSIGN_SLOT_NONE) {
      oldest = i;
    }
  }
  if (idx == TSIGN_MAX_SLOTS) {
    idx = oldest;
    wipe_slot(s, idx);
  }
  s->sec->nonces[idx] = s->sec->scratch;
  sodium_memzero(&s->sec->scratch, sizeof s->sec->scratch);
  slot *sl = &s->slots[idx];
  sl->state = TSIGN_SLOT_COMMITTED;
  sl->coord = c;
  sl->attempt = a;
  sl->seq = ++s->seq;
  sl->mine = cm;
  s->seen[c - 1] = 1;
  s->max_attempt[c - 1] = a;
  *out = sl;
  return CX_OK;
}

/* START from c: the slot's commitment (made now or before). */
static cx_err signer_commit(tsign *s, uint16_t c, uint16_t a, slot **out, char *err, size_t errlen) {
  slot *sl = find_slot(s, c, a);
  if (sl) {
    *out = sl;
    return CX_OK;
  }
  return open_slot(s, c, a, out, err, errlen);
}

/* REQUEST from c: the share for (c, a). *repeat = 1 when it is the cached
 * share of an identical earlier REQUEST. All checks come before frost_sign,
 * which wipes the nonces whatever it returns. */
static cx_err signer_sign(tsign *s, uint16_t c, uint16_t a, const frost_commitment *list,
                          size_t nlist, const uint8_t hash[32], slot **out, char *err,
                          size_t errlen) {
  slot *sl = find_slot(s, c, a);
  if (!sl)
    return cx_errf(err, errlen, CX_E_MPC_ROUND,
                   "REQUEST from coordinator %u for attempt %u: no commitment of mine for it", c, a);
  if (sl->state == TSIGN_SLOT_SIGNED) {
    if (sodium_memcmp(sl->req_hash, hash, 32) != 0)
      return cx_errf(err, errlen, CX_E_MPC_EQUIVOCATION,
                     "REQUEST from coordinator %u for attempt %u differs from the one already "
                     "signed: a nonce pair signs once",
                     c, a);
    *out = sl;
    return CX_OK;
  }
  if (sl->state == TSIGN_SLOT_BURNT)
    return cx_errf(err, errlen, CX_E_MPC_STATE,
                   "REQUEST from coordinator %u for attempt %u: its nonces are spent", c, a);
  size_t k = 0;
  while (k < nlist && list[k].id != s->me) k++;
  if (k == nlist)
    return cx_errf(err, errlen, CX_E_MPC_SENDER,
                   "REQUEST from coordinator %u for attempt %u does not list me (party %u)", c, a,
                   s->me);
  if (sodium_memcmp(list[k].hiding.b, sl->mine.hiding.b, 32) != 0 ||
      sodium_memcmp(list[k].binding.b, sl->mine.binding.b, 32) != 0)
    return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                   "REQUEST from coordinator %u for attempt %u: my entry is not the commitment I "
                   "gave",
                   c, a);
  size_t idx = (size_t)(sl - s->slots);
  frost_scalar z;
  s->stats.shares_made++;
  cx_err e = frost_sign(s->me, &s->sec->share, &s->gpk, &s->sec->nonces[idx], s->msg, s->msglen,
                        list, nlist, &z, err, errlen);
  sodium_memzero(&s->sec->nonces[idx], sizeof s->sec->nonces[idx]);
  if (e) {
    sl->state = TSIGN_SLOT_BURNT;
    return e;
  }
  sl->state = TSIGN_SLOT_SIGNED;
  sl->z = z;
  memcpy(sl->req_hash, hash, 32);
  *out = sl;
  return CX_OK;
}

/* The REQUEST body (count and list) names what is signed; sid and attempt
 * are the slot's. */
static void request_hash(const frost_commitment *list, size_t nlist, uint8_t out[32]) {
  crypto_generichash_state st;
  uint8_t b[2];
  crypto_generichash_init(&st, NULL, 0, 32);
  put_be16(b, (uint16_t)nlist);
  crypto_generichash_update(&st, b, 2);
  for (size_t k = 0; k < nlist; k++) {
    put_be16(b, list[k].id);
    crypto_generichash_update(&st, b, 2);
    crypto_generichash_update(&st, list[k].hiding.b, 32);
    crypto_generichash_update(&st, list[k].binding.b, 32);
  }
  crypto_generichash_final(&st, out, 32);
}

/* ---- coordinator ---- */

static int excluded(const tsign *s, uint16_t id) { return s->marks[id - 1].fault != 0; }

static size_t eligible(const tsign *s) {
  size_t k = 0;
  for (uint16_t id = 1; id <= s->n; id++) k += !excluded(s, id);
  return k;
}

static void appendf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t cap, const char *fmt, ...) {
  size_t used = strlen(buf);
  if (used + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf + used, cap - used, fmt, ap);
  va_end(ap);
}

/* FAILED, with why and every party named so far. */
static void fail(tsign *s, const char *why) {
  s->status = TSIGN_FAILED;
  s->phase = PH_IDLE;
  s->reason[0] = 0;
  appendf(s->reason, sizeof s->reason, "no signature (coordinator %u, attempt %u): %s", s->me,
          s->attempt, why);
  int any = 0;
  for (uint16_t id = 1; id <= s->n; id++) {
    const mark *mk = &s->marks[id - 1];
    if (!mk->fault) continue;
    appendf(s->reason, sizeof s->reason, "%s party %u %s", any ? "," : ";", id,
            tsign_fault_name((tsign_fault)mk->fault));
    if (mk->fault == TSIGN_BAD_SHARE)
      appendf(s->reason, sizeof s->reason, " (attempt %u)", mk->attempt);
    else
      appendf(s->reason, sizeof s->reason, " (no %s in attempt %u)",
              mk->phase == PH_COLLECT ? "commitment" : "share", mk->attempt);
    any = 1;
  }
}

static void name_party(tsign *s, uint16_t id, tsign_fault f, uint8_t phase) {
  mark *mk = &s->marks[id - 1];
  if (mk->fault == TSIGN_BAD_SHARE) return; /* the stronger finding stays */
  mk->fault = (uint8_t)f;
  mk->phase = phase;
  mk->attempt = s->attempt;
}

static void maybe_request(tsign *s, uint64_t now);

/* Attempt a: fresh tables, my own commitment first, START to the others. */
static void start_attempt(tsign *s, uint16_t a, uint64_t now) {
  size_t left = eligible(s);
  if (left < s->t) {
    char why[128];
    snprintf(why, sizeof why, "%zu of %u parties left, %u needed", left, s->n, s->t);
    fail(s, why);
    return;
  }
  s->attempt = a;
  s->phase = PH_COLLECT;
  s->phase_ms = s->sent_ms = now;
  memset(s->have_commit, 0, sizeof s->have_commit);
  memset(s->have_share, 0, sizeof s->have_share);
  memset(s->in_list, 0, sizeof s->in_list);
  s->norder = 0;
  /* Signers refuse a START at or below an attempt they have seen from me;
   * keep my own table in step even when I do not sign myself. */
  slot *sl = NULL;
  if (!excluded(s, s->me) && signer_commit(s, s->me, a, &sl, NULL, 0) == CX_OK) {
    s->have_commit[s->me - 1] = 1;
    s->commit[s->me - 1] = sl->mine;
    s->order[s->norder++] = s->me;
  } else {
    s->seen[s->me - 1] = 1;
    if (a > s->max_attempt[s->me - 1]) s->max_attempt[s->me - 1] = a;
  }
  send_start(s, TSIGN_TO_ALL);
  maybe_request(s, now);
}

static void next_attempt(tsign *s, uint64_t now) {
  if (s->attempt == UINT16_MAX) {
    fail(s, "no attempt number left");
    return;
  }
  start_attempt(s, (uint16_t)(s->attempt + 1), now);
}

/* All t shares in: aggregate with every share checked (RFC 9591 §5.3,
 * §5.4); done, or the culprits named and the next attempt. */
static void maybe_finish(tsign *s, uint64_t now) {
  if (s->phase != PH_REQUESTED) return;
  frost_scalar z[TSIGN_MAX_PARTIES];
  frost_element pk[TSIGN_MAX_PARTIES];
  uint16_t culprits[TSIGN_MAX_PARTIES];
  size_t nc = 0;
  for (size_t k = 0; k < s->t; k++) {
    uint16_t id = s->list[k].id;
    if (!s->have_share[id - 1]) return;
    z[k] = s->z[id - 1];
    pk[k] = s->pk[id - 1];
  }
  char err[256];
  frost_sig sig;
  cx_err e = frost_aggregate_checked(s->list, s->t, s->msg, s->msglen, &s->gpk, z, pk, &sig,
                                     culprits, &nc, err, sizeof err);
  if (e == CX_E_FROST_BAD_SHARE) {
    for (size_t k = 0; k < nc; k++) name_party(s, culprits[k], TSIGN_BAD_SHARE, PH_REQUESTED);
    next_attempt(s, now);
    return;
  }
  if (!e) e = frost_verify(&s->gpk, s->msg, s->msglen, &sig, err, sizeof err);
  if (e) {
    fail(s, err);
    return;
  }
  s->sig = sig;
  s->status = TSIGN_DONE;
  s->phase = PH_IDLE;
}

/* t eligible commitments: the first t responders sign (RFC 9591 §5: the
 * coordinator picks the signers), in ascending order (§4.3). */
static void maybe_request(tsign *s, uint64_t now) {
  if (s->phase != PH_COLLECT || s->norder < s->t) return;
  uint8_t chosen[TSIGN_MAX_PARTIES] = {0};
  for (size_t k = 0; k < s->t; k++) chosen[s->order[k] - 1] = 1;
  size_t k = 0;
  for (uint16_t id = 1; id <= s->n; id++)
    if (chosen[id - 1]) {
      s->list[k++] = s->commit[id - 1];
      s->in_list[id - 1] = 1;
    }
  s->phase = PH_REQUESTED;
  s->phase_ms = s->sent_ms = now;
  for (k = 0; k < s->t; k++) {
    uint16_t id = s->list[k].id;
    if (id != s->me) {
      send_request(s, id);
      continue;
    }
    uint8_t h[32];
    slot *sl = NULL;
    request_hash(s->list, s->t, h);
    /* My own share; should it fail, I am silent like any signer and the
     * share timer names me. */
    if (signer_sign(s, s->me, s->attempt, s->list, s->t, h, &sl, NULL, 0) == CX_OK) {
      s->z[id - 1] = sl->z;
      s->have_share[id - 1] = 1;
    }
  }
  maybe_finish(s, now);
}

static int coordinating(const tsign *s) {
  return s->coordinated && s->status == TSIGN_RUNNING && s->phase != PH_IDLE;
}

static cx_err on_commit(tsign *s, uint16_t j, const tsign_msg *m, uint64_t now, char *err,
                        size_t errlen) {
  if (!coordinating(s))
    return cx_errf(err, errlen, CX_E_MPC_STATE, "COMMIT from party %u: I coordinate no attempt", j);
  if (m->attempt != s->attempt)
    return cx_errf(err, errlen, CX_E_MPC_ROUND, "COMMIT from party %u for attempt %u, mine is %u", j,
                   m->attempt, s->attempt);
  if (s->have_commit[j - 1]) {
    const frost_commitment *c = &s->commit[j - 1];
    if (memcmp(c->hiding.b, m->D.b, 32) == 0 && memcmp(c->binding.b, m->E.b, 32) == 0) return CX_OK;
    return cx_errf(err, errlen, CX_E_MPC_EQUIVOCATION,
                   "party %u sent two different commitments for attempt %u", j, m->attempt);
  }
  if (s->phase != PH_COLLECT)
    return cx_errf(err, errlen, CX_E_MPC_ROUND,
                   "COMMIT from party %u: the signers of attempt %u are already chosen", j,
                   m->attempt);
  s->commit[j - 1] = (frost_commitment){j, m->D, m->E};
  s->have_commit[j - 1] = 1;
  if (!excluded(s, j)) s->order[s->norder++] = j;
  maybe_request(s, now);
  return CX_OK;
}

static cx_err on_share(tsign *s, uint16_t j, const tsign_msg *m, uint64_t now, char *err,
                       size_t errlen) {
  if (!coordinating(s))
    return cx_errf(err, errlen, CX_E_MPC_STATE, "SHARE from party %u: I coordinate no attempt", j);
  if (m->attempt != s->attempt || s->phase != PH_REQUESTED)
    return cx_errf(err, errlen, CX_E_MPC_ROUND,
                   "SHARE from party %u for attempt %u: no REQUEST of mine is waiting for it", j,
                   m->attempt);
  if (!s->in_list[j - 1])
    return cx_errf(err, errlen, CX_E_MPC_SENDER,
                   "SHARE from party %u, which attempt %u did not ask to sign", j, m->attempt);
  if (s->have_share[j - 1]) {
    if (memcmp(s->z[j - 1].b, m->z.b, 32) == 0) return CX_OK;
    return cx_errf(err, errlen, CX_E_MPC_EQUIVOCATION,
                   "party %u sent two different shares for attempt %u", j, m->attempt);
  }
  s->z[j - 1] = m->z;
  s->have_share[j - 1] = 1;
  maybe_finish(s, now);
  return CX_OK;
}

static cx_err on_start(tsign *s, uint16_t c, const tsign_msg *m, char *err, size_t errlen) {
  slot *sl = NULL;
  cx_err e = signer_commit(s, c, m->attempt, &sl, err, errlen);
  if (e) return e;
  send_commit(s, sl);
  return CX_OK;
}

static cx_err on_request(tsign *s, uint16_t c, const tsign_msg *m, char *err, size_t errlen) {
  uint8_t h[32];
  slot *sl = NULL;
  request_hash(m->list, m->nlist, h);
  cx_err e = signer_sign(s, c, m->attempt, m->list, m->nlist, h, &sl, err, errlen);
  if (e) return e;
  send_share(s, sl);
  return CX_OK;
}

/* ---- public ---- */

static cx_err check_config(const tsign_config *cfg, size_t len, char *err, size_t errlen) {
  if (cfg->t < 2 || cfg->n < cfg->t || cfg->n > TSIGN_MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "tsign: need 2 <= t <= n <= %d (t %u, n %u)",
                   TSIGN_MAX_PARTIES, cfg->t, cfg->n);
  if (cfg->my_id == 0 || cfg->my_id > cfg->n)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "tsign: my id %u is not in 1..%u", cfg->my_id,
                   cfg->n);
  if (len > TSIGN_MAX_MSG)
    return cx_errf(err, errlen, CX_E_TOO_LONG, "tsign: message of %zu bytes, cap %d", len,
                   TSIGN_MAX_MSG);
  if (!cfg->pk_shares || !cfg->share)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "tsign: public shares and signing share needed");
  cx_err e = frost_element_check(cfg->group_pk.b);
  if (e)
    return cx_errf(err, errlen, CX_E_BAD_KEY,
                   "tsign: the group key is not a canonical non-identity element");
  for (uint16_t j = 1; j <= cfg->n; j++)
    if ((e = frost_element_check(cfg->pk_shares[j - 1].b)))
      return cx_errf(err, errlen, CX_E_BAD_KEY,
                     "tsign: public share of party %u is not a canonical non-identity element", j);
  if (!frost_scalar_canonical(cfg->share->b))
    return cx_errf(err, errlen, CX_E_BAD_KEY, "tsign: my signing share is not a scalar below L");
  frost_element y;
  if (frost_public_share(cfg->share, &y) != CX_OK ||
      sodium_memcmp(y.b, cfg->pk_shares[cfg->my_id - 1].b, 32) != 0)
    return cx_errf(err, errlen, CX_E_BAD_KEY,
                   "tsign: G * my signing share is not my public share Y_%u", cfg->my_id);
  return CX_OK;
}

cx_err tsign_new(const uint8_t sid[TSIGN_SID_LEN], const uint8_t *msg, size_t len,
                 const tsign_config *cfg, tsign **out, char *err, size_t errlen) {
  *out = NULL;
  th_init();
  cx_err e = check_config(cfg, len, err, errlen);
  if (e) return e;
  tsign *s = calloc(1, sizeof *s);
  if (!s) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  s->msg = malloc(len ? len : 1);
  s->sec = sodium_malloc(sizeof *s->sec);
  if (!s->msg || !s->sec) {
    tsign_free(s);
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  }
  sodium_memzero(s->sec, sizeof *s->sec);
  s->sec->share = *cfg->share;
  memcpy(s->sid, sid, TSIGN_SID_LEN);
  if (len) memcpy(s->msg, msg, len);
  s->msglen = len;
  s->n = cfg->n;
  s->t = cfg->t;
  s->me = cfg->my_id;
  s->gpk = cfg->group_pk;
  memcpy(s->pk, cfg->pk_shares, cfg->n * sizeof s->pk[0]);
  s->commit_ms = cfg->commit_ms ? cfg->commit_ms : TSIGN_COMMIT_MS;
  s->share_ms = cfg->share_ms ? cfg->share_ms : TSIGN_SHARE_MS;
  s->resend_ms = cfg->resend_ms ? cfg->resend_ms : TSIGN_RESEND_MS;
  s->status = TSIGN_RUNNING;
  *out = s;
  return CX_OK;
}

void tsign_free(tsign *s) {
  if (!s) return;
  if (s->sec) sodium_free(s->sec); /* sodium_free wipes before unmapping */
  for (size_t i = s->qhead; i < s->qlen; i++) free(s->q[i].buf);
  free(s->q);
  free(s->msg);
  free(s);
}

cx_err tsign_coordinate(tsign *s, uint16_t attempt, uint64_t now_ms, char *err, size_t errlen) {
  if (s->status == TSIGN_DONE)
    return cx_errf(err, errlen, CX_E_MPC_STATE, "tsign: the signature is already made");
  if (s->seen[s->me - 1] && attempt <= s->max_attempt[s->me - 1])
    return cx_errf(err, errlen, CX_E_MPC_ROUND,
                   "tsign: attempt %u is not above my attempt %u already seen", attempt,
                   s->max_attempt[s->me - 1]);
  if (s->status == TSIGN_FAILED) {
    size_t left = 0;
    for (uint16_t id = 1; id <= s->n; id++) left += s->marks[id - 1].fault != TSIGN_BAD_SHARE;
    if (left < s->t)
      return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED,
                     "tsign: only %zu parties are not culprits, %u needed", left, s->t);
    for (uint16_t id = 1; id <= s->n; id++)
      if (s->marks[id - 1].fault == TSIGN_UNRESPONSIVE) memset(&s->marks[id - 1], 0, sizeof(mark));
    s->status = TSIGN_RUNNING;
    s->reason[0] = 0;
  }
  s->coordinated = 1;
  start_attempt(s, attempt, now_ms);
  if (s->status == TSIGN_FAILED)
    return cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED, "%s", s->reason);
  return CX_OK;
}

cx_err tsign_recv(tsign *s, uint16_t from_id, const uint8_t *bytes, size_t len, uint64_t now_ms,
                  char *err, size_t errlen) {
  if (from_id == 0 || from_id > s->n)
    return cx_errf(err, errlen, CX_E_MPC_SENDER, "tsign: sender %u is not a party (1..%u)", from_id,
                   s->n);
  if (from_id == s->me)
    return cx_errf(err, errlen, CX_E_MPC_SENDER, "tsign: a message from myself (party %u)",
                   from_id);
  tsign_msg *m = malloc(sizeof *m);
  if (!m) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  cx_err e = tsign_decode(bytes, len, s->n, s->t, m, err, errlen);
  if (!e && sodium_memcmp(m->sid, s->sid, TSIGN_SID_LEN) != 0)
    e = cx_errf(err, errlen, CX_E_MPC_SESSION, "tsign %s from party %u is for another session id",
                kind_name(m->kind), from_id);
  if (!e) switch (m->kind) {
      case TSIGN_KIND_START: e = on_start(s, from_id, m, err, errlen); break;
      case TSIGN_KIND_COMMIT: e = on_commit(s, from_id, m, now_ms, err, errlen); break;
      case TSIGN_KIND_REQUEST: e = on_request(s, from_id, m, err, errlen); break;
      default: e = on_share(s, from_id, m, now_ms, err, errlen);
    }
  free(m);
  return e;
}

/* Re-send to the silent; past the phase's timer, name them and move on. */
void tsign_tick(tsign *s, uint64_t now) {
  if (!coordinating(s)) return;
  uint64_t waited = now > s->phase_ms ? now - s->phase_ms : 0;
  uint64_t since = now > s->sent_ms ? now - s->sent_ms : 0;
  if (s->phase == PH_COLLECT) {
    if (waited >= s->commit_ms) {
      for (uint16_t id = 1; id <= s->n; id++)
        if (!excluded(s, id) && !s->have_commit[id - 1])
          name_party(s, id, TSIGN_UNRESPONSIVE, PH_COLLECT);
      next_attempt(s, now);
    } else if (since >= s->resend_ms) {
      for (uint16_t id = 1; id <= s->n; id++)
        if (id != s->me && !excluded(s, id) && !s->have_commit[id - 1]) send_start(s, id);
      s->sent_ms = now;
    }
    return;
  }
  if (waited >= s->share_ms) {
    for (size_t k = 0; k < s->t; k++)
      if (!s->have_share[s->list[k].id - 1])
        name_party(s, s->list[k].id, TSIGN_UNRESPONSIVE, PH_REQUESTED);
    next_attempt(s, now);
  } else if (since >= s->resend_ms) {
    for (size_t k = 0; k < s->t; k++) {
      uint16_t id = s->list[k].id;
      if (id != s->me && !s->have_share[id - 1]) send_request(s, id);
    }
    s->sent_ms = now;
  }
}

tsign_status tsign_status_get(const tsign *s) { return s->status; }

cx_err tsign_signature(const tsign *s, uint8_t sig[FROST_SIG_LEN]) {
  if (s->status != TSIGN_DONE) return CX_E_MPC_STATE;
  memcpy(sig, s->sig.b, FROST_SIG_LEN);
  return CX_OK;
}

const char *tsign_reason(const tsign *s) { return s->status == TSIGN_FAILED ? s->reason : ""; }

void tsign_culprits(const tsign *s, uint16_t *ids, tsign_fault *why, size_t *n) {
  size_t k = 0;
  for (uint16_t id = 1; id <= s->n; id++) {
    if (!s->marks[id - 1].fault) continue;
    ids[k] = id;
    if (why) why[k] = (tsign_fault)s->marks[id - 1].fault;
    k++;
  }
  *n = k;
}

const char *tsign_fault_name(tsign_fault f) {
  switch (f) {
    case TSIGN_BAD_SHARE: return "bad_share";
    case TSIGN_UNRESPONSIVE: return "unresponsive";
  }
  return "unknown";
}

int32_t tsign_attempt(const tsign *s) { return s->coordinated ? (int32_t)s->attempt : -1; }

tsign_slot_state tsign_slot(const tsign *s, uint16_t coordinator, uint16_t attempt) {
  int i = slot_index(s, coordinator, attempt);
  return i < 0 ? TSIGN_SLOT_NONE : (tsign_slot_state)s->slots[i].state;
}

void tsign_stats_get(const tsign *s, tsign_stats *out) { *out = s->stats; }
