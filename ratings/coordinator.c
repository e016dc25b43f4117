// SPDX-License-Identifier: MIT
/* coordinator.c - the parent process of `ipckit ratings`.
 *
 * Inputs are checked before anything is shared or forked, so a missing
 * file costs no IPC object.  Regular files are split into byte ranges of
 * about equal size (one huge file too); streams (stdin, FIFOs) go whole to
 * one worker.  Each worker streams its sorted totals through two mailboxes
 * in the shared area; the coordinator merges them as they come.  It waits
 * with a timeout and a SIGCHLD handler, so a dead worker is noticed within
 * 100 ms, and it builds the output in memory: a failed run prints no
 * partial result.  The System V segment is removed as soon as it is
 * attached; the semaphore set is removed on every exit path we control
 * (SIGINT, SIGTERM and SIGHUP included). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "coordinator.h"
#include "merge.h"
#include "opts.h"
#include "parse.h"
#include "worker.h"
#include "xalloc.h"

/* Bytes of input per worker below which fewer workers are started when
 * -j is not given: a fork costs more than parsing a small file. */
#define COORD_MIN_BYTES_PER_WORKER (4u << 20)
/* How long a wait lasts before the coordinator looks at its children,
 * signals and the progress bar again. */
#define COORD_TICK_MS              100
/* Malformed lines printed before "... and N more". */
#define COORD_REPORTS_MAX          20
/* The progress bar appears only for runs longer than this. */
#define COORD_PROGRESS_AFTER_MS    250

static volatile sig_atomic_t coord_signal;

static void
coord_on_signal(int sig)
{
	coord_signal = sig;
}

static void
coord_on_child(int sig)
{
	(void)sig; /* only to interrupt a wait */
}

struct coord {
	const struct ratings_opts *o;
	struct worker_input *inputs; /* owned, o->nfiles */
	struct worker_range *plan;   /* owned, before the area exists */
	unsigned nranges, nworkers;
	uint64_t total; /* bytes of regular input */
	struct area area;
	struct worker_shared *sh; /* in area */
	pid_t *pids;              /* owned; 0 once reaped */
	unsigned *box;            /* owned: the box each worker fills next */
	bool *last;               /* owned: its last box was taken */
	bool failed;              /* an error was printed */
	struct timespec t0;
	bool progress_shown;
	int64_t progress_next_ms;
	struct sigaction old[4];
};

static const int coord_signals[4] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD };

static int64_t
coord_ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void coord_error(struct coord *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
coord_error(struct coord *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (c->progress_shown) {
		fputs("\r\033[K", stderr);
		c->progress_shown = false;
	}
	n = snprintf(line, sizeof(line), "ipckit ratings: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
	c->failed = true;
}

static void
coord_signals_install(struct coord *c)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must interrupt waits and waitpid. */
	for (int i = 0; i < 4; i++) {
		sa.sa_handler = coord_signals[i] == SIGCHLD ? coord_on_child
		                                            : coord_on_signal;
		sigaction(coord_signals[i], &sa, &c->old[i]);
	}
}

static void
coord_signals_restore(struct coord *c)
{
	for (int i = 0; i < 4; i++)
		sigaction(coord_signals[i], &c->old[i], NULL);
}

/* Open and check every input; regular files get their format now. */
static int
coord_inputs(struct coord *c)
{
	const struct ratings_opts *o = c->o;
	bool have_stdin = false;

	c->inputs = xcalloc(o->nfiles, sizeof(*c->inputs));
	for (unsigned i = 0; i < o->nfiles; i++) {
		struct worker_input *in = &c->inputs[i];
		const char *name = o->files[i];
		struct stat st;
		char head[65536];
		struct parse_format f;
		ssize_t n;
		int rc;

		in->name = name;
		in->fd = -1;
		if (strcmp(name, "-") == 0) {
			if (have_stdin) {
				coord_error(c, "stdin (-) given twice");
				return -1;
			}
			have_stdin = true;
			in->name = "stdin";
			in->fd = STDIN_FILENO;
			if (fstat(STDIN_FILENO, &st) == -1) {
				coord_error(c, "stdin: %s", strerror(errno));
				return -1;
			}
			/* A file read from its start can be split; a pipe, or
			 * a file someone has read part of, is read on. */
			if (!S_ISREG(st.st_mode) ||
			    lseek(STDIN_FILENO, 0, SEEK_CUR) != 0) {
				in->stream = true;
				continue;
			}
		} else {
			if (stat(name, &st) == -1) {
				coord_error(c, "%s: %s", name, strerror(errno));
				return -1;
			}
			if (S_ISDIR(st.st_mode)) {
				coord_error(c,
				            "%s: is a directory, not a file "
				            "of ratings",
				            name);
				return -1;
			}
			if (!S_ISREG(st.st_mode)) {
				/* A FIFO or device: its worker opens it, since
				 * opening a FIFO waits for a writer. */
				in->stream = true;
				continue;
			}
			in->fd = open(name, O_RDONLY | O_CLOEXEC);
			if (in->fd == -1 || fstat(in->fd, &st) == -1) {
				coord_error(c, "%s: %s", name, strerror(errno));
				return -1;
			}
		}
		in->size = (uint64_t)st.st_size;
		if (in->size == 0) {
			coord_error(c, "%s: empty file: no ratings to read",
			            in->name);
			return -1;
		}
		do
			n = pread(in->fd, head, sizeof(head), 0);
		while (n == -1 && errno == EINTR);
		if (n < 0) {
			coord_error(c, "%s: %s", in->name, strerror(errno));
			return -1;
		}
		rc = parse_detect(head, (size_t)n, (uint64_t)n >= in->size, &f);
		if (rc == -EAGAIN) {
			coord_error(c,
			            "%s: not ratings: no line ends in the "
			            "first 64 KiB",
			            in->name);
			return -1;
		}
		if (rc) {
			coord_error(c,
			            "%s: not ratings: no tab or comma in "
			            "the first line (expected u.data or "
			            "ratings.csv lines)",
			            in->name);
			return -1;
		}
		in->sep = f.sep;
		in->header = f.header;
		in->data_off = f.data_off;
		c->total += in->size;
	}
	return 0;
}

static unsigned
coord_cores(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* Cut regular files into one span of total/N bytes per worker; a span
 * may cover the end of one file and the start of the next. */
static void
coord_plan(struct coord *c)
{
	const struct ratings_opts *o = c->o;
	unsigned n = o->jobs, cap, streams = 0;
	uint64_t g = 0;

	if (n == 0) {
		uint64_t by_size = c->total / COORD_MIN_BYTES_PER_WORKER + 1;

		n = coord_cores();
		if (by_size < n)
			n = (unsigned)by_size;
	}
	if (n > RATINGS_JOBS_MAX)
		n = RATINGS_JOBS_MAX;
	c->nworkers = n;
	cap = o->nfiles * (n + 1);
	c->plan = xcalloc(cap, sizeof(*c->plan));
	for (unsigned i = 0; i < o->nfiles; i++) {
		const struct worker_input *in = &c->inputs[i];

		if (in->stream) {
			struct worker_range *r = &c->plan[c->nranges++];

			r->input = i;
			r->worker = (n - 1 - streams++ % n);
			r->start = 0;
			r->end = UINT64_MAX;
			continue;
		}
		for (unsigned w = 0; w < n; w++) {
			/* Worker w's span of the concatenated files. */
			uint64_t s =
			        (uint64_t)((unsigned __int128)c->total * w / n);
			uint64_t e = (uint64_t)((unsigned __int128)c->total *
			                        (w + 1) / n);
			uint64_t lo = s > g ? s : g;
			uint64_t hi = e < g + in->size ? e : g + in->size;
			struct worker_range *r;

			if (lo >= hi)
				continue;
			r = &c->plan[c->nranges++];
			r->input = i;
			r->worker = w;
			r->start = lo - g;
			r->end = hi - g;
		}
		g += in->size;
	}
}

static size_t
coord_align(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

static void
coord_fault_hook(struct worker_shared *sh)
{
	/* Tests only: IPCKIT_RATINGS_FAULT=W:B makes worker W die of
	 * SIGKILL after sending B boxes (0: before reading anything). */
	const char *s = getenv("IPCKIT_RATINGS_FAULT");
	int w, b;

	sh->fault_worker = -1;
	sh->fault_after_boxes = -1;
	if (s && sscanf(s, "%d:%d", &w, &b) == 2) {
		sh->fault_worker = w;
		sh->fault_after_boxes = b;
	}
}

static int
coord_share(struct coord *c)
{
	size_t off_ranges = coord_align(sizeof(struct worker_shared));
	size_t off_slots =
	        off_ranges +
	        coord_align(c->nranges * sizeof(struct worker_range));
	size_t size = off_slots + c->nworkers * sizeof(struct worker_slot);
	const char *why;
	int rc;

	rc = area_open(&c->area, c->o->via, size, 2 * c->nworkers, &why);
	if (rc) {
		coord_error(c, "%s: %s", why, strerror(-rc));
		return -1;
	}
	c->sh = c->area.base;
	c->sh->nworkers = c->nworkers;
	c->sh->nranges = c->nranges;
	atomic_init(&c->sh->strict_stop, UINT32_MAX);
	c->sh->ranges = (struct worker_range *)(void *)((char *)c->area.base +
	                                                off_ranges);
	c->sh->slots = (struct worker_slot *)(void *)((char *)c->area.base +
	                                              off_slots);
	memcpy(c->sh->ranges, c->plan, c->nranges * sizeof(*c->plan));
	coord_fault_hook(c->sh);
	for (unsigned w = 0; w < c->nworkers; w++) {
		/* Both mailboxes start empty. */
		if (area_post(&c->area, WORKER_SEM_EMPTY(w)) ||
		    area_post(&c->area, WORKER_SEM_EMPTY(w))) {
			coord_error(c, "semaphore: %s", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void
coord_child(struct coord *c, unsigned w, pid_t parent)
{
	struct worker_job job = {
		.area = &c->area,
		.sh = c->sh,
		.inputs = c->inputs,
		.index = w,
		.by_user = c->o->by_user,
		.strict = c->o->strict,
	};
	struct sigaction sa;

	/* Ctrl-C reaches the whole process group: the coordinator alone
	 * decides, and ends the workers itself. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	/* A coordinator killed outright takes its workers with it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	_exit(worker_main(&job));
}

static int
coord_fork(struct coord *c)
{
	pid_t self = getpid();

	c->pids = xcalloc(c->nworkers, sizeof(*c->pids));
	c->box = xcalloc(c->nworkers, sizeof(*c->box));
	c->last = xcalloc(c->nworkers, sizeof(*c->last));
	fflush(NULL);
	for (unsigned w = 0; w < c->nworkers; w++) {
		pid_t pid = fork();

		if (pid == -1) {
			coord_error(c, "fork: %s", strerror(errno));
			return -1;
		}
		if (pid == 0)
			coord_child(c, w, self);
		c->pids[w] = pid;
	}
	return 0;
}

static void
coord_kill_all(struct coord *c)
{
	for (unsigned w = 0; c->pids && w < c->nworkers; w++)
		if (c->pids[w] > 0)
			kill(c->pids[w], SIGKILL);
	for (unsigned w = 0; c->pids && w < c->nworkers; w++)
		if (c->pids[w] > 0) {
			while (waitpid(c->pids[w], NULL, 0) == -1 &&
			       errno == EINTR)
				;
			c->pids[w] = 0;
		}
}

/* Reap what has ended; a worker that died by a signal or with a status
 * other than 0 (done) or 1 (done, with an error in its slot) fails the
 * run.  Returns -1 after printing why. */
static int
coord_reap(struct coord *c, bool block)
{
	for (unsigned w = 0; w < c->nworkers; w++) {
		int st;
		pid_t r;

		if (c->pids[w] <= 0)
			continue;
		do
			r = waitpid(c->pids[w], &st, block ? 0 : WNOHANG);
		while (r == -1 && errno == EINTR && !coord_signal);
		if (r <= 0)
			continue;
		c->pids[w] = 0;
		if (WIFSIGNALED(st)) {
			coord_error(c,
			            "worker %u (pid %ld) was killed by "
			            "signal %d (%s); no results written",
			            w, (long)r, WTERMSIG(st),
			            strsignal(WTERMSIG(st)));
			return -1;
		}
		if (WEXITSTATUS(st) > 1) {
			coord_error(c,
			            "worker %u (pid %ld) failed with status "
			            "%d; no results written",
			            w, (long)r, WEXITSTATUS(st));
			return -1;
		}
	}
	return 0;
}

static void
coord_progress(struct coord *c, bool force_clear)
{
	int64_t ms;
	uint64_t done = 0;
	char line[128];
	int n;

	if (c->o->progress < 0 || (c->o->progress == 0 && !isatty(2)))
		return;
	if (force_clear) {
		if (c->progress_shown)
			fputs("\r\033[K", stderr);
		c->progress_shown = false;
		return;
	}
	ms = coord_ms_since(&c->t0);
	if (ms < COORD_PROGRESS_AFTER_MS || ms < c->progress_next_ms)
		return;
	c->progress_next_ms = ms + COORD_TICK_MS;
	for (unsigned w = 0; w < c->nworkers; w++)
		done += atomic_load_explicit(&c->sh->slots[w].bytes_done,
		                             memory_order_relaxed);
	if (c->total > 0) {
		unsigned pct =
		        (unsigned)(done >= c->total ? 100
		                                    : done * 100 / c->total);
		char bar[31];

		memset(bar, ' ', 30);
		memset(bar, '#', pct * 30 / 100);
		bar[30] = '\0';
		n = snprintf(line, sizeof(line),
		             "\rratings [%s] %3u%% %llu/%llu MB", bar, pct,
		             (unsigned long long)(done >> 20),
		             (unsigned long long)(c->total >> 20));
	} else {
		n = snprintf(line, sizeof(line), "\rratings: %llu MB read",
		             (unsigned long long)(done >> 20));
	}
	if (n > 0) {
		fputs(line, stderr);
		fflush(stderr);
		c->progress_shown = true;
	}
}

/* The merge's refill: worker w's next mailbox, watching for trouble. */
static int
coord_refill(void *arg, unsigned w, struct merge_src *s)
{
	struct coord *c = arg;
	struct worker_slot *slot = &c->sh->slots[w];
	int rc;

	if (c->last[w])
		return 0;
	if (s->recs) /* the previous box is consumed: give it back */
		if (area_post(&c->area, WORKER_SEM_EMPTY(w)))
			return -errno;
	for (;;) {
		if (coord_signal)
			return -EINTR;
		rc = area_wait(&c->area, WORKER_SEM_FULL(w), COORD_TICK_MS);
		if (rc == 0)
			break;
		if (rc != -ETIMEDOUT && rc != -EINTR) {
			coord_error(c, "semaphore wait: %s", strerror(-rc));
			return rc;
		}
		if (coord_reap(c, false))
			return -ECHILD;
		if (c->pids[w] == 0) {
			/* It has ended: whatever it posted is there now. */
			if (area_wait(&c->area, WORKER_SEM_FULL(w), 0) == 0)
				break;
			coord_error(c,
			            "worker %u ended without sending its "
			            "results; no results written",
			            w);
			return -ECHILD;
		}
		coord_progress(c, false);
	}
	s->recs = slot->box[c->box[w]].recs;
	s->n = slot->box[c->box[w]].n;
	c->last[w] = slot->box[c->box[w]].last != 0;
	c->box[w] ^= 1;
	return 1;
}

/* A report's line number in its file: lines of earlier ranges of the
 * same input, plus its place in its range. */
static uint64_t
coord_line(const struct coord *c, const struct worker_report *r)
{
	uint64_t line = r->line;
	uint32_t input = c->sh->ranges[r->range].input;

	for (uint32_t i = 0; i < r->range; i++)
		if (c->sh->ranges[i].input == input)
			line += c->sh->ranges[i].lines;
	return line;
}

struct coord_report {
	const struct worker_report *r;
	uint64_t line;
};

static int
coord_report_cmp(const void *a, const void *b)
{
	const struct coord_report *x = a, *y = b;

	if (x->r->range != y->r->range)
		return x->r->range < y->r->range ? -1 : 1;
	return (x->line > y->line) - (x->line < y->line);
}

/* Print malformed lines in input order; returns how many there were. */
static uint64_t
coord_reports(struct coord *c, unsigned max)
{
	struct coord_report *all;
	size_t n = 0;
	uint64_t bad = 0;

	all = xcalloc(c->nworkers * WORKER_REPORTS + 1, sizeof(*all));
	for (unsigned w = 0; w < c->nworkers; w++) {
		const struct worker_slot *s = &c->sh->slots[w];

		bad += s->bad;
		for (uint32_t i = 0; i < s->nreports; i++) {
			all[n].r = &s->reports[i];
			all[n].line = coord_line(c, &s->reports[i]);
			n++;
		}
	}
	qsort(all, n, sizeof(*all), coord_report_cmp);
	for (size_t i = 0; i < n && i < max; i++) {
		const struct worker_report *r = all[i].r;
		const char *name =
		        c->inputs[c->sh->ranges[r->range].input].name;
		char ex[WORKER_EXCERPT * 4 + 1];
		size_t k = 0;

		/* The excerpt, with control bytes shown as \xNN. */
		for (uint32_t j = 0; j < r->len; j++) {
			unsigned char ch = (unsigned char)r->excerpt[j];

			if (ch < 0x20 || ch == 0x7f)
				k += (size_t)snprintf(
				        ex + k, sizeof(ex) - k,
				        ch == '\t' ? "\\t" : "\\x%02x", ch);
			else
				ex[k++] = (char)ch;
		}
		ex[k] = '\0';
		fprintf(stderr, "ipckit ratings: %s:%llu: %s: \"%s%s\"\n", name,
		        (unsigned long long)all[i].line,
		        parse_strerror(r->code), ex,
		        r->len == WORKER_EXCERPT ? "..." : "");
	}
	if (bad > max && max > 1)
		fprintf(stderr,
		        "ipckit ratings: ... and %llu more malformed "
		        "lines\n",
		        (unsigned long long)(bad - (n < max ? n : max)));
	free(all);
	return bad;
}

static int
coord_worker_failures(struct coord *c)
{
	for (unsigned w = 0; w < c->nworkers; w++) {
		const struct worker_slot *s = &c->sh->slots[w];
		const char *name = c->inputs[s->fail_input].name;

		switch (s->fail) {
		case WORKER_OK:
			break;
		case WORKER_EREAD:
			coord_error(c, "%s: %s", name, strerror(s->err));
			return -1;
		case WORKER_EEMPTY:
			coord_error(c, "%s: empty input: no ratings to read",
			            name);
			return -1;
		default:
			coord_error(c,
			            "%s: not ratings: no tab or comma in "
			            "the first line (expected u.data or "
			            "ratings.csv lines)",
			            name);
			return -1;
		}
	}
	return 0;
}

static int
coord_write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write the result to an output that is not a regular file: a device or
 * a FIFO (-o /dev/null, -o /dev/stdout) is written in place; renaming a
 * file over it would replace the node itself, /dev/null for root. */
static int
coord_output_in_place(struct coord *c, const char *path,
                      const struct merge_sink *sink)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), rc;

	if (fd == -1) {
		coord_error(c, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = coord_write_all(fd, sink->out, sink->len);
	if (close(fd) == -1 && rc == 0 && errno != EINTR)
		rc = -errno;
	if (rc) {
		coord_error(c, "%s: %s", path, strerror(-rc));
		return -1;
	}
	return 0;
}

/* Write the result to stdout, or to a temporary file renamed over the
 * output, so that no reader ever sees half a result. */
static int
coord_output(struct coord *c, const struct merge_sink *sink)
{
	const char *path = c->o->output;
	struct stat st;
	char *tmp;
	mode_t mask;
	int fd, rc;

	if (path == NULL || strcmp(path, "-") == 0) {
		rc = coord_write_all(STDOUT_FILENO, sink->out, sink->len);
		if (rc) {
			coord_error(c, "stdout: %s", strerror(-rc));
			return -1;
		}
		return 0;
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return coord_output_in_place(c, path, sink);
	tmp = xasprintf("%s.tmp-XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd == -1) {
		coord_error(c, "%s: %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	mask = umask(0);
	umask(mask);
	rc = coord_write_all(fd, sink->out, sink->len);
	if (rc == 0 && fchmod(fd, 0666 & ~mask) == -1)
		rc = -errno;
	if (close(fd) == -1 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) == -1)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		coord_error(c, "%s: %s", path, strerror(-rc));
	}
	free(tmp);
	return rc ? -1 : 0;
}

static void
coord_fini(struct coord *c)
{
	coord_kill_all(c);
	area_close(&c->area);
	for (unsigned i = 0; c->inputs && i < c->o->nfiles; i++)
		if (c->inputs[i].fd > STDIN_FILENO)
			close(c->inputs[i].fd);
	free(c->inputs);
	free(c->plan);
	free(c->pids);
	free(c->box);
	free(c->last);
	coord_signals_restore(c);
}

int
ratings_run(const struct ratings_opts *o)
{
	struct coord c = { .o = o };
	struct merge_sink sink;
	uint64_t bad = 0;
	int rc, code = EXIT_FAIL, sig;

	clock_gettime(CLOCK_MONOTONIC, &c.t0);
	coord_signal = 0;
	coord_signals_install(&c);
	merge_sink_init(&sink, o->json, o->top, o->min_count);
	if (coord_inputs(&c))
		goto out;
	coord_plan(&c);
	if (coord_share(&c) || coord_fork(&c))
		goto out;
	rc = merge_run(c.nworkers, coord_refill, &c, &sink);
	coord_progress(&c, true);
	if (rc)
		goto out;
	if (coord_reap(&c, true) || coord_signal)
		goto out;
	if (coord_worker_failures(&c))
		goto out;
	if (o->strict && atomic_load(&c.sh->strict_stop) != UINT32_MAX) {
		coord_reports(&c, 1);
		coord_error(&c, "stopped at the first malformed line "
		                "(--strict); no results written");
		goto out;
	}
	bad = coord_reports(&c, COORD_REPORTS_MAX);
	/* Everything needed is out of the shared area: release it before
	 * writing, which may block on a slow reader. */
	coord_kill_all(&c);
	area_close(&c.area);
	merge_sink_finish(&sink);
	if (coord_output(&c, &sink))
		goto out;
	if (bad) {
		fprintf(stderr,
		        "ipckit ratings: %llu malformed line%s "
		        "skipped, %llu ratings used\n",
		        (unsigned long long)bad, bad == 1 ? "" : "s",
		        (unsigned long long)sink.ratings);
		code = o->lenient ? EXIT_OK : EXIT_FAIL;
	} else {
		code = EXIT_OK;
	}
out:
	coord_progress(&c, true);
	sig = coord_signal;
	coord_fini(&c);
	merge_sink_fini(&sink);
	if (sig) {
		/* Die of the same signal, as a shell expects of Ctrl-C. */
		signal(sig, SIG_DFL);
		raise(sig);
	}
	return code;
}
