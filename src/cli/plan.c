/* orgsync plan: a dry run against the service, shown as a diff of the org. */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/remote.h"
#include "format/plan.h"

/* What plan is asked. */
struct plan_args {
	struct remote r;
	int json; /* --format: 0 text, 1 json */
	long limit;
};

static const char *const formats[] = { "text", "json", NULL };

static const struct opt options[] = {
	REMOTE_OPTIONS(offsetof(struct plan_args, r)),
	{ .type = OPT_SECTION, .help = "Output:" },
	{ .name = "format", .type = OPT_ENUM, .values = formats,
	  .offset = offsetof(struct plan_args, json),
	  .help = "the diff, or the whole plan as JSON: the service's pages, read to the end, in "
		  "one document" },
	{ .name = "limit", .type = OPT_LONG, .min = 1, .max = LONG_MAX, .def = 50,
	  .offset = offsetof(struct plan_args, limit), .help = "lines per section in the diff" },
	{ .name = NULL },
};

static const struct opt_cmd command = {
	.name = "plan",
	.usage = "usage: orgsync plan [--members F --teams F --mappings F | --json F | --dir D]\n"
		 "                    [--config config.json] [--url URL] [--api-key KEY]\n"
		 "                    [--format text|json] [--limit N]\n",
	.intro = "Sends the org as a dry run (the service changes nothing), waits for it, and\n"
		 "prints what a real sync would do: members created, updated (which fields),\n"
		 "reactivated, deactivated, deleted; teams created, renamed (old -> new),\n"
		 "deleted; mappings added and removed; then the report.\n",
	.opts = options,
	.outro = "Exit: 0 nothing wrong, 1 records would be skipped, 2 invalid input,\n"
		 "      3 the sync would be paused by the risk threshold, 4 the dry run failed or\n"
		 "      another sync is running, 5 authentication or configuration, 6 network.\n",
};

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/* A value of a change, short: strings as they are, other JSON compact. */
static void print_value(json_t *v)
{
	char *text;

	if (json_is_string(v)) {
		fputs(json_string_value(v), stdout);
		return;
	}
	text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	fputs(text ? text : "?", stdout);
	free(text);
}

/* ": field old -> new, ..." for an entry's changes (the state is the action's to say). */
static void changes_text(json_t *e)
{
	const char *field;
	json_t *c;
	int n = 0;

	json_object_foreach(json_object_get(e, "changes"), field, c) {
		if (!strcmp(field, "state"))
			continue;
		printf("%s %s ", n++ ? "," : ":", field);
		print_value(json_object_get(c, "old"));
		fputs(" -> ", stdout);
		print_value(json_object_get(c, "new"));
	}
}

static void member_line(json_t *m)
{
	printf("  %-10s  %s  %s", str(m, "action"), str(m, "externalMemberId"), str(m, "email"));
	changes_text(m);
	if (json_is_true(json_object_get(m, "invite")))
		fputs(" (invitation)", stdout);
	putchar('\n');
}

static void team_line(json_t *t)
{
	json_t *name = json_object_get(json_object_get(t, "changes"), "teamName");

	if (name)
		printf("  %-10s  %s  %s -> %s\n", str(t, "action"), str(t, "externalTeamId"),
		       str(name, "old"), str(name, "new"));
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
	changes_text(m);
	putchar('\n');
}

/*
 * One section: the first page of the plan's entries of one type, up to
 * limit lines, then how many more there are (the page says how many in
 * all). A plan kept before plans were paged may list fewer than its
 * counts: "more" is then taken from the counts.
 */
static void section(json_t *page, long long changes, long limit, void (*line)(json_t *))
{
	json_t *it, *items = json_object_get(page, "items");
	long long total = (long long)json_integer_value(json_object_get(page, "total"));
	size_t i, shown = 0;
	long long more;

	json_array_foreach(items, i, it) {
		if ((long)shown >= limit)
			break;
		line(it);
		shown++;
	}
	more = (changes > total ? changes : total) - (long long)shown;
	if (more > 0)
		printf("  … and %lld more\n", more);
}

/* pages[0..2]: the first page of the member, team and mapping entries. */
static void print_diff(json_t *const pages[3], long limit)
{
	struct plan_counts c;

	/* A plan without counts lists its entries all the same, under zeros. */
	format_counts_parse(json_object_get(pages[0], "counts"), &c);
	format_counts_line(&c, FORMAT_COUNTS_MEMBERS, stdout);
	putchar('\n');
	section(pages[0],
		(long long)c.created + c.updated + c.reactivated + c.deactivated + c.deleted, limit,
		member_line);
	format_counts_line(&c, FORMAT_COUNTS_TEAMS, stdout);
	putchar('\n');
	section(pages[1], (long long)c.teams_created + c.teams_renamed + c.teams_deleted, limit,
		team_line);
	format_counts_line(&c, FORMAT_COUNTS_MAPPINGS, stdout);
	putchar('\n');
	section(pages[2], (long long)c.mappings_added + c.mappings_removed + c.mappings_changed,
		limit, mapping_line);
	if (c.invitations)
		printf("invitations: %u\n", c.invitations);
}

/* Every page of the plan, in one document: the first page's fields, all the items. */
static int fetch_all(struct remote *r, int64_t id, json_t **out)
{
	json_t *doc = NULL, *page = NULL, *items = json_array();
	const char *next;
	char path[160];
	int code;

	snprintf(path, sizeof(path), "/v1/syncs/%" PRId64 "/plan?limit=500", id);
	for (;;) {
		if ((code = remote_get_json(r, path, &page)) != 0)
			break;
		json_array_extend(items, json_object_get(page, "items"));
		next = json_string_value(json_object_get(page, "next"));
		if (next)
			snprintf(path, sizeof(path), "%s", next);
		if (!doc) {
			doc = page;
		} else {
			json_decref(page);
		}
		page = NULL;
		if (!next)
			break;
	}
	if (code) {
		json_decref(doc);
		json_decref(items);
		return code;
	}
	json_object_del(doc, "next");
	json_object_set_new(doc, "items", items);
	*out = doc;
	return 0;
}

/* The first page of each type of entry, up to limit (the service pages by 500 at most). */
static int fetch_sections(struct remote *r, int64_t id, long limit, json_t *pages[3])
{
	static const char *const types[] = { "member", "team", "mapping" };
	char path[160];
	int i, code = 0;

	for (i = 0; i < 3 && !code; i++) {
		snprintf(path, sizeof(path), "/v1/syncs/%" PRId64 "/plan?type=%s&limit=%ld", id,
			 types[i], limit < 500 ? limit : 500);
		code = remote_get_json(r, path, &pages[i]);
	}
	return code;
}

int cmd_plan(int argc, char **argv)
{
	struct plan_args a;
	struct remote *r = &a.r;
	json_t *sync = NULL, *plan = NULL, *report = NULL, *risk, *pages[3] = { NULL, NULL, NULL };
	const char *status, *reason;
	char path[64];
	int64_t id = 0;
	int c, first, local = 0, code;

	memset(&a, 0, sizeof(a));
	remote_init(r, "plan");
	code = cli_options(&command, EXIT_INVALID, argc, argv, &a, &first);
	if (code != -1)
		goto out;
	if ((code = remote_configure(r)) != 0 || (code = remote_connect(r)) != 0 ||
	    (code = remote_check(r, false, &local)) != 0 ||
	    (code = remote_post_sync(r, true, r->as_json, &id)) != 0 ||
	    (code = remote_wait(r, id, false, &sync)) != 0)
		goto out;
	status = json_string_value(json_object_get(sync, "status"));
	reason = json_string_value(json_object_get(sync, "reason"));
	if (!status || (strcmp(status, "Success") != 0 && strcmp(status, "Warning") != 0)) {
		fprintf(stderr, "orgsync plan: the dry run (sync %" PRId64 ") ended %s: %s\n", id,
			status ? status : "without a status", reason ? reason : "no reason given");
		code = EXIT_REJECTED;
		goto out;
	}
	if ((code = a.json ? fetch_all(r, id, &plan) : fetch_sections(r, id, a.limit, pages)) != 0)
		goto out;
	risk = json_object_get(sync, "risk");
	code = json_is_true(json_object_get(risk, "paused")) ? EXIT_PAUSED : remote_status_exit(status);
	if (a.json) {
		char *text = json_dumps(plan, JSON_INDENT(2));

		if (text)
			puts(text);
		free(text);
		goto out;
	}
	printf("plan of dry run %" PRId64 " (nothing was changed):\n", id);
	print_diff(pages, a.limit);
	if (code == EXIT_PAUSED)
		remote_print_risk(risk, "risk: a real sync would pause: ");
	snprintf(path, sizeof(path), "/v1/syncs/%" PRId64 "/report", id);
	if (remote_get_json(r, path, &report) == 0 &&
	    json_array_size(json_object_get(report, "issues"))) {
		printf("report (%zu issue%s):\n", json_array_size(json_object_get(report, "issues")),
		       json_array_size(json_object_get(report, "issues")) == 1 ? "" : "s");
		fflush(stdout);
		remote_print_issues(json_object_get(report, "issues"), stdout);
	}
out:
	json_decref(report);
	json_decref(plan);
	for (c = 0; c < 3; c++)
		json_decref(pages[c]);
	json_decref(sync);
	remote_free(r);
	return code;
}
