// SPDX-License-Identifier: MIT
/* base32.h - RFC 4648 base32 without padding, as ADC uses for SIDs, CIDs,
 * PIDs, TTH roots and challenge data. */
#ifndef ADC_BASE32_H
#define ADC_BASE32_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* base32_len - characters that encode n bytes (no padding). */
size_t base32_len(size_t n);

/*
 * base32_encode - upper-case base32 of n bytes into out, NUL-terminated.
 * Returns the length written, or -1 if cap cannot hold it and the NUL.
 */
ssize_t base32_encode(const void *in, size_t n, char *out, size_t cap);

/*
 * base32_decode - decode exactly len characters (A-Z, 2-7; lower case is
 * accepted) into out.  Returns the byte count, or -1 for a character
 * outside the alphabet, non-zero trailing bits, a length no byte count
 * encodes, or an out buffer that is too small.
 */
ssize_t base32_decode(const char *in, size_t len, void *out, size_t cap);

#endif
