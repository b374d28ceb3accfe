/*
 * libFuzzer target for the CSV ingest: the input is split at its first two
 * form feeds into members, teams and mappings (missing parts get a bare
 * header), ingested, and when valid exported again.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "ingest/ingest.h"
#include "model/export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char teams_hdr[] = "externalTeamId,teamName\n";
	static const char maps_hdr[] =
		"externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n";
	const char *p = (const char *)data, *end = p + size;
	const char *ff1 = memchr(p, '\f', size);
	const char *ff2 = ff1 ? memchr(ff1 + 1, '\f', (size_t)(end - ff1 - 1)) : NULL;
	struct ingest_input m = { "members.csv", NULL, p, ff1 ? (size_t)(ff1 - p) : size };
	struct ingest_input t = { "teams.csv", NULL, teams_hdr, sizeof(teams_hdr) - 1 };
	struct ingest_input x = { "teams-mappings.csv", NULL, maps_hdr, sizeof(maps_hdr) - 1 };
	struct ingest_opts opts = { NULL, 0, true };
	struct org org;
	struct report rep;

	if (ff1) {
		t.data = ff1 + 1;
		t.len = ff2 ? (size_t)(ff2 - ff1 - 1) : (size_t)(end - ff1 - 1);
	}
	if (ff2) {
		x.data = ff2 + 1;
		x.len = (size_t)(end - ff2 - 1);
	}
	if (!sink)
		sink = fopen("/dev/null", "w");
	org_init(&org);
	report_init(&rep);
	if (ingest_csv(&m, &t, &x, &opts, &org, &rep, NULL) == INGEST_OK && sink) {
		export_members_csv(&org, sink);
		export_teams_csv(&org, sink);
		export_mappings_csv(&org, sink);
		export_json(&org, sink, 0);
	}
	report_print_text(&rep, sink ? sink : stderr);
	report_free(&rep);
	org_free(&org);
	return 0;
}
