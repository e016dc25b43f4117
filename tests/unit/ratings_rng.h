// SPDX-License-Identifier: MIT
/* ratings_rng.h - a deterministic xorshift64 for the ratings unit tests,
 * so that a failure repeats exactly. */
#ifndef TESTS_RATINGS_RNG_H
#define TESTS_RATINGS_RNG_H

#include <stdint.h>

static uint64_t rng_state = 42;

static inline uint64_t
rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

#endif
