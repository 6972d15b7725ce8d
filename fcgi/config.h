/*
 * config: settings read once from the environment the web server gives
 * the program (libpq reads its own PG* variables). Every field has a
 * default that works for `make run`.
 */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

struct sp_config {
	int		 durable;		/* SITEPULSE_DURABILITY=durable|fast */
	int		 trust_proxy;		/* SITEPULSE_TRUST_PROXY=1: client IP from X-Forwarded-For */
	int		 live_wait_ms;		/* SITEPULSE_LIVE_WAIT, seconds (default 25) */
	int		 live_max_waiters;	/* SITEPULSE_LIVE_MAX_WAITERS (default 1000) */
	int		 retry_after;		/* SITEPULSE_RETRY_AFTER, seconds for 503s (default 5) */
	int		 rate_visitor;	/* SITEPULSE_RATE_VISITOR, events a minute (0 = off) */
	int		 rate_site;		/* SITEPULSE_RATE_SITE, events a minute per site (0 = off) */
	int		 collect_threads;	/* SITEPULSE_COLLECT_THREADS, sp-collect's request threads (default 32) */
	int		 collect_connections;	/* SITEPULSE_COLLECT_CONNECTIONS, its groups in flight at once (default 2) */
	int		 collect_idle;		/* SITEPULSE_COLLECT_IDLE, s a connection past the first may stay unused (60) */
	int		 db_timeout;		/* SITEPULSE_DB_TIMEOUT, seconds a dead database link may hold a call (default 10) */
	int		 statement_timeout;	/* SITEPULSE_STATEMENT_TIMEOUT, seconds (default 30) */
	int		 maintain_every;	/* SITEPULSE_MAINTAIN_EVERY, seconds between sp-live's maintenance ticks (0 = off) */
	char		 rate_file[256];	/* SITEPULSE_RATE_FILE, the shared counting table */
	const char	*uap_regexes;		/* SITEPULSE_UAP_REGEXES (uap-core's regexes.yaml) */
	const char	*geoip_db;		/* SITEPULSE_GEOIP_DB, a MaxMind DB of countries; "" = none */
	const char	*db_conninfo;		/* SITEPULSE_DB: libpq conninfo or URL; "" = PG* variables */
};

int	 config_load(struct sp_config *);
int	 config_int(const char *, int, int, int);

#endif
