/* CSV ingest: RFC 4180 edge cases, dialects, and every SPEC §3 check. */
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

static const char TEAMS0[] = "externalTeamId,teamName\n";
static const char MAPS0[] = "externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n";
static const char MEMBERS0[] = "externalMemberId,email\n";

struct fx {
	struct org org;
	struct report rep;
	struct ingest_info info;
	int rc;
};

static struct ingest_input mem(const char *name, const char *s)
{
	struct ingest_input in = { name, NULL, s, s ? strlen(s) : 0 };

	return in;
}

static void run_opts(struct fx *f, const char *m, const char *t, const char *x,
		     const struct ingest_opts *opts)
{
	struct ingest_input im = mem("members.csv", m), it = mem("teams.csv", t),
			    ix = mem("teams-mappings.csv", x);
	struct ingest_opts any = { NULL, 0, true };

	org_init(&f->org);
	report_init(&f->rep);
	f->rc = ingest_csv(m ? &im : NULL, t ? &it : NULL, x ? &ix : NULL, opts ? opts : &any,
			   &f->org, &f->rep, &f->info);
}

static void run(struct fx *f, const char *m, const char *t, const char *x)
{
	run_opts(f, m, t, x, NULL);
}

static void done(struct fx *f)
{
	org_free(&f->org);
	report_free(&f->rep);
}

/* The n-th issue with code, or a failure naming what was there. */
static const struct issue *find(const struct fx *f, enum issue_code code, int nth)
{
	size_t i;

	for (i = 0; i < f->rep.count; i++)
		if (f->rep.issues[i].code == code && nth-- == 0)
			return &f->rep.issues[i];
	print_message("no issue %s (#%d); the report has:\n", format_issue_code_name(code), nth);
	format_report_text(&f->rep, stdout);
	fail();
	return NULL;
}

static size_t count_code(const struct fx *f, enum issue_code code)
{
	size_t i, n = 0;

	for (i = 0; i < f->rep.count; i++)
		n += f->rep.issues[i].code == code;
	return n;
}

static void test_quoted_newline_reports_next_record_line(void **state)
{
	struct fx f;
	const struct issue *is;

	(void)state;
	run(&f, "externalMemberId,email,jobTitle\nE1,a@x.com,\"Head of\nSales\"\nE2,not-an-email,Dev\n",
	    TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_OK);
	is = find(&f, CODE_INVALID_EMAIL, 0);
	assert_int_equal(is->line, 4);
	assert_int_equal(is->column, 2);
	assert_string_equal(is->record_id, "E2");
	assert_string_equal(is->field, "email");
	assert_int_equal(f.org.nmembers, 1);
	assert_string_equal(f.org.members[0].job_title, "Head of\nSales");
	assert_int_equal(f.org.members[0].line, 2);
	done(&f);
}

static void test_quoted_commas_and_quotes(void **state)
{
	struct fx f;

	(void)state;
	run(&f, "externalMemberId,email,jobTitle,lastName\nE1,a@x.com,\"Director, Sales\",\"O\"\"Brien\"\n",
	    TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_OK);
	assert_int_equal(f.rep.count, 0);
	assert_string_equal(f.org.members[0].job_title, "Director, Sales");
	assert_string_equal(f.org.members[0].last_name, "O\"Brien");
	done(&f);
}

static void test_bom_crlf_header_case_any_order(void **state)
{
	struct fx f;

	(void)state;
	run(&f, "\xef\xbb\xbf" "EMAIL,ExternalMemberID,FIRSTNAME\r\n a@x.com , E1 ,Zoë\r\nb@x.com,E2,\r\n",
	    TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_OK);
	assert_int_equal(f.rep.count, 0);
	assert_int_equal(f.org.nmembers, 2);
	assert_string_equal(f.org.members[0].external_id, "E1");
	assert_string_equal(f.org.members[0].email, "a@x.com");
	assert_string_equal(f.org.members[0].first_name, "Zoë");
	assert_int_equal(f.org.members[1].line, 3);
	assert_false(f.info.legacy);
	done(&f);
}

static void test_invalid_utf8_names_byte_offset(void **state)
{
	struct fx f;
	const struct issue *is;

	(void)state;
	/* header is 33 bytes; "E1,a@x.com,Ren" is 14 more: the bad byte is at offset 47 */
	run(&f, "externalMemberId,email,firstName\nE1,a@x.com,Ren\xe9\n", TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_EINVALID);
	is = find(&f, CODE_INVALID_UTF8, 0);
	assert_int_equal(is->severity, ISSUE_FATAL);
	assert_int_equal(is->line, 2);
	assert_int_equal(is->column, 15);
	assert_non_null(strstr(is->message, "byte offset 47"));
	done(&f);
}

static void test_missing_required_column(void **state)
{
	struct fx f;
	const struct issue *is;

	(void)state;
	run(&f, "externalMemberId,firstName\nE1,Ann\n", TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_EINVALID);
	is = find(&f, CODE_MISSING_COLUMN, 0);
	assert_string_equal(is->file, "members.csv");
	assert_int_equal(is->line, 1);
	assert_non_null(strstr(is->message, "'email'"));
	done(&f);
	run(&f, MEMBERS0, "externalTeamId\nT1\n", MAPS0);
	assert_int_equal(f.rc, INGEST_EINVALID);
	assert_non_null(strstr(find(&f, CODE_MISSING_COLUMN, 0)->message, "teamName"));
	done(&f);
}

static void test_duplicates_second_reported_and_remembered(void **state)
{
	struct fx f;
	const struct issue *is;

	(void)state;
	run(&f, "externalMemberId,email\nE1,a@x.com\nE1,b@x.com\nE2,A@X.COM\n", TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_OK);
	assert_int_equal(f.org.nmembers, 1);
	is = find(&f, CODE_DUPLICATE_MEMBER_ID, 0);
	assert_int_equal(is->line, 3);
	assert_non_null(strstr(is->message, "line 2"));
	is = find(&f, CODE_DUPLICATE_EMAIL, 0);
	assert_int_equal(is->line, 4);
	assert_string_equal(is->record_id, "E2");
	/* a bad row is not a removal: its ids must reach the plan */
	assert_true(strmap_get(&f.org.skipped.emails, "b@x.com", 7, NULL));
	assert_true(strmap_get(&f.org.skipped.member_ids, "E2", 2, NULL));
	done(&f);
	run(&f, MEMBERS0, "externalTeamId,teamName\nT1,A\nT1,B\n", MAPS0);
	is = find(&f, CODE_DUPLICATE_TEAM_ID, 0);
	assert_int_equal(is->line, 3);
	assert_int_equal(f.org.nteams, 1);
	assert_string_equal(f.org.teams[0].name, "A");
	done(&f);
}

static void test_legacy_csv_every_field(void **state)
{
	static const char *const names[] = { "English", "Français", "Español", "Português", "Deutsche" };
	static const char *const codes[] = { "en", "fr", "es", "pt", "de" };
	struct fx f;
	char users[1024];
	size_t i;

	(void)state;
	strcpy(users, "id,email,firstName,lastName,jobTitle,language\r\n");
	for (i = 0; i < 5; i++)
		sprintf(users + strlen(users), "U%zu,u%zu@x.com,F%zu,L%zu,J%zu,%s\r\n", i, i, i, i, i, names[i]);
	run(&f, users, "id,name\ng1,Company\ng2,Sales\n",
	    "groupId,userId,subGroupId,isMember,isManager\ng1,,g2,,\ng2,U0,,TRUE,1\ng2,U1,,yes,No\n");
	assert_int_equal(f.rc, INGEST_OK);
	assert_int_equal(f.rep.count, 0);
	assert_true(f.info.legacy);
	assert_int_equal(f.org.nmembers, 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(f.org.members[i].nlangs, 1);
		assert_string_equal(format_lang_code((enum lang)f.org.members[i].langs[0]), codes[i]);
		assert_int_equal(f.org.members[i].products, 1u << PRODUCT_OFFICEVIBE);
	}
	assert_string_equal(f.org.members[0].external_id, "U0");
	assert_string_equal(f.org.members[0].job_title, "J0");
	assert_string_equal(f.org.teams[1].external_id, "g2");
	assert_string_equal(f.org.teams[1].name, "Sales");
	assert_int_equal(f.org.nmappings, 3);
	assert_int_equal(f.org.mappings[0].kind, MAPPING_SUBTEAM);
	assert_true(f.org.mappings[1].is_member && f.org.mappings[1].is_manager);
	assert_true(f.org.mappings[2].is_member && !f.org.mappings[2].is_manager);
	done(&f);
}

static void test_legacy_users_keyed_by_email(void **state)
{
	struct fx f;

	(void)state;
	run(&f, "email,firstName,language\na@x.com,Ann,Deutsche\n", "groupId,name\ng1,Ops\n",
	    "groupId,userId\ng1,a@x.com\n");
	assert_int_equal(f.rc, INGEST_OK);
	assert_int_equal(f.rep.count, 0);
	assert_string_equal(f.org.members[0].external_id, "a@x.com");
	assert_int_equal(f.org.nmappings, 1);
	assert_true(f.org.mappings[0].is_member);
	done(&f);
}

static void test_unknown_product_and_language(void **state)
{
	struct fx f;
	const struct issue *is;

	(void)state;
	run(&f, "externalMemberId,email,productAssignations,languagePreferences\n"
		"E1,a@x.com,Officevibe;Jira,en\nE2,b@x.com,,klingon\nE3,c@x.com,skills; workleap ai,FR;en\n",
	    TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_OK);
	is = find(&f, CODE_UNKNOWN_PRODUCT, 0);
	assert_int_equal(is->line, 2);
	assert_int_equal(is->column, 3);
	assert_non_null(strstr(is->message, "'Jira'"));
	is = find(&f, CODE_UNKNOWN_LANGUAGE, 0);
	assert_int_equal(is->line, 3);
	assert_string_equal(is->field, "languagePreferences");
	assert_int_equal(f.org.nmembers, 1);
	assert_int_equal(f.org.members[0].products,
			 (1u << PRODUCT_SKILLS) | (1u << PRODUCT_WORKLEAP_AI));
	assert_int_equal(f.org.members[0].nlangs, 2);
	assert_int_equal(f.org.members[0].langs[0], LANG_FR);
	done(&f);
}

static void test_unknown_property_one_warning_per_column(void **state)
{
	static const char *const defined[] = { "department" };
	struct ingest_opts opts = { defined, 1, false };
	struct fx f;

	(void)state;
	run_opts(&f, "externalMemberId,email,costCenter,department,badgeColor\n"
		     "E1,a@x.com,C1,Sales,red\nE2,b@x.com,C2,,blue\nE3,c@x.com,C3,IT,green\n",
		 TEAMS0, MAPS0, &opts);
	assert_int_equal(f.rc, INGEST_OK);
	assert_int_equal(count_code(&f, CODE_UNKNOWN_PROPERTY), 2);
	assert_string_equal(find(&f, CODE_UNKNOWN_PROPERTY, 0)->field, "costCenter");
	assert_int_equal(find(&f, CODE_UNKNOWN_PROPERTY, 1)->column, 5);
	assert_int_equal(report_count(&f.rep, ISSUE_WARNING), 2);
	assert_int_equal(f.org.nprops, 1);
	assert_string_equal(org_member_prop(&f.org.members[0], 0), "Sales");
	assert_null(org_member_prop(&f.org.members[1], 0));
	done(&f);
}

static void test_mapping_unknowns_and_cycle_named(void **state)
{
	struct fx f;
	const struct issue *is;

	(void)state;
	run(&f, "externalMemberId,email\nE1,a@x.com\n", "externalTeamId,teamName\nT1,Company\nT2,Sales\nT3,East\n",
	    "externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n"
	    "T1,,T2,,\nT2,,T3,,\nT3,,T1,,\nT1,E404,,,\nT404,,T1,,\nT1,,T404,,\nT3,E1,,,\n");
	assert_int_equal(f.rc, INGEST_OK);
	is = find(&f, CODE_TEAM_CYCLE, 0);
	assert_int_equal(is->line, 4);
	assert_non_null(strstr(is->message, "T1 > T2 > T3 > T1"));
	assert_int_equal(find(&f, CODE_UNKNOWN_MEMBER, 0)->line, 5);
	assert_int_equal(find(&f, CODE_UNKNOWN_TEAM, 0)->line, 6);
	assert_int_equal(find(&f, CODE_UNKNOWN_SUBTEAM, 0)->line, 7);
	assert_int_equal(f.org.nmappings, 3); /* T1>T2, T2>T3, T3/E1 */
	done(&f);
	/* a team under itself is the shortest cycle */
	run(&f, MEMBERS0, "externalTeamId,teamName\nT1,A\n", "externalTeamId,externalSubteamId\nT1,T1\n");
	assert_non_null(strstr(find(&f, CODE_TEAM_CYCLE, 0)->message, "T1 > T1"));
	assert_int_equal(f.org.nmappings, 0);
	done(&f);
}

static void test_mapping_rows_rules(void **state)
{
	struct fx f;

	(void)state;
	run(&f, "externalMemberId,email\nE1,a@x.com\nE2,b@x.com\n", "externalTeamId,teamName\nT1,A\nT2,B\n",
	    "externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n"
	    "T1,E1,,false,false\nT1,E1,T2,,\nT1,,,,\nT1,E2,,,\nT1,E2,,false,true\nT2,E1,,maybe,\n,E1,,,\n");
	assert_int_equal(f.rc, INGEST_OK);
	assert_int_equal(find(&f, CODE_MAPPING_GRANTS_NOTHING, 0)->line, 2);
	assert_int_equal(find(&f, CODE_MAPPING_TWO_TARGETS, 0)->line, 3);
	assert_int_equal(find(&f, CODE_MAPPING_NO_TARGET, 0)->line, 4);
	assert_int_equal(find(&f, CODE_DUPLICATE_MAPPING, 0)->line, 6);
	assert_int_equal(find(&f, CODE_INVALID_BOOLEAN, 0)->line, 7);
	assert_int_equal(find(&f, CODE_MISSING_VALUE, 0)->line, 8);
	assert_int_equal(f.org.nmappings, 1);
	/* empty isMember means member; the duplicate's manager flag is merged in */
	assert_true(f.org.mappings[0].is_member);
	assert_true(f.org.mappings[0].is_manager);
	done(&f);
}

static void test_header_only_is_valid_empty_org(void **state)
{
	struct fx f;

	(void)state;
	run(&f, "externalMemberId,email,firstName\n", TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_OK);
	assert_int_equal(f.rep.count, 0);
	assert_int_equal(f.org.nmembers + f.org.nteams + f.org.nmappings, 0);
	done(&f);
}

static void test_structural_errors(void **state)
{
	struct fx f;

	(void)state;
	run(&f, "", TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_EINVALID);
	find(&f, CODE_MISSING_HEADER, 0);
	done(&f);
	run(&f, "externalMemberId,email\nE1,\"a@x.com\nE2,b@x.com\n", TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_EINVALID);
	find(&f, CODE_CSV_QUOTING, 0);
	done(&f);
	run(&f, "externalMemberId,email,firstName\nE1,a@x.com,A\"n\"n\n", TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_EINVALID);
	assert_int_equal(find(&f, CODE_CSV_QUOTING, 0)->line, 2);
	done(&f);
	run(&f, MEMBERS0, NULL, MAPS0);
	assert_int_equal(f.rc, INGEST_EINVALID);
	assert_string_equal(find(&f, CODE_FILE_MISSING, 0)->file, "teams.csv");
	done(&f);
	run(&f, "externalMemberId,email,language\n", TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_EINVALID);
	find(&f, CODE_MIXED_FORMATS, 0);
	done(&f);
	run(&f, "externalMemberId,email,Email\n", TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_EINVALID);
	assert_int_equal(find(&f, CODE_DUPLICATE_COLUMN, 0)->column, 3);
	done(&f);
}

static void test_extra_fields_and_blank_rows(void **state)
{
	struct fx f;

	(void)state;
	run(&f, "externalMemberId,email\nE1,a@x.com,surprise\n,\n\nE2,b@x.com,\n", TEAMS0, MAPS0);
	assert_int_equal(f.rc, INGEST_OK);
	assert_int_equal(find(&f, CODE_EXTRA_FIELDS, 0)->line, 2);
	assert_int_equal(f.rep.count, 1);
	assert_int_equal(f.org.nmembers, 1);
	assert_int_equal(f.org.members[0].line, 5);
	done(&f);
}

static void test_invalid_emails(void **state)
{
	static const char *const bad[] = { "plain", "a@b", "@x.com", "a@x..com", "a b@x.com", "a@-x.com",
					   "a.@x.com", "a@x.com.", "a@@x.com" };
	struct fx f;
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "externalMemberId,email\nE1,\"%s\"\nE2,ok.name+tag@sub.exämple.com\n", bad[i]);
		run(&f, buf, TEAMS0, MAPS0);
		print_message("email '%s'\n", bad[i]);
		assert_int_equal(count_code(&f, CODE_INVALID_EMAIL), 1);
		assert_int_equal(f.org.nmembers, 1);
		done(&f);
	}
}

/* Lines and UTF-8 stay right across the reader's 1 MiB chunk boundaries. */
static void test_large_file_line_numbers(void **state)
{
	char path[] = "/tmp/orgsync-test-XXXXXX";
	int fd = mkstemp(path);
	FILE *out = fdopen(fd, "w");
	struct ingest_input m = { NULL, path, NULL, 0 }, t = mem("teams.csv", TEAMS0),
			    x = mem("teams-mappings.csv", MAPS0);
	struct fx f;
	int i;

	(void)state;
	assert_non_null(out);
	fputs("externalMemberId,email,firstName,jobTitle\n", out);
	for (i = 0; i < 40000; i++) {
		if (i == 30000)
			fprintf(out, "E%d,broken,Élodie,\"x\ny\"\n", i);
		else
			fprintf(out, "E%d,e%d@x.com,Élodie Ñúñez 王,\"Lead, Ops\"\n", i, i);
	}
	fclose(out);
	org_init(&f.org);
	report_init(&f.rep);
	f.rc = ingest_csv(&m, &t, &x, NULL, &f.org, &f.rep, NULL);
	unlink(path);
	assert_int_equal(f.rc, INGEST_OK);
	assert_int_equal(f.rep.count, 1);
	assert_int_equal(find(&f, CODE_INVALID_EMAIL, 0)->line, 30002);
	assert_int_equal(f.org.nmembers, 39999);
	assert_int_equal(f.org.members[39998].line, 40002);
	done(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quoted_newline_reports_next_record_line),
		cmocka_unit_test(test_quoted_commas_and_quotes),
		cmocka_unit_test(test_bom_crlf_header_case_any_order),
		cmocka_unit_test(test_invalid_utf8_names_byte_offset),
		cmocka_unit_test(test_missing_required_column),
		cmocka_unit_test(test_duplicates_second_reported_and_remembered),
		cmocka_unit_test(test_legacy_csv_every_field),
		cmocka_unit_test(test_legacy_users_keyed_by_email),
		cmocka_unit_test(test_unknown_product_and_language),
		cmocka_unit_test(test_unknown_property_one_warning_per_column),
		cmocka_unit_test(test_mapping_unknowns_and_cycle_named),
		cmocka_unit_test(test_mapping_rows_rules),
		cmocka_unit_test(test_header_only_is_valid_empty_org),
		cmocka_unit_test(test_structural_errors),
		cmocka_unit_test(test_extra_fields_and_blank_rows),
		cmocka_unit_test(test_invalid_emails),
		cmocka_unit_test(test_large_file_line_numbers),
	};

	return cmocka_run_group_tests_name("csv", tests, NULL, NULL);
}
