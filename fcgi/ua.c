/*
 * ua: classify User-Agent strings with the uap-core rules.
 *
 * uap-core (https://github.com/ua-parser/uap-core) is a YAML file of three
 * ordered lists of regular expressions: user_agent_parsers (browser family),
 * os_parsers (OS family) and device_parsers (device family, where "Spider"
 * marks a bot).  For each list the first rule whose regex matches anywhere in
 * the string wins, and its *_replacement template (with $1..$9 standing for
 * capture groups) or else its first group gives the family.  The regexes are
 * PCRE-flavoured, so PCRE2 compiles them as written; `regex_flag: 'i'` means
 * caseless.  Patterns are compiled in byte (non-UTF) mode, so any byte string,
 * valid UTF-8 or not, can be matched safely.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <yaml.h>

#include "ua.h"
#include "util.h"

#define CACHE_SLOTS	1024	/* direct-mapped; a power of two */
#define CACHE_LOCKS	16	/* slot i is guarded by lock i % CACHE_LOCKS */
#define CACHE_KEY_MAX	UA_LEN_MAX	/* every bounded User-Agent fits */
#define FAMILY_MAX	256	/* a family before it is cut to struct ua_info size */
#define MATCH_LIMIT	200000	/* bounds backtracking on hostile input */
#define JIT_STACK_MAX	(1024 * 1024)
#define ERROR_LOG_MAX	10	/* match errors logged per process, then counted */

/* One parser: a compiled regex and its family template (NULL means "$1"). */
struct rule {
	pcre2_code	*re;
	char		*repl;
};

/* One of uap-core's ordered parser lists. */
struct rules {
	struct rule	*v;
	size_t		 n;
	size_t		 cap;
};

/* A cached result; len == 0 marks an empty slot (empty UAs are not cached). */
struct cache_slot {
	uint64_t	 hash;
	size_t		 len;
	struct ua_info	 info;
	char		 ua[CACHE_KEY_MAX];
};

/*
 * What one thread needs to run the rules: PCRE2 match data and a match
 * context with its own JIT stack (the compiled rules are shared, these
 * may not be).
 */
struct ua_matcher {
	pcre2_match_data	*md;
	pcre2_match_context	*mctx;
	pcre2_jit_stack		*jit_stack;
};

/*
 * The rules (read-only once loaded), the result cache (each slot under
 * one of a few locks, held only to copy a result in or out) and the
 * statistics (atomic), so threads with a matcher each share one db.
 */
struct ua_db {
	struct rules		 browsers;
	struct rules		 oses;
	struct rules		 devices;
	uint32_t		 groups;	/* the most capture groups of any rule */
	struct ua_matcher	*own;		/* ua_parse's */
	unsigned long		 skipped;	/* rules that failed to compile */
	atomic_ulong		 match_errors;	/* match limit hit and the like */
	atomic_ulong		 hits;
	atomic_ulong		 misses;
	pthread_mutex_t		 locks[CACHE_LOCKS];
	struct cache_slot	 cache[CACHE_SLOTS];
};

/* ---- Loading the rules -------------------------------------------------- */

/* Returns the text of a scalar node, or NULL for any other node or NULL. */
static const char *
scalar(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* Returns the value stored under key in a mapping node, or NULL. */
static yaml_node_t *
map_get(yaml_document_t *doc, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t	*p;
	const char		*k;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start;
	    p < map->data.mapping.pairs.top; p++) {
		k = scalar(yaml_document_get_node(doc, p->key));
		if (k != NULL && strcmp(k, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/*
 * Compiles regex (caseless when flag contains 'i') and JIT-compiles it when
 * PCRE2 has a JIT; without one the interpreter runs the same pattern, only
 * slower, so a JIT failure is not an error.  Returns 1, or 0 after logging
 * why the pattern was rejected.
 */
static int
rule_compile(struct rule *r, const char *regex, const char *flag,
    const char *repl, const char *where)
{
	PCRE2_UCHAR	 msg[128];
	PCRE2_SIZE	 off;
	uint32_t	 opts = 0;
	int		 err;

	if (flag != NULL && strchr(flag, 'i') != NULL)
		opts |= PCRE2_CASELESS;
	r->re = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, opts,
	    &err, &off, NULL);
	if (r->re == NULL) {
		pcre2_get_error_message(err, msg, sizeof(msg));
		fprintf(stderr, "sitepulse: ua: %s: skipping rule /%s/: %s at "
		    "offset %zu\n", where, regex, (char *)msg, (size_t)off);
		return 0;
	}
	(void)pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE);
	r->repl = repl != NULL && *repl != '\0' ? xstrdup(repl) : NULL;
	return 1;
}

/*
 * Appends the rules of the sequence named list (e.g. "os_parsers") to rl,
 * taking each rule's template from its repl_key.  A rule that does not
 * compile is logged and skipped, so one odd pattern in a future uap-core
 * cannot take classification down.  Returns 0 if the list is missing.
 */
static int
rules_load(struct ua_db *db, yaml_document_t *doc, const yaml_node_t *root,
    const char *list, const char *repl_key, struct rules *rl)
{
	yaml_node_t	*seq, *item;
	yaml_node_item_t *i;
	const char	*regex;

	seq = map_get(doc, root, list);
	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
		return 0;
	for (i = seq->data.sequence.items.start;
	    i < seq->data.sequence.items.top; i++) {
		item = yaml_document_get_node(doc, *i);
		if ((regex = scalar(map_get(doc, item, "regex"))) == NULL) {
			db->skipped++;
			continue;
		}
		if (rl->n == rl->cap) {
			rl->cap = rl->cap ? rl->cap * 2 : 256;
			rl->v = xrealloc(rl->v, rl->cap * sizeof(*rl->v));
		}
		if (rule_compile(&rl->v[rl->n], regex,
		    scalar(map_get(doc, item, "regex_flag")),
		    scalar(map_get(doc, item, repl_key)), list))
			rl->n++;
		else
			db->skipped++;
	}
	return 1;
}

/* Frees a rule list's patterns and templates; the list itself is embedded. */
static void
rules_free(struct rules *rl)
{
	size_t	 i;

	for (i = 0; i < rl->n; i++) {
		pcre2_code_free(rl->v[i].re);
		free(rl->v[i].repl);
	}
	free(rl->v);
}

/* Returns the largest capture-group count over a rule list. */
static uint32_t
rules_max_groups(const struct rules *rl)
{
	uint32_t	 max = 0, n;
	size_t		 i;

	for (i = 0; i < rl->n; i++)
		if (pcre2_pattern_info(rl->v[i].re, PCRE2_INFO_CAPTURECOUNT,
		    &n) == 0 && n > max)
			max = n;
	return max;
}

/*
 * Reads path into a libyaml document.  Returns 1 with doc to be deleted by
 * the caller, or 0 after logging (and with nothing to delete).
 */
static int
yaml_read(const char *path, yaml_document_t *doc)
{
	yaml_parser_t	 parser;
	FILE		*f;
	int		 ok;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "sitepulse: ua: %s: %s\n", path,
		    strerror(errno));
		return 0;
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	ok = yaml_parser_load(&parser, doc);
	if (!ok)
		fprintf(stderr, "sitepulse: ua: %s:%zu: %s\n", path,
		    parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "YAML error");
	yaml_parser_delete(&parser);
	fclose(f);
	return ok;
}

/*
 * Creates what one thread needs to run db's rules: match data for the
 * rule with the most groups, and a match context with the match limit and
 * a JIT stack of its own. Each thread that classifies at the same time as
 * others needs its own; the caller frees it with ua_matcher_free.
 */
struct ua_matcher *
ua_matcher_new(const struct ua_db *db)
{
	struct ua_matcher	*m = xcalloc(1, sizeof(*m));

	if ((m->md = pcre2_match_data_create(db->groups + 1, NULL)) == NULL ||
	    (m->mctx = pcre2_match_context_create(NULL)) == NULL) {
		fprintf(stderr, "sitepulse: ua: out of memory\n");
		abort();
	}
	pcre2_set_match_limit(m->mctx, MATCH_LIMIT);
	/* The default 32 KiB JIT stack is too small for some rules. */
	m->jit_stack = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
	if (m->jit_stack != NULL)
		pcre2_jit_stack_assign(m->mctx, NULL, m->jit_stack);
	return m;
}

/* Frees a matcher; accepts NULL. */
void
ua_matcher_free(struct ua_matcher *m)
{
	if (m == NULL)
		return;
	pcre2_match_data_free(m->md);
	pcre2_match_context_free(m->mctx);
	pcre2_jit_stack_free(m->jit_stack);
	free(m);
}

/* Sets up what the loaded rules of db need to be run: locks, sizes, ua_parse's matcher. */
static void
match_setup(struct ua_db *db)
{
	db->groups = rules_max_groups(&db->browsers);
	if (rules_max_groups(&db->oses) > db->groups)
		db->groups = rules_max_groups(&db->oses);
	if (rules_max_groups(&db->devices) > db->groups)
		db->groups = rules_max_groups(&db->devices);
	for (int i = 0; i < CACHE_LOCKS; i++)
		pthread_mutex_init(&db->locks[i], NULL);
	db->own = ua_matcher_new(db);
}

/*
 * Loads and compiles the uap-core rules from path, or when path is NULL from
 * $SITEPULSE_UAP_REGEXES, or else UA_DEFAULT_REGEXES.  Returns a db that the
 * caller frees with ua_db_free, or NULL after logging to stderr if the file
 * cannot be read or lacks one of the three parser lists.
 */
struct ua_db *
ua_db_load(const char *path)
{
	yaml_document_t	 doc;
	yaml_node_t	*root;
	struct ua_db	*db;
	int		 ok;

	if (path == NULL && (path = getenv(UA_REGEXES_ENV)) == NULL)
		path = UA_DEFAULT_REGEXES;
	if (!yaml_read(path, &doc))
		return NULL;
	db = xcalloc(1, sizeof(*db));
	root = yaml_document_get_root_node(&doc);
	ok = rules_load(db, &doc, root, "user_agent_parsers",
	    "family_replacement", &db->browsers) &&
	    rules_load(db, &doc, root, "os_parsers", "os_replacement",
	    &db->oses) &&
	    rules_load(db, &doc, root, "device_parsers", "device_replacement",
	    &db->devices);
	yaml_document_delete(&doc);
	match_setup(db);
	if (!ok) {
		fprintf(stderr, "sitepulse: ua: %s: not a uap-core regexes file "
		    "(a parser list is missing)\n", path);
		ua_db_free(db);
		return NULL;
	}
	return db;
}

/* Frees db and everything it holds; accepts NULL. */
void
ua_db_free(struct ua_db *db)
{
	if (db == NULL)
		return;
	rules_free(&db->browsers);
	rules_free(&db->oses);
	rules_free(&db->devices);
	ua_matcher_free(db->own);
	for (int i = 0; i < CACHE_LOCKS; i++)
		pthread_mutex_destroy(&db->locks[i]);
	free(db);
}

/* ---- Matching ----------------------------------------------------------- */

/*
 * Runs rl's rules in order over ua with matcher m and returns the first
 * that matches, with its groups in m->md and the match's return code in
 * *rc, or NULL.  A match error (the backtracking limit on hostile input)
 * counts as no match.
 */
static const struct rule *
first_match(struct ua_db *db, struct ua_matcher *m, const struct rules *rl,
    const char *ua, size_t len, int *rc)
{
	size_t	 i;

	for (i = 0; i < rl->n; i++) {
		*rc = pcre2_match(rl->v[i].re, (PCRE2_SPTR)ua, len, 0, 0,
		    m->md, m->mctx);
		if (*rc > 0)
			return &rl->v[i];
		if (*rc != PCRE2_ERROR_NOMATCH &&
		    atomic_fetch_add(&db->match_errors, 1) < ERROR_LOG_MAX)
			fprintf(stderr, "sitepulse: ua: rule %zu: match error "
			    "%d on a %zu-byte User-Agent\n", i, *rc, len);
	}
	return NULL;
}

/*
 * Writes repl into buf (of size bytes, cut to fit on a character boundary
 * where the group is UTF-8) with each $1..$9 replaced
 * by that capture group of the match in md, or by nothing when the group did
 * not take part.  A NULL repl means "$1", uap-core's default.
 */
static void
expand(const char *repl, const char *ua, pcre2_match_data *md, int rc,
    char *buf, size_t size)
{
	PCRE2_SIZE	*ov = pcre2_get_ovector_pointer(md);
	size_t		 n = 0, glen;
	const char	*p;
	int		 g;

	for (p = repl != NULL ? repl : "$1"; *p != '\0' && n + 1 < size; p++) {
		if (p[0] != '$' || p[1] < '1' || p[1] > '9') {
			buf[n++] = *p;
			continue;
		}
		g = *++p - '0';
		if (g >= rc || ov[2 * g] == PCRE2_UNSET)
			continue;
		glen = util_utf8_cut(ua + ov[2 * g], ov[2 * g + 1] - ov[2 * g],
		    size - 1 - n);
		memcpy(buf + n, ua + ov[2 * g], glen);
		n += glen;
	}
	buf[n] = '\0';
}

/* Returns the length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char	 lo = 0x80, hi = 0xbf;
	size_t		 len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (s[0] == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f;		/* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90;		/* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f;		/* past U+10FFFF */
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Copies src into dst (size bytes) as a family name: surrounding white space
 * trimmed, control characters and invalid UTF-8 bytes turned into '?', cut at
 * a character boundary, "Other" when nothing is left.  The result is safe to
 * store in a UTF-8 PostgreSQL text column, even though a template's groups
 * come from an untrusted header.
 */
static void
set_family(char *dst, size_t size, const char *src)
{
	const unsigned char	*s = (const unsigned char *)src;
	size_t			 n, len = strlen(src), out = 0, cl;

	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	for (n = 0; n < len && (s[n] == ' ' || s[n] == '\t'); n++)
		;
	while (n < len) {
		cl = utf8_len(s + n, len - n);
		if (out + (cl ? cl : 1) >= size)
			break;
		if (cl == 0 || (cl == 1 && (s[n] < 0x20 || s[n] == 0x7f)))
			dst[out++] = '?';
		else
			memcpy(dst + out, s + n, cl), out += cl;
		n += cl ? cl : 1;
	}
	dst[out] = '\0';
	if (out == 0)
		snprintf(dst, size, "Other");
}

/*
 * Finds the family rl assigns to ua (with matcher m) and stores it in dst
 * (size bytes), or "Other" when no rule matches.
 */
static void
classify(struct ua_db *db, struct ua_matcher *m, const struct rules *rl,
    const char *ua, size_t len, char *dst, size_t size)
{
	const struct rule	*r;
	char			 buf[FAMILY_MAX];
	int			 rc;

	if ((r = first_match(db, m, rl, ua, len, &rc)) == NULL)
		buf[0] = '\0';
	else
		expand(r->repl, ua, m->md, rc, buf, sizeof(buf));
	set_family(dst, size, buf);
}

/* ---- The result cache --------------------------------------------------- */

/* FNV-1a over the string, then a final mix so the low bits pick slots well. */
static uint64_t
hash_ua(const char *s, size_t len)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* Returns the slot that ua maps to. */
static struct cache_slot *
cache_slot(struct ua_db *db, uint64_t h)
{
	return &db->cache[h & (CACHE_SLOTS - 1)];
}

/* Returns the lock that guards the slot ua maps to. */
static pthread_mutex_t *
cache_lock(struct ua_db *db, uint64_t h)
{
	return &db->locks[(h & (CACHE_SLOTS - 1)) % CACHE_LOCKS];
}

/*
 * Returns 1 and copies the cached result for ua (len bytes, at most
 * CACHE_KEY_MAX) into out if it is there. Holds the slot's lock only for
 * the comparison and the copy.
 */
static int
cache_get(struct ua_db *db, const char *ua, size_t len, uint64_t h,
    struct ua_info *out)
{
	const struct cache_slot	*c = cache_slot(db, h);
	int			 hit;

	pthread_mutex_lock(cache_lock(db, h));
	hit = c->len == len && c->hash == h && memcmp(c->ua, ua, len) == 0;
	if (hit)
		*out = c->info;
	pthread_mutex_unlock(cache_lock(db, h));
	return hit;
}

/* Stores a result, evicting whatever held the slot, under the slot's lock. */
static void
cache_put(struct ua_db *db, const char *ua, size_t len, uint64_t h,
    const struct ua_info *info)
{
	struct cache_slot	*c = cache_slot(db, h);

	pthread_mutex_lock(cache_lock(db, h));
	memcpy(c->ua, ua, len);
	c->len = len;
	c->hash = h;
	c->info = *info;
	pthread_mutex_unlock(cache_lock(db, h));
}

/* ---- Parsing ------------------------------------------------------------ */

/* Classifies ua (len bytes, not empty) into out with m, bypassing the cache. */
static void
parse_uncached(struct ua_db *db, struct ua_matcher *m, const char *ua,
    size_t len, struct ua_info *out)
{
	char	 device[FAMILY_MAX];

	classify(db, m, &db->browsers, ua, len, out->browser,
	    sizeof(out->browser));
	classify(db, m, &db->oses, ua, len, out->os, sizeof(out->os));
	classify(db, m, &db->devices, ua, len, device, sizeof(device));
	out->is_bot = strcmp(device, "Spider") == 0;
}

/*
 * How much of ua the rules see: the first UA_LEN_MAX bytes, cut on a
 * character boundary. A real browser's User-Agent is far shorter; a
 * longer one is a client's choice, and matching every rule over kilobytes
 * of it cost milliseconds a request (issue 13).
 */
static size_t
ua_bound(const char *ua)
{
	return util_utf8_cut(ua, strnlen(ua, UA_LEN_MAX + 1), UA_LEN_MAX);
}

/*
 * Classifies ua into out with matcher m: browser family from
 * user_agent_parsers, OS family from os_parsers, is_bot from
 * device_parsers ("Spider"), all from its first UA_LEN_MAX bytes.
 * Returns 1, or 0 for a NULL or empty ua, which gets "Other"/"Other" and
 * is_bot = 1 because every browser sends a User-Agent. Safe to call from
 * many threads at once on one db, each with a matcher of its own: the
 * rules run outside any lock, the cache's locks are held for a copy.
 */
int
ua_classify(struct ua_db *db, struct ua_matcher *m, const char *ua,
    struct ua_info *out)
{
	size_t		 len;
	uint64_t	 h;

	if (ua == NULL || *ua == '\0') {
		snprintf(out->browser, sizeof(out->browser), "Other");
		snprintf(out->os, sizeof(out->os), "Other");
		out->is_bot = 1;
		return 0;
	}
	len = ua_bound(ua);
	h = hash_ua(ua, len);
	if (cache_get(db, ua, len, h, out)) {
		atomic_fetch_add(&db->hits, 1);
		return 1;
	}
	atomic_fetch_add(&db->misses, 1);
	parse_uncached(db, m, ua, len, out);
	cache_put(db, ua, len, h, out);
	return 1;
}

/* ua_classify with db's own matcher: for one thread at a time (see ua.h). */
int
ua_parse(struct ua_db *db, const char *ua, struct ua_info *out)
{
	return ua_classify(db, db->own, ua, out);
}
