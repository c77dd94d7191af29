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
 *   eval_mpc.c            circuit -> mpc_program (layered packing), cost, lang_run_mpc */
#ifndef CUSTOS_LANG_INTERNAL_H
#define CUSTOS_LANG_INTERNAL_H

#include "ir.h"
#include "lang.h"

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

#endif
