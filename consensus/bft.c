/* Tendermint consensus as a pure state machine. See bft.h.
 *
 * Paper: Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus"
 * (arXiv:1807.04938), Algorithm 1. Comments "L22" etc. are its line numbers.
 *
 * Shape: every event updates the message log or the step, then run_rules()
 * evaluates the "upon" rules of Algorithm 1 until none fires (a fixpoint).
 * Our own signed messages go through the same log, so the engine counts its
 * own votes and n = 1 decides within one event chain.
 *
 * Values are block hashes; valid(v) is the host's verdict (CHECK_PROPOSAL /
 * PROPOSAL_CHECKED), kept per hash for the current height. "2f+1" of the
 * paper is quorum_size(n) = n - f (block.h), "f+1" is quorum_f(n) + 1.
 *
 * Invariant (safety across restarts): we sign (height, round, type) only if
 * it is lexicographically above the last persisted record (e->safety), and
 * the record is updated and emitted as PERSIST before the BROADCAST that
 * carries the signature. Within a height the protocol signs PROPOSAL <
 * PREVOTE < PRECOMMIT in increasing rounds, so the check never refuses an
 * honest step of a running engine; after a restart it refuses the rounds
 * signed before the crash. */
#include <stdlib.h>
#include <string.h>

#include "bft.h"
#include "codec.h"

#define ROUNDS_AHEAD_MAX 1000 /* messages for rounds beyond round + this are ignored */
#define NEXT_BUF_CAP 4096     /* messages kept for height + 1 */
/* Upper bound of actions caused by one message (EVIDENCE or CHECK_PROPOSAL,
 * REBROADCAST timer, two StartRounds, prevote, precommit, two timers,
 * COMMIT: 13); replay of buffered messages keeps this much room. */
#define PER_MSG_ACTIONS 16

enum { VOTE_PREVOTE = 0, VOTE_PRECOMMIT = 1 };
enum { CHECK_PENDING = 0, CHECK_VALID = 1, CHECK_INVALID = 2 };

/* Distinct messages kept per (round, type, signer). The paper counts a
 * signer once per value it signed: an equivocator's vote for X counts
 * towards X even if its vote for Y came first, which every correct process
 * needs to see the polka or the commit the others saw (else one honest node
 * may lock X on a quorum that includes the equivocator while another, who
 * heard Y from it first, can never count that quorum: a stall). Safety is
 * untouched: two quorums for different values intersect in f+1 signers,
 * one of them honest, and an honest signer has one value. We keep two (an
 * equivocator's further versions are dropped, so memory stays bounded);
 * the simulator's and the integration test's equivocators send two. */
#define SLOTS 2

/* The message log of one round of the current height. */
typedef struct {
  uint32_t round;
  uint8_t nprop;
  bft_msg proposal[SLOTS]; /* distinct ones from proposer(h, round), first first */
  uint8_t nvote[2][CX_MAX_VALIDATORS];
  bft_msg vote[2][CX_MAX_VALIDATORS][SLOTS]; /* distinct values per signer and type */
  uint8_t evidenced[3][CX_MAX_VALIDATORS];
} round_log;

/* valid(v) for one block hash of the current height. */
typedef struct {
  cx_hash hash;
  uint8_t state;
} check_entry;

struct bft_engine {
  bft_config cfg;
  cx_pubkey validators[CX_MAX_VALIDATORS];
  size_t n;
  int self; /* index in validators, -1 if we are not one */

  /* Algorithm 1 state (L2-L8); step 0 = waiting for START or a message. */
  uint64_t height;
  uint32_t round, start_round;
  uint8_t step;
  int decided;  /* decision_p[h_p] != nil: waiting for COMMITTED */
  int building; /* BUILD_BLOCK issued for (height, round) */
  uint32_t locked_round, valid_round;
  cx_hash locked_hash, valid_hash;
  /* "for the first time" guards of the current round: L34, L36, L47. */
  int prevote_timer_set, polka_seen, precommit_timer_set;

  round_log **rounds;
  size_t nrounds, caprounds;
  check_entry *checks;
  size_t nchecks, capchecks;
  bft_msg *buf; /* messages for height + 1; after COMMITTED, pending replay */
  size_t nbuf, capbuf;
  int replay_pending;
  size_t relay_cursor; /* rotation of relayed polka prevotes */
  size_t round_cursor; /* rotation of relayed messages of the current round */
  /* Restart at the height of the safety record (bft_new): the record's
   * step at resume_round (0: none pending), and whether the record's
   * precommit (round start_round - 1) is to be sent again. */
  uint8_t resume_step;
  uint32_t resume_round;
  int resend_precommit;
  /* The round resumed in after a prevote whose signature may have died
   * with the process (BFT_NIL_ROUND: none): see start_round. */
  uint32_t lost_round;

  bft_safety safety; /* last record emitted in PERSIST (or restored) */
  uint64_t ignored, equivocations;

  bft_action *out; /* the current bft_step's output */
  size_t nout;
};

/* ---------------------------------------------------------------- codec */

static uint64_t pol_wire(uint32_t pol) { return pol == BFT_NIL_ROUND ? 0 : (uint64_t)pol + 1; }

/* The digests live in core (cs_msg_digest) because the vm checks them too,
 * in evidence transactions. */
void bft_msg_digest(const cx_hash *chain_id, const bft_msg *m, uint8_t out[32]) {
  cs_msg_digest(chain_id, m->type, m->height, m->round, m->pol_round, &m->block_hash, out);
}

const char *bft_msg_type_name(unsigned type) {
  switch (type) {
    case BFT_PROPOSAL: return "proposal";
    case BFT_PREVOTE: return "prevote";
    case BFT_PRECOMMIT: return "precommit";
    default: return "unknown";
  }
}

size_t bft_msg_encode(const bft_msg *m, uint8_t out[BFT_MSG_MAX]) {
  CX_ASSERT(m->type >= BFT_PROPOSAL && m->type <= BFT_PRECOMMIT);
  size_t n = 0;
  out[n++] = m->type;
  n += varint_put(out + n, m->height);
  n += varint_put(out + n, m->round);
  if (m->type == BFT_PROPOSAL) n += varint_put(out + n, pol_wire(m->pol_round));
  memcpy(out + n, m->block_hash.b, 32);
  n += 32;
  n += varint_put(out + n, m->signer);
  memcpy(out + n, m->sig.b, 64);
  n += 64;
  return n; /* at most 1 + 10 + 5 + 5 + 32 + 3 + 64 = 120 */
}

cx_err bft_msg_decode(const uint8_t *buf, size_t len, bft_msg *m) {
  cx_dec d;
  uint8_t type = 0;
  uint64_t height = 0, round = 0, pol = 0, signer = 0;
  bft_msg r;
  memset(&r, 0, sizeof r);
  dec_init(&d, buf, len);
  if (!dec_enum(&d, &type, BFT_PROPOSAL, BFT_PRECOMMIT) && !dec_varint(&d, &height) &&
      !dec_varint_max(&d, &round, UINT32_MAX - 1) &&
      (type != BFT_PROPOSAL || !dec_varint_max(&d, &pol, UINT32_MAX)) &&
      !dec_fixed(&d, r.block_hash.b, 32) && !dec_varint_max(&d, &signer, UINT16_MAX))
    dec_fixed(&d, r.sig.b, 64);
  cx_err err = dec_finish(&d);
  if (err != CX_OK) return err;
  r.type = type;
  r.height = height;
  r.round = (uint32_t)round;
  r.pol_round = pol == 0 ? BFT_NIL_ROUND : (uint32_t)(pol - 1);
  r.signer = (uint16_t)signer;
  *m = r;
  return CX_OK;
}

/* Safety record, 120 bytes:
 *   u8 version(1) | u64be height | u32be round | u8 step | u32be locked_round |
 *   locked_hash[32] | u32be valid_round | valid_hash[32] | 2 zero bytes |
 *   SHA-256 of the preceding 88 bytes (a checksum against torn or damaged
 *   writes, not an identifier, hence no tag). */
#define SAFETY_VERSION 1
#define SAFETY_BODY 88

static void put_be(uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static uint64_t get_be(const uint8_t *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v = v << 8 | p[i];
  return v;
}

void bft_safety_encode(const bft_safety *s, uint8_t out[BFT_SAFETY_LEN]) {
  memset(out, 0, BFT_SAFETY_LEN);
  out[0] = SAFETY_VERSION;
  put_be(out + 1, s->height, 8);
  put_be(out + 9, s->round, 4);
  out[13] = s->step;
  put_be(out + 14, s->locked_round, 4);
  memcpy(out + 18, s->locked_hash.b, 32);
  put_be(out + 50, s->valid_round, 4);
  memcpy(out + 54, s->valid_hash.b, 32);
  hash_sha256(out, SAFETY_BODY, out + SAFETY_BODY);
}

cx_err bft_safety_decode(const uint8_t *buf, size_t len, bft_safety *s) {
  uint8_t sum[32];
  if (len != BFT_SAFETY_LEN) return CX_E_CORRUPT;
  hash_sha256(buf, SAFETY_BODY, sum);
  if (memcmp(sum, buf + SAFETY_BODY, 32) != 0) return CX_E_CORRUPT;
  if (buf[0] != SAFETY_VERSION) return CX_E_BAD_VERSION;
  if (buf[86] || buf[87] || buf[13] > BFT_PRECOMMIT) return CX_E_CORRUPT;
  bft_safety r;
  r.height = get_be(buf + 1, 8);
  r.round = (uint32_t)get_be(buf + 9, 4);
  r.step = buf[13];
  r.locked_round = (uint32_t)get_be(buf + 14, 4);
  memcpy(r.locked_hash.b, buf + 18, 32);
  r.valid_round = (uint32_t)get_be(buf + 50, 4);
  memcpy(r.valid_hash.b, buf + 54, 32);
  /* A lock (valid value) exists exactly when its round is set. */
  if ((r.locked_round == BFT_NIL_ROUND) != hash_is_zero(&r.locked_hash) ||
      (r.valid_round == BFT_NIL_ROUND) != hash_is_zero(&r.valid_hash))
    return CX_E_CORRUPT;
  *s = r;
  return CX_OK;
}

/* -------------------------------------------------------------- helpers */

static const cx_hash nil_hash;

static bft_action *emit(bft_engine *e, bft_action_type type) {
  CX_ASSERT(e->nout < BFT_MAX_ACTIONS); /* PER_MSG_ACTIONS accounting is wrong */
  bft_action *a = &e->out[e->nout++];
  memset(a, 0, sizeof *a);
  a->type = type;
  a->height = e->height;
  a->round = e->round;
  return a;
}

static void set_timer(bft_engine *e, bft_timeout_kind kind, uint32_t base) {
  bft_action *a = emit(e, BFT_ACT_SET_TIMER);
  a->timeout = (uint8_t)kind;
  a->ms = kind == BFT_T_REBROADCAST ? base : base + (uint64_t)e->round * e->cfg.delta_ms;
}

static unsigned quorum(const bft_engine *e) { return quorum_size((unsigned)e->n); }

static int find_self(bft_engine *e) {
  for (size_t i = 0; i < e->n; i++)
    if (memcmp(e->validators[i].b, e->cfg.self.b, 32) == 0) return (int)i;
  return -1;
}

static round_log *round_get(bft_engine *e, uint32_t r, int create) {
  for (size_t i = 0; i < e->nrounds; i++)
    if (e->rounds[i]->round == r) return e->rounds[i];
  if (!create) return NULL;
  if (e->nrounds == e->caprounds) {
    size_t cap = e->caprounds ? 2 * e->caprounds : 8;
    round_log **p = realloc(e->rounds, cap * sizeof *p);
    if (!p) return NULL;
    e->rounds = p;
    e->caprounds = cap;
  }
  round_log *rl = calloc(1, sizeof *rl);
  if (!rl) return NULL;
  rl->round = r;
  e->rounds[e->nrounds++] = rl;
  return rl;
}

static check_entry *check_find(bft_engine *e, const cx_hash *h) {
  for (size_t i = 0; i < e->nchecks; i++)
    if (hash_eq(&e->checks[i].hash, h)) return &e->checks[i];
  return NULL;
}

static check_entry *check_add(bft_engine *e, const cx_hash *h, uint8_t state) {
  if (e->nchecks == e->capchecks) {
    size_t cap = e->capchecks ? 2 * e->capchecks : 8;
    check_entry *p = realloc(e->checks, cap * sizeof *p);
    if (!p) return NULL;
    e->checks = p;
    e->capchecks = cap;
  }
  check_entry *c = &e->checks[e->nchecks++];
  c->hash = *h;
  c->state = state;
  return c;
}

/* valid(v) as far as known: CHECK_* or -1 if never asked. */
static int validity(bft_engine *e, const cx_hash *h) {
  const check_entry *c = check_find(e, h);
  return c ? c->state : -1;
}

static void mark_valid(bft_engine *e, const cx_hash *h) {
  check_entry *c = check_find(e, h);
  if (c) c->state = CHECK_VALID;
  else check_add(e, h, CHECK_VALID);
}

/* Signer s's vote of type vt for hash h in a round, or NULL. */
static const bft_msg *vote_for(const round_log *rl, int vt, size_t s, const cx_hash *h) {
  for (unsigned k = 0; k < rl->nvote[vt][s]; k++)
    if (hash_eq(&rl->vote[vt][s][k].block_hash, h)) return &rl->vote[vt][s][k];
  return NULL;
}

/* Signers with a vote of one type in a round for hash h (NULL: any value,
 * L34/L47: distinct signers). */
static unsigned count_votes(const bft_engine *e, const round_log *rl, int vt, const cx_hash *h) {
  unsigned c = 0;
  for (size_t i = 0; i < e->n; i++)
    if (h ? vote_for(rl, vt, i, h) != NULL : rl->nvote[vt][i] > 0) c++;
  return c;
}

/* Distinct signers with any message in a round (L55). */
static unsigned count_senders(const bft_engine *e, const round_log *rl) {
  unsigned c = 0;
  size_t prop = bft_proposer(e->height, rl->round, e->n);
  for (size_t i = 0; i < e->n; i++)
    if (rl->nvote[0][i] || rl->nvote[1][i] || (rl->nprop && i == prop)) c++;
  return c;
}

static void reset_height_log(bft_engine *e) {
  for (size_t i = 0; i < e->nrounds; i++) free(e->rounds[i]);
  e->nrounds = 0;
  e->nchecks = 0;
}

/* ------------------------------------------------------------- signing */

static int may_sign(const bft_engine *e, uint32_t round, uint8_t type) {
  const bft_safety *s = &e->safety;
  if (s->height == 0) return 1;
  if (e->height != s->height) return e->height > s->height;
  if (round != s->round) return round > s->round;
  return type > s->step;
}

static void log_msg(bft_engine *e, const bft_msg *m);

static int sign_msg(bft_engine *e, uint8_t type, uint32_t round, const cx_hash *hash, uint32_t pol,
                    bft_msg *m) {
  memset(m, 0, sizeof *m);
  m->type = type;
  m->height = e->height;
  m->round = round;
  m->pol_round = type == BFT_PROPOSAL ? pol : BFT_NIL_ROUND;
  m->block_hash = *hash;
  m->signer = (uint16_t)e->self;
  uint8_t digest[32];
  bft_msg_digest(&e->cfg.chain_id, m, digest);
  return e->cfg.sign(e->cfg.sign_ctx, digest, &m->sig) == CX_OK;
}

/* After a restart: signs again, and sends, a message the safety record
 * shows we signed before the crash, with the same content (so no second
 * message for its slot: the record determines the content, see
 * bft_new). The signature may have been lost with the process, between
 * PERSIST and BROADCAST; peers still waiting in that round need it. The
 * record already covers it; the PERSIST repeats that record so the host's
 * "PERSIST before the signature leaves" holds within this step too. */
static void resend_signed(bft_engine *e, uint8_t type, uint32_t round, const cx_hash *hash, uint32_t pol) {
  bft_msg m;
  if (e->self < 0 || !sign_msg(e, type, round, hash, pol, &m)) return;
  emit(e, BFT_ACT_PERSIST)->safety = e->safety;
  emit(e, BFT_ACT_BROADCAST)->msg = m;
  log_msg(e, &m);
}

/* Signs one message of the current (height, round), persists the safety
 * record, broadcasts it and logs it as our own. Not a validator, a refused
 * (already signed) slot or a signer failure: nothing leaves. */
static void sign_send(bft_engine *e, uint8_t type, const cx_hash *hash, uint32_t pol) {
  if (e->self < 0 || !may_sign(e, e->round, type)) return;
  bft_msg m;
  if (!sign_msg(e, type, e->round, hash, pol, &m)) return;
  bft_safety s = {.height = e->height, .round = e->round, .step = type,
                  .locked_round = e->locked_round, .locked_hash = e->locked_hash,
                  .valid_round = e->valid_round, .valid_hash = e->valid_hash};
  e->safety = s;
  emit(e, BFT_ACT_PERSIST)->safety = s;
  emit(e, BFT_ACT_BROADCAST)->msg = m;
  log_msg(e, &m);
}

/* ------------------------------------------------------- Algorithm 1 */

/* L11-L21 StartRound(round). */
static void start_round(bft_engine *e, uint32_t r) {
  /* Restarted in the round of our safety record: what we signed there
   * before the crash is done (bft_new). */
  uint8_t done = e->resume_step && e->resume_round == r ? e->resume_step : 0;
  e->resume_step = 0;
  e->round = r;
  e->step = BFT_PROPOSAL;
  e->building = 0;
  e->prevote_timer_set = e->polka_seen = e->precommit_timer_set = 0;
  if (done >= BFT_PREVOTE) {
    /* Our prevote of r is out, or was lost with the crash (PERSIST done,
     * BROADCAST not), and we cannot send it again: its value is not in the
     * record. Our precommit of r is still ours to give, and peers in r may
     * need it for L47. But r may never show us n - f prevotes now (ours
     * may be missing everywhere), so we arm timeoutPrevote at once instead
     * of at L34, and timeoutPrecommit at our precommit instead of at L47
     * (precommit()): a nil precommit and a round change are always safe,
     * and this way we leave r even if it cannot complete, so the f + 1
     * rule can carry the others to r + 1. */
    e->step = BFT_PREVOTE;
    e->lost_round = r;
    e->prevote_timer_set = 1;
    set_timer(e, BFT_T_PREVOTE, e->cfg.prevote_ms);
    return;
  }
  if (done == BFT_PROPOSAL && e->self >= 0 && bft_proposer(e->height, r, e->n) == (size_t)e->self) {
    /* We proposed in r before the crash. A re-proposal of validValue
     * (L15-L16; the record holds validValue as of that signature) can be
     * sent again as it was; a fresh block cannot (its hash is not in the
     * record): peers relay it back, or timeoutPropose makes us prevote nil. */
    if (e->valid_round != BFT_NIL_ROUND) {
      mark_valid(e, &e->valid_hash);
      resend_signed(e, BFT_PROPOSAL, r, &e->valid_hash, e->valid_round);
    }
    set_timer(e, BFT_T_PROPOSE, e->cfg.propose_ms);
    return;
  }
  if (e->self >= 0 && bft_proposer(e->height, r, e->n) == (size_t)e->self) {
    if (e->valid_round != BFT_NIL_ROUND) { /* L15-L16: re-propose validValue */
      mark_valid(e, &e->valid_hash);
      sign_send(e, BFT_PROPOSAL, &e->valid_hash, e->valid_round);
    } else { /* L17-L18: getValue() is the host's BUILD_BLOCK */
      emit(e, BFT_ACT_BUILD_BLOCK);
      e->building = 1;
    }
  } else { /* L21 */
    set_timer(e, BFT_T_PROPOSE, e->cfg.propose_ms);
  }
}

/* Leaves the waiting state: the height runs from here on. */
static void begin_height(bft_engine *e) {
  if (e->cfg.rebroadcast_ms) set_timer(e, BFT_T_REBROADCAST, e->cfg.rebroadcast_ms);
  if (e->resend_precommit) {
    /* Restarted after precommitting in round start_round - 1: that
     * precommit was nil, or lockedValue if we locked in that round (L36-L41
     * lock and precommit in one step, and the record was written then). */
    uint32_t pr = e->start_round - 1;
    e->resend_precommit = 0;
    resend_signed(e, BFT_PRECOMMIT, pr, e->locked_round == pr ? &e->locked_hash : &nil_hash, BFT_NIL_ROUND);
  }
  start_round(e, e->start_round);
}

static void prevote(bft_engine *e, const cx_hash *v) {
  sign_send(e, BFT_PREVOTE, v, BFT_NIL_ROUND);
  e->step = BFT_PREVOTE;
}

static void precommit(bft_engine *e, const cx_hash *v) {
  sign_send(e, BFT_PRECOMMIT, v, BFT_NIL_ROUND);
  e->step = BFT_PRECOMMIT;
  if (e->round == e->lost_round && !e->precommit_timer_set) { /* see start_round */
    e->precommit_timer_set = 1;
    set_timer(e, BFT_T_PRECOMMIT, e->cfg.precommit_ms);
  }
}

/* L49-L54: a proposal and a quorum of precommits for it in any round r
 * decide; the precommits are the certificate. */
static int try_decide(bft_engine *e) {
  for (size_t i = 0; i < e->nrounds; i++)
    for (unsigned k = 0; k < e->rounds[i]->nprop; k++) {
    const round_log *rl = e->rounds[i];
    const cx_hash *v = &rl->proposal[k].block_hash;
    if (validity(e, v) != CHECK_VALID) continue;
    if (count_votes(e, rl, VOTE_PRECOMMIT, v) < quorum(e)) continue;
    e->decided = 1;
    bft_action *a = emit(e, BFT_ACT_COMMIT);
    a->round = rl->round;
    a->block_hash = *v;
    a->cert.height = e->height;
    a->cert.view = rl->round;
    a->cert.block_hash = *v;
    for (size_t s = 0; s < e->n; s++) { /* ascending signers */
      const bft_msg *pc = vote_for(rl, VOTE_PRECOMMIT, s, v);
      if (pc) {
        cx_vote_sig *vs = &a->cert.votes[a->cert.nvotes++];
        vs->signer = (uint16_t)s;
        vs->sig = pc->sig;
      }
    }
    return 1;
  }
  return 0;
}

/* L55-L56: f+1 signers in a higher round r' -> StartRound(r'); we take
 * the highest such r'. */
static int try_round_skip(bft_engine *e) {
  uint32_t best = 0;
  int found = 0;
  for (size_t i = 0; i < e->nrounds; i++) {
    const round_log *rl = e->rounds[i];
    if (rl->round <= e->round || (found && rl->round <= best)) continue;
    if (count_senders(e, rl) >= quorum_f((unsigned)e->n) + 1) {
      best = rl->round;
      found = 1;
    }
  }
  if (found) start_round(e, best);
  return found;
}

/* L22-L27 (vr = -1) and L28-L33 (vr >= 0 with a polka in vr). */
static int try_prevote_on(bft_engine *e, const bft_msg *p) {
  int lock_ok;
  if (p->pol_round == BFT_NIL_ROUND || e->locked_round == BFT_NIL_ROUND ||
      hash_eq(&e->locked_hash, &p->block_hash)) {
    /* L23. Also for vr >= 0 when L23's condition holds (unlocked, or
     * locked on v): then we prevote v without waiting for the polka of vr.
     * Safe, since a proposal (v, -1), which any proposer may send, makes us
     * prevote v all the same, and locks are untouched; needed, since that
     * polka may be gone for good: the validators that saw it may have
     * crashed (the engine keeps no messages across a restart, only the
     * locks), and then the value they are locked on could never again
     * collect prevotes from the rest. */
    lock_ok = e->locked_round == BFT_NIL_ROUND || hash_eq(&e->locked_hash, &p->block_hash);
  } else { /* L28-L30: locked on another value */
    const round_log *vr = round_get(e, p->pol_round, 0);
    if (!vr || count_votes(e, vr, VOTE_PREVOTE, &p->block_hash) < quorum(e)) return 0;
    lock_ok = e->locked_round <= p->pol_round;
  }
  int v = validity(e, &p->block_hash);
  if (v == CHECK_PENDING || v < 0) return 0; /* valid(v) not known yet */
  prevote(e, v == CHECK_VALID && lock_ok ? &p->block_hash : &nil_hash); /* L24-L27, L30-L33 */
  return 1;
}

/* An equivocating proposer's second proposal is a PROPOSAL message too:
 * whichever can fire first does (we prevote once per round). */
static int try_prevote_on_proposal(bft_engine *e, const round_log *rl) {
  if (e->step != BFT_PROPOSAL || !rl) return 0;
  for (unsigned k = 0; k < rl->nprop; k++)
    if (try_prevote_on(e, &rl->proposal[k])) return 1;
  return 0;
}

/* L36-L43: proposal + polka for it in this round, first time. */
static int try_polka_value(bft_engine *e, const round_log *rl) {
  if (e->polka_seen || e->step < BFT_PREVOTE || !rl) return 0;
  const cx_hash *v = NULL;
  for (unsigned k = 0; k < rl->nprop && !v; k++) {
    const cx_hash *c = &rl->proposal[k].block_hash;
    if (validity(e, c) == CHECK_VALID && count_votes(e, rl, VOTE_PREVOTE, c) >= quorum(e)) v = c;
  }
  if (!v) return 0;
  e->polka_seen = 1;
  e->valid_hash = *v; /* L42-L43 (set first so the PERSIST below carries it) */
  e->valid_round = e->round;
  if (e->step == BFT_PREVOTE) { /* L37-L41 */
    e->locked_hash = *v;
    e->locked_round = e->round;
    precommit(e, v);
  }
  return 1;
}

/* L44-L46: polka for nil. */
static int try_polka_nil(bft_engine *e, const round_log *rl) {
  if (e->step != BFT_PREVOTE || !rl) return 0;
  if (count_votes(e, rl, VOTE_PREVOTE, &nil_hash) < quorum(e)) return 0;
  precommit(e, &nil_hash);
  return 1;
}

/* L34-L35: any quorum of prevotes, first time -> timeoutPrevote. */
static int try_prevote_timer(bft_engine *e, const round_log *rl) {
  if (e->prevote_timer_set || e->step != BFT_PREVOTE || !rl) return 0;
  if (count_votes(e, rl, VOTE_PREVOTE, NULL) < quorum(e)) return 0;
  e->prevote_timer_set = 1;
  set_timer(e, BFT_T_PREVOTE, e->cfg.prevote_ms);
  return 1;
}

/* L47-L48: any quorum of precommits, first time -> timeoutPrecommit. */
static int try_precommit_timer(bft_engine *e, const round_log *rl) {
  if (e->precommit_timer_set || !rl) return 0;
  if (count_votes(e, rl, VOTE_PRECOMMIT, NULL) < quorum(e)) return 0;
  e->precommit_timer_set = 1;
  set_timer(e, BFT_T_PRECOMMIT, e->cfg.precommit_ms);
  return 1;
}

/* Evaluates the upon rules until none fires. Each rule fires only on a
 * state change (step, round, decided, a first-time guard), so this ends. */
static void run_rules(bft_engine *e) {
  while (e->step != 0 && !e->decided) {
    if (try_decide(e)) return;
    if (try_round_skip(e)) continue;
    const round_log *rl = round_get(e, e->round, 0);
    if (try_prevote_on_proposal(e, rl) || try_polka_value(e, rl) || try_polka_nil(e, rl) ||
        try_prevote_timer(e, rl) || try_precommit_timer(e, rl))
      continue;
    return;
  }
}

/* --------------------------------------------------------- messages */

static int same_content(const bft_msg *a, const bft_msg *b) {
  return hash_eq(&a->block_hash, &b->block_hash) &&
         (a->type != BFT_PROPOSAL || a->pol_round == b->pol_round);
}

/* Records a checked message of the current height: up to SLOTS distinct
 * ones per (signer, round, type) kept (each counts for its value),
 * identical duplicates ignored, the first different one reported once as
 * EVIDENCE. A new proposal asks the host for valid(v). */
static void log_msg(bft_engine *e, const bft_msg *m) {
  round_log *rl = round_get(e, m->round, 1);
  if (!rl) {
    e->ignored++;
    return;
  }
  bft_msg *slots;
  uint8_t *nslots;
  if (m->type == BFT_PROPOSAL) {
    slots = rl->proposal;
    nslots = &rl->nprop;
  } else {
    slots = rl->vote[m->type - BFT_PREVOTE][m->signer];
    nslots = &rl->nvote[m->type - BFT_PREVOTE][m->signer];
  }
  for (unsigned k = 0; k < *nslots; k++)
    if (same_content(&slots[k], m)) {
      e->ignored++;
      return;
    }
  if (*nslots > 0) {
    uint8_t *ev = &rl->evidenced[m->type - 1][m->signer];
    if (!*ev) {
      *ev = 1;
      e->equivocations++;
      bft_action *a = emit(e, BFT_ACT_EVIDENCE);
      a->round = m->round;
      a->msg = slots[0];
      a->msg2 = *m;
    }
  }
  if (*nslots >= SLOTS) {
    e->ignored++;
    return;
  }
  slots[(*nslots)++] = *m;
  if (m->type == BFT_PROPOSAL && !check_find(e, &m->block_hash) &&
      check_add(e, &m->block_hash, CHECK_PENDING))
    emit(e, BFT_ACT_CHECK_PROPOSAL)->block_hash = m->block_hash;
}

/* Cheap checks of a message for the current height. */
static int msg_acceptable(const bft_engine *e, const bft_msg *m) {
  if (m->type < BFT_PROPOSAL || m->type > BFT_PRECOMMIT) return 0;
  if (m->signer >= e->n || m->round == BFT_NIL_ROUND) return 0;
  uint32_t cur = e->step ? e->round : e->start_round;
  if ((uint64_t)m->round > (uint64_t)cur + ROUNDS_AHEAD_MAX) return 0;
  if (m->type == BFT_PROPOSAL) {
    if (m->signer != bft_proposer(m->height, m->round, e->n)) return 0;
    if (hash_is_zero(&m->block_hash)) return 0;
    if (m->pol_round != BFT_NIL_ROUND && m->pol_round >= m->round) return 0;
  }
  return 1;
}

static int same_msg(const bft_msg *a, const bft_msg *b) {
  return a->type == b->type && a->height == b->height && a->round == b->round &&
         a->signer == b->signer && same_content(a, b);
}

/* Keeps a message for height + 1 (bounded, per signer too). */
static void buffer_next(bft_engine *e, const bft_msg *m) {
  size_t per_signer = NEXT_BUF_CAP / e->n, mine = 0;
  if (m->type < BFT_PROPOSAL || m->type > BFT_PRECOMMIT || m->signer >= CX_MAX_VALIDATORS) {
    e->ignored++;
    return;
  }
  for (size_t i = 0; i < e->nbuf; i++) {
    if (same_msg(&e->buf[i], m)) {
      e->ignored++;
      return;
    }
    if (e->buf[i].signer == m->signer) mine++;
  }
  if (e->nbuf >= NEXT_BUF_CAP || mine >= per_signer) {
    e->ignored++;
    return;
  }
  if (e->nbuf == e->capbuf) {
    size_t cap = e->capbuf ? 2 * e->capbuf : 64;
    bft_msg *p = realloc(e->buf, cap * sizeof *p);
    if (!p) {
      e->ignored++;
      return;
    }
    e->buf = p;
    e->capbuf = cap;
  }
  e->buf[e->nbuf++] = *m;
}

static void on_message(bft_engine *e, const bft_msg *m) {
  if (m->height == e->height + 1) {
    buffer_next(e, m);
    return;
  }
  if (m->height != e->height || !msg_acceptable(e, m)) {
    e->ignored++;
    return;
  }
  log_msg(e, m);
  /* Waiting: a message from another validator means someone has
   * transactions; join the height. */
  if (e->step == 0 && (int)m->signer != e->self) begin_height(e);
  run_rules(e);
}

/* Replays buffered messages of the (new) current height while the output
 * has room; the rest waits for the next event. */
static void replay(bft_engine *e) {
  if (!e->replay_pending) return;
  size_t w = 0;
  int left = 0;
  for (size_t i = 0; i < e->nbuf; i++) {
    bft_msg m = e->buf[i];
    if (m.height < e->height) continue;
    if (m.height == e->height) {
      if (e->nout + PER_MSG_ACTIONS <= BFT_MAX_ACTIONS) {
        on_message(e, &m);
        continue;
      }
      left = 1;
    }
    e->buf[w++] = m;
  }
  e->nbuf = w;
  e->replay_pending = left;
}

/* ------------------------------------------------------------ events */

/* Gossip. The paper assumes that a message a correct process receives
 * reaches every correct process (each relays what it hears); our network
 * delivers at most once. So every rebroadcast_ms a validator sends again,
 * from memory (never re-signed):
 *   - its own messages of the current and the previous round: a peer still
 *     in the previous round needs our precommit of it (L47), a peer behind
 *     needs our messages of this round (L55);
 *   - the prevotes of the polka behind the current proposal and behind its
 *     validValue (the one it would re-propose, L15): L28 needs them at every
 *     correct process, even after their signers moved on;
 *   - everyone's messages of the current round (proposal, prevotes and
 *     precommits, an equivocator's both versions): a peer that missed one
 *     whose signer has moved on, crashed, or lost it in a crash, still gets
 *     it. This is what lets a restarted validator count its own vote of the
 *     round again (it resumes in the round of its record, bft_new).
 * At most BFT_MAX_ACTIONS - 1 messages per firing; the relayed ones rotate,
 * so all go out over a few firings. */
static void emit_budget(bft_engine *e, const bft_msg *m, size_t *budget) {
  if (!*budget) return;
  emit(e, BFT_ACT_BROADCAST)->msg = *m;
  (*budget)--;
}

static void relay_polka(bft_engine *e, uint32_t vr, const cx_hash *v, size_t *budget) {
  const round_log *rl = round_get(e, vr, 0);
  if (!rl || count_votes(e, rl, VOTE_PREVOTE, v) < quorum(e)) return;
  for (size_t k = 0; k < e->n && *budget; k++) {
    size_t s = (k + e->relay_cursor) % e->n;
    const bft_msg *pv = vote_for(rl, VOTE_PREVOTE, s, v);
    if (pv) emit_budget(e, pv, budget);
  }
}

static void resend_own(bft_engine *e, const round_log *rl, size_t *budget) {
  if (!rl || e->self < 0) return;
  for (unsigned k = 0; k < rl->nprop; k++)
    if (rl->proposal[k].signer == e->self) emit_budget(e, &rl->proposal[k], budget);
  for (int vt = 0; vt < 2; vt++)
    for (unsigned k = 0; k < rl->nvote[vt][e->self]; k++) emit_budget(e, &rl->vote[vt][e->self][k], budget);
}

/* Everyone else's messages of one round, from round_cursor on. Items are
 * numbered: proposals, then per signer its prevotes and precommits. */
static void relay_round(bft_engine *e, const round_log *rl, size_t *budget) {
  if (!rl) return;
  size_t per = 2 * SLOTS, total = SLOTS + e->n * per;
  for (size_t k = 0; k < total && *budget; k++) {
    size_t i = (e->round_cursor + k) % total;
    const bft_msg *m = NULL;
    if (i < SLOTS) {
      if (i < rl->nprop) m = &rl->proposal[i];
    } else {
      size_t s = (i - SLOTS) / per, vt = (i - SLOTS) % per / SLOTS, slot = (i - SLOTS) % SLOTS;
      if (slot < rl->nvote[vt][s]) m = &rl->vote[vt][s][slot];
    }
    if (!m || (int)m->signer == e->self) continue;
    emit_budget(e, m, budget);
    e->round_cursor = i + 1;
  }
}

static void rebroadcast(bft_engine *e) {
  size_t budget = BFT_MAX_ACTIONS - 1; /* and the timer */
  const round_log *rl = round_get(e, e->round, 0);
  resend_own(e, rl, &budget);
  if (e->round > 0) resend_own(e, round_get(e, e->round - 1, 0), &budget);
  uint32_t pol = BFT_NIL_ROUND;
  for (unsigned k = 0; rl && k < rl->nprop; k++) {
    const bft_msg *p = &rl->proposal[k];
    if (p->pol_round == BFT_NIL_ROUND || p->pol_round == pol) continue;
    pol = p->pol_round;
    relay_polka(e, pol, &p->block_hash, &budget);
  }
  if (e->valid_round != BFT_NIL_ROUND && e->valid_round != pol)
    relay_polka(e, e->valid_round, &e->valid_hash, &budget);
  e->relay_cursor += 1;
  relay_round(e, rl, &budget);
  set_timer(e, BFT_T_REBROADCAST, e->cfg.rebroadcast_ms);
}

/* L57-L67 OnTimeoutPropose / Prevote / Precommit, and the rebroadcast. */
static void on_timeout(bft_engine *e, const bft_event *ev) {
  if (ev->height != e->height || e->step == 0) {
    e->ignored++;
    return;
  }
  /* Rebroadcast runs until COMMITTED (also while the decision is being
   * committed: peers may still need our precommit). */
  if (ev->timeout == BFT_T_REBROADCAST) {
    rebroadcast(e);
    return;
  }
  if (ev->round != e->round || e->decided) {
    e->ignored++;
    return;
  }
  if (ev->timeout == BFT_T_PROPOSE && e->step == BFT_PROPOSAL) {
    prevote(e, &nil_hash); /* L57-L60 */
  } else if (ev->timeout == BFT_T_PREVOTE && e->step == BFT_PREVOTE) {
    precommit(e, &nil_hash); /* L61-L64 */
  } else if (ev->timeout == BFT_T_PRECOMMIT) {
    start_round(e, e->round + 1); /* L65-L67 */
  } else {
    e->ignored++;
    return;
  }
  run_rules(e);
}

static void on_block_ready(bft_engine *e, const bft_event *ev) {
  if (!e->building || ev->height != e->height || ev->round != e->round ||
      e->step != BFT_PROPOSAL || e->decided || hash_is_zero(&ev->block_hash)) {
    e->ignored++;
    return;
  }
  e->building = 0;
  mark_valid(e, &ev->block_hash); /* our own block counts as valid */
  sign_send(e, BFT_PROPOSAL, &ev->block_hash, BFT_NIL_ROUND); /* L19 */
  run_rules(e);
}

static void on_checked(bft_engine *e, const bft_event *ev) {
  check_entry *c = check_find(e, &ev->block_hash);
  if ((ev->height && ev->height != e->height) || !c || c->state != CHECK_PENDING) {
    e->ignored++;
    return;
  }
  c->state = ev->valid ? CHECK_VALID : CHECK_INVALID;
  run_rules(e);
}

static void set_validators(bft_engine *e, const cx_pubkey *v, size_t n) {
  CX_ASSERT(n >= 1 && n <= CX_MAX_VALIDATORS);
  memcpy(e->validators, v, n * sizeof *v);
  e->n = n;
  e->self = find_self(e);
}

/* The host committed the current height (our decision or sync). */
static void on_committed(bft_engine *e, const bft_event *ev) {
  if (ev->height != e->height) {
    e->ignored++;
    return;
  }
  if (ev->validators) set_validators(e, ev->validators, ev->nvalidators);
  reset_height_log(e);
  e->height++;
  e->round = e->start_round = 0;
  e->step = 0;
  e->decided = e->building = 0;
  e->locked_round = e->valid_round = BFT_NIL_ROUND; /* L8 reset per height */
  e->lost_round = BFT_NIL_ROUND;
  e->resume_step = 0;
  e->resend_precommit = 0;
  e->locked_hash = e->valid_hash = nil_hash;
  e->replay_pending = 1;
}

/* --------------------------------------------------------------- API */

cx_err bft_new(const bft_config *cfg, const bft_safety *safety, bft_engine **out) {
  *out = NULL;
  if (!cfg->validators || cfg->nvalidators < 1 || cfg->nvalidators > CX_MAX_VALIDATORS ||
      !cfg->sign || cfg->height < 1)
    return CX_E_CONFIG;
  bft_engine *e = calloc(1, sizeof *e);
  if (!e) return CX_E_NOMEM;
  e->cfg = *cfg;
  set_validators(e, cfg->validators, cfg->nvalidators);
  e->cfg.validators = e->validators;
  e->height = cfg->height;
  e->locked_round = e->valid_round = e->lost_round = BFT_NIL_ROUND;
  if (safety && safety->height) {
    e->safety = *safety; /* refuses re-signing what it covers, whatever height */
    if (safety->height == cfg->height) { /* resume: locks restored */
      /* After a precommit the round is done: resume at the next one and
       * send that precommit again (begin_height). Before it, resume in the
       * record's round, past the step signed (start_round): we may still
       * precommit there, which peers in that round may need (L47). Either
       * way may_sign refuses every slot the record covers. */
      if (safety->step >= BFT_PRECOMMIT) {
        e->start_round = e->round = safety->round + 1;
        e->resend_precommit = safety->round != UINT32_MAX;
      } else {
        e->start_round = e->round = safety->round;
        e->resume_step = safety->step;
        e->resume_round = safety->round;
      }
      e->locked_round = safety->locked_round;
      e->locked_hash = safety->locked_hash;
      e->valid_round = safety->valid_round;
      e->valid_hash = safety->valid_hash;
    }
  }
  *out = e;
  return CX_OK;
}

void bft_free(bft_engine *e) {
  if (!e) return;
  reset_height_log(e);
  free(e->rounds);
  free(e->checks);
  free(e->buf);
  free(e);
}

size_t bft_step(bft_engine *e, const bft_event *ev, bft_action *out) {
  e->out = out;
  e->nout = 0;
  switch (ev->type) {
    case BFT_EV_START:
      if (e->step == 0) begin_height(e);
      run_rules(e);
      break;
    case BFT_EV_TIMEOUT: on_timeout(e, ev); break;
    case BFT_EV_MESSAGE: on_message(e, &ev->msg); break;
    case BFT_EV_PROPOSAL_CHECKED: on_checked(e, ev); break;
    case BFT_EV_BLOCK_READY: on_block_ready(e, ev); break;
    case BFT_EV_COMMITTED: on_committed(e, ev); break;
    default: e->ignored++; break;
  }
  replay(e);
  size_t n = e->nout;
  e->out = NULL;
  e->nout = 0;
  return n;
}

void bft_get_status(const bft_engine *e, bft_status *out) {
  memset(out, 0, sizeof *out);
  out->height = e->height;
  out->round = e->round;
  out->step = e->step;
  out->locked_round = e->locked_round;
  out->valid_round = e->valid_round;
  out->ignored = e->ignored;
  out->equivocations = e->equivocations;
}
