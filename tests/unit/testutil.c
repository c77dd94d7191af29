#define _XOPEN_SOURCE 700 /* nftw */
#include "testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int tu_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? 0 : 1;
}

char *tu_tmpdir(const char *prefix) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  char *p = malloc(strlen(base) + strlen(prefix) + 16);
  if (!p) abort();
  sprintf(p, "%s/%s-XXXXXX", base, prefix);
  if (!mkdtemp(p)) abort();
  return p;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(path);
}

void tu_rmrf(const char *path) {
  if (path) nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static uint64_t g_state;
static int g_seeded;

uint64_t tu_seed(void) {
  if (!g_seeded) {
    const char *e = getenv("CUSTOS_SEED");
    g_state = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    fprintf(stderr, "test seed: CUSTOS_SEED=%llu\n", (unsigned long long)g_state);
    g_seeded = 1;
  }
  return g_state;
}

uint64_t tu_rand(void) {
  if (!g_seeded) tu_seed();
  /* splitmix64 */
  uint64_t z = (g_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void tu_randbytes(void *buf, size_t n) {
  uint8_t *b = buf;
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)tu_rand();
}
