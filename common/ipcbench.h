// SPDX-License-Identifier: MIT
/* ipcbench.h - the measurement core shared by bench/ipc and `ipckit bench`:
 * ping-pong latency (p50/p99 after warm-up) and one-way throughput (msgs/s
 * and MB/s, timestamps only at the first and the last message) between two
 * processes, over any pair of endpoints, as medians of several runs.  An
 * endpoint kind plugs in through struct ipcbench_ops; ipcbench_ipk_*()
 * makes them for any ipckit scheme from an address form.  Nothing here
 * knows nng or ZeroMQ. */
#ifndef COMMON_IPCBENCH_H
#define COMMON_IPCBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Every message starts with one of these bytes; a pong echoes it. */
enum ipcbench_kind {
	IPCBENCH_DATA = 0,
	IPCBENCH_STOP = 1,
	IPCBENCH_HELLO = 2, /* first message: the link is up before timing */
};

enum ipcbench_flags {
	IPCBENCH_LATENCY_ONLY = 1u << 0, /* a wake-up, not a payload */
	IPCBENCH_LOSSY = 1u << 1,        /* may drop messages (udp) */
};

/*
 * One kind of endpoint pair.  The caller's process only prepares and
 * cleans up; side 0 (the pinger, the sender) and side 1 run in two forked
 * children, so libraries with threads start fresh in each.  ctx is copied
 * by fork(): each side keeps its handles in its own copy.
 */
struct ipcbench_ops {
	const char *name; /* row label: "shm", "raw pipe", "nng ipc" */
	unsigned flags;   /* IPCBENCH_* */
	void *ctx;        /* the callbacks' state; owned by the caller */
	/* Parent, before fork: make what both sides need (names, a listening
	 * socket); duplex says whether side 1 must also send back. */
	int (*prepare)(void *ctx, bool duplex);
	/* Largest message, after prepare (SIZE_MAX when unbounded). */
	size_t (*max_msg)(void *ctx);
	/* Each side after fork: connect or open its end. */
	int (*attach)(void *ctx, int side);
	/* One message, len or -errno; more: others follow at once. */
	ssize_t (*send)(void *ctx, const void *buf, size_t len, bool more);
	/* One message into buf, its length or -errno (wait up to 5 s). */
	ssize_t (*recv)(void *ctx, void *buf, size_t cap);
	/* Push out messages held by more (may be NULL). */
	void (*flush)(void *ctx);
	/* Each side: close its end. */
	void (*detach)(void *ctx, int side);
	/* Parent, after both sides are gone, and after a prepare that
	 * failed half-way: remove names.  May be NULL. */
	void (*cleanup)(void *ctx);
	/* After prepare: may it drop messages (beside IPCBENCH_LOSSY)?
	 * May be NULL. */
	bool (*lossy)(void *ctx);
};

struct ipcbench_cfg {
	unsigned runs;       /* medians of this many runs (odd is best) */
	double seconds;      /* time budget of one throughput run */
	unsigned lat_iters;  /* round trips measured per latency run ... */
	double lat_seconds;  /* ... or fewer once this time has passed */
	unsigned lat_warmup; /* round trips thrown away first (or fewer,
	                      * once a quarter of lat_seconds has passed) */
	unsigned lat_min;    /* ... and at least this many, time or not */
	unsigned batch;      /* throughput: send with more, flush every N */
	int cpu[2];          /* pin side 0 / side 1 there; -1 leaves it */
	/* Polled while the two sides run (every millisecond) and before each
	 * run: true kills both sides, removes what prepare made, and the
	 * figure's err is -ECANCELED.  NULL: never. */
	bool (*stop_cb)(void);
};

/* Defaults: 5 runs, 0.3 s per throughput run, 20000 round trips in at
 * most 0.3 s (at least 1000) after 2000 of warm-up (at most 0.075 s),
 * batches of 64, sides on CPUs 0 and 1 when there are two. */
void ipcbench_cfg_default(struct ipcbench_cfg *cfg);

struct ipcbench_lat {
	int err;       /* 0, or why no figure (-EMSGSIZE: n/a) */
	double p50_us; /* one-way: round trip / 2 */
	double p99_us;
	unsigned count; /* round trips measured (last run) */
};

struct ipcbench_tput {
	int err;
	double msgs_per_s;
	double mb_per_s; /* 10^6 bytes of payload per second */
	double lost;     /* fraction of messages dropped (lossy only) */
};

/* ipcbench_latency - median over cfg->runs of the one-way p50/p99 for
 * messages of size bytes. */
void ipcbench_latency(const struct ipcbench_ops *ops,
                      const struct ipcbench_cfg *cfg, size_t size,
                      struct ipcbench_lat *out);

/* ipcbench_throughput - median over cfg->runs of the rate at size bytes. */
void ipcbench_throughput(const struct ipcbench_ops *ops,
                         const struct ipcbench_cfg *cfg, size_t size,
                         struct ipcbench_tput *out);

/* ipcbench_median - median of n doubles (sorts v). */
double ipcbench_median(double *v, size_t n);

/* ipcbench_now_ns - CLOCK_MONOTONIC in nanoseconds. */
int64_t ipcbench_now_ns(void);

/* ---- reading and writing figures ---- */

/* ipcbench_si - v with an SI suffix in 3-4 digits ("1.25M", "980.2k",
 * "12"); returns buf. */
const char *ipcbench_si(double v, char *buf, size_t cap);

/* ipcbench_err_cell - a table cell for a figure that failed: "n/a" when
 * the mechanism refuses the size (-EMSGSIZE), else "error". */
const char *ipcbench_err_cell(int err);

/*
 * ipcbench_size_parse - a message size: digits with an optional suffix,
 * B, K or KiB (1024), M or MiB (1024^2), kB (1000) or MB (10^6), case
 * aside from k/K.  0 with *out in [1, max], or -EINVAL (not a size) or
 * -ERANGE (0 or above max).
 */
int ipcbench_size_parse(const char *s, size_t max, size_t *out);

/* ipcbench_size_name - "64 B", "4 KiB", "1 MiB", "1500 B": exact, in the
 * largest binary unit that divides size; returns buf. */
const char *ipcbench_size_name(size_t size, char *buf, size_t cap);

/* ---- ipckit endpoints from an address form ---- */

/*
 * How to make fresh addresses for a scheme: %P becomes a path in a private
 * temporary directory, %N a fresh name ("ipk-bench-PID-N"), %K a fresh
 * System V key in [IPCBENCH_KEY_BASE, +0xfffff] (so that a test can tell
 * the queues of a benchmark from others' and prove none is left).  A NULL
 * form means ipk_pair().  Connection schemes are told apart by
 * ipk_listen() (queues refuse it): they listen on the form and connect to
 * the listener's ipk_address().  A form without a placeholder names one
 * object: fine for throughput and connections, but latency over a queue
 * needs one per direction (prepare fails with -EINVAL).
 */
#define IPCBENCH_KEY_BASE 0x1be00000L

struct ipcbench_form {
	const char *label;  /* row label: "shm", "shm (no spin)" */
	const char *scheme; /* as ipk_scheme_list() names it */
	const char *form;
};

/* The forms of every scheme ipckit has or will have, NULL-terminated. */
extern const struct ipcbench_form ipcbench_forms[];

/* State of an ipckit endpoint pair; ipcbench_ipk_ops() fills ops. */
struct ipcbench_ipk {
	const struct ipcbench_form *form; /* borrowed */
	char dir[256];     /* temp dir for %P, removed by cleanup */
	char addr[2][512]; /* queues: side 0 -> 1, and 1 -> 0 */
	bool queue, duplex;
	bool lossy; /* after a prepare: the scheme may drop messages */
	/* Send and receive with timeout -1 (block), where the default is a
	 * deadline of 10 s (send) and 5 s (receive): bench/ipc compares both
	 * with the raw calls that do the same job.  Set after
	 * ipcbench_ipk_ops(). */
	bool wait_forever;
	struct ipk_chan *listener, *tx, *rx, *pair[2];
	size_t max;
};

/* ipcbench_ipk_ops - ops over ipckit for a form.  st must outlive ops. */
void ipcbench_ipk_ops(struct ipcbench_ops *ops, struct ipcbench_ipk *st,
                      const struct ipcbench_form *form);

/* ipcbench_form_find - the first form for scheme, or NULL. */
const struct ipcbench_form *ipcbench_form_find(const char *scheme);

#endif
