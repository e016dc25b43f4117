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

/* ---- The AVX-512 path ---- */
#if PARSE_AVX2
#define PARSE_AVX512 1
#define PARSE_V_TGT                                          \
	__attribute__((                                      \
	        target("avx512f,avx512bw,avx512vl,avx512dq," \
	               "avx512vbmi,avx512vbmi2,bmi,bmi2,popcnt,prfchw")))

/* Index entries: the non-digit bytes of some 150 lines, plus a block's
 * worth of slack for the stores. */
#define PARSE_V_CAP 1024

/* What parse_vec() works on. */
struct parse_vio {
	const char *p;      /* in: a line start; out: where it stopped */
	const char *end;    /* in: the end of whole lines */
	uint64_t *flat;     /* the table's flat array */
	uint64_t flat_len;  /* its length */
	uint64_t lines;     /* out: lines taken */
	const char *resume; /* out: the end of the lines to leave to the
	                     * other paths before trying again */
};

/* parse_v_index()'s constants, made once per call of parse_vec(). */
struct parse_v_cst {
	__m512i iota; /* 0, 1, ... 63 */
	__m512i zero; /* '0' */
	__m512i nine; /* 9 */
	/* parse_vec()'s: multipliers of digit pairs, pairs of pairs and
	 * halves; small numbers in 32- and 64-bit lanes. */
	__m512i m10, m100, m10000;
	__m512i eight, one32, seven32, tmin32, five64, ten64;
};

/* Index the non-digit bytes of the 64 bytes at p + i (those before
 * p + len): their offsets from p into pos, the bytes into chr.  Stores
 * 64 entries whatever the count; returns the count. */
PARSE_V_TGT static inline unsigned
parse_v_index(const char *p, uint64_t i, uint64_t len, uint32_t *pos,
              uint8_t *chr, const struct parse_v_cst *c)
{
	const __m512i v = _mm512_loadu_si512((const void *)(p + i));
	__mmask64 k =
	        _mm512_cmpgt_epu8_mask(_mm512_sub_epi8(v, c->zero), c->nine);
	const __m512i base = _mm512_set1_epi32((int)i);
	__m512i ix;
	unsigned n;

	if (len - i < 64)
		k = _bzhi_u64(k, (unsigned)(len - i));
	n = (unsigned)__builtin_popcountll(k);
	_mm512_storeu_si512(chr, _mm512_maskz_compress_epi8(k, v));
	ix = _mm512_maskz_compress_epi8(k, c->iota);
	_mm512_storeu_si512(
	        pos, _mm512_add_epi32(
	                     _mm512_cvtepu8_epi32(_mm512_castsi512_si128(ix)),
	                     base));
	if (__builtin_expect(n > 16, 0)) {
		_mm512_storeu_si512(
		        pos + 16,
		        _mm512_add_epi32(
		                _mm512_cvtepu8_epi32(
		                        _mm512_extracti32x4_epi32(ix, 1)),
		                base));
		_mm512_storeu_si512(
		        pos + 32,
		        _mm512_add_epi32(
		                _mm512_cvtepu8_epi32(
		                        _mm512_extracti32x4_epi32(ix, 2)),
		                base));
		_mm512_storeu_si512(
		        pos + 48,
		        _mm512_add_epi32(
		                _mm512_cvtepu8_epi32(
		                        _mm512_extracti32x4_epi32(ix, 3)),
		                base));
	}
	return n;
}

/* One field of 16 lines from the index: entry stride x j + f for line j,
 * out of the stride x 16 entries in r[] (stride 4 or 5). */
struct parse_v_perm {
	__m512i i01, i23, i4;
	__mmask16 k23, k4;
};

PARSE_V_TGT static inline struct parse_v_perm
parse_v_perm(unsigned stride, unsigned f)
{
	uint32_t a[16];
	struct parse_v_perm m = { .k23 = 0, .k4 = 0 };

	for (unsigned j = 0; j < 16; j++) {
		unsigned g = stride * j + f;

		a[j] = g & 31;
		if (g >= 32 && g < 64)
			m.k23 |= (__mmask16)(1u << j);
		if (g >= 64)
			m.k4 |= (__mmask16)(1u << j);
	}
	m.i01 = m.i23 = _mm512_loadu_si512(a);
	m.i4 = m.i01;
	return m;
}

PARSE_V_TGT static inline __m512i
parse_v_field(const __m512i *r, const struct parse_v_perm *m, bool five)
{
	__m512i x = _mm512_permutex2var_epi32(r[0], m->i01, r[1]);
	__m512i y = _mm512_permutex2var_epi32(r[2], m->i23, r[3]);

	x = _mm512_mask_blend_epi32(m->k23, x, y);
	if (five)
		x = _mm512_mask_blend_epi32(
		        m->k4, x, _mm512_permutexvar_epi32(m->i4, r[4]));
	return x;
}

/* The value of up to 8 digits at the top of each 64-bit lane, after
 * the lane is ANDed with keep (zero bytes before the number). */
PARSE_V_TGT static inline __m512i
parse_v_value(__m512i w, const struct parse_v_cst *c)
{
	w = _mm512_maddubs_epi16(w, c->m10);
	w = _mm512_madd_epi16(w, c->m100);
	return _mm512_add_epi64(_mm512_mul_epu32(w, c->m10000),
	                        _mm512_srli_epi64(w, 32));
}

/* Shift counts that keep the last len (1..8) bytes of a 64-bit lane,
 * for lines 8h..8h+7 of a group from their lengths in 32-bit lanes. */
PARSE_V_TGT static inline __m512i
parse_v_shift(__m512i len, unsigned h, const struct parse_v_cst *c)
{
	__m256i l = h ? _mm512_extracti64x4_epi64(len, 1)
	              : _mm512_castsi512_si256(len);

	return _mm512_cvtepu32_epi64(_mm256_slli_epi32(
	        _mm256_sub_epi32(_mm512_castsi512_si256(c->eight), l), 3));
}

/* The 16 bytes from 8 before the offsets ix[0], ix[2 stride],
 * ix[4 stride] and ix[6 stride] of p, one row to a 128-bit lane. */
PARSE_V_TGT static inline __m512i
parse_v_rows(const char *p, const uint32_t *ix, unsigned stride)
{
	__m256i lo = _mm256_castsi128_si256(
	        _mm_loadu_si128((const void *)(p + ix[0] - 8)));
	__m256i hi = _mm256_castsi128_si256(
	        _mm_loadu_si128((const void *)(p + ix[4 * stride] - 8)));

	lo = _mm256_inserti128_si256(
	        lo, _mm_loadu_si128((const void *)(p + ix[2 * stride] - 8)), 1);
	hi = _mm256_inserti128_si256(
	        hi, _mm_loadu_si128((const void *)(p + ix[6 * stride] - 8)), 1);
	return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* The offset after the last line's '\n': lane 15 of e, plus 1. */
PARSE_V_TGT static inline uint32_t
parse_v_last(__m512i e)
{
	return (uint32_t)_mm_extract_epi32(_mm512_extracti32x4_epi32(e, 3), 3) +
	       1;
}

/*
 * Lines 16 at a time while they have the file's usual shape ... (doc)
 */
PARSE_V_TGT static inline __attribute__((always_inline)) void
parse_vec(struct parse_vio *io, const char sep, const bool dot,
          const bool by_user)
{
	const unsigned stride = dot ? 5 : 4;
	const unsigned group = 16 * stride;
	const char *p = io->p;
	const uint64_t len = (uint64_t)(io->end - p);
	const char shape[5] = { sep, sep, dot ? '.' : sep, dot ? sep : '\n',
		                '\n' };
	uint8_t patb[80];
	struct parse_v_cst cst_v = {
		.iota = _mm512_set_epi8(
		        63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50,
		        49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36,
		        35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22,
		        21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7,
		        6, 5, 4, 3, 2, 1, 0),
		.zero = _mm512_set1_epi8('0'),
		.nine = _mm512_set1_epi8(9),
		.m10 = _mm512_set1_epi16(0x010A),
		.m100 = _mm512_set1_epi32(0x00010064),
		.m10000 = _mm512_set1_epi64(10000),
		.eight = _mm512_set1_epi32(8),
		.one32 = _mm512_set1_epi32(1),
		.seven32 = _mm512_set1_epi32(7),
		.tmin32 = _mm512_set1_epi32(dot ? 5 : 3),
		.five64 = _mm512_set1_epi64(5),
		.ten64 = _mm512_set1_epi64(10),
	};
	const struct parse_v_cst *const cst = &cst_v;

	/* Opaque to the compiler, so that it keeps them in registers rather
	 * than making them again for every block. */
	__asm__("" : "+v"(cst_v.iota), "+v"(cst_v.zero), "+v"(cst_v.nine));
	__asm__(""
	        : "+v"(cst_v.m10), "+v"(cst_v.m100), "+v"(cst_v.m10000),
	          "+v"(cst_v.eight), "+v"(cst_v.one32), "+v"(cst_v.seven32));
	__asm__("" : "+v"(cst_v.tmin32), "+v"(cst_v.five64), "+v"(cst_v.ten64));
	uint32_t pos[PARSE_V_CAP + 64];
	uint8_t chr[PARSE_V_CAP + 64];
	const struct parse_v_perm pa = parse_v_perm(stride, 0),
	                          pb = parse_v_perm(stride, 1),
	                          pe = parse_v_perm(stride, stride - 1);
	__m512i pat0, eprev = _mm512_set1_epi32(-1);
	__m128i pat1;
	__m512i flat_max = _mm512_set1_epi64((long long)io->flat_len - 1);
	/* The rating after the movie id, bytes 8.. of an X row. */
	__m512i r_want = _mm512_set1_epi64(
	        dot ? (long long)((uint64_t)(uint8_t)sep | (uint64_t)'.' << 16 |
	                          (uint64_t)(uint8_t)sep << 32)
	            : (long long)((uint64_t)(uint8_t)sep |
	                          (uint64_t)(uint8_t)sep << 16));
	__m512i r_mask = _mm512_set1_epi64(dot ? 0xFF00FF00FFLL : 0xFF00FFLL);
	__m512i ones = _mm512_set1_epi64(-1), one64 = _mm512_set1_epi64(1),
	        c64 = _mm512_set1_epi64(64), lownib = _mm512_set1_epi8(0x0F),
	        lownib64 = _mm512_set1_epi64(0x0F);
	uint64_t i = 0, lines = 0;
	unsigned k = 0, n = 0;
	/* The last group's (key, increment) pairs, not yet added: adding
	 * 0 to cell 0 is the empty case. */
	uint64_t held[4][8] = { { 0 } };

	__asm__(""
	        : "+v"(flat_max), "+v"(r_want), "+v"(r_mask), "+v"(ones),
	          "+v"(one64), "+v"(c64));
	__asm__("" : "+v"(lownib), "+v"(lownib64));

	for (unsigned j = 0; j < 80; j++)
		patb[j] = (uint8_t)shape[j % stride];
	pat0 = _mm512_loadu_si512(patb);
	pat1 = _mm_loadu_si128((const void *)(patb + 64));
	if (io->flat_len == 0 || len >= (UINT64_C(1) << 31))
		goto stop;
	for (;;) {
		__m512i r[5], A, B, E, S, ulen, mlen;
		__mmask16 ok;

		/* The index stays a group ahead: a group's 64-byte loads
		 * of chr and pos must not overlap stores still in flight
		 * (a load that spans two stores cannot take its bytes from
		 * them and waits until they are written: 3.45 -> 2.9 ns per
		 * row when the index was filled just in time). */
		while (n - k < 2 * group && i < len) {
			if (n + 4 * 64 > PARSE_V_CAP) {
				memmove(pos, pos + k, (n - k) * sizeof(*pos));
				memmove(chr, chr + k, n - k);
				n -= k;
				k = 0;
			}
			if (__builtin_expect(len - i >= 4 * 64, 1)) {
				/* Four whole blocks, no checks between. */
				for (unsigned b = 0; b < 4; b++, i += 64)
					n += parse_v_index(p, i, i + 64,
					                   pos + n, chr + n,
					                   cst);
			} else {
				n += parse_v_index(p, i, len, pos + n, chr + n,
				                   cst);
				i += 64;
			}
		}
		if (n - k < group)
			break;
		if (_mm512_cmpneq_epi8_mask(_mm512_loadu_si512(chr + k),
		                            pat0) != 0 ||
		    (dot &&
		     _mm_cmpneq_epi8_mask(
		             _mm_loadu_si128((const void *)(chr + k + 64)),
		             pat1) != 0))
			goto fail;
		for (unsigned j = 0; j < stride; j++)
			r[j] = _mm512_loadu_si512(pos + k + 16 * j);
		A = parse_v_field(r, &pa, dot);
		B = parse_v_field(r, &pb, dot);
		E = parse_v_field(r, &pe, dot);
		S = _mm512_add_epi32(_mm512_alignr_epi32(E, eprev, 15),
		                     cst->one32);
		ulen = _mm512_sub_epi32(A, S);
		mlen = _mm512_sub_epi32(_mm512_sub_epi32(B, A), cst->one32);
		ok = _mm512_cmple_epu32_mask(_mm512_sub_epi32(ulen, cst->one32),
		                             cst->seven32);
		ok = _mm512_mask_cmple_epu32_mask(
		        ok, _mm512_sub_epi32(mlen, cst->one32), cst->seven32);
		ok = _mm512_mask_cmpgt_epu32_mask(ok, _mm512_sub_epi32(E, B),
		                                  cst->tmin32);
		if (ok != 0xFFFF)
			goto fail;
		{
			/* Four rows of 16 bytes each around the movie id's end
			 * (X: the id's last 8 bytes, then the rating) and the
			 * user id's end (Y), per half h and parity q. */
			const __m512i kl = by_user ? ulen : mlen,
			              ol = by_user ? mlen : ulen;
			__mmask8 okq = 0xFF;
			__m512i o[4];

#pragma GCC unroll 2
			for (unsigned h = 0; h < 2; h++) {
				const __m512i ksh = parse_v_shift(kl, h, cst),
				              osh = parse_v_shift(ol, h, cst);

#pragma GCC unroll 2
				for (unsigned q = 0; q < 2; q++) {
					const uint32_t *ix =
					        pos + k + stride * (8 * h + q);
					const __m512i X = parse_v_rows(p,
					                               ix + 1,
					                               stride),
					              Y = parse_v_rows(p, ix,
					                               stride);
					const __m512i K = by_user ? Y : X,
					              O = by_user ? X : Y;
					const __m512i ks =
					        q ? _mm512_unpackhi_epi64(ksh,
					                                  c64)
					          : _mm512_unpacklo_epi64(ksh,
					                                  c64);
					const __m512i os =
					        q ? _mm512_unpackhi_epi64(osh,
					                                  c64)
					          : _mm512_unpacklo_epi64(osh,
					                                  c64);
					__m512i v, D, r2;
					__mmask8 okr, f5;

					v = parse_v_value(
					        _mm512_and_si512(
					                K,
					                _mm512_and_si512(
					                        _mm512_sllv_epi64(
					                                ones,
					                                ks),
					                        lownib)),
					        cst);
					/* Even lanes: the key in 1..flat_len -
					 * 1 and the other id not 0. */
					okq &= (__mmask8)((_mm512_mask_cmplt_epu64_mask(
					                           0x55,
					                           _mm512_sub_epi64(
					                                   v,
					                                   one64),
					                           flat_max) &
					                   _mm512_mask_test_epi64_mask(
					                           0x55, O,
					                           _mm512_and_si512(
					                                   _mm512_sllv_epi64(
					                                           ones,
					                                           os),
					                                   lownib))) |
					                  0xAA);
					/* Odd lanes: sep D . F sep, or sep D
					 * sep. */
					okr = _mm512_mask_cmpeq_epi64_mask(
					        0xAA,
					        _mm512_and_si512(X, r_mask),
					        r_want);
					D = _mm512_and_si512(
					        _mm512_srli_epi64(X, 8),
					        lownib64);
					r2 = _mm512_add_epi64(D, D);
					if (dot) {
						__m512i F = _mm512_and_si512(
						        _mm512_srli_epi64(X,
						                          24),
						        lownib64);

						f5 = _mm512_cmpeq_epi64_mask(
						        F, cst->five64);
						okr &= (__mmask8)(f5 |
						                  _mm512_cmpeq_epi64_mask(
						                          F,
						                          _mm512_setzero_si512()));
						r2 = _mm512_mask_add_epi64(
						        r2, f5, r2, one64);
					}
					okr = _mm512_mask_cmplt_epu64_mask(
					        okr,
					        _mm512_sub_epi64(r2, one64),
					        cst->ten64);
					okq &= (__mmask8)(okr | 0x55);
					o[2 * h + q] = _mm512_mask_blend_epi64(
					        0xAA, v,
					        _mm512_or_si512(
					                _mm512_slli_epi64(r2,
					                                  32),
					                one64));
				}
			}
			if (okq != 0xFF)
				goto fail;
			/* Keyed by user, in a file sorted by user: the 16 rows
			 * usually share the key, and 16 adds to one cell would
			 * wait on each other.  One add of their sum then. */
			if (by_user) {
				const __m512i k0 = _mm512_broadcastq_epi64(
				        _mm512_castsi512_si128(o[0]));
				__mmask8 same = 0x55;

				for (unsigned j = 0; j < 4; j++)
					same = _mm512_mask_cmpeq_epi64_mask(
					        same, o[j], k0);
				if (same == 0x55) {
					io->flat[_mm_cvtsi128_si64(
					        _mm512_castsi512_si128(
					                o[0]))] += (uint64_t)
					        _mm512_mask_reduce_add_epi64(
					                0xAA,
					                _mm512_add_epi64(
					                        _mm512_add_epi64(
					                                o[0],
					                                o[1]),
					                        _mm512_add_epi64(
					                                o[2],
					                                o[3])));
					goto next;
				}
			}
			/* The adds wait a group: the cells are scattered over
			 * an array larger than the L2 cache, so this group's
			 * are fetched now and written after the next group's
			 * work (`prefetchw`, every AVX-512 CPU has it: the
			 * lines come ready to be written, 1-3 % here). */
			for (unsigned j = 0; j < 4; j++)
				for (unsigned l = 0; l < 8; l += 2)
					io->flat[held[j][l]] += held[j][l + 1];
			for (unsigned j = 0; j < 4; j++)
				_mm512_storeu_si512(held[j], o[j]);
			for (unsigned j = 0; j < 4; j++)
				for (unsigned l = 0; l < 8; l += 2)
					__builtin_prefetch(
					        io->flat + held[j][l], 1);
		}
	next:
		eprev = E;
		k += group;
		lines += 16;
	}
	/* Fewer than 16 lines left: the other paths take them. */
stop:
	io->resume = io->end;
	goto out;
fail:
	/* Leave the group's 16 lines to the other paths, or as many whole
	 * lines as the index holds, or the one long line at the start. */
	{
		const char *s = p + parse_v_last(eprev);
		unsigned nl = 0, last = 0;

		for (unsigned j = k; j < n && nl < 16; j++)
			if (chr[j] == '\n') {
				nl++;
				last = j;
			}
		io->resume = nl ? p + pos[last] + 1
		                : (const char *)memchr(s, '\n',
		                                       (size_t)(io->end - s)) +
		                             1;
	}
out:
	if (lines)
		for (unsigned j = 0; j < 4; j++)
			for (unsigned l = 0; l < 8; l += 2)
				io->flat[held[j][l]] += held[j][l + 1];
	io->lines = lines;
	io->p = p + parse_v_last(eprev);
}

typedef void parse_vec_fn(struct parse_vio *io);

#define PARSE_VEC_DEF(name, sep, dot, by_user)                  \
	PARSE_V_TGT __attribute__((noinline)) static void name( \
	        struct parse_vio *io)                           \
	{                                                       \
		parse_vec(io, sep, dot, by_user);               \
	}
PARSE_VEC_DEF(parse_vec_csv_item, ',', false, false)
PARSE_VEC_DEF(parse_vec_csv_user, ',', false, true)
PARSE_VEC_DEF(parse_vec_csv_dot_item, ',', true, false)
PARSE_VEC_DEF(parse_vec_csv_dot_user, ',', true, true)
PARSE_VEC_DEF(parse_vec_tab_item, '\t', false, false)
PARSE_VEC_DEF(parse_vec_tab_user, '\t', false, true)
PARSE_VEC_DEF(parse_vec_tab_dot_item, '\t', true, false)
PARSE_VEC_DEF(parse_vec_tab_dot_user, '\t', true, true)

/* [tab][dot][by_user] */
static parse_vec_fn *const parse_vecs[2][2][2] = {
	{ { parse_vec_csv_item, parse_vec_csv_user },
	  { parse_vec_csv_dot_item, parse_vec_csv_dot_user } },
	{ { parse_vec_tab_item, parse_vec_tab_user },
	  { parse_vec_tab_dot_item, parse_vec_tab_dot_user } },
};

/* 1 to use the AVX-512 path: the CPU has AVX-512 F, BW, DQ, VL, VBMI and
 * VBMI2 (byte compression), and IPCKIT_RATINGS_NO_AVX512 is not set. */
static int
parse_isa512(void)
{
	static int isa = -1;

	if (isa < 0)
		isa = parse_isa() && __builtin_cpu_supports("avx512f") &&
		      __builtin_cpu_supports("avx512bw") &&
		      __builtin_cpu_supports("avx512dq") &&
		      __builtin_cpu_supports("avx512vl") &&
		      __builtin_cpu_supports("avx512vbmi") &&
		      __builtin_cpu_supports("avx512vbmi2") &&
		      getenv("IPCKIT_RATINGS_NO_AVX512") == NULL;
	return isa;
}
#endif
#ifndef PARSE_AVX512
#define PARSE_AVX512 0
#endif

/*
 * The block loop around a compiled parse_run(): it keeps the packed cells
 * within their drain bound and takes the rows the run stops at.
 */
static const char *
parse_block_run(struct parse_ctx *c, const char *p, const char *end,
                parse_run_fn *run, int vec)
{
	struct table *t = c->table;
	struct parse_run_io io;
	unsigned misses = 0;

	for (;;) {
		/* A good line is at least 8 bytes, so [p, lim) adds at most
		 * (lim - p) / 8 ratings to packed cells: the chunk keeps them
		 * within the drain bound, with no count in the hot loop. */
		const char *chunk, *lim;

		if (p == end)
			return p;
		if (t->pending >= t->drain_at)
			table_drain(t);
		chunk = parse_chunk_end(p, end, t->drain_at - t->pending);
		lim = chunk;
#if PARSE_AVX512
		if (vec && t->flat_len) {
			/* The first line says which shape to try. */
			const char *nl = memchr(p, '\n', (size_t)(chunk - p));
			struct parse_vio v = {
				.p = p,
				.end = chunk,
				.flat = t->flat,
				.flat_len = t->flat_len,
			};

			parse_vecs[c->sep == '\t']
			          [memchr(p, '.', (size_t)(nl - p)) != NULL]
			          [c->by_user](&v);
			p = v.p;
			c->lines += v.lines;
			c->vec_lines += v.lines;
			t->pending += v.lines;
			lim = v.resume;
			/* Lines of another shape, again and again: leave the
			 * next 64 KiB to the other paths. */
			misses = v.lines ? 0 : misses + 1;
			if (misses >= 4 && p < lim)
				lim = parse_chunk_end(p, chunk, 8192);
			if (p == end)
				return p;
		}
#else
		(void)vec;
		(void)misses;
#endif
		io = (struct parse_run_io){
			.p = p,
			.end = lim,
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

int
parse_fast_path(void)
{
#if PARSE_AVX512
	if (parse_isa512())
		return 2;
#endif
#if PARSE_AVX2
	return parse_isa();
#else
	return 0;
#endif
}

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
		                       runs[isa][c->sep == '\t'][c->by_user],
#if PARSE_AVX512
		                       parse_isa512()
#else
		                       0
#endif
		);
	}
	/* Any other separator: every line by the exact parser. */
	while (p < end) {
		p = parse_slow(c, p, end);
		if (c->stop_on_bad && c->bad)
			break;
	}
	return p;
}
