// SPDX-License-Identifier: MIT
/* readyfd.c - an epoll set of a channel's kernel fd and an eventfd that
 * stands for "messages are buffered here": level-triggered, so a poller
 * that takes one message per wake-up never loses the rest. */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "readyfd.h"

void
readyfd_init(struct readyfd *p)
{
	p->epfd = -1;
	p->evfd = -1;
	p->armed = false;
}

int
readyfd_get(struct readyfd *p, int fd, bool buffered)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	if (p->epfd >= 0) {
		readyfd_set(p, buffered);
		return p->epfd;
	}
	p->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->evfd < 0)
		return -errno;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0)
		goto fail;
	ev.data.fd = fd;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		goto fail;
	ev.data.fd = p->evfd;
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->evfd, &ev) != 0)
		goto fail;
	p->armed = false;
	readyfd_set(p, buffered);
	return p->epfd;
fail:
	err = -errno;
	readyfd_close(p);
	return err;
}

void
readyfd_flip(struct readyfd *p, bool buffered)
{
	uint64_t one = 1, sink;

	/* An eventfd write or read of 8 bytes cannot fail here: the count
	 * stays at 0 or 1 and the fd is ours. */
	if (buffered)
		p->armed = write(p->evfd, &one, sizeof(one)) == sizeof(one);
	else
		p->armed =
		        !(read(p->evfd, &sink, sizeof(sink)) == sizeof(sink) ||
		          errno == EAGAIN);
}

void
readyfd_close(struct readyfd *p)
{
	if (p->epfd >= 0)
		close(p->epfd);
	if (p->evfd >= 0)
		close(p->evfd);
	readyfd_init(p);
}
