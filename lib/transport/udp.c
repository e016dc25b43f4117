// SPDX-License-Identifier: MIT
/*
 * udp.c - UDP as an ipckit connection: unreliable (IPK_CAP_LOSSY), one
 * datagram per message, at most 65507 bytes.
 *
 * UDP has no connections, so ipckit makes one with a handshake, and, like
 * a TCP backlog, it lets a client open before the server accepts:
 *   - ipk_open("udp:HOST:PORT") sends HELLO (magic, nonce) to the listener
 *     and returns.  The listener's ipk_accept() takes a HELLO, makes a
 *     socket for that client on a fresh port of the address the HELLO came
 *     to, connects it to the client, and answers WELCOME (nonce, port)
 *     from the listening port.
 *   - The client's first send, receive or peek waits (within its own
 *     timeout) for the WELCOME, sending HELLO again every 50 ms, doubling
 *     to 1 s, then connects its socket to the new port.  Until then its
 *     socket is unconnected, so the server's first messages, which come
 *     from the new port, are queued rather than filtered out.
 *   - A repeated HELLO (its WELCOME was lost) gets the same answer; a
 *     datagram from anyone but the peer is dropped.
 * From then on each side's datagrams carry only the message.  Nothing
 * tells a side that the other has closed, except the ICMP "port
 * unreachable" a later send may bring (reported as -EPIPE).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipckit.h"

#include "addr.h"
#include "dgconn.h"
#include "inaddr.h"
#include "transport.h"
#include "wait.h"

#define UDP_MAX_MSG 65507 /* 65535 less the IPv4 and UDP headers */
#define UDP_HELLO   1
#define UDP_WELCOME 2
#define UDP_SHAKE   16 /* "IPKU", type, 0, port (2), nonce (8) */
#define UDP_SEEN    32 /* handshakes remembered for repeated HELLOs */

struct udp_seen {
	struct sockaddr_storage from;
	socklen_t from_len;
	unsigned char nonce[8];
	uint16_t port;
};

struct udp_state {
	struct dgconn d; /* first: the dgconn_* ops read it */
	int lfd;         /* owned: a listener's socket, -1 in a connection */
	struct udp_seen *seen; /* owned: listener only, UDP_SEEN entries */
	unsigned seen_next;
	/* A client until the WELCOME comes: */
	bool shaking;
	unsigned char nonce[8];
	struct sockaddr_storage lis; /* the listener */
	socklen_t lis_len;
	int64_t next_hello, gap; /* ns */
};

static void
udp_shake(unsigned char *p, unsigned type, unsigned port,
          const unsigned char *nonce)
{
	memcpy(p, "IPKU", 4);
	p[4] = (unsigned char)type;
	p[5] = 0;
	p[6] = (unsigned char)(port >> 8);
	p[7] = (unsigned char)port;
	memcpy(p + 8, nonce, 8);
}

static bool
udp_is_shake(const unsigned char *p, ssize_t n, unsigned type)
{
	return n == UDP_SHAKE && memcmp(p, "IPKU", 4) == 0 && p[4] == type &&
	       p[5] == 0;
}

static int
udp_no_mode(struct ipk_addr *a)
{
	if (addr_opt_str(a, "mode"))
		return errdetail(IPK_EOPTION,
		                 "%s:%s: option 'mode' does not apply: a UDP "
		                 "port has no file",
		                 a->scheme, a->rest);
	return 0;
}

static void
udp_set_port(struct sockaddr_storage *ss, unsigned port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* (Re)send HELLO; lost or not, it is sent again until answered. */
static void
udp_hello(struct udp_state *st)
{
	unsigned char hello[UDP_SHAKE];

	udp_shake(hello, UDP_HELLO, 0, st->nonce);
	(void)sendto(st->d.fd, hello, sizeof(hello),
	             MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&st->lis,
	             st->lis_len);
	st->next_hello = wait_now_ns() + st->gap;
	if (st->gap < 1000 * 1000000LL)
		st->gap *= 2;
}

static int
udp_open(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags,
         int timeout_ms)
{
	struct udp_state *st = ipk_chan_state(ch);
	int fd, err;

	(void)flags;
	(void)timeout_ms;
	st->lfd = -1;
	err = udp_no_mode(a);
	if (err == 0)
		err = addr_split_hostport(a, false);
	if (err == 0)
		err = inaddr_resolve(a, SOCK_DGRAM, false, &st->lis,
		                     &st->lis_len);
	if (err)
		return err;
	if (getrandom(st->nonce, sizeof(st->nonce), 0) != sizeof(st->nonce))
		return -EIO;
	fd = socket(st->lis.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	dgconn_init(&st->d, fd, 0, UDP_MAX_MSG);
	st->shaking = true;
	st->gap = 50 * 1000000LL;
	udp_hello(st);
	return 0;
}

/* Finish the handshake by deadline: 0, or -ETIMEDOUT. */
static int
udp_handshake(struct ipk_chan *ch, int64_t deadline)
{
	struct udp_state *st = ipk_chan_state(ch);
	int fd = st->d.fd;

	while (st->shaking) {
		unsigned char in[UDP_SHAKE];
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		int64_t now = wait_now_ns(), until;
		ssize_t n;

		if (now >= st->next_hello)
			udp_hello(st);
		n = recvfrom(fd, in, sizeof(in), MSG_DONTWAIT,
		             (struct sockaddr *)&from, &flen);
		if (n >= 0) {
			if (flen == st->lis_len &&
			    memcmp(&from, &st->lis, flen) == 0 &&
			    udp_is_shake(in, n, UDP_WELCOME) &&
			    memcmp(in + 8, st->nonce, 8) == 0) {
				st->d.peer = st->lis;
				st->d.peer_len = st->lis_len;
				udp_set_port(&st->d.peer,
				             (unsigned)in[6] << 8 | in[7]);
				if (connect(fd, (struct sockaddr *)&st->d.peer,
				            st->d.peer_len) != 0)
					return -errno;
				st->shaking = false;
			}
			continue; /* anything else is not ours yet */
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		until = deadline < st->next_hello ? deadline : st->next_hello;
		n = wait_fd(fd, POLLIN, until);
		if (n == -ETIMEDOUT && until == deadline)
			return errdetail(-ETIMEDOUT,
			                 "%s: no listener has answered yet",
			                 ch->address);
		if (n < 0 && n != -ETIMEDOUT)
			return (int)n;
	}
	return 0;
}

static ssize_t
udp_send(struct ipk_chan *ch, const void *msg, size_t len,
         const struct ipk_msginfo *info, int timeout_ms)
{
	int64_t deadline = wait_deadline(timeout_ms);
	int err = udp_handshake(ch, deadline);

	if (err)
		return err;
	return dgconn_send(ch, msg, len, info, wait_left_ms(deadline));
}

static ssize_t
udp_recv(struct ipk_chan *ch, void *buf, size_t cap, struct ipk_msginfo *info,
         int timeout_ms)
{
	int64_t deadline = wait_deadline(timeout_ms);
	int err = udp_handshake(ch, deadline);

	if (err)
		return err;
	return dgconn_recv(ch, buf, cap, info, wait_left_ms(deadline));
}

static ssize_t
udp_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
              int timeout_ms)
{
	int64_t deadline = wait_deadline(timeout_ms);
	int err = udp_handshake(ch, deadline);

	if (err)
		return err;
	return dgconn_peek_size(ch, info, wait_left_ms(deadline));
}

static int
udp_listen(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags)
{
	struct udp_state *st = ipk_chan_state(ch);
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, err;

	(void)flags;
	st->lfd = -1;
	st->d.fd = -1;
	err = udp_no_mode(a);
	if (err == 0)
		err = addr_split_hostport(a, true);
	if (err == 0)
		err = inaddr_resolve(a, SOCK_DGRAM, true, &ss, &len);
	if (err)
		return err;
	st->seen = calloc(UDP_SEEN, sizeof(*st->seen));
	if (st->seen == NULL)
		return -ENOMEM;
	st->lfd = socket(ss.ss_family,
	                 SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (st->lfd < 0) {
		err = -errno;
		goto fail;
	}
	/* The address each HELLO came to, so the client's socket is made
	 * on that address, whatever the listener is bound to. */
	if ((ss.ss_family == AF_INET
	             ? setsockopt(st->lfd, IPPROTO_IP, IP_PKTINFO, &one,
	                          sizeof(one))
	             : setsockopt(st->lfd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
	                          sizeof(one))) != 0 ||
	    bind(st->lfd, (struct sockaddr *)&ss, len) != 0) {
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
	if (st->lfd >= 0)
		close(st->lfd);
	st->lfd = -1;
	free(st->seen);
	st->seen = NULL;
	return err;
}

/* The local address a datagram came to, from its IP_PKTINFO; port 0. */
static void
udp_local(struct msghdr *m, int family, struct sockaddr_storage *local,
          socklen_t *len)
{
	memset(local, 0, sizeof(*local));
	local->ss_family = (sa_family_t)family;
	*len = family == AF_INET ? sizeof(struct sockaddr_in)
	                         : sizeof(struct sockaddr_in6);
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in *)local)->sin_addr = pi.ipi_addr;
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
		           c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			((struct sockaddr_in6 *)local)->sin6_addr =
			        pi.ipi6_addr;
		}
	}
}

/* Answer WELCOME from the listening port, from the address the HELLO came
 * to (so the client's connected socket takes it). */
static void
udp_welcome(struct udp_state *st, const struct udp_seen *s,
            const struct sockaddr_storage *local)
{
	unsigned char out[UDP_SHAKE];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec v = { out, sizeof(out) };
	struct msghdr m = { .msg_name = (void *)(uintptr_t)&s->from,
		            .msg_namelen = s->from_len,
		            .msg_iov = &v,
		            .msg_iovlen = 1,
		            .msg_control = ctl.buf };
	struct cmsghdr *c;

	udp_shake(out, UDP_WELCOME, s->port, s->nonce);
	memset(&ctl, 0, sizeof(ctl));
	if (local->ss_family == AF_INET) {
		struct in_pktinfo pi = { 0 };

		pi.ipi_spec_dst = ((const struct sockaddr_in *)local)->sin_addr;
		m.msg_controllen = CMSG_SPACE(sizeof(pi));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = { 0 };

		pi.ipi6_addr = ((const struct sockaddr_in6 *)local)->sin6_addr;
		m.msg_controllen = CMSG_SPACE(sizeof(pi));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	}
	/* Lost or not, the client asks again. */
	(void)sendmsg(st->lfd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* A socket for one client: on the local address, a fresh port, connected
 * to the client.  Its port, or -errno. */
static int
udp_conn_socket(const struct sockaddr_storage *local, socklen_t llen,
                const struct sockaddr_storage *from, socklen_t flen, int *fd)
{
	struct sockaddr_storage me;
	socklen_t mlen = sizeof(me);
	int err;

	*fd = socket(local->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return -errno;
	if (bind(*fd, (const struct sockaddr *)local, llen) != 0 ||
	    connect(*fd, (const struct sockaddr *)from, flen) != 0 ||
	    getsockname(*fd, (struct sockaddr *)&me, &mlen) != 0) {
		err = -errno;
		close(*fd);
		*fd = -1;
		return err;
	}
	return (int)inaddr_port((struct sockaddr *)&me);
}

static int
udp_accept(struct ipk_chan *l, struct ipk_chan *conn, int timeout_ms)
{
	struct udp_state *ls = ipk_chan_state(l);
	struct udp_state *cs = ipk_chan_state(conn);
	int64_t deadline = wait_deadline(timeout_ms);

	for (;;) {
		unsigned char in[UDP_SHAKE + 1];
		union {
			char buf[256];
			struct cmsghdr align;
		} ctl;
		struct sockaddr_storage from, local;
		struct iovec v = { in, sizeof(in) };
		struct msghdr m = { .msg_name = &from,
			            .msg_namelen = sizeof(from),
			            .msg_iov = &v,
			            .msg_iovlen = 1,
			            .msg_control = ctl.buf,
			            .msg_controllen = sizeof(ctl.buf) };
		struct udp_seen *s = NULL;
		socklen_t llen;
		ssize_t n = recvmsg(ls->lfd, &m, MSG_DONTWAIT);
		int fd, port, w;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			if (deadline != WAIT_FOREVER &&
			    wait_now_ns() >= deadline)
				return -ETIMEDOUT;
			w = wait_fd(ls->lfd, POLLIN, deadline);
			if (w < 0)
				return w;
			continue;
		}
		/* Anything but a HELLO is noise on a listening port. */
		if (!udp_is_shake(in, n, UDP_HELLO))
			continue;
		udp_local(&m, from.ss_family, &local, &llen);
		for (unsigned i = 0; i < UDP_SEEN; i++)
			if (ls->seen[i].from_len == m.msg_namelen &&
			    memcmp(&ls->seen[i].from, &from, m.msg_namelen) ==
			            0 &&
			    memcmp(ls->seen[i].nonce, in + 8, 8) == 0)
				s = &ls->seen[i];
		if (s) {
			udp_welcome(ls, s, &local);
			continue;
		}
		port = udp_conn_socket(&local, llen, &from, m.msg_namelen, &fd);
		if (port < 0)
			return port;
		s = &ls->seen[ls->seen_next++ % UDP_SEEN];
		s->from = from;
		s->from_len = m.msg_namelen;
		memcpy(s->nonce, in + 8, 8);
		s->port = (uint16_t)port;
		udp_welcome(ls, s, &local);
		cs->lfd = -1;
		dgconn_init(&cs->d, fd, 0, UDP_MAX_MSG);
		cs->d.peer = from;
		cs->d.peer_len = m.msg_namelen;
		return 0;
	}
}

static int
udp_pollfd(struct ipk_chan *ch)
{
	struct udp_state *st = ipk_chan_state(ch);

	return ch->role == CHAN_LISTENER ? st->lfd : dgconn_pollfd(ch);
}

static void
udp_close(struct ipk_chan *ch)
{
	struct udp_state *st = ipk_chan_state(ch);

	if (ch->role != CHAN_LISTENER) {
		dgconn_close(ch);
		return;
	}
	if (st->lfd >= 0)
		close(st->lfd);
	st->lfd = -1;
	free(st->seen);
	st->seen = NULL;
}

const struct ipk_transport transport_udp = {
	.scheme = "udp",
	.summary = "UDP datagrams, udp:HOST:PORT: unreliable, at most 65507 "
	           "bytes",
	.caps = IPK_CAP_CONN | IPK_CAP_LOSSY,
	.state_size = sizeof(struct udp_state),
	.open = udp_open,
	.listen = udp_listen,
	.accept = udp_accept,
	.send = udp_send,
	.recv = udp_recv,
	.peek_size = udp_peek_size,
	.pollfd = udp_pollfd,
	.max_msg = dgconn_max_msg,
	.close = udp_close,
};
