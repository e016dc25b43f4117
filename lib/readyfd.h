// SPDX-License-Identifier: MIT
/* readyfd.h - the descriptor ipk_pollfd() hands out for a channel that
 * buffers messages.  A kernel fd alone would lose wake-ups: after one
 * read() brought in ten messages, the kernel has nothing left to report
 * while nine wait in our buffer.  So the channel's fd goes into an epoll
 * set beside an eventfd that is kept readable while the buffer holds a
 * message.  Nothing is made until ipk_pollfd() is first called; until then
 * readyfd_set() costs a comparison. */
#ifndef IPK_READYFD_H
#define IPK_READYFD_H

#include <stdbool.h>

struct readyfd {
	int epfd;   /* owned: the epoll set handed out, -1 until asked */
	int evfd;   /* owned: eventfd, readable while armed */
	bool armed; /* evfd holds a count */
};

void readyfd_init(struct readyfd *p);

/* readyfd_get - the pollable fd for kernel fd `fd` (made on first call),
 * armed if `buffered`: an fd, or -errno. */
int readyfd_get(struct readyfd *p, int fd, bool buffered);

/* readyfd_flip - arm or disarm; call through readyfd_set(). */
void readyfd_flip(struct readyfd *p, bool buffered);

/* readyfd_set - keep the eventfd readable exactly while buffered is true. */
static inline void
readyfd_set(struct readyfd *p, bool buffered)
{
	if (p->epfd >= 0 && p->armed != buffered)
		readyfd_flip(p, buffered);
}

/* readyfd_close - close what readyfd_get() made.  Safe on an unused one. */
void readyfd_close(struct readyfd *p);

#endif
