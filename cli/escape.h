// SPDX-License-Identifier: MIT
/* escape.h - message bytes as text a terminal or a JSON parser can take:
 * C-style escapes for the non-printable, JSON strings, XML text, base64. */
#ifndef CLI_ESCAPE_H
#define CLI_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * escape_text - write p[0..n) on one line: printable ASCII and valid,
 * printable UTF-8 as they are; backslash as \\, newline \n, CR \r, tab \t,
 * and every other byte (controls, DEL, C1 controls, invalid UTF-8) as \xHH.
 */
void escape_text(FILE *f, const void *p, size_t n);

/* escape_is_utf8 - is p[0..n) valid UTF-8 (no overlongs, no surrogates)? */
bool escape_is_utf8(const void *p, size_t n);

/* escape_json - p[0..n), valid UTF-8, as a quoted JSON string. */
void escape_json(FILE *f, const void *p, size_t n);

/*
 * escape_xml - the string s as XML character data or an attribute value:
 * & < > " ' as entities; bytes XML 1.0 cannot hold (controls other than
 * tab and newline, invalid UTF-8) as U+FFFD.
 */
void escape_xml(FILE *f, const char *s);

/* escape_base64 - p[0..n) in base64 (RFC 4648, padded), unquoted. */
void escape_base64(FILE *f, const void *p, size_t n);

#endif
