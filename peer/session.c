// SPDX-License-Identifier: MIT
/* session.c - the ADC client's hub state machine (ADC 1.0.4 "State
 * management").  One dispatch table says which command is valid in which
 * state; everything the hub sends is checked before it is believed (SIDs
 * must be known, sizes must parse), since nothing from the network is
 * trusted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "base32.h"
#include "session.h"
#include "xalloc.h"

#define SESSION_LINE_MAX (64 * 1024)

static const char *const session_state_names[] = {
	[SESSION_PROTOCOL] = "protocol", [SESSION_IDENTIFY] = "identify",
	[SESSION_VERIFY] = "verify",     [SESSION_NORMAL] = "normal",
	[SESSION_CLOSED] = "closed",
};

const char *
session_state_name(enum session_state st)
{
	return session_state_names[st];
}

static void
session_set_state(struct session *s, enum session_state st)
{
	s->state = st;
}

static int
session_send(struct session *s, struct adc_buf *b)
{
	long n = adc_buf_end(b);

	if (n < 0)
		return -EMSGSIZE;
	if (s->ops->send_cb == NULL)
		return 0;
	return s->ops->send_cb(s->arg, b->p, (size_t)n);
}

int
session_init(struct session *s, const struct session_ops *ops, void *arg)
{
	uint8_t cid[TIGER_BYTES];
	size_t got = 0;

	memset(s, 0, sizeof(*s));
	s->ops = ops;
	s->arg = arg;
	s->sid = ADC_SID_NONE;
	s->self.slots = s->self.free_slots = 1;
	s->sent_slots = s->sent_free = -1;
	while (got < sizeof(s->self.pid)) {
		ssize_t n = getrandom(s->self.pid + got,
		                      sizeof(s->self.pid) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	if (tiger_hash(s->self.pid, sizeof(s->self.pid), cid) != 0)
		return -EIO;
	base32_encode(s->self.pid, TIGER_BYTES, s->self.pid32,
	              sizeof(s->self.pid32));
	base32_encode(cid, TIGER_BYTES, s->self.cid32, sizeof(s->self.cid32));
	return 0;
}

static void
user_free(struct user *u)
{
	if (u == NULL)
		return;
	free(u->nick);
	free(u->cid);
	free(u->desc);
	free(u->ip4);
	free(u->client);
	free(u->su);
	free(u);
}

void
session_fini(struct session *s)
{
	for (size_t i = 0; i < SESSION_BUCKETS; i++) {
		struct user *u = s->users[i], *next;

		for (; u; u = next) {
			next = u->next;
			user_free(u);
		}
	}
	free(s->self.nick);
	if (s->self.password) {
		explicit_bzero(s->self.password, strlen(s->self.password));
		free(s->self.password);
	}
	free(s->self.desc);
	free(s->hub_name);
	free(s->hub_desc);
	explicit_bzero(s->challenge, sizeof(s->challenge));
	memset(s, 0, sizeof(*s));
}

/* ---- the user table ---- */

struct user *
session_user(const struct session *s, uint32_t sid)
{
	struct user *u;

	if (sid == ADC_SID_NONE)
		return NULL;
	for (u = s->users[sid % SESSION_BUCKETS]; u; u = u->next)
		if (u->sid == sid)
			return u;
	return NULL;
}

static struct user *
session_find(const struct session *s,
             bool (*match)(const struct user *, const char *), const char *key)
{
	for (size_t i = 0; i < SESSION_BUCKETS; i++)
		for (struct user *u = s->users[i]; u; u = u->next)
			if (u->online && match(u, key))
				return u;
	return NULL;
}

static bool
match_nick(const struct user *u, const char *nick)
{
	return strcasecmp(u->nick, nick) == 0;
}

static bool
match_cid(const struct user *u, const char *cid)
{
	return strcmp(u->cid, cid) == 0;
}

struct user *
session_user_by_nick(const struct session *s, const char *nick)
{
	return session_find(s, match_nick, nick);
}

struct user *
session_user_by_cid(const struct session *s, const char *cid)
{
	return session_find(s, match_cid, cid);
}

static int
user_cmp(const void *a, const void *b)
{
	const struct user *ua = *(const struct user *const *)a;
	const struct user *ub = *(const struct user *const *)b;

	return strcasecmp(ua->nick, ub->nick);
}

size_t
session_users(const struct session *s, const struct user **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < SESSION_BUCKETS; i++)
		for (struct user *u = s->users[i]; u && n < max; u = u->next)
			if (u->online)
				out[n++] = u;
	qsort(out, n, sizeof(*out), user_cmp);
	return n;
}

static struct user *
session_user_add(struct session *s, uint32_t sid)
{
	struct user *u = xcalloc(1, sizeof(*u));

	u->sid = sid;
	u->nick = xstrdup("");
	u->cid = xstrdup("");
	u->desc = xstrdup("");
	u->ip4 = xstrdup("");
	u->client = xstrdup("");
	u->su = xstrdup("");
	u->slots = u->free_slots = -1;
	u->next = s->users[sid % SESSION_BUCKETS];
	s->users[sid % SESSION_BUCKETS] = u;
	s->n_users++;
	return u;
}

static void
session_user_remove(struct session *s, struct user *u)
{
	struct user **pp = &s->users[u->sid % SESSION_BUCKETS];

	while (*pp != u)
		pp = &(*pp)->next;
	*pp = u->next;
	s->n_users--;
	if (s->me == u)
		s->me = NULL;
	user_free(u);
}

/* ---- small parsing helpers: values from the network are checked ---- */

static bool
parse_u64(const char *v, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (v == NULL || *v < '0' || *v > '9')
		return false;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end)
		return false;
	*out = x;
	return true;
}

static void
set_str(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

static int
sta_code(const struct adc_msg *m)
{
	const char *c;

	if (m->n < 1 || m->p[0].len != 3)
		return -1;
	c = m->p[0].s;
	for (int i = 0; i < 3; i++)
		if (c[i] < '0' || c[i] > '9')
			return -1;
	return atoi(c);
}

/* ---- handlers ---- */

typedef int session_handler_fn(struct session *s, struct adc_msg *m);

static int
session_send_inf(struct session *s, bool full)
{
	char line[4096];
	struct adc_buf b;
	char su[32];

	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'B', "INF", s->sid, ADC_SID_NONE);
	if (full) {
		adc_buf_named(&b, "ID", s->self.cid32);
		adc_buf_named(&b, "PD", s->self.pid32);
		adc_buf_named(&b, "NI", s->self.nick);
		if (s->self.desc && *s->self.desc)
			adc_buf_named(&b, "DE", s->self.desc);
		adc_buf_named(&b, "AP", "ipckit");
		adc_buf_named(&b, "VE", IPCKIT_VERSION);
		adc_buf_named_int(&b, "HN", s->self.password ? 0 : 1);
		adc_buf_named_int(&b, "HR", s->self.password ? 1 : 0);
		adc_buf_named_int(&b, "HO", 0);
		if (s->self.tcp_port) {
			adc_buf_named(&b, "I4", "0.0.0.0");
			adc_buf_named_int(&b, "U4", s->self.udp_port);
			snprintf(su, sizeof(su), "ADC0,TCP4,UDP4");
		} else {
			snprintf(su, sizeof(su), "ADC0");
		}
		adc_buf_named(&b, "SU", su);
	}
	if (full || s->sent_share != s->self.share_bytes)
		adc_buf_named_int(&b, "SS", (long long)s->self.share_bytes);
	if (full || s->sent_files != s->self.files)
		adc_buf_named_int(&b, "SF", (long long)s->self.files);
	if (full || s->sent_slots != s->self.slots)
		adc_buf_named_int(&b, "SL", s->self.slots);
	if (full || s->sent_free != s->self.free_slots)
		adc_buf_named_int(&b, "FS", s->self.free_slots);
	if (!full && b.len == 9) /* "BINF SSSS": nothing changed */
		return 0;
	s->sent_share = s->self.share_bytes;
	s->sent_files = s->self.files;
	s->sent_slots = s->self.slots;
	s->sent_free = s->self.free_slots;
	return session_send(s, &b);
}

int
session_update_inf(struct session *s)
{
	if (s->state != SESSION_NORMAL)
		return 0;
	return session_send_inf(s, false);
}

static int
on_sup(struct session *s, struct adc_msg *m)
{
	for (unsigned i = 0; i < m->n; i++)
		if (strcmp(m->p[i].s, "ADTIGR") == 0)
			s->hub_tigr = true;
	return 0;
}

static int
on_sid(struct session *s, struct adc_msg *m)
{
	if (m->n < 1 || adc_sid_decode(m->p[0].s, &s->sid) != 0)
		return 0;
	if (!s->hub_tigr) {
		session_set_state(s, SESSION_CLOSED);
		if (s->ops->fail_cb)
			s->ops->fail_cb(s->arg, 247,
			                "the hub does not offer TIGR hashing");
		return 0;
	}
	session_set_state(s, SESSION_IDENTIFY);
	if (s->self.nick)
		return session_send_inf(s, true);
	if (s->ops->need_nick_cb)
		s->ops->need_nick_cb(s->arg);
	return 0;
}

static int
session_send_pas(struct session *s)
{
	uint8_t resp[TIGER_BYTES];
	char b32[TIGER_BASE32_LEN + 1];
	char line[128];
	struct adc_buf b;

	if (tiger_hash2(s->self.password, strlen(s->self.password),
	                s->challenge, s->challenge_len, resp) != 0)
		return -EIO;
	base32_encode(resp, sizeof(resp), b32, sizeof(b32));
	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'H', "PAS", ADC_SID_NONE, ADC_SID_NONE);
	adc_buf_param(&b, b32);
	s->challenge_len = 0;
	return session_send(s, &b);
}

static int
on_gpa(struct session *s, struct adc_msg *m)
{
	ssize_t n;

	if (m->n < 1)
		return 0;
	n = base32_decode(m->p[0].s, m->p[0].len, s->challenge,
	                  sizeof(s->challenge));
	if (n <= 0)
		return 0;
	s->challenge_len = (size_t)n;
	session_set_state(s, SESSION_VERIFY);
	if (s->self.password)
		return session_send_pas(s);
	if (s->ops->need_password_cb)
		s->ops->need_password_cb(s->arg);
	return 0;
}

static void
inf_apply(struct user *u, const struct adc_msg *m)
{
	for (unsigned i = 0; i < m->n; i++) {
		const char *p = m->p[i].s, *v = p + 2;
		uint64_t x;

		if (m->p[i].len < 2)
			continue;
		if (strncmp(p, "NI", 2) == 0 && *v)
			set_str(&u->nick, v);
		else if (strncmp(p, "ID", 2) == 0)
			set_str(&u->cid, v);
		else if (strncmp(p, "DE", 2) == 0)
			set_str(&u->desc, v);
		else if (strncmp(p, "I4", 2) == 0)
			set_str(&u->ip4, v);
		else if (strncmp(p, "SU", 2) == 0)
			set_str(&u->su, v);
		else if (strncmp(p, "VE", 2) == 0 || strncmp(p, "AP", 2) == 0) {
			char *c;

			if (strncmp(p, "AP", 2) == 0)
				c = xasprintf("%s%s%s", v,
				              *u->client ? " " : "", u->client);
			else if (*u->client && !strchr(u->client, ' ') &&
			         !strchr(v, ' ') && *v)
				c = xasprintf("%s %s", u->client, v);
			else
				c = xstrdup(v);
			free(u->client);
			u->client = c;
		} else if (strncmp(p, "SS", 2) == 0 && parse_u64(v, &x))
			u->share_bytes = x;
		else if (strncmp(p, "SF", 2) == 0 && parse_u64(v, &x))
			u->files = x;
		else if (strncmp(p, "SL", 2) == 0 && parse_u64(v, &x))
			u->slots = x > 10000 ? 10000 : (int)x;
		else if (strncmp(p, "FS", 2) == 0 && parse_u64(v, &x))
			u->free_slots = x > 10000 ? 10000 : (int)x;
		else if (strncmp(p, "U4", 2) == 0 && parse_u64(v, &x))
			u->udp4 = x > 65535 ? 0 : (unsigned)x;
		else if (strncmp(p, "CT", 2) == 0 && parse_u64(v, &x))
			u->ct = (int)(x & 0xff);
	}
}

static int
on_hub_inf(struct session *s, struct adc_msg *m)
{
	const char *ni = adc_named(m, "NI", NULL);
	const char *de = adc_named(m, "DE", NULL);
	const char *ve = adc_named(m, "VE", NULL);

	if (ni)
		set_str(&s->hub_name, ni);
	if (de)
		set_str(&s->hub_desc, de);
	if (s->ops->hub_info_cb)
		s->ops->hub_info_cb(s->arg, s->hub_name ? s->hub_name : "",
		                    s->hub_desc ? s->hub_desc : "",
		                    ve ? ve : "");
	return 0;
}

static int
on_binf(struct session *s, struct adc_msg *m)
{
	struct user *u = session_user(s, m->src);
	bool is_new = u == NULL;

	if (is_new)
		u = session_user_add(s, m->src);
	inf_apply(u, m);
	if (*u->nick == '\0')
		return 0; /* a user without a nick is not shown */
	if (m->src == s->sid && s->state != SESSION_NORMAL) {
		/* Our own INF comes last: the user list is complete. */
		s->me = u;
		u->online = true;
		session_set_state(s, SESSION_NORMAL);
		if (s->self.password) /* no longer needed in memory */
			explicit_bzero(s->self.password,
			               strlen(s->self.password));
		if (s->ops->logged_in_cb)
			s->ops->logged_in_cb(s->arg, u);
		return 0;
	}
	if (!u->online) {
		u->online = true;
		/* Users listed before our own INF were already there. */
		if (s->state == SESSION_NORMAL && s->ops->join_cb)
			s->ops->join_cb(s->arg, u);
	}
	return 0;
}

static int
on_inf(struct session *s, struct adc_msg *m)
{
	if (m->type == 'I')
		return on_hub_inf(s, m);
	if (m->type == 'B')
		return on_binf(s, m);
	return 0;
}

static int
on_qui(struct session *s, struct adc_msg *m)
{
	uint32_t sid;
	struct user *u;
	const char *ms = adc_named(m, "MS", NULL);

	if (m->n < 1 || adc_sid_decode(m->p[0].s, &sid) != 0)
		return 0;
	if (sid == s->sid) {
		session_set_state(s, SESSION_CLOSED);
		if (s->ops->fail_cb)
			s->ops->fail_cb(s->arg, 230,
			                ms ? ms : "disconnected by the hub");
		return 0;
	}
	u = session_user(s, sid);
	if (u == NULL)
		return 0;
	if (u->online && s->ops->leave_cb)
		s->ops->leave_cb(s->arg, u, ms);
	session_user_remove(s, u);
	return 0;
}

static int
on_sta(struct session *s, struct adc_msg *m)
{
	int code = sta_code(m);
	const char *text = m->n > 1 ? m->p[1].s : "";

	if (code < 0)
		return 0;
	if (m->type == 'D' || m->type == 'E') {
		struct user *u = session_user(s, m->src);

		if (u && s->ops->user_status_cb)
			s->ops->user_status_cb(s->arg, u, code, text);
		return 0;
	}
	if (code / 100 == 2) {
		session_set_state(s, SESSION_CLOSED);
		if (s->ops->fail_cb)
			s->ops->fail_cb(s->arg, code, text);
		return 0;
	}
	if (s->ops->status_cb)
		s->ops->status_cb(s->arg, code, text);
	return 0;
}

static int
on_msg(struct session *s, struct adc_msg *m)
{
	const struct user *from = NULL, *with = NULL;
	const char *pm = adc_named(m, "PM", NULL);
	const char *me = adc_named(m, "ME", NULL);

	if (m->n < 1)
		return 0;
	if (m->type != 'I') {
		from = session_user(s, m->src);
		if (from == NULL)
			return 0; /* a SID nobody has: ignore */
	}
	if (pm && from) {
		/* EMSG echoes come back with src = us; the other party is
		 * dst.  An incoming PM has src = them. */
		with = m->src == s->sid ? session_user(s, m->dst) : from;
		if (with == NULL)
			return 0;
	}
	if (s->ops->chat_cb)
		s->ops->chat_cb(s->arg, from, m->p[0].s, me && *me == '1',
		                pm != NULL && from != NULL, with);
	return 0;
}

static int
on_sch(struct session *s, struct adc_msg *m)
{
	struct user *u = session_user(s, m->src);

	if (u && m->src != s->sid && s->ops->search_cb)
		s->ops->search_cb(s->arg, u, m);
	return 0;
}

static int
on_res(struct session *s, struct adc_msg *m)
{
	struct user *u = session_user(s, m->src);

	if (u && s->ops->result_cb)
		s->ops->result_cb(s->arg, u, m);
	return 0;
}

static int
on_ctm(struct session *s, struct adc_msg *m)
{
	struct user *u = session_user(s, m->src);

	if (u && m->n >= 3 && s->ops->ctm_cb)
		s->ops->ctm_cb(s->arg, u, m->p[0].s, m->p[1].s, m->p[2].s);
	return 0;
}

static int
on_rcm(struct session *s, struct adc_msg *m)
{
	struct user *u = session_user(s, m->src);

	if (u && m->n >= 2 && s->ops->rcm_cb)
		s->ops->rcm_cb(s->arg, u, m->p[0].s, m->p[1].s);
	return 0;
}

#define IN(st) (1u << (st))
#define ANY                                                                 \
	(IN(SESSION_PROTOCOL) | IN(SESSION_IDENTIFY) | IN(SESSION_VERIFY) | \
	 IN(SESSION_NORMAL))
static const struct session_command {
	const char *cmd;
	const char *types; /* message types accepted */
	unsigned states;
	session_handler_fn *fn;
} session_commands[] = {
	{ "SUP", "I", IN(SESSION_PROTOCOL) | IN(SESSION_NORMAL), on_sup },
	{ "SID", "I", IN(SESSION_PROTOCOL), on_sid },
	{ "INF", "IB",
	  IN(SESSION_IDENTIFY) | IN(SESSION_VERIFY) | IN(SESSION_NORMAL),
	  on_inf },
	{ "GPA", "I", IN(SESSION_IDENTIFY) | IN(SESSION_VERIFY), on_gpa },
	{ "QUI", "I", ANY, on_qui },
	{ "STA", "IDE", ANY, on_sta },
	{ "MSG", "IBDEF", IN(SESSION_NORMAL), on_msg },
	{ "SCH", "BDEF", IN(SESSION_NORMAL), on_sch },
	{ "RES", "DE", IN(SESSION_NORMAL), on_res },
	{ "CTM", "DE", IN(SESSION_NORMAL), on_ctm },
	{ "RCM", "DE", IN(SESSION_NORMAL), on_rcm },
};

int
session_receive(struct session *s, char *line, size_t len)
{
	struct adc_msg m;

	if (s->state == SESSION_CLOSED)
		return 0;
	if (adc_parse(&m, line, len) != ADC_OK)
		return 0;
	/* Direct messages must be for us. */
	if ((m.type == 'D' || m.type == 'E') && m.dst != s->sid &&
	    m.src != s->sid)
		return 0;
	for (size_t i = 0;
	     i < sizeof(session_commands) / sizeof(session_commands[0]); i++) {
		const struct session_command *c = &session_commands[i];

		if (strcmp(c->cmd, m.cmd) != 0 || !strchr(c->types, m.type))
			continue;
		if (!(c->states & IN(s->state)))
			return 0;
		return c->fn(s, &m);
	}
	return 0;
}

int
session_set_nick(struct session *s, const char *nick)
{
	free(s->self.nick);
	s->self.nick = xstrdup(nick);
	if (s->state == SESSION_IDENTIFY)
		return session_send_inf(s, true);
	return 0;
}

int
session_set_password(struct session *s, const char *password)
{
	if (s->self.password) {
		explicit_bzero(s->self.password, strlen(s->self.password));
		free(s->self.password);
	}
	s->self.password = xstrdup(password);
	if (s->state == SESSION_VERIFY && s->challenge_len > 0)
		return session_send_pas(s);
	return 0;
}

int
session_start(struct session *s)
{
	char line[64];
	struct adc_buf b;

	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'H', "SUP", ADC_SID_NONE, ADC_SID_NONE);
	adc_buf_raw(&b, " ADBASE ADTIGR", 14);
	session_set_state(s, SESSION_PROTOCOL);
	return session_send(s, &b);
}

/* ---- what the user does ---- */

/* BMSG to the room (to NULL) or EMSG to one user (a PM, echoed to us). */
static int
session_msg(struct session *s, const struct user *to, const char *text, bool me)
{
	struct adc_buf b;
	char *line, sid[ADC_SID_LEN + 1];
	int err;

	if (s->state != SESSION_NORMAL)
		return -ENOTCONN;
	line = xmalloc(SESSION_LINE_MAX);
	adc_buf_init(&b, line, SESSION_LINE_MAX);
	adc_buf_header(&b, to ? 'E' : 'B', "MSG", s->sid,
	               to ? to->sid : ADC_SID_NONE);
	adc_buf_param(&b, text);
	if (to) {
		adc_sid_encode(s->sid, sid);
		adc_buf_named(&b, "PM", sid);
	}
	if (me)
		adc_buf_named(&b, "ME", "1");
	err = session_send(s, &b);
	free(line);
	return err;
}

int
session_chat(struct session *s, const char *text, bool me)
{
	return session_msg(s, NULL, text, me);
}

int
session_pm(struct session *s, const struct user *to, const char *text, bool me)
{
	return session_msg(s, to, text, me);
}

int
session_search(struct session *s, const char *const *terms, size_t n,
               const char *token)
{
	char line[4096];
	struct adc_buf b;

	if (s->state != SESSION_NORMAL)
		return -ENOTCONN;
	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'B', "SCH", s->sid, ADC_SID_NONE);
	for (size_t i = 0; i < n; i++)
		adc_buf_named(&b, (char[3]){ terms[i][0], terms[i][1], 0 },
		              terms[i] + 2);
	adc_buf_named(&b, "TO", token);
	return session_send(s, &b);
}

int
session_ctm(struct session *s, const struct user *to, unsigned port,
            const char *token)
{
	char line[512], p[16];
	struct adc_buf b;

	if (s->state != SESSION_NORMAL)
		return -ENOTCONN;
	snprintf(p, sizeof(p), "%u", port);
	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'D', "CTM", s->sid, to->sid);
	adc_buf_param(&b, "ADC/1.0");
	adc_buf_param(&b, p);
	adc_buf_param(&b, token);
	return session_send(s, &b);
}

int
session_rcm(struct session *s, const struct user *to, const char *token)
{
	char line[512];
	struct adc_buf b;

	if (s->state != SESSION_NORMAL)
		return -ENOTCONN;
	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'D', "RCM", s->sid, to->sid);
	adc_buf_param(&b, "ADC/1.0");
	adc_buf_param(&b, token);
	return session_send(s, &b);
}

int
session_res(struct session *s, const struct user *to, const char *const *fields,
            size_t n)
{
	char line[8192];
	struct adc_buf b;

	if (s->state != SESSION_NORMAL)
		return -ENOTCONN;
	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'D', "RES", s->sid, to->sid);
	for (size_t i = 0; i < n; i++)
		adc_buf_named(&b, (char[3]){ fields[i][0], fields[i][1], 0 },
		              fields[i] + 2);
	return session_send(s, &b);
}

int
session_dsta(struct session *s, const struct user *to, int code,
             const char *text, const char *extra)
{
	char line[1024], c[8];
	struct adc_buf b;

	if (s->state != SESSION_NORMAL)
		return -ENOTCONN;
	snprintf(c, sizeof(c), "%03d", code);
	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'D', "STA", s->sid, to->sid);
	adc_buf_param(&b, c);
	adc_buf_param(&b, text);
	if (extra)
		adc_buf_named(&b, (char[3]){ extra[0], extra[1], 0 },
		              extra + 2);
	return session_send(s, &b);
}
