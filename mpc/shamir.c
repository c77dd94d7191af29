/* Shamir secret sharing, consistency checks, robust opening and extraction
 * (shamir.h).
 *
 * The sharings of degree <= d over the points alpha_0..alpha_{m-1} form a
 * Reed-Solomon code of length m and dimension d+1. Its dual is the
 * generalized RS code with rows (w_j alpha_j^r), r = 0..m-d-2, where
 * w_j = 1 / prod_{i != j} (alpha_j - alpha_i): for any g of degree <= m-2,
 * sum_j w_j g(alpha_j) is the x^(m-1) coefficient of g's interpolation, i.e.
 * 0 (MacWilliams–Sloane, ch. 10 §8). So n shares lie on one polynomial of
 * degree <= d iff all n-d-1 parity checks vanish: (n-d-1)*n multiplications
 * per item, no interpolation, no allocation. Items that fail are decoded by
 * Berlekamp–Welch (Gemmell–Sudan 1992), with a cache of the parties already
 * found wrong so that a party corrupting every item of a batch costs a
 * second parity check per item, not a linear solve.
 *
 * Speed: with alpha_j = j + 1 the all-present paths, which carry all the
 * traffic, need no field matrix at all. The check and the opening use
 * finite differences (additions only; "finite differences" below), and the
 * extraction matrix (j+1)^i has small integer entries, so a product costs
 * two 64x64 multiplications and a row one reduction ("small-integer rows").
 * The field rows remain for subsets of parties (erasures, Berlekamp–Welch
 * shortcuts) and for extraction when n is too large for integer rows. */
#include "shamir.h"

#include <stdlib.h>
#include <string.h>

/* ---- small helpers ----------------------------------------------------- */

static uint64_t all_mask(uint32_t n) { return n >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << n) - 1; }

static uint32_t mask_list(uint64_t mask, uint32_t n, uint32_t *idx) {
  uint32_t m = 0;
  for (uint32_t j = 0; j < n; j++)
    if (mask >> j & 1) idx[m++] = j;
  return m;
}

static fe horner(const fe *c, uint32_t ncoef, fe x) {
  fe v = 0;
  for (uint32_t i = ncoef; i-- > 0;) v = fe_add(fe_mul(v, x), c[i]);
  return v;
}

/* Lagrange coefficients at x over the points alpha[idx[0..cnt)). */
static void lagrange_idx(const fe *alpha, const uint32_t *idx, uint32_t cnt, fe x, fe *lam) {
  fe den[MPC_MAX_N], scratch[MPC_MAX_N];
  for (uint32_t j = 0; j < cnt; j++) {
    fe num = 1, d = 1;
    fe aj = alpha[idx[j]];
    for (uint32_t i = 0; i < cnt; i++) {
      if (i == j) continue;
      num = fe_mul(num, fe_sub(x, alpha[idx[i]]));
      d = fe_mul(d, fe_sub(aj, alpha[idx[i]]));
    }
    lam[j] = num;
    den[j] = d; /* nonzero: the points are distinct */
  }
  fe_batch_inv(den, cnt, scratch);
  for (uint32_t j = 0; j < cnt; j++) lam[j] = fe_mul(lam[j], den[j]);
}

/* The m-deg-1 parity-check rows (w_j alpha_j^r) of the points idx[0..m),
 * row-major, m columns (module comment). */
static void dual_rows(const fe *alpha, const uint32_t *idx, uint32_t m, uint32_t deg, fe *h) {
  if (m < deg + 2) return; /* no checks: any m <= deg+1 points fit */
  fe w[MPC_MAX_N], scratch[MPC_MAX_N];
  for (uint32_t j = 0; j < m; j++) {
    fe d = 1;
    for (uint32_t i = 0; i < m; i++)
      if (i != j) d = fe_mul(d, fe_sub(alpha[idx[j]], alpha[idx[i]]));
    w[j] = d;
  }
  fe_batch_inv(w, m, scratch);
  uint32_t rows = m - deg - 1;
  for (uint32_t j = 0; j < m; j++) {
    fe v = w[j];
    for (uint32_t r = 0; r < rows; r++) {
      h[(size_t)r * m + j] = v;
      v = fe_mul(v, alpha[idx[j]]);
    }
  }
}

/* ---- small-integer rows ------------------------------------------------ */

/* A row of nonnegative integers is usable if its sum is below this: icomb's
 * accumulators then cannot overflow (bounds there). Extraction rows
 * (j+1)^i, i < n - t, fit for n <= 15 at any t, n <= 20 at t = (n-1)/3;
 * beyond, the field rows. */
#define IROW_MAX ((uint64_t)1 << 60)

/* a * b, or IROW_MAX if that is >= IROW_MAX (the row is then unusable). */
static uint64_t sat_mul(uint64_t a, uint64_t b) {
  unsigned __int128 v = (unsigned __int128)a * b;
  return v >= IROW_MAX ? IROW_MAX : (uint64_t)v;
}

/* sum_j c[j] * y_j mod p, canonical, for m values split into 64-bit halves
 * (lo, hi) and integers with sum c[j] < IROW_MAX. */
static fe icomb(const uint64_t *c, const uint64_t *lo, const uint64_t *hi, uint32_t m) {
#if MPC_FIELD_BITS == 127
  /* sl < 2^60 * 2^64 = 2^124 and sh < 2^60 * 2^63 = 2^123: no overflow.
   * Their value sl + sh * 2^64 = sl + (sh mod 2^63) * 2^64 + (sh >> 63)
   * (mod p, as 2^127 = 1), a sum < 2^124 + 2^127 + 2^60 < 2^128. */
  unsigned __int128 sl = 0, sh = 0;
  for (uint32_t j = 0; j < m; j++) {
    sl += (unsigned __int128)c[j] * lo[j];
    sh += (unsigned __int128)c[j] * hi[j];
  }
  fe x = sl + ((sh & (((fe)1 << 63) - 1)) << 64) + (sh >> 63);
  return fe_reduce_once((x & FE_P) + (x >> 127)); /* <= 2^127 = p + 1 */
#else
  /* toy fields: y < 2^61, so the sum is < 2^121 */
  (void)hi;
  unsigned __int128 acc = 0;
  for (uint32_t j = 0; j < m; j++) acc += (unsigned __int128)c[j] * lo[j];
  return acc % FE_P;
#endif
}

/* ---- finite differences (the all-present fast path) -------------------- */

/* With every party present the points are 1..n, consecutive integers, and
 * no matrix is needed: n values lie on one polynomial of degree <= d iff
 * their d-th finite differences are all equal (the (d+1)-th vanish; the
 * n - d - 1 shifted (d+1)-th differences are independent, so they span the
 * same dual code as the rows of the module comment), and then Newton's
 * forward formula at x = 0 gives the secret:
 *   f(1 + s) = sum_i C(s, i) Delta^i f(1), so f(0) = sum_i (-1)^i Delta^i y_0.
 * Cost: sum_{l=1..d} (n - l) field subtractions and n - d - 1 comparisons,
 * no multiplication (n = 4, t = 1: 3 subtractions and 2 comparisons). */
static inline __attribute__((always_inline)) int diff_item_k(const fe *const *sh, size_t k, uint32_t n,
                                                            uint32_t deg, fe *secret) {
  fe y[MPC_MAX_N];
  y[0] = sh[0][k]; /* n >= 1 */
  for (uint32_t j = 1; j < n; j++) y[j] = sh[j][k];
  fe sec = y[0];
  for (uint32_t l = 1; l <= deg; l++) { /* y[0..n-l) := level l */
    for (uint32_t i = 0; i + l < n; i++) y[i] = fe_sub(y[i + 1], y[i]);
    sec = l & 1 ? fe_sub(sec, y[0]) : fe_add(sec, y[0]);
  }
  fe diff = 0; /* canonical values: equal iff equal as integers */
  for (uint32_t i = 0; i + deg + 1 < n; i++) diff |= y[i] ^ y[i + 1];
  if (diff) return -1;
  *secret = sec;
  return 0;
}

static int diff_item_any(const fe *const *sh, size_t k, uint32_t n, uint32_t deg, fe *secret) {
  return diff_item_k(sh, k, n, deg, secret);
}

/* 0 and *secret if item k of all n parties' vectors lies on one polynomial
 * of degree <= deg; -1 otherwise. n = 4 (t = 1) and n = 7 (t = 2) at
 * degrees t and 2t, the configurations deployments use, get constant loop
 * bounds (unrolled). */
static int diff_item(const fe *const *sh, size_t k, uint32_t n, uint32_t deg, fe *secret) {
  switch (n << 8 | deg) {
  case 4 << 8 | 1: return diff_item_k(sh, k, 4, 1, secret);
  case 4 << 8 | 2: return diff_item_k(sh, k, 4, 2, secret);
  case 7 << 8 | 2: return diff_item_k(sh, k, 7, 2, secret);
  case 7 << 8 | 4: return diff_item_k(sh, k, 7, 4, secret);
  default: return diff_item_any(sh, k, n, deg, secret);
  }
}

/* v * c for a small integer c (c < 2^32, here a point j + 1): two 64x64
 * multiplications and one fold, as in icomb. */
static fe fe_mul_small(fe v, uint64_t c) {
#if MPC_FIELD_BITS == 127
  unsigned __int128 l = (unsigned __int128)c * (uint64_t)v, h = (unsigned __int128)c * (uint64_t)(v >> 64);
  fe x = l + ((h & (((fe)1 << 63) - 1)) << 64) + (h >> 63); /* < 2^96 + 2^127 + 2^32 */
  return fe_reduce_once((x & FE_P) + (x >> 127));
#else
  return fe_mul(v, fe_from_u64(c));
#endif
}

/* ---- init -------------------------------------------------------------- */

cx_err shamir_init(mpc_shamir *s, uint32_t n, uint32_t t) {
  memset(s, 0, sizeof *s);
  if (n < 1 || n > MPC_MAX_N || (uint64_t)n < 3 * (uint64_t)t + 1) return CX_E_INVALID_ARG;
  s->n = n;
  s->t = t;
  uint32_t idx[MPC_MAX_N];
  for (uint32_t j = 0; j < n; j++) {
    s->alpha[j] = (fe)j + 1;
    idx[j] = j;
  }
  /* lag0_* and chk_* as shamir.h describes them. The all-present check
   * and opening no longer read them (finite differences need nothing
   * precomputed); they remain the reference the header promises. */
  lagrange_idx(s->alpha, idx, t + 1, 0, s->lag0_t);
  lagrange_idx(s->alpha, idx, 2 * t + 1, 0, s->lag0_2t);
  /* +1: malloc(0) may be NULL; the t = 0, n = 1 corner has no checks.
   * ext layout: the field matrix M[(n-t) * n], then one fe that is 1 if
   * the integer rows are usable, then those rows as (n-t) * n uint64_t. */
  size_t en = (size_t)(n - t) * n;
  s->chk_t = malloc(((size_t)(n - t - 1) * n + 1) * sizeof(fe));
  s->chk_2t = malloc(((size_t)(n - 2 * t - 1) * n + 1) * sizeof(fe));
  s->ext = malloc((en + 1 + (en + 1) / 2) * sizeof(fe));
  if (!s->chk_t || !s->chk_2t || !s->ext) {
    shamir_free(s);
    return CX_E_NOMEM;
  }
  dual_rows(s->alpha, idx, n, t, s->chk_t);
  dual_rows(s->alpha, idx, n, 2 * t, s->chk_2t);
  /* Damgård–Nielsen 2007 §3 with beta_j = j + 1: M[i][j] = beta_j^i */
  uint64_t *ie = (uint64_t *)(void *)(s->ext + en + 1);
  int ok = 1;
  for (uint32_t i = 0; i < n - t; i++) {
    uint64_t sum = 0;
    for (uint32_t j = 0; j < n; j++) {
      uint64_t v = 1;
      for (uint32_t e = 0; e < i; e++) v = sat_mul(v, j + 1);
      ie[(size_t)i * n + j] = v;
      sum = sum + v >= IROW_MAX ? IROW_MAX : sum + v;
    }
    if (sum >= IROW_MAX) ok = 0;
  }
  for (uint32_t j = 0; j < n; j++) {
    fe v = 1;
    for (uint32_t i = 0; i < n - t; i++) {
      s->ext[(size_t)i * n + j] = v;
      if (ok) CX_ASSERT(fe_from_u64(ie[(size_t)i * n + j]) == v);
      v = fe_mul(v, (fe)j + 1);
    }
  }
  s->ext[en] = ok;
  return CX_OK;
}

void shamir_free(mpc_shamir *s) {
  free(s->chk_t);
  free(s->chk_2t);
  free(s->ext);
  s->chk_t = s->chk_2t = s->ext = NULL;
}

/* ---- share, Lagrange --------------------------------------------------- */

void shamir_share(const mpc_shamir *s, fe secret, uint32_t deg, const fe *coef, fe *shares) {
  for (uint32_t j = 0; j < s->n; j++) {
    fe x = s->alpha[j], v = 0;
    for (uint32_t i = deg; i-- > 0;) v = fe_mul_small(fe_add(v, coef[i]), (uint64_t)x); /* x = j + 1 */
    shares[j] = fe_add(v, secret);
  }
}

cx_err shamir_lagrange(const mpc_shamir *s, uint64_t mask, uint32_t deg, fe x, fe *lam) {
  uint32_t idx[MPC_MAX_N];
  uint32_t m = mask_list(mask & all_mask(s->n), s->n, idx);
  if (m < deg + 1) return CX_E_INVALID_ARG;
  fe l[MPC_MAX_N];
  lagrange_idx(s->alpha, idx, deg + 1, x, l);
  memset(lam, 0, s->n * sizeof(fe));
  for (uint32_t j = 0; j <= deg; j++) lam[idx[j]] = l[j];
  return CX_OK;
}

/* ---- the parity-check fast path ---------------------------------------- */

/* Everything needed to check and open items over one set of parties. */
typedef struct {
  uint32_t m, rows, nlag;
  uint32_t idx[MPC_MAX_N];
  const fe *h;           /* rows x m parity checks */
  fe lag[MPC_MAX_N];     /* value at 0 from the points idx[0..nlag) */
} checker;

typedef struct {
  checker c;
  fe h[MPC_MAX_N * MPC_MAX_N];
} checker_buf;

/* A checker over the parties in `use` (at least deg + 1 of them). */
static void checker_build(checker_buf *b, const mpc_shamir *s, uint64_t use, uint32_t deg) {
  checker *c = &b->c;
  c->m = mask_list(use, s->n, c->idx);
  c->rows = c->m - deg - 1;
  c->nlag = deg + 1;
  dual_rows(s->alpha, c->idx, c->m, deg, b->h);
  c->h = b->h;
  lagrange_idx(s->alpha, c->idx, c->nlag, 0, c->lag);
}

static fe dot(const fe *a, const fe *y, uint32_t m) {
  fe acc = 0;
  for (uint32_t j = 0; j < m; j++) acc = fe_add(acc, fe_mul(a[j], y[j]));
  return acc;
}

/* 0 and *secret if item k's shares from c's parties lie on one polynomial
 * of c's degree; -1 otherwise. y receives the item's shares in c's order. */
static int checker_item(const checker *c, const fe *const *sh, size_t k, fe *y, fe *secret) {
  for (uint32_t j = 0; j < c->m; j++) y[j] = sh[c->idx[j]][k];
  for (uint32_t r = 0; r < c->rows; r++)
    if (dot(c->h + (size_t)r * c->m, y, c->m)) return -1;
  *secret = dot(c->lag, y, c->nlag);
  return 0;
}

/* ---- Berlekamp–Welch --------------------------------------------------- */

/* Gauss–Jordan on rows x (cols + 1) augmented A; free variables are set to
 * 0. Returns -1 if the system is inconsistent. */
static int solve(fe A[][MPC_MAX_N + 1], uint32_t rows, uint32_t cols, fe *x) {
  uint32_t pivcol[MPC_MAX_N];
  uint32_t pr = 0;
  for (uint32_t c = 0; c < cols && pr < rows; c++) {
    uint32_t r = pr;
    while (r < rows && !A[r][c]) r++;
    if (r == rows) continue;
    if (r != pr)
      for (uint32_t k = 0; k <= cols; k++) {
        fe tmp = A[r][k];
        A[r][k] = A[pr][k];
        A[pr][k] = tmp;
      }
    fe inv = fe_inv(A[pr][c]);
    for (uint32_t k = c; k <= cols; k++) A[pr][k] = fe_mul(A[pr][k], inv);
    for (uint32_t i = 0; i < rows; i++) {
      if (i == pr || !A[i][c]) continue;
      fe f = A[i][c];
      for (uint32_t k = c; k <= cols; k++) A[i][k] = fe_sub(A[i][k], fe_mul(f, A[pr][k]));
    }
    pivcol[pr++] = c;
  }
  for (uint32_t i = pr; i < rows; i++)
    if (A[i][cols]) return -1; /* 0 = nonzero */
  memset(x, 0, cols * sizeof(fe));
  for (uint32_t i = 0; i < pr; i++) x[pivcol[i]] = A[i][cols];
  return 0;
}

int shamir_bw_decode(const mpc_shamir *s, const fe *y, uint64_t mask, uint32_t deg, uint32_t max_err,
                     fe *secret, uint64_t *errmask) {
  uint32_t idx[MPC_MAX_N];
  uint32_t m = mask_list(mask & all_mask(s->n), s->n, idx);
  if (m < deg + 1) return -1;
  /* Beyond (m - deg - 1) / 2 errors the decoding is not unique. */
  uint32_t e = (m - deg - 1) / 2;
  if (max_err < e) e = max_err;
  /* Unknowns: Q = q_0..q_{deg+e} and the error locator E = x^e + e_0..e_{e-1};
   * for each point Q(a) - y E_low(a) = y a^e. If at most e points are
   * wrong, every solution has Q = P E with P the sharing polynomial
   * (Gemmell–Sudan 1992, since m >= deg + 2e + 1). */
  uint32_t nq = deg + e + 1, cols = nq + e;
  fe A[MPC_MAX_N][MPC_MAX_N + 1];
  for (uint32_t r = 0; r < m; r++) {
    fe a = s->alpha[idx[r]], yv = y[idx[r]], p = 1;
    for (uint32_t i = 0; i < nq; i++) {
      if (i < e) A[r][nq + i] = fe_neg(fe_mul(yv, p));
      if (i == e) A[r][cols] = fe_mul(yv, p);
      A[r][i] = p;
      p = fe_mul(p, a);
    }
  }
  fe x[2 * MPC_MAX_N];
  if (solve(A, m, cols, x)) return -1;
  /* P = Q / E by long division; a remainder means too many errors. */
  fe q[MPC_MAX_N + 1], pcoef[MPC_MAX_N];
  memcpy(q, x, nq * sizeof(fe));
  for (uint32_t d = nq; d-- > e;) {
    fe c = q[d];
    pcoef[d - e] = c;
    q[d] = 0;
    for (uint32_t l = 0; l < e; l++) q[d - e + l] = fe_sub(q[d - e + l], fe_mul(c, x[nq + l]));
  }
  for (uint32_t l = 0; l < e; l++)
    if (q[l]) return -1;
  uint64_t em = 0;
  uint32_t nerr = 0;
  for (uint32_t r = 0; r < m; r++)
    if (horner(pcoef, deg + 1, s->alpha[idx[r]]) != y[idx[r]]) {
      em |= (uint64_t)1 << idx[r];
      nerr++;
    }
  if (nerr > e) return -1;
  *secret = pcoef[0];
  *errmask = em;
  return 0;
}

/* ---- detect-only and robust openings ----------------------------------- */

int shamir_check(const mpc_shamir *s, uint32_t deg, const fe *const *sh, size_t count, fe *out,
                 size_t *bad_item) {
  CX_ASSERT(deg < s->n);
  for (uint32_t j = 0; j < s->n; j++) CX_ASSERT(sh[j] != NULL);
  for (size_t k = 0; k < count; k++)
    if (diff_item(sh, k, s->n, deg, &out[k])) {
      *bad_item = k;
      return -1;
    }
  return 0;
}


/* State of one shamir_open call. */
typedef struct {
  const mpc_shamir *s;
  uint64_t present;
  uint32_t maxerr;
  checker_buf *base_buf; /* erasures: a checker over the present parties */
  checker_buf *red;      /* parties known wrong excluded (see decode_slow) */
  uint64_t red_excl;
  int red_ok;
} opener;

/* An item that failed the parity check. First try the checker without the
 * parties already found wrong in this batch: if the rest is consistent, at
 * most |excluded| <= maxerr points are off it, so it is the unique codeword
 * within the decoding radius, i.e. exactly what Berlekamp–Welch would find.
 * The points off it are among the excluded parties, all already in *wrong,
 * so *em is left 0 (nothing new to report). Otherwise run Berlekamp–Welch
 * and grow the excluded set. */
static int decode_slow(opener *o, const fe *const *sh, size_t k, fe *secret, uint64_t *em) {
  const mpc_shamir *s = o->s;
  fe y[MPC_MAX_N];
  *em = 0;
  if (o->red_ok && checker_item(&o->red->c, sh, k, y, secret) == 0) return 0;
  fe yall[MPC_MAX_N] = {0};
  for (uint32_t j = 0; j < s->n; j++)
    if (o->present >> j & 1) yall[j] = sh[j][k];
  if (shamir_bw_decode(s, yall, o->present, s->t, o->maxerr, secret, em)) return -1;
  uint64_t excl = o->red_excl | *em;
  /* allocated on first use: most openings never get here; NULL (out of
   * memory) only means Berlekamp–Welch for every failing item */
  if (!o->red && o->maxerr > 0) o->red = malloc(sizeof *o->red);
  if (o->red && excl != o->red_excl && (uint32_t)__builtin_popcountll(excl) <= o->maxerr) {
    checker_build(o->red, s, o->present & ~excl, s->t);
    o->red_excl = excl;
    o->red_ok = 1;
  }
  return 0;
}

int shamir_open(const mpc_shamir *s, const fe *const *sh, size_t count, fe *out, uint64_t *wrong,
                size_t *first_wrong_item) {
  *wrong = 0;
  *first_wrong_item = SIZE_MAX;
  if (!count) return 0;
  opener o = {.s = s};
  for (uint32_t j = 0; j < s->n; j++)
    if (sh[j]) o.present |= (uint64_t)1 << j;
  uint32_t m = (uint32_t)__builtin_popcountll(o.present);
  if (m < s->t + 1) {
    *first_wrong_item = 0;
    return -1;
  }
  o.maxerr = (m - s->t - 1) / 2;
  /* all present: finite differences; erasures: a checker over the present
   * parties (NULL if out of memory: Berlekamp–Welch for every item) */
  const checker *base = NULL;
  if (m < s->n && (o.base_buf = malloc(sizeof *o.base_buf)) != NULL) {
    checker_build(o.base_buf, s, o.present, s->t);
    base = &o.base_buf->c;
  }
  int rc = 0;
  fe y[MPC_MAX_N];
  for (size_t k = 0; k < count; k++) {
    if (m == s->n ? diff_item(sh, k, s->n, s->t, &out[k]) == 0 : base && checker_item(base, sh, k, y, &out[k]) == 0)
      continue;
    uint64_t em = 0;
    if (decode_slow(&o, sh, k, &out[k], &em)) {
      *first_wrong_item = k;
      rc = -1;
      break;
    }
    if (em) {
      *wrong |= em;
      if (*first_wrong_item == SIZE_MAX) *first_wrong_item = k;
    }
  }
  free(o.base_buf);
  free(o.red);
  return rc;
}

/* ---- extraction -------------------------------------------------------- */

void shamir_extract(const mpc_shamir *s, const fe *in, size_t in_stride, fe *out, size_t out_stride) {
  uint32_t n = s->n;
  size_t en = (size_t)(n - s->t) * n;
  if (s->ext[en] == 1) {
    const uint64_t *ie = (const uint64_t *)(const void *)(s->ext + en + 1); /* layout: shamir_init */
    uint64_t lo[MPC_MAX_N], hi[MPC_MAX_N];
    for (uint32_t j = 0; j < n; j++) {
      fe y = in[j * in_stride];
      lo[j] = (uint64_t)y;
      hi[j] = (uint64_t)(y >> 64);
    }
    for (uint32_t i = 0; i < n - s->t; i++) out[i * out_stride] = icomb(ie + (size_t)i * n, lo, hi, n);
    return;
  }
  fe x[MPC_MAX_N];
  for (uint32_t j = 0; j < n; j++) x[j] = in[j * in_stride];
  for (uint32_t i = 0; i < n - s->t; i++) out[i * out_stride] = dot(s->ext + (size_t)i * n, x, n);
}
