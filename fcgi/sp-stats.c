/*
 * sp-stats: history reports.
 *
 *   GET /sitepulse/stats?site=KEY&report=NAME&from=DATE&to=DATE
 *       [&interval=hour|day][&format=json|csv][&limit=N][&name=EVENT]
 *       [&compare=previous|year][&filters=TERM;...]
 *   GET /sitepulse/stats?report=sites                      the site list
 *   GET /sitepulse/share/stats?share=TOKEN&report=...       read-only share link
 *   GET /sitepulse/api/stats?report=...[&site=KEY]          with an API token
 *   POST /sitepulse/api/annotation {"note":..., "at":...}   with an API token
 *       of scope annotate: adds a note to its site's history (201 {"id":N})
 *
 * On the token route (SITEPULSE_ACCESS=token) the request carries
 * "Authorization: Bearer spt_..." (sql/021): no token, a malformed or
 * unknown or revoked one is 401 with WWW-Authenticate: Bearer; a site=
 * other than the token's, the site list, or an annotation with a token of
 * scope read is 403. sitepulse.token_site() finds the token's site (this
 * program's role never reads token hashes) and records its use.
 *
 * Each report is one function of the report schema (sql/report/), the
 * same that psql users call, so there is one definition of every report.
 * The answer is JSON ({"site":..., "report":..., "rows":[{...}, ...]}) or
 * CSV with a header row.
 *
 * compare=previous (the range before, of as many days) or compare=year
 * (the same dates a year earlier, 29 February its 28th), on every report
 * of a range but annotations, runs the same statement a second time over
 * the earlier range (compare_range()), at the same time on a second
 * database connection, opened on the first comparison and kept, so a
 * comparison takes about as long as the longer of the two ranges, not
 * their sum (run_report()). Each row then carries "change":
 * for each figure (the bigint and numeric columns) its relative change,
 * (now - then) / then rounded to 4 decimals, null where the earlier value
 * is 0 or NULL or the earlier range has no such row; and the answer gains
 * "compare": {"kind", "from", "to", "rows"}, the earlier range's own rows
 * (its top N, as the same request over that range answers). A row is
 * compared with the earlier row of the same key (its other columns: page,
 * name, a funnel's step), looked up among the earlier range's top 1000 so
 * that a page of today's top 10 is found where it ranked 12th; the summary
 * with its one row, and a time series hour by hour or day by day (t is
 * not a key). CSV adds, after the report's columns, <col>_previous and
 * <col>_change for each figure (and t_previous). Matching and changes are
 * compare.c's, pure; this program only runs the two queries.
 *
 * filters= (a segment, e.g. device==mobile;source~google; the syntax is
 * sql/report/segments.sql's: at most 2048 bytes of text, no control
 * characters) narrows every report of a range to the visits it selects,
 * on every route, with compare= too: the report's filtered overload runs
 * instead, the same statement with the filters as one more, last,
 * parameter (filtered_sql()). Annotations are notes on the site's
 * timeline, not visits: a filtered chart keeps them, so they ignore
 * filters=; the site list refuses it (400). PostgreSQL judges the
 * terms: a bad one is refused (SQLSTATE SP400, db.h) and answered 400 with
 * its reason, which names the term. Statuses: 200; 400 bad parameters; 401 an
 * authenticated route the web server did not authenticate; 403 a route
 * class it does not serve (access.h); 404 unknown site or share token;
 * 405 not GET; 500 a report failed; 503 database unavailable (with
 * Retry-After). Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

#include "config.h"
#include "counters.h"
#include "db.h"
#include "access.h"
#include "http.h"
#include "stats.h"

#define ISO_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS " col

enum stmt { Q_SITE, Q_SHARE, Q_TOKEN, Q_ANNOTATE, Q_REPORT, Q_FILTERED = Q_REPORT + STATS__MAX,
    Q__MAX = Q_FILTERED + STATS__MAX };


/* The statements; Q_FILTERED's are made from Q_REPORT's by filtered_sql(). */
static const char *const sql[Q_FILTERED] = {
	/* A site the signed-in user $2 holds a role on (sql/022); else no row, as for an unknown key. */
	[Q_SITE] = "SELECT key FROM sitepulse.sites WHERE key = $1 AND sitepulse.site_role($2, $1) IS NOT NULL",
	[Q_SHARE] = "SELECT key FROM sitepulse.sites WHERE share_token = $1",
	[Q_TOKEN] = "SELECT site, scope FROM sitepulse.token_site($1)",
	/* A date or a UTC time ("...Z"): timestamp input ignores the zone, so both read as UTC. */
	[Q_ANNOTATE] = "SELECT sitepulse.token_annotate($1, coalesce(nullif($2, '')::timestamp "
	    "AT TIME ZONE 'UTC', now()), $3)",
	[Q_REPORT + STATS_TIMESERIES] = "SELECT " ISO_UTC("t") ", visitors, pageviews, visits, "
	    "bounce_rate, avg_duration_s FROM report.timeseries($1, $2::date, $3::date, $4)",
	[Q_REPORT + STATS_SUMMARY] = "SELECT * FROM report.summary($1, $2::date, $3::date)",
	[Q_REPORT + STATS_PAGES] = "SELECT * FROM report.top_pages($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_ENTRY_PAGES] = "SELECT * FROM report.entry_pages($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_EXIT_PAGES] = "SELECT * FROM report.exit_pages($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_REFERRERS] = "SELECT * FROM report.referrers($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_UTM_SOURCES] = "SELECT * FROM report.utm_sources($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_UTM_MEDIUMS] = "SELECT * FROM report.utm_mediums($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_UTM_CAMPAIGNS] = "SELECT * FROM report.utm_campaigns($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_DEVICES] = "SELECT * FROM report.devices($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_BROWSERS] = "SELECT * FROM report.browsers($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_OS] = "SELECT * FROM report.os($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_COUNTRIES] = "SELECT * FROM report.countries($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_LANGUAGES] = "SELECT * FROM report.languages($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_EVENTS] = "SELECT * FROM report.events($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_EVENT_PROPS] =
	    "SELECT * FROM report.event_props($1, $2::date, $3::date, $4, $5::int)",
	[Q_REPORT + STATS_ELEMENTS] = "SELECT * FROM report.elements($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_SCROLL] = "SELECT * FROM report.scroll($1, $2::date, $3::date, $4::int)",
	[Q_REPORT + STATS_GOALS] = "SELECT * FROM report.goals($1, $2::date, $3::date)",
	[Q_REPORT + STATS_FUNNELS] = "SELECT * FROM report.funnels($1, $2::date, $3::date)",
	[Q_REPORT + STATS_ANNOTATIONS] = "SELECT id, " ISO_UTC("at") ", note "
	    "FROM report.annotations($1, $2::date, $3::date)",
	/* The sites user $1 holds a role on; the share link only for an admin or owner. */
	[Q_REPORT + STATS_SITES] = "SELECT key, name, CASE WHEN sitepulse.role_rank(r.role) >= 2 "
	    "THEN share_token END AS share_token, " ISO_UTC("created_at") " FROM report.sites() s "
	    "CROSS JOIN LATERAL (SELECT sitepulse.site_role($1, s.key) AS role) r "
	    "WHERE r.role IS NOT NULL",
};

/* PostgreSQL type oids of the columns reports return (pg_type.h). */
enum { OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_FLOAT4 = 700,
       OID_FLOAT8 = 701, OID_NUMERIC = 1700 };

struct stats {
	struct sp_config	 cfg;
	struct db		 db;
	struct db		 then;		/* compare='s earlier range, at the same time (run_report()) */
	const char		*sql[Q__MAX];	/* sql, then the filtered statements */
	struct counters		*ctr;		/* shared metrics (may be NULL) */
};

static int
is_number(Oid t)
{
	return t == OID_INT8 || t == OID_INT2 || t == OID_INT4 || t == OID_FLOAT4 ||
	    t == OID_FLOAT8 || t == OID_NUMERIC;
}

/* How column col of res is written in JSON. */
static enum stats_cell
cell_kind(const PGresult *res, int col)
{
	Oid	 t = PQftype(res, col);

	return is_number(t) ? STATS_CELL_NUMBER : t == OID_BOOL ? STATS_CELL_BOOL : STATS_CELL_TEXT;
}

/*
 * A report's result and, with compare=, the earlier range's: the rows as
 * text cells for compare.c, and which earlier row each row is compared with.
 */
struct report {
	PGresult		*res, *then;	/* then: NULL without compare= */
	struct compare_rows	 now, earlier;
	int			*match;		/* now.nrows indexes into then, or -1 */
	int			 shown;		/* rows of then to answer (up to the limit) */
	enum compare_role	*role;		/* each column's, for now and earlier */
	const char		**names;	/* the columns' names */
};

/* Appends "key": to b, after a comma unless it is the object's first. */
static void
json_key(struct util_buf *b, const char *key, int first)
{
	if (!first)
		util_buf_add(b, ",", 1);
	util_buf_json_str(b, key);
	util_buf_add(b, ":", 1);
}

/*
 * Appends the first n rows of res to b as a JSON array of objects, each
 * with its changes from the earlier row it is compared with when rep
 * (with compare=) is given. Numbers keep PostgreSQL's exact text.
 */
static void
json_rows(struct util_buf *b, const PGresult *res, int n, const struct report *rep)
{
	int		 ncols = PQnfields(res);
	enum stats_cell	*kind = xcalloc((size_t)ncols + 1, sizeof(*kind));
	size_t		*at = xcalloc((size_t)ncols + 1, sizeof(*at));
	struct util_buf	 keys = { 0 };

	/* Each column's key (,"name":) is quoted once for all rows: keys.p + at[j]. */
	for (int j = 0; j < ncols; j++) {
		kind[j] = cell_kind(res, j);
		at[j] = keys.len;
		json_key(&keys, PQfname(res, j), j == 0);
	}
	at[ncols] = keys.len;
	util_buf_add(b, "[", 1);
	for (int i = 0; i < n; i++) {
		util_buf_add(b, i > 0 ? ",{" : "{", i > 0 ? 2 : 1);
		for (int j = 0; j < ncols; j++) {
			util_buf_add(b, keys.p + at[j], at[j + 1] - at[j]);
			stats_json_cell(b, PQgetisnull(res, i, j) ? NULL : PQgetvalue(res, i, j), kind[j]);
		}
		if (rep != NULL) {
			json_key(b, "change", ncols == 0);
			compare_changes(b, &rep->now, i, &rep->earlier, rep->match[i], rep->names);
		}
		util_buf_add(b, "}", 1);
	}
	util_buf_add(b, "]", 1);
	util_buf_free(&keys);
	free(at);
	free(kind);
}

/*
 * Writes the report as JSON: the request's coordinates and one object
 * per row; with compare=, each row's "change" and the earlier range's
 * own rows under "compare".
 */
static void
write_json(FCGX_Request *r, const struct stats_req *req, const char *site, const struct report *rep)
{
	struct util_buf	 b = { 0 };

	util_buf_add(&b, "{", 1);
	if (site != NULL) {
		json_key(&b, "site", 1);
		util_buf_json_str(&b, site);
	}
	json_key(&b, "report", site == NULL);
	util_buf_json_str(&b, stats_report_name(req->report));
	if (req->flags & STATS_RANGE) {
		json_key(&b, "from", 0);
		util_buf_json_str(&b, req->from);
		json_key(&b, "to", 0);
		util_buf_json_str(&b, req->to);
	}
	if (req->flags & STATS_INTERVAL) {
		json_key(&b, "interval", 0);
		util_buf_json_str(&b, req->interval);
	}
	json_key(&b, "rows", 0);
	json_rows(&b, rep->res, PQntuples(rep->res), rep->then ? rep : NULL);
	if (rep->then != NULL) {
		json_key(&b, "compare", 0);
		util_buf_add(&b, "{", 1);
		json_key(&b, "kind", 1);
		util_buf_json_str(&b, compare_kind_name(req->compare));
		json_key(&b, "from", 0);
		util_buf_json_str(&b, req->earlier.from);
		json_key(&b, "to", 0);
		util_buf_json_str(&b, req->earlier.to);
		json_key(&b, "rows", 0);
		json_rows(&b, rep->then, rep->shown, NULL);
		util_buf_add(&b, "}", 1);
	}
	util_buf_add(&b, "}\n", 2);
	http_status(r, 200, "Content-Type: application/json\r\nCache-Control: no-store\r\n");
	FCGX_PutStr(b.p, (int)b.len, r->out);
	util_buf_free(&b);
}

/*
 * With compare=, the cells CSV adds to row i (-1: the header) after the
 * report's own: for each figure its earlier value and its change
 * (<col>_previous, <col>_change), for a time series' time the earlier
 * one (t_previous); empty where the earlier range has no such row.
 */
static void
csv_compare(struct util_buf *b, const struct report *rep, int i)
{
	const struct compare_rows	*now = &rep->now, *then = &rep->earlier;
	char				 name[80], change[COMPARE_CHANGE_MAX];
	int				 k = i >= 0 ? rep->match[i] : -1;

	for (int j = 0; j < now->ncols; j++) {
		const char *was = k >= 0 ? then->cell[k * then->ncols + j] : NULL;

		if (now->role[j] == COMPARE_KEY)
			continue;
		util_buf_add(b, ",", 1);
		snprintf(name, sizeof(name), "%s_previous", rep->names[j]);
		stats_csv_cell(b, i < 0 ? name : was ? was : "", i < 0 || now->role[j] != COMPARE_FIGURE);
		if (now->role[j] != COMPARE_FIGURE)
			continue;
		util_buf_add(b, ",", 1);
		snprintf(name, sizeof(name), "%s_change", rep->names[j]);
		if (i < 0)
			stats_csv_cell(b, name, 1);
		else if (k >= 0 && compare_change(now->cell[i * now->ncols + j], was, change, sizeof(change), NULL))
			stats_csv_cell(b, change, 0);
	}
}

/* Writes the report as CSV (RFC 4180, CRLF lines) with a header row, as a download. */
static void
write_csv(FCGX_Request *r, const struct stats_req *req, const char *site, const struct report *rep)
{
	const PGresult	*res = rep->res;
	struct util_buf	 b = { 0 };
	char			 headers[300];
	int			 nrows = PQntuples(res), ncols = PQnfields(res);

	for (int i = -1; i < nrows; i++) {
		for (int j = 0; j < ncols; j++) {
			if (j > 0)
				util_buf_add(&b, ",", 1);
			if (i < 0)
				stats_csv_cell(&b, PQfname(res, j), 1);
			else
				stats_csv_cell(&b, PQgetvalue(res, i, j), !is_number(PQftype(res, j)));
		}
		if (rep->then != NULL)
			csv_compare(&b, rep, i);
		util_buf_add(&b, "\r\n", 2);
	}
	/* site and the dates are validated: [A-Za-z0-9_-] and digits only. */
	snprintf(headers, sizeof(headers), "Content-Type: text/csv; charset=utf-8\r\n"
	    "Content-Disposition: attachment; filename=\"sitepulse-%s%s%s%s%s.csv\"\r\n"
	    "Cache-Control: no-store\r\n", site ? site : "", site ? "-" : "",
	    stats_report_name(req->report), req->from ? "-" : "", req->from ? req->from : "");
	http_status(r, 200, headers);
	FCGX_PutStr(b.p ? b.p : "", (int)b.len, r->out);
	util_buf_free(&b);
}

/*
 * Answers a failed statement: the refusal's status and reason when the
 * database refused the request's input (a bad filter: 400), else 503 with
 * Retry-After, or 500.
 */
static void
db_error_of(const struct stats *s, const struct db *db, FCGX_Request *r)
{
	if (db->err == DB_REFUSED)
		http_error(r, db->refusal.status, db->refusal.reason, NULL);
	else
		http_db_error(r, db->err == DB_DOWN, s->cfg.retry_after);
}

/* The same for a statement of the main connection. */
static void
db_error(struct stats *s, FCGX_Request *r)
{
	db_error_of(s, &s->db, r);
}

/*
 * Report rep's filtered statement: its text with the filters as one more,
 * last, argument of the report function ($N::text before the closing
 * parenthesis), or NULL for a report without a filtered overload (the
 * annotations, the site list); main() keeps it for the life of the process.
 */
static char *
filtered_sql(enum stats_report rep, const char *text)
{
	unsigned	 f = stats_report_flags(rep);
	int		 n = 4 + !!(f & STATS_INTERVAL) + !!(f & STATS_NAME) + !!(f & STATS_LIMIT);
	size_t		 at = strrchr(text, ')') - text, len = strlen(text) + 16;
	char		*out;

	if (!(f & STATS_RANGE) || rep == STATS_ANNOTATIONS)
		return NULL;
	out = xmalloc(len);
	snprintf(out, len, "%.*s, $%d::text%s", (int)at, text, n, text + at);
	return out;
}

/*
 * Finds the site key the request is for (by key or by share token) into
 * key. Returns 200, 404 when there is no such site (or, by key, none the
 * signed-in user holds a role on: the same answer), or 0 after answering
 * a database error.
 */
static int
resolve_site(struct stats *s, FCGX_Request *r, const struct stats_req *req, char *key, size_t keysz)
{
	const char	*p[2] = { req->share ? req->share : req->site, http_param(r, "REMOTE_USER") };
	PGresult	*res;
	int		 found;

	if ((res = db_exec(&s->db, req->share ? Q_SHARE : Q_SITE, req->share ? 1 : 2, p)) == NULL) {
		db_error(s, r);
		return 0;
	}
	if ((found = PQntuples(res) == 1))
		snprintf(key, keysz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return found ? 200 : 404;
}

/*
 * The report's parameters in the order its SQL takes them, over the range
 * from..to with limit, and filters last when there are any; returns how
 * many. A report of no site (the list of sites) takes the signed-in user.
 */
static int
report_params(const struct stats_req *req, const char *site, const char *user, const char *from,
    const char *to, const char *limit, const char *filters, const char **p)
{
	int	 n = 0;

	if (req->flags & STATS_NOSITE) {
		p[n++] = user;
		return n;
	}
	p[n++] = site;
	p[n++] = from;
	p[n++] = to;
	if (req->flags & STATS_INTERVAL)
		p[n++] = req->interval;
	if (req->flags & STATS_NAME)
		p[n++] = req->name;
	if (req->flags & STATS_LIMIT)
		p[n++] = limit;
	if (filters != NULL)
		p[n++] = filters;
	return n;
}

/* The cells of res as text for compare.c, NULL for SQL NULL; the caller frees the array. */
static const char **
cells_of(const PGresult *res)
{
	int		 nrows = PQntuples(res), ncols = PQnfields(res);
	const char	**c = xcalloc((size_t)nrows * (size_t)ncols + 1, sizeof(*c));

	for (int i = 0; i < nrows; i++)
		for (int j = 0; j < ncols; j++)
			c[i * ncols + j] = PQgetisnull(res, i, j) ? NULL : PQgetvalue(res, i, j);
	return c;
}

/*
 * Runs the report, and with compare= the same report over the earlier
 * range at the same time, on a second connection (s->then, opened on the
 * first comparison): the database works on both ranges at once, so a
 * comparison costs about the time of the longer of the two, not their
 * sum. The earlier range is asked with the largest limit so that a row of
 * today's top N is found there even where it ranked lower then. Returns
 * 1, or 0 after answering a database error (the earlier range's answer is
 * always collected, so its connection is free for the next request).
 */
static int
run_report(struct stats *s, FCGX_Request *r, const struct stats_req *req, const char *site,
    const char *filters, struct report *rep)
{
	const char	*p[7], *pt[7];
	char		 limit[8];
	int		 q = (filters ? Q_FILTERED : Q_REPORT) + req->report, n, sent = 0;

	if (req->compare != COMPARE_NONE) {
		snprintf(limit, sizeof(limit), "%d", STATS_LIMIT_MAX);
		n = report_params(req, site, NULL, req->earlier.from, req->earlier.to, limit, filters, pt);
		if (!(sent = db_send(&s->then, q, n, pt))) {
			db_error_of(s, &s->then, r);
			return 0;
		}
	}
	n = report_params(req, site, http_param(r, "REMOTE_USER"), req->from, req->to, req->limit_s,
	    filters, p);
	rep->res = db_exec(&s->db, q, n, p);
	if (sent)
		rep->then = db_finish(&s->then, q);
	if (rep->res == NULL)
		db_error(s, r);
	else if (sent && rep->then == NULL)
		db_error_of(s, &s->then, r);
	else
		return 1;
	return 0;
}

/*
 * With compare=, matches the rows of the two ranges (compare_match()):
 * bigint and numeric columns are figures, the others name the row (a
 * funnel's int step too), but a time series' rows match by position.
 */
static void
match_compare(const struct stats_req *req, struct report *rep)
{
	int			 ncols = PQnfields(rep->res);
	enum compare_role	*role;

	rep->role = role = xcalloc((size_t)ncols + 1, sizeof(*role));
	rep->names = xcalloc((size_t)ncols + 1, sizeof(*rep->names));
	for (int j = 0; j < ncols; j++) {
		Oid t = PQftype(rep->res, j);
		rep->names[j] = PQfname(rep->res, j);
		role[j] = t == OID_INT8 || t == OID_NUMERIC || t == OID_FLOAT4 || t == OID_FLOAT8 ?
		    COMPARE_FIGURE : req->report == STATS_TIMESERIES ? COMPARE_OTHER : COMPARE_KEY;
	}
	rep->now = (struct compare_rows){ PQntuples(rep->res), ncols, cells_of(rep->res), role };
	rep->earlier = (struct compare_rows){ PQntuples(rep->then), ncols, cells_of(rep->then), role };
	rep->match = compare_match(&rep->now, &rep->earlier);
	rep->shown = PQntuples(rep->then);
	if ((req->flags & STATS_LIMIT) && rep->shown > req->limit)
		rep->shown = req->limit;
}

/* Frees what a report holds; rep may be half filled. */
static void
report_free(struct report *rep)
{
	PQclear(rep->res);
	PQclear(rep->then);
	free((void *)rep->now.cell);
	free((void *)rep->earlier.cell);
	free(rep->role);
	free(rep->names);
	free(rep->match);
}

/*
 * The API token a request on the token route carries, checked: fills in
 * its site key and scope and returns 1, or answers 401 (no token, a
 * malformed, unknown or revoked one) or a database error and returns 0.
 */
static int
token_check(struct stats *s, FCGX_Request *r, char *site, size_t sitesz, char *scope,
    size_t scopesz)
{
	static const char	 challenge[] = "WWW-Authenticate: Bearer realm=\"SitePulse\"\r\n",
				 invalid[] = "WWW-Authenticate: Bearer realm=\"SitePulse\", "
				     "error=\"invalid_token\"\r\n";
	const char		*authz = http_param(r, "HTTP_AUTHORIZATION"), *p[1];
	char			 token[ACCESS_TOKEN_LEN + 1];
	PGresult		*res;
	int			 found;

	if (authz == NULL || *authz == '\0') {
		http_error(r, 401, "an API token is required (Authorization: Bearer ...)", challenge);
		return 0;
	}
	if (!access_bearer(authz, token, sizeof(token))) {
		http_error(r, 401, "Authorization: Bearer spt_... is required", invalid);
		return 0;
	}
	p[0] = token;
	if ((res = db_exec(&s->db, Q_TOKEN, 1, p)) == NULL) {
		db_error(s, r);
		return 0;
	}
	if ((found = PQntuples(res) == 1)) {
		snprintf(site, sitesz, "%s", PQgetvalue(res, 0, 0));
		snprintf(scope, scopesz, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	if (!found)
		http_error(r, 401, "unknown or revoked API token", invalid);
	return found;
}

/*
 * GET /stats: validates, resolves the site, runs the report, answers it.
 * token_site is the API token's site on the token route (else NULL).
 */
static void
do_stats(struct stats *s, FCGX_Request *r, enum stats_who who, const char *token_site)
{
	struct http_query	 q;
	struct stats_req	 req;
	const char		*why, *site = NULL, *filters;
	char			 key[72];
	struct report		 rep = { 0 };
	int			 st;

	if (!http_query_parse(http_param(r, "QUERY_STRING"), &q)) {
		http_error(r, 400, "query: malformed", NULL);
		return;
	}
	if (!http_query_filters(&q, &filters, &why) || !stats_parse(&q, who, &req, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	if (filters != NULL && req.report == STATS_ANNOTATIONS)
		filters = NULL;
	if (filters != NULL && s->sql[Q_FILTERED + req.report] == NULL) {
		http_error(r, 400, "filters: this report takes none", NULL);
		return;
	}
	if (token_site != NULL) {
		if (req.flags & STATS_NOSITE) {
			http_error(r, 403, "an API token reads its own site's reports only", NULL);
			return;
		}
		if (req.site != NULL && strcmp(req.site, token_site) != 0) {
			http_error(r, 403, "this API token is for another site", NULL);
			return;
		}
		site = token_site;
	} else if (!(req.flags & STATS_NOSITE)) {
		if ((st = resolve_site(s, r, &req, key, sizeof(key))) != 200) {
			if (st == 404)
				http_error(r, 404, req.share ? "unknown share link" : "unknown site", NULL);
			return;
		}
		site = key;
	}
	if (!run_report(s, r, &req, site, filters, &rep))
		goto out_free;
	if (rep.then != NULL)
		match_compare(&req, &rep);
	if (req.format == STATS_CSV)
		write_csv(r, &req, site, &rep);
	else
		write_json(r, &req, site, &rep);
out_free:
	report_free(&rep);
}

/*
 * POST /api/annotation with an API token of scope annotate: validates the
 * JSON body (stats_note_parse()) and adds the note to the token's site.
 * 201 {"id":N}; 400 a bad body; 403 a token of scope read; 413 too large.
 */
static void
do_annotation(struct stats *s, FCGX_Request *r, const char *token_scope)
{
	struct stats_note	 note;
	char			 body[STATS_NOTE_BODY_MAX], token[ACCESS_TOKEN_LEN + 1], out[64];
	const char		*why, *p[3];
	size_t			 len;
	PGresult		*res;
	int			 rd;

	if (strcmp(token_scope, "annotate") != 0) {
		http_error(r, 403, "this API token may only read (scope read)", NULL);
		return;
	}
	if ((rd = http_read_body(r, body, sizeof(body), &len)) <= 0) {
		http_error(r, rd == 0 ? 413 : 400, rd == 0 ? "body: larger than 4096 bytes" :
		    "body: unreadable", NULL);
		return;
	}
	if (!stats_note_parse(body, len, 0, &note, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	/* token_check() has taken this header apart already. */
	(void)access_bearer(http_param(r, "HTTP_AUTHORIZATION"), token, sizeof(token));
	p[0] = token;
	p[1] = note.at;
	p[2] = note.note;
	if ((res = db_exec(&s->db, Q_ANNOTATE, 3, p)) == NULL) {
		db_error(s, r);
		return;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		http_error(r, 403, "this API token may not add annotations", NULL);
	} else {
		snprintf(out, sizeof(out), "{\"id\":%s}\n", PQgetvalue(res, 0, 0));
		http_status(r, 201, "Content-Type: application/json\r\nCache-Control: no-store\r\n");
		FCGX_PutS(out, r->out);
	}
	PQclear(res);
}

/*
 * Routes one request. Who may ask is the web server's word, never the
 * URI's (access.h): on a share route (/sitepulse/share/stats in the
 * shipped configs) only a share token's own site is served; on a token
 * route (/sitepulse/api/) only an API token's site, after the token is
 * checked; on any other route the server must have authenticated the
 * request, or it is 401. The path picks the handler: /stats (GET, HEAD)
 * anywhere, /annotation (POST) on the token route only; else 404, and
 * another method 405.
 */
static void
handle(struct stats *s, FCGX_Request *r)
{
	struct access	 acc;
	char		 path[1024], site[72] = "", scope[16] = "";
	int		 note;

	if (!http_access(r, ACCESS_PROTECTED | ACCESS_SHARE | ACCESS_TOKEN, &acc))
		return;
	http_path(r, path, sizeof(path));
	note = acc.route == ACCESS_TOKEN && http_ends_with(path, "/annotation");
	if (!note && !http_ends_with(path, "/stats")) {
		http_error(r, 404, "not found", NULL);
		return;
	}
	if (note && !http_method_is(r, "POST")) {
		http_error(r, 405, "method not allowed", "Allow: POST\r\n");
		return;
	}
	if (!note && !http_method_is(r, "GET") && !http_method_is(r, "HEAD")) {
		http_error(r, 405, "method not allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	if (acc.route == ACCESS_TOKEN && !token_check(s, r, site, sizeof(site), scope, sizeof(scope)))
		return;
	if (note)
		do_annotation(s, r, scope);
	else if (acc.route == ACCESS_TOKEN)
		do_stats(s, r, STATS_BY_TOKEN, site);
	else
		do_stats(s, r, acc.route == ACCESS_SHARE ? STATS_BY_SHARE : STATS_BY_USER, NULL);
}

int
main(void)
{
	static struct stats	 s;
	FCGX_Request		 r;

	if (!config_load(&s.cfg))
		return 1;
	for (int i = 0; i < Q_FILTERED; i++)
		s.sql[i] = sql[i];
	for (int i = 0; i < STATS__MAX; i++)
		s.sql[Q_FILTERED + i] = filtered_sql((enum stats_report)i, sql[Q_REPORT + i]);
	db_init(&s.db, "sp-stats", s.sql, Q__MAX, &s.cfg);
	db_init(&s.then, "sp-stats", s.sql, Q__MAX, &s.cfg);
	s.ctr = counters_open(NULL, "sp-stats");
	s.db.counters = s.then.counters = s.ctr;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		handle(&s, &r);
		/* Every answer counts, whatever its status, before it completes. */
		counters_add(s.ctr, C_STATS_REQUESTS, 1);
		FCGX_Finish_r(&r);
	}
	db_close(&s.db);
	db_close(&s.then);
	counters_close(s.ctr);
	return 0;
}
