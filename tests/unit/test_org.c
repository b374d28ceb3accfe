/*
 * model/org: members, teams and mappings with their indexes (SPEC §1).
 * Duplicate ids and emails are refused naming the holder, mappings merge,
 * properties are matched exactly, and languages/products parse from every
 * spelling the formats allow (SPEC §2) and nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "format/names.h"
#include "unit/check.h"

#include "model/org.h"

#define S(lit) lit, sizeof(lit) - 1

static const char *dup_str(struct org *o, const char *s)
{
	const char *p = org_strdup(o, s, strlen(s));

	assert_non_null(p);
	return p;
}

/* A member whose strings belong to the org, as org_add_member requires. */
static struct member make_member(struct org *o, const char *id, const char *email,
				 const char *first, const char *last)
{
	struct member m;

	memset(&m, 0, sizeof(m));
	m.external_id = dup_str(o, id);
	m.email = dup_str(o, email);
	m.first_name = dup_str(o, first);
	m.last_name = dup_str(o, last);
	m.job_title = "";
	m.image_url = "";
	m.props = NULL;
	m.nprops = 0;
	m.products = 1u << PRODUCT_OFFICEVIBE;
	return m;
}

static int add_member(struct org *o, const char *id, const char *email, uint32_t *index,
		      uint32_t *dup)
{
	struct member m = make_member(o, id, email, "First", "Last");

	return org_add_member(o, &m, index, dup);
}

static int add_team(struct org *o, const char *id, const char *name, uint32_t *index,
		    uint32_t *dup)
{
	struct team t = { dup_str(o, id), dup_str(o, name), 0 };

	return org_add_team(o, &t, index, dup);
}

static void test_org_init_is_empty(void **state)
{
	struct org o;
	uint32_t i = 99;

	(void)state;
	org_init(&o);
	CHECK_EQ("nmembers", 0, o.nmembers);
	CHECK_EQ("nteams", 0, o.nteams);
	CHECK_EQ("nmappings", 0, o.nmappings);
	CHECK_EQ("nprops", 0, o.nprops);
	CHECK_EQ("find member in empty org", 0, org_find_member(&o, S("E001"), &i));
	CHECK_EQ("find email in empty org", 0, org_find_member_by_email(&o, S("a@x.com"), &i));
	CHECK_EQ("find team in empty org", 0, org_find_team(&o, S("T1"), &i));
	org_free(&o);
}

static void test_org_add_member(void **state)
{
	struct org o;
	struct member m;
	uint32_t index = 99, found = 99;

	(void)state;
	org_init(&o);
	m = make_member(&o, "E001", "Elodie.Gagnon@Maple.example", "\xC3\x89lodie", "Gagnon");
	m.job_title = dup_str(&o, "Director, Sales");
	m.line = 2;
	m.langs[0] = LANG_FR;
	m.langs[1] = LANG_EN;
	m.nlangs = 2;
	CHECK_EQ("add E001", ORG_OK, org_add_member(&o, &m, &index, NULL));
	CHECK_EQ("index of first member", 0, index);
	CHECK_EQ("nmembers", 1, o.nmembers);
	CHECK_STR("external_id stored", "E001", o.members[0].external_id);
	CHECK_STR("first_name stored", "\xC3\x89lodie", o.members[0].first_name);
	CHECK_STR("job_title stored", "Director, Sales", o.members[0].job_title);
	CHECK_EQ("line stored", 2, o.members[0].line);
	CHECK_EQ("nlangs stored", 2, o.members[0].nlangs);
	CHECK_EQ("second language stored", LANG_EN, o.members[0].langs[1]);
	CHECK_EQ("find by id", 1, org_find_member(&o, S("E001"), &found));
	CHECK_EQ("index found by id", 0, found);
	found = 99;
	CHECK_EQ("find by email, other case", 1,
		 org_find_member_by_email(&o, S("elodie.gagnon@MAPLE.EXAMPLE"), &found));
	CHECK_EQ("index found by email", 0, found);
	CHECK_EQ("id lookup is case-sensitive", 0, org_find_member(&o, S("e001"), &found));
	CHECK_EQ("add with NULL index and dup", ORG_OK,
		 add_member(&o, "E002", "francois@maple.example", NULL, NULL));
	CHECK_EQ("nmembers after second add", 2, o.nmembers);
	org_free(&o);
}

static void test_org_duplicate_member_id(void **state)
{
	struct org o;
	uint32_t index = 99, dup = 99, found = 99;

	(void)state;
	org_init(&o);
	assert_int_equal(add_member(&o, "E001", "a@maple.example", &index, NULL), ORG_OK);
	assert_int_equal(add_member(&o, "E002", "b@maple.example", &index, NULL), ORG_OK);
	index = 99;
	CHECK_EQ("same id again", ORG_EDUP_ID,
		 add_member(&o, "E002", "c@maple.example", &index, &dup));
	CHECK_EQ("dup names the holder", 1, dup);
	CHECK_EQ("nmembers after refusal", 2, o.nmembers);
	CHECK_STR("holder keeps its email", "b@maple.example", o.members[1].email);
	CHECK_EQ("email of refused member not indexed", 0,
		 org_find_member_by_email(&o, S("c@maple.example"), &found));
	CHECK_EQ("refused with NULL dup", ORG_EDUP_ID,
		 add_member(&o, "E001", "d@maple.example", NULL, NULL));
	/* a taken id is reported before a taken email, naming the id's holder */
	dup = 99;
	CHECK_EQ("id and email both taken", ORG_EDUP_ID,
		 add_member(&o, "E002", "A@MAPLE.EXAMPLE", NULL, &dup));
	CHECK_EQ("dup is the id holder, not the email holder", 1, dup);
	/* ids are case-sensitive (SPEC §1) */
	CHECK_EQ("id differing only in case", ORG_OK,
		 add_member(&o, "e002", "e@maple.example", &index, NULL));
	CHECK_EQ("index of e002", 2, index);
	org_free(&o);
}

static void test_org_duplicate_email(void **state)
{
	struct org o;
	uint32_t dup = 99, found = 99, index = 99;

	(void)state;
	org_init(&o);
	assert_int_equal(add_member(&o, "E001", "x@maple.example", NULL, NULL), ORG_OK);
	assert_int_equal(add_member(&o, "E002", "Chloe.Roy@Maple.Example", NULL, NULL), ORG_OK);
	CHECK_EQ("same email, other case", ORG_EDUP_EMAIL,
		 add_member(&o, "E003", "CHLOE.ROY@maple.example", NULL, &dup));
	CHECK_EQ("dup names the email holder", 1, dup);
	CHECK_EQ("nmembers after refusal", 2, o.nmembers);
	CHECK_EQ("id of refused member not indexed", 0, org_find_member(&o, S("E003"), &found));
	CHECK_EQ("E003 can be added with its own email", ORG_OK,
		 add_member(&o, "E003", "chloe.roy2@maple.example", &index, NULL));
	CHECK_EQ("index of E003", 2, index);
	/* only ASCII letters fold: É and é are different emails */
	CHECK_EQ("\xC3\x89lodie@X.com", ORG_OK,
		 add_member(&o, "E004", "\xC3\x89lodie@X.com", NULL, NULL));
	CHECK_EQ("\xC3\xA9lodie@x.com is another email", ORG_OK,
		 add_member(&o, "E005", "\xC3\xA9lodie@x.com", NULL, NULL));
	CHECK_EQ("\xC3\x89LODIE@x.COM is the first one", ORG_EDUP_EMAIL,
		 add_member(&o, "E006", "\xC3\x89LODIE@x.COM", NULL, &dup));
	CHECK_EQ("dup of \xC3\x89LODIE@x.COM", 3, dup);
	org_free(&o);
}

/* Past the first array allocation: indexes and lookups stay true. */
static void test_org_many_members(void **state)
{
	enum { N = 5000 };
	struct org o;
	char id[32], email[64];
	uint32_t i, index, found;

	(void)state;
	org_init(&o);
	for (i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "E%05u", i);
		snprintf(email, sizeof(email), "member%u@Maple.Example", i);
		index = UINT32_MAX;
		CHECK_EQ(id, ORG_OK, add_member(&o, id, email, &index, NULL));
		CHECK_EQ(id, i, index);
	}
	CHECK_EQ("nmembers", N, o.nmembers);
	for (i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "E%05u", i);
		snprintf(email, sizeof(email), "MEMBER%u@maple.example", i);
		found = UINT32_MAX;
		if (!org_find_member(&o, id, strlen(id), &found) || found != i)
			CHECK_EQ(id, i, found);
		found = UINT32_MAX;
		if (!org_find_member_by_email(&o, email, strlen(email), &found) || found != i)
			CHECK_EQ(email, i, found);
		CHECK_STR(id, id, o.members[i].external_id);
	}
	org_free(&o);
}

static void test_org_teams(void **state)
{
	struct org o;
	uint32_t index = 99, dup = 99, found = 99, i;
	char id[16];

	(void)state;
	org_init(&o);
	CHECK_EQ("add T1", ORG_OK, add_team(&o, "T1", "Operations", &index, NULL));
	CHECK_EQ("index of T1", 0, index);
	CHECK_EQ("add T2", ORG_OK, add_team(&o, "T2", "Sales, East", &index, NULL));
	CHECK_EQ("index of T2", 1, index);
	CHECK_EQ("T2 again", ORG_EDUP_ID, add_team(&o, "T2", "Other", &index, &dup));
	CHECK_EQ("dup names the holder", 1, dup);
	CHECK_EQ("nteams after refusal", 2, o.nteams);
	CHECK_STR("holder keeps its name", "Sales, East", o.teams[1].name);
	CHECK_EQ("refused with NULL dup", ORG_EDUP_ID, add_team(&o, "T1", "x", NULL, NULL));
	CHECK_EQ("team ids are case-sensitive", ORG_OK, add_team(&o, "t1", "x", &index, NULL));
	CHECK_EQ("find T2", 1, org_find_team(&o, S("T2"), &found));
	CHECK_EQ("index of T2 found", 1, found);
	CHECK_EQ("find T3 (absent)", 0, org_find_team(&o, S("T3"), &found));
	/* team ids and member ids are separate namespaces */
	CHECK_EQ("member with a team's id", ORG_OK, add_member(&o, "T1", "t1@x.example", NULL, NULL));
	for (i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "G%u", i);
		CHECK_EQ(id, ORG_OK, add_team(&o, id, id, NULL, NULL));
	}
	CHECK_EQ("find G999", 1, org_find_team(&o, S("G999"), &found));
	CHECK_EQ("index of G999", 1002, found);
	CHECK_STR("name of G999", "G999", o.teams[found].name);
	org_free(&o);
}

static struct mapping row(uint32_t team, enum mapping_kind kind, uint32_t child, bool is_member,
			  bool is_manager, uint32_t line)
{
	struct mapping m = { team, child, line, (uint8_t)kind, is_member, is_manager };

	return m;
}

/* Mappings name real records: gives the org teams T0.. and members M0... */
static void populate(struct org *o, uint32_t teams, uint32_t members)
{
	char id[32], email[64];
	uint32_t i;

	for (i = 0; i < teams; i++) {
		snprintf(id, sizeof(id), "T%u", i);
		assert_int_equal(add_team(o, id, id, NULL, NULL), ORG_OK);
	}
	for (i = 0; i < members; i++) {
		snprintf(id, sizeof(id), "M%u", i);
		snprintf(email, sizeof(email), "m%u@example.com", i);
		assert_int_equal(add_member(o, id, email, NULL, NULL), ORG_OK);
	}
}

static void test_org_mapping_append(void **state)
{
	struct org o;
	struct mapping m;
	uint32_t index = 99;

	(void)state;
	org_init(&o);
	m = row(0, MAPPING_MEMBER, 0, true, false, 10);
	CHECK_EQ("first mapping", ORG_OK, org_add_mapping(&o, &m, &index));
	CHECK_EQ("index of first mapping", 0, index);
	m = row(0, MAPPING_MEMBER, 0, false, true, 11);
	CHECK_EQ("same mapping again is appended", ORG_OK, org_add_mapping(&o, &m, &index));
	CHECK_EQ("index of second mapping", 1, index);
	m = row(1, MAPPING_SUBTEAM, 0, false, false, 12);
	CHECK_EQ("add with NULL index", ORG_OK, org_add_mapping(&o, &m, NULL));
	CHECK_EQ("nmappings", 3, o.nmappings);
	CHECK_EQ("kind stored", MAPPING_SUBTEAM, o.mappings[2].kind);
	CHECK_EQ("line stored", 11, o.mappings[1].line);
	CHECK_EQ("is_manager stored", true, o.mappings[1].is_manager);
	org_free(&o);
}

struct dup_log {
	uint32_t n;
	uint32_t dup[16];
	uint32_t first_line[16];
};

static void log_dup(void *ctx, uint32_t dup, const struct mapping *first)
{
	struct dup_log *log = ctx;

	if (log->n < 16) {
		log->dup[log->n] = dup;
		log->first_line[log->n] = first->line;
	}
	log->n++;
}

/*
 * The same (team, kind, child) merges into its first row: flags or-ed,
 * the first row's place and line kept, the others in order after it.
 */
static void test_org_mapping_merge(void **state)
{
	static const struct {
		uint32_t team;
		enum mapping_kind kind;
		uint32_t child;
		bool is_member, is_manager;
		uint32_t line;
	} rows[] = {
		{ 0, MAPPING_MEMBER, 0, true, false, 10 },   /* 0 */
		{ 1, MAPPING_MEMBER, 0, false, true, 11 },   /* 1 */
		{ 0, MAPPING_MEMBER, 0, false, true, 12 },   /* 2: dup of 0 */
		{ 0, MAPPING_SUBTEAM, 0, false, false, 14 }, /* 3: kind is part of the key */
		{ 0, MAPPING_MEMBER, 0, false, false, 13 },  /* 4: dup of 0, grants nothing */
		{ 0, MAPPING_MEMBER, 1, true, false, 15 },   /* 5 */
		{ 1, MAPPING_MEMBER, 1, true, false, 16 },   /* 6 */
		{ 1, MAPPING_MEMBER, 0, true, false, 17 },   /* 7: dup of 1 */
		{ 0, MAPPING_SUBTEAM, 0, false, false, 18 }, /* 8: dup of 3 */
		{ 1, MAPPING_SUBTEAM, 0, false, false, 19 }, /* 9: team and child differ */
	};
	static const struct {
		uint32_t team;
		enum mapping_kind kind;
		uint32_t child;
		bool is_member, is_manager;
		uint32_t line;
	} want[] = {
		{ 0, MAPPING_MEMBER, 0, true, true, 10 },
		{ 1, MAPPING_MEMBER, 0, true, true, 11 },
		{ 0, MAPPING_SUBTEAM, 0, false, false, 14 },
		{ 0, MAPPING_MEMBER, 1, true, false, 15 },
		{ 1, MAPPING_MEMBER, 1, true, false, 16 },
		{ 1, MAPPING_SUBTEAM, 0, false, false, 19 },
	};
	static const uint32_t want_dup[] = { 2, 4, 7, 8 };
	static const uint32_t want_first_line[] = { 10, 10, 11, 14 };
	struct dup_log log = { 0 };
	struct org o;
	struct mapping m;
	char what[64];
	size_t i;

	(void)state;
	org_init(&o);
	populate(&o, 2, 2);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		m = row(rows[i].team, rows[i].kind, rows[i].child, rows[i].is_member,
			rows[i].is_manager, rows[i].line);
		assert_int_equal(org_add_mapping(&o, &m, NULL), ORG_OK);
	}
	CHECK_EQ("merge", ORG_OK, org_merge_duplicate_mappings(&o, log_dup, &log));
	CHECK_EQ("mappings after merge", sizeof(want) / sizeof(want[0]), o.nmappings);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct mapping *got = &o.mappings[i];

		snprintf(what, sizeof(what), "merged mapping %zu line", i);
		CHECK_EQ(what, want[i].line, got->line);
		snprintf(what, sizeof(what), "merged mapping %zu (line %u) team", i, got->line);
		CHECK_EQ(what, want[i].team, got->team);
		snprintf(what, sizeof(what), "merged mapping %zu (line %u) kind", i, got->line);
		CHECK_EQ(what, want[i].kind, got->kind);
		snprintf(what, sizeof(what), "merged mapping %zu (line %u) child", i, got->line);
		CHECK_EQ(what, want[i].child, got->child);
		snprintf(what, sizeof(what), "merged mapping %zu (line %u) is_member", i, got->line);
		CHECK_EQ(what, want[i].is_member, got->is_member);
		snprintf(what, sizeof(what), "merged mapping %zu (line %u) is_manager", i, got->line);
		CHECK_EQ(what, want[i].is_manager, got->is_manager);
	}
	CHECK_EQ("duplicates heard", 4, log.n);
	for (i = 0; i < 4; i++) {
		snprintf(what, sizeof(what), "duplicate %zu: its index before merging", i);
		CHECK_EQ(what, want_dup[i], log.dup[i]);
		snprintf(what, sizeof(what), "duplicate %zu: line of the mapping kept", i);
		CHECK_EQ(what, want_first_line[i], log.first_line[i]);
	}
	/* merging again finds nothing; NULL on_dup is allowed */
	CHECK_EQ("second merge", ORG_OK, org_merge_duplicate_mappings(&o, NULL, NULL));
	CHECK_EQ("mappings after second merge", 6, o.nmappings);
	org_free(&o);

	org_init(&o);
	CHECK_EQ("merge of no mappings", ORG_OK, org_merge_duplicate_mappings(&o, log_dup, &log));
	CHECK_EQ("mappings of an empty org", 0, o.nmappings);
	org_free(&o);
}

static void count_dup(void *ctx, uint32_t dup, const struct mapping *first)
{
	(void)dup;
	(void)first;
	(*(uint32_t *)ctx)++;
}

/* Thousands of mappings, every 7th repeated as a manager row. */
static void test_org_many_mappings(void **state)
{
	enum { TEAMS = 40, MEMBERS = 100 };
	struct org o;
	struct mapping m;
	uint32_t t, c, index, n = 0, dups = 0, i;
	char name[64];

	(void)state;
	org_init(&o);
	populate(&o, TEAMS, MEMBERS);
	for (t = 0; t < TEAMS; t++)
		for (c = 0; c < MEMBERS; c++) {
			m = row(t, MAPPING_MEMBER, c, true, false, n + 2);
			snprintf(name, sizeof(name), "add team %u member %u", t, c);
			CHECK_EQ(name, ORG_OK, org_add_mapping(&o, &m, &index));
			CHECK_EQ(name, n, index);
			n++;
		}
	for (t = 0; t < TEAMS; t++)
		for (c = 0; c < MEMBERS; c += 7) {
			m = row(t, MAPPING_MEMBER, c, false, true, 0);
			assert_int_equal(org_add_mapping(&o, &m, NULL), ORG_OK);
		}
	CHECK_EQ("merge", ORG_OK, org_merge_duplicate_mappings(&o, count_dup, &dups));
	CHECK_EQ("duplicates heard", TEAMS * 15, dups);
	CHECK_EQ("nmappings after merge", TEAMS * MEMBERS, o.nmappings);
	for (i = 0; i < o.nmappings; i++) {
		t = i / MEMBERS;
		c = i % MEMBERS;
		snprintf(name, sizeof(name), "mapping %u (team %u member %u)", i, t, c);
		CHECK_EQ(name, t, o.mappings[i].team);
		CHECK_EQ(name, c, o.mappings[i].child);
		CHECK_EQ(name, i + 2, o.mappings[i].line);
		CHECK_EQ(name, c % 7 == 0, o.mappings[i].is_manager);
		CHECK_EQ(name, true, o.mappings[i].is_member);
	}
	org_free(&o);
}

/* Reserved room is used without moving the arrays. */
static void test_org_reserve(void **state)
{
	struct org o;
	const struct member *members;
	const struct team *teams;
	char id[16];
	uint32_t i, found;

	(void)state;
	org_init(&o);
	CHECK_EQ("reserve", ORG_OK, org_reserve(&o, 2000, 300, 5000));
	members = o.members;
	teams = o.teams;
	for (i = 0; i < 2000; i++) {
		snprintf(id, sizeof(id), "E%u", i);
		CHECK_EQ(id, ORG_OK, add_member(&o, id, id, NULL, NULL));
	}
	for (i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "T%u", i);
		CHECK_EQ(id, ORG_OK, add_team(&o, id, id, NULL, NULL));
	}
	if (o.members != members || o.teams != teams)
		fail_msg("reserved arrays moved while filling reserved room");
	CHECK_EQ("reserve less than present", ORG_OK, org_reserve(&o, 10, 10, 10));
	CHECK_EQ("nmembers kept", 2000, o.nmembers);
	CHECK_EQ("find E1999", 1, org_find_member(&o, S("E1999"), &found));
	CHECK_EQ("index of E1999", 1999, found);
	CHECK_EQ("find T299", 1, org_find_team(&o, S("T299"), &found));
	CHECK_EQ("index of T299", 299, found);
	org_free(&o);
}

static void test_org_properties(void **state)
{
	struct org o;
	uint32_t index = 99;
	char name[] = "department";

	(void)state;
	org_init(&o);
	CHECK_EQ("find in empty org", 0, org_find_property(&o, S("department"), &index));
	CHECK_EQ("add department", ORG_OK, org_add_property(&o, name, strlen(name), &index));
	CHECK_EQ("index of department", 0, index);
	name[0] = 'X'; /* the org keeps its own copy */
	CHECK_STR("name copied", "department", o.prop_names[0]);
	CHECK_EQ("add location", ORG_OK, org_add_property(&o, S("location"), &index));
	CHECK_EQ("index of location", 1, index);
	index = 99;
	CHECK_EQ("add department again", ORG_OK, org_add_property(&o, S("department"), &index));
	CHECK_EQ("second definition returns the first index", 0, index);
	CHECK_EQ("nprops", 2, o.nprops);
	CHECK_EQ("add with NULL index", ORG_OK, org_add_property(&o, S("costCenter"), NULL));
	CHECK_EQ("nprops after costCenter", 3, o.nprops);
	CHECK_EQ("find location", 1, org_find_property(&o, S("location"), &index));
	CHECK_EQ("index of location found", 1, index);
	CHECK_EQ("find with NULL index", 1, org_find_property(&o, S("costCenter"), NULL));
	CHECK_EQ("names match exactly: Department", 0, org_find_property(&o, S("Department"), &index));
	CHECK_EQ("names match exactly: prefix", 0, org_find_property(&o, S("depart"), &index));
	CHECK_EQ("names match exactly: longer", 0, org_find_property(&o, S("departments"), &index));
	CHECK_EQ("length bounds the name", 1, org_find_property(&o, "departmentX", 10, &index));
	CHECK_EQ("index of length-bounded find", 0, index);
	org_free(&o);
}

/* Values by rising property index; properties may come after members. */
static void test_org_member_props(void **state)
{
	struct org o;
	struct member m;
	struct member_prop *props;
	uint32_t dept, loc, cost, late;
	char what[64];
	size_t align;

	(void)state;
	org_init(&o);
	assert_int_equal(org_add_property(&o, S("department"), &dept), ORG_OK);
	assert_int_equal(org_add_property(&o, S("location"), &loc), ORG_OK);
	assert_int_equal(org_add_property(&o, S("costCenter"), &cost), ORG_OK);
	for (align = 1; align <= 64; align *= 2) {
		void *p = org_alloc(&o, align);

		snprintf(what, sizeof(what), "org_alloc(%zu) alignment", align);
		assert_non_null(p);
		CHECK_EQ(what, 0, (uintptr_t)p % _Alignof(max_align_t));
	}
	props = org_alloc(&o, 2 * sizeof(*props));
	assert_non_null(props);
	props[0].index = dept;
	props[0].value = dup_str(&o, "Sales");
	props[1].index = cost;
	props[1].value = dup_str(&o, "CC-42");
	m = make_member(&o, "E001", "a@maple.example", "A", "B");
	m.props = props;
	m.nprops = 2;
	CHECK_EQ("add member with props", ORG_OK, org_add_member(&o, &m, NULL, NULL));
	CHECK_STR("department of E001", "Sales", org_member_prop(&o.members[0], dept));
	CHECK_STR("costCenter of E001", "CC-42", org_member_prop(&o.members[0], cost));
	if (org_member_prop(&o.members[0], loc))
		fail_msg("location of E001: expected NULL, got \"%s\"",
			 org_member_prop(&o.members[0], loc));
	/* defined after E001 exists: E001 simply has no value for it */
	CHECK_EQ("add property after members", ORG_OK, org_add_property(&o, S("badge"), &late));
	CHECK_EQ("index of late property", 3, late);
	if (org_member_prop(&o.members[0], late))
		fail_msg("late property of E001: expected NULL");
	if (org_member_prop(&o.members[0], 1000))
		fail_msg("property 1000 of E001: expected NULL");
	m = make_member(&o, "E002", "b@maple.example", "C", "D");
	CHECK_EQ("add member without props", ORG_OK, org_add_member(&o, &m, NULL, NULL));
	if (org_member_prop(&o.members[1], dept))
		fail_msg("department of E002 (no props): expected NULL");
	org_free(&o);
}

struct parse_case {
	const char *text;
	int expected;
};

static void check_parse(const char *what, int (*parse)(const char *, size_t),
			const struct parse_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int got = parse(cases[i].text, strlen(cases[i].text));

		if (got != cases[i].expected)
			fail_msg("%s(\"%s\"): expected %d, got %d", what, cases[i].text,
				 cases[i].expected, got);
	}
}

static void test_org_parse_lang(void **state)
{
	static const struct parse_case cases[] = {
		{ "en", LANG_EN }, { "fr", LANG_FR }, { "es", LANG_ES },
		{ "pt", LANG_PT }, { "de", LANG_DE },
		{ "EN", LANG_EN }, { "Fr", LANG_FR }, { "eS", LANG_ES },
		{ "PT", LANG_PT }, { "De", LANG_DE },
		/* legacy names (SPEC §2), UTF-8 */
		{ "English", LANG_EN },
		{ "Fran\xC3\xA7" "ais", LANG_FR },
		{ "Espa\xC3\xB1ol", LANG_ES },
		{ "Portugu\xC3\xAAs", LANG_PT },
		{ "Deutsche", LANG_DE },
		/* any ASCII case */
		{ "english", LANG_EN }, { "ENGLISH", LANG_EN },
		{ "fran\xC3\xA7" "ais", LANG_FR }, { "FRAN\xC3\xA7" "AIS", LANG_FR },
		{ "espa\xC3\xB1ol", LANG_ES }, { "PORTUGU\xC3\xAAS", LANG_PT },
		{ "deutsche", LANG_DE }, { "DEUTSCHE", LANG_DE },
		/* the German spelling, accepted beside the legacy one */
		{ "Deutsch", LANG_DE }, { "deutsch", LANG_DE },
		/* unknown */
		{ "", -1 }, { "e", -1 }, { "eng", -1 }, { "it", -1 }, { "zh", -1 },
		{ "en;fr", -1 }, { "en ", -1 }, { " en", -1 }, { "English ", -1 },
		{ "Fran\xC3\xA7", -1 }, { "Englishh", -1 }, { "Espanol?", -1 },
		{ "Officevibe", -1 },
	};

	(void)state;
	check_parse("format_lang_parse", format_lang_parse, cases, sizeof(cases) / sizeof(cases[0]));
	/* the length bounds the text: no NUL needed */
	CHECK_EQ("\"english-and-more\" read as 7 bytes", LANG_EN, format_lang_parse("english-and-more", 7));
	CHECK_EQ("\"fr-CA\" read as 2 bytes", LANG_FR, format_lang_parse("fr-CA", 2));
	CHECK_EQ("\"fr-CA\" read whole", -1, format_lang_parse(S("fr-CA")));
}

static void test_org_parse_product(void **state)
{
	static const struct parse_case cases[] = {
		{ "Officevibe", PRODUCT_OFFICEVIBE }, { "Skills", PRODUCT_SKILLS },
		{ "LMS", PRODUCT_LMS }, { "Pingboard", PRODUCT_PINGBOARD },
		{ "Onboarding", PRODUCT_ONBOARDING }, { "Performance", PRODUCT_PERFORMANCE },
		{ "Workleap AI", PRODUCT_WORKLEAP_AI },
		{ "officevibe", PRODUCT_OFFICEVIBE }, { "OFFICEVIBE", PRODUCT_OFFICEVIBE },
		{ "skills", PRODUCT_SKILLS }, { "lms", PRODUCT_LMS }, { "Lms", PRODUCT_LMS },
		{ "PINGBOARD", PRODUCT_PINGBOARD }, { "onBoarding", PRODUCT_ONBOARDING },
		{ "performance", PRODUCT_PERFORMANCE },
		{ "workleap ai", PRODUCT_WORKLEAP_AI }, { "WORKLEAP AI", PRODUCT_WORKLEAP_AI },
		{ "", -1 }, { "Workleap", -1 }, { "WorkleapAI", -1 }, { "Workleap  AI", -1 },
		{ "Workleap_AI", -1 }, { "Skill", -1 }, { "Skills2", -1 }, { " LMS", -1 },
		{ "Officevibe;Skills", -1 }, { "en", -1 }, { "Perf", -1 },
	};

	(void)state;
	check_parse("format_product_parse", format_product_parse, cases, sizeof(cases) / sizeof(cases[0]));
	CHECK_EQ("\"Skills;LMS\" read as 6 bytes", PRODUCT_SKILLS, format_product_parse("Skills;LMS", 6));
}

static void test_org_names(void **state)
{
	static const char *const codes[LANG_COUNT] = { "en", "fr", "es", "pt", "de" };
	static const char *const products[PRODUCT_COUNT] = {
		"Officevibe", "Skills", "LMS", "Pingboard", "Onboarding", "Performance", "Workleap AI",
	};
	static const char *const states[] = { "created", "invited", "active", "deactivated" };
	char what[64];
	int i;

	(void)state;
	for (i = 0; i < LANG_COUNT; i++) {
		const char *name = format_lang_code((enum lang)i);

		snprintf(what, sizeof(what), "format_lang_code(%d)", i);
		CHECK_STR(what, codes[i], name);
		snprintf(what, sizeof(what), "format_lang_parse(format_lang_code(%d))", i);
		CHECK_EQ(what, i, format_lang_parse(name, strlen(name)));
	}
	for (i = 0; i < PRODUCT_COUNT; i++) {
		const char *name = format_product_name((enum product)i);

		snprintf(what, sizeof(what), "format_product_name(%d)", i);
		CHECK_STR(what, products[i], name);
		snprintf(what, sizeof(what), "format_product_parse(format_product_name(%d))", i);
		CHECK_EQ(what, i, format_product_parse(name, strlen(name)));
	}
	for (i = 0; i < 4; i++) {
		snprintf(what, sizeof(what), "format_state_name(%d)", i);
		CHECK_STR(what, states[i], format_state_name((enum member_state)i));
	}
	CHECK_STR("format_role_name(ROLE_MEMBER)", "Member", format_role_name(ROLE_MEMBER));
	CHECK_STR("format_role_name(ROLE_ADMINISTRATOR)", "Administrator",
		  format_role_name(ROLE_ADMINISTRATOR));
	CHECK_STR("format_lang_code(LANG_COUNT)", "", format_lang_code(LANG_COUNT));
	CHECK_STR("format_product_name(PRODUCT_COUNT)", "", format_product_name(PRODUCT_COUNT));
	CHECK_STR("format_state_name(4)", "", format_state_name((enum member_state)4));
}

static void test_org_strdup_and_free(void **state)
{
	struct org o;
	char src[] = "No\xC3\xABl O'Brien";
	const char *p;
	uint32_t found;

	(void)state;
	org_init(&o);
	p = org_strdup(&o, src, 4); /* the first 4 bytes, "Noë" */
	assert_non_null(p);
	assert_memory_equal(p, "No\xC3\xAB\0", 5);
	p = org_strdup(&o, src, strlen(src));
	src[0] = 'X';
	CHECK_STR("copy independent of its source", "No\xC3\xABl O'Brien", p);
	assert_int_equal(add_member(&o, "E001", "n@x.example", NULL, NULL), ORG_OK);
	assert_int_equal(add_team(&o, "T1", "Ops", NULL, NULL), ORG_OK);
	assert_int_equal(org_add_property(&o, S("location"), NULL), ORG_OK);
	org_free(&o);
	CHECK_EQ("nmembers after free", 0, o.nmembers);
	CHECK_EQ("nteams after free", 0, o.nteams);
	CHECK_EQ("nprops after free", 0, o.nprops);
	CHECK_EQ("member index emptied by free", 0, org_find_member(&o, S("E001"), &found));
	/* reusable after free, and the email index still folds ASCII */
	CHECK_EQ("add after free", ORG_OK, add_member(&o, "E001", "N@X.example", NULL, NULL));
	CHECK_EQ("email index folds after free", 1,
		 org_find_member_by_email(&o, S("n@x.EXAMPLE"), &found));
	org_free(&o);
}

/* The skipped-id sets use the same matching as the live indexes. */
static void test_org_skipped_sets(void **state)
{
	struct org o;
	uint32_t v;

	(void)state;
	org_init(&o);
	assert_int_equal(strmap_put(&o.skipped.emails, S("Zoe@Maple.example"), 0, NULL), 0);
	CHECK_EQ("skipped emails fold ASCII", 1,
		 strmap_get(&o.skipped.emails, S("zoe@maple.EXAMPLE"), &v));
	assert_int_equal(strmap_put(&o.skipped.member_ids, S("E009"), 0, NULL), 0);
	CHECK_EQ("skipped member ids are exact", 0, strmap_get(&o.skipped.member_ids, S("e009"), &v));
	assert_int_equal(strmap_put(&o.skipped.team_ids, S("T9"), 0, NULL), 0);
	CHECK_EQ("skipped team ids are exact", 0, strmap_get(&o.skipped.team_ids, S("t9"), &v));
	org_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_org_init_is_empty),
		cmocka_unit_test(test_org_add_member),
		cmocka_unit_test(test_org_duplicate_member_id),
		cmocka_unit_test(test_org_duplicate_email),
		cmocka_unit_test(test_org_many_members),
		cmocka_unit_test(test_org_teams),
		cmocka_unit_test(test_org_mapping_append),
		cmocka_unit_test(test_org_mapping_merge),
		cmocka_unit_test(test_org_many_mappings),
		cmocka_unit_test(test_org_reserve),
		cmocka_unit_test(test_org_properties),
		cmocka_unit_test(test_org_member_props),
		cmocka_unit_test(test_org_parse_lang),
		cmocka_unit_test(test_org_parse_product),
		cmocka_unit_test(test_org_names),
		cmocka_unit_test(test_org_strdup_and_free),
		cmocka_unit_test(test_org_skipped_sets),
	};

	return cmocka_run_group_tests_name("org", tests, NULL, NULL);
}
