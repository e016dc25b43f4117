// SPDX-License-Identifier: MIT
/* hammer.c - N sender and M receiver processes hammer one queue with
 * checksummed messages of random sizes; every message must arrive exactly
 * once and whole.  `hammer CASE [SENDERS RECEIVERS COUNT]`, run for every
 * queue mechanism.  Prints TAP. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "harness.h"
#include "ipckit.h"

struct hammer_case {
	const char *name;
	const char *form; /* %P path, %N name, %K key */
};

static const struct hammer_case cases[] = {
	{ "fifo", "fifo:%P" },        { "sysvmq", "sysvmq:%K" },
	{ "posixmq", "posixmq:/%N" }, { "shm", "shm:%N" },
	{ "file", "file:%P" },
};

struct hdr {
	uint32_t magic;
	uint16_t sender;
	uint16_t stop; /* 1: "receiver, you are done" */
	uint32_t seq;
	uint32_t len;
	uint32_t sum;
};

#define MAGIC 0x48414d52u

/* Shared between all processes: one counter per (sender, seq). */
struct board {
	atomic_uint corrupt;
	atomic_uint errors;
	atomic_uint counts[];
};

static char address[512];
static unsigned n_senders = 4, n_receivers = 3, n_count = 2000;
static size_t max_len;

static uint32_t
fnv1a(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static const size_t edges[] = { 4079, 4080, 4081, 4084, 4085,
	                        4095, 4096, 4097, 8168, 8169 };

static int
sender(unsigned id)
{
	struct ipk_chan *ch;
	unsigned char *buf = malloc(max_len);
	uint32_t r = 0;

	if (buf == NULL || ipk_open(&ch, address, IPK_NOCREATE, 5000) != 0)
		return 10;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = id * 2654435761u;
	for (uint32_t seq = 0; seq < n_count; seq++) {
		struct hdr h = { MAGIC, (uint16_t)id, 0, seq, 0, 0 };
		size_t len;

		struct ipk_msginfo mi = { 0 };

		r = r * 1103515245u + 12345u;
		len = sizeof(h) + (r >> 8) % (max_len - sizeof(h) + 1);
		/* One in 8 on an edge of a FIFO packet (a page, with its
		 * 12-byte header and a 4-byte length in a batch). */
		if ((r >> 4) % 8 == 0)
			len = edges[(r >> 12) %
			            (sizeof(edges) / sizeof(edges[0]))];
		if (len > max_len)
			len = max_len;
		/* Half held back to be coalesced (IPK_MORE). */
		if ((r >> 20) & 1)
			mi.flags = IPK_MORE;
		for (size_t i = sizeof(h); i < len; i++)
			buf[i] = (unsigned char)(r + i * 131);
		h.len = (uint32_t)len;
		h.sum = fnv1a(buf + sizeof(h), len - sizeof(h));
		memcpy(buf, &h, sizeof(h));
		if (ipk_sendx(ch, buf, len, &mi, 30000) != (ssize_t)len) {
			fprintf(stderr, "# sender %u seq %u: %s\n", id, seq,
			        ipk_errdetail());
			return 11;
		}
	}
	if (ipk_flush(ch, 30000) != 0) {
		fprintf(stderr, "# sender %u flush: %s\n", id, ipk_errdetail());
		return 11;
	}
	ipk_close(ch);
	free(buf);
	return 0;
}

static int
receiver(struct board *b)
{
	struct ipk_chan *ch;
	unsigned char *buf = malloc(max_len);

	if (buf == NULL || ipk_open(&ch, address, IPK_NOCREATE, 5000) != 0)
		return 10;
	for (;;) {
		ssize_t n = ipk_recv(ch, buf, max_len, 30000);
		struct hdr h;

		if (n < (ssize_t)sizeof(h)) {
			atomic_fetch_add(&b->errors, 1);
			fprintf(stderr, "# receiver: %s\n",
			        n < 0 ? ipk_strerror((int)n) : "short");
			return 12;
		}
		memcpy(&h, buf, sizeof(h));
		if (h.magic != MAGIC || h.len != (size_t)n ||
		    h.sender >= n_senders + 1 || h.seq >= n_count ||
		    h.sum != fnv1a(buf + sizeof(h), (size_t)n - sizeof(h))) {
			atomic_fetch_add(&b->corrupt, 1);
			continue;
		}
		if (h.stop)
			break;
		atomic_fetch_add(&b->counts[h.sender * n_count + h.seq], 1);
	}
	ipk_close(ch);
	free(buf);
	return 0;
}

static int
sender_cb(void *arg)
{
	return sender((unsigned)(uintptr_t)arg);
}

static int
receiver_cb(void *arg)
{
	return receiver(arg);
}

static void
make_address(const struct hammer_case *c)
{
	char piece[300];
	const char *pct = strchr(c->form, '%');

	if (pct[1] == 'P')
		harness_path(piece, sizeof(piece), "hammer");
	else if (pct[1] == 'N')
		harness_name(piece, sizeof(piece), "hammer");
	else
		snprintf(piece, sizeof(piece), "%ld", harness_key());
	snprintf(address, sizeof(address), "%.*s%s", (int)(pct - c->form),
	         c->form, piece);
}

int
main(int argc, char **argv)
{
	const struct hammer_case *c = NULL;
	struct ipk_chan *owner;
	struct board *b;
	size_t board_size;
	pid_t pids[64];
	unsigned n_pids = 0, missing = 0, dup = 0;
	int failed = 0, err;

	if (argc != 2 && argc != 5) {
		fprintf(stderr, "usage: hammer CASE [SENDERS RECEIVERS N]\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(cases[i].name, argv[1]) == 0)
			c = &cases[i];
	if (c == NULL)
		return 2;
	if (argc == 5) {
		n_senders = (unsigned)atoi(argv[2]);
		n_receivers = (unsigned)atoi(argv[3]);
		n_count = (unsigned)atoi(argv[4]);
	}
	if (n_senders + n_receivers > 60 || n_senders == 0 ||
	    n_receivers == 0 || n_count == 0)
		return 2;
	printf("1..1\n");
	make_address(c);
	err = ipk_open(&owner, address, 0, 1000);
	if (err) {
		printf("not ok 1 - open %s: %s (%s)\n", address,
		       ipk_strerror(err), ipk_errdetail());
		return 1;
	}
	max_len = ipk_max_msg(owner);
	if (max_len > 8192)
		max_len = 8192;
	board_size =
	        sizeof(*b) + sizeof(atomic_uint) * (n_senders + 1) * n_count;
	b = mmap(NULL, board_size, PROT_READ | PROT_WRITE,
	         MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return 1;
	for (unsigned i = 0; i < n_receivers; i++)
		pids[n_pids++] = fork_child(receiver_cb, b);
	for (unsigned i = 0; i < n_senders; i++)
		pids[n_pids++] = fork_child(sender_cb, (void *)(uintptr_t)i);
	for (unsigned i = n_receivers; i < n_pids; i++)
		if (wait_child(pids[i], 120000) != 0) {
			printf("# sender %u failed\n", i - n_receivers);
			failed = 1;
		}
	/* Every data message was queued before these: one stop each. */
	for (unsigned i = 0; i < n_receivers; i++) {
		struct hdr h = { MAGIC, (uint16_t)n_senders, 1,
			         i,     sizeof(h),           fnv1a(NULL, 0) };

		if (ipk_send(owner, &h, sizeof(h), 30000) != sizeof(h))
			failed = 1;
	}
	for (unsigned i = 0; i < n_receivers; i++)
		if (wait_child(pids[i], 120000) != 0) {
			printf("# receiver %u failed\n", i);
			failed = 1;
		}
	for (unsigned s = 0; s < n_senders; s++)
		for (unsigned q = 0; q < n_count; q++) {
			unsigned k = atomic_load(&b->counts[s * n_count + q]);

			missing += k == 0;
			dup += k > 1;
		}
	printf("# %s: %u senders x %u messages, %u receivers: %u missing, "
	       "%u duplicated, %u corrupt\n",
	       address, n_senders, n_count, n_receivers, missing, dup,
	       atomic_load(&b->corrupt));
	if (missing || dup || atomic_load(&b->corrupt) || failed)
		printf("not ok 1 - %s exactly once\n", argv[1]);
	else
		printf("ok 1 - %s exactly once\n", argv[1]);
	failed |= missing || dup || atomic_load(&b->corrupt);
	ipk_close(owner);
	ipk_unlink(address);
	munmap(b, board_size);
	return failed;
}
