/*
 * The routes of delivery (SPEC §9): the org's outbox messages and their
 * retry, and the invitation page a member's link opens. The page only
 * shows a button: link scanners that fetch every URL of an email must not
 * accept an invitation on the member's behalf; the button POSTs to
 * /v1/invitations/{token}/accept, which answers it with a page too.
 */
#include "server/api.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/names.h"
#include "server/delivery.h"
#include "server/service.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/os.h"

enum { TOKEN_LEN = 43 };

/*
 * What the API shows: a message being sent is still queued (first try) or
 * retrying; it has a next attempt until it is sent or dead.
 */
static json_t *delivery_json(const struct store_delivery *d)
{
	int status = d->status;
	bool pending;

	if (status == DELIVERY_SENDING)
		status = d->attempts > 1 ? DELIVERY_RETRYING : DELIVERY_QUEUED;
	pending = status == DELIVERY_QUEUED || status == DELIVERY_RETRYING;
	return json_pack("{s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o}", "id", d->id, "kind", d->kind,
			 "recipient", d->recipient ? d->recipient : "", "status",
			 format_delivery_status_name(status), "attempts", (json_int_t)d->attempts,
			 "lastError", d->last_error ? json_string(d->last_error) : json_null(),
			 "createdAt", http_time(d->created_at), "sentAt", http_time(d->sent_at),
			 "nextAttemptAt",
			 pending ? http_time(d->next_attempt_at > d->created_at ? d->next_attempt_at
									       : d->created_at)
				 : json_null());
}

/* Newest first; the route's parameters (limit, before) are checked by the http layer. */
int api_list_deliveries(struct http_req *r)
{
	struct store *st = service_store(r->svc);
	size_t limit = (size_t)http_arg_int(r, "limit"), n = 0, i;
	struct store_delivery *v = NULL;
	json_t *items, *next = NULL;

	/* One row more than the page says whether there is a next page. */
	if (!st || store_delivery_list(st, r->org_id, http_arg_int(r, "before"), limit + 1, &v, &n))
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the database failed",
				  NULL);
	items = json_array();
	for (i = 0; i < n && i < limit; i++)
		json_array_append_new(items, delivery_json(&v[i]));
	if (n > limit)
		next = http_next_link(r, "before", v[limit - 1].row);
	store_deliveries_free(v, n);
	return http_json(r, MHD_HTTP_OK,
			 json_pack("{s:o, s:o}", "items", items, "next", next ? next : json_null()),
			 NULL, NULL);
}

int api_retry_delivery(struct http_req *r)
{
	struct store *st = service_store(r->svc);
	int rc = st ? store_delivery_retry(st, r->org_id, r->params[0], os_wall_ms())
		    : STORE_EIO;

	if (rc == STORE_ENOTFOUND)
		return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such delivery", NULL);
	if (rc == STORE_ECONFLICT)
		return http_error(r, MHD_HTTP_CONFLICT, "not_retryable",
				  "only a dead or retrying delivery can be retried", NULL);
	if (rc)
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the database failed",
				  NULL);
	delivery_wake(r->svc);
	return http_json(r, MHD_HTTP_ACCEPTED,
			 json_pack("{s:s, s:s, s:o}", "id", r->params[0], "status",
				   format_delivery_status_name(DELIVERY_RETRYING),
				   "nextAttemptAt", http_time(os_wall_ms())),
			 NULL, NULL);
}

/* --- the invitation page ---------------------------------------------------------- */

static const char page_head[] =
	"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	"<meta name=\"referrer\" content=\"no-referrer\"><title>Invitation</title>"
	"<style>body{font-family:system-ui,sans-serif;max-width:34em;margin:4em auto;padding:0 1em;"
	"line-height:1.5}button{font-size:1.1em;padding:.5em 1.4em;cursor:pointer}</style>"
	"</head><body>";

/* s as HTML text, every character that could open markup escaped. */
static void html_text(struct buf *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': buf_puts(out, "&amp;"); break;
		case '<': buf_puts(out, "&lt;"); break;
		case '>': buf_puts(out, "&gt;"); break;
		case '"': buf_puts(out, "&quot;"); break;
		case '\'': buf_puts(out, "&#39;"); break;
		default: buf_putc(out, *s);
		}
	}
}

static bool token_shape(const char *t)
{
	return strlen(t) == TOKEN_LEN &&
	       strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
		       TOKEN_LEN;
}

static int page(struct http_req *r, unsigned status, const char *title, const char *text,
		const char *token)
{
	struct buf b;
	int rc;

	buf_init(&b);
	buf_puts(&b, page_head);
	buf_puts(&b, "<h1>");
	html_text(&b, title);
	buf_puts(&b, "</h1><p>");
	html_text(&b, text);
	buf_puts(&b, "</p>");
	if (token) {
		/* Relative: the page works under a public URL with a path prefix too. */
		buf_puts(&b, "<form method=\"post\" action=\"../v1/invitations/");
		html_text(&b, token);
		buf_puts(&b, "/accept\"><button type=\"submit\">Accept the invitation</button></form>");
	}
	buf_puts(&b, "</body></html>\n");
	rc = b.data ? http_html(r, status, b.data)
		    : http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory", NULL);
	buf_free(&b);
	return rc;
}

int api_invitation_page(struct http_req *r)
{
	if (!token_shape(r->params[0]))
		return page(r, MHD_HTTP_NOT_FOUND, "Unknown invitation",
			    "This link is not an invitation. Check that it was copied whole.", NULL);
	return page(r, MHD_HTTP_OK, "Your invitation",
		    "You are invited to join your organization. Accept it to activate your account; "
		    "the link works once.", r->params[0]);
}

bool api_wants_html(struct http_req *r)
{
	const char *accept = http_header(r, MHD_HTTP_HEADER_ACCEPT);

	return accept && strstr(accept, "text/html") != NULL;
}

int api_invitation_result(struct http_req *r, bool accepted)
{
	if (accepted)
		return page(r, MHD_HTTP_OK, "Welcome",
			    "Your invitation is accepted: your account is active.", NULL);
	return page(r, MHD_HTTP_NOT_FOUND, "Invitation not valid",
		    "This invitation is unknown, already used or expired. Ask an administrator of "
		    "your organization for a new one.", NULL);
}
