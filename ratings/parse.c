// SPDX-License-Identifier: MIT
/* parse.c - rating lines.  parse_block() takes a line in one pass over a
 * 32-byte window: a SIMD compare gives the mask of non-digit bytes, whose
 * first four set bits are the field ends; ids of up to 8 digits are
 * converted by SWAR multiplies.  Any line the fast path does not fully
 * vouch for goes to parse_line(), which is exact and says what is wrong,
 * so both paths accept the same lines and give the same values. */
#include <errno.h>
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
/* Bit i set when p[i] is not an ASCII digit, for i < 32; bit 32 always
 * set, so a count of trailing zeros never exceeds 32. */
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

	return ((uint64_t)~(lo | hi << 16) & 0xFFFFFFFFu) | UINT64_C(1) << 32;
}
#else
static inline uint64_t
parse_nondigits(const char *p)
{
	uint64_t m = UINT64_C(1) << 32;

	for (unsigned i = 0; i < 32; i++)
		m |= (uint64_t)!parse_is_digit(p[i]) << i;
	return m;
}
#endif

/* The len (1..8) digits ending at end, as a little-endian word of digit
 * values with zeros in front: zero exactly when the number is 0. */
static inline uint64_t
parse_swar_load(const char *end, unsigned len)
{
	uint64_t w;

	memcpy(&w, end - 8, 8);
	return w & UINT64_C(0x0F0F0F0F0F0F0F0F) & (~UINT64_C(0) << (64 - 8 * len));
}

/* The value of a parse_swar_load() word (first digit in the low byte). */
static inline uint64_t
parse_swar_value(uint64_t w)
{
	w = (w * 2561) >> 8;
	w = ((w & UINT64_C(0x00FF00FF00FF00FF)) * 6553601) >> 16;
	return ((w & UINT64_C(0x0000FFFF0000FFFF)) * UINT64_C(42949672960001)) >>
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

const char *
parse_block(struct parse_ctx *c, const char *p, const char *end)
{
	const char sep = c->sep;
	const bool by_user = c->by_user;
	struct table *t = c->table;
	uint64_t lines = 0;

	while (p < end) {
		uint64_t m = parse_nondigits(p), key, other;
		unsigned i1, i2, i3, i5, r2;
		char nl;

		/* Field ends: user at i1, movie at i2, rating at i3. */
		i1 = (unsigned)__builtin_ctzll(m);
		m &= m - 1;
		i2 = (unsigned)__builtin_ctzll(m);
		m &= m - 1;
		i3 = (unsigned)__builtin_ctzll(m);
		m &= m - 1;
		if (__builtin_expect(i1 - 1 > 7 || i2 - i1 - 2 > 7 ||
		                             i3 != i2 + 2 || p[i1] != sep ||
		                             p[i2] != sep,
		                     0))
			goto slow;
		r2 = 2 * (unsigned)(p[i2 + 1] - '0');
		if (p[i3] == '.') {
			/* "D.0" or "D.5": one fraction digit, then sep. */
			char f = p[i3 + 1];

			if (__builtin_expect((unsigned)__builtin_ctzll(m) != i3 + 2 ||
			                             (f != '0' && f != '5'),
			                     0))
				goto slow;
			r2 += f == '5';
			m &= m - 1;
			i3 += 2;
		}
		i5 = (unsigned)__builtin_ctzll(m);
		if (__builtin_expect(p[i3] != sep || r2 - 1 > 9 || i5 == i3 + 1 ||
		                             i5 > 31,
		                     0))
			goto slow;
		nl = p[i5];
		if (nl == '\r' && p[i5 + 1] == '\n')
			i5++;
		else if (__builtin_expect(nl != '\n', 0))
			goto slow;
		if (by_user) {
			key = parse_swar_load(p + i1, i1);
			other = parse_swar_load(p + i2, i2 - i1 - 1);
		} else {
			key = parse_swar_load(p + i2, i2 - i1 - 1);
			other = parse_swar_load(p + i1, i1);
		}
		if (__builtin_expect(key == 0 || other == 0, 0))
			goto slow;
		table_add(t, parse_swar_value(key), r2);
		lines++;
		p += i5 + 1;
		continue;
slow:
		c->lines += lines;
		lines = 0;
		p = parse_slow(c, p, end);
		if (c->stop_on_bad && c->bad)
			return p;
	}
	c->lines += lines;
	return p;
}
