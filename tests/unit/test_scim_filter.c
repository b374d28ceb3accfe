/* Unit tests of scim/filter: RFC 7644's filter examples (§3.4.2.2) and paths (§3.5.2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "server/scim/filter.h"

/* The User of RFC 7643 §8.2 (abridged), with the enterprise extension. */
static const char bjensen[] =
	"{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\","
	"\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"],"
	"\"id\":\"2819c223\",\"externalId\":\"701984\",\"userName\":\"bjensen@example.com\","
	"\"name\":{\"familyName\":\"Jensen\",\"givenName\":\"Barbara\"},\"userType\":\"Employee\","
	"\"title\":\"Tour Guide\",\"active\":true,"
	"\"emails\":[{\"value\":\"bjensen@example.com\",\"type\":\"work\",\"primary\":true},"
	"{\"value\":\"babs@jensen.org\",\"type\":\"home\"}],"
	"\"ims\":[{\"value\":\"someaimhandle\",\"type\":\"aim\"}],"
	"\"meta\":{\"created\":\"2010-01-23T04:56:22Z\",\"lastModified\":\"2011-05-13T04:42:34Z\"},"
	"\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\":{\"department\":\"Tour "
	"Operations\",\"manager\":{\"value\":\"26118915\"}}}";

static json_t *resource(void)
{
	json_t *doc = json_loads(bjensen, 0, NULL);

	assert_non_null(doc);
	return doc;
}

/* Parses text (failing the case, named, when it does not parse) and evaluates it. */
static bool matches(const json_t *doc, const char *text)
{
	struct scim_filter *f = NULL;
	char err[200];
	bool m;

	if (scim_filter_parse(text, &f, err, sizeof(err)) != SCIM_FILTER_OK)
		fail_msg("filter '%s': expected to parse, got '%s'", text, err);
	m = scim_filter_match(f, doc);
	scim_filter_free(f);
	return m;
}

#define MATCH(doc, text, want) CHECK_EQ(text, want, matches(doc, text))

static void test_rfc_examples(void **state)
{
	json_t *u = resource();

	(void)state;
	MATCH(u, "userName eq \"bjensen@example.com\"", 1);
	MATCH(u, "name.familyName co \"O'Malley\"", 0);
	MATCH(u, "name.familyName co \"ens\"", 1);
	MATCH(u, "userName sw \"J\"", 0);
	MATCH(u, "userName sw \"B\"", 1);
	MATCH(u, "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"b\"", 1);
	MATCH(u, "title pr", 1);
	MATCH(u, "nickName pr", 0);
	MATCH(u, "meta.lastModified gt \"2011-05-13T04:42:34Z\"", 0);
	MATCH(u, "meta.lastModified ge \"2011-05-13T04:42:34Z\"", 1);
	MATCH(u, "meta.lastModified lt \"2011-05-13T04:42:34Z\"", 0);
	MATCH(u, "meta.lastModified le \"2011-05-13T04:42:34Z\"", 1);
	MATCH(u, "title pr and userType eq \"Employee\"", 1);
	MATCH(u, "title pr or userType eq \"Intern\"", 1);
	MATCH(u, "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"", 1);
	MATCH(u, "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co "
		 "\"example.org\")", 1);
	MATCH(u, "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co "
		 "\"example.org\")", 0);
	MATCH(u, "userType eq \"Employee\" and (emails.type eq \"work\")", 1);
	MATCH(u, "userType eq \"Employee\" and emails[type eq \"work\" and value co "
		 "\"@example.com\"]", 1);
	MATCH(u, "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" "
		 "and value co \"@foo.com\"]", 1);
	MATCH(u, "emails[type eq \"home\" and value co \"@example.com\"]", 0);
	json_decref(u);
}

static void test_case_rules(void **state)
{
	json_t *u = resource();

	(void)state;
	MATCH(u, "USERNAME EQ \"BJENSEN@EXAMPLE.COM\"", 1); /* names, operators and userName: any case */
	MATCH(u, "externalId eq \"701984\"", 1);
	MATCH(u, "id eq \"2819C223\"", 0);                 /* id is caseExact */
	MATCH(u, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "
		 "\"tour operations\"", 1);
	MATCH(u, "department sw \"Tour\"", 1);             /* an extension's attribute without its URN */
	MATCH(u, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "
		 "\"26118915\"", 1);
	MATCH(u, "active eq true", 1);
	MATCH(u, "active eq \"True\"", 1);
	MATCH(u, "active ne false", 1);
	json_decref(u);
}

static void test_microsoft_unquoted_values(void **state)
{
	json_t *u = resource();

	(void)state;
	MATCH(u, "name.FamilyName eq Jensen and (emails.Value co example.com or emails.Value co "
		 "example.org)", 1);
	MATCH(u, "userName sw b", 1);
	MATCH(u, "meta.Created gt 2009-10-10T14:38:21.8617979-07:00", 1);
	MATCH(u, "meta.Created gt 2010-01-23T04:56:22.5+00:00", 0);
	MATCH(u, "active eq True", 1);
	json_decref(u);
}

static void test_refusals(void **state)
{
	static const char *const bad[] = {
		"", "userName", "userName eq", "userName xx \"a\"", "(userName eq \"a\"",
		"userName eq \"a\" and", "emails[type eq \"work\"", "not userName eq \"a\"",
		"userName eq \"unterminated", "name.a.b eq \"x\"", "userName eq \"a\" )",
		"((((((((((((((((((((((((((((((((((a pr))))))))))))))))))))))))))))))))))",
	};
	struct scim_filter *f;
	char err[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		f = NULL;
		err[0] = '\0';
		if (scim_filter_parse(bad[i], &f, err, sizeof(err)) != SCIM_FILTER_EINVAL)
			fail_msg("filter '%s': expected a refusal, got a tree", bad[i]);
		if (f || !err[0])
			fail_msg("filter '%s': a refusal leaves no tree and says why", bad[i]);
	}
}

static void test_paths(void **state)
{
	struct scim_path p;
	char err[200];

	(void)state;
	CHECK_EQ("members[value eq ...]", SCIM_FILTER_OK,
		 scim_path_parse("members[value eq \"2819c223-7f76-453a-919d-413861904646\"]", &p,
				 err, sizeof(err)));
	CHECK_STR("attr", "members", p.attr.attr);
	CHECK_EQ("filter op", SCIM_OP_EQ, p.filter->op);
	scim_path_free(&p);
	CHECK_EQ("emails[type eq work].value", SCIM_FILTER_OK,
		 scim_path_parse("emails[type eq \"work\"].value", &p, err, sizeof(err)));
	CHECK_STR("sub after the filter", "value", p.sub);
	scim_path_free(&p);
	CHECK_EQ("an extension's attribute", SCIM_FILTER_OK,
		 scim_path_parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
				 &p, err, sizeof(err)));
	CHECK_STR("schema", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
		  p.attr.schema);
	CHECK_STR("attr", "manager", p.attr.attr);
	scim_path_free(&p);
	CHECK_EQ("name.givenName", SCIM_FILTER_OK,
		 scim_path_parse("name.givenName", &p, err, sizeof(err)));
	CHECK_STR("sub", "givenName", p.attr.sub);
	scim_path_free(&p);
	CHECK_EQ("a broken path", SCIM_FILTER_EINVAL,
		 scim_path_parse("members[value eq", &p, err, sizeof(err)));
}

static void test_times(void **state)
{
	int c = 9;

	(void)state;
	CHECK_EQ("offsets", 1, scim_time_compare("2015-10-10T14:38:21-07:00",
						 "2015-10-10T21:38:20Z", &c));
	CHECK_EQ("later", 1, c);
	CHECK_EQ("fractions", 1, scim_time_compare("2015-10-10T14:38:21.1Z",
						   "2015-10-10T14:38:21.10Z", &c));
	CHECK_EQ("equal", 0, c);
	CHECK_EQ("not a time", 0, scim_time_compare("yesterday", "2015-10-10T14:38:21Z", &c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_case_rules),
		cmocka_unit_test(test_microsoft_unquoted_values),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_times),
	};

	return cmocka_run_group_tests_name("scim_filter", tests, NULL, NULL);
}
