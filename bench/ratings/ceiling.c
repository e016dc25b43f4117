// SPDX-License-Identifier: MIT
/* ceiling.c - the page-cache ceiling for `ipckit ratings`: N processes each
 * read() their half (third...) of a cached file through a 256 KiB buffer and
 * load every byte of it once (an OR over 8-byte words), which is the least
 * any parser of that file must do.
 *
 *   ratings-ceiling FILE [PROCS]    prints the OR (so no work is skipped) */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CEIL_BUF (256u * 1024u)

static uint64_t
ceiling_span(int fd, uint64_t off, uint64_t end)
{
	static uint64_t buf[CEIL_BUF / 8];
	uint64_t acc = 0;

	while (off < end) {
		size_t want =
		        end - off < CEIL_BUF ? (size_t)(end - off) : CEIL_BUF;
		ssize_t n = pread(fd, buf, want, (off_t)off);

		if (n <= 0)
			exit(1);
		memset((char *)buf + n, 0, (size_t)(-n & 7));
		for (size_t i = 0; i < ((size_t)n + 7) / 8; i++)
			acc |= buf[i];
		off += (uint64_t)n;
	}
	return acc;
}

int
main(int argc, char **argv)
{
	struct stat st;
	int fd, procs = argc > 2 ? atoi(argv[2]) : 2;
	uint64_t acc = 0;

	if (argc < 2 || procs < 1 || (fd = open(argv[1], O_RDONLY)) == -1 ||
	    fstat(fd, &st) == -1) {
		fprintf(stderr, "usage: ratings-ceiling FILE [PROCS]\n");
		return 2;
	}
	for (int p = 1; p < procs; p++)
		if (fork() == 0) {
			uint64_t s = (uint64_t)st.st_size * (uint64_t)p /
			             (uint64_t)procs;
			uint64_t e = (uint64_t)st.st_size * (uint64_t)(p + 1) /
			             (uint64_t)procs;

			_exit(ceiling_span(fd, s, e) == 0);
		}
	acc = ceiling_span(fd, 0, (uint64_t)st.st_size / (uint64_t)procs);
	for (int p = 1; p < procs; p++) {
		int status;

		if (wait(&status) == -1 || !WIFEXITED(status))
			return 1;
	}
	printf("%016llx\n", (unsigned long long)acc);
	return 0;
}
