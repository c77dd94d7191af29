/* ir_finish: the passes that make a built circuit canonical (ir.h;
 * docs/contract-language.md §6).
 *
 * Folding and CSE are one rebuild: every node, in order, is re-emitted
 * through the builder with fold = 1 into a fresh circuit, its operands
 * mapped to what they became. The builder orders commutative operands,
 * folds constants, applies the simplifications and returns an existing
 * identical node, so the rebuild of node i is exactly what ir_emit would
 * have returned had the circuit been built with fold = 1 from the start:
 * a circuit built with fold = 0 and one built with fold = 1 from the same
 * calls finish to the same nodes.
 *
 * Dead-code elimination then keeps the nodes that reach an OUTPUT (the
 * roots) and renumbers them in their relative order. That is already a
 * fixed point: removing dead nodes changes no remaining node's operands or
 * ranges, so re-emitting the survivors folds nothing, and they were
 * distinct before so they stay distinct. The decoder (bytecode.c) checks
 * the same property on every node it reads. */
#include <stdlib.h>

#include "ir.h"

/* Every output element has exactly one OUTPUT node. */
static cx_err check_outputs(const ir_circuit *c) {
  uint8_t *seen = calloc(c->n_output ? c->n_output : 1, 1);
  if (!seen) return CX_E_NOMEM;
  cx_err r = CX_OK;
  for (size_t i = 0; i < c->nnodes && !r; i++) {
    const ir_node *n = &c->nodes[i];
    if (n->op != IR_OUTPUT) continue;
    if (seen[n->imm]++) r = CX_E_LANG_NAME;
  }
  for (uint32_t e = 0; e < c->n_output && !r; e++)
    if (!seen[e]) r = CX_E_LANG_NAME;
  free(seen);
  return r;
}

/* Folding and CSE: c's nodes re-emitted into nc (which shares c's ports). */
static cx_err rebuild(const ir_circuit *c, ir_circuit *nc) {
  *nc = *c;
  nc->nodes = NULL;
  nc->nnodes = nc->cap = 0;
  nc->ht = NULL;
  nc->htcap = 0;
  nc->fold = 1;
  uint32_t *map = malloc((c->nnodes ? c->nnodes : 1) * sizeof *map);
  if (!map) return CX_E_NOMEM;
  cx_err err = CX_OK;
  for (size_t i = 0; i < c->nnodes; i++) {
    const ir_node *n = &c->nodes[i];
    int k = ir_arity(n->op);
    uint32_t a = k >= 1 ? map[n->a] : 0, b = k >= 2 ? map[n->b] : 0, cc = k >= 3 ? map[n->c] : 0;
    /* Each node re-emits as at most one new node (itself or a folded
     * constant), so the limit cannot be reached here; a range refusal
     * cannot either (folded ranges are within the raw ones). */
    map[i] = ir_emit(nc, n->op, a, b, cc, n->imm, &err);
    if (map[i] == IR_NONE) break;
  }
  free(map);
  free(nc->ht);
  nc->ht = NULL;
  nc->htcap = 0;
  if (err) {
    free(nc->nodes);
    nc->nodes = NULL;
  }
  return err;
}

void ir_mark_live(const ir_circuit *c, uint32_t first, uint32_t n, uint8_t *live) {
  /* Operands are below their node: one backward sweep from the roots marks
   * everything they depend on. */
  for (size_t i = c->nnodes; i-- > 0;) {
    const ir_node *x = &c->nodes[i];
    if (x->op == IR_OUTPUT && (uint64_t)x->imm - first < n) live[i] = 1;
    if (!live[i]) continue;
    int k = ir_arity(x->op);
    if (k >= 1) live[x->a] = 1;
    if (k >= 2) live[x->b] = 1;
    if (k >= 3) live[x->c] = 1;
  }
}

/* Dead-code elimination and renumbering, in place. */
static cx_err dce(ir_circuit *c) {
  size_t nn = c->nnodes;
  uint32_t *idx = malloc((nn ? nn : 1) * sizeof *idx);
  uint8_t *live = calloc(nn ? nn : 1, 1);
  if (!idx || !live) {
    free(idx);
    free(live);
    return CX_E_NOMEM;
  }
  ir_mark_live(c, 0, c->n_output, live);
  size_t m = 0;
  for (size_t i = 0; i < nn; i++) {
    if (!live[i]) {
      idx[i] = IR_NONE;
      continue;
    }
    ir_node n = c->nodes[i];
    int k = ir_arity(n.op);
    if (k >= 1) n.a = idx[n.a];
    if (k >= 2) n.b = idx[n.b];
    if (k >= 3) n.c = idx[n.c];
    idx[i] = (uint32_t)m;
    c->nodes[m++] = n;
  }
  c->nnodes = m;
  free(idx);
  free(live);
  return CX_OK;
}

cx_err ir_finish(ir_circuit *c) {
  /* Checked on the circuit as built: the passes neither merge nor drop
   * OUTPUT nodes, and on this error c is left as it was. */
  cx_err err = check_outputs(c);
  if (err) return err;
  ir_circuit nc;
  if ((err = rebuild(c, &nc)) != CX_OK) return err;
  if ((err = dce(&nc)) != CX_OK) {
    free(nc.nodes);
    return err;
  }
  free(c->nodes);
  free(c->ht);
  c->nodes = nc.nodes;
  c->nnodes = nc.nnodes;
  c->cap = nc.cap;
  c->ht = NULL;
  c->htcap = 0;
  return CX_OK;
}
