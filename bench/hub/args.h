// SPDX-License-Identifier: MIT
/* args.h - option values of bench/hub/hubload and bench/hub/fanout, read
 * whole and range-checked: a bad one ends the program with a line naming
 * the option and exit status 2 (atoi() would have read "1k" as 1 and
 * "x" as 0). */
#ifndef BENCH_HUB_ARGS_H
#define BENCH_HUB_ARGS_H

#include <stdint.h>

/* args_u32 - s as a decimal integer in min..max. */
uint32_t args_u32(const char *prog, const char *opt, const char *s,
                  uint32_t min, uint32_t max);
/* args_num - s as a finite number in min..max. */
double args_num(const char *prog, const char *opt, const char *s, double min,
                double max);

#endif
