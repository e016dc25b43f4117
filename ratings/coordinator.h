// SPDX-License-Identifier: MIT
/* coordinator.h - `ipckit ratings` end to end: check the inputs, plan the
 * byte ranges, share an area, fork the workers, merge their streams, watch
 * for dead workers and signals, and print the result or nothing. */
#ifndef RATINGS_COORDINATOR_H
#define RATINGS_COORDINATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "area.h"

#define RATINGS_JOBS_MAX 256

struct ratings_opts {
	char **files; /* borrowed; "-" is stdin */
	unsigned nfiles;
	unsigned jobs; /* 0: one per core (fewer for small inputs) */
	enum area_via via;
	bool by_user;
	bool json;
	bool strict;
	bool lenient;
	int progress; /* -1 never, 0 when stderr is a terminal, 1 always */
	const char *output; /* NULL or "-": stdout */
	uint64_t top;       /* 0: all ids */
	uint64_t min_count;
};

/*
 * ratings_run - do it all; prints errors and reports (stderr) and the
 * result (stdout or output).  Returns an exit code: 0, 1 (failure or
 * malformed lines without --lenient).  On SIGINT/SIGTERM/SIGHUP it cleans
 * up and dies of the same signal.
 */
int ratings_run(const struct ratings_opts *o);

#endif
