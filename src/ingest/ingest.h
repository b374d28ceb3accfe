/*
 * ingest: turns the accepted input formats (SPEC §2: members/teams/mappings
 * CSV and the JSON payload, current and legacy, auto-detected) into an org
 * and a report of everything wrong with them (SPEC §3). Inputs are streamed
 * (libcsv, yajl callbacks): the raw bytes are never held whole. It does not
 * diff, store or print; the caller owns the org and the report it fills.
 */
#ifndef ORGSYNC_INGEST_H
#define ORGSYNC_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/org.h"
#include "model/report.h"

enum ingest_status {
	INGEST_OK = 0,       /* the org is usable; the report may hold record errors */
	INGEST_ENOMEM = -1,
	INGEST_EINVALID = -2 /* a structural error: see the report; discard the org */
};

struct ingest_opts {
	/* Custom properties defined for the org; other columns get one warning. */
	const char *const *properties;
	size_t nproperties;
	/* Every column or field that is not a known one is a custom property:
	 * for local validation, where the org's definitions are not known. */
	bool any_property;
};

/* One input: a file (path) or bytes in memory (data, len, path NULL). */
struct ingest_input {
	const char *name; /* shown in the report: "members.csv" */
	const char *path;
	const char *data;
	size_t len;
};

/*
 * An input pulled in pieces rather than held: read fills buf with up to cap
 * bytes and sets *got, 0 only at the end; it returns 0, or -1 on a read
 * error with errno set. size is the size expected, a hint (0: unknown). A
 * payload spooled to disk or stored in the database is read so, and is
 * never held whole.
 */
struct ingest_source {
	const char *name; /* shown in the report: "members.csv" */
	int (*read)(void *ctx, void *buf, size_t cap, size_t *got);
	void *ctx;
	uint64_t size;
};

/* Set on return: which dialects were met. */
struct ingest_info {
	bool legacy;      /* at least one input was in a legacy format */
	bool json;
};

/*
 * Reads the three CSV inputs into *org (initialised by the caller with
 * org_init). A NULL input is a structural error (all three are required).
 * Returns an enum ingest_status; *info may be NULL.
 */
int ingest_csv(const struct ingest_input *members, const struct ingest_input *teams,
	       const struct ingest_input *mappings, const struct ingest_opts *opts,
	       struct org *org, struct report *rep, struct ingest_info *info);

/* Reads one JSON payload, current or legacy, the same way. */
int ingest_json(const struct ingest_input *in, const struct ingest_opts *opts,
		struct org *org, struct report *rep, struct ingest_info *info);

/* ingest_csv() and ingest_json() over inputs pulled in pieces (a NULL input is missing). */
int ingest_csv_sources(const struct ingest_source *members, const struct ingest_source *teams,
		       const struct ingest_source *mappings, const struct ingest_opts *opts,
		       struct org *org, struct report *rep, struct ingest_info *info);
int ingest_json_source(const struct ingest_source *in, const struct ingest_opts *opts,
		       struct org *org, struct report *rep, struct ingest_info *info);

/*
 * The JSON payload fed in chunks as it arrives (an HTTP body): the same
 * result as ingest_json without ever holding the payload. finish() frees
 * the stream whatever it returns.
 */
struct ingest_json_stream;
int ingest_json_stream_new(const char *name, const struct ingest_opts *opts,
			   struct org *org, struct report *rep,
			   struct ingest_json_stream **out);
int ingest_json_stream_feed(struct ingest_json_stream *s, const char *data, size_t len);
int ingest_json_stream_finish(struct ingest_json_stream *s, struct ingest_info *info);

#endif
