/*
 * test-ua: TAP tests of fcgi/ua.c, the uap-core User-Agent classifier.
 *
 * The module is #included to reach its statics (the cache counters, the
 * family sanitizer, the uncached parser for timing).  Besides a table of
 * real User-Agents it replays uap-core's own test suites, which Debian ships
 * next to the rules, and requires at least 99% agreement with each.
 */
#include "ua.c"

#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#define UAP_DIR		"/usr/share/uap-core"
#define MIN_RATE	0.99

static int	 tests;
static int	 failed;

/* Prints one TAP result line and returns cond. */
static int
ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
ok(int cond, const char *fmt, ...)
{
	va_list	 ap;

	printf("%sok %d - ", cond ? "" : "not ", ++tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		failed++;
	return cond;
}

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ---- Real User-Agents --------------------------------------------------- */

struct ua_case {
	const char	*name;
	const char	*ua;
	const char	*browser;
	const char	*os;
	int		 is_bot;
};

static const struct ua_case cases[] = {
	{ "Chrome on Windows",
	  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
	  "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
	  "Chrome", "Windows", 0 },
	{ "Firefox on Linux",
	  "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 "
	  "Firefox/121.0",
	  "Firefox", "Linux", 0 },
	{ "Firefox on Windows",
	  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) "
	  "Gecko/20100101 Firefox/121.0",
	  "Firefox", "Windows", 0 },
	{ "Safari on macOS",
	  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) "
	  "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
	  "Safari/605.1.15",
	  "Safari", "Mac OS X", 0 },
	{ "Mobile Safari on iPhone",
	  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
	  "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 "
	  "Mobile/15E148 Safari/604.1",
	  "Mobile Safari", "iOS", 0 },
	{ "Chrome on Android",
	  "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 "
	  "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
	  "Chrome Mobile", "Android", 0 },
	{ "Edge on Windows",
	  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
	  "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 "
	  "Edg/120.0.0.0",
	  "Edge", "Windows", 0 },
	{ "Googlebot",
	  "Mozilla/5.0 (compatible; Googlebot/2.1; "
	  "+http://www.google.com/bot.html)",
	  "Googlebot", "Other", 1 },
	{ "Googlebot smartphone",
	  "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) "
	  "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.129 "
	  "Mobile Safari/537.36 (compatible; Googlebot/2.1; "
	  "+http://www.google.com/bot.html)",
	  "Googlebot", "Android", 1 },
	{ "bingbot",
	  "Mozilla/5.0 (compatible; bingbot/2.0; "
	  "+http://www.bing.com/bingbot.htm)",
	  "bingbot", "Other", 1 },
	/* uap-core names curl's family but does not call it a Spider. */
	{ "curl", "curl/8.5.0", "curl", "Other", 0 },
	{ "unknown agent", "Nothing/1 here", "Other", "Other", 0 },
};

/* Checks every field of one table case. */
static void
check_case(struct ua_db *db, const struct ua_case *c)
{
	struct ua_info	 info;
	int		 rc;

	memset(&info, 'x', sizeof(info));
	rc = ua_parse(db, c->ua, &info);
	if (!ok(rc == 1 && strcmp(info.browser, c->browser) == 0 &&
	    strcmp(info.os, c->os) == 0 && info.is_bot == c->is_bot,
	    "%s: %s / %s / bot=%d", c->name, c->browser, c->os, c->is_bot))
		printf("# got rc=%d %s / %s / bot=%d\n", rc, info.browser,
		    info.os, info.is_bot);
}

/* Empty and missing User-Agents are bots and report failure. */
static void
test_empty(struct ua_db *db)
{
	struct ua_info	 info;
	int		 rc;

	rc = ua_parse(db, "", &info);
	ok(rc == 0 && info.is_bot == 1 && strcmp(info.browser, "Other") == 0 &&
	    strcmp(info.os, "Other") == 0, "empty UA: rc 0, Other/Other, bot");
	rc = ua_parse(db, NULL, &info);
	ok(rc == 0 && info.is_bot == 1, "NULL UA: rc 0, bot");
}

/*
 * 10 KiB of printable garbage must parse to "Other" in bounded time; the
 * rules see only its first UA_LEN_MAX bytes, which are cached like any
 * other User-Agent.
 */
static void
test_garbage(struct ua_db *db)
{
	struct ua_info	 info;
	unsigned long	 misses;
	char		*g;
	double		 t;
	size_t		 i;
	int		 rc;

	g = xmalloc(10 * 1024 + 1);
	for (i = 0; i < 10 * 1024; i++)
		g[i] = (char)(' ' + (i * 7919 + i / 13) % 95);
	g[10 * 1024] = '\0';
	misses = db->misses;
	t = now_ms();
	rc = ua_parse(db, g, &info);
	t = now_ms() - t;
	printf("# 10 KiB garbage: %.2f ms, %s / %s / bot=%d\n", t,
	    info.browser, info.os, info.is_bot);
	ok(rc == 1 && strcmp(info.browser, "Other") == 0 &&
	    strcmp(info.os, "Other") == 0 && info.is_bot == 0,
	    "10 KiB garbage: Other / Other / not a bot");
	ua_parse(db, g, &info);
	ok(db->misses == misses + 1, "a long UA is cached by its first %d bytes", UA_LEN_MAX);
	ok(t < 200, "10 KiB garbage parses in under 200 ms");
	free(g);
}

/* ---- The pieces --------------------------------------------------------- */

/*
 * Returns 1 if s is valid UTF-8 free of control characters: decoded here
 * code point by code point, independently of the module's own checker.
 */
static int
clean_utf8(const char *str)
{
	const unsigned char	*s = (const unsigned char *)str;
	unsigned long		 cp;
	int			 extra, k;

	while (*s != '\0') {
		if (*s < 0x20 || *s == 0x7f)
			return 0;
		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xf0)
			extra = 3, cp = *s & 0x07;
		else if (*s >= 0xe0)
			extra = 2, cp = *s & 0x0f;
		else if (*s >= 0xc0)
			extra = 1, cp = *s & 0x1f;
		else
			return 0;
		for (k = 1; k <= extra; k++) {
			if ((s[k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[k] & 0x3f);
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    cp < (extra == 1 ? 0x80UL : extra == 2 ? 0x800UL : 0x10000UL))
			return 0;
		s += extra + 1;
	}
	return 1;
}

/*
 * Random bytes, some followed by a tail that makes a rule capture them into
 * the family (uap-core's "^(.{0,200})/(\d+) CFNetwork" app rule and an
 * Android device rule), must always give clean, non-empty families.
 */
static void
test_random(struct ua_db *db)
{
	static const char *tails[] = { "", "/1 CFNetwork/1 Darwin/1",
	    " Firefox/1", "; Android 9; ", ")" };
	struct ua_info	 info;
	char		 ua[400];
	unsigned int	 seed = 12345;
	int		 i, bad = 0, captured = 0;
	size_t		 len, j;

	for (i = 0; i < 3000; i++) {
		len = 1 + rand_r(&seed) % 300;
		for (j = 0; j < len; j++)
			ua[j] = (char)(1 + rand_r(&seed) % 255);
		snprintf(ua + len, sizeof(ua) - len, "%s", tails[i % 5]);
		if (ua_parse(db, ua, &info) != 1 || !clean_utf8(info.browser) ||
		    !clean_utf8(info.os) || info.browser[0] == '\0' ||
		    info.os[0] == '\0')
			bad++;
		if (strcmp(info.browser, "Other") != 0)
			captured++;
	}
	printf("# random UAs: %d of 3000 got a browser family\n", captured);
	ok(bad == 0 && captured > 100, "3000 random byte strings give clean "
	    "UTF-8 families (%d bad)", bad);
}

/* set_family makes any bytes a short, valid UTF-8 family name. */
static void
test_set_family(void)
{
	static const struct {
		const char	*in;
		const char	*want;
	} t[] = {
		{ "  Chrome\t", "Chrome" },
		{ "", "Other" },
		{ "   ", "Other" },
		{ "a\x01" "b\x7f", "a?b?" },
		{ "bad\xff\xc0\x80", "bad???" },
		{ "surrogate\xed\xa0\x80", "surrogate???" },
		{ "Seznam prohl\xc3\xad\xc5\xbe\x65\xc4\x8d",
		  "Seznam prohl\xc3\xad\xc5\xbe\x65\xc4\x8d" },
		/* 30 ASCII bytes then a 2-byte character: cut before it. */
		{ "123456789012345678901234567890\xc3\xa9",
		  "123456789012345678901234567890" },
		{ "1234567890123456789012345678901234567890",
		  "1234567890123456789012345678901" },
	};
	char	 out[32];
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		set_family(out, sizeof(out), t[i].in);
		if (!ok(strcmp(out, t[i].want) == 0, "set_family case %zu", i))
			printf("# got '%s' want '%s'\n", out, t[i].want);
	}
}

/* Writes text to a new temporary file and returns its name (static). */
static const char *
write_temp(const char *text)
{
	static char	 name[64];
	int		 fd;

	snprintf(name, sizeof(name), "/tmp/test-ua-XXXXXX");
	if ((fd = mkstemp(name)) < 0 ||
	    write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("test-ua: temp file");
		exit(1);
	}
	close(fd);
	return name;
}

/*
 * A hand-written rules file, named by SITEPULSE_UAP_REGEXES, checks the
 * override, the caseless flag, rule order and $N substitution (including an
 * unset group, which becomes nothing).
 */
static void
test_own_rules(void)
{
	static const char yaml[] =
	    "user_agent_parsers:\n"
	    "  - regex: 'Acme(Web)?/(\\d+)'\n"
	    "    family_replacement: 'Acme $1 $2'\n"
	    "  - regex: '(Acme)'\n"
	    "os_parsers:\n"
	    "  - regex: 'acmeos'\n"
	    "    regex_flag: 'i'\n"
	    "    os_replacement: 'AcmeOS'\n"
	    "device_parsers:\n"
	    "  - regex: '(crawler)'\n"
	    "    regex_flag: 'i'\n"
	    "    device_replacement: 'Spider'\n";
	struct ua_info	 info;
	struct ua_db	*db;
	const char	*path = write_temp(yaml);

	setenv(UA_REGEXES_ENV, path, 1);
	db = ua_db_load(NULL);
	unsetenv(UA_REGEXES_ENV);
	unlink(path);
	if (!ok(db != NULL, "$" UA_REGEXES_ENV " names the rules file"))
		return;
	ua_parse(db, "AcmeWeb/7 (ACMEOS) Crawler", &info);
	ok(strcmp(info.browser, "Acme Web 7") == 0 &&
	    strcmp(info.os, "AcmeOS") == 0 && info.is_bot == 1,
	    "own rules: $1 $2 substitution, caseless flag, Spider");
	ua_parse(db, "Acme/7", &info);
	ok(strcmp(info.browser, "Acme  7") == 0 && info.is_bot == 0,
	    "own rules: an unset group substitutes as nothing");
	ua_parse(db, "xAcme", &info);
	ok(strcmp(info.browser, "Acme") == 0 && strcmp(info.os, "Other") == 0,
	    "own rules: no template means $1; no match means Other");
	ua_db_free(db);
}

/* Unreadable and malformed rules files are refused, not half-loaded. */
static void
test_bad_files(void)
{
	const char	*path;

	ok(ua_db_load("/nonexistent/regexes.yaml") == NULL,
	    "a missing rules file gives NULL");
	path = write_temp("user_agent_parsers:\n  - regex: 'x'\n");
	ok(ua_db_load(path) == NULL, "a file without os/device lists gives NULL");
	unlink(path);
	path = write_temp("user_agent_parsers: [\n");
	ok(ua_db_load(path) == NULL, "a file that is not YAML gives NULL");
	unlink(path);
	ua_db_free(NULL);
	ok(1, "ua_db_free(NULL) is harmless");
}

/* Every uap-core rule compiles, and JIT-compiles when PCRE2 has a JIT. */
static void
test_compiled(struct ua_db *db)
{
	const struct rules	*all[] = { &db->browsers, &db->oses,
				    &db->devices };
	size_t			 i, j, jitted = 0, total = 0, size;
	uint32_t		 jit = 0;

	ok(db->skipped == 0 && db->browsers.n > 100 && db->oses.n > 100 &&
	    db->devices.n > 100, "all uap-core rules compile "
	    "(%zu browser, %zu os, %zu device)", db->browsers.n, db->oses.n,
	    db->devices.n);
	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	for (i = 0; i < 3; i++)
		for (j = 0; j < all[i]->n; j++, total++)
			if (pcre2_pattern_info(all[i]->v[j].re,
			    PCRE2_INFO_JITSIZE, &size) == 0 && size > 0)
				jitted++;
	printf("# PCRE2 JIT %s; %zu of %zu rules JIT-compiled\n",
	    jit ? "available" : "unavailable", jitted, total);
	ok(jit ? jitted == total : jitted == 0,
	    "rules are JIT-compiled wherever PCRE2 has a JIT");
}

/* Identical UAs are served from the cache; colliding ones evict cleanly. */
static void
test_cache(struct ua_db *db)
{
	const char	*ua = cases[0].ua;
	struct ua_info	 a, b;
	unsigned long	 hits = db->hits;
	char		 x[32], y[32];
	uint64_t	 slot;
	int		 i;

	ua_parse(db, ua, &a);
	ua_parse(db, ua, &b);
	ok(db->hits >= hits + 1 && memcmp(&a, &b, sizeof(a)) == 0,
	    "a repeated UA is a cache hit with the same result");

	/* Find two bot UAs that share a slot, then alternate them. */
	snprintf(x, sizeof(x), "Googlebot/2.1 x0");
	slot = hash_ua(x, strlen(x)) & (CACHE_SLOTS - 1);
	for (i = 1;; i++) {
		snprintf(y, sizeof(y), "Wget/1.%d", i);
		if ((hash_ua(y, strlen(y)) & (CACHE_SLOTS - 1)) == slot)
			break;
	}
	ua_parse(db, x, &a);
	ua_parse(db, y, &b);
	ok(a.is_bot == 1 && b.is_bot == 0 && strcmp(b.browser, "Wget") == 0,
	    "UAs sharing a cache slot keep their own results");
	ua_parse(db, x, &a);
	ok(a.is_bot == 1 && strcmp(a.browser, "Googlebot") == 0,
	    "an evicted UA is parsed again correctly");
}

/*
 * Times the table's UAs uncached (best of three rounds, to shrug off a busy
 * machine) and cached, reporting both; uncached must stay under 1 ms.
 */
static void
test_speed(struct ua_db *db)
{
	const size_t	 n = sizeof(cases) / sizeof(cases[0]);
	struct ua_info	 info;
	double		 t, best = 1e9, cached;
	size_t		 i;
	int		 round, k;

	for (round = 0; round < 3; round++) {
		t = now_ms();
		for (k = 0; k < 20; k++)
			for (i = 0; i < n; i++)
				parse_uncached(db, db->own, cases[i].ua,
				    strlen(cases[i].ua), &info);
		t = (now_ms() - t) / (20.0 * n);
		if (t < best)
			best = t;
	}
	t = now_ms();
	for (k = 0; k < 10000; k++)
		for (i = 0; i < n; i++)
			ua_parse(db, cases[i].ua, &info);
	cached = (now_ms() - t) / (10000.0 * n);
	printf("# parse time per UA: uncached %.1f us, cached %.3f us\n",
	    best * 1e3, cached * 1e3);
	ok(best < 1.0, "uncached parse averages under 1 ms (%.1f us)",
	    best * 1e3);
	ok(cached < best, "cached parse is faster than uncached");
}

/*
 * The rules see only the first UA_LEN_MAX bytes, cut on a character
 * boundary (issue 13: a unique 8 KiB User-Agent cost 1.3-5.8 ms under one
 * process-wide lock). A crawler's token past the bound is not seen, one
 * inside it is; a character across the bound is left out whole; unique
 * 8 KiB agents cost about what a 512-byte one does.
 */
static void
test_bound(struct ua_db *db)
{
	static const char *const chars[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
	const char	*bot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
	struct ua_info	 info;
	char		*ua = xmalloc(8 * 1024 + 1);
	double		 t;
	size_t		 n, want;

	memset(ua, 'x', 8 * 1024);
	ua[8 * 1024] = '\0';
	memcpy(ua + UA_LEN_MAX + 10, bot, strlen(bot));
	ua_parse(db, ua, &info);
	ok(info.is_bot == 0, "a crawler's agent past byte %d is not seen", UA_LEN_MAX);
	memcpy(ua, bot, strlen(bot));
	ua_parse(db, ua, &info);
	ok(info.is_bot == 1, "the same agent at the start is");

	for (size_t c = 0; c < 3; c++)
		for (size_t k = UA_LEN_MAX - 4; k <= UA_LEN_MAX; k++) {
			memset(ua, 'y', 8 * 1024);
			memcpy(ua + k, chars[c], strlen(chars[c]));
			n = strlen(chars[c]);
			want = k + n <= UA_LEN_MAX ? UA_LEN_MAX : k;
			ok(ua_bound(ua) == want, "a %zu-byte character at byte %zu: %zu bytes seen",
			    n, k, want);
		}
	ok(ua_bound("short") == 5, "a short UA is seen whole");

	memset(ua, 'z', 8 * 1024);
	memcpy(ua, cases[0].ua, strlen(cases[0].ua));
	t = now_ms();
	for (int i = 0; i < 50; i++) {
		snprintf(ua + 8 * 1024 - 12, 12, "%011d", i * 7919 + 1);
		ua[8 * 1024 - 1] = 'z';
		snprintf(ua + strlen(cases[0].ua), 12, "%011d", i * 7919 + 1);
		ua[strlen(cases[0].ua) + 11] = ' ';
		ua_parse(db, ua, &info);
	}
	t = (now_ms() - t) / 50;
	printf("# unique 8 KiB User-Agents: %.3f ms each\n", t);
	ok(strcmp(info.browser, "Chrome") == 0, "a long browser UA is still classified (%s)", info.browser);
	ok(t < 5.0, "a unique 8 KiB User-Agent costs what its first %d bytes do (%.3f ms)", UA_LEN_MAX, t);
	free(ua);
}

/* ---- Threads ------------------------------------------------------------- */

#define THREADS	 8

struct racer {
	struct ua_db	*db;
	int		 id, wrong;
};

/*
 * Classifies the table's agents and variants of them, which collide in the
 * cache, with a matcher of its own, and counts answers that differ from
 * the table.
 */
static void *
race(void *arg)
{
	struct racer		*r = arg;
	struct ua_matcher	*m = ua_matcher_new(r->db);
	struct ua_info		 info;
	char			 ua[600];
	const struct ua_case	*c;

	for (int i = 0; i < 3000; i++) {
		c = &cases[(size_t)(i + r->id) % (sizeof(cases) / sizeof(cases[0]))];
		snprintf(ua, sizeof(ua), "%s", c->ua);
		if (i % 3 == 0)	/* a fresh variant: a miss, classified outside any lock */
			snprintf(ua + strlen(ua), sizeof(ua) - strlen(ua), " v%d.%d", r->id, i);
		if (ua_classify(r->db, m, ua, &info) != 1 || strcmp(info.browser, c->browser) != 0 ||
		    strcmp(info.os, c->os) != 0 || info.is_bot != c->is_bot)
			r->wrong++;
	}
	ua_matcher_free(m);
	return NULL;
}

/* Threads classify at once on one db, each with its own matcher. */
static void
test_threads(struct ua_db *db)
{
	struct racer	 r[THREADS];
	pthread_t	 t[THREADS];
	int		 wrong = 0;

	for (int i = 0; i < THREADS; i++) {
		r[i].db = db;
		r[i].id = i;
		r[i].wrong = 0;
		pthread_create(&t[i], NULL, race, &r[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		wrong += r[i].wrong;
	}
	ok(wrong == 0, "%d threads with their own matchers agree with the table (%d wrong)",
	    THREADS, wrong);
}

/* ---- uap-core's own test suites ----------------------------------------- */

/* Which answer of ours a uap-core suite checks. */
enum field { F_BROWSER, F_OS, F_SPIDER };

struct suite {
	const char	*file;
	enum field	 field;
	int		 stride;	/* check every stride-th case */
};

/* Returns 1 if our answer for ua agrees with the suite's expected family. */
static int
agrees(struct ua_db *db, enum field f, const char *ua, const char *want)
{
	struct ua_info	 info;
	char		 w[32];

	ua_parse(db, ua, &info);
	switch (f) {
	case F_BROWSER:
		set_family(w, sizeof(w), want);
		return strcmp(info.browser, w) == 0;
	case F_OS:
		set_family(w, sizeof(w), want);
		return strcmp(info.os, w) == 0;
	default:
		return info.is_bot == (strcmp(want, "Spider") == 0);
	}
}

/*
 * Replays one uap-core test file (test_cases: a list of user_agent_string
 * and family) and checks that at least MIN_RATE of its cases agree.
 */
static void
run_suite(struct ua_db *db, const struct suite *s)
{
	yaml_document_t	 doc;
	yaml_node_t	*seq, *item;
	yaml_node_item_t *i;
	const char	*ua, *want;
	char		 path[256];
	long		 n = 0, good = 0, idx = 0;

	snprintf(path, sizeof(path), "%s/%s", UAP_DIR, s->file);
	if (!yaml_read(path, &doc)) {
		ok(0, "%s: readable", s->file);
		return;
	}
	seq = map_get(&doc, yaml_document_get_root_node(&doc), "test_cases");
	if (seq != NULL && seq->type != YAML_SEQUENCE_NODE)
		seq = NULL;
	for (i = seq ? seq->data.sequence.items.start : NULL;
	    seq && i < seq->data.sequence.items.top; i++) {
		item = yaml_document_get_node(&doc, *i);
		ua = scalar(map_get(&doc, item, "user_agent_string"));
		want = scalar(map_get(&doc, item, "family"));
		if (ua == NULL || want == NULL || idx++ % s->stride != 0)
			continue;
		n++;
		if (agrees(db, s->field, ua, want))
			good++;
		else if (n - good <= 3)
			printf("# %s mismatch: want '%s' for '%s'\n", s->file,
			    want, ua);
	}
	yaml_document_delete(&doc);
	printf("# %s: %ld of %ld agree (%.2f%%)\n", s->file, good, n,
	    n ? 100.0 * good / n : 0.0);
	ok(n >= 20 && good >= MIN_RATE * n, "%s: at least %.0f%% agree "
	    "(%.2f%% of %ld)", s->file, MIN_RATE * 100,
	    n ? 100.0 * good / n : 0.0, n);
}

static void
test_suites(struct ua_db *db)
{
	static const struct suite s[] = {
		{ "tests/test_ua.yaml", F_BROWSER, 1 },
		{ "tests/test_os.yaml", F_OS, 1 },
		{ "tests/test_device.yaml", F_SPIDER, 4 },
		{ "test_resources/firefox_user_agent_strings.yaml",
		  F_BROWSER, 1 },
		{ "test_resources/pgts_browser_list.yaml", F_BROWSER, 4 },
		{ "test_resources/opera_mini_user_agent_strings.yaml",
		  F_BROWSER, 1 },
		{ "test_resources/additional_os_tests.yaml", F_OS, 1 },
	};
	size_t	 i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		run_suite(db, &s[i]);
}

int
main(void)
{
	struct ua_db	*db;
	double		 t;
	size_t		 i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	unsetenv(UA_REGEXES_ENV);
	t = now_ms();
	db = ua_db_load(NULL);
	printf("# loaded %s in %.0f ms\n", UA_DEFAULT_REGEXES, now_ms() - t);
	if (!ok(db != NULL, "the installed uap-core rules load")) {
		printf("1..%d\n", tests);
		return 1;
	}
	test_compiled(db);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_case(db, &cases[i]);
	test_empty(db);
	test_garbage(db);
	test_random(db);
	test_set_family();
	test_cache(db);
	test_bound(db);
	test_threads(db);
	test_speed(db);
	test_suites(db);
	test_own_rules();
	test_bad_files();
	ua_db_free(db);
	printf("1..%d\n", tests);
	return failed != 0;
}
