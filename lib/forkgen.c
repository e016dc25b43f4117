// SPDX-License-Identifier: MIT
/* forkgen.c - a pthread_atfork() child handler bumps a counter; a channel
 * compares it with the value it took when it was opened. */
#include <pthread.h>

#include "forkgen.h"

static unsigned forkgen_value;

static void
forkgen_child(void)
{
	__atomic_add_fetch(&forkgen_value, 1, __ATOMIC_RELAXED);
}

static void
forkgen_init(void)
{
	/* glibc removes the handler if the library is unloaded. */
	(void)pthread_atfork(NULL, NULL, forkgen_child);
}

unsigned
forkgen_current(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, forkgen_init);
	return __atomic_load_n(&forkgen_value, __ATOMIC_RELAXED);
}
