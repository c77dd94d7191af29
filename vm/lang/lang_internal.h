/* vm/lang internals shared by its files (not part of the public header).
 *
 * Files and what they own:
 *   lex.c parse.c ast.h   tokens and the syntax tree (front end)
 *   check.c               names, types, secrecy, limits over the tree
 *   interp.c              the reference interpreter (over the checked tree)
 *   lower.c               tree -> circuit (ir.h builder)
 *   ir.c                  circuit builder: ranges, folding, hash-consing
 *   ir_pass.c             ir_finish: fold, CSE, DCE, renumbering
 *   bytecode.c            ir_encode / ir_decode
 *   ir_eval.c             plaintext evaluation, depth, stats, flows
 *   lang.c                lang_compile / lang_decode / accessors / values / JSON
 *   batch.c               lang_batch: copies of a circuit in one (throughput)
 *   eval_mpc.c            circuit -> mpc_program (layered packing): the one builder of
 *                         lang_call_plan; cost, lang_run_mpc on top of it
 *   call.c                lang_call.h: plan checks, record-field names, outputs, unmask */
#ifndef CUSTOS_LANG_INTERNAL_H
#define CUSTOS_LANG_INTERNAL_H

#include "ir.h"
#include "lang.h"
#include "lang_call.h"

struct lang_ast; /* parse.c / ast.h: the checked tree of a compiled source */

struct lang_contract {
  ir_circuit ir;          /* finished (canonical) circuit */
  uint8_t *bc;            /* its bytecode (malloc) */
  size_t bclen;
  cx_hash id;             /* H_CONTRACT(bc) */
  struct lang_ast *ast;   /* NULL for a decoded contract */
};

struct lang_values {
  const lang_contract *c;
  int64_t *in, *param, *arg;  /* flat vectors (sodium_malloc'd: inputs are secrets) */
  uint8_t *set;               /* per port: 1 once set */
};

/* Frees the checked tree (parse.c). */
void lang_ast_free(struct lang_ast *a);

/* Front end (parse.c, check.c, lower.c): source -> checked tree -> circuit
 * (ports declared, nodes emitted, not yet finished). CX_OK or an error in
 * *diag. On error nothing is left allocated in *ast or *ir. */
cx_err lang_front(const char *src, size_t len, struct lang_ast **ast, ir_circuit *ir, lang_diag *diag);

/* Reference interpreter (interp.c): evaluates the checked tree on the
 * flat vectors, writing the flat outputs. */
cx_err lang_interp(const struct lang_ast *ast, const ir_circuit *ir, const int64_t *in,
                   const int64_t *param, const int64_t *arg, int64_t *out, char *err, size_t errlen);

/* Checks that every port of v was set: CX_E_LANG_INPUT naming the first
 * that was not. */
cx_err lang_values_complete(const lang_values *v, char *err, size_t errlen);

/* ---- the plan of one call (lang_call.h; eval_mpc.c builds, call.c reads) ---- */

/* Parties: party sets are 64-bit masks in the engine (mpc/shamir.h
 * MPC_MAX_N). Values per client slot: mpc/client.h MPC_CLIENT_MAX_VALUES
 * (lang_run_mpc may use up to LANG_PARAM_SLOTS_MAX slots; a call, one). */
#define LANG_MAX_PARTIES 64u
#define LANG_PARAM_SLOT 4096u
#define LANG_PARAM_SLOTS_MAX 64u

/* One element of the flat output vector, as the plan knows it. */
typedef struct {
  uint8_t priv;     /* element of a private port */
  uint8_t computed; /* OUTPUT slot j (and, private, OUTPUT_SHARE slot j) is in the program */
  int64_t value;    /* public and not computed: its value, known when the plan was built */
  int64_t lo, hi;   /* static range of its node */
} lang_plan_out;

struct lang_call_plan {
  uint32_t n;
  mpc_program *prog;             /* checked */
  mpc_prog_cost cost;
  uint32_t cmp_bits_max;         /* widest comparison (lang_cost) */
  uint32_t n_input, n_param, n_output;
  uint32_t copies;               /* calls in the plan: 1, or a batch's (lang.h) */
  uint64_t dealt[LANG_MAX_PARTIES]; /* elements each party deals (its INPUT slot 0 length) */
  uint32_t *in_party, *in_off;   /* per flat input element: dealer, place in its slot */
  lang_call_input *in;           /* every dealt element; party p's from in_first[p], slot order */
  size_t in_first[LANG_MAX_PARTIES];
  char *names;                   /* the strings in[] points into */
  lang_plan_out *out;            /* n_output */
};

/* The one builder (eval_mpc.c): the program of contract c among n parties
 * with these args (each within its port's range: the caller checks). The
 * dealer of the i-th domain (lang_domains order) is domain_party[i], which
 * must have ndomains = the number of domains and parties < n
 * (CX_E_INVALID_ARG otherwise); domain_party NULL: domain i mod n
 * (lang_run_mpc, lang_cost_get). Params take as many client slots as they
 * need (up to LANG_PARAM_SLOTS_MAX, CX_E_LANG_LIMIT beyond). */
cx_err lang_plan_build(const lang_contract *c, uint32_t n, const uint32_t *domain_party, size_t ndomains,
                       const int64_t *args, lang_call_plan **out, char *err, size_t errlen);

/* call.c: fills p->in, p->in_first and p->names from the circuit's input
 * ports and p->in_party / p->in_off (the record-field naming rule,
 * docs/calls.md §1). CX_E_NOMEM. */
cx_err lang_plan_name_inputs(lang_call_plan *p, const ir_circuit *c);

/* lang_call_plan_outputs with the session's slots given by two getters
 * (output: mpc_session_output's contract; share: this party's
 * mpc_session_output_share), so an in-process run (mpc_local) reads its
 * parties' outputs the same way. */
typedef size_t (*lang_slot_fn)(const void *ctx, uint32_t slot, const fe **vals);
cx_err lang_plan_outputs_from(const lang_call_plan *p, lang_slot_fn output, lang_slot_fn share, const void *ctx,
                              lang_call_output *out, char *err, size_t errlen);

#endif
