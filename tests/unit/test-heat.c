/* Tests of the heatmap rendering functions in fcgi/heat.c: kernel, normalisation, palette, painting. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heat.h"
#include "tap.h"

static double
grid_sum(const struct heat_grid *g)
{
	double	 s = 0;

	for (int i = 0; i < g->w * g->h; i++)
		s += g->v[i];
	return s;
}

/* The blur keeps a point's mass, spreads it symmetrically and peaks at the point. */
static void
test_kernel(void)
{
	struct heat_grid	*g = heat_grid_new(61, 41);
	int			 x, y, sym = 1, mono = 1;

	heat_splat(g, 30.5, 20.5, 1000);
	ok(fabs(grid_sum(g) - 1000) < 1e-3 && g->v[20 * 61 + 30] == 1000,
	    "a click on a cell centre lands whole in that cell");
	heat_blur(g, 3, 3);
	ok(fabs(grid_sum(g) - 1000) < 0.01, "blur keeps the mass of an interior point (%.4f)", grid_sum(g));
	heat_max(g, &x, &y);
	ok(x == 30 && y == 20, "blurred peak stays on the point (%d,%d)", x, y);
	for (int d = 1; d <= 12; d++) {
		float c = g->v[20 * 61 + 30];
		if (fabsf(g->v[20 * 61 + 30 + d] - g->v[20 * 61 + 30 - d]) > 1e-4f ||
		    fabsf(g->v[(20 + d) * 61 + 30] - g->v[(20 - d) * 61 + 30]) > 1e-4f)
			sym = 0;
		if (g->v[20 * 61 + 30 + d] > g->v[20 * 61 + 30 + d - 1] || g->v[20 * 61 + 30 + d] > c)
			mono = 0;
	}
	ok(sym, "kernel is symmetric in x and y");
	ok(mono, "kernel falls off monotonically from the centre");
	ok(g->v[20 * 61 + 30 + 10] == 0, "three radius-3 boxes reach exactly 9 cells");
	ok(g->v[20 * 61 + 30 + 9] > 0, "and 9 cells away there is still heat");
	heat_grid_free(g);

	g = heat_grid_new(10, 10);
	heat_splat(g, 3.0, 5.5, 8);	/* between cells 2 and 3 */
	ok(fabsf(g->v[5 * 10 + 2] - 4) < 1e-5f && fabsf(g->v[5 * 10 + 3] - 4) < 1e-5f,
	    "a click on a cell edge is split between both cells");
	heat_splat(g, -5, 3, 1);
	heat_splat(g, NAN, 3, 1);
	ok(fabs(grid_sum(g) - 8) < 1e-5, "positions outside the grid (or NaN) are dropped");
	heat_grid_free(g);
}

/* The 99th percentile of non-zero cells, and clipping at it. */
static void
test_normalise(void)
{
	struct heat_grid	*g = heat_grid_new(100, 10);
	double			 p;

	for (int i = 0; i < 500; i++)
		g->v[i] = (float)(i + 1);	/* 1..500, the other 500 cells zero */
	g->v[999] = 1e6f;			/* one extreme hot spot */
	p = heat_percentile(g, 0.99);
	ok(p >= 490 && p <= 500, "p99 ignores zeros and one outlier (%.1f)", p);
	ok(heat_percentile(g, 0) == 1, "p0 is the smallest non-zero value");
	ok(heat_percentile(g, 1) == 1e6, "p100 is the largest");
	heat_normalise(g, p);
	ok(g->v[999] == 1 && g->v[0] > 0 && g->v[0] < 0.01f, "values scaled to p99 and clipped at 1");
	ok(g->v[600] == 0, "zeros stay zero");
	heat_grid_free(g);

	g = heat_grid_new(4, 4);
	ok(heat_percentile(g, 0.99) == 0, "an empty grid has percentile 0");
	heat_normalise(g, 0);
	ok(grid_sum(g) == 0, "normalising an empty grid changes nothing");
	heat_grid_free(g);
}

/* The ramp gets lighter and more opaque with heat; index 0 is transparent. */
static void
test_palette(void)
{
	struct heat_rgba	 pal[HEAT_NCOLOURS];
	int			 lum = 1, alpha = 1;

	heat_palette(pal);
	ok(pal[HEAT_CLEAR].a == 0, "index 0 is transparent");
	for (int i = 2; i <= HEAT_RAMP; i++) {
		if (heat_luminance(pal[i]) <= heat_luminance(pal[i - 1]))
			lum = 0;
		if (pal[i].a < pal[i - 1].a)
			alpha = 0;
	}
	ok(lum, "luminance strictly increases along the ramp");
	ok(alpha, "opacity never decreases along the ramp");
	ok(heat_luminance(pal[HEAT_RAMP]) > 5 * heat_luminance(pal[1]), "hot is much lighter than cold");
	ok(pal[1].a < 30 && pal[HEAT_RAMP].a > 200 && pal[HEAT_RAMP].a < 255,
	    "faint heat nearly transparent, the hottest still lets the page show");
	ok(pal[HEAT_INK].a == 255 && heat_luminance(pal[HEAT_INK]) < 0.02, "legend ink is opaque and dark");
}

/*
 * A known set of clicks: 50 on one spot, 10 on another, 1 elsewhere. After
 * the whole pipeline the hottest output pixel is on the 50-click spot, at
 * every output scale.
 */
static void
test_hottest(void)
{
	static const int	 widths[] = { 320, 1280, 2000 };

	for (size_t k = 0; k < sizeof(widths) / sizeof(widths[0]); k++) {
		int		 W = widths[k], H = W * 3 / 4;
		double		 cellpx = 4.0 * W / 1280;
		struct heat_grid *g = heat_grid_new(320, 240);
		gdImagePtr	 im = heat_image(W, H);
		int		 bx = 0, by = 0, best = -1, n = 0;
		double		 sx = 0, sy = 0;

		/* Spot A at reference px (402, 518) = cell (100.5, 129.5). */
		heat_splat(g, 402 / 4.0, 518 / 4.0, 50);
		heat_splat(g, 900 / 4.0, 200 / 4.0, 10);
		heat_splat(g, 100 / 4.0, 800 / 4.0, 1);
		heat_blur(g, 3, 3);
		heat_normalise(g, heat_max(g, NULL, NULL));
		heat_paint(g, im->pixels, W, H, cellpx);
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				if (im->pixels[y][x] > best)
					best = im->pixels[y][x], bx = x, by = y;
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++)
				if (im->pixels[y][x] == best)
					sx += x + 0.5, sy += y + 0.5, n++;
		sx /= n;
		sy /= n;
		ok(best >= HEAT_RAMP - 3, "width %d: the peak reaches the top of the ramp (%d)", W, best);
		ok(fabs(sx - 402.0 * W / 1280) <= 2 && fabs(sy - 518.0 * W / 1280) <= 2,
		    "width %d: hottest region centred on the 50-click spot (%.1f,%.1f) want (%.1f,%.1f)",
		    W, sx, sy, 402.0 * W / 1280, 518.0 * W / 1280);
		ok(im->pixels[(int)(200.0 * W / 1280)][(int)(900.0 * W / 1280)] > 0 &&
		    im->pixels[(int)(200.0 * W / 1280)][(int)(900.0 * W / 1280)] < best,
		    "width %d: the 10-click spot is visible and cooler", W);
		ok(im->pixels[H - 1][0] == HEAT_CLEAR && im->pixels[0][W - 1] == HEAT_CLEAR,
		    "width %d: far from any click it is transparent", W);
		(void)bx, (void)by;
		gdImageDestroy(im);
		heat_grid_free(g);
	}
}

/* Scroll shares, their markers, and the shading. */
static void
test_scroll(void)
{
	long long	 views[101] = { 0 };
	double		 share[101];
	gdImagePtr	 im = heat_image(10, 100);

	views[20] = 25;		/* 100 views: a quarter stop at 20 %, ... */
	views[40] = 25;
	views[60] = 25;
	views[100] = 25;
	heat_scroll_share(views, share);
	ok(share[0] == 1 && share[20] == 1 && fabs(share[21] - 0.75) < 1e-9, "shares step down after each stop");
	ok(fabs(share[100] - 0.25) < 1e-9, "a quarter read to the end");
	ok(heat_scroll_reach(share, 0.75) == 40 && heat_scroll_reach(share, 0.5) == 60 &&
	    heat_scroll_reach(share, 0.25) == 100, "75/50/25 %% reach depths");
	heat_scroll_paint(share, im->pixels, 10, 100, 100);
	ok(im->pixels[5][0] == HEAT_RAMP && im->pixels[95][9] < im->pixels[50][0] &&
	    im->pixels[50][0] < im->pixels[5][0], "deeper rows are cooler");
	memset(views, 0, sizeof(views));
	heat_scroll_share(views, share);
	ok(share[0] == 0 && heat_scroll_reach(share, 0.5) == -1, "no views: no shares, no markers");
	gdImageDestroy(im);
}

/* PNG output of a palette heat image is a palette PNG of the right size with transparency. */
static void
test_png(void)
{
	gdImagePtr	 im = heat_image(300, 200);
	unsigned char	*png;
	int		 size = 0;

	heat_legend(im, "fewer", "more");
	png = heat_png(im, &size);
	ok(png != NULL && size > 33 && memcmp(png + 12, "IHDR", 4) == 0, "encodes a PNG");
	ok(png[16] == 0 && png[17] == 0 && png[18] == 1 && png[19] == 44 &&
	    png[22] == 0 && png[23] == 200, "IHDR says 300 x 200");
	ok(png[25] == 3, "colour type 3: a palette image");
	ok(memmem(png, size, "tRNS", 4) != NULL, "with a transparency chunk");
	free(png);
	gdImageDestroy(im);
}

/* What heat_png() writes decodes (libgd's reader) to the same colours and alpha, pixel by pixel. */
static void
test_png_roundtrip(void)
{
	static const struct { int diff, W, H; } t[] = { { 0, 300, 200 }, { 1, 97, 31 }, { 0, 1, 1 } };

	for (size_t c = 0; c < sizeof(t) / sizeof(t[0]); c++) {
		gdImagePtr	 im = t[c].diff ? heat_diff_image(t[c].W, t[c].H) : heat_image(t[c].W, t[c].H);
		gdImagePtr	 back;
		void		*png;
		int		 size = 0, bad = 0;

		for (int y = 0; y < t[c].H; y++)
			for (int x = 0; x < t[c].W; x++)
				im->pixels[y][x] = (unsigned char)((x * 7 + y * 3) % HEAT_NCOLOURS);
		heat_legend(im, "fewer", "more");
		png = heat_png(im, &size);
		back = png != NULL ? gdImageCreateFromPngPtr(size, png) : NULL;
		for (int y = 0; back != NULL && y < t[c].H; y++)
			for (int x = 0; x < t[c].W; x++) {
				int a = gdImageGetPixel(im, x, y), b = gdImageGetPixel(back, x, y);
				int ta = gdImageGetTransparent(im) == a, tb = gdImageGetTransparent(back) == b;
				if (ta != tb || (!ta && (gdImageRed(im, a) != gdImageRed(back, b) ||
				    gdImageGreen(im, a) != gdImageGreen(back, b) ||
				    gdImageBlue(im, a) != gdImageBlue(back, b) ||
				    gdImageAlpha(im, a) != gdImageAlpha(back, b))))
					bad++;
			}
		ok(back != NULL && gdImageSX(back) == t[c].W && gdImageSY(back) == t[c].H && bad == 0,
		    "PNG %dx%d (%s palette) decodes to the same pixels (%d differ)", t[c].W, t[c].H,
		    t[c].diff ? "diverging" : "ramp", bad);
		if (back != NULL)
			gdImageDestroy(back);
		free(png);
		gdImageDestroy(im);
	}
}

int
main(void)
{
	test_kernel();
	test_normalise();
	test_palette();
	test_hottest();
	test_scroll();
	test_png();
	test_png_roundtrip();
	return done_testing();
}
