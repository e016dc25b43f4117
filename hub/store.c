// SPDX-License-Identifier: MIT
/* store.c - accounts, bans and history in SQLite.  Passwords: ADC's
 * challenge (HPAS = Tiger(password || random)) needs the password itself,
 * so it cannot be hashed; it is sealed with AES-256-GCM under a key kept in
 * a separate file of mode 0600 (docs/hub.md, "Threat model").  The folded
 * nick is the associated data, so a sealed password cannot be moved to
 * another account. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "store.h"
#include "xalloc.h"

#define SEAL_VERSION 1
#define SEAL_NONCE   12
#define SEAL_TAG     16
#define SEAL_AAD     "ipckit-hub-password:"

enum {
	Q_ROLE,
	Q_SECRET,
	Q_ADD,
	Q_PASSWD,
	Q_SETROLE,
	Q_DEL,
	Q_LIST,
	Q_BAN_PUT,
	Q_BAN_DEL,
	Q_BAN_FIND,
	Q_BAN_EXPIRE,
	Q_BAN_LIST,
	Q_HIST_ADD,
	Q_HIST_TRIM,
	Q_HIST_LOAD,
	Q_COUNT
};

static const char *const store_sql[Q_COUNT] = {
	[Q_ROLE] = "SELECT role FROM users WHERE nick_key = ?1",
	[Q_SECRET] = "SELECT secret FROM users WHERE nick_key = ?1",
	[Q_ADD] = "INSERT INTO users(nick_key, nick, role, secret, created) "
	          "VALUES (?1, ?2, ?3, ?4, ?5)",
	[Q_PASSWD] = "UPDATE users SET secret = ?2 WHERE nick_key = ?1",
	[Q_SETROLE] = "UPDATE users SET role = ?2 WHERE nick_key = ?1",
	[Q_DEL] = "DELETE FROM users WHERE nick_key = ?1",
	[Q_LIST] = "SELECT nick, role, created FROM users ORDER BY nick_key",
	[Q_BAN_PUT] = "INSERT OR REPLACE INTO bans(kind, value, until, "
	              "reason, by, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_BAN_DEL] = "DELETE FROM bans WHERE kind = ?1 AND value = ?2",
	[Q_BAN_FIND] = "SELECT until, reason FROM bans WHERE kind = ?1 AND "
	               "value = ?2 AND (until = 0 OR until > ?3)",
	[Q_BAN_EXPIRE] = "DELETE FROM bans WHERE until != 0 AND until <= ?1",
	[Q_BAN_LIST] = "SELECT kind, value, until, reason, by FROM bans "
	               "ORDER BY kind, value",
	[Q_HIST_ADD] = "INSERT INTO history(ts, nick, text) VALUES (?1, ?2, "
	               "?3)",
	[Q_HIST_TRIM] = "DELETE FROM history WHERE id <= (SELECT max(id) "
	                "FROM history) - ?1",
	[Q_HIST_LOAD] = "SELECT ts, nick, text FROM (SELECT id, ts, nick, "
	                "text FROM history ORDER BY id DESC LIMIT ?1) ORDER "
	                "BY id",
};

static const char store_schema[] =
        "PRAGMA journal_mode = WAL;"
        "PRAGMA synchronous = NORMAL;"
        "CREATE TABLE IF NOT EXISTS users("
        " nick_key TEXT PRIMARY KEY, nick TEXT NOT NULL,"
        " role TEXT NOT NULL CHECK (role IN ('user', 'op', 'admin')),"
        " secret BLOB NOT NULL, created INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS bans("
        " kind TEXT NOT NULL CHECK (kind IN ('nick', 'ip')),"
        " value TEXT NOT NULL, until INTEGER NOT NULL,"
        " reason TEXT NOT NULL, by TEXT NOT NULL, created INTEGER NOT NULL,"
        " PRIMARY KEY (kind, value));"
        "CREATE TABLE IF NOT EXISTS history("
        " id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
        " nick TEXT NOT NULL, text TEXT NOT NULL);";

struct store {
	sqlite3 *db;              /* owned */
	sqlite3_stmt *q[Q_COUNT]; /* owned, prepared once */
	unsigned char key[STORE_KEY_BYTES];
	char err[512];
};

static const char *const role_names[] = { "guest", "user", "op", "admin" };

const char *
role_name(enum role r)
{
	return (unsigned)r < 4 ? role_names[r] : "?";
}

int
role_parse(const char *s, enum role *r)
{
	for (int i = ROLE_USER; i <= ROLE_ADMIN; i++)
		if (strcmp(s, role_names[i]) == 0) {
			*r = (enum role)i;
			return 0;
		}
	return -1;
}

int
store_fold(const char *nick, char *out, size_t cap)
{
	size_t i;

	for (i = 0; nick[i]; i++) {
		char c = nick[i];

		if (i + 1 >= cap)
			return -1;
		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	if (cap == 0)
		return -1;
	out[i] = '\0';
	return 0;
}

static int
store_fail(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
	return -1;
}

const char *
store_error(const struct store *st)
{
	return st->err;
}

static int
store_load_key(struct store *st, const char *path, bool create)
{
	struct stat sb;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0 && errno == ENOENT && create) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return store_fail(st, "create key file %s: %s", path,
			                  strerror(errno));
		if (getrandom(st->key, sizeof(st->key), 0) !=
		            (ssize_t)sizeof(st->key) ||
		    write(fd, st->key, sizeof(st->key)) !=
		            (ssize_t)sizeof(st->key) ||
		    fsync(fd) != 0) {
			int e = errno;

			close(fd);
			unlink(path);
			return store_fail(st, "write key file %s: %s", path,
			                  strerror(e));
		}
		close(fd);
		return 0;
	}
	if (fd < 0)
		return store_fail(st, "open key file %s: %s", path,
		                  strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return store_fail(st, "key file %s is not a regular file",
		                  path);
	}
	if (sb.st_mode & 077) {
		close(fd);
		return store_fail(st,
		                  "key file %s has mode %04o; it must be "
		                  "readable by its owner only (chmod 600)",
		                  path, (unsigned)(sb.st_mode & 07777));
	}
	n = read(fd, st->key, sizeof(st->key));
	close(fd);
	if (n != (ssize_t)sizeof(st->key) || sb.st_size != STORE_KEY_BYTES)
		return store_fail(st, "key file %s must hold exactly %d bytes",
		                  path, STORE_KEY_BYTES);
	return 0;
}

int
store_open(struct store **sp, const char *db_path, const char *key_path,
           bool create_key, char *err, size_t errcap)
{
	struct store *st = xcalloc(1, sizeof(*st));
	char *msg = NULL;

	*sp = NULL;
	if (store_load_key(st, key_path, create_key) != 0)
		goto fail;
	if (sqlite3_open_v2(db_path, &st->db,
	                    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                            SQLITE_OPEN_NOMUTEX,
	                    NULL) != SQLITE_OK) {
		store_fail(st, "open %s: %s", db_path,
		           st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 2000);
	if (sqlite3_exec(st->db, store_schema, NULL, NULL, &msg) != SQLITE_OK) {
		store_fail(st, "%s: %s", db_path, msg ? msg : "schema failed");
		sqlite3_free(msg);
		goto fail;
	}
	for (int i = 0; i < Q_COUNT; i++)
		if (sqlite3_prepare_v3(st->db, store_sql[i], -1,
		                       SQLITE_PREPARE_PERSISTENT, &st->q[i],
		                       NULL) != SQLITE_OK) {
			store_fail(st, "%s: %s", db_path,
			           sqlite3_errmsg(st->db));
			goto fail;
		}
	*sp = st;
	return 0;
fail:
	snprintf(err, errcap, "%s", st->err);
	store_close(st);
	return -1;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	OPENSSL_cleanse(st->key, sizeof(st->key));
	free(st);
}

/* Prepared statement i, reset and with its bindings cleared. */
static sqlite3_stmt *
store_q(struct store *st, int i)
{
	sqlite3_reset(st->q[i]);
	sqlite3_clear_bindings(st->q[i]);
	return st->q[i];
}

static int
store_sqlerr(struct store *st)
{
	return store_fail(st, "database: %s", sqlite3_errmsg(st->db));
}

/* Step a statement that returns no rows: 0 or -1. */
static int
store_done(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_sqlerr(st);
}

static int
store_key_of(struct store *st, const char *nick, char *key, size_t cap)
{
	if (store_fold(nick, key, cap) != 0 || key[0] == '\0')
		return store_fail(st, "nick is empty or longer than %d bytes",
		                  STORE_NICK_MAX - 1);
	return 0;
}

/* AES-256-GCM seal of pw: version | nonce | tag | ciphertext. */
static int
store_seal(struct store *st, const char *key_nick, const char *pw,
           unsigned char *out, size_t *outlen)
{
	size_t n = strlen(pw);
	unsigned char *nonce = out + 1, *tag = out + 1 + SEAL_NONCE,
	              *ct = out + 1 + SEAL_NONCE + SEAL_TAG;
	EVP_CIPHER_CTX *cx;
	int len, ok;

	if (n > STORE_PW_MAX)
		return store_fail(st, "password longer than %d bytes",
		                  STORE_PW_MAX);
	out[0] = SEAL_VERSION;
	if (getrandom(nonce, SEAL_NONCE, 0) != SEAL_NONCE)
		return store_fail(st, "getrandom: %s", strerror(errno));
	cx = EVP_CIPHER_CTX_new();
	if (cx == NULL)
		return store_fail(st, "out of memory");
	ok = EVP_EncryptInit_ex(cx, EVP_aes_256_gcm(), NULL, st->key, nonce) &&
	     EVP_EncryptUpdate(cx, NULL, &len, (const unsigned char *)SEAL_AAD,
	                       (int)strlen(SEAL_AAD)) &&
	     EVP_EncryptUpdate(cx, NULL, &len, (const unsigned char *)key_nick,
	                       (int)strlen(key_nick)) &&
	     EVP_EncryptUpdate(cx, ct, &len, (const unsigned char *)pw,
	                       (int)n) &&
	     EVP_EncryptFinal_ex(cx, ct + len, &len) &&
	     EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG, tag);
	EVP_CIPHER_CTX_free(cx);
	if (!ok)
		return store_fail(st, "AES-256-GCM encryption failed");
	*outlen = 1 + SEAL_NONCE + SEAL_TAG + n;
	return 0;
}

static int
store_unseal(struct store *st, const char *key_nick, const unsigned char *in,
             size_t n, char *pw, size_t cap)
{
	unsigned char tag[SEAL_TAG];
	EVP_CIPHER_CTX *cx;
	size_t ctn;
	int len, len2 = 0, ok;

	if (n < 1 + SEAL_NONCE + SEAL_TAG || in[0] != SEAL_VERSION)
		return store_fail(st, "sealed password is malformed");
	ctn = n - 1 - SEAL_NONCE - SEAL_TAG;
	memcpy(tag, in + 1 + SEAL_NONCE, SEAL_TAG);
	if (ctn + 1 > cap)
		return store_fail(st, "sealed password is too long");
	cx = EVP_CIPHER_CTX_new();
	if (cx == NULL)
		return store_fail(st, "out of memory");
	ok = EVP_DecryptInit_ex(cx, EVP_aes_256_gcm(), NULL, st->key, in + 1) &&
	     EVP_DecryptUpdate(cx, NULL, &len, (const unsigned char *)SEAL_AAD,
	                       (int)strlen(SEAL_AAD)) &&
	     EVP_DecryptUpdate(cx, NULL, &len, (const unsigned char *)key_nick,
	                       (int)strlen(key_nick)) &&
	     EVP_DecryptUpdate(cx, (unsigned char *)pw, &len,
	                       in + 1 + SEAL_NONCE + SEAL_TAG, (int)ctn) &&
	     EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG, tag) &&
	     EVP_DecryptFinal_ex(cx, (unsigned char *)pw + len, &len2) > 0;
	EVP_CIPHER_CTX_free(cx);
	if (!ok) {
		OPENSSL_cleanse(pw, cap);
		return store_fail(st, "sealed password does not authenticate "
		                      "(wrong key file?)");
	}
	pw[ctn] = '\0';
	return 0;
}

/* Look nick's row up with query q: 1 with the row in *sp (reset it after
 * reading), 0 if none, -1 on error.  key receives the folded nick. */
static int
store_find(struct store *st, int q, const char *nick, char key[STORE_NICK_MAX],
           sqlite3_stmt **sp)
{
	int rc;

	if (store_fold(nick, key, STORE_NICK_MAX) != 0)
		return 0;
	*sp = store_q(st, q);
	sqlite3_bind_text(*sp, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(*sp);
	if (rc == SQLITE_ROW)
		return 1;
	sqlite3_reset(*sp);
	return rc == SQLITE_DONE ? 0 : store_sqlerr(st);
}

int
store_user_role(struct store *st, const char *nick, enum role *role)
{
	char key[STORE_NICK_MAX];
	sqlite3_stmt *s;
	const char *r;
	int rc = store_find(st, Q_ROLE, nick, key, &s);

	if (rc != 1)
		return rc;
	r = (const char *)sqlite3_column_text(s, 0);
	rc = r && role_parse(r, role) == 0 ? 1 : -1;
	sqlite3_reset(s);
	return rc < 0 ? store_fail(st, "bad role in database") : 1;
}

int
store_user_password(struct store *st, const char *nick, char *pw, size_t cap)
{
	char key[STORE_NICK_MAX];
	sqlite3_stmt *s;
	int rc = store_find(st, Q_SECRET, nick, key, &s);

	if (rc != 1)
		return rc;
	rc = store_unseal(st, key, sqlite3_column_blob(s, 0),
	                  (size_t)sqlite3_column_bytes(s, 0), pw, cap);
	sqlite3_reset(s);
	return rc == 0 ? 1 : -1;
}

int
store_user_add(struct store *st, const char *nick, const char *pw,
               enum role role)
{
	unsigned char blob[1 + SEAL_NONCE + SEAL_TAG + STORE_PW_MAX];
	char key[STORE_NICK_MAX];
	size_t n;
	sqlite3_stmt *s;
	int rc;

	if (store_key_of(st, nick, key, sizeof(key)) != 0 ||
	    store_seal(st, key, pw, blob, &n) != 0)
		return -1;
	s = store_q(st, Q_ADD);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, nick, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, role_name(role), -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, blob, (int)n, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (long long)time(NULL));
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_CONSTRAINT) {
		store_fail(st, "an account named '%s' exists already", nick);
		return -EEXIST;
	}
	return rc == SQLITE_DONE ? 0 : store_sqlerr(st);
}

static int
store_changed(struct store *st, const char *nick)
{
	if (sqlite3_changes(st->db) == 0) {
		store_fail(st, "no account named '%s'", nick);
		return -ENOENT;
	}
	return 0;
}

int
store_user_passwd(struct store *st, const char *nick, const char *pw)
{
	unsigned char blob[1 + SEAL_NONCE + SEAL_TAG + STORE_PW_MAX];
	char key[STORE_NICK_MAX];
	size_t n;
	sqlite3_stmt *s;

	if (store_key_of(st, nick, key, sizeof(key)) != 0 ||
	    store_seal(st, key, pw, blob, &n) != 0)
		return -1;
	s = store_q(st, Q_PASSWD);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, blob, (int)n, SQLITE_STATIC);
	if (store_done(st, s) != 0)
		return -1;
	return store_changed(st, nick);
}

int
store_user_set_role(struct store *st, const char *nick, enum role role)
{
	char key[STORE_NICK_MAX];
	sqlite3_stmt *s;

	if (store_key_of(st, nick, key, sizeof(key)) != 0)
		return -1;
	s = store_q(st, Q_SETROLE);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, role_name(role), -1, SQLITE_STATIC);
	if (store_done(st, s) != 0)
		return -1;
	return store_changed(st, nick);
}

int
store_user_del(struct store *st, const char *nick)
{
	char key[STORE_NICK_MAX];
	sqlite3_stmt *s;

	if (store_key_of(st, nick, key, sizeof(key)) != 0)
		return -1;
	s = store_q(st, Q_DEL);
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (store_done(st, s) != 0)
		return -1;
	return store_changed(st, nick);
}

int
store_user_list(struct store *st, store_user_fn *fn, void *arg)
{
	sqlite3_stmt *s = store_q(st, Q_LIST);
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		enum role r = ROLE_USER;

		role_parse((const char *)sqlite3_column_text(s, 1), &r);
		fn((const char *)sqlite3_column_text(s, 0), r,
		   sqlite3_column_int64(s, 2), arg);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_sqlerr(st);
}

int
store_ban_put(struct store *st, const char *kind, const char *value,
              long long until_s, const char *reason, const char *by)
{
	sqlite3_stmt *s = store_q(st, Q_BAN_PUT);

	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, until_s);
	sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 6, (long long)time(NULL));
	return store_done(st, s);
}

int
store_ban_del(struct store *st, const char *kind, const char *value)
{
	sqlite3_stmt *s = store_q(st, Q_BAN_DEL);

	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	if (store_done(st, s) != 0)
		return -1;
	return sqlite3_changes(st->db);
}

int
store_ban_expire(struct store *st, long long now_s)
{
	sqlite3_stmt *s = store_q(st, Q_BAN_EXPIRE);

	sqlite3_bind_int64(s, 1, now_s);
	return store_done(st, s);
}

int
store_ban_find(struct store *st, const char *kind, const char *value,
               long long now_s, long long *until_s, char *reason, size_t cap)
{
	sqlite3_stmt *s;
	int rc;

	/* A read only: a login must not cost a write transaction.  Expired
	 * rows are removed by store_ban_list() and the hub's tick. */
	s = store_q(st, Q_BAN_FIND);
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now_s);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*until_s = sqlite3_column_int64(s, 0);
		snprintf(reason, cap, "%s",
		         (const char *)sqlite3_column_text(s, 1));
		sqlite3_reset(s);
		return 1;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_sqlerr(st);
}

int
store_ban_list(struct store *st, long long now_s, store_ban_fn *fn, void *arg)
{
	sqlite3_stmt *s;
	int rc;

	if (store_ban_expire(st, now_s) != 0)
		return -1;
	s = store_q(st, Q_BAN_LIST);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(s, 0),
		   (const char *)sqlite3_column_text(s, 1),
		   sqlite3_column_int64(s, 2),
		   (const char *)sqlite3_column_text(s, 3),
		   (const char *)sqlite3_column_text(s, 4), arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_sqlerr(st);
}

int
store_begin(struct store *st)
{
	return sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK
	               ? 0
	               : store_sqlerr(st);
}

int
store_commit(struct store *st)
{
	return sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK
	               ? 0
	               : store_sqlerr(st);
}

int
store_history_add(struct store *st, long long ts_s, const char *nick,
                  const char *text)
{
	sqlite3_stmt *s = store_q(st, Q_HIST_ADD);

	sqlite3_bind_int64(s, 1, ts_s);
	sqlite3_bind_text(s, 2, nick, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
	return store_done(st, s);
}

int
store_history_trim(struct store *st, unsigned keep)
{
	sqlite3_stmt *s = store_q(st, Q_HIST_TRIM);

	sqlite3_bind_int64(s, 1, keep);
	return store_done(st, s);
}

int
store_history_load(struct store *st, unsigned n, store_history_fn *fn,
                   void *arg)
{
	sqlite3_stmt *s = store_q(st, Q_HIST_LOAD);
	int rc;

	sqlite3_bind_int64(s, 1, n);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fn(sqlite3_column_int64(s, 0),
		   (const char *)sqlite3_column_text(s, 1),
		   (const char *)sqlite3_column_text(s, 2), arg);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : store_sqlerr(st);
}
