/* orgsync plan: a dry run against the service, shown as a diff of the org. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/remote.h"

static const char help[] =
	"usage: orgsync plan [--members F --teams F --mappings F | --json F | --dir D]\n"
	"                    [--config config.json] [--url URL] [--api-key KEY]\n"
	"                    [--format text|json] [--limit N]\n\n"
	"Sends the org as a dry run (the service changes nothing), waits for it, and\n"
	"prints what a real sync would do: members created, updated (which fields),\n"
	"reactivated, deactivated, deleted; teams created, renamed (old -> new),\n"
	"deleted; mappings added and removed; then the report.\n\n"
	CLI_INPUT_HELP
	REMOTE_HELP
	"Output:\n"
	"  --format text|json  the diff (default), or the plan JSON as the service gives it\n"
	"  --limit N           lines per section in the diff (default 50)\n\n"
	"Exit: 0 nothing wrong, 1 records would be skipped, 2 invalid input,\n"
	"      3 the sync would be paused by the risk threshold, 4 the dry run failed or\n"
	"      another sync is running, 5 authentication or configuration, 6 network.\n";

enum { OPT_FORMAT = 0x300, OPT_LIMIT };

static long long total(json_t *counts, const char *group, const char *const *names)
{
	long long n = 0;

	for (; *names; names++)
		n += (long long)json_integer_value(json_object_get(json_object_get(counts, group), *names));
	return n;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static void member_line(json_t *m)
{
	json_t *changed = json_object_get(m, "changed"), *f;
	size_t i;

	printf("  %-10s  %s  %s", str(m, "action"), str(m, "externalMemberId"), str(m, "email"));
	if (json_array_size(changed)) {
		fputs(":", stdout);
		json_array_foreach(changed, i, f)
			printf("%s %s", i ? "," : "", json_string_value(f));
	}
	if (json_is_true(json_object_get(m, "invite")))
		fputs(" (invitation)", stdout);
	putchar('\n');
}

static void team_line(json_t *t)
{
	if (!strcmp(str(t, "action"), "rename"))
		printf("  %-10s  %s  %s -> %s\n", "rename", str(t, "externalTeamId"),
		       str(t, "previousName"), str(t, "teamName"));
	else
		printf("  %-10s  %s  %s\n", str(t, "action"), str(t, "externalTeamId"),
		       str(t, "teamName"));
}

static void mapping_line(json_t *m)
{
	bool member = !strcmp(str(m, "kind"), "member");

	printf("  %-10s  %s <- %s %s", str(m, "action"), str(m, "externalTeamId"),
	       member ? "member" : "subteam",
	       str(m, member ? "externalMemberId" : "externalSubteamId"));
	if (member)
		printf(" (%s%s%s)", json_is_true(json_object_get(m, "isMember")) ? "member" : "",
		       json_is_true(json_object_get(m, "isMember")) &&
				       json_is_true(json_object_get(m, "isManager")) ? ", " : "",
		       json_is_true(json_object_get(m, "isManager")) ? "manager" : "");
	putchar('\n');
}

/*
 * One section: its lines up to limit, then how many are left. The service
 * lists a capped number of changes (truncated); the counts cover them all,
 * so "more" is taken from whichever is larger.
 */
static void section(json_t *items, long long changes, long limit, void (*line)(json_t *))
{
	json_t *it;
	size_t i, shown = 0;
	long long more;

	json_array_foreach(items, i, it) {
		if ((long)shown >= limit)
			break;
		line(it);
		shown++;
	}
	more = (changes > (long long)json_array_size(items) ? changes
							    : (long long)json_array_size(items)) -
	       (long long)shown;
	if (more > 0)
		printf("  … and %lld more\n", more);
}

static void print_diff(json_t *plan, long limit)
{
	static const char *const m_changes[] = { "created", "updated", "reactivated", "deactivated",
						 "deleted", NULL };
	static const char *const t_changes[] = { "created", "renamed", "deleted", NULL };
	static const char *const x_changes[] = { "added", "removed", "changed", NULL };
	json_t *c = json_object_get(plan, "counts");
	json_t *m = json_object_get(c, "members"), *t = json_object_get(c, "teams"),
	       *x = json_object_get(c, "mappings");

	printf("members: %lld created, %lld updated, %lld reactivated, %lld deactivated, %lld deleted, "
	       "%lld unchanged\n",
	       (long long)json_integer_value(json_object_get(m, "created")),
	       (long long)json_integer_value(json_object_get(m, "updated")),
	       (long long)json_integer_value(json_object_get(m, "reactivated")),
	       (long long)json_integer_value(json_object_get(m, "deactivated")),
	       (long long)json_integer_value(json_object_get(m, "deleted")),
	       (long long)json_integer_value(json_object_get(m, "unchanged")));
	section(json_object_get(plan, "members"), total(c, "members", m_changes), limit, member_line);
	printf("teams: %lld created, %lld renamed, %lld deleted, %lld unchanged\n",
	       (long long)json_integer_value(json_object_get(t, "created")),
	       (long long)json_integer_value(json_object_get(t, "renamed")),
	       (long long)json_integer_value(json_object_get(t, "deleted")),
	       (long long)json_integer_value(json_object_get(t, "unchanged")));
	section(json_object_get(plan, "teams"), total(c, "teams", t_changes), limit, team_line);
	printf("mappings: %lld added, %lld removed, %lld changed\n",
	       (long long)json_integer_value(json_object_get(x, "added")),
	       (long long)json_integer_value(json_object_get(x, "removed")),
	       (long long)json_integer_value(json_object_get(x, "changed")));
	section(json_object_get(plan, "mappings"), total(c, "mappings", x_changes), limit,
		mapping_line);
	if (json_integer_value(json_object_get(c, "invitations")))
		printf("invitations: %lld\n", (long long)json_integer_value(json_object_get(c, "invitations")));
}

int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_INPUT_OPTIONS,
		REMOTE_OPTIONS,
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct remote r;
	json_t *sync = NULL, *plan = NULL, *report = NULL, *risk;
	const char *status, *reason;
	bool json = false;
	long limit = 50;
	char path[64], *end;
	int64_t id = 0;
	int c, rc, local = 0, code = EXIT_INVALID;

	remote_init(&r, "plan");
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((rc = remote_option(&r, c, optarg)) != 0) {
			if (rc < 0)
				goto out;
			continue;
		}
		if (c == OPT_FORMAT && (!strcmp(optarg, "json") || !strcmp(optarg, "text"))) {
			json = !strcmp(optarg, "json");
		} else if (c == OPT_LIMIT && (limit = strtol(optarg, &end, 10)) > 0 && !*end) {
			continue;
		} else if (c == 'h') {
			fputs(help, stdout);
			code = EXIT_OK;
			goto out;
		} else {
			fputs(help, stderr);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "orgsync plan: unexpected argument '%s'; see 'orgsync plan --help'\n",
			argv[optind]);
		goto out;
	}
	if ((code = remote_configure(&r)) != 0 || (code = remote_connect(&r)) != 0 ||
	    (code = remote_check(&r, false, &local)) != 0 ||
	    (code = remote_post_sync(&r, true, r.as_json, &id)) != 0 ||
	    (code = remote_wait(&r, id, false, &sync)) != 0)
		goto out;
	status = json_string_value(json_object_get(sync, "status"));
	reason = json_string_value(json_object_get(sync, "reason"));
	if (!status || (strcmp(status, "Success") != 0 && strcmp(status, "Warning") != 0)) {
		fprintf(stderr, "orgsync plan: the dry run (sync %" PRId64 ") ended %s: %s\n", id,
			status ? status : "without a status", reason ? reason : "no reason given");
		code = EXIT_REJECTED;
		goto out;
	}
	snprintf(path, sizeof(path), "/v1/syncs/%" PRId64 "/plan", id);
	if ((code = remote_get_json(&r, path, &plan)) != 0)
		goto out;
	risk = json_object_get(sync, "risk");
	code = json_is_true(json_object_get(risk, "paused")) ? EXIT_PAUSED : remote_status_exit(status);
	if (json) {
		char *text = json_dumps(plan, JSON_INDENT(2));

		if (text)
			puts(text);
		free(text);
		goto out;
	}
	printf("plan of dry run %" PRId64 " (nothing was changed):\n", id);
	print_diff(plan, limit);
	if (code == EXIT_PAUSED)
		remote_print_risk(risk, "risk: a real sync would pause: ");
	snprintf(path, sizeof(path), "/v1/syncs/%" PRId64 "/report", id);
	if (remote_get_json(&r, path, &report) == 0 &&
	    json_array_size(json_object_get(report, "issues"))) {
		printf("report (%zu issue%s):\n", json_array_size(json_object_get(report, "issues")),
		       json_array_size(json_object_get(report, "issues")) == 1 ? "" : "s");
		fflush(stdout);
		remote_print_issues(json_object_get(report, "issues"), stdout);
	}
out:
	json_decref(report);
	json_decref(plan);
	json_decref(sync);
	remote_free(&r);
	return code;
}
