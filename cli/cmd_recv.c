// SPDX-License-Identifier: MIT
/* cmd_recv.c - `ipckit recv ADDR`: print messages, one per line with the
 * non-printable escaped, as raw bytes, or as JSON objects. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "endpoint.h"
#include "escape.h"
#include "opts.h"
#include "report.h"
#include "stop.h"

enum {
	RECV_COUNT = 'n',
	RECV_TYPE = 't',
	RECV_RAW = 256,
	RECV_JSON,
	RECV_TIMEOUT,
	RECV_UNTIL,
	RECV_READY_FD,
};

enum recv_format { RECV_TEXT, RECV_BYTES, RECV_OBJECTS };

struct recv_opts {
	long long count; /* messages to print, -1 without end */
	long type;       /* System V selector */
	enum recv_format format;
	int timeout_ms;
	const char *until; /* stop on this message, not printed */
	int ready_fd;
};

static void
recv_print(const struct recv_opts *o, const struct ipk_msginfo *info,
           const unsigned char *p, size_t n)
{
	switch (o->format) {
	case RECV_TEXT:
		escape_text(stdout, p, n);
		putchar('\n');
		break;
	case RECV_BYTES:
		fwrite(p, 1, n, stdout);
		break;
	case RECV_OBJECTS:
		printf("{\"type\":%ld,\"priority\":%u,\"size\":%zu,",
		       info->type, info->prio, n);
		if (escape_is_utf8(p, n)) {
			fputs("\"data\":", stdout);
			escape_json(stdout, p, n);
		} else {
			fputs("\"base64\":\"", stdout);
			escape_base64(stdout, p, n);
			putchar('"');
		}
		puts("}");
		break;
	}
	/* One message, one flush: a pipeline sees each as it comes. */
	fflush(stdout);
}

/* EXIT_OK to go on, -1 after --help (exit 0), else the exit code. */
static int
recv_parse(const struct cmd *self, int argc, char **argv, struct recv_opts *o,
           int *first)
{
	struct opts op;
	const char *arg;
	int key;

	opts_init(&op, self, argc, argv);
	while ((key = opts_next(&op, &arg)) != -1) {
		switch (key) {
		case OPT_HELP:
			return -1;
		case RECV_COUNT:
			if (opts_long(self, "--count", arg, 0, LLONG_MAX,
			              &o->count))
				return EXIT_USAGE;
			break;
		case RECV_TYPE:
			if (opts_lng(self, "--type", arg, -LONG_MAX, LONG_MAX,
			             &o->type))
				return EXIT_USAGE;
			break;
		case RECV_RAW:
		case RECV_JSON:
			if (o->format != RECV_TEXT)
				return opts_usage_error(self,
				                        "--raw and --json "
				                        "exclude each "
				                        "other");
			o->format = key == RECV_RAW ? RECV_BYTES : RECV_OBJECTS;
			break;
		case RECV_TIMEOUT:
			if (opts_int(self, "--timeout", arg, -1, INT_MAX,
			             &o->timeout_ms))
				return EXIT_USAGE;
			break;
		case RECV_UNTIL:
			o->until = arg;
			break;
		case RECV_READY_FD:
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
	if (*first + 1 < argc)
		return opts_usage_error(self,
		                        "one address only (got '%s' "
		                        "too)",
		                        argv[*first + 1]);
	return EXIT_OK;
}

static int
recv_cmd(const struct cmd *self, int argc, char **argv)
{
	struct recv_opts o = { .count = -1, .timeout_ms = -1, .ready_fd = -1 };
	struct endpoint ep;
	const char *name;
	long long got = 0;
	int first = 0, rc;

	rc = recv_parse(self, argc, argv, &o, &first);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	if (stop_init() != 0)
		return report_fail(self, "signals", -errno, NULL);
	rc = endpoint_start(&ep, self, argv[first], 0, o.timeout_ms);
	if (rc != EXIT_OK)
		return rc;
	if (o.type && !(ep.caps & IPK_CAP_TYPES)) {
		endpoint_close(&ep, ENDPOINT_NO_LINGER);
		return opts_usage_error(self,
		                        "--type: %s has no message types "
		                        "(sysvmq has)",
		                        ep.address);
	}
	name = endpoint_name(&ep);
	report_ready(o.ready_fd, &name, 1);
	rc = endpoint_accept(&ep, o.timeout_ms);
	while (rc == EXIT_OK && (o.count < 0 || got < o.count)) {
		struct ipk_msginfo info = { .type = o.type };
		ssize_t n = endpoint_recv(&ep, &info, o.timeout_ms);

		if (n == -EPIPE && o.count < 0)
			break; /* the connection ended: so do we */
		if (n == -ECANCELED && o.count < 0 && stop_signal())
			break; /* Ctrl-C is how an endless recv ends */
		if (n < 0) {
			if (n == -ETIMEDOUT)
				snprintf(ep.detail, sizeof(ep.detail),
				         "no message within %d ms (%lld "
				         "received)",
				         o.timeout_ms, got);
			rc = endpoint_fail(&ep, (int)n);
			break;
		}
		if (o.until && (size_t)n == strlen(o.until) &&
		    memcmp(ep.buf, o.until, (size_t)n) == 0)
			break;
		recv_print(&o, &info, ep.buf, (size_t)n);
		got++;
	}
	/* stdout first: closing "pipe:" points descriptor 1 elsewhere. */
	if (fflush(stdout) != 0 && rc == EXIT_OK)
		rc = report_fail(self, "standard output", -errno, NULL);
	endpoint_close(&ep, ENDPOINT_NO_LINGER);
	return rc;
}

const struct cmd cmd_recv = {
	.name = "recv",
	.args = "ADDR",
	.summary = "receive messages and print them, one per line",
	.details =
	        "Prints each message on a line of its own: printable text and "
	        "UTF-8 as they are,\nbackslash as \\\\, newline \\n, CR \\r, "
	        "tab "
	        "\\t, any other byte as \\xHH.  --raw writes\nthe bytes as "
	        "they "
	        "are; --json one object per line:\n"
	        "  "
	        "{\"type\":77,\"priority\":0,\"size\":6,\"data\":\"Hello\\n\"}"
	        "\n"
	        "(\"base64\" instead of \"data\" when the bytes are not "
	        "UTF-8).  Without -n it runs\nuntil the connection ends or a "
	        "signal (exit 0).  --type selects System V\nmessages as "
	        "msgrcv() does: 0 the first, N the first of type N, -N the "
	        "lowest\ntype up to N.  listen:ADDR listens and receives from "
	        "the first to connect.\n"
	        "Examples:\n"
	        "  ipckit recv sysvmq:1234 --type -10 -n 1\n"
	        "  ipckit recv --until quit fifo:/tmp/fifo\n"
	        "  ipckit recv --json --timeout 1000 posixmq:/jobs\n"
	        "  ipckit recv listen:tcp:127.0.0.1:7000",
	.opts =
	        (const struct opt[]){
	                { "count", RECV_COUNT, "N",
	                  "stop after N messages (default: no limit)" },
	                { "type", RECV_TYPE, "N",
	                  "System V selector: 0 any, N type N, -N lowest "
	                  "type <= N" },
	                { "timeout", RECV_TIMEOUT, "MS",
	                  "longest wait to connect or for each message "
	                  "(default -1: no limit); exit 3 when it passes" },
	                { "until", RECV_UNTIL, "TEXT",
	                  "stop at a message equal to TEXT (not printed)" },
	                { "raw", RECV_RAW, NULL,
	                  "write the bytes as they are, nothing between "
	                  "messages" },
	                { "json", RECV_JSON, NULL,
	                  "one JSON object per message: type, priority, size, "
	                  "data" },
	                { "ready-fd", RECV_READY_FD, "N",
	                  "write \"ready ADDR\" to descriptor N once open or "
	                  "listening" },
	                { NULL, 0, NULL, NULL },
	        },
	.permute = true,
	.run = recv_cmd,
};
