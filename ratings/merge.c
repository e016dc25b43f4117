// SPDX-License-Identifier: MIT
/* merge.c - k-way merge of sorted totals, exact means, and the output. */
#include <stdlib.h>
#include <string.h>

#include "merge.h"
#include "xalloc.h"

size_t
merge_mean4(uint64_t count, uint64_t sum2, char *buf)
{
	/* mean x 10^4 rounded half up = floor(sum2 x 10^4 / (2 count) + 1/2)
	 * = floor((sum2 x 10^4 + count) / (2 count)). */
	uint64_t m;
	unsigned whole, frac;

	/* 64 bits suffice below 2^49 ratings; 128 beyond. */
	if (sum2 < UINT64_C(1) << 50 && count < UINT64_C(1) << 50)
		m = (sum2 * 10000 + count) / (count * 2);
	else
		m = (uint64_t)(((unsigned __int128)sum2 * 10000 + count) /
		               ((unsigned __int128)count * 2));
	whole = (unsigned)(m / 10000);
	frac = (unsigned)(m % 10000);
	size_t n = 0;

	if (whole >= 10) /* cannot happen for ratings <= 5; stay bounded */
		whole = 9;
	buf[n++] = (char)('0' + whole);
	buf[n++] = '.';
	buf[n++] = (char)('0' + frac / 1000);
	buf[n++] = (char)('0' + frac / 100 % 10);
	buf[n++] = (char)('0' + frac / 10 % 10);
	buf[n++] = (char)('0' + frac % 10);
	buf[n] = '\0';
	return n;
}

int
merge_better(const struct table_rec *a, const struct table_rec *b)
{
	unsigned __int128 x = (unsigned __int128)a->sum2 * b->count;
	unsigned __int128 y = (unsigned __int128)b->sum2 * a->count;

	if (x != y)
		return x > y;
	if (a->count != b->count)
		return a->count > b->count;
	return a->id < b->id;
}

/* Decimal digits of v, two at a time from a table of pairs. */
static size_t
merge_u64(uint64_t v, char *buf)
{
	static const char pairs[201] = "00010203040506070809"
	                               "10111213141516171819"
	                               "20212223242526272829"
	                               "30313233343536373839"
	                               "40414243444546474849"
	                               "50515253545556575859"
	                               "60616263646566676869"
	                               "70717273747576777879"
	                               "80818283848586878889"
	                               "90919293949596979899";
	char tmp[20];
	char *p = tmp + sizeof(tmp);
	size_t len;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100);

		v /= 100;
		p -= 2;
		memcpy(p, pairs + 2 * d, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	len = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(buf, p, len);
	return len;
}

void
merge_sink_init(struct merge_sink *s, bool json, uint64_t top,
                uint64_t min_count)
{
	memset(s, 0, sizeof(*s));
	s->json = json;
	s->top = top;
	s->min_count = min_count;
}

void
merge_sink_fini(struct merge_sink *s)
{
	if (s == NULL)
		return;
	free(s->out);
	free(s->heap);
	memset(s, 0, sizeof(*s));
}

static void
merge_emit(struct merge_sink *s, const struct table_rec *r)
{
	char *p;

	if (s->cap - s->len < 128) {
		s->cap = s->cap ? 2 * s->cap : 65536;
		s->out = xrealloc(s->out, s->cap);
	}
	p = s->out + s->len;
	if (s->json) {
		if (s->items == 0) {
			*p++ = '[';
			*p++ = '\n';
		} else {
			*p++ = ',';
			*p++ = '\n';
		}
		memcpy(p, "{\"id\":", 6);
		p += 6;
		p += merge_u64(r->id, p);
		memcpy(p, ",\"count\":", 9);
		p += 9;
		p += merge_u64(r->count, p);
		memcpy(p, ",\"mean\":", 8);
		p += 8;
		p += merge_mean4(r->count, r->sum2, p);
		*p++ = '}';
	} else {
		p += merge_u64(r->id, p);
		*p++ = '\t';
		p += merge_u64(r->count, p);
		*p++ = '\t';
		p += merge_mean4(r->count, r->sum2, p);
		*p++ = '\n';
	}
	s->len = (size_t)(p - s->out);
	s->items++;
}

/* The heap's root is the worst of the best K seen so far. */
static void
merge_heap_down(struct table_rec *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, worst = i;

		if (l < n && merge_better(&h[worst], &h[l]))
			worst = l;
		if (r < n && merge_better(&h[worst], &h[r]))
			worst = r;
		if (worst == i)
			return;
		struct table_rec t = h[i];
		h[i] = h[worst];
		h[worst] = t;
		i = worst;
	}
}

static void
merge_heap_push(struct merge_sink *s, const struct table_rec *r)
{
	size_t i;

	if (s->heap_len < s->top) {
		if (s->heap_len == s->heap_cap) {
			s->heap_cap = s->heap_cap ? 2 * s->heap_cap : 1024;
			if (s->heap_cap > s->top)
				s->heap_cap = (size_t)s->top;
			s->heap = xreallocarray(s->heap, s->heap_cap,
			                        sizeof(*s->heap));
		}
		i = s->heap_len++;
		s->heap[i] = *r;
		while (i > 0 &&
		       merge_better(&s->heap[(i - 1) / 2], &s->heap[i])) {
			struct table_rec t = s->heap[i];
			s->heap[i] = s->heap[(i - 1) / 2];
			s->heap[(i - 1) / 2] = t;
			i = (i - 1) / 2;
		}
	} else if (merge_better(r, &s->heap[0])) {
		s->heap[0] = *r;
		merge_heap_down(s->heap, s->heap_len, 0);
	}
}

void
merge_sink_add(struct merge_sink *s, const struct table_rec *r)
{
	s->ratings += r->count;
	if (r->count < s->min_count)
		return;
	if (s->top == 0)
		merge_emit(s, r);
	else
		merge_heap_push(s, r);
}

static int
merge_rank_cmp(const void *a, const void *b)
{
	if (merge_better(a, b))
		return -1;
	return merge_better(b, a) ? 1 : 0;
}

void
merge_sink_finish(struct merge_sink *s)
{
	if (s->top) {
		qsort(s->heap, s->heap_len, sizeof(*s->heap), merge_rank_cmp);
		for (size_t i = 0; i < s->heap_len; i++)
			merge_emit(s, &s->heap[i]);
	}
	if (s->json) {
		if (s->cap - s->len < 8) {
			s->cap = s->cap ? 2 * s->cap : 64;
			s->out = xrealloc(s->out, s->cap);
		}
		memcpy(s->out + s->len, s->items ? "\n]\n" : "[]\n", 4);
		s->len += 3;
	}
}

/* The heap of sources orders them by their current record's id. */
static uint64_t
merge_key(const struct merge_src *s, unsigned i)
{
	return s[i].recs[s[i].i].id;
}

static void
merge_src_down(const struct merge_src *src, unsigned *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < n && merge_key(src, h[l]) < merge_key(src, h[m]))
			m = l;
		if (r < n && merge_key(src, h[r]) < merge_key(src, h[m]))
			m = r;
		if (m == i)
			return;
		unsigned t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* Make sure src[k] has a current record; 1 if so, 0 if done, <0 error. */
static int
merge_fill(unsigned k, merge_refill_fn *refill, void *arg, struct merge_src *s)
{
	while (s->i >= s->n) {
		int rc = refill(arg, k, s);

		if (rc <= 0)
			return rc;
		s->i = 0;
	}
	return 1;
}

int
merge_run(unsigned nsrc, merge_refill_fn *refill, void *arg,
          struct merge_sink *sink)
{
	struct merge_src *src = xcalloc(nsrc ? nsrc : 1, sizeof(*src));
	unsigned *heap = xcalloc(nsrc ? nsrc : 1, sizeof(*heap));
	struct table_rec acc = { 0 };
	size_t n = 0;
	int rc = 0;

	for (unsigned k = 0; k < nsrc; k++) {
		rc = merge_fill(k, refill, arg, &src[k]);
		if (rc < 0)
			goto out;
		if (rc > 0)
			heap[n++] = k;
	}
	rc = 0;
	for (size_t i = n / 2; i-- > 0;)
		merge_src_down(src, heap, n, i);
	while (n > 0) {
		struct merge_src *s = &src[heap[0]];
		const struct table_rec *r = &s->recs[s->i++];

		if (r->id != acc.id) {
			if (acc.count)
				merge_sink_add(sink, &acc);
			acc = *r;
		} else {
			acc.count += r->count;
			acc.sum2 += r->sum2;
		}
		rc = merge_fill(heap[0], refill, arg, s);
		if (rc < 0)
			goto out;
		if (rc == 0)
			heap[0] = heap[--n];
		rc = 0;
		merge_src_down(src, heap, n, 0);
	}
	if (acc.count)
		merge_sink_add(sink, &acc);
out:
	free(src);
	free(heap);
	return rc;
}
