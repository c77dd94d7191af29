/* link: one member link as a pure state machine (link.h).
 *
 * Session handling follows WireGuard (Donenfeld, NDSS 2017, sections 5.4
 * and 6; the kernel's noise.c / receive.c / timers.c):
 *
 *  - three session roles: cur (we send on it), prev (the one before, kept
 *    so frames in flight still decrypt) and next (a responder session, not
 *    yet confirmed: the initiator may not have our msg2 yet, so we may not
 *    send on it: key confirmation, section 5.4). A data frame that
 *    authenticates under next confirms it and makes it cur;
 *  - the initiator's session is cur as soon as msg2 is read, and it sends a
 *    keepalive at once so the responder can confirm;
 *  - timers (section 6.2-6.4): handshake retry with doubling backoff, rekey
 *    by age or frame count, hard limits at twice those, a passive
 *    keepalive when we have sent nothing for keepalive_ms, and link death
 *    when nothing valid arrived for dead_ms.
 *
 * Key material (our static key, the pending handshake with its ephemeral
 * key, session keys) lives in one sodium_malloc'd vault per link; a retired
 * session's keys are wiped at once. Everything else here is public. */
#include "link.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* How many retired local indices we remember, so that a late frame for one
 * is told apart (OLD_SESSION) from garbage (UNKNOWN_SESSION). */
#define RETIRED_RING 8
/* RFC 6479 section 2: a ring of 64-bit blocks with one block more than the
 * window needs, so sliding never has to shift bits. */
#define WIN_BLOCKS (LINK_WINDOW / 64 + 1)
#define NSESS 3
/* How often new_index() asks io.random before walking deterministically. */
#define INDEX_TRIES 16

_Static_assert(LINK_WINDOW % 64 == 0, "window is whole 64-bit blocks");
_Static_assert(LINK_INIT_BODY == NOISE_MSG1_LEN(LINK_INIT_PAYLOAD), "init body is msg1");
_Static_assert(LINK_RESP_BODY == NOISE_MSG2_LEN(LINK_RESP_PAYLOAD), "resp body is msg2");

typedef struct {
  int any;      /* a counter was accepted yet */
  uint64_t top; /* the highest accepted counter */
  uint64_t bits[WIN_BLOCKS];
} window;

typedef struct {
  int live;
  uint32_t local;  /* our index: the peer puts it in frames to us */
  uint32_t remote; /* the peer's index: we put it in frames to the peer */
  uint64_t created_ms;
  uint64_t send_n; /* next counter we send */
  /* Link-wide order of the first data frame received under this session
   * (0: none yet). The session the peer switched to last is the one it
   * sends on; see make_room(). */
  uint64_t first_rx;
  uint64_t seq; /* link-wide creation order */
  window win;
} session;

/* Secrets, in guarded memory. keys[i] belongs to sess[i]. */
typedef struct {
  uint8_t s_priv[32];
  uint8_t e_priv[32]; /* a fresh ephemeral key, wiped right after use */
  noise_hs hs;        /* pending initiator handshake */
  uint8_t keys[NSESS][2][32]; /* [KEY_SEND], [KEY_RECV] */
} vault;
enum { KEY_SEND = 0, KEY_RECV = 1 };

struct peer_link {
  unsigned slot;
  uint8_t prologue[LINK_PROLOGUE_MAX];
  size_t prologue_len;
  uint8_t rs[32];
  link_params p;
  link_io io;
  vault *v;

  session sess[NSESS];
  session *cur, *prev, *next;

  /* Our handshake as initiator. hs_live: under way (retry timer runs);
   * hs_valid: v->hs can read a msg2 (a refused DH leaves it unusable but
   * still retried with backoff rather than every tick). */
  int hs_live, hs_valid;
  uint32_t hs_local;
  uint64_t hs_retry_at;
  uint64_t hs_backoff;
  uint64_t hs_seq;  /* session_seq when the handshake began */
  uint64_t ts_sent; /* last msg1 timestamp we sent */

  /* The peer's inits we accepted: replay and rate protection. */
  int ts_seen;
  uint64_t ts_peer;
  int accepted;
  uint64_t accept_ms;

  uint64_t last_rx_ms; /* last valid frame of any kind */
  uint64_t last_tx_ms; /* last data frame (message or keepalive) sent */
  uint64_t rx_seq, session_seq;
  uint32_t retired[RETIRED_RING];
  unsigned retired_pos;
  uint64_t handshakes;
};

/* ------------------------------------------------------------------------ */
/* byte order, time                                                         */
/* ------------------------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}
static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t get32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint64_t get64(const uint8_t *p) {
  return ((uint64_t)get32(p) << 32) | get32(p + 4);
}

/* Milliseconds from then to now; a clock that went back counts as 0. */
static uint64_t elapsed(uint64_t now, uint64_t then) { return now > then ? now - then : 0; }

static uint64_t twice(uint64_t v) { return v > UINT64_MAX / 2 ? UINT64_MAX : 2 * v; }

/* ------------------------------------------------------------------------ */
/* header                                                                   */
/* ------------------------------------------------------------------------ */

void link_hdr_encode(const link_hdr *h, uint8_t out[LINK_HDR]) {
  out[0] = h->version;
  out[1] = h->kind;
  put16(out + 2, h->flags);
  put32(out + 4, h->len);
  put32(out + 8, h->receiver);
  put64(out + 12, h->counter);
}

int link_hdr_decode(const uint8_t *buf, size_t len, size_t max_payload, link_hdr *h) {
  memset(h, 0, sizeof *h);
  if (len < LINK_HDR) return NET_R_MALFORMED;
  h->version = buf[0];
  h->kind = buf[1];
  h->flags = get16(buf + 2);
  h->len = get32(buf + 4);
  h->receiver = get32(buf + 8);
  h->counter = get64(buf + 12);
  /* Cheap checks first and the declared length before anything else
   * (docs/net.md "Framing"): nothing is allocated from an unchecked length. */
  if (h->version != LINK_VERSION) return NET_R_VERSION;
  if (h->kind < LINK_HS_INIT || h->kind > LINK_DATA) return NET_R_MALFORMED;
  if (h->flags != 0) return NET_R_MALFORMED;
  if (h->kind == LINK_DATA && h->len > 1 + NOISE_TAG && h->len - (1 + NOISE_TAG) > max_payload)
    return NET_R_OVERSIZED;
  if ((uint64_t)h->len != (uint64_t)(len - LINK_HDR)) return NET_R_MALFORMED;
  if (h->kind == LINK_HS_INIT && h->len != LINK_INIT_BODY) return NET_R_MALFORMED;
  if (h->kind == LINK_HS_RESP && h->len != LINK_RESP_BODY) return NET_R_MALFORMED;
  if (h->kind == LINK_DATA && h->len < 1 + NOISE_TAG) return NET_R_MALFORMED;
  return -1;
}

/* ------------------------------------------------------------------------ */
/* replay window (RFC 6479)                                                 */
/* ------------------------------------------------------------------------ */

/* 1 when counter c was not seen and is not left of the window. Read only:
 * it runs after the AEAD check, and only update() moves the window. */
static int win_check(const window *w, uint64_t c) {
  if (!w->any || c > w->top) return 1;
  if (w->top - c >= LINK_WINDOW) return 0;
  uint64_t block = (c >> 6) % WIN_BLOCKS;
  return !((w->bits[block] >> (c & 63)) & 1);
}

static void win_update(window *w, uint64_t c) {
  if (!w->any) {
    memset(w->bits, 0, sizeof w->bits);
    w->any = 1;
    w->top = c;
  } else if (c > w->top) {
    /* clear the blocks the window slides over (at most all of them) */
    uint64_t cur = w->top >> 6, diff = (c >> 6) - cur;
    if (diff > WIN_BLOCKS) diff = WIN_BLOCKS;
    for (uint64_t i = 1; i <= diff; i++) w->bits[(cur + i) % WIN_BLOCKS] = 0;
    w->top = c;
  }
  w->bits[(c >> 6) % WIN_BLOCKS] |= UINT64_C(1) << (c & 63);
}

/* ------------------------------------------------------------------------ */
/* sessions                                                                 */
/* ------------------------------------------------------------------------ */

static uint8_t *key_of(peer_link *l, const session *s, int which) {
  return l->v->keys[s - l->sess][which];
}

static int was_retired(const peer_link *l, uint32_t idx) {
  for (unsigned i = 0; i < RETIRED_RING; i++)
    if (l->retired[i] == idx) return 1;
  return 0;
}

static int index_in_use(const peer_link *l, uint32_t idx) {
  for (int i = 0; i < NSESS; i++)
    if (l->sess[i].live && l->sess[i].local == idx) return 1;
  if (l->hs_live && l->hs_local == idx) return 1;
  return was_retired(l, idx);
}

/* A fresh local index: our slot in the top byte (net/ routes data frames by
 * it), 24 random bits below, never zero (0 marks a handshake init) and not
 * one we use or remember. A broken random source cannot make this spin: after
 * a few draws we walk from the last one. */
static uint32_t new_index(peer_link *l) {
  uint32_t low = 0;
  for (int i = 0; i < INDEX_TRIES; i++) {
    uint8_t b[3];
    l->io.random(l->io.ctx, b, sizeof b);
    low = ((uint32_t)b[0] << 16) | ((uint32_t)b[1] << 8) | b[2];
    if (low && !index_in_use(l, (uint32_t)l->slot << 24 | low)) return (uint32_t)l->slot << 24 | low;
  }
  for (;;) { /* at most NSESS + 1 + RETIRED_RING indices are taken */
    low = (low + 1) & 0xffffff;
    if (low && !index_in_use(l, (uint32_t)l->slot << 24 | low)) return (uint32_t)l->slot << 24 | low;
  }
}

/* Wipes a session's keys and remembers its index. Role pointers are the
 * caller's business. */
static void retire(peer_link *l, session *s) {
  if (!s || !s->live) return;
  l->retired[l->retired_pos++ % RETIRED_RING] = s->local;
  sodium_memzero(l->v->keys[s - l->sess], sizeof l->v->keys[0]);
  memset(s, 0, sizeof *s);
}

static session *alloc_session(peer_link *l, uint64_t now, uint32_t local, uint32_t remote) {
  for (int i = 0; i < NSESS; i++) {
    session *s = &l->sess[i];
    if (s->live) continue;
    memset(s, 0, sizeof *s);
    s->live = 1;
    s->local = local;
    s->remote = remote;
    s->created_ms = now;
    s->seq = ++l->session_seq;
    return s;
  }
  CX_ASSERT(!"no free session slot"); /* make_room() / next retirement guarantee one */
  return NULL;
}

static session *find_session(peer_link *l, uint32_t idx) {
  session *roles[3] = {l->cur, l->prev, l->next};
  for (int i = 0; i < 3; i++)
    if (roles[i] && roles[i]->local == idx) return roles[i];
  return NULL;
}

/* Order in which the peer started sending on s: a session that never
 * received a data frame is the newest of all (the peer may be switching to
 * it right now). */
static uint64_t rx_rank(const session *s) { return s->first_rx ? s->first_rx : UINT64_MAX; }

/* Before a session becomes cur, cur moves to prev; when both are taken one
 * has to go. WireGuard drops prev. We drop whichever of the two the peer
 * started sending on first (prev on a tie): normally that is prev, but after
 * simultaneous handshakes each side may send on the session the other holds
 * as prev ("cross-wired"), and dropping that one would lose the peer's
 * frames until it moves on. */
static void make_room(peer_link *l) {
  if (!l->cur || !l->prev) return;
  session *keep = l->cur, *drop = l->prev;
  if (rx_rank(drop) > rx_rank(keep)) {
    keep = l->prev;
    drop = l->cur;
  }
  retire(l, drop);
  l->cur = keep;
  l->prev = NULL;
}

/* s becomes the session we send on. */
static void make_current(peer_link *l, session *s) {
  make_room(l);
  if (l->next == s) l->next = NULL;
  l->prev = l->cur;
  l->cur = s;
  l->handshakes++;
}

static void drop_all(peer_link *l) {
  retire(l, l->next);
  retire(l, l->prev);
  retire(l, l->cur);
  l->cur = l->prev = l->next = NULL;
}

static int needs_rekey(const peer_link *l, const session *s, uint64_t now) {
  return elapsed(now, s->created_ms) >= l->p.rekey_ms || s->send_n >= l->p.rekey_msgs;
}

/* Hard limits: twice the rekey limits (WireGuard's REJECT_AFTER_*), and
 * never the reserved nonce 2^64-1 (Noise section 5.1). */
static int usable(const peer_link *l, const session *s, uint64_t now) {
  return elapsed(now, s->created_ms) < twice(l->p.rekey_ms) &&
         s->send_n < twice(l->p.rekey_msgs) && s->send_n < UINT64_MAX - 1;
}

/* Seals one data frame on s into out (len + LINK_OVERHEAD bytes). */
static size_t seal_frame(peer_link *l, session *s, uint64_t now, unsigned type, const uint8_t *payload,
                         size_t len, uint8_t *out) {
  link_hdr h = {LINK_VERSION, LINK_DATA, 0, (uint32_t)(len + 1 + NOISE_TAG), s->remote, s->send_n};
  if (len) memmove(out + LINK_HDR + 1, payload, len);
  link_hdr_encode(&h, out);
  out[LINK_HDR] = (uint8_t)type;
  /* the whole header is the AD: a changed index or counter fails the tag */
  cx_err e = noise_seal(key_of(l, s, KEY_SEND), s->send_n, out, LINK_HDR, out + LINK_HDR, 1 + len,
                        out + LINK_HDR);
  CX_ASSERT(e == CX_OK); /* usable() keeps send_n below 2^64-1 */
  s->send_n++;
  l->last_tx_ms = now;
  return len + LINK_OVERHEAD;
}

static void send_keepalive(peer_link *l, session *s, uint64_t now) {
  uint8_t frame[LINK_OVERHEAD];
  size_t n = seal_frame(l, s, now, NET_MSG_KEEPALIVE, NULL, 0, frame);
  l->io.send(l->io.ctx, frame, n);
}

/* ------------------------------------------------------------------------ */
/* initiator handshake                                                      */
/* ------------------------------------------------------------------------ */

static void hs_abandon(peer_link *l) {
  noise_hs_wipe(&l->v->hs);
  l->hs_live = l->hs_valid = 0;
}

/* Sends a fresh msg1 (new ephemeral key, index and timestamp each attempt,
 * as WireGuard does) and replaces any pending one. */
static void hs_send_init(peer_link *l, uint64_t now) {
  vault *v = l->v;
  hs_abandon(l);
  uint32_t idx = new_index(l);
  /* The responder refuses a timestamp not above the last it accepted
   * (WireGuard's TAI64N timestamp, section 5.4.2): strictly increasing
   * even when the clock stands still or steps back. */
  uint64_t ts = now > l->ts_sent ? now : l->ts_sent + 1;
  uint8_t payload[LINK_INIT_PAYLOAD];
  put32(payload, idx);
  put64(payload + 4, ts);

  uint8_t frame[LINK_HDR + LINK_INIT_BODY];
  link_hdr h = {LINK_VERSION, LINK_HS_INIT, 0, LINK_INIT_BODY, 0, 0};
  link_hdr_encode(&h, frame);
  noise_hs_init(&v->hs, 1, l->prologue, l->prologue_len, v->s_priv, l->rs);
  l->io.random(l->io.ctx, v->e_priv, sizeof v->e_priv);
  size_t n = 0;
  cx_err e = noise_write_msg1(&v->hs, v->e_priv, payload, sizeof payload, frame + LINK_HDR,
                              LINK_INIT_BODY, &n);
  sodium_memzero(v->e_priv, sizeof v->e_priv);
  l->ts_sent = ts;
  l->hs_local = idx;
  l->hs_live = 1;
  /* A refusal means the peer's static key is a low-order point: nothing
   * will ever complete, but the retry timer still paces the attempts. */
  l->hs_valid = e == CX_OK;
  if (e == CX_OK) {
    CX_ASSERT(n == LINK_INIT_BODY);
    l->io.send(l->io.ctx, frame, sizeof frame);
  } else {
    noise_hs_wipe(&v->hs);
  }
}

static void hs_start(peer_link *l, uint64_t now) {
  l->hs_backoff = l->p.hs_retry_ms;
  l->hs_seq = l->session_seq;
  hs_send_init(l, now);
  l->hs_retry_at = now + l->hs_backoff;
}

static void hs_retry(peer_link *l, uint64_t now) {
  l->hs_backoff = twice(l->hs_backoff);
  if (l->hs_backoff > l->p.hs_retry_max_ms) l->hs_backoff = l->p.hs_retry_max_ms;
  hs_send_init(l, now);
  l->hs_retry_at = now + l->hs_backoff;
}

/* ------------------------------------------------------------------------ */
/* public                                                                   */
/* ------------------------------------------------------------------------ */

peer_link *link_new(unsigned slot, const uint8_t *prologue, size_t prologue_len,
               const uint8_t s_priv[32], const uint8_t rs[32], const link_params *p,
               const link_io *io) {
  CX_ASSERT(slot >= 1 && slot <= 255);
  CX_ASSERT(prologue_len <= LINK_PROLOGUE_MAX && (prologue || prologue_len == 0));
  CX_ASSERT(s_priv && rs && p && io && io->send && io->random);
  /* sodium_malloc needs an initialised library; sodium_init is idempotent */
  if (sodium_init() < 0) return NULL;
  peer_link *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->v = sodium_malloc(sizeof *l->v);
  if (!l->v) {
    free(l);
    return NULL;
  }
  sodium_memzero(l->v, sizeof *l->v);
  memcpy(l->v->s_priv, s_priv, 32);
  l->slot = slot;
  if (prologue_len) memcpy(l->prologue, prologue, prologue_len);
  l->prologue_len = prologue_len;
  memcpy(l->rs, rs, 32);
  l->p = *p;
  /* zero intervals would retry on every tick; keep the backoff sane */
  if (l->p.hs_retry_ms == 0) l->p.hs_retry_ms = 1;
  if (l->p.hs_retry_max_ms < l->p.hs_retry_ms) l->p.hs_retry_max_ms = l->p.hs_retry_ms;
  l->io = *io;
  return l;
}

void link_free(peer_link *l) {
  if (!l) return;
  sodium_memzero(l->v, sizeof *l->v);
  sodium_free(l->v);
  sodium_memzero(l, sizeof *l);
  free(l);
}

cx_err link_seal(peer_link *l, uint64_t now_ms, unsigned type, const uint8_t *payload, size_t len,
                 uint8_t *out, size_t *outlen) {
  CX_ASSERT(type <= 255 && len <= l->p.max_payload && out && outlen);
  CX_ASSERT(len == 0 || payload);
  session *s = l->cur;
  if (!s || !usable(l, s, now_ms)) {
    /* A responder session waiting for confirmation will be usable within a
     * round trip; a second handshake would only race it. */
    if (!l->hs_live && !l->next) hs_start(l, now_ms);
    return CX_E_NO_SESSION;
  }
  if (!l->hs_live && needs_rekey(l, s, now_ms)) hs_start(l, now_ms);
  *outlen = seal_frame(l, s, now_ms, type, payload, len, out);
  return CX_OK;
}

/* Why a frame naming idx (not our pending handshake) is refused. */
static int stale_reason(const peer_link *l, uint32_t idx) {
  return was_retired(l, idx) ? NET_R_OLD_SESSION : NET_R_UNKNOWN_SESSION;
}

/* msg2 of our pending handshake. */
static link_in_result on_resp(peer_link *l, uint64_t now, const link_hdr *hdr, uint8_t *frame,
                              size_t len, int *reject) {
  if (!l->hs_live || !l->hs_valid || hdr->receiver != l->hs_local) {
    /* a second copy of the msg2 that made a live session is a replay */
    *reject = find_session(l, hdr->receiver) ? NET_R_REPLAY : stale_reason(l, hdr->receiver);
    return LINK_IN_REJECT;
  }
  uint8_t pl[LINK_RESP_PAYLOAD];
  size_t pn = 0;
  /* noise_read_msg2 leaves v->hs untouched on failure: forged responses
   * cannot kill the handshake they name. */
  if (noise_read_msg2(&l->v->hs, frame + LINK_HDR, len - LINK_HDR, pl, sizeof pl, &pn) != CX_OK ||
      pn != LINK_RESP_PAYLOAD) {
    *reject = NET_R_HANDSHAKE;
    return LINK_IN_REJECT;
  }
  uint32_t remote = get32(pl);
  if (remote == 0) { /* authentic but unusable: a broken peer; retry later */
    hs_abandon(l);
    l->hs_live = 1;
    *reject = NET_R_HANDSHAKE;
    return LINK_IN_REJECT;
  }
  make_room(l);
  session *s = alloc_session(l, now, l->hs_local, remote);
  uint8_t hash[32];
  noise_split(&l->v->hs, key_of(l, s, KEY_SEND), key_of(l, s, KEY_RECV), hash);
  sodium_memzero(hash, sizeof hash);
  l->hs_live = l->hs_valid = 0;
  make_current(l, s);
  l->last_rx_ms = now;
  /* key confirmation for the responder (WireGuard section 5.4) */
  send_keepalive(l, s, now);
  return LINK_IN_NONE;
}

static link_in_result on_data(peer_link *l, uint64_t now, const link_hdr *hdr, uint8_t *frame,
                              size_t len, unsigned *type, const uint8_t **payload, size_t *plen,
                              int *reject) {
  if (len < LINK_OVERHEAD) { /* link_hdr_decode refuses these already */
    *reject = NET_R_MALFORMED;
    return LINK_IN_REJECT;
  }
  session *s = find_session(l, hdr->receiver);
  if (!s) {
    *reject = stale_reason(l, hdr->receiver);
    return LINK_IN_REJECT;
  }
  /* Authenticate first, the window second (WireGuard receive.c): a forged
   * counter must not move the window or mark anything seen. */
  if (noise_open(key_of(l, s, KEY_RECV), hdr->counter, frame, LINK_HDR, frame + LINK_HDR,
                 len - LINK_HDR, frame + LINK_HDR) != CX_OK) {
    *reject = NET_R_AUTH;
    return LINK_IN_REJECT;
  }
  if (!win_check(&s->win, hdr->counter)) {
    *reject = NET_R_REPLAY;
    return LINK_IN_REJECT;
  }
  win_update(&s->win, hdr->counter);
  if (!s->first_rx) s->first_rx = ++l->rx_seq;
  l->last_rx_ms = now;
  if (s == l->next) make_current(l, s); /* the initiator has our msg2: confirmed */
  unsigned t = frame[LINK_HDR];
  if (t == NET_MSG_KEEPALIVE) return LINK_IN_NONE;
  *type = t;
  *payload = frame + LINK_HDR + 1;
  *plen = len - LINK_OVERHEAD;
  return LINK_IN_MESSAGE;
}

link_in_result link_input(peer_link *l, uint64_t now_ms, const link_hdr *hdr, uint8_t *frame,
                          size_t len, unsigned *type, const uint8_t **payload, size_t *plen,
                          int *reject) {
  CX_ASSERT(l && hdr && frame && type && payload && plen && reject);
  *reject = -1;
  /* net/ decoded hdr from these bytes; refuse rather than trust a mismatch */
  if (len < LINK_HDR || (uint64_t)hdr->len != (uint64_t)(len - LINK_HDR)) {
    *reject = NET_R_MALFORMED;
    return LINK_IN_REJECT;
  }
  /* inits go through link_accept_init; a response must be msg2-sized */
  int resp = hdr->kind == LINK_HS_RESP && len == LINK_HDR + LINK_RESP_BODY;
  if (!resp && hdr->kind != LINK_DATA) {
    *reject = NET_R_MALFORMED;
    return LINK_IN_REJECT;
  }
  if (link_index_slot(hdr->receiver) != l->slot) {
    *reject = NET_R_UNKNOWN_SESSION;
    return LINK_IN_REJECT;
  }
  if (resp) return on_resp(l, now_ms, hdr, frame, len, reject);
  return on_data(l, now_ms, hdr, frame, len, type, payload, plen, reject);
}

int link_accept_init(peer_link *l, uint64_t now_ms, noise_hs *hs, const uint8_t *payload,
                     size_t plen) {
  CX_ASSERT(l && hs && !hs->initiator);
  vault *v = l->v;
  int r = -1;
  if (plen != LINK_INIT_PAYLOAD || !payload) {
    r = NET_R_HANDSHAKE;
    goto out;
  }
  /* net/ matched the sender by this key already; a mismatch is not ours */
  if (sodium_memcmp(hs->rs, l->rs, 32) != 0) {
    r = NET_R_NOT_MEMBER;
    goto out;
  }
  uint32_t remote = get32(payload);
  uint64_t ts = get64(payload + 4);
  if (remote == 0) {
    r = NET_R_HANDSHAKE;
    goto out;
  }
  /* WireGuard section 5.4.2: a replayed init must not reset a live session */
  if (l->ts_seen && ts <= l->ts_peer) {
    r = NET_R_HS_REPLAY;
    goto out;
  }
  /* ... and a flood of fresh ones must not keep us busy (section 5.3) */
  if (l->accepted && elapsed(now_ms, l->accept_ms) < l->p.hs_min_interval_ms) {
    r = NET_R_RATE;
    goto out;
  }
  uint32_t idx = new_index(l);
  uint8_t pl[LINK_RESP_PAYLOAD];
  put32(pl, idx);
  uint8_t frame[LINK_HDR + LINK_RESP_BODY];
  link_hdr h = {LINK_VERSION, LINK_HS_RESP, 0, LINK_RESP_BODY, remote, 0};
  link_hdr_encode(&h, frame);
  l->io.random(l->io.ctx, v->e_priv, sizeof v->e_priv);
  size_t n = 0;
  cx_err e = noise_write_msg2(hs, v->e_priv, pl, sizeof pl, frame + LINK_HDR, LINK_RESP_BODY, &n);
  sodium_memzero(v->e_priv, sizeof v->e_priv);
  if (e != CX_OK) {
    r = NET_R_HANDSHAKE;
    goto out;
  }
  /* A newer init replaces an unconfirmed responder session. */
  if (l->next) {
    retire(l, l->next);
    l->next = NULL;
  }
  session *s = alloc_session(l, now_ms, idx, remote);
  uint8_t hash[32];
  noise_split(hs, key_of(l, s, KEY_RECV), key_of(l, s, KEY_SEND), hash);
  sodium_memzero(hash, sizeof hash);
  l->next = s;
  l->ts_seen = 1;
  l->ts_peer = ts;
  l->accepted = 1;
  l->accept_ms = now_ms;
  l->last_rx_ms = now_ms;
  l->io.send(l->io.ctx, frame, sizeof frame);
out:
  noise_hs_wipe(hs);
  return r;
}

void link_tick(peer_link *l, uint64_t now_ms) {
  /* Death (WireGuard section 6): nothing valid for dead_ms since
   * the last frame or the session's start. Keys go; a handshake restarts. */
  if ((l->cur || l->next) && elapsed(now_ms, l->last_rx_ms) >= l->p.dead_ms) {
    drop_all(l);
    if (!l->hs_live) hs_start(l, now_ms);
  }
  if (l->hs_live) {
    if (now_ms >= l->hs_retry_at) {
      /* A session the peer's handshake made since ours began serves the
       * same purpose: stop retrying (WireGuard clears its retransmit timer
       * on any completed handshake). */
      if (l->cur && l->cur->seq > l->hs_seq && !needs_rekey(l, l->cur, now_ms) &&
          link_connected(l, now_ms))
        hs_abandon(l);
      else
        hs_retry(l, now_ms);
    }
  } else if (!l->cur && !l->next) {
    hs_start(l, now_ms); /* no session and nothing under way: connect */
  } else if (l->cur && needs_rekey(l, l->cur, now_ms)) {
    hs_start(l, now_ms);
  }
  /* Passive keepalive (section 6.5): the peer hears from us at least every
   * keepalive_ms, so its dead timer only fires when we are really gone. */
  if (l->cur && usable(l, l->cur, now_ms) && elapsed(now_ms, l->last_tx_ms) >= l->p.keepalive_ms)
    send_keepalive(l, l->cur, now_ms);
}

void link_rekey(peer_link *l, uint64_t now_ms) { hs_start(l, now_ms); }

int link_connected(const peer_link *l, uint64_t now_ms) {
  return l->cur != NULL && elapsed(now_ms, l->last_rx_ms) < l->p.dead_ms;
}

uint64_t link_handshakes(const peer_link *l) { return l->handshakes; }

const uint8_t *link_remote_static(const peer_link *l) { return l->rs; }
