// SPDX-License-Identifier: MIT
/* test_file.c - what is special about file: messages outlive the processes
 * that wrote them (even SIGKILLed ones), a sender killed mid-message while
 * holding the lock (EOWNERDEAD) never wedges the others or shows a torn
 * record, the state of an earlier boot is repaired, ?sync=1 reaches the
 * disk, foreign and damaged files are refused cleanly, and the pollfd works
 * across processes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "crc32c.h"
#include "harness.h"
#include "ipckit.h"
#include "queue_util.h"
#include "transport/mmap_file.h"
#include "transport/queue_hooks.h"

#define BIG (64 * 1024)

static const char *
path_of(const char *addr)
{
	static char path[512];

	snprintf(path, sizeof(path), "%.*s", (int)strcspn(addr + 5, "?"),
	         addr + 5);
	return path;
}

/* Map a queue file's header, as a test looks at (or damages) it. */
static struct fileq_header *
map_header(const char *addr)
{
	int fd = open(path_of(addr), O_RDWR);
	void *p;

	assert_true(fd >= 0);
	p = mmap(NULL, FILEQ_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	         0);
	close(fd);
	assert_true(p != MAP_FAILED);
	return p;
}

/* Bytes that depend on i and their position. */
static void
msg_fill(unsigned char *buf, unsigned i, size_t len)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = (unsigned char)(i * 131u + k * 7u);
	memcpy(buf, &i, sizeof(i) < len ? sizeof(i) : len);
}

/* Message i: its length and bytes depend on i alone. */
static size_t
msg_make(unsigned char *buf, unsigned i)
{
	size_t len = 8 + (i * 977u) % 3000;

	msg_fill(buf, i, len);
	return len;
}

static bool
msg_is(const unsigned char *buf, ssize_t n, unsigned i)
{
	unsigned char want[4096];

	return n == (ssize_t)msg_make(want, i) &&
	       memcmp(buf, want, (size_t)n) == 0;
}

struct writer {
	const char *addr;
	unsigned from, count;
	int notify_fd; /* -1, or: write one byte when sent, then wait */
};

static int
child_writer(void *v)
{
	struct writer *w = v;
	struct ipk_chan *ch = NULL;
	unsigned char buf[4096];

	if (ipk_open(&ch, w->addr, 0, 1000) != 0)
		return 10;
	for (unsigned i = w->from; i < w->from + w->count; i++) {
		size_t len = msg_make(buf, i);

		if (ipk_send(ch, buf, len, 1000) != (ssize_t)len)
			return 11;
	}
	if (w->notify_fd >= 0) {
		if (write(w->notify_fd, "s", 1) != 1)
			return 12;
		pause(); /* until SIGKILL */
	}
	ipk_close(ch);
	return 0;
}

/* A process started later receives from..from+count-1, then nothing. */
static int
child_reader(void *v)
{
	struct writer *w = v;
	struct ipk_chan *ch = NULL;
	unsigned char buf[4096];

	if (ipk_open(&ch, w->addr, IPK_NOCREATE, 1000) != 0)
		return 20;
	for (unsigned i = w->from; i < w->from + w->count; i++)
		if (!msg_is(buf, ipk_recv(ch, buf, sizeof(buf), 1000), i))
			return 21;
	if (ipk_recv(ch, buf, sizeof(buf), 0) != -EAGAIN)
		return 22;
	ipk_close(ch);
	return 0;
}

/* Messages survive the writer: it exits, or is SIGKILLed between sends,
 * and a reader started afterwards gets each one, whole and in order. */
static void
test_durable_across_processes(void **state)
{
	char addr[400];
	struct writer w;
	struct pollfd q;
	int pfd[2];
	pid_t pid;
	char c;

	(void)state;
	qu_address(addr, sizeof(addr), "file:%P", "");
	w = (struct writer){ addr, 0, 60, -1 };
	assert_int_equal(qu_child(child_writer, &w, 10000), 0);
	assert_int_equal(qu_child(child_reader, &w, 10000), 0);

	assert_int_equal(pipe(pfd), 0);
	w = (struct writer){ addr, 100, 25, pfd[1] };
	pid = fork_child(child_writer, &w);
	assert_true(pid > 0);
	close(pfd[1]);
	q = (struct pollfd){ .fd = pfd[0], .events = POLLIN };
	assert_int_equal(poll(&q, 1, 10000), 1);
	assert_int_equal(read(pfd[0], &c, 1), 1);
	close(pfd[0]);
	kill(pid, SIGKILL);
	assert_int_equal(wait_child(pid, 10000), 128 + SIGKILL);
	assert_int_equal(qu_child(child_reader, &w, 10000), 0);
}

static void
die_now(void)
{
	raise(SIGKILL);
}

static int
child_dies_mid_message(void *v)
{
	const char *addr = v;
	struct ipk_chan *ch = NULL;
	unsigned char *buf = malloc(BIG);

	if (buf == NULL || ipk_open(&ch, addr, 0, 1000) != 0)
		return 10;
	for (unsigned i = 0; i < 3; i++) {
		size_t len = msg_make(buf, i);

		if (ipk_send(ch, buf, len, 1000) != (ssize_t)len)
			return 11;
	}
	/* Killed with the lock held and half of 64 KiB copied. */
	memset(buf, 0xee, BIG);
	fileq_hook_mid_send(die_now);
	(void)ipk_send(ch, buf, BIG, 1000);
	return 12;
}

static int
child_dies_holding_lock(void *v)
{
	struct fileq_header *h = v;

	/* Lock it as a sender would, and die without unlocking. */
	if (pthread_mutex_lock(&h->lock) != 0)
		return 10;
	_exit(0);
}

/* A sender killed mid-message holds the robust mutex: the next taker gets
 * EOWNERDEAD and repairs; nobody waits, nobody sees the half record. */
static void
test_killed_holding_the_lock(void **state)
{
	char addr[400];
	struct fileq_header *h;
	struct ipk_chan *ch;
	unsigned char buf[BIG];

	(void)state;
	memset(buf, 0, sizeof(buf));
	qu_address(addr, sizeof(addr), "file:%P", "?size=256k");
	ch = qu_open(addr, 0);
	h = map_header(addr);
	assert_int_equal(h->recoveries, 0);
	assert_int_equal(qu_child(child_dies_mid_message, addr, 10000),
	                 128 + SIGKILL);
	for (unsigned i = 0; i < 3; i++)
		assert_true(
		        msg_is(buf, ipk_recv(ch, buf, sizeof(buf), 1000), i));
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 0), -EAGAIN);
	assert_int_equal(h->recoveries, 1);
	/* The space the dead sender used is free again. */
	for (unsigned round = 0; round < 8; round++) {
		assert_int_equal(ipk_send(ch, buf, BIG, 1000), BIG);
		assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 1000), BIG);
	}
	/* A lock held by a process that exits, outside any send. */
	assert_int_equal(ipk_send(ch, "before", 6, 1000), 6);
	assert_int_equal(qu_child(child_dies_holding_lock, h, 10000), 0);
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 5000), 6);
	assert_memory_equal(buf, "before", 6);
	assert_int_equal(h->recoveries, 2);
	assert_int_equal(h->dropped, 0);
	munmap(h, FILEQ_HDR_SIZE);
	ipk_close(ch);
}

/* The lock and records of an earlier boot: a lock word still "held" by a
 * process of that boot, and a record whose pages never reached the disk.
 * The first opener of this boot re-initialises the lock and cuts the
 * queue before the torn record. */
static void
test_state_of_an_earlier_boot(void **state)
{
	char addr[400];
	struct fileq_header *h;
	struct ipk_chan *ch;
	unsigned char buf[4096];
	uint64_t off;
	int fd;

	(void)state;
	qu_address(addr, sizeof(addr), "file:%P", "");
	ch = qu_open(addr, 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(ipk_send(ch, buf, msg_make(buf, i), 1000),
		                 (ssize_t)msg_make(buf, i));
	ipk_close(ch);
	/* Tear the third record's payload, as a lost page would. */
	off = 0;
	for (unsigned i = 0; i < 2; i++)
		off += (sizeof(struct fileq_rec) + msg_make(buf, i) +
		        FILEQ_ALIGN - 1) &
		       ~(size_t)(FILEQ_ALIGN - 1);
	fd = open(path_of(addr), O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 4, FILEQ_HDR_SIZE + (off_t)off), 4);
	assert_memory_equal(buf, &(uint32_t){ fileq_stamp(off) }, 4);
	assert_int_equal(pwrite(fd, "\x5a", 1,
	                        FILEQ_HDR_SIZE + (off_t)off +
	                                sizeof(struct fileq_rec) + 5),
	                 1);
	close(fd);
	h = map_header(addr);
	memset(h->boot_id, 0x42, sizeof(h->boot_id));
	/* glibc's lock word: owner 12345 of the old boot. */
	h->lock.__data.__lock = 12345;
	munmap(h, FILEQ_HDR_SIZE);

	ch = qu_open(addr, IPK_NOCREATE);
	for (unsigned i = 0; i < 2; i++)
		assert_true(
		        msg_is(buf, ipk_recv(ch, buf, sizeof(buf), 1000), i));
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 100), -ETIMEDOUT);
	h = map_header(addr);
	assert_int_equal(h->dropped, 1);
	munmap(h, FILEQ_HDR_SIZE);
	assert_int_equal(ipk_send(ch, "after", 5, 1000), 5);
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 1000), 5);
	ipk_close(ch);
}

/* Dirty pages of mappings of path in this process, in kB. */
static long
dirty_kb(const char *path)
{
	char line[1024];
	bool ours = false;
	long kb = 0, v;
	FILE *f = fopen("/proc/self/smaps", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			ours = strstr(line, path) != NULL;
		else if (ours && (sscanf(line, "Shared_Dirty: %ld", &v) == 1 ||
		                  sscanf(line, "Private_Dirty: %ld", &v) == 1))
			kb += v;
	}
	fclose(f);
	return kb;
}

/* ?sync=1: when send (or receive) returns, the file's pages are written;
 * without it they are left to the kernel's writeback. */
static void
test_sync(void **state)
{
	char addr[400], synced[440];
	struct ipk_chan *lazy, *sync;
	unsigned char buf[4096];
	struct statfs sf;
	bool disk;

	(void)state;
	qu_address(addr, sizeof(addr), "file:%P", "");
	snprintf(synced, sizeof(synced), "%s?sync=1", addr);
	lazy = qu_open(addr, 0);
	sync = qu_open(synced, 0);
	/* tmpfs pages have no disk to be written to. */
	assert_int_equal(statfs(path_of(addr), &sf), 0);
	disk = sf.f_type != 0x01021994;
	assert_int_equal(ipk_send(lazy, buf, msg_make(buf, 1), 1000),
	                 (ssize_t)msg_make(buf, 1));
	if (disk)
		assert_true(dirty_kb(path_of(addr)) > 0);
	assert_int_equal(ipk_send(sync, buf, msg_make(buf, 2), 1000),
	                 (ssize_t)msg_make(buf, 2));
	if (disk)
		assert_int_equal(dirty_kb(path_of(addr)), 0);
	assert_true(msg_is(buf, ipk_recv(sync, buf, sizeof(buf), 1000), 1));
	if (disk)
		assert_int_equal(dirty_kb(path_of(addr)), 0);
	assert_true(msg_is(buf, ipk_recv(lazy, buf, sizeof(buf), 1000), 2));
	ipk_close(lazy);
	ipk_close(sync);
}

static void
expect_refused(const char *addr, int err, const char *detail)
{
	struct ipk_chan *ch = NULL;

	print_message("# %s\n", addr);
	assert_int_equal(ipk_open(&ch, addr, 0, 0), err);
	assert_null(ch);
	assert_true(qu_has_detail(detail));
}

static void
write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* A queue of three records, then damage done by fn to its header. */
static void
damaged(const char *tag, void (*fn)(struct fileq_header *h, int fd),
        const char *detail)
{
	char addr[400];
	struct fileq_header *h;
	struct ipk_chan *ch;
	int fd;

	qu_address(addr, sizeof(addr), "file:%P", "");
	ch = qu_open(addr, 0);
	assert_int_equal(ipk_send(ch, "x", 1, 1000), 1);
	ipk_close(ch);
	h = map_header(addr);
	fd = open(path_of(addr), O_RDWR);
	assert_true(fd >= 0);
	print_message("# %s\n", tag);
	fn(h, fd);
	close(fd);
	munmap(h, FILEQ_HDR_SIZE);
	expect_refused(addr, IPK_ECORRUPT, detail);
}

static void
bad_capacity(struct fileq_header *h, int fd)
{
	(void)fd;
	h->capacity += 4096;
}

static void
bad_version(struct fileq_header *h, int fd)
{
	(void)fd;
	h->version = 99;
	h->fixed_crc = crc32c(0, h, offsetof(struct fileq_header, fixed_crc));
}

static void
bad_length(struct fileq_header *h, int fd)
{
	(void)h;
	assert_int_equal(ftruncate(fd, FILEQ_HDR_SIZE + 4096), 0);
}

static void
bad_tail(struct fileq_header *h, int fd)
{
	(void)fd;
	h->tail = h->head + (1u << 30);
}

/* Nothing that is not a queue of ours, or is damaged, is used: clear
 * errors, never a crash, never removal of someone else's file. */
static void
test_foreign_and_damaged_files(void **state)
{
	char path[300], addr[400];
	struct ipk_chan *ch;
	unsigned char buf[64];
	struct fileq_header *h;
	int fd;

	(void)state;
	harness_path(path, sizeof(path), "foreign");
	write_file(path, "hello, world\n", 13);
	snprintf(addr, sizeof(addr), "file:%s", path);
	expect_refused(addr, IPK_ECORRUPT, "not an ipckit queue file");
	assert_int_equal(ipk_unlink(addr), IPK_ECORRUPT);
	assert_int_equal(access(path, F_OK), 0);
	write_file(path, "", 0);
	expect_refused(addr, IPK_ECORRUPT, "not an ipckit queue file");
	write_file(path, FILEQ_MAGIC, 8);
	expect_refused(addr, IPK_ECORRUPT, "not an ipckit queue file");
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	expect_refused(addr, IPK_ECORRUPT, "not a regular file");
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	expect_refused(addr, -EISDIR, "Is a directory");
	rmdir(path);

	damaged("capacity", bad_capacity, "checksum");
	damaged("version", bad_version, "layout version 99");
	damaged("length", bad_length, "bytes long");
	damaged("tail", bad_tail, "impossible");

	/* A damaged record in a live queue is dropped and reported; the
	 * records around it still arrive. */
	qu_address(addr, sizeof(addr), "file:%P", "");
	ch = qu_open(addr, 0);
	assert_int_equal(ipk_send(ch, "one", 3, 1000), 3);
	assert_int_equal(ipk_send(ch, "two", 3, 1000), 3);
	assert_int_equal(ipk_send(ch, "three", 5, 1000), 5);
	fd = open(path_of(addr), O_RDWR);
	assert_true(fd >= 0);
	/* Records of 3 bytes take 32: the second one's payload. */
	assert_int_equal(pwrite(fd, "T", 1, FILEQ_HDR_SIZE + 32 + 16), 1);
	close(fd);
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 1000), 3);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 1000), IPK_ECORRUPT);
	assert_true(qu_has_detail("damaged record"));
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 1000), 5);
	assert_memory_equal(buf, "three", 5);
	h = map_header(addr);
	assert_int_equal(h->dropped, 1);
	munmap(h, FILEQ_HDR_SIZE);
	ipk_close(ch);
}

static mode_t
file_mode(const char *addr)
{
	struct stat sb;

	assert_int_equal(stat(path_of(addr), &sb), 0);
	return sb.st_mode & 0777;
}

static void
test_create_flags_mode_and_size(void **state)
{
	char addr[400], other[440];
	struct ipk_chan *ch;
	mode_t old;

	(void)state;
	qu_address(addr, sizeof(addr), "file:%P", "");
	qu_check_create_flags(addr);
	ch = qu_open(addr, IPK_NOCREATE);
	assert_int_equal(file_mode(addr), 0600);
	assert_int_equal(ipk_max_msg(ch), (1u << 20) - 16);
	ipk_close(ch);
	snprintf(other, sizeof(other), "%s?size=2M", addr);
	expect_refused(other, IPK_EOPTION, "exists with size=1048576");

	old = umask(077);
	qu_address(addr, sizeof(addr), "file:%P", "?mode=0660&size=5000");
	ch = qu_open(addr, 0);
	umask(old);
	assert_int_equal(file_mode(addr), 0660);
	/* Rounded up to whole pages. */
	assert_int_equal(ipk_max_msg(ch), 8192 - 16);
	ipk_close(ch);
}

static void
test_malformed_addresses(void **state)
{
	(void)state;
	expect_refused("file:", IPK_EADDR, "expected a path");
	expect_refused("file:/tmp/x?size=1k", IPK_EOPTION, "outside");
	expect_refused("file:/tmp/x?size=100G", IPK_EOPTION, "outside");
	expect_refused("file:/tmp/x?size=many", IPK_EOPTION, "not a number");
	expect_refused("file:/tmp/x?sync=maybe", IPK_EOPTION, "not a boolean");
	expect_refused("file:/tmp/x?maxmsg=3", IPK_EOPTION, "unknown option");
	expect_refused("file:/nonexistent-dir/q", -ENOENT, "cannot make");
}

static void
test_list_and_unlink(void **state)
{
	char addr[400], canon[PATH_MAX + 8], real[PATH_MAX];
	struct ipk_chan *ch;
	struct qu_found f = { canon, { 0 }, 0 };

	(void)state;
	qu_address(addr, sizeof(addr), "file:%P", "?mode=0640");
	ch = qu_open(addr, 0);
	assert_int_equal(ipk_send(ch, "abc", 3, 1000), 3);
	assert_int_equal(ipk_send(ch, "de", 2, 1000), 2);
	assert_non_null(realpath(path_of(addr), real));
	snprintf(canon, sizeof(canon), "file:%s", real);
	assert_int_equal(qu_find(&f), 0);
	assert_int_equal(f.count, 1);
	assert_string_equal(f.seen.scheme, "file");
	assert_int_equal(f.seen.mode, 0640);
	assert_int_equal(f.seen.owner, getuid());
	assert_int_equal(f.seen.creator_pid, getpid());
	assert_int_equal(f.seen.messages, 2);
	assert_int_equal(f.seen.bytes, 64);
	ipk_close(ch);
	assert_int_equal(ipk_unlink(canon), 0);
	assert_int_equal(access(real, F_OK), -1);
	assert_int_equal(ipk_unlink(canon), -ENOENT);

	assert_int_equal(qu_find(&f), 0);
	assert_int_equal(f.count, 0);
}

static int
child_send_when_polled(void *v)
{
	const char *addr = v;
	struct ipk_chan *ch = NULL;
	struct fileq_header *h;
	int fd = open(path_of(addr), O_RDWR);

	if (fd < 0)
		return 10;
	h = mmap(NULL, FILEQ_HDR_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (h == MAP_FAILED)
		return 11;
	/* Send once the parent's pollfd is armed (bounded). */
	for (int i = 0;
	     i < 5000 && !__atomic_load_n(&h->poll_armed, __ATOMIC_ACQUIRE);
	     i++)
		usleep(1000);
	if (ipk_open(&ch, addr, IPK_NOCREATE, 1000) != 0)
		return 12;
	if (ipk_send(ch, "wake", 4, 1000) != 4)
		return 13;
	ipk_close(ch);
	return 0;
}

/* The pollfd is an inotify watch: a sender in another process rings it. */
static void
test_pollfd_across_processes(void **state)
{
	char addr[400];
	struct ipk_chan *ch;
	struct pollfd q;
	char buf[8];
	pid_t pid;

	(void)state;
	qu_address(addr, sizeof(addr), "file:%P", "");
	ch = qu_open(addr, 0);
	q = (struct pollfd){ .fd = ipk_pollfd(ch), .events = POLLIN };
	assert_true(q.fd >= 0);
	assert_int_equal(poll(&q, 1, 0), 0);
	pid = fork_child(child_send_when_polled, addr);
	assert_true(pid > 0);
	assert_int_equal(poll(&q, 1, 10000), 1);
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 1000), 4);
	/* Readiness may be spurious while the sender is still ringing;
	 * once it is gone and the queue is drained, the fd is quiet. */
	assert_int_equal(wait_child(pid, 10000), 0);
	assert_int_equal(ipk_recv(ch, buf, sizeof(buf), 0), -EAGAIN);
	q.revents = 0;
	assert_int_equal(poll(&q, 1, 0), 0);
	ipk_close(ch);
}

static size_t
wrap_len(unsigned i)
{
	return 8 + (i * 7919u) % 1500;
}

/* A small ring: records pad over its end lap after lap, and a message
 * as large as the ring fits once it is empty. */
static void
test_wraparound(void **state)
{
	char addr[400];
	struct ipk_chan *a, *b;
	unsigned char buf[4096], want[4096];
	unsigned sent = 0, got = 0;

	(void)state;
	qu_address(addr, sizeof(addr), "file:%P", "?size=4096");
	a = qu_open(addr, 0);
	b = qu_open(addr, 0);
	/* Keep the ring as full as it goes, receiving only when it must. */
	while (got < 400) {
		ssize_t n = -EAGAIN;

		if (sent < 400) {
			msg_fill(buf, sent, wrap_len(sent));
			n = ipk_send(a, buf, wrap_len(sent), 0);
			assert_true(n == -EAGAIN ||
			            n == (ssize_t)wrap_len(sent));
			sent += n > 0;
		}
		if (n != -EAGAIN)
			continue;
		n = ipk_recv(b, buf, sizeof(buf), 1000);
		msg_fill(want, got, wrap_len(got));
		assert_int_equal(n, (ssize_t)wrap_len(got));
		assert_memory_equal(buf, want, (size_t)n);
		got++;
	}
	memset(buf, 'w', sizeof(buf));
	assert_int_equal(ipk_send(a, buf, ipk_max_msg(a), 0), 4080);
	assert_int_equal(ipk_send(a, buf, 0, 0), -EAGAIN);
	assert_int_equal(ipk_peek_size(b, NULL, 0), 4080);
	assert_int_equal(ipk_recv(b, buf, 4079, 0), -EMSGSIZE);
	assert_int_equal(ipk_recv(b, buf, sizeof(buf), 0), 4080);
	ipk_close(a);
	ipk_close(b);
}

struct stream {
	const char *addr;
	unsigned count;
	bool send;
};

static int
child_stream(void *v)
{
	struct stream *s = v;
	struct ipk_chan *ch = NULL;
	unsigned char buf[64];

	if (ipk_open(&ch, s->addr, IPK_NOCREATE, 1000) != 0)
		return 10;
	for (unsigned i = 0; i < s->count; i++) {
		ssize_t n;

		memcpy(buf, &i, sizeof(i));
		n = s->send ? ipk_send(ch, buf, sizeof(buf), -1)
		            : ipk_recv(ch, buf, sizeof(buf), -1);
		if (n != sizeof(buf) || memcmp(buf, &i, sizeof(i)) != 0)
			return 11;
	}
	ipk_close(ch);
	return 0;
}

/* Waits without a timeout must never miss a wake-up: a small ring swings
 * between full and empty tens of thousands of times while a sender and a
 * receiver in two processes block in turn.  (A wake-up issued after the
 * lock was dropped once consumed the flag of the next wait.) */
static void
test_no_lost_wakeups(void **state)
{
	char addr[400];
	struct ipk_chan *ch;

	(void)state;
	qu_address(addr, sizeof(addr), "file:%P", "?size=4096");
	ch = qu_open(addr, 0);
	for (int round = 0; round < 6; round++) {
		struct stream tx = { addr, 50000, true },
		              rx = { addr, 50000, false };
		pid_t r = fork_child(child_stream, &rx);
		pid_t s = fork_child(child_stream, &tx);

		assert_true(r > 0 && s > 0);
		assert_int_equal(wait_child(s, 30000), 0);
		assert_int_equal(wait_child(r, 30000), 0);
	}
	ipk_close(ch);
}

/* CRC-32C: the check value, and both implementations agree. */
static void
test_crc32c(void **state)
{
	unsigned char data[1100];

	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(crc32c_portable(0, "123456789", 9), 0xe3069283);
	assert_int_equal(getrandom(data, sizeof(data), 0), sizeof(data));
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len < 1090; len += 37)
			assert_int_equal(crc32c(7, data + off, len),
			                 crc32c_portable(7, data + off, len));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_durable_across_processes,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_killed_holding_the_lock,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_state_of_an_earlier_boot,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_sync, qu_teardown),
		cmocka_unit_test_teardown(test_foreign_and_damaged_files,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_create_flags_mode_and_size,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_malformed_addresses,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_list_and_unlink, qu_teardown),
		cmocka_unit_test_teardown(test_pollfd_across_processes,
		                          qu_teardown),
		cmocka_unit_test_teardown(test_wraparound, qu_teardown),
		cmocka_unit_test_teardown(test_no_lost_wakeups, qu_teardown),
		cmocka_unit_test_teardown(test_crc32c, qu_teardown),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("file", tests, NULL, NULL);
}
