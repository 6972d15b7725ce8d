/*
 * Table-driven tests of fcgi/heatmap.c, sp-heatmap's pure half: parameters
 * (with compare_from/compare_to and share links), the share decision,
 * packed cells, sizing, density (with element boxes) and the difference of
 * two ranges.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"
#include "tap.h"

#define TODAY	 20000L		/* 2024-10-04 */
#define TOKEN	 "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"

/* Parses query string qs as sp-heatmap would (shared: a share route). */
static int
parse(const char *qs, int shared, int need_path, struct heatmap_params *p, const char **why)
{
	static struct http_query	 q;	/* p points into it */

	*why = "query";
	return http_query_parse(qs, &q) && heatmap_parse(&q, shared, need_path, TODAY, p, why);
}

static void
test_params(void)
{
	static const struct {
		const char	*qs;
		int		 shared, need_path, want;
		const char	*why;	/* a word the reason must hold */
	} t[] = {
		{ "site=demo&path=/p", 0, 1, 1, NULL },
		{ "site=demo", 0, 0, 1, NULL },
		{ "site=demo", 0, 1, 0, "path" },
		{ "site=demo&path=nope", 0, 1, 0, "path" },
		{ "site=bad key!&path=/p", 0, 1, 0, "site" },
		{ "path=/p", 0, 1, 0, "site" },
		{ "site=demo&path=/p&kind=scroll", 0, 1, 1, NULL },
		{ "site=demo&path=/p&kind=hover", 0, 1, 0, "kind" },
		{ "site=demo&path=/p&device=tv", 0, 1, 0, "device" },
		{ "site=demo&path=/p&device=all", 0, 1, 1, NULL },
		{ "site=demo&path=/p&width=99", 0, 1, 0, "width" },
		{ "site=demo&path=/p&width=2001", 0, 1, 0, "width" },
		{ "site=demo&path=/p&width=2000", 0, 1, 1, NULL },
		{ "site=demo&path=/p&overlay=2", 0, 1, 0, "overlay" },
		{ "site=demo&path=/p&legend=0", 0, 1, 1, NULL },
		{ "site=demo&path=/p&legend=1", 0, 1, 1, NULL },
		{ "site=demo&path=/p&legend=no", 0, 1, 0, "legend" },
		{ "site=demo&path=/p&colour=red", 0, 1, 0, "unknown" },
		{ "site=demo&path=/p&from=2024-01-01", 0, 1, 0, "from and to" },
		{ "site=demo&path=/p&from=2024-02-01&to=2024-01-01", 0, 1, 0, "after" },
		{ "site=demo&path=/p&from=2023-01-01&to=2024-01-02", 0, 1, 0, "366" },
		/* compare_from / compare_to: both or neither, each named */
		{ "site=demo&path=/p&compare_from=2024-01-01&compare_to=2024-01-31", 0, 1, 1, NULL },
		{ "site=demo&path=/p&compare_from=2024-01-01", 0, 1, 0, "compare_to" },
		{ "site=demo&path=/p&compare_to=2024-01-01", 0, 1, 0, "compare_from" },
		{ "site=demo&path=/p&compare_from=2024-13-01&compare_to=2024-01-31", 0, 1, 0,
		    "compare_from: not a date" },
		{ "site=demo&path=/p&compare_from=2024-01-01&compare_to=yesterday", 0, 1, 0,
		    "compare_to: not a date" },
		{ "site=demo&path=/p&compare_from=2024-02-01&compare_to=2024-01-01", 0, 1, 0,
		    "compare_from is after compare_to" },
		{ "site=demo&path=/p&compare_from=2022-01-01&compare_to=2024-01-01", 0, 1, 0,
		    "compare_from..compare_to" },
		{ "site=demo&path=/p&from=x&to=y&compare_from=2024-01-01&compare_to=2024-01-02", 0, 1, 0,
		    "from: not a date" },
		/* share links */
		{ "share=" TOKEN "&path=/p", 1, 1, 1, NULL },
		{ "share=" TOKEN "&site=demo&path=/p", 1, 1, 1, NULL },
		{ "site=demo&path=/p", 1, 1, 0, "share=TOKEN" },
		{ "share=short&path=/p", 1, 1, 0, "malformed" },
		{ "share=" TOKEN "!&path=/p", 1, 1, 0, "malformed" },
		{ "share=" TOKEN "&site=bad key!&path=/p", 1, 1, 0, "site" },
		{ "share=" TOKEN "&site=demo&path=/p", 0, 1, 0, "only on a share link" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct heatmap_params	 p;
		const char		*why = NULL;
		int			 got = parse(t[i].qs, t[i].shared, t[i].need_path, &p, &why);

		if (!ok(got == t[i].want && (got || strstr(why, t[i].why) != NULL),
		    "params %s (shared %d): %s", t[i].qs, t[i].shared, t[i].want ? "valid" : t[i].why))
			diag("got %d, why [%s]", got, got ? "" : why);
	}
}

static void
test_defaults(void)
{
	struct heatmap_params	 p;
	const char		*why;

	ok(parse("site=demo&path=/p", 0, 1, &p, &why) && strcmp(p.device, "desktop") == 0 &&
	    p.width == 1280 && !p.scroll && !p.overlay && !p.no_legend && !p.compare &&
	    strcmp(p.range.to, "2024-10-04") == 0 && strcmp(p.range.from, "2024-09-05") == 0,
	    "defaults: desktop, 1280 px, the 30 days ending today, no compare");
	ok(parse("site=demo&path=/p&legend=0", 0, 1, &p, &why) && p.no_legend,
	    "legend=0: no legend in the image");
	ok(parse("site=demo&path=/p&device=mobile", 0, 1, &p, &why) && p.width == 380,
	    "mobile: its reference width");
	ok(parse("site=demo&path=/p&from=2024-03-01&to=2024-03-31&compare_from=2024-02-01"
	    "&compare_to=2024-02-29", 0, 1, &p, &why) && p.compare &&
	    strcmp(p.against.from, "2024-02-01") == 0 && strcmp(p.against.to, "2024-02-29") == 0 &&
	    strcmp(p.range.from, "2024-03-01") == 0, "compare: both ranges kept");
	ok(parse("share=" TOKEN "&path=/p", 1, 1, &p, &why) && p.site == NULL &&
	    strcmp(p.share, TOKEN) == 0, "share: the token, no site");
	ok(parse("site=demo&path=/p&device=all", 0, 1, &p, &why) &&
	    strcmp(heatmap_shot_device(&p), "desktop") == 0, "device=all uses the desktop screenshot");
}

static void
test_share(void)
{
	static const struct { const char *asked, *token_site; enum heatmap_share want; } t[] = {
		{ NULL, "demo", HEATMAP_SHARE_OK },
		{ "demo", "demo", HEATMAP_SHARE_OK },
		{ "other", "demo", HEATMAP_SHARE_OTHER_SITE },
		{ "demo2", "demo", HEATMAP_SHARE_OTHER_SITE },
		{ "dem", "demo", HEATMAP_SHARE_OTHER_SITE },
		{ NULL, NULL, HEATMAP_SHARE_UNKNOWN },
		{ "demo", NULL, HEATMAP_SHARE_UNKNOWN },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(heatmap_share_check(t[i].asked, t[i].token_site) == t[i].want,
		    "share: site=%s, token's site %s -> %d", t[i].asked ? t[i].asked : "(none)",
		    t[i].token_site ? t[i].token_site : "(none)", (int)t[i].want);
}

/* Packs a cell as click_grids.cells does (big-endian int4, int4, int8). */
static void
pack(unsigned char *b, long long cx, long long cy, long long n)
{
	for (int i = 0; i < 4; i++) {
		b[i] = (unsigned char)((unsigned long long)cx >> (24 - 8 * i));
		b[4 + i] = (unsigned char)((unsigned long long)cy >> (24 - 8 * i));
	}
	for (int i = 0; i < 8; i++)
		b[8 + i] = (unsigned char)((unsigned long long)n >> (56 - 8 * i));
}

static void
test_cells(void)
{
	static const struct { long long cx, cy, n; } t[] = {
		{ 0, 0, 0 }, { 1, 2, 3 }, { 319, 1999, 12 }, { -5, 70000, 5000000000LL },
		{ 2147483647, -2147483648LL, 9223372036854775807LL },
	};
	unsigned char	 buf[sizeof(t) / sizeof(t[0]) * HEATMAP_CELL_BYTES];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		pack(buf + i * HEATMAP_CELL_BYTES, t[i].cx, t[i].cy, t[i].n);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		long long cx, cy, n;
		heatmap_cell(buf, i, &cx, &cy, &n);
		ok(cx == t[i].cx && cy == t[i].cy && n == t[i].n, "packed cell %lld,%lld,%lld decodes",
		    t[i].cx, t[i].cy, t[i].n);
	}
	ok(heatmap_cells_ok(0) && heatmap_cells_ok(32) && !heatmap_cells_ok(15) &&
	    !heatmap_cells_ok(17), "whole cells only");

	/* Two sets: desktop (1280) and mobile (380), as click_density() answers. */
	unsigned char d[2 * HEATMAP_CELL_BYTES], m[HEATMAP_CELL_BYTES];
	pack(d, 10, 99, 4);
	pack(d + HEATMAP_CELL_BYTES, 20, 9, 6);
	pack(m, 5, 94, 7);
	struct heatmap_cells sets[2] = { { 1280, d, 2 }, { 380, m, 1 } };
	uint64_t a = 0, b = 0;
	long long rows = 0, rows2 = 0;
	struct heatmap_cells swapped[2] = { { 380, m, 1 }, { 1280, d, 2 } };

	ok(heatmap_total(sets, 2) == 17, "total clicks of all sets");
	/* desktop: (99 + 1) * 4 = 400 px; mobile: (94 + 1) * 4 * 1280 / 380 = 1280 px */
	ok(fabs(heatmap_lowest(sets, 2, 1280) - 1280) < 1e-9, "lowest click scaled to the reference width");
	ok(fabs(heatmap_lowest(sets, 1, 1280) - 400) < 1e-9, "lowest click of desktop alone");
	ok(heatmap_lowest(sets, 0, 1280) == 0, "no cells: no lowest click");
	heatmap_digest_cells(&a, &rows, sets, 2);
	heatmap_digest_cells(&b, &rows2, swapped, 2);
	ok(a == b && rows == 3 && rows2 == 3, "the digest ignores order and counts cells");
	pack(d, 10, 99, 5);
	b = 0;
	heatmap_digest_cells(&b, &rows2, sets, 2);
	ok(a != b, "one more click changes the digest");
}

static void
test_size(void)
{
	static const struct {
		int W, R, shot_w, shot_h, scroll;
		double lowest;
		int want_W, want_H, clipped;
	} t[] = {
		/* (375 + 1) * 4 + 200 = 1704 at 1280; at 640 half */
		{ 1280, 1280, 0, 0, 0, 1504, 1280, 1704, 0 },
		{ 640, 1280, 0, 0, 0, 1504, 640, 852, 0 },
		/* no clicks: at least three quarters of the width */
		{ 1280, 1280, 0, 0, 0, 0, 1280, 960, 0 },
		/* scroll map without screenshot: twice the width */
		{ 500, 1280, 0, 0, 1, 0, 500, 1000, 0 },
		/* a screenshot's proportions: 640x1200 shot at 320 px */
		{ 320, 1280, 640, 1200, 0, 99999, 320, 600, 0 },
		/* cut to 20000 px */
		{ 1280, 1280, 0, 0, 0, 50000, 1280, 20000, 1 },
		/* cut to 40 Mpx: 2000 px wide allows 20000 rows; a 1000x100000 shot at 2000 */
		{ 2000, 1280, 1000, 100000, 0, 0, 2000, 20000, 1 },
		/* mobile */
		{ 380, 380, 0, 0, 0, 100, 380, 300, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct heatmap_size s;
		heatmap_size(t[i].W, t[i].R, t[i].shot_w, t[i].shot_h, t[i].scroll, t[i].lowest, &s);
		if (!ok(s.W == t[i].want_W && s.H == t[i].want_H && s.clipped == t[i].clipped,
		    "size case %zu: %dx%d%s", i, t[i].want_W, t[i].want_H, t[i].clipped ? " clipped" : ""))
			diag("got %dx%d clipped %d", s.W, s.H, s.clipped);
	}
}

static double
sum(const struct heat_grid *g)
{
	double	 s = 0;

	for (size_t i = 0; i < (size_t)g->w * g->h; i++)
		s += g->v[i];
	return s;
}

static void
test_density(void)
{
	unsigned char	 c[3 * HEATMAP_CELL_BYTES];
	int		 x, y;

	pack(c, 10, 20, 5);			/* inside the box below */
	pack(c + HEATMAP_CELL_BYTES, 100, 200, 3);	/* outside */
	pack(c + 2 * HEATMAP_CELL_BYTES, 5, 10, 2);	/* a mobile cell */
	struct heatmap_cells sets[2] = { { 1280, c, 2 }, { 380, c + 2 * HEATMAP_CELL_BYTES, 1 } };
	struct heatmap_clicks plain = { sets, 1, NULL, 0, 0, 1280 };
	struct heat_grid *g = heatmap_density(&plain, 1280, 1000);

	ok(g->w == 320 && g->h == 251, "grid of 4 px cells: 320 x (1000 / 4 + 1)");
	ok(fabs(sum(g) - 8) < 1e-4, "every click lands in the grid");
	ok(fabs(g->v[20 * 320 + 10] - 5) < 1e-4 && fabs(g->v[200 * 320 + 100] - 3) < 1e-4,
	    "a cell's clicks at its cell");
	heat_grid_free(g);

	plain.nsets = 2;
	g = heatmap_density(&plain, 1280, 1000);
	heat_max(g, &x, &y);
	ok(fabs(sum(g) - 10) < 1e-4, "another class's clicks are scaled in");
	/* mobile cell (5, 10) centre (5.5, 10.5) * 1280 / 380 = (18.5, 35.4) cells */
	ok(g->v[35 * 320 + 18] > 0 || g->v[35 * 320 + 19] > 0, "at their scaled place");
	heat_grid_free(g);

	/* An element box (screenshot 1280 px wide) over cell (10, 20): 32..64 x 64..96 px. */
	struct heatmap_element el[1] = { { 32, 64, 32, 32, 19, 19, 7 } };
	struct heatmap_clicks boxed = { sets, 1, el, 1, 1280, 1280 };
	g = heatmap_density(&boxed, 1280, 1000);
	ok(fabs(sum(g) - 10) < 1e-4, "element clicks replace the document cells under their box");
	heat_max(g, &x, &y);
	/* ex 19: 32 + 19.5 / 20 * 32 = 63.2 px -> cell 15.8 */
	ok(x >= 15 && x <= 16 && y >= 23 && y <= 24, "element clicks at their place in the box (%d,%d)",
	    x, y);
	heat_grid_free(g);

	/* A box of another device class's screenshot leaves desktop cells alone. */
	boxed.own_w = 380;
	g = heatmap_density(&boxed, 1280, 1000);
	ok(fabs(sum(g) - 15) < 1e-4, "cells of another class are never masked");
	heat_grid_free(g);
}

static void
test_difference(void)
{
	struct heat_grid	*a = heat_grid_new(10, 10), *b = heat_grid_new(10, 10);
	int			 x, y;

	/* Range a: 100 clicks at (2,2), 100 at (7,7). Range b: 10 at (2,2), 30 at (5,5). */
	a->v[2 * 10 + 2] = 100, a->v[7 * 10 + 7] = 100;
	b->v[2 * 10 + 2] = 10, b->v[5 * 10 + 5] = 30;
	heatmap_difference(a, b);
	ok(fabs(a->v[7 * 10 + 7] - 0.5) < 1e-6, "where only a has clicks: its share (more)");
	ok(fabs(a->v[5 * 10 + 5] + 0.75) < 1e-6, "where only b has clicks: minus its share (fewer)");
	ok(fabs(a->v[2 * 10 + 2] - 0.25) < 1e-6, "shares, not counts: 50 %% against 25 %%");
	ok(a->v[0] == 0, "no clicks in either: no difference");
	heatmap_signed_normalise(a, 1.0);
	ok(fabs(a->v[5 * 10 + 5] + 1) < 1e-6 && fabs(a->v[7 * 10 + 7] - 0.5 / 0.75) < 1e-6,
	    "normalised by the largest magnitude, sign kept");
	heat_grid_free(a);
	heat_grid_free(b);

	/* Equal shares cancel, whatever the traffic. */
	a = heat_grid_new(4, 4), b = heat_grid_new(4, 4);
	a->v[1] = 10, a->v[5] = 30;
	b->v[1] = 100, b->v[5] = 300;
	heatmap_difference(a, b);
	heatmap_signed_normalise(a, 0.99);
	ok(fabs(heat_max(a, &x, &y)) < 1e-6 && fabs(a->v[5]) < 1e-6, "the same shape with ten times the clicks: no difference");
	heat_grid_free(a);
	heat_grid_free(b);

	/* An empty range counts as zeros. */
	a = heat_grid_new(4, 4), b = heat_grid_new(4, 4);
	b->v[3] = 4;
	heatmap_difference(a, b);
	ok(fabs(a->v[3] + 1) < 1e-6, "nothing in a: all of b's share is fewer");
	heat_grid_free(a);
	heat_grid_free(b);

	double sa[101], sb[101], d[101];
	for (int i = 0; i <= 100; i++)
		sa[i] = i <= 50 ? 1 : 0.5, sb[i] = i <= 50 ? 1 : 0.25;
	heatmap_scroll_difference(sa, sb, d);
	ok(d[0] == 0 && fabs(d[80] - 1) < 1e-9, "scroll: more views reach the lower half");
	heatmap_scroll_difference(sb, sa, d);
	ok(fabs(d[80] + 1) < 1e-9, "scroll: the other way round is fewer");
	heatmap_scroll_difference(sa, sa, d);
	ok(d[80] == 0 && d[0] == 0, "scroll: equal maps differ nowhere");
}

static void
test_diff_palette(void)
{
	struct heat_rgba	 pal[HEAT_NCOLOURS];

	heat_diff_palette(pal);
	ok(pal[HEAT_CLEAR].a == 0, "index 0 is clear");
	ok(pal[HEAT_RAMP].r > pal[HEAT_RAMP].b + 100 && pal[HEAT_RAMP].a > 200, "most more: opaque red");
	ok(pal[1].b > pal[1].r + 100 && pal[1].a > 200, "most fewer: opaque blue");
	ok(pal[126].a < 30 && pal[125].a < 30, "no change: nearly clear");
	ok(pal[200].r > pal[200].b && pal[50].b > pal[50].r, "warm above the middle, cool below");

	/* Painting: a grid of -1, 0, 0, 0, 1 in five columns of 4 px. */
	struct heat_grid *g = heat_grid_new(5, 1);
	gdImagePtr im = heat_diff_image(20, 4);
	g->v[0] = -1, g->v[4] = 1;
	heat_diff_paint(g, im->pixels, 20, 4, 4);
	ok(im->pixels[1][0] == 1 && im->pixels[1][9] == HEAT_CLEAR && im->pixels[1][19] == HEAT_RAMP,
	    "-1 paints the bluest, 0 nothing, 1 the reddest");
	ok(im->blue[1] > im->red[1] && im->red[HEAT_RAMP] > im->blue[HEAT_RAMP],
	    "heat_diff_image() holds the diverging palette");
	heat_grid_free(g);
	gdImageDestroy(im);
}

int
main(void)
{
	test_params();
	test_defaults();
	test_share();
	test_cells();
	test_size();
	test_density();
	test_difference();
	test_diff_palette();
	return done_testing();
}
