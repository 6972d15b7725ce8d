#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "access.h"
#include "http.h"
#include "valid.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Decodes one application/x-www-form-urlencoded token of len bytes from s
 * into out ('+' is a space, %XX a byte), NUL-terminated. Returns the
 * decoded length, or -1 for a malformed escape, a NUL byte or bad UTF-8.
 */
static int
decode(const char *s, size_t len, char *out)
{
	size_t	 i, n = 0;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '+')
			out[n++] = ' ';
		else if (s[i] != '%')
			out[n++] = s[i];
		else {
			if (i + 2 >= len)
				return -1;
			if ((hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0)
				return -1;
			if ((out[n++] = (char)(hi << 4 | lo)) == '\0')
				return -1;
			i += 2;
		}
	}
	out[n] = '\0';
	return valid_utf8(out, n) ? (int)n : -1;
}

/*
 * Parses a query string (NULL counts as empty) into q. Keys and values are
 * decoded; a key repeated, more than HTTP_QUERY_MAX parameters, a query
 * longer than HTTP_QUERY_LEN, or a bad escape makes it fail. Returns 1 or 0.
 * Everything lives inside q: nothing to free. Pure and thread-safe.
 */
int
http_query_parse(const char *qs, struct http_query *q)
{
	const char	*p, *amp, *eq;
	char		*out = q->buf;
	int		 klen, vlen;

	q->n = 0;
	if (qs == NULL || *qs == '\0')
		return 1;
	if (strlen(qs) > HTTP_QUERY_LEN)
		return 0;
	for (p = qs; *p != '\0'; p = *amp ? amp + 1 : amp) {
		amp = strchrnul(p, '&');
		if (amp == p)
			continue;	/* "a=1&&b=2" */
		if (q->n == HTTP_QUERY_MAX)
			return 0;
		eq = memchr(p, '=', amp - p);
		if ((klen = decode(p, (eq ? eq : amp) - p, out)) <= 0)
			return 0;
		q->key[q->n] = out;
		out += klen + 1;
		vlen = eq ? decode(eq + 1, amp - eq - 1, out) : (*out = '\0', 0);
		if (vlen < 0)
			return 0;
		q->val[q->n] = out;
		out += vlen + 1;
		if (http_query_get(q, q->key[q->n]) != NULL)
			return 0;
		q->n++;
	}
	return 1;
}

/* The decoded value of parameter key, or NULL when absent. */
const char *
http_query_get(const struct http_query *q, const char *key)
{
	for (int i = 0; i < q->n; i++)
		if (strcmp(q->key[i], key) == 0)
			return q->val[i];
	return NULL;
}

/*
 * Checks that every parameter in q is one of the NULL-terminated names.
 * Returns 1, or 0 when there is an unknown one.
 */
int
http_query_only(const struct http_query *q, const char *const *names)
{
	for (int i = 0; i < q->n; i++) {
		const char *const *n;
		for (n = names; *n != NULL && strcmp(*n, q->key[i]) != 0; n++)
			;
		if (*n == NULL)
			return 0;
	}
	return 1;
}

/*
 * Takes filters= (a segment: sql/report/segments.sql judges its terms) out
 * of q, so that the endpoint's own parameter check need not know it, into
 * *filters: NULL when absent or empty, else text of at most
 * HTTP_FILTERS_MAX bytes without control characters (http_query_parse()
 * has checked its UTF-8). Returns 1, or 0 with *why set for a 400. Pure.
 */
int
http_query_filters(struct http_query *q, const char **filters, const char **why)
{
	*filters = NULL;
	for (int i = 0; i < q->n; i++) {
		if (strcmp(q->key[i], "filters") != 0)
			continue;
		*filters = *q->val[i] != '\0' ? q->val[i] : NULL;
		q->n--;
		memmove(&q->key[i], &q->key[i + 1], (q->n - i) * sizeof(q->key[0]));
		memmove(&q->val[i], &q->val[i + 1], (q->n - i) * sizeof(q->val[0]));
		break;
	}
	if (*filters != NULL && strlen(*filters) > HTTP_FILTERS_MAX)
		return *why = "filters: longer than 2048 bytes", 0;
	if (*filters != NULL && !valid_text(*filters, strlen(*filters), HTTP_FILTERS_MAX))
		return *why = "filters: control characters", 0;
	return 1;
}

/* A CGI parameter of the request, or NULL. Lives until FCGX_Finish_r. */
const char *
http_param(FCGX_Request *r, const char *name)
{
	return FCGX_GetParam(name, r->envp);
}

/* The request's path, without query string, into buf (empty if it does not fit). */
const char *
http_path(FCGX_Request *r, char *buf, size_t bufsz)
{
	const char	*uri = http_param(r, "REQUEST_URI");
	size_t		 n;

	if (uri == NULL)
		uri = http_param(r, "SCRIPT_NAME");
	n = uri ? strcspn(uri, "?") : 0;
	if (n >= bufsz)
		n = 0;
	memcpy(buf, uri ? uri : "", n);
	buf[n] = '\0';
	return buf;
}

int
http_method_is(FCGX_Request *r, const char *m)
{
	const char	*s = http_param(r, "REQUEST_METHOD");

	return s != NULL && strcmp(s, m) == 0;
}

/*
 * Reads the request body into buf (max bytes). Returns 1 with *len set,
 * 0 when the body is larger than max (CONTENT_LENGTH says so, or more
 * arrives), or -1 when the declared length is malformed or the body ends
 * early.
 */
int
http_read_body(FCGX_Request *r, char *buf, size_t max, size_t *len)
{
	const char	*cl = http_param(r, "CONTENT_LENGTH");
	long long	 want = 0;
	int		 n;
	char		 extra;

	*len = 0;
	if (cl != NULL && *cl != '\0' && !valid_int(cl, 0, 1LL << 40, &want))
		return -1;
	if ((size_t)want > max)
		return 0;
	while (*len < (size_t)want) {
		n = FCGX_GetStr(buf + *len, (int)(want - *len), r->in);
		if (n <= 0)
			return -1;
		*len += n;
	}
	if (FCGX_GetStr(&extra, 1, r->in) > 0)
		return 0;
	return 1;
}

/* The reason phrase of the statuses SitePulse answers with. */
const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Writes the status line and extra headers (each ending in \r\n), then the blank line. */
void
http_status(FCGX_Request *r, int status, const char *headers)
{
	FCGX_FPrintF(r->out, "Status: %d %s\r\n%s\r\n", status, http_reason(status),
	    headers ? headers : "");
}

/*
 * Answers status with {"error": reason} as JSON (reason escaped by json-c)
 * and the extra headers, which may be NULL.
 */
void
http_error(FCGX_Request *r, int status, const char *reason, const char *headers)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(reason));
	FCGX_FPrintF(r->out, "Status: %d %s\r\nContent-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n%s\r\n%s\n", status, http_reason(status),
	    headers ? headers : "", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
}

/*
 * Holds a request to the access its route was given by the web server
 * (access.h): served is the set of ACCESS_* route classes the program
 * answers. Returns 1 with *a filled in when the request may go on;
 * otherwise answers 401 or 403 itself and returns 0.
 */
int
http_access(FCGX_Request *r, unsigned served, struct access *a)
{
	const char	*why;
	int		 st;

	st = access_decide(http_param(r, "SITEPULSE_ACCESS"), http_param(r, "REMOTE_USER"),
	    served, a, &why);
	if (st == 0)
		return 1;
	http_error(r, st, why, st == 401 ? "WWW-Authenticate: Basic realm=\"SitePulse\"\r\n" : NULL);
	return 0;
}

/*
 * Answers a failed database call: 503 with Retry-After (retry_after
 * seconds) when down says the database is unreachable, otherwise 500.
 * Never the database's own text.
 */
void
http_db_error(FCGX_Request *r, int down, int retry_after)
{
	char	 hdr[48];

	if (down) {
		snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry_after);
		http_error(r, 503, "database unavailable", hdr);
	} else
		http_error(r, 500, "internal error", NULL);
}

/* True when path ends in suffix: how a program tells its own routes apart (never access). */
int
http_ends_with(const char *path, const char *suffix)
{
	size_t	 n = strlen(path), m = strlen(suffix);

	return n >= m && strcmp(path + n - m, suffix) == 0;
}
