// SPDX-License-Identifier: MIT
/* hub_main.c - ipckit-hub, the program behind `ipckit hub` (ipckit execs
 * it, helper.c): run the ADC hub, and `ipckit hub user ...` to manage its
 * accounts.  Passwords come from the terminal (no echo) or from stdin,
 * never from the command line (argv is public in /proc).  The options and
 * help are cmd_hub.c's table, which ipckit carries too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmd_hub.h"
#include "cmds.h"
#include "config.h"
#include "log.h"
#include "opts.h"
#include "server.h"
#include "store.h"
#include "xalloc.h"

#include <openssl/crypto.h>

#define HUB_MAX_SET 32

struct hub_args {
	const char *sets[HUB_MAX_SET + 4];
	int n_sets;
	const char *config;
	int ready_fd;
	char *owned[HUB_MAX_SET]; /* "key=value" strings made here */
	int n_owned;
	const char *role;
	bool verbose;
};

static void
hub_args_fini(struct hub_args *a)
{
	for (int i = 0; i < a->n_owned; i++)
		free(a->owned[i]);
}

/* ---- passwords ---- */

/* One line from fd 0; without echo when it is a terminal.  0, or -1. */
static int
hub_read_line(const char *prompt, char *buf, size_t cap)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO);
	size_t n = 0;
	int rc = 0;

	if (tty) {
		if (tcgetattr(STDIN_FILENO, &old) != 0)
			return -1;
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) != 0)
			return -1;
	}
	for (;;) {
		char ch;
		ssize_t r = read(STDIN_FILENO, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = n > 0 ? 0 : -1;
			break;
		}
		if (ch == '\n')
			break;
		if (n + 1 >= cap) {
			rc = -1; /* too long: refuse rather than truncate */
			continue;
		}
		buf[n++] = ch;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return rc;
}

static int
hub_read_password(const char *nick, char *pw, size_t cap)
{
	char prompt[400], again[STORE_PW_MAX + 2];

	snprintf(prompt, sizeof(prompt), "password for %s: ", nick);
	if (hub_read_line(prompt, pw, cap) != 0 || pw[0] == '\0') {
		fprintf(stderr,
		        "ipckit hub: no password read (empty, or "
		        "longer than %d bytes)\n",
		        STORE_PW_MAX);
		return -1;
	}
	if (isatty(STDIN_FILENO)) {
		if (hub_read_line("again: ", again, sizeof(again)) != 0 ||
		    strcmp(again, pw) != 0) {
			OPENSSL_cleanse(again, sizeof(again));
			fprintf(stderr, "ipckit hub: the passwords differ\n");
			return -1;
		}
		OPENSSL_cleanse(again, sizeof(again));
	}
	return 0;
}

/* ---- hub user ... ---- */

static void
hub_list_cb(const char *nick, enum role role, long long created, void *arg)
{
	char when[32];
	time_t t = (time_t)created;
	struct tm tm;

	(void)arg;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	printf("%-24s %-6s %s\n", nick, role_name(role), when);
}

static int
hub_open_store(const struct hub_args *a, struct store **st)
{
	struct server_opts so = { .config_path = a->config,
		                  .overrides = a->sets,
		                  .n_overrides = a->n_sets,
		                  .ready_fd = -1 };
	struct hub_config cfg;
	char err[1024], key[4096];
	int rc = 0;

	if (server_load_config(&so, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "ipckit hub: %s\n", err);
		config_fini(&cfg);
		return EXIT_USAGE;
	}
	snprintf(key, sizeof(key), "%s", cfg.key_file ? cfg.key_file : "");
	if (!key[0])
		snprintf(key, sizeof(key), "%s.key", cfg.db);
	if (store_open(st, cfg.db, key, true, err, sizeof(err)) != 0) {
		fprintf(stderr, "ipckit hub: %s\n", err);
		rc = EXIT_FAIL;
	}
	config_fini(&cfg);
	return rc;
}

/* import: "NICK PASSWORD [ROLE]" per line on stdin, one transaction. */
static int
hub_user_import(struct store *st, const char *deflt)
{
	char line[1024];
	unsigned n = 0, lineno = 0;
	int rc = EXIT_OK;

	store_begin(st);
	while (fgets(line, sizeof(line), stdin)) {
		char *nick = strtok(line, " \t\r\n"),
		     *pw = strtok(NULL, " \t\r\n"),
		     *r = strtok(NULL, " \t\r\n");
		enum role role;

		lineno++;
		if (nick == NULL || nick[0] == '#')
			continue;
		if (pw == NULL || role_parse(r ? r : deflt, &role) != 0) {
			fprintf(stderr,
			        "ipckit hub: stdin:%u: expected NICK "
			        "PASSWORD [user|op|admin]\n",
			        lineno);
			rc = EXIT_FAIL;
			break;
		}
		if (store_user_add(st, nick, pw, role) != 0 &&
		    store_user_passwd(st, nick, pw) != 0) {
			fprintf(stderr, "ipckit hub: stdin:%u: %s\n", lineno,
			        store_error(st));
			rc = EXIT_FAIL;
			break;
		}
		n++;
	}
	OPENSSL_cleanse(line, sizeof(line));
	if (store_commit(st) != 0) {
		fprintf(stderr, "ipckit hub: %s\n", store_error(st));
		return EXIT_FAIL;
	}
	if (rc == EXIT_OK)
		fprintf(stderr, "imported %u accounts\n", n);
	return rc;
}

static int
hub_user(const struct cmd *self, struct hub_args *a, int argc, char **argv)
{
	char pw[STORE_PW_MAX + 2];
	struct store *st = NULL;
	const char *verb = argc > 0 ? argv[0] : "";
	const char *nick = argc > 1 ? argv[1] : NULL;
	enum role role = ROLE_USER;
	int rc, need = 2;

	if (strcmp(verb, "list") == 0 || strcmp(verb, "import") == 0)
		need = 1;
	else if (strcmp(verb, "role") == 0)
		need = 3;
	else if (strcmp(verb, "add") && strcmp(verb, "del") &&
	         strcmp(verb, "passwd"))
		return opts_usage_error(self, "hub user: expected add, del, "
		                              "passwd, list, role or import");
	if (argc != need)
		return opts_usage_error(self, "hub user %s: expected %s", verb,
		                        need == 1   ? "no arguments"
		                        : need == 2 ? "NICK"
		                                    : "NICK ROLE");
	if ((need == 3 && role_parse(argv[2], &role) != 0) ||
	    (a->role && role_parse(a->role, &role) != 0))
		return opts_usage_error(self, "role must be user, op or admin");
	rc = hub_open_store(a, &st);
	if (rc != 0)
		return rc;
	if (strcmp(verb, "list") == 0) {
		rc = store_user_list(st, hub_list_cb, NULL);
	} else if (strcmp(verb, "import") == 0) {
		rc = hub_user_import(st, a->role ? a->role : "user");
		store_close(st);
		return rc;
	} else if (strcmp(verb, "del") == 0) {
		rc = store_user_del(st, nick);
	} else if (strcmp(verb, "role") == 0) {
		rc = store_user_set_role(st, nick, role);
	} else {
		if (hub_read_password(nick, pw, sizeof(pw)) != 0) {
			store_close(st);
			return EXIT_FAIL;
		}
		rc = strcmp(verb, "add") == 0
		             ? store_user_add(st, nick, pw, role)
		             : store_user_passwd(st, nick, pw);
		OPENSSL_cleanse(pw, sizeof(pw));
	}
	if (rc != 0)
		fprintf(stderr, "ipckit hub: user %s: %s\n", verb,
		        store_error(st));
	else if (strcmp(verb, "add") == 0)
		fprintf(stderr, "%s: account added (%s)\n", nick,
		        role_name(role));
	else if (strcmp(verb, "role") == 0)
		fprintf(stderr, "%s: role set to %s\n", nick, role_name(role));
	else if (strcmp(verb, "list") != 0)
		fprintf(stderr, "%s: %s\n", nick,
		        strcmp(verb, "del") == 0 ? "account deleted"
		                                 : "password changed");
	store_close(st);
	return rc == 0 ? EXIT_OK : EXIT_FAIL;
}

static int
hub_run(const struct cmd *self, int argc, char **argv)
{
	struct hub_args a = { .ready_fd = -1 };
	char *operands[8];
	int n_ops = 0;
	struct opts o;
	const char *arg;
	int key;

	/* Options may come before or after the operands ("hub user add
	 * alice --role op"): parse, take an operand, go on. */
	while (argc > 0) {
		opts_init(&o, self, argc, argv);
		while ((key = opts_next(&o, &arg)) != -1) {
			const char *kv = NULL;

			switch (key) {
			case OPT_HELP:
				return EXIT_OK;
			case OPT_CONFIG:
				a.config = arg;
				break;
			case OPT_LISTEN:
				kv = "listen";
				break;
			case OPT_DB:
				kv = "db";
				break;
			case OPT_KEY:
				kv = "key_file";
				break;
			case OPT_REGONLY:
				a.sets[a.n_sets++] = "registered_only=true";
				break;
			case OPT_SET:
				if (a.n_sets >= HUB_MAX_SET)
					return opts_usage_error(
					        self, "too many --set");
				a.sets[a.n_sets++] = arg;
				break;
			case OPT_READY:
				if (opts_ready_fd(self, arg, &a.ready_fd) != 0)
					return EXIT_USAGE;
				break;
			case OPT_ROLE:
				a.role = arg;
				break;
			case OPT_VERBOSE:
				a.verbose = true;
				break;
			default:
				return EXIT_USAGE;
			}
			if (kv) {
				if (a.n_sets >= HUB_MAX_SET)
					return opts_usage_error(
					        self, "too many settings");
				a.owned[a.n_owned] =
				        xasprintf("%s=%s", kv, arg);
				a.sets[a.n_sets++] = a.owned[a.n_owned++];
			}
		}
		argc -= opts_index(&o);
		argv += opts_index(&o);
		if (argc > 0) {
			if (n_ops ==
			    (int)(sizeof(operands) / sizeof(*operands)))
				return opts_usage_error(self, "too many "
				                              "arguments");
			operands[n_ops++] = argv[0];
			/* getopt wants argv[0] to be a program name */
		}
	}
	log_init("hub", a.verbose ? LOG_DEBUG : LOG_INFO);
	/* The database holds sealed passwords, bans and chat: ours only. */
	umask(077);
	if (n_ops > 0 && strcmp(operands[0], "user") == 0)
		key = hub_user(self, &a, n_ops - 1, operands + 1);
	else if (n_ops > 0)
		key = opts_usage_error(self, "unexpected '%s'", operands[0]);
	else
		key = server_run(
		        &(struct server_opts){ .config_path = a.config,
		                               .overrides = a.sets,
		                               .n_overrides = a.n_sets,
		                               .ready_fd = a.ready_fd });
	hub_args_fini(&a);
	return key;
}

/* argv[0] is this program; the rest is what followed `ipckit hub`. */
int
main(int argc, char **argv)
{
	if (argc < 1)
		return EXIT_USAGE;
	return hub_run(&cmd_hub, argc, argv);
}
