/* fuzz_handshake: the Noise IK handshake readers (noise_read_msg1,
 * noise_read_msg2) and link_accept_init / the handshake-response path of
 * link_input on arbitrary bytes.
 *
 * Fixed static keys, fixed-seed randomness and a fixed clock: an input
 * means the same thing on every run. The first byte picks the mode:
 *   0  the rest is a msg1 body: b reads it (with a payload cap from the
 *      input's length, so FULL is reached too); when it decrypts, the
 *      member lookup by hs.rs and link_accept_init follow as in net/
 *   1  the rest is XORed onto b's genuine msg2 answering a's init (all
 *      zero: the genuine one, which completes the handshake) and a's
 *      link_input gets it; then noise_read_msg2 on the raw rest
 *   2  the rest is a whole frame, dispatched as net/ does (header decode;
 *      init -> msg1 + accept on b; else link_input on b)
 * Checks: no crash or leak; every refusal is a known error or net_reject;
 * the noise_hs is wiped after link_accept_init; a failed read reports no
 * payload; a mutated msg2 never completes the handshake. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "link.h"
#include "net.h"
#include "noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QCAP 8
#define FMAX (LINK_HDR + LINK_INIT_BODY)

typedef struct {
  uint8_t b[FMAX];
  size_t len;
} frame;

typedef struct {
  peer_link *l;
  uint8_t priv[32], pub[32];
  uint64_t rng;
  frame q[QCAP];
  size_t nq;
} side;

static const uint8_t k_prologue[] = "custos-net/1fuzz";
static const uint64_t k_now = 1000000;

static void io_send(void *ctx, const uint8_t *f, size_t len) {
  side *s = ctx;
  if (len > FMAX) abort(); /* handshakes and keepalives only here */
  if (s->nq == QCAP) return;
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

static void check_reject(int r) {
  if (r < -1 || r >= NET_R_COUNT) abort();
}

static int is_zero(const void *p, size_t n) {
  const uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i]) return 0;
  return 1;
}

/* b's side of an init body: decrypt, look the sender up, accept. */
static void init_to_b(side *a, side *b, const uint8_t *body, size_t len, size_t cap) {
  noise_hs hs;
  uint8_t pl[64];
  size_t pn = 99;
  if (cap > sizeof pl) cap = sizeof pl;
  noise_hs_init(&hs, 0, k_prologue, sizeof k_prologue, b->priv, NULL);
  cx_err e = noise_read_msg1(&hs, body, len, pl, cap, &pn);
  if (e != CX_OK) {
    if (e != CX_E_TRUNCATED && e != CX_E_CRYPTO && e != CX_E_FULL) abort();
    if (pn != 0) abort();
    noise_hs_wipe(&hs);
    return;
  }
  if (pn != len - NOISE_MSG1_LEN(0) || pn > cap) abort();
  /* not a's key: what net/ refuses as NOT_MEMBER; the link refuses it too */
  int member = memcmp(hs.rs, a->pub, 32) == 0;
  int r = link_accept_init(b->l, k_now, &hs, pl, pn);
  check_reject(r);
  if (!member && r != NET_R_NOT_MEMBER && r != NET_R_HANDSHAKE) abort();
  if (!is_zero(&hs, sizeof hs)) abort(); /* wiped either way */
  if (r == -1 && b->nq != 1) abort();    /* accepted: one answer went out */
}

static void frame_to(side *a, side *to, uint8_t *buf, size_t len) {
  link_hdr h;
  int r = link_hdr_decode(buf, len, 256, &h);
  check_reject(r);
  if (r >= 0) return;
  if (h.kind == LINK_HS_INIT) {
    init_to_b(a, to, buf + LINK_HDR, h.len, LINK_INIT_PAYLOAD);
    return;
  }
  unsigned type;
  const uint8_t *payload;
  size_t plen;
  int reject = -1;
  link_in_result res = link_input(to->l, k_now, &h, buf, len, &type, &payload, &plen, &reject);
  if (res == LINK_IN_REJECT) check_reject(reject);
  if (res == LINK_IN_REJECT && reject < 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static side a, b;
  static const link_params p = {.keepalive_ms = 1000, .dead_ms = 5000, .rekey_ms = 60000,
                                .rekey_msgs = 64, .hs_retry_ms = 100, .hs_retry_max_ms = 800,
                                .hs_min_interval_ms = 50, .max_payload = 256};
  if (size < 1) return 0;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  memset(a.priv, 0x41, 32);
  memset(b.priv, 0x42, 32);
  noise_pubkey(a.priv, a.pub);
  noise_pubkey(b.priv, b.pub);
  a.rng = 1;
  b.rng = 2;
  link_io ia = {&a, io_send, io_random}, ib = {&b, io_send, io_random};
  a.l = link_new(3, k_prologue, sizeof k_prologue, a.priv, b.pub, &p, &ia);
  b.l = link_new(7, k_prologue, sizeof k_prologue, b.priv, a.pub, &p, &ib);
  if (!a.l || !b.l) abort();

  unsigned mode = data[0] % 3;
  const uint8_t *rest = data + 1;
  size_t n = size - 1;
  uint8_t *buf = malloc(n ? n : 1); /* exactly sized: ASan sees overreads */
  if (!buf) abort();
  if (n) memcpy(buf, rest, n);

  if (mode == 0) {
    init_to_b(&a, &b, buf, n, n % 2 ? LINK_INIT_PAYLOAD : n);
  } else if (mode == 1) {
    /* a's genuine init, b's genuine answer, the input as a mask on it */
    link_rekey(a.l, k_now);
    if (a.nq != 1) abort();
    init_to_b(&a, &b, a.q[0].b + LINK_HDR, a.q[0].len - LINK_HDR, LINK_INIT_PAYLOAD);
    if (b.nq != 1 || b.q[0].len != LINK_HDR + LINK_RESP_BODY) abort();
    frame resp = b.q[0];
    int mutated = 0;
    for (size_t i = 0; i < n && i < resp.len; i++) {
      resp.b[i] ^= buf[i];
      /* the counter field (bytes 12..19) of a handshake frame is unused */
      if (i < 12 || i >= LINK_HDR) mutated |= buf[i] != 0;
    }
    a.nq = 0;
    frame_to(&b, &a, resp.b, resp.len);
    if (mutated && link_connected(a.l, k_now)) abort();
    if (!mutated && !link_connected(a.l, k_now)) abort();
    /* the bare reader on the raw bytes */
    noise_hs hs;
    uint8_t e[32] = {7}, m1[NOISE_MSG1_LEN(0)], pl[64];
    size_t m1n, pn = 99;
    noise_hs_init(&hs, 1, k_prologue, sizeof k_prologue, a.priv, b.pub);
    if (noise_write_msg1(&hs, e, NULL, 0, m1, sizeof m1, &m1n) != CX_OK) abort();
    cx_err err = noise_read_msg2(&hs, buf, n, pl, n % 2 ? 4 : sizeof pl, &pn);
    if (err != CX_OK && err != CX_E_TRUNCATED && err != CX_E_CRYPTO && err != CX_E_FULL) abort();
    if (err != CX_OK && pn != 0) abort();
    noise_hs_wipe(&hs);
  } else {
    frame_to(&a, &b, buf, n);
  }
  free(buf);
  link_free(a.l);
  link_free(b.l);
  return 0;
}
