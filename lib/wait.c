// SPDX-License-Identifier: MIT
/* wait.c - monotonic deadlines and an EINTR-proof poll for one fd. */
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "wait.h"

int64_t
wait_now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
wait_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return WAIT_FOREVER;
	return wait_now_ns() + (int64_t)timeout_ms * 1000000;
}

int
wait_left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline == WAIT_FOREVER)
		return -1;
	left = deadline - wait_now_ns();
	if (left <= 0)
		return 0;
	left = (left + 999999) / 1000000;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	for (;;) {
		n = poll(&p, 1, wait_left_ms(deadline));
		if (n > 0)
			return p.revents;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}
