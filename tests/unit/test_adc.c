// SPDX-License-Identifier: MIT
/* test_adc.c - the ADC line grammar, escapes, UTF-8, SIDs, base32, Tiger
 * and TTH, with the test vectors from real clients. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base32.h"
#include "msg.h"
#include "tiger.h"

static int
parse(struct adc_msg *m, char *buf, size_t cap, const char *text)
{
	size_t n = strlen(text);

	assert_true(n < cap);
	memcpy(buf, text, n + 1);
	return adc_parse(m, buf, n);
}

static void
test_parse_broadcast(void **state)
{
	struct adc_msg m;
	char buf[256];

	(void)state;
	assert_int_equal(parse(&m, buf, sizeof(buf),
	                       "BINF AAAB NIal\\sice DEa\\\\b\\nc SS3000"),
	                 ADC_OK);
	assert_int_equal(m.type, 'B');
	assert_string_equal(m.cmd, "INF");
	assert_int_equal(m.src, 1);
	assert_int_equal(m.dst, ADC_SID_NONE);
	assert_int_equal(m.n, 3);
	assert_string_equal(adc_named(&m, "NI", NULL), "al ice");
	assert_string_equal(adc_named(&m, "DE", NULL), "a\\b\nc");
	assert_string_equal(adc_named(&m, "SS", NULL), "3000");
	assert_null(adc_named(&m, "PD", NULL));
	assert_int_equal(m.header_len, 9);
}

static void
test_parse_headers(void **state)
{
	struct adc_msg m;
	char buf[256];

	(void)state;
	assert_int_equal(parse(&m, buf, sizeof(buf), "HSUP ADBASE ADTIGR"), 0);
	assert_int_equal(m.type, 'H');
	assert_int_equal(m.n, 2);
	assert_int_equal(
	        parse(&m, buf, sizeof(buf), "DMSG AAAB AAAC hi PMAAAB"), 0);
	assert_int_equal(m.src, 1);
	assert_int_equal(m.dst, 2);
	assert_string_equal(m.p[0].s, "hi");
	assert_int_equal(
	        parse(&m, buf, sizeof(buf), "FSCH AAAB +TCP4-NAT0 ANfoo TOx"),
	        0);
	assert_string_equal(m.features, "+TCP4-NAT0");
	assert_int_equal(parse(&m, buf, sizeof(buf), "URES ABCD234 FNx"), 0);
	assert_string_equal(m.cid, "ABCD234");
	assert_int_equal(parse(&m, buf, sizeof(buf), "IQUI AAAB"), 0);
	assert_int_equal(parse(&m, buf, sizeof(buf), "HSUP"), 0);
	assert_int_equal(m.n, 0);
	/* Lines end in LF only: a CR is part of the last parameter. */
	assert_int_equal(parse(&m, buf, sizeof(buf), "HSUP ADBASE\r"), 0);
	assert_string_equal(m.p[0].s, "ADBASE\r");
}

static void
test_parse_rejects(void **state)
{
	static const struct {
		const char *line;
		int err;
	} bad[] = {
		{ "", ADC_EEMPTY },
		{ "XINF AAAB", ADC_EHEADER },
		{ "Binf AAAB", ADC_EHEADER },
		{ "BINFO AAAB", ADC_EHEADER },
		{ "BINF", ADC_EHEADER },
		{ "BINF AAA", ADC_EHEADER },
		{ "BINF AAA1", ADC_EHEADER },
		{ "DMSG AAAB", ADC_EHEADER },
		{ "FSCH AAAB TCP4", ADC_EHEADER },
		{ "FSCH AAAB +TCP", ADC_EHEADER },
		{ "FSCH AAAB +tcp4", ADC_EHEADER },
		{ "URES", ADC_EHEADER },
		{ "BMSG AAAB hi\\x", ADC_EESCAPE },
		{ "BMSG AAAB hi\\", ADC_EESCAPE },
		{ "BMSG AAAB hi ", ADC_ESYNTAX },
		{ "BMSG AAAB  hi", ADC_ESYNTAX },
		{ "BMSG AAAB \xff", ADC_EUTF8 },
		{ "BMSG AAAB \xc0\x80", ADC_EUTF8 },         /* overlong NUL */
		{ "BMSG AAAB \xed\xa0\x80", ADC_EUTF8 },     /* surrogate */
		{ "BMSG AAAB \xf4\x90\x80\x80", ADC_EUTF8 }, /* > U+10FFFF */
		{ "BMSG AAAB \xe2\x82", ADC_EUTF8 },         /* truncated */
	};
	struct adc_msg m;
	char buf[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = parse(&m, buf, sizeof(buf), bad[i].line);

		if (err != bad[i].err)
			print_error("'%s': got %d want %d\n", bad[i].line, err,
			            bad[i].err);
		assert_int_equal(err, bad[i].err);
	}
	/* A NUL inside the line is invalid UTF-8 for us. */
	memcpy(buf, "BMSG AAAB a\0b", 13);
	assert_int_equal(adc_parse(&m, buf, 13), ADC_EUTF8);
	/* Valid multi-byte text passes. */
	assert_int_equal(parse(&m, buf, sizeof(buf),
	                       "BMSG AAAB \xc3\xa9t\xc3\xa9\\s\xe2\x82\xac\\s"
	                       "\xf0\x9f\x98\x80"),
	                 ADC_OK);
}

static void
test_too_many_params(void **state)
{
	struct adc_msg m;
	char buf[1024];
	size_t o = 0;

	(void)state;
	o += (size_t)snprintf(buf, sizeof(buf), "BINF AAAB");
	for (int i = 0; i <= ADC_MAX_PARAMS; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, " X%d", i % 10);
	assert_int_equal(adc_parse(&m, buf, o), ADC_ETOOMANY);
}

static void
test_named_walk(void **state)
{
	struct adc_msg m;
	char buf[256];
	unsigned from = 0;

	(void)state;
	assert_int_equal(
	        parse(&m, buf, sizeof(buf), "BSCH AAAB ANfoo ANbar EXiso TO1"),
	        0);
	assert_string_equal(adc_named(&m, "AN", &from), "foo");
	assert_string_equal(adc_named(&m, "AN", &from), "bar");
	assert_null(adc_named(&m, "AN", &from));
}

static void
test_sid(void **state)
{
	char s[5];
	uint32_t v;

	(void)state;
	adc_sid_encode(1, s);
	assert_string_equal(s, "AAAB");
	adc_sid_encode((1u << 20) - 1, s);
	assert_string_equal(s, "7777");
	assert_int_equal(adc_sid_decode("7777", &v), 0);
	assert_int_equal(v, (1u << 20) - 1);
	assert_int_equal(adc_sid_decode("AA1B", &v), -1);
	assert_int_equal(adc_sid_decode("aaab", &v), -1);
}

static void
test_features(void **state)
{
	(void)state;
	assert_true(adc_su_has("TCP4,UDP4,ADC0", "UDP4"));
	assert_false(adc_su_has("TCP4,UDP4,ADC0", "UDP"));
	assert_false(adc_su_has(NULL, "TCP4"));
	assert_true(adc_features_match("+TCP4-NAT0", "TCP4,UDP4"));
	assert_false(adc_features_match("+TCP4-NAT0", "TCP4,NAT0"));
	assert_false(adc_features_match("+TCP4", "UDP4"));
	assert_true(adc_features_match("-NAT0", ""));
}

static void
test_builder(void **state)
{
	struct adc_buf b;
	char mem[128], small[12];
	long len;

	(void)state;
	adc_buf_init(&b, mem, sizeof(mem));
	adc_buf_header(&b, 'D', "MSG", 1, 2);
	adc_buf_param(&b, "a b\\c\nd");
	adc_buf_named(&b, "PM", "AAAB");
	adc_buf_named_int(&b, "TL", -1);
	len = adc_buf_end(&b);
	assert_int_equal(len, (long)strlen(mem));
	assert_string_equal(mem, "DMSG AAAB AAAC a\\sb\\\\c\\nd PMAAAB TL-1\n");
	adc_buf_init(&b, small, sizeof(small));
	adc_buf_header(&b, 'I', "MSG", ADC_SID_NONE, ADC_SID_NONE);
	adc_buf_param(&b, "far too long for it");
	assert_int_equal(adc_buf_end(&b), -1);
}

static void
test_roundtrip_escape(void **state)
{
	const char *v = "x \\ y\n\\s";
	char esc[64], line[80];
	struct adc_msg m;
	int n;

	(void)state;
	assert_true(adc_escape(v, strlen(v), esc, sizeof(esc)) > 0);
	n = snprintf(line, sizeof(line), "IMSG %s", esc);
	assert_int_equal(adc_parse(&m, line, (size_t)n), 0);
	assert_string_equal(m.p[0].s, v);
	assert_int_equal(m.p[0].len, strlen(v));
}

static void
test_base32(void **state)
{
	uint8_t bytes[64], back[64];
	char text[128];

	(void)state;
	for (size_t n = 0; n < sizeof(bytes); n++) {
		for (size_t i = 0; i < n; i++)
			bytes[i] = (uint8_t)(i * 37 + n);
		assert_int_equal(base32_encode(bytes, n, text, sizeof(text)),
		                 (ssize_t)base32_len(n));
		assert_int_equal(
		        base32_decode(text, strlen(text), back, sizeof(back)),
		        (ssize_t)n);
		assert_memory_equal(bytes, back, n);
	}
	assert_int_equal(base32_encode("f", 1, text, sizeof(text)), 2);
	assert_string_equal(text, "MY");
	assert_int_equal(base32_decode("MZ", 2, back, sizeof(back)), -1);
	assert_int_equal(base32_decode("M", 1, back, sizeof(back)), -1);
	assert_int_equal(base32_decode("M1", 2, back, sizeof(back)), -1);
	assert_int_equal(base32_encode("ff", 2, text, 4), -1);
	assert_int_equal(base32_decode("MZXQ", 4, back, 1), -1);
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void
test_tiger_vectors(void **state)
{
	uint8_t h[TIGER_BYTES], pid[TIGER_BYTES], chal[64];
	char text[80];
	ssize_t cn;
	const char *pw = "adminpw";

	(void)state;
	assert_int_equal(tiger_hash("", 0, h), 0);
	hex(h, sizeof(h), text);
	assert_string_equal(text,
	                    "3293ac630c13f0245f92bbb1766e16167a4e58492dde73f3");
	/* PID -> CID, from a real EiskaltDC++ login. */
	assert_int_equal(
	        base32_decode("SBPWJFDD6BQCDQ4PB3L4XC7UG6NCOG4PDVXS7WI", 39,
	                      pid, sizeof(pid)),
	        24);
	assert_int_equal(tiger_hash(pid, sizeof(pid), h), 0);
	base32_encode(h, sizeof(h), text, sizeof(text));
	assert_string_equal(text, "2IG7CMOXA5DD56B4ZXWGFGLVC26U66U7RRMQIHI");
	/* The password response: Tiger(password || challenge). */
	cn = base32_decode("UDHB7REWXOJPNMXAE6QAG5UUBSTHYEYSVVCVURI", 39, chal,
	                   sizeof(chal));
	assert_int_equal(cn, 24);
	assert_int_equal(tiger_hash2(pw, strlen(pw), chal, (size_t)cn, h), 0);
	base32_encode(h, sizeof(h), text, sizeof(text));
	assert_string_equal(text, "EWEMTBR2QUEZQRCSEJN3IB46GI3777R4V7VWPFA");
}

static void
test_tth(void **state)
{
	struct tth_hasher th;
	uint8_t root[TIGER_BYTES], direct[TIGER_BYTES];
	char text[64];
	unsigned char *data;
	const size_t n = 1024 * 37 + 5;

	(void)state;
	assert_int_equal(tth_hash("", 0, root), 0);
	base32_encode(root, sizeof(root), text, sizeof(text));
	assert_string_equal(text, "LWPNACQDBZRYXW3VHJVCJ64QBZNGHOHHHZWCLNQ");
	/* The streaming hasher agrees with librhash's whole-buffer TTH for
	 * every block size, and its blocks fold back into the root. */
	data = malloc(n);
	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 9));
	assert_int_equal(tth_hash(data, n, direct), 0);
	for (uint64_t bs = 1024; bs <= 65536; bs *= 2) {
		assert_int_equal(tth_hasher_init(&th, bs), 0);
		/* Feed in odd pieces. */
		for (size_t o = 0; o < n;) {
			size_t k = (o * 13 + 777) % 3001 + 1;

			if (k > n - o)
				k = n - o;
			assert_int_equal(tth_hasher_update(&th, data + o, k),
			                 0);
			o += k;
		}
		assert_int_equal(tth_hasher_final(&th, root), 0);
		assert_memory_equal(root, direct, TIGER_BYTES);
		assert_int_equal(th.n_blocks, (n + bs - 1) / bs);
		tth_hasher_fini(&th);
	}
	assert_int_equal(tth_hasher_init(&th, 1000), -1);
	assert_int_equal(tth_hasher_init(&th, 1024), 0);
	assert_int_equal(tth_hasher_final(&th, root), 0);
	assert_int_equal(th.n_blocks, 1);
	base32_encode(root, sizeof(root), text, sizeof(text));
	assert_string_equal(text, "LWPNACQDBZRYXW3VHJVCJ64QBZNGHOHHHZWCLNQ");
	tth_hasher_fini(&th);
	assert_int_equal(tth_block_size(0, 8), 1024);
	assert_int_equal(tth_block_size(1024 * 8, 8), 1024);
	assert_int_equal(tth_block_size(1024 * 8 + 1, 8), 2048);
	free(data);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_broadcast),
		cmocka_unit_test(test_parse_headers),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_too_many_params),
		cmocka_unit_test(test_named_walk),
		cmocka_unit_test(test_sid),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_builder),
		cmocka_unit_test(test_roundtrip_escape),
		cmocka_unit_test(test_base32),
		cmocka_unit_test(test_tiger_vectors),
		cmocka_unit_test(test_tth),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("adc", tests, NULL, NULL);
}
