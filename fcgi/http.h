/*
 * http: the FastCGI side of a request. Reading the body within a limit,
 * parsing query strings, and writing answers: every error is a status and
 * a short JSON reason, never database text.
 */
#ifndef SP_HTTP_H
#define SP_HTTP_H

#include <stddef.h>

#include <fcgiapp.h>

struct access;

#define HTTP_QUERY_MAX		 32	/* parameters */
#define HTTP_QUERY_LEN		 4096	/* bytes of query string */

#define HTTP_FILTERS_MAX 2048	/* bytes of filters= (sql/report/segments.sql) */

struct http_query {
	int	 n;
	char	*key[HTTP_QUERY_MAX];
	char	*val[HTTP_QUERY_MAX];
	/*
	 * Decoded text: never longer than its input, plus two NULs a
	 * parameter (key and value, even when "=value" is absent).
	 */
	char	 buf[HTTP_QUERY_LEN + 2 * HTTP_QUERY_MAX];
};

int		 http_query_parse(const char *, struct http_query *);
const char	*http_query_get(const struct http_query *, const char *);
int		 http_query_only(const struct http_query *, const char *const *);
int		 http_query_filters(struct http_query *, const char **, const char **);

const char	*http_param(FCGX_Request *, const char *);
const char	*http_path(FCGX_Request *, char *, size_t);
int		 http_method_is(FCGX_Request *, const char *);
int		 http_read_body(FCGX_Request *, char *, size_t, size_t *);
void		 http_error(FCGX_Request *, int, const char *, const char *);
void		 http_status(FCGX_Request *, int, const char *);
const char	*http_reason(int);
int		 http_access(FCGX_Request *, unsigned, struct access *);
void		 http_db_error(FCGX_Request *, int, int);
int		 http_ends_with(const char *, const char *);

#endif
