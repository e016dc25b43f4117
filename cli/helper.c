// SPDX-License-Identifier: MIT
/* helper.c - exec the helper program of a command (helper.h).  The places
 * to look come from where this program runs (/proc/self/exe) and the
 * install directories Meson configured (IPCKIT_BINDIR, IPCKIT_LIBEXECDIR,
 * cli/meson.build). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

#if !defined(IPCKIT_BINDIR) || !defined(IPCKIT_LIBEXECDIR)
#error "cli/meson.build defines IPCKIT_BINDIR and IPCKIT_LIBEXECDIR"
#endif

/* Beside us, under our own prefix, under the configured prefix. */
#define HELPER_MAX_DIRS 3

struct helper_dirs {
	char dir[HELPER_MAX_DIRS][PATH_MAX];
	int n;
};

/* Append a directory to try, unless empty, too long or already there. */
static void
helper_add(struct helper_dirs *d, const char *prefix, const char *dir)
{
	int len;

	if (d->n == HELPER_MAX_DIRS)
		return;
	len = snprintf(d->dir[d->n], sizeof(d->dir[d->n]), "%s%s", prefix, dir);
	if (len <= 0 || (size_t)len >= sizeof(d->dir[d->n]))
		return;
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->dir[i], d->dir[d->n]) == 0)
			return;
	d->n++;
}

static void
helper_find_dirs(struct helper_dirs *d)
{
	static const char bindir[] = IPCKIT_BINDIR;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	size_t len;

	d->n = 0;
	/* Without /proc only the configured place is left. */
	if (n > 0 && (size_t)n < sizeof(self) - 1) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL && slash != self) {
			*slash = '\0';
			helper_add(d, "", self);
			/* Installed as PREFIX/bin/ipckit (DESTDIR included):
			 * its helpers are in PREFIX/libexec/ipckit.  bindir
			 * is absolute, so the cut falls on a '/'. */
			len = strlen(self);
			if (len >= sizeof(bindir) - 1 &&
			    strcmp(self + len - (sizeof(bindir) - 1), bindir) ==
			            0) {
				self[len - (sizeof(bindir) - 1)] = '\0';
				helper_add(d, self, IPCKIT_LIBEXECDIR);
			}
		}
	}
	helper_add(d, "", IPCKIT_LIBEXECDIR);
}

int
helper_exec(const struct cmd *cmd, int argc, char **argv)
{
	struct helper_dirs d;
	char path[PATH_MAX], msg[HELPER_MAX_DIRS * (PATH_MAX + 4)];
	char *name = argv[0];
	int len, err;

	(void)argc;
	helper_find_dirs(&d);
	for (int i = 0; i < d.n; i++) {
		len = snprintf(path, sizeof(path), "%s/%s", d.dir[i],
		               cmd->helper);
		if (len <= 0 || (size_t)len >= sizeof(path))
			continue;
		argv[0] = path;
		execv(path, argv);
		err = errno;
		argv[0] = name;
		/* Not there: look on.  There but unusable: say so. */
		if (err == ENOENT || err == ENOTDIR)
			continue;
		fprintf(stderr, "ipckit %s: cannot run %s: %s\n", cmd->name,
		        path, strerror(err));
		return EXIT_FAIL;
	}
	/* One line, one write: stderr is unbuffered. */
	msg[0] = '\0';
	for (int i = 0, at = 0; i < d.n && at >= 0 && (size_t)at < sizeof(msg);
	     i++)
		at += snprintf(msg + at, sizeof(msg) - (size_t)at, "%s%s",
		               i == 0        ? ""
		               : i + 1 < d.n ? ", "
		                             : " or ",
		               d.dir[i]);
	fprintf(stderr,
	        "ipckit %s: %s not found in %s (build all of ipckit, or "
	        "install it)\n",
	        cmd->name, cmd->helper, msg);
	return EXIT_FAIL;
}
