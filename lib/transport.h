// SPDX-License-Identifier: MIT
/* transport.h - the contract every mechanism implements, member by member,
 * and the registry.  lib/chan.c checks arguments and calls these; it never
 * knows a scheme by name. */
#ifndef IPK_TRANSPORT_H
#define IPK_TRANSPORT_H

#include <stdalign.h>
#include <stddef.h>
#include <sys/types.h>

#include "ipckit.h"

#include "addr.h"

enum chan_role {
	CHAN_QUEUE,    /* a user of a named mailbox */
	CHAN_CONN,     /* one end of a connection */
	CHAN_LISTENER, /* hands out CHAN_CONN channels */
};

struct ipk_chan {
	const struct ipk_transport *tp; /* borrowed, static */
	enum chan_role role;
	unsigned open_flags; /* IPK_NOCREATE... as given */
	char *address;       /* owned: canonical address */
	alignas(max_align_t) unsigned char state[]; /* tp->state_size bytes */
};

/* The private state after the public part, zeroed by chan.c. */
static inline void *
ipk_chan_state(struct ipk_chan *ch)
{
	return ch->state;
}

static inline const void *
ipk_chan_cstate(const struct ipk_chan *ch)
{
	return ch->state;
}

struct ipk_transport {
	const char *scheme;  /* address prefix, without ':' */
	const char *summary; /* one line for --help and docs */
	unsigned caps;       /* IPK_CAP_* every channel of it has */
	size_t state_size;   /* zeroed private bytes after struct ipk_chan */
	/* Options this scheme reads besides "mode", NULL-terminated. */
	const char *const *options;

	/* Open a queue or connect.  0, or -errno with nothing left open
	 * (close() is not called).  May set ch->address (owned) to a canonical
	 * form; chan.c fills it from the text otherwise.  Waits at most
	 * timeout_ms. */
	int (*open)(struct ipk_chan *ch, struct ipk_addr *addr, unsigned flags,
	            int timeout_ms);
	/* Connection mechanisms only, else NULL: bind and listen. */
	int (*listen)(struct ipk_chan *ch, struct ipk_addr *addr,
	              unsigned flags);
	/* Fill the zeroed channel conn (same transport) with the next
	 * connection.  0 or -errno; nothing left open on failure. */
	int (*accept)(struct ipk_chan *l, struct ipk_chan *conn,
	              int timeout_ms);
	/* Optional: fill two zeroed channels with the ends of a connected,
	 * unnamed pair; ipk_pair() uses the first transport that has it.  0 or
	 * -errno with nothing left open. */
	int (*pair)(struct ipk_chan *a, struct ipk_chan *b);
	/* len or -errno, all or nothing; timeout_ms -1 waits, 0 is -EAGAIN.
	 * info is never NULL (chan.c passes zeros).  len <= max_msg. */
	ssize_t (*send)(struct ipk_chan *ch, const void *msg, size_t len,
	                const struct ipk_msginfo *info, int timeout_ms);
	/* Length of one message; -EMSGSIZE (message kept) if cap too small.
	 * info is never NULL: type is the selector in, type/prio out. */
	ssize_t (*recv)(struct ipk_chan *ch, void *buf, size_t cap,
	                struct ipk_msginfo *info, int timeout_ms);
	/* Size of the next message without consuming it. */
	ssize_t (*peek_size)(struct ipk_chan *ch,
	                     const struct ipk_msginfo *info, int timeout_ms);
	/* Push out IPK_MORE messages; NULL when the transport holds none. */
	int (*flush)(struct ipk_chan *ch, int timeout_ms);
	int (*pollfd)(struct ipk_chan *ch); /* an fd, or -ENOTSUP */
	size_t (*max_msg)(const struct ipk_chan *ch);
	/* Optional: name the limit behind max_msg for the error a larger
	 * send gets, as "kernel.msgmax = 8192" (chan.c writes "message of N
	 * bytes is above <this>").  NULL: chan.c names the channel's maximum.
	 */
	void (*max_msg_limit)(const struct ipk_chan *ch, char *buf, size_t cap);
	/* Make the channel's fds inheritable and write an address; NULL if
	 * the mechanism cannot be passed through exec(). */
	int (*inherit)(struct ipk_chan *ch, char *addr, size_t cap);
	/* Release everything open() or accept() made.  Never removes names. */
	void (*close)(struct ipk_chan *ch);
	/* Named mechanisms only, else NULL: `ipckit ls` and `ipckit rm`. */
	int (*list)(ipk_list_fn *fn, void *arg);
	int (*unlink)(struct ipk_addr *addr);
};

/* The registry: every transport, NULL-terminated (lib/transport.c). */
extern const struct ipk_transport *const transports[];

/* transport_find - the transport for a scheme name, or NULL. */
const struct ipk_transport *transport_find(const char *scheme, size_t len);

/* Set the thread's ipk_errdetail() text, printf-style; returns err so that
 * `return errdetail(-EMSGSIZE, "...")` reads as one statement. */
int errdetail(int err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void errdetail_clear(void);

#endif
