// SPDX-License-Identifier: MIT
/* share.h - what we share: folders (roots), the hashed files under them
 * indexed by virtual path and by TTH, the list of directories, and the
 * file list (files.xml.bz2) generated from them.  Filled by the hashing
 * thread's results; read by search answers and uploads. */
#ifndef PEER_SHARE_H
#define PEER_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "search.h"
#include "strmap.h"
#include "tiger.h"

struct share_file {
	char *vpath; /* owned: "/<root name>/dir/file" */
	char *rel;   /* owned: path under the root, no leading '/' */
	unsigned root;
	uint64_t size;
	int64_t mtime_ns;
	uint8_t tth[TIGER_BYTES];
	char tth32[TIGER_BASE32_LEN + 1];
	unsigned gen; /* last scan that saw it */
};

struct share_root {
	char *real; /* owned: absolute, resolved path */
	char *name; /* owned: the virtual top directory name */
};

struct share {
	struct share_root *roots; /* owned array */
	size_t n_roots;
	struct strmap by_vpath; /* vpath -> share_file (owned by the map) */
	struct strmap by_tth;   /* tth32 -> share_file (borrowed) */
	uint64_t total_bytes;
	size_t n_files;
	char **dirs; /* owned: directory vpaths ("/a/b/"), for TY2 */
	size_t n_dirs;
	unsigned char *list_bz2; /* owned: files.xml.bz2 */
	size_t list_len;
	unsigned gen; /* the scan in progress or last finished */
};

void share_init(struct share *sh);
void share_fini(struct share *sh);

/*
 * share_add_root - share the folder path (resolved with realpath()).  The
 * virtual name is its last component, made unique.  Returns 0, -EEXIST if
 * it (or a folder containing it, or inside it) is already shared, or
 * -errno from realpath/stat (-ENOTDIR if not a folder).
 */
int share_add_root(struct share *sh, const char *path);
/* share_remove_root - stop sharing a root, by real path or virtual name;
 * its files leave the index.  0 or -ENOENT. */
int share_remove_root(struct share *sh, const char *path_or_name);

/* share_put - a hashed file from a scan (ownership of rel moves in). */
void share_put(struct share *sh, unsigned gen, unsigned root, char *rel,
               uint64_t size, int64_t mtime_ns, const uint8_t tth[TIGER_BYTES]);
/* share_sweep - after scan gen completes: drop files it did not see,
 * rebuild the directory list and the file list for our CID. */
int share_sweep(struct share *sh, unsigned gen, const char *cid);

struct share_file *share_by_tth(const struct share *sh, const char *tth32);

/* share_search - call fn for each match (at most max); returns matches. */
typedef void share_match_fn(void *arg, const char *vpath, bool dir,
                            const struct share_file *f);
size_t share_search(const struct share *sh, const struct search_query *q,
                    size_t max, share_match_fn *fn, void *arg);

/*
 * share_open - open a shared file for reading, beneath its root and
 * without following any symlink (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), and check that it is still the file that was
 * hashed (size and mtime).  Returns an fd or -errno (-ESTALE if changed).
 */
int share_open(const struct share *sh, const struct share_file *f);

/* share_real_path - "<root>/<rel>" (malloc'ed). */
char *share_real_path(const struct share *sh, const struct share_file *f);

#endif
