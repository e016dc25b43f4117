// SPDX-License-Identifier: MIT
/* cmd_rm.c - `ipckit rm`: remove IPC objects by address, or every stale
 * one the caller owns.  Objects of other users are refused before the
 * kernel is asked (root may remove anything), and so are objects still in
 * use, unless --force. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmds.h"
#include "ipcobj.h"
#include "opts.h"
#include "report.h"

enum {
	RM_DRY_RUN = 'n',
	RM_FORCE = 'f',
};

struct rm_run {
	const struct cmd *self;
	uid_t euid;
	bool dry_run, force;
	int exit_code; /* the worst so far: 0, 1 failure, 2 usage */
};

static void
rm_fail(struct rm_run *r, const char *what, int err, const char *why)
{
	int code = report_fail(r->self, what, err, why);

	if (code > r->exit_code)
		r->exit_code = code;
}

/* May the caller remove o?  The owner may, and for System V objects the
 * creator too (as the kernel has it); root may remove anything. */
static bool
rm_may(const struct rm_run *r, const struct ipcobj *o)
{
	bool sysv = o->kind == IPCOBJ_SYSV_MSG || o->kind == IPCOBJ_SYSV_SHM ||
	            o->kind == IPCOBJ_SYSV_SEM;

	return r->euid == 0 || o->owner == r->euid ||
	       (sysv && o->creator_uid == r->euid);
}

static void
rm_one(struct rm_run *r, const struct ipcobj *o)
{
	char who[256], owner[64], why_buf[400];
	const char *why;
	size_t busy;
	int err;

	if (!rm_may(r, o)) {
		ipcobj_user_name(o->owner, owner, sizeof(owner));
		snprintf(why_buf, sizeof(why_buf), "owned by %s (uid %u)",
		         owner, (unsigned)o->owner);
		rm_fail(r, o->address, -EPERM, why_buf);
		return;
	}
	busy = ipcobj_users_besides(o, getpid());
	if (!r->force && (busy || (o->doubtful && o->state != IPCOBJ_STALE))) {
		ipcobj_who(o, who, sizeof(who));
		snprintf(why_buf, sizeof(why_buf), "%s (--force removes it)",
		         busy ? who
		              : "may be in use: processes of other users "
		                "could not be read");
		rm_fail(r, o->address, -EBUSY, why_buf);
		return;
	}
	if (r->dry_run) {
		printf("would remove %s (%s)\n", o->address,
		       ipcobj_state_name(o->state));
		return;
	}
	err = ipcobj_remove(o, r->force, &why);
	if (err) {
		rm_fail(r, o->address, err, why);
		return;
	}
	printf("removed %s\n", o->address);
}

static int
rm_cmd(const struct cmd *self, int argc, char **argv)
{
	struct ipcobj_filter filter = { .uid = -1 };
	struct rm_run r = { .self = self, .euid = geteuid() };
	struct ipcobj_set s = { 0 };
	bool narrowed = false;
	struct opts op;
	const char *arg;
	int key, err, first;

	opts_init(&op, self, argc, argv);
	while ((key = opts_next(&op, &arg)) != -1) {
		if (key == RM_DRY_RUN)
			r.dry_run = true;
		else if (key == RM_FORCE)
			r.force = true;
		else if (key == OPT_HELP || key == '?' ||
		         ipcobj_filter_opt(self, &filter, key, arg) != 0) {
			free(filter.globs);
			return key == OPT_HELP ? EXIT_OK : EXIT_USAGE;
		} else
			narrowed |= key != IPCOBJ_OPT_STALE;
	}
	first = opts_index(&op);
	if ((first < argc) == filter.stale || (narrowed && !filter.stale)) {
		free(filter.globs);
		return opts_usage_error(
		        self, filter.stale ? "--stale takes no addresses"
		              : narrowed ? "--user and --match go with --stale"
		                         : "expected ADDR... or --stale");
	}
	/* --stale: the caller's own objects, unless --user says whose. */
	if (filter.stale && filter.uid < 0)
		filter.uid = r.euid;
	err = ipcobj_scan(&s);
	if (err) {
		free(filter.globs);
		ipcobj_free(&s);
		return report_fail(self, "scan", err, NULL);
	}
	if (filter.stale) {
		ipcobj_sort(&s);
		for (size_t i = 0; i < s.n; i++)
			if (ipcobj_filter_pass(&filter, &s.v[i]))
				rm_one(&r, &s.v[i]);
	}
	for (int i = first; !filter.stale && i < argc; i++) {
		const char *why;
		int idx = ipcobj_find(&s, argv[i], &why);

		if (idx < 0)
			rm_fail(&r, argv[i], idx, why);
		else
			rm_one(&r, &s.v[idx]);
	}
	free(filter.globs);
	ipcobj_free(&s);
	if (fflush(stdout) != 0)
		rm_fail(&r, "standard output", -errno, NULL);
	return r.exit_code;
}

const struct cmd cmd_rm = {
	.name = "rm",
	.args = "ADDR... | --stale",
	.summary = "remove IPC objects by address, or every stale one you own",
	.details =
	        "ADDR is any address ipckit ls prints or a channel takes "
	        "(sysvmq:0x1234abcd,\nsysvmq:/etc/app?proj=2, sysvmq:id:N, "
	        "posixmq:/jobs, shm:ring, fifo:PATH, unix:PATH,\nfile:PATH), "
	        "or sysvshm:, sysvsem:, posixshm:/NAME, posixsem:/NAME for "
	        "objects that\nare not channels.  --stale removes every stale "
	        "object (see ipckit ls) you own, or\nUSER owns with --user; "
	        "--match narrows it to some addresses.  Objects of other\n"
	        "users are refused (root may remove any), and so are objects "
	        "in use, unless\n--force.  Each object gets a line: \"removed "
	        "ADDR\" (or \"would remove ADDR\" with\n--dry-run) on stdout, "
	        "or "
	        "\"ipckit rm: ADDR: reason\" on stderr; the exit status is\n1 "
	        "if any could not be removed.\n"
	        "Examples:\n"
	        "  ipckit rm sysvmq:0x1234abcd posixmq:/jobs\n"
	        "  ipckit rm --stale --dry-run\n"
	        "  ipckit rm --stale --match 'fifo:/tmp/myapp/*'",
	.opts =
	        (const struct opt[]){
	                { "dry-run", RM_DRY_RUN, NULL,
	                  "print what would be removed; remove nothing" },
	                { "force", RM_FORCE, NULL,
	                  "remove objects that are still in use" },
	                IPCOBJ_FILTER_OPTS("every stale object you own"),
	                { NULL, 0, NULL, NULL },
	        },
	.permute = true,
	.run = rm_cmd,
};
