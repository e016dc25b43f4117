// SPDX-License-Identifier: MIT
/* config.h - the hub's settings: safe defaults, a "key = value" file with
 * file:line errors, and the reference in docs/hub.md. */
#ifndef HUB_CONFIG_H
#define HUB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* A rate limit: at most count events per interval_s seconds. */
struct rate {
	unsigned count;
	unsigned interval_s;
};

struct hub_config {
	char *listen;      /* owned: "host:port" */
	char *db;          /* owned: SQLite file of accounts, bans, history */
	char *key_file;    /* owned: password key; NULL = db + ".key" */
	char *name;        /* owned: hub name (IINF NI) */
	char *description; /* owned: IINF DE */
	char *motd;        /* owned: sent on login; "" for none */
	char *rules;       /* owned: !rules */
	bool registered_only;
	unsigned max_users;      /* logged-in users */
	unsigned max_line_bytes; /* one ADC line, without its '\n' */
	unsigned max_nick_bytes;
	unsigned login_timeout_s;
	unsigned max_send_queue; /* bytes a user may lag behind (beyond a
	                            full user list) before being dropped */
	struct rate chat_flood, search_flood, connect_flood, inf_flood;
	unsigned min_search_len;   /* characters of the longest AN term */
	unsigned history_lines;    /* main-chat lines kept */
	unsigned history_on_login; /* lines replayed to a new user */
	bool tls;                  /* also accept ADCS (TLS) on the port */
	bool tls_require;          /* refuse plain ADC */
	char *tls_cert;            /* owned: PEM; NULL = db + ".crt" */
	char *tls_key;             /* owned: PEM; NULL = db + ".tls.key" */
};

/* config_defaults - safe defaults into *cfg (owned strings). */
void config_defaults(struct hub_config *cfg);

/*
 * config_load - apply the settings in path over *cfg.  Returns 0, or -1
 * with "path:line: what is wrong" in err (cfg may then hold some of the
 * file's values: load into a scratch copy to keep the old settings).
 */
int config_load(struct hub_config *cfg, const char *path, char *err,
                size_t errcap);

/* config_set - one "key", "value" pair; 0, or -1 with a reason in err. */
int config_set(struct hub_config *cfg, const char *key, const char *value,
               char *err, size_t errcap);

/* config_fini - free the owned strings. */
void config_fini(struct hub_config *cfg);

/* config_copy - a deep copy. */
void config_copy(struct hub_config *dst, const struct hub_config *src);

#endif
