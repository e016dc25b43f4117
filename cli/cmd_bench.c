// SPDX-License-Identifier: MIT
/* cmd_bench.c - `ipckit bench`: latency and throughput of the chosen
 * mechanisms at the chosen message sizes on this machine, measured by
 * common/ipcbench.c within a time budget; a table, a recommendation per
 * size, JSON or CSV, and an SVG chart (svgplot.c).  docs/commands/bench.md */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "ipckit.h"

#include "cmds.h"
#include "escape.h"
#include "ipcbench.h"
#include "opts.h"
#include "report.h"
#include "stop.h"
#include "svgplot.h"
#include "xalloc.h"

enum {
	BENCH_MECHS = 'm',
	BENCH_SIZES = 's',
	BENCH_SECONDS = 't',
	BENCH_JSON = 256,
	BENCH_CSV,
	BENCH_PLOT,
};

#define BENCH_MAX_SIZES   16
#define BENCH_MAX_SIZE    (64u << 20) /* a buffer of it in each side */
#define BENCH_RUNS        3           /* medians of 3 when time allows */
#define BENCH_MIN_RUN_S   0.02        /* shorter runs: 1 instead of 3 */
#define BENCH_FLOOR_RUN_S 0.005       /* no run measures for less */
#define BENCH_BASELINE    "pipe"

static const char bench_default_sizes[] = "64,1K,16K,256K";

struct bench_mech {
	const struct ipcbench_form *form; /* borrowed: ipcbench_forms[] */
	struct ipcbench_ops ops;
	struct ipcbench_ipk ipk; /* ops' state */
	bool lossy;              /* may drop messages (udp) */
};

/* One mechanism at one size. */
struct bench_cell {
	struct ipcbench_lat lat;
	struct ipcbench_tput tput;
	unsigned runs; /* of each figure, for its median */
	double lat_x;  /* baseline p50 / this p50; 0: none */
	double tput_x; /* this MB/s / baseline MB/s; 0: none */
};

/* The verdict for one size: indexes into mech[], -1 for none. */
struct bench_rec {
	int lat, tput;           /* fastest reliable mechanism by each */
	int lat_base, tput_base; /* what they are compared with */
	char text[1024];         /* the recommendation line */
};

struct bench {
	struct bench_mech *mech; /* n_mech; owned */
	size_t n_mech;
	size_t sizes[BENCH_MAX_SIZES]; /* ascending, distinct */
	size_t n_sizes;
	struct bench_cell *cell; /* [size * n_mech + mech]; owned */
	struct bench_rec rec[BENCH_MAX_SIZES];
	double seconds, elapsed_s;
	bool base_is_pipe; /* else: the slowest at each size */
	char host[256], kernel[160], cpu[128], date[64];
	long cpus;
	double load[3];
};

static struct bench_cell *
bench_cell(const struct bench *b, size_t s, size_t m)
{
	return &b->cell[s * b->n_mech + m];
}

static bool
bench_in_build(const char *scheme)
{
	for (const char *const *s = ipk_scheme_list(); *s; s++)
		if (strcmp(*s, scheme) == 0)
			return true;
	return false;
}

/* The scheme names this build can measure, for messages. */
static void
bench_known(char *buf, size_t cap)
{
	const char *const *s = ipk_scheme_list();
	size_t o = 0;

	buf[0] = '\0';
	for (; *s && o < cap; s++)
		if (ipcbench_form_find(*s))
			o += (size_t)snprintf(buf + o, cap - o, "%s%s",
			                      o ? "," : "", *s);
}

static void
bench_add(struct bench *b, const struct ipcbench_form *f)
{
	struct bench_mech *m;

	b->mech = xreallocarray(b->mech, b->n_mech + 1, sizeof(*b->mech));
	m = &b->mech[b->n_mech++];
	memset(m, 0, sizeof(*m));
	m->form = f;
}

/* --mechanisms: scheme names; each measured in its first address form.
 * 0, or EXIT_USAGE after the message. */
static int
bench_parse_mechs(const struct cmd *self, struct bench *b, const char *list)
{
	char known[256];
	const char *p = list;

	bench_known(known, sizeof(known));
	if (list == NULL) {
		for (const char *const *s = ipk_scheme_list(); *s; s++)
			if (ipcbench_form_find(*s))
				bench_add(b, ipcbench_form_find(*s));
		return 0;
	}
	while (*p) {
		size_t n = strcspn(p, ",");
		char name[64];
		const struct ipcbench_form *f;

		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		f = ipcbench_form_find(name);
		if (n == 0 || n >= sizeof(name) || f == NULL ||
		    !bench_in_build(name))
			return opts_usage_error(self,
			                        "--mechanisms: no mechanism "
			                        "'%.*s' (known: %s)",
			                        (int)n, p, known);
		for (size_t i = 0; i < b->n_mech; i++)
			if (b->mech[i].form == f)
				return opts_usage_error(
				        self, "--mechanisms: '%s' listed twice",
				        name);
		bench_add(b, f);
		p += n + (p[n] == ',');
	}
	if (b->n_mech == 0)
		return opts_usage_error(self, "--mechanisms: empty list");
	return 0;
}

static int
bench_cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return (x > y) - (x < y);
}

/* --sizes: "64,4K,64KiB,1M"; sorted, duplicates dropped. */
static int
bench_parse_sizes(const struct cmd *self, struct bench *b, const char *list)
{
	const char *p = list;
	size_t n_out = 0;

	while (*p) {
		size_t n = strcspn(p, ","), v;
		char word[32];
		int err;

		snprintf(word, sizeof(word), "%.*s", (int)n, p);
		err = n && n < sizeof(word)
		              ? ipcbench_size_parse(word, BENCH_MAX_SIZE, &v)
		              : -EINVAL;
		if (err == -ERANGE)
			return opts_usage_error(self,
			                        "--sizes: '%s' is not between "
			                        "1 B and 64 MiB",
			                        word);
		if (err)
			return opts_usage_error(self,
			                        "--sizes: '%.*s' is not a size "
			                        "(64, 4K, 64KiB, 1M, 1MB)",
			                        (int)n, p);
		if (b->n_sizes == BENCH_MAX_SIZES)
			return opts_usage_error(self,
			                        "--sizes: at most %d sizes",
			                        BENCH_MAX_SIZES);
		b->sizes[b->n_sizes++] = v;
		p += n + (p[n] == ',');
	}
	if (b->n_sizes == 0)
		return opts_usage_error(self, "--sizes: empty list");
	qsort(b->sizes, b->n_sizes, sizeof(b->sizes[0]), bench_cmp_size);
	for (size_t i = 0; i < b->n_sizes; i++)
		if (n_out == 0 || b->sizes[n_out - 1] != b->sizes[i])
			b->sizes[n_out++] = b->sizes[i];
	b->n_sizes = n_out;
	return 0;
}

static int
bench_parse_seconds(const struct cmd *self, const char *arg, double *out)
{
	char *end;
	double v = strtod(arg, &end);

	if (end == arg || *end || !isfinite(v) || v < 0.1 || v > 3600)
		return opts_usage_error(self,
		                        "--seconds: '%s' is not a number of "
		                        "seconds from 0.1 to 3600",
		                        arg);
	*out = v;
	return 0;
}

static bool
bench_stop_cb(void)
{
	return stop_requested();
}

static void
bench_machine(struct bench *b)
{
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;
	char line[256];
	FILE *f;

	if (gethostname(b->host, sizeof(b->host)) != 0)
		snprintf(b->host, sizeof(b->host), "?");
	b->host[sizeof(b->host) - 1] = '\0';
	if (uname(&u) == 0)
		snprintf(b->kernel, sizeof(b->kernel), "%s %s", u.sysname,
		         u.release);
	b->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (getloadavg(b->load, 3) < 0)
		b->load[0] = b->load[1] = b->load[2] = -1;
	strftime(b->date, sizeof(b->date), "%Y-%m-%d %H:%M UTC",
	         gmtime_r(&now, &tm));
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) != 0 || colon == NULL)
			continue;
		colon += 1 + strspn(colon + 1, " \t");
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(b->cpu, sizeof(b->cpu), "%s", colon);
		break;
	}
	if (f)
		fclose(f);
}

/* The address a failed figure was measured on: the last one made. */
static const char *
bench_where(const struct bench_mech *m)
{
	return m->ipk.addr[0][0] ? m->ipk.addr[0] : m->form->scheme;
}

static bool
bench_failed(int err)
{
	return err && err != -EMSGSIZE;
}

/*
 * Measure every cell.  The budget is split evenly over the cells not yet
 * measured, so time lost to one (setup, a slow mechanism) is taken from
 * the rest; within a cell, half goes to latency and half to throughput,
 * each as BENCH_RUNS runs (one when that leaves runs under 20 ms).  What
 * a run costs beyond the time it measures (two forks, connecting, the
 * warm-up, cleaning up) is learnt as it goes and taken off each run's
 * time, so that the whole ends near the budget; no run measures for less
 * than 5 ms, which is how a tiny budget can be overrun.
 * 0, -ECANCELED after a stop, or the first -ETIMEDOUT / other error (the
 * others are reported as they happen and measuring goes on).
 */
static int
bench_measure(const struct cmd *self, struct bench *b, bool progress)
{
	int64_t t0 = ipcbench_now_ns();
	int64_t end = t0 + (int64_t)(b->seconds * 1e9);
	size_t cells = b->n_sizes * b->n_mech, done = 0;
	double ovh_s = 0;    /* time beyond what the runs measured ... */
	unsigned n_runs = 0; /* ... over this many runs */
	int first_err = 0;

	for (size_t m = 0; m < b->n_mech; m++) {
		struct bench_mech *me = &b->mech[m];

		ipcbench_ipk_ops(&me->ops, &me->ipk, me->form);
	}
	for (size_t s = 0; s < b->n_sizes; s++) {
		for (size_t m = 0; m < b->n_mech; m++, done++) {
			struct bench_mech *me = &b->mech[m];
			struct bench_cell *c = bench_cell(b, s, m);
			double left = (double)(end - ipcbench_now_ns()) / 1e9;
			double per_run = left / (double)(cells - done) / 2;
			double ovh = n_runs ? ovh_s / n_runs : 0.01;
			int64_t t_cell = ipcbench_now_ns();
			struct ipcbench_cfg cfg;
			char size[32];

			ipcbench_size_name(b->sizes[s], size, sizeof(size));
			if (progress)
				fprintf(stderr,
				        "\r\033[Kipckit bench: %s at %s "
				        "(%zu of %zu)",
				        me->form->scheme, size, done + 1,
				        cells);
			ipcbench_cfg_default(&cfg);
			/* Each run costs ovh beside the time it measures. */
			cfg.runs = per_run / BENCH_RUNS - ovh >= BENCH_MIN_RUN_S
			                   ? BENCH_RUNS
			                   : 1;
			per_run = per_run / cfg.runs - ovh;
			if (per_run < BENCH_FLOOR_RUN_S)
				per_run = BENCH_FLOOR_RUN_S;
			cfg.seconds = per_run;
			cfg.lat_seconds = per_run;
			cfg.lat_iters = 100000;
			cfg.lat_warmup = 1000;
			cfg.lat_min = 20; /* the time bounds it, not this */
			cfg.stop_cb = bench_stop_cb;
			c->runs = cfg.runs;
			ipcbench_latency(&me->ops, &cfg, b->sizes[s], &c->lat);
			if (c->lat.err != -EMSGSIZE && c->lat.err != -ECANCELED)
				ipcbench_throughput(&me->ops, &cfg, b->sizes[s],
				                    &c->tput);
			else
				c->tput.err = c->lat.err;
			me->lossy = me->lossy || (me->ops.lossy &&
			                          me->ops.lossy(me->ops.ctx));
			if (stop_requested()) {
				if (progress)
					fputs("\r\033[K", stderr);
				return -ECANCELED;
			}
			/* n/a costs no run; the others teach the overhead. */
			if (c->lat.err == -EMSGSIZE) {
				c->runs = 0;
			} else {
				double took =
				        (double)(ipcbench_now_ns() - t_cell) /
				        1e9;

				ovh_s += took - 2 * cfg.runs * per_run;
				n_runs += 2 * cfg.runs;
			}
			for (int k = 0; k < 2; k++) {
				int err = k ? c->tput.err : c->lat.err;
				char what[600];

				if (!bench_failed(err))
					continue;
				if (progress)
					fputs("\r\033[K", stderr);
				snprintf(what, sizeof(what), "%s (%s, %s)",
				         bench_where(me), size,
				         k ? "throughput" : "latency");
				report_fail(self, what, err, NULL);
				if (first_err == 0 || err == -ETIMEDOUT)
					first_err = err;
			}
		}
	}
	if (progress)
		fputs("\r\033[K", stderr);
	b->elapsed_s = (double)(ipcbench_now_ns() - t0) / 1e9;
	return first_err;
}

/* ---- verdicts ---- */

static bool
bench_lat_ok(const struct bench_cell *c)
{
	return c->lat.err == 0 && c->lat.p50_us > 0;
}

static bool
bench_tput_ok(const struct bench_cell *c)
{
	return c->tput.err == 0 && c->tput.mb_per_s > 0;
}

/* A figure of a cell where higher is better: MB/s, or 1 / latency. */
static double
bench_score(const struct bench *b, size_t s, int m, bool tput)
{
	const struct bench_cell *c = bench_cell(b, s, (size_t)m);

	return tput ? c->tput.mb_per_s : 1 / c->lat.p50_us;
}

/* The best (or, worst) mechanism at size s by latency (tput false) or
 * throughput; reliable ones only unless lossy; skip is left out. */
static int
bench_pick(const struct bench *b, size_t s, bool tput, bool best, bool lossy,
           int skip)
{
	int pick = -1;
	double pv = 0;

	for (size_t m = 0; m < b->n_mech; m++) {
		const struct bench_cell *c = bench_cell(b, s, m);
		double v;

		if ((int)m == skip || b->mech[m].lossy != lossy ||
		    !(tput ? bench_tput_ok(c) : bench_lat_ok(c)))
			continue;
		v = bench_score(b, s, (int)m, tput);
		if (pick < 0 || (best ? v > pv : v < pv)) {
			pick = (int)m;
			pv = v;
		}
	}
	return pick;
}

static int
bench_find(const struct bench *b, const char *scheme)
{
	for (size_t m = 0; m < b->n_mech; m++)
		if (strcmp(b->mech[m].form->scheme, scheme) == 0)
			return (int)m;
	return -1;
}

/* The baseline at size s: the pipe when measured, else the slowest. */
static int
bench_base(const struct bench *b, size_t s, bool tput)
{
	int p = bench_find(b, BENCH_BASELINE);

	if (p >= 0) {
		const struct bench_cell *c = bench_cell(b, s, (size_t)p);

		return (tput ? bench_tput_ok(c) : bench_lat_ok(c)) ? p : -1;
	}
	return bench_pick(b, s, tput, false, false, -1);
}

static const char *
bench_name(const struct bench *b, int m)
{
	return b->mech[m].form->scheme;
}

/* "12", "3.4", "0.21": figures in sentences. */
static const char *
bench_num(double v, char *buf, size_t cap)
{
	snprintf(buf, cap, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2f", v);
	return buf;
}

/* "3.2× lower latency than pipe (0.3 vs 9.6 µs one way)": m against
 * other; m may be a tie's winner, slower by less than 10 %. */
static size_t
bench_say_vs(const struct bench *b, size_t s, bool tput, int m, int other,
             char *out, size_t cap)
{
	const struct bench_cell *c = bench_cell(b, s, (size_t)m);
	const struct bench_cell *d = bench_cell(b, s, (size_t)other);
	double ratio =
	        bench_score(b, s, m, tput) / bench_score(b, s, other, tput);
	const char *unit = tput ? "MB/s" : "µs one way";
	char x[32], y[32], r[32];

	bench_num(tput ? c->tput.mb_per_s : c->lat.p50_us, x, sizeof(x));
	bench_num(tput ? d->tput.mb_per_s : d->lat.p50_us, y, sizeof(y));
	if (ratio < 1)
		return (size_t)snprintf(out, cap,
		                        "none is 10%% faster (%s: %s vs %s %s)",
		                        bench_name(b, other), y, x, unit);
	if (ratio < 1.1)
		return (size_t)snprintf(out, cap,
		                        "%s within 10%% of %s (%s vs %s %s)",
		                        tput ? "throughput" : "latency",
		                        bench_name(b, other), x, y, unit);
	return (size_t)snprintf(out, cap, "%s× %s %s (%s vs %s %s)",
	                        bench_num(ratio, r, sizeof(r)),
	                        tput ? "the throughput of"
	                             : "lower latency than",
	                        bench_name(b, other), x, y, unit);
}

/* Is there another reliable mechanism to compare m with at size s? */
static bool
bench_has_rival(const struct bench *b, size_t s, bool tput, int m)
{
	return bench_pick(b, s, tput, true, false, m) >= 0;
}

/* A comparison for winner m against base; when m is the base itself,
 * against the runner-up ("1.3× ... than unix"). */
static size_t
bench_say(const struct bench *b, size_t s, bool tput, int m, int base,
          char *out, size_t cap)
{
	if (base < 0 || base == m)
		base = bench_pick(b, s, tput, true, false, m);
	if (base < 0)
		return (size_t)snprintf(out, cap, "the only one measured");
	return bench_say_vs(b, s, tput, m, base, out, cap);
}

/* Mechanisms whose figure at s failed with err_kind (n/a or error). */
static size_t
bench_list_failed(const struct bench *b, size_t s, bool na, char *out,
                  size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t m = 0; m < b->n_mech && o < cap; m++) {
		const struct bench_cell *c = bench_cell(b, s, m);
		bool hit = na ? c->lat.err == -EMSGSIZE
		              : bench_failed(c->lat.err) ||
		                           bench_failed(c->tput.err);

		if (hit)
			o += (size_t)snprintf(out + o, cap - o, "%s%s",
			                      o ? ", " : "",
			                      bench_name(b, (int)m));
	}
	return o;
}

/* The winner w, or the baseline when w is less than 10 % ahead of it. */
static int
bench_tie(const struct bench *b, size_t s, bool tput, int w, int base)
{
	if (w < 0 || base < 0 ||
	    bench_score(b, s, w, tput) >= 1.1 * bench_score(b, s, base, tput))
		return w;
	return base;
}

static void
bench_verdict(struct bench *b, size_t s)
{
	struct bench_rec *r = &b->rec[s];
	char *t = r->text, list[256], size[32];
	size_t cap = sizeof(r->text), o = 0;
	int lossy_lat, lossy_tput;

	r->lat = bench_pick(b, s, false, true, false, -1);
	r->tput = bench_pick(b, s, true, true, false, -1);
	r->lat_base = bench_base(b, s, false);
	r->tput_base = bench_base(b, s, true);
	/* Less than 10 % ahead of the pipe is a tie, and a tie goes to the
	 * pipe: the simpler mechanism, and within the noise.  (Against the
	 * slowest, the fastest stays the answer.) */
	if (b->base_is_pipe) {
		r->lat = bench_tie(b, s, false, r->lat, r->lat_base);
		r->tput = bench_tie(b, s, true, r->tput, r->tput_base);
	}
	ipcbench_size_name(b->sizes[s], size, sizeof(size));
#define SAY(...) \
	(o += (size_t)snprintf(t + o, o < cap ? cap - o : 0, __VA_ARGS__))
	if (r->lat < 0 && r->tput < 0) {
		SAY("for %s messages: no mechanism could be measured", size);
	} else if (r->lat == r->tput || r->tput < 0 || r->lat < 0) {
		int w = r->lat >= 0 ? r->lat : r->tput;
		bool lat = r->lat >= 0 && bench_has_rival(b, s, false, w);
		bool tput = r->tput >= 0 && bench_has_rival(b, s, true, w);

		SAY("for %s messages use %s: ", size, bench_name(b, w));
		if (!lat && !tput)
			SAY("the only mechanism measured at this size");
		if (lat)
			o += bench_say(b, s, false, w, r->lat_base, t + o,
			               o < cap ? cap - o : 0);
		if (lat && tput)
			SAY(", ");
		if (tput)
			o += bench_say(b, s, true, w, r->tput_base, t + o,
			               o < cap ? cap - o : 0);
	} else {
		SAY("for %s messages use %s for latency: ", size,
		    bench_name(b, r->lat));
		o += bench_say(b, s, false, r->lat, r->lat_base, t + o,
		               o < cap ? cap - o : 0);
		SAY("; use %s for throughput: ", bench_name(b, r->tput));
		o += bench_say(b, s, true, r->tput, r->tput_base, t + o,
		               o < cap ? cap - o : 0);
	}
	/* A lossy mechanism never wins, but if it measured faster the line
	 * says so, with what it lost. */
	lossy_lat = bench_pick(b, s, false, true, true, -1);
	lossy_tput = bench_pick(b, s, true, true, true, -1);
	if (lossy_tput >= 0 &&
	    (r->tput < 0 ||
	     bench_cell(b, s, (size_t)lossy_tput)->tput.mb_per_s >
	             bench_cell(b, s, (size_t)r->tput)->tput.mb_per_s))
		SAY("; %s moved more (%.0f MB/s) but may drop messages "
		    "(%.1f%% lost here)",
		    bench_name(b, lossy_tput),
		    bench_cell(b, s, (size_t)lossy_tput)->tput.mb_per_s,
		    bench_cell(b, s, (size_t)lossy_tput)->tput.lost * 100);
	else if (lossy_lat >= 0 &&
	         (r->lat < 0 ||
	          bench_cell(b, s, (size_t)lossy_lat)->lat.p50_us <
	                  bench_cell(b, s, (size_t)r->lat)->lat.p50_us))
		SAY("; %s answered sooner (%.2f µs) but may drop messages",
		    bench_name(b, lossy_lat),
		    bench_cell(b, s, (size_t)lossy_lat)->lat.p50_us);
	if (bench_list_failed(b, s, true, list, sizeof(list)))
		SAY("; n/a (larger than their maximum message): %s", list);
	if (bench_list_failed(b, s, false, list, sizeof(list)))
		SAY("; failed: %s", list);
#undef SAY
}

static void
bench_ratios(struct bench *b)
{
	b->base_is_pipe = bench_find(b, BENCH_BASELINE) >= 0;
	for (size_t s = 0; s < b->n_sizes; s++) {
		int lb = bench_base(b, s, false), tb = bench_base(b, s, true);

		for (size_t m = 0; m < b->n_mech; m++) {
			struct bench_cell *c = bench_cell(b, s, m);

			if (lb >= 0 && bench_lat_ok(c))
				c->lat_x = bench_cell(b, s, (size_t)lb)
				                   ->lat.p50_us /
				           c->lat.p50_us;
			if (tb >= 0 && bench_tput_ok(c))
				c->tput_x = c->tput.mb_per_s /
				            bench_cell(b, s, (size_t)tb)
				                    ->tput.mb_per_s;
		}
		bench_verdict(b, s);
	}
}

/* ---- output ---- */

static const char *
bench_cell_text(int err)
{
	return err == -ECANCELED ? "-" : ipcbench_err_cell(err);
}

static void
bench_ratio_cell(double x)
{
	char buf[32];

	if (x > 0)
		printf(" %8s", bench_num(x, buf, sizeof(buf)));
	else
		printf(" %8s", "-");
}

static void
bench_table(const struct bench *b)
{
	printf("ipckit bench: %s, %s, %ld CPUs (%s), load %.2f %.2f %.2f\n",
	       b->date, b->kernel, b->cpus, b->cpu[0] ? b->cpu : "?",
	       b->load[0], b->load[1], b->load[2]);
	printf("latency: one way (round trip / 2), µs; throughput: one "
	       "direction, payload MB/s (10^6 B);\nmedians of up to %d runs "
	       "in %.1f s; vs %s: how many times faster (>1 is better)\n\n",
	       BENCH_RUNS, b->elapsed_s, b->base_is_pipe ? "pipe" : "slowest");
	/* By hand: µ and × are two bytes each, and printf counts bytes. */
	printf("size     mechanism          p50 µs    p99 µs    msgs/s      "
	       "MB/s    lat ×   tput ×\n");
	for (size_t s = 0; s < b->n_sizes; s++) {
		char size[32];

		ipcbench_size_name(b->sizes[s], size, sizeof(size));
		for (size_t m = 0; m < b->n_mech; m++) {
			const struct bench_cell *c = bench_cell(b, s, m);
			char x[32], y[32];

			printf("%-8s %-15s", m == 0 ? size : "",
			       bench_name(b, (int)m));
			if (bench_lat_ok(c))
				printf(" %9.2f %9.2f", c->lat.p50_us,
				       c->lat.p99_us);
			else
				printf(" %9s %9s", bench_cell_text(c->lat.err),
				       "");
			if (bench_tput_ok(c))
				printf(" %9s %9s",
				       ipcbench_si(c->tput.msgs_per_s, x,
				                   sizeof(x)),
				       ipcbench_si(c->tput.mb_per_s, y,
				                   sizeof(y)));
			else
				printf(" %9s %9s", bench_cell_text(c->tput.err),
				       "");
			bench_ratio_cell(c->lat_x);
			bench_ratio_cell(c->tput_x);
			if (bench_tput_ok(c) && c->tput.lost > 0.0005)
				printf("  %.1f%% lost", c->tput.lost * 100);
			else if (b->mech[m].lossy && bench_tput_ok(c))
				printf("  may drop messages");
			printf("\n");
		}
		printf("\n");
	}
	for (size_t s = 0; s < b->n_sizes; s++)
		printf("%s\n", b->rec[s].text);
}

/* "ok", "n/a" (larger than the mechanism takes), "error", "interrupted" */
static const char *
bench_status(const struct bench_cell *c)
{
	int err = c->lat.err ? c->lat.err : c->tput.err;

	return err == 0            ? "ok"
	       : err == -EMSGSIZE  ? "n/a"
	       : err == -ECANCELED ? "interrupted"
	                           : "error";
}

static const char *
bench_error(const struct bench_cell *c)
{
	int err = c->lat.err ? c->lat.err : c->tput.err;

	return bench_failed(err) ? ipk_strerror(err) : "";
}

static void
bench_json_num(const char *key, bool ok, double v)
{
	if (ok)
		printf(",\"%s\":%.6g", key, v);
	else
		printf(",\"%s\":null", key);
}

static void
bench_json_str(const char *key, const char *s)
{
	printf(",\"%s\":", key);
	escape_json(stdout, s, strlen(s));
}

static void
bench_json(const struct bench *b)
{
	printf("{\"host\":");
	escape_json(stdout, b->host, strlen(b->host));
	bench_json_str("kernel", b->kernel);
	bench_json_str("cpu", b->cpu);
	printf(",\"cpus\":%ld,\"load\":[%.2f,%.2f,%.2f]", b->cpus, b->load[0],
	       b->load[1], b->load[2]);
	bench_json_str("date", b->date);
	printf(",\"seconds\":%g,\"elapsed_s\":%.2f", b->seconds, b->elapsed_s);
	bench_json_str("baseline", b->base_is_pipe ? "pipe" : "slowest");
	printf(",\n\"records\":[");
	for (size_t s = 0; s < b->n_sizes; s++) {
		for (size_t m = 0; m < b->n_mech; m++) {
			const struct bench_cell *c = bench_cell(b, s, m);
			const struct bench_mech *me = &b->mech[m];
			bool lo = bench_lat_ok(c), to = bench_tput_ok(c);

			printf("%s\n{\"mechanism\":", s + m ? "," : "");
			escape_json(stdout, me->form->scheme,
			            strlen(me->form->scheme));
			bench_json_str("address", me->form->form
			                                  ? me->form->form
			                                  : "(ipk_pair)");
			printf(",\"size\":%zu", b->sizes[s]);
			bench_json_str("status", bench_status(c));
			bench_json_str("error", bench_error(c));
			bench_json_num("latency_p50_us", lo, c->lat.p50_us);
			bench_json_num("latency_p99_us", lo, c->lat.p99_us);
			bench_json_num("latency_samples", lo, c->lat.count);
			bench_json_num("msgs_per_s", to, c->tput.msgs_per_s);
			bench_json_num("mb_per_s", to, c->tput.mb_per_s);
			bench_json_num("lost", to, c->tput.lost);
			bench_json_num("latency_vs_baseline", c->lat_x > 0,
			               c->lat_x);
			bench_json_num("throughput_vs_baseline", c->tput_x > 0,
			               c->tput_x);
			printf(",\"runs\":%u,\"lossy\":%s}", c->runs,
			       me->lossy ? "true" : "false");
		}
	}
	printf("],\n\"recommendations\":[");
	for (size_t s = 0; s < b->n_sizes; s++) {
		const struct bench_rec *r = &b->rec[s];

		printf("%s\n{\"size\":%zu,\"latency\":", s ? "," : "",
		       b->sizes[s]);
		if (r->lat >= 0)
			escape_json(stdout, bench_name(b, r->lat),
			            strlen(bench_name(b, r->lat)));
		else
			printf("null");
		printf(",\"throughput\":");
		if (r->tput >= 0)
			escape_json(stdout, bench_name(b, r->tput),
			            strlen(bench_name(b, r->tput)));
		else
			printf("null");
		bench_json_str("text", r->text);
		printf("}");
	}
	printf("]}\n");
}

static void
bench_csv_num(bool ok, const char *fmt, double v)
{
	putchar(',');
	if (ok)
		printf(fmt, v);
}

static void
bench_csv(const struct bench *b)
{
	printf("mechanism,size,status,latency_p50_us,latency_p99_us,"
	       "latency_samples,msgs_per_s,mb_per_s,lost,latency_vs_baseline,"
	       "throughput_vs_baseline,runs,lossy,error\n");
	for (size_t s = 0; s < b->n_sizes; s++) {
		for (size_t m = 0; m < b->n_mech; m++) {
			const struct bench_cell *c = bench_cell(b, s, m);
			bool lo = bench_lat_ok(c), to = bench_tput_ok(c);

			/* Scheme names and error strings hold no comma or
			 * quote: no CSV quoting is needed. */
			printf("%s,%zu,%s", bench_name(b, (int)m), b->sizes[s],
			       bench_status(c));
			bench_csv_num(lo, "%.3f", c->lat.p50_us);
			bench_csv_num(lo, "%.3f", c->lat.p99_us);
			bench_csv_num(lo, "%.0f", c->lat.count);
			bench_csv_num(to, "%.0f", c->tput.msgs_per_s);
			bench_csv_num(to, "%.3f", c->tput.mb_per_s);
			bench_csv_num(to, "%.4f", c->tput.lost);
			bench_csv_num(c->lat_x > 0, "%.3f", c->lat_x);
			bench_csv_num(c->tput_x > 0, "%.3f", c->tput_x);
			printf(",%u,%d,%s\n", c->runs, b->mech[m].lossy,
			       bench_error(c));
		}
	}
}

/* --plot goes to a temporary file beside FILE, made before measuring
 * (a FILE that cannot be written fails at once, not after the run) and
 * renamed over FILE at the end: FILE is whole or untouched. */
struct bench_plot {
	const char *path; /* borrowed: the argument */
	char *tmp;        /* owned: the temporary file's name */
	FILE *f;          /* owned: open on tmp */
};

static int
bench_plot_open(struct bench_plot *pl, const char *path)
{
	int fd;

	pl->path = path;
	pl->tmp = xasprintf("%s.tmp-XXXXXX", path);
	fd = mkstemp(pl->tmp);
	if (fd >= 0)
		(void)fchmod(fd, 0644);
	if (fd >= 0 && (pl->f = fdopen(fd, "w")) != NULL)
		return 0;
	if (fd >= 0) {
		close(fd);
		unlink(pl->tmp);
	}
	free(pl->tmp);
	pl->tmp = NULL;
	return -errno;
}

/* bench_plot_close - rename the file into place when err is 0, else
 * remove it; NULL-safe.  0 or -errno. */
static int
bench_plot_close(struct bench_plot *pl, int err)
{
	if (pl->tmp == NULL)
		return err;
	if (fflush(pl->f) != 0 || ferror(pl->f))
		err = err ? err : -(errno ? errno : EIO);
	if (fclose(pl->f) != 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(pl->tmp, pl->path) != 0)
		err = -errno;
	if (err)
		unlink(pl->tmp);
	free(pl->tmp);
	pl->tmp = NULL;
	return err;
}

/* The chart, on f. */
static int
bench_plot(const struct bench *b, FILE *f)
{
	double x[BENCH_MAX_SIZES];
	char labels[BENCH_MAX_SIZES][32], title[512], sub[512], foot[256];
	const char *lp[BENCH_MAX_SIZES];
	struct svgplot_series *se = xcalloc(b->n_mech, sizeof(*se));
	double *y = xcalloc(b->n_mech * b->n_sizes * 2, sizeof(*y));
	struct svgplot p;
	int err;

	for (size_t s = 0; s < b->n_sizes; s++) {
		x[s] = (double)b->sizes[s];
		lp[s] = ipcbench_size_name(b->sizes[s], labels[s],
		                           sizeof(labels[s]));
	}
	for (size_t m = 0; m < b->n_mech; m++) {
		double *lat = y + m * b->n_sizes * 2, *tp = lat + b->n_sizes;

		for (size_t s = 0; s < b->n_sizes; s++) {
			const struct bench_cell *c = bench_cell(b, s, m);

			lat[s] = bench_lat_ok(c) ? c->lat.p50_us : NAN;
			tp[s] = bench_tput_ok(c) ? c->tput.mb_per_s : NAN;
		}
		se[m] = (struct svgplot_series){
			.name = bench_name(b, (int)m),
			.note = b->mech[m].lossy ? "may drop messages" : NULL,
			.dashed = b->mech[m].lossy,
			.y = { lat, tp },
		};
	}
	snprintf(title, sizeof(title), "ipckit bench on %s, %s", b->host,
	         b->date);
	snprintf(sub, sizeof(sub), "%s, %ld CPUs (%s), load %.2f", b->kernel,
	         b->cpus, b->cpu[0] ? b->cpu : "?", b->load[0]);
	snprintf(foot, sizeof(foot),
	         "Medians of up to %d runs in %.1f s. A missing point is n/a "
	         "(message larger than the mechanism takes) or a failed run.",
	         BENCH_RUNS, b->elapsed_s);
	p = (struct svgplot){
		.title = title,
		.subtitle = sub,
		.x_axis = "message size (log scale)",
		.key = "mechanism",
		.x = x,
		.x_labels = lp,
		.n_x = b->n_sizes,
		.panel = {
			{ "Latency (lower is better)",
			  "one-way latency p50, µs (log scale)", "µs" },
			{ "Throughput (higher is better)",
			  "payload MB/s, one direction (log scale)", "MB/s" },
		},
		.series = se,
		.n_series = b->n_mech,
		.footer = foot,
	};
	err = svgplot_write(f, &p);
	free(y);
	free(se);
	return err;
}

static int
bench_cmd(const struct cmd *self, int argc, char **argv)
{
	struct bench b = { .seconds = 10 };
	struct bench_plot pl = { 0 };
	const char *mechs = NULL, *sizes = bench_default_sizes, *plot = NULL;
	bool json = false, csv = false;
	struct opts op;
	const char *arg;
	int key, err, rc = EXIT_OK;

	opts_init(&op, self, argc, argv);
	while ((key = opts_next(&op, &arg)) != -1) {
		switch (key) {
		case OPT_HELP:
			return EXIT_OK;
		case BENCH_MECHS:
			mechs = arg;
			break;
		case BENCH_SIZES:
			sizes = arg;
			break;
		case BENCH_SECONDS:
			if (bench_parse_seconds(self, arg, &b.seconds))
				return EXIT_USAGE;
			break;
		case BENCH_JSON:
			json = true;
			break;
		case BENCH_CSV:
			csv = true;
			break;
		case BENCH_PLOT:
			plot = arg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (opts_index(&op) < argc)
		return opts_usage_error(self, "no operands expected (got '%s')",
		                        argv[opts_index(&op)]);
	if (json && csv)
		return opts_usage_error(self, "--json and --csv: choose one");
	if (plot && plot[0] == '\0')
		return opts_usage_error(self, "--plot: empty file name");
	if (bench_parse_sizes(self, &b, sizes) ||
	    bench_parse_mechs(self, &b, mechs)) {
		free(b.mech);
		return EXIT_USAGE;
	}
	err = stop_init();
	if (err) {
		free(b.mech);
		return report_fail(self, "signals", err, NULL);
	}
	if (plot && (err = bench_plot_open(&pl, plot)) != 0) {
		free(b.mech);
		return report_fail(self, plot, err, NULL);
	}
	b.cell = xcalloc(b.n_sizes * b.n_mech, sizeof(*b.cell));
	bench_machine(&b);
	err = bench_measure(self, &b, isatty(STDERR_FILENO) && !json && !csv);
	if (err == -ECANCELED) {
		fprintf(stderr,
		        "ipckit bench: interrupted: measuring stopped, the "
		        "queues, sockets and files it made are removed\n");
		rc = EXIT_FAIL;
		goto out;
	}
	if (err)
		rc = report_exit_code(err) == EXIT_TIMEOUT ? EXIT_TIMEOUT
		                                           : EXIT_FAIL;
	bench_ratios(&b);
	if (json)
		bench_json(&b);
	else if (csv)
		bench_csv(&b);
	else
		bench_table(&b);
	if (plot && (err = bench_plot_close(&pl, bench_plot(&b, pl.f))) != 0)
		rc = report_fail(self, plot, err, NULL);
	if (fflush(stdout) != 0)
		rc = report_fail(self, "standard output", -errno, NULL);
out:
	(void)bench_plot_close(&pl, -ECANCELED); /* after a stop */
	free(b.cell);
	free(b.mech);
	return rc;
}

const struct cmd cmd_bench = {
	.name = "bench",
	.args = "",
	.summary = "measure latency and throughput of each mechanism here, "
	           "and say which to use",
	.details =
	        "Two processes per run exchange messages over each mechanism: "
	        "ping-pong for the\none-way latency (p50, p99), a one-way "
	        "stream for throughput (msgs/s, MB/s).\n--seconds bounds the "
	        "whole run: each mechanism x size cell gets an even share\nof "
	        "what is left (half latency, half throughput, medians of 3 "
	        "runs when each\ngets 20 ms), less what setting up a run was "
	        "seen to cost.  A size larger than\na mechanism takes is n/a.  "
	        "Each size ends with a recommendation: the fastest\nreliable "
	        "mechanism by latency and by throughput and how many times "
	        "faster it is\nthan a pipe (than the slowest, without pipe); "
	        "under 10 % ahead is a tie, which\nthe pipe wins.  Exit 1 "
	        "when a figure failed, 3 when one timed out; Ctrl-C\nremoves "
	        "every object the run made.  docs/commands/bench.md explains "
	        "the output.\n"
	        "Examples:\n"
	        "  ipckit bench\n"
	        "  ipckit bench --mechanisms pipe,shm,unix --sizes 64,4K,1M "
	        "--seconds 5\n"
	        "  ipckit bench --json | jq '.recommendations[].text'\n"
	        "  ipckit bench --plot ipc.svg",
	.opts =
	        (const struct opt[]){
	                { "mechanisms", BENCH_MECHS, "LIST",
	                  "comma-separated schemes (default: all): pipe,fifo,"
	                  "sysvmq,posixmq,shm,file,unix,unix+seqpacket,tcp,"
	                  "udp" },
	                { "sizes", BENCH_SIZES, "LIST",
	                  "message sizes: 64,4K,64KiB,1M (K, M binary; kB, MB "
	                  "decimal; default 64,1K,16K,256K)" },
	                { "seconds", BENCH_SECONDS, "S",
	                  "time budget of the measurements, 0.1 to 3600 "
	                  "(default 10)" },
	                { "json", BENCH_JSON, NULL,
	                  "a JSON object: machine, records (one per mechanism "
	                  "and size), recommendations" },
	                { "csv", BENCH_CSV, NULL,
	                  "CSV: a header, then one row per mechanism and "
	                  "size" },
	                { "plot", BENCH_PLOT, "FILE.svg",
	                  "also write an SVG chart of latency and throughput "
	                  "per mechanism" },
	                { NULL, 0, NULL, NULL },
	        },
	.permute = true,
	.run = bench_cmd,
};
