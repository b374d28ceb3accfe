/*
 * model/orgindex: the mappings by member, by team and by parent team list
 * exactly the mappings a scan would find, in mapping order, for orgs with
 * no mappings, with records named by none, with a team that is the subteam
 * of several, and for a large random org checked against the scan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit/check.h"

#include "model/orgindex.h"

static void add_members(struct org *o, uint32_t n)
{
	char id[32], email[48];
	uint32_t i, index, dup;

	for (i = 0; i < n; i++) {
		struct member m;
		int len = snprintf(id, sizeof(id), "M%u", i);
		int elen = snprintf(email, sizeof(email), "m%u@x.example", i);

		memset(&m, 0, sizeof(m));
		m.external_id = org_strdup(o, id, (size_t)len);
		m.email = org_strdup(o, email, (size_t)elen);
		m.first_name = m.last_name = m.job_title = m.image_url = "";
		m.products = 1u << PRODUCT_OFFICEVIBE;
		assert_non_null(m.external_id);
		assert_non_null(m.email);
		CHECK_EQ("add member", ORG_OK, org_add_member(o, &m, &index, &dup));
	}
}

static void add_teams(struct org *o, uint32_t n)
{
	char id[32];
	uint32_t i, index, dup;

	for (i = 0; i < n; i++) {
		int len = snprintf(id, sizeof(id), "T%u", i);
		struct team t = { org_strdup(o, id, (size_t)len), "", 0 };

		assert_non_null(t.external_id);
		CHECK_EQ("add team", ORG_OK, org_add_team(o, &t, &index, &dup));
	}
}

static void map(struct org *o, uint8_t kind, uint32_t team, uint32_t child)
{
	struct mapping m = { team, child, 0, kind, kind == MAPPING_MEMBER, false };

	CHECK_EQ("add mapping", ORG_OK, org_add_mapping(o, &m, NULL));
}

/* Does mapping m belong to record i in relation rel (0 member, 1 team, 2 parent)? */
static int belongs(const struct mapping *m, int rel, uint32_t i)
{
	switch (rel) {
	case 0:
		return m->kind == MAPPING_MEMBER && m->child == i;
	case 1:
		return m->team == i;
	default:
		return m->kind == MAPPING_SUBTEAM && m->child == i;
	}
}

/* Every record of every relation lists what a scan of the mappings finds, in order. */
static void check_against_scan(const struct org *o, const struct orgindex *ix)
{
	int rel;

	CHECK_EQ("nmembers", o->nmembers, ix->nmembers);
	CHECK_EQ("nteams", o->nteams, ix->nteams);
	for (rel = 0; rel < 3; rel++) {
		uint32_t n_rec = rel ? o->nteams : o->nmembers, i;

		for (i = 0; i < n_rec; i++) {
			uint32_t n = 0, k = 0, j;
			const uint32_t *maps = rel == 0 ? orgindex_member(ix, i, &n) :
					       rel == 1 ? orgindex_team(ix, i, &n) :
							  orgindex_parents(ix, i, &n);

			for (j = 0; j < o->nmappings; j++) {
				if (!belongs(&o->mappings[j], rel, i))
					continue;
				if (k >= n)
					fail_msg("relation %d, record %u: mapping %u missing", rel, i, j);
				if (maps[k] != j)
					fail_msg("relation %d, record %u, entry %u: expected mapping %u, got %u",
						 rel, i, k, j, maps[k]);
				k++;
			}
			if (k != n)
				fail_msg("relation %d, record %u: %u entries, the scan finds %u", rel, i,
					 n, k);
		}
	}
}

static void test_empty_org(void **state)
{
	struct org o;
	struct orgindex ix;
	uint32_t n = 99;

	(void)state;
	org_init(&o);
	CHECK_EQ("build", ORG_OK, orgindex_build(&o, &ix));
	check_against_scan(&o, &ix);
	orgindex_free(&ix);
	/* Records, but no mapping names them. */
	add_members(&o, 3);
	add_teams(&o, 2);
	CHECK_EQ("build", ORG_OK, orgindex_build(&o, &ix));
	orgindex_member(&ix, 2, &n);
	CHECK_EQ("member 2's mappings", 0, n);
	orgindex_parents(&ix, 1, &n);
	CHECK_EQ("team 1's parents", 0, n);
	check_against_scan(&o, &ix);
	orgindex_free(&ix);
	orgindex_free(&ix); /* twice is harmless */
	org_free(&o);
}

static void test_dag(void **state)
{
	struct org o;
	struct orgindex ix;
	const uint32_t *p;
	uint32_t n;

	(void)state;
	org_init(&o);
	add_members(&o, 3);
	add_teams(&o, 4);
	/* T3 is below T1 and T2, both below T0; the mappings interleave. */
	map(&o, MAPPING_SUBTEAM, 0, 1); /* 0 */
	map(&o, MAPPING_MEMBER, 3, 2);  /* 1 */
	map(&o, MAPPING_SUBTEAM, 2, 3); /* 2 */
	map(&o, MAPPING_MEMBER, 0, 0);  /* 3 */
	map(&o, MAPPING_SUBTEAM, 0, 2); /* 4 */
	map(&o, MAPPING_SUBTEAM, 1, 3); /* 5 */
	map(&o, MAPPING_MEMBER, 1, 2);  /* 6 */
	CHECK_EQ("build", ORG_OK, orgindex_build(&o, &ix));
	p = orgindex_parents(&ix, 3, &n);
	CHECK_EQ("T3 has two parents", 2, n);
	CHECK_EQ("first parent mapping", 2, p[0]);
	CHECK_EQ("second parent mapping", 5, p[1]);
	p = orgindex_team(&ix, 0, &n);
	CHECK_EQ("T0's mappings", 3, n);
	CHECK_EQ("T0 first", 0, p[0]);
	CHECK_EQ("T0 second", 3, p[1]);
	CHECK_EQ("T0 third", 4, p[2]);
	p = orgindex_member(&ix, 2, &n);
	CHECK_EQ("M2's mappings", 2, n);
	CHECK_EQ("M2 first", 1, p[0]);
	CHECK_EQ("M2 second", 6, p[1]);
	orgindex_member(&ix, 1, &n);
	CHECK_EQ("M1 has none", 0, n);
	orgindex_parents(&ix, 0, &n);
	CHECK_EQ("T0 has no parent", 0, n);
	check_against_scan(&o, &ix);
	orgindex_free(&ix);
	org_free(&o);
}

static void test_random_org(void **state)
{
	struct org o;
	struct orgindex ix;
	uint32_t seed = 12345, i;

	(void)state;
	org_init(&o);
	add_members(&o, 300);
	add_teams(&o, 60);
	for (i = 0; i < 2000; i++) {
		uint32_t team;

		seed = seed * 1103515245u + 12345u;
		team = (seed >> 8) % 60;
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 20) & 1)
			map(&o, MAPPING_MEMBER, team, (seed >> 4) % 300);
		else
			map(&o, MAPPING_SUBTEAM, team, (seed >> 4) % 60);
	}
	CHECK_EQ("build", ORG_OK, orgindex_build(&o, &ix));
	check_against_scan(&o, &ix);
	orgindex_free(&ix);
	org_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_org),
		cmocka_unit_test(test_dag),
		cmocka_unit_test(test_random_org),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
