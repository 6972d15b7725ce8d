#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "http.h"
#include "stats.h"
#include "util.h"
#include "valid.h"

/* Every report, its name in the API and the parameters it takes. */
static const struct {
	const char	*name;
	unsigned	 flags;
} reports[STATS__MAX] = {
	[STATS_TIMESERIES] =	{ "timeseries",		STATS_RANGE | STATS_INTERVAL },
	[STATS_SUMMARY] =	{ "summary",		STATS_RANGE },
	[STATS_PAGES] =		{ "pages",		STATS_RANGE | STATS_LIMIT },
	[STATS_ENTRY_PAGES] =	{ "entry_pages",	STATS_RANGE | STATS_LIMIT },
	[STATS_EXIT_PAGES] =	{ "exit_pages",		STATS_RANGE | STATS_LIMIT },
	[STATS_REFERRERS] =	{ "referrers",		STATS_RANGE | STATS_LIMIT },
	[STATS_UTM_SOURCES] =	{ "utm_sources",	STATS_RANGE | STATS_LIMIT },
	[STATS_UTM_MEDIUMS] =	{ "utm_mediums",	STATS_RANGE | STATS_LIMIT },
	[STATS_UTM_CAMPAIGNS] =	{ "utm_campaigns",	STATS_RANGE | STATS_LIMIT },
	[STATS_DEVICES] =	{ "devices",		STATS_RANGE | STATS_LIMIT },
	[STATS_BROWSERS] =	{ "browsers",		STATS_RANGE | STATS_LIMIT },
	[STATS_OS] =		{ "os",			STATS_RANGE | STATS_LIMIT },
	[STATS_COUNTRIES] =	{ "countries",		STATS_RANGE | STATS_LIMIT },
	[STATS_LANGUAGES] =	{ "languages",		STATS_RANGE | STATS_LIMIT },
	[STATS_EVENTS] =	{ "events",		STATS_RANGE | STATS_LIMIT },
	[STATS_EVENT_PROPS] =	{ "event_props",	STATS_RANGE | STATS_LIMIT | STATS_NAME },
	[STATS_ELEMENTS] =	{ "elements",		STATS_RANGE | STATS_LIMIT },
	[STATS_SCROLL] =	{ "scroll",		STATS_RANGE | STATS_LIMIT },
	[STATS_GOALS] =		{ "goals",		STATS_RANGE },
	[STATS_FUNNELS] =	{ "funnels",		STATS_RANGE },
	[STATS_ANNOTATIONS] =	{ "annotations",	STATS_RANGE },
	[STATS_SITES] =		{ "sites",		STATS_NOSITE },
};

/* The query parameters /stats knows; any other one is a 400. */
static const char *const params[] = {
	"site", "share", "report", "from", "to", "interval", "format", "limit", "name", "compare", "_",
	NULL
};

const char *
stats_report_name(enum stats_report r)
{
	return reports[r].name;
}

unsigned
stats_report_flags(enum stats_report r)
{
	return reports[r].flags;
}

/* Looks a report up by its API name; returns 1 with *r set, or 0. */
int
stats_report_find(const char *name, enum stats_report *r)
{
	for (int i = 0; name != NULL && i < STATS__MAX; i++)
		if (strcmp(reports[i].name, name) == 0) {
			*r = (enum stats_report)i;
			return 1;
		}
	return 0;
}

/* A share token: url-safe base64 characters, a plausible length. */
static int
valid_share(const char *s)
{
	size_t	 n = s ? strlen(s) : 0;

	return n >= STATS_SHARE_MIN && n <= STATS_SHARE_MAX &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/*
 * Checks who the request is for: exactly one of site and share, share
 * only on a share path; with an API token, at most a site (the program
 * holds it to the token's own) and the site list too, which the program
 * refuses with 403 once it knows the token is real.
 */
static int
parse_who(const struct http_query *q, enum stats_who who, struct stats_req *req, const char **why)
{
	req->site = http_query_get(q, "site");
	req->share = http_query_get(q, "share");
	if (who == STATS_BY_TOKEN) {
		if (req->share != NULL)
			return *why = "share tokens go to share/stats, not with an API token", 0;
		if (req->site != NULL && !valid_site_key(req->site))
			return *why = "site: malformed key", 0;
		return 1;
	}
	if (req->flags & STATS_NOSITE) {
		if (who == STATS_BY_SHARE || req->share != NULL)
			return *why = "report not available through a share link", 0;
		if (req->site != NULL)
			return *why = "this report takes no site", 0;
		return 1;
	}
	if (req->site != NULL && req->share != NULL)
		return *why = "give site or share, not both", 0;
	if (who == STATS_BY_SHARE && req->share == NULL)
		return *why = "share links need share=TOKEN", 0;
	if (req->share != NULL)
		return valid_share(req->share) ? 1 : (*why = "share: malformed token", 0);
	if (req->site == NULL)
		return *why = "site is required", 0;
	return valid_site_key(req->site) ? 1 : (*why = "site: malformed key", 0);
}

/* Checks format, interval, limit and name, filling in their defaults. */
static int
parse_options(const struct http_query *q, struct stats_req *req, const char **why)
{
	const char	*format = http_query_get(q, "format"), *limit = http_query_get(q, "limit");
	const char	*interval = http_query_get(q, "interval");
	long long	 n = STATS_LIMIT_DEFAULT;

	if (format == NULL || strcmp(format, "json") == 0)
		req->format = STATS_JSON;
	else if (strcmp(format, "csv") == 0)
		req->format = STATS_CSV;
	else
		return *why = "format must be json or csv", 0;
	if (interval != NULL && !(req->flags & STATS_INTERVAL))
		return *why = "interval applies to timeseries only", 0;
	req->interval = interval ? interval : "day";
	if (strcmp(req->interval, "day") != 0 && strcmp(req->interval, "hour") != 0)
		return *why = "interval must be day or hour", 0;
	if (limit != NULL && !(req->flags & STATS_LIMIT))
		return *why = "this report takes no limit", 0;
	if (limit != NULL && !valid_int(limit, 1, STATS_LIMIT_MAX, &n))
		return *why = "limit must be an integer from 1 to 1000", 0;
	req->limit = (int)n;
	snprintf(req->limit_s, sizeof(req->limit_s), "%d", req->limit);
	req->name = http_query_get(q, "name");
	if ((req->flags & STATS_NAME) && req->name == NULL)
		return *why = "name is required (the custom event name)", 0;
	if (req->name != NULL && !(req->flags & STATS_NAME))
		return *why = "this report takes no name", 0;
	if (req->name != NULL && !valid_text(req->name, strlen(req->name), STATS_NAME_MAX))
		return *why = "name: empty, too long or not text", 0;
	return 1;
}

/*
 * Checks compare (previous or year) and sets the earlier range beside the
 * request's. Every report of a range takes it but annotations, which have
 * no figures to compare.
 */
static int
parse_compare(const struct http_query *q, struct stats_req *req, const char **why)
{
	const char	*c = http_query_get(q, "compare");

	req->compare = COMPARE_NONE;
	if (c == NULL)
		return 1;
	if (!(req->flags & STATS_RANGE) || req->report == STATS_ANNOTATIONS)
		return *why = "compare: this report has no figures to compare", 0;
	if (!compare_kind_find(c, &req->compare))
		return *why = "compare must be previous or year", 0;
	compare_range(&req->range, req->compare, &req->earlier);
	return 1;
}

/*
 * Validates the query of a /stats request into req. who is the route's
 * way of naming the site: STATS_BY_SHARE (a share path, which must carry
 * a share token and never reaches the site list), STATS_BY_TOKEN (an API
 * token's route: site= is optional) or STATS_BY_USER. Returns 1, or 0
 * with *why set to a reason fit for a 400 answer. req points into q.
 */
int
stats_parse(const struct http_query *q, enum stats_who who, struct stats_req *req,
    const char **why)
{
	memset(req, 0, sizeof(*req));
	if (!http_query_only(q, params))
		return *why = "unknown parameter", 0;
	if (!stats_report_find(http_query_get(q, "report"), &req->report))
		return *why = "report: missing or unknown", 0;
	req->flags = reports[req->report].flags;
	if (!parse_who(q, who, req, why) || !parse_options(q, req, why))
		return 0;
	req->from = http_query_get(q, "from");
	req->to = http_query_get(q, "to");
	if (!(req->flags & STATS_RANGE))
		return req->from == NULL && req->to == NULL ? parse_compare(q, req, why) :
		    (*why = "this report takes no range", 0);
	if (!param_range(req->from, req->to, 0, 0, STATS_MAX_DAYS, &req->range))
		return *why = req->range.why, 0;
	req->from = req->range.from;
	req->to = req->range.to;
	return parse_compare(q, req, why);
}

/*
 * True when a spreadsheet could read cell s as a formula (it starts with
 * = + - @, a tab or a carriage return, as OWASP's CSV injection advice
 * lists).
 */
int
stats_csv_risky(const char *s)
{
	return s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL;
}

/*
 * Appends one CSV cell (no separator) to b per RFC 4180: quoted when it
 * holds a comma, quote, CR or LF, with quotes doubled. A text cell that
 * could be read as a formula gets a leading apostrophe; numbers (text 0)
 * are written as they are, so a negative number stays a number.
 */
void
stats_csv_cell(struct util_buf *b, const char *s, int text)
{
	int	 quote = strpbrk(s, ",\"\r\n") != NULL;

	if (quote)
		util_buf_add(b, "\"", 1);
	if (text && stats_csv_risky(s))
		util_buf_add(b, "'", 1);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"')
			util_buf_add(b, "\"", 1);
		util_buf_add(b, p, 1);
	}
	if (quote)
		util_buf_add(b, "\"", 1);
}

/*
 * True when s is a number as JSON writes one (RFC 8259 section 6):
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?. PostgreSQL's integers,
 * numerics and floats are, but for NaN and the infinities. Pure.
 */
int
stats_json_number(const char *s)
{
	const char	*p = s + (*s == '-');

	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		p += strspn(p, "0123456789");
	else
		return 0;
	if (*p == '.') {
		if (!isdigit((unsigned char)p[1]))
			return 0;
		p += 1 + strspn(p + 1, "0123456789");
	}
	if (*p == 'e' || *p == 'E') {
		p += 1 + (p[1] == '+' || p[1] == '-');
		if (!isdigit((unsigned char)*p))
			return 0;
		p += strspn(p, "0123456789");
	}
	return *p == '\0';
}

/*
 * Appends one report cell to b as JSON: SQL NULL (v NULL) as null; a
 * number as PostgreSQL wrote it, its exact digits, or null where that is
 * no JSON number (NaN, Infinity); t or f as true or false; anything else
 * as a string. sp-stats writes its answers with this and
 * util_buf_json_str() straight from the query's text cells: a tree of
 * json-c objects, one per cell, cost a report with compare= more than
 * both of its queries (docs/performance.md). Pure.
 */
void
stats_json_cell(struct util_buf *b, const char *v, enum stats_cell kind)
{
	if (v == NULL || (kind == STATS_CELL_NUMBER && !stats_json_number(v)))
		util_buf_add(b, "null", 4);
	else if (kind == STATS_CELL_NUMBER)
		util_buf_add(b, v, strlen(v));
	else if (kind == STATS_CELL_BOOL)
		util_buf_add(b, v[0] == 't' ? "true" : "false", v[0] == 't' ? 4 : 5);
	else
		util_buf_json_str(b, v);
}

/*
 * An annotation's time: a date (YYYY-MM-DD, its UTC midnight) or a UTC
 * time YYYY-MM-DDTHH:MM[:SS]Z, each field in range. Pure.
 */
static int
valid_note_at(const char *s)
{
	static const char	 full[] = "dddd-dd-ddTdd:dd:ddZ", minutes[] = "dddd-dd-ddTdd:ddZ";
	char			 date[11];
	const char		*shape = NULL;
	int			 y, m, d;
	size_t			 n = strlen(s);

	if (n == 10)
		return valid_date(s, &y, &m, &d);
	if (n == sizeof(full) - 1)
		shape = full;
	else if (n == sizeof(minutes) - 1)
		shape = minutes;
	else
		return 0;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
			return 0;
	memcpy(date, s, 10);
	date[10] = '\0';
	return valid_date(date, &y, &m, &d) && atoi(s + 11) < 24 && atoi(s + 14) < 60 &&
	    (shape == minutes || atoi(s + 17) < 60);
}

/*
 * Validates the JSON body of an annotation (POST /sitepulse/api/annotation,
 * POST /sitepulse/admin/annotation): {"note": TEXT, "at": WHEN}, at
 * optional (now), note 1 to STATS_NOTE_MAX characters of UTF-8 without
 * control characters, and with with_site a "site": KEY too (the dashboard
 * names the site; a token has its own); nothing else. Fills out and
 * returns 1, or returns 0 with *why set for a 400 answer. Pure.
 */
int
stats_note_parse(const char *body, size_t len, int with_site, struct stats_note *out,
    const char **why)
{
	struct json_tokener	*tok = json_tokener_new_ex(4);
	struct json_object	*root = NULL, *note = NULL, *at = NULL, *site = NULL;
	const char		*text;
	size_t			 chars = 0, tlen, end = 0;
	int			 good = 0;

	memset(out, 0, sizeof(*out));
	if (tok != NULL && len > 0 && len <= STATS_NOTE_BODY_MAX) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
		root = json_tokener_parse_ex(tok, body, (int)len);
	}
	if (root != NULL)
		for (end = json_tokener_get_parse_end(tok); end < len; end++)
			if (strchr(" \t\r\n", body[end]) == NULL || body[end] == '\0')
				break;
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success || end != len ||
	    !json_object_is_type(root, json_type_object)) {
		*why = "body: a JSON object {\"note\": ..., \"at\": ...} is required";
		goto out;
	}
	json_object_object_foreach(root, k, v) {
		if (strcmp(k, "note") == 0)
			note = v;
		else if (strcmp(k, "at") == 0)
			at = v;
		else if (with_site && strcmp(k, "site") == 0)
			site = v;
		else {
			*why = with_site ? "body: unknown field (site, note and at only)" :
			    "body: unknown field (note and at only)";
			goto out;
		}
	}
	if (with_site && (site == NULL || !json_object_is_type(site, json_type_string) ||
	    (size_t)json_object_get_string_len(site) >= sizeof(out->site) ||
	    !valid_site_key(json_object_get_string(site)))) {
		*why = "site: missing or not a site key";
		goto out;
	}
	if (with_site)
		snprintf(out->site, sizeof(out->site), "%s", json_object_get_string(site));
	if (note == NULL || !json_object_is_type(note, json_type_string)) {
		*why = "note: a string is required";
		goto out;
	}
	text = json_object_get_string(note);
	tlen = (size_t)json_object_get_string_len(note);
	if (tlen == 0 || tlen >= sizeof(out->note) || strlen(text) != tlen ||
	    !valid_text(text, tlen, sizeof(out->note) - 1)) {
		*why = "note: empty, too long, or with control characters";
		goto out;
	}
	for (size_t i = 0; i < tlen; i++)
		chars += ((unsigned char)text[i] & 0xC0) != 0x80;
	if (chars > STATS_NOTE_MAX) {
		*why = "note: at most 200 characters";
		goto out;
	}
	memcpy(out->note, text, tlen + 1);
	if (at != NULL) {
		if (!json_object_is_type(at, json_type_string) ||
		    !valid_note_at(json_object_get_string(at))) {
			*why = "at: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)";
			goto out;
		}
		snprintf(out->at, sizeof(out->at), "%s", json_object_get_string(at));
	}
	good = 1;
out:
	if (root != NULL)
		json_object_put(root);
	if (tok != NULL)
		json_tokener_free(tok);
	return good;
}
