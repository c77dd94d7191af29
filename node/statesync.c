/* statesync.c: the NET_MSG_SNAP wire format and the state sync client as a
 * pure state machine (statesync.h; docs/statesync.md). The checks, in the
 * order the client makes them:
 *   manifest: (a) the block decodes, is block H of our chain with the
 *             offered hash and root, the certificate is for it;
 *             (b) the subtree hashes fold to the block's state root;
 *             (c) at least f_T + 1 genesis validators signed the
 *             certificate (the trust rule);
 *   chunk:    every entry in the chunk, in (bucket, key) order; the bucket
 *             hashes fold to the manifest's subtree hash;
 *   install:  (d) the certificate verifies against the validator set of
 *             the installed state; the store recomputes the root. */
#include "statesync.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- wire ---------------------------------------------------------------- */

static cx_err refuse_r(ss_refusal *r, cx_err e, const char *what, const char *why) {
  if (r) {
    r->what = what;
    r->why = why;
  }
  return e ? e : CX_E_INVALID_ARG;
}

cx_err ss_decode(const uint8_t *p, size_t len, ss_wire *out, ss_refusal *r) {
  cx_dec d;
  uint8_t ver = 0, kind = 0;
  uint64_t u = 0;
  memset(out, 0, sizeof *out);
  dec_init(&d, p, len);
  if (dec_u8(&d, &ver) || ver != SS_WIRE_VERSION || dec_u8(&d, &kind))
    return refuse_r(r, d.err ? d.err : CX_E_BAD_VERSION, "snapshot message", "unknown version");
  if (kind < SS_OFFER_REQ || kind > SS_GONE)
    return refuse_r(r, CX_E_BAD_ENUM, "snapshot message", "unknown kind");
  out->kind = kind;
  switch (kind) {
    case SS_OFFER_REQ:
      break;
    case SS_OFFER:
      if (!dec_bool(&d, &out->has) && out->has && !dec_varint(&d, &out->height) &&
          !dec_fixed(&d, out->block_hash.b, 32))
        dec_fixed(&d, out->state_root.b, 32);
      if (!d.err && out->has && out->height == 0)
        return refuse_r(r, CX_E_INVALID_ARG, "snapshot offer", "offer at height 0");
      break;
    case SS_MANIFEST_REQ:
    case SS_GONE:
      dec_varint(&d, &out->height);
      break;
    case SS_MANIFEST:
      if (!dec_varint(&d, &out->height) &&
          !dec_bytes(&d, &out->block, &out->block_len, CX_BLOCK_MAX_BYTES) &&
          !dec_bytes(&d, &out->cert, &out->cert_len, SS_CERT_MAX))
        dec_fixed(&d, out->subtrees, sizeof out->subtrees);
      break;
    case SS_CHUNK_REQ:
      if (!dec_varint(&d, &out->height) && !dec_varint_max(&d, &u, SS_CHUNKS - 1) &&
          !dec_bool(&d, &out->has_after) && out->has_after)
        dec_bytes(&d, &out->after, &out->after_len, STORE_KEY_MAX);
      out->chunk = (uint32_t)u;
      break;
    case SS_CHUNK:
      if (len > SS_PAGE_MAX) return refuse_r(r, CX_E_TOO_LONG, "snapshot chunk", "oversized");
      if (!dec_varint(&d, &out->height) && !dec_varint_max(&d, &u, SS_CHUNKS - 1) &&
          !dec_bool(&d, &out->more) && !dec_varint_max(&d, &out->count, SS_PAGE_ENTRIES_MAX)) {
        out->entries = p + d.off;
        for (uint64_t i = 0; i < out->count && !d.err; i++) {
          const uint8_t *k, *v;
          size_t kl, vl;
          if (!dec_bytes(&d, &k, &kl, STORE_KEY_MAX)) dec_bytes(&d, &v, &vl, STORE_VALUE_MAX);
        }
        out->entries_len = d.err ? 0 : (size_t)(p + d.off - out->entries);
      }
      out->chunk = (uint32_t)u;
      break;
    default:
      break;
  }
  cx_err e = dec_finish(&d);
  if (e) {
    out->entries = NULL;
    out->entries_len = 0;
    return refuse_r(r, e, "snapshot message", e == CX_E_TRAILING ? "trailing bytes" : "malformed");
  }
  return CX_OK;
}

void ss_iter_init(ss_iter *it, const ss_wire *w) {
  dec_init(&it->d, w->entries, w->entries_len);
  it->left = w->kind == SS_CHUNK && w->entries ? w->count : 0;
}

int ss_iter_next(ss_iter *it, const uint8_t **key, size_t *klen, const uint8_t **val, size_t *vlen) {
  if (it->left == 0) return 0;
  /* checked by ss_decode: cannot fail */
  if (dec_bytes(&it->d, key, klen, STORE_KEY_MAX) || dec_bytes(&it->d, val, vlen, STORE_VALUE_MAX))
    return 0;
  it->left--;
  return 1;
}

static void head(cx_enc *e, uint8_t kind) {
  enc_u8(e, SS_WIRE_VERSION);
  enc_u8(e, kind);
}

void ss_enc_offer_req(cx_enc *e) { head(e, SS_OFFER_REQ); }

void ss_enc_offer(cx_enc *e, int has, uint64_t height, const cx_hash *block_hash,
                  const cx_hash *state_root) {
  head(e, SS_OFFER);
  enc_bool(e, has);
  if (!has) return;
  enc_varint(e, height);
  enc_fixed(e, block_hash->b, 32);
  enc_fixed(e, state_root->b, 32);
}

void ss_enc_manifest_req(cx_enc *e, uint64_t height) {
  head(e, SS_MANIFEST_REQ);
  enc_varint(e, height);
}

void ss_enc_manifest(cx_enc *e, uint64_t height, const uint8_t *block, size_t blen,
                     const uint8_t *cert, size_t clen, const cx_hash subtrees[SS_CHUNKS]) {
  head(e, SS_MANIFEST);
  enc_varint(e, height);
  enc_bytes(e, block, blen);
  enc_bytes(e, cert, clen);
  enc_fixed(e, subtrees, SS_CHUNKS * sizeof *subtrees);
}

void ss_enc_chunk_req(cx_enc *e, uint64_t height, uint32_t chunk, int has_after,
                      const uint8_t *after, size_t after_len) {
  head(e, SS_CHUNK_REQ);
  enc_varint(e, height);
  enc_varint(e, chunk);
  enc_bool(e, has_after);
  if (has_after) enc_bytes(e, after, after_len);
}

void ss_enc_chunk(cx_enc *e, uint64_t height, uint32_t chunk, int more, uint64_t count,
                  const uint8_t *body, size_t body_len) {
  head(e, SS_CHUNK);
  enc_varint(e, height);
  enc_varint(e, chunk);
  enc_bool(e, more);
  enc_varint(e, count);
  enc_fixed(e, body, body_len);
}

void ss_enc_gone(cx_enc *e, uint64_t height) {
  head(e, SS_GONE);
  enc_varint(e, height);
}

/* ---- the trust rule ------------------------------------------------------ */

unsigned ss_trusted_signers(const cx_hash *chain_id, const cx_cert *cert, const cx_hash *block_hash,
                            const cx_pubkey *trusted, size_t nt) {
  cx_hash msg;
  uint64_t seen = 0;
  unsigned k = 0;
  if (nt == 0 || nt > CX_MAX_VALIDATORS) return 0;
  vote_message(chain_id, cert->height, cert->view, block_hash, &msg);
  /* The signer indexes point into the set of height H, which the client
   * does not know yet: a vote counts for the trusted key it verifies under
   * (the one at its index first: the usual case of an unchanged set). */
  for (size_t i = 0; i < cert->nvotes && i < CX_MAX_VALIDATORS; i++) {
    const cx_vote_sig *v = &cert->votes[i];
    size_t j0 = v->signer < nt ? v->signer : 0;
    for (size_t t = 0; t < nt; t++) {
      size_t j = (j0 + t) % nt;
      if (seen >> j & 1) continue;
      if (sig_verify(&trusted[j], msg.b, 32, &v->sig)) {
        seen |= 1ull << j;
        k++;
        break;
      }
    }
  }
  return k;
}

/* ---- the client ---------------------------------------------------------- */

enum { C_TODO = 0, C_ASKED, C_DONE };
#define MAX_TIMEOUTS 3 /* a peer that let this many requests time out is not asked again */

typedef struct {
  char name[CX_NAME_MAX + 1];
  uint8_t asked, answered, has_offer, banned, unusable;
  uint64_t height;
  cx_hash bh, root;
  unsigned timeouts;
} peer_t;

typedef struct {
  uint8_t state;
  int peer; /* C_ASKED: whom */
  uint64_t deadline;
  store_kv *v;
  size_t n, cap, bytes;
  cx_hash buckets[STORE_SNAP_CHUNK_BUCKETS];
  int cur; /* bucket being hashed (index in the chunk), -1: none yet */
  store_bucket_acc acc;
} chunk_t;

struct ss_client {
  ss_config cfg;
  cx_pubkey trusted[CX_MAX_VALIDATORS];
  ss_phase ph;
  peer_t peers[SS_PEERS_MAX];
  size_t npeers;
  uint64_t deadline; /* OFFERS: end of the wait; MANIFEST: of the request */
  unsigned restarts;
  /* the snapshot being fetched */
  uint64_t height;
  cx_hash bh, root;
  int mpeer; /* MANIFEST: asked of */
  uint8_t *block, *cert;
  size_t block_len, cert_len;
  cx_cert certd;
  cx_hash parent;
  cx_hash subtrees[SS_CHUNKS];
  int installing;
  chunk_t *chunks; /* SS_CHUNKS while fetching */
  unsigned done;
  size_t rr;
  uint64_t fetched, refused;
  char last_why[160];
  /* queued actions: [0, head) handed out, [head, n) pending */
  ss_action *acts;
  size_t nacts, cap, head;
};

static void act_free(ss_action *a) {
  free(a->msg);
  for (size_t i = 0; i < a->n; i++) {
    free(a->ents[i].key);
    free(a->ents[i].val);
  }
  free(a->ents);
}

/* An event starts: what was handed out is released. */
static void begin_event(ss_client *c) {
  if (c->head == 0) return;
  for (size_t i = 0; i < c->head; i++) act_free(&c->acts[i]);
  memmove(c->acts, c->acts + c->head, (c->nacts - c->head) * sizeof *c->acts);
  c->nacts -= c->head;
  c->head = 0;
}

/* A zeroed action at the end of the queue; NULL on out of memory (the
 * client then fails: see push_fail). */
static ss_action *push(ss_client *c, ss_act_type t) {
  if (c->nacts == c->cap) {
    size_t nc = c->cap ? 2 * c->cap : 16;
    ss_action *na = realloc(c->acts, nc * sizeof *na);
    if (!na) return NULL;
    c->acts = na;
    c->cap = nc;
  }
  ss_action *a = &c->acts[c->nacts++];
  memset(a, 0, sizeof *a);
  a->type = t;
  return a;
}

static void fallback(ss_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void send_enc(ss_client *c, int pi, cx_enc *e) {
  size_t len = 0;
  if (enc_finish(e) != CX_OK) {
    enc_free(e);
    fallback(c, "out of memory");
    return;
  }
  uint8_t *buf = enc_take(e, &len);
  ss_action *a = push(c, SS_ACT_SEND);
  if (!a) {
    free(buf);
    fallback(c, "out of memory");
    return;
  }
  snprintf(a->peer, sizeof a->peer, "%s", c->peers[pi].name);
  a->msg = buf;
  a->len = len;
}

static void chunk_reset(chunk_t *ch) {
  for (size_t i = 0; i < ch->n; i++) {
    free(ch->v[i].key);
    free(ch->v[i].val);
  }
  free(ch->v);
  memset(ch, 0, sizeof *ch);
  ch->cur = -1;
}

static void chunks_free(ss_client *c) {
  if (!c->chunks) return;
  for (unsigned i = 0; i < SS_CHUNKS; i++) chunk_reset(&c->chunks[i]);
  free(c->chunks);
  c->chunks = NULL;
}

/* Chunks asked of peer pi go back to the queue. */
static void release_peer(ss_client *c, int pi) {
  for (unsigned i = 0; c->chunks && i < SS_CHUNKS; i++)
    if (c->chunks[i].state == C_ASKED && c->chunks[i].peer == pi) chunk_reset(&c->chunks[i]);
}

/* Drops the snapshot being fetched (an install begun is undone). */
static void abort_install(ss_client *c) {
  if (c->installing) push(c, SS_ACT_ABORT);
  c->installing = 0;
  chunks_free(c);
  free(c->block);
  free(c->cert);
  c->block = c->cert = NULL;
}

static void fallback(ss_client *c, const char *fmt, ...) {
  if (c->ph == SS_PH_FALLBACK || c->ph == SS_PH_DONE) return;
  abort_install(c);
  c->ph = SS_PH_FALLBACK;
  ss_action *a = push(c, SS_ACT_FALLBACK);
  if (!a) return; /* the phase says it */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->why, sizeof a->why, fmt, ap);
  va_end(ap);
}

static void refuse(ss_client *c, int pi, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(ss_client *c, int pi, const char *fmt, ...) {
  peer_t *p = &c->peers[pi];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->last_why, sizeof c->last_why, fmt, ap);
  va_end(ap);
  c->refused++;
  p->banned = 1;
  release_peer(c, pi);
  ss_action *a = push(c, SS_ACT_REFUSE);
  if (!a) return;
  snprintf(a->peer, sizeof a->peer, "%s", p->name);
  snprintf(a->why, sizeof a->why, "%s", c->last_why);
}

static int usable(const ss_client *c, int pi) {
  const peer_t *p = &c->peers[pi];
  return !p->banned && !p->unusable;
}

/* In the group serving the snapshot being fetched. */
static int in_group(const ss_client *c, int pi) {
  const peer_t *p = &c->peers[pi];
  return usable(c, pi) && p->has_offer && p->height == c->height && hash_eq(&p->bh, &c->bh);
}

static int find_peer(const ss_client *c, const char *name) {
  for (size_t i = 0; i < c->npeers; i++)
    if (strcmp(c->peers[i].name, name) == 0) return (int)i;
  return -1;
}

static void ask_offers(ss_client *c, uint64_t now) {
  c->ph = SS_PH_OFFERS;
  c->deadline = now + c->cfg.offer_wait_ms;
  size_t asked = 0;
  for (size_t i = 0; i < c->npeers; i++) {
    peer_t *p = &c->peers[i];
    p->asked = p->answered = p->has_offer = p->unusable = 0;
    p->timeouts = 0;
    if (p->banned) continue;
    cx_enc e;
    enc_init(&e);
    ss_enc_offer_req(&e);
    send_enc(c, (int)i, &e);
    p->asked = 1;
    asked++;
  }
  if (asked) return;
  if (c->refused)
    fallback(c, "every peer was refused (last refusal: %s)", c->last_why);
  else
    fallback(c, "no peer to ask");
}

static void choose(ss_client *c, uint64_t now);

/* A new round of offers after the snapshot went away (bounded). */
static void restart(ss_client *c, uint64_t now, const char *why) {
  abort_install(c);
  if (c->restarts >= c->cfg.max_restarts) {
    fallback(c, "%s, and %u new rounds of offers did not help", why, c->restarts);
    return;
  }
  c->restarts++;
  c->height = 0;
  ask_offers(c, now);
}

static void ask_manifest(ss_client *c, uint64_t now) {
  for (size_t i = 0; i < c->npeers; i++) {
    if (!in_group(c, (int)i)) continue;
    cx_enc e;
    enc_init(&e);
    ss_enc_manifest_req(&e, c->height);
    send_enc(c, (int)i, &e);
    c->mpeer = (int)i;
    c->deadline = now + c->cfg.req_timeout_ms;
    c->ph = SS_PH_MANIFEST;
    return;
  }
  choose(c, now); /* nobody left in this group: the next best offer */
}

/* Takes the highest offer at or above min_height among usable peers. */
static void choose(ss_client *c, uint64_t now) {
  int best = -1, offers = 0;
  uint64_t top = 0;
  for (size_t i = 0; i < c->npeers; i++) {
    const peer_t *p = &c->peers[i];
    if (!p->has_offer || !usable(c, (int)i)) continue;
    offers++;
    if (p->height > top) top = p->height;
    if (p->height >= c->cfg.min_height && (best < 0 || p->height > c->peers[best].height))
      best = (int)i;
  }
  if (best < 0) {
    if (c->refused)
      fallback(c, "every offer was refused or failed (last refusal: %s)", c->last_why);
    else if (offers)
      fallback(c, "the best offer is at height %llu, below statesync.min_height %llu",
               (unsigned long long)top, (unsigned long long)c->cfg.min_height);
    else
      fallback(c, "no peer offered a snapshot");
    return;
  }
  c->height = c->peers[best].height;
  c->bh = c->peers[best].bh;
  c->root = c->peers[best].root;
  ask_manifest(c, now);
}

/* (a) (b) (c) of the manifest; NULL when it passes, else why. */
static const char *check_manifest(ss_client *c, const ss_wire *w, char *buf, size_t bl) {
  cx_block b;
  cx_hash bh, f;
  block_init(&b);
  if (w->height != c->height) return "manifest for another height than asked";
  if (block_decode(w->block, w->block_len, &b) != CX_OK) return "the manifest's block does not decode";
  cx_block_header h = b.h;
  block_clear(&b);
  block_hash(&h, &bh);
  if (!hash_eq(&h.chain_id, &c->cfg.chain_id)) return "the manifest's block is of another chain";
  if (h.height != c->height || !hash_eq(&bh, &c->bh))
    return "the manifest's block is not the block offered";
  if (!hash_eq(&h.state_root, &c->root)) return "the block's state root is not the root offered";
  if (cert_decode(w->cert, w->cert_len, &c->certd) != CX_OK) return "the certificate does not decode";
  if (c->certd.height != c->height || !hash_eq(&c->certd.block_hash, &bh))
    return "the certificate is not for the block";
  store_fold(w->subtrees, SS_CHUNKS, &f);
  if (!hash_eq(&f, &h.state_root))
    return "the subtree hashes do not fold to the block's state root";
  unsigned need = quorum_f((unsigned)c->cfg.ntrusted) + 1;
  unsigned got = ss_trusted_signers(&c->cfg.chain_id, &c->certd, &bh, c->trusted, c->cfg.ntrusted);
  if (got < need) {
    snprintf(buf, bl, "the certificate of block %llu carries %u signatures of genesis validators, "
             "the trust rule needs %u of %zu (forged, or the genesis validators have rotated away)",
             (unsigned long long)c->height, got, need, c->cfg.ntrusted);
    return buf;
  }
  c->parent = h.parent;
  return NULL;
}

static void dispatch(ss_client *c, uint64_t now);

static void on_manifest(ss_client *c, int pi, const ss_wire *w, uint64_t now) {
  char buf[200];
  const char *why = check_manifest(c, w, buf, sizeof buf);
  if (why) {
    refuse(c, pi, "manifest of height %llu: %s", (unsigned long long)c->height, why);
    ask_manifest(c, now);
    return;
  }
  abort_install(c); /* nothing begun yet: frees what an earlier snapshot left */
  c->block = malloc(w->block_len ? w->block_len : 1);
  c->cert = malloc(w->cert_len ? w->cert_len : 1);
  c->chunks = calloc(SS_CHUNKS, sizeof *c->chunks);
  if (!c->block || !c->cert || !c->chunks) {
    fallback(c, "out of memory");
    return;
  }
  memcpy(c->block, w->block, w->block_len);
  if (w->cert_len) memcpy(c->cert, w->cert, w->cert_len);
  c->block_len = w->block_len;
  c->cert_len = w->cert_len;
  memcpy(c->subtrees, w->subtrees, sizeof c->subtrees);
  for (unsigned i = 0; i < SS_CHUNKS; i++) c->chunks[i].cur = -1;
  c->done = 0;
  ss_action *a = push(c, SS_ACT_BEGIN);
  if (!a) {
    fallback(c, "out of memory");
    return;
  }
  a->height = c->height;
  c->installing = 1;
  c->ph = SS_PH_CHUNKS;
  dispatch(c, now);
}

static void ask_chunk(ss_client *c, unsigned ci, int pi, uint64_t now) {
  chunk_t *ch = &c->chunks[ci];
  const store_kv *last = ch->n ? &ch->v[ch->n - 1] : NULL;
  cx_enc e;
  enc_init(&e);
  ss_enc_chunk_req(&e, c->height, ci, last != NULL, last ? last->key : NULL, last ? last->klen : 0);
  send_enc(c, pi, &e);
  ch->state = C_ASKED;
  ch->peer = pi;
  ch->deadline = now + c->cfg.req_timeout_ms;
}

/* Keeps cfg.inflight chunk requests going, round robin over the group. */
static void dispatch(ss_client *c, uint64_t now) {
  if (c->ph != SS_PH_CHUNKS) return;
  unsigned asked = 0, next = 0;
  for (unsigned i = 0; i < SS_CHUNKS; i++) asked += c->chunks[i].state == C_ASKED;
  int any = 0;
  for (size_t i = 0; i < c->npeers; i++) any |= in_group(c, (int)i);
  if (!any) {
    restart(c, now, "no peer is left to fetch the snapshot from");
    return;
  }
  while (asked < c->cfg.inflight) {
    while (next < SS_CHUNKS && c->chunks[next].state != C_TODO) next++;
    if (next == SS_CHUNKS) return;
    int pi = -1;
    for (size_t k = 0; k < c->npeers && pi < 0; k++) {
      size_t j = (c->rr + k) % c->npeers;
      if (in_group(c, (int)j)) pi = (int)j;
    }
    c->rr = (size_t)pi + 1;
    ask_chunk(c, next, pi, now);
    asked++;
  }
}

static int entry_after(const store_kv *last, uint16_t lb, uint16_t b, const uint8_t *k, size_t kl) {
  if (!last) return 1;
  if (b != lb) return b > lb;
  size_t m = kl < last->klen ? kl : last->klen;
  int cmp = m ? memcmp(k, last->key, m) : 0;
  return cmp > 0 || (cmp == 0 && kl > last->klen);
}

static void on_chunk(ss_client *c, int pi, const ss_wire *w, uint64_t now) {
  if (w->height != c->height || w->chunk >= SS_CHUNKS) return;
  unsigned ci = w->chunk;
  chunk_t *ch = &c->chunks[ci];
  if (ch->state != C_ASKED || ch->peer != pi) return; /* late, or not asked: dropped */
  if (w->count == 0 && w->more) {
    refuse(c, pi, "chunk %u: an empty page that says more follow", ci);
    dispatch(c, now);
    return;
  }
  ss_iter it;
  const uint8_t *k, *v;
  size_t kl, vl;
  ss_iter_init(&it, w);
  while (ss_iter_next(&it, &k, &kl, &v, &vl)) {
    uint16_t b = store_key_bucket(k, kl);
    const store_kv *last = ch->n ? &ch->v[ch->n - 1] : NULL;
    uint16_t lb = last ? store_key_bucket(last->key, last->klen) : 0;
    if (b / STORE_SNAP_CHUNK_BUCKETS != ci) {
      refuse(c, pi, "chunk %u: an entry of chunk %u", ci, (unsigned)(b / STORE_SNAP_CHUNK_BUCKETS));
      dispatch(c, now);
      return;
    }
    if (!entry_after(last, lb, b, k, kl)) {
      refuse(c, pi, "chunk %u: entries out of order", ci);
      dispatch(c, now);
      return;
    }
    if (ch->bytes + kl + vl > SS_CHUNK_BYTES_MAX) {
      refuse(c, pi, "chunk %u: over %u MiB", ci, SS_CHUNK_BYTES_MAX >> 20);
      dispatch(c, now);
      return;
    }
    if (ch->n == ch->cap) {
      size_t nc = ch->cap ? 2 * ch->cap : 64;
      store_kv *nv = realloc(ch->v, nc * sizeof *nv);
      if (!nv) {
        fallback(c, "out of memory");
        return;
      }
      ch->v = nv;
      ch->cap = nc;
    }
    store_kv *e = &ch->v[ch->n];
    e->key = malloc(kl ? kl : 1);
    e->val = malloc(vl ? vl : 1);
    if (!e->key || !e->val) {
      free(e->key);
      free(e->val);
      fallback(c, "out of memory");
      return;
    }
    if (kl) memcpy(e->key, k, kl);
    if (vl) memcpy(e->val, v, vl);
    e->klen = kl;
    e->vlen = vl;
    ch->n++;
    ch->bytes += kl + vl;
    int bi = b % STORE_SNAP_CHUNK_BUCKETS;
    if (bi != ch->cur) {
      if (ch->cur >= 0) store_bucket_end(&ch->acc, &ch->buckets[ch->cur]);
      store_bucket_begin(&ch->acc);
      ch->cur = bi;
    }
    store_bucket_add(&ch->acc, k, kl, v, vl);
  }
  if (w->more) {
    ask_chunk(c, ci, pi, now); /* the next page, from the same peer */
    return;
  }
  cx_hash sub;
  if (ch->cur >= 0) store_bucket_end(&ch->acc, &ch->buckets[ch->cur]);
  ch->cur = -1;
  store_fold(ch->buckets, STORE_SNAP_CHUNK_BUCKETS, &sub);
  if (!hash_eq(&sub, &c->subtrees[ci])) {
    refuse(c, pi, "chunk %u does not match the manifest (its %zu entries hash to another subtree)",
           ci, ch->n);
    dispatch(c, now);
    return;
  }
  ss_action *a = push(c, SS_ACT_WRITE);
  if (!a) {
    fallback(c, "out of memory");
    return;
  }
  a->chunk = ci;
  a->ents = ch->v; /* moved to the action */
  a->n = ch->n;
  ch->v = NULL;
  ch->n = ch->cap = 0;
  ch->state = C_DONE;
  c->done++;
  c->fetched++;
  if (c->done == SS_CHUNKS) {
    c->ph = SS_PH_VERIFY;
    push(c, SS_ACT_VALIDATORS);
    return;
  }
  dispatch(c, now);
}

ss_client *ss_new(const ss_config *cfg) {
  if (!cfg || !cfg->trusted || cfg->ntrusted == 0 || cfg->ntrusted > CX_MAX_VALIDATORS ||
      cfg->inflight == 0)
    return NULL;
  ss_client *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->cfg = *cfg;
  memcpy(c->trusted, cfg->trusted, cfg->ntrusted * sizeof *c->trusted);
  c->cfg.trusted = c->trusted;
  return c;
}

void ss_free(ss_client *c) {
  if (!c) return;
  for (size_t i = 0; i < c->nacts; i++) act_free(&c->acts[i]);
  free(c->acts);
  chunks_free(c);
  free(c->block);
  free(c->cert);
  free(c);
}

void ss_start(ss_client *c, const char *const *peers, size_t npeers, uint64_t now) {
  begin_event(c);
  c->npeers = 0;
  for (size_t i = 0; i < npeers && c->npeers < SS_PEERS_MAX; i++) {
    if (find_peer(c, peers[i]) >= 0) continue;
    peer_t *p = &c->peers[c->npeers++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", peers[i]);
  }
  if (c->npeers == 0) {
    fallback(c, "no linked peer to ask");
    return;
  }
  ask_offers(c, now);
}

/* Every peer asked has answered (or was refused): no need to wait more. */
static void offers_in(ss_client *c, uint64_t now) {
  for (size_t i = 0; i < c->npeers; i++)
    if (c->peers[i].asked && !c->peers[i].answered && !c->peers[i].banned) return;
  choose(c, now);
}

void ss_on_msg(ss_client *c, const char *peer, const uint8_t *p, size_t len, uint64_t now) {
  begin_event(c);
  int pi = find_peer(c, peer);
  if (pi < 0 || c->peers[pi].banned || c->ph == SS_PH_DONE || c->ph == SS_PH_FALLBACK ||
      c->ph == SS_PH_IDLE)
    return;
  ss_wire *w = malloc(sizeof *w); /* 8 KiB of subtree hashes */
  if (!w) return;
  ss_refusal r;
  cx_err e = ss_decode(p, len, w, &r);
  if (e) {
    /* a request kind that does not decode is not the client's business */
    if (w->kind != SS_OFFER_REQ && w->kind != SS_MANIFEST_REQ && w->kind != SS_CHUNK_REQ) {
      refuse(c, pi, "%s: %s", r.what, r.why);
      if (c->ph == SS_PH_MANIFEST && c->mpeer == pi) ask_manifest(c, now);
      else if (c->ph == SS_PH_OFFERS) offers_in(c, now);
      else dispatch(c, now);
    }
    free(w);
    return;
  }
  peer_t *pe = &c->peers[pi];
  switch (w->kind) {
    case SS_OFFER:
      if (c->ph != SS_PH_OFFERS || !pe->asked || pe->answered) break;
      pe->answered = 1;
      pe->has_offer = (uint8_t)w->has;
      pe->height = w->height;
      pe->bh = w->block_hash;
      pe->root = w->state_root;
      offers_in(c, now);
      break;
    case SS_MANIFEST:
      if (c->ph == SS_PH_MANIFEST && c->mpeer == pi) on_manifest(c, pi, w, now);
      break;
    case SS_CHUNK:
      if (c->ph == SS_PH_CHUNKS) on_chunk(c, pi, w, now);
      break;
    case SS_GONE:
      if (w->height != c->height || !in_group(c, pi)) break;
      pe->unusable = 1; /* it serves another height now */
      if (c->ph == SS_PH_MANIFEST && c->mpeer == pi) {
        ask_manifest(c, now);
      } else if (c->ph == SS_PH_CHUNKS) {
        release_peer(c, pi);
        dispatch(c, now);
      }
      break;
    default:
      break; /* requests: the serving side */
  }
  free(w);
}

void ss_tick(ss_client *c, uint64_t now) {
  begin_event(c);
  switch (c->ph) {
    case SS_PH_OFFERS:
      if (now >= c->deadline) choose(c, now);
      break;
    case SS_PH_MANIFEST:
      if (now >= c->deadline) {
        c->peers[c->mpeer].timeouts++;
        c->peers[c->mpeer].unusable = 1;
        ask_manifest(c, now);
      }
      break;
    case SS_PH_CHUNKS:
      for (unsigned i = 0; i < SS_CHUNKS; i++) {
        chunk_t *ch = &c->chunks[i];
        if (ch->state != C_ASKED || now < ch->deadline) continue;
        int pi = ch->peer;
        chunk_reset(ch); /* from the start, of another peer */
        if (++c->peers[pi].timeouts >= MAX_TIMEOUTS) {
          c->peers[pi].unusable = 1;
          release_peer(c, pi);
        }
      }
      dispatch(c, now);
      break;
    default:
      break;
  }
}

void ss_on_validators(ss_client *c, const cx_pubkey *keys, size_t n, cx_err e, uint64_t now) {
  (void)now;
  begin_event(c);
  if (c->ph != SS_PH_VERIFY) return;
  if (e) {
    fallback(c, "the validator set of the installed state cannot be read (%s)", cx_err_name(e));
    return;
  }
  if (cert_verify(&c->certd, &c->cfg.chain_id, c->height, &c->bh, keys, n) != CX_OK) {
    fallback(c, "the certificate of block %llu does not verify against the validator set of the "
             "installed state (the set changed at that block?)", (unsigned long long)c->height);
    return;
  }
  ss_action *a = push(c, SS_ACT_FINISH);
  if (!a) {
    fallback(c, "out of memory");
    return;
  }
  c->ph = SS_PH_FINISH;
  a->height = c->height;
  a->block = c->block;
  a->block_len = c->block_len;
  a->cert = c->cert;
  a->cert_len = c->cert_len;
  a->block_hash = c->bh;
  a->parent = c->parent;
  a->root = c->root;
}

void ss_on_finished(ss_client *c, cx_err e, const char *why) {
  begin_event(c);
  if (c->ph != SS_PH_FINISH) return;
  if (e) {
    fallback(c, "the install failed: %s (%s)", why && why[0] ? why : "no detail", cx_err_name(e));
    return;
  }
  c->installing = 0;
  chunks_free(c);
  c->ph = SS_PH_DONE;
  ss_action *a = push(c, SS_ACT_DONE);
  if (a) a->height = c->height;
}

void ss_fail(ss_client *c, const char *why) {
  begin_event(c);
  fallback(c, "%s", why);
}

int ss_next(ss_client *c, ss_action *out) {
  if (c->head == c->nacts) return 0;
  *out = c->acts[c->head++];
  return 1;
}

const char *ss_phase_name(ss_phase p) {
  static const char *const names[] = {"idle",   "offers", "manifest", "chunks",
                                      "verify", "finish", "done",     "fallback"};
  return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "unknown";
}

void ss_progress_get(const ss_client *c, ss_progress *out) {
  memset(out, 0, sizeof *out);
  out->phase = c->ph;
  out->height = c->ph >= SS_PH_CHUNKS || c->ph == SS_PH_MANIFEST ? c->height : 0;
  out->chunks_done = c->done;
  out->chunks_fetched = c->fetched;
  out->refused = c->refused;
  out->restarts = c->restarts;
}
