// SPDX-License-Identifier: MIT
/* posix_mq.c - POSIX message queues as an ipckit transport: priorities
 * (highest first), limits checked before the kernel refuses them, a small
 * receive buffer answered with -EMSGSIZE without losing the message, and
 * waits on the monotonic clock.  docs/mechanisms/queues.md explains. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <mqueue.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "forkgen.h"
#include "fsname.h"
#include "syslimit.h"
#include "transport.h"
#include "wait.h"

#define POSIXMQ_HARD_MSGMAX     65536      /* HARD_MSGMAX in the kernel */
#define POSIXMQ_HARD_MSGSIZEMAX (16 << 20) /* HARD_MSGSIZEMAX */
#define POSIXMQ_MSG_OVERHEAD    48         /* sizeof(struct msg_msg), x86-64 */
#define POSIXMQ_NODE_OVERHEAD   48    /* sizeof(struct posix_msg_tree_node) */
#define POSIXMQ_PRIO_MAX        32768 /* MQ_PRIO_MAX on Linux */
#define POSIXMQ_MAGIC           0x19800202 /* MQUEUE_MAGIC for statfs */
#define POSIXMQ_REQUEUE_MS      1000

/* An absolute CLOCK_REALTIME time long past: mq_timedreceive() and
 * mq_timedsend() with it never sleep, whatever the descriptor's flags. */
static const struct timespec posixmq_past = { 0, 0 };

struct posixmq_state {
	mqd_t mqd;              /* -1 until open */
	size_t msgsize;         /* mq_msgsize: every receive needs this much */
	long maxmsg;            /* mq_maxmsg */
	unsigned char *scratch; /* owned, msgsize bytes: receives into small
	                           buffers land here, and the held message */
	/* A message taken to answer a too-small buffer or ipk_peek_size():
	 * this channel delivers it next, or close() puts it back. */
	bool held;
	size_t held_len;
	unsigned held_prio;
	int epfd;         /* owned, -1: ipk_pollfd(), an epoll set of the
	                     queue and hold_efd */
	int hold_efd;     /* owned, -1: readable while a message is held */
	unsigned forkgen; /* the process that opened the channel */
	bool starved;     /* a bounded receive found the queue empty */
	unsigned tries;   /* bounded receives while starved */
};

/* ---- limits ---- */

struct posixmq_attr {
	long maxmsg, msgsize;
};

static long
posixmq_sysctl(const char *name, long dflt)
{
	uint64_t v;

	return syslimit_sysctl(name, &v) == 0 && v <= LONG_MAX ? (long)v : dflt;
}

/* What the kernel charges to RLIMIT_MSGQUEUE for a queue (mqueue.c). */
static unsigned long long
posixmq_cost(const struct posixmq_attr *at)
{
	unsigned long long n = (unsigned long long)at->maxmsg;
	unsigned long long nodes = n < POSIXMQ_PRIO_MAX ? n : POSIXMQ_PRIO_MAX;

	return n * ((unsigned long long)at->msgsize + POSIXMQ_MSG_OVERHEAD) +
	       nodes * POSIXMQ_NODE_OVERHEAD;
}

/* Name the limit that refuses at, or 0 if none does. */
static int
posixmq_check_limits(const char *name, const struct posixmq_attr *at)
{
	long msg_max = posixmq_sysctl("fs.mqueue.msg_max", 10);
	long size_max = posixmq_sysctl("fs.mqueue.msgsize_max", 8192);
	unsigned long long cost = posixmq_cost(at);
	struct rlimit rl;

	if (!syslimit_cap_resource()) {
		if (at->maxmsg > msg_max)
			return errdetail(
			        IPK_ELIMIT,
			        "posixmq:%s: maxmsg=%ld is above "
			        "fs.mqueue.msg_max = %ld (raise it with "
			        "sysctl -w fs.mqueue.msg_max=%ld)",
			        name, at->maxmsg, msg_max, at->maxmsg);
		if (at->msgsize > size_max)
			return errdetail(
			        IPK_ELIMIT,
			        "posixmq:%s: msgsize=%ld is above "
			        "fs.mqueue.msgsize_max = %ld (raise it "
			        "with sysctl -w fs.mqueue.msgsize_max=%ld)",
			        name, at->msgsize, size_max, at->msgsize);
	}
	if (getrlimit(RLIMIT_MSGQUEUE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && cost > rl.rlim_cur)
		return errdetail(
		        IPK_ELIMIT,
		        "posixmq:%s: maxmsg=%ld x msgsize=%ld needs %llu "
		        "bytes of RLIMIT_MSGQUEUE, which is %llu per user "
		        "(raise it with ulimit -q or limits.conf "
		        "msgqueue)",
		        name, at->maxmsg, at->msgsize, cost,
		        (unsigned long long)rl.rlim_cur);
	return 0;
}

/* Explain a failed mq_open(). */
static int
posixmq_open_error(const char *name, int e, const struct posixmq_attr *at)
{
	struct rlimit rl = { 0, 0 };
	int fd;

	switch (e) {
	case EMFILE:
		/* The descriptor table, or this user's RLIMIT_MSGQUEUE. */
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errdetail(-EMFILE,
			                 "posixmq:%s: out of file "
			                 "descriptors",
			                 name);
		close(fd);
		getrlimit(RLIMIT_MSGQUEUE, &rl);
		return errdetail(IPK_ELIMIT,
		                 "posixmq:%s: this user's queues use up "
		                 "RLIMIT_MSGQUEUE = %llu bytes; this one needs "
		                 "%llu (ulimit -q, or remove queues with "
		                 "ipckit rm)",
		                 name, (unsigned long long)rl.rlim_cur,
		                 posixmq_cost(at));
	case ENOSPC:
		return errdetail(IPK_ELIMIT,
		                 "posixmq:%s: fs.mqueue.queues_max = %ld "
		                 "queues exist already",
		                 name,
		                 posixmq_sysctl("fs.mqueue.queues_max", 256));
	case EINVAL:
		if (posixmq_check_limits(name, at) != 0)
			return IPK_ELIMIT;
		return errdetail(-EINVAL,
		                 "posixmq:%s: the kernel refuses maxmsg=%ld "
		                 "msgsize=%ld",
		                 name, at->maxmsg, at->msgsize);
	case ENOENT:
		return errdetail(-ENOENT, "posixmq:%s: no such queue", name);
	case EEXIST:
		return errdetail(-EEXIST, "posixmq:%s: exists", name);
	case EACCES:
		return errdetail(-EACCES,
		                 "posixmq:%s: no permission to read and write "
		                 "the queue",
		                 name);
	default:
		return errdetail(-e, "posixmq:%s: mq_open: %s", name,
		                 strerror(e));
	}
}

/* ---- addresses ---- */

static int
posixmq_name(const struct ipk_addr *a)
{
	const char *r = a->rest;
	size_t len = strlen(r);

	if (r[0] != '/' || len < 2)
		return errdetail(IPK_EADDR,
		                 "posixmq:%s: a name is '/' and 1 to %d "
		                 "characters (posixmq:/jobs)",
		                 r, NAME_MAX);
	if (strchr(r + 1, '/'))
		return errdetail(IPK_EADDR,
		                 "posixmq:%s: no '/' after the first one", r);
	if (len - 1 > NAME_MAX)
		return errdetail(IPK_EADDR,
		                 "posixmq:%s: a name has at most %d characters",
		                 r, NAME_MAX);
	if (strcmp(r, "/.") == 0 || strcmp(r, "/..") == 0)
		return errdetail(IPK_EADDR, "posixmq:%s: not a queue name", r);
	return 0;
}

/* Read ?maxmsg= and ?msgsize=; *given says whether either was. */
static int
posixmq_options(struct ipk_addr *a, struct posixmq_attr *at, bool *given)
{
	uint64_t maxmsg = 0, msgsize = 0;
	int err;

	*given = addr_opt_str(a, "maxmsg") || addr_opt_str(a, "msgsize");
	err = addr_opt_u64(
	        a, "maxmsg", 1, POSIXMQ_HARD_MSGMAX,
	        (uint64_t)posixmq_sysctl("fs.mqueue.msg_default", 10), false,
	        &maxmsg);
	if (err == 0)
		err = addr_opt_u64(a, "msgsize", 1, POSIXMQ_HARD_MSGSIZEMAX,
		                   (uint64_t)posixmq_sysctl(
		                           "fs.mqueue.msgsize_default", 8192),
		                   true, &msgsize);
	at->maxmsg = (long)maxmsg;
	at->msgsize = (long)msgsize;
	return err;
}

/* ---- open and close ---- */

/* The kernel records no creator for a queue: note ours (with its inode,
 * which tells it from a later queue of the same name) so that `ipckit ls`
 * can tell an idle queue from a stale one. */
static void
posixmq_note(mqd_t mqd, const char *name)
{
	struct stat sb;

	if (fstat((int)mqd, &sb) == 0)
		fsname_note("posixmq", name, (unsigned long long)sb.st_ino);
}

static int
posixmq_open(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags,
             int timeout_ms)
{
	struct posixmq_state *st = ipk_chan_state(ch);
	struct posixmq_attr want;
	struct mq_attr attr = { 0 }, got;
	bool given, created = false;
	int err;

	(void)timeout_ms; /* opening a queue never waits */
	st->mqd = (mqd_t)-1;
	st->epfd = st->hold_efd = -1;
	st->forkgen = forkgen_current();
	err = posixmq_name(a);
	if (err == 0)
		err = posixmq_options(a, &want, &given);
	if (err == 0)
		err = addr_check_unused(a);
	if (err == 0 && given && !(flags & IPK_NOCREATE))
		err = posixmq_check_limits(a->rest, &want);
	if (err)
		return err;
	attr.mq_maxmsg = want.maxmsg;
	attr.mq_msgsize = want.msgsize;
	for (int tries = 0;; tries++) {
		if (!(flags & IPK_NOCREATE)) {
			/* The kernel applies the umask: fchmod() after. */
			st->mqd = mq_open(a->rest,
			                  O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			                  a->mode, given ? &attr : NULL);
			if (st->mqd != (mqd_t)-1) {
				created = true;
				break;
			}
			if (errno != EEXIST || (flags & IPK_EXCL))
				return posixmq_open_error(a->rest, errno,
				                          &want);
		}
		st->mqd = mq_open(a->rest, O_RDWR | O_CLOEXEC);
		if (st->mqd != (mqd_t)-1)
			break;
		if (errno != ENOENT || (flags & IPK_NOCREATE) || tries == 8)
			return posixmq_open_error(a->rest, errno, &want);
		/* removed between the two calls: make it again */
	}
	if (created && fchmod(st->mqd, a->mode) != 0) {
		err = errdetail(-errno, "posixmq:%s: chmod: %s", a->rest,
		                strerror(errno));
		goto fail;
	}
	if (mq_getattr(st->mqd, &got) != 0) {
		err = -errno;
		goto fail;
	}
	if (given && !created &&
	    (got.mq_maxmsg != want.maxmsg || got.mq_msgsize != want.msgsize)) {
		err = errdetail(
		        IPK_EOPTION,
		        "posixmq:%s: the queue exists with maxmsg=%ld "
		        "msgsize=%ld; ?maxmsg= and ?msgsize= apply when "
		        "it is made",
		        a->rest, (long)got.mq_maxmsg, (long)got.mq_msgsize);
		goto fail;
	}
	st->msgsize = (size_t)got.mq_msgsize;
	st->maxmsg = got.mq_maxmsg;
	if (created)
		posixmq_note(st->mqd, a->rest);
	return 0;
fail:
	mq_close(st->mqd);
	if (created) /* never remove a queue someone else made */
		mq_unlink(a->rest);
	return err;
}

static int
posixmq_scratch(struct posixmq_state *st)
{
	if (st->scratch == NULL)
		st->scratch = malloc(st->msgsize ? st->msgsize : 1);
	return st->scratch ? 0 : -ENOMEM;
}

static void
posixmq_set_held(struct posixmq_state *st, bool held)
{
	uint64_t v = 1;

	st->held = held;
	if (st->hold_efd < 0)
		return;
	/* The eventfd is nonblocking: a failed read means "already 0". */
	if (held)
		(void)!write(st->hold_efd, &v, sizeof(v));
	else
		(void)!read(st->hold_efd, &v, sizeof(v));
}

/* A forked child leaves a held message to its parent. */
static void
posixmq_adopt(struct posixmq_state *st)
{
	unsigned gen = forkgen_current();

	if (st->forkgen != gen) {
		st->forkgen = gen;
		st->held = false;
	}
}

/*
 * One send (of msg) or receive (into buf, msgsize bytes), waiting as
 * timeout_ms says: -1 blocks in the kernel; otherwise the call never sleeps
 * in the kernel (an absolute time long past) and the wait is a poll() for
 * POLLOUT or POLLIN against the monotonic deadline, so that a step of the
 * real-time clock can neither stretch nor cut it.  A bounded receive after
 * one that found the queue empty polls first (every 16th tries without,
 * to notice a busy queue again): in a ping-pong that spares the try that
 * would only say EAGAIN.
 */
static ssize_t
posixmq_io(struct ipk_chan *ch, bool send, const void *msg, void *buf,
           size_t len, unsigned *prio, int timeout_ms)
{
	struct posixmq_state *st = ipk_chan_state(ch);
	int64_t deadline = timeout_ms > 0 ? wait_deadline(timeout_ms) : 0;
	bool forever = timeout_ms < 0, polled = false;

	if (!send && timeout_ms > 0 && st->starved && ++st->tries % 16 != 0) {
		int ev = wait_fd(st->mqd, POLLIN, deadline);

		if (ev < 0)
			return ev;
		polled = true;
	}
	for (;;) {
		ssize_t n;
		int ev;

		if (send && forever)
			n = mq_send(st->mqd, msg, len, *prio) ? -1
			                                      : (ssize_t)len;
		else if (send)
			n = mq_timedsend(st->mqd, msg, len, *prio,
			                 &posixmq_past)
			            ? -1
			            : (ssize_t)len;
		else if (forever)
			n = mq_receive(st->mqd, buf, st->msgsize, prio);
		else
			n = mq_timedreceive(st->mqd, buf, st->msgsize, prio,
			                    &posixmq_past);
		if (n >= 0) {
			if (!send && !polled)
				st->starved = false;
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != ETIMEDOUT && errno != EAGAIN)
			return errdetail(-errno, "%s: %s: %s", ch->address,
			                 send ? "send" : "receive",
			                 strerror(errno));
		if (timeout_ms == 0)
			return -EAGAIN;
		if (!send)
			st->starved = true;
		ev = wait_fd(st->mqd, send ? POLLOUT : POLLIN, deadline);
		if (ev < 0)
			return ev;
		polled = true;
	}
}

static void
posixmq_close(struct ipk_chan *ch)
{
	struct posixmq_state *st = ipk_chan_state(ch);

	posixmq_adopt(st);
	/* Put a held message back (behind others of its priority). */
	if (st->held)
		(void)posixmq_io(ch, true, st->scratch, NULL, st->held_len,
		                 &st->held_prio, POSIXMQ_REQUEUE_MS);
	if (st->epfd >= 0)
		close(st->epfd);
	if (st->hold_efd >= 0)
		close(st->hold_efd);
	mq_close(st->mqd);
	free(st->scratch);
}

/* ---- messages ---- */

static ssize_t
posixmq_send(struct ipk_chan *ch, const void *msg, size_t len,
             const struct ipk_msginfo *info, int timeout_ms)
{
	unsigned prio = info->prio;

	if (prio >= POSIXMQ_PRIO_MAX)
		return errdetail(-EINVAL,
		                 "%s: priority %u: priorities are 0..%d",
		                 ch->address, prio, POSIXMQ_PRIO_MAX - 1);
	return posixmq_io(ch, true, msg, NULL, len, &prio, timeout_ms);
}

static int
posixmq_too_small(const struct ipk_chan *ch, size_t len, size_t cap)
{
	return errdetail(-EMSGSIZE,
	                 "%s: the next message has %zu bytes, more than the "
	                 "%zu-byte buffer (this channel keeps it for the next "
	                 "receive)",
	                 ch->address, len, cap);
}

/* The held message's length: receive one into scratch and hold it, unless
 * one is held already. */
static ssize_t
posixmq_hold(struct ipk_chan *ch, int timeout_ms)
{
	struct posixmq_state *st = ipk_chan_state(ch);
	ssize_t n;

	if (st->held)
		return (ssize_t)st->held_len;
	if (posixmq_scratch(st) != 0)
		return -ENOMEM;
	n = posixmq_io(ch, false, NULL, st->scratch, 0, &st->held_prio,
	               timeout_ms);
	if (n < 0)
		return n;
	st->held_len = (size_t)n;
	posixmq_set_held(st, true);
	return n;
}

/*
 * mq_receive() needs a buffer of mq_msgsize and removes the message, so a
 * smaller buffer (or a peek) receives into scratch; a message that does not
 * fit is held by this channel and answered with -EMSGSIZE.
 */
static ssize_t
posixmq_recv(struct ipk_chan *ch, void *buf, size_t cap,
             struct ipk_msginfo *info, int timeout_ms)
{
	struct posixmq_state *st = ipk_chan_state(ch);
	ssize_t n;

	posixmq_adopt(st);
	if (!st->held && cap >= st->msgsize)
		return posixmq_io(ch, false, NULL, buf, 0, &info->prio,
		                  timeout_ms);
	n = posixmq_hold(ch, timeout_ms);
	if (n < 0)
		return n;
	if (st->held_len > cap)
		return posixmq_too_small(ch, st->held_len, cap);
	if (st->held_len)
		memcpy(buf, st->scratch, st->held_len);
	info->prio = st->held_prio;
	posixmq_set_held(st, false);
	return (ssize_t)st->held_len;
}

static ssize_t
posixmq_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
                  int timeout_ms)
{
	(void)info;
	posixmq_adopt(ipk_chan_state(ch));
	return posixmq_hold(ch, timeout_ms);
}

/* ---- the rest of the table ---- */

/* The queue's descriptor is pollable on Linux; with an eventfd for a held
 * message beside it in an epoll set, the fd is readable whenever a
 * receive can succeed. */
static int
posixmq_pollfd(struct ipk_chan *ch)
{
	struct posixmq_state *st = ipk_chan_state(ch);
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	posixmq_adopt(st);
	if (st->epfd >= 0)
		return st->epfd;
	st->epfd = epoll_create1(EPOLL_CLOEXEC);
	st->hold_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->epfd < 0 || st->hold_efd < 0)
		goto fail;
	if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, st->mqd, &ev) != 0 ||
	    epoll_ctl(st->epfd, EPOLL_CTL_ADD, st->hold_efd, &ev) != 0)
		goto fail;
	posixmq_set_held(st, st->held);
	return st->epfd;
fail:
	err = -errno;
	if (st->epfd >= 0)
		close(st->epfd);
	if (st->hold_efd >= 0)
		close(st->hold_efd);
	st->epfd = st->hold_efd = -1;
	return errdetail(err, "%s: pollfd: %s", ch->address, strerror(-err));
}

static size_t
posixmq_max_msg(const struct ipk_chan *ch)
{
	const struct posixmq_state *st = ipk_chan_cstate(ch);

	return st->msgsize;
}

static void
posixmq_max_msg_limit(const struct ipk_chan *ch, char *buf, size_t cap)
{
	const struct posixmq_state *st = ipk_chan_cstate(ch);

	snprintf(buf, cap,
	         "the queue's mq_msgsize = %zu (?msgsize= when it is made, up "
	         "to fs.mqueue.msgsize_max = %ld)",
	         st->msgsize, posixmq_sysctl("fs.mqueue.msgsize_max", 8192));
}

/* Where the mqueue file system is mounted: /dev/mqueue, or wherever
 * /proc/self/mounts says.  -ENOENT when nowhere. */
static int
posixmq_mountpoint(char *buf, size_t cap)
{
	struct statfs sf;
	struct mntent *m, ent;
	char tmp[1024];
	FILE *f;
	int err = -ENOENT;

	if (statfs("/dev/mqueue", &sf) == 0 && sf.f_type == POSIXMQ_MAGIC) {
		snprintf(buf, cap, "/dev/mqueue");
		return 0;
	}
	f = setmntent("/proc/self/mounts", "re");
	if (f == NULL)
		return -ENOENT;
	while ((m = getmntent_r(f, &ent, tmp, sizeof(tmp))) != NULL)
		if (strcmp(m->mnt_type, "mqueue") == 0 &&
		    strlen(m->mnt_dir) < cap) {
			snprintf(buf, cap, "%s", m->mnt_dir);
			err = 0;
			break;
		}
	endmntent(f);
	return err;
}

/* The inode of queue name ("/jobs") in the mounted mqueue file system, or
 * 0 when there is none (or the file system is not mounted). */
static unsigned long long
posixmq_ino(const char *name)
{
	char dir[1024], path[1024 + NAME_MAX + 2];
	struct stat sb;

	if (posixmq_mountpoint(dir, sizeof(dir)) != 0)
		return 0;
	snprintf(path, sizeof(path), "%s%s", dir, name);
	return stat(path, &sb) == 0 ? (unsigned long long)sb.st_ino : 0;
}

static bool
posixmq_note_gone(const char *name, unsigned long long tag)
{
	return posixmq_ino(name) != tag;
}

static void
posixmq_describe(int dfd, const char *name, struct ipk_object *o)
{
	char path[NAME_MAX + 2], text[256];
	struct mq_attr attr;
	struct stat sb;
	ssize_t n;
	mqd_t q;
	int fd;

	if (fstatat(dfd, name, &sb, 0) == 0) {
		o->owner = sb.st_uid;
		o->mode = sb.st_mode & 0777;
	}
	/* "QSIZE:129 NOTIFY:0 SIGNO:0 NOTIFY_PID:0" */
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		if (n > 0) {
			text[n] = '\0';
			sscanf(text, "QSIZE:%llu", &o->bytes);
		}
		close(fd);
	}
	snprintf(path, sizeof(path), "/%s", name);
	q = mq_open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (q != (mqd_t)-1) {
		if (mq_getattr(q, &attr) == 0)
			o->messages = (unsigned long long)attr.mq_curmsgs;
		mq_close(q);
	}
}

static int
posixmq_list(ipk_list_fn *fn, void *arg)
{
	char dir[1024], addr[NAME_MAX + 16];
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (posixmq_mountpoint(dir, sizeof(dir)) != 0)
		return 0; /* not mounted: queues exist, but cannot be listed */
	fsname_sweep("posixmq", posixmq_note_gone);
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct ipk_object o = { .scheme = "posixmq" };
		struct stat sb;

		if (e->d_name[0] == '.')
			continue;
		snprintf(addr, sizeof(addr), "posixmq:/%s", e->d_name);
		o.address = addr;
		posixmq_describe(dirfd(d), e->d_name, &o);
		if (fstatat(dirfd(d), e->d_name, &sb, 0) == 0)
			fsname_creator("posixmq", addr + 8,
			               (unsigned long long)sb.st_ino,
			               &o.creator_pid, &o.creator_start);
		rc = fn(&o, arg);
	}
	closedir(d);
	return rc;
}

static int
posixmq_unlink(struct ipk_addr *a)
{
	int err = posixmq_name(a);

	if (err)
		return err;
	if (mq_unlink(a->rest) == 0) {
		fsname_forget("posixmq", a->rest);
		return 0;
	}
	if (errno == ENOENT)
		return errdetail(-ENOENT, "posixmq:%s: no such queue", a->rest);
	return errdetail(-errno, "posixmq:%s: remove: %s", a->rest,
	                 strerror(errno));
}

static const char *const posixmq_options_list[] = { "maxmsg", "msgsize", NULL };

const struct ipk_transport transport_posixmq = {
	.scheme = "posixmq",
	.summary = "POSIX message queue: priorities, pollable",
	.caps = IPK_CAP_QUEUE | IPK_CAP_NAMED | IPK_CAP_PRIO,
	.state_size = sizeof(struct posixmq_state),
	.options = posixmq_options_list,
	.open = posixmq_open,
	.send = posixmq_send,
	.recv = posixmq_recv,
	.peek_size = posixmq_peek_size,
	.pollfd = posixmq_pollfd,
	.max_msg = posixmq_max_msg,
	.max_msg_limit = posixmq_max_msg_limit,
	.close = posixmq_close,
	.list = posixmq_list,
	.unlink = posixmq_unlink,
};
