/*
 * input: the input options shared by validate, convert (and later push,
 * plan): which files hold the org, and which custom properties it defines.
 * Loads them through ingest; prints nothing.
 */
#ifndef ORGSYNC_CLI_INPUT_H
#define ORGSYNC_CLI_INPUT_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "ingest/ingest.h"

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

enum { OPT_MEMBERS = 0x100, OPT_TEAMS, OPT_MAPPINGS, OPT_JSON, OPT_DIR, OPT_PROPERTIES };

#define CLI_INPUT_OPTIONS                                                  \
	{ "members", required_argument, NULL, OPT_MEMBERS },               \
	{ "teams", required_argument, NULL, OPT_TEAMS },                   \
	{ "mappings", required_argument, NULL, OPT_MAPPINGS },             \
	{ "json", required_argument, NULL, OPT_JSON },                     \
	{ "dir", required_argument, NULL, OPT_DIR },                       \
	{ "properties", required_argument, NULL, OPT_PROPERTIES }

#define CLI_INPUT_HELP                                                                    \
	"Input (the three CSV files, or one JSON payload; current or legacy format):\n"  \
	"  --members FILE      members.csv (legacy: users.csv)\n"                          \
	"  --teams FILE        teams.csv (legacy: groups.csv)\n"                           \
	"  --mappings FILE     teams-mappings.csv (legacy: groups-mapping.csv)\n"          \
	"  --json FILE         a JSON payload instead ('-' reads standard input)\n"        \
	"  --dir DIR           a folder holding the three CSV files or org.json\n"         \
	"  --properties LIST   the org's custom properties, comma-separated; other\n"       \
	"                      columns are warned about (default: every extra column is\n"  \
	"                      a custom property)\n"

/* Takes one input option; returns 1 when taken, 0 when not an input option, -1 bad. */
int cli_input_option(struct cli_input *in, int opt, const char *arg);

/* Reads the org. Returns an enum ingest_status; -3 when no input was named
 * (a message is in *why). */
int cli_input_load(struct cli_input *in, struct org *org, struct report *rep,
		   struct ingest_info *info, const char **why);

void cli_input_free(struct cli_input *in);

/* "current CSV", "legacy JSON"... */
const char *cli_input_format(const struct ingest_info *info);

#endif
