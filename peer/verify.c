// SPDX-License-Identifier: MIT
/* verify.c - threads (one per core) hashing written blocks; jobs in, verdicts
 * out, both lists under one mutex, the loop woken by an eventfd. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dlfile.h"
#include "ipckit.h"
#include "verify.h"
#include "xalloc.h"

#define VERIFY_MAX_THREADS 4

struct verifier {
	pthread_t threads[VERIFY_MAX_THREADS];
	int n_threads; /* started */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct verify_job *todo, **todo_tail; /* guarded by mu */
	struct verify_job *done, **done_tail; /* guarded by mu */
	bool stopping;                        /* guarded by mu */
	int efd;
	struct ipk_loop *loop;
	verify_done_fn *fn;
	void *arg;
};

static void *
verifier_main(void *arg)
{
	struct verifier *v = arg;
	uint64_t one = 1;
	uint8_t *buf = xmalloc(DLFILE_HASH_BUF);

	for (;;) {
		struct verify_job *j;
		uint8_t got[TIGER_BYTES];
		bool wake;

		pthread_mutex_lock(&v->mu);
		while (!v->stopping && v->todo == NULL)
			pthread_cond_wait(&v->cv, &v->mu);
		if (v->stopping) {
			pthread_mutex_unlock(&v->mu);
			free(buf);
			return NULL;
		}
		j = v->todo;
		v->todo = j->next;
		if (v->todo == NULL)
			v->todo_tail = &v->todo;
		pthread_mutex_unlock(&v->mu);

		j->ok = dlfile_hash_block(j->fd, j->off, j->len, j->block_size,
		                          buf, DLFILE_HASH_BUF, got) == 0 &&
		        memcmp(got, j->leaf, TIGER_BYTES) == 0;

		/* The loop is woken when the done list stops being empty: it
		 * takes the whole list after reading the eventfd, so a job
		 * added to a non-empty list is in the batch a wakeup is
		 * already on its way for (one wakeup per batch, not per
		 * block). */
		pthread_mutex_lock(&v->mu);
		wake = v->done == NULL;
		j->next = NULL;
		*v->done_tail = j;
		v->done_tail = &j->next;
		pthread_mutex_unlock(&v->mu);
		if (wake)
			(void)!write(v->efd, &one, sizeof(one));
	}
}

static void
verifier_on_event(struct ipk_loop *loop, int fd, unsigned events, void *arg)
{
	struct verifier *v = arg;
	struct verify_job *list, *next;
	uint64_t n;

	(void)loop;
	(void)events;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&v->mu);
	list = v->done;
	v->done = NULL;
	v->done_tail = &v->done;
	pthread_mutex_unlock(&v->mu);
	for (; list; list = next) {
		next = list->next;
		v->fn(v->arg, list);
		free(list);
	}
}

static void
verify_free_list(struct verify_job *j)
{
	while (j) {
		struct verify_job *next = j->next;

		free(j);
		j = next;
	}
}

void
verifier_stop(struct verifier *v)
{
	if (v == NULL)
		return;
	if (v->n_threads > 0) {
		pthread_mutex_lock(&v->mu);
		v->stopping = true;
		pthread_cond_broadcast(&v->cv);
		pthread_mutex_unlock(&v->mu);
		for (int i = 0; i < v->n_threads; i++)
			pthread_join(v->threads[i], NULL);
		ipk_loop_unwatch(v->loop, v->efd);
	}
	verify_free_list(v->todo);
	verify_free_list(v->done);
	if (v->efd >= 0)
		close(v->efd);
	pthread_mutex_destroy(&v->mu);
	pthread_cond_destroy(&v->cv);
	free(v);
}

int
verifier_start(struct verifier **vp, struct ipk_loop *loop, verify_done_fn *fn,
               void *arg)
{
	struct verifier *v = xcalloc(1, sizeof(*v));
	int err;

	*vp = NULL;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	v->todo_tail = &v->todo;
	v->done_tail = &v->done;
	v->loop = loop;
	v->fn = fn;
	v->arg = arg;
	v->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (v->efd < 0) {
		err = -errno;
		goto fail;
	}
	err = ipk_loop_watch(loop, v->efd, IPK_READ, verifier_on_event, v);
	if (err)
		goto fail;
	{
		/* Signals are for the loop's signalfd: the thread starts
		 * with all of them blocked, so none is delivered to it. */
		sigset_t all, old;

		/* Blocks are independent: one thread per core hashes them
		 * in parallel. */
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		int n = cpus < 1                    ? 1
		        : cpus > VERIFY_MAX_THREADS ? VERIFY_MAX_THREADS
		                                    : (int)cpus;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		for (err = 0; v->n_threads < n && err == 0; v->n_threads++) {
			err = -pthread_create(&v->threads[v->n_threads], NULL,
			                      verifier_main, v);
			if (err)
				break;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (err && v->n_threads == 0) {
		ipk_loop_unwatch(loop, v->efd);
		goto fail;
	}
	err = 0;
	*vp = v;
	return 0;
fail:
	verifier_stop(v);
	return err;
}

void
verifier_submit(struct verifier *v, struct verify_job *job)
{
	pthread_mutex_lock(&v->mu);
	job->next = NULL;
	*v->todo_tail = job;
	v->todo_tail = &job->next;
	pthread_cond_signal(&v->cv);
	pthread_mutex_unlock(&v->mu);
}
