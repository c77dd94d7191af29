/* custos-netpeer: one member-network endpoint (net/) driven line by line,
 * for the integration tests (tests/integration/test_net.sh) and for poking
 * at links by hand.
 *
 *   custos-netpeer --config NODE_CONFIG.json [--listen ADDR] [--impostor]
 *                  [--dead-ms N] [--keepalive-ms N] [--queue-ttl-ms N]
 *                  [--rekey-msgs N]
 *
 * Runs as the config's member with its keystore's X25519 key (or, with
 * --impostor, a fresh random key no member has), links to every validator
 * of the genesis, prints "ready", then answers one line per command on
 * stdin:
 *
 *   send NAME TYPE TEXT   ok | err <error name>     TYPE: consensus|tx|sync|mpc
 *   bcast TYPE TEXT       ok N                      (N members accepted it)
 *   stats                 one JSON object (peers, global rejects)
 *   fault CMD...          ok | err <sentence>       (net_fault; test builds)
 *   rekey NAME            ok | err <error name>
 *   members N1,N2,...     ok | err <sentence>       (that subset of the genesis)
 *   quit                  exits 0 (so does end of input)
 *
 * Each message received prints "recv FROM TYPE TEXT" (bytes outside
 * printable ASCII shown as '?'). Log lines go to stderr. Exit status 2 on a
 * setup error, with a sentence on stderr. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "genesis.h"
#include "keystore.h"
#include "log.h"
#include "net.h"
#include "vm.h"

#define LINE_MAX_LEN 65536

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

/* One whole line on stdout; lines from the net thread do not interleave. */
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  pthread_mutex_lock(&out_mu);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fputc('\n', stdout);
  fflush(stdout);
  pthread_mutex_unlock(&out_mu);
}

static void on_msg(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len) {
  (void)ctx;
  char *text = malloc(len + 1);
  if (!text) return;
  for (size_t i = 0; i < len; i++) text[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
  text[len] = 0;
  say("recv %s %s %s", from, net_msg_name(type), text);
  free(text);
}

static int parse_type(const char *s) {
  for (unsigned t = 1; t < NET_MSG_TYPES; t++)
    if (strcmp(s, net_msg_name(t)) == 0) return (int)t;
  return -1;
}

static int parse_u32(const char *s, uint32_t *out) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end || v == 0 || v > UINT32_MAX) return 0;
  *out = (uint32_t)v;
  return 1;
}

/* Splits the next space-separated word off *s (NULL at the end). */
static char *word(char **s) {
  char *p = *s;
  while (*p == ' ') p++;
  if (!*p) return NULL;
  char *w = p;
  while (*p && *p != ' ') p++;
  if (*p) *p++ = 0;
  *s = p;
  return w;
}

static void print_stats(net *n) {
  net_peer_stats st[256];
  net_stats_global g;
  size_t k = net_stats(n, st, 256, &g);
  if (k > 256) k = 256;
  cJSON *o = cJSON_CreateObject(), *peers = cJSON_AddArrayToObject(o, "peers");
  for (size_t i = 0; i < k; i++) {
    cJSON *e = cJSON_CreateObject(), *r = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", st[i].name);
    cJSON_AddBoolToObject(e, "connected", st[i].connected);
    cJSON_AddNumberToObject(e, "msgs_out", (double)st[i].msgs_out);
    cJSON_AddNumberToObject(e, "bytes_out", (double)st[i].bytes_out);
    cJSON_AddNumberToObject(e, "msgs_in", (double)st[i].msgs_in);
    cJSON_AddNumberToObject(e, "bytes_in", (double)st[i].bytes_in);
    cJSON_AddNumberToObject(e, "frames_out", (double)st[i].frames_out);
    cJSON_AddNumberToObject(e, "frames_in", (double)st[i].frames_in);
    cJSON_AddNumberToObject(e, "handshakes", (double)st[i].handshakes);
    cJSON_AddNumberToObject(e, "queued", (double)st[i].queued);
    for (unsigned j = 0; j < NET_R_COUNT; j++)
      cJSON_AddNumberToObject(r, net_reject_name(j), (double)st[i].rejects[j]);
    cJSON_AddItemToObject(e, "rejects", r);
    cJSON_AddItemToArray(peers, e);
  }
  cJSON *gj = cJSON_AddObjectToObject(o, "global"), *gr = cJSON_CreateObject();
  for (unsigned j = 0; j < NET_R_COUNT; j++)
    cJSON_AddNumberToObject(gr, net_reject_name(j), (double)g.rejects[j]);
  cJSON_AddItemToObject(gj, "rejects", gr);
  cJSON_AddNumberToObject(gj, "npeers", (double)g.npeers);
  char *text = cJSON_PrintUnformatted(o);
  say("%s", text ? text : "{}");
  free(text);
  cJSON_Delete(o);
}

/* The genesis validators with an address, as net members. */
static size_t genesis_members(const vm_genesis *g, net_member *out) {
  size_t k = 0;
  for (size_t i = 0; i < g->nmembers; i++) {
    const cx_member *m = &g->members[i];
    if (!m->validator || !m->address[0]) continue;
    memset(&out[k], 0, sizeof out[k]);
    snprintf(out[k].name, sizeof out[k].name, "%s", m->name);
    memcpy(out[k].enc_key, m->enc_key, 32);
    snprintf(out[k].address, sizeof out[k].address, "%s", m->address);
    k++;
  }
  return k;
}

/* members N1,N2,...: that subset of all. */
static void cmd_members(net *n, const net_member *all, size_t nall, char *list) {
  net_member sub[VM_MAX_MEMBERS];
  size_t k = 0;
  char *save = NULL;
  for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    size_t i = 0;
    while (i < nall && strcmp(all[i].name, t) != 0) i++;
    if (i == nall) {
      say("err %s is not a validator of the genesis", t);
      return;
    }
    sub[k++] = all[i];
  }
  cx_err e = net_set_members(n, sub, k);
  if (e)
    say("err %s", cx_err_name(e));
  else
    say("ok");
}

static void usage(FILE *f) {
  fputs("usage: custos-netpeer --config NODE_CONFIG.json [--listen ADDR] [--impostor]\n"
        "                      [--dead-ms N] [--keepalive-ms N] [--queue-ttl-ms N]\n"
        "                      [--rekey-msgs N]\n"
        "Commands on stdin: send NAME TYPE TEXT | bcast TYPE TEXT | stats | fault CMD |\n"
        "                   rekey NAME | members N1,N2,... | quit\n",
        f);
}

int main(int argc, char **argv) {
  const char *cfg_path = NULL, *listen = NULL;
  int impostor = 0;
  uint32_t dead = 0, keepalive = 0, ttl = 0, rekey_msgs = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--impostor")) {
      impostor = 1;
      continue;
    } else if (!v) {
      fprintf(stderr, "custos-netpeer: %s needs a value\n", a);
      return 2;
    } else if (!strcmp(a, "--config")) {
      cfg_path = v;
    } else if (!strcmp(a, "--listen")) {
      listen = v;
    } else if ((!strcmp(a, "--dead-ms") && parse_u32(v, &dead)) ||
               (!strcmp(a, "--keepalive-ms") && parse_u32(v, &keepalive)) ||
               (!strcmp(a, "--queue-ttl-ms") && parse_u32(v, &ttl)) ||
               (!strcmp(a, "--rekey-msgs") && parse_u32(v, &rekey_msgs))) {
    } else {
      fprintf(stderr, "custos-netpeer: bad argument %s %s\n", a, v);
      usage(stderr);
      return 2;
    }
    i++;
  }
  if (!cfg_path) {
    fprintf(stderr, "custos-netpeer: --config is required\n");
    usage(stderr);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (sodium_init() < 0) {
    fprintf(stderr, "custos-netpeer: libsodium failed to initialise\n");
    return 2;
  }

  char err[512] = "";
  node_config cfg;
  if (config_load(cfg_path, &cfg, err, sizeof err)) {
    fprintf(stderr, "custos-netpeer: config %s: %s\n", cfg_path, err);
    return 2;
  }
  log_set_level((log_level)cfg.log_level);
  vm_genesis *g = malloc(sizeof *g);
  net_member *all = malloc(VM_MAX_MEMBERS * sizeof *all);
  net_config nc;
  memset(&nc, 0, sizeof nc);
  if (!g || !all) {
    fprintf(stderr, "custos-netpeer: out of memory\n");
    return 2;
  }
  if (genesis_load(cfg.genesis, g, err, sizeof err)) {
    fprintf(stderr, "custos-netpeer: genesis %s: %s\n", cfg.genesis, err);
    return 2;
  }
  vm_genesis_hash(g, &nc.chain_id); /* as node.c: the chain id is the genesis hash */
  size_t nall = genesis_members(g, all);

  if (impostor) {
    randombytes_buf(nc.static_priv, 32);
  } else {
    char *pass = NULL;
    keystore_keys keys;
    memset(&keys, 0, sizeof keys);
    cx_err e = keystore_passphrase(cfg.passphrase_file, &pass, err, sizeof err);
    if (!e) {
      e = keystore_load(cfg.keystore, pass, &keys, err, sizeof err);
      keystore_passphrase_free(pass);
    }
    if (e) {
      fprintf(stderr, "custos-netpeer: keystore %s: %s\n", cfg.keystore,
              e == CX_E_PASSPHRASE ? "wrong passphrase or damaged keystore" : err);
      return 2;
    }
    memcpy(nc.static_priv, keys.enc_secret, 32);
    keystore_keys_free(&keys);
  }
  snprintf(nc.self, sizeof nc.self, "%s", cfg.name);
  snprintf(nc.listen, sizeof nc.listen, "%s", listen ? listen : cfg.p2p_listen);
  nc.dead_ms = dead;
  nc.keepalive_ms = keepalive;
  nc.queue_ttl_ms = ttl;
  nc.rekey_msgs = rekey_msgs;

  net *n = NULL;
  cx_err e = net_open(&nc, &n, err, sizeof err);
  sodium_memzero(nc.static_priv, sizeof nc.static_priv);
  if (e) {
    fprintf(stderr, "custos-netpeer: %s\n", err);
    return 2;
  }
  for (unsigned t = 1; t < NET_MSG_TYPES; t++) net_on(n, t, on_msg, NULL);
  if ((e = net_set_members(n, all, nall)) || (e = net_start(n))) {
    fprintf(stderr, "custos-netpeer: cannot start the member network: %s\n", cx_err_str(e));
    net_close(n);
    return 2;
  }
  say("ready");

  char *line = malloc(LINE_MAX_LEN);
  while (line && fgets(line, LINE_MAX_LEN, stdin)) {
    line[strcspn(line, "\r\n")] = 0;
    char *rest = line, *verb = word(&rest);
    if (!verb) continue;
    if (!strcmp(verb, "quit")) break;
    if (!strcmp(verb, "send")) {
      char *to = word(&rest), *ty = word(&rest);
      int t = ty ? parse_type(ty) : -1;
      if (!to || t < 0) {
        say("err usage: send NAME consensus|tx|sync|mpc TEXT");
        continue;
      }
      e = net_send(n, to, (unsigned)t, (const uint8_t *)rest, strlen(rest));
      if (e)
        say("err %s", cx_err_name(e));
      else
        say("ok");
    } else if (!strcmp(verb, "bcast")) {
      char *ty = word(&rest);
      int t = ty ? parse_type(ty) : -1;
      if (t < 0) {
        say("err usage: bcast consensus|tx|sync|mpc TEXT");
        continue;
      }
      say("ok %zu", net_broadcast(n, (unsigned)t, (const uint8_t *)rest, strlen(rest)));
    } else if (!strcmp(verb, "stats")) {
      print_stats(n);
    } else if (!strcmp(verb, "fault")) {
      char ferr[256] = "";
      e = net_fault(n, rest, ferr, sizeof ferr);
      if (e)
        say("err %s", ferr[0] ? ferr : cx_err_str(e));
      else
        say("ok");
    } else if (!strcmp(verb, "rekey")) {
      char *to = word(&rest);
      e = to ? net_rekey(n, to) : CX_E_INVALID_ARG;
      if (e)
        say("err %s", cx_err_name(e));
      else
        say("ok");
    } else if (!strcmp(verb, "members")) {
      char *list = word(&rest), none[1] = "";
      cmd_members(n, all, nall, list ? list : none);
    } else {
      say("err unknown command %s", verb);
    }
  }
  free(line);
  net_close(n);
  free(all);
  free(g);
  return 0;
}
