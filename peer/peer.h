// SPDX-License-Identifier: MIT
/* peer.h - the ADC client as a whole: one loop, one hub session, the
 * share, the client-client connections, the downloads and the UI.  The
 * parts (session, share, hashing, dlfile, transfer, ui) each keep their
 * own state; this struct ties them together. */
#ifndef PEER_PEER_H
#define PEER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlfile.h"
#include "filelist.h"
#include "ipckit.h"
#include "link.h"
#include "session.h"
#include "share.h"

struct peer_opts {
	const char *hub_url; /* "adc://host:port" */
	const char *nick;    /* NULL: ask */
	char *password;      /* owned; NULL: ask when the hub wants one */
	const char *desc;
	bool batch;            /* events on stdout, commands on stdin */
	const char *state_dir; /* hash cache, incomplete downloads */
	const char *downloads; /* finished downloads */
	const char **shares;   /* borrowed: folders to share */
	size_t n_shares;
	const char *listen; /* "host:port" (active) or NULL (passive) */
	int slots;          /* upload slots */
	int ready_fd;       /* -1, or "ready" once logged in */
	int connect_timeout_ms;
};

struct search_hit {
	char *nick; /* owned */
	char *cid;  /* owned */
	char *path; /* owned: FN */
	uint64_t size;
	char tth32[TIGER_BASE32_LEN + 1]; /* "" for directories */
	int slots_free;                   /* -1: unknown */
};

enum download_kind { DOWNLOAD_FILE, DOWNLOAD_LIST };
enum download_status {
	DOWNLOAD_WAITING,
	DOWNLOAD_RUNNING,
	DOWNLOAD_DONE,
	DOWNLOAD_FAILED
};

struct download_source {
	char *cid;  /* owned */
	char *nick; /* owned: for messages (the user may rename) */
	int failures;
	bool bad;           /* sent corrupt or inconsistent data: never again */
	bool connecting;    /* a connection is requested or open */
	long long retry_ms; /* not before this time */
};

struct download {
	unsigned id;
	enum download_kind kind;
	enum download_status status;
	char *name; /* owned: target file name (or the lister's nick) */
	char tth32[TIGER_BASE32_LEN + 1];
	uint8_t root[TIGER_BYTES];
	uint64_t size;
	struct dlfile f; /* DOWNLOAD_FILE, once opened */
	bool opened;
	bool leaves_busy;            /* a connection is fetching the tthl */
	unsigned verifying;          /* blocks with the verifier */
	struct download_source *src; /* owned array */
	size_t n_src;
	long long started_ms;
	uint64_t rate_last_bytes; /* for the rate shown by /downloads */
	long long rate_last_ms;
	double rate_bps;
	long long source_search_ms; /* last TTH search for more sources */
	unsigned char *list; /* DOWNLOAD_LIST: the received list (owned) */
	size_t list_len;
	struct download *next;
};

/* A connection we expect because we sent a CTM: only the user it was sent
 * to, with this token, may use it. */
struct expect {
	char token[32];
	char cid[TIGER_BASE32_LEN + 1];
	bool download;
	long long deadline_ms;
	struct expect *next;
};

struct cc;
struct ui_ops;
struct verifier;

struct peer {
	struct ipk_loop *loop; /* borrowed */
	struct peer_opts o;
	char *hub_host; /* owned */
	unsigned hub_port;
	bool hub_tls;             /* adcs:// */
	bool hub_tls_handshaking; /* TCP is up, TLS not yet */
	char *hub_keyprint;       /* owned: "SHA256/..." from kp=, or NULL */
	struct session sess;
	struct link hub;     /* hub.fd -1 until connected */
	bool hub_connecting; /* connect() in progress */
	bool hub_gone;
	const struct ui_ops *ui;
	void *ui_state; /* owned by the UI */
	struct share share;
	struct hashing *hashing;   /* owned */
	struct verifier *verifier; /* owned: checks downloaded blocks */
	unsigned scan_gen;
	bool scanning;
	long long scan_started_ms;
	int listen_fd, udp_fd; /* -1 when passive */
	unsigned port;         /* TCP and UDP port (active) */
	struct cc *ccs;        /* owned list of client-client connections */
	int slots_used;
	char **upload_queue; /* owned CIDs waiting for a slot, in order */
	size_t n_queue;
	struct download *downloads; /* owned list */
	unsigned next_download_id;
	struct search_hit *hits; /* owned: results of the last /search */
	size_t n_hits;
	char search_token[16];
	struct filelist browse; /* the last /browse list */
	char *browse_nick;      /* owned */
	struct expect *expects; /* owned list */
	struct ipk_timer tick;  /* once a second: schedule, expire, rates */
	char *incomplete_dir;   /* owned: "<state>/incomplete" */
	int exit_code;
	bool quitting;
	bool logged_in;
};

/* peer_run - the whole client: returns an exit code (0 ok, 1 failure). */
int peer_run(struct peer_opts *o);

/* Called by the UI. */
void peer_command(struct peer *p, const char *line);
void peer_quit(struct peer *p, int code);
void peer_give_nick(struct peer *p, const char *nick);
void peer_give_password(struct peer *p, const char *pw);

/* ui_emit - one event: name and fields (NULL-terminated).  Batch mode
 * prints "name f1 f2 ... fn" (fields escaped, the last may hold spaces);
 * interactive mode prints a human line from the event's format. */
void ui_emit(struct peer *p, const char *ev, ...) __attribute__((sentinel));

/* Shared between peer.c and transfer.c. */
void peer_new_token(char *out, size_t cap);
struct download *peer_download_by_id(struct peer *p, unsigned id);
void peer_download_finished(struct peer *p, struct download *d);
void peer_advertise(struct peer *p);
/* Downloads and the share (peer.c), for the commands (commands.c). */
struct download *peer_queue_file(struct peer *p, const char *name,
                                 const char *tth32, uint64_t size);
struct download *peer_new_download(struct peer *p, enum download_kind kind,
                                   const char *name);
void peer_add_source(struct peer *p, struct download *d, const char *cid,
                     const char *nick);
void peer_rescan(struct peer *p);
/* peer_clear_hits - forget the numbered results of /search or /browse. */
void peer_clear_hits(struct peer *p);
/* peer_search_sources - a TTH search whose results add sources to d. */
void peer_search_sources(struct peer *p, struct download *d);

/* transfer.c: client-client connections. */
int transfer_listen(struct peer *p, const char *hostport, const char **why);
void transfer_close_all(struct peer *p);
/* transfer_free_all - after the loop stopped: free every connection. */
void transfer_free_all(struct peer *p);
/* A CTM from the hub: connect to them. */
void transfer_on_ctm(struct peer *p, const struct user *u, const char *proto,
                     const char *port, const char *token);
void transfer_on_rcm(struct peer *p, const struct user *u, const char *proto,
                     const char *token);
/* Once a second: ask sources for connections, expire expectations. */
void transfer_tick(struct peer *p);
/* Lines about uploads in progress (for /uploads). */
void transfer_list_uploads(struct peer *p);
/* Count of connections downloading d (for /downloads). */
size_t transfer_sources_active(const struct peer *p, const struct download *d);
/* Drop connections to a user who left. */
void transfer_user_left(struct peer *p, const char *cid);
/* A verdict on a downloaded block (verify.c, on the loop thread). */
struct verify_job;
void transfer_on_verified(void *arg, struct verify_job *job);
/* UDP datagram (URES) received. */
void transfer_on_udp(struct peer *p);

/* Human sizes and bars. */
void fmt_size(char *out, size_t cap, uint64_t bytes);
/* fmt_bar - width characters of '#' and '.' (out holds width + 1). */
void fmt_bar(char *out, size_t width, uint64_t done, uint64_t total);
/* fmt_eta - "12s", "done", or "?" when the rate is unknown. */
void fmt_eta(char *out, size_t cap, uint64_t left, double rate_bps);

#endif
