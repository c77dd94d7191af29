#include "state_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define STRIPES 64 /* a power of two; slot i is guarded by stripe i % STRIPES */

typedef struct {
  uint8_t used, present, klen;
  uint8_t vlen; /* SC_VAL_MAX fits a byte */
  uint8_t key[SC_KEY_MAX];
  uint8_t val[SC_VAL_MAX];
} slot;

_Static_assert(SC_VAL_MAX <= 255 && SC_KEY_MAX <= 255, "slot lengths are bytes");

struct state_cache {
  slot *slots;
  size_t mask;
  uint64_t gen; /* atomic */
  pthread_mutex_t mu[STRIPES];
};

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

state_cache *sc_new(size_t slots) {
  CX_ASSERT(slots && (slots & (slots - 1)) == 0);
  state_cache *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if (!(c->slots = calloc(slots, sizeof *c->slots))) {
    free(c);
    return NULL;
  }
  c->mask = slots - 1;
  for (size_t i = 0; i < STRIPES; i++) pthread_mutex_init(&c->mu[i], NULL);
  return c;
}

void sc_free(state_cache *c) {
  if (!c) return;
  for (size_t i = 0; i < STRIPES; i++) pthread_mutex_destroy(&c->mu[i]);
  free(c->slots);
  free(c);
}

uint64_t sc_gen(state_cache *c) { return __atomic_load_n(&c->gen, __ATOMIC_ACQUIRE); }

static size_t index_of(const state_cache *c, const uint8_t *key, size_t klen) {
  return (size_t)fnv1a(key, klen) & c->mask;
}

int sc_get(state_cache *c, const uint8_t *key, size_t klen, cx_err *e, uint8_t **val,
           size_t *vlen) {
  uint64_t gen = sc_gen(c);
  if ((gen & 1) || klen > SC_KEY_MAX) return 0; /* a commit is under way: LevelDB decides */
  size_t i = index_of(c, key, klen);
  pthread_mutex_t *mu = &c->mu[i & (STRIPES - 1)];
  pthread_mutex_lock(mu);
  const slot *s = &c->slots[i];
  int hit = s->used && s->klen == klen && memcmp(s->key, key, klen) == 0;
  uint8_t *copy = NULL;
  size_t n = 0;
  int present = hit && s->present;
  if (present) {
    n = s->vlen;
    if ((copy = malloc(n ? n : 1))) memcpy(copy, s->val, n);
  }
  pthread_mutex_unlock(mu);
  /* No commit began or ended during the lookup: the value is the one of
   * the published state (store.c publishes a commit before sc_end). */
  if (!hit || sc_gen(c) != gen) {
    free(copy);
    return 0;
  }
  if (!present) {
    *e = CX_E_NOT_FOUND;
  } else if (!copy) {
    *e = CX_E_NOMEM;
  } else {
    *val = copy;
    *vlen = n;
    *e = CX_OK;
  }
  return 1;
}

/* Slot i := (key, val); mu of i held. */
static void put_locked(slot *s, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen) {
  s->used = 1;
  s->klen = (uint8_t)klen;
  memcpy(s->key, key, klen);
  s->present = val != NULL;
  s->vlen = (uint8_t)(val ? vlen : 0);
  if (val && vlen) memcpy(s->val, val, vlen);
}

void sc_fill(state_cache *c, uint64_t gen, const uint8_t *key, size_t klen, const uint8_t *val,
             size_t vlen) {
  if ((gen & 1) || klen > SC_KEY_MAX || (val && vlen > SC_VAL_MAX)) return;
  size_t i = index_of(c, key, klen);
  pthread_mutex_t *mu = &c->mu[i & (STRIPES - 1)];
  pthread_mutex_lock(mu);
  /* Under the stripe lock: an unchanged even generation means no commit
   * began since before the caller's LevelDB read (sc_begin makes it odd). */
  if (sc_gen(c) == gen) put_locked(&c->slots[i], key, klen, val, vlen);
  pthread_mutex_unlock(mu);
}

void sc_update(state_cache *c, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen) {
  if (klen > SC_KEY_MAX) return; /* never cached, so nothing to supersede */
  size_t i = index_of(c, key, klen);
  pthread_mutex_t *mu = &c->mu[i & (STRIPES - 1)];
  pthread_mutex_lock(mu);
  slot *s = &c->slots[i];
  if (val && vlen > SC_VAL_MAX) {
    if (s->used && s->klen == klen && memcmp(s->key, key, klen) == 0) s->used = 0;
  } else {
    put_locked(s, key, klen, val, vlen);
  }
  pthread_mutex_unlock(mu);
}

void sc_begin(state_cache *c) {
  CX_ASSERT((sc_gen(c) & 1) == 0);
  __atomic_add_fetch(&c->gen, 1, __ATOMIC_ACQ_REL);
}

void sc_end(state_cache *c) {
  CX_ASSERT(sc_gen(c) & 1);
  __atomic_add_fetch(&c->gen, 1, __ATOMIC_ACQ_REL);
}

void sc_clear(state_cache *c) {
  for (size_t k = 0; k < STRIPES; k++) pthread_mutex_lock(&c->mu[k]);
  memset(c->slots, 0, (c->mask + 1) * sizeof *c->slots);
  __atomic_add_fetch(&c->gen, 2, __ATOMIC_ACQ_REL);
  for (size_t k = STRIPES; k-- > 0;) pthread_mutex_unlock(&c->mu[k]);
}
