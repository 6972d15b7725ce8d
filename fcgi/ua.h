/*
 * ua: User-Agent classification (browser family, OS family, bot) from the
 * uap-core regular expressions that Debian ships in the uap-core package.
 *
 * A struct ua_db holds the compiled (and, where PCRE2 has a JIT, JIT-compiled)
 * user_agent_parsers, os_parsers and device_parsers plus a small cache of
 * recent results, because the same few hundred User-Agent strings make up
 * nearly all traffic.  Load it once per process and keep it.
 *
 * Not thread-safe: ua_parse writes the db's cache and its PCRE2 match data.
 * sp-collect's request threads share one ua_db and take turns on it under
 * a mutex (a cached answer takes well under a microsecond).
 */
#ifndef SP_UA_H
#define SP_UA_H

/* Where Debian's uap-core package installs the rules. */
#define UA_DEFAULT_REGEXES	"/usr/share/uap-core/regexes.yaml"
/* Environment variable that overrides UA_DEFAULT_REGEXES. */
#define UA_REGEXES_ENV		"SITEPULSE_UAP_REGEXES"

struct ua_db;

/*
 * The classification of one User-Agent.  browser and os are uap-core family
 * names ("Chrome", "Mobile Safari", "Mac OS X", "Android", ...) or "Other",
 * always NUL-terminated valid UTF-8 without control characters, cut at a
 * character boundary if longer than 31 bytes.  is_bot is 1 when uap-core's
 * device parsers call the agent a "Spider".
 */
struct ua_info {
	char	browser[32];
	char	os[32];
	int	is_bot;
};

struct ua_db	*ua_db_load(const char *path);
void		 ua_db_free(struct ua_db *);
int		 ua_parse(struct ua_db *, const char *ua, struct ua_info *out);

#endif
