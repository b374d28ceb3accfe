/* orgsync convert: any accepted input → the current CSV trio or JSON payload. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/input.h"
#include "model/export.h"
#include "util/buf.h"
#include "util/os.h"
#include "util/path.h"

static const char help[] =
	"usage: orgsync convert [input options] [--to csv|json] -o OUT [--drop-invalid]\n\n"
	"Reads an org in any accepted format (current or legacy, CSV or JSON) and writes\n"
	"it in the current format: with --to csv (default) OUT is a folder that receives\n"
	"members.csv, teams.csv and teams-mappings.csv; with --to json OUT is a file,\n"
	"or '-' for standard output. Problems are reported on standard error.\n\n"
	"A converted org is the whole truth once pushed: a member, team or mapping left\n"
	"out of it would be removed. So when a record is invalid (it would be left out)\n"
	"nothing is written, not even an existing OUT is touched; fix the input, or\n"
	"give --drop-invalid to write the rest and have each dropped record named.\n\n"
	CLI_INPUT_HELP
	"Output:\n"
	"  --to csv|json       the format to write\n"
	"  -o, --output OUT    the folder (csv) or file (json, '-' for stdout)\n"
	"  --compact           JSON on one line\n"
	"  --drop-invalid      write the org without its invalid records\n\n"
	"Exit: 0 converted, 1 invalid records (nothing written; with --drop-invalid,\n"
	"      written without them) or columns ignored, 2 invalid input or bad options\n"
	"      (nothing is written).\n";

typedef int (*writer_fn)(const struct org *, FILE *);

static int write_json_pretty(const struct org *o, FILE *f)
{
	return export_json(o, f, 1);
}

static int write_json_compact(const struct org *o, FILE *f)
{
	return export_json(o, f, 0);
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
		{ "members.csv", export_members_csv },
		{ "teams.csv", export_teams_csv },
		{ "teams-mappings.csv", export_mappings_csv },
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

static int write_output(const char *to, const char *out, int compact, const struct org *o)
{
	writer_fn json = compact ? write_json_compact : write_json_pretty;

	if (!strcmp(to, "csv"))
		return write_csv_dir(out, o);
	if (!strcmp(out, "-"))
		return json(o, stdout);
	return write_file(out, o, json);
}

int cmd_convert(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_INPUT_OPTIONS,
		{ "to", required_argument, NULL, 't' },
		{ "output", required_argument, NULL, 'o' },
		{ "compact", no_argument, NULL, 'c' },
		{ "drop-invalid", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_input in = { 0 };
	struct ingest_info info = { false, false };
	struct org org;
	struct report rep;
	const char *to = "csv", *out = NULL, *why = NULL;
	int compact = 0, drop_invalid = 0, c, rc, code = EXIT_INVALID;
	size_t invalid;

	org_init(&org);
	report_init(&rep);
	optind = 1;
	while ((c = getopt_long(argc, argv, "t:o:h", opts, NULL)) != -1) {
		if (cli_input_option(&in, c, optarg) > 0)
			continue;
		if (c == 't' && (!strcmp(optarg, "csv") || !strcmp(optarg, "json"))) {
			to = optarg;
		} else if (c == 'o') {
			out = optarg;
		} else if (c == 'c') {
			compact = 1;
		} else if (c == 'D') {
			drop_invalid = 1;
		} else if (c == 'h') {
			fputs(help, stdout);
			code = EXIT_OK;
			goto out;
		} else {
			fputs(help, stderr);
			goto out;
		}
	}
	if (!out) {
		fputs("orgsync convert: say where to write with -o (a folder for csv, a file or - for json)\n",
		      stderr);
		goto out;
	}
	if (!strcmp(out, "-") && !strcmp(to, "csv")) {
		fputs("orgsync convert: -o - needs --to json (the CSV form is three files: give a folder)\n",
		      stderr);
		goto out;
	}
	rc = cli_input_load(&in, &org, &rep, &info, &why);
	if (rc == -3 || rc == INGEST_ENOMEM) {
		fprintf(stderr, "orgsync convert: %s\n", rc == -3 ? why : "out of memory");
		goto out;
	}
	report_print_text(&rep, stderr);
	if (rc == INGEST_EINVALID) {
		fputs("orgsync convert: the input is invalid; nothing was written\n", stderr);
		goto out;
	}
	/* Every record error skips its record: the output would lack it. */
	invalid = report_count(&rep, ISSUE_ERROR);
	if (invalid && !drop_invalid) {
		fprintf(stderr,
			"orgsync convert: nothing was written: %zu problem%s would leave %s record%s "
			"out of the output (a sync removes what its input lacks). Fix the input, or "
			"give --drop-invalid to write the rest.\n",
			invalid, invalid == 1 ? "" : "s", invalid == 1 ? "its" : "their",
			invalid == 1 ? "" : "s");
		code = EXIT_WARNING;
		goto out;
	}
	if (write_output(to, out, compact, &org) != 0) {
		code = EXIT_CONFIG;
		goto out;
	}
	if (invalid)
		print_dropped(&rep, stderr);
	code = invalid || report_count(&rep, ISSUE_WARNING) ? EXIT_WARNING : EXIT_OK;
	fprintf(stderr, "converted %s: %u members, %u teams, %u mappings\n", cli_input_format(&info),
		org.nmembers, org.nteams, org.nmappings);
out:
	cli_input_free(&in);
	report_free(&rep);
	org_free(&org);
	return code;
}
