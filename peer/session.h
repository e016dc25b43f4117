// SPDX-License-Identifier: MIT
/* session.h - the client side of one ADC hub connection: login (PROTOCOL,
 * IDENTIFY, VERIFY, NORMAL), the user list, chat and the commands routed
 * through the hub.  No I/O: session_receive() is fed lines and the
 * session hands lines to send and events to its ops table, so unit tests
 * drive it with text. */
#ifndef PEER_SESSION_H
#define PEER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "tiger.h"

enum session_state {
	SESSION_PROTOCOL, /* HSUP sent, waiting for ISUP + ISID */
	SESSION_IDENTIFY, /* SID known; BINF sent (or waiting for a nick) */
	SESSION_VERIFY,   /* IGPA received; HPAS sent (or waiting for it) */
	SESSION_NORMAL,   /* our own BINF came back: logged in */
	SESSION_CLOSED,   /* refused, kicked or quit: nothing more is sent */
};

/* One user of the hub, from its BINF fields (updated incrementally). */
struct user {
	uint32_t sid;
	char *nick;   /* owned; "" until NI is known */
	char *cid;    /* owned; base32 CID or "" */
	char *desc;   /* owned */
	char *ip4;    /* owned; "" when unknown */
	char *client; /* owned: "AP VE" or VE */
	char *su;     /* owned: the SU feature list */
	uint64_t share_bytes, files;
	int slots, free_slots; /* -1: not given */
	unsigned udp4;         /* UDP port, 0 when none */
	int ct;            /* CT: 1 bot, 2 reg, 4 op, 8 su, 16 owner, 32 hub */
	bool online;       /* seen in NORMAL (a join was reported) */
	struct user *next; /* bucket chain; owned by the session table */
};

/* What the session tells its owner.  Every member may be NULL. */
struct session_ops {
	/* Sends one line (with its '\n'); 0, or -errno (the session then
	 * treats the hub as gone). */
	int (*send_cb)(void *arg, const char *line, size_t len);
	/* The hub's name/description/version (IINF), possibly repeated. */
	void (*hub_info_cb)(void *arg, const char *name, const char *desc,
	                    const char *version);
	/* The SID is assigned and no nick is set: call session_set_nick(). */
	void (*need_nick_cb)(void *arg);
	/* IGPA came and no password is set: call session_set_password(). */
	void (*need_password_cb)(void *arg);
	void (*logged_in_cb)(void *arg, const struct user *me);
	/* Refused or removed by the hub; reason is the hub's text. */
	void (*fail_cb)(void *arg, int code, const char *reason);
	void (*join_cb)(void *arg, const struct user *u);
	/* u is freed after the call. reason may be NULL. */
	void (*leave_cb)(void *arg, const struct user *u, const char *reason);
	/* from NULL: the hub.  pm: a private message in the conversation
	 * with `with` (the other party, also for our own echoed PMs). */
	void (*chat_cb)(void *arg, const struct user *from, const char *text,
	                bool me, bool pm, const struct user *with);
	/* An informational ISTA (severity 0 or 1). */
	void (*status_cb)(void *arg, int code, const char *text);
	/* BSCH/FSCH/DSCH from a user (not answered here). */
	void (*search_cb)(void *arg, const struct user *from,
	                  const struct adc_msg *m);
	/* DRES: a search result routed by the hub. */
	void (*result_cb)(void *arg, const struct user *from,
	                  const struct adc_msg *m);
	/* DCTM: from asks us to connect to its ip4:port. */
	void (*ctm_cb)(void *arg, const struct user *from, const char *proto,
	               const char *port, const char *token);
	/* DRCM: from (passive) asks us to send a CTM. */
	void (*rcm_cb)(void *arg, const struct user *from, const char *proto,
	               const char *token);
	/* A DSTA from a user (e.g. a refused connection). */
	void (*user_status_cb)(void *arg, const struct user *from, int code,
	                       const char *text);
};

#define SESSION_BUCKETS 256

/* Our own identity and what our INF advertises. */
struct session_self {
	uint8_t pid[TIGER_BYTES];
	char pid32[TIGER_BASE32_LEN + 1];
	char cid32[TIGER_BASE32_LEN + 1];
	char *nick;     /* owned; NULL until set */
	char *password; /* owned; NULL until set; wiped on free */
	char *desc;     /* owned; may be NULL */
	uint64_t share_bytes, files;
	int slots, free_slots;
	unsigned tcp_port, udp_port; /* 0: passive */
};

struct session {
	enum session_state state; /* changed only by session_set_state() */
	uint32_t sid;             /* IDENTIFY and later */
	struct session_self self;
	const struct session_ops *ops; /* borrowed */
	void *arg;
	char *hub_name, *hub_desc;           /* owned */
	struct user *users[SESSION_BUCKETS]; /* owned chains, by SID */
	size_t n_users;
	struct user *me; /* borrowed from users once our BINF came back */
	uint8_t challenge[64];
	size_t challenge_len; /* VERIFY: IGPA data waiting for a password */
	bool hub_tigr;        /* the hub's ISUP offered TIGR */
	/* Last advertised values, for incremental INF updates. */
	uint64_t sent_share, sent_files;
	int sent_slots, sent_free;
};

/* session_init - a new session with a fresh random PID (getrandom) and
 * its CID.  Returns 0 or -errno. */
int session_init(struct session *s, const struct session_ops *ops, void *arg);
void session_fini(struct session *s);

/* session_start - queue HSUP (the connection is up). */
int session_start(struct session *s);

/* session_set_nick / session_set_password - copy the values; if the
 * session was waiting for them, the INF / PAS is sent now. */
int session_set_nick(struct session *s, const char *nick);
int session_set_password(struct session *s, const char *password);

/*
 * session_receive - one line from the hub (without '\n'; line[len] must be
 * writable).  Invalid lines and unknown commands are ignored, as ADC asks.
 * Returns 0, or -errno if sending a reply failed.
 */
int session_receive(struct session *s, char *line, size_t len);

/* session_update_inf - after self fields changed in NORMAL: send a BINF
 * with the fields that differ from the last one sent. */
int session_update_inf(struct session *s);

/* Things to send (NORMAL only; -ENOTCONN otherwise). */
int session_chat(struct session *s, const char *text, bool me);
int session_pm(struct session *s, const struct user *to, const char *text,
               bool me);
/* terms: the named parameters ("ANfoo", "TRxxxx") already built. */
int session_search(struct session *s, const char *const *terms, size_t n,
                   const char *token);
int session_ctm(struct session *s, const struct user *to, unsigned port,
                const char *token);
int session_rcm(struct session *s, const struct user *to, const char *token);
/* DRES to a passive searcher: fields already built ("FN/a", "SI3"). */
int session_res(struct session *s, const struct user *to,
                const char *const *fields, size_t n);
int session_dsta(struct session *s, const struct user *to, int code,
                 const char *text, const char *extra);

/* Lookups. */
struct user *session_user(const struct session *s, uint32_t sid);
/* Case-insensitive nick; NULL if nobody online has it. */
struct user *session_user_by_nick(const struct session *s, const char *nick);
struct user *session_user_by_cid(const struct session *s, const char *cid);
/* session_users - up to max online users sorted by nick; the count. */
size_t session_users(const struct session *s, const struct user **out,
                     size_t max);

const char *session_state_name(enum session_state st);

#endif
