/* sim: the deterministic consensus simulator (consensus issue).
 *
 * The whole consortium runs in one process around the real bft engine
 * (consensus/bft.h): one fake host per simulated node, one virtual clock and
 * one event queue ordered by (time, sequence), a seeded fake network, fake
 * durable storage, a client that submits transactions and, on demand,
 * Byzantine members (equivocators or twins). Everything random comes from
 * one xoshiro256** stream seeded by the run's seed, and no state outlives a
 * run, so a seed replays the same trace (sim_result.trace is a hash of it).
 *
 * docs/testing.md ("Consensus simulator") says what a run checks and how to
 * replay a failing seed. */
#ifndef CUSTOS_SIM_H
#define CUSTOS_SIM_H

#include <stdint.h>

#define SIM_MAX_N 16

/* Fault kinds (sim_config.faults). */
enum {
  SIM_F_DROP = 1u << 0,      /* messages lost */
  SIM_F_DUP = 1u << 1,       /* messages delivered twice */
  SIM_F_DELAY = 1u << 2,     /* long random delays, hence reordering */
  SIM_F_PARTITION = 1u << 3, /* cut sets of links for a window */
  SIM_F_CRASH = 1u << 4,     /* crash (between or inside steps) and restart */
  SIM_F_ALL = 0x1f
};

/* Byzantine behaviour (sim_config.byz_mode). */
enum { SIM_BYZ_RANDOM = 0, SIM_BYZ_EQUIVOCATE = 1, SIM_BYZ_TWINS = 2 };

typedef struct {
  unsigned n;            /* validators, 1..SIM_MAX_N */
  int byzantine;         /* Byzantine members; -1: drawn per seed in [0, f] */
  int byz_mode;          /* SIM_BYZ_*; RANDOM draws one per seed */
  unsigned faults;       /* SIM_F_* */
  unsigned heights;      /* liveness: heights every honest node gains after the heal */
  uint64_t fault_ms;     /* virtual length of the fault phase */
  uint64_t heal_ms;      /* virtual time allowed after the heal */
  int verbose;           /* print the trace */
  int expect_fork;       /* stop at the first fork; skip liveness */
} sim_config;

void sim_config_default(sim_config *c, unsigned n);

typedef struct {
  int ok;                /* no violation */
  int fork;              /* two honest nodes committed different blocks at one height */
  char why[512];         /* the first violation */
  uint8_t trace[32];     /* hash of the whole trace */
  int nbyz, byz_mode;    /* what the seed drew */
  uint64_t events, messages, txs, min_height, max_height, evidence, witnessed;
  uint64_t crashes, syncs, end_ms;
} sim_result;

/* Runs one seed. Never aborts on a protocol violation: it is reported in
 * out (ok = 0, why). */
void sim_run(const sim_config *cfg, uint64_t seed, sim_result *out);

#endif
