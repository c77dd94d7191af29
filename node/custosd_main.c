/* custosd — the Custos node daemon.
 *
 *   custosd --config FILE [--log-level LEVEL]
 *   custosd --config FILE --check      full check of the stored chain, then exit
 *
 * Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 on a fatal runtime
 * error (storage or fsync failure), 2 on a usage error, 3 on a configuration
 * or start-up error (message names the field or the damage). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "node.h"
#include "store.h"

static void usage(FILE *f) {
  fputs("usage: custosd --config FILE [--log-level LEVEL] [--check]\n"
        "\n"
        "Runs a Custos consortium node: the ledger (LevelDB), block production\n"
        "and the JSON-RPC server described in docs/rpc.md.\n"
        "\n"
        "  --config FILE      node configuration (docs/operations.md; written for a\n"
        "                     local devnet by `custos devnet init`)\n"
        "  --log-level LEVEL  trace, debug, info, warn or error (overrides the config)\n"
        "  --check            verify every stored block's hash chain and exit\n"
        "  -h, --help         this help\n"
        "\n"
        "The keystore passphrase comes from the config's passphrase_file or\n"
        "$CUSTOS_PASSPHRASE. Stop with SIGINT or SIGTERM.\n",
        f);
}

int main(int argc, char **argv) {
  const char *cfg_path = NULL, *lvl = NULL;
  int check = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
      cfg_path = argv[++i];
    } else if (!strcmp(argv[i], "--log-level") && i + 1 < argc) {
      lvl = argv[++i];
    } else if (!strcmp(argv[i], "--check")) {
      check = 1;
    } else {
      fprintf(stderr, "custosd: unknown or incomplete argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!cfg_path) {
    fprintf(stderr, "custosd: --config FILE is required\n");
    usage(stderr);
    return 2;
  }
  /* Keys live in this process: no core dumps (TESTING.md, keys at rest). */
  struct rlimit rl = {0, 0};
  setrlimit(RLIMIT_CORE, &rl);

  node_config cfg;
  char err[512] = "";
  if (config_load(cfg_path, &cfg, err, sizeof err)) {
    fprintf(stderr, "custosd: config %s: %s\n", cfg_path, err);
    return 3;
  }
  log_set_level((log_level)cfg.log_level);
  if (lvl) {
    int l = log_level_parse(lvl);
    if (l < 0) {
      fprintf(stderr, "custosd: --log-level: expected trace, debug, info, warn or error\n");
      return 2;
    }
    log_set_level((log_level)l);
  }

  /* Signals are taken synchronously by the main thread: block them before
   * any thread starts so every thread inherits the mask. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  node *n = NULL;
  if (node_open(&cfg, &n, err, sizeof err)) {
    fprintf(stderr, "custosd: %s\n", err);
    return 3;
  }
  if (check) {
    cx_err e = store_verify_all(node_store(n), err, sizeof err);
    if (e)
      fprintf(stderr, "custosd: check failed: %s\n", err);
    else
      printf("custosd: %llu blocks verified\n", (unsigned long long)store_height(node_store(n)));
    node_close(n);
    return e ? 1 : 0;
  }
  if (node_start(n, err, sizeof err)) {
    fprintf(stderr, "custosd: %s\n", err);
    node_close(n);
    return 3;
  }
  LOG_I("node", "custosd %s serving JSON-RPC on %s:%u at height %llu", cfg.name,
        cfg.rpc_listen, (unsigned)node_rpc_port(n),
        (unsigned long long)store_height(node_store(n)));

  int rc = 0;
  for (;;) {
    struct timespec ts = {0, 200 * 1000000L};
    int sig = sigtimedwait(&set, NULL, &ts);
    if (sig == SIGINT || sig == SIGTERM) {
      LOG_I("node", "signal %d: stopping", sig);
      break;
    }
    if (node_failed(n)) {
      LOG_E("node", "stopping after a fatal error");
      rc = 1;
      break;
    }
  }
  node_close(n);
  return rc;
}
