/* custosd — the Custos node daemon.
 *
 *   custosd --config FILE [--log-level LEVEL]
 *   custosd --config FILE --check      full check of the stored chain, then exit
 *   custosd --config FILE --check-config   validate the config, then exit
 *
 * Exit status: 0 after a clean stop (SIGINT/SIGTERM), 1 on a fatal runtime
 * error (storage or fsync failure), 2 on a usage error, 3 on a configuration
 * or start-up error (message names the field or the damage).
 * --check-config: 0 and "config ok ..." on stdout, or 1 and the first
 * problem on stderr (it starts the node's systemd unit: ExecStartPre). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "mpc.h"
#include "node.h"
#include "store.h"

static void usage(FILE *f) {
  fputs("usage: custosd --config FILE [--log-level LEVEL] [--check | --check-config]\n"
        "\n"
        "Runs a Custos consortium node: the ledger (LevelDB), block production\n"
        "and the JSON-RPC server described in docs/rpc.md.\n"
        "\n"
        "  --config FILE      node configuration (docs/operations.md; written for a\n"
        "                     local devnet by `custos devnet init`)\n"
        "  --log-level LEVEL  trace, debug, info, warn or error (overrides the config)\n"
        "  --check            verify every stored block's hash chain and exit\n"
        "  --check-config     validate the config (fields, files, genesis, keystore;\n"
        "                     unlocks the keystore when a passphrase is available)\n"
        "                     and exit: 0 \"config ok\", 1 with the first problem\n"
        "  -h, --help         this help\n"
        "\n"
        "The keystore passphrase comes from the config's passphrase_file, else\n"
        "$CUSTOS_PASSPHRASE, else the systemd credential \"passphrase\"\n"
        "($CREDENTIALS_DIRECTORY/passphrase). Stop with SIGINT or SIGTERM.\n",
        f);
}

/* The passphrase's last source, after passphrase_file and
 * $CUSTOS_PASSPHRASE: a systemd credential named "passphrase"
 * (LoadCredential=passphrase:FILE, configs/systemd/custosd.service), a file
 * only this service can read, so the config need not name
 * /run/credentials/<unit>/ and a hand-run --check-config works too. */
static void use_systemd_credential(node_config *cfg) {
  const char *dir = getenv("CREDENTIALS_DIRECTORY"), *env = getenv("CUSTOS_PASSPHRASE");
  char p[CFG_PATH_MAX];
  if (cfg->passphrase_file[0] || (env && *env) || !dir || !*dir) return;
  int n = snprintf(p, sizeof p, "%s/passphrase", dir);
  if (n > 0 && (size_t)n < sizeof p && access(p, R_OK) == 0)
    memcpy(cfg->passphrase_file, p, (size_t)n + 1);
}

/* --check-config: config_load, then config_check_deep (config.h). */
static int run_check_config(const char *path) {
  node_config cfg;
  char err[512] = "", note[256] = "";
  int unlocked = 0;
  cx_err e = config_load(path, &cfg, err, sizeof err);
  if (!e) {
    use_systemd_credential(&cfg);
    e = config_check_deep(&cfg, &unlocked, note, sizeof note, err, sizeof err);
  }
  if (e) {
    fprintf(stderr, "custosd: config %s: %s\n", path, err);
    return 1;
  }
  if (note[0]) fprintf(stderr, "custosd: note: %s\n", note);
  printf("config ok: %s (member %s; keystore %s)\n", path, cfg.name,
         unlocked ? "unlocked"
                  : "not unlocked: no passphrase_file, $CUSTOS_PASSPHRASE or systemd credential");
  return 0;
}

int main(int argc, char **argv) {
  const char *cfg_path = NULL, *lvl = NULL;
  int check = 0, check_config = 0;
  mpc_tune_malloc(); /* MPC messages are megabytes: keep them in the heap */
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
    } else if (!strcmp(argv[i], "--check-config")) {
      check_config = 1;
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
  if (check && check_config) {
    fprintf(stderr, "custosd: --check and --check-config: give one of them\n");
    return 2;
  }
  /* Keys live in this process: no core dumps (TESTING.md, keys at rest). */
  struct rlimit rl = {0, 0};
  setrlimit(RLIMIT_CORE, &rl);

  node_config cfg;
  char err[512] = "";
  if (check_config) return run_check_config(cfg_path);
  if (config_load(cfg_path, &cfg, err, sizeof err)) {
    fprintf(stderr, "custosd: config %s: %s\n", cfg_path, err);
    return 3;
  }
  use_systemd_credential(&cfg);
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
