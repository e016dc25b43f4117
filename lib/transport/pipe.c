// SPDX-License-Identifier: MIT
/* pipe.c - anonymous pipes as an ipckit transport: ipk_pair() makes two
 * pipes (one each way) for a parent and child; "pipe:R,W" takes inherited
 * descriptors; "pipe:" is stdin and stdout.  Framed by frame.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipckit.h"

#include "addr.h"
#include "sconn.h"
#include "transport.h"

/* Pipe capacity asked for each pipe of an ipk_pair(): a 64 KiB message
 * plus its length does not fit the kernel's default 64 KiB, and would cost
 * a second fill and wake-up each.  Where the user's pipe quota says no,
 * the default stays. */
#define PIPE_PAIR_SIZE (256u << 10)

struct pipe_state {
	struct sconn c; /* first: the sconn_* ops read it */
	bool stdio;     /* fds 0 and 1, which close() points at /dev/null */
};

/* A descriptor number: decimal digits only, at most INT_MAX. */
static int
pipe_parse_fd(const char *s, size_t len, int *fd)
{
	long v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > INT_MAX)
		return -1;
	*fd = (int)v;
	return 0;
}

static int
pipe_parse(const struct ipk_addr *a, int *r, int *w)
{
	const char *comma = strchr(a->rest, ',');

	if (a->rest[0] == '\0') {
		*r = STDIN_FILENO;
		*w = STDOUT_FILENO;
		return 0;
	}
	if (comma == NULL ||
	    pipe_parse_fd(a->rest, (size_t)(comma - a->rest), r) != 0 ||
	    pipe_parse_fd(comma + 1, strlen(comma + 1), w) != 0)
		return errdetail(
		        IPK_EADDR,
		        "pipe:%s: expected pipe: (stdin and stdout) or "
		        "pipe:R,W with two descriptor numbers",
		        a->rest);
	return 0;
}

/* The descriptor must be open and allow the direction asked for. */
static int
pipe_check_fd(int fd, int want, const char *role)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return errdetail(-EBADF, "pipe: descriptor %d (%s) is not open",
		                 fd, role);
	fl &= O_ACCMODE;
	if (fl != O_RDWR && fl != want)
		return errdetail(
		        -EBADF, "pipe: descriptor %d (%s) is open for %s only",
		        fd, role, fl == O_RDONLY ? "reading" : "writing");
	return 0;
}

static int
pipe_open(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags,
          int timeout_ms)
{
	struct pipe_state *st = ipk_chan_state(ch);
	int r = -1, w = -1, err;

	(void)flags;
	(void)timeout_ms;
	if (addr_opt_str(a, "mode"))
		return errdetail(IPK_EOPTION,
		                 "pipe: option 'mode' does not apply: a pipe "
		                 "has no name");
	err = pipe_parse(a, &r, &w);
	if (err)
		return err;
	err = pipe_check_fd(r, O_RDONLY, "read end");
	if (err == 0)
		err = pipe_check_fd(w, O_WRONLY, "write end");
	if (err)
		return err;
	st->stdio = a->rest[0] == '\0';
	/* Inherited ends belong to this channel now: they go no further.
	 * stdin and stdout stay as they are for the program's children. */
	if (!st->stdio && (fcntl(r, F_SETFD, FD_CLOEXEC) != 0 ||
	                   fcntl(w, F_SETFD, FD_CLOEXEC) != 0))
		return -errno;
	err = sconn_init(&st->c, r, w, !st->stdio);
	if (err) {
		sconn_fini(&st->c);
		return err;
	}
	return 0;
}

static int
pipe_name(struct ipk_chan *ch)
{
	struct pipe_state *st = ipk_chan_state(ch);

	free(ch->address);
	if (asprintf(&ch->address, "pipe:%d,%d", st->c.in.fd, st->c.out.fd) <
	    0) {
		ch->address = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int
pipe_pair(struct ipk_chan *a, struct ipk_chan *b)
{
	struct pipe_state *sa = ipk_chan_state(a), *sb = ipk_chan_state(b);
	int ab[2], ba[2], err;

	if (pipe2(ab, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(ba, O_CLOEXEC) != 0) {
		err = -errno;
		close(ab[0]);
		close(ab[1]);
		return err;
	}
	(void)fcntl(ab[1], F_SETPIPE_SZ, (int)PIPE_PAIR_SIZE);
	(void)fcntl(ba[1], F_SETPIPE_SZ, (int)PIPE_PAIR_SIZE);
	err = sconn_init(&sa->c, ba[0], ab[1], true);
	if (err == 0)
		err = sconn_init(&sb->c, ab[0], ba[1], true);
	if (err == 0)
		err = pipe_name(a);
	if (err == 0)
		err = pipe_name(b);
	if (err) {
		sconn_fini(&sa->c);
		sconn_fini(&sb->c);
		free(a->address);
		free(b->address);
		a->address = b->address = NULL;
		close(ab[0]);
		close(ab[1]);
		close(ba[0]);
		close(ba[1]);
	}
	return err;
}

static int
pipe_inherit(struct ipk_chan *ch, char *addr, size_t cap)
{
	struct pipe_state *st = ipk_chan_state(ch);
	int r = st->c.in.fd, w = st->c.out.fd;
	int n = snprintf(addr, cap, "pipe:%d,%d", r, w);

	if (n < 0 || (size_t)n >= cap)
		return errdetail(-ENOSPC,
		                 "ipk_inherit: the address needs %d bytes, "
		                 "the buffer has %zu",
		                 n + 1, cap);
	if (fcntl(r, F_SETFD, 0) != 0 || fcntl(w, F_SETFD, 0) != 0)
		return -errno;
	return 0;
}

static void
pipe_close(struct ipk_chan *ch)
{
	struct pipe_state *st = ipk_chan_state(ch);
	int null;

	if (!st->stdio) {
		sconn_close(ch);
		return;
	}
	/* Closing 0 and 1 would let the next open() take them; /dev/null in
	 * their place still tells the peers that this end is gone. */
	sconn_fini(&st->c);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(null, STDOUT_FILENO) < 0) {
		close(STDIN_FILENO);
		close(STDOUT_FILENO);
	}
	if (null > STDOUT_FILENO)
		close(null);
}

const struct ipk_transport transport_pipe = {
	.scheme = "pipe",
	.summary = "anonymous pipes: ipk_pair(), inherited pipe:R,W, or "
	           "stdin/stdout",
	.caps = IPK_CAP_CONN | IPK_CAP_STREAM | IPK_CAP_PEER_DEATH,
	.state_size = sizeof(struct pipe_state),
	.open = pipe_open,
	.pair = pipe_pair,
	.send = sconn_send,
	.recv = sconn_recv,
	.peek_size = sconn_peek_size,
	.flush = sconn_flush,
	.pollfd = sconn_pollfd,
	.max_msg = sconn_max_msg,
	.inherit = pipe_inherit,
	.close = pipe_close,
};
