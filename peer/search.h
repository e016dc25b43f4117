// SPDX-License-Identifier: MIT
/* search.h - ADC search requests (SCH: AN NO EX LE GE EQ TY TR TO) parsed
 * into a query, and the matcher that decides whether a shared file or
 * directory answers it.  No I/O. */
#ifndef PEER_SEARCH_H
#define PEER_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "msg.h"
#include "tiger.h"

#define SEARCH_MAX_TERMS 16

struct search_query {
	const char *an[SEARCH_MAX_TERMS]; /* borrowed from the message */
	const char *no[SEARCH_MAX_TERMS];
	const char *ex[SEARCH_MAX_TERMS];
	unsigned n_an, n_no, n_ex;
	uint64_t le, ge, eq; /* valid when has_* */
	bool has_le, has_ge, has_eq;
	int ty; /* 0 any, 1 files, 2 directories */
	bool has_tr;
	uint8_t tr[TIGER_BYTES];
	const char *token; /* TO, or NULL */
};

/*
 * search_parse - a query from the named parameters of m (SCH).  Returns 0,
 * or -1 when the request is malformed (bad number, bad TTH) or asks for
 * nothing at all (no AN, EX or TR): such a search is not answered.
 */
int search_parse(struct search_query *q, const struct adc_msg *m);

/* search_match_file - whether the file at vpath ("/share/a/b.txt") with
 * that size and TTH answers q.  Terms match case-insensitively (ASCII)
 * anywhere in the path; EX matches the name's extension. */
bool search_match_file(const struct search_query *q, const char *vpath,
                       uint64_t size, const uint8_t tth[TIGER_BYTES]);

/* search_match_dir - whether the directory vpath answers q (TY2 or any;
 * only AN/NO terms apply; never for TR, EX or size conditions). */
bool search_match_dir(const struct search_query *q, const char *vpath);

#endif
