/* orgsync validate: the service's checks, run locally, without a network. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "cli/cli.h"
#include "cli/input.h"

/* What validate is asked. */
struct validate_args {
	struct cli_input in;
	int json; /* --format: 0 text, 1 json */
	bool quiet;
};

static const char *const formats[] = { "text", "json", NULL };

static const struct opt options[] = {
	CLI_INPUT_OPTIONS(offsetof(struct validate_args, in)),
	{ .type = OPT_SECTION, .help = "Output:" },
	{ .name = "format", .short_name = 'f', .type = OPT_ENUM, .values = formats,
	  .offset = offsetof(struct validate_args, json),
	  .help = "human text, or a JSON document for machines" },
	{ .name = "quiet", .short_name = 'q', .type = OPT_FLAG,
	  .offset = offsetof(struct validate_args, quiet), .help = "print the summary only (text)" },
	{ NULL },
};

static const struct opt_cmd command = {
	.name = "validate",
	.usage = "usage: orgsync validate [--members F --teams F --mappings F | --json F | --dir D]\n"
		 "                        [--format text|json] [--quiet]\n",
	.intro = "Checks the org's files exactly as the service does and prints every problem\n"
		 "with its file, line, column and record. Nothing is sent anywhere.\n",
	.opts = options,
	.outro = "Exit: 0 valid, 1 valid with warnings (some records would be skipped),\n"
		 "      2 invalid (a structural error: the service would refuse the sync).\n",
};

static int exit_code(const struct report *rep)
{
	if (report_count(rep, ISSUE_FATAL))
		return EXIT_INVALID;
	if (report_count(rep, ISSUE_ERROR) || report_count(rep, ISSUE_WARNING))
		return EXIT_WARNING;
	return EXIT_OK;
}

static const char *verdict(int code)
{
	return code == EXIT_OK ? "valid" : code == EXIT_WARNING ? "valid with warnings" : "invalid";
}

static void print_text(const struct org *org, const struct report *rep,
		       const struct ingest_info *info, int code, int quiet)
{
	size_t fatal = report_count(rep, ISSUE_FATAL), errors = report_count(rep, ISSUE_ERROR),
	       warnings = report_count(rep, ISSUE_WARNING);

	if (!quiet)
		report_print_text(rep, stdout);
	if (fatal)
		printf("%s: %zu structural error%s: the sync would be refused, nothing would change\n",
		       cli_input_format(info), fatal, fatal == 1 ? "" : "s");
	else
		printf("%s: %u member%s, %u team%s, %u mapping%s, %u custom propert%s\n",
		       cli_input_format(info), org->nmembers, org->nmembers == 1 ? "" : "s",
		       org->nteams, org->nteams == 1 ? "" : "s", org->nmappings,
		       org->nmappings == 1 ? "" : "s", org->nprops, org->nprops == 1 ? "y" : "ies");
	printf("%zu record%s skipped, %zu warning%s: %s\n", errors, errors == 1 ? "" : "s",
	       warnings, warnings == 1 ? "" : "s", verdict(code));
}

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gen_count(yajl_gen g, const char *k, long long v)
{
	gen_str(g, k);
	yajl_gen_integer(g, v);
}

static void print_json(const struct org *org, const struct report *rep,
		       const struct ingest_info *info, int code)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *out;
	size_t len;
	uint32_t i;

	if (!g)
		return;
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_map_open(g);
	gen_str(g, "status");
	gen_str(g, code == EXIT_OK ? "valid" : code == EXIT_WARNING ? "warnings" : "invalid");
	gen_str(g, "format");
	gen_str(g, info->json ? "json" : "csv");
	gen_str(g, "legacy");
	yajl_gen_bool(g, info->legacy);
	gen_str(g, "counts");
	yajl_gen_map_open(g);
	gen_count(g, "members", org->nmembers);
	gen_count(g, "teams", org->nteams);
	gen_count(g, "mappings", org->nmappings);
	yajl_gen_map_close(g);
	gen_str(g, "properties");
	yajl_gen_array_open(g);
	for (i = 0; i < org->nprops; i++)
		gen_str(g, org->prop_names[i]);
	yajl_gen_array_close(g);
	gen_str(g, "summary");
	yajl_gen_map_open(g);
	gen_count(g, "fatal", (long long)report_count(rep, ISSUE_FATAL));
	gen_count(g, "errors", (long long)report_count(rep, ISSUE_ERROR));
	gen_count(g, "warnings", (long long)report_count(rep, ISSUE_WARNING));
	gen_count(g, "notListed", (long long)rep->dropped);
	yajl_gen_map_close(g);
	gen_str(g, "issues");
	report_gen_json(rep, g);
	yajl_gen_map_close(g);
	yajl_gen_get_buf(g, &out, &len);
	fwrite(out, 1, len, stdout);
	yajl_gen_free(g);
}

int cmd_validate(int argc, char **argv)
{
	struct validate_args a = { 0 };
	struct ingest_info info = { false, false };
	struct org org;
	struct report rep;
	const char *why = NULL;
	int first, rc, code;

	org_init(&org);
	report_init(&rep);
	code = cli_options(&command, EXIT_INVALID, argc, argv, &a, &first);
	if (code != -1)
		goto out;
	code = EXIT_INVALID;
	rc = cli_input_load(&a.in, &org, &rep, &info, &why);
	if (rc == INGEST_ENOMEM) {
		fputs("orgsync validate: out of memory\n", stderr);
		goto out;
	}
	if (rc == -3) {
		fprintf(stderr, "orgsync validate: %s\n", why);
		goto out;
	}
	code = exit_code(&rep);
	if (a.json)
		print_json(&org, &rep, &info, code);
	else
		print_text(&org, &rep, &info, code, a.quiet);
out:
	cli_input_free(&a.in);
	report_free(&rep);
	org_free(&org);
	return code;
}
