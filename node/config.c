#include "config.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "fileutil.h"
#include "log.h"

void config_defaults(node_config *c) {
  memset(c, 0, sizeof *c);
  strcpy(c->rpc_listen, "127.0.0.1");
  c->rpc_port = 26657;
  c->rpc_max_body = 1u << 20;
  c->rpc_max_conns = 64;
  c->rpc_threads = 4; /* call_wait long-polls hold a worker each */
  c->p2p_keepalive_ms = 1000;
  c->p2p_dead_ms = 5000;
  c->p2p_queue_ttl_ms = 10000;
  c->block_interval_ms = 200;
  c->mempool_max_txs = 50000;
  c->mempool_max_per_sender = 1024;
  c->log_level = LOG_INFO;
  c->mpc_enabled = 0;
  c->mpc_every_blocks = 10;
  c->mpc_batch = 20000;
  c->mpc_pool_triples = 200000;
  c->mpc_pool_rands = 200000;
  c->mpc_low_water = 100000;
  c->mpc_round_timeout_ms = 5000;
  c->sync = 1;
}

/* Resolves p against the config file's directory unless it is absolute. */
static cx_err set_path(char *dst, const char *base_dir, const char *p, const char *field,
                       char *err, size_t errlen) {
  int n;
  if (!*p) {
    snprintf(err, errlen, "%s: must not be empty", field);
    return CX_E_CONFIG;
  }
  if (p[0] == '/')
    n = snprintf(dst, CFG_PATH_MAX, "%s", p);
  else
    n = snprintf(dst, CFG_PATH_MAX, "%s/%s", base_dir, p);
  if (n < 0 || n >= CFG_PATH_MAX) {
    snprintf(err, errlen, "%s: path too long", field);
    return CX_E_CONFIG;
  }
  return CX_OK;
}

static cx_err range(uint64_t v, uint64_t lo, uint64_t hi, const char *field, char *err,
                    size_t errlen) {
  if (v < lo || v > hi) {
    snprintf(err, errlen, "%s: expected %llu..%llu", field, (unsigned long long)lo,
             (unsigned long long)hi);
    return CX_E_CONFIG;
  }
  return CX_OK;
}

/* "mpc": the preprocessing service (node/mpc_service.c). A batch must fit
 * the pool, and low_water defaults to half of pool_triples. */
static cx_err parse_mpc(const cJSON *o, node_config *c, char *err, size_t el) {
  static const char *const mpck[] = {"enabled", "every_blocks", "batch", "pool_triples",
                                     "pool_rands", "low_water", "round_timeout_ms", NULL};
  cx_err e;
  uint64_t v;
  if ((e = json_check_keys(o, mpck, "mpc", err, el))) return e;
  const cJSON *en = cJSON_GetObjectItemCaseSensitive(o, "enabled");
  if (en) {
    if (!cJSON_IsBool(en)) {
      snprintf(err, el, "mpc.enabled: expected true or false");
      return CX_E_CONFIG;
    }
    c->mpc_enabled = cJSON_IsTrue(en);
  }
  const struct {
    const char *key, *field;
    uint64_t lo, hi, def;
  } f[] = {
      {"every_blocks", "mpc.every_blocks", 1, 1000000, c->mpc_every_blocks},
      {"batch", "mpc.batch", 1, 100000, c->mpc_batch},
      {"pool_triples", "mpc.pool_triples", 1, 4000000, c->mpc_pool_triples},
      {"pool_rands", "mpc.pool_rands", 1, 4000000, c->mpc_pool_rands},
      {"round_timeout_ms", "mpc.round_timeout_ms", 100, 600000, c->mpc_round_timeout_ms},
  };
  uint64_t got[5];
  for (size_t i = 0; i < 5; i++) {
    v = f[i].def;
    if ((e = json_get_u64(o, f[i].key, 0, &v, "mpc", err, el)) ||
        (e = range(v, f[i].lo, f[i].hi, f[i].field, err, el)))
      return e;
    got[i] = v;
  }
  c->mpc_every_blocks = (unsigned)got[0];
  c->mpc_batch = (size_t)got[1];
  c->mpc_pool_triples = (size_t)got[2];
  c->mpc_pool_rands = (size_t)got[3];
  c->mpc_round_timeout_ms = (unsigned)got[4];
  if (c->mpc_batch > c->mpc_pool_triples || c->mpc_batch > c->mpc_pool_rands) {
    snprintf(err, el, "mpc.batch: must not exceed mpc.pool_triples (%zu) nor mpc.pool_rands (%zu)",
             c->mpc_pool_triples, c->mpc_pool_rands);
    return CX_E_CONFIG;
  }
  v = c->mpc_pool_triples / 2;
  if ((e = json_get_u64(o, "low_water", 0, &v, "mpc", err, el)) ||
      (e = range(v, 0, c->mpc_pool_triples, "mpc.low_water", err, el)))
    return e;
  c->mpc_low_water = (size_t)v;
  return CX_OK;
}

static cx_err parse(const cJSON *j, const char *base, node_config *c, char *err, size_t el) {
  static const char *const top[] = {"name", "data_dir", "genesis", "keystore",
                                    "passphrase_file", "rpc", "p2p", "block", "mempool",
                                    "log_level", "mpc", NULL};
  static const char *const rpck[] = {"listen", "port", "max_body", "max_conns", "threads", NULL};
  static const char *const p2pk[] = {"listen", "keepalive_ms", "dead_ms", "queue_ttl_ms", NULL};
  static const char *const blockk[] = {"interval_ms", NULL};
  static const char *const mpk[] = {"max_txs", "max_per_sender", NULL};
  const char *s = NULL;
  uint64_t v;
  cx_err e;

  if ((e = json_check_keys(j, top, "config", err, el))) return e;
  if ((e = json_get_str(j, "name", 1, &s, "config", err, el))) return e;
  if (!str_valid(s, CX_NAME_MAX, STR_IDENT)) {
    snprintf(err, el, "name: 1-%d characters of a-z 0-9 _ -", CX_NAME_MAX);
    return CX_E_CONFIG;
  }
  strcpy(c->name, s);
  if ((e = json_get_str(j, "data_dir", 1, &s, "config", err, el)) ||
      (e = set_path(c->data_dir, base, s, "data_dir", err, el)))
    return e;
  if ((e = json_get_str(j, "genesis", 1, &s, "config", err, el)) ||
      (e = set_path(c->genesis, base, s, "genesis", err, el)))
    return e;
  if ((e = json_get_str(j, "keystore", 1, &s, "config", err, el)) ||
      (e = set_path(c->keystore, base, s, "keystore", err, el)))
    return e;
  s = NULL;
  if ((e = json_get_str(j, "passphrase_file", 0, &s, "config", err, el))) return e;
  if (s && (e = set_path(c->passphrase_file, base, s, "passphrase_file", err, el))) return e;
  s = NULL;
  if ((e = json_get_str(j, "log_level", 0, &s, "config", err, el))) return e;
  if (s) {
    int lvl = log_level_parse(s);
    if (lvl < 0) {
      snprintf(err, el, "log_level: expected trace, debug, info, warn, error or off");
      return CX_E_CONFIG;
    }
    c->log_level = lvl;
  }

  const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "rpc");
  if (o) {
    if ((e = json_check_keys(o, rpck, "rpc", err, el))) return e;
    s = NULL;
    if ((e = json_get_str(o, "listen", 0, &s, "rpc", err, el))) return e;
    if (s) {
      if (strlen(s) >= sizeof c->rpc_listen || !str_valid(s, 63, STR_ADDR)) {
        snprintf(err, el, "rpc.listen: expected an IPv4 address such as 127.0.0.1");
        return CX_E_CONFIG;
      }
      strcpy(c->rpc_listen, s);
    }
    v = c->rpc_port;
    if ((e = json_get_u64(o, "port", 0, &v, "rpc", err, el)) ||
        (e = range(v, 0, 65535, "rpc.port", err, el)))
      return e;
    c->rpc_port = (uint16_t)v;
    v = c->rpc_max_body;
    if ((e = json_get_u64(o, "max_body", 0, &v, "rpc", err, el)) ||
        (e = range(v, 1024, 64u << 20, "rpc.max_body", err, el)))
      return e;
    c->rpc_max_body = (size_t)v;
    v = c->rpc_max_conns;
    if ((e = json_get_u64(o, "max_conns", 0, &v, "rpc", err, el)) ||
        (e = range(v, 1, 4096, "rpc.max_conns", err, el)))
      return e;
    c->rpc_max_conns = (unsigned)v;
    v = c->rpc_threads;
    if ((e = json_get_u64(o, "threads", 0, &v, "rpc", err, el)) ||
        (e = range(v, 1, 64, "rpc.threads", err, el)))
      return e;
    c->rpc_threads = (unsigned)v;
  }
  o = cJSON_GetObjectItemCaseSensitive(j, "p2p");
  if (o) {
    if ((e = json_check_keys(o, p2pk, "p2p", err, el))) return e;
    s = NULL;
    if ((e = json_get_str(o, "listen", 0, &s, "p2p", err, el))) return e;
    if (s) {
      if (!str_valid(s, CX_ADDR_MAX, STR_ADDR)) {
        snprintf(err, el, "p2p.listen: expected an address such as tcp://127.0.0.1:26656");
        return CX_E_CONFIG;
      }
      strcpy(c->p2p_listen, s);
    }
    const struct {
      const char *key, *field;
      unsigned *dst;
      uint64_t lo, hi;
    } timers[] = {
        {"keepalive_ms", "p2p.keepalive_ms", &c->p2p_keepalive_ms, 50, 60000},
        {"dead_ms", "p2p.dead_ms", &c->p2p_dead_ms, 200, 600000},
        {"queue_ttl_ms", "p2p.queue_ttl_ms", &c->p2p_queue_ttl_ms, 0, 600000},
    };
    for (size_t i = 0; i < sizeof timers / sizeof timers[0]; i++) {
      v = *timers[i].dst;
      if ((e = json_get_u64(o, timers[i].key, 0, &v, "p2p", err, el)) ||
          (e = range(v, timers[i].lo, timers[i].hi, timers[i].field, err, el)))
        return e;
      *timers[i].dst = (unsigned)v;
    }
    if (c->p2p_dead_ms <= c->p2p_keepalive_ms) {
      snprintf(err, el, "p2p.dead_ms: must be greater than p2p.keepalive_ms (%u)",
               c->p2p_keepalive_ms);
      return CX_E_CONFIG;
    }
  }
  o = cJSON_GetObjectItemCaseSensitive(j, "block");
  if (o) {
    if ((e = json_check_keys(o, blockk, "block", err, el))) return e;
    v = c->block_interval_ms;
    if ((e = json_get_u64(o, "interval_ms", 0, &v, "block", err, el)) ||
        (e = range(v, 1, 60000, "block.interval_ms", err, el)))
      return e;
    c->block_interval_ms = (unsigned)v;
  }
  o = cJSON_GetObjectItemCaseSensitive(j, "mempool");
  if (o) {
    if ((e = json_check_keys(o, mpk, "mempool", err, el))) return e;
    v = c->mempool_max_txs;
    if ((e = json_get_u64(o, "max_txs", 0, &v, "mempool", err, el)) ||
        (e = range(v, 1, 1000000, "mempool.max_txs", err, el)))
      return e;
    c->mempool_max_txs = (size_t)v;
    v = c->mempool_max_per_sender;
    if ((e = json_get_u64(o, "max_per_sender", 0, &v, "mempool", err, el)) ||
        (e = range(v, 1, 100000, "mempool.max_per_sender", err, el)))
      return e;
    c->mempool_max_per_sender = (size_t)v;
  }
  o = cJSON_GetObjectItemCaseSensitive(j, "mpc");
  if (o && (e = parse_mpc(o, c, err, el))) return e;
  return CX_OK;
}

cx_err config_load(const char *path, node_config *c, char *err, size_t errlen) {
  char *text = NULL, base[PATH_MAX];
  config_defaults(c);
  cx_err e = file_read_all(path, 1u << 20, &text, NULL);
  if (e) {
    snprintf(err, errlen, "%s: cannot read (%s)", path, cx_err_str(e));
    return e;
  }
  /* Base directory for relative paths: the config file's directory. */
  char abs[PATH_MAX];
  if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
  snprintf(base, sizeof base, "%s", abs);
  char *slash = strrchr(base, '/');
  if (slash) *slash = 0; else strcpy(base, ".");
  cJSON *j = cJSON_Parse(text);
  free(text);
  if (!j) {
    snprintf(err, errlen, "%s: malformed JSON", path);
    return CX_E_CONFIG;
  }
  e = parse(j, base, c, err, errlen);
  cJSON_Delete(j);
  return e;
}
