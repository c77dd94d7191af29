/* /metrics and /healthz (node/metrics.c, the GET hook of node/rpc.c) on a
 * real custosd started in-process (node_open + node_start: RPC server,
 * member links on loopback, consensus thread), over plain HTTP/1.1 on a
 * socket: the Prometheus text format checked line by line (every sample
 * parses as name{labels} value, belongs to a family with HELP and TYPE,
 * counters end in _total, histogram buckets are cumulative up to +Inf =
 * _count), the JSON-RPC request and error counters moving with real
 * requests, commit latency observed once a block commits, health 200 when
 * running and 503 with the reason after a fatal error, 404 for other GET
 * paths, 405 for other HTTP methods, HEAD without a body, and nothing of
 * the admin cookie in a scrape.
 *
 * Consortium: hrss (bureau, the only validator), insurer; a subject that is
 * not a member registers an identity to make a block. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fileutil.h"
#include "genesis.h"
#include "keystore.h"
#include "log.h"
#include "metrics.h"
#include "node.h"
#include "node_internal.h"
#include "nodeutil.h"
#include "testutil.h"

static char *g_dir;
static node *g_node;
static keystore_keys g_hrss, g_insurer, g_subject;

/* two_validators: insurer validates too (it never runs here: no commits). */
static void write_genesis(const char *dir, uint16_t p2p_port, int two_validators) {
  char a0[64], a1[64];
  snprintf(a0, sizeof a0, "tcp://127.0.0.1:%u", (unsigned)p2p_port);
  snprintf(a1, sizeof a1, "tcp://127.0.0.1:%u", (unsigned)p2p_port + 1);
  cx_member m[2];
  nu_member(&m[0], "hrss", ROLE_BUREAU, &g_hrss, a0, "hrss");
  nu_member(&m[1], "insurer", ROLE_INSURER, &g_insurer, two_validators ? a1 : "", "");
  nu_genesis_write(dir, "metricstest", m, 2);
}

/* A node of a fresh single-validator chain; started when start is set (RPC
 * on a free port, member links on a random high port). */
static node *open_node(int start, int two_validators) {
  char err[256] = "";
  ck_assert_int_eq(keystore_generate(&g_hrss), CX_OK);
  ck_assert_int_eq(keystore_generate(&g_insurer), CX_OK);
  ck_assert_int_eq(keystore_generate(&g_subject), CX_OK);
  nu_keystore_save(g_dir, &g_hrss);
  uint16_t p2p = (uint16_t)(20000 + tu_rand() % 30000);
  write_genesis(g_dir, p2p, two_validators);

  node_config cfg;
  nu_config(&cfg, g_dir, "hrss");
  strcpy(cfg.rpc_listen, "127.0.0.1");
  cfg.rpc_port = 0;
  cfg.block_interval_ms = 20;
  node *n = NULL;
  ck_assert_msg(node_open(&cfg, &n, err, sizeof err) == CX_OK, "node_open: %s", err);
  if (start) ck_assert_msg(node_start(n, err, sizeof err) == CX_OK, "node_start: %s", err);
  return n;
}

static void setup(void) {
  log_set_level(LOG_WARN);
  g_dir = tu_tmpdir("metrics");
  g_node = NULL;
}

static void teardown(void) {
  node_close(g_node);
  keystore_keys_free(&g_hrss);
  keystore_keys_free(&g_insurer);
  keystore_keys_free(&g_subject);
  tu_rmrf(g_dir);
  free(g_dir);
}

/* ---------------------------------------------------------------------------
 * A tiny HTTP/1.1 client (one request per connection)
 * ------------------------------------------------------------------------- */

typedef struct {
  int status;
  char *head, *body;
  size_t body_len;
} http_resp;

static void http_free(http_resp *r) {
  free(r->head);
  free(r->body);
  memset(r, 0, sizeof *r);
}

static const char *find_header(const char *head, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
    if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
      const char *v = p + 3 + nl;
      while (*v == ' ') v++;
      return v;
    }
  }
  return NULL;
}

/* Sends the request and reads to EOF ("Connection: close"). */
static void http_do(const char *method, const char *path, const char *body, http_resp *r) {
  uint16_t port = node_rpc_port(g_node);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(fd, 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0, "connect: %s",
                strerror(errno));
  size_t bl = body ? strlen(body) : 0;
  char *req = malloc(bl + 512);
  ck_assert_ptr_nonnull(req);
  int n = snprintf(req, 512, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
                   method, path);
  if (body)
    n += snprintf(req + n, 512 - (size_t)n,
                  "Content-Type: application/json\r\nContent-Length: %zu\r\n", bl);
  n += snprintf(req + n, 512 - (size_t)n, "\r\n");
  if (body) memcpy(req + n, body, bl);
  size_t tot = (size_t)n + bl, off = 0;
  while (off < tot) {
    ssize_t w = send(fd, req + off, tot - off, MSG_NOSIGNAL);
    ck_assert_int_gt(w, 0);
    off += (size_t)w;
  }
  free(req);
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  ck_assert_ptr_nonnull(buf);
  for (;;) {
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
      ck_assert_ptr_nonnull(buf);
    }
    ssize_t k = recv(fd, buf + len, cap - len, 0);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    len += (size_t)k;
  }
  close(fd);
  buf[len] = 0;
  memset(r, 0, sizeof *r);
  char *e = strstr(buf, "\r\n\r\n");
  ck_assert_msg(e != NULL, "no HTTP response to %s %s", method, path);
  r->head = strndup(buf, (size_t)(e - buf) + 4);
  r->body = strdup(e + 4);
  ck_assert(r->head && r->body);
  r->body_len = len - (size_t)(e + 4 - buf);
  ck_assert_int_eq(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
  free(buf);
}

static void rpc(const char *body, int status) {
  http_resp r;
  http_do("POST", "/", body, &r);
  ck_assert_msg(r.status == status, "POST %s: HTTP %d", body, r.status);
  http_free(&r);
}

/* ---------------------------------------------------------------------------
 * The exposition format, line by line
 * ------------------------------------------------------------------------- */

#define MAX_FAM 256

typedef struct {
  char name[128];
  char type[16];
  int help, samples;
} fam_info;

typedef struct {
  fam_info f[MAX_FAM];
  size_t n;
} fams;

static fam_info *fam_find(fams *fs, const char *name) {
  for (size_t i = 0; i < fs->n; i++)
    if (strcmp(fs->f[i].name, name) == 0) return &fs->f[i];
  return NULL;
}

static fam_info *fam_add(fams *fs, const char *name) {
  fam_info *f = fam_find(fs, name);
  if (f) return f;
  ck_assert_uint_lt(fs->n, MAX_FAM);
  f = &fs->f[fs->n++];
  memset(f, 0, sizeof *f);
  ck_assert_uint_lt(strlen(name), sizeof f->name);
  strcpy(f->name, name);
  return f;
}

static int name_char(char c, int first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

/* Parses a metric name at *p; returns its length (0: none). */
static size_t parse_name(const char *p) {
  size_t k = 0;
  while (p[k] && name_char(p[k], k == 0)) k++;
  return k;
}

/* Parses {label="value",...} at p (value escapes \\ \" \n); returns the
 * length, -1 when malformed. The value of "le", if any, into le. */
static long parse_labels(const char *p, char *le, size_t lecap) {
  const char *s = p;
  if (*p != '{') return 0;
  p++;
  while (*p != '}') {
    size_t k = parse_name(p);
    if (k == 0) return -1;
    int is_le = k == 2 && strncmp(p, "le", 2) == 0;
    p += k;
    if (*p++ != '=' || *p++ != '"') return -1;
    size_t vl = 0;
    while (*p && *p != '"') {
      if (*p == '\n') return -1;
      if (*p == '\\') {
        p++;
        if (*p != '\\' && *p != '"' && *p != 'n') return -1;
      }
      if (is_le && vl + 1 < lecap) le[vl++] = *p;
      p++;
    }
    if (is_le) le[vl] = 0;
    if (*p++ != '"') return -1;
    if (*p == ',') p++;
    else if (*p != '}') return -1;
  }
  return (long)(p + 1 - s);
}

/* Checks the whole text; fails the test with the offending line. */
static void check_format(const char *text) {
  static fams fs;
  memset(&fs, 0, sizeof fs);
  const char *line = text;
  char last_bucket_fam[128] = "";
  double last_le = -INFINITY, last_cum = -1;
  ck_assert_msg(*text && text[strlen(text) - 1] == '\n', "text must end in a newline");
  while (*line) {
    const char *nl = strchr(line, '\n');
    ck_assert_ptr_nonnull(nl);
    char l[1024];
    size_t ll = (size_t)(nl - line);
    ck_assert_msg(ll > 0 && ll < sizeof l, "empty or overlong line");
    memcpy(l, line, ll);
    l[ll] = 0;
    line = nl + 1;
    if (strncmp(l, "# HELP ", 7) == 0 || strncmp(l, "# TYPE ", 7) == 0) {
      const char *p = l + 7;
      size_t k = parse_name(p);
      ck_assert_msg(k > 0 && p[k] == ' ' && p[k + 1], "bad comment line: %s", l);
      char name[128];
      ck_assert_uint_lt(k, sizeof name);
      memcpy(name, p, k);
      name[k] = 0;
      fam_info *f = fam_add(&fs, name);
      ck_assert_msg(f->samples == 0, "HELP/TYPE after samples: %s", l);
      if (l[2] == 'H') {
        ck_assert_msg(!f->help, "second HELP: %s", l);
        f->help = 1;
      } else {
        const char *t = p + k + 1;
        ck_assert_msg(!f->type[0], "second TYPE: %s", l);
        ck_assert_msg(strcmp(t, "counter") == 0 || strcmp(t, "gauge") == 0 ||
                          strcmp(t, "histogram") == 0 || strcmp(t, "summary") == 0 ||
                          strcmp(t, "untyped") == 0,
                      "unknown type: %s", l);
        strcpy(f->type, t);
        if (strcmp(t, "counter") == 0) {
          ck_assert_msg(k > 6 && strcmp(name + k - 6, "_total") == 0,
                        "counter without _total: %s", name);
        }
      }
      continue;
    }
    ck_assert_msg(l[0] != '#', "stray comment: %s", l);
    size_t k = parse_name(l);
    ck_assert_msg(k > 0, "sample without a name: %s", l);
    char name[128];
    ck_assert_uint_lt(k, sizeof name);
    memcpy(name, l, k);
    name[k] = 0;
    ck_assert_msg(strncmp(name, "custos_", 7) == 0, "name without the custos_ prefix: %s", l);
    char le[32] = "";
    long lab = parse_labels(l + k, le, sizeof le);
    ck_assert_msg(lab >= 0, "malformed labels: %s", l);
    const char *v = l + k + lab;
    ck_assert_msg(*v == ' ', "no space before the value: %s", l);
    char *end;
    double val = strtod(v + 1, &end);
    ck_assert_msg(end != v + 1 && *end == 0, "value does not parse: %s", l);
    ck_assert_msg(val >= 0, "negative value: %s", l);
    /* its family: the name itself, or a histogram's _bucket/_sum/_count */
    fam_info *f = fam_find(&fs, name);
    const char *suffix = NULL;
    if (!f) {
      static const char *suf[] = {"_bucket", "_sum", "_count"};
      for (size_t i = 0; i < 3 && !f; i++) {
        size_t sl = strlen(suf[i]);
        if (k > sl && strcmp(name + k - sl, suf[i]) == 0) {
          char base[128];
          memcpy(base, name, k - sl);
          base[k - sl] = 0;
          f = fam_find(&fs, base);
          if (f && strcmp(f->type, "histogram") != 0) f = NULL;
          suffix = suf[i];
        }
      }
    }
    ck_assert_msg(f != NULL, "sample of no declared family: %s", l);
    ck_assert_msg(f->help && f->type[0], "family %s lacks HELP or TYPE", f->name);
    f->samples++;
    if (suffix && strcmp(suffix, "_bucket") == 0) {
      ck_assert_msg(le[0], "bucket without le: %s", l);
      double lev = strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, NULL);
      if (strcmp(last_bucket_fam, f->name) != 0) {
        strcpy(last_bucket_fam, f->name);
        last_le = -INFINITY;
        last_cum = -1;
      }
      ck_assert_msg(lev > last_le && val >= last_cum, "buckets not cumulative: %s", l);
      last_le = lev;
      last_cum = val;
    } else if (suffix && strcmp(suffix, "_count") == 0) {
      ck_assert_msg(strcmp(last_bucket_fam, f->name) == 0 && isinf(last_le) &&
                        val == last_cum,
                    "histogram _count differs from its +Inf bucket: %s", l);
    }
  }
  for (size_t i = 0; i < fs.n; i++)
    ck_assert_msg(fs.f[i].help && fs.f[i].type[0], "family %s lacks HELP or TYPE",
                  fs.f[i].name);
}

/* The value of one series ("name" or "name{labels}" exactly as written);
 * -1 when absent. */
static double value_of(const char *text, const char *series) {
  size_t sl = strlen(series);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, series, sl) == 0 && p[sl] == ' ') return strtod(p + sl + 1, NULL);
  return -1;
}

static char *scrape(void) {
  http_resp r;
  http_do("GET", "/metrics", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  const char *ct = find_header(r.head, "Content-Type");
  ck_assert_ptr_nonnull(ct);
  ck_assert_msg(strncmp(ct, "text/plain; version=0.0.4", 25) == 0, "Content-Type %s", ct);
  ck_assert_uint_eq(strlen(r.body), r.body_len);
  check_format(r.body);
  char *b = r.body;
  r.body = NULL;
  http_free(&r);
  return b;
}

/* The identity registration of a fresh subject, admitted to the mempool. */
static void submit_tx(void) {
  cx_tx tx;
  cx_hash id;
  uint8_t *raw = NULL;
  size_t len = 0;
  char detail[256] = "";
  tx_init(&tx);
  tx.type = TX_ID_REGISTER;
  tu_randbytes(tx.u.reg.did.b, 32);
  node_chain_id(g_node, &tx.chain_id);
  ck_assert_int_eq(vm_account_nonce(node_state(g_node), &g_subject.pub, &tx.nonce), CX_OK);
  ck_assert_int_eq(tx_sign(&tx, g_subject.sign), CX_OK);
  ck_assert_int_eq(tx_encode(&tx, 1, &raw, &len), CX_OK);
  ck_assert_msg(node_submit(g_node, raw, len, &id, detail, sizeof detail) == CX_OK, "submit: %s",
                detail);
  free(raw);
  tx_clear(&tx);
}

/* ---------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------- */

START_TEST(format_counters_and_latency) {
  g_node = open_node(1, 0);
  char *m0 = scrape();
  ck_assert(value_of(m0, "custos_healthy") == 1);
  ck_assert(value_of(m0, "custos_height") == 0);
  ck_assert(value_of(m0, "custos_mempool_txs") == 0);
  ck_assert(value_of(m0, "custos_consensus_validators") == 1);
  ck_assert(value_of(m0, "custos_mpc_enabled") == 0);
  /* the only validator: no member links */
  ck_assert_ptr_null(strstr(m0, "custos_peer_connected{"));
  /* every method of the table is listed, with zeros */
  ck_assert(value_of(m0, "custos_rpc_requests_total{method=\"block_get\"}") == 0);
  double st0 = value_of(m0, "custos_rpc_requests_total{method=\"status\"}");
  ck_assert(st0 == 0);
  ck_assert(value_of(m0, "custos_rpc_requests_total{method=\"unknown\"}") == 0);

  rpc("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}", 200);
  rpc("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"status\"}", 200);
  rpc("[{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"status\"},"
      "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"nope\"}]", 200);
  rpc("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"block_get\",\"params\":{\"height\":\"x\"}}", 200);
  rpc("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"admin_mempool\"}", 401); /* 401, counted */
  rpc("{not json", 200);
  char *m1 = scrape();
  ck_assert(value_of(m1, "custos_rpc_requests_total{method=\"status\"}") == st0 + 3);
  ck_assert(value_of(m1, "custos_rpc_requests_total{method=\"unknown\"}") == 1);
  ck_assert(value_of(m1, "custos_rpc_requests_total{method=\"block_get\"}") == 1);
  ck_assert(value_of(m1, "custos_rpc_requests_total{method=\"invalid\"}") == 1);
  ck_assert(value_of(m1, "custos_rpc_errors_total{method=\"unknown\",code=\"-32601\"}") == 1);
  ck_assert(value_of(m1, "custos_rpc_errors_total{method=\"block_get\",code=\"-32602\"}") == 1);
  ck_assert(value_of(m1, "custos_rpc_errors_total{method=\"invalid\",code=\"-32700\"}") == 1);
  char auth[64];
  snprintf(auth, sizeof auth, "custos_rpc_errors_total{method=\"admin_mempool\",code=\"%d\"}",
           (int)CX_E_AUTH);
  ck_assert(value_of(m1, auth) == 1);
  /* successful calls are no errors */
  ck_assert(strstr(m1, "custos_rpc_errors_total{method=\"status\"") == NULL);
  /* nothing of the admin cookie in a scrape */
  char *ck = NULL;
  size_t cl = 0;
  ck_assert_int_eq(file_read_all(g_node->cookie_path, 4096, &ck, &cl), CX_OK);
  ck_assert_uint_gt(cl, 20);
  ck_assert_ptr_nonnull(strchr(ck, ':'));
  ck_assert(strstr(m1, strchr(ck, ':') + 1) == NULL);
  free(ck);

  /* a block: the consensus thread commits it and observes its latency */
  ck_assert(value_of(m1, "custos_commit_latency_seconds_count") == 0);
  submit_tx();
  char *m2 = NULL;
  for (int i = 0; i < 200; i++) {
    free(m2);
    m2 = scrape();
    if (value_of(m2, "custos_height") >= 1) break;
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
  ck_assert_msg(value_of(m2, "custos_height") >= 1, "no block committed");
  ck_assert(value_of(m2, "custos_commit_latency_seconds_count") >= 1);
  ck_assert(value_of(m2, "custos_commit_latency_seconds_bucket{le=\"+Inf\"}") >= 1);
  ck_assert(value_of(m2, "custos_mempool_txs_total{result=\"committed\"}") >= 1);
  free(m0);
  free(m1);
  free(m2);
}
END_TEST

START_TEST(health_paths_and_methods) {
  g_node = open_node(1, 0);
  http_resp r;
  http_do("GET", "/healthz", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_str_eq(r.body, "ok\n");
  http_free(&r);

  /* HEAD: the headers of GET, no body */
  http_do("HEAD", "/metrics", NULL, &r);
  ck_assert_int_eq(r.status, 200);
  ck_assert_uint_eq(r.body_len, 0);
  ck_assert_ptr_nonnull(find_header(r.head, "Content-Type"));
  http_free(&r);

  http_do("GET", "/nope", NULL, &r);
  ck_assert_int_eq(r.status, 404);
  ck_assert_ptr_nonnull(strstr(r.body, "/metrics"));
  http_free(&r);
  http_do("GET", "/", NULL, &r);
  ck_assert_int_eq(r.status, 404);
  http_free(&r);

  http_do("PUT", "/metrics", "{}", &r);
  ck_assert_int_eq(r.status, 405);
  const char *allow = find_header(r.head, "Allow");
  ck_assert_ptr_nonnull(allow);
  ck_assert_int_eq(strncmp(allow, "GET, HEAD, POST\r", 16), 0);
  http_free(&r);
  http_do("DELETE", "/healthz", NULL, &r);
  ck_assert_int_eq(r.status, 405);
  http_free(&r);

  /* a fatal error stops consensus: 503 with the reason, and the gauge */
  host_fatal(g_node, CX_E_IO, "test: simulated storage failure");
  http_do("GET", "/healthz", NULL, &r);
  ck_assert_int_eq(r.status, 503);
  ck_assert_msg(strncmp(r.body, "consensus stopped: ", 19) == 0, "body: %s", r.body);
  ck_assert_ptr_nonnull(strstr(r.body, cx_err_name(CX_E_IO)));
  /* one line */
  ck_assert_ptr_eq(strchr(r.body, '\n'), r.body + r.body_len - 1);
  http_free(&r);
  char *m = scrape();
  ck_assert(value_of(m, "custos_healthy") == 0);
  free(m);
}
END_TEST

/* Without node_start (in-process use): no RPC server, no links; the handler
 * still renders, says not running, and node_produce_block's commit is
 * observed. */
START_TEST(in_process_handler) {
  g_node = open_node(0, 0);
  char *body = NULL;
  size_t len = 0;
  const char *ct = NULL;
  ck_assert_int_eq(metrics_http_get(g_node, "/healthz", &body, &len, &ct), 503);
  ck_assert_str_eq(body, "consensus not running (node not started)\n");
  ck_assert_uint_eq(len, strlen(body));
  free(body);

  submit_tx();
  size_t ntx = 0;
  ck_assert_int_eq(node_produce_block(g_node, &ntx), CX_OK);
  ck_assert_uint_eq(ntx, 1);
  ck_assert_int_eq(metrics_http_get(g_node, "/metrics", &body, &len, &ct), 200);
  ck_assert_uint_eq(len, strlen(body));
  if (getenv("CUSTOS_METRICS_DUMP")) fputs(body, stderr); /* to look at a scrape */
  check_format(body);
  ck_assert(value_of(body, "custos_height") == 1);
  ck_assert(value_of(body, "custos_commit_latency_seconds_count") == 1);
  ck_assert(value_of(body, "custos_healthy") == 0);
  ck_assert_ptr_null(strstr(body, "custos_peer_connected{"));
  ck_assert_ptr_null(strstr(body, "custos_rpc_requests_total{"));
  free(body);
  ck_assert_int_eq(metrics_http_get(g_node, "/metrics/", &body, &len, &ct), 404);
  free(body);
}
END_TEST

/* A second validator that never runs: its link is listed, not connected. */
START_TEST(peer_samples) {
  g_node = open_node(1, 1);
  char *m = scrape();
  ck_assert(value_of(m, "custos_consensus_validators") == 2);
  ck_assert(value_of(m, "custos_peer_connected{peer=\"insurer\"}") == 0);
  ck_assert(value_of(m, "custos_peer_bytes_received_total{peer=\"insurer\"}") == 0);
  ck_assert(value_of(m, "custos_peer_bytes_sent_total{peer=\"insurer\"}") >= 0);
  ck_assert(value_of(m, "custos_peer_handshakes_total{peer=\"insurer\"}") == 0);
  ck_assert(value_of(m, "custos_peer_socket_resets_total{peer=\"insurer\"}") == 0);
  ck_assert_ptr_null(strstr(m, "{peer=\"hrss\"}")); /* not a link to ourselves */
  free(m);
}
END_TEST

/* The checker itself refuses what it must (so the tests above can fail). */
START_TEST(checker_refuses) {
  ck_assert(value_of("custos_a 1\ncustos_b{x=\"y\"} 2\n", "custos_b{x=\"y\"}") == 2);
  ck_assert(value_of("custos_a 1\n", "custos_b") == -1);
  ck_assert_int_eq(parse_labels("{a=\"b\",c=\"d\\\"\"}", (char[8]){0}, 8), 15);
  ck_assert_int_eq(parse_labels("{a=b}", (char[8]){0}, 8), -1);
  ck_assert_int_eq(parse_labels("{a=\"b\\x\"}", (char[8]){0}, 8), -1);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("metrics");
  TCase *tc = tcase_create("http");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, format_counters_and_latency);
  tcase_add_test(tc, health_paths_and_methods);
  tcase_add_test(tc, in_process_handler);
  tcase_add_test(tc, peer_samples);
  suite_add_tcase(s, tc);
  tc = tcase_create("checker");
  tcase_add_test(tc, checker_refuses);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
