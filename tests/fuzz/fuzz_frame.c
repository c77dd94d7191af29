/* fuzz_frame: link_hdr_decode and link_input, the receive path of every
 * member-network frame, on an established link pair.
 *
 * Each input builds the same pair afresh (fixed static keys, a fixed-seed
 * random source, a fixed clock), completes one handshake, then runs the
 * input as a script of operations, one opcode byte each:
 *   0  raw frame: u16 length, bytes -> decode, then b's link_input
 *   1  a seals a message (type byte, length byte, payload from the input)
 *      and b receives it
 *   2  a seals a message and keeps it (a capture)
 *   3  the capture is delivered to b (again)
 *   4  a seals, the input flips one bit (u16 position), b receives it
 *   5  the clock advances (u16 x 4 ms), both links tick, control frames
 *      are exchanged
 *   6  a or b starts a rekey, control frames are exchanged
 *   7  b seals to a, a receives it
 * At most 128 operations, of which at most one tick or rekey (they may run
 * handshakes, the slow part), keep an input fast.
 * Checks: no crash or leak; every refusal is a known net_reject; a message
 * comes out only in place inside the frame and within the payload cap; a
 * frame with a flipped bit, or a capture already accepted once, is never
 * delivered as a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "link.h"
#include "net.h"
#include "noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXP 512
#define FMAX (MAXP + LINK_OVERHEAD)
#define QCAP 32

typedef struct {
  uint8_t b[FMAX];
  size_t len;
} frame;

typedef struct side side;
struct side {
  peer_link *l;
  uint8_t priv[32], pub[32];
  uint64_t rng;
  frame q[QCAP];
  size_t nq;
  side *peer;
};

static uint64_t g_now;
static const uint8_t k_prologue[] = "custos-net/1fuzz";

static void io_send(void *ctx, const uint8_t *f, size_t len) {
  side *s = ctx;
  if (len > FMAX) abort(); /* the link never sends more */
  if (s->nq == QCAP) return; /* a full queue drops, like NN_DONTWAIT */
  memcpy(s->q[s->nq].b, f, len);
  s->q[s->nq++].len = len;
}

static void io_random(void *ctx, uint8_t *buf, size_t n) {
  side *s = ctx;
  for (size_t i = 0; i < n; i++) {
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    buf[i] = (uint8_t)(z ^ (z >> 31));
  }
}

/* net/'s receive path for one frame to side `to`. Returns 1 when a message
 * came out. */
static int receive(side *to, uint8_t *buf, size_t len) {
  link_hdr h;
  int r = link_hdr_decode(buf, len, MAXP, &h);
  if (r >= NET_R_COUNT || r < -1) abort();
  if (r >= 0) return 0;
  if (h.len != len - LINK_HDR) abort();
  if (h.kind == LINK_HS_INIT) {
    noise_hs hs;
    uint8_t pl[LINK_INIT_PAYLOAD];
    size_t pn = 0;
    noise_hs_init(&hs, 0, k_prologue, sizeof k_prologue, to->priv, NULL);
    if (noise_read_msg1(&hs, buf + LINK_HDR, h.len, pl, sizeof pl, &pn) == CX_OK &&
        memcmp(hs.rs, to->peer->pub, 32) == 0) {
      r = link_accept_init(to->l, g_now, &hs, pl, pn);
      if (r >= NET_R_COUNT || r < -1) abort();
    }
    noise_hs_wipe(&hs);
    return 0;
  }
  unsigned type = 0;
  const uint8_t *payload = NULL;
  size_t plen = 0;
  int reject = -1;
  switch (link_input(to->l, g_now, &h, buf, len, &type, &payload, &plen, &reject)) {
  case LINK_IN_NONE:
    return 0;
  case LINK_IN_MESSAGE:
    if (payload != buf + LINK_HDR + 1 || plen != len - LINK_OVERHEAD || plen > MAXP) abort();
    if (type == NET_MSG_KEEPALIVE || type > 255) abort();
    return 1;
  case LINK_IN_REJECT:
    if (reject < 0 || reject >= NET_R_COUNT) abort();
    return 0;
  }
  abort();
}

static int receive_copy(side *to, const frame *f) {
  frame c = *f;
  return receive(to, c.b, c.len);
}

static void pump(side *a, side *b) {
  for (int round = 0; round < 8 && (a->nq || b->nq); round++) {
    side *s[2] = {a, b};
    for (int i = 0; i < 2; i++) {
      frame batch[QCAP];
      size_t n = s[i]->nq;
      memcpy(batch, s[i]->q, n * sizeof batch[0]);
      s[i]->nq = 0;
      for (size_t k = 0; k < n; k++) receive(s[i]->peer, batch[k].b, batch[k].len);
    }
  }
  a->nq = b->nq = 0;
}

typedef struct {
  const uint8_t *p;
  size_t n;
} reader;

static unsigned rd8(reader *r) {
  if (!r->n) return 0;
  r->n--;
  return *r->p++;
}
static unsigned rd16(reader *r) {
  unsigned hi = rd8(r);
  return hi << 8 | rd8(r);
}

/* a seals a message whose type, length and bytes come from the input */
static int seal_from(side *s, reader *r, frame *out) {
  unsigned type = rd8(r);
  size_t len = rd8(r);
  uint8_t m[256] = {0};
  size_t take = len < r->n ? len : r->n;
  memcpy(m, r->p, take);
  r->p += take;
  r->n -= take;
  if (link_seal(s->l, g_now, type, m, len, out->b, &out->len) != CX_OK) return 0;
  if (out->len != len + LINK_OVERHEAD) abort();
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static side a, b; /* large: keep them off the stack */
  static const link_params p = {.keepalive_ms = 1000, .dead_ms = 5000, .rekey_ms = 60000,
                                .rekey_msgs = 64, .hs_retry_ms = 100, .hs_retry_max_ms = 800,
                                .hs_min_interval_ms = 50, .max_payload = MAXP};
  static uint8_t apub[32], bpub[32];
  static int have_pubs;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  memset(a.priv, 0x41, 32);
  memset(b.priv, 0x42, 32);
  if (!have_pubs) { /* fixed keys: derive once */
    noise_pubkey(a.priv, apub);
    noise_pubkey(b.priv, bpub);
    have_pubs = 1;
  }
  memcpy(a.pub, apub, 32);
  memcpy(b.pub, bpub, 32);
  a.rng = 1;
  b.rng = 2;
  a.peer = &b;
  b.peer = &a;
  g_now = 1000000;
  link_io ia = {&a, io_send, io_random}, ib = {&b, io_send, io_random};
  a.l = link_new(3, k_prologue, sizeof k_prologue, a.priv, b.pub, &p, &ia);
  b.l = link_new(7, k_prologue, sizeof k_prologue, b.priv, a.pub, &p, &ib);
  if (!a.l || !b.l) abort();
  link_rekey(a.l, g_now);
  pump(&a, &b);
  if (!link_connected(a.l, g_now) || !link_connected(b.l, g_now)) abort();

  reader r = {data, size};
  frame cap;
  int have_cap = 0, cap_accepted = 0;
  int costly = 0; /* ticks and rekeys may run handshakes: a few per input */
  for (int ops = 0; r.n && ops < 128; ops++) {
    frame f;
    switch (rd8(&r) % 8) {
    case 0: {
      size_t len = rd16(&r) % (FMAX + 8);
      if (len > r.n) len = r.n;
      uint8_t *buf = malloc(len ? len : 1); /* exactly sized: ASan sees overreads */
      if (!buf) abort();
      memcpy(buf, r.p, len);
      r.p += len;
      r.n -= len;
      receive(&b, buf, len);
      free(buf);
      break;
    }
    case 1:
      if (seal_from(&a, &r, &f)) receive_copy(&b, &f);
      break;
    case 2:
      if (seal_from(&a, &r, &cap)) {
        have_cap = 1;
        cap_accepted = 0;
      }
      break;
    case 3:
      if (have_cap && receive_copy(&b, &cap)) {
        if (cap_accepted) abort(); /* a replay came through */
        cap_accepted = 1;
      }
      break;
    case 4:
      if (seal_from(&a, &r, &f)) {
        size_t bit = rd16(&r) % (8 * f.len);
        f.b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (receive_copy(&b, &f)) abort(); /* a forgery came through */
      }
      break;
    case 5:
      if (++costly > 1) break;
      g_now += (uint64_t)rd16(&r) * 4;
      link_tick(a.l, g_now);
      link_tick(b.l, g_now);
      pump(&a, &b);
      break;
    case 6:
      if (++costly > 1) break;
      link_rekey(rd8(&r) & 1 ? b.l : a.l, g_now);
      pump(&a, &b);
      break;
    default:
      if (seal_from(&b, &r, &f)) receive_copy(&a, &f);
      break;
    }
  }
  link_free(a.l);
  link_free(b.l);
  return 0;
}
