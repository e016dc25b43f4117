// SPDX-License-Identifier: MIT
/* worker.h - what a worker process does, and the layout of the area it
 * shares with the coordinator: the plan (ranges of input), per-worker
 * progress, statistics and malformed-line reports, and two mailboxes per
 * worker through which its sorted totals stream to the coordinator. */
#ifndef RATINGS_WORKER_H
#define RATINGS_WORKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "area.h"
#include "table.h"

/* Records per mailbox (24 B each), two mailboxes per worker. */
#define WORKER_BOX_RECS 4096
/* Malformed lines each worker keeps for the report. */
#define WORKER_REPORTS  32
#define WORKER_EXCERPT  60

/* One input: a file, or a stream (stdin or a FIFO) read once. */
struct worker_input {
	const char *name; /* as the user gave it ("-" for stdin); borrowed */
	int fd;        /* regular files: opened by the coordinator; else -1 */
	bool stream;   /* read sequentially by one worker */
	uint64_t size; /* regular files */
	char sep;      /* regular files: from parse_detect() */
	bool header;
	uint64_t data_off;
};

/* A byte range of one input; lines that begin in [start, end) are its
 * own.  Written by the coordinator before fork(); lines by the worker. */
struct worker_range {
	uint32_t input;
	uint32_t worker;
	uint64_t start, end; /* end is UINT64_MAX for a stream */
	uint64_t lines;      /* worker: lines begun in the range (a header
	                        line included) */
};

struct worker_report {
	uint32_t range;
	int32_t code;  /* enum parse_err */
	uint64_t line; /* within its range, 1-based */
	uint32_t len;  /* of excerpt */
	char excerpt[WORKER_EXCERPT];
};

struct worker_box {
	uint32_t n;    /* records in recs */
	uint32_t last; /* 1 in the worker's last box */
	struct table_rec recs[WORKER_BOX_RECS];
};

/* Error kinds a worker reports besides malformed lines. */
enum worker_fail {
	WORKER_OK,
	WORKER_EREAD,   /* read or open failed: err is the errno */
	WORKER_EEMPTY,  /* a stream had no bytes at all */
	WORKER_EFORMAT, /* a stream's format could not be recognised */
};

struct worker_slot {
	_Atomic uint64_t bytes_done; /* progress, relaxed */
	uint64_t bad;                /* malformed lines */
	uint32_t fail;               /* enum worker_fail */
	int32_t err;                 /* errno for WORKER_EREAD */
	uint32_t fail_input;         /* the input it concerns */
	uint32_t nreports;
	struct worker_report reports[WORKER_REPORTS];
	struct worker_box box[2];
};

struct worker_shared {
	uint32_t nworkers;
	uint32_t nranges;
	/* --strict: the lowest range with a malformed line so far; workers
	 * past it stop early.  UINT32_MAX when none. */
	_Atomic uint32_t strict_stop;
	/* Test hook: a worker that raises SIGKILL at a given point. */
	int32_t fault_worker;
	int32_t fault_after_boxes;
	struct worker_range *ranges; /* in this area; same address in all */
	struct worker_slot *slots;
};

/* Semaphores: FULL (worker -> coordinator) and EMPTY per worker. */
#define WORKER_SEM_FULL(w)  (2u * (w))
#define WORKER_SEM_EMPTY(w) (2u * (w) + 1u)

/* What a worker needs besides the shared area (inherited by fork). */
struct worker_job {
	struct area *area;
	struct worker_shared *sh;
	const struct worker_input *inputs;
	unsigned index;
	bool by_user;
	bool strict;
};

/* worker_main - run one worker to its end; returns the exit status. */
int worker_main(const struct worker_job *job);

#endif
