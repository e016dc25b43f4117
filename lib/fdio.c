// SPDX-License-Identifier: MIT
/* fdio.c - per-call waiting or not on pipes, sockets and the rest, and
 * writes that never raise SIGPIPE.  The kernel's support for the pipe
 * flags is probed once, on a private pipe. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fdio.h"
#include "forkgen.h"
#include "wait.h"

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif
/* Linux 6.18: EPIPE without SIGPIPE.  Older kernels refuse unknown flags
 * with EOPNOTSUPP, and the probe below checks the effect, not just the
 * acceptance. */
#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x00000100
#endif

static pthread_once_t fdio_once = PTHREAD_ONCE_INIT;
static bool fdio_has_nowait;   /* preadv2/pwritev2 RWF_NOWAIT on pipes */
static bool fdio_has_nosignal; /* pwritev2 RWF_NOSIGNAL on pipes */
static atomic_bool fdio_fallback;

void
fdio_test_force_fallback(bool on)
{
	atomic_store(&fdio_fallback, on);
}

/* writev (rwf 0) or pwritev2 with SIGPIPE blocked for this thread; a
 * SIGPIPE is consumed only if this write caused it (then *caused, if not
 * NULL, is set). */
static ssize_t
fdio_guarded(int fd, const struct iovec *iov, int n, int rwf, bool *caused)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t rc;
	int err;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	/* A SIGPIPE already pending is not ours to take. */
	was_pending = sigpending(&pending) == 0 &&
	              sigismember(&pending, SIGPIPE) == 1;
	do
		rc = rwf ? pwritev2(fd, iov, n, -1, rwf) : writev(fd, iov, n);
	while (rc < 0 && errno == EINTR);
	err = errno;
	/* Ours only if this write failed with EPIPE and raised it. */
	if (rc < 0 && err == EPIPE && !was_pending &&
	    sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
		struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 &&
		       errno == EINTR)
			;
		if (caused)
			*caused = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return rc;
}

ssize_t
fdio_write_nosigpipe(int fd, const struct iovec *iov, int n)
{
	return fdio_guarded(fd, iov, n, 0, NULL);
}

static void
fdio_probe(void)
{
	int p[2];
	char c = 0;
	struct iovec v = { &c, 1 };

	if (pipe2(p, O_CLOEXEC) != 0)
		return;
	fdio_has_nowait =
	        preadv2(p[0], &v, 1, -1, RWF_NOWAIT) < 0 && errno == EAGAIN;
	close(p[0]);
	/* No reader: the write must fail with EPIPE and cause no SIGPIPE
	 * (guarded, in case the flag is ignored). */
	{
		bool caused = false;
		ssize_t rc = fdio_guarded(p[1], &v, 1, RWF_NOSIGNAL, &caused);

		fdio_has_nosignal = rc < 0 && errno == EPIPE && !caused;
	}
	close(p[1]);
}

int
fdio_init(struct fdio *f, int fd)
{
	struct stat st;
	int fl;

	pthread_once(&fdio_once, fdio_probe);
	f->fd = fd;
	if (fstat(fd, &st) != 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	f->nonblock = (fl & O_NONBLOCK) != 0;
	if (S_ISFIFO(st.st_mode))
		f->kind = FDIO_PIPE;
	else if (S_ISSOCK(st.st_mode))
		f->kind = FDIO_SOCK;
	else
		f->kind = FDIO_OTHER;
	return 0;
}

static ssize_t
fdio_result(ssize_t n)
{
	if (n >= 0)
		return n;
	if (errno == EWOULDBLOCK || errno == EAGAIN)
		return -EAGAIN;
	if (errno == ECONNRESET || errno == EPIPE || errno == ENOTCONN)
		return -EPIPE;
	return -errno;
}

/* Would a plain call on a blocking description wait?  poll() says. */
static bool
fdio_would_wait(const struct fdio *f, short events)
{
	struct pollfd p = { .fd = f->fd, .events = events };
	int k;

	do
		k = poll(&p, 1, 0);
	while (k < 0 && errno == EINTR);
	return k == 0;
}

static bool
fdio_pipe_flags(void)
{
	return !atomic_load_explicit(&fdio_fallback, memory_order_relaxed);
}

ssize_t
fdio_readv(const struct fdio *f, const struct iovec *iov, int n, bool block)
{
	ssize_t rc;

	for (;;) {
		if (f->kind == FDIO_SOCK) {
			struct msghdr m = {
				.msg_iov = (struct iovec *)(uintptr_t)iov,
				.msg_iovlen = (size_t)n
			};

			rc = recvmsg(f->fd, &m, block ? 0 : MSG_DONTWAIT);
		} else if (block || f->nonblock) {
			rc = readv(f->fd, iov, n);
		} else if (f->kind == FDIO_PIPE && fdio_has_nowait &&
		           fdio_pipe_flags()) {
			rc = preadv2(f->fd, iov, n, -1, RWF_NOWAIT);
		} else if (fdio_would_wait(f, POLLIN)) {
			return -EAGAIN;
		} else {
			rc = readv(f->fd, iov, n);
		}
		if (rc >= 0 || errno != EINTR)
			return fdio_result(rc);
	}
}

/* Without a way to write without waiting, a poll()-approved write of at
 * most PIPE_BUF bytes is the most that cannot block. */
static int
fdio_clip(const struct iovec *iov, int n, struct iovec *out)
{
	size_t left = PIPE_BUF;
	int k = 0;

	for (int i = 0; i < n && left > 0; i++) {
		out[k] = iov[i];
		if (out[k].iov_len > left)
			out[k].iov_len = left;
		left -= out[k].iov_len;
		k++;
	}
	return k;
}

ssize_t
fdio_writev(const struct fdio *f, const struct iovec *iov, int n, bool block)
{
	bool flags = fdio_pipe_flags();
	ssize_t rc;

	for (;;) {
		if (f->kind == FDIO_SOCK) {
			struct msghdr m = {
				.msg_iov = (struct iovec *)(uintptr_t)iov,
				.msg_iovlen = (size_t)n
			};

			rc = sendmsg(f->fd, &m,
			             MSG_NOSIGNAL | (block ? 0 : MSG_DONTWAIT));
		} else if (f->kind == FDIO_PIPE && flags && fdio_has_nosignal &&
		           (block || f->nonblock || fdio_has_nowait)) {
			int rwf = RWF_NOSIGNAL;

			if (!block && !f->nonblock)
				rwf |= RWF_NOWAIT;
			rc = pwritev2(f->fd, iov, n, -1, rwf);
		} else if (f->kind == FDIO_PIPE && flags && fdio_has_nowait &&
		           !block && !f->nonblock) {
			/* RWF_NOWAIT without RWF_NOSIGNAL. */
			rc = fdio_guarded(f->fd, iov, n, RWF_NOWAIT, NULL);
		} else if (block || f->nonblock) {
			rc = f->kind == FDIO_PIPE
			             ? fdio_write_nosigpipe(f->fd, iov, n)
			             : writev(f->fd, iov, n);
		} else {
			struct iovec clip[IOV_MAX < 64 ? IOV_MAX : 64];
			int k;

			if (fdio_would_wait(f, POLLOUT))
				return -EAGAIN;
			k = fdio_clip(iov, n < 64 ? n : 64, clip);
			rc = f->kind == FDIO_PIPE
			             ? fdio_write_nosigpipe(f->fd, clip, k)
			             : writev(f->fd, clip, k);
		}
		if (rc >= 0 || errno != EINTR)
			return fdio_result(rc);
	}
}

bool
fdio_timed(const struct fdio *f)
{
	return f->kind == FDIO_SOCK && !f->nonblock;
}

/* Make SO_RCVTIMEO at most left ns (and not far below it): 0 or -errno. */
static int
fdio_rcvtimeo(struct fdio *f, int64_t left)
{
	unsigned gen = forkgen_current();
	struct timeval tv;
	int64_t want;

	if (f->rcvtimeo_gen == gen && f->rcvtimeo_ns > 0 &&
	    f->rcvtimeo_ns <= left && f->rcvtimeo_ns * 2 >= left)
		return 0;
	/* 7/8: the next receive with the same timeout finds a little less
	 * time left, and must not have to set it again. */
	want = left / 8 * 7;
	tv.tv_sec = (time_t)(want / 1000000000);
	tv.tv_usec = (suseconds_t)(want % 1000000000 / 1000);
	if (tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1; /* zero would mean for ever */
	if (setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		return -errno;
	f->rcvtimeo_ns = (int64_t)tv.tv_sec * 1000000000 + tv.tv_usec * 1000;
	f->rcvtimeo_gen = gen;
	return 0;
}

/* poll() until deadline, then a read that does not wait. */
static ssize_t
fdio_poll_read(struct fdio *f, const struct iovec *iov, int n, int64_t deadline)
{
	int w = fdio_wait(f, POLLIN, deadline);

	if (w == -ETIMEDOUT)
		return -EAGAIN;
	return w < 0 ? w : fdio_readv(f, iov, n, false);
}

ssize_t
fdio_readv_until(struct fdio *f, const struct iovec *iov, int n,
                 int64_t deadline)
{
	struct msghdr m = { .msg_iov = (struct iovec *)(uintptr_t)iov,
		            .msg_iovlen = (size_t)n };
	int64_t left = deadline - wait_now_ns();
	ssize_t rc;

	if (left <= 0)
		return fdio_readv(f, iov, n, false);
	if (!fdio_timed(f) || left < FDIO_TIMED_MIN_NS ||
	    fdio_rcvtimeo(f, left) != 0)
		return fdio_poll_read(f, iov, n, deadline);
	rc = recvmsg(f->fd, &m, 0);
	if (rc >= 0)
		return rc;
	if (errno == EINTR)
		return -EAGAIN; /* the caller looks at its deadline again */
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return fdio_result(rc);
	/* The receive timeout (7/8 of the time left) ran out, or someone
	 * made the description O_NONBLOCK since fdio_init: the rest of the
	 * wait is a poll(), never a loop of reads that say EAGAIN. */
	return fdio_poll_read(f, iov, n, deadline);
}

int
fdio_wait(const struct fdio *f, short events, int64_t deadline)
{
	return wait_fd(f->fd, events, deadline);
}
