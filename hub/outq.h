// SPDX-License-Identifier: MIT
/* outq.h - a connection's pending output: a queue of slices of
 * reference-counted chunks.  A broadcast is encoded once into one chunk and
 * every recipient queues a 16-byte slice of it, so sending a line to N users
 * costs N slices, not N copies; the server hands the slices to one write
 * (send, writev or sendmsg; in an io_uring batch where it can) per
 * connection per loop turn. */
#ifndef HUB_OUTQ_H
#define HUB_OUTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Bytes shared by every queue holding a slice of them. */
struct chunk {
	uint32_t refs; /* queues (and builders) holding it; freed at 0 */
	uint32_t len;  /* bytes written; slices only cover [0, len) */
	uint32_t cap;  /* bytes allocated in data */
	char data[];
};

/* chunk_new - a chunk with room for cap bytes, one reference. */
struct chunk *chunk_new(size_t cap);
/* chunk_from - a chunk holding a copy of n bytes, one reference. */
struct chunk *chunk_from(const void *s, size_t n);
struct chunk *chunk_ref(struct chunk *c);
/* chunk_unref - drop one reference; NULL-safe. */
void chunk_unref(struct chunk *c);

struct outq_ent {
	struct chunk *c; /* one reference owned by the queue */
	uint32_t off, len;
};

struct outq {
	struct outq_ent *v; /* owned ring; NULL while empty (idle users cost
	                       nothing here) */
	uint32_t head, n, cap;
	size_t bytes; /* queued, not yet written */
};

/* outq_push - queue c[off, off+len); takes its own reference. */
void outq_push(struct outq *q, struct chunk *c, uint32_t off, uint32_t len);
/* outq_write - queue a private copy of n bytes, appended to the tail chunk
 * when that one is private and has room (replies coalesce). */
void outq_write(struct outq *q, const void *s, size_t n);
/* outq_iov - fill up to max iovecs from the head; returns the count. */
int outq_iov(const struct outq *q, struct iovec *iov, int max);
/* outq_gather - copy up to cap queued bytes from the head into out
 * (nothing is consumed); the count copied. */
size_t outq_gather(const struct outq *q, char *out, size_t cap);
/* outq_consume - n bytes were written: drop what they covered. */
void outq_consume(struct outq *q, size_t n);
/* outq_clear - drop everything and free the ring. */
void outq_clear(struct outq *q);
/* outq_copy - the queued bytes, copied out (tests and the fuzz target);
 * at most cap - 1 bytes plus a NUL; returns the queued byte count. */
size_t outq_copy(const struct outq *q, char *out, size_t cap);

#endif
