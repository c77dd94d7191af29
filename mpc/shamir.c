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
 * second parity check per item, not a linear solve. */
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
  lagrange_idx(s->alpha, idx, t + 1, 0, s->lag0_t);
  lagrange_idx(s->alpha, idx, 2 * t + 1, 0, s->lag0_2t);
  /* +1: malloc(0) may be NULL; the t = 0, n = 1 corner has no checks */
  s->chk_t = malloc(((size_t)(n - t - 1) * n + 1) * sizeof(fe));
  s->chk_2t = malloc(((size_t)(n - 2 * t - 1) * n + 1) * sizeof(fe));
  s->ext = malloc((size_t)(n - t) * n * sizeof(fe));
  if (!s->chk_t || !s->chk_2t || !s->ext) {
    shamir_free(s);
    return CX_E_NOMEM;
  }
  dual_rows(s->alpha, idx, n, t, s->chk_t);
  dual_rows(s->alpha, idx, n, 2 * t, s->chk_2t);
  /* Damgård–Nielsen 2007 §3 with beta_j = j + 1: M[i][j] = beta_j^i */
  for (uint32_t j = 0; j < n; j++) {
    fe v = 1;
    for (uint32_t i = 0; i < n - t; i++) {
      s->ext[(size_t)i * n + j] = v;
      v = fe_mul(v, (fe)j + 1);
    }
  }
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
    for (uint32_t i = deg; i-- > 0;) v = fe_mul(fe_add(v, coef[i]), x);
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

/* The precomputed all-present checker for degree t or 2t. */
static void checker_init_pre(checker *c, const mpc_shamir *s, uint32_t deg) {
  c->m = s->n;
  c->rows = s->n - deg - 1;
  c->nlag = deg + 1;
  for (uint32_t j = 0; j < s->n; j++) c->idx[j] = j;
  c->h = deg == s->t ? s->chk_t : s->chk_2t;
  memcpy(c->lag, deg == s->t ? s->lag0_t : s->lag0_2t, c->nlag * sizeof(fe));
}

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

static int check_general(const mpc_shamir *s, uint32_t deg, const fe *const *sh, size_t count, fe *out,
                         size_t *bad_item) {
  checker_buf *b = malloc(sizeof *b);
  fe y[MPC_MAX_N];
  uint64_t em;
  for (size_t k = 0; k < count; k++) {
    int bad;
    if (b) {
      if (k == 0) checker_build(b, s, all_mask(s->n), deg);
      bad = checker_item(&b->c, sh, k, y, &out[k]);
    } else { /* out of memory: BW with no errors allowed is the same test */
      for (uint32_t j = 0; j < s->n; j++) y[j] = sh[j][k];
      bad = shamir_bw_decode(s, y, all_mask(s->n), deg, 0, &out[k], &em);
    }
    if (bad) {
      *bad_item = k;
      free(b);
      return -1;
    }
  }
  free(b);
  return 0;
}

int shamir_check(const mpc_shamir *s, uint32_t deg, const fe *const *sh, size_t count, fe *out,
                 size_t *bad_item) {
  CX_ASSERT(deg < s->n);
  for (uint32_t j = 0; j < s->n; j++) CX_ASSERT(sh[j] != NULL);
  if (deg != s->t && deg != 2 * s->t) return check_general(s, deg, sh, count, out, bad_item);
  checker c;
  checker_init_pre(&c, s, deg);
  fe y[MPC_MAX_N];
  for (size_t k = 0; k < count; k++)
    if (checker_item(&c, sh, k, y, &out[k])) {
      *bad_item = k;
      return -1;
    }
  return 0;
}

static int popcount64(uint64_t v) { return __builtin_popcountll(v); }

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
  if (o->red && excl != o->red_excl && (uint32_t)popcount64(excl) <= o->maxerr) {
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
  uint32_t m = (uint32_t)popcount64(o.present);
  if (m < s->t + 1) {
    *first_wrong_item = 0;
    return -1;
  }
  o.maxerr = (m - s->t - 1) / 2;
  checker pre;
  const checker *base = NULL;
  if (m == s->n) {
    checker_init_pre(&pre, s, s->t);
    base = &pre;
  } else if ((o.base_buf = malloc(sizeof *o.base_buf)) != NULL) {
    checker_build(o.base_buf, s, o.present, s->t);
    base = &o.base_buf->c;
  }
  int rc = 0;
  fe y[MPC_MAX_N];
  for (size_t k = 0; k < count; k++) {
    if (base && checker_item(base, sh, k, y, &out[k]) == 0) continue;
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
  fe x[MPC_MAX_N];
  for (uint32_t j = 0; j < n; j++) x[j] = in[j * in_stride];
  for (uint32_t i = 0; i < n - s->t; i++) out[i * out_stride] = dot(s->ext + (size_t)i * n, x, n);
}
