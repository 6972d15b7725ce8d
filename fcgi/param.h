/*
 * param: the request parameters every reader of SitePulse data shares,
 * parsed one way everywhere: a date range (from/to) and a device class.
 * Pure functions over strings; the device table is the one place that
 * knows the classes' names, viewport thresholds and reference sizes
 * (sitepulse.device_width() in SQL holds the same widths).
 */
#ifndef SP_PARAM_H
#define SP_PARAM_H

/* A validated date range, both ends included, UTC days. */
struct param_range {
	long	 from_day, to_day;	/* days since 1970-01-01 */
	char	 from[11], to[11];	/* YYYY-MM-DD */
	char	 why[64];		/* the reason, when param_range() returns 0 */
};

/* A device class as requests name it; "all" only where a reader allows it. */
struct param_device {
	const char	*name;		/* desktop, tablet, mobile (or all) */
	int		 min_vw;	/* smallest viewport width of the class */
	int		 width;		/* reference width, CSS px */
	int		 fold;		/* first screen's height at that width */
};

long	 param_day_number(int, int, int);
void	 param_date(long, char [11]);
int	 param_range(const char *, const char *, long, int, int, struct param_range *);
const struct param_device *param_device(const char *, int);
const char *param_device_of(long long, long long);

#endif
