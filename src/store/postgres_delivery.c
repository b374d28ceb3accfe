/*
 * store on PostgreSQL: delivery, the outbox as a state machine (store.h).
 * Several services share one database: a claim locks the rows it takes
 * with FOR UPDATE SKIP LOCKED, so concurrent senders split the due
 * messages between them instead of queueing behind each other's locks,
 * and the lease (lease_until) is the fencing token every outcome checks.
 */
#include "format/names.h"
#include "store/postgres.h"

#include <stdlib.h>
#include <string.h>

/* Oldest due first; the lease's end is also when a message falls due
 * again, so that one whose sender died is claimed once the lease ends. */
static const struct pg_stmt st_claim = {
	"dlv_claim",
	"WITH c AS (UPDATE outbox SET status = 'sending', lease_until = $1 + $2,"
	" next_attempt_at = $1 + $2, attempts = attempts + 1"
	" WHERE id IN (SELECT id FROM outbox"
	"   WHERE status IN ('queued', 'retrying', 'sending') AND next_attempt_at <= $1"
	"   AND kind IN ($3, $4) ORDER BY next_attempt_at, id LIMIT $5 FOR UPDATE SKIP LOCKED)"
	" RETURNING id, delivery_id, org_id, kind, recipient, payload, attempts,"
	" created_at, coalesce(retry_from, created_at) AS retry_from, lease_until, last_error)"
	" SELECT * FROM c ORDER BY id",
};

/* A sent invitation loses its token: the clear token lives only in an unsent message. */
static const struct pg_stmt st_sent = {
	"dlv_sent",
	"UPDATE outbox SET status = 'sent', sent_at = $3, lease_until = NULL, next_attempt_at = 0,"
	" payload = CASE WHEN kind = 'invitation' AND payload::jsonb ? 'token'"
	" THEN (payload::jsonb - 'token')::text ELSE payload END"
	" WHERE id = $1 AND status = 'sending' AND lease_until = $2",
};

static const struct pg_stmt st_fail = {
	"dlv_fail",
	"UPDATE outbox SET status = $3, next_attempt_at = $4, last_error = $5, lease_until = NULL"
	" WHERE id = $1 AND status = 'sending' AND lease_until = $2",
};

static const struct pg_stmt st_release = {
	"dlv_release",
	"UPDATE outbox SET status = CASE WHEN attempts > 1 THEN 'retrying' ELSE 'queued' END,"
	" attempts = attempts - 1, next_attempt_at = $3, lease_until = NULL"
	" WHERE id = $1 AND status = 'sending' AND lease_until = $2",
};

/* A message in flight ('sending') dies too: the sender's final update wants it
 * still 'sending' under its lease, so it cannot revive it. */
static const struct pg_stmt st_withdraw = {
	"dlv_withdraw",
	"UPDATE outbox SET status = 'dead', lease_until = NULL, next_attempt_at = 0,"
	" last_error = CASE WHEN EXISTS (SELECT 1 FROM members AS m"
	"   WHERE m.id = outbox.member_id AND m.org_id = $1)"
	" THEN 'the member was deactivated before the invitation was sent'"
	" ELSE 'the member was removed before the invitation was sent' END,"
	" payload = CASE WHEN payload::jsonb ? 'token' THEN (payload::jsonb - 'token')::text"
	" ELSE payload END"
	" WHERE org_id = $1 AND kind = 'invitation' AND status IN ('queued', 'retrying', 'sending')"
	" AND NOT EXISTS (SELECT 1 FROM members AS m WHERE m.id = outbox.member_id"
	"   AND m.org_id = $1 AND m.state <> 'deactivated')",
};

int pg_withdraw_invitations(struct pg_store *q, int64_t org_id)
{
	struct pg_params p = { 0 };

	pg_param_int(&p, org_id);
	return pg_run(q, &st_withdraw, &p, NULL);
}

static const struct pg_stmt st_list = {
	"dlv_list",
	"SELECT id, delivery_id, org_id, kind, recipient, status, attempts, last_error,"
	" created_at, sent_at, next_attempt_at, coalesce(retry_from, created_at)"
	" FROM outbox WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
};

static const struct pg_stmt st_retry = {
	"dlv_retry",
	"UPDATE outbox SET status = 'retrying', next_attempt_at = $3, retry_from = $3"
	" WHERE org_id = $1 AND delivery_id = $2 AND status IN ('dead', 'retrying')"
	" AND (kind <> 'invitation' OR EXISTS (SELECT 1 FROM members AS m"
	"   WHERE m.id = outbox.member_id AND m.org_id = $1 AND m.state <> 'deactivated'))",
};

static const struct pg_stmt st_find = {
	"dlv_find",
	"SELECT status FROM outbox WHERE org_id = $1 AND delivery_id = $2",
};

static const struct pg_stmt st_counts = {
	"dlv_counts",
	"SELECT kind, status, count(*) FROM outbox GROUP BY kind, status",
};

static const struct pg_stmt st_next_due = {
	"dlv_next_due",
	"SELECT min(next_attempt_at) FROM outbox"
	" WHERE status IN ('queued', 'retrying', 'sending') AND kind IN ($1, $2)",
};

/* The kinds a channel claims, for "kind IN ($a, $b)". */
static void param_channel(struct pg_params *a, enum delivery_channel ch)
{
	pg_param_text(a, ch == DELIVERY_WEBHOOK ? "webhook" : "invitation");
	pg_param_text(a, ch == DELIVERY_WEBHOOK ? "webhook" : "notification");
}

static int64_t limit_param(size_t limit)
{
	return limit > INT64_MAX ? INT64_MAX : (int64_t)limit;
}

static int pg_delivery_claim(struct store *s, enum delivery_channel ch, int64_t now,
			     int64_t lease_ms, size_t max, struct store_delivery **out, size_t *n)
{
	struct pg_params a = { 0 };

	pg_param_int(&a, now);
	pg_param_int(&a, lease_ms);
	param_channel(&a, ch);
	pg_param_int(&a, limit_param(max));
	/* On failure the claimed rows stay leased and fall due when the lease ends. */
	return pg_exec_rows(pg(s), &st_claim, &a, &store_rows_claimed, (void **)out, n);
}

static int record_one(struct pg_store *p, const struct store_delivery_outcome *o, int64_t now)
{
	struct pg_params a = { 0 };
	const struct pg_stmt *st;

	pg_param_int(&a, o->row);
	pg_param_int(&a, o->lease);
	if (o->status == DELIVERY_SENT || o->status == DELIVERY_QUEUED) {
		st = o->status == DELIVERY_SENT ? &st_sent : &st_release;
		pg_param_int(&a, now);
	} else {
		st = &st_fail;
		pg_param_text(&a, format_delivery_status_name(o->status));
		pg_param_int(&a, o->status == DELIVERY_DEAD ? 0 : o->next_attempt_at);
		pg_param_text(&a, o->error ? o->error : "unknown error");
	}
	return pg_run(p, st, &a, NULL);
}

static int pg_delivery_record(struct store *s, const struct store_delivery_outcome *o, size_t n,
			      int64_t now)
{
	struct pg_store *p = pg(s);
	size_t i;
	int rc = pg_begin(p);

	for (i = 0; !rc && i < n; i++)
		rc = record_one(p, &o[i], now);
	return pg_end_tx(p, rc);
}

static int pg_delivery_list(struct store *s, int64_t org_id, int64_t before_row, size_t limit,
			    struct store_delivery **out, size_t *n)
{
	struct pg_params a = { 0 };

	pg_param_int(&a, org_id);
	pg_param_int(&a, before_row > 0 ? before_row : INT64_MAX);
	pg_param_int(&a, limit_param(limit));
	return pg_exec_rows(pg(s), &st_list, &a, &store_rows_deliveries, (void **)out, n);
}

static int pg_delivery_retry(struct store *s, int64_t org_id, const char *id, int64_t now)
{
	struct pg_store *p = pg(s);
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	uint64_t changed = 0;
	int rc = pg_begin(p);

	if (rc)
		return rc;
	pg_param_int(&a, org_id);
	pg_param_text(&a, id);
	pg_param_int(&a, now);
	rc = pg_run(p, &st_retry, &a, &changed);
	if (rc || changed == 1)
		goto out;
	a.n = 2;
	rc = pg_row(p, &st_find, &a, &res);
	if (rc == STORE_OK)
		rc = store_set_error(s, STORE_ECONFLICT, "delivery %s is %s", id,
				     pg_col_text(res, 0, 0));
	else if (rc == STORE_ENOTFOUND)
		store_set_error(s, rc, "no delivery %s", id);
out:
	PQclear(res);
	return pg_end_tx(p, rc);
}

static int pg_delivery_counts(struct store *s, uint64_t counts[3][DELIVERY_STATUS_COUNT])
{
	PGresult *res = NULL;
	int rc = pg_exec(pg(s), &st_counts, NULL, &res), i;

	if (rc)
		return rc;
	for (i = 0; i < PQntuples(res); i++) {
		int kind = format_delivery_kind_parse(PQgetvalue(res, i, 0));
		int status = format_delivery_status_parse(PQgetvalue(res, i, 1));

		if (kind >= 0 && status >= 0)
			counts[kind][status] = (uint64_t)pg_col_int(res, i, 2);
	}
	PQclear(res);
	return STORE_OK;
}

static int pg_delivery_next_due(struct store *s, enum delivery_channel ch, int64_t *when)
{
	struct pg_params a = { 0 };
	PGresult *res = NULL;
	int rc;

	param_channel(&a, ch);
	rc = pg_exec(pg(s), &st_next_due, &a, &res);
	if (rc)
		return rc;
	if (PQgetisnull(res, 0, 0))
		rc = STORE_ENOTFOUND;
	else
		*when = pg_col_int(res, 0, 0);
	PQclear(res);
	return rc;
}

void pg_ops_delivery(struct store_ops *o)
{
	o->delivery_claim = pg_delivery_claim;
	o->delivery_record = pg_delivery_record;
	o->delivery_list = pg_delivery_list;
	o->delivery_retry = pg_delivery_retry;
	o->delivery_counts = pg_delivery_counts;
	o->delivery_next_due = pg_delivery_next_due;
}
