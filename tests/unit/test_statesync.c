/* Tests for the state sync client (node/statesync.c, docs/statesync.md),
 * driven as the pure state machine it is: fake peers serve a real pinned
 * snapshot of a source store (storage/store.h) through the real wire
 * encoders, honestly or not, and the client's install actions go to a real
 * destination store. Cases: honest peers (every chunk checked, spread over
 * the peers, the installed root equal to the source's); a peer with bad
 * chunks (refused, named, banned, the chunks fetched elsewhere, the install
 * succeeds); a bad subtree hash in a manifest (refused, the next peer's
 * taken; every peer bad: fallback); a certificate of non-genesis keys, and
 * one with too few genesis signatures (trust refused, fallback); no offers,
 * silent peers, offers below min_height (fallback); every peer bad
 * (fallback, the install undone); garbled and oversized messages; a peer
 * that stops answering or says GONE; a validator set in the installed state
 * that does not verify the certificate (fallback, undone); the wire
 * decoder on every kind and on garbage. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block.h"
#include "codec.h"
#include "hash.h"
#include "keys.h"
#include "statesync.h"
#include "store.h"
#include "testutil.h"

#define NKEYS 4
#define NPEERS 3

static cx_hash g_chain = {{0xc4, 0xa1}};
static cx_seckey *g_sk[NKEYS], *g_other[NKEYS];
static cx_pubkey g_pk[NKEYS], g_opk[NKEYS];

/* ---- a source chain: a store with state, block H naming its root, and
 * certificates ---- */

static cx_err real_hasher(const uint8_t *blk, size_t len, cx_hash *hash, cx_hash *parent) {
  cx_block_header h;
  cx_err e = block_peek(blk, len, &h, hash);
  if (!e) *parent = h.parent;
  return e;
}

static store *open_store(const char *dir, int hasher) {
  store_opts o;
  memset(&o, 0, sizeof o);
  if (hasher) o.block_hasher = real_hasher;
  store *s = NULL;
  char err[256];
  cx_err e = store_open(dir, &o, &s, err, sizeof err);
  ck_assert_msg(e == CX_OK, "store_open: %s", err);
  return s;
}

typedef struct {
  char *dir;
  store *st;
  uint64_t height;
  uint8_t *block, *cert, *forged, *weak;
  size_t block_len, cert_len, forged_len, weak_len;
  cx_hash bh;
} source;

static void sign_cert(const cx_hash *bh, uint64_t height, cx_seckey **keys, unsigned nsig,
                      uint8_t **out, size_t *len) {
  cx_cert c;
  memset(&c, 0, sizeof c);
  c.height = height;
  c.view = 0;
  c.block_hash = *bh;
  cx_hash msg;
  vote_message(&g_chain, height, 0, bh, &msg);
  for (unsigned i = 0; i < nsig; i++) {
    c.votes[i].signer = (uint16_t)i;
    ck_assert_int_eq(key_sign32(keys[i], msg.b, NULL, &c.votes[i].sig), CX_OK);
  }
  c.nvotes = (uint16_t)nsig;
  ck_assert_int_eq(cert_encode(&c, out, len), CX_OK);
}

/* A store with `entries` state entries over a few dummy blocks, and block
 * H = its height + 1 as the certified block naming that state's root (the
 * store itself need not hold it: the peers serve it from here). */
static void source_make(source *src, int entries) {
  memset(src, 0, sizeof *src);
  src->dir = tu_tmpdir("sssrc");
  src->st = open_store(src->dir, 0);
  store_ws *ws = store_ws_new(src->st);
  char k[32];
  uint8_t v[600];
  for (int i = 0; i < entries; i++) {
    snprintf(k, sizeof k, "key-%d", i);
    size_t vl = (size_t)(i % 7 == 0 ? 500 : i % 13);
    tu_randbytes(v, vl);
    ck_assert_int_eq(store_ws_put(ws, (const uint8_t *)k, strlen(k), v, vl), CX_OK);
  }
  ck_assert_int_eq(store_init_genesis(src->st, ws, &g_chain), CX_OK);
  store_ws_free(ws);
  for (int b = 1; b <= 20; b++) { /* heights 1..20: dummy blocks, some writes */
    ws = store_ws_new(src->st);
    snprintf(k, sizeof k, "key-%d", b * 3);
    ck_assert_int_eq(store_ws_put(ws, (const uint8_t *)k, strlen(k), (const uint8_t *)"x", 1), CX_OK);
    cx_hash tip, h;
    store_tip_hash(src->st, &tip);
    uint8_t blk[40];
    memcpy(blk, tip.b, 32);
    memset(blk + 32, b, 8);
    hash_tagged(CX_TAG_BLOCK, blk, sizeof blk, &h);
    ck_assert_int_eq(store_commit(src->st, ws, (uint64_t)b, &h, &tip, blk, sizeof blk, NULL, 0, NULL, 0),
                     CX_OK);
  }
  src->height = store_height(src->st);
  cx_block b;
  block_init(&b);
  b.h.chain_id = g_chain;
  b.h.height = src->height;
  memset(b.h.parent.b, 0x5a, 32);
  b.h.time_ms = 1700000000000ull;
  b.h.proposer = g_pk[0];
  store_state_root(src->st, &b.h.state_root);
  ck_assert_int_eq(block_encode(&b, &src->block, &src->block_len), CX_OK);
  block_hash(&b.h, &src->bh);
  sign_cert(&src->bh, src->height, g_sk, 3, &src->cert, &src->cert_len);
  sign_cert(&src->bh, src->height, g_other, 4, &src->forged, &src->forged_len);
  sign_cert(&src->bh, src->height, g_sk, 1, &src->weak, &src->weak_len);
}

static void source_free(source *src) {
  store_close(src->st);
  tu_rmrf(src->dir);
  free(src->dir);
  free(src->block);
  free(src->cert);
  free(src->forged);
  free(src->weak);
}

/* ---- fake peers ---- */

typedef enum {
  P_HONEST = 0,
  P_NONE,        /* offers nothing */
  P_SILENT,      /* never answers anything */
  P_CHUNK,       /* flips a value byte in every page */
  P_ROOT,        /* a wrong subtree hash in the manifest */
  P_FORGED,      /* a certificate of non-genesis keys */
  P_WEAK,        /* a certificate with one genesis signature */
  P_GARBLE,      /* answers the offer request with garbage */
  P_OVERSIZE,    /* answers chunk requests with an oversized message */
  P_GONE,        /* answers chunk requests with GONE */
  P_MUTE_CHUNKS, /* answers everything but chunk requests */
  P_LOW,         /* offers a snapshot at height 3 */
  P_ORDER,       /* serves a chunk's entries out of order (when it has two) */
} pmode;

typedef struct {
  char name[16];
  pmode mode;
  source *src;
  store_snap *pin;
  unsigned chunks_served;
} fpeer;

typedef struct qmsg {
  struct qmsg *next;
  char from[16];
  uint8_t *p;
  size_t len;
} qmsg;

typedef struct {
  ss_client *c;
  fpeer peers[NPEERS];
  qmsg *q, *qt;
  store *dst;
  char *dst_dir;
  uint64_t now;
  int done, fallback, aborts, begins;
  uint64_t done_height;
  unsigned writes;
  char refused[16][300]; /* "peer: why" */
  int nrefused;
  char fb_why[240];
  int wrong_validators;  /* answer VALIDATORS with the other keys */
} harness;

static void qpush(harness *h, const char *from, cx_enc *e) {
  ck_assert_int_eq(enc_finish(e), CX_OK);
  qmsg *m = calloc(1, sizeof *m);
  ck_assert_ptr_nonnull(m);
  snprintf(m->from, sizeof m->from, "%s", from);
  m->p = enc_take(e, &m->len);
  if (h->qt) h->qt->next = m;
  else h->q = m;
  h->qt = m;
}

typedef struct {
  cx_enc body;
  uint64_t count;
  size_t value_at;
  store_kv first;
} fpage;

static void fpage_add(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  fpage *pg = ctx;
  enc_bytes(&pg->body, k, kl);
  enc_bytes(&pg->body, v, vl);
  if (vl && !pg->value_at) pg->value_at = pg->body.len - vl;
  pg->count++;
}

/* What a peer answers to a request. */
static void peer_serve(harness *h, fpeer *p, const uint8_t *msg, size_t len) {
  ss_wire *w = malloc(sizeof *w);
  ck_assert_ptr_nonnull(w);
  ck_assert_int_eq(ss_decode(msg, len, w, NULL), CX_OK); /* the client sends well-formed requests */
  source *src = p->src;
  const store_snap_info *in = store_snap_info_of(p->pin);
  cx_enc e;
  enc_init(&e);
  if (p->mode == P_SILENT) goto out;
  switch (w->kind) {
    case SS_OFFER_REQ:
      if (p->mode == P_GARBLE) {
        enc_fixed(&e, "\x01\x02\x01\xff\xff", 5);
      } else if (p->mode == P_NONE) {
        ss_enc_offer(&e, 0, 0, NULL, NULL);
      } else if (p->mode == P_LOW) {
        ss_enc_offer(&e, 1, 3, &src->bh, &in->root);
      } else {
        ss_enc_offer(&e, 1, src->height, &src->bh, &in->root);
      }
      break;
    case SS_MANIFEST_REQ: {
      cx_hash sub[SS_CHUNKS];
      memcpy(sub, in->subtrees, sizeof sub);
      if (p->mode == P_ROOT) sub[17].b[3] ^= 0x40;
      const uint8_t *cert = p->mode == P_FORGED ? src->forged : p->mode == P_WEAK ? src->weak : src->cert;
      size_t cl = p->mode == P_FORGED ? src->forged_len : p->mode == P_WEAK ? src->weak_len : src->cert_len;
      ss_enc_manifest(&e, src->height, src->block, src->block_len, cert, cl, sub);
      break;
    }
    case SS_CHUNK_REQ: {
      if (p->mode == P_MUTE_CHUNKS) goto out;
      if (p->mode == P_GONE) {
        ss_enc_gone(&e, w->height);
        break;
      }
      if (p->mode == P_OVERSIZE) {
        uint8_t *big = calloc(1, SS_PAGE_MAX + 10);
        ck_assert_ptr_nonnull(big);
        big[0] = SS_WIRE_VERSION;
        big[1] = SS_CHUNK;
        enc_fixed(&e, big, SS_PAGE_MAX + 10);
        free(big);
        break;
      }
      fpage pg;
      memset(&pg, 0, sizeof pg);
      enc_init(&pg.body);
      int more = 0;
      /* small pages: the client's paging is exercised */
      ck_assert_int_eq(store_snap_chunk(p->pin, w->chunk, w->has_after, w->after, w->after_len, 700,
                                        SS_PAGE_ENTRIES_MAX, fpage_add, &pg, &more), CX_OK);
      ck_assert_int_eq(enc_finish(&pg.body), CX_OK);
      if (p->mode == P_CHUNK && pg.value_at) pg.body.buf[pg.value_at] ^= 1;
      if (p->mode == P_ORDER && pg.count >= 2) {
        /* swap the first two entries */
        cx_dec d;
        const uint8_t *k1, *v1, *k2, *v2;
        size_t kl1, vl1, kl2, vl2;
        dec_init(&d, pg.body.buf, pg.body.len);
        dec_bytes(&d, &k1, &kl1, 1024);
        dec_bytes(&d, &v1, &vl1, 1u << 20);
        size_t cut = d.off;
        dec_bytes(&d, &k2, &kl2, 1024);
        dec_bytes(&d, &v2, &vl2, 1u << 20);
        size_t end = d.off;
        cx_enc sw;
        enc_init(&sw);
        enc_fixed(&sw, pg.body.buf + cut, end - cut);
        enc_fixed(&sw, pg.body.buf, cut);
        enc_fixed(&sw, pg.body.buf + end, pg.body.len - end);
        enc_free(&pg.body);
        pg.body = sw;
      }
      ss_enc_chunk(&e, w->height, w->chunk, more, pg.count, pg.body.buf, pg.body.len);
      enc_free(&pg.body);
      p->chunks_served++;
      break;
    }
    default:
      break;
  }
  if (e.len) qpush(h, p->name, &e);
out:
  enc_free(&e);
  free(w);
}

static fpeer *peer_by_name(harness *h, const char *name) {
  for (int i = 0; i < NPEERS; i++)
    if (strcmp(h->peers[i].name, name) == 0) return &h->peers[i];
  return NULL;
}

/* Carries out the client's actions. */
static void drain(harness *h) {
  ss_action a;
  while (ss_next(h->c, &a)) {
    cx_err e;
    char err[256];
    switch (a.type) {
      case SS_ACT_SEND: {
        fpeer *p = peer_by_name(h, a.peer);
        ck_assert_ptr_nonnull(p);
        peer_serve(h, p, a.msg, a.len);
        break;
      }
      case SS_ACT_REFUSE:
        ck_assert_int_lt(h->nrefused, 16);
        snprintf(h->refused[h->nrefused++], sizeof h->refused[0], "%s: %s", a.peer, a.why);
        break;
      case SS_ACT_BEGIN:
        h->begins++;
        ck_assert_int_eq(store_install_begin(h->dst, a.height), CX_OK);
        break;
      case SS_ACT_WRITE:
        h->writes++;
        ck_assert_int_eq(store_install_chunk(h->dst, a.chunk, a.ents, a.n), CX_OK);
        break;
      case SS_ACT_VALIDATORS:
        ss_on_validators(h->c, h->wrong_validators ? g_opk : g_pk, NKEYS, CX_OK, h->now);
        break;
      case SS_ACT_FINISH:
        e = store_install_finish(h->dst, a.height, &a.block_hash, &a.parent, &a.root, a.block,
                                 a.block_len, a.cert, a.cert_len, err, sizeof err);
        ck_assert_msg(e == CX_OK, "finish: %s", err);
        ss_on_finished(h->c, e, err);
        break;
      case SS_ACT_ABORT:
        h->aborts++;
        ck_assert_int_eq(store_install_abort(h->dst), CX_OK);
        break;
      case SS_ACT_DONE:
        h->done = 1;
        h->done_height = a.height;
        break;
      case SS_ACT_FALLBACK:
        h->fallback = 1;
        snprintf(h->fb_why, sizeof h->fb_why, "%s", a.why);
        break;
    }
  }
}

static void harness_init(harness *h, source *src, const pmode modes[NPEERS]) {
  memset(h, 0, sizeof *h);
  ss_config cfg = {.chain_id = g_chain, .trusted = g_pk, .ntrusted = NKEYS, .min_height = 16,
                   .offer_wait_ms = 3000, .req_timeout_ms = 5000, .inflight = 4, .max_restarts = 2};
  h->c = ss_new(&cfg);
  ck_assert_ptr_nonnull(h->c);
  for (int i = 0; i < NPEERS; i++) {
    snprintf(h->peers[i].name, sizeof h->peers[i].name, "node%d", i);
    h->peers[i].mode = modes[i];
    h->peers[i].src = src;
    ck_assert_int_eq(store_snap_pin(src->st, &h->peers[i].pin), CX_OK);
  }
  h->dst_dir = tu_tmpdir("ssdst");
  h->dst = open_store(h->dst_dir, 1);
  store_ws *ws = store_ws_new(h->dst);
  ck_assert_int_eq(store_ws_put(ws, (const uint8_t *)"genesis", 7, (const uint8_t *)"only", 4), CX_OK);
  ck_assert_int_eq(store_init_genesis(h->dst, ws, &g_chain), CX_OK);
  store_ws_free(ws);
  h->now = 1000;
}

static void harness_free(harness *h) {
  for (int i = 0; i < NPEERS; i++) store_snap_unpin(h->peers[i].pin);
  while (h->q) {
    qmsg *m = h->q;
    h->q = m->next;
    free(m->p);
    free(m);
  }
  ss_free(h->c);
  store_close(h->dst);
  tu_rmrf(h->dst_dir);
  free(h->dst_dir);
}

/* Runs until the client is done or fell back: messages as they come, the
 * clock advanced by 500 ms whenever nothing is in flight. */
static void run(harness *h) {
  const char *names[NPEERS];
  for (int i = 0; i < NPEERS; i++) names[i] = h->peers[i].name;
  ss_start(h->c, names, NPEERS, h->now);
  drain(h);
  for (int guard = 0; guard < 200000 && !h->done && !h->fallback; guard++) {
    if (h->q) {
      qmsg *m = h->q;
      h->q = m->next;
      if (!h->q) h->qt = NULL;
      ss_on_msg(h->c, m->from, m->p, m->len, h->now);
      free(m->p);
      free(m);
    } else {
      h->now += 500;
      ss_tick(h->c, h->now);
    }
    drain(h);
  }
  ck_assert_msg(h->done || h->fallback, "the client neither finished nor fell back");
}

static int refused_mentions(const harness *h, const char *peer, const char *what) {
  for (int i = 0; i < h->nrefused; i++)
    if (strncmp(h->refused[i], peer, strlen(peer)) == 0 && strstr(h->refused[i], what)) return 1;
  return 0;
}

static void expect_installed(harness *h, source *src) {
  ck_assert_msg(h->done, "fell back: %s", h->fb_why);
  ck_assert_uint_eq(h->done_height, src->height);
  ck_assert_uint_eq(store_height(h->dst), src->height);
  ck_assert_uint_eq(store_base(h->dst), src->height);
  cx_hash a, b;
  store_state_root(h->dst, &a);
  store_state_root(src->st, &b);
  ck_assert(hash_eq(&a, &b));
  uint8_t *v = NULL;
  size_t vl = 0;
  ck_assert_int_eq(store_state_get(h->dst, (const uint8_t *)"genesis", 7, &v, &vl), CX_E_NOT_FOUND);
  ck_assert_int_eq(store_state_get(h->dst, (const uint8_t *)"key-9", 5, &v, &vl), CX_OK);
  free(v);
  ss_progress pr;
  ss_progress_get(h->c, &pr);
  ck_assert_int_eq(pr.phase, SS_PH_DONE);
  ck_assert_uint_eq(pr.chunks_done, SS_CHUNKS);
}

/* The destination is back at the height-0 state after a fallback. */
static void expect_fell_back(harness *h, const char *why) {
  ck_assert_msg(h->fallback, "did not fall back");
  ck_assert_msg(strstr(h->fb_why, why) != NULL, "fallback '%s' lacks '%s'", h->fb_why, why);
  ck_assert_uint_eq(store_height(h->dst), 0);
  ck_assert_int_eq(h->aborts, h->begins);
  uint8_t *v = NULL;
  size_t vl = 0;
  ck_assert_int_eq(store_state_get(h->dst, (const uint8_t *)"genesis", 7, &v, &vl), CX_OK);
  free(v);
  ss_progress pr;
  ss_progress_get(h->c, &pr);
  ck_assert_int_eq(pr.phase, SS_PH_FALLBACK);
}

static source g_src;

static void setup(void) {
  for (int i = 0; i < NKEYS; i++) {
    g_sk[i] = key_generate();
    g_other[i] = key_generate();
    key_public(g_sk[i], &g_pk[i]);
    key_public(g_other[i], &g_opk[i]);
  }
  source_make(&g_src, 2500);
}

static void teardown(void) {
  source_free(&g_src);
  for (int i = 0; i < NKEYS; i++) {
    key_free(g_sk[i]);
    key_free(g_other[i]);
  }
}

/* ---- tests -------------------------------------------------------------- */

START_TEST(test_honest) {
  harness h;
  const pmode m[NPEERS] = {P_HONEST, P_HONEST, P_HONEST};
  harness_init(&h, &g_src, m);
  run(&h);
  expect_installed(&h, &g_src);
  ck_assert_int_eq(h.nrefused, 0);
  ck_assert_uint_eq(h.writes, SS_CHUNKS);
  for (int i = 0; i < NPEERS; i++) ck_assert_uint_gt(h.peers[i].chunks_served, 20); /* round robin */
  harness_free(&h);
}
END_TEST

START_TEST(test_bad_chunk_peer) {
  harness h;
  const pmode m[NPEERS] = {P_HONEST, P_CHUNK, P_HONEST};
  harness_init(&h, &g_src, m);
  run(&h);
  expect_installed(&h, &g_src);
  ck_assert_msg(refused_mentions(&h, "node1", "does not match the manifest"), "no refusal of node1: %s",
                h.nrefused ? h.refused[0] : "none");
  ck_assert_int_eq(h.nrefused, 1); /* banned after the first */
  ss_progress pr;
  ss_progress_get(h.c, &pr);
  ck_assert_uint_eq(pr.refused, 1);
  harness_free(&h);
}
END_TEST

START_TEST(test_out_of_order_peer) {
  harness h;
  const pmode m[NPEERS] = {P_ORDER, P_HONEST, P_HONEST};
  harness_init(&h, &g_src, m);
  run(&h);
  expect_installed(&h, &g_src);
  ck_assert(refused_mentions(&h, "node0", "out of order"));
  harness_free(&h);
}
END_TEST

START_TEST(test_bad_root_manifest) {
  harness h;
  const pmode m[NPEERS] = {P_ROOT, P_HONEST, P_HONEST};
  harness_init(&h, &g_src, m);
  run(&h);
  expect_installed(&h, &g_src);
  ck_assert(refused_mentions(&h, "node0", "do not fold to the block's state root"));
  ck_assert_uint_eq(h.peers[0].chunks_served, 0);
  harness_free(&h);

  const pmode all[NPEERS] = {P_ROOT, P_ROOT, P_ROOT};
  harness_init(&h, &g_src, all);
  run(&h);
  expect_fell_back(&h, "refused");
  ck_assert_int_eq(h.nrefused, 3);
  ck_assert_int_eq(h.begins, 0);
  harness_free(&h);
}
END_TEST

START_TEST(test_forged_cert) {
  harness h;
  const pmode m[NPEERS] = {P_FORGED, P_FORGED, P_FORGED};
  harness_init(&h, &g_src, m);
  run(&h);
  expect_fell_back(&h, "trust rule");
  ck_assert(refused_mentions(&h, "node0", "carries 0 signatures of genesis validators"));
  ck_assert_int_eq(h.begins, 0);
  harness_free(&h);

  const pmode w[NPEERS] = {P_WEAK, P_HONEST, P_WEAK};
  harness_init(&h, &g_src, w);
  run(&h);
  expect_installed(&h, &g_src); /* node1's manifest is good */
  ck_assert(refused_mentions(&h, "node0", "carries 1 signatures of genesis validators"));
  ck_assert_uint_eq(h.peers[0].chunks_served, 0); /* banned before any chunk */
  harness_free(&h);
}
END_TEST

START_TEST(test_no_offers) {
  harness h;
  const pmode none[NPEERS] = {P_NONE, P_NONE, P_NONE};
  harness_init(&h, &g_src, none);
  run(&h);
  expect_fell_back(&h, "no peer offered a snapshot");
  ck_assert_uint_eq(h.now, 1000); /* every peer answered: no waiting */
  harness_free(&h);

  const pmode silent[NPEERS] = {P_SILENT, P_NONE, P_SILENT};
  harness_init(&h, &g_src, silent);
  run(&h);
  expect_fell_back(&h, "no peer offered a snapshot");
  ck_assert_uint_ge(h.now, 4000); /* after the offer wait */
  harness_free(&h);

  const pmode low[NPEERS] = {P_LOW, P_LOW, P_NONE};
  harness_init(&h, &g_src, low);
  run(&h);
  expect_fell_back(&h, "below statesync.min_height 16");
  harness_free(&h);
}
END_TEST

START_TEST(test_all_bad) {
  harness h;
  const pmode m[NPEERS] = {P_CHUNK, P_CHUNK, P_CHUNK};
  harness_init(&h, &g_src, m);
  run(&h);
  expect_fell_back(&h, "");
  ck_assert_int_eq(h.nrefused, 3);
  ck_assert_int_eq(h.begins, 1);
  ck_assert_int_eq(h.aborts, 1);
  for (int i = 0; i < NPEERS; i++) {
    char who[8];
    snprintf(who, sizeof who, "node%d", i);
    ck_assert(refused_mentions(&h, who, "does not match the manifest"));
  }
  harness_free(&h);
}
END_TEST

START_TEST(test_garbled_oversized) {
  harness h;
  const pmode m[NPEERS] = {P_GARBLE, P_OVERSIZE, P_HONEST};
  harness_init(&h, &g_src, m);
  run(&h);
  expect_installed(&h, &g_src);
  ck_assert(refused_mentions(&h, "node0", "malformed"));
  ck_assert(refused_mentions(&h, "node1", "oversized"));
  ck_assert_uint_eq(h.now, 1000); /* refused at once: no offer wait, no timeout */
  harness_free(&h);
}
END_TEST

START_TEST(test_gone_and_mute) {
  harness h;
  const pmode m[NPEERS] = {P_GONE, P_MUTE_CHUNKS, P_HONEST};
  harness_init(&h, &g_src, m);
  run(&h);
  expect_installed(&h, &g_src); /* all from node2, after node1's timeouts */
  ck_assert_int_eq(h.nrefused, 0); /* neither is refused: not answering is no lie */
  ck_assert_uint_ge(h.now, 1000 + 5000);
  harness_free(&h);

  const pmode g[NPEERS] = {P_GONE, P_GONE, P_MUTE_CHUNKS};
  harness_init(&h, &g_src, g);
  run(&h);
  expect_fell_back(&h, "no peer is left");
  ss_progress pr;
  ss_progress_get(h.c, &pr);
  ck_assert_uint_eq(pr.restarts, 2); /* bounded */
  harness_free(&h);
}
END_TEST

START_TEST(test_validator_set_mismatch) {
  harness h;
  const pmode m[NPEERS] = {P_HONEST, P_HONEST, P_HONEST};
  harness_init(&h, &g_src, m);
  h.wrong_validators = 1;
  run(&h);
  expect_fell_back(&h, "does not verify against the validator set of the installed state");
  ck_assert_int_eq(h.begins, 1);
  harness_free(&h);
}
END_TEST

START_TEST(test_trust_rule) {
  cx_cert c;
  uint8_t *enc;
  size_t len;
  sign_cert(&g_src.bh, g_src.height, g_sk, 4, &enc, &len);
  ck_assert_int_eq(cert_decode(enc, len, &c), CX_OK);
  free(enc);
  ck_assert_uint_eq(ss_trusted_signers(&g_chain, &c, &g_src.bh, g_pk, NKEYS), 4);
  /* the signer indexes of another set: each vote counts for the key it verifies under */
  cx_pubkey rot[NKEYS] = {g_pk[3], g_pk[2], g_pk[1], g_pk[0]};
  ck_assert_uint_eq(ss_trusted_signers(&g_chain, &c, &g_src.bh, rot, NKEYS), 4);
  /* a key twice counts once */
  c.votes[1] = c.votes[0];
  c.votes[1].signer = 1;
  ck_assert_uint_eq(ss_trusted_signers(&g_chain, &c, &g_src.bh, g_pk, NKEYS), 3);
  /* another chain, another block: nothing */
  cx_hash other = g_chain;
  other.b[31] ^= 1;
  ck_assert_uint_eq(ss_trusted_signers(&other, &c, &g_src.bh, g_pk, NKEYS), 0);
  ck_assert_uint_eq(ss_trusted_signers(&g_chain, &c, &other, g_pk, NKEYS), 0);
}
END_TEST

START_TEST(test_wire) {
  cx_enc e;
  ss_wire *w = malloc(sizeof *w);
  ss_refusal r;
  ck_assert_ptr_nonnull(w);
  /* every kind round trips */
  enc_init(&e);
  ss_enc_offer(&e, 1, 77, &g_src.bh, &g_chain);
  ck_assert_int_eq(ss_decode(e.buf, e.len, w, &r), CX_OK);
  ck_assert(w->kind == SS_OFFER && w->has && w->height == 77 && hash_eq(&w->block_hash, &g_src.bh));
  enc_free(&e);
  enc_init(&e);
  ss_enc_chunk_req(&e, 77, 255, 1, (const uint8_t *)"abc", 3);
  ck_assert_int_eq(ss_decode(e.buf, e.len, w, &r), CX_OK);
  ck_assert(w->chunk == 255 && w->has_after && w->after_len == 3);
  enc_free(&e);
  /* refusals */
  static const struct {
    const char *bytes;
    size_t len;
    const char *why;
  } bad[] = {
      {"", 0, "unknown version"},
      {"\x02\x01", 2, "unknown version"},
      {"\x01\x09", 2, "unknown kind"},
      {"\x01\x01\x00", 3, "trailing bytes"},
      {"\x01\x02\x01\x00", 4, "malformed"},               /* offer cut short */
      {"\x01\x05\x05\x80\x02\x00", 6, "malformed"},       /* chunk 256 */
      {"\x01\x06\x05\x01\x00\x02\x01k\x00", 9, "malformed"}, /* 2 entries announced, 1 given */
      {"\x01\x07", 2, "malformed"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_msg(ss_decode((const uint8_t *)bad[i].bytes, bad[i].len, w, &r) != CX_OK, "case %zu", i);
    ck_assert_msg(strcmp(r.why, bad[i].why) == 0, "case %zu: %s", i, r.why);
  }
  /* a key over the cap in a chunk */
  enc_init(&e);
  uint8_t key[STORE_KEY_MAX + 1] = {0};
  cx_enc body;
  enc_init(&body);
  enc_bytes(&body, key, sizeof key);
  enc_bytes(&body, "v", 1);
  ss_enc_chunk(&e, 5, 1, 0, 1, body.buf, body.len);
  ck_assert_int_ne(ss_decode(e.buf, e.len, w, &r), CX_OK);
  ck_assert_ptr_null(w->entries);
  enc_free(&e);
  enc_free(&body);
  free(w);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("statesync");
  TCase *tc = tcase_create("client");
  tcase_set_timeout(tc, 120);
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_honest);
  tcase_add_test(tc, test_bad_chunk_peer);
  tcase_add_test(tc, test_out_of_order_peer);
  tcase_add_test(tc, test_bad_root_manifest);
  tcase_add_test(tc, test_forged_cert);
  tcase_add_test(tc, test_no_offers);
  tcase_add_test(tc, test_all_bad);
  tcase_add_test(tc, test_garbled_oversized);
  tcase_add_test(tc, test_gone_and_mute);
  tcase_add_test(tc, test_validator_set_mismatch);
  tcase_add_test(tc, test_trust_rule);
  tcase_add_test(tc, test_wire);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(suite());
}
