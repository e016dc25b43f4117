// SPDX-License-Identifier: MIT
/* parse.h - MovieLens rating lines: format detection by content, an exact
 * line parser that names what is wrong, and the fast block parser that
 * feeds a table at a few tens of instructions per row. */
#ifndef RATINGS_PARSE_H
#define RATINGS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "table.h"

/* Bytes that must be readable before a block's first byte and after its
 * last: the fast path loads 8 bytes ending at a number (at most 8 bytes
 * before a line's start) and the 64 bytes from a line's start without
 * checking the bounds, and uses none of what lies past the block. */
#define PARSE_PAD_BEFORE 8
#define PARSE_PAD_AFTER  64

/* The longest line taken; longer ones are malformed (PARSE_ELONG). */
#define PARSE_LINE_MAX 4096

/* Why a line is malformed; 0 for a good line. */
enum parse_err {
	PARSE_OK = 0,
	PARSE_EEMPTY,  /* empty line */
	PARSE_EFIELDS, /* not 4 fields with the file's separator */
	PARSE_EUSER,   /* user id: not a positive integer */
	PARSE_EITEM,   /* movie id: not a positive integer */
	PARSE_ERATING, /* rating: not a number in halves */
	PARSE_ERANGE,  /* rating outside 0.5-5 */
	PARSE_ETIME,   /* timestamp: not a non-negative integer */
	PARSE_ELONG,   /* longer than PARSE_LINE_MAX */
	PARSE_ECOUNT_, /* number of codes */
};

/* One good line: ids are 1..UINT64_MAX, r2 is the rating times 2 (1..10),
 * so sums stay exact integers. */
struct parse_row {
	uint64_t user;
	uint64_t item;
	unsigned r2;
};

/* parse_strerror - a phrase for a code ("rating outside 0.5-5"). */
const char *parse_strerror(int code);

/*
 * parse_line - parse one line of len bytes (no '\n'; a final '\r' is
 * allowed) with separator sep ('\t' or ',').  Returns PARSE_OK with *row
 * filled, or the reason the line is malformed.  Reads only [p, p+len).
 */
int parse_line(const char *p, size_t len, char sep, struct parse_row *row);

/* What the start of a file says about the rest. */
struct parse_format {
	char sep;        /* '\t' (u.data) or ',' (ratings.csv) */
	bool header;     /* the first line is a header, to be skipped */
	size_t data_off; /* offset of the first data line */
};

/*
 * parse_detect - recognise the format from the first len bytes of a file.
 * A first line that does not start with a digit (after a UTF-8 byte order
 * mark) is a header; the separator is whichever of tab and comma comes
 * first in the first data line.  Returns 0, or -EAGAIN when no complete
 * data line is in the buffer yet (eof false), or -EINVAL when the data has
 * no tab or comma (or there is no data line at all, eof true).
 */
int parse_detect(const char *buf, size_t len, bool eof,
                 struct parse_format *fmt);

/* Called for each malformed line: its number within the block's count
 * (1-based, from parse_ctx.lines), the code, and the line itself. */
typedef void parse_bad_fn(void *arg, uint64_t line, int code, const char *p,
                          size_t len);

/* A block parser's state, kept across blocks of one range. */
struct parse_ctx {
	char sep;            /* the file's separator */
	bool by_user;        /* key rows by user id instead of movie id */
	struct table *table; /* borrowed: where good rows go */
	uint64_t lines;      /* lines seen so far */
	uint64_t bad;        /* malformed lines so far */
	parse_bad_fn *bad_cb;
	void *bad_arg;
	/* Stop after the first malformed line (--strict).  parse_block()
	 * returns then, with `bad` set. */
	bool stop_on_bad;
	/* Lines taken 16 at a time by the AVX-512 path (a statistic, for
	 * the tests: the other paths give the same results). */
	uint64_t vec_lines;
};

/*
 * parse_block - parse every line in [p, end): end[-1] must be '\n', and
 * PARSE_PAD_BEFORE bytes before p and PARSE_PAD_AFTER bytes after end must
 * be readable (their content does not matter).  Good rows are added to the
 * table; bad ones counted and passed to bad_cb.  Returns the end of the
 * last line parsed: end, or earlier when stop_on_bad stopped it.
 */
const char *parse_block(struct parse_ctx *c, const char *p, const char *end);

/* parse_fast_path - the fast path parse_block() uses on this CPU: 2 for
 * AVX-512 (lines 16 at a time, then 1 as well), 1 for AVX2, 0 for SSE2
 * or portable code.  IPCKIT_RATINGS_NO_AVX512 and IPCKIT_RATINGS_NO_AVX2
 * in the environment step it down (the tests run every path). */
int parse_fast_path(void);

#endif
