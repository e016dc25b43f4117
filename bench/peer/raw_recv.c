// SPDX-License-Identifier: MIT
/* raw_recv.c - the receiving end of bench_peer.py's raw TCP copy: connect
 * to 127.0.0.1:PORT and write everything received to stdout (a file), 1 MiB
 * per recv() and write(), no hashing.  nc does the same 16 KiB at a time
 * with a poll() before each read; this is the plain loop with a buffer as
 * large as our downloader's. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define RAW_BUF (1024 * 1024)

static char buf[RAW_BUF];

static int
write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char *end;
	long port = argc == 2 ? strtol(argv[1], &end, 10) : 0;
	int fd;

	if (argc != 2 || *end != '\0' || port < 1 || port > 65535) {
		fprintf(stderr, "usage: raw_recv PORT > FILE\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("raw_recv: connect");
		return 1;
	}
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("raw_recv: recv");
			return 1;
		}
		if (n == 0)
			break;
		if (write_all(buf, (size_t)n) != 0) {
			perror("raw_recv: write");
			return 1;
		}
	}
	close(fd);
	return 0;
}
