// SPDX-License-Identifier: MIT
/* opts.h - the sub-command table and its options: one table drives
 * dispatch, option parsing, --help and the man page. */
#ifndef COMMON_OPTS_H
#define COMMON_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/* Exit codes every ipckit command uses (docs/cli.md). */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_TIMEOUT = 3,
};

#define OPTS_MAX 48
#define OPT_HELP 'h' /* every command has -h/--help */

struct opt {
	const char *name; /* long name without "--" */
	int key;          /* short letter, or a value > 255 for long-only */
	const char *arg;  /* metavariable ("MS"), or NULL for a flag */
	const char *help; /* one line */
};

struct cmd {
	const char *name;       /* "send" */
	const char *args;       /* "ADDR [MSG...]" */
	const char *summary;    /* one line */
	const char *details;    /* paragraphs, '\n'-separated; may be NULL */
	const struct opt *opts; /* terminated by { NULL } */
	/* Options may follow operands ("recv ADDR -n 1"); "--" ends them.
	 * False: the first operand ends the options ("exec ADDR -- CMD"). */
	bool permute;
	/* argv[0] is the command name; returns an exit_code.  NULL when a
	 * helper program runs the command. */
	int (*run)(const struct cmd *self, int argc, char **argv);
	/* NULL, or the program that runs the command ("ipckit-hub"): one
	 * that links what the rest of ipckit need not load at every start.
	 * ipckit execs it with the arguments after the command name
	 * (cli/helper.c); it links this same table for its options. */
	const char *helper;
};

/* Option parsing over getopt_long, built from a cmd's table. */
struct opts {
	const struct cmd *cmd;
	int argc;
	char **argv;
	struct option longopts[OPTS_MAX + 2];
	char shortopts[OPTS_MAX * 2 + 4];
};

void opts_init(struct opts *o, const struct cmd *cmd, int argc, char **argv);

/*
 * opts_next - the next option's key (its arg in *arg), -1 after the last.
 * Prints the usage to stdout and returns OPT_HELP for -h/--help; prints a
 * one-line error and returns '?' for an unknown option or missing value.
 */
int opts_next(struct opts *o, const char **arg);

/* opts_index - index in argv of the first operand, after opts_next()
 * returned -1. */
int opts_index(const struct opts *o);

/* opts_usage - the --help text for one command. */
void opts_usage(FILE *f, const struct cmd *cmd);

/* opts_usage_error - "ipckit CMD: message" + a hint; returns EXIT_USAGE. */
int opts_usage_error(const struct cmd *cmd, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/*
 * Numbers from the command line: the whole string must parse and lie in
 * [min, max]; otherwise a usage error naming the option is printed and
 * -1 returned.
 */
int opts_long(const struct cmd *cmd, const char *what, const char *s,
              long long min, long long max, long long *out);

/* The same into an int or a long (min and max must fit). */
int opts_int(const struct cmd *cmd, const char *what, const char *s, int min,
             int max, int *out);
int opts_lng(const struct cmd *cmd, const char *what, const char *s, long min,
             long max, long *out);

/* opts_ready_fd - parse the value of --ready-fd: an open descriptor, made
 * close-on-exec so that no child inherits it.  0, or -1 after a usage
 * error was printed. */
int opts_ready_fd(const struct cmd *cmd, const char *arg, int *fd);

/* The table of all commands (cli/main.c), for the man page generator. */
void opts_man(FILE *f, const struct cmd *const *cmds, const char *date);
void opts_markdown(FILE *f, const struct cmd *const *cmds);

#endif
