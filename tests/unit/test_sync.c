/*
 * sync engine on a database of its own (SQLite, or PostgreSQL with
 * ORGSYNC_TEST_DB: tests/unit/testdb.h), without HTTP: a first sync,
 * a resync (nothing, then one change), a risky sync that pauses and
 * changes nothing, a broken input that fails and changes nothing, a dry
 * run; who may sync (sync_admit); the settings' defaults and validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit/check.h"
#include "unit/testdb.h"
#include <jansson.h>

#include "format/parts.h"
#include "store/store.h"
#include "sync/lease.h"
#include "sync/settings.h"
#include "sync/sync.h"
#include "util/buf.h"
#include "util/os.h"

#define CHECK_OK(what, call) CHECK_EQ(what, STORE_OK, (call))

/* The worker these tests play. */
#define OWNER "test:1:worker"

struct fx {
	struct testdb db;
	struct store *s;
	int64_t org;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256], key[STORE_KEY_MAX];

	if (!f)
		return -1;
	if (testdb_create(&f->db, "test_sync")) {
		free(f);
		return -1;
	}
	if (store_open(f->db.url, &f->s, err, sizeof(err)) != STORE_OK ||
	    store_org_create(f->s, "Maple", &f->org, key) != STORE_OK) {
		fprintf(stderr, "%s: %s\n", f->db.url, err);
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

/* --- inputs ----------------------------------------------------------------- */

/* n members E1..En, the first the manager of team T1, all members of it. */
struct input {
	struct buf members, teams, mappings;
};

static void input_make(struct input *in, int n, const char *title)
{
	int i;

	memset(in, 0, sizeof(*in));
	buf_printf(&in->members, "externalMemberId,email,firstName,lastName,jobTitle\n");
	buf_printf(&in->teams, "externalTeamId,teamName\nT1,Team One\n");
	buf_printf(&in->mappings,
		   "externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n");
	for (i = 1; i <= n; i++) {
		buf_printf(&in->members, "E%d,e%d@maple.example,First%d,Last%d,%s\n", i, i, i, i,
			   i == 1 && title ? title : "Engineer");
		buf_printf(&in->mappings, "T1,E%d,,true,%s\n", i, i == 1 ? "true" : "false");
	}
}

static void input_free(struct input *in)
{
	buf_free(&in->members);
	buf_free(&in->teams);
	buf_free(&in->mappings);
}

/* Registers the input as a sync, claims it and runs it; returns its status. */
static int run(struct fx *f, struct input *in, bool dry_run, struct sync_row *row)
{
	const struct store_part parts[PARTS_CSV] = {
		{ parts_info[PART_MEMBERS].name, in->members.data, in->members.len },
		{ parts_info[PART_TEAMS].name, in->teams.data, in->teams.len },
		{ parts_info[PART_MAPPINGS].name, in->mappings.data, in->mappings.len },
	};
	int64_t sync_id = 0, claimed = 0, org_id = 0, running = 0;
	struct sync_result res;
	int status;

	CHECK_OK("begin",
		 store_sync_begin(f->s, f->org,
				  &(struct sync_meta){ SYNC_SOURCE_CLI, "full", "csv", dry_run, parts,
						       PARTS_CSV, NULL, 0 },
				  &sync_id, &running));
	CHECK_OK("claim", store_sync_claim(f->s, OWNER, os_wall_ms(), 60000, &claimed, &org_id, NULL));
	CHECK_EQ("the claimed sync", sync_id, claimed);
	status = sync_process(f->s, sync_id, f->org, OWNER, NULL, &res);
	CHECK_EQ("the result's status", status, res.status);
	CHECK_OK("read back", store_sync_get(f->s, f->org, sync_id, row));
	CHECK_EQ("the stored status", status, row->status);
	return status;
}

static long long count(const struct sync_row *row, const char *group, const char *name)
{
	json_t *doc = json_loads(row->counts_json ? row->counts_json : "null", 0, NULL);
	long long n;

	if (!doc)
		fail_msg("counts: not JSON: %s", row->counts_json ? row->counts_json : "(null)");
	n = (long long)json_integer_value(json_object_get(json_object_get(doc, group), name));
	json_decref(doc);
	return n;
}

/* How many stored members are in that state; the title of E1 in *title (a copy, may be NULL). */
static uint32_t stored(struct fx *f, int state, char **title)
{
	struct org o;
	struct store_ids ids = { NULL, NULL };
	uint32_t i, n = 0;

	org_init(&o);
	CHECK_OK("load", store_org_load(f->s, f->org, &o, &ids));
	for (i = 0; i < o.nmembers; i++) {
		n += o.members[i].state == state;
		if (title && !strcmp(o.members[i].external_id, "E1"))
			*title = strdup(o.members[i].job_title);
	}
	store_ids_free(&ids);
	org_free(&o);
	return n;
}

/* --- the pipeline ----------------------------------------------------------- */

static void test_first_sync_and_resync(void **state)
{
	struct fx *f = *state;
	struct input in;
	struct sync_row row = { 0 };
	char *title = NULL;

	input_make(&in, 5, NULL);
	CHECK_EQ("first sync", SYNC_SUCCESS, run(f, &in, false, &row));
	CHECK_STR("source", SYNC_SOURCE_CLI, row.source);
	CHECK_EQ("created", 5, count(&row, "members", "created"));
	CHECK_EQ("teams created", 1, count(&row, "teams", "created"));
	CHECK_EQ("mappings added", 5, count(&row, "mappings", "added"));
	CHECK_EQ("stored and not invited", 5, stored(f, STATE_CREATED, NULL));
	store_sync_row_free(&row);

	CHECK_EQ("the same again", SYNC_SUCCESS, run(f, &in, false, &row));
	CHECK_EQ("nothing created", 0, count(&row, "members", "created"));
	CHECK_EQ("all unchanged", 5, count(&row, "members", "unchanged"));
	store_sync_row_free(&row);
	input_free(&in);

	input_make(&in, 5, "Chief");
	CHECK_EQ("one change", SYNC_SUCCESS, run(f, &in, false, &row));
	CHECK_EQ("updated", 1, count(&row, "members", "updated"));
	stored(f, STATE_CREATED, &title);
	CHECK_STR("the new title is stored", "Chief", title);
	free(title);
	store_sync_row_free(&row);
	input_free(&in);
}

static void test_risky_sync_pauses(void **state)
{
	struct fx *f = *state;
	struct input in;
	struct sync_row row = { 0 };

	input_make(&in, 20, NULL);
	CHECK_EQ("first sync", SYNC_SUCCESS, run(f, &in, false, &row));
	store_sync_row_free(&row);
	input_free(&in);

	input_make(&in, 10, NULL); /* half of the members gone: over the 10 % default */
	CHECK_EQ("paused", SYNC_PAUSED, run(f, &in, false, &row));
	assert_non_null(row.reason);
	assert_non_null(strstr(row.reason, "risk threshold"));
	CHECK_EQ("the plan would remove", 10,
		 count(&row, "members", "deactivated") + count(&row, "members", "deleted"));
	CHECK_EQ("nothing removed", 20, stored(f, STATE_CREATED, NULL));
	store_sync_row_free(&row);
	input_free(&in);
}

static void test_broken_input_fails(void **state)
{
	struct fx *f = *state;
	struct input in;
	struct sync_row row = { 0 };
	char *title = NULL;

	input_make(&in, 3, NULL);
	CHECK_EQ("first sync", SYNC_SUCCESS, run(f, &in, false, &row));
	store_sync_row_free(&row);
	input_free(&in);

	input_make(&in, 3, "Chief");
	buf_free(&in.members); /* the email column is required */
	buf_printf(&in.members, "externalMemberId,firstName\nE1,Ann\n");
	CHECK_EQ("failed", SYNC_FAILED, run(f, &in, false, &row));
	assert_non_null(row.reason);
	assert_non_null(strstr(row.reason, "structural errors"));
	CHECK_EQ("all still there", 3, stored(f, STATE_CREATED, &title));
	CHECK_STR("unchanged", "Engineer", title);
	free(title);
	store_sync_row_free(&row);
	input_free(&in);
}

static void test_dry_run_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct input in;
	struct sync_row row = { 0 };

	input_make(&in, 4, NULL);
	CHECK_EQ("dry run", SYNC_SUCCESS, run(f, &in, true, &row));
	assert_true(row.dry_run);
	CHECK_EQ("would create", 4, count(&row, "members", "created"));
	CHECK_EQ("nothing stored", 0, stored(f, STATE_CREATED, NULL));
	store_sync_row_free(&row);
	input_free(&in);
}

static void test_admit(void **state)
{
	struct fx *f = *state;
	struct settings set;
	int64_t running = -1, sync_id = 0;
	const struct store_part part = { "json", "{}", 2 };

	CHECK_EQ("API while inactive", SYNC_EINACTIVE,
		 sync_admit(f->s, f->org, SYNC_SOURCE_API, &set, &running));
	CHECK_EQ("CLI while inactive", SYNC_OK,
		 sync_admit(f->s, f->org, SYNC_SOURCE_CLI, &set, &running));
	CHECK_EQ("none running", 0, running);
	CHECK_OK("scim", store_settings_put(f->s, f->org, "{\"provisioning\":{\"method\":\"scim\"}}"));
	CHECK_EQ("CLI while SCIM is active", SYNC_EINACTIVE,
		 sync_admit(f->s, f->org, SYNC_SOURCE_CLI, &set, &running));
	CHECK_OK("api", store_settings_put(f->s, f->org, "{\"provisioning\":{\"method\":\"api\"}}"));
	CHECK_EQ("API while active", SYNC_OK,
		 sync_admit(f->s, f->org, SYNC_SOURCE_API, &set, &running));
	CHECK_OK("pending",
		 store_sync_begin(f->s, f->org,
				  &(struct sync_meta){ SYNC_SOURCE_API, "full", "json", false, &part, 1,
						       NULL, 0 },
				  &sync_id, &running));
	CHECK_EQ("busy", SYNC_EBUSY, sync_admit(f->s, f->org, SYNC_SOURCE_CLI, &set, &running));
	CHECK_EQ("names the running sync", 1, running);
}

/* A sync registered claimed (orgsync import runs it itself) is no worker's to take. */
static void test_claimed_registration(void **state)
{
	struct fx *f = *state;
	const struct store_part part = { "json", "{}", 2 };
	int64_t sync_id = 0, running = 0, claimed = 0, org_id = 0;
	struct sync_row row = { 0 };

	CHECK_OK("begin claimed",
		 store_sync_begin(f->s, f->org,
				  &(struct sync_meta){ SYNC_SOURCE_CLI, "full", "json", false, &part, 1,
						       "import:1:x", 60000 },
				  &sync_id, &running));
	CHECK_EQ("the queue has nothing to give", STORE_ENOTFOUND,
		 store_sync_claim(f->s, OWNER, os_wall_ms(), 60000, &claimed, &org_id, NULL));
	CHECK_OK("get", store_sync_get(f->s, f->org, sync_id, &row));
	assert_true(row.started_at > 0);
	CHECK_EQ("still Pending", SYNC_PENDING, row.status);
	store_sync_row_free(&row);
}

/*
 * A worker whose lease ran out and whose sync another took over records
 * and changes nothing; the new holder applies it, once.
 */
static void test_lost_lease_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct input in;
	struct sync_result res;
	struct sync_row row = { 0 };
	int64_t id = 0, running = 0, sid = 0, oid = 0, now = os_wall_ms();

	input_make(&in, 3, NULL);
	const struct store_part p[PARTS_CSV] = {
		{ parts_info[PART_MEMBERS].name, in.members.data, in.members.len },
		{ parts_info[PART_TEAMS].name, in.teams.data, in.teams.len },
		{ parts_info[PART_MAPPINGS].name, in.mappings.data, in.mappings.len },
	};
	CHECK_OK("begin", store_sync_begin(f->s, f->org,
					   &(struct sync_meta){ SYNC_SOURCE_API, "full", "csv", false,
								p, PARTS_CSV, NULL, 0 },
					   &id, &running));
	CHECK_OK("A claims, long ago", store_sync_claim(f->s, "A", now - 60000, 1000, &sid, &oid, NULL));
	CHECK_OK("B takes it over", store_sync_claim(f->s, "B", now, 60000, &sid, &oid, NULL));
	CHECK_EQ("A records nothing", SYNC_PENDING, sync_process(f->s, id, f->org, "A", NULL, &res));
	CHECK_EQ("nothing stored", 0, stored(f, STATE_CREATED, NULL));
	CHECK_OK("get", store_sync_get(f->s, f->org, id, &row));
	CHECK_EQ("still Pending", SYNC_PENDING, row.status);
	store_sync_row_free(&row);
	CHECK_EQ("B applies it", SYNC_SUCCESS, sync_process(f->s, id, f->org, "B", NULL, &res));
	CHECK_EQ("stored once", 3, stored(f, STATE_CREATED, NULL));
	CHECK_EQ("A is too late for good", SYNC_PENDING,
		 sync_process(f->s, id, f->org, "A", NULL, &res));
	CHECK_OK("get", store_sync_get(f->s, f->org, id, &row));
	CHECK_EQ("B's Success stands", SYNC_SUCCESS, row.status);
	store_sync_row_free(&row);
	input_free(&in);
}

/*
 * A sync whose runs kept stopping their process is claimed again each time
 * its lease ends; past SYNC_MAX_ATTEMPTS claims it ends Failed unrun, so
 * that it cannot take down every service of the database in turn.
 */
static void test_interrupted_too_often_fails(void **state)
{
	struct fx *f = *state;
	struct input in;
	struct sync_row row = { 0 };
	int64_t id = 0, running = 0, sid = 0, oid = 0, now = os_wall_ms();
	int attempts = 0, i;

	input_make(&in, 3, NULL);
	const struct store_part p[PARTS_CSV] = {
		{ parts_info[PART_MEMBERS].name, in.members.data, in.members.len },
		{ parts_info[PART_TEAMS].name, in.teams.data, in.teams.len },
		{ parts_info[PART_MAPPINGS].name, in.mappings.data, in.mappings.len },
	};
	CHECK_OK("begin", store_sync_begin(f->s, f->org,
					   &(struct sync_meta){ SYNC_SOURCE_API, "full", "csv", false,
								p, PARTS_CSV, NULL, 0 },
					   &id, &running));
	for (i = 0; i < SYNC_MAX_ATTEMPTS; i++)
		CHECK_OK("a claim whose holder dies",
			 store_sync_claim(f->s, "dead", now - 60000 + i * 2000, 1000, &sid, &oid,
					  &attempts));
	CHECK_EQ("claimed as often as allowed", SYNC_MAX_ATTEMPTS, attempts);
	CHECK_OK("claimed once more", store_sync_claim(f->s, "B", now, 60000, &sid, &oid,
						       &attempts));
	CHECK_EQ("the same sync", id, sid);
	CHECK_EQ("past the limit", SYNC_MAX_ATTEMPTS + 1, attempts);
	CHECK_EQ("ends Failed", SYNC_FAILED, sync_give_up(f->s, id, "B", attempts));
	CHECK_OK("get", store_sync_get(f->s, f->org, id, &row));
	CHECK_EQ("stored Failed", SYNC_FAILED, row.status);
	assert_non_null(row.reason);
	assert_non_null(strstr(row.reason, "not run again"));
	store_sync_row_free(&row);
	CHECK_EQ("nothing applied", 0, stored(f, STATE_CREATED, NULL));
	CHECK_EQ("a late holder records nothing", SYNC_PENDING,
		 sync_give_up(f->s, id, "dead", attempts));
	input_free(&in);
}

/* --- settings ----------------------------------------------------------------- */

static void test_settings_defaults(void **state)
{
	struct fx *f = *state;
	struct settings set;
	json_t *root, *risk, *merged = NULL, *patch;
	char *json = NULL, err[160];

	CHECK_OK("defaults", settings_get(f->s, f->org, &json));
	CHECK_STR("the defaults document", settings_defaults(), json);
	root = json_loads(json, 0, NULL);
	assert_non_null(root);
	free(json);
	risk = json_object_get(root, "riskThreshold");
	CHECK_EQ("members percent", 10,
		 json_integer_value(json_object_get(json_object_get(risk, "members"), "percent")));
	assert_true(json_is_null(json_object_get(json_object_get(risk, "teams"), "count")));
	CHECK_EQ("idSwapPercent", 5, json_integer_value(json_object_get(risk, "idSwapPercent")));
	CHECK_EQ("identityChangePercent", 5,
		 json_integer_value(json_object_get(risk, "identityChangePercent")));
	CHECK_EQ("managersPercent", 10, json_integer_value(json_object_get(risk, "managersPercent")));
	CHECK_EQ("no webhooks", 0, json_array_size(json_object_get(root, "webhooks")));
	CHECK_OK("typed", settings_read(f->s, f->org, &set));
	CHECK_EQ("method", METHOD_NONE, set.method);
	CHECK_EQ("mode", PLAN_FULL, set.mode);
	assert_false(set.auto_invite);
	CHECK_EQ("teams count disabled", -1, set.risk.teams.count);

	patch = json_loads("{\"riskThreshold\":{\"members\":{\"count\":3}},\"mode\":\"partial\"}", 0,
			   NULL);
	CHECK_EQ("a valid patch", 0, settings_patch(root, patch, &merged, err, sizeof(err)));
	settings_from_json(merged, &set);
	CHECK_EQ("merged count", 3, set.risk.members.count);
	CHECK_EQ("percent kept beside it", 10, (long long)set.risk.members.percent);
	CHECK_EQ("merged mode", PLAN_PARTIAL, set.mode);
	json_decref(patch);
	json_decref(merged);
	patch = json_loads("{\"colour\":\"red\"}", 0, NULL);
	CHECK_EQ("an unknown setting", -1, settings_patch(root, patch, &merged, err, sizeof(err)));
	assert_non_null(strstr(err, "colour"));
	json_decref(patch);
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_sync_and_resync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_risky_sync_pauses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_input_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dry_run_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_admit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claimed_registration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lost_lease_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted_too_often_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settings_defaults, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
