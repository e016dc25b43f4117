// SPDX-License-Identifier: MIT
/* endpoint.h - one address on the command line of send, recv, relay, chat
 * and exec: opened (a queue, a connection, or "listen:ADDR" for a
 * listening end that takes one connection), used with waits a Ctrl-C
 * always ends, and closed with the command's promise kept: a named object
 * the command created goes with it unless it holds messages or someone
 * else uses it, and a FIFO keeps the command until its messages are read
 * (the kernel drops a FIFO's bytes with its last opener). */
#ifndef CLI_ENDPOINT_H
#define CLI_ENDPOINT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "ipckit.h"

#include "opts.h"

#define ENDPOINT_LISTEN    "listen:" /* prefix: listen and accept one */
/* endpoint_close(): do not wait for a FIFO's reader (an error path, or
 * a peer that holds the FIFO open itself). */
#define ENDPOINT_NO_LINGER INT_MIN

struct endpoint {
	const struct cmd *cmd;     /* borrowed: names the command in errors */
	const char *text;          /* borrowed: the address as given */
	const char *address;       /* borrowed: text without "listen:" */
	bool listening;            /* "listen:" was given */
	unsigned caps;             /* IPK_CAP_* of the mechanism */
	struct ipk_chan *ch;       /* owned: the queue or connection */
	struct ipk_chan *listener; /* owned: until a connection is taken */
	bool created;              /* this command made the named object */
	bool own;                  /* ENDPOINT_OWN: removed at close, always */
	bool sent;                 /* at least one message was sent */
	unsigned char *buf;        /* owned: the last message received */
	size_t cap;                /* bytes of buf */
	char detail[512];          /* ipk_errdetail() of the last failure */
};

/* Flags for endpoint_start(). */
enum endpoint_flags {
	ENDPOINT_NOCREATE = 1u << 0, /* a queue must exist already */
	ENDPOINT_EXCL = 1u << 1,     /* a queue must not exist yet */
	/* The command's own machinery (chat's queues): removed at close
	 * whatever it holds and whoever still has it open. */
	ENDPOINT_OWN = 1u << 2,
};

/*
 * endpoint_start - open text (a queue, or connect), or for "listen:ADDR"
 * listen on ADDR.  Waits at most timeout_ms (-1: no bound) for the
 * connection, and never past a Ctrl-C.  Prints the error and returns an
 * exit code (EXIT_OK on success).
 */
int endpoint_start(struct endpoint *ep, const struct cmd *cmd, const char *text,
                   unsigned flags, int timeout_ms);

/* endpoint_accept - for a listening endpoint, take one connection and
 * close the listener; a no-op otherwise.  Prints errors; an exit code. */
int endpoint_accept(struct endpoint *ep, int timeout_ms);

/* endpoint_take - take one connection from the listening endpoint l into
 * conn (a connection endpoint for endpoint_recv/send/close), and keep
 * listening.  Prints errors; an exit code. */
int endpoint_take(struct endpoint *l, struct endpoint *conn, int timeout_ms);

/* endpoint_name - the address to tell others: the listener's with its
 * port filled in, else the channel's.  Borrowed. */
const char *endpoint_name(const struct endpoint *ep);

/*
 * endpoint_recv - the next message, in ep->buf (grown as needed): its
 * length, or -ETIMEDOUT, -EPIPE (the peer is gone), -ECANCELED (a stop),
 * -errno / IPK_E* (detail in ep->detail).  info: type selector in, type
 * and priority out; may be NULL.
 */
ssize_t endpoint_recv(struct endpoint *ep, struct ipk_msginfo *info,
                      int timeout_ms);

/* endpoint_send - send one message, waiting for room at most timeout_ms
 * and never past a stop: len or an error as above. */
ssize_t endpoint_send(struct endpoint *ep, const void *msg, size_t len,
                      const struct ipk_msginfo *info, int timeout_ms);

/*
 * endpoint_close - finish: for a FIFO this command sent into, wait (at
 * most linger_ms, -1 no bound, never past a stop, not at all with
 * ENDPOINT_NO_LINGER) until its bytes are read; close; remove the named object
 * if this command created it and it is empty and unused (or, with ENDPOINT_OWN,
 * in any case).  Returns 0, or -ETIMEDOUT / -ECANCELED when the wait for a
 * reader ended first (the error is printed).  NULL-safe fields.
 */
int endpoint_close(struct endpoint *ep, int linger_ms);

/* endpoint_fail - report err for this endpoint with its detail; the exit
 * code. */
int endpoint_fail(const struct endpoint *ep, int err);

#endif
