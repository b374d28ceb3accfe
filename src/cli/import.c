/*
 * orgsync import: a sync run here, on the database, through the engine
 * (sync.h) rather than over HTTP: recorded in the org's history with
 * source CLI, guarded by the same risk threshold, its payload kept with
 * the sync so that a paused import can be approved later like any other.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/input.h"
#include "format/names.h"
#include "format/plan.h"
#include "format/report.h"
#include "store/store.h"
#include "sync/lease.h"
#include "sync/sync.h"

struct import_args {
	const char *db;
	int64_t org;
	int mode; /* index in modes; -1: the organization's setting */
	bool dry_run;
	struct cli_input in;
};

static const char *const modes[] = { "full", "partial", NULL };

static const struct opt options[] = {
	CLI_INPUT_OPTIONS(offsetof(struct import_args, in)),
	{ .type = OPT_SECTION, .help = "Sync:" },
	{ .name = "db", .type = OPT_STRING, .metavar = "URL",
	  .offset = offsetof(struct import_args, db),
	  .help = "the service's database (sqlite:PATH or postgres://...)" },
	{ .name = "org", .type = OPT_I64, .min = 1, .max = INT64_MAX, .flags = OPT_NO_DEFAULT,
	  .metavar = "ID", .offset = offsetof(struct import_args, org),
	  .help = "the organization" },
	{ .name = "mode", .type = OPT_ENUM, .values = modes, .flags = OPT_NO_DEFAULT,
	  .offset = offsetof(struct import_args, mode),
	  .help = "full removes who is absent, partial only adds and updates (default: the "
		  "organization's setting)" },
	{ .name = "dry-run", .type = OPT_FLAG, .offset = offsetof(struct import_args, dry_run),
	  .help = "plan only: the sync records its plan, nothing changes" },
	{ .name = NULL },
};

static const struct opt_cmd command = {
	.name = "import",
	.usage = "usage: orgsync import --db URL --org ID\n"
		 "                      [--members F --teams F --mappings F | --json F | --dir D]\n"
		 "                      [--mode full|partial] [--dry-run]\n",
	.intro = "Runs a sync of the organization from local files straight on the database, as\n"
		 "the service would run one pushed to it: recorded in the history with source CLI,\n"
		 "paused when it trips the risk threshold (approve or reject it then through the\n"
		 "API or the web UI). Custom property columns are those the organization defines.\n"
		 "An input with structural errors is refused: nothing is recorded or changed.\n",
	.opts = options,
	.outro = "Exit: 0 Success, 1 Warning (records skipped), 2 invalid input (nothing recorded),\n"
		 "      3 Paused by the risk threshold, 4 Failed, or another sync is running,\n"
		 "      5 configuration (database, unknown organization, SCIM provisioning active).\n",
};

/* Returns an exit code, or -1 to go on. */
static int parse(int argc, char **argv, struct import_args *a)
{
	int first, rc;

	a->mode = -1;
	rc = cli_options(&command, EXIT_CONFIG, argc, argv, a, &first);
	if (rc != -1)
		return rc;
	if (a->in.props_given) {
		fputs("orgsync import: the custom properties are the organization's "
		      "(GET /v1/properties); --properties does not apply\n", stderr);
		return EXIT_CONFIG;
	}
	if (first < argc || !a->db || !a->org) {
		fputs("orgsync import: give --db and --org (and the input); see --help\n", stderr);
		return EXIT_CONFIG;
	}
	if (a->in.json && !strcmp(a->in.json, "-")) {
		fputs("orgsync import: the input is kept with the sync: give a file, not '-'\n",
		      stderr);
		return EXIT_CONFIG;
	}
	return -1;
}

/* A file read as a payload part, in pieces. */
static int read_file(void *f, void *buf, size_t cap, size_t *got)
{
	*got = fread(buf, 1, cap, f);
	return ferror(f) ? -1 : 0;
}

/* The files the input named, as the payload's parts; the caller closes files[]. */
static int open_parts(const struct cli_input *in, FILE *files[PART_COUNT],
		      struct store_source parts[PART_COUNT], size_t *n)
{
	const char *paths[PART_COUNT] = { in->read_members, in->read_teams, in->read_mappings,
					  in->read_json };
	struct stat sb;
	int i;

	*n = 0;
	for (i = 0; i < PART_COUNT; i++) {
		if (!paths[i])
			continue;
		files[i] = fopen(paths[i], "rb");
		if (!files[i] || fstat(fileno(files[i]), &sb) != 0) {
			fprintf(stderr, "orgsync import: %s: %s\n", paths[i], strerror(errno));
			return -1;
		}
		parts[(*n)++] = (struct store_source){ parts_info[i].name, (uint64_t)sb.st_size,
						       read_file, files[i] };
	}
	return 0;
}

static void print_counts(const char *text)
{
	json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
	struct plan_counts c;
	int rc = format_counts_parse(doc, &c);

	json_decref(doc);
	if (!rc)
		format_counts_text(&c, stdout);
}

/* Prints how the sync ended and its report; returns the exit code of its status. */
static int print_result(struct store *st, int64_t org_id, int64_t sync_id)
{
	struct sync_row row = { 0 };
	struct report rep;
	int code;

	report_init(&rep);
	if (store_sync_get(st, org_id, sync_id, &row) != STORE_OK) {
		fprintf(stderr, "orgsync import: cannot read the sync back: %s\n", store_error(st));
		return EXIT_REJECTED;
	}
	printf("sync %" PRId64 ": %s%s%s%s\n", row.number, format_sync_status_name(row.status),
	       row.reason ? " (" : "", row.reason ? row.reason : "", row.reason ? ")" : "");
	print_counts(row.counts_json);
	if (store_sync_report(st, org_id, sync_id, &rep) == STORE_OK && rep.count) {
		printf("report (%zu issue%s):\n", rep.count, rep.count == 1 ? "" : "s");
		format_report_text(&rep, stdout);
	}
	if (row.status == SYNC_PAUSED)
		printf("approve or reject it: POST /v1/syncs/%" PRId64 "/approve or /reject, or "
		       "in the web UI\n", row.number);
	code = row.status == SYNC_SUCCESS ? EXIT_OK
	       : row.status == SYNC_WARNING ? EXIT_WARNING
	       : row.status == SYNC_PAUSED ? EXIT_PAUSED : EXIT_REJECTED;
	report_free(&rep);
	store_sync_row_free(&row);
	return code;
}

/* Why the org takes no sync now, as an exit code; -1 when it does. */
static int admit(struct store *st, const struct import_args *a, struct settings *set)
{
	int64_t running = 0;

	switch (sync_admit(st, a->org, SYNC_SOURCE_CLI, set, &running)) {
	case SYNC_OK:
		return -1;
	case SYNC_EINACTIVE:
		fputs("orgsync import: SCIM provisioning is active for this organization: its "
		      "identity provider owns the members\n", stderr);
		return EXIT_CONFIG;
	case SYNC_EBUSY:
		fprintf(stderr, "orgsync import: sync %" PRId64 " is still running for this "
			"organization; try again when it ends\n", running);
		return EXIT_REJECTED;
	default:
		fprintf(stderr, "orgsync import: %s\n",
			store_error(st)[0] ? store_error(st) : "no such organization");
		return EXIT_CONFIG;
	}
}

/*
 * Ingests the input with the org's own custom properties, as the engine
 * would: the result is handed to it rather than read back.
 */
static int check_input(struct store *st, struct import_args *a, struct sync_prepared *pre)
{
	struct ingest_info info;
	const char *why = NULL;
	char **props = NULL;
	size_t nprops = 0;
	int rc;

	if (store_properties_list(st, a->org, &props, &nprops) != STORE_OK) {
		fprintf(stderr, "orgsync import: %s\n", store_error(st));
		return EXIT_CONFIG;
	}
	a->in.props = (const char **)props;
	a->in.nprops = nprops;
	a->in.props_given = true;
	rc = cli_input_load(&a->in, &pre->org, &pre->rep, &info, &why);
	a->in.props = NULL; /* they are props's, freed here */
	store_strings_free(props, nprops);
	if (rc == -3) {
		fprintf(stderr, "orgsync import: %s\n", why);
		return EXIT_CONFIG;
	}
	if (rc == INGEST_EINVALID) {
		report_sort(&pre->rep);
		format_report_text(&pre->rep, stderr);
		fputs("orgsync import: the input has structural errors; nothing was recorded or "
		      "changed\n", stderr);
		return EXIT_INVALID;
	}
	if (rc) {
		fprintf(stderr, "orgsync import: the input could not be read (%d)\n", rc);
		return EXIT_INVALID;
	}
	return -1;
}

/*
 * How long the import's claim holds without renewal: were it killed, a
 * service on the database takes the sync up after this.
 */
enum { IMPORT_LEASE_MS = 30000 };

/* Registers the sync, claimed by owner, with the files as its payload; an exit code or -1. */
static int begin(struct store *st, const struct import_args *a, const struct settings *set,
		 const char *owner, int64_t *sync_id)
{
	FILE *files[PART_COUNT] = { NULL };
	struct store_source parts[PART_COUNT];
	int64_t running = 0;
	size_t n = 0, i;
	int rc = EXIT_CONFIG;

	if (open_parts(&a->in, files, parts, &n) < 0)
		goto out;
	rc = store_sync_begin_sources(st, a->org,
				      &(struct sync_meta){ SYNC_SOURCE_CLI,
							   a->mode >= 0 ? modes[a->mode]
							   : set->mode == PLAN_PARTIAL ? "partial" : "full",
							   a->in.read_json ? "json" : "csv", a->dry_run,
							   NULL, 0, owner, IMPORT_LEASE_MS },
				      parts, n, sync_id, &running);
	if (rc == STORE_EBUSY) {
		fprintf(stderr, "orgsync import: sync %" PRId64 " is still running for this "
			"organization; try again when it ends\n", running);
		rc = EXIT_REJECTED;
	} else if (rc) {
		fprintf(stderr, "orgsync import: cannot record the sync: %s\n", store_error(st));
		rc = EXIT_CONFIG;
	} else {
		rc = -1;
	}
out:
	for (i = 0; i < PART_COUNT; i++)
		if (files[i])
			fclose(files[i]);
	return rc;
}

int cmd_import(int argc, char **argv)
{
	struct import_args a = { 0 };
	struct store *st = NULL;
	struct sync_prepared *pre = sync_prepared_new();
	struct settings set;
	struct lease *lease = NULL;
	char err[256], owner[LEASE_OWNER_MAX];
	int64_t sync_id = 0;
	int rc;

	if (!pre)
		return EXIT_CONFIG;
	if ((rc = parse(argc, argv, &a)) != -1)
		goto out;
	if (store_open(a.db, &st, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "orgsync import: cannot open the database: %s\n", err);
		rc = EXIT_CONFIG;
		goto out;
	}
	lease_owner_id(owner);
	if ((rc = admit(st, &a, &set)) != -1 || (rc = check_input(st, &a, pre)) != -1 ||
	    (rc = begin(st, &a, &set, owner, &sync_id)) != -1)
		goto out;
	if (lease_start(a.db, sync_id, owner, IMPORT_LEASE_MS, &lease, err, sizeof(err)) < 0)
		fprintf(stderr, "orgsync import: the sync's lease is not renewed (%s): if it takes "
			"longer than %d s, a service on the database may take it over\n", err,
			IMPORT_LEASE_MS / 1000);
	sync_process(st, sync_id, a.org, owner, pre, NULL);
	pre = NULL; /* consumed */
	lease_stop(lease);
	rc = print_result(st, a.org, sync_id);
out:
	sync_prepared_free(pre);
	store_close(st);
	cli_input_free(&a.in);
	return rc;
}
