#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sodium.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

double bench_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_pick_ports(int *out, unsigned n) {
  for (int attempt = 0; attempt < 200; attempt++) {
    int base = 20000 + (int)randombytes_uniform(40000);
    int ok = 1;
    for (unsigned i = 0; i < n && ok; i++) {
      int s = socket(AF_INET, SOCK_STREAM, 0);
      if (s < 0) return -1;
      struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(base + (int)i))};
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
      close(s);
    }
    if (ok) {
      for (unsigned i = 0; i < n; i++) out[i] = base + (int)i;
      return 0;
    }
  }
  return -1;
}
