// SPDX-License-Identifier: MIT
/* table.h - per-id count and sum of ratings: a flat array for small dense
 * ids and an open-addressing hash table for the rest.  Memory grows with
 * the number of distinct ids, never with the number of rows. */
#ifndef RATINGS_TABLE_H
#define RATINGS_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* One id's totals: count of ratings, and their sum times 2 (exact). */
struct table_rec {
	uint64_t id;
	uint64_t count;
	uint64_t sum2;
};

struct table_cell {
	uint64_t count;
	uint64_t sum2;
};

/* A rating as an increment of a packed cell: count in the low 32 bits, the
 * sum (x2) in the high 32, so the hot path is one add to memory and the
 * array half the size. */
#define TABLE_PACK(r2) ((uint64_t)(r2) << 32 | 1)
/* Ratings that may go into packed cells between drains: the fullest cell
 * then holds at most 2^28 ratings and a sum of 10 x 2^28 < 2^32. */
#define TABLE_DRAIN_AT (UINT64_C(1) << 28)

struct table {
	/* Ids below flat_len live here (index = id); owned; flat_len is 0 or
	 * a power of two.  The flat array grows only while it stays dense
	 * (table.c: table_flat_dense).  Each id's totals are its packed cell
	 * plus, once anything was drained or added in bulk, its wide cell. */
	uint64_t *flat;
	struct table_cell *wide; /* NULL, or flat_len cells; owned */
	uint64_t flat_len;
	/* Ratings added to packed cells since the last drain (an upper
	 * bound), and the bound that triggers table_drain(). */
	uint64_t pending;
	uint64_t drain_at;
	/* Ids >= flat_len: linear probing, id 0 marks a free slot (ids are
	 * positive), at most half full; owned. */
	struct table_rec *hash;
	size_t hash_cap; /* 0 or a power of two */
	size_t hash_len;
	uint64_t hash_max;   /* the largest id in the hash */
	uint64_t next_check; /* hash_len at which to try growing the array */
	/* After table_seal(): the hash's records, sorted by id, at the start
	 * of `hash`. */
	int sealed;
};

void table_init(struct table *t);
void table_fini(struct table *t);

/* table_add_slow - add count ratings summing to sum2 (x2) for id > 0. */
void table_add_slow(struct table *t, uint64_t id, uint64_t count,
                    uint64_t sum2);

/* table_drain - move the packed cells' totals into the wide cells. */
void table_drain(struct table *t);

/* table_add - one rating (r2 = rating x 2, 1..10) for id > 0. */
static inline void
table_add(struct table *t, uint64_t id, unsigned r2)
{
	if (__builtin_expect(id < t->flat_len, 1)) {
		t->flat[id] += TABLE_PACK(r2);
		if (__builtin_expect(++t->pending >= t->drain_at, 0))
			table_drain(t);
	} else {
		table_add_slow(t, id, 1, r2);
	}
}

/* table_distinct - the number of ids with at least one rating. */
uint64_t table_distinct(const struct table *t);

/*
 * table_seal - prepare for table_next(): sorts the hash part in place.
 * No table_add*() after it.
 */
void table_seal(struct table *t);

/*
 * table_next - the records in ascending id order, after table_seal().
 * *cursor starts at 0.  Returns 1 with *rec filled, 0 at the end.
 */
int table_next(const struct table *t, uint64_t *cursor, struct table_rec *rec);

#endif
