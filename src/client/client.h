/*
 * client: the customer edge, HTTP(S) to the orgsync service (over libcurl on
 * Linux, WinHTTP on Windows: see transport.h).
 * It owns the transport: which URLs are acceptable (https, or plain http to
 * a loopback host only), certificate checks, timeouts, retries with backoff,
 * the upload progress bar, and one-line messages for transport and HTTP
 * errors. It does not read the org, decide exit codes or print results:
 * the command line (src/cli) does that with what it returns.
 */
#ifndef ORGSYNC_CLIENT_H
#define ORGSYNC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/buf.h"

enum client_status {
	CLIENT_OK = 0,
	CLIENT_ENOMEM = -1,
	CLIENT_ECONFIG = -2,  /* a bad URL, plain http to a remote host, a bad CA file */
	CLIENT_ENETWORK = -3, /* no usable HTTP answer: DNS, refused, TLS, timeout */
};

enum {
	CLIENT_CONNECT_TIMEOUT_S = 10,
	CLIENT_TIMEOUT_S = 600,
	CLIENT_RETRIES = 5,
};

struct client_opts {
	const char *url;        /* the service's base URL: https://host[:port][/prefix] */
	const char *api_key;    /* sent as a bearer token; never logged */
	const char *cacert;     /* PEM bundle for a private CA; NULL: the system's */
	bool insecure_http;     /* allow plain http to a non-loopback host */
	long connect_timeout_s; /* per connection attempt */
	long timeout_s;         /* the whole session: every request, retry and wait */
	unsigned retries;       /* extra attempts on retryable failures */
	bool verbose;           /* request ids, statuses and timings on log */
	FILE *log;              /* verbose lines and the progress bar; not owned */
};

/* One multipart part streamed from a file. */
struct client_part {
	const char *name;     /* form field: members, teams, teamsMappings */
	const char *path;
	const char *filename; /* shown to the server */
};

/* A request body: bytes in memory, a file, or multipart files (one kind). */
struct client_body {
	const char *content_type; /* for data or path */
	const char *data;
	size_t len;
	const char *path;
	const struct client_part *parts;
	size_t nparts;
};

struct client_response {
	long status;          /* the HTTP status of the last attempt */
	struct buf body;
	char request_id[80];  /* X-Request-Id of the answer */
	char location[256];
	unsigned attempts;
	double seconds;       /* of the last attempt */
};

struct client;

/*
 * Checks the options (the URL's scheme and host, the CA file) and makes a
 * client; on CLIENT_ECONFIG a one-line reason is in err. The caller frees
 * it with client_free().
 */
int client_new(const struct client_opts *o, struct client **out, char *err, size_t errlen);
void client_free(struct client *c);

/*
 * Sends METHOD path (joined to the base URL; it may carry a query) and
 * fills *resp, which the caller frees with client_response_free() whatever
 * this returns. Retries with exponential backoff and full jitter on
 * connection failures and on 429 and 503 (Retry-After honoured), never on
 * other answers; a POST is retried on a transport error only when it failed
 * before the connection was made, so that a sync is never sent twice.
 * CLIENT_OK means an HTTP answer arrived (any status); CLIENT_ENETWORK means
 * none did, and err holds the reason in one line.
 */
int client_request(struct client *c, const char *method, const char *path,
		   const struct client_body *body, const char *accept,
		   struct client_response *resp, char *err, size_t errlen);

void client_response_free(struct client_response *r);

/*
 * Sleeps ms, or less when the session's budget is shorter; returns
 * CLIENT_ENETWORK once the budget is spent (for polling loops).
 */
int client_sleep(struct client *c, long ms);

/*
 * A one-line message for an HTTP error answer (status >= 400), from its
 * {"error":{code,message}} body: what went wrong and what to do (activate
 * provisioning, wait for the running sync, check the key...).
 */
void client_describe_error(const struct client *c, const struct client_response *r,
			   char *out, size_t len);

/* The error code of an error answer ("sync_running"), "" when none; into out. */
void client_error_code(const struct client_response *r, char *out, size_t len);

/* The base URL, without a trailing slash. */
const char *client_base_url(const struct client *c);

#endif
