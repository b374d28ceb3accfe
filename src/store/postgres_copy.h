/*
 * store on PostgreSQL: rows streamed into a table with COPY ... FROM STDIN
 * (text format), for bulk writes: an apply's staging tables, a sync's
 * issues and plan. Fields are escaped here; rows are buffered and sent in
 * pieces of about 256 KiB. Private to src/store/.
 */
#ifndef ORGSYNC_STORE_POSTGRES_COPY_H
#define ORGSYNC_STORE_POSTGRES_COPY_H

#include "store/postgres.h"
#include "util/buf.h"

struct pg_copy {
	struct pg_store *q;
	struct buf rows;  /* owned: rows not yet sent */
	bool first;       /* the next field starts a row */
	int rc;           /* the first failure; later calls do nothing */
};

/* Starts "COPY table (columns) FROM STDIN" (sql, constant text). */
int pg_copy_begin(struct pg_copy *c, struct pg_store *q, const char *sql);
/* Fields of the current row, in column order; NULL text is SQL NULL. */
void pg_copy_text(struct pg_copy *c, const char *s);
void pg_copy_textn(struct pg_copy *c, const char *s, size_t len);
void pg_copy_int(struct pg_copy *c, int64_t v);
void pg_copy_null(struct pg_copy *c);
/* Ends the current row. */
void pg_copy_row(struct pg_copy *c);
/* Sends what is left and ends the COPY; with rc not STORE_OK (the caller
 * gave up) aborts it instead. Returns the outcome; frees the buffer. */
int pg_copy_end(struct pg_copy *c, int rc);

#endif
