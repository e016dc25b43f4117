// SPDX-License-Identifier: MIT
/* config.c - the hub's settings file: one "key = value" per line, '#'
 * comments, values optionally in double quotes with \n \" \\ escapes.  An
 * unknown key is an error (a typo must not silently keep a default). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xalloc.h"

enum config_kind { K_STR, K_BOOL, K_UINT, K_RATE };

struct config_key {
	const char *name;
	enum config_kind kind;
	size_t off;
	unsigned min, max; /* K_UINT */
};

#define OFF(f) offsetof(struct hub_config, f)
static const struct config_key config_keys[] = {
	{ "listen", K_STR, OFF(listen), 0, 0 },
	{ "db", K_STR, OFF(db), 0, 0 },
	{ "key_file", K_STR, OFF(key_file), 0, 0 },
	{ "hub_name", K_STR, OFF(name), 0, 0 },
	{ "hub_description", K_STR, OFF(description), 0, 0 },
	{ "motd", K_STR, OFF(motd), 0, 0 },
	{ "rules", K_STR, OFF(rules), 0, 0 },
	{ "registered_only", K_BOOL, OFF(registered_only), 0, 0 },
	{ "max_users", K_UINT, OFF(max_users), 1, 500000 },
	{ "max_line_bytes", K_UINT, OFF(max_line_bytes), 256, 1 << 20 },
	{ "max_nick_bytes", K_UINT, OFF(max_nick_bytes), 1, 256 },
	{ "login_timeout", K_UINT, OFF(login_timeout_s), 1, 3600 },
	{ "max_send_queue", K_UINT, OFF(max_send_queue), 4096, 1u << 30 },
	{ "chat_flood", K_RATE, OFF(chat_flood), 0, 0 },
	{ "search_flood", K_RATE, OFF(search_flood), 0, 0 },
	{ "connect_flood", K_RATE, OFF(connect_flood), 0, 0 },
	{ "inf_flood", K_RATE, OFF(inf_flood), 0, 0 },
	{ "min_search_length", K_UINT, OFF(min_search_len), 0, 1000 },
	{ "history_lines", K_UINT, OFF(history_lines), 0, 100000 },
	{ "history_on_login", K_UINT, OFF(history_on_login), 0, 100000 },
	{ "tls", K_BOOL, OFF(tls), 0, 0 },
	{ "tls_require", K_BOOL, OFF(tls_require), 0, 0 },
	{ "tls_cert", K_STR, OFF(tls_cert), 0, 0 },
	{ "tls_key", K_STR, OFF(tls_key), 0, 0 },
};

void
config_defaults(struct hub_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = xstrdup("127.0.0.1:1511");
	cfg->db = xstrdup("hub.db");
	cfg->key_file = NULL;
	cfg->name = xstrdup("ipckit hub");
	cfg->description = xstrdup("an ADC hub for file sharing and chat");
	cfg->motd = xstrdup("Welcome. Type !help for the hub's commands.");
	cfg->rules = xstrdup("Be kind. No flooding. Share what you may.");
	cfg->registered_only = false;
	cfg->max_users = 1000;
	cfg->max_line_bytes = 16384;
	cfg->max_nick_bytes = 64;
	cfg->login_timeout_s = 30;
	cfg->max_send_queue = 1 << 20;
	cfg->chat_flood = (struct rate){ 10, 5 };
	cfg->search_flood = (struct rate){ 10, 10 };
	cfg->connect_flood = (struct rate){ 60, 10 };
	cfg->inf_flood = (struct rate){ 20, 60 };
	cfg->min_search_len = 3;
	cfg->history_lines = 100;
	cfg->history_on_login = 10;
}

static char **
config_str(struct hub_config *cfg, const struct config_key *k)
{
	return (char **)((char *)cfg + k->off);
}

void
config_fini(struct hub_config *cfg)
{
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]);
	     i++)
		if (config_keys[i].kind == K_STR)
			free(*config_str(cfg, &config_keys[i]));
	memset(cfg, 0, sizeof(*cfg));
}

void
config_copy(struct hub_config *dst, const struct hub_config *src)
{
	*dst = *src;
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]);
	     i++) {
		char **p = config_str(dst, &config_keys[i]);

		if (config_keys[i].kind == K_STR && *p)
			*p = xstrdup(*p);
	}
}

static int
config_uint(const char *v, unsigned min, unsigned max, unsigned *out)
{
	unsigned long long n;
	char *end;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

int
config_set(struct hub_config *cfg, const char *key, const char *value,
           char *err, size_t errcap)
{
	const struct config_key *k = NULL;
	char *p;

	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]);
	     i++)
		if (strcmp(config_keys[i].name, key) == 0)
			k = &config_keys[i];
	if (k == NULL) {
		snprintf(err, errcap, "unknown setting '%s'", key);
		return -1;
	}
	p = (char *)cfg + k->off;
	switch (k->kind) {
	case K_STR:
		free(*(char **)p);
		*(char **)p = xstrdup(value);
		return 0;
	case K_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
		    strcmp(value, "1") == 0) {
			*(bool *)p = true;
			return 0;
		}
		if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
		    strcmp(value, "0") == 0) {
			*(bool *)p = false;
			return 0;
		}
		snprintf(err, errcap, "%s: '%s' is not true or false", key,
		         value);
		return -1;
	case K_UINT:
		if (config_uint(value, k->min, k->max, (unsigned *)p) == 0)
			return 0;
		snprintf(err, errcap,
		         "%s: '%s' is not a whole number in %u..%u", key, value,
		         k->min, k->max);
		return -1;
	case K_RATE: {
		struct rate r;
		char num[32];
		const char *slash = strchr(value, '/');

		if (slash && (size_t)(slash - value) < sizeof(num)) {
			memcpy(num, value, (size_t)(slash - value));
			num[slash - value] = '\0';
			if (config_uint(num, 0, 1000000, &r.count) == 0 &&
			    config_uint(slash + 1, 1, 86400, &r.interval_s) ==
			            0) {
				*(struct rate *)p = r;
				return 0;
			}
		}
		snprintf(err, errcap,
		         "%s: '%s' is not COUNT/SECONDS (e.g. 10/5; 0/1 "
		         "turns the limit off)",
		         key, value);
		return -1;
	}
	}
	return -1;
}

/* Unquote "..." in place (escapes \n \" \\); -1 if unterminated. */
static int
config_unquote(char *v)
{
	size_t o = 0, i = 1;

	if (v[0] != '"')
		return 0;
	for (; v[i] && v[i] != '"'; i++) {
		if (v[i] == '\\' && v[i + 1]) {
			i++;
			v[o++] = v[i] == 'n' ? '\n' : v[i];
		} else {
			v[o++] = v[i];
		}
	}
	if (v[i] != '"')
		return -1;
	for (size_t j = i + 1; v[j]; j++)
		if (v[j] != ' ' && v[j] != '\t')
			return -1;
	v[o] = '\0';
	return 0;
}

static char *
config_trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	                 s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

int
config_load(struct hub_config *cfg, const char *path, char *err, size_t errcap)
{
	char line[8192], why[256];
	unsigned lineno = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(err, errcap, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *value;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errcap,
			         "%s:%u: line longer than %zu bytes", path,
			         lineno, sizeof(line) - 2);
			goto fail;
		}
		s = config_trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		eq = strchr(s, '=');
		if (eq == NULL) {
			snprintf(err, errcap, "%s:%u: expected 'key = value'",
			         path, lineno);
			goto fail;
		}
		*eq = '\0';
		key = config_trim(s);
		value = config_trim(eq + 1);
		if (config_unquote(value) != 0) {
			snprintf(err, errcap, "%s:%u: unterminated quote", path,
			         lineno);
			goto fail;
		}
		if (config_set(cfg, key, value, why, sizeof(why)) != 0) {
			snprintf(err, errcap, "%s:%u: %s", path, lineno, why);
			goto fail;
		}
	}
	if (ferror(f)) {
		snprintf(err, errcap, "%s: read error", path);
		goto fail;
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	return -1;
}
