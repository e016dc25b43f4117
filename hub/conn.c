// SPDX-License-Identifier: MIT
/* conn.c - the hub object and its connections: life cycle, line framing,
 * queued output, flood windows, kicks, timeouts and shutdown.  The state
 * machine's handlers live in login.c and dispatch.c. */
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hub.h"
#include "log.h"
#include "xalloc.h"

static const char *const conn_state_names[] = { "protocol", "identify",
	                                        "verify", "normal" };

struct hub *
hub_new(const struct hub_config *cfg, struct store *store,
        const struct hub_ops *ops, void *ops_arg)
{
	static const struct hub_ops no_ops = { 0 };
	struct hub *h = xcalloc(1, sizeof(*h));

	config_copy(&h->cfg, cfg);
	h->store = store;
	h->ops = ops ? ops : &no_ops;
	h->ops_arg = ops_arg;
	h->start_wall = (long long)time(NULL);
	h->scratch_cap = cfg->max_line_bytes + 1;
	h->scratch = xmalloc(h->scratch_cap);
	h->hist_cap = cfg->history_lines;
	if (h->hist_cap)
		h->hist = xcalloc(h->hist_cap, sizeof(*h->hist));
	chat_history_load(h);
	return h;
}

void
hub_free(struct hub *h)
{
	struct conn *c;

	if (h == NULL)
		return;
	for (uint32_t i = 0; i < h->sid_cap; i++)
		if (h->sids[i])
			conn_close(h->sids[i], "hub freed", false, true);
	while ((c = hub_take_dead(h)) != NULL)
		hub_conn_free(h, c);
	chat_history_save(h);
	chat_history_free(h);
	chunk_unref(h->userlist);
	free(h->sids);
	free(h->online);
	free(h->nick_tab);
	free(h->cid_tab);
	free(h->scratch);
	config_fini(&h->cfg);
	free(h);
}

void
hub_set_now(struct hub *h, long long now_ms)
{
	if (h->start_ms == 0)
		h->start_ms = now_ms;
	h->now_ms = now_ms;
}

static void
hub_wake(struct hub *h)
{
	if (h->ops->wake)
		h->ops->wake(h->ops_arg);
}

struct conn *
hub_conn_new(struct hub *h, const struct sockaddr *sa, socklen_t len)
{
	struct conn *c;

	/* Logins in progress get room beyond max_users, but not without
	 * bound: a flood of half-open logins must not exhaust memory. */
	if (h->shutting_down ||
	    h->n_conns >= h->cfg.max_users + 64 + h->cfg.max_users / 8)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->hub = h;
	c->fd = -1;
	c->family = 4;
	if (sa && sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;

		memcpy(c->addr, &in->sin_addr, 4);
		c->port = ntohs(in->sin_port);
	} else if (sa && sa->sa_family == AF_INET6 &&
	           len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		c->port = ntohs(in6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			memcpy(c->addr, in6->sin6_addr.s6_addr + 12, 4);
		} else {
			c->family = 6;
			memcpy(c->addr, &in6->sin6_addr, 16);
		}
	}
	c->sid = users_alloc_sid(h, c);
	c->state = CONN_PROTOCOL;
	c->deadline_ms = h->now_ms + (long long)h->cfg.login_timeout_s * 1000;
	h->n_conns++;
	h->n_login++;
	return c;
}

void
hub_conn_free(struct hub *h, struct conn *c)
{
	(void)h;
	if (c == NULL)
		return;
	outq_clear(&c->out);
	free(c->in);
	free(c->inf);
	free(c->nick);
	free(c->challenge);
	free(c);
}

const char *
conn_ip(const struct conn *c, char *buf, size_t cap)
{
	if (inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, buf,
	              (socklen_t)cap) == NULL)
		snprintf(buf, cap, "?");
	return buf;
}

void
conn_set_state(struct conn *c, enum conn_state s)
{
	struct hub *h = c->hub;
	char sid[ADC_SID_LEN + 1];

	adc_sid_encode(c->sid, sid);
	log_debug("sid %s %s -> %s", sid, conn_state_names[c->state],
	          conn_state_names[s]);
	if (s == CONN_NORMAL && c->state != CONN_NORMAL)
		h->n_login--;
	c->state = (uint8_t)s;
	c->deadline_ms = h->now_ms + (long long)h->cfg.login_timeout_s * 1000;
}

static void
conn_mark_dirty(struct conn *c)
{
	struct hub *h = c->hub;

	if (c->in_dirty || c->closing)
		return;
	c->in_dirty = true;
	c->dirty_next = h->dirty;
	h->dirty = c;
	hub_wake(h);
}

/* A reader too slow to keep up is dropped, but only after the current
 * broadcast (which may be walking the online array). */
static void
conn_check_queue(struct conn *c)
{
	struct hub *h = c->hub;

	if (c->out.bytes > (size_t)h->cfg.max_send_queue + h->inf_bytes &&
	    !c->slow && c->state == CONN_NORMAL) {
		c->slow = true;
		h->n_slow++;
	}
}

void
conn_send(struct conn *c, const char *s, size_t n)
{
	if (c->closing)
		return;
	outq_write(&c->out, s, n);
	conn_mark_dirty(c);
	conn_check_queue(c);
}

void
conn_push(struct conn *c, struct chunk *ch, uint32_t off, uint32_t len)
{
	if (c->closing)
		return;
	outq_push(&c->out, ch, off, len);
	conn_mark_dirty(c);
	conn_check_queue(c);
}

void
conn_sta(struct conn *c, int code, const char *text, const char *extra)
{
	char buf[1024];
	char num[8];
	struct adc_buf b;
	long n;

	snprintf(num, sizeof(num), "%03d", code);
	adc_buf_init(&b, buf, sizeof(buf));
	adc_buf_raw(&b, "ISTA ", 5);
	adc_buf_raw(&b, num, 3);
	adc_buf_param(&b, text);
	if (extra) {
		adc_buf_raw(&b, " ", 1);
		adc_buf_raw(&b, extra, strlen(extra));
	}
	n = adc_buf_end(&b);
	if (n > 0)
		conn_send(c, buf, (size_t)n);
}

void
conn_imsg_text(struct conn *c, const char *text)
{
	size_t n = strlen(text), cap = 2 * n + 16;
	char *buf = xmalloc(cap);
	struct adc_buf b;
	long k;

	adc_buf_init(&b, buf, cap);
	adc_buf_raw(&b, "IMSG", 4);
	adc_buf_param(&b, text);
	k = adc_buf_end(&b);
	if (k > 0)
		conn_send(c, buf, (size_t)k);
	free(buf);
}

void
conn_imsg(struct conn *c, const char *fmt, ...)
{
	char text[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	conn_imsg_text(c, text);
}

void
conn_close(struct conn *c, const char *why, bool flush, bool quiet)
{
	struct hub *h = c->hub;
	char sid[ADC_SID_LEN + 1], ip[64];

	if (c->closing)
		return;
	adc_sid_encode(c->sid, sid);
	if (c->state == CONN_NORMAL) {
		users_online_del(h, c);
		if (!quiet) {
			char q[16];
			int n = snprintf(q, sizeof(q), "IQUI %s\n", sid);

			users_broadcast(h, q, (size_t)n, c);
		}
		log_info("logout %s sid %s from %s:%u: %s", c->nick, sid,
		         conn_ip(c, ip, sizeof(ip)), c->port, why);
	} else {
		h->n_login--;
		log_info("login of %s failed, sid %s from %s:%u in %s: %s",
		         c->nick ? c->nick : "(no nick yet)", sid,
		         conn_ip(c, ip, sizeof(ip)), c->port,
		         conn_state_names[c->state], why);
	}
	h->stats.disconnects++;
	if (c->in_tables)
		users_tables_del(h, c);
	users_free_sid(h, c);
	h->n_conns--;
	c->closing = true;
	c->flush_on_close = flush;
	if (!flush)
		outq_clear(&c->out);
	c->dead_next = h->dead;
	h->dead = c;
	hub_wake(h);
}

void
hub_conn_gone(struct hub *h, struct conn *c, const char *why)
{
	(void)h;
	conn_close(c, why, false, false);
	users_drop_slow(c->hub);
}

struct conn *
hub_take_dirty(struct hub *h)
{
	struct conn *c = h->dirty;

	if (c) {
		h->dirty = c->dirty_next;
		c->in_dirty = false;
	}
	return c;
}

struct conn *
hub_take_dead(struct hub *h)
{
	struct conn *c = h->dead;

	if (c)
		h->dead = c->dead_next;
	return c;
}

/* ---- input ---- */

static void
conn_too_long(struct hub *h, struct conn *c)
{
	char why[96];

	snprintf(why, sizeof(why), "line longer than max_line_bytes (%u)",
	         h->cfg.max_line_bytes);
	conn_sta(c, 240, why, NULL);
	conn_close(c, why, true, false);
}

void
hub_input(struct hub *h, struct conn *c, const char *data, size_t n)
{
	size_t max = h->cfg.max_line_bytes;

	h->stats.bytes_in += n;
	while (n > 0 && !c->closing) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (c->in_len + take > max) {
			conn_too_long(h, c);
			break;
		}
		if (nl == NULL) {
			/* Keep the partial line; the buffer lives only while
			 * a line is incomplete, so idle users hold none. */
			c->in = xrealloc(c->in, c->in_len + take + 1);
			memcpy(c->in + c->in_len, data, take);
			c->in_len += (uint32_t)take;
			break;
		}
		if (c->in_len > 0) {
			char *line = xrealloc(c->in, c->in_len + take + 1);

			memcpy(line + c->in_len, data, take);
			c->in = NULL;
			hub_receive(h, c, line, c->in_len + take);
			c->in_len = 0;
			free(line);
		} else {
			hub_receive(h, c, data, take);
		}
		data += take + 1;
		n -= take + 1;
	}
	users_drop_slow(h);
}

void
hub_receive(struct hub *h, struct conn *c, const char *line, size_t len)
{
	if (c->closing)
		return;
	if (len > 0 && line[len - 1] == '\r')
		len--; /* tolerated, as every hub does */
	h->stats.lines_in++;
	dispatch(h, c, line, len);
}

/* ---- limits ---- */

bool
conn_flood(struct conn *c, enum flood_kind k)
{
	static const char *const what[] = { "chat messages", "searches",
		                            "connection requests",
		                            "INF updates" };
	struct hub *h = c->hub;
	const struct rate *r[] = { &h->cfg.chat_flood, &h->cfg.search_flood,
		                   &h->cfg.connect_flood, &h->cfg.inf_flood };
	struct flood *f = &c->flood[k];
	uint32_t now_s = (uint32_t)((h->now_ms - h->start_ms) / 1000);

	if (r[k]->count == 0)
		return true;
	if (now_s - f->start_s >= r[k]->interval_s) {
		f->start_s = now_s;
		f->count = 0;
		f->warned = 0;
	}
	if (f->count < UINT16_MAX)
		f->count++;
	if (f->count <= r[k]->count)
		return true;
	h->stats.flood_drops++;
	if (f->count > 4 * r[k]->count + 16) {
		char why[128];

		snprintf(why, sizeof(why),
		         "flooding: over 4 times the limit of %u %s per %u s",
		         r[k]->count, what[k], r[k]->interval_s);
		conn_sta(c, 230, why, NULL);
		conn_close(c, why, true, false);
		return false;
	}
	if (!f->warned) {
		char why[160];

		f->warned = 1;
		snprintf(why, sizeof(why),
		         "Flood limit: at most %u %s per %u s; ignored until "
		         "the window ends",
		         r[k]->count, what[k], r[k]->interval_s);
		conn_sta(c, 100, why, NULL);
	}
	return false;
}

void
conn_kick(struct conn *victim, const struct conn *by, long long tl_s,
          const char *reason)
{
	struct hub *h = victim->hub;
	char buf[2048], sid[ADC_SID_LEN + 1];
	struct adc_buf b;
	long n;

	adc_buf_init(&b, buf, sizeof(buf));
	adc_buf_header(&b, 'I', "QUI", ADC_SID_NONE, ADC_SID_NONE);
	adc_sid_encode(victim->sid, sid);
	adc_buf_param(&b, sid);
	if (by) {
		adc_sid_encode(by->sid, sid);
		adc_buf_named(&b, "ID", sid);
	}
	if (tl_s != 0)
		adc_buf_named_int(&b, "TL", tl_s);
	adc_buf_named(&b, "MS", reason);
	n = adc_buf_end(&b);
	h->stats.kicks++;
	if (n > 0) {
		if (victim->state == CONN_NORMAL)
			users_broadcast(h, buf, (size_t)n, NULL);
		else
			conn_send(victim, buf, (size_t)n);
	}
	conn_close(victim, reason, true, true);
}

/* ---- time, reload, shutdown ---- */

/* When logins pause, the shared user list (1.5 times every INF) is only
 * a cache: drop it, and give the memory that a burst of joins and
 * broadcasts left in the heap back to the system, so an idle hub costs
 * what its users' state costs and no more. */
static void
hub_trim(struct hub *h)
{
	bool busy = h->stats.logins != h->logins_at_tick;

	if (busy || h->stats.disconnects != h->disconnects_at_tick)
		h->quiet_trims = 3;
	h->logins_at_tick = h->stats.logins;
	h->disconnects_at_tick = h->stats.disconnects;
	/* Trim on a few quiet ticks in a row: on the first, user lists may
	 * still be queued to slow readers. */
	if (busy || h->quiet_trims == 0)
		return;
	h->quiet_trims--;
	users_list_stale(h);
	malloc_trim(0);
}

void
hub_tick(struct hub *h, long long now_ms)
{
	hub_set_now(h, now_ms);
	if (h->n_login > 0) {
		for (uint32_t i = 0; i < h->sid_cap; i++) {
			struct conn *c = h->sids[i];

			if (c && c->state != CONN_NORMAL &&
			    now_ms >= c->deadline_ms) {
				char why[64];

				snprintf(why, sizeof(why),
				         "login timeout (%u s)",
				         h->cfg.login_timeout_s);
				conn_sta(c, 240, why, NULL);
				conn_close(c, why, true, false);
			}
		}
	}
	chat_history_save(h);
	if (h->store && ++h->ticks % 60 == 0 &&
	    store_ban_expire(h->store, (long long)time(NULL)) != 0)
		log_error("bans: %s", store_error(h->store));
	hub_trim(h);
}

void
hub_apply_config(struct hub *h, const struct hub_config *cfg)
{
	struct hub_config old = h->cfg;

	if (strcmp(old.listen, cfg->listen) != 0)
		log_warn("reload: listen changed to %s; it takes effect on "
		         "restart",
		         cfg->listen);
	if (strcmp(old.db, cfg->db) != 0)
		log_warn("reload: db changed to %s; it takes effect on restart",
		         cfg->db);
	config_copy(&h->cfg, cfg);
	/* What is sized by the config keeps its old size where resizing
	 * would disturb connected users. */
	if (h->cfg.max_line_bytes + 1 > h->scratch_cap) {
		h->scratch_cap = h->cfg.max_line_bytes + 1;
		h->scratch = xrealloc(h->scratch, h->scratch_cap);
	}
	if (h->cfg.history_lines != h->hist_cap) {
		chat_history_save(h);
		chat_history_free(h);
		h->hist_cap = h->cfg.history_lines;
		h->hist = h->hist_cap ? xcalloc(h->hist_cap, sizeof(*h->hist))
		                      : NULL;
		chat_history_load(h);
	}
	config_fini(&old);
}

void
hub_shutdown(struct hub *h, const char *why)
{
	h->shutting_down = true;
	for (uint32_t i = 0; i < h->sid_cap; i++) {
		struct conn *c = h->sids[i];
		char q[512], sid[ADC_SID_LEN + 1];
		struct adc_buf b;
		long n;

		if (c == NULL)
			continue;
		adc_sid_encode(c->sid, sid);
		conn_imsg(c, "%s", why);
		adc_buf_init(&b, q, sizeof(q));
		adc_buf_raw(&b, "IQUI ", 5);
		adc_buf_raw(&b, sid, ADC_SID_LEN);
		adc_buf_named(&b, "MS", why);
		n = adc_buf_end(&b);
		if (n > 0)
			conn_send(c, q, (size_t)n);
		/* Everyone leaves: no IQUI broadcasts for each other. */
		conn_close(c, why, true, true);
	}
	chat_history_save(h);
}
