/*
 * bench/heatmap: how long a click map of a page 8,000 px tall at 1280 px
 * wide takes with 1,000,000 clicks in range, uncached, split into reading
 * the rollup, density and blur, colouring, and PNG encoding: the steps
 * sp-heatmap runs, through the same heat_* and heatmap_* functions and the
 * same statement (sitepulse.click_density(), in binary).
 *
 * With a database (libpq's PG* variables; `make bench` runs it against the
 * bench stack) it registers a throwaway site, fills click_cells for the 7
 * days ending today with 1M clicks (60 clusters around "elements", 15 %
 * spread over the whole page, as real pages look), marks them as ingest
 * does and runs the bulk round (compact_click_grids(), sql/017): six
 * closed days packed, today still click_cells rows, as a map looks
 * between two maintenance runs. Same-run comparisons: the read as it was
 * before 017 (every click_cells row), and with every day packed. Then a
 * scroll map of the same size over 7 days of scroll depths. Removes the
 * site. Without a database it makes the same cells in memory and reports
 * no read time. Prints the median of 7 runs of each step.
 *
 * Then a filtered map (issue 14's target: a filtered heatmap in at most
 * twice the unfiltered render time). sp-heatmap draws it from the raw
 * events of the visits a filter selects (report.click_density(),
 * sql/report/segment_heatmaps.sql), so the cells above cannot time it: a
 * second throwaway site gets raw events through the ingest path, one
 * INSERT into sitepulse.events per day, oldest first, so the statement
 * triggers build the visits, click cells and other rollups as ingest does
 * (bench/stats does the same with COPY). 8,000 visits a day for the same 7
 * days, 20,000 visitors (55 % desktop, 35 % mobile, 10 % tablet; referrers
 * direct, google, t.co, news.ycombinator.com, duckduckgo), each landing on
 * /bench with a page view, 0-7 clicks (3.5 on average, in 40 clusters and
 * 15 % anywhere), a scroll and a leave; half go on to /pricing (a view, a
 * click, a leave). That is 450,000 events and 196,000 clicks on the page:
 * a busy landing page's week, a fifth of the cells-only map's clicks,
 * because a filtered map reads the page's raw clicks where the rollups
 * read cells, and the load (about 25 s) keeps the bench's time reasonable.
 * The same map (device all, 1280x8000) is then drawn unfiltered and with
 * each of filters[], interleaved, and the medians and the ratios filtered
 * / unfiltered printed, for the read and for the whole render.
 *
 * Usage: heatmap [runs]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "heat.h"
#include "heatmap.h"

#define WIDTH		 1280
#define HEIGHT		 8000
#define CLICKS		 1000000
#define SITE		 "bench-heatmap"
#define SEG_SITE	 "bench-heatmap-segment"
#define SEG_VISITS	 "8000"		/* visits a day */

/* The cells statement of sp-heatmap (Q_CELLS), answered in binary. */
static const char *const cells_sql =
    "SELECT width, cells FROM sitepulse.click_density($1::int, $2, $3::date, $4::date, $5)";

/* What sp-heatmap read before sql/017: every click_cells row of the range. */
static const char *const rows_sql =
    "SELECT sitepulse.device_width(device), cx, cy, clicks "
    "FROM sitepulse.click_cells WHERE site_id = $1 AND path = $2 "
    "AND day BETWEEN $3::date AND $4::date AND ($5 = 'all' OR device = $5)";

/* sp-heatmap's scroll statement (Q_SCROLL). */
static const char *const scroll_sql =
    "SELECT depth, sum(views)::bigint FROM sitepulse.scroll_depths "
    "WHERE site_id = $1 AND path = $2 AND day BETWEEN $3::date AND $4::date "
    "AND ($5 = 'all' OR device = $5) GROUP BY depth";

/* 7 days of scroll depths: 20,000 views a day, depths spread over 0-100. */
static const char *const scroll_fill_sql =
    "INSERT INTO sitepulse.scroll_depths (site_id, day, path, device, depth, views) "
    "SELECT $1::int, current_date - d, '/bench', 'desktop', depth, "
    "       (20000 * exp(-depth / 40.0) / 40)::bigint + 1 "
    "FROM generate_series(0, 6) d, generate_series(0, 100) depth";

/* Ingest's marks for the filled days (events_mark_click_grids()), and the bulk round. */
static const char *const mark_sql =
    "INSERT INTO sitepulse.click_grid_pending (site_id, path, device, day) "
    "SELECT DISTINCT site_id, path, device, day FROM sitepulse.click_cells WHERE site_id = $1";

/* 1M clicks over 7 days: 60 clusters of ~14k clicks, 15 % anywhere; cells of 4 px. */
static const char *const fill_sql =
    "WITH c AS (SELECT i, 40 + random() * 1200 AS x, 40 + random() * 7700 AS y "
    "           FROM generate_series(1, 60) i), "
    "p AS (SELECT CASE WHEN g % 100 < 15 THEN random() * 1279 "
    "                  ELSE c.x + (random() + random() + random() - 1.5) * 60 END AS x, "
    "             CASE WHEN g % 100 < 15 THEN random() * 7799 "
    "                  ELSE c.y + (random() + random() + random() - 1.5) * 20 END AS y, "
    "             g % 7 AS d "
    "      FROM generate_series(1, 1000000) g JOIN c ON c.i = 1 + g % 60) "
    "INSERT INTO sitepulse.click_cells (site_id, day, path, device, cx, cy, clicks) "
    "SELECT $1::int, current_date - d, '/bench', 'desktop', "
    "       floor(greatest(least(x, 1279), 0) / 4)::int, floor(greatest(least(y, 7799), 0) / 4)::int, "
    "       count(*) FROM p GROUP BY 2, 5, 6";

/*
 * One day ($2) of raw events for the segment site ($1): $3 visits, each of
 * one visitor of its device class's pool, starting in the first 22 hours
 * (up to 5 minutes ago today) so that no visit crosses midnight: /bench
 * viewed with the visit's referrer, 0-7 clicks 8 s apart (in one of 40
 * clusters, 15 % anywhere; coordinates in the visitor's document width),
 * a scroll, a leave with its depth; half the visits then view /pricing,
 * click once and leave.
 */
static const char *const seg_fill_sql =
    "WITH c AS MATERIALIZED (SELECT i, 0.03 + random() * 0.94 AS fx, 40 + random() * 7700 AS ry "
    "                        FROM generate_series(0, 39) i), "
    "s AS MATERIALIZED (SELECT $2::timestamp AT TIME ZONE 'UTC' AS t, least(interval '22 hours', "
    "    greatest(now() - $2::timestamp AT TIME ZONE 'UTC' - interval '5 minutes', interval '0')) AS span), "
    "v AS MATERIALIZED (SELECT g, s.t + random() * s.span AS t0, random() AS rd, random() AS rs, "
    "    floor(random() * 8)::int AS k, random() < 0.5 AS more, random() AS rv "
    "    FROM s, generate_series(1, $3::int) g), "
    "w AS (SELECT v.*, d.device, d.dw, d.browser, d.os, d.n * 1000000 + floor(v.rv * d.pool)::bigint AS visitor, "
    "    (ARRAY[NULL, NULL, 'www.google.com', 't.co', 'news.ycombinator.com', 'duckduckgo.com'])"
    "        [1 + floor(v.rs * 6)::int] AS ref "
    "    FROM v JOIN (VALUES (1, 'desktop', 1280, 'Chrome', 'Windows', 12000, 0.0, 0.55), "
    "                        (2, 'mobile', 390, 'Mobile Safari', 'iOS', 7000, 0.55, 0.9), "
    "                        (3, 'tablet', 800, 'Mobile Safari', 'iOS', 3000, 0.9, 1.1)) "
    "         d(n, device, dw, browser, os, pool, lo, hi) ON v.rd >= d.lo AND v.rd < d.hi) "
    "INSERT INTO sitepulse.events (site_id, received_at, visitor, type, url, path, ref_host, "
    "    x, y, dw, sel, ex, ey, depth, engaged, device, browser, os) "
    "SELECT $1::int, w.t0 + e.s * interval '8 seconds', w.visitor, e.type, e.url, e.path, e.ref, "
    "    e.x, e.y, e.dw, e.sel, e.ex, e.ey, e.depth, e.engaged, w.device, w.browser, w.os "
    "FROM w CROSS JOIN LATERAL ("
    "    SELECT 0 AS s, 'pageview' AS type, 'https://bench.example/bench' AS url, '/bench' AS path, "
    "           w.ref, NULL::int AS x, NULL::int AS y, NULL::int AS dw, NULL AS sel, NULL::real AS ex, "
    "           NULL::real AS ey, NULL::smallint AS depth, NULL::int AS engaged "
    "    UNION ALL "
    "    SELECT q.j, 'click', NULL, '/bench', NULL, "
    "           (w.dw * CASE WHEN q.r < 0.15 THEN q.fx ELSE c.fx + (q.a - 0.5) * 0.05 END)::int, "
    "           ((CASE WHEN q.r < 0.15 THEN q.fy * 7800 ELSE c.ry + (q.b - 0.5) * 40 END) "
    "            * w.dw / sitepulse.device_width(w.device))::int, "
    "           w.dw, 'main .cta-' || c.i, q.a::real, q.b::real, NULL, NULL "
    "      FROM (SELECT j, random() AS r, random() AS fx, random() AS fy, random() AS a, random() AS b, "
    "                   floor(random() * 40)::int AS ci FROM generate_series(1, w.k) j) q "
    "      JOIN c ON c.i = q.ci "
    "    UNION ALL "
    "    SELECT w.k + 1, 'scroll', NULL, '/bench', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 50, NULL "
    "    UNION ALL "
    "    SELECT w.k + 2, 'leave', NULL, '/bench', NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "           (25 * (1 + w.g % 4))::smallint, 8000 * (w.k + 2) "
    "    UNION ALL "
    "    SELECT w.k + 2 + t.o, t.type, CASE t.o WHEN 1 THEN 'https://bench.example/pricing' END, "
    "           '/pricing', NULL, CASE t.o WHEN 2 THEN w.dw / 2 END, CASE t.o WHEN 2 THEN 300 END, "
    "           CASE t.o WHEN 2 THEN w.dw END, CASE t.o WHEN 2 THEN '#buy' END, "
    "           CASE t.o WHEN 2 THEN 0.5::real END, CASE t.o WHEN 2 THEN 0.5::real END, "
    "           CASE t.o WHEN 3 THEN 75::smallint END, CASE t.o WHEN 3 THEN 16000 END "
    "      FROM (VALUES (1, 'pageview'), (2, 'click'), (3, 'leave')) t(o, type) WHERE w.more) e";

/* sp-heatmap's filtered cells statement (Q_FCELLS), answered in binary. */
static const char *const fcells_sql =
    "SELECT width, cells FROM report.click_density($1::int, $2, $3::date, $4::date, $5, $6::text)";

/* The filters timed against the unfiltered map: one term, and two. */
static const char *const filters[] = { "device==mobile", "device==mobile;source!=t.co" };
#define NFILTERS	 (sizeof(filters) / sizeof(filters[0]))

/* A run's packed cells: one set per day (pointing into res, or into mem). */
struct cells {
	PGresult		*res;
	unsigned char		*mem;
	struct heatmap_cells	 sets[64];
	size_t			 nsets;
};

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp_double);
	return v[n / 2];
}

/* Runs sql with params (results in format fmt); exits on failure. The caller PQclears the result. */
static PGresult *
run_fmt(PGconn *c, const char *sql, int n, const char *const *params, int fmt)
{
	PGresult	*res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, fmt);

	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "heatmap bench: %s", PQerrorMessage(c));
		exit(1);
	}
	return res;
}

static PGresult *
run(PGconn *c, const char *sql, int n, const char *const *params)
{
	return run_fmt(c, sql, n, params, 0);
}

/* Registers the bench site, fills its cells and scroll depths and runs the bulk round; its id in id. */
static void
setup(PGconn *c, char *id, size_t idsz)
{
	const char	*key[1] = { SITE };
	PGresult	*res;
	double		 t;

	PQclear(run(c, "SELECT sitepulse.remove_site($1)", 1, key));
	res = run(c, "SELECT sitepulse.add_site($1, 'heatmap benchmark', '{}')", 1, key);
	snprintf(id, idsz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	const char *p[1] = { id };
	t = now_ms();
	PQclear(run(c, fill_sql, 1, p));
	PQclear(run(c, scroll_fill_sql, 1, p));
	PQclear(run(c, mark_sql, 1, p));
	printf("# filled click_cells with %d clicks in %.0f ms\n", CLICKS, now_ms() - t);
	t = now_ms();
	res = run(c, "SELECT sitepulse.compact_click_grids(NULL)", 0, NULL);
	printf("# bulk round (compact_click_grids): %s closed days packed in %.0f ms\n",
	    PQgetvalue(res, 0, 0), now_ms() - t);
	PQclear(res);
	/* What autovacuum does soon after: without it every row is a heap visit to check visibility. */
	PQclear(run(c, "VACUUM ANALYZE sitepulse.click_cells", 0, NULL));
	PQclear(run(c, "VACUUM ANALYZE sitepulse.click_grids", 0, NULL));
	PQclear(run(c, "VACUUM ANALYZE sitepulse.click_grid_pending", 0, NULL));
}

/* The 7 days ending today, as sp-heatmap's parameters for site id. */
static void
range(const char *id, char from[11], char to[11], const char *p[5])
{
	time_t		 now = time(NULL), ago = now - 6 * 86400;
	struct tm	 tm;

	strftime(from, 11, "%Y-%m-%d", gmtime_r(&ago, &tm));
	strftime(to, 11, "%Y-%m-%d", gmtime_r(&now, &tm));
	p[0] = id, p[1] = "/bench", p[2] = from, p[3] = to, p[4] = "desktop";
}

/* Runs cells statement sql (n params p, binary, width and cells) into *out; the caller PQclears out->res. */
static void
read_sets(PGconn *c, const char *sql, int n, const char *const *p, struct cells *out)
{
	memset(out, 0, sizeof(*out));
	out->res = run_fmt(c, sql, n, p, 1);
	for (int i = 0; i < PQntuples(out->res) && out->nsets < 64; i++) {
		const unsigned char *w = (const unsigned char *)PQgetvalue(out->res, i, 0);
		out->sets[out->nsets++] = (struct heatmap_cells){
		    (int)((uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3]),
		    (const unsigned char *)PQgetvalue(out->res, i, 1),
		    (size_t)PQgetlength(out->res, i, 1) / HEATMAP_CELL_BYTES };
	}
}

/* Reads the cells as sp-heatmap does (binary click_density()) into *out. */
static void
read_cells(PGconn *c, const char *id, struct cells *out)
{
	char		 from[11], to[11];
	const char	*p[5];

	range(id, from, to, p);
	read_sets(c, cells_sql, 5, p, out);
}

/* The steps of one map after the read, in ms, and the PNG's size. */
struct steps {
	double		 dens, col, enc, gd;
	int		 size;
};

/*
 * Draws the cells of in at WIDTH x HEIGHT as sp-heatmap does: density,
 * three box blurs and the 99th percentile, colour, PNG encoding; with gd,
 * also encodes the same image through libgd (not part of the map). Fills
 * *st. Frees nothing of in.
 */
static void
render(const struct cells *in, int gd, struct steps *st)
{
	double		 t1 = now_ms(), t2, t3, t4;
	struct heatmap_size sz;

	heatmap_size(WIDTH, WIDTH, 0, 0, 0, heatmap_lowest(in->sets, in->nsets, WIDTH), &sz);
	struct heatmap_clicks cl = { in->sets, in->nsets, NULL, 0, 0, WIDTH };
	struct heat_grid *g = heatmap_density(&cl, WIDTH, HEIGHT);
	heat_blur(g, 3, 3);
	heat_normalise(g, heat_percentile(g, 0.99));
	t2 = now_ms();
	gdImagePtr im = heat_image(WIDTH, HEIGHT);
	heat_paint(g, im->pixels, WIDTH, HEIGHT, HEAT_CELL);
	heat_legend(im, "fewer", "more clicks");
	t3 = now_ms();
	free(heat_png(im, &st->size));
	t4 = now_ms();
	st->gd = 0;
	if (gd) {
		int gdsize = 0;
		gdFree(gdImagePngPtrEx(im, &gdsize, 1));
		st->gd = now_ms() - t4;
	}
	gdImageDestroy(im);
	heat_grid_free(g);
	st->dens = t2 - t1, st->col = t3 - t2, st->enc = t4 - t3;
}

/* Reads every click_cells row of the range as sp-heatmap did before sql/017; returns the ms. */
static double
read_rows(PGconn *c, const char *id)
{
	char		 from[11], to[11];
	const char	*p[5];
	double		 t = now_ms();
	long long	 sum = 0;
	PGresult	*res;

	range(id, from, to, p);
	res = run(c, rows_sql, 5, p);
	for (int i = 0; i < PQntuples(res); i++)
		sum += atoll(PQgetvalue(res, i, 1)) + atoll(PQgetvalue(res, i, 2)) +
		    atoll(PQgetvalue(res, i, 3));
	PQclear(res);
	return sum >= 0 ? now_ms() - t : 0;
}

static void
put_cell(unsigned char *b, long long cx, long long cy, long long n)
{
	for (int i = 0; i < 4; i++) {
		b[i] = (unsigned char)(cx >> (24 - 8 * i));
		b[4 + i] = (unsigned char)(cy >> (24 - 8 * i));
	}
	for (int i = 0; i < 8; i++)
		b[8 + i] = (unsigned char)(n >> (56 - 8 * i));
}

/* The same distribution in memory, packed as one set, for a run without a database. */
static void
fake_cells(struct cells *out)
{
	double		 cx[60], cy[60];

	memset(out, 0, sizeof(*out));
	out->mem = malloc((size_t)CLICKS * HEATMAP_CELL_BYTES);
	srand(1);
	for (int i = 0; i < 60; i++)
		cx[i] = 40 + rand() % 1200, cy[i] = 40 + rand() % 7700;
	for (int g = 0; g < CLICKS; g++) {
		double x, y;
		if (g % 100 < 15)
			x = rand() % 1280, y = rand() % 7800;
		else
			x = cx[g % 60] + (rand() % 120 - 60), y = cy[g % 60] + (rand() % 40 - 20);
		put_cell(out->mem + (size_t)g * HEATMAP_CELL_BYTES, (int)fmax(0, fmin(x, 1279)) / 4,
		    (int)fmax(0, fmin(y, 7799)) / 4, 1);
	}
	out->sets[0] = (struct heatmap_cells){ WIDTH, out->mem, CLICKS };
	out->nsets = 1;
}

/* One scroll map of the bench page at WIDTH x HEIGHT, read, painted and encoded; returns the ms. */
static double
scroll_map(PGconn *c, const char *id)
{
	char		 from[11], to[11];
	const char	*p[5];
	long long	 views[101] = { 0 };
	double		 share[101], t = now_ms();
	PGresult	*res;
	int		 size = 0;

	range(id, from, to, p);
	res = run(c, scroll_sql, 5, p);
	for (int i = 0; i < PQntuples(res); i++) {
		int d = atoi(PQgetvalue(res, i, 0));
		if (d >= 0 && d <= 100)
			views[d] += atoll(PQgetvalue(res, i, 1));
	}
	PQclear(res);
	heat_scroll_share(views, share);
	gdImagePtr im = heat_image(WIDTH, HEIGHT);
	heat_scroll_paint(share, im->pixels, WIDTH, HEIGHT, HEIGHT);
	heat_legend(im, "nobody", "all views");
	free(heat_png(im, &size));
	gdImageDestroy(im);
	return now_ms() - t;
}

/* The first number of sql's answer (no parameters but site id) as text, in buf. */
static const char *
count_of(PGconn *c, const char *sql, const char *id, char *buf, size_t bufsz)
{
	const char	*p[1] = { id };
	PGresult	*res = run(c, sql, 1, p);

	snprintf(buf, bufsz, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "?");
	PQclear(res);
	return buf;
}

/*
 * Waits, up to 60 s, until no autovacuum worker runs in this database, and
 * returns the ms waited. The load before the maps (the 1M-click site
 * removed, the segment site's 450,000 events stored) leaves most rollups
 * due for autovacuum: on a stack kept after the ingest benchmarks it
 * vacuumed six of them (visit_paths, day_visitors, element_cells...)
 * within seconds of the maps. A worker that runs while they are timed
 * takes a core from the filtered read's parallel workers, not from the
 * unfiltered read, which runs in one process: the ratio moved from
 * 1.83-2.02 on a quiet stack to 2.27-2.40 in one `make bench`
 * (docs/performance.md). seg_setup() vacuums the whole database first, so
 * that autovacuum finds nothing due, and then waits for a worker that
 * had already started.
 */
static double
autovacuum_wait(PGconn *c)
{
	double		 t = now_ms();

	for (int i = 0; i < 600; i++) {
		PGresult *res = run(c, "SELECT count(*) FROM pg_stat_activity "
		    "WHERE backend_type = 'autovacuum worker' AND datname = current_database()", 0, NULL);
		int busy = atoi(PQgetvalue(res, 0, 0));

		PQclear(res);
		if (busy == 0)
			break;
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return now_ms() - t;
}

/*
 * Registers the segment site and gives it the 7 days of raw events that
 * seg_fill_sql makes, oldest day first as ingest would (a visit is built
 * from what came before it), into the days' partitions as maintain()
 * makes them; then the bulk round and what autovacuum would do, for every
 * table (autovacuum_wait()). Its id in id.
 */
static void
seg_setup(PGconn *c, char *id, size_t idsz)
{
	const char	*key[1] = { SEG_SITE };
	char		 day[11], n[4][32];
	PGresult	*res;
	double		 t, v, w;

	PQclear(run(c, "SELECT sitepulse.remove_site($1)", 1, key));
	res = run(c, "SELECT sitepulse.add_site($1, 'filtered heatmap benchmark', '{}')", 1, key);
	snprintf(id, idsz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	PQclear(run(c, "SELECT setseed(0.42)", 0, NULL));
	t = now_ms();
	for (int d = 6; d >= 0; d--) {
		time_t ago = time(NULL) - d * 86400;
		struct tm tm;
		strftime(day, sizeof(day), "%Y-%m-%d", gmtime_r(&ago, &tm));
		const char *p[3] = { id, day, SEG_VISITS }, *dp[1] = { day };
		PQclear(run(c, "SELECT sitepulse.ensure_day_partition($1::date)", 1, dp));
		PQclear(run(c, seg_fill_sql, 3, p));
	}
	t = now_ms() - t;
	PQclear(run(c, "SELECT sitepulse.compact_click_grids(NULL)", 0, NULL));
	v = now_ms();
	PQclear(run(c, "VACUUM ANALYZE", 0, NULL));
	v = now_ms() - v;
	w = autovacuum_wait(c);
	printf("# segment site: %s events (%s clicks on /bench) in %s visits of %s visitors, "
	    "inserted with their triggers in %.0f ms; vacuumed in %.0f ms, then %.0f ms waiting "
	    "for autovacuum\n",
	    count_of(c, "SELECT count(*) FROM sitepulse.events WHERE site_id = $1", id, n[0], 32),
	    count_of(c, "SELECT count(*) FROM sitepulse.events WHERE site_id = $1 AND type = 'click' "
	    "AND path = '/bench'", id, n[1], 32),
	    count_of(c, "SELECT count(*) FROM sitepulse.visits WHERE site_id = $1", id, n[2], 32),
	    count_of(c, "SELECT count(DISTINCT visitor) FROM sitepulse.visits WHERE site_id = $1", id,
	    n[3], 32), t, v, w);
}

/*
 * The segment site's click map of /bench, device all, over the 7 days,
 * drawn unfiltered (Q_CELLS) and with each of filters (Q_FCELLS), in turn
 * within each of runs rounds so that the machine's load falls on all
 * alike; prints each map's median read and total (read to PNG) and the
 * ratios filtered / unfiltered.
 */
static void
seg_maps(PGconn *c, const char *id, int runs)
{
	double		 t_read[1 + NFILTERS][64], t_all[1 + NFILTERS][64];
	long long	 clicks[1 + NFILTERS];
	char		 from[11], to[11];
	const char	*p[6];

	range(id, from, to, p);
	p[4] = "all";
	for (int r = 0; r < runs; r++)
		for (size_t k = 0; k <= NFILTERS; k++) {
			struct cells in;
			struct steps st;
			double t0 = now_ms(), t1;

			p[5] = k ? filters[k - 1] : NULL;
			read_sets(c, k ? fcells_sql : cells_sql, k ? 6 : 5, p, &in);
			t1 = now_ms();
			render(&in, 0, &st);
			t_read[k][r] = t1 - t0;
			t_all[k][r] = t1 - t0 + st.dens + st.col + st.enc;
			clicks[k] = heatmap_total(in.sets, in.nsets);
			PQclear(in.res);
		}
	double read0 = median(t_read[0], runs), all0 = median(t_all[0], runs);
	printf("filtered heatmap %dx%d of /bench, device all, 7 days, median of %d runs:\n",
	    WIDTH, HEIGHT, runs);
	printf("  %-30s read %7.1f ms  total %7.1f ms  (%lld clicks)\n", "unfiltered (rollups)",
	    read0, all0, clicks[0]);
	for (size_t k = 1; k <= NFILTERS; k++) {
		double read = median(t_read[k], runs), all = median(t_all[k], runs);
		printf("  %-30s read %7.1f ms  total %7.1f ms  (%lld clicks)\n", filters[k - 1],
		    read, all, clicks[k]);
		printf("  %-30s read %.1fx, total %.2fx the unfiltered (target <= 2: %s)\n", "",
		    read0 > 0 ? read / read0 : 0, all0 > 0 ? all / all0 : 0,
		    all <= 2 * all0 ? "met" : "not met");
	}
}

int
main(int argc, char **argv)
{
	int		 runs = argc > 1 ? atoi(argv[1]) : 7;
	double		 t_read[64], t_dens[64], t_col[64], t_enc[64], t_all[64], t_rows[64];
	double		 t_packed[64], t_scroll[64], t_gd[64];
	PGconn		*c = PQconnectdb("");
	char		 id[16] = "";
	long		 bytes = 0;
	long long	 ncells = 0;

	runs = runs < 1 ? 1 : runs > 64 ? 64 : runs;
	if (PQstatus(c) == CONNECTION_OK)
		setup(c, id, sizeof(id));
	else
		printf("# no database (%s): cells made in memory, no read time\n", PQerrorMessage(c));
	for (int r = 0; r < runs; r++) {
		double t0 = now_ms(), t1;
		struct cells in;
		struct steps st;
		uint64_t digest = 0;
		long long rows = 0;

		if (id[0])
			read_cells(c, id, &in);
		else
			fake_cells(&in);
		heatmap_digest_cells(&digest, &rows, in.sets, in.nsets);
		t1 = now_ms();
		if (!id[0])
			t0 = t1;
		render(&in, 1, &st);
		t_gd[r] = st.gd;
		bytes = st.size;
		ncells = rows;
		PQclear(in.res);
		free(in.mem);
		t_read[r] = t1 - t0, t_dens[r] = st.dens, t_col[r] = st.col, t_enc[r] = st.enc;
		t_all[r] = t_read[r] + st.dens + st.col + st.enc;
		t_rows[r] = id[0] ? read_rows(c, id) : 0;
		t_scroll[r] = id[0] ? scroll_map(c, id) : 0;
	}
	double read = id[0] ? median(t_read, runs) : 0.0, rows = median(t_rows, runs);
	double total = median(t_all, runs), dens = median(t_dens, runs), col = median(t_col, runs);
	double enc = median(t_enc, runs);
	printf("heatmap %dx%d, %d clicks in %lld cells, PNG %ld bytes, median of %d runs:\n",
	    WIDTH, HEIGHT, CLICKS, ncells, bytes, runs);
	printf("  read      %7.1f ms  (click_density(): 6 packed days + today's click_cells)\n", read);
	printf("  density   %7.1f ms  (cells, 3 box blurs, 99th percentile)\n", dens);
	printf("  colour    %7.1f ms\n", col);
	printf("  encode    %7.1f ms  (palette PNG, zlib level 1, run-length)\n", enc);
	printf("  total     %7.1f ms  (target <= 150 ms: %s, %.2f of it)\n", total,
	    total <= 150 ? "met" : "not met", total / 150);
	printf("  split     read %.0f%%, density %.0f%%, colour %.0f%%, encode %.0f%%\n",
	    100 * read / total, 100 * dens / total, 100 * col / total, 100 * enc / total);
	if (id[0]) {
		const char *key[1] = { SITE };
		PQclear(run(c, "SELECT sitepulse.compact_click_grids(NULL, current_date + 1)", 0, NULL));
		for (int r = 0; r < runs; r++) {
			struct cells in;
			double t0 = now_ms();
			read_cells(c, id, &in);
			t_packed[r] = now_ms() - t0;
			PQclear(in.res);
		}
		double packed = median(t_packed, runs);
		double gd = median(t_gd, runs), before = total - read + rows - enc + gd;
		printf("  same run: read as before 017 (every click_cells row) %.1f ms; now %.2f of it\n",
		    rows, rows > 0 ? read / rows : 0);
		printf("  same run: encode through libgd as before %.1f ms; now %.2f of it\n",
		    gd, gd > 0 ? enc / gd : 0);
		printf("  same run: total as before (that read and encoder) %.1f ms (%.2f of the target); "
		    "now %.2f of it\n", before, before / 150, total / before);
		printf("  same run: read with today packed too %.1f ms (%.2f of the read above)\n",
		    packed, read > 0 ? packed / read : 0);
		printf("  scroll map %dx%d, 7 days: %.1f ms read to PNG (%.2f of the click map)\n",
		    WIDTH, HEIGHT, median(t_scroll, runs), median(t_scroll, runs) / total);
		PQclear(run(c, "SELECT sitepulse.remove_site($1)", 1, key));
		seg_setup(c, id, sizeof(id));
		seg_maps(c, id, runs);
		key[0] = SEG_SITE;
		PQclear(run(c, "SELECT sitepulse.remove_site($1)", 1, key));
	}
	PQfinish(c);
	return 0;
}
