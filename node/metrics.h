/* metrics: custosd's plain HTTP endpoints beside JSON-RPC (the RPC server's
 * GET hook, rpc.h): GET /metrics in the Prometheus text exposition format
 * 0.0.4 and GET /healthz (docs/operations.md, "Metrics and health";
 * docs/rpc.md, "HTTP endpoints"). Neither needs the admin cookie, so both
 * publish counts and levels only: never a key, a record value or a share.
 *
 * Also the one measurement the node makes for them: commit latency, the
 * time from the first block this node held for a height (its own proposal
 * or one received, or a block fetched by sync) to that height's commit, as
 * a fixed-bucket histogram. */
#ifndef CUSTOS_METRICS_H
#define CUSTOS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "node.h"

/* Upper bounds of the latency buckets, in ms (Prometheus "le", in seconds,
 * is these / 1000); a last bucket takes everything above. */
#define METRICS_LAT_BOUNDS_MS {50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000}
#define METRICS_LAT_NB 10

/* Lives in struct node. bucket and sum_ms are atomics (written by the
 * consensus thread, read by RPC workers); first_mono and have_first belong
 * to the consensus thread. */
typedef struct {
  uint64_t bucket[METRICS_LAT_NB + 1]; /* observations per bucket, not cumulative */
  uint64_t sum_ms;
  uint64_t first_mono; /* mono ms: the first block of the height being decided */
  int have_first;
} metrics_latency;

/* Consensus thread: a block of the current height entered the block cache
 * (the first one starts the clock) ... */
void metrics_block_seen(node *n);
/* ... and the height committed: one observation (none if no block was seen,
 * which does not happen on the normal paths). */
void metrics_commit_done(node *n);

/* The rpc_get_handler custosd installs (ctx = node): /metrics, /healthz,
 * and 404 for any other path. Any thread. */
int metrics_http_get(void *ctx, const char *path, char **body, size_t *len,
                     const char **ctype);

#endif
