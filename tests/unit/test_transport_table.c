// SPDX-License-Identifier: MIT
/* test_transport_table.c - every registered transport fills the ops its
 * capabilities promise, and no scheme is registered twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ipckit.h"
#include "transport.h"

static void
test_required_ops(void **state)
{
	(void)state;
	for (const struct ipk_transport *const *t = transports; *t; t++) {
		const struct ipk_transport *tp = *t;
		bool conn = tp->caps & IPK_CAP_CONN;
		bool queue = tp->caps & IPK_CAP_QUEUE;

		print_message("# %s\n", tp->scheme);
		assert_non_null(tp->scheme);
		assert_non_null(tp->summary);
		assert_true(conn != queue); /* exactly one kind */
		assert_non_null(tp->open);
		assert_non_null(tp->send);
		assert_non_null(tp->recv);
		assert_non_null(tp->peek_size);
		assert_non_null(tp->pollfd);
		assert_non_null(tp->max_msg);
		assert_non_null(tp->close);
		if (tp->caps & IPK_CAP_NAMED) {
			assert_non_null(tp->unlink);
			assert_non_null(tp->list);
		}
		/* A listener needs accept, and accept needs a listener; a
		 * connected pair is a connection. */
		if (tp->listen)
			assert_non_null(tp->accept);
		if (tp->accept)
			assert_non_null(tp->listen);
		if (tp->pair)
			assert_true(conn);
	}
}

static void
test_unique_schemes(void **state)
{
	(void)state;
	for (const struct ipk_transport *const *a = transports; *a; a++)
		for (const struct ipk_transport *const *b = a + 1; *b; b++)
			assert_string_not_equal((*a)->scheme, (*b)->scheme);
}

static void
test_scheme_list(void **state)
{
	const char *const *names = ipk_scheme_list();
	size_t n = 0;

	(void)state;
	for (; names[n]; n++)
		assert_ptr_equal(transport_find(names[n], strlen(names[n])),
		                 transports[n]);
	assert_null(transports[n]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_required_ops),
		cmocka_unit_test(test_unique_schemes),
		cmocka_unit_test(test_scheme_list),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests_name("transport_table", tests, NULL,
	                                   NULL);
}
