/*
 * format: every enum <-> name table reads back what it writes (and only
 * that), the one CSV quoting rule with and without the spreadsheet guard,
 * the one JSON string escaper, and a report through its JSON form and
 * back, through CSV, and through the pretty layout the tools print; the
 * payload's parts by the names the service and the command line share.
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
	};

	return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
