// SPDX-License-Identifier: MIT
/* link.c - line framing and output queueing for the peer's sockets. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "link.h"
#include "xalloc.h"

#define LINK_READ_CHUNK (64 * 1024)

void
link_init(struct link *l, int fd)
{
	memset(l, 0, sizeof(*l));
	l->fd = fd;
}

void
link_fini(struct link *l)
{
	if (l->ssl) {
		(void)SSL_shutdown(l->ssl); /* best effort, nonblocking */
		SSL_free(l->ssl);
		ERR_clear_error();
	}
	if (l->fd >= 0)
		close(l->fd);
	free(l->in);
	free(l->out);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

static void
link_compact_in(struct link *l)
{
	if (l->in_off == 0)
		return;
	memmove(l->in, l->in + l->in_off, l->in_len - l->in_off);
	l->in_len -= l->in_off;
	l->in_off = 0;
}

/* TLS: read until OpenSSL has nothing decrypted left, since epoll
 * cannot see what it buffers. */
static ssize_t
link_fill_tls(struct link *l)
{
	ssize_t total = 0;

	l->tls_want_write = false;
	for (;;) {
		int n, e;

		if (l->in_cap - l->in_len < LINK_READ_CHUNK + 1) {
			if (l->in_len > LINK_MAX_LINE * 4)
				return total; /* let the caller consume */
			l->in_cap = l->in_len + LINK_READ_CHUNK + 1;
			l->in = xrealloc(l->in, l->in_cap);
		}
		n = SSL_read(l->ssl, l->in + l->in_len, LINK_READ_CHUNK);
		if (n > 0) {
			l->in_len += (size_t)n;
			total += n;
			continue;
		}
		e = SSL_get_error(l->ssl, n);
		ERR_clear_error();
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			l->tls_want_write = e == SSL_ERROR_WANT_WRITE;
			return total > 0 ? total : -EAGAIN;
		}
		if (e == SSL_ERROR_ZERO_RETURN ||
		    (e == SSL_ERROR_SYSCALL && n == 0)) {
			l->eof = true;
			return total > 0 ? total : 0;
		}
		return total > 0 ? total : -ECONNRESET;
	}
}

ssize_t
link_fill(struct link *l)
{
	ssize_t n;

	if (l->ssl) {
		link_compact_in(l);
		return link_fill_tls(l);
	}
	link_compact_in(l);
	/* +1: room for the NUL link_line() writes after a line. */
	if (l->in_cap - l->in_len < LINK_READ_CHUNK + 1) {
		l->in_cap = l->in_len + LINK_READ_CHUNK + 1;
		l->in = xrealloc(l->in, l->in_cap);
	}
	do
		n = recv(l->fd, l->in + l->in_len, LINK_READ_CHUNK, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (n == 0)
		l->eof = true;
	l->in_len += (size_t)n;
	return n;
}

ssize_t
link_line(struct link *l, char **line)
{
	char *start = l->in + l->in_off;
	size_t avail = l->in_len - l->in_off;
	char *nl;
	size_t len;

	if (avail == 0)
		return -EAGAIN;
	nl = memchr(start, '\n', avail);
	if (nl == NULL)
		return avail > LINK_MAX_LINE ? -EMSGSIZE : -EAGAIN;
	len = (size_t)(nl - start);
	if (len > LINK_MAX_LINE)
		return -EMSGSIZE;
	*nl = '\0';
	l->in_off += len + 1;
	*line = start;
	return (ssize_t)len;
}

size_t
link_take(struct link *l, const char **p, size_t max)
{
	size_t avail = l->in_len - l->in_off;

	if (avail > max)
		avail = max;
	*p = l->in + l->in_off;
	l->in_off += avail;
	return avail;
}

int
link_queue(struct link *l, const void *data, size_t n)
{
	if (l->out_off > 0 && l->out_off == l->out_len)
		l->out_off = l->out_len = 0;
	if (l->out_len - l->out_off + n > LINK_MAX_QUEUE)
		return -ENOBUFS;
	if (l->out_cap - l->out_len < n && l->out) {
		memmove(l->out, l->out + l->out_off, l->out_len - l->out_off);
		l->out_len -= l->out_off;
		l->out_off = 0;
	}
	if (l->out_cap - l->out_len < n) {
		l->out_cap = (l->out_len + n) * 2;
		l->out = xrealloc(l->out, l->out_cap);
	}
	memcpy(l->out + l->out_len, data, n);
	l->out_len += n;
	return 0;
}

int
link_flush(struct link *l)
{
	while (l->ssl && l->out_off < l->out_len) {
		size_t want = l->out_len - l->out_off;
		int n = SSL_write(l->ssl, l->out + l->out_off,
		                  want > 1 << 30 ? 1 << 30 : (int)want);
		int e;

		if (n > 0) {
			l->out_off += (size_t)n;
			continue;
		}
		e = SSL_get_error(l->ssl, n);
		ERR_clear_error();
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
			return -EAGAIN;
		return -EPIPE;
	}
	while (l->out_off < l->out_len) {
		ssize_t n = send(l->fd, l->out + l->out_off,
		                 l->out_len - l->out_off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
		l->out_off += (size_t)n;
	}
	l->out_off = l->out_len = 0;
	return 0;
}

size_t
link_pending(const struct link *l)
{
	return l->out_len - l->out_off;
}
