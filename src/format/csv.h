/*
 * csv: writing CSV, the one quoting rule of every CSV orgsync writes
 * (RFC 4180, LF line ends), and the org's files in the current format
 * (SPEC §2) written canonically, so that converting the same org twice
 * gives the same bytes: model order, fields quoted only when they must
 * be, lists joined with ';'. Reading CSV is ingest's (ingest/csv.c).
 */
#ifndef ORGSYNC_FORMAT_CSV_H
#define ORGSYNC_FORMAT_CSV_H

#include <stdio.h>

#include "model/org.h"
#include "util/buf.h"

enum format_csv_flags {
	/*
	 * For a CSV that people open in spreadsheets: a cell starting with
	 * = + - @, a tab or a CR would be read as a formula (a record id
	 * "=HYPERLINK(...)" from an HRIS export becomes a live link), so it
	 * gets a leading single quote inside its quotes, as OWASP advises.
	 * Never for data that must read back byte for byte (an id, "-5").
	 */
	FORMAT_CSV_SPREADSHEET = 1,
};

/* Appends s as one field, quoted when it holds , " CR or LF (quotes
 * doubled) or when flags ask for it. 0, or -1 when out of memory. */
int format_csv_field(struct buf *out, const char *s, unsigned flags);

/* Each writes one of the org's files to a stream it does not own: 0, or
 * -1 on a write error (errno tells) or when out of memory. */
int format_csv_members(const struct org *o, FILE *out);
int format_csv_teams(const struct org *o, FILE *out);
int format_csv_mappings(const struct org *o, FILE *out);

#endif
