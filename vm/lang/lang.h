/* The secret-contract language (public header of vm/lang/;
 * docs/contract-language.md is the specification).
 *
 *   source --lang_compile--> lang_contract --lang_bytecode--> bytes, id
 *   bytes  --lang_decode---> lang_contract (no source: no reference run)
 *
 * A compiled contract can be run three ways, which agree on every input:
 *   - lang_run_reference: the reference interpreter, over the checked
 *     source (the meaning of the language);
 *   - lang_run_circuit: the compiled circuit in plaintext;
 *   - lang_run_mpc: the circuit as an MPC program among n in-process parties.
 *
 * Ownership: lang_contract owns everything it returns pointers to; they live
 * until lang_free. lang_values are owned by the caller. No global state;
 * one contract may be read by several threads, not mutated. */
#ifndef CUSTOS_LANG_H
#define CUSTOS_LANG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "hash.h"
#include "tx.h"

typedef struct lang_contract lang_contract;

/* A compile error: the position of the offending token (line, col from 1;
 * 0, 0 when none applies) and one sentence (no trailing period). code is
 * CX_E_LANG_SYNTAX .. CX_E_LANG_LIMIT, or CX_E_NOMEM. */
typedef struct {
  cx_err code;
  uint32_t line, col;
  char msg[256];
} lang_diag;

/* Compiles a source (len bytes, not NUL-terminated; at most CX_SOURCE_MAX).
 * CX_OK and *out, or the error in *diag (diag may be NULL). Deterministic:
 * the same source gives the same bytecode on every machine. */
cx_err lang_compile(const char *src, size_t len, lang_contract **out, lang_diag *diag);
/* Formats "FILE:LINE:COL: error: MSG" (or "FILE: error: MSG") into buf. */
void lang_diag_format(const lang_diag *d, const char *file, char *buf, size_t buflen);

/* Decodes bytecode (CX_E_LANG_BYTECODE etc. with a sentence in err). */
cx_err lang_decode(const uint8_t *bc, size_t len, lang_contract **out, char *err, size_t errlen);
void lang_free(lang_contract *c); /* NULL is a no-op */

const uint8_t *lang_bytecode(const lang_contract *c, size_t *len);
void lang_id(const lang_contract *c, cx_hash *id); /* H_CONTRACT(bytecode) */
const char *lang_name(const lang_contract *c);
/* The sorted, distinct domains of the contract's inputs. CX_E_FULL if more
 * than CX_DOMAINS_MAX. */
cx_err lang_domains(const lang_contract *c, cx_domain_set *out);

/* ---- interface ------------------------------------------------------------ */

typedef enum {
  LANG_INPUT = 1,       /* secret record field, "domain.field" */
  LANG_PARAM = 2,       /* secret value of the caller */
  LANG_ARG = 3,         /* public value of the caller */
  LANG_OUT_PUBLIC = 4,
  LANG_OUT_PRIVATE = 5,
} lang_port_kind;

typedef struct {
  lang_port_kind kind;
  int is_bool;
  const char *name;
  uint32_t len;     /* 0 scalar, else array length */
  int64_t lo, hi;   /* declared range of each element */
} lang_port;

size_t lang_nports(const lang_contract *c);
void lang_port_get(const lang_contract *c, size_t i, lang_port *out);
/* Information flow, for reviewers: 1 if the value of output port out_port
 * depends on input or param port `from` (0 for any other pair). */
int lang_port_flows_from(const lang_contract *c, size_t out_port, size_t from);

/* ---- values --------------------------------------------------------------- */

/* The values of a call: every input, param and arg element. */
typedef struct lang_values lang_values;

lang_values *lang_values_new(const lang_contract *c); /* NULL on out of memory */
void lang_values_free(lang_values *v);                /* wipes; NULL is a no-op */
/* Sets port `name` (an input, param or arg) to vals[0..len) (len 1 for a
 * scalar; bools 0/1). CX_E_NOT_FOUND (no such port), CX_E_LANG_INPUT with a
 * sentence in err (wrong length, a value outside the declared range:
 * "hrss.age: 200 is outside int(0..150)"). */
cx_err lang_values_set(lang_values *v, const char *name, const int64_t *vals, size_t len, char *err,
                       size_t errlen);
/* Reads a JSON object naming every input, param and arg
 * (docs/contract-language.md §7). CX_E_LANG_INPUT with a sentence naming the
 * entry: not an object, missing, unknown, wrong type or length, out of
 * range. Integers may also be given as decimal strings (beyond 2^53). */
cx_err lang_values_from_json(lang_values *v, const char *json, size_t len, char *err, size_t errlen);
/* The same for the port kinds in `kinds` only (LANG_KIND(LANG_PARAM) |
 * LANG_KIND(LANG_ARG): what a caller's client deals and sends): entries of
 * other kinds are skipped, unknown names and outputs are still refused. */
#define LANG_KIND(k) (1u << (k))
cx_err lang_values_read_json(lang_values *v, const char *json, size_t len, unsigned kinds, char *err,
                             size_t errlen);
/* The flat vector of one kind (LANG_INPUT, LANG_PARAM, LANG_ARG) in port
 * order, and its length; borrowed from v. */
size_t lang_values_flat(const lang_values *v, lang_port_kind kind, const int64_t **vals);

/* Outputs: one int64 per output element, in port order (flat); bools 0/1.
 * lang_outputs_len gives the count. */
size_t lang_outputs_len(const lang_contract *c);
/* {"name": value, ...} in port order, ints as JSON numbers (or strings
 * beyond 2^53), bools as true/false, arrays as arrays. malloc'd, NUL-ended. */
char *lang_outputs_json(const lang_contract *c, const int64_t *out);

/* ---- running -------------------------------------------------------------- */

/* The reference interpreter over the checked source. CX_E_INVALID_ARG for a
 * decoded contract (it has no source); CX_E_LANG_INPUT if a value is not
 * set. */
cx_err lang_run_reference(const lang_contract *c, const lang_values *v, int64_t *out, char *err,
                          size_t errlen);
/* The compiled circuit in plaintext. */
cx_err lang_run_circuit(const lang_contract *c, const lang_values *v, int64_t *out, char *err,
                        size_t errlen);

/* ---- batches (vm/lang/batch.c) -------------------------------------------- */

/* `copies` calls of c as one contract, for one MPC program whose layers
 * the evaluator packs together (throughput). Every port of the batch is an
 * array of copies times the port's elements, copy k's at k * elements; the
 * batch keeps c's name, its own bytecode and id. CX_E_INVALID_ARG (0
 * copies), CX_E_LANG_LIMIT (an array over 4096, or the node limit), with a
 * sentence in err. Free with lang_free. */
cx_err lang_batch(const lang_contract *c, uint32_t copies, lang_contract **out, char *err, size_t errlen);
/* The most copies of c a batch and its call plan take: every port within
 * an array's 4096 elements, and, when c has params, one client slot per
 * copy (64 at most). */
uint32_t lang_batch_max(const lang_contract *c);
/* The batch's values: copy k gets v[k]'s (each complete, values of c).
 * *out is the caller's (lang_values_free). */
cx_err lang_batch_values(const lang_contract *batch, const lang_contract *c, const lang_values *const *v,
                         uint32_t copies, lang_values **out, char *err, size_t errlen);
/* Copy k's outputs (lang_outputs_len(c) of them, c's flat order) from the
 * batch's flat outputs. */
void lang_batch_outputs(const lang_contract *c, uint32_t copies, const int64_t *batch_out, uint32_t k,
                        int64_t *out);
/* Where copy k's output element f (c's flat order) is in the batch's flat
 * outputs. */
uint32_t lang_batch_output(const lang_contract *c, uint32_t copies, uint32_t k, uint32_t f);
/* The batch's flat args (copies x c's n_arg) from each copy's: args[k] is
 * copy k's flat arg vector. */
void lang_batch_args(const lang_contract *c, uint32_t copies, const int64_t *const *args, int64_t *out);
/* A batch's MPC plan (lang_call.h) differs from one call's in two layouts
 * only: a dealer's INPUT slot holds copy 0's elements in a call's order,
 * then copy 1's, and so on; each copy's params are a client slot of their
 * own (slot k: copy k's, in a call's order), so that every call's client
 * dealing stays as the insurer sealed it. At most 64 copies when the
 * contract has params (a program's client slots). */

/* ---- cost and MPC (vm/lang/eval_mpc.c) ------------------------------------ */

typedef struct {
  uint32_t rounds;           /* message rounds of the MPC program */
  uint64_t nodes, layers;    /* circuit size and interactive depth */
  uint64_t mul, cmp, divc;   /* secret multiplications, comparisons, divisions */
  uint32_t cmp_bits_max;     /* widest comparison */
  uint64_t triples, rands, bits; /* preprocessing one call consumes at n parties */
  uint64_t ints;                 /* bounded random integers (mpc.h "ints"; 0 with dealers, whose
                                    ints are MPC_KAPPA bits each, counted in bits) */
  uint64_t bytes_per_party;  /* estimate at n parties, online + preprocessing */
} lang_cost;

/* The cost of one call with n parties (n >= 1; t = (n - 1) / 3), from the
 * MPC program the evaluator builds (args do not change its shape). */
cx_err lang_cost_get(const lang_contract *c, uint32_t n, lang_cost *out, char *err, size_t errlen);

typedef struct {
  uint32_t n, t;
  uint32_t rounds;          /* rounds the online session took (party 0) */
  uint64_t bytes_sent;      /* online bytes sent per party (max over parties) */
  uint64_t prep_bytes_sent; /* preprocessing bytes per party (max) */
  double online_s, prep_s;  /* wall time */
} lang_mpc_report;

/* Runs the contract as MPC among n parties in this process (mpc_local):
 * preprocessing for exactly one call, then the online session. Input
 * domains are dealt by parties in round-robin order of the sorted domains
 * (domain i by party i mod n), params are secret-shared and sealed as a
 * client does (mpc/client.h), args are public, private outputs are
 * reconstructed from the parties' shares as the caller would. seed: 32
 * bytes for a reproducible run (tests), NULL for fresh randomness.
 * Not a security boundary: one process holds every party. */
cx_err lang_run_mpc(const lang_contract *c, const lang_values *v, uint32_t n, const uint8_t *seed,
                    int64_t *out, lang_mpc_report *rep, char *err, size_t errlen);

#endif
