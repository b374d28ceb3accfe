/*
 * SQLite: the outbox of webhook and email messages, claimed by the delivery
 * workers under leases.
 */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "format/names.h"
#include "util/os.h"

int sq_outbox_add(struct store *s, int64_t org_id, const char *kind, const char *recipient,
		  const char *payload)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_OUTBOX_INSERT, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, kind);
	sq_bind_text(st, 3, recipient);
	sq_bind_text(st, 4, payload);
	sqlite3_bind_int64(st, 5, os_wall_ms());
	sqlite3_bind_null(st, 6); /* the statement is cached: an invitation's member may linger */
	return sq_run(q, st);
}

/*
 * Within the caller's transaction, after members were deleted or
 * deactivated: the org's invitations not sent yet whose member is gone or
 * deactivated become dead, their clear token erased. One statement for
 * the whole change, however many members it removed.
 */
int sq_withdraw_invitations(struct sqlite_store *q, int64_t org_id)
{
	return sq_run_org(q, ST_DLV_WITHDRAW, org_id);
}

/* The kinds a channel claims, bound as ?a and ?b of "kind IN (?a, ?b)". */
static void bind_channel(sqlite3_stmt *st, int i, enum delivery_channel ch)
{
	sq_bind_text(st, i, ch == DELIVERY_WEBHOOK ? "webhook" : "invitation");
	sq_bind_text(st, i + 1, ch == DELIVERY_WEBHOOK ? "webhook" : "notification");
}

/* One conditional UPDATE: two senders never hold the same message. */
int sq_delivery_claim(struct store *s, enum delivery_channel ch, int64_t now,
		      int64_t lease_ms, size_t max, struct store_delivery **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_DLV_CLAIM, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, lease_ms);
	bind_channel(st, 3, ch);
	sqlite3_bind_int64(st, 5, (int64_t)max);
	/* On failure the claimed rest stays leased and falls due when the lease ends. */
	return sq_read_rows(q, st, &store_rows_claimed, (void **)out, n);
}

int sq_delivery_record(struct store *s, const struct store_delivery_outcome *o, size_t n,
		       int64_t now)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	size_t i;
	int rc = sq_begin(q);

	for (i = 0; !rc && i < n; i++) {
		if (o[i].status == DELIVERY_SENT || o[i].status == DELIVERY_QUEUED) {
			rc = sq_prep(q, o[i].status == DELIVERY_SENT ? ST_DLV_SENT : ST_DLV_RELEASE, &st);
			if (rc)
				break;
			sqlite3_bind_int64(st, 3, now);
		} else {
			rc = sq_prep(q, ST_DLV_FAIL, &st);
			if (rc)
				break;
			sq_bind_text(st, 3, format_delivery_status_name(o[i].status));
			sqlite3_bind_int64(st, 4, o[i].status == DELIVERY_DEAD ? 0 : o[i].next_attempt_at);
			sq_bind_text(st, 5, o[i].error ? o[i].error : "unknown error");
		}
		sqlite3_bind_int64(st, 1, o[i].row);
		sqlite3_bind_int64(st, 2, o[i].lease);
		rc = sq_run(q, st);
	}
	return sq_end_tx(q, rc);
}

int sq_delivery_list(struct store *s, int64_t org_id, int64_t before_row, size_t limit,
		     struct store_delivery **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_DLV_LIST, &st);

	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, org_id);
	sqlite3_bind_int64(st, 2, before_row > 0 ? before_row : INT64_MAX);
	sqlite3_bind_int64(st, 3, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	return sq_read_rows(q, st, &store_rows_deliveries, (void **)out, n);
}

int sq_delivery_retry(struct store *s, int64_t org_id, const char *id, int64_t now)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_begin(q);

	if (rc)
		return rc;
	rc = sq_prep(q, ST_DLV_RETRY, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, id);
	sqlite3_bind_int64(st, 3, now);
	rc = sq_run(q, st);
	if (rc || sqlite3_changes(q->db) == 1)
		goto out;
	rc = sq_prep(q, ST_DLV_FIND, &st);
	if (rc)
		goto out;
	sqlite3_bind_int64(st, 1, org_id);
	sq_bind_text(st, 2, id);
	rc = sq_row(q, st);
	if (rc == STORE_OK) {
		rc = store_set_error(s, STORE_ECONFLICT, "delivery %s is %s", id,
				     (const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
	} else if (rc == STORE_ENOTFOUND) {
		store_set_error(s, rc, "no delivery %s", id);
	}
out:
	return sq_end_tx(q, rc);
}

int sq_delivery_counts(struct store *s, uint64_t counts[3][DELIVERY_STATUS_COUNT])
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_DLV_COUNTS, &st);

	if (rc)
		return rc;
	while ((rc = sq_row(q, st)) == STORE_OK) {
		int kind = format_delivery_kind_parse((const char *)sqlite3_column_text(st, 0));
		int status = format_delivery_status_parse((const char *)sqlite3_column_text(st, 1));

		if (kind >= 0 && status >= 0)
			counts[kind][status] = (uint64_t)sqlite3_column_int64(st, 2);
	}
	return rc == STORE_ENOTFOUND ? STORE_OK : rc;
}

int sq_delivery_next_due(struct store *s, enum delivery_channel ch, int64_t *when)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st;
	int rc = sq_prep(q, ST_DLV_NEXT_DUE, &st);

	if (rc)
		return rc;
	bind_channel(st, 1, ch);
	rc = sq_row(q, st);
	if (rc)
		return rc;
	if (sqlite3_column_type(st, 0) == SQLITE_NULL)
		rc = STORE_ENOTFOUND;
	else
		*when = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc;
}
