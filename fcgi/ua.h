/*
 * ua: User-Agent classification (browser family, OS family, bot) from the
 * uap-core regular expressions that Debian ships in the uap-core package.
 *
 * A struct ua_db holds the compiled (and, where PCRE2 has a JIT, JIT-compiled)
 * user_agent_parsers, os_parsers and device_parsers plus a small cache of
 * recent results, because the same few hundred User-Agent strings make up
 * nearly all traffic.  Load it once per process and keep it.
 *
 * Threads share one ua_db, each with a struct ua_matcher of its own (its
 * PCRE2 match data and JIT stack), and call ua_classify: the rules run
 * outside any lock, and the cache's slots are locked only to copy a result
 * in or out. ua_parse uses the db's own matcher, so only one thread at a
 * time may call it. The rules see at most the first UA_LEN_MAX bytes of a
 * User-Agent (cut on a character boundary): a longer one costs no more.
 */
#ifndef SP_UA_H
#define SP_UA_H

/* Where Debian's uap-core package installs the rules. */
#define UA_DEFAULT_REGEXES	"/usr/share/uap-core/regexes.yaml"
/* Environment variable that overrides UA_DEFAULT_REGEXES. */
#define UA_REGEXES_ENV		"SITEPULSE_UAP_REGEXES"
/* Bytes of a User-Agent the rules see at most. */
#define UA_LEN_MAX		512

struct ua_db;
struct ua_matcher;

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
struct ua_matcher *ua_matcher_new(const struct ua_db *);
void		 ua_matcher_free(struct ua_matcher *);
int		 ua_classify(struct ua_db *, struct ua_matcher *, const char *ua,
		    struct ua_info *out);
int		 ua_parse(struct ua_db *, const char *ua, struct ua_info *out);

#endif
