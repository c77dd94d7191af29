/* Shamir secret sharing over the MPC field (internal to mpc/).
 *
 * Party i (0-based) holds the evaluation of the sharing polynomial at
 * alpha_i = i + 1. A sharing "of degree d" is n such evaluations of one
 * polynomial of degree <= d; its secret is the value at 0. With n >= 3t+1:
 *   - degree t: up to t wrong shares are corrected (Berlekamp–Welch, since
 *     n >= t + 1 + 2t) and the senders identified;
 *   - degree 2t: up to t wrong shares are detected (n >= 2t + 1 + t), not
 *     corrected.
 * Batch layout everywhere: sh[j] points to party j's vector of count shares,
 * one per item; sh[j] == NULL means party j's vector is missing (erasure).
 * References: Shamir 1979; Berlekamp–Welch (US patent 4,633,470), as in
 * Gemmell–Sudan 1992; Damgård–Nielsen 2007 §3 for the Vandermonde extraction. */
#ifndef CUSTOS_MPC_SHAMIR_H
#define CUSTOS_MPC_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "field.h"

#define MPC_MAX_N 64 /* party masks are uint64_t */

typedef struct {
  uint32_t n, t;
  fe alpha[MPC_MAX_N];
  /* Precomputed (by shamir_init) for the all-present case: Lagrange
   * coefficients at 0 over the first d+1 parties for d = t and d = 2t, and
   * parity-check rows (the dual code) used to test that n shares lie on one
   * polynomial of degree t or 2t without interpolating. Layout is the
   * implementation's; callers use the functions below. */
  fe lag0_t[MPC_MAX_N], lag0_2t[MPC_MAX_N];
  fe *chk_t, *chk_2t; /* (n - d - 1) x n each, malloc'd */
  fe *ext;            /* (n - t) x n extraction matrix (shamir_extract), malloc'd */
} mpc_shamir;

/* CX_E_INVALID_ARG unless 1 <= n <= MPC_MAX_N and n >= 3t + 1. */
cx_err shamir_init(mpc_shamir *s, uint32_t n, uint32_t t);
void shamir_free(mpc_shamir *s);

/* shares[0..n) of the polynomial secret + c[0] x + ... + c[deg-1] x^deg. */
void shamir_share(const mpc_shamir *s, fe secret, uint32_t deg, const fe *coef, fe *shares);

/* Lagrange coefficients lam[0..n) such that sum lam[j] * y_j = f(x) for every
 * polynomial f of degree <= deg, using only the parties in mask (which must
 * hold at least deg + 1 parties; parties beyond the first deg + 1 in the mask
 * get coefficient 0). CX_E_INVALID_ARG if the mask is too small. */
cx_err shamir_lagrange(const mpc_shamir *s, uint64_t mask, uint32_t deg, fe x, fe *lam);

/* Detect-only opening of count sharings of degree deg from all n parties
 * (no NULLs): out[k] = secret of item k. Returns 0 if every item's n shares
 * lie on one polynomial of degree <= deg; else -1 with *bad_item = the first
 * inconsistent item (out is then unspecified). */
int shamir_check(const mpc_shamir *s, uint32_t deg, const fe *const *sh, size_t count, fe *out,
                 size_t *bad_item);

/* Robust opening of count degree-t sharings with erasures (NULL vectors) and
 * errors: out[k] = secret. Fast path: the parity check; an item that fails it
 * is decoded with Berlekamp–Welch. Returns 0 if every item decoded; *wrong
 * gets a bit j for each party that sent a share off the decoded polynomial
 * of some item (these parties are provably faulty when at most t parties
 * are), *first_wrong_item the first such item (SIZE_MAX if none). Returns -1
 * if some item cannot be decoded (more errors than the present parties
 * allow: with e erasures, correctable errors are (n - e - t - 1) / 2), with
 * *first_wrong_item = that item. */
int shamir_open(const mpc_shamir *s, const fe *const *sh, size_t count, fe *out, uint64_t *wrong,
                size_t *first_wrong_item);

/* Berlekamp–Welch for one item: points (alpha_j, y[j]) for j in mask,
 * degree <= deg, at most max_err errors. Returns 0 and *secret, *errmask
 * (parties whose point is off the polynomial) on success; -1 if no
 * polynomial of degree <= deg agrees with all but max_err points. */
int shamir_bw_decode(const mpc_shamir *s, const fe *y, uint64_t mask, uint32_t deg, uint32_t max_err,
                     fe *secret, uint64_t *errmask);

/* Vandermonde extraction (Damgård–Nielsen 2007 §3, with a Vandermonde
 * matrix: every square submatrix of it is invertible): from n sharings, one
 * dealt by each party, m = n - t outputs out[i] = sum_j M[i][j] in[j] with
 * M[i][j] = beta_j^i for fixed distinct beta. If at least n - t inputs are
 * uniform and unknown to the adversary, all m outputs are. Linear, so it is
 * applied share-wise to a party's shares. in[j] is party j's dealt value;
 * stride lets callers pass one item of a batch layout. */
void shamir_extract(const mpc_shamir *s, const fe *in, size_t in_stride, fe *out, size_t out_stride);

#endif
