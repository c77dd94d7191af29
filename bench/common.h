/* Helpers every benchmark shares (bench/common.c, linked into each). */
#ifndef CUSTOS_BENCH_COMMON_H
#define CUSTOS_BENCH_COMMON_H

/* Monotonic clock in seconds. */
double bench_now_s(void);
/* n distinct TCP ports on 127.0.0.1 that are free now (net_free_ports:
 * below the ephemeral range, so no outgoing connection takes one as its
 * source port; nanomsg cannot bind port 0 and tell which port it got):
 * 0 and out[0..n), or -1 (n > 64 included). Another process may still take
 * one before it is bound; nn_bind then fails loudly. */
int bench_pick_ports(int *out, unsigned n);

#endif
