/* genesis: the genesis file (JSON) <-> vm_genesis.
 *
 * {
 *   "chain_name": "custos-devnet",
 *   "time_ms": 1795000000000,
 *   "block_max_txs": 5000,
 *   "bench_commands": false,   (optional; true: the chain accepts TX_COMMAND)
 *   "members": [
 *     {"name": "hrss", "role": "bureau", "key": "<64 hex>", "enc_key": "<64 hex>",
 *      "validator": true, "address": "tcp://127.0.0.1:26601", "domains": ["hrss"]},
 *     ...]
 * }
 * Unknown fields are refused (a typo must not silently change a chain). */
#ifndef CUSTOS_GENESIS_H
#define CUSTOS_GENESIS_H

#include <cjson/cJSON.h>

#include "vm.h"

/* Parses and validates (vm_genesis_validate). On error err names the field,
 * e.g. "members[1].key: expected 64 hex digits". */
cx_err genesis_from_json(const cJSON *j, vm_genesis *g, char *err, size_t errlen);
cx_err genesis_load(const char *path, vm_genesis *g, char *err, size_t errlen);
/* Canonical JSON rendering (caller frees with cJSON_Delete). */
cJSON *genesis_to_json(const vm_genesis *g);

#endif
