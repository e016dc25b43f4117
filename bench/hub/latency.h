// SPDX-License-Identifier: MIT
/* latency.h - delivery latency bookkeeping shared by bench/hub/hubload and
 * bench/hub/fanout: every delivery in a histogram of 1 us buckets, and for
 * each numbered line its first and last recipient. */
#ifndef BENCH_HUB_LATENCY_H
#define BENCH_HUB_LATENCY_H

#include <stdbool.h>
#include <stdint.h>

#define LATENCY_HIST_US 200000 /* up to 200 ms; beyond counts as over */

struct latency {
	uint32_t *hist;          /* owned: every delivery, 1 us buckets */
	uint64_t n, over;        /* deliveries, and those of 200 ms or more */
	long long *first, *last; /* owned, per line: its recipients' least and
	                            greatest latency, ns */
	uint32_t *got;           /* owned, per line: deliveries so far */
	uint64_t lines;          /* lines numbered 0..lines-1 */
};

/* latency_init - room for lines numbered lines; 0, or -1 out of memory. */
int latency_init(struct latency *l, uint64_t lines);
void latency_fini(struct latency *l);
/* latency_add - line k (or a line without a number: k >= lines) reached
 * one more recipient ns after it was sent. */
void latency_add(struct latency *l, uint64_t k, long long ns);
/* latency_pct_ms - the p quantile of every delivery, ms. */
double latency_pct_ms(const struct latency *l, double p);
/* latency_line_pct_ms - the p quantile, ms, of the lines' first (or last)
 * recipient over the lines all `recipients` received; NaN if none did. */
double latency_line_pct_ms(const struct latency *l, uint32_t recipients,
                           bool last, double p);
/* latency_sort_pct_ms - the p quantile of v[0..n) ns, in ms (sorts v). */
double latency_sort_pct_ms(long long *v, uint64_t n, double p);

/* latency_now_ns - CLOCK_MONOTONIC in ns. */
long long latency_now_ns(void);
/* latency_cpu_ns - this process's CPU time in ns. */
long long latency_cpu_ns(void);

#endif
