// SPDX-License-Identifier: MIT
/* forkgen.h - a counter that changes in every child after fork(), so that a
 * channel can tell it was inherited and drop what belongs to its parent
 * (threads, messages held back for the parent's next receive). */
#ifndef IPK_FORKGEN_H
#define IPK_FORKGEN_H

/* forkgen_current - this process's generation: equal values mean "the same
 * process as when the value was taken". */
unsigned forkgen_current(void);

#endif
