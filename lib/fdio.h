// SPDX-License-Identifier: MIT
/* fdio.h - reads and writes on one descriptor that may or may not wait,
 * chosen per call, without touching O_NONBLOCK on a description other
 * processes share (stdin and stdout), and without SIGPIPE: pipes use
 * preadv2/pwritev2 flags where the kernel has them (RWF_NOWAIT,
 * RWF_NOSIGNAL), sockets MSG_DONTWAIT and MSG_NOSIGNAL, and the rest poll
 * first.  Where the kernel cannot suppress SIGPIPE, the write runs with
 * SIGPIPE blocked and consumes only the signal it caused. */
#ifndef IPK_FDIO_H
#define IPK_FDIO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum fdio_kind {
	FDIO_PIPE,  /* pipe or FIFO */
	FDIO_SOCK,  /* socket */
	FDIO_OTHER, /* tty, file, device: poll, then plain read/write */
};

struct fdio {
	int fd; /* borrowed: the transport owns and closes it */
	enum fdio_kind kind;
	bool nonblock; /* O_NONBLOCK is set on the description */
	/* fdio_readv_until on a socket: the SO_RCVTIMEO this process last
	 * set (ns, 0 none yet), and the fork generation it set it in. */
	int64_t rcvtimeo_ns;
	unsigned rcvtimeo_gen;
};

/* fdio_init - look at fd (fstat, F_GETFL): 0, or -errno (-EBADF...). */
int fdio_init(struct fdio *f, int fd);

/*
 * fdio_readv, fdio_writev - bytes (> 0), 0 at end of file (reads), -EAGAIN
 * when it would wait and block is false, -EPIPE when the peer is gone
 * (EPIPE, ECONNRESET), or -errno.  EINTR is retried.  Writes never raise
 * SIGPIPE.
 */
ssize_t fdio_readv(const struct fdio *f, const struct iovec *iov, int n,
                   bool block);
ssize_t fdio_writev(const struct fdio *f, const struct iovec *iov, int n,
                    bool block);

/*
 * fdio_readv_until - a read that may wait until deadline (wait.h, not
 * WAIT_FOREVER): bytes (> 0), 0 at end of file, -EAGAIN when nothing came
 * (yet: the caller checks its deadline and calls again), -EPIPE, -errno.
 * On a socket whose description is not O_NONBLOCK it is one blocking
 * recvmsg() under SO_RCVTIMEO, never longer than the time left: the
 * option is set only when the time left is shorter than it (then to 7/8 of
 * that) or more than twice it, so a run of receives with one timeout sets
 * it once, where a poll() before each read would cost a system call a
 * message.  A wait of under FDIO_TIMED_MIN_NS, and any other descriptor,
 * polls then reads.  A process sharing the socket's description (after
 * fork) that sets another SO_RCVTIMEO can stretch a wait here to at most
 * its own timeout; the cache is dropped in a child after fork.
 */
#define FDIO_TIMED_MIN_NS 2000000 /* 2 ms */
ssize_t fdio_readv_until(struct fdio *f, const struct iovec *iov, int n,
                         int64_t deadline);

/* fdio_timed - can fdio_readv_until wait in the read itself on f? */
bool fdio_timed(const struct fdio *f);

/* fdio_wait - poll f->fd for events until deadline: revents, -ETIMEDOUT,
 * -errno. */
int fdio_wait(const struct fdio *f, short events, int64_t deadline);

/*
 * fdio_write_nosigpipe - writev() with SIGPIPE blocked for this thread,
 * consuming a SIGPIPE only if this write caused it, then restoring the
 * mask.  For pipes on kernels without RWF_NOSIGNAL.
 */
ssize_t fdio_write_nosigpipe(int fd, const struct iovec *iov, int n);

/* For tests: pretend the kernel lacks RWF_NOWAIT and RWF_NOSIGNAL, so the
 * fallbacks run. */
void fdio_test_force_fallback(bool on);

#endif
