/* Table-driven tests of db_refusal_of() (fcgi/db.c): a SQL function's refusal, SQLSTATE SPnnn. */
#include <string.h>

#include "db.h"
#include "tap.h"

static void
test_refusal(void)
{
	static const struct {
		const char	*sqlstate, *message;
		int		 want;		/* the status, or 0: not a refusal */
		const char	*reason;
	} t[] = {
		{ "SP400", "name: 1-64 characters", 400, "name: 1-64 characters" },
		{ "SP403", "this needs the admin role on this site; yours is viewer", 403,
		    "this needs the admin role on this site; yours is viewer" },
		{ "SP404", "unknown site", 404, "unknown site" },
		{ "SP409", "name: this user exists", 409, "name: this user exists" },
		{ "SP404", NULL, 404, "refused" },		/* no message: never an empty reason */
		{ "SP404", "", 404, "refused" },
		{ NULL, "unknown site", 0, NULL },
		{ "", "x", 0, NULL },
		{ "23505", "duplicate key", 0, NULL },		/* a real error stays one */
		{ "P0001", "raise exception", 0, NULL },
		{ "SP500", "x", 0, NULL },			/* only 4xx: a 5xx is the database's */
		{ "SP200", "x", 0, NULL },
		{ "SP4", "x", 0, NULL },
		{ "SP4000", "x", 0, NULL },
		{ "SP4A0", "x", 0, NULL },
		{ "sp400", "x", 0, NULL },
		{ "XSP40", "x", 0, NULL },
	};
	struct db_refusal	 r;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&r, 0, sizeof(r));
		int got = db_refusal_of(t[i].sqlstate, t[i].message, &r);
		ok(got == (t[i].want != 0) && (!got || (r.status == t[i].want &&
		    strcmp(r.reason, t[i].reason) == 0)), "refusal case %zu [%s] -> %d", i,
		    t[i].sqlstate ? t[i].sqlstate : "(none)", t[i].want);
	}

	char long_msg[400];
	memset(long_msg, 'a', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	ok(db_refusal_of("SP400", long_msg, &r) && strlen(r.reason) == sizeof(r.reason) - 1,
	    "a long message is cut to fit");
}

int
main(void)
{
	test_refusal();
	return done_testing();
}
