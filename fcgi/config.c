#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "valid.h"

/*
 * The integer in environment variable name, or def when it is unset. A set
 * but invalid value (not an integer in [min, max]) is reported on stderr and
 * replaced by def, so a typo in a web server config cannot stop ingest.
 */
int
config_int(const char *name, int def, int min, int max)
{
	const char	*s = getenv(name);
	long long	 v;

	if (s == NULL || *s == '\0')
		return def;
	if (!valid_int(s, min, max, &v)) {
		fprintf(stderr, "sitepulse: %s=%s is not an integer in [%d, %d]; using %d\n",
		    name, s, min, max, def);
		return def;
	}
	return (int)v;
}

static const char *
config_str(const char *name, const char *def)
{
	const char	*s = getenv(name);

	return s != NULL && *s != '\0' ? s : def;
}

/*
 * Fills in c from the environment. Returns 1, or 0 when a setting is so
 * wrong that the program should not start (an unknown durability, which
 * would otherwise silently change what a crash may lose).
 */
int
config_load(struct sp_config *c)
{
	const char	*d = config_str("SITEPULSE_DURABILITY", "durable"), *run;

	memset(c, 0, sizeof(*c));
	if (strcmp(d, "durable") == 0)
		c->durable = 1;
	else if (strcmp(d, "fast") != 0) {
		fprintf(stderr, "sitepulse: SITEPULSE_DURABILITY=%s: use durable or fast\n", d);
		return 0;
	}
	c->trust_proxy = config_int("SITEPULSE_TRUST_PROXY", 0, 0, 1);
	c->live_wait_ms = config_int("SITEPULSE_LIVE_WAIT", 25, 1, 300) * 1000;
	c->live_max_waiters = config_int("SITEPULSE_LIVE_MAX_WAITERS", 1000, 1, 100000);
	c->retry_after = config_int("SITEPULSE_RETRY_AFTER", 5, 1, 3600);
	c->rate_visitor = config_int("SITEPULSE_RATE_VISITOR", 1200, 0, 100000000);
	c->rate_site = config_int("SITEPULSE_RATE_SITE", 0, 0, 2000000000);
	c->collect_threads = config_int("SITEPULSE_COLLECT_THREADS", 32, 1, 64);
	c->collect_connections = config_int("SITEPULSE_COLLECT_CONNECTIONS", 2, 1, 8);
	c->collect_idle = config_int("SITEPULSE_COLLECT_IDLE", 60, 1, 86400);
	c->db_timeout = config_int("SITEPULSE_DB_TIMEOUT", 10, 1, 3600);
	c->statement_timeout = config_int("SITEPULSE_STATEMENT_TIMEOUT", 30, 1, 86400);
	c->maintain_every = config_int("SITEPULSE_MAINTAIN_EVERY", 300, 0, 86400);
	snprintf(c->rate_file, sizeof(c->rate_file), "%s", config_str("SITEPULSE_RATE_FILE", ""));
	/* Like the metrics file: the private run directory first, where another user cannot be first. */
	if (c->rate_file[0] == '\0' && (run = config_str("SITEPULSE_RUN_DIR", ""))[0] != '\0')
		snprintf(c->rate_file, sizeof(c->rate_file), "%s/sitepulse.rate", run);
	if (c->rate_file[0] == '\0')
		snprintf(c->rate_file, sizeof(c->rate_file), "/dev/shm/sitepulse-rate-%u", (unsigned)getuid());
	c->uap_regexes = config_str("SITEPULSE_UAP_REGEXES", "/usr/share/uap-core/regexes.yaml");
	c->geoip_db = config_str("SITEPULSE_GEOIP_DB", "");
	c->db_conninfo = config_str("SITEPULSE_DB", "");
	return 1;
}
