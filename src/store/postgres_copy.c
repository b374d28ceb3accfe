/*
 * COPY FROM STDIN in text format: one line per row, fields separated by
 * tabs, \N for NULL, and backslash, tab, newline and carriage return
 * escaped with a backslash (the only bytes the format reserves).
 */
#include "store/postgres_copy.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

enum { COPY_FLUSH = 256 * 1024 };

int pg_copy_begin(struct pg_copy *c, struct pg_store *q, const char *sql)
{
	PGresult *res;

	memset(c, 0, sizeof(*c));
	c->q = q;
	c->first = true;
	buf_init(&c->rows);
	res = PQexec(q->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN)
		c->rc = pg_fail(q, res);
	PQclear(res);
	return c->rc;
}

static void flush(struct pg_copy *c)
{
	if (c->rc || !c->rows.len)
		return;
	if (PQputCopyData(c->q->conn, c->rows.data, (int)c->rows.len) != 1)
		c->rc = store_set_error(&c->q->base, STORE_EIO, "COPY: %s",
					PQerrorMessage(c->q->conn));
	/* Rows may carry secrets (an invitation's token in its message). */
	sodium_memzero(c->rows.data, c->rows.len);
	buf_reset(&c->rows);
}

static void put(struct pg_copy *c, const char *s, size_t len)
{
	if (!c->rc && buf_append(&c->rows, s, len))
		c->rc = store_set_error(&c->q->base, STORE_ENOMEM, "out of memory");
}

static void sep(struct pg_copy *c)
{
	if (!c->first)
		put(c, "\t", 1);
	c->first = false;
}

void pg_copy_textn(struct pg_copy *c, const char *s, size_t len)
{
	size_t i, from = 0;

	sep(c);
	for (i = 0; i < len; i++) {
		const char *esc = NULL;

		switch (s[i]) {
		case '\\': esc = "\\\\"; break;
		case '\t': esc = "\\t"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		default: continue;
		}
		put(c, s + from, i - from);
		put(c, esc, 2);
		from = i + 1;
	}
	put(c, s + from, len - from);
}

void pg_copy_text(struct pg_copy *c, const char *s)
{
	if (!s)
		pg_copy_null(c);
	else
		pg_copy_textn(c, s, strlen(s));
}

void pg_copy_int(struct pg_copy *c, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	sep(c);
	put(c, num, (size_t)n);
}

void pg_copy_null(struct pg_copy *c)
{
	sep(c);
	put(c, "\\N", 2);
}

void pg_copy_row(struct pg_copy *c)
{
	put(c, "\n", 1);
	c->first = true;
	if (c->rows.len >= COPY_FLUSH)
		flush(c);
}

int pg_copy_end(struct pg_copy *c, int rc)
{
	PGresult *res;

	if (!rc)
		flush(c);
	if (!rc)
		rc = c->rc;
	if (PQputCopyEnd(c->q->conn, rc ? "abandoned" : NULL) != 1 && !rc)
		rc = store_set_error(&c->q->base, STORE_EIO, "COPY: %s",
				     PQerrorMessage(c->q->conn));
	/* The COPY's own result, then the end of the command. */
	while ((res = PQgetResult(c->q->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !rc)
			rc = pg_fail(c->q, res);
		PQclear(res);
	}
	if (c->rows.data)
		sodium_memzero(c->rows.data, c->rows.len);
	buf_free(&c->rows);
	return rc;
}
