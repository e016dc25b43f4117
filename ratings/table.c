// SPDX-License-Identifier: MIT
/* table.c - the flat array for dense ids, the hash table for the rest, and
 * the policy between them: the array grows only while it stays within
 * TABLE_DENSITY slots per distinct id, so sparse ids (1, 10^9, 10^15) cost
 * a hash slot each instead of gigabytes of array. */
#include <stdlib.h>
#include <string.h>

#include "table.h"
#include "xalloc.h"

/* The flat array never exceeds this many slots (8 B each: 128 MiB, and as
 * much again for wide cells if they are needed). */
#define TABLE_FLAT_MAX  (UINT64_C(1) << 24)
/* Slots the array may always have, however few ids there are. */
#define TABLE_FLAT_FREE (UINT64_C(1) << 18)
/* Slots allowed per distinct id beyond TABLE_FLAT_FREE. */
#define TABLE_DENSITY   8

void
table_init(struct table *t)
{
	memset(t, 0, sizeof(*t));
	t->drain_at = TABLE_DRAIN_AT;
}

void
table_fini(struct table *t)
{
	if (t == NULL)
		return;
	xmap_free(t->flat, t->flat_len * sizeof(*t->flat));
	free(t->wide);
	free(t->hash);
	memset(t, 0, sizeof(*t));
}

/* The wide cells, made on first use. */
static struct table_cell *
table_wide(struct table *t)
{
	if (t->wide == NULL && t->flat_len)
		t->wide = xcalloc(t->flat_len, sizeof(*t->wide));
	return t->wide;
}

/* Add to an id below flat_len: packed when it is one small rating. */
static void
table_flat_add(struct table *t, uint64_t id, uint64_t count, uint64_t sum2)
{
	struct table_cell *w;

	if (count == 1 && sum2 <= 10) {
		t->flat[id] += TABLE_PACK(sum2);
		if (++t->pending >= t->drain_at)
			table_drain(t);
		return;
	}
	w = table_wide(t);
	w[id].count += count;
	w[id].sum2 += sum2;
}

void
table_drain(struct table *t)
{
	struct table_cell *w = table_wide(t);

	for (uint64_t i = 0; i < t->flat_len; i++)
		if (t->flat[i]) {
			w[i].count += t->flat[i] & 0xFFFFFFFFu;
			w[i].sum2 += t->flat[i] >> 32;
			t->flat[i] = 0;
		}
	t->pending = 0;
}

/* An id's totals in the flat array. */
static void
table_flat_get(const struct table *t, uint64_t id, struct table_rec *rec)
{
	rec->id = id;
	rec->count = t->flat[id] & 0xFFFFFFFFu;
	rec->sum2 = t->flat[id] >> 32;
	if (t->wide) {
		rec->count += t->wide[id].count;
		rec->sum2 += t->wide[id].sum2;
	}
}

static size_t
table_slot(const struct table *t, uint64_t id)
{
	/* Fibonacci hashing: the top bits of id * 2^64/phi. */
	unsigned bits = (unsigned)__builtin_ctzll(t->hash_cap);

	return (size_t)((id * UINT64_C(0x9E3779B97F4A7C15)) >> (64 - bits));
}

static struct table_rec *
table_find(struct table *t, uint64_t id)
{
	size_t mask = t->hash_cap - 1;
	size_t i = table_slot(t, id);

	while (t->hash[i].id != 0 && t->hash[i].id != id)
		i = (i + 1) & mask;
	return &t->hash[i];
}

static void
table_rehash(struct table *t, size_t cap)
{
	struct table_rec *old = t->hash;
	size_t old_cap = t->hash_cap;

	t->hash = xcalloc(cap, sizeof(*t->hash));
	t->hash_cap = cap;
	t->hash_len = 0;
	for (size_t i = 0; i < old_cap; i++) {
		struct table_rec *r = &old[i];

		if (r->id == 0)
			continue;
		if (r->id < t->flat_len) {
			table_flat_add(t, r->id, r->count, r->sum2);
		} else {
			*table_find(t, r->id) = *r;
			t->hash_len++;
		}
	}
	free(old);
}

static uint64_t
table_flat_distinct(const struct table *t)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < t->flat_len; i++)
		n += t->flat[i] != 0 || (t->wide && t->wide[i].count != 0);
	return n;
}

/* The array length that covers id, a power of two. */
static uint64_t
table_flat_len_for(const struct table *t, uint64_t id)
{
	uint64_t len = t->flat_len ? t->flat_len : 1024;

	while (len <= id)
		len *= 2;
	return len;
}

/* Would an array of len slots stay dense enough?  Counts the array's ids,
 * so it is asked only when the hash has doubled since the last time. */
static int
table_flat_dense(const struct table *t, uint64_t len)
{
	uint64_t distinct = table_flat_distinct(t) + t->hash_len;

	return len <= TABLE_FLAT_FREE + TABLE_DENSITY * distinct;
}

static void
table_flat_grow(struct table *t, uint64_t len)
{
	/* A mapping of its own (xmap_zeroed): the new slots start zero
	 * without a memset, and the usual 2 MiB array of a movie table is one
	 * huge page.  First touching 2 MiB of fresh 4 KiB pages cost each
	 * worker 8-9 ms on the development VM, a huge page 0.25 ms. */
	uint64_t *flat = xmap_zeroed(len * sizeof(*flat));

	if (t->flat_len)
		memcpy(flat, t->flat, t->flat_len * sizeof(*flat));
	xmap_free(t->flat, t->flat_len * sizeof(*t->flat));
	t->flat = flat;
	if (t->wide) {
		t->wide = xreallocarray(t->wide, len, sizeof(*t->wide));
		memset(t->wide + t->flat_len, 0,
		       (len - t->flat_len) * sizeof(*t->wide));
	}
	t->flat_len = len;
	/* Ids now below flat_len move from the hash into the array. */
	if (t->hash_cap)
		table_rehash(t, t->hash_cap);
	t->hash_max = 0;
	for (size_t i = 0; i < t->hash_cap; i++)
		if (t->hash[i].id > t->hash_max)
			t->hash_max = t->hash[i].id;
	t->next_check = t->hash_len + 1024;
}

void
table_add_slow(struct table *t, uint64_t id, uint64_t count, uint64_t sum2)
{
	struct table_rec *r;
	uint64_t len;

	if (id >= t->flat_len && id < TABLE_FLAT_MAX) {
		len = table_flat_len_for(t, id);
		if (len <= TABLE_FLAT_FREE)
			table_flat_grow(t, len);
	}
	if (id < t->flat_len) {
		table_flat_add(t, id, count, sum2);
		return;
	}
	if (t->hash_cap == 0)
		table_rehash(t, 1024);
	r = table_find(t, id);
	if (r->id == 0) {
		if (2 * (t->hash_len + 1) > t->hash_cap) {
			table_rehash(t, 2 * t->hash_cap);
			r = table_find(t, id);
		}
		r->id = id;
		t->hash_len++;
		if (id > t->hash_max)
			t->hash_max = id;
	}
	r->count += count;
	r->sum2 += sum2;
	/* Now and then, see whether the array could take the hash's ids. */
	if (t->hash_len >= t->next_check) {
		t->next_check = 2 * t->hash_len;
		if (t->hash_max < TABLE_FLAT_MAX) {
			len = table_flat_len_for(t, t->hash_max);
			if (table_flat_dense(t, len))
				table_flat_grow(t, len);
		}
	}
}

uint64_t
table_distinct(const struct table *t)
{
	return table_flat_distinct(t) + t->hash_len;
}

static int
table_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct table_rec *)a)->id;
	uint64_t y = ((const struct table_rec *)b)->id;

	return (x > y) - (x < y);
}

void
table_seal(struct table *t)
{
	size_t n = 0;

	if (t->sealed)
		return;
	for (size_t i = 0; i < t->hash_cap; i++)
		if (t->hash[i].id != 0)
			t->hash[n++] = t->hash[i];
	if (n > 1)
		qsort(t->hash, n, sizeof(*t->hash), table_cmp);
	t->sealed = 1;
}

int
table_next(const struct table *t, uint64_t *cursor, struct table_rec *rec)
{
	uint64_t i = *cursor;

	for (; i < t->flat_len; i++)
		if (t->flat[i] != 0 || (t->wide && t->wide[i].count != 0)) {
			table_flat_get(t, i, rec);
			*cursor = i + 1;
			return 1;
		}
	if (i - t->flat_len < t->hash_len) {
		*rec = t->hash[i - t->flat_len];
		*cursor = i + 1;
		return 1;
	}
	*cursor = i;
	return 0;
}
