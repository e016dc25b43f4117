// SPDX-License-Identifier: MIT
/* endpoint.c - opening, waiting and closing for the channel commands.
 * Every wait polls the channel's descriptor beside stop_fd(), so a signal
 * ends it; where a descriptor cannot say enough (a send waiting for room,
 * a receive by System V type, a spurious wake-up), the library's own timed
 * call runs in slices of ENDPOINT_SLICE_MS between looks at the stop. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "endpoint.h"
#include "ipcobj.h"
#include "report.h"
#include "stop.h"
#include "xalloc.h"

#define ENDPOINT_SLICE_MS 100
#define ENDPOINT_BUF_MIN  65536

/* Milliseconds left before end (-1: no bound), for the next wait. */
static int
endpoint_left(long long end)
{
	long long d;

	if (end < 0)
		return -1;
	d = end - stop_now_ms();
	return d <= 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
}

static long long
endpoint_end(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : stop_now_ms() + timeout_ms;
}

/* One slice of a library wait: the smaller of the slice and what is left. */
static int
endpoint_slice(long long end)
{
	int left = endpoint_left(end);

	return left < 0 || left > ENDPOINT_SLICE_MS ? ENDPOINT_SLICE_MS : left;
}

static int
endpoint_keep(struct endpoint *ep, int err)
{
	snprintf(ep->detail, sizeof(ep->detail), "%s", ipk_errdetail());
	return err;
}

int
endpoint_fail(const struct endpoint *ep, int err)
{
	return report_fail(ep->cmd, ep->text, err, ep->detail);
}

/* Open a queue; ep->created says whether this call made it. */
static int
endpoint_open_queue(struct endpoint *ep, unsigned flags, int timeout_ms)
{
	int err;

	if (flags & ENDPOINT_NOCREATE)
		return ipk_open(&ep->ch, ep->address, IPK_NOCREATE, timeout_ms);
	/* Ask for a new one first: only then do we know we made it. */
	for (int tries = 0; tries < 8; tries++) {
		err = ipk_open(&ep->ch, ep->address, IPK_EXCL, timeout_ms);
		if (err == 0) {
			ep->created = true;
			return 0;
		}
		if (err != -EEXIST || (flags & ENDPOINT_EXCL))
			return err;
		err = ipk_open(&ep->ch, ep->address, IPK_NOCREATE, timeout_ms);
		if (err != -ENOENT) /* removed in between: make it then */
			return err;
	}
	return err;
}

int
endpoint_start(struct endpoint *ep, const struct cmd *cmd, const char *text,
               unsigned flags, int timeout_ms)
{
	long long end = endpoint_end(timeout_ms);
	int err;

	memset(ep, 0, sizeof(*ep));
	ep->cmd = cmd;
	ep->text = text;
	ep->address = text;
	ep->own = flags & ENDPOINT_OWN;
	if (strncmp(text, ENDPOINT_LISTEN, strlen(ENDPOINT_LISTEN)) == 0) {
		ep->listening = true;
		ep->address = text + strlen(ENDPOINT_LISTEN);
	}
	err = ipk_addr_caps(ep->address, &ep->caps);
	if (err)
		return endpoint_fail(ep, endpoint_keep(ep, err));
	if (ep->listening) {
		if (ep->caps & IPK_CAP_QUEUE) {
			snprintf(ep->detail, sizeof(ep->detail),
			         "a queue is opened, not listened on; "
			         "listen: is for unix, unix+seqpacket, tcp "
			         "and udp");
			/* A command line that asks the impossible. */
			endpoint_fail(ep, IPK_EKIND);
			return EXIT_USAGE;
		}
		err = ipk_listen(&ep->listener, ep->address, 0);
		return err ? endpoint_fail(ep, endpoint_keep(ep, err))
		           : EXIT_OK;
	}
	if (ep->caps & IPK_CAP_QUEUE) {
		err = endpoint_open_queue(ep, flags, timeout_ms);
		return err ? endpoint_fail(ep, endpoint_keep(ep, err))
		           : EXIT_OK;
	}
	/* A connection: in slices, so that Ctrl-C ends a long connect. */
	for (;;) {
		err = ipk_open(&ep->ch, ep->address, 0, endpoint_slice(end));
		if (err != -ETIMEDOUT || endpoint_left(end) == 0)
			break;
		if (stop_requested()) {
			err = -ECANCELED;
			break;
		}
	}
	return err ? endpoint_fail(ep, endpoint_keep(ep, err)) : EXIT_OK;
}

/* Accept one connection from ep->listener into *chp. */
static int
endpoint_wait_accept(struct endpoint *ep, struct ipk_chan **chp, int timeout_ms)
{
	long long end = endpoint_end(timeout_ms);
	bool spurious = false;
	int err;

	for (;;) {
		/* After a wake-up that brought nothing, wait in the library
		 * for a slice rather than spin on the descriptor. */
		err = ipk_accept(ep->listener, chp,
		                 spurious ? endpoint_slice(end) : 0);
		if (err == 0)
			return EXIT_OK;
		if (err != -EAGAIN && err != -ETIMEDOUT)
			return endpoint_fail(ep, endpoint_keep(ep, err));
		if (endpoint_left(end) == 0)
			return endpoint_fail(ep, -ETIMEDOUT);
		err = stop_wait(ipk_pollfd(ep->listener), POLLIN,
		                endpoint_left(end));
		if (err < 0)
			return endpoint_fail(ep, err);
		spurious = err > 0;
	}
}

int
endpoint_accept(struct endpoint *ep, int timeout_ms)
{
	int rc;

	if (ep->listener == NULL)
		return EXIT_OK;
	rc = endpoint_wait_accept(ep, &ep->ch, timeout_ms);
	if (rc != EXIT_OK)
		return rc;
	/* One connection per listening endpoint: a UNIX listener's socket
	 * file goes with it. */
	ipk_close(ep->listener);
	ep->listener = NULL;
	return EXIT_OK;
}

int
endpoint_take(struct endpoint *l, struct endpoint *conn, int timeout_ms)
{
	memset(conn, 0, sizeof(*conn));
	conn->cmd = l->cmd;
	conn->text = l->text; /* the command line's: outlives l */
	conn->address = l->address;
	conn->caps = l->caps;
	return endpoint_wait_accept(l, &conn->ch, timeout_ms);
}

const char *
endpoint_name(const struct endpoint *ep)
{
	if (ep->listener)
		return ipk_address(ep->listener);
	return ep->ch ? ipk_address(ep->ch) : ep->address;
}

ssize_t
endpoint_recv(struct endpoint *ep, struct ipk_msginfo *info, int timeout_ms)
{
	long long end = endpoint_end(timeout_ms);
	struct ipk_msginfo local = { 0 };
	long selector;
	bool spurious = false;
	int fd = ipk_pollfd(ep->ch);

	if (info == NULL)
		info = &local;
	selector = info->type;
	if (ep->buf == NULL) {
		size_t max = ipk_max_msg(ep->ch);

		ep->cap = max < ENDPOINT_BUF_MIN ? max : ENDPOINT_BUF_MIN;
		ep->buf = xmalloc(ep->cap ? ep->cap : 1);
	}
	for (;;) {
		ssize_t n;
		int k;

		info->type = selector;
		/* Without a descriptor, or after a wake-up that held nothing
		 * for us (another type was queued), wait in slices. */
		n = ipk_recvx(ep->ch, ep->buf, ep->cap, info,
		              fd < 0 || spurious ? endpoint_slice(end) : 0);
		if (n >= 0)
			return n;
		if (n == -EMSGSIZE) {
			ssize_t want = ipk_peek_size(ep->ch, info, 0);

			if (want < 0)
				return endpoint_keep(ep, (int)want);
			if ((size_t)want > ep->cap) {
				ep->cap = (size_t)want;
				ep->buf = xrealloc(ep->buf, ep->cap);
			}
			continue;
		}
		if (n != -EAGAIN && n != -ETIMEDOUT)
			return endpoint_keep(ep, (int)n);
		if (stop_requested())
			return -ECANCELED;
		if (endpoint_left(end) == 0)
			return -ETIMEDOUT;
		if (fd < 0) {
			spurious = true;
			continue;
		}
		k = stop_wait(fd, POLLIN, endpoint_left(end));
		if (k < 0)
			return k;
		spurious = k > 0;
	}
}

ssize_t
endpoint_send(struct endpoint *ep, const void *msg, size_t len,
              const struct ipk_msginfo *info, int timeout_ms)
{
	long long end = endpoint_end(timeout_ms);

	for (;;) {
		/* A send that times out sends nothing: safe to try again. */
		ssize_t n =
		        ipk_sendx(ep->ch, msg, len, info, endpoint_slice(end));

		if (n >= 0) {
			ep->sent = true;
			return n;
		}
		if (n != -ETIMEDOUT && n != -EAGAIN)
			return endpoint_keep(ep, (int)n);
		if (stop_requested())
			return -ECANCELED;
		if (endpoint_left(end) == 0)
			return -ETIMEDOUT;
	}
}

/* Do processes besides us hold the object ep names?  -1 if unknown. */
static int
endpoint_others(const struct endpoint *ep)
{
	struct ipcobj_set s = { 0 };
	const char *why;
	int i, n = -1;

	if (ipcobj_scan(&s) == 0) {
		i = ipcobj_find(&s, ep->address, &why);
		if (i >= 0)
			n = ipcobj_users_besides(&s.v[i], getpid()) > 0;
	}
	ipcobj_free(&s);
	return n;
}

/* The path of a FIFO address: after "fifo:", before any "?". */
static char *
endpoint_path(const struct endpoint *ep)
{
	const char *rest = strchr(ep->address, ':') + 1;

	return xstrndup(rest, strcspn(rest, "?"));
}

/*
 * Wait until nothing is left unread in the FIFO we sent into.  The kernel
 * keeps a FIFO's bytes only while someone has it open, so leaving before a
 * receiver took them would lose them (a plain writer blocks in open() for
 * a reader instead).  Reads show up as IN_ACCESS events on the FIFO.
 */
static int
endpoint_linger(struct endpoint *ep, int linger_ms)
{
	long long end = endpoint_end(linger_ms);
	char *path = endpoint_path(ep);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	bool told = false;
	int err = 0, queued = 0;

	if (fd < 0 || ino < 0 ||
	    inotify_add_watch(ino, path, IN_ACCESS | IN_DELETE_SELF) < 0)
		goto out; /* gone or unreadable: nothing we can wait for */
	while (ioctl(fd, FIONREAD, &queued) == 0 && queued > 0) {
		char ev[4096];
		int k;

		if (!told && isatty(STDERR_FILENO)) {
			fprintf(stderr,
			        "ipckit %s: %s: waiting for a receiver to "
			        "read what was sent (a FIFO keeps nothing once "
			        "its last user closes it; Ctrl-C gives up)\n",
			        ep->cmd->name, ep->text);
			told = true;
		}
		k = stop_wait(ino, POLLIN, endpoint_left(end));
		/* Giving up loses nothing while another process has it open:
		 * the bytes are its to read. */
		if (k <= 0 && endpoint_others(ep) == 1)
			break;
		if (k <= 0) {
			err = k == 0 ? -ETIMEDOUT : k;
			snprintf(ep->detail, sizeof(ep->detail),
			         "what was sent is still unread: no "
			         "receiver came (a FIFO keeps nothing once its "
			         "last user closes it)");
			break;
		}
		while (read(ino, ev, sizeof(ev)) > 0)
			;
	}
out:
	if (fd >= 0)
		close(fd);
	if (ino >= 0)
		close(ino);
	free(path);
	return err;
}

/* Remove what we made if it holds nothing and nobody else has it (we have
 * closed it).  The inventory says how many messages wait: a peek would take
 * the first one out, and putting it back puts it last. */
static void
endpoint_remove_made(const struct endpoint *ep, bool fifo)
{
	struct ipcobj_set s = { 0 };
	const char *why;
	int i;

	if (ipcobj_scan(&s) == 0 &&
	    (i = ipcobj_find(&s, ep->address, &why)) >= 0 &&
	    ipcobj_users_besides(&s.v[i], getpid()) == 0 &&
	    (fifo || s.v[i].messages == 0))
		(void)ipk_unlink(ep->address);
	ipcobj_free(&s);
}

int
endpoint_close(struct endpoint *ep, int linger_ms)
{
	bool fifo = ep->caps & IPK_CAP_TRANSIENT;
	bool made = ep->created && !ep->own && ep->ch;
	int err = 0;

	if (ep->ch && ep->sent && linger_ms != ENDPOINT_NO_LINGER) {
		(void)ipk_flush(ep->ch, linger_ms < 0 ? 5000 : linger_ms);
		if (fifo)
			err = endpoint_linger(ep, linger_ms);
		if (err)
			endpoint_fail(ep, err);
	}
	ipk_close(ep->ch);
	ipk_close(ep->listener);
	ep->ch = ep->listener = NULL;
	if (ep->own)
		(void)ipk_unlink(ep->address);
	else if (made) /* a FIFO holds nothing once closed; any other
	                * queue is a mailbox, kept while it holds messages */
		endpoint_remove_made(ep, fifo);
	free(ep->buf);
	ep->buf = NULL;
	ep->cap = 0;
	return err;
}
