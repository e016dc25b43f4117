// SPDX-License-Identifier: MIT
/* cmd_send.c - `ipckit send ADDR [MSG...]`: each argument, each line of
 * standard input, all of standard input (--raw) or a file (--file) as
 * messages, over any mechanism. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmds.h"
#include "endpoint.h"
#include "lines.h"
#include "opts.h"
#include "report.h"
#include "stop.h"
#include "xalloc.h"

enum {
	SEND_PRIO = 'p',
	SEND_TYPE = 't',
	SEND_FILE = 'f',
	SEND_RAW = 256,
	SEND_TIMEOUT,
	SEND_READY_FD,
};

struct send_opts {
	struct ipk_msginfo info;
	const char *file;
	bool raw;
	int timeout_ms;
	int ready_fd;
};

/* All of fd, at most max bytes: 0 with *buf (owned) and *len, -EMSGSIZE
 * when there is more, -ECANCELED on a stop, or -errno. */
static int
send_slurp(int fd, size_t max, unsigned char **buf, size_t *len)
{
	struct lines l;
	int err;

	/* lines.c does the interruptible reading; a "line" as long as
	 * everything is asked for by never finding its end early. */
	lines_init(&l, fd, max);
	do {
		err = stop_wait(fd, POLLIN, -1);
		if (err > 0)
			err = lines_read(&l);
		if (err == -EAGAIN)
			err = 0;
		if (err == 0 && l.len - l.start > max)
			err = -EMSGSIZE;
	} while (err == 0 && !l.eof);
	if (err) {
		lines_fini(&l);
		return err;
	}
	*len = l.len - l.start;
	*buf = (unsigned char *)l.buf; /* start is 0: nothing was taken */
	return 0;
}

static int
send_one(struct endpoint *ep, const struct send_opts *o, const void *msg,
         size_t len, bool more)
{
	struct ipk_msginfo info = o->info;
	ssize_t n;

	if (more)
		info.flags |= IPK_MORE;
	n = endpoint_send(ep, msg, len, &info, o->timeout_ms);
	return n < 0 ? (int)n : 0;
}

static int
send_lines(struct endpoint *ep, const struct send_opts *o, size_t max)
{
	struct lines l;
	const char *line;
	size_t len;
	unsigned long lineno = 0;
	int k, err = 0;

	lines_init(&l, STDIN_FILENO, max);
	while (err == 0 && (k = lines_next(&l, &line, &len)) != 0) {
		lineno++;
		if (k == -EMSGSIZE) {
			snprintf(ep->detail, sizeof(ep->detail),
			         "line %lu of standard input is longer than "
			         "the largest message, %zu bytes",
			         lineno, max);
			err = -EMSGSIZE;
			break;
		}
		if (k < 0) {
			err = k;
			break;
		}
		/* Another whole line already read: let the library send
		 * them together. */
		err = send_one(ep, o, line, len,
		               memchr(l.buf + l.start, '\n', l.len - l.start) !=
		                       NULL);
	}
	lines_fini(&l);
	return err;
}

static int
send_blob(struct endpoint *ep, const struct send_opts *o, size_t max)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	int fd = STDIN_FILENO, err;

	if (o->file) {
		fd = open(o->file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			snprintf(ep->detail, sizeof(ep->detail), "%s: %s",
			         o->file, strerror(errno));
			return err;
		}
	}
	err = send_slurp(fd, max, &buf, &len);
	if (fd != STDIN_FILENO)
		close(fd);
	if (err == -EMSGSIZE)
		snprintf(ep->detail, sizeof(ep->detail),
		         "%s is longer than the largest message, %zu bytes",
		         o->file ? o->file : "standard input", max);
	if (err == 0)
		err = send_one(ep, o, buf, len, false);
	free(buf);
	return err;
}

/* EXIT_OK to go on, -1 after --help (exit 0), else the exit code. */
static int
send_parse(const struct cmd *self, int argc, char **argv, struct send_opts *o,
           int *first)
{
	struct opts op;
	const char *arg;
	long long v;
	int key;

	opts_init(&op, self, argc, argv);
	while ((key = opts_next(&op, &arg)) != -1) {
		switch (key) {
		case OPT_HELP:
			return -1; /* printed: exit 0 */
		case SEND_TYPE:
			if (opts_lng(self, "--type", arg, 1, LONG_MAX,
			             &o->info.type))
				return EXIT_USAGE;
			break;
		case SEND_PRIO:
			if (opts_long(self, "--prio", arg, 0, 32767, &v))
				return EXIT_USAGE;
			o->info.prio = (unsigned)v;
			break;
		case SEND_FILE:
			o->file = arg;
			break;
		case SEND_RAW:
			o->raw = true;
			break;
		case SEND_TIMEOUT:
			if (opts_int(self, "--timeout", arg, -1, INT_MAX,
			             &o->timeout_ms))
				return EXIT_USAGE;
			break;
		case SEND_READY_FD:
			if (opts_ready_fd(self, arg, &o->ready_fd))
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	*first = opts_index(&op);
	if (*first >= argc)
		return opts_usage_error(self, "no address");
	if ((o->raw || o->file) && *first + 1 < argc)
		return opts_usage_error(self, "messages as arguments, --raw "
		                              "and --file exclude each other");
	if (o->raw && o->file)
		return opts_usage_error(self, "--raw and --file exclude each "
		                              "other");
	return EXIT_OK;
}

static int
send_cmd(const struct cmd *self, int argc, char **argv)
{
	struct send_opts o = { .timeout_ms = -1, .ready_fd = -1 };
	struct endpoint ep;
	const char *name;
	size_t max;
	int first = 0, rc, err = 0, cerr;

	rc = send_parse(self, argc, argv, &o, &first);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	if (stop_init() != 0)
		return report_fail(self, "signals", -errno, NULL);
	rc = endpoint_start(&ep, self, argv[first], 0, o.timeout_ms);
	if (rc != EXIT_OK)
		return rc;
	if (o.info.type && !(ep.caps & IPK_CAP_TYPES))
		rc = opts_usage_error(self,
		                      "--type: %s has no message types "
		                      "(sysvmq has)",
		                      ep.address);
	else if (o.info.prio && !(ep.caps & IPK_CAP_PRIO))
		rc = opts_usage_error(self,
		                      "--prio: %s has no priorities "
		                      "(posixmq has)",
		                      ep.address);
	if (rc != EXIT_OK) {
		endpoint_close(&ep, ENDPOINT_NO_LINGER);
		return rc;
	}
	name = endpoint_name(&ep);
	report_ready(o.ready_fd, &name, 1);
	rc = endpoint_accept(&ep, o.timeout_ms);
	if (rc != EXIT_OK) {
		endpoint_close(&ep, ENDPOINT_NO_LINGER);
		return rc;
	}
	max = ipk_max_msg(ep.ch);
	if (o.raw || o.file)
		err = send_blob(&ep, &o, max);
	else if (first + 1 == argc)
		err = send_lines(&ep, &o, max);
	for (int i = first + 1; err == 0 && i < argc; i++)
		err = send_one(&ep, &o, argv[i], strlen(argv[i]), i + 1 < argc);
	if (err)
		rc = endpoint_fail(&ep, err);
	/* The wait for a FIFO's reader is bounded by --timeout too. */
	cerr = endpoint_close(&ep, err ? ENDPOINT_NO_LINGER : o.timeout_ms);
	if (rc == EXIT_OK && cerr)
		rc = report_exit_code(cerr);
	return rc;
}

const struct cmd cmd_send = {
	.name = "send",
	.args = "ADDR [MSG...]",
	.summary = "send messages: each argument, each line of stdin, or all "
	           "of stdin",
	.details =
	        "Each MSG is one message; without any, each line of standard "
	        "input is one\n(without its newline).  --raw sends all of "
	        "standard input as one message,\n--file F the file F.  ADDR is "
	        "any address of docs/addresses.md; listen:ADDR\nlistens there "
	        "and sends to the first to connect.  A queue this command\n"
	        "creates stays while it holds messages.  Into a FIFO, send "
	        "waits until a\nreceiver has read what it sent (the kernel "
	        "drops a FIFO's bytes with its\nlast user), at most "
	        "--timeout.\n"
	        "Examples:\n"
	        "  ipckit send sysvmq:1234 --type 77 Hello\n"
	        "  ipckit send 'posixmq:/jobs?maxmsg=100' --prio 9 urgent\n"
	        "  printf 'one\\ntwo\\n' | ipckit send fifo:/tmp/q\n"
	        "  ipckit send --file report.pdf unix:/run/user/1000/in.sock",
	.opts =
	        (const struct opt[]){
	                { "type", SEND_TYPE, "N",
	                  "System V message type, 1 or more (default 1)" },
	                { "prio", SEND_PRIO, "N",
	                  "POSIX queue priority, 0..32767 (default 0)" },
	                { "raw", SEND_RAW, NULL,
	                  "all of standard input is one message" },
	                { "file", SEND_FILE, "FILE",
	                  "the contents of FILE are one message" },
	                { "timeout", SEND_TIMEOUT, "MS",
	                  "longest wait to connect, for room, or for a FIFO's "
	                  "reader (default -1: no limit); exit 3 when it "
	                  "passes" },
	                { "ready-fd", SEND_READY_FD, "N",
	                  "write \"ready ADDR\" to descriptor N once open or "
	                  "listening" },
	                { NULL, 0, NULL, NULL },
	        },
	.permute = true,
	.run = send_cmd,
};
