/*
 * stats: the pure half of GET /sitepulse/stats. The table of reports and
 * the parameters each takes, validation of a request's query into a
 * stats_req, and CSV output with formula neutralisation. No I/O: sp-stats
 * does the database and FastCGI side.
 */
#ifndef SP_STATS_H
#define SP_STATS_H

#include <stddef.h>

#include "compare.h"
#include "param.h"
#include "util.h"
#include "valid.h"

struct http_query;

/* The reports, in the order of sp-stats' SQL table. */
enum stats_report {
	STATS_TIMESERIES,
	STATS_SUMMARY,
	STATS_PAGES,
	STATS_ENTRY_PAGES,
	STATS_EXIT_PAGES,
	STATS_REFERRERS,
	STATS_UTM_SOURCES,
	STATS_UTM_MEDIUMS,
	STATS_UTM_CAMPAIGNS,
	STATS_DEVICES,
	STATS_BROWSERS,
	STATS_OS,
	STATS_COUNTRIES,
	STATS_LANGUAGES,
	STATS_EVENTS,
	STATS_EVENT_PROPS,
	STATS_ELEMENTS,
	STATS_SCROLL,
	STATS_GOALS,
	STATS_FUNNELS,
	STATS_ANNOTATIONS,
	STATS_SITES,
	STATS__MAX
};

/* What a report takes besides the site. */
#define STATS_RANGE	0x01	/* from, to */
#define STATS_LIMIT	0x02	/* limit */
#define STATS_INTERVAL	0x04	/* interval */
#define STATS_NAME	0x08	/* name (required) */
#define STATS_NOSITE	0x10	/* no site: lists every site; never through a share link */

#define STATS_MAX_DAYS		 731	/* a range may span at most two years */
#define STATS_LIMIT_DEFAULT	 10
#define STATS_LIMIT_MAX		 1000
#define STATS_NAME_MAX		 200
#define STATS_SHARE_MIN		 32	/* share tokens are 43 characters */
#define STATS_SHARE_MAX		 128

enum stats_format { STATS_JSON, STATS_CSV };

/* Whom a request names its site for, as its route class says (access.h). */
enum stats_who {
	STATS_BY_USER,		/* protected: site=KEY (or no site for the site list) */
	STATS_BY_SHARE,		/* share: share=TOKEN, never the site list */
	STATS_BY_TOKEN		/* token: the API token's site; site=KEY optional */
};

/* An annotation's note: at most this many characters (sql/021). */
#define STATS_NOTE_MAX		 200
#define STATS_NOTE_BODY_MAX	 4096	/* bytes of its JSON body */

/* A validated annotation to add: for which site, when (YYYY-MM-DD or an ISO UTC time), what. */
struct stats_note {
	char	 site[VALID_KEY_MAX + 1];	/* with_site only */
	char	 at[24];		/* "" for now */
	char	 note[STATS_NOTE_MAX * 4 + 1];
};

/* A validated request. Strings point into the http_query it came from. */
struct stats_req {
	enum stats_report	 report;
	unsigned		 flags;		/* of the report */
	const char		*site;		/* site key, or NULL with share */
	const char		*share;		/* share token, or NULL */
	const char		*from, *to;	/* YYYY-MM-DD (in range), or NULL without STATS_RANGE */
	struct param_range	 range;		/* from and to, checked */
	enum compare_kind	 compare;	/* compare=, or COMPARE_NONE */
	struct param_range	 earlier;	/* the range compared with (compare_range()) */
	const char		*interval;	/* "day" or "hour" */
	const char		*name;		/* event name for event_props */
	enum stats_format	 format;
	int			 limit;
	char			 limit_s[8];	/* limit as text, a query parameter */
};

const char	*stats_report_name(enum stats_report);
unsigned	 stats_report_flags(enum stats_report);
int		 stats_report_find(const char *, enum stats_report *);
int		 stats_parse(const struct http_query *, enum stats_who, struct stats_req *,
		    const char **);
int		 stats_note_parse(const char *, size_t, int, struct stats_note *, const char **);

int		 stats_csv_risky(const char *);
void		 stats_csv_cell(struct util_buf *, const char *, int);

/* How a report's column is written in JSON (stats_json_cell()). */
enum stats_cell {
	STATS_CELL_TEXT,
	STATS_CELL_NUMBER,	/* PostgreSQL's text of an integer, numeric or float */
	STATS_CELL_BOOL		/* t or f */
};

int		 stats_json_number(const char *);
void		 stats_json_cell(struct util_buf *, const char *, enum stats_cell);

#endif
