/* digest_filter: see digest_filter.h for why and how. */
#include "digest_filter.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_WORDS 8           /* 64 bytes = 512 bits, one cache line */
#define BITS_PER_DIGEST 8       /* bits set in its block per digest */
#define DIGESTS_PER_BLOCK 32    /* a level is full at this load: 16 bits a digest */
#define GROWTH 4                /* each level 4x the one before */
#define MAX_LEVELS 16

typedef struct {
  uint64_t *w;    /* nblocks * BLOCK_WORDS words */
  size_t nblocks; /* a power of two */
  uint64_t count;
} level;

struct digest_filter {
  pthread_mutex_t mu;
  level lv[MAX_LEVELS]; /* lv[0 .. nlv-1]; new digests go into the last */
  int nlv;
  size_t max_blocks; /* all levels together */
  size_t blocks;     /* held now */
  atomic_int ready;
};

static int level_new(level *l, size_t nblocks) {
  l->w = calloc(nblocks * BLOCK_WORDS, sizeof *l->w);
  l->nblocks = nblocks;
  l->count = 0;
  return l->w != NULL;
}

digest_filter *df_new(size_t first, size_t max_bytes) {
  digest_filter *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->max_blocks = max_bytes / (BLOCK_WORDS * 8) ? max_bytes / (BLOCK_WORDS * 8) : 1;
  size_t n = 1;
  while (n * DIGESTS_PER_BLOCK < first) n *= 2;
  while (n > f->max_blocks) n /= 2;
  if (!level_new(&f->lv[0], n) || pthread_mutex_init(&f->mu, NULL) != 0) {
    free(f->lv[0].w);
    free(f);
    return NULL;
  }
  f->nlv = 1;
  f->blocks = n;
  atomic_init(&f->ready, 0);
  return f;
}

void df_free(digest_filter *f) {
  if (!f) return;
  pthread_mutex_destroy(&f->mu);
  for (int i = 0; i < f->nlv; i++) free(f->lv[i].w);
  free(f);
}

/* The digest's block in l (low bits of its first 8 bytes) and its 8 bit
 * positions (9 bits each from the next 16 bytes). */
static uint64_t *block_of(const level *l, const uint8_t d[32]) {
  uint64_t x;
  memcpy(&x, d, 8); /* any byte order: digests are uniform */
  return l->w + (size_t)(x & (l->nblocks - 1)) * BLOCK_WORDS;
}

static unsigned bitpos(const uint8_t d[32], int i) {
  return ((unsigned)d[8 + 2 * i] | (unsigned)d[9 + 2 * i] << 8) & 511u;
}

void df_add(digest_filter *f, const uint8_t d[32]) {
  pthread_mutex_lock(&f->mu);
  level *l = &f->lv[f->nlv - 1];
  if (l->count >= (uint64_t)l->nblocks * DIGESTS_PER_BLOCK && f->nlv < MAX_LEVELS &&
      f->blocks + GROWTH * l->nblocks <= f->max_blocks &&
      level_new(&f->lv[f->nlv], GROWTH * l->nblocks)) {
    f->blocks += GROWTH * l->nblocks;
    l = &f->lv[f->nlv++];
  }
  uint64_t *b = block_of(l, d);
  for (int i = 0; i < BITS_PER_DIGEST; i++) {
    unsigned p = bitpos(d, i);
    b[p >> 6] |= (uint64_t)1 << (p & 63);
  }
  l->count++;
  pthread_mutex_unlock(&f->mu);
}

int df_maybe(digest_filter *f, const uint8_t d[32]) {
  pthread_mutex_lock(&f->mu);
  int any = 0;
  for (int v = f->nlv - 1; v >= 0 && !any; v--) {
    const uint64_t *b = block_of(&f->lv[v], d);
    int all = 1;
    for (int i = 0; i < BITS_PER_DIGEST && all; i++) {
      unsigned p = bitpos(d, i);
      all = (b[p >> 6] >> (p & 63)) & 1;
    }
    any = all;
  }
  pthread_mutex_unlock(&f->mu);
  return any;
}

void df_set_ready(digest_filter *f) { atomic_store_explicit(&f->ready, 1, memory_order_release); }

int df_ready(digest_filter *f) { return atomic_load_explicit(&f->ready, memory_order_acquire); }

uint64_t df_count(digest_filter *f) {
  pthread_mutex_lock(&f->mu);
  uint64_t c = 0;
  for (int v = 0; v < f->nlv; v++) c += f->lv[v].count;
  pthread_mutex_unlock(&f->mu);
  return c;
}

size_t df_bytes(digest_filter *f) {
  pthread_mutex_lock(&f->mu);
  size_t b = f->blocks * BLOCK_WORDS * sizeof(uint64_t);
  pthread_mutex_unlock(&f->mu);
  return b;
}
