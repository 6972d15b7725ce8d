/*
 * event: the collect body parser. Takes the raw body of POST /collect,
 * checks every field by type, range and length (json-c alone is not
 * enough: it clamps overflowing integers and accepts NaN, 1e999 and
 * embedded NULs), and produces the normalised JSON array that
 * sitepulse.ingest() reads with jsonb_to_recordset.
 */
#ifndef SP_EVENT_H
#define SP_EVENT_H

#include <stddef.h>

#include "valid.h"

#define EVENT_BODY_MAX	 65536	/* bytes */
#define EVENT_BATCH_MAX	 100	/* events per batch */
#define EVENT_PROPS_MAX	 20	/* keys in props */

struct json_object;

struct event_batch {
	char			 site[VALID_KEY_MAX + 1];
	char			 batch[VALID_KEY_MAX + 1];	/* "" when absent */
	int			 nevents;
	struct json_object	*events;	/* normalised array, owned */
	char			 host[VALID_HOST_MAX + 1];	/* first event's page host */
};

int	 event_parse(const char *, size_t, struct event_batch *, char *, size_t);
int	 event_pageview(struct event_batch *, const char *, const char *,
	    const char *, char *, size_t);
const char	*event_json(const struct event_batch *);
void	 event_batch_free(struct event_batch *);

#endif
