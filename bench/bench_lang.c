/* bench_lang: the secret-contract language (vm/lang/, docs/contract-language.md).
 *
 *   bench_lang [--batch B] [--lat L] [--dir CONTRACTS]
 *              defaults: B 100, L 10, CONTRACTS = configs/contracts of the source tree
 *
 * Figures, each as a ratio measured in this run:
 *   1. compile: each sample compiled 20 times; the median time against the
 *      budget of a deployment (every node compiles the source inside block
 *      execution: 50 ms per contract is the bound), and the bytecode decode
 *      time beside it;
 *   2. rounds: for every sample, the rounds one 4-party MPC call took
 *      against the compiler's own cost report (must be exactly 1.00);
 *   3. latency: L calls of the underwriting contract with 4 parties, median
 *      online time and preprocessing time per call;
 *   4. throughput: B underwriting calls evaluated as one batched program
 *      (B copies of the circuit, whose layers the evaluator packs together)
 *      against B single calls' worth of time: calls per second both ways,
 *      and their ratio (the batching gain).
 * The 4 parties run in this process (mpc_local: in-memory network, no
 * sockets), so the figures are computation plus protocol rounds on one
 * machine; bench_mpc measures the engine over real loopback links.
 * Exit status 1 if rounds differ from the report or compilation exceeds its
 * bound, 2 if the benchmark could not run. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "hash.h"
#include "lang.h"

#define COMPILE_BOUND_S 0.050
#define COMPILE_REPS 20
#define NPARTIES 4

static const char *const SAMPLES[] = {"underwriting", "survival", "avg_salary", "millionaires", "cohort"};
#define NSAMPLES (sizeof SAMPLES / sizeof SAMPLES[0])

static void die(const char *what, const char *detail) __attribute__((noreturn));
static void die(const char *what, const char *detail) {
  fprintf(stderr, "bench_lang: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(2);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) die("cannot open", path);
  char *b = malloc(1 << 20);
  if (!b) die("out of memory", NULL);
  *len = fread(b, 1, (1 << 20) - 1, f);
  fclose(f);
  b[*len] = 0;
  return b;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static lang_contract *compile_sample(const char *dir, const char *name, lang_values **vals) {
  char path[4096];
  size_t len;
  snprintf(path, sizeof path, "%s/%s.cst", dir, name);
  char *src = slurp(path, &len);
  lang_contract *c = NULL;
  lang_diag d;
  if (lang_compile(src, len, &c, &d)) {
    char msg[512];
    lang_diag_format(&d, path, msg, sizeof msg);
    die("compile", msg);
  }
  free(src);
  if (vals) {
    char err[256];
    snprintf(path, sizeof path, "%s/%s.inputs.json", dir, name);
    char *js = slurp(path, &len);
    *vals = lang_values_new(c);
    if (!*vals || lang_values_from_json(*vals, js, len, err, sizeof err)) die(path, err);
    free(js);
  }
  return c;
}

int main(int argc, char **argv) {
  uint32_t B = 100, L = 10;
  const char *dir = CUSTOS_SOURCE_DIR "/configs/contracts";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--batch") && i + 1 < argc)
      B = (uint32_t)strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--lat") && i + 1 < argc)
      L = (uint32_t)strtoul(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else
      die("usage: bench_lang [--batch B] [--lat L] [--dir CONTRACTS]", NULL);
  }
  if (B < 1 || L < 1) die("--batch and --lat must be >= 1", NULL);
  if (sodium_init() < 0) die("sodium_init failed", NULL);
  int fail = 0;
  char err[512];

  printf("bench_lang: the secret-contract language, %d MPC parties in one process\n\n", NPARTIES);
  printf("1. compile (median of %d) against the %.0f ms deployment bound\n", COMPILE_REPS,
         COMPILE_BOUND_S * 1e3);
  printf("   %-14s %8s %6s %8s %10s %10s %8s\n", "contract", "source", "nodes", "bytecode", "compile", "decode",
         "ratio");
  for (size_t s = 0; s < NSAMPLES; s++) {
    char path[4096];
    size_t len;
    snprintf(path, sizeof path, "%s/%s.cst", dir, SAMPLES[s]);
    char *src = slurp(path, &len);
    double tc[COMPILE_REPS], td[COMPILE_REPS];
    size_t bclen = 0;
    lang_cost cost;
    for (int r = 0; r < COMPILE_REPS; r++) {
      lang_contract *c = NULL, *d = NULL;
      double t0 = bench_now_s();
      if (lang_compile(src, len, &c, NULL)) die("compile", path);
      double t1 = bench_now_s();
      const uint8_t *bc = lang_bytecode(c, &bclen);
      if (lang_decode(bc, bclen, &d, err, sizeof err)) die("decode", err);
      double t2 = bench_now_s();
      tc[r] = t1 - t0;
      td[r] = t2 - t1;
      if (r == 0 && lang_cost_get(c, NPARTIES, &cost, err, sizeof err)) die("cost", err);
      lang_free(c);
      lang_free(d);
    }
    double mc = median(tc, COMPILE_REPS), md = median(td, COMPILE_REPS);
    double ratio = mc / COMPILE_BOUND_S;
    if (ratio > 1.0) fail = 1;
    printf("   %-14s %7zuB %6zu %7zuB %8.3fms %8.3fms %7.3fx%s\n", SAMPLES[s], len, (size_t)cost.nodes, bclen, mc * 1e3,
           md * 1e3, ratio, ratio > 1.0 ? "  OVER BOUND" : "");
    free(src);
  }

  printf("\n2. rounds of one %d-party call against the compiler's report\n", NPARTIES);
  printf("   %-14s %8s %8s %6s %12s %12s\n", "contract", "report", "ran", "ratio", "online B/p", "prep B/p");
  for (size_t s = 0; s < NSAMPLES; s++) {
    lang_values *v = NULL;
    lang_contract *c = compile_sample(dir, SAMPLES[s], &v);
    lang_cost cost;
    lang_mpc_report rep;
    int64_t *out = calloc(lang_outputs_len(c) + 1, sizeof *out);
    int64_t *ref = calloc(lang_outputs_len(c) + 1, sizeof *ref);
    if (!out || !ref) die("out of memory", NULL);
    if (lang_cost_get(c, NPARTIES, &cost, err, sizeof err)) die("cost", err);
    if (lang_run_mpc(c, v, NPARTIES, NULL, out, &rep, err, sizeof err)) die("mpc run", err);
    if (lang_run_reference(c, v, ref, err, sizeof err)) die("reference run", err);
    if (memcmp(out, ref, lang_outputs_len(c) * sizeof *out)) {
      printf("   %s: MPC OUTPUTS DIFFER FROM THE REFERENCE INTERPRETER\n", SAMPLES[s]);
      fail = 1;
    }
    double ratio = (double)rep.rounds / (double)(cost.rounds ? cost.rounds : 1);
    if (rep.rounds != cost.rounds) fail = 1;
    printf("   %-14s %8u %8u %6.2f %12llu %12llu\n", SAMPLES[s], cost.rounds, rep.rounds, ratio,
           (unsigned long long)rep.bytes_sent, (unsigned long long)rep.prep_bytes_sent);
    free(out);
    free(ref);
    lang_values_free(v);
    lang_free(c);
  }

  lang_values *v = NULL;
  lang_contract *c = compile_sample(dir, "underwriting", &v);
  int64_t *out = calloc(lang_outputs_len(c) * B + 1, sizeof *out);
  double *ton = malloc(L * sizeof *ton), *tprep = malloc(L * sizeof *tprep);
  if (!out || !ton || !tprep) die("out of memory", NULL);
  lang_mpc_report rep;
  printf("\n3. latency of one underwriting call, %d parties (%u calls)\n", NPARTIES, L);
  for (uint32_t i = 0; i < L; i++) {
    if (lang_run_mpc(c, v, NPARTIES, NULL, out, &rep, err, sizeof err)) die("mpc run", err);
    ton[i] = rep.online_s;
    tprep[i] = rep.prep_s;
  }
  double lat_on = median(ton, L), lat_prep = median(tprep, L);
  printf("   online %.2f ms in %u rounds (%.3f ms a round), preprocessing %.2f ms; online / total %.2f\n",
         lat_on * 1e3, rep.rounds, lat_on * 1e3 / (rep.rounds ? rep.rounds : 1), lat_prep * 1e3,
         lat_on / (lat_on + lat_prep));

  if (B > lang_batch_max(c)) { /* one program deals at most that many copies' params */
    printf("\n(batch of %u is over the contract's lang_batch_max, %u: %u used, as the node's batches)\n", B,
           lang_batch_max(c), lang_batch_max(c));
    B = lang_batch_max(c);
  }
  printf("\n4. throughput: %u underwriting calls as one batched program vs one call at a time\n", B);
  lang_contract *b = NULL;
  lang_values *bv = NULL;
  const lang_values **vs = malloc(B * sizeof *vs);
  if (!vs) die("out of memory", NULL);
  for (uint32_t k = 0; k < B; k++) vs[k] = v;
  if (lang_batch(c, B, &b, err, sizeof err) || lang_batch_values(b, c, vs, B, &bv, err, sizeof err))
    die("batch", err);
  free(vs);
  lang_cost bcost;
  if (lang_cost_get(b, NPARTIES, &bcost, err, sizeof err)) die("batch cost", err);
  lang_mpc_report brep;
  if (lang_run_mpc(b, bv, NPARTIES, NULL, out, &brep, err, sizeof err)) die("batch run", err);
  int64_t single[64], got[64];
  if (lang_outputs_len(c) > 64 || lang_run_reference(c, v, single, err, sizeof err)) die("reference", err);
  for (uint32_t k = 0; k < B; k++) {
    lang_batch_outputs(c, B, out, k, got);
    if (memcmp(got, single, lang_outputs_len(c) * sizeof *got)) {
      printf("   BATCH OUTPUT %u DIFFERS FROM THE REFERENCE\n", k);
      fail = 1;
      break;
    }
  }
  double bt = brep.online_s + brep.prep_s, st = lat_on + lat_prep;
  double bthr = B / bt, sthr = 1.0 / st;
  printf("   batched: %.1f calls/s (%.2f s for %u calls: online %.2f s in %u rounds, prep %.2f s)\n", bthr, bt, B,
         brep.online_s, brep.rounds, brep.prep_s);
  printf("   single:  %.1f calls/s (median call %.2f ms incl. preprocessing)\n", sthr, st * 1e3);
  printf("   batching gain: %.2fx; rounds %u batched vs %u single (report %u)\n", bthr / sthr, brep.rounds,
         rep.rounds, bcost.rounds);
  if (brep.rounds != bcost.rounds) fail = 1;

  lang_values_free(bv);
  lang_free(b);
  lang_values_free(v);
  lang_free(c);
  free(out);
  free(ton);
  free(tprep);
  printf("\nbench_lang: %s\n", fail ? "FAILED (see above)" : "ok");
  return fail;
}
