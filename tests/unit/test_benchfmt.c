// SPDX-License-Identifier: MIT
/* test_benchfmt.c - what `ipckit bench` reads and writes besides figures:
 * message sizes both ways (ipcbench_size_parse/_name), SI numbers, XML
 * escaping, and the SVG chart (svgplot.c): one group per series, gaps
 * for missing figures, escaped names, refused axes. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "escape.h"
#include "ipcbench.h"
#include "svgplot.h"

static void
size_parse_ok(const char *s, size_t want)
{
	size_t v = 0;

	assert_int_equal(ipcbench_size_parse(s, SIZE_MAX, &v), 0);
	assert_int_equal(v, want);
}

static void
test_size_parse(void **state)
{
	static const char *const bad[] = { "",     "K",  "12Q",  "-1",
		                           "1.5K", " 4", "4 K ", "4KiBs" };
	size_t v = 7;

	(void)state;
	size_parse_ok("64", 64);
	size_parse_ok("64B", 64);
	size_parse_ok("4K", 4096);
	size_parse_ok("4k", 4096);
	size_parse_ok("64KiB", 65536);
	size_parse_ok("64 KiB", 65536);
	size_parse_ok("1kB", 1000);
	size_parse_ok("1M", 1 << 20);
	size_parse_ok("1mib", 1 << 20);
	size_parse_ok("1MB", 1000000);
	size_parse_ok("2G", (size_t)2 << 30);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ipcbench_size_parse(bad[i], SIZE_MAX, &v),
		                 -EINVAL);
	assert_int_equal(ipcbench_size_parse("0", SIZE_MAX, &v), -ERANGE);
	assert_int_equal(ipcbench_size_parse("65M", 64 << 20, &v), -ERANGE);
	assert_int_equal(ipcbench_size_parse("64M", 64 << 20, &v), 0);
	assert_int_equal(
	        ipcbench_size_parse("99999999999999999999999", SIZE_MAX, &v),
	        -ERANGE);
	assert_int_equal(v, 64 << 20); /* failures leave it */
}

static void
test_size_name(void **state)
{
	static const size_t sizes[] = { 1,       64,        1000,
		                        1500,    4096,      65536,
		                        1 << 20, 3u << 30,  (1 << 20) + 1024,
		                        1000000, 256 << 10, 12345 };
	char buf[32];

	(void)state;
	assert_string_equal(ipcbench_size_name(64, buf, sizeof(buf)), "64 B");
	assert_string_equal(ipcbench_size_name(4096, buf, sizeof(buf)),
	                    "4 KiB");
	assert_string_equal(ipcbench_size_name(1500, buf, sizeof(buf)),
	                    "1500 B");
	assert_string_equal(ipcbench_size_name(1 << 20, buf, sizeof(buf)),
	                    "1 MiB");
	assert_string_equal(
	        ipcbench_size_name((1 << 20) + 1024, buf, sizeof(buf)),
	        "1025 KiB");
	/* What it writes, it reads back. */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		size_parse_ok(ipcbench_size_name(sizes[i], buf, sizeof(buf)),
		              sizes[i]);
}

static void
test_si(void **state)
{
	char buf[32];

	(void)state;
	assert_string_equal(ipcbench_si(1.25e6, buf, sizeof(buf)), "1.25M");
	assert_string_equal(ipcbench_si(980.2e3, buf, sizeof(buf)), "980.2k");
	assert_string_equal(ipcbench_si(2.5e9, buf, sizeof(buf)), "2.50G");
	assert_string_equal(ipcbench_si(12, buf, sizeof(buf)), "12");
	assert_string_equal(ipcbench_si(7.04, buf, sizeof(buf)), "7.04");
	assert_string_equal(ipcbench_si(0, buf, sizeof(buf)), "0");
	assert_string_equal(ipcbench_err_cell(-EMSGSIZE), "n/a");
	assert_string_equal(ipcbench_err_cell(-ETIMEDOUT), "error");
}

/* Run fn into a string the caller frees. */
static char *
capture(void (*fn)(FILE *, const void *), const void *arg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	fn(f, arg);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void
xml_cb(FILE *f, const void *arg)
{
	escape_xml(f, arg);
}

static void
xml_is(const char *in, const char *want)
{
	char *got = capture(xml_cb, in);

	assert_string_equal(got, want);
	free(got);
}

static void
test_escape_xml(void **state)
{
	(void)state;
	xml_is("plain", "plain");
	xml_is("a<b>&\"'c", "a&lt;b&gt;&amp;&quot;&apos;c");
	xml_is("µs, ×", "µs, ×");           /* UTF-8 stays */
	xml_is("t\tn\n", "t\tn\n");         /* the controls XML allows */
	xml_is("a\x01z", "a\xef\xbf\xbdz"); /* others: U+FFFD */
	xml_is("a\xff\xfez", "a\xef\xbf\xbd\xef\xbf\xbdz"); /* bad UTF-8 */
	xml_is("\xc3", "\xef\xbf\xbd");                     /* cut sequence */
	xml_is("\xef\xbf\xbe", "\xef\xbf\xbd");             /* U+FFFE */
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
plot_cb(FILE *f, const void *arg)
{
	assert_int_equal(svgplot_write(f, arg), 0);
}

static void
test_svgplot(void **state)
{
	static const double x[] = { 64, 4096, 65536 };
	static const char *const labels[] = { "64 B", "4 KiB", "64 KiB" };
	static const double a_lat[] = { 0.3, 1.5, 20 };
	static const double a_mb[] = { 800, 9000, 20000 };
	static const double b_lat[] = { 10, NAN, 30 };
	static const double b_mb[] = { 50, -1, 900 }; /* <= 0: a gap too */
	const struct svgplot_series series[] = {
		{ .name = "shm", .y = { a_lat, a_mb } },
		{ .name = "a<b&\"c\"",
		  .note = "may drop",
		  .dashed = true,
		  .y = { b_lat, b_mb } },
	};
	struct svgplot p = {
		.title = "bench on <host>",
		.subtitle = "Linux & co",
		.x_axis = "message size",
		.key = "mechanism",
		.x = x,
		.x_labels = labels,
		.n_x = 3,
		.panel = { { "Latency", "p50, µs", "µs" },
		           { "Throughput", "MB/s", "MB/s" } },
		.series = series,
		.n_series = 2,
		.footer = "n/a: a gap",
	};
	char *svg;

	(void)state;
	svg = capture(plot_cb, &p);
	assert_true(strncmp(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
	                    38) == 0);
	assert_int_equal(count(svg, "<svg "), 1);
	assert_non_null(strstr(svg, "</svg>\n"));
	assert_int_equal(count(svg, "<g"), count(svg, "</g>"));
	assert_int_equal(count(svg, "<g class=\"series\""), 2);
	assert_non_null(strstr(svg, "data-mechanism=\"shm\""));
	assert_non_null(
	        strstr(svg, "data-mechanism=\"a&lt;b&amp;&quot;c&quot;\""));
	assert_null(strstr(svg, "a<b"));
	assert_non_null(strstr(svg, "bench on &lt;host&gt;"));
	assert_non_null(strstr(svg, "Linux &amp; co"));
	/* shm: one line and 3 points per panel; the other: its middle
	 * figures missing, two one-point lines and 2 points per panel. */
	assert_int_equal(count(svg, "<polyline"), 2 + 4);
	assert_int_equal(count(svg, "<circle cx"), 6 + 4 + 2 /* legend */);
	assert_non_null(strstr(svg, "<title>shm, 64 B: 0.3 µs</title>"));
	assert_int_equal(count(svg, "stroke-dasharray=\"2 3\""), 2);
	/* Decades: latency 0.1 .. 100, throughput 10 .. 100k. */
	assert_non_null(strstr(svg, ">0.1</text>"));
	assert_non_null(strstr(svg, ">100k</text>"));
	free(svg);
}

static void
test_svgplot_refuses(void **state)
{
	static const double up[] = { 64, 64 }, neg[] = { 0, 64 };
	static const char *const labels[] = { "a", "b" };
	struct svgplot p = { .x = up, .x_labels = labels, .n_x = 2 };
	FILE *f = fopen("/dev/null", "w");

	(void)state;
	assert_non_null(f);
	assert_int_equal(svgplot_write(f, &p), -EINVAL); /* not ascending */
	p.x = neg;
	assert_int_equal(svgplot_write(f, &p), -EINVAL); /* not > 0 */
	p.n_x = 0;
	assert_int_equal(svgplot_write(f, &p), -EINVAL);
	/* One size, no figures: a chart that says so. */
	p.n_x = 1;
	p.x = up;
	assert_int_equal(svgplot_write(f, &p), 0);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_parse),
		cmocka_unit_test(test_size_name),
		cmocka_unit_test(test_si),
		cmocka_unit_test(test_escape_xml),
		cmocka_unit_test(test_svgplot),
		cmocka_unit_test(test_svgplot_refuses),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
