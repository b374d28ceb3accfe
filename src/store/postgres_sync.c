/*
 * store on PostgreSQL: sync history and the job queue (store.h, sync
 * history): registration with its payload, claims, outcomes with their
 * report and plan, transitions and decisions, and the messages of each
 * status change. Writers of one org queue on its lock (pg_lock_org), as
 * SQLite queues every writer on BEGIN IMMEDIATE; claims take rows with
 * FOR UPDATE SKIP LOCKED so that several services pull from one queue
 * without waiting on each other. Payload parts are kept in chunks of
 * PAYLOAD_CHUNK bytes so that neither a write nor a read ever holds a
 * part of hundreds of MB in one allocation, here or on the server.
 */
#include "format/names.h"
#include "store/postgres.h"
#include "store/postgres_copy.h"
#include "store/postgres_sync.h"
#include "util/buf.h"
#include "util/os.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	PAYLOAD_CHUNK = 1024 * 1024,
};

#define SYNC_COLUMNS                                                                          \
	"id, org_id, status, source, mode, format, dry_run::int, reason, counts_json, risk_json," \
	" created_at, started_at, finished_at, issues_fatal + issues_error + issues_warning,"     \
	" number, decision, decided_by, decided_at, decision_reason"

/* A sync's status event (store.h), from its row s: $2 the previous status
 * (NULL when registered), $3 now in ms. Without its closing parenthesis,
 * so that notifications can add their issues. */
#define SYNC_EVENT_OPEN                                                                        \
	"json_build_object('type', 'sync.status', 'createdAt',"                                \
	" to_char(to_timestamp($3::bigint / 1000.0) AT TIME ZONE 'UTC',"                       \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),"                                               \
	" 'org', json_build_object('id', s.org_id),"                                           \
	" 'sync', json_build_object('id', s.number, 'status', s.status,"                        \
	" 'previousStatus', $2::text, 'mode', s.mode, 'counts', s.counts_json::json,"          \
	" 'risk', s.risk_json::json, 'reason', s.reason)"

/* The entries of a list in the org's settings (none when it is not a list). */
#define SETTINGS_EACH(list)                                                                    \
	" json_array_elements(CASE WHEN json_typeof(o.settings::json -> '" list "') = 'array'"   \
	" THEN o.settings::json -> '" list "' ELSE '[]'::json END) AS w"

static const struct pg_stmt st_pending = {
	"sync_pending",
	"SELECT number FROM syncs WHERE org_id = $1 AND status = 'Pending' ORDER BY id LIMIT 1",
};

/* Under the org's lock: no two syncs of an org get one number. With an
 * owner ($7) the sync is registered claimed for $8 ms, as sync_claim
 * would leave it. */
static const struct pg_stmt st_insert = {
	"sync_insert",
	"INSERT INTO syncs (org_id, number, status, source, mode, format, dry_run, created_at,"
	" started_at, claimed_by, lease_until, attempts)"
	" VALUES ($1, (SELECT coalesce(max(number), 0) + 1 FROM syncs WHERE org_id = $1),"
	" 'Pending', $2, $3, $4, $5, $6, CASE WHEN $7::text IS NOT NULL THEN $6::bigint END,"
	" $7, CASE WHEN $7::text IS NOT NULL THEN $6::bigint + $8::bigint END,"
	" CASE WHEN $7::text IS NOT NULL THEN 1 ELSE 0 END) RETURNING id, number",
};

static const struct pg_stmt st_supersede = {
	"sync_supersede",
	"UPDATE syncs SET status = 'Rejected', reason = $3, finished_at = $4"
	" WHERE org_id = $1 AND status = 'Paused' AND id <> $2 RETURNING id",
};

static const struct pg_stmt st_exists = {
	"sync_exists",
	"SELECT 1 FROM syncs WHERE id = $1",
};

/* A part's row, its chunks replaced by the ones that follow. */
static const struct pg_stmt st_payload_row = {
	"sync_payload_row",
	"INSERT INTO sync_payloads (sync_id, part, size) VALUES ($1, $2, $3)"
	" ON CONFLICT (sync_id, part) DO UPDATE SET size = excluded.size RETURNING id",
};

static const struct pg_stmt st_chunks_delete = {
	"sync_chunks_delete",
	"DELETE FROM sync_payload_chunks WHERE payload_id = $1",
};

static const struct pg_stmt st_chunk_insert = {
	"sync_chunk_insert",
	"INSERT INTO sync_payload_chunks (payload_id, chunk, data) VALUES ($1, $2, $3::bytea)",
};

static const struct pg_stmt st_payload_find = {
	"sync_payload_find",
	"SELECT p.id, p.size, (SELECT count(*) FROM sync_payload_chunks AS c"
	" WHERE c.payload_id = p.id) FROM sync_payloads AS p WHERE p.sync_id = $1 AND p.part = $2",
};

static const struct pg_stmt st_chunk_get = {
	"sync_chunk_get",
	"SELECT data FROM sync_payload_chunks WHERE payload_id = $1 AND chunk = $2",
};

/* The input parts are kept while a worker or an approval may still need
 * them; other parts stay. */
static const struct pg_stmt st_prune = {
	"sync_prune",
	"DELETE FROM sync_payloads AS p"
	" WHERE p.part IN ('json', 'members', 'teams', 'teamsMappings')"
	" AND (SELECT status FROM syncs WHERE syncs.id = p.sync_id) NOT IN ('Pending', 'Paused')",
};

/*
 * The job queue (backend.h): the oldest Pending sync unclaimed or whose
 * lease ran out, unless another sync of its org holds a live lease. A row
 * another claimer is taking is skipped, not waited for (SKIP LOCKED);
 * the re-check after the lock (READ COMMITTED re-evaluates the row's
 * conditions) keeps two claimers off one sync.
 */
static const struct pg_stmt st_claim = {
	"sync_claim",
	"UPDATE syncs SET claimed_by = $1, lease_until = $2::bigint + $3::bigint,"
	" attempts = attempts + 1, started_at = coalesce(started_at, $2::bigint)"
	" WHERE id = (SELECT s.id FROM syncs AS s WHERE s.status = 'Pending'"
	" AND (s.claimed_by IS NULL OR s.lease_until < $2::bigint) AND NOT EXISTS"
	" (SELECT 1 FROM syncs AS o WHERE o.org_id = s.org_id AND o.id <> s.id"
	" AND o.status = 'Pending' AND o.claimed_by IS NOT NULL AND o.lease_until >= $2::bigint)"
	" ORDER BY s.id LIMIT 1 FOR UPDATE SKIP LOCKED)"
	" AND status = 'Pending' AND (claimed_by IS NULL OR lease_until < $2::bigint)"
	" RETURNING id, org_id, attempts",
};

static const struct pg_stmt st_renew = {
	"sync_renew",
	"UPDATE syncs SET lease_until = $3::bigint + $4::bigint"
	" WHERE id = $1 AND status = 'Pending' AND claimed_by = $2",
};

/* $14: the claim's holder, NULL for no claim check. A finished sync keeps no claim. */
static const struct pg_stmt st_finish = {
	"sync_finish",
	"UPDATE syncs SET status = $2, reason = $3, counts_json = $4, risk_json = $5,"
	" finished_at = $6, issues_fatal = $7, issues_error = $8, issues_warning = $9,"
	" issues_dropped = $10, plan_members = $11, plan_teams = $12, plan_mappings = $13,"
	" plan_truncated = 0, claimed_by = NULL, lease_until = NULL WHERE id = $1"
	" AND ($14::text IS NULL OR (status = 'Pending' AND claimed_by = $14))",
};

static const struct pg_stmt st_plan_delete = {
	"sync_plan_delete",
	"DELETE FROM sync_plan_chunks WHERE sync_id = $1",
};

static const struct pg_stmt st_plan_totals = {
	"sync_plan_totals",
	"SELECT plan_members, plan_teams, plan_mappings, plan_truncated::int"
	" FROM syncs WHERE id = $2 AND org_id = $1",
};

static const struct pg_stmt st_plan_page = {
	"sync_plan_page",
	"SELECT chunk, entries FROM sync_plan_chunks"
	" WHERE sync_id = $1 AND chunk BETWEEN $2 AND $3 ORDER BY chunk",
};

static const struct pg_stmt st_issues_delete = {
	"sync_issues_delete",
	"DELETE FROM sync_issues WHERE sync_id = $1",
};

/* Approving puts a sync back in the queue: unclaimed, unfinished. */
static const struct pg_stmt st_transition = {
	"sync_transition",
	"UPDATE syncs SET status = $4, reason = coalesce($5, reason),"
	" started_at = CASE WHEN $4 = 'Pending' THEN NULL ELSE started_at END,"
	" claimed_by = NULL, lease_until = NULL,"
	" finished_at = CASE WHEN $4 IN ('Pending', 'Paused') THEN NULL ELSE $6::bigint END"
	" WHERE id = $2 AND org_id = $1 AND status = $3",
};

static const struct pg_stmt st_decide = {
	"sync_decide",
	"UPDATE syncs SET status = $3, reason = coalesce($4, reason),"
	" started_at = CASE WHEN $3 = 'Pending' THEN NULL ELSE started_at END,"
	" claimed_by = NULL, lease_until = NULL,"
	" finished_at = CASE WHEN $3 = 'Pending' THEN NULL ELSE $5::bigint END,"
	" decision = $6, decided_by = $7, decided_at = $5, decision_reason = $8"
	" WHERE id = $2 AND org_id = $1 AND status = 'Paused'",
};

static const struct pg_stmt st_owned = {
	"sync_owned",
	"SELECT 1 FROM syncs WHERE id = $2 AND org_id = $1",
};

static const struct pg_stmt st_get = {
	"sync_get",
	"SELECT " SYNC_COLUMNS " FROM syncs WHERE id = $2 AND org_id = $1",
};

static const struct pg_stmt st_by_number = {
	"sync_by_number",
	"SELECT " SYNC_COLUMNS " FROM syncs WHERE org_id = $1 AND number = $2",
};

static const struct pg_stmt st_list = {
	"sync_list",
	"SELECT " SYNC_COLUMNS " FROM syncs WHERE org_id = $1 AND number < $2"
	" ORDER BY number DESC LIMIT $3",
};

static const struct pg_stmt st_count = {
	"sync_count",
	"SELECT count(*) FROM syncs WHERE org_id = $1",
};

static const struct pg_stmt st_totals = {
	"sync_totals",
	"SELECT issues_fatal, issues_error, issues_warning, issues_dropped"
	" FROM syncs WHERE id = $2 AND org_id = $1",
};

static const struct pg_stmt st_issues_get = {
	"sync_issues_get",
	"SELECT severity, code, file, line, col, field, record_id, message"
	" FROM sync_issues WHERE sync_id = $1 ORDER BY seq",
};

/* The messages of a sync's status change (store.h): $1 the sync. */
static const struct pg_stmt st_event_webhooks = {
	"sync_event_webhooks",
	"INSERT INTO outbox (org_id, kind, recipient, payload, created_at)"
	" SELECT s.org_id, 'webhook', w ->> 'url', " SYNC_EVENT_OPEN ")::text, $3"
	" FROM syncs AS s JOIN orgs AS o ON o.id = s.org_id," SETTINGS_EACH("webhooks")
	" WHERE s.id = $1 AND s.dry_run::int = 0 AND json_typeof(w -> 'url') = 'string'",
};

static const struct pg_stmt st_event_emails = {
	"sync_event_emails",
	"INSERT INTO outbox (org_id, kind, recipient, payload, created_at)"
	" SELECT s.org_id, 'notification', w #>> '{}', " SYNC_EVENT_OPEN
	", 'issues', json_build_object('fatal', s.issues_fatal, 'error', s.issues_error,"
	" 'warning', s.issues_warning))::text, $3"
	" FROM syncs AS s JOIN orgs AS o ON o.id = s.org_id," SETTINGS_EACH("notificationEmails")
	" WHERE s.id = $1 AND s.dry_run::int = 0 AND json_typeof(w) = 'string'"
	" AND s.status IN ('Failed', 'Paused', 'Warning')",
};

/* Queues the messages of the sync's change from prev (-1: registered). */
static int sync_event(struct pg_store *q, int64_t sync_id, int prev, int64_t now)
{
	struct pg_params a = { 0 };
	int rc;

	pg_param_int(&a, sync_id);
	pg_param_text(&a, prev < 0 ? NULL : format_sync_status_name(prev));
	pg_param_int(&a, now);
	rc = pg_run(q, &st_event_webhooks, &a, NULL);
	if (!rc)
		rc = pg_run(q, &st_event_emails, &a, NULL);
	return rc;
}

/* Drops the input payloads of syncs that ended: they can be hundreds of MB each. */
static int prune_payloads(struct pg_store *q)
{
	return pg_run(q, &st_prune, NULL, NULL);
}

static int sync_exists(struct pg_store *q, int64_t sync_id)
{
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	int rc;

	pg_param_int(&a, sync_id);
	rc = pg_row(q, &st_exists, &a, &res);
	PQclear(res);
	if (rc == STORE_ENOTFOUND)
		store_set_error(&q->base, rc, "no sync %lld", (long long)sync_id);
	return rc;
}

static int chunk_insert(struct pg_store *q, int64_t payload, int64_t chunk, const void *data,
			size_t len)
{
	struct pg_params a = { 0 };

	pg_param_int(&a, payload);
	pg_param_int(&a, chunk);
	pg_param_bytes(&a, data, len);
	return pg_run(q, &st_chunk_insert, &a, NULL);
}

/* The row of a part of len bytes, without chunks (those of a part put again go). */
static int payload_row(struct pg_store *q, int64_t sync_id, const char *part, uint64_t len,
		       int64_t *payload)
{
	struct pg_params a = { 0 };
	int rc;

	pg_param_int(&a, sync_id);
	pg_param_text(&a, part);
	pg_param_int(&a, (int64_t)len);
	rc = pg_row_int(q, &st_payload_row, &a, payload);
	if (rc)
		return rc;
	memset(&a, 0, sizeof(a));
	pg_param_int(&a, *payload);
	return pg_run(q, &st_chunks_delete, &a, NULL);
}

/* A part in memory, replacing any of that name. */
static int payload_write(struct pg_store *q, int64_t sync_id, const char *part,
			 const void *data, size_t len)
{
	const unsigned char *p = data;
	int64_t payload, chunk = 0;
	size_t off = 0;
	int rc = payload_row(q, sync_id, part, len, &payload);

	while (!rc && off < len) {
		size_t n = len - off < PAYLOAD_CHUNK ? len - off : PAYLOAD_CHUNK;

		rc = chunk_insert(q, payload, chunk++, p + off, n);
		off += n;
	}
	return rc;
}

/* Fills buf with exactly want bytes of src. */
static int source_fill(struct pg_store *q, const struct store_source *src, unsigned char *buf,
		       size_t want)
{
	size_t have = 0, got;

	while (have < want) {
		got = 0;
		if (src->read(src->ctx, buf + have, want - have, &got) < 0)
			return store_set_error(&q->base, STORE_EIO,
					       "cannot read the payload part %s: %s", src->name,
					       strerror(errno));
		if (got == 0 || got > want - have)
			return store_set_error(&q->base, STORE_EIO,
					       "the payload part %s is not the %llu bytes announced",
					       src->name, (unsigned long long)src->len);
		have += got;
	}
	return STORE_OK;
}

/* A part pulled from a source a chunk at a time, in the registration's transaction. */
static int payload_stream(struct pg_store *q, int64_t sync_id, const struct store_source *src)
{
	unsigned char *buf = malloc(PAYLOAD_CHUNK);
	int64_t payload, chunk = 0;
	uint64_t off = 0;
	int rc;

	if (!buf)
		return store_set_error(&q->base, STORE_ENOMEM, "out of memory");
	rc = payload_row(q, sync_id, src->name, src->len, &payload);
	while (!rc && off < src->len) {
		size_t want = src->len - off < PAYLOAD_CHUNK ? (size_t)(src->len - off) : PAYLOAD_CHUNK;

		rc = source_fill(q, src, buf, want);
		if (!rc)
			rc = chunk_insert(q, payload, chunk++, buf, want);
		off += want;
	}
	free(buf);
	return rc;
}

static int pending_number(struct pg_store *q, int64_t org_id, int64_t *running)
{
	struct pg_params a = { 0 };

	pg_param_int(&a, org_id);
	return pg_row_int(q, &st_pending, &a, running);
}

/* Rejects the org's Paused syncs in favour of the new one, with their messages. */
static int supersede(struct pg_store *q, int64_t org_id, int64_t sync_id, int64_t number,
		     int64_t now)
{
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	char reason[64];
	int rc, i;

	snprintf(reason, sizeof(reason), "superseded by sync %lld", (long long)number);
	pg_param_int(&a, org_id);
	pg_param_int(&a, sync_id);
	pg_param_text(&a, reason);
	pg_param_int(&a, now);
	rc = pg_exec(q, &st_supersede, &a, &res);
	if (rc)
		return rc;
	if (PQntuples(res))
		rc = prune_payloads(q);
	for (i = 0; !rc && i < PQntuples(res); i++)
		rc = sync_event(q, pg_col_int(res, i, 0), SYNC_PAUSED, now);
	PQclear(res);
	return rc;
}

static int pg_sync_begin(struct store *s, int64_t org_id, const struct sync_meta *m,
			 const struct store_source *parts, size_t nparts, int64_t *sync_id,
			 int64_t *running)
{
	struct pg_store *q = pg(s);
	struct pg_params a = { 0 };
	int64_t now = os_wall_ms(), number;
	PGresult *res = NULL;
	size_t i;
	int rc;

	/* Refused at once, without queueing on the lock behind a long apply. */
	rc = pending_number(q, org_id, running);
	if (rc == STORE_OK)
		return store_set_error(s, STORE_EBUSY, "sync %lld is still pending",
				       (long long)*running);
	if (rc != STORE_ENOTFOUND)
		return rc;
	rc = pg_begin_org(q, org_id, true);
	if (rc)
		return rc;
	rc = pending_number(q, org_id, running);
	if (rc == STORE_OK) {
		rc = store_set_error(s, STORE_EBUSY, "sync %lld is still pending",
				     (long long)*running);
		goto out;
	}
	if (rc != STORE_ENOTFOUND)
		goto out;
	pg_param_int(&a, org_id);
	pg_param_text(&a, m->source);
	pg_param_text(&a, m->mode);
	pg_param_text(&a, m->format);
	pg_param_int(&a, m->dry_run);
	pg_param_int(&a, now);
	pg_param_text(&a, m->owner);
	pg_param_int(&a, m->lease_ms);
	rc = pg_row(q, &st_insert, &a, &res);
	if (rc)
		goto out;
	*sync_id = pg_col_int(res, 0, 0);
	number = pg_col_int(res, 0, 1);
	for (i = 0; i < nparts && !rc; i++)
		rc = payload_stream(q, *sync_id, &parts[i]);
	if (!rc)
		rc = sync_event(q, *sync_id, -1, now);
	/* A dry run changes nothing: not even a Paused sync's fate. */
	if (!rc && !m->dry_run)
		rc = supersede(q, org_id, *sync_id, number, now);
out:
	PQclear(res);
	rc = pg_end_tx(q, rc);
	if (rc && rc != STORE_EBUSY)
		*sync_id = 0;
	return rc;
}

static int pg_sync_pending(struct store *s, int64_t org_id, int64_t *running)
{
	int rc = pending_number(pg(s), org_id, running);

	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

static int pg_payload_put(struct store *s, int64_t sync_id, const char *part, const void *data,
			  size_t len)
{
	struct pg_store *q = pg(s);
	int rc = pg_begin(q);

	if (rc)
		return rc;
	rc = sync_exists(q, sync_id);
	if (!rc)
		rc = payload_write(q, sync_id, part, data, len);
	return pg_end_tx(q, rc);
}

/* A part's row, chunk count and length; STORE_ENOTFOUND when absent. */
static int payload_size(struct pg_store *q, int64_t sync_id, const char *part, int64_t *payload,
			int64_t *chunks, uint64_t *len)
{
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	int rc;

	pg_param_int(&a, sync_id);
	pg_param_text(&a, part);
	rc = pg_row(q, &st_payload_find, &a, &res);
	if (!rc) {
		*payload = pg_col_int(res, 0, 0);
		*len = (uint64_t)pg_col_int(res, 0, 1);
		*chunks = pg_col_int(res, 0, 2);
	}
	PQclear(res);
	return rc;
}

/* One chunk as raw bytes (a binary result): *res holds them, the caller clears it. */
static int chunk_get(struct pg_store *q, int64_t payload, int64_t chunk, PGresult **res)
{
	struct pg_params a = { 0 };
	int rc;

	pg_param_int(&a, payload);
	pg_param_int(&a, chunk);
	rc = pg_exec_binary(q, &st_chunk_get, &a, res);
	if (!rc && PQntuples(*res) != 1) {
		PQclear(*res);
		*res = NULL;
		rc = store_set_error(&q->base, STORE_EIO, "chunk %lld of a payload is missing",
				     (long long)chunk);
	}
	return rc;
}

/* Read chunk by chunk straight into the caller's buffer: one copy in memory, not two. */
static int pg_payload_get(struct store *s, int64_t sync_id, const char *part, void **data,
			  size_t *len)
{
	struct pg_store *q = pg(s);
	unsigned char *buf = NULL;
	PGresult *res = NULL;
	uint64_t total, off = 0;
	int64_t payload, chunks, i;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	rc = payload_size(q, sync_id, part, &payload, &chunks, &total);
	if (rc)
		goto out;
	buf = malloc((size_t)total + 1);
	if (!buf) {
		rc = store_set_error(s, STORE_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; !rc && i < chunks; i++) {
		size_t n;

		rc = chunk_get(q, payload, i, &res);
		if (rc)
			break;
		n = (size_t)PQgetlength(res, 0, 0);
		if (n > total - off)
			rc = store_set_error(s, STORE_EIO, "part %s changed while read", part);
		else
			memcpy(buf + off, PQgetvalue(res, 0, 0), n);
		off += n;
		PQclear(res);
		res = NULL;
	}
	if (rc)
		goto out;
	buf[off] = '\0'; /* a convenience for text parts; not counted in len */
	*data = buf;
	*len = (size_t)off;
	buf = NULL;
out:
	free(buf);
	return pg_end_tx(q, rc);
}

/* A part being read in pieces: the chunk in hand and the place in it. */
struct pg_blob {
	int64_t payload, chunks, next;
	PGresult *chunk;   /* the current chunk, NULL before the first and at the end */
	size_t pos;
};

static int pg_payload_open(struct store *s, int64_t sync_id, const char *part, void **out,
			   uint64_t *len)
{
	struct pg_blob *b;
	int64_t payload, chunks;
	int rc = payload_size(pg(s), sync_id, part, &payload, &chunks, len);

	if (rc)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b)
		return store_set_error(s, STORE_ENOMEM, "out of memory");
	b->payload = payload;
	b->chunks = chunks;
	*out = b;
	return STORE_OK;
}

static int pg_blob_read(struct store *s, void *h, void *buf, size_t cap, size_t *got)
{
	struct pg_blob *b = h;
	size_t n;

	*got = 0;
	while (!b->chunk || b->pos == (size_t)PQgetlength(b->chunk, 0, 0)) {
		int rc;

		PQclear(b->chunk);
		b->chunk = NULL;
		b->pos = 0;
		if (b->next == b->chunks)
			return STORE_OK;
		rc = chunk_get(pg(s), b->payload, b->next++, &b->chunk);
		if (rc)
			return rc;
	}
	n = (size_t)PQgetlength(b->chunk, 0, 0) - b->pos;
	if (n > cap)
		n = cap;
	memcpy(buf, PQgetvalue(b->chunk, 0, 0) + b->pos, n);
	b->pos += n;
	*got = n;
	return STORE_OK;
}

static void pg_blob_close(struct store *s, void *h)
{
	struct pg_blob *b = h;

	(void)s;
	PQclear(b->chunk);
	free(b);
}

static int pg_sync_claim(struct store *s, const char *owner, int64_t now, int64_t lease_ms,
			 int64_t *sync_id, int64_t *org_id, int *attempts)
{
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	int rc;

	pg_param_text(&a, owner);
	pg_param_int(&a, now);
	pg_param_int(&a, lease_ms);
	rc = pg_row(pg(s), &st_claim, &a, &res);
	if (!rc) {
		*sync_id = pg_col_int(res, 0, 0);
		*org_id = pg_col_int(res, 0, 1);
		rc = store_fit_int(s, pg_col_int(res, 0, 2), "a sync's attempts", attempts);
	}
	PQclear(res);
	return rc;
}

static int pg_sync_renew(struct store *s, int64_t sync_id, const char *owner, int64_t now,
			 int64_t lease_ms)
{
	struct pg_params a = { 0 };
	uint64_t changed = 0;
	int rc;

	pg_param_int(&a, sync_id);
	pg_param_text(&a, owner);
	pg_param_int(&a, now);
	pg_param_int(&a, lease_ms);
	rc = pg_run(pg(s), &st_renew, &a, &changed);
	if (!rc && !changed)
		rc = store_set_error(s, STORE_ECONFLICT, "sync %lld is no longer claimed by %s",
				     (long long)sync_id, owner);
	return rc;
}

/* Replaces the sync's plan by plan's entries (or none), STORE_ROWS_PLAN_CHUNK to a row, by COPY. */
static int write_plan(struct pg_store *q, int64_t sync_id, const struct store_plan *plan)
{
	struct store_plan_entry e;
	struct pg_params a = { 0 };
	struct pg_copy c;
	struct buf chunk;
	uint64_t seq, total;
	int rc;

	pg_param_int(&a, sync_id);
	rc = pg_run(q, &st_plan_delete, &a, NULL);
	if (rc || !plan)
		return rc;
	total = (uint64_t)plan->n[0] + plan->n[1] + plan->n[2];
	if (!total)
		return STORE_OK;
	rc = pg_copy_begin(&c, q, "COPY sync_plan_chunks (sync_id, chunk, entries) FROM STDIN");
	buf_init(&chunk);
	for (seq = 0; !rc && seq < total; seq++) {
		memset(&e, 0, sizeof(e));
		if (plan->next(plan->ctx, &e) != 0 || store_rows_plan_entry(&chunk, &e)) {
			rc = store_set_error(&q->base, STORE_ENOMEM, "the plan could not be written");
			break;
		}
		if ((seq + 1) % STORE_ROWS_PLAN_CHUNK && seq + 1 < total)
			continue;
		if (buf_putc(&chunk, ']')) {
			rc = store_set_error(&q->base, STORE_ENOMEM, "out of memory");
			break;
		}
		pg_copy_int(&c, sync_id);
		pg_copy_int(&c, (int64_t)(seq / STORE_ROWS_PLAN_CHUNK));
		pg_copy_textn(&c, chunk.data, chunk.len);
		pg_copy_row(&c);
		rc = c.rc;
		buf_reset(&chunk);
	}
	buf_free(&chunk);
	return pg_copy_end(&c, rc);
}

/* Replaces the sync's report (a sync paused, approved and run again gets its last run's). */
static int write_issues(struct pg_store *q, int64_t sync_id, const struct report *rep)
{
	struct pg_params a = { 0 };
	struct pg_copy c;
	size_t i;
	int rc;

	pg_param_int(&a, sync_id);
	rc = pg_run(q, &st_issues_delete, &a, NULL);
	if (rc || !rep || !rep->count)
		return rc;
	rc = pg_copy_begin(&c, q, "COPY sync_issues (sync_id, seq, severity, code, file, line, col,"
			   " field, record_id, message) FROM STDIN");
	for (i = 0; !rc && i < rep->count; i++) {
		const struct issue *is = &rep->issues[i];

		pg_copy_int(&c, sync_id);
		pg_copy_int(&c, (int64_t)i);
		pg_copy_text(&c, format_severity_name(is->severity));
		pg_copy_text(&c, format_issue_code_name(is->code));
		pg_copy_text(&c, is->file ? is->file : "");
		pg_copy_int(&c, is->line);
		pg_copy_int(&c, is->column);
		pg_copy_text(&c, is->field ? is->field : "");
		pg_copy_text(&c, is->record_id ? is->record_id : "");
		pg_copy_text(&c, is->message ? is->message : "");
		pg_copy_row(&c);
		rc = c.rc;
	}
	return pg_copy_end(&c, rc);
}

int pg_sync_finish_in_tx(struct pg_store *q, int64_t sync_id, const struct sync_outcome *done)
{
	const struct report *rep = done->rep;
	struct pg_params a = { 0 };
	uint64_t changed = 0;
	int i, rc;

	pg_param_int(&a, sync_id);
	pg_param_text(&a, format_sync_status_name(done->status));
	pg_param_text(&a, done->reason);
	pg_param_text(&a, done->counts_json);
	pg_param_text(&a, done->risk_json);
	if (done->status == SYNC_PAUSED) /* waits for a decision: not finished */
		pg_param_null(&a);
	else
		pg_param_int(&a, os_wall_ms());
	for (i = 0; i < 3; i++)
		pg_param_int(&a, rep ? (int64_t)rep->by_severity[i] : 0);
	pg_param_int(&a, rep ? (int64_t)rep->dropped : 0);
	for (i = 0; i < 3; i++) {
		if (done->plan)
			pg_param_int(&a, done->plan->n[i]);
		else
			pg_param_null(&a);
	}
	pg_param_text(&a, done->owner);
	rc = pg_run(q, &st_finish, &a, &changed);
	/* Another holder took the sync over (this one's lease ran out): its
	 * run finishes it; this one's changes all roll back with the caller's
	 * transaction. */
	if (!rc && !changed && done->owner)
		rc = store_set_error(&q->base, STORE_ECONFLICT, "sync %lld is not claimed by %s",
				     (long long)sync_id, done->owner);
	else if (!rc && !changed)
		rc = store_set_error(&q->base, STORE_ENOTFOUND, "no sync %lld", (long long)sync_id);
	if (!rc)
		rc = write_plan(q, sync_id, done->plan);
	if (!rc)
		rc = sync_event(q, sync_id, SYNC_PENDING, os_wall_ms());
	if (!rc)
		rc = write_issues(q, sync_id, rep);
	if (!rc && done->status != SYNC_PAUSED)
		rc = prune_payloads(q);
	return rc;
}

static int pg_sync_finish(struct store *s, int64_t sync_id, const struct sync_outcome *done)
{
	struct pg_store *q = pg(s);
	int rc = pg_begin(q);

	if (rc)
		return rc;
	return pg_end_tx(q, pg_sync_finish_in_tx(q, sync_id, done));
}

/* After a conditional update that changed nothing: why (not the org's, or not in from). */
static int not_changed(struct pg_store *q, int64_t org_id, int64_t sync_id, const char *from)
{
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	int rc;

	pg_param_int(&a, org_id);
	pg_param_int(&a, sync_id);
	rc = pg_row(q, &st_owned, &a, &res);
	PQclear(res);
	if (rc == STORE_OK)
		return store_set_error(&q->base, STORE_ECONFLICT, "sync %lld is not %s",
				       (long long)sync_id, from);
	if (rc == STORE_ENOTFOUND)
		store_set_error(&q->base, rc, "no sync %lld", (long long)sync_id);
	return rc;
}

/* One conditional UPDATE: of two racing transitions from one status, the
 * second waits on the first's row lock, then finds the status changed. */
static int pg_sync_transition(struct store *s, int64_t org_id, int64_t sync_id, int from, int to,
			      const char *reason)
{
	struct pg_store *q = pg(s);
	struct pg_params a = { 0 };
	uint64_t changed = 0;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	pg_param_int(&a, org_id);
	pg_param_int(&a, sync_id);
	pg_param_text(&a, format_sync_status_name(from));
	pg_param_text(&a, format_sync_status_name(to));
	pg_param_text(&a, reason);
	pg_param_int(&a, os_wall_ms());
	rc = pg_run(q, &st_transition, &a, &changed);
	if (!rc && changed) {
		rc = sync_event(q, sync_id, from, os_wall_ms());
		if (!rc && to != SYNC_PENDING && to != SYNC_PAUSED)
			rc = prune_payloads(q);
	} else if (!rc) {
		rc = not_changed(q, org_id, sync_id, format_sync_status_name(from));
	}
	return pg_end_tx(q, rc);
}

static int pg_sync_decide(struct store *s, int64_t org_id, int64_t sync_id,
			  const struct sync_decision *d)
{
	struct pg_store *q = pg(s);
	struct pg_params a = { 0 };
	uint64_t changed = 0;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	pg_param_int(&a, org_id);
	pg_param_int(&a, sync_id);
	pg_param_text(&a, format_sync_status_name(d->approve ? SYNC_PENDING : SYNC_REJECTED));
	pg_param_text(&a, d->sync_reason);
	pg_param_int(&a, os_wall_ms());
	pg_param_text(&a, d->approve ? "approve" : "reject");
	pg_param_text(&a, d->actor);
	pg_param_text(&a, d->reason);
	rc = pg_run(q, &st_decide, &a, &changed);
	if (!rc && changed) {
		rc = sync_event(q, sync_id, SYNC_PAUSED, os_wall_ms());
		if (!rc && !d->approve)
			rc = prune_payloads(q);
	} else if (!rc) {
		rc = not_changed(q, org_id, sync_id, "Paused");
	}
	return pg_end_tx(q, rc);
}

static int read_sync_row(struct pg_store *q, const PGresult *res, int i, struct sync_row *r)
{
	struct store_cols c;

	pg_cols(q, res, i, &c);
	return store_rows_sync(&c, r);
}

static int one_sync(struct store *s, const struct pg_stmt *st, int64_t org_id, int64_t key,
		    struct sync_row *out)
{
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	int rc;

	pg_param_int(&a, org_id);
	pg_param_int(&a, key);
	rc = pg_row(pg(s), st, &a, &res);
	if (!rc)
		rc = read_sync_row(pg(s), res, 0, out);
	PQclear(res);
	return rc;
}

static int pg_sync_get(struct store *s, int64_t org_id, int64_t sync_id, struct sync_row *out)
{
	return one_sync(s, &st_get, org_id, sync_id, out);
}

static int pg_sync_by_number(struct store *s, int64_t org_id, int64_t number,
			     struct sync_row *out)
{
	return one_sync(s, &st_by_number, org_id, number, out);
}

static int pg_sync_list(struct store *s, int64_t org_id, int64_t before, size_t limit,
			struct sync_row **rows, size_t *n)
{
	struct pg_params a = { 0 };

	pg_param_int(&a, org_id);
	pg_param_int(&a, before > 0 ? before : INT64_MAX);
	pg_param_int(&a, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	return pg_exec_rows(pg(s), &st_list, &a, &store_rows_syncs, (void **)rows, n);
}

static int pg_sync_count(struct store *s, int64_t org_id, size_t *n)
{
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	int rc;

	pg_param_int(&a, org_id);
	rc = pg_row(pg(s), &st_count, &a, &res);
	if (!rc)
		*n = (size_t)pg_col_int(res, 0, 0);
	PQclear(res);
	return rc;
}

/* The page's chunks: [from, hi) of the plan, hi already bounded by the limit. */
static int read_plan_page(struct pg_store *q, int64_t sync_id, uint64_t from, uint64_t hi,
			  struct store_plan_page *out)
{
	struct pg_params a = { 0 };
	struct store_cols c;
	PGresult *res = NULL;
	size_t cap = 0;
	int rc, i;

	pg_param_int(&a, sync_id);
	pg_param_int(&a, (int64_t)(from / STORE_ROWS_PLAN_CHUNK));
	pg_param_int(&a, (int64_t)((hi - 1) / STORE_ROWS_PLAN_CHUNK));
	rc = pg_exec(q, &st_plan_page, &a, &res);
	for (i = 0; !rc && i < PQntuples(res); i++) {
		pg_cols(q, res, i, &c);
		rc = store_rows_plan_chunk(&q->base, &c, from, hi, out, &cap);
	}
	PQclear(res);
	return rc;
}

/* The totals and the page in one transaction, at REPEATABLE READ: a page
 * never disagrees with its counts. */
static int pg_sync_plan(struct store *s, int64_t org_id, int64_t sync_id, int type,
			uint64_t from, size_t limit, struct store_plan_page *out)
{
	struct pg_store *q = pg(s);
	struct pg_params a = { 0 };
	struct store_cols c;
	PGresult *res = NULL;
	uint64_t to = 0;
	int rc;

	rc = pg_begin(q);
	if (rc)
		return rc;
	pg_param_int(&a, org_id);
	pg_param_int(&a, sync_id);
	rc = pg_row(q, &st_plan_totals, &a, &res);
	if (rc)
		goto out;
	pg_cols(q, res, 0, &c);
	rc = store_rows_plan_totals(&c, out);
	if (rc == STORE_ENOTFOUND)
		rc = store_set_error(s, rc, "sync %lld has no plan", (long long)sync_id);
	else if (store_rows_plan_window(out, type, limit, &from, &to))
		rc = read_plan_page(q, sync_id, from, to, out);
out:
	PQclear(res);
	return pg_end_tx(q, rc);
}

/* The stored issues, appended to rep in their order. */
static int read_issues(struct pg_store *q, int64_t sync_id, struct report *rep)
{
	struct pg_params a = { 0 };
	struct store_cols c;
	PGresult *res = NULL;
	int rc, i;

	pg_param_int(&a, sync_id);
	rc = pg_exec(q, &st_issues_get, &a, &res);
	for (i = 0; !rc && i < PQntuples(res); i++) {
		pg_cols(q, res, i, &c);
		rc = store_rows_issue(&c, rep);
		if (rc == STORE_ENOMEM)
			rc = store_set_error(&q->base, rc, "out of memory");
	}
	PQclear(res);
	return rc;
}

static int pg_sync_report(struct store *s, int64_t org_id, int64_t sync_id, struct report *rep)
{
	struct pg_store *q = pg(s);
	struct pg_params a = { 0 };
	struct store_rows_totals t;
	struct store_cols c;
	PGresult *res = NULL;
	int rc = pg_begin(q);

	if (rc)
		return rc;
	pg_param_int(&a, org_id);
	pg_param_int(&a, sync_id);
	rc = pg_row(q, &st_totals, &a, &res);
	if (rc)
		goto out;
	pg_cols(q, res, 0, &c);
	rc = store_rows_totals_read(&c, rep, &t);
	if (!rc)
		rc = read_issues(q, sync_id, rep);
	if (!rc)
		store_rows_totals_apply(&t, rep);
out:
	PQclear(res);
	return pg_end_tx(q, rc);
}

void pg_ops_sync(struct store_ops *o)
{
	o->sync_begin = pg_sync_begin;
	o->sync_pending = pg_sync_pending;
	o->payload_put = pg_payload_put;
	o->payload_get = pg_payload_get;
	o->payload_open = pg_payload_open;
	o->blob_read = pg_blob_read;
	o->blob_close = pg_blob_close;
	o->sync_claim = pg_sync_claim;
	o->sync_renew = pg_sync_renew;
	o->sync_finish = pg_sync_finish;
	o->sync_transition = pg_sync_transition;
	o->sync_get = pg_sync_get;
	o->sync_by_number = pg_sync_by_number;
	o->sync_list = pg_sync_list;
	o->sync_count = pg_sync_count;
	o->sync_report = pg_sync_report;
	o->sync_decide = pg_sync_decide;
	o->sync_plan = pg_sync_plan;
}
