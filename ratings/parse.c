// SPDX-License-Identifier: MIT
/* parse.c - rating lines.  parse_block() takes lines two at a time from a
 * 64-byte window at a line's start: SIMD compares give the masks of '\n'
 * and of non-digit bytes; the newline mask alone says where each line and
 * the next window begin, and the first set bits of the non-digit mask are
 * each line's field ends.  Ids of up to 8 digits are converted two at once
 * by SIMD multiply-adds (SWAR multiplies without AVX2).  Any line the fast
 * path does not fully vouch for goes to parse_line(), which is exact and
 * says what is wrong, so both paths accept the same lines and give the
 * same values. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "parse.h"

static const char *const parse_errors[PARSE_ECOUNT_] = {
	[PARSE_OK] = "ok",
	[PARSE_EEMPTY] = "empty line",
	[PARSE_EFIELDS] = "expected 4 fields (user, movie, rating, timestamp)",
	[PARSE_EUSER] = "user id is not a positive integer",
	[PARSE_EITEM] = "movie id is not a positive integer",
	[PARSE_ERATING] = "rating is not a number in halves (like 4 or 3.5)",
	[PARSE_ERANGE] = "rating outside 0.5-5",
	[PARSE_ETIME] = "timestamp is not a non-negative integer",
	[PARSE_ELONG] = "line longer than 4096 bytes",
};

const char *
parse_strerror(int code)
{
	if (code < 0 || code >= PARSE_ECOUNT_)
		return "unknown error";
	return parse_errors[code];
}

static int
parse_is_digit(char c)
{
	return (unsigned char)(c - '0') < 10;
}

/* A positive id in [p, end): digits only, no overflow, not 0. */
static int
parse_id(const char *p, const char *end, uint64_t *out)
{
	uint64_t v = 0;

	if (p == end)
		return -1;
	for (; p < end; p++) {
		unsigned d = (unsigned char)(*p - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v == 0)
		return -1;
	*out = v;
	return 0;
}

/* A rating in halves, as r2 = 2 x rating: "4", "3.5", "4.0", "0.50". */
static int
parse_rating(const char *p, const char *end, unsigned *r2)
{
	uint64_t whole = 0;
	unsigned half = 0;
	const char *q = p;

	while (q < end && parse_is_digit(*q)) {
		if (whole < 1000)
			whole = whole * 10 + (unsigned)(*q - '0');
		q++;
	}
	if (q == p)
		return PARSE_ERATING;
	if (q < end) {
		if (*q != '.' || q + 1 == end)
			return PARSE_ERATING;
		q++;
		/* The fraction must be .0... or .50... */
		if (*q == '5') {
			half = 1;
			q++;
		}
		for (; q < end; q++) {
			if (!parse_is_digit(*q))
				return PARSE_ERATING;
			if (*q != '0')
				return PARSE_ERATING;
		}
	}
	whole = whole * 2 + half;
	if (whole < 1 || whole > 10)
		return PARSE_ERANGE;
	*r2 = (unsigned)whole;
	return PARSE_OK;
}

int
parse_line(const char *p, size_t len, char sep, struct parse_row *row)
{
	const char *f[5], *end;
	int n = 1;

	if (len > 0 && p[len - 1] == '\r')
		len--;
	if (len == 0)
		return PARSE_EEMPTY;
	if (len > PARSE_LINE_MAX)
		return PARSE_ELONG;
	end = p + len;
	f[0] = p;
	for (const char *q = p; q < end; q++)
		if (*q == sep) {
			if (n == 4)
				return PARSE_EFIELDS;
			f[n++] = q + 1;
		}
	if (n != 4)
		return PARSE_EFIELDS;
	f[4] = end + 1;
	if (parse_id(f[0], f[1] - 1, &row->user))
		return PARSE_EUSER;
	if (parse_id(f[1], f[2] - 1, &row->item))
		return PARSE_EITEM;
	n = parse_rating(f[2], f[3] - 1, &row->r2);
	if (n != PARSE_OK)
		return n;
	if (f[3] == end)
		return PARSE_ETIME;
	for (const char *q = f[3]; q < end; q++)
		if (!parse_is_digit(*q))
			return PARSE_ETIME;
	return PARSE_OK;
}

/* The end of the line at p: its '\n', or end at EOF, or NULL when more
 * input is needed. */
static const char *
parse_line_end(const char *p, const char *end, bool eof)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : eof ? end : NULL;
}

static bool
parse_is_header(const char *p, const char *nl)
{
	if (p == nl || parse_is_digit(*p))
		return false;
	for (; p < nl; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
			return true;
	return false;
}

static char
parse_find_sep(const char *p, const char *nl)
{
	for (; p < nl; p++)
		if (*p == '\t' || *p == ',')
			return *p;
	return 0;
}

int
parse_detect(const char *buf, size_t len, bool eof, struct parse_format *fmt)
{
	const char *p = buf, *end = buf + len, *nl, *data, *data_nl;

	memset(fmt, 0, sizeof(*fmt));
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	nl = parse_line_end(p, end, eof);
	if (nl == NULL)
		return -EAGAIN;
	if (!parse_is_header(p, nl)) {
		fmt->data_off = (size_t)(p - buf);
		fmt->sep = parse_find_sep(p, nl);
		return fmt->sep ? 0 : -EINVAL;
	}
	fmt->header = true;
	data = nl < end ? nl + 1 : end;
	fmt->data_off = (size_t)(data - buf);
	data_nl = parse_line_end(data, end, eof);
	if (data_nl == NULL)
		return -EAGAIN;
	/* No data line: the header's separator will do. */
	fmt->sep = data == data_nl ? parse_find_sep(p, nl)
	                           : parse_find_sep(data, data_nl);
	return fmt->sep ? 0 : -EINVAL;
}

/* The 64-byte window at a line's start, as two bitmasks: bit i of nd set
 * when p[i] is not an ASCII digit, bit i of nl when it is '\n'. */
struct parse_masks {
	uint64_t nd;
	uint64_t nl;
};

#if defined(__SSE2__)
static inline struct parse_masks
parse_masks(const char *p)
{
	/* '0'..'9' become -128..-119 after the add, every other byte
	 * something larger: one signed compare finds the non-digits. */
	const __m128i off = _mm_set1_epi8((char)(0x80 - '0'));
	const __m128i lim = _mm_set1_epi8((char)(-128 + 9));
	const __m128i nl = _mm_set1_epi8('\n');
	struct parse_masks m = { 0, 0 };

	for (unsigned i = 0; i < 4; i++) {
		__m128i v = _mm_loadu_si128(
		        (const __m128i *)(const void *)(p + 16 * i));

		m.nd |= (uint64_t)(uint32_t)_mm_movemask_epi8(
		                _mm_cmpgt_epi8(_mm_add_epi8(v, off), lim))
		        << (16 * i);
		m.nl |= (uint64_t)(uint32_t)_mm_movemask_epi8(
		                _mm_cmpeq_epi8(v, nl))
		        << (16 * i);
	}
	return m;
}
#else
static inline struct parse_masks
parse_masks(const char *p)
{
	struct parse_masks m = { 0, 0 };

	for (unsigned i = 0; i < 64; i++) {
		m.nd |= (uint64_t)!parse_is_digit(p[i]) << i;
		m.nl |= (uint64_t)(p[i] == '\n') << i;
	}
	return m;
}
#endif

/* The fast path's tables, in one object so that one base register
 * reaches both. */
static const struct {
	/* keep[n + 1] keeps the last n bytes of a word: 0 for n = 0 and for
	 * n of 9 and more, so that one load and one AND give a word that is
	 * zero when a number is 0, empty or too long for the fast path (a
	 * field end in a 64-byte window is at most 63 bytes on).  The offset
	 * lets the movie id's length i2 - i1 - 1 index it as i2 - i1. */
	uint64_t keep[66];
	/* The packed-cell increment for a rating, TABLE_PACK(r2), indexed by
	 * the low nibbles of its digits "D.F" as F << 4 | D (or D alone for
	 * a rating "D"): what one multiply gathers from the word that holds
	 * "D.F" in its second to fourth bytes.  0 where that is not a half
	 * in 0.5-5. */
	uint64_t inc[256];
} parse_tab = {
#define PARSE_KEEP(n) [(n) + 1] = UINT64_C(0x0F0F0F0F0F0F0F0F) << (64 - 8 * (n))
	.keep = { PARSE_KEEP(1), PARSE_KEEP(2), PARSE_KEEP(3), PARSE_KEEP(4),
	          PARSE_KEEP(5), PARSE_KEEP(6), PARSE_KEEP(7), PARSE_KEEP(8) },
#undef PARSE_KEEP
#define PARSE_INC(d) \
	[(d)] = TABLE_PACK(2 * (d)), [5 << 4 | (d)] = TABLE_PACK(2 * (d) + 1)
	.inc = { [5 << 4] = TABLE_PACK(1),
	         PARSE_INC(1),
	         PARSE_INC(2),
	         PARSE_INC(3),
	         PARSE_INC(4),
	         [5] = TABLE_PACK(10) },
#undef PARSE_INC
};

/* The digits of a number of len bytes (len < 65) ending at end, as a
 * little-endian word of digit values with zeros in front: zero exactly
 * when the number is 0 or its length is not 1..8. */
static inline uint64_t
parse_swar_load(const char *end, uint64_t len)
{
	uint64_t w;

	memcpy(&w, end - 8, 8);
	return w & parse_tab.keep[len + 1];
}

/* The value of a parse_swar_load() word (first digit in the low byte). */
static inline uint64_t
parse_swar_value(uint64_t w)
{
	w = (w * 2561) >> 8;
	w = ((w & UINT64_C(0x00FF00FF00FF00FF)) * 6553601) >> 16;
	return ((w & UINT64_C(0x0000FFFF0000FFFF)) *
	        UINT64_C(42949672960001)) >>
	       32;
}

static const char *
parse_slow(struct parse_ctx *c, const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t len = (size_t)(nl - p);
	struct parse_row row;
	int err;

	c->lines++;
	err = parse_line(p, len, c->sep, &row);
	if (err == PARSE_OK) {
		table_add(c->table, c->by_user ? row.user : row.item, row.r2);
	} else {
		c->bad++;
		if (c->bad_cb)
			c->bad_cb(c->bad_arg, c->lines, err, p, len);
	}
	return nl + 1;
}

/* r2 for a rating "D.F" from the low nibbles of D and F (index D << 4 | F):
 * 0 where D.F is not a half in 0.5-5. */
static const uint8_t parse_r2_dot[256] = {
#define PARSE_R2(d) [(d) << 4] = 2 * (d), [(d) << 4 | 5] = 2 * (d) + 1
	[5] = 1,     PARSE_R2(1), PARSE_R2(2),
	PARSE_R2(3), PARSE_R2(4), [5 << 4] = 10,
#undef PARSE_R2
};

/* How parse_run() stopped. */
enum parse_stop {
	PARSE_STOP_END,  /* the block is done */
	PARSE_STOP_SLOW, /* the line at *pp needs parse_slow() */
	PARSE_STOP_ADD,  /* a good row whose id is past the flat array */
};

/*
 * One line at p whose '\n' is at p[nl] (nl < 64), with m0 the non-digit
 * mask of its bytes (bits past nl may be anything).  Returns true with the
 * key id (not yet known to fit the flat array) and the cell increment when
 * the line is well formed in one of the shapes the fast path knows: ids of
 * 1..8 digits, not 0; a rating "D", "D.0" or "D.5" within 0.5-5; a
 * timestamp of digits; '\n' or "\r\n".  Anything else (false) goes to
 * parse_line(), which accepts exactly the same lines, so both paths agree.
 *
 * The usual line costs two tzcnt for the ids' ends, one masked 8-byte
 * compare for the shape after the movie id (separators, '.', and the high
 * nibbles of the rating's digits and of the timestamp's first byte), one
 * table load that turns the rating's digit nibbles into the increment (0:
 * not a half in 0.5-5), a shift and tzcnt that must land on the known
 * '\n', and per id one load ANDed with a mask chosen by its length (zero:
 * 0, empty or over 8 digits).  Nothing here decides where the next line
 * starts: that comes from the newline mask alone, so the rows of a window
 * overlap in the pipeline.
 */
static inline __attribute__((always_inline)) bool
parse_row(const char *p, uint64_t m0, uint64_t nl, const char sep,
          const bool by_user, uint64_t *key_out, uint64_t *inc_out)
{
	/* Bytes at the rating: "D.F" + sep, as a little-endian word. */
	const uint32_t dot_want = (uint32_t)'.' << 8 | (uint32_t)(uint8_t)sep
	                                                       << 24;
	/* The usual shape after the movie id, in the bytes from its end:
	 * sep D . F sep T (ratings.csv) or sep D sep T (u.data), where D, F
	 * and T (the timestamp's first byte) are checked to be 0x30..0x3F
	 * here; the rating table and the line-end test do the rest. */
	const bool csv = sep == ',';
	const uint64_t shape_mask = csv ? UINT64_C(0xF0FFF0FFF0FF) : 0xF0FFF0FF;
	const uint64_t shape_want =
	        csv ? (uint64_t)(uint8_t)sep | UINT64_C(0x30) << 8 |
	                        (uint64_t)'.' << 16 | UINT64_C(0x30) << 24 |
	                        (uint64_t)(uint8_t)sep << 32 |
	                        UINT64_C(0x30) << 40
	            : (uint64_t)(uint8_t)sep | UINT64_C(0x30) << 8 |
	                        (uint64_t)(uint8_t)sep << 16 |
	                        UINT64_C(0x30) << 24;
	uint64_t m, key, other, w8, inc;
	/* Positions as 64-bit values: no extension before indexing.  The
	 * '\n' at nl is a non-digit, so i1 <= nl; each tzcnt below is taken
	 * only once the checks before it prove a set bit left at nl or
	 * below it. */
	uint64_t i1, i2, i3, i5, r2;
	uint32_t w;

	/* Field ends: user at i1, movie at i2 (<= nl once p[i1] is the
	 * separator, so every load below stays within the line + 8). */
	i1 = (uint64_t)__builtin_ctzll(m0);
	if (__builtin_expect(p[i1] != sep, 0))
		return false;
	m = m0 & (m0 - 1);
	i2 = (uint64_t)__builtin_ctzll(m);
	m &= m - 1;
	memcpy(&w8, p + i2, 8);
	if (__builtin_expect((w8 & shape_mask) == shape_want, 1)) {
		/* The shape has no '\n' in bytes i2..i2+5, so nl > i2 + 5
		 * and the shift stays below 64; T is a digit (or the line's
		 * end test fails). */
		if (csv) {
			i5 = (uint64_t)__builtin_ctzll(m0 >> (i2 + 5)) + i2 + 5;
			inc = parse_tab.inc[(w8 & 0x0F000F00) * 0x1001 >> 20 &
			                    0xFF];
		} else {
			i5 = (uint64_t)__builtin_ctzll(m0 >> (i2 + 3)) + i2 + 3;
			inc = parse_tab.inc[w8 >> 8 & 0x0F];
		}
		if (__builtin_expect(inc != 0 && i5 == nl, 1))
			goto good;
	}
	/* Any other good line: the rating field ends at i3. */
	if (__builtin_expect(p[i2] != sep, 0))
		return false;
	i3 = (uint64_t)__builtin_ctzll(m);
	m &= m - 1;
	if (__builtin_expect(i3 != i2 + 2, 0))
		return false;
	w = (uint32_t)(w8 >> 8);
	if (p[i3] == '.') {
		/* "D.F" + sep: F a digit, so the next non-digit is the
		 * separator two bytes on. */
		if (__builtin_expect((unsigned)__builtin_ctzll(m) != i3 + 2 ||
		                             (w & 0xFF00FF00u) != dot_want,
		                     0))
			return false;
		r2 = parse_r2_dot[(w & 0x0F) << 4 | (w >> 16 & 0x0F)];
		m &= m - 1;
		i3 += 2;
	} else {
		r2 = 2 * (w & 0x0F);
		if (__builtin_expect(p[i3] != sep, 0))
			return false;
	}
	/* The timestamp: digits from i3 + 1 up to '\n' or "\r\n". */
	i5 = (uint64_t)__builtin_ctzll(m);
	if (__builtin_expect(r2 - 1 > 9 || i5 == i3 + 1, 0))
		return false;
	if (__builtin_expect(i5 != nl, 0) && (i5 + 1 != nl || p[i5] != '\r'))
		return false;
	inc = TABLE_PACK(r2);
good:
	/* Both ids 1..8 digits, not 0. */
	key = parse_swar_load(p + (by_user ? i1 : i2),
	                      by_user ? i1 : i2 - i1 - 1);
	other = parse_swar_load(p + (by_user ? i2 : i1),
	                        by_user ? i2 - i1 - 1 : i1);
	if (__builtin_expect(key == 0 || other == 0, 0))
		return false;
	*key_out = key;
	*inc_out = inc;
	return true;
}

/* Two ids from their parse_swar_load() words (the second may be 0). */
struct parse_ids {
	uint64_t a, b;
};

static inline struct parse_ids
parse_swar_values(uint64_t ka, uint64_t kb)
{
	return (struct parse_ids){ parse_swar_value(ka), parse_swar_value(kb) };
}

/*
 * The hot loop: good rows with ids inside the flat array, nothing else;
 * it stops at the first other line.  Each step takes the masks of the
 * 64-byte window at p and the two whole lines whose '\n' is in it and
 * before end, converts both ids at once and checks both against the flat
 * array with one compare (flat_len is a power of two).  Anything less
 * usual (one line in the window, a line the fast path cannot take, an id
 * past the array) takes one line in the step and leaves the next one to
 * the next step.  The next step's p depends only on the newline mask, a
 * short chain, so the rows' checks of consecutive steps overlap.
 */
static inline __attribute__((always_inline)) enum parse_stop
parse_run(const char **pp, const char *end, const char sep, const bool by_user,
          struct parse_masks (*masks)(const char *),
          struct parse_ids (*values)(uint64_t, uint64_t), uint64_t *flat,
          uint64_t flat_len, uint64_t *lines, uint64_t *add_id,
          uint64_t *add_r2)
{
	const char *p = *pp;
	uint64_t n_lines = 0, k1, k2, inc1, inc2;
	enum parse_stop stop = PARSE_STOP_END;
	struct parse_ids ids;

	while (p < end) {
		const struct parse_masks mk = masks(p);
		/* The second line counts only when it ends before end, and
		 * within the window: bit 63 is a sentinel, so a '\n' there
		 * is left to the next step. */
		const uint64_t left = (uint64_t)(end - p);
		uint64_t e1, e2, s;

		/* A line of 64 bytes or more: the exact parser. */
		if (__builtin_expect(mk.nl == 0, 0))
			goto slow;
		e1 = (uint64_t)__builtin_ctzll(mk.nl);
		if (__builtin_expect(
		            !parse_row(p, mk.nd, e1, sep, by_user, &k1, &inc1),
		            0))
			goto slow;
		s = e1 + 1;
		e2 = (uint64_t)__builtin_ctzll((mk.nl & (mk.nl - 1)) |
		                               UINT64_C(1) << 63);
		if (__builtin_expect(e2 < 63 && e2 < left, 1) &&
		    __builtin_expect(parse_row(p + s, mk.nd >> s, e2 - s, sep,
		                               by_user, &k2, &inc2),
		                     1)) {
			ids = values(k1, k2);
			if (__builtin_expect((ids.a | ids.b) < flat_len, 1)) {
				flat[ids.a] += inc1;
				flat[ids.b] += inc2;
				n_lines += 2;
				p += e2 + 1;
				continue;
			}
		}
		/* The first line alone. */
		ids = values(k1, 0);
		n_lines++;
		p += s;
		if (__builtin_expect(ids.a >= flat_len, 0)) {
			*add_id = ids.a;
			*add_r2 = inc1 >> 32;
			stop = PARSE_STOP_ADD;
			break;
		}
		flat[ids.a] += inc1;
	}
	goto out;
slow:
	stop = PARSE_STOP_SLOW;
out:
	*pp = p;
	*lines += n_lines;
	return stop;
}

/* The end of a run of whole lines from p with at most `rows` (>= 1) good
 * rows in it: at most rows x 8 bytes, or a single line; all of [p, end)
 * when that is short enough. */
static const char *
parse_chunk_end(const char *p, const char *end, uint64_t rows)
{
	const char *nl;

	if ((uint64_t)(end - p) / 8 <= rows)
		return end;
	nl = memrchr(p, '\n', rows * 8);
	if (nl == NULL) /* one line longer than that: one row at most */
		nl = memchr(p + rows * 8, '\n', (size_t)(end - p) - rows * 8);
	return nl + 1;
}

/* What a compiled parse_run() works on: the run [p, end) and the table's
 * flat array in; where it stopped, the lines it took and a row for
 * table_add_slow() out. */
struct parse_run_io {
	const char *p;
	const char *end;
	uint64_t *flat;
	uint64_t flat_len;
	uint64_t lines;
	uint64_t add_id;
	uint64_t add_r2;
};

typedef enum parse_stop parse_run_fn(struct parse_run_io *io);

/* One copy of parse_run() per instruction set, separator and key, each a
 * function of its own, so that its loop has every register to itself. */
#define PARSE_RUN_DEF(name, attr, sep, by_user, masks, value)                 \
	attr __attribute__((noinline)) static enum parse_stop name(           \
	        struct parse_run_io *io)                                      \
	{                                                                     \
		return parse_run(&io->p, io->end, sep, by_user, masks, value, \
		                 io->flat, io->flat_len, &io->lines,          \
		                 &io->add_id, &io->add_r2);                   \
	}
#define PARSE_RUN_DEFS(isa, attr, masks, value)                             \
	PARSE_RUN_DEF(parse_run_##isa##_csv_item, attr, ',', false, masks,  \
	              value)                                                \
	PARSE_RUN_DEF(parse_run_##isa##_csv_user, attr, ',', true, masks,   \
	              value)                                                \
	PARSE_RUN_DEF(parse_run_##isa##_tab_item, attr, '\t', false, masks, \
	              value)                                                \
	PARSE_RUN_DEF(parse_run_##isa##_tab_user, attr, '\t', true, masks,  \
	              value)
#define PARSE_RUN_TABLE(isa)                                                \
	{                                                                   \
		{ parse_run_##isa##_csv_item, parse_run_##isa##_csv_user }, \
		        { parse_run_##isa##_tab_item,                       \
			  parse_run_##isa##_tab_user },                     \
	}

PARSE_RUN_DEFS(sse2, , parse_masks, parse_swar_values)

/*
 * The block loop around a compiled parse_run(): it keeps the packed cells
 * within their drain bound and takes the rows the run stops at.
 */
static const char *
parse_block_run(struct parse_ctx *c, const char *p, const char *end,
                parse_run_fn *run)
{
	struct table *t = c->table;
	struct parse_run_io io;

	for (;;) {
		/* A good line is at least 8 bytes, so [p, lim) adds at most
		 * (lim - p) / 8 ratings to packed cells: the chunk keeps them
		 * within the drain bound, with no count in the hot loop. */
		if (t->pending >= t->drain_at)
			table_drain(t);
		io = (struct parse_run_io){
			.p = p,
			.end = parse_chunk_end(p, end,
			                       t->drain_at - t->pending),
			.flat = t->flat,
			.flat_len = t->flat_len,
		};
		enum parse_stop stop = run(&io);

		p = io.p;
		c->lines += io.lines;
		t->pending += io.lines;
		switch (stop) {
		case PARSE_STOP_END:
			if (p == end)
				return p;
			break;
		case PARSE_STOP_ADD:
			table_add_slow(t, io.add_id, 1, (unsigned)io.add_r2);
			break;
		case PARSE_STOP_SLOW:
			p = parse_slow(c, p, end);
			if (c->stop_on_bad && c->bad)
				return p;
			break;
		}
	}
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define PARSE_AVX2 1

/* parse_masks() in two 32-byte loads. */
__attribute__((target("avx2,bmi,bmi2"))) static inline struct parse_masks
parse_masks_avx2(const char *p)
{
	/* '0'..'9' become -128..-119 after the add, every other byte
	 * something larger: one signed compare finds the digits. */
	const __m256i off = _mm256_set1_epi8((char)(0x80 - '0'));
	const __m256i lim = _mm256_set1_epi8((char)(-128 + 10));
	const __m256i nl = _mm256_set1_epi8('\n');
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);
	__m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
	struct parse_masks m;

	m.nd = ~((uint64_t)(uint32_t)_mm256_movemask_epi8(
	                 _mm256_cmpgt_epi8(lim, _mm256_add_epi8(a, off))) |
	         (uint64_t)(uint32_t)_mm256_movemask_epi8(
	                 _mm256_cmpgt_epi8(lim, _mm256_add_epi8(b, off)))
	                 << 32);
	m.nl = (uint64_t)(uint32_t)_mm256_movemask_epi8(
	               _mm256_cmpeq_epi8(a, nl)) |
	       (uint64_t)(uint32_t)_mm256_movemask_epi8(
	               _mm256_cmpeq_epi8(b, nl))
	               << 32;
	return m;
}

/* parse_swar_values() with SSSE3/SSE4.1 multiply-adds, both ids in one
 * register: pairs of digits, then pairs of those, then the halves. */
__attribute__((target("avx2,bmi,bmi2"))) static inline struct parse_ids
parse_values_avx2(uint64_t ka, uint64_t kb)
{
	__m128i v = _mm_set_epi64x((long long)kb, (long long)ka);
	uint64_t r;

	v = _mm_maddubs_epi16(v, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10,
	                                       1, 10, 1, 10, 1, 10, 1));
	v = _mm_madd_epi16(v, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
	v = _mm_packus_epi32(v, v);
	v = _mm_madd_epi16(
	        v, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
	r = (uint64_t)_mm_cvtsi128_si64(v);
	return (struct parse_ids){ (uint32_t)r, r >> 32 };
}

PARSE_RUN_DEFS(avx2, __attribute__((target("avx2,bmi,bmi2"))), parse_masks_avx2,
               parse_values_avx2)

/* 1 to use the AVX2 path: the CPU has AVX2 and BMI1/2, and
 * IPCKIT_RATINGS_NO_AVX2 is not set (the tests run both paths).  An
 * AVX-512BW window (one 64-byte compare) was measured slower here. */
static int
parse_isa(void)
{
	static int isa = -1;

	if (isa < 0)
		isa = __builtin_cpu_supports("avx2") &&
		      __builtin_cpu_supports("bmi") &&
		      __builtin_cpu_supports("bmi2") &&
		      getenv("IPCKIT_RATINGS_NO_AVX2") == NULL;
	return isa;
}
#else
#define PARSE_AVX2 0
#endif

const char *
parse_block(struct parse_ctx *c, const char *p, const char *end)
{
	static parse_run_fn *const runs[][2][2] = {
		PARSE_RUN_TABLE(sse2),
#if PARSE_AVX2
		PARSE_RUN_TABLE(avx2),
#endif
	};

	if (c->sep == ',' || c->sep == '\t') {
#if PARSE_AVX2
		int isa = parse_isa();
#else
		int isa = 0;
#endif
		return parse_block_run(c, p, end,
		                       runs[isa][c->sep == '\t'][c->by_user]);
	}
	/* Any other separator: every line by the exact parser. */
	while (p < end) {
		p = parse_slow(c, p, end);
		if (c->stop_on_bad && c->bad)
			break;
	}
	return p;
}
