// SPDX-License-Identifier: MIT
/* ipckit.h - one message-channel API over every classic UNIX IPC mechanism:
 * pipes, FIFOs, System V and POSIX message queues, shared-memory rings,
 * mmap'd files, and UNIX, TCP and UDP sockets.  See docs/addresses.md. */
#ifndef IPCKIT_H
#define IPCKIT_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; this header's names are
 * its whole exported interface. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define IPK_VERSION_MAJOR 0
#define IPK_VERSION_MINOR 1
#define IPK_VERSION_PATCH 0

/*
 * A channel.  Opaque; one owner; not safe for concurrent use by several
 * threads unless each thread only sends or only receives on a mechanism
 * whose capabilities include IPK_CAP_DUPLEX_THREADS.
 */
struct ipk_chan;

/*
 * Errors.  Every call returns 0 (or a count) on success and a negative errno
 * value on failure: -EAGAIN (timeout 0 and not ready), -ETIMEDOUT, -EMSGSIZE,
 * -EPIPE (peer gone), -ENOENT, -EACCES, -EINVAL, -ENOMEM, ...  Codes of our
 * own sit below IPK_ERR_BASE.  ipk_strerror() names both kinds.
 */
#define IPK_ERR_BASE 4000
enum ipk_err {
	IPK_EADDR = -(IPK_ERR_BASE + 1),    /* malformed address */
	IPK_ESCHEME = -(IPK_ERR_BASE + 2),  /* unknown address scheme */
	IPK_EOPTION = -(IPK_ERR_BASE + 3),  /* unknown or out-of-range option */
	IPK_ECORRUPT = -(IPK_ERR_BASE + 4), /* peer wrote a malformed frame */
	IPK_EKIND = -(IPK_ERR_BASE + 5),    /* call does not fit this kind of
	                                       channel (accept on a queue...) */
	IPK_ELIMIT = -(IPK_ERR_BASE + 6),   /* a system limit refuses the size
	                                       asked for; see ipk_errdetail() */
};

/* Flags for ipk_open() and ipk_listen(). */
enum ipk_open_flags {
	IPK_NOCREATE = 1u << 0, /* queues: -ENOENT if missing, never create */
	IPK_EXCL = 1u << 1,     /* queues: -EEXIST if it already exists */
};

/* What a channel can do: ipk_caps(). */
enum ipk_caps {
	IPK_CAP_QUEUE = 1u << 0,    /* a named mailbox, any number of users */
	IPK_CAP_CONN = 1u << 1,     /* a two-ended connection */
	IPK_CAP_LISTENER = 1u << 2, /* this channel accepts connections */
	IPK_CAP_NAMED = 1u << 3,    /* has a name that outlives the process */
	IPK_CAP_TYPES = 1u << 4,    /* System V message types */
	IPK_CAP_PRIO = 1u << 5,     /* message priorities */
	IPK_CAP_DURABLE = 1u << 6,  /* messages survive every process */
	IPK_CAP_LOSSY = 1u << 7,    /* messages may be dropped (udp) */
	IPK_CAP_STREAM = 1u << 8,   /* framed over a byte stream */
	/* A dead peer is reported as -EPIPE: for connections, the other end;
	 * for queues that track their receivers, the last receiver (a
	 * channel becomes a receiver with its first receive or pollfd), or
	 * the last other channel when no receiver ever showed up. */
	IPK_CAP_PEER_DEATH = 1u << 9,
	/* A queue that keeps messages only while some process has it open
	 * (fifo): a sender that closes before a receiver came loses them. */
	IPK_CAP_TRANSIENT = 1u << 10,
};

/* Flags in struct ipk_msginfo. */
enum ipk_msg_flags {
	/* ipk_sendx(): more messages follow at once; the library may hold this
	 * one (and coalesce it with the next) until a send without IPK_MORE,
	 * ipk_flush() or ipk_close().  Ignored where it cannot help. */
	IPK_MORE = 1u << 0,
};

/* Per-message metadata for the typed and prioritised mechanisms. */
struct ipk_msginfo {
	/* sysvmq.  Send: the type, > 0 (0 means 1).  Receive: in, msgrcv()'s
	 * selector (0 first message, N > 0 first of type N, N < 0 lowest type
	 * <= |N|); out, the type received.  Other mechanisms report 0. */
	long type;
	/* posixmq.  Send: priority (< sysconf(_SC_MQ_PRIO_MAX)).  Receive:
	 * the priority received.  Other mechanisms report 0. */
	unsigned prio;
	unsigned flags; /* IPK_MORE */
};

/*
 * ipk_open - open a queue, or connect to a listening end, by address.
 * The address is "scheme:rest[?opt=val&...]", listed in docs/addresses.md.
 * Named objects a call creates get mode 0600 unless "?mode=" says otherwise.
 * Waits at most timeout_ms (-1 forever, 0 not at all) for a connection.
 * On success *chp owns a channel the caller must ipk_close().
 */
int ipk_open(struct ipk_chan **chp, const char *address, unsigned flags,
             int timeout_ms);

/*
 * ipk_listen - make a listening end for a connection mechanism (unix,
 * unix+seqpacket, tcp, udp).  "tcp:127.0.0.1:0" picks a free port, which
 * ipk_address() then reports.  Returns IPK_EKIND for queues.
 */
int ipk_listen(struct ipk_chan **lp, const char *address, unsigned flags);

/*
 * ipk_accept - take the next connection from a listener; waits at most
 * timeout_ms.  On success *chp owns the new channel.
 */
int ipk_accept(struct ipk_chan *listener, struct ipk_chan **chp,
               int timeout_ms);

/*
 * ipk_pair - a connected pair over two anonymous pipes, for a parent and
 * child: after fork() each side ipk_close()s the end it does not use.  For
 * exec(), ipk_inherit() turns an end into an address such as "pipe:5,8".
 */
int ipk_pair(struct ipk_chan **a, struct ipk_chan **b);

/*
 * ipk_send - send one message of len bytes, all or nothing.  Waits at most
 * timeout_ms while the channel is full.  Returns len, or -EMSGSIZE if len
 * is above ipk_max_msg() (the channel stays usable), -EAGAIN, -ETIMEDOUT,
 * -EPIPE when the peer is gone.  The library is done with msg on return.
 */
ssize_t ipk_send(struct ipk_chan *ch, const void *msg, size_t len,
                 int timeout_ms);

/*
 * ipk_recv - receive one whole message into buf.  Returns its length, or
 * -EMSGSIZE if cap is too small (the message stays queued: call again with
 * a larger buffer, or ask ipk_peek_size() first), -EAGAIN, -ETIMEDOUT,
 * -EPIPE when the peer is gone and nothing is left.
 */
ssize_t ipk_recv(struct ipk_chan *ch, void *buf, size_t cap, int timeout_ms);

/* ipk_sendx/ipk_recvx - as above, with type, priority and flags.  info may
 * be NULL. */
ssize_t ipk_sendx(struct ipk_chan *ch, const void *msg, size_t len,
                  const struct ipk_msginfo *info, int timeout_ms);
ssize_t ipk_recvx(struct ipk_chan *ch, void *buf, size_t cap,
                  struct ipk_msginfo *info, int timeout_ms);

/* ipk_peek_size - the length of the next message (waiting as ipk_recv
 * does); the message is not consumed.  For sysvmq, info->type selects. */
ssize_t ipk_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
                      int timeout_ms);

/* ipk_flush - push out messages held by IPK_MORE; waits at most
 * timeout_ms.  0 when nothing is held. */
int ipk_flush(struct ipk_chan *ch, int timeout_ms);

/*
 * ipk_pollfd - a descriptor for poll()/epoll: POLLIN means a receive (or an
 * accept) may now succeed without waiting.  It can be spurious, so receive
 * with timeout 0 and treat -EAGAIN as "not yet".  Owned by the channel.
 */
int ipk_pollfd(struct ipk_chan *ch);

/* ipk_max_msg - the largest message this channel can carry, in bytes. */
size_t ipk_max_msg(const struct ipk_chan *ch);

/* ipk_caps - IPK_CAP_* bits of the channel. */
unsigned ipk_caps(const struct ipk_chan *ch);

/* ipk_address - the channel's canonical address, with a bound port filled
 * in.  Borrowed; valid until ipk_close(). */
const char *ipk_address(const struct ipk_chan *ch);

/*
 * ipk_inherit - make a channel's descriptors survive exec() and write an
 * address that opens them again in the new program (pipe:R,W, or fd-based
 * forms of other mechanisms).  -ENOTSUP where that cannot work.
 */
int ipk_inherit(struct ipk_chan *ch, char *addr, size_t cap);

/*
 * ipk_close - flush held messages (briefly), release the channel and free
 * it.  Never removes a named object: see ipk_unlink().  NULL-safe.
 * Returns 0, or the flush error (the channel is closed anyway).
 */
int ipk_close(struct ipk_chan *ch);

/* ipk_unlink - remove the named object an address names. */
int ipk_unlink(const char *address);

/* ipk_strerror - a constant string for any error code of this API. */
const char *ipk_strerror(int err);

/*
 * ipk_errdetail - a sentence about the last failure in this thread, naming
 * the limit, option or address part at fault ("message of 70000 bytes is
 * above kernel.msgmax = 8192"), or "" when there is nothing to add.
 */
const char *ipk_errdetail(void);

/*
 * ipk_addr_caps - the IPK_CAP_* bits every channel of the mechanism an
 * address names has (never IPK_CAP_LISTENER), without opening or creating
 * anything: tells a queue from a connection before a name is made.  0 with
 * *caps set, or IPK_EADDR / IPK_ESCHEME / IPK_EOPTION with ipk_errdetail()
 * set.  Only the generic part of the address is checked here; ipk_open()
 * checks the scheme's own options.
 */
int ipk_addr_caps(const char *address, unsigned *caps);

/* ipk_scheme_list - the schemes this build knows, NULL-terminated. */
const char *const *ipk_scheme_list(void);

/* One named object that ipk_list() found. */
struct ipk_object {
	const char *scheme;  /* "fifo", "posixmq", ... */
	const char *address; /* an address ipk_unlink() accepts */
	uid_t owner;
	mode_t mode;
	pid_t creator_pid;                /* 0 when unknown */
	unsigned long long creator_start; /* /proc start time, 0 if unknown */
	unsigned long long bytes;         /* queued or mapped bytes, if known */
	unsigned long long messages;      /* queued messages, if known */
};

/* Called once per object; a non-zero return stops the walk and is
 * returned by ipk_list(). */
typedef int ipk_list_fn(const struct ipk_object *obj, void *arg);

/*
 * ipk_list - walk the named objects of every mechanism that ipckit made
 * (or, for scheme-wide namespaces, that exist).  Pointers in *obj are
 * borrowed for the duration of the call.
 */
int ipk_list(ipk_list_fn *fn, void *arg);

/*
 * The event loop: one thread, epoll, monotonic timers, signals through
 * signalfd, and deferred work run after each round of callbacks (so an
 * object is never freed inside its own callback).  For servers and clients
 * built on ipckit; channels join it through ipk_pollfd().
 */
struct ipk_loop;

enum ipk_events {
	IPK_READ = 1u << 0,  /* readable, or hung up / error */
	IPK_WRITE = 1u << 1, /* writable */
};

typedef void ipk_io_fn(struct ipk_loop *loop, int fd, unsigned events,
                       void *arg);
typedef void ipk_timer_fn(struct ipk_loop *loop, void *arg);
typedef void ipk_signal_fn(struct ipk_loop *loop, int signo, void *arg);
typedef void ipk_defer_fn(struct ipk_loop *loop, void *arg);

/* A timer lives in the caller's storage: ipk_timer_init() once, then start
 * and stop it any number of times; stop it before its storage goes. */
struct ipk_timer {
	ipk_timer_fn *fn;
	void *arg;
	long long due_ns; /* private */
	size_t slot;      /* private: heap index + 1, 0 when stopped */
};

int ipk_loop_new(struct ipk_loop **lp);
/* Frees the loop; watched fds are not closed; pending deferred work is
 * dropped.  NULL-safe. */
void ipk_loop_free(struct ipk_loop *loop);

/* Watch fd for events (IPK_READ | IPK_WRITE); calling it again changes the
 * events or the callback.  Level-triggered.  Callbacks must tolerate a
 * spurious wake-up (an fd reused within one round). */
int ipk_loop_watch(struct ipk_loop *loop, int fd, unsigned events,
                   ipk_io_fn *fn, void *arg);
int ipk_loop_unwatch(struct ipk_loop *loop, int fd);

void ipk_timer_init(struct ipk_timer *t, ipk_timer_fn *fn, void *arg);
/* (Re)arm t to fire once after after_ms milliseconds. */
int ipk_timer_start(struct ipk_loop *loop, struct ipk_timer *t,
                    long long after_ms);
void ipk_timer_stop(struct ipk_loop *loop, struct ipk_timer *t);
int ipk_timer_is_active(const struct ipk_timer *t);

/* Deliver signo through the loop (it is blocked for the calling thread and
 * read from a signalfd). */
int ipk_loop_signal(struct ipk_loop *loop, int signo, ipk_signal_fn *fn,
                    void *arg);

/* Run fn(arg) once, after the current round of callbacks. */
int ipk_loop_defer(struct ipk_loop *loop, ipk_defer_fn *fn, void *arg);

/* Dispatch until ipk_loop_stop(); 0, or -errno if epoll fails. */
int ipk_loop_run(struct ipk_loop *loop);
void ipk_loop_stop(struct ipk_loop *loop);

/* Monotonic milliseconds, cached at the start of each round. */
long long ipk_loop_now_ms(const struct ipk_loop *loop);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* IPCKIT_H */
