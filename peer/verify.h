// SPDX-License-Identifier: MIT
/* verify.h - the verifier: threads that hash downloaded blocks (read
 * back from the part file, which the page cache still holds) against
 * their TTH leaves, so the loop thread only moves bytes.  Verdicts come
 * back on the loop through an eventfd. */
#ifndef PEER_VERIFY_H
#define PEER_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tiger.h"

struct ipk_loop;
struct verifier;

struct verify_job {
	struct verify_job *next;
	int fd; /* borrowed: open until every job on it is answered */
	uint64_t off, len, block_size;
	uint8_t leaf[TIGER_BYTES];
	size_t block;
	void *tag;                      /* the caller's (a download) */
	char cid[TIGER_BASE32_LEN + 1]; /* who sent the block */
	bool ok;                        /* the verdict */
};

/* Called on the loop thread with each answered job (freed after). */
typedef void verify_done_fn(void *arg, struct verify_job *job);

int verifier_start(struct verifier **vp, struct ipk_loop *loop,
                   verify_done_fn *fn, void *arg);
/* verifier_stop - join the thread; unanswered jobs are dropped. */
void verifier_stop(struct verifier *v);
/* verifier_submit - queue a job (ownership moves to the verifier). */
void verifier_submit(struct verifier *v, struct verify_job *job);

#endif
