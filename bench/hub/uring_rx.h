// SPDX-License-Identifier: MIT
/* uring_rx.h - the receiving side of bench/hub/hubload and bench/hub/fanout
 * on io_uring: one multishot receive per socket (IORING_OP_RECV with
 * IORING_RECV_MULTISHOT) filling buffers the kernel picks from a provided
 * buffer ring, so a wake-up that brings a thousand sockets' data costs one
 * io_uring_enter instead of one epoll_wait and a thousand recv calls.  A
 * load generator that reads that way takes less of the machine's time from
 * the hub it measures (docs/hub.md, "Benchmark").
 *
 * Sockets are named by a caller's tag.  A receive the kernel ends (out of
 * buffers, or a signal) is re-armed; the end of a stream or an error is
 * reported once and the socket is not read again.  Needs Linux 6.0 (the
 * multishot receive); uring_rx_init says so with -EINVAL before it. */
#ifndef BENCH_HUB_URING_RX_H
#define BENCH_HUB_URING_RX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <liburing.h>

struct uring_rx {
	struct io_uring ring;
	struct io_uring_buf_ring *br; /* owned: the provided buffer ring */
	char *bufs;                   /* owned: nbufs x bufsz bytes */
	unsigned nbufs, bufsz;
	struct uring_rx_tag {
		int fd;       /* -1 when not armed */
		uint32_t gen; /* arms so far: a stale completion is not fd's */
	} * tags;             /* owned: ntags */
	uint32_t ntags;
};

/* uring_rx_init - room for tags 0..ntags-1; 0 or a negative errno
 * (-EINVAL or -ENOSYS: this kernel cannot, read with epoll instead). */
int uring_rx_init(struct uring_rx *u, uint32_t ntags);
void uring_rx_fini(struct uring_rx *u);

/* uring_rx_arm - start receiving from fd under tag; queued, submitted by
 * the next uring_rx_wait.  0 or a negative errno. */
int uring_rx_arm(struct uring_rx *u, uint32_t tag, int fd);

/* uring_rx_cancel - stop receiving under tag (before closing its socket:
 * a pending receive holds the socket open).  Completions still in flight
 * for it are dropped.  0 or a negative errno. */
int uring_rx_cancel(struct uring_rx *u, uint32_t tag);

/* uring_rx_poll_out - ask once for tag's socket to be writable: on_data
 * gets (tag, NULL, 0) then.  0 or a negative errno. */
int uring_rx_poll_out(struct uring_rx *u, uint32_t tag, int fd);

/* uring_rx_data_fn - n > 0 bytes arrived for tag; n == 0: the stream
 * ended; n < 0: a receive failed (-errno).  data is NULL for a writable
 * socket (uring_rx_poll_out) and n is 0 then too, with `writable` set. */
typedef void uring_rx_data_fn(void *arg, uint32_t tag, const char *data,
                              ssize_t n, int writable);

/* uring_rx_wait - submit what is queued, wait up to timeout_ns (0: do not
 * wait) for at least one completion and hand every completion there is to
 * fn.  The number handed, or a negative errno.  (Waiting for a batch of
 * completions at a time in a burst saved nothing measurable: the cost is
 * the receive itself, not the wake-ups.) */
int uring_rx_wait(struct uring_rx *u, long long timeout_ns,
                  uring_rx_data_fn *fn, void *arg);

#endif
