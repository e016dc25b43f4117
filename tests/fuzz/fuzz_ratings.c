// SPDX-License-Identifier: MIT
/* fuzz_ratings.c - the rating parser on arbitrary bytes: the fast block
 * parser must agree with the exact line parser on every line (same good
 * rows, same totals, same malformed lines), and format detection must not
 * crash.  The first byte picks the separator and the key. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
count_cb(void *arg, uint64_t line, int code, const char *p, size_t len)
{
	(void)line;
	(void)code;
	(void)p;
	(void)len;
	++*(uint64_t *)arg;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parse_format f;
	struct table fast, ref;
	struct parse_ctx c;
	uint64_t bad_cb = 0, bad_ref = 0, lines = 0, cf = 0, cr = 0;
	struct table_rec a, b;
	char *mem, *buf;
	size_t len;

	if (size < 1)
		return 0;
	mem = malloc(PARSE_PAD_BEFORE + size + 1 + PARSE_PAD_AFTER);
	if (mem == NULL)
		return 0;
	buf = mem + PARSE_PAD_BEFORE;
	memset(mem, '5', PARSE_PAD_BEFORE);
	memcpy(buf, data + 1, size - 1);
	len = size - 1;
	(void)parse_detect(buf, len, true, &f);
	if (len == 0 || buf[len - 1] != '\n')
		buf[len++] = '\n';
	memset(buf + len, '5', PARSE_PAD_AFTER);
	table_init(&fast);
	table_init(&ref);
	memset(&c, 0, sizeof(c));
	c.sep = (data[0] & 1) ? '\t' : ',';
	c.by_user = (data[0] & 2) != 0;
	c.table = &fast;
	c.bad_cb = count_cb;
	c.bad_arg = &bad_cb;
	if (parse_block(&c, buf, buf + len) != buf + len)
		abort();
	for (const char *p = buf; p < buf + len;) {
		const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		struct parse_row row;

		lines++;
		if (parse_line(p, (size_t)(nl - p), c.sep, &row) == PARSE_OK)
			table_add(&ref, c.by_user ? row.user : row.item,
			          row.r2);
		else
			bad_ref++;
		p = nl + 1;
	}
	if (c.lines != lines || c.bad != bad_ref || bad_cb != bad_ref)
		abort();
	table_seal(&fast);
	table_seal(&ref);
	for (;;) {
		int x = table_next(&fast, &cf, &a),
		    y = table_next(&ref, &cr, &b);

		if (x != y)
			abort();
		if (!x)
			break;
		if (a.id != b.id || a.count != b.count || a.sum2 != b.sum2)
			abort();
	}
	table_fini(&fast);
	table_fini(&ref);
	free(mem);
	return 0;
}
