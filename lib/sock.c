// SPDX-License-Identifier: MIT
/* sock.c - accept within a deadline; blocking mode after connect. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>

#include "sock.h"
#include "wait.h"

int
sock_accept(int lfd, int64_t deadline)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		int w;

		if (fd >= 0)
			return fd;
		/* A connection that died in the backlog is not an error. */
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (deadline != WAIT_FOREVER && wait_now_ns() >= deadline)
			return -ETIMEDOUT;
		w = wait_fd(lfd, POLLIN, deadline);
		if (w < 0)
			return w;
	}
}

int
sock_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0)
		return -errno;
	return 0;
}
