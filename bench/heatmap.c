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

/* Reads the cells as sp-heatmap does (binary click_density()) into *out. */
static void
read_cells(PGconn *c, const char *id, struct cells *out)
{
	char		 from[11], to[11];
	const char	*p[5];

	range(id, from, to, p);
	memset(out, 0, sizeof(*out));
	out->res = run_fmt(c, cells_sql, 5, p, 1);
	for (int i = 0; i < PQntuples(out->res) && out->nsets < 64; i++) {
		const unsigned char *w = (const unsigned char *)PQgetvalue(out->res, i, 0);
		out->sets[out->nsets++] = (struct heatmap_cells){
		    (int)((uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3]),
		    (const unsigned char *)PQgetvalue(out->res, i, 1),
		    (size_t)PQgetlength(out->res, i, 1) / HEATMAP_CELL_BYTES };
	}
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
		double t0 = now_ms(), t1, t2, t3, t4;
		struct cells in;
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
		struct heatmap_size sz;
		heatmap_size(WIDTH, WIDTH, 0, 0, 0, heatmap_lowest(in.sets, in.nsets, WIDTH), &sz);
		struct heatmap_clicks cl = { in.sets, in.nsets, NULL, 0, 0, WIDTH };
		struct heat_grid *g = heatmap_density(&cl, WIDTH, HEIGHT);
		heat_blur(g, 3, 3);
		heat_normalise(g, heat_percentile(g, 0.99));
		t2 = now_ms();
		gdImagePtr im = heat_image(WIDTH, HEIGHT);
		heat_paint(g, im->pixels, WIDTH, HEIGHT, HEAT_CELL);
		heat_legend(im, "fewer", "more clicks");
		t3 = now_ms();
		int size = 0;
		void *png = heat_png(im, &size);
		t4 = now_ms();
		int gdsize = 0;
		gdFree(gdImagePngPtrEx(im, &gdsize, 1));
		t_gd[r] = now_ms() - t4;
		bytes = size;
		ncells = rows;
		free(png);
		gdImageDestroy(im);
		heat_grid_free(g);
		PQclear(in.res);
		free(in.mem);
		t_read[r] = t1 - t0, t_dens[r] = t2 - t1, t_col[r] = t3 - t2, t_enc[r] = t4 - t3;
		t_all[r] = t4 - t0;
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
	}
	PQfinish(c);
	return 0;
}
