// SPDX-License-Identifier: MIT
/* msg.c - the ADC line grammar (ADC 1.0.4 "Message syntax"): parsed in
 * place, strictly, because a hub must drop what is invalid and must never
 * be confused about who a message is from or for. */
#include <stdio.h>
#include <string.h>

#include "msg.h"

static const char base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

const char *
adc_strerror(int err)
{
	switch (err) {
	case ADC_OK:
		return "ok";
	case ADC_EEMPTY:
		return "empty line";
	case ADC_EUTF8:
		return "invalid UTF-8";
	case ADC_EESCAPE:
		return "unknown escape";
	case ADC_EHEADER:
		return "malformed header";
	case ADC_ESYNTAX:
		return "malformed parameters";
	case ADC_ETOOMANY:
		return "too many parameters";
	default:
		return "invalid message";
	}
}

bool
adc_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t n;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false; /* continuation, overlong lead, > F4 */
		}
		if (len - i <= n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static bool
adc_is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
adc_is_upper_or_digit(char c)
{
	return adc_is_upper(c) || (c >= '0' && c <= '9');
}

static bool
adc_is_base32(char c)
{
	return adc_is_upper(c) || (c >= '2' && c <= '7');
}

void
adc_sid_encode(uint32_t sid, char out[ADC_SID_LEN + 1])
{
	for (int i = ADC_SID_LEN - 1; i >= 0; i--) {
		out[i] = base32_alphabet[sid & 31];
		sid >>= 5;
	}
	out[ADC_SID_LEN] = '\0';
}

int
adc_sid_decode(const char *s, uint32_t *sid)
{
	uint32_t v = 0;

	for (int i = 0; i < ADC_SID_LEN; i++) {
		const char *pos;

		if (!adc_is_base32(s[i]))
			return -1;
		pos = strchr(base32_alphabet, s[i]);
		v = (v << 5) | (uint32_t)(pos - base32_alphabet);
	}
	*sid = v;
	return 0;
}

/* Undo \s \n \\ in place; -1 for any other escape or a lone trailing '\'. */
static long
adc_unescape(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\') {
			s[o++] = s[i];
			continue;
		}
		if (++i == n)
			return -1;
		switch (s[i]) {
		case 's':
			s[o++] = ' ';
			break;
		case 'n':
			s[o++] = '\n';
			break;
		case '\\':
			s[o++] = '\\';
			break;
		default:
			return -1;
		}
	}
	s[o] = '\0';
	return (long)o;
}

/* The next space-separated token at *pos; NULL at the end.  An empty token
 * (two spaces, or a trailing space) is reported through *empty. */
static char *
adc_token(char *line, size_t len, size_t *pos, size_t *tlen, bool *empty)
{
	size_t start = *pos, end;

	if (start > len)
		return NULL;
	end = start;
	while (end < len && line[end] != ' ')
		end++;
	*tlen = end - start;
	*empty = *tlen == 0;
	line[end] = '\0';
	*pos = end + 1;
	return line + start;
}

static int
adc_check_features(const char *f, size_t n)
{
	if (n == 0 || n % 5 != 0)
		return -1;
	for (size_t i = 0; i < n; i += 5) {
		if (f[i] != '+' && f[i] != '-')
			return -1;
		if (!adc_is_upper(f[i + 1]) ||
		    !adc_is_upper_or_digit(f[i + 2]) ||
		    !adc_is_upper_or_digit(f[i + 3]) ||
		    !adc_is_upper_or_digit(f[i + 4]))
			return -1;
	}
	return 0;
}

int
adc_parse(struct adc_msg *m, char *line, size_t len)
{
	size_t pos = 0, tlen;
	bool empty;
	char *tok;

	memset(m, 0, sizeof(*m));
	m->src = m->dst = ADC_SID_NONE;
	line[len] = '\0';
	if (len == 0)
		return ADC_EEMPTY;
	if (!adc_utf8_valid(line, len))
		return ADC_EUTF8;

	tok = adc_token(line, len, &pos, &tlen, &empty);
	if (tlen != 4 || !strchr("BCDEFHIU", tok[0]) || !adc_is_upper(tok[1]) ||
	    !adc_is_upper_or_digit(tok[2]) || !adc_is_upper_or_digit(tok[3]))
		return ADC_EHEADER;
	m->type = tok[0];
	memcpy(m->cmd, tok + 1, 3);
	m->cmd[3] = '\0';

	if (strchr("BDEF", m->type)) {
		tok = adc_token(line, len, &pos, &tlen, &empty);
		if (tok == NULL || tlen != ADC_SID_LEN ||
		    adc_sid_decode(tok, &m->src) != 0)
			return ADC_EHEADER;
	}
	if (strchr("DE", m->type)) {
		tok = adc_token(line, len, &pos, &tlen, &empty);
		if (tok == NULL || tlen != ADC_SID_LEN ||
		    adc_sid_decode(tok, &m->dst) != 0)
			return ADC_EHEADER;
	}
	if (m->type == 'F') {
		tok = adc_token(line, len, &pos, &tlen, &empty);
		if (tok == NULL || adc_check_features(tok, tlen) != 0)
			return ADC_EHEADER;
		m->features = tok;
	}
	if (m->type == 'U') {
		tok = adc_token(line, len, &pos, &tlen, &empty);
		if (tok == NULL || tlen == 0)
			return ADC_EHEADER;
		for (size_t i = 0; i < tlen; i++)
			if (!adc_is_base32(tok[i]))
				return ADC_EHEADER;
		m->cid = tok;
	}
	m->header_len = pos > len ? len : pos - 1;

	while ((tok = adc_token(line, len, &pos, &tlen, &empty)) != NULL) {
		long n;

		if (empty)
			return ADC_ESYNTAX;
		if (m->n == ADC_MAX_PARAMS)
			return ADC_ETOOMANY;
		n = adc_unescape(tok, tlen);
		if (n < 0)
			return ADC_EESCAPE;
		m->p[m->n].s = tok;
		m->p[m->n].len = (size_t)n;
		m->n++;
	}
	return ADC_OK;
}

const char *
adc_named(const struct adc_msg *m, const char name[2], unsigned *from)
{
	for (unsigned i = from ? *from : 0; i < m->n; i++) {
		const struct adc_param *p = &m->p[i];

		if (p->len >= 2 && p->s[0] == name[0] && p->s[1] == name[1]) {
			if (from)
				*from = i + 1;
			return p->s + 2;
		}
	}
	if (from)
		*from = m->n;
	return NULL;
}

bool
adc_su_has(const char *su, const char *feature)
{
	size_t fl = strlen(feature);

	while (su && *su) {
		const char *comma = strchr(su, ',');
		size_t n = comma ? (size_t)(comma - su) : strlen(su);

		if (n == fl && memcmp(su, feature, n) == 0)
			return true;
		su = comma ? comma + 1 : NULL;
	}
	return false;
}

bool
adc_features_match(const char *features, const char *su)
{
	for (const char *f = features; f && *f; f += 5) {
		char name[5];

		if (strlen(f) < 5)
			return false;
		memcpy(name, f + 1, 4);
		name[4] = '\0';
		if ((f[0] == '+') != adc_su_has(su, name))
			return false;
	}
	return true;
}

long
adc_escape(const char *value, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		const char *rep = NULL;

		switch (value[i]) {
		case ' ':
			rep = "\\s";
			break;
		case '\n':
			rep = "\\n";
			break;
		case '\\':
			rep = "\\\\";
			break;
		default:
			break;
		}
		if (o + (rep ? 2 : 1) >= cap)
			return -1;
		if (rep) {
			out[o++] = rep[0];
			out[o++] = rep[1];
		} else {
			out[o++] = value[i];
		}
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return (long)o;
}

void
adc_buf_init(struct adc_buf *b, char *mem, size_t cap)
{
	b->p = mem;
	b->len = 0;
	b->cap = cap;
	b->overflow = cap == 0;
}

void
adc_buf_raw(struct adc_buf *b, const char *s, size_t n)
{
	if (b->overflow || b->cap - b->len < n + 1) {
		b->overflow = true;
		return;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
adc_buf_header(struct adc_buf *b, char type, const char *cmd, uint32_t src,
               uint32_t dst)
{
	char sid[ADC_SID_LEN + 1];

	adc_buf_raw(b, &type, 1);
	adc_buf_raw(b, cmd, 3);
	if (src != ADC_SID_NONE) {
		adc_sid_encode(src, sid);
		adc_buf_raw(b, " ", 1);
		adc_buf_raw(b, sid, ADC_SID_LEN);
	}
	if (dst != ADC_SID_NONE) {
		adc_sid_encode(dst, sid);
		adc_buf_raw(b, " ", 1);
		adc_buf_raw(b, sid, ADC_SID_LEN);
	}
}

static void
adc_buf_escaped(struct adc_buf *b, const char *value)
{
	long n;

	if (b->overflow)
		return;
	n = adc_escape(value, strlen(value), b->p + b->len, b->cap - b->len);
	if (n < 0)
		b->overflow = true;
	else
		b->len += (size_t)n;
}

void
adc_buf_param(struct adc_buf *b, const char *value)
{
	adc_buf_raw(b, " ", 1);
	adc_buf_escaped(b, value);
}

void
adc_buf_named(struct adc_buf *b, const char *name, const char *value)
{
	adc_buf_raw(b, " ", 1);
	adc_buf_raw(b, name, 2);
	adc_buf_escaped(b, value);
}

void
adc_buf_named_int(struct adc_buf *b, const char *name, long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	adc_buf_named(b, name, num);
}

long
adc_buf_end(struct adc_buf *b)
{
	adc_buf_raw(b, "\n", 1);
	return b->overflow ? -1 : (long)b->len;
}
