/*
 * plan: one test per rule of SPEC §4 (matching, adoption by email, email
 * clashes, absentees by state and role, skipped rows, partial mode, teams,
 * mappings) and §5 (risk limits), plus idempotence and a 20k-member run.
 * Orgs are built by hand, or from CSV text where skipped rows matter.
 * `test_plan --scale N` runs only the large plan, with N members, and
 * prints its time (bench/scale.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit/check.h"

#include "format/names.h"
#include "format/plan.h"
#include "format/report.h"
#include "ingest/ingest.h"
#include "plan/plan.h"
#include "util/os.h"

#define CHECK_DBL(what, expected, actual)                                                 \
	do {                                                                              \
		double e_ = (expected), a_ = (actual);                                    \
		if (e_ != a_)                                                             \
			fail_msg("%s: expected %g, got %g", (what), e_, a_);              \
	} while (0)

#define CHECK_ACTION(what, expected, actual)                                              \
	do {                                                                              \
		int e_ = (expected), a_ = (actual);                                       \
		if (e_ != a_)                                                             \
			fail_msg("%s: expected %s, got %s", (what),                       \
				 format_member_action_name((enum member_action)e_),         \
				 format_member_action_name((enum member_action)a_));        \
	} while (0)

static const char *const team_action_names[] = { "create", "rename", "delete", "unchanged" };

#define CHECK_TEAM_ACTION(what, expected, actual)                                         \
	do {                                                                              \
		int e_ = (expected), a_ = (actual);                                       \
		if (e_ != a_)                                                             \
			fail_msg("%s: expected %s, got %s", (what), team_action_names[e_], \
				 a_ >= 0 && a_ < 4 ? team_action_names[a_] : "?");       \
	} while (0)

/* A desired org (from a sync), a stored org, and what the plan made of them. */
struct fx {
	struct org d, s;
	struct report rep;
	struct plan p;
	const char *members_file; /* plan_opts.members_file; NULL by default */
};

static void fx_init(struct fx *f)
{
	org_init(&f->d);
	org_init(&f->s);
	report_init(&f->rep);
	memset(&f->p, 0, sizeof(f->p));
	f->members_file = NULL;
}

static void fx_free(struct fx *f)
{
	plan_free(&f->p);
	report_free(&f->rep);
	org_free(&f->d);
	org_free(&f->s);
}

static void build(struct fx *f, enum plan_mode mode, bool auto_invite)
{
	struct plan_opts opts = { mode, auto_invite, f->members_file, NULL, NULL };

	plan_free(&f->p);
	CHECK_EQ("plan_build status", PLAN_OK, plan_build(&f->d, &f->s, &opts, &f->p, &f->rep));
}

static const char *dup_str(struct org *o, const char *s)
{
	const char *p = org_strdup(o, s, strlen(s));

	assert_non_null(p);
	return p;
}

static uint32_t add_member(struct org *o, const char *id, const char *email, enum member_state state,
			   enum role role)
{
	struct member m;
	uint32_t index = PLAN_NONE;
	int rc;

	memset(&m, 0, sizeof(m));
	m.external_id = dup_str(o, id);
	m.email = dup_str(o, email);
	m.first_name = dup_str(o, "Ann");
	m.last_name = dup_str(o, "Lee");
	m.job_title = "";
	m.image_url = "";
	m.products = 1u << PRODUCT_OFFICEVIBE;
	m.langs[0] = LANG_EN;
	m.nlangs = 1;
	m.state = (uint8_t)state;
	m.role = (uint8_t)role;
	m.line = o->nmembers + 2; /* as if row n of a file with a header */
	rc = org_add_member(o, &m, &index, NULL);
	if (rc != ORG_OK)
		fail_msg("adding member %s <%s>: status %d", id, email, rc);
	return index;
}

/* A member as a sync sends it. */
static uint32_t want(struct org *o, const char *id, const char *email)
{
	return add_member(o, id, email, STATE_CREATED, ROLE_MEMBER);
}

/* A stored member. */
static uint32_t have(struct org *o, const char *id, const char *email, enum member_state state)
{
	return add_member(o, id, email, state, ROLE_MEMBER);
}

static uint32_t add_team(struct org *o, const char *id, const char *name)
{
	struct team t = { dup_str(o, id), dup_str(o, name), 0 };
	uint32_t index = PLAN_NONE;

	CHECK_EQ("add team", ORG_OK, org_add_team(o, &t, &index, NULL));
	return index;
}

static void add_map(struct org *o, uint32_t team, enum mapping_kind kind, uint32_t child,
		    bool is_member, bool is_manager)
{
	struct mapping m = { team, child, 0, (uint8_t)kind, is_member, is_manager };

	CHECK_EQ("add mapping", ORG_OK, org_add_mapping(o, &m, NULL));
}

/* Sets property name on member i (defining it in the org if need be), keeping props by index. */
static void set_prop(struct org *o, uint32_t i, const char *name, const char *value)
{
	struct member *m = &o->members[i];
	struct member_prop *props;
	uint32_t index, k, w = 0;

	CHECK_EQ("add property", ORG_OK, org_add_property(o, name, strlen(name), &index));
	props = org_alloc(o, (m->nprops + 1) * sizeof(*props));
	assert_non_null(props);
	for (k = 0; k < m->nprops && m->props[k].index < index; k++)
		props[w++] = m->props[k];
	props[w++] = (struct member_prop){ index, dup_str(o, value) };
	if (k < m->nprops && m->props[k].index == index)
		k++;
	for (; k < m->nprops; k++)
		props[w++] = m->props[k];
	m->props = props;
	m->nprops = w;
}

/* The change planned for desired member i: the first entries, in desired order. */
static const struct member_change *for_desired(const struct plan *p, uint32_t i)
{
	if (i >= p->nmembers || p->members[i].desired != i)
		fail_msg("no member change for desired %u in place %u", i, i);
	return &p->members[i];
}

static const struct member_change *for_stored(const struct plan *p, uint32_t j)
{
	uint32_t k;

	for (k = 0; k < p->nmembers; k++)
		if (p->members[k].stored == j)
			return &p->members[k];
	fail_msg("no member change for stored %u", j);
	return NULL;
}

static const struct team_change *team_for_stored(const struct plan *p, uint32_t j)
{
	uint32_t k;

	for (k = 0; k < p->nteams; k++)
		if (p->teams[k].stored == j)
			return &p->teams[k];
	fail_msg("no team change for stored %u", j);
	return NULL;
}

static const char *bit_names(uint16_t bits, char *buf, size_t size)
{
	static const char *const names[] = { "external_id", "email",     "first_name",
					     "last_name",   "job_title", "image_url",
					     "langs",       "products",  "props" };
	size_t k, used = 0;

	buf[0] = '\0';
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (bits & (1u << k))
			used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s",
						 used ? "|" : "", names[k]);
	if (!used)
		snprintf(buf, size, "none");
	return buf;
}

#define CHECK_BITS(what, expected, actual)                                                \
	do {                                                                              \
		uint16_t e_ = (uint16_t)(expected), a_ = (uint16_t)(actual);              \
		char eb_[128], ab_[128];                                                  \
		if (e_ != a_)                                                             \
			fail_msg("%s: expected changed %s, got %s", (what),               \
				 bit_names(e_, eb_, sizeof(eb_)),                         \
				 bit_names(a_, ab_, sizeof(ab_)));                        \
	} while (0)

#define COUNT_FIELDS(X)                                                                   \
	X(created) X(updated) X(reactivated) X(deactivated) X(deleted) X(unchanged)       \
	X(rekeyed) X(identity_changed) X(kept) X(teams_created) X(teams_renamed)           \
	X(teams_deleted) X(teams_unchanged) X(teams_kept) X(mappings_added)               \
	X(mappings_removed) X(mappings_changed) X(mappings_kept) X(invitations)

/* Every count, so that an unexpected change anywhere fails the test. */
static void check_counts(const char *what, struct plan_counts e, const struct plan_counts *a)
{
#define X(f)                                                                              \
	if (e.f != a->f)                                                                  \
		fail_msg("%s: counts." #f " expected %u, got %u", what, e.f, a->f);
	COUNT_FIELDS(X)
#undef X
}

static const char *const mapping_action_names[] = { "add", "remove", "change" };

/* Fails unless the plan holds exactly this mapping change. */
static void check_mapping(const struct plan *p, enum mapping_action a, uint32_t desired,
			  uint32_t stored)
{
	uint32_t k;

	for (k = 0; k < p->nmappings; k++)
		if (p->mappings[k].action == a && p->mappings[k].desired == desired &&
		    p->mappings[k].stored == stored)
			return;
	print_message("mapping changes in the plan:\n");
	for (k = 0; k < p->nmappings; k++)
		print_message("  %s desired %u stored %u\n",
			      mapping_action_names[p->mappings[k].action], p->mappings[k].desired,
			      p->mappings[k].stored);
	fail_msg("expected mapping %s (desired %u, stored %u), not in the plan",
		 mapping_action_names[a], desired, stored);
}

static const struct issue *find_issue(const struct report *r, enum issue_code code, int nth)
{
	size_t i;

	for (i = 0; i < r->count; i++)
		if (r->issues[i].code == code && nth-- == 0)
			return &r->issues[i];
	print_message("the report has:\n");
	format_report_text(r, stdout);
	fail_msg("no issue %s", format_issue_code_name(code));
	return NULL;
}

/* ---- members: create, update ---- */

static void test_create_without_invite(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	want(&f.d, "E1", "a@x.com");
	want(&f.d, "E2", "b@x.com");
	build(&f, PLAN_FULL, false);
	CHECK_EQ("nmembers", 2, f.p.nmembers);
	CHECK_ACTION("E1", MEMBER_CREATE, for_desired(&f.p, 0)->action);
	CHECK_EQ("E1 stored", PLAN_NONE, for_desired(&f.p, 0)->stored);
	CHECK_EQ("E1 invite", false, for_desired(&f.p, 0)->invite);
	CHECK_EQ("desired_to_stored[1]", PLAN_NONE, f.p.desired_to_stored[1]);
	check_counts("create", (struct plan_counts){ .created = 2 }, &f.p.counts);
	fx_free(&f);
}

static void test_create_with_invite(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	want(&f.d, "E1", "a@x.com");
	want(&f.d, "E2", "b@x.com");
	have(&f.s, "E3", "c@x.com", STATE_ACTIVE);
	want(&f.d, "E3", "c@x.com");
	build(&f, PLAN_FULL, true);
	CHECK_EQ("E1 invite", true, for_desired(&f.p, 0)->invite);
	CHECK_EQ("E3 (existing) not invited", false, for_desired(&f.p, 2)->invite);
	check_counts("create with invite",
		     (struct plan_counts){ .created = 2, .invitations = 2, .unchanged = 1 },
		     &f.p.counts);
	fx_free(&f);
}

/* Each field alone, on its own member, sets its own bit and no other. */
static void test_update_changed_bits(void **state)
{
	enum { N = 8 };
	static const uint16_t bits[N] = { CHANGED_EMAIL,     CHANGED_EMAIL,     CHANGED_FIRST_NAME,
					  CHANGED_LAST_NAME, CHANGED_JOB_TITLE, CHANGED_IMAGE_URL,
					  CHANGED_LANGS,     CHANGED_PRODUCTS };
	struct fx f;
	char id[16], what[64];
	uint32_t i;

	(void)state;
	fx_init(&f);
	for (i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "E%u", i);
		want(&f.d, id, i == 0 ? "new0@x.com" : i == 1 ? "E1@X.com" : id);
		have(&f.s, id, i <= 1 ? (i ? "e1@x.com" : "old0@x.com") : id, STATE_ACTIVE);
		f.s.members[i].langs[1] = LANG_FR;
		f.s.members[i].nlangs = 2;
		f.d.members[i].langs[1] = LANG_FR;
		f.d.members[i].nlangs = 2;
	}
	f.d.members[2].first_name = "Anne";
	f.d.members[3].last_name = "Li";
	f.d.members[4].job_title = "Engineer";
	f.d.members[5].image_url = "https://img.example/5.png";
	/* the same languages in another order are another preference */
	f.d.members[6].langs[0] = LANG_FR;
	f.d.members[6].langs[1] = LANG_EN;
	f.d.members[7].products |= 1u << PRODUCT_SKILLS;
	build(&f, PLAN_FULL, false);
	for (i = 0; i < N; i++) {
		const struct member_change *mc = for_desired(&f.p, i);

		snprintf(what, sizeof(what), "member E%u", i);
		CHECK_ACTION(what, MEMBER_UPDATE, mc->action);
		CHECK_BITS(what, bits[i], mc->changed);
		CHECK_EQ(what, i, mc->stored);
	}
	check_counts("updates", (struct plan_counts){ .updated = N, .identity_changed = 1 }, &f.p.counts);
	fx_free(&f);
}

/* Properties compare by name: the two orgs number them differently. */
static void test_update_props_by_name(void **state)
{
	struct fx f;
	uint32_t i;

	(void)state;
	fx_init(&f);
	/* stored defines cost, site, dept; the sync sends dept, site only */
	for (i = 0; i < 5; i++) {
		char id[8];

		snprintf(id, sizeof(id), "E%u", i);
		want(&f.d, id, id);
		have(&f.s, id, id, STATE_ACTIVE);
		set_prop(&f.s, i, "cost", "C1");
		set_prop(&f.s, i, "site", "Montréal");
		set_prop(&f.s, i, "dept", "Sales");
		set_prop(&f.d, i, "dept", "Sales");
		if (i != 3)
			set_prop(&f.d, i, "site", "Montréal");
	}
	CHECK_STR("desired prop 0", "dept", f.d.prop_names[0]);
	CHECK_STR("stored prop 0", "cost", f.s.prop_names[0]);
	set_prop(&f.d, 1, "site", "Québec");     /* site changes */
	set_prop(&f.s, 2, "dept", "Sales ");     /* one byte differs */
	/* E3: site sent as a column, empty for this member: cleared */
	f.s.members[4].nprops = 0;              /* E4: had none, now has dept, site */
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("E0 same values, other index order", MEMBER_UNCHANGED,
		     for_desired(&f.p, 0)->action);
	CHECK_BITS("E0", 0, for_desired(&f.p, 0)->changed);
	CHECK_BITS("E1 site changed", CHANGED_PROPS, for_desired(&f.p, 1)->changed);
	CHECK_BITS("E2 dept changed", CHANGED_PROPS, for_desired(&f.p, 2)->changed);
	CHECK_BITS("E3 site cleared", CHANGED_PROPS, for_desired(&f.p, 3)->changed);
	CHECK_BITS("E4 props added", CHANGED_PROPS, for_desired(&f.p, 4)->changed);
	check_counts("props", (struct plan_counts){ .updated = 4, .unchanged = 1 }, &f.p.counts);
	fx_free(&f);
}

/* A property the stored org has but the sync never sent (no column) is left alone. */
static void test_unsent_property_left_alone(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	want(&f.d, "E1", "a@x.com");
	have(&f.s, "E1", "a@x.com", STATE_ACTIVE);
	set_prop(&f.s, 0, "cost", "C1");
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("E1", MEMBER_UNCHANGED, for_desired(&f.p, 0)->action);
	CHECK_BITS("E1", 0, for_desired(&f.p, 0)->changed);
	/* the column sent, empty for E1: now it is a change */
	CHECK_EQ("define cost", ORG_OK, org_add_property(&f.d, "cost", 4, NULL));
	build(&f, PLAN_FULL, false);
	CHECK_BITS("E1, cost sent empty", CHANGED_PROPS, for_desired(&f.p, 0)->changed);
	fx_free(&f);
}

/* Administrators in the sync are updated like anyone. */
static void test_present_admin_updated(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	want(&f.d, "A1", "boss@x.com");
	f.d.members[0].job_title = "CEO";
	add_member(&f.s, "A1", "boss@x.com", STATE_ACTIVE, ROLE_ADMINISTRATOR);
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("admin in the sync", MEMBER_UPDATE, for_desired(&f.p, 0)->action);
	CHECK_BITS("admin in the sync", CHANGED_JOB_TITLE, for_desired(&f.p, 0)->changed);
	fx_free(&f);
}

/* ---- adoption by email and email clashes ---- */

static void test_email_adoption(void **state)
{
	struct fx f;
	const struct member_change *mc;

	(void)state;
	fx_init(&f);
	want(&f.d, "NEW-7", "Ann.Lee@x.com");
	have(&f.s, "OLD-7", "ann.lee@x.com", STATE_ACTIVE);
	want(&f.d, "E2", "b@x.com");
	have(&f.s, "E2", "b@x.com", STATE_ACTIVE);
	build(&f, PLAN_FULL, false);
	mc = for_desired(&f.p, 0);
	CHECK_ACTION("NEW-7", MEMBER_UPDATE, mc->action);
	CHECK_EQ("NEW-7 matched stored", 0, mc->stored);
	CHECK_BITS("NEW-7 takes the id (and the email's case)", CHANGED_EXTERNAL_ID | CHANGED_EMAIL,
		   mc->changed);
	CHECK_EQ("desired_to_stored[0]", 0, f.p.desired_to_stored[0]);
	CHECK_EQ("no error", 0, report_count(&f.rep, ISSUE_ERROR));
	check_counts("adoption", (struct plan_counts){ .updated = 1, .unchanged = 1, .rekeyed = 1 },
		     &f.p.counts);
	fx_free(&f);
}

/* A deactivated member found by email comes back under its new id. */
static void test_email_adoption_reactivates(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	want(&f.d, "NEW", "a@x.com");
	have(&f.s, "OLD", "a@x.com", STATE_DEACTIVATED);
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("NEW", MEMBER_REACTIVATE, for_desired(&f.p, 0)->action);
	CHECK_BITS("NEW", CHANGED_EXTERNAL_ID, for_desired(&f.p, 0)->changed);
	check_counts("adopt deactivated", (struct plan_counts){ .reactivated = 1, .rekeyed = 1 },
		     &f.p.counts);
	fx_free(&f);
}

/* The email's holder is in the sync with another email: the email is handed over. */
static void test_email_handed_over_by_a_row_moving_away(void **state)
{
	struct fx f;
	uint32_t team;

	(void)state;
	fx_init(&f);
	want(&f.d, "A", "a.new@x.com");
	want(&f.d, "C", "a@x.com");
	have(&f.s, "A", "a@x.com", STATE_ACTIVE);
	team = add_team(&f.d, "T1", "Team");
	add_team(&f.s, "T1", "Team");
	add_map(&f.d, team, MAPPING_MEMBER, 1, true, false);
	build(&f, PLAN_FULL, true);
	CHECK_ACTION("A", MEMBER_UPDATE, for_desired(&f.p, 0)->action);
	CHECK_BITS("A", CHANGED_EMAIL, for_desired(&f.p, 0)->changed);
	CHECK_ACTION("C takes A's old email", MEMBER_CREATE, for_desired(&f.p, 1)->action);
	CHECK_EQ("errors", 0, report_count(&f.rep, ISSUE_ERROR));
	check_counts("handed over", (struct plan_counts){ .created = 1, .updated = 1,
							  .identity_changed = 1,
							  .invitations = 1, .teams_unchanged = 1,
							  .mappings_added = 1 },
		     &f.p.counts);
	fx_free(&f);
}

/* Two members swap emails in one sync: both rows apply. */
static void test_email_swap(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	want(&f.d, "A", "b@x.com");
	want(&f.d, "B", "a@x.com");
	have(&f.s, "A", "a@x.com", STATE_ACTIVE);
	have(&f.s, "B", "b@x.com", STATE_ACTIVE);
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("A", MEMBER_UPDATE, for_desired(&f.p, 0)->action);
	CHECK_ACTION("B", MEMBER_UPDATE, for_desired(&f.p, 1)->action);
	CHECK_BITS("B", CHANGED_EMAIL, for_desired(&f.p, 1)->changed);
	CHECK_EQ("errors", 0, report_count(&f.rep, ISSUE_ERROR));
	fx_free(&f);
}

/*
 * A hand-over holds only while the holder's own row applies: A cannot take
 * b@ (an absent Administrator keeps it), so A keeps a@, and C, who waited
 * for a@, is refused too.
 */
static void test_email_refused_along_a_chain(void **state)
{
	struct fx f;
	const struct issue *is;
	uint32_t team;

	(void)state;
	fx_init(&f);
	want(&f.d, "A", "b@x.com");
	want(&f.d, "C", "a@x.com");
	have(&f.s, "A", "a@x.com", STATE_ACTIVE);
	add_member(&f.s, "B", "b@x.com", STATE_ACTIVE, ROLE_ADMINISTRATOR);
	team = add_team(&f.d, "T1", "Team");
	add_team(&f.s, "T1", "Team");
	add_map(&f.d, team, MAPPING_MEMBER, 1, true, false); /* C's, dropped with C */
	build(&f, PLAN_FULL, true);
	CHECK_ACTION("A not applied", MEMBER_UNCHANGED, for_desired(&f.p, 0)->action);
	CHECK_ACTION("C not applied", MEMBER_UNCHANGED, for_desired(&f.p, 1)->action);
	CHECK_EQ("C stored", PLAN_NONE, for_desired(&f.p, 1)->stored);
	CHECK_EQ("desired_to_stored[C]", PLAN_NONE, f.p.desired_to_stored[1]);
	CHECK_EQ("errors", 2, report_count(&f.rep, ISSUE_ERROR));
	is = find_issue(&f.rep, CODE_EMAIL_TAKEN, 1);
	CHECK_EQ("severity", ISSUE_ERROR, is->severity);
	CHECK_STR("file", "members", is->file);
	CHECK_EQ("line", 3, is->line);
	CHECK_STR("field", "email", is->field);
	CHECK_STR("record id", "C", is->record_id);
	if (!strstr(is->message, "'A'"))
		fail_msg("message should name member 'A': %s", is->message);
	if (!strstr(find_issue(&f.rep, CODE_EMAIL_TAKEN, 0)->message, "'B'"))
		fail_msg("A's refusal should name member 'B'");
	check_counts("refused", (struct plan_counts){ .unchanged = 2, .teams_unchanged = 1 },
		     &f.p.counts);
	/* The report names the input the members came from, when told. */
	f.members_file = "members.csv";
	report_free(&f.rep);
	report_init(&f.rep);
	build(&f, PLAN_FULL, true);
	CHECK_STR("file when named", "members.csv", find_issue(&f.rep, CODE_EMAIL_TAKEN, 0)->file);
	fx_free(&f);
}

/* Whoever keeps the email (admin, deactivated, deactivating, protected) blocks it. */
static void test_email_taken_by_staying_member(void **state)
{
	static const char *const holders[] = { "adm@x.com", "gone@x.com", "leaving@x.com",
					       "skipped@x.com" };
	struct fx f;
	uint32_t i, team, dteam;
	char id[8], what[64];

	(void)state;
	fx_init(&f);
	add_member(&f.s, "ADM", "adm@x.com", STATE_ACTIVE, ROLE_ADMINISTRATOR);
	have(&f.s, "GONE", "gone@x.com", STATE_DEACTIVATED);
	have(&f.s, "LEAVING", "leaving@x.com", STATE_ACTIVE);
	have(&f.s, "SKIP", "skipped@x.com", STATE_CREATED);
	CHECK_EQ("skip SKIP", 0, strmap_put(&f.d.skipped.member_ids, dup_str(&f.d, "SKIP"), 4, 0,
					    NULL));
	team = add_team(&f.s, "T1", "Team");
	dteam = add_team(&f.d, "T1", "Team");
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "X%u", i);
		want(&f.d, id, holders[i]);
		have(&f.s, id, id, STATE_ACTIVE);
		add_map(&f.s, team, MAPPING_MEMBER, 4 + i, true, false);
	}
	/* X0 moves to manager in the sync: not applied either */
	add_map(&f.d, dteam, MAPPING_MEMBER, 0, true, true);
	build(&f, PLAN_FULL, false);
	for (i = 0; i < 4; i++) {
		const struct member_change *mc = for_desired(&f.p, i);

		snprintf(what, sizeof(what), "X%u wanting %s", i, holders[i]);
		CHECK_ACTION(what, MEMBER_UNCHANGED, mc->action);
		CHECK_EQ(what, 4 + i, mc->stored);
		CHECK_BITS(what, 0, mc->changed);
		CHECK_EQ("desired_to_stored", PLAN_NONE, f.p.desired_to_stored[i]);
		snprintf(id, sizeof(id), "X%u", i);
		CHECK_STR("record id", id, find_issue(&f.rep, CODE_EMAIL_TAKEN, (int)i)->record_id);
	}
	CHECK_ACTION("LEAVING", MEMBER_DEACTIVATE, for_stored(&f.p, 2)->action);
	CHECK_ACTION("SKIP protected", MEMBER_UNCHANGED, for_stored(&f.p, 3)->action);
	CHECK_EQ("errors", 4, report_count(&f.rep, ISSUE_ERROR));
	/* the X's stored mappings stay, the refused one is not changed */
	CHECK_EQ("mapping changes", 0, f.p.nmappings);
	check_counts("email taken", (struct plan_counts){ .deactivated = 1, .unchanged = 7,
							  .kept = 1, .mappings_kept = 4,
							  .teams_unchanged = 1 },
		     &f.p.counts);
	fx_free(&f);
}

/* A member deleted by the plan frees its email (the store deletes first). */
static void test_email_free_when_holder_deleted(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	want(&f.d, "A", "h@x.com");
	have(&f.s, "A", "a@x.com", STATE_ACTIVE);
	have(&f.s, "H", "H@x.com", STATE_INVITED);
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("A takes h@", MEMBER_UPDATE, for_desired(&f.p, 0)->action);
	CHECK_BITS("A", CHANGED_EMAIL, for_desired(&f.p, 0)->changed);
	CHECK_ACTION("H", MEMBER_DELETE, for_stored(&f.p, 1)->action);
	CHECK_EQ("errors", 0, report_count(&f.rep, ISSUE_ERROR));
	check_counts("holder deleted", (struct plan_counts){ .updated = 1, .deleted = 1,
							     .identity_changed = 1 },
		     &f.p.counts);
	/* a partial sync deletes no one: the email stays taken */
	build(&f, PLAN_PARTIAL, false);
	CHECK_ACTION("A, partial", MEMBER_UNCHANGED, for_desired(&f.p, 0)->action);
	CHECK_EQ("email_taken, partial", CODE_EMAIL_TAKEN, find_issue(&f.rep, CODE_EMAIL_TAKEN, 0)->code);
	check_counts("partial", (struct plan_counts){ .unchanged = 2 }, &f.p.counts);
	fx_free(&f);
}

/* A stored member whose own id a skipped row names is not adopted by another. */
static void test_adoption_refused_for_skipped_id(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	want(&f.d, "B", "a@x.com");
	have(&f.s, "A", "a@x.com", STATE_ACTIVE);
	CHECK_EQ("skip A", 0, strmap_put(&f.d.skipped.member_ids, dup_str(&f.d, "A"), 1, 0, NULL));
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("B", MEMBER_UNCHANGED, for_desired(&f.p, 0)->action);
	CHECK_ACTION("A", MEMBER_UNCHANGED, for_stored(&f.p, 0)->action);
	CHECK_STR("record", "B", find_issue(&f.rep, CODE_EMAIL_TAKEN, 0)->record_id);
	check_counts("skipped id", (struct plan_counts){ .unchanged = 1, .kept = 1 }, &f.p.counts);
	fx_free(&f);
}

/* ---- members: state changes ---- */

static void test_reactivation(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	want(&f.d, "E1", "a@x.com");
	want(&f.d, "E2", "b@x.com");
	have(&f.s, "E1", "a@x.com", STATE_DEACTIVATED);
	have(&f.s, "E2", "b@x.com", STATE_DEACTIVATED);
	f.d.members[1].last_name = "Roy";
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("E1 same fields", MEMBER_REACTIVATE, for_desired(&f.p, 0)->action);
	CHECK_BITS("E1", 0, for_desired(&f.p, 0)->changed);
	CHECK_ACTION("E2 new name", MEMBER_REACTIVATE, for_desired(&f.p, 1)->action);
	CHECK_BITS("E2", CHANGED_LAST_NAME, for_desired(&f.p, 1)->changed);
	check_counts("reactivate", (struct plan_counts){ .reactivated = 2 }, &f.p.counts);
	fx_free(&f);
}

static void test_absent_active_deactivated(void **state)
{
	struct fx f;
	uint32_t team;

	(void)state;
	fx_init(&f);
	have(&f.s, "E1", "a@x.com", STATE_ACTIVE);
	team = add_team(&f.s, "T1", "Team");
	add_map(&f.s, team, MAPPING_MEMBER, 0, true, true);
	add_team(&f.d, "T1", "Team");
	build(&f, PLAN_FULL, false);
	CHECK_EQ("nmembers", 1, f.p.nmembers);
	CHECK_ACTION("E1", MEMBER_DEACTIVATE, for_stored(&f.p, 0)->action);
	CHECK_EQ("E1 desired", PLAN_NONE, for_stored(&f.p, 0)->desired);
	check_mapping(&f.p, MAPPING_REMOVE, PLAN_NONE, 0);
	check_counts("deactivate", (struct plan_counts){ .deactivated = 1, .teams_unchanged = 1,

							 .mappings_removed = 1 },
		     &f.p.counts);
	fx_free(&f);
}

static void test_absent_created_invited_deleted(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	have(&f.s, "E1", "a@x.com", STATE_CREATED);
	have(&f.s, "E2", "b@x.com", STATE_INVITED);
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("created", MEMBER_DELETE, for_stored(&f.p, 0)->action);
	CHECK_ACTION("invited", MEMBER_DELETE, for_stored(&f.p, 1)->action);
	check_counts("delete", (struct plan_counts){ .deleted = 2 }, &f.p.counts);
	fx_free(&f);
}

static void test_absent_deactivated_unchanged(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f);
	have(&f.s, "E1", "a@x.com", STATE_DEACTIVATED);
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("deactivated", MEMBER_UNCHANGED, for_stored(&f.p, 0)->action);
	check_counts("deactivated", (struct plan_counts){ .unchanged = 1 }, &f.p.counts);
	assert_true(plan_is_noop(&f.p));
	fx_free(&f);
}

static void test_absent_admin_unchanged(void **state)
{
	struct fx f;
	uint32_t st, dt, adm, other;

	(void)state;
	fx_init(&f);
	adm = add_member(&f.s, "ADM", "adm@x.com", STATE_ACTIVE, ROLE_ADMINISTRATOR);
	add_member(&f.s, "ADM2", "adm2@x.com", STATE_CREATED, ROLE_ADMINISTRATOR);
	other = have(&f.s, "E1", "a@x.com", STATE_ACTIVE);
	st = add_team(&f.s, "T1", "Team");
	add_map(&f.s, st, MAPPING_MEMBER, adm, true, true);
	add_map(&f.s, st, MAPPING_MEMBER, other, true, false);
	dt = add_team(&f.d, "T1", "Team");
	want(&f.d, "E1", "a@x.com");
	(void)dt;
	build(&f, PLAN_FULL, false);
	CHECK_ACTION("active admin", MEMBER_UNCHANGED, for_stored(&f.p, 0)->action);
	CHECK_ACTION("created admin", MEMBER_UNCHANGED, for_stored(&f.p, 1)->action);
	/* E1's mapping is gone from the sync; the admin's stays */
	CHECK_EQ("mapping changes", 1, f.p.nmappings);
	check_mapping(&f.p, MAPPING_REMOVE, PLAN_NONE, 1);
	check_counts("admins", (struct plan_counts){ .unchanged = 3, .teams_unchanged = 1,
						     .mappings_kept = 1,
						     .mappings_removed = 1 },
		     &f.p.counts);
	fx_free(&f);
}

/* ---- skipped rows, from real CSV ---- */

struct csv_fx {
	struct fx f;
	struct report ingest_rep;
};

static void ingest_desired(struct csv_fx *c, const char *members, const char *teams,
			   const char *maps)
{
	struct ingest_input m = { "members.csv", NULL, members, strlen(members) },
			    t = { "teams.csv", NULL, teams, strlen(teams) },
			    x = { "teams-mappings.csv", NULL, maps, strlen(maps) };
	struct ingest_opts opts = { NULL, 0, true };

	report_init(&c->ingest_rep);
	CHECK_EQ("ingest", INGEST_OK,
		 ingest_csv(&m, &t, &x, &opts, &c->f.d, &c->ingest_rep, NULL));
}

static void test_skipped_rows_protect(void **state)
{
	struct csv_fx c;
	uint32_t team, team2;

	(void)state;
	fx_init(&c.f);
	ingest_desired(&c,
		       "externalMemberId,email,languagePreferences\n"
		       "E1,a@x.com,en\n"
		       "E2,b@x.com,klingon\n"    /* skipped: names E2 (and b@) */
		       ",c@x.com,en\n",          /* skipped: names c@ */
		       "externalTeamId,teamName\n"
		       "T1,Team\n"
		       "T2,\n",                  /* skipped: names T2 */
		       "externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n"
		       "T1,E1,,true,false\n");
	CHECK_EQ("ingest errors", 3, report_count(&c.ingest_rep, ISSUE_ERROR));
	have(&c.f.s, "E1", "a@x.com", STATE_ACTIVE);
	c.f.s.members[0].first_name = ""; /* as the CSV has it */
	c.f.s.members[0].last_name = "";
	have(&c.f.s, "E2", "b-old@x.com", STATE_ACTIVE);  /* by id */
	have(&c.f.s, "E3", "C@x.com", STATE_CREATED);     /* by email */
	have(&c.f.s, "E4", "d@x.com", STATE_ACTIVE);      /* not named */
	team = add_team(&c.f.s, "T1", "Team");
	team2 = add_team(&c.f.s, "T2", "Other");
	add_map(&c.f.s, team, MAPPING_MEMBER, 0, true, false);
	add_map(&c.f.s, team, MAPPING_MEMBER, 1, true, false);
	add_map(&c.f.s, team, MAPPING_MEMBER, 2, true, true);
	add_map(&c.f.s, team, MAPPING_MEMBER, 3, true, false);
	add_map(&c.f.s, team2, MAPPING_MEMBER, 0, true, false); /* kept with T2 */
	build(&c.f, PLAN_FULL, false);
	CHECK_ACTION("E2 named by id", MEMBER_UNCHANGED, for_stored(&c.f.p, 1)->action);
	CHECK_ACTION("E3 named by email", MEMBER_UNCHANGED, for_stored(&c.f.p, 2)->action);
	CHECK_ACTION("E4 not named", MEMBER_DEACTIVATE, for_stored(&c.f.p, 3)->action);
	CHECK_TEAM_ACTION("T2 named", TEAM_UNCHANGED, team_for_stored(&c.f.p, 1)->action);
	CHECK_EQ("mapping changes (E4's only)", 1, c.f.p.nmappings);
	check_mapping(&c.f.p, MAPPING_REMOVE, PLAN_NONE, 3);
	check_counts("skipped rows", (struct plan_counts){ .unchanged = 3, .deactivated = 1,
							   .kept = 2, .teams_kept = 1,
							   .mappings_kept = 3,
							   .teams_unchanged = 2,
							   .mappings_removed = 1 },
		     &c.f.p.counts);
	report_free(&c.ingest_rep);
	fx_free(&c.f);
}

/*
 * ---- skipped rows × stored states, table-driven ----
 * One org, stored as its valid files say; then each kind of invalid row in
 * place of a valid one, against each state the member it names can be in.
 * Whatever the row, the plan removes nothing (but what the row no longer
 * names at all), and leaves the records it names exactly as they are.
 */
static const char BASE_MEMBERS[] =
	"externalMemberId,email,firstName,lastName,languagePreferences,productAssignations\n"
	"E1,e1@x.com,Ann,One,en,Officevibe\n"
	"E2,e2@x.com,Bob,Two,fr,Skills\n"
	"E3,e3@x.com,Cy,Three,en,Officevibe\n";
static const char BASE_TEAMS[] = "externalTeamId,teamName\nT1,Top\nT2,Sub\n";
static const char BASE_MAPS[] = "externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n"
				"T1,E1,,true,true\n"
				"T1,,T2,,\n"
				"T2,E2,,true,false\n"
				"T2,E3,,true,true\n";

enum { IN_MEMBERS, IN_TEAMS, IN_MAPS };

struct bad_row {
	const char *what;
	int file;          /* IN_*: the input whose line is replaced */
	const char *line;  /* the valid line */
	const char *bad;   /* its invalid version */
	const char *member; /* a stored member the row names, kept as it is (member rows) */
	const char *team;   /* a stored team it names, kept as it is (team rows) */
	const char *pair[2]; /* a stored mapping it names (team, member or subteam id) */
	const char *may_go[2]; /* the stored mapping of the valid line, when the row names another */
};

#define E2_LINE "E2,e2@x.com,Bob,Two,fr,Skills"

static const struct bad_row bad_rows[] = {
	{ .what = "invalid email", .file = IN_MEMBERS, .line = E2_LINE,
	  .bad = "E2,not-an-email,Bob,Two,fr,Skills", .member = "E2" },
	{ .what = "unknown language", .file = IN_MEMBERS, .line = E2_LINE,
	  .bad = "E2,e2@x.com,Bob,Two,klingon,Skills", .member = "E2" },
	{ .what = "unknown product", .file = IN_MEMBERS, .line = E2_LINE,
	  .bad = "E2,e2@x.com,Bob,Two,fr,Excel", .member = "E2" },
	{ .what = "missing email", .file = IN_MEMBERS, .line = E2_LINE,
	  .bad = "E2,,Bob,Two,fr,Skills", .member = "E2" },
	{ .what = "missing id", .file = IN_MEMBERS, .line = E2_LINE,
	  .bad = ",e2@x.com,Bob,Two,fr,Skills", .member = "E2" },
	{ .what = "email of another row", .file = IN_MEMBERS, .line = E2_LINE,
	  .bad = "E2,E1@x.com,Bob,Two,fr,Skills", .member = "E2" },
	{ .what = "id of another row", .file = IN_MEMBERS, .line = E2_LINE,
	  .bad = "E1,e2@x.com,Bob,Two,fr,Skills", .member = "E2" },
	{ .what = "extra fields", .file = IN_MEMBERS, .line = E2_LINE,
	  .bad = "E2,e2@x.com,Bob,Two,fr,Skills,oops", .member = "E2" },
	{ .what = "empty team name", .file = IN_TEAMS, .line = "T2,Sub",
	  .bad = "T2,", .team = "T2" },
	{ .what = "missing team id", .file = IN_TEAMS, .line = "T2,Sub",
	  .bad = ",Sub", .team = "T2" },
	{ .what = "team id of another row", .file = IN_TEAMS, .line = "T2,Sub",
	  .bad = "T1,Sub", .team = "T2" },
	{ .what = "bad isMember", .file = IN_MAPS, .line = "T2,E2,,true,false",
	  .bad = "T2,E2,,maybe,false", .pair = { "T2", "E2" } },
	{ .what = "bad isManager", .file = IN_MAPS, .line = "T2,E2,,true,false",
	  .bad = "T2,E2,,true,maybe", .pair = { "T2", "E2" } },
	{ .what = "bad isManager of a manager", .file = IN_MAPS, .line = "T2,E3,,true,true",
	  .bad = "T2,E3,,true,tru", .pair = { "T2", "E3" } },
	{ .what = "two targets", .file = IN_MAPS, .line = "T2,E2,,true,false",
	  .bad = "T2,E2,T1,true,false", .pair = { "T2", "E2" } },
	{ .what = "grants nothing", .file = IN_MAPS, .line = "T2,E2,,true,false",
	  .bad = "T2,E2,,false,false", .pair = { "T2", "E2" } },
	{ .what = "no target", .file = IN_MAPS, .line = "T2,E2,,true,false",
	  .bad = "T2,,,true,false", .pair = { "T2", "E2" } },
	{ .what = "no team", .file = IN_MAPS, .line = "T2,E2,,true,false",
	  .bad = ",E2,,true,false", .pair = { "T2", "E2" } },
	{ .what = "unknown team", .file = IN_MAPS, .line = "T2,E2,,true,false",
	  .bad = "T9,E2,,true,false", .pair = { "T2", "E2" } },
	{ .what = "unknown member", .file = IN_MAPS, .line = "T2,E2,,true,false",
	  .bad = "T2,E9,,true,false", .may_go = { "T2", "E2" } },
	{ .what = "bad boolean of a subteam row", .file = IN_MAPS, .line = "T1,,T2,,",
	  .bad = "T1,,T2,maybe,", .pair = { "T1", "T2" } },
	{ .what = "subteam row without team", .file = IN_MAPS, .line = "T1,,T2,,",
	  .bad = ",,T2,,", .pair = { "T1", "T2" } },
	{ .what = "unknown subteam", .file = IN_MAPS, .line = "T1,,T2,,",
	  .bad = "T1,,T9,,", .may_go = { "T1", "T2" } },
};

struct stored_state {
	const char *name;
	enum member_state state;
	enum role role;
};

static const struct stored_state stored_states[] = {
	{ "created", STATE_CREATED, ROLE_MEMBER },     { "invited", STATE_INVITED, ROLE_MEMBER },
	{ "active", STATE_ACTIVE, ROLE_MEMBER },       { "deactivated", STATE_DEACTIVATED, ROLE_MEMBER },
	{ "administrator", STATE_ACTIVE, ROLE_ADMINISTRATOR },
};

/* text with its line `line` replaced by `with` (caller frees). */
static char *replace_line(const char *text, const char *line, const char *with)
{
	const char *at = strstr(text, line);
	size_t n = strlen(line), pre;
	char *out;

	if (!at || (at != text && at[-1] != '\n') || at[n] != '\n')
		fail_msg("no line '%s' to replace", line);
	pre = (size_t)(at - text);
	out = malloc(strlen(text) - n + strlen(with) + 1);
	assert_non_null(out);
	memcpy(out, text, pre);
	strcpy(out + pre, with);
	strcat(out, at + n);
	return out;
}

static void ingest_into(struct org *o, struct report *rep, const char *m, const char *t,
			const char *x)
{
	struct ingest_input in[3] = { { "members.csv", NULL, m, strlen(m) },
				      { "teams.csv", NULL, t, strlen(t) },
				      { "teams-mappings.csv", NULL, x, strlen(x) } };
	struct ingest_opts opts = { NULL, 0, true };

	CHECK_EQ("ingest", INGEST_OK, ingest_csv(&in[0], &in[1], &in[2], &opts, o, rep, NULL));
}

/* The stored mapping of (team, member or subteam) ids, PLAN_NONE when there is none. */
static uint32_t stored_mapping(const struct org *s, const char *team, const char *child)
{
	uint32_t t, c, k;
	bool subteam = child[0] == 'T';

	if (!org_find_team(s, team, strlen(team), &t) ||
	    !(subteam ? org_find_team(s, child, strlen(child), &c)
		      : org_find_member(s, child, strlen(child), &c)))
		return PLAN_NONE;
	for (k = 0; k < s->nmappings; k++)
		if (s->mappings[k].team == t && s->mappings[k].child == c &&
		    s->mappings[k].kind == (subteam ? MAPPING_SUBTEAM : MAPPING_MEMBER))
			return k;
	return PLAN_NONE;
}

static void check_bad_row(const struct bad_row *b, const struct stored_state *st)
{
	struct fx f;
	struct report ingest_rep;
	const char *base[3] = { BASE_MEMBERS, BASE_TEAMS, BASE_MAPS };
	char *in[3], what[160];
	uint32_t k, j, pair = PLAN_NONE, may_go = PLAN_NONE;
	int i;

	fx_init(&f);
	report_init(&ingest_rep);
	for (i = 0; i < 3; i++)
		in[i] = i == b->file ? replace_line(base[i], b->line, b->bad) : strdup(base[i]);
	ingest_into(&f.d, &ingest_rep, in[0], in[1], in[2]);
	ingest_into(&f.s, &f.rep, BASE_MEMBERS, BASE_TEAMS, BASE_MAPS);
	report_free(&f.rep);
	report_init(&f.rep);
	for (k = 0; k < f.s.nmembers; k++)
		f.s.members[k].state = STATE_ACTIVE;
	CHECK_EQ("E2 stored", 1, org_find_member(&f.s, "E2", 2, &j));
	f.s.members[j].state = (uint8_t)st->state;
	f.s.members[j].role = (uint8_t)st->role;
	snprintf(what, sizeof(what), "%s, E2 %s", b->what, st->name);
	if (!report_count(&ingest_rep, ISSUE_ERROR))
		fail_msg("%s: the row was not skipped", what);
	build(&f, PLAN_FULL, false);

	for (k = 0; k < f.p.nmembers; k++)
		if (f.p.members[k].action == MEMBER_DEACTIVATE || f.p.members[k].action == MEMBER_DELETE)
			fail_msg("%s: stored member %s is removed", what,
				 f.s.members[f.p.members[k].stored].external_id);
	for (k = 0; k < f.p.nteams; k++)
		if (f.p.teams[k].action == TEAM_DELETE)
			fail_msg("%s: team %s is deleted", what,
				 f.s.teams[f.p.teams[k].stored].external_id);
	if (b->pair[0])
		pair = stored_mapping(&f.s, b->pair[0], b->pair[1]);
	if (b->may_go[0])
		may_go = stored_mapping(&f.s, b->may_go[0], b->may_go[1]);
	if (b->pair[0] && pair == PLAN_NONE)
		fail_msg("%s: the fixture has no mapping %s/%s", what, b->pair[0], b->pair[1]);
	for (k = 0; k < f.p.nmappings; k++) {
		const struct mapping_change *mc = &f.p.mappings[k];

		if (mc->action == MAPPING_REMOVE && mc->stored != may_go)
			fail_msg("%s: stored mapping %u is removed", what, mc->stored);
		if (pair != PLAN_NONE && mc->stored == pair)
			fail_msg("%s: the mapping the row names is %s", what,
				 mapping_action_names[mc->action]);
	}
	if (b->member) {
		const struct member_change *mc = for_stored(&f.p, j);

		CHECK_ACTION(what, MEMBER_UNCHANGED, mc->action);
		CHECK_BITS(what, 0, mc->changed);
		CHECK_EQ(what, PLAN_NONE, mc->desired);
		if (st->state != STATE_DEACTIVATED && st->role != ROLE_ADMINISTRATOR) {
			CHECK_EQ("members kept", 1, f.p.counts.kept);
			CHECK_STR(what, "E2", find_issue(&f.rep, CODE_KEPT_BY_SKIPPED_ROW, 0)->record_id);
		}
	}
	if (b->team) {
		CHECK_EQ("T2 stored", 1, org_find_team(&f.s, b->team, strlen(b->team), &j));
		CHECK_TEAM_ACTION(what, TEAM_UNCHANGED, team_for_stored(&f.p, j)->action);
		CHECK_EQ("teams kept", 1, f.p.counts.teams_kept);
		CHECK_STR(what, b->team, find_issue(&f.rep, CODE_KEPT_BY_SKIPPED_ROW, 0)->record_id);
	}
	if (pair != PLAN_NONE && !(st->role == ROLE_ADMINISTRATOR && !strcmp(b->pair[1], "E2"))) {
		char id[16];

		snprintf(id, sizeof(id), "%s/%s", b->pair[0], b->pair[1]);
		CHECK_STR(what, id, find_issue(&f.rep, CODE_KEPT_BY_SKIPPED_ROW, 0)->record_id);
		CHECK_EQ(what, 1, f.p.counts.mappings_kept);
	}
	for (i = 0; i < 3; i++)
		free(in[i]);
	report_free(&ingest_rep);
	fx_free(&f);
}

static void test_skipped_row_table(void **state)
{
	size_t r, s2;

	(void)state;
	for (r = 0; r < sizeof(bad_rows) / sizeof(bad_rows[0]); r++)
		for (s2 = 0; s2 < sizeof(stored_states) / sizeof(stored_states[0]); s2++)
			check_bad_row(&bad_rows[r], &stored_states[s2]);
}

static void test_partial_removes_nothing(void **state)
{
	struct fx f;
	uint32_t t1, t2, dt;

	(void)state;
	fx_init(&f);
	have(&f.s, "E1", "a@x.com", STATE_ACTIVE);
	have(&f.s, "E2", "b@x.com", STATE_CREATED);
	have(&f.s, "E3", "c@x.com", STATE_ACTIVE);
	t1 = add_team(&f.s, "T1", "Team");
	t2 = add_team(&f.s, "T2", "Gone");
	add_map(&f.s, t1, MAPPING_MEMBER, 0, true, false);
	add_map(&f.s, t2, MAPPING_MEMBER, 1, true, false);
	add_map(&f.s, t1, MAPPING_SUBTEAM, t2, false, false);
	add_map(&f.s, t1, MAPPING_MEMBER, 2, true, false);
	want(&f.d, "E3", "c@x.com");
	want(&f.d, "N1", "n@x.com");
	dt = add_team(&f.d, "T1", "Team");
	add_map(&f.d, dt, MAPPING_MEMBER, 1, true, false); /* N1 added */
	add_map(&f.d, dt, MAPPING_MEMBER, 0, true, true);  /* E3 becomes manager */
	build(&f, PLAN_PARTIAL, false);
	CHECK_ACTION("E1 active", MEMBER_UNCHANGED, for_stored(&f.p, 0)->action);
	CHECK_ACTION("E2 created", MEMBER_UNCHANGED, for_stored(&f.p, 1)->action);
	CHECK_ACTION("N1", MEMBER_CREATE, for_desired(&f.p, 1)->action);
	CHECK_TEAM_ACTION("T2", TEAM_UNCHANGED, team_for_stored(&f.p, 1)->action);
	check_mapping(&f.p, MAPPING_ADD, 0, PLAN_NONE);
	check_mapping(&f.p, MAPPING_CHANGE, 1, 3);
	check_counts("partial", (struct plan_counts){ .created = 1, .unchanged = 3,
						      .teams_unchanged = 2, .mappings_added = 1,
						      .mappings_changed = 1 },
		     &f.p.counts);
	fx_free(&f);
}

/* ---- teams ---- */

static void test_teams_create_rename_delete(void **state)
{
	struct fx f;
	uint32_t s1, s2, s3, d1, m;

	(void)state;
	fx_init(&f);
	s1 = add_team(&f.s, "T1", "Eng");
	s2 = add_team(&f.s, "T2", "Ops");
	s3 = add_team(&f.s, "T3", "Ops East");
	m = have(&f.s, "E1", "a@x.com", STATE_ACTIVE);
	add_map(&f.s, s1, MAPPING_MEMBER, m, true, false);
	add_map(&f.s, s2, MAPPING_MEMBER, m, true, true);
	add_map(&f.s, s2, MAPPING_SUBTEAM, s3, false, false);
	add_map(&f.s, s1, MAPPING_SUBTEAM, s2, false, false);
	d1 = add_team(&f.d, "T1", "Engineering");
	add_team(&f.d, "T9", "New");
	add_team(&f.d, "T3", "Ops East");
	want(&f.d, "E1", "a@x.com");
	add_map(&f.d, d1, MAPPING_MEMBER, 0, true, false);
	build(&f, PLAN_FULL, false);
	CHECK_TEAM_ACTION("T1", TEAM_RENAME, f.p.teams[0].action);
	CHECK_EQ("T1 keeps identity", s1, f.p.teams[0].stored);
	CHECK_EQ("team_desired_to_stored[T1]", s1, f.p.team_desired_to_stored[0]);
	CHECK_TEAM_ACTION("T9", TEAM_CREATE, f.p.teams[1].action);
	CHECK_EQ("team_desired_to_stored[T9]", PLAN_NONE, f.p.team_desired_to_stored[1]);
	CHECK_TEAM_ACTION("T3", TEAM_UNCHANGED, f.p.teams[2].action);
	CHECK_TEAM_ACTION("T2", TEAM_DELETE, team_for_stored(&f.p, s2)->action);
	CHECK_EQ("T2 desired", PLAN_NONE, team_for_stored(&f.p, s2)->desired);
	/* T2's mappings go with it, as parent and as subteam */
	check_mapping(&f.p, MAPPING_REMOVE, PLAN_NONE, 1);
	check_mapping(&f.p, MAPPING_REMOVE, PLAN_NONE, 2);
	check_mapping(&f.p, MAPPING_REMOVE, PLAN_NONE, 3);
	check_counts("teams", (struct plan_counts){ .unchanged = 1, .teams_created = 1,
						    .teams_renamed = 1, .teams_deleted = 1,
						    .teams_unchanged = 1, .mappings_removed = 3 },
		     &f.p.counts);
	fx_free(&f);
}

static void test_skipped_team_protected(void **state)
{
	struct fx f;
	uint32_t s1, s2, m, gone;

	(void)state;
	fx_init(&f);
	s1 = add_team(&f.s, "T1", "Eng");
	s2 = add_team(&f.s, "T2", "Ops");
	m = have(&f.s, "E1", "a@x.com", STATE_ACTIVE);
	gone = have(&f.s, "GONE", "g@x.com", STATE_CREATED);
	add_map(&f.s, s2, MAPPING_MEMBER, m, true, false);
	add_map(&f.s, s1, MAPPING_SUBTEAM, s2, false, false);
	add_map(&f.s, s2, MAPPING_MEMBER, gone, true, false); /* goes with its member */
	add_team(&f.d, "T1", "Eng");
	want(&f.d, "E1", "a@x.com");
	CHECK_EQ("skip T2", 0, strmap_put(&f.d.skipped.team_ids, dup_str(&f.d, "T2"), 2, 0, NULL));
	build(&f, PLAN_FULL, false);
	CHECK_TEAM_ACTION("T2", TEAM_UNCHANGED, team_for_stored(&f.p, s2)->action);
	CHECK_EQ("mapping changes", 1, f.p.nmappings);
	check_mapping(&f.p, MAPPING_REMOVE, PLAN_NONE, 2);
	check_counts("skipped team", (struct plan_counts){ .unchanged = 1, .deleted = 1,
							   .teams_unchanged = 2, .teams_kept = 1,
							   .mappings_removed = 1, .mappings_kept = 2 },
		     &f.p.counts);
	/* partial: nothing deleted either */
	strmap_free(&f.d.skipped.team_ids);
	strmap_init(&f.d.skipped.team_ids, STRMAP_EXACT);
	build(&f, PLAN_PARTIAL, false);
	CHECK_TEAM_ACTION("T2, partial", TEAM_UNCHANGED, team_for_stored(&f.p, s2)->action);
	CHECK_EQ("mapping changes, partial", 0, f.p.nmappings);
	build(&f, PLAN_FULL, false);
	CHECK_TEAM_ACTION("T2, no longer skipped", TEAM_DELETE, team_for_stored(&f.p, s2)->action);
	CHECK_EQ("its mappings removed", 3, f.p.counts.mappings_removed);
	fx_free(&f);
}

/* ---- mappings ---- */

static void test_mappings_add_remove_change(void **state)
{
	struct fx f;
	uint32_t st, ssub, dt, dsub, i;
	char id[8];

	(void)state;
	fx_init(&f);
	st = add_team(&f.s, "T1", "Eng");
	ssub = add_team(&f.s, "T2", "Web");
	add_team(&f.s, "T3", "Mobile");
	dt = add_team(&f.d, "T1", "Eng");
	dsub = add_team(&f.d, "T2", "Web");
	add_team(&f.d, "T3", "Mobile");
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "E%u", i);
		have(&f.s, id, id, STATE_ACTIVE);
		want(&f.d, id, id);
	}
	add_map(&f.s, st, MAPPING_MEMBER, 0, true, false);  /* s0 same */
	add_map(&f.s, st, MAPPING_MEMBER, 1, true, true);   /* s1 loses manager */
	add_map(&f.s, st, MAPPING_MEMBER, 2, true, false);  /* s2 removed */
	add_map(&f.s, st, MAPPING_SUBTEAM, ssub, false, false); /* s3 removed */
	add_map(&f.s, ssub, MAPPING_MEMBER, 3, false, true);  /* s4 becomes member too */
	add_map(&f.d, dt, MAPPING_MEMBER, 0, true, false);  /* d0 same */
	add_map(&f.d, dt, MAPPING_MEMBER, 1, true, false);  /* d1 change */
	add_map(&f.d, dt, MAPPING_MEMBER, 3, true, false);  /* d2 added */
	add_map(&f.d, dsub, MAPPING_SUBTEAM, 2, false, false); /* d3 added: T3 under T2 */
	add_map(&f.d, dsub, MAPPING_MEMBER, 3, true, true); /* d4 change */
	build(&f, PLAN_FULL, false);
	check_mapping(&f.p, MAPPING_CHANGE, 1, 1);
	check_mapping(&f.p, MAPPING_ADD, 2, PLAN_NONE);
	check_mapping(&f.p, MAPPING_ADD, 3, PLAN_NONE);
	check_mapping(&f.p, MAPPING_CHANGE, 4, 4);
	check_mapping(&f.p, MAPPING_REMOVE, PLAN_NONE, 2);
	check_mapping(&f.p, MAPPING_REMOVE, PLAN_NONE, 3);
	CHECK_EQ("mapping changes", 6, f.p.nmappings);
	check_counts("mappings", (struct plan_counts){ .unchanged = 4, .teams_unchanged = 3,
						       .mappings_added = 2, .mappings_removed = 2,
						       .mappings_changed = 2 },
		     &f.p.counts);
	fx_free(&f);
}

/* A new member's and a new team's mappings are adds; a deleted member's are removes. */
static void test_mappings_of_new_and_deleted(void **state)
{
	struct fx f;
	uint32_t st, dt, dnew;

	(void)state;
	fx_init(&f);
	st = add_team(&f.s, "T1", "Eng");
	have(&f.s, "OLD", "old@x.com", STATE_CREATED);
	add_map(&f.s, st, MAPPING_MEMBER, 0, true, false);
	dt = add_team(&f.d, "T1", "Eng");
	dnew = add_team(&f.d, "T2", "New");
	want(&f.d, "NEW", "new@x.com");
	add_map(&f.d, dt, MAPPING_MEMBER, 0, true, false);
	add_map(&f.d, dnew, MAPPING_SUBTEAM, dt, false, false);
	build(&f, PLAN_FULL, false);
	check_mapping(&f.p, MAPPING_ADD, 0, PLAN_NONE);
	check_mapping(&f.p, MAPPING_ADD, 1, PLAN_NONE);
	check_mapping(&f.p, MAPPING_REMOVE, PLAN_NONE, 0);
	check_counts("new and deleted", (struct plan_counts){ .created = 1, .deleted = 1,
							      .teams_created = 1,
							      .teams_unchanged = 1,
							      .mappings_added = 2,
							      .mappings_removed = 1 },
		     &f.p.counts);
	fx_free(&f);
}

/* A re-keyed member's mappings are the same mappings: no remove + add. */
static void test_mappings_follow_adoption(void **state)
{
	struct fx f;
	uint32_t st, dt;

	(void)state;
	fx_init(&f);
	st = add_team(&f.s, "T1", "Eng");
	have(&f.s, "OLD", "a@x.com", STATE_ACTIVE);
	add_map(&f.s, st, MAPPING_MEMBER, 0, true, true);
	dt = add_team(&f.d, "T1", "Eng");
	want(&f.d, "NEW", "a@x.com");
	add_map(&f.d, dt, MAPPING_MEMBER, 0, true, true);
	build(&f, PLAN_FULL, false);
	CHECK_BITS("NEW", CHANGED_EXTERNAL_ID, for_desired(&f.p, 0)->changed);
	CHECK_EQ("mapping changes", 0, f.p.nmappings);
	check_counts("adoption keeps mappings",
		     (struct plan_counts){ .updated = 1, .rekeyed = 1, .teams_unchanged = 1 },
		     &f.p.counts);
	fx_free(&f);
}

/* ---- idempotence ---- */

static const char IDEM_MEMBERS[] =
	"externalMemberId,email,firstName,lastName,jobTitle,imageUrl,languagePreferences,"
	"productAssignations,department,site\n"
	"E1,ann@x.com,Ann,Lee,CEO,,fr;en,Skills;LMS,Exec,Montréal\n"
	"E2,Bob@X.com,Bob,Roy,,https://i.example/2.png,en,,Sales,\n"
	"E3,chloe@x.com,Chloé,Côté,Dev,,,,,Québec\n";
static const char IDEM_TEAMS[] = "externalTeamId,teamName\nT1,Company\nT2,Sales\nT3,Dev\n";
static const char IDEM_MAPS[] =
	"externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n"
	"T1,,T2,,\nT1,,T3,,\nT1,E1,,true,true\nT2,E2,,true,false\nT3,E3,,,\nT3,E1,,false,true\n";

static void test_idempotent_second_plan(void **state)
{
	struct csv_fx c;
	struct report r2;
	struct ingest_input m = { "members.csv", NULL, IDEM_MEMBERS, sizeof(IDEM_MEMBERS) - 1 },
			    t = { "teams.csv", NULL, IDEM_TEAMS, sizeof(IDEM_TEAMS) - 1 },
			    x = { "teams-mappings.csv", NULL, IDEM_MAPS, sizeof(IDEM_MAPS) - 1 };
	struct ingest_opts opts = { NULL, 0, true };

	(void)state;
	fx_init(&c.f);
	ingest_desired(&c, IDEM_MEMBERS, IDEM_TEAMS, IDEM_MAPS);
	report_init(&r2);
	/* the stored org: the same input, properties defined in another order */
	CHECK_EQ("define site", ORG_OK, org_add_property(&c.f.s, "site", 4, NULL));
	CHECK_EQ("ingest stored", INGEST_OK, ingest_csv(&m, &t, &x, &opts, &c.f.s, &r2, NULL));
	c.f.s.members[0].state = STATE_ACTIVE;
	c.f.s.members[1].state = STATE_INVITED;
	build(&c.f, PLAN_FULL, true);
	if (!plan_is_noop(&c.f.p))
		fail_msg("plan of X against X is not a no-op");
	CHECK_EQ("mapping changes", 0, c.f.p.nmappings);
	check_counts("X vs X", (struct plan_counts){ .unchanged = 3, .teams_unchanged = 3 },
		     &c.f.p.counts);
	/* one change is one change */
	c.f.d.members[2].job_title = "Lead";
	build(&c.f, PLAN_FULL, true);
	assert_false(plan_is_noop(&c.f.p));
	report_free(&r2);
	report_free(&c.ingest_rep);
	fx_free(&c.f);
}

/* ---- risk ---- */

/* n stored active members M0..; the sync keeps the first `keep`, and re-keys `rekey` of them. */
static void risk_fixture(struct fx *f, uint32_t n, uint32_t keep, uint32_t rekey)
{
	char id[16], email[32];
	uint32_t i;

	fx_init(f);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "M%u", i);
		snprintf(email, sizeof(email), "m%u@x.com", i);
		have(&f->s, id, email, STATE_ACTIVE);
		if (i < keep) {
			if (i < rekey)
				snprintf(id, sizeof(id), "K%u", i);
			want(&f->d, id, email);
		}
	}
	build(f, PLAN_FULL, false);
}

static const struct risk_threshold NO_LIMITS = {
	.members = { -1, -1 }, .teams = { -1, -1 }, .mappings = { -1, -1 }, .managers_percent = -1,
	.id_swap_percent = -1, .identity_change_percent = -1,
};

static void check_trip(const struct risk_result *r, uint32_t k, enum risk_kind kind, double limit,
		       double actual, uint32_t affected, uint32_t base)
{
	const struct risk_trip *t;

	if (k >= r->ntrips)
		fail_msg("trip %u of %s: only %u trips", k, format_risk_kind_name(kind), r->ntrips);
	t = &r->trips[k];
	CHECK_STR("trip kind", format_risk_kind_name(kind), format_risk_kind_name(t->kind));
	CHECK_DBL("trip limit", limit, t->limit);
	CHECK_DBL("trip actual", actual, t->actual);
	CHECK_EQ("trip affected", affected, t->affected);
	CHECK_EQ("trip base", base, t->base);
}

static void test_risk_members_percent_trips(void **state)
{
	struct fx f;
	struct risk_threshold t = NO_LIMITS;
	struct risk_result r;

	(void)state;
	risk_fixture(&f, 100, 89, 0);
	t.members.percent = 10;
	plan_risk(&f.p, &f.s, &t, &r);
	CHECK_EQ("paused", true, r.paused);
	CHECK_EQ("ntrips", 1, r.ntrips);
	check_trip(&r, 0, RISK_MEMBERS_PERCENT, 10, 11.0, 11, 100);
	fx_free(&f);
}

static void test_risk_at_limit_does_not_trip(void **state)
{
	struct fx f;
	struct risk_threshold t = NO_LIMITS;
	struct risk_result r;

	(void)state;
	risk_fixture(&f, 100, 90, 5);
	t.members.percent = 10;
	t.members.count = 10;
	t.id_swap_percent = 5;
	plan_risk(&f.p, &f.s, &t, &r);
	CHECK_EQ("paused at exactly the limits", false, r.paused);
	CHECK_EQ("ntrips", 0, r.ntrips);
	fx_free(&f);
}

static void test_risk_members_count_trips(void **state)
{
	struct fx f;
	struct risk_threshold t = NO_LIMITS;
	struct risk_result r;

	(void)state;
	risk_fixture(&f, 1000, 994, 0);
	t.members.percent = 10; /* 0.6% passes */
	t.members.count = 5;
	plan_risk(&f.p, &f.s, &t, &r);
	CHECK_EQ("paused", true, r.paused);
	CHECK_EQ("ntrips", 1, r.ntrips);
	check_trip(&r, 0, RISK_MEMBERS_COUNT, 5, 6, 6, 1000);
	fx_free(&f);
}

static void test_risk_teams_trip(void **state)
{
	struct fx f;
	struct risk_threshold t = NO_LIMITS;
	struct risk_result r;
	char id[8];
	uint32_t i;

	(void)state;
	fx_init(&f);
	for (i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "T%u", i);
		add_team(&f.s, id, id);
		if (i >= 2)
			add_team(&f.d, id, id);
	}
	build(&f, PLAN_FULL, false);
	t.teams.percent = 10;
	t.teams.count = 1;
	plan_risk(&f.p, &f.s, &t, &r);
	CHECK_EQ("paused", true, r.paused);
	CHECK_EQ("ntrips", 2, r.ntrips);
	check_trip(&r, 0, RISK_TEAMS_PERCENT, 10, 20.0, 2, 10);
	check_trip(&r, 1, RISK_TEAMS_COUNT, 1, 2, 2, 10);
	fx_free(&f);
}

static void test_risk_id_swap_trips(void **state)
{
	struct fx f;
	struct risk_threshold t = NO_LIMITS;
	struct risk_result r;

	(void)state;
	risk_fixture(&f, 100, 100, 6);
	CHECK_EQ("rekeyed", 6, f.p.counts.rekeyed);
	t.id_swap_percent = 5;
	t.members.percent = 0; /* nobody removed: 0% is not above 0% */
	plan_risk(&f.p, &f.s, &t, &r);
	CHECK_EQ("paused", true, r.paused);
	CHECK_EQ("ntrips", 1, r.ntrips);
	check_trip(&r, 0, RISK_ID_SWAP_PERCENT, 5, 6.0, 6, 100);
	fx_free(&f);
}

static void test_risk_disabled_limits(void **state)
{
	struct fx f;
	struct risk_result r;

	(void)state;
	risk_fixture(&f, 100, 10, 10);
	plan_risk(&f.p, &f.s, &NO_LIMITS, &r);
	CHECK_EQ("paused with every limit off", false, r.paused);
	CHECK_EQ("ntrips", 0, r.ntrips);
	fx_free(&f);
}

static void test_risk_empty_org_never_pauses(void **state)
{
	struct fx f;
	struct risk_threshold t = { { 0, 0 }, { 0, 0 }, { 0, 0 }, 0, 0, 0 };
	struct risk_result r;

	(void)state;
	fx_init(&f);
	want(&f.d, "E1", "a@x.com");
	add_team(&f.d, "T1", "Team");
	build(&f, PLAN_FULL, true);
	plan_risk(&f.p, &f.s, &t, &r);
	CHECK_EQ("paused on a first sync", false, r.paused);
	CHECK_EQ("ntrips", 0, r.ntrips);
	fx_free(&f);
}

/* n members of one team, the first three its managers: the base of the mapping limits. */
static void team_fixture(struct org *o, uint32_t n, enum member_state state)
{
	char id[16], email[32];
	uint32_t i, team;

	team = add_team(o, "T1", "Team");
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "M%u", i);
		snprintf(email, sizeof(email), "m%u@x.com", i);
		add_member(o, id, email, state, ROLE_MEMBER);
		add_map(o, team, MAPPING_MEMBER, i, true, i < 3);
	}
}

static void test_risk_mappings_trip(void **state)
{
	struct fx f;
	struct risk_threshold t = NO_LIMITS;
	struct risk_result r;

	(void)state;
	fx_init(&f);
	team_fixture(&f.s, 10, STATE_ACTIVE);
	team_fixture(&f.d, 10, STATE_CREATED);
	f.d.nmappings = 7; /* the last three lose their team, and stay */
	f.d.mappings[0].is_manager = false; /* a manager steps down */
	build(&f, PLAN_FULL, false);
	CHECK_EQ("removed", 3, f.p.counts.mappings_removed);
	CHECK_EQ("changed", 1, f.p.counts.mappings_changed);
	t.mappings.percent = 10;
	t.mappings.count = 3;
	t.managers_percent = 10;
	plan_risk(&f.p, &f.s, &t, &r);
	CHECK_EQ("paused", true, r.paused);
	CHECK_EQ("ntrips", 3, r.ntrips);
	check_trip(&r, 0, RISK_MAPPINGS_PERCENT, 10, 40.0, 4, 10);
	check_trip(&r, 1, RISK_MAPPINGS_COUNT, 3, 4, 4, 10);
	check_trip(&r, 2, RISK_MANAGERS_PERCENT, 10, 100.0 / 3, 1, 3);
	/* the same mappings going with their members are the members limit's, not these */
	fx_free(&f);
	fx_init(&f);
	team_fixture(&f.s, 10, STATE_ACTIVE);
	team_fixture(&f.d, 7, STATE_CREATED);
	build(&f, PLAN_FULL, false);
	CHECK_EQ("deactivated", 3, f.p.counts.deactivated);
	CHECK_EQ("removed with them", 3, f.p.counts.mappings_removed);
	plan_risk(&f.p, &f.s, &t, &r);
	CHECK_EQ("paused by mappings that go with their members", false, r.paused);
	fx_free(&f);
}

/* Ids shifted by one row: each id now carries the next person's email. */
static void test_risk_identity_change_trips(void **state)
{
	struct fx f;
	struct risk_threshold t = NO_LIMITS;
	struct risk_result r;
	char id[16], email[32];
	uint32_t i;

	(void)state;
	fx_init(&f);
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "M%u", i);
		snprintf(email, sizeof(email), "m%u@x.com", i);
		have(&f.s, id, email, STATE_ACTIVE);
		snprintf(email, sizeof(email), "m%u@x.com", i + 1);
		want(&f.d, id, email);
	}
	build(&f, PLAN_FULL, false);
	CHECK_EQ("updated", 20, f.p.counts.updated);
	CHECK_EQ("identity changed", 20, f.p.counts.identity_changed);
	t.identity_change_percent = 5;
	plan_risk(&f.p, &f.s, &t, &r);
	CHECK_EQ("paused", true, r.paused);
	CHECK_EQ("ntrips", 1, r.ntrips);
	check_trip(&r, 0, RISK_IDENTITY_CHANGE_PERCENT, 5, 100.0, 20, 20);
	fx_free(&f);

	/* an email whose case alone changes is the same person */
	fx_init(&f);
	have(&f.s, "M1", "ann@x.com", STATE_ACTIVE);
	want(&f.d, "M1", "Ann@X.com");
	build(&f, PLAN_FULL, false);
	CHECK_EQ("updated", 1, f.p.counts.updated);
	CHECK_EQ("identity changed by case", 0, f.p.counts.identity_changed);
	fx_free(&f);
}

/* A header-only file in a full sync of a non-empty org pauses, whatever the limits. */
static void test_risk_empty_inputs(void **state)
{
	static const char *const header[3] = {
		"externalMemberId,email\n", "externalTeamId,teamName\n",
		"externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n"
	};
	static const enum risk_kind kinds[3] = { RISK_EMPTY_MEMBERS, RISK_EMPTY_TEAMS,
						 RISK_EMPTY_MAPPINGS };
	const char *full[3] = { "externalMemberId,email\nM0,m0@x.com\n",
				"externalTeamId,teamName\nT1,Team\n",
				("externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n"
				 "T1,M0,,true,false\n") };
	struct risk_result r;
	struct report rep;
	struct fx f;
	int k;

	(void)state;
	for (k = 0; k < 3; k++) {
		const char *in[3] = { full[0], full[1], full[2] };
		char what[64];

		in[k] = header[k];
		if (k == 1) /* no team: the mapping row would be skipped, not empty */
			in[2] = header[2];
		snprintf(what, sizeof(what), "empty %s", format_risk_kind_name(kinds[k]));
		fx_init(&f);
		report_init(&rep);
		ingest_into(&f.d, &rep, in[0], in[1], in[2]);
		team_fixture(&f.s, 10, STATE_ACTIVE);
		build(&f, PLAN_FULL, false);
		plan_risk(&f.p, &f.s, &NO_LIMITS, &r);
		CHECK_EQ(what, true, r.paused);
		check_trip(&r, 0, kinds[k], 0, 100.0, k == 0 ? 10 : k == 1 ? 1 : 10,
			   k == 0 ? 10 : k == 1 ? 1 : 10);
		/* a partial sync removes nothing: no pause */
		build(&f, PLAN_PARTIAL, false);
		plan_risk(&f.p, &f.s, &NO_LIMITS, &r);
		CHECK_EQ("partial", false, r.paused);
		report_free(&rep);
		fx_free(&f);
	}
	/* a first sync into an empty org never pauses, empty files or not */
	fx_init(&f);
	report_init(&rep);
	ingest_into(&f.d, &rep, header[0], header[1], header[2]);
	build(&f, PLAN_FULL, false);
	plan_risk(&f.p, &f.s, &NO_LIMITS, &r);
	CHECK_EQ("first sync", false, r.paused);
	report_free(&rep);
	fx_free(&f);
	/* an org built by hand (not read from input) has no row counts to judge */
	fx_init(&f);
	team_fixture(&f.s, 10, STATE_ACTIVE);
	team_fixture(&f.d, 10, STATE_CREATED);
	build(&f, PLAN_FULL, false);
	CHECK_EQ("no empty input", 0, f.p.empty_inputs);
	fx_free(&f);
}

/* ---- scale ---- */

/* Members of test_large_plan: a multiple of 100; --scale sets it and asks for the time. */
static uint32_t scale_members = 20000;
static bool scale_timed;

/*
 * N stored, N desired, 1% of each kind of change: i % 100 == 0
 * absent (deactivated, its mapping removed), 1 new job title, 2 re-keyed
 * (same mapping), 3 moved to another team (remove + add); plus N/100 new
 * members with a mapping each. The stored org is in another order.
 */
static void test_large_plan(void **state)
{
	const uint32_t N = scale_members, TEAMS = N / 100, NEW = N / 100;
	struct fx f;
	char id[16], email[32];
	uint32_t i, k;
	int64_t t0;
	double secs;

	(void)state;
	fx_init(&f);
	CHECK_EQ("reserve", ORG_OK, org_reserve(&f.s, N, TEAMS, N));
	CHECK_EQ("reserve", ORG_OK, org_reserve(&f.d, N + NEW, TEAMS, N + NEW));
	for (i = 0; i < TEAMS; i++) {
		snprintf(id, sizeof(id), "T%u", i);
		add_team(&f.s, id, id);
		add_team(&f.d, id, id);
	}
	for (k = 0; k < N; k++) {
		i = N - 1 - k; /* stored backwards */
		snprintf(id, sizeof(id), "E%06u", i);
		snprintf(email, sizeof(email), "e%06u@x.com", i);
		have(&f.s, id, email, STATE_ACTIVE);
		add_map(&f.s, i % TEAMS, MAPPING_MEMBER, k, true, false);
	}
	for (i = 0; i < N; i++) {
		uint32_t d;

		if (i % 100 == 0)
			continue;
		snprintf(id, sizeof(id), i % 100 == 2 ? "R%06u" : "E%06u", i);
		snprintf(email, sizeof(email), "e%06u@x.com", i);
		d = want(&f.d, id, email);
		if (i % 100 == 1)
			f.d.members[d].job_title = "Changed";
		add_map(&f.d, (i + (i % 100 == 3)) % TEAMS, MAPPING_MEMBER, d, true, false);
	}
	for (i = 0; i < NEW; i++) {
		snprintf(id, sizeof(id), "N%06u", i);
		snprintf(email, sizeof(email), "n%06u@x.com", i);
		add_map(&f.d, i % TEAMS, MAPPING_MEMBER, want(&f.d, id, email), true, false);
	}
	t0 = os_now_ns();
	build(&f, PLAN_FULL, false);
	secs = (double)(os_now_ns() - t0) / 1e9;
	if (scale_timed)
		printf("plan of %u desired x %u stored members: %.3f s\n", f.d.nmembers,
		       f.s.nmembers, secs);
	check_counts("large plan", (struct plan_counts){ .created = NEW, .updated = 2 * N / 100,
						   .deactivated = N / 100,
						   .unchanged = N - 3 * N / 100,
						   .rekeyed = N / 100,
						   .teams_unchanged = TEAMS,
						   .mappings_added = NEW + N / 100,
						   .mappings_removed = 2 * N / 100 },
		     &f.p.counts);
	CHECK_EQ("nmembers", f.d.nmembers + N / 100, f.p.nmembers);
	CHECK_EQ("nmappings", NEW + 3 * N / 100, f.p.nmappings);
	fx_free(&f);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest scale[] = { cmocka_unit_test(test_large_plan) };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_without_invite),
		cmocka_unit_test(test_create_with_invite),
		cmocka_unit_test(test_update_changed_bits),
		cmocka_unit_test(test_update_props_by_name),
		cmocka_unit_test(test_unsent_property_left_alone),
		cmocka_unit_test(test_present_admin_updated),
		cmocka_unit_test(test_email_adoption),
		cmocka_unit_test(test_email_adoption_reactivates),
		cmocka_unit_test(test_email_handed_over_by_a_row_moving_away),
		cmocka_unit_test(test_email_swap),
		cmocka_unit_test(test_email_refused_along_a_chain),
		cmocka_unit_test(test_email_taken_by_staying_member),
		cmocka_unit_test(test_email_free_when_holder_deleted),
		cmocka_unit_test(test_adoption_refused_for_skipped_id),
		cmocka_unit_test(test_reactivation),
		cmocka_unit_test(test_absent_active_deactivated),
		cmocka_unit_test(test_absent_created_invited_deleted),
		cmocka_unit_test(test_absent_deactivated_unchanged),
		cmocka_unit_test(test_absent_admin_unchanged),
		cmocka_unit_test(test_skipped_rows_protect),
		cmocka_unit_test(test_skipped_row_table),
		cmocka_unit_test(test_partial_removes_nothing),
		cmocka_unit_test(test_teams_create_rename_delete),
		cmocka_unit_test(test_skipped_team_protected),
		cmocka_unit_test(test_mappings_add_remove_change),
		cmocka_unit_test(test_mappings_of_new_and_deleted),
		cmocka_unit_test(test_mappings_follow_adoption),
		cmocka_unit_test(test_idempotent_second_plan),
		cmocka_unit_test(test_risk_members_percent_trips),
		cmocka_unit_test(test_risk_at_limit_does_not_trip),
		cmocka_unit_test(test_risk_members_count_trips),
		cmocka_unit_test(test_risk_teams_trip),
		cmocka_unit_test(test_risk_id_swap_trips),
		cmocka_unit_test(test_risk_disabled_limits),
		cmocka_unit_test(test_risk_empty_org_never_pauses),
		cmocka_unit_test(test_risk_mappings_trip),
		cmocka_unit_test(test_risk_identity_change_trips),
		cmocka_unit_test(test_risk_empty_inputs),
		cmocka_unit_test(test_large_plan),
	};

	if (argc == 3 && !strcmp(argv[1], "--scale")) {
		scale_members = (uint32_t)strtoul(argv[2], NULL, 10) / 100 * 100;
		scale_timed = true;
		if (!scale_members) {
			fprintf(stderr, "usage: test_plan [--scale MEMBERS (>= 100)]\n");
			return 2;
		}
		return cmocka_run_group_tests_name("plan at scale", scale, NULL, NULL);
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
