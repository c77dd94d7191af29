/* Unit tests for net/noise and net/link.
 *
 * noise: the published Noise_IK_25519_ChaChaPoly_SHA256 vectors
 * (tests/vectors/noise_ik.txt) byte for byte, wrong keys, truncation,
 * low-order points, and that a failed read leaves the state usable.
 *
 * link: two links wired back to back in memory with a fake clock and seeded
 * randomness (tu_rand; replay with CUSTOS_SEED). Frames travel the way net/
 * moves them: link_hdr_decode first; a handshake init is read with
 * noise_read_msg1 under the receiver's static key, the sender is looked up
 * by hs.rs, then link_accept_init; everything else goes to link_input. */
#include <check.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "hash.h"
#include "link.h"
#include "net.h"
#include "noise.h"
#include "testutil.h"

#ifndef CUSTOS_VECTORS_DIR
#error "CUSTOS_VECTORS_DIR must be defined (path of tests/vectors)"
#endif

/* ------------------------------------------------------------------------ */
/* vectors                                                                  */
/* ------------------------------------------------------------------------ */

#define VEC_MAX 4
#define VEC_MSGS 8

typedef struct {
  uint8_t p[256], c[512];
  size_t plen, clen;
} vec_msg;

typedef struct {
  char name[32];
  uint8_t prologue[128];
  size_t prologue_len;
  uint8_t init_static[32], init_ephemeral[32], init_remote_static[32];
  uint8_t resp_static[32], resp_ephemeral[32], hash[32];
  int has_hash, has_source;
  vec_msg msg[VEC_MSGS];
  size_t nmsg;
} vec;

static void unhex(const char *s, uint8_t *out, size_t n) {
  ck_assert_msg(hex_decode(s, out, n) == CX_OK, "bad hex in vector file: %s", s);
}

static size_t unhex_var(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  ck_assert_msg(hex_decode_var(s, out, cap, &n) == CX_OK, "bad hex in vector file: %s", s);
  return n;
}

/* Parses tests/vectors/noise_ik.txt (format documented at its top). */
static size_t load_vectors(vec *v, size_t cap) {
  FILE *f = fopen(CUSTOS_VECTORS_DIR "/noise_ik.txt", "r");
  ck_assert_msg(f != NULL, "cannot open %s", CUSTOS_VECTORS_DIR "/noise_ik.txt");
  char line[4096];
  size_t n = 0;
  vec *cur = NULL;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    if (line[0] == '#' || line[0] == 0) continue;
    char *key = strtok(line, " "), *a = strtok(NULL, " "), *b = strtok(NULL, " "),
         *c = strtok(NULL, " ");
    ck_assert_ptr_nonnull(key);
    if (strcmp(key, "vector") == 0) {
      ck_assert_ptr_null(cur);
      ck_assert_uint_lt(n, cap);
      cur = &v[n];
      memset(cur, 0, sizeof *cur);
      ck_assert_ptr_nonnull(a);
      snprintf(cur->name, sizeof cur->name, "%s", a);
      continue;
    }
    ck_assert_msg(cur != NULL, "field %s outside a vector", key);
    if (strcmp(key, "end") == 0) {
      n++;
      cur = NULL;
    } else if (strcmp(key, "source") == 0) {
      cur->has_source = 1;
    } else if (strcmp(key, "prologue") == 0) {
      cur->prologue_len = unhex_var(a, cur->prologue, sizeof cur->prologue);
    } else if (strcmp(key, "init_static") == 0) {
      unhex(a, cur->init_static, 32);
    } else if (strcmp(key, "init_ephemeral") == 0) {
      unhex(a, cur->init_ephemeral, 32);
    } else if (strcmp(key, "init_remote_static") == 0) {
      unhex(a, cur->init_remote_static, 32);
    } else if (strcmp(key, "resp_static") == 0) {
      unhex(a, cur->resp_static, 32);
    } else if (strcmp(key, "resp_ephemeral") == 0) {
      unhex(a, cur->resp_ephemeral, 32);
    } else if (strcmp(key, "handshake_hash") == 0) {
      unhex(a, cur->hash, 32);
      cur->has_hash = 1;
    } else if (strcmp(key, "msg") == 0) {
      ck_assert_ptr_nonnull(c);
      ck_assert_uint_eq(strtoul(a, NULL, 10), cur->nmsg + 1); /* numbered in order */
      ck_assert_uint_lt(cur->nmsg, VEC_MSGS);
      vec_msg *m = &cur->msg[cur->nmsg++];
      m->plen = unhex_var(b, m->p, sizeof m->p);
      m->clen = unhex_var(c, m->c, sizeof m->c);
    } else {
      ck_abort_msg("unknown field %s in vector file", key);
    }
  }
  fclose(f);
  ck_assert_ptr_null(cur);
  return n;
}

/* Runs one vector: both handshake messages from both sides, the handshake
 * hash, then the transport messages with the split keys. */
static void run_vector(const vec *v) {
  uint8_t ipub[32], rpub[32];
  noise_pubkey(v->init_static, ipub);
  noise_pubkey(v->resp_static, rpub);
  ck_assert_msg(memcmp(rpub, v->init_remote_static, 32) == 0, "%s: responder public key", v->name);
  ck_assert_uint_ge(v->nmsg, 4);
  ck_assert(v->has_source);

  noise_hs ini, res;
  noise_hs_init(&ini, 1, v->prologue, v->prologue_len, v->init_static, rpub);
  noise_hs_init(&res, 0, v->prologue, v->prologue_len, v->resp_static, NULL);

  uint8_t out[1024], pl[512];
  size_t n = 0, pn = 0;
  const vec_msg *m1 = &v->msg[0], *m2 = &v->msg[1];
  ck_assert_int_eq(noise_write_msg1(&ini, v->init_ephemeral, m1->p, m1->plen, out, sizeof out, &n),
                   CX_OK);
  ck_assert_uint_eq(n, NOISE_MSG1_LEN(m1->plen));
  ck_assert_uint_eq(n, m1->clen);
  ck_assert_msg(memcmp(out, m1->c, n) == 0, "%s: msg1 differs", v->name);
  ck_assert_int_eq(noise_read_msg1(&res, m1->c, m1->clen, pl, sizeof pl, &pn), CX_OK);
  ck_assert_uint_eq(pn, m1->plen);
  ck_assert(memcmp(pl, m1->p, pn) == 0);
  ck_assert_msg(memcmp(res.rs, ipub, 32) == 0, "%s: responder learnt the initiator", v->name);

  ck_assert_int_eq(noise_write_msg2(&res, v->resp_ephemeral, m2->p, m2->plen, out, sizeof out, &n),
                   CX_OK);
  ck_assert_uint_eq(n, NOISE_MSG2_LEN(m2->plen));
  ck_assert_uint_eq(n, m2->clen);
  ck_assert_msg(memcmp(out, m2->c, n) == 0, "%s: msg2 differs", v->name);
  ck_assert_int_eq(noise_read_msg2(&ini, m2->c, m2->clen, pl, sizeof pl, &pn), CX_OK);
  ck_assert_uint_eq(pn, m2->plen);
  ck_assert(memcmp(pl, m2->p, pn) == 0);

  uint8_t i_i2r[32], i_r2i[32], i_h[32], r_i2r[32], r_r2i[32], r_h[32];
  noise_split(&ini, i_i2r, i_r2i, i_h);
  noise_split(&res, r_i2r, r_r2i, r_h);
  ck_assert(memcmp(i_i2r, r_i2r, 32) == 0);
  ck_assert(memcmp(i_r2i, r_r2i, 32) == 0);
  ck_assert(memcmp(i_h, r_h, 32) == 0);
  if (v->has_hash) ck_assert_msg(memcmp(i_h, v->hash, 32) == 0, "%s: handshake hash", v->name);
  /* split wipes the handshake state */
  static const uint8_t zero[sizeof(noise_hs)];
  ck_assert(memcmp(&ini, zero, sizeof ini) == 0);
  ck_assert(memcmp(&res, zero, sizeof res) == 0);

  /* transport: 3 i->r n=0, 4 r->i n=0, 5 i->r n=1, 6 r->i n=1 */
  for (size_t k = 2; k < v->nmsg; k++) {
    const vec_msg *m = &v->msg[k];
    int i2r = (k % 2) == 0;
    uint64_t nonce = (k - 2) / 2;
    const uint8_t *key = i2r ? i_i2r : i_r2i;
    ck_assert_uint_eq(m->clen, m->plen + NOISE_TAG);
    ck_assert_int_eq(noise_seal(key, nonce, NULL, 0, m->p, m->plen, out), CX_OK);
    ck_assert_msg(memcmp(out, m->c, m->clen) == 0, "%s: transport message %zu", v->name, k + 1);
    ck_assert_int_eq(noise_open(key, nonce, NULL, 0, m->c, m->clen, pl), CX_OK);
    ck_assert(memcmp(pl, m->p, m->plen) == 0);
    /* the other direction's key or the next nonce does not open it */
    ck_assert_int_eq(noise_open(i2r ? i_r2i : i_i2r, nonce, NULL, 0, m->c, m->clen, pl),
                     CX_E_CRYPTO);
    ck_assert_int_eq(noise_open(key, nonce + 1, NULL, 0, m->c, m->clen, pl), CX_E_CRYPTO);
  }
}

START_TEST(test_noise_vectors) {
  vec *v = calloc(VEC_MAX, sizeof *v);
  ck_assert_ptr_nonnull(v);
  size_t n = load_vectors(v, VEC_MAX);
  ck_assert_uint_eq(n, 2);
  ck_assert_str_eq(v[0].name, "cacophony");
  ck_assert(v[0].has_hash);
  ck_assert_uint_eq(v[0].nmsg, 6);
  ck_assert_str_eq(v[1].name, "snow");
  ck_assert_uint_eq(v[1].nmsg, 4);
  for (size_t i = 0; i < n; i++) run_vector(&v[i]);
  free(v);
}
END_TEST

/* A fixed handshake between two random static keys. */
typedef struct {
  uint8_t is[32], ie[32], rs[32], re[32], ipub[32], rpub[32];
  uint8_t m1[NOISE_MSG1_LEN(12)], m2[NOISE_MSG2_LEN(4)];
} hs_fixture;

static void hs_fixture_make(hs_fixture *f) {
  tu_randbytes(f->is, 32);
  tu_randbytes(f->ie, 32);
  tu_randbytes(f->rs, 32);
  tu_randbytes(f->re, 32);
  noise_pubkey(f->is, f->ipub);
  noise_pubkey(f->rs, f->rpub);
  noise_hs ini, res;
  uint8_t pl[12] = "hello world";
  size_t n, pn;
  noise_hs_init(&ini, 1, (const uint8_t *)"p", 1, f->is, f->rpub);
  noise_hs_init(&res, 0, (const uint8_t *)"p", 1, f->rs, NULL);
  ck_assert_int_eq(noise_write_msg1(&ini, f->ie, pl, 12, f->m1, sizeof f->m1, &n), CX_OK);
  ck_assert_int_eq(noise_read_msg1(&res, f->m1, n, pl, sizeof pl, &pn), CX_OK);
  ck_assert_int_eq(noise_write_msg2(&res, f->re, pl, 4, f->m2, sizeof f->m2, &n), CX_OK);
  noise_hs_wipe(&ini);
  noise_hs_wipe(&res);
}

START_TEST(test_noise_failures) {
  hs_fixture f;
  hs_fixture_make(&f);
  uint8_t pl[64];
  size_t pn;
  noise_hs res, ini;

  /* a responder with another static key cannot read msg1 */
  uint8_t other[32];
  tu_randbytes(other, 32);
  noise_hs_init(&res, 0, (const uint8_t *)"p", 1, other, NULL);
  ck_assert_int_eq(noise_read_msg1(&res, f.m1, sizeof f.m1, pl, sizeof pl, &pn), CX_E_CRYPTO);
  ck_assert_uint_eq(pn, 0);
  /* nor one with another prologue */
  noise_hs_init(&res, 0, (const uint8_t *)"q", 1, f.rs, NULL);
  ck_assert_int_eq(noise_read_msg1(&res, f.m1, sizeof f.m1, pl, sizeof pl, &pn), CX_E_CRYPTO);

  /* every truncation fails: too short for the tokens, or the tag breaks */
  for (size_t len = 0; len < sizeof f.m1; len++) {
    noise_hs_init(&res, 0, (const uint8_t *)"p", 1, f.rs, NULL);
    cx_err e = noise_read_msg1(&res, f.m1, len, pl, sizeof pl, &pn);
    ck_assert_int_eq(e, len < NOISE_MSG1_LEN(0) ? CX_E_TRUNCATED : CX_E_CRYPTO);
  }
  /* payload over the caller's cap: refused before any work */
  noise_hs_init(&res, 0, (const uint8_t *)"p", 1, f.rs, NULL);
  ck_assert_int_eq(noise_read_msg1(&res, f.m1, sizeof f.m1, pl, 11, &pn), CX_E_FULL);
  /* a low-order ephemeral key (all zero) is refused */
  uint8_t bad[sizeof f.m1];
  memcpy(bad, f.m1, sizeof bad);
  memset(bad, 0, 32);
  ck_assert_int_eq(noise_read_msg1(&res, bad, sizeof bad, pl, sizeof pl, &pn), CX_E_CRYPTO);
  /* a failed read left the state as it was: the real msg1 still reads */
  ck_assert_int_eq(noise_read_msg1(&res, f.m1, sizeof f.m1, pl, sizeof pl, &pn), CX_OK);
  ck_assert_uint_eq(pn, 12);
  ck_assert(memcmp(res.rs, f.ipub, 32) == 0);

  /* msg2: truncations and flipped bits fail; the pending state survives */
  noise_hs_init(&ini, 1, (const uint8_t *)"p", 1, f.is, f.rpub);
  size_t n;
  uint8_t m1[sizeof f.m1];
  ck_assert_int_eq(noise_write_msg1(&ini, f.ie, (const uint8_t *)"hello world", 12, m1, sizeof m1,
                                    &n),
                   CX_OK);
  ck_assert(memcmp(m1, f.m1, n) == 0); /* deterministic given the ephemeral key */
  for (size_t len = 0; len < sizeof f.m2; len++) {
    cx_err e = noise_read_msg2(&ini, f.m2, len, pl, sizeof pl, &pn);
    ck_assert_int_eq(e, len < NOISE_MSG2_LEN(0) ? CX_E_TRUNCATED : CX_E_CRYPTO);
  }
  for (size_t bit = 0; bit < 8 * sizeof f.m2; bit += 7) {
    uint8_t m2[sizeof f.m2];
    memcpy(m2, f.m2, sizeof m2);
    m2[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    ck_assert_int_eq(noise_read_msg2(&ini, m2, sizeof m2, pl, sizeof pl, &pn), CX_E_CRYPTO);
  }
  ck_assert_int_eq(noise_read_msg2(&ini, f.m2, sizeof f.m2, pl, sizeof pl, &pn), CX_OK);
  ck_assert_uint_eq(pn, 4);
  noise_hs_wipe(&ini);

  /* write refuses a buffer too small, and a low-order peer key */
  noise_hs_init(&ini, 1, NULL, 0, f.is, f.rpub);
  ck_assert_int_eq(noise_write_msg1(&ini, f.ie, NULL, 0, m1, NOISE_MSG1_LEN(0) - 1, &n), CX_E_FULL);
  static const uint8_t zero[32];
  noise_hs_init(&ini, 1, NULL, 0, f.is, zero);
  ck_assert_int_eq(noise_write_msg1(&ini, f.ie, NULL, 0, m1, sizeof m1, &n), CX_E_CRYPTO);

  /* transport: the reserved nonce, short ciphertext, in-place round trip */
  uint8_t k[32], buf[64];
  tu_randbytes(k, 32);
  ck_assert_int_eq(noise_seal(k, UINT64_MAX, NULL, 0, buf, 1, buf), CX_E_INVALID_ARG);
  ck_assert_int_eq(noise_open(k, UINT64_MAX, NULL, 0, buf, 17, buf), CX_E_INVALID_ARG);
  ck_assert_int_eq(noise_open(k, 0, NULL, 0, buf, NOISE_TAG - 1, buf), CX_E_CRYPTO);
  memcpy(buf, "in place", 8);
  ck_assert_int_eq(noise_seal(k, 7, (const uint8_t *)"ad", 2, buf, 8, buf), CX_OK);
  ck_assert_int_eq(noise_open(k, 7, (const uint8_t *)"ad", 2, buf, 8 + NOISE_TAG, buf), CX_OK);
  ck_assert(memcmp(buf, "in place", 8) == 0);
}
END_TEST

/* The transport AEAD runs in libsodium below 2 KiB and in OpenSSL above
 * (noise.c): at sizes around and far past the switch, both must give
 * exactly RFC 8439's ChaCha20-Poly1305 as libsodium computes it, in place
 * and not, and refuse a flipped bit in the body, the tag or the AD. */
START_TEST(test_noise_aead_paths) {
  static const size_t lens[] = {0, 1, 2047, 2048, 2049, 65536 + 13, (size_t)1 << 20};
  uint8_t k[32], ad[40];
  tu_randbytes(k, sizeof k);
  tu_randbytes(ad, sizeof ad);
  for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
    size_t len = lens[i];
    uint64_t nonce = tu_rand() >> 1;
    uint8_t *m = malloc(len + 1), *c = malloc(len + NOISE_TAG), *ref = malloc(len + NOISE_TAG),
            *io = malloc(len + NOISE_TAG), *back = malloc(len + 1);
    ck_assert(m && c && ref && io && back);
    tu_randbytes(m, len);
    uint8_t npub[12] = {0};
    for (int b = 0; b < 8; b++) npub[4 + b] = (uint8_t)(nonce >> (8 * b));
    unsigned long long rl;
    crypto_aead_chacha20poly1305_ietf_encrypt(ref, &rl, m, len, ad, sizeof ad, NULL, npub, k);
    ck_assert_int_eq(noise_seal(k, nonce, ad, sizeof ad, m, len, c), CX_OK);
    ck_assert_msg(memcmp(c, ref, len + NOISE_TAG) == 0, "seal differs at %zu bytes", len);
    memcpy(io, m, len); /* in place */
    ck_assert_int_eq(noise_seal(k, nonce, ad, sizeof ad, io, len, io), CX_OK);
    ck_assert(memcmp(io, ref, len + NOISE_TAG) == 0);
    ck_assert_int_eq(noise_open(k, nonce, ad, sizeof ad, ref, len + NOISE_TAG, back), CX_OK);
    ck_assert(len == 0 || memcmp(back, m, len) == 0);
    ck_assert_int_eq(noise_open(k, nonce, ad, sizeof ad, io, len + NOISE_TAG, io), CX_OK);
    ck_assert(len == 0 || memcmp(io, m, len) == 0);
    size_t flips[3] = {len ? tu_rand() % len : 0, len + tu_rand() % NOISE_TAG, 0};
    for (int f = 0; f < 3; f++) {
      memcpy(c, ref, len + NOISE_TAG);
      if (f < 2) {
        if (f == 0 && len == 0) continue;
        c[flips[f]] ^= 0x01;
        ck_assert_int_eq(noise_open(k, nonce, ad, sizeof ad, c, len + NOISE_TAG, back), CX_E_CRYPTO);
      } else {
        ad[3] ^= 0x80;
        ck_assert_int_eq(noise_open(k, nonce, ad, sizeof ad, c, len + NOISE_TAG, back), CX_E_CRYPTO);
        ad[3] ^= 0x80;
      }
    }
    free(m);
    free(c);
    free(ref);
    free(io);
    free(back);
  }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* an in-memory link pair                                                   */
/* ------------------------------------------------------------------------ */

#define MAXP 1024
#define QCAP 4096
#define FRAME_MAX (MAXP + LINK_OVERHEAD)
#define IN_NONE (-1) /* deliver(): consumed */
#define IN_MSG (-2)  /* deliver(): a message came out */

typedef struct {
  uint8_t b[FRAME_MAX];
  size_t len;
} frame;

typedef struct {
  uint64_t at;
  uint8_t kind;
} sent_rec;

typedef struct pair pair;

typedef struct {
  pair *pr;
  peer_link *l;
  unsigned slot;
  uint8_t s_priv[32], s_pub[32];
  uint64_t rng;
  frame *q; /* control frames this link sent, not yet delivered */
  size_t nq;
  int drop; /* control frames this link sends are lost */
  int zero_random; /* io.random gives zeros (a broken source) */
  sent_rec sent[1024];
  size_t nsent;
  /* the last message delivered to this side */
  unsigned type;
  uint8_t payload[MAXP];
  size_t plen;
  uint64_t msgs;
  uint64_t rejects[NET_R_COUNT];
} side;

struct pair {
  side a, b;
  uint64_t now;
  link_params p;
  uint8_t prologue[16];
};

static void io_send(void *ctx, const uint8_t *f, size_t len) {
  side *s = ctx;
  ck_assert_uint_ge(len, LINK_HDR);
  ck_assert_uint_le(len, FRAME_MAX);
  if (s->nsent < sizeof s->sent / sizeof s->sent[0])
    s->sent[s->nsent++] = (sent_rec){s->pr->now, f[1]};
  if (s->drop) return;
  ck_assert_uint_lt(s->nq, QCAP);
  memcpy(s->q[s->nq].b, f, len);
  s->q[s->nq].len = len;
  s->nq++;
}

/* splitmix64 per side, seeded from the test seed */
static void io_random(void *ctx, uint8_t *buf, size_t n) {
  side *s = ctx;
  if (s->zero_random) {
    memset(buf, 0, n);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    buf[i] = (uint8_t)(z ^ (z >> 31));
  }
}

static link_params default_params(void) {
  link_params p = {.keepalive_ms = 1000,
                   .dead_ms = 5000,
                   .rekey_ms = 120000,
                   .rekey_msgs = UINT64_C(1) << 32,
                   .hs_retry_ms = 100,
                   .hs_retry_max_ms = 1000,
                   .hs_min_interval_ms = 50,
                   .max_payload = MAXP};
  return p;
}

static side *peer_of(pair *pr, side *s) { return s == &pr->a ? &pr->b : &pr->a; }

static void side_init(pair *pr, side *s, unsigned slot) {
  s->pr = pr;
  s->slot = slot;
  tu_randbytes(s->s_priv, 32);
  noise_pubkey(s->s_priv, s->s_pub);
  s->rng = tu_rand();
  s->q = calloc(QCAP, sizeof *s->q);
  ck_assert_ptr_nonnull(s->q);
}

static void pair_init(pair *pr, const link_params *p) {
  memset(pr, 0, sizeof *pr);
  pr->now = 1000000;
  pr->p = *p;
  memcpy(pr->prologue, "custos-net/1test", 16);
  side_init(pr, &pr->a, 3);
  side_init(pr, &pr->b, 7);
  link_io ia = {&pr->a, io_send, io_random}, ib = {&pr->b, io_send, io_random};
  pr->a.l = link_new(pr->a.slot, pr->prologue, sizeof pr->prologue, pr->a.s_priv, pr->b.s_pub, p, &ia);
  pr->b.l = link_new(pr->b.slot, pr->prologue, sizeof pr->prologue, pr->b.s_priv, pr->a.s_pub, p, &ib);
  ck_assert_ptr_nonnull(pr->a.l);
  ck_assert_ptr_nonnull(pr->b.l);
}

static void pair_free(pair *pr) {
  link_free(pr->a.l);
  link_free(pr->b.l);
  free(pr->a.q);
  free(pr->b.q);
}

/* Delivers one frame to side `to` as net/ would (on a copy: link_input
 * decrypts in place). Returns IN_NONE, IN_MSG or the net_reject. */
static int deliver(pair *pr, side *to, const uint8_t *f, size_t len) {
  side *from = peer_of(pr, to);
  uint8_t buf[FRAME_MAX + 64];
  ck_assert_uint_le(len, sizeof buf);
  memcpy(buf, f, len);
  link_hdr h;
  int r = link_hdr_decode(buf, len, pr->p.max_payload, &h);
  if (r >= 0) goto out;
  if (h.kind == LINK_HS_INIT) {
    noise_hs hs;
    uint8_t pl[LINK_INIT_PAYLOAD];
    size_t pn = 0;
    noise_hs_init(&hs, 0, pr->prologue, sizeof pr->prologue, to->s_priv, NULL);
    if (noise_read_msg1(&hs, buf + LINK_HDR, h.len, pl, sizeof pl, &pn) != CX_OK) {
      noise_hs_wipe(&hs);
      r = NET_R_HANDSHAKE;
      goto out;
    }
    if (memcmp(hs.rs, from->s_pub, 32) != 0) { /* the member lookup */
      noise_hs_wipe(&hs);
      r = NET_R_NOT_MEMBER;
      goto out;
    }
    r = link_accept_init(to->l, pr->now, &hs, pl, pn);
    static const uint8_t zero[sizeof(noise_hs)];
    ck_assert(memcmp(&hs, zero, sizeof hs) == 0); /* wiped either way */
    goto out;
  }
  unsigned type = 999;
  const uint8_t *payload = NULL;
  size_t plen = 0;
  int reject = -7;
  link_in_result res = link_input(to->l, pr->now, &h, buf, len, &type, &payload, &plen, &reject);
  switch (res) {
  case LINK_IN_NONE:
    r = IN_NONE;
    break;
  case LINK_IN_MESSAGE:
    ck_assert_ptr_eq(payload, buf + LINK_HDR + 1);
    ck_assert_uint_le(plen, pr->p.max_payload);
    to->type = type;
    to->plen = plen;
    memcpy(to->payload, payload, plen);
    to->msgs++;
    r = IN_MSG;
    break;
  case LINK_IN_REJECT:
    ck_assert_int_ge(reject, 0);
    ck_assert_int_lt(reject, NET_R_COUNT);
    r = reject;
    break;
  default:
    ck_abort_msg("bad link_input result %d", (int)res);
  }
out:
  if (r >= 0) to->rejects[r]++;
  return r;
}

/* Delivers queued control frames both ways until both queues are empty:
 * all of a's current batch to b, then all of b's to a, repeated. */
static void pump(pair *pr) {
  for (int round = 0; round < 64; round++) {
    if (!pr->a.nq && !pr->b.nq) return;
    side *order[2] = {&pr->a, &pr->b};
    frame *batch[2];
    size_t nb[2];
    for (int i = 0; i < 2; i++) {
      nb[i] = order[i]->nq;
      batch[i] = malloc((nb[i] ? nb[i] : 1) * sizeof(frame));
      ck_assert_ptr_nonnull(batch[i]);
      memcpy(batch[i], order[i]->q, nb[i] * sizeof(frame));
      order[i]->nq = 0;
    }
    for (int i = 0; i < 2; i++) {
      for (size_t k = 0; k < nb[i]; k++) deliver(pr, peer_of(pr, order[i]), batch[i][k].b, batch[i][k].len);
      free(batch[i]);
    }
  }
  ck_abort_msg("control frames keep coming");
}

/* Advances the clock in steps, ticking both links and delivering control
 * frames after each step. */
static void run_for(pair *pr, uint64_t ms, uint64_t step) {
  for (uint64_t t = 0; t < ms; t += step) {
    pr->now += step;
    link_tick(pr->a.l, pr->now);
    link_tick(pr->b.l, pr->now);
    pump(pr);
  }
}

/* a starts, b answers: one handshake, no simultaneity */
static void connect_pair(pair *pr) {
  link_rekey(pr->a.l, pr->now);
  pump(pr);
  ck_assert(link_connected(pr->a.l, pr->now));
  ck_assert(link_connected(pr->b.l, pr->now));
}

/* Seals one message from `from`; ck-fails unless the link had a session. */
static void seal(pair *pr, side *from, unsigned type, const void *p, size_t len, frame *out) {
  ck_assert_int_eq(link_seal(from->l, pr->now, type, p, len, out->b, &out->len), CX_OK);
  ck_assert_uint_eq(out->len, len + LINK_OVERHEAD);
}

/* Sends one message and checks it arrives intact. */
static void send_ok(pair *pr, side *from, unsigned type, const void *p, size_t len) {
  frame f;
  side *to = peer_of(pr, from);
  seal(pr, from, type, p, len, &f);
  ck_assert_int_eq(deliver(pr, to, f.b, f.len), IN_MSG);
  ck_assert_uint_eq(to->type, type);
  ck_assert_uint_eq(to->plen, len);
  ck_assert(len == 0 || memcmp(to->payload, p, len) == 0);
  pump(pr);
}

/* ------------------------------------------------------------------------ */
/* link tests                                                               */
/* ------------------------------------------------------------------------ */

START_TEST(test_link_handshake_and_messages) {
  link_params p = default_params();
  pair pr;
  pair_init(&pr, &p);
  ck_assert(!link_connected(pr.a.l, pr.now));
  ck_assert(memcmp(link_remote_static(pr.a.l), pr.b.s_pub, 32) == 0);

  /* no session: NO_SESSION, and a handshake init goes out */
  frame f;
  ck_assert_int_eq(link_seal(pr.a.l, pr.now, NET_MSG_TX, (const uint8_t *)"x", 1, f.b, &f.len),
                   CX_E_NO_SESSION);
  ck_assert_uint_eq(pr.a.nq, 1);
  ck_assert_uint_eq(pr.a.q[0].len, LINK_HDR + LINK_INIT_BODY);
  ck_assert_uint_eq(pr.a.q[0].b[1], LINK_HS_INIT);
  /* a second refusal does not start another one */
  ck_assert_int_eq(link_seal(pr.a.l, pr.now, NET_MSG_TX, (const uint8_t *)"x", 1, f.b, &f.len),
                   CX_E_NO_SESSION);
  ck_assert_uint_eq(pr.a.nq, 1);

  /* init -> b answers (resp) -> a is up and sends a keepalive -> b confirms */
  pump(&pr);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));
  ck_assert_uint_eq(link_handshakes(pr.a.l), 1);
  ck_assert_uint_eq(link_handshakes(pr.b.l), 1);
  ck_assert_uint_eq(pr.a.nsent, 2); /* init, keepalive */
  ck_assert_uint_eq(pr.a.sent[1].kind, LINK_DATA);
  ck_assert_uint_eq(pr.b.nsent, 1); /* resp */
  ck_assert_uint_eq(pr.b.sent[0].kind, LINK_HS_RESP);
  ck_assert_uint_eq(pr.b.msgs, 0);  /* the keepalive was consumed */

  /* every type both ways, sizes 0 .. max_payload */
  static uint8_t big[MAXP];
  tu_randbytes(big, sizeof big);
  const size_t sizes[] = {0, 1, 17, 300, MAXP};
  for (unsigned t = NET_MSG_CONSENSUS; t < NET_MSG_TYPES; t++)
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      send_ok(&pr, &pr.a, t, big, sizes[i]);
      send_ok(&pr, &pr.b, t, big + 1, sizes[i] ? sizes[i] - 1 : 0);
    }
  /* a keepalive sealed by hand is consumed, not delivered */
  seal(&pr, &pr.a, NET_MSG_KEEPALIVE, NULL, 0, &f);
  ck_assert_int_eq(deliver(&pr, &pr.b, f.b, f.len), IN_NONE);

  /* frame layout: a's data frames name b's index, whose top byte is b's slot */
  seal(&pr, &pr.a, NET_MSG_TX, "abc", 3, &f);
  link_hdr h;
  ck_assert_int_eq(link_hdr_decode(f.b, f.len, MAXP, &h), -1);
  ck_assert_uint_eq(h.kind, LINK_DATA);
  ck_assert_uint_eq(link_index_slot(h.receiver), pr.b.slot);
  ck_assert_uint_ne(h.receiver & 0xffffff, 0);
  ck_assert_uint_eq(h.len, 3 + 1 + NOISE_TAG);
  uint64_t c0 = h.counter;
  seal(&pr, &pr.a, NET_MSG_TX, "abc", 3, &f);
  ck_assert_int_eq(link_hdr_decode(f.b, f.len, MAXP, &h), -1);
  ck_assert_uint_eq(h.counter, c0 + 1);

  /* a frame naming an index nobody has: UNKNOWN_SESSION; another slot too */
  seal(&pr, &pr.a, NET_MSG_TX, "abc", 3, &f);
  f.b[9] ^= 0x55;
  ck_assert_int_eq(deliver(&pr, &pr.b, f.b, f.len), NET_R_UNKNOWN_SESSION);
  f.b[8] ^= 0x01;
  ck_assert_int_eq(deliver(&pr, &pr.b, f.b, f.len), NET_R_UNKNOWN_SESSION);
  /* a handshake response naming nothing pending */
  uint8_t resp[LINK_HDR + LINK_RESP_BODY] = {0};
  link_hdr rh = {LINK_VERSION, LINK_HS_RESP, 0, LINK_RESP_BODY, (uint32_t)pr.a.slot << 24 | 5, 0};
  link_hdr_encode(&rh, resp);
  ck_assert_int_eq(deliver(&pr, &pr.a, resp, sizeof resp), NET_R_UNKNOWN_SESSION);

  /* idle for a long time: keepalives keep both sides up */
  run_for(&pr, 10 * p.dead_ms, 250);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));
  ck_assert_uint_eq(link_handshakes(pr.a.l), 1);
  send_ok(&pr, &pr.b, NET_MSG_MPC, "still here", 10);
  pair_free(&pr);
  link_free(NULL);
}
END_TEST

/* The same seeds give the same bytes: the link's only randomness is io. */
START_TEST(test_link_deterministic) {
  link_params p = default_params();
  uint64_t seed = tu_rand();
  frame first[2];
  for (int run = 0; run < 2; run++) {
    pair pr;
    pair_init(&pr, &p);
    memset(pr.a.s_priv, 0x11, 32); /* fixed keys: pair_init drew random ones */
    memset(pr.b.s_priv, 0x22, 32);
    noise_pubkey(pr.a.s_priv, pr.a.s_pub);
    noise_pubkey(pr.b.s_priv, pr.b.s_pub);
    link_free(pr.a.l);
    link_free(pr.b.l);
    pr.a.rng = seed;
    pr.b.rng = seed + 1;
    link_io ia = {&pr.a, io_send, io_random}, ib = {&pr.b, io_send, io_random};
    pr.a.l = link_new(3, pr.prologue, sizeof pr.prologue, pr.a.s_priv, pr.b.s_pub, &p, &ia);
    pr.b.l = link_new(7, pr.prologue, sizeof pr.prologue, pr.b.s_priv, pr.a.s_pub, &p, &ib);
    connect_pair(&pr);
    seal(&pr, &pr.a, NET_MSG_SYNC, "same", 4, &first[run]);
    pair_free(&pr);
  }
  ck_assert_uint_eq(first[0].len, first[1].len);
  ck_assert(memcmp(first[0].b, first[1].b, first[0].len) == 0);
}
END_TEST

/* A random source that only gives zeros cannot hang index selection, and a
 * peer key that is a low-order point makes no frame but keeps the pacing. */
START_TEST(test_link_degenerate) {
  link_params p = default_params();
  pair pr;
  pair_init(&pr, &p);
  pr.a.zero_random = pr.b.zero_random = 1;
  connect_pair(&pr);
  frame f;
  seal(&pr, &pr.a, NET_MSG_TX, "z", 1, &f);
  link_hdr h;
  ck_assert_int_eq(link_hdr_decode(f.b, f.len, MAXP, &h), -1);
  ck_assert_uint_eq(h.receiver, (uint32_t)pr.b.slot << 24 | 1); /* the walk from 0 */
  ck_assert_int_eq(deliver(&pr, &pr.b, f.b, f.len), IN_MSG);
  for (int i = 0; i < 3; i++) { /* more sessions: each index distinct */
    pr.now += p.hs_min_interval_ms;
    link_rekey(pr.a.l, pr.now);
    pump(&pr);
    send_ok(&pr, &pr.a, NET_MSG_TX, "z", 1);
    send_ok(&pr, &pr.b, NET_MSG_TX, "z", 1);
  }
  pair_free(&pr);

  static const uint8_t low_order[32]; /* the all-zero point */
  side s;
  memset(&s, 0, sizeof s);
  s.pr = &pr;
  pr.now = 1000;
  tu_randbytes(s.s_priv, 32);
  s.q = calloc(QCAP, sizeof *s.q);
  ck_assert_ptr_nonnull(s.q);
  link_io io = {&s, io_send, io_random};
  peer_link *l = link_new(9, NULL, 0, s.s_priv, low_order, &p, &io);
  ck_assert_ptr_nonnull(l);
  ck_assert_int_eq(link_seal(l, pr.now, NET_MSG_TX, NULL, 0, f.b, &f.len), CX_E_NO_SESSION);
  for (int i = 0; i < 100; i++) link_tick(l, pr.now += 10);
  ck_assert_uint_eq(s.nsent, 0);
  ck_assert(!link_connected(l, pr.now));
  link_free(l);
  free(s.q);
}
END_TEST

START_TEST(test_link_auth_and_replay) {
  link_params p = default_params();
  pair pr;
  pair_init(&pr, &p);
  connect_pair(&pr);

  /* a flipped bit anywhere in the body or in the authenticated header */
  frame f;
  for (size_t bit = 0; bit < 8 * (20 + 1 + 5 + NOISE_TAG); bit += 3) {
    seal(&pr, &pr.a, NET_MSG_TX, "hello", 5, &f);
    size_t byte = bit / 8;
    if (byte < 12) continue; /* version..receiver: other checks answer first */
    f.b[byte] ^= (uint8_t)(1u << (bit % 8));
    ck_assert_int_eq(deliver(&pr, &pr.b, f.b, f.len), NET_R_AUTH);
  }
  /* ... and the link still works */
  send_ok(&pr, &pr.a, NET_MSG_TX, "after", 5);

  /* a forged counter far ahead must not move the window */
  seal(&pr, &pr.a, NET_MSG_TX, "x", 1, &f);
  frame g = f;
  g.b[12] ^= 0x40; /* counter + 2^62 */
  ck_assert_int_eq(deliver(&pr, &pr.b, g.b, g.len), NET_R_AUTH);
  ck_assert_int_eq(deliver(&pr, &pr.b, f.b, f.len), IN_MSG);

  /* replay */
  ck_assert_int_eq(deliver(&pr, &pr.b, f.b, f.len), NET_R_REPLAY);
  ck_assert_int_eq(deliver(&pr, &pr.b, f.b, f.len), NET_R_REPLAY);

  /* out of order within the window: each accepted exactly once */
  enum { N = 40 };
  static frame fs[N];
  for (int i = 0; i < N; i++) {
    uint8_t m = (uint8_t)i;
    seal(&pr, &pr.a, NET_MSG_TX, &m, 1, &fs[i]);
  }
  int order[N];
  for (int i = 0; i < N; i++) order[i] = i;
  for (int i = N - 1; i > 0; i--) { /* seeded shuffle */
    int j = (int)(tu_rand() % (uint64_t)(i + 1)), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (int i = 0; i < N; i++) {
    ck_assert_int_eq(deliver(&pr, &pr.b, fs[order[i]].b, fs[order[i]].len), IN_MSG);
    ck_assert_uint_eq(pr.b.payload[0], (uint8_t)order[i]);
  }
  for (int i = 0; i < N; i++)
    ck_assert_int_eq(deliver(&pr, &pr.b, fs[i].b, fs[i].len), NET_R_REPLAY);

  /* the window edge: with top = c + LINK_WINDOW, c is too old and c + 1
   * is still inside */
  frame edge, old, top;
  seal(&pr, &pr.a, NET_MSG_TX, "o", 1, &old);  /* c */
  seal(&pr, &pr.a, NET_MSG_TX, "e", 1, &edge); /* c + 1 */
  for (int i = 0; i < LINK_WINDOW - 2; i++) seal(&pr, &pr.a, NET_MSG_TX, "", 0, &f);
  seal(&pr, &pr.a, NET_MSG_TX, "t", 1, &top); /* c + LINK_WINDOW */
  ck_assert_int_eq(deliver(&pr, &pr.b, top.b, top.len), IN_MSG);
  ck_assert_int_eq(deliver(&pr, &pr.b, edge.b, edge.len), IN_MSG);
  ck_assert_int_eq(deliver(&pr, &pr.b, edge.b, edge.len), NET_R_REPLAY);
  ck_assert_int_eq(deliver(&pr, &pr.b, old.b, old.len), NET_R_REPLAY); /* beyond the window */
  /* a jump far ahead clears the window: nothing in it counts as seen */
  for (int i = 0; i < 3 * LINK_WINDOW; i++) seal(&pr, &pr.a, NET_MSG_TX, "", 0, &f);
  frame near;
  seal(&pr, &pr.a, NET_MSG_TX, "n", 1, &near);
  seal(&pr, &pr.a, NET_MSG_TX, "f", 1, &f);
  ck_assert_int_eq(deliver(&pr, &pr.b, f.b, f.len), IN_MSG);
  ck_assert_int_eq(deliver(&pr, &pr.b, near.b, near.len), IN_MSG);
  ck_assert_int_eq(deliver(&pr, &pr.b, near.b, near.len), NET_R_REPLAY);

  /* truncated data frames: the header decode refuses them */
  seal(&pr, &pr.a, NET_MSG_TX, "abc", 3, &f);
  ck_assert_int_eq(deliver(&pr, &pr.b, f.b, f.len - 1), NET_R_MALFORMED);
  send_ok(&pr, &pr.b, NET_MSG_SYNC, "fine", 4);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));
  pair_free(&pr);
}
END_TEST

START_TEST(test_link_rekey_by_count_and_time) {
  link_params p = default_params();
  p.rekey_msgs = 16;
  pair pr;
  pair_init(&pr, &p);
  connect_pair(&pr);
  uint64_t ha = link_handshakes(pr.a.l), hb = link_handshakes(pr.b.l);
  pr.now += p.hs_min_interval_ms; /* b would rate-limit a second init now */

  /* frames captured on the first session, delivered later */
  frame early1, early2, f;
  seal(&pr, &pr.a, NET_MSG_TX, "early1", 6, &early1);
  seal(&pr, &pr.a, NET_MSG_TX, "early2", 6, &early2);
  /* the keepalive took counter 0: 3 frames sent, 13 more reach the limit */
  for (int i = 0; i < 13; i++) seal(&pr, &pr.a, NET_MSG_TX, "", 0, &f);
  ck_assert_uint_eq(pr.a.nq, 0);
  seal(&pr, &pr.a, NET_MSG_TX, "", 0, &f); /* counter 16 >= rekey_msgs: init out */
  ck_assert_uint_eq(pr.a.nq, 1);
  ck_assert_uint_eq(pr.a.q[0].b[1], LINK_HS_INIT);
  seal(&pr, &pr.a, NET_MSG_TX, "", 0, &f); /* only one handshake in flight */
  ck_assert_uint_eq(pr.a.nq, 1);
  pump(&pr);
  ck_assert_uint_eq(link_handshakes(pr.a.l), ha + 1);
  ck_assert_uint_eq(link_handshakes(pr.b.l), hb + 1);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));

  /* the new session carries traffic; the old one still decrypts late frames */
  send_ok(&pr, &pr.a, NET_MSG_TX, "new", 3);
  send_ok(&pr, &pr.b, NET_MSG_TX, "new", 3);
  ck_assert_int_eq(deliver(&pr, &pr.b, early1.b, early1.len), IN_MSG);
  ck_assert_uint_eq(pr.b.plen, 6);
  ck_assert(memcmp(pr.b.payload, "early1", 6) == 0);
  send_ok(&pr, &pr.a, NET_MSG_TX, "newer", 5);

  /* rekey by time (both sides' sessions are equally old: both start one) */
  ha = link_handshakes(pr.a.l);
  hb = link_handshakes(pr.b.l);
  run_for(&pr, p.rekey_ms, 500);
  ck_assert_uint_gt(link_handshakes(pr.a.l), ha);
  ck_assert_uint_gt(link_handshakes(pr.b.l), hb);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));
  for (int i = 0; i < 5; i++) {
    send_ok(&pr, &pr.a, NET_MSG_CONSENSUS, "t", 1);
    send_ok(&pr, &pr.b, NET_MSG_CONSENSUS, "u", 1);
  }
  /* two rekeys later the first session is gone */
  ck_assert_int_eq(deliver(&pr, &pr.b, early2.b, early2.len), NET_R_OLD_SESSION);
  pair_free(&pr);
}
END_TEST

/* Past twice the limits a session is not used, even with no new one. */
START_TEST(test_link_hard_limits) {
  link_params p = default_params();
  p.rekey_msgs = 4;
  pair pr;
  pair_init(&pr, &p);
  connect_pair(&pr);
  pr.a.drop = 1; /* a's handshakes never arrive */
  frame f;
  for (int i = 1; i < 8; i++) seal(&pr, &pr.a, NET_MSG_TX, "", 0, &f); /* counters 1..7 */
  ck_assert_int_eq(link_seal(pr.a.l, pr.now, NET_MSG_TX, NULL, 0, f.b, &f.len), CX_E_NO_SESSION);
  /* b's session is young in count: it still sends */
  send_ok(&pr, &pr.b, NET_MSG_TX, "b", 1);
  pair_free(&pr);

  /* by age: with no answer to the rekey, 2 * rekey_ms ends sending */
  p = default_params();
  p.rekey_ms = 2000;
  p.dead_ms = 60000;
  pair_init(&pr, &p);
  connect_pair(&pr);
  pr.a.drop = pr.b.drop = 1;
  pr.now += 2 * p.rekey_ms - 1;
  seal(&pr, &pr.a, NET_MSG_TX, "", 0, &f);
  pr.now += 1;
  ck_assert_int_eq(link_seal(pr.a.l, pr.now, NET_MSG_TX, NULL, 0, f.b, &f.len), CX_E_NO_SESSION);
  pair_free(&pr);
}
END_TEST

START_TEST(test_link_handshake_replay_and_rate) {
  link_params p = default_params();
  p.hs_min_interval_ms = 500;
  pair pr;
  pair_init(&pr, &p);
  link_rekey(pr.a.l, pr.now);
  ck_assert_uint_eq(pr.a.nq, 1);
  frame init = pr.a.q[0];
  pump(&pr);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));

  /* the same init again, now and much later: refused, nothing answered */
  ck_assert_int_eq(deliver(&pr, &pr.b, init.b, init.len), NET_R_HS_REPLAY);
  pr.now += 10 * p.hs_min_interval_ms;
  ck_assert_int_eq(deliver(&pr, &pr.b, init.b, init.len), NET_R_HS_REPLAY);
  ck_assert_uint_eq(pr.b.nq, 0);
  send_ok(&pr, &pr.a, NET_MSG_TX, "ok", 2);

  /* two fresh inits within hs_min_interval_ms: the second is rate limited */
  link_rekey(pr.a.l, pr.now);
  pump(&pr);
  link_rekey(pr.a.l, pr.now + 1);
  ck_assert_uint_eq(pr.a.nq, 1);
  ck_assert_int_eq(deliver(&pr, &pr.b, pr.a.q[0].b, pr.a.q[0].len), NET_R_RATE);
  pr.a.nq = 0;
  ck_assert_uint_eq(pr.b.nq, 0);
  /* after the interval a fresh one is accepted */
  pr.now += p.hs_min_interval_ms;
  link_rekey(pr.a.l, pr.now);
  pump(&pr);
  ck_assert_uint_eq(pr.b.rejects[NET_R_RATE], 1);
  send_ok(&pr, &pr.a, NET_MSG_TX, "ok", 2);
  send_ok(&pr, &pr.b, NET_MSG_TX, "ok", 2);

  /* the timestamp keeps growing when the clock stands still or goes back */
  pr.now += p.hs_min_interval_ms;
  link_rekey(pr.a.l, pr.now - 100000);
  pump(&pr);
  ck_assert_uint_eq(pr.b.rejects[NET_R_HS_REPLAY], 2);
  ck_assert_uint_eq(pr.b.rejects[NET_R_RATE], 1);

  /* an init the member lookup attributed to the wrong peer_link */
  side c;
  memset(&c, 0, sizeof c);
  c.pr = &pr;
  tu_randbytes(c.s_priv, 32);
  noise_pubkey(c.s_priv, c.s_pub);
  noise_hs ini, res;
  uint8_t m1[LINK_INIT_BODY], pl[LINK_INIT_PAYLOAD] = {0, 0, 0, 9}, e[32];
  size_t n, pn;
  tu_randbytes(e, 32);
  pl[11] = 1;
  noise_hs_init(&ini, 1, pr.prologue, sizeof pr.prologue, c.s_priv, pr.b.s_pub);
  ck_assert_int_eq(noise_write_msg1(&ini, e, pl, sizeof pl, m1, sizeof m1, &n), CX_OK);
  noise_hs_init(&res, 0, pr.prologue, sizeof pr.prologue, pr.b.s_priv, NULL);
  ck_assert_int_eq(noise_read_msg1(&res, m1, n, pl, sizeof pl, &pn), CX_OK);
  ck_assert_int_eq(link_accept_init(pr.b.l, pr.now, &res, pl, pn), NET_R_NOT_MEMBER);
  noise_hs_wipe(&ini);
  send_ok(&pr, &pr.a, NET_MSG_TX, "ok", 2);
  pair_free(&pr);
}
END_TEST

/* Responses that are not the genuine answer to the pending handshake, odd
 * calls, and the connection the timers make on their own. */
START_TEST(test_link_odd_frames) {
  link_params p = default_params();
  pair pr;
  pair_init(&pr, &p);
  /* nobody asked: the first tick starts handshakes on both sides */
  run_for(&pr, 10, 10);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));
  send_ok(&pr, &pr.a, NET_MSG_TX, "a", 1);
  send_ok(&pr, &pr.b, NET_MSG_TX, "b", 1);

  /* a's pending index, read from its init the way b would */
  pr.now += p.hs_min_interval_ms;
  uint64_t h0 = link_handshakes(pr.a.l);
  link_rekey(pr.a.l, pr.now);
  ck_assert_uint_eq(pr.a.nq, 1);
  frame init = pr.a.q[0];
  pr.a.nq = 0;
  noise_hs hs;
  uint8_t pl[LINK_INIT_PAYLOAD];
  size_t pn;
  noise_hs_init(&hs, 0, pr.prologue, sizeof pr.prologue, pr.b.s_priv, NULL);
  ck_assert_int_eq(noise_read_msg1(&hs, init.b + LINK_HDR, LINK_INIT_BODY, pl, sizeof pl, &pn),
                   CX_OK);
  uint32_t idx = (uint32_t)pl[0] << 24 | (uint32_t)pl[1] << 16 | (uint32_t)pl[2] << 8 | pl[3];
  ck_assert_uint_eq(link_index_slot(idx), pr.a.slot);

  /* a forged response naming it fails and leaves the handshake alive */
  uint8_t resp[LINK_HDR + LINK_RESP_BODY];
  link_hdr rh = {LINK_VERSION, LINK_HS_RESP, 0, LINK_RESP_BODY, idx, 0};
  link_hdr_encode(&rh, resp);
  tu_randbytes(resp + LINK_HDR, LINK_RESP_BODY);
  ck_assert_int_eq(deliver(&pr, &pr.a, resp, sizeof resp), NET_R_HANDSHAKE);
  ck_assert_int_eq(deliver(&pr, &pr.b, init.b, init.len), IN_NONE);
  ck_assert_uint_eq(pr.b.nq, 1);
  frame real = pr.b.q[0];
  pump(&pr);
  ck_assert_uint_eq(link_handshakes(pr.a.l), h0 + 1);
  /* the same response again names a live session: a replay */
  ck_assert_int_eq(deliver(&pr, &pr.a, real.b, real.len), NET_R_REPLAY);
  send_ok(&pr, &pr.a, NET_MSG_TX, "a", 1);
  send_ok(&pr, &pr.b, NET_MSG_TX, "b", 1);

  /* an authentic response carrying sender index 0 (a broken peer): refused,
   * and the retry timer brings a fresh handshake */
  pr.now += p.hs_min_interval_ms;
  h0 = link_handshakes(pr.a.l);
  link_rekey(pr.a.l, pr.now);
  init = pr.a.q[0];
  pr.a.nq = 0;
  noise_hs_init(&hs, 0, pr.prologue, sizeof pr.prologue, pr.b.s_priv, NULL);
  ck_assert_int_eq(noise_read_msg1(&hs, init.b + LINK_HDR, LINK_INIT_BODY, pl, sizeof pl, &pn),
                   CX_OK);
  idx = (uint32_t)pl[0] << 24 | (uint32_t)pl[1] << 16 | (uint32_t)pl[2] << 8 | pl[3];
  uint8_t e[32], zero4[4] = {0};
  size_t n;
  tu_randbytes(e, 32);
  rh.receiver = idx;
  link_hdr_encode(&rh, resp);
  ck_assert_int_eq(noise_write_msg2(&hs, e, zero4, 4, resp + LINK_HDR, LINK_RESP_BODY, &n), CX_OK);
  noise_hs_wipe(&hs);
  ck_assert_int_eq(deliver(&pr, &pr.a, resp, sizeof resp), NET_R_HANDSHAKE);
  ck_assert_uint_eq(link_handshakes(pr.a.l), h0);
  run_for(&pr, 2 * p.hs_retry_ms, 10);
  ck_assert_uint_eq(link_handshakes(pr.a.l), h0 + 1);
  ck_assert(link_connected(pr.a.l, pr.now));
  send_ok(&pr, &pr.a, NET_MSG_TX, "a", 1);

  /* a's init is lost, b's handshake connects them: a's retry is dropped,
   * not sent */
  pr.now += p.hs_min_interval_ms;
  pr.a.drop = 1;
  link_rekey(pr.a.l, pr.now);
  pr.a.drop = 0;
  link_rekey(pr.b.l, pr.now);
  pump(&pr);
  size_t inits = 0, inits2 = 0;
  for (size_t i = 0; i < pr.a.nsent; i++) inits += pr.a.sent[i].kind == LINK_HS_INIT;
  run_for(&pr, 4 * p.hs_retry_max_ms, 10);
  for (size_t i = 0; i < pr.a.nsent; i++) inits2 += pr.a.sent[i].kind == LINK_HS_INIT;
  ck_assert_uint_eq(inits2, inits);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));

  /* link_input refuses inits and headers that do not match the bytes */
  unsigned type;
  const uint8_t *payload;
  size_t plen;
  int reject;
  link_hdr ih = {LINK_VERSION, LINK_HS_INIT, 0, LINK_INIT_BODY, (uint32_t)pr.a.slot << 24 | 1, 0};
  ck_assert_int_eq(link_input(pr.a.l, pr.now, &ih, init.b, init.len, &type, &payload, &plen, &reject),
                   LINK_IN_REJECT);
  ck_assert_int_eq(reject, NET_R_MALFORMED);
  ih.kind = LINK_DATA;
  ih.len = 5;
  ck_assert_int_eq(link_input(pr.a.l, pr.now, &ih, init.b, init.len, &type, &payload, &plen, &reject),
                   LINK_IN_REJECT);
  ck_assert_int_eq(reject, NET_R_MALFORMED);
  send_ok(&pr, &pr.b, NET_MSG_TX, "b", 1);
  pair_free(&pr);
}
END_TEST

START_TEST(test_link_simultaneous) {
  link_params p = default_params();
  pair pr;
  pair_init(&pr, &p);
  /* both start at once: each is initiator of one handshake, responder of the other */
  link_rekey(pr.a.l, pr.now);
  link_rekey(pr.b.l, pr.now);
  pump(&pr);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));
  ck_assert_uint_eq(pr.a.rejects[NET_R_HS_REPLAY] + pr.a.rejects[NET_R_RATE], 0);
  for (int i = 0; i < 10; i++) {
    send_ok(&pr, &pr.a, NET_MSG_CONSENSUS, "a", 1);
    send_ok(&pr, &pr.b, NET_MSG_CONSENSUS, "b", 1);
  }
  /* a rekey by one side while the other keeps sending: a frame b seals on
   * its old session after answering, but before it sees a's confirmation,
   * still arrives */
  pr.now += p.hs_min_interval_ms;
  link_rekey(pr.a.l, pr.now);
  ck_assert_uint_eq(pr.a.nq, 1);
  ck_assert_int_eq(deliver(&pr, &pr.b, pr.a.q[0].b, pr.a.q[0].len), IN_NONE); /* init */
  pr.a.nq = 0;
  ck_assert_uint_eq(pr.b.nq, 1);
  ck_assert_int_eq(deliver(&pr, &pr.a, pr.b.q[0].b, pr.b.q[0].len), IN_NONE); /* resp */
  pr.b.nq = 0;
  ck_assert_uint_eq(pr.a.nq, 1); /* a's keepalive on the new session */
  frame late;
  seal(&pr, &pr.b, NET_MSG_TX, "late", 4, &late);
  ck_assert_int_eq(deliver(&pr, &pr.b, pr.a.q[0].b, pr.a.q[0].len), IN_NONE);
  pr.a.nq = 0;
  ck_assert_int_eq(deliver(&pr, &pr.a, late.b, late.len), IN_MSG);
  for (int i = 0; i < 10; i++) {
    send_ok(&pr, &pr.a, NET_MSG_SYNC, "a", 1);
    send_ok(&pr, &pr.b, NET_MSG_SYNC, "b", 1);
  }

  /* simultaneous again, through the timers this time, and idle after */
  pr.now += p.hs_min_interval_ms;
  link_rekey(pr.a.l, pr.now);
  link_rekey(pr.b.l, pr.now);
  pump(&pr);
  run_for(&pr, 3 * p.dead_ms, 250);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));
  for (int i = 0; i < 10; i++) {
    send_ok(&pr, &pr.a, NET_MSG_MPC, "a", 1);
    send_ok(&pr, &pr.b, NET_MSG_MPC, "b", 1);
  }
  pair_free(&pr);
}
END_TEST

START_TEST(test_link_dead_and_back) {
  link_params p = default_params();
  pair pr;
  pair_init(&pr, &p);
  connect_pair(&pr);
  send_ok(&pr, &pr.a, NET_MSG_TX, "up", 2);
  uint64_t h0 = link_handshakes(pr.a.l);

  /* cut both directions */
  pr.a.drop = pr.b.drop = 1;
  size_t sent0 = pr.a.nsent;
  run_for(&pr, p.dead_ms - 500, 10);
  ck_assert(link_connected(pr.a.l, pr.now)); /* not yet */
  run_for(&pr, 10000, 10);
  ck_assert(!link_connected(pr.a.l, pr.now));
  ck_assert(!link_connected(pr.b.l, pr.now));
  frame f;
  ck_assert_int_eq(link_seal(pr.a.l, pr.now, NET_MSG_TX, NULL, 0, f.b, &f.len), CX_E_NO_SESSION);

  /* a's inits since death: intervals double from hs_retry_ms to the cap */
  uint64_t at[64];
  size_t n = 0;
  for (size_t i = sent0; i < pr.a.nsent && n < 64; i++)
    if (pr.a.sent[i].kind == LINK_HS_INIT) at[n++] = pr.a.sent[i].at;
  ck_assert_uint_ge(n, 6);
  uint64_t want = p.hs_retry_ms;
  for (size_t i = 1; i < n; i++) {
    ck_assert_uint_eq(at[i] - at[i - 1], want);
    want = want * 2 > p.hs_retry_max_ms ? p.hs_retry_max_ms : want * 2;
  }
  ck_assert_uint_eq(at[n - 1] - at[n - 2], p.hs_retry_max_ms);

  /* traffic flows again: the next retry gets through */
  pr.a.drop = pr.b.drop = 0;
  run_for(&pr, p.hs_retry_max_ms + 100, 10);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));
  ck_assert_uint_gt(link_handshakes(pr.a.l), h0);
  send_ok(&pr, &pr.a, NET_MSG_TX, "back", 4);
  send_ok(&pr, &pr.b, NET_MSG_TX, "back", 4);
  /* and it stays up, with no handshake storm */
  uint64_t h1 = link_handshakes(pr.a.l);
  run_for(&pr, 4 * p.dead_ms, 100);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));
  ck_assert_uint_le(link_handshakes(pr.a.l), h1 + 1);
  send_ok(&pr, &pr.b, NET_MSG_TX, "stable", 6);

  /* one-way silence: only b hears nothing, b drops, both recover */
  pr.a.drop = 1;
  run_for(&pr, p.dead_ms + 100, 50);
  ck_assert(!link_connected(pr.b.l, pr.now));
  pr.a.drop = 0;
  run_for(&pr, 2 * p.hs_retry_max_ms, 50);
  ck_assert(link_connected(pr.a.l, pr.now));
  ck_assert(link_connected(pr.b.l, pr.now));
  send_ok(&pr, &pr.a, NET_MSG_TX, "x", 1);
  send_ok(&pr, &pr.b, NET_MSG_TX, "y", 1);
  pair_free(&pr);
}
END_TEST

static void mkhdr(uint8_t *buf, uint8_t version, uint8_t kind, uint16_t flags, uint32_t len) {
  link_hdr h = {version, kind, flags, len, 0x01020304, 0x0506070809101112ull};
  link_hdr_encode(&h, buf);
}

START_TEST(test_link_hdr_decode) {
  static uint8_t buf[LINK_HDR + MAXP + 64];
  link_hdr h;
  const size_t lim = MAXP + 1 + NOISE_TAG; /* largest data body */

  /* encode/decode round trip, big-endian on the wire */
  mkhdr(buf, 1, LINK_DATA, 0, 17);
  static const uint8_t want[LINK_HDR] = {1, 3, 0, 0, 0, 0, 0, 17, 1, 2, 3, 4,
                                         5, 6, 7, 8, 9, 0x10, 0x11, 0x12};
  ck_assert(memcmp(buf, want, LINK_HDR) == 0);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + 17, MAXP, &h), -1);
  ck_assert_uint_eq(h.version, 1);
  ck_assert_uint_eq(h.kind, LINK_DATA);
  ck_assert_uint_eq(h.flags, 0);
  ck_assert_uint_eq(h.len, 17);
  ck_assert_uint_eq(h.receiver, 0x01020304);
  ck_assert_uint_eq(h.counter, 0x0506070809101112ull);

  /* 1. short: before anything else, even a bad version */
  mkhdr(buf, 9, 9, 9, 0);
  for (size_t len = 0; len < LINK_HDR; len++)
    ck_assert_int_eq(link_hdr_decode(buf, len, MAXP, &h), NET_R_MALFORMED);
  /* 2. version before kind and flags */
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR, MAXP, &h), NET_R_VERSION);
  mkhdr(buf, 0, LINK_DATA, 0, 0);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR, MAXP, &h), NET_R_VERSION);
  /* 3. kind, then flags: both before the length checks */
  mkhdr(buf, 1, 0, 0, 0xffffffff);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR, MAXP, &h), NET_R_MALFORMED);
  mkhdr(buf, 1, 4, 0, 0xffffffff);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR, MAXP, &h), NET_R_MALFORMED);
  mkhdr(buf, 1, LINK_DATA, 1, 0xffffffff);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR, MAXP, &h), NET_R_MALFORMED);
  mkhdr(buf, 1, LINK_DATA, 0x8000, 17);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + 17, MAXP, &h), NET_R_MALFORMED);
  /* 4. oversized before the length mismatch (nothing read past the header) */
  mkhdr(buf, 1, LINK_DATA, 0, (uint32_t)lim + 1);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR, MAXP, &h), NET_R_OVERSIZED);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + lim + 1, MAXP, &h), NET_R_OVERSIZED);
  mkhdr(buf, 1, LINK_DATA, 0, 0xffffffff);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR, MAXP, &h), NET_R_OVERSIZED);
  mkhdr(buf, 1, LINK_DATA, 0, (uint32_t)lim);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + lim, MAXP, &h), -1); /* exactly the cap */
  /* handshakes have no cap check: a huge length is a mismatch */
  mkhdr(buf, 1, LINK_HS_INIT, 0, 0xffffffff);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR, MAXP, &h), NET_R_MALFORMED);
  /* 5. length mismatch, both ways */
  mkhdr(buf, 1, LINK_DATA, 0, 20);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + 19, MAXP, &h), NET_R_MALFORMED);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + 21, MAXP, &h), NET_R_MALFORMED);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + 20, MAXP, &h), -1);
  /* 6. exact handshake bodies, minimum data body */
  mkhdr(buf, 1, LINK_HS_INIT, 0, LINK_INIT_BODY);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + LINK_INIT_BODY, MAXP, &h), -1);
  mkhdr(buf, 1, LINK_HS_INIT, 0, LINK_INIT_BODY - 1);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + LINK_INIT_BODY - 1, MAXP, &h), NET_R_MALFORMED);
  mkhdr(buf, 1, LINK_HS_INIT, 0, LINK_INIT_BODY + 1);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + LINK_INIT_BODY + 1, MAXP, &h), NET_R_MALFORMED);
  mkhdr(buf, 1, LINK_HS_RESP, 0, LINK_RESP_BODY);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + LINK_RESP_BODY, MAXP, &h), -1);
  mkhdr(buf, 1, LINK_HS_RESP, 0, LINK_INIT_BODY);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + LINK_INIT_BODY, MAXP, &h), NET_R_MALFORMED);
  mkhdr(buf, 1, LINK_HS_RESP, 0, 0);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR, MAXP, &h), NET_R_MALFORMED);
  mkhdr(buf, 1, LINK_DATA, 0, 1 + NOISE_TAG - 1);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR + NOISE_TAG, MAXP, &h), NET_R_MALFORMED);
  mkhdr(buf, 1, LINK_DATA, 0, 0);
  ck_assert_int_eq(link_hdr_decode(buf, LINK_HDR, MAXP, &h), NET_R_MALFORMED);
}
END_TEST

static Suite *net_link_suite(void) {
  Suite *s = suite_create("net_link");
  TCase *tc = tcase_create("noise");
  tcase_add_test(tc, test_noise_vectors);
  tcase_add_test(tc, test_noise_failures);
  tcase_add_test(tc, test_noise_aead_paths);
  suite_add_tcase(s, tc);

  tc = tcase_create("link");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_link_handshake_and_messages);
  tcase_add_test(tc, test_link_deterministic);
  tcase_add_test(tc, test_link_degenerate);
  tcase_add_test(tc, test_link_auth_and_replay);
  tcase_add_test(tc, test_link_rekey_by_count_and_time);
  tcase_add_test(tc, test_link_hard_limits);
  tcase_add_test(tc, test_link_handshake_replay_and_rate);
  tcase_add_test(tc, test_link_odd_frames);
  tcase_add_test(tc, test_link_simultaneous);
  tcase_add_test(tc, test_link_dead_and_back);
  tcase_add_test(tc, test_link_hdr_decode);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  tu_seed();
  return tu_run(net_link_suite());
}
