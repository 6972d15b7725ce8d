#include <string.h>
#include <strings.h>

#include "access.h"

/*
 * The route class the web server declared in SITEPULSE_ACCESS. Unset,
 * empty or unknown values are ACCESS_PROTECTED: a config that forgets to
 * say, or says something this version does not know, gets the strictest
 * class, never a public one. Pure.
 */
enum access_route
access_route(const char *declared)
{
	if (declared != NULL && strcmp(declared, "public") == 0)
		return ACCESS_PUBLIC;
	if (declared != NULL && strcmp(declared, "share") == 0)
		return ACCESS_SHARE;
	if (declared != NULL && strcmp(declared, "token") == 0)
		return ACCESS_TOKEN;
	return ACCESS_PROTECTED;
}

/*
 * Decides a request from what the web server passed: declared (the
 * SITEPULSE_ACCESS parameter, may be NULL) and user (REMOTE_USER, may be
 * NULL); served is the set of route classes (ACCESS_* bits) the program
 * answers. Fills a and returns 0 when the request may go on; otherwise
 * returns 401 (a protected route the server did not authenticate) or 403
 * (a route class the program does not serve) with the reason in *why. A
 * token route goes on without a user: the program then checks the Bearer
 * token (access_bearer() and the database), and never takes REMOTE_USER
 * there as a reason to serve more. Pure.
 */
int
access_decide(const char *declared, const char *user, unsigned served, struct access *a,
    const char **why)
{
	a->route = access_route(declared);
	a->user = NULL;
	if (!(served & a->route))
		return *why = "not served on this route", 403;
	if (a->route != ACCESS_PROTECTED)
		return 0;
	if (user == NULL || *user == '\0')
		return *why = "authentication required", 401;
	a->user = user;
	return 0;
}

/*
 * Takes the API token out of an Authorization header value: the scheme
 * "Bearer" (any case, RFC 7235), one or more spaces, and a token of the
 * form sql/021 makes ("spt_" and 43 base64url characters), nothing after
 * it. Copies the token into out (outsz > ACCESS_TOKEN_LEN) and returns 1;
 * returns 0 for anything else (no header, another scheme, a token of
 * another shape), which the program answers 401 without asking the
 * database. Pure.
 */
int
access_bearer(const char *header, char *out, size_t outsz)
{
	static const char	 b64url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char		*t;
	size_t			 plen = strlen(ACCESS_TOKEN_PREFIX);

	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0 || outsz <= ACCESS_TOKEN_LEN)
		return 0;
	for (t = header + 7; *t == ' '; t++)
		;
	if (strncmp(t, ACCESS_TOKEN_PREFIX, plen) != 0 || strlen(t) != ACCESS_TOKEN_LEN ||
	    plen + strspn(t + plen, b64url) != ACCESS_TOKEN_LEN)
		return 0;
	memcpy(out, t, ACCESS_TOKEN_LEN + 1);
	return 1;
}

/*
 * The rank of a role on a site (sql/022_users_roles.sql): viewer 1, admin
 * 2, owner 3, anything else (NULL included) 0. Pure.
 */
int
access_role_rank(const char *role)
{
	static const char *const ranks[] = { "viewer", "admin", "owner" };

	for (int i = 0; role != NULL && i < 3; i++)
		if (strcmp(role, ranks[i]) == 0)
			return i + 1;
	return 0;
}

/*
 * Whether role held (what sitepulse.site_role() answered, NULL for none)
 * is need or higher; need must be a role. Pure.
 */
int
access_role_allows(const char *held, const char *need)
{
	return access_role_rank(held) > 0 && access_role_rank(held) >= access_role_rank(need);
}
