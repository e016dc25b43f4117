// SPDX-License-Identifier: MIT
/* test_filelist.c - files.xml(.bz2) written from a share and read back;
 * escaping; hostile lists (bad names, truncation, garbage, depth). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filelist.h"

#define T1 "LWPNACQDBZRYXW3VHJVCJ64QBZNGHOHHHZWCLNQ"
#define T2 "DCTZG7V3JMT2JDJ6VOZU4YISNZVETHE76V2GONI"

static const struct filelist_item items[] = {
	{ "/share/a & b/x<1>.txt", 5, T1 },
	{ "/share/a & b/y.txt", 0, T2 },
	{ "/share/sub/deep/z \"q\".bin", 123456789012ull, T1 },
	{ "/share/top.txt", 7, T2 },
	{ "/zeta/only.txt", 1, T1 },
};

static int
count(const char *s, const char *what)
{
	int n = 0;

	for (s = strstr(s, what); s; s = strstr(s + 1, what))
		n++;
	return n;
}

static void
test_generate_xml(void **state)
{
	char *xml;
	size_t len;

	(void)state;
	assert_int_equal(filelist_xml(items, 5, "MYCID", &xml, &len), 0);
	assert_int_equal(strlen(xml), len);
	assert_non_null(strstr(xml, "<FileListing Version=\"1\" CID=\"MYCID\" "
	                            "Base=\"/\""));
	assert_non_null(strstr(xml, "<Directory Name=\"a &amp; b\">"));
	assert_non_null(strstr(xml, "<File Name=\"x&lt;1&gt;.txt\" Size=\"5\" "
	                            "TTH=\"" T1 "\"/>"));
	assert_non_null(strstr(xml, "Name=\"z &quot;q&quot;.bin\" "
	                            "Size=\"123456789012\""));
	/* Each directory is opened once: share, a & b, sub, deep, zeta. */
	assert_int_equal(count(xml, "<Directory "), 5);
	assert_int_equal(count(xml, "</Directory>"), 5);
	assert_int_equal(count(xml, "<Directory Name=\"share\">"), 1);
	assert_true(strstr(xml, "Name=\"zeta\"") > strstr(xml, "top.txt"));
	free(xml);
}

static void
test_roundtrip_bz2(void **state)
{
	unsigned char *z;
	size_t zlen;
	struct filelist fl;

	(void)state;
	assert_int_equal(filelist_build(items, 5, "MYCID", &z, &zlen), 0);
	assert_true(zlen > 10 && z[0] == 'B' && z[1] == 'Z' && z[2] == 'h');
	assert_int_equal(filelist_parse(z, zlen, true, &fl), 0);
	assert_string_equal(fl.cid, "MYCID");
	/* Directories and files in document order. */
	const char *want[] = {
		"/share/",
		"/share/a & b/",
		"/share/a & b/x<1>.txt",
		"/share/a & b/y.txt",
		"/share/sub/",
		"/share/sub/deep/",
		"/share/sub/deep/z \"q\".bin",
		"/share/top.txt",
		"/zeta/",
		"/zeta/only.txt",
	};
	assert_int_equal(fl.n, 10);
	for (size_t i = 0; i < fl.n; i++)
		assert_string_equal(fl.e[i].path, want[i]);
	assert_true(fl.e[6].size == 123456789012ull);
	assert_string_equal(fl.e[6].tth32, T1);
	assert_true(fl.e[0].dir);
	filelist_fini(&fl);
	/* Truncated compressed data is refused, not half-listed. */
	assert_int_equal(filelist_parse(z, zlen / 2, true, &fl), -EBADMSG);
	assert_int_equal(fl.n, 0);
	free(z);
}

static void
test_hostile_lists(void **state)
{
	struct filelist fl;
	const char *bad_names =
	        "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
	        "<FileListing Version=\"1\" CID=\"C\" Base=\"/\">"
	        "<Directory Name=\"..\"><File Name=\"passwd\" Size=\"1\"/>"
	        "</Directory>"
	        "<File Name=\"a/b\" Size=\"1\"/>"
	        "<File Name=\"..\" Size=\"1\"/>"
	        "<File Name=\"ok\" Size=\"-5\"/>"
	        "<File Name=\"fine\" Size=\"3\" TTH=\"short\"/>"
	        "</FileListing>";
	char deep[64 * 40 + 200];
	size_t n = 0;

	(void)state;
	assert_int_equal(
	        filelist_parse(bad_names, strlen(bad_names), false, &fl), 0);
	/* ".." becomes "_"; names with '/' or ".." and bad sizes vanish. */
	assert_int_equal(fl.n, 3);
	assert_string_equal(fl.e[0].path, "/_/");
	assert_string_equal(fl.e[1].path, "/_/passwd");
	assert_string_equal(fl.e[2].path, "/fine");
	assert_string_equal(fl.e[2].tth32, "");
	filelist_fini(&fl);

	assert_int_equal(filelist_parse("<nope/>", 7, false, &fl), -EBADMSG);
	assert_int_equal(filelist_parse("garbage", 7, false, &fl), -EBADMSG);
	assert_int_equal(filelist_parse("BZh9garbage", 11, true, &fl),
	                 -EBADMSG);
	n += (size_t)sprintf(deep, "<FileListing>");
	for (int i = 0; i < 70; i++)
		n += (size_t)sprintf(deep + n, "<Directory Name=\"d\">");
	assert_int_equal(filelist_parse(deep, n, false, &fl), -EFBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_xml),
		cmocka_unit_test(test_roundtrip_bz2),
		cmocka_unit_test(test_hostile_lists),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("filelist", tests, NULL, NULL);
}
