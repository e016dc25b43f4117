// SPDX-License-Identifier: MIT
/* stream_peer.c - the far end that test_streams starts with exec():
 * `stream_peer ADDRESS [FD...]` opens ADDRESS (such as the "pipe:R,W" that
 * ipk_inherit() wrote), echoes each message back with "echo:" before it
 * until the peer closes, and exits 0.  Each FD given must NOT be open here:
 * the parent's other descriptors stay close-on-exec. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipckit.h"

int
main(int argc, char **argv)
{
	struct ipk_chan *ch;
	char buf[256];
	int err;

	if (argc < 2)
		return 2;
	for (int i = 2; i < argc; i++)
		if (fcntl(atoi(argv[i]), F_GETFD) != -1) {
			fprintf(stderr, "stream_peer: fd %s leaked\n", argv[i]);
			return 4;
		}
	err = ipk_open(&ch, argv[1], 0, 5000);
	if (err) {
		fprintf(stderr, "stream_peer: %s: %s\n", argv[1],
		        ipk_errdetail());
		return 3;
	}
	for (;;) {
		ssize_t n = ipk_recv(ch, buf + 5, sizeof(buf) - 5, 10000);

		if (n == -EPIPE)
			break;
		if (n < 0)
			return 5;
		memcpy(buf, "echo:", 5);
		if (ipk_send(ch, buf, (size_t)n + 5, 10000) != n + 5)
			return 6;
	}
	ipk_close(ch);
	return 0;
}
