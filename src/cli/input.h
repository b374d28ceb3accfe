/*
 * input: the input options shared by validate, convert (and later push,
 * plan): which files hold the org, and which custom properties it defines.
 * Loads them through ingest; prints nothing.
 */
#ifndef ORGSYNC_CLI_INPUT_H
#define ORGSYNC_CLI_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ingest/ingest.h"
#include "util/opt.h"

struct cli_input {
	const char *members, *teams, *mappings; /* CSV paths */
	const char *json;                       /* JSON path, "-" for stdin */
	const char *dir;                        /* a folder holding any of them */
	char *props_buf;                        /* --properties, split in place */
	const char **props;
	size_t nprops;
	bool props_given;
	/* Set by cli_input_load: the files it read (after the --dir lookup), for
	 * a caller that sends them on; NULL when not read. Owned, freed by
	 * cli_input_free. */
	char *read_members, *read_teams, *read_mappings, *read_json;
};

/* --properties: splits the list into in->props (in is the option's field). */
int cli_input_properties(void *in, const char *arg, char *err, size_t errlen);

/*
 * The input options, as entries of an option table (util/opt.h) whose
 * config struct holds a struct cli_input at offset base.
 */
#define CLI_INPUT_OPTIONS(base)                                                                \
	{ .type = OPT_SECTION,                                                                 \
	  .help = "Input (the three CSV files, or one JSON payload; current or legacy format):" }, \
	{ .name = "members", .type = OPT_STRING, .metavar = "FILE",                            \
	  .offset = (base) + offsetof(struct cli_input, members),                              \
	  .help = "members.csv (legacy: users.csv)" },                                         \
	{ .name = "teams", .type = OPT_STRING, .metavar = "FILE",                              \
	  .offset = (base) + offsetof(struct cli_input, teams),                                \
	  .help = "teams.csv (legacy: groups.csv)" },                                          \
	{ .name = "mappings", .type = OPT_STRING, .metavar = "FILE",                           \
	  .offset = (base) + offsetof(struct cli_input, mappings),                             \
	  .help = "teams-mappings.csv (legacy: groups-mapping.csv)" },                         \
	{ .name = "json", .type = OPT_STRING, .metavar = "FILE",                               \
	  .offset = (base) + offsetof(struct cli_input, json),                                 \
	  .help = "a JSON payload instead ('-' reads standard input)" },                       \
	{ .name = "dir", .type = OPT_STRING, .metavar = "DIR",                                 \
	  .offset = (base) + offsetof(struct cli_input, dir),                                  \
	  .help = "a folder holding the three CSV files or org.json" },                        \
	{ .name = "properties", .type = OPT_FUNC, .metavar = "LIST", .offset = (base),         \
	  .fn = cli_input_properties,                                                          \
	  .help = "the org's custom properties, comma-separated; other columns are warned "    \
		  "about (default: every extra column is a custom property)" }

/* Reads the org. Returns an enum ingest_status; -3 when no input was named
 * (a message is in *why). */
int cli_input_load(struct cli_input *in, struct org *org, struct report *rep,
		   struct ingest_info *info, const char **why);

void cli_input_free(struct cli_input *in);

/* "current CSV", "legacy JSON"... */
const char *cli_input_format(const struct ingest_info *info);

#endif
