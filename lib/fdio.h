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
