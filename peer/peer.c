// SPDX-License-Identifier: MIT
/* peer.c - the client as a whole: the hub connection (bytes in and out of
 * the session), what the session reports turned into UI events, the
 * commands a user types, searches and their answers, the share and the
 * download queue. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base32.h"
#include "hashing.h"
#include "log.h"
#include "peer.h"
#include "search.h"
#include "tls.h"
#include "ui.h"
#include "verify.h"
#include "xalloc.h"

#define PEER_MAX_HITS    500
#define PEER_RES_ACTIVE  10 /* results per search answered over UDP */
#define PEER_RES_PASSIVE 5  /* through the hub */
#define PEER_CONNECT_MS  15000

static void peer_on_hub_io(struct ipk_loop *loop, int fd, unsigned events,
                           void *arg);
static void peer_hub_tls(struct peer *p);

/* ---- small helpers ---- */

void
fmt_size(char *out, size_t cap, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, cap, "%llu B", (unsigned long long)bytes);
	else
		snprintf(out, cap, "%.1f %s", v, units[u]);
}

void
fmt_bar(char *out, size_t width, uint64_t done, uint64_t total)
{
	size_t fill = total ? (size_t)(done * width / total) : width;

	for (size_t i = 0; i < width; i++)
		out[i] = i < fill ? '#' : '.';
	out[width] = '\0';
}

void
fmt_eta(char *out, size_t cap, uint64_t left, double rate_bps)
{
	if (left == 0)
		snprintf(out, cap, "done");
	else if (rate_bps > 1)
		snprintf(out, cap, "%llds",
		         (long long)((double)left / rate_bps));
	else
		snprintf(out, cap, "?");
}

void
peer_new_token(char *out, size_t cap)
{
	uint8_t r[8];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0x5a, sizeof(r)); /* never reached on Linux >= 3.17 */
	base32_encode(r, sizeof(r), out, cap);
}

/* ---- the hub connection ---- */

static void
peer_hub_watch(struct peer *p)
{
	unsigned ev = IPK_READ;

	if (p->hub.fd < 0 || p->hub_gone)
		return;
	if (p->hub_connecting)
		ev = IPK_WRITE;
	else if (p->hub_tls_handshaking)
		ev = p->hub.tls_want_write ? IPK_WRITE : IPK_READ;
	else if (link_pending(&p->hub) > 0 || p->hub.tls_want_write)
		ev |= IPK_WRITE;
	ipk_loop_watch(p->loop, p->hub.fd, ev, peer_on_hub_io, p);
}

static int
peer_send_cb(void *arg, const char *line, size_t len)
{
	struct peer *p = arg;
	int err;

	if (p->hub.fd < 0 || p->hub_gone)
		return -ENOTCONN;
	err = link_queue(&p->hub, line, len);
	if (err)
		return err;
	if (!p->hub_connecting && !p->hub_tls_handshaking) {
		err = link_flush(&p->hub);
		if (err && err != -EAGAIN)
			return err;
	}
	peer_hub_watch(p);
	return 0;
}

void
peer_quit(struct peer *p, int code)
{
	if (p->quitting)
		return;
	p->quitting = true;
	p->exit_code = code;
	transfer_close_all(p);
	ui_emit(p, "bye", NULL);
	ipk_loop_stop(p->loop);
}

static void
peer_hub_lost(struct peer *p, const char *why)
{
	if (p->hub_gone)
		return;
	p->hub_gone = true;
	if (p->hub.fd >= 0)
		ipk_loop_unwatch(p->loop, p->hub.fd);
	if (!p->logged_in && p->sess.state != SESSION_CLOSED)
		ui_emit(p, "login-failed", "0", why, NULL);
	else if (p->sess.state != SESSION_CLOSED)
		ui_emit(p, "disconnected", why, NULL);
	peer_quit(p, 1);
}

static void
peer_on_hub_io(struct ipk_loop *loop, int fd, unsigned events, void *arg)
{
	struct peer *p = arg;
	char *line;
	ssize_t n, len;

	(void)loop;
	(void)fd;
	if (p->hub_gone)
		return;
	if (p->hub_connecting) {
		int err = 0;
		socklen_t el = sizeof(err);
		char addr[300];

		if (getsockopt(p->hub.fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
			err = errno;
		if (err) {
			char why[256];

			snprintf(why, sizeof(why),
			         "cannot connect to %s:%u: %s", p->hub_host,
			         p->hub_port, strerror(err));
			peer_hub_lost(p, why);
			return;
		}
		p->hub_connecting = false;
		snprintf(addr, sizeof(addr), "%s:%u", p->hub_host, p->hub_port);
		ui_emit(p, "connected", addr, NULL);
		if (p->hub_tls) {
			const char *why = NULL;

			if (tls_start(&p->hub, p->hub_host, &why) != 0) {
				peer_hub_lost(p, why);
				return;
			}
			p->hub_tls_handshaking = true;
			peer_hub_tls(p);
			return;
		}
		(void)link_flush(&p->hub);
		peer_hub_watch(p);
		return;
	}
	if (p->hub_tls_handshaking) {
		peer_hub_tls(p);
		return;
	}
	if (p->hub.tls_want_write) /* TLS wanted to write to read on */
		events |= IPK_READ;
	if (events & IPK_WRITE) {
		int err = link_flush(&p->hub);

		if (err && err != -EAGAIN) {
			peer_hub_lost(p, strerror(-err));
			return;
		}
	}
	if (events & IPK_READ) {
		n = link_fill(&p->hub);
		while (!p->hub_gone && (len = link_line(&p->hub, &line)) >= 0) {
			if (session_receive(&p->sess, line, (size_t)len) != 0) {
				peer_hub_lost(p, "cannot send to the hub");
				return;
			}
			if (p->sess.state == SESSION_CLOSED) {
				peer_hub_lost(p, "closed");
				return;
			}
		}
		if (!p->hub_gone && link_line(&p->hub, &line) == -EMSGSIZE) {
			peer_hub_lost(p,
			              "the hub sent a line that is too long");
			return;
		}
		if (n == 0 || (n < 0 && n != -EAGAIN)) {
			peer_hub_lost(p,
			              n == 0 ? "the hub closed the connection"
			                     : strerror((int)-n));
			return;
		}
	}
	peer_hub_watch(p);
}

static int
peer_parse_url(struct peer *p, const char *url, const char **why)
{
	const char *hp, *colon;
	char *end;
	long port;

	const char *kp, *end_hp;

	if (strncmp(url, "adc://", 6) == 0) {
		hp = url + 6;
	} else if (strncmp(url, "adcs://", 7) == 0) {
		hp = url + 7;
		p->hub_tls = true;
	} else {
		*why = "the hub address must look like adc://HOST:PORT or "
		       "adcs://HOST:PORT[/?kp=SHA256/KEYPRINT]";
		return -EINVAL;
	}
	/* adcs://host:port/?kp=SHA256/XXXX pins the hub's certificate. */
	kp = strstr(hp, "kp=");
	if (kp) {
		if (!p->hub_tls || strncmp(kp + 3, "SHA256/", 7) != 0 ||
		    strlen(kp + 3) >= TLS_KEYPRINT_LEN) {
			*why = "kp= takes SHA256/<base32> with adcs:// only";
			return -EINVAL;
		}
		p->hub_keyprint = xstrdup(kp + 3);
	}
	end_hp = strchr(hp, '/');
	if (end_hp == NULL)
		end_hp = hp + strlen(hp);
	colon = memrchr(hp, ':', (size_t)(end_hp - hp));
	if (colon == NULL || colon == hp) {
		*why = "the hub address must look like adc://HOST:PORT";
		return -EINVAL;
	}
	port = strtol(colon + 1, &end, 10);
	if ((*end != '\0' && *end != '/') || port <= 0 || port > 65535) {
		*why = "the hub port must be 1..65535";
		return -EINVAL;
	}
	p->hub_host = xstrndup(hp, (size_t)(colon - hp));
	p->hub_port = (unsigned)port;
	return 0;
}

/* The TCP connection is up: TLS first for adcs://, then the session's
 * lines (HSUP is already queued). */
static void
peer_hub_tls(struct peer *p)
{
	const char *why = NULL;
	char kp[TLS_KEYPRINT_LEN];
	int err = tls_handshake(&p->hub, &why);

	if (err == -EAGAIN) {
		peer_hub_watch(p);
		return;
	}
	if (err) {
		peer_hub_lost(p, why);
		return;
	}
	p->hub_tls_handshaking = false;
	if (tls_keyprint(&p->hub, kp) != 0) {
		peer_hub_lost(p, "the hub sent no certificate");
		return;
	}
	if (p->hub_keyprint && strcmp(p->hub_keyprint, kp) != 0) {
		char why2[200];

		snprintf(why2, sizeof(why2),
		         "the hub's keyprint is %s, not the one in the address",
		         kp);
		peer_hub_lost(p, why2);
		return;
	}
	ui_emit(p, "tls", tls_version(&p->hub), kp,
	        p->hub_keyprint ? "verified" : "not pinned", NULL);
	if (link_flush(&p->hub) == -EPIPE) {
		peer_hub_lost(p, "cannot send to the hub");
		return;
	}
	peer_hub_watch(p);
}

static int
peer_connect_hub(struct peer *p, const char **why)
{
	struct addrinfo hints = { .ai_family = AF_INET,
		                  .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai;
	char port[16], addr[300];
	int fd, rc, one = 1;

	snprintf(port, sizeof(port), "%u", p->hub_port);
	rc = getaddrinfo(p->hub_host, port, &hints, &ai);
	if (rc != 0) {
		*why = gai_strerror(rc);
		return -EHOSTUNREACH;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		*why = "socket";
		return -errno;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc != 0 && errno != EINPROGRESS) {
		int err = -errno;

		close(fd);
		*why = "connect";
		return err;
	}
	link_init(&p->hub, fd);
	p->hub_connecting = true;
	snprintf(addr, sizeof(addr), "%s://%s:%u", p->hub_tls ? "adcs" : "adc",
	         p->hub_host, p->hub_port);
	ui_emit(p, "connecting", addr, NULL);
	session_start(&p->sess);
	peer_hub_watch(p);
	return 0;
}

/* ---- session events ---- */

static void
on_hub_info(void *arg, const char *name, const char *desc, const char *version)
{
	struct peer *p = arg;

	(void)version;
	ui_emit(p, "hub", name, desc, NULL);
}

static void
on_need_nick(void *arg)
{
	struct peer *p = arg;

	if (!p->ui->prompt(p, UI_PROMPT_NICK)) {
		ui_emit(p, "login-failed", "0",
		        "no nick: give --nick in batch mode", NULL);
		peer_quit(p, 1);
	}
}

static void
on_need_password(void *arg)
{
	struct peer *p = arg;

	if (!p->ui->prompt(p, UI_PROMPT_PASSWORD)) {
		ui_emit(p, "login-failed", "0",
		        "the hub asks for a password: give --password-file "
		        "or --password-env",
		        NULL);
		peer_quit(p, 1);
	}
}

void
peer_give_nick(struct peer *p, const char *nick)
{
	if (session_set_nick(&p->sess, nick) != 0)
		peer_hub_lost(p, "cannot send to the hub");
}

void
peer_give_password(struct peer *p, const char *pw)
{
	if (session_set_password(&p->sess, pw) != 0)
		peer_hub_lost(p, "cannot send to the hub");
}

static void
on_logged_in(void *arg, const struct user *me)
{
	struct peer *p = arg;

	p->logged_in = true;
	ui_emit(p, "login", me->nick, NULL);
	if (p->ui->online)
		p->ui->online(p);
	if (p->o.ready_fd >= 0) {
		char line[64];
		int n = snprintf(line, sizeof(line), "ready %s\n",
		                 p->listen_fd >= 0 ? "active" : "passive");

		(void)!write(p->o.ready_fd, line, (size_t)n);
		close(p->o.ready_fd);
		p->o.ready_fd = -1;
	}
	peer_advertise(p);
}

static void
on_fail(void *arg, int code, const char *reason)
{
	struct peer *p = arg;
	char c[8];

	snprintf(c, sizeof(c), "%d", code);
	if (p->logged_in)
		ui_emit(p, "disconnected", reason, NULL);
	else
		ui_emit(p, "login-failed", c, reason, NULL);
	peer_quit(p, 1);
}

static void
on_join(void *arg, const struct user *u)
{
	ui_emit(arg, "join", u->nick, NULL);
}

static void
on_leave(void *arg, const struct user *u, const char *reason)
{
	struct peer *p = arg;

	transfer_user_left(p, u->cid);
	ui_emit(p, "leave", u->nick, reason ? reason : "", NULL);
}

static void
on_chat(void *arg, const struct user *from, const char *text, bool me, bool pm,
        const struct user *with)
{
	struct peer *p = arg;

	if (from == NULL) {
		ui_emit(p, "hubmsg", text, NULL);
	} else if (pm) {
		const struct user *to = from == p->sess.me ? with : p->sess.me;

		ui_emit(p, me ? "pm-me" : "pm", from->nick, to ? to->nick : "?",
		        text, NULL);
	} else {
		ui_emit(p, me ? "me" : "chat", from->nick, text, NULL);
	}
}

static void
on_status(void *arg, int code, const char *text)
{
	char c[8];

	snprintf(c, sizeof(c), "%03d", code);
	ui_emit(arg, "status", c, text, NULL);
}

static void
on_user_status(void *arg, const struct user *from, int code, const char *text)
{
	char c[8];

	snprintf(c, sizeof(c), "%03d", code);
	ui_emit(arg, "user-status", from->nick, c, text, NULL);
}

/* Answering searches. */
struct answer {
	struct peer *p;
	const struct user *to;
	const char *token;
	bool udp;
	size_t sent;
};

static void
peer_send_udp_res(struct peer *p, const struct user *to, struct adc_buf *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	long n = adc_buf_end(b);
	int fd = p->udp_fd;

	if (n < 0 || inet_pton(AF_INET, to->ip4, &sa.sin_addr) != 1)
		return;
	sa.sin_port = htons((uint16_t)to->udp4);
	if (fd < 0) {
		/* Passive: a throw-away socket just to send. */
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return;
	}
	(void)sendto(fd, b->p, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&sa,
	             sizeof(sa));
	if (fd != p->udp_fd)
		close(fd);
}

static void
peer_answer_one(void *arg, const char *vpath, bool dir,
                const struct share_file *f)
{
	struct answer *a = arg;
	struct peer *p = a->p;
	char fn[4200], si[32], sl[16], tr[48], to[80];
	int free_slots = p->o.slots - p->slots_used;

	snprintf(fn, sizeof(fn), "FN%s", vpath);
	snprintf(si, sizeof(si), "SI%llu",
	         (unsigned long long)(f ? f->size : 0));
	snprintf(sl, sizeof(sl), "SL%d", free_slots < 0 ? 0 : free_slots);
	snprintf(tr, sizeof(tr), "TR%s", f ? f->tth32 : "");
	snprintf(to, sizeof(to), "TO%s", a->token ? a->token : "");
	if (a->udp) {
		char line[8192];
		struct adc_buf b;

		adc_buf_init(&b, line, sizeof(line));
		adc_buf_header(&b, 'U', "RES", ADC_SID_NONE, ADC_SID_NONE);
		adc_buf_raw(&b, " ", 1);
		adc_buf_raw(&b, p->sess.self.cid32, strlen(p->sess.self.cid32));
		adc_buf_named(&b, "FN", fn + 2);
		adc_buf_named(&b, "SI", si + 2);
		adc_buf_named(&b, "SL", sl + 2);
		if (!dir)
			adc_buf_named(&b, "TR", tr + 2);
		if (a->token)
			adc_buf_named(&b, "TO", to + 2);
		peer_send_udp_res(p, a->to, &b);
	} else {
		const char *fields[5] = { fn, si, sl };
		size_t n = 3;

		if (!dir)
			fields[n++] = tr;
		if (a->token)
			fields[n++] = to;
		session_res(&p->sess, a->to, fields, n);
	}
	a->sent++;
}

static void
on_search(void *arg, const struct user *from, const struct adc_msg *m)
{
	struct peer *p = arg;
	struct search_query q;
	struct answer a = { .p = p, .to = from };

	if (search_parse(&q, m) != 0)
		return;
	a.token = q.token;
	a.udp = adc_su_has(from->su, "UDP4") && from->udp4 && *from->ip4;
	if (!a.udp && p->listen_fd < 0)
		return; /* both passive: a result would be useless */
	share_search(&p->share, &q, a.udp ? PEER_RES_ACTIVE : PEER_RES_PASSIVE,
	             peer_answer_one, &a);
}

/* Results, from DRES or URES. */

static void
peer_on_result(struct peer *p, const struct user *from, const struct adc_msg *m)
{
	const char *fn = adc_named(m, "FN", NULL);
	const char *si = adc_named(m, "SI", NULL);
	const char *sl = adc_named(m, "SL", NULL);
	const char *tr = adc_named(m, "TR", NULL);
	const char *to = adc_named(m, "TO", NULL);
	struct search_hit *h;
	char *end;
	unsigned long long size;
	char num[16], sz[32], slots[16];

	if (fn == NULL || si == NULL || *fn == '\0')
		return;
	errno = 0;
	size = strtoull(si, &end, 10);
	if (errno || *end || *si < '0' || *si > '9')
		return;
	if (tr && strlen(tr) != TIGER_BASE32_LEN)
		tr = NULL;
	/* Any result for a file we are downloading is another source. */
	if (tr) {
		for (struct download *d = p->downloads; d; d = d->next)
			if (d->kind == DOWNLOAD_FILE &&
			    strcmp(d->tth32, tr) == 0 && d->size == size &&
			    d->status != DOWNLOAD_DONE)
				peer_add_source(p, d, from->cid, from->nick);
	}
	if (to == NULL || strcmp(to, p->search_token) != 0 ||
	    p->n_hits >= PEER_MAX_HITS)
		return;
	for (size_t i = 0; i < p->n_hits; i++)
		if (strcmp(p->hits[i].cid, from->cid) == 0 &&
		    strcmp(p->hits[i].path, fn) == 0)
			return; /* the same answer twice (B and F routing) */
	p->hits = xreallocarray(p->hits, p->n_hits + 1, sizeof(*p->hits));
	h = &p->hits[p->n_hits++];
	memset(h, 0, sizeof(*h));
	h->nick = xstrdup(from->nick);
	h->cid = xstrdup(from->cid);
	h->path = xstrdup(fn);
	h->size = size;
	if (tr)
		memcpy(h->tth32, tr, TIGER_BASE32_LEN + 1);
	h->slots_free = sl ? atoi(sl) : -1;
	snprintf(num, sizeof(num), "%zu", p->n_hits);
	snprintf(sz, sizeof(sz), "%llu", size);
	snprintf(slots, sizeof(slots), "%d", h->slots_free);
	ui_emit(p, "result", num, h->nick, h->path, sz,
	        *h->tth32 ? h->tth32 : "-", slots, NULL);
}

static void
on_result(void *arg, const struct user *from, const struct adc_msg *m)
{
	peer_on_result(arg, from, m);
}

void
transfer_on_udp(struct peer *p)
{
	char buf[8192];
	struct sockaddr_in sa;

	for (int i = 0; i < 64; i++) {
		socklen_t sl = sizeof(sa);
		ssize_t n = recvfrom(p->udp_fd, buf, sizeof(buf) - 1,
		                     MSG_DONTWAIT, (struct sockaddr *)&sa, &sl);
		struct adc_msg m;
		const struct user *u;

		if (n <= 0)
			return;
		while (n > 0 && buf[n - 1] == '\n')
			n--;
		if (adc_parse(&m, buf, (size_t)n) != ADC_OK || m.type != 'U' ||
		    strcmp(m.cmd, "RES") != 0)
			continue;
		u = session_user_by_cid(&p->sess, m.cid);
		if (u)
			peer_on_result(p, u, &m);
	}
}

static void
on_ctm(void *arg, const struct user *from, const char *proto, const char *port,
       const char *token)
{
	transfer_on_ctm(arg, from, proto, port, token);
}

static void
on_rcm(void *arg, const struct user *from, const char *proto, const char *token)
{
	transfer_on_rcm(arg, from, proto, token);
}

static const struct session_ops peer_session_ops = {
	.send_cb = peer_send_cb,
	.hub_info_cb = on_hub_info,
	.need_nick_cb = on_need_nick,
	.need_password_cb = on_need_password,
	.logged_in_cb = on_logged_in,
	.fail_cb = on_fail,
	.join_cb = on_join,
	.leave_cb = on_leave,
	.chat_cb = on_chat,
	.status_cb = on_status,
	.search_cb = on_search,
	.result_cb = on_result,
	.ctm_cb = on_ctm,
	.rcm_cb = on_rcm,
	.user_status_cb = on_user_status,
};

void
peer_advertise(struct peer *p)
{
	int free_slots = p->o.slots - p->slots_used;

	p->sess.self.share_bytes = p->share.total_bytes;
	p->sess.self.files = p->share.n_files;
	p->sess.self.slots = p->o.slots;
	p->sess.self.free_slots = free_slots < 0 ? 0 : free_slots;
	if (session_update_inf(&p->sess) != 0)
		peer_hub_lost(p, "cannot send to the hub");
}

/* ---- sharing ---- */

void
peer_rescan(struct peer *p)
{
	const char **roots = xcalloc(p->share.n_roots + 1, sizeof(*roots));

	for (size_t i = 0; i < p->share.n_roots; i++)
		roots[i] = p->share.roots[i].real ? p->share.roots[i].real : "";
	p->scan_gen++;
	p->scanning = true;
	p->scan_started_ms = ipk_loop_now_ms(p->loop);
	hashing_scan(p->hashing, roots, p->share.n_roots, p->scan_gen);
	free(roots);
}

static void
peer_on_hashed(void *arg, struct hash_result *r)
{
	struct peer *p = arg;

	if (r->err || r->gen != p->scan_gen) {
		free(r->rel);
		return;
	}
	share_put(&p->share, r->gen, r->root, r->rel, r->size, r->mtime_ns,
	          r->tth);
}

static void
peer_on_scan_done(void *arg, unsigned gen, uint64_t hashed_bytes,
                  unsigned cached, unsigned hashed)
{
	struct peer *p = arg;
	char files[24], size[32], nh[24], rate[48];
	long long ms = ipk_loop_now_ms(p->loop) - p->scan_started_ms;

	if (gen != p->scan_gen)
		return;
	p->scanning = false;
	share_sweep(&p->share, gen, p->sess.self.cid32);
	(void)cached;
	snprintf(files, sizeof(files), "%zu", p->share.n_files);
	fmt_size(size, sizeof(size), p->share.total_bytes);
	snprintf(nh, sizeof(nh), "%u", hashed);
	snprintf(rate, sizeof(rate), "%.1f MiB/s",
	         ms > 0 ? hashed_bytes / 1048576.0 * 1000.0 / (double)ms : 0);
	ui_emit(p, "share-ready", files, size, nh, rate, NULL);
	peer_advertise(p);
}

/* ---- downloads ---- */

struct download *
peer_download_by_id(struct peer *p, unsigned id)
{
	for (struct download *d = p->downloads; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

void
peer_add_source(struct peer *p, struct download *d, const char *cid,
                const char *nick)
{
	(void)p;
	for (size_t i = 0; i < d->n_src; i++)
		if (strcmp(d->src[i].cid, cid) == 0)
			return;
	d->src = xreallocarray(d->src, d->n_src + 1, sizeof(*d->src));
	memset(&d->src[d->n_src], 0, sizeof(d->src[0]));
	d->src[d->n_src].cid = xstrdup(cid);
	d->src[d->n_src].nick = xstrdup(nick);
	d->n_src++;
}

struct download *
peer_new_download(struct peer *p, enum download_kind kind, const char *name)
{
	struct download *d = xcalloc(1, sizeof(*d)), **pp;

	d->id = ++p->next_download_id;
	d->kind = kind;
	d->name = xstrdup(name);
	d->f.fd = -1;
	for (pp = &p->downloads; *pp; pp = &(*pp)->next)
		;
	*pp = d;
	return d;
}

static void
peer_download_free(struct download *d)
{
	if (d->opened)
		dlfile_close(&d->f);
	for (size_t i = 0; i < d->n_src; i++) {
		free(d->src[i].cid);
		free(d->src[i].nick);
	}
	free(d->src);
	free(d->list);
	free(d->name);
	free(d);
}

static void
peer_show_list(struct peer *p, struct download *d)
{
	struct filelist fl;
	int err = filelist_parse(d->list, d->list_len, true, &fl);
	char n[24];

	if (err) {
		char id[16];

		snprintf(id, sizeof(id), "%u", d->id);
		ui_emit(p, "download-failed", id,
		        err == -EFBIG ? "file list over the limits"
		                      : "not a valid file list",
		        NULL);
		return;
	}
	filelist_fini(&p->browse);
	p->browse = fl;
	free(p->browse_nick);
	p->browse_nick = xstrdup(d->name);
	/* The listed files become the numbered hits for /get N. */
	for (size_t i = 0; i < p->n_hits; i++) {
		free(p->hits[i].nick);
		free(p->hits[i].cid);
		free(p->hits[i].path);
	}
	p->n_hits = 0;
	p->search_token[0] = '\0';
	snprintf(n, sizeof(n), "%zu", fl.n);
	ui_emit(p, "list", d->name, n, NULL);
	for (size_t i = 0; i < fl.n; i++) {
		const struct filelist_entry *e = &fl.e[i];
		char num[16], sz[32];

		if (e->dir)
			continue;
		p->hits =
		        xreallocarray(p->hits, p->n_hits + 1, sizeof(*p->hits));
		p->hits[p->n_hits] = (struct search_hit){
			.nick = xstrdup(d->name),
			.cid = xstrdup(d->src[0].cid),
			.path = xstrdup(e->path),
			.size = e->size,
			.slots_free = -1,
		};
		memcpy(p->hits[p->n_hits].tth32, e->tth32,
		       sizeof(p->hits[p->n_hits].tth32));
		p->n_hits++;
		snprintf(num, sizeof(num), "%zu", p->n_hits);
		snprintf(sz, sizeof(sz), "%llu", (unsigned long long)e->size);
		ui_emit(p, "entry", num, e->path, sz,
		        *e->tth32 ? e->tth32 : "-", NULL);
	}
}

void
peer_download_finished(struct peer *p, struct download *d)
{
	char id[16], *final = NULL;
	int err;

	snprintf(id, sizeof(id), "%u", d->id);
	d->status = DOWNLOAD_DONE;
	if (d->kind == DOWNLOAD_LIST) {
		peer_show_list(p, d);
		free(d->list);
		d->list = NULL;
		return;
	}
	err = dlfile_finish(&d->f, p->o.downloads, d->name, &final);
	if (err) {
		d->status = DOWNLOAD_FAILED;
		ui_emit(p, "download-failed", id, strerror(-err), NULL);
		return;
	}
	dlfile_close(&d->f);
	d->opened = false;
	hashing_queue_del(p->hashing, d->tth32);
	char sz[24];
	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)d->size);
	ui_emit(p, "download-done", id, final, d->tth32, sz, NULL);
	free(final);
}

struct download *
peer_queue_file(struct peer *p, const char *name, const char *tth32,
                uint64_t size)
{
	struct download *d;
	uint8_t root[TIGER_BYTES];

	if (base32_decode(tth32, strlen(tth32), root, sizeof(root)) !=
	    TIGER_BYTES)
		return NULL;
	for (d = p->downloads; d; d = d->next)
		if (d->kind == DOWNLOAD_FILE && strcmp(d->tth32, tth32) == 0 &&
		    d->status != DOWNLOAD_DONE && d->status != DOWNLOAD_FAILED)
			return d;
	d = peer_new_download(p, DOWNLOAD_FILE, name);
	memcpy(d->tth32, tth32, TIGER_BASE32_LEN + 1);
	memcpy(d->root, root, TIGER_BYTES);
	d->size = size;
	hashing_queue_add(p->hashing, tth32, size, name);
	return d;
}

/* A download left from an earlier run: its sources are found again by
 * TTH searches once logged in (transfer_tick). */
static void
peer_restore_one(void *arg, const char *tth32, uint64_t size, const char *name)
{
	struct peer *p = arg;
	struct download *d;
	char id[16], sz[32];

	if (strlen(tth32) != TIGER_BASE32_LEN)
		return;
	d = peer_queue_file(p, name, tth32, size);
	if (d == NULL)
		return;
	snprintf(id, sizeof(id), "%u", d->id);
	fmt_size(sz, sizeof(sz), size);
	ui_emit(p, "download-added", id, d->name, sz, "0", NULL);
}

void
peer_search_sources(struct peer *p, struct download *d)
{
	char tr[48], token[16];
	const char *terms[1] = { tr };

	d->source_search_ms = ipk_loop_now_ms(p->loop);
	snprintf(tr, sizeof(tr), "TR%s", d->tth32);
	peer_new_token(token, sizeof(token));
	(void)session_search(&p->sess, terms, 1, token);
}

/* ---- the loop ---- */

static void
peer_on_tick(struct ipk_loop *loop, void *arg)
{
	struct peer *p = arg;
	long long now = ipk_loop_now_ms(loop);

	transfer_tick(p);
	for (struct download *d = p->downloads; d; d = d->next) {
		uint64_t have = d->opened ? d->f.done_bytes : 0;
		long long dt = now - d->rate_last_ms;

		if (d->status != DOWNLOAD_RUNNING)
			continue;
		if (d->rate_last_ms && dt > 0) {
			double r = (double)(have - d->rate_last_bytes) *
			           1000.0 / (double)dt;

			d->rate_bps = d->rate_bps > 0
			                      ? 0.5 * d->rate_bps + 0.5 * r
			                      : r;
		}
		d->rate_last_bytes = have;
		d->rate_last_ms = now;
	}
	ipk_timer_start(loop, &p->tick, 1000);
}

static void
peer_on_connect_timeout(struct ipk_loop *loop, void *arg)
{
	struct peer *p = arg;

	(void)loop;
	if (!p->logged_in && !p->quitting)
		peer_hub_lost(p, "timed out logging in");
}

static void
peer_on_signal(struct ipk_loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	peer_quit(arg, 0);
}

static int
mkdirs(const char *path)
{
	char *c = xstrdup(path);

	for (char *s = c + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(c, 0755) != 0 && errno != EEXIST) {
			int err = -errno;

			free(c);
			return err;
		}
		*s = '/';
	}
	free(c);
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
peer_run(struct peer_opts *o)
{
	struct peer *p = xcalloc(1, sizeof(*p));
	struct ipk_timer login_timer;
	const char *why = NULL;
	char *db;
	int err, code = 1;
	uint8_t pid[TIGER_BYTES];

	p->o = *o;
	p->listen_fd = p->udp_fd = -1;
	p->hub.fd = -1;
	p->ui = o->batch ? &ui_batch : &ui_tty;
	share_init(&p->share);
	signal(SIGPIPE, SIG_IGN);
	tiger_init_library();

	err = peer_parse_url(p, o->hub_url, &why);
	if (err)
		goto early;
	err = mkdirs(o->state_dir);
	p->incomplete_dir = xasprintf("%s/incomplete", o->state_dir);
	if (err == 0)
		err = mkdirs(p->incomplete_dir);
	if (err == 0)
		err = mkdirs(o->downloads);
	if (err) {
		why = "cannot create the state or downloads folder";
		goto early;
	}
	err = ipk_loop_new(&p->loop);
	if (err) {
		why = "event loop";
		goto early;
	}
	err = session_init(&p->sess, &peer_session_ops, p);
	if (err) {
		why = "session";
		goto early;
	}
	db = xasprintf("%s/hashes.db", o->state_dir);
	err = hashing_start(&p->hashing, db, p->loop, peer_on_hashed,
	                    peer_on_scan_done, p, &why);
	free(db);
	if (err)
		goto early;
	err = verifier_start(&p->verifier, p->loop, transfer_on_verified, p);
	if (err) {
		why = "verifier thread";
		goto early;
	}
	/* The same PID (so CID) every run from this state folder. */
	if (hashing_get_pid(p->hashing, pid) == 0) {
		uint8_t cid[TIGER_BYTES];

		memcpy(p->sess.self.pid, pid, TIGER_BYTES);
		tiger_hash(pid, TIGER_BYTES, cid);
		base32_encode(pid, TIGER_BYTES, p->sess.self.pid32,
		              sizeof(p->sess.self.pid32));
		base32_encode(cid, TIGER_BYTES, p->sess.self.cid32,
		              sizeof(p->sess.self.cid32));
	} else {
		hashing_set_pid(p->hashing, p->sess.self.pid);
	}
	if (o->listen) {
		err = transfer_listen(p, o->listen, &why);
		if (err)
			goto early;
		p->sess.self.tcp_port = p->port;
		p->sess.self.udp_port = p->port;
	}
	if (o->desc)
		p->sess.self.desc = xstrdup(o->desc);
	if (o->nick)
		session_set_nick(&p->sess, o->nick);
	if (o->password) {
		session_set_password(&p->sess, o->password);
		explicit_bzero(o->password, strlen(o->password));
	}
	for (size_t i = 0; i < o->n_shares; i++) {
		err = share_add_root(&p->share, o->shares[i]);
		if (err && err != -EEXIST) {
			why = "cannot share a --share folder";
			goto early;
		}
	}
	hashing_queue_list(p->hashing, peer_restore_one, p);
	peer_advertise(p);
	if (p->share.n_roots)
		peer_rescan(p);
	else
		share_sweep(&p->share, 0, p->sess.self.cid32);

	err = p->ui->start(p);
	if (err) {
		why = "cannot read the terminal";
		goto early;
	}
	ipk_loop_signal(p->loop, SIGINT, peer_on_signal, p);
	ipk_loop_signal(p->loop, SIGTERM, peer_on_signal, p);
	ipk_timer_init(&p->tick, peer_on_tick, p);
	ipk_timer_start(p->loop, &p->tick, 1000);
	ipk_timer_init(&login_timer, peer_on_connect_timeout, p);
	ipk_timer_start(p->loop, &login_timer,
	                o->connect_timeout_ms > 0 ? o->connect_timeout_ms
	                                          : PEER_CONNECT_MS);
	err = peer_connect_hub(p, &why);
	if (err) {
		p->ui->stop(p);
		goto early;
	}
	ipk_loop_run(p->loop);
	code = p->exit_code;
	/* A clean quit: the hub sees the connection close after our last
	 * line (ADC has no client QUI); transfers end first. */
	if (p->hub.fd >= 0 && !p->hub_gone) {
		(void)link_flush(&p->hub);
		shutdown(p->hub.fd, SHUT_WR);
	}
	ipk_timer_stop(p->loop, &login_timer);
	ipk_timer_stop(p->loop, &p->tick);
	p->ui->stop(p);
	goto out;
early:
	fprintf(stderr, "ipckit peer: %s%s%s\n", why ? why : "error",
	        err ? ": " : "", err ? strerror(-err) : "");
	code = 1;
out:
	/* The loop has stopped: connections are freed here, and the frees
	 * they deferred are dropped with the loop. */
	transfer_free_all(p);
	verifier_stop(p->verifier); /* before the files it reads close */
	hashing_stop(p->hashing);
	link_fini(&p->hub);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->udp_fd >= 0)
		close(p->udp_fd);
	while (p->downloads) {
		struct download *d = p->downloads;

		p->downloads = d->next;
		peer_download_free(d);
	}
	while (p->expects) {
		struct expect *e = p->expects;

		p->expects = e->next;
		free(e);
	}
	for (size_t i = 0; i < p->n_queue; i++)
		free(p->upload_queue[i]);
	free(p->upload_queue);
	peer_clear_hits(p);
	filelist_fini(&p->browse);
	free(p->browse_nick);
	share_fini(&p->share);
	session_fini(&p->sess);
	ipk_loop_free(p->loop);
	free(p->hub_host);
	free(p->hub_keyprint);
	free(p->incomplete_dir);
	free(p);
	return code;
}
