/*
 * report: a report's issues (model/report.h) written and read back. One
 * encoder each for people (compiler-style text lines), machines (JSON
 * objects: the service's answers, `validate --format json`) and
 * spreadsheets (CSV), and the decoder of the JSON form, with which the
 * client prints what the service found. The report stays the caller's.
 */
#ifndef ORGSYNC_FORMAT_REPORT_H
#define ORGSYNC_FORMAT_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "model/report.h"
#include "util/buf.h"

/*
 * One line per issue, then how many were not kept, if any:
 *   members.csv:12:2: error: 'bob@' is not a valid email address [invalid_email] (record E012, field email)
 * 0, or -1 on a write error.
 */
int format_report_text(const struct report *r, FILE *out);

/*
 * The first max issues as a JSON array of objects {severity, code, file,
 * line, column, field, recordId, message}: a new reference, NULL when out
 * of memory. An issue jansson refuses (a string not UTF-8) is left out.
 */
json_t *format_report_json(const struct report *r, size_t max);

/*
 * Adds the issues of such an array to r. An issue whose code or severity
 * this build does not know (a newer service's) cannot be held by r: it
 * is appended to unknown as a text line instead. 0, or -1 when unknown
 * is out of memory (r counts an issue it had no memory for as dropped).
 */
int format_report_from_json(const json_t *issues, struct report *r, struct buf *unknown);

/*
 * The issues as CSV with a header line, each text cell guarded for
 * spreadsheets (FORMAT_CSV_SPREADSHEET). 0, or -1 when out of memory.
 */
int format_report_csv(const struct report *r, struct buf *out);

#endif
