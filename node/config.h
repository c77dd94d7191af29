/* config: custosd's configuration file (JSON). Every field is checked and an
 * error names the field ("rpc.port: expected 1..65535"). Relative paths are
 * resolved against the config file's directory.
 *
 * {
 *   "name": "hrss",                    member name this node runs as
 *   "data_dir": "data",                LevelDB store and the RPC cookie
 *   "genesis": "../genesis.json",
 *   "keystore": "key.json",            argon2id-encrypted member key
 *   "passphrase_file": "passphrase",   optional; else $CUSTOS_PASSPHRASE
 *   "rpc": {"listen": "127.0.0.1", "port": 26657, "max_body": 1048576,
 *           "max_conns": 64, "threads": 2},
 *   "p2p": {"listen": "tcp://127.0.0.1:26656",  default: our genesis address
 *           "keepalive_ms": 1000, "dead_ms": 5000,   link liveness (net.h)
 *           "queue_ttl_ms": 10000},                  queued messages expire
 *   "block": {"interval_ms": 200},
 *   "mempool": {"max_txs": 50000, "max_per_sender": 1024},
 *   "mpc": {"enabled": false,          MPC preprocessing service (docs/operations.md,
 *           "every_blocks": 10,        "MPC preprocessing"): a batch may start at
 *           "batch": 20000,            every every_blocks-th height; triples and
 *           "pool_triples": 200000,    rands per batch; pool bounds; a batch
 *           "pool_rands": 200000,      starts only below low_water triples (or
 *           "low_water": 100000,       rands); default half of pool_triples
 *           "round_timeout_ms": 5000},
 *   "log_level": "info"
 * } */
#ifndef CUSTOS_CONFIG_H
#define CUSTOS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tx.h"

#define CFG_PATH_MAX 1024

typedef struct {
  char name[CX_NAME_MAX + 1];
  char data_dir[CFG_PATH_MAX];
  char genesis[CFG_PATH_MAX];
  char keystore[CFG_PATH_MAX];
  char passphrase_file[CFG_PATH_MAX]; /* "" = use $CUSTOS_PASSPHRASE */
  char rpc_listen[64];
  uint16_t rpc_port;
  size_t rpc_max_body;
  unsigned rpc_max_conns;
  unsigned rpc_threads;
  char p2p_listen[CX_ADDR_MAX + 1]; /* "" = the member's address in genesis */
  unsigned p2p_keepalive_ms, p2p_dead_ms, p2p_queue_ttl_ms;
  unsigned block_interval_ms;
  size_t mempool_max_txs;
  size_t mempool_max_per_sender;
  int log_level;
  /* MPC preprocessing (node/mpc_service.c) */
  int mpc_enabled;
  unsigned mpc_every_blocks;
  size_t mpc_batch;
  size_t mpc_pool_triples, mpc_pool_rands;
  size_t mpc_low_water; /* default: half of pool_triples */
  unsigned mpc_round_timeout_ms;
  int sync; /* fsync commits; always 1 except for explicit benchmarks */
} node_config;

void config_defaults(node_config *c);
cx_err config_load(const char *path, node_config *c, char *err, size_t errlen);

#endif
