/* MPC programs: the instruction list, its static check, its cost, and the
 * linear builder helpers (mpc.h "programs"; docs/mpc-online.md "Programs").
 *
 * Straight-line code over numbered registers, so every vector length is
 * known statically: the sources (INPUT, RAND, RANDBIT, RANDINT, PCONST, SLICE,
 * PSLICE, BCAST) carry their length in imm, SUM gives 1, CAT adds, OPEN
 * keeps its operand's length, and elementwise binary operations take the
 * common length (a length-1 operand is repeated). mpc_prog_check walks the
 * list once in order and infers the length of every register at every
 * point, so all length errors are found before a session starts and the
 * interpreter (online.c) never meets one. A register may be written more
 * than once; a read sees the latest write. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "mpc.h"
#include "session_internal.h"
#include "wire.h"

/* Length cap of one register: 2^26 elements (1 GiB of shares). */
#define PROG_LEN_CAP ((uint64_t)1 << 26)

/* Elements per message in an opening round (the tag element first, and
 * room for the round-0 pool guard in every round so that one size serves
 * all) and per input chunk, whose echo round carries every dealer's round-B
 * message packed at MPC_PACK bytes per element and must also fit one
 * message (8 KiB covers 64 dealers' headers, signatures and length
 * prefixes): docs/mpc-online.md "Splitting". Shared with online.c through
 * prog_chunk(). */
#define PROG_OPEN_CHUNK ((uint64_t)(MPC_MAX_PAYLOAD / FE_BYTES) - 1 - MPC_GUARD_N)
#define PROG_INPUT_CHUNK ((PROG_OPEN_CHUNK * MPC_PACK - 8192) / FE_BYTES - 1)

struct mpc_program {
  mpc_ins *ins;
  size_t n, cap;
  uint32_t ns, np;       /* registers handed out */
  uint64_t *slen, *plen; /* static length after the latest write, 0 = unwritten */
  size_t scap, pcap;
  cx_err err;            /* first build error (sticky) */
  size_t err_at;
  char errmsg[120];
};

/* What an instruction's operands are: register classes of d, a, b. */
enum { R_NONE = 0, R_S, R_P };
typedef struct {
  const char *name;
  uint8_t d, a, b;
} op_info;

static const op_info OPS[MPC_OP_COUNT] = {
    [MPC_OP_INPUT] = {"INPUT", R_S, R_NONE, R_NONE},
    [MPC_OP_RAND] = {"RAND", R_S, R_NONE, R_NONE},
    [MPC_OP_RANDBIT] = {"RANDBIT", R_S, R_NONE, R_NONE},
    [MPC_OP_RANDINT] = {"RANDINT", R_S, R_NONE, R_NONE},
    [MPC_OP_ADD] = {"ADD", R_S, R_S, R_S},
    [MPC_OP_SUB] = {"SUB", R_S, R_S, R_S},
    [MPC_OP_ADDP] = {"ADDP", R_S, R_S, R_P},
    [MPC_OP_SUBP] = {"SUBP", R_S, R_S, R_P},
    [MPC_OP_RSUBP] = {"RSUBP", R_S, R_S, R_P},
    [MPC_OP_MULP] = {"MULP", R_S, R_S, R_P},
    [MPC_OP_ADDC] = {"ADDC", R_S, R_S, R_NONE},
    [MPC_OP_MULC] = {"MULC", R_S, R_S, R_NONE},
    [MPC_OP_MUL] = {"MUL", R_S, R_S, R_S},
    [MPC_OP_OPEN] = {"OPEN", R_P, R_S, R_NONE},
    [MPC_OP_OUTPUT] = {"OUTPUT", R_NONE, R_S, R_NONE},
    [MPC_OP_PCONST] = {"PCONST", R_P, R_NONE, R_NONE},
    [MPC_OP_PADD] = {"PADD", R_P, R_P, R_P},
    [MPC_OP_PSUB] = {"PSUB", R_P, R_P, R_P},
    [MPC_OP_PMUL] = {"PMUL", R_P, R_P, R_P},
    [MPC_OP_PBIT] = {"PBIT", R_P, R_P, R_NONE},
    [MPC_OP_PMOD2K] = {"PMOD2K", R_P, R_P, R_NONE},
    [MPC_OP_PSQRTINV] = {"PSQRTINV", R_P, R_P, R_NONE},
    [MPC_OP_MOV] = {"MOV", R_S, R_S, R_NONE},
    [MPC_OP_SLICE] = {"SLICE", R_S, R_S, R_NONE},
    [MPC_OP_CAT] = {"CAT", R_S, R_S, R_S},
    [MPC_OP_PSLICE] = {"PSLICE", R_P, R_P, R_NONE},
    [MPC_OP_PCAT] = {"PCAT", R_P, R_P, R_P},
    [MPC_OP_SUM] = {"SUM", R_S, R_S, R_NONE},
    [MPC_OP_BCAST] = {"BCAST", R_S, R_S, R_NONE},
    [MPC_OP_POOLBITS] = {"POOLBITS", R_NONE, R_S, R_NONE},
    [MPC_OP_INPUT_CLIENT] = {"INPUT_CLIENT", R_S, R_NONE, R_NONE},
    [MPC_OP_OUTPUT_SHARE] = {"OUTPUT_SHARE", R_NONE, R_S, R_NONE},
};

static const op_info *op_of(uint16_t op) {
  return op >= 1 && op < MPC_OP_COUNT && OPS[op].name ? &OPS[op] : NULL;
}

/* ---- building ---------------------------------------------------------- */

mpc_program *mpc_prog_new(void) { return calloc(1, sizeof(mpc_program)); }

void mpc_prog_free(mpc_program *p) {
  if (!p) return;
  free(p->ins); /* constants in a program are public: no wipe needed */
  free(p->slen);
  free(p->plen);
  free(p);
}

static void build_verror(mpc_program *p, const char *fmt, va_list ap) {
  if (p->err != CX_OK) return;
  p->err = CX_E_MPC_PROGRAM;
  p->err_at = p->n;
  vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
}

static void build_error(mpc_program *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void build_error(mpc_program *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  build_verror(p, fmt, ap);
  va_end(ap);
}

void mpc_prog_fail(mpc_program *p, const char *fmt, ...) {
  if (!p) return;
  va_list ap;
  va_start(ap, fmt);
  build_verror(p, fmt, ap);
  va_end(ap);
}

/* Room for the length of register r (zeroed when new). Out of memory is a
 * sticky build error. */
static int lens_room(mpc_program *p, uint64_t **v, size_t *cap, uint32_t r) {
  if (r < *cap) return 1;
  size_t ncap = *cap ? *cap : 64;
  while (ncap <= r) ncap *= 2;
  uint64_t *nv = realloc(*v, ncap * sizeof *nv);
  if (!nv) {
    build_error(p, "out of memory");
    return 0;
  }
  memset(nv + *cap, 0, (ncap - *cap) * sizeof *nv);
  *v = nv;
  *cap = ncap;
  return 1;
}

uint32_t mpc_sreg(mpc_program *p) {
  if (!p) return 0;
  (void)lens_room(p, &p->slen, &p->scap, p->ns);
  return p->ns++;
}

uint32_t mpc_preg(mpc_program *p) {
  if (!p) return 0;
  (void)lens_room(p, &p->plen, &p->pcap, p->np);
  return p->np++;
}

uint64_t mpc_prog_slen(const mpc_program *p, uint32_t sreg) {
  return p && sreg < p->ns && sreg < p->scap ? p->slen[sreg] : 0;
}

static const char *const CLS[] = {"", "S", "P"};

static int reg_ok(const mpc_program *p, uint8_t cls, uint32_t r) {
  return cls == R_NONE || (cls == R_S ? r < p->ns : r < p->np);
}

static uint64_t len_of(const mpc_program *p, uint8_t cls, uint32_t r) {
  if (cls == R_S) return r < p->scap ? p->slen[r] : 0;
  if (cls == R_P) return r < p->pcap ? p->plen[r] : 0;
  return 1;
}

/* The length an emitted instruction gives its destination, by the rules
 * of the check (infer_one) but lenient: a read of an unwritten register
 * gives 0 (unknown), unequal lengths the larger one. mpc_prog_check stays
 * the judge; this only serves mpc_prog_slen in O(1). */
static void track_len(mpc_program *p, const op_info *oi, const mpc_ins *in) {
  if (oi->d == R_NONE) return;
  uint64_t la = len_of(p, oi->a, in->a), lb = len_of(p, oi->b, in->b), l;
  switch (in->op) {
  case MPC_OP_INPUT: case MPC_OP_RAND: case MPC_OP_RANDBIT: case MPC_OP_RANDINT: case MPC_OP_PCONST:
  case MPC_OP_SLICE: case MPC_OP_PSLICE: case MPC_OP_BCAST: case MPC_OP_INPUT_CLIENT: l = in->imm; break;
  case MPC_OP_CAT: case MPC_OP_PCAT: l = la && lb ? la + lb : 0; break;
  case MPC_OP_SUM: l = la ? 1 : 0; break;
  default:
    if (!la || !lb) l = 0;
    else if (la == 1) l = lb;
    else if (lb == 1) l = la;
    else l = la > lb ? la : lb;
    break;
  }
  if (oi->d == R_S && lens_room(p, &p->slen, &p->scap, in->d)) p->slen[in->d] = l;
  if (oi->d == R_P && lens_room(p, &p->plen, &p->pcap, in->d)) p->plen[in->d] = l;
}

void mpc_prog_emit(mpc_program *p, const mpc_ins *ins) {
  if (!p || p->err != CX_OK) return;
  const op_info *oi = op_of(ins->op);
  if (!oi) {
    build_error(p, "unknown op %u", ins->op);
    return;
  }
  uint32_t r[3] = {ins->d, ins->a, ins->b};
  uint8_t c[3] = {oi->d, oi->a, oi->b};
  for (int k = 0; k < 3; k++)
    if (!reg_ok(p, c[k], r[k])) {
      build_error(p, "%s: %s register %u was never allocated", oi->name, CLS[c[k]], r[k]);
      return;
    }
  if (p->n == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 32;
    mpc_ins *v = realloc(p->ins, cap * sizeof *v);
    if (!v) {
      build_error(p, "out of memory");
      return;
    }
    p->ins = v;
    p->cap = cap;
  }
  p->ins[p->n++] = *ins;
  track_len(p, oi, ins);
}

size_t mpc_prog_len(const mpc_program *p) { return p ? p->n : 0; }

void prog_nregs(const mpc_program *p, uint32_t *ns, uint32_t *np) {
  *ns = p ? p->ns : 0;
  *np = p ? p->np : 0;
}

const mpc_ins *mpc_prog_ins(const mpc_program *p, size_t i) {
  return p && i < p->n ? &p->ins[i] : NULL;
}

/* ---- the static check -------------------------------------------------- */

typedef struct {
  uint64_t key;
  size_t at;
} slot_use;

static int slot_cmp(const void *x, const void *y) {
  const slot_use *a = x, *b = y;
  if (a->key != b->key) return a->key < b->key ? -1 : 1;
  return a->at < b->at ? -1 : a->at > b->at;
}

/* The first reuse of a slot key, reported at its second use. */
static int slot_dup(slot_use *v, size_t n, size_t *at) {
  qsort(v, n, sizeof *v, slot_cmp);
  int found = 0;
  for (size_t i = 1; i < n; i++)
    if (v[i].key == v[i - 1].key && (!found || v[i].at < *at)) {
      *at = v[i].at;
      found = 1;
    }
  return found;
}

typedef struct {
  uint64_t *slen, *plen; /* current length of each register, 0 = unwritten */
  slot_use *in, *outs, *shares; /* INPUT(_CLIENT), OUTPUT and OUTPUT_SHARE slots */
  size_t nin, nout, nshare;
  size_t nclient; /* INPUT_CLIENT instructions */
} infer_state;

/* INPUT slots are keyed dealer << 32 | slot (dealer < 64); client slots
 * have a dealer field of their own that no party index reaches. */
#define CLIENT_KEY ((uint64_t)UINT32_MAX << 32)

/* Elementwise binary length: equal, or one side of length 1. */
static uint64_t bin_len(uint64_t la, uint64_t lb) {
  if (la == lb) return la;
  if (la == 1) return lb;
  if (lb == 1) return la;
  return 0;
}

#define FAIL(...) return cx_errf(err, errlen, CX_E_MPC_PROGRAM, __VA_ARGS__)

/* One instruction: reads are defined, the result length is decided. *len
 * gets the length the instruction works on (its result, or for OUTPUT,
 * OUTPUT_SHARE and POOLBITS its operand). */
static cx_err infer_one(const mpc_program *p, uint32_t n, size_t k, infer_state *st, uint64_t *len,
                        char *err, size_t errlen) {
  const mpc_ins *in = &p->ins[k];
  const op_info *oi = op_of(in->op);
  if (!oi) FAIL("instruction %zu: unknown op %u", k, in->op);
  if (!reg_ok(p, oi->d, in->d) || !reg_ok(p, oi->a, in->a) || !reg_ok(p, oi->b, in->b))
    FAIL("instruction %zu (%s): register out of range", k, oi->name);
  uint64_t la = oi->a == R_S ? st->slen[in->a] : oi->a == R_P ? st->plen[in->a] : 1;
  uint64_t lb = oi->b == R_S ? st->slen[in->b] : oi->b == R_P ? st->plen[in->b] : 1;
  if (!la) FAIL("instruction %zu (%s): reads %s register %u before it is written", k, oi->name,
                CLS[oi->a], in->a);
  if (!lb) FAIL("instruction %zu (%s): reads %s register %u before it is written", k, oi->name,
                CLS[oi->b], in->b);
  uint64_t l = 0;
  switch (in->op) {
  case MPC_OP_INPUT_CLIENT:
    /* The dealing must fit the client's format and its check and reveal
     * messages one message each (docs/mpc-online.md "Client inputs"). */
    if (++st->nclient > MPC_CLIENT_MAX_SLOTS)
      FAIL("instruction %zu (INPUT_CLIENT): more than %d client slots", k, MPC_CLIENT_MAX_SLOTS);
    if (in->imm > MPC_CLIENT_MAX_VALUES)
      FAIL("instruction %zu (INPUT_CLIENT): length %llu is over the client cap of %d", k,
           (unsigned long long)in->imm, MPC_CLIENT_MAX_VALUES);
    st->in[st->nin++] = (slot_use){.key = CLIENT_KEY | in->b, .at = k};
    l = in->imm;
    break;
  case MPC_OP_INPUT:
    if (in->a >= n) FAIL("instruction %zu (INPUT): dealer %u is not a party (n = %u)", k, in->a, n);
    st->in[st->nin++] = (slot_use){.key = (uint64_t)in->a << 32 | in->b, .at = k};
    /* fall through */
  case MPC_OP_RAND:
  case MPC_OP_RANDBIT:
  case MPC_OP_RANDINT:
  case MPC_OP_PCONST:
  case MPC_OP_BCAST:
    if (in->op == MPC_OP_BCAST && la != 1)
      FAIL("instruction %zu (BCAST): operand has length %llu, not 1", k, (unsigned long long)la);
    l = in->imm;
    break;
  case MPC_OP_ADD: case MPC_OP_SUB: case MPC_OP_ADDP: case MPC_OP_SUBP: case MPC_OP_RSUBP:
  case MPC_OP_MULP: case MPC_OP_MUL: case MPC_OP_PADD: case MPC_OP_PSUB: case MPC_OP_PMUL:
    l = bin_len(la, lb);
    if (!l) FAIL("instruction %zu (%s): operand lengths %llu and %llu differ", k, oi->name,
                 (unsigned long long)la, (unsigned long long)lb);
    break;
  case MPC_OP_PBIT:
    if (in->imm >= MPC_FIELD_BITS) FAIL("instruction %zu (PBIT): bit %llu is past the field", k,
                                        (unsigned long long)in->imm);
    l = la;
    break;
  case MPC_OP_PMOD2K:
    if (in->imm > MPC_FIELD_BITS) FAIL("instruction %zu (PMOD2K): 2^%llu is past the field", k,
                                       (unsigned long long)in->imm);
    l = la;
    break;
  case MPC_OP_SLICE:
  case MPC_OP_PSLICE:
    if (in->imm == 0 || (uint64_t)in->b + in->imm > la)
      FAIL("instruction %zu (%s): range %u + %llu is outside a vector of length %llu", k, oi->name,
           in->b, (unsigned long long)in->imm, (unsigned long long)la);
    l = in->imm;
    break;
  case MPC_OP_CAT:
  case MPC_OP_PCAT: l = la + lb; break;
  case MPC_OP_SUM: l = 1; break;
  case MPC_OP_OUTPUT:
    st->outs[st->nout++] = (slot_use){.key = in->imm, .at = k};
    l = la;
    break;
  case MPC_OP_OUTPUT_SHARE:
    /* Its own slot space: a private result usually has an OUTPUT of the
     * same number too (the masked value, docs/contract-language.md). The
     * slot is read back as a uint32_t (mpc_session_output_share). */
    if (in->imm > UINT32_MAX)
      FAIL("instruction %zu (OUTPUT_SHARE): share slot %llu is over 2^32 - 1", k, (unsigned long long)in->imm);
    st->shares[st->nshare++] = (slot_use){.key = in->imm, .at = k};
    l = la;
    break;
  default: l = la; break; /* ADDC MULC OPEN PSQRTINV MOV POOLBITS */
  }
  if (l == 0) FAIL("instruction %zu (%s): zero length", k, oi->name);
  if (l > PROG_LEN_CAP) FAIL("instruction %zu (%s): length %llu is over the cap of %llu", k, oi->name,
                             (unsigned long long)l, (unsigned long long)PROG_LEN_CAP);
  if (oi->d == R_S) st->slen[in->d] = l;
  if (oi->d == R_P) st->plen[in->d] = l;
  *len = l;
  return CX_OK;
}

/* Lengths of every instruction (lens may be NULL). */
static cx_err infer(const mpc_program *p, uint32_t n, uint64_t *lens, char *err, size_t errlen) {
  if (p->err != CX_OK)
    return cx_errf(err, errlen, p->err, "instruction %zu: %s", p->err_at, p->errmsg);
  infer_state st = {0};
  /* The slot tables sized by the instructions that fill them, not by the
   * program: a batch's program has tens of thousands of instructions and
   * is checked at every party for every batch (perf, session 27). */
  size_t nin = 0, nout = 0, nshare = 0;
  for (size_t k = 0; k < p->n; k++) {
    uint16_t op = p->ins[k].op;
    nin += op == MPC_OP_INPUT || op == MPC_OP_INPUT_CLIENT;
    nout += op == MPC_OP_OUTPUT;
    nshare += op == MPC_OP_OUTPUT_SHARE;
  }
  st.slen = calloc((size_t)p->ns + 1, sizeof *st.slen);
  st.plen = calloc((size_t)p->np + 1, sizeof *st.plen);
  st.in = malloc((nin + 1) * sizeof *st.in);
  st.outs = malloc((nout + 1) * sizeof *st.outs);
  st.shares = malloc((nshare + 1) * sizeof *st.shares);
  cx_err e = CX_OK;
  if (!st.slen || !st.plen || !st.in || !st.outs || !st.shares) {
    e = cx_errf(err, errlen, CX_E_NOMEM, "out of memory checking the program");
    goto done;
  }
  for (size_t k = 0; k < p->n && e == CX_OK; k++) {
    uint64_t l = 0;
    e = infer_one(p, n, k, &st, &l, err, errlen);
    if (lens) lens[k] = l;
  }
  size_t at = 0;
  if (e == CX_OK && slot_dup(st.in, st.nin, &at)) {
    if (p->ins[at].op == MPC_OP_INPUT_CLIENT)
      e = cx_errf(err, errlen, CX_E_MPC_PROGRAM, "instruction %zu (INPUT_CLIENT): client slot %u is already used",
                  at, p->ins[at].b);
    else
      e = cx_errf(err, errlen, CX_E_MPC_PROGRAM, "instruction %zu (INPUT): dealer %u slot %u is already used",
                  at, p->ins[at].a, p->ins[at].b);
  }
  if (e == CX_OK && slot_dup(st.outs, st.nout, &at))
    e = cx_errf(err, errlen, CX_E_MPC_PROGRAM, "instruction %zu (OUTPUT): slot %llu is already used", at,
                (unsigned long long)p->ins[at].imm);
  if (e == CX_OK && slot_dup(st.shares, st.nshare, &at))
    e = cx_errf(err, errlen, CX_E_MPC_PROGRAM,
                "instruction %zu (OUTPUT_SHARE): share slot %llu is already used", at,
                (unsigned long long)p->ins[at].imm);
done:
  free(st.slen);
  free(st.plen);
  free(st.in);
  free(st.outs);
  free(st.shares);
  return e;
}

cx_err mpc_prog_check(const mpc_program *p, uint32_t n, char *err, size_t errlen) {
  if (err && errlen) err[0] = 0;
  if (!p) return cx_errf(err, errlen, CX_E_MPC_PROGRAM, "no program");
  cx_err e = infer(p, n, NULL, err, errlen);
  return e == CX_E_NOMEM ? e : e == CX_OK ? CX_OK : CX_E_MPC_PROGRAM;
}

/* ---- grouping and cost ------------------------------------------------- */

uint64_t prog_chunk(int input) { return input ? PROG_INPUT_CHUNK : PROG_OPEN_CHUNK; }

/* ---- register lifetimes ------------------------------------------------ */

typedef struct {
  uint64_t *v; /* k << 33 | reg << 1 | pub, pushed from the last instruction back */
  size_t n, cap;
} kill_list;

static int kill_push(kill_list *l, size_t k, uint64_t code) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 256;
    uint64_t *v = realloc(l->v, cap * sizeof *v);
    if (!v) return -1;
    l->v = v;
    l->cap = cap;
  }
  l->v[l->n++] = (uint64_t)k << 33 | code;
  return 0;
}

#define BIT(m, r) ((m)[(r) / 8] >> ((r) % 8) & 1)
#define SETBIT(m, r, x) ((m)[(r) / 8] = (uint8_t)(((m)[(r) / 8] & ~(1u << ((r) % 8))) | ((unsigned)(x) << ((r) % 8))))

/* Backward liveness over the straight-line program (every register is one
 * variable; OUTPUT, OUTPUT_SHARE and POOLBITS copy their operand when they
 * run, so they are plain reads). At instruction k the candidates are its
 * destination and its operands; one that is not live after k holds a value
 * nothing reads again: a last read, or a write nobody reads. The interpreter frees those
 * right after k (docs/mpc-online.md "Register lifetimes"). In a MUL/OPEN
 * run all operands are read when the run begins and the results written
 * in order at its end; the frees of each instruction follow its write
 * there, which is the sequential order because no instruction of a run
 * reads what an earlier one of it writes (prog_run_end). */
cx_err prog_kills(const mpc_program *p, size_t **start, uint64_t **kill) {
  *start = NULL;
  *kill = NULL;
  uint8_t *ls = calloc((size_t)p->ns / 8 + 1, 1), *lp = calloc((size_t)p->np / 8 + 1, 1);
  size_t *st = calloc(p->n + 1, sizeof *st);
  kill_list l = {0};
  cx_err e = CX_E_NOMEM;
  if (!ls || !lp || !st) goto done;
  for (size_t k = p->n; k-- > 0;) {
    const mpc_ins *in = &p->ins[k];
    const op_info *oi = op_of(in->op);
    if (!oi) continue; /* a checked program has none */
    uint8_t cls[3] = {oi->d, oi->a, oi->b};
    uint32_t reg[3] = {in->d, in->a, in->b};
    for (int c = 0; c < 3; c++) {
      if (cls[c] == R_NONE) continue;
      int dup = 0;
      for (int q = 0; q < c; q++) dup |= cls[q] == cls[c] && reg[q] == reg[c];
      uint8_t *m = cls[c] == R_S ? ls : lp;
      if (dup || BIT(m, reg[c])) continue;
      if (kill_push(&l, k, (uint64_t)reg[c] << 1 | (cls[c] == R_P))) goto done;
    }
    if (oi->d != R_NONE) SETBIT(oi->d == R_S ? ls : lp, in->d, 0);
    if (oi->a != R_NONE) SETBIT(oi->a == R_S ? ls : lp, in->a, 1);
    if (oi->b != R_NONE) SETBIT(oi->b == R_S ? ls : lp, in->b, 1);
  }
  /* Pushed in decreasing k: reverse into per-instruction ranges. */
  uint64_t *kl = malloc((l.n ? l.n : 1) * sizeof *kl);
  if (!kl) goto done;
  for (size_t i = 0; i < l.n; i++) st[(l.v[i] >> 33) + 1]++;
  for (size_t k = 0; k < p->n; k++) st[k + 1] += st[k];
  for (size_t i = l.n; i-- > 0;) kl[l.n - 1 - i] = l.v[i] & (((uint64_t)1 << 33) - 1);
  *start = st;
  *kill = kl;
  st = NULL;
  e = CX_OK;
done:
  free(ls);
  free(lp);
  free(st);
  free(l.v);
  return e;
}
#undef BIT
#undef SETBIT

static int interactive(uint16_t op) { return op == MPC_OP_MUL || op == MPC_OP_OPEN; }

static int in_few(const uint32_t *v, size_t n, uint32_t r) {
  for (size_t q = 0; q < n; q++)
    if (v[q] == r) return 1;
  return 0;
}

/* The group that starts at instruction i (mpc.h "Rounds"): a maximal run of
 * INPUTs; a maximal run of MUL/OPEN none of which reads an S register that
 * an earlier instruction of the run writes (all of the run's inputs are
 * opened in one exchange, so a dependent one must wait for the next); any
 * other instruction alone. */
size_t prog_run_end(const mpc_program *p, size_t i) {
  size_t n = p->n, e = i + 1;
  if (i >= n) return n;
  if (p->ins[i].op == MPC_OP_INPUT) {
    while (e < n && p->ins[e].op == MPC_OP_INPUT) e++;
    return e;
  }
  if (!interactive(p->ins[i].op)) return e;
  /* The S registers written in the run: a short list while it is short (a
   * run is called for per group, when costing and when running, and a
   * bitset over all registers cleared each time was most of the cost of
   * costing a batch's program: perf, session 27), then a bitset. */
  enum { FEW = 32 };
  uint32_t few[FEW];
  size_t nw = 0;
  uint8_t *w = NULL;
#define W(r) ((r) < p->ns && (w ? (w[(r) / 8] >> ((r) % 8) & 1) : in_few(few, nw, r)))
  for (e = i; e < n && interactive(p->ins[e].op); e++) {
    const mpc_ins *in = &p->ins[e];
    if (e > i && (W(in->a) || (in->op == MPC_OP_MUL && W(in->b)))) break;
    if (in->op != MPC_OP_MUL || in->d >= p->ns) continue;
    if (!w && nw == FEW) {
      if (!(w = calloc((size_t)p->ns / 8 + 1, 1))) break; /* degrades to shorter rounds; the cost agrees */
      for (size_t q = 0; q < nw; q++) w[few[q] / 8] |= (uint8_t)(1u << (few[q] % 8));
    }
    if (w)
      w[in->d / 8] |= (uint8_t)(1u << (in->d % 8));
    else
      few[nw++] = in->d;
  }
#undef W
  free(w);
  return e;
}

static uint32_t chunks(uint64_t total, uint64_t per) { return (uint32_t)((total + per - 1) / per); }

void mpc_prog_cost_get(const mpc_program *p, mpc_prog_cost *out) {
  memset(out, 0, sizeof *out);
  if (!p || !p->n) return;
  uint64_t *lens = calloc(p->n, sizeof *lens);
  if (!lens) return;
  /* Lengths up to the first error (an unchecked program is costed as far
   * as it is valid; n = 64 accepts every dealer). */
  (void)infer(p, MPC_MAX_N, lens, NULL, 0);
  uint64_t out_total = 0;
  /* Client inputs take no pool material (the mask is client-dealt): one
   * check round at session start for all of them; the reveal round of an
   * inconsistent dealing is not counted (the session then aborts). */
  for (size_t k = 0; k < p->n; k++)
    if (p->ins[k].op == MPC_OP_INPUT_CLIENT) {
      out->rounds += 1;
      break;
    }
  for (size_t i = 0; i < p->n;) {
    size_t e = prog_run_end(p, i);
    uint64_t total = 0;
    for (size_t k = i; k < e; k++) {
      const mpc_ins *in = &p->ins[k];
      switch (in->op) {
      case MPC_OP_INPUT: out->rands += lens[k]; total += lens[k]; break;
      case MPC_OP_RAND: out->rands += lens[k]; break;
      case MPC_OP_RANDBIT: out->bits += lens[k]; break;
      case MPC_OP_RANDINT: out->ints += lens[k]; break;
      case MPC_OP_MUL: out->triples += lens[k]; total += 2 * lens[k]; break;
      case MPC_OP_OPEN: total += lens[k]; break;
      case MPC_OP_OUTPUT: out_total += lens[k]; break;
      default: break;
      }
    }
    if (p->ins[i].op == MPC_OP_INPUT)
      out->rounds += 3 * chunks(total, PROG_INPUT_CHUNK);
    else if (interactive(p->ins[i].op))
      out->rounds += chunks(total, PROG_OPEN_CHUNK);
    i = e;
  }
  out->rounds += chunks(out_total, PROG_OPEN_CHUNK);
  free(lens);
}

void mpc_prog_cost_at(uint32_t n, uint32_t t, mpc_prog_cost *c) {
  if (mpc_prep_prss(n, t)) return;
  c->bits += MPC_KAPPA * c->ints; /* online.c ints_from_bits */
  c->ints = 0;
}

/* ---- builder helpers --------------------------------------------------- */

static uint32_t emit_s(mpc_program *p, uint16_t op, uint32_t a, uint32_t b, uint64_t imm, fe c) {
  uint32_t d = mpc_sreg(p);
  mpc_ins in = {.op = op, .d = d, .a = a, .b = b, .imm = imm, .c = c};
  mpc_prog_emit(p, &in);
  return d;
}

uint32_t mpc_input(mpc_program *p, uint32_t dealer, uint32_t slot, uint64_t len) {
  return emit_s(p, MPC_OP_INPUT, dealer, slot, len, 0);
}
uint32_t mpc_input_client(mpc_program *p, uint32_t slot, uint64_t len) {
  return emit_s(p, MPC_OP_INPUT_CLIENT, 0, slot, len, 0);
}
uint32_t mpc_rand(mpc_program *p, uint64_t len) { return emit_s(p, MPC_OP_RAND, 0, 0, len, 0); }
uint32_t mpc_randbit(mpc_program *p, uint64_t len) { return emit_s(p, MPC_OP_RANDBIT, 0, 0, len, 0); }
uint32_t mpc_randint(mpc_program *p, uint64_t len) { return emit_s(p, MPC_OP_RANDINT, 0, 0, len, 0); }
uint32_t mpc_add(mpc_program *p, uint32_t a, uint32_t b) { return emit_s(p, MPC_OP_ADD, a, b, 0, 0); }
uint32_t mpc_sub(mpc_program *p, uint32_t a, uint32_t b) { return emit_s(p, MPC_OP_SUB, a, b, 0, 0); }
uint32_t mpc_addc(mpc_program *p, uint32_t a, fe c) { return emit_s(p, MPC_OP_ADDC, a, 0, 0, c); }
uint32_t mpc_mulc(mpc_program *p, uint32_t a, fe c) { return emit_s(p, MPC_OP_MULC, a, 0, 0, c); }
uint32_t mpc_mul(mpc_program *p, uint32_t a, uint32_t b) { return emit_s(p, MPC_OP_MUL, a, b, 0, 0); }

uint32_t mpc_open(mpc_program *p, uint32_t a) {
  uint32_t d = mpc_preg(p);
  mpc_ins in = {.op = MPC_OP_OPEN, .d = d, .a = a};
  mpc_prog_emit(p, &in);
  return d;
}

void mpc_output(mpc_program *p, uint32_t a, uint32_t slot) {
  mpc_ins in = {.op = MPC_OP_OUTPUT, .a = a, .imm = slot};
  mpc_prog_emit(p, &in);
}
