// SPDX-License-Identifier: MIT
/* tcp.c - TCP as an ipckit connection: "tcp:HOST:PORT" ([v6] in brackets),
 * framed by frame.c.  Nagle is off (TCP_NODELAY): frame.c coalesces
 * IPK_MORE messages itself, and a lone message should leave at once.
 * Port 0 on a listener picks a free port, which ipk_address() reports. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipckit.h"

#include "addr.h"
#include "inaddr.h"
#include "sconn.h"
#include "sock.h"
#include "transport.h"
#include "wait.h"

struct tcp_state {
	struct sconn c; /* first: the sconn_* ops read it */
	int lfd;        /* owned: a listener's socket, -1 in a connection */
};

static int
tcp_no_mode(struct ipk_addr *a)
{
	if (addr_opt_str(a, "mode"))
		return errdetail(IPK_EOPTION,
		                 "%s:%s: option 'mode' does not apply: a TCP "
		                 "port has no file",
		                 a->scheme, a->rest);
	return 0;
}

/* A connected socket becomes a framed channel. */
static int
tcp_start(struct tcp_state *st, int fd)
{
	int one = 1;

	st->lfd = -1;
	/* Not fatal: a socket that refuses it is merely slower. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return sconn_start(&st->c, fd);
}

static int
tcp_open(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags,
         int timeout_ms)
{
	struct tcp_state *st = ipk_chan_state(ch);
	int64_t deadline = wait_deadline(timeout_ms);
	struct sockaddr_storage ss;
	socklen_t len, sl;
	int fd, err, so_err = 0;

	(void)flags;
	err = tcp_no_mode(a);
	if (err == 0)
		err = addr_split_hostport(a, false);
	if (err == 0)
		err = inaddr_resolve(a, SOCK_STREAM, false, &ss, &len);
	if (err)
		return err;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	            0);
	if (fd < 0)
		return -errno;
	/* Non-blocking connect, so the open timeout bounds it. */
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			so_err = errno;
			goto refused;
		}
		err = wait_fd(fd, POLLOUT, deadline);
		if (err < 0) {
			close(fd);
			return err == -ETIMEDOUT
			               ? errdetail(-ETIMEDOUT,
			                           "%s:%s: no answer within "
			                           "the timeout",
			                           a->scheme, a->rest)
			               : err;
		}
		sl = sizeof(so_err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_err, &sl) != 0)
			so_err = errno;
		if (so_err)
			goto refused;
	}
	err = sock_blocking(fd);
	if (err) {
		close(fd);
		return err;
	}
	return tcp_start(st, fd);
refused:
	close(fd);
	return errdetail(-so_err, "%s:%s: %s", a->scheme, a->rest,
	                 strerror(so_err));
}

static int
tcp_listen(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags)
{
	struct tcp_state *st = ipk_chan_state(ch);
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, err;

	(void)flags;
	st->lfd = -1;
	st->c.in.fd = st->c.out.fd = -1;
	err = tcp_no_mode(a);
	if (err == 0)
		err = addr_split_hostport(a, true);
	if (err == 0)
		err = inaddr_resolve(a, SOCK_STREAM, true, &ss, &len);
	if (err)
		return err;
	st->lfd = socket(ss.ss_family,
	                 SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (st->lfd < 0)
		return -errno;
	/* A restarted server can take its port back from TIME_WAIT. */
	if (setsockopt(st->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) !=
	            0 ||
	    bind(st->lfd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(st->lfd, SOMAXCONN) != 0) {
		err = errdetail(-errno, "%s:%s: %s", a->scheme, a->rest,
		                errno == EADDRINUSE ? "the port is in use"
		                                    : strerror(errno));
		goto fail;
	}
	len = sizeof(ss);
	if (getsockname(st->lfd, (struct sockaddr *)&ss, &len) != 0) {
		err = -errno;
		goto fail;
	}
	ch->address = inaddr_format(a->scheme, (struct sockaddr *)&ss);
	if (ch->address == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	close(st->lfd);
	st->lfd = -1;
	return err;
}

static int
tcp_accept(struct ipk_chan *l, struct ipk_chan *conn, int timeout_ms)
{
	struct tcp_state *ls = ipk_chan_state(l);
	int fd = sock_accept(ls->lfd, wait_deadline(timeout_ms));

	return fd < 0 ? fd : tcp_start(ipk_chan_state(conn), fd);
}

static int
tcp_pollfd(struct ipk_chan *ch)
{
	struct tcp_state *st = ipk_chan_state(ch);

	return ch->role == CHAN_LISTENER ? st->lfd : sconn_pollfd(ch);
}

static void
tcp_close(struct ipk_chan *ch)
{
	struct tcp_state *st = ipk_chan_state(ch);

	if (ch->role != CHAN_LISTENER) {
		sconn_close(ch);
		return;
	}
	if (st->lfd >= 0)
		close(st->lfd);
	st->lfd = -1;
}

const struct ipk_transport transport_tcp = {
	.scheme = "tcp",
	.summary = "TCP connection, tcp:HOST:PORT or tcp:[V6]:PORT",
	.caps = IPK_CAP_CONN | IPK_CAP_STREAM | IPK_CAP_PEER_DEATH,
	.state_size = sizeof(struct tcp_state),
	.open = tcp_open,
	.listen = tcp_listen,
	.accept = tcp_accept,
	.send = sconn_send,
	.recv = sconn_recv,
	.peek_size = sconn_peek_size,
	.flush = sconn_flush,
	.pollfd = tcp_pollfd,
	.max_msg = sconn_max_msg,
	.close = tcp_close,
};
