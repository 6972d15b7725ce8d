/*
 * counters: metrics shared by every SitePulse process on a host, without a
 * daemon. A small file (SITEPULSE_METRICS_FILE) is mapped by each program;
 * it holds fixed-size regions, and each process claims one for itself
 * (owner pid and start time, set by compare-and-swap) and adds to it with
 * relaxed atomic increments. sp-metrics sums the regions.
 *
 * A process that exits or is killed leaves its counts behind, and the next
 * process to claim that region adds onto them, so a sum never goes
 * backwards while the file exists. Gauges (live waiters) are the exception:
 * they count only regions whose owner is alive, and restart from zero.
 *
 * Every function accepts a NULL context and then does nothing, so a program
 * whose metrics file cannot be opened still serves requests.
 */
#ifndef SP_COUNTERS_H
#define SP_COUNTERS_H

#include <stdint.h>

/*
 * Counter ids. New ids go at the end (before C__MAX): the file layout keeps
 * COUNTERS_SLOTS slots, so adding one needs no new file.
 */
enum counter_id {
	C_COLLECT_200,		/* collect answers by status: 200 (collect.gif) */
	C_COLLECT_204,
	C_COLLECT_400,
	C_COLLECT_403,
	C_COLLECT_404,
	C_COLLECT_405,
	C_COLLECT_413,
	C_COLLECT_415,
	C_COLLECT_429,
	C_COLLECT_503,
	C_COLLECT_OTHER,
	C_EVENTS_ACCEPTED,	/* events stored (or duplicates acknowledged) */
	C_REJECT_INVALID,	/* events refused, by reason (see counters_add) */
	C_REJECT_ORIGIN,
	C_REJECT_UNKNOWN_SITE,
	C_REJECT_BOT,
	C_REJECT_TOO_LARGE,
	C_REJECT_RATE_LIMITED,
	C_DB_ERRORS,		/* statements that failed, any program */
	C_DB_RECONNECTS,	/* connections opened after the first, any program */
	C_LIVE_WAITERS,		/* gauge: long-polls waiting now */
	C_LIVE_ANSWERS,		/* live answers sent */
	C_HEATMAP_RENDERS,	/* heatmap PNGs rendered */
	C_STATS_REQUESTS,	/* stats requests answered */
	C_COLLECT_GROUPS,	/* collect's group commit: statements sent (splits' included) */
	C_COLLECT_GROUP_BATCHES, /* the batches in them */
	C_COLLECT_GROUP_SPILLS,	/* those sent beside another in flight (a connection past the first) */
	C__MAX
};

/* Histogram ids; their bucket bounds are in counters.c. */
enum hist_id {
	H_BATCH_EVENTS,		/* events per collect batch */
	H_COLLECT_MS,		/* collect request latency, ms */
	H_HEATMAP_MS,		/* heatmap render latency, ms */
	H__MAX
};

#define COUNTERS_SLOTS		 64	/* counters per region, in the file */
#define COUNTERS_HIST_SLOTS	 8	/* histograms per region */
#define COUNTERS_BUCKETS	 16	/* buckets per histogram, +Inf included */
#define COUNTERS_PROGRAM_LEN	 24	/* program name, NUL included */

struct counters;

/* The sum of every region, as sp-metrics reports it. */
struct counters_snapshot {
	uint64_t	 c[C__MAX];			/* gauges: live owners only */
	uint64_t	 bucket[H__MAX][COUNTERS_BUCKETS];	/* not cumulative */
	double		 sum[H__MAX];			/* in the histogram's unit */
	int		 nprograms;			/* live processes by program */
	char		 program[32][COUNTERS_PROGRAM_LEN];
	int		 processes[32];
	int		 regions_used, regions_total;
};

/* A histogram's description for exposition. */
struct counters_hist_info {
	const char	*unit;				/* "ms" or "events" */
	int		 nbounds;			/* finite upper bounds */
	const double	*bounds;			/* ascending, inclusive */
};

const char	*counters_default_path(char *, size_t);
struct counters	*counters_open(const char *, const char *);
void		 counters_close(struct counters *);
void		 counters_add(struct counters *, enum counter_id, uint64_t);
void		 counters_gauge_add(struct counters *, enum counter_id, int64_t);
void		 counters_observe(struct counters *, enum hist_id, double);
int		 counters_collect_status(int);
void		 counters_snapshot(struct counters *, struct counters_snapshot *);
const struct counters_hist_info *counters_hist(enum hist_id);

#endif
