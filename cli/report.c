// SPDX-License-Identifier: MIT
/* report.c - error lines, exit codes and the --ready-fd line. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ipckit.h"

#include "report.h"

int
report_exit_code(int err)
{
	switch (err) {
	case 0:
		return EXIT_OK;
	case -ETIMEDOUT:
	case -EAGAIN:
		return EXIT_TIMEOUT;
	case IPK_EADDR:
	case IPK_ESCHEME:
	case IPK_EOPTION:
		return EXIT_USAGE;
	default:
		return EXIT_FAIL;
	}
}

/* Drop a leading "scheme:rest: " from detail when what names the same
 * scheme: the line already says which object it is. */
static const char *
report_trim(const char *what, const char *detail)
{
	const char *colon = strchr(what, ':');
	size_t slen = colon ? (size_t)(colon - what) : 0;
	const char *sep;

	if (slen == 0 || strncmp(detail, what, slen + 1) != 0)
		return detail;
	sep = strstr(detail + slen + 1, ": ");
	if (sep == NULL || memchr(detail, ' ', (size_t)(sep - detail)))
		return detail;
	return sep + 2;
}

int
report_fail(const struct cmd *cmd, const char *what, int err,
            const char *detail)
{
	const char *reason =
	        err == -ECANCELED ? "interrupted" : ipk_strerror(err);

	if (detail && detail[0])
		detail = report_trim(what, detail);
	/* A detail that only repeats the reason says nothing more. */
	if (detail && strcmp(detail, reason) == 0)
		detail = NULL;
	fprintf(stderr, "ipckit %s: %s: %s%s%s\n", cmd->name, what, reason,
	        detail && detail[0] ? ": " : "", detail ? detail : "");
	return report_exit_code(err);
}

void
report_ready(int fd, const char *const *words, int n)
{
	char line[4096];
	size_t len = 0;

	if (fd < 0)
		return;
	len += (size_t)snprintf(line, sizeof(line), "ready");
	for (int i = 0; i < n && len < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %s",
		                        words[i]);
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* A reader that went away is its business, not a failure of ours. */
	if (write(fd, line, len) < 0)
		(void)0;
	close(fd);
}
