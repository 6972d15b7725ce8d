#include <stdio.h>
#include <string.h>

#include "param.h"
#include "valid.h"

/*
 * The device classes, by viewport width: mobile below 768 px, tablet
 * below 1024, desktop from there. "all" draws every class at desktop's
 * size. The widths are those the heatmaps are drawn at and the screenshot
 * tool captures; the folds its viewport heights.
 */
static const struct param_device devices[] = {
	{ "desktop",	1024,	1280,	800 },
	{ "tablet",	768,	800,	1024 },
	{ "mobile",	0,	380,	740 },
	{ "all",	-1,	1280,	800 },
};

/*
 * Days since 1970-01-01 of the proleptic Gregorian date y-m-d (a valid
 * date; valid_date() checks). Howard Hinnant's days_from_civil: exact for
 * any year, no time zone, no libc. Pure.
 */
long
param_day_number(int y, int m, int d)
{
	long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Writes day (days since 1970-01-01) as YYYY-MM-DD into buf. The inverse of param_day_number(). */
void
param_date(long day, char buf[11])
{
	long	 z = day + 719468, era, doe, yoe, y, doy, mp, d, m;
	char	 tmp[64];

	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	/* Years past 9999 (never a valid_date()) would not fit: cut, never overflow. */
	snprintf(tmp, sizeof(tmp), "%04ld-%02ld-%02ld", y + (m <= 2), m, d);
	memcpy(buf, tmp, 10);
	buf[10] = '\0';
}

/*
 * Validates the range from..to (YYYY-MM-DD, both ends included) into r.
 * Both or neither: with neither, the range is the default_days days
 * ending today (a day number), and default_days 0 makes them required.
 * The range may not run backwards or span more than max_days days.
 * Returns 1, or 0 with the reason for a 400 in r->why. Pure.
 */
int
param_range(const char *from, const char *to, long today, int default_days, int max_days,
    struct param_range *r)
{
	int	 y, m, d;

	r->why[0] = '\0';
	if (from == NULL && to == NULL && default_days > 0) {
		r->to_day = today;
		r->from_day = today - default_days + 1;
	} else if (from == NULL || to == NULL) {
		snprintf(r->why, sizeof(r->why), default_days > 0 ? "from and to go together" :
		    "from and to are required (YYYY-MM-DD)");
		return 0;
	} else {
		if (!valid_date(from, &y, &m, &d))
			return snprintf(r->why, sizeof(r->why), "from: not a date (YYYY-MM-DD)"), 0;
		r->from_day = param_day_number(y, m, d);
		if (!valid_date(to, &y, &m, &d))
			return snprintf(r->why, sizeof(r->why), "to: not a date (YYYY-MM-DD)"), 0;
		r->to_day = param_day_number(y, m, d);
	}
	if (r->from_day > r->to_day)
		return snprintf(r->why, sizeof(r->why), "from is after to"), 0;
	if (r->to_day - r->from_day + 1 > max_days)
		return snprintf(r->why, sizeof(r->why), "range longer than %d days", max_days), 0;
	param_date(r->from_day, r->from);
	param_date(r->to_day, r->to);
	return 1;
}

/*
 * The device class named s, or NULL when s names none; "all" only when
 * allow_all. A NULL s is desktop, every reader's default. Pure.
 */
const struct param_device *
param_device(const char *s, int allow_all)
{
	if (s == NULL)
		return &devices[0];
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (strcmp(devices[i].name, s) == 0)
			return devices[i].min_vw >= 0 || allow_all ? &devices[i] : NULL;
	return NULL;
}

/*
 * The device class of a visitor from the viewport width vw, or the screen
 * width sw when the viewport is unknown (0); desktop when neither is
 * known. Pure.
 */
const char *
param_device_of(long long vw, long long sw)
{
	long long	 w = vw > 0 ? vw : sw;

	if (w <= 0)
		return devices[0].name;
	for (size_t i = 0; i < 3; i++)
		if (w >= devices[i].min_vw)
			return devices[i].name;
	return devices[0].name;
}
