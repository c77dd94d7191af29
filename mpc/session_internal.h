/* The session framework shared by the prep and online protocols (internal to
 * mpc/; session.c implements it, prep.c and online.c plug into it).
 *
 * A session runs rounds. In round r every party sends its round-r messages
 * (sess_send) and waits for the round-r messages of the parties in
 * s->expect. When all have arrived, session.c calls proto->advance, which
 * reads them (mpc_inbox_get(s->inbox, s->round, j)) and then either
 *   - calls sess_next_round(s, expect) and sends the next round's messages,
 *   - calls sess_done(s), or
 *   - calls sess_abort(...).
 * start() is the same for round 0 (s->round == 0 already). A round whose
 * expect mask is empty completes at once. Messages of round r+1 that arrive
 * early are kept by the inbox. Timeouts, signatures, equivocation and
 * malformed encodings are handled here, not in the protocols. */
#ifndef CUSTOS_MPC_SESSION_INTERNAL_H
#define CUSTOS_MPC_SESSION_INTERNAL_H

#include "mpc.h"
#include "shamir.h"
#include "wire.h"

typedef struct {
  const char *name;
  cx_err (*start)(mpc_session *s, mpc_outbox *out);
  cx_err (*advance)(mpc_session *s, mpc_outbox *out);
  void (*destroy)(mpc_session *s); /* wipe and free s->impl */
} mpc_proto;

/* An unsigned message recorded in replay mode (cfg.key == NULL). */
typedef struct {
  uint32_t round, to;
  uint8_t *payload;
  size_t len;
} mpc_replayed;

struct mpc_session {
  mpc_session_config cfg; /* copy; pubkeys/key borrowed */
  uint8_t kind;           /* MPC_KIND_PREP / MPC_KIND_ONLINE */
  mpc_shamir sh;
  mpc_inbox *inbox;
  mpc_pool *pool;
  const mpc_proto *proto;
  void *impl;
  uint32_t round;         /* round being sent and awaited */
  uint64_t expect;        /* parties whose round message we wait for */
  uint64_t round_start_ms, now_ms;
  int keep_rounds;        /* 1: keep every round in the inbox (prep: audit) */
  mpc_status st;
  mpc_evidence ev;
  /* replay mode (cfg.key == NULL): sess_send records here instead */
  mpc_replayed *replay;
  size_t replay_n, replay_cap;
};

/* Common constructor: copies cfg, checks n/t/me, inits shamir and inbox.
 * The caller then sets proto/impl/pool. */
cx_err sess_new(const mpc_session_config *cfg, uint8_t kind, mpc_session **out);

/* Signs and queues payload for party `to` (or MPC_TO_ALL) in round s->round.
 * Counts bytes/messages in s->st. In replay mode records it unsigned. */
cx_err sess_send(mpc_session *s, uint32_t to, const uint8_t *payload, size_t len, mpc_outbox *out);
/* Moves to round s->round + 1 waiting for the parties in expect. */
void sess_next_round(mpc_session *s, uint64_t expect);
/* The default expect mask: every party but me. */
uint64_t sess_others(const mpc_session *s);
void sess_done(mpc_session *s);
/* Aborts (once; later calls are ignored). culprit -1 if nobody is proven. */
void sess_abort(mpc_session *s, cx_err e, int32_t culprit, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records evidence (copies the messages); the first evidence recorded is the
 * one mpc_session_evidence returns. */
void sess_evidence(mpc_session *s, mpc_ev_type type, int32_t culprit, uint64_t item,
                   const uint8_t *const *msgs, const size_t *lens, size_t count);

/* Outbox append (takes ownership of buf). */
cx_err mpc_outbox_push(mpc_outbox *o, uint32_t to, uint8_t *buf, size_t len);

/* Secure buffers: sodium_malloc'd, zeroed; free wipes. NULL on OOM. */
fe *fe_alloc(size_t count);
void fe_free(fe *p, size_t count);

/* Protocols */
extern const mpc_proto mpc_prep_proto;   /* prep.c */
extern const mpc_proto mpc_online_proto; /* online.c */

/* prep.c: evidence check for MPC_EV_AUDIT (called by mpc_evidence_verify). */
cx_err prep_audit_verify(uint32_t n, uint32_t t, const cx_pubkey *pubkeys, const mpc_evidence *ev);

#endif
