// SPDX-License-Identifier: MIT
/* peer_main.c - ipckit-peer, the program behind `ipckit peer` (ipckit
 * execs it, helper.c): the ADC chat and file-sharing client.  The options
 * and help are cmd_peer.c's table, which ipckit carries too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_peer.h"
#include "cmds.h"
#include "log.h"
#include "opts.h"
#include "peer.h"
#include "xalloc.h"

static char *
peer_read_password_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return NULL;
	n = getline(&line, &cap, f);
	fclose(f);
	if (n < 0) {
		free(line);
		return xstrdup("");
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

/* $xdg (an absolute path) + under_xdg ("" for the folder itself), else
 * $HOME/under_home. */
static char *
peer_default_dir(const char *xdg, const char *under_xdg, const char *under_home)
{
	const char *x = getenv(xdg), *home = getenv("HOME");

	if (x && *x == '/')
		return xasprintf("%s%s", x, under_xdg);
	return xasprintf("%s/%s", home && *home ? home : ".", under_home);
}

static int
peer_main(const struct cmd *self, int argc, char **argv)
{
	struct peer_opts o = { .slots = 3, .ready_fd = -1 };
	const char **shares = NULL;
	char *state = NULL, *downloads = NULL;
	const char *arg;
	struct opts op;
	long long v;
	int c, code;
	bool verbose = false;

	opts_init(&op, self, argc, argv);
	while ((c = opts_next(&op, &arg)) != -1) {
		switch (c) {
		case 'n':
			o.nick = arg;
			break;
		case OPT_PASSWORD_FILE:
			free(o.password);
			o.password = peer_read_password_file(arg);
			if (o.password == NULL) {
				fprintf(stderr,
				        "ipckit peer: --password-file %s: %s\n",
				        arg, strerror(errno));
				free(shares);
				return EXIT_USAGE;
			}
			break;
		case OPT_PASSWORD_ENV: {
			const char *pw = getenv(arg);

			if (pw == NULL) {
				free(shares);
				free(o.password);
				return opts_usage_error(
				        self, "--password-env: %s is not set",
				        arg);
			}
			free(o.password);
			o.password = xstrdup(pw);
			break;
		}
		case 'd':
			o.desc = arg;
			break;
		case 's':
			shares = xreallocarray(shares, o.n_shares + 1,
			                       sizeof(*shares));
			shares[o.n_shares++] = arg;
			break;
		case 'l':
			o.listen = arg;
			break;
		case OPT_SLOTS:
			if (opts_long(self, "--slots", arg, 1, 1000, &v) != 0)
				goto usage;
			o.slots = (int)v;
			break;
		case OPT_STATE_DIR:
			o.state_dir = arg;
			break;
		case OPT_DOWNLOADS:
			o.downloads = arg;
			break;
		case OPT_BATCH:
			o.batch = true;
			break;
		case OPT_TIMEOUT:
			if (opts_long(self, "--timeout", arg, 1, 3600000, &v) !=
			    0)
				goto usage;
			o.connect_timeout_ms = (int)v;
			break;
		case OPT_READY_FD:
			if (opts_ready_fd(self, arg, &o.ready_fd) != 0)
				goto usage;
			break;
		case 'v':
			verbose = true;
			break;
		case OPT_HELP:
			free(shares);
			free(o.password);
			return EXIT_OK;
		default:
			goto usage;
		}
	}
	if (argc - opts_index(&op) != 1) {
		free(shares);
		free(o.password);
		return opts_usage_error(self, "expected one hub address");
	}
	o.hub_url = argv[opts_index(&op)];
	o.shares = shares;
	if (o.state_dir == NULL)
		o.state_dir = state =
		        peer_default_dir("XDG_STATE_HOME", "/ipckit/peer",
		                         ".local/state/ipckit/peer");
	if (o.downloads == NULL)
		o.downloads = downloads =
		        peer_default_dir("XDG_DOWNLOAD_DIR", "", "Downloads");
	log_init("peer", verbose ? LOG_DEBUG : LOG_WARN);
	code = peer_run(&o);
	free(o.password);
	free(shares);
	free(state);
	free(downloads);
	return code;
usage:
	free(shares);
	free(o.password);
	return EXIT_USAGE;
}

/* argv[0] is this program; the rest is what followed `ipckit peer`. */
int
main(int argc, char **argv)
{
	if (argc < 1)
		return EXIT_USAGE;
	return peer_main(&cmd_peer, argc, argv);
}
