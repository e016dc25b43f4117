// SPDX-License-Identifier: MIT
/* server.c - moves bytes between sockets and the protocol core (hub.h).
 * One thread on ipk_loop; reads go to hub_input(); output queued by the
 * core during a round is written after it, one write per connection (a
 * send when the queue is one slice, else a writev or sendmsg), and EPOLLOUT
 * is armed only while a queue stays non-empty.  Where the kernel offers
 * io_uring, a round's writes to plain sockets go to it as one batch: one
 * io_uring_enter instead of one system call per connection (system calls
 * are the better part of a loopback send's cost in a VM; docs/hub.md,
 * "How it is built").  Where it does not, or IPCKIT_HUB_NO_URING is set,
 * each is written with its own call; the choice is made once at start. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <liburing.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "hub.h"
#include "ipckit.h"
#include "log.h"
#include "server.h"
#include "tls.h"
#include "xalloc.h"

#define SERVER_READ_BYTES (64 * 1024)
#define SERVER_IOV        1024 /* IOV_MAX on Linux */
#define SERVER_ACCEPTS    128  /* accepted per readiness event */
#define SERVER_LINGER     256  /* closing sockets drained at once */
#define SERVER_LINGER_MS  2000
#define SERVER_RING       1024 /* writes in one io_uring batch */
#define SERVER_RING_IOV   8192 /* iovecs the batch's sendmsgs share */

/* A socket closed with a reason: its write side is shut and what the
 * client still sends is read and dropped until it hangs up (or the time
 * is up), because closing with unread input sends a reset that can
 * destroy the reason before the client reads it. */
/* conn->tls_mode: with TLS on, the first byte a client sends tells ADCS
 * (a TLS handshake record, 0x16) from plain ADC ("HSUP"). */
enum server_tls { TLS_UNKNOWN, TLS_PLAIN, TLS_HANDSHAKE, TLS_READY };

struct lingering {
	int fd;
	long long until_ms;
};

/* The io_uring batch: slot i writes msg[i] (want[i] bytes of the head of
 * conn[i]'s queue).  Every write of a batch has completed before any of
 * its results is applied, so the queues' chunks and the connections stay
 * as they were while the kernel reads them. */
struct server_ring {
	struct io_uring ring;
	struct conn *conn[SERVER_RING]; /* borrowed */
	struct msghdr msg[SERVER_RING];
	size_t want[SERVER_RING];
	int32_t res[SERVER_RING]; /* the completions' results */
	bool done[SERVER_RING];   /* res[i] is in */
	struct iovec iov[SERVER_RING_IOV];
	int n, n_iov; /* slots and iovecs in use */
};

struct server {
	const struct server_opts *opts; /* borrowed */
	struct ipk_loop *loop;          /* owned */
	struct hub *hub;                /* owned */
	struct store *store;            /* owned; NULL if none */
	struct hub_config cfg;          /* owned: settings in force */
	int lfd;                        /* listening socket, -1 when closed */
	int spare_fd;                   /* reserve for EMFILE, -1 if none */
	struct ipk_timer tick;
	bool flush_pending;
	char *rbuf; /* owned: SERVER_READ_BYTES, shared by every read */
	struct lingering linger[SERVER_LINGER];
	int n_linger;
	SSL_CTX *tls_ctx;         /* owned; NULL when TLS is off */
	char keyprint[128];       /* "SHA256/<base32>" */
	struct server_ring *ring; /* owned; NULL: one system call a write */
};

int
server_load_config(const struct server_opts *o, struct hub_config *cfg,
                   char *err, size_t cap)
{
	config_defaults(cfg);
	if (o->config_path && config_load(cfg, o->config_path, err, cap) != 0)
		return -1;
	for (int i = 0; i < o->n_overrides; i++) {
		const char *kv = o->overrides[i], *eq = strchr(kv, '=');
		char key[64], why[256];

		if (eq == NULL || (size_t)(eq - kv) >= sizeof(key)) {
			snprintf(err, cap, "--set %s: expected KEY=VALUE", kv);
			return -1;
		}
		memcpy(key, kv, (size_t)(eq - kv));
		key[eq - kv] = '\0';
		if (config_set(cfg, key, eq + 1, why, sizeof(why)) != 0) {
			snprintf(err, cap, "command line: %s", why);
			return -1;
		}
	}
	return 0;
}

static void server_flush_all(struct ipk_loop *loop, void *arg);

static void
server_wake(void *arg)
{
	struct server *s = arg;

	if (!s->flush_pending &&
	    ipk_loop_defer(s->loop, server_flush_all, s) == 0)
		s->flush_pending = true;
}

static void
server_refresh_roles(struct server *s)
{
	struct hub *h = s->hub;

	if (s->store == NULL)
		return;
	for (uint32_t i = 0; i < h->n_online; i++) {
		struct conn *c = h->online[i];
		enum role r = ROLE_GUEST;

		if (c->role == ROLE_GUEST)
			continue; /* a guest stays one until it logs in again */
		if (store_user_role(s->store, c->nick, &r) < 0)
			continue; /* a database error: change nothing */
		if (r != c->role) {
			log_info("reload: %s is now %s", c->nick, role_name(r));
			login_set_role(h, c, r);
		}
	}
}

static int
server_reload(void *arg, char *msg, size_t cap)
{
	struct server *s = arg;
	struct hub_config cfg;

	if (server_load_config(s->opts, &cfg, msg, cap) != 0) {
		log_error("reload failed, keeping the old settings: %s", msg);
		config_fini(&cfg);
		return -1;
	}
	hub_apply_config(s->hub, &cfg);
	config_fini(&s->cfg);
	s->cfg = cfg;
	server_refresh_roles(s);
	log_info("configuration reloaded");
	return 0;
}

static const struct hub_ops server_ops = {
	.wake = server_wake,
	.reload = server_reload,
};

static void server_watch(struct server *s, struct conn *c, bool want_write);
static void server_on_conn(struct ipk_loop *l, int fd, unsigned ev, void *a);

static void
server_tls_failed(struct server *s, struct conn *c, const char *what, int e)
{
	char why[200], detail[120] = "";
	unsigned long err = ERR_get_error();

	if (err)
		ERR_error_string_n(err, detail, sizeof(detail));
	else if (e == SSL_ERROR_SYSCALL)
		snprintf(detail, sizeof(detail), "%s",
		         errno ? strerror(errno) : "peer closed");
	ERR_clear_error();
	snprintf(why, sizeof(why), "TLS %s failed%s%s", what,
	         detail[0] ? ": " : "", detail);
	if (!c->closing)
		hub_conn_gone(s->hub, c, why);
	outq_clear(&c->out);
	c->tls_retry = 0;
}

/* TLS cannot take a scatter list: whole 16 kB pieces of the queue go to
 * SSL_write, and a write that must be repeated is repeated with the same
 * bytes (they stay at the head of the queue until written). */
static bool
server_flush_tls(struct server *s, struct conn *c)
{
	char buf[16384];

	while (c->out.n > 0) {
		size_t n = c->tls_retry
		                   ? c->tls_retry
		                   : outq_gather(&c->out, buf, sizeof(buf));
		int w, e;

		if (c->tls_retry)
			outq_gather(&c->out, buf, n);
		w = SSL_write(c->tls, buf, (int)n);
		if (w > 0) {
			c->tls_retry = 0;
			s->hub->stats.bytes_out += (size_t)w;
			outq_consume(&c->out, (size_t)w);
			continue;
		}
		e = SSL_get_error(c->tls, w);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
			c->tls_retry = (uint32_t)n;
			return e == SSL_ERROR_WANT_WRITE;
		}
		server_tls_failed(s, c, "write", e);
		return false;
	}
	return false;
}

/* The outcome of one write of want bytes from the head of c's queue (w
 * bytes, or -1 and err): the written bytes leave the queue, an error closes
 * the connection.  True if the socket took everything and more may go. */
static bool
server_wrote(struct server *s, struct conn *c, ssize_t w, int err, size_t want)
{
	if (w < 0 && (err == EAGAIN || err == EWOULDBLOCK))
		return false;
	if (w < 0) {
		char why[96];

		snprintf(why, sizeof(why), "write: %s", strerror(err));
		if (!c->closing)
			hub_conn_gone(s->hub, c, why);
		outq_clear(&c->out);
		return false;
	}
	s->hub->stats.bytes_out += (size_t)w;
	outq_consume(&c->out, (size_t)w);
	return (size_t)w == want;
}

/* One writev() per call when the socket takes everything (the normal
 * case); more only while IOV_MAX cuts a long queue short. */
static void
server_flush(struct server *s, struct conn *c)
{
	struct iovec iov[SERVER_IOV];
	bool want_write = false;

	if (c->tls_mode == TLS_HANDSHAKE ||
	    (c->tls_mode == TLS_UNKNOWN && !c->closing)) {
		/* Nothing is queued before HSUP; wait for the handshake.  (A
		 * client closed before saying a word gets its reason in
		 * plain text: it never started TLS.) */
		return;
	}
	if (c->tls) {
		want_write = server_flush_tls(s, c);
		if (!c->closing)
			server_watch(s, c, want_write || c->out.n > 0);
		return;
	}
	while (c->out.n > 0) {
		int k = outq_iov(&c->out, iov, SERVER_IOV);
		size_t want = 0;
		ssize_t w;

		for (int i = 0; i < k; i++)
			want += iov[i].iov_len;
		/* One slice (a broadcast line, the usual case) goes by send():
		 * the same bytes in one call, without writev's trip through
		 * the file layer and the iovec copy-in: 5.24 against 5.59 us
		 * per loopback write, medians of 10 interleaved runs of
		 * bench/hub/fanout with and without --send in this VM. */
		w = k == 1 ? send(c->fd, iov[0].iov_base, iov[0].iov_len,
		                  MSG_DONTWAIT | MSG_NOSIGNAL)
		           : writev(c->fd, iov, k);
		if (w < 0 && errno == EINTR)
			continue;
		if (!server_wrote(s, c, w, w < 0 ? errno : 0, want))
			break;
	}
	if (!c->closing)
		server_watch(s, c, c->out.n > 0);
}

/* server_ring_open - an io_uring for the flush path, or NULL (logged) when
 * the kernel has none, refuses it (sysctl kernel.io_uring_disabled, a
 * seccomp filter) or lacks the operations, or IPCKIT_HUB_NO_URING is set
 * to anything but "" or "0". */
static struct server_ring *
server_ring_open(void)
{
	const char *no = getenv("IPCKIT_HUB_NO_URING");
	struct server_ring *r;
	struct io_uring_probe *probe;
	int e;

	if (no && no[0] && strcmp(no, "0") != 0) {
		log_info("output: one system call a write "
		         "(IPCKIT_HUB_NO_URING is set)");
		return NULL;
	}
	r = xmalloc(sizeof(*r));
	/* One thread submits; completions need no interrupt (Linux 6.0+). */
	e = io_uring_queue_init(SERVER_RING, &r->ring,
	                        IORING_SETUP_SINGLE_ISSUER |
	                                IORING_SETUP_COOP_TASKRUN);
	if (e == -EINVAL)
		e = io_uring_queue_init(SERVER_RING, &r->ring, 0);
	if (e < 0) {
		log_info("output: one system call a write (io_uring: %s)",
		         strerror(-e));
		free(r);
		return NULL;
	}
	probe = io_uring_get_probe_ring(&r->ring);
	if (probe == NULL ||
	    !io_uring_opcode_supported(probe, IORING_OP_SEND) ||
	    !io_uring_opcode_supported(probe, IORING_OP_SENDMSG)) {
		log_info("output: one system call a write (io_uring has no "
		         "send)");
		io_uring_free_probe(probe);
		io_uring_queue_exit(&r->ring);
		free(r);
		return NULL;
	}
	io_uring_free_probe(probe);
	r->n = r->n_iov = 0;
	log_info("output: io_uring, up to %d writes a system call",
	         SERVER_RING);
	return r;
}

static void
server_ring_close(struct server_ring *r)
{
	if (r == NULL)
		return;
	io_uring_queue_exit(&r->ring);
	free(r);
}

/* Queue one write of the head of c's queue in the batch; false (nothing
 * queued) if the batch is full or c is not a plain socket with output. */
static bool
server_ring_queue(struct server_ring *r, struct conn *c)
{
	struct io_uring_sqe *sqe;
	struct msghdr *m;
	int room = SERVER_RING_IOV - r->n_iov, k;

	if (r->n == SERVER_RING || room == 0 || c->out.n == 0 || c->tls ||
	    c->tls_mode != TLS_PLAIN)
		return false;
	sqe = io_uring_get_sqe(&r->ring);
	if (sqe == NULL)
		return false;
	m = &r->msg[r->n];
	*m = (struct msghdr){ .msg_iov = r->iov + r->n_iov };
	k = outq_iov(&c->out, m->msg_iov,
	             room < SERVER_IOV ? room : SERVER_IOV);
	m->msg_iovlen = (size_t)k;
	r->want[r->n] = 0;
	for (int i = 0; i < k; i++)
		r->want[r->n] += m->msg_iov[i].iov_len;
	/* MSG_DONTWAIT: a full socket completes with -EAGAIN at once, as a
	 * send() would, instead of waiting in the kernel for room. */
	if (k == 1)
		io_uring_prep_send(sqe, c->fd, m->msg_iov[0].iov_base,
		                   m->msg_iov[0].iov_len,
		                   MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		io_uring_prep_sendmsg(sqe, c->fd, m,
		                      MSG_DONTWAIT | MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (uint64_t)r->n);
	r->conn[r->n++] = c;
	r->n_iov += k;
	return true;
}

/* Submit the batch and wait until every write in it has completed;
 * false if io_uring itself failed (logged). */
static bool
server_ring_wait(struct server_ring *r)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen;
	int got = 0, e;

	memset(r->done, 0, sizeof(r->done));
	do
		e = io_uring_submit_and_wait(&r->ring, (unsigned)r->n);
	while (e == -EINTR);
	if (e < 0) {
		log_error("io_uring_enter: %s", strerror(-e));
		return false;
	}
	for (;;) {
		seen = 0;
		io_uring_for_each_cqe(&r->ring, head, cqe)
		{
			uint64_t i = io_uring_cqe_get_data64(cqe);

			if (i < (uint64_t)r->n && !r->done[i]) {
				r->res[i] = cqe->res;
				r->done[i] = true;
				got++;
			}
			seen++;
		}
		io_uring_cq_advance(&r->ring, seen);
		if (got == r->n)
			return true;
		e = io_uring_wait_cqe(&r->ring, &cqe);
		if (e < 0 && e != -EINTR) {
			log_error("io_uring_enter: %s", strerror(-e));
			return false;
		}
	}
}

/* Write the batch and apply each result as server_flush() would.  Should
 * io_uring itself fail, the connections it did not answer for keep their
 * output and wait for EPOLLOUT, and the hub goes on without it. */
static void
server_ring_run(struct server *s)
{
	struct server_ring *r = s->ring;
	bool ok;

	if (r->n == 0)
		return;
	ok = server_ring_wait(r);
	for (int i = 0; i < r->n; i++) {
		struct conn *c = r->conn[i];
		int32_t res = r->res[i];
		bool more = false;

		if (c->closing)
			continue; /* by an earlier result: its queue is gone */
		if (r->done[i] && res == -EINTR)
			more = true;
		else if (r->done[i])
			more = server_wrote(s, c, res < 0 ? -1 : res,
			                    res < 0 ? -res : 0, r->want[i]);
		if (c->in_dirty || c->closing)
			continue; /* more came meanwhile: it comes round again
			           */
		if (more && c->out.n > 0)
			server_flush(s, c); /* the rest of a long queue */
		else
			server_watch(s, c, c->out.n > 0);
	}
	r->n = r->n_iov = 0;
	if (!ok) {
		log_error("output: one system call a write from now on");
		server_ring_close(r);
		s->ring = NULL;
	}
}

static void
server_watch(struct server *s, struct conn *c, bool want_write)
{
	if (c->server_wr == want_write)
		return;
	if (ipk_loop_watch(s->loop, c->fd,
	                   IPK_READ | (want_write ? IPK_WRITE : 0),
	                   server_on_conn, c) == 0)
		c->server_wr = want_write;
}

static void
server_unlinger(struct server *s, int i)
{
	ipk_loop_unwatch(s->loop, s->linger[i].fd);
	close(s->linger[i].fd);
	s->linger[i] = s->linger[--s->n_linger];
}

static void
server_on_linger(struct ipk_loop *loop, int fd, unsigned events, void *arg)
{
	struct server *s = arg;
	ssize_t n;

	(void)loop;
	(void)events;
	n = read(fd, s->rbuf, SERVER_READ_BYTES);
	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	for (int i = 0; i < s->n_linger; i++)
		if (s->linger[i].fd == fd) {
			server_unlinger(s, i);
			return;
		}
}

static void
server_expire_lingers(struct server *s, bool all)
{
	long long now = ipk_loop_now_ms(s->loop);

	for (int i = s->n_linger - 1; i >= 0; i--)
		if (all || now >= s->linger[i].until_ms)
			server_unlinger(s, i);
}

static void
server_close_conn(struct server *s, struct conn *c)
{
	if (c->flush_on_close && c->out.n > 0)
		server_flush(s, c); /* one try: it is leaving */
	if (c->tls) {
		if (c->tls_mode == TLS_READY)
			SSL_shutdown(c->tls); /* close_notify, no waiting */
		SSL_free(c->tls);
		c->tls = NULL;
		ERR_clear_error();
	}
	if (c->flush_on_close && s->n_linger < SERVER_LINGER &&
	    shutdown(c->fd, SHUT_WR) == 0 &&
	    ipk_loop_watch(s->loop, c->fd, IPK_READ, server_on_linger, s) ==
	            0) {
		s->linger[s->n_linger++] =
		        (struct lingering){ c->fd, ipk_loop_now_ms(s->loop) +
			                                   SERVER_LINGER_MS };
	} else {
		ipk_loop_unwatch(s->loop, c->fd);
		close(c->fd);
	}
	hub_conn_free(s->hub, c);
}

static void
server_flush_all(struct ipk_loop *loop, void *arg)
{
	struct server *s = arg;
	struct conn *c;

	(void)loop;
	s->flush_pending = false;
	/* Plain sockets' writes gather in the io_uring batch.  Any other
	 * write waits until the batch has gone and its results are in: a
	 * failed write closes connections (and users_drop_slow() more), which
	 * must not happen to those whose write is in flight.  So while the
	 * batch is being filled nothing calls into the hub, and no connection
	 * comes off the dirty list twice. */
	while ((c = hub_take_dirty(s->hub)) != NULL) {
		if (c->closing)
			continue;
		if (s->ring && c->out.n > 0) {
			if (server_ring_queue(s->ring, c))
				continue;
			server_ring_run(s); /* full, or c is TLS */
			if (c->closing || c->in_dirty)
				continue; /* or it comes round again */
			if (s->ring && server_ring_queue(s->ring, c))
				continue;
		}
		server_flush(s, c);
	}
	if (s->ring)
		server_ring_run(s);
	while ((c = hub_take_dead(s->hub)) != NULL)
		server_close_conn(s, c);
}

/* With TLS on, the first byte decides: 0x16 starts a TLS handshake. */
static void
server_detect(struct server *s, struct conn *c)
{
	unsigned char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		hub_conn_gone(s->hub, c,
		              n == 0 ? "connection closed by peer"
		                     : strerror(errno));
		return;
	}
	if (b != 0x16) {
		c->tls_mode = TLS_PLAIN;
		if (s->cfg.tls_require) {
			conn_sta(c, 240,
			         "This hub requires TLS: connect to "
			         "adcs://",
			         NULL);
			conn_close(c, "plain ADC refused (tls_require)", true,
			           true);
		}
		return;
	}
	c->tls = SSL_new(s->tls_ctx);
	if (c->tls == NULL || SSL_set_fd(c->tls, c->fd) != 1) {
		server_tls_failed(s, c, "setup", 0);
		return;
	}
	c->tls_mode = TLS_HANDSHAKE;
}

static void
server_read_tls(struct server *s, struct conn *c)
{
	if (c->tls_mode == TLS_HANDSHAKE) {
		int r = SSL_accept(c->tls), e;

		if (r != 1) {
			e = SSL_get_error(c->tls, r);
			if (e == SSL_ERROR_WANT_READ)
				server_watch(s, c, false);
			else if (e == SSL_ERROR_WANT_WRITE)
				server_watch(s, c, true);
			else
				server_tls_failed(s, c, "handshake", e);
			return;
		}
		c->tls_mode = TLS_READY;
		server_watch(s, c, c->out.n > 0);
	}
	/* Records already decrypted inside OpenSSL do not make the socket
	 * readable again: read until it wants more from the socket. */
	for (int i = 0; i < 64 && !c->closing; i++) {
		int n = SSL_read(c->tls, s->rbuf, SERVER_READ_BYTES), e;

		if (n > 0) {
			hub_input(s->hub, c, s->rbuf, (size_t)n);
			continue;
		}
		e = SSL_get_error(c->tls, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			break;
		if (e == SSL_ERROR_ZERO_RETURN)
			hub_conn_gone(s->hub, c, "connection closed by peer");
		else
			server_tls_failed(s, c, "read", e);
		break;
	}
	if (!c->closing && c->tls_retry)
		server_flush(s, c); /* a write that waited for a read */
}

static void
server_on_conn(struct ipk_loop *loop, int fd, unsigned events, void *arg)
{
	struct conn *c = arg;
	struct server *s = c->hub->ops_arg;

	(void)loop;
	if (c->closing || c->fd != fd)
		return;
	if (c->tls_mode == TLS_UNKNOWN && (events & IPK_READ))
		server_detect(s, c);
	if (c->closing || c->tls_mode == TLS_UNKNOWN)
		return;
	if (c->tls && (events & (IPK_READ | IPK_WRITE)) &&
	    c->tls_mode == TLS_HANDSHAKE) {
		server_read_tls(s, c);
		return;
	}
	if (events & IPK_READ) {
		if (c->tls) {
			server_read_tls(s, c);
		} else {
			ssize_t n = read(fd, s->rbuf, SERVER_READ_BYTES);

			if (n > 0) {
				hub_input(s->hub, c, s->rbuf, (size_t)n);
			} else if (n == 0) {
				hub_conn_gone(s->hub, c,
				              "connection closed by peer");
			} else if (errno != EAGAIN && errno != EINTR) {
				char why[96];

				snprintf(why, sizeof(why), "read: %s",
				         strerror(errno));
				hub_conn_gone(s->hub, c, why);
			}
		}
	}
	if ((events & IPK_WRITE) && !c->closing)
		server_flush(s, c);
}

static void
server_on_listen(struct ipk_loop *loop, int lfd, unsigned events, void *arg)
{
	struct server *s = arg;

	(void)loop;
	(void)events;
	for (int i = 0; i < SERVER_ACCEPTS; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int one = 1, fd;
		struct conn *c;

		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		             SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Out of descriptors: accept with the spare
				 * and close at once, or the listener stays
				 * readable and the loop spins. */
				log_warn("accept: %s (raise the open file "
				         "limit)",
				         strerror(errno));
				if (s->spare_fd >= 0) {
					close(s->spare_fd);
					fd = accept(lfd, NULL, NULL);
					if (fd >= 0)
						close(fd);
					s->spare_fd =
					        open("/dev/null",
					             O_RDONLY | O_CLOEXEC);
				}
			} else if (errno != EAGAIN && errno != EINTR &&
			           errno != ECONNABORTED) {
				log_warn("accept: %s", strerror(errno));
			}
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		hub_set_now(s->hub, ipk_loop_now_ms(s->loop));
		c = hub_conn_new(s->hub, (struct sockaddr *)&ss, len);
		if (c == NULL) {
			static const char full[] = "ISTA 211 Hub\\sis\\sfull\n";

			if (write(fd, full, sizeof(full) - 1) < 0) {
				/* closing anyway */
			}
			close(fd);
			continue;
		}
		c->fd = fd;
		c->tls_mode = s->tls_ctx ? TLS_UNKNOWN : TLS_PLAIN;
		if (ipk_loop_watch(s->loop, fd, IPK_READ, server_on_conn, c) !=
		    0) {
			conn_close(c, "cannot watch the socket", false, true);
			continue;
		}
	}
}

static void
server_on_tick(struct ipk_loop *loop, void *arg)
{
	struct server *s = arg;

	hub_tick(s->hub, ipk_loop_now_ms(loop));
	server_expire_lingers(s, false);
	ipk_timer_start(loop, &s->tick, 1000);
}

static void
server_stop(struct ipk_loop *loop, void *arg)
{
	(void)arg;
	ipk_loop_stop(loop);
}

static void
server_on_signal(struct ipk_loop *loop, int signo, void *arg)
{
	struct server *s = arg;
	char msg[512];

	if (signo == SIGHUP) {
		log_info("SIGHUP: reloading %s", s->opts->config_path
		                                         ? s->opts->config_path
		                                         : "(no config file)");
		server_reload(s, msg, sizeof(msg));
		return;
	}
	if (s->hub->shutting_down)
		return;
	log_info("%s: shutting down, telling %u users",
	         signo == SIGTERM ? "SIGTERM" : "SIGINT", s->hub->n_online);
	if (s->lfd >= 0) {
		ipk_loop_unwatch(loop, s->lfd);
		close(s->lfd);
		s->lfd = -1;
	}
	hub_shutdown(s->hub, signo == SIGTERM
	                             ? "Hub is shutting down (SIGTERM)"
	                             : "Hub is shutting down (SIGINT)");
	server_wake(s);
	/* After the flush that the shutdown queued. */
	ipk_loop_defer(loop, server_stop, s);
}

/* "host:port" or "[v6]:port" into a bound, listening socket. */
static int
server_listen(const char *addr, char *err, size_t cap)
{
	char host[256];
	const char *port, *colon = strrchr(addr, ':');
	struct addrinfo hints = { 0 }, *res = NULL;
	int fd = -1, one = 1, rc;
	size_t hl;

	if (colon == NULL) {
		snprintf(err, cap, "listen %s: expected HOST:PORT", addr);
		return -1;
	}
	port = colon + 1;
	hl = (size_t)(colon - addr);
	if (hl >= 2 && addr[0] == '[' && addr[hl - 1] == ']') {
		addr++;
		hl -= 2;
	}
	if (hl >= sizeof(host)) {
		snprintf(err, cap, "listen: host too long");
		return -1;
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(hl ? host : NULL, port, &hints, &res);
	if (rc != 0) {
		snprintf(err, cap, "listen %s: %s", colon - hl,
		         gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 ||
	    listen(fd, 4096) != 0) {
		snprintf(err, cap, "listen %s: %s", host[0] ? host : "*",
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

static void
server_address(int fd, char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (void *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
			port = ntohs(in->sin_port);
			snprintf(out, cap, "%s:%u", ip, port);
			return;
		}
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (void *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(out, cap, "[%s]:%u", ip, port);
}

static void
server_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
server_run(const struct server_opts *o)
{
	struct server s = { .opts = o, .lfd = -1, .spare_fd = -1 };
	char err[1024], addr[128], key[4096];
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	server_raise_nofile();
	/* A fixed mmap threshold: glibc's sliding one would move user lists
	 * (hundreds of kB, short-lived) into the heap, where they fragment
	 * it and idle memory stays high after a login storm. */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	tiger_init_library();
	if (server_load_config(o, &s.cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "ipckit hub: %s\n", err);
		config_fini(&s.cfg);
		return 2;
	}
	snprintf(key, sizeof(key), "%s", s.cfg.key_file ? s.cfg.key_file : "");
	if (!key[0])
		snprintf(key, sizeof(key), "%s.key", s.cfg.db);
	if (store_open(&s.store, s.cfg.db, key, true, err, sizeof(err)) != 0) {
		fprintf(stderr, "ipckit hub: %s\n", err);
		goto out;
	}
	if (s.cfg.tls || s.cfg.tls_require) {
		char cert[4096], tkey[4096];

		snprintf(cert, sizeof(cert), "%s",
		         s.cfg.tls_cert ? s.cfg.tls_cert : "");
		if (!cert[0])
			snprintf(cert, sizeof(cert), "%s.crt", s.cfg.db);
		snprintf(tkey, sizeof(tkey), "%s",
		         s.cfg.tls_key ? s.cfg.tls_key : "");
		if (!tkey[0])
			snprintf(tkey, sizeof(tkey), "%s.tls.key", s.cfg.db);
		s.tls_ctx = tls_ctx_new(cert, tkey, s.cfg.name, s.keyprint,
		                        sizeof(s.keyprint), err, sizeof(err));
		if (s.tls_ctx == NULL) {
			fprintf(stderr, "ipckit hub: %s\n", err);
			goto out;
		}
	}
	s.lfd = server_listen(s.cfg.listen, err, sizeof(err));
	if (s.lfd < 0) {
		fprintf(stderr, "ipckit hub: %s\n", err);
		goto out;
	}
	if (ipk_loop_new(&s.loop) != 0) {
		fprintf(stderr, "ipckit hub: cannot create the event loop\n");
		goto out;
	}
	s.rbuf = xmalloc(SERVER_READ_BYTES);
	s.ring = server_ring_open();
	s.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s.hub = hub_new(&s.cfg, s.store, &server_ops, &s);
	hub_set_now(s.hub, ipk_loop_now_ms(s.loop));
	if (ipk_loop_watch(s.loop, s.lfd, IPK_READ, server_on_listen, &s) !=
	            0 ||
	    ipk_loop_signal(s.loop, SIGHUP, server_on_signal, &s) != 0 ||
	    ipk_loop_signal(s.loop, SIGTERM, server_on_signal, &s) != 0 ||
	    ipk_loop_signal(s.loop, SIGINT, server_on_signal, &s) != 0) {
		fprintf(stderr, "ipckit hub: cannot set up the event loop\n");
		goto out;
	}
	ipk_timer_init(&s.tick, server_on_tick, &s);
	ipk_timer_start(s.loop, &s.tick, 1000);
	server_address(s.lfd, addr, sizeof(addr));
	log_info("listening on adc://%s (db %s, %s)", addr, s.cfg.db,
	         s.cfg.registered_only ? "registered users only"
	                               : "guests welcome");
	if (s.tls_ctx)
		log_info("TLS on the same port%s: adcs://%s/?kp=%s",
		         s.cfg.tls_require ? " (required)" : "", addr,
		         s.keyprint);
	if (o->ready_fd >= 0) {
		char line[160];
		int n = snprintf(line, sizeof(line), "ready adc://%s\n", addr);

		if (write(o->ready_fd, line, (size_t)n) != n)
			log_warn("--ready-fd %d: %s", o->ready_fd,
			         strerror(errno));
		close(o->ready_fd);
	}
	if (ipk_loop_run(s.loop) != 0) {
		log_error("event loop failed: %s", strerror(errno));
		goto out;
	}
	server_expire_lingers(&s, true);
	log_info("stopped");
	rc = 0;
out:
	if (s.hub) {
		struct conn *c;

		for (uint32_t i = 0; i < s.hub->sid_cap; i++) {
			c = s.hub->sids[i];
			if (c == NULL)
				continue;
			SSL_free(c->tls);
			c->tls = NULL;
			if (c->fd >= 0)
				close(c->fd);
		}
		while ((c = hub_take_dead(s.hub)) != NULL) {
			SSL_free(c->tls);
			close(c->fd);
			hub_conn_free(s.hub, c);
		}
		hub_free(s.hub);
	}
	if (s.lfd >= 0)
		close(s.lfd);
	if (s.spare_fd >= 0)
		close(s.spare_fd);
	ipk_loop_free(s.loop);
	server_ring_close(s.ring);
	tls_ctx_free(s.tls_ctx);
	store_close(s.store);
	config_fini(&s.cfg);
	free(s.rbuf);
	return rc;
}
