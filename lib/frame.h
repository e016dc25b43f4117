// SPDX-License-Identifier: MIT
/* frame.h - messages over a byte stream.  Each message travels as a 4-byte
 * length in network byte order followed by that many bytes.  The reader
 * buffers: one read() brings in as many small messages as the kernel has,
 * and a message is handed out only when all of it has arrived.  The writer
 * coalesces: IPK_MORE messages wait in one buffer and leave with the next
 * message in a single write.  No I/O of its own: the transport lends its
 * readv/writev/wait as struct frame_io, so tests can feed any sequence of
 * partial reads. */
#ifndef IPK_FRAME_H
#define IPK_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define FRAME_HDR     4           /* bytes of length before each message */
#define FRAME_MAX_MSG (16u << 20) /* largest message a stream carries */

/* The transport's I/O, borrowed for one call. */
struct frame_io {
	void *ctx;
	/* Bytes moved (> 0), 0 at end of stream (reads only), -EAGAIN when
	 * it would wait, -EPIPE when the peer is gone, or -errno.  With block
	 * true it may wait as long as it likes (the caller's deadline is
	 * infinite); EINTR is the callee's to retry. */
	ssize_t (*readv)(void *ctx, const struct iovec *iov, int n, bool block);
	ssize_t (*writev)(void *ctx, const struct iovec *iov, int n,
	                  bool block);
	/* Wait for events (POLLIN or POLLOUT) until deadline (wait.h): revents
	 * (> 0), -ETIMEDOUT, or -errno. */
	int (*wait)(void *ctx, short events, int64_t deadline);
	/* Optional (NULL: wait, then readv): a read that may itself wait
	 * until deadline (never WAIT_FOREVER), as fdio_readv_until: bytes,
	 * 0 at end of stream, -EAGAIN when nothing came yet, or -errno. */
	ssize_t (*readv_until)(void *ctx, const struct iovec *iov, int n,
	                       int64_t deadline);
};

struct frame_reader {
	unsigned char *buf; /* owned; NULL until the first read */
	size_t cap;         /* bytes allocated at buf */
	size_t head, tail;  /* unread bytes are buf[head, tail) */
	size_t max_msg;     /* a longer length from the peer is corrupt */
	int err;            /* sticky: IPK_ECORRUPT, -EPIPE, -ENOMEM */
	bool eof;           /* the peer has closed; buffered bytes remain */
	bool starved;       /* the last read found nothing: poll first */
};

struct frame_writer {
	unsigned char *buf; /* owned: bytes not yet written, whole frames
	                       except perhaps a first one already begun */
	size_t cap;         /* bytes allocated at buf */
	size_t head, tail;  /* pending bytes are buf[head, tail) */
	int err;            /* sticky: -EPIPE once the peer is gone */
};

static inline void
frame_put_len(unsigned char *p, uint32_t len)
{
	p[0] = (unsigned char)(len >> 24);
	p[1] = (unsigned char)(len >> 16);
	p[2] = (unsigned char)(len >> 8);
	p[3] = (unsigned char)len;
}

static inline uint32_t
frame_get_len(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* frame_reader_init - an empty reader refusing lengths above max_msg. */
void frame_reader_init(struct frame_reader *r, size_t max_msg);

/* frame_reader_fini - free the buffer.  NULL-safe fields. */
void frame_reader_fini(struct frame_reader *r);

/*
 * frame_recv - the next whole message into buf, waiting until deadline.
 * Returns its length; -EMSGSIZE when cap is too small (the message stays
 * and a later call with room gets it); -EPIPE once the peer closed and
 * every whole message was taken (a partial last frame is dropped);
 * IPK_ECORRUPT for a length above max_msg (sticky: the stream has lost its
 * place); -ETIMEDOUT; -errno.  With peek, returns the length and leaves
 * the message (buf and cap unused).
 */
ssize_t frame_recv(struct frame_reader *r, const struct frame_io *io, void *buf,
                   size_t cap, bool peek, int64_t deadline);

/* frame_ready - true when frame_recv() would return without I/O: a whole
 * message or a sticky error is buffered. */
bool frame_ready(const struct frame_reader *r);

void frame_writer_init(struct frame_writer *w);
void frame_writer_fini(struct frame_writer *w);

/*
 * frame_send - send one message of len (<= FRAME_MAX_MSG) bytes, all or
 * nothing, waiting until deadline while the stream is full.  With more, a
 * small message may wait in the buffer for the next one (and leaves when
 * enough has gathered, or on the next send without more, or frame_flush).
 * Returns len; -ETIMEDOUT when none of it could go (nothing of it is
 * kept); -EPIPE; -ENOMEM; -errno.  If the deadline passes after part of
 * the message went out, the rest is kept and len is returned: the next
 * send or flush pushes it first.
 */
ssize_t frame_send(struct frame_writer *w, const struct frame_io *io,
                   const void *msg, size_t len, bool more, int64_t deadline);

/* frame_flush - write every pending byte by deadline: 0, -ETIMEDOUT (the
 * rest stays pending), -EPIPE, -errno. */
int frame_flush(struct frame_writer *w, const struct frame_io *io,
                int64_t deadline);

/* frame_pending - bytes waiting to be written. */
size_t frame_pending(const struct frame_writer *w);

#endif
