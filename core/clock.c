#include "clock.h"

#include <time.h>

static uint64_t sys_now(cx_clock *c) {
  (void)c;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t sys_mono(cx_clock *c) {
  (void)c;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static cx_clock g_system = {sys_now, sys_mono, 0};

cx_clock *clock_system(void) { return &g_system; }

static uint64_t fake_now(cx_clock *c) { return ((cx_fake_clock *)c)->now; }

void clock_fake_init(cx_fake_clock *c, uint64_t start_ms) {
  c->base.now_ms = fake_now;
  c->base.mono_ms = fake_now;
  c->base.ctx = c;
  c->now = start_ms;
}

void clock_fake_advance(cx_fake_clock *c, uint64_t ms) { c->now += ms; }
