/*
 * SQLite: the sync queue, the payload parts a sync was sent with, its plan
 * and its report, and the status events a sync's changes queue.
 */
#include "store/sqlite_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/names.h"
#include "util/os.h"

enum {
	BLOB_CHUNK = 64 * 1024 * 1024,
	/* A payload part is written into its blob in pieces of this size. */
	BLOB_WRITE_CHUNK = 256 * 1024,
};

/*
 * Queues the webhook and email messages of sync_id's change of status
 * (store.h), inside the caller's transaction: they exist if and only if
 * the change does. prev < 0: the sync was just registered.
 */
static int sync_event(struct sqlite_store *q, int64_t sync_id, int prev, int64_t now)
{
	static const enum stmt_id which[] = { ST_EVENT_WEBHOOKS, ST_EVENT_EMAILS };
	sqlite3_stmt *st;
	size_t i;
	int rc = STORE_OK;

	for (i = 0; !rc && i < sizeof(which) / sizeof(which[0]); i++) {
		rc = sq_prep(q, which[i], &st);
		if (rc)
			break;
		sqlite3_bind_int64(st, 1, sync_id);
		sq_bind_text(st, 2, prev < 0 ? NULL : format_sync_status_name(prev));
		sqlite3_bind_int64(st, 3, now);
		rc = sq_run(q, st);
	}
	return rc;
}

/* The sync ids a statement selects (?1, ?2 bound to a, b); *ids is the caller's. */
/* Drops the input payloads of syncs that ended: they can be hundreds of MB each. */
static int prune_payloads(struct sqlite_store *q)
{
	return sq_exec_cached(q, ST_PAYLOAD_PRUNE);
}

/*
 * Replaces the sync's plan (a Paused sync approved and run again plans
 * anew) by plan's entries, or by none. STORE_ROWS_PLAN_CHUNK entries to a row: on
 * a 100k-member first sync (228k entries) a row per entry took 0.6 to
 * 1.2 s here, chunks 0.09 to 0.18 s (what the capped JSON document of
 * before took), and a page still reads only the few chunks it spans.
 */
static int write_plan(struct sqlite_store *q, int64_t sync_id, const struct store_plan *plan)
{
	struct store_plan_entry e;
	struct buf chunk;
	sqlite3_stmt *st;
	uint64_t seq, total;
	int rc = sq_prep(q, ST_PLAN_DELETE, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	rc = sq_run(q, st);
	if (rc || !plan)
		return rc;
	total = (uint64_t)plan->n[0] + plan->n[1] + plan->n[2];
	rc = sq_prep(q, ST_PLAN_INSERT, &st);
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
			rc = STORE_ENOMEM;
			break;
		}
		sqlite3_bind_int64(st, 1, sync_id);
		sqlite3_bind_int64(st, 2, (int64_t)(seq / STORE_ROWS_PLAN_CHUNK));
		sq_bind_textn(st, 3, chunk.data, chunk.len);
		rc = sq_run(q, st);
		buf_reset(&chunk);
	}
	buf_free(&chunk);
	return rc;
}

/* Records how a sync ended, inside the caller's transaction. */
int sq_finish_in_tx(struct sqlite_store *q, int64_t sync_id, const struct sync_outcome *done)
{
	const struct report *rep = done->rep;
	const int status = done->status;
	sqlite3_stmt *st;
	size_t i;
	int rc;

	rc = sq_prep(q, ST_SYNC_FINISH, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	sq_bind_text(st, 2, format_sync_status_name(status));
	sq_bind_text(st, 3, done->reason);
	sq_bind_text(st, 4, done->counts_json);
	sq_bind_text(st, 5, done->risk_json);
	if (status == SYNC_PAUSED) /* waits for a decision: not finished */
		sqlite3_bind_null(st, 6);
	else
		sqlite3_bind_int64(st, 6, os_wall_ms());
	for (i = 0; i < 3; i++)
		sqlite3_bind_int64(st, 7 + (int)i, rep ? (int64_t)rep->by_severity[i] : 0);
	sqlite3_bind_int64(st, 10, rep ? (int64_t)rep->dropped : 0);
	for (i = 0; i < 3; i++) {
		if (done->plan)
			sqlite3_bind_int64(st, 11 + (int)i, done->plan->n[i]);
		else
			sqlite3_bind_null(st, 11 + (int)i);
	}
	sq_bind_text(st, 14, done->owner);
	rc = sq_run(q, st);
	if (rc)
		return rc;
	if (sqlite3_changes(q->db) == 0 && done->owner)
		return store_set_error(&q->base, STORE_ECONFLICT, "sync %lld is no longer claimed"
				       " by %s", (long long)sync_id, done->owner);
	if (sqlite3_changes(q->db) == 0)
		return store_set_error(&q->base, STORE_ENOTFOUND, "no sync %lld", (long long)sync_id);
	rc = write_plan(q, sync_id, done->plan);
	if (!rc)
		rc = sync_event(q, sync_id, SYNC_PENDING, os_wall_ms());
	if (rc)
		return rc;
	/* A sync paused, approved and run again gets the report of its last run. */
	rc = sq_prep(q, ST_ISSUES_DELETE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	rc = sq_run(q, st);
	if (!rc && rep)
		rc = sq_prep(q, ST_ISSUE_INSERT, &st);
	for (i = 0; !rc && rep && i < rep->count; i++) {
		const struct issue *is = &rep->issues[i];

		sqlite3_bind_int64(st, 1, sync_id);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		sq_bind_text(st, 3, format_severity_name(is->severity));
		sq_bind_text(st, 4, format_issue_code_name(is->code));
		sq_bind_text(st, 5, is->file ? is->file : "");
		sqlite3_bind_int64(st, 6, is->line);
		sqlite3_bind_int64(st, 7, is->column);
		sq_bind_text(st, 8, is->field ? is->field : "");
		sq_bind_text(st, 9, is->record_id ? is->record_id : "");
		sq_bind_text(st, 10, is->message ? is->message : "");
		rc = sq_run(q, st);
	}
	if (!rc && status != SYNC_PAUSED)
		rc = prune_payloads(q);
	return rc;
}

/* A part held in memory (a plan, an approval), bound in place: SQLite builds
 * its row from it. Input payloads go through payload_stream() instead.
 * Called inside a transaction. */
static int payload_insert(struct sqlite_store *q, int64_t sync_id, const char *part,
			  const void *data, size_t len)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_PAYLOAD_PUT, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	sq_bind_text(st, 2, part);
	if (len)
		rc = sqlite3_bind_blob64(st, 3, data, len, SQLITE_STATIC);
	else
		rc = sqlite3_bind_zeroblob(st, 3, 0);
	if (rc != SQLITE_OK) {
		rc = sq_fail(q, rc);
		sqlite3_reset(st);
		return rc;
	}
	rc = sq_run(q, st);
	sqlite3_bind_null(st, 3); /* drop the reference to the caller's buffer */
	return rc;
}

/*
 * Writes a part pulled from a source: the row is inserted with a zeroblob
 * of its length, then filled through the incremental blob API a piece at
 * a time, so that neither we nor SQLite (which would build the whole
 * record in memory from a bound blob) ever hold the payload. Called inside
 * the registration's transaction: the part is there with its sync or not
 * at all.
 */
static int payload_stream(struct sqlite_store *q, int64_t sync_id, const struct store_source *src)
{
	sqlite3_blob *blob = NULL;
	sqlite3_stmt *st;
	unsigned char *buf = NULL;
	uint64_t off = 0;
	size_t got;
	int rc;

	if (src->len > (uint64_t)INT32_MAX)
		return store_set_error(&q->base, STORE_EINVAL, "the payload part %s is too large",
				       src->name);
	rc = sq_prep(q, ST_PAYLOAD_PUT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	sq_bind_text(st, 2, src->name);
	rc = sqlite3_bind_zeroblob64(st, 3, src->len);
	if (rc != SQLITE_OK) {
		rc = sq_fail(q, rc);
		sqlite3_reset(st);
		return rc;
	}
	rc = sq_run(q, st);
	if (rc || !src->len)
		return rc;
	rc = sqlite3_blob_open(q->db, "main", "sync_payloads", "data",
			       sqlite3_last_insert_rowid(q->db), 1, &blob);
	if (rc != SQLITE_OK) {
		rc = sq_fail(q, rc);
		goto out;
	}
	buf = malloc(BLOB_WRITE_CHUNK);
	if (!buf) {
		rc = store_set_error(&q->base, STORE_ENOMEM, "out of memory");
		goto out;
	}
	while (off < src->len) {
		size_t want = src->len - off < BLOB_WRITE_CHUNK ? (size_t)(src->len - off)
								: BLOB_WRITE_CHUNK;

		got = 0;
		if (src->read(src->ctx, buf, want, &got) < 0) {
			rc = store_set_error(&q->base, STORE_EIO, "cannot read the payload part %s: %s",
					     src->name, strerror(errno));
			goto out;
		}
		if (got == 0 || got > want) {
			rc = store_set_error(&q->base, STORE_EIO, "the payload part %s is not the %llu "
					     "bytes announced", src->name,
					     (unsigned long long)src->len);
			goto out;
		}
		rc = sqlite3_blob_write(blob, buf, (int)got, (int)off);
		if (rc != SQLITE_OK) {
			rc = sq_fail(q, rc);
			goto out;
		}
		off += got;
	}
	rc = STORE_OK;
out:
	free(buf);
	if (blob)
		sqlite3_blob_close(blob);
	return rc;
}

/* The org's Pending sync into *running; STORE_ENOTFOUND when it has none. */
static int pending_sync(struct sqlite_store *q, int64_t org_id, int64_t *running)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SYNC_PENDING, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	return sq_row_int(q, st, running);
}

/* STORE_EBUSY (with a message, *running set) while the org has a sync Pending. */
static int refuse_pending(struct sqlite_store *q, int64_t org_id, int64_t *running)
{
	int rc = pending_sync(q, org_id, running);

	if (rc == STORE_OK)
		return store_set_error(&q->base, STORE_EBUSY, "sync %lld is still pending",
				       (long long)*running);
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

int sq_sync_begin(struct store *s, int64_t org_id, const struct sync_meta *m,
		  const struct store_source *parts, size_t nparts, int64_t *sync_id,
		  int64_t *running)
{
	struct sqlite_store *q = sq(s);
	int64_t now = os_wall_ms(), number = 0, *superseded = NULL;
	size_t i, nsuperseded = 0;
	char reason[64];
	sqlite3_stmt *st;
	int rc;

	/*
	 * WAL readers never wait for the writer: a sync still running is seen
	 * (and refused with EBUSY) at once, even while another apply holds
	 * the write lock for a long time.
	 */
	rc = refuse_pending(q, org_id, running);
	if (rc)
		return rc;
	rc = sq_begin_org(q, org_id);
	if (rc)
		return rc;
	rc = refuse_pending(q, org_id, running);
	if (rc)
		goto out;
	rc = sq_prep(q, ST_SYNC_INSERT, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, m->source);
	sq_bind_text(st, 3, m->mode);
	sq_bind_text(st, 4, m->format);
	sqlite3_bind_int(st, 5, m->dry_run);
	sqlite3_bind_int64(st, 6, now);
	sq_bind_text(st, 7, m->owner);
	sqlite3_bind_int64(st, 8, m->lease_ms);
	rc = sq_row(q, st);
	if (rc)
		goto out;
	*sync_id = sqlite3_column_int64(st, 0);
	number = sqlite3_column_int64(st, 1);
	rc = sq_run(q, st); /* RETURNING: the insert completes when stepped to its end */
	if (rc)
		goto out;
	for (i = 0; i < nparts && !rc; i++)
		rc = payload_stream(q, *sync_id, &parts[i]);
	if (!rc)
		rc = sync_event(q, *sync_id, -1, now);
	if (rc)
		goto out;
	/* A dry run changes nothing: not even a Paused sync's fate. */
	if (m->dry_run)
		goto out;
	rc = sq_prep(q, ST_SYNC_PAUSED_IDS, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, *sync_id);
	rc = sq_read_rows(q, st, &store_rows_ids, (void **)&superseded, &nsuperseded);
	if (rc)
		goto out;
	rc = sq_prep(q, ST_SYNC_SUPERSEDE, &st);
	if (rc)
		goto out;
	snprintf(reason, sizeof(reason), "superseded by sync %lld", (long long)number);
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, *sync_id);
	sq_bind_text(st, 3, reason);
	sqlite3_bind_int64(st, 4, now);
	rc = sq_run(q, st);
	if (!rc && sqlite3_changes(q->db))
		rc = prune_payloads(q);
	for (i = 0; !rc && i < nsuperseded; i++)
		rc = sync_event(q, superseded[i], SYNC_PAUSED, now);
out:
	free(superseded);
	rc = sq_end_tx(q, rc);
	if (rc && rc != STORE_EBUSY)
		*sync_id = 0;
	return rc;
}

int sq_sync_pending(struct store *s, int64_t org_id, int64_t *running)
{
	int rc = pending_sync(sq(s), org_id, running);

	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

static int sync_exists(struct sqlite_store *q, int64_t sync_id)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SYNC_EXISTS, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	rc = sq_row(q, st);
	if (rc == STORE_OK)
		sqlite3_reset(st);
	else if (rc == STORE_ENOTFOUND)
		store_set_error(&q->base, rc, "no sync %lld", (long long)sync_id);
	return rc;
}

int sq_payload_put(struct store *s, int64_t sync_id, const char *part, const void *data,
		   size_t len)
{
	struct sqlite_store *q = sq(s);
	int rc;

	rc = sq_begin(q);
	if (rc)
		return rc;
	rc = sync_exists(q, sync_id);
	if (!rc)
		rc = payload_insert(q, sync_id, part, data, len);
	return sq_end_tx(q, rc);
}

/* The row of the sync's payload part; STORE_ENOTFOUND when it has none. */
static int payload_rowid(struct sqlite_store *q, int64_t sync_id, const char *part,
			 int64_t *rowid)
{
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_PAYLOAD_FIND, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	sq_bind_text(st, 2, part);
	return sq_row_int(q, st, rowid);
}

/* Read through the incremental blob API straight into the caller's buffer:
 * one copy of the payload in memory, not two. */
int sq_payload_get(struct store *s, int64_t sync_id, const char *part, void **data,
		   size_t *len)
{
	struct sqlite_store *q = sq(s);
	sqlite3_blob *blob = NULL;
	unsigned char *buf = NULL;
	int64_t rowid;
	int rc, n, off, chunk;

	rc = sq_begin_read(q);
	if (rc)
		return rc;
	rc = payload_rowid(q, sync_id, part, &rowid);
	if (rc)
		goto out;
	rc = sqlite3_blob_open(q->db, "main", "sync_payloads", "data", rowid, 0, &blob);
	if (rc != SQLITE_OK) {
		rc = sq_fail(q, rc);
		goto out;
	}
	n = sqlite3_blob_bytes(blob);
	buf = malloc((size_t)n + 1);
	if (!buf) {
		rc = STORE_ENOMEM;
		goto out;
	}
	for (off = 0; off < n; off += chunk) {
		chunk = n - off < BLOB_CHUNK ? n - off : BLOB_CHUNK;
		rc = sqlite3_blob_read(blob, buf + off, chunk, off);
		if (rc != SQLITE_OK) {
			rc = sq_fail(q, rc);
			goto out;
		}
	}
	buf[n] = '\0'; /* a convenience for text parts; not counted in len */
	rc = STORE_OK;
	*data = buf;
	*len = (size_t)n;
	buf = NULL;
out:
	if (blob)
		sqlite3_blob_close(blob);
	free(buf);
	return sq_end_tx(q, rc);
}

/*
 * A part being read in pieces. The open blob keeps its own statement, and
 * with it a read snapshot, until it is closed; SQLite's handle has no read
 * position, so it is kept here.
 */
struct sq_blob {
	sqlite3_blob *blob;
	int size, pos;
};

int sq_payload_open(struct store *s, int64_t sync_id, const char *part, void **out,
		    uint64_t *len)
{
	struct sqlite_store *q = sq(s);
	struct sq_blob *b = NULL;
	int64_t rowid;
	int rc = payload_rowid(q, sync_id, part, &rowid);

	if (rc)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b)
		return store_set_error(s, STORE_ENOMEM, "out of memory");
	rc = sqlite3_blob_open(q->db, "main", "sync_payloads", "data", rowid, 0, &b->blob);
	if (rc != SQLITE_OK) {
		rc = sq_fail(q, rc);
		sqlite3_blob_close(b->blob);
		free(b);
		return rc;
	}
	b->size = sqlite3_blob_bytes(b->blob);
	*len = (uint64_t)b->size;
	*out = b;
	return STORE_OK;
}

int sq_blob_read(struct store *s, void *h, void *buf, size_t cap, size_t *got)
{
	struct sq_blob *b = h;
	int n = b->size - b->pos < (int64_t)cap ? b->size - b->pos : (int)cap, rc;

	if (n <= 0)
		return STORE_OK;
	rc = sqlite3_blob_read(b->blob, buf, n, b->pos);
	if (rc != SQLITE_OK)
		return sq_fail(sq(s), rc);
	b->pos += n;
	*got = (size_t)n;
	return STORE_OK;
}

void sq_blob_close(struct store *s, void *h)
{
	struct sq_blob *b = h;

	(void)s;
	sqlite3_blob_close(b->blob);
	free(b);
}

int sq_sync_claim(struct store *s, const char *owner, int64_t now, int64_t lease_ms,
		  int64_t *sync_id, int64_t *org_id, int *attempts)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_SYNC_CLAIM, &st);
	if (rc)
		goto out;
	sq_bind_text(st, 1, owner);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, lease_ms);
	rc = sq_row(q, st);
	if (rc)
		goto out;
	*sync_id = sqlite3_column_int64(st, 0);
	*org_id = sqlite3_column_int64(st, 1);
	rc = store_fit_int(s, sqlite3_column_int64(st, 2), "a sync's attempts", attempts);
	if (rc) {
		sqlite3_reset(st);
		goto out;
	}
	rc = sq_run(q, st); /* RETURNING: the update completes when stepped to its end */
out:
	return sq_end_tx(q, rc);
}

int sq_sync_renew(struct store *s, int64_t sync_id, const char *owner, int64_t now,
		  int64_t lease_ms)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SYNC_RENEW, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, sync_id);
	sq_bind_text(st, 2, owner);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, lease_ms);
	rc = sq_run(q, st);
	if (!rc && sqlite3_changes(q->db) == 0)
		rc = store_set_error(s, STORE_ECONFLICT, "sync %lld is no longer claimed by %s",
				     (long long)sync_id, owner);
	return rc;
}

int sq_sync_finish(struct store *s, int64_t sync_id, const struct sync_outcome *done)
{
	struct sqlite_store *q = sq(s);
	int rc = sq_begin(q);

	if (rc)
		return rc;
	return sq_end_tx(q, sq_finish_in_tx(q, sync_id, done));
}

/*
 * One conditional UPDATE under the write lock: of two racing transitions
 * from the same status, the second finds the status changed and gets
 * STORE_ECONFLICT.
 */
int sq_sync_transition(struct store *s, int64_t org_id, int64_t sync_id, int from, int to,
		       const char *reason)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_SYNC_TRANSITION, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	sq_bind_text(st, 3, format_sync_status_name(from));
	sq_bind_text(st, 4, format_sync_status_name(to));
	sq_bind_text(st, 5, reason);
	sqlite3_bind_int64(st, 6, os_wall_ms());
	rc = sq_run(q, st);
	if (!rc && sqlite3_changes(q->db) == 1) {
		rc = sync_event(q, sync_id, from, os_wall_ms());
		if (!rc && to != SYNC_PENDING && to != SYNC_PAUSED)
			rc = prune_payloads(q);
		goto out;
	}
	if (rc)
		goto out;
	rc = sq_prep(q, ST_SYNC_OWNED, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	rc = sq_row(q, st);
	if (rc == STORE_OK) {
		sqlite3_reset(st);
		rc = store_set_error(s, STORE_ECONFLICT, "sync %lld is not %s", (long long)sync_id,
				     format_sync_status_name(from));
	} else if (rc == STORE_ENOTFOUND) {
		store_set_error(s, rc, "no sync %lld", (long long)sync_id);
	}
out:
	return sq_end_tx(q, rc);
}

static int read_sync_row(struct sqlite_store *q, sqlite3_stmt *st, struct sync_row *r)
{
	struct store_cols c;

	sq_cols(q, st, &c);
	return store_rows_sync(&c, r);
}

int sq_sync_get(struct store *s, int64_t org_id, int64_t sync_id, struct sync_row *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SYNC_GET, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	rc = sq_row(q, st);
	if (rc)
		return rc;
	rc = read_sync_row(q, st, out);
	sqlite3_reset(st);
	return rc;
}

int sq_sync_count(struct store *s, int64_t org_id, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SYNC_COUNT, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	rc = sq_row(q, st);
	if (rc)
		return rc;
	*n = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return STORE_OK;
}

/*
 * The conditional UPDATE of sq_sync_transition, with the decision: of two
 * racing decisions exactly one finds the sync Paused.
 */
int sq_sync_decide(struct store *s, int64_t org_id, int64_t sync_id,
		   const struct sync_decision *d)
{
	struct sqlite_store *q = sq(s);
	const int to = d->approve ? SYNC_PENDING : SYNC_REJECTED;
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_SYNC_DECIDE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	sq_bind_text(st, 3, format_sync_status_name(to));
	sq_bind_text(st, 4, d->sync_reason);
	sqlite3_bind_int64(st, 5, os_wall_ms());
	sq_bind_text(st, 6, d->approve ? "approve" : "reject");
	sq_bind_text(st, 7, d->actor);
	sq_bind_text(st, 8, d->reason);
	rc = sq_run(q, st);
	if (!rc && sqlite3_changes(q->db) == 1) {
		rc = sync_event(q, sync_id, SYNC_PAUSED, os_wall_ms());
		if (!rc && !d->approve)
			rc = prune_payloads(q);
		goto out;
	}
	if (rc)
		goto out;
	rc = sq_prep(q, ST_SYNC_OWNED, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	rc = sq_row(q, st);
	if (rc == STORE_OK) {
		sqlite3_reset(st);
		rc = store_set_error(s, STORE_ECONFLICT, "sync %lld is not Paused", (long long)sync_id);
	} else if (rc == STORE_ENOTFOUND) {
		store_set_error(s, rc, "no sync %lld", (long long)sync_id);
	}
out:
	return sq_end_tx(q, rc);
}

/* The totals and the page from one snapshot: a page never disagrees with its counts. */
int sq_sync_plan(struct store *s, int64_t org_id, int64_t sync_id, int type,
		 uint64_t from, size_t limit, struct store_plan_page *out)
{
	struct sqlite_store *q = sq(s);
	struct store_cols c;
	uint64_t to = 0;
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	rc = sq_begin_read(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_PLAN_TOTALS, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	rc = sq_row(q, st);
	if (rc)
		goto out;
	sq_cols(q, st, &c);
	rc = store_rows_plan_totals(&c, out);
	sqlite3_reset(st);
	if (rc == STORE_ENOTFOUND)
		rc = store_set_error(s, rc, "sync %lld has no plan", (long long)sync_id);
	if (rc || !store_rows_plan_window(out, type, limit, &from, &to))
		goto out;
	rc = sq_prep(q, ST_PLAN_PAGE, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, sync_id);
	sqlite3_bind_int64(st, 2, (int64_t)(from / STORE_ROWS_PLAN_CHUNK));
	sqlite3_bind_int64(st, 3, (int64_t)((to - 1) / STORE_ROWS_PLAN_CHUNK));
	sq_cols(q, st, &c);
	while ((rc = sq_row(q, st)) == STORE_OK) {
		rc = store_rows_plan_chunk(s, &c, from, to, out, &cap);
		if (rc)
			break;
	}
	if (rc != STORE_ENOTFOUND)
		sqlite3_reset(st);
	else
		rc = STORE_OK;
out:
	return sq_end_tx(q, rc);
}

int sq_sync_by_number(struct store *s, int64_t org_id, int64_t number,
		      struct sync_row *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SYNC_BY_NUMBER, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, number);
	rc = sq_row(q, st);
	if (rc)
		return rc;
	rc = read_sync_row(q, st, out);
	sqlite3_reset(st);
	return rc;
}

int sq_sync_list(struct store *s, int64_t org_id, int64_t before, size_t limit,
		 struct sync_row **rows, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_SYNC_LIST, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, before > 0 ? before : INT64_MAX);
	sqlite3_bind_int64(st, 3, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	return sq_read_rows(q, st, &store_rows_syncs, (void **)rows, n);
}

int sq_sync_report(struct store *s, int64_t org_id, int64_t sync_id, struct report *rep)
{
	struct sqlite_store *q = sq(s);
	struct store_rows_totals t;
	struct store_cols c;
	sqlite3_stmt *st;
	int rc;

	rc = sq_begin_read(q);
	if (rc)
		return rc;
	rc = sq_prep(q, ST_SYNC_TOTALS, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, sync_id);
	rc = sq_row(q, st);
	if (rc)
		goto out;
	sq_cols(q, st, &c);
	rc = store_rows_totals_read(&c, rep, &t);
	sqlite3_reset(st);
	if (rc)
		goto out;
	rc = sq_prep(q, ST_ISSUES_GET, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, sync_id);
	sq_cols(q, st, &c);
	while ((rc = sq_row(q, st)) == STORE_OK) {
		rc = store_rows_issue(&c, rep);
		if (rc) {
			sqlite3_reset(st);
			goto out;
		}
	}
	if (rc != STORE_ENOTFOUND)
		goto out;
	rc = STORE_OK;
	store_rows_totals_apply(&t, rep);
out:
	return sq_end_tx(q, rc);
}
