// SPDX-License-Identifier: MIT
/* gen.c - deterministic MovieLens-shaped ratings for the benchmark.
 *
 *   ratings-gen udata ROWS SEED > u.data      tab-separated, integer ratings,
 *                                             rows in random order (100K shape)
 *   ratings-gen csv ROWS SEED > ratings.csv   header, ratings in halves, rows
 *                                             sorted by user then movie (25M)
 *
 * Movie popularity is Zipf-like (weight 1/rank), movie ids are sparse within
 * 1..max like the real files, each movie has a quality that moves its
 * ratings, users rate a heavy-tailed number of movies.  Same arguments, same
 * bytes: splitmix64 seeded from SEED. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t gen_state;

static uint64_t
gen_next(void)
{
	uint64_t z = (gen_state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static double
gen_unit(void)
{
	return (double)(gen_next() >> 11) * 0x1.0p-53;
}

struct shape {
	unsigned users, movies, max_movie_id;
	uint64_t t0, t1; /* timestamp range */
	int halves;
};

static double *cdf;  /* popularity by rank */
static int *quality; /* per rank, in half stars: -3..+2 */

static unsigned
gen_rank(unsigned n)
{
	double u = gen_unit();
	unsigned lo = 0, hi = n - 1;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A rating in halves (1..10) for a movie of the given quality. */
static unsigned
gen_r2(int q, int halves)
{
	/* Roughly the 25M file's spread: 4 most common, then 3, 5, 3.5. */
	static const unsigned w[10] = { 16,  31,  16,  66, 50,
		                        196, 126, 266, 88, 145 };
	unsigned u = (unsigned)(gen_next() % 1000), acc = 0, i;
	int r;

	for (i = 0; i < 9; i++) {
		acc += w[i];
		if (u < acc)
			break;
	}
	r = (int)i + 1 + q;
	if (r < 1)
		r = 1;
	if (r > 10)
		r = 10;
	if (!halves)
		r = (r + 1) / 2 * 2; /* whole stars only */
	return (unsigned)r;
}

static char *
gen_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static unsigned *ids; /* movie id of each rank */

static int
gen_cmp(const void *a, const void *b)
{
	unsigned x = ids[*(const unsigned *)a], y = ids[*(const unsigned *)b];

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	static char out[1 << 20];
	struct shape s;
	uint64_t rows, done = 0;
	int csv;
	size_t n = 0;
	unsigned *batch;

	if (argc != 4 || (strcmp(argv[1], "udata") && strcmp(argv[1], "csv"))) {
		fprintf(stderr, "usage: ratings-gen udata|csv ROWS SEED\n");
		return 2;
	}
	csv = strcmp(argv[1], "csv") == 0;
	rows = strtoull(argv[2], NULL, 10);
	gen_state = strtoull(argv[3], NULL, 10);
	if (csv)
		s = (struct shape){ 162541,    59047,      209171,
			            789652009, 1574327703, 1 };
	else
		s = (struct shape){ 943, 1682, 1682, 874724710, 893286638, 0 };
	cdf = malloc(s.movies * sizeof(*cdf));
	ids = malloc(s.movies * sizeof(*ids));
	quality = malloc(s.movies * sizeof(*quality));
	batch = malloc(65536 * sizeof(*batch));
	if (!cdf || !ids || !quality || !batch)
		return 1;
	{
		double sum = 0;
		unsigned char *used = calloc(s.max_movie_id + 1, 1);

		for (unsigned r = 0; r < s.movies; r++)
			sum += cdf[r] = 1.0 / (r + 1.0);
		for (unsigned r = 0; r < s.movies; r++)
			cdf[r] = (r ? cdf[r - 1] : 0) + cdf[r] / sum;
		cdf[s.movies - 1] = 1.0;
		/* Ranks to distinct ids: the dense case fills 1..max. */
		for (unsigned r = 0; r < s.movies; r++) {
			unsigned id;

			if (s.movies == s.max_movie_id) {
				id = r + 1;
			} else {
				do
					id = 1 + (unsigned)(gen_next() %
					                    s.max_movie_id);
				while (used[id]);
			}
			used[id] = 1;
			ids[r] = id;
			quality[r] = (int)(gen_next() % 6) - 3;
		}
		if (s.movies == s.max_movie_id) /* shuffle */
			for (unsigned r = s.movies - 1; r > 0; r--) {
				unsigned j = (unsigned)(gen_next() % (r + 1)),
				         t = ids[r];

				ids[r] = ids[j];
				ids[j] = t;
			}
		free(used);
	}
	if (csv) {
		static const char hdr[] = "userId,movieId,rating,timestamp\n";

		memcpy(out, hdr, sizeof(hdr) - 1);
		n = sizeof(hdr) - 1;
	}
	for (unsigned u = 1; done < rows; u = u % s.users + 1) {
		/* Heavy-tailed ratings per user: 20 e^(3.25 x), about 153
		 * on average, as in the 25M file. */
		uint64_t k = (uint64_t)(20.0 * exp(3.25 * gen_unit()));
		unsigned m;

		if (!csv)
			k = 1; /* u.data rows come in random order */
		if (k > rows - done)
			k = rows - done;
		if (k > 65536)
			k = 65536;
		for (uint64_t i = 0; i < k; i++)
			batch[i] = gen_rank(s.movies);
		if (csv)
			qsort(batch, k, sizeof(*batch), gen_cmp);
		m = csv ? u : 1 + (unsigned)(gen_next() % s.users);
		for (uint64_t i = 0; i < k; i++) {
			unsigned rank = batch[i],
			         r2 = gen_r2(quality[rank], s.halves);
			uint64_t t = s.t0 + gen_next() % (s.t1 - s.t0);
			char *p = out + n, sep = csv ? ',' : '\t';

			p = gen_u64(p, m);
			*p++ = sep;
			p = gen_u64(p, ids[rank]);
			*p++ = sep;
			*p++ = (char)('0' + r2 / 2);
			if (csv) {
				*p++ = '.';
				*p++ = r2 % 2 ? '5' : '0';
			}
			*p++ = sep;
			p = gen_u64(p, t);
			*p++ = '\n';
			n = (size_t)(p - out);
			if (n > sizeof(out) - 128) {
				if (fwrite(out, 1, n, stdout) != n)
					return 1;
				n = 0;
			}
		}
		done += k;
	}
	if (fwrite(out, 1, n, stdout) != n || fflush(stdout))
		return 1;
	free(cdf);
	free(ids);
	free(quality);
	free(batch);
	return 0;
}
