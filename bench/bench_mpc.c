/* bench_mpc: the MPC engine (mpc/) with N parties as N processes on
 * 127.0.0.1, each with its own net/ endpoint (Noise channels, as in custosd),
 * against the MP-SPDZ anchors of the issue, as ratios.
 *
 *   bench_mpc [--n N] [--mults M] [--cmps C] [--lat L] [--batch B]
 *             defaults: N 4, M 1000000, C 100000, L 20, B 100000
 *
 * Phases, each timed on every party (wall clock from the start of the
 * phase's first session to the end of its last; the figure printed is the
 * slowest party) with the process CPU time beside it:
 *   1. prep-mul:  prep sessions of B triples (and the random sharings the
 *                 program takes) until the pool holds what phase 2 needs;
 *   2. online-mul: one program, a = RAND(M), b = RAND(M), c = a * b, output
 *                 sum(c): M multiplications in ceil(M / per-message) rounds;
 *   3. prep-cmp:  triples, randoms, random bits and bounded random integers
 *                 (ints) for C comparisons;
 *   4. online-cmp: inputs a (party 0) and b (party 1) of C signed 64-bit
 *                 values, out = (a < b), checked against plaintext by
 *                 party 0 (a mismatch fails the benchmark);
 *   5. latency:   L sessions of ONE comparison (input, compare, output) on
 *                 a prefilled pool: median wall time per session.
 * Bytes and rounds per operation are printed first: they do not depend on
 * the machine. Throughput = operations / (prep + online), i.e.
 * preprocessing included, as the targets require.
 *
 * Anchors (MP-SPDZ, 4 parties, 2 cores, loopback; from the issue):
 *   semi-honest Shamir: 2.0 M mult/s; 16,300 cmp/s (edaBits)
 *   malicious Shamir (abort, no identification): 231,000 mult/s; 1,140 cmp/s
 * Targets: mult/s >= 1.0 x 2.0 M and cmp/s >= 1.0 x 16,300; at least 5 x
 * the malicious rates. Exit status 1 if a target is missed, 2 if the
 * benchmark could not run. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "hash.h"
#include "keys.h"
#include "log.h"
#include "mpc.h"
#include "net.h"

#define MAXN 16
#define ANCHOR_SH_MUL 2.0e6
#define ANCHOR_SH_CMP 16300.0
#define ANCHOR_MAL_MUL 231000.0
#define ANCHOR_MAL_CMP 1140.0
#define CMP_BITS 64

typedef struct {
  uint32_t n, t;
  size_t mults, cmps, lat, batch;
  int ports[MAXN];
  cx_hash chain_id;
  uint8_t xpriv[MAXN][32], xpub[MAXN][32];
  uint8_t sk[MAXN][32];
  cx_pubkey pk[MAXN];
  uint8_t seed[32]; /* bench inputs and session ids */
} setup;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_mpc: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

static uint64_t now_ms(void) { return (uint64_t)(bench_now_s() * 1000.0); }
static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}


/* ---- one party ---------------------------------------------------------- */

typedef struct qmsg {
  struct qmsg *next;
  uint32_t link; /* the party whose channel delivered it (custosd does the same, by link name) */
  size_t len;
  uint8_t data[];
} qmsg;

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  qmsg *head, *tail;
} queue;

static queue g_q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL};

static void on_mpc(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len) {
  (void)ctx, (void)type;
  qmsg *m = malloc(sizeof *m + len);
  if (!m) return;
  m->next = NULL;
  char *end = NULL; /* names are "p<index>" (name_of) */
  unsigned long l = from[0] == 'p' ? strtoul(from + 1, &end, 10) : ULONG_MAX;
  m->link = end && *end == 0 && l < MAXN ? (uint32_t)l : MPC_NO_LINK;
  m->len = len;
  memcpy(m->data, p, len);
  pthread_mutex_lock(&g_q.mu);
  if (g_q.tail) g_q.tail->next = m;
  else g_q.head = m;
  g_q.tail = m;
  pthread_cond_signal(&g_q.cv);
  pthread_mutex_unlock(&g_q.mu);
}

static qmsg *q_pop(int wait_ms) {
  pthread_mutex_lock(&g_q.mu);
  if (!g_q.head && wait_ms > 0) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)wait_ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&g_q.cv, &g_q.mu, &ts);
  }
  qmsg *m = g_q.head;
  if (m) {
    g_q.head = m->next;
    if (!g_q.head) g_q.tail = NULL;
  }
  pthread_mutex_unlock(&g_q.mu);
  return m;
}

typedef struct {
  const setup *su;
  uint32_t me;
  net *net;
  cx_seckey *key;
  mpc_pool *pool;
  uint64_t sessions;
  qmsg *stash; /* messages of sessions not started yet */
  uint64_t bytes, rounds;
} party;

static void name_of(char *buf, size_t cap, uint32_t i) { snprintf(buf, cap, "p%u", i); }

static void flush(party *p, mpc_outbox *o) {
  for (size_t i = 0; i < o->n; i++) {
    for (uint32_t to = 0; to < p->su->n; to++) {
      if (to == p->me || (o->v[i].to != MPC_TO_ALL && o->v[i].to != to)) continue;
      char nm[16];
      name_of(nm, sizeof nm, to);
      for (int tries = 0;; tries++) {
        cx_err e = net_send(p->net, nm, NET_MSG_MPC, o->v[i].buf, o->v[i].len);
        if (e == CX_OK) break;
        if (e != CX_E_QUEUE_FULL || tries > 20000) die("party %u: net_send: %s", p->me, cx_err_name(e));
        usleep(500); /* backpressure: the peer's queue is full */
      }
    }
  }
  mpc_outbox_clear(o);
}

/* The id of session k: every party derives the same. */
static void session_id(const setup *su, uint64_t k, uint8_t out[32]) {
  uint8_t in[40];
  memcpy(in, su->seed, 32);
  for (int i = 0; i < 8; i++) in[32 + i] = (uint8_t)(k >> (8 * i));
  hash_sha256(in, sizeof in, out);
}

static void config(party *p, mpc_session_config *c) {
  memset(c, 0, sizeof *c);
  c->n = p->su->n;
  c->t = p->su->t;
  c->me = p->me;
  session_id(p->su, p->sessions++, c->session);
  c->pubkeys = p->su->pk;
  c->key = p->key;
  randombytes_buf(c->seed, sizeof c->seed);
  c->round_timeout_ms = 60000;
}

/* What this party's links saw, for a session that did not end: a lost
 * message shows as a reject, an expiry or a new handshake. */
static void print_links(const party *p) {
  net_peer_stats ps[MAXN];
  net_stats_global g;
  size_t k = net_stats(p->net, ps, MAXN, &g);
  for (size_t i = 0; i < k && i < MAXN; i++) {
    fprintf(stderr,
            "bench_mpc: party %u, link %s: connected %d, handshakes %llu, msgs out %llu in %llu, "
            "frames out %llu in %llu, queued %llu",
            p->me, ps[i].name, ps[i].connected, (unsigned long long)ps[i].handshakes,
            (unsigned long long)ps[i].msgs_out, (unsigned long long)ps[i].msgs_in,
            (unsigned long long)ps[i].frames_out, (unsigned long long)ps[i].frames_in,
            (unsigned long long)ps[i].queued);
    for (unsigned r = 0; r < NET_R_COUNT; r++)
      if (ps[i].rejects[r]) fprintf(stderr, ", %s %llu", net_reject_name(r), (unsigned long long)ps[i].rejects[r]);
    fprintf(stderr, "\n");
  }
  for (unsigned r = 0; r < NET_R_COUNT; r++)
    if (g.rejects[r]) fprintf(stderr, "bench_mpc: party %u, unattributed %s %llu\n", p->me, net_reject_name(r), (unsigned long long)g.rejects[r]);
}

/* Drives one session to its end over net/. */
static void run(party *p, mpc_session *s, const uint8_t sid[32]) {
  mpc_outbox out = {0};
  if (mpc_session_start(s, now_ms(), &out)) die("party %u: start refused", p->me);
  flush(p, &out);
  /* messages that arrived before we started this session */
  qmsg **pp = &p->stash;
  while (*pp) {
    qmsg *m = *pp;
    if (m->len > 34 && memcmp(m->data + 2, sid, 32) == 0) {
      *pp = m->next;
      mpc_session_recv_link(s, m->link, m->data, m->len, now_ms(), &out);
      free(m);
      flush(p, &out);
    } else {
      pp = &m->next;
    }
  }
  while (mpc_session_status(s)->state == MPC_RUNNING) {
    qmsg *m = q_pop(20);
    if (m) {
      if (m->len > 34 && memcmp(m->data + 2, sid, 32) != 0) {
        m->next = p->stash; /* a later session's (order within one sender is kept by the session) */
        p->stash = m;
      } else {
        mpc_session_recv_link(s, m->link, m->data, m->len, now_ms(), &out);
        free(m);
      }
    }
    mpc_session_tick(s, now_ms(), &out);
    flush(p, &out);
  }
  mpc_outbox_free(&out);
  const mpc_status *st = mpc_session_status(s);
  if (st->state != MPC_DONE) {
    print_links(p);
    die("party %u: session aborted: %s (%s)", p->me, cx_err_name(st->err), st->reason);
  }
  p->bytes += st->bytes_sent;
  p->rounds += st->rounds;
}

static void prep(party *p, size_t triples, size_t rands, size_t ints) {
  while (triples || rands || ints) {
    size_t t = triples < p->su->batch ? triples : p->su->batch;
    size_t r = rands < 2 * p->su->batch ? rands : 2 * p->su->batch;
    size_t i = ints < 2 * p->su->batch ? ints : 2 * p->su->batch;
    mpc_session_config c;
    config(p, &c);
    mpc_session *s = NULL;
    cx_err e = mpc_session_prep(&c, t, r, 0, i, p->pool, &s);
    if (e) die("party %u: prep: %s", p->me, cx_err_name(e));
    run(p, s, c.session);
    mpc_session_free(s);
    triples -= t;
    rands -= r;
    ints -= i;
  }
}

static void bits(party *p, size_t count) {
  while (count) {
    size_t b = count < p->su->batch ? count : p->su->batch;
    mpc_session_config c;
    config(p, &c);
    mpc_session *s = NULL;
    if (mpc_session_bits(&c, b, p->pool, &s)) die("party %u: bits session refused", p->me);
    run(p, s, c.session);
    mpc_session_free(s);
    count -= b;
  }
}

/* Prep for `copies` runs of a program: triples, rands and ints (under
 * PRSS; with dealers ints are bits, mpc_prog_cost_at), then bits (which
 * with dealers take triples and rands of their own, one each per bit;
 * under PRSS a bits session is a prep batch of bits alone). */
static void prep_for(party *p, const mpc_program *prog, size_t copies) {
  mpc_prog_cost c;
  mpc_prog_cost_get(prog, &c);
  mpc_prog_cost_at(p->su->n, p->su->t, &c);
  size_t own = mpc_prep_prss(p->su->n, p->su->t) ? 0 : c.bits;
  prep(p, copies * (c.triples + own), copies * (c.rands + own), copies * c.ints);
  bits(p, copies * c.bits);
}

static void bench_inputs(const setup *su, uint32_t who, size_t count, int64_t *out) {
  uint8_t key[32];
  memcpy(key, su->seed, 32);
  key[0] ^= (uint8_t)(0x40 + who);
  randombytes_buf_deterministic(out, count * sizeof *out, key);
  if (count > 4) { /* the edges */
    out[0] = INT64_MIN, out[1] = INT64_MAX, out[2] = 0, out[3] = who ? 0 : -1;
  }
}

static mpc_program *cmp_program(uint32_t n, size_t count, uint32_t *slot_out) {
  mpc_program *pr = mpc_prog_new();
  if (!pr) die("out of memory");
  uint32_t a = mpc_input(pr, 0, 0, count), b = mpc_input(pr, 1, 0, count);
  uint32_t lt = mpc_lt(pr, a, b, CMP_BITS);
  mpc_output(pr, lt, 0);
  *slot_out = 0;
  char err[200];
  if (mpc_prog_check(pr, n, err, sizeof err)) die("comparison program: %s", err);
  return pr;
}

static size_t run_cmp(party *p, const mpc_program *pr, size_t count, int check) {
  mpc_session_config c;
  config(p, &c);
  mpc_session *s = NULL;
  if (mpc_session_online(&c, pr, p->pool, &s)) die("party %u: online refused", p->me);
  int64_t *mine = malloc(count * sizeof *mine);
  fe *v = malloc(count * sizeof *v);
  if (!mine || !v) die("out of memory");
  if (p->me <= 1) {
    bench_inputs(p->su, p->me, count, mine);
    for (size_t i = 0; i < count; i++) v[i] = fe_from_i64(mine[i]);
    if (mpc_session_input(s, 0, v, count)) die("input refused");
  }
  run(p, s, c.session);
  size_t bad = 0;
  if (check && p->me == 0) {
    int64_t *other = malloc(count * sizeof *other);
    if (!other) die("out of memory");
    bench_inputs(p->su, 1, count, other);
    const fe *out = NULL;
    size_t k = mpc_session_output(s, 0, &out);
    if (k != count) die("output has %zu values, expected %zu", k, count);
    for (size_t i = 0; i < count; i++) bad += out[i] != (fe)(mine[i] < other[i]);
    free(other);
  }
  sodium_memzero(v, count * sizeof *v);
  free(v), free(mine);
  mpc_session_free(s);
  return bad;
}

typedef struct {
  double wall, cpu;
  uint64_t bytes, rounds;
} phase;

static void phase_begin(party *p, phase *ph) {
  p->bytes = p->rounds = 0;
  ph->wall = bench_now_s();
  ph->cpu = cpu_s();
}
static void phase_end(party *p, phase *ph) {
  ph->wall = bench_now_s() - ph->wall;
  ph->cpu = cpu_s() - ph->cpu;
  ph->bytes = p->bytes;
  ph->rounds = p->rounds;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int party_main(const setup *su, uint32_t me, int outfd) {
  log_set_level(getenv("BENCH_LOG_DEBUG") ? LOG_DEBUG : LOG_WARN);
  party p = {.su = su, .me = me};
  if (key_from_bytes(su->sk[me], &p.key)) die("bad key");
  net_config cfg;
  memset(&cfg, 0, sizeof cfg);
  net_config_defaults(&cfg);
  cfg.chain_id = su->chain_id;
  name_of(cfg.self, sizeof cfg.self, me);
  memcpy(cfg.static_priv, su->xpriv[me], 32);
  snprintf(cfg.listen, sizeof cfg.listen, "tcp://127.0.0.1:%d", su->ports[me]);
  cfg.queue_ttl_ms = 120000;
  /* The pools first (gigabytes of locked memory, faulted in by the
   * kernel for tens of seconds on 2 cores): the links come up after,
   * not while the machine is saturated (see docs/mpc.md, "Performance"). */
  char err[256];
  size_t cap = su->mults + 2 * su->batch;
  size_t cmp_cap = 0;
  mpc_program *cmp1 = NULL, *cmpC = NULL;
  uint32_t slot;
  cmpC = cmp_program(su->n, su->cmps, &slot);
  cmp1 = cmp_program(su->n, 1, &slot);
  mpc_prog_cost cc, c1;
  mpc_prog_cost_get(cmpC, &cc);
  mpc_prog_cost_get(cmp1, &c1);
  mpc_prog_cost_at(su->n, su->t, &cc);
  mpc_prog_cost_at(su->n, su->t, &c1);
  cmp_cap = cc.triples + cc.bits + cc.rands + cc.ints + 2 * su->batch;
  size_t lat_need = su->lat * (c1.triples + c1.bits + c1.rands + c1.ints);
  if (cmp_cap < lat_need + 2 * su->batch) cmp_cap = lat_need + 2 * su->batch;
  if (cap < cmp_cap) cap = cmp_cap;
  if (mpc_pool_new(cap, 2 * cap, cap, cap, &p.pool)) die("party %u: pool of %zu", me, cap);

  if (net_open(&cfg, &p.net, err, sizeof err)) die("party %u: %s", me, err);
  sodium_memzero(cfg.static_priv, sizeof cfg.static_priv);
  net_member m[MAXN];
  for (uint32_t i = 0; i < su->n; i++) {
    memset(&m[i], 0, sizeof m[i]);
    name_of(m[i].name, sizeof m[i].name, i);
    memcpy(m[i].enc_key, su->xpub[i], 32);
    snprintf(m[i].address, sizeof m[i].address, "tcp://127.0.0.1:%d", su->ports[i]);
  }
  net_on(p.net, NET_MSG_MPC, on_mpc, &p);
  if (net_set_members(p.net, m, su->n) || net_start(p.net)) die("party %u: net start failed", me);

  phase ph[5];
  /* 1-2: multiplications */
  mpc_program *mp = mpc_prog_new();
  uint32_t a = mpc_rand(mp, su->mults), b = mpc_rand(mp, su->mults);
  mpc_output(mp, mpc_vsum(mp, mpc_mul(mp, a, b)), 0);
  if (mpc_prog_check(mp, su->n, err, sizeof err)) die("mul program: %s", err);
  mpc_prog_cost mc;
  mpc_prog_cost_get(mp, &mc);
  phase_begin(&p, &ph[0]);
  prep(&p, mc.triples, mc.rands, 0);
  phase_end(&p, &ph[0]);
  phase_begin(&p, &ph[1]);
  {
    mpc_session_config c;
    config(&p, &c);
    mpc_session *s = NULL;
    if (mpc_session_online(&c, mp, p.pool, &s)) die("online refused");
    run(&p, s, c.session);
    mpc_session_free(s);
  }
  phase_end(&p, &ph[1]);
  mpc_prog_free(mp);
  /* 3-4: comparisons */
  phase_begin(&p, &ph[2]);
  prep_for(&p, cmpC, 1);
  phase_end(&p, &ph[2]);
  phase_begin(&p, &ph[3]);
  size_t bad = run_cmp(&p, cmpC, su->cmps, 1);
  phase_end(&p, &ph[3]);
  /* 5: latency of one comparison (pool prefilled, outside the timing) */
  prep_for(&p, cmp1, su->lat);
  double *lat = calloc(su->lat ? su->lat : 1, sizeof *lat);
  phase_begin(&p, &ph[4]);
  for (size_t i = 0; i < su->lat; i++) {
    double t0 = bench_now_s();
    bad += run_cmp(&p, cmp1, 1, 1);
    lat[i] = bench_now_s() - t0;
  }
  phase_end(&p, &ph[4]);
  qsort(lat, su->lat, sizeof *lat, cmp_double);
  double lat_med = su->lat ? lat[su->lat / 2] : 0;
  uint64_t lat_rounds = su->lat ? ph[4].rounds / su->lat : 0;
  free(lat);

  char line[1024];
  int len = snprintf(line, sizeof line, "%u %zu", me, bad);
  for (int i = 0; i < 5; i++)
    len += snprintf(line + len, sizeof line - (size_t)len, " %.6f %.6f %llu %llu", ph[i].wall, ph[i].cpu,
                    (unsigned long long)ph[i].bytes, (unsigned long long)ph[i].rounds);
  len += snprintf(line + len, sizeof line - (size_t)len, " %.6f %llu\n", lat_med,
                  (unsigned long long)lat_rounds);
  if (write(outfd, line, (size_t)len) != len) die("pipe write");
  /* stay up until every party has finished its sessions: peers may still
   * need our last messages (the parent closes us) */
  pause();
  return 0;
}

/* ---- the parent ---------------------------------------------------------- */

static const char *const PHASE[5] = {"prep-mul", "online-mul", "prep-cmp", "online-cmp", "latency"};

int main(int argc, char **argv) {
  if (sodium_init() < 0) die("sodium_init");
  mpc_tune_malloc(); /* as custosd */
  setup su;
  memset(&su, 0, sizeof su);
  su.n = 4, su.mults = 1000000, su.cmps = 100000, su.lat = 20, su.batch = 100000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) die("%s needs a value", a);
    unsigned long long v = strtoull(argv[++i], NULL, 10);
    if (!strcmp(a, "--n")) su.n = (uint32_t)v;
    else if (!strcmp(a, "--mults")) su.mults = v;
    else if (!strcmp(a, "--cmps")) su.cmps = v;
    else if (!strcmp(a, "--lat")) su.lat = v;
    else if (!strcmp(a, "--batch")) su.batch = v;
    else die("unknown option %s", a);
  }
  if (su.n < 4 || su.n > MAXN) die("--n must be 4..%d", MAXN);
  if (!su.mults || !su.cmps || !su.batch) die("--mults, --cmps and --batch must be >= 1");
  su.t = (su.n - 1) / 3;
  if (bench_pick_ports(su.ports, su.n)) die("no %u free consecutive ports on 127.0.0.1", su.n);
  randombytes_buf(su.chain_id.b, sizeof su.chain_id.b);
  randombytes_buf(su.seed, sizeof su.seed);
  for (uint32_t i = 0; i < su.n; i++) {
    crypto_box_keypair(su.xpub[i], su.xpriv[i]);
    cx_seckey *k = key_generate();
    if (!k) die("key_generate");
    key_secret_bytes(k, su.sk[i]);
    key_public(k, &su.pk[i]);
    key_free(k);
  }
  int fds[MAXN][2];
  pid_t pids[MAXN];
  for (uint32_t i = 0; i < su.n; i++) {
    if (pipe(fds[i])) die("pipe");
    pids[i] = fork();
    if (pids[i] < 0) die("fork");
    if (pids[i] == 0) {
      close(fds[i][0]);
      _exit(party_main(&su, i, fds[i][1]));
    }
    close(fds[i][1]);
  }
  sodium_memzero(su.sk, sizeof su.sk);
  sodium_memzero(su.xpriv, sizeof su.xpriv);

  double wall[5] = {0}, cpu[5] = {0}, lat_med = 0;
  uint64_t bytes[5] = {0}, rounds[5] = {0}, lat_rounds = 0;
  size_t bad = 0;
  int failed = 0;
  for (uint32_t i = 0; i < su.n; i++) {
    char buf[1024];
    size_t got = 0;
    for (;;) {
      ssize_t r = read(fds[i][0], buf + got, sizeof buf - 1 - got);
      if (r <= 0) break;
      got += (size_t)r;
      if (memchr(buf, '\n', got)) break;
    }
    buf[got] = 0;
    if (!got) {
      failed = 1;
      fprintf(stderr, "bench_mpc: party %u ended without a result\n", i);
      continue;
    }
    char *s = buf;
    unsigned who = (unsigned)strtoul(s, &s, 10);
    bad += strtoull(s, &s, 10);
    (void)who;
    for (int k = 0; k < 5; k++) {
      double w = strtod(s, &s), c = strtod(s, &s);
      uint64_t by = strtoull(s, &s, 10), ro = strtoull(s, &s, 10);
      if (w > wall[k]) wall[k] = w;
      cpu[k] += c;
      bytes[k] += by;
      if (ro > rounds[k]) rounds[k] = ro;
    }
    double lm = strtod(s, &s);
    uint64_t lr = strtoull(s, &s, 10);
    if (lm > lat_med) lat_med = lm;
    if (lr > lat_rounds) lat_rounds = lr;
  }
  for (uint32_t i = 0; i < su.n; i++) {
    kill(pids[i], SIGTERM);
    waitpid(pids[i], NULL, 0);
  }
  if (failed) die("a party failed (see above)");

  double n = su.n, M = (double)su.mults, C = (double)su.cmps;
  printf("bench_mpc: %u parties (t = %u) as %u processes on 127.0.0.1, net/ channels, %d cores\n",
         su.n, su.t, su.n, (int)sysconf(_SC_NPROCESSORS_ONLN));
  printf("  machine-independent figures (per operation, per party, preprocessing + online):\n");
  printf("    multiplication: %8.1f B  (prep %.1f B + online %.1f B); online rounds %llu for %zu\n",
         (bytes[0] + bytes[1]) / n / M, bytes[0] / n / M, bytes[1] / n / M,
         (unsigned long long)rounds[1], su.mults);
  printf("    comparison:     %8.1f B  (prep %.1f B + online %.1f B); online rounds %llu\n",
         (bytes[2] + bytes[3]) / n / C, bytes[2] / n / C, bytes[3] / n / C, (unsigned long long)rounds[3]);
  {
    uint32_t slot;
    mpc_program *one = cmp_program(su.n, 1, &slot);
    mpc_prog_cost oc;
    mpc_prog_cost_get(one, &oc);
    mpc_prog_cost_at(su.n, su.t, &oc);
    printf("    comparison material: %zu triples, %zu random bits, %zu bounded random integers\n", oc.triples,
           oc.bits, oc.ints);
    mpc_prog_free(one);
  }
  printf("  %-11s %10s %12s %14s\n", "phase", "wall s", "CPU s (all)", "CPU us / op");
  for (int k = 0; k < 5; k++) {
    double ops = k < 2 ? M : k < 4 ? C : (double)su.lat;
    printf("  %-11s %10.3f %12.3f %14.2f\n", PHASE[k], wall[k], cpu[k], cpu[k] * 1e6 / ops);
  }
  double mul_rate = M / (wall[0] + wall[1]), cmp_rate = C / (wall[2] + wall[3]);
  printf("  multiplications: %.0f /s incl. prep (online only %.0f /s)\n", mul_rate, M / wall[1]);
  printf("  comparisons:     %.0f /s incl. prep (online only %.0f /s); %zu wrong results\n", cmp_rate,
         C / wall[3], bad);
  printf("  one comparison (input, compare, output): median %.2f ms, %llu rounds\n", lat_med * 1e3,
         (unsigned long long)lat_rounds);
  double r1 = mul_rate / ANCHOR_SH_MUL, r2 = cmp_rate / ANCHOR_SH_CMP;
  double r3 = mul_rate / ANCHOR_MAL_MUL, r4 = cmp_rate / ANCHOR_MAL_CMP;
  printf("  ratio mult/s vs MP-SPDZ semi-honest Shamir (2.0 M/s):   %.3f  target >= 1.0  %s\n", r1,
         r1 >= 1.0 ? "PASS" : "FAIL");
  printf("  ratio cmp/s  vs MP-SPDZ semi-honest edaBits (16,300/s): %.3f  target >= 1.0  %s\n", r2,
         r2 >= 1.0 ? "PASS" : "FAIL");
  printf("  ratio mult/s vs MP-SPDZ malicious Shamir (231,000/s):   %.3f  target >= 5.0  %s\n", r3,
         r3 >= 5.0 ? "PASS" : "FAIL");
  printf("  ratio cmp/s  vs MP-SPDZ malicious Shamir (1,140/s):     %.3f  target >= 5.0  %s\n", r4,
         r4 >= 5.0 ? "PASS" : "FAIL");
  if (bad) {
    printf("  WRONG RESULTS: %zu\n", bad);
    return 2;
  }
  return (r1 >= 1.0 && r2 >= 1.0 && r3 >= 5.0 && r4 >= 5.0) ? 0 : 1;
}
