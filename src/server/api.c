/*
 * The routes of SPEC §6. Handlers check input, call the store, and answer
 * JSON; a sync is only registered here (ingested far enough to refuse a
 * structurally invalid one with 400) and processed by the worker.
 */
#include "server/api.h"
#include "server/conntrack.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "format/names.h"
#include "format/report.h"
#include "ingest/ingest.h"
#include "server/delivery.h"
#include "server/log.h"
#include "server/service.h"
#include "server/orgcache.h"
#include "server/spool.h"
#include "server/web.h"
#include "server/webhook.h"
#include "server/embed.h"
#include "store/store.h"
#include "sync/settings.h"
#include "sync/sync.h"
#include "util/num.h"
#include "util/os.h"

/* The store's message may name internals and quote tenant data: it goes to the log, not the client. */
static int db_error(struct http_req *r, struct store *st)
{
	log_write(json_pack("{s:s, s:s, s:o}", "rid", r->request_id, "error", "database", "detail",
			    log_text(st ? store_error(st) : "no database handle")));
	return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "the database failed", NULL);
}

static struct store *db(struct http_req *r)
{
	return service_store(r->svc);
}

/* Parses a positive id path segment; 0 when it is not one. */
static int64_t id_param(const char *s)
{
	int64_t v = 0;

	return num_i64(s, 1, INT64_MAX, &v) == NUM_OK ? v : 0;
}

static json_t *body_json(struct http_req *r, char *err, size_t len)
{
	json_error_t je;
	json_t *doc;

	if (!r->body.len) {
		snprintf(err, len, "the request needs a JSON body");
		return NULL;
	}
	doc = json_loadb(r->body.data, r->body.len, 0, &je);
	if (!doc)
		snprintf(err, len, "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
	return doc;
}

/*
 * Who the request acts as, for the audit trail: a web session's actor (an
 * Administrator's email, or the key it was opened with), else the public
 * id of the API key it was authenticated with (never the key itself).
 */
static void request_actor(struct http_req *r, char *out, size_t len)
{
	const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	char id[STORE_KEY_ID_MAX];

	if (r->session && r->actor[0])
		snprintf(out, len, "%s", r->actor);
	else if (h && strlen(h) > 7 && store_key_public_id(h + 7, id))
		snprintf(out, len, "key:%s", id);
	else
		snprintf(out, len, "key:unknown");
}

/* v as JSON text for the audit trail (caller frees); NULL for NULL. */
static char *audit_text(const json_t *v)
{
	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

/*
 * Records an action of the request's key in the caller's transaction
 * (store_tx_begin): old and new are JSON values or NULL, not stolen.
 */
static int audit(struct http_req *r, const char *action, const char *target, const json_t *old,
		 const json_t *new)
{
	char actor[STORE_ACTOR_MAX], *o = audit_text(old), *n = audit_text(new);
	int rc;

	request_actor(r, actor, sizeof(actor));
	rc = (old && !o) || (new && !n) ? STORE_ENOMEM
					: store_audit_add(db(r), r->org_id, actor, action, target, o, n);
	free(o);
	free(n);
	return rc;
}

/* --- health, metrics ------------------------------------------------------ */

static int get_healthz(struct http_req *r)
{
	bool ok = db(r) != NULL;

	return http_json(r, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
			 json_pack("{s:s, s:s, s:I}", "status", ok ? "ok" : "degraded", "database",
				   ok ? "ok" : "unavailable", "uptimeSeconds",
				   (json_int_t)((os_now_ms() - r->svc->started_ms) / 1000)),
			 NULL, NULL);
}

static int get_metrics(struct http_req *r)
{
	struct service_metrics *m = &r->svc->metrics;
	struct buf out;
	int i, rc;

	buf_init(&out);
	buf_printf(&out, "# HELP orgsync_requests_total HTTP requests received.\n"
		   "# TYPE orgsync_requests_total counter\norgsync_requests_total %llu\n",
		   (unsigned long long)atomic_load(&m->requests));
	buf_printf(&out, "# HELP orgsync_responses_total HTTP responses by status class.\n"
		   "# TYPE orgsync_responses_total counter\n");
	for (i = 1; i < 6; i++)
		buf_printf(&out, "orgsync_responses_total{class=\"%dxx\"} %llu\n", i,
			   (unsigned long long)atomic_load(&m->responses[i]));
	buf_printf(&out, "# HELP orgsync_syncs_total Syncs processed, by resulting status.\n"
		   "# TYPE orgsync_syncs_total counter\n");
	for (i = 0; i < SYNC_STATUS_COUNT; i++)
		buf_printf(&out, "orgsync_syncs_total{status=\"%s\"} %llu\n", format_sync_status_name(i),
			   (unsigned long long)atomic_load(&m->syncs_done[i]));
	buf_printf(&out, "# HELP orgsync_sync_seconds_total Time spent processing syncs.\n"
		   "# TYPE orgsync_sync_seconds_total counter\norgsync_sync_seconds_total %.3f\n",
		   (double)atomic_load(&m->sync_ms_total) / 1000.0);
	buf_printf(&out, "# HELP orgsync_rate_limited_total Requests refused by the per-key rate "
		   "limit (429).\n# TYPE orgsync_rate_limited_total counter\n"
		   "orgsync_rate_limited_total %llu\n",
		   (unsigned long long)atomic_load(&m->rate_limited));
	buf_printf(&out, "# HELP orgsync_connections_cut_total Connections closed for not sending "
		   "a complete request header in time.\n# TYPE orgsync_connections_cut_total counter\n"
		   "orgsync_connections_cut_total %llu\n",
		   (unsigned long long)conntrack_cut(r->svc->conns));
	buf_printf(&out, "# HELP orgsync_uptime_seconds Seconds since the service started.\n"
		   "# TYPE orgsync_uptime_seconds gauge\norgsync_uptime_seconds %lld\n",
		   (long long)((os_now_ms() - r->svc->started_ms) / 1000));
	delivery_metrics(r->svc, db(r), &out);
	rc = http_raw(r, MHD_HTTP_OK, "text/plain; version=0.0.4", out.data ? out.data : "", out.len);
	buf_free(&out);
	return rc;
}

/* --- syncs ----------------------------------------------------------------- */

static json_t *sync_json(const struct sync_row *s)
{
	json_t *doc = json_pack("{s:I, s:s, s:s, s:s, s:s, s:b, s:o, s:I}", "id", (json_int_t)s->number,
				"status", format_sync_status_name(s->status), "source", s->source,
				"mode", s->mode, "format", s->format, "dryRun", s->dry_run,
				"createdAt", http_time(s->created_at), "issues", (json_int_t)s->issues);
	json_t *v;

	json_object_set_new(doc, "startedAt", http_time(s->started_at));
	json_object_set_new(doc, "finishedAt", http_time(s->finished_at));
	json_object_set_new(doc, "reason", s->reason ? json_string(s->reason) : json_null());
	v = s->counts_json ? json_loads(s->counts_json, 0, NULL) : NULL;
	json_object_set_new(doc, "counts", v ? v : json_null());
	v = s->risk_json ? json_loads(s->risk_json, 0, NULL) : NULL;
	json_object_set_new(doc, "risk", v ? v : json_null());
	if (*s->decision) {
		v = json_pack("{s:s, s:s, s:o, s:s?}", "action", s->decision, "actor",
			      s->decided_by ? s->decided_by : "", "at", http_time(s->decided_at),
			      "reason", s->decision_reason);
		json_object_set_new(doc, "decision", v ? v : json_null());
	} else {
		json_object_set_new(doc, "decision", json_null());
	}
	return doc;
}

/* The request's spooled payload: the JSON body, or the multipart parts present. */
struct payload {
	size_t n;
	const char *names[HTTP_MAX_PARTS];  /* the stored part's name */
	struct spool_range ranges[HTTP_MAX_PARTS];
};

/*
 * The payload kept for the worker and for a later approval: only the known
 * parts, under names no client can choose.
 */
static void payload_of(struct http_req *r, struct payload *p)
{
	int i;

	p->n = 0;
	if (!r->multipart) {
		p->names[p->n] = "json";
		p->ranges[p->n++] = (struct spool_range){ r->spool, 0, spool_size(r->spool), 0 };
		return;
	}
	for (i = 0; i < HTTP_MAX_PARTS; i++)
		if (r->parts[i].present) {
			p->names[p->n] = parts_info[i].name;
			p->ranges[p->n++] = (struct spool_range){ r->spool, r->parts[i].offset,
								  r->parts[i].len, 0 };
		}
}

/* The payload's range for a part name, rewound; NULL when the part was not sent. */
static struct spool_range *payload_part(struct payload *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (!strcmp(p->names[i], name)) {
			p->ranges[i].pos = 0;
			return &p->ranges[i];
		}
	return NULL;
}

/*
 * Ingests the payload now, from the spool, so that a broken one is refused
 * with 400; the result goes on to the worker, which then need not parse it
 * again.
 */
static int check_payload(struct http_req *r, struct payload *p, struct sync_prepared *pre)
{
	struct ingest_source src[PART_COUNT];
	const struct ingest_source *use[PART_COUNT] = { NULL };
	struct spool_range *range;
	int i;

	for (i = 0; i < PART_COUNT; i++) {
		range = payload_part(p, parts_info[i].name);
		src[i] = (struct ingest_source){ parts_info[i].file, spool_range_read, range,
						 range ? range->len : 0 };
		use[i] = range ? &src[i] : NULL;
	}
	return sync_ingest(db(r), r->org_id, !r->multipart, use, &pre->org, &pre->rep);
}

/* 409 naming the sync that is still running. */
static int sync_running(struct http_req *r, int64_t running)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "sync %" PRId64 " is still running for this organization; "
		 "try again when it ends", running);
	return http_error(r, MHD_HTTP_CONFLICT, "sync_running", msg,
			  json_pack("[{s:I}]", "runningSyncId", (json_int_t)running));
}

/*
 * What refuses a sync whatever its payload: API provisioning off (403), a
 * sync already Pending for the org (409). Fills *set; -1 to go on.
 */
static int refuse_sync(struct http_req *r, struct settings *set)
{
	int64_t running = 0;

	switch (sync_admit(db(r), r->org_id, SYNC_SOURCE_API, set, &running)) {
	case SYNC_OK:
		return -1;
	case SYNC_EINACTIVE:
		return http_error(r, MHD_HTTP_FORBIDDEN, "provisioning_inactive",
				  "API provisioning is not active for this organization: set "
				  "provisioning.method to \"api\" (PATCH /v1/settings)", NULL);
	case SYNC_EBUSY:
		return sync_running(r, running);
	default:
		return db_error(r, db(r));
	}
}

/* How long a request waits for its turn to ingest before it is told to come back. */
enum { INGEST_WAIT_MS = 30000 };

static int post_sync(struct http_req *r)
{
	struct store *st = db(r);
	struct sync_prepared *pre = NULL;
	struct settings set;
	struct sync_row row = { 0 };
	struct store_source parts[HTTP_MAX_PARTS];
	struct payload payload;
	char loc[64];
	const char *mode = http_arg(r, "mode");
	int64_t sync_id = 0, running = 0;
	size_t i;
	int rc;

	if (r->multipart && r->part_error[0])
		return http_error(r, MHD_HTTP_BAD_REQUEST, "bad_multipart", r->part_error, NULL);
	/* Checked again: the headers were a while ago for a large body. */
	if ((rc = refuse_sync(r, &set)) != -1)
		return rc;
	if (!service_ingest_begin(r->svc, INGEST_WAIT_MS))
		return http_json(r, MHD_HTTP_SERVICE_UNAVAILABLE,
				 json_pack("{s:{s:s, s:s, s:[]}}", "error", "code", "busy", "message",
					   "other syncs are being read; try again shortly", "details"),
				 MHD_HTTP_HEADER_RETRY_AFTER, "10");
	/* The wait may have let another sync of the org in: no need to read this one. */
	if (store_sync_pending(st, r->org_id, &running) != STORE_OK) {
		rc = db_error(r, st);
		goto out;
	}
	if (running) {
		rc = sync_running(r, running);
		goto out;
	}
	pre = sync_prepared_new();
	if (!pre) {
		rc = http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory", NULL);
		goto out;
	}
	payload_of(r, &payload);
	rc = check_payload(r, &payload, pre);
	if (rc == INGEST_EINVALID) {
		rc = http_error(r, MHD_HTTP_BAD_REQUEST, "invalid_input",
				"the input has structural errors; nothing was changed",
				format_report_json(&pre->rep, 1000));
		goto out;
	}
	if (rc) {
		rc = http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory", NULL);
		goto out;
	}
	for (i = 0; i < payload.n; i++)
		parts[i] = (struct store_source){ payload.names[i], payload.ranges[i].len,
						  spool_range_read,
						  payload_part(&payload, payload.names[i]) };
	service_lock(r->svc);
	rc = store_sync_begin_sources(st, r->org_id,
				      &(struct sync_meta){ SYNC_SOURCE_API,
							   mode ? mode : (set.mode == PLAN_PARTIAL ? "partial" : "full"),
							   r->multipart ? "csv" : "json",
							   http_arg_bool(r, "dryRun"), NULL, 0, NULL, 0 },
				      parts, payload.n, &sync_id, &running);
	if (rc == STORE_OK)
		rc = store_sync_get(st, r->org_id, sync_id, &row);
	if (rc != STORE_OK) {
		service_unlock(r->svc);
	} else {
		pre->sync_id = sync_id;
		service_put_prepared(r->svc, pre);
		pre = NULL;
		service_unlock(r->svc);
	}
	if (rc == STORE_EBUSY) {
		rc = sync_running(r, running);
		goto out;
	}
	if (rc == STORE_EFULL) {
		log_write(json_pack("{s:s, s:s, s:o}", "rid", r->request_id, "error", "database",
				    "detail", log_text(store_error(st))));
		rc = http_json(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			       json_pack("{s:{s:s, s:s, s:[]}}", "error", "code",
					 "insufficient_storage", "message",
					 "the service's database has no room for this payload; try "
					 "again later", "details"),
			       MHD_HTTP_HEADER_RETRY_AFTER, "60");
		goto out;
	}
	if (rc) {
		rc = db_error(r, st);
		goto out;
	}
	service_wake_worker(r->svc);
	snprintf(loc, sizeof(loc), "/v1/syncs/%" PRId64, row.number);
	rc = http_json(r, MHD_HTTP_ACCEPTED, sync_json(&row), MHD_HTTP_HEADER_LOCATION, loc);
	store_sync_row_free(&row);
out:
	sync_prepared_free(pre);
	service_ingest_end(r->svc);
	return rc;
}

int api_before_body(struct http_req *r)
{
	struct settings set;

	if (r->route->handler != post_sync)
		return -1;
	r->spooled = true;
	return refuse_sync(r, &set);
}

/*
 * Newest first, a page of ?limit (50 by default) below the ?before cursor.
 * One row more than the page is read: it says whether a next page exists,
 * so the last page has next null even when it is full.
 */
static int list_syncs(struct http_req *r)
{
	struct store *st = db(r);
	struct sync_row *rows = NULL;
	size_t limit = (size_t)http_arg_int(r, "limit"), n = 0, total = 0, i;
	json_t *items, *next = NULL;

	if (store_sync_list(st, r->org_id, http_arg_int(r, "before"), limit + 1, &rows, &n) ||
	    store_sync_count(st, r->org_id, &total)) {
		store_sync_rows_free(rows, n);
		return db_error(r, st);
	}
	items = json_array();
	for (i = 0; i < n && i < limit; i++)
		json_array_append_new(items, sync_json(&rows[i]));
	if (n > limit)
		next = json_integer(rows[limit - 1].number);
	store_sync_rows_free(rows, n);
	return http_json(r, MHD_HTTP_OK,
			 json_pack("{s:o, s:o, s:o, s:I}", "items", items, "next",
				   next ? http_next_link(r, "before", json_integer_value(next))
					: json_null(),
				   "nextBefore", next ? next : json_null(), "total", (json_int_t)total),
			 NULL, NULL);
}

/* Loads the sync named by the path (its number in the org) into *row, or answers 404. */
static int load_sync(struct http_req *r, struct sync_row *row)
{
	struct store *st = db(r);
	int64_t id = id_param(r->params[0]);
	int rc;

	if (!id)
		return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such sync", NULL);
	rc = store_sync_by_number(st, r->org_id, id, row);
	if (rc == STORE_ENOTFOUND)
		return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such sync", NULL);
	if (rc)
		return db_error(r, st);
	return -1;
}

static int get_sync(struct http_req *r)
{
	struct sync_row row = { 0 };
	int rc = load_sync(r, &row);

	if (rc != -1)
		return rc;
	rc = http_json(r, MHD_HTTP_OK, sync_json(&row), NULL, NULL);
	store_sync_row_free(&row);
	return rc;
}

static int report_csv(struct http_req *r, const struct report *rep)
{
	struct buf out;
	int rc;

	buf_init(&out);
	format_report_csv(rep, &out);
	rc = http_raw(r, MHD_HTTP_OK, "text/csv; charset=utf-8", out.data ? out.data : "", out.len);
	buf_free(&out);
	return rc;
}

static int get_report(struct http_req *r)
{
	struct store *st = db(r);
	struct sync_row row = { 0 };
	struct report rep;
	const char *accept = http_header(r, MHD_HTTP_HEADER_ACCEPT);
	const char *format = http_arg(r, "format");
	int rc = load_sync(r, &row);

	if (rc != -1)
		return rc;
	report_init(&rep);
	rep.limit = (size_t)-1;
	if (store_sync_report(st, r->org_id, row.id, &rep)) {
		rc = db_error(r, st);
	} else if (format ? !strcmp(format, "csv") : accept && strstr(accept, "text/csv")) {
		rc = report_csv(r, &rep);
	} else {
		rc = http_json(r, MHD_HTTP_OK,
			       json_pack("{s:I, s:s, s:o}", "syncId", (json_int_t)row.number, "status",
					 format_sync_status_name(row.status), "issues",
					 format_report_json(&rep, (size_t)-1)),
			       NULL, NULL);
	}
	report_free(&rep);
	store_sync_row_free(&row);
	return rc;
}

static json_t *plan_row_json(const struct store_plan_row *e)
{
	json_t *changes = e->changes ? json_loads(e->changes, 0, NULL) : NULL;
	json_t *doc = json_pack("{s:I, s:s, s:s}", "seq", (json_int_t)e->seq, "type", e->type,
				"action", e->action);

	if (!strcmp(e->type, "member")) {
		json_object_set_new(doc, "externalMemberId", json_string(e->subject));
		json_object_set_new(doc, "email", json_string(e->detail));
		json_object_set_new(doc, "invite", json_boolean(e->flags & STORE_PLAN_INVITE));
	} else if (!strcmp(e->type, "team")) {
		json_object_set_new(doc, "externalTeamId", json_string(e->subject));
		json_object_set_new(doc, "teamName", json_string(e->detail));
	} else {
		bool subteam = e->flags & STORE_PLAN_SUBTEAM;

		json_object_set_new(doc, "externalTeamId", json_string(e->subject));
		json_object_set_new(doc, subteam ? "externalSubteamId" : "externalMemberId",
				    json_string(e->detail));
		json_object_set_new(doc, "kind", json_string(subteam ? "subteam" : "member"));
		json_object_set_new(doc, "isMember", json_boolean(e->flags & STORE_PLAN_IS_MEMBER));
		json_object_set_new(doc, "isManager", json_boolean(e->flags & STORE_PLAN_IS_MANAGER));
	}
	json_object_set_new(doc, "changes", changes ? changes : json_null());
	return doc;
}

/*
 * GET /v1/syncs/{id}/plan: the plan's changes a page at a time (?limit,
 * 100 by default; ?cursor, as the previous page's next link gives it;
 * ?type, member, team or mapping), each page with the plan's counts and
 * how many entries there are: nothing is left out, however big the sync.
 */
static int get_plan(struct http_req *r)
{
	static const char *const types[] = { "member", "team", "mapping" };
	struct store *st = db(r);
	struct sync_row row = { 0 };
	struct store_plan_page page = { 0 };
	const char *type = http_arg(r, "type");
	int64_t limit = http_arg_int(r, "limit"), cursor = http_arg_int(r, "cursor");
	json_t *items, *doc, *counts;
	int rc, t = -1, i;

	for (i = 0; type && i < 3; i++)
		if (!strcmp(type, types[i]))
			t = i;
	if ((rc = load_sync(r, &row)) != -1)
		return rc;
	rc = store_sync_plan(st, r->org_id, row.id, t, (uint64_t)cursor, (size_t)limit, &page);
	if (rc == STORE_ENOTFOUND) {
		rc = http_error(r, MHD_HTTP_NOT_FOUND, "not_found",
				"this sync has no plan yet (it is still Pending, or it failed before "
				"planning)", NULL);
		goto out;
	}
	if (rc) {
		rc = db_error(r, st);
		goto out;
	}
	items = json_array();
	for (i = 0; (size_t)i < page.count; i++)
		json_array_append_new(items, plan_row_json(&page.rows[i]));
	counts = row.counts_json ? json_loads(row.counts_json, 0, NULL) : NULL;
	doc = json_pack("{s:I, s:o, s:I, s:{s:I, s:I, s:I}, s:b, s:o}", "syncId",
			(json_int_t)row.number, "counts", counts ? counts : json_null(), "total",
			(json_int_t)(page.end - page.first), "entries", "members",
			(json_int_t)page.n[0], "teams", (json_int_t)page.n[1], "mappings",
			(json_int_t)page.n[2], "truncated", page.truncated, "items", items);
	/* The cursor is the seq the next page starts at: never 0, the plan's start. */
	if (page.count == (size_t)limit && page.rows[page.count - 1].seq + 1 < page.end)
		json_object_set_new(doc, "next",
				    http_next_link(r, "cursor",
						   (int64_t)page.rows[page.count - 1].seq + 1));
	else
		json_object_set_new(doc, "next", json_null());
	rc = http_json(r, MHD_HTTP_OK, doc, NULL, NULL);
out:
	store_plan_page_free(&page);
	store_sync_row_free(&row);
	return rc;
}

/*
 * The optional body of an approval or a rejection: {"reason": "..."}.
 * Returns NULL after answering 400 itself (*answered), else a new
 * reference (an empty object for no body).
 */
static json_t *decision_body(struct http_req *r, int *answered)
{
	char err[256];
	const char *key;
	json_t *doc, *v;

	if (!r->body.len)
		return json_object();
	doc = body_json(r, err, sizeof(err));
	if (!doc) {
		*answered = http_error(r, MHD_HTTP_BAD_REQUEST, "malformed_json", err, NULL);
		return NULL;
	}
	if (!json_is_object(doc)) {
		*answered = http_error(r, MHD_HTTP_BAD_REQUEST, "invalid_body",
				       "the body is a JSON object: {\"reason\": \"...\"}", NULL);
		json_decref(doc);
		return NULL;
	}
	json_object_foreach(doc, key, v) {
		if (strcmp(key, "reason") != 0 || !json_is_string(v) ||
		    json_string_length(v) > 1000) {
			snprintf(err, sizeof(err), "%s: %s", key,
				 strcmp(key, "reason") ? "unknown field (only reason)"
						       : "a string of 1000 bytes at most");
			*answered = http_error(r, MHD_HTTP_BAD_REQUEST, "invalid_body", err, NULL);
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}

static int decide(struct http_req *r, bool approve)
{
	struct store *st = db(r);
	struct sync_row row = { 0 };
	char actor[STORE_ACTOR_MAX], target[48], sync_reason[1600];
	const char *reason;
	json_t *body, *old = NULL, *new = NULL;
	int64_t id;
	int rc = load_sync(r, &row), answered = 0;

	if (rc != -1)
		return rc;
	id = row.id;
	body = decision_body(r, &answered);
	if (!body) {
		store_sync_row_free(&row);
		return answered;
	}
	reason = json_string_value(json_object_get(body, "reason"));
	request_actor(r, actor, sizeof(actor));
	snprintf(sync_reason, sizeof(sync_reason), "%s by an administrator (%s)%s%s",
		 approve ? "approved" : "rejected", actor, reason ? ": " : "", reason ? reason : "");
	snprintf(target, sizeof(target), "sync:%" PRId64, row.number);
	old = json_pack("{s:s}", "status", format_sync_status_name(SYNC_PAUSED));
	new = json_pack("{s:s, s:s?}", "status",
			format_sync_status_name(approve ? SYNC_PENDING : SYNC_REJECTED), "reason", reason);
	/*
	 * The worker claims under the service lock: it cannot take the sync
	 * back between its return to Pending and the approval being recorded.
	 * The decision and its audit entry are one transaction.
	 */
	service_lock(r->svc);
	rc = store_tx_begin(st);
	if (rc == STORE_OK) {
		rc = store_sync_decide(st, r->org_id, id,
				       &(struct sync_decision){ approve, actor, reason, sync_reason });
		if (rc == STORE_OK)
			rc = audit(r, approve ? "sync.approve" : "sync.reject", target, old, new);
		rc = store_tx_end(st, rc);
	}
	service_unlock(r->svc);
	json_decref(old);
	json_decref(new);
	json_decref(body);
	store_sync_row_free(&row);
	if (rc == STORE_ECONFLICT)
		return http_error(r, MHD_HTTP_CONFLICT, "not_paused",
				  "only a Paused sync can be approved or rejected", NULL);
	if (rc || store_sync_get(st, r->org_id, id, &row))
		return db_error(r, st);
	if (approve)
		service_wake_worker(r->svc);
	rc = http_json(r, approve ? MHD_HTTP_ACCEPTED : MHD_HTTP_OK, sync_json(&row), NULL, NULL);
	store_sync_row_free(&row);
	return rc;
}

static int approve_sync(struct http_req *r)
{
	return decide(r, true);
}

static int reject_sync(struct http_req *r)
{
	return decide(r, false);
}

/* --- settings, properties, roles -------------------------------------------- */

static int get_settings(struct http_req *r)
{
	struct store *st = db(r);
	char *text = NULL;
	json_t *doc, *shown;

	if (settings_get(st, r->org_id, &text))
		return db_error(r, st);
	doc = json_loads(text, 0, NULL);
	free(text);
	shown = webhook_settings_redact(doc); /* webhook secrets are write-only */
	json_decref(doc);
	return http_json(r, MHD_HTTP_OK, shown, NULL, NULL);
}

/* A copy of v with the value of every member named like a secret shown as "***". */
static json_t *redacted(const json_t *v)
{
	json_t *out = json_deep_copy(v), *e;
	const char *key;
	size_t i;

	if (json_is_object(out)) {
		json_object_foreach(out, key, e) {
			if (strcasestr(key, "secret") && !json_is_null(e))
				json_object_set_new(out, key, json_string("***"));
			else if (json_is_object(e) || json_is_array(e))
				json_object_set_new(out, key, redacted(e));
		}
	} else if (json_is_array(out)) {
		json_array_foreach(out, i, e)
			if (json_is_object(e) || json_is_array(e))
				json_array_set_new(out, i, redacted(e));
	}
	return out;
}

/* The settings a PATCH changed, before (*old) and after (*new), secrets hidden. */
static void settings_diff(const json_t *before, const json_t *after, json_t **old, json_t **new)
{
	const char *key;
	json_t *v;

	*old = json_object();
	*new = json_object();
	json_object_foreach((json_t *)after, key, v) {
		json_t *was = json_object_get(before, key);

		if (!was || !json_equal(was, v)) {
			json_object_set_new(*old, key, was ? redacted(was) : json_null());
			json_object_set_new(*new, key, redacted(v));
		}
	}
}

/*
 * Reads, merges and writes in one transaction with the audit entry: the
 * old values recorded are the ones replaced, even with PATCHes racing.
 */
static int patch_settings(struct http_req *r)
{
	struct store *st = db(r);
	char err[256], *text = NULL;
	json_t *patch = body_json(r, err, sizeof(err)), *current = NULL, *merged = NULL;
	json_t *old = NULL, *new = NULL;
	int rc;

	if (!patch)
		return http_error(r, MHD_HTTP_BAD_REQUEST, "malformed_json", err, NULL);
	rc = store_tx_begin(st);
	if (rc)
		goto out;
	rc = settings_get(st, r->org_id, &text);
	if (rc == STORE_OK) {
		current = json_loads(text, 0, NULL);
		free(text);
		text = NULL;
		if (settings_patch(current, patch, &merged, err, sizeof(err)) < 0)
			rc = STORE_EINVAL;
		/* Webhooks: where they may point, and their write-only secrets. */
		if (rc == STORE_OK && json_object_get(patch, "webhooks") &&
		    webhook_settings_merge(current, merged, r->svc->cfg.webhook_allow_private, err,
					   sizeof(err)) < 0) {
			json_decref(merged);
			merged = NULL;
			rc = STORE_EINVAL;
		}
	}
	if (rc == STORE_OK) {
		text = json_dumps(merged, JSON_COMPACT);
		rc = text ? store_settings_put(st, r->org_id, text) : STORE_ENOMEM;
	}
	if (rc == STORE_OK) {
		settings_diff(current, merged, &old, &new);
		rc = audit(r, "settings.update", "settings", old, new);
	}
	rc = store_tx_end(st, rc);
out:
	free(text);
	json_decref(patch);
	json_decref(current);
	json_decref(old);
	json_decref(new);
	if (rc == STORE_EINVAL && merged == NULL) {
		rc = http_error(r, MHD_HTTP_BAD_REQUEST, "invalid_setting", err, NULL);
	} else if (rc) {
		json_decref(merged);
		rc = db_error(r, st);
	} else {
		rc = http_json(r, MHD_HTTP_OK, webhook_settings_redact(merged), NULL, NULL);
		json_decref(merged);
	}
	return rc;
}

static int list_properties(struct http_req *r)
{
	struct store *st = db(r);
	char **names = NULL;
	size_t n = 0, i;
	json_t *items;

	if (store_properties_list(st, r->org_id, &names, &n))
		return db_error(r, st);
	items = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(items, json_pack("{s:s}", "name", names[i]));
	store_strings_free(names, n);
	return http_json(r, MHD_HTTP_OK, json_pack("{s:o}", "items", items), NULL, NULL);
}

static bool property_name_ok(const char *s)
{
	static const char *const reserved[] = { "externalMemberId", "email", "firstName", "lastName",
						"jobTitle", "imageUrl", "languagePreferences",
						"productAssignations", "id", "language" };
	size_t i, n = strlen(s);

	if (!n || n > 64 || strpbrk(s, ",\"\r\n"))
		return false;
	for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!strcasecmp(s, reserved[i]))
			return false;
	return true;
}

/*
 * Defines (add) or deletes a property with its audit entry, in one
 * transaction. The name is known valid UTF-8 only once the store has
 * found it (a path may carry any bytes): the entry is made after.
 */
static int property_change(struct http_req *r, const char *name, bool add)
{
	struct store *st = db(r);
	char target[96];
	json_t *v = NULL;
	int rc = store_tx_begin(st);

	if (rc)
		return rc;
	rc = add ? store_property_add(st, r->org_id, name)
		 : store_property_delete(st, r->org_id, name);
	if (rc == STORE_OK) {
		v = json_pack("{s:s}", "name", name);
		snprintf(target, sizeof(target), "property:%s", name);
		rc = v ? audit(r, add ? "property.create" : "property.delete", target,
			       add ? NULL : v, add ? v : NULL)
		       : STORE_ENOMEM;
	}
	rc = store_tx_end(st, rc);
	json_decref(v);
	return rc;
}

static int post_property(struct http_req *r)
{
	struct store *st = db(r);
	char err[256];
	json_t *doc = body_json(r, err, sizeof(err));
	const char *name = json_string_value(json_object_get(doc, "name"));
	int rc;

	if (!doc) {
		rc = http_error(r, MHD_HTTP_BAD_REQUEST, "malformed_json", err, NULL);
	} else if (!name || !property_name_ok(name)) {
		rc = http_error(r, MHD_HTTP_BAD_REQUEST, "invalid_property",
				"name: 1 to 64 characters, no comma, quote or line break, and not a "
				"member field", NULL);
	} else if ((rc = property_change(r, name, true)) == STORE_ECONFLICT) {
		/* The store's message names the defined property, whose case may differ. */
		rc = http_error(r, MHD_HTTP_CONFLICT, "property_exists", store_error(st), NULL);
	} else if (rc) {
		rc = db_error(r, st);
	} else {
		rc = http_json(r, MHD_HTTP_CREATED, json_pack("{s:s}", "name", name), NULL, NULL);
	}
	json_decref(doc);
	return rc;
}

static int delete_property_named(struct http_req *r, const char *name)
{
	struct store *st = db(r);
	int rc;

	rc = property_change(r, name, false);
	if (rc == STORE_ENOTFOUND)
		return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such property", NULL);
	if (rc)
		return db_error(r, st);
	return http_raw(r, MHD_HTTP_NO_CONTENT, "application/json", "", 0);
}

static int delete_property(struct http_req *r)
{
	return delete_property_named(r, http_arg(r, "name"));
}

static int delete_property_path(struct http_req *r)
{
	return delete_property_named(r, r->params[0]);
}

/*
 * The roles and how to assign each: on the server, through a sync, or
 * over SCIM by membership of a role group (scim/groups.c), with the steps
 * in Entra ID and in Okta.
 */
static int get_roles(struct http_req *r)
{
	return http_json(
		r, MHD_HTTP_OK,
		json_pack("{s:[{s:s, s:s, s:s, s:{s:s, s:s, s:s}}, {s:s, s:s, s:s, s:n}]}", "items",
			  "name", "Administrator", "description",
			  "sees and manages everything; never deactivated or deleted by a sync or "
			  "over SCIM",
			  "howToAssign",
			  "orgsync admin add EMAIL --db ... on the server; with SCIM, membership of the "
			  "group named \"orgsync-Administrators\" (removing the member revokes the role)",
			  "scim", "group", "orgsync-Administrators", "entraId",
			  "Entra ID: Enterprise applications > orgsync > Users and groups: assign a "
			  "security group named orgsync-Administrators (Provisioning matches groups "
			  "by displayName), or create it in Entra and assign it; its members become "
			  "Administrators at the next provisioning cycle",
			  "okta",
			  "Okta: Applications > orgsync > Push Groups: push a group named "
			  "orgsync-Administrators (Okta links it to the existing one by name); its "
			  "members become Administrators when pushed",
			  "name", "Member", "description",
			  "sees their own teams; a manager of a team sees it and every team below it",
			  "howToAssign", "every provisioned member; managers through isManager mappings",
			  "scim"),
		NULL, NULL);
}

/* --- audit trail ----------------------------------------------------------------- */

static json_t *audit_json(const struct audit_entry *e)
{
	json_t *old = e->old_json ? json_loads(e->old_json, JSON_DECODE_ANY, NULL) : NULL;
	json_t *new = e->new_json ? json_loads(e->new_json, JSON_DECODE_ANY, NULL) : NULL;

	return json_pack("{s:I, s:o, s:s, s:s, s:s, s:o, s:o}", "id", (json_int_t)e->number, "at",
			 http_time(e->at), "actor", e->actor, "action", e->action, "target",
			 e->target, "old", old ? old : json_null(), "new", new ? new : json_null());
}

/*
 * GET /v1/audit: the org's administrative actions, newest first, a page
 * at a time (?limit; ?before, from the previous page's next link), with
 * optional exact filters by action, actor or target, which the next link
 * keeps. Entries are numbered within the org, so a cursor says nothing of
 * others. One row more than the page is read: it says whether a next page
 * exists.
 */
static int list_audit(struct http_req *r)
{
	struct store *st = db(r);
	const size_t limit = (size_t)http_arg_int(r, "limit");
	struct audit_filter f = { http_arg_int(r, "before"), limit + 1, http_arg(r, "action"),
				  http_arg(r, "actor"), http_arg(r, "target") };
	struct audit_entry *rows = NULL;
	json_t *items;
	size_t n = 0, total = 0, i;

	if (store_audit_list(st, r->org_id, &f, &rows, &n) ||
	    store_audit_count(st, r->org_id, &f, &total)) {
		store_audit_free(rows, n);
		return db_error(r, st);
	}
	items = json_array();
	for (i = 0; i < n && i < limit; i++)
		json_array_append_new(items, audit_json(&rows[i]));
	items = json_pack("{s:o, s:o, s:I}", "items", items, "next",
			  n > limit ? http_next_link(r, "before", rows[limit - 1].number) : json_null(),
			  "total", (json_int_t)total);
	store_audit_free(rows, n);
	return http_json(r, MHD_HTTP_OK, items, NULL, NULL);
}

/* --- members, teams ----------------------------------------------------------- */

/* The stored org for a read (shared, read-only); answers on failure (returns != -1). */
static int load_org(struct http_req *r, struct org_snapshot **snap)
{
	struct store *st = db(r);
	int rc = orgcache_get(st, r->org_id, snap);

	if (rc)
		return db_error(r, st);
	return -1;
}

static json_t *member_json(const struct org *o, const struct member *m)
{
	json_t *langs = json_array(), *products = json_array(), *props = json_object();
	uint32_t i;
	int p;

	for (i = 0; i < m->nlangs; i++)
		json_array_append_new(langs, json_string(format_lang_code((enum lang)m->langs[i])));
	for (p = 0; p < PRODUCT_COUNT; p++)
		if (m->products & (1u << p))
			json_array_append_new(products, json_string(format_product_name((enum product)p)));
	for (i = 0; i < m->nprops; i++)
		json_object_set_new(props, o->prop_names[m->props[i].index],
				    json_string(m->props[i].value));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s}",
			 "externalMemberId", m->external_id, "email", m->email, "firstName",
			 m->first_name, "lastName", m->last_name, "jobTitle", m->job_title,
			 "imageUrl", m->image_url, "languagePreferences", langs,
			 "productAssignations", products, "customProperties", props, "role",
			 format_role_name((enum role)m->role), "state",
			 format_state_name((enum member_state)m->state));
}

/*
 * The page a list request asks for (?limit, ?offset, checked by the
 * router) and what every page says besides its items: the offset, the
 * total of the filtered list (cheap: lists are read from the in-memory
 * snapshot) and the link to the next page, null on the last.
 */
static json_t *page_doc(struct http_req *r, json_t *items, size_t offset, size_t total)
{
	size_t end = offset + json_array_size(items);

	return json_pack("{s:o, s:I, s:I, s:o}", "items", items, "offset", (json_int_t)offset,
			 "total", (json_int_t)total, "next",
			 end < total ? http_next_link(r, "offset", (int64_t)end) : json_null());
}

/* Whether a member matches a search: q within its id, email or names, ASCII case ignored. */
static bool member_matches(const struct member *m, const char *q)
{
	return strcasestr(m->external_id, q) || strcasestr(m->email, q) ||
	       strcasestr(m->first_name, q) || strcasestr(m->last_name, q);
}

static int list_members(struct http_req *r)
{
	const char *state = http_arg(r, "state"), *team = http_arg(r, "team"), *q = http_arg(r, "q");
	size_t limit = (size_t)http_arg_int(r, "limit"), offset = (size_t)http_arg_int(r, "offset");
	struct org_snapshot *snap;
	const struct org *o;
	uint32_t t = 0, i, n;
	uint8_t *in_team = NULL;
	size_t seen = 0;
	json_t *items;
	int want = state ? format_state_parse(state) : -1, rc;

	if ((rc = load_org(r, &snap)) != -1)
		return rc;
	o = &snap->org;
	if (team) {
		if (!org_find_team(o, team, strlen(team), &t)) {
			orgcache_put(snap);
			return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such team", NULL);
		}
		const uint32_t *maps = orgindex_team(&snap->index, t, &n);

		in_team = calloc(o->nmembers + 1, 1);
		if (!in_team) {
			orgcache_put(snap);
			return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "out of memory",
					  NULL);
		}
		for (i = 0; i < n; i++)
			if (o->mappings[maps[i]].kind == MAPPING_MEMBER)
				in_team[o->mappings[maps[i]].child] = 1;
	}
	items = json_array();
	for (i = 0; i < o->nmembers; i++) {
		if ((want >= 0 && o->members[i].state != want) || (in_team && !in_team[i]) ||
		    (q && !member_matches(&o->members[i], q)))
			continue;
		if (seen++ >= offset && json_array_size(items) < limit)
			json_array_append_new(items, member_json(o, &o->members[i]));
	}
	free(in_team);
	rc = http_json(r, MHD_HTTP_OK, page_doc(r, items, offset, seen), NULL, NULL);
	orgcache_put(snap);
	return rc;
}

/* Finds the member named by the path; answers 404 itself (returns != -1). */
static int find_member(struct http_req *r, const struct org *o, uint32_t *idx)
{
	if (!org_find_member(o, r->params[0], strlen(r->params[0]), idx))
		return http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such member", NULL);
	return -1;
}

static json_t *team_ref(const struct team *t)
{
	return json_pack("{s:s, s:s}", "externalTeamId", t->external_id, "teamName", t->name);
}

static int get_member(struct http_req *r)
{
	struct org_snapshot *snap;
	const struct org *o;
	uint32_t idx, i, n;
	json_t *doc, *teams;
	int rc;

	if ((rc = load_org(r, &snap)) != -1)
		return rc;
	o = &snap->org;
	if ((rc = find_member(r, o, &idx)) == -1) {
		const uint32_t *maps = orgindex_member(&snap->index, idx, &n);

		doc = member_json(o, &o->members[idx]);
		teams = json_array();
		for (i = 0; i < n; i++) {
			const struct mapping *m = &o->mappings[maps[i]];
			json_t *ref = team_ref(&o->teams[m->team]);

			json_object_set_new(ref, "isMember", json_boolean(m->is_member));
			json_object_set_new(ref, "isManager", json_boolean(m->is_manager));
			json_array_append_new(teams, ref);
		}
		json_object_set_new(doc, "teams", teams);
		rc = http_json(r, MHD_HTTP_OK, doc, NULL, NULL);
	}
	orgcache_put(snap);
	return rc;
}

/* Sets bit t of bits; returns whether it was already set. */
static bool bit_test_set(uint8_t *bits, uint32_t t)
{
	uint8_t mask = (uint8_t)(1u << (t & 7));
	bool was = bits[t >> 3] & mask;

	bits[t >> 3] |= mask;
	return was;
}

/*
 * The teams a member may see (SPEC §1): an Administrator sees all; others
 * their own teams, plus, for each team they manage, that team and every
 * team below it (breadth-first over subteam edges). The hierarchy is a DAG,
 * so a team may be reached by several paths: the bitmaps see that each is
 * listed and expanded once, which bounds the walk by the teams visible and
 * their mappings.
 */
static json_t *visible_teams(const struct org_snapshot *snap, uint32_t idx)
{
	const struct org *o = &snap->org;
	const size_t nbytes = ((size_t)o->nteams + 8) / 8;
	uint32_t *queue = malloc(((size_t)o->nteams + 1) * sizeof(*queue));
	uint8_t *listed = calloc(nbytes, 1), *expanded = calloc(nbytes, 1);
	uint32_t head = 0, tail = 0, i, n;
	const uint32_t *maps;
	json_t *out = json_array();

	if (!queue || !listed || !expanded)
		goto out;
	maps = orgindex_member(&snap->index, idx, &n);
	for (i = 0; i < n; i++) {
		const struct mapping *m = &o->mappings[maps[i]];

		if (!bit_test_set(listed, m->team))
			json_array_append_new(out, team_ref(&o->teams[m->team]));
		if (m->is_manager && !bit_test_set(expanded, m->team))
			queue[tail++] = m->team;
	}
	if (o->members[idx].role == ROLE_ADMINISTRATOR)
		for (i = 0; i < o->nteams; i++)
			if (!bit_test_set(expanded, i))
				queue[tail++] = i;
	/* Listing and expanding are apart: a manager who is also a plain member
	 * of a team below still sees everything under it. */
	while (head < tail) {
		uint32_t t = queue[head++];

		if (!bit_test_set(listed, t))
			json_array_append_new(out, team_ref(&o->teams[t]));
		maps = orgindex_team(&snap->index, t, &n);
		for (i = 0; i < n; i++) {
			const struct mapping *m = &o->mappings[maps[i]];

			if (m->kind == MAPPING_SUBTEAM && !bit_test_set(expanded, m->child))
				queue[tail++] = m->child;
		}
	}
out:
	free(queue);
	free(listed);
	free(expanded);
	return out;
}

static int get_visible_teams(struct http_req *r)
{
	struct org_snapshot *snap;
	const struct org *o;
	uint32_t idx;
	int rc;

	if ((rc = load_org(r, &snap)) != -1)
		return rc;
	o = &snap->org;
	if ((rc = find_member(r, o, &idx)) == -1)
		rc = http_json(r, MHD_HTTP_OK,
			       json_pack("{s:s, s:o}", "externalMemberId", o->members[idx].external_id,
					 "items", visible_teams(snap, idx)),
			       NULL, NULL);
	orgcache_put(snap);
	return rc;
}

static int invite_member(struct http_req *r)
{
	struct store *st = db(r);
	char token[STORE_TOKEN_MAX];
	int rc = store_invite(st, r->org_id, r->params[0], token);

	sodium_memzero(token, sizeof(token)); /* it travels by email only (the outbox) */
	if (rc == STORE_ENOTFOUND)
		return http_error(r, MHD_HTTP_NOT_FOUND, "not_found",
				  "no such member, or the member is deactivated", NULL);
	if (rc)
		return db_error(r, st);
	delivery_wake(r->svc);
	return http_json(r, MHD_HTTP_ACCEPTED,
			 json_pack("{s:s, s:s}", "externalMemberId", r->params[0], "invitation",
				   "queued"),
			 NULL, NULL);
}

static int accept_invitation(struct http_req *r)
{
	struct store *st = db(r);
	int64_t org_id = 0, member_id = 0;
	int rc = store_invitation_accept(st, r->params[0], &org_id, &member_id);

	if ((rc == STORE_OK || rc == STORE_ENOTFOUND) && api_wants_html(r))
		return api_invitation_result(r, rc == STORE_OK);
	if (rc == STORE_ENOTFOUND)
		return http_error(r, MHD_HTTP_NOT_FOUND, "not_found",
				  "this invitation is unknown, used or expired", NULL);
	if (rc)
		return db_error(r, st);
	return http_json(r, MHD_HTTP_OK, json_pack("{s:s}", "state", format_state_name(STATE_ACTIVE)),
			 NULL, NULL);
}

/* Pages as GET /v1/members does, in the stored order of the teams; ?q searches ids and names. */
static int list_teams(struct http_req *r)
{
	size_t limit = (size_t)http_arg_int(r, "limit"), offset = (size_t)http_arg_int(r, "offset");
	const char *q = http_arg(r, "q");
	struct org_snapshot *snap;
	const struct org *o;
	size_t i, seen = 0;
	json_t *items;
	int rc;

	if ((rc = load_org(r, &snap)) != -1)
		return rc;
	o = &snap->org;
	items = json_array();
	for (i = 0; i < o->nteams; i++) {
		if (q && !strcasestr(o->teams[i].external_id, q) && !strcasestr(o->teams[i].name, q))
			continue;
		if (seen++ >= offset && json_array_size(items) < limit)
			json_array_append_new(items, team_ref(&o->teams[i]));
	}
	rc = http_json(r, MHD_HTTP_OK, page_doc(r, items, offset, seen), NULL, NULL);
	orgcache_put(snap);
	return rc;
}

static int get_team(struct http_req *r)
{
	struct org_snapshot *snap;
	const struct org *o;
	json_t *members, *managers, *parents, *subteams, *doc;
	const uint32_t *maps;
	uint32_t t, i, n;
	int rc;

	if ((rc = load_org(r, &snap)) != -1)
		return rc;
	o = &snap->org;
	if (!org_find_team(o, r->params[0], strlen(r->params[0]), &t)) {
		rc = http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such team", NULL);
		goto out;
	}
	members = json_array();
	managers = json_array();
	parents = json_array();
	subteams = json_array();
	maps = orgindex_team(&snap->index, t, &n);
	for (i = 0; i < n; i++) {
		const struct mapping *m = &o->mappings[maps[i]];

		if (m->kind == MAPPING_MEMBER) {
			if (m->is_member)
				json_array_append_new(members, json_string(o->members[m->child].external_id));
			if (m->is_manager)
				json_array_append_new(managers, json_string(o->members[m->child].external_id));
		} else {
			json_array_append_new(subteams, team_ref(&o->teams[m->child]));
		}
	}
	maps = orgindex_parents(&snap->index, t, &n);
	for (i = 0; i < n; i++) {
		const struct mapping *m = &o->mappings[maps[i]];

		/* A team that is its own subteam is listed once, as a subteam. */
		if (m->team != t)
			json_array_append_new(parents, team_ref(&o->teams[m->team]));
	}
	doc = team_ref(&o->teams[t]);
	json_object_set_new(doc, "members", members);
	json_object_set_new(doc, "managers", managers);
	json_object_set_new(doc, "parents", parents);
	json_object_set_new(doc, "subteams", subteams);
	rc = http_json(r, MHD_HTTP_OK, doc, NULL, NULL);
out:
	orgcache_put(snap);
	return rc;
}

/* A team of the org chart: its counts and managers, which a tree node shows. */
static json_t *chart_team(const struct org_snapshot *snap, uint32_t t)
{
	const struct org *o = &snap->org;
	json_t *doc = team_ref(&o->teams[t]), *managers = json_array();
	const uint32_t *maps;
	uint32_t i, n, members = 0, subteams = 0;

	maps = orgindex_team(&snap->index, t, &n);
	for (i = 0; i < n; i++) {
		const struct mapping *m = &o->mappings[maps[i]];
		const struct member *who;

		if (m->kind != MAPPING_MEMBER) {
			subteams += m->child != t;
			continue;
		}
		members += m->is_member;
		if (!m->is_manager)
			continue;
		who = &o->members[m->child];
		json_array_append_new(managers, json_pack("{s:s, s:s, s:s}", "externalMemberId",
							  who->external_id, "firstName",
							  who->first_name, "lastName", who->last_name));
	}
	json_object_set_new(doc, "memberCount", json_integer(members));
	json_object_set_new(doc, "subteamCount", json_integer(subteams));
	json_object_set_new(doc, "managers", managers);
	return doc;
}

/* Whether team t has a parent other than itself. */
static bool has_parent(const struct org_snapshot *snap, uint32_t t)
{
	const uint32_t *maps;
	uint32_t i, n;

	maps = orgindex_parents(&snap->index, t, &n);
	for (i = 0; i < n; i++)
		if (snap->org.mappings[maps[i]].team != t)
			return true;
	return false;
}

/* The ids from a root down to t's parent, by first parents (a DAG has others;
 * a cycle ends the walk); the chart opens them to show t. */
static json_t *chart_path(const struct org_snapshot *snap, uint32_t t)
{
	const struct org *o = &snap->org;
	json_t *path = json_array();
	uint32_t steps, i, n, next;
	const uint32_t *maps;

	for (steps = 0; steps < o->nteams; steps++) {
		maps = orgindex_parents(&snap->index, t, &n);
		for (i = 0, next = t; i < n && next == t; i++)
			next = o->mappings[maps[i]].team;
		if (next == t)
			break;
		json_array_insert_new(path, 0, json_string(o->teams[next].external_id));
		t = next;
	}
	return path;
}

/*
 * GET /v1/orgchart: the team hierarchy a level at a time, so that a chart
 * of a thousand teams draws only what is open. ?parent: the subteams of
 * that team; absent: the roots (teams that are nobody's subteam). ?q:
 * instead, the teams whose id or name holds q, each with the path down to
 * it. Paged as GET /v1/teams.
 */
static int get_orgchart(struct http_req *r)
{
	size_t limit = (size_t)http_arg_int(r, "limit"), offset = (size_t)http_arg_int(r, "offset");
	const char *parent = http_arg(r, "parent"), *q = http_arg(r, "q");
	struct org_snapshot *snap;
	const struct org *o;
	const uint32_t *maps;
	uint32_t p = 0, i, n;
	size_t seen = 0;
	json_t *items;
	int rc;

	if ((rc = load_org(r, &snap)) != -1)
		return rc;
	o = &snap->org;
	if (parent && !org_find_team(o, parent, strlen(parent), &p)) {
		rc = http_error(r, MHD_HTTP_NOT_FOUND, "not_found", "no such team", NULL);
		goto out;
	}
	items = json_array();
	if (parent) {
		maps = orgindex_team(&snap->index, p, &n);
		for (i = 0; i < n; i++) {
			const struct mapping *m = &o->mappings[maps[i]];

			if (m->kind == MAPPING_MEMBER || m->child == p)
				continue;
			if (seen++ >= offset && json_array_size(items) < limit)
				json_array_append_new(items, chart_team(snap, m->child));
		}
	} else {
		for (i = 0; i < o->nteams; i++) {
			json_t *doc;

			if (q ? !strcasestr(o->teams[i].external_id, q) &&
				!strcasestr(o->teams[i].name, q)
			      : has_parent(snap, i))
				continue;
			if (seen++ < offset || json_array_size(items) >= limit)
				continue;
			doc = chart_team(snap, i);
			if (q)
				json_object_set_new(doc, "path", chart_path(snap, i));
			json_array_append_new(items, doc);
		}
	}
	rc = http_json(r, MHD_HTTP_OK, page_doc(r, items, offset, seen), NULL, NULL);
out:
	orgcache_put(snap);
	return rc;
}

/* POST /v1/keys/rotate: a new API key, shown once; the old ones stop working at once. */
static int rotate_key(struct http_req *r)
{
	struct store *st = db(r);
	char key[STORE_KEY_MAX], id[STORE_KEY_ID_MAX];
	json_t *new = NULL;
	int rc = store_tx_begin(st);

	if (rc == STORE_OK) {
		rc = store_key_rotate(st, r->org_id, key);
		if (rc == STORE_OK && store_key_public_id(key, id))
			new = json_pack("{s:s}", "keyId", id);
		if (rc == STORE_OK)
			rc = new ? audit(r, "key.rotate", "keys", NULL, new) : STORE_ENOMEM;
		rc = store_tx_end(st, rc);
	}
	json_decref(new);
	if (rc) {
		sodium_memzero(key, sizeof(key));
		return db_error(r, st);
	}
	rc = http_json(r, MHD_HTTP_OK, json_pack("{s:s, s:s}", "apiKey", key, "keyId", id), NULL,
		       NULL);
	sodium_memzero(key, sizeof(key));
	return rc;
}

static int get_openapi(struct http_req *r);

/* --- the routes and their query parameters ----------------------------------------- */

/* The most items a page holds (SPEC §6). */
#define API_PAGE_MAX 500

static const char *const sync_modes[] = { "full", "partial", NULL };
static const char *const report_formats[] = { "json", "csv", NULL };

#define PAGE_LIMIT(dflt)                                                                          \
	{ .name = "limit", .type = HTTP_PARAM_INT, .min = 1, .max = API_PAGE_MAX, .def = (dflt),  \
	  .description = "items per page" }
#define PAGE_OFFSET                                                                               \
	{ .name = "offset", .type = HTTP_PARAM_INT, .min = 0, .max = HTTP_INT_MAX, .def = "0",    \
	  .description = "items skipped before the page; the next link carries it" }

static const struct http_param post_sync_params[] = {
	{ .name = "mode", .type = HTTP_PARAM_ENUM, .values = sync_modes,
	  .description = "full: the payload is the whole organization, absentees are removed; "
			 "partial: upsert only. Absent: the mode of the settings" },
	{ .name = "dryRun", .type = HTTP_PARAM_BOOL, .def = "false",
	  .description = "plan and report without applying anything" },
	{ 0 },
};

static const struct http_param list_syncs_params[] = {
	PAGE_LIMIT("50"),
	{ .name = "before", .type = HTTP_PARAM_CURSOR,
	  .description = "only syncs older than this one: take it from the next link (or "
			 "nextBefore) of the previous page" },
	{ 0 },
};

static const struct http_param report_params[] = {
	{ .name = "format", .type = HTTP_PARAM_ENUM, .values = report_formats,
	  .description = "csv for text/csv, json for JSON; absent: by the Accept header (JSON "
			 "unless it asks for text/csv)" },
	{ 0 },
};

static const struct http_param delete_property_params[] = {
	{ .name = "name", .type = HTTP_PARAM_STRING, .required = true,
	  .description = "the property to delete" },
	{ 0 },
};

static const struct http_param list_members_params[] = {
	{ .name = "state", .type = HTTP_PARAM_ENUM, .values = format_state_names,
	  .description = "only members in this state" },
	{ .name = "q", .type = HTTP_PARAM_STRING,
	  .description = "only members whose externalMemberId, email, firstName or lastName "
			 "holds this text (ASCII case ignored)" },
	{ .name = "team", .type = HTTP_PARAM_STRING,
	  .description = "only members of the team with this externalTeamId" },
	PAGE_LIMIT("100"),
	PAGE_OFFSET,
	{ 0 },
};

static const struct http_param list_teams_params[] = {
	{ .name = "q", .type = HTTP_PARAM_STRING,
	  .description = "only teams whose externalTeamId or teamName holds this text (ASCII case "
			 "ignored)" },
	PAGE_LIMIT("100"),
	PAGE_OFFSET,
	{ 0 },
};

static const struct http_param list_deliveries_params[] = {
	PAGE_LIMIT("50"),
	{ .name = "before", .type = HTTP_PARAM_CURSOR,
	  .description = "only deliveries older than this cursor: take it from the next link of "
			 "the previous page" },
	{ 0 },
};

static const struct http_param orgchart_params[] = {
	{ .name = "parent", .type = HTTP_PARAM_STRING,
	  .description = "the subteams of the team with this externalTeamId; absent: the root teams "
			 "(nobody's subteam)" },
	{ .name = "q", .type = HTTP_PARAM_STRING,
	  .description = "instead, the teams whose externalTeamId or teamName holds this text, each "
			 "with the path of externalTeamIds from a root down to its parent" },
	PAGE_LIMIT("100"),
	PAGE_OFFSET,
	{ 0 },
};

static const char *const plan_types[] = { "member", "team", "mapping", NULL };

static const struct http_param plan_params[] = {
	PAGE_LIMIT("100"),
	{ .name = "cursor", .type = HTTP_PARAM_CURSOR,
	  .description = "where the page starts: take it from the next link of the previous "
			 "page; absent: the plan's start (or the type's)" },
	{ .name = "type", .type = HTTP_PARAM_ENUM, .values = plan_types,
	  .description = "only the entries of members, teams or mappings" },
	{ 0 },
};

static const struct http_param list_audit_params[] = {
	PAGE_LIMIT("50"),
	{ .name = "before", .type = HTTP_PARAM_CURSOR,
	  .description = "only entries older than this one: take it from the next link of the "
			 "previous page" },
	{ .name = "action", .type = HTTP_PARAM_STRING,
	  .description = "only this action: sync.approve, sync.reject, settings.update, "
			 "property.create, property.delete, key.rotate, admin.add, admin.remove, "
			 "org.create, scim.user.create, scim.user.replace, scim.user.update, "
			 "scim.user.delete, scim.group.create, scim.group.replace, scim.group.update, "
			 "scim.group.delete, scim.role.grant, scim.role.revoke" },
	{ .name = "actor", .type = HTTP_PARAM_STRING,
	  .description = "only this actor: key:<public key id> or cli:<unix user>" },
	{ .name = "target", .type = HTTP_PARAM_STRING,
	  .description = "only this target: sync:<id>, settings, property:<name>, keys, "
			 "member:<email>, org:<id>, user:<SCIM id>, group:<SCIM id>" },
	{ 0 },
};

const struct route api_routes[] = {
	{ "GET", "/healthz", get_healthz, false, NULL },
	{ "GET", "/metrics", get_metrics, false, NULL },
	{ "GET", "/v1/openapi.json", get_openapi, false, NULL },
	{ "POST", "/v1/syncs", post_sync, true, post_sync_params },
	{ "GET", "/v1/syncs", list_syncs, true, list_syncs_params },
	{ "GET", "/v1/syncs/{id}", get_sync, true, NULL },
	{ "GET", "/v1/syncs/{id}/report", get_report, true, report_params },
	{ "GET", "/v1/syncs/{id}/plan", get_plan, true, plan_params },
	{ "POST", "/v1/syncs/{id}/approve", approve_sync, true, NULL },
	{ "POST", "/v1/syncs/{id}/reject", reject_sync, true, NULL },
	{ "GET", "/v1/settings", get_settings, true, NULL },
	{ "PATCH", "/v1/settings", patch_settings, true, NULL },
	{ "GET", "/v1/properties", list_properties, true, NULL },
	{ "POST", "/v1/properties", post_property, true, NULL },
	{ "DELETE", "/v1/properties", delete_property, true, delete_property_params },
	{ "DELETE", "/v1/properties/{name}", delete_property_path, true, NULL },
	{ "GET", "/v1/roles", get_roles, true, NULL },
	{ "GET", "/v1/audit", list_audit, true, list_audit_params },
	{ "GET", "/v1/members", list_members, true, list_members_params },
	{ "GET", "/v1/members/{externalMemberId}", get_member, true, NULL },
	{ "GET", "/v1/members/{externalMemberId}/visible-teams", get_visible_teams, true, NULL },
	{ "POST", "/v1/members/{externalMemberId}/invite", invite_member, true, NULL },
	{ "GET", "/v1/teams", list_teams, true, list_teams_params },
	{ "GET", "/v1/teams/{externalTeamId}", get_team, true, NULL },
	{ "POST", "/v1/invitations/{token}/accept", accept_invitation, false, NULL },
	{ "GET", "/invitations/{token}", api_invitation_page, false, NULL },
	{ "GET", "/v1/deliveries", api_list_deliveries, true, list_deliveries_params },
	{ "POST", "/v1/deliveries/{id}/retry", api_retry_delivery, true, NULL },
	{ "GET", "/v1/orgchart", get_orgchart, true, orgchart_params },
	{ "POST", "/v1/keys/rotate", rotate_key, true, NULL },
	{ "GET", "/", web_index, false, NULL },
	{ "GET", "/ui/{file}", web_asset, false, NULL },
	{ "POST", "/v1/session/link", web_signin_link, false, NULL },
	{ "POST", "/v1/session", web_signin, false, NULL },
	{ "GET", "/v1/session", web_session, true, NULL },
	{ "DELETE", "/v1/session", web_signout, true, NULL },
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

/* A parameter's schema: its type and what it accepts, its default in its own type. */
static json_t *param_schema(const struct http_param *p)
{
	json_t *schema = json_object(), *values;
	const char *const *v;
	int64_t def = 0;

	switch (p->type) {
	case HTTP_PARAM_BOOL:
		json_object_set_new(schema, "type", json_string("boolean"));
		if (p->def)
			json_object_set_new(schema, "default", json_boolean(!strcmp(p->def, "true")));
		break;
	case HTTP_PARAM_INT:
	case HTTP_PARAM_CURSOR:
		json_object_set_new(schema, "type", json_string("integer"));
		json_object_set_new(schema, "minimum",
				    json_integer(p->type == HTTP_PARAM_INT ? p->min : 1));
		json_object_set_new(schema, "maximum",
				    json_integer(p->type == HTTP_PARAM_INT ? p->max : HTTP_INT_MAX));
		if (p->def && num_i64(p->def, INT64_MIN, INT64_MAX, &def) == NUM_OK)
			json_object_set_new(schema, "default", json_integer(def));
		break;
	case HTTP_PARAM_ENUM:
		values = json_array();
		for (v = p->values; *v; v++)
			json_array_append_new(values, json_string(*v));
		json_object_set_new(schema, "type", json_string("string"));
		json_object_set_new(schema, "enum", values);
		if (p->def)
			json_object_set_new(schema, "default", json_string(p->def));
		break;
	case HTTP_PARAM_STRING:
		json_object_set_new(schema, "type", json_string("string"));
		json_object_set_new(schema, "minLength", json_integer(1));
		if (p->def)
			json_object_set_new(schema, "default", json_string(p->def));
		break;
	}
	return schema;
}

/*
 * The parameters of a route: its path captures (always required), then
 * its query parameters from the same table the router checks requests
 * against. NULL when it has none.
 */
static json_t *openapi_params(const struct route *rt)
{
	json_t *params = json_array();
	const struct http_param *p;
	const char *s;

	for (s = strchr(rt->pattern, '{'); s; s = strchr(s + 1, '{'))
		json_array_append_new(params,
				      json_pack("{s:s%, s:s, s:b, s:s, s:{s:s, s:i}}", "name", s + 1,
						strcspn(s + 1, "}"), "in", "path", "required", 1,
						"description", "percent-encoded: an id may hold any "
						"character, '/' included", "schema", "type",
						"string", "minLength", 1));
	for (p = rt->params; p && p->name; p++)
		json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", p->name,
							"in", "query", "required", p->required,
							"description", p->description, "schema",
							param_schema(p)));
	if (!json_array_size(params)) {
		json_decref(params);
		return NULL;
	}
	return params;
}

/* Adds a reference to a shared response for status to op's responses, unless it has one. */
static void add_response(json_t *op, const char *status, const char *name)
{
	json_t *responses = json_object_get(op, "responses");
	char ref[96];

	if (json_object_get(responses, status))
		return;
	snprintf(ref, sizeof(ref), "#/components/responses/%s", name);
	json_object_set_new(responses, status, json_pack("{s:s}", "$ref", ref));
}

/*
 * The answers every route may give besides its own, from the layers in
 * front of its handler: query and path checks, limits on the request, the
 * key or session check, the rate limit, the database.
 */
static void add_common_responses(json_t *op, const struct route *rt)
{
	bool writes = strcmp(rt->method, "GET") != 0;

	add_response(op, "400", "BadRequest");
	if (writes)
		add_response(op, "413", "TooLarge");
	add_response(op, "414", "UriTooLong");
	add_response(op, "431", "HeadersTooLarge");
	add_response(op, "500", "InternalError");
	if (rt->auth) {
		add_response(op, "401", "Unauthorized");
		if (writes)
			add_response(op, "403", "Forbidden");
		add_response(op, "429", "TooManyRequests");
		add_response(op, "503", "Unavailable");
	}
}

/*
 * Builds the OpenAPI description into *out: the operations' texts,
 * schemas and examples from src/server/openapi.json (built into the
 * binary), the paths, parameters and security from the route table, so
 * that the two cannot drift: a route without its operation, or an
 * operation without its route, is an error naming it (-1, why in err).
 */
int api_openapi(json_t **out, char *err, size_t errlen)
{
	const struct embedded *f = embedded_find("src/server/openapi.json");
	json_t *base = f ? json_loadb((const char *)f->data, f->len, 0, NULL) : NULL;
	json_t *ops = json_object_get(base, "x-operations"), *paths = json_object(), *v;
	const char *key;
	size_t i, used = 0;
	int status = -1;

	*out = NULL;
	if (!json_is_object(ops)) {
		snprintf(err, errlen, "src/server/openapi.json is missing or not valid JSON");
		goto out;
	}
	for (i = 0; i < api_nroutes; i++) {
		const struct route *rt = &api_routes[i];
		json_t *item, *op, *params;
		char lower[8], name[128];
		size_t k;

		snprintf(name, sizeof(name), "%s %s", rt->method, rt->pattern);
		v = json_object_get(ops, name);
		if (!json_is_object(v) || !json_is_object(json_object_get(v, "responses"))) {
			snprintf(err, errlen, "%s has no operation with responses in "
				 "src/server/openapi.json", name);
			goto out;
		}
		used++;
		for (k = 0; k < sizeof(lower) - 1 && rt->method[k]; k++)
			lower[k] = (char)(rt->method[k] | 0x20);
		lower[k] = '\0';
		item = json_object_get(paths, rt->pattern);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, rt->pattern, item);
		}
		op = json_deep_copy(v);
		if (rt->auth)
			json_object_set_new(op, "security",
					    json_pack("[{s:[]}, {s:[]}]", "bearer", "session"));
		params = openapi_params(rt);
		if (params)
			json_object_set_new(op, "parameters", params);
		add_common_responses(op, rt);
		json_object_set_new(item, lower, op);
	}
	if (used != json_object_size(ops)) {
		json_object_foreach(ops, key, v) {
			for (i = 0; i < api_nroutes; i++) {
				char name[128];

				snprintf(name, sizeof(name), "%s %s", api_routes[i].method,
					 api_routes[i].pattern);
				if (!strcmp(name, key))
					break;
			}
			if (i == api_nroutes)
				snprintf(err, errlen, "src/server/openapi.json describes %s, which is "
					 "no route", key);
		}
		goto out;
	}
	json_object_del(base, "x-operations");
	json_object_set_new(base, "paths", paths);
	paths = NULL;
	*out = base;
	base = NULL;
	status = 0;
out:
	json_decref(paths);
	json_decref(base);
	return status;
}

/* The OpenAPI description (api_openapi); query parameters other than those
 * listed answer 400 on every route. */
static int get_openapi(struct http_req *r)
{
	char err[256];
	json_t *doc;

	if (api_openapi(&doc, err, sizeof(err)) < 0) {
		log_write(json_pack("{s:s, s:s, s:o}", "rid", r->request_id, "error", "openapi",
				    "detail", log_text(err)));
		return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
				  "the API description is incomplete", NULL);
	}
	return http_json(r, MHD_HTTP_OK, doc, NULL, NULL);
}
