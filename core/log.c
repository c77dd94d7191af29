#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static int g_level = LOG_INFO;
static const char *const names[] = {"trace", "debug", "info", "warn", "error", "off"};

void log_set_level(log_level lvl) { __atomic_store_n(&g_level, (int)lvl, __ATOMIC_RELAXED); }
log_level log_get_level(void) { return (log_level)__atomic_load_n(&g_level, __ATOMIC_RELAXED); }

int log_level_parse(const char *s) {
  for (int i = 0; i <= LOG_OFF; i++)
    if (s && strcmp(s, names[i]) == 0) return i;
  return -1;
}

const char *log_level_name(log_level lvl) {
  return (unsigned)lvl <= LOG_OFF ? names[lvl] : "?";
}

void log_msg(log_level lvl, const char *module, const char *fmt, ...) {
  if ((int)lvl < __atomic_load_n(&g_level, __ATOMIC_RELAXED) || lvl >= LOG_OFF) return;
  char line[1024];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s] ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, ts.tv_nsec / 1000000, names[lvl], module ? module : "-");
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = (int)sizeof line - 1; /* prefix was cut (long module) */
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  size_t len = strlen(line);
  (void)m;
  /* One fputs per line: lines from threads do not interleave. */
  if (len + 1 < sizeof line) {
    line[len] = '\n';
    line[len + 1] = 0;
  } else {
    line[sizeof line - 2] = '\n';
  }
  fputs(line, stderr);
}

void log_thread_name(const char *name) { (void)prctl(PR_SET_NAME, name, 0, 0, 0); }
