/*
 * compare: a report beside the same report over an earlier range
 * (compare=previous or compare=year on /sitepulse/stats). The earlier
 * range, which earlier row each row is compared with, and the relative
 * change of each figure. Pure functions over text cells; sp-stats runs
 * the two queries and writes the answer.
 */
#ifndef SP_COMPARE_H
#define SP_COMPARE_H

#include <stddef.h>

#include "param.h"

struct util_buf;

enum compare_kind {
	COMPARE_NONE,
	COMPARE_PREVIOUS,	/* the range before, of as many days */
	COMPARE_YEAR		/* the same dates a year earlier (29 Feb: 28 Feb) */
};

/* What a report's column is to the comparison. */
enum compare_role {
	COMPARE_KEY,		/* names the row: page, source, a funnel's step */
	COMPARE_FIGURE,		/* a count, rate or duration: gets a change */
	COMPARE_OTHER		/* neither: a time series' time (rows match by position) */
};

/* A report's rows as text cells, row-major; NULL for SQL NULL. */
struct compare_rows {
	int			 nrows, ncols;
	const char *const	*cell;		/* nrows * ncols */
	const enum compare_role	*role;		/* ncols */
};

#define COMPARE_CHANGE_MAX	32	/* room for compare_change()'s text */

int		 compare_kind_find(const char *, enum compare_kind *);
const char	*compare_kind_name(enum compare_kind);
void		 compare_range(const struct param_range *, enum compare_kind, struct param_range *);
int		*compare_match(const struct compare_rows *, const struct compare_rows *);
int		 compare_change(const char *, const char *, char *, size_t, double *);
void		 compare_changes(struct util_buf *, const struct compare_rows *, int,
		    const struct compare_rows *, int, const char *const *);

#endif
