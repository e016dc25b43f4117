// SPDX-License-Identifier: MIT
/* fanout.c - the floor under a hub's delivery latency on this machine: one
 * process writes each line once to every one of N loopback TCP sockets
 * (non-blocking, TCP_NODELAY, one writev per socket per line, as a one-
 * thread hub does at best), another reads them on epoll and measures, per
 * delivery, the time since the line was due to be sent.  No protocol, no
 * parsing beyond the send time, no queues: what is left is the kernel's
 * cost per send and per receive and the scheduler's, which any one-thread
 * hub pays too.  bench/hub/run.py runs it beside the hubs with the same
 * users, rate and line length (docs/hub.md, "Benchmark").
 *
 *   fanout [--conns 1000] [--bytes 32] [--rate 100] [--duration 10]
 *          [--send | --uring [--batch 1024]]
 *
 * --rate is lines per second in all (each to every connection), --bytes
 * their length (hubload's chat lines are about 32); --send writes with
 * send(MSG_DONTWAIT) instead of writev; --uring queues each turn's N sends
 * (IORING_OP_SEND, MSG_DONTWAIT) on an io_uring and submits them with one
 * io_uring_enter (or one per --batch sends), then reaps the completions
 * (short or refused sends are counted; a hub would keep their rest), as
 * ipckit hub does.  Output: "key value"
 * lines: the writer's CPU time per delivery, lines per turn (more than one
 * when it fell behind) and wall time per turn (all N writes), the reader's
 * CPU time per delivery, and the latency of every delivery and of each
 * line's first and last recipient. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "args.h"
#include "latency.h"
#include "uring_rx.h"

#define MAX_EVENTS   512  /* as bench/hub/hubload */
#define FANOUT_BATCH 64   /* lines written together when behind */
#define FANOUT_RING  1024 /* submission queue entries (--uring) */

enum fanout_mode { FANOUT_WRITEV, FANOUT_SEND, FANOUT_URING };

static void
die(const char *what)
{
	fprintf(stderr, "fanout: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *
zalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		die("calloc");
	return p;
}

/* The reader's state, shared by its epoll and io_uring ways. */
struct reader {
	int *fds;
	uint32_t open_n;
	struct latency lat;
};

/* Bytes from connection i: lines are short and written whole, so a read
 * never splits one. */
static void
reader_bytes(struct reader *rd, const char *buf, size_t got)
{
	long long t = latency_now_ns();
	const char *p = buf, *end = buf + got, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
		char *num;
		long long sent = strtoll(p + 1, &num, 10);

		latency_add(&rd->lat, strtoull(num + 1, NULL, 10), t - sent);
		p = nl + 1;
	}
}

static void
reader_uring_data(void *arg, uint32_t i, const char *data, ssize_t n,
                  int writable)
{
	struct reader *rd = arg;

	(void)writable;
	if (n > 0) {
		reader_bytes(rd, data, (size_t)n);
		return;
	}
	close(rd->fds[i]); /* the end, or an error: done with it */
	rd->open_n--;
}

/* The reader's loop on io_uring (uring_rx.h); false if this kernel
 * cannot, before anything was read. */
static bool
reader_uring(struct reader *rd, uint32_t n, uint64_t *wakeups, uint64_t *events,
             long long *cpu0)
{
	struct uring_rx u;

	if (uring_rx_init(&u, n) != 0)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (uring_rx_arm(&u, i, rd->fds[i]) != 0)
			die("uring_rx_arm");
	while (rd->open_n > 0) {
		int k = uring_rx_wait(&u, 10000000000LL, reader_uring_data, rd);

		if (k < 0) {
			errno = -k;
			die("uring_rx_wait");
		}
		if (k == 0)
			die("uring_rx_wait: nothing for 10 s (the writer is "
			    "gone?)");
		if (*cpu0 == 0)
			*cpu0 = latency_cpu_ns();
		(*wakeups)++;
		*events += (uint64_t)k;
	}
	uring_rx_fini(&u);
	return true;
}

/* The reader's loop on epoll and recv. */
static void
reader_epoll(struct reader *rd, uint32_t n, uint64_t *wakeups, uint64_t *events,
             long long *cpu0)
{
	int ep = epoll_create1(0);
	char buf[16384];

	if (ep < 0)
		die("epoll_create1");
	for (uint32_t i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, rd->fds[i], &ev) != 0)
			die("epoll_ctl");
	}
	while (rd->open_n > 0) {
		struct epoll_event ev[MAX_EVENTS];
		int k = epoll_wait(ep, ev, MAX_EVENTS, 10000);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("epoll_wait (the writer is gone?)");
		if (*cpu0 == 0)
			*cpu0 = latency_cpu_ns();
		(*wakeups)++;
		*events += (uint64_t)k;
		for (int e = 0; e < k; e++) {
			int fd = rd->fds[ev[e].data.u32];
			ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (got < 0 && errno == EAGAIN)
				continue;
			if (got <= 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				rd->open_n--;
				continue;
			}
			reader_bytes(rd, buf, (size_t)got);
		}
	}
	close(ep);
}

/* The reader: connect n sockets, then read lines "t<due ns>_<line> xxx\n"
 * until every socket is closed, on io_uring unless epoll is asked for or
 * the kernel cannot; prints its figures. */
static void
reader_run(const struct sockaddr_in *sa, uint32_t n, uint64_t lines,
           int ready_fd, bool use_epoll)
{
	struct reader rd = { .fds = zalloc(n, sizeof(int)), .open_n = n };
	uint64_t wakeups = 0, events = 0;
	long long cpu0 = 0;
	bool uring;

	if (latency_init(&rd.lat, lines) != 0)
		die("reader setup");
	for (uint32_t i = 0; i < n; i++) {
		rd.fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (rd.fds[i] < 0 ||
		    connect(rd.fds[i], (const struct sockaddr *)sa,
		            sizeof(*sa)) != 0)
			die("connect");
	}
	if (write(ready_fd, "r", 1) != 1)
		die("ready");
	close(ready_fd);
	uring = !use_epoll && reader_uring(&rd, n, &wakeups, &events, &cpu0);
	if (!uring)
		reader_epoll(&rd, n, &wakeups, &events, &cpu0);
	printf("read_uring %d\n"
	       "read_cpu_ns_per_delivery %.0f\nread_events_per_wakeup %.1f\n"
	       "latency_ms_p50 %.3f\nlatency_ms_p99 %.3f\n"
	       "latency_over_200ms %llu\n",
	       uring,
	       (double)(latency_cpu_ns() - cpu0) /
	               (double)(rd.lat.n ? rd.lat.n : 1),
	       (double)events / (double)(wakeups ? wakeups : 1),
	       latency_pct_ms(&rd.lat, 0.5), latency_pct_ms(&rd.lat, 0.99),
	       (unsigned long long)rd.lat.over);
	printf("line_first_ms_p50 %.3f\nline_last_ms_p50 %.3f\n"
	       "line_last_ms_p99 %.3f\n",
	       latency_line_pct_ms(&rd.lat, n, false, 0.5),
	       latency_line_pct_ms(&rd.lat, n, true, 0.5),
	       latency_line_pct_ms(&rd.lat, n, true, 0.99));
	fflush(stdout);
	latency_fini(&rd.lat);
	free(rd.fds);
}

/* The writer: every step ns a line to every connection.  When it falls
 * behind, the lines due by then go out together, one write per connection
 * (at most FANOUT_BATCH lines), as a hub coalesces a loop turn's output. */
/* Submit what is queued on ring, wait for all of its completions and
 * count those that wrote less than len (short) or failed (refused). */
static void
uring_flush(struct io_uring *ring, unsigned queued, size_t len,
            uint64_t *enters, uint64_t *short_n, uint64_t *refused)
{
	int r;

	while ((r = io_uring_submit_and_wait(ring, queued)) < 0 && r == -EINTR)
		;
	if (r < 0) {
		errno = -r;
		die("io_uring_submit_and_wait");
	}
	(*enters)++;
	while (queued > 0) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		io_uring_for_each_cqe(ring, head, cqe)
		{
			if (cqe->res < 0)
				(*refused)++;
			else if ((size_t)cqe->res != len)
				(*short_n)++;
			seen++;
		}
		io_uring_cq_advance(ring, seen);
		queued -= seen;
		if (queued > 0) {
			r = io_uring_wait_cqe_nr(ring, &cqe, queued);
			if (r < 0 && r != -EINTR) {
				errno = -r;
				die("io_uring_wait_cqe_nr");
			}
			(*enters)++;
		}
	}
}

static void
writer_run(const int *fds, uint32_t n, uint64_t lines, uint32_t bytes,
           long long step, enum fanout_mode mode, unsigned batch)
{
	long long *wall = zalloc(lines, sizeof(*wall)), t0, cpu0, cpu;
	char *buf = zalloc(FANOUT_BATCH, bytes);
	uint64_t turns = 0, enters = 0, short_n = 0, refused = 0;
	struct io_uring ring;
	int r;

	if (mode == FANOUT_URING) {
		r = io_uring_queue_init(FANOUT_RING, &ring,
		                        IORING_SETUP_SINGLE_ISSUER |
		                                IORING_SETUP_COOP_TASKRUN);
		if (r == -EINVAL) /* before Linux 6.0 */
			r = io_uring_queue_init(FANOUT_RING, &ring, 0);
		if (r < 0) {
			errno = -r;
			die("io_uring_queue_init");
		}
	}

	memset(buf, 'x', (size_t)FANOUT_BATCH * bytes);
	cpu0 = latency_cpu_ns();
	t0 = latency_now_ns();
	for (uint64_t k = 0; k < lines;) {
		long long due = t0 + (long long)k * step, t;
		struct timespec ts = { due / 1000000000LL, due % 1000000000LL };
		uint64_t j = k;
		size_t len;

		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		                       NULL) == EINTR)
			;
		t = latency_now_ns();
		/* Each line is stamped with the time it was due, not the time
		 * the writer got to it: a line that waits for the one before
		 * waits in a hub too (hubload stamps its send time, so a
		 * hub's backlog is in its figures). */
		do {
			char *line = buf + (j - k) * bytes;
			int m = snprintf(line, bytes, "t%lld_%llu ",
			                 t0 + (long long)j * step,
			                 (unsigned long long)j);

			line[m] = 'x';
			line[bytes - 1] = '\n';
			j++;
		} while (j < lines && j - k < FANOUT_BATCH &&
		         t0 + (long long)j * step <= t);
		len = (size_t)(j - k) * bytes;
		if (mode == FANOUT_URING) {
			unsigned queued = 0;

			for (uint32_t i = 0; i < n; i++) {
				struct io_uring_sqe *sqe =
				        queued < batch ? io_uring_get_sqe(&ring)
				                       : NULL;

				if (sqe == NULL) {
					uring_flush(&ring, queued, len, &enters,
					            &short_n, &refused);
					queued = 0;
					sqe = io_uring_get_sqe(&ring);
				}
				io_uring_prep_send(sqe, fds[i], buf, len,
				                   MSG_DONTWAIT | MSG_NOSIGNAL);
				sqe->user_data = i;
				queued++;
			}
			uring_flush(&ring, queued, len, &enters, &short_n,
			            &refused);
		}
		for (uint32_t i = 0; mode != FANOUT_URING && i < n; i++) {
			struct iovec iov = { buf, len };
			ssize_t w = mode == FANOUT_SEND
			                    ? send(fds[i], buf, len,
			                           MSG_DONTWAIT | MSG_NOSIGNAL)
			                    : writev(fds[i], &iov, 1);

			if (w != (ssize_t)len)
				die("write (a full socket buffer?)");
		}
		wall[turns++] = latency_now_ns() - t;
		k = j;
	}
	cpu = latency_cpu_ns() - cpu0;
	printf("write_cpu_ns_per_delivery %.0f\nwrite_lines_per_turn %.2f\n"
	       "write_wall_ms_per_turn_p50 %.3f\n"
	       "write_wall_ms_per_turn_p99 %.3f\n",
	       (double)cpu / (double)(lines * n), (double)lines / (double)turns,
	       latency_sort_pct_ms(wall, turns, 0.5),
	       latency_sort_pct_ms(wall, turns, 0.99));
	if (mode == FANOUT_URING) {
		printf("uring_enters_per_turn %.2f\nuring_short %llu\n"
		       "uring_refused %llu\n",
		       (double)enters / (double)turns,
		       (unsigned long long)short_n,
		       (unsigned long long)refused);
		io_uring_queue_exit(&ring);
	}
	fflush(stdout);
	free(wall);
	free(buf);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "conns", 1, 0, 'n' }, { "bytes", 1, 0, 'b' },
		{ "rate", 1, 0, 'r' },  { "duration", 1, 0, 'd' },
		{ "send", 0, 0, 's' },  { "uring", 0, 0, 'u' },
		{ "batch", 1, 0, 'B' }, { "read-epoll", 0, 0, 'e' },
		{ 0, 0, 0, 0 },
	};
	uint32_t n = 1000, bytes = 32;
	double rate = 100, duration = 10;
	enum fanout_mode mode = FANOUT_WRITEV;
	bool read_epoll = false;
	unsigned batch = FANOUT_RING;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int lfd, pfd[2], o, one = 1, *fds, status;
	uint64_t lines;
	struct rlimit rl;
	char c;
	pid_t pid;

	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'n':
			n = args_u32("fanout", "conns", optarg, 1, 1000000);
			break;
		case 'b':
			bytes = args_u32("fanout", "bytes", optarg, 32, 4096);
			break;
		case 'r':
			rate = args_num("fanout", "rate", optarg, 1e-3, 1e6);
			break;
		case 'd':
			duration = args_num("fanout", "duration", optarg, 1e-3,
			                    1e6);
			break;
		case 's':
			mode = FANOUT_SEND;
			break;
		case 'u':
			mode = FANOUT_URING;
			break;
		case 'e':
			read_epoll = true;
			break;
		case 'B':
			batch = args_u32("fanout", "batch", optarg, 1,
			                 FANOUT_RING);
			break;
		default:
			fprintf(stderr,
			        "usage: see the comment atop fanout.c\n");
			return 2;
		}
	}
	if (rate * duration < 1 || rate * duration > 1e7) {
		fprintf(stderr, "fanout: --rate x --duration must make 1 to "
		                "10^7 lines\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0 ||
	    listen(lfd, 4096) != 0 || pipe(pfd) != 0)
		die("listen");
	lines = (uint64_t)(rate * duration);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(lfd);
		close(pfd[0]);
		reader_run(&sa, n, lines, pfd[1], read_epoll);
		_exit(0);
	}
	close(pfd[1]);
	fds = zalloc(n, sizeof(*fds));
	for (uint32_t i = 0; i < n; i++) {
		fds[i] = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
		if (fds[i] < 0)
			die("accept");
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	close(lfd);
	if (read(pfd[0], &c, 1) != 1)
		die("the reader failed");
	close(pfd[0]);
	writer_run(fds, n, lines, bytes, (long long)(1e9 / rate), mode, batch);
	for (uint32_t i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return 1;
	return 0;
}
