// SPDX-License-Identifier: MIT
/* parse.c - rating lines.  parse_block() takes a line in one pass over a
 * 32-byte window: a SIMD compare gives the mask of non-digit bytes, whose
 * first four set bits are the field ends; ids of up to 8 digits are
 * converted by SWAR multiplies.  Any line the fast path does not fully
 * vouch for goes to parse_line(), which is exact and says what is wrong,
 * so both paths accept the same lines and give the same values. */
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

#if defined(__SSE2__)
/* Bit i set when p[i] is not an ASCII digit, for i < 32; bits 32..63
 * always set, so the mask never runs out of bits however many are taken
 * off, and a field end found past the window reads as 32 or more. */
static inline uint64_t
parse_nondigits(const char *p)
{
	const __m128i off = _mm_set1_epi8((char)(0x80 - '0'));
	const __m128i lim = _mm_set1_epi8((char)(-128 + 10));
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	/* '0'..'9' become -128..-119, every other byte something larger. */
	uint32_t lo = (uint32_t)_mm_movemask_epi8(
	        _mm_cmplt_epi8(_mm_add_epi8(a, off), lim));
	uint32_t hi = (uint32_t)_mm_movemask_epi8(
	        _mm_cmplt_epi8(_mm_add_epi8(b, off), lim));

	return ((uint64_t) ~(lo | hi << 16) & 0xFFFFFFFFu) | ~UINT64_C(0) << 32;
}
#else
static inline uint64_t
parse_nondigits(const char *p)
{
	uint64_t m = ~UINT64_C(0) << 32;

	for (unsigned i = 0; i < 32; i++)
		m |= (uint64_t)!parse_is_digit(p[i]) << i;
	return m;
}
#endif

/* Masks that keep the last len bytes of a word (len 1..8; [0] unused). */
static const uint64_t parse_keep[9] = {
	0,
	UINT64_C(0x0F00000000000000),
	UINT64_C(0x0F0F000000000000),
	UINT64_C(0x0F0F0F0000000000),
	UINT64_C(0x0F0F0F0F00000000),
	UINT64_C(0x0F0F0F0F0F000000),
	UINT64_C(0x0F0F0F0F0F0F0000),
	UINT64_C(0x0F0F0F0F0F0F0F00),
	UINT64_C(0x0F0F0F0F0F0F0F0F),
};

/* The len (1..8) digits ending at end, as a little-endian word of digit
 * values with zeros in front: zero exactly when the number is 0. */
static inline uint64_t
parse_swar_load(const char *end, unsigned len)
{
	uint64_t w;

	memcpy(&w, end - 8, 8);
	return w & parse_keep[len];
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

/* The same, indexed F << 4 | D: what one multiply gathers from the word
 * that holds "D.F" in its second to fourth bytes. */
static const uint8_t parse_r2_fd[256] = {
#define PARSE_R2(d) [(d)] = 2 * (d), [5 << 4 | (d)] = 2 * (d) + 1
	[5 << 4] = 1, PARSE_R2(1), PARSE_R2(2),
	PARSE_R2(3),  PARSE_R2(4), [5] = 10,
#undef PARSE_R2
};

/* How parse_run() stopped. */
enum parse_stop {
	PARSE_STOP_END,  /* the block is done */
	PARSE_STOP_SLOW, /* the line at *pp needs parse_slow() */
	PARSE_STOP_ADD,  /* a good row whose id is past the flat array */
};

/*
 * The hot loop: good rows with ids inside the flat array, nothing else.
 * A line is taken here only when the window proves it well formed: ids of
 * 1..8 digits, not 0; a rating
 * "D", "D.0" or "D.5" within 0.5-5; a timestamp of digits; '\n' or
 * "\r\n" by byte 32.  Anything else goes to parse_line(), which
 * accepts exactly the same lines, so both paths agree.  The branches are
 * never taken on good input.
 */
static inline __attribute__((always_inline)) enum parse_stop
parse_run(const char **pp, const char *end, const char sep, const bool by_user,
          uint64_t (*nondigits)(const char *), uint64_t *flat,
          uint64_t flat_len, uint64_t *lines, uint64_t *add_id,
          uint64_t *add_r2)
{
	/* Bytes at the rating: "D.F" + sep, as a little-endian word. */
	const uint32_t dot_want = (uint32_t)'.' << 8 | (uint32_t)(uint8_t)sep
	                                                       << 24;
	/* The usual shape after the movie id, in the bytes from its end:
	 * sep D . F sep (ratings.csv) or sep D sep (u.data). */
	const bool csv = sep == ',';
	const uint64_t shape_mask = csv ? UINT64_C(0xFF00FF00FF) : 0xFF00FF;
	const uint64_t shape_want =
	        csv ? (uint64_t)(uint8_t)sep | (uint64_t)'.' << 16 |
	                        (uint64_t)(uint8_t)sep << 32
	            : (uint64_t)(uint8_t)sep | (uint64_t)(uint8_t)sep << 16;
	const char *p = *pp;
	uint64_t n_lines = 0;
	enum parse_stop stop = PARSE_STOP_END;

	while (p < end) {
		const uint64_t m0 = nondigits(p);
		uint64_t m = m0, key, other, id, w8;
		/* Positions as 64-bit values: no extension before indexing. */
		uint64_t i1, i2, i3, i5, r2, klen, olen;
		uint32_t w;

		/* Field ends: user at i1, movie at i2. */
		i1 = (uint64_t)__builtin_ctzll(m);
		m &= m - 1;
		i2 = (uint64_t)__builtin_ctzll(m);
		m &= m - 1;
		klen = by_user ? i1 : i2 - i1 - 1;
		olen = by_user ? i2 - i1 - 1 : i1;
		/* Both ids 1..8 digits (longer ones: the exact parser). */
		if (__builtin_expect(
		            ((klen - 1) | (olen - 1)) > 7 || p[i1] != sep, 0))
			goto slow;
		/* The file's usual shape, proved by one look at the mask (the
		 * digits and non-digits after i2) and one masked compare (which
		 * non-digits they are); then the timestamp's end. */
		memcpy(&w8, p + i2, 8);
		if (csv) {
			i5 = (uint64_t)__builtin_ctzll(m0 >> (i2 + 5)) + i2 + 5;
			r2 = parse_r2_fd[(w8 & 0x0F000F00) * 0x1001 >> 20 &
			                 0xFF];
			if (__builtin_expect((m0 >> i2 & 0x1F) == 0x15 &&
			                             (w8 & shape_mask) ==
			                                     shape_want &&
			                             r2 != 0 && i5 > i2 + 5 &&
			                             p[i5] == '\n',
			                     1))
				goto good;
		} else {
			i5 = (uint64_t)__builtin_ctzll(m0 >> (i2 + 3)) + i2 + 3;
			r2 = 2 * ((w8 >> 8 & 0xFF) - '0');
			if (__builtin_expect(
			            (m0 >> i2 & 0x7) == 0x5 &&
			                    (w8 & shape_mask) == shape_want &&
			                    r2 - 2 <= 8 && i5 > i2 + 3 &&
			                    p[i5] == '\n',
			            1))
				goto good;
		}
		/* Any other good line: the rating field ends at i3. */
		i3 = (uint64_t)__builtin_ctzll(m);
		m &= m - 1;
		if (__builtin_expect(p[i2] != sep || i3 != i2 + 2, 0))
			goto slow;
		w = (uint32_t)(w8 >> 8);
		if (p[i3] == '.') {
			/* "D.F" + sep: F a digit, so the next non-digit
			 * is the separator two bytes on. */
			if (__builtin_expect(
			            (unsigned)__builtin_ctzll(m) != i3 + 2 ||
			                    (w & 0xFF00FF00u) != dot_want,
			            0))
				goto slow;
			r2 = parse_r2_dot[(w & 0x0F) << 4 | (w >> 16 & 0x0F)];
			m &= m - 1;
			i3 += 2;
		} else {
			r2 = 2 * (w & 0x0F);
			if (__builtin_expect(p[i3] != sep, 0))
				goto slow;
		}
		/* The forced bits 32.. make i5 at most 33: a line whose '\n' is
		 * at 32 is taken (its bytes up to 31 are digits), any other
		 * byte there sends it to the slow path. */
		i5 = (uint64_t)__builtin_ctzll(m);
		if (__builtin_expect(r2 - 1 > 9 || i5 == i3 + 1, 0))
			goto slow;
		if (__builtin_expect(p[i5] != '\n', 0)) {
			if (p[i5] != '\r' || p[i5 + 1] != '\n')
				goto slow;
			i5++;
		}
	good:
		key = parse_swar_load(p + (by_user ? i1 : i2), (unsigned)klen);
		/* The other id's digits: not all zero proves it positive. */
		other = parse_swar_load(p + (by_user ? i2 : i1),
		                        (unsigned)olen);
		if (__builtin_expect(key == 0 || other == 0, 0))
			goto slow;
		id = parse_swar_value(key);
		n_lines++;
		p += i5 + 1;
		if (__builtin_expect(id >= flat_len, 0)) {
			*add_id = id;
			*add_r2 = r2;
			stop = PARSE_STOP_ADD;
			break;
		}
		flat[id] += TABLE_PACK(r2);
		continue;
	slow:
		stop = PARSE_STOP_SLOW;
		break;
	}
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

/*
 * The fast path, specialised by the compiler for each separator and key.
 * parse_run() has no calls inside, so its constants and the table stay
 * in registers; rows it cannot finish come back here.
 */
static inline __attribute__((always_inline)) const char *
parse_block_t(struct parse_ctx *c, const char *p, const char *end,
              const char sep, const bool by_user,
              uint64_t (*nondigits)(const char *))
{
	struct table *t = c->table;
	uint64_t id, r2, before;
	const char *lim;

	for (;;) {
		/* A good line is at least 8 bytes, so [p, lim) adds at most
		 * (lim - p) / 8 ratings to packed cells: the chunk keeps them
		 * within the drain bound, with no count in the hot loop. */
		if (t->pending >= t->drain_at)
			table_drain(t);
		lim = parse_chunk_end(p, end, t->drain_at - t->pending);
		before = c->lines;
		switch (parse_run(&p, lim, sep, by_user, nondigits, t->flat,
		                  t->flat_len, &c->lines, &id, &r2)) {
		case PARSE_STOP_END:
			t->pending += c->lines - before;
			if (p == end)
				return p;
			break;
		case PARSE_STOP_ADD:
			t->pending += c->lines - before;
			table_add_slow(t, id, 1, (unsigned)r2);
			break;
		case PARSE_STOP_SLOW:
			t->pending += c->lines - before;
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

/* parse_nondigits() in one 32-byte compare. */
__attribute__((target("avx2,bmi"))) static inline uint64_t
parse_nondigits_avx2(const char *p)
{
	const __m256i off = _mm256_set1_epi8((char)(0x80 - '0'));
	const __m256i lim = _mm256_set1_epi8((char)(-128 + 10));
	__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
	uint32_t d = (uint32_t)_mm256_movemask_epi8(
	        _mm256_cmpgt_epi8(lim, _mm256_add_epi8(v, off)));

	return ((uint64_t)~d & 0xFFFFFFFFu) | ~UINT64_C(0) << 32;
}

/* The same fast path compiled for AVX2 and BMI (tzcnt, blsr), chosen at
 * run time: the window costs one load and compare instead of two. */
__attribute__((target("avx2,bmi"))) static const char *
parse_block_avx2(struct parse_ctx *c, const char *p, const char *end)
{
	if (c->sep == ',')
		return c->by_user ? parse_block_t(c, p, end, ',', true,
		                                  parse_nondigits_avx2)
		                  : parse_block_t(c, p, end, ',', false,
		                                  parse_nondigits_avx2);
	return c->by_user ? parse_block_t(c, p, end, '\t', true,
	                                  parse_nondigits_avx2)
	                  : parse_block_t(c, p, end, '\t', false,
	                                  parse_nondigits_avx2);
}
#else
#define PARSE_AVX2 0
#endif

const char *
parse_block(struct parse_ctx *c, const char *p, const char *end)
{
#if PARSE_AVX2
	static int avx2 = -1;

	if (avx2 < 0)
		avx2 = __builtin_cpu_supports("avx2") &&
		       __builtin_cpu_supports("bmi") &&
		       getenv("IPCKIT_RATINGS_NO_AVX2") == NULL;
	if (avx2 && (c->sep == ',' || c->sep == '\t'))
		return parse_block_avx2(c, p, end);
#endif
	if (c->sep == ',')
		return c->by_user ? parse_block_t(c, p, end, ',', true,
		                                  parse_nondigits)
		                  : parse_block_t(c, p, end, ',', false,
		                                  parse_nondigits);
	if (c->sep == '\t')
		return c->by_user ? parse_block_t(c, p, end, '\t', true,
		                                  parse_nondigits)
		                  : parse_block_t(c, p, end, '\t', false,
		                                  parse_nondigits);
	/* Any other separator: every line by the exact parser. */
	while (p < end) {
		p = parse_slow(c, p, end);
		if (c->stop_on_bad && c->bad)
			break;
	}
	return p;
}
