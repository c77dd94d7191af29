/* net: the push-socket watchdog (net.c, docs/net.md "Transport").
 *
 * nanomsg's connecting endpoint can wedge: the push socket to one peer ends
 * with no connection and never reconnects, so every send to that peer
 * fails with EAGAIN for good. net_test_wedge reproduces that state
 * (nn_shutdown of the socket's endpoint). Real net instances on 127.0.0.1
 * check that the watchdog gives the socket a fresh one after wedge_ms, that
 * what was queued meanwhile then arrives in order, and that a peer that is
 * simply down (nobody listens: nanomsg keeps trying) is left alone. Built
 * with CUSTOS_TESTING only (the seam). */
#include <stdio.h>

#ifndef CUSTOS_TESTING
int main(void) {
  printf("skipped: built without CUSTOS_TESTING\n");
  return 0;
}
#else

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "testutil.h"

#define WEDGE_MS 1000 /* the watchdog's bound in these tests */
#define NODES 3       /* a, b and c; c never starts: a peer that is down */

static const char *const NAMES[NODES] = {"a", "b", "c"};

/* ---- received messages, per receiving node ---- */

#define REC_MAX 64

typedef struct {
  pthread_mutex_t mu;
  size_t count;
  char from[REC_MAX][16];
  char text[REC_MAX][32];
} recorder;

static void on_msg(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len) {
  recorder *r = ctx;
  (void)type;
  pthread_mutex_lock(&r->mu);
  if (r->count < REC_MAX) {
    snprintf(r->from[r->count], sizeof r->from[0], "%s", from);
    size_t n = len < sizeof r->text[0] - 1 ? len : sizeof r->text[0] - 1;
    memcpy(r->text[r->count], p, n);
    r->text[r->count][n] = 0;
    r->count++;
  }
  pthread_mutex_unlock(&r->mu);
}

static size_t rec_count(recorder *r) {
  pthread_mutex_lock(&r->mu);
  size_t n = r->count;
  pthread_mutex_unlock(&r->mu);
  return n;
}

/* The texts received so far, in order, joined with ',' ("m0,m1"). */
static void rec_texts(recorder *r, char *out, size_t cap) {
  out[0] = 0;
  pthread_mutex_lock(&r->mu);
  for (size_t i = 0; i < r->count; i++) {
    size_t used = strlen(out);
    snprintf(out + used, cap - used, "%s%s", i ? "," : "", r->text[i]);
  }
  pthread_mutex_unlock(&r->mu);
}

/* ---- helpers ---- */

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

typedef struct {
  net *n[NODES]; /* c's stays NULL: nobody listens at its address */
  recorder rec[NODES];
  net_member m[NODES];
} cluster;

/* a and b running with short timers, each linked to a, b and c. */
static void cluster_open(cluster *cl, int start) {
  memset(cl, 0, sizeof *cl);
  uint16_t ports[NODES];
  char perr[160] = "";
  ck_assert_msg(net_free_ports(ports, NODES, perr, sizeof perr) == CX_OK, "%s", perr);
  uint8_t priv[NODES][32];
  for (int i = 0; i < NODES; i++) {
    randombytes_buf(priv[i], 32);
    snprintf(cl->m[i].name, sizeof cl->m[i].name, "%s", NAMES[i]);
    crypto_scalarmult_base(cl->m[i].enc_key, priv[i]);
    snprintf(cl->m[i].address, sizeof cl->m[i].address, "tcp://127.0.0.1:%u", ports[i]);
    pthread_mutex_init(&cl->rec[i].mu, NULL);
  }
  for (int i = 0; i < 2; i++) {
    net_config c;
    memset(&c, 0, sizeof c);
    snprintf(c.self, sizeof c.self, "%s", NAMES[i]);
    memcpy(c.static_priv, priv[i], 32);
    snprintf(c.listen, sizeof c.listen, "%s", cl->m[i].address);
    c.keepalive_ms = 100;
    /* Well past the wedge (WEDGE_MS and a tick), even on a loaded machine:
     * b keeps the session a's stalled frames were sealed under, so they
     * all arrive. */
    c.dead_ms = 8000;
    c.queue_ttl_ms = 60000;
    c.reconnect_ms = 50;
    c.reconnect_max_ms = 200;
    c.wedge_ms = WEDGE_MS;
    char err[256] = "";
    ck_assert_msg(net_open(&c, &cl->n[i], err, sizeof err) == CX_OK, "net_open: %s", err);
    for (unsigned t = 1; t < NET_MSG_TYPES; t++) net_on(cl->n[i], t, on_msg, &cl->rec[i]);
    ck_assert_int_eq(net_set_members(cl->n[i], cl->m, NODES), CX_OK);
    if (start) ck_assert_int_eq(net_start(cl->n[i]), CX_OK);
  }
  sodium_memzero(priv, sizeof priv);
}

static void cluster_close(cluster *cl) {
  for (int i = 0; i < NODES; i++) {
    net_close(cl->n[i]);
    pthread_mutex_destroy(&cl->rec[i].mu);
  }
}

static net_peer_stats stats_of(net *n, const char *peer) {
  net_peer_stats st[NODES];
  memset(st, 0, sizeof st);
  size_t k = net_stats(n, st, NODES, NULL);
  for (size_t i = 0; i < k && i < NODES; i++)
    if (strcmp(st[i].name, peer) == 0) return st[i];
  ck_abort_msg("no stats for peer %s", peer);
  return st[0];
}

static int linked(cluster *cl) {
  return stats_of(cl->n[0], "b").connected && stats_of(cl->n[1], "a").connected;
}

/* Both running nodes' view of their links, and what each received: printed
 * when a wait fails. */
static void dump(cluster *cl) {
  for (int i = 0; i < 2; i++) {
    char got[512];
    rec_texts(&cl->rec[i], got, sizeof got);
    fprintf(stderr, "%s received: %s\n", NAMES[i], got);
    net_peer_stats st[NODES];
    size_t k = net_stats(cl->n[i], st, NODES, NULL);
    for (size_t j = 0; j < k && j < NODES; j++) {
      fprintf(stderr,
              "%s->%s: connected %d handshakes %llu frames out %llu in %llu msgs out %llu in "
              "%llu queued %llu socket_resets %llu rejects:",
              NAMES[i], st[j].name, st[j].connected, (unsigned long long)st[j].handshakes,
              (unsigned long long)st[j].frames_out, (unsigned long long)st[j].frames_in,
              (unsigned long long)st[j].msgs_out, (unsigned long long)st[j].msgs_in,
              (unsigned long long)st[j].queued, (unsigned long long)st[j].socket_resets);
      for (unsigned r = 0; r < NET_R_COUNT; r++)
        if (st[j].rejects[r])
          fprintf(stderr, " %s=%llu", net_reject_name(r), (unsigned long long)st[j].rejects[r]);
      fprintf(stderr, "\n");
    }
  }
}

/* Up to ms for a and b to be linked both ways; whether they are (if not,
 * the state is printed). */
static int wait_linked(cluster *cl, unsigned ms) {
  uint64_t end = mono_ms() + ms;
  while (!linked(cl) && mono_ms() < end) sleep_ms(10);
  if (linked(cl)) return 1;
  dump(cl);
  return 0;
}

/* Up to ms for node i to have received at least n messages; whether it
 * has (if not, the state is printed). */
static int wait_count(cluster *cl, int i, size_t n, unsigned ms) {
  uint64_t end = mono_ms() + ms;
  while (rec_count(&cl->rec[i]) < n && mono_ms() < end) sleep_ms(10);
  if (rec_count(&cl->rec[i]) >= n) return 1;
  dump(cl);
  return 0;
}

static void send_text(net *n, const char *to, const char *text) {
  ck_assert_int_eq(net_send(n, to, NET_MSG_CONSENSUS, (const uint8_t *)text, strlen(text)), CX_OK);
}

/* c is down for the whole test: nanomsg keeps retrying it, so its socket
 * is never replaced, and what waits for it stays queued. */
static void check_down_peer_left_alone(cluster *cl) {
  for (int i = 0; i < 2; i++) {
    net_peer_stats c = stats_of(cl->n[i], "c");
    ck_assert_int_eq(c.connected, 0);
    ck_assert_uint_eq(c.socket_resets, 0);
  }
  net_peer_stats c = stats_of(cl->n[0], "c");
  ck_assert_uint_eq(c.queued, 1);
  ck_assert_uint_eq(c.rejects[NET_R_EXPIRED], 0);
}

/* ---- tests ---- */

/* A link that was up: a's socket to b wedges. b still reaches a, so a's
 * link keeps hearing from b and looks connected; only a's sends fail. The
 * watchdog must act all the same. */
START_TEST(test_wedge_on_live_link) {
  cluster cl;
  cluster_open(&cl, 1);
  uint64_t t0 = mono_ms();
  send_text(cl.n[0], "c", "c1");
  ck_assert_msg(wait_linked(&cl, 10000), "a and b did not link up");
  send_text(cl.n[0], "b", "m0");
  ck_assert_msg(wait_count(&cl, 1, 1, 5000), "m0 did not arrive");

  net_peer_stats ba = stats_of(cl.n[1], "a");
  uint64_t b_refused = ba.rejects[NET_R_OLD_SESSION] + ba.rejects[NET_R_UNKNOWN_SESSION] +
                       ba.rejects[NET_R_AUTH] + ba.rejects[NET_R_REPLAY];
  uint64_t t_wedge = mono_ms();
  ck_assert_int_eq(net_test_wedge(cl.n[0], "b"), CX_OK);
  ck_assert_int_eq(net_test_wedge(cl.n[0], "nobody"), CX_E_PEER_UNKNOWN);
  for (int i = 1; i <= 5; i++) {
    char t[8];
    snprintf(t, sizeof t, "m%d", i);
    send_text(cl.n[0], "b", t);
  }
  /* Stuck: nothing gets through, and no reset before WEDGE_MS. */
  sleep_ms(WEDGE_MS / 2);
  ck_assert_uint_eq(rec_count(&cl.rec[1]), 1);
  net_peer_stats ab = stats_of(cl.n[0], "b");
  ck_assert_uint_eq(ab.socket_resets, 0);
  ck_assert_uint_ge(ab.queued, 1);
  ck_assert_int_eq(ab.connected, 1);
  /* b -> a still works. */
  send_text(cl.n[1], "a", "r1");
  ck_assert_msg(wait_count(&cl, 0, 1, 5000), "r1 did not arrive");

  /* The watchdog replaces the socket; everything arrives, in order. */
  ck_assert_msg(wait_count(&cl, 1, 6, 10000),
                "a's messages to b never got through (watchdog did not reset the socket)");
  uint64_t took = mono_ms() - t_wedge;
  ck_assert_uint_ge(took, WEDGE_MS);
  char got[512];
  rec_texts(&cl.rec[1], got, sizeof got);
  ck_assert_str_eq(got, "m0,m1,m2,m3,m4,m5");
  ck_assert_msg(wait_linked(&cl, 5000), "link did not come back");
  send_text(cl.n[0], "b", "m6");
  ck_assert_msg(wait_count(&cl, 1, 7, 5000), "m6 did not arrive");

  /* Several more windows: one reset only, on a's side only; c left alone. */
  while (mono_ms() < t0 + 5 * WEDGE_MS) sleep_ms(50);
  ab = stats_of(cl.n[0], "b");
  ba = stats_of(cl.n[1], "a");
  ck_assert_uint_eq(ab.socket_resets, 1);
  ck_assert_uint_eq(ab.queued, 0);
  ck_assert_uint_eq(ab.rejects[NET_R_EXPIRED], 0);
  ck_assert_uint_eq(ba.socket_resets, 0);
  /* b refused none of a's frames: they came on the session b still had. */
  ck_assert_uint_eq(ba.rejects[NET_R_OLD_SESSION] + ba.rejects[NET_R_UNKNOWN_SESSION] +
                        ba.rejects[NET_R_AUTH] + ba.rejects[NET_R_REPLAY],
                    b_refused);
  rec_texts(&cl.rec[1], got, sizeof got);
  ck_assert_str_eq(got, "m0,m1,m2,m3,m4,m5,m6");
  check_down_peer_left_alone(&cl);
  cluster_close(&cl);
}
END_TEST

/* The case seen in the benchmark: the wedge comes before the link ever
 * had a session ("connected 0, handshakes 0", messages queued). */
START_TEST(test_wedge_before_first_session) {
  cluster cl;
  cluster_open(&cl, 0);
  ck_assert_int_eq(net_test_wedge(cl.n[0], "b"), CX_OK);
  for (int i = 0; i < 2; i++) ck_assert_int_eq(net_start(cl.n[i]), CX_OK);
  uint64_t t0 = mono_ms();
  send_text(cl.n[0], "c", "c1");
  send_text(cl.n[0], "b", "s1");
  send_text(cl.n[0], "b", "s2");
  sleep_ms(WEDGE_MS / 2);
  net_peer_stats ab = stats_of(cl.n[0], "b");
  ck_assert_int_eq(ab.connected, 0);
  ck_assert_uint_eq(ab.handshakes, 0);
  ck_assert_uint_eq(ab.queued, 2);
  ck_assert_uint_eq(ab.socket_resets, 0);
  ck_assert_uint_eq(rec_count(&cl.rec[1]), 0);

  ck_assert_msg(wait_count(&cl, 1, 2, 10000),
                "a's messages to b never got through (watchdog did not reset the socket)");
  char got[256];
  rec_texts(&cl.rec[1], got, sizeof got);
  ck_assert_str_eq(got, "s1,s2");
  ck_assert_msg(wait_linked(&cl, 5000), "link did not come up");
  while (mono_ms() < t0 + 4 * WEDGE_MS) sleep_ms(50);
  ck_assert_uint_eq(stats_of(cl.n[0], "b").socket_resets, 1);
  ck_assert_uint_eq(stats_of(cl.n[1], "a").socket_resets, 0);
  check_down_peer_left_alone(&cl);
  cluster_close(&cl);
}
END_TEST

/* The bound: 2 * reconnect_max_ms at least, 10 s by default. */
START_TEST(test_wedge_ms_defaults) {
  net_config c;
  memset(&c, 0, sizeof c);
  net_config_defaults(&c);
  ck_assert_uint_eq(c.wedge_ms, 10000);
  memset(&c, 0, sizeof c);
  c.reconnect_max_ms = 8000;
  net_config_defaults(&c);
  ck_assert_uint_eq(c.wedge_ms, 16000);
  memset(&c, 0, sizeof c);
  c.reconnect_max_ms = 200;
  c.wedge_ms = 100;
  net_config_defaults(&c);
  ck_assert_uint_eq(c.wedge_ms, 400);
  c.wedge_ms = 1000;
  net_config_defaults(&c);
  ck_assert_uint_eq(c.wedge_ms, 1000);
  memset(&c, 0, sizeof c);
  c.reconnect_max_ms = UINT32_MAX;
  net_config_defaults(&c);
  ck_assert_uint_eq(c.wedge_ms, UINT32_MAX);
}
END_TEST

int main(void) {
  if (sodium_init() < 0) return 1;
  /* CUSTOS_LOG=info|debug|...: net's log lines while debugging a failure. */
  const char *lvl = getenv("CUSTOS_LOG");
  int l = lvl ? log_level_parse(lvl) : -1;
  log_set_level(l >= 0 ? (log_level)l : LOG_WARN);
  Suite *s = suite_create("net_watchdog");
  TCase *tc = tcase_create("watchdog");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_wedge_ms_defaults);
  tcase_add_test(tc, test_wedge_on_live_link);
  tcase_add_test(tc, test_wedge_before_first_session);
  suite_add_tcase(s, tc);
  return tu_run(s);
}

#endif
