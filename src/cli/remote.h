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
#include <stddef.h>
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

/*
 * The input and connection options, as entries of an option table
 * (util/opt.h) whose config struct holds a struct remote at offset base.
 */
#define REMOTE_OPTIONS(base)                                                                   \
	CLI_INPUT_OPTIONS((base) + offsetof(struct remote, in)),                               \
	{ .type = OPT_SECTION, .help = "Service:" },                                           \
	{ .name = "url", .type = OPT_STRING, .metavar = "URL",                                 \
	  .offset = (base) + offsetof(struct remote, url),                                     \
	  .help = "the service (default http://127.0.0.1:8080); plain http is refused to any " \
		  "host but loopback (127.0.0.0/8, ::1, localhost)" },                         \
	{ .name = "insecure-http", .type = OPT_FLAG,                                           \
	  .offset = (base) + offsetof(struct remote, insecure_http),                           \
	  .help = "allow plain http to another host anyway" },                                 \
	{ .name = "api-key", .type = OPT_STRING, .metavar = "KEY",                             \
	  .offset = (base) + offsetof(struct remote, api_key),                                 \
	  .help = "the organization's API key; better: the environment variable "              \
		  "ORGSYNC_API_KEY (an argument shows in 'ps')" },                             \
	{ .name = "config", .type = OPT_STRING, .metavar = "FILE",                             \
	  .offset = (base) + offsetof(struct remote, config),                                  \
	  .help = "a config.json in the legacy Officevibe shape: ApiUrl, ApiKey, UsersCsv, "   \
		  "GroupsCsv, MappingCsv (paths relative to the file); SyncManagerEmail and "  \
		  "InviteNewUsers are now provisioning settings of the service and are "       \
		  "ignored. Precedence: options, then ORGSYNC_API_KEY, then the file." },      \
	{ .name = "cacert", .type = OPT_STRING, .metavar = "FILE",                             \
	  .offset = (base) + offsetof(struct remote, cacert),                                  \
	  .help = "trust this CA bundle (PEM) for a private CA; certificates are always "      \
		  "verified" },                                                                \
	{ .name = "timeout", .type = OPT_LONG, .metavar = "SECS", .min = 1,                    \
	  .max = 7 * 24 * 3600, .def = CLIENT_TIMEOUT_S,                                       \
	  .offset = (base) + offsetof(struct remote, timeout_s),                               \
	  .help = "the whole run, retries and waiting included" },                             \
	{ .name = "connect-timeout", .type = OPT_LONG, .metavar = "SECS", .min = 1,            \
	  .max = 3600, .def = CLIENT_CONNECT_TIMEOUT_S,                                        \
	  .offset = (base) + offsetof(struct remote, connect_timeout_s),                       \
	  .help = "per connection attempt" },                                                  \
	{ .name = "retries", .type = OPT_UINT, .max = 100, .def = CLIENT_RETRIES,              \
	  .offset = (base) + offsetof(struct remote, retries),                                 \
	  .help = "extra attempts on connection failures, 429 and 503, with exponential "      \
		  "backoff and jitter; never on other answers" },                              \
	{ .name = "as-json", .type = OPT_FLAG, .offset = (base) + offsetof(struct remote, as_json), \
	  .help = "send the converted JSON payload instead of the CSV files" },                \
	{ .name = "verbose", .type = OPT_FLAG, .offset = (base) + offsetof(struct remote, verbose), \
	  .help = "request ids, statuses and timings on stderr (never the key)" }

void remote_init(struct remote *r, const char *cmd);
void remote_free(struct remote *r);

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
