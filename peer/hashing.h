// SPDX-License-Identifier: MIT
/* hashing.h - the background hasher: a thread walks the shared folders,
 * looks each regular file up in the SQLite cache (path, size, mtime) and
 * hashes only what changed, with TTH block hashes kept for "tthl".  The
 * loop thread is told through an eventfd, so chat never waits for it. */
#ifndef PEER_HASHING_H
#define PEER_HASHING_H

#include <stddef.h>
#include <stdint.h>

#include "tiger.h"

struct ipk_loop;
struct hashing;

/* One hashed file, delivered to the loop thread. */
struct hash_result {
	unsigned gen;  /* the scan it belongs to */
	unsigned root; /* index into the roots given to hashing_scan() */
	char *rel;     /* owned: path relative to the root, '/'-separated */
	uint64_t size;
	int64_t mtime_ns;
	uint8_t tth[TIGER_BYTES];
	int err; /* 0, or -errno: the file could not be read (skipped) */
};

/* done: the scan is complete (rel == NULL results never come). */
typedef void hashing_result_fn(void *arg, struct hash_result *r);
typedef void hashing_done_fn(void *arg, unsigned gen, uint64_t hashed_bytes,
                             unsigned cached, unsigned hashed);

/*
 * hashing_start - open (or create) the cache at db_path and start the
 * thread.  Results and completions are delivered on loop by calling
 * result_fn (which takes ownership of r->rel and must free it) and
 * done_fn.  Returns 0 or -errno (errdetail-like text in *why, static).
 */
int hashing_start(struct hashing **hp, const char *db_path,
                  struct ipk_loop *loop, hashing_result_fn *result_fn,
                  hashing_done_fn *done_fn, void *arg, const char **why);
/* hashing_stop - stop the thread (an unfinished scan is abandoned) and
 * close the cache.  NULL-safe. */
void hashing_stop(struct hashing *h);

/* hashing_scan - walk these roots (absolute real paths, copied) as scan
 * number gen; a scan in progress is abandoned. */
int hashing_scan(struct hashing *h, const char *const *roots, size_t n,
                 unsigned gen);

/*
 * hashing_leaves - the block hashes stored for a file (from the loop
 * thread, through its own cache connection).  *leaves is malloc'ed (the
 * caller frees it).  Returns 0, or -ENOENT if the cache has no such entry.
 */
int hashing_leaves(struct hashing *h, const char *path, uint64_t size,
                   int64_t mtime_ns, uint8_t (**leaves)[TIGER_BYTES],
                   size_t *n);

/* hashing_get_pid / hashing_set_pid - our private ID, kept in the cache
 * so that the CID stays the same across runs.  get: 0 or -ENOENT. */
int hashing_get_pid(struct hashing *h, uint8_t pid[TIGER_BYTES]);
int hashing_set_pid(struct hashing *h, const uint8_t pid[TIGER_BYTES]);

/* The download queue, kept so that downloads resume after a restart
 * (loop thread).  hashing_queue_list calls fn for each entry. */
int hashing_queue_add(struct hashing *h, const char *tth32, uint64_t size,
                      const char *name);
int hashing_queue_del(struct hashing *h, const char *tth32);
typedef void hashing_queue_fn(void *arg, const char *tth32, uint64_t size,
                              const char *name);
int hashing_queue_list(struct hashing *h, hashing_queue_fn *fn, void *arg);

/*
 * hash_file_fd - TTH of an open file from its start: the root and the
 * block hashes (block size chosen by hashing_block_size()).  Used by the
 * thread and by the benchmark.  Returns 0 or -errno.
 */
int hash_file_fd(int fd, uint64_t size, uint8_t root[TIGER_BYTES],
                 uint8_t (**leaves)[TIGER_BYTES], size_t *n_leaves);

/* hashing_block_size - the block size of the hashes we keep: at most 1024
 * blocks, each at least 64 KiB. */
uint64_t hashing_block_size(uint64_t size);

#endif
