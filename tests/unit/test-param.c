/* Table-driven tests of fcgi/param.c: day numbers, date ranges, device classes. */
#include <string.h>

#include "param.h"
#include "tap.h"

static void
test_days(void)
{
	static const struct {
		int	 y, m, d;
		long	 day;
	} t[] = {
		{ 1970, 1, 1, 0 },
		{ 2000, 2, 29, 11016 },
		{ 2000, 3, 1, 11017 },
		{ 2025, 1, 1, 20089 },
		{ 2100, 2, 28, 47540 },
		{ 2100, 3, 1, 47541 },
		{ 2999, 12, 31, 376199 },
	};
	char	 buf[11], want[11];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(want, sizeof(want), "%04d-%02d-%02d", t[i].y, t[i].m, t[i].d);
		param_date(param_day_number(t[i].y, t[i].m, t[i].d), buf);
		ok(param_day_number(t[i].y, t[i].m, t[i].d) == t[i].day && strcmp(buf, want) == 0,
		    "%s is day %ld and back", want, t[i].day);
	}
}

static void
test_range(void)
{
	static const long today = 20089;	/* 2025-01-01 */
	static const struct {
		const char	*from, *to;
		int		 def, max;
		int		 want;
		const char	*out_from, *out_to, *why;
	} t[] = {
		{ "2024-12-01", "2024-12-31", 30, 366, 1, "2024-12-01", "2024-12-31", NULL },
		{ "2024-12-31", "2024-12-31", 0, 731, 1, "2024-12-31", "2024-12-31", NULL },
		{ NULL, NULL, 30, 366, 1, "2024-12-03", "2025-01-01", NULL },
		{ NULL, NULL, 0, 731, 0, NULL, NULL, "required" },
		{ "2024-12-01", NULL, 30, 366, 0, NULL, NULL, "go together" },
		{ NULL, "2024-12-01", 0, 731, 0, NULL, NULL, "required" },
		{ "2024-02-30", "2024-03-01", 30, 366, 0, NULL, NULL, "from: not a date" },
		{ "2024-03-01", "2024-3-01", 30, 366, 0, NULL, NULL, "to: not a date" },
		{ "2024-03-02", "2024-03-01", 30, 366, 0, NULL, NULL, "from is after to" },
		{ "2024-01-01", "2024-12-31", 30, 366, 1, "2024-01-01", "2024-12-31", NULL },
		{ "2024-01-01", "2025-01-01", 30, 366, 0, NULL, NULL, "longer than 366 days" },
		{ "2023-01-01", "2024-12-31", 0, 731, 1, "2023-01-01", "2024-12-31", NULL },
		{ "2023-01-01", "2025-01-01", 0, 731, 0, NULL, NULL, "longer than 731 days" },
		{ "1999-12-31", "2000-01-01", 30, 366, 0, NULL, NULL, "from: not a date" },
	};
	struct param_range	 r;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int got = param_range(t[i].from, t[i].to, today, t[i].def, t[i].max, &r);
		ok(got == t[i].want && (got ? strcmp(r.from, t[i].out_from) == 0 &&
		    strcmp(r.to, t[i].out_to) == 0 : strstr(r.why, t[i].why) != NULL),
		    "range %s..%s (default %d, max %d) -> %d %s", t[i].from ? t[i].from : "-",
		    t[i].to ? t[i].to : "-", t[i].def, t[i].max, t[i].want, got ? r.from : r.why);
	}
}

static void
test_device(void)
{
	static const struct {
		const char	*name;
		int		 allow_all;
		const char	*want;
		int		 width;
	} t[] = {
		{ NULL, 0, "desktop", 1280 },
		{ "desktop", 0, "desktop", 1280 },
		{ "tablet", 0, "tablet", 800 },
		{ "mobile", 1, "mobile", 380 },
		{ "all", 1, "all", 1280 },
		{ "all", 0, NULL, 0 },
		{ "Mobile", 1, NULL, 0 },
		{ "", 1, NULL, 0 },
		{ "phone", 1, NULL, 0 },
	};
	static const struct {
		long long	 vw, sw;
		const char	*want;
	} by[] = {
		{ 0, 0, "desktop" }, { 1280, 0, "desktop" }, { 1024, 0, "desktop" },
		{ 1023, 0, "tablet" }, { 768, 0, "tablet" }, { 767, 0, "mobile" },
		{ 1, 0, "mobile" }, { 0, 390, "mobile" }, { 0, 800, "tablet" },
		{ -5, 1920, "desktop" }, { 500, 1920, "mobile" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct param_device *d = param_device(t[i].name, t[i].allow_all);
		ok(t[i].want == NULL ? d == NULL : d != NULL && strcmp(d->name, t[i].want) == 0 &&
		    d->width == t[i].width, "device '%s' (all %d) -> %s", t[i].name ? t[i].name : "(none)",
		    t[i].allow_all, t[i].want ? t[i].want : "refused");
	}
	for (size_t i = 0; i < sizeof(by) / sizeof(by[0]); i++)
		ok(strcmp(param_device_of(by[i].vw, by[i].sw), by[i].want) == 0,
		    "viewport %lld, screen %lld -> %s", by[i].vw, by[i].sw, by[i].want);
}

int
main(void)
{
	test_days();
	test_range();
	test_device();
	return done_testing();
}
