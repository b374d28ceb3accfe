/*
 * remote: what push and plan share. The connection options (URL, API key,
 * the legacy Officevibe config.json, TLS, timeouts, retries), the local
 * check of the input before anything is sent, the request body, sending a
 * sync and waiting for it to end, and the mapping of every outcome to an
 * exit code (SPEC §7). The transport itself is src/client's.
 */
#ifndef ORGSYNC_CLI_REMOTE_H
#define ORGSYNC_CLI_REMOTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/input.h"
#include "client/client.h"
#include "model/org.h"
#include "model/report.h"

struct remote {
	const char *cmd; /* "push", for messages */
	struct cli_input in;
	const char *url, *api_key, *cacert, *config;
	bool insecure_http, verbose, as_json;
	long timeout_s, connect_timeout_s;
	unsigned retries;
	char *cfg_url, *cfg_key, *cfg_paths[3]; /* owned: read from --config */
	struct org org;
	struct report rep;
	struct ingest_info info;
	char *json; /* the converted payload (remote_json), owned */
	size_t json_len;
	struct client *client;
};

enum {
	OPT_URL = 0x200,
	OPT_API_KEY,
	OPT_CONFIG,
	OPT_CACERT,
	OPT_INSECURE_HTTP,
	OPT_TIMEOUT,
	OPT_CONNECT_TIMEOUT,
	OPT_RETRIES,
	OPT_VERBOSE,
	OPT_AS_JSON,
};

#define REMOTE_OPTIONS                                                          \
	{ "url", required_argument, NULL, OPT_URL },                            \
	{ "api-key", required_argument, NULL, OPT_API_KEY },                    \
	{ "config", required_argument, NULL, OPT_CONFIG },                      \
	{ "cacert", required_argument, NULL, OPT_CACERT },                      \
	{ "insecure-http", no_argument, NULL, OPT_INSECURE_HTTP },              \
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },                    \
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },    \
	{ "retries", required_argument, NULL, OPT_RETRIES },                    \
	{ "verbose", no_argument, NULL, OPT_VERBOSE },                          \
	{ "as-json", no_argument, NULL, OPT_AS_JSON }

#define REMOTE_HELP                                                                           \
	"Service:\n"                                                                          \
	"  --url URL           the service (default http://127.0.0.1:8080); plain http is\n"   \
	"                      refused to any host but loopback (127.0.0.0/8, ::1,\n"         \
	"                      localhost)\n"                                                  \
	"  --insecure-http     allow plain http to another host anyway\n"                     \
	"  --api-key KEY       the organization's API key; better: the environment\n"          \
	"                      variable ORGSYNC_API_KEY (an argument shows in 'ps')\n"        \
	"  --config FILE       a config.json in the legacy Officevibe shape: ApiUrl,\n"       \
	"                      ApiKey, UsersCsv, GroupsCsv, MappingCsv (paths relative to\n"   \
	"                      the file); SyncManagerEmail and InviteNewUsers are now\n"       \
	"                      provisioning settings of the service and are ignored.\n"       \
	"                      Precedence: options, then ORGSYNC_API_KEY, then the file.\n"   \
	"  --cacert FILE       trust this CA bundle (PEM) for a private CA; certificates\n"   \
	"                      are always verified\n"                                         \
	"  --timeout SECS      the whole run, retries and waiting included (default 600)\n"   \
	"  --connect-timeout SECS  per connection attempt (default 10)\n"                    \
	"  --retries N         extra attempts on connection failures, 429 and 503, with\n"    \
	"                      exponential backoff and jitter (default 5); never on other\n"  \
	"                      answers\n"                                                      \
	"  --as-json           send the converted JSON payload instead of the CSV files\n"    \
	"  --verbose           request ids, statuses and timings on stderr (never the key)\n"

void remote_init(struct remote *r, const char *cmd);
void remote_free(struct remote *r);

/* Takes one shared option; 1 when taken, 0 when not one, -1 on a bad value
 * (printed). Input options (CLI_INPUT_OPTIONS) are taken too. */
int remote_option(struct remote *r, int opt, const char *arg);

/* Applies --config and the environment. 0, or an exit code (printed). */
int remote_configure(struct remote *r);

/* Makes the client (no network yet): checks URL, key, CA file. 0 or an exit code. */
int remote_connect(struct remote *r);

/*
 * Reads and checks the input locally, as `orgsync validate` does, before
 * anything is sent. Issues go to stderr in validate's words: all of them
 * when print_all, else the structural ones and a summary. Returns
 * EXIT_INVALID on a structural error (or no input), else 0, and then
 * *local_code is validate's exit code (0, or 1 for skipped records).
 */
int remote_check(struct remote *r, bool print_all, int *local_code);

/* Converts the org into the JSON payload (r->json). 0 or an exit code. */
int remote_json(struct remote *r);

/*
 * POST /v1/syncs: the JSON payload (r->json) when json, else the input as
 * read (CSV files as multipart, or the JSON file). *id gets the sync's id.
 * 0 or an exit code (the refusal printed).
 */
int remote_post_sync(struct remote *r, bool dry_run, bool json, int64_t *id);

/*
 * Polls GET /v1/syncs/{id} with backoff until a final status (Paused is
 * one unless through_pause: then until approved or rejected). *sync gets
 * the sync's JSON (caller decrefs). 0 or an exit code.
 */
int remote_wait(struct remote *r, int64_t id, bool through_pause, json_t **sync);

/* GET path as JSON into *out (caller decrefs). 0 or an exit code. */
int remote_get_json(struct remote *r, const char *path, json_t **out);

/* The exit code of a final sync status (Success 0, Warning 1, Paused 3, ...). */
int remote_status_exit(const char *status);

/* Prints an issues array ([{severity, code, file, line...}]) as validate does. */
void remote_print_issues(json_t *issues, FILE *out);

/* Prints each limit a sync tripped (its risk object), one line each after lead. */
void remote_print_risk(const json_t *risk, const char *lead);

#endif
