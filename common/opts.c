// SPDX-License-Identifier: MIT
/* opts.c - getopt_long driven by a command's option table; --help, the man
 * page and docs/cli.md are printed from the same table. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

static const struct opt opts_help = { "help", OPT_HELP, NULL,
	                              "show this help and exit" };

void
opts_init(struct opts *o, const struct cmd *cmd, int argc, char **argv)
{
	size_t n = 0, s = 0;

	memset(o, 0, sizeof(*o));
	o->cmd = cmd;
	o->argc = argc;
	o->argv = argv;
	/* '+': stop at the first operand, so "hub user add NICK --role op"
	 * reaches its own parser; ':': report a missing value ourselves. */
	if (!cmd->permute)
		o->shortopts[s++] = '+';
	o->shortopts[s++] = ':';
	for (const struct opt *p = cmd->opts; p && p->name && n < OPTS_MAX;
	     p++, n++) {
		o->longopts[n].name = p->name;
		o->longopts[n].has_arg =
		        p->arg ? required_argument : no_argument;
		o->longopts[n].val = p->key;
		if (p->key > 0 && p->key < 256) {
			o->shortopts[s++] = (char)p->key;
			if (p->arg)
				o->shortopts[s++] = ':';
		}
	}
	o->longopts[n].name = opts_help.name;
	o->longopts[n].val = OPT_HELP;
	o->shortopts[s++] = OPT_HELP;
	o->shortopts[s] = '\0';
	optind = 1;
	opterr = 0;
}

int
opts_next(struct opts *o, const char **arg)
{
	int c = getopt_long(o->argc, o->argv, o->shortopts, o->longopts, NULL);

	*arg = optarg;
	if (c == OPT_HELP) {
		opts_usage(stdout, o->cmd);
		return OPT_HELP;
	}
	if (c == '?' || c == ':') {
		const char *bad = o->argv[optind - 1];

		if (c == ':')
			opts_usage_error(o->cmd, "option %s needs a value",
			                 bad);
		else
			opts_usage_error(o->cmd, "unknown option %s", bad);
		return '?';
	}
	return c;
}

int
opts_index(const struct opts *o)
{
	(void)o;
	return optind;
}

static void
opts_print_opt(FILE *f, const struct opt *p)
{
	char left[64];
	int n;

	if (p->key > 0 && p->key < 256)
		n = snprintf(left, sizeof(left), "-%c, --%s", p->key, p->name);
	else
		n = snprintf(left, sizeof(left), "    --%s", p->name);
	if (p->arg && n > 0 && (size_t)n < sizeof(left))
		snprintf(left + n, sizeof(left) - (size_t)n, " %s", p->arg);
	fprintf(f, "  %-26s %s\n", left, p->help);
}

void
opts_usage(FILE *f, const struct cmd *cmd)
{
	fprintf(f, "usage: ipckit %s [options]%s%s\n\n%s\n", cmd->name,
	        cmd->args[0] ? " " : "", cmd->args, cmd->summary);
	if (cmd->details)
		fprintf(f, "\n%s\n", cmd->details);
	fprintf(f, "\noptions:\n");
	for (const struct opt *p = cmd->opts; p && p->name; p++)
		opts_print_opt(f, p);
	opts_print_opt(f, &opts_help);
	fprintf(f, "\nexit status: 0 ok, 1 failure, 2 usage, 3 timed out\n");
}

int
opts_usage_error(const struct cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ipckit %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see: ipckit %s --help)\n", cmd->name);
	return EXIT_USAGE;
}

int
opts_long(const struct cmd *cmd, const char *what, const char *s, long long min,
          long long max, long long *out)
{
	long long v;
	char *end;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end) {
		opts_usage_error(cmd, "%s: '%s' is not a number", what, s);
		return -1;
	}
	if (v < min || v > max) {
		opts_usage_error(cmd, "%s: %lld is outside %lld..%lld", what, v,
		                 min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int
opts_int(const struct cmd *cmd, const char *what, const char *s, int min,
         int max, int *out)
{
	long long v;

	if (opts_long(cmd, what, s, min, max, &v))
		return -1;
	*out = (int)v;
	return 0;
}

int
opts_lng(const struct cmd *cmd, const char *what, const char *s, long min,
         long max, long *out)
{
	long long v;

	if (opts_long(cmd, what, s, min, max, &v))
		return -1;
	*out = (long)v;
	return 0;
}

/* roff: a leading '.' or '\'' would be a request; '\\' an escape. */
static void
opts_roff(FILE *f, const char *s)
{
	int bol = 1;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
		bol = *s == '\n';
	}
}

void
opts_man(FILE *f, const struct cmd *const *cmds, const char *date)
{
	fprintf(f, ".TH IPCKIT 1 \"%s\" \"ipckit\" \"User Commands\"\n", date);
	fprintf(f, ".SH NAME\nipckit \\- one message API over every UNIX IPC "
	           "mechanism, and the programs built on it\n");
	fprintf(f, ".SH SYNOPSIS\n");
	for (const struct cmd *const *c = cmds; *c; c++) {
		fprintf(f, ".B ipckit %s\n[options] ", (*c)->name);
		opts_roff(f, (*c)->args);
		fprintf(f, "\n.br\n");
	}
	fprintf(f, ".SH COMMANDS\n");
	for (const struct cmd *const *c = cmds; *c; c++) {
		fprintf(f, ".SS \"ipckit %s ", (*c)->name);
		opts_roff(f, (*c)->args);
		fprintf(f, "\"\n");
		opts_roff(f, (*c)->summary);
		fprintf(f, "\n");
		if ((*c)->details) {
			fprintf(f, ".PP\n.nf\n");
			opts_roff(f, (*c)->details);
			fprintf(f, "\n.fi\n");
		}
		for (const struct opt *p = (*c)->opts; p && p->name; p++) {
			fprintf(f, ".TP\n.B ");
			if (p->key > 0 && p->key < 256)
				fprintf(f, "\\-%c, ", p->key);
			fprintf(f, "\\-\\-");
			opts_roff(f, p->name);
			if (p->arg) {
				fprintf(f, " \\fI");
				opts_roff(f, p->arg);
				fprintf(f, "\\fR");
			}
			fprintf(f, "\n");
			opts_roff(f, p->help);
			fprintf(f, "\n");
		}
	}
	fprintf(f, ".SH FILES\n");
	for (const struct cmd *const *c = cmds; *c; c++) {
		if (!(*c)->helper)
			continue;
		fprintf(f, ".TP\n.I ");
		opts_roff(f, (*c)->helper);
		fprintf(f, "\nthe helper program that runs \\fBipckit ");
		opts_roff(f, (*c)->name);
		fprintf(f, "\\fR.\n");
	}
	fprintf(f, ".PP\nipckit looks for its helper programs in its own "
	           "directory, then in libexec/ipckit under the prefix it "
	           "runs from, then in the libexecdir it was built for.\n");
	fprintf(f, ".SH EXIT STATUS\n0 success, 1 failure, 2 usage error, "
	           "3 timed out.\n");
	fprintf(f, ".SH SEE ALSO\nThe documents in docs/ of the ipckit "
	           "sources: addresses.md, cli.md, hub.md, peer.md, "
	           "ratings.md, bench.md.\n");
}

void
opts_markdown(FILE *f, const struct cmd *const *cmds)
{
	fprintf(f, "<!-- generated by `ipckit help --markdown` from the "
	           "command table in cli/; do not edit -->\n");
	fprintf(f, "# ipckit commands\n\n");
	fprintf(f, "Exit status, for every command: 0 success, 1 failure, "
	           "2 usage error, 3 timed out.\n\n");
	for (const struct cmd *const *c = cmds; *c; c++) {
		fprintf(f,
		        "## ipckit %s\n\n```\nipckit %s [options]%s%s\n```"
		        "\n\n%s\n\n",
		        (*c)->name, (*c)->name, (*c)->args[0] ? " " : "",
		        (*c)->args, (*c)->summary);
		if ((*c)->details)
			fprintf(f, "```\n%s\n```\n\n", (*c)->details);
		fprintf(f, "| option | meaning |\n|---|---|\n");
		for (const struct opt *p = (*c)->opts; p && p->name; p++) {
			fprintf(f, "| ");
			if (p->key > 0 && p->key < 256)
				fprintf(f, "`-%c`, ", p->key);
			fprintf(f, "`--%s%s%s` | %s |\n", p->name,
			        p->arg ? " " : "", p->arg ? p->arg : "",
			        p->help);
		}
		fprintf(f, "| `-h`, `--help` | %s |\n\n", opts_help.help);
	}
}

int
opts_ready_fd(const struct cmd *cmd, const char *arg, int *fd)
{
	long long v;
	int flags;

	if (opts_long(cmd, "--ready-fd", arg, 0, INT_MAX, &v))
		return -1;
	flags = fcntl((int)v, F_GETFD);
	if (flags < 0) {
		opts_usage_error(cmd, "--ready-fd: descriptor %lld is not open",
		                 v);
		return -1;
	}
	(void)fcntl((int)v, F_SETFD, flags | FD_CLOEXEC);
	*fd = (int)v;
	return 0;
}
