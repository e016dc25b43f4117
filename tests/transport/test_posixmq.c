// SPDX-License-Identifier: MIT
/* test_posixmq.c - what is special about posixmq: priorities delivered
 * highest first, a too-small buffer answered without losing the message
 * (held by the channel, pollable, put back on close), limits named before
 * the kernel refuses, attributes of an existing queue, creation flags and
 * modes, malformed addresses, ls and rm. */
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ipckit.h"
#include "queue_util.h"

static void
send_prio(struct ipk_chan *ch, unsigned prio, const char *text)
{
	struct ipk_msginfo mi = { .prio = prio };
	size_t len = strlen(text);

	assert_int_equal(ipk_sendx(ch, text, len, &mi, 1000), (ssize_t)len);
}

static void
expect_prio(struct ipk_chan *ch, size_t cap, unsigned prio, const char *text)
{
	struct ipk_msginfo mi = { 0 };
	char buf[8192];
	ssize_t n;

	assert_true(cap <= sizeof(buf));
	n = ipk_recvx(ch, buf, cap, &mi, 1000);
	assert_int_equal(n, (ssize_t)strlen(text));
	assert_memory_equal(buf, text, (size_t)n);
	assert_int_equal(mi.prio, prio);
}

/* Highest priority first; first in, first out within one priority; with
 * a full-size buffer (received in place) and a small one (via scratch). */
static void
test_priorities(void **state)
{
	char addr[128];
	struct ipk_chan *a, *b;
	struct ipk_msginfo mi = { .prio = 32768 };

	(void)state;
	qu_address(addr, sizeof(addr), "posixmq:/%N", "");
	a = qu_open(addr, 0);
	b = qu_open(addr, IPK_NOCREATE);
	assert_true(ipk_caps(a) & IPK_CAP_PRIO);
	for (int round = 0; round < 2; round++) {
		size_t cap = round ? 64 : ipk_max_msg(b);

		send_prio(a, 1, "low");
		send_prio(a, 5, "high one");
		send_prio(a, 3, "mid");
		send_prio(a, 5, "high two");
		send_prio(a, 0, "zero");
		send_prio(a, 32767, "top");
		expect_prio(b, cap, 32767, "top");
		expect_prio(b, cap, 5, "high one");
		expect_prio(b, cap, 5, "high two");
		expect_prio(b, cap, 3, "mid");
		expect_prio(b, cap, 1, "low");
		expect_prio(b, cap, 0, "zero");
	}
	assert_int_equal(ipk_sendx(a, "x", 1, &mi, 0), -EINVAL);
	assert_true(qu_has_detail("0..32767"));
	ipk_close(a);
	ipk_close(b);
}

/* mq_receive() needs a buffer of mq_msgsize and takes the message: a
 * smaller buffer still gets -EMSGSIZE and loses nothing.  The channel
 * holds the message: its pollfd says so, and close() puts it back. */
static void
test_small_buffer_keeps_message(void **state)
{
	char addr[128], text[101];
	struct ipk_chan *a, *b;
	struct pollfd q;

	(void)state;
	memset(text, 'm', 100);
	text[100] = '\0';
	qu_address(addr, sizeof(addr), "posixmq:/%N", "");
	a = qu_open(addr, 0);
	b = qu_open(addr, 0);
	q = (struct pollfd){ .fd = ipk_pollfd(a), .events = POLLIN };
	assert_true(q.fd >= 0);
	assert_int_equal(poll(&q, 1, 0), 0);
	send_prio(b, 7, text);
	assert_int_equal(poll(&q, 1, 5000), 1);
	assert_int_equal(ipk_recv(a, text, 10, 0), -EMSGSIZE);
	assert_true(qu_has_detail("100 bytes"));
	/* The kernel queue is empty, but a receive on a succeeds now. */
	assert_int_equal(ipk_recv(b, text, sizeof(text), 0), -EAGAIN);
	q.revents = 0;
	assert_int_equal(poll(&q, 1, 0), 1);
	assert_int_equal(ipk_peek_size(a, NULL, 0), 100);
	expect_prio(a, 100, 7, text);
	q.revents = 0;
	assert_int_equal(poll(&q, 1, 0), 0);
	/* Held at close: back in the queue, priority and all. */
	send_prio(b, 9, "nine");
	send_prio(b, 2, "two");
	assert_int_equal(ipk_peek_size(a, NULL, 1000), 4);
	ipk_close(a);
	expect_prio(b, 64, 9, "nine");
	expect_prio(b, 64, 2, "two");
	ipk_close(b);
}

struct limit_case {
	const char *addr;
	rlim_t msgqueue; /* RLIMIT_MSGQUEUE to set first, 0 to leave */
	const char *detail;
};

static int
child_limit(void *v)
{
	const struct limit_case *c = v;
	struct ipk_chan *ch = NULL;
	int err;

	if (qu_drop_cap_resource() != 0)
		return 20;
	if (c->msgqueue) {
		struct rlimit rl = { c->msgqueue, c->msgqueue };

		if (setrlimit(RLIMIT_MSGQUEUE, &rl) != 0)
			return 21;
	}
	err = ipk_open(&ch, c->addr, 0, 1000);
	if (err != IPK_ELIMIT) {
		fprintf(stderr, "# %s: %s\n", c->addr, ipk_strerror(err));
		ipk_close(ch);
		return 22;
	}
	return qu_has_detail(c->detail) ? 0 : 23;
}

/* Each limit is named in the error, before the kernel is asked (or when
 * it refuses, for the per-user RLIMIT_MSGQUEUE it alone can count). */
static void
test_limits_named(void **state)
{
	long msg_max = qu_sysctl("/proc/sys/fs/mqueue/msg_max");
	long size_max = qu_sysctl("/proc/sys/fs/mqueue/msgsize_max");
	char a1[160], a2[160], a3[160], a4[160], opt[64];
	struct limit_case cases[4];
	struct ipk_chan *ch;
	char *big = calloc(1, (size_t)size_max + 1);

	(void)state;
	assert_non_null(big);
	snprintf(opt, sizeof(opt), "?maxmsg=%ld", msg_max + 1);
	qu_address(a1, sizeof(a1), "posixmq:/%N", opt);
	snprintf(opt, sizeof(opt), "?msgsize=%ld", size_max + 1);
	qu_address(a2, sizeof(a2), "posixmq:/%N", opt);
	qu_address(a3, sizeof(a3), "posixmq:/%N", "?maxmsg=4&msgsize=1024");
	qu_address(a4, sizeof(a4), "posixmq:/%N", "");
	cases[0] = (struct limit_case){ a1, 0, "fs.mqueue.msg_max" };
	cases[1] = (struct limit_case){ a2, 0, "fs.mqueue.msgsize_max" };
	cases[2] = (struct limit_case){ a3, 2048, "RLIMIT_MSGQUEUE" };
	cases[3] = (struct limit_case){ a4, 2048, "RLIMIT_MSGQUEUE" };
	for (int i = 0; i < 4; i++) {
		print_message("# %s\n", cases[i].addr);
		if (i == 0 && msg_max >= 65536)
			continue; /* already the hard limit */
		assert_int_equal(qu_child(child_limit, &cases[i], 10000), 0);
	}
	/* The message limit is the queue's mq_msgsize. */
	ch = qu_open(a3, 0);
	assert_int_equal(ipk_max_msg(ch), 1024);
	assert_int_equal(ipk_send(ch, big, 1025, 0), -EMSGSIZE);
	assert_true(qu_has_detail("mq_msgsize = 1024"));
	for (int i = 0; i < 4; i++)
		assert_int_equal(ipk_send(ch, big, 1024, 0), 1024);
	assert_int_equal(ipk_send(ch, big, 1, 0), -EAGAIN);
	ipk_close(ch);
	free(big);
}

/* ?maxmsg= and ?msgsize= apply when the queue is made; asking an existing
 * queue for others is an error. */
static void
test_existing_attributes(void **state)
{
	long dflt = qu_sysctl("/proc/sys/fs/mqueue/msgsize_default");
	char addr[160], again[200];
	struct ipk_chan *ch, *ch2 = NULL;

	(void)state;
	qu_address(addr, sizeof(addr), "posixmq:/%N", "");
	snprintf(again, sizeof(again), "%s?maxmsg=3", addr);
	ch = qu_open(again, 0);
	snprintf(again, sizeof(again), "%s?maxmsg=4", addr);
	assert_int_equal(ipk_open(&ch2, again, 0, 0), IPK_EOPTION);
	assert_true(qu_has_detail("maxmsg=3"));
	snprintf(again, sizeof(again), "%s?maxmsg=3&msgsize=%ld", addr, dflt);
	ch2 = qu_open(again, 0);
	ipk_close(ch2);
	ch2 = qu_open(addr, 0);
	assert_int_equal(ipk_max_msg(ch2), (size_t)dflt);
	ipk_close(ch2);
	ipk_close(ch);
}

static mode_t
queue_mode(const char *addr)
{
	char name[160];
	struct stat sb;
	mqd_t q;

	snprintf(name, sizeof(name), "%.*s", (int)strcspn(addr + 8, "?"),
	         addr + 8);
	q = mq_open(name, O_RDONLY);

	assert_true(q != (mqd_t)-1);
	/* A queue descriptor is a file descriptor on Linux. */
	assert_int_equal(fstat(q, &sb), 0);
	mq_close(q);
	return sb.st_mode & 0777;
}

static void
test_create_flags_and_mode(void **state)
{
	char addr[160], other[160];
	struct ipk_chan *ch;
	mode_t old;

	(void)state;
	qu_address(addr, sizeof(addr), "posixmq:/%N", "");
	qu_check_create_flags(addr);
	assert_int_equal(queue_mode(addr), 0600);
	/* The umask does not trim ?mode=. */
	old = umask(077);
	qu_address(other, sizeof(other), "posixmq:/%N", "?mode=0660");
	ch = qu_open(other, 0);
	umask(old);
	assert_int_equal(queue_mode(other), 0660);
	ipk_close(ch);
}

static void
test_malformed_addresses(void **state)
{
	static const struct {
		const char *addr;
		int err;
		const char *detail;
	} bad[] = {
		{ "posixmq:q", IPK_EADDR, "a name is '/'" },
		{ "posixmq:/", IPK_EADDR, "a name is '/'" },
		{ "posixmq:", IPK_EADDR, "a name is '/'" },
		{ "posixmq:/a/b", IPK_EADDR, "no '/' after" },
		{ "posixmq:/..", IPK_EADDR, "not a queue name" },
		{ "posixmq:/q?maxmsg=0", IPK_EOPTION, "outside 1..65536" },
		{ "posixmq:/q?maxmsg=70000", IPK_EOPTION, "outside 1..65536" },
		{ "posixmq:/q?msgsize=32M", IPK_EOPTION, "outside" },
		{ "posixmq:/q?msgsize=big", IPK_EOPTION, "not a number" },
		{ "posixmq:/q?proj=1", IPK_EOPTION, "unknown option" },
		{ "posixmq:/q?mode=0602", IPK_EOPTION, "anyone" },
	};
	char longname[300];
	struct ipk_chan *ch = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# %s\n", bad[i].addr);
		assert_int_equal(ipk_open(&ch, bad[i].addr, 0, 0), bad[i].err);
		assert_null(ch);
		assert_true(qu_has_detail(bad[i].detail));
	}
	memset(longname, 'n', sizeof(longname));
	memcpy(longname, "posixmq:/", 9);
	longname[9 + 256] = '\0';
	assert_int_equal(ipk_open(&ch, longname, 0, 0), IPK_EADDR);
	assert_true(qu_has_detail("at most 255"));
}

/* ls needs the mqueue file system mounted.  Where /dev/mqueue is not, a
 * child mounts one in a mount namespace of its own (the queues are the
 * IPC namespace's either way) and lists there. */
static int
child_list(void *v)
{
	struct qu_found *f = v;
	struct statfs sf;
	char dir[300];

	if (statfs("/dev/mqueue", &sf) != 0 || sf.f_type != 0x19800202) {
		harness_path(dir, sizeof(dir), "mqueue");
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) !=
		            0 ||
		    mkdir(dir, 0700) != 0 ||
		    mount("mqueue", dir, "mqueue", 0, NULL) != 0) {
			fprintf(stderr, "# cannot mount an mqueue fs: %s\n",
			        strerror(errno));
			return 30;
		}
	}
	if (qu_find(f) != 0)
		return 31;
	if (f->count != 1 || strcmp(f->seen.scheme, "posixmq") != 0 ||
	    f->seen.mode != 0640 || f->seen.owner != getuid() ||
	    f->seen.messages != 2 || f->seen.bytes != 5) {
		fprintf(stderr,
		        "# found %d, mode %o, owner %d, %llu msgs, %llu "
		        "bytes\n",
		        f->count, (unsigned)f->seen.mode, (int)f->seen.owner,
		        f->seen.messages, f->seen.bytes);
		return 32;
	}
	return 0;
}

static void
test_list_and_unlink(void **state)
{
	char addr[160], base[160];
	struct ipk_chan *ch;
	struct qu_found f = { base, { 0 }, 0 };
	char buf[8];

	(void)state;
	qu_address(addr, sizeof(addr), "posixmq:/%N", "?mode=0640");
	snprintf(base, sizeof(base), "%.*s", (int)(strchr(addr, '?') - addr),
	         addr);
	ch = qu_open(addr, 0);
	send_prio(ch, 1, "abc");
	send_prio(ch, 1, "de");
	assert_int_equal(qu_child(child_list, &f, 10000), 0);
	assert_int_equal(ipk_unlink(base), 0);
	assert_int_equal(ipk_unlink(base), -ENOENT);
	/* An open channel keeps working on the unlinked queue. */
	expect_prio(ch, 64, 1, "abc");
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 0), 2);
	ipk_close(ch);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_priorities, qu_teardown),
		cmocka_unit_test_teardown(test_small_buffer_keeps_message,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_limits_named, qu_teardown),
		cmocka_unit_test_teardown(test_existing_attributes,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_create_flags_and_mode,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_malformed_addresses,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_list_and_unlink, qu_teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("posixmq", tests, NULL, NULL);
}
