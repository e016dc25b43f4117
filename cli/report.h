// SPDX-License-Identifier: MIT
/* report.h - the one-line errors and exit codes of the channel commands:
 * "ipckit CMD: ADDRESS: reason: detail", and 0 ok, 1 failure, 2 usage
 * (a malformed address or option too), 3 timed out. */
#ifndef CLI_REPORT_H
#define CLI_REPORT_H

#include "opts.h"

/* report_exit_code - the exit code for an error of the library. */
int report_exit_code(int err);

/*
 * report_fail - print "ipckit CMD: WHAT: reason[: detail]" on stderr and
 * return report_exit_code(err).  what is usually the address; detail
 * (NULL or "" for none) is ipk_errdetail() text, from which a repeated
 * "scheme:...: " prefix naming the same object is dropped.
 */
int report_fail(const struct cmd *cmd, const char *what, int err,
                const char *detail);

/* report_ready - write "ready WORDS...\n" to fd (if >= 0) and close it:
 * the --ready-fd line of s6, for scripts and tests. */
void report_ready(int fd, const char *const *words, int n);

#endif
