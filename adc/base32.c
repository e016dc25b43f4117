// SPDX-License-Identifier: MIT
/* base32.c - encoding through librhash (rhash_print_bytes); decoding is
 * ours because librhash exports no decoder, and it is strict: ADC compares
 * identifiers as strings, so only canonical encodings are accepted. */
#include <rhash.h>
#include <string.h>

#include "base32.h"

size_t
base32_len(size_t n)
{
	return (n * 8 + 4) / 5;
}

ssize_t
base32_encode(const void *in, size_t n, char *out, size_t cap)
{
	size_t need = base32_len(n);

	if (cap < need + 1)
		return -1;
	if (n == 0) {
		out[0] = '\0';
		return 0;
	}
	/* rhash_print_bytes writes need characters and a NUL. */
	if (rhash_print_bytes(out, in, n, RHPR_BASE32 | RHPR_UPPERCASE) != need)
		return -1;
	out[need] = '\0';
	return (ssize_t)need;
}

static int
base32_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

ssize_t
base32_decode(const char *in, size_t len, void *out, size_t cap)
{
	unsigned char *o = out;
	size_t nbytes = len * 5 / 8, k = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	/* Valid unpadded lengths are those base32_len() can produce. */
	if (base32_len(nbytes) != len || nbytes > cap)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = base32_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, or two strings would decode alike. */
	if (acc != 0)
		return -1;
	return (ssize_t)k;
}
