// SPDX-License-Identifier: MIT
/* cmd_hub.c - `ipckit hub`'s table entry: options and help.  The code is
 * the helper program ipckit-hub (hub_main.c), which links SQLite and
 * OpenSSL; ipckit itself only carries this table, for dispatch, --help,
 * the man page and docs/cli.md, and execs the helper (helper.c). */
#include "cmd_hub.h"
#include "cmds.h"

static const struct opt hub_opts[] = {
	{ "config", OPT_CONFIG, "FILE", "settings file (docs/hub.md)" },
	{ "listen", OPT_LISTEN, "HOST:PORT",
	  "address to listen on (default 127.0.0.1:1511; port 0 picks one)" },
	{ "db", OPT_DB, "FILE", "SQLite database (default hub.db)" },
	{ "key-file", OPT_KEY, "FILE",
	  "password key, mode 0600 (default: the db path + .key)" },
	{ "registered-only", OPT_REGONLY, NULL, "refuse guests" },
	{ "set", OPT_SET, "KEY=VALUE", "any setting of the file; repeatable" },
	{ "ready-fd", OPT_READY, "N",
	  "write \"ready adc://HOST:PORT\" to fd N once listening" },
	{ "role", OPT_ROLE, "ROLE", "user add: user, op or admin" },
	{ "verbose", OPT_VERBOSE, NULL, "log state changes too" },
	{ NULL, 0, NULL, NULL },
};

const struct cmd cmd_hub = {
	.name = "hub",
	.args = "[user add|del|passwd|role|list|import ...]",
	.summary = "run an ADC hub (Direct Connect: chat, search, peer-to-peer "
	           "files), or manage its accounts",
	.details =
	        "ipckit hub [--config FILE] [--listen HOST:PORT] runs the hub "
	        "in the foreground;\nSIGHUP reloads the settings and roles, "
	        "SIGTERM or SIGINT stops it after telling users.\nClients "
	        "connect to adc://HOST:PORT (ncdc, EiskaltDC++, ipckit peer);\n"
	        "with --set tls=true also to adcs://HOST:PORT/?kp=... (the "
	        "keyprint is logged).\n"
	        "\n"
	        "Accounts (the password is read from the terminal without "
	        "echo, "
	        "or from stdin):\n"
	        "  ipckit hub user add NICK [--role user|op|admin]\n"
	        "  ipckit hub user passwd NICK\n"
	        "  ipckit hub user role NICK user|op|admin\n"
	        "  ipckit hub user del NICK\n"
	        "  ipckit hub user list\n"
	        "  ipckit hub user import [--role ROLE]   lines \"NICK "
	        "PASSWORD "
	        "[ROLE]\" on stdin\n"
	        "Each takes --db, --key-file or --config to find the "
	        "database.  docs/hub.md has the\nsettings, the chat commands "
	        "and the threat model.",
	.opts = hub_opts,
	.helper = "ipckit-hub", /* hub_main.c */
};
