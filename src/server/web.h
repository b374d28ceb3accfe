/*
 * web: the server side of the admin web UI. It serves the UI's files
 * (built into the binary, src/server/embed.h) under a strict
 * Content-Security-Policy, signs administrators in (a one-time link
 * mailed through the outbox, or the org's API key for a first setup),
 * and keeps their sessions: an HttpOnly, SameSite=Strict cookie naming a
 * session the store keeps hashed, and a CSRF token derived from it that
 * every state-changing request must carry, from this origin only. The UI
 * then calls the same /v1 API as any client; the API itself is api.c's.
 */
#ifndef ORGSYNC_WEB_H
#define ORGSYNC_WEB_H

#include <stdbool.h>

#include "server/http.h"

enum {
	WEB_SESSION_TTL_MS = 8 * 3600 * 1000, /* a session's life, from sign-in */
	WEB_SIGNIN_TTL_MS = 15 * 60 * 1000,   /* a mailed link's */
};

/* Whether the request carries a session cookie (then web_authenticate decides). */
bool web_has_session(struct http_req *r);

/*
 * Authenticates a request by its session cookie: fills r->org_id and
 * r->actor and returns -1 to go on, or answers 401 (no such session, or
 * it ended) or 403 (a state-changing request without the session's CSRF
 * token in X-CSRF-Token, or from another origin) and returns that.
 */
int web_authenticate(struct http_req *r);

/* The routes (api.c's table): GET /, GET /ui/{file}, POST /v1/session/link,
 * POST /v1/session, GET /v1/session, DELETE /v1/session. */
int web_index(struct http_req *r);
int web_asset(struct http_req *r);
int web_signin_link(struct http_req *r);
int web_signin(struct http_req *r);
int web_session(struct http_req *r);
int web_signout(struct http_req *r);

#endif
