/* fuzz_tsign_msg: a live threshold-signing session (mpc/threshold/tsign.h)
 * fed arbitrary messages from arbitrary senders, with time passing.
 *
 * Session: n = 4, t = 3, me = party 1, keys from frost_dealer_keygen with a
 * fixed secret and coefficients, session id 32 x 0x5a, message "fuzz";
 * party 1 coordinates attempt 0 at time 0, so COMMIT and SHARE reach the
 * coordinator's paths and START / REQUEST the signer's. libsodium's
 * randombytes is replaced by a deterministic stream reset for every input,
 * so an input always runs the same way (nonces included).
 *
 * Input: records, until the input ends:
 *   0xff d            time passes by d x 20 ms, then tsign_tick
 *   from be16 len m   tsign_recv(from, m) (from 0..254, so also non-parties;
 *                     len is cut to what is left)
 * Seeds in corpus/fuzz_tsign_msg, written by test_tsign's fuzz_corpus test
 * with CUSTOS_TSIGN_CORPUS=<dir>: commitments then shares, a START and
 * REQUEST from another coordinator, time alone, a share timeout.
 *
 * Checks: no crash or leak (sanitizers); a refusal is a known code with a
 * sentence and leaves the session as it was (status, attempt, counters,
 * named parties, nothing queued); every message the session sends decodes
 * strictly, carries its sid and goes to a party other than itself; it never
 * gives two different commitments or shares for one (coordinator, attempt);
 * a session that is DONE holds a signature that verifies. */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "frost.h"
#include "tsign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N 4
#define T 3
#define ME 1

/* ---- deterministic randombytes ---- */

static uint64_t g_ctr;

static void fz_buf(void *const buf, const size_t n) {
  uint8_t seed[randombytes_SEEDBYTES] = {0};
  memcpy(seed, &g_ctr, sizeof g_ctr);
  g_ctr++;
  randombytes_buf_deterministic(buf, n, seed);
}
static const char *fz_name(void) { return "fuzz-deterministic"; }
static uint32_t fz_random(void) {
  uint32_t r;
  fz_buf(&r, sizeof r);
  return r;
}
static void fz_stir(void) {}
static uint32_t fz_uniform(const uint32_t upper) { return upper < 2 ? 0 : fz_random() % upper; }
static int fz_close(void) { return 0; }
static randombytes_implementation fz_impl = {.implementation_name = fz_name,
                                             .random = fz_random,
                                             .stir = fz_stir,
                                             .uniform = fz_uniform,
                                             .buf = fz_buf,
                                             .close = fz_close};

/* ---- the keys ---- */

static frost_element g_gpk, g_pk[N];
static frost_scalar *g_sk;
static uint8_t g_sid[TSIGN_SID_LEN];
static const uint8_t g_msg[] = "fuzz";
static int g_ready;

static void setup(void) {
  if (g_ready) return;
  if (randombytes_set_implementation(&fz_impl) != 0 || sodium_init() < 0) abort();
  g_sk = sodium_allocarray(N, sizeof *g_sk);
  if (!g_sk) abort();
  frost_scalar secret, coeffs[T - 1];
  frost_id_scalar(7, &secret);
  frost_id_scalar(11, &coeffs[0]);
  frost_id_scalar(13, &coeffs[1]);
  if (frost_dealer_keygen(&secret, coeffs, N, T, g_sk, &g_gpk, NULL, NULL, 0) != CX_OK) abort();
  for (int j = 0; j < N; j++)
    if (frost_public_share(&g_sk[j], &g_pk[j]) != CX_OK) abort();
  memset(g_sid, 0x5a, sizeof g_sid);
  g_ready = 1;
}

/* ---- checks ---- */

typedef struct {
  tsign_status status;
  int32_t attempt;
  tsign_stats stats;
  size_t named;
} snap;

static void take(const tsign *s, snap *out) {
  uint16_t ids[N];
  memset(out, 0, sizeof *out);
  out->status = tsign_status_get(s);
  out->attempt = tsign_attempt(s);
  tsign_stats_get(s, &out->stats);
  tsign_culprits(s, ids, NULL, &out->named);
}

/* What the session gave, per (recipient coordinator, attempt, kind). */
typedef struct {
  uint16_t to, attempt;
  uint8_t kind;
  uint8_t v[64];
} given;

static given g_given[512];
static size_t g_ngiven;

static void check_given(const tsign_out *o, const tsign_msg *m) {
  if (m->kind != TSIGN_KIND_COMMIT && m->kind != TSIGN_KIND_SHARE) return;
  given g = {.to = o->to, .attempt = m->attempt, .kind = m->kind};
  if (m->kind == TSIGN_KIND_COMMIT) {
    memcpy(g.v, m->D.b, 32);
    memcpy(g.v + 32, m->E.b, 32);
  } else {
    memcpy(g.v, m->z.b, 32);
  }
  for (size_t i = 0; i < g_ngiven; i++) {
    const given *h = &g_given[i];
    if (h->to == g.to && h->attempt == g.attempt && h->kind == g.kind) {
      if (memcmp(h->v, g.v, sizeof g.v) != 0) abort(); /* two values for one slot */
      return;
    }
  }
  if (g_ngiven < sizeof g_given / sizeof g_given[0]) g_given[g_ngiven++] = g;
}

static void drain(tsign *s, tsign_out *o, tsign_msg *m) {
  char err[256];
  while (tsign_poll(s, o)) {
    if (o->to == ME || o->to > N) abort();
    if (tsign_decode(o->buf, o->len, N, T, m, err, sizeof err) != CX_OK) abort();
    if (memcmp(m->sid, g_sid, sizeof g_sid) != 0) abort();
    if (o->to == TSIGN_TO_ALL && m->kind != TSIGN_KIND_START) abort();
    check_given(o, m);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup();
  g_ctr = 0;
  g_ngiven = 0;
  char err[300];
  tsign_config cfg = {.n = N,
                      .t = T,
                      .my_id = ME,
                      .group_pk = g_gpk,
                      .pk_shares = g_pk,
                      .share = &g_sk[ME - 1]};
  tsign *s = NULL;
  tsign_out *o = malloc(sizeof *o);
  tsign_msg *m = malloc(sizeof *m);
  if (!o || !m) abort();
  if (tsign_new(g_sid, g_msg, sizeof g_msg - 1, &cfg, &s, err, sizeof err) != CX_OK) abort();
  uint64_t now = 0;
  if (tsign_coordinate(s, 0, now, err, sizeof err) != CX_OK) abort();
  drain(s, o, m);
  size_t p = 0;
  while (p < size) {
    uint8_t op = data[p++];
    if (op == 0xff) {
      if (p < size) now += 20u * data[p++];
      tsign_tick(s, now);
      drain(s, o, m);
      continue;
    }
    size_t len = 0;
    if (p + 2 <= size) len = (size_t)data[p] << 8 | data[p + 1];
    p = p + 2 <= size ? p + 2 : size;
    if (len > size - p) len = size - p;
    snap before, after;
    take(s, &before);
    err[0] = 0;
    cx_err e = tsign_recv(s, op, data + p, len, now, err, sizeof err);
    p += len;
    if (e != CX_OK) {
      if (strcmp(cx_err_name(e), "unknown_error") == 0 || !err[0]) abort();
      take(s, &after);
      if (before.status != after.status || before.attempt != after.attempt ||
          before.named != after.named ||
          before.stats.nonces_made != after.stats.nonces_made ||
          before.stats.shares_made != after.stats.shares_made ||
          before.stats.outbox_dropped != after.stats.outbox_dropped)
        abort();
      if (tsign_poll(s, o)) abort();
    }
    drain(s, o, m);
  }
  if (tsign_status_get(s) == TSIGN_DONE) {
    frost_sig sig;
    if (tsign_signature(s, sig.b) != CX_OK) abort();
    if (frost_verify(&g_gpk, g_msg, sizeof g_msg - 1, &sig, err, sizeof err) != CX_OK) abort();
  } else if (tsign_status_get(s) == TSIGN_FAILED) {
    if (!tsign_reason(s)[0]) abort();
  }
  tsign_free(s);
  free(o);
  free(m);
  return 0;
}
