/*
 * json: writing JSON. The one string escaper of hand-written JSON, the
 * org as one JSON payload in the current format (SPEC §2, canonical like
 * format/csv.h), and the pretty layout the command-line tools print
 * (yajl's). Reading the payload is ingest's (ingest/json.c); documents
 * the service answers are jansson values (format/report.h's issues).
 */
#ifndef ORGSYNC_FORMAT_JSON_H
#define ORGSYNC_FORMAT_JSON_H

#include <stdio.h>

#include <jansson.h>

#include "model/org.h"
#include "util/buf.h"

/*
 * Appends s as a JSON string, quotes included: " and \ escaped, LF, CR
 * and tab as \n \r \t, other control bytes as \u00xx; UTF-8 as it is.
 * 0, or -1 when out of memory.
 */
int format_json_string(struct buf *out, const char *s);

/* {"members":[…],"teams":[…],"teamMappings":[…]}; pretty adds newlines.
 * 0, or -1 on a write error (errno tells) or when out of memory. */
int format_json_org(const struct org *o, FILE *out, int pretty);
/* The same bytes appended to out: 0, or -1 when out of memory. */
int format_json_org_buf(const struct org *o, struct buf *out, int pretty);

/*
 * Writes doc in yajl's pretty layout (four spaces, "key": value, an
 * empty array or object over two lines, a final newline), the layout
 * `orgsync validate --format json` has always printed. 0, or -1 on a
 * write error or when out of memory.
 */
int format_json_pretty(const json_t *doc, FILE *out);

#endif
