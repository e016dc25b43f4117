// SPDX-License-Identifier: MIT
/* ui.h - the peer's faces, as a small ops table (ncdc's ui_tab_type_t):
 * "tty" is readline's callback interface (the typed line is saved and
 * redrawn around every incoming message, Tab completes commands and nicks,
 * the password prompt echoes nothing); "batch" reads commands from stdin
 * and prints every event as one line for scripts and tests. */
#ifndef PEER_UI_H
#define PEER_UI_H

#include <stdbool.h>

struct peer;

enum ui_prompt { UI_PROMPT_NONE, UI_PROMPT_NICK, UI_PROMPT_PASSWORD };

struct ui_ops {
	const char *name;
	/* Start reading input on p->loop; 0 or -errno. */
	int (*start)(struct peer *p);
	void (*stop)(struct peer *p);
	/* Logged in (may be NULL): batch mode starts reading commands only
	 * now, so a script's lines never race the login. */
	void (*online)(struct peer *p);
	/* Show one event (ev and its fields). */
	void (*event)(struct peer *p, const char *ev, const char *const *f,
	              int n);
	/* Ask for the nick or the password (answered through
	 * peer_give_nick/peer_give_password); false if this UI cannot. */
	bool (*prompt)(struct peer *p, enum ui_prompt what);
};

extern const struct ui_ops ui_tty;
extern const struct ui_ops ui_batch;

/* ui_batch_escape - a field as batch mode prints it: '\\' -> "\\\\",
 * newline -> "\\n", and (unless last) space -> "\\s". Malloc'ed. */
char *ui_batch_escape(const char *s, bool last);

#endif
