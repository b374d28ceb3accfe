#include "cli/remote.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "format/json.h"
#include "format/parts.h"
#include "format/names.h"
#include "format/report.h"
#include "util/os.h"
#include "util/path.h"

#define DEFAULT_URL "http://127.0.0.1:8080"

/* Polling: from POLL_FIRST_MS, growing by half each time, up to POLL_MAX_MS. */
enum { POLL_FIRST_MS = 200, POLL_MAX_MS = 3000 };

void remote_init(struct remote *r, const char *cmd)
{
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	org_init(&r->org);
	report_init(&r->rep);
}

void remote_free(struct remote *r)
{
	int i;

	client_free(r->client);
	free(r->json);
	report_free(&r->rep);
	org_free(&r->org);
	cli_input_free(&r->in);
	free(r->cfg_url);
	free(r->cfg_key);
	for (i = 0; i < 3; i++)
		free(r->cfg_paths[i]);
}

/* --- config.json (legacy Officevibe shape) ------------------------------- */

/* path as given when absolute, else relative to the config file's folder. */
static char *beside(const char *config, const char *path)
{
	char *out;

	return path_beside(PATH_NATIVE, config, path, &out) == 0 ? out : NULL;
}

/*
 * The config file as JSON. Opened by UTF-8 name (jansson's own loader
 * would take the ANSI code page on Windows), and a UTF-8 byte order mark,
 * which Windows editors and PowerShell's Set-Content write, is skipped.
 */
static json_t *load_json_file(const char *path, json_error_t *je)
{
	static const unsigned char bom[3] = { 0xEF, 0xBB, 0xBF };
	unsigned char head[3];
	FILE *f = os_fopen(path, "rb");
	json_t *doc;

	if (!f) {
		snprintf(je->text, sizeof(je->text), "unable to open %s: %s", path, strerror(errno));
		je->line = je->column = -1;
		return NULL;
	}
	if (fread(head, 1, 3, f) != 3 || memcmp(head, bom, 3) != 0)
		rewind(f);
	doc = json_loadf(f, 0, je);
	fclose(f);
	return doc;
}

static int config_string(struct remote *r, json_t *doc, const char *key, char **out)
{
	json_t *v = json_object_get(doc, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !*json_string_value(v)) {
		fprintf(stderr, "orgsync %s: %s: %s must be a non-empty string\n", r->cmd, r->config,
			key);
		return EXIT_CONFIG;
	}
	*out = strdup(json_string_value(v));
	return *out ? 0 : EXIT_CONFIG;
}

/*
 * SyncManagerEmail and InviteNewUsers are provisioning settings the
 * service keeps now: one notice for each the file has, naming the setting
 * and the request that sets it, with the file's own value.
 */
static void legacy_notices(struct remote *r, json_t *doc)
{
	const char *email = json_string_value(json_object_get(doc, "SyncManagerEmail"));
	json_t *invite = json_object_get(doc, "InviteNewUsers");
	json_t *body;
	char *text;

	if (json_object_get(doc, "SyncManagerEmail")) {
		body = json_pack("{s:[s]}", "notificationEmails", email && *email ? email
									     : "hr@example.com");
		text = body ? json_dumps(body, JSON_COMPACT) : NULL;
		fprintf(stderr, "orgsync %s: notice: %s: SyncManagerEmail is ignored here; the service "
			"keeps it as the provisioning setting \"notificationEmails\" (who hears of "
			"Failed, Paused and Warning syncs). Set it with: PATCH /v1/settings %s\n",
			r->cmd, r->config, text ? text : "");
		free(text);
		json_decref(body);
	}
	if (invite)
		fprintf(stderr, "orgsync %s: notice: %s: InviteNewUsers is ignored here; the service "
			"keeps it as the provisioning setting \"autoInvite\" (invite new members). "
			"Set it with: PATCH /v1/settings {\"autoInvite\":%s}\n",
			r->cmd, r->config, json_is_false(invite) ? "false" : "true");
}

static int load_config(struct remote *r)
{
	static const char *const keys[] = { "UsersCsv", "GroupsCsv", "MappingCsv" };
	static const char *const known[] = { "ApiUrl", "ApiKey", "UsersCsv", "GroupsCsv",
					     "MappingCsv", "SyncManagerEmail", "InviteNewUsers" };
	json_error_t je;
	json_t *file = load_json_file(r->config, &je), *doc = file, *v;
	const char *key;
	char *s = NULL;
	size_t i;
	int rc = EXIT_CONFIG;

	if (!doc) {
		fprintf(stderr, "orgsync %s: %s:%d:%d: cannot read the config: %s\n", r->cmd, r->config,
			je.line, je.column, je.text);
		return EXIT_CONFIG;
	}
	if (!json_is_object(doc)) {
		fprintf(stderr, "orgsync %s: %s: the config must be a JSON object\n", r->cmd, r->config);
		goto out;
	}
	/* The Officevibe guide's file nests its keys under "Configuration" (SPEC §7). */
	if (json_object_size(doc) == 1 && json_object_get(doc, "Configuration")) {
		doc = json_object_get(doc, "Configuration");
		if (!json_is_object(doc)) {
			fprintf(stderr, "orgsync %s: %s: \"Configuration\" must be a JSON object\n",
				r->cmd, r->config);
			goto out;
		}
	}
	if (config_string(r, doc, "ApiUrl", &r->cfg_url) || config_string(r, doc, "ApiKey", &r->cfg_key))
		goto out;
	for (i = 0; i < 3; i++) {
		s = NULL;
		if (config_string(r, doc, keys[i], &s))
			goto out;
		if (s) {
			r->cfg_paths[i] = beside(r->config, s);
			free(s);
			if (!r->cfg_paths[i])
				goto out;
		}
	}
	legacy_notices(r, doc);
	json_object_foreach(doc, key, v) {
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strcmp(key, known[i]))
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			fprintf(stderr, "orgsync %s: warning: %s: unknown key '%s' ignored\n", r->cmd,
				r->config, key);
	}
	rc = 0;
out:
	json_decref(file);
	return rc;
}

int remote_configure(struct remote *r)
{
	const char *env = getenv("ORGSYNC_API_KEY");
	int rc;

	if (r->config && (rc = load_config(r)) != 0)
		return rc;
	/* Options win over the environment, which wins over the file. */
	if (!r->api_key && env && *env)
		r->api_key = env;
	if (!r->api_key)
		r->api_key = r->cfg_key;
	if (!r->url)
		r->url = r->cfg_url ? r->cfg_url : DEFAULT_URL;
	if (!r->in.json && !r->in.dir) {
		if (!r->in.members)
			r->in.members = r->cfg_paths[0];
		if (!r->in.teams)
			r->in.teams = r->cfg_paths[1];
		if (!r->in.mappings)
			r->in.mappings = r->cfg_paths[2];
	}
	return 0;
}

int remote_connect(struct remote *r)
{
	struct client_opts o = { r->url, r->api_key, r->cacert, r->insecure_http,
				 r->connect_timeout_s, r->timeout_s, r->retries, r->verbose, stderr };
	char err[512] = "";
	int rc;

	if (!r->api_key || !*r->api_key) {
		fprintf(stderr, "orgsync %s: no API key: set ORGSYNC_API_KEY, or give --api-key, or "
			"ApiKey in --config\n", r->cmd);
		return EXIT_CONFIG;
	}
	rc = client_new(&o, &r->client, err, sizeof(err));
	if (rc == CLIENT_ENOMEM) {
		fprintf(stderr, "orgsync %s: out of memory%s%s\n", r->cmd, *err ? ": " : "", err);
		return EXIT_CONFIG;
	}
	if (rc) {
		fprintf(stderr, "orgsync %s: %s\n", r->cmd, err);
		return EXIT_CONFIG;
	}
	return 0;
}

/* --- the input ------------------------------------------------------------ */

int remote_check(struct remote *r, bool print_all, int *local_code)
{
	const char *why = NULL;
	size_t fatal, errors, warnings;
	int rc = cli_input_load(&r->in, &r->org, &r->rep, &r->info, &why);

	*local_code = EXIT_INVALID;
	if (rc == INGEST_ENOMEM) {
		fprintf(stderr, "orgsync %s: out of memory\n", r->cmd);
		return EXIT_INVALID;
	}
	if (rc == -3) {
		fprintf(stderr, "orgsync %s: %s\n", r->cmd, why);
		return EXIT_INVALID;
	}
	fatal = report_count(&r->rep, ISSUE_FATAL);
	errors = report_count(&r->rep, ISSUE_ERROR);
	warnings = report_count(&r->rep, ISSUE_WARNING);
	if (fatal || print_all)
		format_report_text(&r->rep, stderr);
	if (fatal) {
		fprintf(stderr, "orgsync %s: %s: %zu structural error%s: nothing was sent\n", r->cmd,
			cli_input_format(&r->info), fatal, fatal == 1 ? "" : "s");
		return EXIT_INVALID;
	}
	if (errors || warnings)
		fprintf(stderr, "orgsync %s: local check: %zu record%s will be skipped, %zu warning%s%s\n",
			r->cmd, errors, errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s",
			print_all ? "" : " (the service's report follows)");
	*local_code = errors || warnings ? EXIT_WARNING : EXIT_OK;
	return 0;
}

int remote_json(struct remote *r)
{
	struct buf b;

	if (r->json)
		return 0;
	buf_init(&b);
	if (format_json_org_buf(&r->org, &b, 0) != 0) {
		buf_free(&b);
		fprintf(stderr, "orgsync %s: out of memory building the JSON payload\n", r->cmd);
		return EXIT_INVALID;
	}
	r->json = b.data;
	r->json_len = b.len;
	return 0;
}

/* --- answers ----------------------------------------------------------------- */

static int parse_body(const struct client_response *resp, json_t **out)
{
	*out = resp->body.len ? json_loadb(resp->body.data, resp->body.len, 0, NULL) : NULL;
	return *out ? 0 : -1;
}

void remote_print_issues(json_t *issues, FILE *out)
{
	struct report rep;
	struct buf unknown;

	report_init(&rep);
	rep.limit = (size_t)-1;
	buf_init(&unknown);
	format_report_from_json(issues, &rep, &unknown);
	if (unknown.len)
		fwrite(unknown.data, 1, unknown.len, out);
	format_report_text(&rep, out);
	buf_free(&unknown);
	report_free(&rep);
}

/* Prints why the service refused a request and returns the exit code for it. */
static int refused(struct remote *r, const struct client_response *resp, const char *what)
{
	char msg[768], code[64];
	json_t *doc = NULL;

	client_describe_error(r->client, resp, msg, sizeof(msg));
	client_error_code(resp, code, sizeof(code));
	fprintf(stderr, "orgsync %s: %s: %s\n", r->cmd, what, msg);
	if (resp->status == 400 && !parse_body(resp, &doc))
		remote_print_issues(json_object_get(json_object_get(doc, "error"), "details"), stderr);
	json_decref(doc);
	if (r->verbose && resp->request_id[0])
		fprintf(stderr, "orgsync %s: request id %s\n", r->cmd, resp->request_id);
	switch (resp->status) {
	case 400:
	case 413:
		return EXIT_INVALID;
	case 409:
		/* The service refused this sync, nothing changed: the same
		 * outcome for a scheduler as a rejected one. */
		return EXIT_REJECTED;
	case 429:
	case 503:
		return EXIT_NETWORK;
	default:
		return resp->status >= 500 ? EXIT_NETWORK : EXIT_CONFIG;
	}
}

static int network_failed(struct remote *r, int rc, const char *err)
{
	fprintf(stderr, "orgsync %s: %s\n", r->cmd, err);
	return rc == CLIENT_ECONFIG ? EXIT_CONFIG : EXIT_NETWORK;
}

int remote_post_sync(struct remote *r, bool dry_run, bool json, int64_t *id)
{
	struct client_part parts[PARTS_CSV];
	struct client_body body = { 0 };
	struct client_response resp;
	const char *paths[PARTS_CSV] = { [PART_MEMBERS] = r->in.read_members,
					 [PART_TEAMS] = r->in.read_teams,
					 [PART_MAPPINGS] = r->in.read_mappings };
	char err[512] = "";
	json_t *doc = NULL;
	int i, rc, code = 0;

	*id = 0;
	if (json || (r->in.read_json && !strcmp(r->in.read_json, "-"))) {
		/* Standard input was consumed by the check: send what it held. */
		if ((code = remote_json(r)) != 0)
			return code;
		body.content_type = "application/json";
		body.data = r->json;
		body.len = r->json_len;
	} else if (r->in.read_json) {
		body.content_type = "application/json";
		body.path = r->in.read_json;
	} else {
		for (i = 0; i < PARTS_CSV; i++)
			parts[i] = (struct client_part){ parts_info[i].name, paths[i],
							 path_basename(PATH_NATIVE, paths[i]) };
		body.parts = parts;
		body.nparts = PARTS_CSV;
	}
	rc = client_request(r->client, "POST", dry_run ? "/v1/syncs?dryRun=true" : "/v1/syncs",
			    &body, NULL, &resp, err, sizeof(err));
	if (rc) {
		code = network_failed(r, rc, err);
	} else if (resp.status != 202) {
		code = refused(r, &resp, "the sync was not accepted");
	} else if (parse_body(&resp, &doc) || json_integer_value(json_object_get(doc, "id")) <= 0) {
		fprintf(stderr, "orgsync %s: the service accepted the sync but its answer has no id\n",
			r->cmd);
		code = EXIT_NETWORK;
	} else {
		*id = json_integer_value(json_object_get(doc, "id"));
		if (r->verbose)
			fprintf(stderr, "orgsync %s: sync %" PRId64 " accepted in %.0f ms (request id %s)\n",
				r->cmd, *id, resp.seconds * 1000.0,
				resp.request_id[0] ? resp.request_id : "none");
	}
	json_decref(doc);
	client_response_free(&resp);
	return code;
}

int remote_get_json(struct remote *r, const char *path, json_t **out)
{
	struct client_response resp;
	char err[512] = "";
	int rc, code = 0;

	*out = NULL;
	rc = client_request(r->client, "GET", path, NULL, NULL, &resp, err, sizeof(err));
	if (rc) {
		code = network_failed(r, rc, err);
	} else if (resp.status != 200) {
		code = refused(r, &resp, path);
	} else if (parse_body(&resp, out)) {
		fprintf(stderr, "orgsync %s: GET %s: the answer is not JSON\n", r->cmd, path);
		code = EXIT_NETWORK;
	}
	client_response_free(&resp);
	return code;
}

int remote_status_exit(const char *status)
{
	if (!strcmp(status, "Success"))
		return EXIT_OK;
	if (!strcmp(status, "Warning"))
		return EXIT_WARNING;
	if (!strcmp(status, "Paused"))
		return EXIT_PAUSED;
	return EXIT_REJECTED; /* Rejected, Failed */
}

int remote_wait(struct remote *r, int64_t id, bool through_pause, json_t **sync)
{
	char path[64];
	long delay = POLL_FIRST_MS;
	bool told = false;
	int code;

	*sync = NULL;
	snprintf(path, sizeof(path), "/v1/syncs/%" PRId64, id);
	for (;;) {
		const char *status;

		code = remote_get_json(r, path, sync);
		if (code) {
			fprintf(stderr, "orgsync %s: sync %" PRId64 " goes on without us: see %s%s\n",
				r->cmd, id, client_base_url(r->client), path);
			return code;
		}
		status = json_string_value(json_object_get(*sync, "status"));
		if (!status)
			status = format_sync_status_name(SYNC_PENDING);
		if (format_sync_status_parse(status) != SYNC_PENDING &&
		    (!through_pause || format_sync_status_parse(status) != SYNC_PAUSED))
			return 0;
		if (format_sync_status_parse(status) == SYNC_PAUSED && !told) {
			fprintf(stderr, "orgsync %s: sync %" PRId64 " is Paused: waiting for an "
				"administrator to approve or reject it\n", r->cmd, id);
			told = true;
		}
		json_decref(*sync);
		*sync = NULL;
		if (client_sleep(r->client, delay)) {
			fprintf(stderr, "orgsync %s: timed out (--timeout %lds) waiting for sync %" PRId64
				", still going on: see %s%s\n", r->cmd, r->timeout_s, id,
				client_base_url(r->client), path);
			return EXIT_NETWORK;
		}
		delay += delay / 2;
		if (delay > POLL_MAX_MS)
			delay = POLL_MAX_MS;
	}
}

void remote_print_risk(const json_t *risk, const char *lead)
{
	const char *msg;
	json_t *trip;
	size_t i;

	json_array_foreach(json_object_get(risk, "trips"), i, trip) {
		msg = json_string_value(json_object_get(trip, "message"));
		if (msg)
			printf("%s%s\n", lead, msg);
		else
			printf("%s%s is %.1f, over the limit of %.1f (%lld of %lld)\n", lead,
			       json_string_value(json_object_get(trip, "limit")),
			       json_number_value(json_object_get(trip, "actual")),
			       json_number_value(json_object_get(trip, "configured")),
			       (long long)json_integer_value(json_object_get(trip, "affected")),
			       (long long)json_integer_value(json_object_get(trip, "of")));
	}
}
