/*
 * store/store_rows: what both backends make of a sync's rows, read here
 * from columns of text as a backend shows them (NULL: SQL NULL). The
 * backends' own reads are covered by test_store on SQLite and PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit/check.h"

#include "format/names.h"
#include "store/store_rows.h"

static int64_t fake_int(const struct store_cols *c, int col)
{
	const char *const *v = c->res;

	return v[col] ? strtoll(v[col], NULL, 10) : 0;
}

static const char *fake_text(const struct store_cols *c, int col)
{
	const char *const *v = c->res;

	return v[col];
}

static bool fake_bool(const struct store_cols *c, int col)
{
	const char *const *v = c->res;

	return v[col] && v[col][0] == 't';
}

/* Where the readers report a number out of range. */
static struct store reported;

/* n columns of v; ncols says how many the reader may look at. */
static struct store_cols cols_n(const char *const *v, int n)
{
	struct store_cols c = { fake_int, fake_text, fake_bool, &reported, v, 0, n };

	return c;
}

static struct store_cols cols_of(const char *const *v)
{
	return cols_n(v, 32);
}

static void test_plan_window(void **state)
{
	struct store_plan_page p = { .n = { 3, 2, 4 } };
	uint64_t from = 0, to = 0;

	(void)state;
	assert_true(store_rows_plan_window(&p, -1, 5, &from, &to));
	CHECK_EQ("all: first", 0, p.first);
	CHECK_EQ("all: end", 9, p.end);
	CHECK_EQ("all: page end, by the limit", 5, to);
	from = 0;
	assert_true(store_rows_plan_window(&p, 1, 10, &from, &to));
	CHECK_EQ("teams: first", 3, p.first);
	CHECK_EQ("teams: end", 5, p.end);
	CHECK_EQ("a from before the range starts at its first", 3, from);
	CHECK_EQ("teams: page end, by the range", 5, to);
	from = 7;
	assert_true(store_rows_plan_window(&p, 2, 1, &from, &to));
	CHECK_EQ("mappings from 7, one", 8, to);
	from = 9;
	assert_false(store_rows_plan_window(&p, 2, 10, &from, &to));
	CHECK_EQ("past the end: the range is still set", 5, p.first);
	from = 0;
	assert_false(store_rows_plan_window(&p, 0, 0, &from, &to));
	CHECK_EQ("no limit: the range is still set", 3, p.end);
}

static void test_plan_totals(void **state)
{
	const char *none[] = { NULL, NULL, NULL, NULL };
	const char *some[] = { "3", "2", "4", "1" };
	struct store_plan_page p = { 0 };
	struct store_cols c = cols_of(none);

	(void)state;
	CHECK_EQ("no plan", STORE_ENOTFOUND, store_rows_plan_totals(&c, &p));
	c = cols_of(some);
	CHECK_EQ("totals", STORE_OK, store_rows_plan_totals(&c, &p));
	CHECK_EQ("members", 3, p.n[0]);
	CHECK_EQ("teams", 2, p.n[1]);
	CHECK_EQ("mappings", 4, p.n[2]);
	CHECK_EQ("truncated", true, p.truncated);
}

/* Entries written as a chunk read back, those of the range only, at their seq. */
static void test_plan_chunk(void **state)
{
	struct store_plan_entry e[3] = {
		{ "member", "create", "E1", "a@x.example", 0, NULL },
		{ "member", "update", "E\"2", "b@x.example", 1, "{\"email\":{\"old\":\"c\",\"new\":\"b\"}}" },
		{ "team", "create", "T1", "Sales", 0, NULL },
	};
	const char *row[2] = { "2", NULL }, *bad[2] = { "0", "{\"not\":\"a chunk\"}" };
	struct store_plan_page p = { 0 };
	struct store s = { 0 };
	struct store_cols c;
	struct buf b;
	size_t cap = 0, i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < 3; i++)
		assert_int_equal(0, store_rows_plan_entry(&b, &e[i]));
	assert_int_equal(0, buf_putc(&b, ']'));
	assert_int_equal(0, buf_putc(&b, '\0'));
	row[1] = b.data;
	c = cols_of(row);
	CHECK_EQ("read", STORE_OK,
		 store_rows_plan_chunk(&s, &c, 2 * STORE_ROWS_PLAN_CHUNK + 1,
				       2 * STORE_ROWS_PLAN_CHUNK + 3, &p, &cap));
	CHECK_EQ("two in range", 2, p.count);
	CHECK_EQ("seq of the second", 2 * STORE_ROWS_PLAN_CHUNK + 1, p.rows[0].seq);
	CHECK_STR("subject, unescaped", "E\"2", p.rows[0].subject);
	CHECK_STR("changes kept", "{\"email\":{\"old\":\"c\",\"new\":\"b\"}}", p.rows[0].changes);
	CHECK_EQ("flags", 1, p.rows[0].flags);
	CHECK_STR("type of the third", "team", p.rows[1].type);
	CHECK_EQ("no changes", true, p.rows[1].changes == NULL);
	c = cols_of(bad);
	CHECK_EQ("malformed", STORE_EIO, store_rows_plan_chunk(&s, &c, 0, 10, &p, &cap));
	CHECK_STR("its message", "a stored plan is malformed", s.err);
	store_plan_page_free(&p);
	buf_free(&b);
}

static void test_sync_row(void **state)
{
	const char *v[19] = { "7",    "3",   "Paused", "api", "full", "csv", "1",  NULL, "{}", NULL,
			      "100", "200", "0",      "12",  "4",    "",    NULL, "0",  NULL };
	struct sync_row r;
	struct store_cols c = cols_of(v);

	(void)state;
	CHECK_EQ("read", STORE_OK, store_rows_sync(&c, &r));
	CHECK_EQ("id", 7, r.id);
	CHECK_EQ("org", 3, r.org_id);
	CHECK_EQ("status", SYNC_PAUSED, r.status);
	CHECK_STR("source", "api", r.source);
	CHECK_EQ("dry run", true, r.dry_run);
	CHECK_EQ("no reason", true, r.reason == NULL);
	CHECK_STR("counts", "{}", r.counts_json);
	CHECK_EQ("started", 200, r.started_at);
	CHECK_EQ("issues", 12, r.issues);
	CHECK_EQ("number", 4, r.number);
	CHECK_STR("no decision", "", r.decision);
	store_sync_row_free(&r);
	v[2] = "no such status";
	CHECK_EQ("read again", STORE_OK, store_rows_sync(&c, &r));
	CHECK_EQ("an unknown status reads as Failed", SYNC_FAILED, r.status);
	store_sync_row_free(&r);
}

/* A stored report keeps its first issues and counts the rest. */
static void test_issues_and_totals(void **state)
{
	const char *totals[4] = { "0", "5", "1", "3" };
	const char *issue[8] = { "error", "invalid_email", "m.csv", "4", "2", "email", "E1", "bad" };
	const char *odd[8] = { "grave", "no_such_code", NULL, "0", "0", NULL, NULL, "odd" };
	struct store_rows_totals t;
	struct store_cols c = cols_of(totals);
	struct report rep;

	(void)state;
	report_init(&rep);
	report_add(&rep, ISSUE_WARNING, CODE_UNKNOWN_FIELD, &(struct issue_loc){ "x.csv", 1, 1, "", "" },
		   "%s", "already there");
	CHECK_EQ("totals", STORE_OK, store_rows_totals_read(&c, &rep, &t));
	c = cols_of(issue);
	CHECK_EQ("issue", STORE_OK, store_rows_issue(&c, &rep));
	c = cols_of(odd);
	CHECK_EQ("odd issue", STORE_OK, store_rows_issue(&c, &rep));
	issue[3] = "-1";
	c = cols_of(issue);
	CHECK_EQ("a line out of range", STORE_EIO, store_rows_issue(&c, &rep));
	CHECK_STR("its message", "an issue's line out of range: -1", reported.err);
	issue[3] = "4";
	CHECK_EQ("three kept", 3, rep.count);
	CHECK_STR("file", "m.csv", rep.issues[1].file);
	CHECK_EQ("line", 4, rep.issues[1].line);
	CHECK_STR("record", "E1", rep.issues[1].record_id);
	CHECK_EQ("code", CODE_INVALID_EMAIL, rep.issues[1].code);
	CHECK_EQ("unknown severity: error", ISSUE_ERROR, rep.issues[2].severity);
	CHECK_EQ("unknown code: invalid value", CODE_INVALID_VALUE, rep.issues[2].code);
	CHECK_STR("NULL file: empty", "", rep.issues[2].file);
	store_rows_totals_apply(&t, &rep);
	CHECK_EQ("errors raised to the stored count", 5, rep.by_severity[ISSUE_ERROR]);
	CHECK_EQ("warnings: the one before and the stored one", 2, rep.by_severity[ISSUE_WARNING]);
	CHECK_EQ("dropped", 3, rep.dropped);
	report_free(&rep);
}

/* A record of kind k read from v, zeroed first as the backends do. */
static int read_kind(const struct store_rows_kind *k, const char *const *v, int n, void *rec)
{
	struct store_cols c = cols_n(v, n);

	memset(rec, 0, k->elem);
	return k->read(&c, rec);
}

static void test_kinds(void **state)
{
	const char *admin[4] = { "boss@x.example", "E1", "no such state", "42" };
	const char *ref[3] = { "id-1", "Team", "t" };
	const char *claimed[11] = { "5", "dlv_1", "3", "invitation", "a@x.example", NULL,
				    "1", "10", "10", "99", NULL };
	const char *listed[12] = { "5", "dlv_1", "3", "webhook", "https://h.example", "dead",
				   "4", "timeout", "10", "0", "0", "11" };
	struct store_admin a;
	struct store_scim_ref r;
	struct store_delivery d;
	char *str, **v;

	(void)state;
	CHECK_EQ("admin", STORE_OK, read_kind(&store_rows_admins, admin, 4, &a));
	CHECK_EQ("an unknown state reads as active", STATE_ACTIVE, a.state);
	CHECK_EQ("since", 42, a.added_at);
	CHECK_STR("email", "boss@x.example", a.email);
	store_rows_admins.clear(&a);
	CHECK_EQ("ref of three columns", STORE_OK, read_kind(&store_rows_scim_refs, ref, 3, &r));
	CHECK_EQ("a group", true, r.group);
	store_rows_scim_refs.clear(&r);
	CHECK_EQ("ref of two columns", STORE_OK, read_kind(&store_rows_scim_refs, ref, 2, &r));
	CHECK_EQ("a member", false, r.group);
	store_rows_scim_refs.clear(&r);
	CHECK_EQ("a claim needs a payload", STORE_ENOMEM,
		 read_kind(&store_rows_claimed, claimed, 11, &d));
	store_rows_claimed.clear(&d);
	claimed[5] = "{\"token\":\"secret\"}";
	CHECK_EQ("claimed", STORE_OK, read_kind(&store_rows_claimed, claimed, 11, &d));
	CHECK_EQ("sending", DELIVERY_SENDING, d.status);
	CHECK_EQ("the lease is the next attempt", 99, d.next_attempt_at);
	CHECK_STR("kind", "invitation", d.kind);
	store_rows_claimed.clear(&d);
	CHECK_EQ("listed", STORE_OK, read_kind(&store_rows_deliveries, listed, 12, &d));
	CHECK_EQ("dead", DELIVERY_DEAD, d.status);
	CHECK_EQ("no payload in a listing", true, d.payload == NULL);
	CHECK_STR("last error", "timeout", d.last_error);
	CHECK_EQ("retry from", 11, d.retry_from);
	store_rows_deliveries.clear(&d);

	/* store_rows_free clears each record, then the array. */
	v = calloc(2, sizeof(*v));
	assert_non_null(v);
	str = strdup("a");
	v[0] = str;
	store_rows_free(&store_rows_strings, v, 2);
	store_rows_free(&store_rows_strings, NULL, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plan_window),
		cmocka_unit_test(test_plan_totals),
		cmocka_unit_test(test_plan_chunk),
		cmocka_unit_test(test_sync_row),
		cmocka_unit_test(test_issues_and_totals),
		cmocka_unit_test(test_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
