/* The MPC back end of the contract language (lang.h "cost and MPC";
 * docs/contract-language.md §6 "Scheduling", "Cost report", §7 "Private
 * outputs"; docs/calls.md §1): a finished circuit becomes one mpc_program,
 * the plan of a call (lang_call.h), built here and only here. A consortium
 * call runs it among the validators; lang_cost_get costs it; lang_run_mpc
 * runs it among n in-process parties (mpc_local).
 *
 * Public and secret. A node that is not secret depends only on constants
 * and args, which every party knows when the call is made: it is evaluated
 * in plaintext while the program is built and enters the program as a
 * constant (ADDC, MULC). Which nodes are secret is a static property of the
 * circuit, and every instruction emitted for a node depends only on the
 * node's op, the secrecy of its operands and their static ranges, never on
 * an arg's value; so the program's shape, and with it the cost, is the same
 * for every call (lang_cost_get builds it with each arg at its declared lo).
 * A SELECT on a public condition, say, is emitted as c*a + (1-c)*b with c a
 * constant, not as a copy of the branch c picks.
 *
 * Secret nodes. Each secret node's value is one S register of length 1.
 * Inputs: every INPUT port is dealt by the party the plan names for its
 * domain (the domain's owner in a call, lang_call_plan_new's domain_party;
 * the domain's index among the contract's sorted distinct domains mod n for
 * lang_run_mpc and lang_cost_get); each party deals all its elements in one
 * INPUT slot (slot 0), in input port and element order, and the INPUTs are
 * emitted one after the other so that they form one input group (3 rounds
 * in all). Params are one client slot (INPUT_CLIENT, slot 0; lang_run_mpc
 * takes further slots of 4096 values each if the params have more elements
 * than one dealing holds). Every element is then sliced into a register of
 * its own.
 *
 * Scheduling (layers). ir_depth gives every node its interactive depth; the
 * program is emitted layer by layer. In layer L, first all interactive nodes
 * of depth L, grouped by kind, each group ONE vector operation whose
 * operands are gathered from the length-1 registers by a balanced tree of
 * CATs (each level copies the layer once: m log m element copies for m
 * nodes, not the m^2 of appending one at a time) and whose result is sliced
 * back:
 *   - MUL of two secrets and SELECT on a secret condition (c*(a-b)+b) with
 *     a secret branch: one mpc_mul, one round;
 *   - LT and LE: one mpc_ltz on the differences a - b (LT) and a - b - 1
 *     (LE: a <= b iff a - b - 1 < 0 over the integers), k = the widest
 *     difference's bits. This covers a public operand too (the difference
 *     is then ADDC of a constant) and is never dearer than mpc_lt, which
 *     takes the same difference at one bit more than the widest operand:
 *     the difference's own range is at most that wide, often narrower
 *     (an age 0..150 against a constant 40 is an 8-bit LTZ);
 *   - EQ and NE: one mpc_eqz on the differences (NE = 1 - EQ after it),
 *     k = bits of the largest |difference| (eqz is exact for |a| < 2^k);
 *   - DIVC: one mpc_divc per divisor, k = the widest dividend's bits;
 * then the local nodes of depth L in circuit order (they may read the
 * layer's results). The whole call so costs about the sum over layers of
 * the rounds of the layer's groups; independent comparisons of one layer
 * share their rounds. Different kinds of one layer run one after the
 * other: interleaving them round by round (a layer's MUL in the first
 * round of its comparison) is not done.
 *
 * Outputs. A public output element of a secret node is an OUTPUT slot (its
 * flat index); a public output of a public node needs no MPC: its value is
 * known when the call is made. Every element z of a private port, secret or
 * not, takes r = RAND(1), OUTPUT_SHARE r (share slot = flat index) and
 * OUTPUTs z + r (a public z enters as a constant): only the reader of the
 * call (lang_run_mpc plays it) rebuilds r from the parties' shares
 * (mpc_reconstruct) and computes z. Masking every private element alike
 * means the ledger never shows a private port's value in clear, even one
 * that depends on args alone (docs/contract-language.md §7). */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "field.h"
#include "lang_internal.h"
#include "mpc.h"

typedef __int128 i128;

/* lang_internal.h: a program takes at most 64 client slots of 4096 values,
 * so 256 K params, more than any contract has; parties up to 64. */
#define PARAM_SLOT LANG_PARAM_SLOT
#define PARAM_SLOTS_MAX LANG_PARAM_SLOTS_MAX
#define MAX_PARTIES LANG_MAX_PARTIES

typedef struct {
  const ir_circuit *ir;
  uint32_t n;
  mpc_program *p;
  int64_t *pv;        /* value of every public node */
  uint32_t *reg;      /* S register of every secret node */
  uint32_t *depth;
  uint32_t *in_party; /* dealer of each flat input element */
  uint32_t *in_off;   /* its place in its dealer's slot */
  uint64_t dealt[MAX_PARTIES];
  uint32_t in_reg[MAX_PARTIES];
  uint32_t par_reg[PARAM_SLOTS_MAX];
  uint8_t *out_private; /* per flat output element */
  uint32_t *xs, *ys;  /* operand registers of one vector operation */
  uint32_t *items;    /* the nodes of one group */
  uint32_t cmp_bits_max;
  /* zero-product fusion (plan_fusion): */
  uint8_t *fused;     /* per node: 1 inside a fused tree (never emitted), 2 its root */
  uint32_t *zfirst;   /* per node: a root's first difference in zd */
  uint32_t *zcount;   /* per node: a root's number of differences */
  uint32_t (*zd)[2];  /* differences a - b as node pairs, root by root */
  uint32_t *zwork;    /* registers of the product trees of one group */
} bld;

static void bld_free(bld *b) {
  mpc_prog_free(b->p);
  free(b->pv);
  free(b->reg);
  free(b->depth);
  free(b->in_party);
  free(b->in_off);
  free(b->out_private);
  free(b->xs);
  free(b->ys);
  free(b->items);
  free(b->fused);
  free(b->zfirst);
  free(b->zcount);
  free(b->zd);
  free(b->zwork);
  memset(b, 0, sizeof *b);
}

static int secret(const bld *b, uint32_t x) { return b->ir->nodes[x].secret; }
static fe cfe(const bld *b, uint32_t x) { return fe_from_i64(b->pv[x]); }

/* ---- instructions ------------------------------------------------------ */

static uint32_t ins(bld *b, uint16_t op, uint32_t a, uint32_t x, uint64_t imm, fe c) {
  uint32_t d = mpc_sreg(b->p);
  mpc_ins in = {.op = op, .d = d, .a = a, .b = x, .imm = imm, .c = c};
  mpc_prog_emit(b->p, &in);
  return d;
}
static uint32_t slice1(bld *b, uint32_t a, uint64_t off) {
  return ins(b, MPC_OP_SLICE, a, (uint32_t)off, 1, 0);
}
static uint32_t addc(bld *b, uint32_t a, fe c) { return mpc_addc(b->p, a, c); }
static uint32_t mulc(bld *b, uint32_t a, fe c) { return mpc_mulc(b->p, a, c); }

/* The vector regs[0..m) of length-1 registers, as one register: a balanced
 * tree of CATs, level by level (regs is overwritten). */
static uint32_t gather(bld *b, uint32_t *regs, size_t m) {
  while (m > 1) {
    size_t h = 0;
    for (size_t i = 0; i + 1 < m; i += 2) regs[h++] = ins(b, MPC_OP_CAT, regs[i], regs[i + 1], 0, 0);
    if (m % 2) regs[h++] = regs[m - 1];
    m = h;
  }
  return regs[0];
}

/* x - y + extra as a secret register (x or y secret). */
static uint32_t sdiff(bld *b, uint32_t x, uint32_t y, fe extra) {
  if (secret(b, x) && secret(b, y)) {
    uint32_t d = mpc_sub(b->p, b->reg[x], b->reg[y]);
    return extra ? addc(b, d, extra) : d;
  }
  if (secret(b, x)) return addc(b, b->reg[x], fe_add(fe_neg(cfe(b, y)), extra));
  return addc(b, mulc(b, b->reg[y], fe_neg(1)), fe_add(cfe(b, x), extra));
}

/* ---- ranges and widths ------------------------------------------------- */

static i128 lo_of(const bld *b, uint32_t x) { return b->ir->nodes[x].lo; }
static i128 hi_of(const bld *b, uint32_t x) { return b->ir->nodes[x].hi; }

/* Bits of the signed k-bit range holding [lo, hi]: -2^(k-1) <= lo and
 * hi < 2^(k-1) (what mpc_ltz takes). */
static uint32_t sbits(i128 lo, i128 hi) {
  uint32_t k = 1;
  while (lo < -((i128)1 << (k - 1)) || hi >= ((i128)1 << (k - 1))) k++;
  return k;
}

/* Bits k with |v| < 2^k for every v in [lo, hi] (what mpc_eqz takes). */
static uint32_t abits(i128 lo, i128 hi) {
  i128 m = -lo > hi ? -lo : hi;
  uint32_t k = 1;
  while (((i128)1 << k) <= m) k++;
  return k;
}

/* ---- public nodes ------------------------------------------------------ */

/* Plaintext value of public node i (operands already valued). Exact: the
 * builder proved every node's range within int64, and the args are within
 * their declared ranges (checked by the caller). */
static int64_t eval_public(const bld *b, const int64_t *arg, const ir_node *n) {
  const int64_t *v = b->pv;
  switch (n->op) {
    case IR_CONST: return n->imm;
    case IR_ARG: return arg[n->imm];
    case IR_ADD: return v[n->a] + v[n->b];
    case IR_SUB: return v[n->a] - v[n->b];
    case IR_MUL: return v[n->a] * v[n->b];
    case IR_DIVC: return ir_floordiv(v[n->a], n->imm);
    case IR_LT: return v[n->a] < v[n->b];
    case IR_LE: return v[n->a] <= v[n->b];
    case IR_EQ: return v[n->a] == v[n->b];
    case IR_NE: return v[n->a] != v[n->b];
    case IR_SELECT: return v[n->a] ? v[n->b] : v[n->c];
    default: return 0; /* INPUT and PARAM are secret; OUTPUT has no value */
  }
}

/* ---- the plan of inputs and outputs ------------------------------------ */

static int domain_cmp(const void *x, const void *y) {
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The domain of input port p (its name up to the dot) and its length. */
static size_t domain_len(const ir_port *p) {
  const char *dot = strchr(p->name, '.');
  return dot ? (size_t)(dot - p->name) : strlen(p->name);
}

/* The contract's distinct domains in strcmp order (the order of
 * lang_domains): *out (malloc'd strings), *nd of them. */
static cx_err domains_of(const ir_circuit *c, char ***out, size_t *nd) {
  size_t np = 0;
  char **dom = calloc(c->nports + 1, sizeof *dom);
  if (!dom) return CX_E_NOMEM;
  cx_err e = CX_OK;
  for (size_t i = 0; i < c->nports && e == CX_OK; i++) {
    const ir_port *p = &c->ports[i];
    if (p->kind != IR_PORT_INPUT) continue;
    size_t l = domain_len(p);
    if (!(dom[np] = malloc(l + 1))) e = CX_E_NOMEM;
    else {
      memcpy(dom[np], p->name, l);
      dom[np++][l] = 0;
    }
  }
  if (e == CX_OK) qsort(dom, np, sizeof *dom, domain_cmp);
  size_t d = 0; /* distinct, in place; the duplicates end up after d */
  for (size_t i = 0; i < np && e == CX_OK; i++) {
    if (d && strcmp(dom[d - 1], dom[i]) == 0) continue;
    char *t = dom[d];
    dom[d++] = dom[i];
    dom[i] = t;
  }
  if (e != CX_OK) {
    for (size_t i = 0; i < np; i++) free(dom[i]);
    free(dom);
    return e;
  }
  for (size_t i = d; i < np; i++) {
    free(dom[i]);
    dom[i] = NULL;
  }
  *out = dom;
  *nd = d;
  return CX_OK;
}

/* Dealers of the input elements: the party of the port's domain (its index
 * among the contract's distinct domains, the order of lang_domains), from
 * domain_party, or that index mod n when domain_party is NULL. Each dealer's
 * elements in input port and element order (lang_call.h: the order of
 * lang_call_plan_inputs). */
static cx_err plan_inputs(bld *b, const uint32_t *domain_party, size_t ndomains, char *err, size_t errlen) {
  const ir_circuit *c = b->ir;
  char **dom = NULL;
  size_t nd = 0;
  uint32_t *party = calloc(c->nports + 1, sizeof *party); /* dealer of each input port */
  if (!party || domains_of(c, &dom, &nd) != CX_OK) {
    free(party);
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory building the MPC program");
  }
  cx_err e = CX_OK;
  if (domain_party && ndomains != nd)
    e = cx_errf(err, errlen, CX_E_INVALID_ARG, "%zu dealers given for the contract's %zu input domains",
                ndomains, nd);
  for (size_t d = 0; domain_party && d < nd && e == CX_OK; d++)
    if (domain_party[d] >= b->n)
      e = cx_errf(err, errlen, CX_E_INVALID_ARG, "domain %s is dealt by party %u, not one of the %u parties",
                  dom[d], domain_party[d], b->n);
  for (size_t i = 0; i < c->nports && e == CX_OK; i++) {
    const ir_port *p = &c->ports[i];
    if (p->kind != IR_PORT_INPUT) continue;
    size_t l = domain_len(p), d = 0;
    while (d < nd && !(strncmp(dom[d], p->name, l) == 0 && dom[d][l] == 0)) d++;
    party[i] = domain_party ? domain_party[d] : (uint32_t)(d % b->n);
    b->dealt[party[i]] += ir_port_elems(p);
  }
  /* A dealer's slot: its elements in port and element order; in a batch
   * (lang.h) copy by copy, each copy's in that order. */
  uint32_t C = c->copies > 1 ? c->copies : 1;
  uint64_t run[MAX_PARTIES] = {0}; /* a copy's elements placed so far, per dealer */
  for (size_t i = 0; i < c->nports && e == CX_OK; i++) {
    const ir_port *p = &c->ports[i];
    if (p->kind != IR_PORT_INPUT) continue;
    uint32_t ue = ir_port_elems(p) / C, d = party[i];
    for (uint32_t k = 0; k < ir_port_elems(p); k++) {
      b->in_party[p->first + k] = d;
      b->in_off[p->first + k] = (uint32_t)((k / ue) * (b->dealt[d] / C) + run[d] + k % ue);
    }
    run[d] += ue;
  }
  for (size_t i = 0; i < nd; i++) free(dom[i]);
  free(dom);
  free(party);
  return e;
}

/* The params' client slots. A call's fill slots of PARAM_SLOT values in
 * flat order; a batch gives each copy a slot of its own, its params in a
 * call's order (lang.h), as each call's insurer dealt them. */
static uint32_t param_slots(const ir_circuit *c) {
  if (c->copies > 1) return c->n_param ? c->copies : 0;
  return (c->n_param + PARAM_SLOT - 1) / PARAM_SLOT;
}

static uint32_t param_slot_len(const ir_circuit *c, uint32_t s) {
  if (c->copies > 1) return c->n_param / c->copies;
  uint32_t len = c->n_param - s * PARAM_SLOT;
  return len < PARAM_SLOT ? len : PARAM_SLOT;
}

/* Where flat param element f goes: client slot and place in it. */
static void param_place(const ir_circuit *c, uint32_t f, uint32_t *slot, uint32_t *off) {
  if (c->copies <= 1) {
    *slot = f / PARAM_SLOT;
    *off = f % PARAM_SLOT;
    return;
  }
  const ir_port *p = &c->ports[ir_leaf_port(c, IR_PORT_PARAM, f)];
  uint32_t ue = ir_port_elems(p) / c->copies, i = f - p->first;
  *slot = i / ue;
  *off = p->first / c->copies + i % ue;
}

/* ---- local secret nodes ------------------------------------------------ */

static void emit_local(bld *b, uint32_t i) {
  const ir_node *n = &b->ir->nodes[i];
  uint32_t a = n->a, y = n->b, z = n->c;
  uint32_t *r = b->reg;
  switch (n->op) {
    case IR_INPUT: {
      uint32_t e = (uint32_t)n->imm;
      r[i] = slice1(b, b->in_reg[b->in_party[e]], b->in_off[e]);
      break;
    }
    case IR_PARAM: {
      uint32_t slot, off;
      param_place(b->ir, (uint32_t)n->imm, &slot, &off);
      r[i] = slice1(b, b->par_reg[slot], off);
      break;
    }
    case IR_ADD:
      if (secret(b, a) && secret(b, y)) r[i] = mpc_add(b->p, r[a], r[y]);
      else r[i] = secret(b, a) ? addc(b, r[a], cfe(b, y)) : addc(b, r[y], cfe(b, a));
      break;
    case IR_SUB: r[i] = sdiff(b, a, y, 0); break;
    case IR_MUL: /* one public factor (two secrets are interactive) */
      r[i] = secret(b, a) ? mulc(b, r[a], cfe(b, y)) : mulc(b, r[y], cfe(b, a));
      break;
    case IR_SELECT:
      if (!secret(b, a)) {
        /* public condition c: c*x + (1-c)*y with c a constant, the same
         * instructions whichever branch c picks */
        fe c = cfe(b, a), nc = fe_sub(1, c);
        if (secret(b, y) && secret(b, z))
          r[i] = mpc_add(b->p, mulc(b, r[y], c), mulc(b, r[z], nc));
        else if (secret(b, y))
          r[i] = addc(b, mulc(b, r[y], c), fe_mul(nc, cfe(b, z)));
        else
          r[i] = addc(b, mulc(b, r[z], nc), fe_mul(c, cfe(b, y)));
      } else {
        /* secret condition, both branches public: c*(x-y) + y */
        r[i] = addc(b, mulc(b, r[a], fe_sub(cfe(b, y), cfe(b, z))), cfe(b, z));
      }
      break;
    default:
      mpc_prog_fail(b->p, "node %u (op %u) is not a local secret node", i, n->op);
      break;
  }
}

/* ---- interactive groups ------------------------------------------------ */

enum { G_MUL = 0, G_LT, G_EQ, G_ZP, G_DIVC };

static int group_of(uint8_t op) {
  switch (op) {
    case IR_MUL: case IR_SELECT: return G_MUL;
    case IR_LT: case IR_LE: return G_LT;
    case IR_EQ: case IR_NE: return G_EQ;
    default: return G_DIVC;
  }
}

/* Slices result register v (length m) back into the items' registers. */
static void scatter(bld *b, uint32_t v, size_t m) {
  for (size_t q = 0; q < m; q++) b->reg[b->items[q]] = m == 1 ? v : slice1(b, v, q);
}

static void group_mul(bld *b, size_t m) {
  const ir_node *N = b->ir->nodes;
  for (size_t q = 0; q < m; q++) {
    const ir_node *n = &N[b->items[q]];
    if (n->op == IR_MUL) {
      b->xs[q] = b->reg[n->a];
      b->ys[q] = b->reg[n->b];
    } else { /* c * (x - y), then + y */
      b->xs[q] = b->reg[n->a];
      b->ys[q] = sdiff(b, n->b, n->c, 0);
    }
  }
  uint32_t x = gather(b, b->xs, m), y = gather(b, b->ys, m);
  scatter(b, mpc_mul(b->p, x, y), m);
  for (size_t q = 0; q < m; q++) {
    uint32_t i = b->items[q];
    const ir_node *n = &N[i];
    if (n->op != IR_SELECT) continue;
    b->reg[i] = secret(b, n->c) ? mpc_add(b->p, b->reg[i], b->reg[n->c]) : addc(b, b->reg[i], cfe(b, n->c));
  }
}

static void group_cmp(bld *b, size_t m, int eq) {
  const ir_node *N = b->ir->nodes;
  uint32_t k = 1;
  for (size_t q = 0; q < m; q++) {
    const ir_node *n = &N[b->items[q]];
    i128 extra = n->op == IR_LE ? -1 : 0;
    i128 lo = lo_of(b, n->a) - hi_of(b, n->b) + extra, hi = hi_of(b, n->a) - lo_of(b, n->b) + extra;
    uint32_t kq = eq ? abits(lo, hi) : sbits(lo, hi);
    if (kq > k) k = kq;
    b->xs[q] = sdiff(b, n->a, n->b, n->op == IR_LE ? fe_neg(1) : 0);
  }
  if (k > b->cmp_bits_max) b->cmp_bits_max = k;
  uint32_t d = gather(b, b->xs, m);
  scatter(b, eq ? mpc_eqz(b->p, d, k) : mpc_ltz(b->p, d, k), m);
  for (size_t q = 0; q < m; q++) {
    uint32_t i = b->items[q];
    if (N[i].op == IR_NE) b->reg[i] = addc(b, mulc(b, b->reg[i], fe_neg(1)), 1);
  }
}

/* Fused roots (plan_fusion): root j's value is [prod_d (a_d - b_d) != 0].
 * The differences are local; the products of all roots go level by level,
 * one vector MUL a level (ceil(log2 of the longest list) rounds), then
 * one vector zero test of the products (mpc_eqz_field) and 1 - it. */
static void group_zp(bld *b, size_t m) {
  size_t nn = b->ir->nnodes;
  uint32_t *w = b->zwork, *off = w + nn, *cnt = w + 2 * nn;
  size_t tot = 0;
  for (size_t q = 0; q < m; q++) {
    uint32_t i = b->items[q];
    off[q] = (uint32_t)tot;
    cnt[q] = b->zcount[i];
    for (uint32_t d = 0; d < b->zcount[i]; d++) {
      const uint32_t *pr = b->zd[b->zfirst[i] + d];
      w[tot++] = sdiff(b, pr[0], pr[1], 0);
    }
  }
  for (;;) {
    size_t np = 0;
    for (size_t q = 0; q < m; q++)
      for (uint32_t h = 0; h + 1 < cnt[q]; h += 2) {
        b->xs[np] = w[off[q] + h];
        b->ys[np++] = w[off[q] + h + 1];
      }
    if (!np) break;
    uint32_t x = gather(b, b->xs, np), y = gather(b, b->ys, np), z = mpc_mul(b->p, x, y);
    size_t k = 0;
    for (size_t q = 0; q < m; q++) {
      uint32_t h = 0, c = cnt[q];
      for (; h + 1 < c; h += 2) w[off[q] + h / 2] = np == 1 ? z : slice1(b, z, k++);
      if (c & 1) w[off[q] + h / 2] = w[off[q] + c - 1];
      cnt[q] = (c + 1) / 2;
    }
  }
  for (size_t q = 0; q < m; q++) b->xs[q] = w[off[q]];
  uint32_t zero = mpc_eqz_field(b->p, gather(b, b->xs, m));
  scatter(b, addc(b, mulc(b, zero, fe_neg(1)), 1), m);
}

/* Items of one divisor (the caller sorted them by divisor): k is the
 * widest dividend's bits (mpc_divc takes signed k-bit values). */
static void group_divc(bld *b, size_t m) {
  const ir_node *N = b->ir->nodes;
  uint32_t k = 1;
  for (size_t q = 0; q < m; q++) {
    const ir_node *n = &N[b->items[q]];
    uint32_t kq = ir_bits(N[n->a].lo, N[n->a].hi);
    if (kq > k) k = kq;
    b->xs[q] = b->reg[n->a];
  }
  uint32_t d = gather(b, b->xs, m);
  scatter(b, mpc_divc(b->p, d, k, (uint64_t)N[b->items[0]].imm), m);
}

/* ---- zero-product fusion ------------------------------------------------ */

/* An OR of many secret equalities (what `x in A` and `any` lower to,
 * lower.c: 1 - prod(1 - [a_i == b_i])) costs k + kappa pool bits per
 * equality. Its complement prod(1 - [a_i == b_i]) = [prod(a_i - b_i) != 0]
 * (a field has no zero divisors, and each difference is an integer below
 * p in size, zero as a field element only if it is zero), which costs
 * (count - 1) products and ONE full-width zero test (mpc_eqz_field,
 * MPC_FIELD_BITS bits). The circuit and its bytecode stay as they are: the
 * evaluator finds such trees and emits them this way.
 *
 * A node is a "nonzero product" (nzp) with its list of differences if it
 * is secret and
 *   - NE(a, b): {a - b};
 *   - SUB(1, E) with E = EQ(a, b) used only here: {a - b};
 *   - MUL(x, y) of two nzp nodes, each used only here: both lists;
 *   - SUB(1, SUB(1, x)) with x nzp, x and the inner SUB used only here:
 *     x's list (the double complement of `any` inside `any`).
 * A root is an nzp node that is not part of a larger one; it is fused if
 * its separate equality tests would draw more bits than one zero test
 * (mpc_eqz_field_pays, mpc_member's rule too), and then everything below it
 * but the differences' operands is never emitted. The rule only reads
 * the circuit's shape and static ranges, so the program, and the cost,
 * are the same for every call. */

static int is_one(const bld *b, uint32_t x) {
  return b->ir->nodes[x].op == IR_CONST && b->ir->nodes[x].imm == 1;
}

/* The nzp children of node i (0, 1 or 2 of them into ch), or -1 if i is
 * not an nzp node; nz[] holds the answer for the nodes before i; a leaf
 * (NE, SUB(1, EQ)) has no nzp children. */
static int nzp_children(const bld *b, const uint32_t *uses, const uint32_t *nz, uint32_t i, uint32_t ch[2]) {
  const ir_node *N = b->ir->nodes, *n = &N[i];
  if (!n->secret) return -1;
  if (n->op == IR_NE) return 0;
  if (n->op == IR_MUL && nz[n->a] && nz[n->b] && uses[n->a] == 1 && uses[n->b] == 1 &&
      ir_interactive(b->ir, n)) {
    ch[0] = n->a;
    ch[1] = n->b;
    return 2;
  }
  if (n->op != IR_SUB || !is_one(b, n->a) || uses[n->b] != 1) return -1;
  const ir_node *y = &N[n->b];
  if (y->op == IR_EQ && y->secret) return 0;
  if (y->op == IR_SUB && is_one(b, y->a) && nz[y->b] && uses[y->b] == 1) {
    ch[0] = y->b;
    return 1;
  }
  return -1;
}

/* The operands (a, b) of leaf i's difference. */
static void nzp_leaf(const bld *b, uint32_t i, uint32_t *x, uint32_t *y) {
  const ir_node *N = b->ir->nodes, *n = &N[i];
  const ir_node *e = n->op == IR_NE ? n : &N[n->b];
  *x = e->a;
  *y = e->b;
}

static cx_err plan_fusion(bld *b) {
  const ir_circuit *c = b->ir;
  const ir_node *N = c->nodes;
  size_t nn = c->nnodes ? c->nnodes : 1;
  cx_err e = CX_OK;
  uint32_t *uses = calloc(nn, sizeof *uses), *nz = calloc(nn, sizeof *nz), *stack = calloc(nn, sizeof *stack);
  uint32_t *tree = calloc(2 * nn, sizeof *tree);
  uint8_t *inner = calloc(nn, 1);
  b->fused = calloc(nn, 1);
  b->zfirst = calloc(nn, sizeof *b->zfirst);
  b->zcount = calloc(nn, sizeof *b->zcount);
  b->zd = calloc(nn, sizeof *b->zd);
  b->zwork = calloc(3 * nn, sizeof *b->zwork);
  if (!uses || !nz || !stack || !tree || !inner || !b->fused || !b->zfirst || !b->zcount || !b->zd || !b->zwork) {
    e = CX_E_NOMEM;
    goto out;
  }
  for (size_t i = 0; i < c->nnodes; i++) {
    int k = ir_arity(N[i].op);
    if (k >= 1) uses[N[i].a]++;
    if (k >= 2) uses[N[i].b]++;
    if (k >= 3) uses[N[i].c]++;
  }
  /* nz[i]: the number of differences of nzp node i (0: not one); inner:
   * part of a larger nzp node */
  for (size_t i = 0; i < c->nnodes; i++) {
    uint32_t ch[2];
    int k = nzp_children(b, uses, nz, (uint32_t)i, ch);
    if (k < 0) continue;
    uint64_t cnt = k == 0 ? 1 : k == 1 ? nz[ch[0]] : (uint64_t)nz[ch[0]] + nz[ch[1]];
    nz[i] = (uint32_t)(cnt < UINT32_MAX ? cnt : UINT32_MAX - 1); /* cannot pass nnodes anyway */
    for (int j = 0; j < k; j++) inner[ch[j]] = 1;
  }
  /* each root's tree, depth first: its differences (zd) and its nodes
   * (tree: every node below the root, the EQs and inner SUBs included) */
  size_t nd = 0;
  for (size_t r = 0; r < c->nnodes; r++) {
    if (!nz[r] || inner[r]) continue;
    size_t sp = 0, nt = 0, first = nd;
    uint64_t bits = 0;
    stack[sp++] = (uint32_t)r;
    while (sp) {
      uint32_t i = stack[--sp], ch[2];
      int k = nzp_children(b, uses, nz, i, ch);
      if (i != r) tree[nt++] = i;
      if (N[i].op == IR_SUB) tree[nt++] = N[i].b; /* the EQ, or the inner SUB */
      for (int j = k - 1; j >= 0; j--) stack[sp++] = ch[j];
      if (k == 0) {
        uint32_t x, y;
        nzp_leaf(b, i, &x, &y);
        b->zd[nd][0] = x;
        b->zd[nd++][1] = y;
        bits += mpc_mask_bits(abits(lo_of(b, x) - hi_of(b, y), hi_of(b, x) - lo_of(b, y)));
      }
    }
    if (nd - first < 2 || !mpc_eqz_field_pays(bits)) {
      nd = first; /* not worth it: emitted as it is */
      continue;
    }
    b->zfirst[r] = (uint32_t)first;
    b->zcount[r] = (uint32_t)(nd - first);
    b->fused[r] = 2;
    for (size_t q = 0; q < nt; q++) b->fused[tree[q]] = 1;
  }
out:
  free(uses);
  free(nz);
  free(stack);
  free(tree);
  free(inner);
  return e;
}

/* Interactive depth as ir_depth, with fused trees: a root's layer follows
 * its differences' operands (its own rounds are its group's), the nodes
 * inside it are never emitted (layer 0, skipped). */
static uint32_t fused_depth(const bld *b, uint32_t *depth) {
  const ir_circuit *c = b->ir;
  uint32_t max = 0;
  for (size_t i = 0; i < c->nnodes; i++) {
    uint32_t d = 0;
    if (b->fused[i] == 1) {
      depth[i] = 0;
      continue;
    }
    if (b->fused[i] == 2) {
      for (uint32_t q = 0; q < b->zcount[i]; q++)
        for (int j = 0; j < 2; j++) {
          uint32_t x = b->zd[b->zfirst[i] + q][j];
          if (depth[x] > d) d = depth[x];
        }
      d++;
    } else {
      d = ir_node_depth(c, depth, i);
    }
    depth[i] = d;
    if (d > max) max = d;
  }
  return max;
}

/* ---- the program ------------------------------------------------------- */

typedef struct {
  int64_t d;
  uint32_t i;
} divitem;

static int divitem_cmp(const void *x, const void *y) {
  const divitem *a = x, *c = y;
  if (a->d != c->d) return a->d < c->d ? -1 : 1;
  return a->i < c->i ? -1 : a->i > c->i;
}

/* The interactive nodes of one layer (order[lo..hi)), group by group. */
static void emit_layer_groups(bld *b, const uint32_t *order, size_t lo, size_t hi, divitem *dv) {
  const ir_node *N = b->ir->nodes;
  for (int g = G_MUL; g <= G_ZP; g++) {
    size_t m = 0;
    for (size_t k = lo; k < hi; k++) {
      uint32_t i = order[k];
      if (g == G_ZP ? b->fused[i] == 2 : !b->fused[i] && ir_interactive(b->ir, &N[i]) && group_of(N[i].op) == g)
        b->items[m++] = i;
    }
    if (!m) continue;
    if (g == G_MUL) group_mul(b, m);
    else if (g == G_ZP) group_zp(b, m);
    else group_cmp(b, m, g == G_EQ);
  }
  size_t nd = 0;
  for (size_t k = lo; k < hi; k++)
    if (!b->fused[order[k]] && ir_interactive(b->ir, &N[order[k]]) && N[order[k]].op == IR_DIVC)
      dv[nd++] = (divitem){.d = N[order[k]].imm, .i = order[k]};
  qsort(dv, nd, sizeof *dv, divitem_cmp);
  for (size_t s = 0; s < nd;) {
    size_t e = s, m = 0;
    while (e < nd && dv[e].d == dv[s].d) b->items[m++] = dv[e++].i;
    group_divc(b, m);
    s = e;
  }
}

/* Builds the program for n parties with these args (each within its
 * port's range; lang_cost_get passes every arg's lo: nothing emitted
 * depends on the values, see the top of the file) and dealers
 * (plan_inputs). On success b->p is a checked program and b describes it;
 * the caller frees b (bld_free). */
static cx_err build(const ir_circuit *c, uint32_t n, const uint32_t *domain_party, size_t ndomains,
                    const int64_t *arg, bld *b, char *err, size_t errlen) {
  memset(b, 0, sizeof *b);
  b->ir = c;
  b->n = n;
  size_t nn = c->nnodes ? c->nnodes : 1;
  if (param_slots(c) > PARAM_SLOTS_MAX || (param_slots(c) && param_slot_len(c, 0) > PARAM_SLOT))
    return cx_errf(err, errlen, CX_E_LANG_LIMIT, "%u param elements%s are more than one program can deal (%u "
                   "client slots of %u)", c->n_param, c->copies > 1 ? " in a batch" : "", PARAM_SLOTS_MAX,
                   PARAM_SLOT);
  b->p = mpc_prog_new();
  b->pv = calloc(nn, sizeof *b->pv);
  b->reg = calloc(nn, sizeof *b->reg);
  b->depth = calloc(nn, sizeof *b->depth);
  b->xs = calloc(nn, sizeof *b->xs);
  b->ys = calloc(nn, sizeof *b->ys);
  b->items = calloc(nn, sizeof *b->items);
  b->in_party = calloc((size_t)c->n_input + 1, sizeof *b->in_party);
  b->in_off = calloc((size_t)c->n_input + 1, sizeof *b->in_off);
  b->out_private = calloc((size_t)c->n_output + 1, 1);
  uint32_t *order = calloc(nn, sizeof *order);
  divitem *dv = calloc(nn, sizeof *dv);
  size_t *lstart = NULL;
  cx_err e = CX_OK;
  if (!b->p || !b->pv || !b->reg || !b->depth || !b->xs || !b->ys || !b->items || !b->in_party ||
      !b->in_off || !b->out_private || !order || !dv) {
    e = cx_errf(err, errlen, CX_E_NOMEM, "out of memory building the MPC program");
    goto out;
  }
  const ir_node *N = c->nodes;
  /* public nodes, in plaintext */
  for (size_t i = 0; i < c->nnodes; i++)
    if (!N[i].secret && N[i].op != IR_OUTPUT) b->pv[i] = eval_public(b, arg, &N[i]);
  for (size_t i = 0; i < c->nports; i++)
    if (c->ports[i].kind == IR_PORT_OUT_PRIVATE)
      for (uint32_t k = 0; k < ir_port_elems(&c->ports[i]); k++) b->out_private[c->ports[i].first + k] = 1;
  /* sources: the dealers' INPUTs back to back (one input group), then the
   * params' client slots */
  if ((e = plan_inputs(b, domain_party, ndomains, err, errlen)) != CX_OK) goto out;
  for (uint32_t d = 0; d < n; d++)
    if (b->dealt[d]) b->in_reg[d] = mpc_input(b->p, d, 0, b->dealt[d]);
  for (uint32_t s = 0; s < param_slots(c); s++) b->par_reg[s] = mpc_input_client(b->p, s, param_slot_len(c, s));
  if (plan_fusion(b) != CX_OK) {
    e = cx_errf(err, errlen, CX_E_NOMEM, "out of memory building the MPC program");
    goto out;
  }
  /* layers: nodes sorted by depth (stable: circuit order within a layer) */
  uint32_t L = fused_depth(b, b->depth);
  lstart = calloc((size_t)L + 2, sizeof *lstart);
  if (!lstart) {
    e = cx_errf(err, errlen, CX_E_NOMEM, "out of memory building the MPC program");
    goto out;
  }
  for (size_t i = 0; i < c->nnodes; i++) {
    const ir_node *x = &N[i];
    /* an interactive node (ir_interactive: a vector group's item; the rest
     * is local) must come after all its operands' layers */
    uint32_t ops[3] = {x->a, x->b, x->c}, nops = b->fused[i] ? 0 : (uint32_t)ir_arity(x->op);
    for (uint32_t k = 0; k < nops; k++)
      if (b->fused[ops[k]] == 1 || b->depth[ops[k]] > b->depth[i] ||
          (ir_interactive(b->ir, x) && b->depth[ops[k]] >= b->depth[i])) {
        e = cx_errf(err, errlen, CX_E_INTERNAL, "node %zu: its depth does not follow the evaluator's "
                    "layering", i);
        goto out;
      }
    lstart[b->depth[i] + 1]++;
  }
  for (uint32_t l = 0; l <= L; l++) lstart[l + 1] += lstart[l];
  {
    size_t *fill = calloc((size_t)L + 1, sizeof *fill);
    if (!fill) {
      e = cx_errf(err, errlen, CX_E_NOMEM, "out of memory building the MPC program");
      goto out;
    }
    for (size_t i = 0; i < c->nnodes; i++) order[lstart[b->depth[i]] + fill[b->depth[i]]++] = (uint32_t)i;
    free(fill);
  }
  for (uint32_t l = 0; l <= L; l++) {
    if (l > 0) emit_layer_groups(b, order, lstart[l], lstart[l + 1], dv);
    for (size_t k = lstart[l]; k < lstart[l + 1]; k++) {
      uint32_t i = order[k];
      if (N[i].secret && N[i].op != IR_OUTPUT && !b->fused[i] && !ir_interactive(b->ir, &N[i])) emit_local(b, i);
    }
  }
  /* outputs: public ones of secret nodes opened; every private one masked,
   * a public value too (top of the file) */
  for (size_t i = 0; i < c->nnodes; i++) {
    if (N[i].op != IR_OUTPUT) continue;
    uint32_t flat = (uint32_t)N[i].imm, a = N[i].a;
    if (!secret(b, a) && !b->out_private[flat]) continue;
    uint32_t z = 0;
    if (b->out_private[flat]) {
      uint32_t r = mpc_rand(b->p, 1);
      mpc_ins in = {.op = MPC_OP_OUTPUT_SHARE, .a = r, .imm = flat};
      mpc_prog_emit(b->p, &in);
      z = secret(b, a) ? mpc_add(b->p, b->reg[a], r) : addc(b, r, cfe(b, a));
    } else {
      z = b->reg[a];
    }
    mpc_output(b->p, z, flat);
  }
  char why[200];
  if (mpc_prog_check(b->p, n, why, sizeof why) != CX_OK)
    e = cx_errf(err, errlen, CX_E_INTERNAL, "the MPC program of the circuit does not check: %s", why);
out:
  free(order);
  free(dv);
  free(lstart);
  if (e != CX_OK) bld_free(b);
  return e;
}

/* ---- the plan ---------------------------------------------------------- */

void lang_call_plan_free(lang_call_plan *p) {
  if (!p) return;
  mpc_prog_free(p->prog);
  free(p->in_party);
  free(p->in_off);
  free(p->in);
  free(p->names);
  free(p->out);
  free(p);
}

/* What the plan keeps of each output element: whether the program computes
 * it, its value when it is public and known now, its node's range. */
static void plan_outputs(const bld *b, lang_plan_out *out) {
  const ir_circuit *c = b->ir;
  for (size_t i = 0; i < c->nnodes; i++) {
    const ir_node *x = &c->nodes[i];
    if (x->op != IR_OUTPUT) continue;
    lang_plan_out *o = &out[x->imm];
    o->priv = b->out_private[x->imm];
    o->computed = secret(b, x->a) || o->priv;
    o->value = o->computed ? 0 : b->pv[x->a];
    o->lo = c->nodes[x->a].lo;
    o->hi = c->nodes[x->a].hi;
  }
}

cx_err lang_plan_build(const lang_contract *c, uint32_t n, const uint32_t *domain_party, size_t ndomains,
                       const int64_t *args, lang_call_plan **out, char *err, size_t errlen) {
  *out = NULL;
  if (n == 0 || n > MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%u parties: the consortium has 1 to %u", n, MAX_PARTIES);
  const ir_circuit *ir = &c->ir;
  bld b;
  cx_err e = build(ir, n, domain_party, ndomains, args, &b, err, errlen);
  if (e != CX_OK) return e;
  lang_call_plan *p = calloc(1, sizeof *p);
  if (p) p->out = calloc((size_t)ir->n_output + 1, sizeof *p->out);
  if (!p || !p->out) {
    free(p);
    bld_free(&b);
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory building the MPC program");
  }
  /* the program and the dealers' tables move to the plan */
  p->n = n;
  p->prog = b.p;
  p->in_party = b.in_party;
  p->in_off = b.in_off;
  b.p = NULL;
  b.in_party = b.in_off = NULL;
  memcpy(p->dealt, b.dealt, sizeof p->dealt);
  p->cmp_bits_max = b.cmp_bits_max;
  p->n_input = ir->n_input;
  p->n_param = ir->n_param;
  p->copies = ir->copies > 1 ? ir->copies : 1;
  p->n_output = ir->n_output;
  mpc_prog_cost_get(p->prog, &p->cost);
  mpc_prog_cost_at(n, (n - 1) / 3, &p->cost); /* what the pools hold at this n */
  plan_outputs(&b, p->out);
  bld_free(&b);
  if (lang_plan_name_inputs(p, ir) != CX_OK) {
    lang_call_plan_free(p);
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory building the MPC program");
  }
  *out = p;
  return CX_OK;
}

/* ---- the byte estimate ------------------------------------------------- */

/* What a program's online phase moves: elements opened (2 per MUL
 * element, 1 per OPEN and OUTPUT element) and input elements dealt. Walks
 * the program with the engine's length rules (mpc.h "programs"). */
typedef struct {
  uint64_t opened, input;
} traffic;

static cx_err prog_traffic(const mpc_program *p, traffic *t) {
  memset(t, 0, sizeof *t);
  size_t len = mpc_prog_len(p);
  uint32_t ms = 0, mp = 0; /* registers named */
  for (size_t k = 0; k < len; k++) {
    const mpc_ins *in = mpc_prog_ins(p, k);
    uint32_t m = in->d > in->a ? in->d : in->a;
    if (in->b > m) m = in->b;
    if (m >= ms) ms = m + 1;
    if (m >= mp) mp = m + 1;
  }
  uint64_t *S = calloc((size_t)ms + 1, sizeof *S), *P = calloc((size_t)mp + 1, sizeof *P);
  if (!S || !P) {
    free(S);
    free(P);
    return CX_E_NOMEM;
  }
  for (size_t k = 0; k < len; k++) {
    const mpc_ins *in = mpc_prog_ins(p, k);
    uint64_t la = S[in->a], lb = S[in->b], l = 0;
    int pub = 0;
    switch (in->op) {
      case MPC_OP_INPUT: t->input += in->imm; /* fall through */
      case MPC_OP_RAND: case MPC_OP_RANDBIT: case MPC_OP_RANDINT: case MPC_OP_SLICE: case MPC_OP_BCAST:
      case MPC_OP_INPUT_CLIENT:
        l = in->imm;
        break;
      case MPC_OP_PCONST: case MPC_OP_PSLICE: l = in->imm; pub = 1; break;
      case MPC_OP_CAT: l = la + lb; break;
      case MPC_OP_PCAT: l = P[in->a] + P[in->b]; pub = 1; break;
      case MPC_OP_SUM: l = 1; break;
      case MPC_OP_ADD: case MPC_OP_SUB: case MPC_OP_MUL: l = la == 1 ? lb : la; break;
      case MPC_OP_ADDP: case MPC_OP_SUBP: case MPC_OP_RSUBP: case MPC_OP_MULP:
        l = la == 1 ? P[in->b] : la;
        break;
      case MPC_OP_PADD: case MPC_OP_PSUB: case MPC_OP_PMUL:
        l = P[in->a] == 1 ? P[in->b] : P[in->a];
        pub = 1;
        break;
      case MPC_OP_OPEN: l = la; pub = 1; break;
      case MPC_OP_PBIT: case MPC_OP_PMOD2K: case MPC_OP_PSQRTINV: l = P[in->a]; pub = 1; break;
      case MPC_OP_OUTPUT: case MPC_OP_OUTPUT_SHARE: case MPC_OP_POOLBITS: break;
      default: l = la; break; /* ADDC MULC MOV */
    }
    if (in->op == MPC_OP_MUL) t->opened += 2 * l;
    if (in->op == MPC_OP_OPEN) t->opened += l;
    if (in->op == MPC_OP_OUTPUT) t->opened += la;
    if (in->op == MPC_OP_OUTPUT || in->op == MPC_OP_OUTPUT_SHARE || in->op == MPC_OP_POOLBITS) continue;
    if (pub)
      P[in->d] = l;
    else
      S[in->d] = l;
  }
  free(S);
  free(P);
  return CX_OK;
}

/* Bytes the busiest party sends in one call, online and preprocessing, at
 * n parties (docs/contract-language.md "Cost report"). Every figure is the
 * size of the engine's own messages, checked against mpc_local runs
 * (prepare and run of 1,000 and 11,000 items at n = 3 .. 16; the
 * per-item figures match to the byte, test_lang_mpc compares whole calls):
 *   online, per opened element: FE_BYTES to each of the n - 1 others (a
 *     robust opening is one TO_ALL message per round);
 *   online, per round: one signed message to each other party, ONLINE_MSG
 *     bytes of header, signature and tag (mpc/wire.h MPC_MSG_OVERHEAD +
 *     16), and once the round-0 pool guard (GUARD bytes);
 *   online, inputs: the busiest dealer's deltas (round B, to everyone)
 *     and the echo of every dealer's round-B message (round C, to
 *     everyone, packed 15 bytes to an element: 16/15 of its size);
 *   preprocessing with PRSS (n <= 9, mpc_prep_prss; docs/mpc-prep.md):
 *     per triple and per random bit 32 (n-1) / n on average, its round-1
 *     share (a product or a square) to its king and, as the king of 1/n of
 *     them, the opened value to each other party: 24 bytes at n = 4, 27.4
 *     at n = 7; randoms cost nothing; per prep or bits session (n-1) F[n]
 *     bytes of keys, digests, verdicts, echoes and headers, F measured
 *     (nothing else depends on the batch but the ranges' rounding);
 *   preprocessing with dealers (n >= 10): per triple 16 (n-1) (4/m + 1)
 *     with m = n - t (the deal carries 4/m elements per triple to each
 *     party, the round-1 product share one); per random 16 (n-1) / m (its
 *     share of the deal); per prep session (n-1) (317 + 284 n) bytes of
 *     coins, verdicts, echoes and headers (fitted within 2% at n = 10 ..
 *     16); per random bit one triple, one random and the bits session's
 *     three openings (r - a, r - b of r * r, then r^2).
 *   mpc_local makes prep batches of up to PREP_BATCH items and bits
 *   sessions of BITS_BATCH. */
#define ONLINE_MSG 124u
#define GUARD 64u
#define PREP_BATCH 100000u
#define BITS_BATCH 65536u

/* F[n] above, n = 0 .. 9 (mpc_local, prepare of 1,000 and 11,000 items). */
static const uint16_t k_prss_session[10] = {0, 0, 545, 541, 1560, 1893, 2220, 3110, 3740, 4422};

static uint64_t prep_bytes(uint64_t n, uint64_t T, uint64_t R, uint64_t B) {
  if (n < 2) return 0;
  uint64_t t = (n - 1) / 3, m = n - t, o = n - 1;
  uint64_t most = T + B > R + B ? T + B : R + B, bsessions = (B + BITS_BATCH - 1) / BITS_BATCH;
  if (mpc_prep_prss((uint32_t)n, (uint32_t)t) && n < sizeof k_prss_session / sizeof *k_prss_session) {
    uint64_t sessions = ((T > R ? T : R) + PREP_BATCH - 1) / PREP_BATCH;
    return 32 * o * (T + B) / n + (sessions + bsessions) * o * k_prss_session[n];
  }
  uint64_t triple = 16 * o * (T + B) * (4 + m) / m;
  uint64_t rand = 16 * o * (R + B) / m;
  uint64_t bit = 3 * 16 * o * B;
  uint64_t sessions = (most + PREP_BATCH - 1) / PREP_BATCH;
  return triple + rand + bit + sessions * o * (317 + 284 * n) + bsessions * o * 3 * ONLINE_MSG;
}

static uint64_t cost_bytes(const lang_call_plan *b, const mpc_prog_cost *pc, const traffic *t) {
  uint64_t n = b->n, o = n - 1, dmax = 0, dealers = 0;
  if (n < 2) return 0;
  for (uint32_t d = 0; d < b->n; d++) {
    if (b->dealt[d] > dmax) dmax = b->dealt[d];
    dealers += b->dealt[d] > 0;
  }
  uint64_t online = o * (FE_BYTES * t->opened + ONLINE_MSG * (uint64_t)pc->rounds + GUARD);
  /* the echo packs each dealer's signed round-B message: its deltas and
   * about 8 elements of header and signature */
  if (t->input) online += o * FE_BYTES * (dmax + (t->input + 8 * dealers) * 16 / 15);
  return online + prep_bytes(n, pc->triples, pc->rands, pc->bits);
}

/* ---- cost -------------------------------------------------------------- */

/* Every arg at its declared lo: the program's shape does not depend on the
 * values (top of the file), so any in-range value gives the same cost. */
static int64_t *args_lo(const ir_circuit *c) {
  int64_t *a = calloc((size_t)c->n_arg + 1, sizeof *a);
  if (!a) return NULL;
  for (size_t i = 0; i < c->nports; i++) {
    const ir_port *p = &c->ports[i];
    if (p->kind == IR_PORT_ARG)
      for (uint32_t k = 0; k < ir_port_elems(p); k++) a[p->first + k] = p->lo;
  }
  return a;
}

cx_err lang_cost_get(const lang_contract *c, uint32_t n, lang_cost *out, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!c || !out) return CX_E_INVALID_ARG;
  memset(out, 0, sizeof *out);
  if (n == 0 || n > MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%u parties: the consortium has 1 to %u", n, MAX_PARTIES);
  int64_t *arg = args_lo(&c->ir);
  if (!arg) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory costing the contract");
  lang_call_plan *b = NULL;
  cx_err e = lang_plan_build(c, n, NULL, 0, arg, &b, err, errlen);
  free(arg);
  if (e != CX_OK) return e;
  const mpc_prog_cost pc = b->cost;
  traffic t;
  if (prog_traffic(b->prog, &t) != CX_OK) {
    lang_call_plan_free(b);
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory costing the contract");
  }
  ir_stats st;
  ir_stats_get(&c->ir, &st);
  out->rounds = pc.rounds;
  out->nodes = st.nodes;
  out->layers = st.layers;
  out->mul = st.mul;
  out->cmp = st.lt + st.le + st.eq + st.ne;
  out->divc = st.divc;
  out->cmp_bits_max = b->cmp_bits_max;
  out->triples = pc.triples;
  out->rands = pc.rands;
  out->bits = pc.bits;
  out->ints = pc.ints;
  out->bytes_per_party = cost_bytes(b, &pc, &t);
  lang_call_plan_free(b);
  return CX_OK;
}

/* ---- running ------------------------------------------------------------ */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every value within its port's declared range (lang_values_set checks as
 * they are set; the no-overflow proof of the circuit rests on it). */
static cx_err values_in_range(const lang_contract *c, const lang_values *v, char *err, size_t errlen) {
  const ir_circuit *ir = &c->ir;
  for (size_t i = 0; i < ir->nports; i++) {
    const ir_port *p = &ir->ports[i];
    const int64_t *x = p->kind == IR_PORT_INPUT ? v->in : p->kind == IR_PORT_PARAM ? v->param
                     : p->kind == IR_PORT_ARG   ? v->arg : NULL;
    if (!x) continue;
    for (uint32_t k = 0; k < ir_port_elems(p); k++)
      if (x[p->first + k] < p->lo || x[p->first + k] > p->hi)
        return cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: a value is outside its declared range", p->name);
  }
  return CX_OK;
}

static fe *sfe_alloc(size_t count) {
  fe *v = sodium_malloc((count ? count : 1) * sizeof *v);
  if (v) memset(v, 0, (count ? count : 1) * sizeof *v);
  return v;
}

static void sfe_free(fe *v) {
  if (v) sodium_free(v); /* sodium_free wipes */
}

/* Party `party` of an in-process run, as lang_plan_outputs_from reads it. */
typedef struct {
  const mpc_local *l;
  uint32_t party;
} local_party;

static size_t local_output(const void *ctx, uint32_t slot, const fe **vals) {
  return mpc_local_output(((const local_party *)ctx)->l, slot, vals);
}

static size_t local_share(const void *ctx, uint32_t slot, const fe **vals) {
  const local_party *x = ctx;
  return mpc_local_output_share(x->l, x->party, slot, vals);
}

/* The outputs of a finished run, as a call's reader gets them: every
 * party's flat output vector (lang_call_plan_outputs), the masks rebuilt
 * from the parties' shares (mpc_reconstruct) and the private elements
 * unmasked (lang_call_unmask). */
static cx_err read_outputs(const lang_contract *c, const lang_call_plan *b, const mpc_local *l, int64_t *out,
                           char *err, size_t errlen) {
  uint32_t n = b->n;
  size_t no = b->n_output, np = 0;
  for (size_t j = 0; j < no; j++) np += b->out[j].priv;
  lang_call_output *o = sodium_malloc((no ? no : 1) * sizeof *o);
  fe *masked = sfe_alloc(np), *r = sfe_alloc(np), *sh[MAX_PARTIES] = {0};
  int64_t *z = sodium_malloc((np ? np : 1) * sizeof *z);
  size_t *flat = calloc(np + 1, sizeof *flat);
  cx_err e = o && masked && r && z && flat ? CX_OK : CX_E_NOMEM;
  for (uint32_t i = 0; i < n && e == CX_OK; i++)
    if (!(sh[i] = sfe_alloc(np))) e = CX_E_NOMEM;
  if (e != CX_OK) {
    cx_errf(err, errlen, e, "out of memory reading the outputs");
    goto out;
  }
  for (uint32_t i = 0; i < n && e == CX_OK; i++) {
    local_party ctx = {.l = l, .party = i};
    if ((e = lang_plan_outputs_from(b, local_output, local_share, &ctx, o, err, errlen)) != CX_OK) break;
    size_t q = 0;
    for (size_t j = 0; j < no; j++) {
      if (!o[j].priv) {
        if (i == 0) out[j] = o[j].value;
        continue;
      }
      if (i == 0) {
        masked[q] = o[j].masked;
        flat[q] = j;
      }
      sh[i][q++] = o[j].share;
    }
  }
  if (e == CX_OK && np) {
    uint64_t bad = 0;
    e = mpc_reconstruct(n, (n - 1) / 3, (const fe *const *)sh, np, r, &bad);
    if (e != CX_OK)
      cx_errf(err, errlen, e, "the private outputs' masks do not reconstruct from the parties' shares");
    else if ((e = lang_call_unmask(c, flat, masked, r, np, z, err, errlen)) == CX_OK)
      for (size_t k = 0; k < np; k++) out[flat[k]] = z[k];
  }
out:
  if (o) sodium_free(o); /* sodium_free wipes */
  if (z) sodium_free(z);
  sfe_free(masked);
  sfe_free(r);
  for (uint32_t i = 0; i < n; i++) sfe_free(sh[i]);
  free(flat);
  return e;
}

cx_err lang_run_mpc(const lang_contract *c, const lang_values *v, uint32_t n, const uint8_t *seed,
                    int64_t *out, lang_mpc_report *rep, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (rep) memset(rep, 0, sizeof *rep);
  if (!c || !v || v->c != c || (!out && c->ir.n_output)) return CX_E_INVALID_ARG;
  if (n == 0 || n > MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%u parties: the consortium has 1 to %u", n, MAX_PARTIES);
  cx_err e = lang_values_complete(v, err, errlen);
  if (e == CX_OK) e = values_in_range(c, v, err, errlen);
  if (e != CX_OK) return e;
  /* the plan a call would build, each domain dealt by party (its index mod
   * n): one builder for both */
  lang_call_plan *b = NULL;
  if ((e = lang_plan_build(c, n, NULL, 0, v->arg, &b, err, errlen)) != CX_OK) return e;
  const ir_circuit *ir = &c->ir;
  const mpc_prog_cost pc = b->cost;
  /* The report must be honest: the cost lang_cost_get gives (every arg at
   * its lo) is this call's, and the run below takes exactly its rounds. */
  lang_cost cost;
  if ((e = lang_cost_get(c, n, &cost, err, errlen)) != CX_OK) {
    lang_call_plan_free(b);
    return e;
  }
  if (cost.rounds != pc.rounds || cost.triples != pc.triples || cost.rands != pc.rands || cost.bits != pc.bits ||
      cost.ints != pc.ints) {
    lang_call_plan_free(b);
    return cx_errf(err, errlen, CX_E_INTERNAL, "the MPC program of this call differs from the costed one (%u "
                   "rounds, %zu triples against %u, %llu)", pc.rounds, pc.triples, cost.rounds,
                   (unsigned long long)cost.triples);
  }
  /* exactly one call's material; the bits sessions take a triple and a
   * random of their own per bit */
  size_t cap = (pc.triples > pc.rands ? pc.triples : pc.rands) + pc.bits;
  if (pc.ints > cap) cap = pc.ints;
  mpc_local *l = NULL;
  fe *dv[MAX_PARTIES] = {0}, *pv[PARAM_SLOTS_MAX] = {0};
  mpc_local_input in[MAX_PARTIES];
  mpc_local_client_input cin[PARAM_SLOTS_MAX];
  size_t nin = 0, ncin = 0;
  if ((e = mpc_local_new(n, seed, cap ? cap : 1, &l)) != CX_OK) {
    cx_errf(err, errlen, e, "the in-process consortium of %u parties cannot be set up: %s", n, cx_err_str(e));
    goto out;
  }
  double t0 = now_s();
  if ((e = mpc_local_prepare(l, &pc, err, errlen)) != CX_OK) goto out;
  double t1 = now_s();
  /* the dealers' vectors and the client's, in secret memory */
  for (uint32_t d = 0; d < n && e == CX_OK; d++) {
    if (!b->dealt[d]) continue;
    if (!(dv[d] = sfe_alloc(b->dealt[d]))) e = CX_E_NOMEM;
    else in[nin++] = (mpc_local_input){.slot = 0, .dealer = d, .vals = dv[d], .len = b->dealt[d]};
  }
  for (uint32_t s = 0; s < param_slots(ir) && e == CX_OK; s++) {
    uint32_t len = param_slot_len(ir, s);
    if (!(pv[s] = sfe_alloc(len))) {
      e = CX_E_NOMEM;
      break;
    }
    cin[ncin++] = (mpc_local_client_input){.slot = s, .vals = pv[s], .len = len};
  }
  for (uint32_t f = 0; f < ir->n_param && e == CX_OK; f++) {
    uint32_t slot, off;
    param_place(ir, f, &slot, &off);
    pv[slot][off] = fe_from_i64(v->param[f]);
  }
  if (e != CX_OK) {
    cx_errf(err, errlen, e, "out of memory dealing the inputs");
    goto out;
  }
  for (uint32_t k = 0; k < ir->n_input; k++) dv[b->in_party[k]][b->in_off[k]] = fe_from_i64(v->in[k]);
  mpc_status st;
  uint64_t bytes = 0;
  e = mpc_local_run(l, b->prog, in, nin, cin, ncin, &st, &bytes, err, errlen);
  double t2 = now_s();
  if (e == CX_OK) e = read_outputs(c, b, l, out, err, errlen);
  if (e == CX_OK && st.rounds != pc.rounds)
    e = cx_errf(err, errlen, CX_E_INTERNAL, "the run took %u rounds where the cost report says %u", st.rounds,
                pc.rounds);
  if (e == CX_OK && rep) {
    rep->n = n;
    rep->t = (n - 1) / 3;
    rep->rounds = st.rounds;
    rep->bytes_sent = bytes;
    rep->prep_bytes_sent = mpc_local_prep_bytes(l);
    rep->prep_s = t1 - t0;
    rep->online_s = t2 - t1;
  }
out:
  for (uint32_t d = 0; d < MAX_PARTIES; d++) sfe_free(dv[d]);
  for (uint32_t s = 0; s < PARAM_SLOTS_MAX; s++) sfe_free(pv[s]);
  mpc_local_free(l);
  lang_call_plan_free(b);
  if (e != CX_OK && out) memset(out, 0, (size_t)ir->n_output * sizeof *out);
  return e;
}
