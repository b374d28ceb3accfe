/*
 * JSON payload ingest: the current and legacy payloads, every structural
 * error, record errors with their line and column, chunked feeding (a byte
 * at a time must give exactly what the whole buffer gives), and Nicolas
 * Seriot's JSONTestSuite for the parser's verdicts.
 * Data: $ORGSYNC_TESTDATA/json (default tests/data), $SHARED/testdata
 * (default ../shared).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "format/names.h"
#include "format/report.h"
#include "ingest/ingest.h"

#define EMPTY_SECTIONS "\"teams\": [], \"teamMappings\": []"

struct fx {
	struct org org;
	struct report rep;
	struct ingest_info info;
	int rc;
};

static const char *data_dir(void)
{
	const char *d = getenv("ORGSYNC_TESTDATA");

	return d && *d ? d : "tests/data";
}

/* Reads a whole file; the caller frees. NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		data = malloc((size_t)n + 1);
		if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
			free(data);
			data = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return data;
}

static char *data_path(const char *name)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/json/%s", data_dir(), name);
	return path;
}

static void run_mem(struct fx *f, const char *data, size_t len, const struct ingest_opts *opts)
{
	const struct ingest_opts any = { NULL, 0, true };
	struct ingest_input in = { "payload.json", NULL, data, len };

	org_init(&f->org);
	report_init(&f->rep);
	memset(&f->info, 0, sizeof(f->info));
	f->rc = ingest_json(&in, opts ? opts : &any, &f->org, &f->rep, &f->info);
}

static void run_str(struct fx *f, const char *s)
{
	run_mem(f, s, strlen(s), NULL);
}

/* A data file, read by path (the 64 KiB fread path). */
static void run_file(struct fx *f, const char *name)
{
	const struct ingest_opts any = { NULL, 0, true };
	struct ingest_input in = { name, data_path(name), NULL, 0 };

	if (access(in.path, R_OK) != 0)
		fail_msg("test data %s is missing (set ORGSYNC_TESTDATA)", in.path);
	org_init(&f->org);
	report_init(&f->rep);
	memset(&f->info, 0, sizeof(f->info));
	f->rc = ingest_json(&in, &any, &f->org, &f->rep, &f->info);
}

static void done(struct fx *f)
{
	org_free(&f->org);
	report_free(&f->rep);
}

static void dump(const struct fx *f)
{
	print_message("the report has %zu issues:\n", f->rep.count);
	format_report_text(&f->rep, stdout);
}

static void expect_rc(const struct fx *f, const char *what, int expected)
{
	if (f->rc != expected) {
		dump(f);
		fail_msg("%s: expected status %d, got %d", what, expected, f->rc);
	}
}

/* The n-th issue with code, or a failure naming what was there. */
static const struct issue *find(const struct fx *f, enum issue_code code, int nth)
{
	int want = nth;
	size_t i;

	for (i = 0; i < f->rep.count; i++)
		if (f->rep.issues[i].code == code && nth-- == 0)
			return &f->rep.issues[i];
	dump(f);
	fail_msg("expected issue %s #%d, not in the report", format_issue_code_name(code), want);
	return NULL;
}

static size_t count_code(const struct fx *f, enum issue_code code)
{
	size_t i, n = 0;

	for (i = 0; i < f->rep.count; i++)
		n += f->rep.issues[i].code == code;
	return n;
}

static void expect_count(const struct fx *f, enum issue_code code, size_t expected)
{
	size_t got = count_code(f, code);

	if (got != expected) {
		dump(f);
		fail_msg("expected %zu %s issues, got %zu", expected, format_issue_code_name(code), got);
	}
}

static void expect_issue(const struct fx *f, const struct issue *is, enum issue_severity sev,
			 uint32_t line, uint32_t col, const char *field)
{
	if (is->severity != sev || is->line != line || is->column != col ||
	    strcmp(is->field, field) != 0) {
		dump(f);
		fail_msg("%s: expected %s at %u:%u field '%s', got %s at %u:%u field '%s'",
			 format_issue_code_name(is->code), format_severity_name(sev), line, col, field,
			 format_severity_name(is->severity), is->line, is->column, is->field);
	}
}

static void expect_in_message(const struct issue *is, const char *needle)
{
	if (!strstr(is->message, needle))
		fail_msg("%s: expected the message to mention \"%s\", got \"%s\"",
			 format_issue_code_name(is->code), needle, is->message);
}

static const struct member *member(const struct fx *f, const char *id)
{
	uint32_t i;

	if (!org_find_member(&f->org, id, strlen(id), &i)) {
		dump(f);
		fail_msg("expected member '%s' in the org (%u members)", id, f->org.nmembers);
	}
	return &f->org.members[i];
}

static uint32_t team(const struct fx *f, const char *id)
{
	uint32_t i;

	if (!org_find_team(&f->org, id, strlen(id), &i)) {
		dump(f);
		fail_msg("expected team '%s' in the org (%u teams)", id, f->org.nteams);
	}
	return i;
}

/* The mapping (team, kind, child), or a failure. */
static const struct mapping *mapping(const struct fx *f, uint32_t t, int kind, uint32_t child)
{
	uint32_t i;

	for (i = 0; i < f->org.nmappings; i++) {
		const struct mapping *m = &f->org.mappings[i];

		if (m->team == t && m->kind == kind && m->child == child)
			return m;
	}
	dump(f);
	fail_msg("expected a %s mapping of team #%u to #%u", kind == MAPPING_MEMBER ? "member" : "subteam",
		 t, child);
	return NULL;
}

static const char *prop(const struct fx *f, const struct member *m, const char *name)
{
	uint32_t idx;

	if (!org_find_property(&f->org, name, strlen(name), &idx))
		fail_msg("expected property '%s' to be defined", name);
	return org_member_prop(m, idx);
}

/* The languages of m as "en,fr". */
static const char *langs(const struct member *m)
{
	static char out[64];
	size_t i;

	out[0] = '\0';
	for (i = 0; i < m->nlangs; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, format_lang_code((enum lang)m->langs[i]));
	}
	return out;
}

#define expect_str(what, expected, actual) do { \
	const char *e_ = (expected), *a_ = (actual); \
	if (!a_ || strcmp(e_, a_) != 0) \
		fail_msg("%s: expected '%s', got '%s'", what, e_, a_ ? a_ : "(null)"); \
} while (0)

#define expect_uint(what, expected, actual) do { \
	unsigned long e_ = (unsigned long)(expected), a_ = (unsigned long)(actual); \
	if (e_ != a_) \
		fail_msg("%s: expected %lu, got %lu", what, e_, a_); \
} while (0)

/* ---- current payload */

static void test_current_payload(void **state)
{
	struct fx f;
	const struct member *m;
	uint32_t t1, t2;

	(void)state;
	run_file(&f, "current_full.json");
	expect_rc(&f, "current_full.json", INGEST_OK);
	if (f.rep.count) {
		dump(&f);
		fail_msg("current_full.json: expected no issues, got %zu", f.rep.count);
	}
	expect_uint("members", 3, f.org.nmembers);
	expect_uint("teams", 3, f.org.nteams);
	expect_uint("mappings", 4, f.org.nmappings);
	assert_true(f.info.json);
	assert_false(f.info.legacy);

	m = member(&f, "E001");
	expect_str("E001 email", "ada@example.com", m->email);
	expect_str("E001 firstName", "Ada", m->first_name);
	expect_str("E001 lastName", "Lovelace", m->last_name);
	expect_str("E001 jobTitle", "Engineer", m->job_title);
	expect_str("E001 imageUrl", "https://img.example.com/ada.png", m->image_url);
	expect_str("E001 languages in order", "fr,en", langs(m));
	expect_uint("E001 products", (1u << PRODUCT_SKILLS) | (1u << PRODUCT_WORKLEAP_AI), m->products);
	expect_str("E001 department", "R&D", prop(&f, m, "department"));
	expect_str("E001 office (\\u escape)", "Montr\xC3\xA9" "al", prop(&f, m, "office"));
	expect_uint("E001 line", 3, m->line);

	m = member(&f, "1002");
	expect_str("1002 languages from a ';' string", "es,pt", langs(m));
	expect_uint("1002 products", 1u << PRODUCT_LMS, m->products);
	expect_str("1002 jobTitle null is absent", "", m->job_title);
	expect_str("1002 department", "Ops", prop(&f, m, "department"));
	assert_null(prop(&f, m, "office"));

	m = member(&f, "E003");
	expect_uint("E003 empty products means Officevibe", 1u << PRODUCT_OFFICEVIBE, m->products);
	expect_uint("E003 languages", 0, m->nlangs);

	t1 = team(&f, "T1");
	t2 = team(&f, "T2");
	expect_str("T1 name", "Engineering", f.org.teams[t1].name);
	expect_str("300 name (numeric id)", "Ops", f.org.teams[team(&f, "300")].name);
	{
		uint32_t e001 = 0, e003 = 0;
		const struct mapping *x;

		assert_true(org_find_member(&f.org, "E001", 4, &e001));
		assert_true(org_find_member(&f.org, "E003", 4, &e003));
		x = mapping(&f, t1, MAPPING_MEMBER, e001);
		assert_true(x->is_member);
		assert_true(x->is_manager);
		expect_uint("E001 mapping line", 37, x->line);
		x = mapping(&f, team(&f, "300"), MAPPING_MEMBER, e003);
		assert_true(x->is_member);
		assert_false(x->is_manager);
		mapping(&f, t1, MAPPING_SUBTEAM, t2);
	}
	done(&f);
}

static void test_numeric_ids_are_text(void **state)
{
	struct fx f;

	(void)state;
	run_str(&f, "{\"members\": [{\"externalMemberId\": 42, \"email\": \"a@example.com\"},"
		    " {\"externalMemberId\": -1.5e3, \"email\": \"b@example.com\", \"level\": 3}],"
		    " \"teams\": [{\"externalTeamId\": 7, \"teamName\": 2024}],"
		    " \"teamMappings\": [{\"externalTeamId\": 7, \"externalMemberId\": 42,"
		    " \"isMember\": 1, \"isManager\": 0}]}");
	expect_rc(&f, "numeric ids", INGEST_OK);
	expect_uint("issues", 0, f.rep.count);
	member(&f, "42");
	expect_str("number kept as written", "3", prop(&f, member(&f, "-1.5e3"), "level"));
	expect_str("numeric team name", "2024", f.org.teams[team(&f, "7")].name);
	expect_uint("mappings", 1, f.org.nmappings);
	assert_true(f.org.mappings[0].is_member);
	assert_false(f.org.mappings[0].is_manager);
	done(&f);
}

static void test_defined_properties_only(void **state)
{
	static const char *const props[] = { "department", "remote" };
	const struct ingest_opts opts = { props, 2, false };
	static const char payload[] =
		"{\"members\": [\n"
		" {\"externalMemberId\": \"E1\", \"email\": \"a@example.com\", \"department\": \"R&D\","
		" \"remote\": true, \"shoeSize\": 42},\n"
		" {\"externalMemberId\": \"E2\", \"email\": \"b@example.com\", \"shoeSize\": 43,"
		" \"remote\": false}\n"
		"], " EMPTY_SECTIONS "}";
	struct fx f;
	const struct issue *is;

	(void)state;
	run_mem(&f, payload, sizeof(payload) - 1, &opts);
	expect_rc(&f, "defined properties", INGEST_OK);
	expect_count(&f, CODE_UNKNOWN_PROPERTY, 1);
	is = find(&f, CODE_UNKNOWN_PROPERTY, 0);
	expect_issue(&f, is, ISSUE_WARNING, 2, 92, "shoeSize");
	expect_str("department", "R&D", prop(&f, member(&f, "E1"), "department"));
	expect_str("boolean property kept as text", "true", prop(&f, member(&f, "E1"), "remote"));
	expect_str("boolean property kept as text", "false", prop(&f, member(&f, "E2"), "remote"));
	done(&f);
}

/* ---- legacy payload */

static void test_legacy_payload(void **state)
{
	static const struct {
		const char *id, *langs;
	} want[] = {
		{ "u-en", "en" }, { "u-fr", "fr" }, { "u-es", "es" }, { "u-pt", "pt" },
		{ "u-de", "de" }, { "u-two", "de,en" },
	};
	struct fx f;
	uint32_t sales, emea, en = 0, fr = 0;
	const struct mapping *x;
	size_t i;

	(void)state;
	run_file(&f, "legacy_languages.json");
	expect_rc(&f, "legacy_languages.json", INGEST_OK);
	if (f.rep.count) {
		dump(&f);
		fail_msg("legacy_languages.json: expected no issues, got %zu", f.rep.count);
	}
	assert_true(f.info.legacy);
	assert_true(f.info.json);
	expect_uint("users", 7, f.org.nmembers);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char what[64];

		snprintf(what, sizeof(what), "languages of %s", want[i].id);
		expect_str(what, want[i].langs, langs(member(&f, want[i].id)));
	}
	expect_str("id -> externalMemberId", "Eve", member(&f, "u-en")->first_name);
	expect_str("a user without id is keyed by email", "noid@example.com",
		   member(&f, "noid@example.com")->email);

	sales = team(&f, "g-sales");
	emea = team(&f, "g-emea");
	expect_str("group name", "Sales EMEA", f.org.teams[emea].name);
	expect_uint("mappings", 3, f.org.nmappings);
	assert_true(org_find_member(&f.org, "u-en", 4, &en));
	assert_true(org_find_member(&f.org, "u-fr", 4, &fr));
	x = mapping(&f, sales, MAPPING_MEMBER, en);
	assert_true(x->is_manager);
	x = mapping(&f, emea, MAPPING_MEMBER, fr);
	assert_true(x->is_member);
	assert_false(x->is_manager);
	mapping(&f, sales, MAPPING_SUBTEAM, emea);
	done(&f);
}

static void test_legacy_settings_rejected(void **state)
{
	static const struct {
		const char *setting;
		uint32_t line;
		const char *where;
	} want[] = {
		{ "syncAdmin", 6, "orgsync admin add" },
		{ "inviteNewUsers", 7, "autoInvite" },
		{ "defaultLanguage", 8, "provisioning settings" },
	};
	struct fx f;
	size_t i;

	(void)state;
	run_file(&f, "legacy_with_settings.json");
	expect_rc(&f, "legacy_with_settings.json", INGEST_EINVALID);
	expect_count(&f, CODE_LEGACY_SETTINGS, 3);
	assert_true(f.info.legacy);
	for (i = 0; i < 3; i++) {
		const struct issue *is = find(&f, CODE_LEGACY_SETTINGS, (int)i);

		expect_issue(&f, is, ISSUE_FATAL, want[i].line, 5, want[i].setting);
		expect_in_message(is, want[i].setting);
		expect_in_message(is, want[i].where);
	}
	expect_in_message(find(&f, CODE_LEGACY_SETTINGS, 0), "API key");
	/* The payload is refused as a whole: mappings were never resolved. */
	expect_uint("fatal issues", 3, report_count(&f.rep, ISSUE_FATAL));
	done(&f);

	run_file(&f, "legacy_empty_settings.json");
	expect_rc(&f, "legacy_empty_settings.json", INGEST_EINVALID);
	expect_count(&f, CODE_LEGACY_SETTINGS, 1);
	/* Placed at the "settings" key. */
	expect_issue(&f, find(&f, CODE_LEGACY_SETTINGS, 0), ISSUE_FATAL, 1, 45, "settings");
	expect_in_message(find(&f, CODE_LEGACY_SETTINGS, 0), "provisioning settings");
	done(&f);

	/* Not an object, and in a current payload: still refused, once. */
	run_str(&f, "{\"members\": [], " EMPTY_SECTIONS ", \"settings\": null}");
	expect_rc(&f, "settings null", INGEST_EINVALID);
	expect_count(&f, CODE_LEGACY_SETTINGS, 1);
	expect_count(&f, CODE_MIXED_FORMATS, 0);
	done(&f);
}

static void test_mixed_formats(void **state)
{
	struct fx f;
	const struct issue *is;

	(void)state;
	run_file(&f, "mixed_members_and_users.json");
	expect_rc(&f, "mixed_members_and_users.json", INGEST_EINVALID);
	expect_count(&f, CODE_MIXED_FORMATS, 1);
	is = find(&f, CODE_MIXED_FORMATS, 0);
	expect_issue(&f, is, ISSUE_FATAL, 5, 3, "users");
	expect_in_message(is, "'users'");
	expect_in_message(is, "'members'");
	expect_count(&f, CODE_MISSING_SECTION, 0);
	done(&f);

	run_str(&f, "{\"groups\": [], \"teams\": [], \"mappings\": [], \"users\": [],"
		    " \"teamMappings\": []}");
	expect_rc(&f, "groups then teams", INGEST_EINVALID);
	expect_count(&f, CODE_MIXED_FORMATS, 1);
	expect_str("field", "teams", find(&f, CODE_MIXED_FORMATS, 0)->field);
	done(&f);
}

/* ---- structure */

static void test_missing_sections(void **state)
{
	static const struct {
		const char *payload;
		const char *missing[3];
	} cases[] = {
		{ "{}", { "members", "teams", "teamMappings" } },
		{ "{\"members\": [], \"teams\": []}", { "teamMappings", NULL, NULL } },
		{ "{\"teamMappings\": [], \"teams\": []}", { "members", NULL, NULL } },
		{ "{\"users\": [], \"mappings\": []}", { "groups", NULL, NULL } },
		{ "{\"settings\": {\"syncAdmin\": \"a@b.c\"}}", { "users", "groups", "mappings" } },
		{ "{\"extra\": []}", { "members", "teams", "teamMappings" } },
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx f;
		size_t n = 0;

		run_str(&f, cases[i].payload);
		expect_rc(&f, cases[i].payload, INGEST_EINVALID);
		for (j = 0; j < 3 && cases[i].missing[j]; j++, n++) {
			const struct issue *is = find(&f, CODE_MISSING_SECTION, (int)j);

			if (strcmp(is->field, cases[i].missing[j]) != 0)
				fail_msg("%s: expected missing section '%s', got '%s'", cases[i].payload,
					 cases[i].missing[j], is->field);
			assert_int_equal(is->severity, ISSUE_FATAL);
			expect_in_message(is, cases[i].missing[j]);
		}
		expect_count(&f, CODE_MISSING_SECTION, n);
		done(&f);
	}
}

static void test_section_not_an_array(void **state)
{
	static const struct {
		const char *payload;
		const char *field;
		uint32_t col;
		const char *found;
	} cases[] = {
		{ "{\"members\": [], \"teams\": {}, \"teamMappings\": []}", "teams", 26, "an object" },
		{ "{\"members\": [], \"teams\": [], \"teamMappings\": \"x\"}", "teamMappings", 46, "a string" },
		{ "{\"users\": null, \"groups\": [], \"mappings\": []}", "users", 11, "null" },
		{ "[{\"members\": []}]", "", 1, "an array" },
		{ "\"members\"", "", 1, "a string" },
		{ "  42", "", 3, "a number" },
	};
	struct fx f;
	size_t i;

	(void)state;
	run_file(&f, "section_not_an_array.json");
	expect_rc(&f, "section_not_an_array.json", INGEST_EINVALID);
	expect_issue(&f, find(&f, CODE_JSON_STRUCTURE, 0), ISSUE_FATAL, 1, 13, "members");
	expect_count(&f, CODE_MISSING_SECTION, 0);
	done(&f);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct issue *is;

		run_str(&f, cases[i].payload);
		expect_rc(&f, cases[i].payload, INGEST_EINVALID);
		expect_count(&f, CODE_JSON_STRUCTURE, 1);
		is = find(&f, CODE_JSON_STRUCTURE, 0);
		expect_issue(&f, is, ISSUE_FATAL, 1, cases[i].col, cases[i].field);
		expect_in_message(is, cases[i].found);
		done(&f);
	}

	run_str(&f, "{\"members\": [], \"members\": [], " EMPTY_SECTIONS "}");
	expect_rc(&f, "section twice", INGEST_EINVALID);
	expect_issue(&f, find(&f, CODE_JSON_STRUCTURE, 0), ISSUE_FATAL, 1, 17, "members");
	expect_in_message(find(&f, CODE_JSON_STRUCTURE, 0), "twice");
	done(&f);
}

static void test_syntax_errors_located(void **state)
{
	static const struct {
		const char *payload;
		uint32_t line, col;
	} cases[] = {
		{ "{\"members\": [\n  {\"externalMemberId\": \"E1\",, \"email\": \"a@b.c\"}\n]}", 2, 29 },
		{ "{\"members\": [],\n\"teams\": [],\n\"teamMappings\": [}", 3, 18 },
		{ "{\"members\": tru}", 1, 13 },
		{ "{\"members\": []} {}", 1, 17 },
		{ "{\"members\": [] /* comment */}", 1, 16 },
		{ "{\"members\": [\n\n", 3, 1 },
		{ "{'members': []}", 1, 2 },
		{ "{\"members\": [1, 2,]}", 1, 19 },
		{ "{\"a\": \"tab\there\"}", 1, 7 },
		{ "\xEF\xBB", 1, 1 },
	};
	struct fx f;
	const struct issue *is;
	size_t i;

	(void)state;
	run_file(&f, "syntax_error_line3.json");
	expect_rc(&f, "syntax_error_line3.json", INGEST_EINVALID);
	expect_count(&f, CODE_JSON_SYNTAX, 1);
	is = find(&f, CODE_JSON_SYNTAX, 0);
	expect_issue(&f, is, ISSUE_FATAL, 3, 31, "");
	expect_in_message(is, "parse error");
	expect_str("file", "syntax_error_line3.json", is->file);
	done(&f);

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_str(&f, cases[i].payload);
		expect_rc(&f, cases[i].payload, INGEST_EINVALID);
		if (count_code(&f, CODE_JSON_SYNTAX) != 1) {
			dump(&f);
			fail_msg("%s: expected one json_syntax issue, got %zu", cases[i].payload,
				 count_code(&f, CODE_JSON_SYNTAX));
		}
		is = find(&f, CODE_JSON_SYNTAX, 0);
		if (is->line != cases[i].line || is->column != cases[i].col)
			fail_msg("%s: expected the error at %u:%u, got %u:%u (%s)", cases[i].payload,
				 cases[i].line, cases[i].col, is->line, is->column, is->message);
		/* Parsing stopped: nothing after the error is reported. */
		expect_count(&f, CODE_MISSING_SECTION, 0);
		done(&f);
	}
}

static void test_empty_payload(void **state)
{
	static const char *const cases[] = { "", "   \n\t", "\xEF\xBB\xBF", "\xEF\xBB\xBF\r\n" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx f;
		const struct issue *is;

		run_str(&f, cases[i]);
		expect_rc(&f, "empty payload", INGEST_EINVALID);
		expect_uint("issues of an empty payload", 1, f.rep.count);
		is = find(&f, CODE_JSON_SYNTAX, 0);
		assert_int_equal(is->severity, ISSUE_FATAL);
		expect_in_message(is, "empty payload");
		done(&f);
	}
}

static void test_bom_skipped(void **state)
{
	struct fx f;
	const struct issue *is;

	(void)state;
	run_file(&f, "bom_then_bad_email.json");
	expect_rc(&f, "bom_then_bad_email.json", INGEST_OK);
	is = find(&f, CODE_INVALID_EMAIL, 0);
	/* Columns count from the first byte after the BOM. */
	expect_issue(&f, is, ISSUE_ERROR, 1, 50, "email");
	expect_count(&f, CODE_JSON_SYNTAX, 0);
	done(&f);
}

static void test_invalid_text_in_strings(void **state)
{
	static const char *const cases[] = {
		"{\"members\": [{\"externalMemberId\": \"E1\\u0000\"}], " EMPTY_SECTIONS "}",
		"{\"members\": [{\"externalMemberId\": \"\\udc00\"}], " EMPTY_SECTIONS "}",
		"{\"members\": [{\"externalMemberId\": \"\xED\xA0\x80\"}], " EMPTY_SECTIONS "}",
		"{\"members\": [{\"\xF4\x90\x80\x80\": \"x\"}], " EMPTY_SECTIONS "}",
	};
	struct fx f;
	size_t i;

	(void)state;
	run_file(&f, "overlong_utf8_in_string.json");
	expect_rc(&f, "overlong_utf8_in_string.json", INGEST_EINVALID);
	expect_issue(&f, find(&f, CODE_INVALID_UTF8, 0), ISSUE_FATAL, 1, 75, "");
	done(&f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_str(&f, cases[i]);
		expect_rc(&f, cases[i], INGEST_EINVALID);
		if (count_code(&f, CODE_INVALID_UTF8) + count_code(&f, CODE_JSON_SYNTAX) != 1) {
			dump(&f);
			fail_msg("case %zu: expected one invalid_utf8 or json_syntax issue", i);
		}
		expect_uint("members", 0, f.org.nmembers);
		done(&f);
	}
}

/*
 * yajl decodes \u escapes itself and hides a lone high surrogate (as '?',
 * or merged with whatever escape follows); both halves alone are refused
 * alike, at the escape's line and column, whatever the chunking.
 */
static void test_lone_surrogates(void **state)
{
	static const struct {
		const char *json;
		const char *shown;
		uint32_t line, col;
	} cases[] = {
		/* a lone high one, mid-string, at the end, before another escape or a low one's absence */
		{ "{\"members\": [\n{\"externalMemberId\": \"a\\ud800b\"}], " EMPTY_SECTIONS "}",
		  "\\ud800", 2, 24 },
		{ "{\"members\": [{\"externalMemberId\": \"\\uD800\"}], " EMPTY_SECTIONS "}",
		  "\\uD800", 1, 36 },
		{ "{\"members\": [{\"externalMemberId\": \"\\udbff\\u0041\"}], " EMPTY_SECTIONS "}",
		  "\\udbff", 1, 36 },
		{ "{\"members\": [{\"externalMemberId\": \"\\ud83d\\n\"}], " EMPTY_SECTIONS "}",
		  "\\ud83d", 1, 36 },
		{ "{\"members\": [{\"externalMemberId\": \"\\ud83d\\ud83d\\ude00\"}], " EMPTY_SECTIONS "}",
		  "\\ud83d", 1, 36 },
		/* a lone low one */
		{ "{\"members\": [{\"externalMemberId\": \"x\\udc00\"}], " EMPTY_SECTIONS "}",
		  "\\udc00", 1, 37 },
		{ "{\"members\": [{\"externalMemberId\": \"\\ude00\\ud83d\"}], " EMPTY_SECTIONS "}",
		  "\\ude00", 1, 36 },
		/* in keys: top level, and a record key met twice (the key cache) */
		{ "{\"\\ud800\": 1, \"members\": [], " EMPTY_SECTIONS "}", "\\ud800", 1, 3 },
		{ "{\"members\": [{\"k\\udfff\": 1}, {\"k\\udfff\": 1}], " EMPTY_SECTIONS "}",
		  "\\udfff", 1, 17 },
		/* in a value that is skipped */
		{ "{\"members\": [], \"extra\": [\"\\ud800\"], " EMPTY_SECTIONS "}", "\\ud800", 1, 28 },
	};
	struct fx f;
	size_t i;
	char what[64];

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct issue *is;
		char shown[32];

		snprintf(what, sizeof(what), "lone surrogate case %zu", i);
		run_str(&f, cases[i].json);
		expect_rc(&f, what, INGEST_EINVALID);
		expect_count(&f, CODE_INVALID_UTF8, 1);
		is = find(&f, CODE_INVALID_UTF8, 0);
		expect_issue(&f, is, ISSUE_FATAL, cases[i].line, cases[i].col, "");
		snprintf(shown, sizeof(shown), "a lone UTF-16 surrogate (%s)", cases[i].shown);
		expect_in_message(is, shown);
		expect_uint("members", 0, f.org.nmembers);
		done(&f);
	}
}

/* Surrogate pairs are characters; a backslash escaped before "u" starts no escape. */
static void test_surrogate_pairs_and_escaped_backslashes(void **state)
{
	struct fx f;

	(void)state;
	run_str(&f, "{\"members\": [{\"externalMemberId\": \"\\ud83d\\ude00\", \"email\": "
		    "\"a@example.com\"}, {\"externalMemberId\": \"\\uD834\\uDD1E\\\\ud800\", "
		    "\"email\": \"b@example.com\"}], " EMPTY_SECTIONS "}");
	expect_rc(&f, "surrogate pairs", INGEST_OK);
	expect_uint("issues", 0, f.rep.count);
	expect_str("U+1F600", "\xF0\x9F\x98\x80", member(&f, "\xF0\x9F\x98\x80")->external_id);
	expect_str("U+1D11E then a backslash and ud800", "\xF0\x9D\x84\x9E\\ud800",
		   member(&f, "\xF0\x9D\x84\x9E\\ud800")->external_id);
	done(&f);
}

/* ---- record errors */

static void test_wrong_types_are_record_errors(void **state)
{
	static const struct {
		uint32_t line, col;
		const char *field, *found, *id;
	} want[] = {
		{ 3, 41, "email", "a boolean", "E1" },
		{ 4, 72, "firstName", "an object", "E2" },
		{ 5, 71, "jobTitle", "an array", "E3" },
		{ 6, 89, "languagePreferences", "a number", "E4" },
		{ 7, 5, "members", "a string", "" },
		{ 10, 50, "teamName", "a boolean", "T1" },
		{ 11, 83, "isMember", "an object", "T1/E6" },
	};
	struct fx f;
	size_t i;

	(void)state;
	run_file(&f, "wrong_types.json");
	expect_rc(&f, "wrong_types.json", INGEST_OK);
	expect_count(&f, CODE_INVALID_VALUE, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct issue *is = find(&f, CODE_INVALID_VALUE, (int)i);

		expect_issue(&f, is, ISSUE_ERROR, want[i].line, want[i].col, want[i].field);
		expect_in_message(is, want[i].found);
		expect_in_message(is, "expected");
		expect_str("record id", want[i].id, is->record_id);
	}
	/* Nested values were skipped whole: the record after them is intact. */
	expect_uint("members", 1, f.org.nmembers);
	expect_str("E6 email", "e6@example.com", member(&f, "E6")->email);
	expect_uint("E6 line", 8, member(&f, "E6")->line);
	expect_uint("teams", 0, f.org.nteams);
	expect_uint("mappings", 0, f.org.nmappings);
	done(&f);
}

static void test_unknown_keys_warned_once(void **state)
{
	static const struct {
		const char *field;
		uint32_t line, col;
	} want[] = {
		{ "color", 4, 47 }, { "Color", 5, 64 }, { "weight", 9, 57 }, { "version", 12, 3 },
	};
	struct fx f;
	size_t i;

	(void)state;
	run_file(&f, "unknown_keys_repeated.json");
	expect_rc(&f, "unknown_keys_repeated.json", INGEST_OK);
	expect_count(&f, CODE_UNKNOWN_FIELD, 4);
	expect_uint("issues", 4, f.rep.count);
	for (i = 0; i < 4; i++)
		expect_issue(&f, find(&f, CODE_UNKNOWN_FIELD, (int)i), ISSUE_WARNING, want[i].line,
			     want[i].col, want[i].field);
	expect_in_message(find(&f, CODE_UNKNOWN_FIELD, 0), "teamName");
	expect_uint("teams", 3, f.org.nteams);
	expect_uint("mappings", 2, f.org.nmappings);
	done(&f);
}

static void test_null_ids_in_mappings(void **state)
{
	struct fx f;
	uint32_t t1, t2, e1 = 0;
	const struct issue *is;

	(void)state;
	run_file(&f, "null_ids_in_mappings.json");
	expect_rc(&f, "null_ids_in_mappings.json", INGEST_OK);
	t1 = team(&f, "T1");
	t2 = team(&f, "T2");
	assert_true(org_find_member(&f.org, "E1", 2, &e1));
	assert_true(mapping(&f, t1, MAPPING_MEMBER, e1)->is_member);
	assert_false(mapping(&f, t1, MAPPING_MEMBER, e1)->is_manager);
	mapping(&f, t1, MAPPING_SUBTEAM, t2);
	expect_uint("mappings", 2, f.org.nmappings);
	/* Both ids null: a row with no target. */
	expect_uint("issues", 1, f.rep.count);
	is = find(&f, CODE_MAPPING_NO_TARGET, 0);
	expect_uint("no-target line", 7, is->line);
	done(&f);
}

/* ---- streaming */

static void expect_same_org(const char *what, const struct org *a, const struct org *b)
{
	uint32_t i, j;

	if (a->nmembers != b->nmembers || a->nteams != b->nteams || a->nmappings != b->nmappings ||
	    a->nprops != b->nprops)
		fail_msg("%s: org counts differ: %u/%u/%u/%u whole, %u/%u/%u/%u chunked", what,
			 a->nmembers, a->nteams, a->nmappings, a->nprops, b->nmembers, b->nteams,
			 b->nmappings, b->nprops);
	for (i = 0; i < a->nmembers; i++) {
		const struct member *x = &a->members[i], *y = &b->members[i];

		if (strcmp(x->external_id, y->external_id) != 0 || strcmp(x->email, y->email) != 0 ||
		    strcmp(x->first_name, y->first_name) != 0 || strcmp(x->last_name, y->last_name) != 0 ||
		    strcmp(x->job_title, y->job_title) != 0 || strcmp(x->image_url, y->image_url) != 0 ||
		    x->line != y->line || x->nlangs != y->nlangs ||
		    memcmp(x->langs, y->langs, x->nlangs) != 0 || x->products != y->products ||
		    x->nprops != y->nprops)
			fail_msg("%s: member #%u differs ('%s' whole, '%s' chunked)", what, i,
				 x->external_id, y->external_id);
		for (j = 0; j < x->nprops; j++)
			if (x->props[j].index != y->props[j].index ||
			    strcmp(x->props[j].value, y->props[j].value) != 0)
				fail_msg("%s: property #%u of member '%s' differs", what, j, x->external_id);
	}
	for (i = 0; i < a->nteams; i++)
		if (strcmp(a->teams[i].external_id, b->teams[i].external_id) != 0 ||
		    strcmp(a->teams[i].name, b->teams[i].name) != 0 || a->teams[i].line != b->teams[i].line)
			fail_msg("%s: team #%u differs", what, i);
	for (i = 0; i < a->nmappings; i++) {
		const struct mapping *x = &a->mappings[i], *y = &b->mappings[i];

		if (x->team != y->team || x->child != y->child || x->line != y->line ||
		    x->kind != y->kind || x->is_member != y->is_member || x->is_manager != y->is_manager)
			fail_msg("%s: mapping #%u differs", what, i);
	}
}

static void expect_same_report(const char *what, const struct report *a, const struct report *b)
{
	size_t i;

	if (a->count != b->count)
		fail_msg("%s: %zu issues whole, %zu chunked", what, a->count, b->count);
	for (i = 0; i < a->count; i++) {
		const struct issue *x = &a->issues[i], *y = &b->issues[i];

		if (x->severity != y->severity || x->code != y->code || x->line != y->line ||
		    x->column != y->column || strcmp(x->file, y->file) != 0 || strcmp(x->field, y->field) != 0 ||
		    strcmp(x->record_id, y->record_id) != 0 || strcmp(x->message, y->message) != 0)
			fail_msg("%s: issue #%zu differs: whole %s %u:%u '%s' \"%s\", chunked %s %u:%u "
				 "'%s' \"%s\"", what, i, format_issue_code_name(x->code), x->line, x->column,
				 x->field, x->message, format_issue_code_name(y->code), y->line, y->column,
				 y->field, y->message);
	}
}

/* Reads data whole, then through the stream API step bytes at a time: both must agree. */
static void expect_chunking_invariant(const char *what, const char *data, size_t len, size_t step)
{
	struct fx whole, f;
	struct ingest_json_stream *s;
	const struct ingest_opts any = { NULL, 0, true };
	size_t off;
	char label[300];
	int rc;

	snprintf(label, sizeof(label), "%s fed %zu byte(s) at a time", what, step);
	run_mem(&whole, data, len, NULL);
	org_init(&f.org);
	report_init(&f.rep);
	memset(&f.info, 0, sizeof(f.info));
	assert_int_equal(ingest_json_stream_new("payload.json", &any, &f.org, &f.rep, &s), INGEST_OK);
	for (off = 0; off < len; off += step) {
		rc = ingest_json_stream_feed(s, data + off, len - off < step ? len - off : step);
		if (rc == INGEST_ENOMEM)
			fail_msg("%s: out of memory", label);
		if (rc == INGEST_EINVALID)
			break; /* the payload is known to be malformed */
	}
	f.rc = ingest_json_stream_finish(s, &f.info);
	if (f.rc != whole.rc)
		fail_msg("%s: status %d whole, %d chunked", label, whole.rc, f.rc);
	if (f.info.legacy != whole.info.legacy || !f.info.json)
		fail_msg("%s: info differs", label);
	expect_same_org(label, &whole.org, &f.org);
	expect_same_report(label, &whole.rep, &f.rep);
	done(&f);
	done(&whole);
}

static void test_chunked_feeding_same_result(void **state)
{
	static const char *const inline_cases[] = {
		"{\"members\": [{\"externalMemberId\": 12345, \"email\": \"a@example.com\"}], "
		EMPTY_SECTIONS "}",
		"{\"members\": [{\"externalMemberId\": \"e\\u00e9\\\"\\\\x\", \"email\": \"bad\"}], "
		EMPTY_SECTIONS "}",
		"{\"members\": [1, -2.5e10, true, null, [[]], {\"a\": {\"b\": [1, \"\\\"\"]}}], "
		EMPTY_SECTIONS "}",
		"{\"members\": [],\n \"teams\": [],\r\n \"teamMappings\": [{\"isMember\": tru}]}",
		"{\"members\": [],\n \"teams\": [],\r\n \"teamMappings\": [],,}",
		"\xEF\xBB\xBF{\"members\": [], " EMPTY_SECTIONS "} 1",
		"\xEF\xBB{}",
		"\xEF{}",
		"  123  ",
		"{\"members\": [], " EMPTY_SECTIONS ", \"settings\": {\"syncAdmin\": 1}}",
		"{\"members\": [{\"externalMemberId\": \"\\ud83d\\ude00\\\\ud800\"}], " EMPTY_SECTIONS "}",
		"{\"members\": [\n{\"externalMemberId\": \"ab\\ud83d\\u0041\"}], " EMPTY_SECTIONS "}",
		"{\"members\": [{\"externalMemberId\": \"\\udc00\"}], " EMPTY_SECTIONS "}",
	};
	const char *names[64];
	size_t n = 0, i;
	struct dirent *de;
	char dirpath[4096];
	DIR *dir;

	(void)state;
	for (i = 0; i < sizeof(inline_cases) / sizeof(inline_cases[0]); i++) {
		expect_chunking_invariant(inline_cases[i], inline_cases[i], strlen(inline_cases[i]), 1);
		expect_chunking_invariant(inline_cases[i], inline_cases[i], strlen(inline_cases[i]), 3);
	}
	snprintf(dirpath, sizeof(dirpath), "%s/json", data_dir());
	dir = opendir(dirpath);
	if (!dir)
		fail_msg("test data folder %s is missing (set ORGSYNC_TESTDATA)", dirpath);
	while ((de = readdir(dir)) != NULL && n < 64)
		if (strstr(de->d_name, ".json"))
			names[n++] = strdup(de->d_name);
	closedir(dir);
	if (n < 10)
		fail_msg("expected the JSON test data in %s, found %zu files", dirpath, n);
	for (i = 0; i < n; i++) {
		size_t len = 0;
		char *data = slurp(data_path(names[i]), &len);

		if (!data)
			fail_msg("cannot read %s", data_path(names[i]));
		expect_chunking_invariant(names[i], data, len, 1);
		expect_chunking_invariant(names[i], data, len, 2);
		expect_chunking_invariant(names[i], data, len, 7);
		free(data);
		free((void *)names[i]);
	}
}

static void test_stream_reports_malformed_early(void **state)
{
	static const char good[] = "{\"members\": [], ";
	struct ingest_json_stream *s;
	struct fx f;

	(void)state;
	org_init(&f.org);
	report_init(&f.rep);
	assert_int_equal(ingest_json_stream_new("body", NULL, &f.org, &f.rep, &s), INGEST_OK);
	assert_int_equal(ingest_json_stream_feed(s, good, sizeof(good) - 1), INGEST_OK);
	assert_int_equal(ingest_json_stream_feed(s, "]]", 2), INGEST_EINVALID);
	/* Later input is ignored; finish still reports and frees. */
	assert_int_equal(ingest_json_stream_feed(s, "\"teams\": []}", 12), INGEST_EINVALID);
	assert_int_equal(ingest_json_stream_finish(s, NULL), INGEST_EINVALID);
	expect_count(&f, CODE_JSON_SYNTAX, 1);
	expect_str("file", "body", f.rep.issues[0].file);
	done(&f);
}

/* A payload much larger than the 64 KiB read chunk: lines stay right across reads. */
static void test_large_file_lines(void **state)
{
	enum { N = 4000 };
	char path[] = "/tmp/orgsync-test-json-XXXXXX";
	int fd = mkstemp(path);
	struct ingest_input in = { "big.json", path, NULL, 0 };
	struct fx f;
	FILE *out;
	int i;

	(void)state;
	assert_true(fd >= 0);
	out = fdopen(fd, "w");
	assert_non_null(out);
	fputs("{\n\"members\": [\n", out);
	for (i = 0; i < N; i++)
		fprintf(out, "  {\"externalMemberId\": \"E%05d\", \"email\": \"%s%d@example.com\", "
			"\"jobTitle\": \"Engineer of things number %d\"}%s\n",
			i, i == N - 1 ? "bad@" : "m", i, i, i == N - 1 ? "" : ",");
	fputs("],\n\"teams\": [], \"teamMappings\": []\n}\n", out);
	fclose(out);

	org_init(&f.org);
	report_init(&f.rep);
	f.rc = ingest_json(&in, NULL, &f.org, &f.rep, &f.info);
	unlink(path);
	expect_rc(&f, "big.json", INGEST_OK);
	expect_uint("members", N - 1, f.org.nmembers);
	expect_uint("line of member 0", 3, member(&f, "E00000")->line);
	expect_uint("line of member 3000", 3003, member(&f, "E03000")->line);
	expect_issue(&f, find(&f, CODE_INVALID_EMAIL, 0), ISSUE_ERROR, N + 2, 43, "email");
	done(&f);
}

static void test_missing_file(void **state)
{
	struct ingest_input in = { "org.json", "/nonexistent/org.json", NULL, 0 };
	struct fx f;

	(void)state;
	org_init(&f.org);
	report_init(&f.rep);
	f.rc = ingest_json(&in, NULL, &f.org, &f.rep, &f.info);
	expect_rc(&f, "missing file", INGEST_EINVALID);
	expect_issue(&f, find(&f, CODE_FILE_MISSING, 0), ISSUE_FATAL, 0, 0, "");
	assert_true(f.info.json);
	done(&f);
}

/* ---- JSONTestSuite */

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_json_test_suite(void **state)
{
	const char *shared = getenv("SHARED");
	char dirpath[4096], path[4500];
	char **names = NULL;
	size_t n = 0, cap = 0, i, failures = 0, tried = 0;
	struct dirent *de;
	DIR *dir;

	(void)state;
	snprintf(dirpath, sizeof(dirpath), "%s/testdata/JSONTestSuite/test_parsing",
		 shared && *shared ? shared : "../shared");
	dir = opendir(dirpath);
	if (!dir) {
		const char *require = getenv("ORGSYNC_REQUIRE_ALL");

		/* make check provides the suite: there, its absence is a failure. */
		if (require && !strcmp(require, "1"))
			fail_msg("%s is missing, and ORGSYNC_REQUIRE_ALL=1 requires JSONTestSuite",
				 dirpath);
		print_message("%s is missing: JSONTestSuite skipped\n", dirpath);
		skip();
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		char **more;

		if (!strchr("yni", de->d_name[0]) || de->d_name[1] != '_')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			more = realloc(names, cap * sizeof(*names));
			if (!more) {
				fail_msg("out of memory listing %s", dirpath);
				return;
			}
			names = more;
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(dir);
	if (n < 300 || !names) {
		for (i = 0; i < n; i++)
			free(names[i]);
		free(names);
		fail_msg("expected the ~318 JSONTestSuite files in %s, found %zu", dirpath, n);
		return;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		size_t len = 0;
		char *data;
		struct fx f;
		size_t syntax, structure;

		snprintf(path, sizeof(path), "%s/%s", dirpath, names[i]);
		data = slurp(path, &len);
		if (!data)
			fail_msg("cannot read %s", path);
		run_mem(&f, data, len, NULL);
		syntax = count_code(&f, CODE_JSON_SYNTAX);
		structure = count_code(&f, CODE_JSON_STRUCTURE);
		tried++;
		if (names[i][0] == 'n' && (f.rc != INGEST_EINVALID || (!syntax && !structure))) {
			print_message("%s: expected rejected (json_syntax or json_structure), got status %d "
				      "with %zu syntax and %zu structure issues\n", names[i], f.rc, syntax,
				      structure);
			failures++;
		} else if (names[i][0] == 'y' && syntax) {
			print_message("%s: expected no json_syntax issue, got: %s\n", names[i],
				      find(&f, CODE_JSON_SYNTAX, 0)->message);
			failures++;
		} else if (f.rc == INGEST_ENOMEM) {
			print_message("%s: out of memory\n", names[i]);
			failures++;
		}
		done(&f);
		free(data);
		free(names[i]);
	}
	free(names);
	if (failures)
		fail_msg("%zu of %zu JSONTestSuite files got the wrong verdict (listed above)", failures,
			 tried);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_current_payload),
		cmocka_unit_test(test_numeric_ids_are_text),
		cmocka_unit_test(test_defined_properties_only),
		cmocka_unit_test(test_legacy_payload),
		cmocka_unit_test(test_legacy_settings_rejected),
		cmocka_unit_test(test_mixed_formats),
		cmocka_unit_test(test_missing_sections),
		cmocka_unit_test(test_section_not_an_array),
		cmocka_unit_test(test_syntax_errors_located),
		cmocka_unit_test(test_empty_payload),
		cmocka_unit_test(test_bom_skipped),
		cmocka_unit_test(test_invalid_text_in_strings),
		cmocka_unit_test(test_lone_surrogates),
		cmocka_unit_test(test_surrogate_pairs_and_escaped_backslashes),
		cmocka_unit_test(test_wrong_types_are_record_errors),
		cmocka_unit_test(test_unknown_keys_warned_once),
		cmocka_unit_test(test_null_ids_in_mappings),
		cmocka_unit_test(test_chunked_feeding_same_result),
		cmocka_unit_test(test_stream_reports_malformed_early),
		cmocka_unit_test(test_large_file_lines),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_json_test_suite),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
