/* metrics: /metrics and /healthz (metrics.h; docs/operations.md, "Metrics
 * and health").
 *
 * /metrics is rendered on every scrape from the same sources as the status
 * method (node/api.c m_status): the store's height, the engine's published
 * status, the mempool, the member links, the MPC and call services'
 * published counters, and the RPC server's request counters. Each source
 * is read under its own lock or atomically, so one scrape is not a single
 * snapshot across sources (nor is status); each family is consistent in
 * itself (the histogram's count is the sum of its buckets). */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h" /* node/explorer/: the explorer's embedded files */
#include "node_internal.h"

#define PROM_CTYPE "text/plain; version=0.0.4; charset=utf-8"
#define TEXT_CTYPE "text/plain; charset=utf-8"

static const uint64_t LAT_BOUNDS[METRICS_LAT_NB] = METRICS_LAT_BOUNDS_MS;

/* ---- commit latency (consensus thread) ---- */

void metrics_block_seen(node *n) {
  metrics_latency *l = &n->lat;
  if (l->have_first) return;
  l->first_mono = n->clock->mono_ms(n->clock);
  l->have_first = 1;
}

void metrics_commit_done(node *n) {
  metrics_latency *l = &n->lat;
  if (!l->have_first) return;
  uint64_t now = n->clock->mono_ms(n->clock);
  uint64_t ms = now > l->first_mono ? now - l->first_mono : 0;
  l->have_first = 0;
  size_t b = 0;
  while (b < METRICS_LAT_NB && ms > LAT_BOUNDS[b]) b++;
  __atomic_fetch_add(&l->bucket[b], 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&l->sum_ms, ms, __ATOMIC_RELAXED);
}

/* ---- a growing text buffer ---- */

typedef struct {
  char *p;
  size_t len, cap;
  int oom;
} tbuf;

static void tb_printf(tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(tbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->oom = 1;
      return;
    }
    if (b->p && (size_t)k < b->cap - b->len) {
      b->len += (size_t)k;
      return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len <= (size_t)k) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = 1;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
}

/* A label value as the format wants it: \, " and newline escaped. Names
 * come from the chain (member names) or the method table; escaping keeps a
 * scrape parseable whatever they hold. */
static const char *esc(const char *s, char *out, size_t cap) {
  size_t k = 0;
  for (; *s && k + 3 < cap; s++) {
    if (*s == '\\' || *s == '"') {
      out[k++] = '\\';
      out[k++] = *s;
    } else if (*s == '\n') {
      out[k++] = '\\';
      out[k++] = 'n';
    } else {
      out[k++] = *s;
    }
  }
  out[k] = 0;
  return out;
}

/* # HELP and # TYPE of one family. */
static void family(tbuf *b, const char *name, const char *type, const char *help) {
  tb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(tbuf *b, const char *name, uint64_t v) {
  tb_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(tbuf *b, const char *name, const char *help, uint64_t v) {
  family(b, name, "gauge", help);
  sample(b, name, v);
}

static void counter(tbuf *b, const char *name, const char *help, uint64_t v) {
  family(b, name, "counter", help);
  sample(b, name, v);
}

/* name{label="value"} v */
static void sample1(tbuf *b, const char *name, const char *label, const char *value,
                    uint64_t v) {
  char e[2 * (CX_NAME_MAX + 64)];
  tb_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, esc(value, e, sizeof e),
            (unsigned long long)v);
}

/* ---- the families ---- */

static void put_chain(tbuf *b, node *n) {
  node_cs_status cs;
  node_consensus_status(n, &cs);
  gauge(b, "custos_height", "Height of the last committed block.", store_height(n->st));
  gauge(b, "custos_consensus_height", "Height the consensus engine is deciding.",
        cs.engine.height);
  /* Tendermint-style rounds: the engine has no separate view number */
  gauge(b, "custos_consensus_round", "Round of the height being decided (0 first).",
        cs.engine.round);
  gauge(b, "custos_consensus_step",
        "Step of the round: 0 waiting for start, 1 propose, 2 prevote, 3 precommit.",
        cs.engine.step);
  gauge(b, "custos_consensus_validators", "Validators deciding the current height.",
        cs.validators);
  counter(b, "custos_consensus_ignored_events_total",
          "Events the engine ignored (stale timers, old heights, unknown signers).",
          cs.engine.ignored);
  counter(b, "custos_consensus_equivocations_total",
          "Equivocations the engine detected (evidence).", cs.engine.equivocations);

  family(b, "custos_commit_latency_seconds", "histogram",
         "Time from the first block this node held for a height to its commit.");
  uint64_t cum = 0;
  for (size_t i = 0; i <= METRICS_LAT_NB; i++) {
    cum += __atomic_load_n(&n->lat.bucket[i], __ATOMIC_RELAXED);
    /* le as Prometheus clients print it ("0.05", "1"): dashboards match the
     * label as a string */
    if (i < METRICS_LAT_NB)
      tb_printf(b, "custos_commit_latency_seconds_bucket{le=\"%g\"} %llu\n",
                (double)LAT_BOUNDS[i] / 1000.0, (unsigned long long)cum);
    else
      tb_printf(b, "custos_commit_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
  }
  uint64_t sum = __atomic_load_n(&n->lat.sum_ms, __ATOMIC_RELAXED);
  tb_printf(b, "custos_commit_latency_seconds_sum %llu.%03llu\n",
            (unsigned long long)(sum / 1000), (unsigned long long)(sum % 1000));
  sample(b, "custos_commit_latency_seconds_count", cum);

  mempool_stats ms;
  mempool_stats_get(n->mp, &ms);
  gauge(b, "custos_mempool_txs", "Transactions waiting in the mempool.", ms.size);
  gauge(b, "custos_mempool_capacity_txs", "Mempool capacity (mempool.max_txs).", ms.max);
  family(b, "custos_mempool_txs_total", "counter",
         "Transactions offered to the mempool, by outcome.");
  sample1(b, "custos_mempool_txs_total", "result", "admitted", ms.admitted);
  sample1(b, "custos_mempool_txs_total", "result", "rejected", ms.rejected);
  sample1(b, "custos_mempool_txs_total", "result", "committed", ms.committed);

  family(b, "custos_refused_peer_input_total", "counter",
         "Peer input refused as malformed or invalid, by kind.");
  sample1(b, "custos_refused_peer_input_total", "kind", "gossip",
          __atomic_load_n(&n->gossip_bad, __ATOMIC_RELAXED));
  sample1(b, "custos_refused_peer_input_total", "kind", "consensus", cs.bad_messages);
  sample1(b, "custos_refused_peer_input_total", "kind", "sync", cs.bad_sync);
  uint64_t adm, dup, bad;
  node_gossip_stats(n, &adm, &dup, &bad);
  family(b, "custos_gossip_txs_total", "counter",
         "Transactions received by gossip, by outcome.");
  sample1(b, "custos_gossip_txs_total", "result", "admitted", adm);
  sample1(b, "custos_gossip_txs_total", "result", "duplicate", dup);
  sample1(b, "custos_gossip_txs_total", "result", "refused", bad);
}

/* Per member link; nothing before node_start (no links). */
static void put_peers(tbuf *b, node *n) {
  static const struct {
    const char *name, *type, *help;
  } fam[] = {
      {"custos_peer_connected", "gauge", "1 when the link has a confirmed live session."},
      {"custos_peer_messages_sent_total", "counter", "Application messages sent."},
      {"custos_peer_bytes_sent_total", "counter", "Application payload bytes sent."},
      {"custos_peer_messages_received_total", "counter", "Application messages received."},
      {"custos_peer_bytes_received_total", "counter", "Application payload bytes received."},
      {"custos_peer_queued_messages", "gauge", "Messages waiting in the link's queue."},
      {"custos_peer_handshakes_total", "counter", "Sessions established."},
      {"custos_peer_socket_resets_total", "counter",
       "Push sockets to the peer replaced by the wedge watchdog."},
  };
  net *nt = node_net(n);
  net_peer_stats *ps = NULL;
  size_t np = 0;
  if (nt && (ps = calloc(CX_MAX_VALIDATORS, sizeof *ps))) {
    net_stats_global g;
    np = net_stats(nt, ps, CX_MAX_VALIDATORS, &g);
    if (np > CX_MAX_VALIDATORS) np = CX_MAX_VALIDATORS;
  }
  for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
    family(b, fam[f].name, fam[f].type, fam[f].help);
    for (size_t i = 0; i < np; i++) {
      const net_peer_stats *p = &ps[i];
      uint64_t v[] = {(uint64_t)(p->connected != 0), p->msgs_out, p->bytes_out, p->msgs_in,
                      p->bytes_in, p->queued, p->handshakes, p->socket_resets};
      sample1(b, fam[f].name, "peer", p->name, v[f]);
    }
  }
  free(ps);
}

static void put_mpc(tbuf *b, node *n) {
  node_mpc_stats m;
  node_mpc_status(n, &m);
  gauge(b, "custos_mpc_enabled", "1 when the MPC preprocessing service runs (mpc.enabled).",
        (uint64_t)(m.enabled != 0));
  gauge(b, "custos_mpc_pool_triples", "Beaver triples in the preprocessing pool.", m.triples);
  gauge(b, "custos_mpc_pool_rands", "Random shared values in the preprocessing pool.",
        m.rands);
  gauge(b, "custos_mpc_pool_bits", "Random shared bits in the preprocessing pool.", m.bits);
  family(b, "custos_mpc_pool_capacity", "gauge", "Preprocessing pool capacity, by material.");
  sample1(b, "custos_mpc_pool_capacity", "material", "triples", m.cap_triples);
  sample1(b, "custos_mpc_pool_capacity", "material", "rands", m.cap_rands);
  sample1(b, "custos_mpc_pool_capacity", "material", "bits", m.cap_bits);
  family(b, "custos_mpc_batches_total", "counter", "Preprocessing batches, by outcome.");
  sample1(b, "custos_mpc_batches_total", "result", "ok", m.batches_ok);
  sample1(b, "custos_mpc_batches_total", "result", "failed", m.batches_failed);
  counter(b, "custos_mpc_flushes_total", "Pool flushes (reconciliation after a divergence).",
          m.flushes);
  gauge(b, "custos_mpc_batch_running", "1 while a preprocessing batch runs.",
        (uint64_t)(m.running != 0));
  counter(b, "custos_mpc_refused_messages_total", "MPC messages refused (queue full, malformed).",
          m.refused);

  node_call_stats c;
  node_call_status(n, &c);
  family(b, "custos_calls_total", "counter",
         "Contract calls this node took part in: started, and closed on chain as done or "
         "aborted.");
  sample1(b, "custos_calls_total", "state", "started", c.started);
  sample1(b, "custos_calls_total", "state", "done", c.done);
  sample1(b, "custos_calls_total", "state", "aborted", c.aborted);
  gauge(b, "custos_calls_running", "Calls whose MPC sessions run now.",
        (uint64_t)(c.running > 0 ? c.running : 0));
  gauge(b, "custos_calls_queued", "Calls waiting to run.", c.queued);
  gauge(b, "custos_calls_closing", "Calls whose result is being agreed and submitted.",
        c.closing);
  family(b, "custos_calls_not_run_total", "counter", "Calls not run, by reason.");
  sample1(b, "custos_calls_not_run_total", "reason", "stale", c.skipped_stale);
  sample1(b, "custos_calls_not_run_total", "reason", "dropped", c.dropped);

  node_key_stats k;
  node_key_status(n, &k);
  counter(b, "custos_key_txs_submitted_total",
          "Consortium-key transactions this node submitted (DKG steps; docs/keys.md).", k.submitted);
  counter(b, "custos_beacons_total", "Beacon values this node made or collected (docs/keys.md §7).", k.beacons);
  gauge(b, "custos_beacon_height", "Highest height with a beacon value here.", k.beacon_height);
  counter(b, "custos_key_refused_messages_total", "Key messages (beacon shares) refused.", k.refused);

  node_ss_stats ss;
  node_statesync_status(n, &ss);
  gauge(b, "custos_statesync_active", "1 while state sync fetches a snapshot (docs/statesync.md).",
        (uint64_t)(ss.active != 0));
  counter(b, "custos_statesync_chunks_fetched_total",
          "Snapshot chunks fetched that matched their manifest.", ss.prog.chunks_fetched);
  counter(b, "custos_statesync_refused_total",
          "Snapshot inputs refused by this node's state sync (bad manifest, chunk, certificate).",
          ss.prog.refused);
  gauge(b, "custos_statesync_installed_height",
        "Height of the snapshot state sync installed at this start (0: none).", ss.installed);
  gauge(b, "custos_statesync_serving_height", "Height of the snapshot served to peers (0: none).",
        ss.pinned);
  counter(b, "custos_statesync_pages_served_total", "Snapshot chunk pages served to peers.",
          ss.served);
  counter(b, "custos_statesync_bad_messages_total", "Snapshot messages from peers refused as malformed.",
          ss.bad);
}

typedef struct {
  tbuf *b;
  int want_error;
} rpc_pass;

static void rpc_stat(void *arg, const char *method, int is_error, int code, uint64_t count) {
  rpc_pass *rp = arg;
  if (is_error != rp->want_error) return;
  char e[160];
  if (!is_error)
    sample1(rp->b, "custos_rpc_requests_total", "method", method, count);
  else
    tb_printf(rp->b, "custos_rpc_errors_total{method=\"%s\",code=\"%d\"} %llu\n",
              esc(method, e, sizeof e), code, (unsigned long long)count);
}

static void put_rpc(tbuf *b, node *n) {
  rpc_pass rp = {b, 0};
  family(b, "custos_rpc_requests_total", "counter",
         "JSON-RPC requests, by method (\"unknown\": not a method; \"invalid\": no method "
         "named).");
  rpc_server_stats(n->rpc, rpc_stat, &rp);
  family(b, "custos_rpc_errors_total", "counter",
         "JSON-RPC error responses, by method and error code.");
  rp.want_error = 1;
  rpc_server_stats(n->rpc, rpc_stat, &rp);
}

/* ---- health ---- */

/* 1 when the node runs normally; else 0 with a one-line reason. A failed
 * commit or safety write (storage) stops consensus (host_fatal), so
 * node_failed covers storage too. */
static int healthy(node *n, char *why, size_t wl) {
  if (node_failed(n)) {
    pthread_mutex_lock(&n->mu);
    cx_err e = n->fatal;
    pthread_mutex_unlock(&n->mu);
    snprintf(why, wl, "consensus stopped: %s (%s)", e ? cx_err_str(e) : "failure",
             e ? cx_err_name(e) : "internal");
    return 0;
  }
  if (!__atomic_load_n(&n->cs_running, __ATOMIC_ACQUIRE)) {
    snprintf(why, wl, "consensus not running (node not started)");
    return 0;
  }
  pthread_mutex_lock(&n->mu);
  int stop = n->stop;
  pthread_mutex_unlock(&n->mu);
  if (stop) {
    snprintf(why, wl, "consensus stopping (node shutting down)");
    return 0;
  }
  return 1;
}

static int render_metrics(node *n, tbuf *b) {
  char why[160];
  gauge(b, "custos_healthy", "1 when /healthz answers 200.", (uint64_t)healthy(n, why, sizeof why));
  put_chain(b, n);
  put_peers(b, n);
  put_mpc(b, n);
  put_rpc(b, n);
  return b->oom ? -1 : 0;
}

/* Takes text (static) into a malloc'd body. */
static int text_reply(int status, const char *text, char **body, size_t *len,
                      const char **ctype) {
  *ctype = TEXT_CTYPE;
  if (!(*body = strdup(text))) return 500;
  *len = strlen(text);
  return status;
}

int metrics_http_get(void *ctx, const char *path, char **body, size_t *len,
                     const char **ctype) {
  node *n = ctx;
  *body = NULL;
  *len = 0;
  if (strcmp(path, "/metrics") == 0) {
    tbuf b = {0};
    if (render_metrics(n, &b) != 0) {
      free(b.p);
      return text_reply(500, "out of memory\n", body, len, ctype);
    }
    *body = b.p;
    *len = b.len;
    *ctype = PROM_CTYPE;
    return 200;
  }
  if (strcmp(path, "/healthz") == 0) {
    char why[192], line[200];
    if (healthy(n, why, sizeof why)) return text_reply(200, "ok\n", body, len, ctype);
    snprintf(line, sizeof line, "%s\n", why);
    return text_reply(503, line, body, len, ctype);
  }
  if (strncmp(path, "/explorer", 9) == 0 && (path[9] == 0 || path[9] == '/')) {
    /* The block explorer's static files (docs/explorer.md): a copy of the
     * embedded bytes, since the server frees the body. */
    const explorer_asset *a = explorer_asset_find(path);
    if (!a)
      return text_reply(404, "not found: the explorer serves /explorer/ and its app.js, style.css and "
                             "favicon.svg\n", body, len, ctype);
    if (!(*body = malloc(a->len ? a->len : 1))) return text_reply(500, "out of memory\n", body, len, ctype);
    memcpy(*body, a->data, a->len);
    *len = a->len;
    *ctype = a->ctype;
    return 200;
  }
  return text_reply(404, "not found: GET serves /metrics, /healthz and /explorer/ (JSON-RPC: POST /)\n",
                    body, len, ctype);
}
