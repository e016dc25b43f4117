// SPDX-License-Identifier: MIT
/* ipcobj.c - the inventory behind `ipckit ls` and `ipckit rm`: read the
 * kernel's tables, ipckit's own index (ipk_list()), then /proc once to see
 * who holds what, and judge each object by pids checked with their start
 * times (never by a bare kill(pid, 0), which a reused pid fools). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <limits.h>
#include <mqueue.h>
#include <pwd.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipckit.h"

#include "ipcobj.h"
#include "xalloc.h"

#define SHM_DIR     "/dev/shm"
#define MQUEUE_DIR  "/dev/mqueue"
#define RING_PREFIX "ipk-shm." /* lib/transport/shm_ring.c's names */
#define SEM_PREFIX  "sem."     /* glibc's named semaphores */

static const char *const kind_names[IPCOBJ_KINDS] = {
	[IPCOBJ_SYSV_MSG] = "sysvmq",    [IPCOBJ_SYSV_SHM] = "sysvshm",
	[IPCOBJ_SYSV_SEM] = "sysvsem",   [IPCOBJ_POSIX_MQ] = "posixmq",
	[IPCOBJ_POSIX_SHM] = "posixshm", [IPCOBJ_POSIX_SEM] = "posixsem",
	[IPCOBJ_RING] = "shm",           [IPCOBJ_FIFO] = "fifo",
	[IPCOBJ_UNIX] = "unix",          [IPCOBJ_UNIX_SEQ] = "unix+seqpacket",
	[IPCOBJ_FILEQ] = "file",
};

const char *
ipcobj_kind_name(enum ipcobj_kind k)
{
	return k < IPCOBJ_KINDS ? kind_names[k] : "?";
}

const char *
ipcobj_state_name(enum ipcobj_state st)
{
	switch (st) {
	case IPCOBJ_IN_USE:
		return "in use";
	case IPCOBJ_IDLE:
		return "idle";
	case IPCOBJ_STALE:
		return "stale";
	case IPCOBJ_UNUSED:
		break;
	}
	return "unused";
}

/* ---- the set ---- */

static struct ipcobj *
obj_add(struct ipcobj_set *s, enum ipcobj_kind kind, char *address)
{
	struct ipcobj *o;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	o = &s->v[s->n++];
	*o = (struct ipcobj){
		.kind = kind,
		.address = address,
		.key = -1,
		.id = -1,
		.bytes = -1,
		.messages = -1,
		.attaches = -1,
		.nsems = -1,
	};
	return o;
}

static void
set_note(struct ipcobj_set *s, const char *fmt, const char *what, int err)
{
	s->notes = xreallocarray(s->notes, s->n_notes + 2, sizeof(*s->notes));
	s->notes[s->n_notes++] = xasprintf(fmt, what, strerror(err));
	s->notes[s->n_notes] = NULL;
}

void
ipcobj_free(struct ipcobj_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].address);
		free(s->v[i].path);
		free(s->v[i].users);
	}
	for (size_t i = 0; i < s->n_notes; i++)
		free(s->notes[i]);
	free(s->notes);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* ---- processes: pid plus start time ---- */

/* Start time of pid in clock ticks since boot (field 22 of
 * /proc/PID/stat), 0 when there is no such process. */
static unsigned long long
proc_start(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces and ')'. */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	return start;
}

/* Boot time in epoch seconds (btime in /proc/stat), 0 if unknown. */
static long long
boot_time(void)
{
	static long long btime = -1;
	char line[256];
	FILE *f;

	if (btime >= 0)
		return btime;
	btime = 0;
	f = fopen("/proc/stat", "re");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &btime) == 1)
			break;
	fclose(f);
	return btime;
}

/*
 * Is the recorded process still the one running under its pid?  With a
 * recorded start time it must match exactly.  With only a moment it was
 * seen alive (a SysV time stamp), the process now under that pid must have
 * started by then: one started later is a stranger who got the pid again.
 * Returns whether there was anything to judge by.
 */
bool
ipcobj_pid_check(struct ipcobj_pid *p)
{
	unsigned long long now_start;
	long long hz = sysconf(_SC_CLK_TCK), bt = boot_time();
	bool judgeable = p->start || (p->at_s > 0 && bt > 0 && hz > 0);

	p->alive = false;
	if (p->pid <= 0 || !judgeable)
		return false; /* a bare pid proves nothing either way */
	now_start = proc_start(p->pid);
	if (now_start == 0)
		return true;
	if (p->start)
		p->alive = now_start == p->start;
	else
		/* Start times are in ticks, stamps in whole seconds: one
		 * second of slack for the rounding of both. */
		p->alive =
		        bt + (long long)(now_start / (unsigned long long)hz) <=
		        p->at_s + 1;
	return true;
}

static void
obj_last(struct ipcobj *o, long long pid, long long at_s)
{
	if (pid <= 0 || o->n_last == IPCOBJ_LAST_MAX)
		return;
	for (unsigned i = 0; i < o->n_last; i++)
		if (o->last[i].pid == (pid_t)pid) {
			if (at_s > o->last[i].at_s)
				o->last[i].at_s = at_s;
			return;
		}
	o->last[o->n_last++] =
	        (struct ipcobj_pid){ .pid = (pid_t)pid, .at_s = at_s };
}

void
ipcobj_comm(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(buf, cap, "?");
	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0) {
		snprintf(buf, cap, "?");
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* ---- System V: /proc/sysvipc/{msg,shm,sem} ---- */

#define SYSV_COLS 24

struct sysv_table {
	char names[SYSV_COLS][16];
	unsigned n;
};

static int
sysv_col(const struct sysv_table *t, const char *name)
{
	for (unsigned i = 0; i < t->n; i++)
		if (strcmp(t->names[i], name) == 0)
			return (int)i;
	return -1;
}

/* The value of column name in a row, or dflt if there is no such column
 * (kernels have added columns over time; we read them by name). */
static long long
sysv_get(const struct sysv_table *t, const long long *row, const char *name,
         long long dflt)
{
	int i = sysv_col(t, name);

	return i < 0 ? dflt : row[i];
}

static void
sysv_sem_pids(struct ipcobj *o, long long nsems, long long otime)
{
	for (long long i = 0; i < nsems && o->n_last < IPCOBJ_LAST_MAX; i++) {
		int pid = semctl(o->id, (int)i, GETPID);

		if (pid < 0)
			return; /* not ours to read */
		obj_last(o, pid, otime);
	}
}

static void
sysv_row(struct ipcobj_set *s, enum ipcobj_kind kind,
         const struct sysv_table *t, const long long *row)
{
	static const char *const id_col[] = {
		[IPCOBJ_SYSV_MSG] = "msqid",
		[IPCOBJ_SYSV_SHM] = "shmid",
		[IPCOBJ_SYSV_SEM] = "semid",
	};
	long long key = sysv_get(t, row, "key", 0) & 0xffffffffLL;
	int id = (int)sysv_get(t, row, id_col[kind], -1);
	struct ipcobj *o;

	if (id < 0)
		return;
	if (key != 0)
		o = obj_add(s, kind,
		            xasprintf("%s:0x%08llx", kind_names[kind], key));
	else
		o = obj_add(s, kind,
		            xasprintf("%s:id:%d", kind_names[kind], id));
	o->key = key;
	o->id = id;
	o->owner = (uid_t)sysv_get(t, row, "uid", 0);
	o->creator_uid = (uid_t)sysv_get(t, row, "cuid", 0);
	o->mode = (mode_t)(sysv_get(t, row, "perms", 0) & 0777);
	switch (kind) {
	case IPCOBJ_SYSV_MSG:
		o->bytes = sysv_get(t, row, "cbytes", -1);
		o->messages = sysv_get(t, row, "qnum", -1);
		/* The kernel records no creator for a queue: the last sender
		 * and receiver are all there is. */
		obj_last(o, sysv_get(t, row, "lspid", 0),
		         sysv_get(t, row, "stime", 0));
		obj_last(o, sysv_get(t, row, "lrpid", 0),
		         sysv_get(t, row, "rtime", 0));
		break;
	case IPCOBJ_SYSV_SHM: {
		long long at = sysv_get(t, row, "atime", 0),
		          dt = sysv_get(t, row, "dtime", 0);

		o->bytes = sysv_get(t, row, "size", -1);
		o->attaches = sysv_get(t, row, "nattch", -1);
		o->creator.pid = (pid_t)sysv_get(t, row, "cpid", 0);
		o->creator.at_s = sysv_get(t, row, "ctime", 0);
		obj_last(o, sysv_get(t, row, "lpid", 0), at > dt ? at : dt);
		break;
	}
	case IPCOBJ_SYSV_SEM:
		o->nsems = sysv_get(t, row, "nsems", -1);
		sysv_sem_pids(o, o->nsems, sysv_get(t, row, "otime", 0));
		break;
	default:
		break;
	}
}

static void
scan_sysv(struct ipcobj_set *s, enum ipcobj_kind kind, const char *path)
{
	char line[1024];
	struct sysv_table t = { .n = 0 };
	FILE *f = fopen(path, "re");
	int perms;

	if (f == NULL) {
		if (errno != ENOENT)
			set_note(s, "%s: %s", path, errno);
		return;
	}
	if (fgets(line, sizeof(line), f)) {
		char *save = NULL;

		for (char *w = strtok_r(line, " \t\n", &save);
		     w && t.n < SYSV_COLS; w = strtok_r(NULL, " \t\n", &save))
			snprintf(t.names[t.n++], sizeof(t.names[0]), "%s", w);
	}
	perms = sysv_col(&t, "perms");
	while (fgets(line, sizeof(line), f)) {
		long long row[SYSV_COLS] = { 0 };
		char *p = line, *end;
		unsigned n = 0;

		while (n < t.n) {
			/* perms is printed in octal ("600"), the rest in
			 * decimal. */
			row[n] = strtoll(p, &end, (int)n == perms ? 8 : 10);
			if (end == p)
				break;
			p = end;
			n++;
		}
		if (n == t.n)
			sysv_row(s, kind, &t, row);
	}
	fclose(f);
}

/* ---- POSIX: /dev/mqueue and /dev/shm ---- */

static void
obj_stat(struct ipcobj *o, const struct stat *sb)
{
	o->owner = o->creator_uid = sb->st_uid;
	o->mode = sb->st_mode & 07777;
	o->dev = sb->st_dev;
	o->ino = sb->st_ino;
	o->has_file = true;
}

static void
mq_describe(struct ipcobj *o, int dfd, const char *name)
{
	char text[256], qname[NAME_MAX + 2];
	struct mq_attr attr;
	ssize_t n;
	mqd_t q;
	int fd;

	/* "QSIZE:129 NOTIFY:0 SIGNO:0 NOTIFY_PID:0" */
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, text, sizeof(text) - 1);
		if (n > 0) {
			text[n] = '\0';
			sscanf(text, "QSIZE:%lld", &o->bytes);
		}
		close(fd);
	}
	snprintf(qname, sizeof(qname), "/%s", name);
	q = mq_open(qname, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (q != (mqd_t)-1) {
		if (mq_getattr(q, &attr) == 0)
			o->messages = attr.mq_curmsgs;
		mq_close(q);
	}
}

static void
scan_dir(struct ipcobj_set *s, const char *dir, bool mqueue)
{
	struct dirent *e;
	DIR *d = opendir(dir);

	if (d == NULL) {
		set_note(s,
		         mqueue ? "%s: %s (mount it to list POSIX queues: "
		                  "mount -t mqueue none /dev/mqueue)"
		                : "%s: %s",
		         dir, errno);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		const char *name = e->d_name;
		enum ipcobj_kind kind;
		struct ipcobj *o;
		struct stat sb;
		char *address;

		if (name[0] == '.' ||
		    fstatat(dirfd(d), name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (mqueue) {
			kind = IPCOBJ_POSIX_MQ;
			address = xasprintf("posixmq:/%s", name);
		} else if (strncmp(name, RING_PREFIX, strlen(RING_PREFIX)) ==
		           0) {
			kind = IPCOBJ_RING;
			address =
			        xasprintf("shm:%s", name + strlen(RING_PREFIX));
		} else if (strncmp(name, SEM_PREFIX, strlen(SEM_PREFIX)) == 0) {
			kind = IPCOBJ_POSIX_SEM;
			address = xasprintf("posixsem:/%s",
			                    name + strlen(SEM_PREFIX));
		} else {
			kind = IPCOBJ_POSIX_SHM;
			address = xasprintf("posixshm:/%s", name);
		}
		o = obj_add(s, kind, address);
		o->path = xasprintf("%s/%s", dir, name);
		obj_stat(o, &sb);
		if (mqueue)
			mq_describe(o, dirfd(d), name);
		else if (kind != IPCOBJ_POSIX_SEM)
			o->bytes = (long long)sb.st_size;
	}
	closedir(d);
}

/* ---- ipckit's own index: FIFOs, UNIX sockets, file queues, rings ---- */

static long long
birth_time(const char *path)
{
	struct statx sx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BTIME, &sx) == 0 &&
	    (sx.stx_mask & STATX_BTIME))
		return sx.stx_btime.tv_sec;
	return 0;
}

static int
scan_ipk_cb(const struct ipk_object *io, void *arg)
{
	static const struct {
		const char *scheme;
		enum ipcobj_kind kind;
	} kinds[] = {
		{ "fifo", IPCOBJ_FIFO },
		{ "unix", IPCOBJ_UNIX },
		{ "unix+seqpacket", IPCOBJ_UNIX_SEQ },
		{ "file", IPCOBJ_FILEQ },
	};
	struct ipcobj_set *s = arg;
	size_t slen = strlen(io->scheme);
	const char *path;
	struct ipcobj *o;
	struct stat sb;

	if (strcmp(io->scheme, "shm") == 0 ||
	    strcmp(io->scheme, "sysvmq") == 0 ||
	    strcmp(io->scheme, "posixmq") == 0) {
		/* Found by the passes above: add the creator ipckit noted
		 * (and for a ring, what its header says is queued). */
		for (size_t i = 0; i < s->n; i++) {
			o = &s->v[i];
			if (strcmp(o->address, io->address) != 0)
				continue;
			if (io->creator_pid > 0) {
				o->creator.pid = io->creator_pid;
				o->creator.start = io->creator_start;
			}
			if (o->kind == IPCOBJ_RING) {
				o->bytes = (long long)io->bytes;
				o->messages = (long long)io->messages;
			}
		}
		return 0;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++) {
		if (strcmp(io->scheme, kinds[k].scheme) != 0)
			continue;
		if (strncmp(io->address, io->scheme, slen) != 0 ||
		    io->address[slen] != ':')
			return 0;
		path = io->address + slen + 1;
		if (lstat(path, &sb) != 0)
			return 0;
		o = obj_add(s, kinds[k].kind, xstrdup(io->address));
		o->path = xstrdup(path);
		obj_stat(o, &sb);
		o->creator.pid = io->creator_pid;
		o->creator.start = io->creator_start;
		if (kinds[k].kind == IPCOBJ_FILEQ) {
			o->bytes = (long long)io->bytes;
			o->messages = (long long)io->messages;
			if (!o->creator.start)
				o->creator.at_s = birth_time(path);
		} else if (kinds[k].kind == IPCOBJ_FIFO) {
			o->bytes = o->messages = 0; /* nothing survives */
		}
		return 0;
	}
	return 0;
}

/* ---- who holds what: one pass over /proc ---- */

struct key_idx {
	unsigned long long a, b; /* (dev, ino), (0, socket ino), (1, shmid) */
	size_t obj;
};

struct user_pass {
	struct ipcobj_set *s;
	struct key_idx *keys; /* owned, sorted */
	size_t n_keys;
	uid_t *unreadable_uids; /* owned: distinct uids we could not read */
	size_t n_unreadable;
	bool rings; /* the set has ipckit rings, all on ring_dev */
	dev_t ring_dev;
};

enum { KEY_SOCKET = 0, KEY_SYSV_SHM = 1 };

static int
key_cmp(const void *x, const void *y)
{
	const struct key_idx *p = x, *q = y;

	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return (p->b > q->b) - (p->b < q->b);
}

static void
pass_key(struct user_pass *u, unsigned long long a, unsigned long long b,
         size_t obj)
{
	u->keys = xreallocarray(u->keys, u->n_keys + 1, sizeof(*u->keys));
	u->keys[u->n_keys++] = (struct key_idx){ a, b, obj };
}

/* A process holds the objects keyed (a, b).  A read-only hold of a ring
 * is not a use: an ipckit channel maps its ring read-write, while a lister
 * (another `ipckit ls` or `rm` reading the header) opens and maps it
 * read-only for a moment, and must not make a stale ring look in use. */
static void
pass_hit(struct user_pass *u, unsigned long long a, unsigned long long b,
         pid_t pid, bool ro)
{
	struct key_idx k = { a, b, 0 }, *hit;

	hit = bsearch(&k, u->keys, u->n_keys, sizeof(k), key_cmp);
	if (hit == NULL)
		return;
	/* Equal keys sit together: back up to the first of them. */
	while (hit > u->keys && key_cmp(hit - 1, &k) == 0)
		hit--;
	for (; hit < u->keys + u->n_keys && key_cmp(hit, &k) == 0; hit++) {
		struct ipcobj *o = &u->s->v[hit->obj];

		if (ro && o->kind == IPCOBJ_RING)
			continue;
		if (o->n_users && o->users[o->n_users - 1] == pid)
			continue; /* processes are visited one at a time */
		o->users = xreallocarray(o->users, o->n_users + 1,
		                         sizeof(*o->users));
		o->users[o->n_users++] = pid;
	}
}

/* File system devices have nonzero numbers, so (dev, ino) keys never meet
 * the (0, socket) and (1, shmid) ones. */
static unsigned long long
dev_key(dev_t dev)
{
	return (unsigned long long)dev + 2;
}

/* Sockets bound to the paths of our UNIX objects, from /proc/net/unix. */
static void
pass_sockets(struct user_pass *u, size_t from)
{
	char line[PATH_MAX + 128];
	FILE *f = fopen("/proc/net/unix", "re");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long ino;
		int off = 0;
		char *path;

		/* Num RefCount Protocol Flags Type St Inode Path */
		if (sscanf(line, "%*s %*s %*s %*s %*s %*s %llu %n", &ino,
		           &off) != 1 ||
		    off == 0)
			continue;
		path = line + off;
		path[strcspn(path, "\n")] = '\0';
		if (path[0] != '/')
			continue;
		for (size_t i = from; i < u->s->n; i++) {
			struct ipcobj *o = &u->s->v[i];

			if ((o->kind == IPCOBJ_UNIX ||
			     o->kind == IPCOBJ_UNIX_SEQ) &&
			    strcmp(o->path, path) == 0) {
				o->bound = true;
				pass_key(u, KEY_SOCKET, ino, i);
			}
		}
	}
	fclose(f);
}

/* A socket file that /proc/net/unix does not show under its path (it was
 * bound by a relative name): is anyone listening?  A connection that
 * closes before sending anything is what ipckit's listeners ignore. */
static void
probe_socket(struct ipcobj *o)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int type = o->kind == IPCOBJ_UNIX ? SOCK_STREAM : SOCK_SEQPACKET;
	int fd;

	if (strlen(o->path) >= sizeof(sa.sun_path))
		return;
	strcpy(sa.sun_path, o->path);
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
	    errno == EAGAIN || errno == EINPROGRESS)
		o->bound = true;
	close(fd);
}

/* Is descriptor fd (a name in /proc/PID/fd) open read-only?  From
 * /proc/PID/fdinfo/FD "flags:" (octal); false when it cannot be told. */
static bool
fd_readonly(int procfd, const char *fd)
{
	char path[300], buf[256], *at;
	ssize_t n;
	int f;

	if ((size_t)snprintf(path, sizeof(path), "fdinfo/%s", fd) >=
	    sizeof(path))
		return false;
	f = openat(procfd, path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return false;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	at = strstr(buf, "flags:");
	return at && (strtoul(at + 6, NULL, 8) & O_ACCMODE) == O_RDONLY;
}

static void
pass_fds(struct user_pass *u, pid_t pid, int procfd)
{
	struct dirent *e;
	DIR *d;
	int fd = openat(procfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		struct stat sb;

		if (fd >= 0)
			close(fd);
		/* A process that ended meanwhile is no user; one we may not
		 * read is an unknown, remembered by its uid. */
		if ((errno == EACCES || errno == EPERM) &&
		    fstat(procfd, &sb) == 0) {
			u->s->unreadable++;
			for (size_t i = 0; i < u->n_unreadable; i++)
				if (u->unreadable_uids[i] == sb.st_uid)
					return;
			u->unreadable_uids = xreallocarray(u->unreadable_uids,
			                                   u->n_unreadable + 1,
			                                   sizeof(uid_t));
			u->unreadable_uids[u->n_unreadable++] = sb.st_uid;
		}
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char link[64];
		unsigned long long ino;
		struct stat sb;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			if (sscanf(link, "socket:[%llu]", &ino) == 1) {
				pass_hit(u, KEY_SOCKET, ino, pid, false);
				continue;
			}
			if (strncmp(link, "pipe:", 5) == 0 ||
			    strncmp(link, "anon_inode:", 11) == 0)
				continue;
		}
		if (fstatat(dirfd(d), e->d_name, &sb, 0) == 0)
			pass_hit(u, dev_key(sb.st_dev), sb.st_ino, pid,
			         u->rings && sb.st_dev == u->ring_dev &&
			                 fd_readonly(procfd, e->d_name));
	}
	closedir(d);
}

static void
pass_maps(struct user_pass *u, pid_t pid, int procfd)
{
	char line[PATH_MAX + 256];
	FILE *f;
	int fd = openat(procfd, "maps", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long long ino;
		char perms[8];
		int off = 0;

		/* 7f..-7f.. rw-s 00000000 00:01 32769   /SYSV00003e80 (deleted)
		 */
		if (sscanf(line, "%*s %7s %*s %x:%x %llu %n", perms, &maj, &min,
		           &ino, &off) != 4 ||
		    ino == 0)
			continue;
		if (off > 0 && strncmp(line + off, "/SYSV", 5) == 0)
			pass_hit(u, KEY_SYSV_SHM, ino, pid, false);
		else
			pass_hit(u, dev_key(makedev(maj, min)), ino, pid,
			         perms[1] != 'w');
	}
	fclose(f);
}

static bool
obj_doubtful(const struct user_pass *u, const struct ipcobj *o)
{
	/* Processes of root we cannot read are not counted: they rarely
	 * use another user's IPC, and would make every verdict doubtful. */
	for (size_t i = 0; i < u->n_unreadable; i++) {
		uid_t uid = u->unreadable_uids[i];

		if (uid != 0 && (uid == o->owner || (o->mode & 0077)))
			return true;
	}
	return false;
}

static void
obj_judge(struct ipcobj *o)
{
	bool recorded = ipcobj_pid_check(&o->creator), alive = o->creator.alive;

	for (unsigned i = 0; i < o->n_last; i++) {
		recorded |= ipcobj_pid_check(&o->last[i]);
		alive |= o->last[i].alive;
	}
	if (o->n_users || o->bound ||
	    (o->kind == IPCOBJ_SYSV_SHM && o->attaches > 0))
		o->state = IPCOBJ_IN_USE;
	else if (alive)
		o->state = IPCOBJ_IDLE;
	else if (recorded && !o->doubtful)
		o->state = IPCOBJ_STALE;
	else
		o->state = IPCOBJ_UNUSED;
}

/* Find the users of objects [from, n) and judge them. */
static void
pass_users(struct ipcobj_set *s, size_t from)
{
	struct user_pass u = { .s = s };
	struct dirent *e;
	DIR *proc;

	for (size_t i = from; i < s->n; i++) {
		struct ipcobj *o = &s->v[i];

		if (o->kind == IPCOBJ_RING && o->has_file) {
			u.rings = true;
			u.ring_dev = o->dev;
		}
		if (o->kind == IPCOBJ_SYSV_SHM)
			pass_key(&u, KEY_SYSV_SHM, (unsigned long long)o->id,
			         i);
		else if (o->has_file && o->kind != IPCOBJ_UNIX &&
		         o->kind != IPCOBJ_UNIX_SEQ)
			pass_key(&u, dev_key(o->dev), o->ino, i);
	}
	pass_sockets(&u, from);
	if (u.n_keys) /* qsort(NULL, 0, ...) is undefined */
		qsort(u.keys, u.n_keys, sizeof(*u.keys), key_cmp);
	proc = u.n_keys ? opendir("/proc") : NULL;
	while (proc && (e = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		int pfd;

		if (*end || pid <= 0)
			continue;
		pfd = openat(dirfd(proc), e->d_name,
		             O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			continue;
		pass_fds(&u, (pid_t)pid, pfd);
		pass_maps(&u, (pid_t)pid, pfd);
		close(pfd);
	}
	if (proc)
		closedir(proc);
	for (size_t i = from; i < s->n; i++) {
		struct ipcobj *o = &s->v[i];

		if ((o->kind == IPCOBJ_UNIX || o->kind == IPCOBJ_UNIX_SEQ) &&
		    !o->bound)
			probe_socket(o);
		o->doubtful = obj_doubtful(&u, o);
		obj_judge(o);
	}
	free(u.keys);
	free(u.unreadable_uids);
}

int
ipcobj_scan(struct ipcobj_set *s)
{
	int err;

	scan_sysv(s, IPCOBJ_SYSV_MSG, "/proc/sysvipc/msg");
	scan_sysv(s, IPCOBJ_SYSV_SHM, "/proc/sysvipc/shm");
	scan_sysv(s, IPCOBJ_SYSV_SEM, "/proc/sysvipc/sem");
	scan_dir(s, MQUEUE_DIR, true);
	scan_dir(s, SHM_DIR, false);
	err = ipk_list(scan_ipk_cb, s);
	if (err)
		set_note(s, "%s: %s", "ipckit's index", -err);
	pass_users(s, 0);
	return 0;
}

long long
ipcobj_sysvmq_messages(const char *address)
{
	struct ipcobj_set s = { 0 };
	const char *why;
	long long n = -1;
	int i;

	if (strncmp(address, "sysvmq:", 7) != 0)
		return -1;
	scan_sysv(&s, IPCOBJ_SYSV_MSG, "/proc/sysvipc/msg");
	i = ipcobj_find(&s, address, &why);
	if (i >= 0)
		n = s.v[i].messages;
	ipcobj_free(&s);
	return n;
}

size_t
ipcobj_users_besides(const struct ipcobj *o, pid_t self)
{
	size_t n = 0;

	for (size_t i = 0; i < o->n_users; i++)
		n += o->users[i] != self;
	/* SysV queues and semaphores show no users: their creator and last
	 * users that still live are taken to be using them. */
	if (o->kind == IPCOBJ_SYSV_MSG || o->kind == IPCOBJ_SYSV_SEM) {
		n += o->creator.alive && o->creator.pid != self;
		for (unsigned i = 0; i < o->n_last; i++)
			n += o->last[i].alive && o->last[i].pid != self &&
			     o->last[i].pid != o->creator.pid;
	}
	/* Attached segments whose maps we could not read. */
	if (o->kind == IPCOBJ_SYSV_SHM && o->attaches > (long long)o->n_users)
		n += (size_t)(o->attaches - (long long)o->n_users);
	if (o->bound)
		n += o->n_users == 0; /* someone listens, pid unseen */
	return n;
}

/* ---- naming an object: ipcobj_find ---- */

static const struct {
	const char *scheme;
	enum ipcobj_kind kind;
} schemes[] = {
	{ "sysvmq", IPCOBJ_SYSV_MSG },    { "sysvshm", IPCOBJ_SYSV_SHM },
	{ "sysvsem", IPCOBJ_SYSV_SEM },   { "posixmq", IPCOBJ_POSIX_MQ },
	{ "posixshm", IPCOBJ_POSIX_SHM }, { "posixsem", IPCOBJ_POSIX_SEM },
	{ "shm", IPCOBJ_RING },           { "fifo", IPCOBJ_FIFO },
	{ "unix", IPCOBJ_UNIX },          { "unix+seqpacket", IPCOBJ_UNIX_SEQ },
	{ "file", IPCOBJ_FILEQ },
};

/* SysV forms: 0xKEY or decimal, id:N, or a path for ftok (?proj=N). */
static int
find_sysv(const struct ipcobj_set *s, enum ipcobj_kind kind, const char *rest,
          const char *query, const char **why)
{
	long long key = -1, id = -1;
	char *end;

	errno = 0;
	if (strncmp(rest, "id:", 3) == 0) {
		id = strtoll(rest + 3, &end, 10);
		if (errno || end == rest + 3 || *end || id < 0 || id > INT_MAX)
			return *why = "bad id (id:N)", IPK_EADDR;
	} else if (strchr(rest, '/')) {
		const char *p = query ? strstr(query, "proj=") : NULL;
		long proj = p ? strtol(p + 5, NULL, 0) : 1;
		key_t k;

		if (proj < 1 || proj > 255)
			return *why = "proj is 1..255", IPK_EOPTION;
		k = ftok(rest, (int)proj);
		if (k == (key_t)-1)
			return *why = "ftok: the file does not exist", -ENOENT;
		key = (long long)(unsigned)k;
	} else {
		key = strtoll(rest, &end, 0);
		if (errno || end == rest || *end || key < 1 ||
		    key > 0xffffffffLL)
			return *why = "expected a key 1..0xffffffff, id:N or "
			              "a path",
			       IPK_EADDR;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct ipcobj *o = &s->v[i];

		if (o->kind == kind &&
		    ((key >= 0 && o->key == key) || (id >= 0 && o->id == id)))
			return (int)i;
	}
	return *why = "no such object", -ENOENT;
}

static int
find_path(struct ipcobj_set *s, enum ipcobj_kind kind, const char *path,
          const char **why)
{
	static const mode_t types[IPCOBJ_KINDS] = {
		[IPCOBJ_FIFO] = S_IFIFO,
		[IPCOBJ_UNIX] = S_IFSOCK,
		[IPCOBJ_UNIX_SEQ] = S_IFSOCK,
		[IPCOBJ_FILEQ] = S_IFREG,
	};
	char abs[PATH_MAX];
	struct ipcobj *o;
	struct stat sb;

	if (kind == IPCOBJ_UNIX && path[0] == '@')
		return *why = "an abstract socket has no name to remove; it "
		              "goes with its socket",
		       -ENOTSUP;
	if (lstat(path, &sb) != 0)
		return *why = "no such file", -errno;
	if ((sb.st_mode & S_IFMT) != types[kind])
		return *why = kind == IPCOBJ_FIFO    ? "not a FIFO"
		              : kind == IPCOBJ_FILEQ ? "not a regular file"
		                                     : "not a socket",
		       -EINVAL;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].has_file && s->v[i].kind == kind &&
		    s->v[i].dev == sb.st_dev && s->v[i].ino == sb.st_ino)
			return (int)i;
	/* Made without ipckit, or its index entry is lost: judge it now. */
	if (path[0] == '/')
		snprintf(abs, sizeof(abs), "%s", path);
	else if (getcwd(abs, sizeof(abs)) == NULL ||
	         strlen(abs) + strlen(path) + 2 > sizeof(abs))
		return *why = "path too long", -ENAMETOOLONG;
	else
		snprintf(abs + strlen(abs), sizeof(abs) - strlen(abs), "/%s",
		         path);
	o = obj_add(s, kind, xasprintf("%s:%s", kind_names[kind], abs));
	o->path = xstrdup(abs);
	obj_stat(o, &sb);
	pass_users(s, s->n - 1);
	return (int)(s->n - 1);
}

int
ipcobj_find(struct ipcobj_set *s, const char *address, const char **why)
{
	const char *colon = strchr(address, ':');
	char rest[PATH_MAX], *query;
	enum ipcobj_kind kind = IPCOBJ_KINDS;
	unsigned caps;

	*why = "";
	if (colon == NULL)
		return *why = "no scheme (expected scheme:name, such as "
		              "sysvmq:1234)",
		       IPK_EADDR;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(*schemes); i++)
		if (strlen(schemes[i].scheme) == (size_t)(colon - address) &&
		    strncmp(address, schemes[i].scheme,
		            (size_t)(colon - address)) == 0)
			kind = schemes[i].kind;
	if (kind == IPCOBJ_KINDS) {
		int err = ipk_addr_caps(address, &caps);

		if (err)
			return *why = ipk_errdetail(), err;
		return *why = "a connection has no name to remove", -ENOTSUP;
	}
	if (strlen(colon + 1) >= sizeof(rest))
		return *why = "name too long", -ENAMETOOLONG;
	strcpy(rest, colon + 1);
	query = strchr(rest, '?');
	if (query)
		*query++ = '\0';
	switch (kind) {
	case IPCOBJ_SYSV_MSG:
	case IPCOBJ_SYSV_SHM:
	case IPCOBJ_SYSV_SEM:
		return find_sysv(s, kind, rest, query, why);
	case IPCOBJ_FIFO:
	case IPCOBJ_UNIX:
	case IPCOBJ_UNIX_SEQ:
	case IPCOBJ_FILEQ:
		if (rest[0] == '\0')
			return *why = "no path", IPK_EADDR;
		return find_path(s, kind, rest, why);
	default:
		break;
	}
	/* Names: posixmq:/N, posixshm:/N, posixsem:/N, shm:N or shm:/N. */
	{
		const char *name = rest[0] == '/' ? rest + 1 : rest;

		if (name[0] == '\0' || strchr(name, '/'))
			return *why = "expected /NAME", IPK_EADDR;
		for (size_t i = 0; i < s->n; i++) {
			const struct ipcobj *o = &s->v[i];
			const char *oc = strchr(o->address, ':') + 1;

			if (o->kind != kind)
				continue;
			if (*oc == '/')
				oc++;
			if (strcmp(oc, name) == 0)
				return (int)i;
		}
	}
	return *why = "no such object", -ENOENT;
}

/* ---- removing ---- */

/* A socket file someone listens on, which ipk_unlink() refuses: the same
 * file (dev, ino) as scanned, or nothing is removed. */
static int
remove_socket(const struct ipcobj *o, const char **why)
{
	struct stat sb;

	if (lstat(o->path, &sb) != 0)
		return -errno;
	if (!S_ISSOCK(sb.st_mode) || sb.st_dev != o->dev || sb.st_ino != o->ino)
		return *why = "the file changed since it was listed", -ESTALE;
	return unlink(o->path) == 0 ? 0 : -errno;
}

int
ipcobj_remove(const struct ipcobj *o, bool force, const char **why)
{
	const char *name = o->address + strlen(kind_names[o->kind]) + 1;
	int rc = 0;

	*why = "";
	if (force && o->bound && o->has_file)
		return remove_socket(o, why);
	switch (o->kind) {
	case IPCOBJ_SYSV_MSG:
		rc = msgctl(o->id, IPC_RMID, NULL);
		break;
	case IPCOBJ_SYSV_SHM:
		rc = shmctl(o->id, IPC_RMID, NULL);
		break;
	case IPCOBJ_SYSV_SEM:
		rc = semctl(o->id, 0, IPC_RMID);
		break;
	case IPCOBJ_POSIX_SHM:
		rc = shm_unlink(name);
		break;
	case IPCOBJ_POSIX_SEM:
		rc = sem_unlink(name);
		break;
	default: {
		/* The library's own: it knows how to retire a ring and
		 * refuses a socket somebody listens on. */
		int err = ipk_unlink(o->address);

		if (err)
			*why = ipk_errdetail();
		return err;
	}
	}
	if (rc == 0)
		return 0;
	if (errno == EPERM || errno == EACCES)
		*why = "the kernel refused: not its owner or creator";
	return -errno;
}

void
ipcobj_who(const struct ipcobj *o, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < o->n_users && i < 3; i++) {
		char comm[32];

		ipcobj_comm(o->users[i], comm, sizeof(comm));
		len += (size_t)snprintf(buf + len, len < cap ? cap - len : 0,
		                        "%s%ld %s", i ? ", " : "",
		                        (long)o->users[i], comm);
	}
	if (o->n_users > 3 && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, " +%zu",
		                        o->n_users - 3);
	if (o->n_users == 0 && o->bound && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, "listening");
	if (o->n_users == 0 && !o->bound && o->creator.pid > 0 && len < cap)
		len += (size_t)snprintf(buf + len, cap - len,
		                        "creator %ld (%s)",
		                        (long)o->creator.pid,
		                        o->creator.alive ? "alive" : "gone");
	for (unsigned i = 0; o->n_users == 0 && !o->bound &&
	                     o->creator.pid <= 0 && i < o->n_last && len < cap;
	     i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s%ld (%s)",
		                        i ? ", " : "last ",
		                        (long)o->last[i].pid,
		                        o->last[i].alive ? "alive" : "gone");
	if (buf[0] == '\0')
		snprintf(buf, cap, "-");
}

static int
obj_cmp(const void *x, const void *y)
{
	const struct ipcobj *p = x, *q = y;

	if (p->kind != q->kind)
		return p->kind < q->kind ? -1 : 1;
	return strcmp(p->address, q->address);
}

void
ipcobj_sort(struct ipcobj_set *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), obj_cmp);
}

/* ---- choosing objects and naming users ---- */

bool
ipcobj_filter_pass(const struct ipcobj_filter *f, const struct ipcobj *o)
{
	if (f->uid >= 0 && o->owner != (uid_t)f->uid)
		return false;
	if (f->stale && o->state != IPCOBJ_STALE)
		return false;
	for (size_t i = 0; i < f->n_globs; i++)
		if (fnmatch(f->globs[i], o->address, 0) == 0)
			return true;
	return f->n_globs == 0;
}

void
ipcobj_filter_add_glob(struct ipcobj_filter *f, const char *glob)
{
	f->globs = xreallocarray(f->globs, f->n_globs + 1, sizeof(*f->globs));
	f->globs[f->n_globs++] = glob;
}

long long
ipcobj_uid(const char *user)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];
	long long v;
	char *end;

	if (getpwnam_r(user, &pw, tmp, sizeof(tmp), &res) == 0 && res)
		return pw.pw_uid;
	errno = 0;
	v = strtoll(user, &end, 10);
	if (*user && !*end && errno == 0 && v >= 0 && v <= 0xfffffffeLL)
		return v;
	return -1;
}

void
ipcobj_user_name(uid_t uid, char *buf, size_t cap)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, cap, "%s", pw.pw_name);
	else
		snprintf(buf, cap, "%u", (unsigned)uid);
}

int
ipcobj_filter_opt(const struct cmd *self, struct ipcobj_filter *f, int key,
                  const char *arg)
{
	switch (key) {
	case IPCOBJ_OPT_USER:
		f->uid = ipcobj_uid(arg);
		if (f->uid < 0) {
			opts_usage_error(self, "--user: no user '%s'", arg);
			return -1;
		}
		return 0;
	case IPCOBJ_OPT_STALE:
		f->stale = true;
		return 0;
	case IPCOBJ_OPT_MATCH:
		ipcobj_filter_add_glob(f, arg);
		return 0;
	default:
		return 1;
	}
}
