/*
 * sp-admin: the administrator's endpoints, behind the web server's
 * authentication like the dashboard. It serves protected routes only
 * (access.h): a request the web server did not authenticate is 401, one
 * on a route declared public or share is 403, before anything is read.
 *
 *   POST /sitepulse/admin/screenshot?site=KEY&path=/x[&device=desktop|tablet|mobile]
 *        header: X-SitePulse-Request: 1
 *        body: a PNG or JPEG image of at most 8 MiB (any Content-Type)
 *   GET  /sitepulse/admin/screenshots?site=KEY[&path=/x]
 *        each clicked (or captured, or queued) page and device of the site,
 *        its newest screenshot's age and staleness, whether it is queued,
 *        and whether a capture worker (tools/capture) was seen in the last
 *        15 minutes (sql/018_capture_queue.sql: screenshot_overview())
 *   POST /sitepulse/admin/capture
 *        header: X-SitePulse-Request: 1
 *        body: {"site":"KEY","path":"/x","device":"desktop|tablet|mobile"}
 *        queues the page for the capture worker, ahead of the rest: 202
 *   GET  /sitepulse/admin/tokens?site=KEY
 *        the site's API tokens without their secrets: label, scope,
 *        created, last used, revoked (sitepulse.list_tokens())
 *   POST /sitepulse/admin/token
 *        header: X-SitePulse-Request: 1
 *        body: {"site":"KEY","label":"TEXT"[,"scope":"read|annotate"]}
 *        makes an API token: 201 {"token":"spt_..."}, the only time it is
 *        shown (sql/021 keeps its hash); 409 when the label is taken
 *   POST /sitepulse/admin/token/revoke
 *        header: X-SitePulse-Request: 1
 *        body: {"site":"KEY","label":"TEXT"}: 200, or 404 no such live token
 *   POST /sitepulse/admin/annotation
 *        header: X-SitePulse-Request: 1
 *        body: {"site":"KEY","note":"TEXT"[,"at":"YYYY-MM-DD[THH:MM[:SS]Z]"]}
 *        adds a note to the site's history chart: 201 {"id":N}
 *
 * The workspace: the dashboard's sites, goals and funnels, users and
 * roles. Each route is one SQL function, sitepulse.ws_NAME(user, args)
 * (sql/022_users_roles.sql and later), which checks the user's role on
 * the site, validates every field and answers JSON; a refusal (SQLSTATE
 * SPnnn) is answered with status nnn and its reason (db.h):
 *   GET  /sitepulse/admin/me, sites, goals?site=KEY, users[?site=KEY]
 *        args: the query string's parameters as a JSON object of strings
 *   POST /sitepulse/admin/site, site/remove, goal, goal/remove, funnel,
 *        funnel/remove, user, user/remove, grant, revoke, password
 *        header: X-SitePulse-Request: 1
 *        args: the JSON object of the body (at most 16 KiB)
 *
 * Every route is per site: the signed-in user (REMOTE_USER) must hold a
 * role on the site named (sql/022: viewer to read the screenshots
 * overview, admin for everything that changes a site), else 404 (no role:
 * the same answer as an unknown site) or 403 (a role too low).
 *
 * A browser sends the administrator's Basic credentials with any request
 * to this host, whichever page made it, so a state change must prove that
 * it comes from our own pages: the custom header (no form, and no
 * cross-origin fetch without a CORS preflight, which nothing here grants),
 * an Origin, when there is one, of this very host, and a Sec-Fetch-Site,
 * when there is one, of same-origin or none. Anything else is 403.
 *
 * An uploaded screenshot is trusted for nothing: it is accepted by its
 * magic bytes only, its declared dimensions are capped (4000 x 20000 px,
 * 40 Mpx) before anything decodes it, it is decoded in a child process
 * under address-space and CPU limits, and what is stored is the PNG we
 * re-encoded from the decoded pixels (image.c). Uploads carry no element
 * boxes, so click maps over them are drawn by document position.
 * Single-threaded; one process is enough for an administrator.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fcgiapp.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "access.h"
#include "config.h"
#include "counters.h"
#include "db.h"
#include "http.h"
#include "image.h"
#include "param.h"
#include "stats.h"
#include "util.h"
#include "valid.h"

#define UPLOAD_MAX	 (8 << 20)
#define CAPTURE_BODY_MAX 4096		/* a capture request's JSON body */
#define WORKER_FRESH_S	 (15 * 60)	/* a worker seen this recently is available */
#define TOKEN_LABEL_MAX	 100		/* characters of an API token's label (sql/021) */
#define WS_BODY_MAX	 16384		/* a workspace call's JSON body */

enum stmt { Q_ADD, Q_OVERVIEW, Q_CAPTURE, Q_TOKENS, Q_TOKEN_ADD, Q_TOKEN_REVOKE, Q_ANNOTATE,
	Q_ROLE, Q_WS_ME, Q_WS_SITES, Q_WS_SITE_SAVE, Q_WS_SITE_REMOVE, Q_WS_GOALS, Q_WS_GOAL_SAVE,
	Q_WS_GOAL_REMOVE, Q_WS_FUNNEL_SAVE, Q_WS_FUNNEL_REMOVE, Q_WS_USERS, Q_WS_USER_ADD,
	Q_WS_USER_REMOVE, Q_WS_GRANT, Q_WS_REVOKE, Q_WS_PASSWORD, Q__MAX };

/* A workspace function's statement: its JSON answer as text. */
#define WS(fn) "SELECT sitepulse." fn "($1, $2::jsonb)::text"

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char *const sql[Q__MAX] = {
	[Q_ADD] = "SELECT sitepulse.add_screenshot($1, $2, $3, $4::int, $5::int, $6::bytea, "
	    "NULL, 'upload')",
	[Q_OVERVIEW] = "SELECT max_age_days, " ISO("last_seen") ", "
	    "coalesce(last_seen > now() - make_interval(secs => $3::int), false), "
	    "path, device, clicks, screenshot_id, " ISO("created_at") ", age_s, source, stale, queued "
	    "FROM sitepulse.screenshot_overview($1, $2)",
	[Q_CAPTURE] = "SELECT sitepulse.request_capture($1, $2, $3)",
	[Q_TOKENS] = "SELECT label, scope, " ISO("created_at") ", " ISO("last_used_at") ", "
	    ISO("revoked_at") " FROM sitepulse.list_tokens($1)",
	/* NULL for an unknown site, '' when the label is taken (sql/021). */
	[Q_TOKEN_ADD] = "SELECT sitepulse.dashboard_add_token($1, $2, $3)",
	[Q_TOKEN_REVOKE] = "SELECT sitepulse.revoke_token($1, $2)",
	/* NULL for an unknown site. A date or a UTC time ("...Z") both read as UTC. */
	[Q_ANNOTATE] = "SELECT sitepulse.dashboard_annotate($1, coalesce(nullif($2, '')::timestamp "
	    "AT TIME ZONE 'UTC', now()), $3, $4)",
	/* User $1's role on site $2, NULL for none (sql/022). */
	[Q_ROLE] = "SELECT sitepulse.site_role($1, $2)",
	[Q_WS_ME] = WS("ws_me"),
	[Q_WS_SITES] = WS("ws_sites"),
	[Q_WS_SITE_SAVE] = WS("ws_site_save"),
	[Q_WS_SITE_REMOVE] = WS("ws_site_remove"),
	[Q_WS_GOALS] = WS("ws_goals"),
	[Q_WS_GOAL_SAVE] = WS("ws_goal_save"),
	[Q_WS_GOAL_REMOVE] = WS("ws_goal_remove"),
	[Q_WS_FUNNEL_SAVE] = WS("ws_funnel_save"),
	[Q_WS_FUNNEL_REMOVE] = WS("ws_funnel_remove"),
	[Q_WS_USERS] = WS("ws_users"),
	[Q_WS_USER_ADD] = WS("ws_user_add"),
	[Q_WS_USER_REMOVE] = WS("ws_user_remove"),
	[Q_WS_GRANT] = WS("ws_grant"),
	[Q_WS_REVOKE] = WS("ws_revoke"),
	[Q_WS_PASSWORD] = WS("ws_password"),
};

/* The columns of Q_OVERVIEW, in order. */
enum overview_col {
	O_MAX_AGE, O_LAST_SEEN, O_AVAILABLE, O_PATH, O_DEVICE, O_CLICKS, O_SHOT_ID,
	O_CREATED, O_AGE, O_SOURCE, O_STALE, O_QUEUED
};

/* Everything a request needs, kept for the life of the process. */
struct admin {
	struct sp_config	 cfg;
	struct db		 db;
	struct counters		*ctr;		/* shared metrics: database errors (may be NULL) */
	unsigned char		*body;		/* UPLOAD_MAX bytes */
};

/* A validated upload request. */
struct upload {
	const char	*site, *path, *device;
};

/* A validated screenshots overview request: path may be NULL (every page). */
struct overview {
	const char	*site, *path;
};

/* A validated capture request, copied out of its JSON body. */
struct capture {
	char		 site[VALID_KEY_MAX + 1];
	char		 path[VALID_PATH_MAX + 1];
	char		 device[8];
};

/* A validated token request (make or revoke), copied out of its JSON body. */
struct token_req {
	char		 site[VALID_KEY_MAX + 1];
	char		 label[TOKEN_LABEL_MAX * 4 + 1];
	char		 scope[16];	/* "read" unless given */
};

/* What a request says about where it comes from: CGI parameters, each may be NULL. */
struct provenance {
	const char	*marker;	/* HTTP_X_SITEPULSE_REQUEST */
	const char	*origin;	/* HTTP_ORIGIN */
	const char	*fetch_site;	/* HTTP_SEC_FETCH_SITE */
	const char	*host;		/* HTTP_HOST */
	const char	*https;		/* HTTPS: "on" over TLS */
	const char	*scheme;	/* REQUEST_SCHEME */
};

static int	 may(struct admin *, FCGX_Request *, const char *, const char *);

/* The length of authority (host[:port]) without the default port of its scheme. */
static size_t
authority_len(const char *authority, int https)
{
	const char	*port = https ? ":443" : ":80";
	size_t		 n = strlen(authority), m = strlen(port);

	return n > m && strcmp(authority + n - m, port) == 0 ? n - m : n;
}

/*
 * True when origin (an Origin header: scheme://host[:port], no path) is
 * the request's own: the same scheme as the request came in with (https
 * when HTTPS is on or REQUEST_SCHEME says so) and, ignoring case and a
 * default port, the same host and port as its Host header. Pure.
 */
static int
same_origin(const char *origin, const struct provenance *p)
{
	int		 https = (p->https != NULL && (strcasecmp(p->https, "on") == 0 ||
			    strcmp(p->https, "1") == 0)) ||
			    (p->scheme != NULL && strcasecmp(p->scheme, "https") == 0);
	const char	*want = https ? "https://" : "http://";
	size_t		 n;

	if (p->host == NULL || *p->host == '\0' || strncasecmp(origin, want, strlen(want)) != 0)
		return 0;
	origin += strlen(want);
	if (*origin == '\0' || strchr(origin, '/') != NULL)
		return 0;
	n = authority_len(origin, https);
	return n == authority_len(p->host, https) && strncasecmp(origin, p->host, n) == 0;
}

/*
 * Decides whether a state-changing request may come from where it says it
 * does: it must carry X-SitePulse-Request: 1, which only our own pages
 * send; Sec-Fetch-Site, when sent, must be same-origin or none; Origin,
 * when sent, must be this host's (same_origin()). Returns NULL, or the
 * reason for a 403. Pure.
 */
static const char *
cross_site_refusal(const struct provenance *p)
{
	if (p->marker == NULL || strcmp(p->marker, "1") != 0)
		return "X-SitePulse-Request: 1 header required";
	if (p->fetch_site != NULL && strcmp(p->fetch_site, "same-origin") != 0 &&
	    strcmp(p->fetch_site, "none") != 0)
		return "cross-site request (Sec-Fetch-Site)";
	if (p->origin != NULL && !same_origin(p->origin, p))
		return "cross-origin request (Origin is not this host)";
	return NULL;
}

/* The provenance parameters of request r. */
static struct provenance
provenance(FCGX_Request *r)
{
	struct provenance	 p = {
		http_param(r, "HTTP_X_SITEPULSE_REQUEST"), http_param(r, "HTTP_ORIGIN"),
		http_param(r, "HTTP_SEC_FETCH_SITE"), http_param(r, "HTTP_HOST"),
		http_param(r, "HTTPS"), http_param(r, "REQUEST_SCHEME")
	};

	return p;
}

/*
 * Validates the query of an upload into u. Returns 1, or 0 with *why set
 * to the reason for a 400, like every validator.
 */
static int
parse_upload(const struct http_query *q, struct upload *u, const char **why)
{
	static const char *const names[] = { "site", "path", "device", NULL };
	const struct param_device *dev;

	if (!http_query_only(q, names))
		return *why = "unknown parameter", 0;
	u->site = http_query_get(q, "site");
	u->path = http_query_get(q, "path");
	u->device = http_query_get(q, "device");
	if (!valid_site_key(u->site))
		return *why = "site: missing or not a site key", 0;
	if (u->path == NULL || u->path[0] != '/' || !valid_text(u->path, strlen(u->path),
	    VALID_PATH_MAX))
		return *why = "path: missing or not a page path", 0;
	if ((dev = param_device(u->device, 0)) == NULL)
		return *why = "device: desktop, tablet or mobile", 0;
	u->device = dev->name;
	return 1;
}

/* True when path is a page path: starts with /, valid text of at most VALID_PATH_MAX bytes. */
static int
valid_page_path(const char *path)
{
	return path != NULL && path[0] == '/' && valid_text(path, strlen(path), VALID_PATH_MAX);
}

/*
 * Validates the query of a screenshots overview into o: site required,
 * path optional. Returns 1, or 0 with *why set to the reason for a 400.
 */
static int
parse_overview(const struct http_query *q, struct overview *o, const char **why)
{
	static const char *const names[] = { "site", "path", NULL };

	if (!http_query_only(q, names))
		return *why = "unknown parameter", 0;
	o->site = http_query_get(q, "site");
	o->path = http_query_get(q, "path");
	if (!valid_site_key(o->site))
		return *why = "site: missing or not a site key", 0;
	if (o->path != NULL && !valid_page_path(o->path))
		return *why = "path: not a page path", 0;
	return 1;
}

/*
 * Copies string member name of JSON object o into buf (size sz). Returns 1,
 * or 0 when it is missing, not a string or does not fit.
 */
static int
json_member(struct json_object *o, const char *name, char *buf, size_t sz)
{
	struct json_object	*v;
	int			 n;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return 0;
	n = json_object_get_string_len(v);
	if (n < 0 || (size_t)n >= sz || memchr(json_object_get_string(v), '\0', (size_t)n) != NULL)
		return 0;
	memcpy(buf, json_object_get_string(v), (size_t)n + 1);
	return 1;
}

/* True when the n bytes at s are all JSON whitespace. */
static int
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/*
 * Validates a capture request's body (len bytes, not NUL-terminated): one
 * JSON object of exactly the string members site, path and device, each
 * valid. Returns 1 with c filled in, or 0 with *why set to the reason for
 * a 400. Pure.
 */
static int
parse_capture(const char *body, size_t len, struct capture *c, const char **why)
{
	struct json_tokener	*tok;
	struct json_object	*root = NULL;
	int			 ok = 0;

	*why = NULL;
	if (len == 0)
		return *why = "body: empty (a JSON object with site, path and device)", 0;
	if ((tok = json_tokener_new_ex(4)) == NULL) {
		fprintf(stderr, "sp-admin: out of memory for a JSON parser\n");
		exit(1);
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !blank(body + json_tokener_get_parse_end(tok), len - json_tokener_get_parse_end(tok)))
		*why = "body: not one JSON object";
	else if (!json_object_is_type(root, json_type_object))
		*why = "body: not a JSON object";
	else if (json_object_object_length(root) != 3)
		*why = "body: exactly the members site, path and device";
	else if (!json_member(root, "site", c->site, sizeof(c->site)) || !valid_site_key(c->site))
		*why = "site: missing or not a site key";
	else if (!json_member(root, "path", c->path, sizeof(c->path)) || !valid_page_path(c->path))
		*why = "path: missing or not a page path";
	else if (!json_member(root, "device", c->device, sizeof(c->device)) ||
	    param_device(c->device, 0) == NULL)
		*why = "device: desktop, tablet or mobile";
	else
		ok = 1;
	json_object_put(root);
	json_tokener_free(tok);
	return ok;
}

/*
 * Validates a token request's body: a JSON object with the string members
 * site and label and, when make is true, an optional scope (read or
 * annotate); nothing else. A label is 1 to 100 characters of text without
 * control characters. Returns 1 with t filled in, or 0 with *why set for
 * a 400. Pure.
 */
static int
parse_token_req(const char *body, size_t len, int make, struct token_req *t, const char **why)
{
	struct json_tokener	*tok;
	struct json_object	*root = NULL;
	size_t			 chars = 0, n, members = 2;
	int			 ok = 0;

	memset(t, 0, sizeof(*t));
	*why = NULL;
	if (len == 0)
		return *why = "body: empty (a JSON object with site and label)", 0;
	if ((tok = json_tokener_new_ex(4)) == NULL) {
		fprintf(stderr, "sp-admin: out of memory for a JSON parser\n");
		exit(1);
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (make && root != NULL && json_object_is_type(root, json_type_object) &&
	    json_object_object_get_ex(root, "scope", NULL))
		members = 3;
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !blank(body + json_tokener_get_parse_end(tok), len - json_tokener_get_parse_end(tok)))
		*why = "body: not one JSON object";
	else if (!json_object_is_type(root, json_type_object))
		*why = "body: not a JSON object";
	else if ((size_t)json_object_object_length(root) != members)
		*why = make ? "body: the members site, label and (optionally) scope" :
		    "body: exactly the members site and label";
	else if (!json_member(root, "site", t->site, sizeof(t->site)) || !valid_site_key(t->site))
		*why = "site: missing or not a site key";
	else if (!json_member(root, "label", t->label, sizeof(t->label)) ||
	    (n = strlen(t->label)) == 0 || !valid_text(t->label, n, sizeof(t->label) - 1))
		*why = "label: 1 to 100 characters, no control characters";
	else if (members == 3 && (!json_member(root, "scope", t->scope, sizeof(t->scope)) ||
	    (strcmp(t->scope, "read") != 0 && strcmp(t->scope, "annotate") != 0)))
		*why = "scope: read or annotate";
	else {
		for (size_t i = 0; t->label[i] != '\0'; i++)
			chars += ((unsigned char)t->label[i] & 0xC0) != 0x80;
		if (chars > TOKEN_LABEL_MAX)
			*why = "label: 1 to 100 characters, no control characters";
		else
			ok = 1;
	}
	if (ok && t->scope[0] == '\0')
		snprintf(t->scope, sizeof(t->scope), "read");
	json_object_put(root);
	json_tokener_free(tok);
	return ok;
}

/* The HTTP status for an image_check() or image_reencode() refusal. */
static int
image_status(enum image_err e)
{
	switch (e) {
	case IMAGE_BAD_TYPE:	return 415;
	case IMAGE_TOO_LARGE:	return 413;
	case IMAGE_FAILED:	return 500;
	default:		return 400;
	}
}

/* png as PostgreSQL's hex bytea text ("\x..."); the caller frees it. */
static char *
bytea_hex(const unsigned char *png, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	char			*s = xmalloc(2 * n + 3), *p = s;

	*p++ = '\\';
	*p++ = 'x';
	for (size_t i = 0; i < n; i++) {
		*p++ = hex[png[i] >> 4];
		*p++ = hex[png[i] & 15];
	}
	*p = '\0';
	return s;
}

/*
 * Stores the re-encoded png of info's size for u. Returns 201 with the new
 * id in id, 404 for an unknown site, or 503 (database down) or 500 for the
 * database.
 */
static int
store(struct admin *a, const struct upload *u, const struct image_info *info,
    const unsigned char *png, size_t n, char *id, size_t idsz)
{
	char		 w[16], h[16], *hex = bytea_hex(png, n);
	const char	*params[6] = { u->site, u->path, u->device, w, h, hex };
	PGresult	*res;
	int		 status;

	snprintf(w, sizeof(w), "%d", info->width);
	snprintf(h, sizeof(h), "%d", info->height);
	res = db_exec(&a->db, Q_ADD, 6, params);
	free(hex);
	if (res == NULL)
		return a->db.err == DB_DOWN ? 503 : 500;
	status = PQgetisnull(res, 0, 0) ? 404 : 201;
	snprintf(id, idsz, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return status;
}

/* Answers 201 with the stored screenshot's id and size as JSON. */
static void
created(FCGX_Request *r, const char *id, const struct image_info *info, size_t n)
{
	http_status(r, 201, "Content-Type: application/json\r\nCache-Control: no-store\r\n");
	FCGX_FPrintF(r->out, "{\"id\":%s,\"width\":%d,\"height\":%d,\"bytes\":%lu}\n",
	    id, info->width, info->height, (unsigned long)n);
}

/*
 * POST /admin/screenshot. Answers 201, 400 (bad parameter, malformed or
 * undecodable image), 404 (unknown site), 413 (body over 8 MiB or
 * dimensions over the caps), 415 (neither PNG nor JPEG), 500 or 503.
 */
static void
do_upload(struct admin *a, FCGX_Request *r)
{
	struct http_query	 q;
	struct upload		 u;
	struct image_info	 info;
	enum image_err		 e;
	unsigned char		*png = NULL;
	const char		*why;
	char			 id[24];
	size_t			 len, n = 0;
	int			 rc;

	if (!http_query_parse(http_param(r, "QUERY_STRING"), &q)) {
		http_error(r, 400, "query: malformed", NULL);
		return;
	}
	if (!parse_upload(&q, &u, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	if (!may(a, r, u.site, "admin"))
		return;
	if ((rc = http_read_body(r, (char *)a->body, UPLOAD_MAX, &len)) <= 0) {
		http_error(r, rc == 0 ? 413 : 400, rc == 0 ? "image larger than 8 MiB" :
		    "body: unreadable or shorter than Content-Length", NULL);
		return;
	}
	if ((e = image_check(a->body, len, &info)) != IMAGE_OK ||
	    (e = image_reencode(a->body, len, &info, &png, &n)) != IMAGE_OK) {
		fprintf(stderr, "sp-admin: screenshot upload for %s %s refused: %s\n", u.site, u.path,
		    image_strerror(e));
		http_error(r, image_status(e), image_strerror(e), NULL);
		return;
	}
	rc = store(a, &u, &info, png, n, id, sizeof(id));
	free(png);
	if (rc == 201)
		created(r, id, &info, n);
	else if (rc == 404)
		http_error(r, 404, "unknown site", NULL);
	else
		http_db_error(r, rc == 503, a->cfg.retry_after);
}

/* Column col of row i of res as a JSON string, or JSON null when it is NULL. */
static struct json_object *
text_or_null(PGresult *res, int i, int col)
{
	return PQgetisnull(res, i, col) ? NULL : json_object_new_string(PQgetvalue(res, i, col));
}

/* Column col of row i of res as a JSON integer (0 when NULL). */
static struct json_object *
int_of(PGresult *res, int i, int col)
{
	return json_object_new_int64(PQgetisnull(res, i, col) ? 0 :
	    strtoll(PQgetvalue(res, i, col), NULL, 10));
}

/* Column col of row i of res as a JSON boolean. */
static struct json_object *
bool_of(PGresult *res, int i, int col)
{
	return json_object_new_boolean(strcmp(PQgetvalue(res, i, col), "t") == 0);
}

/* Row i of an overview result as a page object; its screenshot is null when it has none. */
static struct json_object *
overview_page(PGresult *res, int i)
{
	struct json_object	*page = json_object_new_object(), *shot = NULL;

	json_object_object_add(page, "path", text_or_null(res, i, O_PATH));
	json_object_object_add(page, "device", text_or_null(res, i, O_DEVICE));
	json_object_object_add(page, "clicks", int_of(res, i, O_CLICKS));
	if (!PQgetisnull(res, i, O_SHOT_ID)) {
		shot = json_object_new_object();
		json_object_object_add(shot, "id", int_of(res, i, O_SHOT_ID));
		json_object_object_add(shot, "created_at", text_or_null(res, i, O_CREATED));
		json_object_object_add(shot, "age_s", int_of(res, i, O_AGE));
		json_object_object_add(shot, "source", text_or_null(res, i, O_SOURCE));
		json_object_object_add(shot, "stale", json_object_new_boolean(!PQgetisnull(res, i, O_STALE)));
		json_object_object_add(shot, "reason", text_or_null(res, i, O_STALE));
	}
	json_object_object_add(page, "screenshot", shot);
	json_object_object_add(page, "queued", bool_of(res, i, O_QUEUED));
	return page;
}

/*
 * Runs statement q; when it refuses the request (db.h) answers the
 * refusal's status and reason, on a database error 500 or 503, and
 * returns NULL.
 */
static PGresult *
query(struct admin *a, FCGX_Request *r, enum stmt q, int n, const char *const *params)
{
	PGresult	*res;

	if ((res = db_exec(&a->db, q, n, params)) != NULL)
		return res;
	if (a->db.err == DB_REFUSED)
		http_error(r, a->db.refusal.status, a->db.refusal.reason, NULL);
	else
		http_db_error(r, a->db.err == DB_DOWN, a->cfg.retry_after);
	return NULL;
}

/*
 * Whether the signed-in user holds role need (viewer, admin, owner) or a
 * higher one on site; else answers 404 (no role, or no such site), 403
 * (a lower role), 500 or 503, and returns 0.
 */
static int
may(struct admin *a, FCGX_Request *r, const char *site, const char *need)
{
	const char	*params[2] = { http_param(r, "REMOTE_USER"), site };
	const char	*held;
	char		 why[96];
	PGresult	*res;
	int		 ok;

	if ((res = query(a, r, Q_ROLE, 2, params)) == NULL)
		return 0;
	held = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
	if (!(ok = access_role_allows(held, need))) {
		if (held == NULL)
			http_error(r, 404, "unknown site", NULL);
		else {
			snprintf(why, sizeof(why), "this needs the %s role on this site; yours is %s",
			    need, held);
			http_error(r, 403, why, NULL);
		}
	}
	PQclear(res);
	return ok;
}

/* Answers status with o as the JSON body, not to be cached, and frees o. */
static void
send_json(FCGX_Request *r, int status, struct json_object *o)
{
	http_status(r, status, "Content-Type: application/json\r\nCache-Control: no-store\r\n");
	FCGX_PutS(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE), r->out);
	FCGX_PutS("\n", r->out);
	json_object_put(o);
}

/* Reads a JSON body of at most max bytes into a->body; else answers 413 or 400. */
static int
small_body(struct admin *a, FCGX_Request *r, size_t max, size_t *len)
{
	char	 why[48];
	int	 rc;

	if ((rc = http_read_body(r, (char *)a->body, max, len)) <= 0) {
		snprintf(why, sizeof(why), "body larger than %zu KiB", max / 1024);
		http_error(r, rc == 0 ? 413 : 400, rc == 0 ? why :
		    "body: unreadable or shorter than Content-Length", NULL);
		return 0;
	}
	return 1;
}

/*
 * Answers 200 with the overview of site o as JSON (contract: README.md,
 * "Screenshots"): one row per page and device, or a single row with a NULL
 * path for a site that has none.
 */
static void
overview_json(FCGX_Request *r, const struct overview *o, PGresult *res)
{
	struct json_object	*root = json_object_new_object(), *cap = json_object_new_object();
	struct json_object	*pages = json_object_new_array();

	json_object_object_add(root, "site", json_object_new_string(o->site));
	json_object_object_add(root, "max_age_days", int_of(res, 0, O_MAX_AGE));
	json_object_object_add(cap, "available", bool_of(res, 0, O_AVAILABLE));
	json_object_object_add(cap, "last_seen", text_or_null(res, 0, O_LAST_SEEN));
	json_object_object_add(root, "capture", cap);
	for (int i = 0; i < PQntuples(res); i++)
		if (!PQgetisnull(res, i, O_PATH))
			json_object_array_add(pages, overview_page(res, i));
	json_object_object_add(root, "pages", pages);
	send_json(r, 200, root);
}

/*
 * GET /admin/screenshots. Answers 200, 400 (bad parameter), 404 (unknown
 * site), 500 or 503.
 */
static void
do_overview(struct admin *a, FCGX_Request *r)
{
	struct http_query	 q;
	struct overview		 o;
	const char		*why, *params[3];
	char			 fresh[16];
	PGresult		*res;

	if (!http_query_parse(http_param(r, "QUERY_STRING"), &q)) {
		http_error(r, 400, "query: malformed", NULL);
		return;
	}
	if (!parse_overview(&q, &o, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	if (!may(a, r, o.site, "viewer"))
		return;
	snprintf(fresh, sizeof(fresh), "%d", WORKER_FRESH_S);
	params[0] = o.site;
	params[1] = o.path;
	params[2] = fresh;
	if ((res = query(a, r, Q_OVERVIEW, 3, params)) == NULL)
		return;
	if (PQntuples(res) == 0)
		http_error(r, 404, "unknown site", NULL);
	else
		overview_json(r, &o, res);
	PQclear(res);
}

/*
 * POST /admin/capture. Answers 202, 400 (bad body), 404 (unknown site),
 * 413 (body over 4 KiB), 500 or 503.
 */
static void
do_capture(struct admin *a, FCGX_Request *r)
{
	struct capture		 c;
	const char		*why, *params[3];
	PGresult		*res;
	size_t			 len;
	int			 known;

	if (!small_body(a, r, CAPTURE_BODY_MAX, &len))
		return;
	if (!parse_capture((const char *)a->body, len, &c, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	if (!may(a, r, c.site, "admin"))
		return;
	params[0] = c.site;
	params[1] = c.path;
	params[2] = c.device;
	if ((res = query(a, r, Q_CAPTURE, 3, params)) == NULL)
		return;
	known = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!known) {
		http_error(r, 404, "unknown site", NULL);
		return;
	}
	http_status(r, 202, "Content-Type: application/json\r\nCache-Control: no-store\r\n");
	FCGX_PutS("{\"queued\":true}\n", r->out);
}

/* GET /admin/tokens?site=KEY: the site's tokens, no secrets. 200, 400, 500 or 503. */
static void
do_tokens(struct admin *a, FCGX_Request *r)
{
	static const char *const known[] = { "site", "_", NULL };
	struct http_query	 q;
	struct json_object	*root, *list;
	const char		*site, *params[1];
	PGresult		*res;

	if (!http_query_parse(http_param(r, "QUERY_STRING"), &q) || !http_query_only(&q, known) ||
	    (site = http_query_get(&q, "site")) == NULL || !valid_site_key(site)) {
		http_error(r, 400, "site: missing or not a site key", NULL);
		return;
	}
	if (!may(a, r, site, "admin"))
		return;
	params[0] = site;
	if ((res = query(a, r, Q_TOKENS, 1, params)) == NULL)
		return;
	root = json_object_new_object();
	list = json_object_new_array();
	for (int i = 0; i < PQntuples(res); i++) {
		struct json_object *t = json_object_new_object();
		json_object_object_add(t, "label", text_or_null(res, i, 0));
		json_object_object_add(t, "scope", text_or_null(res, i, 1));
		json_object_object_add(t, "created", text_or_null(res, i, 2));
		json_object_object_add(t, "last_used", text_or_null(res, i, 3));
		json_object_object_add(t, "revoked", text_or_null(res, i, 4));
		json_object_array_add(list, t);
	}
	PQclear(res);
	json_object_object_add(root, "site", json_object_new_string(site));
	json_object_object_add(root, "tokens", list);
	send_json(r, 200, root);
}

/*
 * POST /admin/token: makes a token and shows it, once. 201 {"token":...},
 * 400, 404 unknown site, 409 the label names a live token, 413, 500, 503.
 */
static void
do_token_add(struct admin *a, FCGX_Request *r)
{
	struct token_req	 t;
	struct json_object	*o;
	const char		*why, *params[3];
	PGresult		*res;
	size_t			 len;

	if (!small_body(a, r, CAPTURE_BODY_MAX, &len))
		return;
	if (!parse_token_req((const char *)a->body, len, 1, &t, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	if (!may(a, r, t.site, "admin"))
		return;
	params[0] = t.site;
	params[1] = t.label;
	params[2] = t.scope;
	if ((res = query(a, r, Q_TOKEN_ADD, 3, params)) == NULL)
		return;
	if (PQgetisnull(res, 0, 0) || *PQgetvalue(res, 0, 0) == '\0') {
		http_error(r, PQgetisnull(res, 0, 0) ? 404 : 409, PQgetisnull(res, 0, 0) ?
		    "unknown site" : "label: this site has a live token of that name", NULL);
		PQclear(res);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "token", json_object_new_string(PQgetvalue(res, 0, 0)));
	json_object_object_add(o, "label", json_object_new_string(t.label));
	json_object_object_add(o, "scope", json_object_new_string(t.scope));
	PQclear(res);
	fprintf(stderr, "sp-admin: API token \"%s\" (%s) made for site %s by %s\n", t.label, t.scope,
	    t.site, http_param(r, "REMOTE_USER"));
	send_json(r, 201, o);
}

/* POST /admin/token/revoke: 200 {"revoked":true}, 400, 404 no such live token, 413, 500, 503. */
static void
do_token_revoke(struct admin *a, FCGX_Request *r)
{
	struct token_req	 t;
	const char		*why, *params[2];
	PGresult		*res;
	size_t			 len;
	int			 done;

	if (!small_body(a, r, CAPTURE_BODY_MAX, &len))
		return;
	if (!parse_token_req((const char *)a->body, len, 0, &t, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	if (!may(a, r, t.site, "admin"))
		return;
	params[0] = t.site;
	params[1] = t.label;
	if ((res = query(a, r, Q_TOKEN_REVOKE, 2, params)) == NULL)
		return;
	done = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (!done) {
		http_error(r, 404, "no live token of that label for that site", NULL);
		return;
	}
	http_status(r, 200, "Content-Type: application/json\r\nCache-Control: no-store\r\n");
	FCGX_PutS("{\"revoked\":true}\n", r->out);
}

/* POST /admin/annotation: 201 {"id":N}, 400, 404 unknown site, 413, 500, 503. */
static void
do_annotation(struct admin *a, FCGX_Request *r)
{
	struct stats_note	 n;
	const char		*why, *params[4];
	char			 out[64];
	PGresult		*res;
	size_t			 len;

	if (!small_body(a, r, CAPTURE_BODY_MAX, &len))
		return;
	if (!stats_note_parse((const char *)a->body, len, 1, &n, &why)) {
		http_error(r, 400, why, NULL);
		return;
	}
	if (!may(a, r, n.site, "admin"))
		return;
	params[0] = n.site;
	params[1] = n.at;
	params[2] = n.note;
	params[3] = http_param(r, "REMOTE_USER");
	if ((res = query(a, r, Q_ANNOTATE, 4, params)) == NULL)
		return;
	if (PQgetisnull(res, 0, 0)) {
		PQclear(res);
		http_error(r, 404, "unknown site", NULL);
		return;
	}
	snprintf(out, sizeof(out), "{\"id\":%s}\n", PQgetvalue(res, 0, 0));
	PQclear(res);
	http_status(r, 201, "Content-Type: application/json\r\nCache-Control: no-store\r\n");
	FCGX_PutS(out, r->out);
}

/*
 * Whether every string in o, keys included, at any depth, is UTF-8
 * without NUL: PostgreSQL's jsonb takes nothing else, and the SQL
 * functions should see only text they can answer about.
 */
static int
ws_clean(struct json_object *o)
{
	struct json_object_iterator	 it, end;
	const char			*k;

	switch (json_object_get_type(o)) {
	case json_type_string:
		return valid_utf8(json_object_get_string(o), (size_t)json_object_get_string_len(o)) &&
		    memchr(json_object_get_string(o), '\0', (size_t)json_object_get_string_len(o)) == NULL;
	case json_type_array:
		for (size_t i = 0; i < json_object_array_length(o); i++)
			if (!ws_clean(json_object_array_get_idx(o, i)))
				return 0;
		return 1;
	case json_type_object:
		it = json_object_iter_begin(o);
		end = json_object_iter_end(o);
		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
			k = json_object_iter_peek_name(&it);
			if (!valid_utf8(k, strlen(k)) || !ws_clean(json_object_iter_peek_value(&it)))
				return 0;
		}
		return 1;
	default:
		return 1;
	}
}

/*
 * The arguments of a workspace GET: the query string's parameters as a
 * JSON object of strings (a repeated name keeps its last value). NULL for
 * a malformed query string or one that is not UTF-8.
 */
static struct json_object *
ws_query_args(const char *qs)
{
	struct http_query	 q;
	struct json_object	*o;

	if (!http_query_parse(qs, &q))
		return NULL;
	o = json_object_new_object();
	for (int i = 0; i < q.n; i++)
		json_object_object_add(o, q.key[i], json_object_new_string(q.val[i]));
	if (!ws_clean(o)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

/*
 * The arguments of a workspace POST: its body, which must be one JSON
 * object of at most WS_BODY_MAX bytes. NULL after answering 400 or 413.
 */
static struct json_object *
ws_body_args(struct admin *a, FCGX_Request *r)
{
	struct json_tokener	*tok;
	struct json_object	*o;
	size_t			 len;

	if (!small_body(a, r, WS_BODY_MAX, &len))
		return NULL;
	tok = json_tokener_new();
	o = json_tokener_parse_ex(tok, (const char *)a->body, (int)len);
	if (o != NULL && tok->char_offset != (int)len)
		json_object_put(o), o = NULL;
	json_tokener_free(tok);
	if (o == NULL || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		http_error(r, 400, "body: not a JSON object", NULL);
		return NULL;
	}
	if (!ws_clean(o)) {
		json_object_put(o);
		http_error(r, 400, "body: a string is not UTF-8 or holds a NUL", NULL);
		return NULL;
	}
	return o;
}

/*
 * A workspace route: statement q, a ws_* function, called with the
 * signed-in user and the request's arguments; answers its JSON with 200,
 * or its refusal (400, 403, 404, 409), or 500 or 503.
 */
static void
do_ws(struct admin *a, FCGX_Request *r, enum stmt q)
{
	struct json_object	*args;
	const char		*params[2];
	PGresult		*res;

	args = http_method_is(r, "POST") ? ws_body_args(a, r) :
	    ws_query_args(http_param(r, "QUERY_STRING"));
	if (args == NULL) {
		if (!http_method_is(r, "POST"))
			http_error(r, 400, "query: malformed or not UTF-8", NULL);
		return;
	}
	params[0] = http_param(r, "REMOTE_USER");
	params[1] = json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN);
	res = query(a, r, q, 2, params);
	json_object_put(args);
	if (res == NULL)
		return;
	http_status(r, 200, "Content-Type: application/json\r\nCache-Control: no-store\r\n");
	FCGX_PutS(PQgetvalue(res, 0, 0), r->out);
	FCGX_PutS("\n", r->out);
	PQclear(res);
}

/*
 * A route of sp-admin: its path suffix, method, whether it changes state,
 * and its handler, or for a workspace route (no handler) its statement.
 */
struct route {
	const char	*suffix;
	const char	*method;
	const char	*allow;		/* the Allow header of a 405 */
	int		 changes;	/* state-changing: the cross-site guard applies */
	void		(*handler)(struct admin *, FCGX_Request *);
	enum stmt	 ws;		/* without a handler: the ws_* function's statement */
};

#define WS_GET(sfx, q)	{ sfx, "GET", "Allow: GET, HEAD\r\n", 0, NULL, q }
#define WS_POST(sfx, q)	{ sfx, "POST", "Allow: POST\r\n", 1, NULL, q }

static const struct route routes[] = {
	{ "/admin/screenshot", "POST", "Allow: POST\r\n", 1, do_upload, Q__MAX },
	{ "/admin/screenshots", "GET", "Allow: GET, HEAD\r\n", 0, do_overview, Q__MAX },
	{ "/admin/capture", "POST", "Allow: POST\r\n", 1, do_capture, Q__MAX },
	{ "/admin/tokens", "GET", "Allow: GET, HEAD\r\n", 0, do_tokens, Q__MAX },
	{ "/admin/token", "POST", "Allow: POST\r\n", 1, do_token_add, Q__MAX },
	{ "/admin/token/revoke", "POST", "Allow: POST\r\n", 1, do_token_revoke, Q__MAX },
	{ "/admin/annotation", "POST", "Allow: POST\r\n", 1, do_annotation, Q__MAX },
	WS_GET("/admin/me", Q_WS_ME),
	WS_GET("/admin/sites", Q_WS_SITES),
	WS_POST("/admin/site", Q_WS_SITE_SAVE),
	WS_POST("/admin/site/remove", Q_WS_SITE_REMOVE),
	WS_GET("/admin/goals", Q_WS_GOALS),
	WS_POST("/admin/goal", Q_WS_GOAL_SAVE),
	WS_POST("/admin/goal/remove", Q_WS_GOAL_REMOVE),
	WS_POST("/admin/funnel", Q_WS_FUNNEL_SAVE),
	WS_POST("/admin/funnel/remove", Q_WS_FUNNEL_REMOVE),
	WS_GET("/admin/users", Q_WS_USERS),
	WS_POST("/admin/user", Q_WS_USER_ADD),
	WS_POST("/admin/user/remove", Q_WS_USER_REMOVE),
	WS_POST("/admin/grant", Q_WS_GRANT),
	WS_POST("/admin/revoke", Q_WS_REVOKE),
	WS_POST("/admin/password", Q_WS_PASSWORD),
};

/*
 * Routes one request. First of all, before anything of it is read, the
 * access its route was given (protected only: else 401 or 403, answered
 * by http_access()); then 404 for an unknown path, 405 (with Allow) for a
 * wrong method, and for a route that changes state, 403 for a request that
 * may come from another site; then the route's handler.
 */
static void
handle(struct admin *a, FCGX_Request *r)
{
	struct access		 acc;
	struct provenance	 p;
	const char		*why;
	char			 path[1024];

	const struct route	*rt = NULL;

	if (!http_access(r, ACCESS_PROTECTED, &acc))
		return;
	http_path(r, path, sizeof(path));
	p = provenance(r);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (http_ends_with(path, routes[i].suffix))
			rt = &routes[i];
	if (rt == NULL)
		http_error(r, 404, "not found", NULL);
	else if (!http_method_is(r, rt->method) &&
	    !(strcmp(rt->method, "GET") == 0 && http_method_is(r, "HEAD")))
		http_error(r, 405, "method not allowed", rt->allow);
	else if (rt->changes && (why = cross_site_refusal(&p)) != NULL) {
		fprintf(stderr, "sp-admin: %s by %s refused: %s\n", rt->suffix, acc.user, why);
		http_error(r, 403, why, NULL);
	} else if (rt->handler != NULL)
		rt->handler(a, r);
	else
		do_ws(a, r, rt->ws);
}

int
main(void)
{
	static struct admin	 a;
	FCGX_Request		 r;

	if (!config_load(&a.cfg))
		return 1;
	a.body = xmalloc(UPLOAD_MAX);
	db_init(&a.db, "sp-admin", sql, Q__MAX, &a.cfg);
	/*
	 * The region is this process's; the decoding child image_reencode()
	 * forks counts nothing (it never touches the database) and exits.
	 */
	a.ctr = counters_open(NULL, "sp-admin");
	a.db.counters = a.ctr;
	if (FCGX_Init() != 0 || FCGX_InitRequest(&r, 0, 0) != 0)
		return 1;
	while (FCGX_Accept_r(&r) >= 0) {
		handle(&a, &r);
		FCGX_Finish_r(&r);
	}
	db_close(&a.db);
	counters_close(a.ctr);
	free(a.body);
	return 0;
}
