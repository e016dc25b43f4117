// SPDX-License-Identifier: MIT
/* loop.c - ipk_loop: epoll for fds, a binary heap of monotonic timers,
 * signalfd for signals, and a deferred-work list run after every round of
 * callbacks (redis' freeClientAsync, tmux's unref: objects are freed there,
 * never inside their own callback). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "ipckit.h"

#include "wait.h"

#define LOOP_EVENTS 256 /* epoll events taken per round */
#define LOOP_NSIG   65

struct loop_watch {
	ipk_io_fn *fn; /* NULL: not watched */
	void *arg;
	unsigned events;
};

struct loop_defer {
	ipk_defer_fn *fn;
	void *arg;
};

struct ipk_loop {
	int epfd;
	int sigfd;        /* -1 until the first ipk_loop_signal() */
	sigset_t sigs;    /* signals routed through sigfd */
	sigset_t oldmask; /* the thread's mask before we blocked sigs */
	struct {
		ipk_signal_fn *fn;
		void *arg;
	} sig[LOOP_NSIG];
	struct loop_watch *watch; /* owned: indexed by fd */
	size_t n_watch;
	struct ipk_timer **heap; /* owned array of borrowed timers */
	size_t n_heap, cap_heap;
	struct loop_defer *defer; /* owned */
	size_t n_defer, cap_defer;
	long long now_ms;
	int stopping;
};

static void
loop_update_now(struct ipk_loop *l)
{
	l->now_ms = wait_now_ns() / 1000000;
}

int
ipk_loop_new(struct ipk_loop **lp)
{
	struct ipk_loop *l = calloc(1, sizeof(*l));

	*lp = NULL;
	if (l == NULL)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	l->sigfd = -1;
	sigemptyset(&l->sigs);
	loop_update_now(l);
	*lp = l;
	return 0;
}

void
ipk_loop_free(struct ipk_loop *l)
{
	if (l == NULL)
		return;
	close(l->epfd);
	if (l->sigfd >= 0) {
		close(l->sigfd);
		pthread_sigmask(SIG_SETMASK, &l->oldmask, NULL);
	}
	for (size_t i = 0; i < l->n_heap; i++)
		l->heap[i]->slot = 0;
	free(l->watch);
	free(l->heap);
	free(l->defer);
	free(l);
}

static int
loop_grow_watch(struct ipk_loop *l, int fd)
{
	size_t n = l->n_watch ? l->n_watch : 64;
	struct loop_watch *w;

	while (n <= (size_t)fd)
		n *= 2;
	if (n == l->n_watch)
		return 0;
	w = realloc(l->watch, n * sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	memset(w + l->n_watch, 0, (n - l->n_watch) * sizeof(*w));
	l->watch = w;
	l->n_watch = n;
	return 0;
}

int
ipk_loop_watch(struct ipk_loop *l, int fd, unsigned events, ipk_io_fn *fn,
               void *arg)
{
	struct epoll_event ev = { 0 };
	int err, op;

	if (fd < 0 || fn == NULL)
		return -EINVAL;
	err = loop_grow_watch(l, fd);
	if (err)
		return err;
	ev.events = ((events & IPK_READ) ? EPOLLIN | EPOLLRDHUP : 0) |
	            ((events & IPK_WRITE) ? EPOLLOUT : 0);
	ev.data.fd = fd;
	op = l->watch[fd].fn ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (op == EPOLL_CTL_ADD || l->watch[fd].events != events) {
		if (epoll_ctl(l->epfd, op, fd, &ev) != 0)
			return -errno;
	}
	l->watch[fd] = (struct loop_watch){ fn, arg, events };
	return 0;
}

int
ipk_loop_unwatch(struct ipk_loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->n_watch || l->watch[fd].fn == NULL)
		return -ENOENT;
	l->watch[fd].fn = NULL;
	/* ENOENT/EBADF: the fd was closed first, which removed it already. */
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) != 0 &&
	    errno != ENOENT && errno != EBADF)
		return -errno;
	return 0;
}

/* ---- timers: a binary min-heap on due_ns; slot = index + 1 ---- */

void
ipk_timer_init(struct ipk_timer *t, ipk_timer_fn *fn, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->fn = fn;
	t->arg = arg;
}

int
ipk_timer_is_active(const struct ipk_timer *t)
{
	return t->slot != 0;
}

static void
heap_set(struct ipk_loop *l, size_t i, struct ipk_timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void
heap_up(struct ipk_loop *l, size_t i)
{
	struct ipk_timer *t = l->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (l->heap[parent]->due_ns <= t->due_ns)
			break;
		heap_set(l, i, l->heap[parent]);
		i = parent;
	}
	heap_set(l, i, t);
}

static void
heap_down(struct ipk_loop *l, size_t i)
{
	struct ipk_timer *t = l->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= l->n_heap)
			break;
		if (c + 1 < l->n_heap &&
		    l->heap[c + 1]->due_ns < l->heap[c]->due_ns)
			c++;
		if (t->due_ns <= l->heap[c]->due_ns)
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

void
ipk_timer_stop(struct ipk_loop *l, struct ipk_timer *t)
{
	size_t i;
	struct ipk_timer *last;

	if (t->slot == 0)
		return;
	i = t->slot - 1;
	t->slot = 0;
	last = l->heap[--l->n_heap];
	if (i == l->n_heap)
		return;
	heap_set(l, i, last);
	heap_down(l, i);
	heap_up(l, last->slot - 1);
}

int
ipk_timer_start(struct ipk_loop *l, struct ipk_timer *t, long long after_ms)
{
	ipk_timer_stop(l, t);
	if (l->n_heap == l->cap_heap) {
		size_t cap = l->cap_heap ? l->cap_heap * 2 : 64;
		struct ipk_timer **h = realloc(l->heap, cap * sizeof(*h));

		if (h == NULL)
			return -ENOMEM;
		l->heap = h;
		l->cap_heap = cap;
	}
	if (after_ms < 0)
		after_ms = 0;
	t->due_ns = wait_now_ns() + after_ms * 1000000;
	heap_set(l, l->n_heap++, t);
	heap_up(l, l->n_heap - 1);
	return 0;
}

/* ---- signals ---- */

static void
loop_on_signal(struct ipk_loop *l, int fd, unsigned events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int s = (int)si.ssi_signo;

		if (s > 0 && s < LOOP_NSIG && l->sig[s].fn)
			l->sig[s].fn(l, s, l->sig[s].arg);
	}
}

int
ipk_loop_signal(struct ipk_loop *l, int signo, ipk_signal_fn *fn, void *arg)
{
	sigset_t one, old;
	int fd, err;

	if (signo <= 0 || signo >= LOOP_NSIG || fn == NULL)
		return -EINVAL;
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (pthread_sigmask(SIG_BLOCK, &one, &old) != 0)
		return -EINVAL;
	if (l->sigfd < 0)
		l->oldmask = old;
	sigaddset(&l->sigs, signo);
	fd = signalfd(l->sigfd, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sigfd < 0) {
		l->sigfd = fd;
		err = ipk_loop_watch(l, fd, IPK_READ, loop_on_signal, NULL);
		if (err)
			return err;
	}
	l->sig[signo].fn = fn;
	l->sig[signo].arg = arg;
	return 0;
}

/* ---- deferred work and the run loop ---- */

int
ipk_loop_defer(struct ipk_loop *l, ipk_defer_fn *fn, void *arg)
{
	if (l->n_defer == l->cap_defer) {
		size_t cap = l->cap_defer ? l->cap_defer * 2 : 32;
		struct loop_defer *d = realloc(l->defer, cap * sizeof(*d));

		if (d == NULL)
			return -ENOMEM;
		l->defer = d;
		l->cap_defer = cap;
	}
	l->defer[l->n_defer++] = (struct loop_defer){ fn, arg };
	return 0;
}

static void
loop_run_deferred(struct ipk_loop *l)
{
	/* Work deferred by deferred work runs in the same pass. */
	for (size_t i = 0; i < l->n_defer; i++)
		l->defer[i].fn(l, l->defer[i].arg);
	l->n_defer = 0;
}

static void
loop_run_timers(struct ipk_loop *l)
{
	long long now = wait_now_ns();

	while (l->n_heap > 0 && l->heap[0]->due_ns <= now) {
		struct ipk_timer *t = l->heap[0];

		ipk_timer_stop(l, t);
		t->fn(l, t->arg);
	}
}

static int
loop_timeout_ms(const struct ipk_loop *l)
{
	long long left;

	if (l->n_defer > 0)
		return 0;
	if (l->n_heap == 0)
		return -1;
	left = l->heap[0]->due_ns - wait_now_ns();
	if (left <= 0)
		return 0;
	left = (left + 999999) / 1000000;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

int
ipk_loop_run(struct ipk_loop *l)
{
	struct epoll_event ev[LOOP_EVENTS];

	l->stopping = 0;
	while (!l->stopping) {
		int n = epoll_wait(l->epfd, ev, LOOP_EVENTS,
		                   loop_timeout_ms(l));

		if (n < 0 && errno != EINTR)
			return -errno;
		loop_update_now(l);
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			struct loop_watch *w;
			unsigned e = 0;

			if ((size_t)fd >= l->n_watch)
				continue;
			w = &l->watch[fd];
			if (w->fn == NULL)
				continue; /* unwatched earlier this round */
			if (ev[i].events &
			    (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				e |= IPK_READ;
			if (ev[i].events & (EPOLLOUT | EPOLLERR))
				e |= IPK_WRITE;
			e &= w->events |
			     ((ev[i].events & (EPOLLHUP | EPOLLERR)) ? IPK_READ
			                                             : 0);
			if (e)
				w->fn(l, fd, e, w->arg);
		}
		loop_run_timers(l);
		loop_run_deferred(l);
	}
	return 0;
}

void
ipk_loop_stop(struct ipk_loop *l)
{
	l->stopping = 1;
}

long long
ipk_loop_now_ms(const struct ipk_loop *l)
{
	return l->now_ms;
}
