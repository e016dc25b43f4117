// SPDX-License-Identifier: MIT
/* link.h - one nonblocking TCP connection seen as ADC lines: bytes in are
 * split at '\n', lines out are queued and flushed when the socket takes
 * them.  Both the hub link and client-client links use it; a link in the
 * DATA state hands its buffered bytes to the transfer code instead. */
#ifndef PEER_LINK_H
#define PEER_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LINK_MAX_LINE  (64 * 1024)       /* longer input lines: error */
#define LINK_MAX_QUEUE (8 * 1024 * 1024) /* queued output bytes: error */

struct link {
	int fd;   /* owned; -1 when closed */
	char *in; /* owned: bytes received, not yet consumed */
	size_t in_len, in_off, in_cap;
	char *out; /* owned: bytes queued, not yet written */
	size_t out_len, out_off, out_cap;
	bool eof;            /* the peer closed its side */
	void *ssl;           /* owned SSL * (tls.c), or NULL for plain TCP */
	bool tls_want_write; /* TLS needs writability to go on */
};

/* link_init - take fd (nonblocking) as the link's socket. */
void link_init(struct link *l, int fd);
/* link_fini - close the socket (after a TLS close_notify if any) and free
 * the buffers.  NULL-safe fields. */
void link_fini(struct link *l);

/*
 * link_fill - read what the socket has (up to one buffer's room).  Returns
 * bytes read, 0 on EOF (l->eof set), -EAGAIN when nothing is there, or
 * -errno.
 */
ssize_t link_fill(struct link *l);

/*
 * link_line - the next complete line, '\n' stripped and NUL-terminated in
 * place (writable until the next link_fill).  Returns its length, -EAGAIN
 * if none is complete, or -EMSGSIZE if a line is longer than LINK_MAX_LINE.
 */
ssize_t link_line(struct link *l, char **line);

/* link_take - up to max buffered raw bytes (the DATA state): *p points at
 * them, they count as consumed.  Returns the count (0: none buffered). */
size_t link_take(struct link *l, const char **p, size_t max);

/* link_queue - append n bytes to the output.  0, or -ENOBUFS past
 * LINK_MAX_QUEUE (the caller drops the link). */
int link_queue(struct link *l, const void *data, size_t n);

/* link_flush - write queued bytes.  0 when all are written, -EAGAIN when
 * some remain (watch for writability), or -errno. */
int link_flush(struct link *l);

/* link_pending - bytes queued and not yet written. */
size_t link_pending(const struct link *l);

#endif
