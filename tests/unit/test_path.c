/*
 * path: joining, absolute names, last components and a config file's
 * relative names, in the POSIX and the Windows style (both are built on
 * every system). Each case names the style, the input and the expected
 * result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/path.h"

struct two {
	enum path_style style;
	const char *a, *b, *expected;
};

static const char *style_name(enum path_style s)
{
	return s == PATH_WINDOWS ? "windows" : "posix";
}

static void test_absolute(void **state)
{
	static const struct {
		enum path_style style;
		const char *path;
		bool expected;
	} cases[] = {
		{ PATH_POSIX, "/srv/x.csv", true },
		{ PATH_POSIX, "x.csv", false },
		{ PATH_POSIX, "./Data/x.csv", false },
		{ PATH_POSIX, "C:\\x.csv", false },
		{ PATH_POSIX, "\\x.csv", false },
		{ PATH_WINDOWS, "C:\\Data\\x.csv", true },
		{ PATH_WINDOWS, "c:/Data/x.csv", true },
		{ PATH_WINDOWS, "C:x.csv", true },
		{ PATH_WINDOWS, "\\\\server\\share\\x.csv", true },
		{ PATH_WINDOWS, "\\x.csv", true },
		{ PATH_WINDOWS, "/x.csv", true },
		{ PATH_WINDOWS, ".\\Data\\x.csv", false },
		{ PATH_WINDOWS, "Data\\x.csv", false },
		{ PATH_WINDOWS, "1:x", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (path_is_absolute(cases[i].style, cases[i].path) != cases[i].expected)
			fail_msg("%s path_is_absolute('%s'): expected %d", style_name(cases[i].style),
				 cases[i].path, cases[i].expected);
}

static void test_basename(void **state)
{
	static const struct two cases[] = {
		{ PATH_POSIX, "/srv/hris/members.csv", NULL, "members.csv" },
		{ PATH_POSIX, "members.csv", NULL, "members.csv" },
		{ PATH_POSIX, "a\\b.csv", NULL, "a\\b.csv" },
		{ PATH_WINDOWS, "C:\\Data\\users.csv", NULL, "users.csv" },
		{ PATH_WINDOWS, ".\\Data/users.csv", NULL, "users.csv" },
		{ PATH_WINDOWS, "C:users.csv", NULL, "users.csv" },
		{ PATH_WINDOWS, "users.csv", NULL, "users.csv" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = path_basename(cases[i].style, cases[i].a);

		if (strcmp(got, cases[i].expected) != 0)
			fail_msg("%s path_basename('%s'): expected '%s', got '%s'",
				 style_name(cases[i].style), cases[i].a, cases[i].expected, got);
	}
}

static void check_two(const struct two *c, int (*fn)(enum path_style, const char *, const char *,
						       char **), const char *what)
{
	char *out = NULL;

	if (fn(c->style, c->a, c->b, &out) != 0)
		fail_msg("%s %s('%s', '%s') failed", style_name(c->style), what, c->a, c->b);
	if (strcmp(out, c->expected) != 0)
		fail_msg("%s %s('%s', '%s'): expected '%s', got '%s'", style_name(c->style), what, c->a,
			 c->b, c->expected, out);
	free(out);
}

static void test_join(void **state)
{
	static const struct two cases[] = {
		{ PATH_POSIX, "examples/current", "members.csv", "examples/current/members.csv" },
		/* The POSIX style always adds '/', as "%s/%s" did. */
		{ PATH_POSIX, "out/", "teams.csv", "out//teams.csv" },
		{ PATH_WINDOWS, "C:\\HRIS\\export", "members.csv", "C:\\HRIS\\export\\members.csv" },
		{ PATH_WINDOWS, "C:\\HRIS\\export\\", "members.csv", "C:\\HRIS\\export\\members.csv" },
		{ PATH_WINDOWS, "examples/current", "members.csv", "examples/current/members.csv" },
		{ PATH_WINDOWS, "C:", "members.csv", "C:members.csv" },
		{ PATH_WINDOWS, "C:\\", "members.csv", "C:\\members.csv" },
		{ PATH_WINDOWS, "", "members.csv", "members.csv" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_two(&cases[i], path_join, "path_join");
}

static void test_beside(void **state)
{
	static const struct two cases[] = {
		{ PATH_POSIX, "/etc/orgsync/config.json", "./Data/users.csv",
		  "/etc/orgsync/./Data/users.csv" },
		{ PATH_POSIX, "config.json", "./Data/users.csv", "./Data/users.csv" },
		{ PATH_POSIX, "/config.json", "users.csv", "/users.csv" },
		{ PATH_POSIX, "conf/config.json", "/srv/users.csv", "/srv/users.csv" },
		{ PATH_WINDOWS, "C:\\Officevibe\\config.json", ".\\Data\\users.csv",
		  "C:\\Officevibe\\.\\Data\\users.csv" },
		{ PATH_WINDOWS, "C:\\Officevibe\\config.json", "./Data/users.csv",
		  "C:\\Officevibe\\./Data/users.csv" },
		{ PATH_WINDOWS, "C:\\Officevibe\\config.json", "D:\\HRIS\\users.csv",
		  "D:\\HRIS\\users.csv" },
		{ PATH_WINDOWS, "C:\\Officevibe\\config.json", "\\\\fs\\hris\\users.csv",
		  "\\\\fs\\hris\\users.csv" },
		{ PATH_WINDOWS, "\\\\fs\\sync\\config.json", "Data\\users.csv",
		  "\\\\fs\\sync\\Data\\users.csv" },
		{ PATH_WINDOWS, "C:config.json", "Data\\users.csv", "C:Data\\users.csv" },
		{ PATH_WINDOWS, "config.json", ".\\Data\\users.csv", ".\\Data\\users.csv" },
		{ PATH_WINDOWS, "sync/config.json", "Data\\users.csv", "sync/Data\\users.csv" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_two(&cases[i], path_beside, "path_beside");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absolute),
		cmocka_unit_test(test_basename),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_beside),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
