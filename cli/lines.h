// SPDX-License-Identifier: MIT
/* lines.h - lines from a descriptor (standard input, a coprocess's
 * output), read as they come, each bounded in length, waits interruptible
 * by stop.h. */
#ifndef CLI_LINES_H
#define CLI_LINES_H

#include <stdbool.h>
#include <stddef.h>

struct lines {
	int fd;            /* borrowed */
	char *buf;         /* owned: bytes read, from `start` on not taken */
	size_t start, len; /* buf[start..len) is unread */
	size_t cap;        /* allocated bytes of buf */
	size_t max;        /* longest line accepted, without its '\n' */
	bool eof;          /* read() returned 0 */
};

void lines_init(struct lines *l, int fd, size_t max);
void lines_fini(struct lines *l);

/*
 * lines_read - one read() of what fd has (call when poll() says it is
 * readable, or on a blocking fd).  0, or -errno (-EAGAIN when nothing was
 * there).  Sets l->eof at the end of input.
 */
int lines_read(struct lines *l);

/*
 * lines_take - the next whole line already read, without its newline, in
 * *line (borrowed until the next call) and *len: 1 when there is one, 0
 * when more must be read; at the end of input an unterminated last line
 * counts as a line.  -EMSGSIZE when a line is longer than l->max (its
 * bytes so far are dropped and *len says how many).
 */
int lines_take(struct lines *l, const char **line, size_t *len);

/*
 * lines_next - lines_take, reading as needed: 1 with a line, 0 at the end
 * of input, -EMSGSIZE, -ECANCELED when a stop arrives while waiting, or
 * -errno.  Waits without bound.
 */
int lines_next(struct lines *l, const char **line, size_t *len);

#endif
