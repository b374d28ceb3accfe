/*
 * format: every enum <-> name table reads back what it writes (and only
 * that), the one CSV quoting rule with and without the spreadsheet guard,
 * the one JSON string escaper, and a report through its JSON form and
 * back, through CSV, and through the pretty layout the tools print; the
 * payload's parts by the names the service and the command line share;
 * a plan's counts (and back), risk and changes as the API shows them, each
 * against the JSON text written out here.
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

#include "format/csv.h"
#include "format/json.h"
#include "format/names.h"
#include "format/parts.h"
#include "format/plan.h"
#include "format/report.h"

/* One table: its size, its encoder, its decoder of NUL-terminated names. */
struct table {
	const char *what;
	int count;
	const char *(*name)(int value);
	int (*parse)(const char *s);
	const char *fallback; /* what name() answers out of range */
};

static const char *lang_name(int v) { return format_lang_code((enum lang)v); }
static int lang_parse(const char *s) { return format_lang_parse(s, strlen(s)); }
static const char *product_name(int v) { return format_product_name((enum product)v); }
static int product_parse(const char *s) { return format_product_parse(s, strlen(s)); }
static const char *role_name(int v) { return format_role_name((enum role)v); }
static const char *state_name(int v) { return format_state_name((enum member_state)v); }
static const char *severity_name(int v) { return format_severity_name((enum issue_severity)v); }
static const char *code_name(int v) { return format_issue_code_name((enum issue_code)v); }

static const struct table tables[] = {
	{ "language", LANG_COUNT, lang_name, lang_parse, "" },
	{ "product", PRODUCT_COUNT, product_name, product_parse, "" },
	{ "role", ROLE_COUNT, role_name, format_role_parse, "Member" },
	{ "member state", STATE_COUNT, state_name, format_state_parse, "" },
	{ "severity", ISSUE_WARNING + 1, severity_name, format_severity_parse, "unknown" },
	{ "issue code", CODE_COUNT, code_name, format_issue_code_parse, "unknown" },
	{ "sync status", SYNC_STATUS_COUNT, format_sync_status_name, format_sync_status_parse,
	  "Unknown" },
	{ "delivery status", DELIVERY_STATUS_COUNT, format_delivery_status_name,
	  format_delivery_status_parse, "unknown" },
	{ "delivery kind", DELIVERY_KIND_COUNT, format_delivery_kind_name,
	  format_delivery_kind_parse, "unknown" },
};

static void test_names_round_trip(void **state)
{
	char what[128];
	size_t t;
	int v, w;

	(void)state;
	for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		const struct table *tb = &tables[t];

		for (v = 0; v < tb->count; v++) {
			const char *name = tb->name(v);

			snprintf(what, sizeof(what), "%s %d has a name", tb->what, v);
			if (!name || !*name)
				fail_msg("%s: got \"%s\"", what, name ? name : "(null)");
			snprintf(what, sizeof(what), "%s '%s' parses back", tb->what, name);
			CHECK_EQ(what, v, tb->parse(name));
			for (w = 0; w < v; w++)
				if (strcmp(name, tb->name(w)) == 0)
					fail_msg("%s: %d and %d are both '%s'", tb->what, w, v, name);
		}
		snprintf(what, sizeof(what), "%s out of range", tb->what);
		CHECK_STR(what, tb->fallback, tb->name(tb->count));
		CHECK_STR(what, tb->fallback, tb->name(-1));
		snprintf(what, sizeof(what), "%s: an unknown name", tb->what);
		CHECK_EQ(what, -1, tb->parse("no such name"));
		CHECK_EQ(what, -1, tb->parse(""));
	}
}

static void test_names_spellings(void **state)
{
	(void)state;
	/* Languages and products: any ASCII case, and the legacy language names. */
	CHECK_EQ("EN", LANG_EN, format_lang_parse("EN", 2));
	CHECK_EQ("Français", LANG_FR, format_lang_parse("Français", strlen("Français")));
	CHECK_EQ("deutsch", LANG_DE, format_lang_parse("deutsch", 7));
	CHECK_EQ("Deutsche", LANG_DE, format_lang_parse("Deutsche", 8));
	CHECK_EQ("a prefix is no code", -1, format_lang_parse("e", 1));
	CHECK_EQ("workleap ai", PRODUCT_WORKLEAP_AI, format_product_parse("workleap ai", 11));
	CHECK_EQ("lms in s[0..3)", PRODUCT_LMS, format_product_parse("lmsXYZ", 3));
	/* The API's names are exact. */
	CHECK_EQ("pending", -1, format_sync_status_parse("pending"));
	CHECK_EQ("NULL", -1, format_state_parse(NULL));
	CHECK_EQ("NULL code", -1, format_issue_code_parse(NULL));
	CHECK_STR("any role but Administrator", "Member", format_role_name((enum role)7));
	CHECK_STR("state list", "deactivated", format_state_names[STATE_DEACTIVATED]);
	assert_null(format_state_names[STATE_COUNT]);
}

static void check_csv(const char *s, unsigned flags, const char *want)
{
	struct buf b;
	char what[160];

	buf_init(&b);
	snprintf(what, sizeof(what), "csv field '%s' (flags %u)", s, flags);
	CHECK_EQ(what, 0, format_csv_field(&b, s, flags));
	CHECK_STR(what, want, b.data ? b.data : "");
	buf_free(&b);
}

static void test_csv_field(void **state)
{
	(void)state;
	check_csv("", 0, "");
	check_csv("plain", 0, "plain");
	check_csv("a,b", 0, "\"a,b\"");
	check_csv("say \"hi\"", 0, "\"say \"\"hi\"\"\"");
	check_csv("\"", 0, "\"\"\"\"");
	check_csv("two\nlines", 0, "\"two\nlines\"");
	check_csv("cr\r", 0, "\"cr\r\"");
	/* Data keeps its bytes: an id or a negative number reads back as it was. */
	check_csv("=1+1", 0, "=1+1");
	check_csv("-5", 0, "-5");
	/* For spreadsheets, a formula's first byte is neutralised inside quotes. */
	check_csv("=HYPERLINK(\"x\")", FORMAT_CSV_SPREADSHEET, "\"'=HYPERLINK(\"\"x\"\")\"");
	check_csv("-5", FORMAT_CSV_SPREADSHEET, "\"'-5\"");
	check_csv("+1", FORMAT_CSV_SPREADSHEET, "\"'+1\"");
	check_csv("@sum", FORMAT_CSV_SPREADSHEET, "\"'@sum\"");
	check_csv("\tx", FORMAT_CSV_SPREADSHEET, "\"'\tx\"");
	check_csv("a-b", FORMAT_CSV_SPREADSHEET, "a-b");
	check_csv("", FORMAT_CSV_SPREADSHEET, "");
}

static void test_json_string(void **state)
{
	static const char weird[] = "q\" b\\ n\n r\r t\t \x01\x1f é/";
	struct buf b;
	json_t *back;
	char *doc;

	(void)state;
	buf_init(&b);
	CHECK_EQ("escape", 0, format_json_string(&b, weird));
	CHECK_STR("escaped", "\"q\\\" b\\\\ n\\n r\\r t\\t \\u0001\\u001f é/\"", b.data);
	/* What a JSON parser reads back is the string itself. */
	assert_int_equal(asprintf(&doc, "[%s]", b.data) > 0, 1);
	back = json_loads(doc, 0, NULL);
	assert_non_null(back);
	CHECK_STR("read back", weird, json_string_value(json_array_get(back, 0)));
	json_decref(back);
	free(doc);
	buf_reset(&b);
	CHECK_EQ("empty", 0, format_json_string(&b, ""));
	CHECK_STR("empty string", "\"\"", b.data);
	buf_free(&b);
}

static void sample(struct report *r)
{
	struct issue_loc loc1 = { "members.csv", 12, 2, "email", "=E012" };
	struct issue_loc loc2 = { "teams.csv", 4, 0, NULL, "T,4" };

	report_init(r);
	r->limit = (size_t)-1;
	report_add(r, ISSUE_ERROR, CODE_INVALID_EMAIL, &loc1, "'%s' is not valid", "bob@");
	report_add(r, ISSUE_WARNING, CODE_UNKNOWN_FIELD, &loc2, "say \"x\"");
	report_add(r, ISSUE_FATAL, CODE_FILE_MISSING, NULL, "teams-mappings.csv is required");
}

static char *text_of(const struct report *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	CHECK_EQ("text", 0, format_report_text(r, out));
	fclose(out);
	return text;
}

static void test_report_json_round_trip(void **state)
{
	struct report a, b;
	struct buf unknown;
	char *ta, *tb;
	json_t *doc;
	size_t i;

	(void)state;
	sample(&a);
	doc = format_report_json(&a, (size_t)-1);
	assert_non_null(doc);
	CHECK_EQ("issues encoded", 3, json_array_size(doc));
	/* A newer service's code is printed as a line, not lost. */
	json_array_append_new(doc, json_pack("{s:s, s:s, s:s, s:i, s:s}", "severity", "error",
					     "code", "from_the_future", "file", "teams.csv",
					     "line", 7, "message", "new"));
	report_init(&b);
	b.limit = (size_t)-1;
	buf_init(&unknown);
	CHECK_EQ("decode", 0, format_report_from_json(doc, &b, &unknown));
	CHECK_EQ("issues decoded", 3, b.count);
	for (i = 0; i < 3; i++)
		CHECK_EQ("severity counts", a.by_severity[i], b.by_severity[i]);
	ta = text_of(&a);
	tb = text_of(&b);
	CHECK_STR("the same text after the round trip", ta, tb);
	CHECK_STR("unknown code", "teams.csv:7: error: new [from_the_future]\n", unknown.data);
	free(ta);
	free(tb);
	buf_free(&unknown);
	json_decref(doc);
	report_free(&a);
	report_free(&b);
}

static void test_report_csv(void **state)
{
	struct report r;
	struct buf b;

	(void)state;
	sample(&r);
	buf_init(&b);
	CHECK_EQ("csv", 0, format_report_csv(&r, &b));
	CHECK_STR("report csv",
		  "severity,code,file,line,column,field,recordId,message\n"
		  "error,invalid_email,members.csv,12,2,email,\"'=E012\",'bob@' is not valid\n"
		  "warning,unknown_field,teams.csv,4,0,,\"T,4\",\"say \"\"x\"\"\"\n"
		  "fatal,file_missing,,0,0,,,teams-mappings.csv is required\n",
		  b.data);
	buf_free(&b);
	report_free(&r);
}

static void test_json_pretty(void **state)
{
	json_t *doc = json_pack("{s:s, s:b, s:{s:i}, s:[], s:[s], s:n}", "status", "valid",
				"legacy", 0, "counts", "members", 3, "properties", "issues",
				"x", "none");
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	(void)state;
	assert_non_null(doc);
	assert_non_null(out);
	CHECK_EQ("pretty", 0, format_json_pretty(doc, out));
	fclose(out);
	CHECK_STR("yajl's layout",
		  "{\n    \"status\": \"valid\",\n    \"legacy\": false,\n"
		  "    \"counts\": {\n        \"members\": 3\n    },\n"
		  "    \"properties\": [\n\n    ],\n    \"issues\": [\n        \"x\"\n    ],\n"
		  "    \"none\": null\n}\n",
		  text);
	free(text);
	json_decref(doc);
}

static void test_parts(void **state)
{
	static const char *const names[] = { "members", "teams", "teamsMappings", "json" };
	static const char *const files[] = { "members.csv", "teams.csv", "teams-mappings.csv",
					     "payload.json" };
	int i;

	(void)state;
	CHECK_EQ("the CSV parts come first", PART_JSON, PARTS_CSV);
	for (i = 0; i < PART_COUNT; i++) {
		CHECK_STR("form field", names[i], parts_info[i].name);
		CHECK_STR("reported as", files[i], parts_info[i].file);
		CHECK_EQ(names[i], i, parts_find(names[i]));
	}
	CHECK_EQ("a file name is no part", PART_COUNT, parts_find("members.csv"));
	CHECK_EQ("names are exact", PART_COUNT, parts_find("Members"));
	CHECK_EQ("empty", PART_COUNT, parts_find(""));
}

static void test_plan_names(void **state)
{
	static const char *const members[] = { "create", "update", "reactivate", "deactivate",
					       "delete", "unchanged" };
	static const char *const teams[] = { "create", "rename", "delete", "unchanged" };
	static const char *const mappings[] = { "add", "remove", "change" };
	static const char *const kinds[RISK_COUNT] = {
		"members.percent", "members.count", "teams.percent", "teams.count",
		"mappings.percent", "mappings.count", "managersPercent", "idSwapPercent",
		"identityChangePercent", "emptyInput.members", "emptyInput.teams",
		"emptyInput.mappings",
	};
	int i;

	(void)state;
	for (i = 0; i <= MEMBER_UNCHANGED; i++)
		CHECK_STR("member action", members[i], format_member_action_name((enum member_action)i));
	for (i = 0; i <= TEAM_UNCHANGED; i++)
		CHECK_STR("team action", teams[i], format_team_action_name((enum team_action)i));
	for (i = 0; i <= MAPPING_CHANGE; i++)
		CHECK_STR("mapping action", mappings[i],
			  format_mapping_action_name((enum mapping_action)i));
	for (i = 0; i < RISK_COUNT; i++)
		CHECK_STR("risk kind", kinds[i], format_risk_kind_name((enum risk_kind)i));
	CHECK_STR("member out of range", "", format_member_action_name((enum member_action)6));
	CHECK_STR("team out of range", "", format_team_action_name((enum team_action)4));
	CHECK_STR("mapping out of range", "", format_mapping_action_name((enum mapping_action)3));
	CHECK_STR("kind out of range", "", format_risk_kind_name(RISK_COUNT));
}

static void test_counts_json(void **state)
{
	const struct plan_counts c = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
				       11, 12, 13, 14, 15, 16, 17, 18, 19 };
	struct plan_counts back;
	char *text = NULL;
	json_t *doc;

	(void)state;
	CHECK_EQ("encode", 0, format_counts_json(&c, &text));
	CHECK_STR("counts",
		  "{\"members\":{\"created\":1,\"updated\":2,\"reactivated\":3,\"deactivated\":4,"
		  "\"deleted\":5,\"unchanged\":6,\"rekeyed\":7,\"identityChanged\":8,\"kept\":9},"
		  "\"teams\":{\"created\":10,\"renamed\":11,\"deleted\":12,\"unchanged\":13,"
		  "\"kept\":14},\"mappings\":{\"added\":15,\"removed\":16,\"changed\":17,"
		  "\"kept\":18},\"invitations\":19}",
		  text);
	doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	memset(&back, 0xff, sizeof(back));
	CHECK_EQ("decode", 0, format_counts_parse(doc, &back));
	assert_memory_equal(&c, &back, sizeof(c));
	json_decref(doc);
	free(text);

	/* A count the service left out reads 0, and so does one no uint32 holds. */
	doc = json_loads("{\"members\":{\"created\":4,\"updated\":-1},\"teams\":{\"deleted\":"
			 "4294967296},\"mappings\":{\"added\":\"2\"},\"invitations\":4294967295}",
			 0, NULL);
	assert_non_null(doc);
	memset(&back, 0xff, sizeof(back));
	CHECK_EQ("out of range", 0, format_counts_parse(doc, &back));
	CHECK_EQ("created", 4, back.created);
	CHECK_EQ("negative", 0, back.updated);
	CHECK_EQ("over uint32", 0, back.teams_deleted);
	CHECK_EQ("a string", 0, back.mappings_added);
	CHECK_EQ("left out", 0, back.reactivated);
	CHECK_EQ("uint32 max", UINT32_MAX, back.invitations);
	json_decref(doc);
	doc = json_loads("{}", 0, NULL);
	CHECK_EQ("empty", 0, format_counts_parse(doc, &back));
	CHECK_EQ("empty: 0", 0, back.invitations);
	json_decref(doc);
	doc = json_null();
	CHECK_EQ("no object", -1, format_counts_parse(doc, &back));
	CHECK_EQ("no object: 0", 0, back.created);
	CHECK_EQ("NULL", -1, format_counts_parse(NULL, &back));
}

/* The text a counts line holds, through a memory stream. */
static char *counts_text(const struct plan_counts *c, int kind)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;

	assert_non_null(f);
	rc = kind < 0 ? format_counts_text(c, f)
		      : format_counts_line(c, (enum format_counts_kind)kind, f);
	CHECK_EQ("written", 0, rc);
	assert_int_equal(0, fclose(f));
	return text;
}

static void test_counts_text(void **state)
{
	const struct plan_counts c = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
				       11, 12, 13, 14, 15, 16, 17, 18, 19 };
	struct plan_counts one = c;
	char *text;

	(void)state;
	text = counts_text(&c, FORMAT_COUNTS_MEMBERS);
	CHECK_STR("members", "members: 1 created, 2 updated, 3 reactivated, 4 deactivated, "
		  "5 deleted, 6 unchanged", text);
	free(text);
	text = counts_text(&c, FORMAT_COUNTS_TEAMS);
	CHECK_STR("teams", "teams: 10 created, 11 renamed, 12 deleted, 13 unchanged", text);
	free(text);
	text = counts_text(&c, FORMAT_COUNTS_MAPPINGS);
	CHECK_STR("mappings", "mappings: 15 added, 16 removed, 17 changed", text);
	free(text);
	text = counts_text(&c, -1);
	CHECK_STR("all three", "members: 1 created, 2 updated, 3 reactivated, 4 deactivated, "
		  "5 deleted, 6 unchanged\nteams: 10 created, 11 renamed, 12 deleted, "
		  "13 unchanged\nmappings: 15 added, 16 removed, 17 changed; 19 invitations\n",
		  text);
	free(text);
	one.invitations = 1;
	text = counts_text(&one, -1);
	assert_non_null(strstr(text, "17 changed; 1 invitation\n"));
	free(text);
}

static void test_risk_json(void **state)
{
	struct risk_result r = { 0 };
	char *text = NULL, line[256];

	(void)state;
	CHECK_EQ("no trip", 0, format_risk_json(&r, &text));
	CHECK_STR("no trip", "{\"paused\":false,\"trips\":[]}", text);
	free(text);

	r.paused = true;
	r.trips[0] = (struct risk_trip){ RISK_MEMBERS_PERCENT, 10, 12.5, 25, 200 };
	r.trips[1] = (struct risk_trip){ RISK_MAPPINGS_COUNT, 40, 41, 41, 300 };
	r.trips[2] = (struct risk_trip){ RISK_EMPTY_TEAMS, 0, 0, 3, 3 };
	r.ntrips = 3;
	CHECK_EQ("trips", 0, format_risk_json(&r, &text));
	CHECK_STR("trips",
		  "{\"paused\":true,\"trips\":["
		  "{\"limit\":\"members.percent\",\"configured\":10.0,\"actual\":12.5,"
		  "\"affected\":25,\"of\":200,\"message\":\"members.percent is 12.5, over the "
		  "limit of 10.0 (25 of 200)\"},"
		  "{\"limit\":\"mappings.count\",\"configured\":40.0,\"actual\":41.0,"
		  "\"affected\":41,\"of\":300,\"message\":\"mappings.count is 41.0, over the "
		  "limit of 40.0 (41 of 300)\"},"
		  "{\"limit\":\"emptyInput.teams\",\"configured\":0.0,\"actual\":0.0,"
		  "\"affected\":3,\"of\":3,\"message\":\"the teams input holds no row, which "
		  "would remove all 3 stored teams (an export cut short?)\"}]}",
		  text);
	free(text);
	format_trip_text(&r.trips[0], line, sizeof(line));
	CHECK_STR("in words", "members.percent is 12.5, over the limit of 10.0 (25 of 200)", line);
	format_trip_text(&r.trips[2], line, 12);
	CHECK_STR("cut to the buffer", "the teams i", line);
}

/* The orgs of a plan change: values to compare, owned by the org. */
static const char *own(struct org *o, const char *s)
{
	const char *p = org_strdup(o, s, strlen(s));

	assert_non_null(p);
	return p;
}

/* A member of o with props[i] the value of o's property i (NULL: none). */
static uint32_t add_member(struct org *o, const struct member *m, const char *const *props,
			   uint32_t nprops)
{
	struct member_prop *pv = org_alloc(o, sizeof(*pv) * (nprops ? nprops : 1));
	struct member c = *m;
	uint32_t i, idx, dup;

	assert_non_null(pv);
	c.nprops = 0;
	for (i = 0; i < nprops; i++)
		if (props[i])
			pv[c.nprops++] = (struct member_prop){ i, own(o, props[i]) };
	c.props = pv;
	c.external_id = own(o, m->external_id);
	c.email = own(o, m->email);
	c.first_name = own(o, m->first_name);
	c.last_name = own(o, m->last_name);
	c.job_title = own(o, m->job_title);
	c.image_url = own(o, m->image_url);
	CHECK_EQ("member added", ORG_OK, org_add_member(o, &c, &idx, &dup));
	return idx;
}

static void add_props(struct org *o, const char *const *names, uint32_t n)
{
	uint32_t i, idx;

	for (i = 0; i < n; i++) {
		CHECK_EQ("property added", 0, org_add_property(o, names[i], strlen(names[i]), &idx));
		CHECK_EQ("property index", i, idx);
	}
}

/* mc's changes: *want, or NULL for none. */
static void check_member(const struct org *d, const struct org *s, struct member_change mc,
			 const char *what, const char *want)
{
	char *text = NULL;

	CHECK_EQ(what, 0, format_plan_member_changes(d, s, &mc, &text));
	if (want)
		CHECK_STR(what, want, text);
	else if (text)
		fail_msg("%s: changes %s", what, text);
	free(text);
}

static void test_plan_member_changes(void **state)
{
	static const char *const dnames[] = { "site", "dept", "floor", "badge" };
	static const char *const snames[] = { "dept", "site", "badge" };
	static const char *const dvals[] = { "Lyon", "R&D", "3", NULL };
	static const char *const svals[] = { "R&D", "Paris", "B7" };
	const uint16_t all = CHANGED_EXTERNAL_ID | CHANGED_EMAIL | CHANGED_FIRST_NAME |
			     CHANGED_LAST_NAME | CHANGED_JOB_TITLE | CHANGED_IMAGE_URL |
			     CHANGED_LANGS | CHANGED_PRODUCTS | CHANGED_PROPS;
	struct org d, s;
	uint32_t dm, sm, sgone;

	(void)state;
	org_init(&d);
	org_init(&s);
	add_props(&d, dnames, 4);
	add_props(&s, snames, 3);
	dm = add_member(&d,
			&(struct member){ .external_id = "E9", .email = "ann@x.org",
					  .first_name = "Anne", .last_name = "Li",
					  .job_title = "Lead \"R\"", .image_url = "https://i/a.png",
					  .langs = { LANG_FR, LANG_EN }, .nlangs = 2,
					  .products = 1u << PRODUCT_OFFICEVIBE | 1u << PRODUCT_LMS |
						      1u << PRODUCT_WORKLEAP_AI,
					  .state = STATE_ACTIVE },
			dvals, 4);
	sm = add_member(&s,
			&(struct member){ .external_id = "E1", .email = "a@x.org",
					  .first_name = "Ann", .last_name = "Lee", .job_title = "Dev",
					  .image_url = "", .langs = { LANG_EN }, .nlangs = 1,
					  .products = 1u << PRODUCT_OFFICEVIBE,
					  .state = STATE_DEACTIVATED },
			svals, 3);
	sgone = add_member(&s,
			   &(struct member){ .external_id = "E2", .email = "b@x.org",
					     .first_name = "Bo", .last_name = "", .job_title = "",
					     .image_url = "", .langs = { LANG_EN }, .nlangs = 1,
					     .products = 1u, .state = STATE_INVITED },
			   NULL, 0);

	check_member(&d, &s, (struct member_change){ dm, sm, MEMBER_UPDATE, false, all },
		     "every field, re-keyed by email",
		     "{\"externalMemberId\":{\"old\":\"E1\",\"new\":\"E9\"},"
		     "\"email\":{\"old\":\"a@x.org\",\"new\":\"ann@x.org\"},"
		     "\"firstName\":{\"old\":\"Ann\",\"new\":\"Anne\"},"
		     "\"lastName\":{\"old\":\"Lee\",\"new\":\"Li\"},"
		     "\"jobTitle\":{\"old\":\"Dev\",\"new\":\"Lead \\\"R\\\"\"},"
		     "\"imageUrl\":{\"old\":\"\",\"new\":\"https://i/a.png\"},"
		     "\"languagePreferences\":{\"old\":[\"en\"],\"new\":[\"fr\",\"en\"]},"
		     "\"productAssignations\":{\"old\":[\"Officevibe\"],"
		     "\"new\":[\"Officevibe\",\"LMS\",\"Workleap AI\"]},"
		     "\"customProperties\":{\"old\":{\"site\":\"Paris\",\"floor\":null,"
		     "\"badge\":\"B7\"},\"new\":{\"site\":\"Lyon\",\"floor\":\"3\",\"badge\":null}}}");
	check_member(&d, &s, (struct member_change){ dm, sm, MEMBER_UPDATE, false, CHANGED_EMAIL },
		     "only the fields the plan marks",
		     "{\"email\":{\"old\":\"a@x.org\",\"new\":\"ann@x.org\"}}");
	check_member(&d, &s,
		     (struct member_change){ dm, sm, MEMBER_REACTIVATE, false, CHANGED_LAST_NAME },
		     "reactivated, a field changed",
		     "{\"lastName\":{\"old\":\"Lee\",\"new\":\"Li\"},"
		     "\"state\":{\"old\":\"deactivated\",\"new\":\"active\"}}");
	check_member(&d, &s, (struct member_change){ dm, sm, MEMBER_REACTIVATE, false, 0 },
		     "reactivated as it was",
		     "{\"state\":{\"old\":\"deactivated\",\"new\":\"active\"}}");
	check_member(&d, &s,
		     (struct member_change){ PLAN_NONE, sgone, MEMBER_DEACTIVATE, false, all },
		     "deactivated: no desired fields",
		     "{\"state\":{\"old\":\"invited\",\"new\":\"deactivated\"}}");
	check_member(&d, &s, (struct member_change){ dm, PLAN_NONE, MEMBER_CREATE, true, 0 },
		     "created", NULL);
	check_member(&d, &s, (struct member_change){ PLAN_NONE, sgone, MEMBER_DELETE, false, 0 },
		     "deleted", NULL);
	check_member(&d, &s, (struct member_change){ dm, sm, MEMBER_UNCHANGED, false, 0 },
		     "unchanged", NULL);
	check_member(&d, &s, (struct member_change){ dm, sm, MEMBER_UPDATE, false, 0 },
		     "an update that marks nothing", NULL);
	org_free(&d);
	org_free(&s);
}

static void test_plan_team_mapping_changes(void **state)
{
	struct org d, s;
	uint32_t dt, st, sub, dx, sx, dy, sy, dup;
	char *text = NULL;

	(void)state;
	org_init(&d);
	org_init(&s);
	CHECK_EQ("team", 0, org_add_team(&d, &(struct team){ own(&d, "T1"), own(&d, "Sales EU"), 0 },
					 &dt, &dup));
	CHECK_EQ("team", 0, org_add_team(&s, &(struct team){ own(&s, "T1"), own(&s, "Sales"), 0 },
					 &st, &dup));
	CHECK_EQ("subteam", 0, org_add_team(&d, &(struct team){ own(&d, "T2"), own(&d, "B"), 0 },
					    &sub, &dup));
	CHECK_EQ("subteam", 0, org_add_team(&s, &(struct team){ own(&s, "T2"), own(&s, "B"), 0 },
					    &sub, &dup));

	CHECK_EQ("rename", 0, format_plan_team_changes(&d, &s,
						       &(struct team_change){ dt, st, TEAM_RENAME },
						       &text));
	CHECK_STR("rename", "{\"teamName\":{\"old\":\"Sales\",\"new\":\"Sales EU\"}}", text);
	free(text);
	CHECK_EQ("create", 0, format_plan_team_changes(&d, &s,
						       &(struct team_change){ dt, PLAN_NONE,
									      TEAM_CREATE },
						       &text));
	assert_null(text);
	CHECK_EQ("delete", 0, format_plan_team_changes(&d, &s,
						       &(struct team_change){ PLAN_NONE, st,
									      TEAM_DELETE },
						       &text));
	assert_null(text);

	CHECK_EQ("mapping", 0, org_add_mapping(&d, &(struct mapping){ dt, sub, 0, MAPPING_SUBTEAM,
								       false, true },
					       &dx));
	CHECK_EQ("mapping", 0, org_add_mapping(&s, &(struct mapping){ st, sub, 0, MAPPING_SUBTEAM,
								       true, false },
					       &sx));
	CHECK_EQ("mapping", 0, org_add_mapping(&d, &(struct mapping){ sub, dt, 0, MAPPING_SUBTEAM,
								       true, true },
					       &dy));
	CHECK_EQ("mapping", 0, org_add_mapping(&s, &(struct mapping){ sub, st, 0, MAPPING_SUBTEAM,
								       true, false },
					       &sy));
	CHECK_EQ("both flags", 0,
		 format_plan_mapping_changes(&d, &s,
					     &(struct mapping_change){ dx, sx, MAPPING_CHANGE },
					     &text));
	CHECK_STR("both flags",
		  "{\"isMember\":{\"old\":true,\"new\":false},"
		  "\"isManager\":{\"old\":false,\"new\":true}}",
		  text);
	free(text);
	CHECK_EQ("manager only", 0,
		 format_plan_mapping_changes(&d, &s,
					     &(struct mapping_change){ dy, sy, MAPPING_CHANGE },
					     &text));
	CHECK_STR("manager only", "{\"isManager\":{\"old\":false,\"new\":true}}", text);
	free(text);
	CHECK_EQ("same flags", 0,
		 format_plan_mapping_changes(&d, &d,
					     &(struct mapping_change){ dy, dy, MAPPING_CHANGE },
					     &text));
	assert_null(text);
	CHECK_EQ("add", 0,
		 format_plan_mapping_changes(&d, &s,
					     &(struct mapping_change){ dx, PLAN_NONE, MAPPING_ADD },
					     &text));
	assert_null(text);
	CHECK_EQ("remove", 0,
		 format_plan_mapping_changes(&d, &s,
					     &(struct mapping_change){ PLAN_NONE, sx, MAPPING_REMOVE },
					     &text));
	assert_null(text);
	org_free(&d);
	org_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_round_trip),
		cmocka_unit_test(test_names_spellings),
		cmocka_unit_test(test_csv_field),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_report_json_round_trip),
		cmocka_unit_test(test_report_csv),
		cmocka_unit_test(test_json_pretty),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_plan_names),
		cmocka_unit_test(test_counts_json),
		cmocka_unit_test(test_counts_text),
		cmocka_unit_test(test_risk_json),
		cmocka_unit_test(test_plan_member_changes),
		cmocka_unit_test(test_plan_team_mapping_changes),
	};

	return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
