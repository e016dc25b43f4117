// SPDX-License-Identifier: MIT
/* fuzz_addr.c - the address parser and its option readers on arbitrary
 * bytes: no crash, no overflow, no leak, and a parse result that obeys the
 * documented bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ipckit.h"
#include "transport.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ipk_addr a;
	char *text = malloc(size + 1);
	uint64_t v;
	bool b;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (addr_parse(&a, text) == 0) {
		if (strlen(a.rest) > ADDR_MAX || a.tp == NULL ||
		    (a.mode & 0002) || a.n_opts > ADDR_OPTS_MAX)
			abort();
		for (unsigned i = 0; i < a.n_opts; i++) {
			(void)addr_opt_u64(&a, a.opts[i].key, 0, UINT64_MAX, 0,
			                   true, &v);
			(void)addr_opt_bool(&a, a.opts[i].key, false, &b);
		}
		(void)addr_split_hostport(&a, size & 1);
		(void)addr_check_unused(&a);
	}
	free(text);
	return 0;
}
