/*
 * store on PostgreSQL, private to src/store/: the connection handle and the
 * helpers every postgres*.c file shares (prepared statements, parameters,
 * columns, transactions, error mapping). Each file fills its own operations
 * into the ops table through one pg_ops_* function; postgres.c owns the
 * connection, the schema and the table itself. Input reaches the server
 * only as parameters of statements prepared once per connection.
 */
#ifndef ORGSYNC_STORE_POSTGRES_H
#define ORGSYNC_STORE_POSTGRES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/backend.h"
#include "store/store_rows.h"

enum {
	PG_MAX_PARAMS = 24,
	PG_INT_TEXT = 24, /* an int64 in decimal, its sign and the NUL */
};

/*
 * A statement: name is unique across the backend (it names the prepared
 * statement on the server), sql uses $1, $2... Define each one as a static
 * const object: its address is what marks it prepared on a connection.
 */
struct pg_stmt {
	const char *name;
	const char *sql;
};

struct pg_store {
	struct store base; /* first: a struct store * is a struct pg_store * */
	PGconn *conn;
	int depth;         /* transactions open: 0 none, 1 BEGIN, more: savepoints */
	bool in_tx;        /* within store_tx_begin(): operations nest as savepoints */
	/* The statements prepared on this connection: an open-addressed set of
	 * addresses, grown at half full. */
	const struct pg_stmt **prepared;
	size_t nprepared, cap_prepared;
};

/*
 * Parameters of one execution, initialised { 0 }. Texts are referenced, not
 * copied: they must outlive pg_exec. Integers are formatted into the struct
 * itself, so it is never copied.
 */
struct pg_params {
	int n;
	const char *values[PG_MAX_PARAMS];
	int lengths[PG_MAX_PARAMS];
	int formats[PG_MAX_PARAMS];
	char ints[PG_MAX_PARAMS][PG_INT_TEXT];
};

static inline struct pg_store *pg(struct store *s)
{
	return (struct pg_store *)s;
}

/* --- parameters (in $n order; NULL text is SQL NULL) -------------------------- */
void pg_param_text(struct pg_params *p, const char *s);
/* A slice of text, sent as binary (the same bytes): its parameter must be text. */
void pg_param_textn(struct pg_params *p, const char *s, size_t len);
void pg_param_int(struct pg_params *p, int64_t v);
void pg_param_null(struct pg_params *p);
/* Binary: the statement's parameter must be bytea ($n::bytea). */
void pg_param_bytes(struct pg_params *p, const void *data, size_t len);

/* --- execution ------------------------------------------------------------------ */

/*
 * Runs st (prepared on first use on this connection) with params (may be
 * NULL); text results. STORE_OK with *res (caller PQclear()s) for a command
 * or rows; otherwise the mapped error, recorded in s->err, and *res NULL.
 */
int pg_exec(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
	    PGresult **res);
/* The same with binary results (bytea as raw bytes, integers big-endian). */
int pg_exec_binary(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
		   PGresult **res);
/* Runs st for its effect; *changed (may be NULL) gets the rows it touched. */
int pg_run(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
	   uint64_t *changed);
/* Runs st and keeps its first row: STORE_ENOTFOUND (and *res NULL) when none. */
int pg_row(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
	   PGresult **res);
/* pg_row, then the first column of the row into *v. */
int pg_row_int(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *params,
	       int64_t *v);
/* Runs one or more statements without parameters (schema, SET, BEGIN...). */
int pg_exec_sql(struct pg_store *q, const char *sql);

/*
 * Maps a failed result to a store status and records the server's message:
 * unique, foreign key and check violations (23505, 23503, 23514) are
 * STORE_ECONFLICT; disk full or too much data (53100, 54000) STORE_EFULL;
 * out of memory (53200) STORE_ENOMEM; the rest STORE_EIO. That includes a
 * deadlock or serialization failure (40P01, 40001), which the design
 * avoids rather than retries: transactions run at READ COMMITTED, and
 * writers that read before they write take the org's lock first.
 */
int pg_fail(struct pg_store *q, const PGresult *res);

/* --- columns of a text result ---------------------------------------------------- */
bool pg_col_null(const PGresult *r, int row, int col);
int64_t pg_col_int(const PGresult *r, int row, int col);
bool pg_col_bool(const PGresult *r, int row, int col);
/* The column's text, "" for NULL; valid until PQclear(). */
const char *pg_col_text(const PGresult *r, int row, int col);
/* A malloc'ed copy, NULL for SQL NULL; -1 when out of memory. */
int pg_col_strdup(const PGresult *r, int row, int col, char **out);
void pg_col_copy(const PGresult *r, int row, int col, char *dst, size_t size);
/* A bytea column of a text result into exactly len bytes: -1 when its size differs. */
int pg_col_bytes(const PGresult *r, int row, int col, void *dst, size_t len);

/* Row row of r as the shared readers of store_rows.h see it; q may be NULL
 * when the reader checks no number (store_cols.store). */
void pg_cols(struct pg_store *q, const PGresult *r, int row, struct store_cols *c);

/*
 * Reads every row of r into a new array of records of kind k; on failure
 * the records read so far are released and nothing is returned. The
 * caller frees *rows with the records' _free.
 */
int pg_read_rows(struct pg_store *q, const PGresult *r, const struct store_rows_kind *k,
		 void **rows, size_t *n);

/* Runs st with p and reads its rows as pg_read_rows does. */
int pg_exec_rows(struct pg_store *q, const struct pg_stmt *st, const struct pg_params *p,
		 const struct store_rows_kind *k, void **rows, size_t *n);

/* --- transactions ------------------------------------------------------------------ */

/*
 * Opens a transaction, or a savepoint inside one (store_tx_begin, or an
 * operation calling another): the work succeeds or fails as a whole and
 * the outermost end decides for all of it.
 */
int pg_begin(struct pg_store *q);
/* Commits (rc STORE_OK) or rolls back to where pg_begin was; returns the final status. */
int pg_end_tx(struct pg_store *q, int rc);

/*
 * Holds the org's write lock until the transaction ends: writers of one org
 * that read before they write (numbering, the one Pending sync, the role
 * checks) queue here, as SQLite's BEGIN IMMEDIATE queues every writer.
 */
int pg_lock_org(struct pg_store *q, int64_t org_id);
/* STORE_ENOTFOUND (with a message) unless the org exists. */
int pg_org_exists(struct pg_store *q, int64_t org_id);
/*
 * pg_begin, the org's lock when lock is true, then STORE_ENOTFOUND (with a
 * message) unless the org exists; on failure no transaction is left open.
 */
int pg_begin_org(struct pg_store *q, int64_t org_id, bool lock);
/*
 * The rows of st bound to org_id (its $1), read as pg_read_rows does within
 * one transaction; STORE_ENOTFOUND (with a message) when the org does not
 * exist. On failure nothing is returned.
 */
int pg_org_rows(struct pg_store *q, int64_t org_id, const struct pg_stmt *st,
		const struct store_rows_kind *k, void **rows, size_t *n);
/* Bumps the org's version (its records changed) within the caller's transaction. */
int pg_touch_org(struct pg_store *q, int64_t org_id);

/*
 * Records an invitation of the member (row member_id, named by m's
 * external id, email and names) made by sync_id (0: by an administrator)
 * and queues its message, which carries the token in clear; the row keeps
 * only hash. Within the caller's transaction (postgres_tenants.c).
 */
int pg_add_invitation(struct pg_store *q, int64_t org_id, int64_t sync_id, int64_t member_id,
		      const struct member *m, const char *token, const uint8_t hash[STORE_HASH_LEN],
		      int64_t now);

/*
 * Within the caller's transaction, after members were deleted or
 * deactivated: the org's invitations not sent yet whose member is gone or
 * deactivated become dead, their clear token erased; one statement for
 * the whole change (postgres_delivery.c).
 */
int pg_withdraw_invitations(struct pg_store *q, int64_t org_id);

/* --- the ops table: each file registers its own operations ---------------------- */
void pg_ops_tenants(struct store_ops *o);  /* postgres_tenants.c */
void pg_ops_scim(struct store_ops *o);     /* postgres_scim.c */
void pg_ops_org(struct store_ops *o);      /* postgres_org.c: org_load, apply */
void pg_ops_sync(struct store_ops *o);     /* postgres_sync.c: queue, payloads, plans, reports */
void pg_ops_delivery(struct store_ops *o); /* postgres_delivery.c */

#endif
