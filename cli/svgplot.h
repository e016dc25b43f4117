// SPDX-License-Identifier: MIT
/* svgplot.h - a chart of a few series over a log-scale x axis, in two
 * panels side by side with log-scale y axes, written as a standalone SVG
 * file with no dependencies (`ipckit bench --plot`).  Each series is one
 * <g class="series" data-KEY="NAME"> holding its lines and points in both
 * panels, so a program can find it as easily as a person can. */
#ifndef CLI_SVGPLOT_H
#define CLI_SVGPLOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SVGPLOT_PANELS 2

struct svgplot_panel {
	const char *title;  /* "Latency (lower is better)" */
	const char *y_axis; /* "one-way p50, µs (log scale)" */
	const char *unit;   /* in point tooltips: "µs" */
};

struct svgplot_series {
	const char *name; /* legend and the data-KEY attribute */
	const char *note; /* after the name in the legend, or NULL */
	bool dashed;      /* a dashed line: figures to read with care */
	/* Per panel, n_x values; NAN (or <= 0: not on a log scale) leaves a
	 * gap.  Borrowed. */
	const double *y[SVGPLOT_PANELS];
};

struct svgplot {
	const char *title;    /* first line */
	const char *subtitle; /* second line: machine, date; may be NULL */
	const char *x_axis;   /* "message size (log scale)" */
	const char *key;      /* series attribute: data-KEY="name" */
	const double *x;      /* n_x ascending values > 0; borrowed */
	const char *const *x_labels; /* a tick label per x; borrowed */
	size_t n_x;
	struct svgplot_panel panel[SVGPLOT_PANELS];
	const struct svgplot_series *series; /* n_series; borrowed */
	size_t n_series;
	const char *footer; /* a last line under the legend, or NULL */
};

/*
 * svgplot_write - the chart as an SVG document on f.  Every string is
 * XML-escaped.  Returns 0, or -EINVAL when n_x is 0 or an x is not > 0;
 * write errors are f's (check ferror()).
 */
int svgplot_write(FILE *f, const struct svgplot *p);

#endif
