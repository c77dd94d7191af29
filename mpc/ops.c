/* Integer operations of the MPC engine (docs/mpc-ops.md): comparison,
 * equality, exact truncation, floor division by a public constant,
 * selection and vector reductions, as program builders. Each one only emits
 * primitive instructions (mpc.h); nothing here touches a share.
 *
 * Protocols: Catrina and de Hoogh, "Improved Primitives for Secure
 * Multiparty Integer Computation" (SCN 2010), cited below as [CdH]:
 * Mod2m (Protocol 3.2), Trunc (Protocol 3.1 with Mod2m), LTZ = -Trunc(a, k,
 * k-1) (§3.3), EQZ (Protocol 3.7). BitLT is the carry-out of c + ~r + 1
 * evaluated by a log-depth prefix tree over (generate, propagate) pairs
 * (the carry-lookahead formulation of [CdH] §3 and Damgård, Fitzi, Kiltz,
 * Nielsen, Toft, "Unconditionally secure constant-rounds multi-party
 * computation for equality, comparison, bits and exponentiation", TCC 2006,
 * cited as [DFKNT]). The OR of many bits is 1 - EQZ(sum of the bits)
 * ([DFKNT] §5) or a product tree when that has no more rounds.
 *
 * Values are signed k-bit integers a in [-2^(k-1), 2^(k-1)) embedded with
 * fe_from_i64. Every operation is elementwise over vector registers: one
 * call on a register of length len costs the rounds of one element.
 *
 * Layout of the random bits (decision, see docs/mpc-ops.md): one RANDBIT
 * instruction of length len per bit position, so bit i of every element's
 * mask is one register. No slicing is needed, no register is longer than
 * the operands (the length cap stays the caller's), and the pool bits are
 * consumed in program order like any other material.
 *
 * Registers: a 64-bit comparison needs a few hundred temporaries. Each
 * builder call keeps a free list of its own dead temporaries and writes new
 * results into them (a register may be rewritten; a read sees the latest
 * write), so a program holds about as many registers as the peak of live
 * values, not one per instruction. A temporary is released only after the
 * MUL run that reads it has been emitted, never inside it, so no run both
 * reads and rewrites a register. Registers passed in by the caller are
 * never released or rewritten; results are always fresh or recycled
 * temporaries that the caller then owns.
 *
 * Builders cannot return an error: a bad parameter (k too large for the
 * field, d = 0, an operand whose length cannot be determined) makes the
 * program fail with a sentence saying so (mpc_prog_fail, the sticky build
 * error), so mpc_prog_check refuses the program. Operand lengths come from
 * mpc_prog_slen, which the builder keeps up to date. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mpc.h"

#define NONE UINT32_MAX
/* Bit positions never exceed the field size (k + MPC_KAPPA + 1 < bits). */
#define MAXPOS MPC_FIELD_BITS

/* ---- emission ---------------------------------------------------------- */

typedef struct {
  mpc_program *p;
  uint32_t *free; /* dead temporaries of this call, reusable as destinations */
  size_t nfree, cap;
} bld;

static void bld_init(bld *b, mpc_program *p) {
  b->p = p;
  b->free = NULL;
  b->nfree = b->cap = 0;
}
static void bld_done(bld *b) { free(b->free); }

static uint32_t sreg(bld *b) { return b->nfree ? b->free[--b->nfree] : mpc_sreg(b->p); }

/* r is dead from here on: a later instruction may overwrite it. Out of
 * memory only loses the reuse. */
static void drop(bld *b, uint32_t r) {
  if (r == NONE) return;
  if (b->nfree == b->cap) {
    size_t cap = b->cap ? 2 * b->cap : 64;
    uint32_t *v = realloc(b->free, cap * sizeof *v);
    if (!v) return;
    b->free = v;
    b->cap = cap;
  }
  b->free[b->nfree++] = r;
}

static uint32_t ins(bld *b, int pub_dst, uint16_t op, uint32_t x, uint32_t y, uint64_t imm, fe c) {
  uint32_t d = pub_dst ? mpc_preg(b->p) : sreg(b);
  mpc_ins in = {.op = op, .d = d, .a = x, .b = y, .imm = imm, .c = c};
  mpc_prog_emit(b->p, &in);
  return d;
}

/* Secret destination, two register operands (y secret or public by op). */
static uint32_t s_op(bld *b, uint16_t op, uint32_t x, uint32_t y) { return ins(b, 0, op, x, y, 0, 0); }
static uint32_t s_addc(bld *b, uint32_t x, fe c) { return ins(b, 0, MPC_OP_ADDC, x, 0, 0, c); }
static uint32_t s_mulc(bld *b, uint32_t x, fe c) { return ins(b, 0, MPC_OP_MULC, x, 0, 0, c); }
static uint32_t s_mov(bld *b, uint32_t x) { return ins(b, 0, MPC_OP_MOV, x, 0, 0, 0); }
static uint32_t s_randbit(bld *b, uint64_t len) { return ins(b, 0, MPC_OP_RANDBIT, 0, 0, len, 0); }
static uint32_t s_slice(bld *b, uint32_t x, uint64_t off, uint64_t len) {
  return ins(b, 0, MPC_OP_SLICE, x, (uint32_t)off, len, 0);
}
static uint32_t p_op(bld *b, uint16_t op, uint32_t x, uint32_t y, uint64_t imm) {
  return ins(b, 1, op, x, y, imm, 0);
}
static uint32_t p_one(bld *b) { return ins(b, 1, MPC_OP_PCONST, 0, 0, 1, 1); }

/* The "consume" variants release their operands: t = f(x, y), x and y dead. */
static uint32_t s_op_c(bld *b, uint16_t op, uint32_t x, uint32_t y) {
  uint32_t r = s_op(b, op, x, y);
  drop(b, x);
  if (y != x && op != MPC_OP_ADDP && op != MPC_OP_SUBP && op != MPC_OP_RSUBP && op != MPC_OP_MULP)
    drop(b, y);
  return r;
}
static uint32_t s_addc_c(bld *b, uint32_t x, fe c) {
  uint32_t r = s_addc(b, x, c);
  drop(b, x);
  return r;
}
static uint32_t s_mulc_c(bld *b, uint32_t x, fe c) {
  uint32_t r = s_mulc(b, x, c);
  drop(b, x);
  return r;
}
/* 1 - x (x a bit), x kept: the complement for le, ne and the OR trees. */
static uint32_t s_not(bld *b, uint32_t x) { return s_addc_c(b, s_mulc(b, x, fe_neg(1)), 1); }
static uint32_t s_not_c(bld *b, uint32_t x) {
  uint32_t r = s_not(b, x);
  drop(b, x);
  return r;
}

/* The program's sticky error (see the file comment); returns an unwritten
 * register so that callers can go on emitting. */
static uint32_t fail(bld *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static uint32_t fail(bld *b, const char *fmt, ...) {
  char why[100];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  mpc_prog_fail(b->p, "%s", why);
  return mpc_sreg(b->p);
}

static fe pow2(uint32_t e) { return ((fe)1) << e; } /* e < MPC_FIELD_BITS */
/* 2^-e: in GF(2^q - 1), 2^q = 1, so 2^-e = 2^(q-e). */
static fe pow2inv(uint32_t e) { return e ? ((fe)1) << (MPC_FIELD_BITS - e) : 1; }

static uint32_t bitlen(unsigned __int128 x) {
  uint32_t n = 0;
  while (x) {
    n++;
    x >>= 1;
  }
  return n;
}

static uint32_t ceil_log2(uint64_t x) { return x <= 1 ? 0 : bitlen((unsigned __int128)(x - 1)); }

/* The masks of Mod2m and EQZ need n + kappa + 1 bits below p. */
static int fits(uint32_t nbits) { return nbits >= 1 && nbits + MPC_KAPPA + 1 < MPC_FIELD_BITS; }
/* ... and MPC_INT_SLACK more when a bounded random integer is their
 * statistical part (rand_hi): it is below 2^(kappa + MPC_INT_SLACK). */
static int int_fits(uint32_t nbits) { return fits(nbits + MPC_INT_SLACK); }

uint32_t mpc_mask_bits(uint32_t k) { return int_fits(k) ? k : k + MPC_KAPPA; }

/* ---- static vector lengths --------------------------------------------- */

/* Every vector length in a program is fixed by immediates (INPUT, RAND,
 * RANDBIT, PCONST, SLICE, BCAST) and propagated by the rules of mpc.h, so a
 * builder can know its operands' lengths (mpc_prog_slen, O(1)), which it
 * needs for the RANDBIT instructions of the masks. */

/* Elementwise rule: a length-1 operand is repeated. */
static uint64_t len2(uint64_t x, uint64_t y) {
  if (x == 1) return y;
  if (y == 1) return x;
  return x > y ? x : y; /* unequal: a program error mpc_prog_check reports */
}

/* ---- masks and BitLT --------------------------------------------------- */

static uint32_t rand_int(bld *b, uint64_t len, uint32_t nb, uint32_t *bits);

/* The high part r'' of a mask for an nb-bit operand: an integer that is
 * uniform on [0, 2^w) to any t parties up to an offset they know, which is
 * all the hiding needs ([CdH]'s statistical argument is about the part
 * the adversary does not know). Where the field has room (int_fits(nb))
 * and w >= kappa: w - kappa pool bits and one bounded random integer
 * (mpc.h "ints"), r'' = sum_{i < w-kappa} 2^i b_i + 2^(w-kappa) I, below
 * 2^(w + MPC_INT_SLACK); else w pool bits (PRandInt of [CdH] §3.1). The
 * openings stay below p: x + 2^m r'' + r' < 2^(nb+kappa+MPC_INT_SLACK+1).
 * docs/mpc-ops.md "Bounded random integers". */
static uint32_t rand_hi(bld *b, uint64_t len, uint32_t w, uint32_t nb) {
  if (w < MPC_KAPPA || !int_fits(nb)) return rand_int(b, len, w, NULL);
  uint32_t I = ins(b, 0, MPC_OP_RANDINT, 0, 0, len, 0);
  if (w == MPC_KAPPA) return I;
  uint32_t lo = rand_int(b, len, w - MPC_KAPPA, NULL);
  return s_op_c(b, MPC_OP_ADD, lo, s_mulc_c(b, I, pow2(w - MPC_KAPPA)));
}

/* nb random bits per element, one RANDBIT register per position (kept in
 * bits[i] if bits is not NULL, else released), and the integer
 * sum_i 2^i b_i they encode, in a register of its own: PRandM of [CdH]
 * §3.1, made from pool bits. */
static uint32_t rand_int(bld *b, uint64_t len, uint32_t nb, uint32_t *bits) {
  uint32_t acc = NONE;
  for (uint32_t i = 0; i < nb; i++) {
    uint32_t r = s_randbit(b, len);
    if (bits) bits[i] = r;
    if (i == 0) {
      acc = r;
      continue;
    }
    uint32_t t = s_mulc(b, r, pow2(i)), sum = s_op(b, MPC_OP_ADD, acc, t);
    drop(b, t);
    if (!bits) {
      drop(b, r);
      drop(b, acc);
    } else if (i > 1) {
      drop(b, acc); /* from i = 2 on, acc is a sum, not a kept bit */
    }
    acc = sum;
  }
  return bits && nb == 1 ? s_mov(b, acc) : acc; /* never an alias of a kept bit */
}

/* Per position: the public bit c_i (PBIT of c) and c_i r_i (one MULP:
 * c_i is public). */
static uint32_t bit_cr(bld *b, uint32_t c, uint32_t i, uint32_t r, uint32_t *ci) {
  *ci = p_op(b, MPC_OP_PBIT, c, 0, i);
  return s_op(b, MPC_OP_MULP, r, *ci);
}

/* 1 - (c_i xor r_i) = 1 - c_i - r_i + 2 c_i r_i from cr = c_i r_i: the
 * "bits equal" bit (propagate bit of c + ~r in BitLT, factor of the product
 * in EQZ). Linear; keeps its operands. */
static uint32_t bit_eq(bld *b, uint32_t ci, uint32_t r, uint32_t cr, uint32_t one) {
  uint32_t nci = p_op(b, MPC_OP_PSUB, one, ci, 0); /* 1 - c_i */
  uint32_t x2 = s_mulc(b, cr, 2);
  uint32_t y = s_op(b, MPC_OP_SUB, x2, r); /* 2 c r - r */
  drop(b, x2);
  return s_op_c(b, MPC_OP_ADDP, y, nci);
}

/* [c >= r] for public c < 2^m and secret r = sum 2^i r_i: the carry out of
 * c + ~r + 1. Position i generates g_i = c_i (1 - r_i) and propagates
 * p_i = 1 - (c_i xor r_i); the carry-in 1 folds into position 0 as
 * G_0 = g_0 + p_0 = 1 - r_0 + c_0 r_0. Adjacent blocks combine as
 * (g, p) = (g_hi + p_hi g_lo, p_hi p_lo): g_hi and p_hi g_lo are never both
 * 1, so the OR is a sum. A block containing position 0 has no propagate (the
 * carry-in is absorbed), which saves one product per level, and the top
 * level needs no propagate either. All products of a level are emitted
 * consecutively: one round per level, ceil(log2 m) rounds in all ([CdH] §3,
 * [DFKNT] §6). Consumes the bit registers r. */
static uint32_t bit_ge(bld *b, uint32_t c, uint32_t *r, uint32_t m) {
  uint32_t g[MAXPOS], pr[MAXPOS], pg[MAXPOS], pp[MAXPOS];
  uint32_t one = p_one(b);
  for (uint32_t i = 0; i < m; i++) {
    uint32_t ci, t = bit_cr(b, c, i, r[i], &ci);
    if (i == 0) {
      g[0] = s_addc_c(b, s_op(b, MPC_OP_SUB, t, r[0]), 1); /* 1 - r_0 + c_0 r_0 */
      pr[0] = NONE;
    } else {
      g[i] = s_op(b, MPC_OP_RSUBP, t, ci); /* c_i - c_i r_i */
      pr[i] = bit_eq(b, ci, r[i], t, one);
    }
    drop(b, t);
    drop(b, r[i]);
  }
  uint32_t w = m;
  while (w > 1) {
    uint32_t half = w / 2;
    for (uint32_t j = 0; j < half; j++) { /* the level's round */
      uint32_t lo = 2 * j, hi = lo + 1;
      pg[j] = s_op(b, MPC_OP_MUL, pr[hi], g[lo]);
      pp[j] = (pr[lo] != NONE && w > 2) ? s_op(b, MPC_OP_MUL, pr[hi], pr[lo]) : NONE;
    }
    for (uint32_t j = 0; j < half; j++) { /* released after the run, not in it */
      drop(b, pr[2 * j]);
      drop(b, pr[2 * j + 1]);
      drop(b, g[2 * j]);
      g[j] = s_op_c(b, MPC_OP_ADD, g[2 * j + 1], pg[j]);
      pr[j] = pp[j];
    }
    if (w & 1) {
      g[half] = g[w - 1];
      pr[half] = pr[w - 1];
    }
    w = half + (w & 1);
  }
  return g[0];
}

/* Product of count registers of one length by a log-depth tree, each
 * level's products consecutive (one round per level). Consumes v. */
static uint32_t prod_tree(bld *b, uint32_t *v, uint32_t count) {
  uint32_t tmp[MAXPOS];
  while (count > 1) {
    uint32_t half = count / 2;
    for (uint32_t j = 0; j < half; j++) tmp[j] = s_op(b, MPC_OP_MUL, v[2 * j], v[2 * j + 1]);
    for (uint32_t j = 0; j < 2 * half; j++) drop(b, v[j]);
    if (count & 1) tmp[half] = v[count - 1];
    count = half + (count & 1);
    for (uint32_t j = 0; j < count; j++) v[j] = tmp[j];
  }
  return v[0];
}

/* x mod 2^m for 0 <= x < 2^nb, nb + kappa + 1 < field bits ([CdH] Protocol
 * 3.2, Mod2m): r' = sum_{i<m} 2^i r_i, r'' from nb + kappa - m more bits,
 * c = open(x + 2^m r'' + r') < 2^(nb+kappa+1) < p, so its canonical
 * representative is the integer; c mod 2^m = (x + r') mod 2^m, hence
 * x mod 2^m = c' - r' + 2^m [c' < r'] with c' = c mod 2^m. The opened c
 * hides x statistically (distance below 2^(1-kappa)): its low m bits are
 * uniform, its high part is drowned by r''. Rounds 1 + ceil(log2 m).
 * Keeps x. */
static uint32_t mod2m_u(bld *b, uint64_t len, uint32_t x, uint32_t nb, uint32_t m) {
  if (m == 0) return s_mulc(b, x, 0);
  if (m >= nb) return s_mov(b, x);
  uint32_t rb[MAXPOS];
  uint32_t r1 = rand_int(b, len, m, rb);
  uint32_t r2 = rand_hi(b, len, nb + MPC_KAPPA - m, nb);
  uint32_t t = s_mulc_c(b, r2, pow2(m));
  uint32_t u = s_op(b, MPC_OP_ADD, x, t);
  drop(b, t);
  uint32_t y = s_op(b, MPC_OP_ADD, u, r1);
  drop(b, u);
  uint32_t c = p_op(b, MPC_OP_OPEN, y, 0, 0);
  drop(b, y);
  uint32_t cm = p_op(b, MPC_OP_PMOD2K, c, 0, m);
  uint32_t ge = bit_ge(b, cm, rb, m);
  /* c' - r' + 2^m (1 - [c' >= r']) */
  uint32_t res = s_op_c(b, MPC_OP_RSUBP, r1, cm);
  res = s_op_c(b, MPC_OP_ADD, res, s_mulc_c(b, ge, fe_neg(pow2(m))));
  return s_addc_c(b, res, pow2(m));
}

/* floor(x / 2^m) for 0 <= x < 2^nb, m < nb: (x - x mod 2^m) * 2^-m, exact
 * ([CdH] Protocol 3.1 with Mod2m in place of the probabilistic rounding).
 * Keeps x. */
static uint32_t trunc_u(bld *b, uint64_t len, uint32_t x, uint32_t nb, uint32_t m) {
  uint32_t lo = mod2m_u(b, len, x, nb, m);
  uint32_t d = s_op(b, MPC_OP_SUB, x, lo);
  drop(b, lo);
  return s_mulc_c(b, d, pow2inv(m));
}

/* ---- comparison and equality ------------------------------------------- */

/* [a < 0] for a signed k-bit a ([CdH] §3.3, LTZ = -Trunc(a, k, k-1)):
 * x = a + 2^(k-1) is in [0, 2^k) and floor(x / 2^(k-1)) = 1 - [a < 0].
 * Keeps a. */
static uint32_t ltz_len(bld *b, uint64_t len, uint32_t a, uint32_t k) {
  if (!fits(k)) return fail(b, "comparison: k = %u bits is too large for the field", k);
  if (k == 1) return s_mulc(b, a, fe_neg(1)); /* a in {-1, 0} */
  uint32_t x = s_addc(b, a, pow2(k - 1));
  uint32_t hi = trunc_u(b, len, x, k, k - 1);
  drop(b, x);
  return s_not_c(b, hi);
}

static uint32_t eqz_len(bld *b, uint64_t len, uint32_t a, uint32_t k);

static uint32_t and_rounds(uint32_t m);

/* Whether the AND of m bits goes by counting (below) rather than by a
 * product tree. The tree costs m - 1 products in ceil(log2 m) rounds; the
 * count costs one EQZ of a ks = bitlen(m)-bit value: mpc_mask_bits(ks)
 * pool bits (ks, or ks + kappa where no bounded integer fits), about
 * ks - 1 products (its own AND) and 1 + and_rounds(ks) rounds. A pool bit
 * is weighed as half a product (under PRSS it costs a third of a product's
 * bytes, with dealers about one). The count is taken where it is cheaper
 * and never takes more rounds: in the production field from m = 5 on (a
 * 64-bit EQZ's 63 products become 2 and 10 bits, 6 rounds become 4);
 * where the mask needs kappa bits, from m = 28. */
static int and_by_count(uint32_t m) {
  if (m < 3) return 0;
  uint32_t ks = bitlen(m); /* < m */
  return fits(ks) && 2 * (uint64_t)(m - 1) > mpc_mask_bits(ks) + 2 * (uint64_t)(ks - 1) &&
         1 + and_rounds(ks) <= ceil_log2(m);
}

/* Rounds of the AND of m bits after its c is open. */
static uint32_t and_rounds(uint32_t m) { return and_by_count(m) ? 1 + and_rounds(bitlen(m)) : ceil_log2(m); }

/* The tail of both zero tests: c = open(y), then the AND of the m bits
 * "bit i of c equals r_i" ([DFKNT] §5). By a product tree, or, where
 * and_by_count says so, by counting the bits that differ: d = sum (1 -
 * e_i) = m - sum e_i is an integer in [0, m], zero exactly when every e_i
 * is 1, so the AND is EQZ(d) on bitlen(m) bits (the unbounded fan-in AND
 * of [DFKNT] §5; its mask hides d as every EQZ mask does). Consumes y and
 * the bit registers r. */
static uint32_t open_bits_equal(bld *b, uint64_t len, uint32_t y, uint32_t *r, uint32_t m) {
  uint32_t e[MAXPOS];
  uint32_t c = p_op(b, MPC_OP_OPEN, y, 0, 0);
  drop(b, y);
  uint32_t one = p_one(b);
  for (uint32_t i = 0; i < m; i++) {
    uint32_t ci, t = bit_cr(b, c, i, r[i], &ci);
    e[i] = bit_eq(b, ci, r[i], t, one);
    drop(b, t);
    drop(b, r[i]);
  }
  /* and_by_count is 0 below 3; repeated so that gcc sees e[0] written (-Wmaybe-uninitialized) */
  if (m < 3 || !and_by_count(m)) return prod_tree(b, e, m);
  uint32_t acc = e[0];
  for (uint32_t i = 1; i < m; i++) acc = s_op_c(b, MPC_OP_ADD, acc, e[i]);
  uint32_t d = s_addc_c(b, s_mulc_c(b, acc, fe_neg(1)), (fe)m); /* m - sum e_i */
  uint32_t z = eqz_len(b, len, d, bitlen(m));
  drop(b, d);
  return z;
}

/* [a == 0] for -2^k < a < 2^k ([CdH] Protocol 3.7): x = a + 2^k > 0,
 * c = open(x + 2^k r'' + r') with r' of k bits and r'' of kappa bits, so
 * c < 2^(k+kappa+1) <= p; then c mod 2^k = (a + r') mod 2^k, which equals
 * r' iff a = 0 (|a| < 2^k). The AND of the k "bit i equal" bits is a
 * product tree or a count (open_bits_equal). The range is twice the
 * signed k-bit range so that eq(a, b, k) needs no extra bit. Keeps a. */
static uint32_t eqz_len(bld *b, uint64_t len, uint32_t a, uint32_t k) {
  if (!fits(k)) return fail(b, "equality: k = %u bits is too large for the field", k);
  uint32_t rb[MAXPOS];
  uint32_t r1 = rand_int(b, len, k, rb);
  uint32_t r2 = rand_hi(b, len, MPC_KAPPA, k);
  uint32_t x = s_addc(b, a, pow2(k));
  uint32_t u = s_op_c(b, MPC_OP_ADD, x, s_mulc_c(b, r2, pow2(k)));
  return open_bits_equal(b, len, s_op_c(b, MPC_OP_ADD, u, r1), rb, k);
}

/* [a == 0] for ANY field element a, not only a small integer: the bitwise
 * equality test of [DFKNT] §5 (and Nishide, Ohta, PKC 2007, §4.1) with a
 * mask as wide as the field. r = sum_{i<q} 2^i r_i from q = MPC_FIELD_BITS
 * pool bits is uniform on [0, 2^q - 1] = [0, p], so r mod p is uniform but
 * for 0 being twice as likely (statistical distance 2^-q), and c =
 * open(a + r) hides a. a = 0 iff c = r mod p, and as integers c = r unless
 * r = p (all q bits 1): the AND of the q "bit i equal" bits is [a == 0]
 * except with probability 2^-q, when a = 0 and r = p (2^-127 in the
 * production field, far below the 2^-kappa of the masks elsewhere).
 * Costs q bits whatever a is (and the AND's count, open_bits_equal: 47
 * bits and 6 products in the production field), where eqz_len costs
 * k + kappa per element: the zero test of a product of many differences
 * (mpc_member) is what it is for. Rounds 1 + the AND's (5 in all in the
 * production field). Keeps a. */
static uint32_t eqz_field_len(bld *b, uint64_t len, uint32_t a) {
  uint32_t rb[MAXPOS];
  uint32_t r = rand_int(b, len, MPC_FIELD_BITS, rb);
  uint32_t y = s_op(b, MPC_OP_ADD, a, r);
  drop(b, r);
  return open_bits_equal(b, len, y, rb, MPC_FIELD_BITS);
}

/* a - b of two k-bit values needs k + 1 bits. Keeps a and c. */
static uint32_t lt_len(bld *b, uint64_t len, uint32_t a, uint32_t c, uint32_t k) {
  uint32_t d = s_op(b, MPC_OP_SUB, a, c);
  uint32_t r = ltz_len(b, len, d, k + 1);
  drop(b, d);
  return r;
}

/* b + c (a - b): one multiplication. Keeps its operands. */
static uint32_t sel(bld *b, uint32_t c, uint32_t x, uint32_t y) {
  uint32_t d = s_op(b, MPC_OP_SUB, x, y);
  uint32_t m = s_op(b, MPC_OP_MUL, c, d);
  drop(b, d); /* after the MUL's run: the next instruction is linear */
  uint32_t r = s_op(b, MPC_OP_ADD, y, m);
  drop(b, m);
  return r;
}

/* The public entry points: each one a builder call with its own free list. */
typedef enum { OP_LTZ, OP_LT, OP_LE, OP_EQZ, OP_EQ, OP_NE } cmp_op;

static uint32_t cmp(mpc_program *p, cmp_op op, uint32_t a, uint32_t c, uint32_t k) {
  bld b;
  bld_init(&b, p);
  uint64_t la = mpc_prog_slen(p, a), lc = (op == OP_LTZ || op == OP_EQZ) ? 1 : mpc_prog_slen(p, c);
  uint32_t r;
  if (!la || !lc || !fits(k)) {
    r = !fits(k) ? fail(&b, "comparison: k = %u bits is too large for the field", k)
                 : fail(&b, "comparison: an operand was never written");
  } else {
    uint64_t len = len2(la, lc);
    switch (op) {
      case OP_LTZ: r = ltz_len(&b, len, a, k); break;
      case OP_LT: r = lt_len(&b, len, a, c, k); break;
      case OP_LE: r = s_not_c(&b, lt_len(&b, len, c, a, k)); break; /* 1 - [b < a] */
      case OP_EQZ: r = eqz_len(&b, len, a, k); break;  /* the signed k-bit range is within eqz_len's */
      default: {
        uint32_t d = s_op(&b, MPC_OP_SUB, a, c); /* |a - b| < 2^k */
        r = eqz_len(&b, len, d, k);
        drop(&b, d);
        if (op == OP_NE) r = s_not_c(&b, r);
      }
    }
  }
  bld_done(&b);
  return r;
}

uint32_t mpc_ltz(mpc_program *p, uint32_t a, uint32_t k) { return cmp(p, OP_LTZ, a, 0, k); }
uint32_t mpc_lt(mpc_program *p, uint32_t a, uint32_t b, uint32_t k) { return cmp(p, OP_LT, a, b, k); }
uint32_t mpc_le(mpc_program *p, uint32_t a, uint32_t b, uint32_t k) { return cmp(p, OP_LE, a, b, k); }
uint32_t mpc_eqz(mpc_program *p, uint32_t a, uint32_t k) { return cmp(p, OP_EQZ, a, 0, k); }
uint32_t mpc_eq(mpc_program *p, uint32_t a, uint32_t b, uint32_t k) { return cmp(p, OP_EQ, a, b, k); }
uint32_t mpc_ne(mpc_program *p, uint32_t a, uint32_t b, uint32_t k) { return cmp(p, OP_NE, a, b, k); }

uint32_t mpc_eqz_field(mpc_program *p, uint32_t a) {
  bld b;
  bld_init(&b, p);
  uint64_t len = mpc_prog_slen(p, a);
  uint32_t r = len ? eqz_field_len(&b, len, a) : fail(&b, "eqz_field: S register %u was never written", a);
  bld_done(&b);
  return r;
}

/* One zero test of a field element is worth it where the equality tests it
 * replaces would draw more bits, and only in a field wide enough for its
 * 2^-q error (not the toy fields of the tests). */
int mpc_eqz_field_pays(uint64_t eq_bits) { return MPC_FIELD_BITS >= 61 && eq_bits > MPC_FIELD_BITS; }

uint32_t mpc_select(mpc_program *p, uint32_t c, uint32_t a, uint32_t b) {
  bld bb;
  bld_init(&bb, p);
  uint32_t r = sel(&bb, c, a, b);
  bld_done(&bb);
  return r;
}

/* ---- truncation and division ------------------------------------------- */

/* floor(a / 2^m). Keeps a. */
static uint32_t trunc_len(bld *b, uint64_t len, uint32_t a, uint32_t k, uint32_t m) {
  if (!fits(k)) return fail(b, "trunc: k = %u bits is too large for the field", k);
  if (m == 0) return s_mov(b, a);
  if (m >= k) return s_mulc_c(b, ltz_len(b, len, a, k), fe_neg(1)); /* floor(a / 2^m) is 0 or -1 */
  /* x = a + 2^(k-1) >= 0 and x = a (mod 2^m) since m <= k - 1 */
  uint32_t x = s_addc(b, a, pow2(k - 1));
  uint32_t lo = mod2m_u(b, len, x, k, m);
  drop(b, x);
  uint32_t d = s_op(b, MPC_OP_SUB, a, lo);
  drop(b, lo);
  return s_mulc_c(b, d, pow2inv(m));
}

uint32_t mpc_trunc(mpc_program *p, uint32_t a, uint32_t k, uint32_t m) {
  bld b;
  bld_init(&b, p);
  uint64_t len = mpc_prog_slen(p, a);
  uint32_t r = len ? trunc_len(&b, len, a, k, m) : fail(&b, "trunc: S register %u was never written", a);
  bld_done(&b);
  return r;
}

/* floor(z / d) for 0 <= z <= zmax, d >= 3 not a power of two, by the
 * reciprocal M = floor(2^l / d) with l = bitlen(zmax): z M / 2^l lies in
 * (z/d - 1, z/d], so q0 = floor(z M / 2^l) is floor(z/d) or one less, and
 * the remainder z - q0 d (linear: d is public) in [0, 2d) decides which with
 * one comparison. The caller guarantees that z M fits a Mod2m mask
 * (direct_fits). Keeps z. */
static uint32_t div_direct(bld *b, uint64_t len, uint32_t z, unsigned __int128 zmax, uint64_t d) {
  uint32_t l = bitlen(zmax), dl = bitlen(d);
  unsigned __int128 mr = (((unsigned __int128)1) << l) / d;
  uint32_t pb = l + bitlen(mr); /* z M < 2^pb */
  uint32_t prod = s_mulc(b, z, (fe)mr);
  uint32_t q0 = trunc_u(b, len, prod, pb, l);
  drop(b, prod);
  uint32_t q0d = s_mulc(b, q0, fe_from_u64(d));
  uint32_t rem = s_op(b, MPC_OP_SUB, z, q0d);
  drop(b, q0d);
  /* rem - d in [-d, d): a signed (bitlen(d) + 1)-bit value */
  uint32_t rd = s_addc_c(b, rem, fe_neg(fe_from_u64(d)));
  uint32_t below = ltz_len(b, len, rd, dl + 1);
  drop(b, rd);
  return s_op_c(b, MPC_OP_SUB, s_addc_c(b, q0, 1), below);
}

/* Whether div_direct's product fits the field for this zmax. */
static int direct_fits(unsigned __int128 zmax, uint64_t d) {
  uint32_t l = bitlen(zmax);
  if (l > 120) return 0;
  return fits(l + bitlen((((unsigned __int128)1) << l) / d));
}

/* One split for the case where z M would not fit: with z = H 2^h + Lo
 * (Lo = z mod 2^h by Mod2m) and 2^h = Q d + R,
 *   floor(z / d) = H Q + floor((H R + Lo) / d),
 * and z' = H R + Lo has about (bitlen(z) + bitlen(d)) / 2 bits for the best
 * h: a smaller dividend at the price of one Mod2m. Returns the h that
 * minimises bitlen(zmax') (smallest on ties), or 0 if no split shrinks z. */
static uint32_t best_split(unsigned __int128 zmax, uint64_t d, unsigned __int128 *zmax_out) {
  uint32_t n = bitlen(zmax), best = 0, bestbits = n;
  for (uint32_t h = 1; h < n && h <= 64; h++) {
    unsigned __int128 r = (((unsigned __int128)1) << h) % d;
    unsigned __int128 zm = (zmax >> h) * r + ((((unsigned __int128)1) << h) - 1);
    if (bitlen(zm) < bestbits) {
      bestbits = bitlen(zm);
      best = h;
      *zmax_out = zm;
    }
  }
  return best;
}

/* floor(a / d), d >= 3 not a power of two, d < 2^(k-1), k <= 64. The
 * dividend is made nonnegative by adding B = d ceil(2^(k-1) / d), a multiple
 * of d, so floor(a/d) = floor((a + B)/d) - B/d. Then splits (best_split)
 * until the reciprocal step fits the field: none for k <= 42 in the
 * production field, at most one up to k = 64 (none when d is large). Keeps a. */
static uint32_t divc_general(bld *b, uint64_t len, uint32_t a, uint32_t k, uint64_t d) {
  unsigned __int128 half = ((unsigned __int128)1) << (k - 1);
  unsigned __int128 bq = (half + d - 1) / d, bm = bq * d;
  unsigned __int128 zmax = bm + half - 1;
  uint32_t z = s_addc(b, a, (fe)bm);
  uint32_t acc = NONE; /* the sum of the H Q terms of the splits */
  while (!direct_fits(zmax, d)) {
    unsigned __int128 nz = 0;
    uint32_t n = bitlen(zmax);
    uint32_t h = best_split(zmax, d, &nz);
    if (!h || !fits(n)) return fail(b, "divc: no split of a %u-bit dividend fits the field", n);
    unsigned __int128 pw = ((unsigned __int128)1) << h;
    uint32_t lo = mod2m_u(b, len, z, n, h);
    uint32_t hi = s_mulc_c(b, s_op(b, MPC_OP_SUB, z, lo), pow2inv(h)); /* exact */
    drop(b, z);
    uint32_t hq = s_mulc(b, hi, (fe)(pw / d));
    acc = acc == NONE ? hq : s_op_c(b, MPC_OP_ADD, acc, hq);
    z = s_op_c(b, MPC_OP_ADD, s_mulc_c(b, hi, (fe)(pw % d)), lo);
    zmax = nz;
  }
  uint32_t q = div_direct(b, len, z, zmax, d);
  drop(b, z);
  if (acc != NONE) q = s_op_c(b, MPC_OP_ADD, q, acc);
  return s_addc_c(b, q, fe_neg((fe)bq));
}

uint32_t mpc_divc(mpc_program *p, uint32_t a, uint32_t k, uint64_t d) {
  bld b;
  bld_init(&b, p);
  uint64_t len = mpc_prog_slen(p, a);
  uint32_t r;
  if (!len || d == 0 || !fits(k) || k > 64) {
    r = !len ? fail(&b, "divc: S register %u was never written", a)
        : d == 0 ? fail(&b, "divc: division by zero")
                 : fail(&b, "divc: k = %u bits is over the limit (64, and the field's)", k);
  } else if (d == 1) {
    r = s_mov(&b, a);
  } else if (d >= (((uint64_t)1) << (k - 1))) {
    /* |a| <= 2^(k-1) <= d: floor(a / d) is 0 or -1 */
    r = s_mulc_c(&b, ltz_len(&b, len, a, k), fe_neg(1));
  } else if ((d & (d - 1)) == 0) {
    r = trunc_len(&b, len, a, k, bitlen(d) - 1);
  } else {
    r = divc_general(&b, len, a, k, d);
  }
  bld_done(&b);
  return r;
}

/* ---- vectors ------------------------------------------------------------ */

uint32_t mpc_vsum(mpc_program *p, uint32_t a) {
  uint32_t d = mpc_sreg(p);
  mpc_ins in = {.op = MPC_OP_SUM, .d = d, .a = a};
  mpc_prog_emit(p, &in);
  return d;
}

/* Tournament: each level compares the first half with the second half in
 * one vector comparison and keeps the winners with one vector selection; an
 * odd element waits for the next level. ceil(log2 len) levels. */
static uint32_t vext(mpc_program *p, uint32_t a, uint32_t k, int want_max) {
  bld b;
  bld_init(&b, p);
  uint64_t w = mpc_prog_slen(p, a);
  uint32_t cur = a;
  if (!w || !fits(k + 1)) {
    cur = !w ? fail(&b, "vmin/vmax: S register %u was never written", a)
             : fail(&b, "vmin/vmax: k = %u bits is too large for the field", k);
  } else if (w == 1) {
    cur = s_mov(&b, a);
  }
  while (w > 1) {
    uint64_t h = w / 2;
    uint32_t lo = s_slice(&b, cur, 0, h), hi = s_slice(&b, cur, h, h);
    /* min keeps hi when hi < lo, max when lo < hi */
    uint32_t c = want_max ? lt_len(&b, h, lo, hi, k) : lt_len(&b, h, hi, lo, k);
    uint32_t m = sel(&b, c, hi, lo);
    drop(&b, c);
    drop(&b, lo);
    drop(&b, hi);
    if (w & 1) m = s_op_c(&b, MPC_OP_CAT, m, s_slice(&b, cur, w - 1, 1));
    if (cur != a) drop(&b, cur);
    cur = m;
    w = h + (w & 1);
  }
  bld_done(&b);
  return cur;
}

uint32_t mpc_vmin(mpc_program *p, uint32_t a, uint32_t k) { return vext(p, a, k, 0); }
uint32_t mpc_vmax(mpc_program *p, uint32_t a, uint32_t k) { return vext(p, a, k, 1); }

/* Product of the elements of a vector of length w by a log-depth tree
 * (halves multiplied elementwise, the odd element carried). Consumes v. */
static uint32_t vprod(bld *b, uint32_t v, uint64_t w) {
  while (w > 1) {
    uint64_t h = w / 2;
    uint32_t lo = s_slice(b, v, 0, h), hi = s_slice(b, v, h, h);
    uint32_t m = s_op(b, MPC_OP_MUL, lo, hi);
    drop(b, lo);
    drop(b, hi);
    if (w & 1) m = s_op_c(b, MPC_OP_CAT, m, s_slice(b, v, w - 1, 1));
    drop(b, v);
    v = m;
    w = h + (w & 1);
  }
  return v;
}

/* x in set. Two ways, whichever draws fewer pool bits:
 *  - the equality bits of set - x (one vector EQZ, k + kappa bits per
 *    element), then their OR: 1 - prod(1 - e_i) by a tree (ceil(log2 s)
 *    rounds, no bits) for small sets, else 1 - EQZ(sum e_i) on b =
 *    bitlen(s) bits (1 + ceil(log2 b) rounds: the unbounded fan-in OR of
 *    [DFKNT] §5), whichever has fewer rounds;
 *  - the product of the differences prod(set_i - x), zero exactly when x is
 *    in the set (a field has no zero divisors, and each |set_i - x| < 2^k
 *    < p is zero as a field element only if it is zero as an integer), by a
 *    tree (s - 1 products, ceil(log2 s) rounds), then its full-width zero
 *    test (eqz_field_len: MPC_FIELD_BITS bits whatever s and k). For the
 *    underwriting sample's 16-entry exclusion list of 17-bit codes, 928 bits
 *    become 127, for two rounds more (mpc_eqz_field_pays decides).
 * Duplicates in the set are harmless either way. */
uint32_t mpc_member(mpc_program *p, uint32_t x, uint32_t set, uint32_t k) {
  bld b;
  bld_init(&b, p);
  uint64_t s = mpc_prog_slen(p, set);
  uint32_t r;
  if (!s || mpc_prog_slen(p, x) != 1 || !fits(k)) {
    r = !s ? fail(&b, "member: the set register %u was never written", set)
        : mpc_prog_slen(p, x) != 1 ? fail(&b, "member: x must have length 1")
                                    : fail(&b, "member: k = %u bits is too large for the field", k);
  } else if (s > 1 && mpc_eqz_field_pays(s * mpc_mask_bits(k))) {
    uint32_t pr = vprod(&b, s_op(&b, MPC_OP_SUB, set, x), s); /* |set_i - x| < 2^k */
    r = eqz_field_len(&b, 1, pr);
    drop(&b, pr);
  } else {
    uint32_t diff = s_op(&b, MPC_OP_SUB, set, x); /* |set_i - x| < 2^k */
    uint32_t e = eqz_len(&b, s, diff, k);
    drop(&b, diff);
    uint32_t nb = bitlen(s);
    if (s == 1) {
      r = e;
    } else if (ceil_log2(s) <= 1 + ceil_log2(nb)) {
      r = s_not_c(&b, vprod(&b, s_not_c(&b, e), s));
    } else {
      uint32_t cnt = ins(&b, 0, MPC_OP_SUM, e, 0, 0, 0); /* in [0, s], s < 2^nb */
      drop(&b, e);
      uint32_t z = eqz_len(&b, 1, cnt, nb);
      drop(&b, cnt);
      r = s_not_c(&b, z);
    }
  }
  bld_done(&b);
  return r;
}
