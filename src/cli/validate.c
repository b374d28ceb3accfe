/* orgsync validate: the service's checks, run locally, without a network. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/input.h"
#include "format/json.h"
#include "format/report.h"

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
	{ .name = NULL },
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
		format_report_text(rep, stdout);
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

static void print_json(const struct org *org, const struct report *rep,
		       const struct ingest_info *info, int code)
{
	json_t *props = json_array(), *doc;
	uint32_t i;

	for (i = 0; props && i < org->nprops; i++)
		json_array_append_new(props, json_string(org->prop_names[i]));
	doc = json_pack("{s:s, s:s, s:b, s:{s:I, s:I, s:I}, s:o, s:{s:I, s:I, s:I, s:I}, s:o}",
			"status",
			code == EXIT_OK ? "valid" : code == EXIT_WARNING ? "warnings" : "invalid",
			"format", info->json ? "json" : "csv", "legacy", info->legacy, "counts",
			"members", (json_int_t)org->nmembers, "teams", (json_int_t)org->nteams,
			"mappings", (json_int_t)org->nmappings, "properties", props, "summary",
			"fatal", (json_int_t)report_count(rep, ISSUE_FATAL), "errors",
			(json_int_t)report_count(rep, ISSUE_ERROR), "warnings",
			(json_int_t)report_count(rep, ISSUE_WARNING), "notListed",
			(json_int_t)rep->dropped, "issues",
			format_report_json(rep, (size_t)-1));
	if (doc)
		format_json_pretty(doc, stdout);
	json_decref(doc);
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
