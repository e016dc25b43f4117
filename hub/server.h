// SPDX-License-Identifier: MIT
/* server.h - the hub's sockets: one thread on ipk_loop, non-blocking
 * sockets with TCP_NODELAY, one writev() per connection per loop turn,
 * signals (SIGHUP reload, SIGTERM/SIGINT graceful stop, SIGPIPE ignored). */
#ifndef HUB_SERVER_H
#define HUB_SERVER_H

#include "config.h"

struct server_opts {
	const char *config_path; /* NULL: defaults and overrides only */
	/* "key=value" settings applied over the file, on start and on
	 * every reload (the command line wins). */
	const char *const *overrides;
	int n_overrides;
	int ready_fd; /* -1: none; else "ready adc://HOST:PORT\n" */
};

/* server_load_config - defaults, the file, then the overrides; 0 or -1
 * with "file:line: reason" in err. */
int server_load_config(const struct server_opts *o, struct hub_config *cfg,
                       char *err, size_t cap);

/* server_run - run the hub until SIGTERM/SIGINT; an exit code (0, or 1
 * with one line on stderr). */
int server_run(const struct server_opts *o);

#endif
