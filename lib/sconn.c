// SPDX-License-Identifier: MIT
/* sconn.c - the send/recv/flush/pollfd ops of every framed stream
 * transport (pipe, unix, tcp): frame.c over fdio.c. */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "ipckit.h"

#include "forkgen.h"
#include "sconn.h"
#include "transport.h"
#include "wait.h"

static ssize_t
sconn_readv(void *ctx, const struct iovec *iov, int n, bool block)
{
	struct sconn *c = ctx;

	return fdio_readv(&c->in, iov, n, block);
}

static ssize_t
sconn_writev(void *ctx, const struct iovec *iov, int n, bool block)
{
	struct sconn *c = ctx;

	return fdio_writev(&c->out, iov, n, block);
}

static int
sconn_wait(void *ctx, short events, int64_t deadline)
{
	struct sconn *c = ctx;

	return fdio_wait(events & POLLIN ? &c->in : &c->out, events, deadline);
}

static ssize_t
sconn_readv_until(void *ctx, const struct iovec *iov, int n, int64_t deadline)
{
	struct sconn *c = ctx;

	return fdio_readv_until(&c->in, iov, n, deadline);
}

/* Sockets wait in the read itself (SO_RCVTIMEO, fdio_readv_until); pipes
 * poll, then read. */
static struct frame_io
sconn_io(struct sconn *c)
{
	return (struct frame_io){ c, sconn_readv, sconn_writev, sconn_wait,
		                  fdio_timed(&c->in) ? sconn_readv_until
		                                     : NULL };
}

int
sconn_init(struct sconn *c, int rfd, int wfd, bool one_peer)
{
	int err;

	frame_reader_init(&c->rd, FRAME_MAX_MSG);
	frame_writer_init(&c->wr);
	readyfd_init(&c->ready);
	c->one_peer = one_peer;
	c->gen = forkgen_current();
	err = fdio_init(&c->in, rfd);
	if (err == 0)
		err = fdio_init(&c->out, wfd);
	return err;
}

int
sconn_start(struct sconn *c, int fd)
{
	int err = sconn_init(c, fd, fd, true);

	if (err) {
		sconn_fini(c);
		close(fd);
	}
	return err;
}

void
sconn_fini(struct sconn *c)
{
	frame_reader_fini(&c->rd);
	frame_writer_fini(&c->wr);
	readyfd_close(&c->ready);
}

/* IPK_MORE messages held when the process forked are the parent's to
 * send: a child that inherited the channel (and perhaps only closes it)
 * must not send them a second time. */
static void
sconn_check_fork(struct sconn *c)
{
	unsigned gen = forkgen_current();

	if (gen != c->gen) {
		c->wr.head = c->wr.tail = 0;
		c->gen = gen;
	}
}

/* Once the peer's end has closed, nothing sent can arrive. */
static bool
sconn_peer_gone(const struct sconn *c)
{
	return c->one_peer && (c->rd.eof || c->rd.err == -EPIPE);
}

ssize_t
sconn_send(struct ipk_chan *ch, const void *msg, size_t len,
           const struct ipk_msginfo *info, int timeout_ms)
{
	struct sconn *c = ipk_chan_state(ch);
	struct frame_io io = sconn_io(c);

	sconn_check_fork(c);
	if (sconn_peer_gone(c))
		return errdetail(-EPIPE, "%s: the peer has closed",
		                 ch->address);
	return frame_send(&c->wr, &io, msg, len, info->flags & IPK_MORE,
	                  wait_deadline(timeout_ms));
}

ssize_t
sconn_recv(struct ipk_chan *ch, void *buf, size_t cap, struct ipk_msginfo *info,
           int timeout_ms)
{
	struct sconn *c = ipk_chan_state(ch);
	struct frame_io io = sconn_io(c);
	ssize_t n;

	info->type = 0;
	n = frame_recv(&c->rd, &io, buf, cap, false, wait_deadline(timeout_ms));
	readyfd_set(&c->ready, frame_ready(&c->rd));
	return n;
}

ssize_t
sconn_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
                int timeout_ms)
{
	struct sconn *c = ipk_chan_state(ch);
	struct frame_io io = sconn_io(c);
	ssize_t n;

	(void)info;
	n = frame_recv(&c->rd, &io, NULL, 0, true, wait_deadline(timeout_ms));
	readyfd_set(&c->ready, frame_ready(&c->rd));
	return n;
}

int
sconn_flush(struct ipk_chan *ch, int timeout_ms)
{
	struct sconn *c = ipk_chan_state(ch);
	struct frame_io io = sconn_io(c);

	sconn_check_fork(c);
	if (frame_pending(&c->wr) && sconn_peer_gone(c))
		return -EPIPE;
	return frame_flush(&c->wr, &io, wait_deadline(timeout_ms));
}

int
sconn_pollfd(struct ipk_chan *ch)
{
	struct sconn *c = ipk_chan_state(ch);

	return readyfd_get(&c->ready, c->in.fd, frame_ready(&c->rd));
}

size_t
sconn_max_msg(const struct ipk_chan *ch)
{
	const struct sconn *c = ipk_chan_cstate(ch);

	return c->rd.max_msg;
}

void
sconn_close(struct ipk_chan *ch)
{
	struct sconn *c = ipk_chan_state(ch);

	sconn_fini(c);
	if (c->in.fd >= 0)
		close(c->in.fd);
	if (c->out.fd >= 0 && c->out.fd != c->in.fd)
		close(c->out.fd);
	c->in.fd = c->out.fd = -1;
}
