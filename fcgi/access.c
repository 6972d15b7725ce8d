#include <string.h>

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
	return ACCESS_PROTECTED;
}

/*
 * Decides a request from what the web server passed: declared (the
 * SITEPULSE_ACCESS parameter, may be NULL) and user (REMOTE_USER, may be
 * NULL); served is the set of route classes (ACCESS_* bits) the program
 * answers. Fills a and returns 0 when the request may go on; otherwise
 * returns 401 (a protected route the server did not authenticate) or 403
 * (a route class the program does not serve) with the reason in *why. Pure.
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
