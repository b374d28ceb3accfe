#include "format/parts.h"

#include <string.h>

const struct part_info parts_info[PART_COUNT] = {
	[PART_MEMBERS] = { "members", "members.csv" },
	[PART_TEAMS] = { "teams", "teams.csv" },
	[PART_MAPPINGS] = { "teamsMappings", "teams-mappings.csv" },
	[PART_JSON] = { "json", "payload.json" },
};

enum part parts_find(const char *name)
{
	int i;

	for (i = 0; i < PART_COUNT && strcmp(name, parts_info[i].name) != 0; i++)
		;
	return (enum part)i;
}
