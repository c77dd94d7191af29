/* vm/lang internal: the circuit (SSA) that a contract compiles to, its
 * builder, passes, bytecode and plaintext evaluation
 * (docs/contract-language.md §6).
 *
 * A circuit is a list of nodes; node i's operands are nodes < i. Every
 * value is an integer; bools are 0/1. Every node carries its static range
 * [lo, hi] (always within int64: the builder refuses a node that might
 * leave it) and whether it is secret (depends on an INPUT or PARAM).
 *
 * Ownership: an ir_circuit owns its ports and nodes (malloc); ir_free
 * releases them. Not thread-safe; no global state. */
#ifndef CUSTOS_LANG_IR_H
#define CUSTOS_LANG_IR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define IR_NAME_MAX 65        /* "domain.field": 32 + 1 + 32 */
#define IR_MAX_PORTS 256
#define IR_MAX_ARRAY 4096
#define IR_MAX_NODES 200000u
#define IR_NONE UINT32_MAX    /* "no node": a refused emit */

/* ---- ops ------------------------------------------------------------------
 * Encoding of each node in the bytecode after its op byte:
 *   CONST                 imm (zigzag)
 *   INPUT, PARAM, ARG     imm (varint): flat element index in its kind
 *   ADD SUB MUL           a b            (ADD, MUL: canonical a <= b)
 *   LT LE                 a b
 *   EQ NE                 a b            (canonical a <= b)
 *   DIVC                  a imm (varint, >= 2)
 *   SELECT                a b c          (a ? b : c, a in {0, 1})
 *   OUTPUT                a imm (varint): flat output element index
 * where an operand is the varint distance back (node index - operand index). */
typedef enum {
  IR_CONST = 1, /* public value imm */
  IR_INPUT,     /* secret: element imm of the flat input vector */
  IR_PARAM,     /* secret: element imm of the flat param vector */
  IR_ARG,       /* public: element imm of the flat arg vector */
  IR_ADD,
  IR_SUB,
  IR_MUL,
  IR_DIVC,      /* floor(a / imm), imm >= 2 */
  IR_LT,        /* a < b ? 1 : 0 */
  IR_LE,
  IR_EQ,
  IR_NE,
  IR_SELECT,
  IR_OUTPUT,    /* output element imm := a (has no value itself) */
  IR_OP_COUNT
} ir_op;

typedef struct {
  uint8_t op;
  uint32_t a, b, c; /* operand node indices (0 where unused) */
  int64_t imm;
  /* derived (not encoded; set by the builder and by ir_decode) */
  int64_t lo, hi;
  uint8_t secret;
} ir_node;

/* ---- interface ------------------------------------------------------------ */

typedef enum {
  IR_PORT_INPUT = 1,   /* secret record field "domain.field", dealt by the domain's owner */
  IR_PORT_PARAM = 2,   /* secret value of the caller */
  IR_PORT_ARG = 3,     /* public value of the caller */
  IR_PORT_OUT_PUBLIC = 4,
  IR_PORT_OUT_PRIVATE = 5,
} ir_port_kind;

typedef enum { IR_T_INT = 1, IR_T_BOOL = 2 } ir_base;

typedef struct {
  uint8_t kind, base;
  char name[IR_NAME_MAX + 1];
  uint32_t len;   /* 0: scalar, else array length (<= IR_MAX_ARRAY) */
  int64_t lo, hi; /* declared range of each element (bool: 0, 1) */
  uint32_t first; /* derived: flat index of element 0 in its kind's vector
                     (inputs, params, args, or outputs: public and private
                     outputs share one flat output vector, in port order) */
  uint32_t unit_len; /* in a batch (copies > 1): len of the port in one call */
} ir_port;

/* Elements of a port: len, or 1 for a scalar. */
static inline uint32_t ir_port_elems(const ir_port *p) { return p->len ? p->len : 1; }

typedef struct {
  char name[33];
  size_t nports;
  ir_port *ports;  /* kinds in ir_port_kind order, declaration order within a kind */
  size_t nnodes, cap;
  ir_node *nodes;
  uint32_t n_input, n_param, n_arg, n_output; /* flat vector sizes */
  /* builder state (hash-consing table; NULL after ir_finish / ir_decode) */
  uint32_t *ht;
  size_t htcap;
  int fold;        /* builder folds and hash-conses as it emits (default 1) */
  /* lang_batch: the calls this circuit holds, every port copies x the
   * call's elements (copy k's at k x elems); 0 for a contract's own
   * circuit. Not encoded: a batch lives in memory only. */
  uint32_t copies;
} ir_circuit;

/* ---- building (lowering uses this) ---------------------------------------- */

void ir_init(ir_circuit *c, const char *name); /* fold = 1 */
void ir_free(ir_circuit *c);

/* Declares a port (in the order of the bytecode: the caller sorts by kind;
 * out of kind order, a bool range other than 0..1 or an unknown kind or base
 * is a caller bug, CX_ASSERT; a name over IR_NAME_MAX is CX_E_LANG_LIMIT).
 * CX_E_LANG_LIMIT past IR_MAX_PORTS or an array over IR_MAX_ARRAY,
 * CX_E_LANG_RANGE if lo > hi, CX_E_NOMEM. Sets first and the flat sizes. */
cx_err ir_add_port(ir_circuit *c, uint8_t kind, uint8_t base, const char *name, uint32_t len, int64_t lo,
                   int64_t hi);

/* Emits a node and returns its index, or IR_NONE with *err set:
 *   CX_E_LANG_RANGE  the result's range may leave int64 (the caller reports
 *                    it at the source position);
 *   CX_E_LANG_LIMIT  more than IR_MAX_NODES nodes;
 *   CX_E_NOMEM.
 * With c->fold set the builder returns an existing node for an identical
 * (op, operands, imm) (commutative operands ordered), folds operations on
 * constants, and simplifies x+0, x-0, x*1, x*0, x-x, SELECT on a constant
 * condition or with equal branches, comparisons of a node with itself and
 * comparisons decided by the ranges; so
 * the returned index may be an earlier node. Ranges follow interval
 * arithmetic (docs/contract-language.md §3); INPUT/PARAM/ARG take their
 * port's declared range (imm is a flat index; the builder finds the port).
 * The range check comes first: a node whose range may leave int64 is
 * refused even if a simplification would remove it (x - x of a full-range x).
 * Operands must be valued nodes (not OUTPUT) below c->nnodes and a SELECT
 * condition's range within 0..1: anything else is a caller bug (CX_ASSERT).
 * OUTPUT nodes are never merged (ir_finish reports an output set twice). */
uint32_t ir_emit(ir_circuit *c, uint8_t op, uint32_t a, uint32_t b, uint32_t cc, int64_t imm, cx_err *err);

/* Conveniences over ir_emit. */
uint32_t ir_const(ir_circuit *c, int64_t v, cx_err *err);

/* Runs the passes to a fixed point: constant folding, CSE, dead-code
 * elimination (nodes that reach no OUTPUT), then renumbers the nodes in
 * their original relative order and drops the builder table. The result
 * is the canonical circuit that ir_encode writes. Checks that every output
 * element has exactly one OUTPUT node: CX_E_LANG_NAME otherwise. */
cx_err ir_finish(ir_circuit *c);

/* ---- bytecode ------------------------------------------------------------- */

/* Encodes a finished circuit (docs/contract-language.md §6). *out malloc'd. */
cx_err ir_encode(const ir_circuit *c, uint8_t **out, size_t *len);
/* Decodes and validates bytecode into c (which it initialises), recomputing
 * ranges and secrecy. CX_E_LANG_BYTECODE with a sentence in err for every
 * refusal the spec lists; CX_E_LANG_RANGE / CX_E_LANG_LIMIT as for ir_emit.
 * On error c is freed. */
cx_err ir_decode(const uint8_t *buf, size_t len, ir_circuit *c, char *err, size_t errlen);

/* ---- evaluation and analysis ---------------------------------------------- */

/* Plaintext evaluation: in[n_input], param[n_param], arg[n_arg] (each value
 * within its port's range: the caller checks), out[n_output]. Exact (no node
 * can overflow). CX_E_NOMEM only. */
cx_err ir_eval(const ir_circuit *c, const int64_t *in, const int64_t *param, const int64_t *arg,
               int64_t *out);

/* Interactive depth of each node (0 for local nodes over depth-0 operands;
 * MUL of two secrets, SELECT with a secret condition and a secret branch,
 * and comparisons and DIVC of a secret add one layer). depth must hold nnodes entries. Returns the maximum. */
uint32_t ir_depth(const ir_circuit *c, uint32_t *depth);
/* The same rule for node i alone, from its operands' depth[] entries. */
uint32_t ir_node_depth(const ir_circuit *c, const uint32_t *depth, size_t i);

/* Counts of secret operations: multiplications (MUL of two secrets, SELECT
 * on a secret condition with a secret branch, whose cost is one
 * multiplication), comparisons
 * per op, DIVC of secrets. */
typedef struct {
  uint64_t nodes, mul, lt, le, eq, ne, divc, layers;
} ir_stats;
void ir_stats_get(const ir_circuit *c, ir_stats *out);

/* For output port `port`: which input and param ports it depends on, as a
 * bitmask over port indices (IR_MAX_PORTS bits). */
void ir_flows(const ir_circuit *c, size_t port, uint64_t mask[IR_MAX_PORTS / 64]);

/* Bits of the signed two's complement width holding every value of
 * [lo, hi] (1..64). */
uint32_t ir_bits(int64_t lo, int64_t hi);

/* ---- shared by the circuit files (ir.c, ir_pass.c, bytecode.c, ir_eval.c,
 * eval_mpc.c) ---------------------------------------------------------------- */

/* Operands of op: a, then b, then c (the table at the top). */
static inline int ir_arity(uint8_t op) {
  switch (op) {
    case IR_CONST: case IR_INPUT: case IR_PARAM: case IR_ARG: return 0;
    case IR_DIVC: case IR_OUTPUT: return 1;
    case IR_SELECT: return 3;
    default: return 2;
  }
}

/* Ops whose operands are canonically ordered a <= b. */
static inline int ir_commutative(uint8_t op) {
  return op == IR_ADD || op == IR_MUL || op == IR_EQ || op == IR_NE;
}

/* The port kind a leaf op (INPUT, PARAM, ARG) reads. */
static inline uint8_t ir_leaf_kind(uint8_t op) {
  return op == IR_INPUT ? IR_PORT_INPUT : op == IR_PARAM ? IR_PORT_PARAM : IR_PORT_ARG;
}

/* Is n the node (op, a, b, c, imm)? The identity hash-consing merges on. */
static inline int ir_node_is(const ir_node *n, uint8_t op, uint32_t a, uint32_t b, uint32_t c, int64_t imm) {
  return n->op == op && n->a == a && n->b == b && n->c == c && n->imm == imm;
}

/* floor(x / d) for d >= 1 (C division truncates toward zero). */
static inline int64_t ir_floordiv(int64_t x, int64_t d) {
  int64_t q = x / d;
  return (x % d != 0 && x < 0) ? q - 1 : q;
}

/* ir.c: the size of a port kind's flat vector (public and private outputs
 * share one), for reading or for growing it. */
uint32_t *ir_kind_count(ir_circuit *c, uint8_t kind);

/* ir.c: the index of the port of kind `kind` holding flat element `flat`
 * (an element no port holds is a caller bug, CX_ASSERT). */
size_t ir_leaf_port(const ir_circuit *c, uint8_t kind, uint32_t flat);

/* ir_pass.c: marks in live[] (c->nnodes entries, zeroed by the caller) the
 * OUTPUT nodes of flat output elements [first, first + n) and every node
 * they depend on. */
void ir_mark_live(const ir_circuit *c, uint32_t first, uint32_t n, uint8_t *live);

/* ir_eval.c: does node n cost an interactive round when evaluated on
 * shares (the rule of ir_depth and of the MPC evaluator's vector groups)? */
int ir_interactive(const ir_circuit *c, const ir_node *n);

#endif
