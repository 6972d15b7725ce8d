/*
 * sp-collect: the ingest endpoint.
 *
 *   POST    /sitepulse/collect       a JSON batch of events (text/plain or application/json)
 *   OPTIONS /sitepulse/collect       CORS preflight for registered origins
 *   GET     /sitepulse/collect.gif   a page view from a <noscript> image
 *
 * Each batch is validated in full (nothing is stored unless every event is
 * valid), enriched with the visitor id, browser and OS, and written with
 * one prepared statement, sitepulse.ingest(), in autocommit: one round trip,
 * acknowledged with 204 only after that statement has committed.
 * Single-threaded: the web server runs as many processes as it needs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

#include "config.h"
#include "counters.h"
#include "db.h"
#include "event.h"
#include "hash.h"
#include "http.h"
#include "ratelimit.h"
#include "ua.h"
#include "util.h"
#include "valid.h"

enum stmt { Q_INGEST, Q_SALT, Q_ORIGIN, Q_DRAIN, Q__MAX };

static const char *const sql[Q__MAX] = {
	[Q_INGEST] = "SELECT sitepulse.ingest($1, $2, $3, $4::bigint, $5, $6, $7::jsonb)",
	[Q_SALT] = "SELECT sitepulse.current_salt()",
	[Q_ORIGIN] = "SELECT EXISTS (SELECT 1 FROM sitepulse.sites WHERE $1 = ANY (origins))",
	[Q_DRAIN] = "SELECT sitepulse.drain()",
};

/* sitepulse.ingest()'s answers. */
enum ingest { INGEST_STORED, INGEST_DUPLICATE, INGEST_NO_SITE, INGEST_BAD_ORIGIN, INGEST_STAGED };

/* Everything a request needs, kept for the life of the process. */
struct collect {
	struct counters		*ctr;		/* shared metrics (may be NULL) */
	int			 status;	/* of the current answer, for the metrics */
	struct sp_config	 cfg;
	struct db		 db;
	struct ua_db		*ua;
	struct ratelimit	*rl;
	unsigned char		 salt[HASH_SALT_LEN];
	long			 salt_day;	/* days since the epoch (UTC) of salt; -1 none */
	int			 pending;	/* staged events stored and not yet drained */
	char			 body[EVENT_BODY_MAX + 1];
};

/* http_error and http_status, remembering the status for the metrics. */
static void
reply_error(struct collect *c, FCGX_Request *r, int status, const char *why, const char *headers)
{
	c->status = status;
	http_error(r, status, why, headers);
}

static void
reply_status(struct collect *c, FCGX_Request *r, int status, const char *headers)
{
	c->status = status;
	http_status(r, status, headers);
}

/* A 1x1 transparent GIF, the answer to collect.gif. */
static const unsigned char gif[] = {
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00,
	0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
	0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b
};

/*
 * Loads today's salt (UTC) into c->salt unless it is already there; the
 * database creates it on the day's first call. Returns 1, or 0 when the
 * database cannot be reached (c->db.err says why).
 */
static int
salt_load(struct collect *c)
{
	long		 day = (long)(time(NULL) / 86400);
	PGresult	*res;
	size_t		 n;
	unsigned char	*bytes;
	int		 ok = 0;

	if (day == c->salt_day)
		return 1;
	if ((res = db_exec(&c->db, Q_SALT, 0, NULL)) == NULL)
		return 0;
	bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &n);
	if (bytes != NULL && n == HASH_SALT_LEN) {
		memcpy(c->salt, bytes, n);
		c->salt_day = day;
		ok = 1;
	} else {
		fprintf(stderr, "sp-collect: current_salt() returned %zu bytes\n", n);
		c->db.err = DB_FAIL;
	}
	PQfreemem(bytes);
	PQclear(res);
	return ok;
}

/*
 * The client's address: REMOTE_ADDR, or with SITEPULSE_TRUST_PROXY=1 the
 * last address in X-Forwarded-For (the one the trusted proxy appended),
 * copied into buf.
 */
static const char *
client_ip(struct collect *c, FCGX_Request *r, char *buf, size_t bufsz)
{
	const char	*xff = http_param(r, "HTTP_X_FORWARDED_FOR"), *last;

	if (c->cfg.trust_proxy && xff != NULL && *xff != '\0') {
		last = strrchr(xff, ',');
		last = last ? last + 1 : xff;
		last += strspn(last, " ");
		snprintf(buf, bufsz, "%.*s", (int)strcspn(last, " "), last);
		return buf;
	}
	return http_param(r, "REMOTE_ADDR");
}

/* The CORS header echoing the request's Origin, if it sent a well-formed one. */
static void
cors(FCGX_Request *r, char *buf, size_t bufsz)
{
	const char	*origin = http_param(r, "HTTP_ORIGIN");

	buf[0] = '\0';
	if (valid_origin(origin))
		snprintf(buf, bufsz, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", origin);
}

/*
 * Counts the batch against the visitor's and the site's per-minute limits.
 * Returns 1 when both allow it. (A batch the visitor limit allows but the
 * site limit refuses stays counted for the visitor: a conservative miss.)
 */
static int
within_limits(struct collect *c, const struct event_batch *b, const char *visitor)
{
	long	 minute = (long)(time(NULL) / 60);

	return ratelimit_take(c->rl, ratelimit_key("v", visitor), (uint32_t)b->nevents,
	    (uint32_t)c->cfg.rate_visitor, minute) &&
	    ratelimit_take(c->rl, ratelimit_key("s", b->site), (uint32_t)b->nevents,
	    (uint32_t)c->cfg.rate_site, minute);
}

/*
 * Stores a validated batch: bots are acknowledged and dropped, everyone
 * else is hashed into a visitor id and passed to sitepulse.ingest().
 * Returns the HTTP status to answer: 204 (stored, a duplicate, or a bot),
 * 403 (unknown site, or origin not registered), 429 (over the visitor's or
 * the site's rate limit) or 503 (database unavailable), with *why set for
 * the errors.
 */
static int
store(struct collect *c, FCGX_Request *r, struct event_batch *b, const char *origin,
    const char **why)
{
	const char	*ua = http_param(r, "HTTP_USER_AGENT"), *params[7];
	char		 ipbuf[64], visitor[24];
	struct ua_info	 info = { "Other", "Other", 0 };
	PGresult	*res;
	int		 rc;

	/* Every browser sends a User-Agent: without one it is a script, dropped like a bot. */
	if (ua == NULL || *ua == '\0' || (c->ua != NULL && ua_parse(c->ua, ua, &info) && info.is_bot)) {
		counters_add(c->ctr, C_REJECT_BOT, b->nevents);
		return 204;
	}
	*why = "database unavailable";
	if (!salt_load(c))
		return 503;
	snprintf(visitor, sizeof(visitor), "%lld", (long long)hash_visitor(c->salt, b->site,
	    client_ip(c, r, ipbuf, sizeof(ipbuf)), ua));
	if (!within_limits(c, b, visitor)) {
		*why = "rate limited";
		counters_add(c->ctr, C_REJECT_RATE_LIMITED, b->nevents);
		return 429;
	}
	params[0] = b->site;
	params[1] = origin;
	params[2] = b->batch[0] ? b->batch : NULL;
	params[3] = visitor;
	params[4] = info.browser;
	params[5] = info.os;
	params[6] = event_json(b);
	if ((res = db_exec(&c->db, Q_INGEST, 7, params)) == NULL)
		return 503;
	rc = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (rc == INGEST_STORED || rc == INGEST_DUPLICATE || rc == INGEST_STAGED) {
		c->pending |= rc == INGEST_STAGED;
		counters_add(c->ctr, C_EVENTS_ACCEPTED, b->nevents);
		counters_observe(c->ctr, H_BATCH_EVENTS, b->nevents);
		return 204;
	}
	*why = rc == INGEST_NO_SITE ? "unknown site" : "origin not registered for this site";
	counters_add(c->ctr, rc == INGEST_NO_SITE ? C_REJECT_UNKNOWN_SITE : C_REJECT_ORIGIN, b->nevents);
	return 403;
}

/* Answers an error status from store(), with Retry-After on a 503. */
static void
answer_error(struct collect *c, FCGX_Request *r, int status, const char *why, const char *headers)
{
	char	 buf[600];

	if (status == 503 || status == 429) {
		snprintf(buf, sizeof(buf), "Retry-After: %d\r\n%s", c->cfg.retry_after, headers);
		headers = buf;
	}
	reply_error(c, r, status, why, headers);
}

/*
 * Staged ingest mode: moves pending events into events (and so into the
 * rollups) after the client has its answer. Only one process drains at a
 * time and it keeps going until a round finds nothing, which takes in the
 * batches that commit meanwhile; a process that finds another draining
 * leaves it at that and tries again after its next request (sp-live's
 * tick catches a last batch when traffic stops).
 */
static void
drain(struct collect *c)
{
	PGresult	*res;

	if ((res = db_exec(&c->db, Q_DRAIN, 0, NULL)) == NULL)
		return;		/* the database is gone: the next request retries */
	c->pending = atoll(PQgetvalue(res, 0, 0)) < 0;
	PQclear(res);
}

/* Content types a batch may come as (sendBeacon sends text/plain). */
static int
content_type_ok(const char *ct)
{
	size_t	 n;

	if (ct == NULL)
		return 1;
	n = strcspn(ct, ";");
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	return (n == 10 && strncasecmp(ct, "text/plain", n) == 0) ||
	    (n == 16 && strncasecmp(ct, "application/json", n) == 0);
}

/*
 * POST /collect. Answers 204, 400 (invalid body or event), 403, 413 (over
 * 64 KiB), 415 (not text/plain or application/json) or 503.
 */
static void
do_post(struct collect *c, FCGX_Request *r)
{
	struct event_batch	 b;
	char			 why[200], headers[512];
	const char		*origin = http_param(r, "HTTP_ORIGIN"), *reason;
	size_t			 len;
	int			 rc;

	cors(r, headers, sizeof(headers));
	if (!content_type_ok(http_param(r, "CONTENT_TYPE"))) {
		reply_error(c, r, 415, "send text/plain or application/json", headers);
		return;
	}
	if ((rc = http_read_body(r, c->body, EVENT_BODY_MAX, &len)) <= 0) {
		if (rc == 0)
			reply_error(c, r, 413, "body larger than 65536 bytes", headers);
		else
			reply_error(c, r, 400, "body: unreadable or shorter than Content-Length", headers);
		counters_add(c->ctr, rc == 0 ? C_REJECT_TOO_LARGE : C_REJECT_INVALID, 1);
		return;
	}
	if (origin != NULL && !valid_origin(origin)) {
		reply_error(c, r, 403, "origin not registered for this site", headers);
		counters_add(c->ctr, C_REJECT_ORIGIN, 1);
		return;
	}
	if (!event_parse(c->body, len, &b, why, sizeof(why))) {
		reply_error(c, r, 400, why, headers);
		counters_add(c->ctr, C_REJECT_INVALID, 1);
		return;
	}
	rc = store(c, r, &b, origin, &reason);
	event_batch_free(&b);
	if (rc == 204)
		reply_status(c, r, 204, headers);
	else
		answer_error(c, r, rc, reason, headers);
}

/*
 * The origin ("scheme://host[:port]") of a Referer header, into buf, or NULL
 * when there is no usable one. A <noscript> image carries no Origin header,
 * so its Referer is what ties it to a registered page.
 */
static const char *
referer_origin(const char *ref, char *buf, size_t bufsz)
{
	const char	*p;
	size_t		 n;

	if (ref == NULL || (p = strstr(ref, "://")) == NULL)
		return NULL;
	n = (size_t)(p + 3 - ref) + strcspn(p + 3, "/?#");
	if (n >= bufsz)
		return NULL;
	memcpy(buf, ref, n);
	buf[n] = '\0';
	return valid_origin(buf) ? buf : NULL;
}

/* GET /collect.gif?site=&url=[&ref=]: answers the GIF, or 400/403/503 as JSON. */
static void
do_gif(struct collect *c, FCGX_Request *r)
{
	static const char *const names[] = { "site", "url", "ref", "_", NULL };
	struct http_query	 q;
	struct event_batch	 b;
	char			 why[200], obuf[300];
	const char		*origin, *reason;
	int			 rc;

	if (!http_query_parse(http_param(r, "QUERY_STRING"), &q) || !http_query_only(&q, names)) {
		reply_error(c, r, 400, "query: malformed or unknown parameter", NULL);
		return;
	}
	if (!event_pageview(&b, http_query_get(&q, "site"), http_query_get(&q, "url"),
	    http_query_get(&q, "ref"), why, sizeof(why))) {
		reply_error(c, r, 400, why, NULL);
		return;
	}
	origin = referer_origin(http_param(r, "HTTP_REFERER"), obuf, sizeof(obuf));
	rc = store(c, r, &b, origin, &reason);
	event_batch_free(&b);
	if (rc != 204) {
		answer_error(c, r, rc, reason, "");
		return;
	}
	reply_status(c, r, 200, "Content-Type: image/gif\r\nCache-Control: no-store\r\n");
	FCGX_PutStr((const char *)gif, sizeof(gif), r->out);
}

/*
 * OPTIONS /collect: a CORS preflight (sent for application/json bodies).
 * Answers 204 with the CORS headers when the Origin is registered for any
 * site (the body, not the preflight, names the site), 403 otherwise, 503
 * when that cannot be checked.
 */
static void
do_options(struct collect *c, FCGX_Request *r)
{
	const char	*origin = http_param(r, "HTTP_ORIGIN"), *params[1] = { origin };
	char		 headers[600];
	PGresult	*res;
	int		 ok;

	if (!valid_origin(origin)) {
		reply_error(c, r, 403, "origin missing or malformed", NULL);
		return;
	}
	if ((res = db_exec(&c->db, Q_ORIGIN, 1, params)) == NULL) {
		answer_error(c, r, 503, "database unavailable", "");
		return;
	}
	ok = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!ok) {
		reply_error(c, r, 403, "origin not registered", NULL);
		return;
	}
	snprintf(headers, sizeof(headers), "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
	    "Access-Control-Allow-Methods: POST, OPTIONS\r\n"
	    "Access-Control-Allow-Headers: Content-Type\r\n"
	    "Access-Control-Max-Age: 86400\r\n", origin);
	reply_status(c, r, 204, headers);
}

/* The routes: path suffix under the prefix, method, handler. */
static const struct route {
	const char	*path;
	const char	*method;
	void		(*fn)(struct collect *, FCGX_Request *);
} routes[] = {
	{ "/collect",		"POST",		do_post },
	{ "/collect",		"OPTIONS",	do_options },
	{ "/collect.gif",	"GET",		do_gif },
	{ "/collect.gif",	"HEAD",		do_gif },
};

/* True when path ends in suffix. */
static int
ends_with(const char *path, const char *suffix)
{
	size_t	 n = strlen(path), m = strlen(suffix);

	return n >= m && strcmp(path + n - m, suffix) == 0;
}

/* Routes one request: 404 for an unknown path, 405 (with Allow) for a wrong method. */
static void
handle(struct collect *c, FCGX_Request *r)
{
	char	 path[1024];
	int	 known = 0;

	http_path(r, path, sizeof(path));
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!ends_with(path, routes[i].path))
			continue;
		known = 1;
		if (http_method_is(r, routes[i].method)) {
			routes[i].fn(c, r);
			return;
		}
	}
	if (known)
		reply_error(c, r, 405, "method not allowed", ends_with(path, ".gif") ?
		    "Allow: GET, HEAD\r\n" : "Allow: POST, OPTIONS\r\n");
	else
		reply_error(c, r, 404, "not found", NULL);
}

int
main(void)
{
	static struct collect	 c;
	FCGX_Request		 r;

	if (!config_load(&c.cfg) || !hash_init())
		return 1;
	c.salt_day = -1;
	c.ua = ua_db_load(c.cfg.uap_regexes);
	if (c.ua == NULL)
		fprintf(stderr, "sp-collect: no user-agent data: bots are not filtered\n");
	if (c.cfg.rate_visitor > 0 || c.cfg.rate_site > 0)
		c.rl = ratelimit_open(c.cfg.rate_file);
	db_init(&c.db, "sp-collect", sql, Q__MAX, &c.cfg);
	c.ctr = counters_open(NULL, "sp-collect");
	c.db.counters = c.ctr;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		long long	 t0 = util_now_ms();

		c.status = 0;
		handle(&c, &r);
		/* Counted before the answer completes, so a client sees its own request counted. */
		counters_add(c.ctr, counters_collect_status(c.status), 1);
		counters_observe(c.ctr, H_COLLECT_MS, (double)(util_now_ms() - t0));
		FCGX_Finish_r(&r);
		if (c.pending)
			drain(&c);
	}
	db_close(&c.db);
	ua_db_free(c.ua);
	ratelimit_close(c.rl);
	counters_close(c.ctr);
	return 0;
}
