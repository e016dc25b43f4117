// SPDX-License-Identifier: MIT
/* test_streams.c - what is special about pipes, FIFOs and sockets, beyond
 * the conformance suite: accept; stale and live UNIX socket files; the
 * sun_path limit; abstract names; ipk_inherit() through a real exec();
 * SIGPIPE never raised; FIFO atomicity for messages above PIPE_BUF with
 * several senders and receivers, and no torn message when a sender is
 * killed in the middle of one; fork safety; pollable fds that never lose
 * buffered messages; listing and removing names; malformed addresses.
 * `test_streams STREAM_PEER` (the helper that exec() starts). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdio.h"
#include "harness.h"
#include "ipckit.h"
#include "wait.h"

static const char *peer_program;

/* A message of len bytes: seq, len, FNV-1a of the rest. */
struct tag {
	uint32_t sender, seq, len, sum;
};

static void
fill(unsigned char *buf, size_t len, uint32_t sender, uint32_t seq)
{
	struct tag t = { sender, seq, (uint32_t)len, 0 };

	for (size_t i = sizeof(t); i < len; i++)
		buf[i] = (unsigned char)(seq * 31 + sender * 7 + i);
	t.sum = harness_fnv1a(buf + sizeof(t), len - sizeof(t));
	memcpy(buf, &t, sizeof(t));
}

static bool
check(const unsigned char *buf, size_t len, struct tag *out)
{
	struct tag t;

	if (len < sizeof(t))
		return false;
	memcpy(&t, buf, sizeof(t));
	if (out)
		*out = t;
	return t.len == len &&
	       t.sum == harness_fnv1a(buf + sizeof(t), len - sizeof(t));
}

/* Exchange one message each way between a and b. */
static void
ping(struct ipk_chan *a, struct ipk_chan *b)
{
	char buf[16];

	assert_int_equal(ipk_send(a, "ping", 4, 2000), 4);
	assert_int_equal(ipk_recv(b, buf, sizeof(buf), 2000), 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(ipk_send(b, "pong", 4, 2000), 4);
	assert_int_equal(ipk_recv(a, buf, sizeof(buf), 2000), 4);
	assert_memory_equal(buf, "pong", 4);
}

/* A client connects to listener l and one message goes each way. */
static void
serve_once(struct ipk_chan *l)
{
	struct ipk_chan *c, *s;

	assert_int_equal(ipk_open(&c, ipk_address(l), 0, 1000), 0);
	assert_int_equal(ipk_accept(l, &s, 1000), 0);
	ping(c, s);
	ipk_close(s);
	ipk_close(c);
}

/* ---- accept ---- */

static void
test_accept(void **state)
{
	char path[256], addr[300];
	struct ipk_chan *l, *c1, *c2, *s1, *s2, *none;
	struct pollfd q;
	char buf[16];

	(void)state;
	harness_path(path, sizeof(path), "acc");
	snprintf(addr, sizeof(addr), "unix:%s", path);
	assert_int_equal(ipk_listen(&l, addr, 0), 0);
	assert_true(ipk_caps(l) & IPK_CAP_LISTENER);
	assert_int_equal(ipk_max_msg(l), 0);
	/* Nobody yet: not ready, and a timeout is a timeout. */
	assert_int_equal(ipk_accept(l, &s1, 0), -EAGAIN);
	assert_null(s1);
	assert_int_equal(ipk_accept(l, &s1, 50), -ETIMEDOUT);
	assert_int_equal(ipk_open(&c1, addr, 0, 1000), 0);
	/* The listener's fd wakes for a waiting connection. */
	q = (struct pollfd){ .fd = ipk_pollfd(l), .events = POLLIN };
	assert_int_equal(poll(&q, 1, 2000), 1);
	assert_int_equal(ipk_open(&c2, addr, 0, 1000), 0);
	assert_int_equal(ipk_accept(l, &s1, 1000), 0);
	assert_int_equal(ipk_accept(l, &s2, 1000), 0);
	/* Each accepted end talks to its own client. */
	assert_int_equal(ipk_send(c2, "two", 3, 1000), 3);
	assert_int_equal(ipk_send(c1, "one", 3, 1000), 3);
	assert_int_equal(ipk_recv(s1, buf, sizeof(buf), 1000), 3);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(ipk_recv(s2, buf, sizeof(buf), 1000), 3);
	assert_memory_equal(buf, "two", 3);
	/* Accept is for listeners only. */
	assert_int_equal(ipk_accept(s1, &none, 0), IPK_EKIND);
	assert_null(none);
	ipk_close(s1);
	ipk_close(s2);
	ipk_close(c2);
	ipk_close(l);
	/* The listener removed its socket file. */
	assert_int_equal(access(path, F_OK), -1);
	ipk_close(c1);
}

/* ---- UNIX socket files ---- */

/* A socket file left by a server that died: bound, never unlinked. */
static void
make_stale_socket(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
}

static void
test_stale_socket_replaced(void **state)
{
	char path[256], addr[300];
	struct ipk_chan *l, *c;
	struct stat st;

	(void)state;
	harness_path(path, sizeof(path), "stale");
	snprintf(addr, sizeof(addr), "unix:%s", path);
	make_stale_socket(path);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* Nobody answers there: the file is replaced. */
	assert_int_equal(ipk_open(&c, addr, 0, 500), -ECONNREFUSED);
	assert_int_equal(ipk_listen(&l, addr, 0), 0);
	serve_once(l);
	ipk_close(l);
	/* A file that is not a socket is never replaced. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(ipk_listen(&l, addr, 0), -EADDRINUSE);
	assert_non_null(strstr(ipk_errdetail(), "not a socket"));
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	unlink(path);
}

static void
test_live_socket_refused(void **state)
{
	char path[256], addr[300];
	struct ipk_chan *l, *l2 = NULL;

	(void)state;
	harness_path(path, sizeof(path), "live");
	snprintf(addr, sizeof(addr), "unix+seqpacket:%s", path);
	assert_int_equal(ipk_listen(&l, addr, 0), 0);
	assert_int_equal(ipk_listen(&l2, addr, 0), -EADDRINUSE);
	assert_null(l2);
	assert_non_null(strstr(ipk_errdetail(), "listening"));
	/* ipk_unlink refuses too. */
	assert_int_equal(ipk_unlink(addr), -EBUSY);
	/* The first server is untouched. */
	serve_once(l);
	ipk_close(l);
	assert_int_equal(access(path, F_OK), -1);
}

/* A child that inherits a listener and closes it leaves the file. */
static int
close_listener_child(void *arg)
{
	ipk_close(arg);
	return 0;
}

static void
test_forked_listener_close(void **state)
{
	char path[256], addr[300];
	struct ipk_chan *l;
	pid_t pid;

	(void)state;
	harness_path(path, sizeof(path), "fork");
	snprintf(addr, sizeof(addr), "unix:%s", path);
	assert_int_equal(ipk_listen(&l, addr, 0), 0);
	pid = fork_child(close_listener_child, l);
	assert_true(pid > 0);
	assert_int_equal(wait_child(pid, 5000), 0);
	assert_int_equal(access(path, F_OK), 0);
	serve_once(l);
	ipk_close(l);
}

static void
test_socket_mode(void **state)
{
	char path[256], addr[300];
	struct ipk_chan *l;
	struct stat st;
	mode_t old = umask(022);

	(void)state;
	harness_path(path, sizeof(path), "mode");
	snprintf(addr, sizeof(addr), "unix:%s", path);
	assert_int_equal(ipk_listen(&l, addr, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	ipk_close(l);
	/* Wider than the umask allows: set exactly anyway. */
	snprintf(addr, sizeof(addr), "unix:%s?mode=0660", path);
	assert_int_equal(ipk_listen(&l, addr, 0), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	ipk_close(l);
	umask(old);
}

static void
test_path_too_long(void **state)
{
	char addr[400];
	struct ipk_chan *l = NULL;
	int n;

	(void)state;
	n = snprintf(addr, sizeof(addr), "unix:%s/", harness_tmpdir());
	memset(addr + n, 'x', 120);
	addr[n + 120] = '\0';
	assert_int_equal(ipk_listen(&l, addr, 0), -ENAMETOOLONG);
	assert_null(l);
	assert_non_null(strstr(ipk_errdetail(), "107"));
	assert_int_equal(ipk_open(&l, addr, 0, 100), -ENAMETOOLONG);
	/* An abstract name of exactly 107 bytes fits; 108 does not. */
	memset(addr, 0, sizeof(addr));
	strcpy(addr, "unix:@");
	memset(addr + 6, 'y', 107);
	assert_int_equal(ipk_listen(&l, addr, 0), 0);
	ipk_close(l);
	addr[6 + 107] = 'y';
	assert_int_equal(ipk_listen(&l, addr, 0), -ENAMETOOLONG);
}

static void
test_abstract(void **state)
{
	char name[128], addr[160];
	struct ipk_chan *l, *l2 = NULL, *c;

	(void)state;
	harness_name(name, sizeof(name), "abs");
	snprintf(addr, sizeof(addr), "unix:@%s", name);
	assert_int_equal(ipk_listen(&l, addr, 0), 0);
	assert_string_equal(ipk_address(l), addr);
	/* No file anywhere: not in the working directory either. */
	assert_int_equal(access(name, F_OK), -1);
	assert_int_equal(access(addr + 5, F_OK), -1);
	assert_int_equal(ipk_listen(&l2, addr, 0), -EADDRINUSE);
	serve_once(l);
	ipk_close(l);
	/* The name went with the socket. */
	assert_int_equal(ipk_open(&c, addr, 0, 100), -ECONNREFUSED);
}

/* ---- ipk_inherit() and exec() ---- */

static void
test_inherit_exec(void **state)
{
	struct ipk_chan *a, *b;
	char addr[64], fd1[16], fd2[16], buf[64];
	struct proc p;
	int status = -1;

	(void)state;
	assert_int_equal(ipk_pair(&a, &b), 0);
	assert_int_equal(ipk_inherit(b, addr, 4), -ENOSPC);
	assert_int_equal(ipk_inherit(b, addr, sizeof(addr)), 0);
	assert_int_equal(strncmp(addr, "pipe:", 5), 0);
	/* The child must not get a's ends: they stay close-on-exec. */
	{
		int r, w;

		assert_int_equal(sscanf(ipk_address(a), "pipe:%d,%d", &r, &w),
		                 2);
		snprintf(fd1, sizeof(fd1), "%d", r);
		snprintf(fd2, sizeof(fd2), "%d", w);
	}
	{
		char prog[512];
		char *argv[] = { prog, addr, fd1, fd2, NULL };

		snprintf(prog, sizeof(prog), "%s", peer_program);

		assert_int_equal(proc_start(&p, argv, false, 5000), 0);
	}
	/* The parent lets go of the child's ends. */
	ipk_close(b);
	assert_int_equal(ipk_send(a, "hello", 5, 5000), 5);
	assert_int_equal(ipk_recv(a, buf, sizeof(buf), 5000), 10);
	assert_memory_equal(buf, "echo:hello", 10);
	assert_int_equal(ipk_send(a, "", 0, 5000), 0);
	assert_int_equal(ipk_recv(a, buf, sizeof(buf), 5000), 5);
	ipk_close(a);
	assert_int_equal(proc_wait(&p, 5000, &status), 0);
	assert_int_equal(status, 0);
}

/* "pipe:" is stdin and stdout: the helper's are two pipes whose other
 * ends this process wraps as "pipe:R,W". */
static void
test_stdio_pipe(void **state)
{
	int to_child[2], from_child[2];
	struct ipk_chan *ch;
	char addr[64], buf[64];
	pid_t pid;

	(void)state;
	assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
	assert_int_equal(pipe2(from_child, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (dup2(to_child[0], 0) != 0 || dup2(from_child[1], 1) != 1)
			_exit(126);
		execl(peer_program, peer_program, "pipe:", (char *)NULL);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	snprintf(addr, sizeof(addr), "pipe:%d,%d", from_child[0], to_child[1]);
	assert_int_equal(ipk_open(&ch, addr, 0, 0), 0);
	/* The channel owns them now: close-on-exec again. */
	assert_int_equal(fcntl(from_child[0], F_GETFD), FD_CLOEXEC);
	assert_int_equal(ipk_send(ch, "stdio", 5, 5000), 5);
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 5000), 10);
	assert_memory_equal(buf, "echo:stdio", 10);
	ipk_close(ch);
	/* Its end of stdin seen, the helper closes and exits. */
	assert_int_equal(wait_child(pid, 5000), 0);
}

static void
test_inherit_refused(void **state)
{
	char path[256], addr[300], out[64];
	struct ipk_chan *ch;

	(void)state;
	harness_path(path, sizeof(path), "inh");
	snprintf(addr, sizeof(addr), "fifo:%s", path);
	assert_int_equal(ipk_open(&ch, addr, 0, 1000), 0);
	assert_int_equal(ipk_inherit(ch, out, sizeof(out)), -ENOTSUP);
	assert_true(strlen(ipk_errdetail()) > 0);
	ipk_close(ch);
	ipk_unlink(addr);
}

/* ---- SIGPIPE ---- */

static bool
sigpipe_pending(void)
{
	sigset_t set;

	sigpending(&set);
	return sigismember(&set, SIGPIPE) == 1;
}

static void
send_to_closed_pipe(void)
{
	struct ipk_chan *a, *b;

	assert_int_equal(ipk_pair(&a, &b), 0);
	ipk_close(b);
	assert_int_equal(ipk_send(a, "x", 1, 1000), -EPIPE);
	assert_int_equal(ipk_send(a, "x", 1, 0), -EPIPE);
	ipk_close(a);
}

static void
test_no_sigpipe(void **state)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	sigset_t mask, after, pipe_set;
	struct ipk_chan *l, *c, *s;
	char name[128], addr[160];
	struct timespec zero = { 0, 0 };

	(void)state;
	/* With the default action, a SIGPIPE would end this process. */
	sigemptyset(&dfl.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &dfl, &old), 0);
	pthread_sigmask(SIG_SETMASK, NULL, &mask);
	send_to_closed_pipe();
	/* The same through the fallback (no RWF_NOSIGNAL): blocked, the
	 * signal is consumed, the mask comes back. */
	fdio_test_force_fallback(true);
	send_to_closed_pipe();
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	for (int sig = 1; sig < SIGRTMIN; sig++)
		assert_int_equal(sigismember(&mask, sig),
		                 sigismember(&after, sig));
	assert_false(sigpipe_pending());
	/* A SIGPIPE that was pending before is not ours to take. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
	raise(SIGPIPE);
	send_to_closed_pipe();
	assert_true(sigpipe_pending());
	assert_int_equal(sigtimedwait(&pipe_set, NULL, &zero), SIGPIPE);
	pthread_sigmask(SIG_SETMASK, &mask, NULL);
	fdio_test_force_fallback(false);
	/* Sockets: MSG_NOSIGNAL. */
	harness_name(name, sizeof(name), "sig");
	snprintf(addr, sizeof(addr), "unix:@%s", name);
	assert_int_equal(ipk_listen(&l, addr, 0), 0);
	assert_int_equal(ipk_open(&c, addr, 0, 1000), 0);
	assert_int_equal(ipk_accept(l, &s, 1000), 0);
	ipk_close(s);
	assert_int_equal(ipk_send(c, "x", 1, 1000), -EPIPE);
	ipk_close(c);
	ipk_close(l);
	sigaction(SIGPIPE, &old, NULL);
}

/* ---- FIFO atomicity ---- */

#define ATOM_SENDERS   4
#define ATOM_RECEIVERS 2
#define ATOM_COUNT     120
#define ATOM_MAX       (200u << 10)

struct board {
	atomic_uint corrupt;
	atomic_uint counts[ATOM_SENDERS][ATOM_COUNT];
};

static char atom_addr[300];

/* Sizes around every edge: one packet, one packet as a long message,
 * a page alone in its packet, two packets, many. */
static size_t
atom_len(uint32_t sender, uint32_t seq)
{
	static const size_t edges[] = { 16,   4080, 4081, 4084, 4085, 4095,
		                        4096, 4096, 4097, 8168, 8169, 65536 };
	uint32_t x = (sender * 2654435761u) ^ (seq * 40503u);

	x = x * 1103515245u + 12345u;
	if (seq % 3 == 0)
		return edges[(x >> 8) % (sizeof(edges) / sizeof(edges[0]))];
	return sizeof(struct tag) + (x >> 4) % (ATOM_MAX - sizeof(struct tag));
}

static int
atom_sender(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	unsigned char *buf = malloc(ATOM_MAX);
	struct ipk_chan *ch;

	if (buf == NULL || ipk_open(&ch, atom_addr, IPK_NOCREATE, 5000))
		return 10;
	for (uint32_t seq = 0; seq < ATOM_COUNT; seq++) {
		size_t len = atom_len(id, seq);
		/* Some held back and coalesced (IPK_MORE), most not. */
		struct ipk_msginfo mi = { .flags = seq % 4 ? 0 : IPK_MORE };

		fill(buf, len, id, seq);
		if (ipk_sendx(ch, buf, len, &mi, 30000) != (ssize_t)len)
			return 11;
	}
	if (ipk_flush(ch, 30000) != 0)
		return 12;
	ipk_close(ch);
	free(buf);
	return 0;
}

static int
atom_receiver(void *arg)
{
	struct board *b = arg;
	unsigned char *buf = malloc(ATOM_MAX);
	struct ipk_chan *ch;

	if (buf == NULL || ipk_open(&ch, atom_addr, IPK_NOCREATE, 5000))
		return 10;
	for (;;) {
		ssize_t n = ipk_recv(ch, buf, ATOM_MAX, 30000);
		struct tag t;

		if (n == 4 && memcmp(buf, "stop", 4) == 0)
			break;
		if (n < 0)
			return 12;
		if (!check(buf, (size_t)n, &t) || t.sender >= ATOM_SENDERS ||
		    t.seq >= ATOM_COUNT) {
			atomic_fetch_add(&b->corrupt, 1);
			continue;
		}
		atomic_fetch_add(&b->counts[t.sender][t.seq], 1);
	}
	ipk_close(ch);
	free(buf);
	return 0;
}

static void
test_fifo_atomic_above_pipe_buf(void **state)
{
	char path[256];
	struct ipk_chan *owner;
	struct board *b;
	pid_t pids[ATOM_SENDERS + ATOM_RECEIVERS];

	(void)state;
	harness_path(path, sizeof(path), "atom");
	snprintf(atom_addr, sizeof(atom_addr), "fifo:%s", path);
	assert_int_equal(ipk_open(&owner, atom_addr, 0, 1000), 0);
	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(b != MAP_FAILED);
	for (int i = 0; i < ATOM_RECEIVERS; i++)
		pids[i] = fork_child(atom_receiver, b);
	for (int i = 0; i < ATOM_SENDERS; i++)
		pids[ATOM_RECEIVERS + i] =
		        fork_child(atom_sender, (void *)(uintptr_t)i);
	for (int i = ATOM_RECEIVERS; i < ATOM_RECEIVERS + ATOM_SENDERS; i++)
		assert_int_equal(wait_child(pids[i], 60000), 0);
	for (int i = 0; i < ATOM_RECEIVERS; i++)
		assert_int_equal(ipk_send(owner, "stop", 4, 10000), 4);
	for (int i = 0; i < ATOM_RECEIVERS; i++)
		assert_int_equal(wait_child(pids[i], 60000), 0);
	assert_int_equal(atomic_load(&b->corrupt), 0);
	for (int s = 0; s < ATOM_SENDERS; s++)
		for (int q = 0; q < ATOM_COUNT; q++)
			assert_int_equal(atomic_load(&b->counts[s][q]), 1);
	munmap(b, sizeof(*b));
	ipk_close(owner);
	assert_int_equal(ipk_unlink(atom_addr), 0);
}

/* ---- FIFO: a sender killed in the middle of a long message ---- */

static int
long_sender(void *arg)
{
	size_t len = 4u << 20;
	unsigned char *buf = malloc(len);
	struct ipk_chan *ch;

	(void)arg;
	if (buf == NULL || ipk_open(&ch, atom_addr, IPK_NOCREATE, 5000))
		return 10;
	fill(buf, len, 9, 1);
	/* Blocks in the middle: the FIFO holds 64 KiB. */
	ipk_send(ch, buf, len, 60000);
	return 11;
}

/* Until child pid has stopped (SIGSTOP): 0, or -1. */
static int
wait_stopped(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, WUNTRACED) != pid)
		return -1;
	return WIFSTOPPED(status) ? 0 : -1;
}

/* Until the FIFO has `bytes` queued (another descriptor looks). */
static void
wait_queued(const char *path, int bytes)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), q = 0;
	int64_t end = harness_now_ms() + 10000;

	assert_true(fd >= 0);
	while (harness_now_ms() < end) {
		struct pollfd none = { .fd = -1 };

		assert_int_equal(ioctl(fd, FIONREAD, &q), 0);
		if (q >= bytes)
			break;
		poll(&none, 0, 1);
	}
	close(fd);
	assert_true(q >= bytes);
}

static void
test_fifo_killed_mid_message(void **state)
{
	char path[256];
	struct ipk_chan *rx, *tx;
	unsigned char *buf = malloc(4u << 20);
	struct tag t;
	pid_t pid;

	(void)state;
	assert_non_null(buf);
	harness_path(path, sizeof(path), "kill");
	/* The kernel's default 64 KiB: 16 packets. */
	snprintf(atom_addr, sizeof(atom_addr), "fifo:%s?size=65536", path);
	assert_int_equal(ipk_open(&rx, atom_addr, 0, 1000), 0);

	/* 1: killed with the first part still in the FIFO. */
	pid = fork_child(long_sender, NULL);
	wait_queued(path, 16 * 4096);
	kill(pid, SIGKILL);
	assert_int_equal(wait_child(pid, 5000), 128 + SIGKILL);
	assert_int_equal(ipk_recv(rx, buf, 4u << 20, 500), -ETIMEDOUT);

	/* 2: killed while this receiver holds the first part.  The sender
	 * is stopped while we take that part: a receive that does not wait
	 * still reads for as long as bytes keep coming, and a sender that
	 * refills the FIFO faster than a slow receiver (a sanitizer build)
	 * empties it would hand over the whole message. */
	pid = fork_child(long_sender, NULL);
	wait_queued(path, 16 * 4096);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(wait_stopped(pid), 0);
	assert_int_equal(ipk_recv(rx, buf, 4u << 20, 0), -EAGAIN);
	assert_int_equal(kill(pid, SIGCONT), 0);
	wait_queued(path, 8 * 4096);
	kill(pid, SIGKILL);
	assert_int_equal(wait_child(pid, 5000), 128 + SIGKILL);
	assert_int_equal(ipk_recv(rx, buf, 4u << 20, 500), -ETIMEDOUT);

	/* Later messages, long and short, are untouched (both fit the
	 * FIFO, as this thread also receives them). */
	assert_int_equal(ipk_open(&tx, atom_addr, IPK_NOCREATE, 1000), 0);
	fill(buf, 50000, 1, 2);
	assert_int_equal(ipk_send(tx, buf, 50000, 5000), 50000);
	fill(buf, 100, 1, 3);
	assert_int_equal(ipk_send(tx, buf, 100, 5000), 100);
	assert_int_equal(ipk_recv(rx, buf, 4u << 20, 5000), 50000);
	assert_true(check(buf, 50000, &t));
	assert_int_equal(t.seq, 2);
	assert_int_equal(ipk_recv(rx, buf, 4u << 20, 5000), 100);
	assert_true(check(buf, 100, &t));
	assert_int_equal(t.seq, 3);
	ipk_close(tx);
	ipk_close(rx);
	assert_int_equal(ipk_unlink(atom_addr), 0);
	free(buf);
}

/* ---- sockets: a bounded receive waits in the read ---- */

/* fdio_readv_until on a socket: bytes that come later arrive within the
 * deadline; the deadline holds; and a description made O_NONBLOCK behind
 * fdio's back (another process sharing it) is waited on with poll(), not
 * spun on. */
static void
test_socket_read_until(void **state)
{
	int sv[2];
	struct fdio f;
	char c = 0;
	struct iovec v = { &c, 1 };
	int64_t t0, c0, el;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fdio_init(&f, sv[0]), 0);
	assert_true(fdio_timed(&f));
	assert_int_equal(write(sv[1], "a", 1), 1);
	assert_int_equal(fdio_readv_until(&f, &v, 1, wait_deadline(5000)), 1);
	assert_int_equal(c, 'a');
	/* nothing comes: -EAGAIN by the deadline, not after it */
	t0 = harness_now_ms();
	assert_int_equal(fdio_readv_until(&f, &v, 1, wait_deadline(300)),
	                 -EAGAIN);
	el = harness_now_ms() - t0;
	assert_true(el >= 299);
	assert_true(el < 3000);
	/* O_NONBLOCK set behind its back */
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	t0 = harness_now_ms();
	c0 = harness_cpu_ms();
	assert_int_equal(fdio_readv_until(&f, &v, 1, wait_deadline(300)),
	                 -EAGAIN);
	el = harness_now_ms() - t0;
	assert_true(el >= 299);
	assert_true(harness_cpu_ms() - c0 < 100);
	close(sv[0]);
	close(sv[1]);
}

/* ---- FIFO: a page alone in its packet ---- */

/* Bytes queued in the FIFO at path, as another descriptor sees them. */
static int
fifo_queued(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC), q = -1;

	assert_true(fd >= 0);
	assert_int_equal(ioctl(fd, FIONREAD, &q), 0);
	close(fd);
	return q;
}

/* A message of exactly a page whose first byte is not the packet magic
 * (0xf1) goes as one packet with no header; one that starts with the
 * magic is framed as a long message.  Both come out whole and in order,
 * alone and among held (IPK_MORE) small and long messages. */
static void
test_fifo_page_messages(void **state)
{
	static const size_t sizes[] = { 20, 4096, 4096, 4080, 4097, 4096 };
	struct ipk_msginfo more = { .flags = IPK_MORE };
	unsigned char out[8192], in[8192];
	char path[256], addr[300];
	struct ipk_chan *tx, *rx;
	struct tag t;

	(void)state;
	harness_path(path, sizeof(path), "page");
	snprintf(addr, sizeof(addr), "fifo:%s", path);
	assert_int_equal(ipk_open(&tx, addr, 0, 1000), 0);
	assert_int_equal(ipk_open(&rx, addr, IPK_NOCREATE, 1000), 0);

	fill(out, 4096, 0, 1); /* first byte: the tag's sender, 0 */
	assert_int_equal(ipk_send(tx, out, 4096, 1000), 4096);
	assert_int_equal(fifo_queued(path), 4096);
	assert_int_equal(ipk_recv(rx, in, sizeof(in), 1000), 4096);
	assert_memory_equal(in, out, 4096);

	fill(out, 4096, 0xf1, 2);
	assert_int_equal(out[0], 0xf1);
	assert_int_equal(ipk_send(tx, out, 4096, 1000), 4096);
	assert_true(fifo_queued(path) > 4096);
	assert_int_equal(ipk_recv(rx, in, sizeof(in), 1000), 4096);
	assert_memory_equal(in, out, 4096);

	/* 30 messages, 40 packets: more than the 16 a sender holds, less
	 * than the 64 the FIFO holds. */
	for (uint32_t i = 0; i < 30; i++) {
		size_t len = sizes[i % 6];

		fill(out, len, i % 6 == 2 ? 0xf1 : 0, i);
		assert_int_equal(ipk_sendx(tx, out, len, &more, 1000),
		                 (ssize_t)len);
	}
	assert_int_equal(ipk_flush(tx, 1000), 0);
	for (uint32_t i = 0; i < 30; i++) {
		ssize_t n = ipk_recv(rx, in, sizeof(in), 1000);

		assert_int_equal(n, (ssize_t)sizes[i % 6]);
		assert_true(check(in, (size_t)n, &t));
		assert_int_equal(t.seq, i);
		assert_int_equal(t.sender, i % 6 == 2 ? 0xf1 : 0);
	}
	assert_int_equal(ipk_recv(rx, in, sizeof(in), 0), -EAGAIN);
	assert_int_equal(fifo_queued(path), 0);
	ipk_close(tx);
	ipk_close(rx);
	assert_int_equal(ipk_unlink(addr), 0);
}

/* ---- fork safety ---- */

static int
fork_receiver(void *arg)
{
	struct ipk_chan *ch = arg; /* inherited from the parent */
	unsigned char buf[2048];
	struct tag t;

	for (uint32_t i = 0; i < 2000; i++) {
		ssize_t n = ipk_recv(ch, buf, sizeof(buf), 10000);

		if (n != 1000 || !check(buf, 1000, &t) || t.seq != i)
			return 12;
	}
	return 0;
}

/* A FIFO channel used by a forked child: no false -EPIPE for a parent
 * that fills the FIFO before the child has done anything. */
static void
test_fifo_forked_channel(void **state)
{
	char path[256], addr[300];
	struct ipk_chan *ch;
	unsigned char buf[1000];
	pid_t pid;

	(void)state;
	harness_path(path, sizeof(path), "fch");
	snprintf(addr, sizeof(addr), "fifo:%s", path);
	assert_int_equal(ipk_open(&ch, addr, 0, 1000), 0);
	pid = fork_child(fork_receiver, ch);
	for (uint32_t i = 0; i < 2000; i++) {
		fill(buf, sizeof(buf), 0, i);
		assert_int_equal(ipk_send(ch, buf, sizeof(buf), 10000),
		                 (ssize_t)sizeof(buf));
	}
	assert_int_equal(wait_child(pid, 20000), 0);
	ipk_close(ch);
	ipk_unlink(addr);
}

static int
close_child(void *arg)
{
	/* ipk_close() flushes: held messages are the parent's, not ours. */
	return ipk_close(arg) == 0 ? 0 : 1;
}

/* IPK_MORE messages held when the process forks go out once. */
static void
held_messages_once(struct ipk_chan *tx, struct ipk_chan *rx)
{
	struct ipk_msginfo more = { .flags = IPK_MORE };
	char buf[16];
	pid_t pid;

	for (int i = 0; i < 3; i++)
		assert_int_equal(ipk_sendx(tx, "held", 4, &more, 1000), 4);
	pid = fork_child(close_child, tx);
	assert_int_equal(wait_child(pid, 5000), 0);
	assert_int_equal(ipk_flush(tx, 1000), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 2000), 4);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 100), -ETIMEDOUT);
}

/* Run check(tx, rx) over a pipe pair, two channels on one FIFO and, with
 * tcp, a TCP connection. */
static void
on_pairs(void (*check_fn)(struct ipk_chan *tx, struct ipk_chan *rx), bool tcp)
{
	char path[256], addr[300];
	struct ipk_chan *a, *b, *l;

	assert_int_equal(ipk_pair(&a, &b), 0);
	check_fn(a, b);
	ipk_close(a);
	ipk_close(b);
	harness_path(path, sizeof(path), "pair");
	snprintf(addr, sizeof(addr), "fifo:%s", path);
	assert_int_equal(ipk_open(&a, addr, 0, 1000), 0);
	assert_int_equal(ipk_open(&b, addr, 0, 1000), 0);
	check_fn(a, b);
	ipk_close(a);
	ipk_close(b);
	assert_int_equal(ipk_unlink(addr), 0);
	if (!tcp)
		return;
	assert_int_equal(ipk_listen(&l, "tcp:127.0.0.1:0", 0), 0);
	assert_int_equal(ipk_open(&a, ipk_address(l), 0, 1000), 0);
	assert_int_equal(ipk_accept(l, &b, 1000), 0);
	check_fn(a, b);
	ipk_close(a);
	ipk_close(b);
	ipk_close(l);
}

static void
test_held_messages_not_doubled(void **state)
{
	(void)state;
	on_pairs(held_messages_once, false);
}

/* ---- pollable fds never lose buffered messages ---- */

static void
one_per_wakeup(struct ipk_chan *tx, struct ipk_chan *rx)
{
	struct ipk_msginfo more = { .flags = IPK_MORE };
	struct pollfd q = { .fd = ipk_pollfd(rx), .events = POLLIN };
	char buf[16];

	assert_true(q.fd >= 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(ipk_sendx(tx, "m", 1, &more, 1000), 1);
	assert_int_equal(ipk_flush(tx, 1000), 0);
	/* One message per wake-up, as a level-triggered loop would. */
	for (int i = 0; i < 10; i++) {
		q.revents = 0;
		assert_int_equal(poll(&q, 1, 2000), 1);
		assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 0), 1);
	}
	assert_int_equal(poll(&q, 1, 0), 0);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 0), -EAGAIN);
}

static void
test_pollfd_buffered(void **state)
{
	(void)state;
	on_pairs(one_per_wakeup, true);
}

/* A record too long for the buffer waits in the channel, and its
 * pollable fd says so. */
static void
test_seqpacket_held(void **state)
{
	char name[128], addr[160];
	unsigned char out[300], in[300];
	struct ipk_chan *l, *c, *s;
	struct pollfd q;

	(void)state;
	harness_name(name, sizeof(name), "seq");
	snprintf(addr, sizeof(addr), "unix+seqpacket:@%s", name);
	assert_int_equal(ipk_listen(&l, addr, 0), 0);
	assert_int_equal(ipk_open(&c, addr, 0, 1000), 0);
	assert_int_equal(ipk_accept(l, &s, 1000), 0);
	fill(out, sizeof(out), 1, 1);
	assert_int_equal(ipk_send(c, out, sizeof(out), 1000), sizeof(out));
	assert_int_equal(ipk_send(c, "", 0, 1000), 0);
	q = (struct pollfd){ .fd = ipk_pollfd(s), .events = POLLIN };
	assert_int_equal(ipk_recv(s, in, 100, 1000), -EMSGSIZE);
	assert_int_equal(ipk_peek_size(s, NULL, 0), sizeof(out));
	assert_int_equal(poll(&q, 1, 0), 1);
	assert_int_equal(ipk_recv(s, in, sizeof(in), 0), sizeof(out));
	assert_true(check(in, sizeof(out), NULL));
	/* The empty one after it is a message, not the end. */
	assert_int_equal(ipk_recv(s, in, sizeof(in), 1000), 0);
	assert_int_equal(poll(&q, 1, 0), 0);
	ipk_close(c);
	assert_int_equal(ipk_recv(s, in, sizeof(in), 1000), -EPIPE);
	ipk_close(s);
	ipk_close(l);
}

/* ---- names ---- */

struct found {
	const char *want;
	int hits;
};

static int
find_cb(const struct ipk_object *obj, void *arg)
{
	struct found *f = arg;

	if (strcmp(obj->address, f->want) == 0) {
		f->hits++;
		assert_int_equal(obj->owner, getuid());
		assert_int_equal(obj->creator_pid, getpid());
	}
	return 0;
}

static int
count(const char *address)
{
	struct found f = { address, 0 };

	assert_int_equal(ipk_list(find_cb, &f), 0);
	return f.hits;
}

static void
test_list_and_unlink(void **state)
{
	char path[256], addr[300], uaddr[300];
	struct ipk_chan *ch, *l;
	struct stat st;
	mode_t old = umask(022);
	int fd;

	(void)state;
	harness_path(path, sizeof(path), "list");
	snprintf(addr, sizeof(addr), "fifo:%s?mode=0640", path);
	assert_int_equal(ipk_open(&ch, addr, IPK_EXCL, 1000), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	snprintf(addr, sizeof(addr), "fifo:%s", path);
	assert_int_equal(count(addr), 1);
	ipk_close(ch);
	/* Closing never removes a name; ipk_unlink does. */
	assert_int_equal(count(addr), 1);
	assert_int_equal(ipk_open(&ch, addr, IPK_EXCL, 1000), -EEXIST);
	assert_int_equal(ipk_unlink(addr), 0);
	assert_int_equal(count(addr), 0);
	assert_int_equal(ipk_unlink(addr), -ENOENT);
	assert_int_equal(ipk_open(&ch, addr, IPK_NOCREATE, 1000), -ENOENT);
	/* Never a file that is not a FIFO. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "data", 4), 4);
	close(fd);
	assert_int_equal(ipk_open(&ch, addr, 0, 1000), -EINVAL);
	assert_int_equal(ipk_unlink(addr), -EINVAL);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4);
	unlink(path);

	snprintf(uaddr, sizeof(uaddr), "unix:%s", path);
	assert_int_equal(ipk_listen(&l, uaddr, 0), 0);
	assert_int_equal(count(uaddr), 1);
	ipk_close(l);
	assert_int_equal(count(uaddr), 0);
	/* A stale socket file: ipk_unlink removes it. */
	make_stale_socket(path);
	assert_int_equal(ipk_unlink(uaddr), 0);
	assert_int_equal(access(path, F_OK), -1);
	umask(old);
}

/* ---- tcp and udp ---- */

static void
test_tcp(void **state)
{
	struct ipk_chan *l, *c;
	char addr[64];
	unsigned port = 0;

	(void)state;
	assert_int_equal(ipk_listen(&l, "tcp:127.0.0.1:0", 0), 0);
	assert_int_equal(sscanf(ipk_address(l), "tcp:127.0.0.1:%u", &port), 1);
	assert_true(port > 0 && port < 65536);
	snprintf(addr, sizeof(addr), "%s", ipk_address(l));
	serve_once(l);
	ipk_close(l);
	assert_int_equal(ipk_open(&c, addr, 0, 1000), -ECONNREFUSED);
	assert_non_null(strstr(ipk_errdetail(), "refused"));
	/* IPv6 where the machine has it. */
	if (ipk_listen(&l, "tcp:[::1]:0", 0) == 0) {
		assert_int_equal(strncmp(ipk_address(l), "tcp:[::1]:", 10), 0);
		serve_once(l);
		ipk_close(l);
	} else {
		print_message("# no IPv6 loopback here\n");
	}
}

static void
test_udp_no_listener(void **state)
{
	struct ipk_chan *l, *c;
	char addr[64];
	int64_t t0;

	(void)state;
	/* A port that was just free. */
	assert_int_equal(ipk_listen(&l, "udp:127.0.0.1:0", 0), 0);
	snprintf(addr, sizeof(addr), "%s", ipk_address(l));
	ipk_close(l);
	assert_int_equal(ipk_open(&c, addr, 0, 1000), 0);
	t0 = harness_now_ms();
	assert_int_equal(ipk_send(c, "x", 1, 300), -ETIMEDOUT);
	assert_true(harness_now_ms() - t0 >= 299);
	assert_non_null(strstr(ipk_errdetail(), "listener"));
	assert_int_equal(ipk_send(c, "x", 1, 0), -EAGAIN);
	ipk_close(c);
}

/* ---- malformed addresses and options ---- */

static void
test_malformed(void **state)
{
	static const struct {
		const char *address;
		int err;
		bool listen;
	} bad[] = {
		{ "fifo:", IPK_EADDR, false },
		{ "fifo:/tmp/x?size=abc", IPK_EOPTION, false },
		{ "fifo:/tmp/x?size=1", IPK_EOPTION, false },
		{ "fifo:/tmp/x?size=2G", IPK_EOPTION, false },
		{ "fifo:/tmp/x?bogus=1", IPK_EOPTION, false },
		{ "pipe:3", IPK_EADDR, false },
		{ "pipe:a,b", IPK_EADDR, false },
		{ "pipe:-1,2", IPK_EADDR, false },
		{ "pipe:1,", IPK_EADDR, false },
		{ "pipe:99999999999,1", IPK_EADDR, false },
		{ "pipe:?mode=0600", IPK_EOPTION, false },
		{ "pipe:0,1?size=1", IPK_EOPTION, false },
		{ "tcp:127.0.0.1", IPK_EADDR, false },
		{ "tcp:127.0.0.1:99999", IPK_EADDR, false },
		{ "tcp:127.0.0.1:0", IPK_EADDR, false },
		{ "tcp:[::1]80", IPK_EADDR, false },
		{ "tcp:::1:80", IPK_EADDR, false },
		{ "tcp:127.0.0.1:0?mode=0600", IPK_EOPTION, true },
		{ "udp:127.0.0.1:x", IPK_EADDR, false },
		{ "udp:127.0.0.1:0?mode=0600", IPK_EOPTION, true },
		{ "unix:", IPK_EADDR, true },
		{ "unix:@", IPK_EADDR, true },
		{ "unix:@abc?mode=0600", IPK_EOPTION, true },
		{ "unix+seqpacket:", IPK_EADDR, false },
		{ "unix:/tmp/x?size=1", IPK_EOPTION, true },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ipk_chan *ch = NULL;
		int err = bad[i].listen ? ipk_listen(&ch, bad[i].address, 0)
		                        : ipk_open(&ch, bad[i].address, 0, 100);

		print_message("# %s: %s\n", bad[i].address, ipk_errdetail());
		assert_int_equal(err, bad[i].err);
		assert_null(ch);
		assert_true(strlen(ipk_errdetail()) > 0);
	}
}

static void
test_pipe_fds_checked(void **state)
{
	struct ipk_chan *ch = NULL;
	char addr[64];
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	/* The write end cannot be read from. */
	snprintf(addr, sizeof(addr), "pipe:%d,%d", p[1], p[0]);
	assert_int_equal(ipk_open(&ch, addr, 0, 0), -EBADF);
	assert_non_null(strstr(ipk_errdetail(), "writing only"));
	close(p[0]);
	close(p[1]);
	snprintf(addr, sizeof(addr), "pipe:%d,%d", p[0], p[1]);
	assert_int_equal(ipk_open(&ch, addr, 0, 0), -EBADF);
	assert_non_null(strstr(ipk_errdetail(), "not open"));
	assert_null(ch);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_stale_socket_replaced),
		cmocka_unit_test(test_live_socket_refused),
		cmocka_unit_test(test_forked_listener_close),
		cmocka_unit_test(test_socket_mode),
		cmocka_unit_test(test_path_too_long),
		cmocka_unit_test(test_abstract),
		cmocka_unit_test(test_inherit_exec),
		cmocka_unit_test(test_stdio_pipe),
		cmocka_unit_test(test_inherit_refused),
		cmocka_unit_test(test_no_sigpipe),
		cmocka_unit_test(test_fifo_atomic_above_pipe_buf),
		cmocka_unit_test(test_fifo_killed_mid_message),
		cmocka_unit_test(test_socket_read_until),
		cmocka_unit_test(test_fifo_page_messages),
		cmocka_unit_test(test_fifo_forked_channel),
		cmocka_unit_test(test_held_messages_not_doubled),
		cmocka_unit_test(test_pollfd_buffered),
		cmocka_unit_test(test_seqpacket_held),
		cmocka_unit_test(test_list_and_unlink),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_udp_no_listener),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_pipe_fds_checked),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_streams STREAM_PEER\n");
		return 2;
	}
	peer_program = argv[1];
	/* The index of names lives in the test's own directory. */
	setenv("XDG_RUNTIME_DIR", harness_tmpdir(), 1);
	signal(SIGPIPE, SIG_DFL);
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("streams", tests, NULL, NULL);
}
