/* In-process MPC harness for the tests: n parties, each a real mpc_session,
 * over a seeded fake network with a fake clock (no sockets, no threads;
 * docs/mpc-online.md "The test harness").
 * Faults: a tamper hook that rewrites any party's message to any recipient
 * (re-signed with the sender's key, so it is that party cheating, not the
 * network), and crashes (a party stops sending and receiving at a round).
 * Deterministic: the same seed gives the same keys, dealing seeds, session
 * ids (a hash of the seed and the session counter), delivery order and
 * result. Harness failures that a test cannot recover from (out of memory,
 * a session that never ends) print a line and abort the process. */
#ifndef CUSTOS_MPC_HARNESS_H
#define CUSTOS_MPC_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "mpc.h"
#include "shamir.h"
#include "wire.h"

/* Called for every delivery of a message from `from` to `to` (a MPC_TO_ALL
 * message is delivered, and offered to the hook, once per recipient, so a
 * hook can make the sender equivocate; deliveries to or from a crashed
 * party are dropped before the hook). To cheat, set *payload to a malloc'd
 * replacement (the harness frees it) and *len, and return 1; return 0 to
 * deliver unchanged. m is the decoded original; the replacement keeps its
 * kind, session, round, sender and recipient field and is signed with the
 * sender's key. */
typedef int (*mh_tamper_fn)(void *ctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload,
                            size_t *len);

typedef struct {
  uint32_t n, t;
  cx_seckey *keys[MPC_MAX_N];
  cx_pubkey pks[MPC_MAX_N];
  mpc_pool *pools[MPC_MAX_N]; /* party i's pool; a test may swap one for another */
  uint64_t now_ms;
  uint64_t rng[4];          /* xoshiro state: delivery order and seeds */
  uint64_t sessions;        /* sessions started: the next session id */
  mh_tamper_fn tamper;
  void *tamper_ctx;
  uint32_t crash_round[MPC_MAX_N]; /* UINT32_MAX: never; else the party sends nothing of that
                                      round or later, and receives nothing once its session
                                      has reached that round (0: it takes no part) */
  uint64_t delivered, refused;     /* messages delivered / refused by mpc_session_recv (a
                                      refusal is a return code, not a test failure) */
  int links;      /* 1: deliver with mpc_session_recv_link naming the true sender's link */
  int spoil_sig;  /* 1: a tampered message keeps a spoilt signature (its sender cheats on
                     its own link without signing) instead of being re-signed */
} mh;

/* pool_cap: bound of each party's pool for each kind of material (pools are
 * locked memory sized to their cap: keep it small). NULL on failure. */
mh *mh_new(uint32_t n, uint32_t t, uint64_t seed, size_t pool_cap);
void mh_free(mh *h);
/* The config of party i for the next session (the session id of the
 * session counter, a fresh dealing seed from the stream, round timeout
 * 1000 ms; call once per party, then mh_next_session). */
void mh_config(mh *h, uint32_t party, mpc_session_config *cfg);
void mh_next_session(mh *h);

/* Starts and runs the n sessions until each is done or aborted, delivering
 * messages one at a time in seeded random order and, when nothing is in
 * flight, advancing the fake clock past the round timeout and ticking every
 * session. sess[i] may be NULL (party i takes no part). A session the test
 * started itself takes part; one whose start is refused takes no part.
 * Crashed parties' sessions are left running (and not judged). Returns the
 * number of sessions that are MPC_DONE. */
uint32_t mh_run(mh *h, mpc_session **sess);

/* Conveniences (one session per party, created, run and freed):
 * a prep batch; a bits batch (which takes triples and randoms from the
 * pools). Return the number of parties done (n when all succeeded); st (if
 * not NULL) gets each party's final status (zeroed for a party whose
 * session was refused at creation). */
uint32_t mh_prep(mh *h, size_t triples, size_t rands, mpc_status *st);
/* A prep batch with bounded random integers too (PRSS sizes only). */
uint32_t mh_prep_ints(mh *h, size_t triples, size_t rands, size_t ints, mpc_status *st);
uint32_t mh_bits(mh *h, size_t bits, mpc_status *st);

/* Runs prog on every party. inputs[i][slot] / input_len[i][slot]: party i's
 * INPUT slot values, indexed by slot number (inputs or inputs[i] NULL where
 * party i deals nothing; a slot it should deal but is not given makes its
 * start fail, so it takes no part). The sessions are returned in sess
 * (NULL where creation was refused, e.g. a program that does not check;
 * caller frees with mpc_session_free) so the test can read outputs, status
 * and evidence. Returns the number of parties done. */
uint32_t mh_online(mh *h, const mpc_program *prog, const fe *const *const *inputs,
                   const size_t *const *input_len, mpc_session **sess);

/* Shares a plaintext vector for tests that need material without a prep
 * session: fills out[i][k] with party i's degree-t share of vals[k]
 * (coefficients from the harness stream). Material put into pools this way
 * has no batch label (docs/mpc-online.md "Pool alignment"). */
void mh_share(mh *h, const fe *vals, size_t count, fe **out);

#endif
