/* Transaction gossip (node/gossip.c, node_on_gossip in node/node.c;
 * docs/net.md, "Transaction gossip"):
 *  - gossip_decode: batches of 1, several and GOSSIP_MAX_TXS entries, each
 *    range checked against the input; every refusal with its code and a
 *    reason, nothing delimited after one;
 *  - the outgoing batch: closed on size (bytes and entry count), on time
 *    (never before flush_us after its first entry), on flush and on stop;
 *    entries in the order they were appended, batches in the order they
 *    were closed, also with 4 threads appending at once;
 *  - admission of gossiped transactions on an in-process node: a
 *    transaction whose rule fails is refused to a client (the dry run) but
 *    admitted from a peer (no dry run); duplicates, bad signatures, another
 *    chain and malformed messages are counted as before. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "genesis.h"
#include "gossip.h"
#include "keystore.h"
#include "log.h"
#include "mempool.h"
#include "node.h"
#include "node_internal.h"
#include "nodeutil.h"
#include "testutil.h"

static gossip_wire *g_w;

static void wire_setup(void) { g_w = malloc(sizeof *g_w); }
static void wire_teardown(void) { free(g_w); }

/* A message: version, count (as given), then the entries (each a varint
 * length and len[i] bytes of value i + 1). */
static uint8_t *build(uint8_t ver, uint64_t count, const size_t *len, size_t nent, size_t *out_len) {
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, ver);
  enc_varint(&e, count);
  for (size_t i = 0; i < nent; i++) {
    enc_varint(&e, len[i]);
    for (size_t k = 0; k < len[i]; k++) enc_u8(&e, (uint8_t)(i + 1));
  }
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  return enc_take(&e, out_len);
}

static void refused(const uint8_t *p, size_t len, cx_err want, const char *why) {
  node_refusal r = {NULL, NULL};
  g_w->count = 99;
  cx_err e = gossip_decode(p, len, g_w, &r);
  ck_assert_msg(e == want, "want %s, got %s (%s)", cx_err_name(want), cx_err_name(e),
                r.why ? r.why : "-");
  ck_assert_uint_eq(g_w->count, 0);
  ck_assert_ptr_nonnull(r.what);
  ck_assert_str_eq(r.what, "transaction gossip");
  ck_assert_ptr_nonnull(r.why);
  ck_assert_msg(strstr(r.why, why), "reason '%s', want '%s'", r.why, why);
}

START_TEST(decode_accepts) {
  size_t lens[3] = {1, 300, CX_TX_MAX_BYTES}, ml;
  for (size_t n = 1; n <= 3; n++) {
    uint8_t *m = build(GOSSIP_WIRE_VERSION, n, lens, n, &ml);
    node_refusal r = {NULL, NULL};
    ck_assert_int_eq(gossip_decode(m, ml, g_w, &r), CX_OK);
    ck_assert_uint_eq(g_w->count, n);
    const uint8_t *at = m + 2; /* version, count: one byte each here */
    for (size_t i = 0; i < n; i++) {
      at += lens[i] < 128 ? 1 : lens[i] < 16384 ? 2 : 3;
      ck_assert_ptr_eq(g_w->tx[i].p, at);
      ck_assert_uint_eq(g_w->tx[i].len, lens[i]);
      for (size_t k = 0; k < lens[i]; k++) ck_assert_uint_eq(g_w->tx[i].p[k], i + 1);
      at += lens[i];
    }
    ck_assert_ptr_eq(at, m + ml);
    free(m);
  }
  /* the largest count a receiver takes */
  size_t *many = malloc(GOSSIP_MAX_TXS * sizeof *many);
  for (size_t i = 0; i < GOSSIP_MAX_TXS; i++) many[i] = 1 + i % 7;
  uint8_t *m = build(GOSSIP_WIRE_VERSION, GOSSIP_MAX_TXS, many, GOSSIP_MAX_TXS, &ml);
  ck_assert_int_eq(gossip_decode(m, ml, g_w, NULL), CX_OK);
  ck_assert_uint_eq(g_w->count, GOSSIP_MAX_TXS);
  ck_assert_uint_eq(g_w->tx[GOSSIP_MAX_TXS - 1].len, 1 + (GOSSIP_MAX_TXS - 1) % 7);
  ck_assert_ptr_eq(g_w->tx[GOSSIP_MAX_TXS - 1].p + g_w->tx[GOSSIP_MAX_TXS - 1].len, m + ml);
  free(m);
  free(many);
}
END_TEST

START_TEST(decode_refuses) {
  size_t lens[2] = {5, 7}, ml;
  uint8_t *m;
  refused((const uint8_t *)"", 0, CX_E_TRUNCATED, "empty message");
  /* a bare transaction (the payload before batching) starts with CX_TX_VERSION */
  m = build(CX_TX_VERSION, 2, lens, 2, &ml);
  refused(m, ml, CX_E_BAD_VERSION, "unknown version");
  free(m);
  m = build(GOSSIP_WIRE_VERSION + 1, 2, lens, 2, &ml);
  refused(m, ml, CX_E_BAD_VERSION, "unknown version");
  free(m);
  uint8_t only_ver[1] = {GOSSIP_WIRE_VERSION};
  refused(only_ver, 1, CX_E_TRUNCATED, "bad count");
  uint8_t noncanon[4] = {GOSSIP_WIRE_VERSION, 0x81, 0x00, 0x00}; /* 1 in two bytes */
  refused(noncanon, sizeof noncanon, CX_E_NONCANONICAL, "bad count");
  m = build(GOSSIP_WIRE_VERSION, 0, lens, 0, &ml);
  refused(m, ml, CX_E_INVALID_ARG, "no transaction");
  free(m);
  m = build(GOSSIP_WIRE_VERSION, GOSSIP_MAX_TXS + 1, lens, 2, &ml);
  refused(m, ml, CX_E_TOO_LONG, "too many transactions");
  free(m);
  /* fewer entries than announced; an entry cut short */
  m = build(GOSSIP_WIRE_VERSION, 3, lens, 2, &ml);
  refused(m, ml, CX_E_TRUNCATED, "bad entry");
  refused(m, ml - 3, CX_E_TRUNCATED, "bad entry");
  free(m);
  size_t zero[2] = {5, 0};
  m = build(GOSSIP_WIRE_VERSION, 2, zero, 2, &ml);
  refused(m, ml, CX_E_INVALID_ARG, "empty transaction");
  free(m);
  size_t big[1] = {CX_TX_MAX_BYTES + 1};
  m = build(GOSSIP_WIRE_VERSION, 1, big, 1, &ml);
  refused(m, ml, CX_E_TOO_LONG, "transaction over the size cap");
  free(m);
  /* more entries than announced: trailing bytes */
  m = build(GOSSIP_WIRE_VERSION, 1, lens, 2, &ml);
  refused(m, ml, CX_E_TRAILING, "trailing bytes");
  free(m);
  /* over the message cap, refused before anything is read */
  uint8_t *huge = calloc(1, GOSSIP_MSG_MAX + 1);
  huge[0] = GOSSIP_WIRE_VERSION;
  refused(huge, GOSSIP_MSG_MAX + 1, CX_E_TOO_LONG, "message over the size cap");
  free(huge);
}
END_TEST

/* ---- the outgoing batch ---- */

typedef struct {
  pthread_mutex_t mu;
  size_t nmsg;
  size_t counts[4096];   /* entries per message */
  uint8_t *msgs[4096];   /* copies */
  size_t lens[4096];
  struct timespec at[4096];
  uint64_t bad;          /* a message that did not decode */
  /* order check (concurrent test): last sequence seen per writer */
  int track;
  long last[8];
  uint64_t order_errors, total;
  gossip_wire *w;
} sink;

static void sink_init(sink *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  s->w = malloc(sizeof *s->w);
  for (int i = 0; i < 8; i++) s->last[i] = -1;
}

static void sink_free(sink *s) {
  for (size_t i = 0; i < s->nmsg; i++) free(s->msgs[i]);
  free(s->w);
  pthread_mutex_destroy(&s->mu);
}

static void sink_send(void *ctx, const uint8_t *msg, size_t len) {
  sink *s = ctx;
  pthread_mutex_lock(&s->mu);
  if (gossip_decode(msg, len, s->w, NULL) != CX_OK) {
    s->bad++;
  } else if (s->nmsg < 4096) {
    size_t i = s->nmsg++;
    clock_gettime(CLOCK_MONOTONIC, &s->at[i]);
    s->counts[i] = s->w->count;
    s->msgs[i] = malloc(len);
    memcpy(s->msgs[i], msg, len);
    s->lens[i] = len;
  }
  if (s->track && s->w->count) {
    /* entries are "writer:sequence" records of 8 bytes (+ padding) */
    for (size_t k = 0; k < s->w->count; k++) {
      const uint8_t *p = s->w->tx[k].p;
      int wr = p[0];
      long seq = (long)get_be32(p + 1);
      if (wr >= 8 || seq != s->last[wr] + 1) s->order_errors++;
      if (wr < 8) s->last[wr] = seq;
      s->total++;
    }
  }
  pthread_mutex_unlock(&s->mu);
}

static size_t sink_count(sink *s) {
  pthread_mutex_lock(&s->mu);
  size_t n = s->nmsg;
  pthread_mutex_unlock(&s->mu);
  return n;
}

/* Entry k of message i of the sink. */
static void sink_entry(sink *s, size_t i, size_t k, const uint8_t **p, size_t *len) {
  ck_assert_int_eq(gossip_decode(s->msgs[i], s->lens[i], s->w, NULL), CX_OK);
  ck_assert_uint_lt(k, s->w->count);
  *p = s->w->tx[k].p;
  *len = s->w->tx[k].len;
}

static double ms_between(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* A transaction-sized blob: its bytes are its tag. */
static uint8_t *blob(size_t len, uint8_t tag) {
  uint8_t *b = malloc(len);
  memset(b, tag, len);
  return b;
}

START_TEST(batch_on_size) {
  sink s;
  sink_init(&s);
  gossip_batcher *b = NULL;
  /* the smallest byte cap: two 40000-byte entries fit, a third does not */
  gossip_config c = {.max_bytes = CX_TX_MAX_BYTES + 16, .flush_us = 60u * 1000000u,
                     .send = sink_send, .ctx = &s};
  ck_assert_int_eq(gossip_start(&c, &b), CX_OK);
  for (uint8_t t = 1; t <= 5; t++) {
    uint8_t *x = blob(40000, t);
    ck_assert_int_eq(gossip_add(b, x, 40000), CX_OK);
    free(x);
  }
  /* the 3rd and 5th additions sent the full batch before them */
  ck_assert_uint_eq(sink_count(&s), 2);
  ck_assert_uint_eq(s.counts[0], 2);
  ck_assert_uint_eq(s.counts[1], 2);
  ck_assert_uint_le(s.lens[0], c.max_bytes);
  gossip_flush(b);
  ck_assert_uint_eq(sink_count(&s), 3);
  ck_assert_uint_eq(s.counts[2], 1);
  gossip_flush(b); /* nothing open: nothing sent */
  ck_assert_uint_eq(sink_count(&s), 3);
  /* entries in the order they were added */
  uint8_t want = 1;
  for (size_t i = 0; i < 3; i++)
    for (size_t k = 0; k < s.counts[i]; k++) {
      const uint8_t *p;
      size_t len;
      sink_entry(&s, i, k, &p, &len);
      ck_assert_uint_eq(len, 40000);
      ck_assert_uint_eq(p[0], want);
      ck_assert_uint_eq(p[len - 1], want);
      want++;
    }
  gossip_stats st;
  gossip_stats_get(b, &st);
  ck_assert_uint_eq(st.batches, 3);
  ck_assert_uint_eq(st.txs, 5);
  ck_assert_uint_eq(st.on_size, 2);
  ck_assert_uint_eq(st.on_close, 1);
  ck_assert_uint_eq(st.on_time, 0);

  /* one transaction of the largest size fits an empty batch */
  uint8_t *x = blob(CX_TX_MAX_BYTES, 9);
  ck_assert_int_eq(gossip_add(b, x, CX_TX_MAX_BYTES), CX_OK);
  free(x);
  ck_assert_int_eq(gossip_add(b, (const uint8_t *)"", 0), CX_E_INVALID_ARG);
  x = blob(CX_TX_MAX_BYTES + 1, 9);
  ck_assert_int_eq(gossip_add(b, x, CX_TX_MAX_BYTES + 1), CX_E_INVALID_ARG);
  free(x);
  gossip_stop(b); /* sends what is open */
  ck_assert_uint_eq(sink_count(&s), 4);
  ck_assert_uint_eq(s.counts[3], 1);
  ck_assert_uint_eq(s.bad, 0);
  sink_free(&s);
}
END_TEST

START_TEST(batch_on_count) {
  sink s;
  sink_init(&s);
  gossip_batcher *b = NULL;
  gossip_config c = {.max_txs = 3, .flush_us = 60u * 1000000u, .send = sink_send, .ctx = &s};
  ck_assert_int_eq(gossip_start(&c, &b), CX_OK);
  for (uint8_t t = 1; t <= 7; t++) {
    uint8_t x[100];
    memset(x, t, sizeof x);
    ck_assert_int_eq(gossip_add(b, x, sizeof x), CX_OK);
    /* a batch that reached max_txs leaves at once, by the adding thread */
    ck_assert_uint_eq(sink_count(&s), t / 3);
  }
  ck_assert_uint_eq(s.counts[0], 3);
  ck_assert_uint_eq(s.counts[1], 3);
  gossip_stop(b);
  ck_assert_uint_eq(sink_count(&s), 3);
  ck_assert_uint_eq(s.counts[2], 1);
  sink_free(&s);
}
END_TEST

START_TEST(batch_on_time) {
  sink s;
  sink_init(&s);
  gossip_batcher *b = NULL;
  const uint32_t flush_ms = 300;
  gossip_config c = {.flush_us = flush_ms * 1000u, .send = sink_send, .ctx = &s};
  ck_assert_int_eq(gossip_start(&c, &b), CX_OK);
  for (int round = 0; round < 2; round++) {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* three entries added together leave together, after flush_ms */
    for (uint8_t t = 1; t <= 3; t++) {
      uint8_t x[200];
      memset(x, t, sizeof x);
      ck_assert_int_eq(gossip_add(b, x, sizeof x), CX_OK);
    }
    ck_assert_uint_eq(sink_count(&s), (size_t)round); /* not yet */
    for (int i = 0; i < 500 && sink_count(&s) == (size_t)round; i++) {
      struct timespec d = {0, 10 * 1000000L};
      nanosleep(&d, NULL);
    }
    ck_assert_uint_eq(sink_count(&s), (size_t)round + 1);
    ck_assert_uint_eq(s.counts[round], 3);
    double waited = ms_between(&t0, &s.at[round]);
    ck_assert_msg(waited >= flush_ms - 1, "sent after %.1f ms, before %u ms", waited, flush_ms);
  }
  gossip_stats st;
  gossip_stats_get(b, &st);
  ck_assert_uint_eq(st.on_time, 2);
  ck_assert_uint_eq(st.batches, 2);
  gossip_stop(b);
  ck_assert_uint_eq(sink_count(&s), 2); /* nothing was open */
  sink_free(&s);
}
END_TEST

/* 4 writers at once, with the byte cap, the count cap and a 1 ms timer all
 * closing batches: every writer's entries arrive exactly once and in its
 * order. */
typedef struct {
  gossip_batcher *b;
  int id;
  int n;
} writer;

static void *write_main(void *arg) {
  writer *w = arg;
  uint8_t x[1000];
  for (int i = 0; i < w->n; i++) {
    size_t len = 5 + (size_t)(i * 37 % 900);
    memset(x, 0xee, sizeof x);
    x[0] = (uint8_t)w->id;
    put_be32(x + 1, (uint32_t)i);
    if (gossip_add(w->b, x, len) != CX_OK) return (void *)1;
  }
  return NULL;
}

START_TEST(batch_order_concurrent) {
  sink s;
  sink_init(&s);
  s.track = 1;
  gossip_batcher *b = NULL;
  gossip_config c = {.max_bytes = CX_TX_MAX_BYTES + 16, .max_txs = 50, .flush_us = 1000,
                     .send = sink_send, .ctx = &s};
  ck_assert_int_eq(gossip_start(&c, &b), CX_OK);
  pthread_t th[4];
  writer w[4];
  for (int i = 0; i < 4; i++) {
    w[i] = (writer){b, i, 3000};
    ck_assert_int_eq(pthread_create(&th[i], NULL, write_main, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    void *rv;
    pthread_join(th[i], &rv);
    ck_assert_ptr_null(rv);
  }
  gossip_stop(b);
  ck_assert_uint_eq(s.bad, 0);
  ck_assert_uint_eq(s.order_errors, 0);
  ck_assert_uint_eq(s.total, 12000);
  for (int i = 0; i < 4; i++) ck_assert_int_eq(s.last[i], 2999);
  sink_free(&s);
}
END_TEST

START_TEST(batch_config) {
  sink s;
  sink_init(&s);
  gossip_batcher *b = (gossip_batcher *)&s;
  gossip_config c = {.send = sink_send, .ctx = &s};
  c.max_bytes = CX_TX_MAX_BYTES + 15;
  ck_assert_int_eq(gossip_start(&c, &b), CX_E_CONFIG);
  ck_assert_ptr_null(b);
  c.max_bytes = GOSSIP_MSG_MAX + 1;
  ck_assert_int_eq(gossip_start(&c, &b), CX_E_CONFIG);
  c.max_bytes = 0;
  c.max_txs = GOSSIP_MAX_TXS + 1;
  ck_assert_int_eq(gossip_start(&c, &b), CX_E_CONFIG);
  c.max_txs = 0;
  c.send = NULL;
  ck_assert_int_eq(gossip_start(&c, &b), CX_E_CONFIG);
  c.send = sink_send;
  ck_assert_int_eq(gossip_start(&c, &b), CX_OK);
  gossip_stop(b);
  gossip_stop(NULL);
  ck_assert_uint_eq(sink_count(&s), 0);
  sink_free(&s);
}
END_TEST

/* ---- admission of gossiped transactions (in-process node) ---- */

static char *g_dir;
static node *g_node;
static keystore_keys g_bureau, g_subject;

static void node_setup(void) {
  char err[256] = "";
  log_set_level(LOG_ERROR);
  g_dir = tu_tmpdir("gossip");
  ck_assert_int_eq(keystore_generate(&g_bureau), CX_OK);
  ck_assert_int_eq(keystore_generate(&g_subject), CX_OK);
  nu_keystore_save(g_dir, &g_bureau);
  cx_member m[1];
  nu_member(&m[0], "hrss", ROLE_BUREAU, &g_bureau, "tcp://127.0.0.1:1", "hrss");
  nu_genesis_write(g_dir, "gossiptest", m, 1);
  node_config cfg;
  nu_config(&cfg, g_dir, "hrss");
  ck_assert_msg(node_open(&cfg, &g_node, err, sizeof err) == CX_OK, "node_open: %s", err);
}

static void node_teardown(void) {
  node_close(g_node);
  keystore_keys_free(&g_bureau);
  keystore_keys_free(&g_subject);
  tu_rmrf(g_dir);
  free(g_dir);
}

/* A signed transaction of the subject: an identity registration (valid),
 * or an attestation (its rule fails: the subject is no bureau). */
static uint8_t *subject_tx(int attest, uint64_t nonce, int other_chain, size_t *len) {
  cx_tx tx;
  uint8_t *raw = NULL;
  tx_init(&tx);
  tx.type = attest ? TX_ID_ATTEST : TX_ID_REGISTER;
  if (attest) {
    tu_randbytes(tx.u.attest.did.b, 32);
    tx.u.attest.level = 1;
  } else {
    tu_randbytes(tx.u.reg.did.b, 32);
  }
  node_chain_id(g_node, &tx.chain_id);
  if (other_chain) tx.chain_id.b[0] ^= 1;
  tx.nonce = nonce;
  ck_assert_int_eq(tx_sign(&tx, g_subject.sign), CX_OK);
  ck_assert_int_eq(tx_encode(&tx, 1, &raw, len), CX_OK);
  tx_clear(&tx);
  return raw;
}

/* The NET_MSG_TX payload carrying these transactions. */
static uint8_t *batch_of(uint8_t *const *tx, const size_t *len, size_t n, size_t *ml) {
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, GOSSIP_WIRE_VERSION);
  enc_varint(&e, n);
  for (size_t i = 0; i < n; i++) enc_bytes(&e, tx[i], len[i]);
  ck_assert_int_eq(enc_finish(&e), CX_OK);
  return enc_take(&e, ml);
}

static void stats_are(uint64_t in, uint64_t dup, uint64_t bad) {
  uint64_t a, d, r;
  node_gossip_stats(g_node, &a, &d, &r);
  ck_assert_uint_eq(a, in);
  ck_assert_uint_eq(d, dup);
  ck_assert_uint_eq(r, bad);
}

static int pending(const uint8_t *raw, size_t len) {
  cx_hash id;
  tx_id_of_bytes(raw, len, &id);
  return mempool_has(node_mempool(g_node), &id);
}

START_TEST(gossip_skips_the_dry_run) {
  size_t len;
  uint8_t *att = subject_tx(1, 0, 0, &len);
  cx_hash id;
  char detail[128] = "";
  /* a client is told at once: the rule fails against the committed state */
  cx_err e = node_submit(g_node, att, len, &id, detail, sizeof detail);
  ck_assert_msg(e != CX_OK && e != CX_E_BAD_SIG && e != CX_E_DUPLICATE, "client submit: %s",
                cx_err_name(e));
  ck_assert(!pending(att, len));
  /* from a peer, the same bytes are admitted (the block's receipt refuses it) */
  size_t ml;
  uint8_t *m = batch_of(&att, &len, 1, &ml);
  node_on_gossip(g_node, "peer", NET_MSG_TX, m, ml);
  stats_are(1, 0, 0);
  ck_assert(pending(att, len));
  /* the same message again: a duplicate, counted as such */
  node_on_gossip(g_node, "peer", NET_MSG_TX, m, ml);
  stats_are(1, 1, 0);
  free(m);
  free(att);
}
END_TEST

START_TEST(gossip_keeps_the_other_checks) {
  uint8_t *tx[5];
  size_t len[5];
  tx[0] = subject_tx(0, 0, 0, &len[0]); /* valid */
  tx[1] = subject_tx(0, 1, 0, &len[1]); /* valid, next nonce */
  tx[2] = subject_tx(0, 2, 1, &len[2]); /* another chain */
  tx[3] = subject_tx(0, 3, 0, &len[3]); /* bad signature (flipped below) */
  tx[3][len[3] - 1] ^= 1;
  tx[4] = subject_tx(0, 0, 0, &len[4]); /* nonce 0 again: that slot is taken */
  size_t ml;
  uint8_t *m = batch_of(tx, len, 5, &ml);
  node_on_gossip(g_node, "peer", NET_MSG_TX, m, ml);
  stats_are(2, 1, 2);
  ck_assert(pending(tx[0], len[0]));
  ck_assert(pending(tx[1], len[1]));
  for (int i = 2; i < 5; i++) ck_assert(!pending(tx[i], len[i]));
  /* a message that does not decode is refused whole, counted once */
  node_on_gossip(g_node, "peer", NET_MSG_TX, m, ml - 1); /* cut: does not decode */
  stats_are(2, 1, 3);
  node_on_gossip(g_node, "peer", NET_MSG_TX, tx[0], len[0]); /* a bare transaction */
  stats_are(2, 1, 4);
  /* the nonce window still holds: far ahead is refused */
  size_t fl;
  uint8_t *far = subject_tx(0, 1u << 20, 0, &fl);
  uint8_t *fm = batch_of(&far, &fl, 1, &ml);
  node_on_gossip(g_node, "peer", NET_MSG_TX, fm, ml);
  stats_are(2, 1, 5);
  free(fm);
  free(far);
  free(m);
  for (int i = 0; i < 5; i++) free(tx[i]);
}
END_TEST

/* Admission asks the mempool before it verifies a signature (node.c
 * admit): a transaction the mempool would refuse is refused for that, so a
 * full mempool costs no verification. Visible with a forged transaction
 * for a (sender, nonce) already pending: refused as a duplicate, not as a
 * bad signature; on a free slot the signature is still checked. */
START_TEST(mempool_refusal_before_the_signature) {
  size_t l0, l1, l2;
  uint8_t *ok = subject_tx(0, 0, 0, &l0), *forged = subject_tx(0, 0, 0, &l1),
          *forged_free = subject_tx(0, 1, 0, &l2);
  forged[l1 - 1] ^= 1;
  forged_free[l2 - 1] ^= 1;
  cx_hash id;
  char detail[128] = "";
  ck_assert_int_eq(node_submit(g_node, ok, l0, &id, detail, sizeof detail), CX_OK);
  ck_assert_int_eq(node_submit(g_node, forged, l1, &id, detail, sizeof detail), CX_E_DUPLICATE);
  ck_assert_int_eq(node_submit(g_node, forged_free, l2, &id, detail, sizeof detail),
                   CX_E_BAD_SIG);
  ck_assert(!pending(forged, l1) && !pending(forged_free, l2));
  free(ok);
  free(forged);
  free(forged_free);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("gossip");
  TCase *tc = tcase_create("wire");
  tcase_add_checked_fixture(tc, wire_setup, wire_teardown);
  tcase_add_test(tc, decode_accepts);
  tcase_add_test(tc, decode_refuses);
  suite_add_tcase(s, tc);
  tc = tcase_create("batch");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, batch_on_size);
  tcase_add_test(tc, batch_on_count);
  tcase_add_test(tc, batch_on_time);
  tcase_add_test(tc, batch_order_concurrent);
  tcase_add_test(tc, batch_config);
  suite_add_tcase(s, tc);
  tc = tcase_create("admission");
  tcase_add_checked_fixture(tc, node_setup, node_teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, gossip_skips_the_dry_run);
  tcase_add_test(tc, gossip_keeps_the_other_checks);
  tcase_add_test(tc, mempool_refusal_before_the_signature);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return tu_run(suite()); }
