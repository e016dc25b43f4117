// SPDX-License-Identifier: MIT
/* sock.h - socket chores the connection transports share. */
#ifndef IPK_SOCK_H
#define IPK_SOCK_H

#include <stdint.h>

/* sock_accept - the next connection on non-blocking listener lfd, within
 * deadline (wait.h): a blocking, close-on-exec socket, or -errno
 * (-ETIMEDOUT). */
int sock_accept(int lfd, int64_t deadline);

/* sock_blocking - clear O_NONBLOCK (set for a bounded connect): each call
 * then chooses to wait or not with MSG_DONTWAIT.  0 or -errno. */
int sock_blocking(int fd);

#endif
