// SPDX-License-Identifier: MIT
/* cmd_relay.c - `ipckit relay A B`: move messages between any two
 * addresses, both ways where it can, until a connection ends or a signal
 * comes; the counts are printed on exit.  One thread: both ends' pollfds
 * and the stop descriptor in one poll(). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "cmds.h"
#include "endpoint.h"
#include "opts.h"
#include "report.h"
#include "stop.h"

#define RELAY_BURST 64 /* messages moved per wake-up before looking again */

enum {
	RELAY_BACK = 'b',
	RELAY_QUIET = 'q',
	RELAY_TIMEOUT = 256,
	RELAY_READY_FD,
};

/* One direction: messages taken from `from` are sent to `to`. */
struct relay_dir {
	struct endpoint *from, *to; /* borrowed; from NULL: direction off */
	unsigned long long msgs, bytes;
};

struct relay {
	struct endpoint ep[3]; /* A, B, and --back */
	struct relay_dir dir[2];
	int timeout_ms;
	bool done;
	int rc;
	const char *end_reason; /* why it ended, for the counts line */
};

/* Is the address text (maybe "listen:...") a connection?  An address
 * the library cannot parse counts as one here: opening it reports why. */
static bool
relay_is_conn(const char *text)
{
	unsigned caps = 0;

	if (strncmp(text, ENDPOINT_LISTEN, strlen(ENDPOINT_LISTEN)) == 0)
		text += strlen(ENDPOINT_LISTEN);
	return ipk_addr_caps(text, &caps) != 0 || !(caps & IPK_CAP_QUEUE);
}

/* Move what d's source has, at most RELAY_BURST messages. */
static void
relay_move(struct relay *r, struct relay_dir *d)
{
	for (int i = 0; i < RELAY_BURST && !r->done; i++) {
		struct ipk_msginfo info = { 0 };
		ssize_t n = endpoint_recv(d->from, &info, 0), m;

		if (n == -ETIMEDOUT)
			return; /* nothing more now */
		if (n == -EPIPE) {
			r->done = true;
			r->end_reason = endpoint_name(d->from);
			return;
		}
		if (n < 0) {
			r->rc = endpoint_fail(d->from, (int)n);
			r->done = true;
			return;
		}
		/* Type and priority cross where the other end has them. */
		info.flags = 0;
		m = endpoint_send(d->to, d->from->buf, (size_t)n, &info,
		                  r->timeout_ms);
		if (m == -EPIPE) {
			fprintf(stderr,
			        "ipckit relay: %s: ended; a message of %zd "
			        "bytes from %s was not delivered\n",
			        d->to->text, n, d->from->text);
			r->done = true;
			r->end_reason = endpoint_name(d->to);
			return;
		}
		if (m < 0) {
			if (m != -ECANCELED)
				r->rc = endpoint_fail(d->to, (int)m);
			r->done = true;
			return;
		}
		d->msgs++;
		d->bytes += (unsigned long long)n;
	}
}

static void
relay_loop(struct relay *r)
{
	struct pollfd q[3] = { { .fd = stop_fd(), .events = POLLIN } };
	int quiet_rounds = 0;
	bool blind = false; /* a source without a descriptor */

	for (int i = 0; i < 2; i++) {
		q[i + 1] = (struct pollfd){ .fd = -1, .events = POLLIN };
		if (r->dir[i].from) {
			q[i + 1].fd = ipk_pollfd(r->dir[i].from->ch);
			blind |= q[i + 1].fd < 0;
		}
	}
	while (!r->done) {
		/* A wake-up that moved nothing was spurious; after one,
		 * look again in 10 ms rather than spin on the descriptor. */
		int n = poll(q, 3, blind || quiet_rounds > 1 ? 10 : -1);
		unsigned long long before = r->dir[0].msgs + r->dir[1].msgs;

		if (n < 0 && errno != EINTR) {
			r->rc = report_fail(r->ep[0].cmd, "poll", -errno, NULL);
			return;
		}
		if (stop_requested())
			return;
		for (int i = 0; i < 2 && !r->done; i++)
			if (r->dir[i].from &&
			    (n == 0 || (n > 0 && q[i + 1].revents)))
				relay_move(r, &r->dir[i]);
		quiet_rounds = before == r->dir[0].msgs + r->dir[1].msgs
		                       ? quiet_rounds + 1
		                       : 0;
	}
}

/* EXIT_OK to go on, -1 after --help (exit 0), else the exit code. */
static int
relay_parse(const struct cmd *self, int argc, char **argv, struct relay *r,
            const char **back, int *ready_fd, bool *quiet, int *first)
{
	struct opts op;
	const char *arg;
	int key;

	opts_init(&op, self, argc, argv);
	while ((key = opts_next(&op, &arg)) != -1) {
		switch (key) {
		case OPT_HELP:
			return -1;
		case RELAY_BACK:
			*back = arg;
			break;
		case RELAY_QUIET:
			*quiet = true;
			break;
		case RELAY_TIMEOUT:
			if (opts_int(self, "--timeout", arg, -1, INT_MAX,
			             &r->timeout_ms))
				return EXIT_USAGE;
			break;
		case RELAY_READY_FD:
			if (opts_ready_fd(self, arg, ready_fd))
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	*first = opts_index(&op);
	if (argc - *first != 2)
		return opts_usage_error(self,
		                        "expected two addresses, A and B");
	return EXIT_OK;
}

/* Wire the directions: both ways between connections; a queue is read
 * as A and written as B (what the relay put in a queue it would take out
 * again), and messages for a queue A go to --back.  Before anything is
 * opened, so that a usage error makes and connects nothing. */
static int
relay_wire(const struct cmd *self, struct relay *r, const char *a_text,
           const char *b_text, bool have_back)
{
	struct endpoint *a = &r->ep[0], *b = &r->ep[1];
	bool a_conn = relay_is_conn(a_text), b_conn = relay_is_conn(b_text);

	r->dir[0] = (struct relay_dir){ .from = a, .to = b };
	if (b_conn && a_conn && !have_back)
		r->dir[1] = (struct relay_dir){ .from = b, .to = a };
	else if (b_conn && !a_conn && have_back)
		r->dir[1] = (struct relay_dir){ .from = b, .to = &r->ep[2] };
	else if (have_back)
		return opts_usage_error(self,
		                        "--back is where messages from a "
		                        "connection B go when A is a queue; "
		                        "here %s",
		                        a_conn ? "A is a connection"
		                               : "B is a queue");
	return EXIT_OK;
}

static void
relay_counts(const struct relay *r)
{
	for (int i = 0; i < 2; i++)
		if (r->dir[i].from)
			fprintf(stderr, "%s%s -> %s: %llu messages, %llu bytes",
			        i ? "; " : "ipckit relay: ",
			        endpoint_name(r->dir[i].from),
			        endpoint_name(r->dir[i].to), r->dir[i].msgs,
			        r->dir[i].bytes);
	if (r->end_reason)
		fprintf(stderr, " (%s ended)", r->end_reason);
	else if (stop_signal())
		fprintf(stderr, " (%s)", strsignal(stop_signal()));
	fputc('\n', stderr);
}

static int
relay_cmd(const struct cmd *self, int argc, char **argv)
{
	struct relay r = { .timeout_ms = -1 };
	const char *back = NULL, *names[3];
	int first = 0, ready_fd = -1, n = 0, rc;
	bool quiet = false;

	rc = relay_parse(self, argc, argv, &r, &back, &ready_fd, &quiet,
	                 &first);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	if (stop_init() != 0)
		return report_fail(self, "signals", -errno, NULL);
	rc = relay_wire(self, &r, argv[first], argv[first + 1], back != NULL);
	for (; n < (back ? 3 : 2) && rc == EXIT_OK; n++)
		rc = endpoint_start(&r.ep[n], self,
		                    n < 2 ? argv[first + n] : back, 0,
		                    r.timeout_ms);
	if (rc == EXIT_OK) {
		for (int i = 0; i < n; i++)
			names[i] = endpoint_name(&r.ep[i]);
		report_ready(ready_fd, names, n);
	}
	for (int i = 0; i < n && rc == EXIT_OK; i++)
		rc = endpoint_accept(&r.ep[i], r.timeout_ms);
	if (rc == EXIT_OK) {
		relay_loop(&r);
		rc = r.rc;
		if (!quiet)
			relay_counts(&r);
	}
	for (int i = 0; i < n; i++) {
		int err = endpoint_close(&r.ep[i],
		                         rc == EXIT_OK ? r.timeout_ms
		                                       : ENDPOINT_NO_LINGER);

		if (rc == EXIT_OK && err)
			rc = report_exit_code(err);
	}
	return rc;
}

const struct cmd cmd_relay = {
	.name = "relay",
	.args = "A B",
	.summary = "move messages between two addresses until one ends or a "
	           "signal",
	.details =
	        "Between two connections (pipe, unix, unix+seqpacket, tcp, "
	        "udp) messages go both\nways.  A queue (fifo, sysvmq, posixmq, "
	        "shm, file) is one mailbox, so it is read\nwhen it is A and "
	        "written when it is B; messages from a connection B to a "
	        "queue\nA go to the queue --back names.  System V types and "
	        "POSIX priorities cross\nwhere both ends have them.  It ends "
	        "when a connection ends (the other end is\nclosed then too) "
	        "or on SIGINT, SIGTERM or SIGHUP (exit 0), and prints the\n"
	        "counts of each direction on standard error.  listen:ADDR "
	        "takes one connection\non ADDR.\n"
	        "Examples:\n"
	        "  ipckit relay sysvmq:1234 tcp:203.0.113.7:7000 --back "
	        "sysvmq:1235\n"
	        "  ipckit relay fifo:/tmp/in listen:unix:/tmp/out.sock\n"
	        "  ipckit relay listen:tcp:127.0.0.1:7000 "
	        "unix:/run/user/1000/app.sock",
	.opts =
	        (const struct opt[]){
	                { "back", RELAY_BACK, "ADDR",
	                  "where messages from a connection B go when A is a "
	                  "queue" },
	                { "timeout", RELAY_TIMEOUT, "MS",
	                  "longest wait to connect, accept or for room "
	                  "(default -1: no limit); exit 3 when it passes" },
	                { "quiet", RELAY_QUIET, NULL,
	                  "do not print the counts on exit" },
	                { "ready-fd", RELAY_READY_FD, "N",
	                  "write \"ready A B [BACK]\" to descriptor N once "
	                  "open or listening" },
	                { NULL, 0, NULL, NULL },
	        },
	.permute = true,
	.run = relay_cmd,
};
