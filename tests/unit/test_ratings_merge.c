// SPDX-License-Identifier: MIT
/* test_ratings_merge.c - exact means and their rounding, the --top order,
 * the k-way merge of sorted batches (empty ones too), the output formats,
 * and a refill error that stops the merge. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "merge.h"

static const char *
mean(uint64_t count, uint64_t sum2)
{
	static char buf[MERGE_MEAN_MAX];

	assert_int_equal(merge_mean4(count, sum2, buf), 6);
	return buf;
}

static void
test_mean_rounding(void **state)
{
	(void)state;
	assert_string_equal(mean(1, 7), "3.5000");
	assert_string_equal(mean(1, 10), "5.0000");
	assert_string_equal(mean(1, 1), "0.5000");
	assert_string_equal(mean(3, 20), "3.3333"); /* 3.33333... down */
	assert_string_equal(mean(3, 22), "3.6667"); /* 3.66666... up */
	/* 17/32 = 0.53125 exactly: half up gives 0.5313, where printf's
	 * round-half-even on the same double gives 0.5312. */
	assert_string_equal(mean(16, 17), "0.5313");
	/* 0.5 + 1/2^5 x 3 = 0.59375: up to 0.5938. */
	assert_string_equal(mean(32, 38), "0.5938");
	/* Just below a half: 1/3 + ... stays down. */
	assert_string_equal(mean(7, 44), "3.1429");
	/* Huge counts stay exact. */
	assert_string_equal(
	        mean(UINT64_C(1) << 40, (UINT64_C(1) << 40) * 7 + 1), "3.5000");
	assert_string_equal(mean(2000000000000, 14000000000001), "3.5000");
}

static void
test_better(void **state)
{
	struct table_rec a = { 1, 2, 14 }, b = { 2, 4, 28 }, c = { 3, 4, 28 };
	/* Means that differ only far below 4 decimals. */
	struct table_rec d = { 9, 1000000000000, 7000000000001 };
	struct table_rec e = { 8, 1000000000000, 7000000000000 };

	(void)state;
	assert_true(merge_better(&b, &a)); /* same mean, more ratings */
	assert_true(merge_better(&b, &c)); /* same mean and count: lower id */
	assert_false(merge_better(&c, &b));
	assert_false(merge_better(&a, &a));
	assert_true(merge_better(&d, &e)); /* 3.5000000000005 > 3.5 */
}

/* Sources for merge_run: fixed batches per source. */
struct batches {
	const struct table_rec *recs[4][8];
	size_t n[4][8];
	size_t nb[4], next[4];
	int fail_src; /* refill fails for this source, or -1 */
};

static int
refill(void *arg, unsigned src, struct merge_src *s)
{
	struct batches *b = arg;

	if ((int)src == b->fail_src)
		return -EIO;
	if (b->next[src] == b->nb[src])
		return 0;
	s->recs = b->recs[src][b->next[src]];
	s->n = b->n[src][b->next[src]];
	b->next[src]++;
	return 1;
}

static const struct table_rec s0a[] = { { 1, 1, 2 }, { 5, 2, 20 } };
static const struct table_rec s0b[] = { { 9, 1, 10 } };
static const struct table_rec s1a[] = { { 1, 1, 10 } };
static const struct table_rec s1b[] = { { 5, 1, 1 }, { 7, 3, 30 } };
static const struct table_rec s2a[] = { { 2, 4, 16 } };

static void
setup_batches(struct batches *b)
{
	memset(b, 0, sizeof(*b));
	b->fail_src = -1;
	b->recs[0][0] = s0a;
	b->n[0][0] = 2;
	b->recs[0][1] = NULL; /* an empty batch */
	b->n[0][1] = 0;
	b->recs[0][2] = s0b;
	b->n[0][2] = 1;
	b->nb[0] = 3;
	b->recs[1][0] = s1a;
	b->n[1][0] = 1;
	b->recs[1][1] = s1b;
	b->n[1][1] = 2;
	b->nb[1] = 2;
	b->recs[2][0] = s2a;
	b->n[2][0] = 1;
	b->nb[2] = 1;
	b->nb[3] = 0; /* a worker with nothing */
}

static void
test_merge_tsv(void **state)
{
	struct batches b;
	struct merge_sink s;
	static const char want[] = "1\t2\t3.0000\n"
	                           "2\t4\t2.0000\n"
	                           "5\t3\t3.5000\n"
	                           "7\t3\t5.0000\n"
	                           "9\t1\t5.0000\n";

	(void)state;
	setup_batches(&b);
	merge_sink_init(&s, false, 0, 0);
	assert_int_equal(merge_run(4, refill, &b, &s), 0);
	merge_sink_finish(&s);
	assert_int_equal(s.len, sizeof(want) - 1);
	assert_memory_equal(s.out, want, s.len);
	assert_int_equal(s.ratings, 13);
	merge_sink_fini(&s);
}

static void
test_merge_top_json(void **state)
{
	struct batches b;
	struct merge_sink s;
	/* Means: 7 and 9 are 5.0 (7 has more ratings), then 5 (3.5). */
	static const char want[] =
	        "[\n{\"id\":7,\"count\":3,\"mean\":5.0000},\n"
	        "{\"id\":9,\"count\":1,\"mean\":5.0000},\n"
	        "{\"id\":5,\"count\":3,\"mean\":3.5000}\n]\n";

	(void)state;
	setup_batches(&b);
	merge_sink_init(&s, true, 3, 0);
	assert_int_equal(merge_run(4, refill, &b, &s), 0);
	merge_sink_finish(&s);
	assert_int_equal(s.len, sizeof(want) - 1);
	assert_memory_equal(s.out, want, s.len);
	merge_sink_fini(&s);
}

static void
test_merge_min_count_and_empty(void **state)
{
	struct batches b;
	struct merge_sink s;
	static const char want[] = "2\t4\t2.0000\n";

	(void)state;
	setup_batches(&b);
	merge_sink_init(&s, false, 0, 4);
	assert_int_equal(merge_run(4, refill, &b, &s), 0);
	merge_sink_finish(&s);
	assert_int_equal(s.len, sizeof(want) - 1);
	assert_memory_equal(s.out, want, s.len);
	merge_sink_fini(&s);
	/* No source at all, JSON: an empty array. */
	merge_sink_init(&s, true, 0, 0);
	assert_int_equal(merge_run(0, refill, &b, &s), 0);
	merge_sink_finish(&s);
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.out, "[]\n", 3);
	merge_sink_fini(&s);
}

static void
test_sink_extreme_values(void **state)
{
	struct merge_sink s;
	struct table_rec a = { 7, 1, 1 }, b = { 10, 100, 1000 },
	                 c = { UINT64_MAX, UINT64_C(12345678901234567),
		               UINT64_C(12345678901234567) * 7 };
	static const char want[] = "7\t1\t0.5000\n"
	                           "10\t100\t5.0000\n"
	                           "18446744073709551615\t12345678901234567\t"
	                           "3.5000\n";

	(void)state;
	merge_sink_init(&s, false, 0, 0);
	merge_sink_add(&s, &a);
	merge_sink_add(&s, &b);
	merge_sink_add(&s, &c);
	merge_sink_finish(&s);
	assert_int_equal(s.len, sizeof(want) - 1);
	assert_memory_equal(s.out, want, s.len);
	merge_sink_fini(&s);
}

static void
test_merge_refill_error(void **state)
{
	struct batches b;
	struct merge_sink s;

	(void)state;
	setup_batches(&b);
	b.fail_src = 1;
	merge_sink_init(&s, false, 0, 0);
	assert_int_equal(merge_run(4, refill, &b, &s), -EIO);
	merge_sink_fini(&s);
	merge_sink_fini(NULL);
}

static void
test_top_many(void **state)
{
	/* More candidates than K, in id order, against a full sort. */
	enum { N = 5000, K = 37 };
	struct table_rec *all = calloc(N, sizeof(*all));
	struct merge_sink s;
	char want[64];
	char *p;
	size_t best[K];

	(void)state;
	assert_non_null(all);
	merge_sink_init(&s, false, K, 3);
	for (size_t i = 0; i < N; i++) {
		all[i].id = i + 1;
		all[i].count = 1 + (i * 7919) % 13;
		all[i].sum2 = all[i].count * (1 + (i * 104729) % 10);
		merge_sink_add(&s, &all[i]);
	}
	merge_sink_finish(&s);
	/* Selection by repeated scans: the reference. */
	for (size_t k = 0; k < K; k++) {
		size_t bi = SIZE_MAX;

		for (size_t i = 0; i < N; i++) {
			int taken = 0;

			if (all[i].count < 3)
				continue;
			for (size_t j = 0; j < k; j++)
				taken |= best[j] == i;
			if (!taken &&
			    (bi == SIZE_MAX || merge_better(&all[i], &all[bi])))
				bi = i;
		}
		best[k] = bi;
	}
	p = s.out;
	for (size_t k = 0; k < K; k++) {
		char m[MERGE_MEAN_MAX];
		int n;

		merge_mean4(all[best[k]].count, all[best[k]].sum2, m);
		n = snprintf(want, sizeof(want), "%llu\t%llu\t%s\n",
		             (unsigned long long)all[best[k]].id,
		             (unsigned long long)all[best[k]].count, m);
		assert_memory_equal(p, want, (size_t)n);
		p += n;
	}
	assert_ptr_equal(p, s.out + s.len);
	merge_sink_fini(&s);
	free(all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mean_rounding),
		cmocka_unit_test(test_better),
		cmocka_unit_test(test_merge_tsv),
		cmocka_unit_test(test_merge_top_json),
		cmocka_unit_test(test_merge_min_count_and_empty),
		cmocka_unit_test(test_sink_extreme_values),
		cmocka_unit_test(test_merge_refill_error),
		cmocka_unit_test(test_top_many),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
