// SPDX-License-Identifier: MIT
/* dlfile.h - a download being assembled: a ".part" file in the incomplete
 * folder, cut into the blocks of the peer's TTH leaves ("tthl").  Each
 * block is claimed by one source, hashed as it arrives and kept only if it
 * matches its leaf; a bad block is fetched again and nothing verified is
 * ever thrown away.  After a restart the part file is re-verified block
 * by block, so a download resumes where it stopped. */
#ifndef PEER_DLFILE_H
#define PEER_DLFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tiger.h"

/* MISSING -> CLAIMED (a source has it) -> DONE (verified), or with a
 * deferred segment CLAIMED -> WRITTEN (on disk, its hash being checked
 * on another thread) -> DONE or MISSING. */
enum dl_block { DL_MISSING, DL_CLAIMED, DL_WRITTEN, DL_DONE };

typedef void dlseg_written_fn(void *arg, size_t block);

struct dlfile {
	char *part_path; /* owned: "<dir>/<TTH>.part" */
	char *tthl_path; /* owned: "<dir>/<TTH>.tthl" (the leaves) */
	int fd;          /* owned: the part file, -1 when closed */
	uint64_t size;   /* the file's size as the searcher saw it */
	uint8_t root[TIGER_BYTES];
	uint64_t block_size; /* 0 until the leaves are known */
	size_t n_blocks;
	uint8_t (*leaves)[TIGER_BYTES]; /* owned; NULL until known */
	uint8_t *state;                 /* owned: enum dl_block per block */
	uint64_t done_bytes;            /* verified bytes */
};

/* One source's claimed run of blocks being received, in order. */
struct dlseg {
	struct dlfile *d;  /* borrowed */
	uint64_t pos, end; /* next byte expected; end of the claim */
	struct tth_hasher h;
	bool active;
	/* Deferred verification: blocks are only written here and handed to
	 * written_cb; dlfile_block_result() gives the verdict later. */
	dlseg_written_fn *written_cb;
	void *cb_arg;
};

/*
 * dlfile_open - open or create the part file for (root, size) in dir.
 * If leaves were saved by an earlier run they are loaded and the part
 * file is verified (resume).  Returns 0 or -errno.
 */
int dlfile_open(struct dlfile *d, const char *dir,
                const uint8_t root[TIGER_BYTES], uint64_t size);
void dlfile_close(struct dlfile *d);
/* dlfile_remove - close and delete the part and leaves files. */
void dlfile_remove(struct dlfile *d);

bool dlfile_has_leaves(const struct dlfile *d);

/*
 * dlfile_set_leaves - the peer's tthl answer (len bytes, n * 24).  They
 * must fold into the root and fit the size (n blocks of 1024 * 2^k bytes);
 * otherwise -EBADMSG and nothing changes.  A single leaf is the root
 * itself (the whole file is one block).  Saved beside the part file, then
 * the part file is verified.  Returns 0 or -errno.
 */
int dlfile_set_leaves(struct dlfile *d, const void *data, size_t len);

/* dlfile_claim - claim the first run of missing blocks, at most max_len
 * bytes (at least one block).  0 with *off and *len, or -ENOENT when no
 * block is missing. */
int dlfile_claim(struct dlfile *d, uint64_t max_len, uint64_t *off,
                 uint64_t *len);

/* dlseg_start - receive [off, off + len) (as claimed) into d. */
int dlseg_start(struct dlseg *s, struct dlfile *d, uint64_t off, uint64_t len);
/*
 * dlseg_write - the next n bytes of the segment (n <= end - pos).  Written
 * at pos; each completed block is checked against its leaf.  Returns 0,
 * -EBADMSG when a block did not match (it is missing again and the rest of
 * the claim is released: drop this source), or -errno from pwrite.
 */
int dlseg_write(struct dlseg *s, const void *data, size_t n);
/*
 * dlseg_start_deferred - the same, but dlseg_write() does not hash: each
 * completed block becomes DL_WRITTEN and is passed to cb (which arranges
 * for dlfile_hash_block() to run elsewhere and dlfile_block_result() to
 * be called with the verdict).
 */
int dlseg_start_deferred(struct dlseg *s, struct dlfile *d, uint64_t off,
                         uint64_t len, dlseg_written_fn *cb, void *arg);

/* dlseg_written - n bytes at s->pos were written into d->fd by the
 * caller (splice): account for them as dlseg_write() would.  Deferred
 * segments only; -EINVAL otherwise. */
int dlseg_written(struct dlseg *s, size_t n);

/* dlfile_block_result - the verdict on a DL_WRITTEN block: DONE, or
 * MISSING again (to be fetched from another source). */
void dlfile_block_result(struct dlfile *d, size_t block, bool ok);

/* dlfile_block_range - offset and length of block i. */
void dlfile_block_range(const struct dlfile *d, size_t i, uint64_t *off,
                        uint64_t *len);

/* The read buffer dlfile_hash_block() wants: 64 KiB to 1 MiB hashed a
 * 256 MiB download alike. */
#define DLFILE_HASH_BUF (128 * 1024)

/*
 * dlfile_hash_block - the TTH of len bytes at off in fd (a block of
 * block_size), read with pread through buf (buf_size bytes, the caller's,
 * reused from block to block; NULL: one of DLFILE_HASH_BUF is allocated
 * for the call): safe on any thread.  0 or -errno.
 */
int dlfile_hash_block(int fd, uint64_t off, uint64_t len, uint64_t block_size,
                      uint8_t *buf, size_t buf_size, uint8_t out[TIGER_BYTES]);

/* dlseg_abort - release the blocks of the claim not yet verified. */
void dlseg_abort(struct dlseg *s);

bool dlfile_complete(const struct dlfile *d);

/*
 * dlfile_finish - move the complete file to dest_dir under a safe version
 * of name (no '/', no leading '.', no control characters), never replacing
 * an existing file: "name (1).ext" and so on.  *final_path is malloc'ed.
 * The leaves file is removed.  Returns 0 or -errno.
 */
int dlfile_finish(struct dlfile *d, const char *dest_dir, const char *name,
                  char **final_path);

/* dlfile_safe_name - the name a download gets in the downloads folder
 * (malloc'ed): path components stripped, bad characters replaced. */
char *dlfile_safe_name(const char *name);

#endif
