/* config: custosd's JSON configuration, one table of fields (FIELDS) that
 * drives parsing, the known-key checks, "did you mean" and the list of
 * fields the operator guide must document (config_field). Every refusal is a
 * sentence that starts with the field's JSON path (config.h). */
#include "config.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "fileutil.h"
#include "genesis.h"
#include "hash.h"
#include "keystore.h"
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
  c->keys_enabled = 1;
  c->statesync_enabled = 1;
  c->statesync_serve = 1;
  c->statesync_wait_ms = 3000;
  c->statesync_min_height = 16;
  c->mpc_every_blocks = 10;
  c->mpc_batch = 20000;
  c->mpc_pool_triples = 200000;
  c->mpc_pool_rands = 200000;
  c->mpc_low_water = 100000;
  c->mpc_round_timeout_ms = 5000;
  c->sync = 1;
}

/* ---- the field table ---- */

typedef enum {
  F_NAME,  /* STR_IDENT, 1..CX_NAME_MAX */
  F_PATH,  /* non-empty, resolved against the config's directory */
  F_HOST,  /* an IPv4 address (rpc.c binds with inet_pton(AF_INET)) */
  F_P2P,   /* tcp://HOST:PORT or ipc://PATH (nanomsg bind address) */
  F_UINT,  /* an integer lo..hi */
  F_BOOL,
  F_LEVEL, /* log level name */
} fkind;

/* What a path field must be on disk (checked last, after every field). */
enum { P_NONE, P_FILE, P_DIR_OR_ABSENT };

typedef struct {
  const char *path; /* JSON path: "key" or "section.key" */
  fkind kind;
  size_t off, size; /* destination in node_config */
  uint64_t lo, hi;  /* F_UINT */
  int required;
  int disk; /* F_PATH: P_FILE or P_DIR_OR_ABSENT */
} field;

#define FLD(p, k, m, lo, hi, req, disk)                                                     \
  { p, k, offsetof(node_config, m), sizeof(((node_config *)0)->m), lo, hi, req, disk }

static const field FIELDS[] = {
    FLD("name", F_NAME, name, 0, 0, 1, P_NONE),
    FLD("data_dir", F_PATH, data_dir, 0, 0, 1, P_DIR_OR_ABSENT),
    FLD("genesis", F_PATH, genesis, 0, 0, 1, P_FILE),
    FLD("keystore", F_PATH, keystore, 0, 0, 1, P_FILE),
    FLD("passphrase_file", F_PATH, passphrase_file, 0, 0, 0, P_FILE),
    FLD("log_level", F_LEVEL, log_level, 0, 0, 0, P_NONE),
    FLD("rpc.listen", F_HOST, rpc_listen, 0, 0, 0, P_NONE),
    /* 0: any free port (in-process tests read it back with node_rpc_port) */
    FLD("rpc.port", F_UINT, rpc_port, 0, 65535, 0, P_NONE),
    FLD("rpc.max_body", F_UINT, rpc_max_body, 1024, 64u << 20, 0, P_NONE),
    FLD("rpc.max_conns", F_UINT, rpc_max_conns, 1, 4096, 0, P_NONE),
    FLD("rpc.threads", F_UINT, rpc_threads, 1, 64, 0, P_NONE),
    FLD("p2p.listen", F_P2P, p2p_listen, 0, 0, 0, P_NONE),
    FLD("p2p.keepalive_ms", F_UINT, p2p_keepalive_ms, 50, 60000, 0, P_NONE),
    FLD("p2p.dead_ms", F_UINT, p2p_dead_ms, 200, 600000, 0, P_NONE),
    FLD("p2p.queue_ttl_ms", F_UINT, p2p_queue_ttl_ms, 0, 600000, 0, P_NONE),
    FLD("block.interval_ms", F_UINT, block_interval_ms, 1, 60000, 0, P_NONE),
    FLD("mempool.max_txs", F_UINT, mempool_max_txs, 1, 1000000, 0, P_NONE),
    FLD("mempool.max_per_sender", F_UINT, mempool_max_per_sender, 1, 100000, 0, P_NONE),
    FLD("mpc.enabled", F_BOOL, mpc_enabled, 0, 0, 0, P_NONE),
    FLD("mpc.every_blocks", F_UINT, mpc_every_blocks, 1, 1000000, 0, P_NONE),
    FLD("mpc.batch", F_UINT, mpc_batch, 1, 100000, 0, P_NONE),
    FLD("mpc.pool_triples", F_UINT, mpc_pool_triples, 1, 4000000, 0, P_NONE),
    FLD("mpc.pool_rands", F_UINT, mpc_pool_rands, 1, 4000000, 0, P_NONE),
    FLD("mpc.low_water", F_UINT, mpc_low_water, 0, 4000000, 0, P_NONE),
    FLD("mpc.round_timeout_ms", F_UINT, mpc_round_timeout_ms, 100, 600000, 0, P_NONE),
    FLD("keys.enabled", F_BOOL, keys_enabled, 0, 0, 0, P_NONE),
    FLD("statesync.enabled", F_BOOL, statesync_enabled, 0, 0, 0, P_NONE),
    FLD("statesync.serve", F_BOOL, statesync_serve, 0, 0, 0, P_NONE),
    FLD("statesync.wait_ms", F_UINT, statesync_wait_ms, 100, 600000, 0, P_NONE),
    FLD("statesync.min_height", F_UINT, statesync_min_height, 1, 1000000000000ull, 0, P_NONE),
};
#define NFIELDS (sizeof FIELDS / sizeof FIELDS[0])

/* Objects that group fields (the part of a path before the dot). */
static const char *const SECTIONS[] = {"rpc", "p2p", "block", "mempool", "mpc", "keys",
                                       "statesync", NULL};

const char *config_field(size_t i) { return i < NFIELDS ? FIELDS[i].path : NULL; }

/* The key of a path inside its object ("rpc.port" -> "port"). */
static const char *leaf(const char *path) {
  const char *dot = strchr(path, '.');
  return dot ? dot + 1 : path;
}

/* 1 if path lies directly in section (NULL: the top level). */
static int in_section(const char *path, const char *section) {
  const char *dot = strchr(path, '.');
  if (!section) return dot == NULL;
  size_t n = strlen(section);
  return dot && (size_t)(dot - path) == n && strncmp(path, section, n) == 0;
}

/* ---- messages ---- */

/* A JSON value as the message shows it: strings quoted, anything else as
 * compact JSON; at most ~40 characters, bytes outside printable ASCII as
 * \xNN so that a message is always one clean line. */
static void show(const cJSON *v, char *out, size_t cap) {
  char *txt = NULL;
  const char *s;
  int quote = cJSON_IsString(v);
  if (quote) {
    s = v->valuestring ? v->valuestring : "";
  } else {
    txt = cJSON_PrintUnformatted(v);
    s = txt ? txt : "(a value)";
  }
  size_t o = 0, lim = cap > 8 ? cap - 8 : 0;
  if (quote && o < lim) out[o++] = '"';
  for (size_t i = 0; s[i] && o < lim; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (i >= 40) {
      o += (size_t)snprintf(out + o, cap - o, "...");
      break;
    }
    if (ch < 0x20 || ch >= 0x7f || (quote && (ch == '"' || ch == '\\')))
      o += (size_t)snprintf(out + o, cap - o, ch == '"' || ch == '\\' ? "\\%c" : "\\x%02x", ch);
    else
      out[o++] = (char)ch;
  }
  if (quote && o < cap - 1) out[o++] = '"';
  out[o < cap ? o : cap - 1] = 0;
  free(txt);
}

static cx_err bad(const char *path, const char *expected, const cJSON *got, char *err, size_t el) {
  char v[64];
  show(got, v, sizeof v);
  return cx_errf(err, el, CX_E_CONFIG, "%s: expected %s, got %s", path, expected, v);
}

/* Levenshtein distance, ASCII case folded; big for long strings. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b), row[65];
  if (la > 64 || lb > 64) return SIZE_MAX;
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      int ca = a[i - 1] | 0x20, cb = b[j - 1] | 0x20;
      size_t best = diag + (ca != cb);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

/* A known name close to the unknown key in section (NULL: top level):
 * within 2 edits at the same level; else the same key in another section
 * ("port" at the top level -> rpc.port); else a dotted key written flat
 * ("rpc.port" at the top level). "" when nothing is close. */
static void suggest(const char *section, const char *key, char *out, size_t cap) {
  size_t best = 3;
  out[0] = 0;
  for (size_t i = 0; i < NFIELDS; i++) {
    if (!in_section(FIELDS[i].path, section)) continue;
    size_t d = edit_distance(key, leaf(FIELDS[i].path));
    if (d < best) best = d, snprintf(out, cap, "%s", FIELDS[i].path);
  }
  if (!section)
    for (size_t i = 0; SECTIONS[i]; i++) {
      size_t d = edit_distance(key, SECTIONS[i]);
      if (d < best) best = d, snprintf(out, cap, "%s", SECTIONS[i]);
    }
  if (out[0]) return;
  for (size_t i = 0; i < NFIELDS; i++) {
    if (!section && strcmp(key, FIELDS[i].path) == 0 && strchr(key, '.')) {
      const char *dot = strchr(key, '.');
      snprintf(out, cap, "\"%.*s\": {\"%s\": ...}", (int)(dot - key), key, dot + 1);
      return;
    }
    if (strcmp(key, leaf(FIELDS[i].path)) == 0) {
      snprintf(out, cap, "%s", FIELDS[i].path);
      return;
    }
  }
}

/* ---- structure: objects, unknown and repeated keys ---- */

static int is_known(const char *section, const char *key) {
  for (size_t i = 0; i < NFIELDS; i++)
    if (in_section(FIELDS[i].path, section) && strcmp(leaf(FIELDS[i].path), key) == 0) return 1;
  if (!section)
    for (size_t i = 0; SECTIONS[i]; i++)
      if (strcmp(SECTIONS[i], key) == 0) return 1;
  return 0;
}

/* Every key of obj is known and given once. cJSON keeps both copies of a
 * repeated key and lookups find the first, so a second "port" would be
 * silently ignored: refused here instead. */
static cx_err check_keys(const cJSON *obj, const char *section, char *err, size_t el) {
  char path[160], hint[96];
  for (const cJSON *c = obj->child; c; c = c->next) {
    const char *k = c->string ? c->string : "";
    if (section)
      snprintf(path, sizeof path, "%s.%.64s", section, k);
    else
      snprintf(path, sizeof path, "%.64s", k);
    for (char *p = path; *p; p++) /* one clean line whatever the key holds */
      if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
    if (!is_known(section, k)) {
      suggest(section, k, hint, sizeof hint);
      if (hint[0])
        return cx_errf(err, el, CX_E_CONFIG, "%s: unknown field (did you mean %s?)", path, hint);
      return cx_errf(err, el, CX_E_CONFIG, "%s: unknown field", path);
    }
    for (const cJSON *d = obj->child; d != c; d = d->next)
      if (d->string && strcmp(d->string, k) == 0)
        return cx_errf(err, el, CX_E_CONFIG, "%s: given twice (a repeated key; keep one)", path);
  }
  return CX_OK;
}

/* The value at path in the top-level object j, or NULL when absent. */
static const cJSON *lookup(const cJSON *j, const char *path) {
  const char *dot = strchr(path, '.');
  if (!dot) return cJSON_GetObjectItemCaseSensitive(j, path);
  char sec[16];
  snprintf(sec, sizeof sec, "%.*s", (int)(dot - path), path);
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, sec);
  return o ? cJSON_GetObjectItemCaseSensitive(o, dot + 1) : NULL;
}

/* ---- values ---- */

static void store_uint(node_config *c, const field *f, uint64_t v) {
  uint8_t *p = (uint8_t *)c + f->off;
  switch (f->size) {
  case sizeof(uint16_t): *(uint16_t *)(void *)p = (uint16_t)v; break;
  case sizeof(uint32_t): *(uint32_t *)(void *)p = (uint32_t)v; break;
  default: *(uint64_t *)(void *)p = v; break;
  }
}

/* An exact non-negative integer within lo..hi (JSON numbers are doubles:
 * fractions, exponents past 2^53 and non-finite values are refused). */
static cx_err get_uint(const cJSON *v, const field *f, uint64_t *out, char *err, size_t el) {
  char want[64];
  snprintf(want, sizeof want, "an integer %llu..%llu", (unsigned long long)f->lo,
           (unsigned long long)f->hi);
  double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
  /* NaN fails both comparisons; the cast is defined once d is in range */
  if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
    return bad(f->path, want, v, err, el);
  uint64_t u = (uint64_t)v->valuedouble;
  if (u < f->lo || u > f->hi) return bad(f->path, want, v, err, el);
  *out = u;
  return CX_OK;
}

/* Lexical clean-up of an absolute path: "//", "/./" and "dir/.." removed,
 * so that containment in data_dir is a prefix test. */
static void normalize(char *p) {
  char out[CFG_PATH_MAX];
  size_t o = 0;
  const char *s = p;
  while (*s) {
    while (*s == '/') s++;
    const char *e = s;
    while (*e && *e != '/') e++;
    size_t n = (size_t)(e - s);
    if (n == 0 || (n == 1 && s[0] == '.')) {
      /* skip */
    } else if (n == 2 && s[0] == '.' && s[1] == '.') {
      while (o > 0 && out[o - 1] != '/') o--;
      if (o > 0) o--;
    } else if (o + 1 + n < sizeof out) {
      out[o++] = '/';
      memcpy(out + o, s, n);
      o += n;
    }
    s = e;
  }
  if (o == 0) out[o++] = '/';
  out[o] = 0;
  memcpy(p, out, o + 1);
}

static cx_err get_path(const cJSON *v, const field *f, const char *base, node_config *c,
                       char *err, size_t el) {
  if (!cJSON_IsString(v) || !v->valuestring[0]) return bad(f->path, "a non-empty path", v, err, el);
  const char *s = v->valuestring;
  char *dst = (char *)c + f->off;
  int n = s[0] == '/' ? snprintf(dst, f->size, "%s", s) : snprintf(dst, f->size, "%s/%s", base, s);
  if (n < 0 || (size_t)n >= f->size)
    return cx_errf(err, el, CX_E_CONFIG, "%s: expected a path of at most %zu bytes, got %d bytes",
                   f->path, f->size - 1, n);
  if (dst[0] == '/') normalize(dst);
  return CX_OK;
}

/* tcp://HOST:PORT (HOST an IPv4 address, *, a host or interface name, or
 * [IPv6]) or ipc://PATH: what nanomsg binds. *port = 0 for ipc. */
static int parse_p2p(const char *s, char *host, size_t hcap, unsigned *port) {
  *port = 0;
  host[0] = 0;
  if (!str_valid(s, CX_ADDR_MAX, STR_ADDR)) return -1;
  if (strncmp(s, "ipc://", 6) == 0) return s[6] ? 0 : -1;
  if (strncmp(s, "tcp://", 6) != 0) return -1;
  const char *h = s + 6, *colon = strrchr(h, ':');
  if (!colon || colon == h || (size_t)(colon - h) >= hcap) return -1;
  size_t hl = (size_t)(colon - h);
  if (h[0] == '[') {
    if (hl < 3 || h[hl - 1] != ']') return -1;
    for (size_t i = 1; i + 1 < hl; i++)
      if (!strchr("0123456789abcdefABCDEF:.", h[i])) return -1;
  } else {
    for (size_t i = 0; i < hl; i++)
      if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_*", h[i]))
        return -1;
    if (memchr(h, '*', hl) && hl != 1) return -1;
  }
  memcpy(host, h, hl);
  host[hl] = 0;
  const char *p = colon + 1;
  size_t pl = strlen(p);
  if (pl < 1 || pl > 5 || strspn(p, "0123456789") != pl) return -1;
  unsigned long v = strtoul(p, NULL, 10);
  if (v < 1 || v > 65535) return -1;
  *port = (unsigned)v;
  return 0;
}

static cx_err get_value(const cJSON *v, const field *f, const char *base, node_config *c,
                        char *err, size_t el) {
  char *dst = (char *)c + f->off;
  uint64_t u = 0;
  cx_err e;
  switch (f->kind) {
  case F_NAME:
    if (!cJSON_IsString(v) || !str_valid(v->valuestring, CX_NAME_MAX, STR_IDENT))
      return bad(f->path, "a member name (1-32 characters of a-z 0-9 _ -)", v, err, el);
    snprintf(dst, f->size, "%s", v->valuestring);
    return CX_OK;
  case F_PATH:
    return get_path(v, f, base, c, err, el);
  case F_HOST: {
    struct in_addr a;
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= f->size ||
        inet_pton(AF_INET, v->valuestring, &a) != 1)
      return bad(f->path,
                 cJSON_IsString(v) && strchr(v->valuestring, ':')
                     ? "an IPv4 address such as 127.0.0.1 (the port goes in rpc.port)"
                     : "an IPv4 address such as 127.0.0.1",
                 v, err, el);
    snprintf(dst, f->size, "%s", v->valuestring);
    return CX_OK;
  }
  case F_P2P: {
    char host[CX_ADDR_MAX + 1];
    unsigned port;
    if (!cJSON_IsString(v) || parse_p2p(v->valuestring, host, sizeof host, &port) != 0)
      return bad(f->path, "tcp://HOST:PORT with PORT 1..65535 (such as tcp://127.0.0.1:26656)",
                 v, err, el);
    snprintf(dst, f->size, "%s", v->valuestring);
    return CX_OK;
  }
  case F_UINT:
    if ((e = get_uint(v, f, &u, err, el))) return e;
    store_uint(c, f, u);
    return CX_OK;
  case F_BOOL:
    if (!cJSON_IsBool(v)) return bad(f->path, "true or false", v, err, el);
    *(int *)(void *)dst = cJSON_IsTrue(v);
    return CX_OK;
  case F_LEVEL: {
    int lvl = cJSON_IsString(v) ? log_level_parse(v->valuestring) : -1;
    if (lvl < 0) return bad(f->path, "one of trace, debug, info, warn, error, off", v, err, el);
    *(int *)(void *)dst = lvl;
    return CX_OK;
  }
  }
  return CX_E_INTERNAL;
}

/* ---- checks across fields ---- */

/* The host and port custosd would bind for p2p ("" host: none to compare). */
static int hosts_overlap(const char *a, const char *b) {
  struct in_addr x, y;
  int ax = inet_pton(AF_INET, a, &x) == 1, bx = inet_pton(AF_INET, b, &y) == 1;
  if (!ax || !bx) return 1; /* a name, *, IPv6: may be the same interface */
  if (x.s_addr == 0 || y.s_addr == 0) return 1; /* 0.0.0.0 binds every address */
  return x.s_addr == y.s_addr;
}

static cx_err check_ports(const node_config *c, const char *p2p, const char *what, char *err,
                          size_t el) {
  char host[CX_ADDR_MAX + 1];
  unsigned port;
  if (!p2p[0] || c->rpc_port == 0 || parse_p2p(p2p, host, sizeof host, &port) != 0 || port == 0)
    return CX_OK;
  if (port == c->rpc_port && hosts_overlap(c->rpc_listen, host))
    return cx_errf(err, el, CX_E_CONFIG,
                   "%s: port %u is also rpc.port (rpc.listen %s): give them different ports",
                   what, port, c->rpc_listen);
  return CX_OK;
}

static cx_err cross_checks(const node_config *c, const cJSON *j, char *err, size_t el) {
  if (c->p2p_dead_ms <= c->p2p_keepalive_ms)
    return cx_errf(err, el, CX_E_CONFIG,
                   "p2p.dead_ms: expected more than p2p.keepalive_ms (%u), got %u",
                   c->p2p_keepalive_ms, c->p2p_dead_ms);
  if (c->mpc_batch > c->mpc_pool_triples || c->mpc_batch > c->mpc_pool_rands)
    return cx_errf(err, el, CX_E_CONFIG,
                   "mpc.batch: expected at most mpc.pool_triples (%zu) and mpc.pool_rands "
                   "(%zu), got %zu",
                   c->mpc_pool_triples, c->mpc_pool_rands, c->mpc_batch);
  if (c->mpc_low_water > c->mpc_pool_triples)
    return cx_errf(err, el, CX_E_CONFIG,
                   "mpc.low_water: expected at most mpc.pool_triples (%zu), got %zu%s",
                   c->mpc_pool_triples, c->mpc_low_water,
                   lookup(j, "mpc.low_water") ? "" : " (the default, half of pool_triples)");
  return check_ports(c, c->p2p_listen, "p2p.listen", err, el);
}

/* Files named by the config, checked last so that every field's syntax is
 * reported first (and the fuzz target reaches every check above). */
static cx_err check_disk(const node_config *c, char *err, size_t el) {
  struct stat st;
  size_t dl = strlen(c->data_dir);
  for (size_t i = 0; i < NFIELDS; i++) {
    const field *f = &FIELDS[i];
    const char *p = (const char *)c + f->off;
    if (f->kind != F_PATH || !p[0]) continue;
    if (f->disk == P_DIR_OR_ABSENT) {
      if (stat(p, &st) == 0 && !S_ISDIR(st.st_mode))
        return cx_errf(err, el, CX_E_CONFIG, "%s: %s exists and is not a directory", f->path, p);
      continue;
    }
    /* restore moves data_dir aside as a whole (docs/operations.md) */
    if (strncmp(p, c->data_dir, dl) == 0 && (p[dl] == '/' || p[dl] == 0))
      return cx_errf(err, el, CX_E_CONFIG,
                     "%s: %s lies inside data_dir (%s); keep it outside, custos restore "
                     "replaces data_dir",
                     f->path, p, c->data_dir);
    if (stat(p, &st) != 0)
      return cx_errf(err, el, CX_E_CONFIG, "%s: %s: %s", f->path, p, strerror(errno));
    if (!S_ISREG(st.st_mode))
      return cx_errf(err, el, CX_E_CONFIG, "%s: %s is not a regular file", f->path, p);
    if (access(p, R_OK) != 0)
      return cx_errf(err, el, CX_E_CONFIG, "%s: %s: not readable (%s)", f->path, p,
                     strerror(errno));
  }
  return CX_OK;
}

/* ---- parsing ---- */

static cx_err parse(const cJSON *j, const char *base, node_config *c, char *err, size_t el) {
  cx_err e;
  if (!cJSON_IsObject(j)) return bad("(top level)", "a JSON object {...}", j, err, el);
  if ((e = check_keys(j, NULL, err, el))) return e;
  for (size_t i = 0; SECTIONS[i]; i++) {
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, SECTIONS[i]);
    if (!o) continue;
    if (!cJSON_IsObject(o)) return bad(SECTIONS[i], "an object {...}", o, err, el);
    if ((e = check_keys(o, SECTIONS[i], err, el))) return e;
  }
  for (size_t i = 0; i < NFIELDS; i++) {
    const cJSON *v = lookup(j, FIELDS[i].path);
    if (!v) {
      if (FIELDS[i].required)
        return cx_errf(err, el, CX_E_CONFIG, "%s: missing (a required field)", FIELDS[i].path);
      continue;
    }
    if ((e = get_value(v, &FIELDS[i], base, c, err, el))) return e;
  }
  if (!lookup(j, "mpc.low_water")) c->mpc_low_water = c->mpc_pool_triples / 2;
  if ((e = cross_checks(c, j, err, el))) return e;
  return check_disk(c, err, el);
}

/* "line L, column C" of offset off in text. */
static void where(const char *text, size_t off, char *out, size_t cap) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < off; i++) {
    if (text[i] == '\n')
      line++, col = 1;
    else
      col++;
  }
  snprintf(out, cap, "line %zu, column %zu", line, col);
}

/* Control bytes (from a key or a path in the file) become '?': a message
 * is always one clean log line. */
static cx_err one_line(cx_err e, char *err, size_t errlen) {
  for (size_t i = 0; e && err && i < errlen && err[i]; i++)
    if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f) err[i] = '?';
  return e;
}

static cx_err parse_buffer(const char *text, size_t len, const char *base_dir, node_config *c,
                           char *err, size_t errlen) {
  char at[64];
  const char *end = NULL;
  config_defaults(c);
  if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) text += 3, len -= 3; /* UTF-8 BOM */
  if (memchr(text, 0, len)) {
    where(text, (size_t)((const char *)memchr(text, 0, len) - text), at, sizeof at);
    return cx_errf(err, errlen, CX_E_CONFIG, "malformed JSON at %s: a NUL byte", at);
  }
  cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!j) {
    size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
    where(text, off, at, sizeof at);
    return cx_errf(err, errlen, CX_E_CONFIG, "malformed JSON at %s", at);
  }
  size_t off = (size_t)(end - text);
  while (off < len && strchr(" \t\r\n", text[off])) off++;
  if (off < len) {
    where(text, off, at, sizeof at);
    cJSON_Delete(j);
    return cx_errf(err, errlen, CX_E_CONFIG, "malformed JSON at %s: text after the object", at);
  }
  cx_err e = parse(j, base_dir, c, err, errlen);
  cJSON_Delete(j);
  return e;
}

cx_err config_parse_buffer(const char *text, size_t len, const char *base_dir, node_config *c,
                           char *err, size_t errlen) {
  return one_line(parse_buffer(text, len, base_dir, c, err, errlen), err, errlen);
}

cx_err config_load(const char *path, node_config *c, char *err, size_t errlen) {
  char *text = NULL, base[PATH_MAX], abs[PATH_MAX];
  size_t len = 0;
  config_defaults(c);
  cx_err e = file_read_all(path, CFG_FILE_MAX, &text, &len);
  if (e) {
    const char *why = e == CX_E_TOO_LONG ? "larger than 1 MiB" : strerror(errno);
    return cx_errf(err, errlen, e, "%s: cannot read (%s)", path, why);
  }
  /* Base directory for relative paths: the config file's directory. */
  if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
  snprintf(base, sizeof base, "%s", abs);
  char *slash = strrchr(base, '/');
  if (slash == base)
    base[1] = 0;
  else if (slash)
    *slash = 0;
  else
    strcpy(base, ".");
  e = config_parse_buffer(text, len, base, c, err, errlen);
  free(text);
  return e;
}

/* ---- custosd --check-config ---- */

cx_err config_check_deep(const node_config *c, int *unlocked, char *note, size_t notelen,
                         char *err, size_t errlen) {
  cx_err e;
  char gerr[256] = "", hx[65], hy[65];
  cx_pubkey key;
  uint8_t enc[32];
  keystore_keys keys;
  *unlocked = 0;
  if (note && notelen) note[0] = 0;
  vm_genesis *g = malloc(sizeof *g);
  if (!g) return CX_E_NOMEM;
  if ((e = genesis_load(c->genesis, g, gerr, sizeof gerr))) {
    cx_errf(err, errlen, e, "genesis: %s: %s", c->genesis, gerr[0] ? gerr : cx_err_str(e));
    goto out;
  }
  const cx_member *me = NULL;
  for (size_t i = 0; i < g->nmembers; i++)
    if (strcmp(g->members[i].name, c->name) == 0) me = &g->members[i];
  /* A member added by governance after the genesis (docs/onboarding.md)
   * is not in it: its node starts as an observer, so it needs its own
   * link address, which the genesis cannot give. */
  if (!me && !c->p2p_listen[0]) {
    e = cx_errf(err, errlen, CX_E_CONFIG,
                "p2p.listen: required, member '%s' is not in the genesis (%s) and so has no "
                "address there", c->name, c->genesis);
    goto out;
  }
  if (me && !c->p2p_listen[0] && (e = check_ports(c, me->address, "p2p.listen (unset: the genesis "
                                                  "address)", err, errlen)))
    goto out;
  if ((e = keystore_public(c->keystore, &key, enc, gerr, sizeof gerr))) {
    cx_errf(err, errlen, e, "keystore: %s: %s", c->keystore, gerr[0] ? gerr : cx_err_str(e));
    goto out;
  }
  if (!me && note && notelen) {
    snprintf(note, notelen,
             "member '%s' is not in the genesis: custosd starts as an observer and votes once "
             "a committed governance change makes it a validator (docs/onboarding.md)",
             c->name);
  } else if (memcmp(key.b, me->key.b, 32) != 0 && note && notelen) {
    hex_encode(key.b, 32, hx);
    hex_encode(me->key.b, 32, hy);
    snprintf(note, notelen,
             "keystore key %.16s... is not member '%s''s genesis key %.16s... (fine after a "
             "member rekey; custosd checks it against the validator set at start)",
             hx, c->name, hy);
  }
  const char *env = getenv("CUSTOS_PASSPHRASE");
  if (!c->passphrase_file[0] && (!env || !*env)) goto out; /* nothing to unlock with */
  char *pass = NULL;
  if ((e = keystore_passphrase(c->passphrase_file, &pass, gerr, sizeof gerr))) {
    cx_errf(err, errlen, e, "passphrase_file: %s",
            gerr[0] ? gerr : cx_err_str(e));
    goto out;
  }
  memset(&keys, 0, sizeof keys);
  e = keystore_load(c->keystore, pass, &keys, gerr, sizeof gerr);
  keystore_passphrase_free(pass);
  keystore_keys_free(&keys);
  if (e == CX_E_PASSPHRASE)
    cx_errf(err, errlen, e, "keystore: %s: wrong passphrase or damaged keystore (passphrase "
            "from %s)", c->keystore, c->passphrase_file[0] ? c->passphrase_file : "$CUSTOS_PASSPHRASE");
  else if (e)
    cx_errf(err, errlen, e, "keystore: %s: %s", c->keystore, gerr[0] ? gerr : cx_err_str(e));
  else
    *unlocked = 1;
out:
  free(g);
  return e;
}
