/* Reconstruction by a reader that is not a party (mpc.h "reconstruction by
 * a reader"): the caller of a contract rebuilds a private result's mask
 * from the shares every party handed it (docs/contract-language.md
 * "Private outputs").
 *
 * The reader has no session, no signed messages and no say in the run: it
 * only holds n vectors of shares, some of them possibly wrong (a corrupt
 * party lies to the reader) or missing (a party that never answered). With
 * n >= 3t + 1 and degree-t sharings, the shares are a Reed–Solomon codeword,
 * so Berlekamp–Welch decodes every value as long as 2 (wrong) + (missing)
 * <= n - t - 1, and names the parties whose shares are off the decoded
 * polynomial (shamir_open: the parity check first, Berlekamp–Welch for an
 * item that fails it). Beyond that the values are refused, never guessed. */
#include <sodium.h>
#include <stdlib.h>

#include "mpc.h"
#include "shamir.h"

/* A vector with an element outside the field cannot come from an honest
 * party: it is wrong as a whole, and is decoded as an erasure (one missing
 * point costs the code half of what one wrong point does). */
static int canonical(const fe *v, size_t len) {
  fe bad = 0;
  for (size_t k = 0; k < len; k++) bad |= (fe)(v[k] >= FE_P);
  return bad == 0;
}

cx_err mpc_reconstruct(uint32_t n, uint32_t t, const fe *const *shares, size_t len, fe *out, uint64_t *bad) {
  if (bad) *bad = 0;
  if (!shares || (len && !out) || n == 0 || n > MPC_MAX_N || (uint64_t)n < 3 * (uint64_t)t + 1)
    return CX_E_INVALID_ARG;
  if (len == 0) return CX_OK;
  const fe *sh[MPC_MAX_N];
  uint64_t erased = 0;
  for (uint32_t j = 0; j < n; j++) {
    sh[j] = shares[j];
    if (sh[j] && !canonical(sh[j], len)) {
      sh[j] = NULL;
      erased |= (uint64_t)1 << j;
    }
  }
  mpc_shamir s;
  cx_err e = shamir_init(&s, n, t);
  if (e != CX_OK) return e;
  uint64_t wrong = 0;
  size_t first = 0;
  int rc = shamir_open(&s, sh, len, out, &wrong, &first);
  shamir_free(&s);
  if (rc != 0) {
    sodium_memzero(out, len * sizeof *out); /* nothing half-decoded is left behind */
    return CX_E_MPC_CHECK_FAILED;
  }
  if (bad) *bad = wrong | erased;
  return CX_OK;
}
