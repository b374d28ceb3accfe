/*
 * libFuzzer target for the CSV ingest: the input is split at its first two
 * form feeds into members, teams and mappings (missing parts get a bare
 * header) and ingested.
 *
 * When the ingest accepts it (no fatal issue), the org it built must
 * survive the formats it is written in: its export as the CSV trio and as
 * the JSON payload (src/format/csv.c, json.c) must each ingest again without a
 * single issue (the invalid rows were skipped the first time, so what is
 * written is valid), into an org with as many members, teams and mappings
 * whose export in the same format is the first one: byte for byte for the
 * CSV trio (it is canonical, so equal bytes are equal records, properties
 * included), as a document for JSON. JSON names a property only in the
 * members that have a value for it, in the order it meets them: a property
 * nobody has does not survive there, and the order of the org's properties
 * may change, which neither the records nor their export see. Otherwise
 * the target aborts, naming what differs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/ingest.h"
#include "format/csv.h"
#include "format/json.h"
#include "format/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The CSV trio (or, in json, the payload) an org exports to. */
struct exported {
	char *csv[3];
	size_t len[3];
	char *json;
	size_t json_len;
};

static const struct ingest_opts opts = { NULL, 0, true };
static FILE *sink;

static void broken(const char *what, const struct exported *e)
{
	fprintf(stderr, "fuzz_csv: %s\n", what);
	if (e && e->csv[0])
		fprintf(stderr, "--- members.csv\n%s--- teams.csv\n%s--- teams-mappings.csv\n%s",
			e->csv[0], e->csv[1] ? e->csv[1] : "", e->csv[2] ? e->csv[2] : "");
	abort();
}

/* Exports o as the CSV trio, and as JSON when json is set. */
static void export_org(const struct org *o, struct exported *e, int json)
{
	int (*const writers[3])(const struct org *, FILE *) = {
		format_csv_members, format_csv_teams, format_csv_mappings
	};
	FILE *f;
	int i;

	memset(e, 0, sizeof(*e));
	for (i = 0; i < 3; i++) {
		f = open_memstream(&e->csv[i], &e->len[i]);
		if (!f || writers[i](o, f) || fclose(f))
			broken("an export failed", NULL);
	}
	if (!json)
		return;
	f = open_memstream(&e->json, &e->json_len);
	if (!f || format_json_org(o, f, 0) || fclose(f))
		broken("the JSON export failed", NULL);
}

static void exported_free(struct exported *e)
{
	int i;

	for (i = 0; i < 3; i++)
		free(e->csv[i]);
	free(e->json);
}

/*
 * JSON names properties in the order it meets them, member by member, so
 * an org read back from JSON may list them in another order: the exports
 * are compared as documents (same members, teams and mappings in the same
 * order, each with the same fields and values).
 */
static int same_json(const char *a, const char *b)
{
	json_t *ja = json_loads(a, 0, NULL), *jb = json_loads(b, 0, NULL);
	int same = ja && jb && json_equal(ja, jb);

	json_decref(ja);
	json_decref(jb);
	return same;
}

/* The org read back from what was exported (as JSON when json is set) must be the one exported. */
static void check_same(const struct org *a, const struct exported *ea, const struct org *b,
		       const struct report *rep, int json)
{
	const char *how = json ? "JSON" : "CSV";
	struct exported eb;
	char what[160];
	int i;

	if (report_count(rep, ISSUE_FATAL) || report_count(rep, ISSUE_ERROR) ||
	    report_count(rep, ISSUE_WARNING)) {
		format_report_text(rep, stderr);
		snprintf(what, sizeof(what), "%s: issues reading back a valid org's export", how);
		broken(what, ea);
	}
	if (a->nmembers != b->nmembers || a->nteams != b->nteams || a->nmappings != b->nmappings ||
	    (!json && a->nprops != b->nprops)) {
		snprintf(what, sizeof(what),
			 "%s: %u/%u/%u/%u members/teams/mappings/properties became %u/%u/%u/%u", how,
			 a->nmembers, a->nteams, a->nmappings, a->nprops, b->nmembers, b->nteams,
			 b->nmappings, b->nprops);
		broken(what, ea);
	}
	export_org(b, &eb, json);
	if (json && !same_json(ea->json, eb.json)) {
		fprintf(stderr, "--- exported:\n%s\n--- read back, exported again:\n%s\n", ea->json,
			eb.json);
		broken("JSON: the export differs once read back", ea);
	}
	for (i = 0; i < 3 && !json; i++)
		if (ea->len[i] != eb.len[i] || memcmp(ea->csv[i], eb.csv[i], ea->len[i]) != 0) {
			fprintf(stderr, "--- read back, exported again:\n%s", eb.csv[i]);
			snprintf(what, sizeof(what), "CSV: export %d differs once read back", i);
			broken(what, ea);
		}
	exported_free(&eb);
}

static void round_trip(const struct org *a)
{
	struct exported e;
	struct ingest_input in[3] = {
		{ "members.csv", NULL, NULL, 0 },
		{ "teams.csv", NULL, NULL, 0 },
		{ "teams-mappings.csv", NULL, NULL, 0 },
	};
	struct ingest_input json = { "org.json", NULL, NULL, 0 };
	struct org b;
	struct report rep;
	int i;

	export_org(a, &e, 1);
	for (i = 0; i < 3; i++) {
		in[i].data = e.csv[i];
		in[i].len = e.len[i];
	}
	org_init(&b);
	report_init(&rep);
	if (ingest_csv(&in[0], &in[1], &in[2], &opts, &b, &rep, NULL) != INGEST_OK)
		broken("CSV: a valid org's export was refused", &e);
	check_same(a, &e, &b, &rep, 0);
	report_free(&rep);
	org_free(&b);

	json.data = e.json;
	json.len = e.json_len;
	org_init(&b);
	report_init(&rep);
	if (ingest_json(&json, &opts, &b, &rep, NULL) != INGEST_OK)
		broken("JSON: a valid org's export was refused", &e);
	check_same(a, &e, &b, &rep, 1);
	report_free(&rep);
	org_free(&b);
	exported_free(&e);
}

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
	org_init(&org);
	report_init(&rep);
	if (ingest_csv(&m, &t, &x, &opts, &org, &rep, NULL) == INGEST_OK &&
	    !report_count(&rep, ISSUE_FATAL))
		round_trip(&org);
	if (!sink)
		sink = fopen("/dev/null", "w");
	format_report_text(&rep, sink ? sink : stderr);
	report_free(&rep);
	org_free(&org);
	return 0;
}
