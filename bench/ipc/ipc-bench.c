// SPDX-License-Identifier: MIT
/* ipc-bench.c - every ipckit scheme through the library, beside raw
 * syscall baselines for each mechanism and the peers nng and ZeroMQ, in
 * one run: one-way latency p50/p99 at 64 B and throughput at 64 B, 4 KiB
 * and 64 KiB, medians of several runs, then ratios.  docs/bench.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <zmq.h>

#include "ipcbench.h"
#include "ipckit.h"

static const size_t tput_sizes[] = { 64, 4096, 65536 };
#define N_SIZES  (sizeof(tput_sizes) / sizeof(tput_sizes[0]))
#define LAT_SIZE 64
#define MAX_ROWS 48

/* ---- raw baselines: the syscalls a mechanism is made of, no library ---- */

enum raw_kind {
	RAW_PIPE,
	RAW_PIPE_LOCKED, /* packet mode, each read() inside an OFD lock */
	RAW_UNIX,
	RAW_TCP,
	RAW_SYSV,
	RAW_PMQ,
	RAW_FUTEX,
	RAW_EVENTFD,
	RAW_SPIN,
};

struct raw {
	enum raw_kind kind;
	/* pipe and posix mq: poll() (5 s) before each read, as a receive
	 * with a deadline must where the mechanism has no timeout of its own
	 * on the monotonic clock. */
	bool polled;
	size_t size;   /* message size of the coming measurement */
	int side;      /* after attach */
	int pfd[2][2]; /* pipes, one per direction: [dir][read, write] */
	int sp[2];     /* a connected pair: side 0's fd, side 1's fd */
	int lfd;       /* tcp listener */
	int port;
	int q[2];    /* System V queues, one per direction */
	mqd_t mq[2]; /* POSIX queues */
	char mqname[2][64];
	long mq_size;
	int efd[2];              /* eventfds */
	_Atomic uint32_t *words; /* futex/spin: one word per direction */
	uint32_t seq, last;
	struct {
		long mtype;
		unsigned char data[65536];
	} * mbuf;
};

static void
raw_closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static long
proc_long(const char *path, long dflt)
{
	FILE *f = fopen(path, "r");
	long v = dflt;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

static int
raw_prepare(void *ctx, bool duplex)
{
	struct raw *r = ctx;
	static unsigned counter;

	(void)duplex;
	r->pfd[0][0] = r->pfd[0][1] = r->pfd[1][0] = r->pfd[1][1] = -1;
	r->sp[0] = r->sp[1] = r->lfd = r->efd[0] = r->efd[1] = -1;
	r->q[0] = r->q[1] = -1;
	r->mq[0] = r->mq[1] = (mqd_t)-1;
	r->words = NULL;
	r->seq = r->last = 0;
	switch (r->kind) {
	case RAW_PIPE:
		if (pipe(r->pfd[0]) || pipe(r->pfd[1]))
			return -errno;
		return 0;
	case RAW_PIPE_LOCKED:
		if (pipe2(r->pfd[0], O_DIRECT) || pipe2(r->pfd[1], O_DIRECT))
			return -errno;
		return 0;
	case RAW_UNIX:
		return socketpair(AF_UNIX, SOCK_STREAM, 0, r->sp) ? -errno : 0;
	case RAW_TCP: {
		struct sockaddr_in a = { .sin_family = AF_INET,
			                 .sin_addr.s_addr =
			                         htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(a);

		r->lfd = socket(AF_INET, SOCK_STREAM, 0);
		if (r->lfd < 0 || bind(r->lfd, (struct sockaddr *)&a, len) ||
		    listen(r->lfd, 4) ||
		    getsockname(r->lfd, (struct sockaddr *)&a, &len))
			return -errno;
		r->port = ntohs(a.sin_port);
		return 0;
	}
	case RAW_SYSV:
		for (int i = 0; i < 2; i++) {
			r->q[i] = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
			if (r->q[i] < 0)
				return -errno;
		}
		return 0;
	case RAW_PMQ: {
		long max = proc_long("/proc/sys/fs/mqueue/msgsize_max", 8192);
		struct mq_attr at = { .mq_maxmsg = 10 };

		r->mq_size = (long)r->size < max ? (long)r->size : max;
		at.mq_msgsize = r->mq_size;
		for (int i = 0; i < 2; i++) {
			snprintf(r->mqname[i], sizeof(r->mqname[i]),
			         "/ipk-bench-raw-%ld-%u", (long)getpid(),
			         counter++);
			r->mq[i] =
			        mq_open(r->mqname[i], O_RDWR | O_CREAT | O_EXCL,
			                0600, &at);
			if (r->mq[i] == (mqd_t)-1)
				return -errno;
		}
		return 0;
	}
	case RAW_EVENTFD:
		for (int i = 0; i < 2; i++) {
			r->efd[i] = eventfd(0, 0);
			if (r->efd[i] < 0)
				return -errno;
		}
		return 0;
	case RAW_FUTEX:
	case RAW_SPIN:
		r->words = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (r->words == MAP_FAILED) {
			r->words = NULL;
			return -errno;
		}
		return 0;
	}
	return -EINVAL;
}

static size_t
raw_max(void *ctx)
{
	struct raw *r = ctx;

	if (r->kind == RAW_SYSV)
		return (size_t)proc_long("/proc/sys/kernel/msgmax", 8192);
	if (r->kind == RAW_PMQ)
		return (size_t)r->mq_size;
	return SIZE_MAX;
}

static int
raw_attach(void *ctx, int side)
{
	struct raw *r = ctx;
	int one = 1;

	r->side = side;
	switch (r->kind) {
	case RAW_PIPE:
	case RAW_PIPE_LOCKED:
		/* Direction d goes from side d to side !d. */
		raw_closefd(&r->pfd[side][0]);
		raw_closefd(&r->pfd[!side][1]);
		if (r->kind == RAW_PIPE_LOCKED) {
			/* A write lock needs a description open for writing,
			 * as a FIFO channel's is. */
			char path[64];
			int fd;

			snprintf(path, sizeof(path), "/proc/self/fd/%d",
			         r->pfd[!side][0]);
			fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			if (fd < 0)
				return -errno;
			close(r->pfd[!side][0]);
			r->pfd[!side][0] = fd;
		}
		break;
	case RAW_UNIX:
		raw_closefd(&r->sp[!side]);
		break;
	case RAW_TCP:
		if (side == 0) {
			r->sp[0] = accept(r->lfd, NULL, NULL);
		} else {
			struct sockaddr_in a = {
				.sin_family = AF_INET,
				.sin_port = htons((uint16_t)r->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)
			};

			r->sp[1] = socket(AF_INET, SOCK_STREAM, 0);
			if (r->sp[1] >= 0 &&
			    connect(r->sp[1], (struct sockaddr *)&a,
			            sizeof(a)) != 0)
				raw_closefd(&r->sp[1]);
		}
		raw_closefd(&r->lfd);
		if (r->sp[side] < 0)
			return -errno;
		setsockopt(r->sp[side], IPPROTO_TCP, TCP_NODELAY, &one,
		           sizeof(one));
		break;
	case RAW_SYSV:
		r->mbuf = malloc(sizeof(*r->mbuf));
		if (r->mbuf == NULL)
			return -ENOMEM;
		r->mbuf->mtype = 1;
		break;
	default:
		break;
	}
	return 0;
}

static int
write_all(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One packet from a packet-mode pipe as every FIFO receiver takes it: a
 * nonblocking read() under an exclusive OFD lock, poll() while there is
 * none.  The floor of ipckit's multi-receiver protocol. */
static ssize_t
read_locked(int fd, void *buf, size_t len)
{
	for (;;) {
		struct flock fl = { .l_type = F_WRLCK,
			            .l_whence = SEEK_SET,
			            .l_start = 1,
			            .l_len = 1 };
		struct pollfd in = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int e;

		if (fcntl(fd, F_OFD_SETLKW, &fl) != 0)
			return -1;
		n = read(fd, buf, len);
		e = errno;
		fl.l_type = F_UNLCK;
		(void)fcntl(fd, F_OFD_SETLK, &fl);
		if (n >= 0 || e != EAGAIN) {
			errno = e;
			return n;
		}
		if (poll(&in, 1, -1) < 0 && errno != EINTR)
			return -1;
	}
}

/* Wait for fd to be readable, as a bounded receive does: 0, or -errno
 * (-ETIMEDOUT after the bench's 5 s). */
static int
wait_readable(int fd)
{
	struct pollfd in = { .fd = fd, .events = POLLIN };
	int n;

	while ((n = poll(&in, 1, 5000)) < 0)
		if (errno != EINTR)
			return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

enum read_how { READ_PLAIN, READ_LOCKED, READ_POLLED };

static int
read_all(int fd, void *buf, size_t len, enum read_how how)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n;
		int err;

		if (how == READ_POLLED && (err = wait_readable(fd)) != 0)
			return err;
		n = how == READ_LOCKED ? read_locked(fd, p, len)
		                       : read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static long
futex(_Atomic uint32_t *w, int op, uint32_t v)
{
	return syscall(SYS_futex, w, op, v, NULL, NULL, 0);
}

static ssize_t
raw_send(void *ctx, const void *buf, size_t len, bool more)
{
	struct raw *r = ctx;
	const unsigned char *b = buf;
	int fd, err = 0;

	(void)more;
	switch (r->kind) {
	case RAW_PIPE:
	case RAW_PIPE_LOCKED:
		err = write_all(r->pfd[r->side][1], buf, len);
		break;
	case RAW_UNIX:
	case RAW_TCP:
		fd = r->sp[r->side];
		err = write_all(fd, buf, len);
		break;
	case RAW_SYSV:
		memcpy(r->mbuf->data, buf, len);
		while (msgsnd(r->q[r->side], r->mbuf, len, 0) != 0)
			if (errno != EINTR)
				return -errno;
		break;
	case RAW_PMQ:
		while (mq_send(r->mq[r->side], buf, len, 0) != 0)
			if (errno != EINTR)
				return -errno;
		break;
	case RAW_EVENTFD: {
		uint64_t v = (uint64_t)b[0] + 1;

		if (write(r->efd[r->side], &v, sizeof(v)) != sizeof(v))
			return -errno;
		break;
	}
	case RAW_FUTEX:
	case RAW_SPIN: {
		_Atomic uint32_t *w = &r->words[r->side * 32];

		r->seq++;
		atomic_store(w, (r->seq << 1) | (b[0] & 1));
		if (r->kind == RAW_FUTEX)
			futex(w, FUTEX_WAKE, 1);
		break;
	}
	}
	return err ? err : (ssize_t)len;
}

static ssize_t
raw_recv(void *ctx, void *buf, size_t cap)
{
	struct raw *r = ctx;
	unsigned char *b = buf;
	int err = 0, in = !r->side;
	ssize_t n;

	switch (r->kind) {
	case RAW_PIPE:
	case RAW_PIPE_LOCKED:
		err = read_all(r->pfd[in][0], buf, cap,
		               r->kind == RAW_PIPE_LOCKED ? READ_LOCKED
		               : r->polled                ? READ_POLLED
		                                          : READ_PLAIN);
		break;
	case RAW_UNIX:
	case RAW_TCP:
		err = read_all(r->sp[r->side], buf, cap, READ_PLAIN);
		break;
	case RAW_SYSV:
		while ((n = msgrcv(r->q[in], r->mbuf, cap, 0, 0)) < 0)
			if (errno != EINTR)
				return -errno;
		memcpy(buf, r->mbuf->data, (size_t)n);
		return n;
	case RAW_PMQ:
		/* A POSIX queue descriptor polls readable while a message is
		 * queued (Linux). */
		if (r->polled && (err = wait_readable((int)r->mq[in])) != 0)
			return err;
		while ((n = mq_receive(r->mq[in], buf, cap, NULL)) < 0)
			if (errno != EINTR)
				return -errno;
		return n;
	case RAW_EVENTFD: {
		uint64_t v;

		if (read(r->efd[in], &v, sizeof(v)) != sizeof(v))
			return -errno;
		b[0] = (unsigned char)(v - 1);
		return (ssize_t)cap;
	}
	case RAW_FUTEX:
	case RAW_SPIN: {
		_Atomic uint32_t *w = &r->words[in * 32];
		uint32_t v;

		while ((v = atomic_load(w)) == r->last) {
			if (r->kind == RAW_FUTEX)
				futex(w, FUTEX_WAIT, r->last);
			else
				__builtin_ia32_pause();
		}
		r->last = v;
		b[0] = v & 1;
		return (ssize_t)cap;
	}
	}
	return err ? err : (ssize_t)cap;
}

static void
raw_detach(void *ctx, int side)
{
	struct raw *r = ctx;

	(void)side;
	free(r->mbuf);
	r->mbuf = NULL;
}

static void
raw_cleanup(void *ctx)
{
	struct raw *r = ctx;

	for (int i = 0; i < 2; i++) {
		raw_closefd(&r->pfd[i][0]);
		raw_closefd(&r->pfd[i][1]);
		raw_closefd(&r->sp[i]);
		raw_closefd(&r->efd[i]);
		if (r->q[i] >= 0)
			msgctl(r->q[i], IPC_RMID, NULL);
		r->q[i] = -1;
		if (r->mq[i] != (mqd_t)-1) {
			mq_close(r->mq[i]);
			mq_unlink(r->mqname[i]);
		}
		r->mq[i] = (mqd_t)-1;
	}
	raw_closefd(&r->lfd);
	if (r->words)
		munmap(r->words, 4096);
	r->words = NULL;
}

/* ---- peers: nng and ZeroMQ, PAIR sockets ---- */

static unsigned url_counter;

static int
free_tcp_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

struct peer {
	bool zmq, tcp;
	char url[160];
	char path[128]; /* ipc:// socket file, removed by cleanup */
	nng_socket ns;
	void *zctx, *zsock;
};

static int
peer_prepare(void *ctx, bool duplex)
{
	struct peer *p = ctx;

	(void)duplex;
	p->path[0] = '\0';
	if (p->tcp) {
		int port = free_tcp_port();

		if (port < 0)
			return -errno;
		snprintf(p->url, sizeof(p->url), "tcp://127.0.0.1:%d", port);
	} else {
		snprintf(p->path, sizeof(p->path),
		         "/tmp/ipk-bench-%s-%ld-%u.ipc", p->zmq ? "zmq" : "nng",
		         (long)getpid(), url_counter++);
		snprintf(p->url, sizeof(p->url), "ipc://%s", p->path);
	}
	return 0;
}

static size_t
peer_max(void *ctx)
{
	(void)ctx;
	return SIZE_MAX;
}

static int
peer_attach(void *ctx, int side)
{
	struct peer *p = ctx;
	int rv;

	if (p->zmq) {
		int timeo = 5000, linger = 10000;

		p->zctx = zmq_ctx_new();
		p->zsock = p->zctx ? zmq_socket(p->zctx, ZMQ_PAIR) : NULL;
		if (p->zsock == NULL)
			return -errno;
		zmq_setsockopt(p->zsock, ZMQ_RCVTIMEO, &timeo, sizeof(timeo));
		zmq_setsockopt(p->zsock, ZMQ_LINGER, &linger, sizeof(linger));
		rv = side == 0 ? zmq_bind(p->zsock, p->url)
		               : zmq_connect(p->zsock, p->url);
		return rv == 0 ? 0 : -errno;
	}
	rv = nng_pair0_open(&p->ns);
	if (rv)
		return -EIO;
	/* nng's default buffers are zero-length: every message waits for a
	 * hand-off between its threads.  128 messages is a throughput
	 * configuration (docs/bench.md). */
	nng_socket_set_int(p->ns, NNG_OPT_SENDBUF, 128);
	nng_socket_set_int(p->ns, NNG_OPT_RECVBUF, 128);
	nng_socket_set_ms(p->ns, NNG_OPT_RECVTIMEO, 5000);
	nng_socket_set_size(p->ns, NNG_OPT_RECVMAXSZ, 0);
	rv = side == 0 ? nng_listen(p->ns, p->url, NULL, 0)
	               : nng_dial(p->ns, p->url, NULL, NNG_FLAG_NONBLOCK);
	return rv ? -EIO : 0;
}

static ssize_t
peer_send(void *ctx, const void *buf, size_t len, bool more)
{
	struct peer *p = ctx;

	(void)more;
	if (p->zmq) {
		int n = zmq_send(p->zsock, buf, len, 0);

		return n < 0 ? -errno : n;
	}
	return nng_send(p->ns, (void *)(uintptr_t)buf, len, 0) ? -EIO
	                                                       : (ssize_t)len;
}

static ssize_t
peer_recv(void *ctx, void *buf, size_t cap)
{
	struct peer *p = ctx;
	size_t sz = cap;

	if (p->zmq) {
		int n = zmq_recv(p->zsock, buf, cap, 0);

		return n < 0 ? -errno : n;
	}
	return nng_recv(p->ns, buf, &sz, 0) ? -ETIMEDOUT : (ssize_t)sz;
}

static void
peer_detach(void *ctx, int side)
{
	struct peer *p = ctx;

	(void)side;
	if (p->zmq) {
		zmq_close(p->zsock);
		zmq_ctx_term(p->zctx);
	} else {
		nng_close(p->ns);
	}
}

static void
peer_cleanup(void *ctx)
{
	struct peer *p = ctx;

	if (p->path[0])
		unlink(p->path);
}

/* ---- rows ---- */

enum row_group { G_LIB, G_RAW, G_PEER, G_MEM };

struct row {
	enum row_group group;
	char name[48];
	struct ipcbench_ops ops;
	struct ipcbench_ipk ipk;
	struct raw raw;
	struct peer peer;
	bool latency_only, tput_only;
	bool skip; /* filtered out */
	struct ipcbench_lat lat;
	struct ipcbench_tput tput[N_SIZES];
	/* Per successful round, for the medians; failed rounds counted. */
	double p50[64], p99[64], rate[N_SIZES][64], lost[N_SIZES][64];
	unsigned lat_ok, lat_failed, ok[N_SIZES], failed[N_SIZES];
};

static struct row rows[MAX_ROWS];
static unsigned n_rows;

static const struct row *
find(const char *name)
{
	for (unsigned i = 0; i < n_rows; i++)
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	return NULL;
}

static struct row *
row_new(enum row_group g, const char *name)
{
	struct row *r;

	if (n_rows == MAX_ROWS)
		return NULL;
	r = &rows[n_rows++];
	memset(r, 0, sizeof(*r));
	r->group = g;
	snprintf(r->name, sizeof(r->name), "%s", name);
	return r;
}

static struct row *
add_raw(const char *name, enum raw_kind kind, bool latency_only)
{
	struct row *r = row_new(G_RAW, name);

	if (r == NULL)
		return NULL;
	r->raw.kind = kind;
	r->latency_only = latency_only;
	r->ops = (struct ipcbench_ops){
		.name = r->name,
		.flags = latency_only ? IPCBENCH_LATENCY_ONLY : 0,
		.ctx = &r->raw,
		.prepare = raw_prepare,
		.max_msg = raw_max,
		.attach = raw_attach,
		.send = raw_send,
		.recv = raw_recv,
		.detach = raw_detach,
		.cleanup = raw_cleanup,
	};
	return r;
}

static void
add_peer(const char *name, bool zmq, bool tcp)
{
	struct row *r = row_new(G_PEER, name);

	if (r == NULL)
		return;
	r->peer.zmq = zmq;
	r->peer.tcp = tcp;
	r->ops = (struct ipcbench_ops){
		.name = r->name,
		.ctx = &r->peer,
		.prepare = peer_prepare,
		.max_msg = peer_max,
		.attach = peer_attach,
		.send = peer_send,
		.recv = peer_recv,
		.detach = peer_detach,
		.cleanup = peer_cleanup,
	};
}

/* The schemes that have raw rows, once more with timeout -1: the raw rows
 * block in the kernel without a deadline, and so do these. */
static const char *const wait_forever_labels[] = { "pipe",    "fifo", "sysvmq",
	                                           "posixmq", "unix", "tcp" };

static void
add_wait_forever_rows(void)
{
	for (size_t i = 0;
	     i < sizeof(wait_forever_labels) / sizeof(wait_forever_labels[0]);
	     i++) {
		const struct row *plain = find(wait_forever_labels[i]);
		const struct ipcbench_form *f;
		char name[48];
		struct row *r;

		if (plain == NULL)
			continue; /* not in this build */
		f = plain->ipk.form;
		snprintf(name, sizeof(name), "%s (wait -1)", f->label);
		r = row_new(G_LIB, name);
		if (r == NULL)
			return;
		ipcbench_ipk_ops(&r->ops, &r->ipk, f);
		r->ipk.wait_forever = true;
		r->ops.name = r->name;
	}
}

static void
add_rows(void)
{
	const char *const *schemes = ipk_scheme_list();

	/* Every scheme this build has, with every form the table knows. */
	for (size_t i = 0; schemes[i]; i++) {
		bool any = false;

		for (const struct ipcbench_form *f = ipcbench_forms; f->scheme;
		     f++) {
			struct row *r;

			if (strcmp(f->scheme, schemes[i]) != 0)
				continue;
			any = true;
			r = row_new(G_LIB, f->label);
			if (r == NULL)
				return;
			ipcbench_ipk_ops(&r->ops, &r->ipk, f);
			r->ops.name = r->name;
		}
		if (!any)
			fprintf(stderr,
			        "ipc-bench: no address form for scheme '%s'; "
			        "add one to ipcbench_forms[]\n",
			        schemes[i]);
	}
	add_wait_forever_rows();
	add_raw("raw pipe", RAW_PIPE, false);
	add_raw("raw pipe + poll", RAW_PIPE, false)->raw.polled = true;
	add_raw("raw locked pipe", RAW_PIPE_LOCKED, false);
	add_raw("raw unix stream", RAW_UNIX, false);
	add_raw("raw tcp", RAW_TCP, false);
	add_raw("raw sysv msgsnd", RAW_SYSV, false);
	add_raw("raw posix mq", RAW_PMQ, false);
	add_raw("raw posix mq + poll", RAW_PMQ, false)->raw.polled = true;
	add_raw("raw futex wake", RAW_FUTEX, true);
	add_raw("raw eventfd wake", RAW_EVENTFD, true);
	add_raw("raw cache line", RAW_SPIN, true);
	add_peer("nng ipc", false, false);
	add_peer("nng tcp", false, true);
	add_peer("zmq ipc", true, false);
	add_peer("zmq tcp", true, true);
	row_new(G_MEM, "memcpy 1 core")->tput_only = true;
}

/* Single-core memcpy: copies of each size per second, one round. */
static void
measure_memcpy(struct row *r, const struct ipcbench_cfg *cfg, unsigned k)
{
	for (size_t s = 0; s < N_SIZES; s++) {
		size_t size = tput_sizes[s];
		unsigned char *a = malloc(size), *b = malloc(size);

		if (a == NULL || b == NULL) {
			r->tput[s].err = -ENOMEM;
			free(a);
			free(b);
			continue;
		}
		memset(a, 1, size);
		memset(b, 2, size);
		{
			int64_t t0 = ipcbench_now_ns(), t1;
			uint64_t n = 0;

			do {
				for (int i = 0; i < 64; i++, n++) {
					memcpy(b, a, size);
					__asm__ __volatile__("" ::"r"(b)
					                     : "memory");
				}
				t1 = ipcbench_now_ns();
			} while (t1 - t0 < (int64_t)(cfg->seconds * 1e9));
			r->rate[s][k] = (double)n * 1e9 / (double)(t1 - t0);
		}
		free(a);
		free(b);
	}
}

/* Ctrl-C, SIGTERM, SIGHUP: the current run's two sides are killed and
 * what it made (queues, rings, FIFOs, sockets) removed by ipcbench; then
 * main stops.  Without this an interrupted run left its System V and
 * POSIX queues behind. */
static volatile sig_atomic_t stopping;

static void
on_stop_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static bool
stop_asked(void)
{
	return stopping != 0;
}

static int
catch_stop_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = on_stop_signal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			return -errno;
	return 0;
}

/* One round of one row: each figure once. */
static void
measure_round(struct row *r, const struct ipcbench_cfg *one, unsigned k)
{
	if (r->group == G_MEM) {
		measure_memcpy(r, one, r->lat_ok++);
		return;
	}
	(void)k;
	/* A size the mechanism refuses (n/a) is not tried again; any other
	 * failure (a timeout on a loaded machine) costs that round only. */
	if (!r->tput_only && r->lat.err != -EMSGSIZE) {
		struct ipcbench_lat l;

		r->raw.size = LAT_SIZE;
		ipcbench_latency(&r->ops, one, LAT_SIZE, &l);
		if (l.err) {
			r->lat.err = l.err;
			r->lat_failed += l.err != -EMSGSIZE;
		} else {
			r->p50[r->lat_ok] = l.p50_us;
			r->p99[r->lat_ok++] = l.p99_us;
		}
	}
	for (size_t s = 0; s < N_SIZES && !r->latency_only; s++) {
		struct ipcbench_tput t;

		if (r->tput[s].err == -EMSGSIZE)
			continue;
		r->raw.size = tput_sizes[s];
		ipcbench_throughput(&r->ops, one, tput_sizes[s], &t);
		if (t.err) {
			r->tput[s].err = t.err;
			r->failed[s] += t.err != -EMSGSIZE;
		} else {
			r->rate[s][r->ok[s]] = t.msgs_per_s;
			r->lost[s][r->ok[s]++] = t.lost;
		}
	}
}

static void
row_medians(struct row *r)
{
	if (r->group == G_MEM) {
		for (size_t s = 0; s < N_SIZES; s++)
			r->ok[s] =
			        r->lat_ok; /* memcpy counts its rounds there */
	}
	if (r->lat_ok) {
		r->lat.err = 0;
		r->lat.p50_us = ipcbench_median(r->p50, r->lat_ok);
		r->lat.p99_us = ipcbench_median(r->p99, r->lat_ok);
	}
	for (size_t s = 0; s < N_SIZES; s++) {
		if (r->ok[s] == 0)
			continue;
		r->tput[s].err = 0;
		r->tput[s].msgs_per_s = ipcbench_median(r->rate[s], r->ok[s]);
		r->tput[s].mb_per_s =
		        r->tput[s].msgs_per_s * (double)tput_sizes[s] / 1e6;
		r->tput[s].lost = ipcbench_median(r->lost[s], r->ok[s]);
	}
}

/* ---- output ---- */

static void
print_row(const struct row *r)
{
	char a[32], b[32];

	printf("%-20s", r->name);
	if (r->tput_only)
		printf(" %9s %9s", "-", "-");
	else if (r->lat.err)
		printf(" %9s %9s", ipcbench_err_cell(r->lat.err), "");
	else
		printf(" %9.2f %9.2f", r->lat.p50_us, r->lat.p99_us);
	for (size_t s = 0; s < N_SIZES; s++) {
		const struct ipcbench_tput *t = &r->tput[s];

		if (r->latency_only)
			printf("  %9s %8s", "-", "-");
		else if (t->err)
			printf("  %9s %8s", ipcbench_err_cell(t->err), "");
		else
			printf("  %9s %8s",
			       ipcbench_si(t->msgs_per_s, a, sizeof(a)),
			       ipcbench_si(t->mb_per_s, b, sizeof(b)));
	}
	if (!r->latency_only && !r->tput[0].err && r->tput[0].lost > 0.0005)
		printf("  (%.0f%% lost at 64 B)", r->tput[0].lost * 100);
	{
		unsigned f = r->group == G_MEM ? 0 : r->lat_failed;

		for (size_t s = 0; s < N_SIZES; s++)
			f += r->failed[s];
		if (f)
			printf("  (%u failed runs left out)", f);
	}
	printf("\n");
	fflush(stdout);
}

enum metric { M_LAT, M_T64, M_T4K, M_T64K };

static bool
metric(const struct row *r, enum metric m, double *v)
{
	if (r == NULL)
		return false;
	if (m == M_LAT) {
		*v = r->lat.p50_us;
		return !r->tput_only && !r->lat.err && r->lat.p50_us > 0;
	}
	*v = r->tput[m - M_T64].msgs_per_s;
	return !r->latency_only && !r->tput[m - M_T64].err && *v > 0;
}

static const char *const metric_names[] = { "latency p50", "64 B msgs/s",
	                                    "4 KiB msgs/s", "64 KiB msgs/s" };

/* "a vs b": for latency, how many times slower a is (lower is better);
 * for throughput, how many times faster. */
static void
ratio(const char *a, const char *b, enum metric m)
{
	double x, y;

	const struct row *ra = find(a), *rb = find(b);

	if (ra == NULL || rb == NULL || ra->skip || rb->skip ||
	    !metric(ra, m, &x) || !metric(rb, m, &y))
		return;
	printf("  %-17s vs %-19s %-14s %7.2fx %s\n", a, b, metric_names[m],
	       x / y, m == M_LAT ? "(time: lower is better)" : "(rate)");
}

static void
print_ratios(void)
{
	/* Each mechanism against the raw calls that do the same job: with a
	 * deadline (the library's default rows) and without (-1 and blocking
	 * calls); and the deadline rows against the raw blocking calls, for
	 * what a deadline costs on top. */
	static const char *const lib_raw[][2] = {
		{ "pipe", "raw pipe + poll" },
		{ "pipe (wait -1)", "raw pipe" },
		{ "pipe", "raw pipe" },
		{ "fifo", "raw locked pipe" },
		{ "fifo (wait -1)", "raw locked pipe" },
		{ "fifo", "raw pipe" },
		{ "sysvmq", "raw sysv msgsnd" },
		{ "sysvmq (wait -1)", "raw sysv msgsnd" },
		{ "posixmq", "raw posix mq + poll" },
		{ "posixmq (wait -1)", "raw posix mq" },
		{ "posixmq", "raw posix mq" },
		{ "unix", "raw unix stream" },
		{ "unix (wait -1)", "raw unix stream" },
		{ "tcp", "raw tcp" },
		{ "tcp (wait -1)", "raw tcp" },
	};
	static const char *const streams[] = { "pipe", "fifo", "unix", "tcp" };

	printf("\nratios (library vs raw; shm vs pipe; streams vs ZeroMQ):\n");
	for (size_t i = 0; i < sizeof(lib_raw) / sizeof(lib_raw[0]); i++)
		for (int m = M_LAT; m <= M_T64K; m++)
			ratio(lib_raw[i][0], lib_raw[i][1], (enum metric)m);
	ratio("shm (no spin)", "raw futex wake", M_LAT);
	ratio("shm (no spin)", "raw eventfd wake", M_LAT);
	ratio("shm", "raw cache line", M_LAT);
	for (int m = M_LAT; m <= M_T64K; m++)
		ratio("shm", find("pipe") ? "pipe" : "raw pipe",
		      (enum metric)m);
	ratio("shm", "zmq ipc", M_LAT);
	ratio("shm", "zmq ipc", M_T64);
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
		ratio(streams[i],
		      strcmp(streams[i], "tcp") == 0 ? "zmq tcp" : "zmq ipc",
		      M_T64);
	{
		const struct row *s = find("shm"), *mc = find("memcpy 1 core");

		if (s && mc && !s->skip && !mc->skip && !s->tput[2].err &&
		    !mc->tput[2].err && mc->tput[2].mb_per_s > 0)
			printf("  %-17s vs %-19s %-14s %7.2fx (bandwidth)\n",
			       "shm", "memcpy 1 core", "64 KiB MB/s",
			       s->tput[2].mb_per_s / mc->tput[2].mb_per_s);
	}
}

/* filter: comma-separated substrings of row names; NULL for all. */
static bool
row_wanted(const char *name, const char *filter)
{
	const char *p = filter;

	if (filter == NULL)
		return true;
	while (*p) {
		size_t n = strcspn(p, ",");
		char part[64];

		snprintf(part, sizeof(part), "%.*s", (int)n, p);
		if (n > 0 && strstr(name, part))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: ipc-bench [-r RUNS] [-t SECONDS] [-b BATCH] [-c none] "
	        "[-f LIST] [-l]\n"
	        "  -r RUNS     runs per figure, the median is shown (5)\n"
	        "  -t SECONDS  length of one throughput run (0.3)\n"
	        "  -b BATCH    throughput: send with IPK_MORE, flush every "
	        "BATCH (64; 1 = off)\n"
	        "  -c none     do not pin the two sides to CPUs 0 and 1\n"
	        "  -f LIST     only rows whose name contains one of the "
	        "comma-separated\n"
	        "              substrings in LIST (-l lists the rows)\n"
	        "  -l          list the rows and exit\n");
}

int
main(int argc, char **argv)
{
	struct ipcbench_cfg cfg, one;
	const char *filter = NULL;
	struct utsname u;
	double load[3] = { 0 };
	time_t now = time(NULL);
	char when[64];
	bool list = false;
	int c;

	ipcbench_cfg_default(&cfg);
	while ((c = getopt(argc, argv, "r:t:b:c:f:lh")) != -1) {
		switch (c) {
		case 'r':
			cfg.runs = (unsigned)atoi(optarg);
			break;
		case 't':
			cfg.seconds = atof(optarg);
			cfg.lat_seconds = cfg.seconds;
			break;
		case 'b':
			cfg.batch = (unsigned)atoi(optarg);
			break;
		case 'c':
			if (strcmp(optarg, "none") != 0) {
				usage(stderr);
				return 2;
			}
			cfg.cpu[0] = cfg.cpu[1] = -1;
			break;
		case 'f':
			filter = optarg;
			break;
		case 'l':
			list = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (cfg.runs < 1 || cfg.runs > 64 || cfg.seconds <= 0 ||
	    cfg.seconds > 60 || optind != argc) {
		usage(stderr);
		return 2;
	}
	add_rows();
	if (list) {
		for (unsigned i = 0; i < n_rows; i++)
			printf("%s\n", rows[i].name);
		return 0;
	}
	uname(&u);
	getloadavg(load, 3);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&now));
	printf("ipc-bench: %s, %s %s, %ld CPUs, load %.2f %.2f %.2f, "
	       "sides %s\n",
	       when, u.sysname, u.release, sysconf(_SC_NPROCESSORS_ONLN),
	       load[0], load[1], load[2],
	       cfg.cpu[0] >= 0 ? "pinned to CPUs 0 and 1" : "unpinned");
	printf("medians of %u runs; latency: one way (round trip / 2) at "
	       "%d B, us; throughput: %.1f s runs, library sends in "
	       "IPK_MORE batches of %u\n\n",
	       cfg.runs, LAT_SIZE, cfg.seconds, cfg.batch);
	/* Rounds outermost: every row is measured once per round, so that
	 * load from elsewhere spreads over all rows alike. */
	one = cfg;
	one.runs = 1;
	one.stop_cb = stop_asked;
	if (catch_stop_signals() != 0) {
		perror("ipc-bench: sigaction");
		return 1;
	}
	for (unsigned i = 0; i < n_rows; i++)
		rows[i].skip = !row_wanted(rows[i].name, filter);
	for (unsigned k = 0; k < cfg.runs; k++) {
		fprintf(stderr, "ipc-bench: round %u of %u\n", k + 1, cfg.runs);
		for (unsigned i = 0; i < n_rows && !stopping; i++)
			if (!rows[i].skip)
				measure_round(&rows[i], &one, k);
		if (stopping) {
			fprintf(stderr, "ipc-bench: interrupted; what the "
			                "runs made is removed\n");
			return 1;
		}
	}
	printf("%-20s %9s %9s  %18s  %18s  %18s\n", "", "lat p50", "p99",
	       "64 B msgs/s MB/s", "4 KiB msgs/s MB/s", "64 KiB msgs/s MB/s");
	for (unsigned i = 0; i < n_rows; i++) {
		if (rows[i].skip)
			continue;
		row_medians(&rows[i]);
		print_row(&rows[i]);
	}
	print_ratios();
	return 0;
}
