/*
 * sp-heatmap: click and scroll maps as PNG, and what the dashboard's
 * heatmap viewer needs beside them.
 *
 *   GET /sitepulse/heatmap.png?site=&path=[&kind=click|scroll]
 *       [&device=desktop|tablet|mobile|all][&from=DATE&to=DATE][&width=PX][&overlay=0|1][&legend=0|1]
 *       [&compare_from=DATE&compare_to=DATE][&filters=TERM;...]
 *   GET /sitepulse/heatmap.json?site=[&path=][&device=][&from=&to=][&compare_from=&compare_to=]
 *       [&filters=TERM;...]
 *       top pages, and for path its clicks, views, top clicked elements
 *       and screenshot (and the compared range's clicks and views)
 *   GET /sitepulse/heatmap-shot.png?site=&path=[&device=][&filters=...]
 *       the newest stored screenshot of the page, as stored (filters=,
 *       which the dashboard sends with every request, is checked and
 *       changes nothing)
 *
 * On a share route (SITEPULSE_ACCESS=share; /sitepulse/share/heatmap.* in
 * the shipped configs) share=TOKEN takes the place of site=: only the
 * token's site is served, an unknown token is 404, and a site= naming
 * another site is 403. Everything here is read-only either way.
 *
 * Everything is read from the rollups (click density through
 * sitepulse.click_density(): closed days as one packed value each,
 * sql/017_click_grids.sql; element_cells, scroll_depths, page_days,
 * element_clicks) and the screenshots, never from raw events, but with
 * filters= (a segment, as /sitepulse/stats takes it: at most 2048 bytes
 * of text, no control characters; empty is none): then the clicks,
 * element cells, scroll depths, totals, top elements and the page list
 * are the segment's, counted from its raw events by the functions of
 * sql/report/segment_heatmaps.sql in the same forms as the rollups give
 * them, and a bad term is the database's refusal, answered 400 with its
 * reason. Whether a page has data at all (404) stays the rollups' word:
 * a known page the segment never saw is an empty map. The
 * parameters, sizing, density and difference are heatmap.c's pure
 * functions. Defaults: kind=click, device=desktop, the last 30 days
 * (UTC) ending today, width = the device class's reference width (1280 for
 * all), overlay=0, legend=1 (legend=0 leaves out the small legend drawn in
 * the image's top right corner, for a page that shows its own, as the
 * dashboard does). With device=all every class is scaled to the output width
 * and the desktop screenshot is used.
 *
 * Click maps are layout-proof where the page's screenshot carries element
 * boxes: clicks credited to an element with a box are drawn at their
 * position inside that box (element_cells), and the document-position
 * cells inside those boxes are left out so they are not counted twice;
 * every other click is drawn at its document position. Clicks of other
 * device classes (device=all) are always drawn by document position.
 *
 * The image is as tall as the screenshot scaled to the width when there is
 * one (with or without overlay, so that the dashboard can lay the two
 * over each other), else as the lowest click plus a margin (a scroll map
 * without screenshot: twice the width), clipped to 20000 px and 40 Mpx.
 * Unknown site: 404. A known page with nothing in the range: 200 with an
 * empty, transparent map (the dashboard shows it while it fills in); a
 * page with no data at all in the range and no screenshot: 404.
 *
 * With compare_from and compare_to the map is the difference of the two
 * ranges (heatmap_difference()): warm where from..to has a larger share
 * of its clicks (or, for a scroll map, of its views reaching a depth)
 * than the compared range, blue where smaller, clear where equal.
 *
 * The ETag is a hash of the parameters, the screenshot version and an
 * order-independent digest of every rollup cell and row read, so an unchanged
 * heatmap costs the reads and no rendering: If-None-Match answers 304.
 * Single-threaded: lighttpd runs a small pool of processes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>
#include <gd.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "access.h"
#include "config.h"
#include "counters.h"
#include "db.h"
#include "hash.h"
#include "heat.h"
#include "heatmap.h"
#include "http.h"
#include "param.h"
#include "util.h"
#include "valid.h"

#define BLUR_RADIUS	 3	/* cells; three passes: sigma 3.5 cells, 14 px at reference */
#define BLUR_PASSES	 3

enum stmt { Q_SITE, Q_SHARE, Q_SHOT, Q_SHOT_PNG, Q_CELLS, Q_ELEMENTS, Q_SCROLL, Q_KNOWN,
    Q_PAGES, Q_TOP, Q_TOTALS, Q_BOXES, Q_FCELLS, Q_FELEMENTS, Q_FSCROLL, Q_FPAGES, Q_FTOP,
    Q_FTOTALS, Q__MAX };


static const char *const sql[Q__MAX] = {
	/* A site the signed-in user $2 holds a role on (sql/022); else no row, as for an unknown key. */
	[Q_SITE] = "SELECT id, key FROM sitepulse.sites WHERE key = $1 "
	    "AND sitepulse.site_role($2, $1) IS NOT NULL",
	[Q_SHARE] = "SELECT id, key FROM sitepulse.sites WHERE key = sitepulse.share_site($1)",
	[Q_SHOT] = "SELECT id, width, height, created_at FROM sitepulse.screenshots "
	    "WHERE site_id = $1 AND path = $2 AND device = $3 ORDER BY id DESC LIMIT 1",
	[Q_SHOT_PNG] = "SELECT png FROM sitepulse.screenshots WHERE id = $1",
	/* In binary (main() sets it): int4 width, bytea of packed cells. */
	[Q_CELLS] = "SELECT width, cells FROM sitepulse.click_density($1::int, $2, $3::date, "
	    "$4::date, $5)",
	[Q_ELEMENTS] = "SELECT e.x, e.y, e.w, e.h, c.ex_cell, c.ey_cell, sum(c.clicks)::bigint "
	    "FROM sitepulse.element_cells c JOIN sitepulse.screenshot_elements e "
	    "ON e.screenshot_id = $6 AND e.sel = c.sel "
	    "WHERE c.site_id = $1 AND c.path = $2 AND c.day BETWEEN $3::date AND $4::date "
	    "AND c.device = $5 GROUP BY 1, 2, 3, 4, 5, 6",
	[Q_SCROLL] = "SELECT depth, sum(views)::bigint FROM sitepulse.scroll_depths "
	    "WHERE site_id = $1 AND path = $2 AND day BETWEEN $3::date AND $4::date "
	    "AND ($5 = 'all' OR device = $5) GROUP BY depth",
	/*
	 * Page views, clicks or scroll depths of the page on UTC days $3..$4,
	 * of any device class; each read by its primary key's prefix.
	 */
	[Q_KNOWN] = "SELECT EXISTS (SELECT 1 FROM sitepulse.page_days WHERE site_id = $1 "
	    "AND day BETWEEN $3::date AND $4::date AND path = $2) "
	    "OR EXISTS (SELECT 1 FROM sitepulse.click_cells WHERE site_id = $1 "
	    "AND day BETWEEN $3::date AND $4::date AND path = $2) "
	    "OR EXISTS (SELECT 1 FROM sitepulse.scroll_depths WHERE site_id = $1 "
	    "AND day BETWEEN $3::date AND $4::date AND path = $2)",
	/* Page views per UTC day and page (sql/007); the ranges are whole days. */
	[Q_PAGES] = "SELECT path, sum(pageviews)::bigint FROM sitepulse.page_days "
	    "WHERE site_id = $1 AND day BETWEEN $2::date AND $3::date "
	    "GROUP BY path ORDER BY 2 DESC, 1 LIMIT 50",
	[Q_BOXES] = "SELECT sel, x, y, w, h FROM sitepulse.screenshot_elements "
	    "WHERE screenshot_id = $1 ORDER BY sel",
	[Q_TOP] = "SELECT sel, sum(clicks)::bigint, sum(rage)::bigint, sum(dead)::bigint "
	    "FROM sitepulse.element_clicks WHERE site_id = $1 AND path = $2 "
	    "AND day BETWEEN $3::date AND $4::date GROUP BY sel ORDER BY 2 DESC, 1 LIMIT 50",
	[Q_TOTALS] = "SELECT sitepulse.click_total($1::int, $2, $3::date, $4::date, $5), "
	    "(SELECT coalesce(sum(pageviews), 0)::bigint FROM sitepulse.page_days "
	    "WHERE site_id = $1 AND day BETWEEN $3::date AND $4::date AND path = $2)",
	/*
	 * With filters: the same answers for the segment's visits, counted from
	 * raw events (sql/report/segment_heatmaps.sql); the filters come after
	 * the arguments the rollup statement takes, the screenshot id last.
	 */
	[Q_FCELLS] = "SELECT width, cells FROM report.click_density($1::int, $2, $3::date, $4::date, "
	    "$5, $6::text)",
	[Q_FELEMENTS] = "SELECT e.x, e.y, e.w, e.h, c.ex_cell, c.ey_cell, sum(c.clicks)::bigint "
	    "FROM report.element_cells($1::int, $2, $3::date, $4::date, $5, $6::text) c "
	    "JOIN sitepulse.screenshot_elements e ON e.screenshot_id = $7 AND e.sel = c.sel "
	    "GROUP BY 1, 2, 3, 4, 5, 6",
	[Q_FSCROLL] = "SELECT depth, views FROM report.scroll_depths($1::int, $2, $3::date, $4::date, "
	    "$5, $6::text)",
	[Q_FPAGES] = "SELECT path, pageviews FROM report.heatmap_pages($1::int, $2::date, $3::date, 50, "
	    "$4::text)",
	[Q_FTOP] = "SELECT sel, clicks, rage, dead FROM report.element_clicks($1::int, $2, $3::date, "
	    "$4::date, 50, $5::text)",
	[Q_FTOTALS] = "SELECT report.click_total($1::int, $2, $3::date, $4::date, $5, $6::text), "
	    "report.page_views($1::int, $2, $3::date, $4::date, $6::text)",
};

/* Everything a request needs, kept for the life of the process. */
struct heatmap {
	struct sp_config	 cfg;
	struct db		 db;
	struct counters		*ctr;		/* shared metrics (may be NULL) */
};

/* The site a request is for, once resolved. */
struct site {
	char	 id[16];
	char	 key[72];
};

/* The newest screenshot of a page, if any (id[0] == '\0': none). */
struct shot {
	char	 id[24];
	int	 width, height;
	char	 created[40];
};

/* What one date range's map is drawn from. */
struct reading {
	const struct param_range *range;
	PGresult		*cells, *elements;
	struct heatmap_cells	*sets;
	size_t			 nsets;
	struct heatmap_element	*el;
	size_t			 nel;
	long long		 views[101];	/* scroll: views per deepest depth */
};

/* One heatmap in the making. */
struct render {
	struct heatmap_params	 p;
	const char		*filters;	/* filters=, or NULL */
	struct site		 site;
	struct shot		 shot;
	int			 R;		/* reference width the grid is laid out in */
	struct heatmap_size	 size;
	struct reading		 in[2];		/* the range, and the compared range */
	int			 nin;
	long long		 rows;		/* rollup cells and rows read */
	uint64_t		 digest;	/* order-independent digest of those */
	char			 etag[40];
	double			 t0, t_read, t_density, t_colour, t_encode;
};

/* Milliseconds on the monotonic clock, with sub-millisecond resolution. */
static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Answers a failed db_exec: the refusal's status and reason when the
 * database refused the request's input (a bad filter: 400), 503 with
 * Retry-After when it is down, 500 when a statement failed (the log has
 * the details).
 */
static void
db_error(struct heatmap *h, FCGX_Request *r)
{
	if (h->db.err == DB_REFUSED)
		http_error(r, h->db.refusal.status, h->db.refusal.reason, NULL);
	else
		http_db_error(r, h->db.err == DB_DOWN, h->cfg.retry_after);
}

/*
 * Parses the query into q and validates it into p and *filters, whose
 * strings point into q (shared: a share route). Returns 1, or 0 after
 * answering 400.
 */
static int
parse_request(FCGX_Request *r, int shared, int need_path, struct http_query *q,
    struct heatmap_params *p, const char **filters)
{
	const char	*why;

	if (!http_query_parse(http_param(r, "QUERY_STRING"), q)) {
		http_error(r, 400, "query: malformed", NULL);
		return 0;
	}
	if (!http_query_filters(q, filters, &why) ||
	    !heatmap_parse(q, shared, need_path, (long)(time(NULL) / 86400), p, &why)) {
		http_error(r, 400, why, NULL);
		return 0;
	}
	return 1;
}

/*
 * Finds the site the request is for, by key or by share token (then
 * checking any site= against it), into s. Returns 1, or 0 after answering
 * 404 (unknown site or share link, or by key a site the signed-in user
 * holds no role on: the same answer), 403 (a share link asked for another
 * site), 500 or 503.
 */
static int
resolve_site(struct heatmap *h, FCGX_Request *r, const struct heatmap_params *p, struct site *s)
{
	const char	*params[2] = { p->share != NULL ? p->share : p->site, http_param(r, "REMOTE_USER") };
	PGresult	*res = db_exec(&h->db, p->share != NULL ? Q_SHARE : Q_SITE,
	    p->share != NULL ? 1 : 2, params);
	int		 found;

	if (res == NULL) {
		db_error(h, r);
		return 0;
	}
	if ((found = PQntuples(res) == 1)) {
		snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(res, 0, 0));
		snprintf(s->key, sizeof(s->key), "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	if (p->share == NULL) {
		if (!found)
			http_error(r, 404, "unknown site", NULL);
		return found;
	}
	switch (heatmap_share_check(p->site, found ? s->key : NULL)) {
	case HEATMAP_SHARE_UNKNOWN:
		http_error(r, 404, "unknown share link", NULL);
		return 0;
	case HEATMAP_SHARE_OTHER_SITE:
		http_error(r, 403, "site: not this share link's site", NULL);
		return 0;
	default:
		return 1;
	}
}

/* Reads the newest screenshot of the page for device into *s. Returns 1, or 0 on a database error. */
static int
find_shot(struct heatmap *h, const char *site_id, const char *path, const char *device,
    struct shot *s)
{
	const char	*params[3] = { site_id, path, device };
	PGresult	*res = db_exec(&h->db, Q_SHOT, 3, params);

	memset(s, 0, sizeof(*s));
	if (res == NULL)
		return 0;
	if (PQntuples(res) == 1) {
		snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(res, 0, 0));
		s->width = atoi(PQgetvalue(res, 0, 1));
		s->height = atoi(PQgetvalue(res, 0, 2));
		snprintf(s->created, sizeof(s->created), "%s", PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	return 1;
}

/*
 * The stored PNG bytes of screenshot id (the caller PQfreemem()s them),
 * with their count in *n; NULL with *dberr set when the database failed,
 * NULL alone when the screenshot is gone.
 */
static unsigned char *
shot_png(struct heatmap *h, const char *id, size_t *n, int *dberr)
{
	const char	*params[1] = { id };
	PGresult	*res = db_exec(&h->db, Q_SHOT_PNG, 1, params);
	unsigned char	*png = NULL;

	*n = 0;
	*dberr = res == NULL;
	if (res != NULL && PQntuples(res) == 1)
		png = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), n);
	PQclear(res);
	return png;
}

static long long
num(const PGresult *res, int row, int col)
{
	return atoll(PQgetvalue(res, row, col));
}

/*
 * Takes the packed cells of a binary click_density() answer into in->sets
 * (pointing into in->cells). Returns 1, or 0 when a row is not what the
 * statement answers (logged: a mismatch of program and schema).
 */
static int
take_cells(struct reading *in)
{
	int	 n = PQntuples(in->cells);

	in->sets = xcalloc(n > 0 ? n : 1, sizeof(*in->sets));
	for (int i = 0; i < n; i++) {
		const unsigned char *w = (const unsigned char *)PQgetvalue(in->cells, i, 0);
		size_t len = (size_t)PQgetlength(in->cells, i, 1);
		int refw;

		if (PQfformat(in->cells, 0) != 1 || PQgetlength(in->cells, i, 0) != 4 ||
		    !heatmap_cells_ok(len)) {
			fprintf(stderr, "sp-heatmap: click_density() row %d is not (int4, packed cells)\n", i);
			return 0;
		}
		refw = (int)((uint32_t)w[0] << 24 | (uint32_t)w[1] << 16 | (uint32_t)w[2] << 8 | w[3]);
		if (refw <= 0)
			continue;
		in->sets[in->nsets++] = (struct heatmap_cells){ refw,
		    (const unsigned char *)PQgetvalue(in->cells, i, 1), len / HEATMAP_CELL_BYTES };
	}
	return 1;
}

/* Takes the element cells into in->el, digesting each row into rd. */
static void
take_elements(struct render *rd, struct reading *in)
{
	int	 n = PQntuples(in->elements);

	in->el = xcalloc(n > 0 ? n : 1, sizeof(*in->el));
	for (int i = 0; i < n; i++) {
		struct heatmap_element *e = &in->el[in->nel++];
		*e = (struct heatmap_element){ (int)num(in->elements, i, 0), (int)num(in->elements, i, 1),
		    (int)num(in->elements, i, 2), (int)num(in->elements, i, 3),
		    (int)num(in->elements, i, 4), (int)num(in->elements, i, 5), num(in->elements, i, 6) };
		heatmap_digest(&rd->digest, (long long)e->x << 20 ^ e->y, (long long)e->w << 20 ^ e->h,
		    (long long)e->ex << 8 ^ e->ey, e->clicks);
		rd->rows++;
	}
}

/*
 * Reads what one range's map is drawn from: click cells and, where the
 * screenshot has element boxes, element cells; or the scroll depths; of
 * the segment with filters (one more parameter, before the screenshot).
 * Digests every cell and row. Returns 1, or 0 on a database error.
 */
static int
read_range(struct heatmap *h, struct render *rd, struct reading *in)
{
	int		 f = rd->filters != NULL;
	const char	*params[7] = { rd->site.id, rd->p.path, in->range->from, in->range->to,
	    rd->p.device, f ? rd->filters : rd->shot.id, rd->shot.id };
	PGresult	*res;

	if (rd->p.scroll) {
		if ((res = db_exec(&h->db, f ? Q_FSCROLL : Q_SCROLL, 5 + f, params)) == NULL)
			return 0;
		for (int i = 0; i < PQntuples(res); i++) {
			long long d = num(res, i, 0), n = num(res, i, 1);
			if (d >= 0 && d <= 100)
				in->views[d] += n;
			heatmap_digest(&rd->digest, d, 0, 0, n);
			rd->rows++;
		}
		PQclear(res);
		return 1;
	}
	if ((in->cells = db_exec(&h->db, f ? Q_FCELLS : Q_CELLS, 5 + f, params)) == NULL ||
	    !take_cells(in))
		return 0;
	heatmap_digest_cells(&rd->digest, &rd->rows, in->sets, in->nsets);
	if (rd->shot.id[0] == '\0')
		return 1;
	params[4] = heatmap_shot_device(&rd->p);
	if ((in->elements = db_exec(&h->db, f ? Q_FELEMENTS : Q_ELEMENTS, 6 + f, params)) == NULL)
		return 0;
	take_elements(rd, in);
	return 1;
}

static void
reading_free(struct reading *in)
{
	PQclear(in->cells);
	PQclear(in->elements);
	free(in->sets);
	free(in->el);
}

/*
 * The ETag: a BLAKE2b hash of what the image depends on, the parameters
 * as validated, the screenshot version and the digest of what was read.
 */
static void
make_etag(struct render *rd)
{
	unsigned char	 out[16];
	char		 buf[1024 + HTTP_FILTERS_MAX];
	int		 n;

	n = snprintf(buf, sizeof(buf), "v2|%s|%s|%d|%s|%s|%s|%s|%s|%d|%d|%d|%s|%lld|%llu|%s",
	    rd->site.id, rd->p.path, rd->p.scroll, rd->p.device, rd->p.range.from, rd->p.range.to,
	    rd->p.compare ? rd->p.against.from : "", rd->p.compare ? rd->p.against.to : "",
	    rd->size.W, rd->p.overlay, rd->p.no_legend, rd->shot.id, rd->rows, (unsigned long long)rd->digest,
	    rd->filters ? rd->filters : "");
	crypto_generichash(out, sizeof(out), (const unsigned char *)buf,
	    n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1, NULL, 0);
	rd->etag[0] = '"';
	sodium_bin2hex(rd->etag + 1, sizeof(rd->etag) - 2, out, sizeof(out));
	strcat(rd->etag, "\"");
}

/* True when the request's If-None-Match names etag (or is "*"). */
static int
not_modified(FCGX_Request *r, const char *etag)
{
	const char	*inm = http_param(r, "HTTP_IF_NONE_MATCH");

	return inm != NULL && (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0);
}

/* The density grid of one range (heatmap_density()), blurred. */
static struct heat_grid *
range_density(const struct render *rd, const struct reading *in)
{
	struct heatmap_clicks	 c = { in->sets, in->nsets, in->el, in->nel, rd->shot.width,
	    param_device(heatmap_shot_device(&rd->p), 0)->width };
	struct heat_grid	*g = heatmap_density(&c, rd->R, rd->size.Href);

	heat_blur(g, BLUR_RADIUS, BLUR_PASSES);
	return g;
}

/*
 * Paints a click map into im: density, blur, normalisation at the 99th
 * percentile, palette; or with a compared range the difference of the
 * two, normalised at the 99th percentile of its magnitude.
 */
static void
paint_clicks(struct render *rd, gdImagePtr im)
{
	struct heat_grid	*g = range_density(rd, &rd->in[0]), *b;
	double			 cellpx = (double)HEAT_CELL * rd->size.W / rd->R;

	if (rd->nin == 2) {
		b = range_density(rd, &rd->in[1]);
		heatmap_difference(g, b);
		heat_grid_free(b);
		heatmap_signed_normalise(g, 0.99);
		rd->t_density = now_ms();
		heat_diff_paint(g, im->pixels, rd->size.W, rd->size.H, cellpx);
		if (!rd->p.no_legend)
			heat_legend(im, "fewer", "more clicks");
	} else {
		heat_normalise(g, heat_percentile(g, 0.99));
		rd->t_density = now_ms();
		heat_paint(g, im->pixels, rd->size.W, rd->size.H, cellpx);
		if (!rd->p.no_legend)
			heat_legend(im, "fewer", "more clicks");
	}
	heat_grid_free(g);
}

/*
 * Paints a scroll map into im: rows shaded by the share of views reaching
 * them (or its difference from the compared range's), lines where 75, 50
 * and 25 % of views stop, and the fold (the first screen of the device
 * class) when the page is longer.
 */
static void
paint_scroll(struct render *rd, gdImagePtr im)
{
	static const double	 marks[] = { 0.75, 0.5, 0.25 };
	double			 share[101], other[101], diff[101];
	double			 doc = rd->size.Hdoc * rd->size.W / rd->R;
	char			 label[48];

	heat_scroll_share(rd->in[0].views, share);
	rd->t_density = now_ms();
	if (rd->nin == 2) {
		heat_scroll_share(rd->in[1].views, other);
		heatmap_scroll_difference(share, other, diff);
		heat_scroll_diff_paint(diff, im->pixels, rd->size.W, rd->size.H, doc);
	} else
		heat_scroll_paint(share, im->pixels, rd->size.W, rd->size.H, doc);
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		int d = heat_scroll_reach(share, marks[i]);
		if (d < 0 || d == 100)
			continue;
		snprintf(label, sizeof(label), "%d%% of views reach here", (int)(marks[i] * 100));
		heat_marker(im, (int)(d / 100.0 * doc), label);
	}
	if (strcmp(rd->p.device, "all") != 0 && rd->p.dev->fold < rd->size.Href)
		heat_marker(im, (int)((double)rd->p.dev->fold * rd->size.W / rd->p.dev->width),
		    "fold (first screen)");
	if (rd->p.no_legend)
		return;
	if (rd->nin == 2)
		heat_legend(im, "fewer", "more views");
	else
		heat_legend(im, "nobody", "all views");
}

/*
 * Draws the heat image over the screenshot scaled to the output width.
 * Returns a new truecolour image (the caller destroys it), or NULL when
 * the screenshot cannot be loaded (then the plain map is answered).
 */
static gdImagePtr
overlay(struct heatmap *h, struct render *rd, gdImagePtr heat)
{
	unsigned char	*png;
	size_t		 n;
	int		 dberr;
	gdImagePtr	 shot = NULL, out;

	png = shot_png(h, rd->shot.id, &n, &dberr);
	if (png != NULL && n > 0 && n < INT32_MAX)
		shot = gdImageCreateFromPngPtr((int)n, png);
	PQfreemem(png);
	if (shot == NULL)
		return NULL;
	if ((out = gdImageCreateTrueColor(rd->size.W, rd->size.H)) == NULL)
		abort();
	gdImageFilledRectangle(out, 0, 0, rd->size.W - 1, rd->size.H - 1, gdTrueColor(255, 255, 255));
	gdImageCopyResampled(out, shot, 0, 0, 0, 0, rd->size.W,
	    (int)lround((double)gdImageSY(shot) * rd->size.W / gdImageSX(shot)),
	    gdImageSX(shot), gdImageSY(shot));
	gdImageDestroy(shot);
	heat_composite(out, heat);
	return out;
}

/* Writes the PNG answer with its caching and timing headers (no body for HEAD). */
static void
send_png(FCGX_Request *r, struct render *rd, const void *png, int size)
{
	char	 hdr[700];

	snprintf(hdr, sizeof(hdr), "Content-Type: image/png\r\nContent-Length: %d\r\n"
	    "Cache-Control: private, no-cache\r\nETag: %s\r\n%s"
	    "Server-Timing: read;dur=%.1f, density;dur=%.1f, colour;dur=%.1f, encode;dur=%.1f\r\n",
	    size, rd->etag, rd->size.clipped ? "X-SitePulse-Clipped: 1\r\n" : "",
	    rd->t_read - rd->t0, rd->t_density - rd->t_read, rd->t_colour - rd->t_density,
	    rd->t_encode - rd->t_colour);
	http_status(r, 200, hdr);
	if (!http_method_is(r, "HEAD"))
		FCGX_PutStr(png, size, r->out);
}

/*
 * Renders and sends the map described by rd, whose rollups have been read.
 * A map sent counts as a render, timed from the request's start.
 */
static void
render_png(struct heatmap *h, FCGX_Request *r, struct render *rd)
{
	gdImagePtr	 im, out = NULL;
	void		*png;
	int		 size = 0;

	im = rd->nin == 2 ? heat_diff_image(rd->size.W, rd->size.H) :
	    heat_image(rd->size.W, rd->size.H);
	if (rd->p.scroll)
		paint_scroll(rd, im);
	else
		paint_clicks(rd, im);
	if (rd->p.overlay && rd->shot.id[0] != '\0')
		out = overlay(h, rd, im);
	rd->t_colour = now_ms();
	png = heat_png(out != NULL ? out : im, &size);
	rd->t_encode = now_ms();
	if (png == NULL)
		http_error(r, 500, "internal error", NULL);
	else {
		counters_add(h->ctr, C_HEATMAP_RENDERS, 1);
		counters_observe(h->ctr, H_HEATMAP_MS, rd->t_encode - rd->t0);
		send_png(r, rd, png, size);
	}
	free(png);
	if (out != NULL)
		gdImageDestroy(out);
	gdImageDestroy(im);
}

/*
 * Whether the page has any data in range beyond what was read: page
 * views, clicks or scroll depths of any device class. Returns 1, 0, or -1
 * on a database error.
 */
static int
range_known(struct heatmap *h, const struct render *rd, const struct param_range *range)
{
	const char	*params[4] = { rd->site.id, rd->p.path, range->from, range->to };
	PGresult	*res;
	int		 known;

	if ((res = db_exec(&h->db, Q_KNOWN, 4, params)) == NULL)
		return -1;
	known = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return known;
}

/* Whether the page has anything to show in either range: 1, 0, or -1 on a database error. */
static int
page_known(struct heatmap *h, const struct render *rd)
{
	int	 rc = 0;

	if (rd->rows > 0 || rd->shot.id[0] != '\0')
		return 1;
	for (int i = 0; i < rd->nin && rc == 0; i++)
		rc = range_known(h, rd, rd->in[i].range);
	return rc;
}

/* Sizes the output: the screenshot, or the lowest click of either range (heatmap_size()). */
static void
size_output(struct render *rd)
{
	double	 lowest = 0;

	for (int i = 0; i < rd->nin && !rd->p.scroll && rd->shot.id[0] == '\0'; i++) {
		double l = heatmap_lowest(rd->in[i].sets, rd->in[i].nsets, rd->R);
		if (l > lowest)
			lowest = l;
	}
	heatmap_size(rd->p.width, rd->R, rd->shot.id[0] != '\0' ? rd->shot.width : 0,
	    rd->shot.height, rd->p.scroll, lowest, &rd->size);
}

/*
 * GET /heatmap.png. Answers 200 (PNG), 304 (If-None-Match), 400 (bad
 * parameter), 403 (a share link naming another site), 404 (unknown site
 * or share link, or a page without any data in the range), 500 or 503.
 */
static void
do_png(struct heatmap *h, FCGX_Request *r, int shared)
{
	struct http_query	 q;
	struct render		 rd;
	int			 rc;

	memset(&rd, 0, sizeof(rd));
	rd.t0 = now_ms();
	if (!parse_request(r, shared, 1, &q, &rd.p, &rd.filters) || !resolve_site(h, r, &rd.p, &rd.site))
		return;
	rd.R = rd.p.dev->width;
	rd.in[0].range = &rd.p.range;
	rd.in[1].range = &rd.p.against;
	rd.nin = rd.p.compare ? 2 : 1;
	if (!find_shot(h, rd.site.id, rd.p.path, heatmap_shot_device(&rd.p), &rd.shot)) {
		db_error(h, r);
		goto out;
	}
	for (int i = 0; i < rd.nin; i++)
		if (!read_range(h, &rd, &rd.in[i])) {
			db_error(h, r);
			goto out;
		}
	if ((rc = page_known(h, &rd)) <= 0) {
		rc < 0 ? db_error(h, r) : http_error(r, 404, "no data for this page in the range", NULL);
		goto out;
	}
	rd.t_read = now_ms();
	size_output(&rd);
	make_etag(&rd);
	if (not_modified(r, rd.etag)) {
		char hdr[128];
		snprintf(hdr, sizeof(hdr), "ETag: %s\r\nCache-Control: private, no-cache\r\n", rd.etag);
		http_status(r, 304, hdr);
		goto out;
	}
	render_png(h, r, &rd);
out:
	reading_free(&rd.in[0]);
	reading_free(&rd.in[1]);
}

/*
 * Runs statement i with n parameters and appends each row to array arr
 * as an object: names[c] for column c, numbers from column 1 on. Returns
 * 1, or 0 on a database error.
 */
static int
json_rows(struct heatmap *h, int i, int n, const char *const *params,
    const char *const *names, int ncols, struct json_object *arr)
{
	PGresult	*res = db_exec(&h->db, i, n, params);

	if (res == NULL)
		return 0;
	for (int row = 0; row < PQntuples(res); row++) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, names[0], json_object_new_string(PQgetvalue(res, row, 0)));
		for (int c = 1; c < ncols; c++)
			json_object_object_add(o, names[c], json_object_new_int64(num(res, row, c)));
		json_object_array_add(arr, o);
	}
	PQclear(res);
	return 1;
}

/* The screenshot as JSON ({"id","width","height","created_at"}), or JSON null. */
static struct json_object *
shot_json(const struct shot *s)
{
	struct json_object	*o;

	if (s->id[0] == '\0')
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "width", json_object_new_int(s->width));
	json_object_object_add(o, "height", json_object_new_int(s->height));
	json_object_object_add(o, "created_at", json_object_new_string(s->created));
	return o;
}

/*
 * Adds "clicks" (for the device class) and "views" (page views, all
 * classes) of the page in range, of the segment with filters, to o.
 * Returns 1, or 0 on a database error.
 */
static int
totals_json(struct heatmap *h, const struct heatmap_params *p, const char *filters,
    const char *site_id, const struct param_range *range, struct json_object *o)
{
	const char	*params[6] = { site_id, p->path, range->from, range->to, p->device, filters };
	PGresult	*res = db_exec(&h->db, filters ? Q_FTOTALS : Q_TOTALS, filters ? 6 : 5, params);

	if (res == NULL)
		return 0;
	json_object_object_add(o, "clicks", json_object_new_int64(num(res, 0, 0)));
	json_object_object_add(o, "views", json_object_new_int64(num(res, 0, 1)));
	PQclear(res);
	return 1;
}

/*
 * Fills o with the viewer's data: "pages" (the top 50 paths by page views
 * in the range), and with a path "clicks", "views", "elements" (its top
 * 50 clicked elements with rage and dead clicks), "screenshot" and
 * "boxes" (its element boxes, {"sel","x","y","w","h"} in its px); with a
 * compared range "compare" ({"from","to"} and, with a path, its "clicks"
 * and "views"). With filters the pages, clicks, views and elements are
 * the segment's (a page filter keeps only matching pages in the list).
 * Returns 1, or 0 on a database error.
 */
static int
viewer_data(struct heatmap *h, const struct heatmap_params *p, const char *filters,
    const char *site_id, struct json_object *o)
{
	static const char *const page_cols[] = { "path", "pageviews" };
	static const char *const elem_cols[] = { "sel", "clicks", "rage", "dead" };
	static const char *const box_cols[] = { "sel", "x", "y", "w", "h" };
	const char		*pp[4] = { site_id, p->range.from, p->range.to, filters };
	const char		*ep[5] = { site_id, p->path, p->range.from, p->range.to, filters };
	int			 f = filters != NULL;
	struct json_object	*pages = json_object_new_array(), *elems, *boxes, *cmp = NULL;
	struct shot		 s;
	const char		*bp[1] = { s.id };

	json_object_object_add(o, "pages", pages);
	if (!json_rows(h, f ? Q_FPAGES : Q_PAGES, 3 + f, pp, page_cols, 2, pages))
		return 0;
	if (p->compare) {
		cmp = json_object_new_object();
		json_object_object_add(o, "compare", cmp);
		json_object_object_add(cmp, "from", json_object_new_string(p->against.from));
		json_object_object_add(cmp, "to", json_object_new_string(p->against.to));
	}
	if (p->path == NULL)
		return 1;
	if (!totals_json(h, p, filters, site_id, &p->range, o) ||
	    (cmp != NULL && !totals_json(h, p, filters, site_id, &p->against, cmp)))
		return 0;
	elems = json_object_new_array();
	json_object_object_add(o, "elements", elems);
	if (!json_rows(h, f ? Q_FTOP : Q_TOP, 4 + f, ep, elem_cols, 4, elems) ||
	    !find_shot(h, site_id, p->path, heatmap_shot_device(p), &s))
		return 0;
	json_object_object_add(o, "screenshot", shot_json(&s));
	boxes = json_object_new_array();
	json_object_object_add(o, "boxes", boxes);
	return s.id[0] == '\0' || json_rows(h, Q_BOXES, 1, bp, box_cols, 5, boxes);
}

/*
 * GET /heatmap.json: what the dashboard's heatmap viewer lists. Answers
 * 200, 400, 403 (a share link naming another site), 404 (unknown site or
 * share link), 500 or 503.
 */
static void
do_json(struct heatmap *h, FCGX_Request *r, int shared)
{
	struct http_query	 q;
	struct heatmap_params	 p;
	struct site		 site;
	struct json_object	*o;
	const char		*filters;

	if (!parse_request(r, shared, 0, &q, &p, &filters) || !resolve_site(h, r, &p, &site))
		return;
	o = json_object_new_object();
	json_object_object_add(o, "site", json_object_new_string(site.key));
	json_object_object_add(o, "from", json_object_new_string(p.range.from));
	json_object_object_add(o, "to", json_object_new_string(p.range.to));
	json_object_object_add(o, "device", json_object_new_string(p.device));
	if (!viewer_data(h, &p, filters, site.id, o))
		db_error(h, r);
	else {
		http_status(r, 200, "Content-Type: application/json\r\nCache-Control: no-store\r\n");
		FCGX_FPrintF(r->out, "%s\n", json_object_to_json_string_ext(o,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	json_object_put(o);
}

/*
 * GET /heatmap-shot.png: the newest screenshot of a page and device class,
 * as stored (a PNG SitePulse produced). Answers 200, 304, 400, 403, 404
 * (unknown site or share link, or no screenshot), 500 or 503.
 */
static void
do_shot(struct heatmap *h, FCGX_Request *r, int shared)
{
	struct http_query	 q;
	struct heatmap_params	 p;
	struct site		 site;
	struct shot		 s;
	unsigned char		*png;
	char			 etag[40], hdr[256];
	size_t			 n;
	int			 dberr;
	const char		*filters;	/* taken, as every route takes it; a screenshot has none */

	if (!parse_request(r, shared, 1, &q, &p, &filters) || !resolve_site(h, r, &p, &site))
		return;
	if (!find_shot(h, site.id, p.path, heatmap_shot_device(&p), &s)) {
		db_error(h, r);
		return;
	}
	if (s.id[0] == '\0') {
		http_error(r, 404, "no screenshot of this page for this device class", NULL);
		return;
	}
	snprintf(etag, sizeof(etag), "\"shot-%s\"", s.id);
	snprintf(hdr, sizeof(hdr), "ETag: %s\r\nCache-Control: private, no-cache\r\n", etag);
	if (not_modified(r, etag)) {
		http_status(r, 304, hdr);
		return;
	}
	if ((png = shot_png(h, s.id, &n, &dberr)) == NULL) {
		dberr ? db_error(h, r) : http_error(r, 404, "screenshot replaced; retry", NULL);
		return;
	}
	snprintf(hdr + strlen(hdr), sizeof(hdr) - strlen(hdr),
	    "Content-Type: image/png\r\nContent-Length: %zu\r\n", n);
	http_status(r, 200, hdr);
	if (!http_method_is(r, "HEAD"))
		FCGX_PutStr((const char *)png, (int)n, r->out);
	PQfreemem(png);
}

/* The routes: path suffix under the prefix, handler; all answer GET and HEAD. */
static const struct route {
	const char	*path;
	void		(*fn)(struct heatmap *, FCGX_Request *, int);
} routes[] = {
	{ "/heatmap.png",	do_png },
	{ "/heatmap.json",	do_json },
	{ "/heatmap-shot.png",	do_shot },
};

/*
 * Routes one request. Who may ask is the web server's word, never the
 * URI's (access.h): on a share route only a share token's own site is
 * served; on any other the server must have authenticated the request,
 * or it is 401. 404 for an unknown path, 405 for a method other than GET
 * or HEAD.
 */
static void
handle(struct heatmap *h, FCGX_Request *r)
{
	struct access	 acc;
	char		 path[1024];

	if (!http_access(r, ACCESS_PROTECTED | ACCESS_SHARE, &acc))
		return;
	http_path(r, path, sizeof(path));
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!http_ends_with(path, routes[i].path))
			continue;
		if (http_method_is(r, "GET") || http_method_is(r, "HEAD"))
			routes[i].fn(h, r, acc.route == ACCESS_SHARE);
		else
			http_error(r, 405, "method not allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	http_error(r, 404, "not found", NULL);
}

int
main(void)
{
	static struct heatmap	 h;
	FCGX_Request		 r;

	if (!config_load(&h.cfg) || !hash_init())
		return 1;
	db_init(&h.db, "sp-heatmap", sql, Q__MAX, &h.cfg);
	h.db.binary = 1ULL << Q_CELLS | 1ULL << Q_FCELLS;
	h.ctr = counters_open(NULL, "sp-heatmap");
	h.db.counters = h.ctr;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		handle(&h, &r);
		FCGX_Finish_r(&r);
	}
	db_close(&h.db);
	counters_close(h.ctr);
	return 0;
}
