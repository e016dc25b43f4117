// SPDX-License-Identifier: MIT
/* transport.c - the registry: one line per mechanism.  Adding a transport
 * adds a line here and its file in lib/transport/. */
#include <pthread.h>
#include <string.h>

#include "transport.h"

extern const struct ipk_transport transport_pipe;
extern const struct ipk_transport transport_fifo;
extern const struct ipk_transport transport_sysvmq;
extern const struct ipk_transport transport_posixmq;
extern const struct ipk_transport transport_shm;
extern const struct ipk_transport transport_file;
extern const struct ipk_transport transport_unix;
extern const struct ipk_transport transport_unix_seqpacket;
extern const struct ipk_transport transport_tcp;
extern const struct ipk_transport transport_udp;

const struct ipk_transport *const transports[] = {
	&transport_pipe,
	&transport_fifo,
	&transport_sysvmq,
	&transport_posixmq,
	&transport_shm,
	&transport_file,
	&transport_unix,
	&transport_unix_seqpacket,
	&transport_tcp,
	&transport_udp,
	NULL,
};

const struct ipk_transport *
transport_find(const char *scheme, size_t len)
{
	for (const struct ipk_transport *const *t = transports; *t; t++)
		if (strlen((*t)->scheme) == len &&
		    memcmp((*t)->scheme, scheme, len) == 0)
			return *t;
	return NULL;
}

static const char *transport_names[sizeof(transports) / sizeof(transports[0])];

static void
transport_fill_names(void)
{
	for (size_t i = 0; transports[i]; i++)
		transport_names[i] = transports[i]->scheme;
}

const char *const *
ipk_scheme_list(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, transport_fill_names);
	return transport_names;
}
