// SPDX-License-Identifier: MIT
/* commands.c - what a user types: one table of slash commands, each a
 * function; a line without a slash is said in the chat room. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base32.h"
#include "peer.h"
#include "search.h"
#include "xalloc.h"

/* An "error" or "info" event with a formatted text. */
static void emit(struct peer *p, const char *ev, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
emit(struct peer *p, const char *ev, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	ui_emit(p, ev, buf, NULL);
}

#define emit_err(p, ...)  emit(p, "error", __VA_ARGS__)
#define emit_info(p, ...) emit(p, "info", __VA_ARGS__)

/* ---- commands ---- */

static const struct {
	const char *name, *args, *help;
} peer_help[] = {
	{ "/users", "", "who is online: nick, IP, share, slots, client" },
	{ "/msg", "NICK TEXT", "a private message" },
	{ "/me", "TEXT", "an action in the chat room" },
	{ "/search", "TERMS",
	  "search (words; -word excludes; ext:EXT; "
	  "tth:TTH)" },
	{ "/get", "N|TTH", "download result N, or a file by TTH" },
	{ "/downloads", "", "downloads with progress, rate and ETA" },
	{ "/uploads", "", "uploads in progress" },
	{ "/share", "DIR", "share a folder (hashed in the background)" },
	{ "/unshare", "DIR|NAME", "stop sharing a folder" },
	{ "/rehash", "", "look for changed files in the shared folders" },
	{ "/browse", "NICK", "download and show a user's file list" },
	{ "/help", "", "this list" },
	{ "/exit", "", "leave the hub and quit" },
};

static void
cmd_help(struct peer *p, char *args)
{
	(void)args;
	for (size_t i = 0; i < sizeof(peer_help) / sizeof(peer_help[0]); i++) {
		char line[160];

		snprintf(line, sizeof(line), "%-10s %-9s %s", peer_help[i].name,
		         peer_help[i].args, peer_help[i].help);
		ui_emit(p, "help", line, NULL);
	}
	ui_emit(p, "help", "Anything else is said in the chat room.", NULL);
}

static void
cmd_users(struct peer *p, char *args)
{
	const struct user **u = xcalloc(p->sess.n_users + 1, sizeof(*u));
	size_t n = session_users(&p->sess, u, p->sess.n_users);
	char cnt[24];

	(void)args;
	for (size_t i = 0; i < n; i++) {
		char share[32], files[24], sl[16], fs[16];

		fmt_size(share, sizeof(share), u[i]->share_bytes);
		snprintf(files, sizeof(files), "%llu",
		         (unsigned long long)u[i]->files);
		snprintf(sl, sizeof(sl), "%d", u[i]->slots);
		snprintf(fs, sizeof(fs), "%d", u[i]->free_slots);
		ui_emit(p, "user", u[i]->nick, *u[i]->ip4 ? u[i]->ip4 : "-",
		        share, files, fs, sl,
		        *u[i]->client ? u[i]->client : "-", NULL);
	}
	snprintf(cnt, sizeof(cnt), "%zu", n);
	ui_emit(p, "users", cnt, NULL);
	free(u);
}

static char *
next_word(char **s)
{
	char *w;

	while (**s == ' ')
		(*s)++;
	if (**s == '\0')
		return NULL;
	w = *s;
	while (**s && **s != ' ')
		(*s)++;
	if (**s)
		*(*s)++ = '\0';
	while (**s == ' ')
		(*s)++;
	return w;
}

static void
cmd_msg(struct peer *p, char *args)
{
	char *nick = next_word(&args);
	const struct user *u;

	if (nick == NULL || *args == '\0') {
		emit_err(p, "usage: /msg NICK TEXT");
		return;
	}
	u = session_user_by_nick(&p->sess, nick);
	if (u == NULL) {
		emit_err(p, "no user %s online", nick);
		return;
	}
	if (session_pm(&p->sess, u, args, false) != 0)
		emit_err(p, "not logged in");
}

static void
cmd_me(struct peer *p, char *args)
{
	if (*args == '\0') {
		emit_err(p, "usage: /me TEXT");
		return;
	}
	if (session_chat(&p->sess, args, true) != 0)
		emit_err(p, "not logged in");
}

void
peer_clear_hits(struct peer *p)
{
	for (size_t i = 0; i < p->n_hits; i++) {
		free(p->hits[i].nick);
		free(p->hits[i].cid);
		free(p->hits[i].path);
	}
	free(p->hits);
	p->hits = NULL;
	p->n_hits = 0;
}

static void
cmd_search(struct peer *p, char *args)
{
	const char *terms[SEARCH_MAX_TERMS];
	char *bufs[SEARCH_MAX_TERMS];
	size_t n = 0;
	char *w;

	while ((w = next_word(&args)) != NULL && n < SEARCH_MAX_TERMS) {
		if (strncasecmp(w, "tth:", 4) == 0)
			bufs[n] = xasprintf("TR%s", w + 4);
		else if (strncasecmp(w, "ext:", 4) == 0)
			bufs[n] = xasprintf("EX%s", w + 4);
		else if (w[0] == '-' && w[1])
			bufs[n] = xasprintf("NO%s", w + 1);
		else
			bufs[n] = xasprintf("AN%s", w);
		terms[n] = bufs[n];
		n++;
	}
	if (n == 0) {
		emit_err(p, "usage: /search TERMS");
		return;
	}
	peer_clear_hits(p);
	peer_new_token(p->search_token, sizeof(p->search_token));
	if (session_search(&p->sess, terms, n, p->search_token) != 0)
		emit_err(p, "not logged in");
	else
		ui_emit(p, "search", p->search_token, NULL);
	for (size_t i = 0; i < n; i++)
		free(bufs[i]);
}

static void
cmd_get(struct peer *p, char *args)
{
	char *what = next_word(&args);
	struct download *d;
	const struct search_hit *h = NULL;
	char *end;
	unsigned long idx;
	char id[16], sz[32], ns[16];

	if (what == NULL) {
		emit_err(p, "usage: /get N|TTH");
		return;
	}
	idx = strtoul(what, &end, 10);
	if (*end == '\0' && idx >= 1 && idx <= p->n_hits) {
		h = &p->hits[idx - 1];
	} else if (strlen(what) == TIGER_BASE32_LEN) {
		for (size_t i = 0; i < p->n_hits && !h; i++)
			if (strcasecmp(p->hits[i].tth32, what) == 0)
				h = &p->hits[i];
		if (h == NULL) {
			emit_err(p,
			         "no result has TTH %s: /search tth:%s "
			         "first",
			         what, what);
			return;
		}
	} else {
		emit_err(p, "no result %s (see /search or /browse)", what);
		return;
	}
	if (h->tth32[0] == '\0') {
		emit_err(p, "result %s is a directory or has no TTH", what);
		return;
	}
	d = peer_queue_file(p, h->path, h->tth32, h->size);
	if (d == NULL) {
		emit_err(p, "bad TTH in that result");
		return;
	}
	/* Every result with the same file is a source (segments). */
	for (size_t i = 0; i < p->n_hits; i++)
		if (strcmp(p->hits[i].tth32, h->tth32) == 0 &&
		    p->hits[i].size == h->size)
			peer_add_source(p, d, p->hits[i].cid, p->hits[i].nick);
	peer_search_sources(p, d);
	snprintf(id, sizeof(id), "%u", d->id);
	fmt_size(sz, sizeof(sz), d->size);
	snprintf(ns, sizeof(ns), "%zu", d->n_src);
	ui_emit(p, "download-added", id, d->name, sz, ns, NULL);
	transfer_tick(p);
}

static void
cmd_browse(struct peer *p, char *args)
{
	char *nick = next_word(&args);
	const struct user *u;
	struct download *d;

	if (nick == NULL) {
		emit_err(p, "usage: /browse NICK");
		return;
	}
	u = session_user_by_nick(&p->sess, nick);
	if (u == NULL || !*u->cid) {
		emit_err(p, "no user %s online", nick);
		return;
	}
	d = peer_new_download(p, DOWNLOAD_LIST, u->nick);
	peer_add_source(p, d, u->cid, u->nick);
	transfer_tick(p);
}

static void
cmd_downloads(struct peer *p, char *args)
{
	size_t n = 0;
	long long now = ipk_loop_now_ms(p->loop);

	(void)args;
	for (struct download *d = p->downloads; d; d = d->next) {
		char id[16], b[24], pct[8], done[32], total[32], rate[32],
		        eta[32], src[16];
		uint64_t have;

		if (d->kind != DOWNLOAD_FILE)
			continue;
		have = d->status == DOWNLOAD_DONE ? d->size
		       : d->opened                ? d->f.done_bytes
		                                  : 0;
		snprintf(id, sizeof(id), "%u", d->id);
		fmt_bar(b, 20, have, d->size);
		snprintf(pct, sizeof(pct), "%d",
		         d->size ? (int)(have * 100 / d->size) : 100);
		fmt_size(done, sizeof(done), have);
		fmt_size(total, sizeof(total), d->size);
		fmt_size(rate, sizeof(rate), (uint64_t)d->rate_bps);
		if (d->status == DOWNLOAD_FAILED)
			snprintf(eta, sizeof(eta), "failed");
		else
			fmt_eta(eta, sizeof(eta), d->size - have, d->rate_bps);
		snprintf(src, sizeof(src), "%zu",
		         transfer_sources_active(p, d));
		ui_emit(p, "download", id, d->name, b, pct, done, total, rate,
		        eta, src, NULL);
		n++;
	}
	(void)now;
	if (n == 0)
		ui_emit(p, "downloads-none", NULL);
}

static void
cmd_uploads(struct peer *p, char *args)
{
	(void)args;
	transfer_list_uploads(p);
}

static void
cmd_share(struct peer *p, char *args)
{
	int err;

	while (*args == ' ')
		args++;
	if (*args == '\0') {
		for (size_t i = 0; i < p->share.n_roots; i++)
			if (p->share.roots[i].real)
				emit_info(p, "shared: %s as /%s",
				          p->share.roots[i].real,
				          p->share.roots[i].name);
		return;
	}
	err = share_add_root(&p->share, args);
	if (err == -EEXIST) {
		emit_err(p, "%s is already shared (or overlaps a share)", args);
		return;
	}
	if (err) {
		emit_err(p, "cannot share %s: %s", args, strerror(-err));
		return;
	}
	ui_emit(p, "share", p->share.roots[p->share.n_roots - 1].real,
	        p->share.roots[p->share.n_roots - 1].name, NULL);
	peer_rescan(p);
}

static void
cmd_unshare(struct peer *p, char *args)
{
	while (*args == ' ')
		args++;
	if (share_remove_root(&p->share, args) != 0) {
		emit_err(p, "%s is not shared", args);
		return;
	}
	ui_emit(p, "unshare", args, NULL);
	peer_rescan(p);
}

static void
cmd_rehash(struct peer *p, char *args)
{
	(void)args;
	peer_rescan(p);
	emit_info(p, "rehashing the shared folders");
}

static void
cmd_exit(struct peer *p, char *args)
{
	(void)args;
	peer_quit(p, 0);
}

static const struct {
	const char *name;
	void (*fn)(struct peer *p, char *args);
} peer_commands[] = {
	{ "users", cmd_users },     { "msg", cmd_msg },
	{ "me", cmd_me },           { "search", cmd_search },
	{ "get", cmd_get },         { "downloads", cmd_downloads },
	{ "uploads", cmd_uploads }, { "share", cmd_share },
	{ "unshare", cmd_unshare }, { "rehash", cmd_rehash },
	{ "browse", cmd_browse },   { "help", cmd_help },
	{ "exit", cmd_exit },       { "quit", cmd_exit },
};

void
peer_command(struct peer *p, const char *line)
{
	char *copy, *name, *args;

	if (line[0] != '/') {
		if (*line == '\0')
			return;
		if (session_chat(&p->sess, line, false) != 0)
			emit_err(p, "not logged in yet");
		return;
	}
	if (line[1] == '/') { /* "//text" says "/text" */
		if (session_chat(&p->sess, line + 1, false) != 0)
			emit_err(p, "not logged in yet");
		return;
	}
	copy = xstrdup(line + 1);
	args = copy;
	name = next_word(&args);
	for (size_t i = 0;
	     name && i < sizeof(peer_commands) / sizeof(peer_commands[0]);
	     i++) {
		if (strcmp(peer_commands[i].name, name) == 0) {
			peer_commands[i].fn(p, args);
			free(copy);
			return;
		}
	}
	emit_err(p, "no command /%s (see /help)", name ? name : "");
	free(copy);
}
