// SPDX-License-Identifier: MIT
/* login.c - PROTOCOL -> IDENTIFY -> VERIFY -> NORMAL: feature negotiation,
 * the BINF checks (own SID, ID = Tiger(PD), unique CID and nick, the
 * address replaced or verified, PD stripped, CT from the role), the
 * password challenge, and the join; also later INF updates. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <openssl/crypto.h>

#include "base32.h"
#include "hub.h"
#include "log.h"
#include "xalloc.h"

/* CT bits by role, as uhub sets them (2 registered, 4 operator, 16
 * owner): clients show operators from these. */
static const int role_ct[] = { 0, 2, 4, 20 };

/* One allocation for nick and SU ("nick\0su\0"): fewer heap blocks per
 * user (idle users must stay under 1 kB each). */
static void
login_set_names(struct conn *c, const char *nick, const char *su)
{
	size_t n = strlen(nick) + 1, k = strlen(su) + 1;
	char *p = xmalloc(n + k);

	memcpy(p, nick, n);
	memcpy(p + n, su, k);
	free(c->nick);
	c->nick = p;
	c->su = p + n;
}

static bool
login_name_is(const struct adc_param *p, const char *name)
{
	return p->len >= 2 && p->s[0] == name[0] && p->s[1] == name[1];
}

/* Fields only the hub sets: identity, the secret PD, role, addresses. */
static bool
login_hub_owned(const struct adc_param *p)
{
	return login_name_is(p, "ID") || login_name_is(p, "PD") ||
	       login_name_is(p, "CT") || login_name_is(p, "I4") ||
	       login_name_is(p, "I6");
}

/* Refuse the login: ISTA code (fatal) with an optional flag, then close
 * once it is written. */
static void
login_refuse(struct conn *c, int code, const char *why, const char *extra)
{
	conn_sta(c, code, why, extra);
	c->hub->stats.login_failures++;
	conn_close(c, why, true, true);
}

void
login_sup(struct hub *h, struct conn *c, const struct adc_msg *m)
{
	bool base = false, tigr = false;
	char buf[2048], sid[ADC_SID_LEN + 1];
	struct adc_buf b;
	long n;

	for (unsigned i = 0; i < m->n; i++) {
		const char *p = m->p[i].s;

		if (strncmp(p, "AD", 2) != 0)
			continue;
		base |= strcmp(p + 2, "BASE") == 0 ||
		        strcmp(p + 2, "BAS0") == 0;
		tigr |= strcmp(p + 2, "TIGR") == 0;
		c->wants_ping |= strcmp(p + 2, "PING") == 0;
	}
	if (!base) {
		login_refuse(c, 245, "The BASE feature is required", "FCBASE");
		return;
	}
	if (!tigr) {
		login_refuse(c, 247,
		             "No common hash function: this hub uses "
		             "TIGR",
		             NULL);
		return;
	}
	adc_sid_encode(c->sid, sid);
	adc_buf_init(&b, buf, sizeof(buf));
	adc_buf_raw(&b, "ISUP ADBASE ADTIGR ADPING\nISID ", 31);
	adc_buf_raw(&b, sid, ADC_SID_LEN);
	adc_buf_raw(&b, "\nIINF CT32 VEipckit/" IPCKIT_VERSION,
	            strlen("\nIINF CT32 VEipckit/" IPCKIT_VERSION));
	adc_buf_named(&b, "NI", h->cfg.name);
	adc_buf_named(&b, "DE", h->cfg.description);
	if (c->wants_ping) {
		adc_buf_named_int(&b, "UC", h->n_online);
		adc_buf_named_int(&b, "MC", h->cfg.max_users);
		adc_buf_named_int(&b, "UP",
		                  (long long)time(NULL) - h->start_wall);
	}
	n = adc_buf_end(&b);
	if (n > 0)
		conn_send(c, buf, (size_t)n);
	conn_set_state(c, CONN_IDENTIFY);
}

const char *
login_check_nick(const struct hub *h, const char *nick)
{
	size_t n = strlen(nick);

	if (n == 0)
		return "Nick is empty";
	if (n > h->cfg.max_nick_bytes)
		return "Nick is too long (max_nick_bytes)";
	if (nick[0] == ' ' || nick[n - 1] == ' ')
		return "Nick starts or ends with a space";
	for (const unsigned char *p = (const void *)nick; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return "Nick contains a control character";
	return NULL;
}

/* 1 if text is an address of family equal to the connection's; 0 if it
 * is the wildcard; -1 if it is another address or not one. */
static int
login_addr_cmp(const struct conn *c, int family, const char *text)
{
	uint8_t a[16];

	if (inet_pton(family == 4 ? AF_INET : AF_INET6, text, a) != 1)
		return -1;
	if (memcmp(a, (const uint8_t[16]){ 0 }, family == 4 ? 4 : 16) == 0)
		return 0;
	return c->family == family &&
	                       memcmp(a, c->addr, family == 4 ? 4 : 16) == 0
	               ? 1
	               : -1;
}

static int
login_decode_id(const char *s, uint8_t out[TIGER_BYTES])
{
	return base32_decode(s, strlen(s), out, TIGER_BYTES) == TIGER_BYTES
	               ? 0
	               : -1;
}

/* Bans on the nick or the address: 1 (and the connection is refused),
 * 0 if none. */
static int
login_banned(struct hub *h, struct conn *c, const char *nick)
{
	char key[STORE_NICK_MAX], reason[256], ip[64], why[400], tl[32];
	long long until = 0, now = (long long)time(NULL);
	int hit;

	if (h->store == NULL || store_fold(nick, key, sizeof(key)) != 0)
		return 0;
	hit = store_ban_find(h->store, "nick", key, now, &until, reason,
	                     sizeof(reason));
	if (hit == 0)
		hit = store_ban_find(h->store, "ip", conn_ip(c, ip, sizeof(ip)),
		                     now, &until, reason, sizeof(reason));
	if (hit < 0)
		log_error("ban check: %s", store_error(h->store));
	if (hit <= 0)
		return 0;
	if (until == 0) {
		snprintf(why, sizeof(why), "You are banned: %s", reason);
		snprintf(tl, sizeof(tl), "TL-1");
	} else {
		snprintf(why, sizeof(why),
		         "You are banned for %lld more "
		         "seconds: %s",
		         until - now, reason);
		snprintf(tl, sizeof(tl), "TL%lld", until - now);
	}
	login_refuse(c, until == 0 ? 231 : 232, why, tl);
	return 1;
}

static void
login_complete(struct hub *h, struct conn *c)
{
	char ip[64], sid[ADC_SID_LEN + 1];

	if (c->role < ROLE_OP && h->n_online >= h->cfg.max_users) {
		login_refuse(c, 211, "Hub is full (max_users)", NULL);
		return;
	}
	free(c->challenge);
	c->challenge = NULL;
	conn_set_state(c, CONN_NORMAL);
	users_send_list(h, c);
	users_broadcast(h, c->inf, c->inf_len, NULL);
	users_online_add(h, c);
	h->stats.logins++;
	if (h->cfg.motd[0])
		conn_imsg(c, "%s", h->cfg.motd);
	chat_history_send(h, c, h->cfg.history_on_login);
	adc_sid_encode(c->sid, sid);
	log_info("login %s (%s) sid %s from %s:%u", c->nick,
	         role_name((enum role)c->role), sid, conn_ip(c, ip, sizeof(ip)),
	         c->port);
}

void
login_inf(struct hub *h, struct conn *c, struct adc_msg *m)
{
	const char *id = adc_named(m, "ID", NULL),
	           *pd = adc_named(m, "PD", NULL);
	const char *ni = adc_named(m, "NI", NULL),
	           *su = adc_named(m, "SU", NULL);
	const char *bad;
	uint8_t cid[TIGER_BYTES], pid[TIGER_BYTES], hash[TIGER_BYTES];
	enum role role = ROLE_GUEST;
	char ip[64], extra[80], *buf;
	struct adc_buf b;
	size_t cap;
	long n;
	int acct;

	if (!id || !pd || !ni) {
		snprintf(extra, sizeof(extra), "FM%s",
		         !id   ? "ID"
		         : !pd ? "PD"
		               : "NI");
		login_refuse(c, 243, "INF lacks a required field", extra);
		return;
	}
	if (login_decode_id(id, cid) != 0 || login_decode_id(pd, pid) != 0) {
		snprintf(extra, sizeof(extra), "FB%s",
		         login_decode_id(id, cid) ? "ID" : "PD");
		login_refuse(c, 243, "ID and PD must be 39 base32 characters",
		             extra);
		return;
	}
	if (tiger_hash(pid, sizeof(pid), hash) != 0 ||
	    CRYPTO_memcmp(hash, cid, TIGER_BYTES) != 0) {
		login_refuse(c, 227,
		             "PID does not match CID (ID must be "
		             "Tiger(PD))",
		             NULL);
		return;
	}
	login_set_names(c, ni, "");
	if ((bad = login_check_nick(h, ni)) != NULL) {
		login_refuse(c, 221, bad, NULL);
		return;
	}
	if (login_banned(h, c, ni))
		return;
	if (users_by_nick(h, ni)) {
		login_refuse(c, 222, "Nick taken, please pick another one",
		             NULL);
		return;
	}
	if (users_by_cid(h, cid)) {
		login_refuse(c, 224, "CID taken", NULL);
		return;
	}
	/* The addresses: the wildcard (or none) becomes the real one; any
	 * other must be it, so no one points others at a third party. */
	for (unsigned i = 0; i < m->n; i++) {
		int fam = login_name_is(&m->p[i], "I4")   ? 4
		          : login_name_is(&m->p[i], "I6") ? 6
		                                          : 0;

		/* Another family than the connection's cannot be checked:
		 * it is dropped below. */
		if (fam == 0 || fam != c->family)
			continue;
		if (login_addr_cmp(c, fam, m->p[i].s + 2) < 0) {
			snprintf(extra, sizeof(extra), "I%d%s", c->family,
			         conn_ip(c, ip, sizeof(ip)));
			login_refuse(c, 246,
			             "Your INF's address is not the one you "
			             "connect from",
			             extra);
			return;
		}
	}
	if (h->store) {
		acct = store_user_role(h->store, ni, &role);
		if (acct < 0) {
			log_error("account look-up: %s", store_error(h->store));
			login_refuse(c, 220, "Account database error", NULL);
			return;
		}
	} else {
		acct = 0;
	}
	if (acct == 0 && h->cfg.registered_only) {
		login_refuse(c, 226, "This hub is for registered users only",
		             NULL);
		return;
	}
	memcpy(c->cid, cid, TIGER_BYTES);
	login_set_names(c, ni, su ? su : "");
	c->role = (uint8_t)role;

	/* Our INF: the client's fields less PD (secret), CT (ours to set)
	 * and the addresses, which we write. */
	cap = h->cfg.max_line_bytes * 2 + 256;
	buf = xmalloc(cap);
	adc_buf_init(&b, buf, cap);
	adc_buf_header(&b, 'B', "INF", c->sid, ADC_SID_NONE);
	for (unsigned i = 0; i < m->n; i++) {
		const struct adc_param *p = &m->p[i];

		if (login_name_is(p, "PD") || login_name_is(p, "CT") ||
		    login_name_is(p, "I4") || login_name_is(p, "I6"))
			continue;
		adc_buf_param(&b, p->s);
	}
	if (role_ct[role])
		adc_buf_named_int(&b, "CT", role_ct[role]);
	adc_buf_named(&b, c->family == 4 ? "I4" : "I6",
	              conn_ip(c, ip, sizeof(ip)));
	n = adc_buf_end(&b);
	if (n < 0) {
		free(buf);
		login_refuse(c, 240, "INF too long", NULL);
		return;
	}
	c->inf = xmalloc((size_t)n + 1); /* NUL-terminated for chat.c */
	memcpy(c->inf, buf, (size_t)n + 1);
	c->inf_len = (uint32_t)n;
	free(buf);
	/* Nick and CID are taken from now on, so a second login cannot race
	 * this one through VERIFY. */
	users_tables_add(h, c);

	if (acct == 1) {
		char text[64], line[80];
		int k;

		c->challenge = xmalloc(CHALLENGE_BYTES);
		if (getrandom(c->challenge, CHALLENGE_BYTES, 0) !=
		    CHALLENGE_BYTES) {
			log_error("getrandom: %s", strerror(errno));
			login_refuse(c, 220, "No randomness for the challenge",
			             NULL);
			return;
		}
		base32_encode(c->challenge, CHALLENGE_BYTES, text,
		              sizeof(text));
		k = snprintf(line, sizeof(line), "IGPA %s\n", text);
		conn_send(c, line, (size_t)k);
		conn_set_state(c, CONN_VERIFY);
		return;
	}
	login_complete(h, c);
}

void
login_pas(struct hub *h, struct conn *c, const struct adc_msg *m)
{
	uint8_t got[TIGER_BYTES], want[TIGER_BYTES];
	char pw[STORE_PW_MAX + 1], sid[ADC_SID_LEN + 1], q[64];
	bool ok = false;
	int rc, k;

	if (m->n >= 1 && base32_decode(m->p[0].s, m->p[0].len, got,
	                               sizeof(got)) == TIGER_BYTES) {
		rc = store_user_password(h->store, c->nick, pw, sizeof(pw));
		if (rc < 0)
			log_error("password look-up for %s: %s", c->nick,
			          store_error(h->store));
		if (rc == 1 && tiger_hash2(pw, strlen(pw), c->challenge,
		                           CHALLENGE_BYTES, want) == 0)
			ok = CRYPTO_memcmp(got, want, TIGER_BYTES) == 0;
		OPENSSL_cleanse(pw, sizeof(pw));
	}
	if (ok) {
		login_complete(h, c);
		return;
	}
	/* As uhub does: the reason, and a QUI that carries it too. */
	conn_sta(c, 223, "Password is wrong", NULL);
	adc_sid_encode(c->sid, sid);
	k = snprintf(q, sizeof(q), "IQUI %s MSPassword\\sis\\swrong\n", sid);
	conn_send(c, q, (size_t)k);
	h->stats.login_failures++;
	conn_close(c, "wrong password", true, true);
}

/* Apply an INF update to c's stored INF and relay it; by_hub lets it set
 * the fields only the hub may set (a role change sets CT). */
static void
login_merge(struct hub *h, struct conn *c, struct adc_msg *m, bool by_hub)
{
	struct adc_buf up, full;
	struct adc_msg old;
	char *ubuf, *fbuf, *obuf;
	size_t cap = h->cfg.max_line_bytes * 2 + 256;
	const char *nick = NULL, *su = NULL;
	unsigned fields = 0;
	long un, fn;

	ubuf = xmalloc(cap);
	adc_buf_init(&up, ubuf, cap);
	adc_buf_header(&up, 'B', "INF", c->sid, ADC_SID_NONE);
	for (unsigned i = 0; i < m->n; i++) {
		const struct adc_param *p = &m->p[i];

		if ((!by_hub && login_hub_owned(p)) || p->len < 2)
			continue;
		if (login_name_is(p, "NI")) {
			const char *why = login_check_nick(h, p->s + 2);
			struct conn *other = users_by_nick(h, p->s + 2);

			if (why == NULL && other && other != c)
				why = "Nick taken";
			if (why) {
				conn_sta(c, 121, why, NULL);
				free(ubuf);
				return;
			}
			nick = p->s + 2;
		}
		if (login_name_is(p, "SU"))
			su = p->s + 2;
		adc_buf_param(&up, p->s);
		fields++;
	}
	un = adc_buf_end(&up);
	if (fields == 0 || un < 0) {
		free(ubuf);
		return;
	}

	/* Merge: the stored INF's fields the update does not name, then the
	 * update's non-empty ones (an empty value removes a field). */
	obuf = xmalloc(c->inf_len + 1);
	memcpy(obuf, c->inf, c->inf_len);
	fbuf = xmalloc(cap);
	adc_buf_init(&full, fbuf, cap);
	adc_buf_header(&full, 'B', "INF", c->sid, ADC_SID_NONE);
	if (adc_parse(&old, obuf, c->inf_len - 1) == ADC_OK) {
		for (unsigned i = 0; i < old.n; i++) {
			char name[3] = { old.p[i].s[0], old.p[i].s[1], 0 };

			if ((!by_hub && login_hub_owned(&old.p[i])) ||
			    adc_named(m, name, NULL) == NULL)
				adc_buf_param(&full, old.p[i].s);
		}
	}
	for (unsigned i = 0; i < m->n; i++) {
		const struct adc_param *p = &m->p[i];

		if (p->len <= 2 || (!by_hub && login_hub_owned(p)))
			continue;
		adc_buf_param(&full, p->s);
	}
	fn = adc_buf_end(&full);
	free(obuf);
	if (fn < 0 || (size_t)fn > h->cfg.max_line_bytes + 1) {
		conn_sta(c, 140, "INF would be too long", NULL);
		free(ubuf);
		free(fbuf);
		return;
	}
	if (nick || su) {
		users_tables_del(h, c);
		login_set_names(c, nick ? nick : c->nick, su ? su : c->su);
		users_tables_add(h, c);
	}
	h->inf_bytes -= c->inf_len;
	free(c->inf);
	c->inf = xrealloc(fbuf, (size_t)fn + 1); /* with the builder's NUL */
	c->inf_len = (uint32_t)fn;
	h->inf_bytes += c->inf_len;
	users_list_stale(h);
	users_broadcast(h, ubuf, (size_t)un, NULL);
	free(ubuf);
}

void
login_inf_update(struct hub *h, struct conn *c, struct adc_msg *m)
{
	if (conn_flood(c, FLOOD_INF))
		login_merge(h, c, m, false);
}

void
login_set_role(struct hub *h, struct conn *c, enum role r)
{
	char line[64], sid[ADC_SID_LEN + 1];
	struct adc_msg m;
	int n;

	if (c->role == r || c->state != CONN_NORMAL)
		return;
	c->role = (uint8_t)r;
	adc_sid_encode(c->sid, sid);
	n = role_ct[r] ? snprintf(line, sizeof(line), "BINF %s CT%d", sid,
	                          role_ct[r])
	               : snprintf(line, sizeof(line), "BINF %s CT", sid);
	if (adc_parse(&m, line, (size_t)n) == ADC_OK)
		login_merge(h, c, &m, true);
	conn_imsg(c, "Your role is now %s.", role_name(r));
}
