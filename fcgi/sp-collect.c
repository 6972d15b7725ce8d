/*
 * sp-collect: the ingest endpoint.
 *
 *   POST    /sitepulse/collect       a JSON batch of events (text/plain or application/json)
 *   OPTIONS /sitepulse/collect       CORS preflight for registered origins
 *   GET     /sitepulse/collect.gif   a page view from a <noscript> image
 *
 * Each batch is validated in full (nothing is stored unless every event is
 * valid) and enriched with the visitor id, browser and OS.
 *
 * Storing a batch costs the database mostly a fixed amount per statement:
 * a transaction, a WAL flush at commit and one firing of every
 * statement-level rollup trigger, whatever the statement's size. So the
 * process stores batches with group commit (group.c), as PostgreSQL's own
 * WAL does: SITEPULSE_COLLECT_THREADS request threads (default 16) take
 * turns on FCGX_Accept_r and each parses and checks its own request; a
 * thread with a batch to store queues it, and the first thread to find no
 * group in the database becomes the leader and stores every batch waiting
 * with one call of sitepulse.ingest_many() in autocommit. Batches that
 * arrive meanwhile form the next group, so groups grow with the load while
 * a lone request is stored at once. Each batch still gets its own answer,
 * and that answer is sent only after its group's statement has committed:
 * a group that fails is answered 503 throughout and nothing of it is
 * stored, so no acknowledged event can be lost.
 *
 * The threads share one database connection (under db_lock, and only one
 * group is in flight at a time), the salt, the user-agent parser (not
 * thread-safe, so under ua_lock) and the mmap'd rate limit and metrics
 * tables (lock-free). In staged mode a thread that has answered its
 * request runs drain() on a second connection of its own, one thread at a
 * time, so a long drain never holds up the groups. Under a web server that
 * sends one request per process at a time (mod_fcgid) every group is one
 * batch, which works just the same.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
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
#include "group.h"
#include "hash.h"
#include "http.h"
#include "ratelimit.h"
#include "ua.h"
#include "util.h"
#include "valid.h"

enum stmt { Q_INGEST_MANY, Q_SALT, Q_ORIGIN, Q__MAX };

static const char *const sql[Q__MAX] = {
	[Q_INGEST_MANY] = "SELECT sitepulse.ingest_many($1::jsonb)",
	[Q_SALT] = "SELECT sitepulse.current_salt()",
	[Q_ORIGIN] = "SELECT EXISTS (SELECT 1 FROM sitepulse.sites WHERE $1 = ANY (origins))",
};

/* The drain connection's one statement. */
enum drain_stmt { Q_DRAIN, Q_DRAIN__MAX };

static const char *const drain_sql[Q_DRAIN__MAX] = {
	[Q_DRAIN] = "SELECT sitepulse.drain()",
};

/* sitepulse.ingest_many()'s answers, one per batch. */
enum ingest { INGEST_STORED, INGEST_DUPLICATE, INGEST_NO_SITE, INGEST_BAD_ORIGIN, INGEST_STAGED };

/* The process, shared by the request threads. */
struct collect {
	struct sp_config	 cfg;
	struct counters		*ctr;		/* shared metrics (may be NULL) */
	struct ratelimit	*rl;		/* lock-free (may be NULL) */
	pthread_mutex_t		 accept_lock;	/* one thread in FCGX_Accept_r at a time */
	pthread_mutex_t		 ua_lock;	/* guards ua (its cache and match data) */
	struct ua_db		*ua;
	pthread_mutex_t		 db_lock;	/* guards db */
	struct db		 db;
	pthread_mutex_t		 salt_lock;	/* guards salt and salt_day */
	unsigned char		 salt[HASH_SALT_LEN];
	long			 salt_day;	/* days since the epoch (UTC) of salt; -1 none */
	struct group		 group;		/* batches waiting to be stored */
	pthread_mutex_t		 drain_lock;	/* held by the one thread draining; guards ddb */
	struct db		 ddb;		/* drain()'s connection, opened on first use */
	atomic_int		 pending;	/* staged events stored and not yet drained */
};

/* A request thread: its request and what the request needs of its own. */
struct worker {
	struct collect		*c;
	FCGX_Request		 r;
	pthread_t		 thread;
	int			 status;	/* of the current answer, for the metrics */
	char			 body[EVENT_BODY_MAX + 1];
};

/* http_error and http_status, remembering the status for the metrics. */
static void
reply_error(struct worker *w, int status, const char *why, const char *headers)
{
	w->status = status;
	http_error(&w->r, status, why, headers);
}

static void
reply_status(struct worker *w, int status, const char *headers)
{
	w->status = status;
	http_status(&w->r, status, headers);
}

/* A 1x1 transparent GIF, the answer to collect.gif. */
static const unsigned char gif[] = {
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00,
	0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00,
	0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
	0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b
};

/*
 * Copies today's salt (UTC) into salt, loading it first unless the
 * process already has it; the database creates it on the day's first
 * call. Returns 1, or 0 when the database cannot be reached.
 */
static int
salt_get(struct collect *c, unsigned char *salt)
{
	long		 day = (long)(time(NULL) / 86400);
	PGresult	*res = NULL;
	size_t		 n = 0;
	unsigned char	*bytes = NULL;
	int		 ok = 1;

	pthread_mutex_lock(&c->salt_lock);
	if (day != c->salt_day) {
		pthread_mutex_lock(&c->db_lock);
		res = db_exec(&c->db, Q_SALT, 0, NULL);
		pthread_mutex_unlock(&c->db_lock);
		if (res != NULL)
			bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &n);
		if (bytes != NULL && n == HASH_SALT_LEN) {
			memcpy(c->salt, bytes, n);
			c->salt_day = day;
		} else {
			if (res != NULL)
				fprintf(stderr, "sp-collect: current_salt() returned %zu bytes\n", n);
			ok = 0;
		}
	}
	if (ok)
		memcpy(salt, c->salt, HASH_SALT_LEN);
	pthread_mutex_unlock(&c->salt_lock);
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
client_ip(struct worker *w, char *buf, size_t bufsz)
{
	const char	*xff = http_param(&w->r, "HTTP_X_FORWARDED_FOR"), *last;

	if (w->c->cfg.trust_proxy && xff != NULL && *xff != '\0') {
		last = strrchr(xff, ',');
		last = last ? last + 1 : xff;
		last += strspn(last, " ");
		snprintf(buf, bufsz, "%.*s", (int)strcspn(last, " "), last);
		return buf;
	}
	return http_param(&w->r, "REMOTE_ADDR");
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
 * Classifies the User-Agent into info. Returns 1 for a bot, or for a
 * missing User-Agent (every browser sends one: without, it is a script).
 */
static int
is_bot(struct collect *c, const char *ua, struct ua_info *info)
{
	int	 bot;

	if (ua == NULL || *ua == '\0')
		return 1;
	if (c->ua == NULL)
		return 0;
	pthread_mutex_lock(&c->ua_lock);
	bot = ua_parse(c->ua, ua, info) && info->is_bot;
	pthread_mutex_unlock(&c->ua_lock);
	return bot;
}

/*
 * Stores a group for the group commit: one call of ingest_many() with the
 * group's JSON, on the shared connection. Fills codes[0..n-1] and returns
 * 1, or 0 when the call failed or answered anything but n known codes
 * (then, the statement being one transaction, nothing of it is stored, or
 * at worst stored and answered 503, which a client's retry with the same
 * batch id turns into a duplicate).
 */
static int
ingest_many(void *arg, const char *json, int n, int *codes)
{
	struct collect	*c = arg;
	const char	*params[1] = { json };
	PGresult	*res;
	int		 ok;

	pthread_mutex_lock(&c->db_lock);
	res = db_exec(&c->db, Q_INGEST_MANY, 1, params);
	pthread_mutex_unlock(&c->db_lock);
	if (res == NULL)
		return 0;
	ok = PQntuples(res) == 1 && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0) &&
	    group_codes(PQgetvalue(res, 0, 0), codes, n);
	for (int i = 0; ok && i < n; i++)
		ok = codes[i] <= INGEST_STAGED;
	if (!ok)
		fprintf(stderr, "sp-collect: ingest_many() of %d batches answered %s\n", n,
		    PQntuples(res) == 1 && PQnfields(res) == 1 ? PQgetvalue(res, 0, 0) : "no value");
	PQclear(res);
	return ok;
}

/*
 * Stores a validated batch: bots are acknowledged and dropped, everyone
 * else is hashed into a visitor id and stored with the process's next
 * group. Returns the HTTP status to answer: 204 (stored, a duplicate, or a
 * bot), 403 (unknown site, or origin not registered), 429 (over the
 * visitor's or the site's rate limit) or 503 (database unavailable), with
 * *why set for the errors.
 */
static int
store(struct worker *w, struct event_batch *b, const char *origin, const char **why)
{
	struct collect		*c = w->c;
	const char		*ua = http_param(&w->r, "HTTP_USER_AGENT");
	char			 ipbuf[64], visitor[24];
	unsigned char		 salt[HASH_SALT_LEN];
	struct ua_info		 info = { "Other", "Other", 0 };
	struct group_job	 job;
	int			 rc;

	if (is_bot(c, ua, &info)) {
		counters_add(c->ctr, C_REJECT_BOT, b->nevents);
		return 204;
	}
	*why = "database unavailable";
	if (!salt_get(c, salt))
		return 503;
	memset(&job, 0, sizeof(job));
	job.visitor = hash_visitor(salt, b->site, client_ip(w, ipbuf, sizeof(ipbuf)), ua);
	snprintf(visitor, sizeof(visitor), "%lld", (long long)job.visitor);
	if (!within_limits(c, b, visitor)) {
		*why = "rate limited";
		counters_add(c->ctr, C_REJECT_RATE_LIMITED, b->nevents);
		return 429;
	}
	job.site = b->site;
	job.origin = origin;
	job.batch = b->batch[0] ? b->batch : NULL;
	job.browser = info.browser;
	job.os = info.os;
	job.events = event_json(b);
	if ((rc = group_submit(&c->group, &job)) == GROUP_FAILED)
		return 503;
	if (rc == INGEST_STORED || rc == INGEST_DUPLICATE || rc == INGEST_STAGED) {
		if (rc == INGEST_STAGED)
			atomic_store(&c->pending, 1);
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
answer_error(struct worker *w, int status, const char *why, const char *headers)
{
	char	 buf[600];

	if (status == 503 || status == 429) {
		snprintf(buf, sizeof(buf), "Retry-After: %d\r\n%s", w->c->cfg.retry_after, headers);
		headers = buf;
	}
	reply_error(w, status, why, headers);
}

/*
 * Staged ingest mode: moves pending events into events (and so into the
 * rollups) after the client has its answer, on the drain connection.
 * Only one thread of the process drains at a time (one that finds
 * another draining leaves it at that), and only one process: drain()
 * keeps going until a round finds nothing, which takes in the batches
 * that commit meanwhile; a process that finds another draining tries
 * again after its next request (sp-live's tick catches a last batch when
 * traffic stops). The pending flag is cleared before the drain, so a
 * batch staged during it sets it again.
 */
static void
drain(struct collect *c)
{
	PGresult	*res;

	if (!atomic_load(&c->pending) || pthread_mutex_trylock(&c->drain_lock) != 0)
		return;
	atomic_store(&c->pending, 0);
	if ((res = db_exec(&c->ddb, Q_DRAIN, 0, NULL)) == NULL ||
	    atoll(PQgetvalue(res, 0, 0)) < 0)
		atomic_store(&c->pending, 1);	/* gone, or another drains: the next request retries */
	PQclear(res);
	pthread_mutex_unlock(&c->drain_lock);
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
do_post(struct worker *w)
{
	FCGX_Request		*r = &w->r;
	struct event_batch	 b;
	char			 why[200], headers[512];
	const char		*origin = http_param(r, "HTTP_ORIGIN"), *reason;
	size_t			 len;
	int			 rc;

	cors(r, headers, sizeof(headers));
	if (!content_type_ok(http_param(r, "CONTENT_TYPE"))) {
		reply_error(w, 415, "send text/plain or application/json", headers);
		return;
	}
	if ((rc = http_read_body(r, w->body, EVENT_BODY_MAX, &len)) <= 0) {
		if (rc == 0)
			reply_error(w, 413, "body larger than 65536 bytes", headers);
		else
			reply_error(w, 400, "body: unreadable or shorter than Content-Length", headers);
		counters_add(w->c->ctr, rc == 0 ? C_REJECT_TOO_LARGE : C_REJECT_INVALID, 1);
		return;
	}
	if (origin != NULL && !valid_origin(origin)) {
		reply_error(w, 403, "origin not registered for this site", headers);
		counters_add(w->c->ctr, C_REJECT_ORIGIN, 1);
		return;
	}
	if (!event_parse(w->body, len, &b, why, sizeof(why))) {
		reply_error(w, 400, why, headers);
		counters_add(w->c->ctr, C_REJECT_INVALID, 1);
		return;
	}
	rc = store(w, &b, origin, &reason);
	event_batch_free(&b);
	if (rc == 204)
		reply_status(w, 204, headers);
	else
		answer_error(w, rc, reason, headers);
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
do_gif(struct worker *w)
{
	static const char *const names[] = { "site", "url", "ref", "_", NULL };
	FCGX_Request		*r = &w->r;
	struct http_query	 q;
	struct event_batch	 b;
	char			 why[200], obuf[300];
	const char		*origin, *reason;
	int			 rc;

	if (!http_query_parse(http_param(r, "QUERY_STRING"), &q) || !http_query_only(&q, names)) {
		reply_error(w, 400, "query: malformed or unknown parameter", NULL);
		return;
	}
	if (!event_pageview(&b, http_query_get(&q, "site"), http_query_get(&q, "url"),
	    http_query_get(&q, "ref"), why, sizeof(why))) {
		reply_error(w, 400, why, NULL);
		return;
	}
	origin = referer_origin(http_param(r, "HTTP_REFERER"), obuf, sizeof(obuf));
	rc = store(w, &b, origin, &reason);
	event_batch_free(&b);
	if (rc != 204) {
		answer_error(w, rc, reason, "");
		return;
	}
	reply_status(w, 200, "Content-Type: image/gif\r\nCache-Control: no-store\r\n");
	FCGX_PutStr((const char *)gif, sizeof(gif), r->out);
}

/*
 * OPTIONS /collect: a CORS preflight (sent for application/json bodies).
 * Answers 204 with the CORS headers when the Origin is registered for any
 * site (the body, not the preflight, names the site), 403 otherwise, 503
 * when that cannot be checked.
 */
static void
do_options(struct worker *w)
{
	const char	*origin = http_param(&w->r, "HTTP_ORIGIN"), *params[1] = { origin };
	char		 headers[600];
	PGresult	*res;
	int		 ok;

	if (!valid_origin(origin)) {
		reply_error(w, 403, "origin missing or malformed", NULL);
		return;
	}
	pthread_mutex_lock(&w->c->db_lock);
	res = db_exec(&w->c->db, Q_ORIGIN, 1, params);
	pthread_mutex_unlock(&w->c->db_lock);
	if (res == NULL) {
		answer_error(w, 503, "database unavailable", "");
		return;
	}
	ok = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!ok) {
		reply_error(w, 403, "origin not registered", NULL);
		return;
	}
	snprintf(headers, sizeof(headers), "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
	    "Access-Control-Allow-Methods: POST, OPTIONS\r\n"
	    "Access-Control-Allow-Headers: Content-Type\r\n"
	    "Access-Control-Max-Age: 86400\r\n", origin);
	reply_status(w, 204, headers);
}

/* The routes: path suffix under the prefix, method, handler. */
static const struct route {
	const char	*path;
	const char	*method;
	void		(*fn)(struct worker *);
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
handle(struct worker *w)
{
	char	 path[1024];
	int	 known = 0;

	http_path(&w->r, path, sizeof(path));
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!ends_with(path, routes[i].path))
			continue;
		known = 1;
		if (http_method_is(&w->r, routes[i].method)) {
			routes[i].fn(w);
			return;
		}
	}
	if (known)
		reply_error(w, 405, "method not allowed", ends_with(path, ".gif") ?
		    "Allow: GET, HEAD\r\n" : "Allow: POST, OPTIONS\r\n");
	else
		reply_error(w, 404, "not found", NULL);
}

/*
 * A request thread: takes requests in turn with the others and answers
 * them, until accepting fails (the web server closed the socket).
 */
static void *
serve(void *arg)
{
	struct worker	*w = arg;
	struct collect	*c = w->c;
	long long	 t0;
	int		 rc;

	for (;;) {
		pthread_mutex_lock(&c->accept_lock);
		rc = FCGX_Accept_r(&w->r);
		pthread_mutex_unlock(&c->accept_lock);
		if (rc < 0)
			break;
		t0 = util_now_ms();
		w->status = 0;
		handle(w);
		/* Counted before the answer completes, so a client sees its own request counted. */
		counters_add(c->ctr, counters_collect_status(w->status), 1);
		counters_observe(c->ctr, H_COLLECT_MS, (double)(util_now_ms() - t0));
		FCGX_Finish_r(&w->r);
		drain(c);
	}
	return NULL;
}

/* Sets up the process context; returns 1, or 0 when it cannot run. */
static int
collect_init(struct collect *c)
{
	if (!config_load(&c->cfg) || !hash_init())
		return 0;
	c->salt_day = -1;
	c->ua = ua_db_load(c->cfg.uap_regexes);
	if (c->ua == NULL)
		fprintf(stderr, "sp-collect: no user-agent data: bots are not filtered\n");
	if (c->cfg.rate_visitor > 0 || c->cfg.rate_site > 0)
		c->rl = ratelimit_open(c->cfg.rate_file);
	c->ctr = counters_open(NULL, "sp-collect");
	db_init(&c->db, "sp-collect", sql, Q__MAX, &c->cfg);
	db_init(&c->ddb, "sp-collect-drain", drain_sql, Q_DRAIN__MAX, &c->cfg);
	c->db.counters = c->ctr;
	c->ddb.counters = c->ctr;
	pthread_mutex_init(&c->accept_lock, NULL);
	pthread_mutex_init(&c->ua_lock, NULL);
	pthread_mutex_init(&c->db_lock, NULL);
	pthread_mutex_init(&c->salt_lock, NULL);
	pthread_mutex_init(&c->drain_lock, NULL);
	group_init(&c->group, ingest_many, c);
	if (FCGX_Init() != 0)
		return 0;
	/*
	 * libfcgi turns SIGTERM into a flag that only the thread in accept()
	 * notices; the others, waiting their turn to accept, never would, and
	 * the process would outlive the web server that stops it, connection
	 * and all. So TERM ends the process at once. Nothing acknowledged is
	 * lost: a batch is answered 204 only after its group has committed, and
	 * a client whose request dies with the process retries with the same
	 * batch id. A client gone away must not kill it with SIGPIPE.
	 */
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	return 1;
}

/* Frees what collect_init set up. */
static void
collect_free(struct collect *c)
{
	group_free(&c->group);
	db_close(&c->db);
	db_close(&c->ddb);
	ua_db_free(c->ua);
	ratelimit_close(c->rl);
	counters_close(c->ctr);
	pthread_mutex_destroy(&c->accept_lock);
	pthread_mutex_destroy(&c->ua_lock);
	pthread_mutex_destroy(&c->db_lock);
	pthread_mutex_destroy(&c->salt_lock);
	pthread_mutex_destroy(&c->drain_lock);
}

int
main(void)
{
	static struct collect	 c;
	struct worker		*w;
	int			 n, started = 0;

	if (!collect_init(&c))
		return 1;
	n = c.cfg.collect_threads;
	w = xcalloc((size_t)n, sizeof(*w));
	for (int i = 0; i < n; i++) {
		w[i].c = &c;
		if (FCGX_InitRequest(&w[i].r, 0, 0) != 0 ||
		    pthread_create(&w[i].thread, NULL, serve, &w[i]) != 0) {
			fprintf(stderr, "sp-collect: cannot start request thread %d of %d\n", i + 1, n);
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	free(w);
	collect_free(&c);
	return started > 0 ? 0 : 1;
}
