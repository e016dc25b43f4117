// SPDX-License-Identifier: MIT
/* inaddr.h - IPv4/IPv6 socket addresses for tcp: and udp:: from the
 * parsed host and port, and back to an address string with the port the
 * kernel chose. */
#ifndef IPK_INADDR_H
#define IPK_INADDR_H

#include <stdbool.h>
#include <sys/socket.h>

#include "addr.h"

/*
 * inaddr_resolve - a->host and a->port (addr_split_hostport() first) as a
 * sockaddr.  Numeric hosts never touch DNS; a name goes through
 * getaddrinfo() (its first answer), which can take as long as the
 * resolver's own timeouts.  IPK_EADDR or -errno with a detail.
 */
int inaddr_resolve(const struct ipk_addr *a, int socktype, bool passive,
                   struct sockaddr_storage *ss, socklen_t *len);

/* inaddr_format - "scheme:1.2.3.4:port" or "scheme:[::1]:port", newly
 * allocated (NULL without memory). */
char *inaddr_format(const char *scheme, const struct sockaddr *sa);

/* inaddr_port - the port of an AF_INET or AF_INET6 address. */
unsigned inaddr_port(const struct sockaddr *sa);

#endif
