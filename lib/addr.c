// SPDX-License-Identifier: MIT
/* addr.c - parse "scheme:rest?key=val&key=val" once, bounded and strict:
 * every byte is checked, every option must be read by its transport. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "transport.h"

static int
addr_decode_pct(char *dst, size_t cap, const char *src, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '%') {
			char hex[3];
			char *end;

			if (i + 2 >= len)
				return -1;
			hex[0] = src[i + 1];
			hex[1] = src[i + 2];
			hex[2] = '\0';
			if (!isxdigit((unsigned char)hex[0]) ||
			    !isxdigit((unsigned char)hex[1]))
				return -1;
			c = (unsigned char)strtoul(hex, &end, 16);
			if (c == 0)
				return -1;
			i += 2;
		} else if (c < 0x20 || c == 0x7f) {
			return -1;
		}
		if (o + 1 >= cap)
			return -1;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return 0;
}

static int
addr_parse_opts(struct ipk_addr *a, const char *q, const char *text)
{
	while (*q) {
		const char *amp = strchr(q, '&');
		size_t len = amp ? (size_t)(amp - q) : strlen(q);
		const char *eq = memchr(q, '=', len);
		struct addr_opt *o;
		size_t klen;

		if (len == 0) {
			q += amp ? 1 : 0;
			if (!amp)
				break;
			continue;
		}
		if (a->n_opts == ADDR_OPTS_MAX)
			return errdetail(IPK_EOPTION,
			                 "%s: more than %d options", text,
			                 ADDR_OPTS_MAX);
		o = &a->opts[a->n_opts];
		klen = eq ? (size_t)(eq - q) : len;
		if (klen == 0 || klen >= sizeof(o->key))
			return errdetail(IPK_EOPTION,
			                 "%s: option name of %zu bytes", text,
			                 klen);
		for (size_t i = 0; i < klen; i++)
			if (!isalnum((unsigned char)q[i]) && q[i] != '_' &&
			    q[i] != '-')
				return errdetail(IPK_EOPTION,
				                 "%s: bad character in option "
				                 "name '%.*s'",
				                 text, (int)klen, q);
		memcpy(o->key, q, klen);
		o->key[klen] = '\0';
		for (unsigned i = 0; i < a->n_opts; i++)
			if (strcmp(a->opts[i].key, o->key) == 0)
				return errdetail(IPK_EOPTION,
				                 "%s: option '%s' given twice",
				                 text, o->key);
		if (eq) {
			if (addr_decode_pct(o->val, sizeof(o->val), eq + 1,
			                    len - klen - 1) != 0)
				return errdetail(IPK_EOPTION,
				                 "%s: bad value for option "
				                 "'%s'",
				                 text, o->key);
		} else {
			strcpy(o->val, "1"); /* "?sync" means "?sync=1" */
		}
		a->n_opts++;
		if (!amp)
			break;
		q = amp + 1;
	}
	return 0;
}

int
addr_parse(struct ipk_addr *a, const char *text)
{
	const char *colon, *qmark;
	size_t slen, tlen, rlen;
	uint64_t mode;
	int err;

	memset(a, 0, sizeof(*a));
	a->mode = 0600;
	if (text == NULL)
		return errdetail(IPK_EADDR, "no address");
	tlen = strnlen(text, ADDR_MAX + 1);
	if (tlen > ADDR_MAX)
		return errdetail(IPK_EADDR, "address longer than %d bytes",
		                 ADDR_MAX);
	colon = strchr(text, ':');
	if (colon == NULL)
		return errdetail(IPK_EADDR,
		                 "%s: no scheme (expected scheme:rest, such "
		                 "as fifo:/tmp/q)",
		                 text);
	slen = (size_t)(colon - text);
	if (slen == 0 || slen >= sizeof(a->scheme))
		return errdetail(IPK_EADDR, "%s: bad scheme", text);
	for (size_t i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)text[i];

		if (!islower(c) && !isdigit(c) && c != '+' && c != '-')
			return errdetail(IPK_EADDR, "%s: bad scheme", text);
	}
	memcpy(a->scheme, text, slen);
	a->scheme[slen] = '\0';
	a->tp = transport_find(a->scheme, slen);
	if (a->tp == NULL)
		return errdetail(IPK_ESCHEME, "%s: unknown scheme '%s'", text,
		                 a->scheme);

	qmark = strchr(colon + 1, '?');
	rlen = qmark ? (size_t)(qmark - colon - 1) : strlen(colon + 1);
	for (size_t i = 0; i < rlen; i++) {
		unsigned char c = (unsigned char)colon[1 + i];

		if (c < 0x20 || c == 0x7f)
			return errdetail(IPK_EADDR,
			                 "%s: control character in address",
			                 a->scheme);
	}
	memcpy(a->rest, colon + 1, rlen);
	a->rest[rlen] = '\0';
	if (qmark) {
		err = addr_parse_opts(a, qmark + 1, text);
		if (err)
			return err;
	}
	for (unsigned i = 0; i < a->n_opts; i++) {
		const char *const *known = a->tp->options;
		bool ok = strcmp(a->opts[i].key, "mode") == 0;

		for (; !ok && known && *known; known++)
			ok = strcmp(*known, a->opts[i].key) == 0;
		if (!ok)
			return errdetail(IPK_EOPTION,
			                 "%s: unknown option '%s' for %s", text,
			                 a->opts[i].key, a->scheme);
	}
	if (addr_opt_str(a, "mode")) {
		const char *v = addr_opt_str(a, "mode");
		char *end;

		errno = 0;
		mode = strtoull(v, &end, 8);
		if (errno || end == v || *end || mode > 0777)
			return errdetail(IPK_EOPTION,
			                 "%s: mode must be octal 0..0777",
			                 text);
		if (mode & 0002)
			return errdetail(
			        IPK_EOPTION,
			        "%s: mode %04o is writable by anyone; "
			        "ipckit refuses world-writable objects",
			        text, (unsigned)mode);
		if ((mode & 0600) != 0600)
			return errdetail(
			        IPK_EOPTION,
			        "%s: mode %04o leaves the owner without "
			        "read and write",
			        text, (unsigned)mode);
		a->mode = (mode_t)mode;
	}
	return 0;
}

static struct addr_opt *
addr_find(struct ipk_addr *a, const char *key)
{
	for (unsigned i = 0; i < a->n_opts; i++)
		if (strcmp(a->opts[i].key, key) == 0)
			return &a->opts[i];
	return NULL;
}

const char *
addr_opt_str(struct ipk_addr *a, const char *key)
{
	struct addr_opt *o = addr_find(a, key);

	if (o == NULL)
		return NULL;
	o->used = true;
	return o->val;
}

int
addr_opt_u64(struct ipk_addr *a, const char *key, uint64_t min, uint64_t max,
             uint64_t dflt, bool suffixes, uint64_t *out)
{
	const char *v = addr_opt_str(a, key);
	unsigned long long n;
	char *end;

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (!isdigit((unsigned char)v[0]))
		goto bad;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno)
		goto bad;
	if (suffixes && *end) {
		unsigned shift = 0;

		switch (*end) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		default:
			goto bad;
		}
		end++;
		if (*end == 'i' || *end == 'B')
			end += *end == 'i' && end[1] == 'B' ? 2 : 1;
		if (n > (UINT64_MAX >> shift))
			goto range;
		n <<= shift;
	}
	if (*end)
		goto bad;
	if (n < min || n > max)
		goto range;
	*out = n;
	return 0;
bad:
	return errdetail(IPK_EOPTION, "%s: option %s=%s is not a number",
	                 a->scheme, key, v);
range:
	return errdetail(IPK_EOPTION, "%s: option %s=%s is outside %llu..%llu",
	                 a->scheme, key, v, (unsigned long long)min,
	                 (unsigned long long)max);
}

int
addr_opt_bool(struct ipk_addr *a, const char *key, bool dflt, bool *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };
	const char *v = addr_opt_str(a, key);

	*out = dflt;
	if (v == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return errdetail(IPK_EOPTION, "%s: option %s=%s is not a boolean",
	                 a->scheme, key, v);
}

int
addr_check_unused(const struct ipk_addr *a)
{
	for (unsigned i = 0; i < a->n_opts; i++)
		if (!a->opts[i].used)
			return errdetail(IPK_EOPTION,
			                 "%s: option '%s' does not apply here",
			                 a->scheme, a->opts[i].key);
	return 0;
}

int
addr_split_hostport(struct ipk_addr *a, bool listening)
{
	const char *r = a->rest, *portstr;
	size_t hlen;
	unsigned long port;
	char *end;

	if (r[0] == '[') {
		const char *close = strchr(r, ']');

		if (close == NULL || close[1] != ':')
			return errdetail(IPK_EADDR,
			                 "%s:%s: expected [ipv6]:port",
			                 a->scheme, r);
		hlen = (size_t)(close - r - 1);
		if (hlen == 0 || hlen >= sizeof(a->host))
			return errdetail(IPK_EADDR, "%s:%s: bad host",
			                 a->scheme, r);
		memcpy(a->host, r + 1, hlen);
		a->host[hlen] = '\0';
		portstr = close + 2;
	} else {
		const char *colon = strrchr(r, ':');

		if (colon == NULL)
			return errdetail(IPK_EADDR, "%s:%s: expected host:port",
			                 a->scheme, r);
		hlen = (size_t)(colon - r);
		if (hlen >= sizeof(a->host))
			return errdetail(IPK_EADDR, "%s:%s: host too long",
			                 a->scheme, r);
		if (memchr(r, ':', hlen))
			return errdetail(IPK_EADDR,
			                 "%s:%s: write IPv6 hosts as "
			                 "[addr]:port",
			                 a->scheme, r);
		if (hlen == 0)
			strcpy(a->host, listening ? "0.0.0.0" : "127.0.0.1");
		else {
			memcpy(a->host, r, hlen);
			a->host[hlen] = '\0';
		}
		portstr = colon + 1;
	}
	if (!isdigit((unsigned char)portstr[0]))
		return errdetail(IPK_EADDR, "%s:%s: port must be a number",
		                 a->scheme, r);
	errno = 0;
	port = strtoul(portstr, &end, 10);
	if (errno || *end || port > 65535)
		return errdetail(IPK_EADDR, "%s:%s: port must be 0..65535",
		                 a->scheme, r);
	if (port == 0 && !listening)
		return errdetail(IPK_EADDR, "%s:%s: cannot connect to port 0",
		                 a->scheme, r);
	a->port = (uint16_t)port;
	return 0;
}
