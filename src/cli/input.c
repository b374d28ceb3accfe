#include "cli/input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/os.h"
#include "util/path.h"

int cli_input_properties(void *field, const char *arg, char *err, size_t errlen)
{
	struct cli_input *in = field;
	char *p, *save = NULL, *tok;

	in->props_given = true;
	in->props_buf = strdup(arg);
	in->props = in->props_buf ? calloc(strlen(arg) / 2 + 2, sizeof(*in->props)) : NULL;
	if (!in->props) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (p = in->props_buf; (tok = strtok_r(p, ",", &save)) != NULL; p = NULL)
		if (*tok)
			in->props[in->nprops++] = tok;
	return 0;
}

void cli_input_free(struct cli_input *in)
{
	free(in->props_buf);
	free(in->props);
	free(in->read_members);
	free(in->read_teams);
	free(in->read_mappings);
	free(in->read_json);
	memset(in, 0, sizeof(*in));
}

/* The first of names that exists in dir, as a path in *out (freed by the
 * caller, also when NULL is returned); NULL when none. */
static const char *find_in_dir(const char *dir, const char *const *names, char **out)
{
	for (; *names; names++) {
		free(*out);
		if (path_join(PATH_NATIVE, dir, *names, out) != 0) {
			*out = NULL;
			return NULL;
		}
		if (os_readable(*out) == 0)
			return *out;
	}
	return NULL;
}

static int load_json_stdin(const struct ingest_opts *opts, struct org *org, struct report *rep,
			   struct ingest_info *info)
{
	struct ingest_json_stream *s;
	char chunk[1 << 16];
	size_t n;
	int rc = ingest_json_stream_new("stdin", opts, org, rep, &s);

	if (rc)
		return rc;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if ((rc = ingest_json_stream_feed(s, chunk, n)) != 0)
			break;
	if (rc) {
		ingest_json_stream_finish(s, info);
		return rc;
	}
	return ingest_json_stream_finish(s, info);
}

static char *dup_path(const char *p, int *failed)
{
	char *s = p ? strdup(p) : NULL;

	if (p && !s)
		*failed = 1;
	return s;
}

static int keep_paths(struct cli_input *in, const struct ingest_input *m,
		      const struct ingest_input *t, const struct ingest_input *x,
		      const struct ingest_input *j)
{
	int failed = 0;

	in->read_members = dup_path(m->path, &failed);
	in->read_teams = dup_path(t->path, &failed);
	in->read_mappings = dup_path(x->path, &failed);
	in->read_json = dup_path(j->path, &failed);
	return failed ? -1 : 0;
}

int cli_input_load(struct cli_input *in, struct org *org, struct report *rep,
		   struct ingest_info *info, const char **why)
{
	static const char *const members[] = { "members.csv", "users.csv", NULL };
	static const char *const teams[] = { "teams.csv", "groups.csv", NULL };
	static const char *const mappings[] = { "teams-mappings.csv", "groups-mapping.csv",
						"groups-mappings.csv", NULL };
	static const char *const json[] = { "org.json", NULL };
	struct ingest_opts opts = { in->props, in->nprops, !in->props_given };
	char *pm = NULL, *pt = NULL, *px = NULL, *pj = NULL;
	struct ingest_input m = { 0 }, t = { 0 }, x = { 0 }, j = { 0 };
	int rc;

	m.path = in->members;
	t.path = in->teams;
	x.path = in->mappings;
	j.path = in->json;
	if (in->dir) {
		const char *found = find_in_dir(in->dir, members, &pm);

		if (found) {
			m.path = m.path ? m.path : found;
			t.path = t.path ? t.path : find_in_dir(in->dir, teams, &pt);
			x.path = x.path ? x.path : find_in_dir(in->dir, mappings, &px);
		} else if (!j.path) {
			j.path = find_in_dir(in->dir, json, &pj);
		}
	}
	m.name = m.path ? NULL : "members.csv";
	t.name = t.path ? NULL : "teams.csv";
	x.name = x.path ? NULL : "teams-mappings.csv";
	if (j.path && (m.path || t.path || x.path)) {
		*why = "give either --json or the CSV files, not both";
		rc = -3;
	} else if (keep_paths(in, &m, &t, &x, &j) < 0) {
		rc = INGEST_ENOMEM;
	} else if (j.path && strcmp(j.path, "-") == 0) {
		rc = load_json_stdin(&opts, org, rep, info);
	} else if (j.path) {
		rc = ingest_json(&j, &opts, org, rep, info);
	} else if (m.path || t.path || x.path) {
		rc = ingest_csv(&m, &t, &x, &opts, org, rep, info);
	} else {
		*why = in->dir ? "the folder holds none of members.csv, users.csv or org.json"
			       : "no input: give --members, --teams and --mappings, or --json, or --dir";
		rc = -3;
	}
	free(pm);
	free(pt);
	free(px);
	free(pj);
	return rc;
}

const char *cli_input_format(const struct ingest_info *info)
{
	if (info->json)
		return info->legacy ? "legacy JSON" : "current JSON";
	return info->legacy ? "legacy CSV" : "current CSV";
}
