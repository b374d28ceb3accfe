#include "server/delivery.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "format/names.h"
#include "format/plan.h"
#include "server/log.h"
#include "server/mailmsg.h"
#include "server/netcheck.h"
#include "server/service.h"
#include "server/webhook.h"
#include "sync/settings.h"
#include "util/os.h"

enum {
	EMAIL_BATCH = 100,   /* messages claimed at once over the one SMTP connection */
	WEBHOOK_BATCH = 4,   /* at 10 s each at worst, well within a lease */
	IDLE_POLL_MS = 1000, /* another process may queue messages: look at least this often */
	SYNC_POLL_MS = 20,   /* while this process runs a sync, how often to look again */
	ERROR_MAX = 512,
	INVITE_DAYS = 7,
	SMTP_TIMEOUT_MS = 60000,
	CONNECT_TIMEOUT_MS = 10000,
};

/* Attempts' outcomes, by kind (invitation, notification, webhook). */
enum { OUT_SENT, OUT_RETRYING, OUT_DEAD, OUT_COUNT };

struct channel {
	struct delivery *dl;
	enum delivery_channel ch;
	pthread_t thread;
	bool started;
};

struct delivery {
	struct service *svc;
	struct channel channels[2];
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	unsigned wakeups;          /* under lock: bumped by delivery_wake */
	char public_url[1024];     /* without a trailing slash */
	char from_name[MAILMSG_NAME_MAX], from_addr[MAILMSG_ADDR_MAX];
	char from_domain[MAILMSG_ADDR_MAX];
	char *smtp_user, *smtp_password; /* from the environment, wiped at stop */
	uint64_t backoff_ms, give_up_ms, lease_ms;
	atomic_ullong attempts[3][OUT_COUNT];
};

uint64_t delivery_backoff(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint32_t rnd)
{
	uint64_t bound = base_ms;
	unsigned i;

	for (i = 1; i < attempt && bound < cap_ms; i++)
		bound *= 2;
	if (bound > cap_ms)
		bound = cap_ms;
	/* rnd / 2^32 of the bound: uniform over [0, bound] as rnd is over its range. */
	return (uint64_t)(((unsigned __int128)bound * rnd) / UINT32_MAX);
}

/* --- configuration ---------------------------------------------------------- */

/* scheme://host[:port][/path] of http or https; -1 otherwise. */
static int check_public_url(const char *url, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *query = NULL;
	int rc = -1;

	if (!u)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0))
		snprintf(err, errlen, "--public-url wants an http or https URL (https://orgsync.example.com), "
			 "not '%s'", url);
	else if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
		snprintf(err, errlen, "--public-url: '%s' has a query; links are made under it", url);
	else
		rc = 0;
	curl_free(scheme);
	curl_free(host);
	curl_free(query);
	curl_url_cleanup(u);
	return rc;
}

static int check_smtp_url(const char *url, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL;
	int rc = -1;

	if (!u)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
		snprintf(err, errlen, "--smtp-url: cannot parse '%s'; it is smtp://HOST[:PORT] "
			 "(STARTTLS when offered) or smtps://HOST[:PORT]", url);
	else if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0)
		snprintf(err, errlen, "--smtp-url: the scheme is smtp or smtps, not '%s'", scheme);
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		snprintf(err, errlen, "--smtp-url: no credentials in the URL (the command line is "
			 "visible to every user): set ORGSYNC_SMTP_USER and ORGSYNC_SMTP_PASSWORD");
	else
		rc = 0;
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

int delivery_check_config(const struct service_config *cfg, char *err, size_t errlen)
{
	char name[MAILMSG_NAME_MAX], addr[MAILMSG_ADDR_MAX];

	if (cfg->public_url && check_public_url(cfg->public_url, err, errlen) < 0)
		return -1;
	if (cfg->smtp_url && check_smtp_url(cfg->smtp_url, err, errlen) < 0)
		return -1;
	if (cfg->smtp_url && !cfg->smtp_from) {
		snprintf(err, errlen, "--smtp-url needs --smtp-from \"Name <address>\": the sender of "
			 "the emails");
		return -1;
	}
	if (cfg->smtp_from && mailmsg_parse_mailbox(cfg->smtp_from, name, addr) < 0) {
		snprintf(err, errlen, "--smtp-from: '%s' is not \"Name <address>\" or an address",
			 cfg->smtp_from);
		return -1;
	}
	return 0;
}

/* --- composing emails ------------------------------------------------------------ */

void delivery_mail_free(struct delivery_mail *m)
{
	free(m->to_name);
	if (m->body) /* an invitation's or a sign-in link's body holds its token */
		sodium_memzero(m->body, strlen(m->body));
	free(m->body);
	free(m->subject);
	memset(m, 0, sizeof(*m));
}

static char *take(struct buf *b)
{
	char *s = b->data ? b->data : strdup("");

	buf_init(b);
	return s;
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static int compose_invitation(const json_t *p, int64_t created_at, const char *org,
			      const char *base, struct delivery_mail *out, char *err, size_t errlen)
{
	const char *token = str(p, "token"), *first = str(p, "firstName"), *last = str(p, "lastName");
	time_t expires = (time_t)(created_at / 1000) + (time_t)INVITE_DAYS * 86400;
	struct buf b;
	char when[64];
	struct tm tm;

	if (!*token) {
		snprintf(err, errlen, "the invitation's token is gone (it was sent before)");
		return -1;
	}
	gmtime_r(&expires, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	buf_init(&b);
	buf_printf(&b, "%s%s%s", first, *first && *last ? " " : "", last);
	out->to_name = take(&b);
	buf_printf(&b, "%s invites you to join them", org);
	out->subject = take(&b);
	buf_printf(&b, "Hello%s%s,\n\n"
		   "%s invites you to join them. To accept the invitation, open this link and\n"
		   "press the button on the page:\n\n"
		   "%s/invitations/%s\n\n"
		   "The link works once, and until %s (7 days after it was sent).\n"
		   "If you did not expect this invitation, you can ignore this message.\n",
		   *first ? " " : "", first, org, base, token, when);
	out->body = take(&b);
	return out->to_name && out->subject && out->body ? 0 : -1;
}

/*
 * A sign-in link for the web UI (a notification whose payload's type is
 * "signin.link": {email, token, expiresAt}). The token travels in the
 * URL's fragment, which browsers never send to a server: it stays out of
 * request logs and Referer headers, and the page only spends it when the
 * administrator presses its button, not when a link scanner fetches it.
 */
static int compose_signin(const json_t *p, const char *org, const char *base,
			  struct delivery_mail *out, char *err, size_t errlen)
{
	const char *token = str(p, "token");
	json_int_t expires = json_integer_value(json_object_get(p, "expiresAt"));
	time_t until = (time_t)(expires / 1000);
	struct buf b;
	char when[64];
	struct tm tm;

	if (!*token) {
		snprintf(err, errlen, "the sign-in link's token is gone (it was sent before)");
		return -1;
	}
	gmtime_r(&until, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	out->to_name = strdup("");
	buf_init(&b);
	buf_printf(&b, "Sign in to orgsync for %s", org);
	out->subject = take(&b);
	buf_printf(&b, "Hello,\n\n"
		   "Someone asked to sign in to the orgsync administration of %s with this\n"
		   "address. To sign in, open this link and press the button on the page:\n\n"
		   "%s/#signin=%s\n\n"
		   "The link works once, and until %s.\n"
		   "If you did not ask for it, you can ignore this message: nothing happens\n"
		   "until the link is used.\n",
		   org, base, token, when);
	out->body = take(&b);
	return out->to_name && out->subject && out->body ? 0 : -1;
}

static void counts_line(struct buf *b, const json_t *counts)
{
	struct plan_counts c;

	if (format_counts_parse(counts, &c))
		return;
	buf_printf(b, "Members: %u created, %u updated, %u reactivated, %u deactivated, "
		   "%u deleted.\nTeams: %u created, %u renamed, %u deleted. "
		   "Mappings: %u added, %u removed, %u changed.\n",
		   c.created, c.updated, c.reactivated, c.deactivated, c.deleted, c.teams_created,
		   c.teams_renamed, c.teams_deleted, c.mappings_added, c.mappings_removed,
		   c.mappings_changed);
}

static int compose_notification(const json_t *p, const char *org, const char *base,
				struct delivery_mail *out, char *err, size_t errlen)
{
	const json_t *sync = json_object_get(p, "sync"), *issues = json_object_get(p, "issues"), *t;
	const char *status = str(sync, "status"), *reason = str(sync, "reason");
	json_int_t id = json_integer_value(json_object_get(sync, "id"));
	char url[1200];
	struct buf b;
	size_t i;

	if (!json_is_object(sync) || !id || !*status) {
		snprintf(err, errlen, "the notification names no sync");
		return -1;
	}
	snprintf(url, sizeof(url), "%s/v1/syncs/%" JSON_INTEGER_FORMAT, base, id);
	out->to_name = strdup("");
	buf_init(&b);
	if (!strcmp(status, "Paused"))
		buf_printf(&b, "[orgsync] %s: sync %" JSON_INTEGER_FORMAT " is paused: approve or "
			   "reject it", org, id);
	else if (!strcmp(status, "Warning"))
		buf_printf(&b, "[orgsync] %s: sync %" JSON_INTEGER_FORMAT " ended with warnings", org,
			   id);
	else
		buf_printf(&b, "[orgsync] %s: sync %" JSON_INTEGER_FORMAT " is %s", org, id, status);
	out->subject = take(&b);
	if (!strcmp(status, "Paused")) {
		buf_printf(&b, "Sync %" JSON_INTEGER_FORMAT " of %s is paused: it would change more "
			   "than the risk threshold allows,\nso nothing was applied. It waits for "
			   "an administrator to approve or reject it.\n\n", id, org);
		if (*reason)
			buf_printf(&b, "Reason: %s\n\n", reason);
		buf_puts(&b, "Limits that tripped, and by how much:\n");
		json_array_foreach(json_object_get(json_object_get(sync, "risk"), "trips"), i, t)
			buf_printf(&b, "  - %s\n", str(t, "message"));
		buf_puts(&b, "\nWhat it would do:\n");
		counts_line(&b, json_object_get(sync, "counts"));
		buf_printf(&b, "\nTo apply it as planned (with the organization's API key):\n"
			   "  curl -X POST -H \"Authorization: Bearer $ORGSYNC_API_KEY\" %s/approve\n"
			   "To reject it (nothing changes):\n"
			   "  curl -X POST -H \"Authorization: Bearer $ORGSYNC_API_KEY\" %s/reject\n\n"
			   "The sync: %s\nIts plan: %s/plan\n", url, url, url, url);
	} else if (!strcmp(status, "Warning")) {
		buf_printf(&b, "Sync %" JSON_INTEGER_FORMAT " of %s was applied, with issues in its "
			   "input:\n%lld error(s) (those records were skipped: they change nothing) "
			   "and %lld warning(s).\n\n", id, org,
			   (long long)json_integer_value(json_object_get(issues, "error")),
			   (long long)json_integer_value(json_object_get(issues, "warning")));
		counts_line(&b, json_object_get(sync, "counts"));
		buf_printf(&b, "\nThe report, issue by issue: %s/report\n(as CSV: %s/report?format=csv)\n"
			   "The sync: %s\n", url, url, url);
	} else {
		buf_printf(&b, "Sync %" JSON_INTEGER_FORMAT " of %s is %s%s%s\n\n", id, org, status,
			   *reason ? ": " : ".", reason);
		buf_printf(&b, "The sync: %s\nIts report: %s/report\n", url, url);
	}
	out->body = take(&b);
	return out->to_name && out->subject && out->body ? 0 : -1;
}

int delivery_compose(const char *kind, const char *payload, int64_t created_at,
		     const char *org_name, const char *public_url, struct delivery_mail *out,
		     char *err, size_t errlen)
{
	json_t *p = json_loads(payload, 0, NULL);
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(p))
		snprintf(err, errlen, "the message's payload is not a JSON object");
	else if (!strcmp(kind, "invitation"))
		rc = compose_invitation(p, created_at, org_name, public_url, out, err, errlen);
	else if (!strcmp(kind, "notification") && !strcmp(str(p, "type"), "signin.link"))
		rc = compose_signin(p, org_name, public_url, out, err, errlen);
	else if (!strcmp(kind, "notification"))
		rc = compose_notification(p, org_name, public_url, out, err, errlen);
	else
		snprintf(err, errlen, "%s is not an email", kind);
	json_decref(p);
	if (rc)
		delivery_mail_free(out);
	return rc;
}

char *delivery_webhook_body(const char *delivery_id, const char *payload)
{
	const char *rest = payload;
	char *out;

	while (*rest == ' ')
		rest++;
	if (*rest != '{')
		return NULL;
	rest++;
	while (*rest == ' ')
		rest++;
	if (asprintf(&out, "{\"id\":\"%s\"%s%s", delivery_id, *rest == '}' ? "" : ",", rest) < 0)
		return NULL;
	return out;
}

/* --- SMTP ---------------------------------------------------------------------------- */

struct smtp {
	struct delivery *dl;
	CURL *h;
	struct buf msg;
	size_t off;
	char reply[256]; /* the server's first refusal (4xx, 5xx) of this message */
	char cmd[5];     /* the command it answered (the verb only: AUTH carries credentials) */
	char last[5];    /* the last command sent */
	int code;        /* the refusal's code; 0 when none */
	char errbuf[CURL_ERROR_SIZE];
};

static size_t smtp_read(char *dst, size_t size, size_t n, void *arg)
{
	struct smtp *s = arg;
	size_t want = size * n, left = s->msg.len - s->off;

	if (want > left)
		want = left;
	memcpy(dst, s->msg.data + s->off, want);
	s->off += want;
	return want;
}

/*
 * Keeps the server's first refusal and the command it answered (libcurl
 * goes on to QUIT, whose answer says nothing); message data and
 * credentials are never kept.
 */
static int smtp_trace(CURL *h, curl_infotype type, char *data, size_t len, void *arg)
{
	struct smtp *s = arg;
	size_t n;

	(void)h;
	if (type == CURLINFO_HEADER_OUT) {
		n = len < 4 ? len : 4;
		memcpy(s->last, data, n);
		s->last[n] = '\0';
	} else if (type == CURLINFO_HEADER_IN && !s->code && len >= 3 &&
		   (data[0] == '4' || data[0] == '5')) {
		s->code = (data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0');
		n = len;
		while (n && (data[n - 1] == '\n' || data[n - 1] == '\r'))
			n--;
		if (n >= sizeof(s->reply))
			n = sizeof(s->reply) - 1;
		memcpy(s->reply, data, n);
		s->reply[n] = '\0';
		memcpy(s->cmd, s->last, sizeof(s->cmd));
	}
	return 0;
}

static int smtp_open(struct smtp *s, struct delivery *dl)
{
	const struct service_config *cfg = &dl->svc->cfg;

	memset(s, 0, sizeof(*s));
	s->dl = dl;
	buf_init(&s->msg);
	s->h = curl_easy_init();
	if (!s->h)
		return -1;
	curl_easy_setopt(s->h, CURLOPT_URL, cfg->smtp_url);
	curl_easy_setopt(s->h, CURLOPT_MAIL_FROM, dl->from_addr);
	curl_easy_setopt(s->h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(s->h, CURLOPT_READFUNCTION, smtp_read);
	curl_easy_setopt(s->h, CURLOPT_READDATA, s);
	curl_easy_setopt(s->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->h, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(s->h, CURLOPT_TIMEOUT_MS, (long)SMTP_TIMEOUT_MS);
	curl_easy_setopt(s->h, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(s->h, CURLOPT_VERBOSE, 1L);
	curl_easy_setopt(s->h, CURLOPT_DEBUGFUNCTION, smtp_trace);
	curl_easy_setopt(s->h, CURLOPT_DEBUGDATA, s);
	/* STARTTLS when the server offers it; credentials never go in clear. */
	curl_easy_setopt(s->h, CURLOPT_USE_SSL,
			 dl->smtp_user ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	if (dl->smtp_user) {
		curl_easy_setopt(s->h, CURLOPT_USERNAME, dl->smtp_user);
		curl_easy_setopt(s->h, CURLOPT_PASSWORD, dl->smtp_password ? dl->smtp_password : "");
	}
	return 0;
}

static void smtp_close(struct smtp *s)
{
	if (s->h)
		curl_easy_cleanup(s->h);
	if (s->msg.data)
		sodium_memzero(s->msg.data, s->msg.cap);
	buf_free(&s->msg);
}

enum send_result { SEND_OK, SEND_RETRY, SEND_DEAD, SEND_DOWN };

/*
 * Sends s->msg to rcpt over the kept connection (libcurl reuses it and
 * dot-stuffs the data). SEND_DEAD when the server refused the recipient or
 * the message for good (5xx), SEND_DOWN when the server cannot be used at
 * all (the other messages of the batch would fail the same way).
 */
static enum send_result smtp_send(struct smtp *s, const char *rcpt, char *err, size_t errlen)
{
	struct curl_slist *to = curl_slist_append(NULL, rcpt);
	CURLcode res;
	int code;

	if (!to) {
		snprintf(err, errlen, "out of memory");
		return SEND_RETRY;
	}
	s->off = 0;
	s->reply[0] = s->cmd[0] = s->last[0] = s->errbuf[0] = '\0';
	s->code = 0;
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, to);
	curl_easy_setopt(s->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)s->msg.len);
	res = curl_easy_perform(s->h);
	curl_easy_setopt(s->h, CURLOPT_MAIL_RCPT, NULL);
	curl_slist_free_all(to);
	if (res == CURLE_OK)
		return SEND_OK;
	code = s->code;
	if (code)
		snprintf(err, errlen, "the SMTP server answered %s: %s",
			 !strcmp(s->cmd, "RCPT") ? "RCPT TO" : !strcmp(s->cmd, "MAIL") ? "MAIL FROM"
							      : s->cmd[0] ? s->cmd : "the connection",
			 s->reply);
	else
		snprintf(err, errlen, "SMTP: %s%s%s", curl_easy_strerror(res), s->errbuf[0] ? ": " : "",
			 s->errbuf);
	if (code >= 500 && code < 600 && (!strcmp(s->cmd, "RCPT") || !strcmp(s->cmd, "DATA")))
		return SEND_DEAD;
	if (code == 0 || code == 421 || res == CURLE_LOGIN_DENIED || !strcmp(s->cmd, "MAIL"))
		return SEND_DOWN;
	return SEND_RETRY;
}

/* --- webhooks ------------------------------------------------------------------------ */

static size_t discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

static enum send_result webhook_send(struct delivery *dl, const struct store_delivery *d,
				     const char *secret, char *err, size_t errlen)
{
	bool allow_private = dl->svc->cfg.webhook_allow_private;
	struct curl_slist *headers = NULL, *pin = NULL;
	char sig[WEBHOOK_SIGNATURE_LEN + 1], line[160], resolve[600];
	char *body = delivery_webhook_body(d->id, d->payload);
	int64_t ts = os_wall_ms() / 1000;
	enum send_result rc = SEND_RETRY;
	long code = 0;
	CURLcode res;
	CURL *h = NULL;

	if (!body) {
		snprintf(err, errlen, "the message's payload is not a JSON object");
		return SEND_DEAD;
	}
	if (!allow_private) {
		/* Checked now, and the address checked is the one connected to. */
		if (netcheck_resolve(d->recipient, resolve, sizeof(resolve), err, errlen) < 0)
			goto out;
		if (resolve[0] && !(pin = curl_slist_append(NULL, resolve)))
			goto oom;
	}
	webhook_sign(secret, ts, body, strlen(body), sig);
	if (!(headers = curl_slist_append(headers, "Content-Type: application/json")) ||
	    !(headers = curl_slist_append(headers, "User-Agent: orgsync-webhook")) ||
	    !(headers = curl_slist_append(headers, "Expect:")))
		goto oom;
	snprintf(line, sizeof(line), "X-Orgsync-Delivery: %s", d->id);
	if (!(headers = curl_slist_append(headers, line)))
		goto oom;
	snprintf(line, sizeof(line), "X-Orgsync-Timestamp: %" PRId64, ts);
	if (!(headers = curl_slist_append(headers, line)))
		goto oom;
	snprintf(line, sizeof(line), "X-Orgsync-Signature: %s", sig);
	if (!(headers = curl_slist_append(headers, line)))
		goto oom;
	h = curl_easy_init();
	if (!h)
		goto oom;
	curl_easy_setopt(h, CURLOPT_URL, d->recipient);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, allow_private ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)DELIVERY_WEBHOOK_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect could lead inside */
	if (pin)
		curl_easy_setopt(h, CURLOPT_RESOLVE, pin);
	res = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (res != CURLE_OK)
		snprintf(err, errlen, "%s", curl_easy_strerror(res));
	else if (code < 200 || code > 299)
		snprintf(err, errlen, "the receiver answered HTTP %ld", code);
	else
		rc = SEND_OK;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	if (h)
		curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	curl_slist_free_all(pin);
	free(body);
	return rc;
}

/* --- the senders ----------------------------------------------------------------------- */

/* The outcome of a failed attempt: retrying after the backoff, or dead past the window. */
static void failed(struct delivery *dl, const struct store_delivery *d, bool permanent,
		   int64_t now, struct store_delivery_outcome *o)
{
	uint64_t delay = delivery_backoff((unsigned)(d->attempts > 0 ? d->attempts : 1),
					  dl->backoff_ms, DELIVERY_BACKOFF_CAP_MS,
					  randombytes_random());

	o->row = d->row;
	o->lease = d->lease;
	o->next_attempt_at = now + (int64_t)delay;
	o->status = permanent || o->next_attempt_at > d->retry_from + (int64_t)dl->give_up_ms
			    ? DELIVERY_DEAD
			    : DELIVERY_RETRYING;
}

static void count(struct delivery *dl, const char *kind, int status)
{
	int k = format_delivery_kind_parse(kind);

	if (k >= 0)
		atomic_fetch_add(&dl->attempts[k][status == DELIVERY_SENT	 ? OUT_SENT
						  : status == DELIVERY_DEAD ? OUT_DEAD
									     : OUT_RETRYING],
				 1);
}

/* The org's name for the emails, remembered across a batch (most name one org). */
static const char *org_name(struct store *st, int64_t org_id, int64_t *cached_id, char **cached)
{
	if (!*cached || *cached_id != org_id) {
		free(*cached);
		*cached = NULL;
		*cached_id = org_id;
		if (store_org_get(st, org_id, cached) != STORE_OK) {
			free(*cached);
			*cached = NULL;
		}
	}
	return *cached ? *cached : "your organization";
}

static void send_emails(struct delivery *dl, struct store *st, struct smtp *smtp,
			struct store_delivery *v, size_t n, struct store_delivery_outcome *o,
			char (*errors)[ERROR_MAX])
{
	char *org = NULL, down[ERROR_MAX] = "";
	int64_t org_id = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct store_delivery *d = &v[i];
		struct delivery_mail mail;
		char mid[STORE_DELIVERY_ID_MAX + MAILMSG_ADDR_MAX + 2];
		enum send_result res = SEND_RETRY;

		errors[i][0] = '\0';
		o[i].error = errors[i];
		if (atomic_load(&dl->svc->syncing)) {
			/* A sync began: the rest of the batch goes back, unsent and due. */
			o[i] = (struct store_delivery_outcome){ d->row, d->lease, DELIVERY_QUEUED, 0,
								NULL };
			continue;
		}
		if (down[0]) {
			/* The server is down: the rest of the batch waits its turn. */
			snprintf(errors[i], ERROR_MAX, "%s", down);
		} else if (delivery_compose(d->kind, d->payload, d->created_at,
					    org_name(st, d->org_id, &org_id, &org), dl->public_url,
					    &mail, errors[i], ERROR_MAX) < 0) {
			res = SEND_DEAD;
		} else {
			snprintf(mid, sizeof(mid), "%s@%s", d->id, dl->from_domain);
			buf_reset(&smtp->msg);
			if (mailmsg_build(&(struct mailmsg){ dl->from_name, dl->from_addr,
							     mail.to_name, d->recipient, mail.subject,
							     mail.body, mid, d->id, os_wall_ms() / 1000 },
					  &smtp->msg) < 0) {
				snprintf(errors[i], ERROR_MAX, "out of memory");
			} else {
				res = smtp_send(smtp, d->recipient, errors[i], ERROR_MAX);
			}
			delivery_mail_free(&mail);
			if (res == SEND_DOWN)
				snprintf(down, sizeof(down), "%s", errors[i]);
		}
		if (res == SEND_OK) {
			o[i] = (struct store_delivery_outcome){ d->row, d->lease, DELIVERY_SENT, 0, NULL };
		} else {
			failed(dl, d, res == SEND_DEAD, os_wall_ms(), &o[i]);
		}
		count(dl, d->kind, o[i].status);
	}
	if (smtp->msg.data)
		sodium_memzero(smtp->msg.data, smtp->msg.len);
	free(org);
}

static void send_webhooks(struct delivery *dl, struct store *st, struct store_delivery *v,
			  size_t n, struct store_delivery_outcome *o, char (*errors)[ERROR_MAX])
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct store_delivery *d = &v[i];
		enum send_result res = SEND_DEAD;
		char *text = NULL;
		json_t *settings = NULL;
		const char *secret;

		errors[i][0] = '\0';
		o[i].error = errors[i];
		if (settings_get(st, d->org_id, &text) != STORE_OK) {
			snprintf(errors[i], ERROR_MAX, "the settings could not be read");
			res = SEND_RETRY;
		} else if (!(settings = json_loads(text, 0, NULL)) ||
			   !(secret = webhook_secret(settings, d->recipient))) {
			snprintf(errors[i], ERROR_MAX, "the settings no longer have a webhook with "
				 "this URL (or its secret)");
		} else {
			res = webhook_send(dl, d, secret, errors[i], ERROR_MAX);
		}
		json_decref(settings);
		if (text)
			sodium_memzero(text, strlen(text)); /* the secrets */
		free(text);
		if (res == SEND_OK)
			o[i] = (struct store_delivery_outcome){ d->row, d->lease, DELIVERY_SENT, 0, NULL };
		else
			failed(dl, d, res == SEND_DEAD, os_wall_ms(), &o[i]);
		count(dl, d->kind, o[i].status);
	}
}

/* Waits until the channel's next message is due, at most IDLE_POLL_MS, or a wake. */
static void idle(struct delivery *dl, struct store *st, enum delivery_channel ch)
{
	int64_t due = 0, wait_ms = IDLE_POLL_MS, now = os_wall_ms();
	struct timespec until;
	unsigned seen;

	pthread_mutex_lock(&dl->lock);
	seen = dl->wakeups;
	pthread_mutex_unlock(&dl->lock);
	if (st && store_delivery_next_due(st, ch, &due) == STORE_OK && due - now < wait_ms)
		wait_ms = due - now;
	if (wait_ms <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&dl->lock);
	while (!dl->stopping && dl->wakeups == seen)
		if (pthread_cond_timedwait(&dl->wake, &dl->lock, &until) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&dl->lock);
}

static bool stopping(struct delivery *dl)
{
	bool stop;

	pthread_mutex_lock(&dl->lock);
	stop = dl->stopping;
	pthread_mutex_unlock(&dl->lock);
	return stop;
}

static void *channel_main(void *arg)
{
	struct channel *c = arg;
	struct delivery *dl = c->dl;
	struct store *st = NULL;
	struct smtp smtp;
	size_t max = c->ch == DELIVERY_EMAIL ? EMAIL_BATCH : WEBHOOK_BATCH;
	struct store_delivery_outcome *o = calloc(max, sizeof(*o));
	char (*errors)[ERROR_MAX] = calloc(max, sizeof(*errors));
	bool logged = false;

	memset(&smtp, 0, sizeof(smtp));
	if (!o || !errors || (c->ch == DELIVERY_EMAIL && smtp_open(&smtp, dl) < 0)) {
		log_write(json_pack("{s:s, s:s}", "delivery", c->ch == DELIVERY_EMAIL ? "email" : "webhook",
				    "error", "out of memory"));
		goto out;
	}
	while (!stopping(dl)) {
		struct store_delivery *v = NULL;
		size_t n = 0;
		int rc;

		/* A sync this process runs has the CPU and the write lock to itself:
		 * delivery waits (a batch already claimed finishes first). */
		if (atomic_load(&dl->svc->syncing)) {
			struct timespec pause = { 0, SYNC_POLL_MS * 1000000L };

			nanosleep(&pause, NULL);
			continue;
		}
		if (!st)
			st = service_store(dl->svc);
		rc = st ? store_delivery_claim(st, c->ch, os_wall_ms(), (int64_t)dl->lease_ms, max, &v,
					       &n)
			: STORE_EIO;
		if (rc != STORE_OK) {
			if (!logged)
				log_write(json_pack("{s:s, s:s}", "delivery",
						    c->ch == DELIVERY_EMAIL ? "email" : "webhook", "error",
						    "the outbox cannot be read"));
			logged = true;
			idle(dl, NULL, c->ch);
			continue;
		}
		logged = false;
		if (n == 0) {
			idle(dl, st, c->ch);
			continue;
		}
		if (c->ch == DELIVERY_EMAIL)
			send_emails(dl, st, &smtp, v, n, o, errors);
		else
			send_webhooks(dl, st, v, n, o, errors);
		if (store_delivery_record(st, o, n, os_wall_ms()) != STORE_OK)
			log_write(json_pack("{s:s, s:s}", "delivery",
					    c->ch == DELIVERY_EMAIL ? "email" : "webhook", "error",
					    "outcomes not recorded; the messages are sent again when "
					    "their lease ends"));
		store_deliveries_free(v, n);
	}
out:
	if (c->ch == DELIVERY_EMAIL)
		smtp_close(&smtp);
	free(o);
	free(errors);
	return NULL;
}

/* --- the service's side ----------------------------------------------------------------- */

static char *env_copy(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? strdup(v) : NULL;
}

static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void public_url(struct delivery *dl, const struct service_config *cfg)
{
	size_t n;

	if (cfg->public_url)
		snprintf(dl->public_url, sizeof(dl->public_url), "%s", cfg->public_url);
	else
		snprintf(dl->public_url, sizeof(dl->public_url), "%s://%s",
			 cfg->tls_cert ? "https" : "http", cfg->listen ? cfg->listen : "localhost");
	n = strlen(dl->public_url);
	while (n && dl->public_url[n - 1] == '/')
		dl->public_url[--n] = '\0';
}

int delivery_start(struct service *svc)
{
	const struct service_config *cfg = &svc->cfg;
	struct delivery *dl = calloc(1, sizeof(*dl));
	const char *at;
	int i;

	if (!dl || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(dl);
		return -1;
	}
	svc->delivery = dl;
	dl->svc = svc;
	pthread_mutex_init(&dl->lock, NULL);
	pthread_cond_init(&dl->wake, NULL);
	dl->backoff_ms = cfg->delivery_backoff_ms ? cfg->delivery_backoff_ms : DELIVERY_BACKOFF_MS;
	dl->give_up_ms = cfg->delivery_give_up_ms ? cfg->delivery_give_up_ms : DELIVERY_GIVE_UP_MS;
	dl->lease_ms = cfg->delivery_lease_ms ? cfg->delivery_lease_ms : DELIVERY_LEASE_MS;
	public_url(dl, cfg);
	if (cfg->smtp_from)
		mailmsg_parse_mailbox(cfg->smtp_from, dl->from_name, dl->from_addr);
	at = strrchr(dl->from_addr, '@');
	snprintf(dl->from_domain, sizeof(dl->from_domain), "%s", at ? at + 1 : "orgsync.invalid");
	dl->smtp_user = env_copy("ORGSYNC_SMTP_USER");
	dl->smtp_password = env_copy("ORGSYNC_SMTP_PASSWORD");
	if (!cfg->smtp_url)
		log_msg("warn", "no --smtp-url: invitations and notification emails wait in the "
			"outbox until a service with --smtp-url sends them");
	if (!cfg->public_url)
		log_msg("warn", "no --public-url: links in emails start with %s", dl->public_url);
	for (i = 0; i < 2; i++) {
		struct channel *c = &dl->channels[i];

		c->dl = dl;
		c->ch = i == 0 ? DELIVERY_EMAIL : DELIVERY_WEBHOOK;
		if (c->ch == DELIVERY_EMAIL && !cfg->smtp_url)
			continue;
		if (pthread_create(&c->thread, NULL, channel_main, c) != 0)
			return -1;
		c->started = true;
	}
	return 0;
}

void delivery_stop(struct service *svc)
{
	struct delivery *dl = svc->delivery;
	int i;

	if (!dl)
		return;
	pthread_mutex_lock(&dl->lock);
	dl->stopping = true;
	pthread_cond_broadcast(&dl->wake);
	pthread_mutex_unlock(&dl->lock);
	for (i = 0; i < 2; i++)
		if (dl->channels[i].started)
			pthread_join(dl->channels[i].thread, NULL);
	wipe_free(dl->smtp_user);
	wipe_free(dl->smtp_password);
	pthread_cond_destroy(&dl->wake);
	pthread_mutex_destroy(&dl->lock);
	free(dl);
	svc->delivery = NULL;
}

void delivery_wake(struct service *svc)
{
	struct delivery *dl = svc->delivery;

	if (!dl)
		return;
	pthread_mutex_lock(&dl->lock);
	dl->wakeups++;
	pthread_cond_broadcast(&dl->wake);
	pthread_mutex_unlock(&dl->lock);
}

void delivery_metrics(struct service *svc, struct store *st, struct buf *out)
{
	static const char *const outcomes[OUT_COUNT] = { "sent", "retrying", "dead" };
	struct delivery *dl = svc->delivery;
	uint64_t counts[3][DELIVERY_STATUS_COUNT];
	int k, s;

	buf_printf(out, "# HELP orgsync_smtp_configured Whether this service sends emails "
		   "(--smtp-url); 0: they wait in the outbox.\n# TYPE orgsync_smtp_configured gauge\n"
		   "orgsync_smtp_configured %d\n", svc->cfg.smtp_url ? 1 : 0);
	if (st && store_delivery_counts(st, counts) == STORE_OK) {
		buf_printf(out, "# HELP orgsync_deliveries Messages in the outbox, by kind and "
			   "status.\n# TYPE orgsync_deliveries gauge\n");
		for (k = 0; k < DELIVERY_KIND_COUNT; k++)
			for (s = 0; s < DELIVERY_STATUS_COUNT; s++)
				buf_printf(out, "orgsync_deliveries{kind=\"%s\",status=\"%s\"} %llu\n",
					   format_delivery_kind_name(k), format_delivery_status_name(s),
					   (unsigned long long)counts[k][s]);
	}
	if (!dl)
		return;
	buf_printf(out, "# HELP orgsync_delivery_attempts_total Delivery attempts by this process, "
		   "by kind and outcome.\n# TYPE orgsync_delivery_attempts_total counter\n");
	for (k = 0; k < DELIVERY_KIND_COUNT; k++)
		for (s = 0; s < OUT_COUNT; s++)
			buf_printf(out, "orgsync_delivery_attempts_total{kind=\"%s\",outcome=\"%s\"} "
				   "%llu\n", format_delivery_kind_name(k), outcomes[s],
				   (unsigned long long)atomic_load(&dl->attempts[k][s]));
}
