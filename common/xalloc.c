// SPDX-License-Identifier: MIT
/* xalloc.c - allocators that exit(1) with one line when memory runs out. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xalloc.h"

static void __attribute__((noreturn)) xalloc_die(size_t n)
{
	char msg[80];
	int len = snprintf(msg, sizeof(msg),
	                   "ipckit: out of memory (%zu bytes)\n", n);

	if (len > 0 && write(STDERR_FILENO, msg, (size_t)len) < 0) {
		/* exiting anyway */
	}
	_exit(1);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		xalloc_die(n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		xalloc_die(nmemb * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		xalloc_die(n);
	return q;
}

void *
xreallocarray(void *p, size_t nmemb, size_t size)
{
	void *q = reallocarray(p, nmemb ? nmemb : 1, size ? size : 1);

	if (q == NULL)
		xalloc_die(nmemb * size);
	return q;
}

char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		xalloc_die(strlen(s) + 1);
	return d;
}

char *
xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (d == NULL)
		xalloc_die(n + 1);
	return d;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		xalloc_die(0);
	return s;
}

/* The length of xmap_zeroed(n)'s mapping. */
static size_t
xmap_len(size_t n)
{
	size_t unit =
	        n >= XMAP_HUGE ? XMAP_HUGE : (size_t)sysconf(_SC_PAGESIZE);

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - unit)
		xalloc_die(n);
	return (n + unit - 1) / unit * unit;
}

void *
xmap_zeroed(size_t n)
{
	size_t len = xmap_len(n);
	size_t extra = len >= XMAP_HUGE ? XMAP_HUGE : 0;
	char *p, *start;

	if (len > SIZE_MAX - extra)
		xalloc_die(n);
	p = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
	         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		xalloc_die(n);
	if (extra == 0)
		return p;
	/* Keep the XMAP_HUGE-aligned len bytes inside, unmap the rest. */
	start = (char *)(((uintptr_t)p + XMAP_HUGE - 1) &
	                 ~(uintptr_t)(XMAP_HUGE - 1));
	if (start > p && munmap(p, (size_t)(start - p)) != 0)
		xalloc_die(n);
	if (p + len + extra > start + len &&
	    munmap(start + len, (size_t)(p + len + extra - (start + len))) != 0)
		xalloc_die(n);
	/* Advice only: without huge pages the mapping works the same. */
	(void)madvise(start, len, MADV_HUGEPAGE);
	return start;
}

void
xmap_free(void *p, size_t n)
{
	if (p != NULL)
		(void)munmap(p, xmap_len(n));
}
