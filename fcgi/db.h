/*
 * db: one lazily opened libpq connection per process (or per thread) and
 * the program's SQL, prepared on first use. Each program keeps its
 * statements in one enum-indexed table (kcgi-framework's db.c) and passes
 * it to db_init. A failed connection is dropped and opened again on the
 * next call, so a database restart needs no process restart.
 *
 * A remote database may vanish without a word (a network partition, a
 * hung proxy). Every connection therefore has TCP keepalives and a TCP
 * user timeout (SITEPULSE_DB_TIMEOUT) and a connect timeout, and every
 * statement an answer deadline of statement_timeout plus
 * SITEPULSE_DB_TIMEOUT on the client's side: past it the connection is
 * dropped and the call fails as DB_DOWN instead of waiting for the
 * kernel's retransmissions to give up (about 15 minutes).
 */
#ifndef SP_DB_H
#define SP_DB_H

#include <libpq-fe.h>

struct counters;
struct sp_config;

enum db_err {
	DB_OK,
	DB_DOWN,	/* no connection: answer 503 and let the client retry */
	DB_FAIL,	/* the statement failed on a working connection */
	DB_REFUSED	/* the statement refused its input: SQLSTATE SPnnn (db->refusal) */
};

/*
 * A refusal: a SQL function raised SQLSTATE 'SPnnn' (sql/022_users_roles.sql)
 * to say the request is at fault, nnn being the HTTP status to answer
 * (400, 403, 404, 409) and the message a short reason for the client. Not
 * a database error: neither logged nor counted as one.
 */
struct db_refusal {
	int	 status;
	char	 reason[200];
};

struct db {
	PGconn			*conn;
	const char		*app;		/* application_name */
	const char *const	*sql;		/* the program's statements */
	int			 nsql;
	unsigned long long	 prepared;	/* bit i: sql[i] prepared on conn */
	unsigned long long	 binary;	/* bit i: sql[i]'s results come in binary (set by the program) */
	int			 durable;
	int			 timeout;	/* SITEPULSE_DB_TIMEOUT, s */
	int			 statement_timeout;	/* s; a program may raise it after db_init */
	const char		*conninfo;
	enum db_err		 err;		/* of the last call */
	struct db_refusal	 refusal;	/* of the last call, when err is DB_REFUSED */
	unsigned long		 connects, failures;
	struct counters		*counters;	/* set by the program: db errors and reconnects */
};

/* The connection parameters db_ready hands libpq, in order (db_params). */
#define DB_PARAMS_MAX	 10
struct db_params {
	const char	*keys[DB_PARAMS_MAX + 1];	/* NULL-terminated */
	const char	*vals[DB_PARAMS_MAX + 1];
	char		 num[5][16];			/* the numbers' text */
};

void		 db_init(struct db *, const char *, const char *const *, int, const struct sp_config *);
int		 db_ready(struct db *);
PGresult	*db_exec(struct db *, int, int, const char *const *);
int		 db_send(struct db *, int, int, const char *const *);
PGresult	*db_finish(struct db *, int);
void		 db_close(struct db *);
void		 db_params(const struct db *, struct db_params *);
PGresult	*db_await(struct db *, long long);
int		 db_refusal_of(const char *, const char *, struct db_refusal *);

#endif
