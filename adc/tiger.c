// SPDX-License-Identifier: MIT
/* tiger.c - Tiger and TTH on top of librhash.  librhash computes a TTH
 * root but exposes no inner nodes, so a file is hashed one block at a time
 * with a TTH context per block (a block's TTH is the root of its subtree,
 * since blocks start on power-of-two leaf boundaries), and the block hashes
 * are folded into the root here with THEX's inner-node rule. */
#include <pthread.h>
#include <rhash.h>
#include <stdlib.h>
#include <string.h>

#include "tiger.h"

static pthread_once_t tiger_once = PTHREAD_ONCE_INIT;

static void
tiger_init_once(void)
{
	rhash_library_init();
}

void
tiger_init_library(void)
{
	pthread_once(&tiger_once, tiger_init_once);
}

int
tiger_hash(const void *data, size_t n, uint8_t out[TIGER_BYTES])
{
	tiger_init_library();
	return rhash_msg(RHASH_TIGER, data, n, out) == 0 ? 0 : -1;
}

int
tiger_hash2(const void *a, size_t na, const void *b, size_t nb,
            uint8_t out[TIGER_BYTES])
{
	rhash ctx;
	int ok;

	tiger_init_library();
	ctx = rhash_init(RHASH_TIGER);
	if (ctx == NULL)
		return -1;
	ok = rhash_update(ctx, a, na) == 0 && rhash_update(ctx, b, nb) == 0 &&
	     rhash_final(ctx, out) == 0;
	rhash_free(ctx);
	return ok ? 0 : -1;
}

int
tth_node(const uint8_t left[TIGER_BYTES], const uint8_t right[TIGER_BYTES],
         uint8_t out[TIGER_BYTES])
{
	uint8_t buf[1 + 2 * TIGER_BYTES];

	buf[0] = 0x01;
	memcpy(buf + 1, left, TIGER_BYTES);
	memcpy(buf + 1 + TIGER_BYTES, right, TIGER_BYTES);
	return tiger_hash(buf, sizeof(buf), out);
}

uint64_t
tth_block_size(uint64_t size, uint64_t max_blocks)
{
	uint64_t bs = TTH_LEAF;

	if (max_blocks == 0)
		max_blocks = 1;
	while (bs < (UINT64_C(1) << 62) && (size + bs - 1) / bs > max_blocks)
		bs <<= 1;
	return bs;
}

int
tth_root(const uint8_t (*blocks)[TIGER_BYTES], size_t n,
         uint8_t out[TIGER_BYTES])
{
	uint8_t(*level)[TIGER_BYTES];
	size_t m = n;

	if (n == 0)
		return -1;
	level = malloc(n * TIGER_BYTES);
	if (level == NULL)
		return -1;
	memcpy(level, blocks, n * TIGER_BYTES);
	while (m > 1) {
		size_t k = 0;

		for (size_t i = 0; i + 1 < m; i += 2)
			if (tth_node(level[i], level[i + 1], level[k++]) != 0) {
				free(level);
				return -1;
			}
		if (m & 1) /* the odd one out moves up unchanged */
			memcpy(level[k++], level[m - 1], TIGER_BYTES);
		m = k;
	}
	memcpy(out, level[0], TIGER_BYTES);
	free(level);
	return 0;
}

int
tth_hasher_init(struct tth_hasher *h, uint64_t block_size)
{
	memset(h, 0, sizeof(*h));
	if (block_size < TTH_LEAF || (block_size & (block_size - 1)) != 0)
		return -1;
	tiger_init_library();
	h->ctx = rhash_init(RHASH_TTH);
	if (h->ctx == NULL)
		return -1;
	h->block_size = block_size;
	return 0;
}

static int
tth_hasher_close_block(struct tth_hasher *h)
{
	if (h->n_blocks == h->cap_blocks) {
		size_t cap = h->cap_blocks ? h->cap_blocks * 2 : 64;
		void *p = realloc(h->blocks, cap * TIGER_BYTES);

		if (p == NULL)
			return -1;
		h->blocks = p;
		h->cap_blocks = cap;
	}
	if (rhash_final(h->ctx, h->blocks[h->n_blocks]) != 0)
		return -1;
	h->n_blocks++;
	rhash_reset(h->ctx);
	h->in_block = 0;
	return 0;
}

int
tth_hasher_update(struct tth_hasher *h, const void *data, size_t n)
{
	const unsigned char *p = data;

	while (n > 0) {
		uint64_t room = h->block_size - h->in_block;
		size_t take = n < room ? n : (size_t)room;

		if (rhash_update(h->ctx, p, take) != 0)
			return -1;
		h->in_block += take;
		h->total += take;
		p += take;
		n -= take;
		if (h->in_block == h->block_size &&
		    tth_hasher_close_block(h) != 0)
			return -1;
	}
	return 0;
}

int
tth_hasher_final(struct tth_hasher *h, uint8_t root[TIGER_BYTES])
{
	/* A partial last block, or the single empty leaf of an empty file. */
	if ((h->in_block > 0 || h->total == 0) &&
	    tth_hasher_close_block(h) != 0)
		return -1;
	return tth_root((const uint8_t(*)[TIGER_BYTES])h->blocks, h->n_blocks,
	                root);
}

void
tth_hasher_fini(struct tth_hasher *h)
{
	if (h->ctx)
		rhash_free(h->ctx);
	free(h->blocks);
	memset(h, 0, sizeof(*h));
}

int
tth_hash(const void *data, size_t n, uint8_t out[TIGER_BYTES])
{
	tiger_init_library();
	return rhash_msg(RHASH_TTH, data, n, out) == 0 ? 0 : -1;
}
