// SPDX-License-Identifier: MIT
/* cmd_chat.c - `ipckit chat --serve|--join [ADDR]`: the two-party chat of
 * the course's FIFO homework, over any mechanism.  Each side has one
 * channel per direction: a reader thread owns the incoming one and prints
 * the other side's lines, the main thread reads standard input and sends
 * on the outgoing one.  "quit" from either side ends both.
 *
 *   fifo (the default) and other queues: two queues the server makes,
 *       ADDR.c2s and ADDR.s2c, removed when it ends, Ctrl-C included;
 *   sysvmq: one queue, type 1 to the server and type 2 to the client;
 *   connections: the client connects twice, and each connection's first
 *       message, "ipckit-chat c2s|s2c TOKEN", tells the server which way
 *       it goes and that both come from the same client. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "endpoint.h"
#include "escape.h"
#include "ipcobj.h"
#include "lines.h"
#include "opts.h"
#include "report.h"
#include "stop.h"
#include "xalloc.h"

#define CHAT_QUIT       "quit"
#define CHAT_HELLO      "ipckit-chat"
#define CHAT_HELLO_MS   5000 /* a connection must say hello by then */
#define CHAT_STRAYS_MAX 16   /* connections that are not our client */
#define CHAT_LINE_MAX   65536
#define CHAT_BYE_MS     1000 /* for the "quit" sent on Ctrl-C */
#define CHAT_ALIVE_MS   1000 /* client over queues: is the server there? */

enum {
	CHAT_SERVE = 's',
	CHAT_JOIN = 'j',
	CHAT_TIMEOUT = 256,
	CHAT_READY_FD,
};

struct chat {
	const struct cmd *cmd;
	bool serve;
	const char *me, *peer;  /* "[SERVER]", "[CLIENT]" */
	struct endpoint lis;    /* server over connections: the listener */
	struct endpoint rx, tx; /* rx: the reader thread's; tx: main's */
	long rx_type, tx_type;  /* sysvmq: selector and type, else 0 */
	char *addr[2];          /* owned: the queues' addresses (c2s, s2c) */
	int timeout_ms;
	bool tty;                 /* prompts, on a terminal */
	pthread_mutex_t out;      /* stdout and at_prompt */
	bool at_prompt;           /* the prompt ends the current line */
	atomic_bool peer_done;    /* the other side quit or went away */
	struct ipcobj_pid server; /* client over queues: the server, */
	bool server_known;        /* when ipckit noted it */
	bool sent_quit;           /* main told the other side "quit" */
};

static void
chat_prompt(struct chat *c)
{
	if (!c->tty)
		return;
	pthread_mutex_lock(&c->out);
	printf("%s ", c->me);
	fflush(stdout);
	c->at_prompt = true;
	pthread_mutex_unlock(&c->out);
}

/* A line of ours on stdout, over the prompt if one is showing. */
static void
chat_say(struct chat *c, const char *tag, const void *p, size_t n)
{
	pthread_mutex_lock(&c->out);
	if (c->at_prompt)
		fputs("\r\033[K", stdout);
	if (tag)
		printf("%s ", tag);
	escape_text(stdout, p, n);
	putchar('\n');
	if (c->at_prompt)
		printf("%s ", c->me);
	fflush(stdout);
	pthread_mutex_unlock(&c->out);
}

static void
chat_quit_line(struct chat *c)
{
	pthread_mutex_lock(&c->out);
	if (c->at_prompt)
		fputs("\r\033[K", stdout);
	puts("Quit chatting");
	c->at_prompt = false;
	fflush(stdout);
	pthread_mutex_unlock(&c->out);
}

/*
 * Queues carry no end of the peer: a server killed with SIGKILL says
 * nothing.  On joining, the client looks up once the process ipckit noted
 * as the creator of the queue it reads (the server); while it waits, it
 * checks that process alone (pid and start time, so a reused pid does not
 * pass).  Nothing to check by (another user's server, no note): it waits
 * as over a connection.
 */
static void
chat_find_server(struct chat *c)
{
	struct ipcobj_set s = { 0 };
	const char *why;
	int i;

	if (ipcobj_scan(&s) == 0 &&
	    (i = ipcobj_find(&s, c->addr[1], &why)) >= 0) {
		struct ipcobj_pid cr = s.v[i].creator;

		if (cr.pid != getpid() && ipcobj_pid_check(&cr) && cr.alive) {
			c->server = cr;
			c->server_known = true;
		}
	}
	ipcobj_free(&s);
}

static void *
chat_reader(void *arg)
{
	struct chat *c = arg;
	/* Only a client over queues polls; connections end by themselves. */
	int wait_ms = c->server_known ? CHAT_ALIVE_MS : -1;

	for (;;) {
		struct ipk_msginfo info = { .type = c->rx_type };
		ssize_t n = endpoint_recv(&c->rx, &info, wait_ms);

		if (n == -ECANCELED)
			return NULL; /* main is ending the chat */
		if (n == -ETIMEDOUT && wait_ms >= 0) {
			if (ipcobj_pid_check(&c->server) && c->server.alive)
				continue;
			n = -EPIPE;
		}
		if (n < 0) {
			static const char gone[] = "(the other side left)";

			if (n != -EPIPE)
				endpoint_fail(&c->rx, (int)n);
			chat_say(c, NULL, gone, sizeof(gone) - 1);
			break;
		}
		chat_say(c, c->peer, c->rx.buf, (size_t)n);
		if ((size_t)n == strlen(CHAT_QUIT) &&
		    memcmp(c->rx.buf, CHAT_QUIT, (size_t)n) == 0)
			break;
	}
	atomic_store(&c->peer_done, true);
	chat_quit_line(c);
	stop_request(); /* wake main from its read of stdin */
	return NULL;
}

/* ADDR with suffix before its options: fifo:/tmp/chat?mode=0660 and
 * ".c2s" make fifo:/tmp/chat.c2s?mode=0660. */
static char *
chat_derive(const char *addr, const char *suffix)
{
	size_t at = strcspn(addr, "?");

	return xasprintf("%.*s%s%s", (int)at, addr, suffix, addr + at);
}

static char *
chat_default_address(void)
{
	const char *run = getenv("XDG_RUNTIME_DIR");

	if (run && run[0] == '/')
		return xasprintf("fifo:%s/ipckit-chat", run);
	return xasprintf("fifo:/tmp/ipckit-chat-%u", (unsigned)getuid());
}

/* The server's queues may be left from a server killed with SIGKILL, or
 * belong to a chat going on: refuse only the second. */
static int
chat_check_free(const char *addr)
{
	struct ipcobj_set s = { 0 };
	const char *why;
	int i, rc = EXIT_OK;

	if (ipcobj_scan(&s) == 0 && (i = ipcobj_find(&s, addr, &why)) >= 0 &&
	    ipcobj_users_besides(&s.v[i], getpid()) > 0) {
		fprintf(stderr,
		        "ipckit chat: %s: a chat is going on there (process "
		        "%ld has it); choose another address\n",
		        addr,
		        s.v[i].n_users ? (long)s.v[i].users[0]
		                       : (long)s.v[i].last[0].pid);
		rc = EXIT_FAIL;
	}
	ipcobj_free(&s);
	return rc;
}

static int
chat_open_queues(struct chat *c, const char *addr)
{
	unsigned flags = c->serve ? ENDPOINT_OWN : ENDPOINT_NOCREATE;
	int rc = EXIT_OK;

	if (c->lis.caps & IPK_CAP_TYPES) {
		/* One System V queue: the type says which way. */
		c->addr[0] = xstrdup(addr);
		c->addr[1] = xstrdup(addr);
		c->rx_type = c->serve ? 1 : 2;
		c->tx_type = c->serve ? 2 : 1;
	} else {
		c->addr[0] = chat_derive(addr, ".c2s");
		c->addr[1] = chat_derive(addr, ".s2c");
	}
	for (int i = 0; i < 2 && c->serve && rc == EXIT_OK; i++)
		rc = chat_check_free(c->addr[i]);
	if (rc == EXIT_OK)
		rc = endpoint_start(&c->rx, c->cmd, c->addr[c->serve ? 0 : 1],
		                    flags, c->timeout_ms);
	if (rc == EXIT_OK)
		rc = endpoint_start(&c->tx, c->cmd, c->addr[c->serve ? 1 : 0],
		                    flags, c->timeout_ms);
	if (rc == EXIT_OK && !c->serve)
		chat_find_server(c);
	if (rc != EXIT_OK && !c->serve)
		fprintf(stderr,
		        "ipckit chat: no chat at %s (start one with: ipckit "
		        "chat --serve %s)\n",
		        addr, addr);
	return rc;
}

static void
chat_token(char *buf, size_t cap)
{
	unsigned char r[8] = { 0 };

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memcpy(r, &(pid_t){ getpid() }, sizeof(pid_t));
	snprintf(buf, cap, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2],
	         r[3], r[4], r[5], r[6], r[7]);
}

/* The first message of a connection: 1 when it is "ipckit-chat WAY TOKEN"
 * (TOKEN copied out when *token is empty, else compared). */
static int
chat_hello(struct endpoint *conn, const char *way, char *token, size_t cap)
{
	char want[64];
	ssize_t n = endpoint_recv(conn, NULL, CHAT_HELLO_MS);
	size_t wl;

	if (n < 0)
		return n == -ECANCELED ? -ECANCELED : 0;
	wl = (size_t)snprintf(want, sizeof(want), "%s %s ", CHAT_HELLO, way);
	if ((size_t)n <= wl || (size_t)n - wl >= cap ||
	    memcmp(conn->buf, want, wl) != 0)
		return 0;
	if (token[0] == '\0') {
		memcpy(token, conn->buf + wl, (size_t)n - wl);
		token[(size_t)n - wl] = '\0';
		return 1;
	}
	return strlen(token) == (size_t)n - wl &&
	       memcmp(token, conn->buf + wl, (size_t)n - wl) == 0;
}

/* Server over connections: one client's two connections, c2s then s2c. */
static int
chat_accept_pair(struct chat *c)
{
	char token[64];

	for (int strays = 0; strays < CHAT_STRAYS_MAX; strays++) {
		int rc, k;

		token[0] = '\0';
		rc = endpoint_take(&c->lis, &c->rx, c->timeout_ms);
		if (rc != EXIT_OK)
			return rc;
		k = chat_hello(&c->rx, "c2s", token, sizeof(token));
		if (k == 1) {
			rc = endpoint_take(&c->lis, &c->tx, CHAT_HELLO_MS);
			if (rc != EXIT_OK) {
				endpoint_close(&c->rx, ENDPOINT_NO_LINGER);
				return rc;
			}
			k = chat_hello(&c->tx, "s2c", token, sizeof(token));
			if (k == 1)
				return EXIT_OK;
			endpoint_close(&c->tx, ENDPOINT_NO_LINGER);
		}
		endpoint_close(&c->rx, ENDPOINT_NO_LINGER);
		if (k == -ECANCELED)
			return report_fail(c->cmd, c->lis.text, -ECANCELED,
			                   NULL);
		fprintf(stderr,
		        "ipckit chat: %s: closed a connection that was not "
		        "an ipckit chat client\n",
		        endpoint_name(&c->lis));
	}
	return report_fail(c->cmd, c->lis.text, -EPROTO,
	                   "too many connections that were not an ipckit "
	                   "chat client");
}

static int
chat_join_conns(struct chat *c, const char *addr)
{
	char token[32], hello[64];
	int rc;
	ssize_t n;

	chat_token(token, sizeof(token));
	rc = endpoint_start(&c->tx, c->cmd, addr, 0, c->timeout_ms);
	if (rc != EXIT_OK)
		return rc;
	snprintf(hello, sizeof(hello), "%s c2s %s", CHAT_HELLO, token);
	n = endpoint_send(&c->tx, hello, strlen(hello), NULL, c->timeout_ms);
	if (n < 0)
		return endpoint_fail(&c->tx, (int)n);
	rc = endpoint_start(&c->rx, c->cmd, addr, 0, c->timeout_ms);
	if (rc != EXIT_OK)
		return rc;
	snprintf(hello, sizeof(hello), "%s s2c %s", CHAT_HELLO, token);
	n = endpoint_send(&c->rx, hello, strlen(hello), NULL, c->timeout_ms);
	return n < 0 ? endpoint_fail(&c->rx, (int)n) : EXIT_OK;
}

static int
chat_open(struct chat *c, const char *addr, int ready_fd)
{
	char *listen_text;
	const char *name;
	int rc, err;

	err = ipk_addr_caps(addr, &c->lis.caps);
	if (err)
		return report_fail(c->cmd, addr, err, ipk_errdetail());
	if (c->lis.caps & IPK_CAP_QUEUE) {
		rc = chat_open_queues(c, addr);
		name = addr;
	} else if (!c->serve) {
		rc = chat_join_conns(c, addr);
		name = addr;
	} else {
		listen_text = xasprintf("%s%s", ENDPOINT_LISTEN, addr);
		rc = endpoint_start(&c->lis, c->cmd, listen_text, 0,
		                    c->timeout_ms);
		name = rc == EXIT_OK ? endpoint_name(&c->lis) : addr;
		if (rc == EXIT_OK) {
			report_ready(ready_fd, &name, 1);
			ready_fd = -1;
			rc = chat_accept_pair(c);
		}
		endpoint_close(&c->lis, ENDPOINT_NO_LINGER);
		free(listen_text);
		c->lis.text = NULL;
	}
	if (rc == EXIT_OK)
		report_ready(ready_fd, &name, 1);
	return rc;
}

/* The main thread: stdin lines to the other side until "quit", the end
 * of input, the other side's quit, or a signal. */
static int
chat_talk(struct chat *c)
{
	struct lines l;
	const char *line;
	size_t len, max = ipk_max_msg(c->tx.ch);
	int rc = EXIT_OK;
	bool bye = false; /* we must tell the other side */

	lines_init(&l, STDIN_FILENO, max < CHAT_LINE_MAX ? max : CHAT_LINE_MAX);
	for (;;) {
		struct ipk_msginfo info = { .type = c->tx_type };
		ssize_t n;
		int k;

		chat_prompt(c);
		k = lines_next(&l, &line, &len);
		pthread_mutex_lock(&c->out);
		c->at_prompt = false;
		pthread_mutex_unlock(&c->out);
		if (k == -EMSGSIZE) {
			fprintf(stderr,
			        "ipckit chat: a line longer than %zu "
			        "bytes was not sent\n",
			        l.max);
			continue;
		}
		if (k <= 0) {
			/* End of input is a quit; so is a signal, unless the
			 * other side has ended the chat already. */
			bye = !atomic_load(&c->peer_done);
			if (k < 0 && !stop_requested())
				rc = report_fail(c->cmd, "standard input", k,
				                 NULL);
			break;
		}
		n = endpoint_send(&c->tx, line, len, &info, -1);
		if (n == -ECANCELED) {
			bye = !atomic_load(&c->peer_done);
			break;
		}
		if (n < 0) {
			rc = endpoint_fail(&c->tx, (int)n);
			break;
		}
		if (len == strlen(CHAT_QUIT) &&
		    memcmp(line, CHAT_QUIT, len) == 0) {
			c->sent_quit = true;
			chat_quit_line(c);
			break;
		}
	}
	lines_fini(&l);
	if (bye) {
		struct ipk_msginfo info = { .type = c->tx_type };

		/* Best effort, and bounded: the other side may be gone. */
		c->sent_quit = ipk_sendx(c->tx.ch, CHAT_QUIT, strlen(CHAT_QUIT),
		                         &info, CHAT_BYE_MS) >= 0;
		chat_quit_line(c);
	}
	return rc;
}

/*
 * The server removes its queues when it ends, and removing a System V
 * queue destroys the messages in it: the "quit" it has just sent would
 * never reach a client that had not read it yet.  So a server that sent
 * "quit" to a client still there waits, at most CHAT_BYE_MS, until the
 * queue it sends into (addr[1]) holds no message (the kernel's count;
 * over a connection, a FIFO or a POSIX queue there is nothing to wait
 * for, as their readers keep what was sent).
 */
static void
chat_wait_taken(struct chat *c)
{
	struct timespec tick = { 0, 10 * 1000000L };

	if (c->addr[1] == NULL)
		return; /* a connection */
	for (int waited = 0; waited < CHAT_BYE_MS; waited += 10) {
		if (ipcobj_sysvmq_messages(c->addr[1]) <= 0)
			return;
		nanosleep(&tick, NULL);
	}
}

/* EXIT_OK to go on, -1 after --help (exit 0), else the exit code. */
static int
chat_parse(const struct cmd *self, int argc, char **argv, struct chat *c,
           int *mode, int *ready_fd, const char **addr)
{
	struct opts op;
	const char *arg;
	int key, first;

	opts_init(&op, self, argc, argv);
	while ((key = opts_next(&op, &arg)) != -1) {
		switch (key) {
		case OPT_HELP:
			return -1;
		case CHAT_SERVE:
		case CHAT_JOIN:
			if (*mode && *mode != key)
				return opts_usage_error(self, "--serve or "
				                              "--join, not "
				                              "both");
			*mode = key;
			break;
		case CHAT_TIMEOUT:
			if (opts_int(self, "--timeout", arg, -1, INT_MAX,
			             &c->timeout_ms))
				return EXIT_USAGE;
			break;
		case CHAT_READY_FD:
			if (opts_ready_fd(self, arg, ready_fd))
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (*mode == 0)
		return opts_usage_error(self, "say --serve or --join");
	first = opts_index(&op);
	if (argc - first > 1)
		return opts_usage_error(self, "one address at most");
	*addr = first < argc ? argv[first] : NULL;
	return EXIT_OK;
}

static int
chat_cmd(const struct cmd *self, int argc, char **argv)
{
	struct chat c = { .cmd = self, .timeout_ms = -1 };
	const char *addr = NULL;
	char *dflt = NULL;
	int mode = 0, ready_fd = -1, rc;
	pthread_t reader;

	rc = chat_parse(self, argc, argv, &c, &mode, &ready_fd, &addr);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	c.serve = mode == CHAT_SERVE;
	c.me = c.serve ? "[SERVER]" : "[CLIENT]";
	c.peer = c.serve ? "[CLIENT]" : "[SERVER]";
	c.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (addr == NULL)
		addr = dflt = chat_default_address();
	/* Before any thread: the handlers and the mask are inherited. */
	if (stop_init() != 0)
		return report_fail(self, "signals", -errno, NULL);
	pthread_mutex_init(&c.out, NULL);
	rc = chat_open(&c, addr, ready_fd);
	if (rc == EXIT_OK && pthread_create(&reader, NULL, chat_reader, &c)) {
		rc = report_fail(self, "thread", -EAGAIN, NULL);
	} else if (rc == EXIT_OK) {
		rc = chat_talk(&c);
		stop_request(); /* the reader ends too */
		pthread_join(reader, NULL);
		if (c.serve && c.sent_quit && !atomic_load(&c.peer_done))
			chat_wait_taken(&c);
	}
	/* The server's queues go now, whatever ended the chat. */
	endpoint_close(&c.rx, ENDPOINT_NO_LINGER);
	endpoint_close(&c.tx, ENDPOINT_NO_LINGER);
	pthread_mutex_destroy(&c.out);
	free(c.addr[0]);
	free(c.addr[1]);
	free(dflt);
	return rc;
}

const struct cmd cmd_chat = {
	.name = "chat",
	.args = "--serve|--join [ADDR]",
	.summary = "two-party chat: lines from stdin to the other side, its "
	           "lines printed",
	.details =
	        "The server makes the channels, the client joins them; each "
	        "prints the other's\nlines as \"[CLIENT] hello\" or \"[SERVER] "
	        "hi\" while it sends what is typed.\n\"quit\" (or the end of "
	        "input, or Ctrl-C) on either side ends both with \"Quit\n"
	        "chatting\".  ADDR defaults to a FIFO pair, "
	        "fifo:$XDG_RUNTIME_DIR/ipckit-chat\n(else "
	        "/tmp/ipckit-chat-UID).  A queue address makes two queues, "
	        "ADDR.c2s and\nADDR.s2c (sysvmq: one queue, types 1 and 2), "
	        "which the server removes when it\nends, Ctrl-C included; a "
	        "connection address (unix:, tcp:, ...) is listened on\nby the "
	        "server and connected to by the client.\n"
	        "Examples:\n"
	        "  ipckit chat --serve            # then, in another "
	        "terminal: ipckit chat --join\n"
	        "  ipckit chat --serve sysvmq:1234\n"
	        "  ipckit chat --serve tcp:127.0.0.1:7000    # ipckit chat "
	        "--join tcp:127.0.0.1:7000",
	.opts =
	        (const struct opt[]){
	                { "serve", CHAT_SERVE, NULL,
	                  "make the channels and wait for the other side" },
	                { "join", CHAT_JOIN, NULL,
	                  "join the chat a server made" },
	                { "timeout", CHAT_TIMEOUT, "MS",
	                  "longest wait to open or connect (default -1: no "
	                  "limit)" },
	                { "ready-fd", CHAT_READY_FD, "N",
	                  "write \"ready ADDR\" to descriptor N once the "
	                  "chat can start" },
	                { NULL, 0, NULL, NULL },
	        },
	.permute = true,
	.run = chat_cmd,
};
