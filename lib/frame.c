// SPDX-License-Identifier: MIT
/* frame.c - length-prefixed messages over byte streams, with read-side
 * buffering and write-side coalescing.  Nothing from the peer is trusted:
 * a length above the limit stops the stream, and a message is handed out
 * only when all of it is here. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "ipckit.h"

#include "frame.h"
#include "transport.h"
#include "wait.h"

/* One read() asks for this much, so that a burst of small messages costs
 * one system call.  Messages above FRAME_DIRECT go straight into the
 * caller's buffer instead of through this one. */
#define FRAME_RBUF   (256u << 10)
#define FRAME_DIRECT (32u << 10)

/* Held IPK_MORE bytes: at FRAME_BATCH a write is tried (without waiting);
 * above FRAME_HOLD a send waits for the stream to take some.  Messages
 * above FRAME_BATCH are never copied. */
#define FRAME_BATCH (64u << 10)
#define FRAME_HOLD  (1u << 20)

void
frame_reader_init(struct frame_reader *r, size_t max_msg)
{
	memset(r, 0, sizeof(*r));
	r->max_msg = max_msg < FRAME_MAX_MSG ? max_msg : FRAME_MAX_MSG;
}

void
frame_reader_fini(struct frame_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->head = r->tail = 0;
}

static bool
frame_expired(int64_t deadline)
{
	return deadline != WAIT_FOREVER && wait_now_ns() >= deadline;
}

/* Room for `need` bytes from buf[head]: compact (when little room is left
 * at the end), then grow.  A partial frame is always shorter than need, so
 * afterwards there is room to read into. */
static int
frame_reserve(struct frame_reader *r, size_t need)
{
	size_t want;
	unsigned char *p;

	if (r->head > 0 &&
	    (r->cap - r->head < need || r->cap - r->tail < r->cap / 4)) {
		memmove(r->buf, r->buf + r->head, r->tail - r->head);
		r->tail -= r->head;
		r->head = 0;
	}
	if (r->buf && r->cap - r->head >= need)
		return 0;
	want = r->head + need < FRAME_RBUF ? FRAME_RBUF : r->head + need;
	p = realloc(r->buf, want);
	if (p == NULL)
		return -ENOMEM;
	r->buf = p;
	r->cap = want;
	return 0;
}

/* After a large message, go back to the usual buffer size. */
static void
frame_shrink(struct frame_reader *r)
{
	if (r->cap > FRAME_RBUF && r->head == r->tail) {
		free(r->buf);
		r->buf = NULL;
		r->cap = r->head = r->tail = 0;
	}
}

/*
 * One read into v.  A bounded wait with io->readv_until waits in the read
 * itself; otherwise a reader whose last read came back short (starved)
 * polls first, unless it has just polled, rather than pay for a read that
 * only says EAGAIN.
 */
static ssize_t
frame_read(struct frame_reader *r, const struct frame_io *io,
           const struct iovec *v, int n, int64_t deadline, bool polled)
{
	bool block = deadline == WAIT_FOREVER;

	if (!block && io->readv_until != NULL)
		return io->readv_until(io->ctx, v, n, deadline);
	if (r->starved && !block && !polled) {
		int w = io->wait(io->ctx, POLLIN, deadline);

		if (w < 0)
			return w;
	}
	return io->readv(io->ctx, v, n, block);
}

/*
 * A read said EAGAIN: -ETIMEDOUT once the deadline has passed; 0 to read
 * again at once (readv_until waits by itself); else 1 after poll() says
 * bytes came (also for a wait without end: the description may be
 * O_NONBLOCK), or -errno.
 */
static int
frame_again(struct frame_reader *r, const struct frame_io *io, int64_t deadline)
{
	int w;

	r->starved = true;
	if (frame_expired(deadline))
		return -ETIMEDOUT;
	if (deadline != WAIT_FOREVER && io->readv_until != NULL)
		return 0;
	w = io->wait(io->ctx, POLLIN, deadline);
	return w < 0 ? w : 1;
}

/* Read once into the free space: bytes (> 0), 0 at end of stream, or an
 * error (-ETIMEDOUT when the deadline passes). */
static ssize_t
frame_fill(struct frame_reader *r, const struct frame_io *io, int64_t deadline)
{
	bool polled = false;

	for (;;) {
		size_t room = r->cap - r->tail;
		struct iovec v = { r->buf + r->tail, room };
		ssize_t n = frame_read(r, io, &v, 1, deadline, polled);
		int k;

		if (n > 0) {
			r->tail += (size_t)n;
			r->starved = (size_t)n < room;
			return n;
		}
		if (n == 0) {
			r->eof = true;
			return 0;
		}
		if (n != -EAGAIN)
			return n;
		k = frame_again(r, io, deadline);
		if (k < 0)
			return k;
		polled = k > 0;
	}
}

static int
frame_corrupt(struct frame_reader *r, uint32_t len)
{
	r->err = IPK_ECORRUPT;
	return errdetail(IPK_ECORRUPT,
	                 "the peer announced a message of %u bytes, above "
	                 "the limit of %zu: the stream is not ipckit frames",
	                 len, r->max_msg);
}

/* The peer closed: `dropped` bytes of a frame never surface. */
static int
frame_eof(struct frame_reader *r, size_t dropped)
{
	r->head = r->tail = 0;
	r->err = -EPIPE;
	if (dropped)
		return errdetail(-EPIPE,
		                 "the peer closed in the middle of a message "
		                 "(%zu bytes of it dropped)",
		                 dropped);
	return -EPIPE;
}

/* Park a message that went partly into the caller's buffer back in ours,
 * so the next call can finish it. */
static int
frame_stash(struct frame_reader *r, const unsigned char *part, size_t got,
            uint32_t len)
{
	if (frame_reserve(r, FRAME_HDR + (size_t)len) != 0) {
		r->err = -ENOMEM;
		return -ENOMEM;
	}
	frame_put_len(r->buf, len);
	memcpy(r->buf + FRAME_HDR, part, got);
	r->head = 0;
	r->tail = FRAME_HDR + got;
	return 0;
}

/* A large message the caller has room for: the bytes we hold go first,
 * then the kernel writes the rest straight into the caller's buffer (and
 * what follows into ours, in the same call). */
static ssize_t
frame_recv_direct(struct frame_reader *r, const struct frame_io *io,
                  unsigned char *dst, uint32_t len, int64_t deadline)
{
	size_t got = r->tail - r->head - FRAME_HDR;
	bool polled = false;

	memcpy(dst, r->buf + r->head + FRAME_HDR, got);
	r->head = r->tail = 0;
	while (got < len) {
		struct iovec v[2] = { { dst + got, len - got },
			              { r->buf, r->cap } };
		ssize_t n = frame_read(r, io, v, 2, deadline, polled);

		polled = false;
		if (n == -EAGAIN) {
			n = frame_again(r, io, deadline);
			if (n >= 0) {
				polled = n > 0;
				continue;
			}
		}
		if (n > 0) {
			r->starved = (size_t)n < len - got + r->cap;
			if ((size_t)n > len - got) {
				r->tail = (size_t)n - (len - got);
				got = len;
			} else {
				got += (size_t)n;
			}
			continue;
		}
		if (n == 0) {
			r->eof = true;
			return frame_eof(r, FRAME_HDR + got);
		}
		if (n != -ETIMEDOUT) {
			/* The stream has lost its place in this message. */
			r->err = n == -EPIPE ? -EPIPE : (int)n;
			return n;
		}
		if (frame_stash(r, dst, got, len) != 0)
			return -ENOMEM;
		return n;
	}
	return len;
}

ssize_t
frame_recv(struct frame_reader *r, const struct frame_io *io, void *buf,
           size_t cap, bool peek, int64_t deadline)
{
	for (;;) {
		size_t avail = r->tail - r->head;
		uint32_t len = 0;
		ssize_t n;

		if (r->err)
			return r->err;
		if (avail >= FRAME_HDR) {
			len = frame_get_len(r->buf + r->head);
			if (len > r->max_msg)
				return frame_corrupt(r, len);
			if (avail - FRAME_HDR >= len) {
				if (peek)
					return len;
				if (cap < len)
					return errdetail(
					        -EMSGSIZE,
					        "message of %u bytes, buffer "
					        "of %zu: it stays queued",
					        len, cap);
				if (len)
					memcpy(buf,
					       r->buf + r->head + FRAME_HDR,
					       len);
				r->head += FRAME_HDR + len;
				if (r->head == r->tail) {
					r->head = r->tail = 0;
					frame_shrink(r);
				}
				return len;
			}
			if (r->eof)
				return frame_eof(r, avail);
			if (!peek && cap >= len && len >= FRAME_DIRECT)
				return frame_recv_direct(r, io, buf, len,
				                         deadline);
		} else if (r->eof) {
			return frame_eof(r, avail);
		}
		if (frame_reserve(r, FRAME_HDR + (size_t)len) != 0)
			return -ENOMEM;
		n = frame_fill(r, io, deadline);
		if (n < 0) {
			if (n == -EPIPE)
				r->err = -EPIPE;
			return n;
		}
	}
}

bool
frame_ready(const struct frame_reader *r)
{
	size_t avail = r->tail - r->head;
	uint32_t len;

	if (r->err || (r->eof && avail == 0))
		return true;
	if (avail < FRAME_HDR)
		return false;
	len = frame_get_len(r->buf + r->head);
	return len > r->max_msg || avail - FRAME_HDR >= len || r->eof;
}

void
frame_writer_init(struct frame_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void
frame_writer_fini(struct frame_writer *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

size_t
frame_pending(const struct frame_writer *w)
{
	return w->tail - w->head;
}

/* Append bytes to the pending buffer. */
static int
frame_hold(struct frame_writer *w, const unsigned char *hdr,
           const unsigned char *msg, size_t len)
{
	size_t need = w->tail - w->head + (hdr ? FRAME_HDR : 0) + len;

	if (w->head > 0 && w->cap - w->head < need) {
		memmove(w->buf, w->buf + w->head, w->tail - w->head);
		w->tail -= w->head;
		w->head = 0;
	}
	if (w->cap - w->head < need) {
		size_t want = need < FRAME_BATCH * 2 ? FRAME_BATCH * 2 : need;
		unsigned char *p = realloc(w->buf, want);

		if (p == NULL)
			return -ENOMEM;
		w->buf = p;
		w->cap = want;
	}
	if (hdr) {
		memcpy(w->buf + w->tail, hdr, FRAME_HDR);
		w->tail += FRAME_HDR;
	}
	if (len)
		memcpy(w->buf + w->tail, msg, len);
	w->tail += len;
	return 0;
}

static int
frame_write_err(struct frame_writer *w, ssize_t n)
{
	if (n == -EPIPE) {
		w->err = -EPIPE;
		errdetail(-EPIPE, "the peer has closed its end");
	}
	return (int)n;
}

/*
 * Write pending bytes, then hdr and msg (if hdr is not NULL), until all are
 * out or the deadline passes.  Returns 0 when everything went; -ETIMEDOUT
 * when it did not (*sent tells how many bytes of hdr+msg went); or an error.
 */
static int
frame_write(struct frame_writer *w, const struct frame_io *io,
            const unsigned char *hdr, const unsigned char *msg, size_t len,
            size_t keep, int64_t deadline, size_t *sent)
{
	bool block = deadline == WAIT_FOREVER;
	size_t done = 0; /* of hdr + msg */

	*sent = 0;
	for (;;) {
		struct iovec v[3];
		int k = 0;
		size_t pending = w->tail - w->head;
		ssize_t n;
		int rc;

		if (pending <= keep && (hdr == NULL || done == FRAME_HDR + len))
			return 0;
		if (pending)
			v[k++] = (struct iovec){ w->buf + w->head, pending };
		if (hdr && done < FRAME_HDR)
			v[k++] =
			        (struct iovec){ (void *)(uintptr_t)(hdr + done),
				                FRAME_HDR - done };
		if (hdr && len > 0) {
			size_t off = done > FRAME_HDR ? done - FRAME_HDR : 0;

			v[k++] = (struct iovec){ (void *)(uintptr_t)(msg + off),
				                 len - off };
		}
		n = io->writev(io->ctx, v, k, block);
		if (n > 0) {
			size_t m = (size_t)n;

			if (m >= pending) {
				w->head = w->tail = 0;
				done += m - pending;
				*sent = done;
			} else {
				w->head += m;
			}
			continue;
		}
		if (n == 0)
			n = -EAGAIN;
		if (n != -EAGAIN)
			return frame_write_err(w, n);
		if (frame_expired(deadline))
			return -ETIMEDOUT;
		rc = io->wait(io->ctx, POLLOUT, deadline);
		if (rc < 0)
			return rc == -EPIPE ? frame_write_err(w, rc) : rc;
	}
}

ssize_t
frame_send(struct frame_writer *w, const struct frame_io *io, const void *msg,
           size_t len, bool more, int64_t deadline)
{
	unsigned char hdr[FRAME_HDR];
	size_t sent;
	int err;

	if (w->err)
		return w->err;
	if (len > FRAME_MAX_MSG)
		return -EMSGSIZE;
	frame_put_len(hdr, (uint32_t)len);
	if (more && FRAME_HDR + len <= FRAME_BATCH) {
		size_t pending = w->tail - w->head;

		/* Too much held: wait until the stream takes some. */
		if (pending + FRAME_HDR + len > FRAME_HOLD) {
			err = frame_write(w, io, NULL, NULL, 0,
			                  FRAME_HOLD - FRAME_HDR - len,
			                  deadline, &sent);
			if (err)
				return err;
		}
		if (frame_hold(w, hdr, msg, len) != 0)
			return -ENOMEM;
		if (w->tail - w->head >= FRAME_BATCH) {
			/* Push what the kernel takes now; the rest waits. */
			err = frame_write(w, io, NULL, NULL, 0, 0,
			                  wait_deadline(0), &sent);
			if (err && err != -ETIMEDOUT)
				return err;
		}
		return (ssize_t)len;
	}
	err = frame_write(w, io, hdr, msg, len, 0, deadline, &sent);
	if (err == 0)
		return (ssize_t)len;
	if (sent == 0 || err != -ETIMEDOUT)
		return err;
	/* Part of this message is out: the rest must follow, so it is
	 * committed and waits in the buffer. */
	if (sent < FRAME_HDR &&
	    frame_hold(w, NULL, hdr + sent, FRAME_HDR - sent) != 0)
		goto nomem;
	sent = sent < FRAME_HDR ? 0 : sent - FRAME_HDR;
	if (frame_hold(w, NULL, (const unsigned char *)msg + sent,
	               len - sent) != 0)
		goto nomem;
	return (ssize_t)len;
nomem:
	/* The stream now holds a cut frame that can never be finished. */
	w->err = -EPIPE;
	return -ENOMEM;
}

int
frame_flush(struct frame_writer *w, const struct frame_io *io, int64_t deadline)
{
	size_t sent;

	if (w->tail == w->head)
		return 0;
	if (w->err)
		return w->err;
	return frame_write(w, io, NULL, NULL, 0, 0, deadline, &sent);
}
