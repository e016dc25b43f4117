// SPDX-License-Identifier: MIT
/* fuzz_filelist.c - others' file lists (files.xml, bzip2 or plain) are
 * network input: the parser must never crash, overflow or leak, and
 * every entry it keeps has a sane path. */
#include <stdint.h>
#include <string.h>

#include "filelist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct filelist fl;

	if (size < 1 || size > (1 << 20))
		return 0;
	/* The first byte picks plain XML or bzip2. */
	if (filelist_parse(data + 1, size - 1, data[0] & 1, &fl) != 0)
		return 0;
	for (size_t i = 0; i < fl.n; i++) {
		const char *p = fl.e[i].path;

		if (p[0] != '/' || strstr(p, "/../") || strstr(p, "//"))
			__builtin_trap();
	}
	filelist_fini(&fl);
	return 0;
}
