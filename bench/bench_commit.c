/* bench_commit: validated-and-committed transactions per second on one node
 * versus raw libsecp256k1 BIP340 verifications per second, measured side by
 * side on the same signed transactions (issue: foundation, bench/).
 *
 *   bench_commit [N]          N transactions (default 20000)
 *
 * Raw: secp256k1_schnorrsig_verify over the N precomputed sighashes, one
 * thread. Node: a real node (LevelDB on disk, synced block commits) opened
 * in-process; every transaction goes through node_submit (decode, chain,
 * nonce, signature, rule dry-run, mempool) from CUSTOS_BENCH_THREADS
 * submitter threads (default: the number of cores, like the RPC workers),
 * then blocks are produced until the mempool is empty. Printed ratio =
 * node tx/s / raw verify/s; the target is >= 0.6. */
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
#include "fileutil.h"
#include "genesis.h"
#include "keystore.h"
#include "log.h"
#include "node.h"
#include "tx.h"


typedef struct {
  node *n;
  uint8_t **raw;
  size_t *len;
  size_t from, to;
  size_t failed;
} submit_job;

static void *submitter(void *arg) {
  submit_job *j = arg;
  for (size_t i = j->from; i < j->to; i++) {
    cx_hash id;
    char detail[128];
    if (node_submit(j->n, j->raw[i], j->len[i], &id, detail, sizeof detail)) j->failed++;
  }
  return NULL;
}

#define CHECK(x)                                                         \
  do {                                                                   \
    if (!(x)) {                                                          \
      fprintf(stderr, "bench_commit: %s failed at line %d\n", #x, __LINE__); \
      exit(1);                                                           \
    }                                                                    \
  } while (0)

int main(int argc, char **argv) {
  size_t N = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 20000;
  const char *th = getenv("CUSTOS_BENCH_THREADS");
  long nthreads = th ? atol(th) : sysconf(_SC_NPROCESSORS_ONLN);
  if (nthreads < 1) nthreads = 1;
  log_set_level(LOG_WARN);

  /* A one-validator chain in a temporary directory. */
  char dir[] = "/tmp/custos-bench-XXXXXX";
  CHECK(mkdtemp(dir));
  keystore_keys val;
  CHECK(keystore_generate(&val) == CX_OK);
  char path[512];
  snprintf(path, sizeof path, "%s/key.json", dir);
  CHECK(keystore_save(path, &val, "bench", KS_KDF_FAST) == CX_OK);
  vm_genesis *g = calloc(1, sizeof *g);
  CHECK(g);
  strcpy(g->chain_name, "bench");
  g->time_ms = 1;
  g->block_max_txs = 5000;
  g->nmembers = 1;
  strcpy(g->members[0].name, "hrss");
  g->members[0].role = ROLE_BUREAU;
  g->members[0].key = val.pub;
  memcpy(g->members[0].enc_key, val.enc_public, 32);
  g->members[0].validator = 1;
  strcpy(g->members[0].address, "tcp://127.0.0.1:1");
  CHECK(domain_set_add(&g->members[0].domains, "hrss") == CX_OK);
  cJSON *gj = genesis_to_json(g);
  char *gtext = cJSON_Print(gj);
  snprintf(path, sizeof path, "%s/genesis.json", dir);
  CHECK(file_write_atomic(path, gtext, strlen(gtext), 0644) == CX_OK);
  cJSON_Delete(gj);
  free(gtext);
  cx_hash chain_id;
  vm_genesis_hash(g, &chain_id);

  node_config cfg;
  config_defaults(&cfg);
  strcpy(cfg.name, "hrss");
  snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s/data", dir);
  snprintf(cfg.genesis, sizeof cfg.genesis, "%s/genesis.json", dir);
  snprintf(cfg.keystore, sizeof cfg.keystore, "%s/key.json", dir);
  cfg.mempool_max_txs = N + 16;
  cfg.sync = 1;
  setenv("CUSTOS_PASSPHRASE", "bench", 1);

  /* N identity registrations, each from its own subject key. */
  printf("preparing %zu signed transactions...\n", N);
  uint8_t **raw = calloc(N, sizeof *raw);
  size_t *len = calloc(N, sizeof *len);
  cx_hash *sighash = calloc(N, sizeof *sighash);
  cx_pubkey *pk = calloc(N, sizeof *pk);
  cx_sig *sig = calloc(N, sizeof *sig);
  CHECK(raw && len && sighash && pk && sig);
  for (size_t i = 0; i < N; i++) {
    cx_seckey *k = key_generate();
    CHECK(k);
    cx_tx tx;
    tx_init(&tx);
    tx.type = TX_ID_REGISTER;
    tx.chain_id = chain_id;
    tx.nonce = 0;
    uint8_t salt[16];
    memcpy(salt, &i, sizeof i);
    memset(salt + sizeof i, 0x5a, sizeof salt - sizeof i);
    char nid[32];
    snprintf(nid, sizeof nid, "1101011990%08zu", i);
    CHECK(did_derive(salt, sizeof salt, nid, &tx.u.reg.did) == CX_OK);
    CHECK(tx_sign(&tx, k) == CX_OK);
    CHECK(tx_sighash(&tx, &sighash[i]) == CX_OK);
    pk[i] = tx.sender;
    sig[i] = tx.sig;
    CHECK(tx_encode(&tx, 1, &raw[i], &len[i]) == CX_OK);
    key_free(k);
  }

  /* Raw verification, one thread. */
  const secp256k1_context *ctx = keys_context();
  secp256k1_xonly_pubkey *xpk = calloc(N, sizeof *xpk);
  CHECK(xpk);
  for (size_t i = 0; i < N; i++) CHECK(secp256k1_xonly_pubkey_parse(ctx, &xpk[i], pk[i].b));
  double t0 = bench_now_s();
  size_t ok = 0;
  for (size_t i = 0; i < N; i++)
    ok += (size_t)secp256k1_schnorrsig_verify(ctx, sig[i].b, sighash[i].b, 32, &xpk[i]);
  double raw_s = bench_now_s() - t0;
  CHECK(ok == N);
  double raw_rate = (double)N / raw_s;

  /* The node: admission from nthreads submitters, then synced blocks. */
  node *n;
  char err[256];
  if (node_open(&cfg, &n, err, sizeof err)) {
    fprintf(stderr, "bench_commit: %s\n", err);
    return 1;
  }
  t0 = bench_now_s();
  pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
  submit_job *jobs = calloc((size_t)nthreads, sizeof *jobs);
  CHECK(tids && jobs);
  for (long t = 0; t < nthreads; t++) {
    jobs[t] = (submit_job){n, raw, len, N * (size_t)t / (size_t)nthreads,
                           N * (size_t)(t + 1) / (size_t)nthreads, 0};
    CHECK(pthread_create(&tids[t], NULL, submitter, &jobs[t]) == 0);
  }
  size_t failed = 0;
  for (long t = 0; t < nthreads; t++) {
    pthread_join(tids[t], NULL);
    failed += jobs[t].failed;
  }
  double t_admit = bench_now_s() - t0;
  size_t committed = 0, blocks = 0, got;
  do {
    CHECK(node_produce_block(n, &got) == CX_OK);
    committed += got;
    blocks += got ? 1 : 0;
  } while (got);
  double node_s = bench_now_s() - t0;
  CHECK(failed == 0);
  CHECK(committed == N);
  double node_rate = (double)N / node_s;

  printf("transactions:              %zu (identity_register, one sender each)\n", N);
  printf("raw BIP340 verify:         %.0f /s (1 thread)\n", raw_rate);
  printf("node validated+committed:  %.0f tx/s (%ld submitter threads, %zu synced blocks)\n",
         node_rate, nthreads, blocks);
  printf("  admission share:         %.0f%% of node time\n", 100.0 * t_admit / node_s);
  printf("ratio node/raw:            %.2f (target >= 0.60)\n", node_rate / raw_rate);

  node_close(n);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_commit: could not remove %s\n", dir);
  for (size_t i = 0; i < N; i++) free(raw[i]);
  free(raw);
  free(len);
  free(sighash);
  free(pk);
  free(sig);
  free(xpk);
  free(tids);
  free(jobs);
  free(g);
  keystore_keys_free(&val);
  return node_rate / raw_rate >= 0.6 ? 0 : 1;
}
