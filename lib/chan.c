// SPDX-License-Identifier: MIT
/* chan.c - the public API: parse the address, check the arguments once,
 * call the transport's ops.  It never knows a scheme by name: what differs
 * between mechanisms is in their ops and caps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipckit.h"

#include "addr.h"
#include "transport.h"

static struct ipk_chan *
chan_new(const struct ipk_transport *tp, enum chan_role role, unsigned flags)
{
	struct ipk_chan *ch = calloc(1, sizeof(*ch) + tp->state_size);

	if (ch == NULL)
		return NULL;
	ch->tp = tp;
	ch->role = role;
	ch->open_flags = flags;
	return ch;
}

static void
chan_free(struct ipk_chan *ch)
{
	if (ch == NULL)
		return;
	free(ch->address);
	free(ch);
}

/* The caller's timeout decides between "not ready" and "timed out". */
static int
chan_timeout_err(int err, int timeout_ms)
{
	if (err == -ETIMEDOUT && timeout_ms == 0)
		return -EAGAIN;
	return err;
}

static int
chan_check_timeout(int timeout_ms)
{
	if (timeout_ms < -1)
		return errdetail(-EINVAL,
		                 "timeout %d ms: use -1 to wait "
		                 "forever, 0 to poll",
		                 timeout_ms);
	return 0;
}

/* Open or listen: shared by ipk_open() and ipk_listen(). */
static int
chan_start(struct ipk_chan **chp, const char *address, unsigned flags,
           int timeout_ms, bool listening)
{
	struct ipk_addr *a;
	struct ipk_chan *ch;
	int err;

	errdetail_clear();
	if (chp == NULL)
		return -EINVAL;
	*chp = NULL;
	if (flags & ~(unsigned)(IPK_NOCREATE | IPK_EXCL))
		return errdetail(-EINVAL, "unknown open flags 0x%x", flags);
	err = chan_check_timeout(timeout_ms);
	if (err)
		return err;
	/* struct ipk_addr is a few kB: keep it off small thread stacks. */
	a = malloc(sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	err = addr_parse(a, address);
	if (err)
		goto out;
	if (listening && a->tp->listen == NULL) {
		err = errdetail(IPK_EKIND,
		                "%s: a %s channel cannot listen: open it",
		                address, a->scheme);
		goto out;
	}
	ch = chan_new(a->tp, listening ? CHAN_LISTENER : CHAN_CONN, flags);
	if (ch == NULL) {
		err = -ENOMEM;
		goto out;
	}
	if (a->tp->caps & IPK_CAP_QUEUE)
		ch->role = CHAN_QUEUE;
	err = listening ? a->tp->listen(ch, a, flags)
	                : a->tp->open(ch, a, flags, timeout_ms);
	if (err) {
		/* open() and listen() leave nothing open on failure. */
		chan_free(ch);
		err = chan_timeout_err(err, timeout_ms);
		goto out;
	}
	if (ch->address == NULL) {
		ch->address = strdup(address);
		if (ch->address == NULL) {
			a->tp->close(ch);
			chan_free(ch);
			err = -ENOMEM;
			goto out;
		}
	}
	*chp = ch;
out:
	free(a);
	return err;
}

int
ipk_open(struct ipk_chan **chp, const char *address, unsigned flags,
         int timeout_ms)
{
	return chan_start(chp, address, flags, timeout_ms, false);
}

int
ipk_listen(struct ipk_chan **lp, const char *address, unsigned flags)
{
	return chan_start(lp, address, flags, -1, true);
}

int
ipk_accept(struct ipk_chan *l, struct ipk_chan **chp, int timeout_ms)
{
	struct ipk_chan *ch;
	int err;

	errdetail_clear();
	if (l == NULL || chp == NULL)
		return -EINVAL;
	*chp = NULL;
	if (l->role != CHAN_LISTENER)
		return errdetail(IPK_EKIND, "%s is not a listener", l->address);
	err = chan_check_timeout(timeout_ms);
	if (err)
		return err;
	ch = chan_new(l->tp, CHAN_CONN, l->open_flags);
	if (ch == NULL)
		return -ENOMEM;
	err = l->tp->accept(l, ch, timeout_ms);
	if (err) {
		chan_free(ch);
		return chan_timeout_err(err, timeout_ms);
	}
	if (ch->address == NULL)
		ch->address = strdup(l->address);
	if (ch->address == NULL) {
		l->tp->close(ch);
		chan_free(ch);
		return -ENOMEM;
	}
	*chp = ch;
	return 0;
}

int
ipk_pair(struct ipk_chan **a, struct ipk_chan **b)
{
	const struct ipk_transport *tp = NULL;
	struct ipk_chan *ca, *cb;
	int err;

	errdetail_clear();
	if (a == NULL || b == NULL)
		return -EINVAL;
	*a = *b = NULL;
	for (const struct ipk_transport *const *t = transports; *t; t++)
		if ((*t)->pair) {
			tp = *t;
			break;
		}
	if (tp == NULL)
		return errdetail(-ENOTSUP, "no transport in this build makes "
		                           "connected pairs");
	ca = chan_new(tp, CHAN_CONN, 0);
	cb = chan_new(tp, CHAN_CONN, 0);
	if (ca == NULL || cb == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	err = tp->pair(ca, cb);
	if (err)
		goto fail;
	if (ca->address == NULL)
		ca->address = strdup(tp->scheme);
	if (cb->address == NULL)
		cb->address = strdup(tp->scheme);
	if (ca->address == NULL || cb->address == NULL) {
		tp->close(ca);
		tp->close(cb);
		err = -ENOMEM;
		goto fail;
	}
	*a = ca;
	*b = cb;
	return 0;
fail:
	chan_free(ca);
	chan_free(cb);
	return err;
}

static int
chan_check_io(const struct ipk_chan *ch, int timeout_ms)
{
	if (ch == NULL)
		return -EINVAL;
	if (ch->role == CHAN_LISTENER)
		return errdetail(IPK_EKIND,
		                 "%s is a listener: accept a connection, "
		                 "then send or receive on it",
		                 ch->address);
	return chan_check_timeout(timeout_ms);
}

static int
chan_too_large(const struct ipk_chan *ch, size_t len, size_t max)
{
	char limit[160];

	if (ch->tp->max_msg_limit == NULL)
		return errdetail(-EMSGSIZE,
		                 "%s: message of %zu bytes is above this "
		                 "channel's maximum of %zu",
		                 ch->address, len, max);
	ch->tp->max_msg_limit(ch, limit, sizeof(limit));
	return errdetail(-EMSGSIZE, "%s: message of %zu bytes is above %s",
	                 ch->address, len, limit);
}

ssize_t
ipk_sendx(struct ipk_chan *ch, const void *msg, size_t len,
          const struct ipk_msginfo *info, int timeout_ms)
{
	static const struct ipk_msginfo none;
	size_t max;
	ssize_t n;
	int err;

	errdetail_clear();
	err = chan_check_io(ch, timeout_ms);
	if (err)
		return err;
	if (msg == NULL && len > 0)
		return -EINVAL;
	max = ch->tp->max_msg(ch);
	if (len > max)
		return chan_too_large(ch, len, max);
	n = ch->tp->send(ch, msg, len, info ? info : &none, timeout_ms);
	if (n < 0)
		return chan_timeout_err((int)n, timeout_ms);
	return n;
}

ssize_t
ipk_send(struct ipk_chan *ch, const void *msg, size_t len, int timeout_ms)
{
	return ipk_sendx(ch, msg, len, NULL, timeout_ms);
}

ssize_t
ipk_recvx(struct ipk_chan *ch, void *buf, size_t cap, struct ipk_msginfo *info,
          int timeout_ms)
{
	struct ipk_msginfo local = { 0 };
	ssize_t n;
	int err;

	errdetail_clear();
	err = chan_check_io(ch, timeout_ms);
	if (err)
		return err;
	if (buf == NULL && cap > 0)
		return -EINVAL;
	if (info == NULL)
		info = &local;
	info->prio = 0;
	info->flags = 0;
	n = ch->tp->recv(ch, buf, cap, info, timeout_ms);
	if (n < 0)
		return chan_timeout_err((int)n, timeout_ms);
	return n;
}

ssize_t
ipk_recv(struct ipk_chan *ch, void *buf, size_t cap, int timeout_ms)
{
	return ipk_recvx(ch, buf, cap, NULL, timeout_ms);
}

ssize_t
ipk_peek_size(struct ipk_chan *ch, const struct ipk_msginfo *info,
              int timeout_ms)
{
	static const struct ipk_msginfo none;
	ssize_t n;
	int err;

	errdetail_clear();
	err = chan_check_io(ch, timeout_ms);
	if (err)
		return err;
	n = ch->tp->peek_size(ch, info ? info : &none, timeout_ms);
	if (n < 0)
		return chan_timeout_err((int)n, timeout_ms);
	return n;
}

int
ipk_flush(struct ipk_chan *ch, int timeout_ms)
{
	int err;

	errdetail_clear();
	err = chan_check_io(ch, timeout_ms);
	if (err)
		return err;
	if (ch->tp->flush == NULL)
		return 0;
	return chan_timeout_err(ch->tp->flush(ch, timeout_ms), timeout_ms);
}

int
ipk_pollfd(struct ipk_chan *ch)
{
	if (ch == NULL)
		return -EINVAL;
	return ch->tp->pollfd(ch);
}

size_t
ipk_max_msg(const struct ipk_chan *ch)
{
	if (ch == NULL || ch->role == CHAN_LISTENER)
		return 0;
	return ch->tp->max_msg(ch);
}

unsigned
ipk_caps(const struct ipk_chan *ch)
{
	if (ch == NULL)
		return 0;
	return ch->tp->caps |
	       (ch->role == CHAN_LISTENER ? IPK_CAP_LISTENER : 0);
}

const char *
ipk_address(const struct ipk_chan *ch)
{
	return ch ? ch->address : NULL;
}

int
ipk_inherit(struct ipk_chan *ch, char *addr, size_t cap)
{
	errdetail_clear();
	if (ch == NULL || addr == NULL || cap == 0)
		return -EINVAL;
	if (ch->tp->inherit == NULL)
		return errdetail(-ENOTSUP,
		                 "%s: a %s channel cannot be passed through "
		                 "exec(); open its address in the new program",
		                 ch->address, ch->tp->scheme);
	return ch->tp->inherit(ch, addr, cap);
}

int
ipk_close(struct ipk_chan *ch)
{
	int err = 0;

	if (ch == NULL)
		return 0;
	/* Held IPK_MORE messages get a short, bounded chance to leave. */
	if (ch->role != CHAN_LISTENER && ch->tp->flush)
		err = ch->tp->flush(ch, 1000);
	ch->tp->close(ch);
	chan_free(ch);
	return err;
}

int
ipk_unlink(const char *address)
{
	struct ipk_addr *a;
	int err;

	errdetail_clear();
	a = malloc(sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	err = addr_parse(a, address);
	if (err == 0 && a->tp->unlink == NULL)
		err = errdetail(-ENOTSUP, "%s: a %s has no name to remove",
		                address, a->scheme);
	if (err == 0)
		err = a->tp->unlink(a);
	free(a);
	return err;
}

int
ipk_addr_caps(const char *address, unsigned *caps)
{
	struct ipk_addr *a;
	int err;

	errdetail_clear();
	if (caps == NULL)
		return -EINVAL;
	*caps = 0;
	a = malloc(sizeof(*a));
	if (a == NULL)
		return -ENOMEM;
	err = addr_parse(a, address);
	if (err == 0)
		*caps = a->tp->caps;
	free(a);
	return err;
}

int
ipk_list(ipk_list_fn *fn, void *arg)
{
	int err;

	if (fn == NULL)
		return -EINVAL;
	for (const struct ipk_transport *const *t = transports; *t; t++) {
		if ((*t)->list == NULL)
			continue;
		err = (*t)->list(fn, arg);
		if (err)
			return err;
	}
	return 0;
}
