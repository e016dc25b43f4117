// SPDX-License-Identifier: MIT
/* sconn.h - a framed connection over a byte stream: one descriptor (a
 * socket) or two (a pair of pipes), with frame.c's buffering and
 * coalescing and readyfd.c's pollable fd.  Transports whose private state
 * begins with struct sconn use these functions directly as their ops. */
#ifndef IPK_SCONN_H
#define IPK_SCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ipckit.h"

#include "fdio.h"
#include "frame.h"
#include "readyfd.h"

struct ipk_msginfo;

struct sconn {
	struct fdio in, out; /* in.fd == out.fd for a socket */
	struct frame_reader rd;
	struct frame_writer wr;
	struct readyfd ready;
	/* in and out reach the same peer, so the end of in means sends can
	 * never arrive either (false for stdin/stdout). */
	bool one_peer;
	unsigned gen; /* forkgen_current() when the held writes were made */
};

/* sconn_init - start on rfd and wfd (borrowed until sconn_close): 0 or
 * -errno. */
int sconn_init(struct sconn *c, int rfd, int wfd, bool one_peer);

/* sconn_start - sconn_init on a connected socket fd, which is closed if
 * that fails: 0 or -errno. */
int sconn_start(struct sconn *c, int fd);

/* sconn_fini - free buffers and the pollable fd; the fds stay open. */
void sconn_fini(struct sconn *c);

/* Ops for a channel whose state begins with struct sconn. */
ssize_t sconn_send(struct ipk_chan *ch, const void *msg, size_t len,
                   const struct ipk_msginfo *info, int timeout_ms);
ssize_t sconn_recv(struct ipk_chan *ch, void *buf, size_t cap,
                   struct ipk_msginfo *info, int timeout_ms);
ssize_t sconn_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
                        int timeout_ms);
int sconn_flush(struct ipk_chan *ch, int timeout_ms);
int sconn_pollfd(struct ipk_chan *ch);
size_t sconn_max_msg(const struct ipk_chan *ch);
/* sconn_close - sconn_fini, then close in.fd and out.fd. */
void sconn_close(struct ipk_chan *ch);

#endif
