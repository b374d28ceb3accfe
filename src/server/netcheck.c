#include "server/netcheck.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static const char *const class_names[] = {
	[NETCHECK_PUBLIC] = "public",         [NETCHECK_LOOPBACK] = "loopback",
	[NETCHECK_PRIVATE] = "private",       [NETCHECK_LINK_LOCAL] = "link-local",
	[NETCHECK_UNSPECIFIED] = "unspecified", [NETCHECK_MULTICAST] = "multicast",
	[NETCHECK_CGNAT] = "carrier-grade NAT", [NETCHECK_RESERVED] = "reserved",
};

const char *netcheck_class_name(enum netcheck_class c)
{
	return (size_t)c < sizeof(class_names) / sizeof(class_names[0]) ? class_names[c] : "reserved";
}

/* a (host order) within prefix/bits. */
static int in4(uint32_t a, uint32_t prefix, int bits)
{
	return (a >> (32 - bits)) == (prefix >> (32 - bits));
}

static enum netcheck_class classify4(uint32_t a)
{
	static const struct {
		uint32_t prefix;
		int bits;
		enum netcheck_class c;
	} ranges[] = {
		{ 0x00000000, 8, NETCHECK_UNSPECIFIED }, /* 0.0.0.0/8, "this network" */
		{ 0x0a000000, 8, NETCHECK_PRIVATE },     /* 10/8 */
		{ 0x64400000, 10, NETCHECK_CGNAT },      /* 100.64/10 */
		{ 0x7f000000, 8, NETCHECK_LOOPBACK },    /* 127/8 */
		{ 0xa9fe0000, 16, NETCHECK_LINK_LOCAL }, /* 169.254/16, cloud metadata */
		{ 0xac100000, 12, NETCHECK_PRIVATE },    /* 172.16/12 */
		{ 0xc0000000, 24, NETCHECK_RESERVED },   /* 192.0.0/24, protocol assignments */
		{ 0xc0000200, 24, NETCHECK_RESERVED },   /* 192.0.2/24, documentation */
		{ 0xc0586300, 24, NETCHECK_RESERVED },   /* 192.88.99/24, 6to4 relays */
		{ 0xc0a80000, 16, NETCHECK_PRIVATE },    /* 192.168/16 */
		{ 0xc6120000, 15, NETCHECK_RESERVED },   /* 198.18/15, benchmarking */
		{ 0xc6336400, 24, NETCHECK_RESERVED },   /* 198.51.100/24, documentation */
		{ 0xcb007100, 24, NETCHECK_RESERVED },   /* 203.0.113/24, documentation */
		{ 0xe0000000, 4, NETCHECK_MULTICAST },   /* 224/4 */
		{ 0xf0000000, 4, NETCHECK_RESERVED },    /* 240/4 and the broadcast address */
	};
	size_t i;

	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		if (in4(a, ranges[i].prefix, ranges[i].bits))
			return ranges[i].c;
	return NETCHECK_PUBLIC;
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

static enum netcheck_class classify6(const uint8_t *b)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };

	if (zero(b, 15))
		return b[15] == 1 ? NETCHECK_LOOPBACK : b[15] == 0 ? NETCHECK_UNSPECIFIED
								  : NETCHECK_RESERVED;
	/* IPv4 inside IPv6 (mapped, NAT64, 6to4) reaches that IPv4 address. */
	if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12))
		return classify4(be32(b + 12));
	if (b[0] == 0x20 && b[1] == 0x02)
		return classify4(be32(b + 2));
	if (zero(b, 12)) /* IPv4-compatible, deprecated */
		return NETCHECK_RESERVED;
	if ((b[0] & 0xfe) == 0xfc)
		return NETCHECK_PRIVATE; /* fc00::/7 */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return NETCHECK_LINK_LOCAL; /* fe80::/10 */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return NETCHECK_PRIVATE; /* fec0::/10, site-local, deprecated */
	if (b[0] == 0xff)
		return NETCHECK_MULTICAST;
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return NETCHECK_RESERVED; /* 2001:db8::/32, documentation */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02)
		return NETCHECK_RESERVED; /* 2001::/23, protocol assignments (Teredo...) */
	if (b[0] == 0x01 && b[1] == 0 && zero(b + 2, 6))
		return NETCHECK_RESERVED; /* 100::/64, discard */
	return NETCHECK_PUBLIC;
}

enum netcheck_class netcheck_classify(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return classify4(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return classify6(((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr);
	return NETCHECK_RESERVED;
}

/* getaddrinfo for a numeric host only: the forms inet_aton takes ("127.1") included. */
static int numeric(const char *text, struct addrinfo **res)
{
	struct addrinfo hints;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_flags = AI_NUMERICHOST;
	return getaddrinfo(text, NULL, &hints, res) == 0 ? 0 : -1;
}

int netcheck_classify_text(const char *text, enum netcheck_class *out)
{
	struct addrinfo *res = NULL;

	if (numeric(text, &res) < 0)
		return -1;
	*out = netcheck_classify(res->ai_addr);
	freeaddrinfo(res);
	return 0;
}

struct parts {
	char *scheme, *host, *port, *user, *password;
};

static void parts_free(struct parts *p)
{
	curl_free(p->scheme);
	curl_free(p->host);
	curl_free(p->port);
	curl_free(p->user);
	curl_free(p->password);
}

/* The URL's parts, the host without IPv6 brackets; -1 (why in err) when it does not parse. */
static int split(const char *url, struct parts *p, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	size_t n;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &p->scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &p->host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &p->port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		snprintf(err, errlen, "not a URL with a scheme and a host");
		goto out;
	}
	curl_url_get(u, CURLUPART_USER, &p->user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &p->password, 0);
	n = strlen(p->host);
	if (n >= 2 && p->host[0] == '[' && p->host[n - 1] == ']') {
		memmove(p->host, p->host + 1, n - 2);
		p->host[n - 2] = '\0';
	}
	rc = 0;
out:
	curl_url_cleanup(u);
	return rc;
}

int netcheck_url(const char *url, bool allow_private, char *err, size_t errlen)
{
	struct parts p;
	enum netcheck_class c;
	int rc = -1;

	if (split(url, &p, err, errlen) < 0)
		goto out;
	if (strcmp(p.scheme, "https") != 0 && !(allow_private && strcmp(p.scheme, "http") == 0)) {
		snprintf(err, errlen, "must be an https URL%s",
			 allow_private ? " (or http)" : "");
		goto out;
	}
	if (p.user || p.password) {
		snprintf(err, errlen, "must not carry a user or password: the secret signs the calls");
		goto out;
	}
	if (!allow_private && netcheck_classify_text(p.host, &c) == 0 && c != NETCHECK_PUBLIC) {
		snprintf(err, errlen, "%s is a %s address, which webhooks may not reach", p.host,
			 netcheck_class_name(c));
		goto out;
	}
	rc = 0;
out:
	parts_free(&p);
	return rc;
}

int netcheck_resolve(const char *url, char *pin, size_t pinlen, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct parts p;
	char text[INET6_ADDRSTRLEN];
	bool literal;
	int rc = -1, gai;

	pin[0] = '\0';
	if (split(url, &p, err, errlen) < 0)
		goto out;
	literal = numeric(p.host, &res) == 0;
	if (!literal) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		gai = getaddrinfo(p.host, p.port, &hints, &res);
		if (gai != 0) {
			snprintf(err, errlen, "cannot resolve %s: %s", p.host, gai_strerror(gai));
			res = NULL;
			goto out;
		}
	}
	for (ai = res; ai; ai = ai->ai_next) {
		enum netcheck_class c = netcheck_classify(ai->ai_addr);
		const void *addr = ai->ai_family == AF_INET6
					   ? (const void *)&((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr
					   : (const void *)&((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr;

		if (!inet_ntop(ai->ai_family, addr, text, sizeof(text)))
			snprintf(text, sizeof(text), "?");
		if (c != NETCHECK_PUBLIC) {
			snprintf(err, errlen, "%s resolves to %s, a %s address, which webhooks may not "
				 "reach", p.host, text, netcheck_class_name(c));
			goto out;
		}
		if (!literal && !pin[0])
			snprintf(pin, pinlen, ai->ai_family == AF_INET6 ? "%s:%s:[%s]" : "%s:%s:%s",
				 p.host, p.port, text);
	}
	rc = 0;
out:
	if (res)
		freeaddrinfo(res);
	parts_free(&p);
	return rc;
}
