// SPDX-License-Identifier: MIT
/* test_addr.c - the address parser: schemes, rest, options, modes, hosts,
 * and every way an address can be malformed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "ipckit.h"
#include "transport.h"

/* The parser needs a registered scheme; the first one will do.  Tests that
 * need options use a scheme that declares some. */
static const char *
any_scheme(void)
{
	const char *const *s = ipk_scheme_list();

	return s[0];
}

static const struct ipk_transport *
scheme_with_option(const char **opt)
{
	for (const struct ipk_transport *const *t = transports; *t; t++)
		if ((*t)->options && (*t)->options[0]) {
			*opt = (*t)->options[0];
			return *t;
		}
	return NULL;
}

static void
test_no_scheme(void **state)
{
	struct ipk_addr a;

	(void)state;
	assert_int_equal(addr_parse(&a, "nocolon"), IPK_EADDR);
	assert_non_null(strstr(ipk_errdetail(), "no scheme"));
	assert_int_equal(addr_parse(&a, ":rest"), IPK_EADDR);
	assert_int_equal(addr_parse(&a, NULL), IPK_EADDR);
	assert_int_equal(addr_parse(&a, "UPPER:x"), IPK_EADDR);
}

static void
test_unknown_scheme(void **state)
{
	struct ipk_addr a;

	(void)state;
	assert_int_equal(addr_parse(&a, "carrierpigeon:/x"), IPK_ESCHEME);
	assert_non_null(strstr(ipk_errdetail(), "carrierpigeon"));
}

static void
test_too_long(void **state)
{
	struct ipk_addr a;
	char *big;

	(void)state;
	assert_non_null(any_scheme());
	big = malloc(ADDR_MAX + 64);
	assert_non_null(big);
	snprintf(big, ADDR_MAX + 64, "%s:", any_scheme());
	memset(big + strlen(big), 'a', ADDR_MAX + 10);
	big[ADDR_MAX + 20] = '\0';
	assert_int_equal(addr_parse(&a, big), IPK_EADDR);
	free(big);
}

static void
test_rest_and_mode(void **state)
{
	struct ipk_addr a;
	char text[128];

	(void)state;
	assert_non_null(any_scheme());
	snprintf(text, sizeof(text), "%s:/tmp/x y", any_scheme());
	assert_int_equal(addr_parse(&a, text), 0);
	assert_string_equal(a.rest, "/tmp/x y");
	assert_int_equal(a.mode, 0600);

	snprintf(text, sizeof(text), "%s:/q?mode=0660", any_scheme());
	assert_int_equal(addr_parse(&a, text), 0);
	assert_int_equal(a.mode, 0660);

	/* Never world-writable, never without owner rw, always octal. */
	snprintf(text, sizeof(text), "%s:/q?mode=0666", any_scheme());
	assert_int_equal(addr_parse(&a, text), IPK_EOPTION);
	assert_non_null(strstr(ipk_errdetail(), "anyone"));
	snprintf(text, sizeof(text), "%s:/q?mode=0400", any_scheme());
	assert_int_equal(addr_parse(&a, text), IPK_EOPTION);
	snprintf(text, sizeof(text), "%s:/q?mode=9", any_scheme());
	assert_int_equal(addr_parse(&a, text), IPK_EOPTION);
	snprintf(text, sizeof(text), "%s:/q?mode=01777", any_scheme());
	assert_int_equal(addr_parse(&a, text), IPK_EOPTION);
}

static void
test_control_chars(void **state)
{
	struct ipk_addr a;
	char text[64];

	(void)state;
	assert_non_null(any_scheme());
	snprintf(text, sizeof(text), "%s:/tmp/a\nb", any_scheme());
	assert_int_equal(addr_parse(&a, text), IPK_EADDR);
	snprintf(text, sizeof(text), "%s:/q?mode=06%%0060", any_scheme());
	assert_int_equal(addr_parse(&a, text), IPK_EOPTION);
}

static void
test_options(void **state)
{
	const struct ipk_transport *tp;
	struct ipk_addr a;
	const char *opt;
	char text[128];
	uint64_t v;

	(void)state;
	tp = scheme_with_option(&opt);
	assert_non_null(tp);
	snprintf(text, sizeof(text), "%s:x?%s=4k", tp->scheme, opt);
	assert_int_equal(addr_parse(&a, text), 0);
	assert_int_equal(addr_opt_u64(&a, opt, 0, 1u << 20, 7, true, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(addr_check_unused(&a), 0);

	assert_int_equal(addr_opt_u64(&a, opt, 0, 100, 7, true, &v),
	                 IPK_EOPTION);
	assert_non_null(strstr(ipk_errdetail(), "outside"));
	assert_int_equal(addr_opt_u64(&a, opt, 0, 1u << 20, 7, false, &v),
	                 IPK_EOPTION);

	snprintf(text, sizeof(text), "%s:x?%s=1&%s=2", tp->scheme, opt, opt);
	assert_int_equal(addr_parse(&a, text), IPK_EOPTION);
	assert_non_null(strstr(ipk_errdetail(), "twice"));

	snprintf(text, sizeof(text), "%s:x?bogus=1", tp->scheme);
	assert_int_equal(addr_parse(&a, text), IPK_EOPTION);
	assert_non_null(strstr(ipk_errdetail(), "bogus"));

	snprintf(text, sizeof(text), "%s:x?%s", tp->scheme, opt);
	assert_int_equal(addr_parse(&a, text), 0);
	assert_int_equal(addr_check_unused(&a), IPK_EOPTION);
	assert_string_equal(addr_opt_str(&a, opt), "1");
	assert_int_equal(addr_check_unused(&a), 0);

	snprintf(text, sizeof(text), "%s:x?%s=%%41%%42", tp->scheme, opt);
	assert_int_equal(addr_parse(&a, text), 0);
	assert_string_equal(addr_opt_str(&a, opt), "AB");
	snprintf(text, sizeof(text), "%s:x?%s=%%4", tp->scheme, opt);
	assert_int_equal(addr_parse(&a, text), IPK_EOPTION);
	snprintf(text, sizeof(text), "%s:x?%s=%%00", tp->scheme, opt);
	assert_int_equal(addr_parse(&a, text), IPK_EOPTION);
}

static void
test_hostport(void **state)
{
	struct ipk_addr a;

	(void)state;
	memset(&a, 0, sizeof(a));
	strcpy(a.scheme, "tcp");
	strcpy(a.rest, "127.0.0.1:1511");
	assert_int_equal(addr_split_hostport(&a, false), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 1511);

	strcpy(a.rest, "[::1]:80");
	assert_int_equal(addr_split_hostport(&a, false), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 80);

	strcpy(a.rest, ":0");
	assert_int_equal(addr_split_hostport(&a, true), 0);
	assert_string_equal(a.host, "0.0.0.0");
	assert_int_equal(addr_split_hostport(&a, false), IPK_EADDR);

	strcpy(a.rest, "host:65536");
	assert_int_equal(addr_split_hostport(&a, false), IPK_EADDR);
	strcpy(a.rest, "host:-1");
	assert_int_equal(addr_split_hostport(&a, false), IPK_EADDR);
	strcpy(a.rest, "host");
	assert_int_equal(addr_split_hostport(&a, false), IPK_EADDR);
	strcpy(a.rest, "::1:80");
	assert_int_equal(addr_split_hostport(&a, false), IPK_EADDR);
	strcpy(a.rest, "[::1]80");
	assert_int_equal(addr_split_hostport(&a, false), IPK_EADDR);
	strcpy(a.rest, "h:80x");
	assert_int_equal(addr_split_hostport(&a, false), IPK_EADDR);
}

static void
test_strerror(void **state)
{
	(void)state;
	assert_string_equal(ipk_strerror(IPK_EADDR), "Malformed address");
	assert_string_equal(ipk_strerror(-ETIMEDOUT), "Timed out");
	assert_string_equal(ipk_strerror(-ENOENT), "No such file or directory");
	assert_string_equal(ipk_strerror(-99999), "Unknown error");
	assert_string_equal(ipk_strerror(12345), "Unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_scheme),
		cmocka_unit_test(test_unknown_scheme),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_rest_and_mode),
		cmocka_unit_test(test_control_chars),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_strerror),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
