// SPDX-License-Identifier: MIT
/* svgplot.c - two log-log panels, one group per series, a legend: plain
 * SVG 1.1 that browsers, image viewers and XML parsers all take. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "escape.h"
#include "svgplot.h"

/* Geometry, in SVG user units (pixels at 100 %). */
#define SVG_W        1000
#define SVG_TOP      96  /* top of the plot areas */
#define SVG_PLOT_H   300 /* height of a plot area */
#define SVG_PLOT_W   380 /* width of a plot area */
#define SVG_LEGEND_Y 476 /* first legend row */
#define SVG_LEGEND_W 180 /* one legend entry */
#define SVG_PER_ROW  5   /* legend entries per row */
#define SVG_ROW_H    22

static const double svg_left[SVGPLOT_PANELS] = { 80, 580 };

/* Tableau 10: told apart by most colour-blind readers too; past ten the
 * colours repeat with dashes. */
static const char *const svg_colors[] = {
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
	"#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#7f7f7f",
};
#define SVG_N_COLORS (sizeof(svg_colors) / sizeof(svg_colors[0]))

/* A y axis: whole decades from 10^lo to 10^hi. */
struct svg_scale {
	int lo, hi;
	bool empty; /* no value to show */
};

static bool
svg_valid(double v)
{
	return isfinite(v) && v > 0;
}

/*
 * The logarithms and powers of ten a log scale needs, without libm:
 * ipckit starts for every command and libm.so alone added half a
 * millisecond to that (docs/ratings.md), for a chart that needs pixels,
 * not ulps.  frexp() is in libc.
 */

/* 10^k, exact for 0 <= k <= 22; 0 or infinity far outside a double. */
static double
svg_pow10(int k)
{
	double p = 1;

	for (int i = 0; i < (k < 0 ? -k : k) && p < INFINITY; i++)
		p *= 10;
	return k < 0 ? 1 / p : p;
}

/* log10(v) for v > 0, finite: v = m 2^e with m in [0.5, 1), and
 * ln m = 2 atanh(z), z = (m - 1) / (m + 1) in (-1/3, 0], whose series'
 * terms fall by z^2 <= 1/9 each: 20 of them leave less than 1e-19. */
static double
svg_log10(double v)
{
	static const double ln2 = 0.693147180559945309417,
	                    ln10 = 2.30258509299404568402;
	int e;
	double m = frexp(v, &e), z = (m - 1) / (m + 1), z2 = z * z;
	double term = z, sum = 0;

	for (int i = 1; i < 40; i += 2) {
		sum += term / i;
		term *= z2;
	}
	return (2 * sum + e * ln2) / ln10;
}

/* The decade of v > 0: the k with 10^k <= v < 10^(k+1), found by
 * comparing with exact powers so that 1000 is 3, never 2.99999. */
static int
svg_decade(double v)
{
	int k = (int)svg_log10(v);

	while (k > -330 && svg_pow10(k) > v)
		k--;
	while (k < 310 && svg_pow10(k + 1) <= v)
		k++;
	return k;
}

static void
svg_scale_fit(struct svg_scale *sc, const struct svgplot *p, int panel)
{
	double min = INFINITY, max = 0;

	for (size_t s = 0; s < p->n_series; s++) {
		const double *y = p->series[s].y[panel];

		for (size_t i = 0; y && i < p->n_x; i++) {
			if (!svg_valid(y[i]))
				continue;
			min = y[i] < min ? y[i] : min;
			max = y[i] > max ? y[i] : max;
		}
	}
	sc->empty = max == 0;
	if (sc->empty) {
		sc->lo = 0;
		sc->hi = 1;
		return;
	}
	sc->lo = svg_decade(min);
	sc->hi = svg_decade(max);
	if (svg_pow10(sc->hi) < max)
		sc->hi++; /* ceil */
	if (sc->hi <= sc->lo)
		sc->hi = sc->lo + 1;
}

static double
svg_y(const struct svg_scale *sc, double v)
{
	double f = (svg_log10(v) - sc->lo) / (sc->hi - sc->lo);

	return SVG_TOP + SVG_PLOT_H * (1 - f);
}

static double
svg_x(const struct svgplot *p, int panel, size_t i)
{
	double l0, l1, f;

	if (p->n_x == 1)
		return svg_left[panel] + SVG_PLOT_W / 2.0;
	l0 = svg_log10(p->x[0]);
	l1 = svg_log10(p->x[p->n_x - 1]);
	f = (svg_log10(p->x[i]) - l0) / (l1 - l0);
	/* 6 % inside the frame at both ends: points never sit on it. */
	return svg_left[panel] + SVG_PLOT_W * (0.06 + 0.88 * f);
}

/* "0.01", "1", "100", "10k", "1M", "1G" for 10^k. */
static void
svg_decade_label(int k, char *buf, size_t cap)
{
	static const char *const suffix[] = { "", "k", "M", "G", "T", "P" };

	if (k < 0)
		snprintf(buf, cap, "%.*f", -k, svg_pow10(k));
	else if (k / 3 < (int)(sizeof(suffix) / sizeof(suffix[0])))
		snprintf(buf, cap, "%.0f%s", svg_pow10(k % 3), suffix[k / 3]);
	else
		snprintf(buf, cap, "1e%d", k);
}

static void
svg_text(FILE *f, double x, double y, const char *attrs, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\"%s%s>", x, y,
	        attrs[0] ? " " : "", attrs);
	escape_xml(f, s);
	fputs("</text>\n", f);
}

static void
svg_panel(FILE *f, const struct svgplot *p, int panel,
          const struct svg_scale *sc)
{
	const struct svgplot_panel *pn = &p->panel[panel];
	double x0 = svg_left[panel], x1 = x0 + SVG_PLOT_W;
	double y0 = SVG_TOP, y1 = SVG_TOP + SVG_PLOT_H;
	char label[32];

	fprintf(f, "<g class=\"panel\" data-panel=\"%d\">\n", panel);
	svg_text(f, (x0 + x1) / 2, y0 - 12,
	         "text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\"",
	         pn->title ? pn->title : "");
	/* Grid: decades solid, 2..9 of each decade faint. */
	fputs("<g class=\"grid\" stroke=\"#ddd\" stroke-width=\"1\">\n", f);
	for (int k = sc->lo; k <= sc->hi; k++) {
		for (int m = 1; m <= 9 && (m == 1 || k < sc->hi); m++) {
			double y = svg_y(sc, m * svg_pow10(k));

			fprintf(f,
			        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
			        "y2=\"%.1f\"%s/>\n",
			        x0, y, x1, y,
			        m == 1 ? "" : " stroke-opacity=\"0.45\"");
		}
	}
	for (size_t i = 0; i < p->n_x; i++)
		fprintf(f,
		        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		        "y2=\"%.1f\"/>\n",
		        svg_x(p, panel, i), y0, svg_x(p, panel, i), y1);
	fputs("</g>\n", f);
	fprintf(f,
	        "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%d\" "
	        "height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
	        x0, y0, SVG_PLOT_W, SVG_PLOT_H);
	fputs("<g class=\"ticks\" font-size=\"11\" fill=\"#333\">\n", f);
	for (int k = sc->lo; k <= sc->hi; k++) {
		svg_decade_label(k, label, sizeof(label));
		svg_text(f, x0 - 6, svg_y(sc, svg_pow10(k)) + 4,
		         "text-anchor=\"end\"", label);
	}
	for (size_t i = 0; i < p->n_x; i++)
		svg_text(f, svg_x(p, panel, i), y1 + 16,
		         "text-anchor=\"middle\"", p->x_labels[i]);
	fputs("</g>\n", f);
	svg_text(f, (x0 + x1) / 2, y1 + 38, "text-anchor=\"middle\"",
	         p->x_axis ? p->x_axis : "");
	fprintf(f,
	        "<text x=\"0\" y=\"0\" text-anchor=\"middle\" "
	        "transform=\"translate(%.1f %.1f) rotate(-90)\">",
	        x0 - 52, (y0 + y1) / 2);
	escape_xml(f, pn->y_axis ? pn->y_axis : "");
	fputs("</text>\n", f);
	if (sc->empty)
		svg_text(f, (x0 + x1) / 2, (y0 + y1) / 2,
		         "text-anchor=\"middle\" fill=\"#999\"",
		         "no figures measured");
	fputs("</g>\n", f);
}

static void
svg_style(FILE *f, const struct svgplot *p, size_t s)
{
	fprintf(f, " stroke=\"%s\" fill=\"%s\"", svg_colors[s % SVG_N_COLORS],
	        svg_colors[s % SVG_N_COLORS]);
	if (s >= SVG_N_COLORS || p->series[s].dashed)
		fprintf(f, " stroke-dasharray=\"%s\"",
		        p->series[s].dashed ? "2 3" : "6 3");
}

/* One series: a line through consecutive points (broken at gaps) and a
 * dot with a tooltip at each point, in each panel. */
static void
svg_series(FILE *f, const struct svgplot *p, size_t s,
           const struct svg_scale *sc)
{
	const struct svgplot_series *se = &p->series[s];

	fprintf(f, "<g class=\"series\" data-%s=\"",
	        p->key ? p->key : "series");
	escape_xml(f, se->name);
	fputc('"', f);
	svg_style(f, p, s);
	fputs(">\n<title>", f);
	escape_xml(f, se->name);
	fputs("</title>\n", f);
	for (int pn = 0; pn < SVGPLOT_PANELS; pn++) {
		const double *y = se->y[pn];
		bool open = false;

		for (size_t i = 0; y && i < p->n_x; i++) {
			if (!svg_valid(y[i])) {
				if (open)
					fputs("\"/>\n", f);
				open = false;
				continue;
			}
			fprintf(f, "%s%.1f,%.1f",
			        open ? " "
			             : "<polyline fill=\"none\" "
			               "stroke-width=\"2\" points=\"",
			        svg_x(p, pn, i), svg_y(&sc[pn], y[i]));
			open = true;
		}
		if (open)
			fputs("\"/>\n", f);
		for (size_t i = 0; y && i < p->n_x; i++) {
			char v[64];

			if (!svg_valid(y[i]))
				continue;
			fprintf(f,
			        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" "
			        "stroke=\"none\"><title>",
			        svg_x(p, pn, i), svg_y(&sc[pn], y[i]));
			snprintf(v, sizeof(v), ", %s: %.3g ", p->x_labels[i],
			         y[i]);
			escape_xml(f, se->name);
			escape_xml(f, v);
			escape_xml(f,
			           p->panel[pn].unit ? p->panel[pn].unit : "");
			fputs("</title></circle>\n", f);
		}
	}
	fputs("</g>\n", f);
}

static void
svg_legend(FILE *f, const struct svgplot *p)
{
	fputs("<g class=\"legend\">\n", f);
	for (size_t s = 0; s < p->n_series; s++) {
		double x =
		        svg_left[0] + (double)(s % SVG_PER_ROW) * SVG_LEGEND_W;
		double y = SVG_LEGEND_Y + (double)(s / SVG_PER_ROW) * SVG_ROW_H;

		fputs("<g", f);
		svg_style(f, p, s);
		fprintf(f,
		        "><line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		        "y2=\"%.1f\" "
		        "stroke-width=\"2\"/><circle cx=\"%.1f\" cy=\"%.1f\" "
		        "r=\"3.5\" stroke=\"none\"/></g>\n",
		        x, y - 4, x + 24, y - 4, x + 12, y - 4);
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x + 30, y);
		escape_xml(f, p->series[s].name);
		if (p->series[s].note) {
			fputs(" <tspan fill=\"#777\">(", f);
			escape_xml(f, p->series[s].note);
			fputs(")</tspan>", f);
		}
		fputs("</text>\n", f);
	}
	fputs("</g>\n", f);
}

int
svgplot_write(FILE *f, const struct svgplot *p)
{
	struct svg_scale sc[SVGPLOT_PANELS];
	size_t rows = (p->n_series + SVG_PER_ROW - 1) / SVG_PER_ROW;
	int h = SVG_LEGEND_Y + (int)rows * SVG_ROW_H + (p->footer ? 20 : 0);

	if (p->n_x == 0)
		return -EINVAL;
	for (size_t i = 0; i < p->n_x; i++)
		if (!(p->x[i] > 0) || (i && !(p->x[i] > p->x[i - 1])))
			return -EINVAL;
	for (int pn = 0; pn < SVGPLOT_PANELS; pn++)
		svg_scale_fit(&sc[pn], p, pn);
	fprintf(f,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
	        "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
	        "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
	        "font-size=\"12\">\n<title>",
	        SVG_W, h, SVG_W, h);
	escape_xml(f, p->title ? p->title : "");
	fputs("</title>\n"
	      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
	      f);
	svg_text(f, SVG_W / 2.0, 26,
	         "text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\"",
	         p->title ? p->title : "");
	if (p->subtitle)
		svg_text(f, SVG_W / 2.0, 46,
		         "text-anchor=\"middle\" fill=\"#555\"", p->subtitle);
	for (int pn = 0; pn < SVGPLOT_PANELS; pn++)
		svg_panel(f, p, pn, &sc[pn]);
	for (size_t s = 0; s < p->n_series; s++)
		svg_series(f, p, s, sc);
	svg_legend(f, p);
	if (p->footer)
		svg_text(f, svg_left[0], h - 8,
		         "fill=\"#555\" font-size=\"11\"", p->footer);
	fputs("</svg>\n", f);
	return 0;
}
