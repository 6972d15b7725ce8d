#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "util.h"

static const char *const kinds[] = {
	[COMPARE_NONE] = "none", [COMPARE_PREVIOUS] = "previous", [COMPARE_YEAR] = "year"
};

/* Looks a comparison up by its API name (previous, year); returns 1 with *k set, or 0. */
int
compare_kind_find(const char *s, enum compare_kind *k)
{
	for (int i = COMPARE_PREVIOUS; s != NULL && i <= COMPARE_YEAR; i++)
		if (strcmp(kinds[i], s) == 0) {
			*k = (enum compare_kind)i;
			return 1;
		}
	return 0;
}

const char *
compare_kind_name(enum compare_kind k)
{
	return kinds[k];
}

/* Day d (days since 1970-01-01) a year earlier: the same date, 29 February becomes the 28th. */
static long
year_before(long d)
{
	char	 s[11];
	int	 y, m, day;

	param_date(d, s);
	if (sscanf(s, "%d-%d-%d", &y, &m, &day) != 3)
		return d - 365;		/* not reached: param_date() writes a date */
	if (m == 2 && day == 29)
		day = 28;
	return param_day_number(y - 1, m, day);
}

/*
 * The range a comparison of kind k sets beside r (a valid range) into out:
 * for COMPARE_PREVIOUS as many days ending the day before r's first; for
 * COMPARE_YEAR the same dates a year earlier, 29 February its 28th (so a
 * range over 29 February has one day fewer then). COMPARE_NONE copies r.
 * Pure; out->why is left empty.
 */
void
compare_range(const struct param_range *r, enum compare_kind k, struct param_range *out)
{
	long	 days = r->to_day - r->from_day + 1;

	*out = *r;
	out->why[0] = '\0';
	if (k == COMPARE_PREVIOUS) {
		out->to_day = r->from_day - 1;
		out->from_day = r->from_day - days;
	} else if (k == COMPARE_YEAR) {
		out->from_day = year_before(r->from_day);
		out->to_day = year_before(r->to_day);
	}
	param_date(out->from_day, out->from);
	param_date(out->to_day, out->to);
}

/* Row a of t against row b of u (the same columns) by their key cells, in column order; NULL first. */
static int
key_cmp(const struct compare_rows *t, int a, const struct compare_rows *u, int b)
{
	for (int j = 0; j < t->ncols; j++) {
		const char	*x = t->cell[a * t->ncols + j], *y = u->cell[b * u->ncols + j];
		int		 c;

		if (t->role[j] != COMPARE_KEY || x == y)
			continue;
		if (x == NULL || y == NULL)
			return x == NULL ? -1 : 1;
		if ((c = strcmp(x, y)) != 0)
			return c;
	}
	return 0;
}

static int
index_cmp(const void *a, const void *b, void *t)
{
	return key_cmp(t, *(const int *)a, t, *(const int *)b);
}

/*
 * Which row of then each row of now is compared with: an array of
 * now->nrows indexes into then, -1 where then has no such row. Rows match
 * by their key cells (every COMPARE_KEY column, which both tables share);
 * without a key column, by position (the summary's one row, a time
 * series' i-th hour or day). The caller frees the result (NULL when now
 * has no rows). Pure; O((n + m) log m).
 */
int *
compare_match(const struct compare_rows *now, const struct compare_rows *then)
{
	int	*match, *order, keyed = 0;

	if (now->nrows == 0)
		return NULL;
	match = xcalloc((size_t)now->nrows, sizeof(*match));
	for (int j = 0; j < now->ncols; j++)
		keyed |= now->role[j] == COMPARE_KEY;
	if (!keyed) {
		for (int i = 0; i < now->nrows; i++)
			match[i] = i < then->nrows ? i : -1;
		return match;
	}
	order = xcalloc((size_t)then->nrows + 1, sizeof(*order));
	for (int i = 0; i < then->nrows; i++)
		order[i] = i;
	qsort_r(order, (size_t)then->nrows, sizeof(*order), index_cmp, (void *)then);
	for (int i = 0; i < now->nrows; i++) {
		int lo = 0, hi = then->nrows, c;

		match[i] = -1;
		while (lo < hi) {
			int mid = lo + (hi - lo) / 2;

			if ((c = key_cmp(now, i, then, order[mid])) == 0) {
				match[i] = order[mid];
				break;
			}
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	free(order);
	return match;
}

/*
 * A number's text as a double: 1, or 0 when s is NULL or not all a finite
 * number. A report's figures are integers and short decimals ("46.7"):
 * those of at most 15 digits are read here as m / 10^k, where m and 10^k
 * are exact in a double and the one division rounds correctly, so the
 * value is strtod()'s; strtod() reads the rest. An hourly series with
 * compare= reads thousands, and strtod() was an eighth of sp-stats' time.
 */
static int
number(const char *s, double *v)
{
	static const double	 scale[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
				    1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };
	const char		*p;
	char			*end;
	long long		 m = 0;
	int			 digits = 0, decimals = -1;

	if (s == NULL)
		return 0;
	for (p = s + (*s == '-'); digits <= 15; p++) {
		if (*p >= '0' && *p <= '9') {
			m = m * 10 + (*p - '0');
			digits++;
			decimals += decimals >= 0;
		} else if (*p == '.' && decimals < 0)
			decimals = 0;
		else
			break;
	}
	if (*p == '\0' && digits > 0 && digits <= 15 && decimals != 0) {
		*v = (double)m / scale[decimals < 0 ? 0 : decimals];
		if (*s == '-')
			*v = -*v;
		return 1;
	}
	*v = strtod(s, &end);
	return end != s && *end == '\0' && isfinite(*v);
}

/*
 * Writes c ten-thousandths as a decimal into buf ("0.25", "-1", "2.5"),
 * without printf's floating point (a report of hours formats thousands).
 * Returns 0 when it does not fit.
 */
static int
format_change(long long c, char *buf, size_t sz)
{
	char			 tmp[32], *p = tmp + sizeof(tmp);
	unsigned long long	 u = c < 0 ? 0ULL - (unsigned long long)c : (unsigned long long)c;
	unsigned		 frac = (unsigned)(u % 10000);
	int			 digits = 4;

	*--p = '\0';
	for (; frac != 0 && frac % 10 == 0; frac /= 10)
		digits--;
	for (; frac != 0; frac /= 10, digits--)
		*--p = (char)('0' + frac % 10);
	for (; digits > 0 && digits < 4; digits--)
		*--p = '0';
	if (u % 10000 != 0)
		*--p = '.';
	u /= 10000;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (c < 0)
		*--p = '-';
	if ((size_t)(tmp + sizeof(tmp) - p) > sz)
		return 0;
	memcpy(buf, p, (size_t)(tmp + sizeof(tmp) - p));
	return 1;
}

/*
 * The relative change from then to now (numbers as text, NULL for SQL
 * NULL): (now - then) / then, rounded to 4 decimals, as text into buf
 * ("0.25" is 25 % more, "-1" all gone) and as a number into *v (which
 * may be NULL). Returns 1, or 0 when there is no change to give: either
 * is NULL or not a number, or then is 0. Pure.
 */
int
compare_change(const char *now, const char *then, char *buf, size_t sz, double *v)
{
	double		 a, b, x;
	long long	 c;

	if (!number(now, &a) || !number(then, &b) || b == 0)
		return 0;
	x = round((a - b) / b * 10000);
	if (!isfinite(x) || fabs(x) > 1e15)
		return 0;
	c = (long long)x;
	if (!format_change(c, buf, sz))
		return 0;
	if (v != NULL)
		*v = (double)c / 10000;
	return 1;
}

/*
 * Appends row i of now's changes from row k of then (-1: none) to b as a
 * JSON object, {"visitors":0.25,"pageviews":null}: every COMPARE_FIGURE
 * column, named by names (now->ncols names), its change or null. Pure.
 */
void
compare_changes(struct util_buf *b, const struct compare_rows *now, int i,
    const struct compare_rows *then, int k, const char *const *names)
{
	char	 buf[COMPARE_CHANGE_MAX];
	int	 first = 1;

	util_buf_add(b, "{", 1);
	for (int j = 0; j < now->ncols; j++) {
		if (now->role[j] != COMPARE_FIGURE)
			continue;
		if (!first)
			util_buf_add(b, ",", 1);
		first = 0;
		util_buf_json_str(b, names[j]);
		util_buf_add(b, ":", 1);
		if (k >= 0 && compare_change(now->cell[i * now->ncols + j],
		    then->cell[k * then->ncols + j], buf, sizeof(buf), NULL))
			util_buf_add(b, buf, strlen(buf));
		else
			util_buf_add(b, "null", 4);
	}
	util_buf_add(b, "}", 1);
}
