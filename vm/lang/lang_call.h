/* lang_call.h: one call of a contract among the consortium's MPC parties
 * (docs/calls.md §1–§3; docs/contract-language.md §6, §7).
 *
 * Every party builds the same plan from public data alone (the contract,
 * the number of parties, the public args and which party deals each input
 * domain), so every party runs the same mpc_program with nothing
 * negotiated. The plan says which record fields a dealing bureau reads,
 * and how the session's outputs become the flat output vector that goes on
 * chain: public elements in clear, private ones masked (z + r, with r's
 * shares released to the caller only).
 *
 * The program is the one lang_run_mpc runs in process (eval_mpc.c builds
 * both), with these layouts:
 *   - INPUT slot 0 of party p holds, in order, the elements of the inputs
 *     lang_call_plan_inputs(p) lists;
 *   - INPUT_CLIENT slot 0 holds the flat param vector (a call carries at
 *     most CX_CALL_MAX_VALUES = 4096 params: one client slot);
 *   - output element j (flat, port order) is OUTPUT slot j when it is
 *     computed in MPC, and, when it is private, OUTPUT_SHARE slot j holds
 *     this party's share of its mask r while OUTPUT slot j opens z + r.
 *     A public element that depends only on args is known when the plan is
 *     built; every private element is masked in MPC, even one that depends
 *     only on args, so the chain never shows a private port's value.
 *
 * Ownership: a plan owns its program and tables; pointers it returns are
 * borrowed until lang_call_plan_free. Not thread-safe per plan. */
#ifndef CUSTOS_LANG_CALL_H
#define CUSTOS_LANG_CALL_H
#include <stddef.h>
#include <stdint.h>

#include "field.h"
#include "lang.h"
#include "mpc.h"

typedef struct lang_call_plan lang_call_plan;

/* domain_party[i] is the party (0..n-1) that deals the i-th domain of
 * lang_domains(c) (sorted); ndomains must equal their number. args: the
 * flat arg vector (lang_values_flat(LANG_ARG) order), each within its
 * port's range (CX_E_LANG_INPUT otherwise). CX_E_INVALID_ARG for a bad n
 * (1..64), a party out of range or a wrong ndomains/nargs; CX_E_LANG_LIMIT
 * if the params exceed one client slot; a sentence in err. */
cx_err lang_call_plan_new(const lang_contract *c, uint32_t n, const uint32_t *domain_party, size_t ndomains,
                          const int64_t *args, size_t nargs, lang_call_plan **out, char *err, size_t errlen);
void lang_call_plan_free(lang_call_plan *p); /* NULL is a no-op */

const mpc_program *lang_call_plan_program(const lang_call_plan *p);
/* Material the program consumes at the plan's n (mpc_prog_cost_at):
 * exactly what one call's prep and bits sessions must make. */
void lang_call_plan_material(const lang_call_plan *p, size_t *triples, size_t *rands, size_t *bits,
                             size_t *ints);
/* Number of param elements (the INPUT_CLIENT slot 0 length; 0: no slot).
 * A batch's plan (lang.h) has one such slot per copy, slot k copy k's. */
size_t lang_call_plan_params(const lang_call_plan *p);

/* One element a dealer puts in its INPUT slot 0: where it comes from and
 * the range the contract declares for it (a record value outside it must
 * not be dealt). */
typedef struct {
  const char *domain; /* "hrss" */
  const char *field;  /* schema field: "age", or "chronic_codes_3" for element 2 of an array */
  int64_t lo, hi;     /* the port's declared range (0..1 for bool) */
  uint32_t copy;      /* a batch's plan (lang.h): the copy, i.e. the call, it belongs to; else 0 */
} lang_call_input;

/* The elements party `party` deals, in slot order; 0 (and NULL) when it
 * deals nothing or party >= n. */
size_t lang_call_plan_inputs(const lang_call_plan *p, uint32_t party, const lang_call_input **out);

/* The flat output vector of a finished online session s (state DONE),
 * lang_outputs_len(c) elements: out[j].priv as the port says; public: the
 * value; private: masked = z + r (opened) and share = this party's share
 * of r (mpc_session_output_share). CX_E_INVALID_ARG if s is not DONE;
 * CX_E_INTERNAL with a sentence if the session lacks a slot the program
 * has, or a public value is outside its node's static range. */
typedef struct {
  uint8_t priv;
  int64_t value; /* public */
  fe masked;     /* private: z + r */
  fe share;      /* private: this party's share of r */
} lang_call_output;
cx_err lang_call_plan_outputs(const lang_call_plan *p, const mpc_session *s, lang_call_output *out, char *err,
                              size_t errlen);

/* Reader side (the insurer): private element values from the masked
 * values and the mask r (reconstructed with mpc_reconstruct from the
 * parties' shares): z = masked - r as int64, checked against output j's
 * static range. flat[k] is the flat index of the k-th private element;
 * masked[k], r[k] and out[k] are that element's (out has npriv entries).
 * CX_E_MPC_CHECK_FAILED (with a sentence) if a value is out of range: the
 * shares or the masked value are not what the parties computed. */
cx_err lang_call_unmask(const lang_contract *c, const size_t *flat, const fe *masked, const fe *r, size_t npriv,
                        int64_t *out, char *err, size_t errlen);

#endif
