// SPDX-License-Identifier: MIT
/* latency.c - as latency.h says. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "latency.h"

int
latency_init(struct latency *l, uint64_t lines)
{
	memset(l, 0, sizeof(*l));
	l->lines = lines;
	l->hist = calloc(LATENCY_HIST_US, sizeof(*l->hist));
	l->first = calloc(lines + 1, sizeof(*l->first));
	l->last = calloc(lines + 1, sizeof(*l->last));
	l->got = calloc(lines + 1, sizeof(*l->got));
	if (!l->hist || !l->first || !l->last || !l->got) {
		latency_fini(l);
		return -1;
	}
	return 0;
}

void
latency_fini(struct latency *l)
{
	free(l->hist);
	free(l->first);
	free(l->last);
	free(l->got);
	memset(l, 0, sizeof(*l));
}

void
latency_add(struct latency *l, uint64_t k, long long ns)
{
	long long us = ns / 1000;

	if (us >= LATENCY_HIST_US)
		l->over++;
	else
		l->hist[us < 0 ? 0 : us]++;
	l->n++;
	if (k >= l->lines)
		return;
	if (l->got[k] == 0 || ns < l->first[k])
		l->first[k] = ns;
	if (l->got[k] == 0 || ns > l->last[k])
		l->last[k] = ns;
	l->got[k]++;
}

double
latency_pct_ms(const struct latency *l, double p)
{
	uint64_t want = (uint64_t)(p * (double)l->n), seen = 0;

	for (uint32_t i = 0; i < LATENCY_HIST_US; i++) {
		seen += l->hist[i];
		if (seen > want)
			return i / 1000.0;
	}
	return LATENCY_HIST_US / 1000.0;
}

static int
latency_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

double
latency_sort_pct_ms(long long *v, uint64_t n, double p)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), latency_cmp);
	return v[(uint64_t)(p * (double)(n - 1))] / 1e6;
}

double
latency_line_pct_ms(const struct latency *l, uint32_t recipients, bool last,
                    double p)
{
	long long *v = calloc(l->lines + 1, sizeof(*v));
	uint64_t m = 0;
	double r;

	if (v == NULL)
		return NAN;
	for (uint64_t k = 0; k < l->lines; k++)
		if (l->got[k] == recipients)
			v[m++] = last ? l->last[k] : l->first[k];
	r = latency_sort_pct_ms(v, m, p);
	free(v);
	return r;
}

static long long
latency_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long long
latency_now_ns(void)
{
	return latency_clock_ns(CLOCK_MONOTONIC);
}

long long
latency_cpu_ns(void)
{
	return latency_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}
