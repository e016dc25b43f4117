// SPDX-License-Identifier: MIT
/* tiger.h - Tiger and the Tiger tree hash (TTH, 1024-byte leaves) through
 * librhash: ADC's session hash (CID = Tiger(PID), password responses) and
 * its file identity. */
#ifndef ADC_TIGER_H
#define ADC_TIGER_H

#include <stddef.h>
#include <stdint.h>

#define TIGER_BYTES      24
#define TIGER_BASE32_LEN 39   /* characters of a base32 Tiger value */
#define TTH_LEAF         1024 /* bytes under one leaf of the tree */

/* tiger_init_library - once per process, before any other call here
 * (thread-safe through pthread_once). */
void tiger_init_library(void);

/* tiger_hash - Tiger of n bytes.  Returns 0, or -1 if librhash fails. */
int tiger_hash(const void *data, size_t n, uint8_t out[TIGER_BYTES]);

/* tiger_hash2 - Tiger(a || b) without concatenating in memory: the
 * password response is Tiger(password || challenge). */
int tiger_hash2(const void *a, size_t na, const void *b, size_t nb,
                uint8_t out[TIGER_BYTES]);

/* tth_node - an inner tree node: Tiger(0x01 || left || right). */
int tth_node(const uint8_t left[TIGER_BYTES], const uint8_t right[TIGER_BYTES],
             uint8_t out[TIGER_BYTES]);

/*
 * tth_block_size - the block size, 1024 * 2^k, for which a file of size
 * bytes has at most max_blocks blocks (max_blocks >= 1).  Each block's hash
 * is the root of its subtree, so a list of block hashes (ADC's "tthl")
 * verifies the file block by block and rebuilds the root.
 */
uint64_t tth_block_size(uint64_t size, uint64_t max_blocks);

/* tth_root - fold n block hashes (left to right, odd ones promoted) into
 * the root.  n == 0 is invalid (an empty file has one empty leaf). */
int tth_root(const uint8_t (*blocks)[TIGER_BYTES], size_t n,
             uint8_t out[TIGER_BYTES]);

/*
 * A streaming tree hasher: feed bytes in any pieces; it keeps one hash per
 * block of block_size bytes (a power-of-two multiple of 1024).
 */
struct tth_hasher {
	void *ctx;           /* owned: librhash TTH context of a block */
	uint64_t block_size; /* bytes per kept block hash */
	uint64_t in_block;   /* bytes of the current block seen */
	uint64_t total;      /* bytes seen */
	uint8_t (*blocks)[TIGER_BYTES]; /* owned: finished block hashes */
	size_t n_blocks, cap_blocks;
};

/* tth_hasher_init - 0, or -1 if block_size is not 1024 * 2^k or librhash
 * cannot allocate. */
int tth_hasher_init(struct tth_hasher *h, uint64_t block_size);
int tth_hasher_update(struct tth_hasher *h, const void *data, size_t n);
/* tth_hasher_final - close the last block and compute the root.  The
 * block hashes stay in h->blocks until tth_hasher_fini(). */
int tth_hasher_final(struct tth_hasher *h, uint8_t root[TIGER_BYTES]);
void tth_hasher_fini(struct tth_hasher *h);

/* tth_hash - the TTH root of a whole buffer. */
int tth_hash(const void *data, size_t n, uint8_t out[TIGER_BYTES]);

#endif
