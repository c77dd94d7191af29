/* The online protocol: an interpreter of MPC programs over Shamir shares
 * (mpc.h "programs"; docs/mpc-online.md).
 *
 * Registers are vectors: S registers hold this party's degree-t shares (in
 * the session's arena of sodium_malloc'd slabs, below), P registers public
 * values (plain malloc). A register's value is freed (wiped) right after
 * the instruction that reads it last (prog_kills), so a long program holds
 * about its live values, not one buffer per instruction. Local
 * instructions run at once; interactive ones are grouped into rounds by
 * prog_run_end (program.c), the one definition of the grouping rule:
 *   - a MUL/OPEN run opens, in one TO_ALL message per party, the Beaver
 *     differences d = x - a, e = y - b of every MUL (Beaver, CRYPTO 1991)
 *     and the shares of every OPEN; openings are robust (Berlekamp–Welch,
 *     n >= 3t + 1): wrong shares are corrected and their senders named,
 *     a malformed share payload is decoded as an erasure (issue 5);
 *   - an INPUT run takes three rounds: A, the parties send the dealer their
 *     shares of a pool random r (the dealer opens r robustly); B, the
 *     dealer broadcasts delta = x - r; C, everyone echoes the dealers'
 *     signed round-B messages so that a dealer who sent different deltas to
 *     different parties is caught with its two signed messages before any
 *     honest party uses an inconsistent share;
 *   - every OUTPUT is opened in one final round after everything else;
 *   - an OUTPUT_SHARE opens nothing: it keeps this party's shares of its
 *     register, released by mpc_session_output_share only once the session
 *     is done (every check passed), for a reader that is not a party.
 * A vector too long for one message is split over consecutive rounds.
 *
 * Preprocessing is taken from the pool when an instruction needs it, in
 * program order (a group takes its triples or randoms when it begins), so
 * every party takes the same items in the same order and the FIFOs stay
 * aligned. That they were aligned to begin with is checked before any
 * share is decoded: every round-0 message (and the echo of an input group
 * that starts the session) carries the sender's pool guard, its positions
 * and where the items ahead come from, and a mismatch aborts with
 * CX_E_MPC_POOL_DESYNC naming nobody (docs/mpc-online.md "Pool
 * alignment").
 *
 * Payloads are whole canonical field elements and start with a tag element
 * naming the message type (docs/mpc-online.md "Messages"); session.c knows
 * the same tags for evidence verification. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "hash.h"
#include "session_internal.h"

#define TAG_SHARES MPC_TAG_SHARES
#define TAG_DELTA MPC_TAG_DELTA
#define TAG_ECHO MPC_TAG_ECHO
#define PACK MPC_PACK

/* The register arena: S registers (and this party's input values) are
 * blocks of 2^c elements, c < AR_CLASSES, carved from a few large
 * sodium_malloc'd slabs and recycled through one free list per class. A
 * sodium_malloc costs about three memory mappings (guard pages), and the
 * process has a limit on those (vm.max_map_count, 65530 by default): one
 * allocation per register made a long program, or a few parties in one
 * process, run out of them. Slabs double from AR_FIRST_SLAB to AR_MAX_SLAB
 * elements, so the number of mappings grows with the log of the memory
 * held, not with the number of registers. A freed block is wiped at once;
 * the slabs are wiped when the session ends. Vectors over 2^(AR_CLASSES-1)
 * elements get their own fe_alloc (few of them fit in memory anyway). */
#define AR_CLASSES 17
#define AR_FIRST_SLAB ((size_t)4096)
#define AR_MAX_SLAB ((size_t)1 << 20)

typedef struct {
  fe *v;
  size_t cap;
} ar_slab;

typedef struct {
  ar_slab *slab;
  size_t nslab, capslab;
  size_t used;             /* elements handed out of the last slab */
  fe *head[AR_CLASSES];    /* free blocks; the link is kept in a block's first element */
  uint64_t in_use, peak;   /* elements in blocks handed out (tests: lifetimes) */
} arena;

typedef struct {
  fe *v;
  size_t len;
} vec;

typedef struct {
  uint32_t slot;
  fe *v; /* arena */
  size_t len;
} slotvec;

typedef struct {
  uint32_t slot;
  size_t off, len;
} outrec;

enum { G_NONE = 0, G_OPEN, G_INPUT, G_OUTPUT };
enum { PH_A = 0, PH_B, PH_C };

/* The interactive group being run. */
typedef struct {
  int kind;
  size_t i, e;          /* instruction range */
  uint64_t total;       /* flattened elements of the group */
  uint64_t lo, hi;      /* the current round's (or input chunk's) element range */
  fe *mine;             /* my shares, total (fe_alloc): the openings, or the input randoms */
  fe *vals;             /* OUTPUT: opened values, total (malloc: public); an OPEN run
                         * decodes into mine instead (open_recv) */
  fe *ta, *tb, *tc;     /* Beaver triples (fe_alloc) */
  size_t tn;
  uint8_t *sent;        /* my signed message of the round, for evidence */
  size_t sent_len;
  /* INPUT */
  int phase;
  uint32_t round_b;
  uint64_t *off;        /* flat offset of each instruction, e - i + 1 entries */
  fe **x;               /* each INPUT's result shares (arena) */
  uint64_t dealers;     /* dealers with elements in the chunk */
  fe *ropen;            /* dealer: the opened r of its chunk elements (fe_alloc) */
  size_t ropen_n;
  uint8_t *bmsg[MPC_MAX_N];
  size_t blen[MPC_MAX_N];
  fe *delta[MPC_MAX_N]; /* public */
} group;

/* A client input slot (docs/mpc-online.md "Client inputs"). */
typedef struct {
  uint32_t slot;
  size_t count;             /* values; with the mask, count + 1 shares */
  int given;                /* mpc_session_input_client was called */
  cx_err complaint;         /* CX_OK, or why my blob did not open */
  fe *sh;                   /* my count + 1 shares (fe_alloc); NULL after a complaint or use */
  uint8_t salt[MPC_CLIENT_SALT];
  uint8_t *aux;             /* context || count u64 LE || n commitments (public) */
  size_t aux_len;
  fe y[MPC_MAX_N];          /* the opened check values (public) */
  uint64_t reveal;          /* who must reveal (mpc_client_blame's E), 0 if consistent */
} cslot;

enum { CK_NONE = 0, CK_CHECK, CK_REVEAL };

typedef struct {
  const mpc_program *prog;
  mpc_program *owned; /* the bits program */
  cslot *cs;          /* the program's INPUT_CLIENT slots, program order */
  size_t ncs;
  int ck;             /* client check phase */
  uint8_t *ck_sent, *rv_sent; /* my signed check and reveal messages (evidence) */
  size_t ck_sent_len, rv_sent_len;
  size_t pc;
  vec *S, *P;
  uint32_t ns, np;
  arena ar;
  size_t *kstart;  /* register lifetimes (prog_kills) */
  uint64_t *kill;
  uint64_t need[MPC_POOL_KINDS]; /* the program's triples, rands, bits, ints (mpc_prog_cost_at) */
  uint8_t guard[MPC_GUARD_BYTES]; /* my pool guard, made at start */
  slotvec *in;
  size_t nin;
  int used_round;
  fe *osh; /* OUTPUT shares captured in program order (fe_alloc) */
  size_t olen, ocap;
  outrec *outs;
  size_t nouts;
  fe *ovals; /* opened outputs (public) */
  fe *ssh;   /* OUTPUT_SHARE shares captured in program order (fe_alloc); kept until free */
  size_t sslen, sscap;
  outrec *shrecs;
  size_t nshrecs;
  fe *bits;  /* POOLBITS, appended to the pool when the session is done */
  size_t nbits, bcap;
  /* The public transcript (mpc_session_transcript): the session id, then
   * the opened values as they complete (transcript_add); final once done. */
  hash_ctx th;
  cx_hash transcript;
  group g;
} online;

static cx_err run(mpc_session *s, online *o, mpc_outbox *out);

/* ---- the register arena ------------------------------------------------ */

static unsigned ar_class(size_t len) {
  unsigned c = 0;
  while (((size_t)1 << c) < len && c < 63) c++;
  return c;
}

static fe *ar_next(const fe *b) {
  fe *n;
  memcpy(&n, b, sizeof n);
  return n;
}

static void ar_push(arena *a, unsigned c, fe *b) {
  memcpy(b, &a->head[c], sizeof a->head[c]);
  a->head[c] = b;
}

/* What is left of the last slab goes to the free lists, largest blocks
 * first, before a new slab is started. */
static void ar_retire(arena *a) {
  if (!a->nslab) return;
  ar_slab *sl = &a->slab[a->nslab - 1];
  while (a->used < sl->cap) {
    unsigned c = 0;
    while (c + 1 < AR_CLASSES && ((size_t)1 << (c + 1)) <= sl->cap - a->used) c++;
    ar_push(a, c, sl->v + a->used);
    a->used += (size_t)1 << c;
  }
}

static int ar_grow(arena *a, size_t need) {
  if (a->nslab == a->capslab) {
    size_t cap = a->capslab ? 2 * a->capslab : 8;
    ar_slab *v = realloc(a->slab, cap * sizeof *v);
    if (!v) return -1;
    a->slab = v;
    a->capslab = cap;
  }
  size_t cap = a->nslab ? 2 * a->slab[a->nslab - 1].cap : AR_FIRST_SLAB;
  if (cap > AR_MAX_SLAB) cap = AR_MAX_SLAB;
  if (cap < need) cap = need;
  fe *v = fe_alloc(cap); /* zeroed */
  if (!v) return -1;
  ar_retire(a);
  a->slab[a->nslab++] = (ar_slab){.v = v, .cap = cap};
  a->used = 0;
  return 0;
}

static void ar_count(arena *a, int64_t d) {
  a->in_use += (uint64_t)d;
  if (a->in_use > a->peak) a->peak = a->in_use;
}

/* A zeroed block of at least len elements; NULL on out of memory. */
static fe *ar_alloc(arena *a, size_t len) {
  unsigned c = ar_class(len ? len : 1);
  if (c >= AR_CLASSES) {
    fe *b = fe_alloc(len);
    if (b) ar_count(a, (int64_t)len);
    return b;
  }
  size_t bs = (size_t)1 << c;
  fe *b = a->head[c];
  if (b) {
    a->head[c] = ar_next(b);
    memset(b, 0, sizeof *b); /* the link; the rest was wiped when freed */
  } else {
    if ((!a->nslab || a->slab[a->nslab - 1].cap - a->used < bs) && ar_grow(a, bs)) return NULL;
    b = a->slab[a->nslab - 1].v + a->used;
    a->used += bs;
  }
  ar_count(a, (int64_t)bs);
  return b;
}

/* len: the length it was allocated with. Wipes the block. */
static void ar_free(arena *a, fe *b, size_t len) {
  if (!b) return;
  unsigned c = ar_class(len ? len : 1);
  if (c >= AR_CLASSES) {
    fe_free(b);
    ar_count(a, -(int64_t)len);
    return;
  }
  sodium_memzero(b, ((size_t)1 << c) * sizeof *b);
  ar_push(a, c, b);
  ar_count(a, -(int64_t)((size_t)1 << c));
}

static void ar_destroy(arena *a) {
  for (size_t i = 0; i < a->nslab; i++) fe_free(a->slab[i].v);
  free(a->slab);
  memset(a, 0, sizeof *a);
}

/* ---- small helpers ----------------------------------------------------- */

static fe at(const vec *v, size_t i) { return v->len == 1 ? v->v[0] : v->v[i]; }
static size_t bin_len(size_t a, size_t b) { return a == 1 ? b : a; }
static uint32_t lowest(uint64_t m) { return (uint32_t)__builtin_ctzll(m); }

static void wipe_free(void *p, size_t len) {
  if (!p) return;
  sodium_memzero(p, len);
  free(p);
}

/* Replaces S[d] (the old buffer is wiped). v: from ar_alloc(len). */
static void set_s(online *o, uint32_t d, fe *v, size_t len) {
  ar_free(&o->ar, o->S[d].v, o->S[d].len);
  o->S[d].v = v;
  o->S[d].len = len;
}

static void set_p(online *o, uint32_t d, fe *v, size_t len) {
  free(o->P[d].v);
  o->P[d].v = v;
  o->P[d].len = len;
}

/* Instruction k has run: free the values nothing reads again. */
static void kill_after(online *o, size_t k) {
  for (size_t i = o->kstart[k]; i < o->kstart[k + 1]; i++) {
    uint64_t c = o->kill[i];
    if (c & 1)
      set_p(o, (uint32_t)(c >> 1), NULL, 0);
    else
      set_s(o, (uint32_t)(c >> 1), NULL, 0);
  }
}

/* Appends count shares to a growing fe_alloc buffer (copy, never realloc:
 * realloc would leave an unwiped copy behind). */
static int sec_append(fe **buf, size_t *len, size_t *cap, const fe *src, size_t count) {
  if (*len + count > *cap) {
    size_t ncap = *cap ? *cap : 64;
    while (ncap < *len + count) ncap *= 2;
    fe *nb = fe_alloc(ncap);
    if (!nb) return -1;
    if (*len) memcpy(nb, *buf, *len * sizeof *nb);
    fe_free(*buf);
    *buf = nb;
    *cap = ncap;
  }
  memcpy(*buf + *len, src, count * sizeof *src);
  *len += count;
  return 0;
}

static void abort_pool(mpc_session *s, const char *what, size_t count) {
  sess_abort(s, CX_E_MPC_POOL_EMPTY, -1, "the pool has fewer than %zu %s", count, what);
}

/* The first message round is round 0 (s->expect is set directly); later
 * ones go through sess_next_round. Called before the round's sends. */
static void begin_round(mpc_session *s, online *o, uint64_t expect) {
  if (o->used_round) {
    sess_next_round(s, expect);
  } else {
    s->expect = expect;
    o->used_round = 1;
  }
}

/* Signs and sends, keeping a copy of the signed message for evidence. */
static cx_err send_keep(mpc_session *s, uint32_t to, const uint8_t *pl, size_t len, mpc_outbox *out,
                        uint8_t **keep, size_t *keep_len) {
  cx_err e = sess_send(s, to, pl, len, out);
  if (e != CX_OK || !keep) return e;
  const mpc_send *m = &out->v[out->n - 1];
  free(*keep);
  *keep = malloc(m->len);
  if (!*keep) return CX_E_NOMEM;
  memcpy(*keep, m->buf, m->len);
  *keep_len = m->len;
  return CX_OK;
}

/* ---- the pool guard ---------------------------------------------------- */

/* Elements before the data of a payload: the tag, and the pool guard in
 * round 0 and in a round-2 echo (session_internal.h MPC_GUARD_N). */
static int has_guard(uint32_t round, fe tag) { return round == 0 || (round == 2 && tag == TAG_ECHO); }
static size_t hdr_elems(uint32_t round, fe tag) { return 1 + (has_guard(round, tag) ? (size_t)MPC_GUARD_N : 0); }

/* My guard (session_internal.h MPC_GUARD_BYTES): the pool positions and
 * the digest of the items the program will take, as they are when the
 * session starts, packed MPC_PACK bytes per element. */
static void guard_make(mpc_session *s, online *o) {
  uint64_t pos[MPC_POOL_KINDS];
  uint8_t dig[16];
  mpc_pool_position(s->pool, pos);
  mpc_pool_ahead_digest(s->pool, o->need, dig);
  for (int k = 0; k < MPC_POOL_KINDS; k++)
    for (int b = 0; b < 8; b++) o->guard[8 * k + b] = (uint8_t)(pos[k] >> (8 * b));
  memcpy(o->guard + 8 * MPC_POOL_KINDS, dig, sizeof dig);
}

static void guard_pack(const uint8_t *bytes, fe *v) {
  for (size_t i = 0; i < MPC_GUARD_N; i++) {
    fe x = 0;
    for (int b = PACK - 1; b >= 0; b--) {
      size_t at = i * PACK + (size_t)b;
      x = x << 8 | (at < MPC_GUARD_BYTES ? bytes[at] : 0);
    }
    v[i] = x;
  }
}

/* The positions packed in a guard (for the reason sentence). */
static void guard_positions(const fe *v, uint64_t pos[MPC_POOL_KINDS]) {
  uint8_t bytes[MPC_GUARD_N * PACK];
  for (size_t i = 0; i < MPC_GUARD_N; i++)
    for (int b = 0; b < PACK; b++) bytes[i * PACK + (size_t)b] = (uint8_t)(v[i] >> (8 * b));
  for (int k = 0; k < MPC_POOL_KINDS; k++) {
    pos[k] = 0;
    for (int b = 7; b >= 0; b--) pos[k] = pos[k] << 8 | bytes[8 * k + b];
  }
}

/* tag || (guard rounds: my guard) || v[0..count) as a payload (malloc;
 * the caller wipes it). */
static uint8_t *payload_new(const mpc_session *s, const online *o, fe tag, const fe *v, size_t count,
                            size_t *len) {
  size_t h = hdr_elems(s->round, tag);
  *len = FE_BYTES * (count + h);
  uint8_t *pl = malloc(*len);
  if (!pl) return NULL;
  fe_encode(tag, pl);
  if (h > 1) {
    fe g[MPC_GUARD_N];
    guard_pack(o->guard, g);
    fe_encode_vec(g, MPC_GUARD_N, pl + FE_BYTES);
  }
  fe_encode_vec(v, count, pl + FE_BYTES * h);
  return pl;
}

/* Checks a received payload: recipient field, tag, length, canonical
 * elements. NULL if good (out gets the data elements, after the tag and a
 * guard, which guard_check has judged), else what is wrong. */
static const char *payload_get(const mpc_msg *m, fe tag, uint32_t to, size_t count, fe *out) {
  if (m->to != to) return "wrong recipient field";
  if (m->len % FE_BYTES) return "not a whole number of field elements";
  fe t;
  if (m->len < FE_BYTES || fe_decode(m->payload, &t) != 0 || t != tag) return "wrong message type";
  size_t h = hdr_elems(m->round, tag);
  if (m->len / FE_BYTES != count + h) return "wrong length";
  if (count && fe_decode_vec(m->payload + FE_BYTES * h, count, out) != 0) return "non-canonical field element";
  return NULL;
}

/* A signed message that breaks the round's layout: its sender cheated.
 * Used where the message is not a share of a robust opening (a guard, a
 * delta, an echo); in an opening see erase_malformed.
 * mpc_evidence_verify confirms it from the message alone when the layout
 * rule all online messages share is broken (docs/mpc-online.md); a wrong
 * length for this program is certain to the parties running it. */
static void abort_malformed(mpc_session *s, uint32_t j, const mpc_msg *m, const char *why) {
  const uint8_t *raw = m->raw;
  size_t l = m->raw_len;
  sess_evidence(s, MPC_EV_MALFORMED, (int32_t)j, 0, &raw, &l, 1);
  sess_abort(s, CX_E_MPC_MALFORMED, (int32_t)j, "party %u sent a malformed round-%u message: %s", j,
             s->round, why);
}

/* A malformed share payload in a robust opening (docs/mpc-online.md
 * "Malformed shares are erasures"): its sender is named in st.corrected
 * with the message as MPC_EV_MALFORMED evidence, and its vector is decoded
 * as an erasure. Aborting here instead would be a selective abort: the
 * other recipients of a TO_ALL round may have got a good message and would
 * only time out. The opening still aborts if the rest cannot be decoded. */
static void erase_malformed(mpc_session *s, uint32_t j, const mpc_msg *m) {
  const uint8_t *raw = m->raw;
  size_t l = m->raw_len;
  sess_evidence_correction(s, MPC_EV_MALFORMED, (int32_t)j, 0, &raw, &l, 1);
  s->st.corrected |= (uint64_t)1 << j;
}

/* Robust opening of count sharings, sh[j] party j's shares (own included;
 * NULL: erased, a malformed payload); msgs[j] the signed messages they came
 * in (evidence; an erased sender's too). Wrong shares are
 * corrected and their senders added to st.corrected; the first is recorded
 * as MPC_EV_WRONG_SHARE (item counts the tag and a round-0 guard: it
 * never points into the guard). -1 if aborted. */
static int robust_open(mpc_session *s, const fe *const *sh, size_t count, fe *res,
                       const uint8_t *const *msgs, const size_t *lens) {
  uint64_t wrong = 0;
  size_t first = SIZE_MAX;
  if (shamir_open(&s->sh, sh, count, res, &wrong, &first) != 0) {
    sess_abort(s, CX_E_MPC_INCONSISTENT, -1,
               "round %u: element %zu has more wrong shares than can be corrected", s->round, first);
    return -1;
  }
  if (!wrong) return 0;
  s->st.corrected |= wrong;
  fe y[MPC_MAX_N] = {0}, secret;
  uint64_t em = 0, all = 0;
  for (uint32_t j = 0; j < s->cfg.n; j++)
    if (sh[j]) { /* an erased (malformed) sender has no point */
      y[j] = sh[j][first];
      all |= (uint64_t)1 << j;
    }
  /* with e erasures, (n - e - t - 1) / 2 errors are correctable */
  uint32_t pts = (uint32_t)__builtin_popcountll(all), t = s->cfg.t;
  uint32_t maxe = pts > 2 * t ? (pts - t - 1) / 2 : 0;
  if (maxe > t) maxe = t;
  if (shamir_bw_decode(&s->sh, y, all, t, maxe, &secret, &em) != 0 || !(em & wrong)) em = wrong;
  sodium_memzero(y, sizeof y);
  sodium_memzero(&secret, sizeof secret);
  /* WRONG_SHARE evidence is the round's n well-formed messages: with an
   * erasure the erased sender's MALFORMED evidence stands instead */
  if (pts < s->cfg.n) return 0;
  sess_evidence(s, MPC_EV_WRONG_SHARE, (int32_t)lowest(em & wrong), first + hdr_elems(s->round, TAG_SHARES),
                msgs, lens, s->cfg.n);
  return 0;
}

/* A sender's guard: NULL if well formed (v gets it), else what is wrong.
 * This layout is what mpc_evidence_verify checks too. */
static const char *guard_get(const mpc_msg *m, fe tag, fe *v) {
  fe t;
  if (m->len % FE_BYTES || m->len < FE_BYTES * hdr_elems(m->round, tag)) return "no pool guard";
  if (fe_decode(m->payload, &t) != 0 || t != tag) return "wrong message type";
  if (fe_decode_vec(m->payload + FE_BYTES, MPC_GUARD_N, v) != 0) return "non-canonical field element";
  for (size_t i = 0; i < MPC_GUARD_N; i++)
    if (v[i] >> (8 * PACK)) return "bad pool guard packing";
  return NULL;
}

/* Before anything is decoded: the pool guards of the round's senders
 * (s->expect) against mine (docs/mpc-online.md "Pool alignment"). Every
 * party sees every other party's guard before it first decodes: in round
 * 0, an opening (everyone to everyone) or the dealers' input round A (the
 * dealers decode there, and hear from everyone); in the echo of an input
 * group that starts the session (round 2, everyone to everyone), before a
 * non-dealer decodes anything. A malformed guard names its sender (an
 * honest party never sends one, aligned or not). A different one names
 * nobody: an honest party whose pool is off (a prep batch only some
 * parties accepted, a session only some parties ran) and a cheater lying
 * about its pool look the same from here, and either way the shares ahead
 * would not lie on one polynomial, so decoding them could "correct" an
 * honest party. 0 if all agree, -1 if the session aborted. */
static int guard_check(mpc_session *s, online *o, fe tag) {
  fe mine[MPC_GUARD_N], v[MPC_GUARD_N], other[MPC_GUARD_N];
  guard_pack(o->guard, mine);
  uint64_t differ = 0;
  int32_t first = -1;
  for (uint64_t em = s->expect; em; em &= em - 1) {
    uint32_t j = lowest(em);
    const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, j);
    const char *why = guard_get(m, tag, v);
    if (why) {
      abort_malformed(s, j, m, why);
      return -1;
    }
    size_t i = 0;
    while (i < MPC_GUARD_N && v[i] == mine[i]) i++;
    if (i == MPC_GUARD_N) continue;
    differ |= (uint64_t)1 << j;
    if (first < 0) {
      first = (int32_t)j;
      memcpy(other, v, sizeof other);
    }
  }
  if (!differ) return 0;
  uint64_t a[MPC_POOL_KINDS], b[MPC_POOL_KINDS];
  guard_positions(other, a);
  guard_positions(mine, b);
  int same = memcmp(a, b, sizeof a) == 0;
  uint32_t c = 0;
  for (uint64_t d = differ; d; d &= d - 1) c++;
  sess_abort(s, CX_E_MPC_POOL_DESYNC, -1,
             "pools not aligned with %u part%s: party %u has taken %llu/%llu/%llu/%llu "
             "triples/rands/bits/ints, this party %llu/%llu/%llu/%llu%s",
             c, c == 1 ? "y" : "ies", (uint32_t)first, (unsigned long long)a[0], (unsigned long long)a[1],
             (unsigned long long)a[2], (unsigned long long)a[3], (unsigned long long)b[0],
             (unsigned long long)b[1], (unsigned long long)b[2], (unsigned long long)b[3],
             same ? ", but other batches are ahead" : "");
  return -1;
}

/* ---- the public transcript --------------------------------------------- */

/* The transcript (docs/calls.md §3, docs/mpc-online.md "Transcript")
 * absorbs, after the session id, every value the program opens: each OPEN
 * result (those ops.c and the bits program emit included) when its group
 * completes, then the OUTPUT values chunk by chunk as the final round
 * decodes them, all as canonical 16-byte elements in program order. One
 * update per opened vector; nothing is kept. They are robust openings, so
 * every honest party of a done session absorbs the same values. Not in it:
 * a MUL's Beaver differences d = x - a, e = y - b (uniform masks that say
 * nothing about the computation; two elements per multiplication, hashing
 * them cost about a fifth of the online time), an input's delta and a
 * dealer's opened r (the dealer's own mask), the client-check values and
 * pool guards (each party's own). */
static void transcript_add(online *o, const fe *v, size_t count) {
  uint8_t buf[256 * FE_BYTES];
  while (count) {
    size_t m = count < 256 ? count : 256;
    fe_encode_vec(v, m, buf);
    hash_ctx_update(&o->th, buf, m * FE_BYTES);
    v += m;
    count -= m;
  }
}

/* ---- openings: MUL/OPEN runs and the OUTPUT round ---------------------- */

static cx_err open_send(mpc_session *s, online *o, mpc_outbox *out) {
  group *g = &o->g;
  g->hi = g->lo + prog_chunk(0) < g->total ? g->lo + prog_chunk(0) : g->total;
  begin_round(s, o, sess_others(s));
  size_t len;
  uint8_t *pl = payload_new(s, o, TAG_SHARES, g->mine + g->lo, g->hi - g->lo, &len);
  if (!pl) return CX_E_NOMEM;
  cx_err e = send_keep(s, MPC_TO_ALL, pl, len, out, &g->sent, &g->sent_len);
  wipe_free(pl, len);
  return e;
}

/* Shares for a MUL run: d = x - a and e = y - b of every MUL (a length-1
 * operand repeated), the operand of every OPEN, in instruction order. */
static void open_fill(online *o) {
  group *g = &o->g;
  uint64_t off = 0, toff = 0;
  for (size_t k = g->i; k < g->e; k++) {
    const mpc_ins *in = mpc_prog_ins(o->prog, k);
    const vec *x = &o->S[in->a];
    if (in->op == MPC_OP_OPEN) {
      memcpy(g->mine + off, x->v, x->len * sizeof(fe));
      off += x->len;
      continue;
    }
    const vec *y = &o->S[in->b];
    size_t L = bin_len(x->len, y->len);
    for (size_t q = 0; q < L; q++) {
      g->mine[off + q] = fe_sub(at(x, q), g->ta[toff + q]);
      g->mine[off + L + q] = fe_sub(at(y, q), g->tb[toff + q]);
    }
    off += 2 * L;
    toff += L;
  }
}

static cx_err open_begin(mpc_session *s, online *o, size_t i, size_t e, mpc_outbox *out) {
  group *g = &o->g;
  memset(g, 0, sizeof *g);
  g->kind = G_OPEN;
  g->i = i;
  g->e = e;
  for (size_t k = i; k < e; k++) {
    const mpc_ins *in = mpc_prog_ins(o->prog, k);
    size_t L = in->op == MPC_OP_MUL ? bin_len(o->S[in->a].len, o->S[in->b].len) : o->S[in->a].len;
    g->total += in->op == MPC_OP_MUL ? 2 * L : L;
    if (in->op == MPC_OP_MUL) g->tn += L;
  }
  g->mine = fe_alloc(g->total);
  g->ta = fe_alloc(g->tn);
  g->tb = fe_alloc(g->tn);
  g->tc = fe_alloc(g->tn);
  if (!g->mine || !g->ta || !g->tb || !g->tc) return CX_E_NOMEM;
  if (g->tn && mpc_pool_take_triples(s->pool, g->tn, g->ta, g->tb, g->tc) != CX_OK) {
    abort_pool(s, "triples", g->tn);
    return CX_OK;
  }
  open_fill(o);
  return open_send(s, o, out);
}

/* z = c + d b + e a + d e (Beaver 1991), then the OPEN results; the opened
 * values are in g->mine (open_recv decodes in place). */
static cx_err open_finish(online *o) {
  group *g = &o->g;
  const fe *vals = g->mine;
  uint64_t off = 0, toff = 0;
  for (size_t k = g->i; k < g->e; k++) {
    const mpc_ins *in = mpc_prog_ins(o->prog, k);
    if (in->op == MPC_OP_OPEN) {
      size_t L = o->S[in->a].len;
      fe *v = malloc(L * sizeof *v);
      if (!v) return CX_E_NOMEM;
      memcpy(v, vals + off, L * sizeof *v);
      transcript_add(o, v, L);
      set_p(o, in->d, v, L);
      kill_after(o, k);
      off += L;
      continue;
    }
    size_t L = bin_len(o->S[in->a].len, o->S[in->b].len);
    fe *z = ar_alloc(&o->ar, L);
    if (!z) return CX_E_NOMEM;
    for (size_t q = 0; q < L; q++) {
      fe d = vals[off + q], e = vals[off + L + q];
      fe v = fe_add(g->tc[toff + q], fe_mul(d, g->tb[toff + q]));
      v = fe_add(v, fe_mul(e, g->ta[toff + q]));
      z[q] = fe_add(v, fe_mul(d, e));
    }
    set_s(o, in->d, z, L);
    kill_after(o, k); /* in order, after its write: see prog_kills */
    off += 2 * L;
    toff += L;
  }
  return CX_OK;
}

static void group_free(online *o) {
  group *g = &o->g;
  if (g->kind != G_OUTPUT) fe_free(g->mine); /* OUTPUT's is online.osh */
  free(g->vals);
  fe_free(g->ta);
  fe_free(g->tb);
  fe_free(g->tc);
  free(g->sent);
  if (g->x)
    for (size_t k = 0; k < g->e - g->i; k++) ar_free(&o->ar, g->x[k], g->off[k + 1] - g->off[k]);
  free(g->x);
  free(g->off);
  fe_free(g->ropen);
  for (uint32_t j = 0; j < MPC_MAX_N; j++) {
    free(g->bmsg[j]);
    free(g->delta[j]);
  }
  memset(g, 0, sizeof *g);
}

static cx_err finish_done(mpc_session *s, online *o);

/* Opens this round's count sharings robustly into res: the other parties'
 * TAG_SHARES payloads (addressed to `to`) are read into buf, n rows of
 * count; mine is my own row and g->sent the message I sent it in (both
 * kept for evidence). 0, or -1 if the session aborted (a malformed payload
 * is an erasure: erase_malformed; see robust_open for the rest). Shared by OPEN rounds
 * and the dealer's round A of INPUT, which differ only in recipient and in
 * where the own row lives. */
static int open_round(mpc_session *s, const group *g, uint32_t to, size_t count, fe *buf, const fe *mine,
                      fe *res) {
  uint32_t n = s->cfg.n, me = s->cfg.me;
  const fe *sh[MPC_MAX_N];
  const uint8_t *msgs[MPC_MAX_N];
  size_t lens[MPC_MAX_N];
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) {
      sh[j] = mine;
      msgs[j] = g->sent;
      lens[j] = g->sent_len;
      continue;
    }
    const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, j);
    msgs[j] = m->raw;
    lens[j] = m->raw_len;
    sh[j] = buf + (size_t)j * count;
    if (payload_get(m, TAG_SHARES, to, count, buf + (size_t)j * count)) {
      erase_malformed(s, j, m);
      sh[j] = NULL;
    }
  }
  return robust_open(s, sh, count, res, msgs, lens);
}

static cx_err open_recv(mpc_session *s, online *o, mpc_outbox *out) {
  group *g = &o->g;
  size_t count = g->hi - g->lo;
  fe *buf = fe_alloc((size_t)s->cfg.n * count);
  if (!buf) return CX_E_NOMEM;
  /* A MUL/OPEN run decodes in place: my shares of the round move to buf's
   * row of my own (unused: buf holds the others' rows) and the opened
   * values overwrite them in g->mine, so the run holds one buffer of its
   * openings, not two (fresh memory is what the kernel must fault in and
   * clear: docs/mpc.md, session 26). The copy keeps the decoder's inputs
   * apart from its output: Berlekamp-Welch reads my share of a bad
   * element after the values are written. OUTPUT keeps its shares
   * (online.osh) and decodes into g->vals. */
  fe *mine = g->mine + g->lo, *res = g->kind == G_OUTPUT ? g->vals + g->lo : mine;
  if (g->kind != G_OUTPUT) {
    memcpy(buf + (size_t)s->cfg.me * count, mine, count * sizeof(fe));
    mine = buf + (size_t)s->cfg.me * count;
  }
  int ok = open_round(s, g, MPC_TO_ALL, count, buf, mine, res) == 0;
  fe_free(buf);
  if (!ok) return CX_OK;
  if (g->kind == G_OUTPUT) transcript_add(o, g->vals + g->lo, count);
  g->lo = g->hi;
  if (g->lo < g->total) return open_send(s, o, out);
  if (g->kind == G_OUTPUT) return finish_done(s, o);
  cx_err e = open_finish(o);
  if (e != CX_OK) return e;
  o->pc = g->e;
  group_free(o);
  return run(s, o, out);
}

/* ---- inputs ------------------------------------------------------------ */

static const slotvec *my_input(const online *o, uint32_t slot) {
  for (size_t k = 0; k < o->nin; k++)
    if (o->in[k].slot == slot) return &o->in[k];
  return NULL;
}

/* The flat range of INPUT instruction k (absolute index) inside the chunk:
 * 0 if empty. */
static int isect(const group *g, size_t k, uint64_t *s0, uint64_t *s1) {
  uint64_t a = g->off[k - g->i], b = g->off[k - g->i + 1];
  *s0 = a > g->lo ? a : g->lo;
  *s1 = b < g->hi ? b : g->hi;
  return *s0 < *s1;
}

/* The chunk's elements dealt by `dealer`: count, and (if v) my values of
 * them from src (flat-indexed), in flattened order. */
static size_t dealer_elems(const online *o, uint32_t dealer, const fe *src, fe *v) {
  const group *g = &o->g;
  size_t c = 0;
  for (size_t k = g->i; k < g->e; k++) {
    uint64_t s0, s1;
    if (mpc_prog_ins(o->prog, k)->a != dealer || !isect(g, k, &s0, &s1)) continue;
    if (v) memcpy(v + c, src + s0, (s1 - s0) * sizeof(fe));
    c += s1 - s0;
  }
  return c;
}

static cx_err input_send_a(mpc_session *s, online *o, mpc_outbox *out) {
  group *g = &o->g;
  uint32_t me = s->cfg.me;
  uint64_t ch = prog_chunk(1);
  g->hi = g->lo + ch < g->total ? g->lo + ch : g->total;
  g->phase = PH_A;
  g->dealers = 0;
  for (size_t k = g->i; k < g->e; k++) {
    uint64_t s0, s1;
    if (isect(g, k, &s0, &s1)) g->dealers |= (uint64_t)1 << mpc_prog_ins(o->prog, k)->a;
  }
  /* A dealer waits for everyone's shares of its randoms; others for
   * nobody (so nobody can fall two rounds behind: see docs/mpc-online.md
   * "Pool alignment" for why the guard does not add messages here). */
  begin_round(s, o, (g->dealers >> me) & 1 ? sess_others(s) : 0);
  for (uint64_t dm = g->dealers; dm; dm &= dm - 1) {
    uint32_t d = lowest(dm);
    size_t c = dealer_elems(o, d, NULL, NULL);
    fe *v = fe_alloc(c);
    if (!v) return CX_E_NOMEM;
    dealer_elems(o, d, g->mine, v);
    size_t len;
    uint8_t *pl = payload_new(s, o, TAG_SHARES, v, c, &len);
    fe_free(v);
    if (!pl) return CX_E_NOMEM;
    cx_err e = CX_OK;
    if (d != me) {
      e = sess_send(s, d, pl, len, out);
    } else {
      /* My own shares, signed and addressed to myself: the n-th message of
       * a round-A wrong-share evidence. Never sent. */
      free(g->sent);
      g->sent = NULL;
      e = mpc_msg_encode(s->cfg.key, s->kind, s->cfg.session, s->round, (uint8_t)me, (uint8_t)me, pl, len,
                         &g->sent, &g->sent_len);
    }
    wipe_free(pl, len);
    if (e != CX_OK) return e;
  }
  return CX_OK;
}

static cx_err input_begin(mpc_session *s, online *o, size_t i, size_t e, mpc_outbox *out) {
  group *g = &o->g;
  memset(g, 0, sizeof *g);
  g->kind = G_INPUT;
  g->i = i;
  g->e = e;
  g->off = calloc(e - i + 1, sizeof *g->off);
  g->x = calloc(e - i, sizeof *g->x);
  if (!g->off || !g->x) return CX_E_NOMEM;
  for (size_t k = i; k < e; k++) {
    const mpc_ins *in = mpc_prog_ins(o->prog, k);
    g->off[k - i + 1] = g->off[k - i] + in->imm;
    if (!(g->x[k - i] = ar_alloc(&o->ar, in->imm))) return CX_E_NOMEM;
  }
  g->total = g->off[e - i];
  if (!(g->mine = fe_alloc(g->total))) return CX_E_NOMEM;
  if (mpc_pool_take_rands(s->pool, g->total, g->mine) != CX_OK) {
    abort_pool(s, "random sharings", g->total);
    return CX_OK;
  }
  return input_send_a(s, o, out);
}

/* Round A at a dealer: open r of its elements robustly. */
static cx_err input_recv_a(mpc_session *s, online *o) {
  group *g = &o->g;
  uint32_t n = s->cfg.n, me = s->cfg.me;
  size_t c = dealer_elems(o, me, NULL, NULL);
  fe *buf = fe_alloc((size_t)n * c);
  g->ropen = fe_alloc(c);
  g->ropen_n = c;
  if (!buf || !g->ropen) {
    fe_free(buf);
    return CX_E_NOMEM;
  }
  fe *mine = buf + (size_t)me * c;
  dealer_elems(o, me, g->mine, mine);
  open_round(s, g, me, c, buf, mine, g->ropen); /* an abort is in the status */
  fe_free(buf);
  return CX_OK;
}

static cx_err input_send_b(mpc_session *s, online *o, mpc_outbox *out) {
  group *g = &o->g;
  uint32_t me = s->cfg.me;
  g->phase = PH_B;
  begin_round(s, o, g->dealers & ~((uint64_t)1 << me));
  g->round_b = s->round;
  if (!((g->dealers >> me) & 1)) return CX_OK;
  size_t c = g->ropen_n;
  fe *d = malloc((c ? c : 1) * sizeof *d);
  if (!d) return CX_E_NOMEM;
  size_t q = 0;
  for (size_t k = g->i; k < g->e; k++) {
    const mpc_ins *in = mpc_prog_ins(o->prog, k);
    uint64_t s0, s1;
    if (in->a != me || !isect(g, k, &s0, &s1)) continue;
    const slotvec *x = my_input(o, in->b);
    for (uint64_t f = s0; f < s1; f++, q++) d[q] = fe_sub(x->v[f - g->off[k - g->i]], g->ropen[q]);
  }
  g->delta[me] = d;
  size_t len;
  uint8_t *pl = payload_new(s, o, TAG_DELTA, d, c, &len);
  if (!pl) return CX_E_NOMEM;
  cx_err e = send_keep(s, MPC_TO_ALL, pl, len, out, &g->bmsg[me], &g->blen[me]);
  free(pl);
  return e;
}

static cx_err input_recv_b(mpc_session *s, online *o) {
  group *g = &o->g;
  for (uint64_t dm = g->dealers & ~((uint64_t)1 << s->cfg.me); dm; dm &= dm - 1) {
    uint32_t d = lowest(dm);
    size_t c = dealer_elems(o, d, NULL, NULL);
    const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, d);
    g->delta[d] = malloc((c ? c : 1) * sizeof(fe));
    g->bmsg[d] = malloc(m->raw_len);
    if (!g->delta[d] || !g->bmsg[d]) return CX_E_NOMEM;
    const char *why = payload_get(m, TAG_DELTA, MPC_TO_ALL, c, g->delta[d]);
    if (why) {
      abort_malformed(s, d, m, why);
      return CX_OK;
    }
    /* Echoed in round C: a relayed message must carry its signature (the
     * others would take an unsigned copy for my lie). */
    if (!mpc_inbox_verify(s->inbox, s->round, d)) {
      sess_abort(s, CX_E_BAD_SIG, -1,
                 "dealer %u's input message, taken on its own link, fails its signature", d);
      return CX_OK;
    }
    memcpy(g->bmsg[d], m->raw, m->raw_len);
    g->blen[d] = m->raw_len;
  }
  return CX_OK;
}

/* Round C payload: for each dealer of the chunk, ascending, u32 length
 * (big-endian) || its round-B message, packed PACK bytes per element. */
static cx_err input_send_c(mpc_session *s, online *o, mpc_outbox *out) {
  group *g = &o->g;
  g->phase = PH_C;
  begin_round(s, o, sess_others(s));
  size_t nb = 0;
  for (uint64_t dm = g->dealers; dm; dm &= dm - 1) nb += 4 + g->blen[lowest(dm)];
  uint8_t *bytes = calloc(nb + PACK, 1);
  if (!bytes) return CX_E_NOMEM;
  size_t p = 0;
  for (uint64_t dm = g->dealers; dm; dm &= dm - 1) {
    uint32_t d = lowest(dm), l = (uint32_t)g->blen[d];
    bytes[p] = (uint8_t)(l >> 24);
    bytes[p + 1] = (uint8_t)(l >> 16);
    bytes[p + 2] = (uint8_t)(l >> 8);
    bytes[p + 3] = (uint8_t)l;
    memcpy(bytes + p + 4, g->bmsg[d], l);
    p += 4 + l;
  }
  size_t ne = (nb + PACK - 1) / PACK;
  fe *v = malloc((ne ? ne : 1) * sizeof *v);
  if (!v) {
    free(bytes);
    return CX_E_NOMEM;
  }
  for (size_t i = 0; i < ne; i++) {
    fe x = 0;
    for (int b = PACK - 1; b >= 0; b--) x = x << 8 | bytes[i * PACK + (size_t)b];
    v[i] = x;
  }
  free(bytes);
  size_t len;
  uint8_t *pl = payload_new(s, o, TAG_ECHO, v, ne, &len);
  free(v);
  if (!pl) return CX_E_NOMEM;
  cx_err e = sess_send(s, MPC_TO_ALL, pl, len, out);
  free(pl);
  return e;
}

/* Unpacks an echo payload to bytes; NULL (with *why) if malformed. */
static uint8_t *echo_unpack(const mpc_msg *m, size_t *nb, const char **why) {
  *why = NULL;
  if (m->to != MPC_TO_ALL) {
    *why = "wrong recipient field";
    return NULL;
  }
  fe t;
  if (m->len % FE_BYTES || m->len < FE_BYTES || fe_decode(m->payload, &t) != 0 || t != TAG_ECHO) {
    *why = "wrong message type";
    return NULL;
  }
  size_t h = hdr_elems(m->round, TAG_ECHO);
  if (m->len < FE_BYTES * h) {
    *why = "wrong length";
    return NULL;
  }
  size_t ne = m->len / FE_BYTES - h;
  uint8_t *bytes = malloc(ne * PACK + 1);
  if (!bytes) {
    *why = "out of memory";
    return NULL;
  }
  for (size_t i = 0; i < ne; i++) {
    fe x;
    if (fe_decode(m->payload + FE_BYTES * (i + h), &x) != 0 || x >> (8 * PACK)) {
      *why = "bad echo packing";
      free(bytes);
      return NULL;
    }
    for (int b = 0; b < PACK; b++) bytes[i * PACK + (size_t)b] = (uint8_t)(x >> (8 * b));
  }
  *nb = ne * PACK;
  return bytes;
}

/* Compares one echoed dealer message with my copy: 0 same (or the same
 * content signed twice), 1 the dealer equivocated, -1 not a valid round-B
 * message of that dealer (the echoer is lying). */
static int echo_compare(const mpc_session *s, const group *g, uint32_t d, const uint8_t *raw, size_t l) {
  if (l == g->blen[d] && memcmp(raw, g->bmsg[d], l) == 0) return 0;
  mpc_msg m;
  if (mpc_msg_decode(raw, l, &m) != CX_OK || m.kind != s->kind ||
      memcmp(m.session, s->cfg.session, 32) != 0 || m.round != g->round_b || m.from != d ||
      !mpc_msg_verify(&m, &s->cfg.pubkeys[d]))
    return -1;
  if (l == g->blen[d] && memcmp(raw, g->bmsg[d], l - 64) == 0) return 0;
  return 1;
}

/* Parses j's echo: 0 consistent; 1 a dealer equivocated (*dealer, *eq the
 * other message); -1 j's echo is malformed. */
static int echo_check(const mpc_session *s, const group *g, const uint8_t *bytes, size_t nb,
                      uint32_t *dealer, const uint8_t **eq, size_t *eql) {
  size_t p = 0;
  for (uint64_t dm = g->dealers; dm; dm &= dm - 1) {
    uint32_t d = lowest(dm);
    if (nb - p < 4) return -1;
    size_t l = (size_t)bytes[p] << 24 | (size_t)bytes[p + 1] << 16 | (size_t)bytes[p + 2] << 8 | bytes[p + 3];
    p += 4;
    if (l > nb - p || l < MPC_MSG_OVERHEAD) return -1;
    int c = echo_compare(s, g, d, bytes + p, l);
    if (c != 0) {
      *dealer = d;
      *eq = bytes + p;
      *eql = l;
      return c;
    }
    p += l;
  }
  if (nb - p >= PACK) return -1;
  for (; p < nb; p++)
    if (bytes[p]) return -1;
  return 0;
}

static cx_err input_recv_c(mpc_session *s, online *o) {
  group *g = &o->g;
  uint32_t n = s->cfg.n, me = s->cfg.me;
  int32_t bad = -1; /* first malformed echoer */
  const mpc_msg *badm = NULL;
  const char *badwhy = NULL;
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) continue;
    const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, j);
    size_t nb = 0;
    const char *why;
    uint8_t *bytes = echo_unpack(m, &nb, &why);
    int c = -1;
    uint32_t d = 0;
    const uint8_t *eq = NULL;
    size_t eql = 0;
    if (bytes) c = echo_check(s, g, bytes, nb, &d, &eq, &eql);
    if (c == 1) {
      /* Two different signed round-B messages of dealer d: proof. */
      const uint8_t *mm[2] = {g->bmsg[d], eq};
      size_t ll[2] = {g->blen[d], eql};
      sess_evidence(s, MPC_EV_EQUIVOCATION, (int32_t)d, 0, mm, ll, 2);
      sess_abort(s, CX_E_MPC_EQUIVOCATION, (int32_t)d,
                 "dealer %u sent different input messages (echoed by party %u)", d, j);
      free(bytes);
      return CX_OK;
    }
    free(bytes);
    if (c == -1 && bad < 0) {
      bad = (int32_t)j;
      badm = m;
      badwhy = why ? why : "the echo is not the dealers' signed input messages";
    }
  }
  if (bad >= 0) abort_malformed(s, (uint32_t)bad, badm, badwhy);
  return CX_OK;
}

/* [x] = [r] + delta for the chunk's elements. */
static void input_apply(online *o) {
  group *g = &o->g;
  size_t q[MPC_MAX_N] = {0};
  for (size_t k = g->i; k < g->e; k++) {
    const mpc_ins *in = mpc_prog_ins(o->prog, k);
    uint64_t s0, s1;
    if (!isect(g, k, &s0, &s1)) continue;
    for (uint64_t f = s0; f < s1; f++)
      g->x[k - g->i][f - g->off[k - g->i]] = fe_add(g->mine[f], g->delta[in->a][q[in->a]++]);
  }
}

static void input_chunk_clear(group *g) {
  fe_free(g->ropen);
  g->ropen = NULL;
  g->ropen_n = 0;
  free(g->sent);
  g->sent = NULL;
  for (uint32_t j = 0; j < MPC_MAX_N; j++) {
    free(g->bmsg[j]);
    free(g->delta[j]);
    g->bmsg[j] = NULL;
    g->delta[j] = NULL;
    g->blen[j] = 0;
  }
}

static cx_err input_advance(mpc_session *s, online *o, mpc_outbox *out) {
  group *g = &o->g;
  uint32_t me = s->cfg.me;
  cx_err e = CX_OK;
  switch (g->phase) {
  case PH_A:
    if ((g->dealers >> me) & 1) e = input_recv_a(s, o);
    if (e != CX_OK || s->st.state != MPC_RUNNING) return e;
    return input_send_b(s, o, out);
  case PH_B:
    e = input_recv_b(s, o);
    if (e != CX_OK || s->st.state != MPC_RUNNING) return e;
    return input_send_c(s, o, out);
  default:
    e = input_recv_c(s, o);
    if (e != CX_OK || s->st.state != MPC_RUNNING) return e;
    input_apply(o);
    input_chunk_clear(g);
    g->lo = g->hi;
    if (g->lo < g->total) return input_send_a(s, o, out);
    for (size_t k = g->i; k < g->e; k++) {
      const mpc_ins *in = mpc_prog_ins(o->prog, k);
      set_s(o, in->d, g->x[k - g->i], in->imm);
      g->x[k - g->i] = NULL;
      kill_after(o, k);
    }
    o->pc = g->e;
    group_free(o);
    return run(s, o, out);
  }
}

/* ---- client inputs ----------------------------------------------------- */

/* Client-dealt inputs (mpc/client.h; docs/mpc-client.md, docs/mpc-online.md
 * "Client inputs"). Every party opened its blob before start, so the
 * shares need no communication; what must be settled before any of them
 * is used is that the client dealt consistent shares. Round 0 (which
 * carries the pool guard, as every round-0 message does) is the check:
 * per slot, in program order, (0, y) with y = mpc_client_combine of my
 * shares, or (1, 0) when my blob did not open (a complaint), and the
 * digest of the slot's public data (context, count, commitments), so that
 * every signed y names the dealing it is about. mpc_client_blame then
 * decides, from public data only: consistent (the program runs, from round
 * 1), or the parties off the decoded polynomial reveal (round 1), after
 * which the client is rejected or a member is named; either way the
 * session ends there.
 *
 * Parties that received different check messages from an equivocating
 * party may disagree on whether round 1 is a reveal round. A party never
 * names another for that: a program message where it expected a reveal,
 * or a reveal where it expected a program message, aborts with
 * CX_E_MPC_TRANSCRIPT naming nobody (the other party may be honest and
 * have seen other check values). */

static cslot *client_slot(online *o, uint32_t slot) {
  for (size_t k = 0; k < o->ncs; k++)
    if (o->cs[k].slot == slot) return &o->cs[k];
  return NULL;
}

static const cx_hash *cs_commit(const cslot *c) { return (const cx_hash *)(c->aux + 40); }

static cx_err ck_send_check(mpc_session *s, online *o, mpc_outbox *out) {
  uint32_t me = s->cfg.me;
  o->ck = CK_CHECK;
  begin_round(s, o, sess_others(s));
  fe *v = calloc(MPC_CK_ENTRY * o->ncs, sizeof *v);
  if (!v) return CX_E_NOMEM;
  for (size_t k = 0; k < o->ncs; k++) {
    cslot *c = &o->cs[k];
    fe *ent = v + MPC_CK_ENTRY * k;
    if (c->sh) {
      fe *rho = malloc(c->count * sizeof *rho);
      if (!rho) {
        free(v);
        return CX_E_NOMEM;
      }
      mpc_client_challenge(c->aux, s->cfg.n, cs_commit(c), c->count, rho);
      c->y[me] = mpc_client_combine(rho, c->sh, c->count);
      free(rho);
      ent[0] = 0;
      ent[1] = c->y[me];
    } else {
      ent[0] = 1;
      ent[1] = 0;
    }
    uint8_t dig[32];
    mpc_client_aux_digest(c->aux, c->aux_len, dig);
    mpc_pack(dig, 32, ent + 2);
  }
  size_t len;
  uint8_t *pl = payload_new(s, o, MPC_TAG_CLIENT, v, MPC_CK_ENTRY * o->ncs, &len);
  free(v);
  if (!pl) return CX_E_NOMEM;
  cx_err e = send_keep(s, MPC_TO_ALL, pl, len, out, &o->ck_sent, &o->ck_sent_len);
  free(pl);
  return e;
}

/* Round 1: per slot 0, or count + 1 || salt (packed) || my count + 1
 * shares where I am one of those who must reveal. */
static cx_err ck_send_reveal(mpc_session *s, online *o, uint64_t E, mpc_outbox *out) {
  uint32_t me = s->cfg.me;
  o->ck = CK_REVEAL;
  begin_round(s, o, E & ~((uint64_t)1 << me));
  if (!((E >> me) & 1)) return CX_OK;
  size_t ne = 0;
  for (size_t k = 0; k < o->ncs; k++)
    ne += (o->cs[k].reveal >> me) & 1 ? 1 + MPC_CK_PACKED + o->cs[k].count + 1 : 1;
  fe *v = fe_alloc(ne);
  if (!v) return CX_E_NOMEM;
  size_t p = 0;
  for (size_t k = 0; k < o->ncs; k++) {
    const cslot *c = &o->cs[k];
    if (!((c->reveal >> me) & 1) || !c->sh) { /* (a complaint never gets here) */
      v[p++] = 0;
      continue;
    }
    v[p++] = (fe)(c->count + 1);
    mpc_pack(c->salt, MPC_CLIENT_SALT, v + p);
    p += MPC_CK_PACKED;
    memcpy(v + p, c->sh, (c->count + 1) * sizeof *v);
    p += c->count + 1;
  }
  size_t len;
  uint8_t *pl = payload_new(s, o, MPC_TAG_CLIENT, v, ne, &len);
  fe_free(v);
  if (!pl) return CX_E_NOMEM;
  cx_err e = send_keep(s, MPC_TO_ALL, pl, len, out, &o->rv_sent, &o->rv_sent_len);
  wipe_free(pl, len);
  return e;
}

/* The tag of j's message of this round; 0 if there is none. */
static fe msg_tag(const mpc_msg *m) {
  fe t = 0;
  if (!m || m->len < FE_BYTES || fe_decode(m->payload, &t) != 0) return 0;
  return t;
}

static void abort_views(mpc_session *s, uint32_t j, const char *what) {
  sess_abort(s, CX_E_MPC_TRANSCRIPT, -1,
             "party %u sent %s: the parties saw different client-check messages", j, what);
}

static cx_err ck_recv_check(mpc_session *s, online *o, mpc_outbox *out) {
  uint32_t n = s->cfg.n, me = s->cfg.me;
  size_t cnt = MPC_CK_ENTRY * o->ncs;
  fe *buf = malloc(cnt * sizeof *buf);
  fe (*dig)[MPC_CK_PACKED] = malloc(o->ncs * sizeof *dig);
  if (!buf || !dig) {
    free(buf);
    free(dig);
    return CX_E_NOMEM;
  }
  for (size_t k = 0; k < o->ncs; k++) {
    uint8_t d[32];
    mpc_client_aux_digest(o->cs[k].aux, o->cs[k].aux_len, d);
    mpc_pack(d, 32, dig[k]);
  }
  int32_t other = -1, complainer = -1;
  size_t other_k = 0, complaint_k = SIZE_MAX;
  uint32_t ncomplain = 0; /* parties that complained about some slot */
  for (size_t k = 0; k < o->ncs; k++)
    if (!o->cs[k].sh) {
      complaint_k = k;
      complainer = (int32_t)me;
      ncomplain = 1;
      break;
    }
  for (uint32_t j = 0; j < n && s->st.state == MPC_RUNNING; j++) {
    if (j == me) continue;
    const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, j);
    const char *why = payload_get(m, MPC_TAG_CLIENT, MPC_TO_ALL, cnt, buf);
    for (size_t k = 0; k < o->ncs && !why; k++) {
      const fe *ent = buf + MPC_CK_ENTRY * k;
      if (ent[0] > 1 || (ent[0] == 1 && ent[1] != 0)) why = "bad complaint flag";
    }
    if (why) {
      abort_malformed(s, j, m, why);
      break;
    }
    int complained = 0;
    for (size_t k = 0; k < o->ncs; k++) {
      const fe *ent = buf + MPC_CK_ENTRY * k;
      o->cs[k].y[j] = ent[1];
      if (memcmp(ent + 2, dig[k], sizeof dig[k]) != 0 && other < 0) {
        other = (int32_t)j;
        other_k = k;
      }
      if (ent[0] == 1) {
        complained = 1;
        if (k < complaint_k || (k == complaint_k && complainer < 0)) {
          complaint_k = k;
          complainer = (int32_t)j;
        }
      }
    }
    ncomplain += (uint32_t)complained;
  }
  free(buf);
  free(dig);
  if (s->st.state != MPC_RUNNING) return CX_OK;
  if (other >= 0) {
    sess_abort(s, CX_E_MPC_TRANSCRIPT, -1,
               "party %u checked another dealing for client slot %u (context or commitments differ)",
               (uint32_t)other, o->cs[other_k].slot);
    return CX_OK;
  }
  if (complainer >= 0) {
    /* Not transferable (docs/mpc-client.md "Complaints"): nobody named. */
    sess_abort(s, CX_E_MPC_CLIENT_REJECTED, -1,
               "client input slot %u rejected: party %u could not open its blob (%u part%s complained)",
               o->cs[complaint_k].slot, (uint32_t)complainer, ncomplain, ncomplain == 1 ? "y" : "ies");
    return CX_OK;
  }
  uint64_t E = 0, all = sess_others(s) | (uint64_t)1 << me;
  for (size_t k = 0; k < o->ncs; k++) {
    cslot *c = &o->cs[k];
    mpc_client_result res;
    cx_err e = mpc_client_blame(n, s->cfg.t, c->aux, cs_commit(c), c->count, c->y, all, NULL, &res);
    if (e != CX_OK) return e;
    if (res.verdict == MPC_CLIENT_OK) continue;
    if (res.verdict != MPC_CLIENT_REVEAL) {
      sess_abort(s, CX_E_INTERNAL, -1, "client slot %u: unexpected check verdict %d", c->slot, (int)res.verdict);
      return CX_OK;
    }
    c->reveal = res.reveal;
    E |= res.reveal;
  }
  if (E) return ck_send_reveal(s, o, E, out);
  o->ck = CK_NONE;
  return run(s, o, out);
}

/* j's reveal: entries per slot (0, or count + 1 || salt || shares), all of
 * it; rv[k] gets j's reveal of slot k where it has one (shares point into
 * buf). NULL if good, else what is wrong (*views: the layout is fine but j
 * revealed other slots than this party expects). */
static const char *ck_parse_reveal(const online *o, const mpc_msg *m, uint32_t j, fe *buf,
                                   mpc_client_reveal *rv, int *views) {
  *views = 0;
  if (m->to != MPC_TO_ALL) return "wrong recipient field";
  if (m->len % FE_BYTES || m->len < FE_BYTES) return "not a whole number of field elements";
  size_t ne = m->len / FE_BYTES - 1;
  if (ne && fe_decode_vec(m->payload + FE_BYTES, ne, buf) != 0) return "non-canonical field element";
  size_t p = 0;
  for (size_t k = 0; k < o->ncs; k++) {
    const cslot *c = &o->cs[k];
    if (p >= ne) return "wrong length";
    fe f = buf[p++];
    if (f != 0 && f != (fe)(c->count + 1)) return "bad reveal entry";
    if ((f != 0) != (int)((c->reveal >> j) & 1)) *views = 1;
    if (!f) continue;
    if (ne - p < MPC_CK_PACKED + c->count + 1) return "wrong length";
    if (mpc_unpack(buf + p, MPC_CLIENT_SALT, rv[k].salt)) return "bad salt packing";
    rv[k].shares = buf + p + MPC_CK_PACKED;
    p += MPC_CK_PACKED + c->count + 1;
  }
  if (p != ne) return "wrong length";
  return NULL;
}

static void ck_blame_member(mpc_session *s, online *o, size_t k, const mpc_client_result *res) {
  uint32_t n = s->cfg.n, me = s->cfg.me, c = (uint32_t)res->culprit;
  const uint8_t *msgs[MPC_MAX_N + 1];
  size_t lens[MPC_MAX_N + 1];
  for (uint32_t j = 0; j < n; j++) {
    const mpc_msg *m = j == me ? NULL : mpc_inbox_get(s->inbox, 0, j);
    msgs[j] = m ? m->raw : o->ck_sent;
    lens[j] = m ? m->raw_len : o->ck_sent_len;
  }
  const mpc_msg *r = c == me ? NULL : mpc_inbox_get(s->inbox, 1, c);
  msgs[n] = r ? r->raw : o->rv_sent;
  lens[n] = r ? r->raw_len : o->rv_sent_len;
  sess_evidence(s, MPC_EV_CLIENT, (int32_t)c, k, msgs, lens, (size_t)n + 1);
  sess_evidence_aux(s, o->cs[k].aux, o->cs[k].aux_len);
  sess_abort(s, CX_E_MPC_CHECK_FAILED, (int32_t)c, "client input slot %u: %s", o->cs[k].slot, res->reason);
}

static cx_err ck_recv_reveal(mpc_session *s, online *o) {
  uint32_t n = s->cfg.n, me = s->cfg.me;
  mpc_client_reveal *rv = calloc((size_t)n * o->ncs, sizeof *rv); /* [j * ncs + k] */
  fe *bufs[MPC_MAX_N] = {0};
  size_t blen[MPC_MAX_N] = {0};
  cx_err err = CX_OK;
  if (!rv) return CX_E_NOMEM;
  /* Mine first (the shares I revealed), then the others'. */
  for (size_t k = 0; k < o->ncs; k++)
    if ((o->cs[k].reveal >> me) & 1 && o->cs[k].sh) {
      memcpy(rv[(size_t)me * o->ncs + k].salt, o->cs[k].salt, MPC_CLIENT_SALT);
      rv[(size_t)me * o->ncs + k].shares = o->cs[k].sh;
    }
  for (uint64_t em = s->expect; em && s->st.state == MPC_RUNNING; em &= em - 1) {
    uint32_t j = lowest(em);
    const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, j);
    if (msg_tag(m) != MPC_TAG_CLIENT) {
      abort_views(s, j, "no reveal");
      break;
    }
    blen[j] = m->len / FE_BYTES;
    if (!(bufs[j] = malloc(blen[j] * sizeof(fe)))) {
      err = CX_E_NOMEM;
      break;
    }
    int views = 0;
    const char *why = ck_parse_reveal(o, m, j, bufs[j], rv + (size_t)j * o->ncs, &views);
    if (why)
      abort_malformed(s, j, m, why);
    else if (views)
      abort_views(s, j, "a reveal of other client slots");
  }
  /* A member proven to lie first (the evidence is transferable), then a
   * client proven to cheat. */
  size_t bad_client = SIZE_MAX;
  uint64_t all = sess_others(s) | (uint64_t)1 << me;
  for (size_t k = 0; k < o->ncs && err == CX_OK && s->st.state == MPC_RUNNING; k++) {
    cslot *c = &o->cs[k];
    if (!c->reveal) continue;
    const mpc_client_reveal *r[MPC_MAX_N] = {0};
    for (uint32_t j = 0; j < n; j++)
      if ((c->reveal >> j) & 1) r[j] = &rv[(size_t)j * o->ncs + k];
    mpc_client_result res;
    err = mpc_client_blame(n, s->cfg.t, c->aux, cs_commit(c), c->count, c->y, all, r, &res);
    if (err != CX_OK) break;
    if (res.verdict == MPC_CLIENT_BAD_MEMBER) {
      ck_blame_member(s, o, k, &res);
    } else if (res.verdict == MPC_CLIENT_BAD_CLIENT) {
      if (bad_client == SIZE_MAX) bad_client = k;
    } else {
      sess_abort(s, CX_E_INTERNAL, -1, "client slot %u: unexpected verdict %d after the reveals", c->slot,
                 (int)res.verdict);
    }
  }
  if (err == CX_OK && s->st.state == MPC_RUNNING && bad_client != SIZE_MAX)
    sess_abort(s, CX_E_MPC_CLIENT_REJECTED, -1,
               "client input slot %u rejected: the client dealt inconsistent shares", o->cs[bad_client].slot);
  if (err == CX_OK && s->st.state == MPC_RUNNING)
    sess_abort(s, CX_E_INTERNAL, -1, "the client check found an inconsistency but no verdict");
  for (uint32_t j = 0; j < n; j++) free(bufs[j]);
  free(rv);
  return err;
}

/* Program round 1 after an accepted check: a reveal from a party that
 * expected one means the views differ (see above). 1 if aborted. */
static int ck_stray_reveal(mpc_session *s) {
  for (uint64_t em = s->expect; em; em &= em - 1) {
    uint32_t j = lowest(em);
    if (msg_tag(mpc_inbox_get(s->inbox, s->round, j)) == MPC_TAG_CLIENT) {
      abort_views(s, j, "a client-check reveal where this party accepted the check");
      return 1;
    }
  }
  return 0;
}

/* INPUT_CLIENT: my checked shares of the values (the mask share is wiped:
 * it only ever masks the check). */
static cx_err exec_input_client(mpc_session *s, online *o, const mpc_ins *in) {
  cslot *c = client_slot(o, in->b);
  if (!c || !c->sh) {
    sess_abort(s, CX_E_INTERNAL, -1, "client slot %u has no shares", in->b);
    return CX_OK;
  }
  fe *z = ar_alloc(&o->ar, c->count);
  if (!z) return CX_E_NOMEM;
  memcpy(z, c->sh, c->count * sizeof *z);
  fe_free(c->sh);
  c->sh = NULL;
  set_s(o, in->d, z, c->count);
  return CX_OK;
}

/* ---- local instructions ------------------------------------------------ */

/* S[d] = f(S[a], S[b] or P[b] or c), elementwise with length-1 repetition. */
static cx_err exec_lin(mpc_session *s, online *o, const mpc_ins *in) {
  const vec *x = &o->S[in->a];
  const vec *y = NULL;
  if (in->op == MPC_OP_ADD || in->op == MPC_OP_SUB) y = &o->S[in->b];
  if (in->op == MPC_OP_ADDP || in->op == MPC_OP_SUBP || in->op == MPC_OP_RSUBP || in->op == MPC_OP_MULP)
    y = &o->P[in->b];
  size_t L = y ? bin_len(x->len, y->len) : x->len;
  fe *z = ar_alloc(&o->ar, L);
  if (!z) return CX_E_NOMEM;
  for (size_t q = 0; q < L; q++) {
    fe a = at(x, q), b = y ? at(y, q) : in->c;
    switch (in->op) {
    case MPC_OP_ADD: case MPC_OP_ADDP: case MPC_OP_ADDC: z[q] = fe_add(a, b); break;
    case MPC_OP_SUB: case MPC_OP_SUBP: z[q] = fe_sub(a, b); break;
    case MPC_OP_RSUBP: z[q] = fe_sub(b, a); break;
    default: z[q] = fe_mul(a, b); break; /* MULP MULC */
    }
  }
  set_s(o, in->d, z, L);
  return CX_OK;
}

/* 1/sqrt(x) for every element (Montgomery's batch inversion); a zero or a
 * non-square aborts: every party sees the same public vector. */
static cx_err exec_psqrtinv(mpc_session *s, online *o, const mpc_ins *in) {
  const vec *x = &o->P[in->a];
  size_t L = x->len;
  fe *r = malloc(L * sizeof *r), *tmp = malloc(L * sizeof *tmp);
  if (!r || !tmp) {
    free(r);
    free(tmp);
    return CX_E_NOMEM;
  }
  size_t bad = fe_sqrt_vec(x->v, r, L);
  for (size_t q = 0; q < L && bad == L; q++)
    if (x->v[q] == 0) bad = q;
  if (bad < L) {
    sess_abort(s, CX_E_MPC_CHECK_FAILED, -1, "PSQRTINV at instruction %zu: element %zu is %s", o->pc, bad,
               x->v[bad] == 0 ? "zero" : "not a square");
    free(r);
    free(tmp);
    return CX_OK;
  }
  fe_batch_inv(r, L, tmp);
  free(tmp);
  set_p(o, in->d, r, L);
  return CX_OK;
}

static cx_err exec_public(mpc_session *s, online *o, const mpc_ins *in) {
  const vec *x = &o->P[in->a];
  const vec *y = &o->P[in->b];
  size_t L = x->len;
  if (in->op == MPC_OP_PADD || in->op == MPC_OP_PSUB || in->op == MPC_OP_PMUL) L = bin_len(x->len, y->len);
  if (in->op == MPC_OP_PCONST) L = in->imm;
  if (in->op == MPC_OP_PSLICE) L = in->imm;
  if (in->op == MPC_OP_PCAT) L = x->len + y->len;
  fe *z = malloc(L * sizeof *z);
  if (!z) return CX_E_NOMEM;
  switch (in->op) {
  case MPC_OP_PCONST:
    for (size_t q = 0; q < L; q++) z[q] = in->c;
    break;
  case MPC_OP_PSLICE: memcpy(z, x->v + in->b, L * sizeof *z); break;
  case MPC_OP_PCAT:
    memcpy(z, x->v, x->len * sizeof *z);
    memcpy(z + x->len, y->v, y->len * sizeof *z);
    break;
  default:
    for (size_t q = 0; q < L; q++) {
      fe a = at(x, q);
      switch (in->op) {
      case MPC_OP_PADD: z[q] = fe_add(a, at(y, q)); break;
      case MPC_OP_PSUB: z[q] = fe_sub(a, at(y, q)); break;
      case MPC_OP_PMUL: z[q] = fe_mul(a, at(y, q)); break;
      case MPC_OP_PBIT: z[q] = (a >> in->imm) & 1; break;
      default: /* PMOD2K */ z[q] = in->imm >= MPC_FIELD_BITS ? a : a & ((((fe)1) << in->imm) - 1); break;
      }
    }
  }
  set_p(o, in->d, z, L);
  return CX_OK;
}

static cx_err exec_shape(online *o, const mpc_ins *in) {
  const vec *x = &o->S[in->a];
  size_t L;
  switch (in->op) {
  case MPC_OP_SLICE: case MPC_OP_BCAST: L = in->imm; break;
  case MPC_OP_CAT: L = x->len + o->S[in->b].len; break;
  case MPC_OP_SUM: L = 1; break;
  default: L = x->len; break; /* MOV */
  }
  fe *z = ar_alloc(&o->ar, L);
  if (!z) return CX_E_NOMEM;
  switch (in->op) {
  case MPC_OP_SLICE: memcpy(z, x->v + in->b, L * sizeof *z); break;
  case MPC_OP_BCAST:
    for (size_t q = 0; q < L; q++) z[q] = x->v[0];
    break;
  case MPC_OP_CAT:
    memcpy(z, x->v, x->len * sizeof *z);
    memcpy(z + x->len, o->S[in->b].v, o->S[in->b].len * sizeof *z);
    break;
  case MPC_OP_SUM:
    for (size_t q = 0; q < x->len; q++) z[0] = fe_add(z[0], x->v[q]);
    break;
  default: memcpy(z, x->v, L * sizeof *z); break;
  }
  set_s(o, in->d, z, L);
  return CX_OK;
}

/* RANDINT with dealers (no pool ints): each integer from MPC_KAPPA pool
 * bits, sum_i 2^i b_i, uniform on [0, 2^MPC_KAPPA) (mpc.h "ints"). The
 * bits are taken in order, element by element. */
static cx_err ints_from_bits(mpc_session *s, online *o, size_t L, fe *z) {
  if (L > SIZE_MAX / MPC_KAPPA) return CX_E_NOMEM;
  fe *bits = ar_alloc(&o->ar, L * MPC_KAPPA);
  if (!bits) return CX_E_NOMEM;
  cx_err e = mpc_pool_take_bits(s->pool, L * MPC_KAPPA, bits);
  if (e == CX_OK)
    for (size_t q = 0; q < L; q++) {
      fe acc = 0;
      for (uint32_t i = MPC_KAPPA; i-- > 0;) acc = fe_add(fe_add(acc, acc), bits[q * MPC_KAPPA + i]);
      z[q] = acc;
    }
  ar_free(&o->ar, bits, L * MPC_KAPPA); /* wipes */
  return e;
}

static cx_err exec_source(mpc_session *s, online *o, const mpc_ins *in) {
  size_t L = in->imm, need = L;
  fe *z = ar_alloc(&o->ar, L);
  if (!z) return CX_E_NOMEM;
  cx_err e;
  const char *what;
  if (in->op == MPC_OP_RAND) {
    e = mpc_pool_take_rands(s->pool, L, z);
    what = "random sharings";
  } else if (in->op == MPC_OP_RANDBIT) {
    e = mpc_pool_take_bits(s->pool, L, z);
    what = "random bits";
  } else if (mpc_prep_prss(s->cfg.n, s->cfg.t)) {
    e = mpc_pool_take_ints(s->pool, L, z);
    what = "random integers";
  } else {
    e = ints_from_bits(s, o, L, z);
    what = "random bits (for random integers)";
    need = L * MPC_KAPPA;
  }
  if (e != CX_OK) {
    ar_free(&o->ar, z, L);
    if (e == CX_E_NOMEM) return e;
    abort_pool(s, what, need);
    return CX_OK;
  }
  set_s(o, in->d, z, L);
  return CX_OK;
}

static cx_err exec_local(mpc_session *s, online *o, const mpc_ins *in) {
  switch (in->op) {
  case MPC_OP_RAND:
  case MPC_OP_RANDBIT:
  case MPC_OP_RANDINT: return exec_source(s, o, in);
  case MPC_OP_INPUT_CLIENT: return exec_input_client(s, o, in);
  case MPC_OP_ADD: case MPC_OP_SUB: case MPC_OP_ADDP: case MPC_OP_SUBP: case MPC_OP_RSUBP:
  case MPC_OP_MULP: case MPC_OP_ADDC: case MPC_OP_MULC: return exec_lin(s, o, in);
  case MPC_OP_PSQRTINV: return exec_psqrtinv(s, o, in);
  case MPC_OP_PCONST: case MPC_OP_PADD: case MPC_OP_PSUB: case MPC_OP_PMUL: case MPC_OP_PBIT:
  case MPC_OP_PMOD2K: case MPC_OP_PSLICE: case MPC_OP_PCAT: return exec_public(s, o, in);
  case MPC_OP_MOV: case MPC_OP_SLICE: case MPC_OP_CAT: case MPC_OP_SUM: case MPC_OP_BCAST:
    return exec_shape(o, in);
  case MPC_OP_OUTPUT: {
    /* The value at this point of the program, opened at the end. */
    const vec *x = &o->S[in->a];
    outrec *r = realloc(o->outs, (o->nouts + 1) * sizeof *r);
    if (!r) return CX_E_NOMEM;
    o->outs = r;
    o->outs[o->nouts++] = (outrec){.slot = (uint32_t)in->imm, .off = o->olen, .len = x->len};
    return sec_append(&o->osh, &o->olen, &o->ocap, x->v, x->len) ? CX_E_NOMEM : CX_OK;
  }
  case MPC_OP_OUTPUT_SHARE: {
    /* This party's shares at this point of the program; nothing is sent.
     * They leave the session only through mpc_session_output_share, once
     * it is done, so a reader never gets shares of a value derived from
     * inputs whose checks have not passed. */
    const vec *x = &o->S[in->a];
    outrec *r = realloc(o->shrecs, (o->nshrecs + 1) * sizeof *r);
    if (!r) return CX_E_NOMEM;
    o->shrecs = r;
    o->shrecs[o->nshrecs++] = (outrec){.slot = (uint32_t)in->imm, .off = o->sslen, .len = x->len};
    return sec_append(&o->ssh, &o->sslen, &o->sscap, x->v, x->len) ? CX_E_NOMEM : CX_OK;
  }
  case MPC_OP_POOLBITS: {
    const vec *x = &o->S[in->a];
    return sec_append(&o->bits, &o->nbits, &o->bcap, x->v, x->len) ? CX_E_NOMEM : CX_OK;
  }
  default: return CX_E_INTERNAL; /* the check refuses every other op */
  }
}

/* ---- driving the program ----------------------------------------------- */

static void wipe_registers(online *o) {
  for (uint32_t r = 0; r < o->ns; r++) set_s(o, r, NULL, 0);
  for (uint32_t r = 0; r < o->np; r++) set_p(o, r, NULL, 0);
}

/* Everything has been checked and opened: the bits go to the pool. */
static cx_err finish_done(mpc_session *s, online *o) {
  if (o->g.kind == G_OUTPUT) {
    o->ovals = o->g.vals;
    o->g.vals = NULL;
  }
  group_free(o);
  if (o->nbits) {
    cx_err e = mpc_pool_put_bits(s->pool, o->bits, o->nbits);
    if (e != CX_OK) {
      sess_abort(s, e, -1, "the made bits do not fit in the pool: %s", cx_err_str(e));
      return CX_OK;
    }
  }
  fe_free(o->bits);
  o->bits = NULL;
  o->nbits = o->bcap = 0;
  fe_free(o->osh);
  o->osh = NULL;
  o->olen = o->ocap = 0;
  wipe_registers(o);
  hash_ctx_final(&o->th, &o->transcript);
  if (!o->used_round) s->expect = 0; /* no message round was run */
  sess_done(s);
  return CX_OK;
}

static cx_err output_begin(mpc_session *s, online *o, mpc_outbox *out) {
  group *g = &o->g;
  memset(g, 0, sizeof *g);
  g->kind = G_OUTPUT;
  g->total = o->olen;
  g->mine = o->osh;
  g->vals = malloc(g->total * sizeof(fe));
  if (!g->vals) return CX_E_NOMEM;
  return open_send(s, o, out);
}

static cx_err run(mpc_session *s, online *o, mpc_outbox *out) {
  size_t n = mpc_prog_len(o->prog);
  while (o->pc < n && s->st.state == MPC_RUNNING) {
    const mpc_ins *in = mpc_prog_ins(o->prog, o->pc);
    if (in->op == MPC_OP_INPUT) return input_begin(s, o, o->pc, prog_run_end(o->prog, o->pc), out);
    if (in->op == MPC_OP_MUL || in->op == MPC_OP_OPEN)
      return open_begin(s, o, o->pc, prog_run_end(o->prog, o->pc), out);
    cx_err e = exec_local(s, o, in);
    if (e != CX_OK) return e;
    if (s->st.state != MPC_RUNNING) break;
    kill_after(o, o->pc);
    o->pc++;
  }
  if (s->st.state != MPC_RUNNING) return CX_OK;
  if (o->olen) return output_begin(s, o, out);
  return finish_done(s, o);
}

/* ---- the protocol callbacks -------------------------------------------- */

static cx_err on_start(mpc_session *s, mpc_outbox *out) {
  online *o = s->impl;
  size_t n = mpc_prog_len(o->prog);
  for (size_t k = 0; k < n; k++) {
    const mpc_ins *in = mpc_prog_ins(o->prog, k);
    if (in->op != MPC_OP_INPUT || in->a != s->cfg.me) continue;
    const slotvec *x = my_input(o, in->b);
    if (!x || x->len != in->imm) return CX_E_INVALID_ARG; /* nothing has been sent */
  }
  for (size_t k = 0; k < o->ncs; k++)
    if (!o->cs[k].given) return CX_E_INVALID_ARG; /* a client slot not given: nothing sent */
  guard_make(s, o); /* before anything is taken */
  if (o->ncs) return ck_send_check(s, o, out);
  return run(s, o, out);
}

static cx_err on_advance(mpc_session *s, mpc_outbox *out) {
  online *o = s->impl;
  if (o->ck == CK_CHECK) {
    if (guard_check(s, o, MPC_TAG_CLIENT) != 0) return CX_OK;
    return ck_recv_check(s, o, out);
  }
  if (o->ck == CK_REVEAL) return ck_recv_reveal(s, o);
  if (o->ncs && s->round == 1 && ck_stray_reveal(s)) return CX_OK;
  int echo = o->g.kind == G_INPUT && o->g.phase == PH_C;
  if (has_guard(s->round, echo ? TAG_ECHO : TAG_SHARES) && guard_check(s, o, echo ? TAG_ECHO : TAG_SHARES) != 0)
    return CX_OK;
  switch (o->g.kind) {
  case G_OPEN:
  case G_OUTPUT: return open_recv(s, o, out);
  case G_INPUT: return input_advance(s, o, out);
  default: return CX_E_INTERNAL;
  }
}

static void on_destroy(mpc_session *s) {
  online *o = s->impl;
  if (!o) return;
  group_free(o);
  if (o->S) wipe_registers(o);
  free(o->S);
  free(o->P);
  for (size_t k = 0; k < o->nin; k++) ar_free(&o->ar, o->in[k].v, o->in[k].len);
  free(o->in);
  ar_destroy(&o->ar);
  free(o->kstart);
  free(o->kill);
  fe_free(o->osh);
  free(o->outs);
  free(o->ovals);
  fe_free(o->ssh);
  free(o->shrecs);
  fe_free(o->bits);
  mpc_prog_free(o->owned);
  for (size_t k = 0; k < o->ncs; k++) {
    fe_free(o->cs[k].sh);
    free(o->cs[k].aux);
  }
  if (o->cs) sodium_memzero(o->cs, o->ncs * sizeof *o->cs);
  free(o->cs);
  free(o->ck_sent);
  free(o->rv_sent);
  sodium_memzero(o, sizeof *o);
  free(o);
  s->impl = NULL;
}

const mpc_proto mpc_online_proto = {
    .name = "online",
    .start = on_start,
    .advance = on_advance,
    .destroy = on_destroy,
};

/* ---- public API -------------------------------------------------------- */

cx_err mpc_session_online(const mpc_session_config *cfg, const mpc_program *prog, mpc_pool *pool,
                          mpc_session **out) {
  *out = NULL;
  if (!cfg || !prog || !pool || !cfg->key) return CX_E_INVALID_ARG; /* online runs are always signed */
  char err[160];
  if (mpc_prog_check(prog, cfg->n, err, sizeof err) != CX_OK) return CX_E_MPC_PROGRAM;
  mpc_session *s;
  cx_err e = sess_new(cfg, MPC_KIND_ONLINE, &s);
  if (e != CX_OK) return e;
  online *o = calloc(1, sizeof *o);
  if (!o) {
    mpc_session_free(s);
    return CX_E_NOMEM;
  }
  s->impl = o;
  s->proto = &mpc_online_proto;
  s->pool = pool;
  o->prog = prog;
  hash_ctx_init(&o->th, CX_TAG_MPC_OPENED);
  hash_ctx_update(&o->th, cfg->session, sizeof cfg->session);
  prog_nregs(prog, &o->ns, &o->np);
  o->S = calloc(o->ns + 1, sizeof *o->S);
  o->P = calloc(o->np + 1, sizeof *o->P);
  mpc_prog_cost c;
  mpc_prog_cost_get(prog, &c);
  mpc_prog_cost_at(cfg->n, cfg->t, &c);
  o->need[0] = c.triples;
  o->need[1] = c.rands;
  o->need[2] = c.bits;
  o->need[3] = c.ints;
  if (!o->S || !o->P || prog_kills(prog, &o->kstart, &o->kill) != CX_OK) {
    mpc_session_free(s);
    return CX_E_NOMEM;
  }
  for (size_t k = 0; k < mpc_prog_len(prog); k++)
    if (mpc_prog_ins(prog, k)->op == MPC_OP_INPUT_CLIENT) o->ncs++;
  if (o->ncs && !(o->cs = calloc(o->ncs, sizeof *o->cs))) {
    mpc_session_free(s);
    return CX_E_NOMEM;
  }
  for (size_t k = 0, q = 0; k < mpc_prog_len(prog); k++) {
    const mpc_ins *in = mpc_prog_ins(prog, k);
    if (in->op == MPC_OP_INPUT_CLIENT) o->cs[q++] = (cslot){.slot = in->b, .count = in->imm};
  }
  *out = s;
  return CX_OK;
}

/* The bit program (the random-bit protocol of Damgård–Fitzi–Kiltz–Nielsen–
 * Toft, TCC 2006, over Shamir shares): r random, r^2 opened,
 * b = (r / sqrt(r^2) + 1) / 2. r / sqrt(r^2) is +-1 with the sign uniform
 * and hidden, so b is a uniform bit; r = 0 (probability 1/p per element)
 * aborts at PSQRTINV. */
static mpc_program *bits_program(size_t bits) {
  mpc_program *p = mpc_prog_new();
  if (!p) return NULL;
  uint32_t r = mpc_rand(p, bits);
  uint32_t q = mpc_mul(p, r, r);
  uint32_t Q = mpc_open(p, q);
  uint32_t si = mpc_preg(p);
  mpc_ins in = {.op = MPC_OP_PSQRTINV, .d = si, .a = Q};
  mpc_prog_emit(p, &in);
  uint32_t b = mpc_sreg(p);
  in = (mpc_ins){.op = MPC_OP_MULP, .d = b, .a = r, .b = si};
  mpc_prog_emit(p, &in);
  b = mpc_addc(p, b, 1);
  b = mpc_mulc(p, b, (FE_P + 1) / 2); /* 1/2 */
  in = (mpc_ins){.op = MPC_OP_POOLBITS, .a = b};
  mpc_prog_emit(p, &in);
  return p;
}

cx_err mpc_session_bits(const mpc_session_config *cfg, size_t bits, mpc_pool *pool, mpc_session **out) {
  *out = NULL;
  if (bits == 0 || !cfg) return CX_E_INVALID_ARG;
  if (mpc_prep_prss(cfg->n, cfg->t)) return mpc_session_prep(cfg, 0, 0, bits, 0, pool, out);
  mpc_program *p = bits_program(bits);
  if (!p) return CX_E_NOMEM;
  cx_err e = mpc_session_online(cfg, p, pool, out);
  if (e != CX_OK) {
    mpc_prog_free(p);
    return e == CX_E_MPC_PROGRAM ? CX_E_INVALID_ARG : e; /* over the length cap */
  }
  ((online *)(*out)->impl)->owned = p;
  return CX_OK;
}

cx_err mpc_session_input(mpc_session *s, uint32_t slot, const fe *vals, size_t len) {
  if (!s || s->proto != &mpc_online_proto || (!vals && len)) return CX_E_INVALID_ARG;
  online *o = s->impl;
  if (s->started || s->st.state != MPC_RUNNING) return CX_E_MPC_STATE;
  const mpc_ins *want = NULL;
  for (size_t k = 0; k < mpc_prog_len(o->prog) && !want; k++) {
    const mpc_ins *in = mpc_prog_ins(o->prog, k);
    if (in->op == MPC_OP_INPUT && in->a == s->cfg.me && in->b == slot) want = in;
  }
  if (!want || want->imm != len) return CX_E_INVALID_ARG;
  fe *v = ar_alloc(&o->ar, len);
  if (!v) return CX_E_NOMEM;
  memcpy(v, vals, len * sizeof *v);
  for (size_t k = 0; k < o->nin; k++)
    if (o->in[k].slot == slot) {
      ar_free(&o->ar, o->in[k].v, o->in[k].len);
      o->in[k].v = v;
      return CX_OK;
    }
  slotvec *nv = realloc(o->in, (o->nin + 1) * sizeof *nv);
  if (!nv) {
    ar_free(&o->ar, v, len);
    return CX_E_NOMEM;
  }
  o->in = nv;
  o->in[o->nin++] = (slotvec){.slot = slot, .v = v, .len = len};
  return CX_OK;
}

cx_err mpc_session_input_client(mpc_session *s, uint32_t slot, const uint8_t *blob, size_t blob_len,
                                const cx_hash *commitments, const uint8_t context[32],
                                const uint8_t enc_sk[32]) {
  if (!s || s->proto != &mpc_online_proto || !blob || !commitments || !context || !enc_sk)
    return CX_E_INVALID_ARG;
  online *o = s->impl;
  if (s->started || s->st.state != MPC_RUNNING) return CX_E_MPC_STATE;
  cslot *c = client_slot(o, slot);
  if (!c) return CX_E_INVALID_ARG;
  uint32_t n = s->cfg.n;
  size_t aux_len = 40 + 32 * (size_t)n;
  uint8_t *aux = malloc(aux_len);
  fe *sh = fe_alloc(c->count + 1);
  if (!aux || !sh) {
    free(aux);
    fe_free(sh);
    return CX_E_NOMEM;
  }
  memcpy(aux, context, 32);
  for (int b = 0; b < 8; b++) aux[32 + b] = (uint8_t)((uint64_t)c->count >> (8 * b));
  memcpy(aux + 40, commitments, 32 * (size_t)n);
  /* Given again: the new dealing replaces the old. */
  fe_free(c->sh);
  free(c->aux);
  c->sh = NULL;
  c->aux = aux;
  c->aux_len = aux_len;
  c->given = 1;
  char err[160];
  cx_err e = mpc_client_open(blob, blob_len, enc_sk, context, c->count, s->cfg.me, &commitments[s->cfg.me],
                             sh, c->salt, err, sizeof err);
  c->complaint = e;
  if (e != CX_OK) {
    fe_free(sh); /* zeroed by the open */
    return e;
  }
  c->sh = sh;
  return CX_OK;
}

cx_err mpc_session_transcript(const mpc_session *s, uint8_t out[32]) {
  if (!s || !out) return CX_E_INVALID_ARG;
  if (s->proto != &mpc_online_proto || s->st.state != MPC_DONE) return CX_E_MPC_STATE;
  memcpy(out, ((const online *)s->impl)->transcript.b, 32);
  return CX_OK;
}

uint64_t online_peak_elems(const mpc_session *s) {
  return s && s->proto == &mpc_online_proto && s->impl ? ((const online *)s->impl)->ar.peak : 0;
}

size_t mpc_session_output(const mpc_session *s, uint32_t slot, const fe **vals) {
  if (vals) *vals = NULL;
  if (!s || s->proto != &mpc_online_proto || s->st.state != MPC_DONE) return 0;
  const online *o = s->impl;
  for (size_t k = 0; k < o->nouts; k++)
    if (o->outs[k].slot == slot) {
      if (vals) *vals = o->ovals + o->outs[k].off;
      return o->outs[k].len;
    }
  return 0;
}

size_t mpc_session_output_share(const mpc_session *s, uint32_t slot, const fe **shares) {
  if (shares) *shares = NULL;
  if (!s || s->proto != &mpc_online_proto || s->st.state != MPC_DONE) return 0;
  const online *o = s->impl;
  for (size_t k = 0; k < o->nshrecs; k++)
    if (o->shrecs[k].slot == slot) {
      if (shares) *shares = o->ssh + o->shrecs[k].off;
      return o->shrecs[k].len;
    }
  return 0;
}
