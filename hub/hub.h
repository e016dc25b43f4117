// SPDX-License-Identifier: MIT
/* hub.h - the ADC hub's protocol core: connections, their state machine,
 * users, routing, chat commands and history.  It never touches a socket:
 * hub_input() takes the bytes a connection sent and queues replies in
 * conn->out; server.c only moves bytes, so unit tests and the fuzz target
 * feed it lines directly. */
#ifndef HUB_HUB_H
#define HUB_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "msg.h"
#include "outq.h"
#include "store.h"
#include "tiger.h"

enum conn_state { CONN_PROTOCOL, CONN_IDENTIFY, CONN_VERIFY, CONN_NORMAL };

enum flood_kind { FLOOD_CHAT, FLOOD_SEARCH, FLOOD_CONNECT, FLOOD_INF, FLOOD_N };

/* A fixed window of rate limiting. */
struct flood {
	uint32_t start_s; /* window start, seconds since the hub started */
	uint16_t count;   /* events in the window */
	uint8_t warned;   /* told the user once this window */
};

#define CHALLENGE_BYTES 24 /* random bytes in IGPA (ADC: at least 24) */

struct conn {
	struct hub *hub; /* borrowed */
	int fd;          /* server.c's socket; -1 in tests */
	uint32_t sid;
	uint8_t state;       /* enum conn_state; changed by conn_set_state() */
	uint8_t role;        /* enum role: the account's, once verified */
	uint8_t family;      /* 4 or 6: the address the connection came from */
	bool closing;        /* set by conn_close(); freed after the round */
	bool flush_on_close; /* try to write what is queued before closing */
	bool in_tables;      /* nick and CID are in hub's tables */
	bool in_dirty;       /* on hub->dirty */
	bool slow;           /* send queue over the limit: dropped after a
	                        broadcast finishes */
	bool wants_ping;     /* HSUP listed PING */
	bool server_wr;      /* server.c: EPOLLOUT armed */
	uint8_t tls_mode;    /* server.c: enum server_tls */
	uint16_t port;       /* remote port of the hub connection */
	uint16_t ctm_port;   /* TCP port the client last offered in a CTM */
	uint8_t addr[16];    /* network order; 4 bytes for IPv4 */
	uint32_t online_idx; /* index in hub->online while NORMAL */
	uint32_t in_len;     /* bytes in `in` */
	uint32_t inf_len;    /* bytes of `inf` before its NUL */
	uint32_t tls_retry;  /* server.c: bytes of an SSL_write to repeat */
	long long deadline_ms;  /* PROTOCOL..VERIFY: login must end by then */
	long long last_warn_ms; /* last "invalid message" notice */
	char *in;               /* owned: a partial line, NULL when none */
	struct outq out;        /* EPOLLOUT armed while non-empty */
	char *inf;  /* owned: our full BINF line, '\n' and NUL ended (from
	               IDENTIFY's end on) */
	char *nick; /* owned, unescaped */
	char *su;   /* in nick's block: the SU field, or "" */
	uint8_t cid[TIGER_BYTES];
	uint8_t *challenge; /* owned, VERIFY only: CHALLENGE_BYTES */
	void *tls;          /* server.c: SSL *, NULL for plain ADC */
	struct conn *nick_next, *cid_next; /* hash chains */
	struct conn *dirty_next, *dead_next;
	struct flood flood[FLOOD_N];
};

/* What the core asks of its server (NULL members are allowed). */
struct hub_ops {
	/* Output is queued or a connection closed: flush after this round. */
	void (*wake)(void *arg);
	/* !reload from an admin: reload the config; 0, or -1 with a reason
	 * in msg. */
	int (*reload)(void *arg, char *msg, size_t cap);
};

struct hist_line {
	long long ts_s;
	char *nick; /* owned */
	char *text; /* owned; "/me " prefix for ME1 */
};

struct hub_stats {
	unsigned long long logins, login_failures, disconnects;
	unsigned long long lines_in, bytes_in, invalid, deliveries;
	unsigned long long bytes_out, kicks, slow_drops, flood_drops;
};

struct hub {
	struct hub_config cfg;     /* owned copy */
	struct store *store;       /* borrowed */
	const struct hub_ops *ops; /* borrowed */
	void *ops_arg;
	long long now_ms;     /* monotonic, set by hub_tick()/hub_set_now() */
	long long start_ms;   /* now_ms when created */
	long long start_wall; /* time(NULL) when created */
	struct conn **sids;   /* owned: indexed by SID, sid_cap entries */
	uint32_t sid_cap, sid_next, n_conns, n_login;
	struct conn **online; /* owned: NORMAL connections, dense */
	uint32_t n_online, cap_online;
	uint32_t n_slow; /* connections marked slow, not yet dropped */
	struct conn **nick_tab, **cid_tab; /* owned chains, tab_cap buckets */
	uint32_t tab_cap, n_tab;
	struct chunk *userlist; /* owned ref: every online INF, or NULL */
	size_t inf_bytes;       /* sum of online users' INF lengths */
	struct conn *dirty;     /* connections with output to flush */
	struct conn *dead;      /* closed connections to free */
	struct hist_line *hist; /* owned ring of cfg.history_lines */
	uint32_t hist_cap, hist_head, hist_n, hist_unsaved;
	char *scratch; /* owned: max_line_bytes + 1 */
	size_t scratch_cap;
	bool shutting_down;
	unsigned long long logins_at_tick; /* stats.logins at the last tick */
	unsigned long long disconnects_at_tick;
	unsigned quiet_trims; /* malloc_trim()s still due on quiet ticks */
	unsigned ticks;       /* hub_tick() calls */
	struct hub_stats stats;
};

/*
 * hub_new - a hub with a copy of cfg, using store (borrowed; may be NULL
 * for a hub without accounts, bans or persistent history).  Never fails
 * (allocation failure ends the program).
 */
struct hub *hub_new(const struct hub_config *cfg, struct store *store,
                    const struct hub_ops *ops, void *ops_arg);
/* hub_free - frees every connection (without closing fds) and the hub. */
void hub_free(struct hub *h);

/* hub_set_now - the monotonic clock, in ms (the server's loop time). */
void hub_set_now(struct hub *h, long long now_ms);

/*
 * hub_conn_new - a connection from address sa, in PROTOCOL state with a
 * SID and a login deadline.  NULL when the hub has no room (max_users
 * plus logins in progress), the caller then closes the socket.
 */
struct conn *hub_conn_new(struct hub *h, const struct sockaddr *sa,
                          socklen_t len);

/*
 * hub_input - n bytes the connection sent: complete lines go to
 * hub_receive(), a partial one is kept (at most max_line_bytes; a longer
 * line closes the connection with a reason).
 */
void hub_input(struct hub *h, struct conn *c, const char *data, size_t n);

/* hub_receive - one line without its '\n' (need not be NUL-terminated). */
void hub_receive(struct hub *h, struct conn *c, const char *line, size_t len);

/* hub_conn_gone - the peer hung up or the socket failed. */
void hub_conn_gone(struct hub *h, struct conn *c, const char *why);

/* hub_tick - about once a second: login timeouts, history saved. */
void hub_tick(struct hub *h, long long now_ms);

/* hub_apply_config - take new settings (SIGHUP); listen and db changes
 * need a restart and are reported in the log. */
void hub_apply_config(struct hub *h, const struct hub_config *cfg);

/* hub_shutdown - tell every user why, close every connection (queued
 * output is flushed by the server), save the history. */
void hub_shutdown(struct hub *h, const char *why);

/* hub_take_dirty/hub_take_dead - the server's work lists (each
 * connection once); a dead connection is freed with hub_conn_free(). */
struct conn *hub_take_dirty(struct hub *h);
struct conn *hub_take_dead(struct hub *h);
void hub_conn_free(struct hub *h, struct conn *c);

/* ---- inside the core (conn.c, users.c, dispatch.c, chat.c) ---- */

/* conn.c */
void conn_set_state(struct conn *c, enum conn_state s);
/* conn_close - leave the hub: IQUI to the others (unless quiet), then
 * freed by the server after this round. */
void conn_close(struct conn *c, const char *why, bool flush, bool quiet);
void conn_send(struct conn *c, const char *s, size_t n);
void conn_push(struct conn *c, struct chunk *ch, uint32_t off, uint32_t len);
/* conn_sta - "ISTA code text" with optional " XXvalue" extra (raw). */
void conn_sta(struct conn *c, int code, const char *text, const char *extra);
/* conn_imsg_text - a hub message "IMSG text" (any length) to one
 * connection; conn_imsg formats one of up to 8 kB. */
void conn_imsg_text(struct conn *c, const char *text);
void conn_imsg(struct conn *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* conn_ip - the address as text. */
const char *conn_ip(const struct conn *c, char *buf, size_t cap);
/* conn_flood - count one event of a kind; false (and a notice) when the
 * user is over the limit: drop the message. */
bool conn_flood(struct conn *c, enum flood_kind k);
/* conn_kick - IQUI with ID/TL/MS to everyone, then close. */
void conn_kick(struct conn *victim, const struct conn *by, long long tl_s,
               const char *reason);

/* users.c */
uint32_t users_alloc_sid(struct hub *h, struct conn *c);
void users_free_sid(struct hub *h, struct conn *c);
struct conn *users_by_sid(struct hub *h, uint32_t sid);
struct conn *users_by_nick(struct hub *h, const char *nick);
struct conn *users_by_cid(struct hub *h, const uint8_t cid[TIGER_BYTES]);
void users_tables_add(struct hub *h, struct conn *c);
void users_tables_del(struct hub *h, struct conn *c);
void users_online_add(struct hub *h, struct conn *c);
void users_online_del(struct hub *h, struct conn *c);
/* users_send_list - every online INF (one shared chunk), then c's own. */
void users_send_list(struct hub *h, struct conn *c);
void users_list_stale(struct hub *h);
/* users_broadcast - n bytes to every online user except `except`
 * (NULL: all), encoded once; slow readers are dropped afterwards.
 * Returns the recipients. */
unsigned users_broadcast(struct hub *h, const char *s, size_t n,
                         const struct conn *except);
/* users_broadcast_chunk - ch (whole) to every online user but except. */
unsigned users_broadcast_chunk(struct hub *h, struct chunk *ch,
                               const struct conn *except);
/* users_broadcast_features - ch to users whose SU satisfies features. */
unsigned users_broadcast_features(struct hub *h, struct chunk *ch,
                                  const char *features);
void users_drop_slow(struct hub *h);

/* dispatch.c */
void dispatch(struct hub *h, struct conn *c, const char *line, size_t len);
/* route - a client's B/D/E/F message to its recipients, unchanged. */
void route(struct hub *h, struct conn *c, const struct adc_msg *m,
           const char *line, size_t len);

/* login.c */
void login_sup(struct hub *h, struct conn *c, const struct adc_msg *m);
void login_inf(struct hub *h, struct conn *c, struct adc_msg *m);
void login_pas(struct hub *h, struct conn *c, const struct adc_msg *m);
void login_inf_update(struct hub *h, struct conn *c, struct adc_msg *m);
/* login_set_role - a new role for an online user: CT in its INF changes
 * and everyone is told (BINF sid CTn); the user gets a notice. */
void login_set_role(struct hub *h, struct conn *c, enum role r);
/* login_check_nick - NULL, or why nick is not acceptable. */
const char *login_check_nick(const struct hub *h, const char *nick);

/* chat.c */
void chat_msg(struct hub *h, struct conn *c, const struct adc_msg *m,
              const char *line, size_t len);
void chat_history_add(struct hub *h, const char *nick, const char *text,
                      bool me);
void chat_history_send(struct hub *h, struct conn *c, unsigned n);
void chat_history_save(struct hub *h);
void chat_history_load(struct hub *h);
void chat_history_free(struct hub *h);

#endif
