/*
 * model/report: issues kept with copies of their strings, counted by
 * severity even past the limit, sorted by file (in order of first
 * appearance), line, column, stably; code names are part of the API
 * (format/names.h), as are the text and JSON forms (format/report.h).
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

#include "format/names.h"
#include "format/report.h"
#include "model/report.h"

static struct issue_loc at(const char *file, uint32_t line, uint32_t column)
{
	struct issue_loc loc = { file, line, column, NULL, NULL };

	return loc;
}

static void add_at(struct report *r, const char *file, uint32_t line, uint32_t column,
		   const char *msg)
{
	struct issue_loc loc = at(file, line, column);

	assert_int_equal(report_add(r, ISSUE_ERROR, CODE_INVALID_VALUE, &loc, "%s", msg), 0);
}

static void test_report_init(void **state)
{
	struct report r;

	(void)state;
	report_init(&r);
	CHECK_EQ("count", 0, r.count);
	CHECK_EQ("dropped", 0, r.dropped);
	CHECK_EQ("limit", REPORT_DEFAULT_LIMIT, r.limit);
	CHECK_EQ("fatal count", 0, report_count(&r, ISSUE_FATAL));
	CHECK_EQ("error count", 0, report_count(&r, ISSUE_ERROR));
	CHECK_EQ("warning count", 0, report_count(&r, ISSUE_WARNING));
	report_sort(&r); /* nothing to sort */
	report_free(&r);
}

static void test_report_add_copies(void **state)
{
	struct report r;
	char file[] = "members.csv", field[] = "email", id[] = "E012";
	struct issue_loc loc = { file, 12, 2, field, id };
	const struct issue *is;

	(void)state;
	report_init(&r);
	CHECK_EQ("add", 0,
		 report_add(&r, ISSUE_ERROR, CODE_INVALID_EMAIL, &loc,
			    "'%s' is not a valid email address (%d)", "bob@", 7));
	CHECK_EQ("count", 1, r.count);
	/* the caller's buffers may change at once */
	memset(file, 'x', sizeof(file) - 1);
	memset(field, 'x', sizeof(field) - 1);
	memset(id, 'x', sizeof(id) - 1);
	is = &r.issues[0];
	CHECK_EQ("severity", ISSUE_ERROR, is->severity);
	CHECK_EQ("code", CODE_INVALID_EMAIL, is->code);
	CHECK_EQ("line", 12, is->line);
	CHECK_EQ("column", 2, is->column);
	CHECK_STR("file copied", "members.csv", is->file);
	CHECK_STR("field copied", "email", is->field);
	CHECK_STR("record_id copied", "E012", is->record_id);
	CHECK_STR("message formatted", "'bob@' is not a valid email address (7)", is->message);
	report_free(&r);
}

/* No location, or a location with NULL strings: "" and 0, never NULL. */
static void test_report_add_without_location(void **state)
{
	struct report r;
	struct issue_loc loc = { NULL, 3, 0, NULL, NULL };

	(void)state;
	report_init(&r);
	CHECK_EQ("add with NULL loc", 0,
		 report_add(&r, ISSUE_FATAL, CODE_FILE_MISSING, NULL, "teams.csv is required"));
	CHECK_EQ("add with NULL strings", 0,
		 report_add(&r, ISSUE_WARNING, CODE_UNKNOWN_FIELD, &loc, "x"));
	CHECK_STR("file of NULL loc", "", r.issues[0].file);
	CHECK_STR("field of NULL loc", "", r.issues[0].field);
	CHECK_STR("record_id of NULL loc", "", r.issues[0].record_id);
	CHECK_EQ("line of NULL loc", 0, r.issues[0].line);
	CHECK_EQ("column of NULL loc", 0, r.issues[0].column);
	CHECK_STR("file of NULL file", "", r.issues[1].file);
	CHECK_STR("field of NULL field", "", r.issues[1].field);
	CHECK_STR("record_id of NULL record_id", "", r.issues[1].record_id);
	CHECK_EQ("line kept", 3, r.issues[1].line);
	report_free(&r);
}

/* A message longer than any fixed buffer is kept from its start. */
static void test_report_long_message(void **state)
{
	struct report r;
	char *longval = malloc(5001);
	size_t n;

	(void)state;
	assert_non_null(longval);
	memset(longval, 'v', 5000);
	longval[5000] = '\0';
	report_init(&r);
	CHECK_EQ("add long", 0,
		 report_add(&r, ISSUE_ERROR, CODE_INVALID_VALUE, NULL, "value %s is too long",
			    longval));
	n = strlen(r.issues[0].message);
	if (n < 100 || strncmp(r.issues[0].message, "value vvvv", 10) != 0)
		fail_msg("long message: expected a prefix of \"value vvv...\", got %zu bytes \"%.20s\"",
			 n, r.issues[0].message);
	report_free(&r);
	free(longval);
}

static void test_report_counts(void **state)
{
	static const enum issue_severity sevs[] = {
		ISSUE_FATAL, ISSUE_ERROR, ISSUE_WARNING, ISSUE_ERROR, ISSUE_ERROR, ISSUE_WARNING,
	};
	struct report r;
	size_t i;

	(void)state;
	report_init(&r);
	for (i = 0; i < 6; i++)
		assert_int_equal(report_add(&r, sevs[i], CODE_INVALID_VALUE, NULL, "n=%zu", i), 0);
	CHECK_EQ("count", 6, r.count);
	CHECK_EQ("fatal", 1, report_count(&r, ISSUE_FATAL));
	CHECK_EQ("error", 3, report_count(&r, ISSUE_ERROR));
	CHECK_EQ("warning", 2, report_count(&r, ISSUE_WARNING));
	CHECK_EQ("dropped", 0, r.dropped);
	for (i = 0; i < 6; i++) {
		char want[16], what[32];

		snprintf(want, sizeof(want), "n=%zu", i);
		snprintf(what, sizeof(what), "message of issue %zu", i);
		CHECK_STR(what, want, r.issues[i].message);
		snprintf(what, sizeof(what), "severity of issue %zu", i);
		CHECK_EQ(what, sevs[i], r.issues[i].severity);
	}
	report_free(&r);
	CHECK_EQ("count after free", 0, r.count);
	CHECK_EQ("errors after free", 0, report_count(&r, ISSUE_ERROR));
	CHECK_EQ("add after free", 0, report_add(&r, ISSUE_WARNING, CODE_UNKNOWN_PROPERTY, NULL, "w"));
	CHECK_EQ("warnings after reuse", 1, report_count(&r, ISSUE_WARNING));
	report_free(&r);
}

/* Past the limit issues are counted, not kept: the first ones stay. */
static void test_report_limit(void **state)
{
	struct report r;
	size_t i;

	(void)state;
	report_init(&r);
	r.limit = 3;
	for (i = 0; i < 5; i++)
		CHECK_EQ("add past limit returns 0", 0,
			 report_add(&r, i < 4 ? ISSUE_ERROR : ISSUE_WARNING, CODE_INVALID_VALUE, NULL,
				    "n=%zu", i));
	CHECK_EQ("kept", 3, r.count);
	CHECK_EQ("dropped", 2, r.dropped);
	CHECK_EQ("errors counted kept or not", 4, report_count(&r, ISSUE_ERROR));
	CHECK_EQ("warnings counted kept or not", 1, report_count(&r, ISSUE_WARNING));
	CHECK_STR("first kept", "n=0", r.issues[0].message);
	CHECK_STR("last kept", "n=2", r.issues[2].message);
	report_free(&r);

	report_init(&r);
	r.limit = 0;
	CHECK_EQ("add with limit 0", 0, report_add(&r, ISSUE_FATAL, CODE_JSON_SYNTAX, NULL, "x"));
	CHECK_EQ("kept with limit 0", 0, r.count);
	CHECK_EQ("dropped with limit 0", 1, r.dropped);
	CHECK_EQ("fatal with limit 0", 1, report_count(&r, ISSUE_FATAL));
	report_free(&r);
}

static void test_report_default_limit(void **state)
{
	struct report r;
	size_t i;

	(void)state;
	report_init(&r);
	for (i = 0; i < (size_t)REPORT_DEFAULT_LIMIT + 5; i++)
		if (report_add(&r, ISSUE_ERROR, CODE_UNKNOWN_MEMBER, NULL, "%zu", i) != 0)
			fail_msg("add %zu failed", i);
	CHECK_EQ("kept at default limit", REPORT_DEFAULT_LIMIT, r.count);
	CHECK_EQ("dropped past default limit", 5, r.dropped);
	CHECK_EQ("errors", REPORT_DEFAULT_LIMIT + 5, report_count(&r, ISSUE_ERROR));
	CHECK_STR("last kept", "99999", r.issues[r.count - 1].message);
	report_free(&r);
}

struct where {
	const char *file;
	uint32_t line, column;
	const char *msg;
};

static void check_order(const struct report *r, const struct where *want, size_t n)
{
	size_t i;

	CHECK_EQ("issues after sort", n, r->count);
	for (i = 0; i < n; i++) {
		const struct issue *is = &r->issues[i];

		if (strcmp(is->file, want[i].file) != 0 || is->line != want[i].line ||
		    is->column != want[i].column || strcmp(is->message, want[i].msg) != 0)
			fail_msg("sorted issue %zu: expected %s:%u:%u \"%s\", got %s:%u:%u \"%s\"", i,
				 want[i].file, want[i].line, want[i].column, want[i].msg, is->file,
				 is->line, is->column, is->message);
	}
}

/*
 * Files rank by first appearance (not by name: teams.csv comes first here
 * because its issue came first), then line, then column; ties keep the
 * order they were added in.
 */
static void test_report_sort(void **state)
{
	static const struct where added[] = {
		{ "teams.csv", 5, 0, "a" },
		{ "members.csv", 9, 2, "b" },
		{ "members.csv", 2, 7, "c" },
		{ "teams.csv", 1, 0, "d" },
		{ "members.csv", 9, 1, "e" },
		{ "teams-mappings.csv", 3, 1, "f" },
		{ "members.csv", 9, 2, "g" },
		{ "", 0, 0, "h" },
		{ "members.csv", 0, 0, "i" },
		{ "teams-mappings.csv", 2, 9, "j" },
		{ "members.csv", 9, 2, "k" },
	};
	static const struct where sorted[] = {
		{ "teams.csv", 1, 0, "d" },
		{ "teams.csv", 5, 0, "a" },
		{ "members.csv", 0, 0, "i" },
		{ "members.csv", 2, 7, "c" },
		{ "members.csv", 9, 1, "e" },
		{ "members.csv", 9, 2, "b" },
		{ "members.csv", 9, 2, "g" },
		{ "members.csv", 9, 2, "k" },
		{ "teams-mappings.csv", 2, 9, "j" },
		{ "teams-mappings.csv", 3, 1, "f" },
		{ "", 0, 0, "h" },
	};
	struct report r;
	size_t i;

	(void)state;
	report_init(&r);
	for (i = 0; i < sizeof(added) / sizeof(added[0]); i++)
		add_at(&r, added[i].file, added[i].line, added[i].column, added[i].msg);
	report_sort(&r);
	check_order(&r, sorted, sizeof(sorted) / sizeof(sorted[0]));
	report_sort(&r); /* sorting a sorted report changes nothing */
	check_order(&r, sorted, sizeof(sorted) / sizeof(sorted[0]));
	report_free(&r);
}

/* Many equal keys: qsort alone is not stable, the order must still hold. */
static void test_report_sort_stable(void **state)
{
	enum { N = 500 };
	struct report r;
	char msg[16];
	size_t i;

	(void)state;
	report_init(&r);
	for (i = 0; i < N; i++) {
		snprintf(msg, sizeof(msg), "%zu", i);
		add_at(&r, i % 2 ? "teams.csv" : "members.csv", 4, 1, msg);
	}
	report_sort(&r);
	for (i = 0; i < N; i++) {
		size_t want = i < N / 2 ? 2 * i : 2 * (i - N / 2) + 1;

		snprintf(msg, sizeof(msg), "%zu", want);
		if (strcmp(r.issues[i].message, msg) != 0)
			fail_msg("stable sort, position %zu: expected issue %s, got %s", i, msg,
				 r.issues[i].message);
	}
	report_free(&r);
}

/* Only kept issues are sorted; the limit does not change. */
static void test_report_sort_after_limit(void **state)
{
	static const struct where sorted[] = {
		{ "members.csv", 1, 0, "second" },
		{ "members.csv", 8, 0, "first" },
	};
	struct report r;

	(void)state;
	report_init(&r);
	r.limit = 2;
	add_at(&r, "members.csv", 8, 0, "first");
	add_at(&r, "members.csv", 1, 0, "second");
	add_at(&r, "members.csv", 0, 0, "dropped");
	report_sort(&r);
	check_order(&r, sorted, 2);
	CHECK_EQ("dropped", 1, r.dropped);
	report_free(&r);
}

/* However many files, the issues of one file end up together. */
static void test_report_sort_many_files(void **state)
{
	enum { FILES = 20 };
	struct report r;
	char file[32], msg[32];
	size_t i, f;

	(void)state;
	report_init(&r);
	for (f = 0; f < FILES; f++) {
		snprintf(file, sizeof(file), "part%02zu.csv", f);
		add_at(&r, file, 2, 0, "late");
	}
	for (f = 0; f < FILES; f++) {
		snprintf(file, sizeof(file), "part%02zu.csv", f);
		add_at(&r, file, 1, 0, "early");
	}
	report_sort(&r);
	for (i = 0; i < 2 * FILES; i++) {
		const struct issue *is = &r.issues[i];

		snprintf(file, sizeof(file), "part%02zu.csv", i / 2);
		snprintf(msg, sizeof(msg), "%s", i % 2 ? "late" : "early");
		if (strcmp(is->file, file) != 0 || strcmp(is->message, msg) != 0)
			fail_msg("%d files, sorted issue %zu: expected %s \"%s\", got %s:%u \"%s\"",
				 FILES, i, file, msg, is->file, is->line, is->message);
	}
	report_free(&r);
}

static void test_report_names(void **state)
{
	static const struct {
		enum issue_code code;
		const char *name;
	} spots[] = {
		{ CODE_FILE_MISSING, "file_missing" },
		{ CODE_INVALID_UTF8, "invalid_utf8" },
		{ CODE_CSV_QUOTING, "csv_quoting" },
		{ CODE_MISSING_COLUMN, "missing_column" },
		{ CODE_LEGACY_SETTINGS, "legacy_settings" },
		{ CODE_INVALID_EMAIL, "invalid_email" },
		{ CODE_DUPLICATE_MEMBER_ID, "duplicate_member_id" },
		{ CODE_DUPLICATE_EMAIL, "duplicate_email" },
		{ CODE_UNKNOWN_LANGUAGE, "unknown_language" },
		{ CODE_UNKNOWN_PRODUCT, "unknown_product" },
		{ CODE_MAPPING_GRANTS_NOTHING, "mapping_grants_nothing" },
		{ CODE_TEAM_CYCLE, "team_cycle" },
		{ CODE_UNKNOWN_PROPERTY, "unknown_property" },
		{ CODE_DUPLICATE_MAPPING, "duplicate_mapping" },
	};
	char what[64];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		snprintf(what, sizeof(what), "format_issue_code_name(%d)", (int)spots[i].code);
		CHECK_STR(what, spots[i].name, format_issue_code_name(spots[i].code));
	}
	/* every code has its own lower_snake_case name */
	for (i = 0; i < CODE_COUNT; i++) {
		const char *name = format_issue_code_name((enum issue_code)i);

		if (!name || !*name || strcmp(name, "unknown") == 0)
			fail_msg("code %zu has no name", i);
		if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(name))
			fail_msg("code %zu name \"%s\" is not lower_snake_case", i, name);
		for (j = 0; j < i; j++)
			if (strcmp(name, format_issue_code_name((enum issue_code)j)) == 0)
				fail_msg("codes %zu and %zu share the name \"%s\"", j, i, name);
	}
	CHECK_STR("format_issue_code_name(CODE_COUNT)", "unknown", format_issue_code_name(CODE_COUNT));
	CHECK_STR("severity fatal", "fatal", format_severity_name(ISSUE_FATAL));
	CHECK_STR("severity error", "error", format_severity_name(ISSUE_ERROR));
	CHECK_STR("severity warning", "warning", format_severity_name(ISSUE_WARNING));
	CHECK_STR("severity out of range", "unknown", format_severity_name((enum issue_severity)3));
}

static const char *strndup_or_fail(const char *s, size_t n, char **out)
{
	*out = strndup(s, n);
	assert_non_null(*out);
	return *out;
}

static void test_report_print_text(void **state)
{
	struct report r;
	struct issue_loc loc1 = { "members.csv", 12, 2, "email", "E012" };
	struct issue_loc loc2 = { "teams.csv", 4, 0, NULL, "T4" };
	struct issue_loc loc3 = { "members.csv", 1, 9, "badge", NULL };
	char *text = NULL, *head = NULL;
	const char *nl;
	size_t len = 0;
	FILE *out;

	(void)state;
	report_init(&r);
	r.limit = 4;
	report_add(&r, ISSUE_ERROR, CODE_INVALID_EMAIL, &loc1, "'%s' is not a valid email address",
		   "bob@");
	report_add(&r, ISSUE_ERROR, CODE_EMPTY_NAME, &loc2, "teamName is empty");
	report_add(&r, ISSUE_WARNING, CODE_UNKNOWN_PROPERTY, &loc3, "badge is not defined");
	report_add(&r, ISSUE_FATAL, CODE_FILE_MISSING, NULL, "teams-mappings.csv is required");
	report_add(&r, ISSUE_ERROR, CODE_EMPTY_NAME, &loc2, "over the limit");
	report_add(&r, ISSUE_ERROR, CODE_EMPTY_NAME, &loc2, "over the limit");
	out = open_memstream(&text, &len);
	assert_non_null(out);
	CHECK_EQ("format_report_text", 0, format_report_text(&r, out));
	fclose(out);
	/* file:line:column when known; an issue tied to no file is not pinned here */
	nl = strstr(text, "fatal: ");
	assert_non_null(nl);
	while (nl > text && nl[-1] != '\n')
		nl--;
	CHECK_STR("text report, located issues",
		  "members.csv:12:2: error: 'bob@' is not a valid email address [invalid_email]"
		  " (record E012, field email)\n"
		  "teams.csv:4: error: teamName is empty [empty_name] (record T4)\n"
		  "members.csv:1:9: warning: badge is not defined [unknown_property] (field badge)\n",
		  strndup_or_fail(text, (size_t)(nl - text), &head));
	free(head);
	if (!strstr(nl, "fatal: teams-mappings.csv is required [file_missing]\n"
			"... and 2 more issues not listed\n"))
		fail_msg("text report tail: got \"%s\"", nl);
	free(text);
	report_free(&r);
}

static void test_report_gen_json(void **state)
{
	struct report r;
	struct issue_loc loc = { "members.csv", 3, 2, "email", "E\"1" };
	json_t *a;
	char *json;

	(void)state;
	report_init(&r);
	report_add(&r, ISSUE_ERROR, CODE_DUPLICATE_EMAIL, &loc, "taken by %s", "E001");
	report_add(&r, ISSUE_WARNING, CODE_UNKNOWN_FIELD, NULL, "x");
	a = format_report_json(&r, (size_t)-1);
	assert_non_null(a);
	json = json_dumps(a, JSON_COMPACT);
	assert_non_null(json);
	CHECK_STR("json report",
		  "[{\"severity\":\"error\",\"code\":\"duplicate_email\",\"file\":\"members.csv\","
		  "\"line\":3,\"column\":2,\"field\":\"email\",\"recordId\":\"E\\\"1\","
		  "\"message\":\"taken by E001\"},"
		  "{\"severity\":\"warning\",\"code\":\"unknown_field\",\"file\":\"\","
		  "\"line\":0,\"column\":0,\"field\":\"\",\"recordId\":\"\",\"message\":\"x\"}]",
		  json);
	free(json);
	json_decref(a);
	report_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_report_init),
		cmocka_unit_test(test_report_add_copies),
		cmocka_unit_test(test_report_add_without_location),
		cmocka_unit_test(test_report_long_message),
		cmocka_unit_test(test_report_counts),
		cmocka_unit_test(test_report_limit),
		cmocka_unit_test(test_report_default_limit),
		cmocka_unit_test(test_report_sort),
		cmocka_unit_test(test_report_sort_stable),
		cmocka_unit_test(test_report_sort_after_limit),
		cmocka_unit_test(test_report_sort_many_files),
		cmocka_unit_test(test_report_names),
		cmocka_unit_test(test_report_print_text),
		cmocka_unit_test(test_report_gen_json),
	};

	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
