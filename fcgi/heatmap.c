#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"
#include "util.h"
#include "valid.h"

/* A page path as events record it: "/" and then printable text. */
static int
valid_page(const char *s)
{
	return s != NULL && s[0] == '/' && valid_text(s, strlen(s), VALID_PATH_MAX);
}

/* A share token: url-safe base64 characters, a plausible length. */
static int
valid_share(const char *s)
{
	size_t	 n = s != NULL ? strlen(s) : 0;

	return n >= HEATMAP_SHARE_MIN && n <= HEATMAP_SHARE_MAX &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/*
 * Checks who the request is for. On a share route: share=TOKEN, and a
 * site= only as a key (whether it is the token's site is decided once the
 * token is looked up, heatmap_share_check()). Elsewhere: site=, and no
 * share= (a token means nothing on an authenticated route).
 */
static int
parse_who(const struct http_query *q, int shared, struct heatmap_params *p, const char **why)
{
	p->site = http_query_get(q, "site");
	p->share = http_query_get(q, "share");
	if (shared) {
		if (p->share == NULL)
			return *why = "share: share links need share=TOKEN", 0;
		if (!valid_share(p->share))
			return *why = "share: malformed token", 0;
		if (p->site != NULL && !valid_site_key(p->site))
			return *why = "site: not a site key", 0;
		return 1;
	}
	if (p->share != NULL)
		return *why = "share: only on a share link", 0;
	if (!valid_site_key(p->site))
		return *why = "site: missing or not a site key", 0;
	return 1;
}

/*
 * Checks compare_from and compare_to (both or neither) into p->against,
 * naming the parameter in every reason.
 */
static int
parse_compare(const struct http_query *q, long today, struct heatmap_params *p, const char **why)
{
	const char	*cf = http_query_get(q, "compare_from"), *ct = http_query_get(q, "compare_to");
	struct param_range *r = &p->against;

	if (cf == NULL && ct == NULL)
		return 1;
	if (cf == NULL)
		return *why = "compare_from: missing (compare_from and compare_to go together)", 0;
	if (ct == NULL)
		return *why = "compare_to: missing (compare_from and compare_to go together)", 0;
	if (param_range(cf, ct, today, 0, HEATMAP_MAX_DAYS, r)) {
		p->compare = 1;
		return 1;
	}
	if (strcmp(r->why, "from is after to") == 0)
		snprintf(p->why, sizeof(p->why), "compare_from is after compare_to");
	else if (strncmp(r->why, "from", 4) == 0 || strncmp(r->why, "to", 2) == 0)
		snprintf(p->why, sizeof(p->why), "compare_%s", r->why);
	else
		snprintf(p->why, sizeof(p->why), "compare_from..compare_to: %s", r->why);
	return *why = p->why, 0;
}

/*
 * Validates a query into p, for every route: shared says whether the web
 * server marked it a share route, need_path whether path is required,
 * today the current UTC day number (defaults of the date range). Returns
 * 1, or 0 with *why set to the reason for a 400 (it may point into p).
 */
int
heatmap_parse(const struct http_query *q, int shared, int need_path, long today,
    struct heatmap_params *p, const char **why)
{
	static const char *const names[] = { "site", "share", "path", "kind", "device", "from", "to",
	    "compare_from", "compare_to", "width", "overlay", "legend", "_", NULL };
	const char	*kind = http_query_get(q, "kind"), *w = http_query_get(q, "width");
	const char	*ov = http_query_get(q, "overlay"), *lg = http_query_get(q, "legend");
	long long	 v = 0;

	memset(p, 0, sizeof(*p));
	if (!http_query_only(q, names))
		return *why = "unknown parameter", 0;
	if (!parse_who(q, shared, p, why))
		return 0;
	p->path = http_query_get(q, "path");
	if ((p->path != NULL || need_path) && !valid_page(p->path))
		return *why = "path: missing or not a page path", 0;
	if (kind != NULL && strcmp(kind, "click") != 0 && strcmp(kind, "scroll") != 0)
		return *why = "kind: click or scroll", 0;
	p->scroll = kind != NULL && strcmp(kind, "scroll") == 0;
	if ((p->dev = param_device(http_query_get(q, "device"), 1)) == NULL)
		return *why = "device: desktop, tablet, mobile or all", 0;
	p->device = p->dev->name;
	if (w != NULL && !valid_int(w, HEATMAP_MIN_WIDTH, HEATMAP_MAX_WIDTH, &v))
		return *why = "width: an integer from 100 to 2000", 0;
	p->width = w != NULL ? (int)v : p->dev->width;
	if (ov != NULL && strcmp(ov, "0") != 0 && strcmp(ov, "1") != 0)
		return *why = "overlay: 0 or 1", 0;
	p->overlay = ov != NULL && ov[0] == '1';
	if (lg != NULL && strcmp(lg, "0") != 0 && strcmp(lg, "1") != 0)
		return *why = "legend: 0 or 1", 0;
	p->no_legend = lg != NULL && lg[0] == '0';
	if (!param_range(http_query_get(q, "from"), http_query_get(q, "to"), today,
	    HEATMAP_DEFAULT_DAYS, HEATMAP_MAX_DAYS, &p->range))
		return *why = p->range.why, 0;
	return parse_compare(q, today, p, why);
}

/*
 * The share-link decision, once the token has been looked up: token_site
 * is the key of the site holding the token (NULL: none does), asked the
 * request's site= (NULL: not given). A share link serves its own site
 * only, and never quietly: naming another site is refused.
 */
enum heatmap_share
heatmap_share_check(const char *asked, const char *token_site)
{
	if (token_site == NULL)
		return HEATMAP_SHARE_UNKNOWN;
	if (asked != NULL && strcmp(asked, token_site) != 0)
		return HEATMAP_SHARE_OTHER_SITE;
	return HEATMAP_SHARE_OK;
}

/* The device class whose screenshot and element boxes a request uses. */
const char *
heatmap_shot_device(const struct heatmap_params *p)
{
	return strcmp(p->device, "all") == 0 ? "desktop" : p->device;
}

/* Whether n bytes are a whole number of packed cells. */
int
heatmap_cells_ok(size_t n)
{
	return n % HEATMAP_CELL_BYTES == 0;
}

static uint32_t
be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Cell i of packed cells p: its column, row and clicks (int4, int4, int8 big-endian). */
void
heatmap_cell(const unsigned char *p, size_t i, long long *cx, long long *cy, long long *n)
{
	const unsigned char	*b = p + i * HEATMAP_CELL_BYTES;

	*cx = (int32_t)be32(b);
	*cy = (int32_t)be32(b + 4);
	*n = (long long)((uint64_t)be32(b + 8) << 32 | be32(b + 12));
}

/* The bottom of the lowest clicked cell, in px at reference width R (0: no clicks). */
double
heatmap_lowest(const struct heatmap_cells *sets, size_t nsets, int R)
{
	double	 lowest = 0;

	for (size_t s = 0; s < nsets; s++) {
		double k = (double)HEAT_CELL * R / sets[s].refw;
		for (size_t i = 0; i < sets[s].ncells; i++) {
			long long cx, cy, n;
			heatmap_cell(sets[s].p, i, &cx, &cy, &n);
			if ((cy + 1.0) * k > lowest)
				lowest = (cy + 1.0) * k;
		}
	}
	return lowest;
}

/* The clicks of all sets. */
long long
heatmap_total(const struct heatmap_cells *sets, size_t nsets)
{
	long long	 total = 0;

	for (size_t s = 0; s < nsets; s++)
		for (size_t i = 0; i < sets[s].ncells; i++) {
			long long cx, cy, n;
			heatmap_cell(sets[s].p, i, &cx, &cy, &n);
			total += n;
		}
	return total;
}

/*
 * Mixes one row of what was read into *digest: a sum of mixed values, so
 * the order rows come in does not matter, and a day stored as click_cells
 * rows or as a packed grid digests alike.
 */
void
heatmap_digest(uint64_t *digest, long long a, long long b, long long c, long long n)
{
	uint64_t	 x = (uint64_t)a * 0x9e3779b97f4a7c15ULL + (uint64_t)b * 0xc2b2ae3d27d4eb4fULL +
	    (uint64_t)c * 0x165667b19e3779f9ULL + (uint64_t)n * 0x27d4eb2f165667c5ULL;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	*digest += x;
}

/* Digests every cell of the sets (reference width, column, row, clicks), counting them in *rows. */
void
heatmap_digest_cells(uint64_t *digest, long long *rows, const struct heatmap_cells *sets,
    size_t nsets)
{
	for (size_t s = 0; s < nsets; s++)
		for (size_t i = 0; i < sets[s].ncells; i++) {
			long long cx, cy, n;
			heatmap_cell(sets[s].p, i, &cx, &cy, &n);
			heatmap_digest(digest, sets[s].refw, cx, cy, n);
			(*rows)++;
		}
}

/*
 * Decides the output size: width W, and the screenshot's height scaled to
 * it when there is a screenshot (shot_w > 0), else for a scroll map twice
 * the width, else the lowest click (px at R) plus a margin, at least three
 * quarters of the width; then cut to HEATMAP_MAX_HEIGHT and
 * HEATMAP_MAX_PIXELS.
 */
void
heatmap_size(int W, int R, int shot_w, int shot_h, int scroll, double lowest,
    struct heatmap_size *s)
{
	long long	 maxh = HEATMAP_MAX_PIXELS / W < HEATMAP_MAX_HEIGHT ?
	    HEATMAP_MAX_PIXELS / W : HEATMAP_MAX_HEIGHT;

	memset(s, 0, sizeof(*s));
	s->W = W;
	if (shot_w > 0)
		s->Href = (double)shot_h * R / shot_w;
	else if (scroll)
		s->Href = 2.0 * R;
	else {
		s->Href = lowest + HEATMAP_MARGIN_REF;
		if (s->Href < R * 0.75)
			s->Href = R * 0.75;
	}
	s->Hdoc = s->Href;
	s->H = (int)ceil(s->Href * W / R);
	if (s->H > maxh) {
		s->H = (int)maxh;
		s->Href = (double)maxh * R / W;
		s->clipped = 1;
	}
	if (s->H < 1)
		s->H = 1;
}

/*
 * Marks in mask (one byte per grid cell) the cells under the elements'
 * boxes, k grid cells per screenshot px: the document-position cells there
 * are the same clicks as the element cells, and are left out.
 */
static void
mask_boxes(const struct heatmap_clicks *c, const struct heat_grid *g, double k, unsigned char *mask)
{
	for (size_t i = 0; i < c->nel; i++) {
		const struct heatmap_element *e = &c->el[i];
		int x0 = (int)floor(e->x * k), y0 = (int)floor(e->y * k);
		int x1 = (int)ceil((e->x + e->w) * k), y1 = (int)ceil((e->y + e->h) * k);

		for (int y = y0 < 0 ? 0 : y0; y < y1 && y < g->h; y++)
			for (int x = x0 < 0 ? 0 : x0; x < x1 && x < g->w; x++)
				mask[(size_t)y * g->w + x] = 1;
	}
}

/*
 * Builds the click density grid at reference width R for a page Href px
 * tall (at R): element cells at their place in their element's box, then
 * the document cells (scaled from each set's reference width) not under
 * such a box. The caller frees the grid with heat_grid_free().
 */
struct heat_grid *
heatmap_density(const struct heatmap_clicks *c, int R, double Href)
{
	struct heat_grid	*g = heat_grid_new(R / HEAT_CELL, (int)ceil(Href / HEAT_CELL) + 1);
	unsigned char		*mask = NULL;

	if (c->nel > 0 && c->shot_w > 0) {
		double k = (double)R / c->shot_w / HEAT_CELL;
		mask = xcalloc((size_t)g->w * g->h, 1);
		mask_boxes(c, g, k, mask);
		for (size_t i = 0; i < c->nel; i++) {
			const struct heatmap_element *e = &c->el[i];
			double x = e->x + (e->ex + 0.5) / 20 * e->w;
			double y = e->y + (e->ey + 0.5) / 20 * e->h;
			heat_splat(g, x * k, y * k, (double)e->clicks);
		}
	}
	for (size_t s = 0; s < c->nsets; s++) {
		const struct heatmap_cells *set = &c->sets[s];
		double k = (double)R / set->refw;
		int masked = mask != NULL && set->refw == c->own_w;

		for (size_t i = 0; i < set->ncells; i++) {
			long long cx, cy, n;
			heatmap_cell(set->p, i, &cx, &cy, &n);
			if (masked && cx >= 0 && cy >= 0 && cx * k < g->w && cy * k < g->h &&
			    mask[(size_t)(cy * k) * g->w + (size_t)(cx * k)])
				continue;
			heat_splat(g, (cx + 0.5) * k, (cy + 0.5) * k, (double)n);
		}
	}
	free(mask);
	return g;
}

static double
grid_sum(const struct heat_grid *g)
{
	double	 sum = 0;

	for (size_t i = 0; i < (size_t)g->w * g->h; i++)
		sum += g->v[i];
	return sum;
}

/*
 * The difference map, before blurring: a becomes its share of its own
 * clicks minus b's share of b's (each cell divided by its grid's sum), so
 * that a range with more traffic overall is not "more" everywhere. A grid
 * with no clicks counts as all zeros. Positive: more in a; negative:
 * fewer. The grids have the same size.
 */
void
heatmap_difference(struct heat_grid *a, const struct heat_grid *b)
{
	double	 sa = grid_sum(a), sb = grid_sum(b);
	double	 ka = sa > 0 ? 1 / sa : 0, kb = sb > 0 ? 1 / sb : 0;

	for (size_t i = 0; i < (size_t)a->w * a->h; i++)
		a->v[i] = (float)(a->v[i] * ka - b->v[i] * kb);
}

/*
 * Scales a signed grid into [-1, 1]: the q-quantile of the magnitudes of
 * its non-zero cells becomes 1 (as heat_percentile() does for a click
 * map), clipping beyond. A grid of zeros stays as it is.
 */
void
heatmap_signed_normalise(struct heat_grid *g, double q)
{
	struct heat_grid	 m = { g->w, g->h, xmalloc((size_t)g->w * g->h * sizeof(float)) };
	double			 top;

	for (size_t i = 0; i < (size_t)g->w * g->h; i++)
		m.v[i] = fabsf(g->v[i]);
	top = heat_percentile(&m, q);
	free(m.v);
	if (!(top > 0))
		return;
	for (size_t i = 0; i < (size_t)g->w * g->h; i++) {
		double v = g->v[i] / top;
		g->v[i] = (float)(v > 1 ? 1 : v < -1 ? -1 : v);
	}
}

/*
 * The difference of two scroll maps' shares (heat_scroll_share()): out[d]
 * is a's share reaching depth d minus b's, scaled so that the largest
 * difference is 1 in magnitude (all 0 when they are equal).
 */
void
heatmap_scroll_difference(const double a[101], const double b[101], double out[101])
{
	double	 top = 0;

	for (int d = 0; d <= 100; d++) {
		out[d] = a[d] - b[d];
		if (fabs(out[d]) > top)
			top = fabs(out[d]);
	}
	for (int d = 0; top > 0 && d <= 100; d++)
		out[d] /= top;
}
