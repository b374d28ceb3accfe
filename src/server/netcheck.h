/*
 * netcheck: where the service lets a webhook go (SPEC §9). A webhook URL
 * is https, names a host and no credentials, and its host must not be (or,
 * at send time, resolve to) an internal address: loopback, private (RFC
 * 1918, ULA), link-local (cloud metadata at 169.254.169.254 included),
 * unspecified, multicast, CGNAT, or reserved ranges, IPv4 addresses
 * carried in IPv6 included. The caller pins the address checked here for
 * the connection, so DNS cannot answer differently in between. Owns no
 * state; getaddrinfo is its only I/O.
 */
#ifndef ORGSYNC_NETCHECK_H
#define ORGSYNC_NETCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum netcheck_class {
	NETCHECK_PUBLIC,
	NETCHECK_LOOPBACK,
	NETCHECK_PRIVATE,     /* RFC 1918, IPv6 unique local (and deprecated site-local) */
	NETCHECK_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
	NETCHECK_UNSPECIFIED, /* 0.0.0.0/8, :: */
	NETCHECK_MULTICAST,
	NETCHECK_CGNAT,       /* 100.64/10 */
	NETCHECK_RESERVED,    /* documentation, benchmarking, broadcast, future use, ... */
};

/* The class of an IPv4 or IPv6 socket address (other families: reserved). */
enum netcheck_class netcheck_classify(const struct sockaddr *sa);

/* The class of a numeric address ("10.0.0.1", "::1", "127.1"); -1 when text is not one. */
int netcheck_classify_text(const char *text, enum netcheck_class *out);

/* "loopback", "private", ... for messages. */
const char *netcheck_class_name(enum netcheck_class c);

/*
 * Checks a webhook URL as it is set: scheme https (http too when
 * allow_private), a host, no user or password; a numeric host must be
 * public unless allow_private. 0, or -1 with why in err.
 */
int netcheck_url(const char *url, bool allow_private, char *err, size_t errlen);

/*
 * At send time: resolves the URL's host and refuses (-1, why in err) when
 * any of its addresses is internal. On success pin holds the
 * CURLOPT_RESOLVE entry "host:port:address" of the first address, which
 * the caller must use for the connection; pin is "" when the host is
 * numeric already.
 */
int netcheck_resolve(const char *url, char *pin, size_t pinlen, char *err, size_t errlen);

#endif
