// SPDX-License-Identifier: MIT
/* dgconn.c - send and receive on sockets that keep boundaries: one
 * recvmsg() per message, into the caller's buffer and, past its end, ours.
 * Optional one-byte header (for SOCK_SEQPACKET, where an empty record and
 * the end of the stream would both read as 0 bytes). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipckit.h"

#include "dgconn.h"
#include "transport.h"
#include "wait.h"

#define DGCONN_PLAIN 0x00 /* the header byte of an ordinary message */

void
dgconn_init(struct dgconn *d, int fd, unsigned hdr, size_t max_msg)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->hdr = hdr;
	d->max_msg = max_msg;
	readyfd_init(&d->ready);
}

static bool
dgconn_expired(int64_t deadline)
{
	return deadline != WAIT_FOREVER && wait_now_ns() >= deadline;
}

static int
dgconn_errno(struct dgconn *d, int err)
{
	if (err == EPIPE || err == ECONNRESET || err == ENOTCONN) {
		if (d->hdr)
			d->err = -EPIPE;
		return errdetail(-EPIPE, "the peer has closed");
	}
	/* UDP: an ICMP port unreachable for an earlier datagram. */
	if (err == ECONNREFUSED)
		return errdetail(-EPIPE, "the peer's port is closed");
	return -err;
}

ssize_t
dgconn_send(struct ipk_chan *ch, const void *msg, size_t len,
            const struct ipk_msginfo *info, int timeout_ms)
{
	struct dgconn *d = ipk_chan_state(ch);
	int64_t deadline = wait_deadline(timeout_ms);
	bool block = deadline == WAIT_FOREVER;
	unsigned char h = DGCONN_PLAIN;
	struct iovec v[2];
	struct msghdr m = { .msg_iov = v };

	(void)info;
	if (d->err)
		return d->err;
	if (d->hdr)
		v[m.msg_iovlen++] = (struct iovec){ &h, 1 };
	v[m.msg_iovlen++] = (struct iovec){ (void *)(uintptr_t)msg, len };
	for (;;) {
		ssize_t n = sendmsg(d->fd, &m,
		                    MSG_NOSIGNAL | (block ? 0 : MSG_DONTWAIT));
		int w;

		if (n >= 0)
			return n == (ssize_t)(len + d->hdr) ? (ssize_t)len
			                                    : -EIO;
		if (errno == EINTR)
			continue;
		if (errno == EMSGSIZE)
			return errdetail(-EMSGSIZE,
			                 "%s: the kernel refuses a datagram of "
			                 "%zu bytes",
			                 ch->address, len + d->hdr);
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return dgconn_errno(d, errno);
		if (dgconn_expired(deadline))
			return -ETIMEDOUT;
		w = wait_fd(d->fd, POLLOUT, deadline);
		if (w < 0)
			return w;
	}
}

static bool
dgconn_from_peer(const struct dgconn *d, const struct msghdr *m)
{
	return d->peer_len == 0 ||
	       (m->msg_namelen == d->peer_len &&
	        memcmp(m->msg_name, &d->peer, d->peer_len) == 0);
}

/* Throw away the datagram at the head of the queue. */
static void
dgconn_discard(struct dgconn *d)
{
	while (recv(d->fd, NULL, 0, MSG_DONTWAIT | MSG_TRUNC) < 0 &&
	       errno == EINTR)
		;
}

/*
 * The next message.  peek: its length, left in the socket.  Else into buf,
 * with whatever does not fit spilling into d->spill in the same call; a
 * message longer than cap then waits there for a larger buffer.
 */
static ssize_t
dgconn_take(struct ipk_chan *ch, void *buf, size_t cap, bool peek,
            int64_t deadline)
{
	struct dgconn *d = ipk_chan_state(ch);
	bool block = deadline == WAIT_FOREVER;
	size_t room = cap < d->max_msg ? cap : d->max_msg;

	if (d->holding)
		return (ssize_t)d->held;
	if (!peek && room < d->max_msg && d->spill == NULL) {
		d->spill = malloc(d->max_msg);
		if (d->spill == NULL)
			return -ENOMEM;
	}
	for (;;) {
		struct sockaddr_storage from;
		unsigned char h = DGCONN_PLAIN;
		struct iovec v[3];
		struct msghdr m = { .msg_iov = v };
		ssize_t n;
		size_t len;
		int w;

		if (d->err)
			return d->err;
		if (d->peer_len) {
			m.msg_name = &from;
			m.msg_namelen = sizeof(from);
		}
		if (d->hdr)
			v[m.msg_iovlen++] = (struct iovec){ &h, 1 };
		v[m.msg_iovlen++] = (struct iovec){ buf, peek ? 0 : room };
		if (!peek && room < d->max_msg)
			v[m.msg_iovlen++] =
			        (struct iovec){ d->spill, d->max_msg - room };
		n = recvmsg(d->fd, &m,
		            (peek ? MSG_PEEK : 0) | MSG_TRUNC |
		                    (block ? 0 : MSG_DONTWAIT));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return dgconn_errno(d, errno);
			if (dgconn_expired(deadline))
				return -ETIMEDOUT;
			w = wait_fd(d->fd, POLLIN, deadline);
			if (w < 0)
				return w;
			continue;
		}
		if (!dgconn_from_peer(d, &m)) {
			if (peek)
				dgconn_discard(d);
			continue;
		}
		if (d->hdr && n == 0) {
			d->err = -EPIPE;
			return errdetail(-EPIPE, "%s: the peer has closed",
			                 ch->address);
		}
		len = (size_t)n - d->hdr;
		if (h != DGCONN_PLAIN || len > d->max_msg) {
			if (peek)
				dgconn_discard(d);
			return errdetail(IPK_ECORRUPT,
			                 "%s: dropped a datagram of %zu bytes "
			                 "that is not an ipckit message",
			                 ch->address, (size_t)n);
		}
		if (!peek && len > room) {
			/* Too long for buf: the whole message waits in spill,
			 * its head moved in behind the part already there. */
			memmove(d->spill + room, d->spill, len - room);
			if (room)
				memcpy(d->spill, buf, room);
			d->held = len;
			d->holding = true;
		}
		return (ssize_t)len;
	}
}

ssize_t
dgconn_recv(struct ipk_chan *ch, void *buf, size_t cap,
            struct ipk_msginfo *info, int timeout_ms)
{
	struct dgconn *d = ipk_chan_state(ch);
	ssize_t n;

	info->type = 0;
	n = dgconn_take(ch, buf, cap, false, wait_deadline(timeout_ms));
	if (n >= 0 && d->holding) {
		if ((size_t)n > cap) {
			n = errdetail(
			        -EMSGSIZE,
			        "%s: message of %zd bytes, buffer of %zu: "
			        "it stays queued",
			        ch->address, n, cap);
		} else {
			if (n)
				memcpy(buf, d->spill, (size_t)n);
			d->holding = false;
		}
	}
	readyfd_set(&d->ready, d->holding);
	return n;
}

ssize_t
dgconn_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
                 int timeout_ms)
{
	(void)info;
	return dgconn_take(ch, NULL, 0, true, wait_deadline(timeout_ms));
}

int
dgconn_pollfd(struct ipk_chan *ch)
{
	struct dgconn *d = ipk_chan_state(ch);

	return readyfd_get(&d->ready, d->fd, d->holding);
}

size_t
dgconn_max_msg(const struct ipk_chan *ch)
{
	const struct dgconn *d = ipk_chan_cstate(ch);

	return d->max_msg;
}

void
dgconn_close(struct ipk_chan *ch)
{
	struct dgconn *d = ipk_chan_state(ch);

	readyfd_close(&d->ready);
	free(d->spill);
	d->spill = NULL;
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}
