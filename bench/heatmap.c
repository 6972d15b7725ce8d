/*
 * bench/heatmap: how long a click map of a page 8,000 px tall at 1280 px
 * wide takes with 1,000,000 clicks in range, split into reading the
 * rollup, density and blur, colouring, and PNG encoding: the steps
 * sp-heatmap runs, through the same heat_* functions and the same query.
 *
 * With a database (libpq's PG* variables; `make bench` runs it against the
 * bench stack) it registers a throwaway site, fills click_cells for 7 days
 * with 1M clicks (60 clusters around "elements", 15 % spread over the whole
 * page, as real pages look), reads them back as sp-heatmap does, and
 * removes the site. Without one it makes the same cells in memory and
 * reports no read time. Prints the median of 7 runs of each step.
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

#define WIDTH		 1280
#define HEIGHT		 8000
#define CLICKS		 1000000
#define SITE		 "bench-heatmap"

/* The cells query of sp-heatmap (Q_CELLS). */
static const char *const cells_sql =
    "SELECT sitepulse.device_width(device), cx, cy, clicks "
    "FROM sitepulse.click_cells WHERE site_id = $1 AND path = $2 "
    "AND day BETWEEN $3::date AND $4::date AND ($5 = 'all' OR device = $5)";

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

struct cell {
	int	 cx, cy;
	long	 n;
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

/* Runs sql with params; exits on failure. The caller PQclears the result. */
static PGresult *
run(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult	*res = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "heatmap bench: %s", PQerrorMessage(c));
		exit(1);
	}
	return res;
}

/* Registers the bench site and fills its cells; returns its id as text in id. */
static void
setup(PGconn *c, char *id, size_t idsz)
{
	const char	*key[1] = { SITE };
	PGresult	*res;

	PQclear(run(c, "SELECT sitepulse.remove_site($1)", 1, key));
	res = run(c, "SELECT sitepulse.add_site($1, 'heatmap benchmark', '{}')", 1, key);
	snprintf(id, idsz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	const char *p[1] = { id };
	double t = now_ms();
	PQclear(run(c, fill_sql, 1, p));
	/* What autovacuum does soon after: without it every row is a heap visit to check visibility. */
	PQclear(run(c, "VACUUM ANALYZE sitepulse.click_cells", 0, NULL));
	printf("# filled click_cells with %d clicks in %.0f ms\n", CLICKS, now_ms() - t);
}

/* Reads the cells as sp-heatmap does; returns them (free()) and their count in *n. */
static struct cell *
read_cells(PGconn *c, const char *id, int *n)
{
	char		 from[11], to[11];
	time_t		 now = time(NULL), ago = now - 6 * 86400;
	struct tm	 tm;
	const char	*p[5] = { id, "/bench", from, to, "desktop" };
	PGresult	*res;
	struct cell	*cells;

	strftime(from, sizeof(from), "%Y-%m-%d", gmtime_r(&ago, &tm));
	strftime(to, sizeof(to), "%Y-%m-%d", gmtime_r(&now, &tm));
	res = run(c, cells_sql, 5, p);
	*n = PQntuples(res);
	cells = malloc((*n + 1) * sizeof(*cells));
	for (int i = 0; i < *n; i++) {
		cells[i].cx = atoi(PQgetvalue(res, i, 1));
		cells[i].cy = atoi(PQgetvalue(res, i, 2));
		cells[i].n = atol(PQgetvalue(res, i, 3));
	}
	PQclear(res);
	return cells;
}

/* The same distribution in memory, for a run without a database. */
static struct cell *
fake_cells(int *n)
{
	int		 cap = 1 << 20, m = 0;
	struct cell	*cells = malloc(cap * sizeof(*cells));
	double		 cx[60], cy[60];

	srand(1);
	for (int i = 0; i < 60; i++)
		cx[i] = 40 + rand() % 1200, cy[i] = 40 + rand() % 7700;
	for (int g = 0; g < CLICKS && m < cap; g += 1) {
		double x, y;
		if (g % 100 < 15)
			x = rand() % 1280, y = rand() % 7800;
		else
			x = cx[g % 60] + (rand() % 120 - 60), y = cy[g % 60] + (rand() % 40 - 20);
		cells[m++] = (struct cell){ (int)fmax(0, fmin(x, 1279)) / 4, (int)fmax(0, fmin(y, 7799)) / 4, 1 };
	}
	*n = m;
	return cells;
}

int
main(int argc, char **argv)
{
	int		 runs = argc > 1 ? atoi(argv[1]) : 7, n = 0;
	double		 t_read[64], t_dens[64], t_col[64], t_enc[64], t_all[64];
	PGconn		*c = PQconnectdb("");
	char		 id[16] = "";
	long		 bytes = 0;

	runs = runs < 1 ? 1 : runs > 64 ? 64 : runs;
	if (PQstatus(c) == CONNECTION_OK)
		setup(c, id, sizeof(id));
	else
		printf("# no database (%s): cells made in memory, no read time\n", PQerrorMessage(c));
	for (int r = 0; r < runs; r++) {
		double t0 = now_ms(), t1, t2, t3, t4;
		struct cell *cells = id[0] ? read_cells(c, id, &n) : fake_cells(&n);
		t1 = now_ms();
		if (!id[0])
			t0 = t1;
		struct heat_grid *g = heat_grid_new(WIDTH / HEAT_CELL, HEIGHT / HEAT_CELL + 1);
		for (int i = 0; i < n; i++)
			heat_splat(g, cells[i].cx + 0.5, cells[i].cy + 0.5, (double)cells[i].n);
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
		bytes = size;
		gdFree(png);
		gdImageDestroy(im);
		heat_grid_free(g);
		free(cells);
		t_read[r] = t1 - t0, t_dens[r] = t2 - t1, t_col[r] = t3 - t2, t_enc[r] = t4 - t3;
		t_all[r] = t4 - t0;
	}
	printf("heatmap %dx%d, %d clicks in %d cells, PNG %ld bytes, median of %d runs:\n",
	    WIDTH, HEIGHT, CLICKS, n, bytes, runs);
	printf("  read      %7.1f ms\n", id[0] ? median(t_read, runs) : 0.0);
	printf("  density   %7.1f ms  (cells, 3 box blurs, 99th percentile)\n", median(t_dens, runs));
	printf("  colour    %7.1f ms\n", median(t_col, runs));
	printf("  encode    %7.1f ms  (palette PNG, zlib level 1)\n", median(t_enc, runs));
	printf("  total     %7.1f ms  (target <= 150 ms)\n", median(t_all, runs));
	if (id[0]) {
		const char *key[1] = { SITE };
		PQclear(run(c, "SELECT sitepulse.remove_site($1)", 1, key));
	}
	PQfinish(c);
	return 0;
}
