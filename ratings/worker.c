// SPDX-License-Identifier: MIT
/* worker.c - one worker process: reads its byte ranges through a buffer
 * that stays in the L2 cache, parses whole lines into a private table,
 * then streams the table in id order through its two mailboxes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse.h"
#include "worker.h"
#include "xalloc.h"

/* Bytes read per system call: small enough that the buffer and the table's
 * hot part share the L2 cache. */
#define WORKER_BUF (256u * 1024u)

struct worker {
	const struct worker_job *job;
	struct worker_slot *slot;
	struct table table;
	char *mem;  /* owned: PARSE_PAD_BEFORE + WORKER_BUF + 1 + pad */
	char *data; /* mem + PARSE_PAD_BEFORE */
	uint32_t range;
	uint64_t done; /* bytes consumed, for the progress counter */
};

static void
worker_bad_cb(void *arg, uint64_t line, int code, const char *p, size_t len)
{
	struct worker *w = arg;
	struct worker_report *r;

	if (w->slot->nreports >= WORKER_REPORTS)
		return;
	r = &w->slot->reports[w->slot->nreports++];
	r->range = w->range;
	r->code = code;
	r->line = line;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	r->len = (uint32_t)(len < WORKER_EXCERPT ? len : WORKER_EXCERPT);
	memcpy(r->excerpt, p, r->len);
}

static void
worker_fail(struct worker *w, enum worker_fail fail, int err, uint32_t input)
{
	if (w->slot->fail != WORKER_OK)
		return;
	w->slot->fail = fail;
	w->slot->err = err;
	w->slot->fail_input = input;
}

/* Read up to n bytes: pread for files (at *off), read for streams. */
static ssize_t
worker_read(int fd, bool stream, char *buf, size_t n, uint64_t off)
{
	ssize_t r;

	do
		r = stream ? read(fd, buf, n) : pread(fd, buf, n, (off_t)off);
	while (r == -1 && errno == EINTR);
	return r;
}

/* --strict: stop when a range before ours already failed. */
static bool
worker_should_stop(const struct worker *w)
{
	return w->job->strict &&
	       atomic_load_explicit(&w->job->sh->strict_stop,
	                            memory_order_relaxed) < w->range;
}

static void
worker_strict_failed(struct worker *w)
{
	_Atomic uint32_t *stop = &w->job->sh->strict_stop;
	uint32_t cur = atomic_load(stop);

	while (w->range < cur &&
	       !atomic_compare_exchange_weak(stop, &cur, w->range))
		;
}

/*
 * Parse one range.  data[0..carry) always begins at a line start (file
 * offset `base`); a line is ours when it begins before r->end.  Returns
 * false to stop the worker (error or --strict).
 */
static bool
worker_range(struct worker *w, uint32_t ri)
{
	struct worker_range *r = &w->job->sh->ranges[ri];
	const struct worker_input *in = &w->job->inputs[r->input];
	struct parse_ctx c = {
		.sep = in->sep,
		.by_user = w->job->by_user,
		.table = &w->table,
		.bad_cb = worker_bad_cb,
		.bad_arg = w,
		.stop_on_bad = w->job->strict,
	};
	int fd = in->fd;
	bool opened = false;
	uint64_t base = r->start, off = r->start;
	size_t carry = 0;
	bool eof = false, skipping = false, detected = !in->stream;
	char *data = w->data;

	w->range = ri;
	if (in->stream && fd == -1) {
		do
			fd = open(in->name, O_RDONLY | O_CLOEXEC);
		while (fd == -1 && errno == EINTR);
		if (fd == -1) {
			worker_fail(w, WORKER_EREAD, errno, r->input);
			return false;
		}
		opened = true;
	}
	if (!in->stream && r->start == 0) {
		base = off = in->data_off;
		c.lines = in->header ? 1 : 0;
	} else if (!in->stream) {
		/* Our first line is the one after the '\n' at or after
		 * start - 1: the previous range takes the line that crosses. */
		skipping = true;
		base = off = r->start - 1;
	}
	for (;;) {
		size_t avail, lim = 0;
		ssize_t n;
		bool stop = false;

		if (worker_should_stop(w))
			break;
		if (!skipping && carry == 0 && base >= r->end)
			break;
		n = worker_read(fd, in->stream, data + carry,
		                WORKER_BUF - carry, off);
		if (n < 0) {
			worker_fail(w, WORKER_EREAD, errno, r->input);
			goto fail;
		}
		off += (uint64_t)n;
		eof = n == 0;
		avail = carry + (size_t)n;
		if (!detected) {
			struct parse_format f;
			int rc = parse_detect(data, avail, eof, &f);

			if (rc == -EAGAIN && avail < WORKER_BUF) {
				carry = avail;
				continue;
			}
			if (avail == 0) {
				worker_fail(w, WORKER_EEMPTY, 0, r->input);
				goto fail;
			}
			if (rc != 0) {
				worker_fail(w, WORKER_EFORMAT, 0, r->input);
				goto fail;
			}
			detected = true;
			c.sep = f.sep;
			c.lines = f.header ? 1 : 0;
			memmove(data, data + f.data_off, avail - f.data_off);
			avail -= f.data_off;
			base += f.data_off;
		}
		if (skipping) {
			char *nl = memchr(data, '\n', avail);

			if (nl == NULL) {
				if (eof)
					break;
				base += avail;
				carry = 0;
				continue;
			}
			lim = (size_t)(nl + 1 - data);
			skipping = false;
			/* A too-long line skipped mid-range is done with;
			 * the partial line before our start is not ours. */
			memmove(data, data + lim, avail - lim);
			avail -= lim;
			base += lim;
			if (base >= r->end)
				break;
			lim = 0;
		}
		if (avail == 0 && eof)
			break;
		if (r->end != UINT64_MAX && base + avail >= r->end) {
			size_t from = (size_t)(r->end - 1 - base);
			char *nl = memchr(data + from, '\n', avail - from);

			if (nl) {
				lim = (size_t)(nl + 1 - data);
				stop = true;
			}
		}
		if (!stop) {
			if (eof) {
				/* A missing final newline: supply it. */
				if (data[avail - 1] != '\n')
					data[avail++] = '\n';
				lim = avail;
				stop = true;
			} else {
				char *nl = memrchr(data, '\n', avail);

				lim = nl ? (size_t)(nl + 1 - data) : 0;
			}
		}
		if (lim > 0) {
			const char *end = parse_block(&c, data, data + lim);

			if (c.stop_on_bad && c.bad) {
				w->done += (size_t)(end - data);
				break;
			}
		}
		w->done += lim;
		atomic_store_explicit(&w->slot->bytes_done, w->done,
		                      memory_order_relaxed);
		carry = avail - lim;
		memmove(data, data + lim, carry);
		base += lim;
		if (stop)
			break;
		if (carry == WORKER_BUF) {
			/* A line longer than the buffer: report, then drop
			 * bytes up to its end. */
			c.lines++;
			c.bad++;
			worker_bad_cb(w, c.lines, PARSE_ELONG, data,
			              WORKER_EXCERPT);
			if (c.stop_on_bad)
				break;
			base += carry;
			carry = 0;
			skipping = true;
		}
	}
	r->lines = c.lines;
	w->slot->bad += c.bad;
	if (c.stop_on_bad && c.bad) {
		worker_strict_failed(w);
		if (opened)
			close(fd);
		return false;
	}
	if (opened)
		close(fd);
	return true;
fail:
	if (opened)
		close(fd);
	return false;
}

/* Stream the sealed table through the two mailboxes, in id order. */
static int
worker_send(struct worker *w)
{
	const struct worker_job *job = w->job;
	uint64_t cursor = 0;
	unsigned b = 0;
	int boxes = 0, more = 1;

	table_seal(&w->table);
	while (more) {
		struct worker_box *box = &w->slot->box[b];
		int rc;

		do
			rc = area_wait(job->area, WORKER_SEM_EMPTY(job->index),
			               -1);
		while (rc == -EINTR);
		if (rc)
			return rc;
		box->n = 0;
		while (box->n < WORKER_BOX_RECS &&
		       (more = table_next(&w->table, &cursor,
		                          &box->recs[box->n])))
			box->n++;
		box->last = !more;
		rc = area_post(job->area, WORKER_SEM_FULL(job->index));
		if (rc)
			return rc;
		if (++boxes == job->sh->fault_after_boxes &&
		    (int)job->index == job->sh->fault_worker)
			raise(SIGKILL);
		b ^= 1;
	}
	return 0;
}

int
worker_main(const struct worker_job *job)
{
	struct worker w = { .job = job, .slot = &job->sh->slots[job->index] };
	bool ok = true;
	int rc;

	table_init(&w.table);
	w.mem = xmalloc(PARSE_PAD_BEFORE + WORKER_BUF + 1 + PARSE_PAD_AFTER);
	memset(w.mem, 0, PARSE_PAD_BEFORE);
	w.data = w.mem + PARSE_PAD_BEFORE;
	if (job->sh->fault_after_boxes == 0 &&
	    (int)job->index == job->sh->fault_worker)
		raise(SIGKILL);
	for (uint32_t i = 0; ok && i < job->sh->nranges; i++)
		if (job->sh->ranges[i].worker == job->index)
			ok = worker_range(&w, i);
	rc = worker_send(&w);
	free(w.mem);
	table_fini(&w.table);
	if (rc)
		return 1;
	return w.slot->fail == WORKER_OK ? 0 : 1;
}
