/*
 * Table-driven tests of fcgi/access.c: access_bearer() (the API token in
 * an Authorization header) and access_role_allows() (a role on a site).
 */
#include <string.h>

#include "access.h"
#include "tap.h"

#define B43 "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"	/* 43 base64url characters */
#define TOK "spt_" B43

static void
test_bearer(void)
{
	static const struct { const char *header; int want; } t[] = {
		{ "Bearer " TOK, 1 },
		{ "bearer " TOK, 1 },				/* the scheme is case-insensitive */
		{ "BEARER " TOK, 1 },
		{ "Bearer   " TOK, 1 },				/* more spaces */
		{ NULL, 0 },
		{ "", 0 },
		{ "Bearer", 0 },
		{ "Bearer ", 0 },
		{ "Bearer" TOK, 0 },
		{ "Bearer\t" TOK, 0 },
		{ TOK, 0 },
		{ "Basic YWRtaW46eA==", 0 },
		{ "Token " TOK, 0 },
		{ "Bearer " TOK " ", 0 },			/* nothing after it */
		{ "Bearer " TOK "A", 0 },			/* one character more */
		{ "Bearer " TOK ", Bearer " TOK, 0 },
		{ "Bearer spt_" "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd", 0 },	/* one less */
		{ "Bearer SPT_" B43, 0 },			/* the prefix is exact */
		{ "Bearer xyz_" B43, 0 },
		{ "Bearer " B43 "abcd", 0 },			/* no prefix */
		{ "Bearer spt_" "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abcde", 0 },	/* base64, not url */
		{ "Bearer spt_" "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%5Fabcd", 0 },
		{ "Bearer spt_" "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd=", 0 },
		{ "Bearer spt_" "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abc\xc3\xa9", 0 },
		{ " Bearer " TOK, 0 },
	};
	char	 out[ACCESS_TOKEN_LEN + 1];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(out, 'x', sizeof(out));
		int got = access_bearer(t[i].header, out, sizeof(out));
		ok(got == t[i].want && (!got || strcmp(out, TOK) == 0), "bearer case %zu [%s] -> %d", i,
		    t[i].header ? t[i].header : "(none)", t[i].want);
	}
	ok(!access_bearer("Bearer " TOK, out, ACCESS_TOKEN_LEN), "a buffer too small for the token: 0");
}

static void
test_roles(void)
{
	static const struct { const char *held, *need; int want; } t[] = {
		{ "viewer", "viewer", 1 }, { "admin", "viewer", 1 }, { "owner", "viewer", 1 },
		{ "viewer", "admin", 0 }, { "admin", "admin", 1 }, { "owner", "admin", 1 },
		{ "viewer", "owner", 0 }, { "admin", "owner", 0 }, { "owner", "owner", 1 },
		{ NULL, "viewer", 0 },				/* no role: nothing */
		{ "", "viewer", 0 },
		{ "Owner", "viewer", 0 },			/* exact names only */
		{ "owner ", "viewer", 0 },
		{ "superuser", "viewer", 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(access_role_allows(t[i].held, t[i].need) == t[i].want, "role case %zu [%s for %s] -> %d",
		    i, t[i].held ? t[i].held : "(none)", t[i].need, t[i].want);
	ok(access_role_rank("viewer") == 1 && access_role_rank("admin") == 2 &&
	    access_role_rank("owner") == 3 && access_role_rank(NULL) == 0, "ranks: viewer 1, admin 2, owner 3");
}

int
main(void)
{
	test_bearer();
	test_roles();
	return done_testing();
}
