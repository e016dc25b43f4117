// SPDX-License-Identifier: MIT
/* bench_tth.c - hash files exactly as the share does (hash_file_fd: 1 MiB
 * reads, TTH through librhash, block hashes kept) and print the time, so
 * bench_peer.py can set it beside `rhash --tth` on the same files. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base32.h"
#include "hashing.h"

int
main(int argc, char **argv)
{
	tiger_init_library();
	for (int i = 1; i < argc; i++) {
		struct timespec a, b;
		uint8_t root[TIGER_BYTES];
		char text[TIGER_BASE32_LEN + 1];
		struct stat st;
		double s;
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fstat(fd, &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &a);
		if (hash_file_fd(fd, (uint64_t)st.st_size, root, NULL, NULL) !=
		    0) {
			fprintf(stderr, "%s: hashing failed\n", argv[i]);
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		close(fd);
		s = (double)(b.tv_sec - a.tv_sec) +
		    (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		base32_encode(root, sizeof(root), text, sizeof(text));
		printf("%s %lld %.6f %s\n", argv[i], (long long)st.st_size, s,
		       text);
	}
	return 0;
}
