/*
 * sp-collect: the ingest endpoint.
 *
 *   POST    /sitepulse/collect       a JSON batch of events (text/plain or application/json)
 *   OPTIONS /sitepulse/collect       CORS preflight for registered origins
 *   GET     /sitepulse/collect.gif   a page view from a <noscript> image
 *
 * Each batch is validated in full (nothing is stored unless every event is
 * valid) and enriched with the visitor id, browser and OS, the country of
 * the address (with SITEPULSE_GEOIP_DB) and the language the browser asks
 * for (geo.h); the address itself goes no further than the visitor hash
 * and the country lookup.
 *
 * Storing a batch costs the database mostly a fixed amount per statement:
 * a transaction, a WAL flush at commit and one firing of every
 * statement-level rollup trigger, whatever the statement's size. So the
 * process stores batches with group commit (group.c), as PostgreSQL's own
 * WAL does: SITEPULSE_COLLECT_THREADS request threads (default 32) take
 * turns on FCGX_Accept_r and each parses and checks its own request; a
 * thread with a batch to store queues it, and a thread that finds one of
 * the process's SITEPULSE_COLLECT_CONNECTIONS (default 2) database
 * connections without a group becomes the leader and stores every batch
 * waiting with one call of sitepulse.ingest_many() in autocommit on it.
 * Batches that arrive while every connection has a group form the next
 * group, so groups grow with the load while a lone request is stored at
 * once; a few batches wait for a busy connection rather than take a free
 * one beside it (group.h's GROUP_SPILL_EVENTS and GROUP_SPILL_MS), since
 * a statement's fixed cost is that of many events. The lowest free
 * connection is taken and each is opened on first
 * use, and one past the first is closed after SITEPULSE_COLLECT_IDLE
 * seconds unused, so a quiet site's process holds one (and one PostgreSQL
 * backend). Each batch still gets its own answer, and that answer is sent
 * only after its statement has committed, so no acknowledged event can be
 * lost. A group the database refuses stored nothing and is split until
 * the batch at fault stands alone (group.c):
 * the others are stored once and answered 204, and that batch alone gets
 * 400 (its data) or 500. 503 means the database is unavailable (no
 * connection, or lost during the statement), nothing else.
 *
 * The order of the checks puts the cheap ones first: the body is parsed
 * and validated, the visitor's and the site's rate limits are taken, and
 * only then do the user-agent rules run, on at most the first UA_LEN_MAX
 * bytes of the header, so a flood of refused requests costs no
 * classification. The threads share the database connections (each
 * under its db_lock, one group in flight on each), the salt, the
 * user-agent rules and their cache (each thread runs the rules with a
 * matcher of its own, outside any lock; ua.h) and the mmap'd rate limit
 * and metrics tables (lock-free). In staged mode the process's drainer
 * thread runs drain() on a connection of its own once a group is staged,
 * and again until nothing is left, so a long drain never holds up the
 * groups and the last batch of a burst never waits for more traffic.
 * Under a web server that sends one request per process at a time
 * (mod_fcgid) every group is one batch, which works just the same.
 */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

#include "config.h"
#include "counters.h"
#include "db.h"
#include "event.h"
#include "geo.h"
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
	/* The salt and the database's UTC day it is for (the same now()). */
	[Q_SALT] = "SELECT sitepulse.current_salt(), "
	    "(now() AT TIME ZONE 'UTC')::date - DATE '1970-01-01'",
	[Q_ORIGIN] = "SELECT EXISTS (SELECT 1 FROM sitepulse.sites WHERE $1 = ANY (origins))",
};

/* The drain connection's one statement. */
enum drain_stmt { Q_DRAIN, Q_DRAIN__MAX };

static const char *const drain_sql[Q_DRAIN__MAX] = {
	[Q_DRAIN] = "SELECT sitepulse.drain()",
};

/*
 * How long the drainer waits before it asks again while another session
 * drains (drain() answers -1), and while the database is unreachable.
 */
#define DRAIN_BUSY_MS	 100
#define DRAIN_DOWN_MS	 1000

/*
 * Room for the extra headers of an answer: the CORS headers echo an
 * Origin, which valid_origin lets be as long as a URL.
 */
#define HEADERS_MAX	 (VALID_URL_MAX + 256)

/* sitepulse.ingest_many()'s answers, one per batch. */
enum ingest { INGEST_STORED, INGEST_DUPLICATE, INGEST_NO_SITE, INGEST_BAD_ORIGIN, INGEST_STAGED };

/* The process, shared by the request threads. */
struct collect {
	struct sp_config	 cfg;
	struct counters		*ctr;		/* shared metrics (may be NULL) */
	struct ratelimit	*rl;		/* lock-free (may be NULL) */
	pthread_mutex_t		 accept_lock;	/* one thread in FCGX_Accept_r at a time */
	struct ua_db		*ua;		/* thread-safe with a matcher per thread */
	struct geo_db		*geo;		/* read-only, shared (NULL: countries unknown) */
	/*
	 * Group lane i's connection, opened on first use (db[0] also serves
	 * the salt and the origins), when it last stored a group
	 * (util_now_ms), and the lock that guards both.
	 */
	struct db		 db[GROUP_MAX_LANES];
	long long		 used_ms[GROUP_MAX_LANES];
	pthread_mutex_t		 db_lock[GROUP_MAX_LANES];
	pthread_mutex_t		 salt_lock;	/* guards salt and salt_day */
	unsigned char		 salt[HASH_SALT_LEN];
	long			 salt_day;	/* days since the epoch (UTC) of salt; -1 none */
	struct group		 group;		/* batches waiting to be stored */
	/* Staged mode: the drainer thread, its connection (opened on first use) and its work. */
	pthread_t		 drainer;
	struct db		 ddb;
	pthread_mutex_t		 drain_lock;	/* guards pending and stop */
	pthread_cond_t		 drain_cond;	/* signalled when either is set */
	int			 pending;	/* staged events may wait to be drained */
	int			 stop;		/* the drainer returns */
};

/* A request thread: its request and what the request needs of its own. */
struct worker {
	struct collect		*c;
	FCGX_Request		 r;
	pthread_t		 thread;
	struct ua_matcher	*um;		/* runs c->ua's rules (NULL without) */
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

/* http_db_error (503 when down, else 500), remembering the status. */
static void
reply_db_error(struct worker *w, int down)
{
	w->status = down ? 503 : 500;
	http_db_error(&w->r, down, w->c->cfg.retry_after);
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
 * call. The salt is kept under the day the database gave it for, not
 * this host's: a host whose clock runs a little ahead or behind asks
 * again on each request for those few seconds around midnight, instead of
 * keeping the other day's salt for a whole day. Returns 1, or 0 with
 * *down set when the database cannot be reached (and cleared when it
 * answered, but not with a salt).
 */
static int
salt_get(struct collect *c, unsigned char *salt, int *down)
{
	long		 day = (long)(time(NULL) / 86400);
	PGresult	*res = NULL;
	size_t		 n = 0;
	unsigned char	*bytes = NULL;
	int		 ok = 1;

	*down = 0;
	pthread_mutex_lock(&c->salt_lock);
	if (day != c->salt_day) {
		pthread_mutex_lock(&c->db_lock[0]);
		res = db_exec(&c->db[0], Q_SALT, 0, NULL);
		*down = res == NULL && c->db[0].err == DB_DOWN;
		pthread_mutex_unlock(&c->db_lock[0]);
		if (res != NULL)
			bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &n);
		if (bytes != NULL && n == HASH_SALT_LEN) {
			memcpy(c->salt, bytes, n);
			c->salt_day = atol(PQgetvalue(res, 0, 1));
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

/*
 * The CORS header echoing the request's Origin, if it sent a well-formed
 * one, into buf (HEADERS_MAX bytes hold any): never half a header.
 */
static void
cors(FCGX_Request *r, char *buf, size_t bufsz)
{
	const char	*origin = http_param(r, "HTTP_ORIGIN");

	buf[0] = '\0';
	if (valid_origin(origin) && (size_t)snprintf(buf, bufsz,
	    "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", origin) >= bufsz)
		buf[0] = '\0';
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
 * Classifies the User-Agent into info with the worker's own matcher (no
 * lock but the cache's, for a copy). Returns 1 for a bot. Called only
 * after the rate limits, and with a User-Agent: none at all is a script,
 * which store() drops without asking the rules.
 */
static int
is_bot(struct worker *w, const char *ua, struct ua_info *info)
{
	if (w->c->ua == NULL)
		return 0;
	return ua_classify(w->c->ua, w->um, ua, info) && info->is_bot;
}

/*
 * Reads ingest_many()'s answer to a group of n into codes: one row with
 * an int[] of n known codes. Returns GROUP_STORE_OK, or, after logging,
 * GROUP_STORE_UNKNOWN: the statement committed, but nothing tells which
 * batch was stored as what.
 */
static enum group_store
ingest_codes(PGresult *res, int n, int *codes)
{
	int	 ok;

	ok = PQntuples(res) == 1 && PQnfields(res) == 1 && !PQgetisnull(res, 0, 0) &&
	    group_codes(PQgetvalue(res, 0, 0), codes, n);
	for (int i = 0; ok && i < n; i++)
		ok = codes[i] <= INGEST_STAGED;
	if (!ok)
		fprintf(stderr, "sp-collect: ingest_many() of %d batches answered %s\n", n,
		    PQntuples(res) == 1 && PQnfields(res) == 1 ? PQgetvalue(res, 0, 0) : "no value");
	return ok ? GROUP_STORE_OK : GROUP_STORE_UNKNOWN;
}

/*
 * Whether a statement error is the data's fault, by its SQLSTATE class:
 * a data exception (22: an invalid byte sequence, a value out of range),
 * an integrity constraint violation (23) or a value over one of the
 * database's limits (54: an index row too big, say).
 */
static int
data_error(const char *sqlstate)
{
	return sqlstate != NULL && (strncmp(sqlstate, "22", 2) == 0 ||
	    strncmp(sqlstate, "23", 2) == 0 || strncmp(sqlstate, "54", 2) == 0);
}

/*
 * Stores a lone batch whose statement failed on a working connection once
 * more, to tell bad data from other errors: db_exec keeps no failed
 * result, so no SQLSTATE. The failed statement stored nothing, so this
 * stores the batch at most once; a passing error (a deadlock, say) may
 * well not happen again. Runs unprepared on the lane's connection, under
 * its db_lock, with db_exec's answer deadline (db_await). Returns what
 * group.c needs to know, with codes[0] on success.
 */
static enum group_store
ingest_alone(struct collect *c, int lane, const char *json, int *codes)
{
	const char		*params[1] = { json };
	struct db		*db = &c->db[lane];
	long long		 wait = (db->statement_timeout + (long long)db->timeout) * 1000;
	PGresult		*res = NULL;
	enum group_store	 rc;

	pthread_mutex_lock(&c->db_lock[lane]);
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK &&
	    PQsendQueryParams(db->conn, sql[Q_INGEST_MANY], 1, NULL, params, NULL, NULL, 0))
		res = db_await(db, wait);	/* NULL and closed when the connection is gone */
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
		rc = GROUP_STORE_DOWN;		/* db_ready reconnects on the next call */
	else if (PQresultStatus(res) == PGRES_TUPLES_OK)
		rc = ingest_codes(res, 1, codes);
	else
		rc = data_error(PQresultErrorField(res, PG_DIAG_SQLSTATE)) ?
		    GROUP_STORE_DATA : GROUP_STORE_ERROR;
	if (rc != GROUP_STORE_OK && rc != GROUP_STORE_UNKNOWN) {
		counters_add(c->ctr, C_DB_ERRORS, 1);
		fprintf(stderr, "sp-collect: a batch stored alone failed: %s",
		    db->conn != NULL ? PQerrorMessage(db->conn) : "no connection\n");
	}
	PQclear(res);
	pthread_mutex_unlock(&c->db_lock[lane]);
	return rc;
}

/*
 * Closes the connection of every lane past the first that has stored no
 * group for SITEPULSE_COLLECT_IDLE seconds, so that a burst's second
 * connection (and its PostgreSQL backend, about 10 MB) does not outlive
 * it. Called by lane 0 after each of its groups; a lane in use is left
 * alone (its lock is taken), and one closed is opened again by its next
 * group, which is not counted as a reconnect.
 */
static void
close_idle_lanes(struct collect *c, long long now)
{
	for (int i = 1; i < c->cfg.collect_connections; i++) {
		if (pthread_mutex_trylock(&c->db_lock[i]) != 0)
			continue;
		if (c->db[i].conn != NULL && now - c->used_ms[i] >= c->cfg.collect_idle * 1000LL) {
			db_close(&c->db[i]);
			c->db[i].connects = 0;
		}
		pthread_mutex_unlock(&c->db_lock[i]);
	}
}

/* Tells the drainer that staged events may be waiting. */
static void
drain_wake(struct collect *c)
{
	pthread_mutex_lock(&c->drain_lock);
	c->pending = 1;
	pthread_cond_signal(&c->drain_cond);
	pthread_mutex_unlock(&c->drain_lock);
}

/*
 * Stores a group for the group commit: one call of ingest_many() with the
 * group's JSON, on lane's connection, in one transaction. Returns
 * GROUP_STORE_OK with codes[0..n-1] filled in; GROUP_STORE_DOWN when the
 * database cannot be reached or the connection was lost (the outcome is
 * unknown, and a client's retry with the same batch id is stored once
 * whatever it was); GROUP_STORE_ERROR for a group of several that failed
 * on a working connection (group.c splits it), and for a lone batch what
 * ingest_alone found. A group stored in staged mode wakes the drainer.
 */
static enum group_store
ingest_many(void *arg, int lane, const char *json, int n, int *codes)
{
	struct collect		*c = arg;
	const char		*params[1] = { json };
	PGresult		*res;
	enum group_store	 rc;
	int			 down;
	long long		 now;

	counters_add(c->ctr, C_COLLECT_GROUPS, 1);
	counters_add(c->ctr, C_COLLECT_GROUP_BATCHES, (uint64_t)n);
	if (lane > 0)
		counters_add(c->ctr, C_COLLECT_GROUP_SPILLS, 1);
	pthread_mutex_lock(&c->db_lock[lane]);
	res = db_exec(&c->db[lane], Q_INGEST_MANY, 1, params);
	down = res == NULL && c->db[lane].err == DB_DOWN;
	c->used_ms[lane] = now = util_now_ms();
	pthread_mutex_unlock(&c->db_lock[lane]);
	if (lane == 0)
		close_idle_lanes(c, now);
	if (res != NULL) {
		rc = ingest_codes(res, n, codes);
		PQclear(res);
	} else if (down)
		return GROUP_STORE_DOWN;
	else if (n == 1)
		rc = ingest_alone(c, lane, json, codes);
	else
		return GROUP_STORE_ERROR;
	for (int i = 0; rc == GROUP_STORE_OK && i < n; i++)
		if (codes[i] == INGEST_STAGED) {
			drain_wake(c);
			break;
		}
	return rc;
}

/*
 * Staged ingest mode: the drainer thread moves pending events into events
 * (and so into the rollups) after their clients have their answers. It
 * sleeps until a group is staged (ingest_many wakes it), then calls drain() until a
 * call moves nothing: a call moves at most ten rounds (013), and the
 * batches that commit while it runs are taken by the next call. The
 * pending flag is cleared before each call, so a batch staged meanwhile
 * sets it again. drain() lets one session drain at a time: while another
 * process drains (-1), or the database is unreachable, the drainer asks
 * again a moment later, so nothing acknowledged waits for more traffic.
 */
static void *
drainer(void *arg)
{
	struct collect	*c = arg;
	PGresult	*res;
	long long	 moved;
	int		 down;

	for (;;) {
		pthread_mutex_lock(&c->drain_lock);
		while (!c->pending && !c->stop)
			pthread_cond_wait(&c->drain_cond, &c->drain_lock);
		if (c->stop) {
			pthread_mutex_unlock(&c->drain_lock);
			return NULL;
		}
		c->pending = 0;
		pthread_mutex_unlock(&c->drain_lock);
		res = db_exec(&c->ddb, Q_DRAIN, 0, NULL);
		down = res == NULL;
		moved = down ? -1 : atoll(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (moved == 0)
			continue;
		if (moved < 0)
			usleep((down ? DRAIN_DOWN_MS : DRAIN_BUSY_MS) * 1000);
		drain_wake(c);
	}
}

/*
 * The HTTP status for a batch's answer from its group (an ingest code, or
 * group.h's GROUP_DOWN, GROUP_REFUSED, GROUP_FAILED), counted in the
 * metrics, with *why set for the errors.
 */
static int
ingest_status(struct collect *c, const struct event_batch *b, int code, const char **why)
{
	switch (code) {
	case INGEST_STAGED:
	case INGEST_STORED:
	case INGEST_DUPLICATE:
		counters_add(c->ctr, C_EVENTS_ACCEPTED, b->nevents);
		counters_observe(c->ctr, H_BATCH_EVENTS, b->nevents);
		return 204;
	case INGEST_NO_SITE:
		*why = "unknown site";
		counters_add(c->ctr, C_REJECT_UNKNOWN_SITE, b->nevents);
		return 403;
	case INGEST_BAD_ORIGIN:
		*why = "origin not registered for this site";
		counters_add(c->ctr, C_REJECT_ORIGIN, b->nevents);
		return 403;
	case GROUP_REFUSED:
		*why = "events: the database refused a value of this batch";
		counters_add(c->ctr, C_REJECT_INVALID, b->nevents);
		return 400;
	case GROUP_DOWN:
		*why = "database unavailable";
		return 503;
	default:
		*why = "internal error";
		return 500;
	}
}

/*
 * Stores a validated batch. Without a User-Agent it is a script's, and is
 * acknowledged and dropped; otherwise the visitor id is hashed and the
 * rate limits taken before the user-agent rules run (a refused request
 * costs no classification, and a bot's batches count against the limits
 * like anyone's), bots are acknowledged and dropped, and everyone else is
 * stored with the process's next group, with the country and language of
 * the request (one lookup and one header parse per batch). Returns the HTTP
 * status to answer: 204 (stored, a duplicate, or a bot), 400 (the
 * database refused the batch's data), 403 (unknown site, or origin not
 * registered), 429 (over the visitor's or the site's rate limit), 500 or
 * 503 (database unavailable), with *why set for the errors.
 */
static int
store(struct worker *w, struct event_batch *b, const char *origin, const char **why)
{
	struct collect		*c = w->c;
	const char		*ua = http_param(&w->r, "HTTP_USER_AGENT"), *ip;
	char			 ipbuf[64], visitor[24];
	char			 country[GEO_COUNTRY_SIZE], language[GEO_LANG_SIZE];
	unsigned char		 salt[HASH_SALT_LEN];
	struct ua_info		 info = { "Other", "Other", 0 };
	struct group_job	 job;
	int			 down;

	if (ua == NULL || *ua == '\0') {
		counters_add(c->ctr, C_REJECT_BOT, b->nevents);
		return 204;
	}
	if (!salt_get(c, salt, &down))
		return ingest_status(c, b, down ? GROUP_DOWN : GROUP_FAILED, why);
	memset(&job, 0, sizeof(job));
	ip = client_ip(w, ipbuf, sizeof(ipbuf));
	job.visitor = hash_visitor(salt, b->site, ip, ua);
	snprintf(visitor, sizeof(visitor), "%lld", (long long)job.visitor);
	if (!within_limits(c, b, visitor)) {
		*why = "rate limited";
		counters_add(c->ctr, C_REJECT_RATE_LIMITED, b->nevents);
		return 429;
	}
	if (is_bot(w, ua, &info)) {
		counters_add(c->ctr, C_REJECT_BOT, b->nevents);
		return 204;
	}
	job.site = b->site;
	job.origin = origin;
	job.batch = b->batch[0] ? b->batch : NULL;
	job.browser = info.browser;
	job.os = info.os;
	job.country = geo_country(c->geo, ip, country) ? country : NULL;
	job.language = geo_language(http_param(&w->r, "HTTP_ACCEPT_LANGUAGE"), language) ?
	    language : NULL;
	job.events = event_json(b);
	job.nevents = (int)b->nevents;
	return ingest_status(c, b, group_submit(&c->group, &job), why);
}

/*
 * Answers an error status from store() with the extra headers (the CORS
 * ones of a POST, which a page needs to read the status and retry) and
 * Retry-After on a 503 or a 429.
 */
static void
answer_error(struct worker *w, int status, const char *why, const char *headers)
{
	char	 buf[HEADERS_MAX + 64];

	if (status == 503 || status == 429) {
		snprintf(buf, sizeof(buf), "Retry-After: %d\r\n%s", w->c->cfg.retry_after, headers);
		headers = buf;
	}
	reply_error(w, status, why, headers);
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
 * 64 KiB), 415 (not text/plain or application/json), 429, 500 or 503.
 */
static void
do_post(struct worker *w)
{
	FCGX_Request		*r = &w->r;
	struct event_batch	 b;
	char			 why[200], headers[HEADERS_MAX];
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

/* GET /collect.gif?site=&url=[&ref=]: answers the GIF, or 400/403/429/500/503 as JSON. */
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
 * when the database is unavailable to check it, 500 when the check failed.
 */
static void
do_options(struct worker *w)
{
	const char	*origin = http_param(&w->r, "HTTP_ORIGIN"), *params[1] = { origin };
	char		 headers[HEADERS_MAX];
	PGresult	*res;
	int		 ok, down;

	if (!valid_origin(origin)) {
		reply_error(w, 403, "origin missing or malformed", NULL);
		return;
	}
	pthread_mutex_lock(&w->c->db_lock[0]);
	res = db_exec(&w->c->db[0], Q_ORIGIN, 1, params);
	down = res == NULL && w->c->db[0].err == DB_DOWN;
	pthread_mutex_unlock(&w->c->db_lock[0]);
	if (res == NULL) {
		reply_db_error(w, down);
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

/* Routes one request: 404 for an unknown path, 405 (with Allow) for a wrong method. */
static void
handle(struct worker *w)
{
	char	 path[1024];
	int	 known = 0;

	http_path(&w->r, path, sizeof(path));
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!http_ends_with(path, routes[i].path))
			continue;
		known = 1;
		if (http_method_is(&w->r, routes[i].method)) {
			routes[i].fn(w);
			return;
		}
	}
	if (known)
		reply_error(w, 405, "method not allowed", http_ends_with(path, ".gif") ?
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
	c->geo = geo_open(c->cfg.geoip_db);
	if (c->cfg.rate_visitor > 0 || c->cfg.rate_site > 0)
		c->rl = ratelimit_open(c->cfg.rate_file);
	c->ctr = counters_open(NULL, "sp-collect");
	for (int i = 0; i < GROUP_MAX_LANES; i++) {
		db_init(&c->db[i], "sp-collect", sql, Q__MAX, &c->cfg);
		c->db[i].counters = c->ctr;
		pthread_mutex_init(&c->db_lock[i], NULL);
	}
	db_init(&c->ddb, "sp-collect-drain", drain_sql, Q_DRAIN__MAX, &c->cfg);
	c->ddb.counters = c->ctr;
	pthread_mutex_init(&c->accept_lock, NULL);
	pthread_mutex_init(&c->salt_lock, NULL);
	pthread_mutex_init(&c->drain_lock, NULL);
	pthread_cond_init(&c->drain_cond, NULL);
	group_init(&c->group, c->cfg.collect_connections, ingest_many, c);
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
	for (int i = 0; i < GROUP_MAX_LANES; i++) {
		db_close(&c->db[i]);
		pthread_mutex_destroy(&c->db_lock[i]);
	}
	db_close(&c->ddb);
	ua_db_free(c->ua);
	geo_close(c->geo);
	ratelimit_close(c->rl);
	counters_close(c->ctr);
	pthread_mutex_destroy(&c->accept_lock);
	pthread_mutex_destroy(&c->salt_lock);
	pthread_mutex_destroy(&c->drain_lock);
	pthread_cond_destroy(&c->drain_cond);
}

int
main(void)
{
	static struct collect	 c;
	struct worker		*w;
	int			 n, started = 0;

	/*
	 * glibc gives threads arenas of their own, up to 8 per core, each
	 * keeping its freed pages: with 32 threads that was 1 MB of the
	 * process's 9.7 (PSS after load). The threads mostly wait for their
	 * group's commit, so two arenas are contended little.
	 */
	mallopt(M_ARENA_MAX, 2);
	if (!collect_init(&c))
		return 1;
	if (pthread_create(&c.drainer, NULL, drainer, &c) != 0) {
		fprintf(stderr, "sp-collect: cannot start the drainer thread\n");
		collect_free(&c);
		return 1;
	}
	n = c.cfg.collect_threads;
	w = xcalloc((size_t)n, sizeof(*w));
	for (int i = 0; i < n; i++) {
		w[i].c = &c;
		w[i].um = c.ua != NULL ? ua_matcher_new(c.ua) : NULL;
		if (FCGX_InitRequest(&w[i].r, 0, 0) != 0 ||
		    pthread_create(&w[i].thread, NULL, serve, &w[i]) != 0) {
			fprintf(stderr, "sp-collect: cannot start request thread %d of %d\n", i + 1, n);
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(w[i].thread, NULL);
	pthread_mutex_lock(&c.drain_lock);
	c.stop = 1;
	pthread_cond_signal(&c.drain_cond);
	pthread_mutex_unlock(&c.drain_lock);
	pthread_join(c.drainer, NULL);
	for (int i = 0; i < n; i++)
		ua_matcher_free(w[i].um);
	free(w);
	collect_free(&c);
	return started > 0 ? 0 : 1;
}
