/* Table-driven tests of fcgi/compare.c: earlier ranges, row matching, relative changes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "tap.h"
#include "util.h"

static void
test_kind(void)
{
	enum compare_kind	 k = COMPARE_NONE;

	ok(compare_kind_find("previous", &k) && k == COMPARE_PREVIOUS, "previous");
	ok(compare_kind_find("year", &k) && k == COMPARE_YEAR, "year");
	ok(!compare_kind_find("none", &k) && !compare_kind_find("", &k) &&
	    !compare_kind_find("Year", &k) && !compare_kind_find(NULL, &k), "nothing else");
	ok(strcmp(compare_kind_name(COMPARE_YEAR), "year") == 0, "name of year");
}

static void
test_range(void)
{
	static const struct {
		const char		*from, *to;
		enum compare_kind	 k;
		const char		*want_from, *want_to;
	} t[] = {
		{ "2025-03-10", "2025-03-16", COMPARE_PREVIOUS, "2025-03-03", "2025-03-09" },
		{ "2025-03-10", "2025-03-10", COMPARE_PREVIOUS, "2025-03-09", "2025-03-09" },
		{ "2025-03-01", "2025-03-31", COMPARE_PREVIOUS, "2025-01-29", "2025-02-28" },
		{ "2024-03-01", "2024-03-31", COMPARE_PREVIOUS, "2024-01-30", "2024-02-29" },
		{ "2025-01-01", "2025-01-07", COMPARE_PREVIOUS, "2024-12-25", "2024-12-31" },
		{ "2000-01-01", "2000-01-31", COMPARE_PREVIOUS, "1999-12-01", "1999-12-31" },
		{ "2023-01-01", "2024-12-31", COMPARE_PREVIOUS, "2020-12-31", "2022-12-31" },	/* 731 days */
		{ "2025-03-10", "2025-03-16", COMPARE_YEAR, "2024-03-10", "2024-03-16" },
		{ "2025-01-01", "2025-12-31", COMPARE_YEAR, "2024-01-01", "2024-12-31" },
		{ "2024-02-29", "2024-02-29", COMPARE_YEAR, "2023-02-28", "2023-02-28" },
		{ "2024-02-01", "2024-02-29", COMPARE_YEAR, "2023-02-01", "2023-02-28" },
		{ "2024-02-28", "2024-03-01", COMPARE_YEAR, "2023-02-28", "2023-03-01" },
		{ "2025-02-28", "2025-03-01", COMPARE_YEAR, "2024-02-28", "2024-03-01" },
		{ "2000-03-01", "2000-03-01", COMPARE_YEAR, "1999-03-01", "1999-03-01" },
		{ "2025-03-10", "2025-03-16", COMPARE_NONE, "2025-03-10", "2025-03-16" },
	};
	struct param_range	 r, out;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (!param_range(t[i].from, t[i].to, 0, 0, 731, &r)) {
			ok(0, "range %s %s: %s", t[i].from, t[i].to, r.why);
			continue;
		}
		compare_range(&r, t[i].k, &out);
		ok(strcmp(out.from, t[i].want_from) == 0 && strcmp(out.to, t[i].want_to) == 0 &&
		    out.to_day - out.from_day >= 0 && out.why[0] == '\0',
		    "%s %s..%s -> %s..%s", compare_kind_name(t[i].k), t[i].from, t[i].to,
		    t[i].want_from, t[i].want_to);
		if (t[i].k == COMPARE_PREVIOUS)
			ok(out.to_day == r.from_day - 1 && out.to_day - out.from_day == r.to_day - r.from_day,
			    "  as many days, ending the day before");
	}
}

static void
test_change(void)
{
	static const struct { const char *now, *then; int want; const char *out; } t[] = {
		{ "5", "4", 1, "0.25" },
		{ "4", "5", 1, "-0.2" },
		{ "10", "10", 1, "0" },
		{ "0", "7", 1, "-1" },
		{ "3", "1", 1, "2" },
		{ "1", "3", 1, "-0.6667" },
		{ "2", "3", 1, "-0.3333" },
		{ "57.1", "50.0", 1, "0.142" },
		{ "100001", "100000", 1, "0" },		/* under 0.00005: rounds to no change */
		{ "1000000", "1", 1, "999999" },
		{ "5", "0", 0, NULL },			/* from nothing: no relative change */
		{ "0", "0", 0, NULL },
		{ NULL, "4", 0, NULL },			/* SQL NULL (a rate of no visits) */
		{ "4", NULL, 0, NULL },
		{ "abc", "4", 0, NULL },
		{ "4", "4x", 0, NULL },
		{ "", "4", 0, NULL },
		{ "inf", "4", 0, NULL },
		{ "1e308", "1e-308", 0, NULL },
		{ "1e20", "1", 0, NULL },		/* past what the text holds exactly */
		{ "1e11", "1", 1, "99999999999" },
		{ "1.00005", "1", 1, "0.0001" },	/* rounded half away from zero */
		{ "0.9999", "1", 1, "-0.0001" },
		{ "0.99999", "1", 1, "0" },		/* never "-0" */
		{ "1.0101", "1", 1, "0.0101" },		/* inner zeros stay */
		{ "1.001", "1", 1, "0.001" },
		{ "11", "1", 1, "10" },
		{ "2.1", "1", 1, "1.1" },
		{ "-3", "2", 1, "-2.5" },
		{ "3", "-2", 1, "-2.5" },		/* over a negative number, as the formula says */
		{ "-0.5", "0.25", 1, "-3" },		/* the short decimals read without strtod */
		{ ".5", "1", 1, "-0.5" },
		{ "1.", "2", 1, "-0.5" },		/* strtod's reading, as before */
		{ "1.2.3", "1", 0, NULL },
		{ "-", "1", 0, NULL },
		{ ".", "1", 0, NULL },
		{ " 5", "4", 1, "0.25" },
		{ "+5", "4", 1, "0.25" },
		{ "1234567890123456", "1234567890123455", 1, "0" },	/* 16 digits: strtod */
		{ "123456789012.345", "61728394506.1725", 1, "1" },	/* 15 digits */
	};
	char	 buf[COMPARE_CHANGE_MAX];
	double	 v;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = compare_change(t[i].now, t[i].then, buf, sizeof(buf), &v);
		if (!ok(got == t[i].want && (!got || (strcmp(buf, t[i].out) == 0 && v == strtod(t[i].out, NULL))),
		    "change %s -> %s: %s",
		    t[i].then ? t[i].then : "NULL", t[i].now ? t[i].now : "NULL", t[i].out ? t[i].out : "none"))
			diag("got %d [%s]", got, got ? buf : "");
	}
	ok(!compare_change("5", "4", buf, 4, NULL) && compare_change("5", "4", buf, 5, NULL) &&
	    strcmp(buf, "0.25") == 0, "no room: no change");
}

/* Matches now against then; the matches as text, "0 -1 2". */
static void
matched(const struct compare_rows *now, const struct compare_rows *then, char *out, size_t sz)
{
	int	*m = compare_match(now, then);
	size_t	 n = 0;

	out[0] = '\0';
	for (int i = 0; i < now->nrows && n < sz; i++)
		n += (size_t)snprintf(out + n, sz - n, "%s%d", i ? " " : "", m[i]);
	free(m);
}

static void
test_match(void)
{
	static const enum compare_role pages[] = { COMPARE_KEY, COMPARE_FIGURE, COMPARE_FIGURE };
	static const char *const now_pages[] = { "/", "10", "20", "/pricing", "5", "9", "/new", "1", "1",
		NULL, "2", "2" };
	static const char *const then_pages[] = { "/old", "3", "3", "/", "8", "16", "/pricing", "5", "6" };
	static const enum compare_role funnel[] = { COMPARE_KEY, COMPARE_KEY, COMPARE_KEY, COMPARE_FIGURE };
	static const char *const now_funnel[] = { "buy", "1", "pricing", "4", "buy", "2", "signup", "2",
		"try", "1", "pricing", "1" };
	static const char *const then_funnel[] = { "try", "1", "pricing", "2", "buy", "2", "signup", "1",
		"buy", "1", "pricing", "8" };
	static const enum compare_role series[] = { COMPARE_OTHER, COMPARE_FIGURE };
	static const char *const now_series[] = { "2025-03-10T00:00:00Z", "4", "2025-03-11T00:00:00Z", "0",
		"2025-03-12T00:00:00Z", "6" };
	static const char *const then_series[] = { "2025-03-07T00:00:00Z", "2", "2025-03-08T00:00:00Z", "0" };
	static const char *const nulls[] = { NULL, "1", "1", "/", "2", "2" };
	struct compare_rows	 a = { 4, 3, now_pages, pages }, b = { 3, 3, then_pages, pages };
	struct compare_rows	 f1 = { 3, 4, now_funnel, funnel }, f2 = { 3, 4, then_funnel, funnel };
	struct compare_rows	 s1 = { 3, 2, now_series, series }, s2 = { 2, 2, then_series, series };
	struct compare_rows	 none = { 0, 3, NULL, pages }, n2 = { 2, 3, nulls, pages };
	char			 got[64];

	matched(&a, &b, got, sizeof(got));
	ok(strcmp(got, "1 2 -1 -1") == 0, "pages match by path, new ones by none: %s", got);
	matched(&a, &none, got, sizeof(got));
	ok(strcmp(got, "-1 -1 -1 -1") == 0, "nothing earlier: %s", got);
	ok(compare_match(&none, &a) == NULL, "no rows now: NULL");
	matched(&a, &n2, got, sizeof(got));
	ok(strcmp(got, "1 -1 -1 0") == 0, "a NULL key matches a NULL key: %s", got);
	matched(&f1, &f2, got, sizeof(got));
	ok(strcmp(got, "2 1 0") == 0, "funnel steps match by funnel, step and goal: %s", got);
	matched(&s1, &s2, got, sizeof(got));
	ok(strcmp(got, "0 1 -1") == 0, "a time series matches by position: %s", got);
}

/*
 * Figures of up to 15 digits are read without strtod(): every change
 * must be the one strtod()'s values give.
 */
static void
test_change_exact(void)
{
	static const char *const then[] = { "1", "3", "7.3", "46.7", "0.1", "123456.789", "99999999999999" };
	char		 now[32], buf[COMPARE_CHANGE_MAX];
	unsigned long	 x = 12345;
	int		 bad = 0, n = 0;
	double		 v;

	for (int i = 0; i < 20000; i++) {
		x = x * 6364136223846793005UL + 1442695040888963407UL;
		snprintf(now, sizeof(now), "%s%lu.%0*lu", x >> 63 ? "-" : "", (x >> 20) % 100000000000UL,
		    (int)(x % 5 + 1), (x >> 8) % 100000);
		for (size_t k = 0; k < sizeof(then) / sizeof(then[0]); k++) {
			double a = strtod(now, NULL), b = strtod(then[k], NULL);
			double c = round((a - b) / b * 10000);

			n++;
			if (fabs(c) > 1e15)	/* past what a change holds exactly: none */
				bad += compare_change(now, then[k], buf, sizeof(buf), &v);
			else if (!compare_change(now, then[k], buf, sizeof(buf), &v) || v != (double)(long long)c / 10000) {
				if (bad++ == 0)
					diag("%s over %s: %s", now, then[k], buf);
			}
		}
	}
	ok(bad == 0, "%d changes of short decimals as strtod() reads them (%d differ)", n, bad);
}

static void
test_changes(void)
{
	static const enum compare_role role[] = { COMPARE_KEY, COMPARE_FIGURE, COMPARE_FIGURE, COMPARE_FIGURE };
	static const char *const names[] = { "name", "visits", "bounce_rate", "avg_duration_s" };
	static const char *const now[] = { "(direct)", "5", "40.0", NULL, "t.co", "2", "50.0", "30" };
	static const char *const then[] = { "(direct)", "4", "50.0", "12", "t.co", "0", NULL, NULL };
	static const struct { int i, k; const char *json; } t[] = {
		{ 0, 0, "{\"visits\":0.25,\"bounce_rate\":-0.2,\"avg_duration_s\":null}" },
		{ 1, 1, "{\"visits\":null,\"bounce_rate\":null,\"avg_duration_s\":null}" },
		{ 1, -1, "{\"visits\":null,\"bounce_rate\":null,\"avg_duration_s\":null}" },
		{ 1, 0, "{\"visits\":-0.5,\"bounce_rate\":0,\"avg_duration_s\":1.5}" },
	};
	struct compare_rows	 a = { 2, 4, now, role }, b = { 2, 4, then, role };

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct util_buf o = { 0 };
		compare_changes(&o, &a, t[i].i, &b, t[i].k, names);
		if (!ok(o.p != NULL && strcmp(o.p, t[i].json) == 0, "changes of row %d from %d", t[i].i, t[i].k))
			diag("got %s", o.p ? o.p : "");
		util_buf_free(&o);
	}
}

int
main(void)
{
	test_kind();
	test_range();
	test_change();
	test_change_exact();
	test_match();
	test_changes();
	return done_testing();
}
