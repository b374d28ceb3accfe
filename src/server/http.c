#include "server/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/api.h"
#include "server/conntrack.h"
#include "server/log.h"
#include "server/ratelimit.h"
#include "server/scim/scim.h"
#include "server/service.h"
#include "server/spool.h"
#include "server/web.h"
#include "util/num.h"
#include "util/os.h"
#include "util/utf8.h"

const char *http_header(struct http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Queues a response with headers: name, value pairs ending with a NULL name (may be NULL). */
static int queue_headers(struct http_req *r, unsigned status, const char *type, const char *data,
			 size_t len, enum MHD_ResponseMemoryMode mode, const char *const *headers)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)data, mode);
	enum MHD_Result rc;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, "X-Request-Id", r->request_id);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	for (; headers && headers[0]; headers += 2)
		if (headers[1])
			MHD_add_response_header(resp, headers[0], headers[1]);
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	rc = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	r->status = (int)status;
	return (int)rc; /* MHD_NO or MHD_YES */
}

static int queue(struct http_req *r, unsigned status, const char *type, const char *data,
		 size_t len, enum MHD_ResponseMemoryMode mode, const char *hname, const char *hvalue)
{
	const char *headers[3] = { hname, hvalue, NULL };

	return queue_headers(r, status, type, data, len, mode, hname ? headers : NULL);
}

int http_reply(struct http_req *r, unsigned status, const char *type, const void *data, size_t len,
	       const char *const *headers)
{
	return queue_headers(r, status, type, (const char *)data, len, MHD_RESPMEM_PERSISTENT,
			     headers);
}

int http_raw(struct http_req *r, unsigned status, const char *type, const char *data, size_t len)
{
	return queue(r, status, type, data, len, MHD_RESPMEM_MUST_COPY, NULL, NULL);
}

int http_html(struct http_req *r, unsigned status, const char *html)
{
	/* Inline style only; forms post to this origin; no framing (clickjacking). */
	return queue(r, status, "text/html; charset=utf-8", html, strlen(html), MHD_RESPMEM_MUST_COPY,
		     "Content-Security-Policy",
		     "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
		     "frame-ancestors 'none'; base-uri 'none'");
}

int http_json(struct http_req *r, unsigned status, json_t *doc, const char *hname, const char *hvalue)
{
	static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\","
				  "\"details\":[]}}";
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int rc;

	json_decref(doc);
	if (!text)
		return queue(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json", oom,
			     sizeof(oom) - 1, MHD_RESPMEM_PERSISTENT, NULL, NULL);
	rc = queue(r, status, "application/json", text, strlen(text), MHD_RESPMEM_MUST_FREE, hname,
		   hvalue);
	return rc;
}

int http_json_typed(struct http_req *r, unsigned status, const char *type, json_t *doc,
		    const char *const *headers)
{
	static const char oom[] = "{\"detail\":\"out of memory\",\"status\":\"500\"}";
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	if (!text)
		return queue_headers(r, MHD_HTTP_INTERNAL_SERVER_ERROR, type, oom, sizeof(oom) - 1,
				     MHD_RESPMEM_PERSISTENT, NULL);
	return queue_headers(r, status, type, text, strlen(text), MHD_RESPMEM_MUST_FREE, headers);
}

int http_error(struct http_req *r, unsigned status, const char *code, const char *message,
	       json_t *details)
{
	json_t *err;

	if (r->error_shape) {
		json_decref(details);
		return r->error_shape(r, status, code, message, NULL, NULL);
	}
	err = json_pack("{s:s, s:s, s:o}", "code", code, "message", message, "details",
			details ? details : json_array());

	return http_json(r, status, json_pack("{s:o}", "error", err), NULL, NULL);
}

/* --- paths ------------------------------------------------------------------ */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/*
 * Percent-decodes s[0..len) into out (room for len + 1 bytes). -1 when an
 * escape is broken ("%4", "%zz"), when the text would hold a NUL (an id
 * with one could not be told from its prefix in C strings), or when it is
 * not UTF-8 (ids are UTF-8 everywhere else).
 */
static int pct_decode(const char *s, size_t len, char *out)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[n++] = s[i];
			continue;
		}
		if (i + 2 >= len || hex_digit(s[i + 1]) < 0 || hex_digit(s[i + 2]) < 0)
			return -1;
		out[n++] = (char)(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
		i += 2;
	}
	out[n] = '\0';
	if (memchr(out, '\0', n) || utf8_valid_prefix(out, n) != n)
		return -1;
	return 0;
}

/* Appends s percent-encoded: only RFC 3986's unreserved characters stay as they are. */
static void pct_encode(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			buf_putc(out, (char)c);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
}

/*
 * Splits the path as sent on '/' and decodes each segment once, so that an
 * id may hold any character, '/' included (GET /v1/members/a%2Fb is member
 * "a/b"): the split comes before the decoding. A segment that does not
 * decode is kept as NULL: it matches no literal, and a route that would
 * capture it answers 400. -1 when the path cannot be a route's (it does not
 * start with '/', or has more segments than any route); -2 out of memory.
 */
static int split_path(struct http_req *r)
{
	const char *p = r->path, *end;
	char *out;

	if (*p != '/')
		return -1;
	r->segment_store = malloc(strlen(p) + HTTP_MAX_SEGMENTS + 1);
	if (!r->segment_store)
		return -2;
	out = r->segment_store;
	while (*p == '/') {
		p++;
		if (r->nsegments == HTTP_MAX_SEGMENTS)
			return -1;
		end = p + strcspn(p, "/");
		if (pct_decode(p, (size_t)(end - p), out) == 0) {
			r->segments[r->nsegments] = out;
			out += strlen(out) + 1;
		}
		r->nsegments++;
		p = end;
	}
	return 0;
}

/*
 * Matches the decoded segments against a pattern ("/v1/members/{id}": a
 * segment in braces captures one non-empty segment into r->params). 1 on
 * match; *bad then names the capture ("{id}") whose segment did not
 * decode, or is NULL.
 */
static int match(struct http_req *r, const char *pattern, const char **bad)
{
	/* SCIM clients spell endpoints in any case (Microsoft's collection asks for /users). */
	const bool any_case = strncmp(pattern, "/scim/", 6) == 0;
	int i = 0, n = 0;

	*bad = NULL;
	while (*pattern == '/') {
		const char *seg = ++pattern;
		size_t len = strcspn(seg, "/");

		pattern += len;
		if (i == r->nsegments)
			return 0;
		if (seg[0] == '{') {
			if (n == HTTP_MAX_PARAMS || (r->segments[i] && !r->segments[i][0]))
				return 0;
			if (!r->segments[i] && !*bad)
				*bad = seg;
			r->params[n++] = r->segments[i];
		} else if (!r->segments[i] || strlen(r->segments[i]) != len ||
			   (any_case ? strncasecmp(r->segments[i], seg, len)
				     : memcmp(r->segments[i], seg, len)) != 0) {
			return 0;
		}
		i++;
	}
	return !*pattern && i == r->nsegments;
}

/* --- query parameters --------------------------------------------------------- */

/* What a parameter accepts, for the messages of a refusal. */
static void describe_param(struct buf *out, const struct http_param *p)
{
	const char *const *v;

	switch (p->type) {
	case HTTP_PARAM_BOOL:
		buf_puts(out, "true or false");
		break;
	case HTTP_PARAM_INT:
		buf_printf(out, "an integer from %" PRId64 " to %" PRId64, p->min, p->max);
		break;
	case HTTP_PARAM_ENUM:
		buf_puts(out, "one of ");
		for (v = p->values; *v; v++)
			buf_printf(out, "%s%s", v == p->values ? "" : ", ", *v);
		break;
	case HTTP_PARAM_STRING:
		buf_puts(out, "text");
		break;
	case HTTP_PARAM_CURSOR:
		buf_puts(out, "the cursor of a previous page's next link");
		break;
	}
}

/* Checks a decoded value against its parameter; fills q->num. */
static int check_value(const struct http_param *p, struct http_query *q)
{
	const char *const *v;

	switch (p->type) {
	case HTTP_PARAM_BOOL:
		return !strcmp(q->value, "true") || !strcmp(q->value, "false") ? 0 : -1;
	case HTTP_PARAM_INT:
		return num_i64(q->value, p->min, p->max, &q->num) == NUM_OK ? 0 : -1;
	case HTTP_PARAM_CURSOR:
		return num_i64(q->value, 1, HTTP_INT_MAX, &q->num) == NUM_OK ? 0 : -1;
	case HTTP_PARAM_ENUM:
		for (v = p->values; *v; v++)
			if (!strcmp(q->value, *v))
				return 0;
		return -1;
	case HTTP_PARAM_STRING:
		return 0;
	}
	return -1;
}

struct query_check {
	struct http_req *r;
	const struct http_param *params; /* the route's, or NULL */
	char *store;                     /* where decoded names and values go */
	json_t *details;                 /* [{field, message}] of the refusals */
	struct buf message;              /* the first refusal */
};

/* The name of a parameter that did not decode, as a refusal can show it: as sent, if UTF-8. */
static const char *undecoded_name(const char *raw)
{
	return utf8_valid_prefix(raw, strlen(raw)) == strlen(raw) ? raw : "";
}

__attribute__((format(printf, 3, 4)))
static void refuse_param(struct query_check *qc, const char *field, const char *fmt, ...)
{
	struct buf msg;
	va_list ap;

	buf_init(&msg);
	va_start(ap, fmt);
	buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	/* A field is cut to a few dozen bytes, between characters; ten details tell enough. */
	if (json_array_size(qc->details) < 10)
		json_array_append_new(qc->details, json_pack("{s:s%, s:s}", "field", field,
							     utf8_cut(field, strlen(field) > 64 ? 64 : strlen(field)),
							     "message", msg.data ? msg.data : ""));
	if (!qc->message.len)
		buf_puts(&qc->message, msg.data ? msg.data : "");
	buf_free(&msg);
}

/* The names a route takes, for a refusal of another. */
static void list_params(struct buf *out, const struct http_param *params)
{
	const struct http_param *p;

	if (!params || !params->name) {
		buf_puts(out, "this route takes no query parameters");
		return;
	}
	buf_puts(out, "this route takes ");
	for (p = params; p->name; p++)
		buf_printf(out, "%s%s", p == params ? "" : ", ", p->name);
}

/* A name or value quoted back in a refusal: at most 40 bytes, cut between characters. */
static int quoted_len(const char *v)
{
	return (int)utf8_cut(v, strlen(v) > 40 ? 40 : strlen(v));
}

/* Checks one argument (MHD_get_connection_values iterator; name and value as sent). */
static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	struct query_check *qc = cls;
	struct http_req *r = qc->r;
	const struct http_param *p = NULL;
	struct http_query q = { 0 };
	char *name = qc->store;
	struct buf what;
	int i;

	(void)kind;
	buf_init(&what);
	if (pct_decode(key, strlen(key), name) < 0) {
		refuse_param(qc, undecoded_name(key), "a parameter name is not valid percent-encoded "
			     "UTF-8 (a %%00, or a broken escape)");
		goto out;
	}
	qc->store += strlen(name) + 1;
	for (i = 0; qc->params && qc->params[i].name; i++)
		if (!strcmp(qc->params[i].name, name))
			p = &qc->params[i];
	if (!p) {
		list_params(&what, qc->params);
		refuse_param(qc, name, "unknown parameter '%.*s': %s", quoted_len(name), name,
			     what.data);
		goto out;
	}
	describe_param(&what, p);
	for (i = 0; i < r->nquery; i++)
		if (r->query[i].param == p) {
			refuse_param(qc, name, "%s is given twice: give it once (%s)", name, what.data);
			goto out;
		}
	if (!value || !*value) {
		refuse_param(qc, name, "%s needs a value: %s", name, what.data);
		goto out;
	}
	q.param = p;
	q.value = qc->store;
	if (pct_decode(value, strlen(value), qc->store) < 0) {
		refuse_param(qc, name, "%s is not valid percent-encoded UTF-8 (a %%00, or a broken "
			     "escape): %s", name, what.data);
		goto out;
	}
	qc->store += strlen(q.value) + 1;
	if (check_value(p, &q) < 0) {
		refuse_param(qc, name, "%s is %s, not '%.*s'", name, what.data, quoted_len(q.value),
			     q.value);
		goto out;
	}
	if (r->nquery < HTTP_MAX_QUERY)
		r->query[r->nquery++] = q;
out:
	buf_free(&what);
	return MHD_YES;
}

/* Adds up the bytes of a request's headers or query arguments. */
static enum MHD_Result add_length(void *cls, enum MHD_ValueKind kind, const char *key,
				  const char *value)
{
	size_t *sum = cls;

	(void)kind;
	*sum += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " / "=&", CRLF */
	return MHD_YES;
}

/*
 * Checks the query against the route's table (SPEC §6): every name known,
 * each given once, with a value of its type; required ones present. Answers
 * 400 bad_parameter naming each parameter at fault (returns != -1), or
 * keeps the decoded arguments in r->query and returns -1.
 */
static int check_query(struct http_req *r, const struct http_param *params)
{
	struct query_check qc = { r, params, NULL, json_array(), { NULL, 0, 0 } };
	const struct http_param *p;
	size_t size = 1;
	int rc = -1, i;

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_length, &size);
	r->query_store = malloc(size);
	if (!r->query_store || !qc.details) {
		rc = http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory", NULL);
		goto out;
	}
	qc.store = r->query_store;
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, check_arg, &qc);
	for (p = params; p && p->name; p++) {
		if (!p->required)
			continue;
		for (i = 0; i < r->nquery && r->query[i].param != p; i++)
			;
		if (i == r->nquery)
			refuse_param(&qc, p->name, "%s is required", p->name);
	}
	if (json_array_size(qc.details)) {
		rc = http_error(r, MHD_HTTP_BAD_REQUEST, "bad_parameter", qc.message.data, qc.details);
		qc.details = NULL;
	}
out:
	json_decref(qc.details);
	buf_free(&qc.message);
	return rc;
}

/* The argument the request gave for name, or NULL. */
static const struct http_query *given(struct http_req *r, const char *name)
{
	int i;

	for (i = 0; i < r->nquery; i++)
		if (!strcmp(r->query[i].param->name, name))
			return &r->query[i];
	return NULL;
}

/* The route's description of name, or NULL. */
static const struct http_param *param_of(struct http_req *r, const char *name)
{
	const struct http_param *p;

	for (p = r->route ? r->route->params : NULL; p && p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

const char *http_arg(struct http_req *r, const char *name)
{
	const struct http_query *q = given(r, name);
	const struct http_param *p;

	if (q)
		return q->value;
	p = param_of(r, name);
	return p ? p->def : NULL;
}

int64_t http_arg_int(struct http_req *r, const char *name)
{
	const struct http_query *q = given(r, name);
	const char *def = http_arg(r, name);
	int64_t v = 0;

	if (q)
		return q->num;
	/* A default is written in the route's table as a request would write it. */
	if (def && num_i64(def, INT64_MIN, INT64_MAX, &v) != NUM_OK)
		v = 0;
	return v;
}

bool http_arg_bool(struct http_req *r, const char *name)
{
	const char *v = http_arg(r, name);

	return v && !strcmp(v, "true");
}

json_t *http_next_link(struct http_req *r, const char *name, int64_t value)
{
	const struct http_param *p;
	const struct http_query *q;
	struct buf url;
	json_t *link;
	int i;

	buf_init(&url);
	for (i = 0; i < r->nsegments; i++) {
		buf_putc(&url, '/');
		pct_encode(&url, r->segments[i] ? r->segments[i] : "");
	}
	buf_putc(&url, '?');
	for (p = r->route ? r->route->params : NULL; p && p->name; p++) {
		if (!strcmp(p->name, name) || !(q = given(r, p->name)))
			continue;
		buf_printf(&url, "%s=", p->name);
		pct_encode(&url, q->value);
		buf_putc(&url, '&');
	}
	buf_printf(&url, "%s=%" PRId64, name, value);
	link = url.data ? json_string(url.data) : NULL;
	buf_free(&url);
	return link ? link : json_null();
}

json_t *http_time(int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char text[40], stamp[48];

	if (ms <= 0 || !gmtime_r(&secs, &tm) || !strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm))
		return json_null();
	snprintf(stamp, sizeof(stamp), "%s.%03dZ", text, (int)(ms % 1000));
	return json_string(stamp);
}

/* --- routing ------------------------------------------------------------------ */

static int authenticate(struct http_req *r)
{
	const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	struct store *st = service_store(r->svc);
	int rc;

	/* The web UI's requests carry a session cookie instead of the key. */
	if (!h && web_has_session(r))
		return web_authenticate(r);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return http_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				  "send the organization's API key: Authorization: Bearer <key>", NULL);
	if (!st)
		return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				  "the database cannot be reached", NULL);
	rc = store_key_auth(st, h + 7, &r->org_id);
	if (rc == STORE_ENOTFOUND)
		return http_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized", "the API key is not valid",
				  NULL);
	if (rc)
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the key check failed",
				  NULL);
	return -1; /* authenticated: go on */
}

/* 429 with Retry-After when the key has used its tokens; -1 to go on. */
static int rate_limit(struct http_req *r)
{
	unsigned wait;
	char secs[16], msg[160];

	if (!r->svc->rate)
		return -1;
	wait = ratelimit_take(r->svc->rate, r->org_id, os_now_ms());
	if (!wait)
		return -1;
	atomic_fetch_add(&r->svc->metrics.rate_limited, 1);
	snprintf(secs, sizeof(secs), "%u", wait);
	snprintf(msg, sizeof(msg), "this API key is limited to %g requests per second (bursts of "
		 "%u); retry in %u s", r->svc->cfg.rate_limit, r->svc->cfg.rate_burst, wait);
	if (r->error_shape)
		return r->error_shape(r, MHD_HTTP_TOO_MANY_REQUESTS, "rate_limited", msg,
				      MHD_HTTP_HEADER_RETRY_AFTER, secs);
	return http_json(r, MHD_HTTP_TOO_MANY_REQUESTS,
			 json_pack("{s:{s:s, s:s, s:[]}}", "error", "code", "rate_limited", "message",
				   msg, "details"),
			 MHD_HTTP_HEADER_RETRY_AFTER, secs);
}

/* 400 naming the path parameter (capture "{name}" of the pattern) that did not decode. */
static int bad_segment(struct http_req *r, const char *capture)
{
	int len = (int)strcspn(capture + 1, "}");
	char msg[160];

	snprintf(msg, sizeof(msg), "the path segment %.*s is not valid percent-encoded UTF-8 (a %%00, "
		 "or a broken escape)", len, capture + 1);
	return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_path", msg,
			  json_pack("[{s:s%, s:s}]", "field", capture + 1, (size_t)len, "message",
				    "percent-encoded UTF-8, without %00"));
}

/* The route tables: the API's (SPEC §6) and SCIM's (under /scim/v2). */
static const struct {
	const struct route *routes;
	const size_t *n;
} tables[] = { { api_routes, &api_nroutes }, { scim_routes, &scim_nroutes } };

enum { NTABLES = sizeof(tables) / sizeof(tables[0]) };

/* The i-th route of all tables, or NULL past the last. */
static const struct route *route_at(size_t i)
{
	size_t t;

	for (t = 0; t < NTABLES; t++) {
		if (i < *tables[t].n)
			return &tables[t].routes[i];
		i -= *tables[t].n;
	}
	return NULL;
}

/*
 * Finds the request's route and checks all that its headers can tell
 * (method, credentials, rate, path and query), before any of the body is
 * read: a refusal never costs reading the body. Answers, or returns -1
 * with r->route set; the handler runs once the body is in.
 */
static int route(struct http_req *r)
{
	const struct route *rt;
	struct buf allow;
	const char *bad;
	size_t i;
	int rc;

	buf_init(&allow);
	rc = split_path(r);
	if (rc == -2)
		return MHD_NO;
	for (i = 0; rc == 0 && (rt = route_at(i)); i++) {
		if (!match(r, rt->pattern, &bad))
			continue;
		if (strcmp(rt->method, r->method) != 0) {
			buf_printf(&allow, "%s%s", allow.len ? ", " : "", rt->method);
			continue;
		}
		buf_free(&allow);
		r->route = rt;
		if (rt->auth && (rc = authenticate(r)) != -1)
			return rc;
		if (rt->auth && (rc = rate_limit(r)) != -1)
			return rc;
		if (bad)
			return bad_segment(r, bad);
		if ((rc = check_query(r, rt->params)) != -1)
			return rc;
		return api_before_body(r);
	}
	if (allow.len && r->error_shape) {
		rc = r->error_shape(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				    "this route does not take that method", MHD_HTTP_HEADER_ALLOW,
				    allow.data);
		buf_free(&allow);
		return rc;
	}
	if (allow.len) {
		static const char body[] = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":"
					   "\"this route does not take that method\",\"details\":[]}}";

		rc = queue(r, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json", body, sizeof(body) - 1,
			   MHD_RESPMEM_PERSISTENT, MHD_HTTP_HEADER_ALLOW, allow.data);
		buf_free(&allow);
		return rc;
	}
	buf_free(&allow);
	return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such route", NULL);
}

/* --- requests ----------------------------------------------------------- */

/* Refuses the multipart body (the sync route answers 400 with why); what follows is dropped. */
__attribute__((format(printf, 2, 3)))
static void refuse_parts(struct http_req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->part_error, sizeof(r->part_error), fmt, ap);
	va_end(ap);
}

/*
 * Spools the parts of a multipart body, one after the other, as
 * libmicrohttpd hands them over in pieces. Only the parts of a sync are
 * taken, each once: any other name, or a name seen again, refuses the body
 * (two members parts must not be read as one file). libmicrohttpd reports
 * a part in pieces at growing offsets; the first piece, at offset 0, may be
 * empty and then be followed by another piece at offset 0 of the same part,
 * so that a part begins at offset 0 unless the part being read has no bytes
 * yet. An empty part followed by one of the same name thus reads as one
 * part: the same bytes either way.
 */
static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
			       const char *filename, const char *content_type,
			       const char *encoding, const char *data, uint64_t off, size_t size)
{
	struct http_req *r = cls;
	struct http_part *p;
	int i;

	(void)kind;
	(void)filename;
	(void)content_type;
	(void)encoding;
	if (r->part_error[0] || r->spool_errno)
		return MHD_YES; /* read to the end, to answer in JSON */
	if (!key) {
		refuse_parts(r, "a part has no name: expected members, teams, teamsMappings");
		return MHD_YES;
	}
	i = (int)parts_find(key);
	if (i >= HTTP_MAX_PARTS) {
		size_t len = strlen(key) > 40 ? 40 : strlen(key);

		if (utf8_valid_prefix(key, len) == len)
			refuse_parts(r, "unknown part '%.*s': expected members, teams, teamsMappings",
				     (int)utf8_cut(key, len), key);
		else
			refuse_parts(r, "a part's name is not UTF-8: expected members, teams, "
				     "teamsMappings");
		return MHD_YES;
	}
	p = &r->parts[i];
	if (off == 0 && !(i == r->part_current && p->len == 0)) {
		if (p->present) {
			refuse_parts(r, "the part %s is sent twice: send each part once", key);
			return MHD_YES;
		}
		p->present = true;
		p->offset = spool_size(r->spool);
		r->part_current = i;
	}
	if (size) {
		int rc = spool_append(r->spool, data, size);

		if (rc)
			r->spool_errno = -rc;
		else
			p->len += size;
	}
	return MHD_YES;
}

/* The connection's deadline record (conntrack), or NULL. */
static void *connection_ctx(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

/* The most body bytes the request may send: --max-body, or less for a body held in memory. */
static uint64_t body_max(const struct http_req *r)
{
	size_t max = r->svc->cfg.max_body;

	return r->route && !r->spooled && max > HTTP_MAX_HELD_BODY ? HTTP_MAX_HELD_BODY : max;
}

static int too_large(struct http_req *r)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "the request body is larger than the %llu bytes allowed",
		 (unsigned long long)body_max(r));
	return http_error(r, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", msg, NULL);
}

/*
 * The spool could not take the body. A full disk is the service's trouble,
 * not the request's, and passes: 503 with Retry-After, which `orgsync
 * push` retries. Anything else (the spool directory gone, its permissions)
 * needs an operator: 500, logged.
 */
static int spool_failed(struct http_req *r)
{
	char msg[160];

	if (r->spool_errno == ENOSPC || r->spool_errno == EDQUOT || r->spool_errno == EFBIG) {
		log_write(json_pack("{s:s, s:s, s:s}", "rid", r->request_id, "error", "spool",
				    "detail", strerror(r->spool_errno)));
		snprintf(msg, sizeof(msg), "the service has no room to receive this body (%s); try "
			 "again later", strerror(r->spool_errno));
		return http_json(r, MHD_HTTP_SERVICE_UNAVAILABLE,
				 json_pack("{s:{s:s, s:s, s:[]}}", "error", "code",
					   "insufficient_storage", "message", msg, "details"),
				 MHD_HTTP_HEADER_RETRY_AFTER, "60");
	}
	log_write(json_pack("{s:s, s:s, s:s, s:s}", "rid", r->request_id, "error", "spool",
			    "dir", service_spool_dir(r->svc), "detail", strerror(r->spool_errno)));
	return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
			  "the service cannot store the body it receives", NULL);
}

static struct http_req *start(struct service *svc, struct MHD_Connection *c, const char *url,
			      const char *method)
{
	struct http_req *r = calloc(1, sizeof(*r));
	const char *rid, *type;
	unsigned char rnd[8];

	if (!r)
		return NULL;
	r->svc = svc;
	r->conn = c;
	r->method = method;
	r->path = url;
	r->started_ns = os_now_ns();
	r->part_current = -1;
	buf_init(&r->body);
	rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
	if (rid && strlen(rid) < sizeof(r->request_id) && strspn(rid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == strlen(rid)) {
		snprintf(r->request_id, sizeof(r->request_id), "%s", rid);
	} else {
		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(r->request_id, sizeof(r->request_id), rnd, sizeof(rnd));
	}
	/* Every answer under /scim/, the refusals before routing included, is SCIM's. */
	if (strncmp(url, "/scim/", 6) == 0)
		r->error_shape = scim_http_error;
	type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	r->multipart = type && strncasecmp(type, "multipart/form-data", 19) == 0;
	atomic_fetch_add(&svc->metrics.requests, 1);
	atomic_fetch_add(&svc->in_flight, 1);
	r->track = connection_ctx(c);
	conntrack_phase(r->track, CONN_BODY);
	return r;
}

/* How often the headers that frame a request or carry its credentials appear. */
struct framing {
	int authorization, content_length, transfer_encoding;
	bool other_coding; /* a Transfer-Encoding other than chunked alone */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (!strcasecmp(key, MHD_HTTP_HEADER_AUTHORIZATION)) {
		f->authorization++;
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		f->content_length++;
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		f->transfer_encoding++;
		if (!value || strcasecmp(value, "chunked") != 0)
			f->other_coding = true;
	}
	return MHD_YES;
}

/* Answers a request whose framing cannot be trusted, and closes its connection. */
static int close_with_error(struct http_req *r, unsigned status, const char *code,
			    const char *message)
{
	return http_json(r, status,
			 json_pack("{s:{s:s, s:s, s:[]}}", "error", "code", code, "message", message,
				   "details"),
			 MHD_HTTP_HEADER_CONNECTION, "close");
}

/*
 * The body size a Content-Length header (or NULL) announces: 0 when none.
 * One that is not a number reads as the largest size, so that a limit
 * refuses it (libmicrohttpd answers such a request itself first).
 */
static uint64_t announced_length(const char *len)
{
	uint64_t n = 0;

	if (len && num_u64(len, 0, UINT64_MAX, &n) != NUM_OK)
		n = UINT64_MAX;
	return n;
}

/*
 * Refuses a request whose headers disagree about where its body ends, or
 * which carries two sets of credentials: a proxy in front may have read it
 * otherwise (request smuggling), or checked the other key. libmicrohttpd
 * 0.9.75 takes all of these as they come: with Transfer-Encoding it ignores
 * Content-Length, of two Content-Length headers it reads the first, of two
 * Authorization headers it hands out the first, and a Transfer-Encoding
 * other than chunked it reads as a body that ends when the connection
 * does (RFC 9112 §6.3 wants 400 when chunked is not the final coding; the
 * other codings are not read either). The connection is closed after the
 * answer: what follows on it cannot be told apart from the body. -1 to go
 * on.
 */
static int refuse_framing_early(struct http_req *r)
{
	struct framing f = { 0 };

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, count_framing, &f);
	if (f.authorization > 1)
		return close_with_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
				      "the request has more than one Authorization header: send "
				      "one API key");
	if (f.content_length && f.transfer_encoding)
		return close_with_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
				      "the request has both Content-Length and Transfer-Encoding: "
				      "send one of them");
	if (f.content_length > 1 || f.transfer_encoding > 1)
		return close_with_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
				      f.content_length > 1 ? "the request has more than one "
				      "Content-Length header" : "the request has more than one "
				      "Transfer-Encoding header");
	if (f.other_coding)
		return close_with_error(r, MHD_HTTP_BAD_REQUEST, "bad_request",
				      "the only Transfer-Encoding read is chunked: send the body "
				      "chunked or with Content-Length");
	return -1;
}

/*
 * Refuses, before any of its body is read, a request whose URL, headers or
 * announced body are over the limits, or whose framing is ambiguous; -1 to
 * go on. What libmicrohttpd's per-connection memory cannot hold at all it
 * refuses itself.
 */
static int refuse_early(struct http_req *r)
{
	const struct service_config *cfg = &r->svc->cfg;
	size_t url = strlen(r->path), headers = 0;
	const char *len;
	char msg[160];
	int rc;

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_length, &url);
	if (url > HTTP_MAX_URL) {
		snprintf(msg, sizeof(msg), "the URL is longer than the %d bytes allowed", HTTP_MAX_URL);
		return http_error(r, MHD_HTTP_URI_TOO_LONG, "uri_too_long", msg, NULL);
	}
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, add_length, &headers);
	if (headers > cfg->max_header_bytes) {
		snprintf(msg, sizeof(msg), "the request headers are larger than the %zu bytes allowed",
			 cfg->max_header_bytes);
		return http_error(r, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", msg,
				  NULL);
	}
	if ((rc = refuse_framing_early(r)) != -1)
		return rc;
	len = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (announced_length(len) > cfg->max_body) {
		r->too_large = true;
		return too_large(r);
	}
	return -1;
}

/*
 * Readies the routed request for its body: a spooled route's body goes
 * to a spool file (a multipart body through the post processor, part by
 * part), any other is held in memory up to HTTP_MAX_HELD_BODY. An
 * announced body over the route's limit is refused now. -1 to go on.
 */
static int body_start(struct http_req *r)
{
	const char *len = http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
	int rc;

	if (announced_length(len) > body_max(r)) {
		r->too_large = true;
		return too_large(r);
	}
	if (!r->spooled)
		return -1;
	rc = spool_open(service_spool_dir(r->svc), &r->spool);
	if (rc) {
		r->spool_errno = -rc;
		return spool_failed(r);
	}
	if (r->multipart)
		r->post = MHD_create_post_processor(r->conn, 64 * 1024, on_part, r);
	return -1;
}

/* Takes a piece of the body: counted against the limit, then spooled, held or dropped. */
static enum MHD_Result body_piece(struct http_req *r, const char *data, size_t size)
{
	int rc;

	r->body_len += size;
	if (!r->too_large && r->body_len > body_max(r)) {
		r->too_large = true;
		buf_free(&r->body);
	}
	if (r->too_large || r->spool_errno)
		return MHD_YES;
	if (r->post) {
		if (MHD_post_process(r->post, data, size) != MHD_YES)
			r->multipart = false;
	} else if (r->spooled) {
		/* A multipart body without a post processor (no boundary) has no parts to keep. */
		if (!r->multipart && (rc = spool_append(r->spool, data, size)) != 0)
			r->spool_errno = -rc;
	} else if (buf_append(&r->body, data, size) < 0) {
		return MHD_NO;
	}
	return MHD_YES;
}

/*
 * Whether the request's body is read before it is routed: an announced
 * body of at most HTTP_MAX_HELD_BODY bytes. A larger one is routed (and
 * refused, if it is to be) from its headers alone, so that a refusal
 * never waits for a large upload; its clients send Expect: 100-continue.
 */
static bool hold_first(struct http_req *r)
{
	const char *len = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n = announced_length(len);

	return n > 0 && n <= HTTP_MAX_HELD_BODY;
}

/*
 * Routes a request whose body was held: refusals are answered with the
 * body read; a spooled route takes the held bytes as if they had just
 * arrived. -1 to go on to the handler.
 */
static int route_held(struct http_req *r)
{
	struct buf held = r->body;
	int rc;

	r->held = false;
	rc = route(r);
	if (rc == -1)
		rc = body_start(r);
	if (rc != -1 || !r->spooled)
		return rc;
	buf_init(&r->body);
	r->body_len = 0;
	rc = body_piece(r, held.data ? held.data : "", held.len) == MHD_YES ? -1 : MHD_NO;
	buf_free(&held);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **state)
{
	struct service *svc = cls;
	struct http_req *r = *state;
	enum MHD_Result ok;

	(void)version;
	if (!r) {
		int rc;

		r = start(svc, c, url, method);
		if (!r)
			return MHD_NO;
		*state = r;
		rc = refuse_early(r);
		if (rc == -1 && hold_first(r)) {
			r->held = true;
			return MHD_YES;
		}
		if (rc == -1)
			rc = route(r);
		if (rc == -1)
			rc = body_start(r);
		if (rc == -1)
			return MHD_YES;
		conntrack_phase(r->track, CONN_HANDLED);
		return (enum MHD_Result)rc;
	}
	if (*size) {
		conntrack_body(r->track, *size);
		ok = body_piece(r, data, *size);
		*size = 0;
		return ok;
	}
	conntrack_phase(r->track, CONN_HANDLED);
	if (r->held) {
		int rc = route_held(r);

		if (rc != -1)
			return (enum MHD_Result)rc;
	}
	if (r->too_large)
		return (enum MHD_Result)too_large(r);
	if (r->spool_errno)
		return (enum MHD_Result)spool_failed(r);
	if (r->post && !r->multipart)
		return (enum MHD_Result)http_error(r, MHD_HTTP_BAD_REQUEST, "bad_multipart",
						   "the multipart body could not be read", NULL);
	return (enum MHD_Result)r->route->handler(r);
}

/*
 * The path as it may be logged: an invitation token is a secret. The
 * decoded segments are what is matched, so that no spelling of the path
 * ("/v1/%69nvitations/...") slips a token into the log.
 */
static const char *loggable_path(const struct http_req *r)
{
	static const char prefix[] = "/v1/invitations/", page[] = "/invitations/";

	if ((r->nsegments >= 2 && r->segments[0] && r->segments[1] && !strcmp(r->segments[0], "v1") &&
	     !strcmp(r->segments[1], "invitations")) ||
	    strncmp(r->path, prefix, sizeof(prefix) - 1) == 0)
		return "/v1/invitations/{token}/accept";
	if ((r->nsegments >= 1 && r->segments[0] && !strcmp(r->segments[0], "invitations")) ||
	    strncmp(r->path, page, sizeof(page) - 1) == 0)
		return "/invitations/{token}";
	return r->path;
}

/*
 * One JSON line per request. The path is logged as sent, still
 * percent-encoded: it may hold any byte a client typed, and so may the
 * method: both go through log_text().
 */
static void log_request(const struct http_req *r)
{
	log_write(json_pack("{s:s, s:o, s:o, s:i, s:f, s:I}", "rid", r->request_id, "method",
			    log_text(r->method), "path", log_text(loggable_path(r)), "status",
			    r->status, "ms", (double)(os_now_ns() - r->started_ns) / 1e6, "org",
			    (json_int_t)r->org_id));
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
		    enum MHD_RequestTerminationCode why)
{
	struct service *svc = cls;
	struct http_req *r = *state;

	(void)c;
	(void)why;
	if (!r)
		return;
	conntrack_phase(r->track, CONN_HEADER);
	atomic_fetch_sub(&svc->in_flight, 1);
	if (r->status >= 100 && r->status < 600)
		atomic_fetch_add(&svc->metrics.responses[r->status / 100], 1);
	if (!svc->cfg.quiet)
		log_request(r);
	if (r->post)
		MHD_destroy_post_processor(r->post);
	spool_close(r->spool);
	buf_free(&r->body);
	free(r->segment_store);
	free(r->query_store);
	free(r);
	*state = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct service *svc = cls;
	const union MHD_ConnectionInfo *info;

	if (!svc->conns)
		return;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (info)
			conntrack_open(svc->conns, info->connect_fd, socket_context);
	} else {
		conntrack_close(svc->conns, socket_context);
	}
}

/* Parses "host:port" (IPv4 or [IPv6]) into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	size_t hl;
	uint64_t port;

	if (!colon || num_u64(colon + 1, 0, 65535, &port) != NUM_OK)
		return -1;
	hl = (size_t)(colon - listen);
	if (hl >= sizeof(host))
		return -1;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1 ? 0 : -1;
	}
	v4->sin_family = AF_INET;
	v4->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, hl ? host : "0.0.0.0", &v4->sin_addr) == 1 ? 0 : -1;
}

/* --- TLS ------------------------------------------------------------------ */

/*
 * The TLS versions offered (GnuTLS priority string): 1.2 and 1.3 only, as
 * RFC 8996 retires 1.0 and 1.1; the ciphers are GnuTLS's NORMAL set.
 */
static const char tls_priorities[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

/* A certificate chain or key file larger than this is not one. */
enum { PEM_MAX = 1 << 20 };

/*
 * Reads the PEM file given to `option` whole into *out (NUL-terminated, as
 * libmicrohttpd wants it; caller frees). A file without `marker` is refused
 * here, naming the file: once handed to GnuTLS, a bad file only yields a
 * message that does not say which one it was. Returns 0, or -1 after
 * printing why.
 */
static int read_pem(const char *path, const char *option, const char *marker, char **out)
{
	struct stat st;
	char *text = NULL;
	size_t cap = PEM_MAX, len = 0;
	ssize_t n;
	int fd, status = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "orgsync serve: cannot read %s %s: %s\n", option, path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "orgsync serve: %s %s is a directory, not a PEM file\n", option, path);
		goto out;
	}
	/* A regular file is read in one allocation: no stray copy of a key is left behind. */
	if (S_ISREG(st.st_mode) && st.st_size < PEM_MAX)
		cap = (size_t)st.st_size;
	text = malloc(cap + 1);
	if (!text) {
		fprintf(stderr, "orgsync serve: out of memory reading %s %s\n", option, path);
		goto out;
	}
	while (len < cap && (n = read(fd, text + len, cap - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "orgsync serve: cannot read %s %s: %s\n", option, path,
				strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	text[len] = '\0';
	if (len == PEM_MAX) {
		fprintf(stderr, "orgsync serve: %s %s is larger than %d bytes: not a PEM file\n", option,
			path, PEM_MAX);
		goto out;
	}
	if (!strstr(text, marker)) {
		fprintf(stderr, "orgsync serve: %s %s is not a PEM file with a '%s' block\n", option, path,
			marker);
		goto out;
	}
	/* A passphrase would have to be typed at every start: unattended services use a plain key. */
	if (strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
	    strstr(text, "Proc-Type: 4,ENCRYPTED")) {
		fprintf(stderr, "orgsync serve: %s %s is encrypted with a passphrase; decrypt it "
			"(openssl pkey -in KEY -out PLAIN) and restrict it to mode 0600\n", option, path);
		goto out;
	}
	*out = text;
	text = NULL;
	status = 0;
out:
	if (text) {
		sodium_memzero(text, cap + 1);
		free(text);
	}
	if (fd >= 0)
		close(fd);
	return status;
}

static void free_tls(struct service *svc)
{
	if (svc->tls_key_pem) {
		sodium_memzero(svc->tls_key_pem, strlen(svc->tls_key_pem));
		free(svc->tls_key_pem);
	}
	free(svc->tls_cert_pem);
	svc->tls_key_pem = NULL;
	svc->tls_cert_pem = NULL;
}

/* libmicrohttpd's own message as a log record: its text may quote what a client sent. */
static void log_mhd(const char *msg)
{
	int len = (int)strcspn(msg, "\n");
	char line[256];

	snprintf(line, sizeof(line), "%.*s", len, msg);
	if (*line)
		log_write(json_pack("{s:s, s:s, s:o}", "level", "warn", "source", "libmicrohttpd",
				    "msg", log_text(line)));
}

/*
 * libmicrohttpd's own messages are logged as records, except while the
 * daemon starts: then they are kept, so that http_start() can say in one
 * message whether a TLS file or the address is at fault.
 */
__attribute__((format(printf, 2, 0)))
static void on_log(void *cls, const char *fmt, va_list ap)
{
	struct service *svc = cls;
	char msg[256];
	size_t used;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!atomic_load(&svc->starting)) {
		log_mhd(msg);
		return;
	}
	used = strlen(svc->start_log);
	snprintf(svc->start_log + used, sizeof(svc->start_log) - used, "%s", msg);
}

/*
 * Explains why the daemon did not start. GnuTLS's reason ("The certificate
 * and the given key do not match.") is quoted after the file names; an
 * address that cannot be bound is reported as such even with TLS on.
 */
static void start_failed(struct service *svc, bool tls)
{
	static const char gnutls[] = "certificate/key: ";
	const char *why = strstr(svc->start_log, gnutls);
	int len;

	if (tls && !strcasestr(svc->start_log, "bind") && !strcasestr(svc->start_log, "listen")) {
		why = why ? why + sizeof(gnutls) - 1 : "the key does not belong to the certificate, or "
						       "one of them is not valid PEM";
		len = (int)strcspn(why, "\n");
		fprintf(stderr, "orgsync serve: TLS cannot start with --tls-cert %s and --tls-key %s: "
			"%.*s\n", svc->cfg.tls_cert, svc->cfg.tls_key, len, why);
		return;
	}
	fputs(svc->start_log, stderr);
	fprintf(stderr, "orgsync serve: cannot listen on %s (in use, or not an address of this "
		"machine)\n", svc->cfg.listen);
}

/*
 * libmicrohttpd would percent-decode the whole path before the request is
 * seen, which makes "a%2Fb" and "a/b" one path: the path and the query are
 * kept as sent, and split_path() and check_query() decode each segment and
 * each argument once, after splitting. ('+' in a query is still a space:
 * libmicrohttpd turns it before this is called.)
 */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* --- the daemon ---------------------------------------------------------- */

/*
 * Each connection's memory holds its request line and headers and its read
 * buffer: room for headers up to the limit (so that refuse_early() answers
 * them in JSON) plus a read buffer large enough for fast uploads.
 */
static size_t connection_memory(const struct service_config *cfg)
{
	return HTTP_MAX_URL + 2 * cfg->max_header_bytes + 32 * 1024;
}

int http_start(struct service *svc)
{
	struct sockaddr_storage ss;
	/* ITC: what lets http_drain() stop the listening while requests finish. */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	const bool tls = svc->cfg.tls_cert != NULL;
	const char *line;
	int status = -1;

	if (!svc->cfg.listen) {
		/* Connections come only from MHD_add_connection() (in-process drivers). */
		flags |= MHD_USE_NO_LISTEN_SOCKET;
		ss.ss_family = AF_UNSPEC;
	} else if (parse_listen(svc->cfg.listen, &ss) < 0) {
		fprintf(stderr, "orgsync serve: --listen wants HOST:PORT, not '%s'\n", svc->cfg.listen);
		goto out;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			fputs("orgsync serve: this libmicrohttpd was built without TLS support; use a "
			      "build with GnuTLS, or terminate TLS in a reverse proxy\n", stderr);
			goto out;
		}
		if (read_pem(svc->cfg.tls_cert, "--tls-cert", "-----BEGIN CERTIFICATE-----",
			     &svc->tls_cert_pem) < 0 ||
		    read_pem(svc->cfg.tls_key, "--tls-key", "PRIVATE KEY-----", &svc->tls_key_pem) < 0)
			goto out;
		flags |= MHD_USE_TLS;
	}
	if (svc->cfg.rate_limit > 0 &&
	    ratelimit_new(svc->cfg.rate_limit, svc->cfg.rate_burst, &svc->rate) < 0) {
		fputs("orgsync serve: --rate-limit and --rate-burst must be positive\n", stderr);
		goto out;
	}
	if (conntrack_start(svc->cfg.header_timeout, svc->cfg.min_body_rate, &svc->conns) < 0) {
		fputs("orgsync serve: cannot start the slow client deadline thread\n", stderr);
		goto out;
	}
	svc->start_log[0] = '\0';
	atomic_store(&svc->starting, true);
	/* Without TLS the list ends before the HTTPS options, which libmicrohttpd would warn about. */
	svc->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, svc,
		MHD_OPTION_EXTERNAL_LOGGER, on_log, svc,
		MHD_OPTION_SOCK_ADDR, svc->cfg.listen ? (struct sockaddr *)&ss : NULL,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)svc->cfg.threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)svc->cfg.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)svc->cfg.conn_timeout,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)svc->cfg.max_conn_per_ip,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory(&svc->cfg),
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, svc,
		MHD_OPTION_NOTIFY_COMPLETED, on_done, svc,
		MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
		tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, svc->tls_cert_pem,
		MHD_OPTION_HTTPS_MEM_KEY, svc->tls_key_pem,
		MHD_OPTION_HTTPS_PRIORITIES, tls_priorities,
		MHD_OPTION_END);
	atomic_store(&svc->starting, false);
	if (!svc->daemon) {
		start_failed(svc, tls);
		goto out;
	}
	/* Warnings of a start that went well, one record per line. */
	for (line = svc->start_log; *line; line += strcspn(line, "\n"), line += *line == '\n')
		log_mhd(line);
	status = 0;
out:
	if (status < 0)
		free_tls(svc);
	return status;
}

uint16_t http_port(struct service *svc)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(svc->daemon, MHD_DAEMON_INFO_BIND_PORT);

	return info ? info->port : 0;
}

void http_drain(struct service *svc)
{
	int64_t until = os_now_ns() + (int64_t)svc->cfg.shutdown_grace * 1000000000;
	MHD_socket fd;

	if (!svc->daemon)
		return;
	fd = MHD_quiesce_daemon(svc->daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	while (atomic_load(&svc->in_flight) && os_now_ns() < until)
		usleep(10000);
	if (atomic_load(&svc->in_flight))
		log_msg("warn", "%u request(s) still running after %u s: closing them",
			atomic_load(&svc->in_flight), svc->cfg.shutdown_grace);
}

void http_stop(struct service *svc)
{
	if (svc->daemon)
		MHD_stop_daemon(svc->daemon);
	svc->daemon = NULL;
	conntrack_stop(svc->conns);
	svc->conns = NULL;
	ratelimit_free(svc->rate);
	svc->rate = NULL;
	free_tls(svc);
}
