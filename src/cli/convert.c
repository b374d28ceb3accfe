/* orgsync convert: any accepted input → the current CSV trio or JSON payload. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/input.h"
#include "format/csv.h"
#include "format/json.h"
#include "format/report.h"
#include "util/buf.h"
#include "util/os.h"
#include "util/path.h"

/* What convert is asked. */
struct convert_args {
	struct cli_input in;
	int json; /* --to: 0 csv, 1 json */
	const char *out;
	bool compact, drop_invalid;
};

static const char *const targets[] = { "csv", "json", NULL };

static const struct opt options[] = {
	CLI_INPUT_OPTIONS(offsetof(struct convert_args, in)),
	{ .type = OPT_SECTION, .help = "Output:" },
	{ .name = "to", .short_name = 't', .type = OPT_ENUM, .values = targets,
	  .offset = offsetof(struct convert_args, json), .help = "the format to write" },
	{ .name = "output", .short_name = 'o', .type = OPT_STRING, .metavar = "OUT",
	  .offset = offsetof(struct convert_args, out),
	  .help = "the folder (csv) or file (json, '-' for stdout)" },
	{ .name = "compact", .type = OPT_FLAG, .offset = offsetof(struct convert_args, compact),
	  .help = "JSON on one line" },
	{ .name = "drop-invalid", .type = OPT_FLAG,
	  .offset = offsetof(struct convert_args, drop_invalid),
	  .help = "write the org without its invalid records" },
	{ .name = NULL },
};

static const struct opt_cmd command = {
	.name = "convert",
	.usage = "usage: orgsync convert [input options] [--to csv|json] -o OUT [--drop-invalid]\n",
	.intro = "Reads an org in any accepted format (current or legacy, CSV or JSON) and writes\n"
		 "it in the current format: with --to csv (default) OUT is a folder that receives\n"
		 "members.csv, teams.csv and teams-mappings.csv; with --to json OUT is a file,\n"
		 "or '-' for standard output. Problems are reported on standard error.\n\n"
		 "A converted org is the whole truth once pushed: a member, team or mapping left\n"
		 "out of it would be removed. So when a record is invalid (it would be left out)\n"
		 "nothing is written, not even an existing OUT is touched; fix the input, or\n"
		 "give --drop-invalid to write the rest and have each dropped record named.\n",
	.opts = options,
	.outro = "Exit: 0 converted, 1 invalid records (nothing written; with --drop-invalid,\n"
		 "      written without them) or columns ignored, 2 invalid input or bad options\n"
		 "      (nothing is written).\n",
};

typedef int (*writer_fn)(const struct org *, FILE *);

static int write_json_pretty(const struct org *o, FILE *f)
{
	return format_json_org(o, f, 1);
}

static int write_json_compact(const struct org *o, FILE *f)
{
	return format_json_org(o, f, 0);
}

/* Writes through a temporary file renamed into place: never half a file. */
static int write_file(const char *path, const struct org *o, writer_fn fn)
{
	struct buf tmp;
	FILE *f;
	int rc = -1;

	buf_init(&tmp);
	if (buf_printf(&tmp, "%s.tmp.%ld", path, os_pid()) < 0)
		goto out;
	f = os_fopen(tmp.data, "w");
	if (!f)
		goto out;
	rc = fn(o, f);
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0)
		rc = os_replace(tmp.data, path);
	if (rc != 0)
		os_remove(tmp.data);
out:
	if (rc != 0)
		fprintf(stderr, "orgsync convert: cannot write %s: %s\n", path, strerror(errno));
	buf_free(&tmp);
	return rc;
}

static int write_csv_dir(const char *dir, const struct org *o)
{
	static const struct {
		const char *name;
		writer_fn fn;
	} files[] = {
		{ "members.csv", format_csv_members },
		{ "teams.csv", format_csv_teams },
		{ "teams-mappings.csv", format_csv_mappings },
	};
	char *path = NULL;
	size_t i;
	int rc = 0;

	if (os_mkdir(dir) != 0 && errno != EEXIST) {
		fprintf(stderr, "orgsync convert: cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (i = 0; i < 3 && rc == 0; i++) {
		rc = path_join(PATH_NATIVE, dir, files[i].name, &path);
		if (rc == 0)
			rc = write_file(path, o, files[i].fn);
		free(path);
		path = NULL;
	}
	return rc;
}

/*
 * Names each record the output leaves out, one line per input line (a row
 * with several problems is one record): where, which record, and why.
 */
static void print_dropped(const struct report *rep, FILE *out)
{
	const struct issue *prev = NULL;
	size_t i;

	for (i = 0; i < rep->count; i++) {
		const struct issue *is = &rep->issues[i];

		if (is->severity != ISSUE_ERROR)
			continue;
		if (prev && prev->line == is->line && !strcmp(prev->file, is->file) &&
		    !strcmp(prev->record_id, is->record_id)) {
			fprintf(out, "; %s", is->message);
		} else {
			if (prev)
				putc('\n', out);
			fprintf(out, "orgsync convert: dropped %s:%u record '%s': %s", is->file,
				is->line, is->record_id, is->message);
		}
		prev = is;
	}
	if (prev)
		putc('\n', out);
	if (rep->dropped)
		fprintf(out, "orgsync convert: ... and the records of %zu more issues not listed\n",
			rep->dropped);
}

static int write_output(bool json, const char *out, bool compact, const struct org *o)
{
	writer_fn fn = compact ? write_json_compact : write_json_pretty;

	if (!json)
		return write_csv_dir(out, o);
	if (!strcmp(out, "-"))
		return fn(o, stdout);
	return write_file(out, o, fn);
}

int cmd_convert(int argc, char **argv)
{
	struct convert_args a = { 0 };
	struct ingest_info info = { false, false };
	struct org org;
	struct report rep;
	const char *why = NULL;
	int first, rc, code;
	size_t invalid;

	org_init(&org);
	report_init(&rep);
	code = cli_options(&command, EXIT_INVALID, argc, argv, &a, &first);
	if (code != -1)
		goto out;
	code = EXIT_INVALID;
	if (!a.out) {
		fputs("orgsync convert: say where to write with -o (a folder for csv, a file or - for json)\n",
		      stderr);
		goto out;
	}
	if (!strcmp(a.out, "-") && !a.json) {
		fputs("orgsync convert: -o - needs --to json (the CSV form is three files: give a folder)\n",
		      stderr);
		goto out;
	}
	rc = cli_input_load(&a.in, &org, &rep, &info, &why);
	if (rc == -3 || rc == INGEST_ENOMEM) {
		fprintf(stderr, "orgsync convert: %s\n", rc == -3 ? why : "out of memory");
		goto out;
	}
	format_report_text(&rep, stderr);
	if (rc == INGEST_EINVALID) {
		fputs("orgsync convert: the input is invalid; nothing was written\n", stderr);
		goto out;
	}
	/* Every record error skips its record: the output would lack it. */
	invalid = report_count(&rep, ISSUE_ERROR);
	if (invalid && !a.drop_invalid) {
		fprintf(stderr,
			"orgsync convert: nothing was written: %zu problem%s would leave %s record%s "
			"out of the output (a sync removes what its input lacks). Fix the input, or "
			"give --drop-invalid to write the rest.\n",
			invalid, invalid == 1 ? "" : "s", invalid == 1 ? "its" : "their",
			invalid == 1 ? "" : "s");
		code = EXIT_WARNING;
		goto out;
	}
	if (write_output(a.json, a.out, a.compact, &org) != 0) {
		code = EXIT_CONFIG;
		goto out;
	}
	if (invalid)
		print_dropped(&rep, stderr);
	code = invalid || report_count(&rep, ISSUE_WARNING) ? EXIT_WARNING : EXIT_OK;
	fprintf(stderr, "converted %s: %u members, %u teams, %u mappings\n", cli_input_format(&info),
		org.nmembers, org.nteams, org.nmappings);
out:
	cli_input_free(&a.in);
	report_free(&rep);
	org_free(&org);
	return code;
}
