/* Plaintext evaluation and analysis of a circuit (ir.h).
 *
 * Evaluation is exact in int64: every node's range was proven within int64
 * by the builder, so on inputs within their ports' ranges no operation can
 * overflow. The node values derive from secret inputs, so they are wiped
 * before they are freed.
 *
 * Interactive depth follows what the MPC evaluator has to do for a node
 * (docs/contract-language.md "Scheduling"): a product of two secrets is a
 * Beaver multiplication; SELECT c ? a : b on a secret c is c * (a - b) + b,
 * one multiplication if a - b is secret (with both branches public it is a
 * secret times a public value, local); a comparison with a secret operand
 * and a DIVC of a secret are interactive sub-protocols. Everything else
 * (sums, differences, products with a public factor) is local. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"

/* The caller checks values against the declared ranges (ir.h); one outside
 * them would break the no-overflow proof, so it is a bug. */
static void check_leaves(const ir_circuit *c, const int64_t *in, const int64_t *param, const int64_t *arg) {
  for (size_t i = 0; i < c->nports; i++) {
    const ir_port *p = &c->ports[i];
    const int64_t *v = p->kind == IR_PORT_INPUT ? in : p->kind == IR_PORT_PARAM ? param
                     : p->kind == IR_PORT_ARG   ? arg : NULL;
    if (!v) continue;
    for (uint32_t e = 0; e < ir_port_elems(p); e++)
      CX_ASSERT(v[p->first + e] >= p->lo && v[p->first + e] <= p->hi);
  }
}

cx_err ir_eval(const ir_circuit *c, const int64_t *in, const int64_t *param, const int64_t *arg,
               int64_t *out) {
  check_leaves(c, in, param, arg);
  size_t nn = c->nnodes;
  int64_t *v = malloc((nn ? nn : 1) * sizeof *v);
  if (!v) return CX_E_NOMEM;
  for (size_t i = 0; i < nn; i++) {
    const ir_node *n = &c->nodes[i];
    int64_t x = 0;
    switch (n->op) {
      case IR_CONST: x = n->imm; break;
      case IR_INPUT: x = in[n->imm]; break;
      case IR_PARAM: x = param[n->imm]; break;
      case IR_ARG: x = arg[n->imm]; break;
      case IR_ADD: x = v[n->a] + v[n->b]; break;
      case IR_SUB: x = v[n->a] - v[n->b]; break;
      case IR_MUL: x = v[n->a] * v[n->b]; break;
      case IR_DIVC: x = ir_floordiv(v[n->a], n->imm); break;
      case IR_LT: x = v[n->a] < v[n->b]; break;
      case IR_LE: x = v[n->a] <= v[n->b]; break;
      case IR_EQ: x = v[n->a] == v[n->b]; break;
      case IR_NE: x = v[n->a] != v[n->b]; break;
      case IR_SELECT: x = v[n->a] ? v[n->b] : v[n->c]; break;
      case IR_OUTPUT: out[n->imm] = v[n->a]; break;
      default: CX_ASSERT(0);
    }
    v[i] = x;
  }
  sodium_memzero(v, (nn ? nn : 1) * sizeof *v);
  free(v);
  return CX_OK;
}

int ir_interactive(const ir_circuit *c, const ir_node *n) {
  const ir_node *N = c->nodes;
  switch (n->op) {
    case IR_MUL: return N[n->a].secret && N[n->b].secret;
    case IR_SELECT: return N[n->a].secret && (N[n->b].secret || N[n->c].secret);
    case IR_LT: case IR_LE: case IR_EQ: case IR_NE: case IR_DIVC: return n->secret;
    default: return 0;
  }
}

uint32_t ir_node_depth(const ir_circuit *c, const uint32_t *depth, size_t i) {
  const ir_node *n = &c->nodes[i];
  int k = ir_arity(n->op);
  uint32_t d = 0;
  if (k >= 1 && depth[n->a] > d) d = depth[n->a];
  if (k >= 2 && depth[n->b] > d) d = depth[n->b];
  if (k >= 3 && depth[n->c] > d) d = depth[n->c];
  return d + (uint32_t)ir_interactive(c, n);
}

uint32_t ir_depth(const ir_circuit *c, uint32_t *depth) {
  uint32_t max = 0;
  for (size_t i = 0; i < c->nnodes; i++) {
    depth[i] = ir_node_depth(c, depth, i);
    if (depth[i] > max) max = depth[i];
  }
  return max;
}

void ir_stats_get(const ir_circuit *c, ir_stats *out) {
  memset(out, 0, sizeof *out);
  out->nodes = c->nnodes;
  /* ir_stats has no error to return: the depth array is 4 bytes a node
   * next to the circuit's 48, and running out of memory here aborts. */
  uint32_t *depth = malloc((c->nnodes ? c->nnodes : 1) * sizeof *depth);
  CX_ASSERT(depth);
  out->layers = ir_depth(c, depth);
  free(depth);
  for (size_t i = 0; i < c->nnodes; i++) {
    const ir_node *n = &c->nodes[i];
    if (!ir_interactive(c, n)) continue;
    switch (n->op) {
      case IR_MUL: case IR_SELECT: out->mul++; break;
      case IR_LT: out->lt++; break;
      case IR_LE: out->le++; break;
      case IR_EQ: out->eq++; break;
      case IR_NE: out->ne++; break;
      case IR_DIVC: out->divc++; break;
      default: break;
    }
  }
}

void ir_flows(const ir_circuit *c, size_t port, uint64_t mask[IR_MAX_PORTS / 64]) {
  memset(mask, 0, IR_MAX_PORTS / 64 * sizeof *mask);
  CX_ASSERT(port < c->nports);
  const ir_port *op = &c->ports[port];
  CX_ASSERT(op->kind == IR_PORT_OUT_PUBLIC || op->kind == IR_PORT_OUT_PRIVATE);
  uint8_t *reach = calloc(c->nnodes ? c->nnodes : 1, 1);
  if (!reach) {
    /* No memory for the walk: answer every input and param, an
     * over-approximation (a flow report may list too much, never too
     * little). */
    for (size_t i = 0; i < c->nports; i++)
      if (c->ports[i].kind == IR_PORT_INPUT || c->ports[i].kind == IR_PORT_PARAM)
        mask[i / 64] |= 1ull << (i % 64);
    return;
  }
  ir_mark_live(c, op->first, ir_port_elems(op), reach);
  for (size_t i = 0; i < c->nnodes; i++) {
    const ir_node *n = &c->nodes[i];
    if (!reach[i] || (n->op != IR_INPUT && n->op != IR_PARAM)) continue;
    size_t p = ir_leaf_port(c, ir_leaf_kind(n->op), (uint32_t)n->imm);
    mask[p / 64] |= 1ull << (p % 64);
  }
  free(reach);
}
