// SPDX-License-Identifier: MIT
/* forkgen.h - a counter that changes in every child after fork(), so that a
 * channel can tell it was inherited and drop what belongs to its parent
 * (threads, messages held back for the parent's next receive). */
#ifndef IPK_FORKGEN_H
#define IPK_FORKGEN_H

#include <stdbool.h>

extern unsigned forkgen_value; /* bumped in every child; see forkgen.c */
extern bool forkgen_ready;     /* the atfork handler is registered */

void forkgen_init(void);

/* forkgen_current - this process's generation: equal values mean "the same
 * process as when the value was taken".  Inline: it is on every receive. */
static inline unsigned
forkgen_current(void)
{
	if (!__atomic_load_n(&forkgen_ready, __ATOMIC_ACQUIRE))
		forkgen_init();
	return __atomic_load_n(&forkgen_value, __ATOMIC_RELAXED);
}

#endif
