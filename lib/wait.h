// SPDX-License-Identifier: MIT
/* wait.h - deadlines on the monotonic clock, and poll() that survives
 * EINTR without stretching the caller's timeout. */
#ifndef IPK_WAIT_H
#define IPK_WAIT_H

#include <stdint.h>

#define WAIT_FOREVER INT64_MAX

/* wait_now_ns - CLOCK_MONOTONIC in nanoseconds. */
int64_t wait_now_ns(void);

/* wait_deadline - absolute deadline (ns) for a timeout in ms: -1 gives
 * WAIT_FOREVER, 0 gives "now". */
int64_t wait_deadline(int timeout_ms);

/* wait_left_ms - ms left until deadline for poll(): -1 for WAIT_FOREVER,
 * 0 once passed, rounded up so that a wait never ends early. */
int wait_left_ms(int64_t deadline);

/*
 * wait_fd - poll one fd for events until deadline, retrying EINTR.
 * Returns the revents (> 0), -ETIMEDOUT once the deadline passes, or
 * -errno.  Transports return -ETIMEDOUT for every expired wait; chan.c
 * turns it into -EAGAIN when the caller's timeout was 0.
 */
int wait_fd(int fd, short events, int64_t deadline);

#endif
