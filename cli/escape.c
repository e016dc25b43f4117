// SPDX-License-Identifier: MIT
/* escape.c - escaping for `ipckit recv` and the JSON of every command. */
#include <stdint.h>
#include <string.h>

#include "escape.h"

/* The length of the valid UTF-8 sequence at p (1..4) with its code point
 * in *cp, or 0 when the bytes there are not one. */
static size_t
utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t c = p[0], min;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

bool
escape_is_utf8(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t cp;

	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(s + i, n - i, &cp);

		if (len == 0)
			return false;
		i += len;
	}
	return true;
}

void
escape_text(FILE *f, const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t cp;

	for (size_t i = 0; i < n;) {
		size_t len = utf8_seq(s + i, n - i, &cp);

		if (len == 0 || cp < 0x20 || cp == 0x7f ||
		    (cp >= 0x80 && cp < 0xa0)) {
			switch (s[i]) {
			case '\n':
				fputs("\\n", f);
				break;
			case '\r':
				fputs("\\r", f);
				break;
			case '\t':
				fputs("\\t", f);
				break;
			default:
				fprintf(f, "\\x%02x", s[i]);
				break;
			}
			i++; /* a C1 control: each of its bytes as \xHH */
			continue;
		}
		if (cp == '\\')
			fputs("\\\\", f);
		else
			fwrite(s + i, 1, len, f);
		i += len;
	}
}

void
escape_json(FILE *f, const void *p, size_t n)
{
	const unsigned char *s = p;

	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void
escape_xml(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n) {
		uint32_t cp;
		size_t len = utf8_seq(p, n, &cp);

		if (len == 0 || (cp < 0x20 && cp != '\t' && cp != '\n') ||
		    cp == 0xfffe || cp == 0xffff) {
			fputs("\xef\xbf\xbd", f); /* U+FFFD */
			len = len ? len : 1; /* a bad byte, or the character */
		} else if (cp == '&') {
			fputs("&amp;", f);
		} else if (cp == '<') {
			fputs("&lt;", f);
		} else if (cp == '>') {
			fputs("&gt;", f);
		} else if (cp == '"') {
			fputs("&quot;", f);
		} else if (cp == '\'') {
			fputs("&apos;", f);
		} else {
			fwrite(p, 1, len, f);
		}
		p += len;
		n -= len;
	}
}

void
escape_base64(FILE *f, const void *p, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16;
		size_t left = n - i;

		if (left > 1)
			v |= (uint32_t)s[i + 1] << 8;
		if (left > 2)
			v |= s[i + 2];
		fputc(abc[(v >> 18) & 63], f);
		fputc(abc[(v >> 12) & 63], f);
		fputc(left > 1 ? abc[(v >> 6) & 63] : '=', f);
		fputc(left > 2 ? abc[v & 63] : '=', f);
	}
}
