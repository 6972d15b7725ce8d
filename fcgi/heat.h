/*
 * heat: rendering heatmaps as pure functions, with no database and no I/O.
 *
 * A click map is a density grid of HEAT_CELL px cells in a reference width
 * (the device class's; docs/architecture.md, "Heatmaps"), blurred by three
 * box blurs (close to a Gaussian), normalised at a high percentile so that
 * one hot spot does not wash out the rest, and painted through a perceptual
 * palette with alpha into the palette indices of an output image of any
 * width. A scroll map shades each depth by the share of views reaching it.
 * A difference map (two date ranges) paints signed values, -1 to 1,
 * through a diverging palette: blue for fewer, orange to red for more.
 * heat_image() and heat_png() wrap the result in a libgd palette image.
 */
#ifndef SP_HEAT_H
#define SP_HEAT_H

#include <stddef.h>

#include <gd.h>

#define HEAT_CELL	 4	/* px of a cell in the reference width: sitepulse.cell_size() */
#define HEAT_RAMP	 250	/* palette indices 1..HEAT_RAMP are the colour ramp */
#define HEAT_DIFF_MID	 125.5	/* a difference map's index of no change */
#define HEAT_DIFF_MIN	 0.02f	/* a difference map leaves smaller ones (of 1) clear */

/* The palette indices outside the ramp. */
enum heat_index {
	HEAT_CLEAR = 0,		/* fully transparent */
	HEAT_PANEL = 251,	/* legend background: white, mostly opaque */
	HEAT_INK = 252,		/* legend text and marker lines: near black */
	HEAT_PAPER = 253,	/* opaque white, under marker labels */
	HEAT_NCOLOURS = 254
};

/* One palette entry; a is opacity, 0 (transparent) to 255 (opaque). */
struct heat_rgba {
	unsigned char	 r, g, b, a;
};

/* A w x h grid of cell values, row-major. */
struct heat_grid {
	int	 w, h;
	float	*v;
};

/* A rectangle in output pixels. */
struct heat_box {
	int	 x, y, w, h;
};

struct heat_grid	*heat_grid_new(int, int);
void			 heat_grid_free(struct heat_grid *);
void			 heat_splat(struct heat_grid *, double, double, double);
void			 heat_blur(struct heat_grid *, int, int);
double			 heat_percentile(const struct heat_grid *, double);
void			 heat_normalise(struct heat_grid *, double);
double			 heat_max(const struct heat_grid *, int *, int *);

void			 heat_palette(struct heat_rgba[HEAT_NCOLOURS]);
double			 heat_luminance(struct heat_rgba);
void			 heat_paint(const struct heat_grid *, unsigned char **, int, int, double);
void			 heat_diff_palette(struct heat_rgba[HEAT_NCOLOURS]);
void			 heat_diff_paint(const struct heat_grid *, unsigned char **, int, int, double);

void			 heat_scroll_share(const long long[101], double[101]);
int			 heat_scroll_reach(const double[101], double);
void			 heat_scroll_paint(const double[101], unsigned char **, int, int, double);
void			 heat_scroll_diff_paint(const double[101], unsigned char **, int, int, double);

gdImagePtr		 heat_image(int, int);
gdImagePtr		 heat_diff_image(int, int);
void			 heat_legend(gdImagePtr, const char *, const char *);
void			 heat_marker(gdImagePtr, int, const char *);
void			 heat_composite(gdImagePtr, gdImagePtr);
void			*heat_png(gdImagePtr, int *);

#endif
