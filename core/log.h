/* Levelled logging to stderr. One line per event:
 *   2026-11-21T10:00:00.123Z INFO  [module] message
 * Never log keys, shares, passphrases or private records: log ids and hashes.
 * The level can be changed at runtime (thread-safe). */
#ifndef CUSTOS_LOG_H
#define CUSTOS_LOG_H

typedef enum { LOG_TRACE = 0, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level;

void log_set_level(log_level lvl);
log_level log_get_level(void);
/* Parses "trace", "debug", "info", "warn", "error", "off"; -1 if unknown. */
int log_level_parse(const char *s);
const char *log_level_name(log_level lvl);

void log_msg(log_level lvl, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Names the calling thread (at most 15 bytes are kept), so that top -H,
 * perf and /proc/PID/task show which part of a node uses the CPU. */
void log_thread_name(const char *name);

#define LOG_T(mod, ...) log_msg(LOG_TRACE, mod, __VA_ARGS__)
#define LOG_D(mod, ...) log_msg(LOG_DEBUG, mod, __VA_ARGS__)
#define LOG_I(mod, ...) log_msg(LOG_INFO, mod, __VA_ARGS__)
#define LOG_W(mod, ...) log_msg(LOG_WARN, mod, __VA_ARGS__)
#define LOG_E(mod, ...) log_msg(LOG_ERROR, mod, __VA_ARGS__)

#endif
