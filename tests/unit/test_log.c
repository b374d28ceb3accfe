/* Unit tests of the service's log records (src/server/log.c): what any
 * string does to a record, read back from standard error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "check.h"
#include "server/log.h"

/* Standard error goes to a temporary file while a test writes records. */
static FILE *captured;
static int saved_fd = -1;

static void capture(void)
{
	fflush(stderr);
	captured = tmpfile();
	assert_non_null(captured);
	saved_fd = dup(fileno(stderr));
	dup2(fileno(captured), fileno(stderr));
}

/* The lines written since capture(), each parsed; returns how many (at most max). */
static size_t release(json_t **lines, size_t max)
{
	char line[65536];
	size_t n = 0;

	fflush(stderr);
	dup2(saved_fd, fileno(stderr));
	close(saved_fd);
	rewind(captured);
	while (fgets(line, sizeof(line), captured)) {
		json_error_t err;

		if (n == max)
			fail_msg("more than %zu lines logged", max);
		if (!strchr(line, '\n'))
			fail_msg("line %zu longer than the test reads, or unterminated", n + 1);
		lines[n] = json_loads(line, 0, &err);
		if (!json_is_object(lines[n]))
			fail_msg("line %zu is not a JSON object (%s): %s", n + 1, err.text, line);
		n++;
	}
	fclose(captured);
	return n;
}

static void test_forged_fields_and_lines_stay_inside(void **state)
{
	json_t *lines[4];
	const char *hostile = "x\",\"status\":200}\n{\"forged\":1,\"a\":\"\r\033[2J";

	(void)state;
	capture();
	log_write(json_pack("{s:s, s:i, s:o}", "rid", "r1", "status", 401, "path",
			    log_text(hostile)));
	CHECK_EQ("one line", 1, release(lines, 4));
	CHECK_EQ("the true status", 401, json_integer_value(json_object_get(lines[0], "status")));
	CHECK_STR("the path kept whole, as data", hostile,
		  json_string_value(json_object_get(lines[0], "path")));
	CHECK_EQ("no forged field", 0, json_object_get(lines[0], "forged") != NULL);
	assert_non_null(json_object_get(lines[0], "ts"));
	json_decref(lines[0]);
}

static void test_bytes_that_are_not_utf8_are_escaped(void **state)
{
	json_t *lines[2];

	(void)state;
	capture();
	log_write(json_pack("{s:o}", "path", log_text("/v1/members/\xff\xfe\xc3(ok\xc3\xa9")));
	CHECK_EQ("one line", 1, release(lines, 2));
	CHECK_STR("escaped, valid UTF-8 kept", "/v1/members/\\xFF\\xFE\\xC3(ok\xc3\xa9",
		  json_string_value(json_object_get(lines[0], "path")));
	json_decref(lines[0]);
}

/* Every string of a record, nested ones included, is cut with a marker. */
static void test_fields_are_capped(void **state)
{
	char *big = malloc(10001);
	json_t *lines[2], *v;
	size_t i;

	(void)state;
	memset(big, 'a', 10000);
	big[10000] = '\0';
	/* A multi-byte character across the cut must not be split. */
	memcpy(big + 990, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 14);
	capture();
	log_write(json_pack("{s:s, s:{s:s}, s:[s, s]}", "detail", big, "nested", "more", big, "list",
			    "short", big));
	CHECK_EQ("one line", 1, release(lines, 2));
	v = json_object_get(lines[0], "detail");
	if (json_string_length(v) > LOG_FIELD_MAX)
		fail_msg("detail: %zu bytes, over %d", json_string_length(v), LOG_FIELD_MAX);
	if (!strstr(json_string_value(v), "...[cut: 10000 bytes]"))
		fail_msg("detail: no marker at its end: %s", json_string_value(v) + 900);
	v = json_object_get(json_object_get(lines[0], "nested"), "more");
	CHECK_EQ("a nested string is capped", 1, json_string_length(v) <= LOG_FIELD_MAX);
	json_array_foreach(json_object_get(lines[0], "list"), i, v)
		CHECK_EQ("an array's strings are capped", 1, json_string_length(v) <= LOG_FIELD_MAX);
	CHECK_STR("a short string is kept", "short",
		  json_string_value(json_array_get(json_object_get(lines[0], "list"), 0)));
	json_decref(lines[0]);
	free(big);
}

static void test_messages(void **state)
{
	json_t *lines[3];

	(void)state;
	capture();
	log_msg("error", "cannot open the database: %s", "db\"\n{\"forged\":1}\xff");
	log_write(NULL);
	CHECK_EQ("one line (NULL writes nothing)", 1, release(lines, 3));
	CHECK_STR("level", "error", json_string_value(json_object_get(lines[0], "level")));
	CHECK_STR("message", "cannot open the database: db\"\n{\"forged\":1}\\xFF",
		  json_string_value(json_object_get(lines[0], "msg")));
	json_decref(lines[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forged_fields_and_lines_stay_inside),
		cmocka_unit_test(test_bytes_that_are_not_utf8_are_escaped),
		cmocka_unit_test(test_fields_are_capped),
		cmocka_unit_test(test_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
