/*
 * sp-metrics: Prometheus metrics.
 *
 *   GET|HEAD /sitepulse/metrics     text exposition format 0.0.4
 *
 * Two sources: the counters every SitePulse program on this host adds to
 * in the shared metrics file (requests, events, latencies; see counters.h),
 * and a few cheap reads of PostgreSQL (NOTIFY queue, per-site traffic and
 * live visitors, the last maintenance run). When the database is down the
 * answer is still 200, with sitepulse_db_up 0 and without the database's
 * series, so that Prometheus tells "database down" from "web tier down".
 * The metrics name every site, so only a user with a role on every site
 * (sql/022_users_roles.sql, '*') reads them: anyone else signed in gets
 * 403. While the database cannot say, the answer holds only this host's
 * counters, which name no site.
 * Single-threaded: one process is plenty for a scrape every few seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <libpq-fe.h>

#include "config.h"
#include "counters.h"
#include "db.h"
#include "access.h"
#include "http.h"

enum stmt { Q_GLOBAL, Q_SITES, Q_ROLE, Q__MAX };

static const char *const sql[Q__MAX] = {
	/* User $1's role on every site, NULL for none (sql/022). */
	[Q_ROLE] = "SELECT sitepulse.site_role($1, '*')",
	/*
	 * NOTIFY queue use (0-1), seconds since the last maintenance run, and
	 * staged ingest's backlog: events pending and the oldest one's wait in
	 * seconds (sql/046; 0 and 0 in direct mode, where the table is empty).
	 */
	[Q_GLOBAL] = "SELECT pg_notification_queue_usage(), "
	    "(SELECT extract(epoch FROM now() - max(ran_at)) FROM sitepulse.maintenance_runs), "
	    "p.n, coalesce(extract(epoch FROM now() - p.oldest), 0) "
	    "FROM (SELECT count(received_at), min(received_at) FROM sitepulse.events_pending) p(n, oldest)",
	/*
	 * Per site: events in the last complete minute, visitors active in
	 * the last 5 minutes, and when it last received anything (its
	 * registration if never). All read rollups through their primary
	 * keys or the live_visitors (site_id, last_seen) index.
	 */
	[Q_SITES] = "SELECT s.key, "
	    "coalesce((SELECT sum(m.events) FROM sitepulse.site_minutes m "
	    "  WHERE m.site_id = s.id AND m.minute = date_trunc('minute', now()) - interval '1 minute'), 0), "
	    "(SELECT count(*) FROM sitepulse.live_visitors l "
	    "  WHERE l.site_id = s.id AND l.last_seen > now() - interval '5 minutes'), "
	    "extract(epoch FROM greatest("
	    "  (SELECT max(l.last_seen) FROM sitepulse.live_visitors l WHERE l.site_id = s.id), "
	    "  (SELECT max(m.minute) FROM sitepulse.site_minutes m WHERE m.site_id = s.id), "
	    "  s.created_at)) "
	    "FROM sitepulse.sites s ORDER BY s.key",
};

struct metrics {
	struct sp_config	 cfg;
	struct db		 db;
	struct counters		*ctr;
};

/* A plain counter or gauge from the shared file, with its exposition name. */
static const struct simple {
	const char	*name;
	const char	*type;
	const char	*help;
	int		 id;
} simples[] = {
	{ "sitepulse_collect_events_accepted_total", "counter",
	    "Events stored by collect (retried duplicates included).", C_EVENTS_ACCEPTED },
	{ "sitepulse_db_errors_total", "counter",
	    "Failed database connections and statements, all programs.", C_DB_ERRORS },
	{ "sitepulse_db_reconnects_total", "counter",
	    "Database connections opened again after a failure, all programs.", C_DB_RECONNECTS },
	{ "sitepulse_live_waiters", "gauge",
	    "Live long-polls waiting now.", C_LIVE_WAITERS },
	{ "sitepulse_live_answers_total", "counter",
	    "Live answers sent.", C_LIVE_ANSWERS },
	{ "sitepulse_heatmap_renders_total", "counter",
	    "Heatmap images rendered.", C_HEATMAP_RENDERS },
	{ "sitepulse_stats_requests_total", "counter",
	    "History (stats) requests answered.", C_STATS_REQUESTS },
	{ "sitepulse_collect_groups_total", "counter",
	    "Statements collect stored batches with (group commit; splits of a refused group included).",
	    C_COLLECT_GROUPS },
	{ "sitepulse_collect_group_batches_total", "counter",
	    "Batches in those statements (over groups: the average group size).", C_COLLECT_GROUP_BATCHES },
	{ "sitepulse_collect_group_spills_total", "counter",
	    "Groups stored beside another in flight, on a connection past a process's first.",
	    C_COLLECT_GROUP_SPILLS },
};

/* Label values of the labelled counters. */
static const struct labelled {
	const char	*value;
	int		 id;
} statuses[] = {
	{ "200", C_COLLECT_200 }, { "204", C_COLLECT_204 }, { "400", C_COLLECT_400 },
	{ "403", C_COLLECT_403 }, { "404", C_COLLECT_404 }, { "405", C_COLLECT_405 },
	{ "413", C_COLLECT_413 }, { "415", C_COLLECT_415 }, { "429", C_COLLECT_429 },
	{ "503", C_COLLECT_503 }, { "other", C_COLLECT_OTHER },
}, reasons[] = {
	{ "invalid", C_REJECT_INVALID }, { "origin", C_REJECT_ORIGIN },
	{ "unknown_site", C_REJECT_UNKNOWN_SITE }, { "bot", C_REJECT_BOT },
	{ "too_large", C_REJECT_TOO_LARGE }, { "rate_limited", C_REJECT_RATE_LIMITED },
};

static const struct hist {
	const char	*name;
	const char	*help;
	int		 id;
	double		 scale;		/* exposition unit per recorded unit */
} hists[] = {
	{ "sitepulse_collect_batch_events", "Events per collect batch.", H_BATCH_EVENTS, 1 },
	{ "sitepulse_collect_duration_seconds", "Time to answer a collect request.",
	    H_COLLECT_MS, 0.001 },
	{ "sitepulse_heatmap_duration_seconds", "Time to render a heatmap.", H_HEATMAP_MS, 0.001 },
};

static void
header(FCGX_Stream *out, const char *name, const char *type, const char *help)
{
	FCGX_FPrintF(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One counter family with a label, a line per value. */
static void
put_labelled(FCGX_Stream *out, const struct counters_snapshot *s, const char *name,
    const char *help, const char *label, const struct labelled *l, size_t n)
{
	header(out, name, "counter", help);
	for (size_t i = 0; i < n; i++)
		FCGX_FPrintF(out, "%s{%s=\"%s\"} %llu\n", name, label, l[i].value,
		    (unsigned long long)s->c[l[i].id]);
}

/* A histogram: cumulative buckets, sum and count, in the exposition unit. */
static void
put_hist(FCGX_Stream *out, const struct counters_snapshot *s, const struct hist *h)
{
	const struct counters_hist_info	*info = counters_hist(h->id);
	unsigned long long		 cum = 0;
	int				 b;

	header(out, h->name, "histogram", h->help);
	for (b = 0; b < info->nbounds; b++) {
		cum += s->bucket[h->id][b];
		FCGX_FPrintF(out, "%s_bucket{le=\"%.6g\"} %llu\n", h->name, info->bounds[b] * h->scale, cum);
	}
	cum += s->bucket[h->id][b];
	FCGX_FPrintF(out, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.17g\n%s_count %llu\n",
	    h->name, cum, h->name, s->sum[h->id] * h->scale, h->name, cum);
}

/* A program name as a label value: anything unusual becomes '_'. */
static void
label_safe(char *dst, const char *src, size_t n)
{
	size_t	 i;

	for (i = 0; i + 1 < n && src[i] != '\0'; i++)
		dst[i] = strchr("\"\\\n", src[i]) == NULL && (unsigned char)src[i] >= 0x20 ? src[i] : '_';
	dst[i] = '\0';
}

/* Everything from the shared counters file. */
static void
put_counters(struct metrics *m, FCGX_Stream *out)
{
	struct counters_snapshot	 s;
	char				 name[COUNTERS_PROGRAM_LEN];

	counters_snapshot(m->ctr, &s);
	put_labelled(out, &s, "sitepulse_collect_requests_total",
	    "Collect requests answered, by HTTP status.", "status", statuses,
	    sizeof(statuses) / sizeof(statuses[0]));
	put_labelled(out, &s, "sitepulse_collect_events_rejected_total",
	    "Events refused by collect, by reason (a body that did not parse counts as one).",
	    "reason", reasons, sizeof(reasons) / sizeof(reasons[0]));
	for (size_t i = 0; i < sizeof(simples) / sizeof(simples[0]); i++) {
		header(out, simples[i].name, simples[i].type, simples[i].help);
		if (strcmp(simples[i].type, "gauge") == 0)
			FCGX_FPrintF(out, "%s %lld\n", simples[i].name, (long long)s.c[simples[i].id]);
		else
			FCGX_FPrintF(out, "%s %llu\n", simples[i].name,
			    (unsigned long long)s.c[simples[i].id]);
	}
	for (size_t i = 0; i < sizeof(hists) / sizeof(hists[0]); i++)
		put_hist(out, &s, &hists[i]);
	header(out, "sitepulse_processes", "gauge", "Live SitePulse processes on this host, by program.");
	for (int i = 0; i < s.nprograms; i++) {
		label_safe(name, s.program[i], sizeof(name));
		FCGX_FPrintF(out, "sitepulse_processes{program=\"%s\"} %d\n", name, s.processes[i]);
	}
	header(out, "sitepulse_metrics_file_regions_used", "gauge",
	    "Regions of the shared metrics file claimed so far (of sitepulse_metrics_file_regions).");
	FCGX_FPrintF(out, "sitepulse_metrics_file_regions_used %d\n", s.regions_used);
	header(out, "sitepulse_metrics_file_regions", "gauge",
	    "Regions in the shared metrics file (0: the file could not be opened).");
	FCGX_FPrintF(out, "sitepulse_metrics_file_regions %d\n", s.regions_total);
}

/* The NOTIFY queue, maintenance age and staged backlog. Returns 0 if the database failed. */
static int
put_global(struct metrics *m, FCGX_Stream *out)
{
	PGresult	*res = db_exec(&m->db, Q_GLOBAL, 0, NULL);

	if (res == NULL)
		return 0;
	header(out, "sitepulse_notify_queue_usage", "gauge",
	    "Fraction of PostgreSQL's NOTIFY queue in use (pg_notification_queue_usage()).");
	FCGX_FPrintF(out, "sitepulse_notify_queue_usage %s\n", PQgetvalue(res, 0, 0));
	header(out, "sitepulse_maintenance_age_seconds", "gauge",
	    "Seconds since sitepulse.maintain() last ran (absent if it never ran).");
	if (!PQgetisnull(res, 0, 1))
		FCGX_FPrintF(out, "sitepulse_maintenance_age_seconds %s\n", PQgetvalue(res, 0, 1));
	header(out, "sitepulse_staged_pending_events", "gauge",
	    "Events acknowledged in staged ingest mode and not yet rolled up (events_pending).");
	FCGX_FPrintF(out, "sitepulse_staged_pending_events %s\n", PQgetvalue(res, 0, 2));
	header(out, "sitepulse_staged_lag_seconds", "gauge",
	    "How long the oldest pending staged event has waited: how far reports lag (0: none waits).");
	FCGX_FPrintF(out, "sitepulse_staged_lag_seconds %s\n", PQgetvalue(res, 0, 3));
	PQclear(res);
	return 1;
}

/* Per-site series. Returns 0 if the database failed. */
static int
put_sites(struct metrics *m, FCGX_Stream *out)
{
	static const char *const names[3] = {
		"sitepulse_site_events_last_minute",
		"sitepulse_live_visitors",
		"sitepulse_site_last_event_timestamp_seconds",
	};
	static const char *const helps[3] = {
		"Events the site received in the last complete minute (from the rollups).",
		"Distinct visitors of the site with any event in the last 5 minutes.",
		"When the site last received an event, or was registered if never (Unix time).",
	};
	PGresult	*res = db_exec(&m->db, Q_SITES, 0, NULL);

	if (res == NULL)
		return 0;
	for (int col = 0; col < 3; col++) {
		header(out, names[col], "gauge", helps[col]);
		/* Site keys are [A-Za-z0-9_-]: safe as label values. */
		for (int row = 0; row < PQntuples(res); row++)
			FCGX_FPrintF(out, "%s{site=\"%s\"} %s\n", names[col],
			    PQgetvalue(res, row, 0), PQgetvalue(res, row, col + 1));
	}
	PQclear(res);
	return 1;
}

/*
 * GET /metrics: 200, the database's part only when it answers; 403 when
 * the database says the user holds no role on every site.
 */
static void
do_get(struct metrics *m, FCGX_Request *r, int head)
{
	FCGX_Stream	*out = r->out;
	const char	*user[1] = { http_param(r, "REMOTE_USER") };
	PGresult	*res;
	int		 up, allowed = 0;

	if ((res = db_exec(&m->db, Q_ROLE, 1, user)) != NULL) {
		allowed = !PQgetisnull(res, 0, 0);
		PQclear(res);
		if (!allowed) {
			http_error(r, 403, "the metrics need a role on every site", NULL);
			return;
		}
	}
	http_status(r, 200, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\n");
	if (head)
		return;
	put_counters(m, out);
	up = allowed && put_global(m, out) && put_sites(m, out);
	header(out, "sitepulse_db_up", "gauge", "1 if PostgreSQL answered this scrape's queries, else 0.");
	FCGX_FPrintF(out, "sitepulse_db_up %d\n", up);
}

/*
 * Routes one request: 401 or 403 off an authenticated route (access.h),
 * 404 off /metrics, 405 for anything but GET and HEAD.
 */
static void
handle(struct metrics *m, FCGX_Request *r)
{
	struct access	 acc;
	char		 path[1024];

	if (!http_access(r, ACCESS_PROTECTED, &acc))
		return;
	if (!http_ends_with(http_path(r, path, sizeof(path)), "/metrics"))
		http_error(r, 404, "not found", NULL);
	else if (http_method_is(r, "GET"))
		do_get(m, r, 0);
	else if (http_method_is(r, "HEAD"))
		do_get(m, r, 1);
	else
		http_error(r, 405, "method not allowed", "Allow: GET, HEAD\r\n");
}

int
main(void)
{
	static struct metrics	 m;
	FCGX_Request		 r;

	if (!config_load(&m.cfg))
		return 1;
	m.ctr = counters_open(NULL, "sp-metrics");
	db_init(&m.db, "sp-metrics", sql, Q__MAX, &m.cfg);
	m.db.counters = m.ctr;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		handle(&m, &r);
		FCGX_Finish_r(&r);
	}
	db_close(&m.db);
	counters_close(m.ctr);
	return 0;
}
