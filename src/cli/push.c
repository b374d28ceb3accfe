/* orgsync push: checks the org locally, sends it to the service as a sync. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "format/plan.h"
#include "util/os.h"

/* What push is asked. */
struct push_args {
	struct remote r;
	const char *dump;
	bool dry_run, wait, wait_decision;
};

static const struct opt options[] = {
	REMOTE_OPTIONS(offsetof(struct push_args, r)),
	{ .type = OPT_SECTION, .help = "Sync:" },
	{ .name = "dry-run", .type = OPT_FLAG, .offset = offsetof(struct push_args, dry_run),
	  .help = "plan only (?dryRun=true): the service changes nothing" },
	{ .name = "wait", .type = OPT_FLAG, .offset = offsetof(struct push_args, wait),
	  .help = "wait for the sync to end; print its counts and report" },
	{ .name = "wait-decision", .type = OPT_FLAG,
	  .offset = offsetof(struct push_args, wait_decision),
	  .help = "with --wait: when the sync pauses, keep waiting until an administrator "
		  "approves or rejects it" },
	{ .name = "dump", .type = OPT_STRING, .metavar = "FILE",
	  .offset = offsetof(struct push_args, dump),
	  .help = "write the JSON request body (the converted payload, what --as-json sends) "
		  "to FILE ('-': standard output). Alone it sends nothing (no key needed); with "
		  "--as-json, --dry-run or --wait it also sends, and then sends exactly these "
		  "bytes" },
	{ .name = NULL },
};

static const struct opt_cmd command = {
	.name = "push",
	.usage = "usage: orgsync push [--members F --teams F --mappings F | --json F | --dir D]\n"
		 "                    [--config config.json] [--url URL] [--api-key KEY]\n"
		 "                    [--dry-run] [--wait [--wait-decision]] [--as-json]\n"
		 "                    [--dump FILE] [--verbose]\n",
	.intro = "Checks the org's files locally (the checks of 'orgsync validate'; a structural\n"
		 "error stops here, before anything is sent), then sends them to the service as\n"
		 "one sync: the CSV files as multipart (a JSON input as is), or with --as-json the\n"
		 "converted JSON payload. Without --wait it ends once the service accepted the\n"
		 "sync, printing its id and URL.\n",
	.opts = options,
	.outro = "Exit: 0 accepted (without --wait) or Success, 1 Warning (records skipped),\n"
		 "      2 invalid input (nothing sent, or refused with 400 or 413),\n"
		 "      3 Paused by the risk threshold, 4 Rejected or Failed, or refused because\n"
		 "      another sync is running (409), 5 authentication or configuration (bad or\n"
		 "      missing key, 403, bad config, plain http to a remote host),\n"
		 "      6 network (DNS, refused, TLS, timeout; 429/503/5xx after the retries).\n"
		 "      With --dump alone: validate's 0, 1 or 2.\n",
};

static void print_counts(const json_t *counts)
{
	struct plan_counts c;

	if (!format_counts_parse(counts, &c))
		format_counts_text(&c, stdout);
}

/* Prints the ended sync and its report; returns the exit code of its status. */
static int print_result(struct remote *r, int64_t id, json_t *sync)
{
	const char *status = json_string_value(json_object_get(sync, "status"));
	const char *reason = json_string_value(json_object_get(sync, "reason"));
	const char *base = client_base_url(r->client);
	json_t *report = NULL, *issues;
	char path[64];
	int code;

	if (!status)
		status = "Failed";
	code = remote_status_exit(status);
	printf("sync %" PRId64 ": %s%s%s%s\n", id, status, reason ? " (" : "", reason ? reason : "",
	       reason ? ")" : "");
	print_counts(json_object_get(sync, "counts"));
	if (!strcmp(status, "Paused")) {
		remote_print_risk(json_object_get(sync, "risk"), "risk: ");
		printf("approve: POST %s/v1/syncs/%" PRId64 "/approve; reject: POST %s/v1/syncs/%"
		       PRId64 "/reject\n", base, id, base, id);
	}
	snprintf(path, sizeof(path), "/v1/syncs/%" PRId64 "/report", id);
	if (remote_get_json(r, path, &report) == 0) {
		issues = json_object_get(report, "issues");
		if (json_array_size(issues)) {
			printf("report (%zu issue%s):\n", json_array_size(issues),
			       json_array_size(issues) == 1 ? "" : "s");
			fflush(stdout);
			remote_print_issues(issues, stdout);
		}
	}
	json_decref(report);
	return code;
}

static int write_dump(struct remote *r, const char *path)
{
	FILE *f = strcmp(path, "-") ? os_fopen(path, "wb") : stdout;
	int ok;

	if (!f) {
		fprintf(stderr, "orgsync push: --dump %s: %s\n", path, strerror(errno));
		return EXIT_CONFIG;
	}
	ok = fwrite(r->json, 1, r->json_len, f) == r->json_len;
	ok = (f == stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
	if (!ok) {
		fprintf(stderr, "orgsync push: --dump %s: cannot write: %s\n", path, strerror(errno));
		return EXIT_CONFIG;
	}
	return 0;
}

int cmd_push(int argc, char **argv)
{
	struct push_args a;
	struct remote *r = &a.r;
	bool sending;
	json_t *sync = NULL;
	int64_t id = 0;
	int first, local = 0, code;

	memset(&a, 0, sizeof(a));
	remote_init(r, "push");
	code = cli_options(&command, EXIT_INVALID, argc, argv, &a, &first);
	if (code != -1)
		goto out;
	a.wait = a.wait || a.wait_decision;
	if ((code = remote_configure(r)) != 0)
		goto out;
	sending = !a.dump || r->as_json || a.dry_run || a.wait;
	/* The configuration is checked before the input is read: a wrong URL
	 * or a missing key is reported at once, and nothing reaches the network
	 * before the local check passes. */
	if (sending && (code = remote_connect(r)) != 0)
		goto out;
	if ((code = remote_check(r, !a.wait, &local)) != 0)
		goto out;
	if (a.dump) {
		if ((code = remote_json(r)) != 0 || (code = write_dump(r, a.dump)) != 0)
			goto out;
		if (!sending) {
			fprintf(stderr, "orgsync push: wrote the request body to %s (%zu bytes); nothing "
				"was sent\n", a.dump, r->json_len);
			code = local;
			goto out;
		}
	}
	code = remote_post_sync(r, a.dry_run, r->as_json || a.dump, &id);
	if (code)
		goto out;
	if (!a.wait) {
		printf("sync %" PRId64 " accepted%s: %s/v1/syncs/%" PRId64 "\n", id,
		       a.dry_run ? " (dry run)" : "", client_base_url(r->client), id);
		code = EXIT_OK;
		goto out;
	}
	code = remote_wait(r, id, a.wait_decision, &sync);
	if (code)
		goto out;
	code = print_result(r, id, sync);
out:
	json_decref(sync);
	remote_free(r);
	return code;
}
