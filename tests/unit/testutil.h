/* Shared helpers for the Check suites. */
#ifndef CUSTOS_TESTUTIL_H
#define CUSTOS_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

/* Runs one suite with CK_NORMAL output; returns the process exit status. */
int tu_run(Suite *s);
/* A fresh empty temporary directory (mkdtemp under $TMPDIR or /tmp).
 * The returned string is malloc'd; tu_rmrf removes the tree. */
char *tu_tmpdir(const char *prefix);
void tu_rmrf(const char *path);
/* Deterministic test randomness: seeded from $CUSTOS_SEED or time; the seed
 * is printed once so a failure can be replayed. */
uint64_t tu_seed(void);
uint64_t tu_rand(void);
void tu_randbytes(void *buf, size_t n);

#endif
