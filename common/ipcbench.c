// SPDX-License-Identifier: MIT
/* ipcbench.c - two processes, one endpoint pair: ping-pong latency and
 * one-way throughput, medians of several runs; and endpoints over ipckit
 * for any scheme with an address form. */
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipckit.h"

#include "ipcbench.h"

int64_t
ipcbench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
ipcbench_cfg_default(struct ipcbench_cfg *cfg)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	*cfg = (struct ipcbench_cfg){
		.runs = 5,
		.seconds = 0.3,
		.lat_iters = 20000,
		.lat_seconds = 0.3,
		.lat_warmup = 2000,
		.lat_min = 1000,
		.batch = 64,
		.cpu = { n >= 2 ? 0 : -1, n >= 2 ? 1 : -1 },
	};
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
ipcbench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

const char *
ipcbench_si(double v, char *buf, size_t cap)
{
	if (v >= 1e9)
		snprintf(buf, cap, "%.2fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, cap, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, cap, "%.1fk", v / 1e3);
	else if (v >= 10 || v == 0)
		snprintf(buf, cap, "%.0f", v);
	else
		snprintf(buf, cap, "%.2f", v);
	return buf;
}

const char *
ipcbench_err_cell(int err)
{
	return err == -EMSGSIZE ? "n/a" : "error";
}

static const struct {
	const char *suffix;
	size_t mult;
} size_units[] = {
	{ "", 1 },          { "b", 1 },           { "k", 1024 },
	{ "ki", 1024 },     { "kib", 1024 },      { "kb", 1000 },
	{ "m", 1 << 20 },   { "mi", 1 << 20 },    { "mib", 1 << 20 },
	{ "mb", 1000000 },  { "g", 1 << 30 },     { "gi", 1 << 30 },
	{ "gib", 1 << 30 }, { "gb", 1000000000 },
};

int
ipcbench_size_parse(const char *s, size_t max, size_t *out)
{
	unsigned long long v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (SIZE_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (unsigned)(*p - '0');
	}
	if (*p == ' ')
		p++; /* "64 KiB", as ipcbench_size_name() writes it */
	for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]);
	     i++) {
		if (strcasecmp(p, size_units[i].suffix) != 0)
			continue;
		if (v == 0 || v > max / size_units[i].mult)
			return -ERANGE;
		*out = (size_t)v * size_units[i].mult;
		return 0;
	}
	return -EINVAL;
}

const char *
ipcbench_size_name(size_t size, char *buf, size_t cap)
{
	if (size >= (1u << 30) && size % (1u << 30) == 0)
		snprintf(buf, cap, "%zu GiB", size >> 30);
	else if (size >= (1u << 20) && size % (1u << 20) == 0)
		snprintf(buf, cap, "%zu MiB", size >> 20);
	else if (size >= 1024 && size % 1024 == 0)
		snprintf(buf, cap, "%zu KiB", size >> 10);
	else
		snprintf(buf, cap, "%zu B", size);
	return buf;
}

static void
pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

/* What the two sides report, in a shared anonymous mapping. */
struct run_board {
	int err[2];
	int64_t t0;      /* side 0: just before the first message */
	int64_t t_end;   /* side 1: on the stop message */
	uint64_t count;  /* side 1: data messages received */
	uint64_t sent;   /* side 0: data messages sent */
	double p50, p99; /* side 0: one-way latency, us */
	unsigned samples;
	_Atomic int done1; /* side 1 has finished */
};

struct run {
	const struct ipcbench_ops *ops;
	const struct ipcbench_cfg *cfg;
	size_t size;
	bool lossy;
	struct run_board *b;
	unsigned char *buf; /* size bytes, in each side */
	int ready[2];       /* side 1 writes a byte once attached */
};

static bool
ops_lossy(const struct ipcbench_ops *ops)
{
	return (ops->flags & IPCBENCH_LOSSY) ||
	       (ops->lossy && ops->lossy(ops->ctx));
}

static int
run_wait_ready(struct run *r)
{
	struct pollfd q = { .fd = r->ready[0], .events = POLLIN };
	char c;
	int k;

	do
		k = poll(&q, 1, 10000);
	while (k < 0 && errno == EINTR);
	if (k != 1 || read(r->ready[0], &c, 1) != 1)
		return -ETIMEDOUT;
	return c == 'r' ? 0 : -EIO;
}

static pid_t
run_side(struct run *r, int side, void (*fn)(struct run *))
{
	const struct ipcbench_ops *ops = r->ops;
	pid_t pid = fork();
	int err;

	if (pid != 0)
		return pid;
	/* A parent killed outright (SIGKILL) takes its sides along, rather
	 * than leaving them to their 5-second timeouts. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	pin(r->cfg->cpu[side]);
	r->buf = calloc(1, r->size ? r->size : 1);
	err = r->buf ? ops->attach(ops->ctx, side) : -ENOMEM;
	/* A hello from side 0 to side 1 before anything is timed: peers
	 * that connect in the background (and retry after 100 ms) are up. */
	if (side == 1) {
		close(r->ready[0]);
		if (!err) {
			ssize_t n = ops->recv(ops->ctx, r->buf, r->size);

			err = n < 0 ? (int)n : 0;
		}
		r->b->err[side] = err;
		if (write(r->ready[1], err ? "e" : "r", 1) != 1)
			_exit(1);
	} else {
		close(r->ready[1]);
		if (!err) {
			ssize_t n;

			r->buf[0] = IPCBENCH_HELLO;
			n = ops->send(ops->ctx, r->buf, r->size, false);
			err = n < 0 ? (int)n : 0;
		}
		if (!err)
			err = run_wait_ready(r);
		r->b->err[side] = err;
	}
	if (!err)
		fn(r);
	if (side == 1) {
		atomic_store(&r->b->done1, 1);
	} else if (!r->b->err[0]) { /* after a failure, side 1 is killed */
		/* Peers that drop what is queued on close (nng) must not lose
		 * the stop message: side 1 is done before side 0 goes.  On a
		 * lossy channel every stop may be lost: not worth 5 s. */
		int64_t give_up = ipcbench_now_ns() +
		                  (r->lossy ? 250000000LL : 10000000000LL);

		while (!atomic_load(&r->b->done1) &&
		       ipcbench_now_ns() < give_up)
			usleep(1000);
	}
	ops->detach(ops->ctx, side);
	_exit(r->b->err[side] ? 1 : 0);
}

static bool
run_stopped(const struct run *r)
{
	return r->cfg->stop_cb && r->cfg->stop_cb();
}

/* Reap pid within the deadline, or kill it (on a stop too). */
static int
run_reap(const struct run *r, pid_t pid, int64_t deadline)
{
	int status = 0;
	pid_t k;

	while ((k = waitpid(pid, &status, WNOHANG)) == 0 ||
	       (k < 0 && errno == EINTR)) {
		bool stopped = run_stopped(r);

		if (stopped || ipcbench_now_ns() > deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return stopped ? -ECANCELED : -ETIMEDOUT;
		}
		usleep(1000);
	}
	if (k < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* Prepare, run side 0 and side 1 in two children, collect. */
static int
run(struct run *r, void (*fn0)(struct run *), void (*fn1)(struct run *),
    bool duplex, double seconds)
{
	const struct ipcbench_ops *ops = r->ops;
	int64_t deadline, grace;
	pid_t pid[2];
	int err, e0, e1;

	r->b = mmap(NULL, sizeof(*r->b), PROT_READ | PROT_WRITE,
	            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r->b == MAP_FAILED)
		return -errno;
	memset(r->b, 0, sizeof(*r->b));
	if (pipe(r->ready) != 0) {
		munmap(r->b, sizeof(*r->b));
		return -errno;
	}
	err = run_stopped(r) ? -ECANCELED : ops->prepare(ops->ctx, duplex);
	if (err)
		goto clean; /* what it made before failing goes too */
	if (r->size > ops->max_msg(ops->ctx)) {
		err = -EMSGSIZE;
		goto clean;
	}
	r->lossy = ops_lossy(ops);
	fflush(NULL);
	pid[1] = run_side(r, 1, fn1);
	pid[0] = pid[1] < 0 ? -1 : run_side(r, 0, fn0);
	close(r->ready[0]);
	close(r->ready[1]);
	r->ready[0] = r->ready[1] = -1;
	/* Side 0 ends by itself after its budget; side 1 on its stop. */
	deadline = ipcbench_now_ns() + (int64_t)((seconds + 30) * 1e9);
	e0 = pid[0] < 0 ? -errno : run_reap(r, pid[0], deadline);
	/* Side 1 waits for side 0's messages: once side 0 failed (a size
	 * the mechanism refuses shows only when sending), waiting for its
	 * 5-second receive timeout tells nothing.  A lossy channel may lose
	 * every stop message: side 1 then gets a twentieth of a second. */
	grace = e0 != 0 || r->b->err[0] ? 0
	        : r->lossy              ? 50000000LL
	                                : 10000000000LL;
	e1 = pid[1] < 0 ? -errno
	                : run_reap(r, pid[1], ipcbench_now_ns() + grace);
	err = r->b->err[0]   ? r->b->err[0]
	      : r->b->err[1] ? r->b->err[1]
	      : e0           ? e0
	                     : e1;
	/* A lossy channel may lose the stop: side 1 then times out. */
	if (err && r->lossy && !r->b->err[0] && e0 == 0)
		err = 0;
	/* A Ctrl-C at a terminal reaches the sides too: they die of it. */
	if (run_stopped(r))
		err = -ECANCELED;
clean:
	if (ops->cleanup)
		ops->cleanup(ops->ctx);
	if (r->ready[0] >= 0)
		close(r->ready[0]);
	if (r->ready[1] >= 0)
		close(r->ready[1]);
	return err;
}

static void
run_free(struct run *r)
{
	munmap(r->b, sizeof(*r->b));
}

static void
send_stop(struct run *r)
{
	const struct ipcbench_ops *ops = r->ops;

	r->buf[0] = IPCBENCH_STOP;
	for (int i = 0; i < (r->lossy ? 16 : 1); i++)
		(void)ops->send(ops->ctx, r->buf, r->size, false);
	if (ops->flush)
		ops->flush(ops->ctx);
}

/* ---- latency ---- */

static void
pong_main(struct run *r)
{
	const struct ipcbench_ops *ops = r->ops;

	for (;;) {
		ssize_t n = ops->recv(ops->ctx, r->buf, r->size);

		if (n < 0 && r->lossy)
			continue;
		/* The stop is not echoed: nobody reads it, and a message
		 * larger than the socket buffer would block until the send
		 * timed out. */
		if (n >= 1 && r->buf[0] == IPCBENCH_STOP)
			return;
		if (n < 1 ||
		    ops->send(ops->ctx, r->buf, (size_t)n, false) != n) {
			r->b->err[1] = n < 0 ? (int)n : -EIO;
			return;
		}
	}
}

static int
ping_one(struct run *r)
{
	const struct ipcbench_ops *ops = r->ops;
	ssize_t n = ops->send(ops->ctx, r->buf, r->size, false);

	if (n != (ssize_t)r->size)
		return n < 0 ? (int)n : -EIO;
	n = ops->recv(ops->ctx, r->buf, r->size);
	return n == (ssize_t)r->size ? 0 : n < 0 ? (int)n : -EIO;
}

static void
ping_main(struct run *r)
{
	const struct ipcbench_cfg *cfg = r->cfg;
	double *v = malloc(sizeof(double) * (cfg->lat_iters + 1));
	unsigned n = 0;
	int64_t stop, t0, t1;
	int err = v ? 0 : -ENOMEM;

	/* Warm-up: lat_warmup round trips, or a quarter of the time when
	 * large messages make those slow. */
	stop = ipcbench_now_ns() + (int64_t)(cfg->lat_seconds * 0.25e9);
	for (unsigned i = 0; i < cfg->lat_warmup && !err; i++)
		if ((err = ping_one(r)) == 0 && i % 16 == 15 &&
		    ipcbench_now_ns() > stop)
			break;
	stop = ipcbench_now_ns() + (int64_t)(cfg->lat_seconds * 1e9);
	for (t0 = ipcbench_now_ns(); !err && n < cfg->lat_iters; t0 = t1) {
		err = ping_one(r);
		t1 = ipcbench_now_ns();
		if (err && r->lossy) {
			err = 0; /* a lost ping: no sample */
			continue;
		}
		v[n++] = (double)(t1 - t0) / 2000.0; /* one way, in us */
		if (t1 > stop && n >= cfg->lat_min)
			break;
	}
	send_stop(r);
	if (!err && n > 0) {
		qsort(v, n, sizeof(*v), cmp_double);
		r->b->p50 = v[n / 2];
		r->b->p99 = v[(size_t)((double)n * 0.99)];
		r->b->samples = n;
	}
	r->b->err[0] = err ? err : n ? 0 : -EIO;
	free(v);
}

void
ipcbench_latency(const struct ipcbench_ops *ops, const struct ipcbench_cfg *cfg,
                 size_t size, struct ipcbench_lat *out)
{
	double p50[64], p99[64];
	unsigned k = 0, runs = cfg->runs < 64 ? cfg->runs : 64;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < runs; i++) {
		struct run r = { .ops = ops, .cfg = cfg, .size = size };
		int err = run(&r, ping_main, pong_main, true,
		              cfg->lat_seconds * 4);

		if (!err) {
			p50[k] = r.b->p50;
			p99[k] = r.b->p99;
			out->count = r.b->samples;
			k++;
		}
		if (r.b != MAP_FAILED && r.b)
			run_free(&r);
		if (err) {
			out->err = err;
			return;
		}
	}
	out->p50_us = ipcbench_median(p50, k);
	out->p99_us = ipcbench_median(p99, k);
}

/* ---- throughput ---- */

static void
source_main(struct run *r)
{
	const struct ipcbench_ops *ops = r->ops;
	unsigned batch = r->cfg->batch ? r->cfg->batch : 1;
	/* The clock every 256 small messages, or every 64 KiB of payload. */
	uint64_t every = r->size >= 65536 / 256 ? 65536 / r->size : 256;
	int64_t stop;
	uint64_t sent = 0;

	r->buf[0] = IPCBENCH_DATA;
	r->b->t0 = ipcbench_now_ns();
	stop = r->b->t0 + (int64_t)(r->cfg->seconds * 1e9);
	for (;;) {
		bool more = (sent + 1) % batch != 0;
		ssize_t n = ops->send(ops->ctx, r->buf, r->size, more);

		if (n != (ssize_t)r->size) {
			r->b->err[0] = n < 0 ? (int)n : -EIO;
			break;
		}
		sent++;
		/* The clock only now and then: it costs as much as a small
		 * message on the fastest rings. */
		if (sent % (every ? every : 1) == 0 && ipcbench_now_ns() > stop)
			break;
	}
	r->b->sent = sent;
	send_stop(r);
}

static void
sink_main(struct run *r)
{
	const struct ipcbench_ops *ops = r->ops;
	uint64_t count = 0;

	for (;;) {
		ssize_t n = ops->recv(ops->ctx, r->buf, r->size);

		if (n < 1) {
			r->b->err[1] = n < 0 ? (int)n : -EIO;
			break;
		}
		if (r->buf[0] == IPCBENCH_STOP)
			break;
		count++;
		/* Lossy: the stop may never come, and the parent ends this
		 * side; what arrived until then is the figure. */
		if (r->lossy) {
			r->b->count = count;
			r->b->t_end = ipcbench_now_ns();
		}
	}
	r->b->t_end = ipcbench_now_ns();
	r->b->count = count;
}

void
ipcbench_throughput(const struct ipcbench_ops *ops,
                    const struct ipcbench_cfg *cfg, size_t size,
                    struct ipcbench_tput *out)
{
	double rate[64], lost[64];
	unsigned k = 0, runs = cfg->runs < 64 ? cfg->runs : 64;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < runs; i++) {
		struct run r = { .ops = ops, .cfg = cfg, .size = size };
		int err = run(&r, source_main, sink_main, false, cfg->seconds);
		struct run_board *b = r.b;

		if (!err && (b->t_end <= b->t0 || b->count == 0))
			err = -EIO;
		if (!err) {
			rate[k] = (double)b->count * 1e9 /
			          (double)(b->t_end - b->t0);
			lost[k] = b->sent ? 1.0 - (double)b->count /
			                                    (double)b->sent
			                  : 0;
			k++;
		}
		if (b != MAP_FAILED && b)
			run_free(&r);
		if (err) {
			out->err = err;
			return;
		}
	}
	out->msgs_per_s = ipcbench_median(rate, k);
	out->mb_per_s = out->msgs_per_s * (double)size / 1e6;
	out->lost = ipcbench_median(lost, k);
}

/* ---- ipckit endpoints ---- */

const struct ipcbench_form ipcbench_forms[] = {
	{ "pipe", "pipe", NULL },
	{ "fifo", "fifo", "fifo:%P" },
	{ "sysvmq", "sysvmq", "sysvmq:%K" },
	{ "posixmq", "posixmq", "posixmq:/%N" },
	{ "shm", "shm", "shm:%N" },
	{ "shm (no spin)", "shm", "shm:%N?spin=0" },
	{ "file", "file", "file:%P" },
	{ "unix", "unix", "unix:%P" },
	{ "unix (abstract)", "unix", "unix:@%N" },
	{ "unix+seqpacket", "unix+seqpacket", "unix+seqpacket:%P" },
	{ "tcp", "tcp", "tcp:127.0.0.1:0" },
	{ "udp", "udp", "udp:127.0.0.1:0" },
	{ NULL, NULL, NULL },
};

const struct ipcbench_form *
ipcbench_form_find(const char *scheme)
{
	for (const struct ipcbench_form *f = ipcbench_forms; f->scheme; f++)
		if (strcmp(f->scheme, scheme) == 0)
			return f;
	return NULL;
}

static int
ipk_expand(struct ipcbench_ipk *st, char *out, size_t cap)
{
	static unsigned counter;
	const char *f = st->form->form;
	size_t o = 0;

	for (; *f && o + 1 < cap; f++) {
		char piece[300];
		unsigned r = 0;

		if (*f != '%') {
			out[o++] = *f;
			continue;
		}
		f++;
		if (*f == 'P' && st->dir[0] == '\0') {
			snprintf(st->dir, sizeof(st->dir),
			         "%s/ipk-bench-XXXXXX",
			         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
			if (mkdtemp(st->dir) == NULL) {
				st->dir[0] = '\0';
				return -errno;
			}
		}
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (unsigned)getpid() * 2654435761u + counter;
		if (*f == 'P')
			snprintf(piece, sizeof(piece), "%s/%u", st->dir,
			         counter++);
		else if (*f == 'N')
			snprintf(piece, sizeof(piece), "ipk-bench-%ld-%u",
			         (long)getpid(), counter++);
		else
			snprintf(piece, sizeof(piece), "%ld",
			         IPCBENCH_KEY_BASE + (long)(r & 0xfffff));
		o += (size_t)snprintf(out + o, cap - o, "%s", piece);
	}
	out[o < cap ? o : cap - 1] = '\0';
	return 0;
}

static int
ipk_prepare_ends(void *ctx, bool duplex)
{
	struct ipcbench_ipk *st = ctx;
	int err;

	st->duplex = duplex;
	st->queue = false;
	st->max = SIZE_MAX;
	if (st->form->form == NULL) {
		err = ipk_pair(&st->pair[0], &st->pair[1]);
		if (err == 0)
			st->max = ipk_max_msg(st->pair[0]);
		return err;
	}
	err = ipk_expand(st, st->addr[0], sizeof(st->addr[0]));
	if (err)
		return err;
	err = ipk_listen(&st->listener, st->addr[0], 0);
	if (err == 0) {
		snprintf(st->addr[0], sizeof(st->addr[0]), "%s",
		         ipk_address(st->listener));
		return 0;
	}
	if (err != IPK_EKIND)
		return err;
	/* A queue: one per direction, made here so that both exist (with
	 * their options) before either side comes. */
	st->queue = true;
	err = ipk_open(&st->tx, st->addr[0], 0, 5000);
	if (err)
		return err;
	st->max = ipk_max_msg(st->tx);
	if (!duplex)
		return 0;
	err = ipk_expand(st, st->addr[1], sizeof(st->addr[1]));
	/* One queue both ways would hand the pinger its own ping. */
	if (err == 0 && strcmp(st->addr[0], st->addr[1]) == 0)
		err = -EINVAL;
	if (err == 0)
		err = ipk_open(&st->rx, st->addr[1], 0, 5000);
	if (err) {
		ipk_close(st->tx);
		st->tx = NULL;
		ipk_unlink(st->addr[0]);
	}
	return err;
}

static int
ipk_prepare(void *ctx, bool duplex)
{
	struct ipcbench_ipk *st = ctx;
	int err = ipk_prepare_ends(ctx, duplex);
	struct ipk_chan *c = st->listener ? st->listener
	                     : st->tx     ? st->tx
	                                  : st->pair[0];

	/* Kept: cleanup closes the handles it is asked of. */
	if (err == 0)
		st->lossy = ipk_caps(c) & IPK_CAP_LOSSY;
	return err;
}

static bool
ipk_lossy(void *ctx)
{
	return ((struct ipcbench_ipk *)ctx)->lossy;
}

static size_t
ipk_max(void *ctx)
{
	return ((struct ipcbench_ipk *)ctx)->max;
}

static int
ipk_attach(void *ctx, int side)
{
	struct ipcbench_ipk *st = ctx;
	int err = 0;

	if (st->form->form == NULL) {
		/* Each side keeps its end of the pair. */
		ipk_close(st->pair[!side]);
		st->tx = st->rx = st->pair[side];
		st->pair[0] = st->pair[1] = NULL;
		return 0;
	}
	if (!st->queue && side == 0)
		err = ipk_accept(st->listener, &st->tx, 10000);
	if (!st->queue && side == 1) {
		ipk_close(st->listener); /* the parent's */
		st->listener = NULL;
		err = ipk_open(&st->tx, st->addr[0], 0, 10000);
	}
	if (!st->queue) {
		st->rx = st->tx;
		return err;
	}
	if (side == 0)
		return 0; /* sends on addr[0], receives on addr[1] */
	/* Side 1: drop the parent's handles, open its own, reversed. */
	ipk_close(st->tx);
	ipk_close(st->rx);
	st->tx = st->rx = NULL;
	err = ipk_open(&st->rx, st->addr[0], 0, 10000);
	if (err == 0 && st->duplex)
		err = ipk_open(&st->tx, st->addr[1], 0, 10000);
	return err;
}

static ssize_t
ipk_bsend(void *ctx, const void *buf, size_t len, bool more)
{
	struct ipcbench_ipk *st = ctx;
	struct ipk_msginfo mi = { .flags = more ? IPK_MORE : 0 };

	return ipk_sendx(st->tx, buf, len, &mi, st->wait_forever ? -1 : 10000);
}

static ssize_t
ipk_brecv(void *ctx, void *buf, size_t cap)
{
	struct ipcbench_ipk *st = ctx;

	return ipk_recv(st->rx, buf, cap, st->wait_forever ? -1 : 5000);
}

static void
ipk_bflush(void *ctx)
{
	struct ipcbench_ipk *st = ctx;

	(void)ipk_flush(st->tx, 5000);
}

static void
ipk_detach(void *ctx, int side)
{
	struct ipcbench_ipk *st = ctx;

	(void)side;
	if (st->rx != st->tx)
		ipk_close(st->rx);
	ipk_close(st->tx);
	ipk_close(st->listener);
	st->tx = st->rx = st->listener = NULL;
}

static int
rm_cb(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

static void
ipk_cleanup(void *ctx)
{
	struct ipcbench_ipk *st = ctx;

	/* The parent's own handles: a queue's memory (RLIMIT_MSGQUEUE for
	 * POSIX queues) and descriptors would add up over the runs. */
	if (st->rx != st->tx)
		ipk_close(st->rx);
	ipk_close(st->tx);
	ipk_close(st->listener);
	ipk_close(st->pair[0]);
	ipk_close(st->pair[1]);
	st->tx = st->rx = st->listener = st->pair[0] = st->pair[1] = NULL;
	if (st->queue) {
		(void)ipk_unlink(st->addr[0]);
		if (st->duplex)
			(void)ipk_unlink(st->addr[1]);
	}
	if (st->dir[0]) {
		nftw(st->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
		st->dir[0] = '\0';
	}
}

void
ipcbench_ipk_ops(struct ipcbench_ops *ops, struct ipcbench_ipk *st,
                 const struct ipcbench_form *form)
{
	memset(st, 0, sizeof(*st));
	st->form = form;
	*ops = (struct ipcbench_ops){
		.name = form->label,
		.lossy = ipk_lossy,
		.ctx = st,
		.prepare = ipk_prepare,
		.max_msg = ipk_max,
		.attach = ipk_attach,
		.send = ipk_bsend,
		.recv = ipk_brecv,
		.flush = ipk_bflush,
		.detach = ipk_detach,
		.cleanup = ipk_cleanup,
	};
}
