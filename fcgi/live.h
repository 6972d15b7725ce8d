/*
 * live: the pure half of GET /sitepulse/live. Checking the query string,
 * turning the rows sp-live reads into the JSON answer, and the answer's
 * version. Nothing here touches the network or the database, so all of
 * it is thread-safe and unit-tested.
 */
#ifndef SP_LIVE_H
#define SP_LIVE_H

#include <stddef.h>

#include "valid.h"

#define LIVE_MINUTES	 30	/* entries in "minutes", oldest first */
#define LIVE_PAGES_MAX	 20	/* entries in "pages" */
#define LIVE_CLICKS_MAX	 50	/* entries in "clicks" */
#define LIVE_VERSION_LEN 16	/* hex digits of a version */
#define LIVE_SHARE_MIN	 32	/* share tokens are 43 characters */
#define LIVE_SHARE_MAX	 128

/*
 * A checked request: the site key ("" when a share link names none), the
 * share token ("" off a share route) and the version the client holds.
 */
struct live_req {
	char	 site[VALID_KEY_MAX + 1];
	char	 share[LIVE_SHARE_MAX + 1];
	char	 since[VALID_KEY_MAX + 1];	/* "" when absent */
};

struct live_page {
	char		*path;		/* borrowed from the caller's rows */
	long long	 active;
};

struct live_minute {
	long long	 minute;	/* minutes since the epoch (UTC) */
	long long	 pageviews;
	long long	 visitors;
};

struct live_click {
	char		*path, *sel;	/* borrowed; sel may be NULL */
	long long	 x, y;
	long long	 ms;		/* server time, ms since the epoch */
	int		 rage, dead;
};

/*
 * The state of one site as read from the rollups. minutes[] holds the
 * minutes with traffic, in any order; live_body() zero-fills the rest.
 */
struct live_state {
	long long		 active;
	long long		 now_minute;	/* the current minute, minutes since the epoch */
	int			 npages, nminutes, nclicks;
	struct live_page	 pages[LIVE_PAGES_MAX];
	struct live_minute	 minutes[LIVE_MINUTES];
	struct live_click	 clicks[LIVE_CLICKS_MAX];
};

int	 live_parse(const char *, int, struct live_req *, const char **);
void	 live_fill_minutes(long long, const struct live_minute *, int, struct live_minute *);
void	 live_iso(long long, int, char *, size_t);
char	*live_body(const struct live_state *);
void	 live_version(const char *, char *);
char	*live_answer(const char *, const char *);

#endif
