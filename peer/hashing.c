// SPDX-License-Identifier: MIT
/* hashing.c - the hashing thread and its SQLite cache.
 *
 * The thread owns one database connection; the loop thread has another
 * (WAL mode, so reads never wait for the writer) for "tthl" requests.
 * Results go through a mutex-protected list and an eventfd: the loop
 * thread drains the list in one callback. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "hashing.h"
#include "ipckit.h"
#include "xalloc.h"

#define HASH_READ_BYTES (1024 * 1024)
#define HASH_MAX_DEPTH  64

struct hash_item {
	struct hash_item *next;
	bool done; /* a completion marker rather than a result */
	struct hash_result r;
	uint64_t hashed_bytes;
	unsigned cached, hashed;
};

struct hashing {
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Guarded by mu. */
	char **roots; /* owned: the pending scan's roots */
	size_t n_roots;
	unsigned gen;      /* the newest scan requested */
	bool scan_pending; /* a scan waits to start */
	bool stopping;
	struct hash_item *head, **tail; /* results for the loop thread */

	int efd; /* eventfd: results are waiting */
	struct ipk_loop *loop;
	hashing_result_fn *result_fn;
	hashing_done_fn *done_fn;
	void *arg;
	sqlite3 *db_thread; /* the thread's connection */
	sqlite3 *db_loop;   /* the loop thread's connection */
	char *db_path;
	uint8_t *buf; /* the thread's read buffer */
};

uint64_t
hashing_block_size(uint64_t size)
{
	uint64_t bs = tth_block_size(size, 1024);

	return bs < 64 * 1024 ? 64 * 1024 : bs;
}

int
hash_file_fd(int fd, uint64_t size, uint8_t root[TIGER_BYTES],
             uint8_t (**leaves)[TIGER_BYTES], size_t *n_leaves)
{
	struct tth_hasher th;
	uint8_t *buf;
	uint64_t off = 0;
	int err = 0;

	if (tth_hasher_init(&th, hashing_block_size(size)) != 0)
		return -ENOMEM;
	buf = xmalloc(HASH_READ_BYTES);
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	while (off < size) {
		size_t want = size - off < HASH_READ_BYTES
		                      ? (size_t)(size - off)
		                      : HASH_READ_BYTES;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0) { /* shrank while we read it */
			err = -ESTALE;
			break;
		}
		if (tth_hasher_update(&th, buf, (size_t)n) != 0) {
			err = -EIO;
			break;
		}
		off += (uint64_t)n;
	}
	if (err == 0 && tth_hasher_final(&th, root) != 0)
		err = -EIO;
	if (err == 0 && leaves) {
		*n_leaves = th.n_blocks;
		*leaves = xmalloc(th.n_blocks * TIGER_BYTES);
		memcpy(*leaves, th.blocks, th.n_blocks * TIGER_BYTES);
	}
	free(buf);
	tth_hasher_fini(&th);
	return err;
}

/* ---- the cache ---- */

static const char hashing_schema[] =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS hashes ("
        " path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
        " mtime_ns INTEGER NOT NULL, tth BLOB NOT NULL,"
        " leaves BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);"
        "CREATE TABLE IF NOT EXISTS queue (tth TEXT PRIMARY KEY,"
        " size INTEGER NOT NULL, name TEXT NOT NULL);";

static int
hashing_open_db(const char *path, sqlite3 **db)
{
	if (sqlite3_open_v2(path, db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                            SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		sqlite3_close(*db);
		*db = NULL;
		return -EIO;
	}
	sqlite3_busy_timeout(*db, 5000);
	if (sqlite3_exec(*db, hashing_schema, NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(*db);
		*db = NULL;
		return -EIO;
	}
	return 0;
}

static int
cache_lookup(sqlite3 *db, const char *path, uint64_t size, int64_t mtime,
             uint8_t tth[TIGER_BYTES], void **leaves, size_t *leaves_len)
{
	sqlite3_stmt *st;
	int rc, err = -ENOENT;

	if (sqlite3_prepare_v2(db,
	                       "SELECT tth, leaves FROM hashes WHERE path=?1 "
	                       "AND size=?2 AND mtime_ns=?3",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 3, mtime);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == TIGER_BYTES) {
		int n = sqlite3_column_bytes(st, 1);

		if (tth)
			memcpy(tth, sqlite3_column_blob(st, 0), TIGER_BYTES);
		if (leaves && n > 0 && n % TIGER_BYTES == 0) {
			*leaves = xmalloc((size_t)n);
			memcpy(*leaves, sqlite3_column_blob(st, 1), (size_t)n);
			*leaves_len = (size_t)n;
		}
		err = 0;
		if (leaves && *leaves == NULL)
			err = -ENOENT;
	}
	sqlite3_finalize(st);
	return err;
}

static void
cache_store(sqlite3 *db, const char *path, uint64_t size, int64_t mtime,
            const uint8_t tth[TIGER_BYTES], const void *leaves, size_t n)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db,
	                       "INSERT OR REPLACE INTO hashes VALUES "
	                       "(?1, ?2, ?3, ?4, ?5)",
	                       -1, &st, NULL) != SQLITE_OK)
		return;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 3, mtime);
	sqlite3_bind_blob(st, 4, tth, TIGER_BYTES, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, leaves, (int)n, SQLITE_STATIC);
	sqlite3_step(st);
	sqlite3_finalize(st);
}

int
hashing_leaves(struct hashing *h, const char *path, uint64_t size,
               int64_t mtime_ns, uint8_t (**leaves)[TIGER_BYTES], size_t *n)
{
	void *p = NULL;
	size_t len = 0;
	int err;

	err = cache_lookup(h->db_loop, path, size, mtime_ns, NULL, &p, &len);
	if (err)
		return err;
	*leaves = p;
	*n = len / TIGER_BYTES;
	return 0;
}

int
hashing_get_pid(struct hashing *h, uint8_t pid[TIGER_BYTES])
{
	sqlite3_stmt *st;
	int err = -ENOENT;

	if (sqlite3_prepare_v2(h->db_loop,
	                       "SELECT value FROM meta WHERE key='pid'", -1,
	                       &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == TIGER_BYTES) {
		memcpy(pid, sqlite3_column_blob(st, 0), TIGER_BYTES);
		err = 0;
	}
	sqlite3_finalize(st);
	return err;
}

int
hashing_set_pid(struct hashing *h, const uint8_t pid[TIGER_BYTES])
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(h->db_loop,
	                       "INSERT OR REPLACE INTO meta VALUES ('pid', ?1)",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_blob(st, 1, pid, TIGER_BYTES, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int
hashing_queue_add(struct hashing *h, const char *tth32, uint64_t size,
                  const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(h->db_loop,
	                       "INSERT OR REPLACE INTO queue VALUES (?1, ?2, "
	                       "?3)",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, tth32, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int
hashing_queue_del(struct hashing *h, const char *tth32)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(h->db_loop, "DELETE FROM queue WHERE tth=?1", -1,
	                       &st, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, tth32, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int
hashing_queue_list(struct hashing *h, hashing_queue_fn *fn, void *arg)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(h->db_loop,
	                       "SELECT tth, size, name FROM queue ORDER BY "
	                       "rowid",
	                       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		const char *n = (const char *)sqlite3_column_text(st, 2);
		sqlite3_int64 size = sqlite3_column_int64(st, 1);

		if (t && n && size >= 0)
			fn(arg, t, (uint64_t)size, n);
	}
	sqlite3_finalize(st);
	return 0;
}

/* ---- thread side ---- */

static void
hashing_push(struct hashing *h, struct hash_item *it)
{
	uint64_t one = 1;

	pthread_mutex_lock(&h->mu);
	it->next = NULL;
	*h->tail = it;
	h->tail = &it->next;
	pthread_mutex_unlock(&h->mu);
	/* A full counter only means the loop has a wake-up pending. */
	(void)!write(h->efd, &one, sizeof(one));
}

static bool
hashing_abandon(struct hashing *h, unsigned gen)
{
	bool stop;

	pthread_mutex_lock(&h->mu);
	stop = h->stopping || h->scan_pending || h->gen != gen;
	pthread_mutex_unlock(&h->mu);
	return stop;
}

struct scan_stats {
	uint64_t hashed_bytes;
	unsigned cached, hashed;
};

static void
hashing_file(struct hashing *h, unsigned gen, unsigned root, const char *full,
             const char *rel, const struct stat *st, struct scan_stats *stats)
{
	struct hash_item *it = xcalloc(1, sizeof(*it));
	int64_t mtime =
	        (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	uint8_t(*leaves)[TIGER_BYTES] = NULL;
	size_t n = 0;

	it->r.gen = gen;
	it->r.root = root;
	it->r.rel = xstrdup(rel);
	it->r.size = (uint64_t)st->st_size;
	it->r.mtime_ns = mtime;
	if (cache_lookup(h->db_thread, full, it->r.size, mtime, it->r.tth, NULL,
	                 NULL) == 0) {
		stats->cached++;
	} else {
		int fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0) {
			it->r.err = -errno;
		} else {
			it->r.err = hash_file_fd(fd, it->r.size, it->r.tth,
			                         &leaves, &n);
			close(fd);
		}
		if (it->r.err == 0) {
			cache_store(h->db_thread, full, it->r.size, mtime,
			            it->r.tth, leaves, n * TIGER_BYTES);
			stats->hashed++;
			stats->hashed_bytes += it->r.size;
		}
		free(leaves);
	}
	hashing_push(h, it);
}

/* Symlinks are never followed: a share holds what is inside it. */
static void
hashing_walk(struct hashing *h, unsigned gen, unsigned root, char *full,
             size_t full_len, size_t root_len, int depth,
             struct scan_stats *stats)
{
	DIR *d;
	struct dirent *e;

	if (depth > HASH_MAX_DEPTH)
		return;
	d = opendir(full);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL && !hashing_abandon(h, gen)) {
		size_t nl = strlen(e->d_name);
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (full_len + 1 + nl >= PATH_MAX)
			continue;
		full[full_len] = '/';
		memcpy(full + full_len + 1, e->d_name, nl + 1);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			hashing_walk(h, gen, root, full, full_len + 1 + nl,
			             root_len, depth + 1, stats);
		else if (S_ISREG(st.st_mode))
			hashing_file(h, gen, root, full, full + root_len + 1,
			             &st, stats);
		full[full_len] = '\0';
	}
	closedir(d);
}

static void *
hashing_main(void *arg)
{
	struct hashing *h = arg;

	for (;;) {
		char **roots;
		size_t n;
		unsigned gen;
		struct scan_stats stats = { 0 };
		struct hash_item *done;
		char *full;

		pthread_mutex_lock(&h->mu);
		while (!h->stopping && !h->scan_pending)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->stopping) {
			pthread_mutex_unlock(&h->mu);
			break;
		}
		roots = h->roots;
		n = h->n_roots;
		h->roots = NULL;
		h->n_roots = 0;
		gen = h->gen;
		h->scan_pending = false;
		pthread_mutex_unlock(&h->mu);

		full = xmalloc(PATH_MAX);
		sqlite3_exec(h->db_thread, "BEGIN", NULL, NULL, NULL);
		for (size_t i = 0; i < n && !hashing_abandon(h, gen); i++) {
			size_t len = strlen(roots[i]);

			if (len >= PATH_MAX)
				continue;
			memcpy(full, roots[i], len + 1);
			hashing_walk(h, gen, (unsigned)i, full, len, len, 0,
			             &stats);
			/* Commit as we go: a restart keeps what is done. */
			sqlite3_exec(h->db_thread, "COMMIT; BEGIN", NULL, NULL,
			             NULL);
		}
		sqlite3_exec(h->db_thread, "COMMIT", NULL, NULL, NULL);
		free(full);
		for (size_t i = 0; i < n; i++)
			free(roots[i]);
		free(roots);
		if (hashing_abandon(h, gen))
			continue;
		done = xcalloc(1, sizeof(*done));
		done->done = true;
		done->r.gen = gen;
		done->hashed_bytes = stats.hashed_bytes;
		done->cached = stats.cached;
		done->hashed = stats.hashed;
		hashing_push(h, done);
	}
	return NULL;
}

/* ---- loop side ---- */

static void
hashing_on_event(struct ipk_loop *loop, int fd, unsigned events, void *arg)
{
	struct hashing *h = arg;
	struct hash_item *list, *next;
	uint64_t v;

	(void)loop;
	(void)events;
	(void)!read(fd, &v, sizeof(v));
	pthread_mutex_lock(&h->mu);
	list = h->head;
	h->head = NULL;
	h->tail = &h->head;
	pthread_mutex_unlock(&h->mu);
	for (; list; list = next) {
		next = list->next;
		if (list->done)
			h->done_fn(h->arg, list->r.gen, list->hashed_bytes,
			           list->cached, list->hashed);
		else
			h->result_fn(h->arg, &list->r); /* takes r.rel */
		free(list);
	}
}

int
hashing_start(struct hashing **hp, const char *db_path, struct ipk_loop *loop,
              hashing_result_fn *result_fn, hashing_done_fn *done_fn, void *arg,
              const char **why)
{
	struct hashing *h = xcalloc(1, sizeof(*h));
	int err;

	*hp = NULL;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->tail = &h->head;
	h->loop = loop;
	h->result_fn = result_fn;
	h->done_fn = done_fn;
	h->arg = arg;
	h->db_path = xstrdup(db_path);
	h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->efd < 0) {
		err = -errno;
		*why = "eventfd";
		goto fail;
	}
	if (hashing_open_db(db_path, &h->db_thread) != 0 ||
	    hashing_open_db(db_path, &h->db_loop) != 0) {
		err = -EIO;
		*why = "cannot open the hash cache (SQLite)";
		goto fail;
	}
	err = ipk_loop_watch(loop, h->efd, IPK_READ, hashing_on_event, h);
	if (err) {
		*why = "watch";
		goto fail;
	}
	{
		/* Signals are for the loop's signalfd: the thread starts
		 * with all of them blocked, so none is delivered to it. */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		err = -pthread_create(&h->thread, NULL, hashing_main, h);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (err) {
		*why = "pthread_create";
		ipk_loop_unwatch(loop, h->efd);
		goto fail;
	}
	h->thread_started = true;
	*hp = h;
	return 0;
fail:
	hashing_stop(h);
	return err;
}

void
hashing_stop(struct hashing *h)
{
	struct hash_item *it, *next;

	if (h == NULL)
		return;
	if (h->thread_started) {
		pthread_mutex_lock(&h->mu);
		h->stopping = true;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->thread, NULL);
		ipk_loop_unwatch(h->loop, h->efd);
	}
	for (it = h->head; it; it = next) {
		next = it->next;
		free(it->r.rel);
		free(it);
	}
	for (size_t i = 0; i < h->n_roots; i++)
		free(h->roots[i]);
	free(h->roots);
	sqlite3_close(h->db_thread);
	sqlite3_close(h->db_loop);
	if (h->efd >= 0)
		close(h->efd);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h->db_path);
	free(h);
}

int
hashing_scan(struct hashing *h, const char *const *roots, size_t n,
             unsigned gen)
{
	char **copy = xcalloc(n ? n : 1, sizeof(*copy));

	for (size_t i = 0; i < n; i++)
		copy[i] = xstrdup(roots[i]);
	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n_roots; i++)
		free(h->roots[i]);
	free(h->roots);
	h->roots = copy;
	h->n_roots = n;
	h->gen = gen;
	h->scan_pending = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return 0;
}
