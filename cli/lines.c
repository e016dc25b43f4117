// SPDX-License-Identifier: MIT
/* lines.c - a growing buffer over read(); a line is handed out from the
 * buffer, so nothing is copied twice. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lines.h"
#include "stop.h"
#include "xalloc.h"

#define LINES_CHUNK 65536

void
lines_init(struct lines *l, int fd, size_t max)
{
	*l = (struct lines){ .fd = fd, .max = max };
}

void
lines_fini(struct lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->start = l->len = l->cap = 0;
}

int
lines_read(struct lines *l)
{
	ssize_t n;

	if (l->eof)
		return 0;
	/* Move the unread rest to the front before growing. */
	if (l->start > 0) {
		memmove(l->buf, l->buf + l->start, l->len - l->start);
		l->len -= l->start;
		l->start = 0;
	}
	if (l->cap - l->len < LINES_CHUNK / 4) {
		l->cap = l->cap ? l->cap * 2 : LINES_CHUNK;
		l->buf = xrealloc(l->buf, l->cap);
	}
	do
		n = read(l->fd, l->buf + l->len, l->cap - l->len);
	while (n < 0 && errno == EINTR && !stop_requested());
	if (n < 0)
		return -errno;
	if (n == 0)
		l->eof = true;
	l->len += (size_t)n;
	return 0;
}

int
lines_take(struct lines *l, const char **line, size_t *len)
{
	char *p = l->buf + l->start;
	size_t avail = l->len - l->start;
	char *nl = avail ? memchr(p, '\n', avail) : NULL;
	size_t n = nl ? (size_t)(nl - p) : avail;

	if (n > l->max) {
		/* Drop what we have of it; the rest of the line follows. */
		*len = n;
		l->start = nl ? l->start + n + 1 : l->len;
		return -EMSGSIZE;
	}
	if (nl == NULL && !(l->eof && avail > 0))
		return 0;
	*line = p;
	*len = n;
	l->start += nl ? n + 1 : n;
	return 1;
}

int
lines_next(struct lines *l, const char **line, size_t *len)
{
	for (;;) {
		int k = lines_take(l, line, len), err;

		if (k != 0)
			return k;
		if (l->eof)
			return 0;
		k = stop_wait(l->fd, POLLIN, -1);
		if (k < 0)
			return k;
		err = lines_read(l);
		if (err && err != -EAGAIN)
			return err;
	}
}
