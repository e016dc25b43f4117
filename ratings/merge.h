// SPDX-License-Identifier: MIT
/* merge.h - the coordinator's half: a k-way merge of the workers' sorted
 * streams of totals, and the sink that turns merged totals into TSV or
 * JSON, all of them or the top K.  Output is built in memory and written
 * only once every worker has succeeded, so a failed run prints nothing. */
#ifndef RATINGS_MERGE_H
#define RATINGS_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "table.h"

/* Room for the mean as text: "5.0000" and a NUL. */
#define MERGE_MEAN_MAX 8

/*
 * merge_mean4 - the mean rating (sum2 / 2 / count) to 4 decimals, rounded
 * half up (3.12345 -> 3.1235), computed in integers so that it is exact
 * and the same on every machine.  count > 0.  Returns the length.
 */
size_t merge_mean4(uint64_t count, uint64_t sum2, char *buf);

/*
 * merge_better - 1 when a ranks above b in --top: higher mean, then more
 * ratings, then the smaller id.  Means are compared exactly.
 */
int merge_better(const struct table_rec *a, const struct table_rec *b);

struct merge_sink {
	bool json;
	uint64_t top;       /* 0: every id in id order; else the K best */
	uint64_t min_count; /* leave out ids with fewer ratings */
	uint64_t items;     /* records written */
	uint64_t ratings;   /* sum of counts over every id seen */
	char *out;          /* owned: the formatted output */
	size_t len, cap;
	/* --top: a min-heap on merge_better of at most `top` records; owned. */
	struct table_rec *heap;
	size_t heap_len, heap_cap;
};

void merge_sink_init(struct merge_sink *s, bool json, uint64_t top,
                     uint64_t min_count);
/* merge_sink_add - one id's totals; ids arrive in ascending order. */
void merge_sink_add(struct merge_sink *s, const struct table_rec *r);
/* merge_sink_finish - complete the output (rank order for --top). */
void merge_sink_finish(struct merge_sink *s);
void merge_sink_fini(struct merge_sink *s);

/* A source of records in ascending id order, in batches. */
struct merge_src {
	const struct table_rec *recs; /* borrowed from the refill */
	size_t n, i;
};

/*
 * merge_refill_fn - give source src its next batch (recs, n; n may be 0).
 * Returns 1 with a batch, 0 when the source has no more, -errno to stop
 * the merge.
 */
typedef int merge_refill_fn(void *arg, unsigned src, struct merge_src *s);

/*
 * merge_run - merge nsrc sorted sources into sink, adding up records with
 * the same id.  Returns 0, or the first negative value of refill.
 */
int merge_run(unsigned nsrc, merge_refill_fn *refill, void *arg,
              struct merge_sink *sink);

#endif
