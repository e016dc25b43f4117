// SPDX-License-Identifier: MIT
/* test_ratings_parse.c - the rating parser: every reason a line is
 * malformed, format detection, and the fast block parser checked against
 * the exact line parser on many generated lines, good and bad. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"
#include "ratings_rng.h"
#include "table.h"

static int
line(const char *s, char sep, struct parse_row *row)
{
	return parse_line(s, strlen(s), sep, row);
}

static void
test_good_lines(void **state)
{
	struct parse_row r;

	(void)state;
	assert_int_equal(line("196\t242\t3\t881250949", '\t', &r), PARSE_OK);
	assert_int_equal(r.user, 196);
	assert_int_equal(r.item, 242);
	assert_int_equal(r.r2, 6);
	assert_int_equal(line("1,296,5.0,1147880044\r", ',', &r), PARSE_OK);
	assert_int_equal(r.item, 296);
	assert_int_equal(r.r2, 10);
	assert_int_equal(line("7,8,0.5,0", ',', &r), PARSE_OK);
	assert_int_equal(r.r2, 1);
	assert_int_equal(line("7,8,3.50,0", ',', &r), PARSE_OK);
	assert_int_equal(r.r2, 7);
	assert_int_equal(line("007,08,4,1", ',', &r), PARSE_OK);
	assert_int_equal(r.user, 7);
	assert_int_equal(r.item, 8);
	assert_int_equal(line("18446744073709551615,1,4,1", ',', &r), PARSE_OK);
	assert_int_equal(r.user, UINT64_MAX);
}

static void
test_bad_lines(void **state)
{
	static const struct {
		const char *s;
		int code;
	} cases[] = {
		{ "", PARSE_EEMPTY },
		{ "\r", PARSE_EEMPTY },
		{ "1,2,3", PARSE_EFIELDS },
		{ "1,2,3,4,5", PARSE_EFIELDS },
		{ "1\t2\t3\t4", PARSE_EFIELDS }, /* wrong separator */
		{ "0,2,3,4", PARSE_EUSER },
		{ ",2,3,4", PARSE_EUSER },
		{ "a,2,3,4", PARSE_EUSER },
		{ "-1,2,3,4", PARSE_EUSER },
		{ "18446744073709551616,2,3,4", PARSE_EUSER },
		{ "1,0,3,4", PARSE_EITEM },
		{ "1,,3,4", PARSE_EITEM },
		{ "1,2x,3,4", PARSE_EITEM },
		{ "1,2,,4", PARSE_ERATING },
		{ "1,2,x,4", PARSE_ERATING },
		{ "1,2,3.,4", PARSE_ERATING },
		{ "1,2,.5,4", PARSE_ERATING },
		{ "1,2,3.25,4", PARSE_ERATING },
		{ "1,2,3.51,4", PARSE_ERATING },
		{ "1,2,-1,4", PARSE_ERATING },
		{ "1,2, 3,4", PARSE_ERATING },
		{ "1,2,0,4", PARSE_ERANGE },
		{ "1,2,0.0,4", PARSE_ERANGE },
		{ "1,2,5.5,4", PARSE_ERANGE },
		{ "1,2,6,4", PARSE_ERANGE },
		{ "1,2,99999999999,4", PARSE_ERANGE },
		{ "1,2,3,", PARSE_ETIME },
		{ "1,2,3,12a", PARSE_ETIME },
		{ "1,2,3,-5", PARSE_ETIME },
		{ "1,2,3,4 ", PARSE_ETIME },
	};
	struct parse_row r;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = line(cases[i].s, ',', &r);

		if (got != cases[i].code)
			fail_msg("'%s': got %d (%s), want %d", cases[i].s, got,
			         parse_strerror(got), cases[i].code);
	}
	{
		char big[PARSE_LINE_MAX + 16];

		memset(big, '1', sizeof(big));
		assert_int_equal(parse_line(big, sizeof(big), ',', &r),
		                 PARSE_ELONG);
	}
	assert_string_equal(parse_strerror(PARSE_ERANGE),
	                    "rating outside 0.5-5");
	assert_string_equal(parse_strerror(-1), "unknown error");
}

static void
test_detect(void **state)
{
	struct parse_format f;
	static const char csv[] =
	        "userId,movieId,rating,timestamp\n1,2,3.5,4\n";
	static const char bom[] = "\xEF\xBB\xBF"
	                          "1\t2\t3\t4\n";

	(void)state;
	assert_int_equal(parse_detect("196\t242\t3\t8812\n", 15, false, &f), 0);
	assert_int_equal(f.sep, '\t');
	assert_false(f.header);
	assert_int_equal(f.data_off, 0);
	assert_int_equal(parse_detect(csv, sizeof(csv) - 1, true, &f), 0);
	assert_int_equal(f.sep, ',');
	assert_true(f.header);
	assert_int_equal(f.data_off, 32);
	assert_int_equal(parse_detect(bom, sizeof(bom) - 1, true, &f), 0);
	assert_int_equal(f.sep, '\t');
	assert_int_equal(f.data_off, 3);
	/* A header alone: its separator, and no data after it. */
	assert_int_equal(parse_detect(csv, 32, true, &f), 0);
	assert_int_equal(f.sep, ',');
	assert_int_equal(f.data_off, 32);
	/* Incomplete lines want more; no separator is not ratings. */
	assert_int_equal(parse_detect("1,2,3", 5, false, &f), -EAGAIN);
	assert_int_equal(parse_detect("h,e\n1,2", 7, false, &f), -EAGAIN);
	assert_int_equal(parse_detect("1 2 3 4\n", 8, true, &f), -EINVAL);
	assert_int_equal(parse_detect("", 0, true, &f), -EINVAL);
	/* A first line of punctuation is data, not a header. */
	assert_int_equal(parse_detect("--,--\n", 6, true, &f), 0);
	assert_false(f.header);
}

static size_t
gen_digits(char *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (char)('0' + rnd() % 10);
	return n;
}

/* A line that is usually good, with ids of 1..20 digits, all rating
 * shapes, CRLF, and now and then one damaged byte. */
static size_t
gen_line(char *p, char sep)
{
	static const char *const ratings[] = { "1",   "3",    "5",   "0",
		                               "6",   "0.5",  "3.5", "5.0",
		                               "5.5", "4.0",  "2.2", "3.",
		                               ".5",  "4.50", "x",   "" };
	size_t n = 0;
	const char *r = ratings[rnd() % 16];

	n += gen_digits(p + n, 1 + (unsigned)(rnd() % (rnd() % 4 ? 6 : 20)));
	p[n++] = sep;
	n += gen_digits(p + n, 1 + (unsigned)(rnd() % (rnd() % 4 ? 6 : 12)));
	p[n++] = sep;
	memcpy(p + n, r, strlen(r));
	n += strlen(r);
	p[n++] = sep;
	n += gen_digits(p + n, (unsigned)(rnd() % 12));
	if (rnd() % 8 == 0)
		p[n++] = '\r';
	if (rnd() % 6 == 0) {
		static const char junk[] = ",\t.\r x0\0-9";

		p[rnd() % n] = junk[rnd() % (sizeof(junk) - 1)];
	}
	if (rnd() % 50 == 0)
		n = 0; /* an empty line */
	p[n++] = '\n';
	return n;
}

struct bad_log {
	uint64_t lines[4096];
	int codes[4096];
	size_t n;
};

static void
bad_cb(void *arg, uint64_t lineno, int code, const char *p, size_t len)
{
	struct bad_log *log = arg;

	(void)p;
	(void)len;
	if (log->n < 4096) {
		log->lines[log->n] = lineno;
		log->codes[log->n] = code;
		log->n++;
	}
}

/* The two tables hold the same ids with the same totals; both are freed. */
static void
assert_tables_equal(struct table *fast, struct table *ref)
{
	uint64_t cf = 0, cr = 0;
	struct table_rec a, b;

	table_seal(fast);
	table_seal(ref);
	for (;;) {
		int x = table_next(fast, &cf, &a), y = table_next(ref, &cr, &b);

		assert_int_equal(x, y);
		if (!x)
			break;
		assert_int_equal(a.id, b.id);
		assert_int_equal(a.count, b.count);
		assert_int_equal(a.sum2, b.sum2);
	}
	table_fini(fast);
	table_fini(ref);
}

static void
check_block(char sep, bool by_user)
{
	enum { LINES = 3000 };
	char *mem = malloc(PARSE_PAD_BEFORE + LINES * 64 + PARSE_PAD_AFTER);
	char *buf = mem + PARSE_PAD_BEFORE;
	size_t len = 0, starts[LINES + 1];
	struct table fast, ref;
	struct parse_ctx c = { .sep = sep, .by_user = by_user, .table = &fast };
	struct bad_log *log = calloc(1, sizeof(*log));
	size_t nbad = 0;

	assert_non_null(mem);
	assert_non_null(log);
	memset(mem, '7', PARSE_PAD_BEFORE);
	for (int i = 0; i < LINES; i++) {
		starts[i] = len;
		len += gen_line(buf + len, sep);
	}
	starts[LINES] = len;
	memset(buf + len, '9', PARSE_PAD_AFTER); /* digits: the worst case */
	table_init(&fast);
	table_init(&ref);
	/* Now and then drain the packed cells every few hundred rows. */
	if (rnd() % 4 == 0)
		fast.drain_at = 1 + rnd() % 500;
	c.bad_cb = bad_cb;
	c.bad_arg = log;
	assert_ptr_equal(parse_block(&c, buf, buf + len), buf + len);
	assert_int_equal(c.lines, LINES);
	for (int i = 0; i < LINES; i++) {
		struct parse_row row;
		int code = parse_line(buf + starts[i],
		                      starts[i + 1] - starts[i] - 1, sep, &row);

		if (code == PARSE_OK) {
			table_add(&ref, by_user ? row.user : row.item, row.r2);
			continue;
		}
		assert_true(nbad < log->n);
		if (log->lines[nbad] != (uint64_t)i + 1 ||
		    log->codes[nbad] != code)
			fail_msg(
			        "line %d '%.*s': block says line %llu code %d, "
			        "parse_line says %d",
			        i + 1, (int)(starts[i + 1] - starts[i] - 1),
			        buf + starts[i],
			        (unsigned long long)log->lines[nbad],
			        log->codes[nbad], code);
		nbad++;
	}
	assert_int_equal(nbad, log->n);
	assert_int_equal(c.bad, nbad);
	/* Some lines of each kind, or the test proves little. */
	assert_true(nbad > LINES / 10);
	assert_true(nbad < LINES * 9 / 10);
	assert_tables_equal(&fast, &ref);
	free(log);
	free(mem);
}

static void
test_block_matches_line_parser(void **state)
{
	(void)state;
	for (int round = 0; round < 8; round++) {
		check_block(',', false);
		check_block(',', true);
		check_block('\t', false);
		check_block('\t', true);
	}
}

/* parse_block() over text (whole lines) against parse_line() line by
 * line: the same lines counted, the same malformed ones with the same
 * codes, the same totals.  The bytes after text look like good lines, so
 * a fast path that read a line past the end would be caught. */
static uint64_t check_text_drain(const char *text, size_t len, char sep,
                                 bool by_user, uint64_t drain_at);

static void
check_text(const char *text, size_t len, char sep, bool by_user)
{
	(void)check_text_drain(text, len, sep, by_user, 0);
}

/* check_text() with the packed cells drained every drain_at ratings (0:
 * the default); returns the lines the AVX-512 path took. */
static uint64_t
check_text_drain(const char *text, size_t len, char sep, bool by_user,
                 uint64_t drain_at)
{
	static const char pad[] = "1,2,3.5,4\n7\t8\t4\t9\n";
	char *mem = malloc(PARSE_PAD_BEFORE + len + PARSE_PAD_AFTER);
	char *buf = mem + PARSE_PAD_BEFORE;
	struct table fast, ref;
	struct parse_ctx c = { .sep = sep, .by_user = by_user, .table = &fast };
	struct bad_log *log = calloc(1, sizeof(*log));
	uint64_t lines = 0;
	size_t nbad = 0;

	assert_non_null(mem);
	assert_non_null(log);
	memset(mem, '7', PARSE_PAD_BEFORE);
	memcpy(buf, text, len);
	for (size_t i = 0; i < PARSE_PAD_AFTER; i++)
		buf[len + i] = pad[i % (sizeof(pad) - 1)];
	table_init(&fast);
	table_init(&ref);
	if (drain_at)
		fast.drain_at = drain_at;
	c.bad_cb = bad_cb;
	c.bad_arg = log;
	assert_ptr_equal(parse_block(&c, buf, buf + len), buf + len);
	for (const char *p = buf; p < buf + len;) {
		const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		struct parse_row row;
		int code;

		assert_non_null(nl);
		lines++;
		code = parse_line(p, (size_t)(nl - p), sep, &row);
		if (code == PARSE_OK) {
			table_add(&ref, by_user ? row.user : row.item, row.r2);
		} else {
			assert_true(nbad < log->n);
			if (log->lines[nbad] != lines ||
			    log->codes[nbad] != code)
				fail_msg("line %llu '%.*s': block says line "
				         "%llu "
				         "code %d, parse_line says %d",
				         (unsigned long long)lines,
				         (int)(nl - p), p,
				         (unsigned long long)log->lines[nbad],
				         log->codes[nbad], code);
			nbad++;
		}
		p = nl + 1;
	}
	assert_int_equal(c.lines, lines);
	assert_int_equal(nbad, log->n);
	assert_int_equal(c.bad, nbad);
	assert_tables_equal(&fast, &ref);
	free(log);
	free(mem);
	return c.vec_lines;
}

/* n digits of an id: up to 8 they are leading zeros and a value below
 * 100, longer ones are a value of 10^8 or more (so the tables stay small:
 * the flat array never has to grow past its first size). */
static size_t
edge_id(char *p, unsigned n, unsigned salt)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = n > 8       ? (char)('1' + (i + salt) % 9)
		       : i + 2 < n ? '0'
		                   : (char)('1' + (i + salt) % 9);
	return n;
}

/* A line of exactly len bytes with its '\n' ("\r\n" with crlf): ids of
 * the given lengths, the rating r, the timestamp's digits making up the
 * length.  Lines too short for that are cut (and malformed). */
static size_t
edge_line(char *p, size_t len, char sep, unsigned uid_len, unsigned mid_len,
          const char *r, bool crlf)
{
	char tmp[256];
	size_t n = 0;

	n += edge_id(tmp + n, uid_len, 1);
	tmp[n++] = sep;
	n += edge_id(tmp + n, mid_len, 4);
	tmp[n++] = sep;
	memcpy(tmp + n, r, strlen(r));
	n += strlen(r);
	tmp[n++] = sep;
	for (; n + 1 + crlf < len; n++)
		tmp[n] = (char)('0' + n % 10);
	if (n + 1 + crlf > len)
		n = len - 1 - crlf;
	if (crlf)
		tmp[n++] = '\r';
	tmp[n++] = '\n';
	memcpy(p, tmp, n);
	return n;
}

/*
 * The fast path's edges: the window is 64 bytes from a line's start and
 * takes the lines whose '\n' falls inside it.  A first line of every
 * length from 1 to 90 puts each following line (LF and CRLF, ids of 1, 8,
 * 9, 19 and 20 digits, ids of 0, bad ratings, lines longer than the window)
 * at every offset, so each crosses the window's end, ends exactly on its
 * last byte or just past it, and the block ends on each of them.
 */
static void
test_block_window_edges(void **state)
{
	static const struct {
		unsigned uid, mid;
		const char *r;
		bool crlf;
		size_t len;
	} probes[] = {
		{ 3, 4, "3.5", false, 26 },  { 6, 6, "4.0", true, 30 },
		{ 8, 8, "5", false, 40 },    { 9, 2, "2.5", false, 30 },
		{ 2, 9, "1.0", true, 31 },   { 20, 3, "4", false, 40 },
		{ 3, 19, "0.5", false, 36 }, { 1, 1, "3.5", false, 63 },
		{ 1, 1, "3.5", false, 64 },  { 1, 1, "3", true, 65 },
		{ 4, 4, "5.5", false, 25 },  { 4, 4, "0", false, 20 },
		{ 7, 7, "2.5", true, 62 },   { 2, 2, "4.5", false, 80 },
		{ 1, 1, "1", false, 8 },     { 2, 3, "3.5", true, 16 },
	};
	char *text = malloc(64 * 1024);
	static const char seps[] = { ',', '\t' };

	(void)state;
	assert_non_null(text);
	for (unsigned si = 0; si < 2; si++)
		for (size_t first = 1; first <= 90; first++) {
			size_t len = edge_line(text, first, seps[si], 2, 3,
			                       "4.5", false);
			char sep = seps[si];

			for (size_t i = 0; i < sizeof(probes) / sizeof(*probes);
			     i++) {
				/* u.data ratings are whole numbers. */
				const char *r = sep == ',' ? probes[i].r
				                : probes[i].r[0] == '5' ? "5"
				                                        : "2";

				len += edge_line(text + len, probes[i].len, sep,
				                 probes[i].uid, probes[i].mid,
				                 r, probes[i].crlf);
				/* The block may end after any line. */
				check_text(text, len, sep, false);
				check_text(text, len, sep, true);
			}
			/* A fifth field, or a stray byte, that the window's
			 * end cuts off from the line's '\n': a bad line (the
			 * exact parser's) makes the next step start at a
			 * line of `first` bytes, so the next one begins at
			 * offset `first` in the window. */
			for (unsigned i = 0; i < 5; i++) {
				static const char *const raw[] = {
					"12,345,3.5,1234567,89\n",
					"12,345,3.5,12345\r9\n",
					"12,345,3.5,123456789012.3\n",
					"000,5,2.5,77\n",
					"5,0000,2.5,77\n",
				};

				text[len++] = 'x';
				text[len++] = '\n';
				len += edge_line(text + len, first, sep, 2, 3,
				                 "4.5", false);
				for (const char *q = raw[i]; *q; q++)
					text[len++] = *q == ',' ? sep : *q;
				check_text(text, len, sep, false);
			}
		}
	free(text);
}

/* A good line in a file's usual shape: "U,M,D.F,T" (dot) or "U,M,D,T",
 * ids of 1..6 digits (movie ids up to max_item), a timestamp of 1..10
 * digits. */
static size_t
run_line(char *p, char sep, bool dot, unsigned max_item)
{
	size_t n =
	        (size_t)sprintf(p, "%u%c%u%c", 1 + (unsigned)(rnd() % 200000),
	                        sep, 1 + (unsigned)(rnd() % max_item), sep);
	unsigned r2 = (unsigned)(dot ? 1 + rnd() % 10 : 2 + 2 * (rnd() % 5));

	if (dot)
		n += (size_t)sprintf(p + n, "%u.%c", r2 / 2,
		                     r2 % 2 ? '5' : '0');
	else
		n += (size_t)sprintf(p + n, "%u", r2 / 2);
	p[n++] = sep;
	n += gen_digits(p + n, 1 + (unsigned)(rnd() % 10));
	p[n++] = '\n';
	return n;
}

/* Lines that break the AVX-512 path's usual shape, good or bad: it must
 * leave them (and the rest of their group of 16) to the other paths,
 * which agree with parse_line().  "S" is the separator. */
/* clang-format off */
static const char *const run_odd[] = {
	"0S5S3.5S7",         /* user 0 */
	"00000000S5S3.5S7",  /* user 0 in 8 digits */
	"00000001S5S3.5S7",  /* user 1 in 8 digits: good */
	"123456789S5S3.5S7", /* 9 digits: good, past the vector path */
	"18446744073709551615S5S3.5S7",
	"18446744073709551616S5S3.5S7",
	"5S0S3.5S7", /* movie 0 */
	"5S00000000S3.5S7",
	"5S00000009S3.5S7",  /* good */
	"5S99999999S3.5S7",  /* good, past the flat array */
	"5S123456789S3.5S7", /* good, 9 digits */
	"5S6S5.5S7",         /* out of range */
	"5S6S0.0S7",
	"5S6S0.5S7", /* good */
	"5S6S3.25S7",
	"5S6S3.2S7", /* not a half */
	"5S6S0.7S7",
	"5S6S5.9S7",
	"5S6S4.50S7", /* good */
	"5S6S0S7",
	"5S6S6S7",
	"5S6S5S7", /* good (integer rating in either file) */
	"5S6S3.S7",
	"5S6S.5S7",
	"1.5S6S3.5S7", /* a dot in an id */
	"5S6.5S3.5S7",
	"5S6S3.5S7.5", /* a dot in the timestamp */
	"5S6S3.5S",    /* no timestamp */
	"5S6S3.5",     /* 3 fields */
	"5S6S3.5S7S8", /* 5 fields */
	"5S6S3.5S7\r", /* CRLF: good */
	"5S6S3.5S7\r8",
	"", /* empty */
	"5S6S3.5S7x",
	"5 S6S3.5S7",
	"5S6S3.5S1234567890123456789012345678901234567890123456789012345678901",
	/* longer than a window: good */
	"5,6\t3.5S7", /* the other separator */
};
/* clang-format on */

/* Append a run_odd[] line with sep for S. */
static size_t
odd_line(char *p, unsigned which, char sep)
{
	size_t n = 0;

	for (const char *q = run_odd[which]; *q; q++)
		p[n++] = *q == 'S' ? sep : *q;
	p[n++] = '\n';
	return n;
}

/* How many lines of a run the AVX-512 path took: most of them where the
 * CPU has it (or the test proves nothing), none elsewhere. */
static void
assert_vec_share(uint64_t vec, uint64_t lines, uint64_t want_min)
{
	if (parse_fast_path() == 2) {
		if (vec < want_min)
			fail_msg("AVX-512 path took %llu of %llu lines, want "
			         ">= %llu",
			         (unsigned long long)vec,
			         (unsigned long long)lines,
			         (unsigned long long)want_min);
	} else {
		assert_int_equal(vec, 0);
	}
}

/*
 * Runs of lines in the usual shapes, which the AVX-512 path takes 16 at a
 * time, with one odd line at every position of a group of 16 (each odd
 * line after a different number of good ones), runs of every length
 * around a group's (the tail of fewer than 16 goes to the other paths),
 * and small drain bounds that cut runs short.
 */
static void
test_block_vector_runs(void **state)
{
	enum { ODD = sizeof(run_odd) / sizeof(*run_odd) };
	char *text = malloc(2 * 1024 * 1024);
	static const char seps[] = { ',', '\t' };

	(void)state;
	assert_non_null(text);
	for (unsigned si = 0; si < 2; si++)
		for (unsigned dot = 0; dot < 2; dot++) {
			char sep = seps[si];
			size_t len = 0;
			uint64_t lines = 0, vec;

			/* Each odd line at 4 offsets in a group, every
			 * offset for some of each kind. */
			for (unsigned i = 0; i < ODD; i++)
				for (unsigned o = 0; o < 4; o++) {
					unsigned off = (i * 5 + o * 4) % 16;

					for (unsigned j = 0; j < 48 + off; j++)
						len += run_line(text + len, sep,
						                dot, 100000);
					len += odd_line(text + len, i, sep);
					lines += 49 + off;
				}
			for (unsigned by_user = 0; by_user < 2; by_user++) {
				vec = check_text_drain(text, len, sep, by_user,
				                       0);
				assert_vec_share(vec, lines, lines / 2);
				vec = check_text_drain(text, len, sep, by_user,
				                       100 + rnd() % 300);
				assert_vec_share(vec, lines, lines / 4);
				/* Chunks too short for a group of 16. */
				(void)check_text_drain(text, len, sep, by_user,
				                       1 + rnd() % 20);
			}
			/* Long runs (the index is compacted many times and
			 * runs a group ahead of the checks) that end in an
			 * odd line, a few lines before the end, or none. */
			for (unsigned i = 0; i < 4; i++) {
				unsigned n = 3000 + 7 * i;

				len = 0;
				for (unsigned j = 0; j < n; j++)
					len += run_line(text + len, sep, dot,
					                100000);
				if (i < 3)
					len += odd_line(text + len,
					                (unsigned)(rnd() % ODD),
					                sep);
				for (unsigned j = 0; j < i * 9; j++)
					len += run_line(text + len, sep, dot,
					                100000);
				vec = check_text_drain(text, len, sep, i & 1,
				                       0);
				assert_vec_share(vec, n, n - 2 * 16);
			}
			/* Runs of 0..40 good lines: groups, a tail, or
			 * both. */
			for (unsigned n = 0; n <= 40; n++) {
				len = 0;
				for (unsigned j = 0; j < n; j++)
					len += run_line(text + len, sep, dot,
					                1000);
				/* The first line makes the flat array (the
				 * AVX-512 path needs one, here one that holds
				 * every movie id): then groups. */
				vec = check_text_drain(text, len, sep, false,
				                       0);
				assert_vec_share(vec, n,
				                 n > 16 ? (n - 1) - (n - 1) % 16
				                        : 0);
			}
		}
	free(text);
}

/* Sorted by user, keyed by user: groups of 16 lines of one user are
 * added as one sum; groups whose user changes inside are not. */
static void
test_block_vector_same_key(void **state)
{
	char *text = malloc(256 * 1024);
	size_t len = 0;
	uint64_t lines = 0, vec;

	(void)state;
	assert_non_null(text);
	for (unsigned user = 1; user <= 300; user++) {
		unsigned n = 1 + (unsigned)(rnd() % 60);

		for (unsigned j = 0; j < n; j++)
			len += (size_t)sprintf(text + len, "%u,%u,%u.%c,%u\n",
			                       user, 1 + j * 7,
			                       (1 + j % 10) / 2,
			                       (1 + j % 10) % 2 ? '5' : '0', j);
		lines += n;
	}
	vec = check_text_drain(text, len, ',', true, 0);
	assert_vec_share(vec, lines, lines / 2);
	vec = check_text_drain(text, len, ',', false, 0);
	assert_vec_share(vec, lines, lines / 2);
	free(text);
}

static void
test_block_strict_stops(void **state)
{
	static const char text[] = "1,2,3,4\n1,2,9,4\n1,3,4,5\n";
	char mem[PARSE_PAD_BEFORE + sizeof(text) + PARSE_PAD_AFTER] = { 0 };
	char *buf = mem + PARSE_PAD_BEFORE;
	struct table t;
	struct parse_ctx c = { .sep = ',', .stop_on_bad = true, .table = &t };
	const char *end;

	(void)state;
	memcpy(buf, text, sizeof(text) - 1);
	table_init(&t);
	end = parse_block(&c, buf, buf + sizeof(text) - 1);
	assert_ptr_equal(end, buf + 16);
	assert_int_equal(c.lines, 2);
	assert_int_equal(c.bad, 1);
	assert_int_equal(table_distinct(&t), 1);
	table_fini(&t);
}

static void
test_block_other_separator(void **state)
{
	static const char text[] = "1;2;3;4\n";
	char mem[PARSE_PAD_BEFORE + sizeof(text) + PARSE_PAD_AFTER] = { 0 };
	char *buf = mem + PARSE_PAD_BEFORE;
	struct table t;
	struct parse_ctx c = { .sep = ';', .table = &t };

	(void)state;
	memcpy(buf, text, sizeof(text) - 1);
	table_init(&t);
	parse_block(&c, buf, buf + sizeof(text) - 1);
	assert_int_equal(c.bad, 0);
	assert_int_equal(table_distinct(&t), 1);
	table_fini(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_lines),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_block_matches_line_parser),
		cmocka_unit_test(test_block_window_edges),
		cmocka_unit_test(test_block_vector_runs),
		cmocka_unit_test(test_block_vector_same_key),
		cmocka_unit_test(test_block_strict_stops),
		cmocka_unit_test(test_block_other_separator),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
