// SPDX-License-Identifier: MIT
/* cmd_peer.c - `ipckit peer`'s table entry: options and help.  The code
 * is the helper program ipckit-peer (peer_main.c), which links OpenSSL,
 * SQLite, expat, bzip2 and readline; ipckit carries only this table and
 * execs the helper (helper.c). */
#include "cmd_peer.h"
#include "cmds.h"

static const struct opt peer_opts[] = {
	{ "nick", 'n', "NICK", "log in as NICK (else the ID: prompt asks)" },
	{ "password-file", OPT_PASSWORD_FILE, "FILE",
	  "read the password from the first line of FILE" },
	{ "password-env", OPT_PASSWORD_ENV, "VAR",
	  "read the password from environment variable VAR" },
	{ "description", 'd', "TEXT", "the description others see" },
	{ "share", 's', "DIR", "share DIR (repeatable)" },
	{ "listen", 'l', "HOST:PORT",
	  "active mode: accept TCP and UDP on HOST:PORT (0: any port)" },
	{ "slots", OPT_SLOTS, "N", "upload slots (default 3)" },
	{ "state-dir", OPT_STATE_DIR, "DIR",
	  "hash cache and partial downloads (default "
	  "~/.local/state/ipckit/peer)" },
	{ "downloads", OPT_DOWNLOADS, "DIR",
	  "finished downloads (default $XDG_DOWNLOAD_DIR or ~/Downloads)" },
	{ "batch", OPT_BATCH, NULL,
	  "commands on stdin, one event per line on stdout" },
	{ "timeout", OPT_TIMEOUT, "MS", "give up logging in after MS" },
	{ "ready-fd", OPT_READY_FD, "N",
	  "write \"ready active|passive\" to fd N once logged in" },
	{ "verbose", 'v', NULL, "log connections to stderr" },
	{ NULL, 0, NULL, NULL },
};

const struct cmd cmd_peer = {
	.name = "peer",
	.args = "adc://HOST:PORT | adcs://HOST:PORT[/?kp=SHA256/KEYPRINT]",
	.summary = "chat and share files on an ADC hub (a DC client)",
	.details = "Logs in to an ADC hub (ours, uhub or any other), shows the "
	           "hub's name and messages,\nasks ID: and PW: when not given, "
	           "and then chats: a line is said in the room,\n/help lists "
	           "the commands (/users /msg /me /search /get /downloads "
	           "/uploads\n/share /unshare /rehash /browse /exit).  Shared "
	           "folders are hashed (TTH) in the\nbackground and cached; "
	           "downloads are verified block by block and resume\nafter a "
	           "restart.  --batch prints one event per line for scripts "
	           "(docs/peer.md).",
	.opts = peer_opts,
	.helper = "ipckit-peer", /* peer_main.c */
};
