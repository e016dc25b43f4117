// SPDX-License-Identifier: MIT
/* test_search.c - SCH terms parsed and matched: AN NO EX LE GE EQ TY TR,
 * malformed requests, directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base32.h"
#include "search.h"

static char line[1024];
static struct adc_msg msg;

static int
q_of(struct search_query *q, const char *text)
{
	size_t n = strlen(text);

	memcpy(line, text, n + 1);
	assert_int_equal(adc_parse(&msg, line, n), ADC_OK);
	return search_parse(q, &msg);
}

static const uint8_t tth_a[TIGER_BYTES] = { 1, 2, 3 };
static const uint8_t tth_b[TIGER_BYTES] = { 9, 9, 9 };

static void
test_terms(void **state)
{
	struct search_query q;

	(void)state;
	assert_int_equal(q_of(&q, "BSCH AAAB ANsong ANOne TOtok"), 0);
	assert_string_equal(q.token, "tok");
	assert_true(search_match_file(&q, "/music/Song One.mp3", 10, tth_a));
	assert_false(search_match_file(&q, "/music/Song Two.mp3", 10, tth_a));
	/* Terms match the whole path, case-insensitively. */
	assert_true(search_match_file(&q, "/one/song.txt", 1, tth_a));
	assert_int_equal(q_of(&q, "BSCH AAAB ANsong NOlive"), 0);
	assert_true(search_match_file(&q, "/a/song.mp3", 1, tth_a));
	assert_false(search_match_file(&q, "/a/song (LIVE).mp3", 1, tth_a));
}

static void
test_extensions_and_sizes(void **state)
{
	struct search_query q;

	(void)state;
	assert_int_equal(q_of(&q, "BSCH AAAB EXmp3 EX.ogg"), 0);
	assert_true(search_match_file(&q, "/a/x.MP3", 1, tth_a));
	assert_true(search_match_file(&q, "/a/x.ogg", 1, tth_a));
	assert_false(search_match_file(&q, "/a/mp3", 1, tth_a));
	assert_false(search_match_file(&q, "/a.mp3/x.flac", 1, tth_a));
	assert_int_equal(q_of(&q, "BSCH AAAB ANx GE100 LE200"), 0);
	assert_false(search_match_file(&q, "/x", 99, tth_a));
	assert_true(search_match_file(&q, "/x", 100, tth_a));
	assert_true(search_match_file(&q, "/x", 200, tth_a));
	assert_false(search_match_file(&q, "/x", 201, tth_a));
	assert_int_equal(q_of(&q, "BSCH AAAB ANx EQ5"), 0);
	assert_true(search_match_file(&q, "/x", 5, tth_a));
	assert_false(search_match_file(&q, "/x", 6, tth_a));
}

static void
test_types_and_tth(void **state)
{
	struct search_query q;
	char req[128], b32[TIGER_BASE32_LEN + 1];

	(void)state;
	assert_int_equal(q_of(&q, "BSCH AAAB ANmusic TY2"), 0);
	assert_false(search_match_file(&q, "/music/a.mp3", 1, tth_a));
	assert_true(search_match_dir(&q, "/music/"));
	assert_int_equal(q_of(&q, "BSCH AAAB ANmusic TY1"), 0);
	assert_true(search_match_file(&q, "/music/a.mp3", 1, tth_a));
	assert_false(search_match_dir(&q, "/music/"));
	assert_int_equal(q_of(&q, "BSCH AAAB ANmusic"), 0);
	assert_true(search_match_dir(&q, "/my music/"));
	base32_encode(tth_a, TIGER_BYTES, b32, sizeof(b32));
	snprintf(req, sizeof(req), "BSCH AAAB TR%s TOt", b32);
	assert_int_equal(q_of(&q, req), 0);
	assert_true(q.has_tr);
	assert_true(search_match_file(&q, "/any/name", 7, tth_a));
	assert_false(search_match_file(&q, "/any/name", 7, tth_b));
	assert_false(search_match_dir(&q, "/any/"));
}

static void
test_malformed(void **state)
{
	struct search_query q;

	(void)state;
	assert_int_equal(q_of(&q, "BSCH AAAB TOonly"), -1); /* asks nothing */
	assert_int_equal(q_of(&q, "BSCH AAAB ANx LEabc"), -1);
	assert_int_equal(q_of(&q, "BSCH AAAB ANx GE-1"), -1);
	assert_int_equal(q_of(&q, "BSCH AAAB ANx TY7"), -1);
	assert_int_equal(q_of(&q, "BSCH AAAB TRnotbase32!"), -1);
	assert_int_equal(q_of(&q, "BSCH AAAB TRAAAA"), -1);
	assert_int_equal(q_of(&q, "BSCH AAAB ANx GE99999999999999999999999999"),
	                 -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terms),
		cmocka_unit_test(test_extensions_and_sizes),
		cmocka_unit_test(test_types_and_tth),
		cmocka_unit_test(test_malformed),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("search", tests, NULL, NULL);
}
