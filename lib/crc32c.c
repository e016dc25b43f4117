// SPDX-License-Identifier: MIT
/* crc32c.c - CRC-32C, reflected polynomial 0x82f63b78: eight bytes per
 * instruction with SSE 4.2, slicing-by-8 tables otherwise.  The choice is
 * made once, at the first call. */
#include <pthread.h>
#include <string.h>

#include "crc32c.h"

#define CRC32C_POLY 0x82f63b78u

static uint32_t crc32c_table[8][256];

static void
crc32c_init_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc32c_table[t][i] =
			        (crc32c_table[t - 1][i] >> 8) ^
			        crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
}

static uint32_t
crc32c_soft(uint32_t crc, const unsigned char *p, size_t n)
{
	while (n >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		w ^= crc; /* little-endian: the low four bytes take the crc */
		crc = crc32c_table[7][w & 0xff] ^
		      crc32c_table[6][(w >> 8) & 0xff] ^
		      crc32c_table[5][(w >> 16) & 0xff] ^
		      crc32c_table[4][(w >> 24) & 0xff] ^
		      crc32c_table[3][(w >> 32) & 0xff] ^
		      crc32c_table[2][(w >> 40) & 0xff] ^
		      crc32c_table[1][(w >> 48) & 0xff] ^
		      crc32c_table[0][w >> 56];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc32c_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc32c_sse42(uint32_t crc, const unsigned char *p, size_t n)
{
	uint64_t c = crc;

	while (n >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
		p += 8;
		n -= 8;
	}
	while (n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

static pthread_once_t crc32c_table_once = PTHREAD_ONCE_INIT;

static uint32_t
crc32c_table_soft(uint32_t crc, const unsigned char *p, size_t n)
{
	pthread_once(&crc32c_table_once, crc32c_init_table);
	return crc32c_soft(crc, p, n);
}

static uint32_t (*crc32c_impl)(uint32_t, const unsigned char *, size_t);

static void
crc32c_pick(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("sse4.2")) {
		crc32c_impl = crc32c_sse42;
		return;
	}
#endif
	crc32c_impl = crc32c_table_soft;
}

uint32_t
crc32c(uint32_t crc, const void *p, size_t n)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, crc32c_pick);
	return ~crc32c_impl(~crc, p, n);
}

uint32_t
crc32c_portable(uint32_t crc, const void *p, size_t n)
{
	return ~crc32c_table_soft(~crc, p, n);
}
