/* config: custosd's configuration file (JSON). Relative paths are resolved
 * against the config file's directory. The operator's reference, with every
 * field's type, default and meaning, is docs/operator-guide.md
 * ("Configure"); tests/unit/test_config.c checks that every field listed by
 * config_field() is documented there.
 *
 * {
 *   "name": "hrss",                    member name this node runs as
 *   "data_dir": "data",                LevelDB store and the RPC cookie
 *   "genesis": "../genesis.json",      must exist
 *   "keystore": "key.json",            argon2id-encrypted member key; must exist
 *   "passphrase_file": "passphrase",   optional (must exist); else $CUSTOS_PASSPHRASE
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
 *   "keys": {"enabled": true},         the key service (docs/keys.md §5)
 *   "statesync": {"enabled": true,     a node at height 0 installs a snapshot
 *                 "serve": true,       from its peers first; serves one to them
 *                 "wait_ms": 3000,     (docs/statesync.md)
 *                 "min_height": 16},
 *   "log_level": "info"
 * }
 *
 * Validation (all CX_E_CONFIG, the first problem only): every message starts
 * with the field's JSON path and says what was expected and what was found,
 * e.g. `mpc.batch: expected an integer 1..100000, got "x"`. Refused: unknown
 * fields (with "did you mean" for a close known name), a key given twice in
 * one object, wrong types, numbers out of range, empty strings, malformed
 * addresses (rpc.listen an IPv4 address; p2p.listen tcp://HOST:PORT with
 * PORT 1..65535, or ipc://PATH), rpc.port equal to p2p.listen's port on an
 * overlapping host, p2p.dead_ms not above p2p.keepalive_ms, mpc.batch over a
 * pool bound, mpc.low_water over mpc.pool_triples, genesis / keystore /
 * passphrase_file missing or not regular files or lying inside data_dir
 * (custos restore replaces data_dir), data_dir existing as a non-directory.
 * The config holds no secret (the passphrase is in a separate file or the
 * environment), so values are quoted in messages. */
#ifndef CUSTOS_CONFIG_H
#define CUSTOS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tx.h"

#define CFG_PATH_MAX 1024
#define CFG_FILE_MAX (1u << 20) /* a config file larger than this is refused */

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
  /* The key service (node/key_service.c, docs/keys.md §5): this node's part
   * in the consortium keys, the beacon and custody signing. */
  int keys_enabled;
  /* State sync (node/statesync_node.c, docs/statesync.md): a node whose
   * store is at height 0 first installs a snapshot from its peers; every
   * node serves one. */
  int statesync_enabled;
  int statesync_serve;
  unsigned statesync_wait_ms;    /* how long to wait for offers */
  uint64_t statesync_min_height; /* offers below it are not taken */
  int sync; /* fsync commits; always 1 except for explicit benchmarks */
} node_config;

void config_defaults(node_config *c);
/* Reads and validates FILE (at most CFG_FILE_MAX bytes); err names the
 * field. */
cx_err config_load(const char *path, node_config *c, char *err, size_t errlen);
/* The same on len bytes of text (need not be NUL-terminated); relative
 * paths resolve against base_dir. The entry point of tests/fuzz/fuzz_config.c. */
cx_err config_parse_buffer(const char *text, size_t len, const char *base_dir, node_config *c,
                           char *err, size_t errlen);

/* The JSON path of the i-th field the parser accepts ("rpc.port"), or NULL
 * past the last: the list docs/operator-guide.md is checked against. */
const char *config_field(size_t i);

/* What `custosd --check-config` adds to config_load: the genesis parses and
 * names `name` as a member; p2p.listen (or, unset, the member's genesis
 * address) does not clash with the RPC port; the keystore parses, and when
 * a passphrase is available (passphrase_file, or $CUSTOS_PASSPHRASE when
 * there is none) it unlocks: *unlocked = 1, else 0. A keystore key other
 * than the genesis entry's is not an error (a member rekeyed on chain): it
 * is reported in note (empty otherwise), custosd checks the key against the
 * validator set in force at start. Keys are wiped before return. */
cx_err config_check_deep(const node_config *c, int *unlocked, char *note, size_t notelen,
                         char *err, size_t errlen);

#endif
