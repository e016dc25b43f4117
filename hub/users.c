// SPDX-License-Identifier: MIT
/* users.c - who is on the hub: SIDs, the nick and CID tables (nicks are
 * unique without regard to ASCII case), the dense array of logged-in users
 * that broadcasts walk, and the shared user list a newcomer receives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "log.h"
#include "xalloc.h"

#define SID_MAX (1u << 20) /* SIDs are 20 bits */

uint32_t
users_alloc_sid(struct hub *h, struct conn *c)
{
	/* Keep the table at most half full, so the cursor finds a free slot
	 * soon; the cursor moves on, so a SID is reused as late as possible
	 * (a message for a user who just left does not reach a newcomer). */
	if ((h->n_conns + 1) * 2 > h->sid_cap && h->sid_cap < SID_MAX) {
		uint32_t cap = h->sid_cap ? h->sid_cap * 2 : 64;

		h->sids = xreallocarray(h->sids, cap, sizeof(*h->sids));
		memset(h->sids + h->sid_cap, 0,
		       (cap - h->sid_cap) * sizeof(*h->sids));
		h->sid_cap = cap;
	}
	for (;;) {
		uint32_t s = h->sid_next++ & (h->sid_cap - 1);

		if (s != 0 && h->sids[s] == NULL) {
			h->sids[s] = c;
			return s;
		}
	}
}

void
users_free_sid(struct hub *h, struct conn *c)
{
	if (c->sid < h->sid_cap && h->sids[c->sid] == c)
		h->sids[c->sid] = NULL;
}

struct conn *
users_by_sid(struct hub *h, uint32_t sid)
{
	struct conn *c;

	if (sid >= h->sid_cap)
		return NULL;
	c = h->sids[sid];
	return c && c->state == CONN_NORMAL && !c->closing ? c : NULL;
}

static uint32_t
users_hash_nick(const char *s)
{
	uint32_t x = 2166136261u;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch >= 'A' && ch <= 'Z')
			ch += 32;
		x = (x ^ ch) * 16777619u;
	}
	return x;
}

static uint32_t
users_hash_cid(const uint8_t *cid)
{
	uint32_t x;

	memcpy(&x, cid, sizeof(x)); /* a hash already */
	return x;
}

static bool
users_nick_eq(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)*a, y = (unsigned char)*b;

		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
		if (x == 0)
			return true;
	}
}

struct conn *
users_by_nick(struct hub *h, const char *nick)
{
	if (h->tab_cap == 0)
		return NULL;
	for (struct conn *c =
	             h->nick_tab[users_hash_nick(nick) & (h->tab_cap - 1)];
	     c; c = c->nick_next)
		if (users_nick_eq(c->nick, nick))
			return c;
	return NULL;
}

struct conn *
users_by_cid(struct hub *h, const uint8_t cid[TIGER_BYTES])
{
	if (h->tab_cap == 0)
		return NULL;
	for (struct conn *c =
	             h->cid_tab[users_hash_cid(cid) & (h->tab_cap - 1)];
	     c; c = c->cid_next)
		if (memcmp(c->cid, cid, TIGER_BYTES) == 0)
			return c;
	return NULL;
}

static void
users_link(struct hub *h, struct conn *c)
{
	uint32_t a = users_hash_nick(c->nick) & (h->tab_cap - 1);
	uint32_t b = users_hash_cid(c->cid) & (h->tab_cap - 1);

	c->nick_next = h->nick_tab[a];
	h->nick_tab[a] = c;
	c->cid_next = h->cid_tab[b];
	h->cid_tab[b] = c;
}

static void
users_grow_tables(struct hub *h)
{
	uint32_t old = h->tab_cap;
	struct conn **nt = h->nick_tab;

	h->tab_cap = old ? old * 2 : 64;
	h->nick_tab = xcalloc(h->tab_cap, sizeof(*h->nick_tab));
	free(h->cid_tab);
	h->cid_tab = xcalloc(h->tab_cap, sizeof(*h->cid_tab));
	for (uint32_t i = 0; i < old; i++) {
		struct conn *c = nt[i], *next;

		for (; c; c = next) {
			next = c->nick_next;
			users_link(h, c);
		}
	}
	free(nt);
}

void
users_tables_add(struct hub *h, struct conn *c)
{
	if (h->n_tab + 1 > h->tab_cap)
		users_grow_tables(h);
	users_link(h, c);
	h->n_tab++;
	c->in_tables = true;
}

static void
users_unlink(struct conn **head, struct conn *c, size_t link_off)
{
	for (struct conn **p = head; *p;
	     p = (struct conn **)((char *)*p + link_off))
		if (*p == c) {
			*p = *(struct conn **)((char *)c + link_off);
			return;
		}
}

void
users_tables_del(struct hub *h, struct conn *c)
{
	users_unlink(&h->nick_tab[users_hash_nick(c->nick) & (h->tab_cap - 1)],
	             c, offsetof(struct conn, nick_next));
	users_unlink(&h->cid_tab[users_hash_cid(c->cid) & (h->tab_cap - 1)], c,
	             offsetof(struct conn, cid_next));
	h->n_tab--;
	c->in_tables = false;
}

void
users_list_stale(struct hub *h)
{
	chunk_unref(h->userlist);
	h->userlist = NULL;
}

void
users_online_add(struct hub *h, struct conn *c)
{
	struct chunk *ul = h->userlist;

	if (h->n_online == h->cap_online) {
		h->cap_online = h->cap_online ? h->cap_online * 2 : 64;
		h->online = xreallocarray(h->online, h->cap_online,
		                          sizeof(*h->online));
	}
	c->online_idx = h->n_online;
	h->online[h->n_online++] = c;
	h->inf_bytes += c->inf_len;
	/* Appending past every slice already handed out changes nothing
	 * those slices cover, so the list chunk grows in place while it has
	 * room (a login storm costs O(users) bytes per login, not more). */
	if (ul && ul->cap - ul->len >= c->inf_len) {
		memcpy(ul->data + ul->len, c->inf, c->inf_len);
		ul->len += c->inf_len;
	} else {
		users_list_stale(h);
	}
}

void
users_online_del(struct hub *h, struct conn *c)
{
	struct conn *last = h->online[--h->n_online];

	last->online_idx = c->online_idx;
	h->online[c->online_idx] = last;
	h->inf_bytes -= c->inf_len;
	users_list_stale(h);
}

void
users_send_list(struct hub *h, struct conn *c)
{
	if (h->userlist == NULL && h->n_online > 0) {
		struct chunk *ul =
		        chunk_new(h->inf_bytes + h->inf_bytes / 2 + 4096);

		for (uint32_t i = 0; i < h->n_online; i++) {
			const struct conn *u = h->online[i];

			memcpy(ul->data + ul->len, u->inf, u->inf_len);
			ul->len += u->inf_len;
		}
		h->userlist = ul;
	}
	if (h->userlist)
		conn_push(c, h->userlist, 0, h->userlist->len);
	conn_send(c, c->inf, c->inf_len);
}

unsigned
users_broadcast_chunk(struct hub *h, struct chunk *ch,
                      const struct conn *except)
{
	unsigned k = 0;

	for (uint32_t i = 0; i < h->n_online; i++) {
		struct conn *u = h->online[i];

		if (u != except) {
			conn_push(u, ch, 0, ch->len);
			k++;
		}
	}
	h->stats.deliveries += k;
	return k;
}

unsigned
users_broadcast(struct hub *h, const char *s, size_t n,
                const struct conn *except)
{
	struct chunk *ch;
	unsigned k;

	if (h->n_online == 0)
		return 0;
	ch = chunk_from(s, n);
	k = users_broadcast_chunk(h, ch, except);
	chunk_unref(ch);
	return k;
}

unsigned
users_broadcast_features(struct hub *h, struct chunk *ch, const char *features)
{
	unsigned k = 0;

	for (uint32_t i = 0; i < h->n_online; i++) {
		struct conn *u = h->online[i];

		if (adc_features_match(features, u->su)) {
			conn_push(u, ch, 0, ch->len);
			k++;
		}
	}
	h->stats.deliveries += k;
	return k;
}

void
users_drop_slow(struct hub *h)
{
	while (h->n_slow > 0) {
		struct conn *victim = NULL;
		char why[128];

		for (uint32_t i = 0; i < h->n_online && !victim; i++)
			if (h->online[i]->slow)
				victim = h->online[i];
		h->n_slow--;
		if (victim == NULL)
			continue; /* it left meanwhile */
		snprintf(why, sizeof(why),
		         "reading too slowly: over %u bytes queued "
		         "(max_send_queue)",
		         h->cfg.max_send_queue);
		h->stats.slow_drops++;
		victim->slow = false;
		conn_close(victim, why, false, false);
	}
}
