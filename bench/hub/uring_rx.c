// SPDX-License-Identifier: MIT
/* uring_rx.c - multishot receives over a provided buffer ring (see
 * uring_rx.h). */
#include "uring_rx.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define URING_RX_NBUFS   4096 /* a power of two */
#define URING_RX_BUFSZ   8192
#define URING_RX_ENTRIES 1024
#define URING_RX_CQ      16384
#define URING_RX_BGID    7

/* user_data: kind in the top 8 bits, the tag's generation in the next 24,
 * the tag in the low 32. */
enum { RX_RECV = 1, RX_POLLOUT = 2, RX_CANCEL = 3 };

static uint64_t
rx_data(struct uring_rx *u, uint32_t kind, uint32_t tag)
{
	return (uint64_t)kind << 56 |
	       (uint64_t)(u->tags[tag].gen & 0xffffff) << 32 | tag;
}

/* Is d about the socket armed under its tag now? */
static int
rx_current(const struct uring_rx *u, uint64_t d)
{
	uint32_t tag = (uint32_t)d;

	return tag < u->ntags && u->tags[tag].fd >= 0 &&
	       ((d >> 32) & 0xffffff) == (u->tags[tag].gen & 0xffffff);
}

int
uring_rx_init(struct uring_rx *u, uint32_t ntags)
{
	static const unsigned setups[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
	};
	struct io_uring_buf_reg reg = { 0 };
	size_t ring_bytes = URING_RX_NBUFS * sizeof(struct io_uring_buf);
	int r = -EINVAL;

	memset(u, 0, sizeof(*u));
	u->nbufs = URING_RX_NBUFS;
	u->bufsz = URING_RX_BUFSZ;
	u->ntags = ntags;
	for (size_t i = 0; i < sizeof(setups) / sizeof(setups[0]); i++) {
		struct io_uring_params p = { .flags = setups[i] |
			                              IORING_SETUP_CQSIZE,
			                     .cq_entries = URING_RX_CQ };

		r = io_uring_queue_init_params(URING_RX_ENTRIES, &u->ring, &p);
		if (r != -EINVAL)
			break;
	}
	if (r < 0)
		return r;
	u->tags = calloc(ntags ? ntags : 1, sizeof(*u->tags));
	u->bufs = malloc((size_t)u->nbufs * u->bufsz);
	u->br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE,
	             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (u->br == MAP_FAILED)
		u->br = NULL;
	if (u->tags == NULL || u->bufs == NULL || u->br == NULL) {
		uring_rx_fini(u);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < ntags; i++)
		u->tags[i].fd = -1;
	io_uring_buf_ring_init(u->br);
	reg.ring_addr = (unsigned long)u->br;
	reg.ring_entries = u->nbufs;
	reg.bgid = URING_RX_BGID;
	r = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (r < 0) {
		uring_rx_fini(u);
		return r;
	}
	for (unsigned i = 0; i < u->nbufs; i++)
		io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * u->bufsz,
		                      u->bufsz, (unsigned short)i,
		                      io_uring_buf_ring_mask(u->nbufs), (int)i);
	io_uring_buf_ring_advance(u->br, (int)u->nbufs);
	return 0;
}

void
uring_rx_fini(struct uring_rx *u)
{
	if (u->ring.ring_fd > 0)
		io_uring_queue_exit(&u->ring);
	if (u->br != NULL)
		munmap(u->br, u->nbufs * sizeof(struct io_uring_buf));
	free(u->bufs);
	free(u->tags);
	memset(u, 0, sizeof(*u));
}

/* A free submission entry, submitting the queue to make room if full. */
static struct io_uring_sqe *
rx_sqe(struct uring_rx *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (sqe == NULL && io_uring_submit(&u->ring) >= 0)
		sqe = io_uring_get_sqe(&u->ring);
	return sqe;
}

int
uring_rx_arm(struct uring_rx *u, uint32_t tag, int fd)
{
	struct io_uring_sqe *sqe;

	if (tag >= u->ntags)
		return -EINVAL;
	sqe = rx_sqe(u);
	if (sqe == NULL)
		return -EBUSY;
	if (u->tags[tag].fd != fd)
		u->tags[tag].gen++; /* a new socket under this tag */
	u->tags[tag].fd = fd;
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = URING_RX_BGID;
	io_uring_sqe_set_data64(sqe, rx_data(u, RX_RECV, tag));
	return 0;
}

int
uring_rx_cancel(struct uring_rx *u, uint32_t tag)
{
	struct io_uring_sqe *sqe;

	if (tag >= u->ntags || u->tags[tag].fd < 0)
		return 0;
	sqe = rx_sqe(u);
	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, rx_data(u, RX_RECV, tag), 0);
	io_uring_sqe_set_data64(sqe, rx_data(u, RX_CANCEL, tag));
	u->tags[tag].fd = -1;
	u->tags[tag].gen++;
	/* submitted now: the socket closes when its receive lets go */
	return io_uring_submit(&u->ring) < 0 ? -EIO : 0;
}

int
uring_rx_poll_out(struct uring_rx *u, uint32_t tag, int fd)
{
	struct io_uring_sqe *sqe = rx_sqe(u);

	if (sqe == NULL)
		return -EBUSY;
	if (tag >= u->ntags)
		return -EINVAL;
	io_uring_prep_poll_add(sqe, fd, POLLOUT);
	io_uring_sqe_set_data64(sqe, rx_data(u, RX_POLLOUT, tag));
	return 0;
}

/* One receive completion: hand its bytes over, give the buffer back, and
 * re-arm a receive the kernel ended without the stream ending. */
static void
rx_recv(struct uring_rx *u, struct io_uring_cqe *cqe, uring_rx_data_fn *fn,
        void *arg, int *returned)
{
	uint64_t d = io_uring_cqe_get_data64(cqe);
	uint32_t tag = (uint32_t)d;
	int more = (cqe->flags & IORING_CQE_F_MORE) != 0;

	if (cqe->res > 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		char *buf = u->bufs + (size_t)bid * u->bufsz;

		/* bytes of a socket given up on are dropped, but the buffer
		 * always goes back */
		if (rx_current(u, d))
			fn(arg, tag, buf, cqe->res, 0);
		io_uring_buf_ring_add(u->br, buf, u->bufsz, (unsigned short)bid,
		                      io_uring_buf_ring_mask(u->nbufs),
		                      (*returned)++);
	}
	if (more || !rx_current(u, d))
		return; /* still armed, or cancelled (fn may have) */
	if (cqe->res > 0 || cqe->res == -ENOBUFS || cqe->res == -EINTR) {
		if (uring_rx_arm(u, tag, u->tags[tag].fd) == 0)
			return;
	}
	u->tags[tag].fd = -1;
	fn(arg, tag, NULL, cqe->res > 0 ? -EBUSY : cqe->res, 0);
}

/* Hand every completion there is to fn; how many, or a negative errno. */
static int
rx_drain(struct uring_rx *u, uring_rx_data_fn *fn, void *arg)
{
	int handed = 0;

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int returned = 0, r;

		io_uring_for_each_cqe(&u->ring, head, cqe)
		{
			uint64_t d = io_uring_cqe_get_data64(cqe);

			if (d >> 56 == RX_RECV)
				rx_recv(u, cqe, fn, arg, &returned);
			else if (d >> 56 == RX_POLLOUT && rx_current(u, d))
				fn(arg, (uint32_t)d, NULL, 0, 1);
			seen++;
		}
		if (returned)
			io_uring_buf_ring_advance(u->br, returned);
		io_uring_cq_advance(&u->ring, seen);
		handed += (int)seen;
		if (seen == 0 || !io_uring_cq_has_overflow(&u->ring))
			return handed;
		/* the kernel held completions back: fetch them */
		r = io_uring_get_events(&u->ring);
		if (r < 0)
			return r;
	}
}

/* Submit, then wait up to ns for a completion (0 ns: do not wait). */
static int
rx_enter(struct uring_rx *u, long long ns)
{
	struct __kernel_timespec ts = { ns / 1000000000LL, ns % 1000000000LL };
	struct io_uring_cqe *cqe;
	int r;

	if (ns <= 0) /* submit and run deferred task work, without waiting */
		return io_uring_submit_and_get_events(&u->ring);
	r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
	return r == -ETIME || r == -EINTR ? 0 : r;
}

int
uring_rx_wait(struct uring_rx *u, long long timeout_ns, uring_rx_data_fn *fn,
              void *arg)
{
	int r = rx_enter(u, timeout_ns);

	return r < 0 ? r : rx_drain(u, fn, arg);
}
