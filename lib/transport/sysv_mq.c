// SPDX-License-Identifier: MIT
/* sysv_mq.c - System V message queues as an ipckit transport: typed
 * messages whose payload is the raw mtext (ipcs and plain msgsnd/msgrcv
 * programs interoperate), receive selectors with msgrcv()'s semantics, and
 * a watcher thread that gives a mechanism without descriptors bounded waits
 * and a pollable fd.  docs/mechanisms/queues.md explains the design. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <time.h>
#include <unistd.h>

#include "forkgen.h"
#include "fsname.h"
#include "queue_hooks.h"
#include "syslimit.h"
#include "transport.h"
#include "wait.h"

#ifndef MSG_COPY
#define MSG_COPY 040000 /* <linux/msg.h>; glibc leaves it out */
#endif

#define SYSVMQ_PROJ_DEFAULT 1
#define SYSVMQ_SPIN_NS                                                    \
	30000                           /* bounded waits: retry this long \
	                                   before sleeping */
#define SYSVMQ_SEND_POLL_MIN_NS 20000   /* first nap of a timed send */
#define SYSVMQ_SEND_POLL_MAX_NS 1000000 /* longest nap: 1 ms */
#define SYSVMQ_REQUEUE_MS       1000    /* close() re-queues for this long */
#define SYSVMQ_WATCH_STACK      (256 * 1024)
#define SYSVMQ_PEEK_RETRIES     1000
#define SYSVMQ_HELD_MAX         8

/* What msgsnd() and msgrcv() read and write: the type, then the text. */
struct sysvmq_msg {
	long mtype;
	char mtext[];
};

/* A growable message buffer; no allocation per message once grown. */
struct sysvmq_buf {
	struct sysvmq_msg *m; /* owned */
	size_t cap;           /* bytes of mtext */
};

/*
 * The watcher: a thread that blocks in msgrcv() with a zero-byte buffer.
 * msgrcv() leaves a message that does not fit in the queue (E2BIG), so the
 * thread wakes when a message for its selector arrives without taking it,
 * and rings an eventfd.  Only an empty message fits in zero bytes: that one
 * it does take, and hands to the channel, which delivers it next.  Timed
 * receives poll the eventfd against their deadline; ipk_pollfd() returns
 * it.  Fields below lock are guarded by it.
 */
struct sysvmq_watch {
	pthread_t thread;
	bool running;     /* thread started and not yet joined */
	unsigned forkgen; /* the process that owns the thread */
	int efd;          /* owned eventfd: readable = "look again" */
	int qid;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	long sel;     /* the selector the channel wants to hear about */
	bool armed;   /* the channel waits to hear: the thread may wait */
	bool waiting; /* the thread is in msgrcv() with cur_sel */
	long cur_sel;
	bool fired; /* efd holds a count nobody has read yet */
	bool stop;  /* the thread must return */
	bool taken; /* the thread took an empty message of taken_type */
	long taken_type;
	int err; /* msgrcv() failed otherwise: -errno for the channel */
	/* taken or err may be set: written under lock, read without it
	 * (__atomic), so that a receive that finds a message at once
	 * never touches the lock. */
	bool pending;
	/* The kernel writes mtype here only when it hands the thread a
	 * message; 0 (never a valid type) otherwise.  After a cancelled
	 * msgrcv() this says whether an empty message was taken. */
	struct {
		long mtype;
		char mtext[1];
	} probe;
};

/* Messages this channel took from the kernel and has not returned yet,
 * oldest first: empty ones the watcher (or a peek) took, and, without
 * MSG_COPY, the one ipk_peek_size() had to take to learn its size (the
 * only one that can have text, kept in buf). */
struct sysvmq_held {
	unsigned n;
	long type[SYSVMQ_HELD_MAX];
	size_t len[SYSVMQ_HELD_MAX];
	struct sysvmq_buf buf;
};

struct sysvmq_state {
	int qid;
	size_t msgmax;  /* kernel.msgmax: no message can be larger */
	size_t qbytes;  /* the queue's msg_qbytes at open */
	size_t max_msg; /* min(msgmax, qbytes) */
	struct sysvmq_buf tx, rx, peek;
	struct sysvmq_held held;
	struct sysvmq_watch *watch; /* owned; NULL until a wait or pollfd */
	bool polled;                /* ipk_pollfd() was called */
	unsigned forkgen;           /* the process that opened the channel */
	struct {
		long mtype;
		char mtext[1];
	} probe; /* zero-byte receives of ipk_peek_size() */
};

/* MSG_COPY needs CONFIG_CHECKPOINT_RESTORE; without it (or when a test
 * says so) ipk_peek_size() takes the message into the held slot. */
static bool sysvmq_copy_off;

void
sysvmq_hook_msg_copy(bool usable)
{
	__atomic_store_n(&sysvmq_copy_off, !usable, __ATOMIC_RELAXED);
}

/* ---- small helpers ---- */

static int
sysvmq_reserve(struct sysvmq_buf *b, size_t len)
{
	struct sysvmq_msg *m;
	size_t cap;

	if (b->m && b->cap >= len)
		return 0;
	cap = len < 256 ? 256 : len;
	if (cap > SIZE_MAX - sizeof(*m))
		return -ENOMEM;
	m = realloc(b->m, sizeof(*m) + cap);
	if (m == NULL)
		return -ENOMEM;
	b->m = m;
	b->cap = cap;
	return 0;
}

static void
sysvmq_buf_free(struct sysvmq_buf *b)
{
	free(b->m);
	b->m = NULL;
	b->cap = 0;
}

/* Does a message of this type answer msgrcv()'s selector? */
static bool
sysvmq_matches(long sel, long type)
{
	if (sel == 0)
		return true;
	if (sel > 0)
		return type == sel;
	return -type >= sel; /* type <= |sel|, without negating LONG_MIN */
}

/* Does every message that answers sel also answer old?  Then a watcher
 * already waiting with old will wake for sel too. */
static bool
sysvmq_covers(long old, long sel)
{
	if (old == 0 || old == sel)
		return true;
	if (old > 0 || sel == 0)
		return false;
	return sel > 0 ? -sel >= old : sel >= old;
}

/* The oldest held message for sel, or -1. */
static int
sysvmq_held_find(const struct sysvmq_held *h, long sel)
{
	for (unsigned i = 0; i < h->n; i++)
		if (sysvmq_matches(sel, h->type[i]))
			return (int)i;
	return -1;
}

static void
sysvmq_held_drop(struct sysvmq_held *h, unsigned i)
{
	h->n--;
	memmove(&h->type[i], &h->type[i + 1], (h->n - i) * sizeof(h->type[0]));
	memmove(&h->len[i], &h->len[i + 1], (h->n - i) * sizeof(h->len[0]));
}

/* Hold an empty message; false when the held list is full. */
static bool
sysvmq_held_push_empty(struct sysvmq_held *h, long type)
{
	if (h->n == SYSVMQ_HELD_MAX)
		return false;
	h->type[h->n] = type;
	h->len[h->n] = 0;
	h->n++;
	return true;
}

static int
sysvmq_limits(size_t *msgmax, size_t *msgmnb)
{
	struct msginfo mi = { 0 };

	*msgmax = *msgmnb = 0;
	if (msgctl(0, IPC_INFO, (struct msqid_ds *)(void *)&mi) < 0)
		return -errno;
	*msgmax = (size_t)mi.msgmax;
	*msgmnb = (size_t)mi.msgmnb;
	return 0;
}

/* kernel.msgmax may have been raised since open: a larger message then
 * needs a larger buffer.  True if it grew. */
static bool
sysvmq_refresh_msgmax(struct sysvmq_state *st)
{
	size_t msgmax, msgmnb;

	if (sysvmq_limits(&msgmax, &msgmnb) != 0 || msgmax <= st->msgmax)
		return false;
	st->msgmax = msgmax;
	return true;
}

/* An errno from msgrcv()/msgsnd() as our error, with a detail. */
static int
sysvmq_error(const struct ipk_chan *ch, int e, const char *what)
{
	switch (e) {
	case ENOMSG:
		return -ENOMSG; /* internal: nothing for the selector */
	case EIDRM:
	case EINVAL:
		return errdetail(-EIDRM, "%s: the queue was removed",
		                 ch->address);
	case EACCES:
		return errdetail(-EACCES, "%s: no permission to %s",
		                 ch->address, what);
	default:
		return errdetail(-e, "%s: %s: %s", ch->address, what,
		                 strerror(e));
	}
}

static int
sysvmq_too_small(const struct ipk_chan *ch, size_t cap)
{
	return errdetail(-EMSGSIZE,
	                 "%s: the next message is larger than the %zu-byte "
	                 "buffer (it stays queued; ipk_peek_size() gives "
	                 "its size)",
	                 ch->address, cap);
}

/* ---- the watcher ---- */

static void
sysvmq_watch_fire_locked(struct sysvmq_watch *w)
{
	uint64_t one = 1;

	if (w->fired)
		return;
	/* An eventfd write of 1 fails only when the counter would
	 * overflow, which a count that is drained at 1 never does. */
	if (write(w->efd, &one, sizeof(one)) == sizeof(one))
		w->fired = true;
}

static void *
sysvmq_watch_main(void *arg)
{
	struct sysvmq_watch *w = arg;
	int old;

	/* Cancellation is possible only inside msgrcv(): never while the
	 * lock is held, so close() can always take it back. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		ssize_t n;
		long sel;
		int e;

		while (!w->stop && (!w->armed || w->taken || w->err))
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop)
			break;
		sel = w->sel;
		w->cur_sel = sel;
		w->waiting = true;
		w->probe.mtype = 0;
		pthread_mutex_unlock(&w->lock);
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
		n = msgrcv(w->qid, &w->probe, 0, sel, 0);
		e = errno;
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		pthread_mutex_lock(&w->lock);
		w->waiting = false;
		if (n < 0 && e == EINTR)
			continue;
		if (n >= 0) {
			w->taken = true;
			w->taken_type = w->probe.mtype;
			w->probe.mtype = 0;
		} else if (e != E2BIG) {
			w->err = -e;
		}
		if (w->taken || w->err)
			__atomic_store_n(&w->pending, true, __ATOMIC_RELEASE);
		w->armed = false;
		sysvmq_watch_fire_locked(w);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int
sysvmq_watch_start(struct sysvmq_watch *w)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int rc;

	/* Signals belong to the application's threads, not to ours. */
	sigfillset(&all);
	if (pthread_attr_init(&attr) != 0)
		return -ENOMEM;
	pthread_attr_setstacksize(&attr, SYSVMQ_WATCH_STACK);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w->thread, &attr, sysvmq_watch_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		return errdetail(-rc,
		                 "cannot start the queue's watcher "
		                 "thread: %s",
		                 strerror(rc));
	w->running = true;
	return 0;
}

/* Stop and join the thread.  If it was cancelled just as the kernel handed
 * it an empty message, probe.mtype says so and the message is kept. */
static void
sysvmq_watch_stop(struct sysvmq_watch *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_cancel(w->thread);
	pthread_join(w->thread, NULL);
	w->running = false;
	w->stop = false;
	w->waiting = false;
	w->armed = false;
	if (w->probe.mtype != 0) {
		w->taken = true;
		w->taken_type = w->probe.mtype;
		w->probe.mtype = 0;
		__atomic_store_n(&w->pending, true, __ATOMIC_RELEASE);
	}
}

static void
sysvmq_watch_free(struct sysvmq_watch *w)
{
	if (w == NULL)
		return;
	if (w->forkgen == forkgen_current()) {
		sysvmq_watch_stop(w);
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
	}
	/* In a forked child the thread does not exist and the lock may be
	 * frozen locked: only the descriptor is ours to close. */
	close(w->efd);
	free(w);
}

static int
sysvmq_watch_new(struct sysvmq_state *st)
{
	struct sysvmq_watch *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -ENOMEM;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		int err = -errno;

		free(w);
		return errdetail(err, "eventfd for the queue's watcher: %s",
		                 strerror(-err));
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->qid = st->qid;
	w->forkgen = forkgen_current();
	st->watch = w;
	return 0;
}

/* Drop what a forked child inherited from its parent: the watcher thread
 * is not in this process, and a held message is the parent's to deliver. */
static void
sysvmq_adopt(struct sysvmq_state *st)
{
	unsigned gen = forkgen_current();

	if (st->forkgen == gen)
		return;
	st->forkgen = gen;
	st->held.n = 0;
	sysvmq_watch_free(st->watch);
	st->watch = NULL;
	st->polled = false;
}

/* Move an empty message the watcher took to the held list; if that is
 * full, put it back at the tail (only the order of empty messages can
 * change).  Returns the watcher's error, if any.  Costs one atomic load
 * when the watcher has nothing to hand over: the lock, and the signal that
 * would wake the thread, are for when it has. */
static int
sysvmq_collect(struct sysvmq_state *st)
{
	struct sysvmq_watch *w = st->watch;
	int err = 0;

	if (w == NULL || !__atomic_load_n(&w->pending, __ATOMIC_ACQUIRE))
		return 0;
	pthread_mutex_lock(&w->lock);
	if (w->taken && sysvmq_held_push_empty(&st->held, w->taken_type)) {
		w->taken = false;
	} else if (w->taken) {
		st->probe.mtype = w->taken_type;
		if (msgsnd(st->qid, &st->probe, 0, IPC_NOWAIT) == 0)
			w->taken = false;
	}
	/* The thread waits while it holds a message: let it go on. */
	if (!w->taken)
		pthread_cond_signal(&w->cond);
	if (w->err) {
		err = w->err;
		w->err = 0;
	}
	__atomic_store_n(&w->pending, w->taken, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&w->lock);
	return err;
}

/*
 * Ask the watcher to ring when a message for sel may be there.  Drains the
 * eventfd first.  Returns 0, 1 when something is already there to collect
 * (do not wait), or -errno.
 */
static int
sysvmq_watch_arm(struct sysvmq_state *st, long sel)
{
	struct sysvmq_watch *w;
	uint64_t count;
	bool restart = false;
	int err;

	if (st->watch == NULL && (err = sysvmq_watch_new(st)) != 0)
		return err;
	w = st->watch;
	pthread_mutex_lock(&w->lock);
	if (w->fired) {
		/* Nonblocking; nothing to read is as good as a read. */
		(void)!read(w->efd, &count, sizeof(count));
		w->fired = false;
	}
	if ((w->taken && st->held.n < SYSVMQ_HELD_MAX) || w->err) {
		pthread_mutex_unlock(&w->lock);
		return 1;
	}
	if (!w->waiting) {
		w->sel = sel;
		w->armed = true;
		pthread_cond_signal(&w->cond);
	} else if (!sysvmq_covers(w->cur_sel, sel)) {
		/* Blocked in msgrcv() for other types: only cancellation
		 * can take it out (msgrcv() has no timeout). */
		restart = true;
	}
	pthread_mutex_unlock(&w->lock);
	if (restart) {
		sysvmq_watch_stop(w);
		if (w->taken && st->held.n < SYSVMQ_HELD_MAX)
			return 1;
		w->sel = sel;
		w->armed = true;
	}
	if (!w->running)
		return sysvmq_watch_start(w);
	return 0;
}

/* After a receive on a channel whose pollfd is out: the fd must be
 * readable, or armed to become so, for as long as the queue may hold a
 * message.  Drained and re-armed only when a receive found nothing. */
static void
sysvmq_poll_fixup(struct sysvmq_state *st, ssize_t result)
{
	struct sysvmq_watch *w = st->watch;
	bool arm;

	if (!st->polled || w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	if (st->held.n || w->taken) {
		sysvmq_watch_fire_locked(w);
		pthread_mutex_unlock(&w->lock);
		return;
	}
	/* Armed for another type (a bounded wait's) is not armed for the
	 * pollfd, which means "any message". */
	arm = result == -EAGAIN || result == -ETIMEDOUT ||
	      (!w->fired && (!w->armed || w->sel != 0));
	pthread_mutex_unlock(&w->lock);
	if (arm)
		(void)sysvmq_watch_arm(st, 0);
}

/* ---- receiving ---- */

/* One receive for sel into buf: msgflg IPC_NOWAIT, or 0 to block.
 * -ENOMSG when nothing answers the selector. */
static ssize_t
sysvmq_take(struct ipk_chan *ch, void *buf, size_t cap,
            struct ipk_msginfo *info, int msgflg)
{
	struct sysvmq_state *st = ipk_chan_state(ch);
	struct sysvmq_held *h = &st->held;
	int i = sysvmq_held_find(h, info->type);
	size_t bufsz;
	ssize_t n;
	int e;

	if (i >= 0) {
		n = (ssize_t)h->len[i];
		if ((size_t)n > cap)
			return sysvmq_too_small(ch, cap);
		if (n)
			memcpy(buf, h->buf.m->mtext, (size_t)n);
		info->type = h->type[i];
		sysvmq_held_drop(h, (unsigned)i);
		return n;
	}
	for (;;) {
		bufsz = cap < st->msgmax ? cap : st->msgmax;
		if (sysvmq_reserve(&st->rx, bufsz) != 0)
			return -ENOMEM;
		n = msgrcv(st->qid, st->rx.m, bufsz, info->type, msgflg);
		if (n >= 0)
			break;
		e = errno;
		if (e == EINTR)
			continue;
		if (e == E2BIG && bufsz < cap && sysvmq_refresh_msgmax(st))
			continue;
		if (e == E2BIG)
			return sysvmq_too_small(ch, cap);
		return sysvmq_error(ch, e, "receive");
	}
	memcpy(buf, st->rx.m->mtext, (size_t)n);
	info->type = st->rx.m->mtype;
	return n;
}

static int sysvmq_requeue(struct sysvmq_state *st, unsigned i);

/* Without MSG_COPY: take the message to the held list to learn its size.
 * It is then this channel's; close() re-queues it if unreceived.  Only one
 * held message has text: an older one goes back to the queue's tail. */
static ssize_t
sysvmq_hold_next(struct ipk_chan *ch, long sel)
{
	struct sysvmq_state *st = ipk_chan_state(ch);
	struct sysvmq_held *h = &st->held;
	ssize_t n;
	int e;

	for (unsigned i = 0; i < h->n; i++)
		if (h->len[i] > 0 && sysvmq_requeue(st, i) != 0)
			return errdetail(-EAGAIN,
			                 "%s: cannot put a held message back",
			                 ch->address);
	if (h->n == SYSVMQ_HELD_MAX)
		return errdetail(-ENOBUFS, "%s: %d messages held already",
		                 ch->address, SYSVMQ_HELD_MAX);
	for (;;) {
		if (sysvmq_reserve(&h->buf, st->msgmax) != 0)
			return -ENOMEM;
		n = msgrcv(st->qid, h->buf.m, st->msgmax, sel, IPC_NOWAIT);
		if (n >= 0)
			break;
		e = errno;
		if (e == EINTR || (e == E2BIG && sysvmq_refresh_msgmax(st)))
			continue;
		return sysvmq_error(ch, e, "receive");
	}
	h->type[h->n] = h->buf.m->mtype;
	h->len[h->n] = (size_t)n;
	h->n++;
	return n;
}

/*
 * The size of the message msgrcv(sel) would return, by copying messages
 * with MSG_COPY (which addresses them by position, not type) until one
 * answers the selector.  -ENOMSG if none does any more.
 */
static ssize_t
sysvmq_copy_size(struct ipk_chan *ch, long sel)
{
	struct sysvmq_state *st = ipk_chan_state(ch);
	ssize_t best = -ENOMSG;
	long best_type = 0;

	if (__atomic_load_n(&sysvmq_copy_off, __ATOMIC_RELAXED))
		return sysvmq_hold_next(ch, sel);
	for (long i = 0;;) {
		ssize_t n;
		long t;

		if (sysvmq_reserve(&st->peek, st->msgmax) != 0)
			return -ENOMEM;
		n = msgrcv(st->qid, st->peek.m, st->msgmax, i,
		           MSG_COPY | IPC_NOWAIT);
		if (n < 0) {
			int e = errno;

			if (e == ENOMSG)
				return best;
			if (e == EINTR)
				continue;
			if (e == ENOSYS) {
				sysvmq_hook_msg_copy(false);
				return sysvmq_hold_next(ch, sel);
			}
			if (e == E2BIG && sysvmq_refresh_msgmax(st))
				continue;
			if (e == E2BIG)
				return errdetail(
				        -EMSGSIZE,
				        "%s: a queued message is larger "
				        "than kernel.msgmax = %zu, which "
				        "was lowered after it was sent",
				        ch->address, st->msgmax);
			return sysvmq_error(ch, e, "read");
		}
		t = st->peek.m->mtype;
		if (sel == 0 || t == sel)
			return n;
		if (sel < 0 && -t >= sel && (best < 0 || t < best_type)) {
			best = n;
			best_type = t;
		}
		i++;
	}
}

/* The size of the next message for sel, without taking it (but for an
 * empty one, which only a receive can find: that is held).  msgflg
 * IPC_NOWAIT, or 0 to block.  -ENOMSG when there is none. */
static ssize_t
sysvmq_size(struct ipk_chan *ch, long sel, int msgflg)
{
	struct sysvmq_state *st = ipk_chan_state(ch);
	int i = sysvmq_held_find(&st->held, sel);
	ssize_t n;

	if (i >= 0)
		return (ssize_t)st->held.len[i];
	if (st->held.n == SYSVMQ_HELD_MAX)
		return errdetail(-ENOBUFS, "%s: %d messages held already",
		                 ch->address, SYSVMQ_HELD_MAX);
	for (int races = 0;;) {
		/* A zero-byte receive fails with E2BIG, leaving the message
		 * queued, for anything but an empty message. */
		st->probe.mtype = 0;
		n = msgrcv(st->qid, &st->probe, 0, sel, msgflg);
		if (n == 0) {
			sysvmq_held_push_empty(&st->held, st->probe.mtype);
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != E2BIG)
			return sysvmq_error(ch, errno, "receive");
		n = sysvmq_copy_size(ch, sel);
		if (n != -ENOMSG)
			return n;
		/* Another receiver took it between the two calls; a wait
		 * that does not block gives up after a while. */
		if ((msgflg & IPC_NOWAIT) && ++races == SYSVMQ_PEEK_RETRIES)
			return -ENOMSG;
	}
}

enum sysvmq_op {
	SYSVMQ_RECV,
	SYSVMQ_PEEK,
};

static ssize_t
sysvmq_attempt(struct ipk_chan *ch, enum sysvmq_op op, void *buf, size_t cap,
               struct ipk_msginfo *info, int msgflg)
{
	if (op == SYSVMQ_RECV)
		return sysvmq_take(ch, buf, cap, info, msgflg);
	return sysvmq_size(ch, info->type, msgflg);
}

/* One more try of a bounded wait's spin?  Yields the CPU, and says true
 * until SYSVMQ_SPIN_NS after the first call (*end == 0) or the deadline. */
static bool
sysvmq_spin(int64_t *end, int64_t deadline)
{
	int64_t now = wait_now_ns();

	if (*end == 0)
		*end = now + SYSVMQ_SPIN_NS;
	if (now >= *end || now >= deadline)
		return false;
	sched_yield();
	return true;
}

/*
 * Receive or peek, waiting as the timeout says.  -1 blocks in msgrcv()
 * itself, so it wakes as fast as the kernel allows; a bounded wait lets
 * the watcher thread block instead and polls its eventfd until the
 * deadline (one extra wake-up per wait).  Before that hop it retries for
 * up to SYSVMQ_SPIN_NS, yielding the CPU between tries: a message a busy
 * peer is about to send arrives without the watcher's wake-up, and the
 * spin is bounded, so an idle wait costs 30 us of CPU once.
 */
static ssize_t
sysvmq_wait(struct ipk_chan *ch, enum sysvmq_op op, void *buf, size_t cap,
            struct ipk_msginfo *info, int timeout_ms)
{
	struct sysvmq_state *st = ipk_chan_state(ch);
	int64_t deadline;
	ssize_t n;

	sysvmq_adopt(st);
	n = sysvmq_collect(st);
	if (n < 0)
		return sysvmq_error(ch, (int)-n, "wait");
	if (timeout_ms < 0) {
		n = sysvmq_attempt(ch, op, buf, cap, info, 0);
		sysvmq_poll_fixup(st, n);
		return n;
	}
	deadline = wait_deadline(timeout_ms);
	for (int64_t spin_end = 0;;) {
		n = sysvmq_attempt(ch, op, buf, cap, info, IPC_NOWAIT);
		if (n != -ENOMSG)
			break;
		if (timeout_ms == 0) {
			n = -EAGAIN;
			break;
		}
		if (sysvmq_spin(&spin_end, deadline))
			continue;
		n = sysvmq_watch_arm(st, info->type);
		if (n == 0)
			n = wait_fd(st->watch->efd, POLLIN, deadline);
		if (n < 0)
			break;
		n = sysvmq_collect(st);
		if (n < 0) {
			n = sysvmq_error(ch, (int)-n, "wait");
			break;
		}
	}
	sysvmq_poll_fixup(st, n);
	return n;
}

static ssize_t
sysvmq_recv(struct ipk_chan *ch, void *buf, size_t cap,
            struct ipk_msginfo *info, int timeout_ms)
{
	return sysvmq_wait(ch, SYSVMQ_RECV, buf, cap, info, timeout_ms);
}

static ssize_t
sysvmq_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
                 int timeout_ms)
{
	struct ipk_msginfo sel = { .type = info->type };

	return sysvmq_wait(ch, SYSVMQ_PEEK, NULL, 0, &sel, timeout_ms);
}

/* ---- sending ---- */

static ssize_t
sysvmq_send(struct ipk_chan *ch, const void *msg, size_t len,
            const struct ipk_msginfo *info, int timeout_ms)
{
	struct sysvmq_state *st = ipk_chan_state(ch);
	long type = info->type ? info->type : 1;
	int64_t deadline, nap = SYSVMQ_SEND_POLL_MIN_NS, spin_end = 0;
	int flags = timeout_ms < 0 ? 0 : IPC_NOWAIT;

	if (type < 0)
		return errdetail(-EINVAL,
		                 "%s: message type %ld: types are 1 or more",
		                 ch->address, type);
	if (sysvmq_reserve(&st->tx, len) != 0)
		return -ENOMEM;
	st->tx.m->mtype = type;
	if (len)
		memcpy(st->tx.m->mtext, msg, len);
	deadline = timeout_ms > 0 ? wait_deadline(timeout_ms) : 0;
	for (;;) {
		int64_t now, until;
		struct timespec ts;

		if (msgsnd(st->qid, st->tx.m, len, flags) == 0)
			return (ssize_t)len;
		if (errno == EINTR)
			continue;
		if (errno == EINVAL && len > 0) {
			/* kernel.msgmax may have been lowered since open. */
			size_t msgmax, msgmnb;

			if (sysvmq_limits(&msgmax, &msgmnb) == 0 &&
			    len > msgmax)
				return errdetail(-EMSGSIZE,
				                 "%s: message of %zu bytes is "
				                 "above kernel.msgmax = %zu",
				                 ch->address, len, msgmax);
			errno = EINVAL;
		}
		if (errno != EAGAIN)
			return sysvmq_error(ch, errno, "send");
		if (timeout_ms == 0)
			return -EAGAIN;
		if (sysvmq_spin(&spin_end, deadline))
			continue;
		/* Nothing in the kernel says "there is room now" without
		 * sending, and a blocked msgsnd() cannot be called back
		 * without a signal: a bounded wait naps and retries, the
		 * naps doubling from 20 us to 1 ms. */
		now = wait_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		until = deadline - now > nap ? now + nap : deadline;
		ts.tv_sec = (time_t)(until / 1000000000);
		ts.tv_nsec = (long)(until % 1000000000);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		                       NULL) == EINTR)
			;
		if (nap < SYSVMQ_SEND_POLL_MAX_NS)
			nap *= 2;
	}
}

/* ---- addresses, open and close ---- */

/* The queue an address names: a key, an id ("id:N"), or ftok(path). */
struct sysvmq_target {
	bool by_id;
	int id;
	key_t key;
};

static bool
sysvmq_number(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	int base = 10;
	char *end;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (base == 16 ? !isxdigit((unsigned char)s[0])
	               : !(s[0] >= '0' && s[0] <= '9'))
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

static int
sysvmq_target(struct ipk_addr *a, struct sysvmq_target *t)
{
	const char *r = a->rest;
	uint64_t v, proj;
	int err;

	memset(t, 0, sizeof(*t));
	if (r[0] == '\0')
		return errdetail(IPK_EADDR,
		                 "sysvmq: expected a key (sysvmq:1234, "
		                 "sysvmq:0x4d2), id:N, or a path for ftok()");
	if (strncmp(r, "id:", 3) == 0) {
		if (!sysvmq_number(r + 3, INT_MAX, &v) || r[4] == 'x')
			return errdetail(IPK_EADDR,
			                 "sysvmq:%s: an id is decimal, 0..%d",
			                 r, INT_MAX);
		t->by_id = true;
		t->id = (int)v;
	} else if (sysvmq_number(r, UINT32_MAX, &v)) {
		if (v == 0)
			return errdetail(IPK_EADDR,
			                 "sysvmq:%s: key 0 is IPC_PRIVATE, a "
			                 "queue nobody else can open by key",
			                 r);
		t->key = (key_t)(uint32_t)v;
	} else if (isdigit((unsigned char)r[0]) && strchr(r, '/') == NULL) {
		return errdetail(IPK_EADDR,
		                 "sysvmq:%s: a key is decimal or 0x-hex, "
		                 "1..0xffffffff (a path needs a '/')",
		                 r);
	} else {
		err = addr_opt_u64(a, "proj", 1, 255, SYSVMQ_PROJ_DEFAULT,
		                   false, &proj);
		if (err)
			return err;
		t->key = ftok(r, (int)proj);
		if (t->key == (key_t)-1)
			return errdetail(-errno,
			                 "sysvmq:%s: ftok() needs an existing "
			                 "file: %s",
			                 r, strerror(errno));
		return 0;
	}
	if (addr_opt_str(a, "proj"))
		return errdetail(IPK_EOPTION,
		                 "sysvmq:%s: option proj applies only to a "
		                 "path (ftok)",
		                 r);
	return 0;
}

/* The kernel records no creator for a queue: note ours (with the queue's
 * ctime, which tells it from a later queue given the same id) so that
 * `ipckit ls` can tell an idle queue from a stale one. */
static void
sysvmq_note(int qid)
{
	struct msqid_ds ds;
	char name[32];

	if (msgctl(qid, IPC_STAT, &ds) != 0)
		return;
	snprintf(name, sizeof(name), "id:%d", qid);
	fsname_note("sysvmq", name, (unsigned long long)ds.msg_ctime);
}

/* The ctime of queue "id:N", or -1 when there is no such queue. */
static long long
sysvmq_ctime(const char *name)
{
	struct msqid_ds ds;
	int id;

	if (sscanf(name, "id:%d", &id) != 1 || msgctl(id, IPC_STAT, &ds) != 0)
		return -1;
	return (long long)ds.msg_ctime;
}

static bool
sysvmq_note_gone(const char *name, unsigned long long tag)
{
	return sysvmq_ctime(name) != (long long)tag;
}

/* Find or make the queue; *created says which. */
static int
sysvmq_get(struct ipk_chan *ch, const struct ipk_addr *a,
           const struct sysvmq_target *t, unsigned flags, bool *created)
{
	struct sysvmq_state *st = ipk_chan_state(ch);
	const char *text = a->rest;
	struct msqid_ds ds;

	*created = false;
	if (t->by_id) {
		if (msgctl(t->id, IPC_STAT, &ds) != 0)
			return errno == EINVAL
			               ? errdetail(-ENOENT,
			                           "sysvmq:%s: no queue with "
			                           "this id",
			                           text)
			               : sysvmq_error(ch, errno, "stat");
		if (flags & IPK_EXCL)
			return errdetail(-EEXIST, "sysvmq:%s: exists", text);
		st->qid = t->id;
		return 0;
	}
	for (int tries = 0;; tries++) {
		if (!(flags & IPK_NOCREATE)) {
			st->qid = msgget(t->key,
			                 IPC_CREAT | IPC_EXCL | (int)a->mode);
			if (st->qid >= 0) {
				*created = true;
				return 0;
			}
			if (errno == ENOSPC)
				return errdetail(
				        -ENOSPC,
				        "sysvmq:%s: kernel.msgmni queues "
				        "exist already (raise it with "
				        "sysctl)",
				        text);
			if (errno != EEXIST)
				return errdetail(-errno,
				                 "sysvmq:%s: msgget: %s", text,
				                 strerror(errno));
			if (flags & IPK_EXCL)
				return errdetail(
				        -EEXIST,
				        "sysvmq:%s: exists (key 0x%08x)", text,
				        (unsigned)t->key);
		}
		/* Asking for 0600 checks that we may read and write. */
		st->qid = msgget(t->key, 0600);
		if (st->qid >= 0)
			return 0;
		if (errno == ENOENT && !(flags & IPK_NOCREATE) && tries < 8)
			continue; /* removed between the two calls */
		if (errno == ENOENT)
			return errdetail(-ENOENT,
			                 "sysvmq:%s: no queue with key 0x%08x",
			                 text, (unsigned)t->key);
		if (errno == EACCES)
			return errdetail(-EACCES,
			                 "sysvmq:%s: no permission to read and "
			                 "write the queue",
			                 text);
		return errdetail(-errno, "sysvmq:%s: msgget: %s", text,
		                 strerror(errno));
	}
}

static int
sysvmq_open(struct ipk_chan *ch, struct ipk_addr *a, unsigned flags,
            int timeout_ms)
{
	struct sysvmq_state *st = ipk_chan_state(ch);
	struct sysvmq_target t;
	struct msqid_ds ds;
	uint64_t qbytes;
	size_t msgmnb;
	bool created, want_qbytes;
	int err;

	(void)timeout_ms; /* opening a queue never waits */
	st->qid = -1;
	st->forkgen = forkgen_current();
	err = sysvmq_target(a, &t);
	if (err)
		return err;
	want_qbytes = addr_opt_str(a, "qbytes") != NULL;
	err = addr_opt_u64(a, "qbytes", 1, INT_MAX, 0, true, &qbytes);
	if (err == 0)
		err = addr_check_unused(a);
	if (err == 0)
		err = sysvmq_limits(&st->msgmax, &msgmnb);
	if (err)
		return err;
	if (want_qbytes && qbytes > msgmnb && !syslimit_cap_resource())
		return errdetail(
		        IPK_ELIMIT,
		        "sysvmq:%s: qbytes=%llu is above kernel.msgmnb "
		        "= %zu (raise it with sysctl -w "
		        "kernel.msgmnb=%llu)",
		        a->rest, (unsigned long long)qbytes, msgmnb,
		        (unsigned long long)qbytes);
	err = sysvmq_get(ch, a, &t, flags, &created);
	if (err)
		return err;
	if (msgctl(st->qid, IPC_STAT, &ds) != 0) {
		err = sysvmq_error(ch, errno, "stat");
		goto fail;
	}
	if (want_qbytes && created && ds.msg_qbytes != qbytes) {
		ds.msg_qbytes = qbytes;
		if (msgctl(st->qid, IPC_SET, &ds) != 0) {
			err = errno == EPERM
			              ? errdetail(IPK_ELIMIT,
			                          "sysvmq:%s: qbytes=%llu is "
			                          "above kernel.msgmnb = %zu",
			                          a->rest,
			                          (unsigned long long)qbytes,
			                          msgmnb)
			              : sysvmq_error(ch, errno, "set qbytes");
			goto fail;
		}
	} else if (want_qbytes && ds.msg_qbytes != qbytes) {
		err = errdetail(IPK_EOPTION,
		                "sysvmq:%s: the queue exists with qbytes=%lu; "
		                "?qbytes= applies when it is made",
		                a->rest, (unsigned long)ds.msg_qbytes);
		goto fail;
	}
	st->qbytes = ds.msg_qbytes;
	st->max_msg = st->qbytes < st->msgmax ? st->qbytes : st->msgmax;
	if (created)
		sysvmq_note(st->qid);
	return 0;
fail:
	if (created) /* never remove a queue someone else made */
		msgctl(st->qid, IPC_RMID, NULL);
	return err;
}

/* Put held message i back at the tail of the queue, trying for a second
 * at most, so that it is not lost with this channel.  0 or -errno. */
static int
sysvmq_requeue(struct sysvmq_state *st, unsigned i)
{
	struct sysvmq_held *h = &st->held;
	int64_t deadline = wait_deadline(SYSVMQ_REQUEUE_MS);
	struct timespec nap = { 0, SYSVMQ_SEND_POLL_MAX_NS };

	if (sysvmq_reserve(&h->buf, h->len[i]) != 0)
		return -ENOMEM;
	h->buf.m->mtype = h->type[i];
	while (msgsnd(st->qid, h->buf.m, h->len[i], IPC_NOWAIT) != 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		if (wait_now_ns() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
	}
	sysvmq_held_drop(h, i);
	return 0;
}

static void
sysvmq_close(struct ipk_chan *ch)
{
	struct sysvmq_state *st = ipk_chan_state(ch);

	sysvmq_adopt(st);
	if (st->watch)
		sysvmq_watch_stop(st->watch);
	/* What the watcher took joins the held list, which goes back to the
	 * queue in order. */
	(void)sysvmq_collect(st);
	while (st->held.n && sysvmq_requeue(st, 0) == 0)
		;
	sysvmq_watch_free(st->watch);
	st->watch = NULL;
	sysvmq_buf_free(&st->tx);
	sysvmq_buf_free(&st->rx);
	sysvmq_buf_free(&st->peek);
	sysvmq_buf_free(&st->held.buf);
}

/* ---- the rest of the table ---- */

static int
sysvmq_pollfd(struct ipk_chan *ch)
{
	struct sysvmq_state *st = ipk_chan_state(ch);
	int err;

	sysvmq_adopt(st);
	if (st->watch == NULL && (err = sysvmq_watch_new(st)) != 0)
		return err;
	st->polled = true;
	(void)sysvmq_collect(st);
	sysvmq_poll_fixup(st, 0);
	return st->watch->efd;
}

static size_t
sysvmq_max_msg(const struct ipk_chan *ch)
{
	const struct sysvmq_state *st = ipk_chan_cstate(ch);

	return st->max_msg;
}

static void
sysvmq_max_msg_limit(const struct ipk_chan *ch, char *buf, size_t cap)
{
	const struct sysvmq_state *st = ipk_chan_cstate(ch);

	if (st->max_msg == st->msgmax)
		snprintf(buf, cap,
		         "kernel.msgmax = %zu (raise it with sysctl -w "
		         "kernel.msgmax=N)",
		         st->msgmax);
	else
		snprintf(buf, cap,
		         "the queue's msg_qbytes = %zu (?qbytes= when it is "
		         "made, up to kernel.msgmnb)",
		         st->qbytes);
}

static int
sysvmq_list(ipk_list_fn *fn, void *arg)
{
	FILE *f = fopen("/proc/sysvipc/msg", "re");
	char line[512];
	int rc = 0;

	if (f == NULL)
		return errno == ENOENT ? 0 : -errno;
	fsname_sweep("sysvmq", sysvmq_note_gone);
	/* key msqid perms cbytes qnum lspid lrpid uid gid cuid cgid ... */
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return 0;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		struct ipk_object o = { .scheme = "sysvmq" };
		unsigned long long cbytes, qnum;
		unsigned perms, uid;
		char addr[48], name[32];
		long long ctime = -1;
		int key, id, got;

		/* ... uid gid cuid cgid stime rtime ctime: the ctime that
		 * tells a noted queue from a later one with its id. */
		got = sscanf(
		        line,
		        "%d %d %o %llu %llu %*d %*d %u %*u %*u %*u %*d %*d "
		        "%lld",
		        &key, &id, &perms, &cbytes, &qnum, &uid, &ctime);
		if (got < 6)
			continue;
		if (key != 0)
			snprintf(addr, sizeof(addr), "sysvmq:0x%08x",
			         (unsigned)key);
		else
			snprintf(addr, sizeof(addr), "sysvmq:id:%d", id);
		o.address = addr;
		o.owner = (uid_t)uid;
		o.mode = (mode_t)(perms & 0777);
		o.bytes = cbytes;
		o.messages = qnum;
		snprintf(name, sizeof(name), "id:%d", id);
		if (got < 7)
			ctime = sysvmq_ctime(name);
		if (ctime >= 0)
			fsname_creator("sysvmq", name,
			               (unsigned long long)ctime,
			               &o.creator_pid, &o.creator_start);
		rc = fn(&o, arg);
	}
	fclose(f);
	return rc;
}

static int
sysvmq_unlink(struct ipk_addr *a)
{
	struct sysvmq_target t;
	char name[32];
	int err, id;

	err = sysvmq_target(a, &t);
	if (err)
		return err;
	id = t.by_id ? t.id : msgget(t.key, 0);
	if (id < 0)
		return errno == ENOENT
		               ? errdetail(-ENOENT, "sysvmq:%s: no such queue",
		                           a->rest)
		               : errdetail(-errno, "sysvmq:%s: %s", a->rest,
		                           strerror(errno));
	if (msgctl(id, IPC_RMID, NULL) != 0) {
		if (errno == EINVAL || errno == EIDRM)
			return errdetail(-ENOENT, "sysvmq:%s: no such queue",
			                 a->rest);
		return errdetail(-errno, "sysvmq:%s: remove: %s", a->rest,
		                 strerror(errno));
	}
	snprintf(name, sizeof(name), "id:%d", id);
	fsname_forget("sysvmq", name);
	return 0;
}

static const char *const sysvmq_options[] = { "proj", "qbytes", NULL };

const struct ipk_transport transport_sysvmq = {
	.scheme = "sysvmq",
	.summary = "System V message queue: typed messages, by key or path",
	.caps = IPK_CAP_QUEUE | IPK_CAP_NAMED | IPK_CAP_TYPES,
	.state_size = sizeof(struct sysvmq_state),
	.options = sysvmq_options,
	.open = sysvmq_open,
	.send = sysvmq_send,
	.recv = sysvmq_recv,
	.peek_size = sysvmq_peek_size,
	.pollfd = sysvmq_pollfd,
	.max_msg = sysvmq_max_msg,
	.max_msg_limit = sysvmq_max_msg_limit,
	.close = sysvmq_close,
	.list = sysvmq_list,
	.unlink = sysvmq_unlink,
};
