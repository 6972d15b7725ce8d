/*
 * db: one lazily opened libpq connection per process (or per thread) and
 * the program's SQL, prepared on first use. Each program keeps its
 * statements in one enum-indexed table (kcgi-framework's db.c) and passes
 * it to db_init. A failed connection is dropped and opened again on the
 * next call, so a database restart needs no process restart.
 */
#ifndef SP_DB_H
#define SP_DB_H

#include <libpq-fe.h>

struct counters;
struct sp_config;

enum db_err {
	DB_OK,
	DB_DOWN,	/* no connection: answer 503 and let the client retry */
	DB_FAIL		/* the statement failed on a working connection */
};

struct db {
	PGconn			*conn;
	const char		*app;		/* application_name */
	const char *const	*sql;		/* the program's statements */
	int			 nsql;
	unsigned long long	 prepared;	/* bit i: sql[i] prepared on conn */
	int			 durable;
	const char		*conninfo;
	enum db_err		 err;		/* of the last call */
	unsigned long		 connects, failures;
	struct counters		*counters;	/* set by the program: db errors and reconnects */
};

void		 db_init(struct db *, const char *, const char *const *, int, const struct sp_config *);
int		 db_ready(struct db *);
PGresult	*db_exec(struct db *, int, int, const char *const *);
void		 db_close(struct db *);

#endif
