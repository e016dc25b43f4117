// SPDX-License-Identifier: MIT
/* fsname.c - an index of the FIFOs and socket files ipckit created, kept
 * in a directory only the user can write.  Paths are stored absolute; a
 * file is named by a hash of scheme and path, so adding is idempotent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsname.h"

/* The index directory, made 0700 if missing and refused unless it is a
 * directory of ours that nobody else can write. */
static int
fsname_dir(char *buf, size_t cap)
{
	const char *run = getenv("XDG_RUNTIME_DIR");
	struct stat st;
	int n;

	if (run && run[0] == '/')
		n = snprintf(buf, cap, "%s/ipckit", run);
	else
		n = snprintf(buf, cap, "/tmp/ipckit-%u", (unsigned)getuid());
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (lstat(buf, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 0077) != 0)
		return -EPERM;
	return 0;
}

static uint64_t
fsname_hash(const char *scheme, const char *path)
{
	uint64_t h = 14695981039346656037ull;

	for (const char *p = scheme; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ ':') * 1099511628211ull;
	for (const char *p = path; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

static int
fsname_abs(const char *path, char *out, size_t cap)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/')
		n = snprintf(out, cap, "%s", path);
	else if (getcwd(cwd, sizeof(cwd)) == NULL)
		return -errno;
	else
		n = snprintf(out, cap, "%s/%s", cwd, path);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

static int
fsname_entry(const char *scheme, const char *path, char *abs, size_t acap,
             char *entry, size_t ecap)
{
	char dir[PATH_MAX];
	int n, err;

	err = fsname_abs(path, abs, acap);
	if (err == 0)
		err = fsname_dir(dir, sizeof(dir));
	if (err)
		return err;
	n = snprintf(entry, ecap, "%s/%s-%016llx", dir, scheme,
	             (unsigned long long)fsname_hash(scheme, abs));
	return n < 0 || (size_t)n >= ecap ? -ENAMETOOLONG : 0;
}

unsigned long long
fsname_start_time(pid_t pid)
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
	/* Field 22; the command name (field 2) may hold spaces and ')'. */
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	return start;
}

/* Write text as the entry, under a temporary name renamed into place: a
 * reader never sees half an entry. */
static void
fsname_write(const char *entry, const char *text)
{
	char tmp[PATH_MAX + 80];
	FILE *f;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.%ld", entry, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd < 0)
		return;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		unlink(tmp);
		return;
	}
	fputs(text, f);
	if (fclose(f) != 0 || rename(tmp, entry) != 0)
		unlink(tmp);
}

void
fsname_add(const char *scheme, const char *path)
{
	char abs[PATH_MAX], entry[PATH_MAX + 64], text[PATH_MAX + 64];

	if (fsname_entry(scheme, path, abs, sizeof(abs), entry,
	                 sizeof(entry)) != 0)
		return;
	snprintf(text, sizeof(text), "%s\n%ld %llu\n", abs, (long)getpid(),
	         fsname_start_time(getpid()));
	fsname_write(entry, text);
}

void
fsname_remove(const char *scheme, const char *path)
{
	char abs[PATH_MAX], entry[PATH_MAX + 64];

	if (fsname_entry(scheme, path, abs, sizeof(abs), entry,
	                 sizeof(entry)) == 0)
		unlink(entry);
}

/* Read one entry: its first line (a path or a name) into name, then the
 * numbers after it: "pid start", and " tag" when tag is not NULL. */
static int
fsname_read(int dirfd, const char *file, char *name, size_t cap, pid_t *pid,
            unsigned long long *start, unsigned long long *tag)
{
	char buf[PATH_MAX + 96];
	char *nl;
	long p = 0;
	ssize_t n;
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EINVAL;
	buf[n] = '\0';
	nl = strchr(buf, '\n');
	if (nl == NULL || (size_t)(nl - buf) >= cap)
		return -EINVAL;
	memcpy(name, buf, (size_t)(nl - buf));
	name[nl - buf] = '\0';
	if (tag ? sscanf(nl + 1, "%ld %llu %llu", &p, start, tag) != 3
	        : sscanf(nl + 1, "%ld %llu", &p, start) != 2)
		return -EINVAL;
	*pid = (pid_t)p;
	return 0;
}

int
fsname_list(const char *scheme, mode_t type, ipk_list_fn *fn, void *arg)
{
	char dir[PATH_MAX], path[PATH_MAX], address[PATH_MAX + 32];
	size_t slen = strlen(scheme);
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (fsname_dir(dir, sizeof(dir)) != 0)
		return 0;
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct ipk_object obj = { 0 };
		struct stat st;
		pid_t pid = 0;
		unsigned long long start = 0;

		if (strncmp(de->d_name, scheme, slen) != 0 ||
		    de->d_name[slen] != '-' || strchr(de->d_name, '.'))
			continue;
		if (fsname_read(dirfd(d), de->d_name, path, sizeof(path), &pid,
		                &start, NULL) != 0 ||
		    path[0] != '/' || lstat(path, &st) != 0 ||
		    (st.st_mode & S_IFMT) != type) {
			/* The object is gone (or was replaced): so is its
			 * entry. */
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		snprintf(address, sizeof(address), "%s:%s", scheme, path);
		obj.scheme = scheme;
		obj.address = address;
		obj.owner = st.st_uid;
		obj.mode = st.st_mode & 07777;
		obj.creator_pid = pid;
		obj.creator_start = start;
		rc = fn(&obj, arg);
	}
	closedir(d);
	return rc;
}

/* ---- notes: objects named without a path ---- */

/* Notes are "<scheme>-n<hash>", beside the path entries "<scheme>-<hash>"
 * (16 hex digits, never an 'n'). */
static int
fsname_note_entry(const char *scheme, const char *name, char *entry, size_t cap)
{
	char dir[PATH_MAX];
	int n, err = fsname_dir(dir, sizeof(dir));

	if (err)
		return err;
	n = snprintf(entry, cap, "%s/%s-n%016llx", dir, scheme,
	             (unsigned long long)fsname_hash(scheme, name));
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

void
fsname_note(const char *scheme, const char *name, unsigned long long tag)
{
	char entry[PATH_MAX + 64], text[PATH_MAX + 96];

	if (strchr(name, '\n') || strlen(name) >= PATH_MAX ||
	    fsname_note_entry(scheme, name, entry, sizeof(entry)) != 0)
		return;
	snprintf(text, sizeof(text), "%s\n%ld %llu %llu\n", name,
	         (long)getpid(), fsname_start_time(getpid()), tag);
	fsname_write(entry, text);
}

void
fsname_forget(const char *scheme, const char *name)
{
	char entry[PATH_MAX + 64];

	if (fsname_note_entry(scheme, name, entry, sizeof(entry)) == 0)
		unlink(entry);
}

int
fsname_creator(const char *scheme, const char *name, unsigned long long tag,
               pid_t *pid, unsigned long long *start)
{
	char entry[PATH_MAX + 64], got[PATH_MAX];
	unsigned long long got_tag = 0;
	int err;

	err = fsname_note_entry(scheme, name, entry, sizeof(entry));
	if (err)
		return err;
	err = fsname_read(AT_FDCWD, entry, got, sizeof(got), pid, start,
	                  &got_tag);
	if (err)
		return err == -EINVAL ? -ENOENT : err;
	if (strcmp(got, name) != 0 || got_tag != tag) {
		/* A note on an object of the same name that has gone. */
		if (strcmp(got, name) == 0)
			unlink(entry);
		return -ENOENT;
	}
	return 0;
}

void
fsname_sweep(const char *scheme, fsname_gone_fn *gone)
{
	char dir[PATH_MAX], name[PATH_MAX];
	size_t slen = strlen(scheme);
	struct dirent *de;
	DIR *d;

	if (fsname_dir(dir, sizeof(dir)) != 0 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		unsigned long long start, tag;
		pid_t pid;

		if (strncmp(de->d_name, scheme, slen) != 0 ||
		    strncmp(de->d_name + slen, "-n", 2) != 0 ||
		    strchr(de->d_name, '.'))
			continue;
		if (fsname_read(dirfd(d), de->d_name, name, sizeof(name), &pid,
		                &start, &tag) != 0 ||
		    gone(name, tag))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}
