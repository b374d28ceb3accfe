/*
 * transport: one HTTP exchange for the client, and the URL syntax it
 * accepts. transport_curl.c does it with libcurl (Linux), transport_winhttp.c
 * with WinHTTP and Windows' own TLS (Windows); the build links one. It sends
 * one request and reads one answer; retries, deadlines, the request id and
 * every message a user reads are the client's (client.c). Internal to
 * src/client.
 */
#ifndef ORGSYNC_CLIENT_TRANSPORT_H
#define ORGSYNC_CLIENT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"

/* Why no usable answer came back. */
enum transport_fail {
	TRANSPORT_OK = 0,
	TRANSPORT_RESOLVE, /* the host name did not resolve */
	TRANSPORT_CONNECT, /* refused or unreachable */
	TRANSPORT_TIMEOUT,
	TRANSPORT_IO,      /* the connection broke off while sending or receiving */
	TRANSPORT_TLS,     /* the handshake failed or the certificate did not verify */
	TRANSPORT_CAFILE,  /* the --cacert file could not be used */
	TRANSPORT_BODY,    /* a file of the body could not be read (detail says why) */
	TRANSPORT_NOMEM,
	TRANSPORT_OTHER,
};

struct transport;

struct transport_request {
	const char *method;       /* GET, POST, PATCH... */
	const char *url;          /* absolute */
	const char *const *headers; /* "Name: value" lines */
	size_t nheaders;
	const struct client_body *body; /* NULL: none (an empty one for a non-GET) */
	long timeout_ms;          /* the whole exchange */
	/* Called with each header line of the answer, as received. */
	void (*on_header)(void *arg, const char *line, size_t len);
	/* Called with the answer's body in pieces; non-zero stops the exchange. */
	int (*on_body)(void *arg, const char *data, size_t len);
	/* Called as the body goes out, when not NULL. */
	void (*on_upload)(void *arg, double sent, double total);
	void *arg;
};

struct transport_result {
	long status;              /* the HTTP status; 0 when none arrived */
	double seconds;           /* the exchange's duration */
	long connect_ms;          /* until connected */
	bool connected;           /* whether a connection was made */
	enum transport_fail fail;
	const char *reason;       /* a short name of the failure (static) */
	char detail[256];         /* the failure in the transport's words */
};

/*
 * Splits url into its scheme and host (each malloc'ed, caller frees); the
 * host without brackets for IPv6 only when the transport gives it so. 0,
 * -1 when url is not an absolute URL, -2 when out of memory.
 */
int transport_parse_url(const char *url, char **scheme, char **host);

/* Process-wide set-up, once; 0 or -1. */
int transport_global_init(void);

/* A transport for o (its CA file, connect timeout); 0 or a client_status. */
int transport_new(const struct client_opts *o, struct transport **out, char *err, size_t errlen);
void transport_free(struct transport *t);

/* Performs one exchange; fills *res. TRANSPORT_OK when an answer arrived. */
enum transport_fail transport_perform(struct transport *t, const struct transport_request *rq,
				      struct transport_result *res);

#endif
