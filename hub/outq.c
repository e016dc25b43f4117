// SPDX-License-Identifier: MIT
/* outq.c - slices of shared chunks, as outq.h explains. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "outq.h"
#include "xalloc.h"

#define OUTQ_SMALL 512 /* room given to a private reply chunk */

struct chunk *
chunk_new(size_t cap)
{
	struct chunk *c;

	assert(cap < UINT32_MAX);
	c = xmalloc(sizeof(*c) + cap);
	c->refs = 1;
	c->len = 0;
	c->cap = (uint32_t)cap;
	return c;
}

struct chunk *
chunk_from(const void *s, size_t n)
{
	struct chunk *c = chunk_new(n);

	memcpy(c->data, s, n);
	c->len = (uint32_t)n;
	return c;
}

struct chunk *
chunk_ref(struct chunk *c)
{
	c->refs++;
	return c;
}

void
chunk_unref(struct chunk *c)
{
	if (c != NULL && --c->refs == 0)
		free(c);
}

static struct outq_ent *
outq_at(const struct outq *q, uint32_t i)
{
	return &q->v[(q->head + i) & (q->cap - 1)];
}

static void
outq_grow(struct outq *q)
{
	uint32_t cap = q->cap ? q->cap * 2 : 4;
	struct outq_ent *v = xreallocarray(NULL, cap, sizeof(*v));

	for (uint32_t i = 0; i < q->n; i++)
		v[i] = *outq_at(q, i);
	free(q->v);
	q->v = v;
	q->cap = cap;
	q->head = 0;
}

void
outq_push(struct outq *q, struct chunk *c, uint32_t off, uint32_t len)
{
	if (len == 0)
		return;
	if (q->n == q->cap)
		outq_grow(q);
	*outq_at(q, q->n) = (struct outq_ent){ chunk_ref(c), off, len };
	q->n++;
	q->bytes += len;
}

void
outq_write(struct outq *q, const void *s, size_t n)
{
	struct chunk *c;

	if (n == 0)
		return;
	if (q->n > 0) {
		struct outq_ent *t = outq_at(q, q->n - 1);

		/* Only this queue sees the chunk and the slice ends where the
		 * chunk does: growing both in place is invisible to others. */
		c = t->c;
		if (c->refs == 1 && t->off + t->len == c->len &&
		    c->cap - c->len >= n) {
			memcpy(c->data + c->len, s, n);
			c->len += (uint32_t)n;
			t->len += (uint32_t)n;
			q->bytes += n;
			return;
		}
	}
	c = chunk_new(n > OUTQ_SMALL ? n : OUTQ_SMALL);
	memcpy(c->data, s, n);
	c->len = (uint32_t)n;
	outq_push(q, c, 0, (uint32_t)n);
	chunk_unref(c);
}

int
outq_iov(const struct outq *q, struct iovec *iov, int max)
{
	int k = 0;

	for (uint32_t i = 0; i < q->n && k < max; i++, k++) {
		const struct outq_ent *e = outq_at(q, i);

		iov[k].iov_base = e->c->data + e->off;
		iov[k].iov_len = e->len;
	}
	return k;
}

void
outq_consume(struct outq *q, size_t n)
{
	assert(n <= q->bytes);
	q->bytes -= n;
	while (n > 0) {
		struct outq_ent *e = outq_at(q, 0);

		if (n < e->len) {
			e->off += (uint32_t)n;
			e->len -= (uint32_t)n;
			break;
		}
		n -= e->len;
		chunk_unref(e->c);
		q->head = (q->head + 1) & (q->cap - 1);
		q->n--;
	}
	if (q->n == 0)
		outq_clear(q);
}

void
outq_clear(struct outq *q)
{
	for (uint32_t i = 0; i < q->n; i++)
		chunk_unref(outq_at(q, i)->c);
	free(q->v);
	memset(q, 0, sizeof(*q));
}

size_t
outq_gather(const struct outq *q, char *out, size_t cap)
{
	size_t o = 0;

	for (uint32_t i = 0; i < q->n && o < cap; i++) {
		const struct outq_ent *e = outq_at(q, i);
		size_t n = e->len < cap - o ? e->len : cap - o;

		memcpy(out + o, e->c->data + e->off, n);
		o += n;
	}
	return o;
}

size_t
outq_copy(const struct outq *q, char *out, size_t cap)
{
	size_t o;

	if (cap == 0)
		return q->bytes;
	o = outq_gather(q, out, cap - 1);
	out[o] = '\0';
	return q->bytes;
}
