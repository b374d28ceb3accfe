/*
 * parts: the parts a sync's payload is made of (SPEC §6), in one table:
 * the CSV files by the name of their form field and stored part, the JSON
 * document under "json", and the file name each is reported under. Owns
 * the names only: the service reads the parts of a request, the command
 * line sends them, the engine reads them back (sync/sync.h).
 */
#ifndef ORGSYNC_FORMAT_PARTS_H
#define ORGSYNC_FORMAT_PARTS_H

#include <stddef.h>

/* The CSV parts come first, in the order ingest_csv_sources() takes them. */
enum part { PART_MEMBERS, PART_TEAMS, PART_MAPPINGS, PART_JSON, PART_COUNT };

enum { PARTS_CSV = PART_JSON }; /* how many CSV parts there are */

struct part_info {
	const char *name; /* the multipart field and the stored part: "teamsMappings" */
	const char *file; /* the name issues are reported under: "teams-mappings.csv" */
};

extern const struct part_info parts_info[PART_COUNT];

/* The part of that name, or PART_COUNT when there is none. */
enum part parts_find(const char *name);

#endif
