/* memstate: a sorted array of entries and an undo log (memstate.h). */
#include "memstate.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  uint8_t *k, *v;
  size_t kl, vl;
} ment;

/* The value k had before a write (had = 0: absent). */
typedef struct {
  uint8_t *k, *v;
  size_t kl, vl;
  int had;
} mundo;

struct vm_memstate {
  ment *e;
  size_t n, cap;
  mundo *u;
  size_t nu, ucap;
};

static uint8_t *dup_bytes(const uint8_t *p, size_t n) {
  uint8_t *r = malloc(n ? n : 1);
  if (r && n) memcpy(r, p, n);
  return r;
}

static int kcmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
  int c = memcmp(a, b, al < bl ? al : bl);
  if (c) return c;
  return al < bl ? -1 : al > bl;
}

/* Lower bound of k; *found if it is there. */
static size_t find(const vm_memstate *m, const uint8_t *k, size_t kl, int *found) {
  size_t lo = 0, hi = m->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (kcmp(m->e[mid].k, m->e[mid].kl, k, kl) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = lo < m->n && kcmp(m->e[lo].k, m->e[lo].kl, k, kl) == 0;
  return lo;
}

/* Sets k to v, taking ownership of v (and of k when it is new). Returns
 * -1 (nothing changed, nothing taken) when out of memory. */
static int set_owned(vm_memstate *m, uint8_t *k, size_t kl, uint8_t *v, size_t vl, int *took_k) {
  int found;
  size_t i = find(m, k, kl, &found);
  *took_k = 0;
  if (found) {
    free(m->e[i].v);
    m->e[i].v = v;
    m->e[i].vl = vl;
    return 0;
  }
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    ment *e = realloc(m->e, cap * sizeof *e);
    if (!e) return -1;
    m->e = e;
    m->cap = cap;
  }
  memmove(&m->e[i + 1], &m->e[i], (m->n - i) * sizeof *m->e);
  m->e[i] = (ment){k, v, kl, vl};
  m->n++;
  *took_k = 1;
  return 0;
}

static void drop(vm_memstate *m, const uint8_t *k, size_t kl) {
  int found;
  size_t i = find(m, k, kl, &found);
  if (!found) return;
  free(m->e[i].k);
  free(m->e[i].v);
  memmove(&m->e[i], &m->e[i + 1], (m->n - i - 1) * sizeof *m->e);
  m->n--;
}

/* Logs k's current value; -1 when out of memory (nothing logged). */
static int log_undo(vm_memstate *m, const uint8_t *k, size_t kl) {
  int found;
  size_t i = find(m, k, kl, &found);
  if (m->nu == m->ucap) {
    size_t cap = m->ucap ? m->ucap * 2 : 64;
    mundo *u = realloc(m->u, cap * sizeof *u);
    if (!u) return -1;
    m->u = u;
    m->ucap = cap;
  }
  mundo u = {dup_bytes(k, kl), found ? dup_bytes(m->e[i].v, m->e[i].vl) : NULL, kl, found ? m->e[i].vl : 0, found};
  if (!u.k || (found && !u.v)) {
    free(u.k);
    free(u.v);
    return -1;
  }
  m->u[m->nu++] = u;
  return 0;
}

/* Takes back the last undo entry without applying it (a write that then
 * failed). */
static void unlog(vm_memstate *m) {
  mundo *u = &m->u[--m->nu];
  free(u->k);
  free(u->v);
}

static cx_err st_get(void *ctx, const uint8_t *k, size_t kl, uint8_t **v, size_t *vl) {
  vm_memstate *m = ctx;
  int found;
  size_t i = find(m, k, kl, &found);
  if (!found) return CX_E_NOT_FOUND;
  if (!(*v = dup_bytes(m->e[i].v, m->e[i].vl))) return CX_E_NOMEM;
  *vl = m->e[i].vl;
  return CX_OK;
}

static cx_err st_put(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl) {
  vm_memstate *m = ctx;
  uint8_t *kc = dup_bytes(k, kl), *vc = dup_bytes(v, vl);
  int took_k = 0;
  if (!kc || !vc || log_undo(m, k, kl)) {
    free(kc);
    free(vc);
    return CX_E_NOMEM;
  }
  if (set_owned(m, kc, kl, vc, vl, &took_k)) {
    unlog(m);
    free(kc);
    free(vc);
    return CX_E_NOMEM;
  }
  if (!took_k) free(kc);
  return CX_OK;
}

static cx_err st_del(void *ctx, const uint8_t *k, size_t kl) {
  vm_memstate *m = ctx;
  if (log_undo(m, k, kl)) return CX_E_NOMEM;
  drop(m, k, kl);
  return CX_OK;
}

static size_t st_mark(void *ctx) { return ((vm_memstate *)ctx)->nu; }

static void st_rollback(void *ctx, size_t mark) {
  vm_memstate *m = ctx;
  while (m->nu > mark) {
    mundo *u = &m->u[--m->nu];
    int took_k = 0;
    /* Restoring a value never needs more room than the entry had: a key
     * present before the write is either still present (replace) or was
     * deleted, freeing its slot (reinsert within cap). */
    if (!u->had)
      drop(m, u->k, u->kl);
    else if (set_owned(m, u->k, u->kl, u->v, u->vl, &took_k) == 0) {
      if (!took_k) free(u->k);
      continue; /* k and v now owned by the entry (or k freed) */
    }
    free(u->k);
    free(u->v);
  }
}

vm_memstate *vm_memstate_new(void) { return calloc(1, sizeof(vm_memstate)); }

void vm_memstate_forget(vm_memstate *m) {
  for (size_t i = 0; i < m->nu; i++) {
    free(m->u[i].k);
    free(m->u[i].v);
  }
  m->nu = 0;
}

void vm_memstate_free(vm_memstate *m) {
  if (!m) return;
  vm_memstate_forget(m);
  for (size_t i = 0; i < m->n; i++) {
    free(m->e[i].k);
    free(m->e[i].v);
  }
  free(m->e);
  free(m->u);
  free(m);
}

vm_state vm_memstate_state(vm_memstate *m) {
  return (vm_state){m, st_get, st_put, st_del, st_mark, st_rollback};
}

size_t vm_memstate_size(const vm_memstate *m) { return m->n; }
