#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <maxminddb.h>

#include "geo.h"
#include "util.h"

/* An open country database. */
struct geo_db {
	MMDB_s		 mmdb;
};

static int
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * A qvalue (RFC 9110 12.4.2: "0" or "1", then up to three decimals, none
 * above 1) from p up to end, in thousandths into *q. Returns 1, or 0 for
 * anything else.
 */
static int
qvalue(const char *p, const char *end, int *q)
{
	int	 v, scale = 100;

	if (p >= end || (*p != '0' && *p != '1'))
		return 0;
	v = (*p++ - '0') * 1000;
	if (p < end && *p == '.')
		for (p++; p < end && *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10)
			v += (*p - '0') * scale;
	if (p != end || v > 1000)
		return 0;
	*q = v;
	return 1;
}

/*
 * One element of an Accept-Language list, p up to end (the comma or the
 * header's end): a language range, then parameters. Returns 1 with
 * *tag and *len set to its primary subtag and *q to its weight (1000
 * when it has none), or 0 when the element is empty, "*", not a language
 * range whose primary subtag is two or three letters, or carries a bad
 * q. Parameters other than q are passed over.
 */
static int
element(const char *p, const char *end, const char **tag, size_t *len, int *q)
{
	const char	*v;

	while (p < end && is_ows(*p))
		p++;
	for (*tag = p; p < end && is_alpha(*p); p++)
		;
	*len = (size_t)(p - *tag);
	if (*len < 2 || *len > 3 || (p < end && *p != '-' && *p != '_' && *p != ';' && !is_ows(*p)))
		return 0;
	/* The other subtags: letters, digits, '-' (or '_', as some agents send). */
	while (p < end && (is_alpha(*p) || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
		p++;
	*q = 1000;
	while (p < end) {
		while (p < end && is_ows(*p))
			p++;
		if (p == end)
			break;
		if (*p++ != ';')
			return 0;
		while (p < end && is_ows(*p))
			p++;
		for (v = p; p < end && *p != ';' && !is_ows(*p); p++)
			;
		if (p - v >= 2 && (v[0] == 'q' || v[0] == 'Q') && v[1] == '=' && !qvalue(v + 2, p, q))
			return 0;
	}
	return 1;
}

/*
 * The primary subtag of the most preferred language of Accept-Language
 * header accept (NULL: none), lower case, into out (GEO_LANG_SIZE bytes):
 * of the elements with the highest q, the first. Elements that are "*",
 * have q=0, a primary subtag of other than two or three letters ("i-",
 * "x-") or a malformed q are passed over. Only the first GEO_ACCEPT_MAX
 * bytes are read, whole elements only. Returns 1, or 0 (out "") when no
 * element names a language.
 */
int
geo_language(const char *accept, char *out)
{
	const char	*p = accept, *end, *comma, *tag;
	size_t		 n, len;
	int		 q, best = 0;

	out[0] = '\0';
	if (accept == NULL)
		return 0;
	n = strnlen(accept, GEO_ACCEPT_MAX + 1);
	end = accept + n;
	if (n > GEO_ACCEPT_MAX) {
		/* Cut: keep the elements before the last comma within bounds. */
		for (end = accept + GEO_ACCEPT_MAX; end > accept && *end != ','; end--)
			;
	}
	while (p < end) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		if (element(p, comma, &tag, &len, &q) && q > best) {
			best = q;
			for (size_t i = 0; i < len; i++)
				out[i] = lower(tag[i]);
			out[len] = '\0';
		}
		p = comma + 1;
	}
	return best > 0;
}

/*
 * Opens the MaxMind DB file at path (memory mapped) for geo_country.
 * Returns it, to be freed with geo_close, or NULL without a path (""
 * or NULL: countries are off) and when the file cannot be opened or is
 * no MaxMind DB, which is logged once, here.
 */
struct geo_db *
geo_open(const char *path)
{
	struct geo_db	*g;
	int		 rc, sys;

	if (path == NULL || *path == '\0')
		return NULL;
	g = xcalloc(1, sizeof(*g));
	if ((rc = MMDB_open(path, MMDB_MODE_MMAP, &g->mmdb)) != MMDB_SUCCESS) {
		sys = rc == MMDB_FILE_OPEN_ERROR || rc == MMDB_IO_ERROR;
		fprintf(stderr, "sitepulse: %s=%s: %s%s%s; visitors' countries are unknown\n",
		    GEO_DB_ENV, path, MMDB_strerror(rc), sys ? ": " : "", sys ? strerror(errno) : "");
		free(g);
		return NULL;
	}
	return g;
}

/* Closes g; accepts NULL. */
void
geo_close(struct geo_db *g)
{
	if (g == NULL)
		return;
	MMDB_close(&g->mmdb);
	free(g);
}

/*
 * The two-letter code at path "country" or "registered_country", then
 * "iso_code", of entry e, upper case into out. Returns 1, or 0 when the
 * entry has none (or not two letters).
 */
static int
iso_code(MMDB_entry_s *e, const char *which, char *out)
{
	MMDB_entry_data_s	 d;

	if (MMDB_get_value(e, &d, which, "iso_code", NULL) != MMDB_SUCCESS || !d.has_data ||
	    d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2 ||
	    !is_alpha(d.utf8_string[0]) || !is_alpha(d.utf8_string[1]))
		return 0;
	out[0] = (char)(lower(d.utf8_string[0]) - 'a' + 'A');
	out[1] = (char)(lower(d.utf8_string[1]) - 'a' + 'A');
	out[2] = '\0';
	return 1;
}

/*
 * The country of address addr (an IPv4 or IPv6 address in text; an
 * IPv4-mapped IPv6 one is looked up as IPv4) in g, as an ISO 3166-1
 * alpha-2 code, upper case, into out (GEO_COUNTRY_SIZE bytes): the
 * entry's country, else its registered country. Returns 1, or 0 (out "")
 * without a database, for anything not an address, and for an address
 * the database does not place. Thread-safe: g is only read.
 */
int
geo_country(const struct geo_db *g, const char *addr, char *out)
{
	struct sockaddr_in	 v4 = { .sin_family = AF_INET };
	struct sockaddr_in6	 v6 = { .sin6_family = AF_INET6 };
	struct sockaddr		*sa;
	MMDB_lookup_result_s	 r;
	int			 err;

	out[0] = '\0';
	if (g == NULL || addr == NULL)
		return 0;
	if (inet_pton(AF_INET, addr, &v4.sin_addr) == 1)
		sa = (struct sockaddr *)&v4;
	else if (inet_pton(AF_INET6, addr, &v6.sin6_addr) == 1) {
		sa = (struct sockaddr *)&v6;
		if (IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) {
			memcpy(&v4.sin_addr, &v6.sin6_addr.s6_addr[12], 4);
			sa = (struct sockaddr *)&v4;
		}
	} else
		return 0;
	r = MMDB_lookup_sockaddr(&g->mmdb, sa, &err);
	if (err != MMDB_SUCCESS || !r.found_entry)
		return 0;
	return iso_code(&r.entry, "country", out) || iso_code(&r.entry, "registered_country", out);
}
