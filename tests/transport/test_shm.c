// SPDX-License-Identifier: MIT
/* test_shm.c - what is special about shm: many forked writers and readers
 * on small rings (ThreadSanitizer cannot see races between processes), a
 * lock holder SIGKILLed (EOWNERDEAD), a writer killed mid-record, a ring
 * whose users all died, options, modes, names and leftovers. */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ipckit.h"
#include "transport/shm_ring.h"

static char the_name[128];

/* A fresh "shm:NAME" with options appended, and its /dev/shm path. */
static void
fresh(char *addr, size_t cap, const char *opts)
{
	harness_name(the_name, sizeof(the_name), "shm");
	snprintf(addr, cap, "shm:%s%s", the_name, opts);
}

static bool
residue(void)
{
	char path[256];

	snprintf(path, sizeof(path), "/dev/shm/ipk-shm.%s", the_name);
	return access(path, F_OK) == 0;
}

/* Every user has closed: the name stays (ipk_close never removes one),
 * and ipk_unlink() leaves nothing behind in /dev/shm. */
static void
unlink_gone(const char *addr)
{
	assert_true(residue());
	assert_int_equal(ipk_unlink(addr), 0);
	assert_false(residue());
}

static struct ipk_chan *
xopen(const char *addr)
{
	struct ipk_chan *ch = NULL;
	int err = ipk_open(&ch, addr, 0, 5000);

	if (err)
		print_error("open %s: %s (%s)\n", addr, ipk_strerror(err),
		            ipk_errdetail());
	assert_int_equal(err, 0);
	return ch;
}

static int
wait_byte(int fd)
{
	struct pollfd q = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&q, 1, 10000) != 1 || read(fd, &c, 1) != 1)
		return -1;
	return c;
}

/* ---- many writers, many readers ---- */

struct rec {
	uint32_t sender, seq, len, sum;
};

static uint32_t
sum32(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

#define MP_SENDERS   4
#define MP_RECEIVERS 3
#define MP_COUNT     3000

struct board {
	atomic_uint seen[MP_SENDERS][MP_COUNT];
	atomic_uint bad;
	atomic_uint done;
};

static char mp_addr[256];
static struct board *mp_board;

static int
mp_sender(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	struct ipk_chan *ch;
	unsigned char buf[1024];
	size_t max;
	uint32_t r = id * 2654435761u + 1;

	if (ipk_open(&ch, mp_addr, IPK_NOCREATE, 5000) != 0)
		return 10;
	max = ipk_max_msg(ch) < sizeof(buf) ? ipk_max_msg(ch) : sizeof(buf);
	for (uint32_t seq = 0; seq < MP_COUNT; seq++) {
		struct rec h = { id, seq, 0, 0 };
		size_t len;

		r = r * 1103515245u + 12345u;
		len = sizeof(h) + (r >> 8) % (max - sizeof(h) + 1);
		for (size_t i = sizeof(h); i < len; i++)
			buf[i] = (unsigned char)(r + i);
		h.len = (uint32_t)len;
		h.sum = sum32(buf + sizeof(h), len - sizeof(h));
		memcpy(buf, &h, sizeof(h));
		/* Bursts with IPK_MORE exercise the deferred wake-up. */
		struct ipk_msginfo mi = { .flags = seq % 8 ? IPK_MORE : 0 };
		if (ipk_sendx(ch, buf, len, &mi, 20000) != (ssize_t)len)
			return 11;
	}
	ipk_close(ch);
	return 0;
}

static int
mp_receiver(void *arg)
{
	struct ipk_chan *ch;
	unsigned char buf[1024];
	uint32_t last[MP_SENDERS];

	(void)arg;
	memset(last, 0xff, sizeof(last));
	if (ipk_open(&ch, mp_addr, IPK_NOCREATE, 5000) != 0)
		return 10;
	for (;;) {
		ssize_t n = ipk_recv(ch, buf, sizeof(buf), 20000);
		struct rec h;

		if (n == 0)
			break; /* the parent's stop message */
		if (n < (ssize_t)sizeof(h))
			return 12;
		memcpy(&h, buf, sizeof(h));
		if (h.sender >= MP_SENDERS || h.seq >= MP_COUNT ||
		    h.len != (uint32_t)n ||
		    h.sum != sum32(buf + sizeof(h), (size_t)n - sizeof(h)) ||
		    (last[h.sender] != UINT32_MAX && h.seq <= last[h.sender])) {
			atomic_fetch_add(&mp_board->bad, 1);
			continue;
		}
		last[h.sender] = h.seq; /* each sender's order holds */
		atomic_fetch_add(&mp_board->seen[h.sender][h.seq], 1);
	}
	ipk_close(ch);
	return 0;
}

static void
run_mpmc(const char *opts, unsigned senders)
{
	struct ipk_chan *owner;
	pid_t pids[MP_SENDERS + MP_RECEIVERS];
	unsigned missing = 0, dup = 0;

	fresh(mp_addr, sizeof(mp_addr), opts);
	mp_board = mmap(NULL, sizeof(*mp_board), PROT_READ | PROT_WRITE,
	                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(mp_board != MAP_FAILED);
	owner = xopen(mp_addr);
	for (unsigned i = 0; i < MP_RECEIVERS; i++)
		pids[i] = fork_child(mp_receiver, NULL);
	for (unsigned i = 0; i < senders; i++)
		pids[MP_RECEIVERS + i] =
		        fork_child(mp_sender, (void *)(uintptr_t)i);
	for (unsigned i = MP_RECEIVERS; i < MP_RECEIVERS + senders; i++)
		assert_int_equal(wait_child(pids[i], 60000), 0);
	for (unsigned i = 0; i < MP_RECEIVERS; i++)
		assert_int_equal(ipk_send(owner, "", 0, 20000), 0);
	for (unsigned i = 0; i < MP_RECEIVERS; i++)
		assert_int_equal(wait_child(pids[i], 60000), 0);
	for (unsigned s = 0; s < senders; s++)
		for (unsigned q = 0; q < MP_COUNT; q++) {
			unsigned k = atomic_load(&mp_board->seen[s][q]);

			missing += k == 0;
			dup += k > 1;
		}
	print_message("# %s: %u missing, %u duplicated, %u bad\n", mp_addr,
	              missing, dup, atomic_load(&mp_board->bad));
	assert_int_equal(missing, 0);
	assert_int_equal(dup, 0);
	assert_int_equal(atomic_load(&mp_board->bad), 0);
	ipk_close(owner);
	munmap(mp_board, sizeof(*mp_board));
	unlink_gone(mp_addr);
}

/* A 4 KiB ring: every few records wrap, pad and fill up. */
static void
test_mpmc_tiny_ring(void **state)
{
	(void)state;
	run_mpmc("?capacity=4k", MP_SENDERS);
}

/* No spinning: every wait is a futex sleep and every wake a syscall. */
static void
test_mpmc_no_spin(void **state)
{
	(void)state;
	run_mpmc("?capacity=64k&spin=0", MP_SENDERS);
}

/* One sender, alone and lock-free, holding IPK_MORE bursts back, feeding
 * three receivers that take turns under their lock. */
static void
test_one_sender_many_receivers(void **state)
{
	(void)state;
	run_mpmc("?capacity=16k", 1);
}

/* ---- a lone sender handing over to a second one ---- */

static int
burst_sender(void *arg)
{
	struct ipk_chan *ch;
	unsigned id = (unsigned)(uintptr_t)arg;
	uint32_t m[2] = { id, 0 };

	if (ipk_open(&ch, mp_addr, IPK_NOCREATE, 5000) != 0)
		return 10;
	for (m[1] = 0; m[1] < 20000; m[1]++) {
		/* Bursts: a lone sender holds them back (see below). */
		struct ipk_msginfo mi = { .flags = m[1] % 16 ? IPK_MORE : 0 };

		if (ipk_sendx(ch, m, sizeof(m), &mi, 20000) != sizeof(m))
			return 11;
	}
	ipk_close(ch);
	return 0;
}

/* The receiver is alone (lock-free); senders come and go while it runs,
 * so the ring switches between its lock-free and locked paths. */
static void
test_handover_keeps_order(void **state)
{
	struct ipk_chan *rx;
	uint32_t next[3] = { 0 }, m[2];
	pid_t p[3];

	(void)state;
	fresh(mp_addr, sizeof(mp_addr), "?capacity=16k");
	rx = xopen(mp_addr);
	assert_int_equal(ipk_recv(rx, m, sizeof(m), 0), -EAGAIN);
	p[0] = fork_child(burst_sender, (void *)0);
	/* Let the first one run alone for a while. */
	for (int i = 0; i < 3000; i++) {
		assert_int_equal(ipk_recv(rx, m, sizeof(m), 10000), sizeof(m));
		assert_int_equal(m[0], 0);
		assert_int_equal(m[1], next[0]++);
	}
	p[1] = fork_child(burst_sender, (void *)1);
	p[2] = fork_child(burst_sender, (void *)2);
	while (next[0] + next[1] + next[2] < 60000) {
		assert_int_equal(ipk_recv(rx, m, sizeof(m), 10000), sizeof(m));
		assert_true(m[0] < 3);
		assert_int_equal(m[1], next[m[0]]);
		next[m[0]]++;
	}
	for (int i = 0; i < 3; i++)
		assert_int_equal(wait_child(p[i], 10000), 0);
	ipk_close(rx);
	unlink_gone(mp_addr);
}

/* ---- crashes ---- */

struct stall_arg {
	const char *addr;
	enum shm_stall how;
	int ack;
};

static int
stall_child(void *v)
{
	struct stall_arg *a = v;
	struct ipk_chan *ch;

	if (ipk_open(&ch, a->addr, IPK_NOCREATE, 5000) != 0)
		return 10;
	if (ipk_send(ch, "before", 6, 5000) != 6)
		return 11;
	if (shm_ring_stall(ch, a->how, 600) != 0)
		return 12;
	if (write(a->ack, "s", 1) != 1)
		return 13;
	pause();
	return 0;
}

static pid_t
start_stalled(const char *addr, enum shm_stall how)
{
	int ack[2];
	struct stall_arg a;
	pid_t pid;

	assert_int_equal(pipe(ack), 0);
	a = (struct stall_arg){ addr, how, ack[1] };
	pid = fork_child(stall_child, &a);
	assert_true(pid > 0);
	close(ack[1]);
	assert_int_equal(wait_byte(ack[0]), 's');
	close(ack[0]);
	return pid;
}

/* A sender SIGKILLed while it holds the (robust) send lock: the next
 * sender gets EOWNERDEAD inside, repairs, and goes on. */
static void
test_lock_holder_killed(void **state)
{
	char addr[256], buf[64];
	struct ipk_chan *tx, *rx;
	pid_t pid;

	(void)state;
	fresh(addr, sizeof(addr), "");
	rx = xopen(addr);
	tx = xopen(addr);
	/* Two senders: the ring takes its lock for each send. */
	assert_int_equal(ipk_send(tx, "0", 1, 1000), 1);
	pid = start_stalled(addr, SHM_STALL_LOCK);
	assert_int_equal(ipk_send(tx, "x", 1, 0), -EAGAIN);
	assert_int_equal(ipk_send(tx, "x", 1, 100), -ETIMEDOUT);
	kill(pid, SIGKILL);
	assert_int_equal(wait_child(pid, 5000), 128 + SIGKILL);
	assert_int_equal(ipk_send(tx, "after", 5, 5000), 5);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 1000), 1);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 1000), 6);
	assert_memory_equal(buf, "before", 6);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 1000), 5);
	assert_memory_equal(buf, "after", 5);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 0), -EAGAIN);
	ipk_close(tx);
	ipk_close(rx);
	unlink_gone(addr);
}

/* A writer killed with half a record written, in both modes: alone
 * (lock-free) and beside another sender (under the lock).  The reader
 * sees whole messages only, and the next writer gets through. */
static void
killed_mid_record(bool alone)
{
	char addr[256], buf[1024];
	struct ipk_chan *tx = NULL, *rx;
	pid_t pid;

	fresh(addr, sizeof(addr), "?capacity=64k");
	rx = xopen(addr);
	if (!alone) {
		tx = xopen(addr);
		assert_int_equal(ipk_send(tx, "0", 1, 1000), 1);
		assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 1000), 1);
	}
	pid = start_stalled(addr, SHM_STALL_TORN);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 1000), 6);
	assert_memory_equal(buf, "before", 6);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 100), -ETIMEDOUT);
	assert_int_equal(ipk_peek_size(rx, NULL, 0), -EAGAIN);
	kill(pid, SIGKILL);
	assert_int_equal(wait_child(pid, 5000), 128 + SIGKILL);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 100), -ETIMEDOUT);
	if (tx == NULL)
		tx = xopen(addr);
	memset(buf, 'n', 700);
	assert_int_equal(ipk_send(tx, buf, 700, 5000), 700);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 1000), 700);
	for (int i = 0; i < 700; i++)
		assert_int_equal(buf[i], 'n');
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 0), -EAGAIN);
	ipk_close(tx);
	ipk_close(rx);
	unlink_gone(addr);
}

static void
test_killed_mid_record_alone(void **state)
{
	(void)state;
	killed_mid_record(true);
}

static void
test_killed_mid_record_shared(void **state)
{
	(void)state;
	killed_mid_record(false);
}

/* A lone sender frozen inside its lock-free operation (as SIGSTOP or a
 * debugger would leave it): a sender joining waits no longer than its
 * timeout, and once the frozen one is gone everything flows again. */
static void
test_frozen_lone_sender_bounds_joiners(void **state)
{
	char addr[256], buf[1024];
	struct ipk_chan *tx, *rx;
	int64_t t0;
	pid_t pid;

	(void)state;
	fresh(addr, sizeof(addr), "");
	rx = xopen(addr);
	pid = start_stalled(addr, SHM_STALL_TORN);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 1000), 6);
	tx = xopen(addr);
	t0 = harness_now_ms();
	assert_int_equal(ipk_send(tx, "x", 1, 300), -ETIMEDOUT);
	assert_true(harness_now_ms() - t0 < 3000);
	assert_non_null(strstr(ipk_errdetail(), "stopped"));
	assert_int_equal(ipk_send(tx, "x", 1, 0), -EAGAIN);
	kill(pid, SIGKILL);
	assert_int_equal(wait_child(pid, 5000), 128 + SIGKILL);
	assert_int_equal(ipk_send(tx, "after", 5, 5000), 5);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 1000), 5);
	assert_memory_equal(buf, "after", 5);
	ipk_close(tx);
	ipk_close(rx);
	unlink_gone(addr);
}

static int
send_three_and_die(void *v)
{
	struct ipk_chan *ch;

	if (ipk_open(&ch, v, 0, 5000) != 0)
		return 10;
	for (int i = 0; i < 3; i++)
		if (ipk_send(ch, "abc", (size_t)i + 1, 1000) != i + 1)
			return 11;
	/* Also a receiver when it dies. */
	if (ipk_peek_size(ch, NULL, 0) != 1)
		return 12;
	kill(getpid(), SIGKILL);
	return 12;
}

/* Every user dies: the name stays with its messages, and the next user
 * reattaches (reclaiming the dead slots) and drains it; twice over. */
static void
test_reattach_after_all_died(void **state)
{
	char addr[256], buf[16];
	struct ipk_chan *ch;

	(void)state;
	fresh(addr, sizeof(addr), "");
	for (int round = 0; round < 2; round++) {
		pid_t pid = fork_child(send_three_and_die, addr);

		assert_int_equal(wait_child(pid, 5000), 128 + SIGKILL);
		assert_true(residue());
		ch = xopen(addr);
		for (int i = 0; i < 3; i++)
			assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 1000),
			                 i + 1);
		assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 0), -EAGAIN);
		ipk_close(ch);
	}
	unlink_gone(addr);
}

/* A sender blocked on a full ring with two receivers: one dying is not
 * the end, both dying is -EPIPE; a new receiver makes it usable again. */
static int ready_pipe[2];

static int
receiver_then_hang(void *v)
{
	struct ipk_chan *ch;

	if (ipk_open(&ch, v, IPK_NOCREATE, 5000) != 0)
		return 10;
	if (ipk_pollfd(ch) < 0) /* a receiver from now on */
		return 11;
	if (write(ready_pipe[1], "r", 1) != 1)
		return 12;
	pause();
	return 0;
}

static void
test_epipe_when_all_receivers_die(void **state)
{
	char addr[256], buf[1024] = { 0 };
	struct ipk_chan *tx, *rx;
	pid_t p[2];
	ssize_t n;

	(void)state;
	fresh(addr, sizeof(addr), "?capacity=16k");
	tx = xopen(addr);
	rx = xopen(addr);
	assert_true(ipk_pollfd(rx) >= 0); /* a receiver */
	assert_int_equal(pipe(ready_pipe), 0);
	for (int i = 0; i < 2; i++) {
		p[i] = fork_child(receiver_then_hang, addr);
		assert_int_equal(wait_byte(ready_pipe[0]), 'r');
	}
	close(ready_pipe[0]);
	close(ready_pipe[1]);
	while ((n = ipk_send(tx, buf, sizeof(buf), 0)) > 0)
		;
	assert_int_equal(n, -EAGAIN);
	/* Our own receiver leaves, one child dies: one receiver is left. */
	ipk_close(rx);
	kill(p[0], SIGKILL);
	wait_child(p[0], 5000);
	assert_int_equal(ipk_send(tx, buf, sizeof(buf), 300), -ETIMEDOUT);
	kill(p[1], SIGKILL);
	wait_child(p[1], 5000);
	assert_int_equal(ipk_send(tx, buf, sizeof(buf), 5000), -EPIPE);
	rx = xopen(addr);
	/* Two messages taken are room for one (a wrap may pad): the
	 * receiver need not come back for the sender to see it. */
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 1000), sizeof(buf));
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 1000), sizeof(buf));
	assert_int_equal(ipk_send(tx, buf, sizeof(buf), 1000), sizeof(buf));
	ipk_close(tx);
	ipk_close(rx);
	unlink_gone(addr);
}

/* ---- batched publication (IPK_MORE) ---- */

static ssize_t
send_more(struct ipk_chan *ch, int v)
{
	struct ipk_msginfo mi = { .flags = IPK_MORE };

	return ipk_sendx(ch, &v, sizeof(v), &mi, 1000);
}

static void
expect_ints(struct ipk_chan *rx, int from, int to)
{
	int v;

	for (int i = from; i < to; i++) {
		assert_int_equal(ipk_recv(rx, &v, sizeof(v), 1000), sizeof(v));
		assert_int_equal(v, i);
	}
	assert_int_equal(ipk_recv(rx, &v, sizeof(v), 0), -EAGAIN);
}

/* A lone sender holds an IPK_MORE batch back until its end, ipk_flush()
 * or a second sender arriving; then all of it arrives, in order. */
static void
test_more_batches(void **state)
{
	char addr[256];
	struct ipk_chan *tx, *tx2, *rx;
	int v;

	(void)state;
	fresh(addr, sizeof(addr), "");
	tx = xopen(addr);
	rx = xopen(addr);
	for (int i = 0; i < 3; i++)
		assert_int_equal(send_more(tx, i), sizeof(int));
	assert_int_equal(ipk_recv(rx, &v, sizeof(v), 0), -EAGAIN);
	assert_int_equal(ipk_send(tx, &(int){ 3 }, sizeof(int), 0),
	                 sizeof(int));
	expect_ints(rx, 0, 4);
	for (int i = 4; i < 6; i++)
		assert_int_equal(send_more(tx, i), sizeof(int));
	assert_int_equal(ipk_flush(tx, 1000), 0);
	expect_ints(rx, 4, 6);
	/* Held, then another sender comes: it publishes the batch before
	 * its own message, so order per sender holds. */
	for (int i = 6; i < 9; i++)
		assert_int_equal(send_more(tx, i), sizeof(int));
	tx2 = xopen(addr);
	assert_int_equal(ipk_send(tx2, &(int){ 9 }, sizeof(int), 1000),
	                 sizeof(int));
	expect_ints(rx, 6, 10);
	ipk_close(tx2);
	ipk_close(tx);
	ipk_close(rx);
	unlink_gone(addr);
}

static int
more_then_die(void *v)
{
	struct ipk_chan *ch;

	if (ipk_open(&ch, v, IPK_NOCREATE, 5000) != 0)
		return 10;
	for (int i = 0; i < 5; i++)
		if (send_more(ch, i) != sizeof(int))
			return 11;
	kill(getpid(), SIGKILL);
	return 12;
}

/* A sender killed in the middle of a batch: what ipk_sendx() accepted is
 * queued; the next sender publishes it. */
static void
test_killed_holding_batch(void **state)
{
	char addr[256];
	struct ipk_chan *tx, *rx;
	pid_t pid;

	(void)state;
	fresh(addr, sizeof(addr), "");
	rx = xopen(addr);
	pid = fork_child(more_then_die, addr);
	assert_int_equal(wait_child(pid, 5000), 128 + SIGKILL);
	tx = xopen(addr);
	assert_int_equal(ipk_send(tx, &(int){ 5 }, sizeof(int), 1000),
	                 sizeof(int));
	expect_ints(rx, 0, 6);
	ipk_close(tx);
	ipk_close(rx);
	unlink_gone(addr);
}

/* ---- fork: an inherited channel becomes a user of its own ---- */

static struct ipk_chan *inherited;

static int
use_inherited(void *v)
{
	(void)v;
	for (int i = 0; i < 100; i++)
		if (ipk_send(inherited, &i, sizeof(i), 5000) != sizeof(i))
			return 11;
	ipk_close(inherited);
	return 0;
}

static void
test_fork_inherited_channel(void **state)
{
	char addr[256];
	int v;
	pid_t pid;

	(void)state;
	fresh(addr, sizeof(addr), "");
	inherited = xopen(addr);
	/* The parent is a sender too, alone and lock-free until the child
	 * joins. */
	assert_int_equal(ipk_send(inherited, &(int){ -1 }, sizeof(int), 0),
	                 sizeof(int));
	pid = fork_child(use_inherited, NULL);
	assert_int_equal(ipk_recv(inherited, &v, sizeof(v), 5000), sizeof(v));
	assert_int_equal(v, -1);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(ipk_recv(inherited, &v, sizeof(v), 5000),
		                 sizeof(v));
		assert_int_equal(v, i);
	}
	assert_int_equal(wait_child(pid, 5000), 0);
	ipk_close(inherited);
	unlink_gone(addr);
}

/* ---- a blocked receiver, woken from another process ---- */

/* Until process pid sleeps in the kernel (state S), at most 5 s. */
static int
wait_asleep(pid_t pid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	for (int64_t end = harness_now_ms() + 5000; harness_now_ms() < end;) {
		FILE *f = fopen(path, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p && p[1] == ' ' && p[2] == 'S')
			return 0;
		sched_yield();
	}
	return -1;
}

static int
send_late(void *v)
{
	struct ipk_chan *ch;

	if (ipk_open(&ch, v, IPK_NOCREATE, 5000) != 0)
		return 10;
	/* The receiver is in its futex sleep (or poll) before we send. */
	if (wait_asleep(getppid()) != 0)
		return 12;
	if (ipk_send(ch, "late", 4, 1000) != 4)
		return 11;
	ipk_close(ch);
	return 0;
}

static void
test_sleeping_receiver_woken(void **state)
{
	char addr[256], buf[16];
	struct ipk_chan *rx;
	struct pollfd q;
	pid_t pid;

	(void)state;
	fresh(addr, sizeof(addr), "?spin=0");
	rx = xopen(addr);
	pid = fork_child(send_late, addr);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 10000), 4);
	assert_int_equal(wait_child(pid, 5000), 0);
	/* And through the pollable fd. */
	q = (struct pollfd){ .fd = ipk_pollfd(rx), .events = POLLIN };
	assert_true(q.fd >= 0);
	assert_int_equal(poll(&q, 1, 0), 0);
	pid = fork_child(send_late, addr);
	assert_int_equal(poll(&q, 1, 10000), 1);
	assert_int_equal(ipk_recv(rx, buf, sizeof(buf), 0), 4);
	assert_int_equal(wait_child(pid, 5000), 0);
	ipk_close(rx);
	unlink_gone(addr);
}

/* ---- options, modes, names ---- */

static void
test_capacity_option(void **state)
{
	char addr[256], other[300];
	struct ipk_chan *ch, *ch2 = NULL;
	unsigned char *big;

	(void)state;
	fresh(addr, sizeof(addr), "?capacity=4k");
	ch = xopen(addr);
	assert_int_equal(ipk_max_msg(ch), 1024);
	big = calloc(1, 1025);
	assert_non_null(big);
	assert_int_equal(ipk_send(ch, big, 1025, 0), -EMSGSIZE);
	assert_non_null(strstr(ipk_errdetail(), "1024"));
	/* A 4 KiB ring holds three records of 1 KiB, and then is full. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ipk_send(ch, big, 1024, 0), 1024);
	assert_int_equal(ipk_send(ch, big, 1024, 0), -EAGAIN);
	/* The same name opened again without options is the same ring; with
	 * another capacity it is refused by name. */
	snprintf(other, sizeof(other), "shm:%s", the_name);
	ch2 = xopen(other);
	assert_int_equal(ipk_max_msg(ch2), 1024);
	ipk_close(ch2);
	snprintf(other, sizeof(other), "shm:%s?capacity=8k", the_name);
	assert_int_equal(ipk_open(&ch2, other, 0, 1000), IPK_EOPTION);
	assert_non_null(strstr(ipk_errdetail(), "capacity"));
	ipk_close(ch);
	/* Three messages are still queued for whoever comes next. */
	assert_true(residue());
	assert_int_equal(ipk_unlink(addr), 0);
	assert_false(residue());
	free(big);

	assert_int_equal(ipk_open(&ch, "shm:x?capacity=5000", 0, 0),
	                 IPK_EOPTION);
	assert_non_null(strstr(ipk_errdetail(), "power of two"));
	assert_int_equal(ipk_open(&ch, "shm:x?capacity=1k", 0, 0), IPK_EOPTION);
	assert_int_equal(ipk_open(&ch, "shm:x?capacity=2G", 0, 0), IPK_EOPTION);
	assert_int_equal(ipk_open(&ch, "shm:x?spin=lots", 0, 0), IPK_EOPTION);
	assert_int_equal(ipk_open(&ch, "shm:x?spin=200000", 0, 0), IPK_EOPTION);
	assert_int_equal(ipk_open(&ch, "shm:x?colour=red", 0, 0), IPK_EOPTION);
	assert_int_equal(ipk_open(&ch, "shm:", 0, 0), IPK_EADDR);
	assert_int_equal(ipk_open(&ch, "shm:a/b", 0, 0), IPK_EADDR);
	assert_int_equal(ipk_open(&ch, "shm:..", 0, 0), IPK_EADDR);
	assert_null(ch);
}

static int
find_cb(const struct ipk_object *o, void *arg)
{
	const struct ipk_object **found = arg;
	char want[200];

	snprintf(want, sizeof(want), "shm:%s", the_name);
	if (strcmp(o->address, want) == 0) {
		static struct ipk_object copy;

		copy = *o;
		*found = &copy;
	}
	return 0;
}

static void
test_mode_list_unlink(void **state)
{
	char addr[256], path[256];
	const struct ipk_object *found = NULL;
	struct ipk_chan *ch;
	struct stat sb;
	mode_t old = umask(077);

	(void)state;
	fresh(addr, sizeof(addr), "?mode=0640");
	snprintf(path, sizeof(path), "/dev/shm/ipk-shm.%s", the_name);
	ch = xopen(addr);
	umask(old);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0640); /* exactly, despite umask */
	assert_int_equal(ipk_send(ch, "one", 3, 0), 3);
	assert_int_equal(ipk_send(ch, "", 0, 0), 0);
	ipk_close(ch);
	assert_true(residue()); /* closing never removes a name */
	assert_int_equal(ipk_list(find_cb, &found), 0);
	assert_non_null(found);
	assert_string_equal(found->scheme, "shm");
	assert_int_equal(found->mode, 0640);
	assert_int_equal(found->creator_pid, getpid());
	assert_true(found->creator_start > 0);
	assert_int_equal(found->messages, 2);
	assert_int_equal(found->bytes, 16 + 8); /* two headers, one word */
	assert_int_equal(ipk_unlink(addr), 0);
	assert_false(residue());
	assert_int_equal(ipk_unlink(addr), -ENOENT);
	assert_int_equal(ipk_open(&ch, addr, IPK_NOCREATE, 0), -ENOENT);

	/* Default mode 0600; IPK_EXCL refuses an existing ring. */
	fresh(addr, sizeof(addr), "");
	snprintf(path, sizeof(path), "/dev/shm/ipk-shm.%s", the_name);
	ch = xopen(addr);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	{
		struct ipk_chan *ch2 = NULL;

		assert_int_equal(ipk_open(&ch2, addr, IPK_EXCL, 0), -EEXIST);
	}
	ipk_close(ch);
	unlink_gone(addr);
}

/* Unlinked while in use: users keep the ring, a new opener gets a new
 * one by the same name. */
static void
test_unlink_while_open(void **state)
{
	char addr[256], buf[8];
	struct ipk_chan *a, *b, *c;

	(void)state;
	fresh(addr, sizeof(addr), "");
	a = xopen(addr);
	b = xopen(addr);
	assert_int_equal(ipk_unlink(addr), 0);
	assert_false(residue());
	assert_int_equal(ipk_send(a, "old", 3, 0), 3);
	c = xopen(addr); /* a new ring by the same name */
	assert_int_equal(ipk_recv(c, buf, sizeof(buf), 0), -EAGAIN);
	assert_int_equal(ipk_recv(b, buf, sizeof(buf), 0), 3);
	ipk_close(a);
	ipk_close(b);
	ipk_close(c);
	unlink_gone(addr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mpmc_tiny_ring),
		cmocka_unit_test(test_mpmc_no_spin),
		cmocka_unit_test(test_one_sender_many_receivers),
		cmocka_unit_test(test_handover_keeps_order),
		cmocka_unit_test(test_lock_holder_killed),
		cmocka_unit_test(test_killed_mid_record_alone),
		cmocka_unit_test(test_killed_mid_record_shared),
		cmocka_unit_test(test_frozen_lone_sender_bounds_joiners),
		cmocka_unit_test(test_reattach_after_all_died),
		cmocka_unit_test(test_epipe_when_all_receivers_die),
		cmocka_unit_test(test_more_batches),
		cmocka_unit_test(test_killed_holding_batch),
		cmocka_unit_test(test_fork_inherited_channel),
		cmocka_unit_test(test_sleeping_receiver_woken),
		cmocka_unit_test(test_capacity_option),
		cmocka_unit_test(test_mode_list_unlink),
		cmocka_unit_test(test_unlink_while_open),
	};

	signal(SIGPIPE, SIG_DFL);
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("shm", tests, NULL, NULL);
}
