/* The session framework shared by the prep and online protocols
 * (session_internal.h; docs/mpc-online.md, "Session framework").
 *
 * A session is a round-based state machine over signed messages. This file
 * owns everything that does not depend on what a round means: signing and
 * queueing (sess_send), the inbox and its refusals, equivocation, timeouts,
 * the status, evidence records and their third-party verification. The
 * protocols (prep.c, online.c) only see "the round's messages are all here"
 * (proto->advance) and decide the next round.
 *
 * Started or not (s->started): messages that arrive before
 * mpc_session_start are stored (round 0 or 1) but no round completes until
 * start.
 *
 * Pool labels: while a protocol callback runs, the session id is its
 * pool's label (mpc_pool_set_label), so the batch a prep or bits session
 * adds is recorded under the id of the session that made it; online
 * sessions compare where their material comes from before decoding
 * anything (docs/mpc-online.md "Pool alignment").
 *
 * Inbox retention (keep_rounds == 0, the online protocol): when a round
 * ends, rounds older than the previous one are dropped. The previous round
 * is kept so that a late retransmission of it is recognised as a duplicate
 * and a conflicting copy of it is still caught as an equivocation; the
 * online input protocol also reads it back (the echo round compares the
 * dealers' round-B messages it received one round earlier). Evidence never
 * depends on the inbox: sess_evidence copies the messages. */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "session_internal.h"

#define SESS_DEFAULT_TIMEOUT_MS 10000u

/* ---- construction ------------------------------------------------------ */

static cx_err check_config(const mpc_session_config *cfg) {
  if (!cfg || !cfg->pubkeys) return CX_E_INVALID_ARG;
  if (cfg->n == 0 || cfg->n > MPC_MAX_N) return CX_E_INVALID_ARG;
  if ((uint64_t)cfg->n < 3 * (uint64_t)cfg->t + 1) return CX_E_INVALID_ARG;
  if (cfg->me >= cfg->n) return CX_E_INVALID_ARG;
  return CX_OK;
}

cx_err sess_new(const mpc_session_config *cfg, uint8_t kind, mpc_session **out) {
  *out = NULL;
  cx_err e = check_config(cfg);
  if (e != CX_OK) return e;
  if (sodium_init() < 0) return CX_E_CRYPTO;
  mpc_session *s = calloc(1, sizeof *s);
  if (!s) return CX_E_NOMEM;
  s->cfg = *cfg;
  if (s->cfg.round_timeout_ms == 0) s->cfg.round_timeout_ms = SESS_DEFAULT_TIMEOUT_MS;
  s->kind = kind;
  e = shamir_init(&s->sh, cfg->n, cfg->t);
  if (e != CX_OK) {
    sodium_memzero(s, sizeof *s);
    free(s);
    return e;
  }
  s->inbox = mpc_inbox_new(cfg->n, cfg->me, cfg->pubkeys, kind, cfg->session);
  if (!s->inbox) {
    shamir_free(&s->sh);
    sodium_memzero(s, sizeof *s);
    free(s);
    return CX_E_NOMEM;
  }
  s->st.state = MPC_RUNNING;
  s->st.err = CX_OK;
  s->st.culprit = -1;
  s->ev.culprit = -1;
  *out = s;
  return CX_OK;
}

/* ---- sending ----------------------------------------------------------- */

static cx_err replay_record(mpc_session *s, uint32_t to, const uint8_t *payload, size_t len) {
  if (s->replay_n == s->replay_cap) {
    size_t cap = s->replay_cap ? 2 * s->replay_cap : 16;
    mpc_replayed *v = realloc(s->replay, cap * sizeof *v);
    if (!v) return CX_E_NOMEM;
    s->replay = v;
    s->replay_cap = cap;
  }
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) return CX_E_NOMEM;
  if (len) memcpy(copy, payload, len);
  s->replay[s->replay_n++] = (mpc_replayed){.round = s->round, .to = to, .payload = copy, .len = len};
  return CX_OK;
}

/* A TO_ALL message is one signature but n - 1 transmissions: the traffic
 * counters count what goes on the wire, so once per recipient. */
static void count_sent(mpc_session *s, uint32_t to, size_t wire_len) {
  uint64_t copies = to == MPC_TO_ALL ? s->cfg.n - 1 : 1;
  s->st.bytes_sent += copies * wire_len;
  s->st.msgs_sent += copies;
}

cx_err sess_send(mpc_session *s, uint32_t to, const uint8_t *payload, size_t len, mpc_outbox *out) {
  if (to != MPC_TO_ALL && (to >= s->cfg.n || to == s->cfg.me)) return CX_E_INVALID_ARG;
  if (len > MPC_MAX_PAYLOAD) return CX_E_TOO_LONG;
  if (!s->cfg.key) {
    cx_err e = replay_record(s, to, payload, len);
    if (e == CX_OK) count_sent(s, to, len + MPC_MSG_OVERHEAD);
    return e;
  }
  uint8_t *buf = NULL;
  size_t blen = 0;
  cx_err e = mpc_msg_encode(s->cfg.key, s->kind, s->cfg.session, s->round, (uint8_t)s->cfg.me,
                            (uint8_t)to, payload, len, &buf, &blen);
  if (e != CX_OK) return e;
  e = mpc_outbox_push(out, to, buf, blen);
  if (e != CX_OK) {
    free(buf);
    return e;
  }
  count_sent(s, to, blen);
  return CX_OK;
}

/* ---- round control ----------------------------------------------------- */

void sess_next_round(mpc_session *s, uint64_t expect) {
  s->round++;
  s->expect = expect;
  s->round_start_ms = s->now_ms;
  s->deadline_set = 0;
  s->st.rounds++;
  if (!s->keep_rounds && s->round >= 2) mpc_inbox_drop_before(s->inbox, s->round - 1);
}

void sess_set_deadline(mpc_session *s, uint64_t deadline_ms) {
  s->deadline_set = 1;
  s->deadline_ms = deadline_ms;
}

/* The current round's deadline has passed. The default is written as a
 * difference so that round_start_ms + round_timeout_ms cannot overflow. */
static int round_expired(const mpc_session *s, uint64_t now_ms) {
  if (s->deadline_set) return now_ms >= s->deadline_ms;
  return now_ms >= s->round_start_ms && now_ms - s->round_start_ms >= s->cfg.round_timeout_ms;
}

uint64_t sess_others(const mpc_session *s) {
  uint64_t all = s->cfg.n == 64 ? UINT64_MAX : ((uint64_t)1 << s->cfg.n) - 1;
  return all & ~((uint64_t)1 << s->cfg.me);
}

void sess_done(mpc_session *s) {
  if (s->st.state != MPC_RUNNING) return;
  /* The round in progress is complete too (a session that never ran a
   * message round sets expect to 0 before finishing). */
  if (s->round > 0 || s->expect != 0) s->st.rounds++;
  s->st.state = MPC_DONE;
  s->st.err = CX_OK;
}

void sess_abort(mpc_session *s, cx_err e, int32_t culprit, const char *fmt, ...) {
  if (s->st.state != MPC_RUNNING) return;
  s->st.state = MPC_ABORTED;
  s->st.err = e;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(s->st.reason, sizeof s->st.reason, fmt, ap);
  va_end(ap);
  /* A culprit is named with evidence only (docs/mpc-online.md "Signatures
   * checked late"). */
  if (culprit >= 0 && s->ev_unsigned) {
    culprit = -1;
    if (w >= 0 && (size_t)w < sizeof s->st.reason)
      snprintf(s->st.reason + w, sizeof s->st.reason - (size_t)w,
               " (nobody named: party %d's message, taken on its own link, fails its signature)",
               s->ev_unsigned - 1);
  }
  s->st.culprit = culprit;
}

static void evidence_clear(mpc_evidence *ev) {
  for (size_t i = 0; i < ev->count; i++) free(ev->msg[i]);
  free(ev->msg);
  free(ev->len);
  free(ev->aux);
  memset(ev, 0, sizeof *ev);
  ev->culprit = -1;
}

/* Precedence (session_internal.h): the first evidence is the one reported,
 * except that an abort's replaces a correction's. */
/* The first evidence is kept, except that evidence behind an abort replaces
 * evidence behind a correction (a wrong share, or a malformed share decoded
 * as an erasure), so the evidence returned always matches status.culprit
 * once the session has aborted naming someone. */
static void evidence_put(mpc_session *s, int correction, mpc_ev_type type, int32_t culprit,
                         uint64_t item, const uint8_t *const *msgs, const size_t *lens, size_t count) {
  if (s->st.state != MPC_RUNNING) return;
  if (s->ev.type != MPC_EV_NONE && !(s->ev_correction && !correction)) return;
  /* Online messages taken on their sender's link were not checked on
   * arrival (mpc_session_recv_link): evidence holds signed messages only. */
  for (size_t i = 0; i < count; i++) {
    mpc_msg m;
    if (mpc_msg_decode(msgs[i], lens[i], &m) != CX_OK || m.from >= s->cfg.n)
      return; /* cannot happen: every message here was decoded before */
    if (!mpc_msg_verify(&m, &s->cfg.pubkeys[m.from])) {
      if (!correction) s->ev_unsigned = (int32_t)m.from + 1;
      return;
    }
  }
  mpc_evidence ev = {.type = type, .culprit = culprit, .item = item};
  ev.msg = calloc(count ? count : 1, sizeof *ev.msg);
  ev.len = calloc(count ? count : 1, sizeof *ev.len);
  if (!ev.msg || !ev.len) goto oom;
  for (size_t i = 0; i < count; i++) {
    ev.msg[i] = malloc(lens[i] ? lens[i] : 1);
    if (!ev.msg[i]) goto oom;
    if (lens[i]) memcpy(ev.msg[i], msgs[i], lens[i]);
    ev.len[i] = lens[i];
    ev.count = i + 1;
  }
  evidence_clear(&s->ev);
  s->ev = ev;
  s->ev_correction = correction;
  if (!correction) s->ev_unsigned = 0;
  return;
oom:
  /* Evidence is best effort under memory pressure: the abort or correction
   * itself stands; only the transferable record is missing. */
  evidence_clear(&ev);
}

void sess_evidence(mpc_session *s, mpc_ev_type type, int32_t culprit, uint64_t item,
                   const uint8_t *const *msgs, const size_t *lens, size_t count) {
  evidence_put(s, type == MPC_EV_WRONG_SHARE, type, culprit, item, msgs, lens, count);
}

void sess_evidence_correction(mpc_session *s, mpc_ev_type type, int32_t culprit, uint64_t item,
                              const uint8_t *const *msgs, const size_t *lens, size_t count) {
  evidence_put(s, 1, type, culprit, item, msgs, lens, count);
}

void sess_evidence_aux(mpc_session *s, const uint8_t *aux, size_t len) {
  if (s->st.state != MPC_RUNNING || s->ev.type == MPC_EV_NONE || s->ev.aux) return;
  uint8_t *c = malloc(len ? len : 1);
  if (!c) return; /* best effort, as sess_evidence */
  if (len) memcpy(c, aux, len);
  s->ev.aux = c;
  s->ev.aux_len = len;
}

/* ---- packed bytes ------------------------------------------------------ */

void mpc_pack(const uint8_t *bytes, size_t len, fe *v) {
  for (size_t i = 0; i * MPC_PACK < len; i++) {
    fe x = 0;
    for (int b = MPC_PACK - 1; b >= 0; b--) {
      size_t at = i * MPC_PACK + (size_t)b;
      x = x << 8 | (at < len ? bytes[at] : 0);
    }
    v[i] = x;
  }
}

int mpc_unpack(const fe *v, size_t len, uint8_t *bytes) {
  for (size_t i = 0; i * MPC_PACK < len; i++) {
    size_t nb = len - i * MPC_PACK < MPC_PACK ? len - i * MPC_PACK : MPC_PACK;
    if (v[i] >> (8 * nb)) return -1;
    for (size_t b = 0; b < nb; b++) bytes[i * MPC_PACK + b] = (uint8_t)(v[i] >> (8 * b));
  }
  return 0;
}

void mpc_client_aux_digest(const uint8_t *aux, size_t aux_len, uint8_t out[32]) {
  static const char label[] = "custos/mpc-online/client-aux/v1";
  hash_ctx c;
  cx_hash h;
  hash_ctx_init(&c, MPC_CLIENT_TAG);
  hash_ctx_update(&c, label, sizeof label - 1);
  hash_ctx_update(&c, aux, aux_len);
  hash_ctx_final(&c, &h);
  memcpy(out, h.b, 32);
}

/* A protocol callback with the session id as its pool's label. */
static cx_err call(mpc_session *s, cx_err (*fn)(mpc_session *, mpc_outbox *), mpc_outbox *out) {
  if (s->pool) mpc_pool_set_label(s->pool, s->cfg.session);
  cx_err e = fn(s, out);
  if (s->pool) mpc_pool_set_label(s->pool, NULL);
  return e;
}

/* Calls proto->advance while the current round has everything it waits
 * for. A round with an empty expect mask completes at once. */
static void drive(mpc_session *s, mpc_outbox *out) {
  while (s->st.state == MPC_RUNNING && s->started) {
    uint64_t have = mpc_inbox_have(s->inbox, s->round);
    if ((have & s->expect) != s->expect) return;
    uint32_t before = s->round;
    cx_err e = call(s, s->proto->advance, out);
    if (e != CX_OK) {
      sess_abort(s, e, -1, "%s round %u: %s", s->proto->name, before, cx_err_str(e));
      return;
    }
    if (s->st.state == MPC_RUNNING && s->round == before) {
      sess_abort(s, CX_E_INTERNAL, -1, "%s round %u: the protocol did not move on", s->proto->name,
                 before);
      return;
    }
  }
}

/* ---- public session API ------------------------------------------------ */

cx_err mpc_session_start(mpc_session *s, uint64_t now_ms, mpc_outbox *out) {
  if (!s || !out) return CX_E_INVALID_ARG;
  if (s->st.state != MPC_RUNNING || s->started) return CX_E_MPC_STATE;
  s->now_ms = now_ms;
  s->round_start_ms = now_ms;
  s->deadline_set = 0;
  /* Round 0 waits for every other party unless start() narrows it (by
   * setting s->expect directly; sess_next_round is for later rounds). */
  s->expect = sess_others(s);
  s->started = 1;
  uint64_t msgs_before = s->st.msgs_sent;
  cx_err e = call(s, s->proto->start, out);
  if (e != CX_OK) {
    if (s->st.state == MPC_RUNNING && s->round == 0 && s->st.msgs_sent == msgs_before) {
      /* Refused before anything left this party (e.g. a dealer's input is
       * missing): not started, the caller may fix it and start again. */
      s->started = 0;
      return e;
    }
    sess_abort(s, e, -1, "%s start: %s", s->proto->name, cx_err_str(e));
    return e;
  }
  drive(s, out);
  return CX_OK;
}

static void abort_equivocation(mpc_session *s, uint32_t from) {
  const uint8_t *m[2];
  size_t l[2];
  mpc_inbox_equivocation(s->inbox, &m[0], &l[0], &m[1], &l[1]);
  sess_evidence(s, MPC_EV_EQUIVOCATION, (int32_t)from, 0, m, l, 2);
  sess_abort(s, CX_E_MPC_EQUIVOCATION, (int32_t)from,
             "party %u signed two different messages for one round", from);
}

cx_err mpc_session_recv(mpc_session *s, const uint8_t *msg, size_t len, uint64_t now_ms,
                        mpc_outbox *out) {
  return mpc_session_recv_link(s, MPC_NO_LINK, msg, len, now_ms, out);
}

cx_err mpc_session_recv_link(mpc_session *s, uint32_t link, const uint8_t *msg, size_t len,
                             uint64_t now_ms, mpc_outbox *out) {
  if (!s || !out || (!msg && len)) return CX_E_INVALID_ARG;
  if (s->st.state != MPC_RUNNING) return CX_E_MPC_STATE;
  s->now_ms = now_ms;
  uint32_t from = UINT32_MAX;
  /* Prep sessions relay whole signed messages in their agreement and audit
   * rounds and send few of them: every signature is checked on arrival. */
  if (s->kind != MPC_KIND_ONLINE) link = MPC_NO_LINK;
  cx_err e = mpc_inbox_put(s->inbox, msg, len, s->round, link, &from);
  if (e == CX_E_MPC_EQUIVOCATION) {
    abort_equivocation(s, from);
    return e;
  }
  if (e != CX_OK) return e;
  drive(s, out);
  return CX_OK;
}

/* A round's deadline passed with messages missing and the protocol has a
 * timeout hook (session_internal.h): it decides from what arrived. Like
 * advance, it must move on or end the session; then the next round may
 * already be complete (its messages can have arrived early). */
static void call_timeout(mpc_session *s, mpc_outbox *out) {
  uint32_t before = s->round;
  cx_err e = call(s, s->proto->timeout, out);
  if (e != CX_OK) {
    sess_abort(s, e, -1, "%s round %u deadline: %s", s->proto->name, before, cx_err_str(e));
    return;
  }
  if (s->st.state == MPC_RUNNING && s->round == before) {
    sess_abort(s, CX_E_INTERNAL, -1, "%s round %u: the timeout hook did not move on", s->proto->name,
               before);
    return;
  }
  drive(s, out);
}

void mpc_session_tick(mpc_session *s, uint64_t now_ms, mpc_outbox *out) {
  if (!s || s->st.state != MPC_RUNNING || !s->started) return;
  s->now_ms = now_ms;
  if (!round_expired(s, now_ms)) return;
  /* A missing message is not proof of cheating (a crash looks the same):
   * the parties are listed as unresponsive, nobody is named. With a
   * timeout hook a session can outlive several such rounds: the list
   * accumulates. */
  uint64_t missing = s->expect & ~mpc_inbox_have(s->inbox, s->round);
  s->st.unresponsive |= missing;
  if (s->proto->timeout && out) {
    call_timeout(s, out);
    return;
  }
  sess_timeout_abort(s);
}

void sess_timeout_abort(mpc_session *s) {
  uint32_t c = (uint32_t)__builtin_popcountll(s->expect & ~mpc_inbox_have(s->inbox, s->round));
  sess_abort(s, CX_E_MPC_TIMEOUT, -1, "%s round %u timed out waiting for %u part%s", s->proto->name,
             s->round, c, c == 1 ? "y" : "ies");
}

const mpc_status *mpc_session_status(const mpc_session *s) { return &s->st; }

const mpc_evidence *mpc_session_evidence(const mpc_session *s) { return &s->ev; }

void mpc_session_free(mpc_session *s) {
  if (!s) return;
  if (s->proto && s->proto->destroy) s->proto->destroy(s);
  if (s->inbox) mpc_inbox_free(s->inbox);
  shamir_free(&s->sh);
  evidence_clear(&s->ev);
  for (size_t i = 0; i < s->replay_n; i++) {
    sodium_memzero(s->replay[i].payload, s->replay[i].len);
    free(s->replay[i].payload);
  }
  free(s->replay);
  sodium_memzero(s, sizeof *s);
  free(s);
}

/* ---- evidence verification --------------------------------------------- */

/* Decodes message i of the evidence and checks it is signed by `signer`. */
static cx_err ev_msg(uint32_t n, const cx_pubkey *pubkeys, const mpc_evidence *ev, size_t i,
                     uint32_t signer, mpc_msg *m) {
  if (!ev->msg || !ev->len || !ev->msg[i]) return CX_E_INVALID_ARG;
  cx_err e = mpc_msg_decode(ev->msg[i], ev->len[i], m);
  if (e != CX_OK) return e;
  if (m->from != signer || signer >= n) return CX_E_MPC_SENDER;
  if (!mpc_msg_verify(m, &pubkeys[signer])) return CX_E_BAD_SIG;
  return CX_OK;
}

static int same_slot(const mpc_msg *a, const mpc_msg *b) {
  return a->kind == b->kind && a->round == b->round && a->from == b->from &&
         memcmp(a->session, b->session, 32) == 0;
}

/* Two signed messages for one (kind, session, round, from) slot with
 * different signed content. Only the content before the signature is
 * compared: two signatures of the same content are not a cheat. Two
 * point-to-point messages to different recipients are legitimate; the
 * inbox holds one message per (round, sender), so a TO_ALL message and a
 * point-to-point one in one round also conflict. */
static cx_err verify_equivocation(uint32_t n, const cx_pubkey *pubkeys, const mpc_evidence *ev) {
  if (ev->count != 2) return CX_E_INVALID_ARG;
  uint32_t c = (uint32_t)ev->culprit;
  mpc_msg a, b;
  cx_err e = ev_msg(n, pubkeys, ev, 0, c, &a);
  if (e == CX_OK) e = ev_msg(n, pubkeys, ev, 1, c, &b);
  if (e != CX_OK) return e;
  if (!same_slot(&a, &b)) return CX_E_MPC_SESSION;
  if (a.to != b.to && a.to != MPC_TO_ALL && b.to != MPC_TO_ALL) return CX_E_NOT_CONFLICTING;
  size_t ca = a.raw_len - 64, cb = b.raw_len - 64;
  if (ca == cb && memcmp(a.raw, b.raw, ca) == 0) return CX_E_NOT_CONFLICTING;
  return CX_OK;
}

/* The layout rule every online payload obeys whatever the program: a
 * whole number of canonical field elements, the first a tag; the tags of
 * input rounds B and C are only ever sent to everyone, never in round 0;
 * the client-check tag only to everyone, in round 0 or 1; a round-0
 * message is a SHARES or CLIENT message; a round-0 message and a round-2
 * ECHO carry the pool guard (the MPC_GUARD_N elements after the tag),
 * which is packed bytes.
 * (A wrong length for the program at hand is certain to the parties
 * running it, but a third party does not know the program: that case is
 * not provable here.) */
static int online_well_formed(const mpc_msg *m) {
  if (m->len % FE_BYTES || m->len == 0) return 0;
  size_t count = m->len / FE_BYTES;
  fe tag;
  if (fe_decode(m->payload, &tag) != 0) return 0;
  if (tag != MPC_TAG_SHARES && tag != MPC_TAG_DELTA && tag != MPC_TAG_ECHO && tag != MPC_TAG_CLIENT) return 0;
  if (tag != MPC_TAG_SHARES && m->to != MPC_TO_ALL) return 0;
  if ((tag == MPC_TAG_DELTA || tag == MPC_TAG_ECHO) && m->round == 0) return 0;
  if (tag == MPC_TAG_CLIENT && m->round > 1) return 0;
  int guard = m->round == 0 || (m->round == 2 && tag == MPC_TAG_ECHO);
  if (guard && count < 1 + (size_t)MPC_GUARD_N) return 0;
  for (size_t i = 1; i < count; i++) {
    fe x;
    if (fe_decode(m->payload + i * FE_BYTES, &x) != 0) return 0;
    if (guard && i <= MPC_GUARD_N && (x >> (8 * MPC_PACK))) return 0;
  }
  return 1;
}

/* Prep messages have their own per-round layouts: prep.c judges them. */
static cx_err verify_malformed(uint32_t n, uint32_t t, const cx_pubkey *pubkeys, const mpc_evidence *ev) {
  if (ev->count != 1) return CX_E_INVALID_ARG;
  mpc_msg m;
  cx_err e = ev_msg(n, pubkeys, ev, 0, (uint32_t)ev->culprit, &m);
  if (e != CX_OK) return e;
  if (m.kind == MPC_KIND_PREP) return prep_audit_verify(n, t, pubkeys, ev);
  if (m.kind != MPC_KIND_ONLINE) return CX_OK; /* no honest party signs another kind */
  return online_well_formed(&m) ? CX_E_NOT_CONFLICTING : CX_OK;
}

/* n signed messages of one robust opening: message j from party j, one
 * (kind, session, round), one recipient field (MPC_TO_ALL for an opening
 * everyone does; a party index when the shares go to one party, whose own
 * message is then addressed to itself). Honest parties' shares of one
 * opening lie on one degree-t polynomial (docs/mpc-online.md "Cheater
 * naming"), so with at most t faulty parties Berlekamp–Welch decodes that
 * polynomial uniquely and only faulty parties are off it. Only online
 * messages qualify (prep checks detect, they never correct), and they must
 * carry the SHARES tag in element 0: it is what tells a third party that a
 * round is an opening. Honest echo messages, say, are not shares of one
 * polynomial, and a culprit could otherwise pick such a round to frame an
 * honest party. For the same reason item never points into the pool guard
 * of a round-0 message: honest guards differ exactly when pools are not
 * aligned, and a culprit must not turn that into a wrong "share". */
static cx_err verify_wrong_share(uint32_t n, uint32_t t, const cx_pubkey *pubkeys,
                                 const mpc_evidence *ev) {
  if (ev->count != n) return CX_E_INVALID_ARG;
  mpc_msg m0;
  fe y[MPC_MAX_N];
  uint64_t off = ev->item;
  if (off > (MPC_MAX_PAYLOAD / FE_BYTES)) return CX_E_INVALID_ARG;
  for (uint32_t j = 0; j < n; j++) {
    mpc_msg m;
    cx_err e = ev_msg(n, pubkeys, ev, j, j, &m);
    if (e != CX_OK) return e;
    if (j == 0) m0 = m;
    if (!(m.kind == m0.kind && m.round == m0.round && memcmp(m.session, m0.session, 32) == 0))
      return CX_E_MPC_SESSION;
    if (m.to != m0.to) return CX_E_MPC_SENDER;
    if (m.kind != MPC_KIND_ONLINE) return CX_E_MPC_SESSION;
    if (m.len % FE_BYTES || m.len < FE_BYTES * (off + 1)) return CX_E_MPC_MALFORMED;
    fe tag;
    if (off == 0 || (m.round == 0 && off <= MPC_GUARD_N)) return CX_E_MPC_MALFORMED;
    if (fe_decode(m.payload, &tag) != 0 || tag != MPC_TAG_SHARES) return CX_E_MPC_MALFORMED;
    if (fe_decode(m.payload + off * FE_BYTES, &y[j]) != 0) return CX_E_MPC_MALFORMED;
  }
  mpc_shamir sh;
  cx_err e = shamir_init(&sh, n, t);
  if (e != CX_OK) return e;
  uint64_t all = n == 64 ? UINT64_MAX : ((uint64_t)1 << n) - 1, errmask = 0;
  fe secret;
  int rc = shamir_bw_decode(&sh, y, all, t, t, &secret, &errmask);
  shamir_free(&sh);
  if (rc != 0) return CX_E_MPC_INCONSISTENT; /* more than t faulty: nothing is proven */
  return (errmask >> ev->culprit) & 1 ? CX_OK : CX_E_NOT_CONFLICTING;
}

/* Element `at` of a payload (FE_BYTES each); -1 if out of range or not
 * canonical. */
static int pl_fe(const mpc_msg *m, size_t at, fe *x) {
  if (m->len % FE_BYTES || at >= m->len / FE_BYTES) return -1;
  return fe_decode(m->payload + at * FE_BYTES, x) != 0 ? -1 : 0;
}

/* Message j of a client evidence: a CLIENT message of the culprit's
 * session (m0's), of `round`, sent to everyone. */
static cx_err client_msg(uint32_t n, const cx_pubkey *pubkeys, const mpc_evidence *ev, size_t i,
                         uint32_t signer, uint32_t round, const mpc_msg *m0, mpc_msg *m) {
  cx_err e = ev_msg(n, pubkeys, ev, i, signer, m);
  if (e != CX_OK) return e;
  if (m->kind != MPC_KIND_ONLINE || m->round != round || (m0 && memcmp(m->session, m0->session, 32) != 0))
    return CX_E_MPC_SESSION;
  if (m->to != MPC_TO_ALL) return CX_E_MPC_SENDER;
  fe tag;
  if (pl_fe(m, 0, &tag) || tag != MPC_TAG_CLIENT) return CX_E_MPC_MALFORMED;
  return CX_OK;
}

/* The client check (docs/mpc-online.md "Client inputs"): every party's
 * signed y for the slot, each bound to the digest of aux (so aux is the
 * public data every signer used: a made-up aux cannot frame anyone), and
 * the culprit's signed reveal; mpc_client_blame, the rule every party
 * applied, must name the culprit from them. */
static cx_err verify_client(uint32_t n, uint32_t t, const cx_pubkey *pubkeys, const mpc_evidence *ev) {
  if (ev->count != (size_t)n + 1 || !ev->aux || ev->aux_len != 40 + 32 * (size_t)n) return CX_E_INVALID_ARG;
  uint64_t count = 0;
  for (int b = 7; b >= 0; b--) count = count << 8 | ev->aux[32 + b];
  if (count == 0 || count > MPC_CLIENT_MAX_VALUES || ev->item >= MPC_CLIENT_MAX_SLOTS) return CX_E_INVALID_ARG;
  uint8_t dig[32];
  fe dv[MPC_CK_PACKED];
  mpc_client_aux_digest(ev->aux, ev->aux_len, dig);
  mpc_pack(dig, 32, dv);
  fe y[MPC_MAX_N];
  mpc_msg m0, m;
  size_t at = 1 + MPC_GUARD_N + MPC_CK_ENTRY * (size_t)ev->item;
  for (uint32_t j = 0; j < n; j++) {
    cx_err e = client_msg(n, pubkeys, ev, j, j, 0, j ? &m0 : NULL, &m);
    if (e != CX_OK) return e;
    if (j == 0) m0 = m;
    fe flag, d;
    if (pl_fe(&m, at, &flag) || pl_fe(&m, at + 1, &y[j]) || flag != 0) return CX_E_MPC_MALFORMED;
    for (size_t q = 0; q < MPC_CK_PACKED; q++)
      if (pl_fe(&m, at + 2 + q, &d) || d != dv[q]) return CX_E_MPC_SESSION; /* another dealing */
  }
  uint32_t c = (uint32_t)ev->culprit;
  cx_err e = client_msg(n, pubkeys, ev, n, c, 1, &m0, &m);
  if (e != CX_OK) return e;
  /* Walk the reveal's entries to the slot's: 0, or k followed by the salt
   * (packed) and k shares. */
  size_t p = 1, ne = m.len / FE_BYTES;
  fe f = 0;
  for (uint64_t k = 0;; k++) {
    if (pl_fe(&m, p, &f)) return CX_E_MPC_MALFORMED;
    if (k == ev->item) break;
    if (f > ne) return CX_E_MPC_MALFORMED;
    p += f ? 1 + MPC_CK_PACKED + (size_t)f : 1;
  }
  if (f != count + 1 || p + 1 + MPC_CK_PACKED + count + 1 > ne) return CX_E_MPC_MALFORMED;
  fe sv[MPC_CK_PACKED];
  mpc_client_reveal r;
  fe *sh = malloc((count + 1) * sizeof *sh);
  if (!sh) return CX_E_NOMEM;
  int bad = 0;
  for (size_t q = 0; q < MPC_CK_PACKED; q++) bad |= pl_fe(&m, p + 1 + q, &sv[q]);
  for (size_t q = 0; q <= count; q++) bad |= pl_fe(&m, p + 1 + MPC_CK_PACKED + q, &sh[q]);
  if (bad || mpc_unpack(sv, 32, r.salt)) {
    free(sh);
    return CX_E_MPC_MALFORMED;
  }
  r.shares = sh;
  const mpc_client_reveal *rv[MPC_MAX_N] = {0};
  rv[c] = &r;
  cx_hash commit[MPC_MAX_N];
  memcpy(commit, ev->aux + 40, 32 * (size_t)n);
  uint64_t all = n == 64 ? UINT64_MAX : ((uint64_t)1 << n) - 1;
  mpc_client_result res;
  e = mpc_client_blame(n, t, ev->aux, commit, count, y, all, rv, &res);
  free(sh);
  if (e != CX_OK) return e;
  return res.verdict == MPC_CLIENT_BAD_MEMBER && ((res.members >> c) & 1) ? CX_OK : CX_E_NOT_CONFLICTING;
}

cx_err mpc_evidence_verify(uint32_t n, uint32_t t, const cx_pubkey *pubkeys, const mpc_evidence *ev) {
  if (!pubkeys || !ev || n == 0 || n > MPC_MAX_N || (uint64_t)n < 3 * (uint64_t)t + 1)
    return CX_E_INVALID_ARG;
  if (ev->culprit < 0 || (uint32_t)ev->culprit >= n) return CX_E_INVALID_ARG;
  switch (ev->type) {
  case MPC_EV_EQUIVOCATION: return verify_equivocation(n, pubkeys, ev);
  case MPC_EV_MALFORMED: return verify_malformed(n, t, pubkeys, ev);
  case MPC_EV_WRONG_SHARE: return verify_wrong_share(n, t, pubkeys, ev);
  case MPC_EV_COIN:
  case MPC_EV_AUDIT: return prep_audit_verify(n, t, pubkeys, ev);
  case MPC_EV_CLIENT: return verify_client(n, t, pubkeys, ev);
  case MPC_EV_NONE: break;
  }
  return CX_E_INVALID_ARG;
}
