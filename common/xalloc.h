// SPDX-License-Identifier: MIT
/* xalloc.h - allocation that ends the program on exhaustion.  Programs
 * only: libipckit returns -ENOMEM instead. */
#ifndef COMMON_XALLOC_H
#define COMMON_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* xreallocarray - realloc for nmemb * size, refusing overflow. */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xmap_zeroed - n zeroed bytes in an anonymous private mapping of their
 * own.  A fresh mapping costs no clearing, and one of XMAP_HUGE or more is
 * aligned to XMAP_HUGE and asks for transparent huge pages (the kernel may
 * decline), so first touching it is a fault or two instead of hundreds.
 * Free with xmap_free(p, n), n as given here. */
#define XMAP_HUGE ((size_t)2 << 20)
void *xmap_zeroed(size_t n);
void xmap_free(void *p, size_t n);
/* xasprintf - a new formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
