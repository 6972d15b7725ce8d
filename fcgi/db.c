#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "config.h"
#include "counters.h"
#include "db.h"

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
	db->conninfo = cfg->db_conninfo;
}

/* Runs one setup command; returns 1 if it succeeded. */
static int
setup(PGconn *conn, const char *cmd)
{
	PGresult	*res = PQexec(conn, cmd);
	int		 ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "%s: %s: %s", "sitepulse", cmd, PQerrorMessage(conn));
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
 * variables). Sets the search path and, when the operator chose
 * SITEPULSE_DURABILITY=fast, asynchronous commit. Returns 1 when ready.
 */
int
db_ready(struct db *db)
{
	const char	*keys[] = { "dbname", "application_name", "connect_timeout", NULL };
	const char	*vals[] = { db->conninfo, db->app, "5", NULL };

	/*
	 * An idle connection may have been closed by the server (a restart
	 * sends FATAL and hangs up). PQconsumeInput reads that without
	 * blocking, so the statement goes to a fresh connection instead of
	 * failing: no request is answered 503 for a database that is back.
	 */
	if (db->conn != NULL && alive(db->conn))
		return 1;
	db_close(db);
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		fprintf(stderr, "%s: database connection failed: %s", db->app, PQerrorMessage(db->conn));
		counters_add(db->counters, C_DB_ERRORS, 1);
		db_close(db);
		return 0;
	}
	if (!setup(db->conn, "SET search_path = sitepulse, pg_catalog") ||
	    !setup(db->conn, "SET statement_timeout = '30s'") ||
	    (!db->durable && !setup(db->conn, "SET synchronous_commit = off"))) {
		db_close(db);
		return 0;
	}
	if (db->connects++ > 0)
		counters_add(db->counters, C_DB_RECONNECTS, 1);
	return 1;
}

/*
 * Runs statement i of the program's table with n text parameters (NULL
 * for SQL NULL), preparing it on this connection first if needed. Returns
 * the result (the caller PQclears it) or NULL with db->err set: DB_DOWN
 * when the connection is gone (it is closed, and the next call reconnects)
 * or DB_FAIL when the statement failed. Errors go to stderr only.
 */
PGresult *
db_exec(struct db *db, int i, int n, const char *const *params)
{
	PGresult	*res;
	char		 name[16];
	ExecStatusType	 st;

	db->err = DB_DOWN;
	if (!db_ready(db))
		return NULL;
	snprintf(name, sizeof(name), "s%d", i);
	if (!(db->prepared & (1ULL << i))) {
		res = PQprepare(db->conn, name, db->sql[i], 0, NULL);
		st = PQresultStatus(res);
		PQclear(res);
		if (st != PGRES_COMMAND_OK)
			goto fail;
		db->prepared |= 1ULL << i;
	}
	res = PQexecPrepared(db->conn, name, n, params, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		db->err = DB_OK;
		return res;
	}
	PQclear(res);
fail:
	db->failures++;
	counters_add(db->counters, C_DB_ERRORS, 1);
	fprintf(stderr, "%s: statement %d failed: %s", db->app, i, PQerrorMessage(db->conn));
	if (PQstatus(db->conn) != CONNECTION_OK)
		db_close(db);
	else
		db->err = DB_FAIL;
	return NULL;
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
