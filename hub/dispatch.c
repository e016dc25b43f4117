// SPDX-License-Identifier: MIT
/* dispatch.c - one table says which command is valid in which state; a
 * parsed line goes to its handler, to ISTA 244 when the state is wrong, or
 * (unknown commands, as ADC asks) is routed by its type.  Every client
 * message with a my_sid must carry the sender's own SID. */
#include <stdio.h>
#include <string.h>

#include "hub.h"
#include "log.h"

#define IN(s) (1u << (s))

typedef void command_fn(struct hub *h, struct conn *c, struct adc_msg *m,
                        const char *line, size_t len);

struct command {
	const char cmd[4];
	unsigned states;   /* IN(CONN_...) */
	const char *types; /* message types the handler accepts */
	command_fn *fn;
};

static void
on_sup(struct hub *h, struct conn *c, struct adc_msg *m, const char *line,
       size_t len)
{
	(void)line;
	(void)len;
	if (c->state == CONN_PROTOCOL)
		login_sup(h, c, m);
	/* In NORMAL, SUP changes the connection's features; F-routing
	 * follows the SU field of the INF instead, so nothing to do. */
}

static void
on_inf(struct hub *h, struct conn *c, struct adc_msg *m, const char *line,
       size_t len)
{
	(void)line;
	(void)len;
	if (c->state == CONN_IDENTIFY)
		login_inf(h, c, m);
	else
		login_inf_update(h, c, m);
}

static void
on_pas(struct hub *h, struct conn *c, struct adc_msg *m, const char *line,
       size_t len)
{
	(void)line;
	(void)len;
	login_pas(h, c, m);
}

static void
on_msg(struct hub *h, struct conn *c, struct adc_msg *m, const char *line,
       size_t len)
{
	chat_msg(h, c, m, line, len);
}

/* The longest AN (include) term, in characters. */
static size_t
dispatch_longest_term(const struct adc_msg *m)
{
	size_t best = 0;
	unsigned from = 0;
	const char *v;

	while ((v = adc_named(m, "AN", &from)) != NULL) {
		size_t n = 0;

		for (const unsigned char *p = (const void *)v; *p; p++)
			n += (*p & 0xc0) != 0x80; /* count code points */
		if (n > best)
			best = n;
	}
	return best;
}

static void
on_sch(struct hub *h, struct conn *c, struct adc_msg *m, const char *line,
       size_t len)
{
	if (!conn_flood(c, FLOOD_SEARCH))
		return;
	/* A hash search (TR) names one file and a search by extension (EX,
	 * "every .txt", which ipckit peer's ext: sends alone) is narrowed by
	 * it; a search by words alone must have a word long enough not to
	 * match half the hub's files. */
	if (adc_named(m, "TR", NULL) == NULL &&
	    adc_named(m, "EX", NULL) == NULL && h->cfg.min_search_len > 0 &&
	    dispatch_longest_term(m) < h->cfg.min_search_len) {
		char why[128];

		snprintf(why, sizeof(why),
		         "Search ignored: no term of %u characters or more "
		         "and no extension (min_search_length)",
		         h->cfg.min_search_len);
		conn_sta(c, 100, why, NULL);
		return;
	}
	route(h, c, m, line, len);
}

static void
on_connect(struct hub *h, struct conn *c, struct adc_msg *m, const char *line,
           size_t len)
{
	if (!conn_flood(c, FLOOD_CONNECT))
		return;
	/* CTM protocol port token: remember the port for !users. */
	if (strcmp(m->cmd, "CTM") == 0 && m->n >= 2) {
		unsigned port = 0;

		if (sscanf(m->p[1].s, "%5u", &port) == 1 && port < 65536)
			c->ctm_port = (uint16_t)port;
	}
	route(h, c, m, line, len);
}

static void
on_route(struct hub *h, struct conn *c, struct adc_msg *m, const char *line,
         size_t len)
{
	route(h, c, m, line, len);
}

static const struct command commands[] = {
	{ "SUP", IN(CONN_PROTOCOL) | IN(CONN_NORMAL), "H", on_sup },
	{ "INF", IN(CONN_IDENTIFY) | IN(CONN_NORMAL), "B", on_inf },
	{ "PAS", IN(CONN_VERIFY), "H", on_pas },
	{ "MSG", IN(CONN_NORMAL), "BDEF", on_msg },
	{ "SCH", IN(CONN_NORMAL), "BDEF", on_sch },
	{ "RES", IN(CONN_NORMAL), "DE", on_route },
	{ "CTM", IN(CONN_NORMAL), "DE", on_connect },
	{ "RCM", IN(CONN_NORMAL), "DE", on_connect },
	{ "STA", IN(CONN_NORMAL), "DEH", on_route },
};

static const struct command *
dispatch_find(const char *cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (memcmp(commands[i].cmd, cmd, 3) == 0)
			return &commands[i];
	return NULL;
}

/* An invalid line is ignored, as ADC says; the sender is told (at most
 * once a second, so a stream of garbage gets no stream of replies). */
static void
dispatch_invalid(struct hub *h, struct conn *c, const char *why)
{
	h->stats.invalid++;
	if (h->now_ms - c->last_warn_ms >= 1000 || c->last_warn_ms == 0) {
		char text[128];

		c->last_warn_ms = h->now_ms ? h->now_ms : 1;
		snprintf(text, sizeof(text), "Invalid message ignored: %s",
		         why);
		conn_sta(c, 140, text, NULL);
	}
}

static void
dispatch_bad_state(struct conn *c, const struct adc_msg *m)
{
	char fc[8], why[64];

	snprintf(fc, sizeof(fc), "FC%c%s", m->type, m->cmd);
	snprintf(why, sizeof(why), "%c%s is not valid now", m->type, m->cmd);
	conn_sta(c, 244, why, fc);
	if (c->state != CONN_NORMAL)
		conn_close(c, why, true, false);
}

void
dispatch(struct hub *h, struct conn *c, const char *line, size_t len)
{
	const struct command *cmd;
	struct adc_msg m;
	int rc;

	if (len > h->scratch_cap - 1) {
		dispatch_invalid(h, c, "line too long");
		return;
	}
	memcpy(h->scratch, line, len);
	rc = adc_parse(&m, h->scratch, len);
	if (rc == ADC_EEMPTY)
		return; /* keep-alive */
	if (rc != ADC_OK) {
		dispatch_invalid(h, c, adc_strerror(rc));
		return;
	}
	if (strchr("BDEF", m.type) && m.src != c->sid) {
		/* Acting as someone else is not a mistake to forgive. */
		char why[64];

		snprintf(why, sizeof(why),
		         "%c%s carries a SID that is not "
		         "yours",
		         m.type, m.cmd);
		conn_sta(c, 240, why, NULL);
		conn_close(c, why, true, false);
		return;
	}
	cmd = dispatch_find(m.cmd);
	if (cmd && strchr(cmd->types, m.type) == NULL)
		cmd = NULL; /* e.g. an IMSG from a client: not ours to take */
	if (cmd == NULL) {
		if (c->state != CONN_NORMAL) {
			dispatch_bad_state(c, &m);
			return;
		}
		/* Unknown commands are routed by type (forward
		 * compatibility); I, C, U and H never travel on. */
		if (strchr("BDEF", m.type))
			route(h, c, &m, line, len);
		return;
	}
	if (!(cmd->states & IN(c->state))) {
		dispatch_bad_state(c, &m);
		return;
	}
	cmd->fn(h, c, &m, line, len);
}

void
route(struct hub *h, struct conn *c, const struct adc_msg *m, const char *line,
      size_t len)
{
	struct chunk *ch;
	struct conn *to = NULL;

	if (c->state != CONN_NORMAL || !strchr("BDEF", m->type))
		return;
	if (strchr("DE", m->type)) {
		to = users_by_sid(h, m->dst);
		if (to == NULL)
			return; /* gone: nothing to deliver */
	}
	/* Encoded once, with its newline, straight from the line the client
	 * sent (already validated); m still points into the scratch
	 * buffer, so the copy goes elsewhere. */
	ch = chunk_new(len + 1);
	memcpy(ch->data, line, len);
	ch->data[len] = '\n';
	ch->len = (uint32_t)len + 1;
	if (m->type == 'B') {
		users_broadcast_chunk(h, ch, NULL);
	} else if (m->type == 'F') {
		users_broadcast_features(h, ch, m->features);
	} else {
		conn_push(to, ch, 0, ch->len);
		h->stats.deliveries++;
		if (m->type == 'E' && to != c) {
			conn_push(c, ch, 0, ch->len);
			h->stats.deliveries++;
		}
	}
	chunk_unref(ch);
}
