/* Preprocessing batches: Beaver triples and random sharings, checked before
 * they enter the pool; agreement on the outcome; and the audit that names a
 * cheater when the batch is not accepted (docs/mpc-prep.md;
 * session_internal.h for the framework).
 *
 * Two ways to get the random sharings a batch is made of, chosen by (n, t)
 * alone (prss_mode), so that every party and every verifier of evidence
 * agrees on the rounds:
 *
 * PRSS (small n: each party in at most PRSS_MAX_KEYS key sets). Cramer,
 * Damgård, Ishai 2005 (TCC), "Share conversion, pseudorandom secret-sharing
 * and applications to secure computation", §3: one key per set of n - t
 * parties; a party's share of a random degree-t sharing is the sum over its
 * sets of PRF(key) f_A(alpha_me), and of a degree-2t sharing of zero the
 * same with t more PRF outputs per set (PRZS). No share is sent.
 *   0 KEYS      p2p  the keys of the sets I deal (I am their lowest member)
 *   1 MULT      p2p  a check digest of each of my keys || my degree-2t
 *                    shares of a*b - (s + z) of the products whose king
 *                    the recipient is (item k's king: the j with
 *                    k in [floor(N j / n), floor(N (j + 1) / n)))
 *   2 KING      all  the opened products (ab - s) of my range
 *   3 VERDICT   all  ok byte || transcript hash || my share of w, a random
 *                    combination of all my product shares
 * Dealer extraction (larger n: C(n - 1, t) keys would cost more PRF output
 * than the deal costs bytes). Damgård–Nielsen 2007 (CRYPTO) §3:
 *   0 DEAL      p2p  commit_i || shares of U_t random and U_d double sharings
 *   1 MULT      all  coin_i || my degree-2t shares of a*b - S, every product
 *   2 OPEN      all  my shares of omega (degree t) and zeta (degree 2t)
 *   3 VERDICT   all  ok byte || transcript hash
 * Then, in both (V = the verdict round):
 *   V+r ECHO    all  r = 1..t: the verdicts this party first extracted in
 *                    the previous round, each in its relay chain
 *   V+1+t+k AUDIT all only if the batch is not accepted: chunk k of
 *                    T || R || seed || every message received in rounds 0..V
 * Rounds before V and the audit wait for every party (a timeout aborts
 * naming nobody); rounds V .. V+t end at their deadline with what arrived
 * (prep_timeout), as Dolev–Strong's synchronous rounds do.
 * References: Damgård–Nielsen §4 (multiplication with double sharings).
 * With dealers every party, not a king, checks the n degree-2t shares of
 * each product, which at n >= 3t + 1 detects any t wrong ones (the error
 * detection of Ben-Or–Goldwasser–Wigderson 1988). Under PRSS each product
 * goes to one king, as in Damgård–Nielsen, kings taking turns by ranges;
 * the king checks its n shares the same way, and a random combination of
 * all products, opened in the verdict round, checks the kings (see
 * prss_after_king): half the bytes of everyone checking everything
 * (docs/mpc-prep.md "PRSS mode"). Dolev–Strong 1983
 * ("Authenticated algorithms for Byzantine agreement") for agreeing on the
 * verdicts; Ishai–Ostrovsky–Zikas 2014 for identifying the cheater by
 * opening the input-independent preprocessing.
 *
 * Why PRSS needs no check of the sharings: an honest party computes its
 * shares itself from keys, so the honest shares of every sharing lie on one
 * polynomial of the right degree as soon as the honest members of each set
 * hold the same key, which the digests in round 1 check. Dealt sharings
 * need omega and zeta (and the committed coin their challenges come from)
 * because a dealer may deal anything.
 *
 * Nothing a party sees alone makes it abort alone: a failed check, a coin
 * opening that misses its commitment, a key digest that differs or a
 * malformed payload makes it vote "fail" and go on. The verdicts are then
 * agreed (Dolev–Strong), so every honest party accepts, or every one names
 * an equivocating verdict, or every one goes to the audit, where the party
 * that saw the cheat names it with its own proof and the others by the
 * replay. An abort by one party alone would leave the others waiting (a
 * timeout that names nobody) or, in the last rounds, accepting a batch it
 * does not have. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hash.h"
#include "session_internal.h"

/* Rounds 0 and 1 are KEYS / DEAL and MULT in both modes; round 2 is OPEN
 * with dealers and KING under PRSS; round 3 is the verdict in both. */
enum { R_DEAL = 0, R_MULT, R_OPEN, R_VERDICT, R_KING = R_OPEN };

/* ---- PRSS key sets (Cramer–Damgård–Ishai 2005, §3) ------------------------ */

/* A party in more key sets than this deals instead: each set costs it
 * 3 + t PRF outputs per triple, which past C(n - 1, t) = 28 (n = 9, t = 2;
 * the next is 84 at n = 10) costs more CPU than the deal's bytes
 * (docs/mpc-prep.md "Two modes"). */
#define PRSS_MAX_KEYS 28
#define PRSS_MAX_SETS 64 /* C(n, t) under PRSS_MAX_KEYS: 36 at most (n = 9) */
#define PRSS_MAX_T 2     /* t under PRSS_MAX_KEYS (t = 3 needs n >= 10) */

static uint64_t binom(uint32_t n, uint32_t k) {
  if (k > n) return 0;
  uint64_t c = 1;
  for (uint32_t i = 1; i <= k; i++) {
    c = c * (n - k + i) / i;
    if (c > (1ull << 40)) return c; /* far past any limit below; no overflow */
  }
  return c;
}

/* The mode is a function of (n, t) alone: a verifier of evidence, which
 * knows only those, must know the rounds. */
/* 1: dealer extraction at every n (unit tests of that mode at small n).
 * Like mpc_prep_audit_chunk, a test seam kept out of every header: the mode
 * must be the same function of (n, t) at every party and verifier. */
extern int mpc_prep_dealers;
static int prss_mode(uint32_t n, uint32_t t) {
  return !mpc_prep_dealers && n >= 1 && t <= PRSS_MAX_T && binom(n - 1, t) <= PRSS_MAX_KEYS;
}

/* Rounds 0 .. V: what the audit publishes and replays. */
#define PREP_ROUNDS (R_VERDICT + 1)

/* The key sets: every set of n - t parties, as the mask of the t parties
 * outside it, in increasing mask order (Gosper's hack). Returns C(n, t). */
static uint32_t prss_sets(uint32_t n, uint32_t t, uint64_t *outside) {
  uint32_t k = 0;
  if (t == 0) {
    outside[k++] = 0;
    return k;
  }
  uint64_t lim = n == 64 ? 0 : 1ull << n;
  for (uint64_t x = (1ull << t) - 1; x && (lim == 0 || x < lim);) {
    outside[k++] = x;
    uint64_t c = x & -x, r = x + c;
    if (r == 0) break;
    x = (((r ^ x) >> 2) / c) | r;
  }
  return k;
}

static uint64_t all_mask(uint32_t n) { return n == 64 ? UINT64_MAX : (1ull << n) - 1; }

/* A set's key is dealt by its lowest member. */
static uint32_t set_dealer(uint32_t n, uint64_t outside) {
  return (uint32_t)__builtin_ctzll(all_mask(n) & ~outside);
}

/* Keys that `from` deals to `to` (round 0's payload is 32 bytes each). */
static uint32_t keys_between(uint32_t n, uint32_t t, uint32_t from, uint32_t to) {
  uint64_t out[PRSS_MAX_SETS];
  uint32_t k = prss_sets(n, t, out), c = 0;
  for (uint32_t q = 0; q < k; q++)
    if (set_dealer(n, out[q]) == from && !((out[q] >> to) & 1)) c++;
  return c;
}

/* The rounds after the verdict depend on t: echo round r (1..t) is round
 * V + r and audit chunk k is round audit0(n, t) + k. A relay link is
 * a signed message that only ever travels inside an echo message. Its
 * round number is one no session round uses, one per (original sender j,
 * link index): an honest relayer links at most two verdicts of each j, once
 * each, so it never signs two different messages for one slot, which would
 * be equivocation evidence against it. */
#define LINK_ROUND0 0xf0000000u
static uint32_t audit0(uint32_t n, uint32_t t) { return R_VERDICT + 1 + t; }
static uint32_t link_round(uint32_t j, uint32_t idx) { return LINK_ROUND0 + 2 * j + idx; }

/* fe_prg nonces (docs/mpc-prep.md "Local randomness"). Keyed by the party's
 * seed they give its dealing; keyed by the joint coin, the two challenges;
 * keyed by a PRSS set's key, the set's share of tile i of the triples or of
 * the randoms (a nonce per tile, so a tile is expanded without the stream
 * before it). One nonce per purpose, so the streams are independent and a
 * replay from the seed regenerates them exactly. */
#define NONCE_RAND 1   /* key seed: U_t x (1 + t): secret, then t coefficients */
#define NONCE_DOUBLE 2 /* key seed: U_d x (1 + t + 2t): secret, t coefs, 2t coefs */
#define NONCE_CHAL 3   /* key joint coin: mu, nu */
#define NONCE_RHO 5    /* PRSS, key the transcript hash: rho of the kings' check */
#define NONCE_PRSS_TRIPLE(i) ((1ull << 40) | (i)) /* set key: per triple a, b, s, t zero coefs */
#define NONCE_PRSS_RAND(i) ((2ull << 40) | (i))   /* set key: per random r */
#define NONCE_PRSS_BIT(i) ((3ull << 40) | (i))    /* set key: per bit r, t zero coefs */
#define NONCE_PRSS_INT(i) ((4ull << 40) | (i))    /* set key: per bounded integer, its part */
/* coin_i = BLAKE2b-256 keyed by the seed over this label (a PRF of the seed). */
static const char k_coin_label[] = "custos/mpc/prep-coin";
/* A set's key = BLAKE2b-256 keyed by its dealer's seed over this label ||
 * the set's outside mask (8 bytes, little-endian); its check digest =
 * BLAKE2b-256 keyed by the key over the second label (a PRF of the key:
 * publishing it tells nothing of the key's stream). */
static const char k_prss_key_label[] = "custos/mpc/prss-key";
static const char k_prss_check_label[] = "custos/mpc/prss-check";

#define COIN_BYTES 32
#define OPEN_ITEMS 2 /* omega, zeta */
#define VERDICT_BYTES (1 + 32) /* ok byte || transcript hash; under PRSS || w (FE_BYTES) */
#define AUDIT_HDR (8 + 8 + 32 + 8 + 8) /* T, R, seed, B, I */
#define KEPT 2 /* distinct verdicts kept per sender: two prove equivocation */

/* Blob bytes per audit round (chunk 0 carries the blob's length, 8 bytes,
 * in front). Every party and every verifier must use the same value: it is
 * a constant of the protocol, a variable only so that the unit tests can
 * run many-chunk audits on small batches. Not in a header on purpose: no
 * production code may change it. */
extern size_t mpc_prep_audit_chunk;
size_t mpc_prep_audit_chunk = MPC_MAX_PAYLOAD - 8;

int mpc_prep_dealers = 0;

/* A test seam like the two above: the party with this index, as a king,
 * opens its first value + 1 and keeps that value itself. That is a corrupt
 * king lying consistently, which a tamper on the wire cannot model (the
 * king's own session would keep the true value, and its verdict's
 * transcript hash would give it away); only w catches it. -1: none. */
extern int mpc_prep_lying_king;
int mpc_prep_lying_king = -1;

static uint64_t chunk_bytes(void) {
  size_t c = mpc_prep_audit_chunk;
  if (c < 64) c = 64;
  if (c > MPC_MAX_PAYLOAD - 8) c = MPC_MAX_PAYLOAD - 8;
  return c;
}

/* ---- sizes ------------------------------------------------------------- */

typedef struct {
  uint32_t n;      /* parties */
  uint64_t T, R;   /* triples and random sharings wanted */
  uint64_t B;      /* random bits wanted (PRSS only) */
  uint64_t I;      /* bounded random integers wanted (PRSS only; no message carries them) */
  int prss;        /* prss_mode(n, t) */
  uint64_t K;      /* PRSS: the key sets each party is in, C(n - 1, t) */
  uint64_t m;      /* n - t: outputs per extraction */
  uint64_t Ut, Ud; /* random and double sharings each party deals (0 under PRSS) */
  uint64_t W;      /* shares per dealer: Ut + 2 Ud */
} prep_dims;

static void dims_init(prep_dims *d, uint32_t n, uint32_t t, uint64_t T, uint64_t R, uint64_t B,
                      uint64_t I) {
  memset(d, 0, sizeof *d);
  d->n = n;
  d->T = T;
  d->R = R;
  d->B = B;
  d->I = I;
  d->m = n - t;
  d->prss = prss_mode(n, t);
  if (d->prss) {
    d->K = binom(n - 1, t);
    return;
  }
  /* 2T for a, b; R; one blinding sharing for omega. T double sharings
   * (s, S) and one blinding pair for zeta; none without triples. */
  d->Ut = (2 * T + R + 1 + d->m - 1) / d->m;
  d->Ud = T ? (T + 1 + d->m - 1) / d->m : 0;
  d->W = d->Ut + 2 * d->Ud;
}

static uint64_t len_deal(const prep_dims *d) { return COIN_BYTES + FE_BYTES * d->W; }
/* The round-1 prefix: the coin opening, or under PRSS the key digests. */
static uint64_t mult_pre(const prep_dims *d) { return d->prss ? 32 * d->K : COIN_BYTES; }
/* Round 1's elements: a product share per triple, then (PRSS) a square's
 * share per bit. */
static uint64_t mult_items(const prep_dims *d) { return d->T + d->B; }
/* PRSS: the items king j opens are [king_lo(j), king_lo(j + 1)): ranges
 * of floor(N / n) or ceil(N / n) items, the last one the longest. */
static uint64_t king_lo(const prep_dims *d, uint32_t j) { return mult_items(d) * j / d->n; }
static uint64_t king_cnt(const prep_dims *d, uint32_t j) { return king_lo(d, j + 1) - king_lo(d, j); }
/* Round 1 to party j: with dealers every product (the same to all); under
 * PRSS j's range. */
static uint64_t len_mult(const prep_dims *d, uint32_t j) {
  return mult_pre(d) + FE_BYTES * (d->prss ? king_cnt(d, j) : mult_items(d));
}
static size_t verdict_len(int prss) { return VERDICT_BYTES + (prss ? FE_BYTES : 0); }
static uint64_t len_open(void) { return FE_BYTES * OPEN_ITEMS; }

/* The largest audit blob a party can have: every message it received in
 * rounds 0..3 at the largest size the inbox accepts (a malformed payload is
 * published as received). Bounds a declared blob length. */
static uint64_t audit_max(uint32_t n) {
  return AUDIT_HDR +
         (uint64_t)PREP_ROUNDS * (n ? n - 1 : 0) * (4 + MPC_MSG_OVERHEAD + MPC_MAX_PAYLOAD);
}

/* Audit rounds for a blob of L bytes, and the size of piece k. */
static uint64_t pieces(uint64_t L) {
  uint64_t ch = chunk_bytes();
  return L <= ch ? 1 : (L + ch - 1) / ch;
}
static uint64_t piece_len(uint64_t L, uint64_t k) {
  uint64_t ch = chunk_bytes();
  if (k >= pieces(L) || k * ch >= L) return 0;
  return L - k * ch < ch ? L - k * ch : ch;
}

/* Every payload of the batch must fit MPC_MAX_PAYLOAD: the round-0 deal
 * and the round-1 products are the large ones; the audit, whatever its
 * size, is split over as many rounds as it needs. At least one item, and
 * T, R bounded first so the arithmetic cannot overflow. */
static int limits_ok(uint32_t n, uint32_t t, uint64_t T, uint64_t R, uint64_t B, uint64_t I) {
  if (T == 0 && R == 0 && B == 0 && I == 0) return 0;
  if (T > MPC_MAX_PAYLOAD || R > MPC_MAX_PAYLOAD || B > MPC_MAX_PAYLOAD || I > MPC_MAX_PAYLOAD) return 0;
  prep_dims d;
  dims_init(&d, n, t, T, R, B, I);
  /* with dealers, bits come from mpc_session_bits' program and ints from bits (online.c) */
  if ((B || I) && !d.prss) return 0;
  return (d.prss || len_deal(&d) <= MPC_MAX_PAYLOAD) && len_mult(&d, n - 1) <= MPC_MAX_PAYLOAD;
}

/* ---- state ------------------------------------------------------------- */

typedef struct {
  uint8_t *raw;
  size_t len;
} bytes;

typedef struct {
  uint32_t j;  /* the verdict's sender */
  bytes chain; /* as extracted: the verdict inside r links */
} relay;

typedef struct {
  prep_dims d;
  int fail; /* one of my checks failed or a payload was malformed: vote no */
  /* The first cheat this party can prove by itself (MPC_EV_MALFORMED: the
   * message; MPC_EV_COIN: commitment and opening), named after the audit. */
  mpc_ev_type proof;
  uint32_t proof_from, proof_round;
  uint8_t coin_mine[COIN_BYTES];
  uint8_t commit[MPC_MAX_N][32];
  uint8_t coin[32];       /* the joint coin: the key of the challenges */
  uint8_t transcript[32]; /* its hash, in the verdict: accepted only if all agree */
  /* PRSS, the kings' check (prss_after_king): the hash of the digests
   * (round 1), then sum rho^(k+1) U_k over the opened values and my share
   * of the same combination of the products, w (public values). */
  uint8_t th1[32];
  fe C, w;
  /* One fe_alloc'd block (mat, mat_len) for the whole session: every
   * sodium_malloc is an mmap, an mlock of every page (faulting it in), guard
   * pages and two wipes, which at 100K triples cost more than the field
   * arithmetic. The block is carved into the material that lives across
   * rounds and one scratch region that each round reuses (see scratch_len). */
  fe *mat;
  size_t mat_len;
  fe *rand;  /* Ut * m: extracted degree-t random sharings */
  fe *dt;    /* Ud * m: extracted double sharings, degree t */
  fe *d2;    /* Ud * m: their degree-2t halves; after round 0, dt - d2 */
  fe *umine; /* T (+ B), after the free prefix elements: my degree-2t product (and square) shares */
  fe *U;     /* T (+ B): the opened products (and squares); then, in place, c (and the bits) */
  fe *ch;    /* 4: the challenges mu, nu; my shares of omega and zeta (PRSS: the keys) */
  fe *scr;   /* scratch_len: per-round temporaries, laid out by each round */
  /* Verdict agreement (public values). */
  bytes ext[MPC_MAX_N][KEPT]; /* distinct signed verdicts extracted, per sender */
  uint8_t ext_n[MPC_MAX_N];
  uint8_t linked[MPC_MAX_N]; /* links I signed, per sender */
  relay *pend;               /* chains to relay in the next echo round */
  size_t pend_n, pend_cap;
  uint64_t ds_start; /* when I entered the verdict round: the agreement's schedule starts */
  /* Audit. */
  uint8_t *blob; /* my audit blob (holds my seed: wiped) */
  size_t blob_len;
  uint64_t chunks; /* audit rounds, known after the first */
  /* PRSS (d.prss): the key sets, those I am in, and their keys. */
  uint32_t nsets;
  uint64_t outside[PRSS_MAX_SETS]; /* set q = the parties not in outside[q] */
  int32_t pos[PRSS_MAX_SETS];      /* q's index in mine, -1 if I am outside */
  uint32_t mine[PRSS_MAX_KEYS];
  fe lam[PRSS_MAX_KEYS][1 + PRSS_MAX_T]; /* f_q(alpha_me), then alpha_me^l f_q(alpha_me) */
  uint8_t (*key)[32];                    /* d.K keys, in the locked block (secret) */
  uint8_t dig[PRSS_MAX_KEYS][32];        /* their check digests */
} prep_impl;

static prep_impl *impl_of(mpc_session *s) { return (prep_impl *)s->impl; }

/* Views into the material (docs/mpc-prep.md "Assignment"). */
static fe *mat_a(prep_impl *p) { return p->rand; }
static fe *mat_b(prep_impl *p) { return p->rand + p->d.T; }
static fe *mat_r(prep_impl *p) { return p->rand + 2 * p->d.T; }
static fe mat_blind(prep_impl *p) { return p->rand[2 * p->d.T + p->d.R]; }
static fe *mat_rbit(prep_impl *p) { return p->rand + 2 * p->d.T + p->d.R; } /* PRSS: r of each bit */
static fe *mat_int(prep_impl *p) { return mat_rbit(p) + p->d.B; }              /* PRSS: the ints */
static fe *mat_s(prep_impl *p) { return p->dt; }   /* s[0..T), then the blind pair's s' */
static fe *mat_S(prep_impl *p) { return p->d2; }   /* S[0..T), S'; after round 0, s - S */
static fe *mat_c(prep_impl *p) { return p->U; }

/* Received vectors are checked and then read straight from the inbox, a
 * tile of TILE items of every party at a time, instead of being copied into
 * an n x count buffer first: the tile stays in L1 and the big buffers (and
 * their page faults) are gone. */
#define TILE 256

/* The scratch region is reused by every round; its size is the largest
 * layout of any round (offsets in elements):
 *   round 0 send:  own row W | coefficients nr + nd | send row 2 + W
 *   round 0 recv:  own row W | tile n*TILE
 *   rounds 1, 2:   tile n*TILE
 * The "2 +" slot holds the 32-byte commitment in front of a row, so that
 * the row is sent from where it was computed. */
static size_t scratch_len(uint32_t n, uint32_t t, const prep_dims *d) {
  if (d->prss) { /* round 0: zero-sharing tile TILE | PRF tile (3 + t) * TILE */
    size_t gen = (4 + (size_t)t) * TILE, chk = (size_t)n * TILE;
    return gen > chk ? gen : chk;
  }
  size_t nr = d->Ut * (1 + t), nd = d->Ud * (1 + 3 * (size_t)t);
  size_t send = 2 * d->W + 2 + nr + nd, recv = d->W + (size_t)n * TILE;
  return send > recv ? send : recv;
}

static cx_err impl_alloc(prep_impl *p, uint32_t n, uint32_t t) {
  const prep_dims *d = &p->d;
  /* Under PRSS: rand = a, b, r, the bits' r, ints (2T + R + B + I), dt = s (T), no d2; the round-1
   * prefix (2K free elements) holds the key digests; the K keys (2
   * elements each) sit in ch's place, in locked memory like the shares. */
  size_t front = d->prss ? 2 * d->K : 2;
  size_t sizes[] = {d->prss ? 2 * d->T + d->R + d->B + d->I : d->Ut * d->m,
                    d->prss ? d->T : d->Ud * d->m,
                    d->prss ? 0 : d->Ud * d->m,
                    front + mult_items(d),
                    mult_items(d),
                    d->prss ? 2 * d->K : 4,
                    scratch_len(n, t, d)};
  fe **dst[] = {&p->rand, &p->dt, &p->d2, &p->umine, &p->U, &p->ch, &p->scr};
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += sizes[i];
  p->mat = fe_alloc(total);
  if (!p->mat) return CX_E_NOMEM;
  p->mat_len = total;
  size_t off = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    *dst[i] = p->mat + off;
    off += sizes[i];
  }
  p->umine += front; /* the coin or the digests go in front of it when it is sent */
  if (d->prss) p->key = (uint8_t(*)[32])p->ch;
  return CX_OK;
}

/* Wipes every secret of the batch (done, abort, destroy, or once the audit
 * starts: the audit needs only the inbox). */
static void impl_wipe(prep_impl *p) {
  if (!p) return;
  fe_free(p->mat);
  p->mat = NULL;
  p->mat_len = 0;
  p->key = NULL; /* it was in the block */
  sodium_memzero(p->coin_mine, sizeof p->coin_mine);
}

static void bytes_free(bytes *b) {
  free(b->raw);
  b->raw = NULL;
  b->len = 0;
}

static cx_err bytes_dup(bytes *b, const uint8_t *p, size_t len) {
  b->raw = malloc(len ? len : 1);
  if (!b->raw) return CX_E_NOMEM;
  if (len) memcpy(b->raw, p, len);
  b->len = len;
  return CX_OK;
}

static void pend_clear(prep_impl *p) {
  for (size_t i = 0; i < p->pend_n; i++) bytes_free(&p->pend[i].chain);
  p->pend_n = 0;
}

static void prep_destroy(mpc_session *s) {
  prep_impl *p = impl_of(s);
  if (!p) return;
  impl_wipe(p);
  for (uint32_t j = 0; j < MPC_MAX_N; j++)
    for (int k = 0; k < KEPT; k++) bytes_free(&p->ext[j][k]);
  pend_clear(p);
  free(p->pend);
  if (p->blob) {
    sodium_memzero(p->blob, p->blob_len);
    free(p->blob);
  }
  sodium_memzero(p, sizeof *p);
  free(p);
  s->impl = NULL;
}

/* ---- wire form ----------------------------------------------------------- */

/* On a little-endian host an element's wire form (fe_encode: 16 bytes,
 * little-endian) is its memory form, so vectors are sent from and read in
 * place instead of through an encoded copy (mpc_msg_encode and the inbox
 * already copy every payload once). Big-endian hosts convert. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WIRE_NATIVE 1
#else
#define WIRE_NATIVE 0
#endif

static fe wire_get(const uint8_t *b) {
#if WIRE_NATIVE
  fe v;
  memcpy(&v, b, sizeof v); /* payloads are not aligned for fe */
  return v;
#else
  fe v = 0;
  for (int i = FE_BYTES - 1; i >= 0; i--) v = v << 8 | b[i];
  return v;
#endif
}

/* 1 if the count elements at b are canonical (what fe_decode_vec accepts).
 * No early exit: the whole vector is read anyway. */
static int wire_canonical(const uint8_t *b, size_t count) {
  unsigned bad = 0;
  for (size_t i = 0; i < count; i++) bad |= wire_get(b + i * FE_BYTES) >= FE_P;
  return !bad;
}

/* Sends [prefix (pre bytes, a multiple of 16) ||] v[0..count). v stays
 * intact: where the wire form is the memory form it is sent in place, the
 * prefix written in the free elements in front of v (every prefixed vector
 * has pre / 16 of them); other hosts send an encoded copy (wiped: it held
 * shares). */
static cx_err send_vec(mpc_session *s, uint32_t to, const uint8_t *prefix, size_t pre, fe *v,
                       size_t count, mpc_outbox *out) {
  if (!prefix) pre = 0;
  size_t len = pre + FE_BYTES * count;
#if WIRE_NATIVE
  uint8_t *buf = (uint8_t *)v - pre;
  if (prefix) memmove(buf, prefix, pre);
  return sess_send(s, to, buf, len, out);
#else
  uint8_t *buf = malloc(len ? len : 1);
  if (!buf) return CX_E_NOMEM;
  if (prefix) memcpy(buf, prefix, pre);
  fe_encode_vec(v, count, buf + pre);
  cx_err e = sess_send(s, to, buf, len, out);
  sodium_memzero(buf, len ? len : 1);
  free(buf);
  return e;
#endif
}

/* The round's message of j (advance runs only when every expected message
 * is in, so a missing one is our bug). */
static const mpc_msg *round_msg(mpc_session *s, uint32_t j, cx_err *e) {
  const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, j);
  if (!m) *e = CX_E_INTERNAL;
  return m;
}

/* Remembers the first cheat this party can prove by itself. */
static void note_proof(prep_impl *p, mpc_ev_type type, uint32_t from, uint32_t round) {
  if (p->proof != MPC_EV_NONE) return;
  p->proof = type;
  p->proof_from = from;
  p->proof_round = round;
}

/* Checks that m's payload is exactly `want` bytes with count canonical
 * elements at byte off, and returns them (in the inbox, not copied). A
 * malformed payload proves that its sender deviated, but only to this
 * party: aborting here would split the honest parties. So this party votes
 * fail and goes on with zeros (NULL: the readers below use zeros) —
 * deterministically, so that its replay in the audit does exactly the same
 * — and names the sender after the audit. */
static const uint8_t *check_fe(mpc_session *s, const mpc_msg *m, uint64_t want, size_t off,
                               size_t count) {
  if (m->len == want && wire_canonical(m->payload + off, count)) return m->payload + off;
  prep_impl *p = impl_of(s);
  p->fail = 1;
  note_proof(p, MPC_EV_MALFORMED, m->from, m->round);
  return NULL;
}

/* Every party's vector of one round, for reading by tiles: party j's is my
 * own fe vector (mine, j = me), or checked wire bytes in the inbox, or
 * zeros (NULL: malformed). */
typedef struct {
  uint32_t n, me;
  const fe *mine;
  const uint8_t *src[MPC_MAX_N];
} vecs;

/* tile[j * TILE + i] = item i0 + i of party j, i < cnt. */
static void fill_tile(const vecs *v, size_t i0, size_t cnt, fe *tile) {
  for (uint32_t j = 0; j < v->n; j++) {
    fe *row = tile + (size_t)j * TILE;
    if (j == v->me) {
      memcpy(row, v->mine + i0, cnt * sizeof(fe));
    } else if (!v->src[j]) {
      memset(row, 0, cnt * sizeof(fe));
    } else {
      const uint8_t *b = v->src[j] + i0 * FE_BYTES;
#if WIRE_NATIVE
      memcpy(row, b, cnt * FE_BYTES);
#else
      for (size_t i = 0; i < cnt; i++) row[i] = wire_get(b + i * FE_BYTES);
#endif
    }
  }
}

/* Detect-only opening of count items at degree deg (shamir_check) over the
 * parties' vectors, by tiles. 0 and vals if all are consistent; -1 (vals
 * zeroed) if not. */
static int check_tiles(mpc_session *s, const vecs *v, uint32_t deg, size_t count, fe *vals,
                       fe *tile) {
  const fe *ptr[MPC_MAX_N];
  for (uint32_t j = 0; j < v->n; j++) ptr[j] = tile + (size_t)j * TILE;
  for (size_t i0 = 0; i0 < count; i0 += TILE) {
    size_t cnt = count - i0 < TILE ? count - i0 : TILE, bad = 0;
    fill_tile(v, i0, cnt, tile);
    if (shamir_check(&s->sh, deg, ptr, cnt, vals + i0, &bad) != 0) {
      memset(vals, 0, count * sizeof(fe));
      return -1;
    }
  }
  return 0;
}

/* ---- round 0: deal ----------------------------------------------------- */

/* shamir_share for one party: the value at x = alpha_j = j + 1 of the
 * polynomial secret + coef[0] x + ... + coef[deg-1] x^deg (Horner). Each
 * recipient's row is made on its own, so that only one row is held at a
 * time rather than all n. The multiplier is small (x <= 64), so the
 * product splits into two 64 x 64 products. */
static fe eval_at(fe secret, const fe *coef, uint32_t deg, uint64_t x) {
  fe v = 0;
  for (uint32_t i = deg; i-- > 0;) {
    fe y = fe_add(v, coef[i]);
#if MPC_FIELD_BITS == 127
    fe l = (fe)x * (uint64_t)y, h = (fe)x * (uint64_t)(y >> 64);
    fe z = l + ((h & (((fe)1 << 63) - 1)) << 64) + (h >> 63); /* < 2^71 + 2^127 + 2^8 */
    v = fe_reduce_once((z & FE_P) + (z >> 127));
#else
    v = fe_mul(y, (fe)x);
#endif
  }
  return fe_add(v, secret);
}

/* Party j's row of my dealing, all from fe_prg(seed) (so the audit can
 * replay it): row[c] for c < Ut is j's share of random sharing c; then the
 * degree-t and the degree-2t halves of the Ud double sharings (one random
 * value shared twice: Damgård–Nielsen §4). coef holds the nr + nd
 * coefficients of the streams NONCE_RAND and NONCE_DOUBLE. */
static void deal_row(const prep_dims *d, uint32_t t, const fe *coef, uint32_t j, fe *row) {
  size_t nr = d->Ut * (1 + t);
  uint64_t x = (uint64_t)j + 1;
  for (size_t c = 0; c < d->Ut; c++) {
    const fe *k = coef + c * (1 + t);
    row[c] = eval_at(k[0], k + 1, t, x);
  }
  for (size_t c = 0; c < d->Ud; c++) {
    const fe *k = coef + nr + c * (1 + 3 * (size_t)t);
    row[d->Ut + c] = eval_at(k[0], k + 1, t, x);
    row[d->Ut + d->Ud + c] = eval_at(k[0], k + 1 + t, 2 * t, x);
  }
}

static cx_err prss_start(mpc_session *s, mpc_outbox *out);

static cx_err prep_start(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t n = s->cfg.n, t = s->cfg.t, me = s->cfg.me;
  if (d->prss) return prss_start(s, out);
  crypto_generichash(p->coin_mine, COIN_BYTES, (const uint8_t *)k_coin_label,
                     sizeof k_coin_label - 1, s->cfg.seed, 32);
  cx_hash h;
  hash_tagged(CX_TAG_MPC_COIN, p->coin_mine, COIN_BYTES, &h);
  memcpy(p->commit[me], h.b, 32);
  /* scratch: own row | coefficients | send row (2 prefix slots + W) */
  size_t nr = d->Ut * (1 + t), nd = d->Ud * (1 + 3 * (size_t)t);
  fe *own = p->scr, *coef = own + d->W, *row = coef + nr + nd + 2;
  fe_prg(s->cfg.seed, NONCE_RAND, coef, nr);
  fe_prg(s->cfg.seed, NONCE_DOUBLE, coef + nr, nd);
  deal_row(d, t, coef, me, own);
  cx_err e = CX_OK;
  for (uint32_t j = 0; j < n && e == CX_OK; j++) {
    if (j == me) continue;
    deal_row(d, t, coef, j, row);
    e = send_vec(s, j, h.b, 32, row, d->W, out);
  }
  /* The coefficients are the dealing's secrets and the other rows are sent:
   * only my own row is needed from here on. */
  sodium_memzero(coef, (nr + nd + 2 + d->W) * sizeof(fe));
  return e;
}

/* After round 0: extraction over the dealers, column by column
 * (Damgård–Nielsen §3): with at most t dealers corrupt, the m = n - t
 * outputs of each column are uniform and unknown to the adversary. Then my
 * degree-2t share of each product a*b - S (§4), sent to everyone with my
 * coin opening. */
static cx_err after_deal(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t n = s->cfg.n, me = s->cfg.me;
  cx_err e = CX_OK;
  /* scratch: own row (from prep_start) | tile */
  vecs v = {.n = n, .me = me, .mine = p->scr};
  fe *tile = p->scr + d->W;
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) continue;
    const mpc_msg *m = round_msg(s, j, &e);
    if (!m) return e;
    v.src[j] = check_fe(s, m, len_deal(d), COIN_BYTES, d->W);
    if (v.src[j])
      memcpy(p->commit[j], m->payload, 32);
    else
      memset(p->commit[j], 0, 32);
  }
  for (size_t c0 = 0; c0 < d->W; c0 += TILE) {
    size_t cnt = d->W - c0 < TILE ? d->W - c0 : TILE;
    fill_tile(&v, c0, cnt, tile);
    for (size_t i = 0; i < cnt; i++) {
      size_t c = c0 + i;
      fe *dst = c < d->Ut           ? p->rand + c * d->m
                : c < d->Ut + d->Ud ? p->dt + (c - d->Ut) * d->m
                                    : p->d2 + (c - d->Ut - d->Ud) * d->m;
      shamir_extract(&s->sh, tile + i, TILE, dst, 1);
    }
  }
  /* u[k] = a[k] b[k] - S[k]: a degree-2t sharing of a b - s. After this,
   * S is needed only as s - S (zeta), so it becomes that in place. */
  const fe *a = mat_a(p), *b = mat_b(p), *sv = mat_s(p);
  fe *S = mat_S(p);
  for (size_t k = 0; k < d->T; k++) p->umine[k] = fe_sub(fe_mul(a[k], b[k]), S[k]);
  for (size_t k = 0; d->T && k <= d->T; k++) S[k] = fe_sub(sv[k], S[k]);
  sess_next_round(s, sess_others(s));
  return send_vec(s, MPC_TO_ALL, p->coin_mine, COIN_BYTES, p->umine, d->T, out);
}

/* ---- round 1: every party checks every product --------------------------- */

/* omega = blind + sum_i mu^(i+1) x_i over x = a, b, r, s (every degree-t
 * sharing the batch keeps or uses), and zeta = (s' - S') + sum_k
 * nu^(k+1) (s_k - S_k): my shares of both, by Horner. If some x_i is not a
 * degree-t sharing, omega is not one either unless mu is a root of a
 * nonzero polynomial of degree < 3T + R + 1 fixed before the coin (at most
 * that many of p values); the same for zeta, degree 2t and secret 0, and
 * the pairs (s, S). The blinding sharings make both uniform, so opening
 * them reveals nothing of the batch. */
static void check_shares(prep_impl *p, fe mu, fe nu, fe *omega, fe *zeta) {
  const prep_dims *d = &p->d;
  const fe *x = p->rand, *sv = mat_s(p), *D = mat_S(p);
  fe acc = 0;
  for (size_t k = d->T; k-- > 0;) acc = fe_mul(fe_add(acc, sv[k]), mu);
  for (size_t i = 2 * d->T + d->R; i-- > 0;) acc = fe_mul(fe_add(acc, x[i]), mu);
  *omega = fe_add(acc, mat_blind(p));
  acc = 0;
  for (size_t k = d->T; k-- > 0;) acc = fe_mul(fe_add(acc, D[k]), nu);
  *zeta = d->T ? fe_add(acc, D[d->T]) : 0;
}

/* At n >= 3t + 1 the n shares of a degree-2t sharing detect up to t wrong
 * ones: if they all lie on one polynomial of degree 2t, it is the one
 * through the n - t >= 2t + 1 honest shares, so every honest party that
 * accepts has the same, exact U = a b - s (given that a, b are degree t and
 * S degree 2t with the secret of s, which omega and zeta check). A corrupt
 * party that sends different shares to different parties only makes some
 * of them vote fail. The shares cannot be corrected here (nothing is
 * lost by not trying: the batch is input-independent and the audit names
 * the cheater), so a failure is remembered and U zeroed, deterministically
 * for the replay. */
static cx_err after_mult(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t n = s->cfg.n, me = s->cfg.me;
  cx_err e = CX_OK;
  uint8_t coins[MPC_MAX_N][COIN_BYTES] = {{0}};
  vecs v = {.n = n, .me = me, .mine = p->umine};
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) {
      memcpy(coins[j], p->coin_mine, COIN_BYTES);
      continue;
    }
    const mpc_msg *m = round_msg(s, j, &e);
    if (!m) goto done;
    v.src[j] = check_fe(s, m, len_mult(d, me), COIN_BYTES, d->T);
    if (v.src[j])
      memcpy(coins[j], m->payload, COIN_BYTES);
    else
      memset(coins[j], 0, COIN_BYTES);
  }
  /* The commitment binds each dealer's coin share before it saw anyone
   * else's; a mismatch is a provable cheat, voted down now and named after
   * the audit (see the top of this file). */
  for (uint32_t j = 0; j < n; j++) {
    cx_hash h;
    hash_tagged(CX_TAG_MPC_COIN, coins[j], COIN_BYTES, &h);
    if (memcmp(h.b, p->commit[j], 32) != 0) {
      p->fail = 1;
      note_proof(p, MPC_EV_COIN, j, R_MULT);
    }
  }
  cx_hash coin, th;
  hash_tagged(CX_TAG_MPC_COIN, coins, (size_t)n * COIN_BYTES, &coin);
  memcpy(p->coin, coin.b, 32);
  hash_tagged(CX_TAG_MPC_TRANSCRIPT, p->coin, 32, &th);
  memcpy(p->transcript, th.b, 32);
  if (d->T && check_tiles(s, &v, 2 * s->cfg.t, d->T, p->U, p->scr) != 0) p->fail = 1;
  /* c = (a b - s) + s: degree-t shares of the products (§4), in place. */
  fe *c = mat_c(p);
  const fe *sv = mat_s(p);
  for (size_t k = 0; k < d->T; k++) c[k] = fe_add(c[k], sv[k]);
  /* The challenges come from the joint coin, which no party knew when it
   * dealt: the coin shares were committed in round 0. */
  fe_prg(p->coin, NONCE_CHAL, p->ch, 2);
  check_shares(p, p->ch[0], p->ch[1], &p->ch[2], &p->ch[3]);
  sess_next_round(s, sess_others(s));
  e = send_vec(s, MPC_TO_ALL, NULL, 0, p->ch + 2, OPEN_ITEMS, out);
done:
  sodium_memzero(coins, sizeof coins);
  return e;
}

/* ---- the agreement's schedule ------------------------------------------ */

/* The agreement's rounds end at fixed times: round V + k at
 * ds_start + (k + 1) * DS_SLOT * D (D = round_timeout_ms), or earlier once
 * every message is in (docs/mpc-prep.md "Deadlines"). A deadline counted
 * from my own entry into each round, as for the other rounds, would let a
 * cheater that withholds a message from one honest party hold that party
 * back a full D, so that its next message misses the others' deadlines
 * (an honest party counted as silent) and they run two rounds ahead of it.
 * With a fixed schedule, a party held back in one round is not behind in
 * the next. DS_SLOT = 2: honest parties enter the verdict round less than D
 * apart (the round before waits for everyone, and a party still waiting D
 * after entering it aborts), so a slot of 2D leaves a full D for delivery
 * and for the tick that notices the deadline. It costs nothing when every
 * message arrives: the rounds end as soon as they are complete. */
#define DS_SLOT 2

/* Sets the deadline of the round just entered (the verdict round, the t
 * echo rounds, and audit round 0 = slot t + 1) on the schedule
 * (sess_set_deadline: session.c ends the round then instead of D after I
 * entered it). */
static void ds_deadline(mpc_session *s) {
  prep_impl *p = impl_of(s);
  uint64_t D = s->cfg.round_timeout_ms, k = s->round - R_VERDICT;
  sess_set_deadline(s, p->ds_start + (k + 1) * DS_SLOT * D);
}

/* ---- the verdict --------------------------------------------------------- */

/* Sends my verdict (fail or ok, with my transcript hash) and enters the
 * verdict round, which starts the agreement's schedule. */
static cx_err send_verdict(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  uint8_t vd[VERDICT_BYTES + FE_BYTES];
  vd[0] = p->fail ? 0 : 1;
  memcpy(vd + 1, p->transcript, 32);
  if (p->d.prss) fe_encode(p->w, vd + VERDICT_BYTES);
  sess_next_round(s, sess_others(s));
  p->ds_start = s->now_ms;
  ds_deadline(s);
  return sess_send(s, MPC_TO_ALL, vd, verdict_len(p->d.prss), out);
}

/* ---- PRSS: rounds 0 (keys) and 1 (products, digests) ---------------------- */

/* My key sets and the constants of my shares: f_q(x) = prod over j outside
 * q of (alpha_j - x) / alpha_j is the degree-t polynomial with f_q(0) = 1
 * that vanishes at the parties outside q (CDI05 §3.1), so sum over q of
 * PRF(k_q) f_q(x) is a degree-t sharing whose shares need only the keys of
 * one's own sets. */
static void prss_init(prep_impl *p, const mpc_shamir *sh, uint32_t n, uint32_t t, uint32_t me) {
  p->nsets = prss_sets(n, t, p->outside);
  uint32_t k = 0;
  for (uint32_t q = 0; q < p->nsets; q++) {
    p->pos[q] = -1;
    if ((p->outside[q] >> me) & 1) continue;
    fe f = 1;
    for (uint32_t j = 0; j < n; j++)
      if ((p->outside[q] >> j) & 1)
        f = fe_mul(f, fe_mul(fe_sub(sh->alpha[j], sh->alpha[me]), fe_inv(sh->alpha[j])));
    p->lam[k][0] = f;
    for (uint32_t l = 1; l <= t; l++) p->lam[k][l] = fe_mul(p->lam[k][l - 1], sh->alpha[me]);
    p->pos[q] = (int32_t)k;
    p->mine[k++] = q;
  }
}

/* The key of set q as its dealer makes it from its seed (so the audit
 * replays it). */
static void prss_key(const uint8_t seed[32], uint64_t outside, uint8_t key[32]) {
  uint8_t msg[sizeof k_prss_key_label - 1 + 8];
  memcpy(msg, k_prss_key_label, sizeof k_prss_key_label - 1);
  for (int i = 0; i < 8; i++) msg[sizeof k_prss_key_label - 1 + i] = (uint8_t)(outside >> (8 * i));
  crypto_generichash(key, 32, msg, sizeof msg, seed, 32);
}

/* Round 0: to each party, the keys of the sets I deal that it is in, in
 * set order (possibly none: an empty message still marks the round). */
static cx_err prss_start(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  uint32_t n = s->cfg.n, me = s->cfg.me;
  uint8_t buf[PRSS_MAX_SETS * 32];
  cx_err e = CX_OK;
  for (uint32_t k = 0; k < p->d.K; k++)
    if (set_dealer(n, p->outside[p->mine[k]]) == me) prss_key(s->cfg.seed, p->outside[p->mine[k]], p->key[k]);
  for (uint32_t j = 0; j < n && e == CX_OK; j++) {
    if (j == me) continue;
    size_t len = 0;
    for (uint32_t q = 0; q < p->nsets; q++)
      if (set_dealer(n, p->outside[q]) == me && !((p->outside[q] >> j) & 1)) {
        memcpy(buf + len, p->key[p->pos[q]], 32);
        len += 32;
      }
    e = sess_send(s, j, buf, len, out);
  }
  sodium_memzero(buf, sizeof buf);
  return e;
}

/* One tile of cnt items from every key of my sets: per item, nv values of
 * degree-t sharings (out[j][i] = sum over my sets q of PRF_q f_q(alpha_me))
 * and, if z is given, my share of a degree-2t sharing of zero (the t
 * further outputs c_l of each set give f_q(x) sum_l c_l x^l, which
 * vanishes at 0 and outside q: CDI05's PRZS). */
static void prss_tile(prep_impl *p, uint32_t t, uint64_t nonce, size_t cnt, size_t nv, fe *const *out,
                      fe *z) {
  size_t w = nv + (z ? t : 0);
  fe *buf = p->scr + TILE;
  for (size_t j = 0; j < nv; j++) memset(out[j], 0, cnt * sizeof(fe));
  if (z) memset(z, 0, cnt * sizeof(fe));
  for (uint32_t k = 0; k < p->d.K; k++) {
    const fe *lam = p->lam[k];
    fe_prg(p->key[k], nonce, buf, cnt * w);
    for (size_t i = 0; i < cnt; i++) {
      const fe *v = buf + i * w;
      for (size_t j = 0; j < nv; j++) out[j][i] = fe_add(out[j][i], fe_mul(v[j], lam[0]));
      for (uint32_t l = 1; z && l <= t; l++) z[i] = fe_add(z[i], fe_mul(v[nv + l - 1], lam[l]));
    }
  }
}

/* My shares of the bounded random integers (mpc.h "ints"): CDI05's PRSS
 * over the integers, I = sum over every set q of u_q, u_q the low
 * MPC_KAPPA bits of PRF(k_q), and my share sum over my sets of
 * u_q f_q(alpha_me) (f_q(0) = 1, so the shares lie on a degree-t
 * polynomial with I at 0, as those of a random do). 0 <= I < C(n, t)
 * 2^MPC_KAPPA <= 2^(MPC_KAPPA + MPC_INT_SLACK). t parties T miss exactly
 * the key of the set outside which they are (its members are all honest),
 * so to them I is u_T, uniform on MPC_KAPPA bits, plus what they know.
 * Honest shares are right as soon as the keys are (the digests check it):
 * no message, no check of their own. docs/mpc-prep.md "Bounded random
 * integers". */
static void prss_ints(prep_impl *p, fe *out) {
  const fe mask = (((fe)1) << MPC_KAPPA) - 1;
  fe *buf = p->scr + TILE;
  CX_ASSERT(p->nsets <= (1u << MPC_INT_SLACK));
  for (size_t i0 = 0, tile = 0; i0 < p->d.I; i0 += TILE, tile++) {
    size_t cnt = p->d.I - i0 < TILE ? p->d.I - i0 : TILE;
    memset(out + i0, 0, cnt * sizeof(fe));
    for (uint32_t k = 0; k < p->d.K; k++) {
      fe_prg(p->key[k], NONCE_PRSS_INT(tile), buf, cnt);
      for (size_t i = 0; i < cnt; i++) out[i0 + i] = fe_add(out[i0 + i], fe_mul(buf[i] & mask, p->lam[k][0]));
    }
  }
}

/* My shares of the batch, by tiles: per triple a, b, s and a zero sharing
 * z, so that u = a b - (s + z) is my share of a degree-2t sharing of
 * ab - s whose honest shares are uniform given its secret; per random r;
 * per bit r and z, u = r^2 - z (Damgård–Fitzi–Kiltz–Nielsen–Toft 2006:
 * r^2 is opened, masked like the products). */
static void prss_expand(mpc_session *s) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t t = s->cfg.t;
  fe *a = mat_a(p), *b = mat_b(p), *r = mat_r(p), *sv = mat_s(p), *rb = mat_rbit(p);
  fe *z = p->scr, *ub = p->umine + d->T;
  for (size_t i0 = 0, tile = 0; i0 < d->T; i0 += TILE, tile++) {
    size_t cnt = d->T - i0 < TILE ? d->T - i0 : TILE;
    fe *out[3] = {a + i0, b + i0, sv + i0};
    prss_tile(p, t, NONCE_PRSS_TRIPLE(tile), cnt, 3, out, z);
    for (size_t i = 0; i < cnt; i++)
      p->umine[i0 + i] = fe_sub(fe_mul(a[i0 + i], b[i0 + i]), fe_add(sv[i0 + i], z[i]));
  }
  for (size_t i0 = 0, tile = 0; i0 < d->R; i0 += TILE, tile++) {
    fe *out[1] = {r + i0};
    prss_tile(p, t, NONCE_PRSS_RAND(tile), d->R - i0 < TILE ? d->R - i0 : TILE, 1, out, NULL);
  }
  for (size_t i0 = 0, tile = 0; i0 < d->B; i0 += TILE, tile++) {
    size_t cnt = d->B - i0 < TILE ? d->B - i0 : TILE;
    fe *out[1] = {rb + i0};
    prss_tile(p, t, NONCE_PRSS_BIT(tile), cnt, 1, out, z);
    for (size_t i = 0; i < cnt; i++) ub[i0 + i] = fe_sub(fe_sqr(rb[i0 + i]), z[i]);
  }
  prss_ints(p, mat_int(p));
  sodium_memzero(p->scr, (4 + (size_t)t) * TILE * sizeof(fe));
}

/* After round 0: the keys of my sets (a malformed key message counts as
 * zero keys, deterministically, and makes me vote fail), their digests,
 * my shares; then my digests and product shares to everyone. */
static cx_err after_keys(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  uint32_t n = s->cfg.n, t = s->cfg.t, me = s->cfg.me;
  cx_err e = CX_OK;
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) continue;
    const mpc_msg *m = round_msg(s, j, &e);
    if (!m) return e;
    int ok = m->len == 32 * (size_t)keys_between(n, t, j, me);
    if (!ok) {
      p->fail = 1;
      note_proof(p, MPC_EV_MALFORMED, j, R_DEAL);
    }
    size_t idx = 0;
    for (uint32_t q = 0; q < p->nsets; q++) {
      if (set_dealer(n, p->outside[q]) != j || ((p->outside[q] >> me) & 1)) continue;
      if (ok)
        memcpy(p->key[p->pos[q]], m->payload + 32 * idx, 32);
      else
        memset(p->key[p->pos[q]], 0, 32);
      idx++;
    }
  }
  for (uint32_t k = 0; k < p->d.K; k++)
    crypto_generichash(p->dig[k], 32, (const uint8_t *)k_prss_check_label, sizeof k_prss_check_label - 1,
                       p->key[k], 32);
  prss_expand(s);
  sess_next_round(s, sess_others(s));
  /* To each king its range, the digests in front. send_vec writes them in
   * the elements before the range, which hold the end of the range before
   * it (or the free prefix): saved and put back, the message being a copy. */
  fe keep[2 * PRSS_MAX_KEYS];
  size_t pre = 32 * p->d.K;
  for (uint32_t j = 0; j < n && e == CX_OK; j++) {
    if (j == me) continue;
    fe *v = p->umine + king_lo(&p->d, j);
    memcpy(keep, v - 2 * p->d.K, pre);
    e = send_vec(s, j, (const uint8_t *)p->dig, pre, v, king_cnt(&p->d, j), out);
    memcpy(v - 2 * p->d.K, keep, pre);
  }
  sodium_memzero(keep, sizeof keep);
  return e;
}

/* b = (r / sqrt(r^2) + 1) / 2 for every bit, in place of its opened square:
 * r / sqrt(r^2) is +-1 with the sign uniform and hidden (DFKNT06 §5), so b
 * is a uniform bit. By tiles: the roots, then one batch inversion. A square
 * of 0 (r = 0, probability 1/p) fails the batch at every honest party. */
static void prss_bits(prep_impl *p) {
  fe *Q = p->U + p->d.T, *root = p->scr, *scratch = p->scr + TILE;
  const fe *r = mat_rbit(p), half = (FE_P + 1) / 2;
  for (size_t i0 = 0; i0 < p->d.B; i0 += TILE) {
    size_t cnt = p->d.B - i0 < TILE ? p->d.B - i0 : TILE;
    for (size_t i = 0; i < cnt; i++)
      if (Q[i0 + i] == 0) {
        p->fail = 1;
        return;
      }
    if (fe_sqrt_vec(Q + i0, root, cnt) != cnt) { /* r^2 is a square: only if the check is wrong */
      p->fail = 1;
      return;
    }
    fe_batch_inv(root, cnt, scratch);
    for (size_t i = 0; i < cnt; i++) Q[i0 + i] = fe_mul(fe_add(fe_mul(r[i0 + i], root[i]), 1), half);
  }
}

/* After round 1: every honest member of a set must hold its key; I compare
 * my digest of each of my sets with every other member's (the honest
 * members' digests agree exactly when their keys do; a corrupt member's
 * wrong digest only makes me vote fail, and its replay names it). Then the
 * products, checked as in dealer mode, and c = U + s. The transcript hash
 * covers every party's digests, so parties that accept saw the same ones. */
static cx_err prss_after_mult(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t n = s->cfg.n, me = s->cfg.me;
  size_t pre = mult_pre(d);
  uint64_t lo = king_lo(d, me), cnt = king_cnt(d, me);
  cx_err e = CX_OK;
  uint8_t secd[MPC_MAX_N][32];
  memset(secd, 0, sizeof secd);
  vecs v = {.n = n, .me = me, .mine = p->umine + lo};
  crypto_generichash(secd[me], 32, (const uint8_t *)p->dig, pre, NULL, 0);
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) continue;
    const mpc_msg *m = round_msg(s, j, &e);
    if (!m) return e;
    v.src[j] = check_fe(s, m, len_mult(d, me), pre, cnt);
    if (!v.src[j]) continue;
    crypto_generichash(secd[j], 32, m->payload, pre, NULL, 0);
    size_t idx = 0; /* j's digests are those of its sets, in set order */
    for (uint32_t q = 0; q < p->nsets; q++) {
      if ((p->outside[q] >> j) & 1) continue;
      if (p->pos[q] >= 0 && sodium_memcmp(m->payload + 32 * idx, p->dig[p->pos[q]], 32) != 0)
        p->fail = 1;
      idx++;
    }
  }
  cx_hash th;
  hash_tagged(CX_TAG_MPC_TRANSCRIPT, secd, (size_t)n * 32, &th);
  memcpy(p->th1, th.b, 32);
  if (cnt && check_tiles(s, &v, 2 * s->cfg.t, cnt, p->U + lo, p->scr) != 0) p->fail = 1;
  if (cnt && mpc_prep_lying_king == (int)me && s->cfg.key) p->U[lo] = fe_add(p->U[lo], 1);
  sodium_memzero(p->key, 32 * d->K); /* the shares are made: the keys are done */
  sess_next_round(s, sess_others(s));
  return send_vec(s, MPC_TO_ALL, NULL, 0, p->U + lo, cnt, out);
}

/* After round 2 (PRSS): every king's opened values. A corrupt king may
 * open wrong values, to everyone or to some: the transcript hash covers all
 * of U, so parties that accept hold the same U, and w checks that it is the
 * right one. rho comes from that hash, i.e. after every king has sent: my
 * share of w = sum over all products k of rho^(k+1) u_k is my share of a
 * degree-2t sharing of sum rho^(k+1) (ab - s)_k; the n shares, in the
 * verdicts (agreed by Dolev–Strong, so every honest party checks the same
 * ones), must lie on one polynomial of degree 2t whose value at 0 is
 * C = sum rho^(k+1) U_k. A wrong U is a nonzero polynomial in rho of
 * degree <= N: it passes with probability <= N / p. The combination opens
 * nothing new: the products' shares were masked by the zero sharings z,
 * and under everyone-checks-everything every share of every product was
 * sent to everyone. Then c = U + s and the bits, as before. */
static cx_err prss_after_king(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  uint32_t n = s->cfg.n, me = s->cfg.me;
  uint64_t N = mult_items(d);
  cx_err e = CX_OK;
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) continue;
    const mpc_msg *m = round_msg(s, j, &e);
    if (!m) return e;
    uint64_t lo = king_lo(d, j), cnt = king_cnt(d, j);
    const uint8_t *src = check_fe(s, m, FE_BYTES * cnt, 0, cnt);
    for (uint64_t i = 0; i < cnt; i++) p->U[lo + i] = src ? wire_get(src + i * FE_BYTES) : 0;
  }
  hash_ctx hc;
  hash_ctx_init(&hc, CX_TAG_MPC_TRANSCRIPT);
  hash_ctx_update(&hc, p->th1, 32);
#if WIRE_NATIVE
  hash_ctx_update(&hc, p->U, N * sizeof(fe));
#else
  for (uint64_t k = 0; k < N; k++) {
    uint8_t b[FE_BYTES];
    fe_encode(p->U[k], b);
    hash_ctx_update(&hc, b, FE_BYTES);
  }
#endif
  cx_hash th;
  hash_ctx_final(&hc, &th);
  memcpy(p->transcript, th.b, 32);
  fe rho;
  fe_prg(p->transcript, NONCE_RHO, &rho, 1);
  fe C = 0, w = 0;
  for (uint64_t k = N; k-- > 0;) {
    C = fe_mul(fe_add(C, p->U[k]), rho);
    w = fe_mul(fe_add(w, p->umine[k]), rho);
  }
  p->C = C;
  p->w = w;
  fe *c = mat_c(p);
  const fe *sv = mat_s(p);
  for (size_t k = 0; k < d->T; k++) c[k] = fe_add(c[k], sv[k]);
  if (d->B && !p->fail) prss_bits(p);
  return send_verdict(s, out);
}

/* PRSS, at the decision: the n shares of w (mine, and the others' read
 * from the agreed verdicts by decide) lie on one polynomial of degree 2t
 * with C at 0. */
static int prss_w_ok(mpc_session *s, fe w[MPC_MAX_N]) {
  prep_impl *p = impl_of(s);
  fe val = 0;
  const fe *sh[MPC_MAX_N];
  w[s->cfg.me] = p->w;
  for (uint32_t j = 0; j < s->cfg.n; j++) sh[j] = &w[j];
  size_t bad = 0;
  return shamir_check(&s->sh, 2 * s->cfg.t, sh, 1, &val, &bad) == 0 && val == p->C;
}

/* ---- round 2: the openings; the verdict --------------------------------- */

/* Opens omega at degree t and zeta at degree 2t from every party's two
 * shares; the batch is good only if both are consistent and zeta is 0. */
static cx_err after_open(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  uint32_t n = s->cfg.n, me = s->cfg.me, t = s->cfg.t;
  cx_err e = CX_OK;
  vecs vo = {.n = n, .me = me, .mine = p->ch + 2}, vz = {.n = n, .me = me, .mine = p->ch + 3};
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) continue;
    const mpc_msg *m = round_msg(s, j, &e);
    if (!m) return e;
    vo.src[j] = check_fe(s, m, len_open(), 0, OPEN_ITEMS);
    vz.src[j] = vo.src[j] ? vo.src[j] + FE_BYTES : NULL;
  }
  fe omega = 0, zeta = 0;
  if (check_tiles(s, &vo, t, 1, &omega, p->scr) != 0 ||
      check_tiles(s, &vz, 2 * t, 1, &zeta, p->scr) != 0 || zeta != 0)
    p->fail = 1;
  return send_verdict(s, out);
}

/* ---- rounds 3 .. 3 + t: agreeing on the verdicts (Dolev–Strong) -------- */

/* A verdict of j: a round-3 message of this session to everyone, of
 * exactly 33 bytes (its signature is checked by the caller). A round-3
 * message of another shape counts as no verdict: it is neither relayed nor
 * counted, as if j had sent nothing to this party (the audit, where it is
 * published, names j). Keeping verdicts small keeps every echo message
 * within bounds. */
static int verdict_shape(const mpc_session *s, const mpc_msg *m) {
  return m->kind == MPC_KIND_PREP && memcmp(m->session, s->cfg.session, 32) == 0 &&
         m->round == R_VERDICT && m->to == MPC_TO_ALL && m->from < s->cfg.n &&
         m->len == verdict_len(prss_mode(s->cfg.n, s->cfg.t));
}

/* Same signed content (BIP340 signing is randomized: two signatures of one
 * content are one verdict). */
static int same_signed(const bytes *a, const uint8_t *raw, size_t len) {
  return a->len == len && memcmp(a->raw, raw, len - 64) == 0;
}

/* Dolev–Strong extraction: keeps verdict v of j if it is new and fewer
 * than two are kept, and queues the chain that brought it for the next echo
 * round, if there is one. My own verdict is the one I sent; relays of it
 * are ignored. Two distinct verdicts already prove equivocation, so more
 * are not kept, which bounds every echo message. */
static cx_err extract(mpc_session *s, uint32_t j, const uint8_t *v, size_t vlen,
                      const uint8_t *chain, size_t clen, int relay_next) {
  prep_impl *p = impl_of(s);
  if (j == s->cfg.me || p->ext_n[j] >= KEPT) return CX_OK;
  for (uint8_t k = 0; k < p->ext_n[j]; k++)
    if (same_signed(&p->ext[j][k], v, vlen)) return CX_OK;
  cx_err e = bytes_dup(&p->ext[j][p->ext_n[j]], v, vlen);
  if (e != CX_OK) return e;
  p->ext_n[j]++;
  if (!relay_next) return CX_OK;
  if (p->pend_n == p->pend_cap) {
    size_t cap = p->pend_cap ? 2 * p->pend_cap : 8;
    relay *r = realloc(p->pend, cap * sizeof *r);
    if (!r) return CX_E_NOMEM;
    p->pend = r;
    p->pend_cap = cap;
  }
  p->pend[p->pend_n].j = j;
  e = bytes_dup(&p->pend[p->pend_n].chain, chain, clen);
  if (e == CX_OK) p->pend_n++;
  return e;
}

/* Opens a relay chain of depth r: r nested links around a verdict. Each
 * link is a signed message of its relayer (this session, to everyone, round
 * link_round(j, 0 or 1) for the verdict's sender j) whose payload is the
 * next layer; the relayers are distinct and none is j. So a chain of depth
 * r carries r + 1 distinct signers, which is what the Dolev–Strong argument
 * needs. 1 and the verdict (j, v) if valid. */
static int chain_open(const mpc_session *s, const uint8_t *buf, size_t len, uint32_t depth,
                      uint32_t *j, const uint8_t **v, size_t *vlen) {
  uint32_t n = s->cfg.n, want = UINT32_MAX;
  uint64_t signers = 0;
  mpc_msg m;
  for (uint32_t d = 0; d <= depth; d++) {
    if (mpc_msg_decode(buf, len, &m) != CX_OK || m.from >= n || ((signers >> m.from) & 1)) return 0;
    if (d < depth) {
      if (m.kind != MPC_KIND_PREP || memcmp(m.session, s->cfg.session, 32) != 0 ||
          m.to != MPC_TO_ALL || m.round < LINK_ROUND0 || m.round - LINK_ROUND0 >= 2 * n)
        return 0;
      uint32_t lj = (m.round - LINK_ROUND0) / 2;
      if (want != UINT32_MAX && lj != want) return 0;
      want = lj;
    } else if (!verdict_shape(s, &m) || (want != UINT32_MAX && m.from != want)) {
      return 0;
    }
    if (!mpc_msg_verify(&m, &s->cfg.pubkeys[m.from])) return 0;
    signers |= 1ull << m.from;
    if (d < depth) {
      buf = m.payload;
      len = m.len;
    }
  }
  *j = m.from;
  *v = buf;
  *vlen = len;
  return 1;
}

/* Echo payload: count u32 || count x (len u32 || link), each link my signed
 * message around a chain I extracted in the previous round. */
static cx_err send_echo(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  bytes *links = calloc(p->pend_n ? p->pend_n : 1, sizeof *links);
  if (!links) return CX_E_NOMEM;
  cx_err e = CX_OK;
  size_t len = 4;
  for (size_t i = 0; i < p->pend_n && e == CX_OK; i++) {
    const relay *r = &p->pend[i];
    if (p->linked[r->j] >= KEPT) {
      e = CX_E_INTERNAL; /* at most KEPT verdicts of j are ever extracted */
      break;
    }
    e = mpc_msg_encode(s->cfg.key, MPC_KIND_PREP, s->cfg.session, link_round(r->j, p->linked[r->j]++),
                       (uint8_t)s->cfg.me, MPC_TO_ALL, r->chain.raw, r->chain.len, &links[i].raw,
                       &links[i].len);
    len += 4 + links[i].len;
  }
  uint8_t *buf = e == CX_OK ? malloc(len) : NULL;
  if (e == CX_OK && !buf) e = CX_E_NOMEM;
  if (e == CX_OK) {
    put_be32(buf, (uint32_t)p->pend_n);
    size_t off = 4;
    for (size_t i = 0; i < p->pend_n; i++) {
      put_be32(buf + off, (uint32_t)links[i].len);
      memcpy(buf + off + 4, links[i].raw, links[i].len);
      off += 4 + links[i].len;
    }
    e = sess_send(s, MPC_TO_ALL, buf, len, out);
  }
  free(buf);
  for (size_t i = 0; i < p->pend_n; i++) free(links[i].raw);
  free(links);
  pend_clear(p);
  return e;
}

/* One relayer's echo message of echo round r. A chain that does not open is
 * ignored, as in Dolev–Strong: it is what a corrupt relayer may send anyway,
 * and naming it here would split the honest parties (only this one may have
 * got it). At most 2 (n - 1) items are read: what an honest relayer sends at
 * most. */
static cx_err take_echo(mpc_session *s, const mpc_msg *m, uint32_t r) {
  if (m->len < 4) return CX_OK;
  uint32_t count = get_be32(m->payload), cap = 2 * (s->cfg.n - 1);
  size_t off = 4;
  for (uint32_t i = 0; i < count && i < cap; i++) {
    if (m->len - off < 4) break;
    size_t l = get_be32(m->payload + off);
    off += 4;
    if (m->len - off < l) break;
    const uint8_t *item = m->payload + off;
    off += l;
    uint32_t j;
    const uint8_t *v;
    size_t vlen;
    if (!chain_open(s, item, l, r, &j, &v, &vlen)) continue;
    cx_err e = extract(s, j, v, vlen, item, l, r < s->cfg.t);
    if (e != CX_OK) return e;
  }
  return CX_OK;
}

static cx_err accept(mpc_session *s);
static cx_err start_audit(mpc_session *s, mpc_outbox *out);

/* After round 3 + t. Dolev–Strong with t + 1 rounds: every honest party
 * holds, for every sender, the same single verdict, or none, or two
 * distinct ones (docs/mpc-prep.md "Verdict agreement"). So this decision is
 * the same at every honest party: name the lowest equivocating sender (its
 * two signed verdicts are the evidence), or accept when every sender has
 * exactly one verdict, ok, with my transcript hash, or audit. */
static cx_err decide(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  uint32_t n = s->cfg.n, me = s->cfg.me;
  for (uint32_t j = 0; j < n; j++) {
    if (p->ext_n[j] < 2) continue;
    const uint8_t *msgs[2] = {p->ext[j][0].raw, p->ext[j][1].raw};
    size_t lens[2] = {p->ext[j][0].len, p->ext[j][1].len};
    impl_wipe(p);
    sess_evidence(s, MPC_EV_EQUIVOCATION, (int32_t)j, 0, msgs, lens, 2);
    sess_abort(s, CX_E_MPC_EQUIVOCATION, (int32_t)j, "prep: party %u signed two different verdicts",
               j);
    return CX_OK;
  }
  int ok = !p->fail;
  fe w[MPC_MAX_N] = {0}; /* PRSS: the verdicts' shares of w */
  for (uint32_t j = 0; j < n && ok; j++) {
    if (j == me) continue;
    mpc_msg m;
    ok = p->ext_n[j] == 1 && mpc_msg_decode(p->ext[j][0].raw, p->ext[j][0].len, &m) == CX_OK &&
         m.payload[0] == 1 && memcmp(m.payload + 1, p->transcript, 32) == 0 &&
         (!p->d.prss || fe_decode(m.payload + VERDICT_BYTES, &w[j]) == 0);
  }
  if (ok && p->d.prss) ok = prss_w_ok(s, w);
  return ok ? accept(s) : start_audit(s, out);
}

/* The next echo round, or the decision after the last. */
static cx_err echo_or_decide(mpc_session *s, mpc_outbox *out) {
  if (s->round - R_VERDICT < s->cfg.t) {
    sess_next_round(s, sess_others(s));
    ds_deadline(s);
    return send_echo(s, out);
  }
  return decide(s, out);
}

/* Round 3: every verdict received directly is extracted (a chain of depth
 * 0) and relayed in echo round 1. Rounds 3 .. 3 + t are Dolev–Strong's
 * synchronous rounds: at the deadline (prep_timeout) they end with what
 * arrived, and a missing message is simply missing (nothing extracted from
 * its sender in that round), as in the paper. So here, unlike rounds 0-2,
 * a NULL message is not our bug. */
static cx_err after_verdict(mpc_session *s, mpc_outbox *out) {
  uint32_t n = s->cfg.n, me = s->cfg.me;
  cx_err e = CX_OK;
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) continue;
    const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, j);
    if (!m || !verdict_shape(s, m)) continue;
    e = extract(s, j, m->raw, m->raw_len, m->raw, m->raw_len, s->cfg.t > 0);
    if (e != CX_OK) return e;
  }
  return echo_or_decide(s, out);
}

/* Echo round r = round - V: chains of depth r (a missing echo message, at
 * the deadline, brings nothing). */
static cx_err after_echo(mpc_session *s, mpc_outbox *out) {
  uint32_t n = s->cfg.n, me = s->cfg.me, r = s->round - R_VERDICT;
  cx_err e = CX_OK;
  for (uint32_t k = 0; k < n && e == CX_OK; k++) {
    if (k == me) continue;
    const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, k);
    if (m) e = take_echo(s, m, r);
  }
  return e == CX_OK ? echo_or_decide(s, out) : e;
}

/* ---- accepted ----------------------------------------------------------- */

static cx_err accept(mpc_session *s) {
  prep_impl *p = impl_of(s);
  const prep_dims *d = &p->d;
  if (!s->pool) { /* a replay never gets here; nothing to keep */
    impl_wipe(p);
    sess_done(s);
    return CX_OK;
  }
  mpc_pool_level lv;
  mpc_pool_level_get(s->pool, &lv);
  if (lv.cap_triples - lv.triples < d->T || lv.cap_rands - lv.rands < d->R ||
      lv.cap_bits - lv.bits < d->B || lv.cap_ints - lv.ints < d->I) {
    impl_wipe(p);
    sess_abort(s, CX_E_FULL, -1, "prep: the pool has no room for the batch");
    return CX_OK;
  }
  cx_err e = CX_OK;
  if (d->T) e = mpc_pool_put_triples(s->pool, mat_a(p), mat_b(p), mat_c(p), d->T);
  if (e == CX_OK && d->R) e = mpc_pool_put_rands(s->pool, mat_r(p), d->R);
  if (e == CX_OK && d->B) e = mpc_pool_put_bits(s->pool, p->U + d->T, d->B);
  if (e == CX_OK && d->I) e = mpc_pool_put_ints(s->pool, mat_int(p), d->I);
  impl_wipe(p);
  if (e != CX_OK) {
    sess_abort(s, e, -1, "prep: adding the batch to the pool failed");
    return CX_OK;
  }
  sess_done(s);
  return CX_OK;
}

/* ---- the audit: publishing ---------------------------------------------- */

/* The audit blob: T || R || seed || for each round 0..3, for each sender
 * j != me in order: u32 length || the signed message I received. A verdict
 * (round 3) that had not arrived by the round's deadline is length 0 (no
 * signed message is empty); rounds 0-2 always have every message. Revealing
 * the seed is safe only because this batch is discarded and never depended
 * on any input (Ishai–Ostrovsky–Zikas 2014). */
static cx_err make_blob(mpc_session *s) {
  prep_impl *p = impl_of(s);
  uint32_t n = s->cfg.n, me = s->cfg.me;
  size_t len = AUDIT_HDR;
  for (uint32_t r = 0; r < PREP_ROUNDS; r++)
    for (uint32_t j = 0; j < n; j++) {
      if (j == me) continue;
      const mpc_msg *m = mpc_inbox_get(s->inbox, r, j);
      if (!m && r != R_VERDICT) return CX_E_INTERNAL; /* keep_rounds: every round is kept */
      len += 4 + (m ? m->raw_len : 0);
    }
  uint8_t *buf = malloc(len);
  if (!buf) return CX_E_NOMEM;
  put_be64(buf, p->d.T);
  put_be64(buf + 8, p->d.R);
  put_be64(buf + 48, p->d.B);
  put_be64(buf + 56, p->d.I);
  memcpy(buf + 16, s->cfg.seed, 32);
  size_t off = AUDIT_HDR;
  for (uint32_t r = 0; r < PREP_ROUNDS; r++)
    for (uint32_t j = 0; j < n; j++) {
      if (j == me) continue;
      const mpc_msg *m = mpc_inbox_get(s->inbox, r, j);
      size_t l = m ? m->raw_len : 0;
      put_be32(buf + off, (uint32_t)l);
      if (l) memcpy(buf + off + 4, m->raw, l);
      off += 4 + l;
    }
  p->blob = buf;
  p->blob_len = len;
  return CX_OK;
}

/* Audit round k: chunk 0 = blob length u64 || piece 0; chunk k = piece k
 * (empty once my blob is sent: every party sends in every audit round, so
 * nobody runs more than one round ahead of another). */
static cx_err send_chunk(mpc_session *s, uint64_t k, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  uint64_t pl = piece_len(p->blob_len, k), pre = k == 0 ? 8 : 0;
  uint8_t *buf = malloc(pre + pl + 1);
  if (!buf) return CX_E_NOMEM;
  if (k == 0) put_be64(buf, p->blob_len);
  if (pl) memcpy(buf + pre, p->blob + k * chunk_bytes(), pl);
  cx_err e = sess_send(s, MPC_TO_ALL, buf, pre + pl, out);
  sodium_memzero(buf, pre + pl + 1);
  free(buf);
  return e;
}

/* The batch is dropped and everyone publishes its seed and inputs. */
static cx_err start_audit(mpc_session *s, mpc_outbox *out) {
  impl_wipe(impl_of(s));
  cx_err e = make_blob(s);
  if (e != CX_OK) return e;
  sess_next_round(s, sess_others(s));
  /* Audit round 0 is the schedule's slot t + 1: a party held back to the
   * end of the last echo round is still waited for (ds_deadline). The
   * later audit rounds wait for everyone, each from its own start. */
  ds_deadline(s);
  return send_chunk(s, 0, out);
}

/* A valid chunk 0 declares a length L within what any party can have, with
 * piece 0 of exactly the size that L implies. *L gets the length. */
static int chunk0_ok(uint32_t n, const uint8_t *p, size_t len, uint64_t *L) {
  if (len < 8) return 0;
  *L = get_be64(p);
  return *L >= AUDIT_HDR && *L <= audit_max(n) && len - 8 == piece_len(*L, 0);
}

typedef enum { ASM_OK = 0, ASM_SHORT, ASM_LIE, ASM_NOMEM } asm_rc;

/* Reassembles one party's blob from its chunks c[0..count) (audit rounds
 * 0..count-1). ASM_LIE: chunks 0..*at already contradict themselves (a
 * chunk 0 that is not valid, a piece of the wrong size for the declared
 * length: the party's own signatures prove it lied). ASM_SHORT: fewer
 * chunks than the length needs. ASM_OK: *blob (malloc'd, *blen bytes) from
 * the first *need chunks. */
static asm_rc assemble(uint32_t n, const mpc_msg *const *c, size_t count, uint8_t **blob,
                       size_t *blen, size_t *need, size_t *at) {
  uint64_t L = 0;
  *blob = NULL;
  *at = 0;
  if (!chunk0_ok(n, c[0]->payload, c[0]->len, &L)) return ASM_LIE;
  for (size_t i = 1; i < count; i++)
    if (c[i]->len != piece_len(L, i)) {
      *at = i;
      return ASM_LIE;
    }
  *need = pieces(L);
  if (count < *need) return ASM_SHORT;
  uint8_t *b = malloc(L);
  if (!b) return ASM_NOMEM;
  uint64_t off = 0;
  for (size_t i = 0; i < *need; i++) {
    const uint8_t *src = c[i]->payload + (i == 0 ? 8 : 0);
    memcpy(b + off, src, piece_len(L, i));
    off += piece_len(L, i);
  }
  *blob = b;
  *blen = L;
  return ASM_OK;
}

static cx_err judge(mpc_session *s);
static cx_err name_audit(mpc_session *s, uint32_t x, const mpc_msg *const *chunk, size_t cnt,
                         const uint8_t *bad, size_t badlen, cx_err err, const char *what);

/* Names the first party whose chunk of this audit round contradicts its
 * chunk 0 (or whose chunk 0 is not valid): its own signed chunks 0..k
 * prove the lie, so there is no point in waiting for more. Every party that
 * got the same chunks stops in the same round. 1 if named, -1 on error. */
static int chunk_lie(mpc_session *s, uint64_t k, cx_err *e) {
  uint32_t n = s->cfg.n, me = s->cfg.me, a0 = audit0(s->cfg.n, s->cfg.t);
  for (uint32_t x = 0; x < n; x++) {
    if (x == me) continue;
    const mpc_msg *m0 = mpc_inbox_get(s->inbox, a0, x), *mk = mpc_inbox_get(s->inbox, s->round, x);
    uint64_t L = 0;
    if (!m0 || !mk) {
      *e = CX_E_INTERNAL;
      return -1;
    }
    if (chunk0_ok(n, m0->payload, m0->len, &L) && (k == 0 || mk->len == piece_len(L, k))) continue;
    const mpc_msg **c = calloc(k + 1, sizeof *c);
    if (!c) {
      *e = CX_E_NOMEM;
      return -1;
    }
    for (uint64_t i = 0; i <= k; i++) c[i] = mpc_inbox_get(s->inbox, a0 + (uint32_t)i, x);
    *e = name_audit(s, x, c, k + 1, NULL, 0, CX_E_MPC_MALFORMED,
                    "chunks contradict their declared length");
    free(c);
    return *e == CX_OK ? 1 : -1;
  }
  return 0;
}

/* After audit round k: once chunk 0 of everyone is in, the number of audit
 * rounds is the largest any valid chunk 0 (mine included) needs. A party
 * whose chunk 0 is not valid is not waited for: its chunk 0 is its proof. A
 * declared length that is valid but false costs at most the rounds it
 * declares (bounded by audit_max), whose pieces the liar must send itself,
 * and then names it: a piece contradicts it, or the blob does not parse. */
static cx_err after_audit(mpc_session *s, mpc_outbox *out) {
  prep_impl *p = impl_of(s);
  uint32_t n = s->cfg.n, me = s->cfg.me;
  uint64_t k = s->round - audit0(s->cfg.n, s->cfg.t);
  cx_err e = CX_OK;
  if (chunk_lie(s, k, &e) != 0) return e;
  if (k == 0) {
    uint64_t c = pieces(p->blob_len), L;
    for (uint32_t x = 0; x < n; x++) {
      if (x == me) continue;
      const mpc_msg *m = mpc_inbox_get(s->inbox, s->round, x);
      if (m && chunk0_ok(n, m->payload, m->len, &L) && pieces(L) > c) c = pieces(L);
    }
    p->chunks = c;
  }
  if (k + 1 < p->chunks) {
    sess_next_round(s, sess_others(s));
    return send_chunk(s, k + 1, out);
  }
  return judge(s);
}

/* ---- the audit: judging ------------------------------------------------- */

/* One party's audit blob, parsed: pointers into it. */
typedef struct {
  uint64_t T, R, B, I;
  const uint8_t *seed;
  const uint8_t *msg[PREP_ROUNDS][MPC_MAX_N]; /* [r][j]: j's round-r message to the author */
  size_t len[PREP_ROUNDS][MPC_MAX_N];
} audit_view;

/* Parses k's audit blob: sizes within the limits, and every embedded
 * message a valid signed message of this session, of its round, from its
 * position's sender and addressed to k or to all, except that a verdict may
 * be absent (length 0: it missed k's deadline; msg NULL). Anything else is
 * a lie signed by k. 0 if valid. (Claiming a verdict absent hides nothing:
 * a party is judged on the messages the others hold, never on its own
 * blob's copy of them.) */
static int audit_parse(uint32_t n, uint32_t t, const cx_pubkey *pks, const uint8_t session[32],
                       uint32_t k, const uint8_t *p, size_t len, audit_view *v) {
  memset(v, 0, sizeof *v);
  if (len < AUDIT_HDR) return -1;
  v->T = get_be64(p);
  v->R = get_be64(p + 8);
  v->B = get_be64(p + 48);
  v->I = get_be64(p + 56);
  v->seed = p + 16;
  if (!limits_ok(n, t, v->T, v->R, v->B, v->I)) return -1;
  size_t off = AUDIT_HDR;
  for (uint32_t r = 0; r < PREP_ROUNDS; r++)
    for (uint32_t j = 0; j < n; j++) {
      if (j == k) continue;
      if (len - off < 4) return -1;
      size_t l = get_be32(p + off);
      off += 4;
      if (len - off < l) return -1;
      if (l == 0 && r == R_VERDICT) continue;
      mpc_msg m;
      if (mpc_msg_decode(p + off, l, &m) != CX_OK) return -1;
      if (m.kind != MPC_KIND_PREP || memcmp(m.session, session, 32) != 0 || m.round != r ||
          m.from != j || (m.to != k && m.to != MPC_TO_ALL))
        return -1;
      if (!mpc_msg_verify(&m, &pks[j])) return -1;
      v->msg[r][j] = p + off;
      v->len[r][j] = l;
      off += l;
    }
  return off == len ? 0 : -1;
}

static cx_err prep_create(const mpc_session_config *cfg, uint64_t T, uint64_t R, uint64_t B,
                          uint64_t I, mpc_pool *pool, mpc_session **out);

/* Replays party j from its published seed and inputs, up to and including
 * its round-3 messages (never its agreement or audit rounds: no
 * recursion). *out gets the replay session, whose s->replay lists j's
 * unsigned outputs. Another error than CX_OK is ours (out of memory), not
 * j's. */
static cx_err replay_party(uint32_t n, uint32_t t, const cx_pubkey *pks, const uint8_t session[32],
                           uint32_t j, const audit_view *v, mpc_session **out) {
  *out = NULL;
  mpc_session_config cfg = {.n = n, .t = t, .me = j, .pubkeys = pks, .key = NULL};
  memcpy(cfg.session, session, 32);
  memcpy(cfg.seed, v->seed, 32);
  mpc_session *rs = NULL;
  cx_err e = prep_create(&cfg, v->T, v->R, v->B, v->I, NULL, &rs);
  sodium_memzero(cfg.seed, sizeof cfg.seed);
  if (e != CX_OK) return e;
  mpc_outbox ob = {0};
  e = mpc_session_start(rs, 0, &ob);
  for (uint32_t r = 0; r + 1 < PREP_ROUNDS && e == CX_OK; r++)
    for (uint32_t i = 0; i < n && e == CX_OK; i++) {
      if (i == j || rs->st.state != MPC_RUNNING) continue;
      e = mpc_session_recv(rs, v->msg[r][i], v->len[r][i], 0, &ob);
    }
  mpc_outbox_free(&ob);
  if (rs->st.state == MPC_ABORTED && rs->st.err != CX_E_MPC_MALFORMED) e = rs->st.err;
  if (e == CX_E_MPC_MALFORMED || e == CX_E_MPC_STATE) e = CX_OK;
  if (e != CX_OK) {
    mpc_session_free(rs);
    return e;
  }
  *out = rs;
  return CX_OK;
}

/* 1 if the replay produced exactly m (same round, recipient and payload). */
static int replay_has(const mpc_session *rs, const mpc_msg *m) {
  for (size_t i = 0; i < rs->replay_n; i++) {
    const mpc_replayed *r = &rs->replay[i];
    if (r->round == m->round && r->to == m->to)
      return r->len == m->len && (m->len == 0 || memcmp(r->payload, m->payload, m->len) == 0);
  }
  return 0;
}

/* One party's audit as this party received it. */
typedef struct {
  const mpc_msg **chunk; /* its chunks of audit rounds 0 .. chunks-1 */
  uint8_t *blob;
  size_t blob_len, need; /* need: the chunks its blob takes */
  audit_view v;
} audit_party;

/* Replays j and compares with every signed message of j I hold: the ones
 * to me (my inbox) and to others (their audits). Returns 1 and the first
 * mismatching message, 0 if j is consistent, -1 on our own error. */
static int audit_one(mpc_session *s, const audit_party *ap, uint32_t j, const uint8_t **bad,
                     size_t *badlen, cx_err *e) {
  uint32_t n = s->cfg.n, me = s->cfg.me;
  mpc_session *rs = NULL;
  *e = replay_party(n, s->cfg.t, s->cfg.pubkeys, s->cfg.session, j, &ap[j].v, &rs);
  if (*e != CX_OK) return -1;
  int found = 0;
  for (uint32_t r = 0; r < PREP_ROUNDS && !found; r++)
    for (uint32_t k = 0; k < n && !found; k++) {
      if (k == j) continue;
      const uint8_t *raw;
      size_t len;
      if (k == me) {
        const mpc_msg *m = mpc_inbox_get(s->inbox, r, j);
        raw = m ? m->raw : NULL;
        len = m ? m->raw_len : 0;
      } else {
        raw = ap[k].v.msg[r][j];
        len = ap[k].v.len[r][j];
      }
      mpc_msg m;
      if (!raw || mpc_msg_decode(raw, len, &m) != CX_OK) continue; /* cannot happen: checked */
      if (!replay_has(rs, &m)) {
        *bad = raw;
        *badlen = len;
        found = 1;
      }
    }
  mpc_session_free(rs);
  return found;
}

/* Names x with MPC_EV_AUDIT evidence: its first cnt audit chunks, and the
 * signed message of x its replay does not produce (bad, if any). */
static cx_err name_audit(mpc_session *s, uint32_t x, const mpc_msg *const *chunk, size_t cnt,
                         const uint8_t *bad, size_t badlen, cx_err err, const char *what) {
  const uint8_t **msgs = calloc(cnt + 1, sizeof *msgs);
  size_t *lens = calloc(cnt + 1, sizeof *lens);
  if (!msgs || !lens) {
    free(msgs);
    free(lens);
    return CX_E_NOMEM;
  }
  for (size_t i = 0; i < cnt; i++) {
    msgs[i] = chunk[i]->raw;
    lens[i] = chunk[i]->raw_len;
  }
  if (bad) {
    msgs[cnt] = bad;
    lens[cnt] = badlen;
  }
  sess_evidence(s, MPC_EV_AUDIT, (int32_t)x, 0, msgs, lens, cnt + (bad ? 1 : 0));
  free(msgs);
  free(lens);
  if (bad) {
    mpc_msg bm;
    if (mpc_msg_decode(bad, badlen, &bm) != CX_OK) return CX_E_INTERNAL;
    if (bm.to == MPC_TO_ALL)
      sess_abort(s, err, (int32_t)x, "prep audit: party %u's round %u broadcast is not what its replay sends",
                 x, bm.round);
    else
      sess_abort(s, err, (int32_t)x,
                 "prep audit: party %u's round %u message to party %u is not what its replay sends", x,
                 bm.round, bm.to);
  } else {
    sess_abort(s, err, (int32_t)x, "prep audit: party %u's audit %s", x, what);
  }
  return CX_OK;
}

static cx_err verify_malformed(uint32_t n, uint32_t t, const cx_pubkey *pks, const mpc_evidence *ev,
                               uint32_t c);

/* My own proof, if I hold one that a third party accepts: a coin opening
 * that misses its commitment, or a payload that is malformed whatever the
 * batch size. (A wrong length that would fit another batch is certain to me
 * but not provable to others: the replay names that sender instead.) */
static int own_proof(mpc_session *s) {
  prep_impl *p = impl_of(s);
  uint32_t j = p->proof_from;
  if (p->proof == MPC_EV_COIN) {
    const mpc_msg *c0 = mpc_inbox_get(s->inbox, R_DEAL, j), *c1 = mpc_inbox_get(s->inbox, R_MULT, j);
    if (!c0 || !c1) return 0;
    const uint8_t *msgs[2] = {c0->raw, c1->raw};
    size_t lens[2] = {c0->raw_len, c1->raw_len};
    sess_evidence(s, MPC_EV_COIN, (int32_t)j, 0, msgs, lens, 2);
    sess_abort(s, CX_E_MPC_CHECK_FAILED, (int32_t)j,
               "prep: party %u's coin opening does not match its commitment", j);
    return 1;
  }
  if (p->proof != MPC_EV_MALFORMED) return 0;
  const mpc_msg *m = mpc_inbox_get(s->inbox, p->proof_round, j);
  if (!m) return 0;
  uint8_t *raw = (uint8_t *)m->raw;
  size_t len = m->raw_len;
  mpc_evidence ev = {.type = MPC_EV_MALFORMED, .culprit = (int32_t)j, .count = 1, .msg = &raw, .len = &len};
  if (verify_malformed(s->cfg.n, s->cfg.t, s->cfg.pubkeys, &ev, j) != CX_OK) return 0;
  const uint8_t *msgs[1] = {m->raw};
  sess_evidence(s, MPC_EV_MALFORMED, (int32_t)j, 0, msgs, &len, 1);
  sess_abort(s, CX_E_MPC_MALFORMED, (int32_t)j, "prep round %u: party %u sent a malformed payload",
             m->round, j);
  return 1;
}

static void parties_free(audit_party *ap, uint32_t n) {
  for (uint32_t x = 0; x < n; x++) {
    free(ap[x].chunk);
    if (ap[x].blob) {
      sodium_memzero(ap[x].blob, ap[x].blob_len);
      free(ap[x].blob);
    }
  }
  free(ap);
}

/* After the last audit round: my own proof if I have one; else the first
 * party whose audit contradicts itself or does not parse; else the first
 * party whose signed messages its replay does not reproduce. An honest
 * party's always are, so only a cheater can be named. */
static cx_err judge(mpc_session *s) {
  prep_impl *p = impl_of(s);
  uint32_t n = s->cfg.n, me = s->cfg.me, a0 = audit0(s->cfg.n, s->cfg.t);
  if (own_proof(s)) return CX_OK;
  audit_party *ap = calloc(n, sizeof *ap);
  if (!ap) return CX_E_NOMEM;
  cx_err e = CX_OK;
  for (uint32_t x = 0; x < n; x++) {
    if (x == me) continue;
    ap[x].chunk = calloc(p->chunks, sizeof *ap[x].chunk);
    if (!ap[x].chunk) {
      e = CX_E_NOMEM;
      goto done;
    }
    for (uint64_t i = 0; i < p->chunks; i++)
      if (!(ap[x].chunk[i] = mpc_inbox_get(s->inbox, a0 + (uint32_t)i, x))) {
        e = CX_E_INTERNAL;
        goto done;
      }
    size_t at = 0;
    asm_rc rc = assemble(n, ap[x].chunk, p->chunks, &ap[x].blob, &ap[x].blob_len, &ap[x].need, &at);
    if (rc == ASM_NOMEM || rc == ASM_SHORT) { /* SHORT: chunks covers every valid length */
      e = rc == ASM_NOMEM ? CX_E_NOMEM : CX_E_INTERNAL;
      goto done;
    }
    if (rc == ASM_LIE) {
      e = name_audit(s, x, ap[x].chunk, at + 1, NULL, 0, CX_E_MPC_MALFORMED,
                     "chunks contradict their declared length");
      goto done;
    }
    if (audit_parse(n, s->cfg.t, s->cfg.pubkeys, s->cfg.session, x, ap[x].blob, ap[x].blob_len,
                    &ap[x].v) != 0) {
      e = name_audit(s, x, ap[x].chunk, ap[x].need, NULL, 0, CX_E_MPC_MALFORMED,
                     "does not parse or holds an invalid message");
      goto done;
    }
  }
  for (uint32_t j = 0; j < n; j++) {
    if (j == me) continue;
    const uint8_t *bad = NULL;
    size_t badlen = 0;
    int rc = audit_one(s, ap, j, &bad, &badlen, &e);
    if (rc < 0) goto done;
    if (rc == 1) {
      e = name_audit(s, j, ap[j].chunk, ap[j].need, bad, badlen, CX_E_MPC_CHECK_FAILED, NULL);
      goto done;
    }
  }
  sess_abort(s, CX_E_MPC_CHECK_FAILED, -1, "prep audit: a check failed but every replay matches");
done:
  parties_free(ap, n);
  return e;
}

/* ---- protocol ---------------------------------------------------------- */

/* A round's deadline passed with messages missing (session_internal.h,
 * mpc_proto.timeout; session.c has already listed the missing parties as
 * unresponsive). Rounds 3 .. 3 + t are Dolev–Strong's synchronous rounds:
 * they end here with what arrived (docs/mpc-prep.md "Deadlines"), so a
 * verdict or echo message withheld from some honest parties is, for them,
 * a message that was not sent, which the agreement argument covers. Every
 * other round needs every message (rounds 0-2: the batch itself; the
 * audit: everyone's seed and inputs): a timeout there aborts naming
 * nobody, as without the hook, since a missing message proves nothing. */
static cx_err prep_timeout(mpc_session *s, mpc_outbox *out) {
  if (s->cfg.key && s->round >= R_VERDICT && s->round < audit0(s->cfg.n, s->cfg.t))
    return s->round == R_VERDICT ? after_verdict(s, out) : after_echo(s, out);
  impl_wipe(impl_of(s));
  sess_timeout_abort(s);
  return CX_OK;
}

static cx_err prep_advance(mpc_session *s, mpc_outbox *out) {
  int prss = impl_of(s)->d.prss;
  if (s->round == R_DEAL) return prss ? after_keys(s, out) : after_deal(s, out);
  if (s->round == R_MULT) return prss ? prss_after_mult(s, out) : after_mult(s, out);
  if (s->round == R_KING) return prss ? prss_after_king(s, out) : after_open(s, out); /* R_OPEN */
  if (s->round == R_VERDICT) {
    if (!s->cfg.key) { /* replay: stops after its verdict */
      impl_wipe(impl_of(s));
      sess_done(s);
      return CX_OK;
    }
    return after_verdict(s, out);
  }
  return s->round < audit0(s->cfg.n, s->cfg.t) ? after_echo(s, out) : after_audit(s, out);
}

const mpc_proto mpc_prep_proto = {
    .name = "prep",
    .start = prep_start,
    .advance = prep_advance,
    .destroy = prep_destroy,
    .timeout = prep_timeout,
};

static cx_err prep_create(const mpc_session_config *cfg, uint64_t T, uint64_t R, uint64_t B,
                          uint64_t I, mpc_pool *pool, mpc_session **out) {
  if (!limits_ok(cfg->n, cfg->t, T, R, B, I)) return CX_E_INVALID_ARG;
  mpc_session *s = NULL;
  cx_err e = sess_new(cfg, MPC_KIND_PREP, &s);
  if (e != CX_OK) return e;
  prep_impl *p = calloc(1, sizeof *p);
  if (!p) {
    mpc_session_free(s);
    return CX_E_NOMEM;
  }
  dims_init(&p->d, cfg->n, cfg->t, T, R, B, I);
  p->proof = MPC_EV_NONE;
  if (p->d.prss) prss_init(p, &s->sh, cfg->n, cfg->t, cfg->me);
  s->proto = &mpc_prep_proto;
  s->impl = p;
  s->pool = pool;
  s->keep_rounds = 1; /* the audit publishes every round */
  e = impl_alloc(p, cfg->n, cfg->t);
  if (e != CX_OK) {
    mpc_session_free(s);
    return e;
  }
  *out = s;
  return CX_OK;
}

int mpc_prep_prss(uint32_t n, uint32_t t) { return prss_mode(n, t); }

/* A size the engine runs (n >= 3t + 1, at most MPC_MAX_N) and a batch
 * within limits_ok. */
static int batch_ok(uint32_t n, uint32_t t, uint64_t T, uint64_t R, uint64_t B, uint64_t I) {
  return n != 0 && n <= MPC_MAX_N && (uint64_t)n >= 3 * (uint64_t)t + 1 && limits_ok(n, t, T, R, B, I);
}

int mpc_prep_fits(uint32_t n, uint32_t t, uint64_t triples, uint64_t rands, uint64_t bits) {
  return batch_ok(n, t, triples, rands, bits, 0); /* ints send nothing */
}

cx_err mpc_session_prep(const mpc_session_config *cfg, size_t triples, size_t rands, size_t bits,
                        size_t ints, mpc_pool *pool, mpc_session **out) {
  if (out) *out = NULL;
  if (!cfg || !out || !pool || !cfg->pubkeys) return CX_E_INVALID_ARG;
  if (!batch_ok(cfg->n, cfg->t, triples, rands, bits, ints)) return CX_E_INVALID_ARG;
  mpc_pool_level lv;
  mpc_pool_level_get(pool, &lv);
  if (lv.cap_triples - lv.triples < triples || lv.cap_rands - lv.rands < rands ||
      lv.cap_bits - lv.bits < bits || lv.cap_ints - lv.ints < ints)
    return CX_E_FULL;
  return prep_create(cfg, triples, rands, bits, ints, pool, out);
}

/* ---- third-party verification ------------------------------------------ */

/* Message i of the evidence, decoded and signed by the culprit. */
static cx_err ev_get(const cx_pubkey *pks, const mpc_evidence *ev, size_t i, uint32_t c,
                     mpc_msg *m) {
  if (!ev->msg || !ev->len || !ev->msg[i]) return CX_E_INVALID_ARG;
  cx_err e = mpc_msg_decode(ev->msg[i], ev->len[i], m);
  if (e != CX_OK) return CX_E_MPC_MALFORMED;
  if (m->from != c) return CX_E_MPC_SENDER;
  if (!mpc_msg_verify(m, &pks[c])) return CX_E_BAD_SIG;
  if (m->kind != MPC_KIND_PREP) return CX_E_MPC_SESSION;
  return CX_OK;
}

/* MPC_EV_COIN: a commitment (round 0) and an opening (round 1), both signed
 * by the culprit in one session, that do not match. An honest party sends
 * the same commitment and opening to everyone, so the recipients need not
 * be the same. */
static cx_err verify_coin(const cx_pubkey *pks, const mpc_evidence *ev, uint32_t c) {
  mpc_msg m0, m1;
  cx_err e = ev_get(pks, ev, 0, c, &m0);
  if (e == CX_OK) e = ev_get(pks, ev, 1, c, &m1);
  if (e != CX_OK) return e;
  if (memcmp(m0.session, m1.session, 32) != 0) return CX_E_MPC_SESSION;
  if (m0.round != R_DEAL || m1.round != R_MULT) return CX_E_MPC_ROUND;
  if (m0.len < 32 || m1.len < COIN_BYTES) return CX_E_MPC_MALFORMED;
  cx_hash h;
  hash_tagged(CX_TAG_MPC_COIN, m1.payload, COIN_BYTES, &h);
  return memcmp(h.b, m0.payload, 32) != 0 ? CX_OK : CX_E_MPC_CHECK_FAILED;
}

/* MPC_EV_AUDIT: the culprit's audit chunks, from audit round 0 on, and
 * optionally one of its signed messages of rounds 0..3 (last). Proven when
 * the chunks contradict their declared length, or the complete blob does
 * not parse, or the replay from the blob does not produce that message. */
static cx_err verify_audit(uint32_t n, uint32_t t, const cx_pubkey *pks, const mpc_evidence *ev,
                           uint32_t c) {
  size_t count = ev->count;
  if (count == 0 || count > (size_t)pieces(audit_max(n)) + 1) return CX_E_INVALID_ARG;
  mpc_msg *ms = calloc(count, sizeof *ms);
  const mpc_msg **cp = calloc(count, sizeof *cp);
  audit_view *v = calloc(1, sizeof *v);
  uint8_t *blob = NULL;
  size_t blen = 0, need = 0, at = 0;
  cx_err e = ms && cp && v ? CX_OK : CX_E_NOMEM;
  for (size_t i = 0; i < count && e == CX_OK; i++) {
    e = ev_get(pks, ev, i, c, &ms[i]);
    cp[i] = &ms[i];
  }
  if (e != CX_OK) goto done;
  const mpc_msg *bad = ms[count - 1].round < PREP_ROUNDS ? &ms[count - 1] : NULL;
  size_t nc = count - (bad ? 1 : 0);
  e = nc ? CX_OK : CX_E_INVALID_ARG;
  for (size_t i = 0; i < count && e == CX_OK; i++) {
    if (memcmp(ms[i].session, ms[0].session, 32) != 0) e = CX_E_MPC_SESSION;
    else if (i < nc && (ms[i].round != audit0(n, t) + i || ms[i].to != MPC_TO_ALL)) e = CX_E_MPC_ROUND;
  }
  if (e != CX_OK) goto done;
  asm_rc rc = assemble(n, cp, nc, &blob, &blen, &need, &at);
  if (rc != ASM_OK) {
    e = rc == ASM_LIE ? CX_OK : rc == ASM_NOMEM ? CX_E_NOMEM : CX_E_MPC_MALFORMED;
    goto done;
  }
  if (audit_parse(n, t, pks, ms[0].session, c, blob, blen, v) != 0) {
    e = CX_OK; /* the culprit signed an audit that does not parse */
    goto done;
  }
  if (!bad) {
    e = CX_E_MPC_CHECK_FAILED;
    goto done;
  }
  mpc_session *rs = NULL;
  e = replay_party(n, t, pks, ms[0].session, c, v, &rs);
  if (e == CX_OK) e = replay_has(rs, bad) ? CX_E_MPC_CHECK_FAILED : CX_OK;
  mpc_session_free(rs);
done:
  if (blob) {
    sodium_memzero(blob, blen);
    free(blob);
  }
  free(ms);
  free(cp);
  free(v);
  return e;
}

/* MPC_EV_MALFORMED for a prep message: proven when the payload is wrong
 * whatever the batch size (which a third party does not know). PRSS: round
 * 0 carries exactly the keys its sender deals to its recipient, round 1
 * the key digests of its sender and whole canonical elements, round 2
 * whole canonical elements. Dealers: rounds 0 and 1 must be whole
 * canonical elements after their 32-byte prefix, round 2 exactly two. The
 * verdict has a fixed size (under PRSS its w canonical); chunk 0 of an
 * audit must declare a possible length and carry the piece it implies, any
 * other audit chunk must fit a piece. Echo messages and relay links are
 * never proven malformed: honest parties ignore bad ones rather than name
 * their senders. */
static cx_err verify_malformed(uint32_t n, uint32_t t, const cx_pubkey *pks, const mpc_evidence *ev,
                               uint32_t c) {
  if (ev->count != 1) return CX_E_INVALID_ARG;
  mpc_msg m;
  cx_err e = ev_get(pks, ev, 0, c, &m);
  if (e != CX_OK) return e;
  int prss = prss_mode(n, t);
  uint32_t a0 = audit0(n, t);
  if (prss && m.round == R_DEAL) {
    if (m.to >= n || m.to == m.from) return CX_OK;
    return m.len != 32 * (size_t)keys_between(n, t, m.from, m.to) ? CX_OK : CX_E_MPC_CHECK_FAILED;
  }
  if (m.round < R_VERDICT) {
    size_t pre = m.round > R_MULT ? 0 : prss ? 32 * (size_t)binom(n - 1, t) : COIN_BYTES;
    if (m.len < pre || (m.len - pre) % FE_BYTES) return CX_OK;
    size_t cnt = (m.len - pre) / FE_BYTES;
    if (!prss && m.round == R_OPEN && cnt != OPEN_ITEMS) return CX_OK;
    for (size_t i = 0; i < cnt; i++) {
      fe x;
      if (fe_decode(m.payload + pre + i * FE_BYTES, &x) != 0) return CX_OK;
    }
    return CX_E_MPC_CHECK_FAILED;
  }
  if (m.round == R_VERDICT) {
    fe w;
    if (m.len != verdict_len(prss) || m.payload[0] > 1) return CX_OK;
    return prss && fe_decode(m.payload + VERDICT_BYTES, &w) != 0 ? CX_OK : CX_E_MPC_CHECK_FAILED;
  }
  if (m.round < a0) return CX_E_MPC_CHECK_FAILED; /* echo rounds */
  if (m.round >= LINK_ROUND0 && m.round - LINK_ROUND0 < 2 * n) return CX_E_MPC_CHECK_FAILED;
  if (m.round - a0 < pieces(audit_max(n))) {
    uint64_t L;
    if (m.to != MPC_TO_ALL) return CX_OK;
    if (m.round == a0) return chunk0_ok(n, m.payload, m.len, &L) ? CX_E_MPC_CHECK_FAILED : CX_OK;
    return m.len <= chunk_bytes() ? CX_E_MPC_CHECK_FAILED : CX_OK;
  }
  return CX_OK; /* no such round: an honest party never signs one */
}

cx_err prep_audit_verify(uint32_t n, uint32_t t, const cx_pubkey *pubkeys, const mpc_evidence *ev) {
  if (!pubkeys || !ev || n == 0 || n > MPC_MAX_N || (uint64_t)n < 3 * (uint64_t)t + 1)
    return CX_E_INVALID_ARG;
  if (ev->culprit < 0 || (uint32_t)ev->culprit >= n) return CX_E_INVALID_ARG;
  uint32_t c = (uint32_t)ev->culprit;
  switch (ev->type) {
  case MPC_EV_COIN: /* dealer mode only: PRSS has no coin */
    return ev->count == 2 && !prss_mode(n, t) ? verify_coin(pubkeys, ev, c) : CX_E_INVALID_ARG;
  case MPC_EV_AUDIT: return verify_audit(n, t, pubkeys, ev, c);
  case MPC_EV_MALFORMED: return verify_malformed(n, t, pubkeys, ev, c);
  default: return CX_E_INVALID_ARG;
  }
}
