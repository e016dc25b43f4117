// SPDX-License-Identifier: MIT
/* test_sysvmq.c - what is special about sysvmq: message types and msgrcv()
 * selectors (the course's csend/crecv scenario), raw msgsnd/msgrcv
 * programs on the same queue, peeking by selector with and without
 * MSG_COPY, empty messages, a watcher thread that receives which need not
 * wait leave asleep, waits for one type among others, limits named
 * in errors, creation flags and modes, malformed addresses, ls and rm. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ipckit.h"
#include "queue_util.h"
#include "transport/queue_hooks.h"

/* The course's struct: a type, then up to 256 bytes of text. */
struct umsg {
	long mtype;
	char mtext[256];
};

static key_t
key_of(const char *addr)
{
	return (key_t)(uint32_t)strtoul(addr + strlen("sysvmq:"), NULL, 0);
}

static int
qid_of(const char *addr)
{
	return msgget(key_of(addr), 0);
}

static void
send_typed(struct ipk_chan *ch, long type, const char *text)
{
	struct ipk_msginfo mi = { .type = type };
	size_t len = strlen(text);

	assert_int_equal(ipk_sendx(ch, text, len, &mi, 1000), (ssize_t)len);
}

/* Receive with a selector; check the text and the type reported. */
static void
expect_typed(struct ipk_chan *ch, long sel, long type, const char *text)
{
	struct ipk_msginfo mi = { .type = sel };
	char buf[64];
	ssize_t n = ipk_recvx(ch, buf, sizeof(buf), &mi, 1000);

	assert_int_equal(n, (ssize_t)strlen(text));
	assert_memory_equal(buf, text, (size_t)n);
	assert_int_equal(mi.type, type);
}

/* The seed's scenario: csend 77 and csend 5 on one key; receivers with
 * selectors 0 (first), 77 (that type) and -10 (lowest type <= 10). */
static void
test_typed_selectors(void **state)
{
	char addr[64];
	struct ipk_chan *a, *b;
	struct ipk_msginfo mi = { .type = 77 };

	(void)state;
	qu_address(addr, sizeof(addr), "sysvmq:%K", "");
	a = qu_open(addr, 0);
	b = qu_open(addr, IPK_NOCREATE);
	assert_true(ipk_caps(a) & IPK_CAP_TYPES);
	send_typed(a, 77, "Hello");
	send_typed(a, 5, "five");
	send_typed(a, 77, "again");
	send_typed(a, 9, "nine");
	send_typed(a, 3, "three");
	/* Sizes by selector, without taking anything. */
	assert_int_equal(ipk_peek_size(b, &mi, 0), 5);
	mi.type = -10;
	assert_int_equal(ipk_peek_size(b, &mi, 0), 5); /* "three" */
	mi.type = 9;
	assert_int_equal(ipk_peek_size(b, &mi, 0), 4);
	mi.type = 0;
	assert_int_equal(ipk_peek_size(b, &mi, 0), 5); /* "Hello" */
	/* -10: the lowest type up to 10 is 3, then 5, then 9. */
	expect_typed(b, -10, 3, "three");
	expect_typed(b, 77, 77, "Hello");
	expect_typed(b, 0, 5, "five");
	expect_typed(b, -10, 9, "nine");
	mi.type = -10;
	assert_int_equal(ipk_recvx(b, NULL, 0, &mi, 0), -EAGAIN);
	expect_typed(b, 0, 77, "again");
	/* Type 0 sends type 1; negative types are refused. */
	assert_int_equal(ipk_send(a, "one", 3, 1000), 3);
	expect_typed(b, 1, 1, "one");
	mi.type = -4;
	assert_int_equal(ipk_sendx(a, "x", 1, &mi, 1000), -EINVAL);
	ipk_close(a);
	ipk_close(b);
}

/* csend and crecv, written with raw msgsnd()/msgrcv(), share the queue:
 * the payload is the bare mtext. */
static void
test_raw_programs_interoperate(void **state)
{
	char addr[64];
	struct ipk_chan *ch;
	struct umsg m = { 77, "Hello\n" };
	struct ipk_msginfo mi = { .type = 77 };
	char buf[300];
	int qid;

	(void)state;
	qu_address(addr, sizeof(addr), "sysvmq:%K", "?mode=0660");
	ch = qu_open(addr, 0);
	qid = qid_of(addr);
	assert_true(qid >= 0);
	/* csend: strlen of the text, no terminator. */
	assert_int_equal(msgsnd(qid, &m, strlen(m.mtext), 0), 0);
	assert_int_equal(ipk_recvx(ch, buf, sizeof(buf), &mi, 1000), 6);
	assert_memory_equal(buf, "Hello\n", 6);
	assert_int_equal(mi.type, 77);
	/* crecv 5 gets exactly what ipk_sendx() sent. */
	mi.type = 5;
	assert_int_equal(ipk_sendx(ch, "quit", 4, &mi, 1000), 4);
	memset(&m, 0, sizeof(m));
	assert_int_equal(msgrcv(qid, &m, sizeof(m.mtext), 5, IPC_NOWAIT), 4);
	assert_int_equal(m.mtype, 5);
	assert_memory_equal(m.mtext, "quit", 4);
	ipk_close(ch);
}

static void
peek_by_selector(void)
{
	char addr[64];
	struct ipk_chan *a, *b;
	struct ipk_msginfo mi = { .type = 0 };
	char big[200], buf[200];

	qu_address(addr, sizeof(addr), "sysvmq:%K", "");
	a = qu_open(addr, 0);
	b = qu_open(addr, 0);
	memset(big, 'b', sizeof(big));
	send_typed(a, 4, "four");
	assert_int_equal(ipk_sendx(a, big, 150,
	                           &(struct ipk_msginfo){ .type = 8 }, 1000),
	                 150);
	/* A small buffer leaves the message where it is, for any selector. */
	mi.type = 8;
	assert_int_equal(ipk_peek_size(b, &mi, 1000), 150);
	assert_int_equal(ipk_recvx(b, buf, 149, &mi, 1000), -EMSGSIZE);
	assert_int_equal(ipk_peek_size(b, &mi, 0), 150);
	mi.type = -8;
	assert_int_equal(ipk_peek_size(b, &mi, 0), 4);
	/* Another receiver still sees everything in order. */
	expect_typed(a, 0, 4, "four");
	mi.type = 0;
	assert_int_equal(ipk_recvx(a, buf, sizeof(buf), &mi, 1000), 150);
	assert_int_equal(mi.type, 8);
	assert_int_equal(ipk_peek_size(b, &mi, 0), -EAGAIN);
	ipk_close(a);
	ipk_close(b);
}

/* ipk_peek_size() honours the selector with MSG_COPY, and with the
 * fallback of a kernel without it (the message is held by the channel). */
static void
test_peek_with_and_without_msg_copy(void **state)
{
	char addr[64];
	struct ipk_chan *a, *b, *c;
	struct ipk_msginfo mi = { .type = 6 };
	char buf[16];

	(void)state;
	peek_by_selector();
	sysvmq_hook_msg_copy(false);
	qu_address(addr, sizeof(addr), "sysvmq:%K", "");
	a = qu_open(addr, 0);
	b = qu_open(addr, 0);
	send_typed(a, 2, "two");
	send_typed(a, 6, "six!");
	assert_int_equal(ipk_peek_size(b, &mi, 1000), 4);
	assert_int_equal(ipk_recvx(b, buf, 3, &mi, 0), -EMSGSIZE);
	/* Held by b: closing b puts it back for others. */
	ipk_close(b);
	expect_typed(a, 0, 2, "two");
	expect_typed(a, 0, 6, "six!");
	/* A held message is delivered before the queue. */
	c = qu_open(addr, 0);
	send_typed(a, 6, "six?");
	mi.type = 0;
	assert_int_equal(ipk_peek_size(c, &mi, 1000), 4);
	expect_typed(c, 0, 6, "six?");
	sysvmq_hook_msg_copy(true);
	ipk_close(a);
	ipk_close(c);
}

/* Empty messages: only a receive can find one, so a peek or the watcher
 * takes it; the channel delivers it next, and close() puts it back. */
static void
test_empty_messages(void **state)
{
	char addr[64];
	struct ipk_chan *a, *b;
	struct ipk_msginfo mi = { .type = 0 };
	struct pollfd q;
	char buf[8];

	(void)state;
	qu_address(addr, sizeof(addr), "sysvmq:%K", "");
	a = qu_open(addr, 0);
	b = qu_open(addr, 0);
	q = (struct pollfd){ .fd = ipk_pollfd(b), .events = POLLIN };
	assert_true(q.fd >= 0);
	assert_int_equal(poll(&q, 1, 0), 0);
	assert_int_equal(
	        ipk_sendx(a, "", 0, &(struct ipk_msginfo){ .type = 12 }, 1000),
	        0);
	assert_int_equal(poll(&q, 1, 5000), 1);
	assert_int_equal(ipk_peek_size(b, &mi, 0), 0);
	assert_int_equal(ipk_recvx(b, buf, sizeof(buf), &mi, 0), 0);
	assert_int_equal(mi.type, 12);
	assert_int_equal(ipk_recv(b, buf, sizeof(buf), 0), -EAGAIN);
	/* Taken while b waits, then b closes: a gets it. */
	assert_int_equal(
	        ipk_sendx(a, "", 0, &(struct ipk_msginfo){ .type = 13 }, 1000),
	        0);
	q.revents = 0;
	assert_int_equal(poll(&q, 1, 5000), 1);
	ipk_close(b);
	mi.type = 0;
	assert_int_equal(ipk_recvx(a, buf, sizeof(buf), &mi, 1000), 0);
	assert_int_equal(mi.type, 13);
	ipk_close(a);
}

/* The one thread of this process besides the caller, or -1. */
static pid_t
other_thread(void)
{
	pid_t self = (pid_t)syscall(SYS_gettid), found = -1;
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	int others = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		pid_t t = (pid_t)atoi(e->d_name);

		if (t > 0 && t != self) {
			found = t;
			others++;
		}
	}
	closedir(d);
	return others == 1 ? found : -1;
}

/* Voluntary context switches of thread tid: each time it slept. */
static long
thread_sleeps(pid_t tid)
{
	char path[64], line[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "voluntary_ctxt_switches: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

static void wait_sleeping(pid_t tid);

/* Once a bounded wait has started the watcher thread, receives that find
 * their message at the first try leave it alone: it does not wake. */
static void
test_watcher_left_alone(void **state)
{
	char addr[64], buf[64];
	struct ipk_chan *a, *b;
	pid_t watcher;
	long before;

	(void)state;
	qu_address(addr, sizeof(addr), "sysvmq:%K", "");
	a = qu_open(addr, 0);
	b = qu_open(addr, 0);
	/* Nothing there: the watcher starts and waits in msgrcv(). */
	assert_int_equal(ipk_recv(b, buf, sizeof(buf), 50), -ETIMEDOUT);
	watcher = other_thread();
	assert_true(watcher > 0);
	wait_sleeping(watcher);
	/* A message wakes it; it rings and goes back to sleep, disarmed. */
	before = thread_sleeps(watcher);
	assert_int_equal(ipk_send(a, "wake", 4, 1000), 4);
	for (int i = 0; i < 5000 && thread_sleeps(watcher) == before; i++)
		usleep(1000);
	assert_true(thread_sleeps(watcher) > before);
	wait_sleeping(watcher);
	assert_int_equal(ipk_recv(b, buf, sizeof(buf), 1000), 4);

	before = thread_sleeps(watcher);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(ipk_send(a, "ping", 4, 1000), 4);
		assert_int_equal(ipk_recv(b, buf, sizeof(buf), 1000), 4);
		/* Had the receive woken it, it would have run by now and
		 * gone back to sleep: one more voluntary switch. */
		wait_sleeping(watcher);
	}
	assert_int_equal(thread_sleeps(watcher), before);
	ipk_close(a);
	ipk_close(b);
}

struct delayed {
	const char *addr;
	pthread_t tid;
	pid_t waiter;  /* the thread whose sleep we wait for */
	long types[2]; /* sent in this order once it sleeps */
	int err;
};

/* Wait (bounded) until thread tid of this process sleeps. */
static void
wait_sleeping(pid_t tid)
{
	struct timespec ms = { 0, 1000000 };
	char path[64], text[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	for (int i = 0; i < 5000; i++) {
		char *p;

		f = fopen(path, "r");
		if (f == NULL)
			return;
		p = fgets(text, sizeof(text), f);
		fclose(f);
		p = p ? strrchr(text, ')') : NULL;
		if (p && p[1] == ' ' && p[2] == 'S')
			return;
		nanosleep(&ms, NULL);
	}
}

static void *
delayed_sender(void *v)
{
	struct delayed *d = v;
	struct ipk_chan *ch = NULL;

	d->err = ipk_open(&ch, d->addr, 0, 1000);
	while (d->err == 0 &&
	       __atomic_load_n(&d->waiter, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	if (d->err == 0)
		wait_sleeping(d->waiter);
	for (int i = 0; i < 2 && d->err == 0; i++) {
		struct ipk_msginfo mi = { .type = d->types[i] };

		if (ipk_sendx(ch, "t", 1, &mi, 1000) != 1)
			d->err = -EIO;
	}
	ipk_close(ch);
	return NULL;
}

/* Receive type 77 with a bounded wait on ch while another thread sends
 * types 6 and 77 once we sleep. */
static void
wait_for_77(const char *addr, struct ipk_chan *ch)
{
	struct delayed d = { addr, 0, 0, { 6, 77 }, 0 };
	struct ipk_msginfo mi = { .type = 77 };
	char buf[8];

	assert_int_equal(pthread_create(&d.tid, NULL, delayed_sender, &d), 0);
	__atomic_store_n(&d.waiter, gettid(), __ATOMIC_RELEASE);
	assert_int_equal(ipk_recvx(ch, buf, sizeof(buf), &mi, 10000), 1);
	assert_int_equal(mi.type, 77);
	pthread_join(d.tid, NULL);
	assert_int_equal(d.err, 0);
}

/* A bounded wait for one type wakes for that type only, with or without
 * the channel's pollfd out and other types in the queue; the pollfd is
 * right afterwards, also when the watcher was waiting for another type. */
static void
test_timed_wait_for_one_type(void **state)
{
	char addr[64];
	struct ipk_chan *ch, *polled;
	struct ipk_msginfo mi = { .type = 77 };
	struct pollfd q;
	struct timespec t0, t1;
	char buf[8];
	long ms;

	(void)state;
	qu_address(addr, sizeof(addr), "sysvmq:%K", "");
	ch = qu_open(addr, 0);
	polled = qu_open(addr, 0);
	/* Nothing of type 77: the wait lasts its timeout, no longer. */
	send_typed(ch, 5, "5");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ipk_recvx(ch, buf, sizeof(buf), &mi, 150), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 149 && ms < 3000);
	wait_for_77(addr, ch);
	/* The same with a pollfd out: it is readable for type 5 first. */
	q = (struct pollfd){ .fd = ipk_pollfd(polled), .events = POLLIN };
	assert_true(q.fd >= 0);
	assert_int_equal(poll(&q, 1, 5000), 1);
	wait_for_77(addr, polled);
	assert_int_equal(poll(&q, 1, 5000), 1);
	/* ch's watcher still waits for 77; asking for any type now must
	 * retarget it, or the pollfd would miss types 5 and 6. */
	mi.type = 77;
	assert_int_equal(ipk_recvx(ch, buf, sizeof(buf), &mi, 1), -ETIMEDOUT);
	q = (struct pollfd){ .fd = ipk_pollfd(ch), .events = POLLIN };
	assert_int_equal(poll(&q, 1, 5000), 1);
	expect_typed(ch, 0, 5, "5");
	expect_typed(ch, 0, 6, "t");
	expect_typed(polled, 0, 6, "t");
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 0), -EAGAIN);
	q.revents = 0;
	assert_int_equal(poll(&q, 1, 0), 0);
	ipk_close(ch);
	ipk_close(polled);
}

static int
child_qbytes_refused(void *v)
{
	const char *addr = v;
	struct ipk_chan *ch = NULL;
	int err;

	if (qu_drop_cap_resource() != 0)
		return 20;
	err = ipk_open(&ch, addr, 0, 1000);
	if (err != IPK_ELIMIT)
		return 21;
	return qu_has_detail("kernel.msgmnb") ? 0 : 22;
}

/* Limits are checked up front and named: kernel.msgmax for a message,
 * kernel.msgmnb for ?qbytes=, the queue's msg_qbytes when it is smaller. */
static void
test_limits_named(void **state)
{
	char addr[96], detail[64];
	struct ipk_chan *ch;
	unsigned char *big = calloc(1, 70000);
	unsigned long msgmax = 0, msgmnb = 0;
	FILE *f = fopen("/proc/sys/kernel/msgmax", "r");

	(void)state;
	assert_non_null(big);
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu", &msgmax), 1);
	fclose(f);
	f = fopen("/proc/sys/kernel/msgmnb", "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%lu", &msgmnb), 1);
	fclose(f);
	qu_address(addr, sizeof(addr), "sysvmq:%K", "");
	ch = qu_open(addr, 0);
	assert_int_equal(ipk_max_msg(ch), msgmax < msgmnb ? msgmax : msgmnb);
	if (msgmax < 70000) {
		assert_int_equal(ipk_send(ch, big, 70000, 0), -EMSGSIZE);
		snprintf(detail, sizeof(detail),
		         "message of 70000 bytes is above kernel.msgmax = %lu",
		         msgmax);
		assert_true(qu_has_detail(detail));
	}
	ipk_close(ch);
	/* A queue made smaller than msgmax: its qbytes is the limit. */
	qu_address(addr, sizeof(addr), "sysvmq:%K", "?qbytes=1024");
	ch = qu_open(addr, 0);
	assert_int_equal(ipk_max_msg(ch), 1024);
	assert_int_equal(ipk_send(ch, big, 1025, 0), -EMSGSIZE);
	assert_true(qu_has_detail("msg_qbytes = 1024"));
	assert_int_equal(ipk_send(ch, big, 1024, 0), 1024);
	ipk_close(ch);
	/* Reopening with other qbytes is an error, not silently ignored. */
	snprintf(addr + strlen(addr) - 4, 5, "2048");
	assert_int_equal(ipk_open(&ch, addr, 0, 0), IPK_EOPTION);
	assert_true(qu_has_detail("qbytes=1024"));
	/* Above kernel.msgmnb without CAP_SYS_RESOURCE: named, nothing made. */
	qu_address(addr, sizeof(addr), "sysvmq:%K", "?qbytes=16M");
	assert_int_equal(qu_child(child_qbytes_refused, addr, 10000), 0);
	assert_true(msgget(key_of(addr), 0) < 0 && errno == ENOENT);
	free(big);
}

static void
test_create_flags_and_mode(void **state)
{
	char addr[96], other[96];
	struct ipk_chan *ch, *ch2;
	struct msqid_ds ds;

	(void)state;
	qu_address(addr, sizeof(addr), "sysvmq:%K", "");
	qu_check_create_flags(addr);
	assert_int_equal(msgctl(qid_of(addr), IPC_STAT, &ds), 0);
	assert_int_equal(ds.msg_perm.mode & 0777, 0600);
	qu_address(other, sizeof(other), "sysvmq:%K", "?mode=0660");
	ch = qu_open(other, 0);
	assert_int_equal(msgctl(qid_of(other), IPC_STAT, &ds), 0);
	assert_int_equal(ds.msg_perm.mode & 0777, 0660);
	/* By id: opens, never creates. */
	snprintf(addr, sizeof(addr), "sysvmq:id:%d", qid_of(other));
	ch2 = qu_open(addr, 0);
	send_typed(ch2, 3, "id");
	expect_typed(ch, 3, 3, "id");
	ipk_close(ch);
	ipk_close(ch2);
}

static void
test_malformed_addresses(void **state)
{
	static const struct {
		const char *addr;
		int err;
		const char *detail;
	} bad[] = {
		{ "sysvmq:", IPK_EADDR, "expected a key" },
		{ "sysvmq:0", IPK_EADDR, "IPC_PRIVATE" },
		{ "sysvmq:0x0", IPK_EADDR, "IPC_PRIVATE" },
		{ "sysvmq:0x1ffffffff", IPK_EADDR, "0xffffffff" },
		{ "sysvmq:99999999999", IPK_EADDR, "0xffffffff" },
		{ "sysvmq:12ab", IPK_EADDR, "decimal or 0x-hex" },
		{ "sysvmq:0xfg", IPK_EADDR, "decimal or 0x-hex" },
		{ "sysvmq:id:x", IPK_EADDR, "decimal" },
		{ "sysvmq:id:0x10", IPK_EADDR, "decimal" },
		{ "sysvmq:1234?proj=3", IPK_EOPTION, "applies only to a path" },
		{ "sysvmq:/?proj=0", IPK_EOPTION, "outside 1..255" },
		{ "sysvmq:/?proj=256", IPK_EOPTION, "outside 1..255" },
		{ "sysvmq:/nonexistent/ipk", -ENOENT, "ftok() needs" },
		{ "sysvmq:1234?qbytes=0", IPK_EOPTION, "qbytes" },
		{ "sysvmq:1234?qbytes=lots", IPK_EOPTION, "not a number" },
		{ "sysvmq:1234?size=1", IPK_EOPTION, "unknown option" },
		{ "sysvmq:1234?mode=0666", IPK_EOPTION, "anyone" },
	};
	struct ipk_chan *ch = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# %s\n", bad[i].addr);
		assert_int_equal(ipk_open(&ch, bad[i].addr, 0, 0), bad[i].err);
		assert_null(ch);
		assert_true(qu_has_detail(bad[i].detail));
	}
}

/* sysvmq:PATH is ftok(PATH, proj): the same key as a C program's. */
static void
test_ftok_path(void **state)
{
	char path[300], addr[400];
	struct ipk_chan *ch;
	struct umsg m;
	FILE *f;
	int qid;

	(void)state;
	harness_path(path, sizeof(path), "ftok");
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(addr, sizeof(addr), "sysvmq:%s?proj=65", path);
	qu_track(addr);
	ch = qu_open(addr, 0);
	send_typed(ch, 7, "ftok");
	qid = msgget(ftok(path, 'A'), 0);
	assert_true(qid >= 0);
	assert_int_equal(msgrcv(qid, &m, sizeof(m.mtext), 7, IPC_NOWAIT), 4);
	ipk_close(ch);
	assert_int_equal(ipk_unlink(addr), 0);
	assert_true(msgget(ftok(path, 'A'), 0) < 0);
}

static void
test_list_and_unlink(void **state)
{
	char addr[64], canon[64], buf[8];
	struct ipk_chan *ch;
	struct qu_found f = { canon, { 0 }, 0 };

	(void)state;
	qu_address(addr, sizeof(addr), "sysvmq:%K", "?mode=0640");
	ch = qu_open(addr, 0);
	send_typed(ch, 2, "abc");
	send_typed(ch, 2, "de");
	snprintf(canon, sizeof(canon), "sysvmq:0x%08x", (unsigned)key_of(addr));
	assert_int_equal(qu_find(&f), 0);
	assert_int_equal(f.count, 1);
	assert_string_equal(f.seen.scheme, "sysvmq");
	assert_int_equal(f.seen.mode, 0640);
	assert_int_equal(f.seen.owner, getuid());
	assert_int_equal(f.seen.messages, 2);
	assert_int_equal(f.seen.bytes, 5);
	/* The listed address removes it; a waiting channel hears so. */
	assert_int_equal(ipk_unlink(canon), 0);
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 0), -EIDRM);
	assert_true(strlen(ipk_errdetail()) > 0);
	assert_int_equal(ipk_unlink(addr), -ENOENT);

	assert_int_equal(qu_find(&f), 0);
	assert_int_equal(f.count, 0);
	ipk_close(ch);
}

struct blocked {
	struct ipk_chan *ch;
	int timeout_ms;
	pid_t tid;
	ssize_t result;
};

static void *
blocked_receiver(void *v)
{
	struct blocked *b = v;
	char buf[8];

	__atomic_store_n(&b->tid, gettid(), __ATOMIC_RELEASE);
	b->result = ipk_recv(b->ch, buf, sizeof(buf), b->timeout_ms);
	return NULL;
}

/* Removing the queue wakes receivers blocked in msgrcv() (timeout -1) or
 * behind the watcher (a bounded timeout) with -EIDRM. */
static void
test_removed_while_waiting(void **state)
{
	static const int timeouts[] = { -1, 20000 };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		char addr[64];
		struct blocked b = { NULL, timeouts[i], 0, 0 };
		pthread_t t;

		qu_address(addr, sizeof(addr), "sysvmq:%K", "");
		b.ch = qu_open(addr, 0);
		assert_int_equal(pthread_create(&t, NULL, blocked_receiver, &b),
		                 0);
		while (__atomic_load_n(&b.tid, __ATOMIC_ACQUIRE) == 0)
			sched_yield();
		wait_sleeping(b.tid);
		assert_int_equal(ipk_unlink(addr), 0);
		pthread_join(t, NULL);
		assert_int_equal(b.result, -EIDRM);
		ipk_close(b.ch);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_typed_selectors, qu_teardown),
		cmocka_unit_test_teardown(test_raw_programs_interoperate,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_peek_with_and_without_msg_copy,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_empty_messages, qu_teardown),
		cmocka_unit_test_teardown(test_watcher_left_alone, qu_teardown),
		cmocka_unit_test_teardown(test_timed_wait_for_one_type,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_limits_named, qu_teardown),
		cmocka_unit_test_teardown(test_create_flags_and_mode,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_malformed_addresses,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_ftok_path, qu_teardown),
		cmocka_unit_test_teardown(test_list_and_unlink, qu_teardown),
		cmocka_unit_test_teardown(test_removed_while_waiting,
		                          qu_teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("sysvmq", tests, NULL, NULL);
}
