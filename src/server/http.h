/*
 * http: the service's HTTP edge on libmicrohttpd (epoll, thread pool).
 * It owns connections and requests: routes by method and path,
 * authenticates API keys and checks every query parameter against the
 * route's table as soon as the headers are in, then reads the body within
 * the size limit (a sync's to a spool file, others into memory), and
 * writes JSON responses and errors in the shape of SPEC §6. Handlers
 * (api.c) see a complete, validated request and answer through the http_*
 * helpers.
 */
#ifndef ORGSYNC_HTTP_H
#define ORGSYNC_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/parts.h"
#include "model/report.h"
#include "util/buf.h"

struct service;
struct spool;

/*
 * HTTP_MAX_URL: the path and query string together, in bytes; longer gets 414.
 * HTTP_MAX_SEGMENTS: path segments; no route has more, so a longer path is 404.
 * HTTP_MAX_QUERY: query arguments a request keeps; no route takes more.
 */
enum {
	HTTP_MAX_PARAMS = 4,
	HTTP_MAX_PARTS = PARTS_CSV,
	HTTP_MAX_URL = 4096,
	HTTP_MAX_SEGMENTS = 8,
	HTTP_MAX_QUERY = 8,
};

/* The largest integer a query parameter may take: exact in a JSON number (2^53 - 1). */
#define HTTP_INT_MAX INT64_C(9007199254740991)

/* How a query parameter's value is read; anything else answers 400 (SPEC §6). */
enum http_param_type {
	HTTP_PARAM_BOOL,   /* exactly "true" or "false" */
	HTTP_PARAM_INT,    /* decimal digits only, min..max */
	HTTP_PARAM_ENUM,   /* one of values, exactly */
	HTTP_PARAM_STRING, /* any UTF-8 text */
	HTTP_PARAM_CURSOR, /* a position a previous page handed out in its next link */
};

/*
 * One query parameter of a route: the single description that the router
 * checks requests against and the OpenAPI document is made from. A route's
 * table ends with an entry whose name is NULL.
 */
struct http_param {
	const char *name;
	int64_t min, max;          /* HTTP_PARAM_INT */
	const char *const *values; /* HTTP_PARAM_ENUM: NULL-terminated */
	const char *def;           /* the value when absent, as it would be written; NULL: none */
	const char *description;
	enum http_param_type type;
	bool required;
};

/* A query argument the request gave, checked against its http_param. */
struct http_query {
	const struct http_param *param;
	const char *value; /* percent-decoded, owned by the request */
	int64_t num;       /* HTTP_PARAM_INT and HTTP_PARAM_CURSOR */
};

/*
 * A part of a multipart/form-data body, fully read: its bytes are
 * [offset, offset + len) of the request's spool. A body may only have the
 * CSV parts of a sync (SPEC §6), each once: parts_info, in the order of
 * http_req.parts.
 */
struct http_part {
	bool present;
	uint64_t offset, len;
};

/* The largest body of a route whose body is held in memory (a JSON document of a few KB). */
#define HTTP_MAX_HELD_BODY ((size_t)1 << 20)

struct route;

struct http_req {
	struct service *svc;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;                    /* as sent: still percent-encoded */
	const struct route *route;           /* the route matched, once routed */
	const char *params[HTTP_MAX_PARAMS]; /* {name} captures, decoded, owned by the request */
	const char *segments[HTTP_MAX_SEGMENTS]; /* the path's segments, decoded (NULL: invalid) */
	int nsegments;
	char *segment_store;
	struct http_query query[HTTP_MAX_QUERY];
	int nquery;
	char *query_store;
	int64_t org_id;                      /* authenticated org, 0 when none */
	char actor[340];                     /* a web session's actor ("admin:EMAIL"); "" for a key */
	bool session;                        /* authenticated by a web session's cookie */
	char request_id[40];
	/*
	 * The body: held in memory (body), or, for a route whose body may be
	 * large (api_before_body() sets spooled), written to a spool file as
	 * it arrives: the whole body, or a multipart body's parts.
	 */
	bool spooled;
	struct buf body;
	struct spool *spool;
	uint64_t body_len;                   /* bytes received, held or not */
	int spool_errno;                     /* why the spool could not take the body; 0 */
	struct http_part parts[HTTP_MAX_PARTS]; /* by enum part */
	struct MHD_PostProcessor *post;
	int part_current;                    /* the part being read, -1 before the first */
	char part_error[160];                /* why the parts cannot be used; "" when they can */
	void *track;                         /* the connection's conntrack record, or NULL */
	bool too_large;
	bool multipart;
	/* A small body read before the request is routed: a refusal (401, 403,
	 * 409...) answered before it would close the connection with the body
	 * unread, and the client's TCP stack may then lose the answer. */
	bool held;
	int status;                          /* answered status, for logs */
	/* Answers the request's errors in another shape than SPEC §6's (SCIM's under
	 * /scim/), with an extra header when hname is not NULL; NULL: SPEC §6's. */
	int (*error_shape)(struct http_req *r, unsigned status, const char *code,
			   const char *message, const char *hname, const char *hvalue);
	int64_t started_ns; /* os_now_ns() */
};

/*
 * The route's query parameters, already checked: the value given, else the
 * parameter's default (NULL when it has none). http_arg_int() and
 * http_arg_bool() read integers (and cursors) and booleans the same way.
 */
const char *http_arg(struct http_req *r, const char *name);
int64_t http_arg_int(struct http_req *r, const char *name);
bool http_arg_bool(struct http_req *r, const char *name);
/*
 * The relative URL of the next page of a list (a JSON string): this
 * request's path and arguments, the paging argument `name` set to value.
 */
json_t *http_next_link(struct http_req *r, const char *name, int64_t value);
/* A time (milliseconds since the epoch) in RFC 3339, UTC ("2026-12-04T18:21:17.123Z"); 0: null. */
json_t *http_time(int64_t ms);
/* A request header (NULL when absent). */
const char *http_header(struct http_req *r, const char *name);

/* Answers with a JSON document (steals doc). extra_header may be NULL ("Location: /v1/syncs/3"). */
int http_json(struct http_req *r, unsigned status, json_t *doc, const char *hname, const char *hvalue);
/* Answers an HTML page (copied) under a Content-Security-Policy that allows no script,
 * no external resource, and forms to this origin only. */
int http_html(struct http_req *r, unsigned status, const char *html);
/*
 * Answers a JSON document (steals doc) as the media type type
 * ("application/scim+json"), with extra headers: name, value pairs ending
 * with a NULL name (headers may be NULL).
 */
int http_json_typed(struct http_req *r, unsigned status, const char *type, json_t *doc,
		    const char *const *headers);
/* Answers bytes (not copied: they must outlive the response) with a content type and
 * extra headers: NULL-terminated name, value pairs, or NULL. */
int http_reply(struct http_req *r, unsigned status, const char *type, const void *data, size_t len,
	       const char *const *headers);
/* Answers raw bytes with a content type (copied). */
int http_raw(struct http_req *r, unsigned status, const char *type, const char *data, size_t len);
/* {"error":{"code","message","details":[...]}}; details may be NULL (stolen otherwise). */
int http_error(struct http_req *r, unsigned status, const char *code, const char *message,
	       json_t *details);

/*
 * Starts the daemon on svc->cfg.listen (port 0: any free port), speaking
 * HTTPS (TLS 1.2 and 1.3) when svc->cfg.tls_cert and tls_key are set; -1
 * with a message naming what is wrong (the address, or which TLS file).
 */
int http_start(struct service *svc);
/* The port listened on (useful after port 0). */
uint16_t http_port(struct service *svc);
/*
 * Stops accepting connections (the listening socket is closed) and waits,
 * up to svc->cfg.shutdown_grace seconds, for the requests in flight to be
 * answered. Connections waiting between requests do not hold it up.
 */
void http_drain(struct service *svc);
/* Stops the daemon (connections still open are closed) and wipes the TLS key. */
void http_stop(struct service *svc);

#endif
