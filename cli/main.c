// SPDX-License-Identifier: MIT
/* main.c - the ipckit program: one table of sub-commands drives dispatch,
 * --help, the man page and docs/cli.md.  Commands with a helper program
 * (hub, peer) are exec'd (helper.c), so ipckit links only libc and
 * libipckit and starts fast. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "helper.h"
#include "opts.h"

/* One command per line. */
/* clang-format off */
const struct cmd *const cli_commands[] = {
	&cmd_help,
	&cmd_send,
	&cmd_recv,
	&cmd_relay,
	&cmd_chat,
	&cmd_exec,
	&cmd_ls,
	&cmd_rm,
	&cmd_bench,
	&cmd_hub,
	&cmd_ratings,
	&cmd_peer,
	NULL,
};
/* clang-format on */

static const struct cmd *
cli_find(const char *name)
{
	for (const struct cmd *const *c = cli_commands; *c; c++)
		if (strcmp((*c)->name, name) == 0)
			return *c;
	return NULL;
}

static void
cli_overview(FILE *f)
{
	fprintf(f, "usage: ipckit COMMAND [options] [args]\n\n"
	           "One message API over every UNIX IPC mechanism, and the "
	           "programs built on it.\n\ncommands:\n");
	for (const struct cmd *const *c = cli_commands; *c; c++)
		fprintf(f, "  %-9s %s\n", (*c)->name, (*c)->summary);
	fprintf(f, "\n'ipckit COMMAND --help' describes one command; "
	           "docs/addresses.md lists the addresses.\n");
}

static int
cli_help(const struct cmd *self, int argc, char **argv)
{
	static const char *date = "2026-11-22";
	const struct cmd *c;

	if (argc > 1 && strcmp(argv[1], "--man") == 0) {
		opts_man(stdout, cli_commands, date);
		return EXIT_OK;
	}
	if (argc > 1 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		opts_usage(stdout, self);
		return EXIT_OK;
	}
	if (argc > 1 && strcmp(argv[1], "--markdown") == 0) {
		opts_markdown(stdout, cli_commands);
		return EXIT_OK;
	}
	if (argc > 2)
		return opts_usage_error(self, "expected at most one command");
	if (argc == 1) {
		cli_overview(stdout);
		return EXIT_OK;
	}
	c = cli_find(argv[1]);
	if (c == NULL)
		return opts_usage_error(self, "no command '%s'", argv[1]);
	opts_usage(stdout, c);
	return EXIT_OK;
}

const struct cmd cmd_help = {
	.name = "help",
	.args = "[COMMAND]",
	.summary = "describe the commands (also: --man, --markdown)",
	.details = "ipckit help --man writes the man page and ipckit help "
	           "--markdown writes docs/cli.md,\nboth from the command "
	           "table.",
	.opts = (const struct opt[]){ { NULL, 0, NULL, NULL } },
	.run = cli_help,
};

int
main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		cli_overview(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cli_overview(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ipckit %s\n", IPCKIT_VERSION);
		return EXIT_OK;
	}
	c = cli_find(argv[1]);
	if (c == NULL) {
		fprintf(stderr,
		        "ipckit: no command '%s' (see: ipckit --help)\n",
		        argv[1]);
		return EXIT_USAGE;
	}
	if (c->helper != NULL)
		return helper_exec(c, argc - 1, argv + 1);
	return c->run(c, argc - 1, argv + 1);
}
