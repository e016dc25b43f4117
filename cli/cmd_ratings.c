// SPDX-License-Identifier: MIT
/* cmd_ratings.c - `ipckit ratings`: per-movie or per-user count and mean
 * rating of MovieLens files, over worker processes sharing memory. */
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "coordinator.h"
#include "opts.h"

enum {
	RATINGS_VIA = 256,
	RATINGS_BY,
	RATINGS_TOP,
	RATINGS_MIN_COUNT,
	RATINGS_JSON,
	RATINGS_STRICT,
	RATINGS_LENIENT,
	RATINGS_PROGRESS,
};

static const char *const via_words[] = { "shm", "mmap", NULL };
static const char *const by_words[] = { "movie", "user", NULL };
static const char *const progress_words[] = { "never", "auto", "always", NULL };

/* The index of arg in words, or a usage error naming the choices. */
static int
ratings_word(const struct cmd *self, const char *opt, const char *arg,
             const char *const *words)
{
	char choices[64] = "";

	for (int i = 0; words[i]; i++) {
		if (strcmp(arg, words[i]) == 0)
			return i;
		snprintf(choices + strlen(choices),
		         sizeof(choices) - strlen(choices), "%s%s",
		         i ? "|" : "", words[i]);
	}
	opts_usage_error(self, "%s: '%s' is not one of %s", opt, arg, choices);
	return -1;
}

static int
ratings_cmd(const struct cmd *self, int argc, char **argv)
{
	static char dash[] = "-";
	static char *stdin_only[] = { dash, NULL };
	struct ratings_opts o = { .via = AREA_MMAP };
	struct opts op;
	const char *arg;
	long long v;
	int key, first, k;

	opts_init(&op, self, argc, argv);
	while ((key = opts_next(&op, &arg)) != -1) {
		switch (key) {
		case OPT_HELP:
			return EXIT_OK;
		case 'j':
			if (opts_long(self, "--jobs", arg, 1, RATINGS_JOBS_MAX,
			              &v))
				return EXIT_USAGE;
			o.jobs = (unsigned)v;
			break;
		case RATINGS_VIA:
			if ((k = ratings_word(self, "--via", arg, via_words)) <
			    0)
				return EXIT_USAGE;
			o.via = k == 0 ? AREA_SHM : AREA_MMAP;
			break;
		case RATINGS_BY:
			if ((k = ratings_word(self, "--by", arg, by_words)) < 0)
				return EXIT_USAGE;
			o.by_user = k == 1;
			break;
		case 'o':
			o.output = arg;
			break;
		case RATINGS_TOP:
			if (opts_long(self, "--top", arg, 1, INT64_MAX, &v))
				return EXIT_USAGE;
			o.top = (uint64_t)v;
			break;
		case RATINGS_MIN_COUNT:
			if (opts_long(self, "--min-count", arg, 0, INT64_MAX,
			              &v))
				return EXIT_USAGE;
			o.min_count = (uint64_t)v;
			break;
		case RATINGS_JSON:
			o.json = true;
			break;
		case RATINGS_STRICT:
			o.strict = true;
			break;
		case RATINGS_LENIENT:
			o.lenient = true;
			break;
		case RATINGS_PROGRESS:
			k = ratings_word(self, "--progress", arg,
			                 progress_words);
			if (k < 0)
				return EXIT_USAGE;
			o.progress = k - 1; /* never -1, auto 0, always 1 */
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (o.strict && o.lenient)
		return opts_usage_error(self, "--strict and --lenient "
		                              "contradict each other");
	first = opts_index(&op);
	if (first < argc) {
		o.files = argv + first;
		o.nfiles = (unsigned)(argc - first);
	} else {
		o.files = stdin_only;
		o.nfiles = 1;
	}
	return ratings_run(&o);
}

const struct cmd cmd_ratings = {
	.name = "ratings",
	.args = "[FILE...]",
	.summary = "count and mean rating per movie or user, in parallel",
	.details =
	        "Reads MovieLens ratings: u.data (user TAB movie TAB rating "
	        "TAB time) or ratings.csv\n(a header, then "
	        "userId,movieId,rating,timestamp, ratings in halves), "
	        "recognised by\ncontent; - or no FILE reads stdin.  Several "
	        "files are one data set.  Prints\nid TAB count TAB mean (4 "
	        "decimals, rounded half up), sorted by id.\n"
	        "Files are split into byte ranges over -j worker processes, "
	        "which return their\ntotals through shared memory (--via).  "
	        "Malformed lines are reported as\nFILE:LINE: reason, skipped, "
	        "and make the exit status 1 unless --lenient.\n"
	        "Example: ipckit ratings --top 10 --min-count 100 ratings.csv",
	.opts =
	        (const struct opt[]){
	                { "jobs", 'j', "N",
	                  "worker processes (default: one per core, fewer for "
	                  "small "
	                  "input)" },
	                { "via", RATINGS_VIA, "shm|mmap",
	                  "System V shm + semaphores, or shared mmap "
	                  "(default)" },
	                { "by", RATINGS_BY, "movie|user",
	                  "group by movie (default) or by user" },
	                { "output", 'o', "FILE",
	                  "write the result to FILE (a regular file is "
	                  "replaced "
	                  "whole, never half; a device or FIFO is written "
	                  "in place)" },
	                { "top", RATINGS_TOP, "K",
	                  "the K highest means (ties: more ratings, then lower "
	                  "id)" },
	                { "min-count", RATINGS_MIN_COUNT, "C",
	                  "leave out ids with fewer than C ratings" },
	                { "json", RATINGS_JSON, NULL,
	                  "print a JSON array of {id, count, mean}" },
	                { "strict", RATINGS_STRICT, NULL,
	                  "stop at the first malformed line, print no result" },
	                { "lenient", RATINGS_LENIENT, NULL,
	                  "exit 0 even when malformed lines were skipped" },
	                { "progress", RATINGS_PROGRESS, "WHEN",
	                  "progress bar on stderr: auto (a terminal), always, "
	                  "never" },
	                { 0 },
	        },
	.run = ratings_cmd,
};
