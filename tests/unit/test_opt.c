/*
 * util/opt: options as data. Contracts from the header: the defaults come
 * from the table (a default outside its own range is refused), each type
 * fills its field, every refusal names the option (unknown, ambiguous, a
 * missing value, a value given to a flag, a repeated value, a number that
 * is not decimal digits or is out of range, an enum value not listed, an
 * unexpected operand), --help stops parsing, and the help is generated
 * from the table: wrapped, sections, hidden options left out, defaults
 * appended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "unit/check.h"

#include "util/buf.h"
#include "util/opt.h"

struct cfg {
	const char *db, *out;
	unsigned threads;
	long limit;
	size_t body;
	unsigned long long window;
	int64_t org;
	double rate;
	int format;
	bool quiet;
	char tag[8];
};

static const char *const formats[] = { "text", "json", NULL };

static int take_tag(void *field, const char *arg, char *err, size_t errlen)
{
	if (strlen(arg) >= 8) {
		snprintf(err, errlen, "a tag is shorter than 8 bytes, not '%s'", arg);
		return -1;
	}
	strcpy(field, arg);
	return 0;
}

static const struct opt options[] = {
	{ .name = "db", .type = OPT_STRING, .offset = offsetof(struct cfg, db), .metavar = "URL",
	  .sdef = "sqlite:x.db", .help = "the database" },
	{ .name = "output", .short_name = 'o', .type = OPT_STRING, .metavar = "OUT",
	  .offset = offsetof(struct cfg, out), .help = "where to write" },
	{ .name = "threads", .type = OPT_UINT, .offset = offsetof(struct cfg, threads), .min = 1,
	  .max = 1024, .def = 4, .help = "HTTP threads" },
	{ .name = "limit", .type = OPT_LONG, .offset = offsetof(struct cfg, limit), .min = 1,
	  .max = 500, .def = 50, .help = "lines per section" },
	{ .name = "max-body", .type = OPT_SIZE, .offset = offsetof(struct cfg, body), .min = 1024,
	  .max = 1ull << 40, .def = 256u << 20, .metavar = "BYTES",
	  .help = "the largest request body, which is a long sentence that has to be wrapped "
		  "over more than one line of the help" },
	{ .type = OPT_SECTION, .help = "Other:" },
	{ .name = "window", .type = OPT_U64, .flags = OPT_HIDDEN, .offset = offsetof(struct cfg, window),
	  .max = UINT64_MAX, .def = 7 },
	{ .name = "org", .type = OPT_I64, .flags = OPT_NO_DEFAULT, .offset = offsetof(struct cfg, org),
	  .min = 1, .max = INT64_MAX, .metavar = "ID", .help = "the organization" },
	{ .name = "rate", .type = OPT_DOUBLE, .offset = offsetof(struct cfg, rate), .max = 1000,
	  .def = 100, .help = "per second" },
	{ .name = "format", .short_name = 'f', .type = OPT_ENUM, .values = formats,
	  .offset = offsetof(struct cfg, format), .help = "how to print" },
	{ .name = "quiet", .short_name = 'q', .type = OPT_FLAG, .offset = offsetof(struct cfg, quiet),
	  .help = "say less" },
	{ .name = "tag", .type = OPT_FUNC, .fn = take_tag, .offset = offsetof(struct cfg, tag),
	  .metavar = "TAG", .help = "a short label" },
	{ .name = NULL },
};

static const struct opt_cmd command = {
	.name = "test",
	.usage = "usage: test [options]\n",
	.intro = "Tests the option layer.\n",
	.opts = options,
	.outro = "Exit: 0.\n",
};

static const struct opt_cmd with_operands = {
	.name = "test", .usage = "usage: test [options] ARG...\n", .opts = options, .operands = true,
};

/* Parses the NULL-terminated arguments after a program name; the status, err in out. */
static int parse(const struct opt_cmd *cmd, struct cfg *c, char *err, size_t len, int *first,
		 ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = "test";
	va_start(ap, first);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	return opt_parse(cmd, argc, argv, c, first, err, len);
}

static void test_opt_defaults_come_from_the_table(void **state)
{
	struct cfg c;
	char err[256];
	int first;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.org = -9; /* OPT_NO_DEFAULT: left as the caller set it */
	CHECK_EQ("no options", OPT_OK, parse(&command, &c, err, sizeof(err), &first, NULL));
	CHECK_STR("string default", "sqlite:x.db", c.db);
	CHECK_EQ("no default string", 1, c.out == NULL);
	CHECK_EQ("unsigned default", 4, c.threads);
	CHECK_EQ("long default", 50, c.limit);
	CHECK_EQ("size default", 256u << 20, c.body);
	CHECK_EQ("u64 default (hidden option)", 7, c.window);
	CHECK_EQ("no default: untouched", -9, c.org);
	CHECK_EQ("double default", 1, c.rate == 100.0);
	CHECK_EQ("enum default: the index", 0, c.format);
	CHECK_EQ("flag default", 0, c.quiet);
	CHECK_EQ("operands start after the options", 1, first);
}

static void test_opt_each_type_fills_its_field(void **state)
{
	struct cfg c;
	char err[256];
	int first;

	(void)state;
	memset(&c, 0, sizeof(c));
	CHECK_EQ("every type", OPT_OK,
		 parse(&command, &c, err, sizeof(err), &first, "--db", "sqlite:/a", "-o", "out/",
		       "--threads=8", "--limit", "500", "--max-body", "1024", "--window",
		       "18446744073709551615", "--org", "42", "--rate", "0", "-f", "json", "-q",
		       "--quiet", "--tag", "abc", NULL));
	CHECK_STR("string", "sqlite:/a", c.db);
	CHECK_STR("short string", "out/", c.out);
	CHECK_EQ("--name=value", 8, c.threads);
	CHECK_EQ("long at its maximum", 500, c.limit);
	CHECK_EQ("size at its minimum", 1024, c.body);
	CHECK_EQ("u64: all 64 bits", 1, c.window == UINT64_MAX);
	CHECK_EQ("i64", 42, c.org);
	CHECK_EQ("double", 1, c.rate == 0.0);
	CHECK_EQ("enum index", 1, c.format);
	CHECK_EQ("a flag may be repeated", 1, c.quiet);
	CHECK_STR("function", "abc", c.tag);
}

/* Expects a refusal with exactly this message. */
static void refused(const char *what, const char *expected, ...)
{
	char *argv[16], err[256];
	struct cfg c;
	int argc = 0, first, rc;
	va_list ap;

	argv[argc++] = "test";
	va_start(ap, expected);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	memset(&c, 0, sizeof(c));
	rc = opt_parse(&command, argc, argv, &c, &first, err, sizeof(err));
	if (rc != OPT_EUSAGE)
		fail_msg("%s: expected OPT_EUSAGE, got %d", what, rc);
	CHECK_STR(what, expected, err);
}

static void test_opt_refusals_name_the_option(void **state)
{
	(void)state;
	refused("unknown long option", "unknown option '--colour'", "--colour", "red", NULL);
	refused("unknown long option with a value", "unknown option '--colour'", "--colour=red",
		NULL);
	refused("unknown short option", "unknown option '-z'", "-z", NULL);
	refused("an ambiguous prefix", "'--t' is the start of several options: spell it out",
		"--t", "x", NULL);
	refused("missing value", "--output needs a value (OUT)", "--output", NULL);
	refused("missing number", "--threads needs a value (a whole number)", "--threads", NULL);
	refused("a value for a flag", "--quiet takes no value: '--quiet=yes'", "--quiet=yes", NULL);
	refused("repeated", "--db is given twice: give it once", "--db", "a", "--db", "b", NULL);
	refused("repeated through its short name", "--output is given twice: give it once", "-o",
		"a", "--output", "b", NULL);
	refused("trailing garbage",
		"--threads wants a whole number from 1 to 1024, not '80x': '80x' is not decimal "
		"digits alone", "--threads", "80x", NULL);
	refused("a sign", "--limit wants a whole number from 1 to 500, not '+5': '+5' is not "
		"decimal digits alone", "--limit", "+5", NULL);
	refused("negative", "--threads wants a whole number from 1 to 1024, not '-1': '-1' is "
		"not decimal digits alone", "--threads=-1", NULL);
	refused("empty", "--threads wants a whole number from 1 to 1024, not '': the value is "
		"empty", "--threads=", NULL);
	refused("below", "--max-body wants a whole number from 1024 to 1099511627776, not '0': "
		"0 is below the minimum 1024", "--max-body", "0", NULL);
	refused("above", "--limit wants a whole number from 1 to 500, not '501': 501 is above the "
		"maximum 500", "--limit", "501", NULL);
	refused("overflow", "--window wants a whole number from 0 to 18446744073709551615, not "
		"'18446744073709551616': 18446744073709551616 is above the maximum "
		"18446744073709551615", "--window", "18446744073709551616", NULL);
	refused("enum", "--format wants text or json, not 'xml'", "--format", "xml", NULL);
	refused("function", "--tag: a tag is shorter than 8 bytes, not 'much-too-long'", "--tag",
		"much-too-long", NULL);
	refused("an operand where none is taken", "unexpected argument 'extra'", "-q", "extra",
		NULL);
}

static void test_opt_operands_and_help(void **state)
{
	struct cfg c;
	char err[256];
	int first = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	CHECK_EQ("operands in any order", OPT_OK,
		 parse(&with_operands, &c, err, sizeof(err), &first, "create", "--db", "d", "acme",
		       "--", "--not-an-option", NULL));
	CHECK_EQ("the operands come last", 4, first);
	CHECK_EQ("--help", OPT_HELP,
		 parse(&command, &c, err, sizeof(err), &first, "--threads", "2", "--help", NULL));
	CHECK_EQ("-h", OPT_HELP, parse(&command, &c, err, sizeof(err), &first, "-h", NULL));
	/* A refusal in the middle of "-qz" leaves getopt inside that argument: the next parse starts afresh. */
	CHECK_EQ("a cluster with an unknown letter", OPT_EUSAGE,
		 parse(&command, &c, err, sizeof(err), &first, "-qzq", NULL));
	CHECK_EQ("the next parse is not confused by it", OPT_OK,
		 parse(&command, &c, err, sizeof(err), &first, "-q", NULL));
}

static void test_opt_default_outside_its_range_is_refused(void **state)
{
	static const struct opt bad[] = {
		{ .name = "port", .type = OPT_UINT, .min = 1, .max = 65535, .def = 0, .help = "x" },
		{ .name = NULL },
	};
	static const struct opt_cmd cmd = { .name = "bad", .usage = "", .opts = bad };
	unsigned port = 0;
	char *argv[] = { "bad", NULL };
	char err[128];
	int first;

	(void)state;
	CHECK_EQ("refused", OPT_EUSAGE, opt_parse(&cmd, 1, argv, &port, &first, err, sizeof(err)));
	CHECK_STR("says which", "--port: the default 0 is outside 1 to 65535", err);
}

static void test_opt_range_wider_than_its_field_is_refused(void **state)
{
	static const struct opt bad[] = {
		{ .name = "count", .type = OPT_UINT, .max = UINT64_MAX, .help = "x" },
		{ .name = NULL },
	};
	static const struct opt_cmd cmd = { .name = "bad", .usage = "", .opts = bad };
	unsigned count = 0;
	char *argv[] = { "bad", NULL };
	char err[128];
	int first;

	(void)state;
	CHECK_EQ("refused", OPT_EUSAGE, opt_parse(&cmd, 1, argv, &count, &first, err, sizeof(err)));
	CHECK_STR("says which", "--count: the maximum 18446744073709551615 does not fit the field",
		  err);
}

static void test_opt_help_is_generated_from_the_table(void **state)
{
	static const char expected[] =
		"usage: test [options]\n"
		"\n"
		"Tests the option layer.\n"
		"\n"
		"  --db URL              the database (default sqlite:x.db)\n"
		"  -o, --output OUT      where to write\n"
		"  --threads N           HTTP threads (default 4)\n"
		"  --limit N             lines per section (default 50)\n"
		"  --max-body BYTES      the largest request body, which is a long sentence that\n"
		"                        has to be wrapped over more than one line of the help\n"
		"                        (default 268435456 = 256 MiB)\n"
		"\n"
		"Other:\n"
		"  --org ID              the organization\n"
		"  --rate N              per second (default 100)\n"
		"  -f, --format text|json\n"
		"                        how to print (default text)\n"
		"  -q, --quiet           say less\n"
		"  --tag TAG             a short label\n"
		"\n"
		"Exit: 0.\n";
	struct buf b;

	(void)state;
	buf_init(&b);
	CHECK_EQ("help", 0, opt_help(&command, &b));
	CHECK_STR("the help text", expected, b.data);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opt_defaults_come_from_the_table),
		cmocka_unit_test(test_opt_each_type_fills_its_field),
		cmocka_unit_test(test_opt_refusals_name_the_option),
		cmocka_unit_test(test_opt_operands_and_help),
		cmocka_unit_test(test_opt_default_outside_its_range_is_refused),
		cmocka_unit_test(test_opt_range_wider_than_its_field_is_refused),
		cmocka_unit_test(test_opt_help_is_generated_from_the_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
