// SPDX-License-Identifier: MIT
/* inaddr.c - host:port to sockaddr and back, numeric first. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipckit.h"

#include "inaddr.h"
#include "transport.h"

int
inaddr_resolve(const struct ipk_addr *a, int socktype, bool passive,
               struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct addrinfo hints = { .ai_socktype = socktype }, *res;
	int rc;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a->host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(a->port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, a->host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(a->port);
		*len = sizeof(*in6);
		return 0;
	}
	hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
	rc = getaddrinfo(a->host, NULL, &hints, &res);
	if (rc != 0)
		return errdetail(rc == EAI_NONAME ? IPK_EADDR : -EHOSTUNREACH,
		                 "%s:%s: cannot resolve '%s': %s", a->scheme,
		                 a->rest, a->host, gai_strerror(rc));
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return -EAFNOSUPPORT;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		in4->sin_port = htons(a->port);
	else if (ss->ss_family == AF_INET6)
		in6->sin6_port = htons(a->port);
	else
		return -EAFNOSUPPORT;
	return 0;
}

unsigned
inaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

char *
inaddr_format(const char *scheme, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];
	char *out;
	int n;

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		          host, sizeof(host));
		n = asprintf(&out, "%s:%s:%u", scheme, host, inaddr_port(sa));
	} else {
		inet_ntop(AF_INET6,
		          &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
		          sizeof(host));
		n = asprintf(&out, "%s:[%s]:%u", scheme, host, inaddr_port(sa));
	}
	return n < 0 ? NULL : out;
}
