/* Batched evaluation (lang.h "batches"): copies of one contract's circuit in
 * one circuit, so that one MPC program evaluates many calls and the
 * evaluator packs the copies' layers into shared rounds. */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "lang_internal.h"

/* Where element j of port p lands in copy k of a batch of `copies`: every
 * port becomes an array of copies times its elements (copy k's at
 * k * elems), so kinds keep their order and port p starts at p->first *
 * copies. */
static uint32_t batch_index(const ir_port *p, uint32_t k, uint32_t j, uint32_t copies) {
  return p->first * copies + k * ir_port_elems(p) + j;
}

/* The output port holding flat output element f (public and private
 * outputs share one flat vector). */
static const ir_port *output_port(const ir_circuit *c, uint32_t f) {
  for (size_t i = 0; i < c->nports; i++) {
    const ir_port *p = &c->ports[i];
    if (p->kind >= IR_PORT_OUT_PUBLIC && f >= p->first && f - p->first < ir_port_elems(p)) return p;
  }
  CX_ASSERT(0 && "no output port holds the element");
  return NULL;
}

uint32_t lang_batch_max(const lang_contract *c) {
  uint32_t most = c->ir.n_param ? LANG_PARAM_SLOTS_MAX : IR_MAX_ARRAY;
  for (size_t i = 0; i < c->ir.nports; i++)
    if (IR_MAX_ARRAY / ir_port_elems(&c->ir.ports[i]) < most) most = IR_MAX_ARRAY / ir_port_elems(&c->ir.ports[i]);
  return most;
}

cx_err lang_batch(const lang_contract *c, uint32_t copies, lang_contract **out, char *err, size_t errlen) {
  *out = NULL;
  const ir_circuit *ir = &c->ir;
  if (copies < 1) return cx_errf(err, errlen, CX_E_INVALID_ARG, "a batch has at least one copy");
  lang_contract *b = calloc(1, sizeof *b);
  uint32_t *map = malloc((ir->nnodes ? ir->nnodes : 1) * sizeof *map);
  cx_err e = CX_OK;
  if (!b || !map) {
    free(b);
    free(map);
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  }
  ir_init(&b->ir, ir->name);
  for (size_t i = 0; i < ir->nports && !e; i++) {
    const ir_port *p = &ir->ports[i];
    if ((uint64_t)ir_port_elems(p) * copies > IR_MAX_ARRAY)
      e = cx_errf(err, errlen, CX_E_LANG_LIMIT, "%s: %u copies of %u elements exceed an array's %u", p->name,
                  copies, ir_port_elems(p), IR_MAX_ARRAY);
    else if ((e = ir_add_port(&b->ir, p->kind, p->base, p->name, ir_port_elems(p) * copies, p->lo, p->hi)))
      cx_errf(err, errlen, e, "%s: cannot declare the batch's port", p->name);
    else
      b->ir.ports[i].unit_len = p->len;
  }
  b->ir.copies = copies;
  for (uint32_t k = 0; k < copies && !e; k++) {
    for (size_t i = 0; i < ir->nnodes && !e; i++) {
      const ir_node *x = &ir->nodes[i];
      int64_t imm = x->imm;
      if (x->op == IR_INPUT || x->op == IR_PARAM || x->op == IR_ARG) {
        const ir_port *p = &ir->ports[ir_leaf_port(ir, ir_leaf_kind(x->op), (uint32_t)x->imm)];
        imm = batch_index(p, k, (uint32_t)(x->imm - p->first), copies);
      } else if (x->op == IR_OUTPUT) {
        const ir_port *p = output_port(ir, (uint32_t)x->imm);
        imm = batch_index(p, k, (uint32_t)(x->imm - p->first), copies);
      }
      int n = ir_arity(x->op);
      map[i] = ir_emit(&b->ir, x->op, n >= 1 ? map[x->a] : 0, n >= 2 ? map[x->b] : 0, n >= 3 ? map[x->c] : 0,
                       imm, &e);
      if (map[i] == IR_NONE) cx_errf(err, errlen, e, "the batch's circuit: %s", cx_err_str(e));
    }
  }
  free(map);
  if (!e && (e = ir_finish(&b->ir))) cx_errf(err, errlen, e, "the batch's circuit: %s", cx_err_str(e));
  if (!e && (e = ir_encode(&b->ir, &b->bc, &b->bclen))) cx_errf(err, errlen, e, "out of memory");
  if (e) {
    lang_free(b);
    return e;
  }
  hash_tagged(CX_TAG_CONTRACT, b->bc, b->bclen, &b->id);
  *out = b;
  return CX_OK;
}

/* The batch's flat vector of one port kind from each copy's: srcs[k] is
 * copy k's (c's layout). */
static void batch_flat(const ir_circuit *ir, uint8_t kind, uint32_t copies, const int64_t *const *srcs,
                       int64_t *dst) {
  for (size_t i = 0; i < ir->nports; i++) {
    const ir_port *p = &ir->ports[i];
    if (p->kind != kind) continue;
    for (uint32_t k = 0; k < copies; k++)
      memcpy(dst + batch_index(p, k, 0, copies), srcs[k] + p->first, ir_port_elems(p) * sizeof *dst);
  }
}

cx_err lang_batch_values(const lang_contract *batch, const lang_contract *c, const lang_values *const *v,
                         uint32_t copies, lang_values **out, char *err, size_t errlen) {
  *out = NULL;
  for (uint32_t k = 0; k < copies; k++) {
    cx_err e = lang_values_complete(v[k], err, errlen);
    if (e) return e;
  }
  lang_values *bv = lang_values_new(batch);
  const int64_t **srcs = malloc(copies * sizeof *srcs);
  if (!bv || !srcs) {
    lang_values_free(bv);
    free(srcs);
    return cx_errf(err, errlen, CX_E_NOMEM, "out of memory");
  }
  for (uint32_t k = 0; k < copies; k++) srcs[k] = v[k]->in;
  batch_flat(&c->ir, IR_PORT_INPUT, copies, srcs, bv->in);
  for (uint32_t k = 0; k < copies; k++) srcs[k] = v[k]->param;
  batch_flat(&c->ir, IR_PORT_PARAM, copies, srcs, bv->param);
  for (uint32_t k = 0; k < copies; k++) srcs[k] = v[k]->arg;
  batch_flat(&c->ir, IR_PORT_ARG, copies, srcs, bv->arg);
  free(srcs);
  memset(bv->set, 1, batch->ir.nports);
  *out = bv;
  return CX_OK;
}

uint32_t lang_batch_output(const lang_contract *c, uint32_t copies, uint32_t k, uint32_t f) {
  CX_ASSERT(k < copies && f < c->ir.n_output);
  const ir_port *p = output_port(&c->ir, f);
  return batch_index(p, k, f - p->first, copies);
}

void lang_batch_outputs(const lang_contract *c, uint32_t copies, const int64_t *batch_out, uint32_t k,
                        int64_t *out) {
  for (uint32_t f = 0; f < c->ir.n_output; f++) out[f] = batch_out[lang_batch_output(c, copies, k, f)];
}

void lang_batch_args(const lang_contract *c, uint32_t copies, const int64_t *const *args, int64_t *out) {
  batch_flat(&c->ir, IR_PORT_ARG, copies, args, out);
}
