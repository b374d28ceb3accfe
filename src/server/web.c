#include "server/web.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/org.h"
#include "server/delivery.h"
#include "server/embed.h"
#include "server/service.h"
#include "store/store.h"
#include "util/os.h"

static const char cookie_name[] = "orgsync_session";

/* Scripts and styles from this origin only, no inline code, no framing, no
 * other site reached: an org value that slips past escaping cannot run. */
static const char ui_csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
			     "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
			     "frame-ancestors 'none'; base-uri 'none'";

enum { CSRF_LEN = 43 }; /* base64url of 32 bytes */

/* --- the UI's files ------------------------------------------------------------ */

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot && !strcmp(dot, ".js"))
		return "text/javascript; charset=utf-8";
	if (dot && !strcmp(dot, ".css"))
		return "text/css; charset=utf-8";
	if (dot && !strcmp(dot, ".svg"))
		return "image/svg+xml";
	return "text/html; charset=utf-8";
}

static int send_file(struct http_req *r, const struct embedded *f)
{
	const char *const headers[] = { "Content-Security-Policy", ui_csp,
					"Referrer-Policy", "no-referrer",
					"X-Frame-Options", "DENY",
					NULL };

	return http_reply(r, MHD_HTTP_OK, type_of(f->name), f->data, f->len, headers);
}

int web_index(struct http_req *r)
{
	const struct embedded *f = embedded_find("web/index.html");

	if (!f)
		return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "this build has no web UI", NULL);
	return send_file(r, f);
}

int web_asset(struct http_req *r)
{
	char name[128];
	const struct embedded *f = NULL;

	/* Only the UI's own files, by their plain names: no path reaches anything else. */
	if (strlen(r->params[0]) < 64 && !strchr(r->params[0], '/') && r->params[0][0] != '.' &&
	    strcmp(r->params[0], "index.html") != 0) {
		snprintf(name, sizeof(name), "web/%s", r->params[0]);
		f = embedded_find(name);
	}
	if (!f)
		return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such file", NULL);
	return send_file(r, f);
}

/* --- origins, CSRF ----------------------------------------------------------------- */

bool web_has_session(struct http_req *r)
{
	return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, cookie_name) != NULL;
}

/* The session's CSRF token: a keyed hash of its cookie, so nothing more is stored. */
static void csrf_of(const char *token, char out[CSRF_LEN + 1])
{
	static const char what[] = "orgsync web csrf";
	unsigned char mac[32];

	crypto_generichash(mac, sizeof(mac), (const unsigned char *)what, sizeof(what) - 1,
			   (const unsigned char *)token, strlen(token));
	sodium_bin2base64(out, CSRF_LEN + 1, mac, sizeof(mac),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Whether origin ("scheme://host[:port]") is the one base (a URL) starts with. */
static bool origin_of(const char *origin, const char *base)
{
	const char *host = strstr(base, "://");
	size_t len;

	if (!host)
		return false;
	len = (size_t)(host + 3 - base) + strcspn(host + 3, "/?#");
	return strlen(origin) == len && !strncasecmp(origin, base, len);
}

/*
 * Whether the browser says the request comes from a page of this service:
 * Sec-Fetch-Site same-origin when sent, and an Origin, when sent, that is
 * this server's as the request addressed it (Host), or the public URL's.
 * Clients that send neither (curl, scripts) pass this check: a browser
 * always sends Origin on a cross-site POST, which is what it is for.
 */
static bool same_origin(struct http_req *r)
{
	const char *site = http_header(r, "Sec-Fetch-Site");
	const char *origin = http_header(r, "Origin");
	const char *host = http_header(r, MHD_HTTP_HEADER_HOST);
	char self[512];

	if (site && strcmp(site, "same-origin") != 0)
		return false;
	if (!origin)
		return true;
	if (host && strlen(host) < 400) {
		snprintf(self, sizeof(self), "%s://%s", r->svc->cfg.tls_cert ? "https" : "http", host);
		if (origin_of(origin, self))
			return true;
	}
	return r->svc->cfg.public_url && origin_of(origin, r->svc->cfg.public_url);
}

static bool safe_method(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS");
}

static int cross_origin(struct http_req *r)
{
	return http_error(r, MHD_HTTP_FORBIDDEN, "cross_origin",
			  "this request comes from a page of another site: refused", NULL);
}

int web_authenticate(struct http_req *r)
{
	const char *token = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, cookie_name);
	const char *sent = http_header(r, "X-CSRF-Token");
	struct store *st = service_store(r->svc);
	struct store_session sess;
	char csrf[CSRF_LEN + 1];
	int rc;

	if (!st)
		return http_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
				  "the database cannot be reached", NULL);
	rc = store_session_get(st, token, &sess);
	if (rc == STORE_ENOTFOUND)
		return http_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				  "the session has ended: sign in again", NULL);
	if (rc)
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				  "the session check failed", NULL);
	if (!safe_method(r->method)) {
		if (!same_origin(r))
			return cross_origin(r);
		csrf_of(token, csrf);
		if (!sent || strlen(sent) != CSRF_LEN || sodium_memcmp(sent, csrf, CSRF_LEN) != 0)
			return http_error(r, MHD_HTTP_FORBIDDEN, "csrf",
					  "a change made with a session needs its CSRF token in the "
					  "X-CSRF-Token header (GET /v1/session gives it)", NULL);
	}
	r->org_id = sess.org_id;
	snprintf(r->actor, sizeof(r->actor), "%s", sess.actor);
	r->session = true;
	return -1;
}

/* --- sign-in ------------------------------------------------------------------------- */

/*
 * The JSON object body of a sign-in route, with exactly one string member
 * named one of names[0..n); NULL after answering 400 (*answered).
 */
static json_t *one_field(struct http_req *r, const char *const *names, size_t n,
			 const char **which, int *answered)
{
	json_t *doc = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
	const char *key;
	json_t *v;
	size_t i;

	*which = NULL;
	if (json_is_object(doc) && json_object_size(doc) == 1) {
		json_object_foreach(doc, key, v)
			for (i = 0; i < n; i++)
				if (!strcmp(key, names[i]) && json_is_string(v) &&
				    json_string_length(v) > 0 && json_string_length(v) <= 320)
					*which = names[i];
	}
	if (!*which) {
		json_decref(doc);
		*answered = http_error(r, MHD_HTTP_BAD_REQUEST, "invalid_body",
				       n == 1 ? "the body is {\"email\": \"an administrator's address\"}"
					      : "the body is {\"token\": \"the mailed link's token\"} or "
						"{\"apiKey\": \"the organization's API key\"}",
				       NULL);
		return NULL;
	}
	return doc;
}

struct link_ctx {
	struct store *st;
	size_t queued;
};

/* Queues the email of a sign-in link, in the store's transaction (store_signin_fn). */
static int queue_link(void *cls, const struct store_signin_link *link)
{
	struct link_ctx *ctx = cls;
	json_t *p = json_pack("{s:s, s:s, s:s, s:I}", "type", "signin.link", "email", link->email,
			      "token", link->token, "expiresAt", (json_int_t)link->expires_at);
	char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	int rc = text ? store_outbox_add(ctx->st, link->org_id, "notification", link->email, text)
		      : STORE_ENOMEM;

	if (text) {
		sodium_memzero(text, strlen(text));
		free(text);
	}
	json_decref(p);
	ctx->queued += rc == STORE_OK;
	return rc;
}

int web_signin_link(struct http_req *r)
{
	static const char *const names[] = { "email" };
	struct link_ctx ctx = { service_store(r->svc), 0 };
	const char *which, *email;
	int answered = 0, rc;
	json_t *doc;

	if (!same_origin(r))
		return cross_origin(r);
	doc = one_field(r, names, 1, &which, &answered);
	if (!doc)
		return answered;
	email = json_string_value(json_object_get(doc, "email"));
	if (!org_email_valid(email, strlen(email))) {
		json_decref(doc);
		return http_error(r, MHD_HTTP_BAD_REQUEST, "invalid_email",
				  "email: not an email address", NULL);
	}
	rc = store_tx_begin(ctx.st);
	if (rc == STORE_OK)
		rc = store_tx_end(ctx.st, store_signin_request(ctx.st, email, WEB_SIGNIN_TTL_MS,
							       queue_link, &ctx));
	json_decref(doc);
	if (rc)
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the database failed",
				  NULL);
	if (ctx.queued)
		delivery_wake(r->svc);
	/* The same answer whether or not the address is an administrator's. */
	return http_json(r, MHD_HTTP_ACCEPTED,
			 json_pack("{s:s}", "message", "if this address is an administrator's, a "
				   "sign-in link is on its way: it works once, for 15 minutes"),
			 NULL, NULL);
}

/* The Set-Cookie value of a session (token NULL: the cookie's removal). */
static void cookie(struct http_req *r, const char *token, char *out, size_t len)
{
	const char *pub = r->svc->cfg.public_url;
	bool secure = r->svc->cfg.tls_cert || (pub && !strncasecmp(pub, "https://", 8));

	snprintf(out, len, "%s=%s; Path=/; Max-Age=%d; HttpOnly; SameSite=Strict%s", cookie_name,
		 token ? token : "", token ? WEB_SESSION_TTL_MS / 1000 : 0,
		 secure ? "; Secure" : "");
}

static json_t *session_json(struct http_req *r, const char *actor, int64_t expires_at,
			    const char *token)
{
	char csrf[CSRF_LEN + 1];
	char *name = NULL;
	json_t *doc;

	store_org_get(service_store(r->svc), r->org_id, &name);
	if (token)
		csrf_of(token, csrf);
	doc = json_pack("{s:s, s:I, s:s, s:o, s:o}", "actor", actor, "orgId", (json_int_t)r->org_id,
			"orgName", name ? name : "", "expiresAt", http_time(expires_at), "csrfToken",
			token ? json_string(csrf) : json_null());
	free(name);
	return doc;
}

/* Opens the session and answers 201 with it and its cookie. */
static int open_session(struct http_req *r, struct store_session *sess, const char *key_id,
			const char *email)
{
	struct store *st = service_store(r->svc);
	char token[STORE_TOKEN_MAX], set[256];
	int rc;

	sess->expires_at = os_wall_ms() + WEB_SESSION_TTL_MS;
	rc = store_session_create(st, sess, key_id, email, token);
	if (rc == STORE_OK)
		rc = store_audit_add(st, sess->org_id, sess->actor, "session.signin", "session", NULL,
				     NULL);
	if (rc) {
		sodium_memzero(token, sizeof(token));
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the database failed",
				  NULL);
	}
	r->org_id = sess->org_id;
	cookie(r, token, set, sizeof(set));
	rc = http_json(r, MHD_HTTP_CREATED, session_json(r, sess->actor, sess->expires_at, token),
		       MHD_HTTP_HEADER_SET_COOKIE, set);
	sodium_memzero(token, sizeof(token));
	sodium_memzero(set, sizeof(set));
	return rc;
}

int web_signin(struct http_req *r)
{
	static const char *const names[] = { "token", "apiKey" };
	struct store *st = service_store(r->svc);
	struct store_session sess = { 0 };
	char key_id[STORE_KEY_ID_MAX], *email = NULL;
	const char *which, *value;
	int answered = 0, rc;
	json_t *doc;

	if (!same_origin(r))
		return cross_origin(r);
	doc = one_field(r, names, 2, &which, &answered);
	if (!doc)
		return answered;
	value = json_string_value(json_object_get(doc, which));
	if (!strcmp(which, "token")) {
		rc = store_signin_redeem(st, value, &sess.org_id, &email);
		if (rc == STORE_OK)
			snprintf(sess.actor, sizeof(sess.actor), "admin:%s", email);
		if (rc == STORE_OK)
			rc = open_session(r, &sess, NULL, email);
		else if (rc == STORE_ENOTFOUND)
			rc = http_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
					"this sign-in link is unknown, used or expired: ask for "
					"another", NULL);
		else
			rc = http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
					"the database failed", NULL);
	} else {
		rc = store_key_auth(st, value, &sess.org_id);
		if (rc == STORE_OK && store_key_public_id(value, key_id)) {
			snprintf(sess.actor, sizeof(sess.actor), "key:%s", key_id);
			rc = open_session(r, &sess, key_id, NULL);
		} else if (rc == STORE_OK || rc == STORE_ENOTFOUND) {
			rc = http_error(r, MHD_HTTP_UNAUTHORIZED, "unauthorized",
					"the API key is not valid", NULL);
		} else {
			rc = http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
					"the database failed", NULL);
		}
	}
	/* The body held a secret: it goes no further than this request. */
	sodium_memzero(r->body.data, r->body.len);
	json_decref(doc);
	free(email);
	return rc;
}

int web_session(struct http_req *r)
{
	const char *token = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, cookie_name);
	const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	char actor[STORE_ACTOR_MAX], id[STORE_KEY_ID_MAX];
	struct store_session sess;

	if (r->session && store_session_get(service_store(r->svc), token, &sess) == STORE_OK)
		return http_json(r, MHD_HTTP_OK, session_json(r, sess.actor, sess.expires_at, token),
				 NULL, NULL);
	/* With the API key: who it is, and no session. */
	if (h && strlen(h) > 7 && store_key_public_id(h + 7, id))
		snprintf(actor, sizeof(actor), "key:%s", id);
	else
		snprintf(actor, sizeof(actor), "key:unknown");
	return http_json(r, MHD_HTTP_OK, session_json(r, actor, 0, NULL), NULL, NULL);
}

int web_signout(struct http_req *r)
{
	const char *token = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, cookie_name);
	char set[256];
	const char *const headers[] = { MHD_HTTP_HEADER_SET_COOKIE, set, NULL };

	if (r->session && store_session_delete(service_store(r->svc), token))
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the database failed",
				  NULL);
	cookie(r, NULL, set, sizeof(set));
	return http_reply(r, MHD_HTTP_NO_CONTENT, "application/json", "", 0, headers);
}
