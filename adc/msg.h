// SPDX-License-Identifier: MIT
/* msg.h - ADC messages: parse one line into its header and parameters
 * (unescaped in place), and build lines with escaping.  No I/O. */
#ifndef ADC_MSG_H
#define ADC_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADC_MAX_PARAMS 64 /* parameters one message may carry */
#define ADC_SID_LEN    4  /* base32 characters of a SID */
#define ADC_SID_NONE   UINT32_MAX

/* Why a line is not a valid message. */
enum adc_err {
	ADC_OK = 0,
	ADC_EEMPTY = -1,   /* empty line (a keep-alive: ignore it) */
	ADC_EUTF8 = -2,    /* invalid UTF-8 or a NUL byte */
	ADC_EESCAPE = -3,  /* an escape other than \s \n \\ */
	ADC_EHEADER = -4,  /* bad FOURCC, SID or feature list */
	ADC_ESYNTAX = -5,  /* empty parameter or double space */
	ADC_ETOOMANY = -6, /* more than ADC_MAX_PARAMS parameters */
};

struct adc_param {
	char *s;    /* unescaped, NUL-terminated, inside the parsed line */
	size_t len; /* bytes, without the NUL */
};

struct adc_msg {
	char type;            /* B C D E F H I U */
	char cmd[4];          /* "INF", NUL-terminated */
	uint32_t src;         /* B D E F: my_sid; else ADC_SID_NONE */
	uint32_t dst;         /* D E: target_sid; else ADC_SID_NONE */
	const char *features; /* F: "+TCP4-NAT0" (inside the line) */
	const char *cid;      /* U: my_cid (inside the line) */
	unsigned n;           /* parameters after the header */
	struct adc_param p[ADC_MAX_PARAMS];
	/* Where the header ends in the original line: for relaying a
	 * message unchanged, the line is forwarded as it came. */
	size_t header_len;
};

/* adc_strerror - a short reason for an adc_err. */
const char *adc_strerror(int err);

/*
 * adc_parse - parse one line (without its '\n'; len bytes, need not be
 * NUL-terminated but line[len] must be writable) into *m.  The line is
 * modified: separators become NULs and escapes are undone in place, so *m
 * points into it.  Validates UTF-8, escapes, the header for its type, and
 * the parameter syntax.  Returns ADC_OK or an adc_err.
 */
int adc_parse(struct adc_msg *m, char *line, size_t len);

/* adc_utf8_valid - RFC 3629 UTF-8 (no overlongs, surrogates or code
 * points above U+10FFFF) without NUL bytes. */
bool adc_utf8_valid(const char *s, size_t len);

/*
 * adc_named - the first named parameter "XXvalue" at index >= *from with
 * name XX; its value (after the two letters) or NULL.  *from, if not NULL,
 * is set past it so repeated fields (AN, EX, SU...) can be walked.
 */
const char *adc_named(const struct adc_msg *m, const char name[2],
                      unsigned *from);

/* adc_sid_encode - 20-bit SID as 4 base32 characters + NUL. */
void adc_sid_encode(uint32_t sid, char out[ADC_SID_LEN + 1]);

/* adc_sid_decode - 0 and *sid, or -1 if s is not 4 base32 characters. */
int adc_sid_decode(const char *s, uint32_t *sid);

/* adc_features_match - whether a feature list "+TCP4-NAT0" is satisfied by
 * a comma-separated SU field "TCP4,UDP4,ADC0". */
bool adc_features_match(const char *features, const char *su);

/* adc_su_has - whether the SU field su lists feature (4 characters). */
bool adc_su_has(const char *su, const char *feature);

/*
 * A line builder over a caller's buffer: append pieces, escaping parameter
 * values; `overflow` sticks once the buffer is too small, so the caller
 * checks once at the end.
 */
struct adc_buf {
	char *p;
	size_t len, cap;
	bool overflow;
};

void adc_buf_init(struct adc_buf *b, char *mem, size_t cap);
/* The header: "TCMD", then " SSSS" for B D E F, " DDDD" for D E. */
void adc_buf_header(struct adc_buf *b, char type, const char *cmd, uint32_t src,
                    uint32_t dst);
/* Raw text, not escaped (a header part, an already-escaped piece). */
void adc_buf_raw(struct adc_buf *b, const char *s, size_t n);
/* " " + escaped value. */
void adc_buf_param(struct adc_buf *b, const char *value);
/* " " + name + escaped value (name is two characters). */
void adc_buf_named(struct adc_buf *b, const char *name, const char *value);
/* " " + name + decimal. */
void adc_buf_named_int(struct adc_buf *b, const char *name, long long v);
/* "\n"; returns the line length, or -1 on overflow. */
long adc_buf_end(struct adc_buf *b);

/* adc_escape - escape value into out (NUL-terminated); its length, or -1
 * if cap is too small. */
long adc_escape(const char *value, size_t n, char *out, size_t cap);

#endif
