/*
 * export: writes an org in the current formats (SPEC §2), canonically, so
 * that converting the same org twice gives the same bytes: members.csv,
 * teams.csv and teams-mappings.csv in model order, fields quoted only when
 * they must be, lists joined with ';', LF line ends; or one JSON payload.
 * Writes to stdio streams it does not own.
 */
#ifndef ORGSYNC_EXPORT_H
#define ORGSYNC_EXPORT_H

#include <stdio.h>

#include "model/org.h"
#include "util/buf.h"

/* Each returns 0, or -1 on a write error (errno tells). */
int export_members_csv(const struct org *o, FILE *out);
int export_teams_csv(const struct org *o, FILE *out);
int export_mappings_csv(const struct org *o, FILE *out);

/* {"members":[…],"teams":[…],"teamMappings":[…]}; pretty adds newlines. */
int export_json(const struct org *o, FILE *out, int pretty);

/* The same bytes appended to out: 0, or -1 when out of memory. */
int export_json_buf(const struct org *o, struct buf *out, int pretty);

#endif
