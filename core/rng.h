/* rng: a seeded, reproducible pseudo-random stream for the fault shim
 * (net/fault.c) and the consensus simulator (tests/sim): xoshiro256**
 * (Blackman and Vigna, "Scrambled linear pseudorandom number generators",
 * 2018), its state expanded from a 64-bit seed with splitmix64 as the
 * authors recommend. The same seed gives the same stream on every machine,
 * which is what lets a failing seed be replayed.
 *
 * NOT for keys, nonces, ephemeral secrets or anything an adversary must not
 * predict: those come from libsodium's CSPRNG (randombytes_buf). */
#ifndef CUSTOS_RNG_H
#define CUSTOS_RNG_H

#include <stdint.h>

typedef struct {
  uint64_t s[4];
} cx_rng;

void cx_rng_seed(cx_rng *r, uint64_t seed);
uint64_t cx_rng_next(cx_rng *r);
/* Uniform in [0, n) by reduction (bias below 2^-40 for the n used here); 0 when n = 0. */
uint64_t cx_rng_below(cx_rng *r, uint64_t n);
/* Uniform in [0, 1) with 53 bits. */
double cx_rng_unit(cx_rng *r);
/* 1 with probability p (0 when p <= 0). */
int cx_rng_chance(cx_rng *r, double p);

#endif
