// SPDX-License-Identifier: MIT
/* parsetime.c - the parser alone: CPU time per row of parse_block() over
 * a file read into memory once, fed through a 256 KiB buffer as a worker
 * feeds it (the copy into the buffer is timed apart and left out).  The
 * fastest of REPS passes; the totals' checksum, so paths can be compared.
 *
 *   ratings-parsetime FILE [MAX_BYTES [REPS [user]]]
 *
 * IPCKIT_RATINGS_NO_AVX512 / IPCKIT_RATINGS_NO_AVX2 pick the path. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "parse.h"
#include "table.h"

#define PT_BUF (256u * 1024u)

static double
pt_cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
	struct stat st;
	uint64_t n, max = argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
	int fd, reps = argc > 3 ? atoi(argv[3]) : 10;
	bool by_user = argc > 4 && strcmp(argv[4], "user") == 0;
	char *all, *mem, *buf;
	struct parse_format f;
	double best = 1e9;
	uint64_t sum = 0, rows = 0;

	if (argc < 2 || reps < 1 || (fd = open(argv[1], O_RDONLY)) == -1 ||
	    fstat(fd, &st) == -1) {
		fprintf(stderr, "usage: ratings-parsetime FILE [MAX_BYTES "
		                "[REPS [user]]]\n");
		return 2;
	}
	n = (uint64_t)st.st_size;
	if (max && max < n)
		n = max;
	all = malloc(n + 1);
	mem = malloc(PARSE_PAD_BEFORE + PT_BUF + 1 + PARSE_PAD_AFTER);
	if (all == NULL || mem == NULL)
		return 1;
	for (uint64_t got = 0; got < n;) {
		ssize_t r = pread(fd, all + got, n - got, (off_t)got);

		if (r <= 0)
			return 1;
		got += (uint64_t)r;
	}
	while (n > 0 && all[n - 1] != '\n')
		n--;
	if (parse_detect(all, n, true, &f) != 0)
		return 1;
	memset(mem, '0', PARSE_PAD_BEFORE);
	buf = mem + PARSE_PAD_BEFORE;
	for (int rep = 0; rep < reps; rep++) {
		struct table t;
		struct parse_ctx c = { .sep = f.sep,
			               .by_user = by_user,
			               .table = &t };
		struct table_rec rec;
		uint64_t cur = 0;
		double copy = 0, t0 = pt_cpu(), t1;

		table_init(&t);
		for (uint64_t off = f.data_off; off < n;) {
			uint64_t len = n - off < PT_BUF ? n - off : PT_BUF;
			const char *nl = memrchr(all + off, '\n', len);
			double a;

			if (nl == NULL)
				return 1;
			len = (uint64_t)(nl + 1 - (all + off));
			a = pt_cpu();
			memcpy(buf, all + off, len);
			copy += pt_cpu() - a;
			parse_block(&c, buf, buf + len);
			off += len;
		}
		t1 = pt_cpu() - t0 - copy;
		if (t1 < best)
			best = t1;
		rows = c.lines;
		sum = 0;
		table_seal(&t);
		while (table_next(&t, &cur, &rec))
			sum = sum * 31 + rec.id * 7 + rec.count * 13 + rec.sum2;
		table_fini(&t);
	}
	printf("%llu rows, path %d: %.2f ns/row (fastest of %d), totals "
	       "%016llx\n",
	       (unsigned long long)rows, parse_fast_path(),
	       best / (double)rows * 1e9, reps, (unsigned long long)sum);
	free(mem);
	free(all);
	close(fd);
	return 0;
}
