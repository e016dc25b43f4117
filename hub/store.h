// SPDX-License-Identifier: MIT
/* store.h - the hub's SQLite database: accounts (role, password encrypted
 * at rest with AES-256-GCM under a key file of mode 0600), bans and chat
 * history.  Every call is synchronous and short (indexed look-ups, batched
 * writes); no call blocks on the network. */
#ifndef HUB_STORE_H
#define HUB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum role { ROLE_GUEST, ROLE_USER, ROLE_OP, ROLE_ADMIN };

#define STORE_KEY_BYTES 32
#define STORE_PW_MAX    256 /* bytes of a password */
#define STORE_NICK_MAX  256

/* role_name - "guest" "user" "op" "admin". */
const char *role_name(enum role r);
/* role_parse - 0 and *r for "user" "op" "admin"; -1 otherwise. */
int role_parse(const char *s, enum role *r);

/* store_fold - the case-insensitive key of a nick (ASCII letters folded)
 * into out; -1 if it does not fit. */
int store_fold(const char *nick, char *out, size_t cap);

struct store;

/*
 * store_open - open (creating if needed) the database at db_path and load
 * the key at key_path; with create_key, a missing key file is created
 * (32 bytes from getrandom, mode 0600, O_EXCL).  A key file readable by
 * group or others, or of the wrong size, is refused.  Returns 0 and *sp,
 * or -1 with a sentence in err.
 */
int store_open(struct store **sp, const char *db_path, const char *key_path,
               bool create_key, char *err, size_t errcap);
void store_close(struct store *st);
/* store_error - the last failure's sentence. */
const char *store_error(const struct store *st);

/* store_user_role - 1 and *role if nick has an account, 0 if not, -1. */
int store_user_role(struct store *st, const char *nick, enum role *role);
/*
 * store_user_password - 1 with the decrypted password in pw (NUL-ended;
 * the caller wipes it after use), 0 without an account, -1 on error
 * (including a ciphertext that fails authentication: wrong key file).
 */
int store_user_password(struct store *st, const char *nick, char *pw,
                        size_t cap);
/* store_user_add - -EEXIST if the (folded) nick has an account. */
int store_user_add(struct store *st, const char *nick, const char *pw,
                   enum role role);
/* store_user_passwd, _set_role, _del - -ENOENT without an account. */
int store_user_passwd(struct store *st, const char *nick, const char *pw);
int store_user_set_role(struct store *st, const char *nick, enum role role);
int store_user_del(struct store *st, const char *nick);
typedef void store_user_fn(const char *nick, enum role role, long long created,
                           void *arg);
int store_user_list(struct store *st, store_user_fn *fn, void *arg);

/* Bans: kind "nick" (value folded) or "ip"; until_s 0 = permanent. */
int store_ban_put(struct store *st, const char *kind, const char *value,
                  long long until_s, const char *reason, const char *by);
/* store_ban_del - rows removed (0 if none), or -1. */
int store_ban_del(struct store *st, const char *kind, const char *value);
/* store_ban_find - 1 with *until_s and reason if an unexpired ban matches
 * at now_s, 0 if none, -1.  Reads only. */
int store_ban_find(struct store *st, const char *kind, const char *value,
                   long long now_s, long long *until_s, char *reason,
                   size_t cap);
/* store_ban_expire - remove bans that ended before now_s. */
int store_ban_expire(struct store *st, long long now_s);
typedef void store_ban_fn(const char *kind, const char *value,
                          long long until_s, const char *reason, const char *by,
                          void *arg);
int store_ban_list(struct store *st, long long now_s, store_ban_fn *fn,
                   void *arg);

/* History: appended in batches (store_begin/store_commit), trimmed to the
 * newest keep lines, and loaded oldest first. */
int store_begin(struct store *st);
int store_commit(struct store *st);
int store_history_add(struct store *st, long long ts_s, const char *nick,
                      const char *text);
int store_history_trim(struct store *st, unsigned keep);
typedef void store_history_fn(long long ts_s, const char *nick,
                              const char *text, void *arg);
int store_history_load(struct store *st, unsigned n, store_history_fn *fn,
                       void *arg);

#endif
