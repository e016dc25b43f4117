// SPDX-License-Identifier: MIT
/* ipcobj.h - every IPC object on the machine, for `ipckit ls`, `ipckit rm`
 * and the commands that remove what they made: System V queues, shared
 * memory and semaphores (/proc/sysvipc), POSIX queues (/dev/mqueue), POSIX
 * shared memory, named semaphores and ipckit rings (/dev/shm), and the
 * FIFOs, UNIX sockets and file queues ipckit made (ipk_list()).  One pass
 * over /proc/PID/fd, /proc/PID/maps and /proc/net/unix finds who has each
 * open, mapped, attached or bound; recorded pids are checked together with
 * their start time, so a reused pid never passes for the creator. */
#ifndef CLI_IPCOBJ_H
#define CLI_IPCOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "opts.h"

enum ipcobj_kind {
	IPCOBJ_SYSV_MSG,  /* sysvmq:0xKEY */
	IPCOBJ_SYSV_SHM,  /* sysvshm:0xKEY (ipckit rm only) */
	IPCOBJ_SYSV_SEM,  /* sysvsem:0xKEY (ipckit rm only) */
	IPCOBJ_POSIX_MQ,  /* posixmq:/NAME */
	IPCOBJ_POSIX_SHM, /* posixshm:/NAME (ipckit rm only) */
	IPCOBJ_POSIX_SEM, /* posixsem:/NAME (ipckit rm only) */
	IPCOBJ_RING,      /* shm:NAME, an ipckit ring */
	IPCOBJ_FIFO,      /* fifo:PATH */
	IPCOBJ_UNIX,      /* unix:PATH */
	IPCOBJ_UNIX_SEQ,  /* unix+seqpacket:PATH */
	IPCOBJ_FILEQ,     /* file:PATH */
	IPCOBJ_KINDS
};

enum ipcobj_state {
	IPCOBJ_IN_USE, /* a live process has it open, mapped, attached, bound */
	IPCOBJ_IDLE,   /* nobody has it, but its creator (or last user) lives */
	IPCOBJ_STALE,  /* nobody has it, and every recorded pid is gone */
	IPCOBJ_UNUSED, /* nobody has it; no pid was recorded to judge by */
};

/* A process the kernel or ipckit recorded for an object. */
struct ipcobj_pid {
	pid_t pid;                /* 0: none recorded */
	unsigned long long start; /* /proc start time in ticks, 0 unknown */
	long long at_s;           /* it was alive at this epoch second, 0 */
	bool alive;               /* that very process still runs */
};

#define IPCOBJ_LAST_MAX 4

struct ipcobj {
	enum ipcobj_kind kind;
	char *address; /* owned: what `ipckit rm` takes */
	char *path;    /* owned: file behind it, or NULL (SysV) */
	long long key; /* SysV key (0 = private), else -1 */
	int id;        /* SysV id, else -1 */
	uid_t owner;   /* may remove it */
	uid_t creator_uid;
	mode_t mode;
	long long bytes;    /* queued or mapped bytes, -1 unknown */
	long long messages; /* queued messages, -1 unknown */
	long long attaches; /* SysV shm nattch, else -1 */
	long long nsems;    /* semaphores in a SysV set, else -1 */
	dev_t dev;          /* with ino: the file, when has_file */
	ino_t ino;
	bool has_file;
	struct ipcobj_pid creator;
	struct ipcobj_pid last[IPCOBJ_LAST_MAX]; /* last senders, receivers,
	                                            attachers, semop callers */
	unsigned n_last;
	pid_t *users; /* owned: live processes holding it, sorted */
	size_t n_users;
	bool bound;    /* a socket is bound to the path (UNIX sockets) */
	bool doubtful; /* processes that could use it were not readable */
	enum ipcobj_state state;
};

struct ipcobj_set {
	struct ipcobj *v; /* owned */
	size_t n, cap;
	unsigned unreadable; /* processes whose fds/maps we could not read */
	/* Scan diagnostics: sources that could not be read ("/dev/mqueue:
	 * not mounted"), owned, NULL-terminated, printed by ls as notes. */
	char **notes;
	size_t n_notes;
};

/* ipcobj_scan - fill an empty set with every object, who holds each and
 * its state.  0 or -errno (ENOMEM only: unreadable sources become notes).
 */
int ipcobj_scan(struct ipcobj_set *s);

/*
 * ipcobj_find - the object an address names, as `ipckit rm` takes it
 * (any form a channel address takes: sysvmq:1234, sysvmq:/path?proj=2,
 * shm:/NAME, fifo:relative/path, with or without ?options), added to the
 * set if the scan did not list it (a FIFO made without ipckit).  Returns
 * its index, -ENOENT when there is no such object, IPK_ESCHEME / IPK_EADDR
 * / -ENOTSUP (a connection such as tcp: has no name) otherwise; the
 * detail is in ipk_errdetail() style text at *why (static).
 */
int ipcobj_find(struct ipcobj_set *s, const char *address, const char **why);

/* ipcobj_sysvmq_messages - the messages queued in the System V queue an
 * address names, read from the kernel's table alone (no scan of who holds
 * what: cheap enough to poll); -1 when it names no such queue. */
long long ipcobj_sysvmq_messages(const char *address);

/* ipcobj_remove - remove the object (with force, also a socket file a
 * server listens on, which the library refuses).  0 or -errno / IPK_E*;
 * *why names the reason (static or ipk_errdetail()).  Whether the caller
 * may, and whether it is in use, is the caller's to judge first. */
int ipcobj_remove(const struct ipcobj *o, bool force, const char **why);

/* ipcobj_users_besides - how many live processes other than the caller
 * hold o (for SysV queues and semaphores, whose users the kernel does not
 * show, the recorded last users that still live). */
size_t ipcobj_users_besides(const struct ipcobj *o, pid_t self);

/* ipcobj_free - release the set's contents; the set may be reused. */
void ipcobj_free(struct ipcobj_set *s);

const char *ipcobj_kind_name(enum ipcobj_kind k);   /* "sysvmq", ... */
const char *ipcobj_state_name(enum ipcobj_state s); /* "in use", ... */

/* ipcobj_pid_check - is p's process still the one recorded (the same
 * start time, or started by the moment it was seen)?  Sets p->alive, and
 * returns false when nothing was recorded to judge by (a bare pid). */
bool ipcobj_pid_check(struct ipcobj_pid *p);

/* ipcobj_comm - the command name of pid into buf ("?" if gone). */
void ipcobj_comm(pid_t pid, char *buf, size_t cap);

/* ipcobj_who - the processes behind o's state, for people: "1234 ipckit,
 * 1240 cat", "creator 555 (gone)", "last 1234 (alive)", or "-". */
void ipcobj_who(const struct ipcobj *o, char *buf, size_t cap);

/* Which objects a command looks at: `--user`, `--stale`, `--match`. */
struct ipcobj_filter {
	long long uid;      /* owner must be this uid; -1 any */
	bool stale;         /* only stale objects */
	const char **globs; /* owned array of borrowed argv patterns: the
	                       address must match one (fnmatch); NULL any */
	size_t n_globs;
};

/* The options that fill a filter, shared by ls and rm. */
enum {
	IPCOBJ_OPT_USER = 'u',
	IPCOBJ_OPT_STALE = 300,
	IPCOBJ_OPT_MATCH,
};

/* clang-format off */
#define IPCOBJ_FILTER_OPTS(stale_help) \
	{ "stale", IPCOBJ_OPT_STALE, NULL, stale_help }, \
	{ "user", IPCOBJ_OPT_USER, "USER", \
	  "only objects USER (a name or uid) owns" }, \
	{ "match", IPCOBJ_OPT_MATCH, "GLOB", \
	  "only addresses matching GLOB (fnmatch; repeatable)" }
/* clang-format on */

/* ipcobj_filter_opt - apply one of those options to f: 0; 1 if key is
 * none of them; -1 after a usage error was printed. */
int ipcobj_filter_opt(const struct cmd *self, struct ipcobj_filter *f, int key,
                      const char *arg);

/* ipcobj_filter_pass - does o pass f? */
bool ipcobj_filter_pass(const struct ipcobj_filter *f, const struct ipcobj *o);

/* ipcobj_filter_add_glob - add a --match pattern (borrowed). */
void ipcobj_filter_add_glob(struct ipcobj_filter *f, const char *glob);

/* ipcobj_uid - the uid a user name or number names, or -1 if none. */
long long ipcobj_uid(const char *user);

/* ipcobj_user_name - the login name of uid into buf, else its number. */
void ipcobj_user_name(uid_t uid, char *buf, size_t cap);

/* ipcobj_sort - order the set by kind, then address. */
void ipcobj_sort(struct ipcobj_set *s);

#endif
