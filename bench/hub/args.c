// SPDX-License-Identifier: MIT
/* args.c - option values read whole and range-checked (args.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "args.h"

static void __attribute__((noreturn))
args_bad(const char *prog, const char *opt, const char *s, double min,
         double max)
{
	fprintf(stderr, "%s: --%s '%s': want a number in %.15g..%.15g\n", prog,
	        opt, s, min, max);
	exit(2);
}

uint32_t
args_u32(const char *prog, const char *opt, const char *s, uint32_t min,
         uint32_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
	    v > max)
		args_bad(prog, opt, s, min, max);
	return (uint32_t)v;
}

double
args_num(const char *prog, const char *opt, const char *s, double min,
         double max)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < min ||
	    v > max)
		args_bad(prog, opt, s, min, max);
	return v;
}
