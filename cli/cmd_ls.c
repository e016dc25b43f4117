// SPDX-License-Identifier: MIT
/* cmd_ls.c - `ipckit ls`: every IPC object on the machine, who holds it,
 * and whether it is in use, idle, stale (nobody holds it and every pid
 * recorded for it is gone) or unused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "escape.h"
#include "ipcobj.h"
#include "opts.h"
#include "report.h"
#include "xalloc.h"

enum {
	LS_JSON = 256,
};

#define LS_COLS 11

static const char *const ls_heads[LS_COLS] = {
	"STATE", "KIND", "OWNER", "MODE", "BYTES",   "MSGS",
	"ATT",   "KEY",  "ID",    "WHO",  "ADDRESS",
};

static char *
ls_num(long long v)
{
	return v < 0 ? xstrdup("-") : xasprintf("%lld", v);
}

static void
ls_table(const struct ipcobj_set *s, const bool *show)
{
	size_t rows = 0, w[LS_COLS];
	char *(*cell)[LS_COLS];

	for (size_t i = 0; i < s->n; i++)
		rows += show[i];
	cell = xcalloc(rows + 1, sizeof(*cell));
	for (int c = 0; c < LS_COLS; c++)
		cell[0][c] = xstrdup(ls_heads[c]);
	for (size_t i = 0, r = 1; i < s->n; i++) {
		const struct ipcobj *o = &s->v[i];
		char owner[64], who[256];

		if (!show[i])
			continue;
		ipcobj_user_name(o->owner, owner, sizeof(owner));
		ipcobj_who(o, who, sizeof(who));
		cell[r][0] = xstrdup(ipcobj_state_name(o->state));
		cell[r][1] = xstrdup(ipcobj_kind_name(o->kind));
		cell[r][2] = xstrdup(owner);
		cell[r][3] = xasprintf("%04o", (unsigned)o->mode);
		cell[r][4] = ls_num(o->bytes);
		cell[r][5] = ls_num(o->messages);
		cell[r][6] = ls_num(o->kind == IPCOBJ_SYSV_SEM ? o->nsems
		                                               : o->attaches);
		cell[r][7] = o->key > 0 ? xasprintf("0x%08llx", o->key)
		                        : xstrdup("-");
		cell[r][8] = ls_num(o->id);
		cell[r][9] = xasprintf("%s%s", who,
		                       o->doubtful && o->state == IPCOBJ_UNUSED
		                               ? " (others' processes unread)"
		                               : "");
		cell[r][10] = xstrdup(o->address);
		r++;
	}
	for (int c = 0; c < LS_COLS; c++) {
		w[c] = 0;
		for (size_t r = 0; r <= rows; r++)
			if (strlen(cell[r][c]) > w[c])
				w[c] = strlen(cell[r][c]);
	}
	for (size_t r = 0; r <= rows; r++) {
		for (int c = 0; c < LS_COLS; c++) {
			/* Numbers to the right, the last column unpadded. */
			bool right = c >= 4 && c <= 8;

			if (c == LS_COLS - 1)
				printf("%s\n", cell[r][c]);
			else
				printf(right ? "%*s  " : "%-*s  ", (int)w[c],
				       cell[r][c]);
			free(cell[r][c]);
		}
	}
	free(cell);
}

static void
ls_json_pid(const struct ipcobj_pid *p)
{
	printf("{\"pid\":%ld,\"alive\":%s}", (long)p->pid,
	       p->alive ? "true" : "false");
}

static void
ls_json_num(const char *key, long long v)
{
	if (v < 0)
		printf(",\"%s\":null", key);
	else
		printf(",\"%s\":%lld", key, v);
}

static void
ls_json_one(const struct ipcobj *o)
{
	char owner[64], comm[32];

	ipcobj_user_name(o->owner, owner, sizeof(owner));
	printf("{\"kind\":\"%s\",\"address\":", ipcobj_kind_name(o->kind));
	escape_json(stdout, o->address, strlen(o->address));
	printf(",\"state\":\"%s\"", ipcobj_state_name(o->state));
	if (o->key >= 0)
		printf(",\"key\":\"0x%08llx\",\"id\":%d", o->key, o->id);
	else
		printf(",\"key\":null,\"id\":null");
	printf(",\"owner\":");
	escape_json(stdout, owner, strlen(owner));
	printf(",\"uid\":%u,\"mode\":\"%04o\"", (unsigned)o->owner,
	       (unsigned)o->mode);
	ls_json_num("bytes", o->bytes);
	ls_json_num("messages", o->messages);
	ls_json_num("attaches", o->attaches);
	ls_json_num("nsems", o->nsems);
	printf(",\"users\":[");
	for (size_t i = 0; i < o->n_users; i++) {
		ipcobj_comm(o->users[i], comm, sizeof(comm));
		printf("%s{\"pid\":%ld,\"command\":", i ? "," : "",
		       (long)o->users[i]);
		escape_json(stdout, comm, strlen(comm));
		putchar('}');
	}
	printf("],\"listening\":%s,\"creator\":", o->bound ? "true" : "false");
	if (o->creator.pid > 0)
		ls_json_pid(&o->creator);
	else
		printf("null");
	printf(",\"last\":[");
	for (unsigned i = 0; i < o->n_last; i++) {
		if (i)
			putchar(',');
		ls_json_pid(&o->last[i]);
	}
	printf("],\"doubtful\":%s}", o->doubtful ? "true" : "false");
}

static void
ls_json(const struct ipcobj_set *s, const bool *show)
{
	bool first = true;

	putchar('[');
	for (size_t i = 0; i < s->n; i++) {
		if (!show[i])
			continue;
		printf(first ? "\n" : ",\n");
		ls_json_one(&s->v[i]);
		first = false;
	}
	printf("%s]\n", first ? "" : "\n");
}

static int
ls_cmd(const struct cmd *self, int argc, char **argv)
{
	struct ipcobj_filter filter = { .uid = -1 };
	struct ipcobj_set s = { 0 };
	struct opts op;
	const char *arg;
	bool json = false, *show;
	int key, err;

	opts_init(&op, self, argc, argv);
	while ((key = opts_next(&op, &arg)) != -1) {
		if (key == OPT_HELP || key == '?' ||
		    (key != LS_JSON &&
		     ipcobj_filter_opt(self, &filter, key, arg) != 0)) {
			free(filter.globs);
			return key == OPT_HELP ? EXIT_OK : EXIT_USAGE;
		}
		json |= key == LS_JSON;
	}
	if (opts_index(&op) < argc) {
		free(filter.globs);
		return opts_usage_error(self, "no operands expected (got '%s')",
		                        argv[opts_index(&op)]);
	}
	err = ipcobj_scan(&s);
	if (err) {
		free(filter.globs);
		ipcobj_free(&s);
		return report_fail(self, "scan", err, NULL);
	}
	ipcobj_sort(&s);
	show = xcalloc(s.n + 1, sizeof(*show));
	for (size_t i = 0; i < s.n; i++)
		show[i] = ipcobj_filter_pass(&filter, &s.v[i]);
	free(filter.globs);
	if (json)
		ls_json(&s, show);
	else
		ls_table(&s, show);
	for (size_t i = 0; i < s.n_notes; i++)
		fprintf(stderr, "ipckit ls: note: %s\n", s.notes[i]);
	if (s.unreadable && !json)
		fprintf(stderr,
		        "ipckit ls: note: %u processes of other users could "
		        "not be read (run as root to see every user)\n",
		        s.unreadable);
	free(show);
	ipcobj_free(&s);
	return fflush(stdout) == 0
	               ? EXIT_OK
	               : report_fail(self, "standard output", -errno, NULL);
}

const struct cmd cmd_ls = {
	.name = "ls",
	.args = "",
	.summary = "list every IPC object on the machine, who holds it, and "
	           "which are stale",
	.details =
	        "System V queues, shared memory and semaphores "
	        "(/proc/sysvipc), POSIX queues\n(/dev/mqueue), POSIX shared "
	        "memory, named semaphores and ipckit rings (/dev/shm),\nand "
	        "the FIFOs, UNIX sockets and file queues ipckit made.  WHO "
	        "names the processes\nthat have it open, mapped, attached or "
	        "bound (from /proc/PID/fd, /proc/PID/maps,\n/proc/net/unix), "
	        "else its creator or last users, checked by pid and start "
	        "time.\nSTATE: in use; idle (nobody holds it, its creator or "
	        "last user lives); stale\n(nobody holds it and every recorded "
	        "process is gone); unused (nothing recorded\nto judge by).  "
	        "ADDRESS is what ipckit rm takes (sysvshm:, sysvsem:, "
	        "posixshm:\nand posixsem: name objects that are not channels). "
	        " ATT "
	        "is a segment's\nattaches, or the semaphores in a set.  "
	        "--user, "
	        "--stale and --match (all must\nhold) narrow the list; "
	        "docs/commands/ls-rm.md explains every column.\n"
	        "Examples:\n"
	        "  ipckit ls\n"
	        "  ipckit ls --stale --user alice\n"
	        "  ipckit ls --match 'posixmq:/app-*' --match "
	        "'fifo:/run/app/*'\n"
	        "  ipckit ls --json | jq '.[] | select(.kind == \"sysvmq\")'",
	.opts =
	        (const struct opt[]){
	                { "json", LS_JSON, NULL,
	                  "a JSON array, one object per IPC object" },
	                IPCOBJ_FILTER_OPTS("only the stale objects"),
	                { NULL, 0, NULL, NULL },
	        },
	.permute = true,
	.run = ls_cmd,
};
