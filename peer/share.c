// SPDX-License-Identifier: MIT
/* share.c - the share index and the guarded opening of shared files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base32.h"
#include "filelist.h"
#include "share.h"
#include "xalloc.h"

void
share_init(struct share *sh)
{
	memset(sh, 0, sizeof(*sh));
	strmap_init(&sh->by_vpath);
	strmap_init(&sh->by_tth);
}

static void
share_file_free(struct share_file *f)
{
	if (f == NULL)
		return;
	free(f->vpath);
	free(f->rel);
	free(f);
}

static void
share_free_dirs(struct share *sh)
{
	for (size_t i = 0; i < sh->n_dirs; i++)
		free(sh->dirs[i]);
	free(sh->dirs);
	sh->dirs = NULL;
	sh->n_dirs = 0;
}

void
share_fini(struct share *sh)
{
	for (size_t i = 0; i < sh->by_vpath.cap; i++) {
		struct strmap_slot *s = &sh->by_vpath.slots[i];

		if (s->value)
			share_file_free(s->value);
	}
	strmap_fini(&sh->by_vpath);
	strmap_fini(&sh->by_tth);
	for (size_t i = 0; i < sh->n_roots; i++) {
		free(sh->roots[i].real);
		free(sh->roots[i].name);
	}
	free(sh->roots);
	share_free_dirs(sh);
	free(sh->list_bz2);
	memset(sh, 0, sizeof(*sh));
}

static bool
path_within(const char *inner, const char *outer)
{
	size_t n = strlen(outer);

	return strncmp(inner, outer, n) == 0 &&
	       (inner[n] == '/' || inner[n] == '\0' || strcmp(outer, "/") == 0);
}

static bool
share_name_taken(const struct share *sh, const char *name)
{
	for (size_t i = 0; i < sh->n_roots; i++)
		if (sh->roots[i].real && strcmp(sh->roots[i].name, name) == 0)
			return true;
	return false;
}

int
share_add_root(struct share *sh, const char *path)
{
	char *real = realpath(path, NULL);
	struct stat st;
	const char *base;
	char *name;

	if (real == NULL)
		return -errno;
	if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(real);
		return -ENOTDIR;
	}
	for (size_t i = 0; i < sh->n_roots; i++) {
		const char *r = sh->roots[i].real;

		if (r && (path_within(real, r) || path_within(r, real))) {
			free(real);
			return -EEXIST;
		}
	}
	base = strrchr(real, '/');
	base = base && base[1] ? base + 1 : "root";
	name = xstrdup(base);
	for (int k = 2; share_name_taken(sh, name); k++) {
		free(name);
		name = xasprintf("%s (%d)", base, k);
	}
	sh->roots =
	        xreallocarray(sh->roots, sh->n_roots + 1, sizeof(*sh->roots));
	sh->roots[sh->n_roots].real = real;
	sh->roots[sh->n_roots].name = name;
	sh->n_roots++;
	return 0;
}

static void
share_drop(struct share *sh, struct share_file *f)
{
	if (strmap_get(&sh->by_tth, f->tth32) == f)
		strmap_del(&sh->by_tth, f->tth32);
	strmap_del(&sh->by_vpath, f->vpath);
	sh->total_bytes -= f->size;
	sh->n_files--;
	share_file_free(f);
}

/* Files are visited through the vpath map's slots; deleting while walking
 * is fine because strmap_del only leaves a tombstone. */
static void
share_drop_if(struct share *sh,
              bool (*pred)(const struct share_file *, unsigned), unsigned arg)
{
	for (size_t i = 0; i < sh->by_vpath.cap; i++) {
		struct share_file *f = sh->by_vpath.slots[i].value;

		if (f && pred(f, arg))
			share_drop(sh, f);
	}
}

static bool
in_root(const struct share_file *f, unsigned root)
{
	return f->root == root;
}

int
share_remove_root(struct share *sh, const char *path_or_name)
{
	char *real = realpath(path_or_name, NULL);

	for (size_t i = 0; i < sh->n_roots; i++) {
		struct share_root *r = &sh->roots[i];

		if (r->real == NULL)
			continue;
		if (strcmp(r->name, path_or_name) == 0 ||
		    strcmp(r->real, path_or_name) == 0 ||
		    (real && strcmp(r->real, real) == 0)) {
			share_drop_if(sh, in_root, (unsigned)i);
			/* Indices stay stable: files refer to roots by
			 * index, so a removed root leaves a hole. */
			free(r->real);
			r->real = NULL;
			free(real);
			return 0;
		}
	}
	free(real);
	return -ENOENT;
}

static void
share_index_tth(struct share *sh, struct share_file *f)
{
	/* Keep the first file with a given TTH; another copy serves
	 * equally well. */
	if (strmap_get(&sh->by_tth, f->tth32) == NULL)
		strmap_put(&sh->by_tth, f->tth32, f);
}

void
share_put(struct share *sh, unsigned gen, unsigned root, char *rel,
          uint64_t size, int64_t mtime_ns, const uint8_t tth[TIGER_BYTES])
{
	struct share_file *f;
	char *vpath;

	if (root >= sh->n_roots || sh->roots[root].real == NULL) {
		free(rel);
		return;
	}
	vpath = xasprintf("/%s/%s", sh->roots[root].name, rel);
	f = strmap_get(&sh->by_vpath, vpath);
	if (f) {
		share_drop(sh, f);
	}
	f = xcalloc(1, sizeof(*f));
	f->vpath = vpath;
	f->rel = rel;
	f->root = root;
	f->size = size;
	f->mtime_ns = mtime_ns;
	f->gen = gen;
	memcpy(f->tth, tth, TIGER_BYTES);
	base32_encode(tth, TIGER_BYTES, f->tth32, sizeof(f->tth32));
	strmap_put(&sh->by_vpath, f->vpath, f);
	share_index_tth(sh, f);
	sh->total_bytes += size;
	sh->n_files++;
}

static bool
older_than(const struct share_file *f, unsigned gen)
{
	return f->gen != gen;
}

static int
item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct filelist_item *)a)->vpath,
	              ((const struct filelist_item *)b)->vpath);
}

int
share_sweep(struct share *sh, unsigned gen, const char *cid)
{
	struct filelist_item *items;
	struct strmap dirs;
	size_t n = 0;
	int err;

	share_drop_if(sh, older_than, gen);
	/* Re-index TTHs: a dropped duplicate may have been the indexed one. */
	strmap_fini(&sh->by_tth);
	strmap_init(&sh->by_tth);
	items = xcalloc(sh->n_files ? sh->n_files : 1, sizeof(*items));
	for (size_t i = 0; i < sh->by_vpath.cap; i++) {
		struct share_file *f = sh->by_vpath.slots[i].value;

		if (f == NULL)
			continue;
		share_index_tth(sh, f);
		items[n++] =
		        (struct filelist_item){ f->vpath, f->size, f->tth32 };
	}
	qsort(items, n, sizeof(*items), item_cmp);

	share_free_dirs(sh);
	strmap_init(&dirs);
	for (size_t i = 0; i < n; i++) {
		const char *v = items[i].vpath;

		for (const char *s = strchr(v + 1, '/'); s;
		     s = strchr(s + 1, '/')) {
			char *d = xstrndup(v, (size_t)(s - v) + 1);

			if (strmap_get(&dirs, d)) {
				free(d);
				continue;
			}
			sh->dirs = xreallocarray(sh->dirs, sh->n_dirs + 1,
			                         sizeof(*sh->dirs));
			sh->dirs[sh->n_dirs++] = d;
			strmap_put(&dirs, d, d);
		}
	}
	strmap_fini(&dirs);

	free(sh->list_bz2);
	sh->list_bz2 = NULL;
	sh->list_len = 0;
	err = filelist_build(items, n, cid, &sh->list_bz2, &sh->list_len);
	free(items);
	return err;
}

struct share_file *
share_by_tth(const struct share *sh, const char *tth32)
{
	return strmap_get(&sh->by_tth, tth32);
}

size_t
share_search(const struct share *sh, const struct search_query *q, size_t max,
             share_match_fn *fn, void *arg)
{
	size_t found = 0;

	if (q->has_tr) {
		char t[TIGER_BASE32_LEN + 1];
		const struct share_file *f;

		base32_encode(q->tr, TIGER_BYTES, t, sizeof(t));
		f = share_by_tth(sh, t);
		if (f && max > 0 &&
		    search_match_file(q, f->vpath, f->size, f->tth)) {
			fn(arg, f->vpath, false, f);
			return 1;
		}
		return 0;
	}
	for (size_t i = 0; i < sh->by_vpath.cap && found < max; i++) {
		const struct share_file *f = sh->by_vpath.slots[i].value;

		if (f && search_match_file(q, f->vpath, f->size, f->tth)) {
			fn(arg, f->vpath, false, f);
			found++;
		}
	}
	for (size_t i = 0; i < sh->n_dirs && found < max; i++) {
		if (search_match_dir(q, sh->dirs[i])) {
			fn(arg, sh->dirs[i], true, NULL);
			found++;
		}
	}
	return found;
}

char *
share_real_path(const struct share *sh, const struct share_file *f)
{
	return xasprintf("%s/%s", sh->roots[f->root].real, f->rel);
}

int
share_open(const struct share *sh, const struct share_file *f)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		           RESOLVE_NO_MAGICLINKS,
	};
	const char *root = sh->roots[f->root].real;
	struct stat st;
	int dfd, fd, err;

	if (root == NULL)
		return -ENOENT;
	dfd = open(root, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, dfd, f->rel, &how, sizeof(how));
	err = fd < 0 ? -errno : 0;
	close(dfd);
	if (err)
		return err;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != f->size ||
	    (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec !=
	            f->mtime_ns) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}
