/*
 * testdb: a fresh, empty database for one test on the backend the run asks
 * for: a SQLite file under TMPDIR, or, with ORGSYNC_TEST_DB set to a
 * PostgreSQL server's URL prefix (postgresql://postgres@127.0.0.1:PORT/,
 * make pg-check), a database of its own on that server. testdb_drop
 * removes either. A PostgreSQL test database also gets SQLite's
 * json_extract(text, '$.a.b') so that a test's checks read JSON columns
 * with one SQL for both engines. Include after <cmocka.h>.
 */
#ifndef ORGSYNC_TEST_TESTDB_H
#define ORGSYNC_TEST_TESTDB_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

struct testdb {
	char url[4200];  /* what store_open takes */
	char path[4096]; /* SQLite: the file */
	char name[64];   /* PostgreSQL: the database */
	bool pg;
};

/* The PostgreSQL server's URL prefix the run asks for; NULL: SQLite. */
static inline const char *testdb_pg_prefix(void)
{
	const char *p = getenv("ORGSYNC_TEST_DB");

	return p && *p ? p : NULL;
}

/* Runs sql on the database named db of the PostgreSQL server; false (said on stderr) on failure. */
static inline bool testdb_pg_exec(const char *db, const char *sql)
{
	char url[4200];
	PGconn *c;
	PGresult *r;
	bool ok;

	snprintf(url, sizeof(url), "%s%s", testdb_pg_prefix(), db);
	c = PQconnectdb(url);
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok;
}

static inline void testdb_drop(const struct testdb *d)
{
	char sql[128], p[4200];

	if (d->pg) {
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", d->name);
		testdb_pg_exec("postgres", sql);
		return;
	}
	unlink(d->path);
	snprintf(p, sizeof(p), "%s-wal", d->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", d->path);
	unlink(p);
}

/* A new database named after tag (letters and digits); 0 or -1. */
static inline int testdb_create(struct testdb *d, const char *tag)
{
	static unsigned counter;
	const char *tmp = getenv("TMPDIR");
	char sql[128];
	int fd;

	memset(d, 0, sizeof(*d));
	if (testdb_pg_prefix()) {
		snprintf(d->name, sizeof(d->name), "orgsync_%s_%ld_%u", tag, (long)getpid(), ++counter);
		snprintf(d->url, sizeof(d->url), "%s%s", testdb_pg_prefix(), d->name);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", d->name);
		if (!testdb_pg_exec("postgres", sql))
			return -1;
		d->pg = true;
		if (testdb_pg_exec(d->name, "CREATE FUNCTION json_extract(j TEXT, path TEXT)"
					    " RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$ SELECT j::jsonb"
					    " #>> string_to_array(regexp_replace(substr(path, 3),"
					    " '\\[([0-9]+)\\]', '.\\1', 'g'), '.') $$"))
			return 0;
		testdb_drop(d);
		return -1;
	}
	snprintf(d->path, sizeof(d->path), "%s/orgsync-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp",
		 tag);
	fd = mkstemp(d->path);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(d->path); /* SQLite creates it: an empty file is a valid empty database anyway */
	snprintf(d->url, sizeof(d->url), "sqlite:%s", d->path);
	return 0;
}

/* A case about one backend's own files or schema history skips, visibly, on the other. */
#define TESTDB_SQLITE_ONLY(d)                                                            \
	do {                                                                             \
		if ((d)->pg) {                                                           \
			print_message("      (SQLite only: skipped on PostgreSQL)\n");       \
			skip();                                                          \
		}                                                                        \
	} while (0)

#define TESTDB_POSTGRES_ONLY(d)                                                          \
	do {                                                                             \
		if (!(d)->pg) {                                                          \
			print_message("      (PostgreSQL only: ORGSYNC_TEST_DB unset)\n");   \
			skip();                                                          \
		}                                                                        \
	} while (0)

#endif
