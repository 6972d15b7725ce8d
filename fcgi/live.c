#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "http.h"
#include "live.h"
#include "util.h"
#include "valid.h"

/* A share token: URL-safe base64 characters, a plausible length. */
static int
valid_share(const char *s)
{
	size_t	 n = strlen(s);

	return n >= LIVE_SHARE_MIN && n <= LIVE_SHARE_MAX &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/*
 * Checks the query string of GET /live: site (a site key), since
 * (optional, 1-64 characters of [A-Za-z0-9_-], the syntax of every
 * version this program hands out) and, on a share route (shared), share
 * (the link's token), nothing else. Off a share route site is required
 * and share refused; on one share is required and site optional (the
 * caller checks that a site given is the token's own). Fills in req and
 * returns 1, or returns 0 with *why set to a short reason for a 400.
 */
int
live_parse(const char *qs, int shared, struct live_req *req, const char **why)
{
	static const char *const names[] = { "site", "since", "share", NULL };
	struct http_query	 q;
	const char		*site, *since, *share;

	memset(req, 0, sizeof(*req));
	if (!http_query_parse(qs, &q)) {
		*why = "query: malformed or repeated parameter";
		return 0;
	}
	if (!http_query_only(&q, names)) {
		*why = shared ? "query: unknown parameter (use share, site and since)" :
		    "query: unknown parameter (use site and since)";
		return 0;
	}
	site = http_query_get(&q, "site");
	share = http_query_get(&q, "share");
	if (!shared && share != NULL) {
		*why = "share: only on a share link's route (share/live)";
		return 0;
	}
	if (shared && share == NULL) {
		*why = "share: missing (share links need share=TOKEN)";
		return 0;
	}
	if (shared && !valid_share(share)) {
		*why = "share: malformed token";
		return 0;
	}
	if (!shared && site == NULL) {
		*why = "site: missing";
		return 0;
	}
	if (site != NULL && !valid_site_key(site)) {
		*why = "site: not 1-64 characters of A-Z a-z 0-9 _ -";
		return 0;
	}
	since = http_query_get(&q, "since");
	if (since != NULL && !valid_site_key(since)) {
		*why = "since: not a version (1-64 characters of A-Z a-z 0-9 _ -)";
		return 0;
	}
	if (site != NULL)
		strcpy(req->site, site);
	if (share != NULL)
		strcpy(req->share, share);
	if (since != NULL)
		strcpy(req->since, since);
	return 1;
}

/*
 * Fills out[0..LIVE_MINUTES-1] with the LIVE_MINUTES minutes ending at
 * now_minute, oldest first: the counts of rows[] where a row has that
 * minute, zeros elsewhere. Rows outside the window are ignored.
 */
void
live_fill_minutes(long long now_minute, const struct live_minute *rows, int nrows,
    struct live_minute *out)
{
	long long	 first = now_minute - (LIVE_MINUTES - 1);

	for (int i = 0; i < LIVE_MINUTES; i++) {
		out[i].minute = first + i;
		out[i].pageviews = out[i].visitors = 0;
	}
	for (int i = 0; i < nrows; i++) {
		if (rows[i].minute < first || rows[i].minute > now_minute)
			continue;
		out[rows[i].minute - first] = rows[i];
	}
}

/*
 * Formats ms (milliseconds since the epoch) as ISO-8601 UTC into buf:
 * "2024-05-01T12:34:00Z", or with milliseconds "2024-05-01T12:34:56.789Z".
 */
void
live_iso(long long ms, int with_ms, char *buf, size_t bufsz)
{
	time_t		 secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm	 tm;
	char		 date[32];

	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	if (with_ms)
		snprintf(buf, bufsz, "%s.%03dZ", date, (int)(ms - (long long)secs * 1000));
	else
		snprintf(buf, bufsz, "%sZ", date);
}

static struct json_object *
pages_json(const struct live_state *s)
{
	struct json_object	*a = json_object_new_array(), *o;

	for (int i = 0; i < s->npages; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "path", json_object_new_string(s->pages[i].path));
		json_object_object_add(o, "active", json_object_new_int64(s->pages[i].active));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *
minutes_json(const struct live_state *s)
{
	struct json_object	*a = json_object_new_array(), *o;
	struct live_minute	 m[LIVE_MINUTES];
	char			 t[40];

	live_fill_minutes(s->now_minute, s->minutes, s->nminutes, m);
	for (int i = 0; i < LIVE_MINUTES; i++) {
		live_iso(m[i].minute * 60000, 0, t, sizeof(t));
		o = json_object_new_object();
		json_object_object_add(o, "t", json_object_new_string(t));
		json_object_object_add(o, "pageviews", json_object_new_int64(m[i].pageviews));
		json_object_object_add(o, "visitors", json_object_new_int64(m[i].visitors));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *
clicks_json(const struct live_state *s)
{
	struct json_object	*a = json_object_new_array(), *o;
	const struct live_click	*c;
	char			 t[40];

	for (int i = 0; i < s->nclicks; i++) {
		c = &s->clicks[i];
		live_iso(c->ms, 1, t, sizeof(t));
		o = json_object_new_object();
		json_object_object_add(o, "path", json_object_new_string(c->path));
		json_object_object_add(o, "x", json_object_new_int64(c->x));
		json_object_object_add(o, "y", json_object_new_int64(c->y));
		json_object_object_add(o, "t", json_object_new_string(t));
		json_object_object_add(o, "sel", c->sel ? json_object_new_string(c->sel) : NULL);
		json_object_object_add(o, "rage", json_object_new_boolean(c->rage));
		json_object_object_add(o, "dead", json_object_new_boolean(c->dead));
		json_object_array_add(a, o);
	}
	return a;
}

/*
 * The live state as a JSON object without its version:
 * {"active":N,"pages":[...],"minutes":[30 entries],"clicks":[...]}.
 * Every string is escaped by json-c (including '/', so "</script>" can
 * never close a script element). The caller frees the result.
 */
char *
live_body(const struct live_state *s)
{
	struct json_object	*o = json_object_new_object();
	char			*body;

	json_object_object_add(o, "active", json_object_new_int64(s->active));
	json_object_object_add(o, "pages", pages_json(s));
	json_object_object_add(o, "minutes", minutes_json(s));
	json_object_object_add(o, "clicks", clicks_json(s));
	body = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return body;
}

/*
 * The version of a body: its 64-bit FNV-1a hash as LIVE_VERSION_LEN
 * lower-case hex digits into out (LIVE_VERSION_LEN + 1 bytes). Equal
 * bodies have equal versions in every process, so any sp-live process
 * (or a restarted one) recognises a client's since; a state that changes
 * only by ageing (a visitor leaving the 5-minute window, a new minute)
 * changes the body and so the version, with no counter kept anywhere.
 * Not a security hash: a version is only compared, never trusted.
 */
void
live_version(const char *body, char *out)
{
	uint64_t	 h = 14695981039346656037ULL;

	for (const unsigned char *p = (const unsigned char *)body; *p != '\0'; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	snprintf(out, LIVE_VERSION_LEN + 1, "%016llx", (unsigned long long)h);
}

/*
 * The answer: body (a JSON object from live_body) with "version" as its
 * first member. The caller frees the result.
 */
char *
live_answer(const char *version, const char *body)
{
	size_t	 n = strlen(body) + LIVE_VERSION_LEN + 32;
	char	*s = xmalloc(n);

	snprintf(s, n, "{\"version\":\"%s\"%s%s", version, body[1] == '}' ? "" : ",", body + 1);
	return s;
}
