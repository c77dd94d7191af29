#include "common.h"

#include <time.h>

#include "net.h"

double bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_pick_ports(int *out, unsigned n) {
  uint16_t p[64];
  char err[160];
  if (n > 64 || net_free_ports(p, n, err, sizeof err) != CX_OK) return -1;
  for (unsigned i = 0; i < n; i++) out[i] = p[i];
  return 0;
}
