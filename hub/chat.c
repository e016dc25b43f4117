// SPDX-License-Identifier: MIT
/* chat.c - the main chat: messages relayed and remembered (history, kept
 * in SQLite and replayed on login), and the hub's commands typed there
 * ("!help").  A command someone may not use is refused with the reason;
 * nothing typed is dropped silently. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hub.h"
#include "log.h"
#include "xalloc.h"

#define CHAT_ARGS 4

struct chat_cmd {
	const char *name;
	enum role min_role;
	const char *args;
	const char *help;
	/* argv[0] is the name; argv[argc - 1] may be "the rest" */
	void (*fn)(struct hub *h, struct conn *c, int argc, char **argv);
	int max_args; /* argv entries after the name; the last gets the rest
	                 of the line */
};

static const struct chat_cmd chat_cmds[];
static const size_t chat_n_cmds;

/* ---- history ---- */

static struct hist_line *
chat_hist_at(struct hub *h, uint32_t i)
{
	return &h->hist[(h->hist_head + i) % h->hist_cap];
}

static void
chat_hist_push(struct hub *h, long long ts, const char *nick, const char *text)
{
	struct hist_line *e;

	if (h->hist_cap == 0)
		return;
	if (h->hist_n == h->hist_cap) {
		e = chat_hist_at(h, 0);
		free(e->nick);
		free(e->text);
		h->hist_head = (h->hist_head + 1) % h->hist_cap;
		h->hist_n--;
	}
	e = chat_hist_at(h, h->hist_n++);
	e->ts_s = ts;
	e->nick = xstrdup(nick);
	e->text = xstrdup(text);
}

void
chat_history_add(struct hub *h, const char *nick, const char *text, bool me)
{
	char *t = me ? xasprintf("/me %s", text) : NULL;

	chat_hist_push(h, (long long)time(NULL), nick, t ? t : text);
	free(t);
	if (h->hist_unsaved < h->hist_cap)
		h->hist_unsaved++;
}

void
chat_history_send(struct hub *h, struct conn *c, unsigned n)
{
	size_t cap = 64, len;
	char *text;
	uint32_t first;

	if (n > h->hist_n)
		n = h->hist_n;
	if (n == 0)
		return;
	first = h->hist_n - n;
	for (uint32_t i = first; i < h->hist_n; i++)
		cap += strlen(chat_hist_at(h, i)->nick) +
		       strlen(chat_hist_at(h, i)->text) + 32;
	text = xmalloc(cap);
	len = (size_t)snprintf(text, cap, "Chat history (last %u lines):", n);
	for (uint32_t i = first; i < h->hist_n; i++) {
		const struct hist_line *e = chat_hist_at(h, i);
		time_t t = (time_t)e->ts_s;
		struct tm tm;
		char when[32];
		bool me = strncmp(e->text, "/me ", 4) == 0;

		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
		len += (size_t)snprintf(
		        text + len, cap - len,
		        me ? "\n[%s] * %s %s" : "\n[%s] <%s> %s", when, e->nick,
		        me ? e->text + 4 : e->text);
	}
	conn_imsg_text(c, text);
	free(text);
}

static void
chat_history_load_cb(long long ts, const char *nick, const char *text,
                     void *arg)
{
	chat_hist_push(arg, ts, nick, text);
}

void
chat_history_load(struct hub *h)
{
	if (h->store && h->hist_cap &&
	    store_history_load(h->store, h->hist_cap, chat_history_load_cb,
	                       h) != 0)
		log_error("history: %s", store_error(h->store));
}

/* Batched: one transaction a second at most, whatever the chat rate. */
void
chat_history_save(struct hub *h)
{
	bool ok;

	if (h->store == NULL || h->hist_unsaved == 0)
		return;
	ok = store_begin(h->store) == 0;
	for (uint32_t i = h->hist_n - h->hist_unsaved; ok && i < h->hist_n;
	     i++) {
		const struct hist_line *e = chat_hist_at(h, i);

		ok = store_history_add(h->store, e->ts_s, e->nick, e->text) ==
		     0;
	}
	ok = ok && store_history_trim(h->store, h->hist_cap) == 0;
	ok = ok && store_commit(h->store) == 0;
	if (!ok) {
		log_error("history: %s", store_error(h->store));
		store_commit(h->store);
	}
	h->hist_unsaved = 0;
}

void
chat_history_free(struct hub *h)
{
	for (uint32_t i = 0; i < h->hist_n; i++) {
		free(chat_hist_at(h, i)->nick);
		free(chat_hist_at(h, i)->text);
	}
	free(h->hist);
	h->hist = NULL;
	h->hist_n = h->hist_head = h->hist_unsaved = 0;
}

/* ---- commands ---- */

static void
cmd_help(struct hub *h, struct conn *c, int argc, char **argv)
{
	char text[4096];
	size_t n;

	(void)h;
	(void)argc;
	(void)argv;
	n = (size_t)snprintf(text, sizeof(text), "Commands for you (%s):",
	                     role_name((enum role)c->role));
	for (size_t i = 0; i < chat_n_cmds && n < sizeof(text); i++) {
		const struct chat_cmd *k = &chat_cmds[i];

		if (c->role < k->min_role)
			continue;
		n += (size_t)snprintf(text + n, sizeof(text) - n,
		                      "\n!%s%s%s - %s", k->name,
		                      k->args[0] ? " " : "", k->args, k->help);
	}
	conn_imsg_text(c, text);
}

static void
cmd_myip(struct hub *h, struct conn *c, int argc, char **argv)
{
	char ip[64];

	(void)h;
	(void)argc;
	(void)argv;
	conn_imsg(c, "Your address: %s, port %u (IPv%d)",
	          conn_ip(c, ip, sizeof(ip)), c->port, c->family);
}

static void
cmd_rules(struct hub *h, struct conn *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	conn_imsg(c, "Rules:\n%s", h->cfg.rules);
}

static void
cmd_motd(struct hub *h, struct conn *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	conn_imsg(c, "%s", h->cfg.motd[0] ? h->cfg.motd : "(no message)");
}

static void
cmd_history(struct hub *h, struct conn *c, int argc, char **argv)
{
	unsigned n = 10;

	if (argc > 1) {
		char *end;
		unsigned long v = strtoul(argv[1], &end, 10);

		if (*end || end == argv[1] || v == 0) {
			conn_imsg(c, "!history: '%s' is not a count of lines",
			          argv[1]);
			return;
		}
		n = v > h->hist_cap ? h->hist_cap : (unsigned)v;
	}
	if (h->hist_n == 0) {
		conn_imsg(c, "No chat history yet.");
		return;
	}
	chat_history_send(h, c, n);
}

/* A field of a stored INF ("AP", "VE", "U4"), unescaped into out. */
static const char *
chat_inf_field(const struct conn *u, const char *name, char *out, size_t cap)
{
	const char *p = u->inf;

	out[0] = '\0';
	while ((p = strchr(p, ' ')) != NULL) {
		p++;
		if (p[0] == name[0] && p[1] == name[1]) {
			size_t o = 0;

			for (p += 2;
			     *p && *p != ' ' && *p != '\n' && o + 1 < cap;
			     p++) {
				if (*p == '\\' && p[1]) {
					p++;
					out[o++] = *p == 's'   ? ' '
					           : *p == 'n' ? '\n'
					                       : *p;
				} else {
					out[o++] = *p;
				}
			}
			out[o] = '\0';
			break;
		}
	}
	return out;
}

static void
cmd_users(struct hub *h, struct conn *c, int argc, char **argv)
{
	size_t cap = 128 + (size_t)h->n_online * 200, n;
	char *text = xmalloc(cap);

	(void)argc;
	(void)argv;
	n = (size_t)snprintf(text, cap,
	                     "%u users online (nick, role, hub "
	                     "connection, client, mode):",
	                     h->n_online);
	for (uint32_t i = 0; i < h->n_online && n < cap; i++) {
		const struct conn *u = h->online[i];
		char ip[64], ap[64], ve[64], u4[16], port[24] = "";
		bool active =
		        adc_su_has(u->su, "TCP4") || adc_su_has(u->su, "TCP6");

		chat_inf_field(u, "AP", ap, sizeof(ap));
		chat_inf_field(u, "VE", ve, sizeof(ve));
		chat_inf_field(u, u->family == 4 ? "U4" : "U6", u4, sizeof(u4));
		if (u->ctm_port)
			snprintf(port, sizeof(port), " tcp %u", u->ctm_port);
		n += (size_t)snprintf(text + n, cap - n,
		                      "\n%s  %s  %s:%u  %s%s%s  %s%s%s%s",
		                      u->nick, role_name((enum role)u->role),
		                      conn_ip(u, ip, sizeof(ip)), u->port, ap,
		                      ap[0] ? " " : "", ve[0] ? ve : "?",
		                      active ? "active" : "passive", port,
		                      u4[0] ? " udp " : "", u4);
	}
	conn_imsg_text(c, text);
	free(text);
}

/* The target of an op command, refused (with the reason told) when it is
 * missing or ranks as high as the operator. */
static struct conn *
chat_target(struct hub *h, struct conn *c, const char *cmd, const char *nick)
{
	struct conn *t = users_by_nick(h, nick);

	if (t == NULL) {
		conn_imsg(c, "!%s: no user '%s' is online", cmd, nick);
		return NULL;
	}
	if (t == c) {
		conn_imsg(c, "!%s: not yourself", cmd);
		return NULL;
	}
	if (t->role >= c->role) {
		conn_imsg(c, "!%s: %s is %s, as high as you or higher", cmd,
		          t->nick, role_name((enum role)t->role));
		return NULL;
	}
	return t;
}

static void
cmd_kick(struct hub *h, struct conn *c, int argc, char **argv)
{
	struct conn *t;
	char reason[512];

	if (argc < 2) {
		conn_imsg(c, "usage: !kick NICK [REASON]");
		return;
	}
	t = chat_target(h, c, "kick", argv[1]);
	if (t == NULL)
		return;
	snprintf(reason, sizeof(reason), "Kicked by %s: %s", c->nick,
	         argc > 2 ? argv[2] : "no reason given");
	log_info("kick %s by %s: %s", t->nick, c->nick,
	         argc > 2 ? argv[2] : "");
	conn_imsg(c, "Kicked %s.", t->nick);
	conn_kick(t, c, 0, reason);
}

/* "30s" "10m" "2h" "7d" or seconds; 0 and *secs, -1 if not a duration.
 * "perm" is 0 seconds (forever). */
static int
chat_duration(const char *s, long long *secs)
{
	char *end;
	long long v;

	if (strcmp(s, "perm") == 0 || strcmp(s, "forever") == 0) {
		*secs = 0;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	v = strtoll(s, &end, 10);
	if (v <= 0 || v > 100LL * 365 * 86400)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	case 'w':
		v *= 7 * 86400;
		break;
	default:
		return -1;
	}
	if (*end && end[1])
		return -1;
	*secs = v;
	return 0;
}

static bool
chat_is_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static void
cmd_ban(struct hub *h, struct conn *c, int argc, char **argv)
{
	long long secs = 0, now = (long long)time(NULL);
	const char *reason = "no reason given";
	char key[STORE_NICK_MAX], tkey[STORE_NICK_MAX], why[700], ip[64];
	bool is_ip;
	enum role r;

	if (argc < 2) {
		conn_imsg(c, "usage: !ban NICK|IP [DURATION] [REASON] "
		             "(DURATION: 30m, 12h, 7d, perm)");
		return;
	}
	if (h->store == NULL) {
		conn_imsg(c, "!ban: this hub has no database for bans");
		return;
	}
	if (argc > 2) {
		/* The duration is optional: "!ban bob spamming" is perm. */
		char *rest = argv[2], *sp = strchr(rest, ' ');
		char first[32];
		size_t n = sp ? (size_t)(sp - rest) : strlen(rest);

		snprintf(first, sizeof(first), "%.*s", (int)n, rest);
		if (n < sizeof(first) && chat_duration(first, &secs) == 0)
			reason = sp ? sp + 1 : reason;
		else
			reason = rest;
	}
	is_ip = chat_is_ip(argv[1]);
	if (!is_ip) {
		struct conn *t = users_by_nick(h, argv[1]);

		if (t && chat_target(h, c, "ban", argv[1]) == NULL)
			return;
		if (!t && store_user_role(h->store, argv[1], &r) == 1 &&
		    r >= c->role) {
			conn_imsg(c, "!ban: %s is %s, as high as you or higher",
			          argv[1], role_name(r));
			return;
		}
		if (store_fold(argv[1], key, sizeof(key)) != 0) {
			conn_imsg(c, "!ban: nick too long");
			return;
		}
	}
	if (store_ban_put(h->store, is_ip ? "ip" : "nick",
	                  is_ip ? argv[1] : key, secs ? now + secs : 0, reason,
	                  c->nick) != 0) {
		conn_imsg(c, "!ban: %s", store_error(h->store));
		return;
	}
	log_info("ban %s %s for %s by %s: %s", is_ip ? "ip" : "nick", argv[1],
	         secs ? "a while" : "ever", c->nick, reason);
	if (secs)
		snprintf(why, sizeof(why), "Banned by %s for %lld s: %s",
		         c->nick, secs, reason);
	else
		snprintf(why, sizeof(why), "Banned by %s: %s", c->nick, reason);
	conn_imsg(c, "Banned %s %s%s.", is_ip ? "address" : "nick", argv[1],
	          secs ? " for a while" : " for ever");
	for (uint32_t i = 0; i < h->sid_cap; i++) {
		struct conn *t = h->sids[i];

		if (t == NULL || t == c || t->closing || t->role >= c->role)
			continue;
		if (is_ip ? strcmp(conn_ip(t, ip, sizeof(ip)), argv[1]) == 0
		          : (t->nick &&
		             store_fold(t->nick, tkey, sizeof(tkey)) == 0 &&
		             strcmp(tkey, key) == 0))
			conn_kick(t, c, secs ? secs : -1, why);
	}
}

static void
cmd_unban(struct hub *h, struct conn *c, int argc, char **argv)
{
	char key[STORE_NICK_MAX];
	bool is_ip;
	int n;

	if (argc < 2) {
		conn_imsg(c, "usage: !unban NICK|IP");
		return;
	}
	if (h->store == NULL) {
		conn_imsg(c, "!unban: this hub has no database for bans");
		return;
	}
	is_ip = chat_is_ip(argv[1]);
	if (!is_ip && store_fold(argv[1], key, sizeof(key)) != 0) {
		conn_imsg(c, "!unban: nick too long");
		return;
	}
	n = store_ban_del(h->store, is_ip ? "ip" : "nick",
	                  is_ip ? argv[1] : key);
	if (n < 0)
		conn_imsg(c, "!unban: %s", store_error(h->store));
	else if (n == 0)
		conn_imsg(c, "!unban: %s is not banned", argv[1]);
	else {
		log_info("unban %s by %s", argv[1], c->nick);
		conn_imsg(c, "Unbanned %s.", argv[1]);
	}
}

struct chat_buf {
	char *s;
	size_t n, cap;
};

static void
chat_bans_cb(const char *kind, const char *value, long long until,
             const char *reason, const char *by, void *arg)
{
	struct chat_buf *b = arg;
	char line[1024];
	int k = snprintf(line, sizeof(line), "\n%s %s  %s  by %s: %s", kind,
	                 value, until ? "temporary" : "permanent", by, reason);

	if (k > 0 && b->n + (size_t)k + 1 < b->cap) {
		memcpy(b->s + b->n, line, (size_t)k + 1);
		b->n += (size_t)k;
	}
}

static void
cmd_bans(struct hub *h, struct conn *c, int argc, char **argv)
{
	char text[16384] = "Bans:";
	struct chat_buf b = { text, strlen(text), sizeof(text) };

	(void)argc;
	(void)argv;
	if (h->store == NULL || store_ban_list(h->store, (long long)time(NULL),
	                                       chat_bans_cb, &b) != 0) {
		conn_imsg(c, "!bans: no ban list available");
		return;
	}
	if (b.n == 5)
		snprintf(text, sizeof(text), "No bans.");
	conn_imsg_text(c, text);
}

static void
cmd_broadcast(struct hub *h, struct conn *c, int argc, char **argv)
{
	if (argc < 2) {
		conn_imsg(c, "usage: !broadcast TEXT");
		return;
	}
	log_info("broadcast by %s", c->nick);
	for (uint32_t i = 0; i < h->n_online; i++)
		conn_imsg_text(h->online[i], argv[1]);
}

static long
chat_rss_kb(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	return rss * 4;
}

static void
cmd_stats(struct hub *h, struct conn *c, int argc, char **argv)
{
	const struct hub_stats *s = &h->stats;

	(void)argc;
	(void)argv;
	conn_imsg(c,
	          "Users online %u, logging in %u; up %lld s; logins %llu, "
	          "refused %llu, disconnects %llu; lines in %llu (%llu "
	          "bytes), invalid %llu; deliveries %llu; kicks %llu, slow "
	          "readers dropped %llu, flood drops %llu; RSS %ld kB",
	          h->n_online, h->n_login,
	          (long long)time(NULL) - h->start_wall, s->logins,
	          s->login_failures, s->disconnects, s->lines_in, s->bytes_in,
	          s->invalid, s->deliveries, s->kicks, s->slow_drops,
	          s->flood_drops, chat_rss_kb());
}

static void
cmd_reload(struct hub *h, struct conn *c, int argc, char **argv)
{
	char msg[512] = "reload is not available here";

	(void)argc;
	(void)argv;
	log_info("reload requested by %s", c->nick);
	if (h->ops->reload && h->ops->reload(h->ops_arg, msg, sizeof(msg)) == 0)
		conn_imsg(c, "Configuration reloaded.");
	else
		conn_imsg(c, "!reload failed: %s", msg);
}

static const struct chat_cmd chat_cmds[] = {
	{ "help", ROLE_GUEST, "", "the commands you may use", cmd_help, 0 },
	{ "myip", ROLE_GUEST, "", "your address and port as the hub sees it",
	  cmd_myip, 0 },
	{ "rules", ROLE_GUEST, "", "the hub's rules", cmd_rules, 0 },
	{ "motd", ROLE_GUEST, "", "the message of the day", cmd_motd, 0 },
	{ "history", ROLE_GUEST, "[N]", "the last N lines of main chat",
	  cmd_history, 1 },
	{ "users", ROLE_OP, "",
	  "who is online: nick, role, IP:port, client, mode", cmd_users, 0 },
	{ "kick", ROLE_OP, "NICK [REASON]", "disconnect a user", cmd_kick, 2 },
	{ "ban", ROLE_OP, "NICK|IP [DURATION] [REASON]",
	  "ban a nick or an address (30m, 12h, 7d, perm)", cmd_ban, 2 },
	{ "unban", ROLE_OP, "NICK|IP", "lift a ban", cmd_unban, 1 },
	{ "bans", ROLE_OP, "", "list the bans", cmd_bans, 0 },
	{ "broadcast", ROLE_OP, "TEXT", "a hub message to everyone",
	  cmd_broadcast, 1 },
	{ "stats", ROLE_OP, "", "the hub's counters", cmd_stats, 0 },
	{ "reload", ROLE_ADMIN, "", "reload the configuration", cmd_reload, 0 },
};
static const size_t chat_n_cmds = sizeof(chat_cmds) / sizeof(chat_cmds[0]);

/* Split "!name a b rest of line" into at most 1 + max_args words, the last
 * keeping the rest of the line. */
static int
chat_split(char *s, char **argv, int max_args)
{
	int argc = 0;

	while (*s && argc < 1 + max_args) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		argv[argc++] = s;
		if (argc == 1 + max_args && argc > 1)
			break; /* the rest of the line */
		s += strcspn(s, " ");
		if (*s)
			*s++ = '\0';
	}
	/* Trailing spaces of the rest of the line go. */
	if (argc > 0) {
		char *last = argv[argc - 1];
		size_t n = strlen(last);

		while (n > 0 && last[n - 1] == ' ')
			last[--n] = '\0';
	}
	return argc;
}

static void
chat_command(struct hub *h, struct conn *c, const char *text)
{
	char *copy = xstrdup(text + 1), *argv[CHAT_ARGS + 1];
	size_t namelen = strcspn(copy, " ");
	const struct chat_cmd *k = NULL;
	int argc;

	for (size_t i = 0; i < chat_n_cmds; i++)
		if (strlen(chat_cmds[i].name) == namelen &&
		    strncmp(chat_cmds[i].name, copy, namelen) == 0)
			k = &chat_cmds[i];
	if (k == NULL) {
		conn_imsg(c, "!%.*s: no such command; !help lists yours",
		          (int)(namelen > 40 ? 40 : namelen), copy);
	} else if (c->role < k->min_role) {
		conn_imsg(c, "!%s: only %ss may use this command (you are %s)",
		          k->name, role_name(k->min_role),
		          c->role == ROLE_GUEST
		                  ? "a guest"
		                  : role_name((enum role)c->role));
	} else {
		argc = chat_split(copy, argv, k->max_args);
		k->fn(h, c, argc, argv);
	}
	free(copy);
}

void
chat_msg(struct hub *h, struct conn *c, const struct adc_msg *m,
         const char *line, size_t len)
{
	const char *text;

	if (m->n < 1) {
		conn_sta(c, 140, "MSG without text ignored", NULL);
		return;
	}
	if (!conn_flood(c, FLOOD_CHAT))
		return;
	text = m->p[0].s;
	if (m->type == 'B' && text[0] == '!' && text[1] != '\0' &&
	    text[1] != ' ') {
		chat_command(h, c, text);
		return;
	}
	if (m->type == 'B' && adc_named(m, "PM", NULL) == NULL)
		chat_history_add(h, c->nick, text,
		                 adc_named(m, "ME", NULL) != NULL);
	route(h, c, m, line, len);
}
