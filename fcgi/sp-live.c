/*
 * sp-live: the live view.
 *
 *   GET /sitepulse/live?site=KEY[&since=VERSION]
 *   GET /sitepulse/share/live?share=TOKEN[&site=KEY][&since=VERSION]
 *
 * Answers the site's live state as JSON (see live.c and README.md) at
 * once when the client has none or holds another version; otherwise the
 * request waits until the state changes or SITEPULSE_LIVE_WAIT seconds
 * pass, then gets the current state.
 *
 * On a share route (SITEPULSE_ACCESS=share, access.h) the site is the one
 * whose share link the token is, found by sitepulse.share_site() (sql/019):
 * an unknown token is 404, a site= naming another site 403. The answer is
 * the same read-only state the dashboard gets; nothing lists sites. On the
 * protected route the signed-in user (REMOTE_USER) must hold a role on the
 * site (sitepulse.site_role(), sql/022): else 404, as for an unknown
 * site.
 *
 * One process holds many waiting requests without a thread each:
 *
 *  - accept threads (LIVE_ACCEPTORS, taking turns on FCGX_Accept_r under a
 *    mutex, as libfcgi's threaded example does) check each request and
 *    either answer it (400, 404 path, 405, 503 over the cap) or park it
 *    in a short list for the hub, which finds a share link's site or
 *    checks the user's role, then parks it in the waitq; they go back to
 *    accept;
 *  - one hub thread owns the database connections: a LISTEN sitepulse
 *    connection, waited on with poll() beside a wake-up pipe and the
 *    parked requests' sockets (as testlibpq2.c waits on PQsocket), and a
 *    query connection. A NOTIFY (payload: the site key) makes that site
 *    due after a short debounce; the hub reads the site's state once,
 *    answers every waiter whose version differs, and reads again a little
 *    later for the change a throttled NOTIFY did not announce. Sites with
 *    waiters are also re-read every WAITQ_TICK, since visitors age out of
 *    the 5-minute window without any event. When a connection breaks the
 *    hub reconnects with backoff, LISTENs again and re-reads every site
 *    with waiters, so a database restart loses no change;
 *  - one closer thread closes the connections of answered requests, so
 *    that the hub, once it has written 1,000 answers, does not wait for
 *    the web server to close each connection before the next change.
 *
 * The hub also has a maintenance tick: every SITEPULSE_MAINTAIN_EVERY
 * seconds it sends sitepulse.maintain_if_due() on a third connection,
 * opened for the call and closed after it, and reads the answer when it
 * comes like any other descriptor it polls, so the run (at most hourly,
 * across every process: the rest return at once) never holds up an
 * answer. Ingest never runs maintenance (sql/013). In the same way, while
 * anyone watches and staged batches wait that no sp-collect drains, it
 * sends sitepulse.drain() once a second on a fourth connection, opened
 * for the call: a call that rolls up a backlog takes seconds, and the
 * reads and answers go on meanwhile.
 *
 * The state is read from rollups (live_visitors, site_minutes) plus the
 * newest clicks of the last 5 minutes from events (a LIMITed scan of the
 * partial index events_site_time_clicks). `active` counts every visitor
 * seen in the last 5 minutes; `pages` ranks the current page of those who
 * have not left (a visitor whose newest event is a leave closed or hid the
 * page: still active, since hiding a tab is often followed by a return,
 * but no longer on a page).
 *
 * Under a web server that sends one request per process (mod_fcgid) this
 * still works: each process then holds one waiting request.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

#include "config.h"
#include "counters.h"
#include "db.h"
#include "access.h"
#include "http.h"
#include "live.h"
#include "util.h"
#include "valid.h"
#include "waitq.h"

#define LIVE_ACCEPTORS	 4	/* accept threads */
#define USER_MAX	 64	/* REMOTE_USER: longer names hold no role (sql/022) */
#define SETTLED_MAX	 64	/* answers the hub remembers (hub_pending) */
#define SETTLED_MS	 5000	/* for this long, or until access changes (ACCESS_CHANGED) */
/* The NOTIFY payload of a change to roles or sites (sql/030): forget what was settled. */
#define ACCESS_CHANGED	 "*access"
#define BACKOFF_MIN	 100	/* ms before the first reconnect attempt */
#define BACKOFF_MAX	 2000	/* ms between reconnect attempts at most */
#define POLL_FIXED	 4	/* wake-up pipe, LISTEN, maintenance, drain: then the waiters */
#define DRAIN_EVERY	 1000	/* ms between the hub's drain() calls while anyone watches */

/*
 * The maintenance tick's one query, sent as one string: one implicit
 * transaction, whose lock waits end after a second (maintain() sets the
 * same itself, for every caller). 'busy' (another session is
 * maintaining) and NULL (not due) are the usual answers.
 */
#define MAINTAIN_SQL	 "SET LOCAL lock_timeout = '1s'; SELECT sitepulse.maintain_if_due()"
/* The drain's one query (sql/051): -1 at once while another session drains. */
#define DRAIN_SQL	 "SELECT sitepulse.drain()"
#define MAINTAIN_STATEMENT_TIMEOUT 3600	/* s: a run's lock waits are short, its deletes may not be */

enum stmt { Q_HEAD, Q_PAGES, Q_MINUTES, Q_CLICKS, Q_PENDING, Q_SHARE, Q_ROLE, Q__MAX };

static const char *const sql[Q__MAX] = {
	/* The site, its active visitors and the current minute (since the epoch). */
	[Q_HEAD] = "SELECT s.id, (SELECT count(*) FROM sitepulse.live_visitors l"
	    " WHERE l.site_id = s.id AND l.last_seen > now() - interval '5 minutes'),"
	    " floor(extract(epoch FROM now()) / 60)::bigint"
	    " FROM sitepulse.sites s WHERE s.key = $1",
	[Q_PAGES] = "SELECT path, count(*) FROM sitepulse.live_visitors"
	    " WHERE site_id = $1 AND last_seen > now() - interval '5 minutes' AND NOT \"left\""
	    " GROUP BY path ORDER BY 2 DESC, 1 LIMIT $2",
	/* The minutes with traffic among the 30 ending at minute $2. */
	[Q_MINUTES] = "SELECT (extract(epoch FROM minute) / 60)::bigint, pageviews, visitors"
	    " FROM sitepulse.site_minutes WHERE site_id = $1"
	    " AND minute > to_timestamp($2::bigint * 60) - interval '30 minutes'"
	    " AND minute <= to_timestamp($2::bigint * 60)",
	[Q_CLICKS] = "SELECT path, x, y, (extract(epoch FROM received_at) * 1000)::bigint, sel,"
	    " coalesce(rage, false), coalesce(dead, false) FROM sitepulse.events"
	    " WHERE site_id = $1 AND type = 'click' AND x IS NOT NULL AND y IS NOT NULL"
	    " AND received_at > now() - interval '5 minutes'"
	    " ORDER BY received_at DESC LIMIT $2",
	/* Whether staged batches wait to be drained (sql/051: this role reads received_at alone). */
	[Q_PENDING] = "SELECT EXISTS (SELECT received_at FROM sitepulse.events_pending)",
	/* The site of a share link (sql/019: this role cannot read tokens). */
	[Q_SHARE] = "SELECT sitepulse.share_site($1)",
	/* User $1's role on site $2, NULL for none (sql/022). */
	[Q_ROLE] = "SELECT sitepulse.site_role($1, $2)",
};

/* What reading a site's state found. */
enum read_rc { READ_OK, READ_NO_SITE, READ_DOWN };

/*
 * A request, checked, whose site the hub has yet to settle: a share
 * link's, found from its token, or a signed-in user's, whose role on it
 * the database confirms; then it is parked in the waitq like any other.
 */
struct pending {
	FCGX_Request		*req;
	struct live_req		 lr;
	char			 user[USER_MAX + 1];	/* "" on a share route */
	long long		 deadline;
	struct pending		*next;
};

/*
 * What the hub settled for one share token or one user and site, kept
 * SETTLED_MS (hub_pending): a thousand dashboards asking again after each
 * change cost one query, not a thousand. A change to roles or sites
 * (NOTIFY ACCESS_CHANGED) and a lost LISTEN connection forget it all, so
 * a revoked role or share link closes at once.
 */
struct settled {
	char		 user[USER_MAX + 1];	/* the ask: "" for a share token */
	char		 site[VALID_KEY_MAX + 1];
	char		 share[LIVE_SHARE_MAX + 1];
	long long	 expires;		/* util_now_ms(); 0: an empty slot */
	int		 status;		/* 0, or the status to answer */
	const char	*why;
	char		 key[VALID_KEY_MAX + 1];
};

/*
 * A call the hub sends on a connection of its own and reads when its
 * answer comes, like any other descriptor it polls, so that it never holds
 * up an answer: the maintenance tick (a run may take minutes) and the
 * staged backlog's drain() (a call rolls up to ten rounds of
 * drain_round_rows events, seconds with a backlog).
 */
struct side {
	struct db	 db;		/* open only while a call runs */
	const char	*what;		/* names the call in the log */
	const char	*sql;		/* sent as one string: one implicit transaction */
	long long	 until;		/* the running call's deadline (util_now_ms); 0 none */
};

/* The process: shared parts under lock, the rest the hub thread's own. */
struct live {
	struct sp_config	 cfg;
	pthread_mutex_t		 accept_lock;	/* one thread in FCGX_Accept_r at a time */
	pthread_mutex_t		 lock;		/* guards q, pending, npending */
	struct waitq		 q;
	struct pending		*pending;	/* requests for the hub to settle */
	int			 npending;
	int			 wake[2];	/* a byte on wake[1] wakes the hub */
	char			 retry_after[48];	/* the 503s' header */
	struct counters		*ctr;		/* shared metrics (may be NULL); closed after the hub stops */
	atomic_int		 stopping;	/* set by main: the hub thread returns */

	/* Answered waiters whose connections the closer thread is to close. */
	pthread_mutex_t		 close_lock;	/* guards closing, close_stop */
	pthread_cond_t		 close_cond;	/* signalled when either changes */
	struct waitq_waiter	*closing;
	int			 close_stop;	/* set by main once the hub has stopped */

	/* The hub thread's alone. */
	struct db		 db;		/* queries */
	struct db		 ldb;		/* LISTEN sitepulse */
	struct side		 maintain;	/* the maintenance tick's call (side_start) */
	long long		 maintain_at;	/* next maintenance tick (util_now_ms) */
	struct side		 drain;		/* the staged backlog's drain() */
	long long		 drained_at;	/* last drain() sent by the hub (util_now_ms) */
	int			 listening;
	long long		 db_retry_at, db_backoff;
	long long		 listen_retry_at, listen_backoff;
	struct settled		 settled[SETTLED_MAX];	/* a ring; next the slot to reuse */
	int			 settled_next;
};

/* Ends a request: flushes the answer, closes the connection, frees r. */
static void
finish(FCGX_Request *r)
{
	FCGX_Finish_r(r);
	FCGX_Free(r, 1);	/* closes a connection the web server asked to keep */
	free(r);
}

/* Sends an error status with its JSON reason and ends the request. */
static void
answer_error(struct live *lv, FCGX_Request *r, int status, const char *why)
{
	counters_add(lv->ctr, C_LIVE_ANSWERS, 1);
	http_error(r, status, why, status == 503 ? lv->retry_after :
	    status == 405 ? "Allow: GET\r\n" : NULL);
	finish(r);
}

/* Next backoff after a failure: BACKOFF_MIN, doubling up to BACKOFF_MAX. */
static long long
backoff_next(long long cur)
{
	return cur == 0 ? BACKOFF_MIN : cur * 2 > BACKOFF_MAX ? BACKOFF_MAX : cur * 2;
}

/* ---------------------------------------------------------------- reading */

/*
 * Runs statement i; a connection found broken is reopened and the
 * statement tried once more, so the first read after a database restart
 * succeeds. Returns the result (the caller PQclears it) or NULL.
 */
static PGresult *
exec_retry(struct db *db, int i, int n, const char *const *params)
{
	PGresult	*res = db_exec(db, i, n, params);

	if (res == NULL && db->err == DB_DOWN)
		res = db_exec(db, i, n, params);
	return res;
}

static long long
num(const PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Fills the pages, minutes and clicks of st from their results (borrowed strings). */
static void
fill_state(struct live_state *st, PGresult *pages, PGresult *minutes, PGresult *clicks)
{
	struct live_click	*c;

	st->npages = PQntuples(pages) < LIVE_PAGES_MAX ? PQntuples(pages) : LIVE_PAGES_MAX;
	for (int i = 0; i < st->npages; i++) {
		st->pages[i].path = PQgetvalue(pages, i, 0);
		st->pages[i].active = num(pages, i, 1);
	}
	st->nminutes = PQntuples(minutes) < LIVE_MINUTES ? PQntuples(minutes) : LIVE_MINUTES;
	for (int i = 0; i < st->nminutes; i++) {
		st->minutes[i].minute = num(minutes, i, 0);
		st->minutes[i].pageviews = num(minutes, i, 1);
		st->minutes[i].visitors = num(minutes, i, 2);
	}
	st->nclicks = PQntuples(clicks) < LIVE_CLICKS_MAX ? PQntuples(clicks) : LIVE_CLICKS_MAX;
	for (int i = 0; i < st->nclicks; i++) {
		c = &st->clicks[i];
		c->path = PQgetvalue(clicks, i, 0);
		c->x = num(clicks, i, 1);
		c->y = num(clicks, i, 2);
		c->ms = num(clicks, i, 3);
		c->sel = PQgetisnull(clicks, i, 4) ? NULL : PQgetvalue(clicks, i, 4);
		c->rage = PQgetvalue(clicks, i, 5)[0] == 't';
		c->dead = PQgetvalue(clicks, i, 6)[0] == 't';
	}
}

/*
 * Reads the live state of site key with four statements on the query
 * connection. Returns READ_OK with *answer (the JSON answer, the caller
 * frees it) and version filled in, READ_NO_SITE, or READ_DOWN when the
 * database cannot answer.
 */
static enum read_rc
read_state(struct db *db, const char *key, char **answer, char *version)
{
	PGresult		*res[Q__MAX] = { NULL };
	struct live_state	 st;
	char			 id[24], minute[24], npages[8], nclicks[8], *body;
	const char		*p[2];
	enum read_rc		 rc = READ_DOWN;

	memset(&st, 0, sizeof(st));
	p[0] = key;
	if ((res[Q_HEAD] = exec_retry(db, Q_HEAD, 1, p)) == NULL)
		goto out_clear;
	if (PQntuples(res[Q_HEAD]) != 1) {
		rc = READ_NO_SITE;
		goto out_clear;
	}
	snprintf(id, sizeof(id), "%s", PQgetvalue(res[Q_HEAD], 0, 0));
	st.active = num(res[Q_HEAD], 0, 1);
	st.now_minute = num(res[Q_HEAD], 0, 2);
	snprintf(minute, sizeof(minute), "%lld", st.now_minute);
	snprintf(npages, sizeof(npages), "%d", LIVE_PAGES_MAX);
	snprintf(nclicks, sizeof(nclicks), "%d", LIVE_CLICKS_MAX);
	p[0] = id;
	p[1] = npages;
	if ((res[Q_PAGES] = db_exec(db, Q_PAGES, 2, p)) == NULL)
		goto out_clear;
	p[1] = minute;
	if ((res[Q_MINUTES] = db_exec(db, Q_MINUTES, 2, p)) == NULL)
		goto out_clear;
	p[1] = nclicks;
	if ((res[Q_CLICKS] = db_exec(db, Q_CLICKS, 2, p)) == NULL)
		goto out_clear;
	fill_state(&st, res[Q_PAGES], res[Q_MINUTES], res[Q_CLICKS]);
	body = live_body(&st);
	live_version(body, version);
	*answer = live_answer(version, body);
	free(body);
	rc = READ_OK;
out_clear:
	for (int i = 0; i < Q__MAX; i++)
		PQclear(res[i]);
	return rc;
}

/* ---------------------------------------------------------------- the hub */

/*
 * Counts one waiter leaving the waiter set, the pair of the +1 that
 * handle() counts as waitq_add() parks it. Every waiter leaves through
 * waitq_take() into answer_all() (answered, counted before the answer is
 * written so that its client cannot see it first) or through
 * waitq_remove() in drop_hung_up() (its client went away).
 */
static void
count_unparked(struct live *lv, int answered)
{
	counters_gauge_add(lv->ctr, C_LIVE_WAITERS, -1);
	if (answered)
		counters_add(lv->ctr, C_LIVE_ANSWERS, 1);
}

/*
 * The closer thread: closes the connections of answered waiters, which
 * libfcgi does by waiting for the web server to close its side. Done by
 * the hub, that took 30-100 ms after an answer to 1,000 dashboards, while
 * another site's change waited (docs/performance.md). Returns once main
 * has set close_stop and nothing is left to close.
 */
static void *
close_loop(void *arg)
{
	struct live		*lv = arg;
	struct waitq_waiter	*list, *next;

	pthread_mutex_lock(&lv->close_lock);
	for (;;) {
		while (lv->closing == NULL && !lv->close_stop)
			pthread_cond_wait(&lv->close_cond, &lv->close_lock);
		if (lv->closing == NULL)
			break;
		list = lv->closing;
		lv->closing = NULL;
		pthread_mutex_unlock(&lv->close_lock);
		for (; list != NULL; list = next) {
			next = list->next;
			finish(list->req);
			free(list);
		}
		pthread_mutex_lock(&lv->close_lock);
	}
	pthread_mutex_unlock(&lv->close_lock);
	return NULL;
}

/*
 * Answers each waiter of list with status (and json for 200) and hands
 * the list to the closer thread. Every answer is written out to the end
 * here (closing its streams sends FCGI_END_REQUEST), so a dashboard has it
 * at once; the connections are closed by the closer, whose wait for the
 * web server to close each one would otherwise hold up the hub.
 */
static void
answer_all(struct live *lv, struct waitq_waiter *list, int status, const char *json)
{
	struct waitq_waiter	*w, *last = NULL;
	FCGX_Request		*r;

	for (w = list; w != NULL; w = w->next) {
		last = w;
		r = w->req;
		count_unparked(lv, 1);
		if (status == 200) {
			http_status(r, 200, "Content-Type: application/json\r\n"
			    "Cache-Control: no-store\r\n");
			FCGX_PutStr(json, (int)strlen(json), r->out);
			FCGX_PutChar('\n', r->out);
		} else
			http_error(r, status, status == 404 ? "unknown site" : "database unavailable",
			    status == 503 ? lv->retry_after : NULL);
		FCGX_FClose(r->err);
		FCGX_FClose(r->out);
	}
	if (last == NULL)
		return;
	pthread_mutex_lock(&lv->close_lock);
	last->next = lv->closing;
	lv->closing = list;
	pthread_cond_signal(&lv->close_cond);
	pthread_mutex_unlock(&lv->close_lock);
}

/*
 * Reads one site (marked with waitq_read_begin) and answers the waiters
 * that the result settles: on a new state those holding another version,
 * 404 to all of them for an unknown site; when the database is down,
 * those that cannot wait get the last state read (503 if there is none),
 * and the others keep waiting for it to return.
 */
static void
hub_read(struct live *lv, struct waitq_site *s)
{
	struct waitq_waiter	*taken, *stale = NULL;
	enum read_rc		 rc = READ_DOWN;
	char			 version[LIVE_VERSION_LEN + 1], *answer = NULL, *copy = NULL;
	long long		 now = util_now_ms();
	int			 status;

	if (now >= lv->db_retry_at)
		rc = read_state(&lv->db, s->key, &answer, version);
	now = util_now_ms();
	if (rc == READ_DOWN && now >= lv->db_retry_at) {
		lv->db_backoff = backoff_next(lv->db_backoff);
		lv->db_retry_at = now + lv->db_backoff;
	} else if (rc != READ_DOWN)
		lv->db_backoff = lv->db_retry_at = 0;
	pthread_mutex_lock(&lv->lock);
	if (rc == READ_OK) {
		waitq_read_done(s, version, answer, now);
		taken = waitq_take(&lv->q, s, now, 0);
		copy = taken ? xstrdup(s->answer) : NULL;
		status = 200;
	} else if (rc == READ_NO_SITE) {
		waitq_read_gone(s);
		taken = waitq_take(&lv->q, s, now, 1);
		status = 404;
	} else {
		/*
		 * The database is down. Waiters that hold the last state read
		 * and cannot wait longer get it again: still true as far as
		 * anyone can tell, and their next poll waits for the database
		 * instead of showing an outage for a restart. New requests,
		 * which need the current state, get 503.
		 */
		waitq_read_failed(s, lv->db_retry_at);
		taken = waitq_take(&lv->q, s, now, 0);
		stale = waitq_take_current(&taken, s);
		copy = stale ? xstrdup(s->answer) : NULL;
		status = 503;
	}
	pthread_mutex_unlock(&lv->lock);
	if (stale != NULL)
		answer_all(lv, stale, 200, copy);
	answer_all(lv, taken, status, status == 200 ? copy : NULL);
	free(copy);
}

/* ------------------------------------------------------ side calls */

/* Ends a side call: closes its connection until the next call. */
static void
side_end(struct side *c)
{
	db_close(&c->db);
	c->until = 0;
}

/*
 * Sends a side call's statement; side_read takes the answer. Opening the
 * connection blocks for as long as connecting does, bounded by its
 * connect timeout. Returns whether the call was sent.
 */
static int
side_start(struct side *c, long long now)
{
	if (!db_ready(&c->db))
		return 0;		/* logged by db_ready; tried again next tick */
	if (!PQsendQuery(c->db.conn, c->sql)) {
		fprintf(stderr, "sp-live: %s: %s", c->what, PQerrorMessage(c->db.conn));
		side_end(c);
		return 0;
	}
	c->until = now + (c->db.statement_timeout + (long long)c->db.timeout) * 1000;
	return 1;
}

/*
 * Reads what a side call's connection received, without blocking, and
 * ends the call once every result is in, or once its deadline has passed.
 * A failure is logged (the next tick tries again); the answers are not
 * (maintenance_runs records a maintenance run, and a drain's count of
 * rows moved is seen in the backlog's metrics).
 */
static void
side_read(struct side *c, long long now)
{
	PGresult	*res;

	if (c->until == 0)
		return;
	if (!PQconsumeInput(c->db.conn)) {
		fprintf(stderr, "sp-live: %s: %s", c->what, PQerrorMessage(c->db.conn));
		side_end(c);
		return;
	}
	while (!PQisBusy(c->db.conn)) {
		if ((res = PQgetResult(c->db.conn)) == NULL) {
			side_end(c);
			return;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
			fprintf(stderr, "sp-live: %s failed: %s", c->what, PQresultErrorMessage(res));
		PQclear(res);
	}
	if (now >= c->until) {
		fprintf(stderr, "sp-live: %s gave no answer in time; dropping its connection\n", c->what);
		side_end(c);
	}
}

/* Reads a side call whose socket poll() marked, or whose deadline passed. */
static void
side_poll(struct side *c, const struct pollfd *fd)
{
	if ((fd->fd >= 0 && fd->revents != 0) || (c->until != 0 && util_now_ms() >= c->until))
		side_read(c, util_now_ms());
}

/*
 * Whether staged batches wait in events_pending: one look at the table
 * (in direct mode it stays empty), so that the drain's connection is
 * opened only when there is something to drain. A failure says no; the
 * next tick asks again.
 */
static int
staged_pending(struct live *lv)
{
	PGresult	*res = db_exec(&lv->db, Q_PENDING, 0, NULL);
	int		 yes = res != NULL && PQgetvalue(res, 0, 0)[0] == 't';

	PQclear(res);
	return yes;
}

/*
 * Does what is due (waitq_action): reads every site due for a read, and
 * answers waiters past their deadline from a recent state without reading.
 */
static void
hub_work(struct live *lv)
{
	struct waitq_site	*s, **due = NULL;
	struct waitq_waiter	*taken;
	long long		 now = util_now_ms();
	char			*copy;
	int			 n = 0, cap = 0;

	pthread_mutex_lock(&lv->lock);
	for (s = lv->q.sites; s != NULL; s = s->next) {
		switch (waitq_action(s, now)) {
		case WAITQ_WAIT:
			break;
		case WAITQ_READ:
			if (n == cap)
				due = xrealloc(due, (cap = cap ? cap * 2 : 8) * sizeof(*due));
			waitq_read_begin(s);
			due[n++] = s;
			break;
		case WAITQ_EXPIRE:
			taken = waitq_take(&lv->q, s, now, 0);
			copy = xstrdup(s->answer);
			pthread_mutex_unlock(&lv->lock);
			answer_all(lv, taken, 200, copy);
			free(copy);
			pthread_mutex_lock(&lv->lock);
			break;
		}
	}
	waitq_gc(&lv->q, now);
	pthread_mutex_unlock(&lv->lock);
	/*
	 * Staged ingest: sp-collect's drainer thread drains until nothing is
	 * left, but a process stopped meanwhile (or one that never gets the
	 * lock drain() takes) can leave batches pending. While anyone
	 * watches, this drains them within a tick, on a connection opened
	 * for the call: the reads below do not wait for it.
	 */
	if (n > 0 && now - lv->drained_at >= DRAIN_EVERY && lv->drain.until == 0 &&
	    now >= lv->db_retry_at) {
		lv->drained_at = now;
		if (staged_pending(lv))
			side_start(&lv->drain, now);
	}
	/* Sites are freed only by waitq_gc, on this thread: the pointers hold. */
	for (int i = 0; i < n; i++)
		hub_read(lv, due[i]);
	free(due);
}

/*
 * Settles one request's site: a share link's from its token (404 a token
 * that opens no site, 403 a site= naming another site), a signed-in
 * user's by their role on it (404 no role, or no such site: the same
 * answer). Fills t->key, or t->status and t->why; 503 when the database
 * cannot say.
 */
static void
settle(struct live *lv, const struct pending *p, struct settled *t)
{
	const char	*lr_share[1] = { p->lr.share };
	const char	*role[2] = { p->user, p->lr.site };
	PGresult	*res;

	snprintf(t->user, sizeof(t->user), "%s", p->user);
	snprintf(t->site, sizeof(t->site), "%s", p->lr.site);
	snprintf(t->share, sizeof(t->share), "%s", p->lr.share);
	t->status = 0;
	res = util_now_ms() < lv->db_retry_at ? NULL : p->user[0] != '\0' ?
	    exec_retry(&lv->db, Q_ROLE, 2, role) : exec_retry(&lv->db, Q_SHARE, 1, lr_share);
	if (res == NULL)
		t->status = 503, t->why = "database unavailable";
	else if (p->user[0] != '\0' && (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)))
		t->status = 404, t->why = "unknown site";
	else if (p->user[0] != '\0')
		snprintf(t->key, sizeof(t->key), "%s", p->lr.site);
	else if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		t->status = 404, t->why = "unknown share link";
	else if (p->lr.site[0] != '\0' && strcmp(p->lr.site, PQgetvalue(res, 0, 0)) != 0)
		t->status = 403, t->why = "site: not this share link's site";
	else
		snprintf(t->key, sizeof(t->key), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
}

/* Whether request p asks what t settled: the same token, or the same user, and the same site=. */
static int
same_ask(const struct settled *t, const struct pending *p)
{
	return strcmp(t->user, p->user) == 0 && strcmp(t->site, p->lr.site) == 0 &&
	    (p->user[0] != '\0' || strcmp(t->share, p->lr.share) == 0);
}

/*
 * What the hub settled for p within SETTLED_MS, or a fresh answer (kept
 * unless the database could not say).
 */
static const struct settled *
settled_for(struct live *lv, const struct pending *p, long long now)
{
	struct settled	*t;

	/* Only while listening: otherwise a change would go unheard. */
	for (int i = 0; lv->listening && i < SETTLED_MAX; i++)
		if (lv->settled[i].expires > now && same_ask(&lv->settled[i], p))
			return &lv->settled[i];
	t = &lv->settled[lv->settled_next];
	settle(lv, p, t);
	t->expires = t->status == 503 ? 0 : now + SETTLED_MS;
	if (t->expires != 0)
		lv->settled_next = (lv->settled_next + 1) % SETTLED_MAX;
	return t;
}

/*
 * Parks each request that handle() left for the hub in the waitq under
 * its site, or answers it: as settle() says (at most one indexed lookup
 * per token, or per user and site, every SETTLED_MS), or 503 when the
 * waitq is full.
 */
static void
hub_pending(struct live *lv)
{
	struct pending		*list, *p, *next;
	struct waitq_waiter	*w;
	const struct settled	*t;

	pthread_mutex_lock(&lv->lock);
	list = lv->pending;
	lv->pending = NULL;
	pthread_mutex_unlock(&lv->lock);
	for (p = list; p != NULL; p = next) {
		next = p->next;
		t = settled_for(lv, p, util_now_ms());
		pthread_mutex_lock(&lv->lock);
		lv->npending--;
		w = NULL;
		if (t->status == 0 && (w = waitq_add(&lv->q, t->key, p->lr.since, p->req,
		    p->deadline, util_now_ms())) != NULL)
			counters_gauge_add(lv->ctr, C_LIVE_WAITERS, 1);
		pthread_mutex_unlock(&lv->lock);
		if (t->status == 0 && w == NULL)
			answer_error(lv, p->req, 503, "too many waiting requests");
		else if (t->status != 0)
			answer_error(lv, p->req, t->status, t->why);
		free(p);
	}
}

/*
 * The LISTEN connection was lost: the server may have restarted, so the
 * query connection is dropped too (its next use reconnects instead of
 * failing once), and the listener reconnects with backoff.
 */
static void
listen_lost(struct live *lv, long long now)
{
	fprintf(stderr, "sp-live: LISTEN connection lost; reconnecting\n");
	db_close(&lv->ldb);
	db_close(&lv->db);
	lv->listening = 0;
	lv->listen_retry_at = now + BACKOFF_MIN;
	memset(lv->settled, 0, sizeof(lv->settled));
}

/*
 * Opens the LISTEN connection when there is none and its backoff has
 * passed. Once listening again, every site with waiters is read at once
 * and every other site's state is forgotten: NOTIFYs sent while nobody
 * listened are lost, so nothing is assumed current.
 */
static void
listen_ensure(struct live *lv, long long now)
{
	PGresult		*res;
	int			 ok;

	if (lv->listening || now < lv->listen_retry_at)
		return;
	ok = db_ready(&lv->ldb);
	if (ok) {
		res = PQexec(lv->ldb.conn, "LISTEN sitepulse");
		ok = PQresultStatus(res) == PGRES_COMMAND_OK;
		PQclear(res);
	}
	if (!ok) {
		db_close(&lv->ldb);
		lv->listen_backoff = backoff_next(lv->listen_backoff);
		lv->listen_retry_at = now + lv->listen_backoff;
		return;
	}
	lv->listening = 1;
	lv->listen_backoff = 0;
	pthread_mutex_lock(&lv->lock);
	waitq_relisten(&lv->q, now);
	pthread_mutex_unlock(&lv->lock);
}

/* Reads what the LISTEN connection received and records each NOTIFY. */
static void
listen_drain(struct live *lv)
{
	PGnotify	*n;
	long long	 now = util_now_ms();

	if (!PQconsumeInput(lv->ldb.conn)) {
		listen_lost(lv, now);
		return;
	}
	pthread_mutex_lock(&lv->lock);
	while ((n = PQnotifies(lv->ldb.conn)) != NULL) {
		if (valid_site_key(n->extra))
			waitq_notify(&lv->q, n->extra, now);
		else if (strcmp(n->extra, ACCESS_CHANGED) == 0)
			memset(lv->settled, 0, sizeof(lv->settled));
		PQfreemem(n);
	}
	pthread_mutex_unlock(&lv->lock);
	if (PQstatus(lv->ldb.conn) != CONNECTION_OK)
		listen_lost(lv, now);
}

/*
 * The descriptors the hub waits on: the wake-up pipe, the LISTEN socket
 * (or -1), the maintenance and drain calls' sockets (or -1) and every parked
 * request's connection, where POLLRDHUP tells that the web server gave up
 * on it. ws[i] is the waiter of fds[i + POLL_FIXED]. Returns the number
 * of descriptors; *fds and *ws grow as needed.
 */
static int
poll_set(struct live *lv, struct pollfd **fds, struct waitq_waiter ***ws, int *cap)
{
	struct waitq_site	*s;
	struct waitq_waiter	*w;
	int			 n = POLL_FIXED;

	pthread_mutex_lock(&lv->lock);
	if (*cap < lv->q.nwaiters + POLL_FIXED) {
		*cap = lv->q.nwaiters + 64;
		*fds = xrealloc(*fds, *cap * sizeof(**fds));
		*ws = xrealloc(*ws, *cap * sizeof(**ws));
	}
	(*fds)[0] = (struct pollfd){ .fd = lv->wake[0], .events = POLLIN };
	(*fds)[1] = (struct pollfd){ .fd = lv->listening ? PQsocket(lv->ldb.conn) : -1,
	    .events = POLLIN };
	(*fds)[2] = (struct pollfd){ .fd = lv->maintain.until ? PQsocket(lv->maintain.db.conn) : -1,
	    .events = POLLIN };
	(*fds)[3] = (struct pollfd){ .fd = lv->drain.until ? PQsocket(lv->drain.db.conn) : -1,
	    .events = POLLIN };
	for (s = lv->q.sites; s != NULL; s = s->next)
		for (w = s->waiters; w != NULL; w = w->next) {
			(*ws)[n - POLL_FIXED] = w;
			(*fds)[n++] = (struct pollfd){
				.fd = ((FCGX_Request *)w->req)->ipcFd, .events = POLLRDHUP };
		}
	pthread_mutex_unlock(&lv->lock);
	return n;
}

/* Ends the parked requests whose web server connection has closed. */
static void
drop_hung_up(struct live *lv, struct pollfd *fds, struct waitq_waiter **ws, int n)
{
	for (int i = POLL_FIXED; i < n; i++) {
		if (!(fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
			continue;
		pthread_mutex_lock(&lv->lock);
		waitq_remove(&lv->q, ws[i - POLL_FIXED]);
		pthread_mutex_unlock(&lv->lock);
		count_unparked(lv, 0);
		finish(ws[i - POLL_FIXED]->req);
		free(ws[i - POLL_FIXED]);
	}
}

/* ------------------------------------------------------ maintenance tick */

/*
 * Starts a maintenance call when the tick is due, none is running and
 * the database is not known to be down (the hub's reads are backing off).
 */
static void
maintain_start(struct live *lv, long long now)
{
	if (lv->cfg.maintain_every == 0 || lv->maintain.until != 0 ||
	    now < lv->maintain_at || now < lv->db_retry_at)
		return;
	lv->maintain_at = now + lv->cfg.maintain_every * 1000LL;
	side_start(&lv->maintain, now);
}

/* How long the hub may sleep: until the next due time, at most a second. */
static int
poll_timeout(struct live *lv, long long now)
{
	long long	 next;

	pthread_mutex_lock(&lv->lock);
	next = waitq_next(&lv->q);
	pthread_mutex_unlock(&lv->lock);
	if (!lv->listening && lv->listen_retry_at < next)
		next = lv->listen_retry_at;
	if (next <= now)
		return 0;
	return next - now > 1000 ? 1000 : (int)(next - now);
}

/* The hub thread: LISTEN, read, answer, until main sets stopping. */
static void *
hub_loop(void *arg)
{
	struct live		*lv = arg;
	struct pollfd		*fds = NULL;
	struct waitq_waiter	**ws = NULL;
	char			 buf[256];
	int			 n, cap = 0;

	while (!atomic_load(&lv->stopping)) {
		listen_ensure(lv, util_now_ms());
		hub_pending(lv);
		hub_work(lv);
		maintain_start(lv, util_now_ms());
		n = poll_set(lv, &fds, &ws, &cap);
		if (poll(fds, n, poll_timeout(lv, util_now_ms())) < 0) {
			if (errno != EINTR)
				fprintf(stderr, "sp-live: poll: %s\n", strerror(errno));
			continue;
		}
		if (fds[0].revents & POLLIN)
			while (read(lv->wake[0], buf, sizeof(buf)) > 0)
				;
		if (lv->listening && fds[1].revents != 0)
			listen_drain(lv);
		side_poll(&lv->maintain, &fds[2]);
		side_poll(&lv->drain, &fds[3]);
		drop_hung_up(lv, fds, ws, n);
	}
	free(fds);
	free(ws);
	return NULL;
}

/* ------------------------------------------------------ the accept side */

/* Wakes the hub: a request was parked. */
static void
wake_hub(struct live *lv)
{
	if (write(lv->wake[1], "", 1) < 0 && errno != EAGAIN)
		fprintf(stderr, "sp-live: wake: %s\n", strerror(errno));
}

/*
 * Leaves a checked request for the hub, which settles its site
 * (hub_pending), or answers 503 when as many requests wait as the cap
 * allows. user is REMOTE_USER on the protected route, NULL on a share
 * route.
 */
static void
park(struct live *lv, FCGX_Request *r, const struct live_req *lr, const char *user,
    long long deadline)
{
	struct pending	*p;
	int		 full;

	pthread_mutex_lock(&lv->lock);
	if (!(full = lv->q.nwaiters + lv->npending >= lv->q.max)) {
		p = xcalloc(1, sizeof(*p));
		p->req = r;
		p->lr = *lr;
		snprintf(p->user, sizeof(p->user), "%s", user != NULL ? user : "");
		p->deadline = deadline;
		p->next = lv->pending;
		lv->pending = p;
		lv->npending++;
	}
	pthread_mutex_unlock(&lv->lock);
	if (full)
		answer_error(lv, r, 503, "too many waiting requests");
	else
		wake_hub(lv);
}

/*
 * Checks one request and parks it for the hub, or answers it here: 401
 * (a protected route the web server did not authenticate) or 403 (a route
 * class not served here, access.h), 404 (another path), 405 (not GET),
 * 400 (bad query) or 503 (as many waiters as SITEPULSE_LIVE_MAX_WAITERS).
 * Either way r is no longer the caller's. Unknown sites, sites the user
 * holds no role on and unknown share tokens (404) and the database being
 * down (503) are found by the hub, which answers 200 when the state is
 * read.
 */
static void
handle(struct live *lv, FCGX_Request *r)
{
	struct live_req		 req;
	struct access		 acc;
	const char		*why;
	char			 path[1024];
	long long		 now = util_now_ms();

	if (!http_access(r, ACCESS_PROTECTED | ACCESS_SHARE, &acc)) {
		counters_add(lv->ctr, C_LIVE_ANSWERS, 1);
		finish(r);
		return;
	}
	if (!http_ends_with(http_path(r, path, sizeof(path)), "/live")) {
		answer_error(lv, r, 404, "not found");
		return;
	}
	if (!http_method_is(r, "GET")) {
		answer_error(lv, r, 405, "method not allowed");
		return;
	}
	if (!live_parse(http_param(r, "QUERY_STRING"), acc.route == ACCESS_SHARE, &req, &why)) {
		answer_error(lv, r, 400, why);
		return;
	}
	if (acc.route == ACCESS_PROTECTED && strlen(acc.user) > USER_MAX) {
		answer_error(lv, r, 404, "unknown site");
		return;
	}
	park(lv, r, &req, acc.route == ACCESS_PROTECTED ? acc.user : NULL,
	    now + lv->cfg.live_wait_ms);
}

/* An accept thread: takes requests and hands them over, until accept fails. */
static void *
accept_loop(void *arg)
{
	struct live	*lv = arg;
	FCGX_Request	*r;
	int		 rc;

	for (;;) {
		r = xmalloc(sizeof(*r));
		FCGX_InitRequest(r, 0, 0);
		pthread_mutex_lock(&lv->accept_lock);
		rc = FCGX_Accept_r(r);
		pthread_mutex_unlock(&lv->accept_lock);
		if (rc < 0) {
			free(r);
			if (rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS || rc == -ENOMEM) {
				/* Out of descriptors for now: answers will free some. */
				usleep(50000);
				continue;
			}
			fprintf(stderr, "sp-live: accept failed (%d); exiting\n", rc);
			break;
		}
		handle(lv, r);
	}
	return NULL;
}

/*
 * Raises the soft limit on open files to the hard one: each waiter holds a
 * connection, and the usual soft limit of 1024 is below the default cap.
 */
static void
raise_nofile(const struct sp_config *cfg)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)cfg->live_max_waiters + 64)
		fprintf(stderr, "sp-live: open files limited to %llu, below"
		    " SITEPULSE_LIVE_MAX_WAITERS=%d plus a margin\n",
		    (unsigned long long)rl.rlim_cur, cfg->live_max_waiters);
}

/* Sets up the process context; returns 1, or 0 when it cannot run. */
static int
live_init(struct live *lv)
{
	if (!config_load(&lv->cfg))
		return 0;
	raise_nofile(&lv->cfg);
	if (FCGX_Init() != 0) {
		fprintf(stderr, "sp-live: FCGX_Init failed\n");
		return 0;
	}
	/*
	 * libfcgi turns SIGTERM into a flag checked between requests; with
	 * requests parked for seconds, the web server's TERM must end the
	 * process now. A client gone away must not kill it with SIGPIPE.
	 */
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(lv->wake, O_NONBLOCK | O_CLOEXEC) != 0) {
		fprintf(stderr, "sp-live: pipe: %s\n", strerror(errno));
		return 0;
	}
	pthread_mutex_init(&lv->accept_lock, NULL);
	pthread_mutex_init(&lv->lock, NULL);
	pthread_mutex_init(&lv->close_lock, NULL);
	pthread_cond_init(&lv->close_cond, NULL);
	waitq_init(&lv->q, lv->cfg.live_max_waiters);
	snprintf(lv->retry_after, sizeof(lv->retry_after), "Retry-After: %d\r\n",
	    lv->cfg.retry_after);
	db_init(&lv->db, "sp-live", sql, Q__MAX, &lv->cfg);
	db_init(&lv->ldb, "sp-live-listen", NULL, 0, &lv->cfg);
	db_init(&lv->maintain.db, "sp-live-maintain", NULL, 0, &lv->cfg);
	lv->maintain.db.statement_timeout = MAINTAIN_STATEMENT_TIMEOUT;
	lv->maintain.what = "maintenance";
	lv->maintain.sql = MAINTAIN_SQL;
	db_init(&lv->drain.db, "sp-live-drain", NULL, 0, &lv->cfg);
	lv->drain.what = "drain";
	lv->drain.sql = DRAIN_SQL;
	/* The first tick comes a little after start, not with a burst of starts. */
	lv->maintain_at = util_now_ms() + 10000;
	lv->ctr = counters_open(NULL, "sp-live");
	lv->db.counters = lv->ctr;
	lv->ldb.counters = lv->ctr;
	lv->maintain.db.counters = lv->ctr;
	lv->drain.db.counters = lv->ctr;
	return 1;
}

int
main(void)
{
	static struct live	 lv;
	pthread_t		 hub, closer, acceptors[LIVE_ACCEPTORS];

	if (!live_init(&lv))
		return 1;
	if (pthread_create(&closer, NULL, close_loop, &lv) != 0 ||
	    pthread_create(&hub, NULL, hub_loop, &lv) != 0)
		return 1;
	for (int i = 0; i < LIVE_ACCEPTORS; i++)
		if (pthread_create(&acceptors[i], NULL, accept_loop, &lv) != 0)
			return 1;
	for (int i = 0; i < LIVE_ACCEPTORS; i++)
		pthread_join(acceptors[i], NULL);
	/*
	 * The listening socket is gone: the web server is done with us. The
	 * hub still counts (answers, database errors), so it is stopped
	 * before the counters are unmapped; waiters left parked are closed
	 * by the exit.
	 */
	atomic_store(&lv.stopping, 1);
	if (write(lv.wake[1], "", 1) < 0 && errno != EAGAIN)
		fprintf(stderr, "sp-live: wake: %s\n", strerror(errno));
	pthread_join(hub, NULL);
	pthread_mutex_lock(&lv.close_lock);
	lv.close_stop = 1;
	pthread_cond_signal(&lv.close_cond);
	pthread_mutex_unlock(&lv.close_lock);
	pthread_join(closer, NULL);
	counters_close(lv.ctr);
	return 0;
}
