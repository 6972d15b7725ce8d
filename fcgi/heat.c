#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gd.h>
#include <gdfonts.h>
#include <zlib.h>

#include "heat.h"
#include "util.h"

/* A new w x h grid of zeros (w, h >= 1); free it with heat_grid_free(). */
struct heat_grid *
heat_grid_new(int w, int h)
{
	struct heat_grid	*g = xmalloc(sizeof(*g));

	g->w = w;
	g->h = h;
	g->v = xcalloc((size_t)w * h, sizeof(float));
	return g;
}

void
heat_grid_free(struct heat_grid *g)
{
	if (g == NULL)
		return;
	free(g->v);
	free(g);
}

/*
 * Adds n clicks at (x, y), in cell units (cell i spans [i, i+1), so its
 * centre is i + 0.5), spread bilinearly over the four nearest cell centres.
 * A position between cells thus keeps its sub-cell place through the blur,
 * instead of snapping to a cell. The parts falling outside the grid are lost.
 */
void
heat_splat(struct heat_grid *g, double x, double y, double n)
{
	double	 fx = x - 0.5, fy = y - 0.5, tx, ty;
	int	 ix, iy;

	if (!(fx > -1 && fy > -1 && fx < g->w && fy < g->h))
		return;		/* also refuses NaN */
	ix = (int)floor(fx);
	iy = (int)floor(fy);
	tx = fx - ix;
	ty = fy - iy;
	for (int j = 0; j < 2; j++)
		for (int i = 0; i < 2; i++) {
			int	 cx = ix + i, cy = iy + j;
			double	 w = (i ? tx : 1 - tx) * (j ? ty : 1 - ty);

			if (cx >= 0 && cy >= 0 && cx < g->w && cy < g->h && w > 0)
				g->v[(size_t)cy * g->w + cx] += (float)(n * w);
		}
}

/*
 * One box blur of radius r along a line of n values spaced stride apart,
 * with zeros beyond both ends: out[i] is the mean of in[i-r .. i+r]. tmp
 * holds n values. The running sum makes it O(n) whatever r is.
 */
static void
box_line(float *v, size_t stride, int n, int r, double *tmp)
{
	double	 sum = 0, k = 1.0 / (2 * r + 1);

	for (int i = 0; i < n; i++)
		tmp[i] = v[i * stride];
	for (int i = 0; i < r && i < n; i++)
		sum += tmp[i];
	for (int i = 0; i < n; i++) {
		if (i + r < n)
			sum += tmp[i + r];
		if (i - r - 1 >= 0)
			sum -= tmp[i - r - 1];
		v[i * stride] = (float)(sum * k);
	}
}

/*
 * Blurs the grid with passes box blurs of radius r in each direction. Three
 * passes approximate a Gaussian of sigma = sqrt(passes * ((2r+1)^2 - 1) / 12)
 * cells (r = 3: 3.5 cells, 14 px); each pass is separable and linear in
 * the grid's size. Mass is kept except what spreads past the edges.
 */
void
heat_blur(struct heat_grid *g, int r, int passes)
{
	int	 n = g->w > g->h ? g->w : g->h;
	double	*tmp = xmalloc(n * sizeof(double));

	for (int p = 0; p < passes; p++) {
		for (int y = 0; y < g->h; y++)
			box_line(g->v + (size_t)y * g->w, 1, g->w, r, tmp);
		for (int x = 0; x < g->w; x++)
			box_line(g->v + x, g->w, g->h, r, tmp);
	}
	free(tmp);
}

/*
 * Rearranges v[0..n-1] so that v[k] holds the value it would hold sorted,
 * with nothing larger before it and nothing smaller after (Hoare's
 * selection): O(n) on average, where sorting a 640,000-cell grid to read
 * one value would cost ten times more.
 */
static float
select_kth(float *v, size_t n, size_t k)
{
	size_t	 lo = 0, hi = n - 1;

	while (lo < hi) {
		float	 pivot = v[lo + (hi - lo) / 2], t;
		size_t	 i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				t = v[i], v[i] = v[j], v[j] = t;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/*
 * The q-quantile (0 <= q <= 1) of the grid's non-zero values, or 0 when all
 * are zero. Zeros are left out so that the empty rest of a page does not
 * pull the reference down: the 99th percentile of the cells that have any
 * heat at all.
 */
double
heat_percentile(const struct heat_grid *g, double q)
{
	size_t	 n = (size_t)g->w * g->h, m = 0;
	float	*nz = xmalloc(n * sizeof(float));
	double	 v;

	for (size_t i = 0; i < n; i++)
		if (g->v[i] > 0)
			nz[m++] = g->v[i];
	if (m == 0) {
		free(nz);
		return 0;
	}
	v = select_kth(nz, m, (size_t)(q * (m - 1) + 0.5));
	free(nz);
	return v;
}

/* Scales the grid so that top becomes 1, clipping above; top <= 0 changes nothing. */
void
heat_normalise(struct heat_grid *g, double top)
{
	size_t	 n = (size_t)g->w * g->h;
	float	 k;

	if (!(top > 0))
		return;
	k = (float)(1.0 / top);
	for (size_t i = 0; i < n; i++)
		g->v[i] = g->v[i] * k > 1 ? 1 : g->v[i] * k;
}

/* The largest value and, when x and y are not NULL, its first cell. */
double
heat_max(const struct heat_grid *g, int *x, int *y)
{
	size_t	 n = (size_t)g->w * g->h, best = 0;

	for (size_t i = 1; i < n; i++)
		if (g->v[i] > g->v[best])
			best = i;
	if (x != NULL && y != NULL) {
		*x = (int)(best % g->w);
		*y = (int)(best / g->w);
	}
	return g->v[best];
}

/*
 * The colour ramp's anchors: from a dark violet through crimson and orange
 * to a pale yellow, each clearly lighter than the one before, so that the
 * ramp reads as "more" in colour and in lightness alike (the property
 * viridis and inferno are built around) and survives greyscale printing.
 */
static const struct { double t; unsigned char r, g, b; } anchors[] = {
	{ 0.00,  30,  12,  70 },
	{ 0.25, 110,  24, 120 },
	{ 0.50, 200,  50,  80 },
	{ 0.75, 248, 135,  30 },
	{ 1.00, 252, 246, 160 },
};

/* The ramp colour at t in [0, 1], interpolated linearly between anchors. */
static struct heat_rgba
ramp(double t)
{
	struct heat_rgba	 c;
	size_t			 i = 1;
	double			 u;

	while (i < sizeof(anchors) / sizeof(anchors[0]) - 1 && t > anchors[i].t)
		i++;
	u = (t - anchors[i - 1].t) / (anchors[i].t - anchors[i - 1].t);
	c.r = (unsigned char)lround(anchors[i - 1].r + u * (anchors[i].r - anchors[i - 1].r));
	c.g = (unsigned char)lround(anchors[i - 1].g + u * (anchors[i].g - anchors[i - 1].g));
	c.b = (unsigned char)lround(anchors[i - 1].b + u * (anchors[i].b - anchors[i - 1].b));
	/*
	 * Opacity grows with the square root of the heat: faint tails fade in
	 * from nothing (no hard edge where index 0 ends) and the hottest spots
	 * still let the page underneath show through.
	 */
	c.a = (unsigned char)lround(255 * 0.85 * sqrt(t));
	return c;
}

/*
 * Fills pal with the heatmap palette: index 0 transparent, 1..HEAT_RAMP the
 * ramp from cold to hot, then the legend's panel, ink and paper colours.
 */
void
heat_palette(struct heat_rgba pal[HEAT_NCOLOURS])
{
	memset(pal, 0, HEAT_NCOLOURS * sizeof(pal[0]));
	for (int i = 1; i <= HEAT_RAMP; i++)
		pal[i] = ramp((double)i / HEAT_RAMP);
	pal[HEAT_PANEL] = (struct heat_rgba){ 255, 255, 255, 220 };
	pal[HEAT_INK] = (struct heat_rgba){ 20, 20, 28, 255 };
	pal[HEAT_PAPER] = (struct heat_rgba){ 255, 255, 255, 255 };
}

/*
 * The diverging ramp's ends: "fewer" in blues, "more" in oranges to red,
 * each side darker and more opaque as the difference grows, so that the
 * sign reads in hue and the size in weight, and no change is clear.
 */
static const struct { unsigned char r, g, b; } cool[2] = { { 150, 200, 235 }, { 30, 60, 160 } };
static const struct { unsigned char r, g, b; } warm[2] = { { 250, 180, 90 }, { 200, 30, 30 } };

/*
 * Fills pal with the difference map's palette: index 0 transparent,
 * 1..HEAT_RAMP from most fewer (1) through no change (HEAT_DIFF_MID) to
 * most more (HEAT_RAMP), then the legend's colours as heat_palette().
 */
void
heat_diff_palette(struct heat_rgba pal[HEAT_NCOLOURS])
{
	heat_palette(pal);
	for (int i = 1; i <= HEAT_RAMP; i++) {
		double	 v = (i - HEAT_DIFF_MID) / (HEAT_DIFF_MID - 1), t = fabs(v);
		int	 hot = v > 0;
		double	 r0 = hot ? warm[0].r : cool[0].r, r1 = hot ? warm[1].r : cool[1].r;
		double	 g0 = hot ? warm[0].g : cool[0].g, g1 = hot ? warm[1].g : cool[1].g;
		double	 b0 = hot ? warm[0].b : cool[0].b, b1 = hot ? warm[1].b : cool[1].b;

		t = t > 1 ? 1 : t;
		pal[i].r = (unsigned char)lround(r0 + t * (r1 - r0));
		pal[i].g = (unsigned char)lround(g0 + t * (g1 - g0));
		pal[i].b = (unsigned char)lround(b0 + t * (b1 - b0));
		pal[i].a = (unsigned char)lround(255 * 0.85 * sqrt(t));
	}
}

/* An sRGB channel (0-255) in linear light. */
static double
linear(unsigned char c)
{
	double	 s = c / 255.0;

	return s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4);
}

/* The relative luminance (Rec. 709 / sRGB, 0-1) of a colour, ignoring alpha. */
double
heat_luminance(struct heat_rgba c)
{
	return 0.2126 * linear(c.r) + 0.7152 * linear(c.g) + 0.0722 * linear(c.b);
}

/* The palette index of a normalised value: 0 below the ramp's first step. */
static inline unsigned char
index_of(float v)
{
	int	 i = (int)(v * HEAT_RAMP);

	return (unsigned char)(i > HEAT_RAMP ? HEAT_RAMP : i < 0 ? 0 : i);
}

/*
 * The palette index of a value of a difference map, -1 (fewer) to 1
 * (more): the diverging ramp's middle is no change, and differences under
 * HEAT_DIFF_MIN of the largest are left transparent.
 */
static inline unsigned char
diff_index_of(float v)
{
	long	 i;

	if (v < HEAT_DIFF_MIN && v > -HEAT_DIFF_MIN)
		return HEAT_CLEAR;
	i = lround(HEAT_DIFF_MID + v * (HEAT_DIFF_MID - 1));
	return (unsigned char)(i < 1 ? 1 : i > HEAT_RAMP ? HEAT_RAMP : i);
}

/*
 * Paints grid g into the W x H palette rows, cellpx output px per cell,
 * sampling it bilinearly between cell centres: values 0-1 through the
 * ramp, or with signed values -1..1 through the diverging one. Work is
 * per output pixel, the encoder's cost, except where there is no heat to
 * paint: rows with none nearby are cleared with one memset, and so are the
 * pixels between two cells of a row that are both too faint for the
 * palette (every value between them is, too; `quiet` keeps a margin for
 * rounding).
 */
static void
paint_grid(const struct heat_grid *g, unsigned char **rows, int W, int H, double cellpx, int sgn)
{
	int	*x0 = xmalloc(W * sizeof(int)), *start = xmalloc((g->w + 1) * sizeof(int));
	float	*tx = xmalloc(W * sizeof(float)), *line = xmalloc(g->w * sizeof(float));
	char	*empty = xcalloc(g->h, 1);
	float	 low = sgn ? HEAT_DIFF_MIN : 1.0f / HEAT_RAMP, quiet = low * 0.999f;

	for (int x = 0; x < W; x++) {
		double gx = (x + 0.5) / cellpx - 0.5;
		if (gx < 0)
			gx = 0;
		if (gx > g->w - 1)
			gx = g->w - 1;
		x0[x] = (int)gx < g->w - 1 ? (int)gx : g->w - 1;
		tx[x] = (float)(gx - x0[x]);
	}
	/* start[i]: the first pixel sampled from cell i onwards (x0 never decreases). */
	for (int i = 0, x = 0; i <= g->w; i++) {
		while (x < W && x0[x] < i)
			x++;
		start[i] = x;
	}
	for (int y = 0; y < g->h; y++) {
		const float *row = g->v + (size_t)y * g->w;
		int i = 0;
		while (i < g->w && row[i] < low && -row[i] < low)
			i++;
		empty[y] = i == g->w;
	}
	for (int y = 0; y < H; y++) {
		double gy = (y + 0.5) / cellpx - 0.5;
		int y0, y1;
		float ty;

		gy = gy < 0 ? 0 : gy > g->h - 1 ? g->h - 1 : gy;
		y0 = (int)gy;
		y1 = y0 + 1 < g->h ? y0 + 1 : y0;
		ty = (float)(gy - y0);
		if (empty[y0] && empty[y1]) {
			memset(rows[y], HEAT_CLEAR, W);
			continue;
		}
		const float *a = g->v + (size_t)y0 * g->w, *b = g->v + (size_t)y1 * g->w;
		for (int i = 0; i < g->w; i++)
			line[i] = a[i] + ty * (b[i] - a[i]);
		for (int i = 0; i < g->w; i++) {
			int j = i + 1 < g->w ? i + 1 : i;
			float li = line[i], d = line[j] - li;

			if (start[i] == start[i + 1])
				continue;
			if (fabsf(li) < quiet && fabsf(line[j]) < quiet) {
				memset(rows[y] + start[i], HEAT_CLEAR, start[i + 1] - start[i]);
				continue;
			}
			for (int x = start[i]; x < start[i + 1]; x++) {
				float v = li + tx[x] * d;
				rows[y][x] = sgn ? diff_index_of(v) : index_of(v);
			}
		}
	}
	free(start);
	free(x0);
	free(tx);
	free(line);
	free(empty);
}

/* Paints the normalised grid g (values 0-1) into the W x H palette rows (paint_grid()). */
void
heat_paint(const struct heat_grid *g, unsigned char **rows, int W, int H, double cellpx)
{
	paint_grid(g, rows, W, H, cellpx, 0);
}

/*
 * Paints a difference grid (values -1 to 1, heatmap_signed_normalise())
 * into the W x H rows of an image made by heat_diff_image().
 */
void
heat_diff_paint(const struct heat_grid *g, unsigned char **rows, int W, int H, double cellpx)
{
	paint_grid(g, rows, W, H, cellpx, 1);
}

/*
 * From views[d], the number of page views whose deepest scroll was d
 * percent, computes share[d]: the fraction of views that reached at least
 * d percent (1 at depth 0 when there is any view; all 0 when none).
 */
void
heat_scroll_share(const long long views[101], double share[101])
{
	long long	 total = 0, reached = 0;

	for (int d = 0; d <= 100; d++)
		total += views[d] > 0 ? views[d] : 0;
	for (int d = 100; d >= 0; d--) {
		reached += views[d] > 0 ? views[d] : 0;
		share[d] = total > 0 ? (double)reached / total : 0;
	}
}

/* The deepest depth (0-100) that at least frac of the views reached, or -1. */
int
heat_scroll_reach(const double share[101], double frac)
{
	for (int d = 100; d >= 0; d--)
		if (share[d] >= frac && share[d] > 0)
			return d;
	return -1;
}

/*
 * Paints a scroll map into the W x H palette rows of a document doc_h px
 * tall in the output's scale (H is less when the image was cut short):
 * row y lies at depth y / doc_h and is shaded by the share of views that
 * reached it, from the coldest colour (nobody) to the hottest (everybody).
 */
void
heat_scroll_paint(const double share[101], unsigned char **rows, int W, int H, double doc_h)
{
	for (int y = 0; y < H; y++) {
		double	 d = (y + 0.5) * 100.0 / doc_h;
		int	 d0, d1;
		double	 s;

		d = d > 100 ? 100 : d;
		d0 = (int)d;
		d1 = d0 < 100 ? d0 + 1 : 100;
		s = share[d0] + (d - d0) * (share[d1] - share[d0]);
		memset(rows[y], 1 + (int)lround(s * (HEAT_RAMP - 1)), W);
	}
}

/*
 * Paints the difference of two scroll maps (heatmap_scroll_difference(),
 * -1 to 1 per depth) into the W x H rows of a heat_diff_image(), as
 * heat_scroll_paint() lays depths out.
 */
void
heat_scroll_diff_paint(const double diff[101], unsigned char **rows, int W, int H, double doc_h)
{
	for (int y = 0; y < H; y++) {
		double	 d = (y + 0.5) * 100.0 / doc_h;
		int	 d0, d1;

		d = d > 100 ? 100 : d;
		d0 = (int)d;
		d1 = d0 < 100 ? d0 + 1 : 100;
		memset(rows[y], diff_index_of((float)(diff[d0] + (d - d0) * (diff[d1] - diff[d0]))), W);
	}
}

/* A new W x H palette image of palette pal, every pixel transparent; abort()s when out of memory. */
static gdImagePtr
palette_image(int W, int H, const struct heat_rgba pal[HEAT_NCOLOURS])
{
	gdImagePtr	 im = gdImageCreate(W, H);

	if (im == NULL)
		abort();	/* out of memory: the process manager starts a new one */
	for (int i = 0; i < HEAT_NCOLOURS; i++)
		gdImageColorAllocateAlpha(im, pal[i].r, pal[i].g, pal[i].b,
		    gdAlphaTransparent - (pal[i].a * gdAlphaTransparent + 127) / 255);
	gdImageColorTransparent(im, HEAT_CLEAR);
	return im;
}

/*
 * A new W x H palette image holding the heatmap palette, every pixel
 * transparent. The caller frees it with gdImageDestroy().
 */
gdImagePtr
heat_image(int W, int H)
{
	struct heat_rgba	 pal[HEAT_NCOLOURS];

	heat_palette(pal);
	return palette_image(W, H, pal);
}

/* As heat_image(), with the difference map's palette (heat_diff_palette()). */
gdImagePtr
heat_diff_image(int W, int H)
{
	struct heat_rgba	 pal[HEAT_NCOLOURS];

	heat_diff_palette(pal);
	return palette_image(W, H, pal);
}

/*
 * Draws the legend in the top right corner of the palette image im: the
 * ramp as a bar between the labels lo and hi (e.g. "few", "many clicks").
 */
void
heat_legend(gdImagePtr im, const char *lo, const char *hi)
{
	gdFontPtr	 f = gdFontGetSmall();
	int		 bw = 120, pw = bw + 16, ph = 34;
	int		 x = gdImageSX(im) - pw - 8, y = 8;

	if (x < 0 || gdImageSY(im) < ph + 16)
		return;
	gdImageFilledRectangle(im, x, y, x + pw - 1, y + ph - 1, HEAT_PANEL);
	for (int i = 0; i < bw; i++)
		gdImageLine(im, x + 8 + i, y + 6, x + 8 + i, y + 15,
		    1 + i * (HEAT_RAMP - 1) / (bw - 1));
	gdImageString(im, f, x + 8, y + 18, (unsigned char *)lo, HEAT_INK);
	gdImageString(im, f, x + pw - 8 - (int)strlen(hi) * f->w, y + 18, (unsigned char *)hi,
	    HEAT_INK);
}

/* Draws a dashed marker line across im at row y, labelled at the left. */
void
heat_marker(gdImagePtr im, int y, const char *label)
{
	gdFontPtr	 f = gdFontGetSmall();
	int		 w = (int)strlen(label) * f->w + 8;

	if (y < 0 || y >= gdImageSY(im))
		return;
	for (int x = 0; x < gdImageSX(im); x += 12)
		gdImageLine(im, x, y, x + 6, y, HEAT_INK);
	y = y - f->h - 3 < 0 ? y + 2 : y - f->h - 3;
	gdImageFilledRectangle(im, 4, y, 4 + w, y + f->h + 1, HEAT_PAPER);
	gdImageString(im, f, 8, y + 1, (unsigned char *)label, HEAT_INK);
}

/*
 * Blends the palette image heat (heat_image() or heat_diff_image()) over
 * the truecolour image dst of the same size, pixel by pixel with each of
 * its palette entries' alpha.
 */
void
heat_composite(gdImagePtr dst, gdImagePtr heat)
{
	int	 W = gdImageSX(dst), H = gdImageSY(dst), alpha[HEAT_NCOLOURS];

	for (int i = 0; i < HEAT_NCOLOURS; i++)
		alpha[i] = 255 - (heat->alpha[i] * 255 + gdAlphaTransparent / 2) / gdAlphaTransparent;
	for (int y = 0; y < H && y < gdImageSY(heat); y++)
		for (int x = 0; x < W && x < gdImageSX(heat); x++) {
			unsigned char	 i = heat->pixels[y][x];
			int		 p = dst->tpixels[y][x], a;

			if (i == HEAT_CLEAR || i >= HEAT_NCOLOURS)
				continue;
			a = alpha[i];
			dst->tpixels[y][x] = gdTrueColor(
			    (gdTrueColorGetRed(p) * (255 - a) + heat->red[i] * a) / 255,
			    (gdTrueColorGetGreen(p) * (255 - a) + heat->green[i] * a) / 255,
			    (gdTrueColorGetBlue(p) * (255 - a) + heat->blue[i] * a) / 255);
		}
}

/* Appends PNG chunk kind with its n bytes of data, length and CRC to b. */
static void
png_chunk(struct util_buf *b, const char *kind, const unsigned char *data, size_t n)
{
	unsigned char	 be[4];
	uLong		 crc = crc32(0, (const Bytef *)kind, 4);

	crc = crc32(crc, data != NULL ? data : (const Bytef *)"", (uInt)n);
	be[0] = (unsigned char)(n >> 24), be[1] = (unsigned char)(n >> 16);
	be[2] = (unsigned char)(n >> 8), be[3] = (unsigned char)n;
	util_buf_add(b, (const char *)be, 4);
	util_buf_add(b, kind, 4);
	if (n > 0)
		util_buf_add(b, (const char *)data, n);
	be[0] = (unsigned char)(crc >> 24), be[1] = (unsigned char)(crc >> 16);
	be[2] = (unsigned char)(crc >> 8), be[3] = (unsigned char)crc;
	util_buf_add(b, (const char *)be, 4);
}

/*
 * Encodes the palette image im as an 8-bit palette PNG with its alpha in
 * tRNS (libgd's own mapping of its 7-bit alpha), rows unfiltered, the
 * pixels deflated at level 1 with the run-length strategy: a heatmap is
 * runs of one index along a row, which that finds as well as the full
 * search does, in less time, and the rows go to zlib straight from the
 * image without libgd's per-pixel palette remapping. Returns the bytes
 * (free() them) and their count in *size, or NULL.
 */
static void *
palette_png(gdImagePtr im, int *size)
{
	int		 W = gdImageSX(im), H = gdImageSY(im), n = gdImageColorsTotal(im), ntrns = 0;
	unsigned char	 ihdr[13], pal[3 * 256], trns[256], *line = xmalloc((size_t)W + 1), *z;
	struct util_buf	 b = { 0 };
	z_stream	 zs;
	size_t		 cap;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15, 8, Z_RLE) != Z_OK)
		abort();
	for (int i = 0; i < 4; i++) {
		ihdr[i] = (unsigned char)((unsigned)W >> (24 - 8 * i));
		ihdr[4 + i] = (unsigned char)((unsigned)H >> (24 - 8 * i));
	}
	memcpy(ihdr + 8, "\x08\x03\x00\x00\x00", 5);	/* 8 bits, palette, deflate, no filter, no interlace */
	for (int i = 0; i < n; i++) {
		int a = gdImageAlpha(im, i);
		pal[3 * i] = (unsigned char)gdImageRed(im, i);
		pal[3 * i + 1] = (unsigned char)gdImageGreen(im, i);
		pal[3 * i + 2] = (unsigned char)gdImageBlue(im, i);
		trns[i] = i == gdImageGetTransparent(im) ? 0 : (unsigned char)(255 - ((a << 1) + (a >> 6)));
		if (trns[i] != 255)
			ntrns = i + 1;
	}
	cap = deflateBound(&zs, ((uLong)W + 1) * (uLong)H);
	z = xmalloc(cap);
	zs.next_out = z;
	zs.avail_out = (uInt)cap;
	line[0] = 0;				/* filter type None */
	for (int y = 0; y < H; y++) {
		memcpy(line + 1, im->pixels[y], (size_t)W);
		zs.next_in = line;
		zs.avail_in = (uInt)W + 1;
		if (deflate(&zs, y == H - 1 ? Z_FINISH : Z_NO_FLUSH) == Z_STREAM_ERROR)
			abort();
	}
	util_buf_add(&b, "\x89PNG\r\n\x1a\n", 8);
	png_chunk(&b, "IHDR", ihdr, sizeof(ihdr));
	png_chunk(&b, "PLTE", pal, 3 * (size_t)n);
	if (ntrns > 0)
		png_chunk(&b, "tRNS", trns, (size_t)ntrns);
	png_chunk(&b, "IDAT", z, zs.total_out);
	png_chunk(&b, "IEND", NULL, 0);
	deflateEnd(&zs);
	free(z);
	free(line);
	*size = (int)b.len;
	return b.p;
}

/*
 * Encodes im as PNG: a palette heat image by palette_png(), a truecolour
 * one (a map over its screenshot) by libgd at zlib level 1. Returns the
 * bytes (free() them) and their count in *size, or NULL.
 */
void *
heat_png(gdImagePtr im, int *size)
{
	void	*gd, *out;

	if (!gdImageTrueColor(im))
		return palette_png(im, size);
	if ((gd = gdImagePngPtrEx(im, size, 1)) == NULL)
		return NULL;
	out = xmalloc((size_t)*size);
	memcpy(out, gd, (size_t)*size);
	gdFree(gd);
	return out;
}
