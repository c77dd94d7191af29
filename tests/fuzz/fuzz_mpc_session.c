/* fuzz_mpc_session: the payload parsers of whole MPC sessions — mpc/prep.c
 * (prep_advance: the round payloads, verdicts, echo chains, audit chunks
 * and blobs) and mpc/online.c (the tagged online payloads: openings, input
 * rounds A/B/C and their echo) — reached the way a cheating member reaches
 * them: with validly signed messages whose payloads are its own choice.
 *
 * Each input runs one session of n = 4 parties (t = 1) in-process on the
 * seeded harness (tests/unit/mpc_harness.h) with fixed keys and seeds. One
 * party is the cheater; the harness tamper hook rewrites its messages as
 * the input says, re-signed with its key. Its own session runs honest code
 * on untampered state (it does not know what was sent in its name).
 *
 * Input layout:
 *   byte 0   bit 0: 0 prep, 1 online; bits 1..3: variant v; bit 4 (prep):
 *            audit pieces of 512 bytes (prep.c's test seam
 *            mpc_prep_audit_chunk; the default piece is 6 MiB, which no
 *            fuzz-sized edit can fill), so edits can lie in multi-round audits
 *              prep:   T = 1 + (v & 3) triples, R = (v >> 2) & 1 rands
 *              online: L = 1 + (v & 1) elements per input; dealers of the
 *                      two input slots from k_dealers[(v >> 1) & 3]
 *   byte 1   cheater (mod 4)
 *   then up to MAX_EDITS edits, each
 *     round (prep: mod 16, online: mod 8), to (mod 5: a party, 4 = every
 *     recipient), mode (mod 4), a, b (u16 a | b << 8 = offset or
 *     prefix), len (u16 little-endian), len bytes of data (clipped to what
 *     is left)
 *   An edit applies to every delivery of the cheater's message of that
 *   round to that recipient (a TO_ALL message is delivered once per
 *   recipient: an edit for one recipient makes the cheater equivocate):
 *     mode 0  replace the payload with data
 *     mode 1  XOR data into the original payload from offset u16 (mod len)
 *     mode 2  keep the first u16 bytes of the original, append data
 *     mode 3  insert data into the original at offset u16 (mod len + 1)
 *   Fewer bytes than one edit: an honest run (checked the same way).
 *
 * Program of the online sessions (rounds: input A, B, C; one MUL+OPEN
 * round; one MUL round; the output round):
 *   x = INPUT(d0, slot 0, L), y = INPUT(d1, slot 1, L), z = x * y,
 *   P = OPEN(x), w = z * P (local), v = w * y,
 *   OUTPUT x (0), y (1), z (2), v (3).
 * The inputs are outputs too, so a cheating dealer's actual input (it may
 * input anything: not a cheat) is known and the results are checked
 * against it.
 *
 * Environment (both builds): FUZZ_MPC_SESSION_DEBUG=1 prints each party's
 * outcome and the CPU time per input; FUZZ_MPC_SESSION_ONLY=prep|online runs
 * every input as that kind.
 *
 * Invariants (a violation is __builtin_trap(), which libFuzzer and the
 * replay main report as a crash; the reason is printed first):
 *   - no party's status names an honest party as culprit or in corrected;
 *   - an honest party's culprit comes with evidence naming it that
 *     mpc_evidence_verify accepts (online MALFORMED: or answers
 *     CX_E_NOT_CONFLICTING, the program-specific case mpc.h documents);
 *     likewise the wrong-share evidence behind a correction;
 *   - online: every honest party that is DONE has all four outputs, of
 *     length L, equal at every such party, with an honest dealer's input
 *     exactly and z = x y, v = x^2 y^2 elementwise;
 *   - prep: the honest parties end alike: all DONE or none (a batch in
 *     some honest pools only would desynchronise them; aborted parties may
 *     differ: one may name the cheater while another times out on it, see
 *     test_prep_audit_chunks); if DONE their pools hold exactly T triples
 *     and R rands that are consistent degree-t sharings across the honest
 *     parties with a b = c; if not, no honest pool got anything.
 *   - an untampered run (no edit changed a payload) completes at every
 *     party.
 * No crash, no leak, no sanitizer report. Memory is bounded by the session
 * limits: payloads are at most the input's size plus the original's. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "mpc.h"
#include "mpc_harness.h"
#include "shamir.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N 4
#define T_ 1
#define HARNESS_SEED 0x637573746f73ull
#define POOL_CAP 64
#define MAX_EDITS 2
#define EDIT_HDR 7
#define PREP_ROUNDS_FUZZ 16 /* 0..5, echo 6, audit 7.. (small pieces: up to ~8 rounds) */
#define ONLINE_ROUNDS_FUZZ 8 /* six rounds; a few more never fire */
#define TO_EVERY 4

/* ---- the fixed harness -------------------------------------------------- */

static mh *g_h;
static uint64_t g_rng0[4], g_sessions0; /* the harness state every input starts from */
static mpc_shamir g_sh;

__attribute__((noreturn)) static void die(const char *what) {
  fprintf(stderr, "fuzz_mpc_session: invariant violated: %s\n", what);
  fflush(stderr);
  __builtin_trap();
}

static void init_once(void) {
  if (g_h) return;
  if (sodium_init() < 0) abort();
  g_h = mh_new(N, T_, HARNESS_SEED, POOL_CAP);
  if (!g_h || shamir_init(&g_sh, N, T_) != CX_OK) abort();
  memcpy(g_rng0, g_h->rng, sizeof g_rng0);
  g_sessions0 = g_h->sessions;
}

/* Every input starts from the same harness state and fresh, empty pools. */
static void reset(void) {
  mh *h = g_h;
  memcpy(h->rng, g_rng0, sizeof g_rng0);
  h->sessions = g_sessions0;
  h->now_ms = 0;
  h->delivered = h->refused = 0;
  h->tamper = NULL;
  h->tamper_ctx = NULL;
  for (uint32_t i = 0; i < MPC_MAX_N; i++) h->crash_round[i] = UINT32_MAX;
  for (uint32_t i = 0; i < N; i++) {
    mpc_pool_free(h->pools[i]);
    h->pools[i] = NULL;
    if (mpc_pool_new(POOL_CAP, POOL_CAP, POOL_CAP, POOL_CAP, &h->pools[i]) != CX_OK) abort();
  }
}

/* ---- the input ---------------------------------------------------------- */

typedef struct {
  uint32_t round, to, mode, arg;
  const uint8_t *data;
  size_t len;
} edit;

typedef struct {
  int online;
  uint32_t variant, cheater;
  int small_chunk; /* prep: audit pieces of SMALL_AUDIT_CHUNK bytes */
  edit ed[MAX_EDITS];
  size_t ned;
  uint64_t hits; /* deliveries whose payload the edits changed */
} plan;

static void parse(const uint8_t *data, size_t size, plan *p) {
  memset(p, 0, sizeof *p);
  if (size < 2) return;
  p->online = data[0] & 1;
  p->variant = (data[0] >> 1) & 7;
  p->small_chunk = (data[0] >> 4) & 1;
  p->cheater = data[1] % N;
  size_t off = 2;
  while (p->ned < MAX_EDITS && size - off >= EDIT_HDR) {
    const uint8_t *e = data + off;
    edit *d = &p->ed[p->ned++];
    d->round = e[0] % (p->online ? ONLINE_ROUNDS_FUZZ : PREP_ROUNDS_FUZZ);
    d->to = e[1] % 5;
    d->mode = e[2] % 4;
    d->arg = (uint32_t)e[3] | (uint32_t)e[4] << 8;
    size_t len = (size_t)e[5] | (size_t)e[6] << 8;
    off += EDIT_HDR;
    if (len > size - off) len = size - off;
    d->data = data + off;
    d->len = len;
    off += len;
  }
}

/* The replacement payload of one edit (malloc'd, *len bytes). */
static uint8_t *apply(const edit *d, const uint8_t *orig, size_t olen, size_t *len) {
  size_t cap = olen + d->len + 1;
  uint8_t *pl = malloc(cap);
  if (!pl) abort();
  switch (d->mode) {
  case 0:
    if (d->len) memcpy(pl, d->data, d->len);
    *len = d->len;
    break;
  case 1: {
    if (olen) memcpy(pl, orig, olen);
    size_t at = olen ? d->arg % olen : 0;
    for (size_t k = 0; k < d->len && at + k < olen; k++) pl[at + k] ^= d->data[k];
    *len = olen;
    break;
  }
  case 2: {
    size_t keep = d->arg < olen ? d->arg : olen;
    if (keep) memcpy(pl, orig, keep);
    if (d->len) memcpy(pl + keep, d->data, d->len);
    *len = keep + d->len;
    break;
  }
  default: {
    size_t at = d->arg % (olen + 1);
    if (at) memcpy(pl, orig, at);
    if (d->len) memcpy(pl + at, d->data, d->len);
    if (olen > at) memcpy(pl + at + d->len, orig + at, olen - at);
    *len = olen + d->len;
    break;
  }
  }
  if (*len > MPC_MAX_PAYLOAD) *len = MPC_MAX_PAYLOAD; /* cannot happen with fuzz-sized inputs */
  return pl;
}

static int hook(void *ctx, uint32_t from, uint32_t to, const mpc_msg *m, uint8_t **payload, size_t *len) {
  plan *p = ctx;
  if (from != p->cheater) return 0;
  for (size_t k = 0; k < p->ned; k++) {
    const edit *d = &p->ed[k];
    if (d->round != m->round || (d->to != TO_EVERY && d->to != to)) continue;
    *payload = apply(d, m->payload, m->len, len);
    /* Only a changed payload is a cheat (a re-signed copy is the same message). */
    if (*len != m->len || (*len && memcmp(*payload, m->payload, *len) != 0)) p->hits++;
    return 1;
  }
  return 0;
}

/* ---- debugging ---------------------------------------------------------- */

/* FUZZ_MPC_SESSION_DEBUG=1: one line per party and input (states, names,
 * reasons: public; never a share or seed), and the CPU time per input. */
static int g_debug = -1;
/* FUZZ_MPC_SESSION_ONLY=prep|online: every input runs that kind (focus). */
static int g_only = -1;

static void debug_report(const plan *p, mpc_session *const *sess) {
  if (!g_debug) return;
  fprintf(stderr, "%s cheater %u variant %u%s edits %zu hits %llu\n", p->online ? "online" : "prep",
          p->cheater, p->variant, !p->online && p->small_chunk ? " small-chunk" : "", p->ned,
          (unsigned long long)p->hits);
  for (uint32_t i = 0; i < N; i++) {
    const mpc_status *st = mpc_session_status(sess[i]);
    fprintf(stderr, "  party %u%s: state %d err %s culprit %d corrected %llx unresp %llx rounds %u: %s\n", i,
            i == p->cheater ? " (cheater)" : "", st->state, cx_err_name(st->err), st->culprit,
            (unsigned long long)st->corrected, (unsigned long long)st->unresponsive, st->rounds, st->reason);
  }
}

/* ---- common checks ------------------------------------------------------ */

static int honest(const plan *p, uint32_t i) { return i != p->cheater; }

/* Evidence the previous party's check already verified (the honest parties
 * usually hold the same): verifying an audit replays a party, so once is
 * enough. */
static int same_evidence(const mpc_evidence *a, const mpc_evidence *b) {
  if (!a || a->type != b->type || a->culprit != b->culprit || a->item != b->item || a->count != b->count)
    return 0;
  for (size_t k = 0; k < a->count; k++)
    if (a->len[k] != b->len[k] || memcmp(a->msg[k], b->msg[k], a->len[k]) != 0) return 0;
  return 1;
}

/* An untampered run (no edit changed a payload: the cheater behaved) ends
 * with every party done. */
static void check_untampered(const plan *p, mpc_session *const *sess) {
  if (p->hits) return;
  for (uint32_t i = 0; i < N; i++)
    if (mpc_session_status(sess[i])->state != MPC_DONE) die("an untampered run did not complete at every party");
}

/* Culprit and corrected name only the cheater, at every party; an honest
 * party's naming comes with evidence that proves it. */
static void check_naming(const plan *p, mpc_session *const *sess) {
  uint64_t cheat = (uint64_t)1 << p->cheater;
  const mpc_evidence *verified = NULL;
  for (uint32_t i = 0; i < N; i++) {
    const mpc_status *st = mpc_session_status(sess[i]);
    if (st->culprit != -1 && st->culprit != (int32_t)p->cheater) die("an honest party is named as culprit");
    if (st->corrected & ~cheat) die("an honest party is in corrected");
    if (st->state == MPC_DONE && st->culprit != -1) die("a done session names a culprit");
    if (!honest(p, i)) continue;
    const mpc_evidence *ev = mpc_session_evidence(sess[i]);
    if (st->culprit >= 0 || st->corrected) {
      if (ev->type == MPC_EV_NONE) die("a culprit or correction without evidence");
      if (ev->culprit != (int32_t)p->cheater) die("the evidence names an honest party");
      if (same_evidence(verified, ev)) continue;
      cx_err e = mpc_evidence_verify(N, T_, g_h->pks, ev);
      int program_specific = p->online && ev->type == MPC_EV_MALFORMED && e == CX_E_NOT_CONFLICTING;
      if (e != CX_OK && !program_specific) {
        fprintf(stderr, "fuzz_mpc_session: party %u: evidence type %d (%zu messages) for culprit %d: %s\n",
                i, ev->type, ev->count, ev->culprit, cx_err_name(e));
        die("an honest party's evidence does not verify");
      }
      verified = ev;
    }
  }
}

/* ---- prep --------------------------------------------------------------- */

/* Reconstructs item k across the parties in mask (degree t, no errors). */
static int open_honest(uint64_t mask, fe *const *v, size_t k, fe *out) {
  fe y[MPC_MAX_N] = {0};
  uint64_t err = 0;
  for (uint32_t i = 0; i < N; i++)
    if ((mask >> i) & 1) y[i] = v[i][k];
  return shamir_bw_decode(&g_sh, y, mask, T_, 0, out, &err) == 0;
}

static void check_prep_material(uint64_t mask, size_t T, size_t R) {
  fe *a[MPC_MAX_N] = {0}, *b[MPC_MAX_N] = {0}, *c[MPC_MAX_N] = {0}, *r[MPC_MAX_N] = {0};
  for (uint32_t i = 0; i < N; i++) {
    if (!((mask >> i) & 1)) continue;
    mpc_pool_level lv;
    mpc_pool_level_get(g_h->pools[i], &lv);
    if (lv.triples != T || lv.rands != R) die("prep done: an honest pool holds the wrong amount");
    a[i] = calloc(T + 1, sizeof(fe));
    b[i] = calloc(T + 1, sizeof(fe));
    c[i] = calloc(T + 1, sizeof(fe));
    r[i] = calloc(R + 1, sizeof(fe));
    if (!a[i] || !b[i] || !c[i] || !r[i]) abort();
    if (T && mpc_pool_take_triples(g_h->pools[i], T, a[i], b[i], c[i]) != CX_OK) abort();
    if (R && mpc_pool_take_rands(g_h->pools[i], R, r[i]) != CX_OK) abort();
  }
  for (size_t k = 0; k < T; k++) {
    fe va, vb, vc;
    if (!open_honest(mask, a, k, &va) || !open_honest(mask, b, k, &vb) || !open_honest(mask, c, k, &vc))
      die("prep done: a triple is not a degree-t sharing across the honest parties");
    if (fe_mul(va, vb) != vc) die("prep done: a triple has a * b != c");
  }
  for (size_t k = 0; k < R; k++) {
    fe vr;
    if (!open_honest(mask, r, k, &vr)) die("prep done: a random is not a degree-t sharing");
  }
  for (uint32_t i = 0; i < N; i++) {
    free(a[i]);
    free(b[i]);
    free(c[i]);
    free(r[i]);
  }
}

/* prep.c's test seam: audit blob bytes per audit round (default
 * MPC_MAX_PAYLOAD - 8, so a fuzz-sized input could never fill a piece). */
extern size_t mpc_prep_audit_chunk;
#define SMALL_AUDIT_CHUNK 512

static void run_prep(plan *p) {
  size_t T = 1 + (p->variant & 3), R = (p->variant >> 2) & 1;
  size_t chunk0 = mpc_prep_audit_chunk;
  if (p->small_chunk) mpc_prep_audit_chunk = SMALL_AUDIT_CHUNK;
  mpc_session *sess[MPC_MAX_N] = {0};
  for (uint32_t i = 0; i < N; i++) {
    mpc_session_config cfg;
    mh_config(g_h, i, &cfg);
    if (mpc_session_prep(&cfg, T, R, 0, 0, g_h->pools[i], &sess[i]) != CX_OK) abort();
    sodium_memzero(&cfg, sizeof cfg);
  }
  mh_next_session(g_h);
  g_h->tamper = hook;
  g_h->tamper_ctx = p;
  mh_run(g_h, sess);
  g_h->tamper = NULL;

  debug_report(p, sess);
  check_naming(p, sess);
  check_untampered(p, sess);
  uint64_t hmask = ((1ull << N) - 1) & ~(1ull << p->cheater);
  int done = -1;
  for (uint32_t i = 0; i < N; i++) {
    if (!honest(p, i)) continue;
    const mpc_status *st = mpc_session_status(sess[i]);
    int d = st->state == MPC_DONE;
    if (st->state == MPC_RUNNING) die("prep: an honest session is still running");
    if (done >= 0 && d != done) die("prep: the honest parties disagree on accepting the batch");
    done = d;
  }
  if (done == 1) {
    check_prep_material(hmask, T, R);
  } else {
    for (uint32_t i = 0; i < N; i++) {
      if (!honest(p, i)) continue;
      mpc_pool_level lv;
      mpc_pool_level_get(g_h->pools[i], &lv);
      if (lv.made_triples || lv.made_rands) die("prep failed but an honest pool got material");
    }
  }
  for (uint32_t i = 0; i < N; i++) mpc_session_free(sess[i]);
  mpc_prep_audit_chunk = chunk0;
}

/* ---- online ------------------------------------------------------------- */

#define LMAX 2
static const uint32_t k_dealers[4][2] = {{0, 2}, {1, 3}, {3, 3}, {0, 1}};

/* Plaintext inputs: fixed, some near p so that wrap-around is exercised. */
static fe input_val(uint32_t slot, size_t k) {
  return slot == 0 ? (k ? FE_P - 7 : 123456789) : (k ? ((fe)1 << 100) + 5 : 987654321);
}

/* Pools with the material the program takes, dealt from known values by
 * mh_share (the harness stream: deterministic after reset). */
static void fill_pools(size_t triples, size_t rands) {
  fe a[8], b[8], c[8], r[8], *sa[N], *sb[N], *sc[N], *sr[N];
  fe buf[4][N][8];
  for (size_t k = 0; k < triples; k++) {
    a[k] = (fe)0x1234567 * (k + 3) + 11;
    b[k] = FE_P - (fe)0x7654321 * (k + 5);
    c[k] = fe_mul(a[k], b[k]);
  }
  for (size_t k = 0; k < rands; k++) r[k] = ((fe)1 << 90) + 77 * k;
  for (uint32_t i = 0; i < N; i++) {
    sa[i] = buf[0][i];
    sb[i] = buf[1][i];
    sc[i] = buf[2][i];
    sr[i] = buf[3][i];
  }
  mh_share(g_h, a, triples, sa);
  mh_share(g_h, b, triples, sb);
  mh_share(g_h, c, triples, sc);
  mh_share(g_h, r, rands, sr);
  for (uint32_t i = 0; i < N; i++) {
    if (mpc_pool_put_triples(g_h->pools[i], sa[i], sb[i], sc[i], triples) != CX_OK) abort();
    if (mpc_pool_put_rands(g_h->pools[i], sr[i], rands) != CX_OK) abort();
  }
  sodium_memzero(buf, sizeof buf);
}

static mpc_program *make_program(uint32_t d0, uint32_t d1, size_t L) {
  mpc_program *p = mpc_prog_new();
  if (!p) abort();
  uint32_t x = mpc_input(p, d0, 0, L);
  uint32_t y = mpc_input(p, d1, 1, L);
  uint32_t z = mpc_mul(p, x, y);
  uint32_t P = mpc_open(p, x);
  uint32_t w = mpc_sreg(p);
  mpc_ins in = {.op = MPC_OP_MULP, .d = w, .a = z, .b = P};
  mpc_prog_emit(p, &in);
  uint32_t v = mpc_mul(p, w, y);
  mpc_output(p, x, 0);
  mpc_output(p, y, 1);
  mpc_output(p, z, 2);
  mpc_output(p, v, 3);
  char err[160];
  if (mpc_prog_check(p, N, err, sizeof err) != CX_OK) {
    fprintf(stderr, "fuzz_mpc_session: program: %s\n", err);
    abort();
  }
  return p;
}

static void check_online_outputs(const plan *p, mpc_session *const *sess, uint32_t d0, uint32_t d1, size_t L) {
  const fe *ref[4] = {0};
  for (uint32_t i = 0; i < N; i++) {
    if (!honest(p, i) || mpc_session_status(sess[i])->state != MPC_DONE) continue;
    const fe *o[4];
    for (uint32_t s = 0; s < 4; s++)
      if (mpc_session_output(sess[i], s, &o[s]) != L) die("online done: an output is missing or of the wrong length");
    for (size_t k = 0; k < L; k++) {
      if (d0 != p->cheater && o[0][k] != input_val(0, k)) die("online done: an honest dealer's input changed");
      if (d1 != p->cheater && o[1][k] != input_val(1, k)) die("online done: an honest dealer's input changed");
      fe z = fe_mul(o[0][k], o[1][k]);
      if (o[2][k] != z) die("online done: z != x * y");
      if (o[3][k] != fe_mul(z, z)) die("online done: v != x^2 * y^2");
    }
    if (!ref[0]) {
      memcpy(ref, o, sizeof ref);
      continue;
    }
    for (uint32_t s = 0; s < 4; s++)
      if (memcmp(ref[s], o[s], L * sizeof(fe)) != 0) die("online done: honest parties' outputs differ");
  }
}

static void run_online(plan *p) {
  size_t L = 1 + (p->variant & 1);
  uint32_t d0 = k_dealers[(p->variant >> 1) & 3][0], d1 = k_dealers[(p->variant >> 1) & 3][1];
  mpc_program *prog = make_program(d0, d1, L);
  fill_pools(2 * L, 2 * L);
  fe xin[LMAX], yin[LMAX];
  for (size_t k = 0; k < L; k++) {
    xin[k] = input_val(0, k);
    yin[k] = input_val(1, k);
  }
  /* inputs[i][slot], input_len[i][slot] (mpc_harness.h) */
  const fe *vals[N][2] = {{0}};
  size_t lens[N][2] = {{0}};
  vals[d0][0] = xin;
  lens[d0][0] = L;
  vals[d1][1] = yin;
  lens[d1][1] = L;
  const fe *const *inputs[N];
  const size_t *input_len[N];
  for (uint32_t i = 0; i < N; i++) {
    inputs[i] = vals[i];
    input_len[i] = lens[i];
  }
  mpc_session *sess[MPC_MAX_N] = {0};
  g_h->tamper = hook;
  g_h->tamper_ctx = p;
  mh_online(g_h, prog, inputs, input_len, sess);
  g_h->tamper = NULL;
  for (uint32_t i = 0; i < N; i++)
    if (!sess[i]) abort();
  debug_report(p, sess);
  check_naming(p, sess);
  check_untampered(p, sess);
  for (uint32_t i = 0; i < N; i++)
    if (honest(p, i) && mpc_session_status(sess[i])->state == MPC_RUNNING)
      die("online: an honest session is still running");
  check_online_outputs(p, sess, d0, d1, L);
  for (uint32_t i = 0; i < N; i++) mpc_session_free(sess[i]);
  mpc_prog_free(prog);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0; /* bounded work per input */
  init_once();
  if (g_debug < 0) {
    const char *only = getenv("FUZZ_MPC_SESSION_ONLY");
    g_debug = getenv("FUZZ_MPC_SESSION_DEBUG") != NULL;
    g_only = !only ? -1 : strcmp(only, "prep") == 0 ? 0 : strcmp(only, "online") == 0 ? 1 : -1;
  }
  struct timespec t0, t1;
  if (g_debug) clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  reset();
  plan p;
  parse(data, size, &p);
  if (g_only >= 0) p.online = g_only;
  if (p.online)
    run_online(&p);
  else
    run_prep(&p);
  if (g_debug) {
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    fprintf(stderr, "  %.2f ms cpu\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
  }
  return 0;
}
