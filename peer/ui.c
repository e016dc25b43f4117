// SPDX-License-Identifier: MIT
/* ui.c - the tty (GNU readline, callback interface) and batch faces. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "link.h"
#include "peer.h"
#include "ui.h"
#include "xalloc.h"

#define UI_MAX_FIELDS 12

void
ui_emit(struct peer *p, const char *ev, ...)
{
	const char *f[UI_MAX_FIELDS];
	int n = 0;
	va_list ap;
	const char *s;

	va_start(ap, ev);
	while ((s = va_arg(ap, const char *)) != NULL && n < UI_MAX_FIELDS)
		f[n++] = s;
	va_end(ap);
	p->ui->event(p, ev, f, n);
}

/* ---- batch ---- */

char *
ui_batch_escape(const char *s, bool last)
{
	size_t n = strlen(s);
	char *out = xmalloc(2 * n + 1), *o = out;

	for (; *s; s++) {
		if (*s == '\\') {
			*o++ = '\\';
			*o++ = '\\';
		} else if (*s == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (*s == ' ' && !last) {
			*o++ = '\\';
			*o++ = 's';
		} else if (*s == '\r') {
			*o++ = '\\';
			*o++ = 'r';
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

static void
batch_event(struct peer *p, const char *ev, const char *const *f, int n)
{
	(void)p;
	fputs(ev, stdout);
	for (int i = 0; i < n; i++) {
		char *e = ui_batch_escape(f[i], i == n - 1);

		putchar(' ');
		fputs(*e ? e : (i == n - 1 ? "" : "-"), stdout);
		free(e);
	}
	putchar('\n');
	fflush(stdout);
}

struct batch_state {
	struct link in; /* stdin as lines */
	bool watching;  /* stdin is read (after login) */
};

static void
batch_on_stdin(struct ipk_loop *loop, int fd, unsigned events, void *arg)
{
	struct peer *p = arg;
	struct batch_state *b = p->ui_state;
	ssize_t n, len;
	char *line;

	(void)loop;
	(void)fd;
	(void)events;
	if (b->in.in_cap - b->in.in_len < 4097) {
		b->in.in_cap = b->in.in_len + 65537;
		b->in.in = xrealloc(b->in.in, b->in.in_cap);
	}
	do
		n = read(b->in.fd, b->in.in + b->in.in_len, 4096);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n > 0)
		b->in.in_len += (size_t)n;
	while ((len = link_line(&b->in, &line)) >= 0) {
		if (len > 0 && line[len - 1] == '\r')
			line[len - 1] = '\0';
		peer_command(p, line);
		if (p->quitting)
			return;
	}
	if (n <= 0) {
		/* End of the commands: a clean quit. */
		ipk_loop_unwatch(p->loop, b->in.fd);
		b->watching = false;
		peer_quit(p, p->exit_code);
	}
}

static int
batch_start(struct peer *p)
{
	struct batch_state *b = xcalloc(1, sizeof(*b));

	link_init(&b->in, STDIN_FILENO);
	p->ui_state = b;
	return 0;
}

static void
batch_online(struct peer *p)
{
	struct batch_state *b = p->ui_state;

	if (b->watching)
		return;
	b->watching = true;
	ipk_loop_watch(p->loop, STDIN_FILENO, IPK_READ, batch_on_stdin, p);
}

static void
batch_stop(struct peer *p)
{
	struct batch_state *b = p->ui_state;

	if (b == NULL)
		return;
	if (b->watching)
		ipk_loop_unwatch(p->loop, STDIN_FILENO);
	b->in.fd = -1; /* stdin stays open */
	link_fini(&b->in);
	free(b);
	p->ui_state = NULL;
}

static bool
batch_prompt(struct peer *p, enum ui_prompt what)
{
	(void)p;
	(void)what;
	return false;
}

const struct ui_ops ui_batch = {
	.name = "batch",
	.start = batch_start,
	.stop = batch_stop,
	.online = batch_online,
	.event = batch_event,
	.prompt = batch_prompt,
};

/* ---- tty: GNU readline's callback interface ---- */

/* readline keeps global state, so there is one tty UI per process. */
static struct peer *tty_peer;
static enum ui_prompt tty_prompt_kind;
static bool tty_installed;
static const char *tty_prompt = "> ";
static bool tty_erase_echo; /* stdout is a terminal */

/* Human formats: %1..%9 are fields; the rest is literal. */
static const struct {
	const char *ev;
	const char *fmt;
} tty_formats[] = {
	{ "hub", "=====\nHello! This is %1\n%2\n=====" },
	{ "connecting", "Connecting to %1 ..." },
	{ "connected", "Connected to %1" },
	{ "tls", "Encrypted with %1; hub keyprint %2 (%3)" },
	{ "login", "Log-in success!! [%1]\n-----Chatting Room-----" },
	{ "login-failed", "Log-in fail: %2" },
	{ "disconnected", "Disconnected from the hub: %1" },
	{ "join", "[%1] is in the chat" },
	{ "leave", "[%1] is left the chat..." },
	{ "chat", "[%1] : %2" },
	{ "me", "* %1 %2" },
	{ "pm", "[%1 -> %2] : %3" },
	{ "pm-me", "* [%1 -> %2] %3" },
	{ "hubmsg", "[hub] %1" },
	{ "status", "[hub] %2" },
	{ "user-status", "[%1] status %2: %3" },
	{ "error", "error: %1" },
	{ "info", "%1" },
	{ "search", "searching (%1) ..." },
	{ "result", "%1. %2  %3  %4  %5  slots %6" },
	{ "share", "sharing %1 (as %2); hashing in the background" },
	{ "unshare", "no longer sharing %1" },
	{ "share-ready", "share ready: %1 files, %2 (%3 hashed now, %4)" },
	{ "download-queued", "download %1 waiting: %2 says %3" },
	{ "download-added", "download %1 queued: %2 (%3) from %4 source(s)" },
	{ "download-done", "download %1 done: %2 (%3)" },
	{ "download-failed", "download %1 failed: %2" },
	{ "download-error", "download %1: %2: %3" },
	{ "download", "%1. %2 [%3] %4% %5 of %6, %7/s, ETA %8, %9 source(s)" },
	{ "downloads-none", "no downloads" },
	{ "upload", "%1 <- %2 [%3] %4% %5 of %6, %7/s, ETA %8" },
	{ "uploads-none", "no uploads" },
	{ "upload-done", "uploaded %2 to %1 (%3 bytes)" },
	{ "upload-refused", "refused %1 a request for %2 (not shared)" },
	{ "refused", "refused a connection from %1" },
	{ "list", "file list of %1: %2 entries (/get N downloads one)" },
	{ "entry", "%1. %2  %3  %4" },
	{ "user", "%1  %2  share %3 (%4 files)  slots %5/%6  %7" },
	{ "users", "%1 users online" },
	{ "help", "%1" },
	{ "bye", "bye" },
};

static void
tty_format(char **out, const char *ev, const char *const *f, int n)
{
	const char *fmt = NULL;
	size_t cap = 256, len = 0;
	char *s = xmalloc(cap);

	for (size_t i = 0; i < sizeof(tty_formats) / sizeof(tty_formats[0]);
	     i++)
		if (strcmp(tty_formats[i].ev, ev) == 0)
			fmt = tty_formats[i].fmt;
	for (const char *c = fmt; c && *c; c++) {
		const char *piece = c;
		size_t pl = 1;

		if (c[0] == '%' && c[1] >= '1' && c[1] <= '9') {
			int k = c[1] - '1';

			piece = k < n ? f[k] : "";
			pl = strlen(piece);
			c++;
		}
		if (len + pl + 1 > cap) {
			cap = (len + pl + 1) * 2;
			s = xrealloc(s, cap);
		}
		memcpy(s + len, piece, pl);
		len += pl;
	}
	if (fmt == NULL) { /* unknown event: name and fields */
		len = (size_t)snprintf(s, cap, "%s", ev);
		for (int i = 0; i < n; i++) {
			size_t fl = strlen(f[i]);

			if (len + fl + 2 > cap) {
				cap = (len + fl + 2) * 2;
				s = xrealloc(s, cap);
			}
			s[len++] = ' ';
			memcpy(s + len, f[i], fl);
			len += fl;
		}
	}
	s[len] = '\0';
	*out = s;
}

static void
tty_print(const char *text)
{
	char *saved = NULL;
	int point = 0;
	bool shown = tty_installed && tty_prompt_kind != UI_PROMPT_PASSWORD;

	if (shown) {
		/* Save and clear the line being typed, print, redraw it. */
		saved = rl_copy_text(0, rl_end);
		point = rl_point;
		rl_save_prompt();
		rl_replace_line("", 0);
		rl_redisplay();
		fputs("\r\033[K", stdout);
	}
	fputs(text, stdout);
	fputc('\n', stdout);
	if (shown) {
		rl_restore_prompt();
		rl_replace_line(saved, 0);
		rl_point = point;
		rl_forced_update_display();
		free(saved);
	}
	fflush(stdout);
}

static void
tty_event(struct peer *p, const char *ev, const char *const *f, int n)
{
	char *s;

	(void)p;
	tty_format(&s, ev, f, n);
	/* Hub texts often end in newlines: no blank lines on screen. */
	for (size_t len = strlen(s); len > 0 && s[len - 1] == '\n'; len--)
		s[len - 1] = '\0';
	tty_print(s);
	free(s);
}

static void
tty_masked_redisplay(void)
{
	/* The password prompt shows the prompt and nothing typed. */
	fprintf(stdout, "\r\033[K%s", rl_display_prompt);
	fflush(stdout);
}

static void
tty_set_prompt(enum ui_prompt what)
{
	tty_prompt_kind = what;
	if (what == UI_PROMPT_PASSWORD) {
		rl_redisplay_function = tty_masked_redisplay;
		rl_set_prompt("PW: ");
	} else {
		rl_redisplay_function = rl_redisplay;
		rl_set_prompt(what == UI_PROMPT_NICK ? "ID: " : tty_prompt);
	}
	rl_on_new_line();
	rl_redisplay();
}

static void
tty_on_line(char *line)
{
	struct peer *p = tty_peer;
	enum ui_prompt kind = tty_prompt_kind;

	if (line == NULL) { /* Ctrl-D */
		fputc('\n', stdout);
		peer_command(p, "/exit");
		return;
	}
	if (kind == UI_PROMPT_PASSWORD) {
		tty_set_prompt(UI_PROMPT_NONE);
		peer_give_password(p, line);
		explicit_bzero(line, strlen(line));
	} else if (kind == UI_PROMPT_NICK) {
		tty_set_prompt(UI_PROMPT_NONE);
		if (*line)
			peer_give_nick(p, line);
		else
			tty_set_prompt(UI_PROMPT_NICK);
	} else {
		if (*line)
			add_history(line);
		/* A chat line comes back from the hub as "[me] : text":
		 * erase the typed copy so the room reads like a room. */
		if (*line && line[0] != '/' && tty_erase_echo)
			fputs("\033[1A\033[2K", stdout);
		peer_command(p, line);
	}
	free(line);
}

static void
tty_on_stdin(struct ipk_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	(void)arg;
	rl_callback_read_char();
}

static const char *const tty_commands[] = {
	"/users",     "/msg",     "/me",    "/search",  "/get",
	"/downloads", "/uploads", "/share", "/unshare", "/rehash",
	"/browse",    "/help",    "/exit",  NULL,
};

static char *
tty_complete_command(const char *text, int state)
{
	static size_t i, len;

	if (state == 0) {
		i = 0;
		len = strlen(text);
	}
	while (tty_commands[i]) {
		const char *c = tty_commands[i++];

		if (strncmp(c, text, len) == 0)
			return xstrdup(c);
	}
	return NULL;
}

static char *
tty_complete_nick(const char *text, int state)
{
	static const struct user **users;
	static size_t n, i, len;

	if (state == 0) {
		free(users);
		users = xcalloc(tty_peer->sess.n_users + 1, sizeof(*users));
		n = session_users(&tty_peer->sess, users,
		                  tty_peer->sess.n_users);
		i = 0;
		len = strlen(text);
	}
	while (i < n) {
		const struct user *u = users[i++];

		if (strncasecmp(u->nick, text, len) == 0)
			return xstrdup(u->nick);
	}
	free(users);
	users = NULL;
	return NULL;
}

static char **
tty_complete(const char *text, int start, int end)
{
	(void)end;
	rl_attempted_completion_over = 1;
	if (tty_prompt_kind != UI_PROMPT_NONE)
		return NULL;
	if (start == 0 && text[0] == '/')
		return rl_completion_matches(text, tty_complete_command);
	return rl_completion_matches(text, tty_complete_nick);
}

static void
tty_on_winch(struct ipk_loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	(void)arg;
	rl_resize_terminal();
}

static int
tty_start(struct peer *p)
{
	tty_peer = p;
	tty_erase_echo = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
	rl_readline_name = "ipckit";
	rl_attempted_completion_function = tty_complete;
	rl_callback_handler_install(tty_prompt, tty_on_line);
	tty_installed = true;
	ipk_loop_signal(p->loop, SIGWINCH, tty_on_winch, NULL);
	return ipk_loop_watch(p->loop, STDIN_FILENO, IPK_READ, tty_on_stdin, p);
}

static void
tty_stop(struct peer *p)
{
	if (!tty_installed)
		return;
	ipk_loop_unwatch(p->loop, STDIN_FILENO);
	rl_redisplay_function = rl_redisplay;
	rl_callback_handler_remove();
	tty_installed = false;
	tty_peer = NULL;
}

static bool
tty_prompt_fn(struct peer *p, enum ui_prompt what)
{
	(void)p;
	tty_set_prompt(what);
	return true;
}

const struct ui_ops ui_tty = {
	.name = "tty",
	.start = tty_start,
	.stop = tty_stop,
	.event = tty_event,
	.prompt = tty_prompt_fn,
};
