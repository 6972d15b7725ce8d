/*
 * access: who may use a request, as the web server decided it.
 *
 * A program never infers from the request's URI whether it is public. The
 * shipped web server configs set SITEPULSE_ACCESS on every route that leads
 * to a program (lighttpd setenv.add-environment, Apache SetEnv), and the
 * web server alone can set it: a client's headers arrive as HTTP_* names.
 *
 *   public     visitors' intake (collect, collect.gif): no user, no token
 *   share      a share link: one site, read-only, chosen by its token
 *   token      the stats API for scripts: one site, chosen by the API token
 *              in the Authorization header (Bearer), which the program checks
 *   protected  behind the web server's authentication (also when unset)
 *
 * Every program fails closed: a protected route answers 401 unless the web
 * server says it authenticated the request (REMOTE_USER), a share route
 * serves only its token's site, a token route answers 401 without a
 * well-formed Bearer token (access_bearer()), and a route class a program
 * does not serve is 403.
 */
#ifndef SP_ACCESS_H
#define SP_ACCESS_H

enum access_route {
	ACCESS_PROTECTED = 1,
	ACCESS_SHARE = 2,
	ACCESS_PUBLIC = 4,
	ACCESS_TOKEN = 8
};

/* An API token: "spt_" and 43 base64url characters (sql/021). */
#define ACCESS_TOKEN_PREFIX	"spt_"
#define ACCESS_TOKEN_LEN	47

/* What a request may do, once access_check() has allowed it. */
struct access {
	enum access_route	 route;
	const char		*user;	/* REMOTE_USER on a protected route, else NULL */
};

enum access_route	 access_route(const char *);
int			 access_decide(const char *, const char *, unsigned, struct access *,
			    const char **);
int			 access_bearer(const char *, char *, size_t);
int			 access_role_rank(const char *);
int			 access_role_allows(const char *, const char *);

#endif
