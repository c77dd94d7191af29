/* replay_main: a main() for LLVMFuzzerTestOneInput targets in builds without
 * libFuzzer (a fuzz smoke test run by ctest).
 *
 *   fuzz_x [CORPUS_DIR]
 *
 * Runs every regular file of CORPUS_DIR (a missing directory is fine), then
 * CUSTOS_FUZZ_ITERS (default 20000) seeded pseudo-random inputs: random bytes
 * of random length up to 4096, and mutations of the corpus files (bit flips,
 * byte changes, truncations, insertions, deletions, duplications, splices).
 * The seed is printed; CUSTOS_SEED=<n> replays a run input for input.
 * CUSTOS_FUZZ_SECONDS bounds the random phase in wall-clock time.
 * Exit 0 when no input crashed (a crash is a sanitizer report or abort).
 *
 * Every input is passed in a buffer of exactly its size so that ASan catches
 * reads past its end. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as with libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

#define RANDOM_MAX_LEN 4096u
#define MUTANT_MAX_LEN 65536u
#define FILE_MAX_LEN (1u << 20)

typedef struct {
  uint8_t *data;
  size_t len;
} input;

static uint64_t g_rng;

/* splitmix64: tiny, good enough, and the same everywhere for a given seed */
static uint64_t rnd(void) {
  uint64_t z = (g_rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* uniform-ish in [0, n); n > 0 */
static size_t below(size_t n) { return (size_t)(rnd() % n); }

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "replay: out of memory\n");
    exit(2);
  }
  return p;
}

/* Runs one input from an exactly sized copy. */
static void run(const uint8_t *data, size_t len) {
  uint8_t *copy = xmalloc(len);
  if (len) memcpy(copy, data, len);
  LLVMFuzzerTestOneInput(copy, len);
  free(copy);
}

static int read_file(const char *path, input *out) {
  int rc = -1;
  FILE *f = fopen(path, "rb");
  if (!f) goto out;
  out->data = xmalloc(FILE_MAX_LEN);
  out->len = fread(out->data, 1, FILE_MAX_LEN, f);
  if (ferror(f)) {
    free(out->data);
    out->data = NULL;
    goto out;
  }
  /* give back what the file did not use */
  uint8_t *shrunk = realloc(out->data, out->len ? out->len : 1);
  if (shrunk) out->data = shrunk;
  rc = 0;
out:
  if (f) fclose(f);
  return rc;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads the corpus sorted by name, so that a seed replays identically. */
static input *load_corpus(const char *dir, size_t *n) {
  input *in = NULL;
  char **names = NULL;
  size_t count = 0, cap = 0;
  *n = 0;
  DIR *d = dir ? opendir(dir) : NULL;
  if (!d) {
    if (dir) fprintf(stderr, "replay: no corpus at %s (%s)\n", dir, strerror(errno));
    return NULL;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (count == cap) {
      cap = cap ? 2 * cap : 16;
      names = realloc(names, cap * sizeof *names);
      if (!names) {
        fprintf(stderr, "replay: out of memory\n");
        exit(2);
      }
    }
    size_t len = strlen(dir) + strlen(e->d_name) + 2;
    names[count] = xmalloc(len);
    snprintf(names[count], len, "%s/%s", dir, e->d_name);
    count++;
  }
  closedir(d);
  if (count) qsort(names, count, sizeof *names, cmp_names);
  in = xmalloc((count ? count : 1) * sizeof *in);
  for (size_t i = 0; i < count; i++) {
    struct stat st;
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode) && read_file(names[i], &in[*n]) == 0)
      (*n)++;
    free(names[i]);
  }
  free(names);
  return in;
}

/* One mutation in place; buf has room for MUTANT_MAX_LEN bytes. */
static void mutate_once(uint8_t *buf, size_t *len, const input *corpus, size_t ncorpus) {
  size_t n = *len;
  switch (below(8)) {
    case 0: /* flip a bit */
      if (n) buf[below(n)] ^= (uint8_t)(1u << below(8));
      break;
    case 1: /* set a byte: random, or an ASCII one (text formats) */
      if (n) buf[below(n)] = below(2) ? (uint8_t)rnd() : (uint8_t)(0x20 + below(0x5f));
      break;
    case 2: /* truncate */
      if (n) *len = below(n + 1);
      break;
    case 3: { /* insert random bytes */
      size_t k = 1 + below(16), at = below(n + 1);
      if (n + k > MUTANT_MAX_LEN) break;
      memmove(buf + at + k, buf + at, n - at);
      for (size_t i = 0; i < k; i++) buf[at + i] = (uint8_t)rnd();
      *len = n + k;
      break;
    }
    case 4: { /* delete a range */
      if (!n) break;
      size_t at = below(n), k = 1 + below(n - at);
      memmove(buf + at, buf + at + k, n - at - k);
      *len = n - k;
      break;
    }
    case 5: { /* duplicate a range (repeats, nesting) */
      if (!n) break;
      size_t at = below(n), k = 1 + below(n - at < 64 ? n - at : 64), to = below(n + 1);
      if (n + k > MUTANT_MAX_LEN) break;
      uint8_t tmp[64];
      memcpy(tmp, buf + at, k);
      memmove(buf + to + k, buf + to, n - to);
      memcpy(buf + to, tmp, k);
      *len = n + k;
      break;
    }
    case 6: { /* splice: our prefix, another file's suffix */
      if (!ncorpus) break;
      const input *o = &corpus[below(ncorpus)];
      size_t keep = below(n + 1), from = below(o->len + 1), k = o->len - from;
      if (keep + k > MUTANT_MAX_LEN) k = MUTANT_MAX_LEN - keep;
      memcpy(buf + keep, o->data + from, k);
      *len = keep + k;
      break;
    }
    default: { /* overwrite with a byte copied from elsewhere */
      if (n > 1) buf[below(n)] = buf[below(n)];
      break;
    }
  }
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  const char *e;
  uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  unsigned long iters = 20000;
  double seconds = 0;
  if ((e = getenv("CUSTOS_SEED")) != NULL) seed = strtoull(e, NULL, 0);
  if ((e = getenv("CUSTOS_FUZZ_ITERS")) != NULL) iters = strtoul(e, NULL, 0);
  if ((e = getenv("CUSTOS_FUZZ_SECONDS")) != NULL) seconds = strtod(e, NULL);
  g_rng = seed;
  fprintf(stderr, "replay: seed %llu (CUSTOS_SEED=%llu to replay)\n", (unsigned long long)seed,
          (unsigned long long)seed);

  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);

  size_t ncorpus = 0;
  input *corpus = load_corpus(argc > 1 ? argv[1] : NULL, &ncorpus);
  for (size_t i = 0; i < ncorpus; i++) run(corpus[i].data, corpus[i].len);

  uint8_t *buf = xmalloc(MUTANT_MAX_LEN);
  double start = now_s();
  unsigned long done = 0;
  for (; done < iters; done++) {
    if (seconds > 0 && (done & 63) == 0 && now_s() - start > seconds) break;
    size_t len;
    if (!ncorpus || below(4) == 0) {
      len = below(RANDOM_MAX_LEN + 1);
      for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)rnd();
    } else {
      const input *src = &corpus[below(ncorpus)];
      len = src->len < MUTANT_MAX_LEN ? src->len : MUTANT_MAX_LEN;
      memcpy(buf, src->data, len);
      for (size_t k = 1 + below(8); k > 0; k--) mutate_once(buf, &len, corpus, ncorpus);
    }
    run(buf, len);
  }
  fprintf(stderr, "replay: %zu corpus files, %lu generated inputs, no crash\n", ncorpus, done);

  free(buf);
  for (size_t i = 0; i < ncorpus; i++) free(corpus[i].data);
  free(corpus);
  return 0;
}
