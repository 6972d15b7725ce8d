#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "config.h"
#include "counters.h"
#include "db.h"
#include "util.h"

#define KEEPALIVE_COUNT	 3	/* unanswered probes before the kernel gives up */
#define CONNECT_TIMEOUT	 5	/* s, at most, to open a connection */

/*
 * Prepares db for the statements sql[0..nsql-1] (at most 64) of the
 * program app. Opens nothing: the first db_exec connects.
 */
void
db_init(struct db *db, const char *app, const char *const *sql, int nsql,
    const struct sp_config *cfg)
{
	memset(db, 0, sizeof(*db));
	db->app = app;
	db->sql = sql;
	db->nsql = nsql;
	db->durable = cfg->durable;
	db->timeout = cfg->db_timeout > 0 ? cfg->db_timeout : 10;
	db->statement_timeout = cfg->statement_timeout > 0 ? cfg->statement_timeout : 30;
	db->conninfo = cfg->db_conninfo;
}

/* Appends key=value to p. */
static void
param(struct db_params *p, int *n, const char *key, const char *val)
{
	p->keys[*n] = key;
	p->vals[*n] = val;
	(*n)++;
}

/* Appends key=v (a number) to p, its text kept in p->num[slot]. */
static void
param_num(struct db_params *p, int *n, int slot, const char *key, long v)
{
	snprintf(p->num[slot], sizeof(p->num[slot]), "%ld", v);
	param(p, n, key, p->num[slot]);
}

/*
 * Fills p with the parameters for PQconnectdbParams (expand_dbname 1).
 * libpq keeps the last value given for a key, and SITEPULSE_DB (the
 * dbname entry, expanded as a connection string or URL) comes after the
 * defaults chosen here, so whatever the operator wrote there wins; a key
 * given neither here nor there comes from the PG* variables or the
 * service file. The defaults: TCP keepalives that find a dead idle
 * connection within about SITEPULSE_DB_TIMEOUT, a TCP user timeout of as
 * long for data sent and never acknowledged, and a connect timeout
 * (unless PGCONNECT_TIMEOUT sets one). application_name comes last, so
 * each program is named in pg_stat_activity.
 */
void
db_params(const struct db *db, struct db_params *p)
{
	long	 t = db->timeout > 0 ? db->timeout : 10;
	int	 n = 0;

	memset(p, 0, sizeof(*p));
	if (getenv("PGCONNECT_TIMEOUT") == NULL)
		param_num(p, &n, 0, "connect_timeout", t < CONNECT_TIMEOUT ? t : CONNECT_TIMEOUT);
	param(p, &n, "keepalives", "1");
	param_num(p, &n, 1, "keepalives_idle", t / 2 > 0 ? t / 2 : 1);
	param_num(p, &n, 2, "keepalives_interval",
	    t / (2 * KEEPALIVE_COUNT) > 0 ? t / (2 * KEEPALIVE_COUNT) : 1);
	param_num(p, &n, 3, "keepalives_count", KEEPALIVE_COUNT);
	param_num(p, &n, 4, "tcp_user_timeout", t * 1000);
	param(p, &n, "dbname", db->conninfo != NULL ? db->conninfo : "");
	param(p, &n, "application_name", db->app);
	p->keys[n] = p->vals[n] = NULL;
}

/*
 * Waits for the answer to what was sent on db's connection, ms
 * milliseconds at most, flushing the rest of the query first, and returns
 * the last result (the caller PQclears it). Returns NULL when the
 * connection broke or the time ran out; then the connection is closed
 * (an answer that may still come belongs to no one) and db->err is
 * DB_DOWN, so the next call reconnects.
 */
PGresult *
db_await(struct db *db, long long ms)
{
	long long	 deadline = util_now_ms() + ms, left;
	struct pollfd	 pfd;
	PGresult	*res, *last = NULL;
	int		 flushing = 1, rc, late = 0;

	while (db->conn != NULL) {
		if (flushing && (rc = PQflush(db->conn)) <= 0) {
			flushing = 0;
			if (rc < 0)
				break;
		}
		if (!flushing && !PQisBusy(db->conn)) {
			if ((res = PQgetResult(db->conn)) == NULL)
				return last;
			PQclear(last);
			last = res;
			continue;
		}
		if ((left = deadline - util_now_ms()) <= 0) {
			fprintf(stderr, "%s: no answer from the database in %lld ms; dropping the connection\n",
			    db->app, ms);
			late = 1;
			break;
		}
		pfd = (struct pollfd){ .fd = PQsocket(db->conn),
		    .events = POLLIN | (flushing ? POLLOUT : 0) };
		rc = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(db->conn))
			break;
	}
	if (db->conn != NULL && !late)
		fprintf(stderr, "%s: database connection lost: %s", db->app, PQerrorMessage(db->conn));
	PQclear(last);
	db_close(db);
	db->err = DB_DOWN;
	return NULL;
}

/* Runs one setup command, its answer awaited SITEPULSE_DB_TIMEOUT at most; returns 1 if it succeeded. */
static int
setup(struct db *db, const char *cmd)
{
	PGresult	*res = NULL;
	int		 ok = 0;

	if (PQsendQuery(db->conn, cmd))
		res = db_await(db, db->timeout * 1000LL);
	if (db->conn == NULL)
		return 0;
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "%s: %s: %s", db->app, cmd, PQerrorMessage(db->conn));
	PQclear(res);
	return ok;
}

/*
 * Whether an idle connection is still open. Reads whatever the server sent
 * while it waits (after a restart: a FATAL message, then end of file)
 * without blocking, a few polls at most, so a hang-up is seen before a
 * statement is sent on it.
 */
static int
alive(PGconn *conn)
{
	struct pollfd	 pfd = { .fd = PQsocket(conn), .events = POLLIN };

	for (int i = 0; i < 4 && PQstatus(conn) == CONNECTION_OK; i++) {
		if (poll(&pfd, 1, 0) <= 0)
			return 1;		/* nothing waiting: open */
		if (!PQconsumeInput(conn))
			return 0;
	}
	return PQstatus(conn) == CONNECTION_OK;
}

/*
 * Makes sure db has a working connection, opening one when needed (libpq
 * takes host, port, user and database from SITEPULSE_DB or the PG*
 * variables; db_params adds the timeouts). Puts it in nonblocking mode,
 * so that db_await bounds sending as well as waiting (PQexec and friends
 * still block), and sets the search path, the statement timeout and,
 * when the operator chose SITEPULSE_DURABILITY=fast, asynchronous
 * commit. Returns 1 when ready.
 */
int
db_ready(struct db *db)
{
	struct db_params	 p;
	char			 st[64];

	/*
	 * An idle connection may have been closed by the server (a restart
	 * sends FATAL and hangs up). PQconsumeInput reads that without
	 * blocking, so the statement goes to a fresh connection instead of
	 * failing: no request is answered 503 for a database that is back.
	 */
	if (db->conn != NULL && alive(db->conn))
		return 1;
	db_close(db);
	db_params(db, &p);
	db->conn = PQconnectdbParams(p.keys, p.vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK || PQsetnonblocking(db->conn, 1) != 0) {
		fprintf(stderr, "%s: database connection failed: %s", db->app, PQerrorMessage(db->conn));
		counters_add(db->counters, C_DB_ERRORS, 1);
		db_close(db);
		return 0;
	}
	snprintf(st, sizeof(st), "SET statement_timeout = '%ds'", db->statement_timeout);
	if (!setup(db, "SET search_path = sitepulse, pg_catalog") ||
	    !setup(db, st) ||
	    (!db->durable && !setup(db, "SET synchronous_commit = off"))) {
		counters_add(db->counters, C_DB_ERRORS, 1);
		db_close(db);
		return 0;
	}
	if (db->connects++ > 0)
		counters_add(db->counters, C_DB_RECONNECTS, 1);
	return 1;
}

/* How long a statement's answer may take: statement_timeout plus SITEPULSE_DB_TIMEOUT, ms. */
static long long
answer_ms(const struct db *db)
{
	return (db->statement_timeout + (long long)db->timeout) * 1000;
}

/* Counts a failure for which db_await logged why and closed the connection; returns NULL. */
static PGresult *
went_down(struct db *db)
{
	db->failures++;
	counters_add(db->counters, C_DB_ERRORS, 1);
	db->err = DB_DOWN;
	return NULL;
}

/*
 * Judges statement i's failed result res (NULL when it could not be
 * sent), which it frees: a refusal (SQLSTATE SPnnn) is DB_REFUSED, not
 * an error; anything else is logged and counted, DB_FAIL on a connection
 * that still works, else DB_DOWN with the connection closed. Returns NULL.
 */
static PGresult *
failed(struct db *db, int i, PGresult *res)
{
	if (res != NULL && db_refusal_of(PQresultErrorField(res, PG_DIAG_SQLSTATE),
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), &db->refusal)) {
		PQclear(res);
		db->err = DB_REFUSED;
		return NULL;
	}
	PQclear(res);
	db->failures++;
	counters_add(db->counters, C_DB_ERRORS, 1);
	fprintf(stderr, "%s: statement %d failed: %s", db->app, i, PQerrorMessage(db->conn));
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_close(db);
		db->err = DB_DOWN;
	} else {
		db->err = DB_FAIL;
	}
	return NULL;
}

/*
 * Sends statement i of the program's table with n text parameters (NULL
 * for SQL NULL), preparing it on this connection first if needed, and
 * returns 1 without waiting for its answer, which db_finish(db, i)
 * collects: meanwhile the program may run a statement on another
 * connection, and the database works on both at once. Returns 0 with
 * db->err set when it could not be sent (as db_exec).
 */
int
db_send(struct db *db, int i, int n, const char *const *params)
{
	PGresult	*res;
	char		 name[16];

	db->err = DB_DOWN;
	if (!db_ready(db))
		return 0;
	snprintf(name, sizeof(name), "s%d", i);
	if (!(db->prepared & (1ULL << i))) {
		res = PQsendPrepare(db->conn, name, db->sql[i], 0, NULL) ? db_await(db, answer_ms(db)) : NULL;
		if (db->conn == NULL)
			return went_down(db), 0;
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return failed(db, i, res), 0;
		PQclear(res);
		db->prepared |= 1ULL << i;
	}
	if (!PQsendQueryPrepared(db->conn, name, n, params, NULL, NULL, (int)(db->binary >> i & 1)))
		return failed(db, i, NULL), 0;
	return 1;
}

/*
 * Waits for the answer to statement i, which db_send sent, and returns it
 * (the caller PQclears it), or NULL with db->err set, as db_exec.
 */
PGresult *
db_finish(struct db *db, int i)
{
	PGresult	*res = db_await(db, answer_ms(db));
	ExecStatusType	 st;

	if (db->conn == NULL)
		return went_down(db);
	st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		db->err = DB_OK;
		return res;
	}
	return failed(db, i, res);
}

/*
 * Runs statement i of the program's table with n text parameters (NULL
 * for SQL NULL), preparing it on this connection first if needed. Returns
 * the result (the caller PQclears it) or NULL with db->err set: DB_DOWN
 * when the connection is gone, or gave no answer within statement_timeout
 * plus SITEPULSE_DB_TIMEOUT (it is closed, and the next call reconnects),
 * DB_REFUSED when the statement refused its input (db->refusal), or
 * DB_FAIL when the statement failed. Errors go to stderr only.
 */
PGresult *
db_exec(struct db *db, int i, int n, const char *const *params)
{
	return db_send(db, i, n, params) ? db_finish(db, i) : NULL;
}

/*
 * Reads a refusal out of an error's SQLSTATE and primary message (either
 * may be NULL): "SP" and a 4xx status. Fills out and returns 1, or returns
 * 0 for any other error. The reason is cut to fit, never empty. Pure.
 */
int
db_refusal_of(const char *sqlstate, const char *message, struct db_refusal *out)
{
	if (sqlstate == NULL || strlen(sqlstate) != 5 || strncmp(sqlstate, "SP4", 3) != 0 ||
	    !isdigit((unsigned char)sqlstate[3]) || !isdigit((unsigned char)sqlstate[4]))
		return 0;
	out->status = atoi(sqlstate + 2);
	snprintf(out->reason, sizeof(out->reason), "%s",
	    message != NULL && *message != '\0' ? message : "refused");
	return 1;
}

/* Closes the connection, if any; the next db_exec opens a new one. */
void
db_close(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->prepared = 0;
}
