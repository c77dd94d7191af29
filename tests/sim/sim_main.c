/* custos-sim: runs the consensus simulator over a range of seeds (sim.h).
 *
 *   custos-sim --n N --seeds K [--first-seed S] [--faults all|none|drop,dup,delay,partition,crash]
 *              [--byzantine K] [--twins | --equivocate] [--expect-fork] [--heights H]
 *              [--fault-ms MS] [--heal-ms MS]
 *   custos-sim --n N --seed S [-v|-vv]      one seed with its trace
 *   custos-sim --n N --seed S --replay-check   the seed twice: same trace hash
 *
 * Exit 0 when every seed passes (with --expect-fork: when some seed forks,
 * the checker's self-test); otherwise the failing seed and the command that
 * replays it are printed and the exit status is 1. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "sim.h"

static void usage(void) {
  fprintf(stderr,
          "usage: custos-sim --n N [--seeds K] [--first-seed S] [--seed S] [-v|-vv]\n"
          "       [--faults all|none|drop,dup,delay,partition,crash] [--byzantine K]\n"
          "       [--twins|--equivocate] [--expect-fork] [--heights H] [--fault-ms MS]\n"
          "       [--heal-ms MS] [--replay-check] [--keep-going]\n");
  exit(2);
}

static uint64_t num(const char *s) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end) usage();
  return (uint64_t)v;
}

static unsigned parse_faults(const char *arg) {
  if (!strcmp(arg, "all")) return SIM_F_ALL;
  if (!strcmp(arg, "none")) return 0;
  unsigned f = 0;
  char buf[128];
  snprintf(buf, sizeof buf, "%s", arg);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, "drop")) f |= SIM_F_DROP;
    else if (!strcmp(t, "dup")) f |= SIM_F_DUP;
    else if (!strcmp(t, "delay")) f |= SIM_F_DELAY;
    else if (!strcmp(t, "partition")) f |= SIM_F_PARTITION;
    else if (!strcmp(t, "crash")) f |= SIM_F_CRASH;
    else usage();
  }
  return f;
}

static void hex8(const uint8_t *b, char out[65]) {
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
}

int main(int argc, char **argv) {
  sim_config cfg;
  sim_config_default(&cfg, 4);
  uint64_t seeds = 200, first = 1, one = 0;
  int have_one = 0, replay = 0, keep_going = 0;
  const char *faults_arg = "all";
  char args[512] = "";

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = 1;
    if (!strcmp(a, "--n") && v) cfg.n = (unsigned)num(v);
    else if (!strcmp(a, "--seeds") && v) seeds = num(v);
    else if (!strcmp(a, "--first-seed") && v) first = num(v);
    else if (!strcmp(a, "--seed") && v) one = num(v), have_one = 1;
    else if (!strcmp(a, "--faults") && v) cfg.faults = parse_faults(v), faults_arg = v;
    else if (!strcmp(a, "--byzantine") && v) cfg.byzantine = (int)num(v);
    else if (!strcmp(a, "--heights") && v) cfg.heights = (unsigned)num(v);
    else if (!strcmp(a, "--fault-ms") && v) cfg.fault_ms = num(v);
    else if (!strcmp(a, "--heal-ms") && v) cfg.heal_ms = num(v);
    else {
      takes = 0;
      if (!strcmp(a, "--twins")) cfg.byz_mode = SIM_BYZ_TWINS;
      else if (!strcmp(a, "--equivocate")) cfg.byz_mode = SIM_BYZ_EQUIVOCATE;
      else if (!strcmp(a, "--expect-fork")) cfg.expect_fork = 1;
      else if (!strcmp(a, "--replay-check")) replay = 1;
      else if (!strcmp(a, "--keep-going")) keep_going = 1;
      else if (!strcmp(a, "-v")) cfg.verbose = 1;
      else if (!strcmp(a, "-vv")) cfg.verbose = 2;
      else usage();
    }
    /* the options that shape a run, for the replay command */
    if (strcmp(a, "--seeds") && strcmp(a, "--first-seed") && strcmp(a, "--seed") && strcmp(a, "-v") &&
        strcmp(a, "-vv") && strcmp(a, "--replay-check") && strcmp(a, "--keep-going")) {
      size_t l = strlen(args);
      snprintf(args + l, sizeof args - l, " %s%s%s", a, takes ? " " : "", takes ? v : "");
    }
    i += takes;
  }
  (void)faults_arg;
  if (cfg.n < 1 || cfg.n > SIM_MAX_N) usage();
  if (sodium_init() < 0) return 2;
  if (have_one) {
    first = one;
    seeds = 1;
    if (!replay && !cfg.verbose) cfg.verbose = 1;
  }

  clock_t t0 = clock();
  uint64_t forks = 0, failures = 0, witnessed = 0, evidence = 0, eq_seeds = 0, heights = 0, msgs = 0;
  for (uint64_t seed = first; seed < first + seeds; seed++) {
    sim_result r;
    sim_run(&cfg, seed, &r);
    char th[65];
    hex8(r.trace, th);
    if (replay) {
      sim_config quiet = cfg;
      quiet.verbose = 0;
      sim_result r2;
      sim_run(&quiet, seed, &r2);
      char th2[65];
      hex8(r2.trace, th2);
      printf("seed %" PRIu64 ": trace %s / %s\n", seed, th, th2);
      if (memcmp(r.trace, r2.trace, 32) != 0) {
        printf("FAIL: seed %" PRIu64 " is not deterministic\n", seed);
        return 1;
      }
    }
    if (r.byz_mode == SIM_BYZ_EQUIVOCATE && r.nbyz) {
      eq_seeds++;
      witnessed += r.witnessed;
      evidence += r.evidence;
    }
    heights += r.max_height;
    msgs += r.messages;
    if (cfg.verbose || have_one)
      printf("seed %" PRIu64 ": %s; byzantine %d (%s); heights %" PRIu64 "..%" PRIu64 "; %" PRIu64
             " tx; %" PRIu64 " messages; %" PRIu64 " crashes; %" PRIu64 " syncs; evidence %" PRIu64
             " (witnessed %" PRIu64 "); ended at %" PRIu64 " ms; trace %s\n",
             seed, r.ok ? "ok" : r.why, r.nbyz,
             r.nbyz ? (r.byz_mode == SIM_BYZ_TWINS ? "twins" : "equivocators") : "-", r.min_height, r.max_height,
             r.txs, r.messages, r.crashes, r.syncs, r.evidence, r.witnessed, r.end_ms, th);
    if (cfg.expect_fork) {
      if (r.fork) {
        forks++;
        printf("fork found (the checker works): seed %" PRIu64 ": %s\n", seed, r.why);
        printf("replay: custos-sim%s --seed %" PRIu64 "\n", args, seed);
        return 0;
      }
      continue;
    }
    if (!r.ok) {
      failures++;
      printf("FAIL seed %" PRIu64 ": %s\n", seed, r.why);
      printf("replay: custos-sim%s --seed %" PRIu64 " -vv\n", args, seed);
      if (!keep_going) return 1;
    }
  }
  double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
  if (cfg.expect_fork) {
    printf("FAIL: no fork in seeds %" PRIu64 "..%" PRIu64 " although the run was built to fork\n", first,
           first + seeds - 1);
    return 1;
  }
  if (failures) {
    printf("custos-sim: n=%u: %" PRIu64 " of %" PRIu64 " seeds from %" PRIu64 " FAILED\n", cfg.n, failures,
           seeds, first);
    return 1;
  }
  printf("custos-sim: n=%u: %" PRIu64 " seeds from %" PRIu64 " passed (%.1f s; %" PRIu64
         " heights, %" PRIu64 " messages; equivocator seeds %" PRIu64 ": %" PRIu64 " shown to a witness, %" PRIu64
         " evidence reports)\n",
         cfg.n, seeds, first, secs, heights, msgs, eq_seeds, witnessed, evidence);
  /* The evidence path must work somewhere: across many equivocator seeds
   * with witnesses, some honest node must have named the equivocator. */
  if (eq_seeds >= 20 && witnessed >= 50 && evidence == 0) {
    printf("FAIL: %" PRIu64 " equivocations shown to honest nodes over %" PRIu64
           " seeds and no EVIDENCE reported\n",
           witnessed, eq_seeds);
    return 1;
  }
  (void)forks;
  return 0;
}
