/* cli_devnet: `custos devnet init`, a ready local consortium in a directory:
 *
 *   DIR/genesis.json
 *   DIR/devnet.env                     shell exports for scripts
 *   DIR/node<i>/config.json            i = 0..N-1, one validator each
 *   DIR/node<i>/key.json, passphrase
 *   DIR/clients/<name>.json, <name>.pass   insurer, auditor, subject
 *
 * Keys use the fast (minimal) argon2id cost: this is a throw-away devnet
 * whose passphrases sit next to the keys anyway. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "codec.h"
#include "config.h"
#include "fileutil.h"
#include "genesis.h"
#include "net.h"
#include "vm.h"

#define DEVNET_MAX_NODES 64
#define DEVNET_PASS_BYTES 24 /* 48 hex characters */
#define DEVNET_MAX_PATHS (8 * DEVNET_MAX_NODES + 32)

/* Everything devnet init creates, so a failure can remove it again. */
typedef struct {
  char *paths[DEVNET_MAX_PATHS];
  int n;
} created_list;

typedef struct {
  char name[CX_NAME_MAX + 1];
  int role;
  char domain[CX_DOMAIN_MAX + 1]; /* "": none */
  int validator;
  uint16_t rpc_port, p2p_port;
  char dir[PATH_MAX];  /* node<i> or clients */
  char key[PATH_MAX];  /* keystore path */
  char pass[PATH_MAX]; /* passphrase path */
  cx_pubkey pub;
  uint8_t enc[32];
} devnet_member;

typedef struct {
  char root[PATH_MAX]; /* absolute */
  char chain[VM_CHAIN_NAME_MAX + 1];
  int nval;
  devnet_member m[DEVNET_MAX_NODES + 3]; /* validators, insurer, auditor, subject */
  int nm;
  created_list made;
} devnet;

static int remember(devnet *d, const char *path) {
  if (d->made.n >= DEVNET_MAX_PATHS) return -1;
  if (!(d->made.paths[d->made.n] = strdup(path))) return -1;
  d->made.n++;
  return 0;
}

/* Removes what was created, newest first (files before their directories). */
static void undo(devnet *d) {
  for (int i = d->made.n - 1; i >= 0; i--) {
    if (remove(d->made.paths[i]) != 0 && errno != ENOENT)
      fprintf(stderr, "custos: could not remove %s: %s\n", d->made.paths[i], strerror(errno));
  }
}

static void forget(devnet *d) {
  for (int i = 0; i < d->made.n; i++) free(d->made.paths[i]);
  d->made.n = 0;
}

static int path_join(char *out, const char *a, const char *b) {
  int n = snprintf(out, PATH_MAX, "%s/%s", a, b);
  if (n < 0 || n >= PATH_MAX) return cli_fail(CLI_LOCAL, "%s/%s: path too long", a, b);
  return CLI_OK;
}

static int make_dir(devnet *d, const char *path, mode_t mode) {
  if (mkdir(path, mode) != 0) return cli_fail(CLI_LOCAL, "%s: cannot create: %s", path, strerror(errno));
  if (remember(d, path)) return cli_fail(CLI_LOCAL, "out of memory");
  return CLI_OK;
}

static int write_file(devnet *d, const char *path, const char *text, unsigned mode) {
  if (remember(d, path)) return cli_fail(CLI_LOCAL, "out of memory");
  if (file_write_atomic(path, text, strlen(text), mode) != CX_OK)
    return cli_fail(CLI_LOCAL, "%s: cannot write: %s", path, strerror(errno));
  return CLI_OK;
}

static int write_json(devnet *d, const char *path, const cJSON *j, unsigned mode) {
  char *text = cJSON_Print(j);
  if (!text) return cli_fail(CLI_LOCAL, "out of memory");
  size_t len = strlen(text);
  char *t = realloc(text, len + 2);
  if (!t) {
    free(text);
    return cli_fail(CLI_LOCAL, "out of memory");
  }
  memcpy(t + len, "\n", 2);
  int rc = write_file(d, path, t, mode);
  free(t);
  return rc;
}

/* ---- the root directory ---- */

static int dir_is_empty(const char *dir, int *empty) {
  DIR *dh = opendir(dir);
  if (!dh) return cli_fail(CLI_LOCAL, "%s: cannot open: %s", dir, strerror(errno));
  struct dirent *e;
  *empty = 1;
  while ((e = readdir(dh)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) *empty = 0;
  closedir(dh);
  return CLI_OK;
}

/* Refuses a DIR that exists and holds anything: a devnet must not be mixed
 * with (or overwrite) an older one's keys and chain data. Creates nothing. */
static int check_root(const char *dir) {
  struct stat st;
  if (stat(dir, &st) != 0) {
    if (errno == ENOENT) return CLI_OK;
    return cli_fail(CLI_LOCAL, "%s: %s", dir, strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return cli_fail(CLI_LOCAL, "%s: exists and is not a directory", dir);
  int empty = 0, rc = dir_is_empty(dir, &empty);
  if (rc) return rc;
  if (!empty) return cli_fail(CLI_LOCAL, "%s: exists and is not empty; choose a new directory", dir);
  return CLI_OK;
}

/* mkdir -p, remembering each directory it creates. */
static int make_root(devnet *d, const char *dir) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
    return cli_fail(CLI_LOCAL, "%s: path too long", dir);
  for (char *p = tmp + 1;; p++) {
    if (*p != '/' && *p != 0) continue;
    char saved = *p;
    *p = 0;
    struct stat st;
    if (stat(tmp, &st) != 0) {
      if (mkdir(tmp, 0755) != 0)
        return cli_fail(CLI_LOCAL, "%s: cannot create: %s", tmp, strerror(errno));
      if (remember(d, tmp)) return cli_fail(CLI_LOCAL, "out of memory");
    } else if (!S_ISDIR(st.st_mode)) {
      return cli_fail(CLI_LOCAL, "%s: not a directory", tmp);
    }
    *p = saved;
    if (!saved) break;
  }
  if (!realpath(dir, d->root)) return cli_fail(CLI_LOCAL, "%s: %s", dir, strerror(errno));
  return CLI_OK;
}

/* ---- members and keys ---- */

/* The consortium: validators hrss, health, civil, regulator, bureau4, ...;
 * clients insurer and auditor (members) and subject (not a member). */
static void plan_members(devnet *d, int nval) {
  static const struct {
    const char *name;
    int role;
    const char *domain;
  } first[] = {{"hrss", ROLE_BUREAU, "hrss"},
               {"health", ROLE_BUREAU, "health"},
               {"civil", ROLE_BUREAU, "civil"},
               {"regulator", ROLE_REGULATOR, NULL}};
  d->nval = nval;
  d->nm = 0;
  for (int i = 0; i < nval; i++) {
    devnet_member *m = &d->m[d->nm++];
    memset(m, 0, sizeof *m);
    if (i < 4) {
      snprintf(m->name, sizeof m->name, "%s", first[i].name);
      m->role = first[i].role;
      snprintf(m->domain, sizeof m->domain, "%s", first[i].domain ? first[i].domain : "");
    } else {
      snprintf(m->name, sizeof m->name, "bureau%d", i);
      snprintf(m->domain, sizeof m->domain, "dom%d", i);
      m->role = ROLE_BUREAU;
    }
    m->validator = 1;
  }
  static const struct {
    const char *name;
    int role;
  } clients[] = {{"insurer", ROLE_INSURER}, {"auditor", ROLE_AUDITOR}, {"subject", 0}};
  for (size_t i = 0; i < sizeof clients / sizeof clients[0]; i++) {
    devnet_member *m = &d->m[d->nm++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", clients[i].name);
    m->role = clients[i].role; /* 0: not a member */
  }
}

static int set_paths(devnet *d) {
  int rc;
  for (int i = 0; i < d->nm; i++) {
    devnet_member *m = &d->m[i];
    char leaf[64];
    if (m->validator) {
      snprintf(leaf, sizeof leaf, "node%d", i);
      if ((rc = path_join(m->dir, d->root, leaf)) || (rc = path_join(m->key, m->dir, "key.json")) ||
          (rc = path_join(m->pass, m->dir, "passphrase")))
        return rc;
    } else {
      if ((rc = path_join(m->dir, d->root, "clients"))) return rc;
      snprintf(leaf, sizeof leaf, "%s.json", m->name);
      if ((rc = path_join(m->key, m->dir, leaf))) return rc;
      snprintf(leaf, sizeof leaf, "%s.pass", m->name);
      if ((rc = path_join(m->pass, m->dir, leaf))) return rc;
    }
  }
  return CLI_OK;
}

/* Genesis options of devnet init (the chain id covers both). */
typedef struct {
  uint32_t block_max_txs;
  int bench_commands;
} devnet_chain_opts;

static int build_genesis(const devnet *d, const devnet_chain_opts *o, vm_genesis *g) {
  char err[512];
  memset(g, 0, sizeof *g);
  snprintf(g->chain_name, sizeof g->chain_name, "%s", d->chain);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  g->time_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
  g->block_max_txs = o->block_max_txs;
  g->bench_commands = (uint8_t)o->bench_commands;
  for (int i = 0; i < d->nm; i++) {
    const devnet_member *m = &d->m[i];
    if (!m->role) continue; /* the subject is not a member */
    cx_member *gm = &g->members[g->nmembers++];
    snprintf(gm->name, sizeof gm->name, "%s", m->name);
    gm->role = (uint8_t)m->role;
    gm->key = m->pub;
    memcpy(gm->enc_key, m->enc, 32);
    gm->validator = (uint8_t)m->validator;
    if (m->validator)
      snprintf(gm->address, sizeof gm->address, "tcp://127.0.0.1:%u", (unsigned)m->p2p_port);
    if (m->domain[0] && domain_set_add(&gm->domains, m->domain) != CX_OK)
      return cli_fail(CLI_LOCAL, "genesis: bad domain %s", m->domain);
  }
  if (vm_genesis_validate(g, err, sizeof err) != CX_OK)
    return cli_fail(CLI_LOCAL, "genesis: %s", err);
  return CLI_OK;
}

/* One member's keystore and passphrase file. */
static int write_keys(devnet *d, const devnet_member *m, const keystore_keys *k) {
  int rc = CLI_OK;
  uint8_t raw[DEVNET_PASS_BYTES];
  char *pass = sodium_malloc(2 * DEVNET_PASS_BYTES + 2);
  if (!pass) return cli_fail(CLI_LOCAL, "out of memory");
  randombytes_buf(raw, sizeof raw);
  sodium_bin2hex(pass, 2 * DEVNET_PASS_BYTES + 1, raw, sizeof raw);
  sodium_memzero(raw, sizeof raw);
  if (remember(d, m->key)) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out;
  }
  cx_err e = keystore_save(m->key, k, pass, KS_KDF_FAST);
  if (e) {
    rc = cli_fail(CLI_LOCAL, "%s: cannot write the keystore: %s", m->key, cx_err_str(e));
    goto out;
  }
  strcat(pass, "\n");
  rc = write_file(d, m->pass, pass, 0600);
out:
  sodium_free(pass);
  return rc;
}

static int node_config_json(devnet *d, const devnet_member *m, const char *path) {
  char p2p[64];
  snprintf(p2p, sizeof p2p, "tcp://127.0.0.1:%u", (unsigned)m->p2p_port);
  cJSON *j = cJSON_CreateObject();
  cJSON *rpc = cJSON_CreateObject(), *pp = cJSON_CreateObject(), *blk = cJSON_CreateObject(),
        *mp = cJSON_CreateObject();
  int ok = j && rpc && pp && blk && mp;
  /* Paths relative to the config's directory, so the tree can be moved. */
  ok = ok && cJSON_AddStringToObject(j, "name", m->name) &&
       cJSON_AddStringToObject(j, "data_dir", "data") &&
       cJSON_AddStringToObject(j, "genesis", "../genesis.json") &&
       cJSON_AddStringToObject(j, "keystore", "key.json") &&
       cJSON_AddStringToObject(j, "passphrase_file", "passphrase");
  ok = ok && cJSON_AddStringToObject(rpc, "listen", "127.0.0.1") &&
       cJSON_AddNumberToObject(rpc, "port", m->rpc_port) &&
       cJSON_AddNumberToObject(rpc, "max_body", 1 << 20) &&
       cJSON_AddNumberToObject(rpc, "max_conns", 64) &&
       cJSON_AddNumberToObject(rpc, "threads", 2);
  ok = ok && cJSON_AddStringToObject(pp, "listen", p2p);
  ok = ok && cJSON_AddNumberToObject(blk, "interval_ms", 10); /* loopback: docs/consensus.md "Block interval" */
  ok = ok && cJSON_AddNumberToObject(mp, "max_txs", 50000) &&
       cJSON_AddNumberToObject(mp, "max_per_sender", 1024);
  if (ok) {
    cJSON_AddItemToObject(j, "rpc", rpc);
    cJSON_AddItemToObject(j, "p2p", pp);
    cJSON_AddItemToObject(j, "block", blk);
    cJSON_AddItemToObject(j, "mempool", mp);
    rpc = pp = blk = mp = NULL;
    ok = cJSON_AddStringToObject(j, "log_level", "info") != NULL;
  }
  int rc = ok ? write_json(d, path, j, 0644) : cli_fail(CLI_LOCAL, "out of memory");
  cJSON_Delete(j);
  cJSON_Delete(rpc);
  cJSON_Delete(pp);
  cJSON_Delete(blk);
  cJSON_Delete(mp);
  if (rc) return rc;
  /* Read it back with custosd's own parser: a devnet that does not start is
   * worse than no devnet. */
  node_config cfg;
  char err[512];
  if (config_load(path, &cfg, err, sizeof err) != CX_OK)
    return cli_fail(CLI_LOCAL, "%s: custosd would refuse it: %s", path, err);
  return CLI_OK;
}

/* Appends `export NAME='value'` with the value single-quoted for sh. */
static void env_line(FILE *f, const char *name, const char *value) {
  fprintf(f, "export %s='", name);
  for (const char *p = value; *p; p++) {
    if (*p == '\'')
      fputs("'\\''", f);
    else
      fputc(*p, f);
  }
  fputs("'\n", f);
}

static void upper(char *dst, size_t cap, const char *prefix, const char *name) {
  snprintf(dst, cap, "%s%s", prefix, name);
  for (char *p = dst; *p; p++) {
    if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    else if (*p == '-') *p = '_';
  }
}

static int write_env(devnet *d, const char *path) {
  char *text = NULL, var[80], url[64];
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return cli_fail(CLI_LOCAL, "out of memory");
  fprintf(f, "# Custos devnet \"%s\", written by `custos devnet init`.\n", d->chain);
  fprintf(f, "# Use: . %s/devnet.env   (then e.g. custos status)\n", d->root);
  fprintf(f, "# Keys: CUSTOS_KEY_<NAME> / passphrase files: CUSTOS_PASS_<NAME>.\n");
  env_line(f, "CUSTOS_DEVNET", d->root);
  snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)d->m[0].rpc_port);
  env_line(f, "CUSTOS_NODE", url);
  for (int i = 0; i < d->nval; i++) {
    snprintf(var, sizeof var, "CUSTOS_NODE_%d", i);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)d->m[i].rpc_port);
    env_line(f, var, url);
  }
  for (int i = 0; i < d->nm; i++) {
    upper(var, sizeof var, "CUSTOS_KEY_", d->m[i].name);
    env_line(f, var, d->m[i].key);
    upper(var, sizeof var, "CUSTOS_PASS_", d->m[i].name);
    env_line(f, var, d->m[i].pass);
  }
  if (fclose(f) != 0 || !text) {
    free(text);
    return cli_fail(CLI_LOCAL, "out of memory");
  }
  int rc = write_file(d, path, text, 0644);
  free(text);
  return rc;
}

/* ---- summary ---- */

static void print_summary(const cli_ctx *c, const devnet *d) {
  if (c->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
    cJSON *clients = cJSON_AddArrayToObject(o, "clients");
    char path[PATH_MAX + 32], hex[65], url[64];
    cJSON_AddStringToObject(o, "dir", d->root);
    cJSON_AddStringToObject(o, "chain_name", d->chain);
    snprintf(path, sizeof path, "%s/genesis.json", d->root);
    cJSON_AddStringToObject(o, "genesis", path);
    snprintf(path, sizeof path, "%s/devnet.env", d->root);
    cJSON_AddStringToObject(o, "env", path);
    for (int i = 0; i < d->nm; i++) {
      const devnet_member *m = &d->m[i];
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "name", m->name);
      cJSON_AddStringToObject(e, "role", m->role ? role_name(m->role) : "none");
      hex_encode(m->pub.b, 32, hex);
      cJSON_AddStringToObject(e, "key", hex);
      cJSON_AddStringToObject(e, "keystore", m->key);
      cJSON_AddStringToObject(e, "passphrase_file", m->pass);
      if (m->validator) {
        snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)m->rpc_port);
        cJSON_AddStringToObject(e, "rpc", url);
        snprintf(url, sizeof url, "tcp://127.0.0.1:%u", (unsigned)m->p2p_port);
        cJSON_AddStringToObject(e, "p2p", url);
        snprintf(path, sizeof path, "%s/config.json", m->dir);
        cJSON_AddStringToObject(e, "config", path);
      }
      cJSON_AddItemToArray(m->validator ? nodes : clients, e);
    }
    cli_print_json(c, o);
    cJSON_Delete(o);
    return;
  }
  printf("devnet \"%s\" in %s: %d validator%s, clients insurer and auditor, test subject\n",
         d->chain, d->root, d->nval, d->nval == 1 ? "" : "s");
  printf("  %-6s %-10s %-10s %-24s %-22s\n", "NODE", "MEMBER", "ROLE", "RPC", "P2P");
  for (int i = 0; i < d->nval; i++) {
    const devnet_member *m = &d->m[i];
    char rpc[40], p2p[40];
    snprintf(rpc, sizeof rpc, "http://127.0.0.1:%u", (unsigned)m->rpc_port);
    snprintf(p2p, sizeof p2p, "tcp://127.0.0.1:%u", (unsigned)m->p2p_port);
    printf("  node%-2d %-10s %-10s %-24s %-22s\n", i, m->name, role_name(m->role), rpc, p2p);
  }
  printf("  clients: %s/clients/{insurer,auditor,subject}.json (+ .pass); subject is not a "
         "member\n", d->root);
  printf("  genesis: %s/genesis.json\n", d->root);
  printf("  start:   custosd --config %s/node0/config.json\n", d->root);
  printf("  env:     . %s/devnet.env\n", d->root);
  printf("keys use the fast devnet KDF and their passphrases sit next to them: not for real "
         "use\n");
}

/* ---- the command ---- */

static int gen_all_keys(devnet *d, keystore_keys *keys) {
  for (int i = 0; i < d->nm; i++) {
    cx_err e = keystore_generate(&keys[i]);
    if (e) return cli_fail(CLI_LOCAL, "cannot generate keys: %s", cx_err_str(e));
    d->m[i].pub = keys[i].pub;
    memcpy(d->m[i].enc, keys[i].enc_public, 32);
  }
  return CLI_OK;
}

static int write_all(devnet *d, const keystore_keys *keys, const vm_genesis *g) {
  char path[PATH_MAX];
  int rc;
  for (int i = 0; i < d->nm; i++) {
    const devnet_member *m = &d->m[i];
    /* node<i> per validator; clients/ once, before the first client */
    if ((m->validator || i == d->nval) && (rc = make_dir(d, m->dir, 0700))) return rc;
    if ((rc = write_keys(d, m, &keys[i]))) return rc;
  }
  cJSON *gj = genesis_to_json(g);
  if (!gj) return cli_fail(CLI_LOCAL, "out of memory");
  if ((rc = path_join(path, d->root, "genesis.json")) == CLI_OK)
    rc = write_json(d, path, gj, 0644);
  cJSON_Delete(gj);
  if (rc) return rc;
  /* the file as custosd will read it */
  vm_genesis *back = malloc(sizeof *back);
  char err[512];
  if (!back) return cli_fail(CLI_LOCAL, "out of memory");
  cx_err e = genesis_load(path, back, err, sizeof err);
  free(back);
  if (e) return cli_fail(CLI_LOCAL, "%s: custosd would refuse it: %s", path, err);
  for (int i = 0; i < d->nval; i++) {
    if ((rc = path_join(path, d->m[i].dir, "config.json")) ||
        (rc = node_config_json(d, &d->m[i], path)))
      return rc;
  }
  if ((rc = path_join(path, d->root, "devnet.env"))) return rc;
  return write_env(d, path);
}

static int cmd_devnet_init(cli_ctx *c, const cli_args *a) {
  const char *dir = a->pos[0], *name = cli_opt(a, "chain-name"), *bp = cli_opt(a, "base-port");
  const char *bmt = cli_opt(a, "block-max-txs");
  uint64_t n = 0, base = 0, mt = 5000;
  devnet_chain_opts copts = {.bench_commands = cli_opt(a, "bench-commands") != NULL};
  int rc;
  if ((rc = cli_u64_arg("--members", cli_opt(a, "members"), &n))) return rc;
  if (bmt && (rc = cli_u64_arg("--block-max-txs", bmt, &mt))) return rc;
  if (mt < 1 || mt > CX_BLOCK_MAX_TXS)
    return cli_fail(CLI_USAGE, "--block-max-txs: expected 1..%d", CX_BLOCK_MAX_TXS);
  copts.block_max_txs = (uint32_t)mt;
  if (n < 1 || n > DEVNET_MAX_NODES)
    return cli_fail(CLI_USAGE, "--members: expected 1..%d validators", DEVNET_MAX_NODES);
  if (!name) name = "custos-devnet";
  if (!str_valid(name, VM_CHAIN_NAME_MAX, STR_IDENT))
    return cli_fail(CLI_USAGE, "--chain-name: 1-%d characters of a-z 0-9 _ -", VM_CHAIN_NAME_MAX);
  if (bp) {
    if ((rc = cli_u64_arg("--base-port", bp, &base))) return rc;
    if (base < 1024 || base + 2 * n - 1 > 65535)
      return cli_fail(CLI_USAGE, "--base-port: expected 1024..%llu for %llu nodes",
                      (unsigned long long)(65536 - 2 * n), (unsigned long long)n);
  }
  if ((rc = check_root(dir))) return rc;

  devnet *d = calloc(1, sizeof *d);
  vm_genesis *g = malloc(sizeof *g);
  keystore_keys *keys = calloc(DEVNET_MAX_NODES + 3, sizeof *keys);
  uint16_t ports[2 * DEVNET_MAX_NODES];
  if (!d || !g || !keys) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out;
  }
  snprintf(d->chain, sizeof d->chain, "%s", name);
  plan_members(d, (int)n);
  if (bp) {
    for (int i = 0; i < 2 * (int)n; i++) ports[i] = (uint16_t)(base + (uint64_t)i);
  } else {
    char perr[160];
    if (net_free_ports(ports, (unsigned)(2 * n), perr, sizeof perr) != CX_OK) {
      rc = cli_fail(CLI_LOCAL, "%s", perr);
      goto out;
    }
  }
  for (int i = 0; i < (int)n; i++) {
    d->m[i].rpc_port = ports[2 * i];
    d->m[i].p2p_port = ports[2 * i + 1];
  }
  /* Keys and genesis first, all in memory: nothing touches the disk until
   * the genesis is known to be valid. */
  if ((rc = gen_all_keys(d, keys)) || (rc = build_genesis(d, &copts, g))) goto out;
  if ((rc = make_root(d, dir)) || (rc = set_paths(d))) goto undo;
  if ((rc = write_all(d, keys, g))) goto undo;
  print_summary(c, d);
  goto out;
undo:
  undo(d);
out:
  if (d) forget(d);
  for (int i = 0; keys && i < DEVNET_MAX_NODES + 3; i++) keystore_keys_free(&keys[i]);
  free(keys);
  free(g);
  free(d);
  return rc;
}

const cli_cmd cli_devnet_cmds[] = {
    {
        .path = "devnet init",
        .synopsis = "DIR --members N [--chain-name NAME] [--base-port P] [--block-max-txs N]\n"
                    "                [--bench-commands]",
        .summary = "write a ready local consortium (genesis, node configs, keys)",
        .desc = "Creates DIR (it must not exist, or be empty) with genesis.json, one\n"
                "node<i>/ per validator (config.json, key.json, passphrase), clients/ with\n"
                "the keys of the insurer and auditor members and of a test subject, and\n"
                "devnet.env with shell exports (CUSTOS_NODE, CUSTOS_KEY_<NAME>,\n"
                "CUSTOS_PASS_<NAME>). Validators are hrss, health, civil (bureaus owning\n"
                "the domain of the same name), regulator, then bureau4 (domain dom4), ...\n"
                "Each node gets a free loopback RPC and P2P port (or P+2i and P+2i+1 with\n"
                "--base-port). Keys use the fast devnet KDF with random passphrases stored\n"
                "beside them: for development only. --bench-commands sets the genesis's\n"
                "bench_commands: the chain then accepts unsigned 32-byte benchmark commands\n"
                "(custos load --commands; docs/transactions.md \"Commands\").",
        .example = "custos devnet init /tmp/devnet --members 1\n"
                   "custosd --config /tmp/devnet/node0/config.json &\n"
                   ". /tmp/devnet/devnet.env && custos status",
        .kind = CLI_OFFLINE,
        .min_pos = 1,
        .max_pos = 1,
        .flags = {{"members", "N", "number of validators (1..64)", 1},
                  {"chain-name", "NAME", "genesis chain_name (default custos-devnet)", 0},
                  {"base-port", "P", "node i uses ports P+2i (rpc) and P+2i+1 (p2p)", 0},
                  {"block-max-txs", "N", "genesis block_max_txs (default 5000)", 0},
                  {"bench-commands", NULL, "genesis bench_commands: accept benchmark commands", 0}},
        .run = cmd_devnet_init,
    },
    {.path = NULL},
};
