/* bench_verify: raw libsecp256k1 BIP340 verifications per second, on the
 * sighashes of signed identity registrations (the transactions `custos load`
 * sends), for bench_bft.sh's bound.
 *
 *   bench_verify [SECONDS]     time per figure (default 1)
 *
 * Two figures: one thread, and one thread per online core at once (the
 * machine's capacity, which the 4 nodes of bench_bft share). The last line
 * is for scripts:
 *   verify_per_s_1=N verify_per_s_all=M threads=T */
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "keys.h"
#include "tx.h"

#define NTX 1024


#define CHECK(x)                                                             \
  do {                                                                       \
    if (!(x)) {                                                              \
      fprintf(stderr, "bench_verify: %s failed at line %d\n", #x, __LINE__); \
      exit(1);                                                               \
    }                                                                        \
  } while (0)

static secp256k1_xonly_pubkey g_pk[NTX];
static cx_hash g_msg[NTX];
static cx_sig g_sig[NTX];
static double g_seconds;

typedef struct {
  size_t done;
  double elapsed;
} job;

static void *verifier(void *arg) {
  job *j = arg;
  const secp256k1_context *ctx = keys_context();
  double t0 = bench_now_s(), t;
  size_t n = 0;
  do {
    for (size_t i = 0; i < NTX; i++)
      CHECK(secp256k1_schnorrsig_verify(ctx, g_sig[i].b, g_msg[i].b, 32, &g_pk[i]) == 1);
    n += NTX;
    t = bench_now_s() - t0;
  } while (t < g_seconds);
  j->done = n;
  j->elapsed = t;
  return NULL;
}

/* Verifications per second of `threads` threads running at once. */
static double run(long threads) {
  pthread_t tid[64];
  job jobs[64];
  memset(jobs, 0, sizeof jobs);
  for (long t = 0; t < threads; t++) CHECK(pthread_create(&tid[t], NULL, verifier, &jobs[t]) == 0);
  double rate = 0;
  for (long t = 0; t < threads; t++) {
    pthread_join(tid[t], NULL);
    rate += (double)jobs[t].done / jobs[t].elapsed;
  }
  return rate;
}

int main(int argc, char **argv) {
  g_seconds = argc > 1 ? atof(argv[1]) : 1.0;
  if (!(g_seconds > 0)) g_seconds = 1.0;
  long threads = sysconf(_SC_NPROCESSORS_ONLN);
  if (threads < 1) threads = 1;
  if (threads > 64) threads = 64;
  const secp256k1_context *ctx = keys_context();
  cx_hash chain_id;
  memset(chain_id.b, 0x42, sizeof chain_id.b);
  for (size_t i = 0; i < NTX; i++) {
    cx_seckey *k = key_generate();
    CHECK(k);
    cx_tx tx;
    tx_init(&tx);
    tx.type = TX_ID_REGISTER;
    tx.chain_id = chain_id;
    uint8_t salt[16] = {0};
    memcpy(salt, &i, sizeof i);
    char nid[32];
    snprintf(nid, sizeof nid, "bench-%zu", i);
    CHECK(did_derive(salt, sizeof salt, nid, &tx.u.reg.did) == CX_OK);
    CHECK(tx_sign(&tx, k) == CX_OK);
    CHECK(tx_sighash(&tx, &g_msg[i]) == CX_OK);
    CHECK(secp256k1_xonly_pubkey_parse(ctx, &g_pk[i], tx.sender.b));
    g_sig[i] = tx.sig;
    key_free(k);
  }
  double one = run(1);
  double all = run(threads);
  printf("raw BIP340 verify, 1 thread:   %.0f /s\n", one);
  printf("raw BIP340 verify, %ld threads: %.0f /s\n", threads, all);
  printf("verify_per_s_1=%.0f verify_per_s_all=%.0f threads=%ld\n", one, all, threads);
  return 0;
}
