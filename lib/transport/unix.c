// SPDX-License-Identifier: MIT
/*
 * unix.c - UNIX domain sockets as ipckit connections: "unix:PATH" and
 * "unix:@NAME" (Linux abstract names) are byte streams framed by frame.c;
 * "unix+seqpacket:" the same addresses with the kernel keeping message
 * boundaries.
 *
 * A listener never removes a live server's socket file (nng #576, #656):
 * when bind() finds the path taken it connects to it, and replaces the
 * file only if that connect is refused, under an flock() on the directory
 * so that two servers starting at once cannot both replace it.  The file
 * gets its mode before it exists (fchmod on the socket before bind), and
 * the listener removes it on close if it is still the one it made.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipckit.h"

#include "addr.h"
#include "dgconn.h"
#include "fsname.h"
#include "sconn.h"
#include "sock.h"
#include "transport.h"
#include "wait.h"

#define UNIX_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/* What a listener owns besides its socket. */
struct unix_listener {
	int fd;     /* owned: the listening socket, -1 in a connection */
	char *path; /* owned: the socket file made by bind(), or NULL */
	dev_t dev;  /* and its identity, to remove only that file */
	ino_t ino;
	pid_t owner; /* the process that bound it: a forked child closing
	                its copy leaves the file to the parent */
};

struct unix_stream_state {
	struct sconn c; /* first: the sconn_* ops read it */
	struct unix_listener l;
};

struct unix_seq_state {
	struct dgconn d; /* first: the dgconn_* ops read it */
	struct unix_listener l;
};

/* The address's sockaddr: a path, or '@' and an abstract name. */
static int
unix_sockaddr(const struct ipk_addr *a, struct sockaddr_un *sun, socklen_t *len)
{
	const char *r = a->rest;
	bool abstract = r[0] == '@';
	size_t n = strlen(r) - (abstract ? 1 : 0);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n == 0)
		return errdetail(IPK_EADDR,
		                 "%s: needs a path (%s:/run/app.sock) or an "
		                 "abstract name (%s:@app)",
		                 a->scheme, a->scheme, a->scheme);
	if (n > UNIX_PATH_MAX)
		return errdetail(
		        -ENAMETOOLONG,
		        "%s:%s: %s of %zu bytes is above the %zu-byte "
		        "limit of a UNIX socket address (sun_path); use "
		        "a shorter path or an abstract name (@NAME)",
		        a->scheme, r, abstract ? "name" : "path", n,
		        UNIX_PATH_MAX);
	if (abstract) {
		/* sun_path[0] stays 0; the name follows, not terminated. */
		memcpy(sun->sun_path + 1, r + 1, n);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		                   n);
	} else {
		memcpy(sun->sun_path, r, n);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
		                   1);
	}
	return 0;
}

static bool
unix_is_abstract(const struct ipk_addr *a)
{
	return a->rest[0] == '@';
}

/* Is a server accepting on this address?  1 yes, 0 refused (stale), or
 * -errno when it cannot be told. */
static int
unix_live(int type, const struct sockaddr_un *sun, socklen_t len)
{
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc;

	if (fd < 0)
		return -errno;
	rc = connect(fd, (const struct sockaddr *)sun, len);
	if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS)
		rc = 1; /* accepted, or a full backlog: alive either way */
	else if (errno == ECONNREFUSED)
		rc = 0;
	else
		rc = -errno;
	close(fd);
	return rc;
}

/* An flock() on the socket's directory, held while a stale file is
 * replaced: 0 and *dfd (or -1 when the directory cannot be opened, which
 * only loses the protection against a second server starting at once). */
static int
unix_lock_dir(const char *path, int *dfd, int64_t deadline)
{
	char copy[PATH_MAX];
	long backoff_ns = 100000;

	*dfd = -1;
	if (strlen(path) >= sizeof(copy))
		return 0;
	strcpy(copy, path);
	*dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dfd < 0)
		return 0;
	while (flock(*dfd, LOCK_EX | LOCK_NB) != 0) {
		struct timespec ts = { 0, backoff_ns };

		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(*dfd);
			*dfd = -1;
			return 0;
		}
		if (wait_now_ns() >= deadline) {
			close(*dfd);
			*dfd = -1;
			return errdetail(-ETIMEDOUT,
			                 "%s: its directory stayed locked by "
			                 "another ipckit listener",
			                 path);
		}
		nanosleep(&ts, NULL);
		if (backoff_ns < 10000000)
			backoff_ns *= 2;
	}
	return 0;
}

/* Bind to a path, replacing a socket file nobody answers on. */
static int
unix_bind_path(int fd, int type, const struct ipk_addr *a,
               const struct sockaddr_un *sun, socklen_t len)
{
	const char *path = a->rest;
	struct stat st;
	int live;

	if (bind(fd, (const struct sockaddr *)sun, len) == 0)
		return 0;
	if (errno != EADDRINUSE)
		return errdetail(-errno, "%s:%s: bind: %s", a->scheme, path,
		                 strerror(errno));
	live = unix_live(type, sun, len);
	if (live == 1)
		return errdetail(-EADDRINUSE,
		                 "%s:%s: a server is listening there",
		                 a->scheme, path);
	if (live < 0 && live != -ENOENT)
		return errdetail(-EADDRINUSE,
		                 "%s:%s: in use, and its owner cannot be "
		                 "told (%s)",
		                 a->scheme, path, strerror(-live));
	if (live == 0) {
		/* Refused: a file left by a server that died.  Only a socket
		 * file is ever removed. */
		if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
			return errdetail(-EADDRINUSE,
			                 "%s:%s: exists and is not a socket",
			                 a->scheme, path);
		if (unlink(path) != 0 && errno != ENOENT)
			return errdetail(-errno,
			                 "%s:%s: cannot remove the stale "
			                 "socket: %s",
			                 a->scheme, path, strerror(errno));
	}
	if (bind(fd, (const struct sockaddr *)sun, len) != 0)
		return errdetail(-errno, "%s:%s: bind: %s", a->scheme, path,
		                 strerror(errno));
	return 0;
}

/* chmod exactly to mode when the umask took bits away; through an O_PATH
 * descriptor so that a link put in the file's place is not followed. */
static int
unix_chmod(const char *path, mode_t mode, struct stat *st)
{
	char proc[64];
	int pfd;

	if ((st->st_mode & 07777) == mode)
		return 0;
	pfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	if (fstat(pfd, st) != 0 || !S_ISSOCK(st->st_mode) ||
	    chmod(proc, mode) != 0) {
		int err = -errno;

		close(pfd);
		return err ? err : -EINVAL;
	}
	close(pfd);
	return 0;
}

static int
unix_listen(struct ipk_chan *ch, struct ipk_addr *a, int type,
            struct unix_listener *l)
{
	struct sockaddr_un sun;
	socklen_t len = 0;
	struct stat st;
	int dfd = -1, err;

	l->fd = -1;
	err = unix_sockaddr(a, &sun, &len);
	if (err)
		return err;
	if (unix_is_abstract(a) && addr_opt_str(a, "mode"))
		return errdetail(IPK_EOPTION,
		                 "%s:%s: an abstract socket has no file, so no "
		                 "mode",
		                 a->scheme, a->rest);
	l->fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0)
		return -errno;
	if (unix_is_abstract(a)) {
		if (bind(l->fd, (struct sockaddr *)&sun, len) != 0) {
			int e = errno;

			err = errdetail(-e, "%s:%s: %s", a->scheme, a->rest,
			                e == EADDRINUSE ? "the name is taken"
			                                : strerror(e));
			goto fail;
		}
	} else {
		/* The socket's mode before bind() is the file's, less the
		 * umask: never more open than asked, even for an instant. */
		if (fchmod(l->fd, a->mode) != 0) {
			err = -errno;
			goto fail;
		}
		err = unix_lock_dir(a->rest, &dfd, wait_deadline(5000));
		if (err)
			goto fail;
		err = unix_bind_path(l->fd, type, a, &sun, len);
		if (err)
			goto fail;
		l->path = strdup(a->rest);
		if (l->path == NULL || lstat(a->rest, &st) != 0) {
			err = l->path ? -errno : -ENOMEM;
			unlink(a->rest);
			goto fail;
		}
		l->dev = st.st_dev;
		l->ino = st.st_ino;
		l->owner = getpid();
		err = unix_chmod(a->rest, a->mode, &st);
		if (err)
			goto fail_unlink;
	}
	/* Listening before the directory is unlocked: a second server then
	 * finds this one alive. */
	if (listen(l->fd, SOMAXCONN) != 0) {
		err = -errno;
		goto fail_unlink;
	}
	if (dfd >= 0)
		close(dfd);
	if (asprintf(&ch->address, "%s:%s", a->scheme, a->rest) < 0) {
		ch->address = NULL;
		err = -ENOMEM;
		dfd = -1;
		goto fail_unlink;
	}
	if (l->path)
		fsname_add(a->scheme, l->path);
	return 0;
fail_unlink:
	if (l->path)
		unlink(l->path);
fail:
	if (dfd >= 0)
		close(dfd);
	free(l->path);
	l->path = NULL;
	close(l->fd);
	l->fd = -1;
	return err;
}

/* Connect within the deadline: a full backlog is retried. */
static int
unix_connect(const struct ipk_addr *a, int type, int64_t deadline)
{
	struct sockaddr_un sun;
	socklen_t len = 0;
	long backoff_ns = 50000;
	int fd, err;

	err = unix_sockaddr(a, &sun, &len);
	if (err)
		return err;
	fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	while (connect(fd, (struct sockaddr *)&sun, len) != 0) {
		struct timespec ts = { 0, backoff_ns };

		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			err = errdetail(
			        -errno, "%s:%s: %s", a->scheme, a->rest,
			        errno == ECONNREFUSED
			                ? "nobody is listening (a stale "
			                  "socket file?)"
			                : strerror(errno));
			close(fd);
			return err;
		}
		if (wait_now_ns() >= deadline) {
			close(fd);
			return errdetail(-ETIMEDOUT,
			                 "%s:%s: the server's backlog stayed "
			                 "full",
			                 a->scheme, a->rest);
		}
		nanosleep(&ts, NULL);
		if (backoff_ns < 5000000)
			backoff_ns *= 2;
	}
	/* Blocking from here: each call chooses to wait or not. */
	err = sock_blocking(fd);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/*
 * The next connection worth handing out.  A connection that closed before
 * sending anything is skipped: that is what another listener's liveness
 * check (unix_live) leaves in this one's backlog.
 */
static int
unix_accept_fd(int lfd, int64_t deadline)
{
	for (;;) {
		int fd = sock_accept(lfd, deadline);
		struct pollfd q = { .fd = fd, .events = POLLIN | POLLRDHUP };
		char c;

		if (fd < 0 || poll(&q, 1, 0) != 1 || !(q.revents & POLLRDHUP) ||
		    recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) != 0)
			return fd;
		close(fd);
	}
}

static void
unix_listener_close(struct unix_listener *l, const char *scheme)
{
	struct stat st;

	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	/* Only the file this listener made: a server started after us may
	 * have replaced it. */
	if (l->path && l->owner == getpid() && lstat(l->path, &st) == 0 &&
	    st.st_dev == l->dev && st.st_ino == l->ino &&
	    S_ISSOCK(st.st_mode)) {
		unlink(l->path);
		fsname_remove(scheme, l->path);
	}
	free(l->path);
	l->path = NULL;
}

static int
unix_unlink(struct ipk_addr *a)
{
	struct sockaddr_un sun;
	socklen_t len = 0;
	struct stat st;
	int err = unix_sockaddr(a, &sun, &len);

	if (err)
		return err;
	if (unix_is_abstract(a))
		return errdetail(-ENOTSUP,
		                 "%s:%s: an abstract name goes with its "
		                 "socket; there is no file to remove",
		                 a->scheme, a->rest);
	if (lstat(a->rest, &st) != 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return errdetail(-EINVAL, "%s:%s is not a socket: not removed",
		                 a->scheme, a->rest);
	if (unix_live(SOCK_STREAM, &sun, len) == 1 ||
	    unix_live(SOCK_SEQPACKET, &sun, len) == 1)
		return errdetail(-EBUSY,
		                 "%s:%s: a server is listening there: not "
		                 "removed",
		                 a->scheme, a->rest);
	if (unlink(a->rest) != 0)
		return -errno;
	fsname_remove(a->scheme, a->rest);
	return 0;
}

/* ---- unix: byte streams ---- */

static int
unix_stream_open(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags,
                 int timeout_ms)
{
	struct unix_stream_state *st = ipk_chan_state(ch);
	int fd;

	(void)flags;
	st->l.fd = -1;
	fd = unix_connect(a, SOCK_STREAM, wait_deadline(timeout_ms));
	return fd < 0 ? fd : sconn_start(&st->c, fd);
}

static int
unix_stream_listen(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags)
{
	struct unix_stream_state *st = ipk_chan_state(ch);

	(void)flags;
	st->c.in.fd = st->c.out.fd = -1;
	return unix_listen(ch, a, SOCK_STREAM, &st->l);
}

static int
unix_stream_accept(struct ipk_chan *l, struct ipk_chan *conn, int timeout_ms)
{
	struct unix_stream_state *ls = ipk_chan_state(l);
	struct unix_stream_state *cs = ipk_chan_state(conn);
	int fd = unix_accept_fd(ls->l.fd, wait_deadline(timeout_ms));

	cs->l.fd = -1;
	return fd < 0 ? fd : sconn_start(&cs->c, fd);
}

static int
unix_stream_pollfd(struct ipk_chan *ch)
{
	struct unix_stream_state *st = ipk_chan_state(ch);

	return ch->role == CHAN_LISTENER ? st->l.fd : sconn_pollfd(ch);
}

static void
unix_stream_close(struct ipk_chan *ch)
{
	struct unix_stream_state *st = ipk_chan_state(ch);

	if (ch->role == CHAN_LISTENER)
		unix_listener_close(&st->l, ch->tp->scheme);
	else
		sconn_close(ch);
}

static int
unix_stream_list(ipk_list_fn *fn, void *arg)
{
	return fsname_list("unix", S_IFSOCK, fn, arg);
}

const struct ipk_transport transport_unix = {
	.scheme = "unix",
	.summary = "UNIX stream socket, unix:PATH or unix:@NAME (abstract)",
	.caps = IPK_CAP_CONN | IPK_CAP_NAMED | IPK_CAP_STREAM |
	        IPK_CAP_PEER_DEATH,
	.state_size = sizeof(struct unix_stream_state),
	.open = unix_stream_open,
	.listen = unix_stream_listen,
	.accept = unix_stream_accept,
	.send = sconn_send,
	.recv = sconn_recv,
	.peek_size = sconn_peek_size,
	.flush = sconn_flush,
	.pollfd = unix_stream_pollfd,
	.max_msg = sconn_max_msg,
	.close = unix_stream_close,
	.list = unix_stream_list,
	.unlink = unix_unlink,
};

/* ---- unix+seqpacket: the kernel keeps the boundaries ---- */

/* The kernel refuses a record above the sender's SO_SNDBUF less 32 bytes
 * (unix_dgram_sendmsg); one of those bytes is our header. */
static size_t
unix_seq_max(int fd)
{
	int sndbuf = 0;
	socklen_t sl = sizeof(sndbuf);

	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) != 0 ||
	    sndbuf < 64)
		return 4096;
	return (size_t)sndbuf - 32 - 1;
}

static int
unix_seq_open(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags,
              int timeout_ms)
{
	struct unix_seq_state *st = ipk_chan_state(ch);
	int fd;

	(void)flags;
	st->l.fd = -1;
	fd = unix_connect(a, SOCK_SEQPACKET, wait_deadline(timeout_ms));
	if (fd < 0)
		return fd;
	dgconn_init(&st->d, fd, 1, unix_seq_max(fd));
	return 0;
}

static int
unix_seq_listen(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags)
{
	struct unix_seq_state *st = ipk_chan_state(ch);

	(void)flags;
	st->d.fd = -1;
	return unix_listen(ch, a, SOCK_SEQPACKET, &st->l);
}

static int
unix_seq_accept(struct ipk_chan *l, struct ipk_chan *conn, int timeout_ms)
{
	struct unix_seq_state *ls = ipk_chan_state(l);
	struct unix_seq_state *cs = ipk_chan_state(conn);
	int fd = unix_accept_fd(ls->l.fd, wait_deadline(timeout_ms));

	if (fd < 0)
		return fd;
	cs->l.fd = -1;
	dgconn_init(&cs->d, fd, 1, unix_seq_max(fd));
	return 0;
}

static int
unix_seq_pollfd(struct ipk_chan *ch)
{
	struct unix_seq_state *st = ipk_chan_state(ch);

	return ch->role == CHAN_LISTENER ? st->l.fd : dgconn_pollfd(ch);
}

static void
unix_seq_close(struct ipk_chan *ch)
{
	struct unix_seq_state *st = ipk_chan_state(ch);

	if (ch->role == CHAN_LISTENER)
		unix_listener_close(&st->l, ch->tp->scheme);
	else
		dgconn_close(ch);
}

static int
unix_seq_list(ipk_list_fn *fn, void *arg)
{
	return fsname_list("unix+seqpacket", S_IFSOCK, fn, arg);
}

const struct ipk_transport transport_unix_seqpacket = {
	.scheme = "unix+seqpacket",
	.summary = "UNIX seqpacket socket: the kernel keeps message "
	           "boundaries",
	.caps = IPK_CAP_CONN | IPK_CAP_NAMED | IPK_CAP_PEER_DEATH,
	.state_size = sizeof(struct unix_seq_state),
	.open = unix_seq_open,
	.listen = unix_seq_listen,
	.accept = unix_seq_accept,
	.send = dgconn_send,
	.recv = dgconn_recv,
	.peek_size = dgconn_peek_size,
	.pollfd = unix_seq_pollfd,
	.max_msg = dgconn_max_msg,
	.close = unix_seq_close,
	.list = unix_seq_list,
	.unlink = unix_unlink,
};
