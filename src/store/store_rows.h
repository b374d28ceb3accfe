/*
 * What both store backends make of their result rows, written once: every
 * record a read returns (orgs, Administrators, audit entries, syncs, SCIM
 * users, groups and references, deliveries, names and ids), a stored issue
 * and plan chunk, the plan's chunk encoding and paging arithmetic, and the
 * report's stored totals. A backend shows a row through struct store_cols;
 * the SQL, the statements and the transactions stay in the backend.
 * Private to src/store/.
 */
#ifndef ORGSYNC_STORE_STORE_ROWS_H
#define ORGSYNC_STORE_STORE_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/report.h"
#include "store/backend.h"
#include "util/buf.h"

enum {
	/* Plan entries to a stored row (SQLite's migration 8 spells it out too). */
	STORE_ROWS_PLAN_CHUNK = 128,
};

/*
 * One result row: col_int is 0 for SQL NULL, col_text NULL for SQL NULL and
 * valid until the backend steps or frees its result, col_bool reads a
 * boolean as the backend stores it. res and row are the backend's (a
 * statement, or a result and a row number), ncols its number of columns;
 * store is where a reader reports a number that does not fit its field
 * (store_fit_*).
 */
struct store_cols {
	int64_t (*col_int)(const struct store_cols *c, int col);
	const char *(*col_text)(const struct store_cols *c, int col);
	bool (*col_bool)(const struct store_cols *c, int col);
	struct store *store;
	const void *res;
	int row, ncols;
};

/*
 * A kind of record read one per row into an array: its size, what fills
 * one (zeroed first) from a row, and what releases what one holds, whole
 * or half filled. The backends' sq_read_rows and pg_read_rows take one.
 */
struct store_rows_kind {
	size_t elem;
	int (*read)(const struct store_cols *c, void *rec);
	void (*clear)(void *rec);
};

/* Each kind with its columns, in the order the backends' SELECTs give them. */
extern const struct store_rows_kind store_rows_ids;       /* int64_t: the first column */
extern const struct store_rows_kind store_rows_strings;   /* char *: the text column */
extern const struct store_rows_kind store_rows_admins;    /* email, external_id, state, admin_since */
extern const struct store_rows_kind store_rows_orgs;      /* id, name, created_at, members */
extern const struct store_rows_kind store_rows_audit;     /* number, at, actor, action, target,
							     old_json, new_json */
extern const struct store_rows_kind store_rows_syncs;     /* see store_rows_sync */
extern const struct store_rows_kind store_rows_scim_users;  /* see store_rows_scim_user */
extern const struct store_rows_kind store_rows_scim_groups; /* see store_rows_scim_group */
extern const struct store_rows_kind store_rows_scim_refs; /* id, display[, is a group] */
/* Claimed messages: row, delivery_id, org_id, kind, recipient, payload, attempts,
 * created_at, retry_from, lease, last_error; recipient and payload never NULL. */
extern const struct store_rows_kind store_rows_claimed;
/* Listed messages: row, delivery_id, org_id, kind, recipient, status, attempts,
 * last_error, created_at, sent_at, next_attempt_at, retry_from. */
extern const struct store_rows_kind store_rows_deliveries;

/* Releases n records of kind k in v, then v (NULL: nothing). */
void store_rows_free(const struct store_rows_kind *k, void *v, size_t n);

/* A SCIM user of the columns of SCIM_USER_COLUMNS; on failure the caller clears it. */
int store_rows_scim_user(const struct store_cols *c, struct store_scim_user *u);
/* A SCIM group of the columns scim_id, external_id, name, scim_attrs, created_at,
 * updated_at; on failure the caller clears it. */
int store_rows_scim_group(const struct store_cols *c, struct store_scim_group *g);

/*
 * A sync row from the columns id, org_id, status, source, mode, format,
 * dry_run, reason, counts_json, risk_json, created_at, started_at,
 * finished_at, issues, number, decision, decided_by, decided_at,
 * decision_reason. On failure (STORE_ENOMEM) *r holds nothing to free.
 */
int store_rows_sync(const struct store_cols *c, struct sync_row *r);

/*
 * Appends the stored issue of the columns severity, code, file, line,
 * column, field, record_id, message to rep; a name no longer known reads
 * as an invalid value error. STORE_EIO when a line or column is out of
 * range, STORE_ENOMEM when it could not be added.
 */
int store_rows_issue(const struct store_cols *c, struct report *rep);

/*
 * What a stored report counted (columns fatal, error, warning, dropped)
 * beside what rep held before its issues were read: issues past the limit
 * of the report that was stored are counted, not kept.
 */
struct store_rows_totals {
	size_t before[3], stored[3], dropped;
};

/* STORE_EIO when a count is out of range. */
int store_rows_totals_read(const struct store_cols *c, const struct report *rep,
			   struct store_rows_totals *t);
/* Raises rep's counts to the stored ones once the kept issues are in. */
void store_rows_totals_apply(const struct store_rows_totals *t, struct report *rep);

/* Appends one plan entry, as a JSON array, to a chunk being written. -1 when out of memory. */
int store_rows_plan_entry(struct buf *b, const struct store_plan_entry *e);

/*
 * The plan's totals (columns members, teams, mappings, truncated) into
 * out; STORE_ENOTFOUND (no message) when the sync has no plan (members
 * NULL), STORE_EIO when a count is out of range.
 */
int store_rows_plan_totals(const struct store_cols *c, struct store_plan_page *out);

/*
 * Sets out->first and out->end, the seq range of type (-1: every type), from
 * the totals in out->n, and narrows [*from, *to) to the page of at most
 * limit entries to read; false when there is none.
 */
bool store_rows_plan_window(struct store_plan_page *out, int type, size_t limit, uint64_t *from,
			    uint64_t *to);

/*
 * Appends the entries of the chunk of the columns chunk, entries that fall
 * in [from, to) to out (*cap: the room of out->rows). STORE_EIO (with a
 * message in s) when the chunk is malformed, STORE_ENOMEM.
 */
int store_rows_plan_chunk(struct store *s, const struct store_cols *c, uint64_t from, uint64_t to,
			  struct store_plan_page *out, size_t *cap);

#endif
