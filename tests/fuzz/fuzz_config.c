/* fuzz_config: config_parse_buffer, custosd's config parser (node/config.h).
 *
 * Input: the config text. Relative paths resolve against a temporary
 * directory holding genesis.json, key.json and passphrase (empty files: the
 * parser only checks that they exist), so accepted configs are reachable.
 * Checks: no crash or leak (sanitizers); a refusal is CX_E_CONFIG with a
 * non-empty one-line message (no control bytes) that starts with a field
 * path, "(top level)" or "malformed JSON"; an accepted config has every
 * number in its documented range and keeps the cross-field rules. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char g_dir[64];

static void cleanup(void) {
  static const char *const leaves[] = {"genesis.json", "key.json", "passphrase", NULL};
  char p[128];
  for (int i = 0; leaves[i]; i++) {
    snprintf(p, sizeof p, "%s/%s", g_dir, leaves[i]);
    unlink(p);
  }
  rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  static const char *const leaves[] = {"genesis.json", "key.json", "passphrase", NULL};
  snprintf(g_dir, sizeof g_dir, "/tmp/custos-fuzz-config-XXXXXX");
  if (!mkdtemp(g_dir)) abort();
  for (int i = 0; leaves[i]; i++) {
    char p[128];
    snprintf(p, sizeof p, "%s/%s", g_dir, leaves[i]);
    FILE *f = fopen(p, "w");
    if (!f) abort();
    fclose(f);
  }
  atexit(cleanup);
  return 0;
}

/* The message starts with a known field or section path, or one of the
 * other documented beginnings. Unknown keys are named too, so any
 * "<path>: " prefix is accepted when the message says "unknown field". */
static int well_formed(const char *err) {
  if (!err[0]) return 0;
  for (const char *p = err; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) return 0;
  if (!strncmp(err, "malformed JSON at line ", 23) || !strncmp(err, "(top level): ", 13)) return 1;
  if (strstr(err, ": unknown field") || strstr(err, ": given twice")) return 1;
  static const char *const sections[] = {"rpc: ", "p2p: ", "block: ", "mempool: ", "mpc: ", "keys: ",
                                         "statesync: ", NULL};
  for (int i = 0; sections[i]; i++)
    if (!strncmp(err, sections[i], strlen(sections[i]))) return 1;
  for (size_t i = 0; config_field(i); i++) {
    size_t n = strlen(config_field(i));
    if (!strncmp(err, config_field(i), n) && (err[n] == ':' || err[n] == ' ')) return 1;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!g_dir[0]) LLVMFuzzerInitialize(NULL, NULL);
  node_config c;
  char err[512] = "";
  cx_err e = config_parse_buffer((const char *)data, size, g_dir, &c, err, sizeof err);
  if (e) {
    if (e != CX_E_CONFIG || !well_formed(err)) {
      fprintf(stderr, "fuzz_config: code %d, message \"%s\"\n", (int)e, err);
      abort();
    }
    return 0;
  }
  /* accepted: the ranges of config.h / docs/operator-guide.md */
  if (!c.name[0] || c.genesis[0] != '/' || c.keystore[0] != '/' || c.data_dir[0] != '/') abort();
  if (c.rpc_max_body < 1024 || c.rpc_max_body > (64u << 20)) abort();
  if (c.rpc_max_conns < 1 || c.rpc_max_conns > 4096 || c.rpc_threads < 1 || c.rpc_threads > 64)
    abort();
  if (c.p2p_keepalive_ms < 50 || c.p2p_dead_ms <= c.p2p_keepalive_ms || c.p2p_dead_ms > 600000 ||
      c.p2p_queue_ttl_ms > 600000)
    abort();
  if (c.block_interval_ms < 1 || c.block_interval_ms > 60000) abort();
  if (c.mempool_max_txs < 1 || c.mempool_max_txs > 1000000 || c.mempool_max_per_sender < 1 ||
      c.mempool_max_per_sender > 100000)
    abort();
  if (c.mpc_batch < 1 || c.mpc_batch > c.mpc_pool_triples || c.mpc_batch > c.mpc_pool_rands ||
      c.mpc_low_water > c.mpc_pool_triples || c.mpc_pool_triples > 4000000 ||
      c.mpc_pool_rands > 4000000 || c.mpc_every_blocks < 1 || c.mpc_round_timeout_ms < 100)
    abort();
  if (c.log_level < 0 || (c.mpc_enabled != 0 && c.mpc_enabled != 1)) abort();
  if ((c.statesync_enabled != 0 && c.statesync_enabled != 1) ||
      (c.statesync_serve != 0 && c.statesync_serve != 1) || c.statesync_wait_ms < 100 ||
      c.statesync_wait_ms > 600000 || c.statesync_min_height < 1)
    abort();
  if (memchr(c.name, 0, sizeof c.name) == NULL || memchr(c.p2p_listen, 0, sizeof c.p2p_listen) == NULL)
    abort();
  return 0;
}
