// SPDX-License-Identifier: MIT
/* transfer.c - client-client connections (ADC "client-client", TIGR tthl,
 * BZIP files.xml.bz2): the listener, connection requests in both
 * directions, the handshake with its token check, uploads from the share
 * only (sendfile), and downloads verified block by block (dlfile.c),
 * several sources per file.
 *
 * Each connection is one state machine on the loop; it is never freed in
 * its own callback (cc_close() marks it, deferred work frees it). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base32.h"
#include "hashing.h"
#include "log.h"
#include "msg.h"
#include "peer.h"
#include "verify.h"
#include "xalloc.h"

#define CC_HANDSHAKE_MS   30000
#define CC_IDLE_MS        60000
#define CC_SEGMENT_BYTES  (64ull * 1024 * 1024)
#define CC_MAX_LIST_BYTES (64u * 1024 * 1024)
#define CC_MAX_TTHL_BYTES (TIGER_BYTES * 1024 * 1024)
#define CC_RECV_BUF       (1024 * 1024)
#define CC_ROUND_BYTES    (16ull * 1024 * 1024) /* per callback: fairness */
#define CC_MAX_CONNS      64
#define CC_SOURCES_PER_DL 4
#define EXPECT_MS         30000
#define EXPECT_MAX        256 /* connections we wait for at once */

enum cc_state {
	CC_CONNECTING, /* outgoing connect() in progress */
	CC_SUP,        /* waiting for the other side's SUP */
	CC_INF,        /* waiting for its INF */
	CC_IDLE,       /* NORMAL: no transfer running */
	CC_WAIT_SND,   /* download: GET sent, waiting for SND or STA */
	CC_RECV,       /* download: DATA */
	CC_SEND,       /* upload: DATA */
};

enum cc_what { CCW_NONE, CCW_FILE, CCW_TTHL, CCW_LIST };

struct cc {
	struct peer *p; /* borrowed */
	struct link link;
	enum cc_state state;
	bool incoming; /* they connected to our listener */
	bool download; /* we are the downloader (we control it) */
	bool closing;  /* set by cc_close(); freed after dispatch */
	char token[32];
	char cid[TIGER_BASE32_LEN + 1]; /* expected / verified CID */
	char *nick;                     /* owned */
	long long deadline_ms;
	char addr[64];
	unsigned watched; /* events currently watched */
	/* Download. */
	struct download *dl; /* borrowed, NULL when none */
	enum cc_what what;
	struct dlseg seg;
	uint64_t want_off, want_len, remaining;
	unsigned char *mem; /* owned: tthl or list being received */
	size_t mem_len;
	/* Upload. */
	int pipe[2];           /* owned: splice from socket to file, -1 */
	int up_fd;             /* owned, -1 */
	unsigned char *up_mem; /* owned: list or leaves being sent */
	uint64_t up_off, up_left;
	bool has_slot;
	char *up_name; /* owned: what is being sent, for /uploads */
	uint64_t up_total, up_done;
	long long up_start_ms;
	struct cc *next;
};

static unsigned char cc_recv_buf[CC_RECV_BUF];

static void cc_on_io(struct ipk_loop *loop, int fd, unsigned events, void *arg);
static void cc_download_next(struct cc *c);

/* ---- small helpers ---- */

static long long
now_ms(const struct peer *p)
{
	return ipk_loop_now_ms(p->loop);
}

static void
cc_watch(struct cc *c)
{
	unsigned ev;

	if (c->closing)
		return;
	if (c->state == CC_CONNECTING)
		ev = IPK_WRITE;
	else
		ev = IPK_READ;
	if (link_pending(&c->link) > 0 || c->state == CC_SEND)
		ev |= IPK_WRITE;
	if (ev != c->watched) {
		ipk_loop_watch(c->p->loop, c->link.fd, ev, cc_on_io, c);
		c->watched = ev;
	}
}

static void
cc_send_line(struct cc *c, struct adc_buf *b)
{
	long n = adc_buf_end(b);

	if (n > 0 && link_queue(&c->link, b->p, (size_t)n) == 0)
		(void)link_flush(&c->link);
	cc_watch(c);
}

static void
cc_sta(struct cc *c, const char *code, const char *text)
{
	char line[512];
	struct adc_buf b;

	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'C', "STA", ADC_SID_NONE, ADC_SID_NONE);
	adc_buf_param(&b, code);
	adc_buf_param(&b, text);
	cc_send_line(c, &b);
}

static void
cc_source_each(struct peer *p, const char *cid,
               void (*fn)(struct download_source *, void *), void *arg)
{
	for (struct download *d = p->downloads; d; d = d->next)
		for (size_t i = 0; i < d->n_src; i++)
			if (strcmp(d->src[i].cid, cid) == 0)
				fn(&d->src[i], arg);
}

static void
src_not_connecting(struct download_source *s, void *arg)
{
	(void)arg;
	s->connecting = false;
}

static struct download_source *
cc_source(struct cc *c, struct download *d)
{
	for (size_t i = 0; d && i < d->n_src; i++)
		if (strcmp(d->src[i].cid, c->cid) == 0)
			return &d->src[i];
	return NULL;
}

static void
cc_free_cb(struct ipk_loop *loop, void *arg)
{
	struct cc *c = arg;
	struct peer *p = c->p;
	struct cc **pp;

	(void)loop;
	for (pp = &p->ccs; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	link_fini(&c->link);
	if (c->pipe[0] >= 0) {
		close(c->pipe[0]);
		close(c->pipe[1]);
	}
	if (c->up_fd >= 0)
		close(c->up_fd);
	free(c->up_mem);
	free(c->up_name);
	free(c->mem);
	free(c->nick);
	free(c);
}

/* cc_close - end the connection; reason (may be NULL) is logged.  The
 * claimed blocks go back, the slot is freed, the source may be retried. */
static void
cc_close(struct cc *c, const char *reason)
{
	struct peer *p = c->p;

	if (c->closing)
		return;
	c->closing = true;
	if (reason)
		log_debug("c-c %s (%s): %s", c->addr, c->nick ? c->nick : "?",
		          reason);
	if (c->seg.active)
		dlseg_abort(&c->seg);
	if (c->dl && c->what == CCW_TTHL)
		c->dl->leaves_busy = false;
	if (c->has_slot) {
		p->slots_used--;
		c->has_slot = false;
		peer_advertise(p);
	}
	if (c->download && c->cid[0])
		cc_source_each(p, c->cid, src_not_connecting, NULL);
	if (c->watched)
		ipk_loop_unwatch(p->loop, c->link.fd);
	c->watched = 0;
	ipk_loop_defer(p->loop, cc_free_cb, c);
}

/* A source misbehaved: the reason is shown, the source is not used again
 * (bad) or retried later. */
static void
cc_source_failed(struct cc *c, bool bad, const char *why)
{
	struct download *d = c->dl;
	struct download_source *s = cc_source(c, d);
	char id[16];

	if (d == NULL || s == NULL)
		return;
	snprintf(id, sizeof(id), "%u", d->id);
	s->failures++;
	s->retry_ms = now_ms(c->p) +
	              1000ll * (s->failures < 5 ? 1 << s->failures : 30);
	if (bad)
		s->bad = true;
	ui_emit(c->p, "download-error", id, s->nick, why, NULL);
}

static struct cc *
cc_new(struct peer *p, int fd, bool incoming)
{
	struct cc *c = xcalloc(1, sizeof(*c));

	c->p = p;
	link_init(&c->link, fd);
	c->incoming = incoming;
	c->up_fd = -1;
	c->pipe[0] = c->pipe[1] = -1;
	c->deadline_ms = now_ms(p) + CC_HANDSHAKE_MS;
	c->next = p->ccs;
	p->ccs = c;
	return c;
}

static size_t
cc_count(const struct peer *p)
{
	size_t n = 0;

	for (const struct cc *c = p->ccs; c; c = c->next)
		n += !c->closing;
	return n;
}

/* ---- the listener and UDP ---- */

static void
transfer_on_accept(struct ipk_loop *loop, int fd, unsigned events, void *arg)
{
	struct peer *p = arg;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int cfd, one = 1;
	struct cc *c;

	(void)loop;
	(void)events;
	cfd = accept4(fd, (struct sockaddr *)&sa, &sl,
	              SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0)
		return;
	if (cc_count(p) >= CC_MAX_CONNS) {
		close(cfd);
		return;
	}
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = cc_new(p, cfd, true);
	c->state = CC_SUP;
	inet_ntop(AF_INET, &sa.sin_addr, c->addr, sizeof(c->addr));
	snprintf(c->addr + strlen(c->addr), sizeof(c->addr) - strlen(c->addr),
	         ":%u", ntohs(sa.sin_port));
	cc_watch(c);
}

static void
transfer_on_udp_cb(struct ipk_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	(void)fd;
	(void)events;
	transfer_on_udp(arg);
}

int
transfer_listen(struct peer *p, const char *hostport, const char **why)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	const char *colon = strrchr(hostport, ':');
	char host[64];
	long port;
	int one = 1, err;

	if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host)) {
		*why = "--listen takes HOST:PORT";
		return -EINVAL;
	}
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port < 0 || port > 65535 ||
	    inet_pton(AF_INET, *host ? host : "0.0.0.0", &sa.sin_addr) != 1) {
		*why = "--listen takes an IPv4 HOST:PORT";
		return -EINVAL;
	}
	sa.sin_port = htons((uint16_t)port);
	p->listen_fd =
	        socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->listen_fd < 0) {
		*why = "socket";
		return -errno;
	}
	setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(p->listen_fd, 64) != 0 ||
	    getsockname(p->listen_fd, (struct sockaddr *)&sa, &sl) != 0) {
		*why = "cannot listen on --listen address";
		return -errno;
	}
	p->port = ntohs(sa.sin_port);
	/* UDP on the same port number, for URES. */
	p->udp_fd =
	        socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->udp_fd < 0 ||
	    bind(p->udp_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		*why = "cannot bind the UDP port (same number as TCP)";
		return -errno;
	}
	err = ipk_loop_watch(p->loop, p->listen_fd, IPK_READ,
	                     transfer_on_accept, p);
	if (err == 0)
		err = ipk_loop_watch(p->loop, p->udp_fd, IPK_READ,
		                     transfer_on_udp_cb, p);
	if (err)
		*why = "watch";
	return err;
}

void
transfer_close_all(struct peer *p)
{
	for (struct cc *c = p->ccs; c; c = c->next)
		cc_close(c, "quitting");
}

void
transfer_free_all(struct peer *p)
{
	while (p->ccs) {
		struct cc *c = p->ccs;

		if (!c->closing)
			cc_close(c, "quitting");
		cc_free_cb(p->loop, c);
	}
}

/* ---- expectations (tokens) ---- */

static struct expect *
expect_add(struct peer *p, const char *token, const char *cid, bool download)
{
	struct expect *e;
	size_t n = 0;

	/* Bounded: a flood of RCMs cannot grow the list without limit. */
	for (e = p->expects; e; e = e->next)
		if (++n >= EXPECT_MAX)
			return NULL;
	e = xcalloc(1, sizeof(*e));

	snprintf(e->token, sizeof(e->token), "%s", token);
	snprintf(e->cid, sizeof(e->cid), "%s", cid);
	e->download = download;
	e->deadline_ms = now_ms(p) + EXPECT_MS;
	e->next = p->expects;
	p->expects = e;
	return e;
}

/* expect_take - the expectation for token (and cid, when not NULL),
 * removed from the list (the caller frees it), or NULL.  A wrong CID does
 * not use up the token: whoever guessed it cannot lock the user out. */
static struct expect *
expect_take(struct peer *p, const char *token, const char *cid)
{
	for (struct expect **pp = &p->expects; *pp; pp = &(*pp)->next) {
		struct expect *e = *pp;
		size_t n = strlen(e->token);
		unsigned diff = strlen(token) != n;

		/* Constant time in the token's length. */
		for (size_t i = 0; i < n && token[i]; i++)
			diff |= (unsigned char)(e->token[i] ^ token[i]);
		if (!diff && (cid == NULL || strcmp(e->cid, cid) == 0)) {
			*pp = e->next;
			return e;
		}
	}
	return NULL;
}

/* ---- handshake ---- */

static void
cc_send_sup(struct cc *c)
{
	char line[128];
	struct adc_buf b;

	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'C', "SUP", ADC_SID_NONE, ADC_SID_NONE);
	adc_buf_raw(&b, " ADBASE ADTIGR ADBZIP", 21);
	cc_send_line(c, &b);
}

static void
cc_send_inf(struct cc *c, bool with_token)
{
	char line[256];
	struct adc_buf b;

	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'C', "INF", ADC_SID_NONE, ADC_SID_NONE);
	adc_buf_named(&b, "ID", c->p->sess.self.cid32);
	if (with_token)
		adc_buf_named(&b, "TO", c->token);
	cc_send_line(c, &b);
}

static void
cc_normal(struct cc *c)
{
	c->state = CC_IDLE;
	c->deadline_ms = now_ms(c->p) + CC_IDLE_MS;
	if (c->download)
		cc_download_next(c);
}

static void
cc_on_sup(struct cc *c, struct adc_msg *m)
{
	(void)m;
	if (c->state != CC_SUP)
		return; /* a feature update in NORMAL: nothing we use */
	if (c->incoming) {
		cc_send_sup(c);
	} else {
		cc_send_inf(c, true);
	}
	c->state = CC_INF;
}

static void
cc_on_inf(struct cc *c, struct adc_msg *m)
{
	struct peer *p = c->p;
	const char *id = adc_named(m, "ID", NULL);
	const char *to = adc_named(m, "TO", NULL);
	const struct user *u;

	if (c->state != CC_INF)
		return; /* an update in NORMAL: the identity is settled */
	if (id == NULL) {
		cc_sta(c, "243", "INF without ID");
		cc_close(c, "INF without ID");
		return;
	}
	if (c->incoming) {
		struct expect *e = to ? expect_take(p, to, id) : NULL;

		/* Only the user the hub introduced, with our token. */
		if (e == NULL) {
			char what[160];

			snprintf(what, sizeof(what), "%s (%s)", c->addr,
			         to ? "unknown token or CID" : "no token");
			ui_emit(p, "refused", what, NULL);
			cc_sta(c, "240",
			       to ? "Unknown token" : "Token missing");
			cc_close(c, "token check failed");
			free(e);
			return;
		}
		c->download = e->download;
		snprintf(c->token, sizeof(c->token), "%s", e->token);
		free(e);
		snprintf(c->cid, sizeof(c->cid), "%s", id);
		cc_send_inf(c, false);
	} else if (strcmp(id, c->cid) != 0) {
		cc_close(c, "the peer's CID is not the user's");
		return;
	}
	u = session_user_by_cid(&p->sess, c->cid);
	free(c->nick);
	c->nick = xstrdup(u ? u->nick : c->cid);
	cc_normal(c);
}

/* ---- downloads ---- */

/* "CGET type ident off len" or "CSND ...": len -1 asks for the rest. */
static void
cc_send_transfer(struct cc *c, const char *cmd, const char *type,
                 const char *ident, uint64_t off, long long len)
{
	char line[256], n1[24], n2[24];
	struct adc_buf b;

	snprintf(n1, sizeof(n1), "%llu", (unsigned long long)off);
	snprintf(n2, sizeof(n2), "%lld", len);
	adc_buf_init(&b, line, sizeof(line));
	adc_buf_header(&b, 'C', cmd, ADC_SID_NONE, ADC_SID_NONE);
	adc_buf_param(&b, type);
	adc_buf_param(&b, ident);
	adc_buf_param(&b, n1);
	adc_buf_param(&b, n2);
	cc_send_line(c, &b);
}

static void
cc_get(struct cc *c, const char *type, const char *ident, uint64_t off,
       long long len)
{
	cc_send_transfer(c, "GET", type, ident, off, len);
	c->state = CC_WAIT_SND;
	c->deadline_ms = now_ms(c->p) + CC_HANDSHAKE_MS;
}

static bool
cc_has_source(const struct cc *c, const struct download *d)
{
	for (size_t i = 0; i < d->n_src; i++)
		if (strcmp(d->src[i].cid, c->cid) == 0 && !d->src[i].bad)
			return true;
	return false;
}

/* A block is on disk: the verifier hashes it off the loop thread. */
static void
cc_block_written(void *arg, size_t block)
{
	struct cc *c = arg;
	struct download *d = c->dl;
	struct verify_job *j = xcalloc(1, sizeof(*j));

	j->fd = d->f.fd;
	dlfile_block_range(&d->f, block, &j->off, &j->len);
	j->block_size = d->f.block_size;
	memcpy(j->leaf, d->f.leaves[block], TIGER_BYTES);
	j->block = block;
	j->tag = d;
	snprintf(j->cid, sizeof(j->cid), "%s", c->cid);
	d->verifying++;
	verifier_submit(c->p->verifier, j);
}

void
transfer_on_verified(void *arg, struct verify_job *j)
{
	struct peer *p = arg;
	struct download *d = j->tag;

	d->verifying--;
	if (!d->opened || d->status == DOWNLOAD_DONE)
		return;
	dlfile_block_result(&d->f, j->block, j->ok);
	if (!j->ok) {
		char id[16], why[96];

		snprintf(id, sizeof(id), "%u", d->id);
		snprintf(why, sizeof(why), "corrupt block %zu (bytes %llu+)",
		         j->block, (unsigned long long)j->off);
		for (size_t i = 0; i < d->n_src; i++) {
			struct download_source *s = &d->src[i];

			if (strcmp(s->cid, j->cid) != 0)
				continue;
			s->bad = true;
			ui_emit(p, "download-error", id, s->nick, why, NULL);
		}
		for (struct cc *c = p->ccs; c; c = c->next)
			if (!c->closing && c->dl == d &&
			    strcmp(c->cid, j->cid) == 0)
				cc_close(c, "sent a corrupt block");
		return;
	}
	if (dlfile_complete(&d->f))
		peer_download_finished(p, d);
}

/* Segments: an eighth of the file (so that a second source finds work),
 * at least 1 MiB (few round trips), at most CC_SEGMENT_BYTES. */
static uint64_t
cc_segment_bytes(const struct download *d)
{
	uint64_t s = d->size / 8;

	if (s < 1024 * 1024)
		s = 1024 * 1024;
	return s > CC_SEGMENT_BYTES ? CC_SEGMENT_BYTES : s;
}

static void
cc_download_next(struct cc *c)
{
	struct peer *p = c->p;
	char ident[64];

	bool wait_leaves = false;

	if (c->closing)
		return;
	c->dl = NULL;
	c->what = CCW_NONE;
	for (struct download *d = p->downloads; d; d = d->next) {
		uint64_t off, len;

		if (d->status == DOWNLOAD_DONE ||
		    d->status == DOWNLOAD_FAILED || !cc_has_source(c, d))
			continue;
		if (d->kind == DOWNLOAD_LIST) {
			if (d->status == DOWNLOAD_RUNNING)
				continue;
			d->status = DOWNLOAD_RUNNING;
			c->dl = d;
			c->what = CCW_LIST;
			cc_get(c, "file", "files.xml.bz2", 0, -1);
			return;
		}
		snprintf(ident, sizeof(ident), "TTH/%s", d->tth32);
		if (!d->opened) {
			int err = dlfile_open(&d->f, p->incomplete_dir, d->root,
			                      d->size);
			char id[16];

			if (err) {
				snprintf(id, sizeof(id), "%u", d->id);
				d->status = DOWNLOAD_FAILED;
				ui_emit(p, "download-failed", id,
				        strerror(-err), NULL);
				continue;
			}
			d->opened = true;
			if (dlfile_complete(&d->f)) {
				peer_download_finished(p, d);
				continue;
			}
		}
		if (!dlfile_has_leaves(&d->f)) {
			if (d->leaves_busy) {
				wait_leaves = true;
				continue;
			}
			d->leaves_busy = true;
			d->status = DOWNLOAD_RUNNING;
			c->dl = d;
			c->what = CCW_TTHL;
			cc_get(c, "tthl", ident, 0, -1);
			return;
		}
		if (dlfile_claim(&d->f, cc_segment_bytes(d), &off, &len) != 0)
			continue;
		d->status = DOWNLOAD_RUNNING;
		if (d->started_ms == 0)
			d->started_ms = now_ms(p);
		c->dl = d;
		c->what = CCW_FILE;
		c->want_off = off;
		c->want_len = len;
		if (dlseg_start_deferred(&c->seg, &d->f, off, len,
		                         cc_block_written, c) != 0) {
			cc_close(c, "bad segment");
			return;
		}
		cc_get(c, "file", ident, off, (long long)len);
		return;
	}
	/* Another connection is fetching the leaves, which this one needs
	 * before it can ask for a segment: stay idle until the next tick
	 * (bounded by the idle deadline).  Closing would leave this source
	 * unused until its retry time, even if the leaves' source then
	 * turns out to be busy (slots full). */
	if (wait_leaves) {
		c->state = CC_IDLE;
		return;
	}
	/* Nothing (more) to fetch from this user. */
	cc_close(c, "no more work");
}

static void
cc_finish_what(struct cc *c)
{
	struct peer *p = c->p;
	struct download *d = c->dl;
	int err;

	switch (c->what) {
	case CCW_TTHL:
		d->leaves_busy = false;
		err = dlfile_set_leaves(&d->f, c->mem, c->mem_len);
		free(c->mem);
		c->mem = NULL;
		c->mem_len = 0;
		if (err) {
			cc_source_failed(c, true,
			                 "tthl does not match the TTH or size");
			cc_close(c, "bad tthl");
			return;
		}
		if (dlfile_complete(&d->f)) {
			peer_download_finished(p, d);
		}
		break;
	case CCW_LIST:
		d->list = c->mem;
		d->list_len = c->mem_len;
		c->mem = NULL;
		c->mem_len = 0;
		peer_download_finished(p, d);
		break;
	case CCW_FILE:
		/* Start writing the segment back now, so that the fsync before
		 * the final rename has little left to do. */
		(void)sync_file_range(d->f.fd, (off64_t)c->want_off,
		                      (off64_t)c->want_len,
		                      SYNC_FILE_RANGE_WRITE);
		if (dlfile_complete(&d->f))
			peer_download_finished(p, d);
		break;
	case CCW_NONE:
		break;
	}
	c->state = CC_IDLE;
	cc_download_next(c);
}

/* Bytes for the transfer in progress; n <= c->remaining. */
static int
cc_consume(struct cc *c, const void *data, size_t n)
{
	int err;

	if (c->what == CCW_FILE) {
		err = dlseg_write(&c->seg, data, n);
		if (err == -EBADMSG) {
			char why[96];

			snprintf(why, sizeof(why),
			         "corrupt block near byte %llu",
			         (unsigned long long)(c->seg.pos));
			cc_source_failed(c, true, why);
			cc_close(c, "corrupt block");
			return err;
		}
		if (err) {
			cc_source_failed(c, false, strerror(-err));
			cc_close(c, "write failed");
			return err;
		}
	} else {
		c->mem = xrealloc(c->mem, c->mem_len + n);
		memcpy(c->mem + c->mem_len, data, n);
		c->mem_len += n;
	}
	c->remaining -= n;
	return 0;
}

/*
 * File data goes from the socket to the part file with splice() through a
 * pipe: no copy through user space, so the loop thread stays cheap and the
 * verifier thread has the CPU for hashing.  Returns bytes moved, 0 at EOF,
 * -EAGAIN, or -errno (-ENOSYS: use recv instead).
 */
static ssize_t
cc_splice_in(struct cc *c, size_t max)
{
	loff_t off = (loff_t)c->seg.pos;
	ssize_t n, left;

	if (c->pipe[0] < 0) {
		if (pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) != 0)
			return -ENOSYS;
		(void)fcntl(c->pipe[0], F_SETPIPE_SZ, CC_RECV_BUF);
	}
	do
		n = splice(c->link.fd, NULL, c->pipe[1], NULL, max,
		           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	for (left = n; left > 0;) {
		ssize_t m = splice(c->pipe[0], NULL, c->dl->f.fd, &off,
		                   (size_t)left, SPLICE_F_MOVE);

		if (m < 0 && errno == EINTR)
			continue;
		if (m <= 0)
			return m < 0 ? -errno : -EIO;
		left -= m;
	}
	return n;
}

static void
cc_recv_data(struct cc *c)
{
	uint64_t round = 0;

	while (c->remaining > 0 && !c->closing && round < CC_ROUND_BYTES) {
		const char *buffered;
		size_t n = link_take(&c->link, &buffered,
		                     c->remaining > SIZE_MAX
		                             ? SIZE_MAX
		                             : (size_t)c->remaining);
		ssize_t r;

		if (n > 0) {
			if (cc_consume(c, buffered, n) != 0)
				return;
			continue;
		}
		n = c->remaining < CC_RECV_BUF ? (size_t)c->remaining
		                               : CC_RECV_BUF;
		if (c->what == CCW_FILE && c->seg.written_cb) {
			r = cc_splice_in(c, n);
			if (r == -EAGAIN)
				return;
			if (r > 0) {
				round += (uint64_t)r;
				c->remaining -= (uint64_t)r;
				if (dlseg_written(&c->seg, (size_t)r) != 0) {
					cc_close(c, "segment accounting");
					return;
				}
				continue;
			}
			if (r < 0 && r != -ENOSYS) {
				cc_source_failed(c, false, strerror((int)-r));
				cc_close(c, "splice failed");
				return;
			}
			if (r == 0) {
				cc_source_failed(c, false,
				                 "transfer truncated");
				cc_close(c, "closed during transfer");
				return;
			}
		}
		r = recv(c->link.fd, cc_recv_buf, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			cc_source_failed(c, false, "transfer truncated");
			cc_close(c, "closed during transfer");
			return;
		}
		round += (uint64_t)r;
		if (cc_consume(c, cc_recv_buf, (size_t)r) != 0)
			return;
	}
	if (c->remaining == 0 && !c->closing)
		cc_finish_what(c);
}

static bool
parse_num(const char *s, long long *out)
{
	char *end;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static void
cc_on_snd(struct cc *c, struct adc_msg *m)
{
	long long off, len;
	char ident[64];

	if (m->n < 4 || !parse_num(m->p[2].s, &off) ||
	    !parse_num(m->p[3].s, &len) || off < 0 || len < 0) {
		cc_close(c, "unexpected SND");
		return;
	}
	switch (c->what) {
	case CCW_FILE:
		snprintf(ident, sizeof(ident), "TTH/%s", c->dl->tth32);
		if (strcmp(m->p[0].s, "file") != 0 ||
		    strcmp(m->p[1].s, ident) != 0 ||
		    (uint64_t)off != c->want_off ||
		    (uint64_t)len != c->want_len) {
			cc_source_failed(c, true,
			                 "SND does not match the request "
			                 "(wrong file, offset or size)");
			cc_close(c, "bad SND");
			return;
		}
		break;
	case CCW_TTHL:
		if (strcmp(m->p[0].s, "tthl") != 0 || len == 0 ||
		    len > CC_MAX_TTHL_BYTES || len % TIGER_BYTES != 0) {
			cc_source_failed(c, true, "bad tthl size");
			cc_close(c, "bad tthl SND");
			return;
		}
		break;
	case CCW_LIST:
		if (strcmp(m->p[0].s, "file") != 0 || len > CC_MAX_LIST_BYTES) {
			cc_source_failed(c, true, "file list too large");
			cc_close(c, "bad list SND");
			return;
		}
		break;
	case CCW_NONE:
		cc_close(c, "SND without GET");
		return;
	}
	c->remaining = (uint64_t)len;
	c->state = CC_RECV;
	cc_recv_data(c);
}

static void
cc_on_sta(struct cc *c, struct adc_msg *m)
{
	int code = m->n > 0 ? atoi(m->p[0].s) : 0;
	const char *text = m->n > 1 ? m->p[1].s : "";
	struct download_source *s = cc_source(c, c->dl);

	if (c->state != CC_WAIT_SND) {
		if (code / 100 == 2)
			cc_close(c, text);
		return;
	}
	if (c->seg.active)
		dlseg_abort(&c->seg);
	if (code % 100 == 53 && s) {
		/* Slots full: wait our turn, not a failure. */
		s->retry_ms = now_ms(c->p) + 5000;
		char id[16];

		snprintf(id, sizeof(id), "%u", c->dl ? c->dl->id : 0);
		ui_emit(c->p, "download-queued", id, c->nick, text, NULL);
		cc_close(c, "slots full");
		return;
	}
	if (c->what == CCW_TTHL && code % 100 == 51 && c->dl) {
		/* No leaves: the whole file is one block, its root. */
		c->dl->leaves_busy = false;
		if (dlfile_set_leaves(&c->dl->f, c->dl->root, TIGER_BYTES) ==
		    0) {
			c->state = CC_IDLE;
			cc_download_next(c);
			return;
		}
	}
	if (c->what == CCW_LIST && c->dl)
		c->dl->status = DOWNLOAD_WAITING;
	cc_source_failed(c, code % 100 == 51, *text ? text : "refused");
	cc_close(c, "STA");
}

/* ---- uploads ---- */

static bool
cc_take_slot(struct cc *c)
{
	struct peer *p = c->p;
	size_t pos = p->n_queue;
	int free_slots = p->o.slots - p->slots_used;
	bool grant;

	if (c->has_slot)
		return true;
	for (size_t i = 0; i < p->n_queue; i++)
		if (strcmp(p->upload_queue[i], c->cid) == 0)
			pos = i;
	/* Free slots go to those who queued first. */
	if (pos < p->n_queue)
		grant = free_slots > 0 && pos < (size_t)free_slots;
	else
		grant = free_slots > 0 && p->n_queue < (size_t)free_slots;
	if (grant) {
		if (pos < p->n_queue) {
			free(p->upload_queue[pos]);
			memmove(p->upload_queue + pos,
			        p->upload_queue + pos + 1,
			        (p->n_queue - pos - 1) * sizeof(char *));
			p->n_queue--;
		}
		c->has_slot = true;
		p->slots_used++;
		peer_advertise(p);
		return true;
	}
	if (pos == p->n_queue && p->n_queue < 1000) {
		p->upload_queue = xreallocarray(p->upload_queue, p->n_queue + 1,
		                                sizeof(char *));
		p->upload_queue[p->n_queue++] = xstrdup(c->cid);
	}
	return false;
}

static void
cc_send_snd(struct cc *c, const char *type, const char *ident, uint64_t off,
            uint64_t len)
{
	cc_send_transfer(c, "SND", type, ident, off, (long long)len);
}

static void
cc_start_upload(struct cc *c, const char *name, uint64_t total)
{
	free(c->up_name);
	c->up_name = xstrdup(name);
	c->up_total = total;
	c->up_done = 0;
	c->up_start_ms = now_ms(c->p);
	c->state = CC_SEND;
	cc_watch(c);
}

static void
cc_on_get(struct cc *c, struct adc_msg *m)
{
	struct peer *p = c->p;
	long long off, len;
	const char *type, *ident;

	if (c->download) { /* we control this connection: no GET here */
		cc_sta(c, "244", "Invalid state");
		return;
	}
	if (m->n < 4 || !parse_num(m->p[2].s, &off) ||
	    !parse_num(m->p[3].s, &len) || off < 0 || len < -1) {
		cc_sta(c, "140", "Bad GET");
		return;
	}
	type = m->p[0].s;
	ident = m->p[1].s;
	c->deadline_ms = now_ms(p) + CC_IDLE_MS;
	if (strcmp(type, "file") == 0 && strcmp(ident, "files.xml.bz2") == 0) {
		uint64_t size = p->share.list_len;

		if (p->share.list_bz2 == NULL) {
			cc_sta(c, "151", "File Not Available");
			return;
		}
		if ((uint64_t)off > size ||
		    (len >= 0 && (uint64_t)off + (uint64_t)len > size)) {
			cc_sta(c, "152", "File Part Not Available");
			return;
		}
		if (len < 0)
			len = (long long)(size - (uint64_t)off);
		free(c->up_mem);
		c->up_mem = xmalloc(len ? (size_t)len : 1);
		memcpy(c->up_mem, p->share.list_bz2 + off, (size_t)len);
		c->up_off = 0;
		c->up_left = (uint64_t)len;
		cc_send_snd(c, type, ident, (uint64_t)off, (uint64_t)len);
		cc_start_upload(c, "files.xml.bz2", (uint64_t)len);
		return;
	}
	if ((strcmp(type, "file") != 0 && strcmp(type, "tthl") != 0) ||
	    strncmp(ident, "TTH/", 4) != 0 ||
	    strlen(ident) != 4 + TIGER_BASE32_LEN) {
		/* Only shared files, by hash: no path is ever opened. */
		ui_emit(p, "upload-refused", c->nick, ident, NULL);
		cc_sta(c, "151", "File Not Available");
		return;
	}
	const struct share_file *f = share_by_tth(&p->share, ident + 4);
	if (f == NULL) {
		cc_sta(c, "151", "File Not Available");
		return;
	}
	if (strcmp(type, "tthl") == 0) {
		uint8_t(*leaves)[TIGER_BYTES] = NULL;
		size_t n = 0;
		char *real = share_real_path(&p->share, f);
		int err = hashing_leaves(p->hashing, real, f->size, f->mtime_ns,
		                         &leaves, &n);

		free(real);
		if (err) {
			leaves = xmalloc(TIGER_BYTES);
			memcpy(leaves, f->tth, TIGER_BYTES);
			n = 1;
		}
		free(c->up_mem);
		c->up_mem = (unsigned char *)leaves;
		c->up_off = 0;
		c->up_left = n * TIGER_BYTES;
		cc_send_snd(c, type, ident, 0, c->up_left);
		cc_start_upload(c, "tthl", c->up_left);
		return;
	}
	if ((uint64_t)off > f->size ||
	    (len >= 0 && (uint64_t)off + (uint64_t)len > f->size)) {
		cc_sta(c, "152", "File Part Not Available");
		return;
	}
	if (len < 0)
		len = (long long)(f->size - (uint64_t)off);
	if (!cc_take_slot(c)) {
		char qp[24];
		char line[128];
		struct adc_buf b;
		size_t pos = 0;

		for (size_t i = 0; i < p->n_queue; i++)
			if (strcmp(p->upload_queue[i], c->cid) == 0)
				pos = i + 1;
		snprintf(qp, sizeof(qp), "%zu", pos);
		adc_buf_init(&b, line, sizeof(line));
		adc_buf_header(&b, 'C', "STA", ADC_SID_NONE, ADC_SID_NONE);
		adc_buf_param(&b, "253");
		adc_buf_param(&b, "Slots full");
		adc_buf_named(&b, "QP", qp);
		cc_send_line(c, &b);
		return;
	}
	if (c->up_fd >= 0)
		close(c->up_fd);
	c->up_fd = share_open(&p->share, f);
	if (c->up_fd < 0) {
		c->up_fd = -1;
		cc_sta(c, "151", "File Not Available");
		return;
	}
	c->up_off = (uint64_t)off;
	c->up_left = (uint64_t)len;
	cc_send_snd(c, type, ident, (uint64_t)off, (uint64_t)len);
	cc_start_upload(c, f->vpath, (uint64_t)len);
}

static void
cc_upload_done(struct cc *c)
{
	char n[24];

	snprintf(n, sizeof(n), "%llu", (unsigned long long)c->up_total);
	if (strcmp(c->up_name, "tthl") != 0)
		ui_emit(c->p, "upload-done", c->nick, c->up_name, n, NULL);
	if (c->up_fd >= 0)
		close(c->up_fd);
	c->up_fd = -1;
	free(c->up_mem);
	c->up_mem = NULL;
	c->state = CC_IDLE;
	c->deadline_ms = now_ms(c->p) + CC_IDLE_MS;
	cc_watch(c);
}

static void
cc_send_data(struct cc *c)
{
	uint64_t round = 0;

	if (link_pending(&c->link) > 0) {
		int err = link_flush(&c->link);

		if (err == -EAGAIN)
			return;
		if (err) {
			cc_close(c, "send failed");
			return;
		}
	}
	while (c->up_left > 0 && round < CC_ROUND_BYTES) {
		ssize_t n;
		size_t want = c->up_left > (4u << 20) ? (4u << 20)
		                                      : (size_t)c->up_left;

		if (c->up_mem) {
			n = send(c->link.fd, c->up_mem + c->up_off, want,
			         MSG_NOSIGNAL);
		} else {
			off_t o = (off_t)c->up_off;

			n = sendfile(c->link.fd, c->up_fd, &o, want);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			cc_close(c, "upload failed");
			return;
		}
		c->up_off += (uint64_t)n;
		c->up_left -= (uint64_t)n;
		c->up_done += (uint64_t)n;
		round += (uint64_t)n;
	}
	if (c->up_left == 0)
		cc_upload_done(c);
}

/* ---- dispatch ---- */

/* What a client-client connection accepts in which state (ADC "State
 * management": PROTOCOL = CC_SUP, IDENTIFY = CC_INF, NORMAL = the rest).
 * A command out of its state gets STA 244, as on the hub. */
#define CC_IN(st) (1u << (st))
#define CC_NORMAL (CC_IN(CC_IDLE) | CC_IN(CC_WAIT_SND) | CC_IN(CC_SEND))
static const struct cc_command {
	const char *cmd;
	unsigned states;
	void (*fn)(struct cc *c, struct adc_msg *m);
} cc_commands[] = {
	{ "SUP", CC_IN(CC_SUP) | CC_NORMAL, cc_on_sup },
	{ "INF", CC_IN(CC_INF) | CC_NORMAL, cc_on_inf },
	{ "GET", CC_IN(CC_IDLE), cc_on_get },
	{ "SND", CC_IN(CC_WAIT_SND), cc_on_snd },
	{ "STA", CC_IN(CC_SUP) | CC_IN(CC_INF) | CC_NORMAL, cc_on_sta },
};

static void
cc_on_line(struct cc *c, char *line, size_t len)
{
	struct adc_msg m;

	if (adc_parse(&m, line, len) != ADC_OK || m.type != 'C')
		return;
	for (size_t i = 0; i < sizeof(cc_commands) / sizeof(cc_commands[0]);
	     i++) {
		const struct cc_command *k = &cc_commands[i];

		if (strcmp(k->cmd, m.cmd) != 0)
			continue;
		if (!(k->states & CC_IN(c->state))) {
			cc_sta(c, "244", "Invalid state");
			/* A broken handshake, or data we did not ask for
			 * about to follow an SND: the connection is over. */
			if (c->state < CC_IDLE || strcmp(m.cmd, "SND") == 0)
				cc_close(c, "command out of state");
			return;
		}
		k->fn(c, &m);
		return;
	}
	/* Unknown commands are ignored, as ADC asks. */
}

static void
cc_on_connected(struct cc *c)
{
	int err = 0, one = 1;
	socklen_t el = sizeof(err);

	if (getsockopt(c->link.fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
	    err != 0) {
		char why[96];

		snprintf(why, sizeof(why), "cannot connect to %s: %s", c->addr,
		         strerror(err));
		if (c->download) {
			for (struct download *d = c->p->downloads; d;
			     d = d->next) {
				struct download_source *s = cc_source(c, d);

				if (s)
					s->retry_ms = now_ms(c->p) + 5000;
			}
		}
		cc_close(c, why);
		return;
	}
	setsockopt(c->link.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->state = CC_SUP;
	cc_send_sup(c);
}

static void
cc_on_io(struct ipk_loop *loop, int fd, unsigned events, void *arg)
{
	struct cc *c = arg;

	(void)loop;
	(void)fd;
	if (c->closing)
		return;
	if (c->state == CC_CONNECTING) {
		cc_on_connected(c);
		cc_watch(c);
		return;
	}
	if (events & IPK_WRITE) {
		if (c->state == CC_SEND) {
			cc_send_data(c);
		} else if (link_flush(&c->link) != 0 &&
		           link_pending(&c->link) == 0) {
			cc_close(c, "send failed");
			return;
		}
	}
	if ((events & IPK_READ) && !c->closing) {
		if (c->state == CC_RECV) {
			cc_recv_data(c);
		} else {
			ssize_t n = link_fill(&c->link);
			char *line;
			ssize_t len;

			if (n == 0 || (n < 0 && n != -EAGAIN)) {
				if (c->state == CC_WAIT_SND && c->dl)
					cc_source_failed(c, false,
					                 "connection closed");
				cc_close(c, "closed by the peer");
				return;
			}
			while (!c->closing && c->state != CC_RECV &&
			       (len = link_line(&c->link, &line)) >= 0)
				cc_on_line(c, line, (size_t)len);
			if (!c->closing && c->state == CC_RECV)
				cc_recv_data(c);
			else if (!c->closing &&
			         link_line(&c->link, &line) == -EMSGSIZE)
				cc_close(c, "line too long");
		}
	}
	if (!c->closing)
		cc_watch(c);
}

/* ---- connection requests ---- */

static void
cc_connect(struct peer *p, const struct user *u, unsigned port,
           const char *token, bool download)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct cc *c;
	int fd;

	if (inet_pton(AF_INET, u->ip4, &sa.sin_addr) != 1 || port == 0 ||
	    port > 65535 || cc_count(p) >= CC_MAX_CONNS)
		return;
	sa.sin_port = htons((uint16_t)port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return;
	}
	c = cc_new(p, fd, false);
	c->download = download;
	c->state = CC_CONNECTING;
	snprintf(c->token, sizeof(c->token), "%s", token);
	snprintf(c->cid, sizeof(c->cid), "%s", u->cid);
	c->nick = xstrdup(u->nick);
	snprintf(c->addr, sizeof(c->addr), "%s:%u", u->ip4, port);
	cc_watch(c);
}

/* Only ADC/1.0 (no TLS between clients): others get STA 141 with the
 * token, so the asking client stops waiting. */
static bool
transfer_protocol_ok(struct peer *p, const struct user *u, const char *proto,
                     const char *token)
{
	char tok[40];

	if (strcmp(proto, "ADC/1.0") == 0)
		return true;
	snprintf(tok, sizeof(tok), "TO%s", token);
	session_dsta(&p->sess, u, 141, "Transfer protocol unsupported", tok);
	return false;
}

void
transfer_on_ctm(struct peer *p, const struct user *u, const char *proto,
                const char *port, const char *token)
{
	struct expect *e;
	long long n;
	bool download = false;

	if (!transfer_protocol_ok(p, u, proto, token))
		return;
	if (!parse_num(port, &n) || n <= 0 || n > 65535 || !*u->cid)
		return;
	/* The answer to one of our RCMs: we download.  Anything else is
	 * someone who wants to download from us. */
	e = expect_take(p, token, u->cid);
	if (e) {
		download = e->download;
		free(e);
	}
	cc_connect(p, u, (unsigned)n, token, download);
}

void
transfer_on_rcm(struct peer *p, const struct user *u, const char *proto,
                const char *token)
{
	if (!transfer_protocol_ok(p, u, proto, token))
		return;
	if (p->listen_fd < 0 || !*u->cid || strlen(token) >= 32)
		return; /* passive too: we cannot be connected to */
	if (expect_add(p, token, u->cid, false) != NULL)
		session_ctm(&p->sess, u, p->port, token);
}

/* Ask a source for a connection. */
static void
transfer_request(struct peer *p, struct download *d, struct download_source *s)
{
	const struct user *u = session_user_by_cid(&p->sess, s->cid);
	char token[16], id[16];

	if (u == NULL)
		return;
	peer_new_token(token, sizeof(token));
	if ((p->listen_fd >= 0 || adc_su_has(u->su, "TCP4")) &&
	    expect_add(p, token, s->cid, true) == NULL) {
		s->retry_ms = now_ms(p) + 5000; /* too many pending */
		return;
	}
	if (p->listen_fd >= 0) {
		session_ctm(&p->sess, u, p->port, token);
	} else if (adc_su_has(u->su, "TCP4")) {
		session_rcm(&p->sess, u, token);
	} else {
		snprintf(id, sizeof(id), "%u", d->id);
		s->retry_ms = now_ms(p) + 30000;
		ui_emit(p, "download-error", id, s->nick,
		        "both passive: neither can connect", NULL);
		return;
	}
	s->connecting = true;
	s->retry_ms = now_ms(p) + EXPECT_MS;
}

static bool
cc_connected_to(const struct peer *p, const char *cid)
{
	for (const struct cc *c = p->ccs; c; c = c->next)
		if (!c->closing && c->download && strcmp(c->cid, cid) == 0)
			return true;
	return false;
}

void
transfer_tick(struct peer *p)
{
	long long now = now_ms(p);

	for (struct expect **pp = &p->expects; *pp;) {
		struct expect *e = *pp;

		if (e->deadline_ms < now) {
			*pp = e->next;
			if (e->download)
				cc_source_each(p, e->cid, src_not_connecting,
				               NULL);
			free(e);
		} else {
			pp = &e->next;
		}
	}
	for (struct cc *c = p->ccs; c; c = c->next) {
		if (c->closing)
			continue;
		if (c->state != CC_RECV && c->state != CC_SEND &&
		    c->deadline_ms < now)
			cc_close(c, "timed out");
		else if (c->download && c->state == CC_IDLE)
			cc_download_next(c);
	}
	if (!p->logged_in)
		return;
	for (struct download *d = p->downloads; d; d = d->next) {
		size_t active = 0, usable = 0;

		if (d->status == DOWNLOAD_DONE || d->status == DOWNLOAD_FAILED)
			continue;
		for (size_t i = 0; i < d->n_src; i++) {
			struct download_source *s = &d->src[i];

			if (s->bad)
				continue;
			usable++;
			if (s->connecting || cc_connected_to(p, s->cid))
				active++;
		}
		if (d->n_src == 0 ||
		    (usable < 2 && now - d->source_search_ms > 60000)) {
			/* Few or no sources (a download restored after a
			 * restart has none): ask the hub by TTH. */
			peer_search_sources(p, d);
		}
		if (d->n_src == 0)
			continue;
		if (usable == 0) {
			char id[16];

			snprintf(id, sizeof(id), "%u", d->id);
			d->status = DOWNLOAD_FAILED;
			ui_emit(p, "download-failed", id,
			        "no usable source left", NULL);
			continue;
		}
		for (size_t i = 0; i < d->n_src && active < CC_SOURCES_PER_DL;
		     i++) {
			struct download_source *s = &d->src[i];

			if (s->bad || s->connecting || s->retry_ms > now ||
			    cc_connected_to(p, s->cid))
				continue;
			transfer_request(p, d, s);
			active++;
		}
	}
}

size_t
transfer_sources_active(const struct peer *p, const struct download *d)
{
	size_t n = 0;

	for (const struct cc *c = p->ccs; c; c = c->next)
		n += !c->closing && c->dl == d &&
		     (c->state == CC_RECV || c->state == CC_WAIT_SND);
	return n;
}

void
transfer_list_uploads(struct peer *p)
{
	size_t n = 0;

	for (struct cc *c = p->ccs; c; c = c->next) {
		char b[24], pct[8], done[32], total[32], rate[32], eta[32];
		long long el;
		double bps;

		if (c->closing || c->state != CC_SEND)
			continue;
		el = now_ms(p) - c->up_start_ms;
		bps = el > 0 ? (double)c->up_done * 1000.0 / (double)el : 0.0;
		fmt_bar(b, 20, c->up_done, c->up_total);
		snprintf(pct, sizeof(pct), "%d",
		         c->up_total ? (int)(c->up_done * 100 / c->up_total)
		                     : 100);
		fmt_size(done, sizeof(done), c->up_done);
		fmt_size(total, sizeof(total), c->up_total);
		fmt_size(rate, sizeof(rate), (uint64_t)bps);
		fmt_eta(eta, sizeof(eta), c->up_total - c->up_done, bps);
		ui_emit(p, "upload", c->nick, c->up_name, b, pct, done, total,
		        rate, eta, NULL);
		n++;
	}
	if (n == 0)
		ui_emit(p, "uploads-none", NULL);
}

void
transfer_user_left(struct peer *p, const char *cid)
{
	for (struct cc *c = p->ccs; c; c = c->next)
		if (!c->closing && strcmp(c->cid, cid) == 0 &&
		    c->state != CC_RECV && c->state != CC_SEND)
			cc_close(c, "user left the hub");
	for (size_t i = 0; i < p->n_queue; i++)
		if (strcmp(p->upload_queue[i], cid) == 0) {
			free(p->upload_queue[i]);
			memmove(p->upload_queue + i, p->upload_queue + i + 1,
			        (p->n_queue - i - 1) * sizeof(char *));
			p->n_queue--;
			break;
		}
}
