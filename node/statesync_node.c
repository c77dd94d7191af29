/* statesync_node.c: state sync's I/O (docs/statesync.md) — serving a pinned
 * snapshot on the net thread (NET_MSG_SNAP requests), and running the
 * client (statesync.c, a pure state machine) on the consensus thread before
 * the engine starts: its messages, its clock, the store install and the
 * reload of what the node derived from the state (node_internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "log.h"
#include "net.h"
#include "node_internal.h"

#define SS_PIN_EVERY 16          /* the served snapshot is re-pinned at multiples of this height */
#define SS_PIN_STALE_MS 60000    /* ... when it is older than this */
#define SS_PIN_IDLE_MS 10000     /* ... and had no request for this long */
#define SS_REQ_TIMEOUT_MS 5000   /* a manifest or chunk request not answered */
#define SS_INFLIGHT 4            /* chunk requests in flight */
#define SS_MAX_RESTARTS 3        /* new rounds of offers after a snapshot went away */
#define SS_INBOX_MAX (64u << 20) /* bytes of responses waiting for the client */
#define SS_TICK_MS 100

/* A response waiting for the client (net thread -> consensus thread). */
struct ss_inmsg {
  struct ss_inmsg *next;
  char from[CX_NAME_MAX + 1];
  size_t len;
  uint8_t data[];
};

static uint64_t mono(node *n) { return n->clock->mono_ms(n->clock); }

/* ---- test hook ---------------------------------------------------------- */

enum { CHEAT_NONE = 0, CHEAT_CHUNK, CHEAT_ROOT, CHEAT_CERT };

#if CUSTOS_TESTING
/* Test builds only (tests/integration/test_statesync.sh): a serving node
 * that lies. CUSTOS_TEST_SNAPSHOT_CHEAT=chunk flips a byte of one value in
 * every chunk page it serves (a page without a value gets an entry the
 * state does not have); root puts a wrong subtree hash in its manifests;
 * cert keeps one signature of the certificate, so the trust rule fails.
 * Read once. */
static int cheat_mode(void) {
  static int mode = -1;
  if (mode < 0) {
    const char *v = getenv("CUSTOS_TEST_SNAPSHOT_CHEAT");
    mode = !v                          ? CHEAT_NONE
           : strcmp(v, "chunk") == 0 ? CHEAT_CHUNK
           : strcmp(v, "root") == 0  ? CHEAT_ROOT
           : strcmp(v, "cert") == 0  ? CHEAT_CERT
                                     : CHEAT_NONE;
    if (v && mode == CHEAT_NONE)
      LOG_W("node", "CUSTOS_TEST_SNAPSHOT_CHEAT=%s: unknown kind (chunk, root, cert): not cheating", v);
  }
  return mode;
}
#else
static int cheat_mode(void) { return CHEAT_NONE; }
#endif

/* ---- serving (net thread; the re-pin on the consensus thread) ------------ */

static void send_enc(node *n, const char *to, cx_enc *e) {
  if (enc_finish(e) == CX_OK) {
    cx_err r = net_send(n->net, to, NET_MSG_SNAP, e->buf, e->len);
    if (r) LOG_D("node", "snapshot message to %s dropped: %s", to, cx_err_name(r));
  }
  enc_free(e);
}

/* Caller holds ssmu. */
static void repin_locked(node *n, uint64_t now) {
  store_snap *p = NULL;
  if (store_snap_pin(n->st, &p) != CX_OK) return;
  if (store_snap_info_of(p)->height == 0) { /* nothing to serve yet */
    store_snap_unpin(p);
    return;
  }
  store_snap_unpin(n->ss_pin);
  n->ss_pin = p;
  n->ss_pinned_at = now;
  n->ss_req_at = 0;
  LOG_D("node", "state sync: serving the snapshot of height %llu",
        (unsigned long long)store_snap_info_of(p)->height);
}

void statesync_serve_tick(node *n) {
  if (!n->ss_ready || !n->cfg.statesync_serve) return;
  uint64_t h = store_height(n->st), now = mono(n);
  if (h == 0 || h % SS_PIN_EVERY != 0) return;
  /* Busy: a page is being served from the pin, which is then not idle
   * (and the commit path does not wait for a 4 MiB read). */
  if (pthread_mutex_trylock(&n->ssmu) != 0) return;
  const store_snap_info *in = n->ss_pin ? store_snap_info_of(n->ss_pin) : NULL;
  int stale = !in || (in->height < h && now >= n->ss_pinned_at + SS_PIN_STALE_MS &&
                      now >= n->ss_req_at + SS_PIN_IDLE_MS);
  /* At a common height every server that re-pins picks the same snapshot,
   * so that a client can fetch it from all of them. */
  if (stale) repin_locked(n, now);
  pthread_mutex_unlock(&n->ssmu);
}

static void serve_offer(node *n, const char *from) {
  cx_enc e;
  enc_init(&e);
  pthread_mutex_lock(&n->ssmu);
  if (n->cfg.statesync_serve && !n->ss_pin) repin_locked(n, mono(n)); /* none yet: the tip */
  const store_snap_info *in = n->cfg.statesync_serve && n->ss_pin ? store_snap_info_of(n->ss_pin) : NULL;
  if (in)
    ss_enc_offer(&e, 1, in->height, &in->tip, &in->root);
  else
    ss_enc_offer(&e, 0, 0, NULL, NULL);
  pthread_mutex_unlock(&n->ssmu);
  send_enc(n, from, &e);
}

/* The certificate with one signature: the trust rule cannot hold (test hook). */
static void cheat_cert(uint8_t **cert, size_t *clen) {
  cx_cert *c = malloc(sizeof *c);
  uint8_t *out = NULL;
  size_t ol = 0;
  if (c && cert_decode(*cert, *clen, c) == CX_OK) {
    if (c->nvotes > 1) c->nvotes = 1;
    if (cert_encode(c, &out, &ol) == CX_OK) {
      free(*cert);
      *cert = out;
      *clen = ol;
    }
  }
  free(c);
}

/* Caller holds ssmu: the pinned snapshot is at height h. */
static void serve_manifest_locked(node *n, const char *from, uint64_t h, cx_enc *e) {
  const store_snap_info *in = store_snap_info_of(n->ss_pin);
  uint8_t *blk = NULL, *cert = NULL;
  size_t bl = 0, cl = 0;
  if (store_block_get(n->st, h, &blk, &bl) || store_cert_get(n->st, h, &cert, &cl)) {
    LOG_W("node", "state sync: block %llu of the snapshot served cannot be read", (unsigned long long)h);
    free(blk);
    return;
  }
  cx_hash sub[SS_CHUNKS];
  memcpy(sub, in->subtrees, sizeof sub);
  int cheat = cheat_mode();
  if (cheat == CHEAT_ROOT) {
    sub[0].b[0] ^= 1;
    LOG_W("node", "state sync: TEST CHEAT: a wrong subtree hash in the manifest for %s", from);
  } else if (cheat == CHEAT_CERT) {
    cheat_cert(&cert, &cl);
    LOG_W("node", "state sync: TEST CHEAT: a certificate of one signature for %s", from);
  }
  ss_enc_manifest(e, h, blk, bl, cert, cl, sub);
  free(blk);
  free(cert);
}

/* A page being built: the entries' encoding, and where the first non-empty
 * value is (for the test hook). */
typedef struct {
  cx_enc body;
  uint64_t count;
  size_t value_at; /* 0: none */
} page;

static void page_add(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  page *pg = ctx;
  enc_bytes(&pg->body, k, kl);
  enc_bytes(&pg->body, v, vl);
  if (vl && !pg->value_at) pg->value_at = pg->body.len - vl;
  pg->count++;
}

/* Caller holds ssmu: the pinned snapshot is at w->height. */
static void serve_chunk_locked(node *n, const char *from, const ss_wire *w, cx_enc *e) {
  page pg = {.count = 0, .value_at = 0};
  int more = 0;
  enc_init(&pg.body);
  cx_err r = store_snap_chunk(n->ss_pin, w->chunk, w->has_after, w->after, w->after_len,
                              SS_PAGE_BUDGET, SS_PAGE_ENTRIES_MAX, page_add, &pg, &more);
  if (r || enc_finish(&pg.body) != CX_OK) {
    LOG_W("node", "state sync: chunk %u for %s cannot be read: %s", (unsigned)w->chunk, from,
          cx_err_name(r ? r : CX_E_NOMEM));
    enc_free(&pg.body);
    return;
  }
  if (cheat_mode() == CHEAT_CHUNK) {
    if (pg.value_at) {
      pg.body.buf[pg.value_at] ^= 0x01;
    } else { /* nothing to flip: an entry of this chunk that is not in the state */
      char k[32];
      for (unsigned i = 0;; i++) {
        snprintf(k, sizeof k, "cheat-%u", i);
        if (store_key_bucket((const uint8_t *)k, strlen(k)) / STORE_SNAP_CHUNK_BUCKETS == w->chunk) break;
      }
      page_add(&pg, (const uint8_t *)k, strlen(k), (const uint8_t *)"x", 1);
    }
    LOG_W("node", "state sync: TEST CHEAT: a wrong page of chunk %u for %s", (unsigned)w->chunk, from);
  }
  ss_enc_chunk(e, w->height, w->chunk, more, pg.count, pg.body.buf, pg.body.len);
  enc_free(&pg.body);
  __atomic_add_fetch(&n->ss_served, 1, __ATOMIC_RELAXED);
}

static void serve(node *n, const char *from, const uint8_t *p, size_t len) {
  ss_wire *w = malloc(sizeof *w);
  ss_refusal r;
  if (!w) return;
  if (ss_decode(p, len, w, &r)) {
    node_refuse(n, &n->ss_bad, r.what, from, r.why);
    free(w);
    return;
  }
  if (w->kind == SS_OFFER_REQ) {
    serve_offer(n, from);
    free(w);
    return;
  }
  cx_enc e;
  enc_init(&e);
  pthread_mutex_lock(&n->ssmu);
  const store_snap_info *in = n->cfg.statesync_serve && n->ss_pin ? store_snap_info_of(n->ss_pin) : NULL;
  if (!in || in->height != w->height) {
    ss_enc_gone(&e, w->height); /* re-pinned since the offer: the client asks again */
  } else {
    n->ss_req_at = mono(n);
    if (w->kind == SS_MANIFEST_REQ)
      serve_manifest_locked(n, from, w->height, &e);
    else
      serve_chunk_locked(n, from, w, &e);
  }
  pthread_mutex_unlock(&n->ssmu);
  if (e.len) send_enc(n, from, &e);
  else enc_free(&e);
  free(w);
}

void statesync_on_msg(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len) {
  node *n = ctx;
  (void)type;
  uint8_t kind = len >= 2 ? p[1] : 0;
  if (kind == SS_OFFER_REQ || kind == SS_MANIFEST_REQ || kind == SS_CHUNK_REQ) {
    serve(n, from, p, len);
    return;
  }
  /* A response: the client's, while it runs (it checks everything itself);
   * late ones after it ended are dropped. */
  pthread_mutex_lock(&n->ssmu);
  int queued = 0;
  if (n->ss_active && n->ss_in_bytes + len <= SS_INBOX_MAX) {
    struct ss_inmsg *m = malloc(sizeof *m + len);
    if (m) {
      m->next = NULL;
      snprintf(m->from, sizeof m->from, "%s", from);
      m->len = len;
      memcpy(m->data, p, len);
      if (n->ss_in_tail)
        n->ss_in_tail->next = m;
      else
        n->ss_in = m;
      n->ss_in_tail = m;
      n->ss_in_bytes += len;
      queued = 1;
      pthread_cond_signal(&n->sscv);
    }
  }
  int active = n->ss_active;
  pthread_mutex_unlock(&n->ssmu);
  if (active && !queued) node_refuse(n, &n->ss_bad, "snapshot message", from, "state sync inbox full");
}

/* ---- the client (consensus thread) -------------------------------------- */

static void publish(node *n, ss_client *c) {
  pthread_mutex_lock(&n->ssmu);
  ss_progress_get(c, &n->ss_prog);
  pthread_mutex_unlock(&n->ssmu);
}

static void set_last(node *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_last(node *n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pthread_mutex_lock(&n->ssmu);
  vsnprintf(n->ss_last, sizeof n->ss_last, fmt, ap);
  pthread_mutex_unlock(&n->ssmu);
  va_end(ap);
}

/* The validator set in force after the installed (not yet committed)
 * state: a write set reads the latest state, the chunks written. */
static cx_err installed_validators(node *n, cx_pubkey *keys, size_t *nk) {
  cx_member *vals = malloc(CX_MAX_VALIDATORS * sizeof *vals);
  store_ws *ws = store_ws_new(n->st);
  cx_err e = CX_E_NOMEM;
  *nk = 0;
  if (vals && ws) {
    vm_state vs = node_ws_state(ws);
    size_t k = 0;
    e = vm_validators(&vs, vals, CX_MAX_VALIDATORS, &k);
    for (size_t i = 0; !e && i < k; i++) keys[i] = vals[i].key;
    if (!e) *nk = k;
  }
  store_ws_free(ws);
  free(vals);
  return e;
}

/* Carries out the client's actions; 1 once it is done (installed or fell back). */
static int drain(node *n, ss_client *c) {
  ss_action a;
  int over = 0;
  char err[256];
  cx_err e;
  while (!over && ss_next(c, &a)) {
    switch (a.type) {
      case SS_ACT_SEND: {
        cx_err r = net_send(n->net, a.peer, NET_MSG_SNAP, a.msg, a.len);
        if (r) LOG_D("node", "state sync: message to %s dropped: %s", a.peer, cx_err_name(r));
        break;
      }
      case SS_ACT_REFUSE:
        LOG_W("node", "state sync: snapshot from %s refused: %s", a.peer, a.why);
        break;
      case SS_ACT_BEGIN:
        LOG_I("node", "state sync: fetching the snapshot of height %llu",
              (unsigned long long)a.height);
        if ((e = store_install_begin(n->st, a.height))) {
          snprintf(err, sizeof err, "cannot begin the install: %s", cx_err_str(e));
          ss_fail(c, err); /* invalidates a */
        }
        break;
      case SS_ACT_WRITE:
        if ((e = store_install_chunk(n->st, a.chunk, a.ents, a.n))) {
          snprintf(err, sizeof err, "cannot write chunk %u: %s", (unsigned)a.chunk, cx_err_str(e));
          ss_fail(c, err);
        }
        break;
      case SS_ACT_VALIDATORS: {
        cx_pubkey keys[CX_MAX_VALIDATORS];
        size_t nk = 0;
        e = installed_validators(n, keys, &nk);
        ss_on_validators(c, keys, nk, e, mono(n));
        break;
      }
      case SS_ACT_FINISH:
        err[0] = 0;
        e = store_install_finish(n->st, a.height, &a.block_hash, &a.parent, &a.root, a.block,
                                 a.block_len, a.cert, a.cert_len, err, sizeof err);
        ss_on_finished(c, e, err);
        break;
      case SS_ACT_ABORT:
        if ((e = store_install_abort(n->st))) {
          /* the install marker stays: the next start puts the height-0 state back */
          host_fatal(n, e, "cannot undo a snapshot install");
          return 1;
        }
        break;
      case SS_ACT_DONE:
        if ((e = node_reload_state(n, err, sizeof err))) {
          LOG_E("node", "state sync: %s", err);
          host_fatal(n, e, "cannot reload after a snapshot install");
          return 1;
        }
        __atomic_store_n(&n->ss_installed, a.height, __ATOMIC_RELAXED);
        LOG_I("node", "state sync: installed the snapshot of height %llu; block sync from %llu",
              (unsigned long long)a.height, (unsigned long long)a.height + 1);
        set_last(n, "installed the snapshot of height %llu", (unsigned long long)a.height);
        over = 1;
        break;
      case SS_ACT_FALLBACK:
        LOG_W("node", "state sync: no usable snapshot (%s); falling back to block sync", a.why);
        set_last(n, "no usable snapshot (%s): block sync", a.why);
        over = 1;
        break;
    }
  }
  publish(n, c);
  return over;
}

/* The genesis validators (the trusted set, in signer order: the store is at
 * height 0, so its state is the genesis state) and the peers to ask: every
 * other validator with an address. */
static cx_err trusted_and_peers(node *n, cx_pubkey *keys, size_t *nk, char (*names)[CX_NAME_MAX + 1],
                                size_t *np) {
  cx_member *vals = malloc(CX_MAX_VALIDATORS * sizeof *vals);
  if (!vals) return CX_E_NOMEM;
  size_t k = 0;
  cx_err e = vm_validators(&n->ro, vals, CX_MAX_VALIDATORS, &k);
  *nk = *np = 0;
  for (size_t i = 0; !e && i < k; i++) {
    keys[(*nk)++] = vals[i].key;
    if (strcmp(vals[i].name, n->cfg.name) != 0 && vals[i].address[0])
      snprintf(names[(*np)++], CX_NAME_MAX + 1, "%s", vals[i].name);
  }
  free(vals);
  return e;
}

static void inbox_free(node *n) {
  pthread_mutex_lock(&n->ssmu);
  struct ss_inmsg *m = n->ss_in;
  n->ss_in = n->ss_in_tail = NULL;
  n->ss_in_bytes = 0;
  __atomic_store_n(&n->ss_active, 0, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&n->ssmu);
  while (m) {
    struct ss_inmsg *x = m->next;
    free(m);
    m = x;
  }
}

static int stopping(node *n) {
  pthread_mutex_lock(&n->mu);
  int s = n->stop;
  pthread_mutex_unlock(&n->mu);
  return s || node_failed(n);
}

static void run_client(node *n) {
  cx_pubkey keys[CX_MAX_VALIDATORS];
  char names[CX_MAX_VALIDATORS][CX_NAME_MAX + 1];
  const char *peers[CX_MAX_VALIDATORS];
  size_t nk = 0, np = 0;
  cx_err e = trusted_and_peers(n, keys, &nk, names, &np);
  if (e || nk == 0) {
    LOG_W("node", "state sync: no usable snapshot (the genesis validators cannot be read: %s); "
          "falling back to block sync", cx_err_name(e ? e : CX_E_NOT_FOUND));
    return;
  }
  if (np == 0) { /* a single validator, or nobody has an address: nothing to ask */
    LOG_I("node", "state sync: no peer to ask; block sync");
    set_last(n, "no peer to ask: block sync");
    return;
  }
  for (size_t i = 0; i < np; i++) peers[i] = names[i];
  ss_config sc = {.chain_id = n->chain_id, .trusted = keys, .ntrusted = nk,
                  .min_height = n->cfg.statesync_min_height, .offer_wait_ms = n->cfg.statesync_wait_ms,
                  .req_timeout_ms = SS_REQ_TIMEOUT_MS, .inflight = SS_INFLIGHT,
                  .max_restarts = SS_MAX_RESTARTS};
  ss_client *c = ss_new(&sc);
  if (!c) {
    LOG_W("node", "state sync: no usable snapshot (out of memory); falling back to block sync");
    return;
  }
  pthread_mutex_lock(&n->ssmu);
  n->ss_ran = 1;
  pthread_mutex_unlock(&n->ssmu);
  LOG_I("node", "state sync: store at height 0, asking %zu peers for a snapshot", np);
  ss_start(c, peers, np, mono(n));
  int over = drain(n, c);
  while (!over) {
    if (stopping(n)) {
      ss_fail(c, "the node is stopping");
      drain(n, c); /* undoes a partial install */
      break;
    }
    pthread_mutex_lock(&n->ssmu);
    if (!n->ss_in) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += SS_TICK_MS * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&n->sscv, &n->ssmu, &ts);
    }
    struct ss_inmsg *m = n->ss_in;
    n->ss_in = n->ss_in_tail = NULL;
    n->ss_in_bytes = 0;
    pthread_mutex_unlock(&n->ssmu);
    while (m && !over) {
      struct ss_inmsg *x = m->next;
      ss_on_msg(c, m->from, m->data, m->len, mono(n));
      free(m);
      m = x;
      over = drain(n, c);
    }
    while (m) { /* after the end: dropped */
      struct ss_inmsg *x = m->next;
      free(m);
      m = x;
    }
    if (!over) {
      ss_tick(c, mono(n));
      over = drain(n, c);
    }
  }
  ss_free(c);
}

void *statesync_cs_main(void *arg) {
  log_thread_name("cx-consensus");
  node *n = arg;
  if (__atomic_load_n(&n->ss_active, __ATOMIC_ACQUIRE)) {
    run_client(n);
    inbox_free(n);
  }
  /* the engine starts only now: a commit interval from here */
  n->last_commit_mono = mono(n);
  return host_cs_main(n);
}

void node_statesync_status(node *n, node_ss_stats *out) {
  memset(out, 0, sizeof *out);
  out->enabled = n->cfg.statesync_enabled;
  out->installed = __atomic_load_n(&n->ss_installed, __ATOMIC_RELAXED);
  out->served = __atomic_load_n(&n->ss_served, __ATOMIC_RELAXED);
  out->bad = __atomic_load_n(&n->ss_bad, __ATOMIC_RELAXED);
  if (!n->ss_ready) return;
  pthread_mutex_lock(&n->ssmu);
  out->active = n->ss_active;
  out->ran = n->ss_ran;
  out->prog = n->ss_prog;
  out->pinned = n->ss_pin ? store_snap_info_of(n->ss_pin)->height : 0;
  snprintf(out->last, sizeof out->last, "%s", n->ss_last);
  pthread_mutex_unlock(&n->ssmu);
}
