/*
 * Tests of sp-admin (fcgi/sp-admin.c, included with its main renamed):
 * the cross-site check and the validators of the screenshots overview's
 * query and the capture request's body, table-driven, and whole requests through handle()
 * on in-memory FastCGI streams, none of which reaches the database: a
 * route the web server did not authenticate or did not declare protected
 * is refused before the body is read, and so is an upload that may come
 * from another site.
 */
#define main	sp_admin_main
int	 sp_admin_main(void);
#include "sp-admin.c"
#undef main

#include "tap.h"

static void
test_cross_site(void)
{
	static const struct {
		const char		*name;
		struct provenance	 p;	/* marker, origin, fetch_site, host, https, scheme */
		int			 refused;
	} t[] = {
		{ "dashboard fetch", { "1", "http://a.test", "same-origin", "a.test", NULL, "http" }, 0 },
		{ "no Origin, no Sec-Fetch-Site (curl)", { "1", NULL, NULL, "a.test", NULL, NULL }, 0 },
		{ "Sec-Fetch-Site none", { "1", NULL, "none", "a.test", NULL, NULL }, 0 },
		{ "host with port", { "1", "http://a.test:8080", NULL, "a.test:8080", NULL, NULL }, 0 },
		{ "default port on one side", { "1", "http://a.test", NULL, "a.test:80", NULL, NULL }, 0 },
		{ "https default port", { "1", "https://a.test:443", NULL, "a.test", "on", NULL }, 0 },
		{ "case of scheme and host", { "1", "HTTP://A.Test", NULL, "a.test", NULL, NULL }, 0 },
		{ "https by REQUEST_SCHEME", { "1", "https://a.test", NULL, "a.test", NULL, "https" }, 0 },
		{ "IPv6 host", { "1", "http://[::1]:8080", NULL, "[::1]:8080", NULL, NULL }, 0 },
		{ "no marker", { NULL, "http://a.test", "same-origin", "a.test", NULL, NULL }, 1 },
		{ "marker not 1", { "0", NULL, NULL, "a.test", NULL, NULL }, 1 },
		{ "form from another site", { NULL, "http://evil.example", "cross-site", "a.test", NULL, NULL }, 1 },
		{ "marker, but Origin of another site", { "1", "http://evil.example", NULL, "a.test", NULL, NULL }, 1 },
		{ "Sec-Fetch-Site cross-site", { "1", NULL, "cross-site", "a.test", NULL, NULL }, 1 },
		{ "Sec-Fetch-Site same-site", { "1", NULL, "same-site", "a.test", NULL, NULL }, 1 },
		{ "Origin null", { "1", "null", NULL, "a.test", NULL, NULL }, 1 },
		{ "other port", { "1", "http://a.test:8081", NULL, "a.test:8080", NULL, NULL }, 1 },
		{ "other scheme (http page, https request)", { "1", "http://a.test", NULL, "a.test", "on", NULL }, 1 },
		{ "other scheme (https page, http request)", { "1", "https://a.test", NULL, "a.test", NULL, "http" }, 1 },
		{ "host prefix", { "1", "http://a.test.evil", NULL, "a.test", NULL, NULL }, 1 },
		{ "host suffix", { "1", "http://a.tes", NULL, "a.test", NULL, NULL }, 1 },
		{ "Origin with a path", { "1", "http://a.test/x", NULL, "a.test", NULL, NULL }, 1 },
		{ "Origin, no Host", { "1", "http://a.test", NULL, NULL, NULL, NULL }, 1 },
		{ "Origin scheme only", { "1", "http://", NULL, "", NULL, NULL }, 1 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *why = cross_site_refusal(&t[i].p);
		ok((why != NULL) == t[i].refused, "cross-site: %s: %s (%s)", t[i].name,
		    t[i].refused ? "403" : "allowed", why ? why : "-");
	}
}

static void
test_parse_overview(void)
{
	static const struct {
		const char	*query;
		int		 ok;
	} t[] = {
		{ "site=demo", 1 },
		{ "site=demo&path=/pricing.html", 1 },
		{ "site=a_b-C9&path=/", 1 },
		{ "", 0 },
		{ "path=/x", 0 },
		{ "site=", 0 },
		{ "site=de%20mo", 0 },
		{ "site=demo&path=x", 0 },
		{ "site=demo&path=", 0 },
		{ "site=demo&path=/%00x", 0 },
		{ "site=demo&path=/%ff", 0 },
		{ "site=demo&device=mobile", 0 },
		{ "site=demo&site=other", 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct http_query	 q;
		struct overview		 o;
		const char		*why = NULL;
		int			 valid = http_query_parse(t[i].query, &q) && parse_overview(&q, &o, &why);

		ok(valid == t[i].ok, "overview query \"%s\": %s (%s)", t[i].query, t[i].ok ? "valid" : "400",
		    why ? why : "-");
	}
}

static void
test_parse_capture(void)
{
	static const struct {
		const char	*body;
		int		 ok;
		const char	*device;
	} t[] = {
		{ "{\"site\":\"demo\",\"path\":\"/\",\"device\":\"desktop\"}", 1, "desktop" },
		{ "{\"device\":\"mobile\",\"path\":\"/a/b?c\",\"site\":\"x_1\"}\n", 1, "mobile" },
		{ " {\"site\":\"demo\",\"path\":\"/p\",\"device\":\"tablet\"} \r\n", 1, "tablet" },
		{ "", 0, NULL },
		{ "null", 0, NULL },
		{ "[]", 0, NULL },
		{ "\"demo\"", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"/\"}", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"/\",\"device\":\"desktop\",\"x\":1}", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"/\",\"device\":\"all\"}", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"/\",\"device\":\"Desktop\"}", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"/\",\"device\":null}", 0, NULL },
		{ "{\"site\":\"de mo\",\"path\":\"/\",\"device\":\"desktop\"}", 0, NULL },
		{ "{\"site\":1,\"path\":\"/\",\"device\":\"desktop\"}", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"x\",\"device\":\"desktop\"}", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"\",\"device\":\"desktop\"}", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"/\\u0000x\",\"device\":\"desktop\"}", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"//evil.example/\",\"device\":\"desktop\"}", 1, "desktop" },
		{ "{\"site\":\"demo\",\"path\":\"/\",\"device\":\"desktop\"} {}", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"/\",\"device\":\"desktop\"", 0, NULL },
		{ "{\"site\":\"demo\",\"site\":\"demo\",\"device\":\"desktop\"}", 0, NULL },
		{ "{'site':'demo','path':'/','device':'desktop'}", 0, NULL },
		{ "{\"site\":\"demo\",\"path\":\"/\xff\",\"device\":\"desktop\"}", 0, NULL },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct capture	 c;
		const char	*why = NULL;
		int		 valid = parse_capture(t[i].body, strlen(t[i].body), &c, &why);

		ok(valid == t[i].ok && (!valid || strcmp(c.device, t[i].device) == 0) && (valid || why != NULL),
		    "capture body %.*s: %s (%s)", (int)strcspn(t[i].body, "\r\n"), t[i].body,
		    t[i].ok ? "valid" : "400", why ? why : "-");
	}
	/* A path one byte over the limit, and one at it. */
	{
		char		 body[VALID_PATH_MAX + 128], path[VALID_PATH_MAX + 2];
		struct capture	 c;
		const char	*why;

		memset(path, 'a', sizeof(path) - 1);
		path[0] = '/';
		path[sizeof(path) - 1] = '\0';
		snprintf(body, sizeof(body), "{\"site\":\"d\",\"path\":\"%s\",\"device\":\"mobile\"}", path);
		ok(!parse_capture(body, strlen(body), &c, &why), "capture: a path of %zu bytes: 400",
		    strlen(path));
		path[VALID_PATH_MAX] = '\0';
		snprintf(body, sizeof(body), "{\"site\":\"d\",\"path\":\"%s\",\"device\":\"mobile\"}", path);
		ok(parse_capture(body, strlen(body), &c, &why) && strcmp(c.path, path) == 0,
		    "capture: a path of %zu bytes: valid", strlen(path));
	}
}

/* One request on in-memory streams, and what handle() wrote. */
struct fake {
	FCGX_Request	 r;
	FCGX_Stream	 in, out;
	const char	*body;
	unsigned char	 outbuf[8192];
};

/* The input stream's refill: there is no more. */
static void
in_end(FCGX_Stream *s)
{
	s->isClosed = 1;
}

/* The output stream's flush: the buffer is all there is. */
static void
out_full(FCGX_Stream *s, int close)
{
	s->isClosed = 1;
}

/* Runs handle() on a request of env (NULL-terminated "NAME=value") and body; returns the status. */
static int
run(struct admin *a, struct fake *f, char **env, const char *body, size_t len)
{
	memset(f, 0, sizeof(*f));
	f->body = body;
	f->in.rdNext = f->in.stopUnget = (unsigned char *)body;
	f->in.stop = f->in.wrNext = (unsigned char *)body + len;
	f->in.isReader = 1;
	f->in.fillBuffProc = in_end;
	f->out.wrNext = f->outbuf;
	f->out.stop = f->out.rdNext = f->outbuf + sizeof(f->outbuf) - 1;
	f->out.emptyBuffProc = out_full;
	f->r.in = &f->in;
	f->r.out = &f->out;
	f->r.envp = env;
	handle(a, &f->r);
	return strncmp((char *)f->outbuf, "Status: ", 8) == 0 ? atoi((char *)f->outbuf + 8) : 0;
}

/* True when handle() read nothing of the body. */
static int
unread(const struct fake *f)
{
	return f->in.rdNext == (const unsigned char *)f->body;
}

#define UPLOAD	"REQUEST_METHOD=POST", \
		"REQUEST_URI=/sitepulse/admin/screenshot?site=demo&path=/x", \
		"QUERY_STRING=site=demo&path=/x", "CONTENT_LENGTH=16", "HTTP_HOST=a.test"

static void
test_requests(void)
{
	static struct admin	 a;
	static const char	 gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff";
	struct fake		 f;
	char			*anonymous[] = { UPLOAD, NULL };
	char			*public[] = { UPLOAD, "SITEPULSE_ACCESS=public", "REMOTE_USER=admin", NULL };
	char			*share[] = { UPLOAD, "SITEPULSE_ACCESS=share", "REMOTE_USER=admin", NULL };
	char			*plain[] = { UPLOAD, "SITEPULSE_ACCESS=protected", "REMOTE_USER=admin",
				    "CONTENT_TYPE=text/plain", "HTTP_ORIGIN=http://evil.example", NULL };
	char			*marked[] = { UPLOAD, "REMOTE_USER=admin",
				    "HTTP_X_SITEPULSE_REQUEST=1", "HTTP_ORIGIN=http://a.test",
				    "HTTP_SEC_FETCH_SITE=same-origin", NULL };
	char			*other[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/sitepulse/admin/x",
				    "REMOTE_USER=admin", NULL };
	static const char	 capture_body[] = "{\"site\":\"demo\",\"path\":\"/\",\"device\":\"desktop\"}";
	char			*shots_anonymous[] = { "REQUEST_METHOD=GET",
				    "REQUEST_URI=/sitepulse/admin/screenshots?site=demo", "QUERY_STRING=site=demo", NULL };
	char			*shots_post[] = { "REQUEST_METHOD=POST", "REMOTE_USER=admin",
				    "REQUEST_URI=/sitepulse/admin/screenshots?site=demo", "QUERY_STRING=site=demo",
				    "HTTP_X_SITEPULSE_REQUEST=1", NULL };
	char			*shots_bad[] = { "REQUEST_METHOD=GET", "REMOTE_USER=admin",
				    "REQUEST_URI=/sitepulse/admin/screenshots?site=a%20b", "QUERY_STRING=site=a%20b", NULL };
	char			*capture_get[] = { "REQUEST_METHOD=GET", "REMOTE_USER=admin",
				    "REQUEST_URI=/sitepulse/admin/capture", NULL };
	char			*capture_unmarked[] = { "REQUEST_METHOD=POST", "REMOTE_USER=admin",
				    "REQUEST_URI=/sitepulse/admin/capture", "CONTENT_LENGTH=49", "HTTP_HOST=a.test", NULL };
	char			*capture_foreign[] = { "REQUEST_METHOD=POST", "REMOTE_USER=admin",
				    "REQUEST_URI=/sitepulse/admin/capture", "CONTENT_LENGTH=49", "HTTP_HOST=a.test",
				    "HTTP_X_SITEPULSE_REQUEST=1", "HTTP_ORIGIN=http://evil.example", NULL };
	char			*capture_marked[] = { "REQUEST_METHOD=POST", "REMOTE_USER=admin",
				    "REQUEST_URI=/sitepulse/admin/capture", "CONTENT_LENGTH=15", "HTTP_HOST=a.test",
				    "HTTP_X_SITEPULSE_REQUEST=1", "HTTP_ORIGIN=http://a.test", NULL };
	char			*capture_big[] = { "REQUEST_METHOD=POST", "REMOTE_USER=admin",
				    "REQUEST_URI=/sitepulse/admin/capture", "CONTENT_LENGTH=5000", "HTTP_HOST=a.test",
				    "HTTP_X_SITEPULSE_REQUEST=1", NULL };

	a.body = xmalloc(UPLOAD_MAX);
	ok(run(&a, &f, anonymous, gif, 16) == 401 && unread(&f) &&
	    strstr((char *)f.outbuf, "WWW-Authenticate: Basic") != NULL,
	    "no SITEPULSE_ACCESS and no REMOTE_USER: 401 before the body is read");
	ok(run(&a, &f, public, gif, 16) == 403 && unread(&f), "a route declared public: 403");
	ok(run(&a, &f, share, gif, 16) == 403 && unread(&f), "a route declared share: 403");
	ok(run(&a, &f, other, "", 0) == 404, "authenticated, unknown path: 404");
	ok(run(&a, &f, plain, gif, 16) == 403 && unread(&f) &&
	    strstr((char *)f.outbuf, "\"error\":") != NULL,
	    "authenticated text/plain upload from another origin: 403 with a JSON reason, body unread");
	/* The role check (sql/022) comes next; here no database can answer it. */
	setenv("PGHOST", "/nonexistent", 1);
	ok(run(&a, &f, marked, gif, 16) == 503 && unread(&f),
	    "authenticated same-origin upload with the header reaches the role check, before the "
	    "body is read (no database: 503)");
	ok(run(&a, &f, shots_anonymous, "", 0) == 401, "screenshots overview, not authenticated: 401");
	ok(run(&a, &f, shots_post, "", 0) == 405 && strstr((char *)f.outbuf, "Allow: GET") != NULL,
	    "screenshots overview by POST: 405 with Allow: GET");
	ok(run(&a, &f, shots_bad, "", 0) == 400 && strstr((char *)f.outbuf, "\"error\":\"site:") != NULL,
	    "screenshots overview with a bad site: 400 naming site");
	ok(run(&a, &f, capture_get, "", 0) == 405 && strstr((char *)f.outbuf, "Allow: POST") != NULL,
	    "capture by GET: 405 with Allow: POST");
	ok(run(&a, &f, capture_unmarked, capture_body, strlen(capture_body)) == 403 && unread(&f),
	    "capture without X-SitePulse-Request: 403, body unread");
	ok(run(&a, &f, capture_foreign, capture_body, strlen(capture_body)) == 403 && unread(&f),
	    "capture from another origin: 403, body unread");
	ok(run(&a, &f, capture_marked, "{\"site\":\"demo\"}", 15) == 400 && !unread(&f) &&
	    strstr((char *)f.outbuf, "\"error\":") != NULL,
	    "capture with a bad body: 400 with a JSON reason");
	ok(run(&a, &f, capture_big, capture_body, strlen(capture_body)) == 413,
	    "capture with a body over 4 KiB (Content-Length): 413");
	free(a.body);
}

/* parse_token_req(): the body of POST /admin/token (make) and /admin/token/revoke. */
static void
test_parse_token(void)
{
	static const struct {
		const char	*body;
		int		 make, ok;
		const char	*scope;
	} t[] = {
		{ "{\"site\":\"demo\",\"label\":\"deploy script\"}", 1, 1, "read" },
		{ "{\"site\":\"demo\",\"label\":\"ci\",\"scope\":\"annotate\"}", 1, 1, "annotate" },
		{ "{\"site\":\"demo\",\"label\":\"ci\",\"scope\":\"read\"}\n", 1, 1, "read" },
		{ "{\"label\":\"caf\u00e9\",\"site\":\"demo\"}", 0, 1, "read" },
		{ "{\"site\":\"demo\",\"label\":\"ci\",\"scope\":\"annotate\"}", 0, 0, NULL },
		{ "{\"site\":\"demo\",\"label\":\"ci\",\"scope\":\"admin\"}", 1, 0, NULL },
		{ "{\"site\":\"demo\",\"label\":\"ci\",\"scope\":null}", 1, 0, NULL },
		{ "{\"site\":\"demo\",\"label\":\"\"}", 1, 0, NULL },
		{ "{\"site\":\"demo\",\"label\":\"a\\nb\"}", 1, 0, NULL },
		{ "{\"site\":\"demo\",\"label\":\"a\\u0000b\"}", 1, 0, NULL },
		{ "{\"site\":\"demo\",\"label\":5}", 1, 0, NULL },
		{ "{\"site\":\"de mo\",\"label\":\"x\"}", 1, 0, NULL },
		{ "{\"site\":\"demo\"}", 1, 0, NULL },
		{ "{\"site\":\"demo\",\"label\":\"x\",\"extra\":1}", 1, 0, NULL },
		{ "{\"site\":\"demo\",\"label\":\"x\"} []", 1, 0, NULL },
		{ "[\"demo\",\"x\"]", 1, 0, NULL },
		{ "", 1, 0, NULL },
		{ "{\"site\":\"demo\",\"label\":\"\xff\"}", 1, 0, NULL },
	};
	struct token_req	 tr;
	const char		*why;
	char			 body[1200];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		why = NULL;
		int valid = parse_token_req(t[i].body, strlen(t[i].body), t[i].make, &tr, &why);
		ok(valid == t[i].ok && (!valid || strcmp(tr.scope, t[i].scope) == 0) && (valid || why != NULL),
		    "token body case %zu (%s): %s (%s)", i, t[i].make ? "make" : "revoke",
		    t[i].ok ? "valid" : "400", valid ? tr.scope : why);
	}
	/* A label of 100 characters (two bytes each) is fine, 101 is not. */
	for (int n = 100; n <= 101; n++) {
		char *p = body + sprintf(body, "{\"site\":\"demo\",\"label\":\"");
		for (int i = 0; i < n; i++)
			p += sprintf(p, "\xc3\xa9");
		p += sprintf(p, "\"}");
		ok(parse_token_req(body, (size_t)(p - body), 1, &tr, &why) == (n == 100),
		    "a label of %d characters: %s", n, n == 100 ? "valid" : "400");
	}
}

int
main(void)
{
	test_cross_site();
	test_parse_overview();
	test_parse_capture();
	test_parse_token();
	test_requests();
	return done_testing();
}
