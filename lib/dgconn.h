// SPDX-License-Identifier: MIT
/* dgconn.h - a connection over a socket that keeps message boundaries
 * itself (SOCK_SEQPACKET, SOCK_DGRAM).  One recvmsg() per message: what
 * does not fit the caller's buffer spills, in the same call, into one of
 * ours, where the message waits for a larger buffer (and readyfd.c keeps
 * the pollable fd readable).  Transports whose state begins with struct
 * dgconn use these functions directly as their ops. */
#ifndef IPK_DGCONN_H
#define IPK_DGCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "ipckit.h"

#include "readyfd.h"

struct dgconn {
	int fd;         /* owned: closed by dgconn_close() */
	unsigned hdr;   /* bytes of header before each message: 0 or 1 */
	size_t max_msg; /* the largest message, header excluded */
	int err;        /* sticky: -EPIPE once the peer has closed */
	/* Datagrams from anyone but peer are dropped (peer_len 0: no
	 * filter; the kernel's connection does it). */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	unsigned char *spill; /* owned: max_msg bytes, made when first needed */
	size_t held;          /* a whole message waits in spill: its length */
	bool holding;
	struct readyfd ready;
};

/* dgconn_init - start on socket fd (owned from now on). */
void dgconn_init(struct dgconn *d, int fd, unsigned hdr, size_t max_msg);

ssize_t dgconn_send(struct ipk_chan *ch, const void *msg, size_t len,
                    const struct ipk_msginfo *info, int timeout_ms);
ssize_t dgconn_recv(struct ipk_chan *ch, void *buf, size_t cap,
                    struct ipk_msginfo *info, int timeout_ms);
ssize_t dgconn_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
                         int timeout_ms);
int dgconn_pollfd(struct ipk_chan *ch);
size_t dgconn_max_msg(const struct ipk_chan *ch);
void dgconn_close(struct ipk_chan *ch);

#endif
