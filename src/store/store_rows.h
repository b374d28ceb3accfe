/*
 * What both store backends make of a sync's rows, once: a sync row, a
 * stored issue and a plan chunk built from column values, the plan's chunk
 * encoding and its paging arithmetic, and the report's stored totals. Each
 * backend shows its result row through struct store_cols; the SQL and the
 * transactions stay in the backend. Private to src/store/.
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
 * valid until the backend steps or frees its result. res and row are the
 * backend's (a statement, or a result and a row number); store is where a
 * reader reports a number that does not fit its field (store_fit_*).
 */
struct store_cols {
	int64_t (*col_int)(const struct store_cols *c, int col);
	const char *(*col_text)(const struct store_cols *c, int col);
	struct store *store;
	const void *res;
	int row;
};

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
 * What a stored report counted (columns errors, warnings, infos, dropped)
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
