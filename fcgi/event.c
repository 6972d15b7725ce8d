#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "event.h"
#include "param.h"
#include "util.h"
#include "valid.h"

/* How a field's value is checked and copied. */
enum kind {
	K_TYPE,		/* one of the event types */
	K_URL,		/* absolute http(s) URL; also yields path (or ref_host) */
	K_TEXT,		/* UTF-8 text without control characters, up to max bytes */
	K_INT,		/* finite number in [min, max], stored rounded */
	K_FRAC,		/* finite number in [min, max], stored to 3 decimals */
	K_BOOL,
	K_PROPS		/* flat object of short strings and finite numbers */
};

/* One event field: its name, kind and bounds. The table is the contract. */
struct field {
	const char	*name;
	enum kind	 kind;
	double		 min, max;	/* K_INT, K_FRAC; max length for K_TEXT */
};

static const struct field fields[] = {
	{ "type",	K_TYPE,	 0, 0 },
	{ "url",	K_URL,	 0, 0 },
	{ "ref",	K_URL,	 0, 0 },
	{ "ts",		K_INT,	 946684800000.0, 32503680000000.0 },	/* 2000-3000 */
	{ "vw",		K_INT,	 0, 100000 },
	{ "vh",		K_INT,	 0, 100000 },
	{ "sw",		K_INT,	 0, 100000 },
	{ "x",		K_INT,	 0, 1000000 },
	{ "y",		K_INT,	 0, 1000000 },
	{ "dw",		K_INT,	 1, 1000000 },
	{ "dh",		K_INT,	 1, 1000000 },
	{ "sel",	K_TEXT,	 1, VALID_SEL_MAX },
	{ "ex",		K_FRAC,	 0, 1 },
	{ "ey",		K_FRAC,	 0, 1 },
	{ "rage",	K_BOOL,	 0, 0 },
	{ "dead",	K_BOOL,	 0, 0 },
	{ "depth",	K_INT,	 0, 100 },
	{ "engaged",	K_INT,	 0, 86400000 },			/* a day, in ms */
	{ "name",	K_TEXT,	 1, 64 },
	{ "props",	K_PROPS, 0, 0 },
};

static const char *const types[] = { "pageview", "click", "scroll", "leave", "event" };

/*
 * Writes a printf-style reason into buf and returns 0, for "return
 * fail(...)". A reason longer than buf is cut on a character boundary:
 * it goes to the client in a JSON answer, which must be valid UTF-8.
 */
static int
fail(char *buf, size_t bufsz, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, bufsz, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n >= bufsz)
		buf[util_utf8_cut(buf, (size_t)n, bufsz - 1)] = '\0';
	return 0;
}

/*
 * How many bytes of a field name a reason shows: at most 40, whole
 * characters, and only as far as the name is valid UTF-8 (json-c's own
 * check lets overlong forms and surrogates through).
 */
static int
shown(const char *key)
{
	size_t	 n = util_utf8_cut(key, strlen(key), 40);

	while (n > 0 && !valid_utf8(key, n))
		n--;
	return (int)n;
}

static const struct field *
field_find(const char *name)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

/*
 * Reads a JSON number as a finite double. json-c clamps integers beyond 64
 * bits to INT64_MAX/MIN and parses NaN, Infinity and 1e999 even in strict
 * mode, so a clamped integer is refused here and the bounds catch the rest.
 */
static int
number(struct json_object *v, double *out)
{
	if (json_object_is_type(v, json_type_int)) {
		int64_t i = json_object_get_int64(v);
		if (i == INT64_MAX || i == INT64_MIN)
			return 0;
		*out = (double)i;
		return 1;
	}
	if (!json_object_is_type(v, json_type_double))
		return 0;
	*out = json_object_get_double(v);
	return isfinite(*out);
}

/* A string value as (pointer, length), checked as text of at most max bytes. */
static int
text(struct json_object *v, size_t max, const char **s, size_t *len)
{
	if (!json_object_is_type(v, json_type_string))
		return 0;
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	return valid_text(*s, *len, max);
}

/* props: a flat object of at most EVENT_PROPS_MAX short keys to strings or numbers. */
static int
props_ok(struct json_object *v, char *why, size_t whysz)
{
	const char	*s;
	size_t		 len;
	double		 d;

	if (!json_object_is_type(v, json_type_object))
		return fail(why, whysz, "props: not an object");
	if (json_object_object_length(v) > EVENT_PROPS_MAX)
		return fail(why, whysz, "props: more than %d keys", EVENT_PROPS_MAX);
	json_object_object_foreach(v, key, val) {
		if (!valid_text(key, strlen(key), 64) || *key == '\0')
			return fail(why, whysz, "props: bad key");
		if (json_object_is_type(val, json_type_string)) {
			if (!text(val, 256, &s, &len))
				return fail(why, whysz, "props.%s: bad string", key);
		} else if (!number(val, &d) || fabs(d) > 1e15)
			return fail(why, whysz, "props.%s: not a string or finite number", key);
	}
	return 1;
}

/*
 * Adds v under key to a normalised event. Every key is a string literal or
 * a name from the fields table, and each is added once (the parsed input
 * holds each field once; path, ref_host and device are not input fields),
 * so json-c neither copies the key (an allocation and its free) nor looks
 * for it first (a hash lookup), for each of an event's ten or so fields.
 */
static void
put(struct json_object *ev, const char *key, struct json_object *v)
{
	json_object_object_add_ex(ev, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY);
}

/*
 * Checks one field's value and adds its normalised form to out. A URL field
 * adds the derived path (url) or referrer host (ref) as well; the page's
 * host is copied to host for the self-referral check.
 */
static int
field_take(const struct field *f, struct json_object *v, struct json_object *out,
    char *host, char *why, size_t whysz)
{
	struct valid_url	 u;
	const char		*s;
	size_t			 len, i;
	double			 d;

	switch (f->kind) {
	case K_TYPE:
		if (json_object_is_type(v, json_type_string))
			for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
				if (strcmp(json_object_get_string(v), types[i]) == 0) {
					put(out, "type", json_object_new_string(types[i]));
					return 1;
				}
		return fail(why, whysz, "type: not one of pageview, click, scroll, leave, event");
	case K_URL:
		if (!json_object_is_type(v, json_type_string))
			return fail(why, whysz, "%s: not a string", f->name);
		s = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		if (len == 0 && strcmp(f->name, "ref") == 0)
			return 1;	/* an empty referrer is no referrer */
		if (!valid_url(s, len, &u))
			return fail(why, whysz, "%s: not an absolute http(s) URL of at most %d bytes",
			    f->name, VALID_URL_MAX);
		put(out, f->name, json_object_new_string_len(s, (int)len));
		if (strcmp(f->name, "url") == 0) {
			put(out, "path", json_object_new_string(u.path));
			memcpy(host, u.host, sizeof(u.host));
		} else
			put(out, "ref_host", json_object_new_string(u.host));
		return 1;
	case K_TEXT:
		if (!text(v, (size_t)f->max, &s, &len) || len < (size_t)f->min)
			return fail(why, whysz, "%s: not a string of %d-%d printable characters",
			    f->name, (int)f->min, (int)f->max);
		put(out, f->name, json_object_new_string_len(s, (int)len));
		return 1;
	case K_INT:
	case K_FRAC:
		if (!number(v, &d) || d < f->min || d > f->max)
			return fail(why, whysz, "%s: not a number in [%.0f, %.0f]", f->name, f->min, f->max);
		if (f->kind == K_INT)
			put(out, f->name, json_object_new_int64(llround(d)));
		else
			put(out, f->name, json_object_new_double(round(d * 1000) / 1000));
		return 1;
	case K_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return fail(why, whysz, "%s: not a boolean", f->name);
		put(out, f->name, json_object_new_boolean(json_object_get_boolean(v)));
		return 1;
	case K_PROPS:
		if (!props_ok(v, why, whysz))
			return 0;
		put(out, "props", json_object_get(v));
		return 1;
	}
	return 0;
}

/* The integer a normalised event holds for key, or -1 when absent. */
static long long
geti(struct json_object *ev, const char *key)
{
	struct json_object	*v;

	return json_object_object_get_ex(ev, key, &v) ? json_object_get_int64(v) : -1;
}

/*
 * Rules across fields: what each type needs, coordinates inside the
 * document, and the device class. Also drops a referrer from the page's own
 * host (internal navigation is not a referral).
 */
static int
event_finish(struct json_object *ev, const char *host, char *why, size_t whysz)
{
	struct json_object	*v;
	const char		*type;

	if (!json_object_object_get_ex(ev, "type", &v))
		return fail(why, whysz, "type: missing");
	type = json_object_get_string(v);
	if (!json_object_object_get_ex(ev, "url", NULL))
		return fail(why, whysz, "url: missing");
	if (strcmp(type, "click") == 0) {
		static const char *const need[] = { "x", "y", "dw", "dh" };
		for (size_t i = 0; i < 4; i++)
			if (geti(ev, need[i]) < 0)
				return fail(why, whysz, "%s: required for a click", need[i]);
		if (geti(ev, "x") > geti(ev, "dw") || geti(ev, "y") > geti(ev, "dh"))
			return fail(why, whysz, "x, y: outside the document");
	}
	if (strcmp(type, "scroll") == 0 && geti(ev, "depth") < 0)
		return fail(why, whysz, "depth: required for a scroll");
	if (strcmp(type, "event") == 0 && !json_object_object_get_ex(ev, "name", NULL))
		return fail(why, whysz, "name: required for an event");
	if (json_object_object_get_ex(ev, "ref_host", &v) &&
	    strcmp(json_object_get_string(v), host) == 0) {
		json_object_object_del(ev, "ref");
		json_object_object_del(ev, "ref_host");
	}
	put(ev, "device",
	    json_object_new_string(param_device_of(geti(ev, "vw"), geti(ev, "sw"))));
	return 1;
}

/* Validates one event object into a new normalised object (*out, caller owns). */
static int
event_one(struct json_object *in, struct json_object **out, char *host, char *why, size_t whysz)
{
	const struct field	*f;

	if (!json_object_is_type(in, json_type_object))
		return fail(why, whysz, "not an object");
	*out = json_object_new_object();
	json_object_object_foreach(in, key, val) {
		if ((f = field_find(key)) == NULL)
			return fail(why, whysz, "%.*s: unknown field", shown(key), key);
		if (val == NULL)	/* JSON null: same as absent */
			continue;
		if (!field_take(f, val, *out, host, why, whysz))
			return 0;
	}
	return event_finish(*out, host, why, whysz);
}

/* The top level: site, optional batch id, 1-100 events, nothing else. */
static int
batch_take(struct json_object *root, struct event_batch *b, char *why, size_t whysz)
{
	struct json_object	*v, *ev;
	char			 sub[160], host[VALID_HOST_MAX + 1];

	if (!json_object_is_type(root, json_type_object))
		return fail(why, whysz, "body: not a JSON object");
	json_object_object_foreach(root, key, val) {
		if (strcmp(key, "site") != 0 && strcmp(key, "batch") != 0 && strcmp(key, "events") != 0)
			return fail(why, whysz, "%.*s: unknown field", shown(key), key);
		(void)val;
	}
	if (!json_object_object_get_ex(root, "site", &v) || !json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v)) ||
	    !valid_site_key(json_object_get_string(v)))
		return fail(why, whysz, "site: missing or not a site key");
	snprintf(b->site, sizeof(b->site), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(root, "batch", &v) && v != NULL) {
		if (!json_object_is_type(v, json_type_string) ||
		    (size_t)json_object_get_string_len(v) != strlen(json_object_get_string(v)) ||
		    !valid_batch_id(json_object_get_string(v)))
			return fail(why, whysz, "batch: not 8-64 characters of [A-Za-z0-9_-]");
		snprintf(b->batch, sizeof(b->batch), "%s", json_object_get_string(v));
	}
	if (!json_object_object_get_ex(root, "events", &v) || !json_object_is_type(v, json_type_array))
		return fail(why, whysz, "events: missing or not an array");
	b->nevents = (int)json_object_array_length(v);
	if (b->nevents < 1 || b->nevents > EVENT_BATCH_MAX)
		return fail(why, whysz, "events: 1 to %d events per batch", EVENT_BATCH_MAX);
	b->events = json_object_new_array_ext(b->nevents);
	host[0] = '\0';
	for (int i = 0; i < b->nevents; i++) {
		ev = NULL;
		if (!event_one(json_object_array_get_idx(v, i), &ev, host, sub, sizeof(sub))) {
			json_object_put(ev);
			return fail(why, whysz, "events[%d]: %s", i, sub);
		}
		json_object_array_add(b->events, ev);
		if (i == 0)
			memcpy(b->host, host, sizeof(host));
	}
	return 1;
}

/*
 * Parses and validates a collect body of len bytes (read by length: it need
 * not be NUL-terminated). Returns 1 and fills in *b (free it with
 * event_batch_free) or returns 0 with a short reason in why; on failure *b
 * holds nothing that needs freeing.
 */
int
event_parse(const char *body, size_t len, struct event_batch *b, char *why, size_t whysz)
{
	struct json_tokener	*tok;
	struct json_object	*root;
	size_t			 end;
	int			 ok = 0;

	memset(b, 0, sizeof(*b));
	if (len == 0)
		return fail(why, whysz, "body: empty");
	if (len > EVENT_BODY_MAX)
		return fail(why, whysz, "body: larger than %d bytes", EVENT_BODY_MAX);
	if ((tok = json_tokener_new_ex(6)) == NULL)
		return fail(why, whysz, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, body, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);
		fail(why, whysz, "body: invalid JSON (%s)", e == json_tokener_continue ?
		    "unexpected end" : json_tokener_error_desc(e));
		goto out;
	}
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (strchr(" \t\r\n", body[end]) == NULL || body[end] == '\0') {
			fail(why, whysz, "body: data after the JSON value");
			goto out;
		}
	if (!(ok = batch_take(root, b, why, whysz)))
		event_batch_free(b);
out:
	json_object_put(root);
	json_tokener_free(tok);
	return ok;
}

/*
 * Builds a one-event batch (a page view) from the parameters of the
 * <noscript> image request: site, url and an optional referrer.
 * Returns 1 or 0 with a reason, like event_parse.
 */
int
event_pageview(struct event_batch *b, const char *site, const char *url,
    const char *ref, char *why, size_t whysz)
{
	struct json_object	*in, *ev = NULL;
	char			 host[VALID_HOST_MAX + 1] = "";

	memset(b, 0, sizeof(*b));
	if (!valid_site_key(site))
		return fail(why, whysz, "site: missing or not a site key");
	if (url == NULL)
		return fail(why, whysz, "url: missing");
	in = json_object_new_object();
	json_object_object_add(in, "type", json_object_new_string("pageview"));
	json_object_object_add(in, "url", json_object_new_string(url));
	if (ref != NULL && *ref != '\0')
		json_object_object_add(in, "ref", json_object_new_string(ref));
	if (!event_one(in, &ev, host, why, whysz)) {
		json_object_put(ev);
		json_object_put(in);
		return 0;
	}
	json_object_put(in);
	snprintf(b->site, sizeof(b->site), "%s", site);
	memcpy(b->host, host, sizeof(host));
	b->events = json_object_new_array_ext(1);
	json_object_array_add(b->events, ev);
	b->nevents = 1;
	return 1;
}

/* The normalised events as JSON text, owned by the batch. */
const char *
event_json(const struct event_batch *b)
{
	return json_object_to_json_string_ext(b->events, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Frees what the batch holds (not the struct itself); accepts an empty batch. */
void
event_batch_free(struct event_batch *b)
{
	if (b == NULL)
		return;
	json_object_put(b->events);
	b->events = NULL;
	b->nevents = 0;
}
