// SPDX-License-Identifier: MIT
/* filelist.h - the DC file list (files.xml, ADC "File list"): generated
 * from our share as bzip2-compressed XML, and parsed from others' lists
 * (bzip2 + expat) with limits on size, depth and entry count. */
#ifndef PEER_FILELIST_H
#define PEER_FILELIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FILELIST_MAX_XML     (512ull * 1024 * 1024) /* decompressed bytes */
#define FILELIST_MAX_ENTRIES 2000000
#define FILELIST_MAX_DEPTH   64

/* One generated entry, in order: files sorted by vpath. */
struct filelist_item {
	const char *vpath; /* "/share/dir/file" */
	uint64_t size;
	const char *tth32;
};

/*
 * filelist_build - the XML for items (sorted by vpath, bytes), bzip2
 * compressed into *out (malloc'ed).  Returns 0 or -errno.
 */
int filelist_build(const struct filelist_item *items, size_t n, const char *cid,
                   unsigned char **out, size_t *out_len);

/* filelist_xml - the same, uncompressed (tests, debugging). */
int filelist_xml(const struct filelist_item *items, size_t n, const char *cid,
                 char **out, size_t *out_len);

/* A parsed list entry. */
struct filelist_entry {
	char *path; /* owned: "/dir/sub/name", directories end with '/' */
	uint64_t size;
	char tth32[40]; /* "" for directories or when missing */
	bool dir;
};

struct filelist {
	struct filelist_entry *e; /* owned */
	size_t n, cap;
	char *cid;       /* owned: FileListing CID, or NULL */
	char *generator; /* owned, or NULL */
};

/*
 * filelist_parse - parse a list, bzip2-compressed (bz2 true) or plain XML.
 * Returns 0, or -EBADMSG (not a valid list), -EFBIG (over a limit), or
 * -ENOMEM.  On error *fl is empty.
 */
int filelist_parse(const void *data, size_t len, bool bz2, struct filelist *fl);
void filelist_fini(struct filelist *fl);

#endif
