// SPDX-License-Identifier: MIT
/* test_ratings_table.c - the per-id totals: dense ids in the flat array,
 * sparse ones in the hash, ids that move from one to the other as the
 * array grows, sorted iteration, and memory bounded by distinct ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ratings_rng.h"
#include "table.h"
#include "xalloc.h"

static int
rec_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct table_rec *)a)->id;
	uint64_t y = ((const struct table_rec *)b)->id;

	return (x > y) - (x < y);
}

/* Add n ratings with ids from pick(); compare with a plain sorted list.
 * drain_at 0 keeps the default; small values drain the packed cells into
 * the wide ones many times on the way. */
static void
check_against_reference(uint64_t (*pick)(void), size_t n, uint64_t drain_at)
{
	struct table t;
	struct table_rec *ref = calloc(n, sizeof(*ref)), r;
	size_t nref = 0, i = 0;
	uint64_t cursor = 0;

	assert_non_null(ref);
	table_init(&t);
	if (drain_at)
		t.drain_at = drain_at;
	for (size_t k = 0; k < n; k++) {
		uint64_t id = pick();
		unsigned r2 = 1 + (unsigned)(rnd() % 10);

		if (k % 97 == 0)
			table_add_slow(&t, id, 1, r2); /* the other door */
		else
			table_add(&t, id, r2);
		ref[nref].id = id;
		ref[nref].count = 1;
		ref[nref].sum2 = r2;
		nref++;
	}
	qsort(ref, nref, sizeof(*ref), rec_cmp);
	/* Fold duplicates. */
	{
		size_t w = 0;

		for (size_t k = 0; k < nref; k++) {
			if (w > 0 && ref[w - 1].id == ref[k].id) {
				ref[w - 1].count += ref[k].count;
				ref[w - 1].sum2 += ref[k].sum2;
			} else {
				ref[w++] = ref[k];
			}
		}
		nref = w;
	}
	assert_int_equal(table_distinct(&t), nref);
	table_seal(&t);
	while (table_next(&t, &cursor, &r)) {
		assert_true(i < nref);
		assert_int_equal(r.id, ref[i].id);
		assert_int_equal(r.count, ref[i].count);
		assert_int_equal(r.sum2, ref[i].sum2);
		i++;
	}
	assert_int_equal(i, nref);
	table_fini(&t);
	free(ref);
}

static uint64_t
pick_dense(void)
{
	return 1 + rnd() % 2000;
}

static uint64_t
pick_sparse(void)
{
	static const uint64_t far[] = { UINT64_MAX, UINT64_C(1) << 40,
		                        1000000007, 123456789012345 };

	return rnd() % 3 ? far[rnd() % 4] - rnd() % 50 : 1 + rnd() % 100;
}

static uint64_t
pick_growing(void)
{
	/* Ids from 700000 down: first beyond the free array size, so into
	 * the hash; as they fill in, the array grows over them and takes
	 * them from the hash.  Then random ids in the same span. */
	static uint64_t next = 700000;

	return next > 1 ? next-- : 1 + rnd() % 700000;
}

static void
test_dense(void **state)
{
	(void)state;
	check_against_reference(pick_dense, 50000, 0);
	check_against_reference(pick_dense, 50000, 7);
	check_against_reference(pick_dense, 50000, 1);
}

static void
test_sparse(void **state)
{
	(void)state;
	check_against_reference(pick_sparse, 50000, 0);
	check_against_reference(pick_sparse, 50000, 13);
}

/* The flat array's own mappings: zero, writable to the last byte, and
 * aligned for a huge page from XMAP_HUGE up. */
static void
test_map_zeroed(void **state)
{
	(void)state;
	static const size_t sizes[] = { 1,
		                        4095,
		                        4096,
		                        4097,
		                        XMAP_HUGE - 8,
		                        XMAP_HUGE,
		                        XMAP_HUGE + 8,
		                        3 * XMAP_HUGE + 5 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		unsigned char *p = xmap_zeroed(n);

		assert_non_null(p);
		for (size_t j = 0; j < n; j += 4096)
			assert_int_equal(p[j], 0);
		assert_int_equal(p[n - 1], 0);
		memset(p, 0xa5, n);
		assert_int_equal(p[n - 1], 0xa5);
		if (n >= XMAP_HUGE)
			assert_int_equal((uintptr_t)p % XMAP_HUGE, 0);
		xmap_free(p, n);
	}
	xmap_free(NULL, 0);
}

static void
test_growing(void **state)
{
	(void)state;
	struct table t;

	check_against_reference(pick_growing, 300000, 0);
	check_against_reference(pick_growing, 300000, 1000);
	/* The move itself: every id ends in the array, none in the hash. */
	table_init(&t);
	for (uint64_t id = 700000; id > 0; id--)
		table_add(&t, id, 3);
	assert_true(t.flat_len > 700000);
	assert_int_equal(t.hash_len, 0);
	assert_int_equal(table_distinct(&t), 700000);
	table_fini(&t);
}

static void
test_memory_bounded_by_ids(void **state)
{
	struct table t;

	(void)state;
	table_init(&t);
	/* Many rows over few ids: nothing grows with rows. */
	for (int k = 0; k < 1000000; k++)
		table_add(&t, 1 + (uint64_t)(k % 100), 7);
	assert_true(t.flat_len <= 1024);
	assert_int_equal(t.hash_cap, 0);
	assert_null(t.wide); /* no drain, no bulk add: packed cells only */
	/* A few huge ids go to the hash, not into a huge array. */
	table_add(&t, UINT64_C(1) << 40, 2);
	table_add(&t, UINT64_C(1) << 30, 2);
	table_add(&t, UINT64_C(1) << 23, 2);
	assert_true(t.flat_len <= (UINT64_C(1) << 18));
	assert_true(t.hash_len == 3);
	assert_int_equal(table_distinct(&t), 103);
	table_fini(&t);
	table_fini(NULL);
}

static void
test_drain_keeps_exact_totals(void **state)
{
	struct table t;
	struct table_rec r;
	uint64_t cursor = 0;

	(void)state;
	table_init(&t);
	/* 3 x drain_at ratings of 5 for one id: the packed cell would have
	 * overflowed its 32-bit halves without the drains. */
	t.drain_at = 1000;
	for (int k = 0; k < 3000; k++)
		table_add(&t, 9, 10);
	table_add_slow(&t, 9, UINT64_C(5000000000), UINT64_C(50000000000));
	table_seal(&t);
	assert_int_equal(table_next(&t, &cursor, &r), 1);
	assert_int_equal(r.id, 9);
	assert_int_equal(r.count, UINT64_C(5000003000));
	assert_int_equal(r.sum2, UINT64_C(50000030000));
	assert_int_equal(table_next(&t, &cursor, &r), 0);
	table_fini(&t);
}

static void
test_add_slow_counts(void **state)
{
	struct table t;
	struct table_rec r;
	uint64_t cursor = 0;

	(void)state;
	table_init(&t);
	table_add_slow(&t, 5, 10, 70);
	table_add_slow(&t, UINT64_MAX, 3, 30);
	table_add_slow(&t, 5, 1, 1);
	table_seal(&t);
	assert_int_equal(table_next(&t, &cursor, &r), 1);
	assert_int_equal(r.id, 5);
	assert_int_equal(r.count, 11);
	assert_int_equal(r.sum2, 71);
	assert_int_equal(table_next(&t, &cursor, &r), 1);
	assert_int_equal(r.id, UINT64_MAX);
	assert_int_equal(table_next(&t, &cursor, &r), 0);
	assert_int_equal(table_next(&t, &cursor, &r), 0);
	table_fini(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dense),
		cmocka_unit_test(test_sparse),
		cmocka_unit_test(test_map_zeroed),
		cmocka_unit_test(test_growing),
		cmocka_unit_test(test_memory_bounded_by_ids),
		cmocka_unit_test(test_drain_keeps_exact_totals),
		cmocka_unit_test(test_add_slow_counts),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
