/*
 * store on SQLite: schema migrations, keys (format, hashing, garbage
 * refused), settings, properties, org load/apply round trips with every
 * kind of change (swaps included) and all-or-nothing failure, the sync
 * queue under two connections, transitions racing, reports, recovery,
 * tenant isolation, invitations and admins. Each test works on its own
 * database file under /tmp, removed afterwards; with ORGSYNC_TEST_DB set
 * to a PostgreSQL URL prefix (postgresql://postgres@127.0.0.1:PORT/, make
 * pg-check) the same tests run on PostgreSQL, each on a database of its
 * own, and the cases about SQLite's own files and schema history skip.
 * `test_store --scale N` runs only the round trip of a large org, with N
 * members, and prints its times (bench/scale.sh).
 */
#include <pthread.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "format/names.h"
#include "unit/check.h"
#include "unit/testdb.h"
#include <jansson.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "ingest/ingest.h"
#include "model/org.h"
#include "model/report.h"
#include "plan/plan.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/os.h"

#define CHECK_OK(what, call) CHECK_EQ(what, STORE_OK, (call))

/* --- fixture: one database file per test ------------------------------------ */

struct fx {
	struct testdb db;
	struct store *s;
	int64_t org;
	char key[STORE_KEY_MAX];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256];

	if (!f)
		return -1;
	if (testdb_create(&f->db, "test_store")) {
		free(f);
		return -1;
	}
	if (store_open(f->db.url, &f->s, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "store_open %s: %s\n", f->db.url, err);
		testdb_drop(&f->db);
		free(f);
		return -1;
	}
	if (store_org_create(f->s, "Maple", &f->org, f->key) != STORE_OK) {
		store_close(f->s);
		testdb_drop(&f->db);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	testdb_drop(&f->db);
	free(f);
	return 0;
}

/* A second connection on the fixture's file. */
static struct store *open_again(const struct fx *f)
{
	struct store *s = NULL;
	char err[256];

	if (store_open(f->db.url, &s, err, sizeof(err)) != STORE_OK)
		fail_msg("second store_open: %s", err);
	return s;
}

/* Runs one SQL statement on the file directly, for checks the API does not offer. */
static sqlite3 *raw_open(const struct fx *f)
{
	sqlite3 *db = NULL;

	if (sqlite3_open(f->db.path, &db) != SQLITE_OK)
		fail_msg("sqlite3_open %s", f->db.path);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

/* The first column of the first row of sql on PostgreSQL (NULL when no row). */
static char *pg_raw(const struct fx *f, const char *sql)
{
	PGconn *c = PQconnectdb(f->db.url);
	PGresult *r = PQexec(c, sql);
	char *v = NULL;

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

static long long raw_int(const struct fx *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	long long v = -1;
	char *text;

	if (f->db.pg) {
		text = pg_raw(f, sql);
		v = text ? strtoll(text, NULL, 10) : -1;
		free(text);
		return v;
	}
	db = raw_open(f);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* The first column of the first row as a malloc'ed string (NULL when no row). */
static char *raw_text(const struct fx *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st = NULL;
	char *v = NULL;

	if (f->db.pg)
		return pg_raw(f, sql);
	db = raw_open(f);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		v = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void raw_exec(const struct fx *f, const char *sql)
{
	sqlite3 *db;

	if (f->db.pg) {
		free(pg_raw(f, sql));
		return;
	}
	db = raw_open(f);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* From now on each row inserted, updated or deleted in table adds a row to the table writes. */
static void count_writes(const struct fx *f, const char *table)
{
	char sql[768];

	if (f->db.pg)
		snprintf(sql, sizeof(sql),
			 "CREATE TABLE IF NOT EXISTS writes (n INTEGER);"
			 " CREATE OR REPLACE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql"
			 " AS $$ BEGIN INSERT INTO writes VALUES (1); RETURN NULL; END $$;"
			 " CREATE TRIGGER %s_writes AFTER INSERT OR UPDATE OR DELETE ON %s"
			 " FOR EACH ROW EXECUTE FUNCTION count_write();",
			 table, table);
	else
		snprintf(sql, sizeof(sql),
			 "CREATE TABLE IF NOT EXISTS writes (n INTEGER);"
			 " CREATE TRIGGER %s_i AFTER INSERT ON %s BEGIN INSERT INTO writes VALUES (1); END;"
			 " CREATE TRIGGER %s_u AFTER UPDATE ON %s BEGIN INSERT INTO writes VALUES (1); END;"
			 " CREATE TRIGGER %s_d AFTER DELETE ON %s BEGIN INSERT INTO writes VALUES (1); END;",
			 table, table, table, table, table, table);
	raw_exec(f, sql);
}

/* --- building orgs and plans by hand ------------------------------------------ */

struct mspec {
	const char *id, *email, *first, *last, *title, *image;
	const char *langs; /* "fr;en" */
	unsigned products;
	const char *props[4][2]; /* name, value; stops at a NULL name */
	int role;
};

static const char *dup_str(struct org *o, const char *s)
{
	const char *p = org_strdup(o, s ? s : "", s ? strlen(s) : 0);

	assert_non_null(p);
	return p;
}

static uint32_t add_m(struct org *o, const struct mspec *ms)
{
	struct member m;
	struct member_prop *props;
	uint32_t i, n = 0, index;
	const char *l;

	memset(&m, 0, sizeof(m));
	m.external_id = dup_str(o, ms->id);
	m.email = dup_str(o, ms->email);
	m.first_name = dup_str(o, ms->first);
	m.last_name = dup_str(o, ms->last);
	m.job_title = dup_str(o, ms->title);
	m.image_url = dup_str(o, ms->image);
	for (l = ms->langs; l && *l;) {
		size_t len = strcspn(l, ";");
		int lang = format_lang_parse(l, len);

		assert_true(lang >= 0);
		m.langs[m.nlangs++] = (uint8_t)lang;
		l += len + (l[len] == ';');
	}
	m.products = (uint8_t)(ms->products ? ms->products : 1u << PRODUCT_OFFICEVIBE);
	m.role = (uint8_t)ms->role;
	while (n < 4 && ms->props[n][0])
		n++;
	props = org_alloc(o, (n ? n : 1) * sizeof(*props));
	assert_non_null(props);
	for (i = 0; i < n; i++) {
		uint32_t j;

		assert_int_equal(ORG_OK, org_add_property(o, ms->props[i][0],
							  strlen(ms->props[i][0]), &index));
		/* by rising index, as the org requires */
		for (j = m.nprops; j > 0 && props[j - 1].index > index; j--)
			props[j] = props[j - 1];
		props[j].index = index;
		props[j].value = dup_str(o, ms->props[i][1]);
		m.nprops++;
	}
	m.props = props;
	assert_int_equal(ORG_OK, org_add_member(o, &m, &index, NULL));
	return index;
}

static uint32_t add_t(struct org *o, const char *id, const char *name)
{
	struct team t = { dup_str(o, id), dup_str(o, name), 0 };
	uint32_t index;

	assert_int_equal(ORG_OK, org_add_team(o, &t, &index, NULL));
	return index;
}

static uint32_t member_ix(const struct org *o, const char *id)
{
	uint32_t i;

	if (!org_find_member(o, id, strlen(id), &i))
		fail_msg("member %s not in org", id);
	return i;
}

static uint32_t team_ix(const struct org *o, const char *id)
{
	uint32_t i;

	if (!org_find_team(o, id, strlen(id), &i))
		fail_msg("team %s not in org", id);
	return i;
}

/* member (or subteam, when member is NULL) -> team */
static uint32_t add_x(struct org *o, const char *team, const char *member, const char *subteam,
		      bool is_member, bool is_manager)
{
	struct mapping m;
	uint32_t index;

	memset(&m, 0, sizeof(m));
	m.team = team_ix(o, team);
	m.kind = member ? MAPPING_MEMBER : MAPPING_SUBTEAM;
	m.child = member ? member_ix(o, member) : team_ix(o, subteam);
	m.is_member = is_member;
	m.is_manager = is_manager;
	assert_int_equal(ORG_OK, org_add_mapping(o, &m, &index));
	return index;
}

static uint32_t mapping_ix(const struct org *o, const char *team, const char *member,
			   const char *subteam)
{
	uint32_t t = team_ix(o, team), c = member ? member_ix(o, member) : team_ix(o, subteam), i;
	uint8_t kind = member ? MAPPING_MEMBER : MAPPING_SUBTEAM;

	for (i = 0; i < o->nmappings; i++)
		if (o->mappings[i].team == t && o->mappings[i].child == c &&
		    o->mappings[i].kind == kind)
			return i;
	fail_msg("mapping %s <- %s not in org", team, member ? member : subteam);
	return PLAN_NONE;
}

/* A plan whose arrays hold up to the given numbers of changes. */
static void tplan_init(struct plan *p, const struct org *desired, uint32_t nm, uint32_t nt,
		       uint32_t nx)
{
	uint32_t i;

	memset(p, 0, sizeof(*p));
	p->members = calloc(nm + 1, sizeof(*p->members));
	p->teams = calloc(nt + 1, sizeof(*p->teams));
	p->mappings = calloc(nx + 1, sizeof(*p->mappings));
	p->desired_to_stored = malloc((desired->nmembers + 1) * sizeof(uint32_t));
	p->team_desired_to_stored = malloc((desired->nteams + 1) * sizeof(uint32_t));
	assert_true(p->members && p->teams && p->mappings && p->desired_to_stored &&
		    p->team_desired_to_stored);
	for (i = 0; i < desired->nmembers; i++)
		p->desired_to_stored[i] = PLAN_NONE;
	for (i = 0; i < desired->nteams; i++)
		p->team_desired_to_stored[i] = PLAN_NONE;
}

static void tplan_free(struct plan *p)
{
	free(p->members);
	free(p->teams);
	free(p->mappings);
	free(p->desired_to_stored);
	free(p->team_desired_to_stored);
	memset(p, 0, sizeof(*p));
}

static void pm(struct plan *p, uint32_t desired, uint32_t stored, int action, uint16_t changed,
	       bool invite)
{
	struct member_change *c = &p->members[p->nmembers++];

	c->desired = desired;
	c->stored = stored;
	c->action = (uint8_t)action;
	c->changed = changed;
	c->invite = invite;
	if (desired != PLAN_NONE && stored != PLAN_NONE)
		p->desired_to_stored[desired] = stored;
}

static void pt(struct plan *p, uint32_t desired, uint32_t stored, int action)
{
	struct team_change *c = &p->teams[p->nteams++];

	c->desired = desired;
	c->stored = stored;
	c->action = (uint8_t)action;
	if (desired != PLAN_NONE && stored != PLAN_NONE)
		p->team_desired_to_stored[desired] = stored;
}

static void px(struct plan *p, uint32_t desired, uint32_t stored, int action)
{
	struct mapping_change *c = &p->mappings[p->nmappings++];

	c->desired = desired;
	c->stored = stored;
	c->action = (uint8_t)action;
}

/* Everything in desired is new (a first sync); invite the members whose index is in invite. */
static void plan_all_create(struct plan *p, const struct org *desired, uint32_t invite)
{
	uint32_t i;

	tplan_init(p, desired, desired->nmembers, desired->nteams, desired->nmappings);
	for (i = 0; i < desired->nmembers; i++)
		pm(p, i, PLAN_NONE, MEMBER_CREATE, 0, i == invite);
	for (i = 0; i < desired->nteams; i++)
		pt(p, i, PLAN_NONE, TEAM_CREATE);
	for (i = 0; i < desired->nmappings; i++)
		px(p, i, PLAN_NONE, MAPPING_ADD);
}

/* Loads the fixture's org, failing the test on error. */
static void load(struct fx *f, struct org *o, struct store_ids *ids)
{
	org_init(o);
	if (store_org_load(f->s, f->org, o, ids) != STORE_OK)
		fail_msg("store_org_load: %s", store_error(f->s));
}

/* --- comparing orgs ------------------------------------------------------------ */

static void check_member(const char *id, const struct org *eo, const struct member *e,
			 const struct org *ao, const struct member *a)
{
	char what[128];
	uint32_t i;

#define FIELD(name)                                                             \
	do {                                                                    \
		snprintf(what, sizeof(what), "member %s " #name, id);           \
		CHECK_STR(what, e->name, a->name);                              \
	} while (0)
	FIELD(external_id);
	FIELD(email);
	FIELD(first_name);
	FIELD(last_name);
	FIELD(job_title);
	FIELD(image_url);
#undef FIELD
	snprintf(what, sizeof(what), "member %s nlangs", id);
	CHECK_EQ(what, e->nlangs, a->nlangs);
	for (i = 0; i < e->nlangs; i++) {
		snprintf(what, sizeof(what), "member %s language %u", id, i);
		CHECK_EQ(what, e->langs[i], a->langs[i]);
	}
	snprintf(what, sizeof(what), "member %s products", id);
	CHECK_EQ(what, e->products, a->products);
	snprintf(what, sizeof(what), "member %s role", id);
	CHECK_EQ(what, e->role, a->role);
	snprintf(what, sizeof(what), "member %s nprops", id);
	CHECK_EQ(what, e->nprops, a->nprops);
	for (i = 0; i < e->nprops; i++) {
		const char *name = eo->prop_names[e->props[i].index];
		uint32_t ai;

		snprintf(what, sizeof(what), "member %s property %s", id, name);
		if (!org_find_property(ao, name, strlen(name), &ai))
			fail_msg("%s: not defined in the loaded org", what);
		CHECK_STR(what, e->props[i].value, org_member_prop(a, ai));
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Mappings as sorted "team<kind>child:flags" strings, to compare orgs with different indexes. */
static char **mapping_keys(const struct org *o)
{
	char **v = calloc(o->nmappings + 1, sizeof(*v));
	uint32_t i;

	assert_non_null(v);
	for (i = 0; i < o->nmappings; i++) {
		const struct mapping *m = &o->mappings[i];
		const char *child = m->kind == MAPPING_MEMBER ? o->members[m->child].external_id
							       : o->teams[m->child].external_id;
		size_t n = strlen(child) + strlen(o->teams[m->team].external_id) + 16;

		v[i] = malloc(n);
		assert_non_null(v[i]);
		snprintf(v[i], n, "%s<%s%s:%d%d", o->teams[m->team].external_id,
			 m->kind == MAPPING_MEMBER ? "m:" : "t:", child, m->is_member, m->is_manager);
	}
	qsort(v, o->nmappings, sizeof(*v), cmp_str);
	return v;
}

static void free_keys(char **v, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Same members (fields, langs, products, props, role), teams and mappings; states not compared. */
static void check_same_org(const struct org *expected, const struct org *actual)
{
	char **ek, **ak;
	uint32_t i, j;

	CHECK_EQ("number of members", expected->nmembers, actual->nmembers);
	CHECK_EQ("number of teams", expected->nteams, actual->nteams);
	CHECK_EQ("number of mappings", expected->nmappings, actual->nmappings);
	for (i = 0; i < expected->nmembers; i++) {
		const struct member *e = &expected->members[i];

		if (!org_find_member(actual, e->external_id, strlen(e->external_id), &j))
			fail_msg("member %s: missing after load", e->external_id);
		check_member(e->external_id, expected, e, actual, &actual->members[j]);
	}
	for (i = 0; i < expected->nteams; i++) {
		const struct team *e = &expected->teams[i];

		if (!org_find_team(actual, e->external_id, strlen(e->external_id), &j))
			fail_msg("team %s: missing after load", e->external_id);
		CHECK_STR("team name", e->name, actual->teams[j].name);
	}
	ek = mapping_keys(expected);
	ak = mapping_keys(actual);
	for (i = 0; i < expected->nmappings; i++)
		CHECK_STR("mapping", ek[i], ak[i]);
	free_keys(ek, expected->nmappings);
	free_keys(ak, actual->nmappings);
}

static int state_of(const struct org *o, const char *id)
{
	return o->members[member_ix(o, id)].state;
}

/* The sample org: props with quotes, backslashes, control characters and
 * non-ASCII text; langs in order; several products; member and subteam mappings. */
static void sample_org(struct org *o)
{
	static const struct mspec ms[] = {
		{ "E1", "Elodie.Gagnon@Maple.example", "\xC3\x89lodie", "Gagnon", "Director, Sales",
		  "https://img.example/e1.png", "fr;en",
		  (1u << PRODUCT_OFFICEVIBE) | (1u << PRODUCT_LMS) | (1u << PRODUCT_WORKLEAP_AI),
		  { { "department", "Sales \xE2\x80\x94 Qu\xC3\xA9" "bec" },
		    { "costCenter", "say \"hi\" \\ back\tslash\n" } },
		  0 },
		{ "E2", "francois@maple.example", "Fran\xC3\xA7ois", "Tremblay", "", "", "en", 0,
		  { { "costCenter", "CC-2" } }, 0 },
		{ "E3", "akira@maple.example", "Akira", "\xE6\x9D\xB1\xE4\xBA\xAC", "Engineer", "",
		  "de;pt;es;fr;en", 1u << PRODUCT_SKILLS, { { NULL, NULL } }, 0 },
		{ "E4", "dana@maple.example", "Dana", "Scully", "", "", "", 0,
		  { { "department", "R&D" }, { "emoji", "\xF0\x9F\x98\x80" } }, 1 },
		{ "E5", "eve@maple.example", "Eve", "Moneypenny", "", "", "es", 0, { { NULL, NULL } }, 0 },
		{ "E6", "frank@maple.example", "Frank", "Castle", "", "", "", 0, { { NULL, NULL } }, 0 },
	};
	size_t i;

	org_init(o);
	for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		add_m(o, &ms[i]);
	add_t(o, "T1", "Company");
	add_t(o, "T2", "Sales");
	add_t(o, "T3", "Engineering");
	add_t(o, "T4", "Support \xE2\x80\x94 Montr\xC3\xA9" "al");
	add_x(o, "T1", NULL, "T2", true, false);
	add_x(o, "T1", NULL, "T3", true, false);
	add_x(o, "T3", NULL, "T4", false, false);
	add_x(o, "T1", "E1", NULL, true, true);
	add_x(o, "T2", "E1", NULL, false, true);
	add_x(o, "T2", "E2", NULL, true, false);
	add_x(o, "T3", "E3", NULL, true, false);
	add_x(o, "T4", "E3", NULL, true, true);
	add_x(o, "T4", "E5", NULL, true, false);
	add_x(o, "T3", "E6", NULL, true, false);
}

/* Defines o's properties in the fixture's org: values are stored only for defined properties. */
static void define_props(struct fx *f, const struct org *o)
{
	uint32_t i;

	for (i = 0; i < o->nprops; i++) {
		int rc = store_property_add(f->s, f->org, o->prop_names[i]);

		if (rc != STORE_OK && rc != STORE_ECONFLICT)
			fail_msg("define %s: %s", o->prop_names[i], store_error(f->s));
	}
}

/* Applies sample_org as a first sync (E2 invited). */
static void apply_sample(struct fx *f, struct org *desired)
{
	struct org empty;
	struct store_ids none = { NULL, NULL };
	struct plan p;

	sample_org(desired);
	define_props(f, desired);
	org_init(&empty);
	plan_all_create(&p, desired, member_ix(desired, "E2"));
	if (store_apply(f->s, f->org, 0, desired, &empty, &none, &p) != STORE_OK)
		fail_msg("first apply: %s", store_error(f->s));
	tplan_free(&p);
	org_free(&empty);
}

/* --- schema and tenants -------------------------------------------------------- */

static void test_migrations_idempotent(void **state)
{
	struct fx *f = *state;
	struct store *again;
	char *name = NULL, *mode, err[256];
	int64_t org;

	TESTDB_SQLITE_ONLY(&f->db);
	store_close(f->s);
	f->s = open_again(f);
	again = open_again(f);
	CHECK_OK("org still there after reopening", store_org_get(again, f->org, &name));
	CHECK_STR("org name", "Maple", name);
	free(name);
	CHECK_EQ("schema version", 15, raw_int(f, "PRAGMA user_version"));
	mode = raw_text(f, "PRAGMA journal_mode");
	CHECK_STR("journal mode", "wal", mode);
	free(mode);
	CHECK_EQ("one org table, created once", 1,
		 raw_int(f, "SELECT count(*) FROM sqlite_master WHERE name = 'orgs'"));
	CHECK_OK("key still valid", store_key_auth(again, f->key, &org));
	CHECK_EQ("key's org", f->org, org);
	store_close(again);
	/* A database from a newer program is refused, not misread. */
	raw_exec(f, "PRAGMA user_version = 99");
	again = (struct store *)1;
	CHECK_EQ("newer schema refused", STORE_EIO, store_open(f->db.url, &again, err, sizeof(err)));
	assert_null(again);
	assert_non_null(strstr(err, "99"));
	raw_exec(f, "PRAGMA user_version = 1");
}

static void test_open_errors(void **state)
{
	struct store *s = (struct store *)1;
	char err[256];

	(void)state;
	CHECK_EQ("no path", STORE_EINVAL, store_open("sqlite:", &s, err, sizeof(err)));
	assert_null(s);
	CHECK_EQ("a PostgreSQL server that does not answer", STORE_EIO,
		 store_open("postgresql://127.0.0.1:1/orgsync?connect_timeout=5", &s, err,
			    sizeof(err)));
	assert_null(s);
	assert_non_null(strstr(err, "PostgreSQL"));
}

/* Opens f's database from several threads at once. */
static void *open_concurrently(void *arg)
{
	const struct fx *f = arg;
	struct store *s = NULL;
	char err[256];
	intptr_t rc = store_open(f->db.url, &s, err, sizeof(err));

	if (rc)
		fprintf(stderr, "store_open: %s\n", err);
	store_close(s);
	return (void *)rc;
}

static void test_pg_schema(void **state)
{
	struct fx *f = *state, fresh = { 0 };
	struct store *again;
	pthread_t threads[4];
	char *name = NULL, err[256];
	void *rc;
	int64_t org;
	size_t i;

	TESTDB_POSTGRES_ONLY(&f->db);
	store_close(f->s);
	f->s = open_again(f);
	again = open_again(f);
	CHECK_OK("org still there after reopening", store_org_get(again, f->org, &name));
	CHECK_STR("org name", "Maple", name);
	free(name);
	CHECK_EQ("schema version", 3, raw_int(f, "SELECT max(version) FROM schema_version"));
	CHECK_EQ("each version once", 3, raw_int(f, "SELECT count(*) FROM schema_version"));
	CHECK_OK("key still valid", store_key_auth(again, f->key, &org));
	CHECK_EQ("key's org", f->org, org);
	store_close(again);
	/* A database from a newer program is refused, not misread. */
	raw_exec(f, "INSERT INTO schema_version (version, applied_at) VALUES (99, 0)");
	again = (struct store *)1;
	CHECK_EQ("newer schema refused", STORE_EIO, store_open(f->db.url, &again, err, sizeof(err)));
	assert_null(again);
	assert_non_null(strstr(err, "99"));
	raw_exec(f, "DELETE FROM schema_version WHERE version = 99");
	/* Processes starting at once on an empty database: one migrates, the others wait. */
	assert_int_equal(0, testdb_create(&fresh.db, "test_store"));
	for (i = 0; i < 4; i++)
		assert_int_equal(0, pthread_create(&threads[i], NULL, open_concurrently, &fresh));
	for (i = 0; i < 4; i++) {
		pthread_join(threads[i], &rc);
		CHECK_EQ("concurrent first open", STORE_OK, (intptr_t)rc);
	}
	CHECK_EQ("migrated once", 3, raw_int(&fresh, "SELECT count(*) FROM schema_version"));
	testdb_drop(&fresh.db);
	/* A connection the server closed fails the call it breaks, and the next opens it again. */
	CHECK_EQ("the store's connection ended", 1,
		 raw_int(f, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
			    " WHERE datname = current_database() AND pid <> pg_backend_pid()"));
	CHECK_EQ("the call it breaks", STORE_EIO, store_org_get(f->s, f->org, NULL));
	CHECK_OK("the next call", store_org_get(f->s, f->org, &name));
	CHECK_STR("its answer", "Maple", name);
	free(name);
	CHECK_OK("a prepared statement again", store_key_auth(f->s, f->key, &org));
}

/* The SQLSTATE of sql on PostgreSQL, "" when it succeeds (malloc'ed). */
static char *pg_raw_state(const struct fx *f, const char *sql)
{
	PGconn *c = PQconnectdb(f->db.url);
	PGresult *r = PQexec(c, sql);
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	char *v = strdup(st ? st : "");

	PQclear(r);
	PQfinish(c);
	return v;
}

static void check_state(const struct fx *f, const char *what, const char *state, const char *sql)
{
	char *got = pg_raw_state(f, sql);

	if (strcmp(got, state) != 0)
		fail_msg("%s: SQLSTATE '%s', expected '%s'", what, got, state);
	free(got);
}

/*
 * PostgreSQL's migration 2: values and mappings name rows of their own org
 * (checked once per statement) and go with the members, teams and
 * properties they name; a database at version 1 is brought to it.
 */
static void test_pg_references(void **state)
{
	struct fx *f = *state;
	char sql[1024];

	TESTDB_POSTGRES_ONLY(&f->db);
	store_close(f->s);
	f->s = NULL;
	/* Version 1 as it was: the foreign keys, no triggers, the keys in the database's collation. */
	raw_exec(f, "DROP INDEX outbox_unsent_invitations; ALTER TABLE outbox DROP COLUMN member_id;"
		    " DELETE FROM schema_version WHERE version = 3;"
		    " DROP TRIGGER members_inserted ON members; DROP TRIGGER members_updated ON members;"
		    " DROP TRIGGER orgs_gone ON orgs; DROP FUNCTION orgsync_members_check();"
		    " DROP FUNCTION orgsync_orgs_gone();"
		    " ALTER TABLE members ADD FOREIGN KEY (org_id) REFERENCES orgs(id) ON DELETE CASCADE,"
		    " ALTER COLUMN external_id TYPE TEXT COLLATE \"default\","
		    " ALTER COLUMN email_key TYPE TEXT COLLATE \"default\","
		    " ALTER COLUMN scim_id TYPE TEXT COLLATE \"default\";"
		    " ALTER TABLE teams ALTER COLUMN external_id TYPE TEXT COLLATE \"default\","
		    " ALTER COLUMN scim_id TYPE TEXT COLLATE \"default\";"
		    " DROP TRIGGER member_props_inserted ON member_props;"
		    " DROP TRIGGER member_props_updated ON member_props;"
		    " DROP TRIGGER mappings_inserted ON mappings; DROP TRIGGER mappings_updated ON mappings;"
		    " DROP TRIGGER members_gone ON members; DROP TRIGGER teams_gone ON teams;"
		    " DROP TRIGGER properties_gone ON properties;"
		    " DROP FUNCTION orgsync_values_check(); DROP FUNCTION orgsync_mappings_check();"
		    " DROP FUNCTION orgsync_members_gone(); DROP FUNCTION orgsync_teams_gone();"
		    " DROP FUNCTION orgsync_properties_gone();"
		    " ALTER TABLE member_props ADD FOREIGN KEY (org_id) REFERENCES orgs(id)"
		    " ON DELETE CASCADE, ADD FOREIGN KEY (member_id) REFERENCES members(id)"
		    " ON DELETE CASCADE, ADD FOREIGN KEY (property_id) REFERENCES properties(id)"
		    " ON DELETE CASCADE;"
		    " ALTER TABLE mappings ADD FOREIGN KEY (org_id) REFERENCES orgs(id) ON DELETE CASCADE,"
		    " ADD FOREIGN KEY (team_id) REFERENCES teams(id) ON DELETE CASCADE,"
		    " ADD FOREIGN KEY (member_id) REFERENCES members(id) ON DELETE CASCADE,"
		    " ADD FOREIGN KEY (subteam_id) REFERENCES teams(id) ON DELETE CASCADE;"
		    " DELETE FROM schema_version WHERE version = 2");
	f->s = open_again(f);
	CHECK_EQ("migrated", 3, raw_int(f, "SELECT max(version) FROM schema_version"));
	CHECK_EQ("no foreign key left on members, values and mappings", 0,
		 raw_int(f, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid IN"
			    " ('members'::regclass, 'member_props'::regclass, 'mappings'::regclass)"));
	CHECK_EQ("keys compare bytes", 5,
		 raw_int(f, "SELECT count(*) FROM information_schema.columns WHERE collation_name = 'C'"
			    " AND table_name IN ('members', 'teams')"
			    " AND column_name IN ('external_id', 'email_key', 'scim_id')"));
	snprintf(sql, sizeof(sql),
		 "INSERT INTO orgs (name, created_at) VALUES ('Other', 0);"
		 "INSERT INTO members (org_id, external_id, email, email_key, state, created_at,"
		 " updated_at) VALUES (%lld, 'M1', 'm1@x.example', 'm1@x.example', 'active', 0, 0),"
		 " (%lld, 'M2', 'm2@x.example', 'm2@x.example', 'active', 0, 0);"
		 "INSERT INTO teams (org_id, external_id, name, created_at, updated_at) VALUES"
		 " (%lld, 'T1', 'One', 0, 0), (%lld, 'T2', 'Two', 0, 0);"
		 "INSERT INTO properties (org_id, name, name_key, created_at) VALUES"
		 " (%lld, 'site', 'site', 0), (%lld, 'room', 'room', 0);"
		 "INSERT INTO member_props SELECT org_id, id,"
		 " (SELECT id FROM properties WHERE name = 'site'), 'x' FROM members;"
		 "INSERT INTO mappings (org_id, team_id, member_id, is_member, is_manager)"
		 " SELECT m.org_id, t.id, m.id, 1, 0 FROM members AS m, teams AS t;"
		 "INSERT INTO mappings (org_id, team_id, subteam_id, is_member, is_manager)"
		 " SELECT org_id, id, (SELECT max(id) FROM teams), 1, 0 FROM teams"
		 " WHERE external_id = 'T1'",
		 (long long)f->org, (long long)f->org, (long long)f->org, (long long)f->org,
		 (long long)f->org, (long long)f->org);
	raw_exec(f, sql);
	CHECK_EQ("values written", 2, raw_int(f, "SELECT count(*) FROM member_props"));
	CHECK_EQ("mappings written", 5, raw_int(f, "SELECT count(*) FROM mappings"));
	check_state(f, "a value of a member of another org", "23503",
		    "INSERT INTO member_props SELECT o.id, m.id, p.id, 'y' FROM orgs AS o,"
		    " members AS m, properties AS p WHERE o.name = 'Other' AND m.external_id = 'M1'"
		    " AND p.name = 'room'");
	check_state(f, "a value of no member", "23503",
		    "INSERT INTO member_props SELECT org_id, -1, id, 'y' FROM properties"
		    " WHERE name = 'room'");
	check_state(f, "a value moved to another org", "23503",
		    "UPDATE member_props SET org_id = (SELECT id FROM orgs WHERE name = 'Other')");
	check_state(f, "a mapping to a team of another org", "23503",
		    "INSERT INTO teams (org_id, external_id, name, created_at, updated_at)"
		    " SELECT id, 'T3', 'Three', 0, 0 FROM orgs WHERE name = 'Other';"
		    "INSERT INTO mappings (org_id, team_id, member_id, is_member, is_manager)"
		    " SELECT m.org_id, t.id, m.id, 1, 0 FROM members AS m, teams AS t"
		    " WHERE m.external_id = 'M2' AND t.external_id = 'T3'");
	check_state(f, "a mapping of no member", "23503",
		    "INSERT INTO mappings (org_id, team_id, member_id, is_member, is_manager)"
		    " SELECT org_id, id, -1, 1, 0 FROM teams WHERE external_id = 'T2'");
	check_state(f, "a mapping of no subteam", "23503",
		    "INSERT INTO mappings (org_id, team_id, subteam_id, is_member, is_manager)"
		    " SELECT org_id, id, -1, 1, 0 FROM teams WHERE external_id = 'T2'");
	check_state(f, "a valid value", "", "UPDATE member_props SET value = 'z'");
	check_state(f, "a member of no org", "23503",
		    "INSERT INTO members (org_id, external_id, email, email_key, state, created_at,"
		    " updated_at) VALUES (-1, 'M9', 'm9@x.example', 'm9@x.example', 'active', 0, 0)");
	check_state(f, "a member moved to no org", "23503", "UPDATE members SET org_id = -1");
	raw_exec(f, "DELETE FROM members WHERE external_id = 'M1'");
	CHECK_EQ("a member's values go with it", 1, raw_int(f, "SELECT count(*) FROM member_props"));
	CHECK_EQ("and its mappings", 3, raw_int(f, "SELECT count(*) FROM mappings"));
	raw_exec(f, "DELETE FROM teams WHERE external_id = 'T2'");
	CHECK_EQ("a team's mappings, as team and as subteam", 1,
		 raw_int(f, "SELECT count(*) FROM mappings"));
	raw_exec(f, "DELETE FROM properties");
	CHECK_EQ("a property's values", 0, raw_int(f, "SELECT count(*) FROM member_props"));
	raw_exec(f, "INSERT INTO properties (org_id, name, name_key, created_at)"
		    " SELECT id, 'site', 'site', 0 FROM orgs;"
		    "INSERT INTO member_props SELECT m.org_id, m.id, p.id, 'x' FROM members AS m"
		    " JOIN properties AS p ON p.org_id = m.org_id");
	CHECK_EQ("a value to go", 1, raw_int(f, "SELECT count(*) FROM member_props"));
	raw_exec(f, "DELETE FROM orgs");
	CHECK_EQ("an org's members go with it", 0, raw_int(f, "SELECT count(*) FROM members"));
	CHECK_EQ("and their values", 0, raw_int(f, "SELECT count(*) FROM member_props"));
	CHECK_EQ("and mappings", 0, raw_int(f, "SELECT count(*) FROM mappings"));
}

/* Settings saved before the limits on mappings, managers and identity changes get their defaults. */
/*
 * Takes the fixture's closed database back to an older schema version, as
 * a program of that version left it: each migration past it undone (those
 * that only update rows need nothing), newest first. Extend it with each
 * migration that changes the schema.
 */
static void rewind_schema(const struct fx *f, int version)
{
	static const char *const undo[] = {
		[15] = "DROP INDEX outbox_unsent_invitations; ALTER TABLE outbox DROP COLUMN member_id;",
		[14] = "DROP INDEX member_props_property;",
		[13] = "DROP INDEX syncs_queue; ALTER TABLE syncs DROP COLUMN claimed_by;"
		       " ALTER TABLE syncs DROP COLUMN lease_until;"
		       " ALTER TABLE syncs DROP COLUMN attempts;"
		       " CREATE INDEX syncs_queue ON syncs(id)"
		       " WHERE status = 'Pending' AND started_at IS NULL;",
		[12] = "ALTER TABLE members ADD COLUMN props TEXT;"
		       " UPDATE members SET props = (SELECT json_group_object(p.name, v.value)"
		       " FROM member_props AS v JOIN properties AS p ON p.id = v.property_id"
		       " WHERE v.member_id = members.id) WHERE id IN (SELECT member_id FROM member_props);"
		       " DROP TABLE member_props;",
		[11] = "DROP TABLE signin_links; DROP TABLE web_sessions;"
		       " DROP INDEX members_admin_email;",
		[10] = "DROP INDEX members_scim_id; DROP INDEX teams_scim_id;"
		      " ALTER TABLE members DROP COLUMN scim_id;"
		      " ALTER TABLE members DROP COLUMN scim_attrs;"
		      " ALTER TABLE teams DROP COLUMN scim_id;"
		      " ALTER TABLE teams DROP COLUMN scim_attrs;",
		[9] = "DROP INDEX outbox_delivery; DROP INDEX outbox_due; DROP INDEX outbox_org;"
		      " DROP INDEX outbox_kind_status; ALTER TABLE outbox DROP COLUMN delivery_id;"
		      " ALTER TABLE outbox DROP COLUMN status; ALTER TABLE outbox DROP COLUMN attempts;"
		      " ALTER TABLE outbox DROP COLUMN next_attempt_at;"
		      " ALTER TABLE outbox DROP COLUMN lease_until;"
		      " ALTER TABLE outbox DROP COLUMN last_error;"
		      " ALTER TABLE outbox DROP COLUMN retry_from;"
		      " CREATE INDEX outbox_unsent ON outbox(id) WHERE sent_at IS NULL;",
		[8] = "DROP TABLE sync_plan_chunks; ALTER TABLE syncs DROP COLUMN plan_members;"
		      " ALTER TABLE syncs DROP COLUMN plan_teams;"
		      " ALTER TABLE syncs DROP COLUMN plan_mappings;"
		      " ALTER TABLE syncs DROP COLUMN plan_truncated;",
		[7] = "DROP TABLE audit; ALTER TABLE syncs DROP COLUMN decision;"
		      " ALTER TABLE syncs DROP COLUMN decided_by;"
		      " ALTER TABLE syncs DROP COLUMN decided_at;"
		      " ALTER TABLE syncs DROP COLUMN decision_reason;",
		[6] = "DROP INDEX syncs_org_number; ALTER TABLE syncs DROP COLUMN number;"
		      " CREATE INDEX syncs_org ON syncs(org_id);",
		[5] = "DROP INDEX properties_name_key; ALTER TABLE properties DROP COLUMN name_key;",
		[4] = "ALTER TABLE members DROP COLUMN admin_since;",
	};
	char pragma[64];
	int v;

	for (v = (int)raw_int(f, "PRAGMA user_version"); v > version; v--)
		if (v < (int)(sizeof(undo) / sizeof(undo[0])) && undo[v])
			raw_exec(f, undo[v]);
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version);
	raw_exec(f, pragma);
}

static void test_migration_adds_new_risk_limits(void **state)
{
	struct fx *f = *state;
	char *json = NULL;
	json_t *root, *risk;

	TESTDB_SQLITE_ONLY(&f->db);
	store_close(f->s);
	f->s = NULL;
	raw_exec(f, "UPDATE orgs SET settings = '{\"provisioning\":{\"method\":\"api\"},"
		    "\"riskThreshold\":{\"members\":{\"percent\":20,\"count\":null},"
		    "\"teams\":{\"percent\":10,\"count\":null},\"idSwapPercent\":null}}';");
	rewind_schema(f, 2);
	f->s = open_again(f);
	CHECK_EQ("schema version after the upgrade", 15, raw_int(f, "PRAGMA user_version"));
	CHECK_OK("settings", store_settings_get(f->s, f->org, &json));
	root = json_loads(json, 0, NULL);
	assert_non_null(root);
	risk = json_object_get(root, "riskThreshold");
	CHECK_EQ("mappings.percent added", 10,
		 json_integer_value(json_object_get(json_object_get(risk, "mappings"), "percent")));
	assert_true(json_is_null(json_object_get(json_object_get(risk, "mappings"), "count")));
	CHECK_EQ("managersPercent added", 10,
		 json_integer_value(json_object_get(risk, "managersPercent")));
	CHECK_EQ("identityChangePercent added", 5,
		 json_integer_value(json_object_get(risk, "identityChangePercent")));
	CHECK_EQ("members.percent kept", 20,
		 json_integer_value(json_object_get(json_object_get(risk, "members"), "percent")));
	assert_true(json_is_null(json_object_get(risk, "idSwapPercent")));
	CHECK_STR("method kept", "api",
		  json_string_value(json_object_get(json_object_get(root, "provisioning"), "method")));
	json_decref(root);
	free(json);
}

static void test_org_create_and_key_auth(void **state)
{
	struct fx *f = *state;
	char key2[STORE_KEY_MAX], bad[STORE_KEY_MAX + 8], *name = NULL;
	int64_t org = 0, org2 = 0;
	size_t i;

	CHECK_EQ("key length", 64, strlen(f->key));
	assert_memory_equal("osk_", f->key, 4);
	CHECK_EQ("separator after the id", '_', f->key[20]);
	CHECK_OK("auth with the key", store_key_auth(f->s, f->key, &org));
	CHECK_EQ("auth gives the org", f->org, org);
	CHECK_OK("org get", store_org_get(f->s, f->org, &name));
	CHECK_STR("org name", "Maple", name);
	free(name);
	CHECK_OK("org get without name", store_org_get(f->s, f->org, NULL));
	CHECK_EQ("unknown org", STORE_ENOTFOUND, store_org_get(f->s, f->org + 100, NULL));
	CHECK_EQ("org without a name", STORE_EINVAL, store_org_create(f->s, "", &org2, key2));

	CHECK_OK("second org", store_org_create(f->s, "Birch", &org2, key2));
	assert_true(org2 != f->org);
	assert_true(strcmp(key2, f->key) != 0);
	CHECK_OK("auth second key", store_key_auth(f->s, key2, &org));
	CHECK_EQ("second key's org", org2, org);
	/* The other org's key id with our secret: the id finds a row, the hash refuses. */
	memcpy(bad, key2, 21);
	memcpy(bad + 21, f->key + 21, 44);
	CHECK_EQ("other org's id, wrong secret", STORE_ENOTFOUND, store_key_auth(f->s, bad, &org));
	/* One character changed anywhere: refused. */
	for (i = 0; i < 64; i++) {
		memcpy(bad, f->key, 65);
		bad[i] = bad[i] == 'a' ? 'b' : 'a';
		if (store_key_auth(f->s, bad, &org) != STORE_ENOTFOUND)
			fail_msg("key with character %zu changed was accepted", i);
	}
	memcpy(bad, f->key, 65);
	bad[63] = '\0';
	CHECK_EQ("truncated key", STORE_ENOTFOUND, store_key_auth(f->s, bad, &org));
	snprintf(bad, sizeof(bad), "%sA", f->key);
	CHECK_EQ("key with a character appended", STORE_ENOTFOUND, store_key_auth(f->s, bad, &org));
	CHECK_EQ("empty key", STORE_ENOTFOUND, store_key_auth(f->s, "", &org));
	CHECK_EQ("NULL key", STORE_ENOTFOUND, store_key_auth(f->s, NULL, &org));
	CHECK_EQ("bearer prefix left in", STORE_ENOTFOUND,
		 store_key_auth(f->s, "Bearer osk_0123456789abcdef_x", &org));
	memcpy(bad, f->key, 65);
	bad[5] = 'G'; /* not hex */
	CHECK_EQ("non-hex id", STORE_ENOTFOUND, store_key_auth(f->s, bad, &org));
	memcpy(bad, f->key, 65);
	bad[40] = '+'; /* base64, not base64url */
	CHECK_EQ("non-base64url secret", STORE_ENOTFOUND, store_key_auth(f->s, bad, &org));
}

/* Random garbage, random lengths, and keys with random bytes changed: never accepted, never a crash. */
static void test_key_auth_garbage(void **state)
{
	struct fx *f = *state;
	static const char alphabet[] = "osk_0123456789abcdefABCDEF-_+/=\x01\xff Z";
	char buf[160];
	uint64_t x = 0x9e3779b97f4a7c15u;
	int64_t org;
	int i;

	for (i = 0; i < 20000; i++) {
		size_t n, j;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (size_t)(x % 100);
		if (i % 3 == 0) {
			/* a valid key with one to three positions changed */
			memcpy(buf, f->key, 65);
			for (j = 0; j < 1 + x % 3; j++) {
				size_t pos = (size_t)((x >> (8 * j + 8)) % 64);
				char c = alphabet[(x >> (8 * j + 16)) % (sizeof(alphabet) - 1)];

				buf[pos] = c == f->key[pos] ? (char)(c ^ 1) : c;
			}
		} else {
			for (j = 0; j < n; j++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				buf[j] = i % 3 == 1 ? alphabet[x % (sizeof(alphabet) - 1)]
						    : (char)(1 + x % 255);
			}
			buf[n] = '\0';
			if (i % 5 == 0 && n > 4)
				memcpy(buf, "osk_", 4);
		}
		if (store_key_auth(f->s, buf, &org) != STORE_ENOTFOUND)
			fail_msg("garbage key accepted: '%s'", buf);
	}
}

static void test_key_rotation(void **state)
{
	struct fx *f = *state;
	char old[STORE_KEY_MAX], fresh[STORE_KEY_MAX];
	int64_t org;

	memcpy(old, f->key, sizeof(old));
	CHECK_OK("rotate", store_key_rotate(f->s, f->org, fresh));
	assert_true(strcmp(old, fresh) != 0);
	CHECK_EQ("old key refused at once", STORE_ENOTFOUND, store_key_auth(f->s, old, &org));
	CHECK_OK("new key accepted", store_key_auth(f->s, fresh, &org));
	CHECK_EQ("new key's org", f->org, org);
	CHECK_EQ("one key stored", 1, raw_int(f, "SELECT count(*) FROM api_keys"));
	CHECK_EQ("rotate unknown org", STORE_ENOTFOUND, store_key_rotate(f->s, f->org + 7, old));
	CHECK_OK("a failed rotation elsewhere leaves the key", store_key_auth(f->s, fresh, &org));
	CHECK_EQ("one key stored still", 1, raw_int(f, "SELECT count(*) FROM api_keys"));
}

/* --- settings and properties --------------------------------------------------- */

static void test_settings(void **state)
{
	struct fx *f = *state;
	const char *doc = "{\"provisioning\":{\"method\":\"api\"},\"autoInvite\":true,"
			  "\"notificationEmails\":[\"ops@maple.example\"],\"mode\":\"partial\"}";
	char *json = NULL;

	CHECK_OK("never set", store_settings_get(f->s, f->org, &json));
	assert_null(json); /* the defaults are the engine's (test_sync) */

	CHECK_OK("put", store_settings_put(f->s, f->org, doc));
	CHECK_OK("get after put", store_settings_get(f->s, f->org, &json));
	CHECK_STR("round trip", doc, json);
	free(json);
	CHECK_EQ("not JSON", STORE_EINVAL, store_settings_put(f->s, f->org, "{\"mode\":"));
	CHECK_EQ("an array", STORE_EINVAL, store_settings_put(f->s, f->org, "[1,2]"));
	CHECK_EQ("a string", STORE_EINVAL, store_settings_put(f->s, f->org, "\"full\""));
	CHECK_EQ("duplicate keys", STORE_EINVAL,
		 store_settings_put(f->s, f->org, "{\"mode\":\"full\",\"mode\":\"partial\"}"));
	CHECK_OK("get after refused puts", store_settings_get(f->s, f->org, &json));
	CHECK_STR("refused puts changed nothing", doc, json);
	free(json);
	CHECK_EQ("put unknown org", STORE_ENOTFOUND, store_settings_put(f->s, f->org + 9, "{}"));
	CHECK_EQ("get unknown org", STORE_ENOTFOUND, store_settings_get(f->s, f->org + 9, &json));
}

static void test_properties(void **state)
{
	struct fx *f = *state;
	char **names = NULL;
	size_t n = 0;

	CHECK_OK("list empty", store_properties_list(f->s, f->org, &names, &n));
	CHECK_EQ("none yet", 0, n);
	store_strings_free(names, n);
	CHECK_OK("add department", store_property_add(f->s, f->org, "department"));
	CHECK_OK("add costCenter", store_property_add(f->s, f->org, "costCenter"));
	CHECK_OK("add a name with a quote", store_property_add(f->s, f->org, "it's \"x\""));
	CHECK_EQ("add twice", STORE_ECONFLICT, store_property_add(f->s, f->org, "department"));
	CHECK_EQ("add empty", STORE_EINVAL, store_property_add(f->s, f->org, ""));
	CHECK_EQ("add to unknown org", STORE_ENOTFOUND, store_property_add(f->s, f->org + 3, "x"));
	CHECK_OK("list", store_properties_list(f->s, f->org, &names, &n));
	CHECK_EQ("three", 3, n);
	CHECK_STR("first in definition order", "department", names[0]);
	CHECK_STR("second", "costCenter", names[1]);
	CHECK_STR("third", "it's \"x\"", names[2]);
	store_strings_free(names, n);
	CHECK_OK("delete", store_property_delete(f->s, f->org, "department"));
	CHECK_EQ("delete again", STORE_ENOTFOUND, store_property_delete(f->s, f->org, "department"));
	CHECK_EQ("names are exact", STORE_ENOTFOUND,
		 store_property_delete(f->s, f->org, "COSTCENTER"));
	CHECK_OK("list after delete", store_properties_list(f->s, f->org, &names, &n));
	CHECK_EQ("two left", 2, n);
	CHECK_STR("costCenter left", "costCenter", names[0]);
	store_strings_free(names, n);
	CHECK_EQ("list unknown org", STORE_ENOTFOUND,
		 store_properties_list(f->s, f->org + 3, &names, &n));
	/* Input columns are matched ignoring case: so are definitions. */
	CHECK_EQ("add in another case", STORE_ECONFLICT,
		 store_property_add(f->s, f->org, "COSTCENTER"));
	assert_non_null(strstr(store_error(f->s), "'costCenter'"));
	CHECK_EQ("exact twice names it plainly", STORE_ECONFLICT,
		 store_property_add(f->s, f->org, "costCenter"));
	CHECK_STR("exact twice message", "property 'costCenter' is already defined",
		  store_error(f->s));
	CHECK_OK("a deleted name is free again", store_property_add(f->s, f->org, "Department"));
	CHECK_OK("delete Department", store_property_delete(f->s, f->org, "Department"));
	CHECK_OK("once deleted, another case is free", store_property_add(f->s, f->org, "department"));
}

/* --- apply and load ---------------------------------------------------------------- */

static void test_apply_first_sync_roundtrip(void **state)
{
	struct fx *f = *state;
	struct org desired, loaded;
	struct store_ids ids;
	char *payload, *token;
	json_t *root;
	int64_t org, member;
	uint32_t i;

	CHECK_OK("define department", store_property_add(f->s, f->org, "department"));
	apply_sample(f, &desired);
	load(f, &loaded, &ids);
	check_same_org(&desired, &loaded);
	CHECK_STR("members in id order (creation order)", "E1", loaded.members[0].external_id);
	CHECK_STR("last member", "E6", loaded.members[5].external_id);
	CHECK_STR("defined property first", "department", loaded.prop_names[0]);
	for (i = 1; i < loaded.nmembers; i++)
		assert_true(ids.members[i] > ids.members[i - 1]);
	for (i = 1; i < loaded.nteams; i++)
		assert_true(ids.teams[i] > ids.teams[i - 1]);
	CHECK_EQ("E1 created", STATE_CREATED, state_of(&loaded, "E1"));
	CHECK_EQ("E2 invited", STATE_INVITED, state_of(&loaded, "E2"));
	CHECK_EQ("E4 administrator", ROLE_ADMINISTRATOR,
		 loaded.members[member_ix(&loaded, "E4")].role);

	/* The invitation: one outbox message carries the token; the table only its hash. */
	CHECK_EQ("one invitation", 1, raw_int(f, "SELECT count(*) FROM invitations"));
	CHECK_EQ("one outbox message", 1,
		 raw_int(f, "SELECT count(*) FROM outbox WHERE kind = 'invitation'"
			    " AND recipient = 'francois@maple.example'"));
	payload = raw_text(f, "SELECT payload FROM outbox");
	root = json_loads(payload, 0, NULL);
	assert_non_null(root);
	CHECK_STR("payload memberId", "E2", json_string_value(json_object_get(root, "memberId")));
	CHECK_STR("payload email", "francois@maple.example",
		  json_string_value(json_object_get(root, "email")));
	token = strdup(json_string_value(json_object_get(root, "token")));
	CHECK_EQ("token length", 43, strlen(token));
	CHECK_EQ("token not stored in clear", 0,
		 raw_int(f, "SELECT count(*) FROM invitations WHERE CAST(token_hash AS TEXT) ="
			    " (SELECT json_extract(payload, '$.token') FROM outbox)"));
	CHECK_OK("accept the invitation", store_invitation_accept(f->s, token, &org, &member));
	CHECK_EQ("accepted for the org", f->org, org);
	CHECK_EQ("accepted for E2", ids.members[member_ix(&loaded, "E2")], member);
	json_decref(root);
	free(payload);
	free(token);
	store_ids_free(&ids);
	org_free(&loaded);
	load(f, &loaded, &ids);
	CHECK_EQ("E2 active after accepting", STATE_ACTIVE, state_of(&loaded, "E2"));
	store_ids_free(&ids);
	org_free(&loaded);
	org_free(&desired);
}

static struct ingest_input mem_input(const char *name, const char *s)
{
	struct ingest_input in = { name, NULL, s, strlen(s) };

	return in;
}

/* How many times a table was analyzed by a statement (PostgreSQL). */
static long long analyzed(const struct fx *f, const char *table)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT analyze_count FROM pg_stat_user_tables"
		 " WHERE relname = '%s'", table);
	return raw_int(f, sql);
}

/* ANALYZE_MIN_ROWS (postgres_org.c) and a bit more. */
enum { BIG_ORG = 1200 };

/* BIG_ORG members, each in team T1 or, with in_t2, in team T2. */
static void big_org(struct org *o, bool in_t2)
{
	char id[16], email[48];
	uint32_t i;

	org_init(o);
	add_t(o, "T1", "One");
	add_t(o, "T2", "Two");
	for (i = 0; i < BIG_ORG; i++) {
		struct mspec ms = { .email = email };

		snprintf(id, sizeof(id), "M%u", i);
		snprintf(email, sizeof(email), "m%u@big.example", i);
		ms.id = id;
		add_m(o, &ms);
		add_x(o, in_t2 ? "T2" : "T1", id, NULL, true, false);
	}
}

/*
 * PostgreSQL analyzes, once an apply committed, the tables it wrote a
 * good part of: after a first sync the members and mappings; after a
 * rewrite of every mapping, though their number stays, the mappings
 * alone; never the tables it wrote little of (the teams).
 */
static void test_apply_analyzes_what_it_rewrote(void **state)
{
	struct fx *f = *state;
	struct org first, moved, empty, stored;
	struct store_ids none = { NULL, NULL }, ids;
	struct plan p;
	long long members, mappings, teams;
	uint32_t i;

	TESTDB_POSTGRES_ONLY(&f->db);
	members = analyzed(f, "members");
	mappings = analyzed(f, "mappings");
	teams = analyzed(f, "teams");
	big_org(&first, false);
	org_init(&empty);
	plan_all_create(&p, &first, PLAN_NONE);
	CHECK_OK("first sync", store_apply(f->s, f->org, 0, &first, &empty, &none, &p));
	tplan_free(&p);
	CHECK_EQ("members analyzed", members + 1, analyzed(f, "members"));
	CHECK_EQ("mappings analyzed", mappings + 1, analyzed(f, "mappings"));
	CHECK_EQ("two teams are not worth it", teams, analyzed(f, "teams"));

	load(f, &stored, &ids);
	big_org(&moved, true);
	tplan_init(&p, &moved, BIG_ORG, 2, 2 * BIG_ORG);
	for (i = 0; i < BIG_ORG; i++)
		pm(&p, i, member_ix(&stored, moved.members[i].external_id), MEMBER_UNCHANGED, 0,
		   false);
	for (i = 0; i < 2; i++)
		pt(&p, i, team_ix(&stored, moved.teams[i].external_id), TEAM_UNCHANGED);
	for (i = 0; i < BIG_ORG; i++)
		px(&p, PLAN_NONE, i, MAPPING_REMOVE);
	for (i = 0; i < BIG_ORG; i++)
		px(&p, i, PLAN_NONE, MAPPING_ADD);
	CHECK_OK("every mapping moved", store_apply(f->s, f->org, 0, &moved, &stored, &ids, &p));
	CHECK_EQ("as many mappings", BIG_ORG, raw_int(f, "SELECT count(*) FROM mappings"));
	CHECK_EQ("mappings analyzed again", mappings + 2, analyzed(f, "mappings"));
	CHECK_EQ("members not written, not analyzed", members + 1, analyzed(f, "members"));
	tplan_free(&p);
	store_ids_free(&ids);
	org_free(&stored);
	org_free(&moved);
	org_free(&empty);
	org_free(&first);
}

/* What ingest builds (the real shape of a desired org) survives apply and load. */
static void test_apply_ingested_csv(void **state)
{
	struct fx *f = *state;
	static const char members[] =
		"externalMemberId,email,firstName,lastName,jobTitle,imageUrl,languagePreferences,"
		"productAssignations,department\n"
		"E1,anna@maple.example,Anna,\"O'Hara, Jr\",\"Chef \"\"de\"\" cuisine\",,fr;en,"
		"Skills;lms,Kitchen\n"
		"E2,bob@maple.example,Bob,Li,,,,,\n"
		"E3,cy@maple.example,Cy,Twombly,Painter,https://x.example/c.png,de,"
		"Workleap AI,Art \xE2\x80\x94 Paris\n";
	static const char teams[] = "externalTeamId,teamName\nT1,Company\nT2,Kitchen\n";
	static const char maps[] = "externalTeamId,externalMemberId,externalSubteamId,isMember,"
				   "isManager\nT1,,T2,,\nT2,E1,,true,true\nT2,E2,,,\nT1,E3,,no,yes\n";
	const char *props[] = { "department" };
	struct ingest_opts opts = { props, 1, false };
	struct ingest_input im = mem_input("members.csv", members), it = mem_input("teams.csv", teams),
			    ix = mem_input("teams-mappings.csv", maps);
	struct org desired, empty, loaded;
	struct store_ids none = { NULL, NULL }, ids;
	struct report rep;
	struct plan p;

	org_init(&desired);
	org_init(&empty);
	report_init(&rep);
	CHECK_EQ("ingest", INGEST_OK, ingest_csv(&im, &it, &ix, &opts, &desired, &rep, NULL));
	CHECK_EQ("no issues", 0, rep.count);
	CHECK_EQ("three members", 3, desired.nmembers);
	plan_all_create(&p, &desired, PLAN_NONE);
	define_props(f, &desired);
	CHECK_OK("apply", store_apply(f->s, f->org, 0, &desired, &empty, &none, &p));
	load(f, &loaded, &ids);
	check_same_org(&desired, &loaded);
	store_ids_free(&ids);
	org_free(&loaded);
	tplan_free(&p);
	report_free(&rep);
	org_free(&empty);
	org_free(&desired);
}


/* The desired org's members, teams and mappings, searched by id. */
static void check_members_as_desired(const struct org *desired, const struct org *loaded)
{
	char **ek, **ak;
	uint32_t i;

	for (i = 0; i < desired->nmembers; i++) {
		const struct member *e = &desired->members[i];

		check_member(e->external_id, desired, e, loaded,
			     &loaded->members[member_ix(loaded, e->external_id)]);
	}
	CHECK_EQ("teams", desired->nteams, loaded->nteams);
	for (i = 0; i < desired->nteams; i++)
		CHECK_STR("team name", desired->teams[i].name,
			  loaded->teams[team_ix(loaded, desired->teams[i].external_id)].name);
	CHECK_EQ("mappings", desired->nmappings, loaded->nmappings);
	ek = mapping_keys(desired);
	ak = mapping_keys(loaded);
	for (i = 0; i < desired->nmappings; i++)
		CHECK_STR("mapping", ek[i], ak[i]);
	free_keys(ek, desired->nmappings);
	free_keys(ak, loaded->nmappings);
}

static void copy_props(struct org *to, const struct org *from)
{
	uint32_t i;

	for (i = 0; i < from->nprops; i++)
		assert_int_equal(ORG_OK, org_add_property(to, from->prop_names[i],
							  strlen(from->prop_names[i]), NULL));
}

/*
 * From the sample: E1's fields change; E2 is re-keyed to E20 (adopted by
 * email); E3 and E4 swap emails (one of them changing case too); E5 is
 * deactivated; E6 deleted; E7 created; T2 renamed; T3 deleted (its
 * mappings go with it, T3 <- T4 and T3 <- E3 included); T5 created;
 * mappings removed, added (to new rows) and their flags changed.
 */
static void test_apply_changes(void **state)
{
	struct fx *f = *state;
	struct org first, stored, desired, loaded;
	struct store_ids ids, lids;
	struct plan p;
	uint32_t i;

	apply_sample(f, &first);
	load(f, &stored, &ids);

	org_init(&desired);
	copy_props(&desired, &stored);
	add_m(&desired, &(struct mspec){ "E1", "Elodie.Gagnon@Maple.example", "\xC3\x89lodie-Anne",
					 "Gagnon", "VP Sales", "https://img.example/e1.png",
					 "en;fr", 1u << PRODUCT_OFFICEVIBE,
					 { { "department", "Sales" } }, 0 });
	add_m(&desired, &(struct mspec){ "E20", "francois@maple.example", "Fran\xC3\xA7ois",
					 "Tremblay", "", "", "en", 0, { { "costCenter", "CC-2" } },
					 0 });
	add_m(&desired, &(struct mspec){ "E3", "dana@maple.example", "Akira",
					 "\xE6\x9D\xB1\xE4\xBA\xAC", "Engineer", "", "de;pt;es;fr;en",
					 1u << PRODUCT_SKILLS, { { NULL, NULL } }, 0 });
	add_m(&desired, &(struct mspec){ "E4", "AKIRA@maple.example", "Dana", "Scully", "", "", "",
					 0, { { "department", "R&D" }, { "emoji", "\xF0\x9F\x98\x80" } },
					 ROLE_ADMINISTRATOR });
	add_m(&desired, &(struct mspec){ "E7", "gina@maple.example", "Gina", "Linetti", "", "", "",
					 0, { { NULL, NULL } }, 0 });
	add_t(&desired, "T1", "Company");
	add_t(&desired, "T2", "Sales & Marketing");
	add_t(&desired, "T4", "Support \xE2\x80\x94 Montr\xC3\xA9" "al");
	add_t(&desired, "T5", "Kitchen");
	add_x(&desired, "T1", NULL, "T2", true, false);  /* kept */
	add_x(&desired, "T1", NULL, "T4", true, false);  /* added: T4 moves up under T1 */
	add_x(&desired, "T1", NULL, "T5", true, false);  /* added: a new team as subteam */
	add_x(&desired, "T1", "E1", NULL, true, false);  /* flags change: no longer manager */
	add_x(&desired, "T2", "E20", NULL, true, false); /* kept across the re-key */
	add_x(&desired, "T4", "E3", NULL, true, true);   /* kept */
	add_x(&desired, "T5", "E7", NULL, true, true);   /* added: new team, new member */

	tplan_init(&p, &desired, 16, 8, 16);
	pm(&p, member_ix(&desired, "E1"), member_ix(&stored, "E1"), MEMBER_UPDATE,
	   CHANGED_FIRST_NAME | CHANGED_JOB_TITLE | CHANGED_LANGS | CHANGED_PRODUCTS |
		   CHANGED_PROPS,
	   false);
	pm(&p, member_ix(&desired, "E20"), member_ix(&stored, "E2"), MEMBER_UPDATE,
	   CHANGED_EXTERNAL_ID, false);
	pm(&p, member_ix(&desired, "E3"), member_ix(&stored, "E3"), MEMBER_UPDATE, CHANGED_EMAIL,
	   false);
	pm(&p, member_ix(&desired, "E4"), member_ix(&stored, "E4"), MEMBER_UPDATE, CHANGED_EMAIL,
	   false);
	pm(&p, member_ix(&desired, "E7"), PLAN_NONE, MEMBER_CREATE, 0, false);
	pm(&p, PLAN_NONE, member_ix(&stored, "E5"), MEMBER_DEACTIVATE, 0, false);
	pm(&p, PLAN_NONE, member_ix(&stored, "E6"), MEMBER_DELETE, 0, false);
	pt(&p, team_ix(&desired, "T1"), team_ix(&stored, "T1"), TEAM_UNCHANGED);
	pt(&p, team_ix(&desired, "T2"), team_ix(&stored, "T2"), TEAM_RENAME);
	pt(&p, team_ix(&desired, "T4"), team_ix(&stored, "T4"), TEAM_UNCHANGED);
	pt(&p, team_ix(&desired, "T5"), PLAN_NONE, TEAM_CREATE);
	pt(&p, PLAN_NONE, team_ix(&stored, "T3"), TEAM_DELETE);
	px(&p, PLAN_NONE, mapping_ix(&stored, "T2", "E1", NULL), MAPPING_REMOVE);
	px(&p, PLAN_NONE, mapping_ix(&stored, "T4", "E5", NULL), MAPPING_REMOVE);
	/* Already gone with T3 when its turn comes: finds nothing, which is fine. */
	px(&p, PLAN_NONE, mapping_ix(&stored, "T1", NULL, "T3"), MAPPING_REMOVE);
	px(&p, mapping_ix(&desired, "T1", NULL, "T4"), PLAN_NONE, MAPPING_ADD);
	px(&p, mapping_ix(&desired, "T1", NULL, "T5"), PLAN_NONE, MAPPING_ADD);
	px(&p, mapping_ix(&desired, "T5", "E7", NULL), PLAN_NONE, MAPPING_ADD);
	px(&p, mapping_ix(&desired, "T1", "E1", NULL), mapping_ix(&stored, "T1", "E1", NULL),
	   MAPPING_CHANGE);
	if (store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p) != STORE_OK)
		fail_msg("apply changes: %s", store_error(f->s));

	load(f, &loaded, &lids);
	CHECK_EQ("members after apply (E5 stays, deactivated)", 6, loaded.nmembers);
	check_members_as_desired(&desired, &loaded);
	CHECK_EQ("E5 deactivated", STATE_DEACTIVATED, state_of(&loaded, "E5"));
	CHECK_EQ("E7 created", STATE_CREATED, state_of(&loaded, "E7"));
	CHECK_EQ("E20 keeps E2's state", STATE_INVITED, state_of(&loaded, "E20"));
	CHECK_EQ("E6 deleted", 0, org_find_member(&loaded, "E6", 2, &i));
	CHECK_EQ("E2 re-keyed away", 0, org_find_member(&loaded, "E2", 2, &i));
	CHECK_EQ("E20 is the row of E2", ids.members[member_ix(&stored, "E2")],
		 lids.members[member_ix(&loaded, "E20")]);
	CHECK_EQ("E3 keeps its row across the email swap", ids.members[member_ix(&stored, "E3")],
		 lids.members[member_ix(&loaded, "E3")]);
	CHECK_EQ("E4 keeps its row across the email swap", ids.members[member_ix(&stored, "E4")],
		 lids.members[member_ix(&loaded, "E4")]);
	CHECK_EQ("T3 deleted", 0, org_find_team(&loaded, "T3", 2, &i));
	CHECK_EQ("no mapping left pointing at a deleted row", 0,
		 raw_int(f, "SELECT count(*) FROM mappings m WHERE NOT EXISTS (SELECT 1 FROM teams"
			    " t WHERE t.id = m.team_id) OR (m.member_id IS NOT NULL AND NOT EXISTS"
			    " (SELECT 1 FROM members x WHERE x.id = m.member_id))"));
	CHECK_EQ("E2's invitation survives the re-key", 1,
		 raw_int(f, "SELECT count(*) FROM invitations"));

	store_ids_free(&lids);
	org_free(&loaded);
	tplan_free(&p);
	store_ids_free(&ids);
	org_free(&stored);
	org_free(&desired);
	org_free(&first);
}

/*
 * E5 deactivated, then back (reactivated, last name changed) while E3 and
 * E4 swap external ids, and E1, E2, E6 rotate their emails in a cycle.
 */
static void test_apply_reactivate_and_swaps(void **state)
{
	struct fx *f = *state;
	struct org first, stored, desired, loaded;
	struct store_ids ids, lids;
	struct plan p;
	uint32_t i;

	apply_sample(f, &first);
	load(f, &stored, &ids);
	tplan_init(&p, &first, 1, 0, 0);
	pm(&p, PLAN_NONE, member_ix(&stored, "E5"), MEMBER_DEACTIVATE, 0, false);
	CHECK_OK("deactivate E5", store_apply(f->s, f->org, 0, &first, &stored, &ids, &p));
	tplan_free(&p);
	store_ids_free(&ids);
	org_free(&stored);
	load(f, &stored, &ids);
	CHECK_EQ("E5 deactivated", STATE_DEACTIVATED, state_of(&stored, "E5"));

	org_init(&desired);
	copy_props(&desired, &stored);
	for (i = 0; i < stored.nmembers; i++) {
		const struct member *m = &stored.members[i];
		struct mspec ms = { m->external_id, m->email, m->first_name, m->last_name,
				    m->job_title, m->image_url, NULL, m->products, { { NULL, NULL } },
				    m->role };
		uint32_t k, d;
		char langs[32] = "";

		for (k = 0; k < m->nlangs; k++) {
			strcat(langs, k ? ";" : "");
			strcat(langs, format_lang_code(m->langs[k]));
		}
		ms.langs = langs;
		for (k = 0; k < m->nprops && k < 4; k++) {
			ms.props[k][0] = stored.prop_names[m->props[k].index];
			ms.props[k][1] = m->props[k].value;
		}
		if (strcmp(m->external_id, "E3") == 0)
			ms.id = "E4";
		else if (strcmp(m->external_id, "E4") == 0)
			ms.id = "E3";
		else if (strcmp(m->external_id, "E5") == 0)
			ms.last = "Moneypenny-Jones";
		else if (strcmp(m->external_id, "E1") == 0)
			ms.email = "francois@maple.example"; /* E2's */
		else if (strcmp(m->external_id, "E2") == 0)
			ms.email = "frank@maple.example"; /* E6's */
		else if (strcmp(m->external_id, "E6") == 0)
			ms.email = "elodie.gagnon@maple.example"; /* E1's, other case */
		d = add_m(&desired, &ms);
		assert_int_equal(d, i);
	}
	tplan_init(&p, &desired, stored.nmembers, 0, 0);
	for (i = 0; i < stored.nmembers; i++) {
		const char *id = stored.members[i].external_id;
		uint16_t changed = 0;
		int action = MEMBER_UPDATE;

		if (strcmp(id, "E3") == 0 || strcmp(id, "E4") == 0)
			changed = CHANGED_EXTERNAL_ID;
		else if (strcmp(id, "E5") == 0) {
			action = MEMBER_REACTIVATE;
			changed = CHANGED_LAST_NAME;
		} else if (strcmp(id, "E1") == 0 || strcmp(id, "E2") == 0 || strcmp(id, "E6") == 0)
			changed = CHANGED_EMAIL;
		else
			action = MEMBER_UNCHANGED;
		pm(&p, i, i, action, changed, false);
	}
	if (store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p) != STORE_OK)
		fail_msg("apply swaps: %s", store_error(f->s));
	load(f, &loaded, &lids);
	CHECK_EQ("members", 6, loaded.nmembers);
	for (i = 0; i < desired.nmembers; i++) {
		const struct member *e = &desired.members[i];
		uint32_t j = member_ix(&loaded, e->external_id);

		check_member(e->external_id, &desired, e, &loaded, &loaded.members[j]);
		/* desired index i was built from stored index i: same row */
		CHECK_EQ("same row after the swap", ids.members[i], lids.members[j]);
	}
	CHECK_EQ("E5 reactivated", STATE_ACTIVE, state_of(&loaded, "E5"));
	CHECK_EQ("E2 still invited", STATE_INVITED, state_of(&loaded, "E2"));
	CHECK_EQ("mappings untouched", stored.nmappings, loaded.nmappings);
	CHECK_EQ("no parked key left", 0,
		 raw_int(f, f->db.pg ? "SELECT count(*) FROM members WHERE substr(external_id, 1, 1)"
				    " = chr(1) OR substr(email_key, 1, 1) = chr(1)"
				  : "SELECT count(*) FROM members WHERE substr(external_id, 1, 1)"
				    " = char(1) OR substr(email_key, 1, 1) = char(1)"));
	store_ids_free(&lids);
	org_free(&loaded);
	tplan_free(&p);
	store_ids_free(&ids);
	org_free(&stored);
	org_free(&desired);
	org_free(&first);
}

/*
 * A sync that does not send a property's column leaves its stored values
 * as they are (the plan does not count them as changes), while it may
 * change the columns it sent.
 */
static void test_apply_keeps_unsent_properties(void **state)
{
	struct fx *f = *state;
	struct org first, stored, desired, loaded;
	struct store_ids ids, lids;
	struct plan p;
	const struct member *m;
	uint32_t dep;

	apply_sample(f, &first);
	load(f, &stored, &ids);
	org_init(&desired);
	/* Only the department column was sent. */
	assert_int_equal(ORG_OK, org_add_property(&desired, "department", 10, &dep));
	add_m(&desired, &(struct mspec){ "E1", "Elodie.Gagnon@Maple.example", "\xC3\x89lodie",
					 "Gagnon", "Director, Sales", "https://img.example/e1.png",
					 "fr;en",
					 (1u << PRODUCT_OFFICEVIBE) | (1u << PRODUCT_LMS) |
						 (1u << PRODUCT_WORKLEAP_AI),
					 { { "department", "Marketing" } }, 0 });
	tplan_init(&p, &desired, 1, 0, 0);
	pm(&p, 0, member_ix(&stored, "E1"), MEMBER_UPDATE, CHANGED_PROPS, false);
	CHECK_OK("apply", store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p));
	load(f, &loaded, &lids);
	m = &loaded.members[member_ix(&loaded, "E1")];
	CHECK_EQ("two properties", 2, m->nprops);
	assert_true(org_find_property(&loaded, "department", 10, &dep));
	CHECK_STR("the sent column changed", "Marketing", org_member_prop(m, dep));
	assert_true(org_find_property(&loaded, "costCenter", 10, &dep));
	CHECK_STR("the unsent column kept", "say \"hi\" \\ back\tslash\n", org_member_prop(m, dep));
	store_ids_free(&lids);
	org_free(&loaded);
	tplan_free(&p);
	store_ids_free(&ids);
	org_free(&stored);
	org_free(&desired);
	org_free(&first);
}

static void check_unchanged(struct fx *f, const struct org *before, const struct store_ids *bids)
{
	struct org after;
	struct store_ids aids;
	uint32_t i;

	load(f, &after, &aids);
	check_same_org(before, &after);
	for (i = 0; i < before->nmembers; i++) {
		CHECK_EQ("member row", bids->members[i], aids.members[i]);
		CHECK_EQ("member state", before->members[i].state, after.members[i].state);
	}
	for (i = 0; i < before->nteams; i++)
		CHECK_EQ("team row", bids->teams[i], aids.teams[i]);
	store_ids_free(&aids);
	org_free(&after);
}

/* A failure late in an apply (after deletes, updates and an invitation) leaves everything as it was. */
static void test_apply_failure_rolls_back(void **state)
{
	struct fx *f = *state;
	struct org first, stored, desired;
	struct store_ids ids;
	struct plan p;

	apply_sample(f, &first);
	load(f, &stored, &ids);
	org_init(&desired);
	copy_props(&desired, &stored);
	add_m(&desired, &(struct mspec){ "E1", "elodie.gagnon@maple.example", "Changed", "Gagnon",
					 "", "", "", 0, { { NULL, NULL } }, 0 });
	add_m(&desired, &(struct mspec){ "E8", "hank@maple.example", "Hank", "Hill", "", "", "", 0,
					 { { NULL, NULL } }, 0 });
	/* E5 stays in the org with this email: the insert must fail. */
	add_m(&desired, &(struct mspec){ "E9", "EVE@maple.example", "Not", "Eve", "", "", "", 0,
					 { { NULL, NULL } }, 0 });
	add_t(&desired, "T2", "Renamed");
	tplan_init(&p, &desired, 8, 4, 4);
	pm(&p, PLAN_NONE, member_ix(&stored, "E6"), MEMBER_DELETE, 0, false);
	pm(&p, PLAN_NONE, member_ix(&stored, "E3"), MEMBER_DEACTIVATE, 0, false);
	pm(&p, 0, member_ix(&stored, "E1"), MEMBER_UPDATE, CHANGED_FIRST_NAME | CHANGED_EMAIL,
	   false);
	pm(&p, 1, PLAN_NONE, MEMBER_CREATE, 0, true);
	pm(&p, 2, PLAN_NONE, MEMBER_CREATE, 0, true);
	pt(&p, PLAN_NONE, team_ix(&stored, "T3"), TEAM_DELETE);
	pt(&p, 0, team_ix(&stored, "T2"), TEAM_RENAME);
	px(&p, PLAN_NONE, mapping_ix(&stored, "T1", "E1", NULL), MAPPING_REMOVE);
	CHECK_EQ("apply refused", STORE_ECONFLICT,
		 store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p));
	assert_non_null(strstr(store_error(f->s), "E9"));
	check_unchanged(f, &stored, &ids);
	CHECK_EQ("no invitation left behind", 1, raw_int(f, "SELECT count(*) FROM invitations"));
	CHECK_EQ("no outbox message left behind", 1, raw_int(f, "SELECT count(*) FROM outbox"));

	/* A plan naming records that are not there: refused before any harm. */
	p.members[4].desired = 77;
	CHECK_EQ("bad desired index", STORE_EINVAL,
		 store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p));
	p.members[4].desired = 2;
	p.mappings[0].stored = 1000;
	CHECK_EQ("bad stored mapping index", STORE_EINVAL,
		 store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p));
	p.mappings[0].stored = mapping_ix(&stored, "T1", "E1", NULL);
	p.desired_to_stored[1] = 99;
	CHECK_EQ("bad match of a desired member", STORE_EINVAL,
		 store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p));
	p.desired_to_stored[1] = PLAN_NONE;
	/* A mapping whose end is not a record of its org. */
	stored.mappings[p.mappings[0].stored].team = 999;
	CHECK_EQ("bad end of a stored mapping", STORE_EINVAL,
		 store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p));
	stored.mappings[p.mappings[0].stored].team = team_ix(&stored, "T1");
	check_unchanged(f, &stored, &ids);
	CHECK_EQ("apply to an unknown org", STORE_ENOTFOUND,
		 store_apply(f->s, f->org + 5, 0, &desired, &stored, &ids, &p));
	check_unchanged(f, &stored, &ids);
	tplan_free(&p);

	/* An update taking the email of a member the plan leaves alone: parked, then refused. */
	org_free(&desired);
	org_init(&desired);
	copy_props(&desired, &stored);
	add_m(&desired, &(struct mspec){ "E1", "Eve@Maple.example", "\xC3\x89lodie", "Gagnon", "",
					 "", "", 0, { { NULL, NULL } }, 0 });
	add_m(&desired, &(struct mspec){ "E2", "elodie.gagnon@maple.example", "F", "T", "", "", "",
					 0, { { NULL, NULL } }, 0 });
	tplan_init(&p, &desired, 2, 0, 0);
	pm(&p, 0, member_ix(&stored, "E1"), MEMBER_UPDATE, CHANGED_EMAIL, false);
	pm(&p, 1, member_ix(&stored, "E2"), MEMBER_UPDATE, CHANGED_EMAIL | CHANGED_FIRST_NAME,
	   false);
	CHECK_EQ("email of an untouched member", STORE_ECONFLICT,
		 store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p));
	assert_non_null(strstr(store_error(f->s), "E1"));
	check_unchanged(f, &stored, &ids);
	CHECK_EQ("no parked key left", 0,
		 raw_int(f, f->db.pg ? "SELECT count(*) FROM members WHERE substr(email_key, 1, 1) = chr(1)"
				  : "SELECT count(*) FROM members WHERE substr(email_key, 1, 1) = char(1)"));

	tplan_free(&p);
	store_ids_free(&ids);
	org_free(&stored);
	org_free(&desired);
	org_free(&first);
}

/* A plan of nothing but UNCHANGED writes nothing. */
/* Readers that keep a loaded org rely on the version to change with it. */
static void test_org_version_follows_changes(void **state)
{
	struct fx *f = *state;
	struct org first;
	int64_t v0, v1, v2, v3, v4, other;
	char token[STORE_TOKEN_MAX];

	CHECK_OK("version of a new org", store_org_version(f->s, f->org, &v0));
	apply_sample(f, &first);
	CHECK_OK("after a first sync", store_org_version(f->s, f->org, &v1));
	CHECK_EQ("a sync changes it", true, v1 != v0);
	CHECK_OK("property", store_property_add(f->s, f->org, "site"));
	CHECK_OK("after a property", store_org_version(f->s, f->org, &v2));
	CHECK_EQ("a property definition changes it", true, v2 != v1);
	CHECK_OK("admin", store_admin_add(f->s, f->org, "boss@maple.example"));
	CHECK_OK("after an admin", store_org_version(f->s, f->org, &v3));
	CHECK_EQ("an admin changes it", true, v3 != v2);
	CHECK_OK("invite", store_invite(f->s, f->org, "E1", token));
	CHECK_OK("after an invite", store_org_version(f->s, f->org, &v4));
	CHECK_EQ("an invitation changes it", true, v4 != v3);
	CHECK_OK("accept", store_invitation_accept(f->s, token, NULL, NULL));
	CHECK_OK("after acceptance", store_org_version(f->s, f->org, &v3));
	CHECK_EQ("an acceptance changes it", true, v3 != v4);
	CHECK_EQ("unknown org", STORE_ENOTFOUND, store_org_version(f->s, f->org + 999, &other));
	org_free(&first);
}

static void test_apply_noop_writes_nothing(void **state)
{
	struct fx *f = *state;
	struct org first, stored;
	struct store_ids ids;
	struct plan p;
	long long before;
	int64_t version, after;
	uint32_t i;

	apply_sample(f, &first);
	load(f, &stored, &ids);
	tplan_init(&p, &stored, stored.nmembers, stored.nteams, 0);
	for (i = 0; i < stored.nmembers; i++)
		pm(&p, i, i, MEMBER_UNCHANGED, 0, false);
	for (i = 0; i < stored.nteams; i++)
		pt(&p, i, i, TEAM_UNCHANGED);
	before = raw_int(f, "SELECT sum(updated_at) FROM members");
	count_writes(f, "members");
	CHECK_OK("version before", store_org_version(f->s, f->org, &version));
	CHECK_OK("no-op apply", store_apply(f->s, f->org, 0, &stored, &stored, &ids, &p));
	CHECK_EQ("no member row updated", 0, raw_int(f, "SELECT count(*) FROM writes"));
	CHECK_OK("version after", store_org_version(f->s, f->org, &after));
	CHECK_EQ("a no-op leaves the version", version, after);
	CHECK_EQ("updated_at untouched", before, raw_int(f, "SELECT sum(updated_at) FROM members"));
	check_unchanged(f, &stored, &ids);
	tplan_free(&p);
	store_ids_free(&ids);
	org_free(&stored);
	org_free(&first);
}

/* The value of property name on the loaded member id; NULL when none. */
static const char *prop_of(const struct org *o, const char *id, const char *name)
{
	uint32_t k;

	if (!org_find_property(o, name, strlen(name), &k))
		return NULL;
	return org_member_prop(&o->members[member_ix(o, id)], k);
}

/*
 * Migration 12 moves the JSON props of a version 11 database (as that
 * version wrote them: raw UTF-8, quotes, backslashes and control characters
 * escaped, and any \u escape a JSON writer may use) into member_props.
 */
static void test_migration_props_table(void **state)
{
	struct fx *f = *state;
	struct org first, loaded;
	struct store_ids ids;
	uint32_t i;

	TESTDB_SQLITE_ONLY(&f->db);
	apply_sample(f, &first);
	store_close(f->s);
	f->s = NULL;
	rewind_schema(f, 11);
	CHECK_EQ("rewound: props back in the members table", 1,
		 raw_int(f, "SELECT count(*) FROM pragma_table_info('members') WHERE name = 'props'"));
	raw_exec(f, "UPDATE members SET props = '{\"department\":\"Caf\\u00e9 \xE2\x80\x94 Montr\xC3\xA9"
		    "al\",\"costCenter\":\"say \\\"hi\\\" \\\\ back\\tslash\\n\\u0001\","
		    "\"department\":\"a second value of a name\",\"emoji\":\"\\ud83d\\ude00\","
		    "\"gone\":\"of a property deleted before\"}' WHERE external_id = 'E6';"
		    "UPDATE members SET props = '{\"department\":\"\"}' WHERE external_id = 'E5';");
	f->s = open_again(f);
	CHECK_EQ("migrated", 15, raw_int(f, "PRAGMA user_version"));
	CHECK_EQ("the JSON column is gone", 0,
		 raw_int(f, "SELECT count(*) FROM pragma_table_info('members') WHERE name = 'props'"));
	load(f, &loaded, &ids);
	for (i = 0; i < 4; i++) {
		const struct member *e = &first.members[i];

		check_member(e->external_id, &first, e, &loaded,
			     &loaded.members[member_ix(&loaded, e->external_id)]);
	}
	CHECK_STR("escaped and raw non-ASCII", "Caf\xC3\xA9 \xE2\x80\x94 Montr\xC3\xA9" "al",
		  prop_of(&loaded, "E6", "department"));
	CHECK_STR("quotes, backslash, control characters", "say \"hi\" \\ back\tslash\n\x01",
		  prop_of(&loaded, "E6", "costCenter"));
	CHECK_STR("a surrogate pair", "\xF0\x9F\x98\x80", prop_of(&loaded, "E6", "emoji"));
	CHECK_EQ("E6: three values (not the undefined property's)", 3,
		 loaded.members[member_ix(&loaded, "E6")].nprops);
	CHECK_EQ("E5: an empty value is no value", 0,
		 loaded.members[member_ix(&loaded, "E5")].nprops);
	CHECK_EQ("no property defined by the migration", 3, loaded.nprops);
	store_ids_free(&ids);
	org_free(&loaded);
	org_free(&first);
}

/*
 * A resync that changes one value writes one member_props row; one that
 * empties a sent column deletes its row; values of unsent columns stay.
 */
static void test_apply_writes_changed_props_only(void **state)
{
	struct fx *f = *state;
	struct org first, stored, desired, loaded;
	struct store_ids ids, lids;
	struct plan p;

	apply_sample(f, &first);
	load(f, &stored, &ids);
	count_writes(f, "member_props");
	org_init(&desired);
	copy_props(&desired, &stored);
	/* E1 keeps its department; its cost center changes; E4's department is emptied. */
	add_m(&desired, &(struct mspec){ "E1", "Elodie.Gagnon@Maple.example", "\xC3\x89lodie",
					 "Gagnon", "Director, Sales", "https://img.example/e1.png",
					 "fr;en",
					 (1u << PRODUCT_OFFICEVIBE) | (1u << PRODUCT_LMS) |
						 (1u << PRODUCT_WORKLEAP_AI),
					 { { "department", "Sales \xE2\x80\x94 Qu\xC3\xA9" "bec" },
					   { "costCenter", "CC-1" } },
					 0 });
	tplan_init(&p, &desired, 1, 0, 0);
	pm(&p, 0, member_ix(&stored, "E1"), MEMBER_UPDATE, CHANGED_PROPS, false);
	CHECK_OK("apply one changed value", store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p));
	CHECK_EQ("one row written", 1, raw_int(f, "SELECT count(*) FROM writes"));
	load(f, &loaded, &lids);
	CHECK_STR("the changed value", "CC-1", prop_of(&loaded, "E1", "costCenter"));
	CHECK_STR("the unchanged value", "Sales \xE2\x80\x94 Qu\xC3\xA9" "bec",
		  prop_of(&loaded, "E1", "department"));
	store_ids_free(&lids);
	org_free(&loaded);
	tplan_free(&p);
	org_free(&desired);

	raw_exec(f, "DELETE FROM writes;");
	org_init(&desired);
	/* Only the department column is sent: E4's emoji stays. */
	assert_int_equal(ORG_OK, org_add_property(&desired, "department", 10, NULL));
	add_m(&desired, &(struct mspec){ "E4", "dana@maple.example", "Dana", "Scully", "", "", "",
					 0, { { NULL, NULL } }, 1 });
	tplan_init(&p, &desired, 1, 0, 0);
	pm(&p, 0, member_ix(&stored, "E4"), MEMBER_UPDATE, CHANGED_PROPS, false);
	CHECK_OK("apply one emptied value", store_apply(f->s, f->org, 0, &desired, &stored, &ids, &p));
	CHECK_EQ("one row deleted", 1, raw_int(f, "SELECT count(*) FROM writes"));
	load(f, &loaded, &lids);
	assert_null(prop_of(&loaded, "E4", "department"));
	CHECK_STR("the unsent column kept", "\xF0\x9F\x98\x80", prop_of(&loaded, "E4", "emoji"));
	store_ids_free(&lids);
	org_free(&loaded);
	tplan_free(&p);
	org_free(&desired);
	store_ids_free(&ids);
	org_free(&stored);
	org_free(&first);
}

/* --- syncs ---------------------------------------------------------------------- */

static const struct sync_meta api_meta = { .source = "API Provisioning", .mode = "full",
					    .format = "json" };

/* A claim as a worker makes it, now, with a lease that outlasts the test. */
static int claim(struct store *s, int64_t *sync_id, int64_t *org_id)
{
	return store_sync_claim(s, "test:1:worker", os_wall_ms(), 600000, sync_id, org_id, NULL);
}

static void get_sync(struct fx *f, int64_t id, struct sync_row *r)
{
	if (store_sync_get(f->s, f->org, id, r) != STORE_OK)
		fail_msg("store_sync_get %lld: %s", (long long)id, store_error(f->s));
}

static void test_sync_begin_busy_supersede(void **state)
{
	struct fx *f = *state;
	struct sync_meta long_meta = { .source = "an overly long source name for the field",
				       .mode = "full", .format = "csv" };
	struct sync_row r;
	int64_t id1, id2, running = 0, sid, oid;
	char want[64];

	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id1, &running));
	get_sync(f, id1, &r);
	CHECK_EQ("new sync pending", SYNC_PENDING, r.status);
	CHECK_STR("source", "API Provisioning", r.source);
	CHECK_STR("mode", "full", r.mode);
	CHECK_STR("format", "json", r.format);
	CHECK_EQ("not started", 0, r.started_at);
	assert_true(r.created_at > 1700000000000LL);
	store_sync_row_free(&r);

	CHECK_EQ("second begin while pending", STORE_EBUSY,
		 store_sync_begin(f->s, f->org, &api_meta, &id2, &running));
	CHECK_EQ("running names the pending sync", id1, running);

	CHECK_OK("claim", claim(f->s, &sid, &oid));
	CHECK_EQ("claimed the pending sync", id1, sid);
	CHECK_EQ("claimed for the org", f->org, oid);
	CHECK_EQ("still busy while processing", STORE_EBUSY,
		 store_sync_begin(f->s, f->org, &api_meta, &id2, &running));
	CHECK_OK("pause", store_sync_finish(f->s, id1, SYNC_PAUSED, "members: 40% > 10%",
					     "{\"deleted\":4}", "{\"paused\":true}", NULL));
	get_sync(f, id1, &r);
	CHECK_EQ("paused", SYNC_PAUSED, r.status);
	assert_true(r.started_at > 0);
	CHECK_EQ("a paused sync is not finished", 0, r.finished_at);
	store_sync_row_free(&r);

	CHECK_OK("begin supersedes the paused one",
		 store_sync_begin(f->s, f->org, &api_meta, &id2, &running));
	assert_true(id2 > id1);
	get_sync(f, id1, &r);
	CHECK_EQ("superseded sync rejected", SYNC_REJECTED, r.status);
	snprintf(want, sizeof(want), "superseded by sync %lld", (long long)id2);
	CHECK_STR("reason names the new sync", want, r.reason);
	assert_true(r.finished_at > 0);
	store_sync_row_free(&r);
	get_sync(f, id2, &r);
	CHECK_EQ("new one pending", SYNC_PENDING, r.status);
	store_sync_row_free(&r);

	CHECK_EQ("begin for an unknown org", STORE_ENOTFOUND,
		 store_sync_begin(f->s, f->org + 4, &api_meta, &id2, &running));
	CHECK_EQ("source too long for the row", STORE_EINVAL,
		 store_sync_begin(f->s, f->org, &long_meta, &id2, &running));
	CHECK_EQ("finish as Pending refused", STORE_EINVAL,
		 store_sync_finish(f->s, id1, SYNC_PENDING, NULL, NULL, NULL, NULL));
	CHECK_EQ("finish an unknown sync", STORE_ENOTFOUND,
		 store_sync_finish(f->s, id2 + 50, SYNC_SUCCESS, NULL, NULL, NULL, NULL));
}

enum { CLAIM_ORGS = 40 };

struct claimer {
	struct store *s;
	pthread_barrier_t *start;
	int64_t ids[CLAIM_ORGS];
	size_t n;
	int rc;
};

static void *claim_all(void *arg)
{
	struct claimer *c = arg;
	int64_t id, org;
	int rc;

	pthread_barrier_wait(c->start);
	while ((rc = claim(c->s, &id, &org)) == STORE_OK)
		if (c->n < CLAIM_ORGS)
			c->ids[c->n++] = id;
	c->rc = rc;
	return NULL;
}

/* Two connections emptying the queue at once never take the same sync. */
static void test_sync_claim_two_handles(void **state)
{
	struct fx *f = *state;
	struct claimer c[2];
	pthread_barrier_t start;
	pthread_t th[2];
	int64_t orgs[CLAIM_ORGS], syncs[CLAIM_ORGS], running, sid, oid;
	char key[STORE_KEY_MAX];
	size_t i, j, k, seen;

	CHECK_EQ("empty queue", STORE_ENOTFOUND, claim(f->s, &sid, &oid));
	for (i = 0; i < CLAIM_ORGS; i++) {
		CHECK_OK("org", store_org_create(f->s, "Tenant", &orgs[i], key));
		CHECK_OK("begin", store_sync_begin(f->s, orgs[i], &api_meta, &syncs[i], &running));
	}
	memset(c, 0, sizeof(c));
	pthread_barrier_init(&start, NULL, 2);
	for (i = 0; i < 2; i++) {
		c[i].s = open_again(f);
		c[i].start = &start;
		assert_int_equal(0, pthread_create(&th[i], NULL, claim_all, &c[i]));
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	for (i = 0; i < 2; i++) {
		CHECK_EQ("claimer stopped on an empty queue", STORE_ENOTFOUND, c[i].rc);
		store_close(c[i].s);
	}
	CHECK_EQ("every sync claimed once", CLAIM_ORGS, c[0].n + c[1].n);
	for (i = 0; i < CLAIM_ORGS; i++) {
		seen = 0;
		for (j = 0; j < 2; j++)
			for (k = 0; k < c[j].n; k++)
				seen += c[j].ids[k] == syncs[i];
		if (seen != 1)
			fail_msg("sync %lld claimed %zu times", (long long)syncs[i], seen);
	}
	/* In one connection, claims come oldest first. */
	for (i = 1; i < c[0].n; i++)
		assert_true(c[0].ids[i] > c[0].ids[i - 1]);
}

struct racer {
	struct store *s;
	pthread_barrier_t *start;
	int64_t org, sync;
	int to, rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->start);
	r->rc = store_sync_transition(r->s, r->org, r->sync, SYNC_PAUSED, r->to,
				      r->to == SYNC_REJECTED ? "rejected by an admin" : NULL);
	return NULL;
}

/* An approval racing a rejection (and two approvals): exactly one wins. */
static void test_sync_transition_race(void **state)
{
	struct fx *f = *state;
	struct racer r[2];
	pthread_barrier_t start;
	pthread_t th[2];
	struct sync_row row;
	int64_t id, running, sid, oid;
	int round, i, wins;

	memset(r, 0, sizeof(r));
	for (i = 0; i < 2; i++)
		r[i].s = open_again(f);
	for (round = 0; round < 20; round++) {
		CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
		CHECK_OK("claim", claim(f->s, &sid, &oid));
		CHECK_EQ("claimed", id, sid);
		CHECK_OK("pause", store_sync_finish(f->s, id, SYNC_PAUSED, "too risky", NULL, NULL,
						     NULL));
		pthread_barrier_init(&start, NULL, 2);
		for (i = 0; i < 2; i++) {
			r[i].start = &start;
			r[i].org = f->org;
			r[i].sync = id;
			r[i].to = round % 2 && i ? SYNC_REJECTED : SYNC_PENDING;
			assert_int_equal(0, pthread_create(&th[i], NULL, race, &r[i]));
		}
		wins = 0;
		for (i = 0; i < 2; i++) {
			pthread_join(th[i], NULL);
			if (r[i].rc == STORE_OK)
				wins++;
			else
				CHECK_EQ("the loser is told of the conflict", STORE_ECONFLICT, r[i].rc);
		}
		pthread_barrier_destroy(&start);
		CHECK_EQ("exactly one transition wins", 1, wins);
		get_sync(f, id, &row);
		if (row.status == SYNC_PENDING) {
			CHECK_EQ("approved: back in the queue", 0, row.started_at);
			CHECK_EQ("approved: not finished", 0, row.finished_at);
			CHECK_STR("approval keeps the reason", "too risky", row.reason);
			CHECK_OK("claimed again", claim(f->s, &sid, &oid));
			CHECK_EQ("the approved sync", id, sid);
			CHECK_OK("finish", store_sync_finish(f->s, id, SYNC_SUCCESS, NULL, NULL,
							      NULL, NULL));
		} else {
			CHECK_EQ("rejected", SYNC_REJECTED, row.status);
			CHECK_STR("rejection reason", "rejected by an admin", row.reason);
			assert_true(row.finished_at > 0);
		}
		store_sync_row_free(&row);
	}
	for (i = 0; i < 2; i++)
		store_close(r[i].s);
	CHECK_EQ("approve a finished sync", STORE_ECONFLICT,
		 store_sync_transition(f->s, f->org, id, SYNC_PAUSED, SYNC_PENDING, NULL));
	CHECK_EQ("approve an unknown sync", STORE_ENOTFOUND,
		 store_sync_transition(f->s, f->org, id + 100, SYNC_PAUSED, SYNC_PENDING, NULL));
	CHECK_EQ("unknown status", STORE_EINVAL,
		 store_sync_transition(f->s, f->org, id, 42, SYNC_PENDING, NULL));
}

static void add_issue(struct report *rep, enum issue_severity sev, enum issue_code code,
		      const char *file, uint32_t line, uint32_t col, const char *field,
		      const char *record, const char *msg)
{
	struct issue_loc loc = { file, line, col, field, record };

	assert_int_equal(0, report_add(rep, sev, code, &loc, "%s", msg));
}

static void test_sync_finish_report_roundtrip(void **state)
{
	struct fx *f = *state;
	struct report rep, back;
	struct sync_row r, *rows = NULL;
	int64_t id, id2, running, sid, oid;
	size_t i, n = 0;

	report_init(&rep);
	add_issue(&rep, ISSUE_ERROR, CODE_INVALID_EMAIL, "members.csv", 12, 2, "email", "E012",
		  "'bob@' is not a valid email address");
	add_issue(&rep, ISSUE_WARNING, CODE_UNKNOWN_PROPERTY, "members.csv", 1, 9, "shoeSize", "",
		  "column shoeSize is not a defined property; ignored");
	add_issue(&rep, ISSUE_ERROR, CODE_TEAM_CYCLE, "teams-mappings.csv", 4, 0, "",
		  "T\xC3\xA9", "team T\xC3\xA9 would be its own parent \"again\"");
	add_issue(&rep, ISSUE_FATAL, CODE_LEGACY_SETTINGS, "payload.json", 0, 0, "settings", "",
		  "settings moved to provisioning settings");

	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
	CHECK_OK("claim", claim(f->s, &sid, &oid));
	CHECK_OK("finish", store_sync_finish(f->s, id, SYNC_WARNING, NULL, "{\"created\":3}",
					      "{\"paused\":false}", &rep));
	get_sync(f, id, &r);
	CHECK_EQ("status", SYNC_WARNING, r.status);
	CHECK_STR("counts", "{\"created\":3}", r.counts_json);
	CHECK_STR("risk", "{\"paused\":false}", r.risk_json);
	assert_null(r.reason);
	CHECK_EQ("issues", 4, r.issues);
	assert_true(r.finished_at >= r.started_at && r.started_at >= r.created_at);
	store_sync_row_free(&r);

	report_init(&back);
	CHECK_OK("report", store_sync_report(f->s, f->org, id, &back));
	CHECK_EQ("issue count", rep.count, back.count);
	for (i = 0; i < rep.count; i++) {
		const struct issue *e = &rep.issues[i], *a = &back.issues[i];

		CHECK_EQ("severity", e->severity, a->severity);
		CHECK_EQ("code", e->code, a->code);
		CHECK_EQ("line", e->line, a->line);
		CHECK_EQ("column", e->column, a->column);
		CHECK_STR("file", e->file, a->file);
		CHECK_STR("field", e->field, a->field);
		CHECK_STR("record id", e->record_id, a->record_id);
		CHECK_STR("message", e->message, a->message);
	}
	for (i = 0; i < 3; i++)
		CHECK_EQ("by severity", rep.by_severity[i], back.by_severity[i]);
	report_free(&back);
	report_free(&rep);

	/* A report past its limit: the kept issues come back, and the totals. */
	report_init(&rep);
	rep.limit = 2;
	for (i = 0; i < 5; i++)
		add_issue(&rep, i < 4 ? ISSUE_ERROR : ISSUE_WARNING, CODE_INVALID_EMAIL,
			  "members.csv", (uint32_t)i + 2, 2, "email", "", "bad");
	CHECK_OK("begin 2", store_sync_begin(f->s, f->org, &api_meta, &id2, &running));
	CHECK_OK("finish 2", store_sync_finish(f->s, id2, SYNC_FAILED, "broken", NULL, NULL, &rep));
	report_init(&back);
	CHECK_OK("report 2", store_sync_report(f->s, f->org, id2, &back));
	CHECK_EQ("kept", 2, back.count);
	CHECK_EQ("dropped", 3, back.dropped);
	CHECK_EQ("errors counted", 4, back.by_severity[ISSUE_ERROR]);
	CHECK_EQ("warnings counted", 1, back.by_severity[ISSUE_WARNING]);
	report_free(&back);
	report_free(&rep);

	CHECK_OK("list", store_sync_list(f->s, f->org, 0, 10, &rows, &n));
	CHECK_EQ("two syncs", 2, n);
	CHECK_EQ("newest first", id2, rows[0].id);
	CHECK_STR("reason in list", "broken", rows[0].reason);
	CHECK_EQ("issues in list", 5, rows[0].issues);
	CHECK_EQ("then the older", id, rows[1].id);
	store_sync_rows_free(rows, n);
	CHECK_OK("page after the newest", store_sync_list(f->s, f->org, id2, 10, &rows, &n));
	CHECK_EQ("one older sync", 1, n);
	CHECK_EQ("the older", id, rows[0].id);
	store_sync_rows_free(rows, n);
	CHECK_OK("limit", store_sync_list(f->s, f->org, 0, 1, &rows, &n));
	CHECK_EQ("limited to one", 1, n);
	store_sync_rows_free(rows, n);
	CHECK_OK("count", store_sync_count(f->s, f->org, &n));
	CHECK_EQ("counts both syncs", 2, n);
	CHECK_EQ("report of an unknown sync", STORE_ENOTFOUND,
		 store_sync_report(f->s, f->org, id2 + 10, &back));
}

/* The error names what did not fit, and its value. */
static void check_out_of_range(struct fx *f, const char *what, int rc, const char *value)
{
	if (rc != STORE_EIO || !strstr(store_error(f->s), "out of range") ||
	    !strstr(store_error(f->s), value))
		fail_msg("%s: expected STORE_EIO naming %s out of range, got %d: %s", what, value, rc,
			 store_error(f->s));
}

/*
 * A stored number read into a narrower type is checked, not wrapped: a
 * damaged row makes the read fail (STORE_EIO, naming the value) where a cast
 * would have turned 2^32 into 0 or a products mask into another.
 */
static void test_stored_numbers_out_of_range(void **state)
{
	struct fx *f = *state;
	struct report rep, back;
	struct org desired, loaded;
	struct store_ids ids;
	int64_t id, running, sid, oid;
	int attempts = 0;

	report_init(&rep);
	add_issue(&rep, ISSUE_ERROR, CODE_INVALID_EMAIL, "members.csv", 12, 2, "email", "E012",
		  "'bob@' is not a valid email address");
	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
	CHECK_OK("claim", claim(f->s, &sid, &oid));
	CHECK_OK("finish", store_sync_finish(f->s, id, SYNC_FAILED, "bad", NULL, NULL, &rep));
	report_free(&rep);
	raw_exec(f, "UPDATE sync_issues SET line = 4294967296");
	report_init(&back);
	check_out_of_range(f, "issue line", store_sync_report(f->s, f->org, id, &back),
			   "4294967296");
	report_free(&back);

	apply_sample(f, &desired);
	raw_exec(f, "UPDATE members SET products = 128 WHERE external_id = 'E1'");
	org_init(&loaded);
	memset(&ids, 0, sizeof(ids));
	check_out_of_range(f, "products", store_org_load(f->s, f->org, &loaded, &ids), "128");
	store_ids_free(&ids);
	org_free(&loaded);
	org_free(&desired);

	/* PostgreSQL's attempts are an INTEGER column, which holds no other value. */
	if (f->db.pg)
		return;
	CHECK_OK("begin 2", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
	/* The claim counts itself: INT_MAX becomes 2^31. */
	raw_exec(f, "UPDATE syncs SET attempts = 2147483647");
	check_out_of_range(f, "attempts",
			   store_sync_claim(f->s, "test:1:worker", os_wall_ms(), 600000, &sid, &oid,
					    &attempts),
			   "2147483648");
	CHECK_EQ("attempts untouched", 0, attempts);
}

/*
 * The job queue's leases (backend.h): a sync whose holder stopped renewing
 * is taken up by another once the lease ran out, never before; the old
 * holder can then neither renew nor finish it, the new one finishes it
 * once; a finished sync keeps no claim.
 */
static void test_sync_lease(void **state)
{
	struct fx *f = *state;
	struct sync_row r;
	int64_t id, running, sid = 0, oid = 0;
	int attempts = 0;
	const struct sync_outcome late = { SYNC_SUCCESS, NULL, NULL, NULL, NULL, NULL, "A" };
	const struct sync_outcome done = { SYNC_SUCCESS, NULL, NULL, NULL, NULL, NULL, "B" };

	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
	CHECK_OK("A claims at t=1000 for 100 ms",
		 store_sync_claim(f->s, "A", 1000, 100, &sid, &oid, &attempts));
	CHECK_EQ("the sync", id, sid);
	CHECK_EQ("A's is the first attempt", 1, attempts);
	CHECK_EQ("B finds nothing while the lease holds", STORE_ENOTFOUND,
		 store_sync_claim(f->s, "B", 1100, 100, &sid, &oid, NULL));
	CHECK_OK("A renews at t=1050", store_sync_renew(f->s, id, "A", 1050, 100));
	CHECK_EQ("still A's at t=1140", STORE_ENOTFOUND,
		 store_sync_claim(f->s, "B", 1140, 100, &sid, &oid, NULL));
	CHECK_EQ("a renewal by another is refused", STORE_ECONFLICT,
		 store_sync_renew(f->s, id, "B", 1140, 100));
	CHECK_OK("A died: B takes it at t=1151",
		 store_sync_claim(f->s, "B", 1151, 100, &sid, &oid, &attempts));
	CHECK_EQ("the same sync", id, sid);
	CHECK_EQ("B's claim says it is the second attempt", 2, attempts);
	CHECK_EQ("of the org", f->org, oid);
	get_sync(f, id, &r);
	CHECK_EQ("started at the first claim", 1000, r.started_at);
	store_sync_row_free(&r);
	CHECK_EQ("two attempts", 2, raw_int(f, "SELECT attempts FROM syncs"));
	CHECK_EQ("held by B until t=1251", 1251,
		 raw_int(f, "SELECT lease_until FROM syncs WHERE claimed_by = 'B'"));
	CHECK_EQ("A cannot renew", STORE_ECONFLICT, store_sync_renew(f->s, id, "A", 1160, 100));
	CHECK_EQ("A cannot finish", STORE_ECONFLICT, store_sync_record(f->s, id, &late));
	CHECK_OK("B finishes", store_sync_record(f->s, id, &done));
	CHECK_EQ("once", STORE_ECONFLICT, store_sync_record(f->s, id, &done));
	get_sync(f, id, &r);
	CHECK_EQ("Success", SYNC_SUCCESS, r.status);
	store_sync_row_free(&r);
	CHECK_EQ("no claim kept", 1,
		 raw_int(f, "SELECT count(*) FROM syncs WHERE claimed_by IS NULL"
			    " AND lease_until IS NULL"));
	CHECK_EQ("B cannot renew a finished sync", STORE_ECONFLICT,
		 store_sync_renew(f->s, id, "B", 1170, 100));
	CHECK_EQ("nothing left to claim", STORE_ENOTFOUND,
		 store_sync_claim(f->s, "C", 99999, 100, &sid, &oid, NULL));
}

/*
 * The upgrade to leases: a sync an older version had started (and that a
 * crash interrupted) has no holder, and the queue gives it out again.
 */
static void test_sync_lease_upgrade(void **state)
{
	struct fx *f = *state;
	int64_t id, running, sid = 0, oid = 0;

	TESTDB_SQLITE_ONLY(&f->db);
	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
	store_close(f->s);
	f->s = NULL;
	rewind_schema(f, 11);
	raw_exec(f, "UPDATE syncs SET started_at = 1000");
	f->s = open_again(f);
	CHECK_EQ("upgraded", 15, raw_int(f, "PRAGMA user_version"));
	CHECK_OK("claimable", claim(f->s, &sid, &oid));
	CHECK_EQ("the interrupted sync", id, sid);
	CHECK_EQ("its first claim under leases", 1, raw_int(f, "SELECT attempts FROM syncs"));
	CHECK_EQ("started when it first was", 1000, raw_int(f, "SELECT started_at FROM syncs"));
}

/* A claimed apply whose lease another holder took changes nothing. */
static void test_apply_after_lost_lease(void **state)
{
	struct fx *f = *state;
	struct org desired, empty;
	struct store_ids none = { NULL, NULL };
	struct sync_row r;
	struct plan p;
	int64_t id, running, sid, oid;
	const struct sync_outcome lost = { SYNC_SUCCESS, NULL, NULL, NULL, NULL, NULL, "A" };
	const struct sync_outcome held = { SYNC_SUCCESS, NULL, NULL, NULL, NULL, NULL, "B" };

	sample_org(&desired);
	org_init(&empty);
	plan_all_create(&p, &desired, PLAN_NONE);
	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
	CHECK_OK("A claims", store_sync_claim(f->s, "A", 1000, 10, &sid, &oid, NULL));
	CHECK_OK("B takes it over", store_sync_claim(f->s, "B", 2000, 10, &sid, &oid, NULL));
	CHECK_EQ("A's apply is refused", STORE_ECONFLICT,
		 store_apply_finish(f->s, f->org, id, &desired, &empty, &none, &p, &lost));
	CHECK_EQ("and rolled back", 0, raw_int(f, "SELECT count(*) FROM members"));
	get_sync(f, id, &r);
	CHECK_EQ("still Pending", SYNC_PENDING, r.status);
	store_sync_row_free(&r);
	CHECK_OK("B's apply", store_apply_finish(f->s, f->org, id, &desired, &empty, &none, &p, &held));
	CHECK_EQ("members written once", desired.nmembers,
		 raw_int(f, "SELECT count(*) FROM members"));
	tplan_free(&p);
	org_free(&empty);
	org_free(&desired);
}

/*
 * The sync's outcome is written in the apply's transaction: both or
 * neither. An outcome that cannot be written (no such sync) takes the
 * apply down with it; an apply that fails leaves the sync unfinished.
 */
static void test_apply_finish_is_atomic(void **state)
{
	struct fx *f = *state;
	struct org desired, empty;
	struct store_ids none = { NULL, NULL };
	struct sync_row r;
	struct plan p;
	int64_t id, running, claimed, org;
	const struct sync_outcome done = { SYNC_WARNING, NULL, "{\"members\":{}}", NULL, NULL, NULL,
					   NULL };

	sample_org(&desired);
	org_init(&empty);
	plan_all_create(&p, &desired, PLAN_NONE);
	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
	CHECK_OK("claim", claim(f->s, &claimed, &org));
	CHECK_EQ("no such sync: the apply is undone too", STORE_ENOTFOUND,
		 store_apply_finish(f->s, f->org, id + 100, &desired, &empty, &none, &p, &done));
	CHECK_EQ("no member written", 0, raw_int(f, "SELECT count(*) FROM members"));
	CHECK_EQ("unknown org", STORE_ENOTFOUND,
		 store_apply_finish(f->s, f->org + 5, id, &desired, &empty, &none, &p, &done));
	get_sync(f, id, &r);
	CHECK_STR("a failed apply leaves the sync as it was", "Pending",
		  format_sync_status_name(r.status));
	store_sync_row_free(&r);
	CHECK_OK("apply and finish",
		 store_apply_finish(f->s, f->org, id, &desired, &empty, &none, &p, &done));
	get_sync(f, id, &r);
	CHECK_STR("finished with the apply", "Warning", format_sync_status_name(r.status));
	CHECK_STR("counts", "{\"members\":{}}", r.counts_json);
	assert_true(r.finished_at > 0);
	store_sync_row_free(&r);
	CHECK_EQ("members written", desired.nmembers, raw_int(f, "SELECT count(*) FROM members"));
	tplan_free(&p);
	org_free(&empty);
	org_free(&desired);
}

static void test_sync_payloads(void **state)
{
	struct fx *f = *state;
	size_t big = 3 * 1024 * 1024 + 7, len, i;
	unsigned char *data = malloc(big);
	void *out = NULL;
	int64_t id, running;
	struct store_part parts[] = { { "members", data, big }, { "teams", "", 0 } };
	struct store_part nameless[] = { { "", "x", 1 } };
	struct sync_meta with_parts = api_meta, bad = api_meta;

	assert_non_null(data);
	for (i = 0; i < big; i++)
		data[i] = (unsigned char)(i * 131 + (i >> 9));
	with_parts.parts = parts;
	with_parts.nparts = 2;
	bad.parts = nameless;
	bad.nparts = 1;
	CHECK_EQ("a part without a name", STORE_EINVAL,
		 store_sync_begin(f->s, f->org, &bad, &id, &running));
	CHECK_OK("begin with members and (empty) teams",
		 store_sync_begin(f->s, f->org, &with_parts, &id, &running));
	CHECK_OK("get members", store_sync_payload_get(f->s, id, "members", &out, &len));
	CHECK_EQ("length", big, len);
	assert_memory_equal(data, out, big);
	free(out);
	CHECK_OK("get teams", store_sync_payload_get(f->s, id, "teams", &out, &len));
	CHECK_EQ("empty part", 0, len);
	free(out);
	CHECK_OK("replace", store_sync_payload_put(f->s, id, "members", "a\0b", 3));
	CHECK_OK("get replaced", store_sync_payload_get(f->s, id, "members", &out, &len));
	CHECK_EQ("replaced length", 3, len);
	assert_memory_equal("a\0b", out, 3);
	free(out);
	CHECK_EQ("absent part", STORE_ENOTFOUND,
		 store_sync_payload_get(f->s, id, "teamsMappings", &out, &len));
	CHECK_EQ("unknown sync", STORE_ENOTFOUND,
		 store_sync_payload_put(f->s, id + 9, "members", "x", 1));
	CHECK_OK("put a plan", store_sync_payload_put(f->s, id, "plan", "{}", 2));
	CHECK_OK("finish", store_sync_finish(f->s, id, SYNC_SUCCESS, NULL, NULL, NULL, NULL));
	CHECK_EQ("input dropped once the sync ended", STORE_ENOTFOUND,
		 store_sync_payload_get(f->s, id, "members", &out, &len));
	CHECK_EQ("every input part", STORE_ENOTFOUND,
		 store_sync_payload_get(f->s, id, "teams", &out, &len));
	CHECK_OK("other parts stay", store_sync_payload_get(f->s, id, "plan", &out, &len));
	CHECK_EQ("plan length", 2, len);
	free(out);
	free(data);
}

/* A source that yields its bytes a few at a time, or fails after fail_at bytes. */
struct trickle {
	const unsigned char *data;
	size_t len, pos, step, fail_at;
};

static int trickle_read(void *ctx, void *buf, size_t cap, size_t *got)
{
	struct trickle *t = ctx;
	size_t n = t->len - t->pos;

	if (t->pos >= t->fail_at) {
		errno = EIO;
		return -1;
	}
	if (n > cap)
		n = cap;
	if (n > t->step)
		n = t->step;
	memcpy(buf, t->data + t->pos, n);
	t->pos += n;
	*got = n;
	return 0;
}

/*
 * Payloads pulled from sources are stored whole and read back in pieces;
 * a source that fails, or yields less than announced, registers nothing.
 */
static void test_sync_payload_sources(void **state)
{
	struct fx *f = *state;
	size_t big = 2 * 1024 * 1024 + 11, i, got, off;
	unsigned char *data = malloc(big), *back = malloc(big);
	struct trickle tr = { NULL, 0, 0, 70001, (size_t)-1 };
	struct trickle empty = { (const unsigned char *)"", 0, 0, 1, (size_t)-1 };
	struct store_source src[2] = { { "members", 0, trickle_read, &tr },
				       { "teams", 0, trickle_read, &empty } };
	struct store_part part = { "json", "{}", 2 };
	struct sync_meta with_part = api_meta;
	struct store_blob *blob = NULL;
	struct sync_row row;
	uint64_t len = 0;
	int64_t id = 0, running = 0;
	size_t n;

	assert_non_null(data);
	assert_non_null(back);
	for (i = 0; i < big; i++)
		data[i] = (unsigned char)(i * 7 + (i >> 11));
	tr.data = data;
	tr.len = big;
	src[0].len = big;
	tr.fail_at = big / 2;
	CHECK_EQ("a source that fails half way", STORE_EIO,
		 store_sync_begin_sources(f->s, f->org, &api_meta, src, 2, &id, &running));
	CHECK_OK("pending", store_sync_pending(f->s, f->org, &running));
	CHECK_EQ("nothing registered", 0, running);
	tr.pos = 0;
	tr.fail_at = (size_t)-1;
	src[0].len = big + 1;
	CHECK_EQ("a source shorter than announced", STORE_EIO,
		 store_sync_begin_sources(f->s, f->org, &api_meta, src, 2, &id, &running));
	tr.pos = 0;
	src[0].len = big;
	CHECK_OK("begin from sources",
		 store_sync_begin_sources(f->s, f->org, &api_meta, src, 2, &id, &running));
	CHECK_OK("pending", store_sync_pending(f->s, f->org, &running));
	/* Its number: the ids the failed attempts took are not given back on PostgreSQL. */
	CHECK_OK("the new sync", store_sync_get(f->s, f->org, id, &row));
	CHECK_EQ("the new sync is Pending", row.number, running);
	store_sync_row_free(&row);
	CHECK_OK("open members", store_sync_payload_open(f->s, id, "members", &blob, &len));
	CHECK_EQ("length", big, len);
	for (off = 0; off < big; off += got) {
		n = big - off < 100003 ? big - off : 100003;
		CHECK_OK("read a piece", store_blob_read(blob, back + off, n, &got));
		if (!got)
			fail_msg("the blob ended at %zu of %zu bytes", off, big);
	}
	CHECK_OK("read past the end", store_blob_read(blob, back, 10, &got));
	CHECK_EQ("nothing past the end", 0, got);
	store_blob_close(blob);
	assert_memory_equal(data, back, big);
	CHECK_OK("open the empty part", store_sync_payload_open(f->s, id, "teams", &blob, &len));
	CHECK_EQ("empty", 0, len);
	store_blob_close(blob);
	CHECK_EQ("absent part", STORE_ENOTFOUND,
		 store_sync_payload_open(f->s, id, "teamsMappings", &blob, &len));
	with_part.parts = &part;
	with_part.nparts = 1;
	CHECK_EQ("parts in memory and sources at once", STORE_EINVAL,
		 store_sync_begin_sources(f->s, f->org, &with_part, src, 2, &id, &running));
	free(data);
	free(back);
}

/* Tenants never see each other's syncs, reports, members or invitations. */
static void test_tenant_isolation(void **state)
{
	struct fx *f = *state;
	struct org first, other;
	struct store_ids ids;
	struct report rep;
	struct sync_row r, *rows = NULL;
	char key[STORE_KEY_MAX], token[STORE_TOKEN_MAX];
	int64_t org2, id, running;
	size_t n = 9;

	apply_sample(f, &first);
	CHECK_OK("org 2", store_org_create(f->s, "Birch", &org2, key));
	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
	CHECK_EQ("get from another org", STORE_ENOTFOUND, store_sync_get(f->s, org2, id, &r));
	CHECK_OK("list of another org", store_sync_list(f->s, org2, 0, 50, &rows, &n));
	CHECK_EQ("sees nothing", 0, n);
	store_sync_rows_free(rows, n);
	n = 9;
	CHECK_OK("count of another org", store_sync_count(f->s, org2, &n));
	CHECK_EQ("counts nothing", 0, n);
	report_init(&rep);
	CHECK_EQ("report from another org", STORE_ENOTFOUND,
		 store_sync_report(f->s, org2, id, &rep));
	report_free(&rep);
	CHECK_EQ("transition from another org", STORE_ENOTFOUND,
		 store_sync_transition(f->s, org2, id, SYNC_PENDING, SYNC_REJECTED, "x"));
	get_sync(f, id, &r);
	CHECK_EQ("untouched", SYNC_PENDING, r.status);
	store_sync_row_free(&r);
	org_init(&other);
	CHECK_OK("load other org", store_org_load(f->s, org2, &other, &ids));
	CHECK_EQ("no members of the first org", 0, other.nmembers);
	CHECK_EQ("no teams of the first org", 0, other.nteams);
	store_ids_free(&ids);
	org_free(&other);
	CHECK_EQ("load an unknown org", STORE_ENOTFOUND,
		 store_org_load(f->s, org2 + 10, &other, &ids));
	CHECK_EQ("invite another org's member", STORE_ENOTFOUND,
		 store_invite(f->s, org2, "E1", token));
	org_free(&first);
}


/* --- per-org numbers, decisions, the audit trail, paged plans ----------------------- */

static void test_sync_numbers_per_org(void **state)
{
	struct fx *f = *state;
	struct sync_row r;
	char key[STORE_KEY_MAX];
	int64_t org2, a1, a2, b1, running = 0;

	CHECK_OK("org 2", store_org_create(f->s, "Birch", &org2, key));
	CHECK_OK("A begin", store_sync_begin(f->s, f->org, &api_meta, &a1, &running));
	CHECK_OK("B begin", store_sync_begin(f->s, org2, &api_meta, &b1, &running));
	CHECK_EQ("A's busy names A's number", STORE_EBUSY,
		 store_sync_begin(f->s, f->org, &api_meta, &a2, &running));
	CHECK_EQ("running: A's sync 1", 1, running);
	CHECK_OK("A finish", store_sync_finish(f->s, a1, SYNC_SUCCESS, NULL, NULL, NULL, NULL));
	CHECK_OK("A begin 2", store_sync_begin(f->s, f->org, &api_meta, &a2, &running));
	CHECK_OK("A's 1", store_sync_by_number(f->s, f->org, 1, &r));
	CHECK_EQ("A's 1 is A's first", a1, r.id);
	store_sync_row_free(&r);
	CHECK_OK("B's 1", store_sync_by_number(f->s, org2, 1, &r));
	CHECK_EQ("B's 1 is B's first, not A's", b1, r.id);
	CHECK_EQ("B's 1 numbered 1", 1, r.number);
	store_sync_row_free(&r);
	CHECK_OK("A's 2", store_sync_by_number(f->s, f->org, 2, &r));
	CHECK_EQ("A's 2", a2, r.id);
	store_sync_row_free(&r);
	CHECK_EQ("B has no sync 2", STORE_ENOTFOUND, store_sync_by_number(f->s, org2, 2, &r));
	CHECK_EQ("A's internal id of B's sync is not A's", STORE_ENOTFOUND,
		 store_sync_get(f->s, f->org, b1, &r));
}

static void test_sync_decide(void **state)
{
	struct fx *f = *state;
	struct sync_row r;
	int64_t id, running;

	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
	CHECK_EQ("a Pending sync cannot be decided", STORE_ECONFLICT,
		 store_sync_decide(f->s, f->org, id,
				   &(struct sync_decision){ true, "key:a", NULL, NULL }));
	CHECK_OK("pause", store_sync_finish(f->s, id, SYNC_PAUSED, "risky", NULL, NULL, NULL));
	CHECK_EQ("no actor", STORE_EINVAL,
		 store_sync_decide(f->s, f->org, id,
				   &(struct sync_decision){ false, NULL, NULL, NULL }));
	CHECK_OK("reject",
		 store_sync_decide(f->s, f->org, id,
				   &(struct sync_decision){ false, "key:0123", "looks wrong",
							    "rejected: looks wrong" }));
	get_sync(f, id, &r);
	CHECK_EQ("status", SYNC_REJECTED, r.status);
	CHECK_STR("decision", "reject", r.decision);
	CHECK_STR("by", "key:0123", r.decided_by);
	CHECK_STR("why", "looks wrong", r.decision_reason);
	CHECK_STR("sync reason", "rejected: looks wrong", r.reason);
	if (r.decided_at <= 0 || r.finished_at != r.decided_at)
		fail_msg("decided_at %lld, finished_at %lld", (long long)r.decided_at,
			 (long long)r.finished_at);
	store_sync_row_free(&r);
	CHECK_EQ("decided once only", STORE_ECONFLICT,
		 store_sync_decide(f->s, f->org, id,
				   &(struct sync_decision){ true, "key:b", NULL, NULL }));
}

static void check_audit(struct fx *f, int64_t org, const struct audit_filter *flt,
			const char *expected)
{
	struct audit_entry *rows = NULL;
	struct buf got;
	size_t n = 0, i;

	CHECK_OK("audit list", store_audit_list(f->s, org, flt, &rows, &n));
	buf_init(&got);
	for (i = 0; i < n; i++)
		buf_printf(&got, "%s%lld %s %s %s %s>%s", i ? "; " : "", (long long)rows[i].number,
			   rows[i].actor, rows[i].action, rows[i].target,
			   rows[i].old_json ? rows[i].old_json : "-",
			   rows[i].new_json ? rows[i].new_json : "-");
	CHECK_STR("audit entries", expected, got.data ? got.data : "");
	buf_free(&got);
	store_audit_free(rows, n);
}

static void test_audit_in_the_change_transaction(void **state)
{
	struct fx *f = *state;
	struct audit_filter all = { 0, 50, NULL, NULL, NULL };
	char key[STORE_KEY_MAX], **names = NULL;
	size_t n = 0;
	int64_t org2;
	int rc;

	CHECK_EQ("not JSON", STORE_EINVAL,
		 store_audit_add(f->s, f->org, "cli:x", "a.b", "t", "{nope", NULL));
	CHECK_EQ("no actor", STORE_EINVAL, store_audit_add(f->s, f->org, "", "a.b", "t", NULL, NULL));
	CHECK_EQ("unknown org", STORE_ENOTFOUND,
		 store_audit_add(f->s, f->org + 99, "cli:x", "a.b", "t", NULL, NULL));
	/* A change and its entry commit together. */
	CHECK_OK("tx", store_tx_begin(f->s));
	CHECK_EQ("one at a time", STORE_EINVAL, store_tx_begin(f->s));
	rc = store_property_add(f->s, f->org, "Dept");
	if (!rc)
		rc = store_audit_add(f->s, f->org, "key:01", "property.create", "property:Dept", NULL,
				     "{\"name\":\"Dept\"}");
	CHECK_OK("commit", store_tx_end(f->s, rc));
	/* A failing change takes its entry, and the rest of the transaction, with it. */
	CHECK_OK("tx 2", store_tx_begin(f->s));
	rc = store_property_add(f->s, f->org, "Site");
	if (!rc)
		rc = store_audit_add(f->s, f->org, "key:01", "property.create", "property:Site", NULL,
				     "{\"name\":\"Site\"}");
	if (!rc)
		rc = store_property_add(f->s, f->org, "Dept");
	CHECK_EQ("the second Dept is refused", STORE_ECONFLICT, rc);
	CHECK_EQ("rolled back, the refusal returned", STORE_ECONFLICT, store_tx_end(f->s, rc));
	CHECK_EQ("no transaction left open", STORE_EINVAL, store_tx_end(f->s, STORE_OK));
	CHECK_OK("properties", store_properties_list(f->s, f->org, &names, &n));
	CHECK_EQ("Site went with the rollback", 1, n);
	CHECK_STR("Dept stays", "Dept", names[0]);
	store_strings_free(names, n);
	check_audit(f, f->org, &all, "1 key:01 property.create property:Dept ->{\"name\":\"Dept\"}");
	/* Outside a transaction an entry stands alone; numbers, order, filters, pages. */
	CHECK_OK("add 2", store_audit_add(f->s, f->org, "cli:ann", "key.rotate", "keys",
					  "{\"keyIds\":[\"a\"]}", "{\"keyIds\":[\"b\"]}"));
	CHECK_OK("add 3", store_audit_add(f->s, f->org, "key:01", "settings.update", "settings",
					  "{}", "{\"autoInvite\":true}"));
	check_audit(f, f->org, &all,
		    "3 key:01 settings.update settings {}>{\"autoInvite\":true}; "
		    "2 cli:ann key.rotate keys {\"keyIds\":[\"a\"]}>{\"keyIds\":[\"b\"]}; "
		    "1 key:01 property.create property:Dept ->{\"name\":\"Dept\"}");
	check_audit(f, f->org, &(struct audit_filter){ 0, 1, NULL, NULL, NULL },
		    "3 key:01 settings.update settings {}>{\"autoInvite\":true}");
	check_audit(f, f->org, &(struct audit_filter){ 3, 1, NULL, NULL, NULL },
		    "2 cli:ann key.rotate keys {\"keyIds\":[\"a\"]}>{\"keyIds\":[\"b\"]}");
	check_audit(f, f->org, &(struct audit_filter){ 0, 50, NULL, "key:01", NULL },
		    "3 key:01 settings.update settings {}>{\"autoInvite\":true}; "
		    "1 key:01 property.create property:Dept ->{\"name\":\"Dept\"}");
	check_audit(f, f->org, &(struct audit_filter){ 0, 50, "key.rotate", NULL, "keys" },
		    "2 cli:ann key.rotate keys {\"keyIds\":[\"a\"]}>{\"keyIds\":[\"b\"]}");
	/* Another org has its own numbering and sees none of these. */
	CHECK_OK("org 2", store_org_create(f->s, "Birch", &org2, key));
	check_audit(f, org2, &all, "");
	CHECK_OK("org 2 add", store_audit_add(f->s, org2, "cli:bo", "admin.add", "member:a@b.c",
					      NULL, "{\"role\":\"Administrator\"}"));
	check_audit(f, org2, &all, "1 cli:bo admin.add member:a@b.c ->{\"role\":\"Administrator\"}");
}

/* A synthetic plan: n[0] members, n[1] teams, n[2] mappings; every third member changes. */
struct fake_plan {
	uint32_t n[3], at;
	char subject[32], detail[48], changes[96];
};

static int fake_next(void *ctx, struct store_plan_entry *out)
{
	static const char *const types[] = { "member", "team", "mapping" };
	struct fake_plan *fp = ctx;
	uint32_t i = fp->at++, t = i < fp->n[0] ? 0 : i < fp->n[0] + fp->n[1] ? 1 : 2;

	snprintf(fp->subject, sizeof(fp->subject), "S%u", i);
	snprintf(fp->detail, sizeof(fp->detail), "d\"%u\"\n\u00e9", i); /* quoting survives */
	snprintf(fp->changes, sizeof(fp->changes),
		 "{\"email\":{\"old\":\"o%u@x\",\"new\":\"n%u@x\"}}", i, i);
	*out = (struct store_plan_entry){ types[t], t == 2 ? "add" : "create", fp->subject,
					  fp->detail, i % 16,
					  t == 0 && i % 3 == 0 ? fp->changes : NULL };
	return 0;
}

static void test_sync_plan_paged(void **state)
{
	struct fx *f = *state;
	struct fake_plan fp = { { 300, 7, 200 }, 0, "", "", "" };
	struct store_plan plan = { { 300, 7, 200 }, fake_next, &fp };
	struct store_plan_page page;
	char key[STORE_KEY_MAX], want[96];
	uint64_t next = 0, seen = 0;
	int64_t id, running, org2;
	size_t i;

	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, &running));
	CHECK_EQ("no plan while Pending", STORE_ENOTFOUND,
		 store_sync_plan(f->s, f->org, id, -1, 0, 10, &page));
	CHECK_OK("record", store_sync_record(f->s, id,
					     &(struct sync_outcome){ SYNC_SUCCESS, NULL, NULL, NULL,
								     NULL, &plan, NULL }));
	/* Paged to the end, 7 at a time: every entry once, in order, equal to the counts. */
	do {
		CHECK_OK("page", store_sync_plan(f->s, f->org, id, -1, next, 7, &page));
		CHECK_EQ("members", 300, page.n[0]);
		CHECK_EQ("teams", 7, page.n[1]);
		CHECK_EQ("mappings", 200, page.n[2]);
		CHECK_EQ("range end", 507, page.end);
		for (i = 0; i < page.count; i++) {
			const struct store_plan_row *e = &page.rows[i];

			CHECK_EQ("seq in order", seen, e->seq);
			snprintf(want, sizeof(want), "S%llu", (unsigned long long)seen);
			CHECK_STR("subject", want, e->subject);
			snprintf(want, sizeof(want), "d\"%llu\"\n\u00e9", (unsigned long long)seen);
			CHECK_STR("detail", want, e->detail);
			CHECK_STR("type", seen < 300 ? "member" : seen < 307 ? "team" : "mapping",
				  e->type);
			CHECK_EQ("flags", seen % 16, e->flags);
			if (seen < 300 && seen % 3 == 0) {
				snprintf(want, sizeof(want),
					 "{\"email\":{\"old\":\"o%llu@x\",\"new\":\"n%llu@x\"}}",
					 (unsigned long long)seen, (unsigned long long)seen);
				CHECK_STR("changes", want, e->changes);
			} else if (e->changes) {
				fail_msg("entry %llu: unexpected changes %s", (unsigned long long)seen,
					 e->changes);
			}
			seen++;
		}
		next = page.count ? page.rows[page.count - 1].seq + 1 : page.end;
		store_plan_page_free(&page);
	} while (next < 507);
	CHECK_EQ("entries read", 507, seen);
	/* A type is its range: teams are 300..306, a page of them starts there. */
	CHECK_OK("teams", store_sync_plan(f->s, f->org, id, 1, 0, 100, &page));
	CHECK_EQ("teams listed", 7, page.count);
	CHECK_EQ("first team", 300, page.rows[0].seq);
	CHECK_EQ("range", 300, page.first);
	CHECK_EQ("range end", 307, page.end);
	store_plan_page_free(&page);
	CHECK_OK("mappings from inside", store_sync_plan(f->s, f->org, id, 2, 500, 100, &page));
	CHECK_EQ("the last 7", 7, page.count);
	CHECK_STR("a mapping", "mapping", page.rows[0].type);
	store_plan_page_free(&page);
	CHECK_OK("past the end", store_sync_plan(f->s, f->org, id, -1, 9999, 10, &page));
	CHECK_EQ("nothing", 0, page.count);
	store_plan_page_free(&page);
	CHECK_OK("org 2", store_org_create(f->s, "Birch", &org2, key));
	CHECK_EQ("another org's plan", STORE_ENOTFOUND,
		 store_sync_plan(f->s, org2, id, -1, 0, 10, &page));
	CHECK_EQ("unknown type", STORE_EINVAL, store_sync_plan(f->s, f->org, id, 3, 0, 10, &page));
	/* A sync run again keeps the plan of its last run only. */
	CHECK_OK("record without a plan", store_sync_finish(f->s, id, SYNC_FAILED, "x", NULL, NULL,
							    NULL));
	CHECK_EQ("the plan went", STORE_ENOTFOUND,
		 store_sync_plan(f->s, f->org, id, -1, 0, 10, &page));
	CHECK_EQ("no chunk left", 0, raw_int(f, "SELECT count(*) FROM sync_plan_chunks"));
}

/*
 * A database of schema 5 (syncs numbered globally, a plan kept as one JSON
 * payload, an approval as a payload part) is brought to the current one.
 */
static void test_migration_from_schema_5(void **state)
{
	struct fx *f = *state;
	struct store_plan_page page;
	struct sync_row r;
	char key[STORE_KEY_MAX];
	int64_t org2, id;

	TESTDB_SQLITE_ONLY(&f->db);
	CHECK_OK("org 2", store_org_create(f->s, "Birch", &org2, key));
	store_close(f->s);
	f->s = NULL;
	rewind_schema(f, 5);
	/* Syncs 1 (org 1), 2 (org 2), 3 (org 1, Paused, approved, with its plan). */
	raw_exec(f, "INSERT INTO syncs (id, org_id, status, source, mode, format, created_at)"
		    " VALUES (1, 1, 'Success', 'CLI', 'full', 'csv', 1), (2, 2, 'Rejected', 'CLI',"
		    " 'full', 'csv', 2), (3, 1, 'Pending', 'CLI', 'full', 'csv', 3);"
		    " UPDATE syncs SET reason = 'rejected by an administrator', finished_at = 9"
		    " WHERE id = 2;"
		    " INSERT INTO sync_payloads (sync_id, part, data) VALUES (3, 'approval', '1'),"
		    " (3, 'plan', CAST('{\"counts\":{},\"members\":[{\"action\":\"update\","
		    "\"externalMemberId\":\"E1\",\"email\":\"e@x\",\"changed\":[\"email\"],"
		    "\"invite\":false}],\"teams\":[{\"action\":\"rename\",\"externalTeamId\":\"T1\","
		    "\"teamName\":\"New\",\"previousName\":\"Old\"}],\"mappings\":[{\"action\":"
		    "\"add\",\"externalTeamId\":\"T1\",\"externalSubteamId\":\"T2\",\"kind\":"
		    "\"subteam\",\"isMember\":false,\"isManager\":false}],\"truncated\":true}' AS BLOB));");
	f->s = open_again(f);
	CHECK_EQ("schema version", 15, raw_int(f, "PRAGMA user_version"));
	CHECK_OK("org 1's second sync", store_sync_by_number(f->s, f->org, 2, &r));
	id = r.id;
	CHECK_EQ("is sync 3", 3, id);
	CHECK_STR("the approval moved to the decision", "approve", r.decision);
	store_sync_row_free(&r);
	CHECK_OK("org 2's first sync", store_sync_by_number(f->s, org2, 1, &r));
	CHECK_EQ("is sync 2", 2, r.id);
	CHECK_STR("a rejection by its reason", "reject", r.decision);
	CHECK_EQ("decided when it finished", 9, r.decided_at);
	store_sync_row_free(&r);
	CHECK_EQ("the approval part went", 0,
		 raw_int(f, "SELECT count(*) FROM sync_payloads WHERE part IN ('approval', 'plan')"));
	CHECK_OK("the old plan, paged", store_sync_plan(f->s, f->org, id, -1, 0, 10, &page));
	CHECK_EQ("entries", 3, page.count);
	CHECK_EQ("truncated", 1, page.truncated);
	CHECK_STR("member", "E1", page.rows[0].subject);
	CHECK_STR("changed field, no values", "{\"email\":null}", page.rows[0].changes);
	CHECK_STR("rename old -> new", "{\"teamName\":{\"old\":\"Old\",\"new\":\"New\"}}",
		  page.rows[1].changes);
	CHECK_STR("subteam", "T2", page.rows[2].detail);
	CHECK_EQ("subteam flag", STORE_PLAN_SUBTEAM, page.rows[2].flags);
	store_plan_page_free(&page);
	CHECK_OK("the next sync of org 1 is its third",
		 store_sync_finish(f->s, id, SYNC_SUCCESS, NULL, NULL, NULL, NULL));
	CHECK_OK("begin", store_sync_begin(f->s, f->org, &api_meta, &id, NULL));
	get_sync(f, id, &r);
	CHECK_EQ("number", 3, r.number);
	store_sync_row_free(&r);
}

/* --- invitations and admins --------------------------------------------------------- */

static void test_invitations(void **state)
{
	struct fx *f = *state;
	struct org first, loaded;
	struct store_ids ids;
	char token[STORE_TOKEN_MAX], token2[STORE_TOKEN_MAX], *payload, sql[160];
	int64_t org, member;

	apply_sample(f, &first);
	CHECK_OK("invite E1", store_invite(f->s, f->org, "E1", token));
	CHECK_EQ("token length", 43, strlen(token));
	snprintf(sql, sizeof(sql),
		 "SELECT payload FROM outbox WHERE json_extract(payload, '$.memberId') = 'E1'");
	payload = raw_text(f, sql);
	assert_non_null(payload);
	assert_non_null(strstr(payload, token));
	free(payload);
	load(f, &loaded, &ids);
	CHECK_EQ("E1 invited", STATE_INVITED, state_of(&loaded, "E1"));
	CHECK_OK("accept", store_invitation_accept(f->s, token, &org, &member));
	CHECK_EQ("org", f->org, org);
	CHECK_EQ("member", ids.members[member_ix(&loaded, "E1")], member);
	store_ids_free(&ids);
	org_free(&loaded);
	load(f, &loaded, &ids);
	CHECK_EQ("E1 active", STATE_ACTIVE, state_of(&loaded, "E1"));
	store_ids_free(&ids);
	org_free(&loaded);
	CHECK_EQ("accept twice", STORE_ENOTFOUND,
		 store_invitation_accept(f->s, token, &org, &member));
	CHECK_EQ("unknown token", STORE_ENOTFOUND,
		 store_invitation_accept(f->s, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &org,
					 &member));
	CHECK_EQ("malformed token", STORE_ENOTFOUND,
		 store_invitation_accept(f->s, "not a token", &org, &member));
	CHECK_EQ("empty token", STORE_ENOTFOUND, store_invitation_accept(f->s, "", &org, &member));
	CHECK_EQ("invite an unknown member", STORE_ENOTFOUND,
		 store_invite(f->s, f->org, "E404", token2));
	CHECK_EQ("ids are case-sensitive", STORE_ENOTFOUND,
		 store_invite(f->s, f->org, "e3", token2));
	raw_exec(f, "UPDATE members SET state = 'deactivated' WHERE external_id = 'E5'");
	CHECK_EQ("invite a deactivated member", STORE_ENOTFOUND,
		 store_invite(f->s, f->org, "E5", token2));
	/* Expired: seven days have passed. */
	CHECK_OK("invite E6", store_invite(f->s, f->org, "E6", token2));
	raw_exec(f, "UPDATE invitations SET expires_at = created_at - 1 WHERE accepted_at IS NULL");
	CHECK_EQ("expired token", STORE_ENOTFOUND,
		 store_invitation_accept(f->s, token2, &org, &member));
	CHECK_EQ("expiry is seven days", 7LL * 24 * 3600 * 1000,
		 raw_int(f, "SELECT expires_at - created_at FROM invitations"
			    " WHERE accepted_at IS NOT NULL"));
	/* Deactivated after being invited: accepting does not bring the member back. */
	CHECK_OK("invite E3", store_invite(f->s, f->org, "E3", token2));
	raw_exec(f, "UPDATE members SET state = 'deactivated' WHERE external_id = 'E3'");
	CHECK_EQ("accept for a since-deactivated member", STORE_ENOTFOUND,
		 store_invitation_accept(f->s, token2, &org, &member));
	CHECK_EQ("E3 stays deactivated", 1,
		 raw_int(f, "SELECT count(*) FROM members WHERE external_id = 'E3'"
			    " AND state = 'deactivated'"));
	org_free(&first);
}

static void test_admin_add(void **state)
{
	struct fx *f = *state;
	struct org first, loaded;
	struct store_ids ids;
	const struct member *m;

	apply_sample(f, &first);
	CHECK_OK("new admin", store_admin_add(f->s, f->org, "Boss@Maple.example"));
	CHECK_OK("existing member, other case", store_admin_add(f->s, f->org, "EVE@MAPLE.EXAMPLE"));
	CHECK_OK("twice is fine", store_admin_add(f->s, f->org, "boss@maple.example"));
	CHECK_EQ("not an email", STORE_EINVAL, store_admin_add(f->s, f->org, "boss"));
	CHECK_EQ("empty", STORE_EINVAL, store_admin_add(f->s, f->org, ""));
	CHECK_EQ("unknown org", STORE_ENOTFOUND, store_admin_add(f->s, f->org + 3, "a@b.example"));
	load(f, &loaded, &ids);
	CHECK_EQ("one member more", first.nmembers + 1, loaded.nmembers);
	m = &loaded.members[member_ix(&loaded, "Boss@Maple.example")];
	CHECK_STR("email as given", "Boss@Maple.example", m->email);
	CHECK_EQ("administrator", ROLE_ADMINISTRATOR, m->role);
	CHECK_EQ("active", STATE_ACTIVE, m->state);
	CHECK_EQ("Officevibe by default", 1u << PRODUCT_OFFICEVIBE, m->products);
	m = &loaded.members[member_ix(&loaded, "E5")];
	CHECK_EQ("E5 administrator", ROLE_ADMINISTRATOR, m->role);
	CHECK_EQ("E5 state unchanged", STATE_CREATED, m->state);
	CHECK_STR("E5 email unchanged", "eve@maple.example", m->email);
	CHECK_EQ("E1 still a member", ROLE_MEMBER, loaded.members[member_ix(&loaded, "E1")].role);
	store_ids_free(&ids);
	org_free(&loaded);
	org_free(&first);
}

static void test_admin_list_remove(void **state)
{
	struct fx *f = *state;
	struct org first, loaded;
	struct store_ids ids;
	struct store_admin *v = NULL;
	size_t n = 0;
	int64_t v1, v2;
	const struct member *m;

	apply_sample(f, &first);
	CHECK_EQ("malformed: no domain dot", STORE_EINVAL, store_admin_add(f->s, f->org, "a@b"));
	CHECK_EQ("malformed: nothing after @", STORE_EINVAL, store_admin_add(f->s, f->org, "bob@"));
	CHECK_EQ("malformed: double dot", STORE_EINVAL,
		 store_admin_add(f->s, f->org, "a..b@maple.example"));
	CHECK_OK("list the sample's", store_admin_list(f->s, f->org, &v, &n));
	CHECK_EQ("the sample has one Administrator", 1, n);
	CHECK_STR("E4", "E4", v[0].external_id);
	CHECK_EQ("E4 dated by its creation", true, v[0].added_at > 0);
	store_admins_free(v, n);
	raw_exec(f, "UPDATE members SET admin_since = 2000 WHERE external_id = 'E4'");
	CHECK_OK("add boss", store_admin_add(f->s, f->org, "Boss@Maple.example"));
	raw_exec(f, "UPDATE members SET admin_since = 1000 WHERE email = 'Boss@Maple.example'");
	CHECK_OK("add E5", store_admin_add(f->s, f->org, "EVE@MAPLE.EXAMPLE"));
	CHECK_OK("add boss again", store_admin_add(f->s, f->org, "boss@maple.example"));
	CHECK_OK("list", store_admin_list(f->s, f->org, &v, &n));
	CHECK_EQ("three Administrators", 3, n);
	CHECK_STR("longest-standing first", "Boss@Maple.example", v[0].email);
	CHECK_EQ("adding again keeps the time it became one", 1000, v[0].added_at);
	CHECK_EQ("a new one is active", STATE_ACTIVE, v[0].state);
	CHECK_STR("then E4", "E4", v[1].external_id);
	CHECK_STR("E5 by its stored email", "eve@maple.example", v[2].email);
	CHECK_STR("E5 id", "E5", v[2].external_id);
	CHECK_EQ("E5 state", STATE_CREATED, v[2].state);
	CHECK_EQ("E5 added now", true, v[2].added_at > 2000);
	store_admins_free(v, n);

	CHECK_OK("version before", store_org_version(f->s, f->org, &v1));
	CHECK_OK("remove, other case", store_admin_remove(f->s, f->org, "BOSS@maple.EXAMPLE"));
	CHECK_OK("version after", store_org_version(f->s, f->org, &v2));
	CHECK_EQ("a removal changes the org", true, v1 != v2);
	CHECK_EQ("remove again", STORE_ENOTFOUND,
		 store_admin_remove(f->s, f->org, "boss@maple.example"));
	assert_non_null(strstr(store_error(f->s), "but not an Administrator"));
	CHECK_EQ("remove a stranger", STORE_ENOTFOUND,
		 store_admin_remove(f->s, f->org, "nobody@maple.example"));
	assert_non_null(strstr(store_error(f->s), "no member"));
	CHECK_EQ("remove in an unknown org", STORE_ENOTFOUND,
		 store_admin_remove(f->s, f->org + 3, "eve@maple.example"));
	CHECK_EQ("remove nothing", STORE_EINVAL, store_admin_remove(f->s, f->org, ""));
	CHECK_EQ("list an unknown org", STORE_ENOTFOUND,
		 store_admin_list(f->s, f->org + 3, &v, &n));
	CHECK_OK("list after remove", store_admin_list(f->s, f->org, &v, &n));
	CHECK_EQ("two left", 2, n);
	CHECK_STR("E4 left", "E4", v[0].external_id);
	CHECK_STR("E5 left", "E5", v[1].external_id);
	store_admins_free(v, n);
	CHECK_EQ("no trace of the role", 1,
		 raw_int(f, "SELECT count(*) FROM members WHERE email = 'Boss@Maple.example'"
			    " AND role = 'Member' AND admin_since IS NULL"));

	/* The row stays, a plain Member, which the next sync may remove. */
	load(f, &loaded, &ids);
	m = &loaded.members[member_ix(&loaded, "Boss@Maple.example")];
	CHECK_EQ("demoted", ROLE_MEMBER, m->role);
	CHECK_EQ("state kept", STATE_ACTIVE, m->state);
	CHECK_EQ("E5 still Administrator", ROLE_ADMINISTRATOR,
		 loaded.members[member_ix(&loaded, "E5")].role);
	store_ids_free(&ids);
	org_free(&loaded);
	org_free(&first);
}

static void test_org_list(void **state)
{
	struct fx *f = *state;
	struct store_org_row *rows = NULL;
	struct org first;
	char key[STORE_KEY_MAX];
	int64_t beta;
	size_t n = 0;

	apply_sample(f, &first);
	CHECK_OK("create Beta", store_org_create(f->s, "Beta", &beta, key));
	CHECK_OK("list", store_org_list(f->s, &rows, &n));
	CHECK_EQ("two orgs", 2, n);
	CHECK_EQ("by id", f->org, rows[0].id);
	CHECK_STR("Maple", "Maple", rows[0].name);
	CHECK_EQ("Maple's members", first.nmembers, rows[0].members);
	CHECK_EQ("created at", true, rows[0].created_at > 0);
	CHECK_EQ("Beta id", beta, rows[1].id);
	CHECK_STR("Beta", "Beta", rows[1].name);
	CHECK_EQ("Beta has no members", 0, rows[1].members);
	store_org_rows_free(rows, n);
	org_free(&first);
}

/* The org's key ids, oldest first; an unknown org is not an empty list. */
static void test_key_ids(void **state)
{
	struct fx *f = *state;
	char key[STORE_KEY_MAX], first[STORE_KEY_ID_MAX], second[STORE_KEY_ID_MAX];
	char **ids = NULL;
	size_t n = 0;

	assert_true(store_key_public_id(f->key, first));
	CHECK_OK("ids", store_key_ids(f->s, f->org, &ids, &n));
	CHECK_EQ("one key", 1, n);
	CHECK_STR("the creation's", first, ids[0]);
	store_strings_free(ids, n);
	CHECK_OK("rotate", store_key_rotate(f->s, f->org, key));
	assert_true(store_key_public_id(key, second));
	CHECK_OK("ids after rotate", store_key_ids(f->s, f->org, &ids, &n));
	CHECK_EQ("still one key", 1, n);
	CHECK_STR("the new one", second, ids[0]);
	store_strings_free(ids, n);
	ids = NULL;
	n = 0;
	CHECK_EQ("an unknown org", STORE_ENOTFOUND, store_key_ids(f->s, f->org + 3, &ids, &n));
	assert_non_null(strstr(store_error(f->s), "no organization"));
	CHECK_EQ("nothing returned", true, ids == NULL && n == 0);
}

/*
 * A database from before property names were unique ignoring case, already
 * holding such a clash, and an Administrator from before admin_since:
 * migrating keeps both properties, refuses a new clash, and dates the
 * Administrator by its last update.
 */
/*
 * Delivery's state machine in the store: a claim leases, a second claim
 * finds nothing until the lease ends, only the lease holder records, a
 * sent invitation loses its token, a dead one can be retried by its org
 * only.
 */
static void test_delivery_leases(void **state)
{
	struct fx *f = *state;
	struct store *other = open_again(f);
	struct store_delivery *v = NULL, *w = NULL;
	struct store_delivery_outcome o;
	char token[STORE_TOKEN_MAX], id[STORE_DELIVERY_ID_MAX];
	int64_t now = 1000000, due = 0;
	size_t n = 0, m = 0;

	CHECK_OK("member", store_admin_add(f->s, f->org, "a@x.example"));
	CHECK_OK("invite", store_invite(f->s, f->org, "a@x.example", token));
	now = (int64_t)raw_int(f, "SELECT created_at FROM outbox") + 1;
	CHECK_OK("claim", store_delivery_claim(f->s, DELIVERY_EMAIL, now, 5000, 10, &v, &n));
	CHECK_EQ("claimed", 1, n);
	CHECK_EQ("attempts", 1, v[0].attempts);
	CHECK_STR("kind", "invitation", v[0].kind);
	CHECK_OK("webhooks are another channel",
		 store_delivery_claim(other, DELIVERY_WEBHOOK, now, 5000, 10, &w, &m));
	CHECK_EQ("no webhook", 0, m);
	CHECK_OK("a second claim", store_delivery_claim(other, DELIVERY_EMAIL, now + 10, 5000, 10, &w, &m));
	CHECK_EQ("held by the lease", 0, m);
	CHECK_OK("next due", store_delivery_next_due(other, DELIVERY_EMAIL, &due));
	CHECK_EQ("due when the lease ends", now + 5000, due);
	/* The lease expires: another sender takes it; the first one's outcome is dropped. */
	CHECK_OK("claim after the lease", store_delivery_claim(other, DELIVERY_EMAIL, now + 6000, 5000,
								 10, &w, &m));
	CHECK_EQ("claimed again", 1, m);
	CHECK_STR("same delivery id", v[0].id, w[0].id);
	CHECK_EQ("second attempt", 2, w[0].attempts);
	o = (struct store_delivery_outcome){ v[0].row, v[0].lease, DELIVERY_DEAD, 0, "late" };
	CHECK_OK("stale outcome", store_delivery_record(f->s, &o, 1, now + 6001));
	CHECK_EQ("still sending", 1, raw_int(f, "SELECT count(*) FROM outbox WHERE status = 'sending'"));
	o = (struct store_delivery_outcome){ w[0].row, w[0].lease, DELIVERY_SENT, 0, NULL };
	CHECK_OK("holder's outcome", store_delivery_record(other, &o, 1, now + 6002));
	CHECK_EQ("sent", 1, raw_int(f, "SELECT count(*) FROM outbox WHERE status = 'sent'"));
	CHECK_EQ("token erased", 0, raw_int(f, "SELECT count(*) FROM outbox"
					     " WHERE json_extract(payload, '$.token') IS NOT NULL"));
	snprintf(id, sizeof(id), "%s", w[0].id);
	CHECK_EQ("a sent one is not retried", STORE_ECONFLICT,
		 store_delivery_retry(f->s, f->org, id, now + 7000));
	raw_exec(f, "UPDATE outbox SET status = 'dead', last_error = 'x'");
	CHECK_EQ("another org's", STORE_ENOTFOUND, store_delivery_retry(f->s, f->org + 1, id, now));
	CHECK_OK("retry", store_delivery_retry(f->s, f->org, id, now + 8000));
	CHECK_EQ("due at once", now + 8000, raw_int(f, "SELECT next_attempt_at FROM outbox"));
	store_deliveries_free(v, n);
	store_deliveries_free(w, m);
	store_close(other);
}

/* Invitation messages to recipient in status: withdrawn for err (token gone) or, err
 * NULL, still carrying their token. */
static long long invitations_to(const struct fx *f, const char *recipient, const char *status,
				const char *err)
{
	char sql[512];

	if (err)
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM outbox WHERE kind = 'invitation' AND recipient = '%s'"
			 " AND status = '%s' AND last_error = '%s'"
			 " AND json_extract(payload, '$.token') IS NULL", recipient, status, err);
	else
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM outbox WHERE kind = 'invitation' AND recipient = '%s'"
			 " AND status = '%s' AND last_error IS NULL"
			 " AND json_extract(payload, '$.token') IS NOT NULL", recipient, status);
	return raw_int(f, sql);
}

/*
 * A sync that deletes or deactivates members withdraws their unsent
 * invitations (dead, token erased), one in flight included, whose sender
 * cannot then mark it sent; the kept member's invitation still goes, and
 * a withdrawn one cannot be retried.
 */
static void test_removal_withdraws_invitations(void **state)
{
	static const char removed[] = "the member was removed before the invitation was sent";
	static const char deactivated[] =
		"the member was deactivated before the invitation was sent";
	struct fx *f = *state;
	struct org first, stored;
	struct store_ids ids;
	struct store_delivery *v = NULL, *w = NULL;
	struct store_delivery_outcome o;
	char token[STORE_TOKEN_MAX], *id;
	int64_t now;
	size_t i, n = 0, m = 0, flying = 0;
	struct plan p;

	apply_sample(f, &first); /* E2 invited by the sync */
	CHECK_OK("invite E1", store_invite(f->s, f->org, "E1", token));
	CHECK_OK("invite E5", store_invite(f->s, f->org, "E5", token));
	CHECK_OK("invite E6", store_invite(f->s, f->org, "E6", token));
	now = (int64_t)raw_int(f, "SELECT max(created_at) FROM outbox") + 1;
	/* E6's message is in flight; the others go back to the queue. */
	CHECK_OK("claim", store_delivery_claim(f->s, DELIVERY_EMAIL, now, 60000, 10, &v, &n));
	CHECK_EQ("four invitations", 4, n);
	for (i = 0; i < n; i++) {
		if (strcmp(v[i].recipient, "frank@maple.example") == 0) {
			flying = i;
			continue;
		}
		o = (struct store_delivery_outcome){ v[i].row, v[i].lease, DELIVERY_QUEUED, 0, NULL };
		CHECK_OK("release", store_delivery_record(f->s, &o, 1, now));
	}
	load(f, &stored, &ids);
	tplan_init(&p, &first, 3, 0, 0);
	pm(&p, PLAN_NONE, member_ix(&stored, "E2"), MEMBER_DELETE, 0, false);
	pm(&p, PLAN_NONE, member_ix(&stored, "E5"), MEMBER_DEACTIVATE, 0, false);
	pm(&p, PLAN_NONE, member_ix(&stored, "E6"), MEMBER_DELETE, 0, false);
	CHECK_OK("apply", store_apply(f->s, f->org, 0, &first, &stored, &ids, &p));
	CHECK_EQ("E1's still queued", 1, invitations_to(f, "Elodie.Gagnon@Maple.example", "queued", NULL));
	CHECK_EQ("E2's withdrawn", 1, invitations_to(f, "francois@maple.example", "dead", removed));
	CHECK_EQ("E5's withdrawn", 1, invitations_to(f, "eve@maple.example", "dead", deactivated));
	CHECK_EQ("E6's withdrawn in flight", 1,
		 invitations_to(f, "frank@maple.example", "dead", removed));
	o = (struct store_delivery_outcome){ v[flying].row, v[flying].lease, DELIVERY_SENT, 0, NULL };
	CHECK_OK("the sender's late outcome", store_delivery_record(f->s, &o, 1, now + 1));
	CHECK_EQ("E6's stays dead", 1, invitations_to(f, "frank@maple.example", "dead", removed));
	id = raw_text(f, "SELECT delivery_id FROM outbox WHERE recipient = 'francois@maple.example'");
	assert_non_null(id);
	CHECK_EQ("a withdrawn invitation is not retried", STORE_ECONFLICT,
		 store_delivery_retry(f->s, f->org, id, now + 2));
	free(id);
	CHECK_OK("claim again", store_delivery_claim(f->s, DELIVERY_EMAIL, now + 3, 60000, 10, &w, &m));
	CHECK_EQ("only E1's goes", 1, m);
	CHECK_STR("to E1", "Elodie.Gagnon@Maple.example", w[0].recipient);
	store_deliveries_free(v, n);
	store_deliveries_free(w, m);
	tplan_free(&p);
	store_ids_free(&ids);
	org_free(&stored);
	org_free(&first);
}

/* SCIM's deactivation (active: false) and deletion withdraw the member's unsent invitation. */
static void test_scim_removal_withdraws_invitations(void **state)
{
	struct fx *f = *state;
	struct org first;
	struct store_scim_user u = { 0 };
	char token[STORE_TOKEN_MAX];

	apply_sample(f, &first); /* E2 invited by the sync */
	CHECK_OK("invite E5", store_invite(f->s, f->org, "E5", token));
	CHECK_OK("invite E6", store_invite(f->s, f->org, "E6", token));
	CHECK_OK("E5", store_scim_user_get(f->s, f->org, "eve@maple.example", true, &u));
	u.state = STATE_DEACTIVATED;
	CHECK_OK("deactivate E5", store_scim_user_put(f->s, f->org, &u, false));
	store_scim_user_clear(&u);
	CHECK_EQ("E5's withdrawn", 1,
		 invitations_to(f, "eve@maple.example", "dead",
				"the member was deactivated before the invitation was sent"));
	CHECK_EQ("E6's waits", 1, invitations_to(f, "frank@maple.example", "queued", NULL));
	CHECK_OK("E6", store_scim_user_get(f->s, f->org, "frank@maple.example", true, &u));
	CHECK_OK("delete E6", store_scim_user_delete(f->s, f->org, u.id));
	store_scim_user_clear(&u);
	CHECK_EQ("E6's withdrawn", 1,
		 invitations_to(f, "frank@maple.example", "dead",
				"the member was removed before the invitation was sent"));
	CHECK_EQ("E2's still queued", 1, invitations_to(f, "francois@maple.example", "queued", NULL));
	org_free(&first);
}

/*
 * SQLite's migration 15, PostgreSQL's 3: an invitation queued before
 * messages named their member finds it by the external id of its payload;
 * one whose member is gone is withdrawn by the org's next removal.
 */
static void test_migration_outbox_member(void **state)
{
	struct fx *f = *state;
	struct org first, stored;
	struct store_ids ids;
	struct plan p;
	char sql[512];

	apply_sample(f, &first);
	store_close(f->s);
	f->s = NULL;
	if (f->db.pg)
		raw_exec(f, "DROP INDEX outbox_unsent_invitations;"
			    " ALTER TABLE outbox DROP COLUMN member_id;"
			    " DELETE FROM schema_version WHERE version = 3");
	else
		rewind_schema(f, 14);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO outbox (org_id, kind, recipient, payload, created_at) VALUES"
		 " (%lld, 'invitation', 'gone@x.example', '{\"memberId\":\"E404\",\"token\":\"t\"}', 1),"
		 " (%lld, 'invitation', 'eve@maple.example', '{\"memberId\":\"E5\",\"token\":\"t\"}', 1)",
		 (long long)f->org, (long long)f->org);
	raw_exec(f, sql);
	f->s = open_again(f);
	CHECK_EQ("E5's found", 1, raw_int(f, "SELECT count(*) FROM outbox AS o JOIN members AS m"
					     " ON m.id = o.member_id WHERE m.external_id = 'E5'"
					     " AND o.recipient = 'eve@maple.example'"));
	CHECK_EQ("E2's, from the sync, kept its member", 1,
		 raw_int(f, "SELECT count(*) FROM outbox AS o JOIN members AS m ON m.id = o.member_id"
			    " WHERE m.external_id = 'E2'"));
	CHECK_EQ("the unsent invitations' index", 1,
		 raw_int(f, f->db.pg ? "SELECT count(*) FROM pg_indexes"
				       " WHERE indexname = 'outbox_unsent_invitations'"
				     : "SELECT count(*) FROM sqlite_master"
				       " WHERE name = 'outbox_unsent_invitations'"));
	CHECK_EQ("E404's has none", 1, raw_int(f, "SELECT count(*) FROM outbox"
						 " WHERE recipient = 'gone@x.example' AND member_id IS NULL"));
	load(f, &stored, &ids);
	tplan_init(&p, &first, 1, 0, 0);
	pm(&p, PLAN_NONE, member_ix(&stored, "E5"), MEMBER_DEACTIVATE, 0, false);
	CHECK_OK("deactivate E5", store_apply(f->s, f->org, 0, &first, &stored, &ids, &p));
	CHECK_EQ("both withdrawn", 2, raw_int(f, "SELECT count(*) FROM outbox WHERE status = 'dead'"
						 " AND json_extract(payload, '$.token') IS NULL"));
	CHECK_EQ("E2's still queued", 1, raw_int(f, "SELECT count(*) FROM outbox"
						   " WHERE status = 'queued'"));
	tplan_free(&p);
	store_ids_free(&ids);
	org_free(&stored);
	org_free(&first);
}

/* Messages queued before delivery existed: recent invitations go, the rest wait for a retry. */
static void test_migration_outbox(void **state)
{
	struct fx *f = *state;
	char sql[512];
	long long now = (long long)time(NULL) * 1000;

	TESTDB_SQLITE_ONLY(&f->db);
	store_close(f->s);
	f->s = NULL;
	rewind_schema(f, 8);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO outbox (org_id, kind, recipient, payload, created_at, sent_at) VALUES"
		 " (%lld, 'invitation', 'new@x.example', '{}', %lld, NULL),"
		 " (%lld, 'invitation', 'old@x.example', '{}', %lld, NULL),"
		 " (%lld, 'notification', 'hr@x.example', '{}', %lld, NULL),"
		 " (%lld, 'webhook', 'https://h.example/', '{}', %lld, %lld)",
		 (long long)f->org, now - 1000, (long long)f->org, now - 8LL * 86400000,
		 (long long)f->org, now - 1000, (long long)f->org, now - 1000, now);
	raw_exec(f, sql);
	f->s = open_again(f);
	CHECK_EQ("migrated", 15, raw_int(f, "PRAGMA user_version"));
	CHECK_EQ("recent invitation queued", 1, raw_int(f, "SELECT count(*) FROM outbox WHERE"
							  " recipient = 'new@x.example' AND status = 'queued'"));
	CHECK_EQ("old invitation dead", 1, raw_int(f, "SELECT count(*) FROM outbox WHERE"
						     " recipient = 'old@x.example' AND status = 'dead'"));
	CHECK_EQ("old news dead", 1, raw_int(f, "SELECT count(*) FROM outbox WHERE"
					       " kind = 'notification' AND status = 'dead'"
					       " AND last_error LIKE 'queued before%'"));
	CHECK_EQ("sent stays sent", 1, raw_int(f, "SELECT count(*) FROM outbox WHERE"
						 " kind = 'webhook' AND status = 'sent'"));
	CHECK_EQ("every row has a delivery id", 4, raw_int(f, "SELECT count(DISTINCT delivery_id)"
							   " FROM outbox"));
}

/* A property's values are found by its index, from version 14 on. */
static void test_migration_indexes_values_by_property(void **state)
{
	struct fx *f = *state;

	TESTDB_SQLITE_ONLY(&f->db);
	store_close(f->s);
	f->s = NULL;
	rewind_schema(f, 13);
	CHECK_EQ("no index before", 0, raw_int(f, "SELECT count(*) FROM sqlite_master"
						   " WHERE name = 'member_props_property'"));
	f->s = open_again(f);
	CHECK_EQ("migrated", 15, raw_int(f, "PRAGMA user_version"));
	CHECK_EQ("the index is there", 1, raw_int(f, "SELECT count(*) FROM sqlite_master"
						     " WHERE name = 'member_props_property'"));
}

static void test_migration_from_version_3(void **state)
{
	struct fx *f = *state;
	char **names = NULL;
	size_t n = 0;
	char err[256];

	TESTDB_SQLITE_ONLY(&f->db);
	store_close(f->s);
	f->s = NULL;
	rewind_schema(f, 3);
	raw_exec(f, "INSERT INTO properties (org_id, name, created_at) VALUES"
		    " (1, 'Department', 1), (1, 'department', 2), (1, 'site', 3);"
		    "INSERT INTO members (org_id, external_id, email, email_key, role, state,"
		    " created_at, updated_at) VALUES"
		    " (1, 'A1', 'a1@maple.example', 'a1@maple.example', 'Administrator', 'active',"
		    "  100, 12345);");
	if (store_open(f->db.url, &f->s, err, sizeof(err)) != STORE_OK)
		fail_msg("reopen: %s", err);
	CHECK_EQ("migrated", 15, raw_int(f, "PRAGMA user_version"));
	CHECK_OK("list", store_properties_list(f->s, f->org, &names, &n));
	CHECK_EQ("the clash is kept", 3, n);
	store_strings_free(names, n);
	CHECK_EQ("a new clash is refused", STORE_ECONFLICT,
		 store_property_add(f->s, f->org, "DEPARTMENT"));
	assert_non_null(strstr(store_error(f->s), "'Department'"));
	CHECK_OK("delete the first", store_property_delete(f->s, f->org, "Department"));
	CHECK_EQ("the kept twin holds the name now", STORE_ECONFLICT,
		 store_property_add(f->s, f->org, "DEPARTMENT"));
	assert_non_null(strstr(store_error(f->s), "'department'"));
	CHECK_OK("delete the twin", store_property_delete(f->s, f->org, "department"));
	CHECK_OK("then the name is free", store_property_add(f->s, f->org, "DEPARTMENT"));
	CHECK_EQ("an old Administrator dated by its last update", 12345,
		 raw_int(f, "SELECT admin_since FROM members WHERE external_id = 'A1'"));
}

/* --- scale ------------------------------------------------------------------------- */

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Members of test_apply_scale; --scale sets it and asks for the times. */
static uint32_t scale_members = 2000;
static bool scale_timed;

/*
 * A first sync of scale_members members (a tenth as many teams, every
 * member and team mapped) read back equal, then a second apply that
 * changes every member's first name. With --scale, prints the time of
 * each step.
 */
static void test_apply_scale(void **state)
{
	struct fx *f = *state;
	uint32_t n = scale_members, nt = n / 10 + 1, i;
	struct org desired, empty, loaded;
	struct store_ids none = { NULL, NULL }, ids;
	struct timespec t0;
	struct plan p;
	double apply_s, load_s, update_s, apply_cpu;
	clock_t c0;
	char id[32], email[64], tid[32], dept[32];

	org_init(&desired);
	org_init(&empty);
	assert_int_equal(ORG_OK, org_reserve(&desired, n, nt, n + nt));
	for (i = 0; i < nt; i++) {
		snprintf(tid, sizeof(tid), "T%07u", i);
		add_t(&desired, tid, "Team name");
	}
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "E%07u", i);
		snprintf(email, sizeof(email), "first.last.%u@example.com", i);
		snprintf(dept, sizeof(dept), "Department %u", i % 97);
		add_m(&desired, &(struct mspec){ id, email, "First", "Last", "Engineer", "", "en;fr",
						 0, { { "department", dept } }, 0 });
	}
	for (i = 1; i < nt; i++) {
		struct mapping m = { (i - 1) / 8, i, 0, MAPPING_SUBTEAM, true, false };

		assert_int_equal(ORG_OK, org_add_mapping(&desired, &m, NULL));
	}
	for (i = 0; i < n; i++) {
		struct mapping m = { i / 10, i, 0, MAPPING_MEMBER, true, i % 10 == 0 };

		assert_int_equal(ORG_OK, org_add_mapping(&desired, &m, NULL));
	}
	plan_all_create(&p, &desired, PLAN_NONE);
	define_props(f, &desired);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c0 = clock();
	CHECK_OK("apply", store_apply(f->s, f->org, 0, &desired, &empty, &none, &p));
	apply_s = seconds_since(&t0);
	apply_cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
	tplan_free(&p);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	load(f, &loaded, &ids);
	load_s = seconds_since(&t0);
	CHECK_EQ("members loaded", n, loaded.nmembers);
	CHECK_EQ("mappings loaded", desired.nmappings, loaded.nmappings);
	check_same_org(&desired, &loaded);

	for (i = 0; i < n; i++)
		desired.members[i].first_name = "Premier";
	tplan_init(&p, &desired, n, 0, 0);
	for (i = 0; i < n; i++)
		pm(&p, i, i, MEMBER_UPDATE, CHANGED_FIRST_NAME, false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_OK("update all", store_apply(f->s, f->org, 0, &desired, &loaded, &ids, &p));
	update_s = seconds_since(&t0);
	if (scale_timed)
		printf("store, %u members, %u teams, %u mappings: first-sync apply %.3f s"
		       " (cpu %.3f s), load %.3f s, update-all apply %.3f s\n",
		       n, nt, desired.nmappings, apply_s, apply_cpu, load_s, update_s);
	tplan_free(&p);
	store_ids_free(&ids);
	org_free(&loaded);
	load(f, &loaded, &ids);
	check_same_org(&desired, &loaded);
	store_ids_free(&ids);
	org_free(&loaded);
	org_free(&empty);
	org_free(&desired);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(int argc, char **argv)
{
	const struct CMUnitTest scale[] = { T(test_apply_scale) };
	const struct CMUnitTest tests[] = {
		T(test_migrations_idempotent),
		T(test_migration_props_table),
		T(test_apply_writes_changed_props_only),
		T(test_open_errors),
		T(test_pg_schema),
		T(test_pg_references),
		T(test_migration_adds_new_risk_limits),
		T(test_org_create_and_key_auth),
		T(test_key_auth_garbage),
		T(test_key_rotation),
		T(test_settings),
		T(test_properties),
		T(test_apply_first_sync_roundtrip),
		T(test_apply_ingested_csv),
		T(test_apply_analyzes_what_it_rewrote),
		T(test_apply_changes),
		T(test_apply_reactivate_and_swaps),
		T(test_apply_keeps_unsent_properties),
		T(test_apply_failure_rolls_back),
		T(test_apply_noop_writes_nothing),
		T(test_org_version_follows_changes),
		T(test_sync_begin_busy_supersede),
		T(test_sync_claim_two_handles),
		T(test_sync_transition_race),
		T(test_sync_finish_report_roundtrip),
		T(test_stored_numbers_out_of_range),
		T(test_sync_lease),
		T(test_apply_after_lost_lease),
		T(test_sync_lease_upgrade),
		T(test_sync_payloads),
		T(test_sync_payload_sources),
		T(test_apply_finish_is_atomic),
		T(test_tenant_isolation),
		T(test_invitations),
		T(test_admin_add),
		T(test_admin_list_remove),
		T(test_org_list),
		T(test_key_ids),
		T(test_migration_from_version_3),
		T(test_migration_indexes_values_by_property),
		T(test_delivery_leases),
		T(test_removal_withdraws_invitations),
		T(test_scim_removal_withdraws_invitations),
		T(test_migration_outbox),
		T(test_migration_outbox_member),
		T(test_apply_scale),
		T(test_sync_numbers_per_org),
		T(test_sync_decide),
		T(test_audit_in_the_change_transaction),
		T(test_sync_plan_paged),
		T(test_migration_from_schema_5),
	};

	if (argc == 3 && !strcmp(argv[1], "--scale")) {
		scale_members = (uint32_t)strtoul(argv[2], NULL, 10);
		scale_timed = true;
		if (!scale_members) {
			fprintf(stderr, "usage: test_store [--scale MEMBERS]\n");
			return 2;
		}
		return cmocka_run_group_tests_name("store at scale", scale, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
