/* An injectable clock. Protocol code takes a cx_clock* and never calls the
 * system clock itself, so tests and the simulator can drive time. */
#ifndef CUSTOS_CLOCK_H
#define CUSTOS_CLOCK_H

#include <stdint.h>

typedef struct cx_clock {
  /* Wall-clock milliseconds since the Unix epoch (block timestamps). */
  uint64_t (*now_ms)(struct cx_clock *c);
  /* Monotonic milliseconds (timeouts); never goes back. */
  uint64_t (*mono_ms)(struct cx_clock *c);
  void *ctx;
} cx_clock;

/* The process's real clock (static storage, never freed). */
cx_clock *clock_system(void);

/* A manual clock for tests: starts at start_ms, moves only by clock_fake_advance. */
typedef struct {
  cx_clock base;
  uint64_t now;
} cx_fake_clock;
void clock_fake_init(cx_fake_clock *c, uint64_t start_ms);
void clock_fake_advance(cx_fake_clock *c, uint64_t ms);

#endif
