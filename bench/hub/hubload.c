// SPDX-License-Identifier: MIT
/* hubload.c - an ADC load generator: N clients in one process on epoll.
 * They log in with passwords (HSUP, BINF, HPAS), then chat: at a fixed
 * rate, each line carrying its send time so every receiver measures the
 * delivery latency, or as fast as a window of unanswered lines allows
 * (saturation).  It samples the hub's CPU time and RSS from /proc, so it
 * measures any ADC hub the same way (bench/hub/run.py runs ours and
 * uhub).  Output: "key value" lines.
 *
 * It also measures itself, so a figure that is the generator's and not the
 * hub's shows: its own CPU time per delivery, how many ready sockets each
 * wake-up of its epoll brings, and for each line the latency of its first
 * and of its last recipient (the hub's reaction, and the time its fan-out
 * of one line to every user takes as seen from outside).  Waits end at the
 * next send's due time to the nanosecond (an io_uring wait's timeout, or
 * epoll_pwait2), not by spinning through the last millisecond.  It
 * receives on io_uring (one multishot receive per socket, uring_rx.h),
 * which costs it about 20 % less CPU time per delivery than epoll and recv,
 * leaving more of the machine to the hub; --read-epoll (or a kernel
 * without it) reads with epoll and recv.
 *
 *   hubload --addr 127.0.0.1:1511 --users 1000 --rate 0.1 --duration 10
 *           [--hub-pid PID] [--light-logins 50] [--concurrency 200]
 *           [--saturate 5 --senders 100 --window 8] [--read-epoll]
 *
 * Client i is nick "u<i>" with password "pw-u<i>". */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "base32.h"
#include "latency.h"
#include "tiger.h"
#include "uring_rx.h"

#define IN_CAP     (64 * 1024)
#define MAX_EVENTS 512

enum cstate { C_OFF, C_SID, C_LOGIN, C_ON };

struct client {
	int fd;
	enum cstate state;
	char sid[5];
	uint32_t idx;
	long long t0_ns; /* login start */
	char *in;        /* IN_CAP bytes */
	size_t in_len;
	char *out; /* pending output when the socket was full */
	size_t out_len;
	uint32_t inflight;
};

static struct {
	struct sockaddr_in addr;
	int ep;
	struct client *c;
	uint32_t n;
	uint32_t online;
	uint64_t delivered, sent, echoes;
	struct latency lat;       /* the fixed-rate phase's lines */
	uint64_t wakeups, events; /* epoll_pwait2 calls that returned events */
	bool measure;
	int hub_pid;
	bool saturating;
	struct uring_rx *rx; /* receiving on io_uring, or NULL: epoll */
} g;

static void
die(const char *what)
{
	fprintf(stderr, "hubload: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Hub CPU time in ns (schedstat) and RSS in kB. */
static long long
hub_cpu_ns(void)
{
	char path[64];
	long long ns = -1;
	FILE *f;

	if (g.hub_pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", g.hub_pid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lld", &ns) != 1)
			ns = -1;
		fclose(f);
	}
	return ns;
}

static long
hub_rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (g.hub_pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", g.hub_pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Wake up when c's socket has room (on) or stop asking (off). */
static void
c_want_out(struct client *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0),
		                  .data.u32 = c->idx };

	if (g.rx == NULL)
		epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev);
	else if (on && uring_rx_poll_out(g.rx, c->idx, c->fd) != 0)
		die("uring_rx_poll_out");
}

static void
c_send(struct client *c, const char *s, size_t n)
{
	ssize_t w = 0;

	if (c->out_len == 0) {
		w = send(c->fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN)
			die("send");
		if (w < 0)
			w = 0;
		if ((size_t)w == n)
			return;
	}
	c->out = realloc(c->out, c->out_len + n - (size_t)w);
	memcpy(c->out + c->out_len, s + w, n - (size_t)w);
	c->out_len += n - (size_t)w;
	if (c->out_len == n - (size_t)w) /* it was empty: wait for room */
		c_want_out(c, true);
}

static void
c_flush(struct client *c)
{
	ssize_t w = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);

	if (w < 0 && errno != EAGAIN)
		die("send");
	if (w > 0) {
		memmove(c->out, c->out + w, c->out_len - (size_t)w);
		c->out_len -= (size_t)w;
	}
	c_want_out(c, c->out_len > 0);
}

static int
fcntl_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
c_connect(struct client *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = c->idx };
	int one = 1;
	static const char sup[] = "HSUP ADBASE ADTIGR\n";

	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->t0_ns = latency_now_ns();
	if (connect(c->fd, (struct sockaddr *)&g.addr, sizeof(g.addr)) != 0)
		die("connect");
	/* blocking connect on loopback, then non-blocking I/O */
	if (fcntl_nonblock(c->fd) != 0)
		die("fcntl");
	if (g.rx != NULL ? uring_rx_arm(g.rx, c->idx, c->fd) != 0
	                 : epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		die("watching a socket");
	c->state = C_SID;
	c->in_len = 0;
	c_send(c, sup, sizeof(sup) - 1);
}

static void
c_close(struct client *c)
{
	if (c->fd >= 0) {
		/* the hub sees the end now, even while a cancelled receive
		 * still holds the socket */
		shutdown(c->fd, SHUT_RDWR);
		if (g.rx != NULL)
			uring_rx_cancel(g.rx, c->idx);
		else
			epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	if (c->state == C_ON)
		g.online--;
	c->fd = -1;
	c->state = C_OFF;
	free(c->out);
	c->out = NULL;
	c->out_len = 0;
}

static void
c_inf(struct client *c)
{
	uint8_t pid[TIGER_BYTES], cid[TIGER_BYTES];
	char spid[48], scid[48], line[512];
	int n;

	if (getrandom(pid, sizeof(pid), 0) != sizeof(pid))
		die("getrandom");
	tiger_hash(pid, sizeof(pid), cid);
	base32_encode(pid, sizeof(pid), spid, sizeof(spid));
	base32_encode(cid, sizeof(cid), scid, sizeof(scid));
	/* An INF of realistic size (EiskaltDC++ sends about 250 bytes). */
	n = snprintf(line, sizeof(line),
	             "BINF %s ID%s PD%s NIu%u DEload\\sgenerator\\sclient SL3 "
	             "SS1073741824 SF1234 HN1 HR0 HO0 APhubload VE1.0 "
	             "US2621440 I40.0.0.0 U43000 SUTCP4,UDP4,ADC0,SEGA\n",
	             c->sid, scid, spid, c->idx);
	c_send(c, line, (size_t)n);
}

/* "t<send ns>_<line number>": one delivery of that line. */
static void
record_latency(const char *stamp)
{
	char *end;
	long long ns = latency_now_ns() - strtoll(stamp, &end, 10);

	if (g.measure)
		latency_add(&g.lat,
		            *end == '_' ? strtoull(end + 1, NULL, 10)
		                        : UINT64_MAX,
		            ns);
}

static void
c_line(struct client *c, char *l, size_t n)
{
	if (c->state == C_ON) {
		/* "BMSG SSSS t<ns>_<line number>" */
		if (n > 10 && memcmp(l, "BMSG ", 5) == 0) {
			g.delivered++;
			if (memcmp(l + 5, c->sid, 4) == 0) {
				g.echoes++;
				if (c->inflight)
					c->inflight--;
			}
			if (!g.saturating && l[10] == 't')
				record_latency(l + 11);
		}
		return;
	}
	if (n > 5 && memcmp(l, "ISID ", 5) == 0) {
		memcpy(c->sid, l + 5, 4);
		c->sid[4] = '\0';
		c->state = C_LOGIN;
		c_inf(c);
	} else if (n > 5 && memcmp(l, "IGPA ", 5) == 0) {
		uint8_t chal[64], resp[TIGER_BYTES];
		char pw[32], text[48], line[64];
		ssize_t k = base32_decode(l + 5, n - 5, chal, sizeof(chal));
		int m = snprintf(pw, sizeof(pw), "pw-u%u", c->idx);

		if (k <= 0)
			die("bad IGPA");
		tiger_hash2(pw, (size_t)m, chal, (size_t)k, resp);
		base32_encode(resp, sizeof(resp), text, sizeof(text));
		m = snprintf(line, sizeof(line), "HPAS %s\n", text);
		c_send(c, line, (size_t)m);
	} else if (n > 9 && memcmp(l, "BINF ", 5) == 0 &&
	           memcmp(l + 5, c->sid, 4) == 0 && c->state == C_LOGIN) {
		c->state = C_ON; /* our own INF ends the user list */
		g.online++;
	} else if (n > 4 && memcmp(l, "ISTA 2", 6) == 0) {
		fprintf(stderr, "hubload: u%u refused: %.*s\n", c->idx, (int)n,
		        l);
		exit(1);
	}
}

/* The complete lines in c's input, the rest kept. */
static void
c_lines(struct client *c)
{
	char *p = c->in, *end = c->in + c->in_len, *nl;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		c_line(c, p, (size_t)(nl - p));
		p = nl + 1;
	}
	c->in_len = (size_t)(end - p);
	memmove(c->in, p, c->in_len);
	if (c->in_len == IN_CAP)
		c->in_len = 0; /* a line this long is not ours */
}

/* n bytes from the hub for c. */
static void
c_input(struct client *c, const char *data, size_t n)
{
	while (n > 0 && c->fd >= 0) {
		size_t k = n < IN_CAP - c->in_len ? n : IN_CAP - c->in_len;

		memcpy(c->in + c->in_len, data, k);
		c->in_len += k;
		data += k;
		n -= k;
		c_lines(c);
	}
}

static void
c_gone(struct client *c)
{
	fprintf(stderr, "hubload: u%u: hub closed the connection\n", c->idx);
	c_close(c);
}

static void
c_read(struct client *c)
{
	for (;;) {
		ssize_t r =
		        recv(c->fd, c->in + c->in_len, IN_CAP - c->in_len, 0);

		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			c_gone(c);
			return;
		}
		c->in_len += (size_t)r;
		c_lines(c);
		if ((size_t)r < IN_CAP / 2)
			return;
	}
}

/* What io_uring brought for client i (uring_rx.h). */
static void
c_uring_data(void *arg, uint32_t i, const char *data, ssize_t n, int writable)
{
	struct client *c = &g.c[i];

	(void)arg;
	if (c->fd < 0)
		return;
	if (writable)
		c_flush(c);
	else if (n > 0)
		c_input(c, data, (size_t)n);
	else
		c_gone(c);
}

/* One round of the event loop, waiting at most timeout_ns. */
static void
poll_wait_ns(long long timeout_ns)
{
	struct epoll_event ev[MAX_EVENTS];
	struct timespec ts = { 0, 0 };
	int n;

	if (g.rx != NULL) {
		n = uring_rx_wait(g.rx, timeout_ns > 0 ? timeout_ns : 0,
		                  c_uring_data, NULL);
		if (n < 0) {
			errno = -n;
			die("uring_rx_wait");
		}
		if (n > 0) {
			g.wakeups++;
			g.events += (uint64_t)n;
		}
		return;
	}
	if (timeout_ns > 0) {
		ts.tv_sec = timeout_ns / 1000000000LL;
		ts.tv_nsec = timeout_ns % 1000000000LL;
	}
	n = epoll_pwait2(g.ep, ev, MAX_EVENTS, &ts, NULL);
	if (n < 0 && errno != EINTR)
		die("epoll_pwait2");
	if (n > 0) {
		g.wakeups++;
		g.events += (uint64_t)n;
	}
	for (int i = 0; i < n; i++) {
		struct client *c = &g.c[ev[i].data.u32];

		if (c->fd < 0)
			continue;
		if (ev[i].events & EPOLLOUT)
			c_flush(c);
		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			c_read(c);
	}
}

static void
poll_once(int timeout_ms)
{
	poll_wait_ns(timeout_ms * 1000000LL);
}

/* A chat line carrying its send time and its number k. */
static void
c_chat(struct client *c, uint64_t k)
{
	char line[96];
	int n = snprintf(line, sizeof(line), "BMSG %s t%lld_%llu\n", c->sid,
	                 latency_now_ns(), (unsigned long long)k);

	c_send(c, line, (size_t)n);
	c->inflight++;
	g.sent++;
}

/* Sequential logins of one extra client at light load. */
static void
light_logins(uint32_t k)
{
	long long *lat = calloc(k, sizeof(*lat));
	struct client *c = &g.c[g.n]; /* the spare slot */

	for (uint32_t i = 0; i < k; i++) {
		long long t0;

		c_connect(c);
		t0 = c->t0_ns;
		while (c->state != C_ON)
			poll_once(1000);
		lat[i] = latency_now_ns() - t0;
		c_close(c);
	}
	printf("light_login_ms_p50 %.3f\n", latency_sort_pct_ms(lat, k, 0.5));
	printf("light_login_ms_p99 %.3f\n", latency_sort_pct_ms(lat, k, 0.99));
	free(lat);
}

static void
storm(uint32_t concurrency)
{
	uint32_t next = 0;
	long long t0 = latency_now_ns(), t;
	long rss0 = hub_rss_kb();

	while (g.online < g.n) {
		while (next < g.n && next - g.online < concurrency)
			c_connect(&g.c[next++]);
		poll_once(100);
		if (latency_now_ns() - t0 > 120LL * 1000000000) {
			fprintf(stderr, "hubload: login storm timed out\n");
			exit(1);
		}
	}
	t = latency_now_ns() - t0;
	printf("users %u\nlogins_per_s %.0f\n", g.n, g.n / (t / 1e9));
	/* settle: let the last user lists drain and the hub notice it is
	 * idle (it trims its heap on a quiet tick) */
	for (long long end = latency_now_ns() + 3000000000LL;
	     latency_now_ns() < end;)
		poll_once(50);
	if (rss0 > 0) {
		long rss = hub_rss_kb();

		printf("hub_rss_kb %ld\nhub_rss_per_user_bytes %.0f\n", rss,
		       (rss - rss0) * 1024.0 / g.n);
	}
}

/* Wait until every line sent reached every user, or timeout_ms. */
static void
drain_deliveries(uint64_t want, int timeout_ms)
{
	long long end = latency_now_ns() + timeout_ms * 1000000LL;

	while (g.delivered < want && latency_now_ns() < end)
		poll_once(10);
}

static void
fixed_rate(double rate, double duration)
{
	double per_s = rate * g.n; /* lines per second from everyone */
	long long t0 = latency_now_ns(), step = (long long)(1e9 / per_s);
	long long cpu0 = hub_cpu_ns(), end = t0 + (long long)(duration * 1e9);
	long long self0 = latency_cpu_ns(), self;
	uint64_t k = 0, d0 = g.delivered, want, w0 = g.wakeups, e0 = g.events;
	double secs;

	if (latency_init(&g.lat, (uint64_t)(per_s * duration) + 2) != 0)
		die("calloc");
	g.measure = true;
	while (latency_now_ns() < end) {
		long long due = t0 + (long long)k * step,
		          now = latency_now_ns();

		while (due <= now && due < end && k < g.lat.lines) {
			c_chat(&g.c[k % g.n], k);
			k++;
			due = t0 + (long long)k * step;
		}
		poll_wait_ns((due < end ? due : end) - latency_now_ns());
	}
	want = d0 + k * g.n;
	drain_deliveries(want, 3000);
	secs = (latency_now_ns() - t0) / 1e9;
	self = latency_cpu_ns() - self0;
	g.measure = false;
	printf("rate_lines_per_s %.0f\nrate_deliveries %llu\n"
	       "rate_deliveries_per_s %.0f\nrate_lost %lld\n",
	       per_s, (unsigned long long)(g.delivered - d0),
	       (g.delivered - d0) / secs, (long long)(want - g.delivered));
	printf("latency_ms_p50 %.3f\nlatency_ms_p99 %.3f\nlatency_over_200ms "
	       "%llu\n",
	       latency_pct_ms(&g.lat, 0.50), latency_pct_ms(&g.lat, 0.99),
	       (unsigned long long)g.lat.over);
	printf("line_first_ms_p50 %.3f\nline_last_ms_p50 %.3f\n"
	       "line_last_ms_p99 %.3f\n",
	       latency_line_pct_ms(&g.lat, g.n, false, 0.5),
	       latency_line_pct_ms(&g.lat, g.n, true, 0.5),
	       latency_line_pct_ms(&g.lat, g.n, true, 0.99));
	printf("load_cpu_ns_per_delivery %.1f\nload_events_per_wakeup %.1f\n",
	       self / (double)(g.delivered - d0),
	       (double)(g.events - e0) /
	               (double)(g.wakeups - w0 ? g.wakeups - w0 : 1));
	if (cpu0 >= 0)
		printf("hub_cpu_ns_per_delivery %.1f\n",
		       (hub_cpu_ns() - cpu0) / (double)(g.delivered - d0));
	latency_fini(&g.lat);
}

static void
saturate(uint32_t senders, uint32_t window, double duration)
{
	long long t0, end, cpu0;
	uint64_t d0;
	double secs;

	g.saturating = true;
	if (senders > g.n)
		senders = g.n;
	/* warm up for half a second, then measure */
	for (int phase = 0; phase < 2; phase++) {
		t0 = latency_now_ns();
		end = t0 + (phase ? (long long)(duration * 1e9) : 500000000LL);
		d0 = g.delivered;
		cpu0 = hub_cpu_ns();
		while (latency_now_ns() < end) {
			for (uint32_t i = 0; i < senders; i++)
				while (g.c[i].state == C_ON &&
				       g.c[i].inflight < window)
					c_chat(&g.c[i], 0);
			poll_once(5);
		}
	}
	secs = (latency_now_ns() - t0) / 1e9;
	printf("sat_deliveries_per_s %.0f\n", (g.delivered - d0) / secs);
	if (cpu0 >= 0)
		printf("sat_hub_cpu_ns_per_delivery %.1f\n",
		       (hub_cpu_ns() - cpu0) / (double)(g.delivered - d0));
	/* let what is in flight arrive before we hang up */
	for (long long e = latency_now_ns() + 2000000000LL;
	     latency_now_ns() < e;) {
		bool busy = false;

		for (uint32_t i = 0; i < senders; i++)
			busy |= g.c[i].inflight > 0 && g.c[i].state == C_ON;
		if (!busy)
			break;
		poll_once(10);
	}
	g.saturating = false;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "addr", 1, 0, 'a' },        { "users", 1, 0, 'n' },
		{ "rate", 1, 0, 'r' },        { "duration", 1, 0, 'd' },
		{ "hub-pid", 1, 0, 'p' },     { "light-logins", 1, 0, 'l' },
		{ "concurrency", 1, 0, 'c' }, { "saturate", 1, 0, 's' },
		{ "senders", 1, 0, 'S' },     { "window", 1, 0, 'w' },
		{ "read-epoll", 0, 0, 'e' },  { 0, 0, 0, 0 },
	};
	const char *addr = "127.0.0.1:1511";
	double rate = 0, duration = 10, sat = 0;
	uint32_t light = 0, conc = 200, senders = 100, window = 8;
	struct rlimit rl;
	struct uring_rx rx;
	bool read_epoll = false;
	char host[64];
	int o, port;

	g.n = 100;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'a':
			addr = optarg;
			break;
		case 'n':
			g.n = args_u32("hubload", "users", optarg, 1, 1000000);
			break;
		case 'r':
			rate = args_num("hubload", "rate", optarg, 0, 1e6);
			break;
		case 'd':
			duration =
			        args_num("hubload", "duration", optarg, 0, 1e6);
			break;
		case 'p':
			g.hub_pid = (int)args_u32("hubload", "hub-pid", optarg,
			                          1, INT32_MAX);
			break;
		case 'l':
			light = args_u32("hubload", "light-logins", optarg, 0,
			                 1000000);
			break;
		case 'c':
			conc = args_u32("hubload", "concurrency", optarg, 1,
			                1000000);
			break;
		case 's':
			sat = args_num("hubload", "saturate", optarg, 0, 1e6);
			break;
		case 'S':
			senders = args_u32("hubload", "senders", optarg, 1,
			                   1000000);
			break;
		case 'e':
			read_epoll = true;
			break;
		case 'w':
			window = args_u32("hubload", "window", optarg, 1,
			                  1000000);
			break;
		default:
			fprintf(stderr,
			        "usage: see the comment atop hubload.c\n");
			return 2;
		}
	}
	g.addr.sin_family = AF_INET;
	if (sscanf(addr, "%63[^:]:%d", host, &port) != 2 || port < 1 ||
	    port > 65535 || inet_pton(AF_INET, host, &g.addr.sin_addr) != 1) {
		fprintf(stderr, "hubload: --addr '%s': want IPV4:PORT\n", addr);
		return 2;
	}
	g.addr.sin_port = htons((uint16_t)port);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	tiger_init_library();
	g.ep = epoll_create1(0);
	g.c = calloc(g.n + 1, sizeof(*g.c));
	if (g.ep < 0 || !g.c)
		die("setup");
	if (!read_epoll && uring_rx_init(&rx, g.n + 1) == 0)
		g.rx = &rx;
	printf("load_uring %d\n", g.rx != NULL);
	for (uint32_t i = 0; i <= g.n; i++) {
		g.c[i].fd = -1;
		g.c[i].idx = i;
		g.c[i].in = malloc(IN_CAP);
	}
	if (light)
		light_logins(light);
	storm(conc);
	if (rate > 0)
		fixed_rate(rate, duration);
	if (sat > 0)
		saturate(senders, window, sat);
	fflush(stdout);
	for (uint32_t i = 0; i <= g.n; i++) {
		c_close(&g.c[i]);
		free(g.c[i].in);
	}
	if (g.rx != NULL)
		uring_rx_fini(g.rx);
	free(g.c);
	return 0;
}
