/*
 * sp-admin: the administrator's endpoints, behind the web server's
 * authentication like the dashboard. It serves protected routes only
 * (access.h): a request the web server did not authenticate is 401, one
 * on a route declared public or share is 403, before anything is read.
 *
 *   POST /sitepulse/admin/screenshot?site=KEY&path=/x[&device=desktop|tablet|mobile]
 *        header: X-SitePulse-Request: 1
 *        body: a PNG or JPEG image of at most 8 MiB (any Content-Type)
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
#include <libpq-fe.h>

#include "access.h"
#include "config.h"
#include "counters.h"
#include "db.h"
#include "http.h"
#include "image.h"
#include "param.h"
#include "util.h"
#include "valid.h"

#define UPLOAD_MAX	 (8 << 20)

enum stmt { Q_ADD, Q__MAX };

static const char *const sql[Q__MAX] = {
	[Q_ADD] = "SELECT sitepulse.add_screenshot($1, $2, $3, $4::int, $5::int, $6::bytea, "
	    "NULL, 'upload')",
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

/* What a request says about where it comes from: CGI parameters, each may be NULL. */
struct provenance {
	const char	*marker;	/* HTTP_X_SITEPULSE_REQUEST */
	const char	*origin;	/* HTTP_ORIGIN */
	const char	*fetch_site;	/* HTTP_SEC_FETCH_SITE */
	const char	*host;		/* HTTP_HOST */
	const char	*https;		/* HTTPS: "on" over TLS */
	const char	*scheme;	/* REQUEST_SCHEME */
};

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

/*
 * Routes one request. First of all, before anything of it is read, the
 * access its route was given (protected only: else 401 or 403, answered
 * by http_access()); then 404 for an unknown path, 405 (with Allow) for a
 * wrong method, and 403 for a request that may come from another site.
 */
static void
handle(struct admin *a, FCGX_Request *r)
{
	struct access		 acc;
	struct provenance	 p;
	const char		*why;
	char			 path[1024];

	if (!http_access(r, ACCESS_PROTECTED, &acc))
		return;
	http_path(r, path, sizeof(path));
	p = provenance(r);
	if (!http_ends_with(path, "/admin/screenshot"))
		http_error(r, 404, "not found", NULL);
	else if (!http_method_is(r, "POST"))
		http_error(r, 405, "method not allowed", "Allow: POST\r\n");
	else if ((why = cross_site_refusal(&p)) != NULL) {
		fprintf(stderr, "sp-admin: upload by %s refused: %s\n", acc.user, why);
		http_error(r, 403, why, NULL);
	} else
		do_upload(a, r);
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
