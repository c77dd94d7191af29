/* fault: the seeded fault shim between net/ and the wire (internal; built
 * into net/ only with CUSTOS_TESTING, and used as is by the consensus
 * simulator's fake network).
 *
 * Every outgoing frame passes through fault_out, which may drop it,
 * duplicate it, hold it back (delay; a held frame overtaken by later ones
 * is a reorder) or, on command, corrupt, replay or capture it. Decisions
 * come from a xoshiro256** stream seeded by "seed N", so a run replays
 * exactly from its seed and the order of calls. Partitions drop frames to
 * a named peer in this direction; a test partitions both sides of a pair.
 *
 * Pure and single-threaded (net/ holds its lock): time is now_ms, output
 * goes through the emit callback. Frames are copied when held. */
#ifndef CUSTOS_FAULT_H
#define CUSTOS_FAULT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct fault fault;

/* Emits one frame to peer (the name given to fault_out). */
typedef void (*fault_emit)(void *ctx, const char *peer, const uint8_t *frame, size_t len);

fault *fault_new(uint64_t seed);
void fault_free(fault *f);

/* Applies one command (net.h, net_fault). CX_E_INVALID_ARG with a sentence
 * in err for an unknown command or a bad number (probabilities in [0,1],
 * MIN_MS <= MAX_MS <= 60000). */
cx_err fault_command(fault *f, const char *cmd, char *err, size_t errlen);

/* One outgoing frame to peer at now_ms: emitted zero, one or more times,
 * now or later (fault_tick). The frame buffer is only read. */
void fault_out(fault *f, uint64_t now_ms, const char *peer, const uint8_t *frame, size_t len,
               fault_emit emit, void *ctx);
/* Emits held frames whose time has come, in order of due time. */
void fault_tick(fault *f, uint64_t now_ms, fault_emit emit, void *ctx);
/* 1 if peer is partitioned away (net/ also drops its incoming frames). */
int fault_partitioned(const fault *f, const char *peer);
/* Drops everything held for peer (link torn down). */
void fault_forget(fault *f, const char *peer);

#endif
