/* bench_net: the secured member channel (net/: Noise IK sessions, AEAD on
 * every frame) against raw nanomsg with no crypto, between two processes on
 * 127.0.0.1, measured side by side in the same run (issue: net/, bench/).
 *
 *   bench_net [ROUNDS [SECONDS]]   rounds per figure (default 5) and the
 *                                  length of one raw throughput run (0.5 s)
 *
 * Raw: one NN_PUSH -> NN_PULL pair each way, blocking nn_send/nn_recv, the
 * same NN_SNDBUF as net/ gives its peer sockets (2 MiB), so the difference
 * is the secure channel itself. Secured: net.h's public API, one member
 * each side, keys made before the fork.
 *
 * Throughput: N messages of 64 B, 1 KiB and 64 KiB one way (N sized so a
 * raw run takes SECONDS); the last one asks the receiver for its count,
 * and the time runs until that count arrives back. Raw and secured runs
 * alternate, ROUNDS times per size; the printed ratio is the median of the
 * per-round ratios secured/raw (each pair ran back to back, so slow
 * moments of a shared machine mostly cancel). Round trip: ping-pong of 64 B
 * messages, ROUNDS alternating batches; medians of all samples per side.
 * Targets: ratio >= 0.8 at 1 KiB and above, round-trip overhead <= 20 us.
 *
 * The exit status is 0 whatever the figures (a report), non-zero when the
 * benchmark could not run (ports, sockets, a lost or stuck message). */
#include <arpa/inet.h>
#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "link.h"
#include "net.h"
#include "noise.h"

#define NSIZES 3
static const size_t SIZES[NSIZES] = {64, 1024, 65536};
static const char *const SIZE_NAMES[NSIZES] = {"64B", "1KiB", "64KiB"};
#define MAX_SIZE 65536
#define PING_SIZE 64
#define PINGS 4000              /* round trips per batch */
#define RAW_SNDBUF (2 << 20)    /* = NET_SNDBUF in net/net.c */
#define WAIT_S 60               /* longest wait for a reply before giving up */
#define MSG_TYPE NET_MSG_SYNC   /* secured messages travel as this type */
#define TARGET_RATIO 0.80
#define TARGET_RTT_US 20.0

/* First byte of every message. */
enum { OP_DATA = 'D', OP_LAST = 'L', OP_DONE = 'K', OP_PING = 'P', OP_QUIT = 'Q' };

static pid_t g_child = -1;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_net: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  if (g_child > 0) {
    kill(g_child, SIGTERM);
    waitpid(g_child, NULL, 0);
  }
  exit(1);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}


static void addr_of(char *buf, size_t cap, int port) {
  snprintf(buf, cap, "tcp://127.0.0.1:%d", port);
}

static int nn_sock(int proto, const char *bind_to, const char *connect_to, int timeout_ms) {
  int s = nn_socket(AF_SP, proto);
  if (s < 0) return -1;
  int sndbuf = RAW_SNDBUF;
  if (nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &timeout_ms, sizeof timeout_ms) < 0 ||
      nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &timeout_ms, sizeof timeout_ms) < 0 ||
      (proto == NN_PUSH && nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDBUF, &sndbuf, sizeof sndbuf) < 0) ||
      (bind_to && nn_bind(s, bind_to) < 0) || (connect_to && nn_connect(s, connect_to) < 0)) {
    nn_close(s);
    return -1;
  }
  return s;
}

/* ---- the secured side's shared state (handlers run on the net thread) ---- */

typedef struct {
  net *n;
  const char *peer;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  uint64_t count;      /* receiver: messages of the current run; sender: the reply */
  uint8_t ping[PING_SIZE];
  size_t pings_left;   /* sender: round trips still to make */
  uint64_t sent_at;
  double *samples;     /* sender: round trips in us */
  size_t nsamples;
  int failed;          /* a handler could not send */
} sec_state;

/* net_send with backpressure: CX_E_QUEUE_FULL means wait and retry.
 * *refused (may be NULL) counts the refusals. */
static cx_err sec_send(net *n, const char *to, const uint8_t *p, size_t len, uint64_t *refused) {
  for (unsigned spins = 0;; spins++) {
    cx_err e = net_send(n, to, MSG_TYPE, p, len);
    if (e != CX_E_QUEUE_FULL) return e;
    if (refused) ++*refused;
    if (spins < 4) {
      sched_yield();
    } else {
      struct timespec ts = {0, 20000}; /* 20 us */
      nanosleep(&ts, NULL);
    }
  }
}

static void sec_signal(sec_state *s) {
  pthread_mutex_lock(&s->mu);
  s->done = 1;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Waits for the handler's signal; 0 on timeout. */
static int sec_wait(sec_state *s) {
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += WAIT_S;
  pthread_mutex_lock(&s->mu);
  while (!s->done)
    if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) break;
  int done = s->done;
  s->done = 0;
  pthread_mutex_unlock(&s->mu);
  return done;
}

/* Receiver (child): counts data, answers the last one with the count,
 * echoes pings. */
static void on_msg_receiver(void *ctx, const char *from, unsigned type, const uint8_t *p,
                            size_t len) {
  sec_state *s = ctx;
  if (len == 0) return;
  switch (p[0]) {
  case OP_DATA:
    s->count++;
    break;
  case OP_LAST: {
    uint8_t reply[9] = {OP_DONE};
    put64(reply + 1, ++s->count);
    s->count = 0;
    if (sec_send(s->n, from, reply, sizeof reply, NULL)) s->failed = 1;
    break;
  }
  case OP_PING:
    if (sec_send(s->n, from, p, len, NULL)) s->failed = 1;
    break;
  default:
    break;
  }
}

/* Sender (parent): takes the count back, keeps a ping-pong going. */
static void on_msg_sender(void *ctx, const char *from, unsigned type, const uint8_t *p,
                          size_t len) {
  sec_state *s = ctx;
  if (len == 0) return;
  if (p[0] == OP_DONE && len == 9) {
    s->count = get64(p + 1);
    sec_signal(s);
  } else if (p[0] == OP_PING) {
    uint64_t t = now_ns();
    if (s->samples) s->samples[s->nsamples++] = (double)(t - s->sent_at) / 1e3;
    if (s->pings_left == 0) {
      sec_signal(s);
      return;
    }
    s->pings_left--;
    s->sent_at = now_ns();
    if (sec_send(s->n, s->peer, s->ping, sizeof s->ping, NULL)) {
      s->failed = 1;
      sec_signal(s);
    }
  }
}

/* ---- one side's setup ---- */

typedef struct {
  int ports[4]; /* 0: child's raw PULL, 1: parent's raw PULL, 2: parent's net, 3: child's net */
  cx_hash chain_id;
  uint8_t priv[2][32], pub[2][32]; /* [0] parent "bench-a", [1] child "bench-b" */
} setup;

static const char *const NAMES[2] = {"bench-a", "bench-b"};

static net *open_net(const setup *su, int me, sec_state *st, net_handler h, char *err,
                     size_t errlen) {
  net_config cfg;
  memset(&cfg, 0, sizeof cfg);
  net_config_defaults(&cfg);
  cfg.chain_id = su->chain_id;
  snprintf(cfg.self, sizeof cfg.self, "%s", NAMES[me]);
  memcpy(cfg.static_priv, su->priv[me], 32);
  addr_of(cfg.listen, sizeof cfg.listen, su->ports[me ? 3 : 2]);
  net *n = NULL;
  cx_err e = net_open(&cfg, &n, err, errlen);
  sodium_memzero(cfg.static_priv, sizeof cfg.static_priv);
  if (e) return NULL;
  st->n = n;
  st->peer = NAMES[!me];
  net_member m;
  memset(&m, 0, sizeof m);
  snprintf(m.name, sizeof m.name, "%s", NAMES[!me]);
  memcpy(m.enc_key, su->pub[!me], 32);
  addr_of(m.address, sizeof m.address, su->ports[me ? 2 : 3]);
  net_on(n, MSG_TYPE, h, st);
  if (net_set_members(n, &m, 1) || net_start(n)) {
    snprintf(err, errlen, "net_set_members/net_start failed");
    net_close(n);
    return NULL;
  }
  return n;
}

/* The child: echoes and counts on both channels until OP_QUIT on raw. */
static int run_child(const setup *su) {
  char a[64], b[64], err[256];
  addr_of(a, sizeof a, su->ports[0]);
  addr_of(b, sizeof b, su->ports[1]);
  int pull = nn_sock(NN_PULL, a, NULL, 300000);
  int push = nn_sock(NN_PUSH, NULL, b, 300000);
  if (pull < 0 || push < 0) {
    fprintf(stderr, "bench_net (child): raw sockets: %s\n", nn_strerror(nn_errno()));
    return 1;
  }
  sec_state st;
  memset(&st, 0, sizeof st);
  pthread_mutex_init(&st.mu, NULL);
  pthread_cond_init(&st.cv, NULL);
  net *n = open_net(su, 1, &st, on_msg_receiver, err, sizeof err);
  if (!n) {
    fprintf(stderr, "bench_net (child): %s\n", err);
    return 1;
  }
  uint64_t count = 0;
  int rc = 0;
  for (;;) {
    void *msg = NULL;
    int len = nn_recv(pull, &msg, NN_MSG, 0);
    if (len < 0) {
      fprintf(stderr, "bench_net (child): raw receive: %s\n", nn_strerror(nn_errno()));
      rc = 1;
      break;
    }
    uint8_t op = len > 0 ? ((uint8_t *)msg)[0] : 0;
    if (op == OP_DATA) {
      count++;
    } else if (op == OP_LAST) {
      uint8_t reply[9] = {OP_DONE};
      put64(reply + 1, ++count);
      count = 0;
      if (nn_send(push, reply, sizeof reply, 0) < 0) rc = 1;
    } else if (op == OP_PING) {
      if (nn_send(push, msg, (size_t)len, 0) < 0) rc = 1;
    }
    nn_freemsg(msg);
    if (op == OP_QUIT || rc) break;
  }
  if (st.failed) fprintf(stderr, "bench_net (child): a secured reply could not be sent\n");
  net_close(n);
  nn_close(pull);
  nn_close(push);
  return rc || st.failed;
}

/* ---- the parent's measurements ---- */

typedef struct {
  int push, pull;
  net *n;
  sec_state st;
  uint8_t *buf; /* MAX_SIZE bytes of payload */
  uint64_t refused; /* net_send calls answered CX_E_QUEUE_FULL */
} sender;

/* N messages of size one way; seconds until the count came back. */
static double raw_run(sender *s, size_t size, uint64_t N) {
  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < N; i++) {
    s->buf[0] = i + 1 == N ? OP_LAST : OP_DATA;
    if (nn_send(s->push, s->buf, size, 0) < 0) die("raw send: %s", nn_strerror(nn_errno()));
  }
  uint8_t reply[16];
  int len = nn_recv(s->pull, reply, sizeof reply, 0);
  uint64_t t1 = now_ns();
  if (len != 9 || reply[0] != OP_DONE) die("raw: no count back (%s)", nn_strerror(nn_errno()));
  if (get64(reply + 1) != N)
    die("raw: %llu of %llu messages arrived", (unsigned long long)get64(reply + 1),
        (unsigned long long)N);
  return (double)(t1 - t0) / 1e9;
}

static double sec_run(sender *s, size_t size, uint64_t N) {
  uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < N; i++) {
    s->buf[0] = i + 1 == N ? OP_LAST : OP_DATA;
    cx_err e = sec_send(s->n, NAMES[1], s->buf, size, &s->refused);
    if (e) die("secured send: %s", cx_err_str(e));
  }
  if (!sec_wait(&s->st)) die("secured: no count back after %d s (messages lost?)", WAIT_S);
  uint64_t t1 = now_ns();
  if (s->st.count != N)
    die("secured: %llu of %llu messages arrived", (unsigned long long)s->st.count,
        (unsigned long long)N);
  return (double)(t1 - t0) / 1e9;
}

static void raw_pings(sender *s, size_t k, double *out) {
  uint8_t ping[PING_SIZE], pong[PING_SIZE + 8];
  memset(ping, 0x5a, sizeof ping);
  ping[0] = OP_PING;
  for (size_t i = 0; i < k; i++) {
    uint64_t t0 = now_ns();
    if (nn_send(s->push, ping, sizeof ping, 0) < 0) die("raw ping: %s", nn_strerror(nn_errno()));
    int len = nn_recv(s->pull, pong, sizeof pong, 0);
    if (len != PING_SIZE || pong[0] != OP_PING) die("raw pong: %s", nn_strerror(nn_errno()));
    out[i] = (double)(now_ns() - t0) / 1e3;
  }
}

/* k round trips driven by the sender's handler; the first leaves from here. */
static void sec_pings(sender *s, size_t k, double *out) {
  memset(s->st.ping, 0x5a, sizeof s->st.ping);
  s->st.ping[0] = OP_PING;
  s->st.samples = out;
  s->st.nsamples = 0;
  s->st.pings_left = k - 1;
  s->st.sent_at = now_ns();
  cx_err e = sec_send(s->n, NAMES[1], s->st.ping, sizeof s->st.ping, NULL);
  if (e) die("secured ping: %s", cx_err_str(e));
  if (!sec_wait(&s->st)) die("secured: ping-pong stuck after %d s", WAIT_S);
  if (s->st.failed || s->st.nsamples != k) die("secured: ping-pong failed");
  s->st.samples = NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double maxof(const double *v, size_t n) {
  double m = v[0];
  for (size_t i = 1; i < n; i++)
    if (v[i] > m) m = v[i];
  return m;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 5;
  double secs = argc > 2 ? atof(argv[2]) : 0.5;
  if (rounds < 1 || rounds > 100 || !(secs > 0 && secs <= 60)) {
    fprintf(stderr, "usage: bench_net [ROUNDS (1..100) [SECONDS (0..60]]]\n");
    return 2;
  }
  if (sodium_init() < 0) die("sodium_init failed");
  log_set_level(LOG_WARN);
  signal(SIGPIPE, SIG_IGN);

  setup su;
  if (bench_pick_ports(su.ports, 4)) die("no four free consecutive ports on 127.0.0.1");
  randombytes_buf(su.chain_id.b, sizeof su.chain_id.b);
  for (int i = 0; i < 2; i++) crypto_box_keypair(su.pub[i], su.priv[i]);

  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) _exit(run_child(&su));
  g_child = pid;

  sender s;
  memset(&s, 0, sizeof s);
  char a[64], b[64], err[256];
  addr_of(a, sizeof a, su.ports[0]);
  addr_of(b, sizeof b, su.ports[1]);
  s.push = nn_sock(NN_PUSH, NULL, a, WAIT_S * 1000);
  s.pull = nn_sock(NN_PULL, b, NULL, WAIT_S * 1000);
  if (s.push < 0 || s.pull < 0) die("raw sockets: %s", nn_strerror(nn_errno()));
  pthread_mutex_init(&s.st.mu, NULL);
  pthread_cond_init(&s.st.cv, NULL);
  s.n = open_net(&su, 0, &s.st, on_msg_sender, err, sizeof err);
  if (!s.n) die("%s", err);
  sodium_memzero(su.priv, sizeof su.priv);
  s.buf = malloc(MAX_SIZE);
  double *samples = malloc(sizeof(double) * PINGS * (size_t)rounds * 2);
  if (!s.buf || !samples) die("out of memory");
  randombytes_buf(s.buf, MAX_SIZE);

  /* Warm up both channels (connects, the handshake, nanomsg's buffers). */
  raw_pings(&s, 100, samples);
  sec_pings(&s, 100, samples);

  printf("bench_net: raw nanomsg vs secured channel (net/), 2 processes on 127.0.0.1\n");
  printf("  %d rounds per figure, raw runs of ~%.2f s, raw and secured alternating\n\n", rounds,
         secs);
  printf("%-6s %9s | %12s %9s | %12s %9s | %s\n", "size", "messages", "raw msg/s", "raw MB/s",
         "sec msg/s", "sec MB/s", "ratio (median of rounds; best/best)");

  double ratio[NSIZES], raw_best[NSIZES];
  for (int z = 0; z < NSIZES; z++) {
    size_t size = SIZES[z];
    /* Size N from raw runs of a quarter of SECONDS or more (with a margin:
     * the first runs are cold), then warm the secured path at that size. */
    uint64_t n0 = size >= 65536 ? 200 : 2000;
    double t;
    while ((t = raw_run(&s, size, n0)) < secs / 4 && n0 < ((uint64_t)1 << 32)) n0 *= 2;
    uint64_t N = (uint64_t)((double)n0 / t * secs * 1.25);
    if (N < n0) N = n0;
    (void)sec_run(&s, size, n0);
    double raw_rate[100], sec_rate[100], r[100];
    char spread[100 * 6 + 1] = "";
    s.refused = 0;
    for (int k = 0; k < rounds; k++) {
      raw_rate[k] = (double)N / raw_run(&s, size, N);
      sec_rate[k] = (double)N / sec_run(&s, size, N);
      r[k] = sec_rate[k] / raw_rate[k];
      snprintf(spread + strlen(spread), sizeof spread - strlen(spread), " %.2f", r[k]);
    }
    /* median() sorts in place: the pairs are gone after this point. */
    double best_raw = maxof(raw_rate, (size_t)rounds), best_sec = maxof(sec_rate, (size_t)rounds);
    raw_best[z] = best_raw;
    ratio[z] = median(r, (size_t)rounds);
    double med_raw = median(raw_rate, (size_t)rounds), med_sec = median(sec_rate, (size_t)rounds);
    printf("%-6s %9llu | %12.0f %9.1f | %12.0f %9.1f | %.2f; %.2f\n", SIZE_NAMES[z],
           (unsigned long long)N, med_raw, med_raw * (double)size / 1e6, med_sec,
           med_sec * (double)size / 1e6, ratio[z], best_sec / best_raw);
    /* The spread, and how often net_send pushed back (then retried). */
    printf("       rounds:%s; queue_full answers per message: %.2f\n", spread,
           (double)s.refused / ((double)N * (double)rounds));
    fflush(stdout);
  }

  /* The cipher alone, single-threaded, per message: what the secured path
   * must add to every message on top of nanomsg (one seal at the sender,
   * one open at the receiver). On a machine where both ends and nanomsg's
   * I/O threads share the same cores, this bounds the ratio. */
  printf("\nAEAD alone (ChaCha20-Poly1305, seal + open per message, one core):\n");
  for (int z = 0; z < NSIZES; z++) {
    size_t size = SIZES[z];
    uint8_t key[32] = {1}, ad[LINK_HDR] = {0};
    uint8_t *m = calloc(1, size + 16);
    if (!m) die("out of memory");
    uint64_t iters = 0, t0 = now_ns(), t1;
    do {
      for (int k = 0; k < 64; k++, iters++) {
        noise_seal(key, iters, ad, sizeof ad, m, size, m);
        if (noise_open(key, iters, ad, sizeof ad, m, size + 16, m) != CX_OK) die("aead");
      }
      t1 = now_ns();
    } while (t1 - t0 < 200000000ull);
    double us = (double)(t1 - t0) / 1e3 / (double)iters;
    printf("  %-6s %8.2f us; the raw channel spends %8.2f us of wall time per message\n",
           SIZE_NAMES[z], us, 1e6 / raw_best[z]);
    free(m);
  }

  double *raw_s = samples, *sec_s = samples + PINGS * (size_t)rounds;
  for (int k = 0; k < rounds; k++) {
    raw_pings(&s, PINGS, raw_s + (size_t)k * PINGS);
    sec_pings(&s, PINGS, sec_s + (size_t)k * PINGS);
  }
  size_t ns = PINGS * (size_t)rounds;
  double raw_rtt = median(raw_s, ns), sec_rtt = median(sec_s, ns);
  double raw_p99 = raw_s[ns * 99 / 100], sec_p99 = sec_s[ns * 99 / 100];
  printf("\nround trip, %d B ping-pong, %zu each: raw median %.1f us (p99 %.1f), "
         "secured median %.1f us (p99 %.1f)\n\n",
         PING_SIZE, ns, raw_rtt, raw_p99, sec_rtt, sec_p99);

  for (int z = 0; z < NSIZES; z++) {
    if (SIZES[z] < 1024)
      printf("ratio %s: %.2f (no target)\n", SIZE_NAMES[z], ratio[z]);
    else
      printf("ratio %s: %.2f (target >= %.2f) %s\n", SIZE_NAMES[z], ratio[z], TARGET_RATIO,
             ratio[z] >= TARGET_RATIO ? "PASS" : "FAIL");
  }
  double over = sec_rtt - raw_rtt;
  printf("rtt overhead: %.1f us (target <= %.0f) %s\n", over, TARGET_RTT_US,
         over <= TARGET_RTT_US ? "PASS" : "FAIL");

  /* Stop the child and check that it ended well. */
  uint8_t quit = OP_QUIT;
  if (nn_send(s.push, &quit, 1, 0) < 0) die("raw send: %s", nn_strerror(nn_errno()));
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    g_child = -1;
    die("the receiving process failed");
  }
  g_child = -1;
  net_close(s.n);
  nn_close(s.push);
  nn_close(s.pull);
  free(s.buf);
  free(samples);
  return 0;
}
