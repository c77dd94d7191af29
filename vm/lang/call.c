/* One contract call as the consortium's MPC program (lang_call.h;
 * docs/calls.md §1–§3, docs/contract-language.md §7 "The plan of a call").
 *
 * The program itself comes from the one builder, eval_mpc.c
 * (lang_plan_build), which lang_run_mpc and lang_cost_get use too; this
 * file checks a call's public data before building, names the record
 * fields each dealer reads, turns a finished session's slots into the flat
 * output vector, and unmasks private elements for the reader. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang_internal.h"

typedef __int128 i128;

/* a call's params are one client slot: what a call transaction carries */
_Static_assert(LANG_PARAM_SLOT == CX_CALL_MAX_VALUES, "one client slot holds a call's params");

/* ---- building ------------------------------------------------------------ */

cx_err lang_call_plan_new(const lang_contract *c, uint32_t n, const uint32_t *domain_party, size_t ndomains,
                          const int64_t *args, size_t nargs, lang_call_plan **out, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (out) *out = NULL;
  if (!c || !out || (ndomains && !domain_party) || (nargs && !args))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "a call plan needs a contract, its dealers and its args");
  const ir_circuit *ir = &c->ir;
  if (n == 0 || n > LANG_MAX_PARTIES)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%u parties: the consortium has 1 to %u", n,
                   LANG_MAX_PARTIES);
  if (nargs != ir->n_arg)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "%zu args given, the contract takes %u", nargs, ir->n_arg);
  /* the no-overflow proof of the circuit, and so the program, rest on the
   * declared ranges */
  for (size_t i = 0; i < ir->nports; i++) {
    const ir_port *p = &ir->ports[i];
    if (p->kind != IR_PORT_ARG) continue;
    for (uint32_t k = 0; k < ir_port_elems(p); k++) {
      int64_t a = args[p->first + k];
      if (a < p->lo || a > p->hi)
        return cx_errf(err, errlen, CX_E_LANG_INPUT, "%s: %lld is outside its declared range %lld..%lld",
                       p->name, (long long)a, (long long)p->lo, (long long)p->hi);
    }
  }
  /* a call carries its params in one client dealing (CX_CALL_MAX_VALUES);
   * a batch, one per copy */
  uint32_t copies = ir->copies > 1 ? ir->copies : 1;
  if (ir->n_param / copies > LANG_PARAM_SLOT)
    return cx_errf(err, errlen, CX_E_LANG_LIMIT, "%u param elements are more than one call carries (%u)",
                   ir->n_param / copies, LANG_PARAM_SLOT);
  /* NULL would mean "domain i mod n" to the builder: a call always names
   * its dealers (none for a contract without inputs) */
  static const uint32_t none[1] = {0};
  return lang_plan_build(c, n, domain_party ? domain_party : none, ndomains, args, out, err, errlen);
}

const mpc_program *lang_call_plan_program(const lang_call_plan *p) { return p->prog; }

void lang_call_plan_material(const lang_call_plan *p, size_t *triples, size_t *rands, size_t *bits,
                             size_t *ints) {
  if (triples) *triples = p->cost.triples;
  if (rands) *rands = p->cost.rands;
  if (bits) *bits = p->cost.bits;
  if (ints) *ints = p->cost.ints;
}

size_t lang_call_plan_params(const lang_call_plan *p) { return p->n_param / p->copies; }

/* ---- inputs: the record fields a dealer reads ------------------------------ */

/* docs/calls.md §1: a scalar input d.f reads field f; element k (from 0)
 * of an array input d.f reads field f_<k+1>. */
static size_t field_name(char *buf, size_t cap, const char *field, uint32_t len, uint32_t k) {
  int w = len ? snprintf(buf, cap, "%s_%u", field, k + 1) : snprintf(buf, cap, "%s", field);
  return (size_t)w + 1;
}

cx_err lang_plan_name_inputs(lang_call_plan *p, const ir_circuit *c) {
  /* room for every string: a port's domain once, each element's field
   * with a suffix of at most '_' and 10 digits */
  size_t cap = 1;
  for (size_t i = 0; i < c->nports; i++)
    if (c->ports[i].kind == IR_PORT_INPUT) {
      size_t l = strlen(c->ports[i].name);
      cap += l + 1 + (size_t)ir_port_elems(&c->ports[i]) * (l + 12);
    }
  p->names = malloc(cap);
  p->in = calloc((size_t)p->n_input + 1, sizeof *p->in);
  if (!p->names || !p->in) return CX_E_NOMEM;
  size_t first = 0, used = 0;
  for (uint32_t d = 0; d < p->n; d++) {
    p->in_first[d] = first;
    first += p->dealt[d];
  }
  for (size_t i = 0; i < c->nports; i++) {
    const ir_port *port = &c->ports[i];
    if (port->kind != IR_PORT_INPUT) continue;
    const char *dot = strchr(port->name, '.');
    size_t dl = dot ? (size_t)(dot - port->name) : strlen(port->name);
    const char *field = dot ? dot + 1 : "";
    char *dom = p->names + used;
    memcpy(dom, port->name, dl);
    dom[dl] = 0;
    used += dl + 1;
    int is_bool = port->base == IR_T_BOOL;
    /* a batch's port holds every copy's elements (lang.h): named as one call's */
    uint32_t len = p->copies > 1 ? port->unit_len : port->len, ue = ir_port_elems(port) / p->copies;
    for (uint32_t k = 0; k < ir_port_elems(port); k++) {
      uint32_t e = port->first + k;
      lang_call_input *x = &p->in[p->in_first[p->in_party[e]] + p->in_off[e]];
      x->domain = dom;
      x->field = p->names + used;
      x->copy = k / ue;
      used += field_name(p->names + used, cap - used, field, len, k % ue);
      x->lo = is_bool ? 0 : port->lo;
      x->hi = is_bool ? 1 : port->hi;
    }
  }
  return CX_OK;
}

size_t lang_call_plan_inputs(const lang_call_plan *p, uint32_t party, const lang_call_input **out) {
  if (party >= p->n || !p->dealt[party]) {
    *out = NULL;
    return 0;
  }
  *out = &p->in[p->in_first[party]];
  return (size_t)p->dealt[party];
}

/* ---- outputs --------------------------------------------------------------- */

/* The integer a field element stands for (centred lift), exactly: an
 * element outside int64 stays outside, so a range check on the result is
 * sound (fe_to_i64 would wrap it). */
static i128 fe_lift(fe x) { return x > FE_P / 2 ? -(i128)(FE_P - x) : (i128)x; }

cx_err lang_plan_outputs_from(const lang_call_plan *p, lang_slot_fn output, lang_slot_fn share, const void *ctx,
                              lang_call_output *out, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  cx_err e = CX_OK;
  for (uint32_t j = 0; j < p->n_output && e == CX_OK; j++) {
    const lang_plan_out *o = &p->out[j];
    lang_call_output *x = &out[j];
    memset(x, 0, sizeof *x);
    x->priv = o->priv;
    if (!o->computed) { /* a public element known when the plan was built */
      x->value = o->value;
      continue;
    }
    const fe *v = NULL, *s = NULL;
    if (output(ctx, j, &v) != 1) {
      e = cx_errf(err, errlen, CX_E_INTERNAL, "output %u of the program is missing from the session", j);
    } else if (!o->priv) {
      i128 z = fe_lift(v[0]);
      /* the engine never outputs a wrong value: one outside its static
       * range is a bug of the builder or the engine */
      if (z < o->lo || z > o->hi)
        e = cx_errf(err, errlen, CX_E_INTERNAL, "public output %u of the session is outside its static range",
                    j);
      else
        x->value = (int64_t)z;
    } else if (share(ctx, j, &s) != 1) {
      e = cx_errf(err, errlen, CX_E_INTERNAL, "the session has no share of private output %u's mask", j);
    } else {
      x->masked = v[0];
      x->share = s[0];
    }
  }
  if (e != CX_OK) sodium_memzero(out, (size_t)p->n_output * sizeof *out); /* shares are secrets */
  return e;
}

static size_t session_output(const void *ctx, uint32_t slot, const fe **vals) {
  return mpc_session_output(ctx, slot, vals);
}

static size_t session_share(const void *ctx, uint32_t slot, const fe **vals) {
  return mpc_session_output_share(ctx, slot, vals);
}

cx_err lang_call_plan_outputs(const lang_call_plan *p, const mpc_session *s, lang_call_output *out, char *err,
                              size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!p || !s || (!out && p->n_output))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "outputs need a plan, a session and room for them");
  if (mpc_session_status(s)->state != MPC_DONE)
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "the session is not done: it has no outputs");
  return lang_plan_outputs_from(p, session_output, session_share, s, out, err, errlen);
}

/* ---- the reader ------------------------------------------------------------ */

cx_err lang_call_unmask(const lang_contract *c, const size_t *flat, const fe *masked, const fe *r, size_t npriv,
                        int64_t *out, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!c || (npriv && (!flat || !masked || !r || !out)))
    return cx_errf(err, errlen, CX_E_INVALID_ARG, "unmasking needs the contract and the private elements");
  const ir_circuit *ir = &c->ir;
  /* the OUTPUT node of each private element; NOT_PRIVATE for a public
   * one, NO_NODE for a private one without its node (none in a finished
   * circuit) */
  const uint32_t NOT_PRIVATE = UINT32_MAX, NO_NODE = UINT32_MAX - 1;
  uint32_t *node = malloc(((size_t)ir->n_output + 1) * sizeof *node);
  if (!node) return cx_errf(err, errlen, CX_E_NOMEM, "out of memory unmasking the outputs");
  for (size_t j = 0; j <= ir->n_output; j++) node[j] = NOT_PRIVATE;
  for (size_t i = 0; i < ir->nports; i++) {
    const ir_port *p = &ir->ports[i];
    if (p->kind != IR_PORT_OUT_PRIVATE) continue;
    for (uint32_t k = 0; k < ir_port_elems(p); k++) node[p->first + k] = NO_NODE;
  }
  for (size_t i = 0; i < ir->nnodes; i++)
    if (ir->nodes[i].op == IR_OUTPUT && node[ir->nodes[i].imm] == NO_NODE) node[ir->nodes[i].imm] = (uint32_t)i;
  cx_err e = CX_OK;
  for (size_t k = 0; k < npriv && e == CX_OK; k++) {
    size_t j = flat[k];
    if (j >= ir->n_output || node[j] == NOT_PRIVATE || node[j] == NO_NODE) {
      e = cx_errf(err, errlen, CX_E_INVALID_ARG, "flat output %zu is not a private output element", j);
      break;
    }
    const ir_node *x = &ir->nodes[ir->nodes[node[j]].a];
    i128 z = fe_lift(fe_sub(masked[k], r[k]));
    if (z < x->lo || z > x->hi)
      e = cx_errf(err, errlen, CX_E_MPC_CHECK_FAILED, "private output %zu unmasks outside its range: "
                  "the shares or the masked value are not what the parties computed", j);
    else
      out[k] = (int64_t)z;
  }
  free(node);
  if (e != CX_OK && npriv && out) sodium_memzero(out, npriv * sizeof *out);
  return e;
}
