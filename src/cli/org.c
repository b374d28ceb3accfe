/*
 * orgsync org / key / admin: tenant administration on the database, without
 * HTTP. Each change is recorded in the org's audit trail (GET /v1/audit) in
 * its own transaction, as done by "cli:<unix user>".
 */
#include <inttypes.h>
#include <stddef.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "format/names.h"
#include "model/org.h"
#include "store/store.h"
#include "util/opt.h"

/* What every subcommand here takes; positional arguments stay from first. */
struct admin_args {
	const char *db;
	int64_t org;
	int json; /* --format: 0 text, 1 json */
};

static int open_db(const char *url, struct store **st)
{
	char err[256];

	if (!url) {
		fputs("orgsync: say which database: --db sqlite:PATH\n", stderr);
		return -1;
	}
	if (store_open(url, st, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "orgsync: cannot open the database: %s\n", err);
		return -1;
	}
	return 0;
}

static const char *const formats[] = { "text", "json", NULL };

/* The options of org, key and admin alike. */
static const struct opt options[] = {
	{ .name = "db", .type = OPT_STRING, .metavar = "URL", .offset = offsetof(struct admin_args, db),
	  .help = "the service's database: sqlite:PATH or postgres://..." },
	{ .name = "org", .type = OPT_I64, .flags = OPT_NO_DEFAULT, .metavar = "ID", .min = 1,
	  .max = INT64_MAX, .offset = offsetof(struct admin_args, org),
	  .help = "the organization, by its id (as org list shows it)" },
	{ .name = "format", .type = OPT_ENUM, .values = formats,
	  .offset = offsetof(struct admin_args, json), .help = "how list prints" },
	{ .name = NULL },
};

/* Refuses a command line whose verb or arguments do not fit: the usage, on stderr. */
static int usage(const struct opt_cmd *cmd)
{
	fprintf(stderr, "%ssee 'orgsync %s --help'\n", cmd->usage, cmd->name);
	return EXIT_CONFIG;
}

/* Who runs the command, for the audit trail: the unix user, as the system names it. */
static void cli_actor(char *out, size_t len)
{
	const struct passwd *pw = getpwuid(geteuid());

	if (pw && pw->pw_name && *pw->pw_name)
		snprintf(out, len, "cli:%s", pw->pw_name);
	else
		snprintf(out, len, "cli:uid %lu", (unsigned long)geteuid());
}

/* Records the command's change in the open transaction; old and new are stolen. */
static int audit(struct store *st, int64_t org, const char *action, const char *target,
		 json_t *old, json_t *new)
{
	char actor[96];
	char *o = old ? json_dumps(old, JSON_COMPACT) : NULL;
	char *n = new ? json_dumps(new, JSON_COMPACT) : NULL;
	int rc;

	cli_actor(actor, sizeof(actor));
	rc = (old && !o) || (new && !n) ? STORE_ENOMEM
					: store_audit_add(st, org, actor, action, target, o, n);
	free(o);
	free(n);
	json_decref(old);
	json_decref(new);
	return rc;
}

static int need_org(struct store *st, int64_t org)
{
	if (!org) {
		fputs("orgsync: say which organization: --org ID\n", stderr);
		return -1;
	}
	if (store_org_get(st, org, NULL) != STORE_OK) {
		fprintf(stderr, "orgsync: there is no organization %" PRId64 "\n", org);
		return -1;
	}
	return 0;
}

/* Unix milliseconds as RFC 3339 UTC, to the second: 2025-11-23T04:05:06Z. */
static void rfc3339(int64_t ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "%s", "-");
}

/* Prints a JSON document built by the caller (stolen), indented. */
static int print_json(json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	int rc = text ? 0 : -1;

	if (text)
		printf("%s\n", text);
	else
		fputs("orgsync: out of memory\n", stderr);
	free(text);
	json_decref(doc);
	return rc;
}

/* The org and its first audit entry (its name and the public id of its key), in one
 * transaction. */
static int org_create(struct store *st, const char *name)
{
	char key[STORE_KEY_MAX], id[STORE_KEY_ID_MAX], target[32];
	int64_t org = 0;
	int rc = store_tx_begin(st);

	if (rc == STORE_OK) {
		rc = store_org_create(st, name, &org, key);
		snprintf(target, sizeof(target), "org:%" PRId64, org);
		if (rc == STORE_OK)
			rc = audit(st, org, "org.create", target, NULL,
				   json_pack("{s:s, s:s}", "name", name, "keyId",
					     store_key_public_id(key, id) ? id : ""));
		rc = store_tx_end(st, rc);
	}

	if (rc == STORE_OK)
		printf("organization %" PRId64 " created: %s\napi key (shown once): %s\n", org, name,
		       key);
	else
		fprintf(stderr, "orgsync org create: %s\n", store_error(st));
	return rc == STORE_OK ? EXIT_OK : EXIT_CONFIG;
}

static int org_list(struct store *st, bool json)
{
	struct store_org_row *rows = NULL;
	size_t n = 0, i;
	char when[32];
	json_t *items;
	int rc = store_org_list(st, &rows, &n);

	if (rc != STORE_OK) {
		fprintf(stderr, "orgsync org list: %s\n", store_error(st));
		return EXIT_CONFIG;
	}
	items = json ? json_array() : NULL;
	for (i = 0; i < n; i++) {
		rfc3339(rows[i].created_at, when);
		if (items)
			json_array_append_new(items, json_pack("{s:I, s:s, s:s, s:I}", "id",
							       (json_int_t)rows[i].id, "name",
							       rows[i].name, "createdAt", when,
							       "members",
							       (json_int_t)rows[i].members));
		else
			printf("%" PRId64 "\t%s\t%s\t%" PRIu64 "\n", rows[i].id, rows[i].name, when,
			       rows[i].members);
	}
	store_org_rows_free(rows, n);
	if (items && print_json(items) < 0)
		return EXIT_CONFIG;
	return EXIT_OK;
}

static const struct opt_cmd org_command = {
	.name = "org",
	.usage = "usage: orgsync org create NAME --db sqlite:PATH\n"
		 "       orgsync org list --db sqlite:PATH [--format text|json]\n",
	.intro = "create makes an organization and prints its id and first API key. The key is\n"
		 "shown this once and stored only as a hash: keep it now.\n"
		 "list prints each organization, one a line: id, name, created at (RFC 3339,\n"
		 "UTC) and member count (every state), separated by tabs; --format json prints\n"
		 "them as a JSON array.\n",
	.opts = options,
	.operands = true,
};

int cmd_org(int argc, char **argv)
{
	struct admin_args a = { 0 };
	struct store *st = NULL;
	const char *verb;
	int first, rc = cli_options(&org_command, EXIT_CONFIG, argc, argv, &a, &first);

	if (rc != -1)
		return rc;
	verb = first < argc ? argv[first] : "";
	if (!((!strcmp(verb, "create") && first + 2 == argc && *argv[first + 1]) ||
	      (!strcmp(verb, "list") && first + 1 == argc))) {
		return usage(&org_command);
	}
	if (open_db(a.db, &st) < 0)
		return EXIT_CONFIG;
	rc = !strcmp(verb, "create") ? org_create(st, argv[first + 1]) : org_list(st, a.json);
	store_close(st);
	return rc;
}

/* The rotation and its audit entry (old and new key ids, never keys), in one transaction. */
static int rotate(struct store *st, int64_t org, char key[STORE_KEY_MAX])
{
	char **ids = NULL, id[STORE_KEY_ID_MAX];
	size_t n = 0, i;
	json_t *old;
	int rc = store_tx_begin(st);

	if (rc)
		return rc;
	rc = store_key_ids(st, org, &ids, &n);
	if (rc == STORE_OK)
		rc = store_key_rotate(st, org, key);
	if (rc == STORE_OK) {
		old = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(old, json_string(ids[i]));
		rc = audit(st, org, "key.rotate", "keys", json_pack("{s:o}", "keyIds", old),
			   json_pack("{s:[s]}", "keyIds", store_key_public_id(key, id) ? id : ""));
	}
	store_strings_free(ids, n);
	return store_tx_end(st, rc);
}

static const struct opt_cmd key_command = {
	.name = "key",
	.usage = "usage: orgsync key rotate --org ID --db sqlite:PATH\n",
	.intro = "Replaces the organization's API keys by a new one, printed once. The old keys\n"
		 "stop working at once.\n",
	.opts = options,
	.operands = true,
};

int cmd_key(int argc, char **argv)
{
	struct admin_args a = { 0 };
	struct store *st = NULL;
	char key[STORE_KEY_MAX];
	int first, rc = cli_options(&key_command, EXIT_CONFIG, argc, argv, &a, &first);

	if (rc != -1)
		return rc;
	if (first + 1 != argc || strcmp(argv[first], "rotate") != 0) {
		return usage(&key_command);
	}
	if (open_db(a.db, &st) < 0)
		return EXIT_CONFIG;
	rc = need_org(st, a.org) < 0 ? -1 : rotate(st, a.org, key);
	if (rc == STORE_OK)
		printf("api key (shown once): %s\n", key);
	else if (rc != -1)
		fprintf(stderr, "orgsync key rotate: %s\n", store_error(st));
	store_close(st);
	return rc == STORE_OK ? EXIT_OK : EXIT_CONFIG;
}

static int admin_list(struct store *st, int64_t org, bool json)
{
	struct store_admin *v = NULL;
	size_t n = 0, i;
	char when[32];
	json_t *items;
	int rc = store_admin_list(st, org, &v, &n);

	if (rc != STORE_OK) {
		fprintf(stderr, "orgsync admin list: %s\n", store_error(st));
		return EXIT_CONFIG;
	}
	items = json ? json_array() : NULL;
	for (i = 0; i < n; i++) {
		rfc3339(v[i].added_at, when);
		if (items)
			json_array_append_new(items, json_pack("{s:s, s:s, s:s, s:s}", "email",
							       v[i].email, "externalMemberId",
							       v[i].external_id, "state",
							       format_state_name(v[i].state), "addedAt",
							       when));
		else
			printf("%s\t%s\n", v[i].email, when);
	}
	store_admins_free(v, n);
	if (items && print_json(items) < 0)
		return EXIT_CONFIG;
	return EXIT_OK;
}

/*
 * Grants or takes back the role. Every change of who administers an org
 * goes through here, and is recorded: the change and its audit entry
 * (the role before, null for a member added anew, and after) in one
 * transaction.
 */
static int admin_change(struct store *st, int64_t org, const char *email, bool add)
{
	char target[300];
	int role = -1, rc = store_tx_begin(st);

	if (rc == STORE_OK) {
		rc = store_member_role(st, org, email, &role);
		if (rc == STORE_ENOTFOUND)
			rc = STORE_OK;
		if (rc == STORE_OK)
			rc = add ? store_admin_add(st, org, email) : store_admin_remove(st, org, email);
		snprintf(target, sizeof(target), "member:%s", email);
		if (rc == STORE_OK)
			rc = audit(st, org, add ? "admin.add" : "admin.remove", target,
				   role < 0 ? NULL
					    : json_pack("{s:s}", "role", format_role_name((enum role)role)),
				   json_pack("{s:s}", "role",
					     format_role_name(add ? ROLE_ADMINISTRATOR : ROLE_MEMBER)));
		rc = store_tx_end(st, rc);
	}

	if (rc == STORE_OK && add) {
		printf("%s is an Administrator of organization %" PRId64 "\n", email, org);
	} else if (rc == STORE_OK) {
		printf("%s is no longer an Administrator of organization %" PRId64 ": a Member in "
		       "the same state, whom the next full sync that lacks it deactivates (or deletes, "
		       "if never active) like any member\n",
		       email, org);
	} else {
		fprintf(stderr, "orgsync admin %s: %s\n", add ? "add" : "remove", store_error(st));
		return rc == STORE_ENOTFOUND || rc == STORE_EINVAL ? EXIT_INVALID : EXIT_CONFIG;
	}
	return EXIT_OK;
}

static const struct opt_cmd admin_command = {
	.name = "admin",
	.usage = "usage: orgsync admin add EMAIL --org ID --db sqlite:PATH\n"
		 "       orgsync admin remove EMAIL --org ID --db sqlite:PATH\n"
		 "       orgsync admin list --org ID --db sqlite:PATH [--format text|json]\n",
	.intro = "Administrators are managed here, never by syncs: a sync does not deactivate\n"
		 "or delete them.\n"
		 "add makes EMAIL an Administrator of the organization: the member with that\n"
		 "email (any case) gets the role, or an active member is created with the\n"
		 "email as its id. EMAIL must be an address members.csv would accept.\n"
		 "remove makes the Administrator with that email (any case) a plain Member\n"
		 "again: it keeps its state and teams, and the next full sync treats it like\n"
		 "any member (one it lacks is deactivated, or deleted if never active).\n"
		 "list prints each Administrator, one a line: email and when it became one\n"
		 "(RFC 3339, UTC), separated by a tab; --format json adds its id and state.\n",
	.opts = options,
	.outro = "Exit: 0 done, 2 a malformed email or, for remove, not an Administrator,\n"
		 "      5 usage, database or unknown organization.\n",
	.operands = true,
};

int cmd_admin(int argc, char **argv)
{
	struct admin_args a = { 0 };
	struct store *st = NULL;
	const char *verb, *email = NULL;
	int first, rc = cli_options(&admin_command, EXIT_CONFIG, argc, argv, &a, &first);

	if (rc != -1)
		return rc;
	verb = first < argc ? argv[first] : "";
	if ((!strcmp(verb, "add") || !strcmp(verb, "remove")) && first + 2 == argc) {
		email = argv[first + 1];
	} else if (strcmp(verb, "list") != 0 || first + 1 != argc) {
		return usage(&admin_command);
	}
	/* The same rule as the email column of an import, checked before anything opens. */
	if (email && !strcmp(verb, "add") && !org_email_valid(email, strlen(email))) {
		fprintf(stderr,
			"orgsync admin add: '%s' is not a valid email address (one @, a local part "
			"and a dotted domain, as in members.csv)\n",
			email);
		return EXIT_INVALID;
	}
	if (open_db(a.db, &st) < 0)
		return EXIT_CONFIG;
	if (need_org(st, a.org) < 0)
		rc = EXIT_CONFIG;
	else if (!email)
		rc = admin_list(st, a.org, a.json);
	else
		rc = admin_change(st, a.org, email, !strcmp(verb, "add"));
	store_close(st);
	return rc;
}
