/* cli_load: `custos load`, a load generator for a running consortium.
 *
 * Pre-builds R*S signed identity registrations (each from its own fresh
 * subject key, nonce 0: the VM gives a key one identity, so a key's second
 * registration would be refused as key_in_use), then submits them with
 * tx_submit at a steady R per second, round-robin across the nodes, from a
 * pool of worker threads (each with its own keep-alive libcurl handle, so one
 * slow node does not stall the rate). A poller thread follows the chain
 * (status every POLL_MS, then block_get of each new height) and records when
 * each transaction is first seen in a block; that time minus the moment its
 * tx_submit was sent is the submit->commit latency (accurate to ~POLL_MS).
 *
 * Batching (--batch B): transactions go out B at a time as one JSON-RPC
 * batch (an array of tx_submit requests, one HTTP exchange), which is what
 * a high-rate client does: the node's HTTP layer then costs per batch, not
 * per transaction (issue 4). Transaction i is still due at t0 + i / R; a
 * batch leaves when its LAST transaction is due, so no transaction leaves
 * before it is due, and each one's latency starts when its batch actually
 * left (a transaction waits at most (B - 1) / R in the client, not counted).
 * The default B holds what is due within BATCH_WINDOW_S at the rate. Each
 * request's id is its transaction's index, so the answers of a batch are
 * matched by id and counted one by one as for single requests. B = 1 sends
 * single request objects (no array), as before batching existed.
 *
 * A transaction is "accepted" when a node answered tx_submit with its txid,
 * or with duplicate / nonce_used (only this process holds the key and there
 * is one transaction per key: either means this very transaction is already
 * in that node's mempool or on chain). A submit that cannot reach its node
 * fails over to the next one. A node's mempool is not durable: a node killed
 * before it gossiped a transaction forgets it, so an accepted transaction not
 * committed after --resubmit seconds is submitted again to another node, as
 * a real client would (counted as "resubmitted"). "lost" = accepted but not
 * in any block when the drain ends. */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "codec.h"
#include "rpc_client.h"

#define LOAD_MAX_NODES 16
#define LOAD_MAX_TXS 500000u    /* R*S cap: ~400 bytes of prebuilt request each */
#define LOAD_MAX_WORKERS 64
#define LOAD_MAX_REFUSAL_NAMES 32
#define POLL_MS 5                /* chain polling period: latency resolution (it adds ~POLL_MS/2 to every latency; 20 ms added ~10 ms to p50s near the 100 ms target) */
#define RESUBMIT_BATCH 256       /* resubmissions per poller pass */
#define HTTP_CONNECT_MS 2000L
#define HTTP_TIMEOUT_MS 10000L
#define HTTP_MAX_BODY (64u << 20) /* a block of 5000 txs is ~1 MB of JSON */
#define LOAD_MAX_BATCH 256       /* custosd's JSON-RPC max_batch (node.c, rpc.h) */
#define BATCH_WINDOW_S 0.005     /* default batch: what is due within 5 ms */

/* The pacing thread's queue of work items (a batch's first transaction or
 * a batch's index) for the submit workers. A bounded ring: push waits
 * while it is full, pop while it is empty and not closed. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t items, space;
  size_t *q, cap, head, n;
  int closed;
} workq;

static int workq_init(workq *w, size_t cap) {
  memset(w, 0, sizeof *w);
  w->cap = cap ? cap : 1;
  if (!(w->q = calloc(w->cap, sizeof *w->q))) return -1;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->items, NULL);
  pthread_cond_init(&w->space, NULL);
  return 0;
}

static void workq_free(workq *w) {
  if (!w->q) return;
  pthread_cond_destroy(&w->space);
  pthread_cond_destroy(&w->items);
  pthread_mutex_destroy(&w->mu);
  free(w->q);
  w->q = NULL;
}

static void workq_push(workq *w, size_t v) {
  pthread_mutex_lock(&w->mu);
  while (w->n == w->cap) pthread_cond_wait(&w->space, &w->mu);
  w->q[(w->head + w->n) % w->cap] = v;
  w->n++;
  pthread_cond_signal(&w->items);
  pthread_mutex_unlock(&w->mu);
}

/* 0 once closed and empty. */
static int workq_pop(workq *w, size_t *v) {
  pthread_mutex_lock(&w->mu);
  while (!w->n && !w->closed) pthread_cond_wait(&w->items, &w->mu);
  int got = w->n > 0;
  if (got) {
    *v = w->q[w->head];
    w->head = (w->head + 1) % w->cap;
    w->n--;
    pthread_cond_signal(&w->space);
  }
  pthread_mutex_unlock(&w->mu);
  return got;
}

static void workq_close(workq *w) {
  pthread_mutex_lock(&w->mu);
  w->closed = 1;
  pthread_cond_broadcast(&w->items);
  pthread_mutex_unlock(&w->mu);
}

/* Rounding without libm (the CLI does not link it); |x| < 2^53. */
static double round1(double x) { return (double)(long long)(x + (x < 0 ? -0.5 : 0.5)); }

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* ---- a keep-alive JSON-RPC connection (one per thread) ---- */

typedef struct {
  CURL *h;
  struct curl_slist *hdrs;
  char *buf;
  size_t len, cap;
  int too_big;
} http;

static size_t http_on_data(char *p, size_t size, size_t nmemb, void *ud) {
  http *c = ud;
  size_t n = size * nmemb;
  if (n > HTTP_MAX_BODY - c->len) {
    c->too_big = 1;
    return 0;
  }
  if (c->len + n + 1 > c->cap) {
    size_t cap = c->cap ? c->cap : 4096;
    while (cap < c->len + n + 1) cap *= 2;
    char *nb = realloc(c->buf, cap);
    if (!nb) return 0;
    c->buf = nb;
    c->cap = cap;
  }
  memcpy(c->buf + c->len, p, n);
  c->len += n;
  c->buf[c->len] = 0;
  return n;
}

static int http_open(http *c) {
  memset(c, 0, sizeof *c);
  if (!(c->h = curl_easy_init())) return -1;
  struct curl_slist *s = curl_slist_append(NULL, "Content-Type: application/json");
  if (!s) return -1;
  c->hdrs = s;
  if (!(s = curl_slist_append(c->hdrs, "Expect:"))) return -1;
  c->hdrs = s;
  curl_easy_setopt(c->h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c->h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, HTTP_CONNECT_MS);
  curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, HTTP_TIMEOUT_MS);
  curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
  curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, http_on_data);
  curl_easy_setopt(c->h, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(c->h, CURLOPT_USERAGENT, "custos-load");
  return 0;
}

static void http_close(http *c) {
  if (c->h) curl_easy_cleanup(c->h);
  curl_slist_free_all(c->hdrs);
  free(c->buf);
  memset(c, 0, sizeof *c);
}

/* Posts body to url. Returns the parsed answer (caller deletes) or NULL
 * when there was no JSON answer; *transport is set when no HTTP exchange
 * took place (the node is down). */
static cJSON *http_post(http *c, const char *url, const char *body, int *transport) {
  c->len = 0;
  c->too_big = 0;
  *transport = 0;
  curl_easy_setopt(c->h, CURLOPT_URL, url);
  curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  CURLcode cr = curl_easy_perform(c->h);
  if (cr != CURLE_OK) {
    *transport = !c->too_big;
    return NULL;
  }
  return c->len ? cJSON_ParseWithLength(c->buf, c->len) : NULL;
}

/* ---- the run ---- */

typedef struct {
  cx_hash id;
  char *body;      /* the whole tx_submit request (id = index), built before the run */
  size_t body_len;
  double t_sent;   /* first tx_submit sent; 0 = not yet */
  double t_last;   /* last (re)submission */
  double t_commit; /* first seen in a block; 0 = not yet */
  int node;        /* node of the last submission */
  uint8_t accepted;
  uint8_t seen;    /* times seen in a block (1 = exactly once) */
  uint8_t ok;      /* its receipt is ok */
  uint8_t refusal; /* refused at submit: index + 1 into load.refused */
} load_tx;

typedef struct {
  char name[64];
  size_t n;
} refusal;

typedef struct {
  const char *urls[LOAD_MAX_NODES];
  int nnodes;
  load_tx *tx;
  size_t ntx;
  size_t *ht; /* open addressing on the txid: index + 1, 0 = empty */
  size_t htmask;
  double resubmit_s;
  size_t batch; /* transactions per tx_submit batch (1: single requests) */

  pthread_mutex_t mu;
  workq wq; /* submission queue (index into tx of each batch's first) */

  /* counters, under mu */
  size_t n_sent, n_accepted, n_committed, n_committed_accepted, n_rejected, n_dup, n_resubmits,
      n_late; /* refused (or unreachable) at submit, yet seen in a block */
  refusal refused[LOAD_MAX_REFUSAL_NAMES];
  size_t nref, n_refused;
  double t_first_sent, t_last_commit;
  uint64_t height;   /* last height scanned */
  int poll_node;
  size_t poll_switches;
  int stop_poll;
} load;

static size_t ht_slot(const cx_hash *id, size_t mask) {
  uint64_t k;
  memcpy(&k, id->b, sizeof k);
  return (size_t)k & mask;
}

static void ht_put(load *L, size_t i) {
  size_t s = ht_slot(&L->tx[i].id, L->htmask);
  while (L->ht[s]) s = (s + 1) & L->htmask;
  L->ht[s] = i + 1;
}

/* Index of a txid of this run, or -1. */
static long ht_find(const load *L, const cx_hash *id) {
  for (size_t s = ht_slot(id, L->htmask); L->ht[s]; s = (s + 1) & L->htmask)
    if (memcmp(L->tx[L->ht[s] - 1].id.b, id->b, 32) == 0) return (long)(L->ht[s] - 1);
  return -1;
}

/* Counts a refusal by name; returns its slot. */
static size_t count_refusal(load *L, const char *name) {
  L->n_refused++;
  size_t i = 0;
  while (i < L->nref && strcmp(L->refused[i].name, name) != 0) i++;
  if (i == L->nref) {
    if (L->nref == LOAD_MAX_REFUSAL_NAMES) { /* the last slot collects the rest */
      i = LOAD_MAX_REFUSAL_NAMES - 1;
      name = "other";
    } else {
      L->nref++;
    }
    snprintf(L->refused[i].name, sizeof L->refused[i].name, "%s", name);
  }
  L->refused[i].n++;
  return i;
}

typedef enum { SUB_ACCEPTED, SUB_REFUSED, SUB_UNREACHABLE } sub_result;

/* A submitter's state: its connection, the batch body it assembles, and
 * each transaction's outcome (name: the rule when refused). */
typedef struct {
  http c;
  char *body;
  size_t body_cap;
  sub_result *res;
  char (*name)[64]; /* res and name hold L->batch entries */
} submitter;

static int submitter_open(submitter *s, size_t max) {
  memset(s, 0, sizeof *s);
  if (http_open(&s->c)) return -1;
  s->res = calloc(max, sizeof *s->res);
  s->name = calloc(max, sizeof *s->name);
  return s->res && s->name ? 0 : -1;
}

static void submitter_close(submitter *s) {
  http_close(&s->c);
  free(s->body);
  free(s->res);
  free(s->name);
  memset(s, 0, sizeof *s);
}

/* The error name of a JSON-RPC answer (error.data.name) into name: 1, or
 * 0 when it has none. */
static int error_name(const cJSON *r, char name[64]) {
  const cJSON *nm = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "error"), "data"),
      "name");
  if (!cJSON_IsString(nm)) return 0;
  snprintf(name, 64, "%s", nm->valuestring);
  return 1;
}

/* One tx_submit answer object (single or a batch element). */
static sub_result classify(const cJSON *r, char name[64]) {
  const cJSON *code =
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "error"), "code");
  if (cJSON_GetObjectItemCaseSensitive(r, "result")) return SUB_ACCEPTED;
  if (cJSON_IsNumber(code) &&
      (code->valueint == CX_E_DUPLICATE || code->valueint == CX_E_NONCE_USED))
    return SUB_ACCEPTED; /* already there: one transaction per key (header comment) */
  if (!error_name(r, name)) snprintf(name, 64, "code_%d", cJSON_IsNumber(code) ? code->valueint : 0);
  return SUB_REFUSED;
}

/* Sets every outcome of the batch to res / name. */
static void set_all(submitter *s, size_t n, sub_result res, const char *name) {
  for (size_t k = 0; k < n; k++) {
    s->res[k] = res;
    snprintf(s->name[k], 64, "%s", name);
  }
}

/* The request body for transactions idx[0..n): the prebuilt request itself
 * for one, else a JSON array of them. NULL when out of memory. */
static const char *batch_body(load *L, submitter *s, const size_t *idx, size_t n) {
  if (n == 1) return L->tx[idx[0]].body;
  size_t need = 3; /* [ ] NUL */
  for (size_t k = 0; k < n; k++) need += L->tx[idx[k]].body_len + 1;
  if (need > s->body_cap) {
    char *nb = realloc(s->body, need);
    if (!nb) return NULL;
    s->body = nb;
    s->body_cap = need;
  }
  char *p = s->body;
  *p++ = '[';
  for (size_t k = 0; k < n; k++) {
    if (k) *p++ = ',';
    memcpy(p, L->tx[idx[k]].body, L->tx[idx[k]].body_len);
    p += L->tx[idx[k]].body_len;
  }
  *p++ = ']';
  *p = 0;
  return s->body;
}

/* Position in idx[0..n) of the request whose id is v; the answer's own
 * position e is tried first (the node answers in order). -1 if none. */
static long batch_pos(const cJSON *v, const size_t *idx, size_t n, size_t e) {
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 1e15)) return -1;
  size_t id = (size_t)v->valuedouble;
  if (e < n && idx[e] == id) return (long)e;
  for (size_t k = 0; k < n; k++)
    if (idx[k] == id) return (long)k;
  return -1;
}

/* Posts transactions idx[0..n) to url and fills s->res / s->name[0..n). A
 * batch answer is matched by id; a transaction the answer leaves out is
 * refused as "no_answer"; an answer that is not an array (the whole batch
 * refused: over max_batch, body over max_body) refuses each transaction
 * under that answer's rule. */
static void submit_once(submitter *s, const char *url, const char *body, const size_t *idx,
                        size_t n) {
  int transport;
  char name[64] = "";
  cJSON *r = http_post(&s->c, url, body, &transport);
  if (!r) {
    if (transport) {
      set_all(s, n, SUB_UNREACHABLE, "unreachable");
      return;
    }
    long status = 0;
    curl_easy_getinfo(s->c.h, CURLINFO_RESPONSE_CODE, &status);
    snprintf(name, sizeof name, "http_%ld", status);
    set_all(s, n, SUB_REFUSED, name);
    return;
  }
  if (n == 1 || !cJSON_IsArray(r)) {
    sub_result res = classify(r, name);
    set_all(s, n, res, name);
    cJSON_Delete(r);
    return;
  }
  set_all(s, n, SUB_REFUSED, "no_answer");
  const cJSON *el;
  size_t e = 0;
  cJSON_ArrayForEach(el, r) {
    long k = batch_pos(cJSON_GetObjectItemCaseSensitive(el, "id"), idx, n, e++);
    if (k >= 0) s->res[k] = classify(el, s->name[k]);
  }
  cJSON_Delete(r);
}

/* Submits transactions idx[0..n) (n <= s->max) as one request, starting at
 * node first and failing over to the others while a node cannot be reached.
 * Each transaction's latency starts now, when its request leaves. */
static void send_batch(load *L, submitter *s, const size_t *idx, size_t n, int first,
                       int resubmit) {
  const char *body = batch_body(L, s, idx, n);
  int node = first;
  double t0 = cli_now_s();
  pthread_mutex_lock(&L->mu);
  for (size_t k = 0; k < n; k++) {
    load_tx *t = &L->tx[idx[k]];
    if (!t->t_sent) {
      t->t_sent = t0;
      L->n_sent++;
      if (!L->t_first_sent) L->t_first_sent = t0;
    }
    t->t_last = t0;
  }
  if (resubmit) L->n_resubmits += n;
  pthread_mutex_unlock(&L->mu);
  if (!body) {
    set_all(s, n, SUB_REFUSED, "client_out_of_memory");
  } else {
    set_all(s, n, SUB_UNREACHABLE, "unreachable");
    for (int k = 0; k < L->nnodes && s->res[0] == SUB_UNREACHABLE; k++) {
      node = (first + k) % L->nnodes;
      submit_once(s, L->urls[node], body, idx, n);
    }
  }
  double t1 = cli_now_s();
  pthread_mutex_lock(&L->mu);
  for (size_t k = 0; k < n; k++) {
    load_tx *t = &L->tx[idx[k]];
    t->node = node;
    t->t_last = t1;
    if (s->res[k] == SUB_ACCEPTED && !t->accepted) {
      t->accepted = 1;
      L->n_accepted++;
      if (t->seen) L->n_committed_accepted++;
    } else if (s->res[k] != SUB_ACCEPTED && !resubmit && !t->accepted) {
      t->refusal = (uint8_t)(count_refusal(L, s->name[k]) + 1);
    }
  }
  pthread_mutex_unlock(&L->mu);
}

typedef struct {
  load *L;
  int failed; /* could not open a connection */
} worker_arg;

static void *worker(void *arg) {
  worker_arg *w = arg;
  load *L = w->L;
  submitter s;
  size_t *idx = calloc(L->batch, sizeof *idx);
  if (submitter_open(&s, L->batch) || !idx) w->failed = 1;
  size_t b;
  while (workq_pop(&L->wq, &b)) {
    if (w->failed) continue;
    size_t i = b * L->batch; /* the batch's first transaction */
    size_t n = L->ntx - i < L->batch ? L->ntx - i : L->batch;
    for (size_t k = 0; k < n; k++) idx[k] = i + k;
    /* batch b, round-robin over the nodes */
    send_batch(L, &s, idx, n, (int)(b % (size_t)L->nnodes), 0);
  }
  submitter_close(&s);
  free(idx);
  return NULL;
}

/* The "result" of an answer (owned by r) or NULL. */
static const cJSON *result_of(const cJSON *r) {
  return r ? cJSON_GetObjectItemCaseSensitive(r, "result") : NULL;
}

/* Records the transactions of block `height` (seen at time t). 0 if read. */
static int scan_block(load *L, http *c, int node, uint64_t height, double t) {
  char body[160];
  int transport;
  snprintf(body, sizeof body,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"block_get\",\"params\":{\"height\":%llu}}",
           (unsigned long long)height);
  cJSON *r = http_post(c, L->urls[node], body, &transport);
  const cJSON *txs = cJSON_GetObjectItemCaseSensitive(result_of(r), "txs"), *x;
  if (!cJSON_IsArray(txs)) {
    cJSON_Delete(r);
    return -1;
  }
  pthread_mutex_lock(&L->mu);
  cJSON_ArrayForEach(x, txs) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(x, "txid");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(x, "code");
    cx_hash h;
    if (!cJSON_IsString(id) || hex_decode(id->valuestring, h.b, 32) != CX_OK) continue;
    long i = ht_find(L, &h);
    if (i < 0) continue; /* someone else's transaction */
    load_tx *tx = &L->tx[i];
    if (tx->seen++) {
      L->n_dup++; /* in two blocks: a safety violation */
      continue;
    }
    tx->t_commit = t;
    tx->ok = cJSON_IsNumber(code) && code->valueint == 0;
    if (!tx->ok) L->n_rejected++;
    L->n_committed++;
    if (tx->accepted) {
      L->n_committed_accepted++;
    } else if (tx->t_sent) {
      /* Refused or unreachable at submit, yet committed: an answer lost
       * with a killed node. It was accepted after all. */
      tx->accepted = 1;
      L->n_accepted++;
      L->n_committed_accepted++;
      L->n_late++;
      if (tx->refusal) { /* no longer a refusal */
        L->refused[tx->refusal - 1].n--;
        L->n_refused--;
        tx->refusal = 0;
      }
    }
    if (t > L->t_last_commit) L->t_last_commit = t;
  }
  pthread_mutex_unlock(&L->mu);
  cJSON_Delete(r);
  return 0;
}

/* Resubmits accepted transactions not committed within resubmit_s, each
 * to the node after the one it last went to: grouped by that node, in
 * batches of at most L->batch. */
static void resubmit_overdue(load *L, submitter *s) {
  size_t pick[RESUBMIT_BATCH], group[RESUBMIT_BATCH];
  int first[RESUBMIT_BATCH];
  size_t n = 0;
  double now = cli_now_s();
  pthread_mutex_lock(&L->mu);
  for (size_t i = 0; i < L->ntx && n < RESUBMIT_BATCH; i++) {
    const load_tx *t = &L->tx[i];
    if (t->accepted && !t->seen && now - t->t_last > L->resubmit_s) {
      first[n] = (t->node + 1) % L->nnodes;
      pick[n++] = i;
    }
  }
  pthread_mutex_unlock(&L->mu);
  for (int node = 0; node < L->nnodes; node++) {
    size_t g = 0;
    for (size_t k = 0; k < n; k++) {
      if (first[k] != node) continue;
      group[g++] = pick[k];
      if (g == L->batch) {
        send_batch(L, s, group, g, node, 1);
        g = 0;
      }
    }
    if (g) send_batch(L, s, group, g, node, 1);
  }
}

/* A node's committed height from its status; 0 if it answered, else -1
 * (down, restarting, or an answer without one). */
static int status_height(http *c, const char *url, uint64_t *h) {
  int transport;
  cJSON *r = http_post(c, url, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"status\"}",
                       &transport);
  int rc = cli_json_u64(cJSON_GetObjectItemCaseSensitive(result_of(r), "height"), h);
  cJSON_Delete(r);
  return rc;
}

static void *poller(void *arg) {
  load *L = arg;
  submitter s; /* its connection also polls */
  http *c = &s.c;
  if (submitter_open(&s, L->batch)) {
    submitter_close(&s);
    return NULL;
  }
  double next_resubmit = cli_now_s() + 1.0;
  for (;;) {
    double t0 = cli_now_s();
    pthread_mutex_lock(&L->mu);
    int stop = L->stop_poll, node = L->poll_node;
    uint64_t scanned = L->height;
    pthread_mutex_unlock(&L->mu);
    if (stop) break;
    uint64_t h = 0;
    int down = status_height(c, L->urls[node], &h) != 0;
    double t = cli_now_s();
    if (down) {
      /* This node is down (killed, restarting): follow the next one. */
      pthread_mutex_lock(&L->mu);
      L->poll_node = (node + 1) % L->nnodes;
      L->poll_switches++;
      pthread_mutex_unlock(&L->mu);
    }
    while (scanned < h && scan_block(L, c, node, scanned + 1, t) == 0) scanned++;
    pthread_mutex_lock(&L->mu);
    L->height = scanned;
    pthread_mutex_unlock(&L->mu);
    if (L->resubmit_s > 0 && t >= next_resubmit) {
      resubmit_overdue(L, &s);
      next_resubmit = cli_now_s() + 1.0;
    }
    sleep_s(POLL_MS / 1000.0 - (cli_now_s() - t0));
  }
  submitter_close(&s);
  return NULL;
}

/* ---- building the transactions ---- */

typedef struct {
  load *L;
  cx_hash chain_id;
  uint8_t run[8]; /* random per run: DIDs differ between runs */
  size_t from, step;
  int failed;
} build_arg;

static void *build_txs(void *arg) {
  build_arg *b = arg;
  load *L = b->L;
  for (size_t i = b->from; i < L->ntx; i += b->step) {
    cx_seckey *k = key_generate();
    if (!k) goto fail;
    cx_tx tx;
    tx_init(&tx);
    tx.type = TX_ID_REGISTER;
    tx.chain_id = b->chain_id;
    tx.nonce = 0;
    uint8_t salt[16];
    uint64_t n = i;
    memcpy(salt, b->run, 8);
    memcpy(salt + 8, &n, 8);
    char nid[40];
    snprintf(nid, sizeof nid, "load-%zu", i);
    uint8_t *raw = NULL;
    size_t len = 0;
    cx_err e = did_derive(salt, sizeof salt, nid, &tx.u.reg.did);
    if (!e) e = tx_sign(&tx, k);
    key_free(k);
    if (!e) e = tx_encode(&tx, 1, &raw, &len);
    if (e) goto fail;
    tx_id_of_bytes(raw, len, &L->tx[i].id);
    /* id = the transaction's index: how a batch's answers are matched */
    char pre[96];
    int pl = snprintf(pre, sizeof pre,
                      "{\"jsonrpc\":\"2.0\",\"id\":%zu,\"method\":\"tx_submit\",\"params\":{\"tx\":\"",
                      i);
    static const char post[] = "\"}}";
    char *body = malloc((size_t)pl + 2 * len + sizeof post);
    if (!body) {
      free(raw);
      goto fail;
    }
    memcpy(body, pre, (size_t)pl);
    hex_encode(raw, len, body + pl);
    memcpy(body + (size_t)pl + 2 * len, post, sizeof post);
    free(raw);
    L->tx[i].body = body;
    L->tx[i].body_len = (size_t)pl + 2 * len + sizeof post - 1;
  }
  return NULL;
fail:
  b->failed = 1;
  return NULL;
}

/* ---- the command ---- */

/* SIGINT / SIGTERM end the submitting early; the drain and report follow. */
static volatile sig_atomic_t g_stop;
static void on_stop_signal(int sig) { g_stop = sig; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Ctrl-C / SIGTERM end the pacing early (on_stop_signal); the caller puts
 * the old handlers back with sigaction. */
static void catch_stop(struct sigaction *old_int, struct sigaction *old_term) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, old_int);
  sigaction(SIGTERM, &sa, old_term);
}

/* Nearest-rank percentile of a sorted array (ms); -1 when empty. */
static double pct(const double *v, size_t n, double p) {
  if (!n) return -1;
  double r = p / 100.0 * (double)n;
  size_t k = (size_t)r;
  if ((double)k < r) k++; /* ceil */
  return v[k ? k - 1 : 0];
}

static int parse_pos_double(const char *what, const char *s, double lo, double hi, double *out) {
  char *end = NULL;
  double v = strtod(s, &end);
  if (!*s || *end || !(v >= lo && v <= hi))
    return cli_fail(CLI_USAGE, "%s: expected a number in [%g, %g], got \"%s\"", what, lo, hi, s);
  *out = v;
  return CLI_OK;
}

/* Splits the --nodes list (in place, into buf). */
static int parse_nodes(const char *urls[LOAD_MAX_NODES], int *nnodes, const char *list, char *buf,
                       size_t cap) {
  snprintf(buf, cap, "%s", list);
  for (char *p = buf, *save = NULL, *tok; (tok = strtok_r(p, ",", &save)); p = NULL) {
    if (*nnodes >= LOAD_MAX_NODES)
      return cli_fail(CLI_USAGE, "--nodes: at most %d URLs", LOAD_MAX_NODES);
    if (strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0)
      return cli_fail(CLI_USAGE, "--nodes: \"%s\" is not an http(s) URL", tok);
    urls[(*nnodes)++] = tok;
  }
  if (!*nnodes) return cli_fail(CLI_USAGE, "--nodes: no URL");
  return CLI_OK;
}

/* --batch s (NULL: absent): a whole number in 1..max; absent, what is due
 * within BATCH_WINDOW_S at rate, in 1..max. */
static int parse_batch(const char *s, size_t max, double rate, size_t *out) {
  double d = 0;
  int rc;
  if (s && (rc = parse_pos_double("--batch", s, 1, (double)max, &d))) return rc;
  if (s && d != (double)(size_t)d)
    return cli_fail(CLI_USAGE, "--batch: expected a whole number, got \"%s\"", s);
  if (!s) {
    d = round1(rate * BATCH_WINDOW_S);
    d = d < 1 ? 1 : d > (double)max ? (double)max : d;
  }
  *out = (size_t)d;
  return CLI_OK;
}

/* Pacing: item i is due at t0 + i / rate; batch b (items b * batch ..) is
 * queued when its last item is due, so none leaves before it is due. Stops
 * early on a signal (g_stop). Returns t0. */
static double pace(workq *w, size_t nitems, size_t batch, double rate) {
  double t0 = cli_now_s();
  for (size_t b = 0; b * batch < nitems && !g_stop; b++) {
    size_t last = ((b + 1) * batch < nitems ? (b + 1) * batch : nitems) - 1;
    double due = t0 + (double)last / rate;
    while (!g_stop && cli_now_s() < due) sleep_s(due - cli_now_s() < 0.1 ? due - cli_now_s() : 0.1);
    if (g_stop) break;
    workq_push(w, b);
  }
  return t0;
}

/* ---- --commands: the libhotstuff-shaped mode (issue 4, bench/) ----
 *
 * Unsigned 32-byte commands (docs/transactions.md "Commands") on a chain
 * whose genesis sets bench_commands. Command i's payload is u64be(base + i)
 * || 24 random bytes, base a random multiple of 2^32 per run, so the first
 * 8 bytes (the prefix command_commits returns) name the command and tell
 * this run's commands from an earlier run's. Batches of B payloads go out as
 * ONE command_submit request, round-robin over the nodes, when their last
 * command is due (t0 + i / R); a batch whose node cannot be reached goes to
 * the next node. A poller thread asks every node for command_commits every
 * CMD_POLL_MS and counts a command committed when f + 1 nodes (f =
 * (n - 1) / 3) have it in a committed block, libhotstuff's criterion; its
 * latency is that moment minus the moment its batch was sent. The client's
 * own CPU (getrusage) over the run is reported per committed command. */

#define CMD_MAX 20000000u    /* R*S cap: 17 bytes of state each */
#define CMD_MAX_BATCH 1024   /* command_submit's cap */
#define CMD_POLL_MS 5
#define CMD_WORKERS_PER_NODE 2

typedef struct {
  const char *urls[LOAD_MAX_NODES];
  int nnodes, quorum; /* quorum = f + 1 */
  size_t ncmd, batch, nbatches;
  uint64_t base;
  double rate, t0;
  float *t_sent;      /* per batch: seconds after t0 (0: not sent) */
  float *t_commit;    /* per command: seconds after t0 when f + 1 nodes had it */
  uint16_t *seen;     /* per command: bit k = node k has it committed */
  uint64_t from[LOAD_MAX_NODES]; /* per node: the first height to poll (cmd_start_tips) */

  pthread_mutex_t mu;
  workq wq; /* batch indexes */
  /* under mu */
  size_t n_sent, n_accepted, n_dup, n_refused, n_unreachable;
  char first_refusal[64];
  /* poller's own */
  size_t n_committed, n_foreign;
  double t_first_sent, t_last_commit;
  int stop_poll;
} cmdload;

/* Payloads of batch b into buf (batch * 32 bytes), hex-encoded into the
 * request body. */
static char *cmd_body(const cmdload *L, size_t b, size_t *n_out) {
  size_t from = b * L->batch, n = L->ncmd - from < L->batch ? L->ncmd - from : L->batch;
  static const char pre[] =
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"command_submit\",\"params\":{\"payloads\":\"";
  static const char post[] = "\"}}";
  uint8_t pl[CMD_MAX_BATCH * CX_COMMAND_PAYLOAD];
  char *body = malloc(sizeof pre - 1 + 2 * n * CX_COMMAND_PAYLOAD + sizeof post);
  if (!body) return NULL;
  randombytes_buf(pl, n * CX_COMMAND_PAYLOAD);
  for (size_t k = 0; k < n; k++) {
    uint64_t seq = L->base + from + k;
    put_be64(pl + k * CX_COMMAND_PAYLOAD, seq);
  }
  memcpy(body, pre, sizeof pre - 1);
  hex_encode(pl, n * CX_COMMAND_PAYLOAD, body + sizeof pre - 1);
  memcpy(body + sizeof pre - 1 + 2 * n * CX_COMMAND_PAYLOAD, post, sizeof post);
  *n_out = n;
  return body;
}

/* command_submit's answer for n commands: counts them. 0 if a node
 * answered, -1 if it could not be reached. */
static int cmd_count_answer(cmdload *L, cJSON *r, size_t n, int transport, http *c) {
  const cJSON *res = r ? cJSON_GetObjectItemCaseSensitive(r, "result") : NULL;
  uint64_t a = 0, d = 0, f = 0;
  char name[64] = "";
  if (!r && transport) return -1;
  if (res && cli_json_u64(cJSON_GetObjectItemCaseSensitive(res, "accepted"), &a) == 0 &&
      cli_json_u64(cJSON_GetObjectItemCaseSensitive(res, "duplicate"), &d) == 0 &&
      cli_json_u64(cJSON_GetObjectItemCaseSensitive(res, "refused"), &f) == 0) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(res, "error");
    if (cJSON_IsString(e)) snprintf(name, sizeof name, "%s", e->valuestring);
  } else {
    long status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    if (!error_name(r, name)) snprintf(name, sizeof name, "http_%ld", status);
    f = n;
  }
  pthread_mutex_lock(&L->mu);
  L->n_accepted += a;
  L->n_dup += d;
  L->n_refused += f;
  if (f && !L->first_refusal[0]) snprintf(L->first_refusal, sizeof L->first_refusal, "%s", name);
  pthread_mutex_unlock(&L->mu);
  return 0;
}

static void *cmd_worker(void *arg) {
  cmdload *L = arg;
  http c;
  int ok = http_open(&c) == 0;
  size_t b;
  while (workq_pop(&L->wq, &b)) {
    size_t n = 0;
    char *body = ok ? cmd_body(L, b, &n) : NULL;
    double t = cli_now_s();
    pthread_mutex_lock(&L->mu);
    L->t_sent[b] = (float)(t - L->t0);
    if (!L->t_first_sent) L->t_first_sent = t;
    L->n_sent += n;
    pthread_mutex_unlock(&L->mu);
    int sent = 0;
    for (int k = 0; body && k < L->nnodes && !sent; k++) { /* fail over while unreachable */
      int transport, node = (int)((b + (size_t)k) % (size_t)L->nnodes);
      cJSON *r = http_post(&c, L->urls[node], body, &transport);
      sent = cmd_count_answer(L, r, n, transport, &c) == 0;
      cJSON_Delete(r);
    }
    if (!sent) {
      pthread_mutex_lock(&L->mu);
      L->n_unreachable += n;
      pthread_mutex_unlock(&L->mu);
    }
    free(body);
  }
  if (ok) http_close(&c);
  return NULL;
}

/* Marks the commands of one command_commits answer as seen by node k. */
static void cmd_scan(cmdload *L, const cJSON *blocks, int k, double t, uint64_t *next) {
  const cJSON *b;
  cJSON_ArrayForEach(b, blocks) {
    uint64_t h = 0;
    const cJSON *px = cJSON_GetObjectItemCaseSensitive(b, "prefixes");
    if (cli_json_u64(cJSON_GetObjectItemCaseSensitive(b, "height"), &h) != 0 ||
        !cJSON_IsString(px))
      return;
    const char *s = px->valuestring;
    size_t hl = strlen(s);
    for (size_t off = 0; off + 16 <= hl; off += 16) {
      char hx[17];
      uint8_t b8[8];
      memcpy(hx, s + off, 16);
      hx[16] = 0;
      int bad = hex_decode(hx, b8, sizeof b8) != CX_OK;
      uint64_t seq = bad ? 0 : get_be64(b8); /* the payload's first 8 bytes */
      if (bad || seq - L->base >= L->ncmd) {
        L->n_foreign++; /* another run's (or client's) command */
        continue;
      }
      size_t i = (size_t)(seq - L->base);
      uint16_t bit = (uint16_t)(1u << k);
      if (L->seen[i] & bit) continue;
      L->seen[i] |= bit;
      if (__builtin_popcount(L->seen[i]) == L->quorum) {
        L->t_commit[i] = (float)(t - L->t0);
        __atomic_add_fetch(&L->n_committed, 1, __ATOMIC_RELAXED); /* the drain reads it */
        if (t > L->t_last_commit) L->t_last_commit = t;
      }
    }
    if (h + 1 > *next) *next = h + 1;
  }
}

/* Each node's tip before the first submission: commands sent later land
 * above it. Read before any worker starts: the poller used to read them
 * itself while the workers already sent, and under load a first batch
 * could commit before its status read at f + 1 nodes, which then never
 * reported it (it_test_commands: "lost 3", one batch). A node that does not
 * answer is polled from height 1. */
static void cmd_start_tips(cmdload *L) {
  for (int k = 0; k < L->nnodes; k++) {
    http c;
    uint64_t h = 0;
    L->from[k] = 1;
    if (http_open(&c) != 0) continue;
    if (status_height(&c, L->urls[k], &h) == 0) L->from[k] = h + 1;
    http_close(&c);
  }
}

static void *cmd_poller(void *arg) {
  cmdload *L = arg;
  http c[LOAD_MAX_NODES];
  uint64_t next[LOAD_MAX_NODES];
  int ok = 1;
  for (int k = 0; k < L->nnodes; k++) {
    ok &= http_open(&c[k]) == 0;
    next[k] = L->from[k];
  }
  for (;;) {
    double t0 = cli_now_s();
    pthread_mutex_lock(&L->mu);
    int stop = L->stop_poll;
    pthread_mutex_unlock(&L->mu);
    if (stop || !ok) break;
    for (int k = 0; k < L->nnodes; k++) {
      char body[160];
      int transport;
      snprintf(body, sizeof body,
               "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"command_commits\","
               "\"params\":{\"from\":%llu,\"max\":256}}",
               (unsigned long long)next[k]);
      cJSON *r = http_post(&c[k], L->urls[k], body, &transport);
      const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(result_of(r), "blocks");
      if (cJSON_IsArray(blocks)) cmd_scan(L, blocks, k, cli_now_s(), &next[k]);
      cJSON_Delete(r);
    }
    sleep_s(CMD_POLL_MS / 1000.0 - (cli_now_s() - t0));
  }
  for (int k = 0; k < L->nnodes; k++) http_close(&c[k]);
  return NULL;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmd_load_commands(cli_ctx *c, const cli_args *a) {
  cmdload *L = calloc(1, sizeof *L);
  double dur = 0, drain = 30;
  char nodebuf[4096];
  const char *s;
  int rc;
  if (!L) return cli_fail(CLI_LOCAL, "out of memory");
  if ((rc = parse_nodes(L->urls, &L->nnodes, (s = cli_opt(a, "nodes")) ? s : c->node, nodebuf,
                        sizeof nodebuf)))
    goto out_free;
  if ((rc = parse_pos_double("--rate", cli_opt(a, "rate"), 0.01, 1e7, &L->rate)) ||
      (rc = parse_pos_double("--duration", cli_opt(a, "duration"), 0.01, 86400, &dur)))
    goto out_free;
  if ((s = cli_opt(a, "drain")) && (rc = parse_pos_double("--drain", s, 0, 86400, &drain)))
    goto out_free;
  if ((rc = parse_batch(cli_opt(a, "batch"), CMD_MAX_BATCH, L->rate, &L->batch))) goto out_free;
  L->quorum = (L->nnodes - 1) / 3 + 1;
  double want = round1(L->rate * dur);
  if (want < 1 || want > CMD_MAX) {
    rc = cli_fail(CLI_USAGE, "--rate x --duration: %.0f commands; expected 1..%u", want, CMD_MAX);
    goto out_free;
  }
  L->ncmd = (size_t)want;
  L->nbatches = (L->ncmd + L->batch - 1) / L->batch;
  randombytes_buf(&L->base, sizeof L->base);
  L->base &= ~(uint64_t)0xffffffffu; /* i < 2^32 fits below it */
  L->t_sent = calloc(L->nbatches, sizeof *L->t_sent);
  L->t_commit = calloc(L->ncmd, sizeof *L->t_commit);
  L->seen = calloc(L->ncmd, sizeof *L->seen);
  if (!L->t_sent || !L->t_commit || !L->seen ||
      workq_init(&L->wq, L->nbatches < 65536 ? L->nbatches : 65536)) {
    rc = cli_fail(CLI_LOCAL, "out of memory for %zu commands", L->ncmd);
    goto out_free;
  }
  pthread_mutex_init(&L->mu, NULL);
  pthread_t poll_t, wt[LOAD_MAX_WORKERS];
  int nw = 0, nworkers = CMD_WORKERS_PER_NODE * L->nnodes;
  if (nworkers > LOAD_MAX_WORKERS) nworkers = LOAD_MAX_WORKERS;
  cmd_start_tips(L);
  double cpu0 = cpu_s();
  L->t0 = cli_now_s();
  if (pthread_create(&poll_t, NULL, cmd_poller, L) != 0) {
    rc = cli_fail(CLI_LOCAL, "cannot start a thread");
    goto out_sync;
  }
  for (; nw < nworkers; nw++)
    if (pthread_create(&wt[nw], NULL, cmd_worker, L) != 0) break;
  struct sigaction old_int, old_term;
  catch_stop(&old_int, &old_term);
  double t0 = nw ? pace(&L->wq, L->ncmd, L->batch, L->rate) : cli_now_s();
  workq_close(&L->wq);
  for (int i = 0; i < nw; i++) pthread_join(wt[i], NULL);
  double t_end_submit = cli_now_s();
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  /* Drain: until every accepted command has its f + 1 commits. The poller
   * writes n_committed alone; read under mu as it stops below. */
  double deadline = t_end_submit + drain;
  for (;;) {
    pthread_mutex_lock(&L->mu);
    size_t accepted = L->n_accepted;
    pthread_mutex_unlock(&L->mu);
    if (__atomic_load_n(&L->n_committed, __ATOMIC_RELAXED) >= accepted || cli_now_s() >= deadline)
      break;
    sleep_s(0.02);
  }
  pthread_mutex_lock(&L->mu);
  L->stop_poll = 1;
  pthread_mutex_unlock(&L->mu);
  pthread_join(poll_t, NULL);
  double cpu = cpu_s() - cpu0;

  double *lat = malloc((L->n_committed ? L->n_committed : 1) * sizeof *lat);
  if (!lat) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out_sync;
  }
  size_t nlat = 0;
  for (size_t i = 0; i < L->ncmd && nlat < L->n_committed; i++)
    if (L->t_commit[i] > 0 && L->t_sent[i / L->batch] > 0)
      lat[nlat++] = 1000.0 * ((double)L->t_commit[i] - (double)L->t_sent[i / L->batch]);
  qsort(lat, nlat, sizeof *lat, cmp_double);
  double p50 = pct(lat, nlat, 50), p99 = pct(lat, nlat, 99);
  free(lat);
  size_t lost = L->n_accepted > L->n_committed ? L->n_accepted - L->n_committed : 0;
  double span = L->t_last_commit - L->t_first_sent;
  double cps = L->n_committed && span > 0 ? (double)L->n_committed / span : 0;
  double submit_rate = t_end_submit > t0 ? (double)L->n_sent / (t_end_submit - t0) : 0;
  double cpu_us = L->n_committed ? cpu * 1e6 / (double)L->n_committed : -1;

  cJSON *o = cJSON_CreateObject();
  if (!o) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out_sync;
  }
  cJSON_AddStringToObject(o, "mode", "commands");
  cJSON_AddNumberToObject(o, "nodes", L->nnodes);
  cJSON_AddNumberToObject(o, "quorum", L->quorum);
  cJSON_AddNumberToObject(o, "rate", L->rate);
  cJSON_AddNumberToObject(o, "batch", (double)L->batch);
  cJSON_AddNumberToObject(o, "duration_s", dur);
  cJSON_AddNumberToObject(o, "submitted", (double)L->n_sent);
  cJSON_AddNumberToObject(o, "accepted", (double)L->n_accepted);
  cJSON_AddNumberToObject(o, "duplicate", (double)L->n_dup);
  cJSON_AddNumberToObject(o, "refused", (double)L->n_refused);
  if (L->first_refusal[0]) cJSON_AddStringToObject(o, "first_refusal", L->first_refusal);
  cJSON_AddNumberToObject(o, "unreachable", (double)L->n_unreachable);
  cJSON_AddNumberToObject(o, "committed", (double)L->n_committed);
  cJSON_AddNumberToObject(o, "lost", (double)lost);
  cJSON_AddNumberToObject(o, "submit_rate", round1(submit_rate * 10) / 10);
  cJSON_AddNumberToObject(o, "committed_per_s", round1(cps * 10) / 10);
  cJSON_AddNumberToObject(o, "latency_p50_ms", round1(p50));
  cJSON_AddNumberToObject(o, "latency_p99_ms", round1(p99));
  cJSON_AddNumberToObject(o, "client_cpu_us_per_cmd", round1(cpu_us * 100) / 100);
  cJSON_AddNumberToObject(o, "poll_ms", CMD_POLL_MS);
  if (c->json) {
    cli_print_json(c, o);
  } else {
    printf("nodes:             %d (committed = seen at %d of them; %d submitter threads)\n",
           L->nnodes, L->quorum, nw);
    printf("submitted:         %zu commands at %.1f/s (target %g/s for %g s, batches of %zu)\n",
           L->n_sent, submit_rate, L->rate, dur, L->batch);
    printf("accepted:          %zu (duplicate %zu, refused %zu%s%s, unreachable %zu)\n",
           L->n_accepted, L->n_dup, L->n_refused, L->first_refusal[0] ? ": first " : "",
           L->first_refusal, L->n_unreachable);
    printf("committed:         %zu\n", L->n_committed);
    printf("lost:              %zu (accepted, not at %d nodes after %g s of drain)\n", lost,
           L->quorum, drain);
    printf("committed cmd/s:   %.1f\n", cps);
    printf("latency p50/p99:   %.0f / %.0f ms (submit -> at f+1 nodes, +-%d ms)\n", p50, p99,
           CMD_POLL_MS);
    printf("client CPU:        %.2f us per committed command\n", cpu_us);
  }
  cJSON_Delete(o);
  rc = lost || L->n_refused || L->n_unreachable ? CLI_REFUSED : CLI_OK;
out_sync:
  pthread_mutex_destroy(&L->mu);
out_free:
  free(L->t_sent);
  free(L->t_commit);
  free(L->seen);
  workq_free(&L->wq);
  free(L);
  return rc;
}

static int cmd_load(cli_ctx *c, const cli_args *a) {
  if (cli_opt(a, "commands")) return cmd_load_commands(c, a);
  load L;
  memset(&L, 0, sizeof L);
  double rate = 0, dur = 0, drain = 30, resub = 5, workers_d = 0;
  char nodebuf[4096];
  int rc;
  const char *s;
  if ((rc = parse_nodes(L.urls, &L.nnodes, (s = cli_opt(a, "nodes")) ? s : c->node, nodebuf,
                        sizeof nodebuf)))
    return rc;
  if ((rc = parse_pos_double("--rate", cli_opt(a, "rate"), 0.01, 1e6, &rate)) ||
      (rc = parse_pos_double("--duration", cli_opt(a, "duration"), 0.01, 86400, &dur)))
    return rc;
  if ((s = cli_opt(a, "drain")) && (rc = parse_pos_double("--drain", s, 0, 86400, &drain)))
    return rc;
  if ((s = cli_opt(a, "resubmit")) && (rc = parse_pos_double("--resubmit", s, 0, 86400, &resub)))
    return rc;
  if ((s = cli_opt(a, "workers")) &&
      (rc = parse_pos_double("--workers", s, 1, LOAD_MAX_WORKERS, &workers_d)))
    return rc;
  if ((rc = parse_batch(cli_opt(a, "batch"), LOAD_MAX_BATCH, rate, &L.batch))) return rc;
  double want = round1(rate * dur);
  if (want < 1 || want > LOAD_MAX_TXS)
    return cli_fail(CLI_USAGE, "--rate x --duration: %.0f transactions; expected 1..%u", want,
                    LOAD_MAX_TXS);
  L.ntx = (size_t)want;
  L.resubmit_s = resub;
  int nworkers = workers_d > 0 ? (int)workers_d : 4 * L.nnodes;
  if (nworkers > LOAD_MAX_WORKERS) nworkers = LOAD_MAX_WORKERS;
  const char *out_path = cli_opt(a, "out");
  FILE *out = NULL;
  if (out_path && !(out = fopen(out_path, "w")))
    return cli_fail(CLI_LOCAL, "--out %s: cannot create", out_path);

  /* Chain id and starting height from the first node that answers. */
  cx_hash chain_id;
  uint64_t h0 = 0;
  rc = CLI_UNREACHABLE;
  for (int i = 0; i < L.nnodes && rc; i++) {
    cli_ctx one = *c;
    one.node = L.urls[i];
    cJSON *r = NULL;
    if ((rc = cli_call(&one, "status", cJSON_CreateObject(), NULL, &r))) continue;
    const cJSON *cid = cJSON_GetObjectItemCaseSensitive(r, "chain_id");
    if (!cJSON_IsString(cid) || hex_decode(cid->valuestring, chain_id.b, 32) != CX_OK ||
        cli_json_u64(cJSON_GetObjectItemCaseSensitive(r, "height"), &h0) != 0)
      rc = cli_fail(CLI_UNREACHABLE, "status: %s's answer lacks chain_id or height", one.node);
    L.poll_node = i;
    cJSON_Delete(r);
  }
  if (rc) {
    if (out) fclose(out);
    return rc;
  }
  L.height = h0;

  /* Build and sign everything before the clock starts. */
  L.tx = calloc(L.ntx, sizeof *L.tx);
  size_t htcap = 16;
  while (htcap < 2 * L.ntx) htcap *= 2;
  L.ht = calloc(htcap, sizeof *L.ht);
  L.htmask = htcap - 1;
  size_t nbatches = (L.ntx + L.batch - 1) / L.batch;
  if (!L.tx || !L.ht || workq_init(&L.wq, nbatches < 65536 ? nbatches : 65536)) {
    rc = cli_fail(CLI_LOCAL, "out of memory for %zu transactions", L.ntx);
    goto out;
  }
  if (!c->json)
    fprintf(stderr, "custos: load: signing %zu identity registrations (one fresh key each)...\n",
            L.ntx);
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  size_t nb = ncpu < 1 ? 1 : ncpu > 16 ? 16 : (size_t)ncpu;
  build_arg bargs[16];
  pthread_t bt[16];
  uint8_t run[8];
  randombytes_buf(run, sizeof run);
  for (size_t i = 0; i < nb; i++) {
    bargs[i] = (build_arg){.L = &L, .chain_id = chain_id, .from = i, .step = nb};
    memcpy(bargs[i].run, run, sizeof run);
    if (pthread_create(&bt[i], NULL, build_txs, &bargs[i]) != 0) {
      nb = i; /* join those started, then fail */
      bargs[0].failed = 1;
      break;
    }
  }
  int bad = bargs[0].failed;
  for (size_t i = 0; i < nb; i++) {
    pthread_join(bt[i], NULL);
    bad |= bargs[i].failed;
  }
  if (bad) {
    rc = cli_fail(CLI_LOCAL, "cannot build the transactions (out of memory?)");
    goto out;
  }
  for (size_t i = 0; i < L.ntx; i++) ht_put(&L, i);

  pthread_mutex_init(&L.mu, NULL);
  pthread_t poll_t, wt[LOAD_MAX_WORKERS];
  worker_arg wargs[LOAD_MAX_WORKERS];
  int nw = 0;
  if (pthread_create(&poll_t, NULL, poller, &L) != 0) {
    rc = cli_fail(CLI_LOCAL, "cannot start a thread");
    goto out_sync;
  }
  for (; nw < nworkers; nw++) {
    wargs[nw] = (worker_arg){.L = &L};
    if (pthread_create(&wt[nw], NULL, worker, &wargs[nw]) != 0) break;
  }
  if (!nw) {
    rc = cli_fail(CLI_LOCAL, "cannot start a thread");
    L.stop_poll = 1;
    pthread_join(poll_t, NULL);
    goto out_sync;
  }

  struct sigaction old_int, old_term;
  catch_stop(&old_int, &old_term);
  double t0 = pace(&L.wq, L.ntx, L.batch, rate);
  workq_close(&L.wq);
  int wfailed = 0;
  for (int i = 0; i < nw; i++) {
    pthread_join(wt[i], NULL);
    wfailed |= wargs[i].failed;
  }
  double t_end_submit = cli_now_s();
  sigaction(SIGINT, &old_int, NULL); /* a second signal ends the drain */
  sigaction(SIGTERM, &old_term, NULL);
  if (g_stop && !c->json)
    fprintf(stderr, "custos: load: stopped by signal %d after %zu transactions; draining\n",
            (int)g_stop, L.n_sent);

  /* Drain: until every accepted transaction is in a block. */
  double deadline = t_end_submit + drain;
  for (;;) {
    pthread_mutex_lock(&L.mu);
    int done = L.n_committed_accepted >= L.n_accepted;
    pthread_mutex_unlock(&L.mu);
    if (done || cli_now_s() >= deadline) break;
    sleep_s(0.05);
  }
  sleep_s(2.0 * POLL_MS / 1000.0); /* a last pass catches duplicates in new blocks */
  pthread_mutex_lock(&L.mu);
  L.stop_poll = 1;
  pthread_mutex_unlock(&L.mu);
  pthread_join(poll_t, NULL);

  /* Figures. */
  double *lat = malloc((L.ntx ? L.ntx : 1) * sizeof *lat);
  if (!lat) {
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out_sync;
  }
  size_t nlat = 0;
  for (size_t i = 0; i < L.ntx; i++) {
    const load_tx *t = &L.tx[i];
    if (t->seen && t->t_sent) lat[nlat++] = 1000.0 * (t->t_commit - t->t_sent);
    if (out && t->accepted) {
      char hex[CX_HASH_HEX_LEN];
      fprintf(out, "%s\n", hash_hex(&t->id, hex));
    }
  }
  qsort(lat, nlat, sizeof *lat, cmp_double);
  double p50 = pct(lat, nlat, 50), p99 = pct(lat, nlat, 99), pmax = nlat ? lat[nlat - 1] : -1;
  free(lat);
  size_t lost = L.n_accepted - L.n_committed_accepted;
  double submit_span = t_end_submit - t0;
  double submit_rate = submit_span > 0 ? (double)L.n_sent / submit_span : 0;
  double commit_span = L.t_last_commit - L.t_first_sent;
  double tps = L.n_committed && commit_span > 0 ? (double)L.n_committed / commit_span : 0;

  cJSON *o = cJSON_CreateObject(), *ref = cJSON_CreateObject();
  if (!o || !ref) {
    cJSON_Delete(o);
    cJSON_Delete(ref);
    rc = cli_fail(CLI_LOCAL, "out of memory");
    goto out_sync;
  }
  for (size_t i = 0; i < L.nref; i++)
    if (L.refused[i].n) cJSON_AddNumberToObject(ref, L.refused[i].name, (double)L.refused[i].n);
  cJSON_AddNumberToObject(o, "nodes", L.nnodes);
  cJSON_AddNumberToObject(o, "rate", rate);
  cJSON_AddNumberToObject(o, "batch", (double)L.batch);
  cJSON_AddNumberToObject(o, "duration_s", dur);
  cJSON_AddNumberToObject(o, "submitted", (double)L.n_sent);
  cJSON_AddNumberToObject(o, "accepted", (double)L.n_accepted);
  cJSON_AddNumberToObject(o, "refused", (double)L.n_refused);
  cJSON_AddItemToObject(o, "refused_by", ref);
  cJSON_AddNumberToObject(o, "committed", (double)L.n_committed);
  cJSON_AddNumberToObject(o, "rejected_receipts", (double)L.n_rejected);
  cJSON_AddNumberToObject(o, "duplicated", (double)L.n_dup);
  cJSON_AddNumberToObject(o, "lost", (double)lost);
  cJSON_AddNumberToObject(o, "resubmitted", (double)L.n_resubmits);
  cJSON_AddNumberToObject(o, "late_accepted", (double)L.n_late);
  cJSON_AddNumberToObject(o, "submit_rate", round1(submit_rate * 10) / 10);
  cJSON_AddNumberToObject(o, "committed_tps", round1(tps * 10) / 10);
  cJSON_AddNumberToObject(o, "latency_p50_ms", round1(p50));
  cJSON_AddNumberToObject(o, "latency_p99_ms", round1(p99));
  cJSON_AddNumberToObject(o, "latency_max_ms", round1(pmax));
  cJSON_AddNumberToObject(o, "poll_ms", POLL_MS);
  cJSON_AddNumberToObject(o, "height", (double)L.height);
  if (c->json) {
    cli_print_json(c, o);
  } else {
    printf("nodes:             %d (%d submitter threads, batches of %zu)\n", L.nnodes, nw,
           L.batch);
    printf("submitted:         %zu at %.1f/s (target %g/s for %g s)\n", L.n_sent, submit_rate,
           rate, dur);
    printf("accepted:          %zu\n", L.n_accepted);
    printf("refused:           %zu", L.n_refused);
    for (size_t i = 0, k = 0; i < L.nref; i++)
      if (L.refused[i].n) printf("%s%s %zu", k++ ? ", " : " (", L.refused[i].name, L.refused[i].n);
    printf("%s\n", L.n_refused ? ")" : "");
    printf("committed:         %zu (%zu rejected receipts, %zu in two blocks)\n", L.n_committed,
           L.n_rejected, L.n_dup);
    printf("lost:              %zu (accepted, in no block after %g s of drain)\n", lost, drain);
    printf("resubmitted:       %zu\n", L.n_resubmits);
    printf("committed tx/s:    %.1f\n", tps);
    printf("latency p50/p99:   %.0f / %.0f ms (max %.0f; submit -> seen in a block, +-%d ms)\n",
           p50, p99, pmax, POLL_MS);
    printf("height:            %llu\n", (unsigned long long)L.height);
  }
  cJSON_Delete(o);
  if (wfailed) fprintf(stderr, "custos: load: a submitter thread could not open libcurl\n");
  rc = lost || L.n_dup || wfailed ? CLI_REFUSED : CLI_OK;
out_sync:
  pthread_mutex_destroy(&L.mu);
out:
  if (out && fclose(out) != 0 && rc == CLI_OK)
    rc = cli_fail(CLI_LOCAL, "--out %s: cannot write", out_path);
  for (size_t i = 0; L.tx && i < L.ntx; i++) free(L.tx[i].body);
  free(L.tx);
  free(L.ht);
  workq_free(&L.wq);
  return rc;
}

const cli_cmd cli_load_cmds[] = {
    {
        .path = "load",
        .synopsis = "--nodes URL[,URL...] --rate R --duration S [--commands] [flags]",
        .summary = "generate load: signed transactions at a steady rate; commit latency",
        .desc =
            "Submits R signed transactions per second for S seconds, round-robin across\n"
            "the nodes, then waits until every accepted one is in a block (or --drain\n"
            "passes). Each is an identity registration from its own fresh subject key\n"
            "(kept in memory only; nonce 0), all signed before the clock starts.\n"
            "A pool of submitter threads keeps the rate when one node is slow; a submit\n"
            "that cannot reach its node goes to the next one. Transactions go out\n"
            "--batch at a time as one JSON-RPC batch, sent when its last transaction is\n"
            "due; their latency starts when it is sent, and each answer of the batch is\n"
            "counted on its own. An accepted transaction not in a block after\n"
            "--resubmit seconds is sent again to another node (a mempool is not durable\n"
            "across kill -9). SIGINT or SIGTERM stops the submitting early; the drain\n"
            "and the report follow.\n"
            "\n"
            "Prints submitted, accepted, refused (by rule name), committed, lost\n"
            "(accepted but in no block at the end), the achieved submit rate,\n"
            "committed tx/s (committed / (last commit - first submit)) and the\n"
            "submit->commit latency p50/p99. Commits are observed by polling the chain\n"
            "every 5 ms (status, then block_get), so latencies are accurate to about\n"
            "5 ms. Exit 0 if nothing accepted was lost (and nothing is in two blocks),\n"
            "1 otherwise.\n"
            "\n"
            "--commands (a chain whose genesis has bench_commands: devnet init\n"
            "--bench-commands): libhotstuff's shape instead. Unsigned 32-byte commands\n"
            "(u64 sequence number || 24 random bytes) go out --batch (1..1024; default\n"
            "what is due within 5 ms) at a time as one command_submit, round-robin over\n"
            "the nodes; every node is polled with command_commits every 5 ms and a\n"
            "command counts as committed when f+1 nodes have it (f = (n-1)/3). Prints\n"
            "committed, committed_per_s, latency p50/p99, lost, batch and the client's\n"
            "own CPU per committed command (client_cpu_us_per_cmd). --resubmit,\n"
            "--workers and --out do not apply.",
        .example = "custos load --nodes http://127.0.0.1:26657,http://127.0.0.1:26667 \\\n"
                   "  --rate 200 --duration 10\n"
                   "custos load --nodes $URLS --rate 50 --duration 60 --json --out txids",
        .kind = CLI_QUERY,
        .flags = {{"nodes", "URL[,URL...]", "node RPC URLs (default: --node)", 0},
                  {"rate", "R", "transactions per second", 1},
                  {"duration", "S", "seconds of submitting", 1},
                  {"drain", "S", "after submitting, wait this long for commits (default 30)", 0},
                  {"resubmit", "S",
                   "resend an accepted tx not committed after S s (default 5; 0: never)", 0},
                  {"workers", "N", "submitter threads (default 4 per node, at most 64)", 0},
                  {"batch", "N",
                   "transactions per JSON-RPC batch, 1..256 (--commands: payloads per "
                   "command_submit, 1..1024; default: due in 5 ms)",
                   0},
                  {"commands", NULL, "unsigned 32-byte benchmark commands (see above)", 0},
                  {"out", "FILE", "write the accepted txids there, one per line", 0}},
        .run = cmd_load,
    },
    {.path = NULL},
};
