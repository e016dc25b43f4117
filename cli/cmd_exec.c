// SPDX-License-Identifier: MIT
/* cmd_exec.c - `ipckit exec ADDR -- CMD [ARGS]`: CMD as a coprocess, popen
 * in both directions over two pipes.  Each message from ADDR is a line on
 * its standard input; each line of its standard output goes back as a
 * message.  One thread and one poll(): the channel, the coprocess's two
 * pipes (its stdin non-blocking, so a coprocess that stops reading while
 * we wait to write can never deadlock us) and the stop descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "endpoint.h"
#include "lines.h"
#include "opts.h"
#include "report.h"
#include "stop.h"
#include "xalloc.h"

#define EXEC_BURST    64          /* messages taken per wake-up */
#define EXEC_PENDING  (1u << 20)  /* bytes queued for its stdin */
#define EXEC_LINE_MAX (16u << 20) /* longest line of its output */
#define EXEC_TERM_MS  2000        /* SIGTERM, then SIGKILL */

extern char **environ;

enum {
	EXEC_COUNT = 'n',
	EXEC_TYPE = 't',
	EXEC_REPLY = 'r',
	EXEC_REPLY_TYPE = 256,
	EXEC_UNTIL,
	EXEC_IDLE,
	EXEC_TIMEOUT,
	EXEC_READY_FD,
};

struct exec {
	const struct cmd *cmd;
	char **argv;            /* borrowed: CMD and its arguments */
	struct endpoint in;     /* ADDR */
	struct endpoint reply;  /* --reply, when given */
	struct endpoint *out;   /* where lines go: &reply or &in */
	const char *reply_text; /* borrowed: --reply */
	long type, reply_type;  /* System V selector and type of lines */
	long long count, taken; /* -n, and messages fed so far */
	const char *until;      /* --until */
	int idle_ms, timeout_ms;
	int ready_fd;
	pid_t child;
	int pidfd;               /* owned: the coprocess, pollable */
	int to_child;            /* owned: its stdin, -1 once closed */
	struct lines from_child; /* its stdout (fd owned) */
	char *pend;              /* owned: bytes not yet on its stdin */
	size_t pend_len, pend_off, pend_cap;
	bool input_done; /* no more messages will be fed */
	int rc;
};

/* Start the coprocess with two pipes; the stop handlers and the ignored
 * SIGPIPE are ours, not its. */
static int
exec_spawn(struct exec *x)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t dflt, none;
	int in[2], out[2], err;

	if (pipe2(in, O_CLOEXEC) != 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) != 0) {
		err = -errno;
		close(in[0]);
		close(in[1]);
		return err;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGHUP);
	posix_spawnattr_setsigdefault(&at, &dflt);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF |
	                                      POSIX_SPAWN_SETSIGMASK);
	err = -posix_spawnp(&x->child, x->argv[0], &fa, &at, x->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(in[0]);
	close(out[1]);
	if (err) {
		close(in[1]);
		close(out[0]);
		return err;
	}
	x->to_child = in[1];
	(void)fcntl(x->to_child, F_SETFL, O_NONBLOCK);
	(void)fcntl(out[0], F_SETFL, O_NONBLOCK);
	lines_init(&x->from_child, out[0], EXEC_LINE_MAX);
	x->pidfd = (int)syscall(SYS_pidfd_open, x->child, 0);
	return 0;
}

static void
exec_close_stdin(struct exec *x)
{
	if (x->to_child >= 0)
		close(x->to_child);
	x->to_child = -1;
	x->pend_len = x->pend_off = 0;
}

static void
exec_queue(struct exec *x, const unsigned char *p, size_t n)
{
	if (x->pend_off > 0 && x->pend_off == x->pend_len)
		x->pend_len = x->pend_off = 0;
	if (x->pend_cap - x->pend_len < n + 1) {
		x->pend_cap = (x->pend_len + n + 1) * 2;
		x->pend = xrealloc(x->pend, x->pend_cap);
	}
	memcpy(x->pend + x->pend_len, p, n);
	x->pend_len += n;
	x->pend[x->pend_len++] = '\n';
}

/* Messages from ADDR, at most a burst, queued for the coprocess. */
static void
exec_take(struct exec *x)
{
	for (int i = 0; i < EXEC_BURST && !x->input_done; i++) {
		struct ipk_msginfo info = { .type = x->type };
		ssize_t n = endpoint_recv(&x->in, &info, 0);

		if (n == -ETIMEDOUT)
			return;
		if (n == -EPIPE) {
			x->input_done = true;
			return;
		}
		if (n < 0) {
			if (n != -ECANCELED)
				x->rc = endpoint_fail(&x->in, (int)n);
			x->input_done = true;
			return;
		}
		if (x->until && strlen(x->until) == (size_t)n &&
		    memcmp(x->in.buf, x->until, (size_t)n) == 0) {
			x->input_done = true;
			return;
		}
		exec_queue(x, x->in.buf, (size_t)n);
		if (x->count >= 0 && ++x->taken >= x->count)
			x->input_done = true;
		if (x->pend_len - x->pend_off >= EXEC_PENDING)
			return;
	}
}

static void
exec_feed(struct exec *x)
{
	while (x->pend_off < x->pend_len) {
		ssize_t n = write(x->to_child, x->pend + x->pend_off,
		                  x->pend_len - x->pend_off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			/* EPIPE: it closed its stdin; what is left of the
			 * input has no reader. */
			x->input_done = true;
			exec_close_stdin(x);
			return;
		}
		x->pend_off += (size_t)n;
	}
}

/* Its stdout: each whole line (and a last one without a newline) goes
 * out as a message.  Returns 1 at the end of its output. */
static int
exec_drain(struct exec *x)
{
	const char *line;
	size_t len;
	int err = lines_read(&x->from_child), k;

	if (err && err != -EAGAIN) {
		x->rc = report_fail(x->cmd, x->argv[0], err, "reading output");
		return 1;
	}
	while ((k = lines_take(&x->from_child, &line, &len)) != 0) {
		struct ipk_msginfo info = { .type = x->reply_type };
		ssize_t n;

		if (k == -EMSGSIZE) {
			x->rc = report_fail(x->cmd, x->argv[0], -EMSGSIZE,
			                    "a line of its output is longer "
			                    "than 16 MiB");
			return 1;
		}
		n = endpoint_send(x->out, line, len, &info, x->timeout_ms);
		if (n < 0) {
			if (n != -ECANCELED)
				x->rc = endpoint_fail(x->out, (int)n);
			return 1;
		}
	}
	return x->from_child.eof;
}

static void
exec_loop(struct exec *x)
{
	long long idle_end = x->idle_ms >= 0 ? stop_now_ms() + x->idle_ms : -1;
	int quiet = 0;

	for (;;) {
		struct pollfd q[4] = {
			{ .fd = stop_fd(), .events = POLLIN },
			{ .fd = -1, .events = POLLIN },
			{ .fd = x->from_child.fd, .events = POLLIN },
			{ .fd = -1, .events = POLLOUT },
		};
		bool taking = !x->input_done &&
		              x->pend_len - x->pend_off < EXEC_PENDING;
		int timeout = -1, n;

		if (taking)
			q[1].fd = ipk_pollfd(x->in.ch);
		if (x->pend_off < x->pend_len)
			q[3].fd = x->to_child;
		if (taking && idle_end >= 0) {
			long long d = idle_end - stop_now_ms();

			timeout = d < 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
		}
		/* A wake-up that brought nothing was spurious (a System V
		 * message of another type): look again in 10 ms. */
		if (taking && (quiet > 1 || q[1].fd < 0) &&
		    (timeout < 0 || timeout > 10))
			timeout = 10;
		n = poll(q, 4, timeout);
		if (n < 0 && errno != EINTR) {
			x->rc = report_fail(x->cmd, "poll", -errno, NULL);
			return;
		}
		if (stop_requested())
			return;
		if (taking && (n == 0 || q[1].revents)) {
			long long before = x->taken;
			size_t had = x->pend_len;

			exec_take(x);
			quiet = x->pend_len != had || x->taken != before
			                ? 0
			                : quiet + 1;
			if (x->pend_len != had && x->idle_ms >= 0)
				idle_end = stop_now_ms() + x->idle_ms;
		}
		if (taking && idle_end >= 0 && stop_now_ms() >= idle_end)
			x->input_done = true;
		if (x->to_child >= 0)
			exec_feed(x);
		if (x->input_done && x->pend_off == x->pend_len)
			exec_close_stdin(x); /* its end of input */
		if ((q[2].revents || n == 0) && exec_drain(x))
			return;
	}
}

/* Reap the coprocess; with stopping, ask it to end (SIGTERM, later
 * SIGKILL).  Its exit status, or -1 when a signal of ours ended it. */
static int
exec_reap(struct exec *x, bool stopping)
{
	long long kill_at = -1;
	int status = 0;

	exec_close_stdin(x);
	if (stopping) {
		kill(x->child, SIGTERM);
		kill_at = stop_now_ms() + EXEC_TERM_MS;
	}
	for (;;) {
		pid_t r = waitpid(x->child, &status, WNOHANG);
		int wait_ms = -1;

		if (r == x->child || (r < 0 && errno != EINTR))
			break;
		if (!stopping && stop_requested()) {
			stopping = true;
			kill(x->child, SIGTERM);
			kill_at = stop_now_ms() + EXEC_TERM_MS;
		}
		if (kill_at >= 0) {
			long long d = kill_at - stop_now_ms();

			if (d <= 0) {
				kill(x->child, SIGKILL);
				kill_at = -1;
			}
			wait_ms = d <= 0 ? -1 : (int)d;
		}
		if (x->pidfd >= 0) {
			struct pollfd q = { .fd = x->pidfd, .events = POLLIN };

			(void)poll(&q, 1, wait_ms < 0 ? 100 : wait_ms);
		} else {
			/* No pidfd (kernel < 5.3): look every 10 ms. */
			struct timespec ts = { 0, 10000000 };

			nanosleep(&ts, NULL);
		}
	}
	if (stopping)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* EXIT_OK to go on, -1 after --help (exit 0), else the exit code. */
static int
exec_parse(const struct cmd *self, int argc, char **argv, struct exec *x,
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
		case EXEC_COUNT:
			if (opts_long(self, "--count", arg, 0, LLONG_MAX,
			              &x->count))
				return EXIT_USAGE;
			break;
		case EXEC_TYPE:
			if (opts_lng(self, "--type", arg, -LONG_MAX, LONG_MAX,
			             &x->type))
				return EXIT_USAGE;
			break;
		case EXEC_REPLY:
			x->reply_text = arg;
			break;
		case EXEC_REPLY_TYPE:
			if (opts_lng(self, "--reply-type", arg, 1, LONG_MAX,
			             &x->reply_type))
				return EXIT_USAGE;
			break;
		case EXEC_UNTIL:
			x->until = arg;
			break;
		case EXEC_IDLE:
			if (opts_int(self, "--idle", arg, 0, INT_MAX,
			             &x->idle_ms))
				return EXIT_USAGE;
			break;
		case EXEC_TIMEOUT:
			if (opts_int(self, "--timeout", arg, -1, INT_MAX,
			             &x->timeout_ms))
				return EXIT_USAGE;
			break;
		case EXEC_READY_FD:
			if (opts_ready_fd(self, arg, &x->ready_fd))
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	*first = opts_index(&op);
	if (*first < argc && strcmp(argv[*first], "--") == 0)
		++*first; /* "exec -- ADDR ..." is odd, but clear */
	if (argc - *first < 2)
		return opts_usage_error(self, "expected ADDR -- CMD [ARGS]");
	if (strcmp(argv[*first + 1], "--") == 0 && argc - *first < 3)
		return opts_usage_error(self, "no command after --");
	return EXIT_OK;
}

/* Where the lines go: ADDR itself when it is a connection; a queue needs
 * --reply, or on one System V queue a --reply-type its readers can tell
 * from what exec takes. */
static int
exec_route(struct exec *x)
{
	if (x->reply_text) {
		x->out = &x->reply;
		return endpoint_start(&x->reply, x->cmd, x->reply_text, 0,
		                      x->timeout_ms);
	}
	x->out = &x->in;
	if (!(x->in.caps & IPK_CAP_QUEUE))
		return EXIT_OK;
	if ((x->in.caps & IPK_CAP_TYPES) && x->reply_type > 0 && x->type > 0 &&
	    x->reply_type != x->type)
		return EXIT_OK;
	return opts_usage_error(x->cmd,
	                        "%s is a queue: name where the lines go with "
	                        "--reply ADDR (on one System V queue, --type N "
	                        "and a different --reply-type M also do)",
	                        x->in.address);
}

static int
exec_cmd(const struct cmd *self, int argc, char **argv)
{
	struct exec x = { .cmd = self,
		          .count = -1,
		          .idle_ms = -1,
		          .timeout_ms = -1,
		          .ready_fd = -1,
		          .pidfd = -1,
		          .to_child = -1,
		          .from_child = { .fd = -1 } };
	const char *names[2];
	int first = 0, rc, status, err;

	rc = exec_parse(self, argc, argv, &x, &first);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	x.argv = argv + first + 1;
	if (strcmp(x.argv[0], "--") == 0)
		x.argv++;
	if (stop_init() != 0)
		return report_fail(self, "signals", -errno, NULL);
	rc = endpoint_start(&x.in, self, argv[first], 0, x.timeout_ms);
	if (rc != EXIT_OK)
		return rc;
	if ((x.type || x.reply_type) && !(x.in.caps & IPK_CAP_TYPES) &&
	    !(x.reply_text && x.reply_type)) {
		endpoint_close(&x.in, ENDPOINT_NO_LINGER);
		return opts_usage_error(self,
		                        "--type: %s has no message types "
		                        "(sysvmq has)",
		                        x.in.address);
	}
	rc = exec_route(&x);
	if (rc == EXIT_OK) {
		names[0] = endpoint_name(&x.in);
		names[1] = endpoint_name(x.out);
		report_ready(x.ready_fd, names, x.out == &x.in ? 1 : 2);
		rc = endpoint_accept(&x.in, x.timeout_ms);
	}
	if (rc == EXIT_OK && x.out == &x.reply)
		rc = endpoint_accept(&x.reply, x.timeout_ms);
	if (rc == EXIT_OK && (err = exec_spawn(&x)) != 0)
		rc = report_fail(self, x.argv[0], err, NULL);
	if (rc == EXIT_OK) {
		x.input_done = x.count == 0;
		exec_loop(&x);
		rc = x.rc;
		status = exec_reap(&x, stop_requested() || rc != EXIT_OK);
		if (rc == EXIT_OK && status > 0) {
			fprintf(stderr, "ipckit exec: %s: %s %d\n", x.argv[0],
			        status > 128 ? "killed by signal"
			                     : "exited with status",
			        status > 128 ? status - 128 : status);
			rc = EXIT_FAIL;
		}
	}
	lines_fini(&x.from_child);
	if (x.from_child.fd >= 0)
		close(x.from_child.fd);
	if (x.pidfd >= 0)
		close(x.pidfd);
	free(x.pend);
	err = endpoint_close(x.out,
	                     rc == EXIT_OK ? x.timeout_ms : ENDPOINT_NO_LINGER);
	if (rc == EXIT_OK && err)
		rc = report_exit_code(err);
	if (x.out != &x.in)
		endpoint_close(&x.in, ENDPOINT_NO_LINGER);
	return rc;
}

const struct cmd cmd_exec = {
	.name = "exec",
	.args = "ADDR -- CMD [ARGS...]",
	.summary = "run CMD as a coprocess: messages in on its stdin, its "
	           "output lines back as messages",
	.details =
	        "popen() both ways, over two pipes: each message from ADDR is "
	        "written to CMD's\nstandard input as a line; each line CMD "
	        "writes is sent back as a message, to\nADDR when it is a "
	        "connection, else to --reply ADDR (or, on one System V "
	        "queue,\nwith --reply-type M while --type N takes the "
	        "input).  CMD's input ends when\nthe connection does, after "
	        "-n messages, at the --until message, or after\n--idle ms "
	        "without one; exec then sends the rest of CMD's output and "
	        "exits\nwith 0 if CMD did (1 otherwise).  Ctrl-C stops CMD "
	        "too.  Put -- before CMD when\nit has options of its own.\n"
	        "Examples:\n"
	        "  ipckit exec listen:tcp:127.0.0.1:7000 -- tr a-z A-Z\n"
	        "  ipckit exec fifo:/tmp/in --reply fifo:/tmp/out -n 3 -- "
	        "sort -r\n"
	        "  ipckit exec sysvmq:1234 --type 1 --reply-type 2 -- bc -l",
	.opts =
	        (const struct opt[]){
	                { "reply", EXEC_REPLY, "ADDR",
	                  "send CMD's lines here (default: ADDR, if a "
	                  "connection)" },
	                { "count", EXEC_COUNT, "N",
	                  "feed N messages, then end CMD's input" },
	                { "until", EXEC_UNTIL, "TEXT",
	                  "end CMD's input at a message equal to TEXT (not "
	                  "fed)" },
	                { "idle", EXEC_IDLE, "MS",
	                  "end CMD's input after MS without a message" },
	                { "type", EXEC_TYPE, "N",
	                  "System V selector for the messages taken" },
	                { "reply-type", EXEC_REPLY_TYPE, "N",
	                  "System V type of the lines sent back" },
	                { "timeout", EXEC_TIMEOUT, "MS",
	                  "longest wait to connect or for room (default -1: "
	                  "no limit); exit 3 when it passes" },
	                { "ready-fd", EXEC_READY_FD, "N",
	                  "write \"ready ADDR [REPLY]\" to descriptor N once "
	                  "open or listening" },
	                { NULL, 0, NULL, NULL },
	        },
	.permute = true,
	.run = exec_cmd,
};
