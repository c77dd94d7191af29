/* genesis: the genesis file (JSON) <-> vm_genesis.
 *
 * {
 *   "chain_name": "custos-devnet",
 *   "time_ms": 1795000000000,
 *   "block_max_txs": 5000,
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

/* Reads a whole file (cap bytes at most) into a NUL-terminated malloc'd buffer. */
cx_err file_read_all(const char *path, size_t cap, char **out, size_t *len);
/* Writes a file atomically: tmp file, fsync, rename, fsync dir. mode e.g. 0644/0600. */
cx_err file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* JSON field helpers shared by the config and genesis parsers: each writes a
 * message naming `where` into err on failure. */
cx_err json_check_keys(const cJSON *obj, const char *const *allowed, const char *where,
                       char *err, size_t errlen);
cx_err json_get_str(const cJSON *obj, const char *key, int required, const char **out,
                    const char *where, char *err, size_t errlen);
cx_err json_get_u64(const cJSON *obj, const char *key, int required, uint64_t *out,
                    const char *where, char *err, size_t errlen);
cx_err json_get_bool(const cJSON *obj, const char *key, int required, int *out,
                     const char *where, char *err, size_t errlen);

#endif
