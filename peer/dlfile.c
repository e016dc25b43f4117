// SPDX-License-Identifier: MIT
/* dlfile.c - TTH-verified block assembly of downloads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base32.h"
#include "dlfile.h"
#include "xalloc.h"

int
dlfile_open(struct dlfile *d, const char *dir, const uint8_t root[TIGER_BYTES],
            uint64_t size)
{
	char t[TIGER_BASE32_LEN + 1];
	int fd, err;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	base32_encode(root, TIGER_BYTES, t, sizeof(t));
	memcpy(d->root, root, TIGER_BYTES);
	d->size = size;
	d->part_path = xasprintf("%s/%s.part", dir, t);
	d->tthl_path = xasprintf("%s/%s.tthl", dir, t);
	d->fd = open(d->part_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	             0644);
	if (d->fd < 0) {
		err = -errno;
		dlfile_close(d);
		return err;
	}
	/* Leaves saved by an earlier run: resume. */
	fd = open(d->tthl_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		struct stat st;

		if (fstat(fd, &st) == 0 && st.st_size > 0 &&
		    st.st_size <= 1 << 24) {
			char *buf = xmalloc((size_t)st.st_size);

			if (read(fd, buf, (size_t)st.st_size) == st.st_size)
				(void)dlfile_set_leaves(d, buf,
				                        (size_t)st.st_size);
			free(buf);
		}
		close(fd);
	}
	return 0;
}

void
dlfile_close(struct dlfile *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->part_path);
	free(d->tthl_path);
	free(d->leaves);
	free(d->state);
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}

void
dlfile_remove(struct dlfile *d)
{
	if (d->part_path)
		unlink(d->part_path);
	if (d->tthl_path)
		unlink(d->tthl_path);
	dlfile_close(d);
}

bool
dlfile_has_leaves(const struct dlfile *d)
{
	return d->leaves != NULL;
}

static uint64_t
dlfile_block_len(const struct dlfile *d, size_t i)
{
	uint64_t off = (uint64_t)i * d->block_size;
	uint64_t left = d->size - off;

	return left < d->block_size ? left : d->block_size;
}

int
dlfile_hash_block(int fd, uint64_t off, uint64_t len, uint64_t block_size,
                  uint8_t *buf, size_t buf_size, uint8_t out[TIGER_BYTES])
{
	struct tth_hasher h;
	uint8_t *own = NULL;
	uint64_t done = 0;
	int err = 0;

	if (buf == NULL || buf_size == 0) {
		buf = own = xmalloc(DLFILE_HASH_BUF);
		buf_size = DLFILE_HASH_BUF;
	}
	if (tth_hasher_init(&h, block_size) != 0) {
		free(own);
		return -ENOMEM;
	}
	/* pread into the caller's buffer, not mmap: unmapping each block
	 * cost a TLB shootdown on every core the process runs on, and the
	 * mapping page faults, which measured dearer than the copy. */
	while (done < len && err == 0) {
		size_t want =
		        len - done < buf_size ? (size_t)(len - done) : buf_size;
		ssize_t n = pread(fd, buf, want, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = -errno;
		else if (n == 0)
			err = -ENODATA;
		else if (tth_hasher_update(&h, buf, (size_t)n) != 0)
			err = -ENOMEM;
		else
			done += (uint64_t)n;
	}
	if (err == 0 && tth_hasher_final(&h, out) != 0)
		err = -ENOMEM;
	free(own);
	tth_hasher_fini(&h);
	return err;
}

void
dlfile_block_range(const struct dlfile *d, size_t i, uint64_t *off,
                   uint64_t *len)
{
	*off = (uint64_t)i * d->block_size;
	*len = dlfile_block_len(d, i);
}

/* Check every block the part file already holds against its leaf. */
static void
dlfile_verify_existing(struct dlfile *d)
{
	struct stat st;
	uint64_t have;

	if (fstat(d->fd, &st) != 0)
		return;
	have = (uint64_t)st.st_size;
	for (size_t i = 0; i < d->n_blocks; i++) {
		uint64_t off = (uint64_t)i * d->block_size;
		uint64_t len = dlfile_block_len(d, i);
		uint8_t got[TIGER_BYTES];

		if (off + len > have || len == 0)
			break;
		if (dlfile_hash_block(d->fd, off, len, d->block_size, NULL, 0,
		                      got) == 0 &&
		    memcmp(got, d->leaves[i], TIGER_BYTES) == 0) {
			d->state[i] = DL_DONE;
			d->done_bytes += len;
		}
	}
}

void
dlfile_block_result(struct dlfile *d, size_t block, bool ok)
{
	if (block >= d->n_blocks || d->state[block] != DL_WRITTEN)
		return;
	if (ok) {
		d->state[block] = DL_DONE;
		d->done_bytes += dlfile_block_len(d, block);
	} else {
		d->state[block] = DL_MISSING;
	}
}

int
dlfile_set_leaves(struct dlfile *d, const void *data, size_t len)
{
	size_t n = len / TIGER_BYTES;
	uint8_t root[TIGER_BYTES];
	uint64_t bs = TTH_LEAF;
	int fd;

	if (len == 0 || len % TIGER_BYTES != 0)
		return -EBADMSG;
	if (tth_root(data, n, root) != 0 ||
	    memcmp(root, d->root, TIGER_BYTES) != 0)
		return -EBADMSG;
	/* The block size: the smallest 1024 * 2^k giving n blocks. */
	if (n == 1) {
		while (bs < d->size)
			bs *= 2;
	} else {
		while (bs < (UINT64_C(1) << 62) && (d->size + bs - 1) / bs > n)
			bs *= 2;
		if ((d->size + bs - 1) / bs != n)
			return -EBADMSG;
	}
	free(d->leaves);
	free(d->state);
	d->leaves = xmalloc(len);
	memcpy(d->leaves, data, len);
	d->n_blocks = n;
	d->block_size = bs;
	d->state = xcalloc(n, 1);
	d->done_bytes = 0;
	fd = open(d->tthl_path,
	          O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0) {
		(void)!write(fd, data, len);
		close(fd);
	}
	if (d->size == 0) {
		d->state[0] = DL_DONE;
		return 0;
	}
	dlfile_verify_existing(d);
	return 0;
}

int
dlfile_claim(struct dlfile *d, uint64_t max_len, uint64_t *off, uint64_t *len)
{
	size_t i = 0, j;
	uint64_t got = 0;

	if (d->leaves == NULL)
		return -ENOENT;
	while (i < d->n_blocks && d->state[i] != DL_MISSING)
		i++;
	if (i == d->n_blocks)
		return -ENOENT;
	for (j = i; j < d->n_blocks && d->state[j] == DL_MISSING; j++) {
		if (j > i && got + dlfile_block_len(d, j) > max_len)
			break;
		d->state[j] = DL_CLAIMED;
		got += dlfile_block_len(d, j);
	}
	*off = (uint64_t)i * d->block_size;
	*len = got;
	return 0;
}

int
dlseg_start_deferred(struct dlseg *s, struct dlfile *d, uint64_t off,
                     uint64_t len, dlseg_written_fn *cb, void *arg)
{
	int err = dlseg_start(s, d, off, len);

	if (err)
		return err;
	tth_hasher_fini(&s->h); /* not used: blocks are hashed elsewhere */
	s->written_cb = cb;
	s->cb_arg = arg;
	return 0;
}

int
dlseg_start(struct dlseg *s, struct dlfile *d, uint64_t off, uint64_t len)
{
	memset(s, 0, sizeof(*s));
	if (d->block_size == 0 || off % d->block_size != 0 ||
	    off + len > d->size)
		return -EINVAL;
	s->d = d;
	s->pos = off;
	s->end = off + len;
	if (tth_hasher_init(&s->h, d->block_size) != 0)
		return -ENOMEM;
	s->active = true;
	return 0;
}

static void
dlseg_release(struct dlseg *s)
{
	struct dlfile *d = s->d;

	for (uint64_t b = s->pos / d->block_size;
	     b < d->n_blocks && b * d->block_size < s->end; b++)
		if (d->state[b] == DL_CLAIMED)
			d->state[b] = DL_MISSING;
}

void
dlseg_abort(struct dlseg *s)
{
	if (!s->active)
		return;
	dlseg_release(s);
	if (s->written_cb == NULL)
		tth_hasher_fini(&s->h);
	s->active = false;
}

/* The block at s->pos, its end, and how much of n fits in it. */
static size_t
dlseg_piece(const struct dlseg *s, size_t n, size_t *b, uint64_t *bend)
{
	const struct dlfile *d = s->d;

	*b = (size_t)(s->pos / d->block_size);
	*bend = (uint64_t)*b * d->block_size + dlfile_block_len(d, *b);
	return n < *bend - s->pos ? n : (size_t)(*bend - s->pos);
}

int
dlseg_write(struct dlseg *s, const void *data, size_t n)
{
	struct dlfile *d = s->d;
	const uint8_t *p = data;

	if (!s->active || n > s->end - s->pos)
		return -EINVAL;
	while (n > 0) {
		size_t b;
		uint64_t bend;
		size_t take = dlseg_piece(s, n, &b, &bend);
		size_t wrote = 0;

		while (wrote < take) {
			ssize_t w = pwrite(d->fd, p + wrote, take - wrote,
			                   (off_t)(s->pos + wrote));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				int err = -errno;

				dlseg_abort(s);
				return err;
			}
			wrote += (size_t)w;
		}
		if (s->written_cb == NULL &&
		    tth_hasher_update(&s->h, p, take) != 0) {
			dlseg_abort(s);
			return -ENOMEM;
		}
		s->pos += take;
		p += take;
		n -= take;
		if (s->pos == bend && s->written_cb) {
			d->state[b] = DL_WRITTEN;
			s->written_cb(s->cb_arg, b);
		} else if (s->pos == bend) {
			uint8_t got[TIGER_BYTES];
			bool ok = tth_hasher_final(&s->h, got) == 0 &&
			          memcmp(got, d->leaves[b], TIGER_BYTES) == 0;

			tth_hasher_fini(&s->h);
			if (!ok) {
				/* Only this block is bad: fetch it again. */
				d->state[b] = DL_MISSING;
				s->active = false;
				dlseg_release(s);
				return -EBADMSG;
			}
			d->state[b] = DL_DONE;
			d->done_bytes += dlfile_block_len(d, b);
			if (tth_hasher_init(&s->h, d->block_size) != 0) {
				s->active = false;
				dlseg_release(s);
				return -ENOMEM;
			}
		}
	}
	if (s->pos == s->end) {
		if (s->written_cb == NULL)
			tth_hasher_fini(&s->h);
		s->active = false;
	}
	return 0;
}

int
dlseg_written(struct dlseg *s, size_t n)
{
	struct dlfile *d = s->d;

	if (!s->active || s->written_cb == NULL || n > s->end - s->pos)
		return -EINVAL;
	while (n > 0) {
		size_t b;
		uint64_t bend;
		size_t take = dlseg_piece(s, n, &b, &bend);

		s->pos += take;
		n -= take;
		if (s->pos == bend) {
			d->state[b] = DL_WRITTEN;
			s->written_cb(s->cb_arg, b);
		}
	}
	if (s->pos == s->end)
		s->active = false;
	return 0;
}

bool
dlfile_complete(const struct dlfile *d)
{
	return d->leaves != NULL && d->done_bytes == d->size &&
	       (d->size > 0 || d->state[0] == DL_DONE);
}

char *
dlfile_safe_name(const char *name)
{
	const char *base = strrchr(name, '/');
	const char *b2;
	char *out, *o;

	base = base ? base + 1 : name;
	b2 = strrchr(base, '\\');
	if (b2)
		base = b2 + 1;
	out = xstrdup(*base ? base : "download");
	for (o = out; *o; o++)
		if ((unsigned char)*o < 0x20 || *o == 0x7f)
			*o = '_';
	if (out[0] == '.')
		out[0] = '_';
	if (strlen(out) > 200)
		out[200] = '\0';
	return out;
}

int
dlfile_finish(struct dlfile *d, const char *dest_dir, const char *name,
              char **final_path)
{
	char *safe = dlfile_safe_name(name);
	const char *dot = strrchr(safe, '.');
	size_t stem = dot && dot != safe ? (size_t)(dot - safe) : strlen(safe);
	int err = 0;

	if (fsync(d->fd) != 0) {
		free(safe);
		return -errno;
	}
	for (int k = 0; k < 10000; k++) {
		char *path =
		        k == 0 ? xasprintf("%s/%s", dest_dir, safe)
		               : xasprintf("%s/%.*s (%d)%s", dest_dir,
		                           (int)stem, safe, k, safe + stem);

		if (renameat2(AT_FDCWD, d->part_path, AT_FDCWD, path,
		              RENAME_NOREPLACE) == 0) {
			*final_path = path;
			unlink(d->tthl_path);
			free(safe);
			return 0;
		}
		err = -errno;
		free(path);
		if (err != -EEXIST)
			break;
	}
	free(safe);
	return err;
}
