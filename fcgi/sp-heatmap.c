/*
 * sp-heatmap: click and scroll maps as PNG, and what the dashboard's
 * heatmap viewer needs beside them.
 *
 *   GET /sitepulse/heatmap.png?site=&path=[&kind=click|scroll]
 *       [&device=desktop|tablet|mobile|all][&from=DATE&to=DATE][&width=PX][&overlay=0|1]
 *   GET /sitepulse/heatmap.json?site=[&path=][&device=][&from=&to=]
 *       top pages, and for path its top clicked elements and its screenshot
 *   GET /sitepulse/heatmap-shot.png?site=&path=[&device=]
 *       the newest stored screenshot of the page, as stored
 *
 * Everything is read from the rollups (click_cells, element_cells,
 * scroll_depths, page_minutes, element_clicks) and the screenshots, never
 * from raw events. Defaults: kind=click, device=desktop, the last 30 days
 * (UTC) ending today, width = the device class's reference width (1280 for
 * all), overlay=0. With device=all every class is scaled to the output width
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
 * The ETag is a hash of the parameters, the screenshot version and an
 * order-independent digest of every rollup row read, so an unchanged
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

#include "config.h"
#include "counters.h"
#include "db.h"
#include "hash.h"
#include "heat.h"
#include "access.h"
#include "http.h"
#include "param.h"
#include "util.h"
#include "valid.h"

#define MIN_WIDTH	 100
#define MAX_WIDTH	 2000
#define MAX_HEIGHT	 20000
#define MAX_PIXELS	 40000000LL
#define MAX_DAYS	 366
#define DEFAULT_DAYS	 30
#define BLUR_RADIUS	 3	/* cells; three passes: sigma 3.5 cells, 14 px at reference */
#define BLUR_PASSES	 3
#define MARGIN_REF	 200	/* px of reference height below the lowest click */

enum stmt { Q_SITE, Q_SHOT, Q_SHOT_PNG, Q_CELLS, Q_ELEMENTS, Q_SCROLL, Q_KNOWN,
    Q_PAGES, Q_TOP, Q__MAX };

static const char *const sql[Q__MAX] = {
	[Q_SITE] = "SELECT id FROM sitepulse.sites WHERE key = $1",
	[Q_SHOT] = "SELECT id, width, height, created_at FROM sitepulse.screenshots "
	    "WHERE site_id = $1 AND path = $2 AND device = $3 ORDER BY id DESC LIMIT 1",
	[Q_SHOT_PNG] = "SELECT png FROM sitepulse.screenshots WHERE id = $1",
	[Q_CELLS] = "SELECT sitepulse.device_width(device), cx, cy, clicks "
	    "FROM sitepulse.click_cells WHERE site_id = $1 AND path = $2 "
	    "AND day BETWEEN $3::date AND $4::date AND ($5 = 'all' OR device = $5)",
	[Q_ELEMENTS] = "SELECT e.x, e.y, e.w, e.h, c.ex_cell, c.ey_cell, sum(c.clicks)::bigint "
	    "FROM sitepulse.element_cells c JOIN sitepulse.screenshot_elements e "
	    "ON e.screenshot_id = $6 AND e.sel = c.sel "
	    "WHERE c.site_id = $1 AND c.path = $2 AND c.day BETWEEN $3::date AND $4::date "
	    "AND c.device = $5 GROUP BY 1, 2, 3, 4, 5, 6",
	[Q_SCROLL] = "SELECT depth, sum(views)::bigint FROM sitepulse.scroll_depths "
	    "WHERE site_id = $1 AND path = $2 AND day BETWEEN $3::date AND $4::date "
	    "AND ($5 = 'all' OR device = $5) GROUP BY depth",
	[Q_KNOWN] = "SELECT EXISTS (SELECT 1 FROM sitepulse.page_minutes WHERE site_id = $1 "
	    "AND path = $2 AND minute >= $3::date AND minute < $4::date + 1)",
	[Q_PAGES] = "SELECT path, sum(pageviews)::bigint FROM sitepulse.page_minutes "
	    "WHERE site_id = $1 AND minute >= $2::date AND minute < $3::date + 1 "
	    "GROUP BY path ORDER BY 2 DESC, 1 LIMIT 50",
	[Q_TOP] = "SELECT sel, sum(clicks)::bigint, sum(rage)::bigint, sum(dead)::bigint "
	    "FROM sitepulse.element_clicks WHERE site_id = $1 AND path = $2 "
	    "AND day BETWEEN $3::date AND $4::date GROUP BY sel ORDER BY 2 DESC, 1 LIMIT 50",
};

/* Everything a request needs, kept for the life of the process. */
struct heatmap {
	struct sp_config	 cfg;
	struct db		 db;
	struct counters		*ctr;		/* shared metrics (may be NULL) */
};

/* A request's parameters, validated. Strings point into the query. */
struct params {
	const char	*site, *path, *device;
	int		 scroll, overlay, width;	/* width 0: the device's own */
	char		 from[11], to[11];
	const struct param_device *dev;		/* the device parameter's class */
	struct param_range range;		/* from and to, or why they are refused */
	char		 site_id[16];
};

/* The newest screenshot of a page, if any (id[0] == '\0': none). */
struct shot {
	char	 id[24];
	int	 width, height;
	char	 created[40];
};


/* One heatmap in the making. */
struct render {
	struct params	 p;
	struct shot	 shot;
	int		 R;		/* reference width the grid is laid out in */
	int		 W, H;		/* output size */
	double		 Href;		/* output height in px at R */
	double		 Hdoc;		/* page height in px at R, before any cut */
	int		 clipped;	/* H was cut to the limits */
	PGresult	*cells, *elements;
	long long	 views[101];	/* scroll: views per deepest depth */
	long long	 rows;		/* rollup rows read */
	uint64_t	 digest;	/* order-independent digest of those rows */
	char		 etag[40];
	double		 t0, t_read, t_density, t_colour, t_encode;
};

/* Milliseconds on the monotonic clock, with sub-millisecond resolution. */
static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A page path as events record it: "/" and then printable text. */
static int
valid_page(const char *s)
{
	return s != NULL && s[0] == '/' && valid_text(s, strlen(s), VALID_PATH_MAX);
}

/*
 * Validates the date range from and to (both or neither; default the last
 * DEFAULT_DAYS days to today, UTC), at most MAX_DAYS days, into p. Returns
 * 1, or 0 with *why set to the reason for a 400 (kept in p).
 */
static int
parse_range(const struct http_query *q, struct params *p, const char **why)
{
	if (!param_range(http_query_get(q, "from"), http_query_get(q, "to"),
	    (long)(time(NULL) / 86400), DEFAULT_DAYS, MAX_DAYS, &p->range))
		return *why = p->range.why, 0;
	memcpy(p->from, p->range.from, sizeof(p->from));
	memcpy(p->to, p->range.to, sizeof(p->to));
	return 1;
}

/*
 * Validates a query into p, for every route (need_path: whether path is
 * required). Returns 1, or 0 with *why set to the reason for a 400, like
 * every validator.
 */
static int
parse_params(const struct http_query *q, struct params *p, int need_path, const char **why)
{
	static const char *const names[] = { "site", "path", "kind", "device", "from", "to",
	    "width", "overlay", "_", NULL };
	const char	*kind = http_query_get(q, "kind"), *w = http_query_get(q, "width");
	const char	*ov = http_query_get(q, "overlay");
	long long	 v = 0;

	memset(p, 0, sizeof(*p));
	if (!http_query_only(q, names))
		return *why = "unknown parameter", 0;
	p->site = http_query_get(q, "site");
	if (!valid_site_key(p->site))
		return *why = "site: missing or not a site key", 0;
	p->path = http_query_get(q, "path");
	if ((p->path != NULL || need_path) && !valid_page(p->path))
		return *why = "path: missing or not a page path", 0;
	if (kind != NULL && strcmp(kind, "click") != 0 && strcmp(kind, "scroll") != 0)
		return *why = "kind: click or scroll", 0;
	p->scroll = kind != NULL && strcmp(kind, "scroll") == 0;
	if ((p->dev = param_device(http_query_get(q, "device"), 1)) == NULL)
		return *why = "device: desktop, tablet, mobile or all", 0;
	p->device = p->dev->name;
	if (w != NULL && !valid_int(w, MIN_WIDTH, MAX_WIDTH, &v))
		return *why = "width: an integer from 100 to 2000", 0;
	p->width = w != NULL ? (int)v : p->dev->width;
	if (ov != NULL && strcmp(ov, "0") != 0 && strcmp(ov, "1") != 0)
		return *why = "overlay: 0 or 1", 0;
	p->overlay = ov != NULL && ov[0] == '1';
	return parse_range(q, p, why);
}

/* The device class whose screenshot and element boxes a request uses. */
static const char *
shot_device(const struct params *p)
{
	return strcmp(p->device, "all") == 0 ? "desktop" : p->device;
}

/*
 * Answers a failed db_exec: 503 with Retry-After when the database is
 * down, 500 when a statement failed (the log has the details).
 */
static void
db_error(struct heatmap *h, FCGX_Request *r)
{
	http_db_error(r, h->db.err == DB_DOWN, h->cfg.retry_after);
}

/*
 * Looks up the site id into p->site_id. Returns 1, 0 when the site is
 * unknown, or -1 on a database error.
 */
static int
find_site(struct heatmap *h, struct params *p)
{
	const char	*params[1] = { p->site };
	PGresult	*res = db_exec(&h->db, Q_SITE, 1, params);
	int		 found;

	if (res == NULL)
		return -1;
	found = PQntuples(res) == 1;
	if (found)
		snprintf(p->site_id, sizeof(p->site_id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found;
}

/* Reads the newest screenshot of the page for device into *s. Returns 1, or 0 on a database error. */
static int
find_shot(struct heatmap *h, const struct params *p, const char *device, struct shot *s)
{
	const char	*params[3] = { p->site_id, p->path, device };
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

/* Mixes one rollup row into the ETag digest; a sum, so row order does not matter. */
static void
digest_row(struct render *rd, long long a, long long b, long long c, long long n)
{
	uint64_t	 x = (uint64_t)a * 0x9e3779b97f4a7c15ULL + (uint64_t)b * 0xc2b2ae3d27d4eb4fULL +
	    (uint64_t)c * 0x165667b19e3779f9ULL + (uint64_t)n * 0x27d4eb2f165667c5ULL;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	rd->digest += x;
	rd->rows++;
}

static long long
num(const PGresult *res, int row, int col)
{
	return atoll(PQgetvalue(res, row, col));
}

/*
 * Reads what the map is drawn from: click cells and, where the screenshot
 * has element boxes, element cells; or the scroll depths. Digests every
 * row. Returns 1, or 0 on a database error.
 */
static int
read_rollups(struct heatmap *h, struct render *rd)
{
	const char	*params[6] = { rd->p.site_id, rd->p.path, rd->p.from, rd->p.to,
	    rd->p.device, rd->shot.id };
	PGresult	*res;

	if (rd->p.scroll) {
		if ((res = db_exec(&h->db, Q_SCROLL, 5, params)) == NULL)
			return 0;
		for (int i = 0; i < PQntuples(res); i++) {
			long long d = num(res, i, 0), n = num(res, i, 1);
			if (d >= 0 && d <= 100)
				rd->views[d] += n;
			digest_row(rd, d, 0, 0, n);
		}
		PQclear(res);
		return 1;
	}
	if ((rd->cells = db_exec(&h->db, Q_CELLS, 5, params)) == NULL)
		return 0;
	for (int i = 0; i < PQntuples(rd->cells); i++)
		digest_row(rd, num(rd->cells, i, 0), num(rd->cells, i, 1), num(rd->cells, i, 2),
		    num(rd->cells, i, 3));
	if (rd->shot.id[0] == '\0')
		return 1;
	params[4] = shot_device(&rd->p);
	if ((rd->elements = db_exec(&h->db, Q_ELEMENTS, 6, params)) == NULL)
		return 0;
	for (int i = 0; i < PQntuples(rd->elements); i++)
		digest_row(rd, num(rd->elements, i, 0) << 20 ^ num(rd->elements, i, 1),
		    num(rd->elements, i, 2) << 20 ^ num(rd->elements, i, 3),
		    num(rd->elements, i, 4) << 8 ^ num(rd->elements, i, 5), num(rd->elements, i, 6));
	return 1;
}

/*
 * Decides the output size: the requested width, and the screenshot's
 * height scaled to it when there is a screenshot, else the lowest click
 * plus a margin (at least three quarters of the width), or for a scroll
 * map twice the width; then cut to MAX_HEIGHT and MAX_PIXELS.
 */
static void
size_output(struct render *rd)
{
	double	 lowest = 0;
	int	 maxh;

	rd->W = rd->p.width;
	if (rd->shot.id[0] != '\0')
		rd->Href = (double)rd->shot.height * rd->R / rd->shot.width;
	else if (rd->p.scroll)
		rd->Href = 2.0 * rd->R;
	else {
		for (int i = 0; rd->cells != NULL && i < PQntuples(rd->cells); i++) {
			double y = (num(rd->cells, i, 2) + 1.0) * HEAT_CELL * rd->R / num(rd->cells, i, 0);
			if (y > lowest)
				lowest = y;
		}
		rd->Href = lowest + MARGIN_REF;
		if (rd->Href < rd->R * 0.75)
			rd->Href = rd->R * 0.75;
	}
	rd->Hdoc = rd->Href;
	rd->H = (int)ceil(rd->Href * rd->W / rd->R);
	maxh = (int)(MAX_PIXELS / rd->W < MAX_HEIGHT ? MAX_PIXELS / rd->W : MAX_HEIGHT);
	if (rd->H > maxh) {
		rd->H = maxh;
		rd->Href = (double)maxh * rd->R / rd->W;
		rd->clipped = 1;
	}
	if (rd->H < 1)
		rd->H = 1;
}

/*
 * The ETag: a BLAKE2b hash of what the image depends on, the parameters
 * as validated, the screenshot version and the digest of the rows read.
 */
static void
make_etag(struct render *rd)
{
	unsigned char	 out[16];
	char		 buf[1024];
	int		 n;

	n = snprintf(buf, sizeof(buf), "v1|%s|%s|%d|%s|%s|%s|%d|%d|%s|%lld|%llu",
	    rd->p.site_id, rd->p.path, rd->p.scroll, rd->p.device, rd->p.from, rd->p.to,
	    rd->W, rd->p.overlay, rd->shot.id, rd->rows, (unsigned long long)rd->digest);
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

/*
 * Marks in mask (one byte per grid cell) the cells under the boxes of the
 * elements that element cells are drawn for: the document-position cells
 * there are the same clicks, and are left out.
 */
static void
mask_boxes(const struct render *rd, const struct heat_grid *g, unsigned char *mask)
{
	double	 k = (double)rd->R / rd->shot.width / HEAT_CELL;

	for (int i = 0; i < PQntuples(rd->elements); i++) {
		int x0 = (int)floor(num(rd->elements, i, 0) * k);
		int y0 = (int)floor(num(rd->elements, i, 1) * k);
		int x1 = (int)ceil((num(rd->elements, i, 0) + num(rd->elements, i, 2)) * k);
		int y1 = (int)ceil((num(rd->elements, i, 1) + num(rd->elements, i, 3)) * k);

		for (int y = y0 < 0 ? 0 : y0; y < y1 && y < g->h; y++)
			for (int x = x0 < 0 ? 0 : x0; x < x1 && x < g->w; x++)
				mask[(size_t)y * g->w + x] = 1;
	}
}

/*
 * Builds the click density grid in rd->R reference px: element cells at
 * their place in their element's box, then the document cells (scaled
 * from each device's reference width) not under such a box.
 */
static struct heat_grid *
click_density(const struct render *rd)
{
	struct heat_grid	*g = heat_grid_new(rd->R / HEAT_CELL, (int)ceil(rd->Href / HEAT_CELL) + 1);
	unsigned char		*mask = NULL;
	int			 own = param_device(shot_device(&rd->p), 0)->width;

	if (rd->elements != NULL && PQntuples(rd->elements) > 0) {
		double k = (double)rd->R / rd->shot.width / HEAT_CELL;
		mask = xcalloc((size_t)g->w * g->h, 1);
		mask_boxes(rd, g, mask);
		for (int i = 0; i < PQntuples(rd->elements); i++) {
			double x = num(rd->elements, i, 0) + (num(rd->elements, i, 4) + 0.5) / 20 *
			    num(rd->elements, i, 2);
			double y = num(rd->elements, i, 1) + (num(rd->elements, i, 5) + 0.5) / 20 *
			    num(rd->elements, i, 3);
			heat_splat(g, x * k, y * k, (double)num(rd->elements, i, 6));
		}
	}
	for (int i = 0; i < PQntuples(rd->cells); i++) {
		int refw = (int)num(rd->cells, i, 0);
		long long cx = num(rd->cells, i, 1), cy = num(rd->cells, i, 2);
		double k = (double)rd->R / refw;

		if (mask != NULL && refw == own && cx >= 0 && cy >= 0 && cx * k < g->w &&
		    cy * k < g->h && mask[(size_t)(cy * k) * g->w + (size_t)(cx * k)])
			continue;
		heat_splat(g, (cx + 0.5) * k, (cy + 0.5) * k, (double)num(rd->cells, i, 3));
	}
	free(mask);
	return g;
}

/* Paints a click map into im: density, blur, normalisation at the 99th percentile, palette. */
static void
paint_clicks(struct render *rd, gdImagePtr im)
{
	struct heat_grid	*g = click_density(rd);

	heat_blur(g, BLUR_RADIUS, BLUR_PASSES);
	heat_normalise(g, heat_percentile(g, 0.99));
	rd->t_density = now_ms();
	heat_paint(g, im->pixels, rd->W, rd->H, (double)HEAT_CELL * rd->W / rd->R);
	heat_legend(im, "fewer", "more clicks");
	heat_grid_free(g);
}

/*
 * Paints a scroll map into im: rows shaded by the share of views reaching
 * them, lines where 75, 50 and 25 % of views stop, and the fold (the first
 * screen of the device class) when the page is longer.
 */
static void
paint_scroll(struct render *rd, gdImagePtr im)
{
	static const double	 marks[] = { 0.75, 0.5, 0.25 };
	double			 share[101], doc = rd->Hdoc * rd->W / rd->R;
	char			 label[48];

	heat_scroll_share(rd->views, share);
	rd->t_density = now_ms();
	heat_scroll_paint(share, im->pixels, rd->W, rd->H, doc);
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		int d = heat_scroll_reach(share, marks[i]);
		if (d < 0 || d == 100)
			continue;
		snprintf(label, sizeof(label), "%d%% of views reach here", (int)(marks[i] * 100));
		heat_marker(im, (int)(d / 100.0 * doc), label);
	}
	if (strcmp(rd->p.device, "all") != 0 && rd->p.dev->fold < rd->Href)
		heat_marker(im, (int)((double)rd->p.dev->fold * rd->W / rd->p.dev->width),
		    "fold (first screen)");
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
	if ((out = gdImageCreateTrueColor(rd->W, rd->H)) == NULL)
		abort();
	gdImageFilledRectangle(out, 0, 0, rd->W - 1, rd->H - 1, gdTrueColor(255, 255, 255));
	gdImageCopyResampled(out, shot, 0, 0, 0, 0, rd->W,
	    (int)lround((double)gdImageSY(shot) * rd->W / gdImageSX(shot)),
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
	    size, rd->etag, rd->clipped ? "X-SitePulse-Clipped: 1\r\n" : "",
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
	gdImagePtr	 im = heat_image(rd->W, rd->H), out = NULL;
	void		*png;
	int		 size = 0;

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
	gdFree(png);
	if (out != NULL)
		gdImageDestroy(out);
	gdImageDestroy(im);
}

/*
 * Whether the page has any data in the range beyond what was read (a page
 * view), or a screenshot. Returns 1, 0, or -1 on a database error.
 */
static int
page_known(struct heatmap *h, const struct render *rd)
{
	const char	*params[4] = { rd->p.site_id, rd->p.path, rd->p.from, rd->p.to };
	PGresult	*res;
	int		 known;

	if (rd->rows > 0 || rd->shot.id[0] != '\0')
		return 1;
	if ((res = db_exec(&h->db, Q_KNOWN, 4, params)) == NULL)
		return -1;
	known = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return known;
}

/*
 * GET /heatmap.png. Answers 200 (PNG), 304 (If-None-Match), 400 (bad
 * parameter), 404 (unknown site, or a page without any data in the range),
 * 500 or 503.
 */
static void
do_png(struct heatmap *h, FCGX_Request *r)
{
	struct http_query	 q;
	struct render		 rd;
	const char		*why;
	int			 rc;

	memset(&rd, 0, sizeof(rd));
	rd.t0 = now_ms();
	if (!http_query_parse(http_param(r, "QUERY_STRING"), &q)) {
		http_error(r, 400, "query: malformed", NULL);
		return;
	}
	if (!parse_params(&q, &rd.p, 1, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	rd.R = rd.p.dev->width;
	if ((rc = find_site(h, &rd.p)) <= 0) {
		rc < 0 ? db_error(h, r) : http_error(r, 404, "unknown site", NULL);
		return;
	}
	if (!find_shot(h, &rd.p, shot_device(&rd.p), &rd.shot) || !read_rollups(h, &rd) ||
	    (rc = page_known(h, &rd)) < 0) {
		db_error(h, r);
		goto out;
	}
	if (rc == 0) {
		http_error(r, 404, "no data for this page in the range", NULL);
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
	PQclear(rd.cells);
	PQclear(rd.elements);
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
 * Fills o with the viewer's data: "pages" (the top 50 paths by page views
 * in the range), and with a path "elements" (its top 50 clicked elements
 * with rage and dead clicks) and "screenshot". Returns 1, or 0 on a
 * database error.
 */
static int
viewer_data(struct heatmap *h, const struct params *p, struct json_object *o)
{
	static const char *const page_cols[] = { "path", "pageviews" };
	static const char *const elem_cols[] = { "sel", "clicks", "rage", "dead" };
	const char		*pp[3] = { p->site_id, p->from, p->to };
	const char		*ep[4] = { p->site_id, p->path, p->from, p->to };
	struct json_object	*pages = json_object_new_array(), *elems;
	struct shot		 s;

	json_object_object_add(o, "pages", pages);
	if (!json_rows(h, Q_PAGES, 3, pp, page_cols, 2, pages))
		return 0;
	if (p->path == NULL)
		return 1;
	elems = json_object_new_array();
	json_object_object_add(o, "elements", elems);
	if (!json_rows(h, Q_TOP, 4, ep, elem_cols, 4, elems) ||
	    !find_shot(h, p, shot_device(p), &s))
		return 0;
	json_object_object_add(o, "screenshot", shot_json(&s));
	return 1;
}

/*
 * GET /heatmap.json: what the dashboard's heatmap viewer lists. Answers
 * 200, 400, 404 (unknown site), 500 or 503.
 */
static void
do_json(struct heatmap *h, FCGX_Request *r)
{
	struct http_query	 q;
	struct params		 p;
	struct json_object	*o;
	const char		*why;
	int			 rc;

	if (!http_query_parse(http_param(r, "QUERY_STRING"), &q)) {
		http_error(r, 400, "query: malformed", NULL);
		return;
	}
	if (!parse_params(&q, &p, 0, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	if ((rc = find_site(h, &p)) <= 0) {
		rc < 0 ? db_error(h, r) : http_error(r, 404, "unknown site", NULL);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "from", json_object_new_string(p.from));
	json_object_object_add(o, "to", json_object_new_string(p.to));
	json_object_object_add(o, "device", json_object_new_string(p.device));
	if (!viewer_data(h, &p, o))
		db_error(h, r);
	else {
		http_status(r, 200, "Content-Type: application/json\r\nCache-Control: no-store\r\n");
		FCGX_FPrintF(r->out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	json_object_put(o);
}

/*
 * GET /heatmap-shot.png: the newest screenshot of a page and device class,
 * as stored (a PNG SitePulse produced). Answers 200, 304, 400, 404 (unknown
 * site or no screenshot), 500 or 503.
 */
static void
do_shot(struct heatmap *h, FCGX_Request *r)
{
	struct http_query	 q;
	struct params		 p;
	struct shot		 s;
	const char		*why;
	unsigned char		*png;
	char			 etag[40], hdr[256];
	size_t			 n;
	int			 rc, dberr;

	if (!http_query_parse(http_param(r, "QUERY_STRING"), &q)) {
		http_error(r, 400, "query: malformed", NULL);
		return;
	}
	if (!parse_params(&q, &p, 1, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	if ((rc = find_site(h, &p)) <= 0 || !find_shot(h, &p, shot_device(&p), &s)) {
		rc == 0 ? http_error(r, 404, "unknown site", NULL) : db_error(h, r);
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
	void		(*fn)(struct heatmap *, FCGX_Request *);
} routes[] = {
	{ "/heatmap.png",	do_png },
	{ "/heatmap.json",	do_json },
	{ "/heatmap-shot.png",	do_shot },
};

/*
 * Routes one request: 401 or 403 off an authenticated route (access.h),
 * 404 for an unknown path, 405 for a method other than GET or HEAD.
 */
static void
handle(struct heatmap *h, FCGX_Request *r)
{
	struct access	 acc;
	char		 path[1024];

	if (!http_access(r, ACCESS_PROTECTED, &acc))
		return;
	http_path(r, path, sizeof(path));
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!http_ends_with(path, routes[i].path))
			continue;
		if (http_method_is(r, "GET") || http_method_is(r, "HEAD"))
			routes[i].fn(h, r);
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
