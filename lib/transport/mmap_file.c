// SPDX-License-Identifier: MIT
/* mmap_file.c - a durable queue in an mmap'd file (file:PATH): records
 * with a commit stamp and a CRC-32C in a ring, a robust process-shared
 * mutex in the mapping, futexes for waiting and an inotify doorbell for
 * poll().  Messages outlive every process; ?sync=1 makes each call durable
 * against a crash of the machine.  Layout in mmap_file.h, design in
 * docs/mechanisms/queues.md. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "mmap_file.h"
#include "queue_hooks.h"
#include "registry.h"
#include "transport.h"
#include "wait.h"

#define FILEQ_SIZE_DEFAULT  (1u << 20)
#define FILEQ_SIZE_MIN      4096u
#define FILEQ_SIZE_MAX      (64ull << 30)
#define FILEQ_PAGE          4096u
/* A live holder keeps the lock for a copy's length; a zero or short
 * timeout still waits this long for it before giving up. */
#define FILEQ_LOCK_GRACE_NS (50 * 1000000ll)
#define FILEQ_FLOCK_MS      2000

struct fileq_state {
	int fd;                   /* owned, -1 until open */
	int ifd;                  /* owned inotify fd of ipk_pollfd(), -1 */
	struct fileq_header *hdr; /* owned mapping of map_size bytes */
	unsigned char *ring;      /* hdr + FILEQ_HDR_SIZE */
	size_t map_size;
	uint64_t cap; /* hdr->capacity, read once */
	bool sync;    /* ?sync=1: msync before returning */
	char *path;   /* owned copy, for error details */
};

static void (*fileq_mid_send_hook)(void);

void
fileq_hook_mid_send(void (*fn)(void))
{
	fileq_mid_send_hook = fn;
}

/* ---- small helpers ---- */

static uint64_t
fileq_align(uint64_t n)
{
	return (n + FILEQ_ALIGN - 1) & ~(uint64_t)(FILEQ_ALIGN - 1);
}

static uint32_t
fileq_rec_crc(uint64_t off, uint32_t len, const void *payload)
{
	uint32_t c = crc32c(0, &off, sizeof(off));

	c = crc32c(c, &len, sizeof(len));
	return crc32c(c, payload, len);
}

static uint32_t
fileq_fixed_crc(const struct fileq_header *h)
{
	return crc32c(0, h, offsetof(struct fileq_header, fixed_crc));
}

static int
fileq_futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	/* Not FUTEX_PRIVATE_FLAG: the word is shared with other processes
	 * through the file. */
	return (int)syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

/* Sleep while *addr == val, until deadline.  0 (woken, changed, or a
 * signal: look again) or -ETIMEDOUT. */
static int
fileq_sleep(uint32_t *addr, uint32_t val, int64_t deadline)
{
	struct timespec ts, *tsp = NULL;

	if (deadline != WAIT_FOREVER) {
		int64_t left = deadline - wait_now_ns();

		if (left <= 0)
			return -ETIMEDOUT;
		ts.tv_sec = (time_t)(left / 1000000000);
		ts.tv_nsec = (long)(left % 1000000000);
		tsp = &ts; /* FUTEX_WAIT: relative, on CLOCK_MONOTONIC */
	}
	if (fileq_futex(addr, FUTEX_WAIT, val, tsp) != 0 && errno == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

/*
 * Tell sleepers on seq that the queue changed.  Called under the lock just
 * before the store that makes the change (a send's tail, a take's head):
 * whoever dies before this call has changed nothing, whoever dies after it
 * has woken everyone.  A woken sleeper re-checks under the lock, which the
 * caller releases long before the sleeper's wake-up completes.
 */
static void
fileq_wake(uint32_t *seq, uint32_t *waiters)
{
	__atomic_add_fetch(seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(waiters, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(waiters, 0, __ATOMIC_SEQ_CST))
		fileq_futex(seq, FUTEX_WAKE, INT_MAX, NULL);
}

static void
fileq_boot_id(uint8_t id[16])
{
	static uint8_t cached[16];
	static int state; /* 0 unread, 1 read */
	char text[64];
	int fd, j = 0;
	ssize_t n;

	if (__atomic_load_n(&state, __ATOMIC_ACQUIRE)) {
		memcpy(id, cached, 16);
		return;
	}
	memset(id, 0, 16);
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return;
	text[n] = '\0';
	/* "0a98053d-7c79-4123-9ce6-08bdd7d27119": 32 hex digits. */
	for (ssize_t i = 0; i < n && j < 32; i++) {
		char c = text[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		                               : -1;

		if (v < 0)
			continue;
		id[j / 2] |= (uint8_t)(j % 2 ? v : v << 4);
		j++;
	}
	memcpy(cached, id, 16);
	__atomic_store_n(&state, 1, __ATOMIC_RELEASE);
}

static int
fileq_init_lock(pthread_mutex_t *m)
{
	pthread_mutexattr_t at;
	int rc;

	if (pthread_mutexattr_init(&at) != 0)
		return -ENOMEM;
	rc = pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutex_init(m, &at);
	pthread_mutexattr_destroy(&at);
	return -rc;
}

/* ---- records ---- */

/* Is there a whole record (or padding, *pad) at offset off?  Returns its
 * length in the ring, or 0 if not. */
static uint64_t
fileq_valid_at(const struct fileq_state *st, uint64_t off, bool *pad)
{
	uint64_t pos = off % st->cap, room = st->cap - pos;
	const struct fileq_rec *r = (const void *)(st->ring + pos);
	uint32_t commit;

	/* pos is 16-aligned and cap a multiple of 4096: room >= 16. */
	commit = __atomic_load_n(&r->commit, __ATOMIC_ACQUIRE);
	*pad = commit == (fileq_stamp(off) ^ FILEQ_PAD_FLIP);
	if (!*pad && commit != fileq_stamp(off))
		return 0;
	if (r->len > room - sizeof(*r) || (*pad && r->len != room - sizeof(*r)))
		return 0;
	if (r->crc != fileq_rec_crc(off, r->len, r + 1))
		return 0;
	return *pad ? room : fileq_align(sizeof(*r) + r->len);
}

static int
fileq_corrupt(const struct fileq_state *st, const char *what)
{
	return errdetail(IPK_ECORRUPT, "file:%s: %s", st->path, what);
}

/* Are head and tail possible at all? */
static bool
fileq_sane(const struct fileq_state *st, uint64_t head, uint64_t tail)
{
	return tail >= head && tail - head <= st->cap &&
	       head % FILEQ_ALIGN == 0 && tail % FILEQ_ALIGN == 0;
}

/*
 * Check every record from head to tail; cut the queue at the first that is
 * not whole (a crash of the machine before the pages reached the disk, or
 * damage).  Under the lock, or with the file to ourselves.
 */
static int
fileq_check_records(struct fileq_state *st)
{
	struct fileq_header *h = st->hdr;
	uint64_t off = h->head;
	bool pad;

	if (!fileq_sane(st, h->head, h->tail))
		return fileq_corrupt(st, "head and tail are impossible");
	while (off < h->tail) {
		uint64_t len = fileq_valid_at(st, off, &pad);

		if (len == 0 || len > h->tail - off) {
			h->dropped++;
			__atomic_store_n(&h->tail, off, __ATOMIC_RELEASE);
			break;
		}
		off += len;
	}
	return 0;
}

/* The lock's last holder died: the state it left is consistent by
 * construction (a record counts once the tail moves past it, which is the
 * last store of a send), but check it, and count the repair. */
static int
fileq_repair(struct fileq_state *st)
{
	struct fileq_header *h = st->hdr;

	h->recoveries++;
	/* The dead holder changed nothing it did not announce (see
	 * fileq_wake); waking everyone once more costs nothing here. */
	__atomic_store_n(&h->data_waiters, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&h->space_waiters, 1, __ATOMIC_SEQ_CST);
	fileq_wake(&h->data_seq, &h->data_waiters);
	fileq_wake(&h->space_seq, &h->space_waiters);
	return fileq_check_records(st);
}

static void fileq_unlock(struct fileq_state *st);

/* Take the queue's lock, waiting until deadline (at least the grace
 * period: the lock is held for microseconds). */
static int
fileq_lock(struct fileq_state *st, int64_t deadline)
{
	pthread_mutex_t *m = &st->hdr->lock;
	int rc, err;

	if (deadline == WAIT_FOREVER) {
		rc = pthread_mutex_lock(m);
	} else {
		rc = pthread_mutex_trylock(m);
		if (rc == EBUSY) {
			int64_t soon = wait_now_ns() + FILEQ_LOCK_GRACE_NS;
			int64_t until = deadline > soon ? deadline : soon;
			struct timespec ts = { (time_t)(until / 1000000000),
				               (long)(until % 1000000000) };

			rc = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &ts);
		}
	}
	if (rc == 0)
		return 0;
	if (rc == EOWNERDEAD) {
		err = fileq_repair(st);
		pthread_mutex_consistent(m);
		if (err)
			fileq_unlock(st);
		return err;
	}
	if (rc == ETIMEDOUT)
		return -ETIMEDOUT;
	if (rc == ENOTRECOVERABLE)
		return fileq_corrupt(st, "the lock is not recoverable; "
		                         "re-create the queue");
	return -rc;
}

static void
fileq_unlock(struct fileq_state *st)
{
	pthread_mutex_unlock(&st->hdr->lock);
}

/* The record at head, padding skipped: its length, -ENOMSG when the queue
 * is empty, IPK_ECORRUPT when a damaged one was dropped.  Under lock. */
static ssize_t
fileq_front(struct fileq_state *st, const struct fileq_rec **out)
{
	struct fileq_header *h = st->hdr;

	for (;;) {
		uint64_t head = h->head, len, off;
		bool pad;

		if (head == h->tail)
			return -ENOMSG;
		if (!fileq_sane(st, head, h->tail))
			return fileq_corrupt(st,
			                     "head and tail are impossible");
		len = fileq_valid_at(st, head, &pad);
		if (len && len <= h->tail - head && pad) {
			__atomic_store_n(&h->head, head + len,
			                 __ATOMIC_RELEASE);
			continue;
		}
		if (len && len <= h->tail - head) {
			*out = (const void *)(st->ring + head % st->cap);
			return (ssize_t)(*out)->len;
		}
		/* Damage (no writer leaves this under the lock): find the
		 * next whole record and drop what lies between. */
		for (off = head + FILEQ_ALIGN; off < h->tail;
		     off += FILEQ_ALIGN)
			if (fileq_valid_at(st, off, &pad))
				break;
		h->dropped++;
		__atomic_store_n(&h->head, off, __ATOMIC_RELEASE);
		return errdetail(IPK_ECORRUPT,
		                 "file:%s: a damaged record at offset %llu was "
		                 "dropped (%llu bytes)",
		                 st->path, (unsigned long long)head,
		                 (unsigned long long)(off - head));
	}
}

/* ---- poll(): an inotify doorbell ---- */

/* Make the pollfds readable: every watcher of the file gets IN_ACCESS. */
static void
fileq_ring_doorbell(struct fileq_state *st)
{
	uint32_t v;

	(void)!pread(st->fd, &v, sizeof(v),
	             offsetof(struct fileq_header, doorbell));
}

/* A record is about to count: wake sleeping receivers and ring for
 * pollers.  Under the lock (see fileq_wake). */
static void
fileq_notify_data(struct fileq_state *st)
{
	struct fileq_header *h = st->hdr;

	fileq_wake(&h->data_seq, &h->data_waiters);
	if (__atomic_load_n(&h->poll_armed, __ATOMIC_RELAXED)) {
		fileq_ring_doorbell(st);
		__atomic_store_n(&h->poll_armed, 0, __ATOMIC_RELAXED);
	}
}

/* Under the lock, with the ring found empty: drain the pollfd and ask the
 * next sender to ring.  Draining under the lock loses no ring: senders
 * ring under it too, and a ring before this one was for a record that is
 * gone already. */
static void
fileq_poll_arm_locked(struct fileq_state *st)
{
	char events[4096] __attribute__((aligned(8)));

	while (read(st->ifd, events, sizeof(events)) > 0)
		;
	__atomic_store_n(&st->hdr->poll_armed, 1, __ATOMIC_RELAXED);
}

/* Append one record.  -ENOSPC when it does not fit now.  Under lock. */
static int
fileq_put(struct fileq_state *st, const void *msg, size_t len)
{
	struct fileq_header *h = st->hdr;
	uint64_t head = h->head, tail = h->tail, need, pos, pad;
	struct fileq_rec *r;

	if (!fileq_sane(st, head, tail))
		return fileq_corrupt(st, "head and tail are impossible");
	need = fileq_align(sizeof(*r) + len);
	pos = tail % st->cap;
	if (head == tail && pos != 0) {
		/* Empty: start again at the front, so that any message up
		 * to the capacity fits. */
		head = tail = tail - pos + st->cap;
		__atomic_store_n(&h->head, head, __ATOMIC_RELEASE);
		__atomic_store_n(&h->tail, tail, __ATOMIC_RELEASE);
		pos = 0;
	}
	pad = st->cap - pos < need ? st->cap - pos : 0;
	if (st->cap - (tail - head) < pad + need)
		return -ENOSPC;
	if (pad) {
		r = (void *)(st->ring + pos);
		r->len = (uint32_t)(pad - sizeof(*r));
		r->flags = 0;
		r->crc = fileq_rec_crc(tail, r->len, r + 1);
		__atomic_store_n(&r->commit, fileq_stamp(tail) ^ FILEQ_PAD_FLIP,
		                 __ATOMIC_RELEASE);
		tail += pad;
		__atomic_store_n(&h->tail, tail, __ATOMIC_RELEASE);
	}
	r = (void *)(st->ring + tail % st->cap);
	r->len = (uint32_t)len;
	r->flags = 0;
	if (len) {
		memcpy(r + 1, msg, len / 2);
		if (fileq_mid_send_hook)
			fileq_mid_send_hook(); /* tests: die mid-message */
		memcpy((unsigned char *)(r + 1) + len / 2,
		       (const unsigned char *)msg + len / 2, len - len / 2);
	}
	r->crc = fileq_rec_crc(tail, (uint32_t)len, r + 1);
	__atomic_store_n(&r->commit, fileq_stamp(tail), __ATOMIC_RELEASE);
	fileq_notify_data(st);
	/* The record counts from this store on. */
	__atomic_store_n(&h->tail, tail + need, __ATOMIC_RELEASE);
	h->sent++;
	return 0;
}

/* ---- messages ---- */

static void
fileq_msync(struct fileq_state *st, size_t len)
{
	/* MS_SYNC writes the dirty pages and waits: records before the
	 * header, whatever order the disk takes them in, are all there
	 * when it returns. */
	(void)msync(st->hdr, len, MS_SYNC);
}

static ssize_t
fileq_send(struct ipk_chan *ch, const void *msg, size_t len,
           const struct ipk_msginfo *info, int timeout_ms)
{
	struct fileq_state *st = ipk_chan_state(ch);
	struct fileq_header *h = st->hdr;
	int64_t deadline = wait_deadline(timeout_ms);
	int err;

	(void)info;
	for (;;) {
		uint32_t seq;

		err = fileq_lock(st, deadline);
		if (err)
			return err;
		err = fileq_put(st, msg, len);
		if (err != -ENOSPC || timeout_ms == 0) {
			fileq_unlock(st);
			break;
		}
		seq = __atomic_load_n(&h->space_seq, __ATOMIC_SEQ_CST);
		__atomic_store_n(&h->space_waiters, 1, __ATOMIC_SEQ_CST);
		fileq_unlock(st);
		if (fileq_sleep(&h->space_seq, seq, deadline) != 0)
			return -ETIMEDOUT;
	}
	if (err == -ENOSPC)
		return -EAGAIN;
	if (err)
		return err;
	if (st->sync)
		fileq_msync(st, st->map_size);
	return (ssize_t)len;
}

static int
fileq_too_small(const struct ipk_chan *ch, size_t len, size_t cap)
{
	return errdetail(-EMSGSIZE,
	                 "%s: the next message has %zu bytes, more than the "
	                 "%zu-byte buffer (it stays queued)",
	                 ch->address, len, cap);
}

/* Receive (buf != NULL) or peek: wait for a record, then copy and take it,
 * or only report its length. */
static ssize_t
fileq_get(struct ipk_chan *ch, void *buf, size_t cap, bool take, int timeout_ms)
{
	struct fileq_state *st = ipk_chan_state(ch);
	struct fileq_header *h = st->hdr;
	int64_t deadline = wait_deadline(timeout_ms);
	const struct fileq_rec *r = NULL;
	ssize_t n;

	for (;;) {
		uint32_t seq;
		int err = fileq_lock(st, deadline);

		if (err) {
			n = err;
			break;
		}
		n = fileq_front(st, &r);
		if (n >= 0 && take && (size_t)n > cap) {
			fileq_unlock(st);
			return fileq_too_small(ch, (size_t)n, cap);
		}
		if (n >= 0 && take) {
			uint64_t next =
			        h->head + fileq_align(sizeof(*r) + (size_t)n);

			memcpy(buf, r + 1, (size_t)n);
			fileq_wake(&h->space_seq, &h->space_waiters);
			__atomic_store_n(&h->head, next, __ATOMIC_RELEASE);
			h->received++;
		}
		if (n == -ENOMSG &&
		    (timeout_ms == 0 || wait_now_ns() >= deadline)) {
			if (st->ifd >= 0) /* "not yet": arm the pollfd */
				fileq_poll_arm_locked(st);
			n = timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
		}
		if (n != -ENOMSG) {
			fileq_unlock(st);
			break;
		}
		seq = __atomic_load_n(&h->data_seq, __ATOMIC_SEQ_CST);
		__atomic_store_n(&h->data_waiters, 1, __ATOMIC_SEQ_CST);
		fileq_unlock(st);
		/* On a timeout, look once more (and arm) under the lock. */
		(void)fileq_sleep(&h->data_seq, seq, deadline);
	}
	if (n >= 0 && take && st->sync)
		fileq_msync(st, FILEQ_HDR_SIZE);
	return n;
}

static ssize_t
fileq_recv(struct ipk_chan *ch, void *buf, size_t cap, struct ipk_msginfo *info,
           int timeout_ms)
{
	(void)info;
	return fileq_get(ch, buf, cap, true, timeout_ms);
}

static ssize_t
fileq_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
                int timeout_ms)
{
	(void)info;
	return fileq_get(ch, NULL, 0, false, timeout_ms);
}

/* ---- making and checking the file ---- */

/* Fill a new file's header and ring.  fd is the file, not yet linked. */
static int
fileq_format(int fd, uint64_t cap, const char *path)
{
	size_t size = FILEQ_HDR_SIZE + cap;
	struct fileq_header *h;
	struct timespec now;
	int err;

	/* Reserve the blocks now: a store into a hole of a full disk would
	 * be SIGBUS, not an error. */
	if (fallocate(fd, 0, 0, (off_t)size) != 0) {
		if (errno != EOPNOTSUPP)
			return errdetail(-errno,
			                 "file:%s: reserving %zu "
			                 "bytes: %s",
			                 path, size, strerror(errno));
		if (ftruncate(fd, (off_t)size) != 0)
			return errdetail(-errno, "file:%s: %s", path,
			                 strerror(errno));
	}
	h = mmap(NULL, FILEQ_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	         0);
	if (h == MAP_FAILED)
		return -errno;
	clock_gettime(CLOCK_REALTIME, &now);
	memcpy(h->magic, FILEQ_MAGIC, sizeof(h->magic));
	h->version = FILEQ_VERSION;
	h->header_size = FILEQ_HDR_SIZE;
	h->capacity = cap;
	h->byte_order = FILEQ_BYTE_ORDER;
	h->lock_size = sizeof(pthread_mutex_t);
	h->created_ns =
	        (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	h->creator_pid = (uint32_t)getpid();
	h->fixed_crc = fileq_fixed_crc(h);
	fileq_boot_id(h->boot_id);
	err = fileq_init_lock(&h->lock);
	munmap(h, FILEQ_HDR_SIZE);
	if (err == 0 && fsync(fd) != 0)
		err = -errno;
	return err;
}

/* Make the file at path whole before anyone can see it: an unnamed file
 * (O_TMPFILE, or a temporary name) linked in when ready.  Returns its fd,
 * -EEXIST if path exists, or -errno. */
static int
fileq_create(const char *path, mode_t mode, uint64_t cap)
{
	char buf[PATH_MAX], tmp[PATH_MAX], proc[64];
	const char *dir;
	bool named = false;
	int fd, dfd, err = 0;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf) ||
	    snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	dir = dirname(buf); /* in buf, or a static "." */
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
	if (fd < 0 &&
	    (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		fd = mkostemp(tmp, O_CLOEXEC);
		named = true;
	}
	if (fd < 0)
		return errdetail(-errno,
		                 "file:%s: cannot make a file in %s: %s", path,
		                 dir, strerror(errno));
	if (fchmod(fd, mode) != 0) /* the umask trimmed it */
		err = -errno;
	if (err == 0)
		err = fileq_format(fd, cap, path);
	if (err == 0 && named && link(tmp, path) != 0)
		err = -errno;
	if (err == 0 && !named) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW))
			err = -errno;
	}
	if (named)
		unlink(tmp);
	if (err) {
		close(fd);
		return err;
	}
	/* The name is durable too. */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return fd;
}

/* Is the open file a queue this build can use?  Reads with pread(), before
 * mapping, so that a short file is an error and not SIGBUS. */
static int
fileq_validate(int fd, const char *path, uint64_t *cap)
{
	struct fileq_header h;
	struct stat sb;
	ssize_t n;

	if (fstat(fd, &sb) != 0)
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return errdetail(IPK_ECORRUPT, "file:%s: not a regular file",
		                 path);
	n = pread(fd, &h, sizeof(h), 0);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(h) || memcmp(h.magic, FILEQ_MAGIC, 8) != 0)
		return errdetail(IPK_ECORRUPT,
		                 "file:%s: not an ipckit queue file (no %s "
		                 "header)",
		                 path, FILEQ_MAGIC);
	if (h.version != FILEQ_VERSION)
		return errdetail(
		        IPK_ECORRUPT,
		        "file:%s: layout version %u; this ipckit reads "
		        "version %d",
		        path, h.version, FILEQ_VERSION);
	if (h.fixed_crc != fileq_fixed_crc(&h))
		return errdetail(
		        IPK_ECORRUPT,
		        "file:%s: the header's checksum does not match: "
		        "the file is damaged",
		        path);
	if (h.byte_order != FILEQ_BYTE_ORDER ||
	    h.lock_size != sizeof(pthread_mutex_t))
		return errdetail(IPK_ECORRUPT,
		                 "file:%s: made on a machine with another byte "
		                 "order or C library",
		                 path);
	if (h.header_size != FILEQ_HDR_SIZE || h.capacity < FILEQ_SIZE_MIN ||
	    h.capacity > FILEQ_SIZE_MAX || h.capacity % FILEQ_PAGE != 0 ||
	    (uint64_t)sb.st_size != FILEQ_HDR_SIZE + h.capacity)
		return errdetail(
		        IPK_ECORRUPT,
		        "file:%s: %lld bytes long, but its header says "
		        "%llu",
		        path, (long long)sb.st_size,
		        (unsigned long long)(FILEQ_HDR_SIZE + h.capacity));
	*cap = h.capacity;
	return 0;
}

/* Take flock() on fd: openers take turns, so that the first after a
 * reboot re-initialises the lock alone.  Each holds it for a moment; wait
 * for it at least FILEQ_FLOCK_MS whatever the timeout. */
static int
fileq_flock(int fd, int timeout_ms)
{
	int64_t deadline = wait_deadline(
	        timeout_ms < 0 || timeout_ms > FILEQ_FLOCK_MS ? timeout_ms
	                                                      : FILEQ_FLOCK_MS);
	struct timespec nap = { 0, 1000000 };

	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (deadline != WAIT_FOREVER && wait_now_ns() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
	}
	return 0;
}

/* Map a checked file; re-initialise what belonged to an earlier boot. */
static int
fileq_attach(struct ipk_chan *ch, const char *path, int timeout_ms)
{
	struct fileq_state *st = ipk_chan_state(ch);
	uint8_t boot[16];
	void *p;
	int err;

	err = fileq_flock(st->fd, timeout_ms);
	if (err)
		return err;
	err = fileq_validate(st->fd, path, &st->cap);
	if (err)
		goto out;
	st->map_size = FILEQ_HDR_SIZE + (size_t)st->cap;
	p = mmap(NULL, st->map_size, PROT_READ | PROT_WRITE, MAP_SHARED, st->fd,
	         0);
	if (p == MAP_FAILED) {
		err = errdetail(-errno, "file:%s: mmap: %s", path,
		                strerror(errno));
		goto out;
	}
	st->hdr = p;
	st->ring = (unsigned char *)p + FILEQ_HDR_SIZE;
	fileq_boot_id(boot);
	if (memcmp(boot, st->hdr->boot_id, sizeof(boot)) != 0) {
		/* Nobody of this boot has opened it: nobody can hold the
		 * lock or sleep on a futex word, and the last boot may have
		 * ended before its pages reached the disk. */
		struct fileq_header *h = st->hdr;

		err = fileq_init_lock(&h->lock);
		h->data_waiters = h->space_waiters = h->poll_armed = 0;
		if (err == 0)
			err = fileq_check_records(st);
		if (err == 0) {
			memcpy(h->boot_id, boot, sizeof(boot));
			fileq_msync(st, FILEQ_HDR_SIZE);
		}
	} else if (!fileq_sane(st, st->hdr->head, st->hdr->tail)) {
		err = fileq_corrupt(st, "head and tail are impossible");
	}
out:
	flock(st->fd, LOCK_UN);
	return err;
}

static int
fileq_open(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags,
           int timeout_ms)
{
	struct fileq_state *st = ipk_chan_state(ch);
	const char *path = a->rest;
	uint64_t size;
	bool sized, created = false;
	int err;

	st->fd = st->ifd = -1;
	if (path[0] == '\0')
		return errdetail(
		        IPK_EADDR,
		        "file: expected a path (file:/var/tmp/jobs.q)");
	st->path = strdup(path);
	if (st->path == NULL)
		return -ENOMEM;
	sized = addr_opt_str(a, "size") != NULL;
	err = addr_opt_u64(a, "size", FILEQ_SIZE_MIN, FILEQ_SIZE_MAX,
	                   FILEQ_SIZE_DEFAULT, true, &size);
	if (err == 0)
		err = addr_opt_bool(a, "sync", false, &st->sync);
	if (err == 0)
		err = addr_check_unused(a);
	if (err)
		goto fail;
	size = (size + FILEQ_PAGE - 1) / FILEQ_PAGE * FILEQ_PAGE;
	for (int tries = 0;; tries++) {
		st->fd = open(path, O_RDWR | O_CLOEXEC);
		if (st->fd >= 0 && (flags & IPK_EXCL)) {
			close(st->fd);
			err = errdetail(-EEXIST, "file:%s: exists", path);
			goto fail;
		}
		if (st->fd >= 0)
			break;
		if (errno != ENOENT || (flags & IPK_NOCREATE) || tries == 8) {
			err = errdetail(-errno, "file:%s: %s", path,
			                strerror(errno));
			goto fail;
		}
		st->fd = fileq_create(path, a->mode, size);
		if (st->fd >= 0) {
			created = true;
			break;
		}
		err = st->fd;
		if (err != -EEXIST)
			goto fail;
		if (flags & IPK_EXCL) {
			err = errdetail(-EEXIST, "file:%s: exists", path);
			goto fail;
		}
		/* Someone else made it first: open theirs. */
	}
	err = fileq_attach(ch, path, timeout_ms);
	if (err == 0 && sized && st->cap != size)
		err = errdetail(IPK_EOPTION,
		                "file:%s: the queue exists with size=%llu; "
		                "?size= applies when it is made",
		                path, (unsigned long long)st->cap);
	if (err) {
		if (st->hdr)
			munmap(st->hdr, st->map_size);
		close(st->fd);
		if (created)
			unlink(path);
		goto fail;
	}
	if (created) {
		char abs[PATH_MAX];

		/* Best effort: the queue works unlisted too. */
		if (realpath(path, abs))
			(void)registry_add("file", abs);
	}
	return 0;
fail:
	free(st->path);
	return err;
}

static void
fileq_close(struct ipk_chan *ch)
{
	struct fileq_state *st = ipk_chan_state(ch);

	if (st->ifd >= 0)
		close(st->ifd);
	munmap(st->hdr, st->map_size);
	close(st->fd);
	free(st->path);
}

/* ---- the rest of the table ---- */

/*
 * There is no kernel object to poll, and an eventfd cannot be shared with
 * unrelated processes: the pollfd is an inotify descriptor watching the
 * file for IN_ACCESS.  A sender that finds poll_armed set clears it and
 * read()s a byte of the header, which every watcher sees.
 */
static int
fileq_pollfd(struct ipk_chan *ch)
{
	struct fileq_state *st = ipk_chan_state(ch);
	char proc[64];
	int err;

	if (st->ifd >= 0)
		return st->ifd;
	st->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (st->ifd < 0)
		return errdetail(-errno,
		                 "%s: inotify: %s (fs.inotify.max_user_"
		                 "instances?)",
		                 ch->address, strerror(errno));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", st->fd);
	if (inotify_add_watch(st->ifd, proc, IN_ACCESS) < 0) {
		err = -errno;
		close(st->ifd);
		st->ifd = -1;
		return errdetail(err, "%s: inotify watch: %s", ch->address,
		                 strerror(-err));
	}
	err = fileq_lock(st, WAIT_FOREVER);
	if (err)
		return err;
	if (st->hdr->head == st->hdr->tail)
		fileq_poll_arm_locked(st);
	else
		fileq_ring_doorbell(st); /* readable at once */
	fileq_unlock(st);
	return st->ifd;
}

static size_t
fileq_max_msg(const struct ipk_chan *ch)
{
	const struct fileq_state *st = ipk_chan_cstate(ch);

	return (size_t)st->cap - sizeof(struct fileq_rec);
}

static void
fileq_max_msg_limit(const struct ipk_chan *ch, char *buf, size_t cap)
{
	const struct fileq_state *st = ipk_chan_cstate(ch);

	snprintf(buf, cap,
	         "the queue's capacity of %llu bytes less a %zu-byte record "
	         "header (?size= when it is made)",
	         (unsigned long long)st->cap, sizeof(struct fileq_rec));
}

struct fileq_list_ctx {
	ipk_list_fn *fn;
	void *arg;
};

static int
fileq_list_one(const char *path, void *arg)
{
	struct fileq_list_ctx *c = arg;
	struct ipk_object o = { .scheme = "file" };
	struct fileq_header h;
	char addr[PATH_MAX + 8];
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = pread(fd, &h, sizeof(h), 0);
	if (fstat(fd, &sb) != 0)
		n = -1;
	close(fd);
	if (n != (ssize_t)sizeof(h) || memcmp(h.magic, FILEQ_MAGIC, 8) != 0)
		return 0; /* replaced by something else since */
	snprintf(addr, sizeof(addr), "file:%s", path);
	o.address = addr;
	o.owner = sb.st_uid;
	o.mode = sb.st_mode & 0777;
	o.creator_pid = (pid_t)h.creator_pid;
	o.bytes = h.tail >= h.head ? h.tail - h.head : 0;
	o.messages = h.sent >= h.received ? h.sent - h.received : 0;
	return c->fn(&o, c->arg);
}

static int
fileq_list(ipk_list_fn *fn, void *arg)
{
	struct fileq_list_ctx c = { fn, arg };
	int rc = registry_walk("file", fileq_list_one, &c);

	/* An unreadable registry hides nothing else: list what we can. */
	return rc < 0 ? 0 : rc;
}

static int
fileq_unlink(struct ipk_addr *a)
{
	const char *path = a->rest;
	char abs[PATH_MAX], magic[8];
	struct stat sb;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errdetail(-errno, "file:%s: %s", path, strerror(errno));
	/* Never remove a file that is not a queue; a damaged queue is still
	 * ours to remove. */
	n = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)
	            ? pread(fd, magic, sizeof(magic), 0)
	            : -1;
	close(fd);
	if (n != (ssize_t)sizeof(magic) || memcmp(magic, FILEQ_MAGIC, 8) != 0)
		return errdetail(IPK_ECORRUPT,
		                 "file:%s: not an ipckit queue file; not "
		                 "removed",
		                 path);
	if (realpath(path, abs) == NULL)
		snprintf(abs, sizeof(abs), "%s", path);
	if (unlink(path) != 0)
		return errdetail(-errno, "file:%s: %s", path, strerror(errno));
	(void)registry_remove("file", abs);
	return 0;
}

static const char *const fileq_options[] = { "size", "sync", NULL };

const struct ipk_transport transport_file = {
	.scheme = "file",
	.summary = "durable queue in an mmap'd file, survives every process",
	.caps = IPK_CAP_QUEUE | IPK_CAP_NAMED | IPK_CAP_DURABLE,
	.state_size = sizeof(struct fileq_state),
	.options = fileq_options,
	.open = fileq_open,
	.send = fileq_send,
	.recv = fileq_recv,
	.peek_size = fileq_peek_size,
	.pollfd = fileq_pollfd,
	.max_msg = fileq_max_msg,
	.max_msg_limit = fileq_max_msg_limit,
	.close = fileq_close,
	.list = fileq_list,
	.unlink = fileq_unlink,
};
