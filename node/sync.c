/* sync.c: block sync (NET_MSG_SYNC) — our height announced, GETs answered
 * from the store on the net thread, BLOCKS batches checked against their
 * certificates and committed on the consensus thread (node_internal.h).
 * (docs/consensus.md, "The node's wiring", Block sync; docs/net.md,
 * "Delivery".) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "log.h"
#include "net.h"
#include "node_internal.h"

#define SYNC_RETRY_MS 2000          /* an unanswered GET is re-sent after this */

/* ---- block sync (NET_MSG_SYNC) ----
 * Wire format: node_internal.h (sync_decode). A BLOCKS message stays under
 * SYNC_MAX_BYTES unless its first block alone is larger. Every block is
 * checked against its certificate and executed before it is committed. */

static cx_err sync_refuse(node_refusal *r, cx_err e, const char *what, const char *why) {
  if (r) {
    r->what = what;
    r->why = why;
  }
  return e;
}

cx_err sync_decode(const uint8_t *p, size_t len, sync_wire *out, node_refusal *r) {
  cx_dec d;
  uint8_t ver = 0, kind = 0;
  cx_err e;
  out->kind = 0;
  out->height = out->base = out->from = out->max = out->count = 0;
  out->nblocks = 0;
  dec_init(&d, p, len);
  if (dec_u8(&d, &ver) || ver != SYNC_WIRE_VERSION || dec_u8(&d, &kind))
    return sync_refuse(r, d.err ? d.err : CX_E_BAD_VERSION, "sync message", "unknown version");
  switch (kind) {
    case SYNC_STATUS:
      out->kind = kind;
      if (!dec_varint(&d, &out->height)) dec_varint(&d, &out->base);
      if ((e = dec_finish(&d))) return sync_refuse(r, e, "sync message", "malformed");
      return CX_OK;
    case SYNC_GET:
      out->kind = kind;
      if (!dec_varint(&d, &out->from)) dec_varint(&d, &out->max);
      if ((e = dec_finish(&d))) return sync_refuse(r, e, "sync message", "malformed");
      return CX_OK;
    case SYNC_BLOCKS: {
      uint64_t count = 0;
      out->kind = kind;
      if (dec_varint_max(&d, &count, SYNC_MAX_BLOCKS))
        return sync_refuse(r, d.err, "blocks", "bad count");
      out->count = count;
      for (uint64_t i = 0; i < count; i++) {
        const uint8_t *bp, *cp;
        size_t bl, cl;
        if (dec_bytes(&d, &bp, &bl, CX_BLOCK_MAX_BYTES) || dec_bytes(&d, &cp, &cl, SYNC_CERT_MAX))
          return sync_refuse(r, d.err, "blocks", "malformed");
        out->b[i].block = bp;
        out->b[i].block_len = bl;
        out->b[i].cert = cp;
        out->b[i].cert_len = cl;
        out->nblocks++;
      }
      /* The entries decoded so far stay usable (each is checked by its
       * certificate); bytes after the last entry are refused. */
      if ((e = dec_finish(&d))) return sync_refuse(r, e, "blocks", "trailing bytes");
      return CX_OK;
    }
    default:
      return sync_refuse(r, CX_E_BAD_ENUM, "sync message", "malformed");
  }
}

void sync_send_status(node *n, const char *to) {
  if (!n->net) return;
  if (!to) n->status_sent_mono = n->clock->mono_ms(n->clock);
  uint8_t buf[24];
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, SYNC_WIRE_VERSION);
  enc_u8(&e, SYNC_STATUS);
  enc_varint(&e, store_height(n->st));
  enc_varint(&e, store_base(n->st));
  if (enc_finish(&e) == CX_OK && e.len <= sizeof buf) {
    if (to)
      net_send(n->net, to, NET_MSG_SYNC, e.buf, e.len);
    else
      net_broadcast(n->net, NET_MSG_SYNC, e.buf, e.len);
  }
  enc_free(&e);
}

/* Asks `to` for the blocks after ours unless a request is outstanding. */
static void sync_request(node *n, const char *to, int force) {
  uint64_t now = n->clock->mono_ms(n->clock);
  pthread_mutex_lock(&n->smu);
  if (!force && now < n->sync_req_until) {
    pthread_mutex_unlock(&n->smu);
    return;
  }
  n->sync_req_until = now + SYNC_RETRY_MS;
  pthread_mutex_unlock(&n->smu);
  cx_enc e;
  enc_init(&e);
  enc_u8(&e, SYNC_WIRE_VERSION);
  enc_u8(&e, SYNC_GET);
  enc_varint(&e, store_height(n->st) + 1);
  enc_varint(&e, SYNC_MAX_BLOCKS);
  if (enc_finish(&e) == CX_OK) net_send(n->net, to, NET_MSG_SYNC, e.buf, e.len);
  enc_free(&e);
}

static void serve_get(node *n, const char *to, uint64_t from, uint64_t max) {
  uint64_t top = store_height(n->st);
  /* below our base there is nothing to send (the asker picks another peer) */
  if (from == 0 || from > top || from < store_base(n->st)) return;
  if (max > SYNC_MAX_BLOCKS) max = SYNC_MAX_BLOCKS;
  cx_enc body;
  enc_init(&body);
  uint64_t count = 0;
  for (uint64_t h = from; h <= top && count < max; h++) {
    uint8_t *b = NULL, *c = NULL;
    size_t bl = 0, cl = 0;
    if (store_block_get(n->st, h, &b, &bl) || store_cert_get(n->st, h, &c, &cl)) {
      free(b);
      break;
    }
    int fits = count == 0 || body.len + bl + cl + 20 <= SYNC_MAX_BYTES;
    if (fits) {
      enc_bytes(&body, b, bl);
      enc_bytes(&body, c, cl);
      count++;
    }
    free(b);
    free(c);
    if (!fits) break;
  }
  if (count && enc_finish(&body) == CX_OK) {
    cx_enc e;
    enc_init(&e);
    enc_u8(&e, SYNC_WIRE_VERSION);
    enc_u8(&e, SYNC_BLOCKS);
    enc_varint(&e, count);
    enc_fixed(&e, body.buf, body.len);
    if (enc_finish(&e) == CX_OK) net_send(n->net, to, NET_MSG_SYNC, e.buf, e.len);
    enc_free(&e);
  }
  enc_free(&body);
}

/* Net thread. STATUS and GET are answered here (store reads are safe from
 * any thread); BLOCKS go to the consensus thread. */
void sync_on_msg(void *ctx, const char *from, unsigned type, const uint8_t *p, size_t len) {
  node *n = ctx;
  sync_wire wire, *w = &wire; /* ~2 KiB */
  node_refusal r;
  cx_err e = sync_decode(p, len, w, &r);
  if (w->kind == SYNC_BLOCKS) {
    /* checked entry by entry on the consensus thread (sync_apply_blocks) */
    qev ev = {.type = QE_BLOCKS};
    snprintf(ev.from, sizeof ev.from, "%s", from);
    if ((ev.data = malloc(len))) {
      memcpy(ev.data, p, len);
      ev.len = len;
      host_enqueue(n, &ev);
    }
  } else if (e) {
    node_refuse(n, &n->sync_bad, r.what, from, r.why);
  } else if (w->kind == SYNC_STATUS) {
    uint64_t a = w->height, mine = store_height(n->st);
    /* Not while state sync runs (it decides where block sync starts), and
     * only from a peer that holds the block we need next. */
    if (a > mine && !__atomic_load_n(&n->ss_active, __ATOMIC_ACQUIRE) && w->base <= mine + 1) {
      pthread_mutex_lock(&n->smu);
      if (a > n->best_peer_height) {
        n->best_peer_height = a;
        snprintf(n->best_peer, sizeof n->best_peer, "%s", from);
      }
      pthread_mutex_unlock(&n->smu);
      sync_request(n, from, 0);
    } else if (a < mine) {
      /* A peer behind us, often one just restarted: its first STATUS left
       * when its links came up. Answering at once lets it ask for the
       * blocks now rather than at our next STATUS (up to STATUS_EVERY_MS
       * later). One small message per STATUS of a lagging member. */
      sync_send_status(n, from);
    }
  } else if (w->kind == SYNC_GET) {
    serve_get(n, from, w->from, w->max);
  }
}

/* Consensus thread: applies a BLOCKS batch in order, each block checked
 * against its certificate (validator set in force at its height, from our
 * state before applying it) and executed before it is committed. */
void sync_apply_blocks(node *n, const qev *ev) {
  uint64_t applied = 0;
  node_refusal r;
  cx_cert *cert = malloc(sizeof *cert);
  sync_wire *w = malloc(sizeof *w);
  if (!cert || !w) {
    free(cert);
    free(w);
    return;
  }
  /* version and kind were checked by sync_on_msg */
  if (sync_decode(ev->data, ev->len, w, &r) && w->count == 0) {
    node_refuse(n, &n->sync_bad, r.what, ev->from, r.why); /* bad count */
    goto out;
  }
  for (uint64_t i = 0; i < w->count && !node_failed(n); i++) {
    cx_block_header h;
    cx_hash bh;
    char why[160];
    if (i >= w->nblocks) {
      node_refuse(n, &n->sync_bad, "blocks", ev->from, "malformed");
      break;
    }
    const uint8_t *bp = w->b[i].block, *cp = w->b[i].cert;
    size_t bl = w->b[i].block_len, cl = w->b[i].cert_len;
    if (block_peek(bp, bl, &h, &bh)) {
      node_refuse(n, &n->sync_bad, "blocks", ev->from, "block does not decode");
      break;
    }
    uint64_t top = store_height(n->st);
    if (h.height <= top) continue; /* already have it */
    if (h.height != top + 1) {
      node_refuse(n, &n->sync_bad, "blocks", ev->from, "not the next height");
      break;
    }
    cx_err e;
    if (cert_decode(cp, cl, cert) || cert->height != h.height ||
        !hash_eq(&cert->block_hash, &bh)) {
      node_refuse(n, &n->sync_bad, "blocks", ev->from, "certificate does not match the block");
      break;
    }
    pthread_mutex_lock(&n->vmu);
    e = cert_verify(cert, &n->chain_id, h.height, &bh, n->vkeys, n->nvk);
    pthread_mutex_unlock(&n->vmu);
    if (e) {
      node_refuse(n, &n->sync_bad, "blocks", ev->from, "certificate does not verify");
      break;
    }
    bcache_ent *ent = blocks_cache_find(n, &bh);
    if (ent && ent->executed != 1) {
      blocks_ent_clear(ent); /* a verdict on the proposal is not one on the certified block */
      ent = NULL;
    }
    if (!ent) {
      ent = blocks_cache_slot(n);
      ent->hash = bh;
      if (!(ent->bytes = malloc(bl))) {
        blocks_ent_clear(ent);
        break;
      }
      memcpy(ent->bytes, bp, bl);
      ent->len = bl;
    }
    if (ent->executed == 0) blocks_exec(n, ent, 1, why, sizeof why);
    if (ent->executed != 1) {
      /* A certified block that does not execute here: a quorum disagrees
       * with our execution (or our state is damaged). Refused loudly. */
      LOG_E("node", "certified block %llu from %s does not execute: %s",
            (unsigned long long)h.height, ev->from, why);
      __atomic_add_fetch(&n->sync_bad, 1, __ATOMIC_RELAXED);
      break;
    }
    bft_event cev;
    if ((e = blocks_commit(n, ent, cert, &cev))) {
      host_fatal(n, e, "cannot commit a synced block");
      break;
    }
    applied++;
    host_drive(n, &cev);
    host_replay_deferred(n);
  }
  if (applied)
    LOG_I("node", "block sync: %llu blocks from %s, height %llu", (unsigned long long)applied,
          ev->from, (unsigned long long)store_height(n->st));
out:
  free(cert);
  free(w);
  /* More to fetch: ask again at once rather than at the next STATUS. */
  pthread_mutex_lock(&n->smu);
  n->sync_req_until = 0;
  uint64_t best = n->best_peer_height;
  char peer[CX_NAME_MAX + 1];
  snprintf(peer, sizeof peer, "%s", n->best_peer);
  pthread_mutex_unlock(&n->smu);
  if (applied && best > store_height(n->st) && peer[0] && !node_failed(n))
    sync_request(n, peer, 1);
}
