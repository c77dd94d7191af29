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
 * start() is the same for round 0 (s->round == 0 already): before calling
 * it, mpc_session_start sets s->expect to every other party, and start()
 * may narrow it for round 0 by assigning s->expect directly
 * (sess_next_round is only for the rounds after 0). A round whose expect
 * mask is empty completes at once. Messages of round r+1 that arrive early
 * are kept by the inbox. Timeouts, signatures, equivocation and malformed
 * encodings are handled here, not in the protocols.
 *
 * While a callback (start or advance) runs, the session's id is the label
 * of its pool (mpc_pool_set_label): whatever the protocol adds to the pool
 * is recorded as coming from this session's batch. */
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
  /* Optional round deadline (NULL: a round not complete round_timeout_ms
   * after it began aborts the session with CX_E_MPC_TIMEOUT). When set and
   * the deadline of round s->round passes with messages of s->expect still
   * missing, session.c adds the missing parties to s->st.unresponsive and
   * calls timeout() instead of aborting. Like advance, it reads what
   * arrived (mpc_inbox_get returns NULL for a missing party) and then
   * either calls sess_next_round (and sends) or sess_done, or aborts
   * (sess_abort, or a non-CX_OK return: abort naming nobody). Returning
   * CX_OK without any of these is an internal error (abort). A message of
   * the ended round that arrives later is refused (CX_E_MPC_ROUND, or
   * CX_E_MPC_DUPLICATE), so the protocol never sees it; parties' deadlines
   * differ by when each began the round, and the inbox takes messages at
   * most one round ahead, so a protocol using the hook keeps every party
   * within one round of the others (e.g. fixed-length rounds). The
   * hook runs only from mpc_session_tick with a non-NULL outbox. For protocols that must end a round at its
   * deadline and proceed with what arrived (prep's Dolev–Strong verdict
   * agreement). A missing message is still never proof of cheating.
   * The deadline is round_start_ms + round_timeout_ms unless the protocol
   * set another with sess_set_deadline (below), e.g. a fixed schedule. */
  cx_err (*timeout)(mpc_session *s, mpc_outbox *out);
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
  int started;            /* mpc_session_start succeeded: rounds may complete */
  uint32_t round;         /* round being sent and awaited */
  uint64_t expect;        /* parties whose round message we wait for */
  uint64_t round_start_ms, now_ms;
  /* deadline_set: the current round ends at deadline_ms (sess_set_deadline)
   * instead of round_start_ms + round_timeout_ms; cleared by each new round */
  int deadline_set;
  uint64_t deadline_ms;
  int keep_rounds;        /* 1: keep every round in the inbox (prep: audit) */
  mpc_status st;
  mpc_evidence ev;
  int ev_correction;      /* ev records a correction, not an abort */
  /* party + 1 whose unsigned message kept abort evidence from being
   * recorded (0: none): sess_abort then names nobody */
  int32_t ev_unsigned;
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
/* The current round times out at deadline_ms (the clock of now_ms) instead
 * of round_start_ms + round_timeout_ms: mpc_session_tick at or after it
 * aborts, or calls the timeout hook (mpc_proto.timeout). Call it after
 * sess_next_round (which restores the default for the new round), or from
 * start() for round 0. A deadline already passed takes effect at the next
 * tick. */
void sess_set_deadline(mpc_session *s, uint64_t deadline_ms);
/* The default expect mask: every party but me. */
uint64_t sess_others(const mpc_session *s);
void sess_done(mpc_session *s);
/* The default end of a round whose deadline passed: abort with
 * CX_E_MPC_TIMEOUT naming nobody (a missing message proves nothing), the
 * reason counting the parties still missing. */
void sess_timeout_abort(mpc_session *s);
/* Aborts (once; later calls are ignored). culprit -1 if nobody is proven. */
void sess_abort(mpc_session *s, cx_err e, int32_t culprit, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records evidence (copies the messages) if every message carries its
 * sender's valid signature. An online message taken on its sender's link
 * was not checked on arrival; if one fails, nothing is recorded and the
 * next sess_abort names nobody (its reason says which party's message
 * failed). Precedence: the first evidence
 * recorded is the one mpc_session_evidence returns, except that evidence
 * behind an abort replaces evidence behind a correction (a session that
 * went on after naming someone in st.corrected), so that the evidence
 * matches status.culprit whenever one is named. sess_evidence records abort
 * evidence, except MPC_EV_WRONG_SHARE, which is always a correction;
 * sess_evidence_correction records any type as a correction (a malformed
 * share decoded as an erasure). Call before sess_abort: nothing is recorded
 * once the session has ended. */
void sess_evidence(mpc_session *s, mpc_ev_type type, int32_t culprit, uint64_t item,
                   const uint8_t *const *msgs, const size_t *lens, size_t count);
void sess_evidence_correction(mpc_session *s, mpc_ev_type type, int32_t culprit, uint64_t item,
                              const uint8_t *const *msgs, const size_t *lens, size_t count);

/* Attaches aux (copied) to the evidence just recorded by sess_evidence
 * (MPC_EV_CLIENT); nothing if the session has ended or none was recorded. */
void sess_evidence_aux(mpc_session *s, const uint8_t *aux, size_t len);

/* Bytes packed MPC_PACK per element, little-endian in each (the layout of
 * the guard and the echo): mpc_pack writes ceil(len / MPC_PACK) elements;
 * mpc_unpack returns 0, or -1 if an element has a bit set beyond len bytes
 * (a packed value never does). */
void mpc_pack(const uint8_t *bytes, size_t len, fe *v);
int mpc_unpack(const fe *v, size_t len, uint8_t *bytes);
/* The digest every client-check message binds per slot: H(label || aux),
 * aux = context[32] || count u64 LE || n commitments. */
void mpc_client_aux_digest(const uint8_t *aux, size_t aux_len, uint8_t out[32]);

/* Outbox append (takes ownership of buf). */
cx_err mpc_outbox_push(mpc_outbox *o, uint32_t to, uint8_t *buf, size_t len);

/* Secure buffers (pool.c): locked, guarded, zeroed. fe_free wipes the whole
 * block (it knows its size) and may keep it for the next fe_alloc of that
 * size; NULL is a no-op. fe_alloc returns NULL on OOM. */
fe *fe_alloc(size_t count);
void fe_free(fe *p);

/* ---- pool batch labels (pool.c) ---------------------------------------- */

/* While a label is set, every item put into the pool is recorded as part of
 * the batch with that label (session.c sets the session id around each
 * protocol callback). NULL: no label (items put directly, outside any
 * session, have the all-zero label). Labels are public. */
void mpc_pool_set_label(mpc_pool *p, const uint8_t label[32]);
/* A digest of where the next need[k] items of each kind (triples, rands,
 * bits, ints) come from: the labels of their batches, the offsets in them, and
 * how many of them the pool holds. Two pools whose next items are the same
 * items of the same batches give the same digest. */
void mpc_pool_ahead_digest(const mpc_pool *p, const uint64_t need[MPC_POOL_KINDS], uint8_t out[16]);

/* ---- online payloads (online.c builds them, session.c judges evidence) -- */

/* The first element of every online payload is a tag naming the message
 * type (docs/mpc-online.md "Messages"). Tags are the top field elements, so
 * they never collide with packed bytes (always < 2^(MPC_FIELD_BITS - 1)). */
#define MPC_TAG_SHARES (FE_P - 1) /* degree-t shares of common sharings (openings, input round A) */
#define MPC_TAG_DELTA (FE_P - 2)  /* input round B: a dealer's x - r */
#define MPC_TAG_ECHO (FE_P - 3)   /* input round C: the dealers' round-B messages, packed */
/* Client-input check (docs/mpc-online.md "Client inputs"), only TO_ALL:
 * round 0, after the pool guard, per client slot in program order
 * MPC_CK_ENTRY elements (complaint flag 0/1, y or 0, the 32-byte slot
 * digest packed); round 1 (reveals), per client slot either 0 or
 * count + 1 followed by the salt packed (MPC_CK_PACKED elements) and the
 * count + 1 revealed shares. */
#define MPC_TAG_CLIENT (FE_P - 4)
#define MPC_CK_PACKED ((32 + MPC_PACK - 1) / MPC_PACK) /* 32 bytes packed */
#define MPC_CK_ENTRY (2 + MPC_CK_PACKED)               /* elements per slot in a check message */
#define MPC_CLIENT_MAX_SLOTS 64                        /* INPUT_CLIENT slots per program */
/* Bytes packed into one element (echo, guard): every packed element is
 * below 2^(MPC_FIELD_BITS - 1) and never equals a tag. */
#define MPC_PACK ((MPC_FIELD_BITS - 1) / 8)
/* The pool guard (docs/mpc-online.md "Pool alignment"): every round-0
 * online payload carries, right after its tag, MPC_GUARD_N elements packing
 * the sender's pool positions at session start (items ever taken: triples,
 * rands, bits, ints, u64 little-endian) and the 16-byte mpc_pool_ahead_digest of
 * the material the program will take. They are not shares: wrong-share
 * evidence never points into them. */
#define MPC_GUARD_BYTES (MPC_POOL_KINDS * 8 + 16)
#define MPC_GUARD_N ((MPC_GUARD_BYTES + MPC_PACK - 1) / MPC_PACK)

/* ---- programs (program.c, used by online.c) ----------------------------- */

/* The end of the group that starts at instruction i (mpc.h "Rounds"): the
 * one definition of the grouping rule, for the cost and the interpreter. */
size_t prog_run_end(const mpc_program *p, size_t i);
/* Elements per message of an opening round (input = 0) or per input chunk
 * (input = 1): docs/mpc-online.md "Splitting". */
uint64_t prog_chunk(int input);
/* Registers handed out: every register a checked program names is below. */
void prog_nregs(const mpc_program *p, uint32_t *ns, uint32_t *np);
/* Register lifetimes of a checked program: after instruction k has run,
 * the values of the registers kill[start[k] .. start[k + 1]) are never read
 * again (their last read, or a write nobody reads); each entry is
 * reg << 1 | 1 for a P register, reg << 1 for an S register. Both arrays
 * malloc'd (start has len + 1 entries); CX_E_NOMEM. */
cx_err prog_kills(const mpc_program *p, size_t **start, uint64_t **kill);

/* online.c, for the tests: the most elements an online session's
 * registers held at once (arena blocks, sizes rounded up to powers of 2). */
uint64_t online_peak_elems(const mpc_session *s);

/* Protocols */
extern const mpc_proto mpc_prep_proto;   /* prep.c */
extern const mpc_proto mpc_online_proto; /* online.c */

/* prep.c: evidence check for MPC_EV_AUDIT (called by mpc_evidence_verify). */
cx_err prep_audit_verify(uint32_t n, uint32_t t, const cx_pubkey *pubkeys, const mpc_evidence *ev);

#endif
