// SPDX-License-Identifier: MIT
/* registry.c - remembered paths as symbolic links named by a hash of the
 * path (FNV-1a, 64 bits, probing a few suffixes on collision).  Links cost
 * one inode each, are atomic to create and remove, and need no locking. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry.h"

#define REGISTRY_PROBES 8

/* The directory for scheme; made (mode 0700) when create is true. */
static int
registry_dir(char *buf, size_t cap, const char *scheme, bool create)
{
	const char *env = secure_getenv("IPCKIT_STATE_DIR");
	int k;

	if (env && env[0] == '/')
		k = snprintf(buf, cap, "%s/%s", env, scheme);
	else if ((env = secure_getenv("XDG_STATE_HOME")) && env[0] == '/')
		k = snprintf(buf, cap, "%s/ipckit/%s", env, scheme);
	else if ((env = secure_getenv("HOME")) && env[0] == '/')
		k = snprintf(buf, cap, "%s/.local/state/ipckit/%s", env,
		             scheme);
	else
		return -ENOENT;
	if (k < 0 || (size_t)k >= cap)
		return -ENAMETOOLONG;
	if (!create)
		return 0;
	/* mkdir -p, one component at a time. */
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
			*p = c;
			return -errno;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

static uint64_t
registry_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Find the link for path: 1 with its name in *name, or 0 with the first
 * free name there (or -errno). */
static int
registry_find(int dfd, const char *path, char *name, size_t cap)
{
	uint64_t h = registry_hash(path);
	char target[PATH_MAX];
	int free_at = -1;

	for (int i = 0; i < REGISTRY_PROBES; i++) {
		char probe[32];
		ssize_t n;

		snprintf(probe, sizeof(probe), "%016llx-%d",
		         (unsigned long long)h, i);
		n = readlinkat(dfd, probe, target, sizeof(target) - 1);
		if (n < 0) {
			if (errno != ENOENT)
				return -errno;
			if (free_at < 0) {
				free_at = i;
				snprintf(name, cap, "%s", probe);
			}
			continue;
		}
		target[n] = '\0';
		if (strcmp(target, path) == 0) {
			snprintf(name, cap, "%s", probe);
			return 1;
		}
	}
	return free_at >= 0 ? 0 : -ENOSPC;
}

static int
registry_open_dir(const char *scheme, bool create)
{
	char dir[PATH_MAX];
	int err = registry_dir(dir, sizeof(dir), scheme, create);
	int dfd;

	if (err)
		return err;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return dfd < 0 ? -errno : dfd;
}

int
registry_add(const char *scheme, const char *path)
{
	char name[32];
	int dfd, err;

	if (path[0] != '/')
		return -EINVAL;
	dfd = registry_open_dir(scheme, true);
	if (dfd < 0)
		return dfd;
	err = registry_find(dfd, path, name, sizeof(name));
	if (err == 0 && symlinkat(path, dfd, name) != 0 && errno != EEXIST)
		err = -errno;
	close(dfd);
	return err < 0 ? err : 0;
}

int
registry_remove(const char *scheme, const char *path)
{
	char name[32];
	int dfd, err;

	dfd = registry_open_dir(scheme, false);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	err = registry_find(dfd, path, name, sizeof(name));
	if (err == 1 && unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
		err = -errno;
	close(dfd);
	return err < 0 ? err : 0;
}

int
registry_walk(const char *scheme, int (*fn)(const char *path, void *arg),
              void *arg)
{
	struct dirent *e;
	DIR *d;
	int dfd, rc = 0;

	dfd = registry_open_dir(scheme, false);
	if (dfd < 0)
		return dfd == -ENOENT ? 0 : dfd;
	d = fdopendir(dfd);
	if (d == NULL) {
		rc = -errno;
		close(dfd);
		return rc;
	}
	while (rc == 0 && (e = readdir(d)) != NULL) {
		char target[PATH_MAX];
		struct stat sb;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		n = readlinkat(dfd, e->d_name, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (stat(target, &sb) != 0 && errno == ENOENT) {
			(void)unlinkat(dfd, e->d_name, 0);
			continue;
		}
		rc = fn(target, arg);
	}
	closedir(d);
	return rc;
}
