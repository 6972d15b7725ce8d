/*
 * heatmap: the pure half of sp-heatmap, with no database and no I/O.
 *
 * Parameters (parsing and validation, the share-link decision), sizing of
 * the output, the click density grid built from packed cells
 * (sitepulse.click_density(), sql/017_click_grids.sql) and element cells,
 * the ETag digest of what was read, and the difference of two ranges.
 * sp-heatmap reads, renders through heat.h and answers; everything that
 * decides something is here, tested by tests/unit/test-heatmap.c.
 */
#ifndef SP_HEATMAP_H
#define SP_HEATMAP_H

#include <stddef.h>
#include <stdint.h>

#include "heat.h"
#include "http.h"
#include "param.h"

#define HEATMAP_MIN_WIDTH	 100
#define HEATMAP_MAX_WIDTH	 2000
#define HEATMAP_MAX_HEIGHT	 20000
#define HEATMAP_MAX_PIXELS	 40000000LL
#define HEATMAP_MAX_DAYS	 366
#define HEATMAP_DEFAULT_DAYS	 30
#define HEATMAP_MARGIN_REF	 200	/* px of reference height below the lowest click */
#define HEATMAP_CELL_BYTES	 16	/* a packed cell: cx int4, cy int4, clicks int8, big-endian */
#define HEATMAP_SHARE_MIN	 32	/* share tokens are 43 characters */
#define HEATMAP_SHARE_MAX	 128

/* A request's parameters, validated. Strings point into the query. */
struct heatmap_params {
	const char	*site;		/* NULL on a share link without site= */
	const char	*share;		/* the share token (share routes only) */
	const char	*path;		/* NULL when optional and absent */
	const char	*device;	/* desktop, tablet, mobile or all */
	const struct param_device *dev;
	int		 scroll, overlay;
	int		 no_legend;	/* legend=0: no legend drawn in the image */
	int		 width;		/* output width, px */
	struct param_range range;	/* from, to */
	int		 compare;	/* 1: compare_from/compare_to given */
	struct param_range against;	/* compare_from, compare_to */
	char		 why[96];	/* a reason heatmap_parse() wrote */
};

/* One day and device class of clicks as click_density() answers it. */
struct heatmap_cells {
	int			 refw;	/* the device class's reference width */
	const unsigned char	*p;	/* ncells packed cells */
	size_t			 ncells;
};

/* Clicks inside an element's box: the box (screenshot px) and a 20x20 grid cell. */
struct heatmap_element {
	int		 x, y, w, h;
	int		 ex, ey;
	long long	 clicks;
};

/* What a click density grid is built from. */
struct heatmap_clicks {
	const struct heatmap_cells	*sets;
	size_t				 nsets;
	const struct heatmap_element	*el;	/* may be NULL */
	size_t				 nel;
	int				 shot_w;	/* screenshot width (element boxes' px) */
	int				 own_w;		/* reference width of the screenshot's class */
};

/* The output's size, from the request and what was read. */
struct heatmap_size {
	int	 W, H;		/* output px */
	double	 Href;		/* output height in px at the reference width */
	double	 Hdoc;		/* page height at the reference width, before any cut */
	int	 clipped;	/* H was cut to the limits */
};

/* Where a share link's request stands. */
enum heatmap_share {
	HEATMAP_SHARE_OK,
	HEATMAP_SHARE_UNKNOWN,		/* no site has the token: 404 */
	HEATMAP_SHARE_OTHER_SITE	/* site= names another site: 403 */
};

int		 heatmap_parse(const struct http_query *, int, int, long, struct heatmap_params *,
		    const char **);
enum heatmap_share heatmap_share_check(const char *, const char *);
const char	*heatmap_shot_device(const struct heatmap_params *);

int		 heatmap_cells_ok(size_t);
void		 heatmap_cell(const unsigned char *, size_t, long long *, long long *, long long *);
double		 heatmap_lowest(const struct heatmap_cells *, size_t, int);
long long	 heatmap_total(const struct heatmap_cells *, size_t);
void		 heatmap_digest(uint64_t *, long long, long long, long long, long long);
void		 heatmap_digest_cells(uint64_t *, long long *, const struct heatmap_cells *, size_t);

void		 heatmap_size(int, int, int, int, int, double, struct heatmap_size *);
struct heat_grid *heatmap_density(const struct heatmap_clicks *, int, double);
void		 heatmap_difference(struct heat_grid *, const struct heat_grid *);
void		 heatmap_signed_normalise(struct heat_grid *, double);
void		 heatmap_scroll_difference(const double[101], const double[101], double[101]);

#endif
