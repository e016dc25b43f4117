// SPDX-License-Identifier: MIT
/* search.c - the search matcher (ADC "SCH" and the TIGR "TR" field). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base32.h"
#include "search.h"

static bool
search_num(const char *v, uint64_t *out)
{
	char *end;

	if (*v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return errno == 0 && *end == '\0';
}

int
search_parse(struct search_query *q, const struct adc_msg *m)
{
	memset(q, 0, sizeof(*q));
	for (unsigned i = 0; i < m->n; i++) {
		const char *p = m->p[i].s, *v = p + 2;

		if (m->p[i].len < 2)
			continue;
		if (strncmp(p, "AN", 2) == 0 && *v) {
			if (q->n_an < SEARCH_MAX_TERMS)
				q->an[q->n_an++] = v;
		} else if (strncmp(p, "NO", 2) == 0 && *v) {
			if (q->n_no < SEARCH_MAX_TERMS)
				q->no[q->n_no++] = v;
		} else if (strncmp(p, "EX", 2) == 0 && *v) {
			if (*v == '.')
				v++;
			if (*v && q->n_ex < SEARCH_MAX_TERMS)
				q->ex[q->n_ex++] = v;
		} else if (strncmp(p, "LE", 2) == 0) {
			if (!search_num(v, &q->le))
				return -1;
			q->has_le = true;
		} else if (strncmp(p, "GE", 2) == 0) {
			if (!search_num(v, &q->ge))
				return -1;
			q->has_ge = true;
		} else if (strncmp(p, "EQ", 2) == 0) {
			if (!search_num(v, &q->eq))
				return -1;
			q->has_eq = true;
		} else if (strncmp(p, "TY", 2) == 0) {
			if (strcmp(v, "1") == 0)
				q->ty = 1;
			else if (strcmp(v, "2") == 0)
				q->ty = 2;
			else
				return -1;
		} else if (strncmp(p, "TR", 2) == 0) {
			if (base32_decode(v, strlen(v), q->tr, sizeof(q->tr)) !=
			    TIGER_BYTES)
				return -1;
			q->has_tr = true;
		} else if (strncmp(p, "TO", 2) == 0) {
			q->token = v;
		}
	}
	if (q->n_an == 0 && q->n_ex == 0 && !q->has_tr)
		return -1;
	return 0;
}

static bool
search_terms(const struct search_query *q, const char *path)
{
	for (unsigned i = 0; i < q->n_an; i++)
		if (strcasestr(path, q->an[i]) == NULL)
			return false;
	for (unsigned i = 0; i < q->n_no; i++)
		if (strcasestr(path, q->no[i]) != NULL)
			return false;
	return true;
}

bool
search_match_file(const struct search_query *q, const char *vpath,
                  uint64_t size, const uint8_t tth[TIGER_BYTES])
{
	const char *name, *dot;

	if (q->ty == 2)
		return false;
	if (q->has_tr)
		return memcmp(q->tr, tth, TIGER_BYTES) == 0;
	if (q->has_eq && size != q->eq)
		return false;
	if (q->has_le && size > q->le)
		return false;
	if (q->has_ge && size < q->ge)
		return false;
	if (q->n_ex > 0) {
		bool ok = false;

		name = strrchr(vpath, '/');
		name = name ? name + 1 : vpath;
		dot = strrchr(name, '.');
		for (unsigned i = 0; dot && i < q->n_ex && !ok; i++)
			ok = strcasecmp(dot + 1, q->ex[i]) == 0;
		if (!ok)
			return false;
	}
	return search_terms(q, vpath);
}

bool
search_match_dir(const struct search_query *q, const char *vpath)
{
	if (q->ty == 1 || q->has_tr || q->n_ex > 0 || q->has_eq || q->has_le ||
	    q->has_ge || q->n_an == 0)
		return false;
	return search_terms(q, vpath);
}
