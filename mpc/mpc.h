/* The MPC engine: actively secure honest-majority computation among the
 * consortium members (public header of mpc/).
 *
 * Model (docs/mpc.md): n parties, threshold t = floor((n-1)/3), Shamir
 * sharing of degree t over GF(2^127 - 1). Any t parties learn nothing; a
 * party that deviates never causes a wrong output: a wrong share in an
 * opening is corrected (Berlekamp–Welch) and its sender named; a failed
 * check aborts the session and names a party with transferable evidence
 * (its own signed messages); an honest party is never named.
 *
 * Two kinds of session, both pure state machines over signed messages (no
 * sockets, clock or disk: the caller passes now_ms and carries the outbox):
 *   - prep: makes a batch of Beaver triples and random sharings ahead of
 *     time and, once every check has passed, appends them to the pool;
 *   - online: runs a program (instruction list, below) consuming the pool.
 * Every party must run the same sessions in the same order on pools filled
 * by the same prep sessions: pool items are consumed first-in first-out.
 * An online session checks that before it decodes anything, and aborts
 * with CX_E_MPC_POOL_DESYNC (naming nobody) if the pools are not aligned.
 *
 * Ownership: a session borrows cfg->pubkeys, cfg->key, the program and the
 * pool for its lifetime; everything else is copied. Shares and preprocessing
 * material live in sodium_malloc'd memory and are wiped when the session or
 * pool is freed. Not thread-safe: one thread drives one session. */
#ifndef CUSTOS_MPC_H
#define CUSTOS_MPC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "field.h"
#include "keys.h"

/* ---- messages out ------------------------------------------------------ */

#ifndef MPC_TO_ALL
#define MPC_TO_ALL 0xffu /* recipient: every other party (one signed message) */
#endif

typedef struct {
  uint32_t to;   /* party index, or MPC_TO_ALL (0xff): send to every other party */
  uint8_t *buf;  /* signed encoding (mpc/wire.h), owned by the outbox */
  size_t len;
} mpc_send;

typedef struct {
  mpc_send *v;
  size_t n, cap;
} mpc_outbox;

/* Frees the buffers and empties the outbox (keeps its capacity). */
void mpc_outbox_clear(mpc_outbox *o);
void mpc_outbox_free(mpc_outbox *o);

/* ---- process setup ------------------------------------------------------ */

/* Sets glibc's malloc to keep freed large buffers in the heap (mmap
 * threshold 32 MiB, trim threshold 1 GiB) instead of mapping each one
 * fresh: the engine's messages are megabytes, and a fresh mapping's page
 * faults cost ~0.33 ns a byte in this VM, 20 times a memset. Measured in
 * bench_mpc: online multiplication 4.06 -> 2.24 us of CPU per product, prep
 * 5.24 -> 3.93 us per triple. Process-wide, so it is the program's choice:
 * custosd and bench_mpc call it once at start. The cost is that the heap
 * keeps its peak size. */
void mpc_tune_malloc(void);

/* ---- the preprocessing pool -------------------------------------------- */

typedef struct mpc_pool mpc_pool;

typedef struct {
  size_t triples, rands, bits, ints;                 /* items available now */
  size_t cap_triples, cap_rands, cap_bits, cap_ints; /* bounds */
  uint64_t made_triples, made_rands, made_bits, made_ints; /* ever added */
} mpc_pool_level;

/* Bounded random integers ("ints", MPC_OP_RANDINT): sharings of an integer
 * I with 0 <= I < 2^(MPC_KAPPA + MPC_INT_SLACK) of which any t parties know
 * nothing but an offset: I = u + o, u uniform on [0, 2^MPC_KAPPA) and
 * unknown to them, o known to them. The statistical part of a comparison
 * mask, where [CdH] draws MPC_KAPPA random bits (docs/mpc-ops.md "Bounded
 * random integers"). Under PRSS (mpc_prep_prss) a prep batch makes them
 * with no message (the sum over the C(n, t) key sets of a MPC_KAPPA-bit PRF
 * output each, Cramer-Damgard-Ishai 2005 §3 over the integers; C(n, t) <=
 * 36 < 2^MPC_INT_SLACK there); with dealers an online session makes each
 * one from MPC_KAPPA pool bits (then o = 0 and I < 2^MPC_KAPPA). */
#define MPC_INT_SLACK 6

/* A bounded FIFO of this party's shares of verified material. */
cx_err mpc_pool_new(size_t cap_triples, size_t cap_rands, size_t cap_bits, size_t cap_ints, mpc_pool **out);
void mpc_pool_free(mpc_pool *p); /* wipes; NULL is a no-op */
void mpc_pool_level_get(const mpc_pool *p, mpc_pool_level *out);
/* Add: CX_E_FULL if the bound would be passed (nothing added). */
cx_err mpc_pool_put_triples(mpc_pool *p, const fe *a, const fe *b, const fe *c, size_t count);
cx_err mpc_pool_put_rands(mpc_pool *p, const fe *r, size_t count);
cx_err mpc_pool_put_bits(mpc_pool *p, const fe *bits, size_t count);
cx_err mpc_pool_put_ints(mpc_pool *p, const fe *ints, size_t count);
/* Take from the head: CX_E_MPC_POOL_EMPTY if fewer than count (nothing
 * taken). The caller wipes what it took (sodium_memzero) after use. */
cx_err mpc_pool_take_triples(mpc_pool *p, size_t count, fe *a, fe *b, fe *c);
cx_err mpc_pool_take_rands(mpc_pool *p, size_t count, fe *r);
cx_err mpc_pool_take_bits(mpc_pool *p, size_t count, fe *bits);
cx_err mpc_pool_take_ints(mpc_pool *p, size_t count, fe *ints);
/* The kinds of pool material, in the order of every per-kind array
 * (positions, guards, digests): triples, rands, bits, ints. */
#define MPC_POOL_KINDS 4
/* Items ever taken, per kind: pos[0] triples, pos[1] rands, pos[2] bits,
 * pos[3] ints.
 * Parties whose pools are aligned have equal positions; every online
 * session compares them (and where the items ahead come from) before it
 * decodes any share, and aborts with CX_E_MPC_POOL_DESYNC if they differ
 * (docs/mpc-online.md "Pool alignment"). */
void mpc_pool_position(const mpc_pool *p, uint64_t pos[MPC_POOL_KINDS]);
/* A digest of what the pool holds: per kind its position, then the batch
 * labels (ids of the sessions that made them) and counts of the items
 * still in it, in FIFO order. Two pools are aligned iff their digests are
 * equal; public bookkeeping only (no share enters it). custosd puts it in
 * the id of its next prep session, so parties whose pools differ never
 * agree on a batch (docs/operations.md "MPC preprocessing"). */
void mpc_pool_digest(const mpc_pool *p, uint8_t out[32]);

/* ---- programs ---------------------------------------------------------- */

/* Registers are vectors of field elements: secret registers (S) hold this
 * party's shares, public registers (P) values every party knows. A vector's
 * length is set by the instruction that writes it; in elementwise binary
 * operations a length-1 operand is repeated to the other's length, other
 * unequal lengths are a program error.
 *
 * Rounds: MUL and OPEN need one message exchange (INPUT three, OUTPUT one).
 * A maximal run of consecutive MUL/OPEN instructions none of which reads a
 * register written earlier in the run is executed as ONE round, so
 * independent multiplications of a circuit layer cost one round trip. */
typedef enum {
  /* sources */
  MPC_OP_INPUT = 1, /* S[d] = input vector `b` (slot) of party `a`, length imm (3 rounds) */
  MPC_OP_RAND,      /* S[d] = imm random sharings (pool) */
  MPC_OP_RANDBIT,   /* S[d] = imm random sharings of bits in {0,1} (pool) */
  /* local linear */
  MPC_OP_ADD,   /* S[d] = S[a] + S[b] */
  MPC_OP_SUB,   /* S[d] = S[a] - S[b] */
  MPC_OP_ADDP,  /* S[d] = S[a] + P[b] */
  MPC_OP_SUBP,  /* S[d] = S[a] - P[b] */
  MPC_OP_RSUBP, /* S[d] = P[b] - S[a] */
  MPC_OP_MULP,  /* S[d] = S[a] * P[b] */
  MPC_OP_ADDC,  /* S[d] = S[a] + c */
  MPC_OP_MULC,  /* S[d] = S[a] * c */
  /* interactive */
  MPC_OP_MUL,    /* S[d] = S[a] * S[b] (Beaver triple, one round) */
  MPC_OP_OPEN,   /* P[d] = value of S[a] (robust opening, one round) */
  MPC_OP_OUTPUT, /* output slot imm = value of S[a]; opened in the final round, after every check */
  /* public */
  MPC_OP_PCONST,   /* P[d] = imm copies of c */
  MPC_OP_PADD,     /* P[d] = P[a] + P[b] */
  MPC_OP_PSUB,     /* P[d] = P[a] - P[b] */
  MPC_OP_PMUL,     /* P[d] = P[a] * P[b] */
  MPC_OP_PBIT,     /* P[d] = bit imm of the canonical representative of P[a] */
  MPC_OP_PMOD2K,   /* P[d] = canonical representative of P[a] mod 2^imm */
  MPC_OP_PSQRTINV, /* P[d] = 1 / sqrt(P[a]) (any fixed root); aborts if P[a] is 0 or not a square */
  /* shape */
  MPC_OP_MOV,    /* S[d] = S[a] */
  MPC_OP_SLICE,  /* S[d] = S[a][b .. b + imm) */
  MPC_OP_CAT,    /* S[d] = S[a] || S[b] */
  MPC_OP_PSLICE, /* P[d] = P[a][b .. b + imm) */
  MPC_OP_PCAT,   /* P[d] = P[a] || P[b] */
  MPC_OP_SUM,    /* S[d] = sum of the elements of S[a] (length 1) */
  MPC_OP_BCAST,  /* S[d] = imm copies of S[a] (length 1) */
  /* pool */
  MPC_OP_POOLBITS, /* append S[a] to this party's pool as bits (bit-making program only) */
  /* client-dealt sources (docs/mpc-client.md "Integration") */
  MPC_OP_INPUT_CLIENT, /* S[d] = client input slot b, length imm <= MPC_CLIENT_MAX_VALUES; no pool
                          material; all of a program's client slots are checked in one round at
                          session start (a second, of reveals, only if a dealing is inconsistent) */
  /* private results */
  MPC_OP_OUTPUT_SHARE, /* share-output slot imm = this party's shares of S[a] at this point of the
                          program; nothing is opened. Released (mpc_session_output_share) only
                          when the session is done, i.e. after every check passed; for handing
                          one reader the shares of a random mask (docs/contract-language.md
                          "Private outputs"). Slots are apart from OUTPUT slots. */
  /* bounded random integers (mpc.h "ints", above the pool functions) */
  MPC_OP_RANDINT, /* S[d] = imm random sharings of integers in [0, 2^(MPC_KAPPA + MPC_INT_SLACK)),
                     uniform on MPC_KAPPA bits to any t parties (pool ints; with dealers,
                     MPC_KAPPA pool bits each) */
  MPC_OP_COUNT
} mpc_op;

typedef struct {
  uint16_t op;
  uint32_t d, a, b;
  uint64_t imm;
  fe c;
} mpc_ins;

typedef struct mpc_program mpc_program;

mpc_program *mpc_prog_new(void); /* NULL on out of memory */
void mpc_prog_free(mpc_program *p);
/* Fresh register numbers. */
uint32_t mpc_sreg(mpc_program *p);
uint32_t mpc_preg(mpc_program *p);
/* Appends one instruction. Errors (out of memory, register out of range,
 * bad op) are sticky: mpc_prog_check reports the first. */
void mpc_prog_emit(mpc_program *p, const mpc_ins *ins);
/* The static length of S register sreg after the instructions emitted so
 * far (its latest write), 0 if it was never written; O(1), kept up to date
 * by mpc_prog_emit. For builders: lengths follow mpc_prog_check's rules,
 * except that where the check would refuse the program (unequal operand
 * lengths) the larger one is given, so a builder can go on emitting. */
uint64_t mpc_prog_slen(const mpc_program *p, uint32_t sreg);
/* Makes the program fail: sets the sticky error (if none is set yet) with
 * this sentence, which mpc_prog_check then reports ("instruction N: ..."). */
void mpc_prog_fail(mpc_program *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* CX_OK or CX_E_MPC_PROGRAM with a sentence in err naming the instruction:
 * unknown op, unwritten register read, length mismatch that can be decided
 * statically, INPUT, OUTPUT or OUTPUT_SHARE slot reused (an OUTPUT_SHARE
 * slot must also fit 32 bits), vector over the length cap. */
cx_err mpc_prog_check(const mpc_program *p, uint32_t n, char *err, size_t errlen);
size_t mpc_prog_len(const mpc_program *p);
const mpc_ins *mpc_prog_ins(const mpc_program *p, size_t i);

/* Preprocessing a program needs (what a scheduler reserves in the pool). */
typedef struct {
  size_t triples, rands, bits, ints;
  uint32_t rounds;
} mpc_prog_cost;
void mpc_prog_cost_get(const mpc_program *p, mpc_prog_cost *out);
/* The pool items the program takes at size (n, t): with dealers
 * (!mpc_prep_prss(n, t)) each int is MPC_KAPPA pool bits, so c->bits grows
 * by MPC_KAPPA * c->ints and c->ints becomes 0; under PRSS c is unchanged. */
void mpc_prog_cost_at(uint32_t n, uint32_t t, mpc_prog_cost *c);

/* Builder helpers: each emits instructions and returns the result register.
 * Linear and local ones (mpc/program.c): */
uint32_t mpc_input(mpc_program *p, uint32_t dealer, uint32_t slot, uint64_t len);
/* A client-dealt input (MPC_OP_INPUT_CLIENT; at most 64 client slots per
 * program, each of at most 4096 values, mpc/client.h). */
uint32_t mpc_input_client(mpc_program *p, uint32_t slot, uint64_t len);
uint32_t mpc_rand(mpc_program *p, uint64_t len);
uint32_t mpc_randbit(mpc_program *p, uint64_t len);
uint32_t mpc_randint(mpc_program *p, uint64_t len);
uint32_t mpc_add(mpc_program *p, uint32_t a, uint32_t b);
uint32_t mpc_sub(mpc_program *p, uint32_t a, uint32_t b);
uint32_t mpc_addc(mpc_program *p, uint32_t a, fe c);
uint32_t mpc_mulc(mpc_program *p, uint32_t a, fe c);
uint32_t mpc_mul(mpc_program *p, uint32_t a, uint32_t b);
uint32_t mpc_open(mpc_program *p, uint32_t a); /* returns a P register */
void mpc_output(mpc_program *p, uint32_t a, uint32_t slot);

/* Integer operations (mpc/ops.c), on signed integers of k bits embedded with
 * fe_from_i64. Protocols: Catrina–de Hoogh, "Improved Primitives for Secure
 * Multiparty Integer Computation" (SCN 2010) §3–§4 — Mod2m with BitLT,
 * exact truncation, LTZ, EQZ; results are sharings of 0 or 1.
 * Limits (k + MPC_KAPPA + 1 < MPC_FIELD_BITS for every masked opening; the
 * numbers are for the production field): ltz, eqz, eq, ne, member and trunc
 * accept k <= 85; lt, le, vmin and vmax k <= 84 (they compare a k + 1-bit
 * difference); divc k <= 64. eqz is exact for any |a| < 2^k (twice the
 * signed k-bit range), so eq needs no extra bit. A k outside its limit
 * makes the program fail (mpc_prog_fail): mpc_prog_check refuses it. */
uint32_t mpc_ltz(mpc_program *p, uint32_t a, uint32_t k);             /* a < 0 */
uint32_t mpc_lt(mpc_program *p, uint32_t a, uint32_t b, uint32_t k);  /* a < b  (k-bit operands) */
uint32_t mpc_le(mpc_program *p, uint32_t a, uint32_t b, uint32_t k);  /* a <= b */
uint32_t mpc_eqz(mpc_program *p, uint32_t a, uint32_t k);             /* a == 0 */
uint32_t mpc_eq(mpc_program *p, uint32_t a, uint32_t b, uint32_t k);  /* a == b */
uint32_t mpc_ne(mpc_program *p, uint32_t a, uint32_t b, uint32_t k);  /* a != b */
uint32_t mpc_select(mpc_program *p, uint32_t c, uint32_t a, uint32_t b); /* c ? a : b, c a bit */
uint32_t mpc_trunc(mpc_program *p, uint32_t a, uint32_t k, uint32_t m);  /* floor(a / 2^m) */
uint32_t mpc_divc(mpc_program *p, uint32_t a, uint32_t k, uint64_t d);   /* floor(a / d), d >= 1 public */
uint32_t mpc_vsum(mpc_program *p, uint32_t a);                          /* sum of a vector (local) */
uint32_t mpc_vmin(mpc_program *p, uint32_t a, uint32_t k);              /* min of a vector (length 1) */
uint32_t mpc_vmax(mpc_program *p, uint32_t a, uint32_t k);
uint32_t mpc_member(mpc_program *p, uint32_t x, uint32_t set, uint32_t k); /* x (length 1) in set */
/* [a == 0] for any field element a, not only a k-bit integer (e.g. a
 * product of differences): a mask of MPC_FIELD_BITS pool bits per element,
 * then the AND of the bit equalities (in the production field by counting:
 * 174 bits, 6 triples and 5 rounds in all); wrong with probability
 * 2^-MPC_FIELD_BITS (docs/mpc-ops.md "Zero test of a field element"). */
uint32_t mpc_eqz_field(mpc_program *p, uint32_t a);
/* Whether one mpc_eqz_field is cheaper than equality tests drawing eq_bits
 * pool bits in all: when eq_bits > MPC_FIELD_BITS (the zero test also
 * needs far fewer triples than the tests it replaces); 0 in the toy
 * fields, where its 2^-MPC_FIELD_BITS error is not negligible. mpc_member
 * and the contract evaluator's fused ORs of equalities (vm/lang/eval_mpc.c)
 * decide by it. */
int mpc_eqz_field_pays(uint64_t eq_bits);
/* Pool bits the mask of one k-bit zero test (mpc_eqz, mpc_eq) draws: k,
 * plus MPC_KAPPA where the field has no room for a bounded random integer
 * (mpc.h "ints") on top of a k-bit operand; its AND's own few are not
 * counted. For builders weighing the tests against one another. */
uint32_t mpc_mask_bits(uint32_t k);

/* ---- sessions ---------------------------------------------------------- */

typedef struct {
  uint32_t n, t, me;            /* t = (n - 1) / 3 in the consortium; n >= 3t + 1 */
  uint8_t session[32];          /* unique per session (e.g. the call hash) */
  const cx_pubkey *pubkeys;     /* n member keys, party order (borrowed) */
  const cx_seckey *key;         /* this party's signing key (borrowed) */
  uint8_t seed[32];             /* fresh randomness for this party's dealing */
  uint64_t round_timeout_ms;    /* 0: 10 s */
} mpc_session_config;

typedef enum { MPC_RUNNING = 0, MPC_DONE, MPC_ABORTED } mpc_state;

typedef enum {
  MPC_EV_NONE = 0,
  MPC_EV_EQUIVOCATION, /* two different signed messages of the culprit for one slot */
  MPC_EV_MALFORMED,    /* one signed message of the culprit whose payload is malformed.
                          Online: transferable only when the payload breaks the layout
                          rule every online message obeys (whole canonical elements, a
                          known tag first, DELTA and ECHO only TO_ALL, a round-0 message
                          a SHARES message, the pool guard of a round-0 message and of a
                          round-2 ECHO packed bytes); a payload that obeys it
                          but is wrong for the program (length, recipient) aborts the
                          session naming its sender, but mpc_evidence_verify answers
                          CX_E_NOT_CONFLICTING: a third party does not know the program */
  MPC_EV_WRONG_SHARE,  /* the n signed messages of one robust opening, message j from
                          party j, all of one round, all with one recipient field (TO_ALL,
                          or the one dealer of an input round A) and all starting with the
                          SHARES tag; item = the element (the tag is element 0; it never
                          points into a round-0 pool guard) */
  MPC_EV_COIN,         /* the culprit's signed coin commitment and its non-matching opening */
  MPC_EV_AUDIT,        /* prep audit: the culprit's signed audit message and a signed
                          message of it that its replay does not reproduce */
  MPC_EV_CLIENT,       /* client-input check (docs/mpc-client.md "Blame"): the n signed
                          round-0 check messages (message j from party j) and the culprit's
                          signed round-1 reveal; item = the client slot's position among the
                          program's INPUT_CLIENT instructions; aux = context[32] || count
                          u64 LE || the client's n commitments, which every check message
                          binds (a hash of aux): mpc_client_blame names the culprit */
} mpc_ev_type;

typedef struct {
  mpc_ev_type type;
  int32_t culprit;  /* party index, -1 if none */
  uint64_t item;    /* MPC_EV_WRONG_SHARE: element index in the opening payload */
  size_t count;     /* signed messages below */
  uint8_t **msg;
  size_t *len;
  uint8_t *aux;     /* public data the messages refer to (MPC_EV_CLIENT), else NULL */
  size_t aux_len;
} mpc_evidence;

typedef struct {
  mpc_state state;
  cx_err err;             /* CX_OK while running or done; the reason when aborted
                             (CX_E_MPC_POOL_DESYNC: the parties' pools are not aligned;
                             nobody is named, no share was decoded) */
  int32_t culprit;        /* aborted: the party proven to have cheated, -1 if none */
  uint64_t corrected;     /* parties whose wrong shares were corrected (session went on) */
  uint64_t unresponsive;  /* parties that timed out (crash or refusal: not proof of cheating) */
  char reason[200];       /* one sentence; never contains secret values */
  uint32_t rounds;        /* message rounds completed */
  uint64_t bytes_sent, msgs_sent; /* this party's traffic, encoded size */
} mpc_status;

typedef struct mpc_session mpc_session;

/* How a batch's sharings are made at this size (docs/mpc-prep.md "Two
 * modes"): 1 pseudo-random secret sharing (no share is sent; while each
 * party is in at most 28 key sets: n <= 9 at t = (n - 1) / 3), 0 dealt and
 * extracted. Fixes the batch's rounds and bytes. */
int mpc_prep_prss(uint32_t n, uint32_t t);
/* 1 if a batch of `triples`, `rands` and `bits` at this size fits the
 * message limits (mpc_session_prep refuses one that does not; ints send
 * nothing and are not limited by them). */
int mpc_prep_fits(uint32_t n, uint32_t t, uint64_t triples, uint64_t rands, uint64_t bits);
/* A preprocessing batch: `triples` Beaver triples, `rands` random sharings
 * and, under PRSS only (mpc_prep_prss; else 0), `bits` random bits and
 * `ints` bounded random integers, appended to pool when, and only when,
 * every party has passed every check (docs/mpc-prep.md). */
cx_err mpc_session_prep(const mpc_session_config *cfg, size_t triples, size_t rands, size_t bits,
                        size_t ints, mpc_pool *pool, mpc_session **out);
/* A batch of random bits appended to the pool's bits: under PRSS a prep
 * batch of bits alone; with dealers an online program over pool triples
 * and randoms (r random, r^2 opened, b = (r / sqrt(r^2) + 1) / 2). */
cx_err mpc_session_bits(const mpc_session_config *cfg, size_t bits, mpc_pool *pool, mpc_session **out);
/* An online program. CX_E_MPC_PROGRAM if it does not check. */
cx_err mpc_session_online(const mpc_session_config *cfg, const mpc_program *prog, mpc_pool *pool,
                          mpc_session **out);
/* Dealer side: the values of this party's INPUT slot (before start). */
cx_err mpc_session_input(mpc_session *s, uint32_t slot, const fe *vals, size_t len);
/* Every party, before start: client input slot `slot` (an INPUT_CLIENT of
 * the program, count = its length): this party's sealed blob, the client's
 * n commitments (party order), the 32-byte context the party computed
 * itself (mpc/client.h), and this party's X25519 secret key (borrowed for
 * the call only: the blob is opened at once). CX_OK, CX_E_INVALID_ARG (not
 * a client slot of the program, bad arguments), CX_E_MPC_STATE (started),
 * CX_E_NOMEM, or mpc_client_open's error: the blob does not open, which is
 * recorded as this party's complaint for the slot (the session still runs
 * and rejects the input, CX_E_MPC_CLIENT_REJECTED, naming nobody). A slot
 * never given makes mpc_session_start fail (CX_E_INVALID_ARG). */
cx_err mpc_session_input_client(mpc_session *s, uint32_t slot, const uint8_t *blob, size_t blob_len,
                                const cx_hash *commitments, const uint8_t context[32],
                                const uint8_t enc_sk[32]);

cx_err mpc_session_start(mpc_session *s, uint64_t now_ms, mpc_outbox *out);
/* A message from the network. Returns CX_OK if it was taken, else the
 * specific refusal (wire.h order); a refused message changes nothing unless
 * it proves a cheat (equivocation, malformed signed payload), which aborts
 * the session naming its sender. Never blocks. */
cx_err mpc_session_recv(mpc_session *s, const uint8_t *msg, size_t len, uint64_t now_ms,
                        mpc_outbox *out);
/* The same, for a message that arrived on the authenticated channel of
 * party `link` (its index in this session; MPC_NO_LINK if not known). In an
 * online session a message whose header names `link` as its sender is taken
 * without checking its BIP340 signature on arrival: the channel already
 * names the sender, so the computation is the same. The signature is
 * checked where it matters to others: before the message is echoed to the
 * other parties (input round B) or kept as evidence, and on both copies of
 * an equivocation; a party whose message then fails is not named (abort
 * reason says so). Prep sessions check every signature on arrival (they
 * relay signed messages). docs/mpc-online.md "Signatures checked late". */
#define MPC_NO_LINK UINT32_MAX
cx_err mpc_session_recv_link(mpc_session *s, uint32_t link, const uint8_t *msg, size_t len,
                             uint64_t now_ms, mpc_outbox *out);
/* Timers: a round not complete round_timeout_ms after it began aborts with
 * CX_E_MPC_TIMEOUT and the missing parties in status.unresponsive (unless
 * the protocol ends the round at its deadline itself: prep's agreement
 * rounds may; the missing parties are listed all the same). */
void mpc_session_tick(mpc_session *s, uint64_t now_ms, mpc_outbox *out);
const mpc_status *mpc_session_status(const mpc_session *s);
/* Done sessions: the values of an OUTPUT slot (0 and NULL if none). */
size_t mpc_session_output(const mpc_session *s, uint32_t slot, const fe **vals);
/* Done sessions: this party's shares of an OUTPUT_SHARE slot (0 and NULL if
 * none; the memory is the session's, wiped by mpc_session_free). */
size_t mpc_session_output_share(const mpc_session *s, uint32_t slot, const fe **shares);
/* The evidence behind status.culprit or the first corrected party. */
const mpc_evidence *mpc_session_evidence(const mpc_session *s);
/* The online session's public transcript: H_MPC_OPENED(session id ||
 * every value the session opened, in program order: OPEN results and
 * OUTPUT values, as canonical 16-byte field elements). Equal at every
 * honest party of a DONE session (openings are robust); CX_E_MPC_STATE
 * unless the session is an online session in state DONE. Precisely
 * (docs/mpc-online.md "Transcript"): every OPEN, those ops.c emits
 * included, then every OUTPUT (the final round), each in program order;
 * not a MUL's Beaver differences, input deltas or per-party values.
 * CX_E_INVALID_ARG if s or out is NULL. */
cx_err mpc_session_transcript(const mpc_session *s, uint8_t out[32]);
void mpc_session_free(mpc_session *s); /* wipes shares; NULL is a no-op */

/* Checks evidence with the members' public keys alone: CX_OK if it proves
 * ev->culprit cheated, else a specific error. */
cx_err mpc_evidence_verify(uint32_t n, uint32_t t, const cx_pubkey *pubkeys, const mpc_evidence *ev);

/* ---- reconstruction by a reader ---------------------------------------- */

/* A reader that is not a party (the caller of a contract) rebuilds len
 * values from the parties' shares of them: shares[i] is party i's len
 * shares, NULL if party i gave none. Error-correcting (Berlekamp–Welch per
 * value): CX_OK with out[len] and, in *bad, the parties whose shares were
 * wrong; CX_E_MPC_CHECK_FAILED if some value does not decode (more than
 * the code can correct with the shares present). */
cx_err mpc_reconstruct(uint32_t n, uint32_t t, const fe *const *shares, size_t len, fe *out, uint64_t *bad);

/* ---- an in-process consortium (mpc/local.c) ----------------------------- */

/* n parties, each with fresh keys and its own pool, whose sessions run in
 * this thread over an in-memory network (FIFO delivery, no faults), for
 * `custos contract run --mpc N`, tests and benchmarks. Not a security
 * boundary: one process holds every party's shares. t = (n - 1) / 3. */
typedef struct mpc_local mpc_local;

/* seed: 32 bytes for a reproducible consortium (keys, dealing seeds,
 * session ids), NULL for fresh randomness. pool_cap bounds each kind of
 * material in each pool. */
cx_err mpc_local_new(uint32_t n, const uint8_t *seed, size_t pool_cap, mpc_local **out);
void mpc_local_free(mpc_local *l); /* wipes; NULL is a no-op */

/* Fills every pool with at least the items of cost c (prep and bits
 * sessions; a bits session consumes triples and rands of its own; with
 * dealers ints are counted as bits, mpc_prog_cost_at). On failure
 * CX_E_MPC_* with the reason in err. */
cx_err mpc_local_prepare(mpc_local *l, const mpc_prog_cost *c, char *err, size_t errlen);

typedef struct {
  uint32_t slot;     /* MPC_OP_INPUT slot */
  uint32_t dealer;   /* the party that deals it */
  const fe *vals;
  size_t len;
} mpc_local_input;

typedef struct {
  uint32_t slot;     /* MPC_OP_INPUT_CLIENT slot; shared and sealed here as a client would */
  const fe *vals;
  size_t len;
} mpc_local_client_input;

/* Runs prog on every party. CX_OK when every party is done (outputs below);
 * else the session's error with the reason in err. st (may be NULL) gets
 * party 0's status; bytes_max the largest bytes_sent of any party. */
cx_err mpc_local_run(mpc_local *l, const mpc_program *prog, const mpc_local_input *in, size_t nin,
                     const mpc_local_client_input *cin, size_t ncin, mpc_status *st, uint64_t *bytes_max,
                     char *err, size_t errlen);
/* After a successful run: an OUTPUT slot (party 0's values; every party's
 * are checked equal by mpc_local_run), and party i's OUTPUT_SHARE shares. */
size_t mpc_local_output(const mpc_local *l, uint32_t slot, const fe **vals);
size_t mpc_local_output_share(const mpc_local *l, uint32_t party, uint32_t slot, const fe **shares);
/* Bytes sent by the busiest party in mpc_local_prepare so far. */
uint64_t mpc_local_prep_bytes(const mpc_local *l);

#endif
